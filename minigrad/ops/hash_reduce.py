"""``torch.hash_tensor``: a cheap fingerprint of a tensor's values, one uint64 per reduced row.

Every value is widened to its 64-bit kind (a floating value to float64, an integer or bool
value to int64, sign-extended), its 64 bits are read as an unsigned integer, and those words
are combined with exclusive or over ``dim`` (all dims when ``dim`` is None or empty). The
result is a uint64 tensor of the reduced shape (size 1 kept there with ``keepdim``). Only
``mode=0`` (the xor reduction) exists. Not differentiable: the result is an integer tensor.

    hash = xor_k bits64(widen(x_k))      over the elements k of each reduced row

Equal tensors hash alike; the hash of an empty row is 0. PyTorch's checks, in its order:
the dims (an empty input needs a ``dim``, and a reduced dim of size 0 is refused), then the
mode, then the dtype (its xor kernel has no complex or uint16/32/64 version).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import argument_error, bool_arg, check_tensor, normalize_dims, not_implemented_for

__all__ = ["hash_tensor"]

_NAME = "hash_tensor"


def _words(array):
    """The elements of ``array`` as the uint64 words the xor combines: the bits of their
    float64 (floating input) or int64 (integer and bool input) value."""
    wide = np.float64 if array.dtype.kind == "f" or array.dtype.name == "bfloat16" else np.int64
    return np.ascontiguousarray(array, dtype=wide).view(np.uint64)


def _reduced_axes(a, dim):
    """The axes ``dim`` names (all of them for None or an empty list), after PyTorch's checks
    of an empty input and of a reduced dim of size 0."""
    if dim is None or isinstance(dim, (tuple, list)) and len(dim) == 0:
        if a._array.size == 0:
            raise RuntimeError("hash_tensor: Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        return tuple(range(a.ndim))
    axes = normalize_dims(dim, a.ndim, _NAME, 2)
    for axis in axes:
        if a._array.shape[axis] == 0:
            raise IndexError(f"hash_tensor: Expected reduction dim {axis} to have non-zero "
                             "size.")
    return axes


def hash_tensor(input, dim=None, *, keepdim=False, mode=0):
    """The xor of the 64-bit patterns of ``input``'s values over ``dim`` (see the module's
    note): a uint64 tensor of ``input``'s shape without the reduced dims (size 1 with
    ``keepdim``), a 0-d one when every dim is reduced."""
    a = check_tensor(_NAME, input)
    keepdim = bool_arg(_NAME, "keepdim", keepdim)
    if type(mode) is not int:
        if not isinstance(mode, (int, np.integer)) or isinstance(mode, (bool, np.bool_)):
            raise argument_error(_NAME, "mode", "int", mode)
        mode = int(mode)
    axes = _reduced_axes(a, dim)
    if mode != 0:
        raise RuntimeError(f"Unknown hash_tensor mode: {mode}")
    array = np.asarray(a._array)
    if array.dtype.kind == "c" or array.dtype.kind == "u" and array.dtype.itemsize > 1:
        raise not_implemented_for("xor_sum_cpu", array.dtype)
    words = _words(array)
    if a.ndim == 0:
        return Tensor._wrap(words.reshape(()).copy())
    out = np.bitwise_xor.reduce(words, axis=axes, keepdims=keepdim)
    return Tensor._wrap(np.array(out, dtype=np.uint64))
