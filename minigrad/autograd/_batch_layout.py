"""Memory layouts of batched derivatives, as PyTorch's single batched passes leave them.

PyTorch computes ``autograd.grad(..., is_grads_batched=True)`` and the vectorized
``autograd.functional.jacobian`` in one pass over a batch dim it keeps outermost in memory:
every entry of the batch is laid out as one unbatched pass lays it out (a transposed gradient
stays transposed, a broadcast one stays broadcast).  minigrad runs one pass per entry; these
helpers give the stacked result that layout (values unchanged, the graph kept):

    in_batch_layout(v, like)     v of shape (B, *S) -> the same values, dim 0 outermost,
                                 dims 1.. ordered (and broadcast) as ``like`` (shape S)
    zeros_batch(x, b)            zeros of shape (b, *x.shape): x's layout broadcast along b

(The Jacobians' blocks, which need ``cat``, are laid out in ``_jacobian_layout``.)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["in_batch_layout", "zeros_batch"]


def _stride_order(arr):
    """The dims of a numpy array, outermost first, as its strides order them (PyTorch's
    order for a result computed from it: larger strides outside, ties keep dim order); None
    for C order or for an array with a negative stride."""
    if arr.ndim < 2 or arr.flags.c_contiguous or min(arr.strides) < 0:
        return None
    order = tuple(sorted(range(arr.ndim), key=lambda d: -arr.strides[d]))
    return None if order == tuple(range(arr.ndim)) else order


def _broadcast_dims(arr):
    return tuple(d for d in range(arr.ndim) if arr.strides[d] == 0 and arr.shape[d] > 1)


def in_batch_layout(v, like):
    """``v`` (a Tensor of shape (B, *like.shape)) with dim 0 outermost in memory and the
    other dims laid out as the numpy array ``like``: in its stride order, its broadcast
    (0-stride) dims broadcast.  A differentiable copy where the layout changes."""
    if v.numel() == 0 or like.size == 0:
        return v
    shape = tuple(v.shape)
    spread = _broadcast_dims(like)
    if spread:
        cut = tuple(slice(0, 1) if d in spread else slice(None) for d in range(like.ndim))
        v, like = v[(slice(None),) + cut], like[cut]
    order = _stride_order(like)
    if order is not None:
        full = (0,) + tuple(1 + d for d in order)
        v = v.permute(full).contiguous().permute(tuple(int(d) for d in np.argsort(full)))
    elif not v.is_contiguous():
        v = v.contiguous()
    # a size-1 dim keeps the stride one pass gave it (the batched pass computes it so)
    have = tuple(v.stride())
    want = have[:1] + tuple(have[d + 1] if like.shape[d] != 1 or like.strides[d] <= 0
                            else like.strides[d] // like.itemsize for d in range(like.ndim))
    if want != have:
        v = v.as_strided(tuple(v.shape), want, v.storage_offset())
    return v.expand(shape) if spread else v


def _dense_zeros(x):
    """Zeros shaped as ``x``: its strides where it is dense (PyTorch's zeros_like), else C
    order."""
    arr = x._array
    xp = backend.xp_of(arr)
    order = _stride_order(arr)
    if order is None or _broadcast_dims(arr) or arr.size == 0:
        return xp.zeros(arr.shape, arr.dtype)
    z = xp.zeros([arr.shape[d] for d in order], arr.dtype).transpose(np.argsort(order))
    return z if z.strides == arr.strides else xp.zeros(arr.shape, arr.dtype)


def zeros_batch(x, b):
    """Zeros of shape (b, *x.shape): ``zeros_like(x)`` broadcast along a new dim 0."""
    return Tensor._wrap(_dense_zeros(x)).expand((b,) + tuple(x.shape))

