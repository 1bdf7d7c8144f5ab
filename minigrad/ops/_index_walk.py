"""PyTorch's pass over an index before any element is read, with its refusals in its order.

PyTorch takes a tuple index item by item, left to right, over a view it narrows as it goes:
an int (or a 0-d integer tensor) selects at once, so its bound is checked there; a slice is
applied (a step of 0 or below refused there); None adds a size-1 dim; a Python bool (or a
0-d bool or uint8 tensor) adds a size-1 dim and an index of ``[0]`` (True) or ``[]`` (False)
for it; a tensor or a sequence (made a tensor then, so an unreadable one is refused there) is
kept for later.  Only after all items come the index kernel's checks: each kept tensor's
dtype, then each mask's sizes against the dims of that narrowed view (whose shape the
refusal prints).  ``walk`` runs that pass over shapes only; the read or the write itself is
``index_read`` / ``indexing``'s.
"""
from __future__ import annotations

import operator

import numpy as np

from .._type_names import python_type_name
from .._tensor_factories import tensor
from ..tensor import Tensor
from ._index_words import _index_items, _is_int, _refuse_long_ints

_INDEX_DTYPES = (np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.uint8), np.dtype(np.bool_))


def _taken(item):
    """The dims of the indexed tensor an item takes, as PyTorch counts them."""
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    if isinstance(item, Tensor):
        kind = item._array.dtype
        return item._array.ndim if kind == np.bool_ or kind == np.uint8 else 1
    return 1


def _select(shape, dim, value, position):
    """An int item: the bound of dim ``dim`` checked (PyTorch names the item's place in the
    index), the dim removed."""
    if not shape and value == 0:
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                         "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    size = shape[dim] if dim < len(shape) else 0
    if not -size <= value < size:
        raise IndexError(f"index {value} is out of bounds for dimension {position} with size "
                         f"{size}")
    del shape[dim]


def _sequence(item):
    """A sequence item as PyTorch makes it a tensor: (dtype, shape); an element that is no
    number is refused in ``tensor()``'s words."""
    if isinstance(item, np.ndarray):        # (a uint8 array stays a mask)
        array = item
    else:
        try:
            array = np.asarray(item)
        except ValueError:                  # (ragged)
            array = np.empty(0, dtype=object)
        if array.dtype.kind in "OUSV":
            array = tensor(item)._array     # (refuses it in PyTorch's words)
    kind = array.dtype
    if kind == np.bool_ or kind == np.uint8 and isinstance(item, np.ndarray):
        return kind, array.shape
    return np.dtype(np.int64), array.shape


_PLAIN_ARRAYS = (np.dtype(np.int64), np.dtype(np.int32))
_LONE_ARRAYS = _PLAIN_ARRAYS + (np.dtype(np.bool_),)


def _plain(item):
    """An item the pass can find nothing wrong with, whatever stands beside it (a slice of
    step 1, None, ..., an int64 int, a list of such ints, an int64 / int32 index tensor): an
    index of such items only is left to the read itself, which words its refusals alike."""
    kind = type(item)
    if kind is slice:
        return item.step is None
    if kind is int:
        return -2 ** 63 <= item < 2 ** 63
    if item is None or item is Ellipsis:
        return True
    if kind is list:                    # (x[[0, 2]]: ints alone, the read's own case)
        return bool(item) and all(type(v) is int and -2 ** 63 <= v < 2 ** 63 for v in item)
    return isinstance(item, Tensor) and item._array.ndim > 0 and \
        item._array.dtype in _PLAIN_ARRAYS


def _check_mask(start, sizes, shape):
    for j, size in enumerate(sizes):
        if start + j < len(shape) and size != shape[start + j]:
            raise IndexError(f"The shape of the mask {list(sizes)} at index {j} does not match "
                             f"the shape of the indexed tensor {shape} at index {start + j}")


def walk(a, index, one_value=False):
    """Check ``a[index]`` as PyTorch's indexing goes through it (see the module's words):
    raises PyTorch's first refusal; returns the index with each 0-d tensor item put as the
    int or the bool PyTorch reads it as (or ``index`` itself when it holds none).
    ``one_value``: a write of one value, for which PyTorch first tries a masked fill,
    checking the leading mask's shape before any index's dtype."""
    if type(index) is tuple:
        if all(map(_plain, index)):
            return index                # (the usual reads: x[:, idx], x[idx, 0])
    elif isinstance(index, Tensor) and index._array.ndim and index._array.dtype in _LONE_ARRAYS \
            or type(index) is list and _plain(index):
        return index                    # (x[idx], x[mask], x[[0, 2]]: the read checks them)
    items = _index_items(index)
    shape = list(a.shape)
    skipped = len(shape) - sum(_taken(i) for i in items)
    dim, kept, rewritten = 0, [], None
    for position, item in enumerate(items):
        if item is None:
            shape.insert(dim, 1)
            dim += 1
        elif item is Ellipsis:
            dim += skipped
        elif isinstance(item, bool):
            shape.insert(dim, 1)
            dim += 1
        elif isinstance(item, Tensor):
            array = item._array
            if array.ndim == 0 and array.dtype.kind in "biu":
                if array.dtype == np.uint8 or array.dtype.kind == "b":
                    shape.insert(dim, 1)
                    dim += 1
                    value = bool(array)
                else:
                    value = int(array)
                    _select(shape, dim, value, position)
                rewritten = list(items) if rewritten is None else rewritten
                rewritten[position] = value
            else:
                kept.append((dim, array.dtype, array.shape))
                dim += array.ndim if array.dtype in _INDEX_DTYPES[2:] else 1
        elif isinstance(item, slice):
            if item.step is not None and item.step <= 0:
                raise ValueError("slice step cannot be zero" if item.step == 0 else
                                 "step must be greater than zero")
            if dim < len(shape):
                shape[dim] = len(range(*item.indices(shape[dim])))
            dim += 1
        elif isinstance(item, (list, tuple, range, str, np.ndarray)):
            kind, sizes = _sequence(item)
            kept.append((dim, kind, sizes))
            dim += len(sizes) if kind == np.bool_ else 1
        else:
            try:
                value = operator.index(item) if not _is_int(item) else int(item)
            except TypeError:
                raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long "
                                 f"or byte Variables are valid indices (got "
                                 f"{python_type_name(item)})") from None
            _refuse_long_ints((value,))
            _select(shape, dim, value, position)
    if one_value and kept and kept[0][1] in _INDEX_DTYPES[2:]:
        _check_mask(kept[0][0], kept[0][2], shape)
    for _, kind, _ in kept:
        if kind not in _INDEX_DTYPES:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    for start, kind, sizes in kept:
        if kind in _INDEX_DTYPES[2:]:
            _check_mask(start, sizes, shape)
    if rewritten is None:
        return index
    return tuple(rewritten)
