"""The memory a deep copy of a tensor gets (``Tensor.__deepcopy__``), shared as PyTorch's.

PyTorch's ``copy.deepcopy`` copies a tensor's storage once per deep copy: tensors that share
memory before (a tensor and its views) share the copied memory after, each at its own
offset and strides, so ``a, v = copy.deepcopy((x, x[2:4]))`` gives a ``v`` that sees writes
into ``a``; a view copied alone keeps its place in a copy of its base's whole memory
(``storage_offset()`` as before). Here the memory is a view's base's array: copied once per
deep copy (kept in the ``memo``, under that array's id) where it is laid out in one block
(row- or column-major), the copy's view rebuilt on it; other layouts are copied alone.
"""
from __future__ import annotations

import numpy as np

from . import backend

__all__ = ["copied_memory", "in_storage", "lies_in", "storage_array"]


def lies_in(array, whole) -> bool:
    """Whether ``array`` lies in the memory of ``whole``: they share memory, or ``array`` is
    empty and starts inside ``whole``'s bytes (numpy's ``may_share_memory`` says False for any
    empty array, and numpy starts an empty slice where the sliced array starts)."""
    xp = backend.xp_of(array)
    if xp.may_share_memory(array, whole):
        return True
    if array.size or not whole.size or type(array) is not type(whole):
        return False
    start = backend.data_address(whole)
    low = start + sum(min(0, (n - 1) * s) for n, s in zip(whole.shape, whole.strides))
    high = start + sum(max(0, (n - 1) * s) for n, s in zip(whole.shape, whole.strides))
    return low <= backend.data_address(array) <= high + whole.itemsize


def storage_array(t):
    """The array of the memory block ``t`` lies in: its base's (or its own), or, for a deep
    copy of a view and the views of that copy, the copied whole block (``_storage_root``)."""
    owner = t if t._base is None else t._base
    root = owner.__dict__.get("_storage_root")
    return owner._array if root is None else root


def in_storage(t, whole):
    """``t``, noted as lying in the memory block ``whole`` (None, or ``t``'s own array: no
    note) without being a view of any tensor: a deep copy of a view, in the copy of its base's
    memory; a detached view, in its base's. Its ``storage_offset()`` and ``untyped_storage()``
    report that block, as PyTorch's (``storage_array``)."""
    if whole is not None and whole is not t._array:
        t.__dict__["_storage_root"] = whole
    return t


def copied_memory(t, memo):
    """The array ``t``'s deep copy holds (``memo``: the deep copy's, where the copy of the
    memory ``t`` shares with its base is kept), and the copied whole block it lies in when
    that is more than the array itself (the copy's storage: ``storage_offset()``,
    ``untyped_storage()``), else None."""
    array = t._array
    whole = storage_array(t)
    if type(array) is not np.ndarray or type(whole) is not np.ndarray or not array.size or \
            not (whole.flags.c_contiguous or whole.flags.f_contiguous):
        return array.copy(order="K"), None
    copied = memo.get(id(whole))
    if type(copied) is not np.ndarray or copied.shape != whole.shape or \
            copied.dtype != whole.dtype:
        copied = whole.copy(order="K")          # (row- or column-major as ``whole``)
        memo[id(whole)] = copied
        memo.setdefault(id(memo), []).append(whole)     # (alive while its id is a key)
    if array is whole:
        return copied, None
    offset = array.__array_interface__["data"][0] - whole.__array_interface__["data"][0]
    if offset < 0 or any(s < 0 for s in array.strides):
        return array.copy(order="K"), None
    try:
        return np.ndarray(array.shape, array.dtype, copied.reshape(-1, order="A"), offset,
                          array.strides), copied
    except (TypeError, ValueError):             # (not inside the base's block after all)
        return array.copy(order="K"), None
