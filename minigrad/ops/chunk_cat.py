"""``torch._chunk_cat(tensors, dim, num_chunks)``: split every tensor into ``num_chunks``
pieces along ``dim``, flatten each piece past ``dim``, and join the i-th pieces of all the
tensors into row i (the layout FSDP's gradient reduce-scatter wants).

The tensors share their sizes before ``dim`` (``lead``) and may differ from ``dim`` on. A
tensor of size ``n`` at ``dim`` and ``r`` elements per index there (the product of its sizes
after ``dim``) is cut into pieces of ``ceil(n / num_chunks)`` indices, the last ones padded
with zeros, so each piece flattens to ``ceil(n / num_chunks) * r`` values. The result is

    out.shape = lead + (num_chunks, sum over tensors of ceil(n / num_chunks) * r)

with the tensors' pieces side by side in list order in every row. Built of pad (a join with
zeros), reshape and cat, so gradients flow to the inputs (PyTorch's own has no backward).
PyTorch's checks in its order: num_chunks, an empty list, one dtype, then dim (it must be
non-negative when the tensors differ in rank) and for each tensor its rank, its size and its
leading sizes.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from .._out_writes import _write_values
from ..tensor import Tensor
from . import elementwise as E
from ._util import argument_error, check_tensors, int_arg, normalize_dim, scalar_type_name
from .stacking import cat

__all__ = ["_chunk_cat"]

_NAME = "_chunk_cat"


def _checked(tensors, dim, num_chunks):
    """PyTorch's checks of a _chunk_cat call; the wrapped (non-negative) dim."""
    if num_chunks < 1:
        raise RuntimeError("_chunk_cat expects positive num_chunks")
    if len(tensors) == 0:
        raise RuntimeError("_chunk_cat expects a non-empty input tensor list")
    first = tensors[0]
    if any(t.dtype != first.dtype for t in tensors):
        raise RuntimeError("_chunk_cat expects all input tensors with the same dtype")
    if any(t.ndim != first.ndim for t in tensors):
        if dim < 0:
            raise RuntimeError("_chunk_cat expects non-negative dim when input tensors have "
                               "different ndims")
    else:
        dim = normalize_dim(dim, first.ndim)
    for t in tensors:
        if dim >= t.ndim:
            raise RuntimeError("_chunk_cat expects dim < ndim for all input tensors")
        if t._array.size == 0:
            raise RuntimeError("_chunk_cat expects non-empty tensor")
        if tuple(t.shape[:dim]) != tuple(first.shape[:dim]):
            raise RuntimeError("_chunk_cat expects same sizes of 0,...,dim-1 dimensions for "
                               "all tensors")
    return dim


def _rows(t, dim, num_chunks):
    """``t`` padded with zeros at the end of ``dim`` to ``num_chunks`` equal pieces and
    reshaped to lead + (num_chunks, piece's values)."""
    size = t.shape[dim]
    piece = -(-size // num_chunks)
    short = piece * num_chunks - size
    if short:
        shape = tuple(t.shape[:dim]) + (short,) + tuple(t.shape[dim + 1:])
        t = cat([t, Tensor._wrap(np.zeros(shape, dtype=t._array.dtype))], dim)
    return t.reshape(tuple(t.shape[:dim]) + (num_chunks, -1))


def _chunk_cat(tensors, dim, num_chunks, *, out=None):
    """The tensors cut into ``num_chunks`` pieces along ``dim`` (zero-padded) and joined
    piece by piece: shape lead + (num_chunks, total values per piece); see the module's note."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise argument_error(_NAME, "tensors", "tuple of Tensors", tensors, 1)
    tensors = check_tensors(list(tensors))
    dim = int_arg(_NAME, "dim", dim, 2)
    num_chunks = int_arg(_NAME, "num_chunks", num_chunks, 3)
    dim = _checked(tensors, dim, num_chunks)
    result = cat([_rows(t, dim, num_chunks) for t in tensors], dim + 1)
    if out is None:
        return result
    # torch's out=: cat's dtype rule (any cast but to a lower category), then a resize
    if isinstance(out, Tensor) and dtypes._category(result._array.dtype) > dtypes._category(
            out._array.dtype):
        raise TypeError("torch.cat(): input types can't be cast to the desired output type "
                        f"{scalar_type_name(out._array.dtype)}")
    return _write_values(out, E.cast(result.detach(), out.dtype) if isinstance(out, Tensor)
                         else result, _NAME, _NAME)
