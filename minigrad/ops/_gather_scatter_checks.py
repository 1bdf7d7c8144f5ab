"""The checks of gather, scatter, index_select, index_add, masked_fill and take, with PyTorch's
messages: a Tensor input and index, the index's dtype, number of dims and sizes, and its
values in range (``_check_along``); a 0-d tensor counted as 1-d (``_as_1d``); and how those
messages name a dtype (``CPP_NAMES``, ``SCALAR_NAMES``).  The ops are in ``scatter_gather.py``.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim
from .plumbing import reshape_to


# how PyTorch's messages name a dtype: its C++ type ("mask with dtype float") or its scalar
# type ("Got Long"), and its legacy tensor class ("torch.FloatTensor")
CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
             "int32": "int", "int16": "short int", "int8": "signed char",
             "uint8": "unsigned char", "bool": "bool", "bfloat16": "c10::BFloat16",
             "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}
SCALAR_NAMES = dtypes.SCALAR_NAMES


INDEX_DTYPES = ("int32", "int64")     # the index dtypes gather/scatter/index_* accept


def _index_dtype(dtype):
    """Whether ``dtype`` is one of INDEX_DTYPES (int32, int64; without reading its name,
    which costs a few microseconds)."""
    return dtype.kind == "i" and dtype.itemsize >= 4


def _index_array(index):
    return index._array if isinstance(index, Tensor) else index


def _public_args(name, input, index, arg="index", position=3):
    """PyTorch's TypeErrors for a non-Tensor input or index of a public op (a list, a
    number or a numpy array: PyTorch's parser takes none of them)."""
    check_tensor(name, input)
    check_tensor(name, index, arg, position)
    if input._array.dtype in dtypes.BAREBONES_UNSIGNED and name in _UNSIGNED_KERNELS:
        dtypes.refuse_unsigned(_UNSIGNED_KERNELS[name], input._array.dtype)


# the kernel that refuses each op's uint16/32/64 input in PyTorch (which has none for them;
# the ops that write a source check its dtype first, then refuse: see _scatter_prepare)
_UNSIGNED_KERNELS = {
    "gather": "scatter_gather_tensor_cpu", "take_along_dim": "scatter_gather_tensor_cpu",
    "index_select": "index_select", "masked_fill": "masked_fill",
    "index_fill": "index_fill_cpu", "take": "take_cpu"}


_UNSIGNED_VIEWS = {np.dtype(np.int64): np.uint64, np.dtype(np.int32): np.uint32}


def _first_out_of_range(idx, size):
    """The first value of ``idx`` (in order) outside [0, size), or None."""
    if not idx.size:
        return None
    unsigned = _UNSIGNED_VIEWS.get(idx.dtype)
    if unsigned is not None:
        # seen as unsigned, a negative index is above any size: one pass finds both ends
        if int(idx.view(unsigned).max()) < size:
            return None
    elif idx.min() >= 0 and idx.max() < size:                       # two passes, no masks
        return None
    bad = (idx < 0) | (idx >= size)
    return int(idx.reshape(-1)[bad.reshape(-1)][0]) if bad.any() else None


def _size(shape, k):
    """PyTorch's size of dim k where a 0-d tensor counts as one element along dim 0."""
    return shape[k] if len(shape) else 1


def _as_1d(t):
    """A 0-d tensor as shape (1,) (PyTorch's gather/scatter treat it so); others as they are."""
    return reshape_to(t, (1,)) if t.ndim == 0 else t


def _check_along(a, d, idx, name, src=None, bounds=True):
    """gather/scatter's checks of a non-empty index against ``a`` (and a tensor ``src``), in
    PyTorch's order: index dtype, number of dims (0-d counting as 1-d), sizes off ``dim``
    (and every size against src), index values in range (unless ``bounds`` is False)."""
    if not _index_dtype(idx.dtype):
        raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index")
    nd, what = max(a.ndim, 1), "input" if name == "gather" else "self"
    if max(idx.ndim, 1) != nd:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} "
                           f"tensor (index has {idx.ndim}, {what} has {a.ndim})")
    if idx.ndim == a.ndim >= 1:     # (the usual case: plain sizes, no 0-d one counted as 1-d)
        too_big = any(i > n for k, (i, n) in enumerate(zip(idx.shape, a.shape)) if k != d)
    else:
        too_big = any(k != d and _size(idx.shape, k) > _size(a.shape, k) for k in range(nd))
    if name == "gather" and too_big:
        k = next(k for k in range(nd) if k != d and _size(idx.shape, k) > _size(a.shape, k))
        raise RuntimeError(f"Size does not match at dimension {k} expected index "
                           f"{list(idx.shape)} to be no larger than self {list(a.shape)} "
                           f"apart from dimension {d}")
    against = f"self {list(a.shape)} apart from dimension {d}"
    if src is not None:
        # PyTorch reads src's size for every dim of self (an IndexError past a 1-d src's end)
        # before it compares the number of dims
        if src.ndim == idx.ndim >= 1:
            too_big = too_big or any(i > n for i, n in zip(idx.shape, src.shape))
        else:
            too_big = too_big or any(
                _size(idx.shape, k) > _size(src.shape, normalize_dim(k, src.ndim) if src.ndim
                                            else 0)
                for k in range(nd))
        if max(src.ndim, 1) != max(idx.ndim, 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               f"tensor (index has {idx.ndim}, src has {src.ndim})")
        against += f" and to be no larger size than src {list(src.shape)}"
    if too_big:
        raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than {against}")
    size = _size(a.shape, d)
    bad = _first_out_of_range(idx, size) if bounds else None
    if bad is not None:
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {size}")
    return idx.astype("int64", copy=False).reshape(idx.shape or (1,))
