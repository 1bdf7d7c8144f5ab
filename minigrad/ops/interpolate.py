"""``F.interpolate`` (modes ``nearest``, ``linear``, ``bilinear``, ``trilinear``, with
``align_corners``) and ``pixel_shuffle`` / ``pixel_unshuffle``.

Resizing is separable: one spatial dim at a time, each output position reads one input
position (nearest) or two neighbours mixed with constant weights (linear):

    nearest        src = min(floor(dst * scale), n_in - 1)
    linear         x = dst * (n_in - 1) / (n_out - 1)                 (align_corners=True)
                   x = max((dst + 0.5) * scale - 0.5, 0)              (align_corners=False)
                   out = (1 - w) in[floor(x)] + w in[floor(x) + 1],  w = x - floor(x)

where ``scale`` is n_in / n_out, or 1 / scale_factor when a scale factor is given.  The reads
are ``IndexSelect``s and the mixing a multiply-add with constant weights, so the gradient (a
scatter-add of weighted gradients) and its own derivatives come from those ops.
"""
from __future__ import annotations

import math

from .. import backend
from .elementwise import add, mul
from .movement import permute
from .plumbing import reshape_to
from .scatter_gather import IndexSelect

__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle"]

_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
_ALL = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def _sizes(input, size, scale_factor):
    spatial = list(input.shape[2:])
    nd = len(spatial)
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        size = [size] * nd if isinstance(size, int) else list(size)
        if len(size) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {spatial} and output size of {tuple(size)}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size "
                "in (o1, o2, ...,oK) format.")
        return [int(s) for s in size], [n / s if s else 0.0 for n, s in zip(spatial, size)]
    factors = [scale_factor] * nd if isinstance(scale_factor, (int, float)) else \
        list(scale_factor)
    if len(factors) != nd:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {spatial} and scale_factor of "
            f"{tuple(factors)}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
            "and scale_factor in (s1, s2, ...,sK) format.")
    return [int(math.floor(n * f)) for n, f in zip(spatial, factors)], [1.0 / f for f in factors]


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) ``input`` to ``size`` (or by
    ``scale_factor``), reading the nearest pixel or mixing the 2^k linear neighbours."""
    if mode not in _ALL:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            f"nearest-exact (got {mode})")
    if mode in ("bicubic", "area", "nearest-exact"):
        raise NotImplementedError(f"interpolate: mode '{mode}' is not supported by minigrad "
                                  "(nearest, linear, bilinear and trilinear are)")
    if align_corners is not None and mode not in _LINEAR:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if mode in _LINEAR and input.ndim != _LINEAR[mode]:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_LINEAR[mode]}D input")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    sizes, scales = _sizes(input, size, scale_factor)
    if recompute_scale_factor:
        scales = [n / s if s else 0.0 for n, s in zip(input.shape[2:], sizes)]
    xp = backend.xp_of(input._array)
    out = input
    for k, (n_out, scale) in enumerate(zip(sizes, scales)):
        d = 2 + k
        n_in = input.shape[d]
        if n_out == n_in and mode == "nearest" and scale == 1.0:
            continue
        dst = xp.arange(n_out, dtype=xp.float64)
        if mode == "nearest":
            src = xp.minimum(xp.floor(dst * scale).astype(xp.int64), n_in - 1)
            out = IndexSelect.apply(out, index=src, dim=d)
            continue
        if align_corners:
            x = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            x = xp.maximum((dst + 0.5) * scale - 0.5, 0.0)
        lo = xp.minimum(xp.floor(x).astype(xp.int64), n_in - 1)
        hi = xp.minimum(lo + 1, n_in - 1)
        view = [1] * input.ndim
        view[d] = n_out
        w = (x - lo).reshape(view).astype(input._array.dtype)
        out = add(mul(IndexSelect.apply(out, index=lo, dim=d), (1 - w)),
                  mul(IndexSelect.apply(out, index=hi, dim=d), w))
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = reshape_to(input, tuple(lead) + (c // (r * r), r, r, h, w))
    x = permute(x, *range(n), n, n + 3, n + 1, n + 4, n + 2)        # (.., C, H, r, W, r)
    return reshape_to(x, tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): pixel_shuffle's inverse."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    *lead, c, hr, wr = input.shape
    if hr % r or wr % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but got input.size(-2)={hr} and "
                           f"input.size(-1)={wr} for downscale_factor={r}")
    n = len(lead)
    x = reshape_to(input, tuple(lead) + (c, hr // r, r, wr // r, r))
    x = permute(x, *range(n), n, n + 2, n + 4, n + 1, n + 3)        # (.., C, r, r, H, W)
    return reshape_to(x, tuple(lead) + (c * r * r, hr // r, wr // r))
