"""Searching sorted sequences and membership, with PyTorch's names, arguments and errors:
``searchsorted`` (the insertion points of values in sorted rows, optionally through a
``sorter`` permutation), ``bucketize`` (the same over 1-d boundaries, arguments the other way
round) and ``isin`` (elementwise membership).  Integer or bool results, no gradient.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from .._warn_once import USER, warn_once
from ..tensor import Tensor
from ._search_kernels import binary_search, searchsorted_rows
from ._util import argument_error, bool_arg, check_tensor, not_implemented_for, scalar_type_name

__all__ = ["searchsorted", "bucketize", "isin"]


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """For each value of ``input``, the index in the sorted last dim of ``sorted_sequence``
    where it would be inserted to keep the order: before equal entries (``side='left'``) or
    after them (``right=True`` / ``side='right'``).  A 1-d sequence serves every value; else
    its leading dims match ``input``'s.  int64 (int32 with ``out_int32``)."""
    check_tensor("searchsorted", sorted_sequence, "sorted_sequence")
    if not isinstance(input, (Tensor, bool, int, float)):
        check_tensor("searchsorted", input, "input", 2)
    out_int32 = bool_arg("searchsorted", "out_int32", out_int32)
    right = bool_arg("searchsorted", "right", right)
    if side is not None:
        if not isinstance(side, str):        # (the wrapper lists the signatures)
            raise argument_error("searchsorted", "side", "str", side)
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    if sorter is not None:
        _check_sorter(sorted_sequence, sorter)
    for t in (sorted_sequence, input):
        if isinstance(t, Tensor) and t._array.dtype.kind == "c":   # no order for complex
            raise not_implemented_for("searchsorted_out_cpu", t._array.dtype)
    seq = sorted_sequence._array
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._array, -1)
    scalar = not isinstance(input, Tensor)
    values = input._array if not scalar else input
    # both read in their promoted dtype, as PyTorch (a -3 beside uint8 boundaries is 253, a
    # 2.5 beside them a float; bool boundaries beside an int are int64), which must be no bool
    common = dtypes.result_type(seq, values)
    if common.kind == "b":
        raise not_implemented_for("searchsorted_out_cpu", common)
    values = np.asarray(values).astype(common, copy=False) if scalar else \
        values.astype(common, copy=False)
    seq = seq.astype(common, copy=False)
    if seq.ndim == 0:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should have positive "
                           "dimension, but got 0 dimension")
    if seq.ndim > 1 and np.ndim(values) == 0:
        raise RuntimeError(f"torch.searchsorted(): input value can be a scalar only when "
                           f"boundaries tensor dimension is 1, but we got boundaries tensor "
                           f"dim({seq.ndim}) and input value's dim(0) numel(1)")
    if seq.ndim > 1 and (scalar or seq.shape[:-1] != values.shape[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor "
                           f"{list(values.shape)}")
    if np.size(values):                   # (no values: nothing to search, for every dtype)
        dtypes.refuse_unsigned("searchsorted_out_cpu", common)
    if not scalar and not input.is_contiguous():
        _warn_copy("input value")
    if not sorted_sequence.is_contiguous():
        _warn_copy("boundary")
    if seq.dtype.kind == "V" or np.asarray(values).dtype.kind == "V":
        # bfloat16 (ml_dtypes), which numpy's searchsorted and sorts do not order: searched
        # as float32, which holds each of its values exactly
        seq, values = seq.astype(np.float32), np.asarray(values).astype(np.float32)
    if seq.dtype.kind == "f" and seq.size and bool(np.isnan(seq).any()):
        out = binary_search(seq, values, right)        # (no order with a NaN: PyTorch's path)
    elif seq.ndim == 1:
        out = np.searchsorted(seq, values, side="right" if right else "left")
    else:
        out = searchsorted_rows(seq, values, right)
    n = seq.shape[-1]
    if values.dtype.kind in "fc":          # a NaN value goes past every boundary, either side
        out = np.where(np.isnan(values), n, out)
    dtype = np.int32 if out_int32 else np.int64
    return Tensor._wrap(np.asarray(out, dtype=dtype))


def _check_sorter(sorted_sequence, sorter):
    """PyTorch's checks of searchsorted's ``sorter``, in its order: the boundary's shape,
    int64, and every index within the last dim."""
    check_tensor("searchsorted", sorter, "sorter")
    if tuple(sorter.shape) != tuple(sorted_sequence.shape):
        raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, "
                           f"but got boundary tensor {list(sorted_sequence.shape)}and got sorter "
                           f"tensor {list(sorter.shape)}")
    if sorter._array.dtype != np.int64:
        raise RuntimeError(f"torch.searchsorted(): sorter must be a tensor of long dtype but got "
                           f"dtype {scalar_type_name(sorter._array.dtype)}")
    if sorter.ndim == 0:                 # (PyTorch reads the size of a last dim it lacks)
        raise RuntimeError("ArrayRef: attempted to access back() of empty list")
    order = backend.as_numpy(sorter._array)
    if order.size and (order.min() < 0 or order.max() >= order.shape[-1]):
        raise RuntimeError("torch.searchsorted(): sorter index out of range")


def _warn_copy(what):
    """PyTorch's UserWarning that searchsorted / bucketize copies a non-contiguous ``what``
    ('input value' or 'boundary') tensor: once per process (every time under
    set_warn_always(True))."""
    warn_once(f"torch.searchsorted(): {what} tensor is non-contiguous, this will lower the "
              f"performance due to extra data copy when converting non-contiguous tensor to "
              f"contiguous, please use contiguous {what} tensor if possible. This message will "
              f"only appear once per program.", UserWarning, stacklevel=USER)


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value of ``input`` among the sorted 1-d ``boundaries``: i with
    boundaries[i-1] < x <= boundaries[i] (``right=False``) or boundaries[i-1] <= x <
    boundaries[i] (``right=True``)."""
    if not isinstance(input, (Tensor, bool, int, float)):
        check_tensor("bucketize", input)
    check_tensor("bucketize", boundaries, "boundaries", 2)
    out_int32 = bool_arg("bucketize", "out_int32", out_int32)
    right = bool_arg("bucketize", "right", right)
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` occurs in ``test_elements`` (either may be a
    number; the result has ``elements``' shape), or where it does not with ``invert``."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments - expected at "
                        "least one Tensor")
    a = elements._array if isinstance(elements, Tensor) else np.asarray(elements)
    b = test_elements._array if isinstance(test_elements, Tensor) else \
        np.asarray(test_elements)
    for array in (a, b):
        if array.dtype.kind in "cb":          # PyTorch's isin sorts, and complex has no order
            raise RuntimeError(f"Unsupported input type encountered for isin(): "
                               f"{scalar_type_name(array.dtype)}")
    # compared in the promoted dtype, a number as PyTorch reads it (257 beside uint8 is 1)
    common = dtypes.result_type(*(x._array if isinstance(x, Tensor) else x
                                  for x in (elements, test_elements)))
    if isinstance(test_elements, Tensor) and a.size:    # (a number to test against: a compare)
        dtypes.refuse_unsigned("isin_default_cpu", common)
    a, b = a.astype(common, copy=False), b.astype(common, copy=False)
    return Tensor._wrap(np.isin(a, b, assume_unique=assume_unique, invert=invert))
