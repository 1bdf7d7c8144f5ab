"""``Tensor.view(dtype)``: the same memory read as another dtype, with PyTorch's checks of
the layout (in its strides) when the element sizes differ."""
from __future__ import annotations

from .. import backend, dtypes
from ..autograd._view_tracking import link_view
from ..tensor import Tensor
from ._util import scalar_type_name

__all__ = ["view_as_dtype"]


def view_as_dtype(a, dtype):
    """``view(dtype)``: the same bytes read as another dtype, as PyTorch (not a cast: a float32
    1.0 viewed as int32 is 1065353216). No copy and, as PyTorch, no gradient."""
    target = dtypes.to_dtype(dtype)
    src = a._array
    new, old = target.np.itemsize, src.itemsize
    if new != old:
        what = (f"to view {scalar_type_name(src.dtype)} as {scalar_type_name(target.np)} "
                "(different element sizes)")
        if src.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = a.stride()        # PyTorch's, size-1 and empty dims' too
        ratio = new // old
        # PyTorch's order: the last dim's size (to a larger element), its stride, then where
        # the elements start and the other strides (to a larger element)
        if new > old and src.shape[-1] % ratio:
            raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got "
                               f"{src.shape[-1]}")
        if strides[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        if new > old:
            offset = a.storage_offset()
            if offset % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, "
                                   f"but got {offset}")
            for i, stride in enumerate(strides[:-1]):
                if stride % ratio:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {ratio} {what}, "
                                       f"but got {stride}")
        if src.strides[-1] != old:
            # a size-1 or empty last dim, numpy's stride there any: made one element (the
            # same memory), which numpy's view needs
            src = backend.xp_of(src).lib.stride_tricks.as_strided(
                src, src.shape, src.strides[:-1] + (old,))
        viewed = src.view(target.np)
        if viewed.size == 0:        # PyTorch's strides, scaled by the ratio of the sizes
            viewed = backend.xp_of(src).lib.stride_tricks.as_strided(
                viewed, viewed.shape, tuple(s * old for s in strides[:-1]) + (new,))
        out = Tensor._wrap(viewed)
        link_view(out, a)
        return out
    out = Tensor._wrap(src.view(target.np))
    link_view(out, a)
    return out
