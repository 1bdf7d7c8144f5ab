"""``torch._unsafe_masked_index`` and ``torch._unsafe_masked_index_put_accumulate``: advanced
indexing whose index tensors may hold anything (out of range too) where a mask is False, as
compilers emit for padded gathers (the reflection and replication pads, upsampling).

``indices`` is a list of one integer tensor per leading dim of ``input`` (no None); they
broadcast with each other to the index shape ``I``. Every index is first clamped to the dim's
range ``[-n, n - 1]`` (negative ones then count from the end), so that any index reads or
writes some element, and the mask (which broadcasts with the indexed values) decides what
is kept:

    _unsafe_masked_index(x, mask, indices, fill)
        = where(mask, x[clamp(indices)], fill)                  (x's dtype)
    _unsafe_masked_index_put_accumulate(x, mask, indices, values)
        = x.index_put(clamp(indices), where(mask, values, 0), accumulate=True)

Built of minigrad's indexing, where and index_put, so both are differentiable (in ``x``, and
in ``values`` for the second) to any order; the reading one's gradient adds up at repeated
indices.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import argument_error, check_tensor, check_tensors
from .index_put import index_put
from .index_read import getitem
from .pointwise_select import where

__all__ = ["_unsafe_masked_index", "_unsafe_masked_index_put_accumulate"]


def _clamped(name, input, mask, indices):
    """The index tensors clamped into their dims' ranges, and the mask as bool."""
    check_tensor(name, input)
    check_tensor(name, mask, "mask", 2)
    if isinstance(indices, Tensor) or not isinstance(indices, (list, tuple)):
        raise argument_error(name, "indices", "tuple of Tensors", indices, 3)
    check_tensors(indices, 2)
    if len(indices) > input.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input.ndim} (got "
                         f"{len(indices)})")
    clamped = []
    for size, index in zip(input.shape, indices):
        array = index._array
        if array.dtype.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool "
                             "tensors")
        if size == 0:
            clamped.append(index)      # (nothing to read: the indexing's own error stands)
            continue
        clamped.append(Tensor._wrap(np.clip(array.astype(np.int64), -size, size - 1)))
    keep = mask if mask._array.dtype == np.bool_ else Tensor._wrap(mask._array != 0)
    return tuple(clamped), keep


def _unsafe_masked_index(input, mask, indices, fill):
    """``where(mask, input[clamped indices], fill)`` in ``input``'s dtype: shape the
    broadcast of the mask and the indexed shape (indices' broadcast shape + input's trailing
    dims)."""
    name = "_unsafe_masked_index"
    index, keep = _clamped(name, input, mask, indices)
    if isinstance(fill, Tensor):
        if fill.ndim != 0 or fill.requires_grad:
            raise argument_error(name, "fill", "Number", fill, 4)
        fill = fill.item()
    elif not isinstance(fill, (bool, int, float, complex, np.number, np.bool_)):
        raise argument_error(name, "fill", "Number", fill, 4)
    filler = Tensor._wrap(np.asarray(fill).astype(input._array.dtype))
    return where(keep, getitem(input, index), filler)


def _unsafe_masked_index_put_accumulate(input, mask, indices, values):
    """``input`` with ``where(mask, values, 0)`` added at the clamped ``indices`` (repeated
    positions adding up); a new tensor of ``input``'s shape and dtype."""
    name = "_unsafe_masked_index_put_accumulate"
    index, keep = _clamped(name, input, mask, indices)
    check_tensor(name, values, "values", 4)
    nothing = Tensor._wrap(np.zeros((), dtype=values._array.dtype))
    return index_put(input, index, where(keep, values, nothing), accumulate=True)
