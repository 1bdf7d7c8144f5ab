"""``pixel_shuffle`` and ``pixel_unshuffle``: (*, C r^2, H, W) <-> (*, C, H r, W r), each group
of r^2 channels moved into an r x r block of pixels and back (reshapes and permutes, so the
gradient is the inverse rearrangement).
"""
from __future__ import annotations

import numbers

from .. import _memory_format as mf, backend
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from .movement import permute
from .movement_copies import clone, contiguous
from .plumbing import reshape_to

__all__ = ["pixel_shuffle", "pixel_unshuffle"]


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block."""
    r = _positive_factor("pixel_shuffle", "upscale_factor", upscale_factor, input)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = _dense_gradient(reshape_to(input, tuple(lead) + (c // (r * r), r, r, h, w)))
    x = permute(x, *range(n), n, n + 3, n + 1, n + 4, n + 2)        # (.., C, H, r, W, r)
    out = _shuffled_layout(reshape_to(x, tuple(lead) + (c // (r * r), h * r, w * r)), input)
    return rename_node(out, "PixelShuffleBackward0")


def _positive_factor(op, name, value, input):
    """The factor as an int, checked as PyTorch does: its type (the parser's), then the
    input's rank, then its sign."""
    if isinstance(value, Tensor) and value.ndim == 0 and value._array.dtype.kind in "iu":
        value = int(value)                   # a 0-d integer tensor is read as its int
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}(): argument '{name}' (position 2) must be int, not "
                        f"{type(value).__name__}")
    if isinstance(input, Tensor) and input.ndim < 3:
        raise RuntimeError(f"{op} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")
    if value <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {value}")
    return int(value)


def _densified(g):
    """An expanded gradient (a step of 0, the gradient of ``y.sum()``) as a new row-major
    tensor; None (keep it) otherwise."""
    if 0 in g._array.strides and g._array.size > 1:
        return contiguous(g)
    return None


def _dense_gradient(x):
    """``x``, its gradient made dense on the way back: PyTorch's backward of a pixel
    (un)shuffle is the inverse rearrangement, a new tensor, so an input's gradient is never
    a broadcast view (which the chain of reshapes and permutes here would pass through)."""
    if x.requires_grad:
        x.register_hook(_densified)
    return x


def _shuffled_layout(out, input):
    """A pixel (un)shuffle's result as PyTorch's, always a new tensor: channels-last where the
    input looks so, else row-major (the reshape may have left a view with any strides, for a
    factor of 1 or a single channel)."""
    fmt = mf.suggest(input._array)
    out = contiguous(out, memory_format=fmt)
    if backend.xp_of(out._array).may_share_memory(out._array, input._array):
        out = clone(out, memory_format=fmt)           # a factor of 1: still a copy
    # channels-last strides exactly, size-1 dims' too: a single output channel (which
    # contiguous() took as channels-last already, row-major) gets C's stride 1, as in PyTorch
    out._array = mf.exact_layout(out._array, fmt)
    return out


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): pixel_shuffle's inverse."""
    r = _positive_factor("pixel_unshuffle", "downscale_factor", downscale_factor, input)
    *lead, c, hr, wr = input.shape
    for name, dim, size in (("height", -2, hr), ("width", -1, wr)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={size} is not "
                               f"divisible by {r}")
    if input.numel() == 0:
        # PyTorch hands back a copy of an empty input unchanged, its shape kept
        return rename_node(clone(input), "PixelUnshuffleBackward0")
    n = len(lead)
    x = _dense_gradient(reshape_to(input, tuple(lead) + (c, hr // r, r, wr // r, r)))
    x = permute(x, *range(n), n, n + 2, n + 4, n + 1, n + 3)        # (.., C, r, r, H, W)
    out = _shuffled_layout(reshape_to(x, tuple(lead) + (c * r * r, hr // r, wr // r)), input)
    return rename_node(out, "PixelUnshuffleBackward0")
