"""PyTorch's rule for the strides of a view: which shapes an array's memory can be viewed as
without a copy, and with what strides (``view``, ``reshape`` and the layouts that follow
them)."""
from __future__ import annotations

__all__ = ["view_strides"]


def view_strides(shape, strides, new_shape):
    """The strides (in bytes, as ``strides``) of ``new_shape`` viewing the memory of an array
    of ``shape``/``strides``, or None when no view can: PyTorch's rule.

    The old axes fall into chunks, runs of axes that are contiguous among themselves (axis i
    steps over exactly all of axis i + 1: strides[i] = strides[i+1] * shape[i+1]; size-1 axes
    join any chunk). A view must split or merge axes only inside a chunk: new axes, taken
    from the last, must fill each chunk's element count exactly, and each gets the chunk's
    innermost stride times the elements inside it. Empty arrays view as anything.
    """
    if 0 in tuple(shape):
        if tuple(new_shape) == tuple(shape):
            return tuple(strides)
        out, step = [], 1
        for size in reversed(new_shape):     # row-major over one element's width
            out.append(step)
            step *= max(size, 1)
        unit = min((abs(s) for s in strides if s), default=1)
        return tuple(u * unit for u in reversed(out))
    if not shape:                            # a 0-d array: one element, of any stride
        shape, strides = (1,), tuple(strides) or (1,)
    new_strides = [0] * len(new_shape)
    view_d = len(new_shape) - 1
    base = strides[-1]
    chunk_numel = view_numel = 1
    for d in range(len(shape) - 1, -1, -1):
        chunk_numel *= shape[d]
        if d == 0 or (shape[d - 1] != 1 and strides[d - 1] != chunk_numel * base):
            # the chunk ends at axis d: new axes take its elements, from the last
            while view_d >= 0 and (view_numel < chunk_numel or new_shape[view_d] == 1):
                new_strides[view_d] = view_numel * base
                view_numel *= new_shape[view_d]
                view_d -= 1
            if view_numel != chunk_numel:
                return None
            if d > 0:
                base, chunk_numel, view_numel = strides[d - 1], 1, 1
    if view_d != -1:
        return None
    return tuple(new_strides)
