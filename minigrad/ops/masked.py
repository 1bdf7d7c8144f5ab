"""``masked_scatter``: copy a source's leading elements into the places a bool mask selects.

For ``out = input.masked_scatter(mask, source)`` (input and mask broadcast to one shape S,
k = the number of True entries of the broadcast mask, source with at least k elements):

    out[p]          = input[p]                         where mask[p] is False
    out[p_1..p_k]   = source.flatten()[0..k-1]         the True places, in row-major order

It is linear in input and source, so the backward is two differentiable selections:

    grad_input  = grad where mask is False, 0 where True        (summed back over broadcasting)
    grad_source = grad[mask] (row-major), then zeros for source's unused elements, in
                  source's shape
"""
from __future__ import annotations

import math

from .. import backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._util import broadcast_shape, python_type_name, scalar_type_name
from .pointwise_select import where
from .indexing import setitem
from .stacking import cat
from .movement import expand
from .plumbing import expand_to, reshape_to
from .scatter_gather import IndexSelect

__all__ = ["masked_scatter", "masked_scatter_"]


class MaskedScatter(Function):
    """``input`` (already of the broadcast shape) with ``source``'s first k elements written,
    in order, where the bool array ``mask`` (same shape) is True."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, input, source, *, mask):
        xp = backend.xp_of(input)
        self.mask, self.source_shape = mask, source.shape
        self.places = xp.flatnonzero(mask)
        out = input.copy()
        out.reshape(-1)[self.places] = source.reshape(-1)[:self.places.size]
        return out

    def backward(self, g):
        g_input = g_source = None
        if self.needs_input_grad[0]:
            g_input = where(self.mask, 0.0, g)
        if self.needs_input_grad[1]:
            picked = IndexSelect.apply(reshape_to(g, (g._array.size,)), index=self.places, dim=0)
            spare = math.prod(self.source_shape) - self.places.size
            if spare:
                xp = backend.xp_of(g._array)
                picked = cat([picked, Tensor._wrap(xp.zeros(spare, dtype=g._array.dtype))])
            g_source = reshape_to(picked, tuple(self.source_shape))
        return g_input, g_source


def _check_types(input, mask, source, op):
    for position, (name, value) in enumerate((("input", input), ("mask", mask),
                                              ("source", source)), 1):
        if not isinstance(value, Tensor):
            # (masked_scatter_ is a method only: self is not counted)
            position -= op.endswith("_")
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {python_type_name(value)}")


def _check(input, mask, source):
    """masked_scatter_'s checks in PyTorch's order: the source's dtype, the mask expanded to
    input's shape (expand's errors), the mask's dtype."""
    if input._array.dtype != source._array.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got{scalar_type_name(input._array.dtype)} and "
                           f"{scalar_type_name(source._array.dtype)}")
    if tuple(mask.shape) != tuple(input.shape):
        expand(mask, tuple(input.shape))
    if mask._array.dtype.kind != "b":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {scalar_type_name(mask._array.dtype)}")


def _scatter(input, mask, source, shape):
    m = backend.xp_of(mask._array).broadcast_to(mask._array, shape)
    if int(m.sum()) > source.numel():
        raise RuntimeError("Number of elements of source < number of ones in mask")
    return MaskedScatter.apply(expand_to(input, shape), source, mask=m)


def masked_scatter(input, mask, source):
    """A copy of ``input`` (broadcast with ``mask``) whose places where the bool ``mask`` is
    True hold source's first elements, in row-major order; see the module docstring.
    Differentiable in input and source."""
    _check_types(input, mask, source, "masked_scatter")
    # PyTorch broadcasts mask and input first (mask named first), then runs masked_scatter_
    shape = tuple(broadcast_shape(tuple(mask.shape), tuple(input.shape), "masked_scatter"))
    _check(Tensor._wrap(backend.xp_of(input._array).broadcast_to(input._array, shape)),
           mask, source)
    dtypes.refuse_unsigned("masked_scatter", input._array.dtype)      # (no uint16/32/64 kernel)
    return _scatter(input, mask, source, shape)


def masked_scatter_(input, mask, source):
    """In-place ``masked_scatter``: ``mask`` must broadcast to input's shape; returns input."""
    _check_types(input, mask, source, "masked_scatter_")
    _check(input, mask, source)
    dtypes.refuse_unsigned("masked_scatter", input._array.dtype)
    shape = tuple(input.shape)
    return setitem(input, Ellipsis, _scatter(input, mask, source, shape))
