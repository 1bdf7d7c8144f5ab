"""How ``vmap`` lays out a batched output from the per-example results, as torch's lie.

torch's batched tensors keep one physical tensor with the batch dimension somewhere in it, and
its batching rules decide where: most rules move the batch dimension to the front and produce a
fresh row-major tensor, and the result the user sees is that tensor with the batch dimension
moved to ``out_dims`` (a permuted view, not a copy). A view op (``t``, ``select``, ``narrow``,
``expand``, ``diagonal``, an in-place op that returns its input, ...) gives a view of the input
itself, with the batch dimension where the input had it. And an output that does not depend on
the batch (a tensor read from the closure) is expanded, stride 0 along the batch.

minigrad runs the function once per example, so it rebuilds these layouts from the results:

* each example's result a view into the same mapped input, at offsets one input-stride apart
  (``select(in_dim, b)`` followed by view ops): one strided view of that input, its batch
  stride the input's stride along in_dim;
* the same tensor from every example (or the same view of one), batch dimension in front:
  an expanded view;
* otherwise: the results stacked along a new leading dimension (row-major), then that
  dimension moved to ``out_dims`` (a ``movedim`` view when out_dims is not 0).
"""
from __future__ import annotations

from . import backend
from .ops.stacking import stack
from .tensor import Tensor

__all__ = ["batched_output"]


def batched_output(column, dim, leaves, mapped):
    """The batched value of one output leaf: ``column`` holds its per-example results
    (Tensors, at least one), ``dim`` is its out_dim (an int), ``leaves``/``mapped`` the inputs
    and their in_dims (None: not mapped)."""
    first = column[0]
    nd = first.ndim + 1
    if not -nd <= dim < nd:         # (stack raises torch's words for a dim out of range)
        return stack(list(column), dim)
    dim %= nd
    view = _strided_view(column, dim, leaves, mapped)
    if view is not None:
        return view
    if dim == 0 and len(column) > 1 and all(c is first or _same_view(c, first) for c in column):
        return first.expand(len(column), *first.shape)
    stacked = stack(list(column), 0)
    return stacked if dim == 0 else stacked.movedim(0, dim)


def _same_view(t, first):
    """Whether ``t`` views the same memory as the view ``first``, the same way: both read
    one unbatched tensor (a closed-over one, sliced alike in every example)."""
    return isinstance(t, Tensor) and first._base is not None and t._base is first._base \
        and t.shape == first.shape and t.stride() == first.stride() \
        and t.dtype == first.dtype and t.data_ptr() == first.data_ptr()


def _strided_view(column, dim, leaves, mapped):
    """The per-example results as one view of the mapped input they all view (None when they
    do not: different geometries, another tensor's memory, offsets not one stride apart).
    Results that view it through ``detach`` (no graph) give a view of its detached alias."""
    first = column[0]
    base = first._base
    if first.numel() == 0:
        return None
    shape, strides, ptr = first.shape, first.stride(), first.data_ptr()
    for leaf, d in zip(leaves, mapped):
        if d is None or not isinstance(leaf, Tensor) or leaf.dtype != first.dtype:
            continue
        if base is not None and (leaf if leaf._base is None else leaf._base) is base and \
                leaf.requires_grad == first.requires_grad:
            source, linked = leaf, True
        elif not first.requires_grad and backend.xp_of(leaf._array).may_share_memory(
                first._array, leaf._array):
            source, linked = leaf.detach(), False
        else:
            continue
        step = leaf.stride(d)
        width = step * first.element_size()
        if all(isinstance(c, Tensor) and (c._base is base if linked else
                                          not c.requires_grad)
               and c.shape == shape and c.stride() == strides
               and c.data_ptr() == ptr + b * width for b, c in enumerate(column)):
            size = (*shape[:dim], len(column), *shape[dim:])
            stride = (*strides[:dim], step, *strides[dim:])
            offset = first.storage_offset()
            if linked and size == tuple(leaf.shape) and stride == leaf.stride() \
                    and offset == leaf.storage_offset():
                return leaf
            return source.as_strided(size, stride, offset)
    return None
