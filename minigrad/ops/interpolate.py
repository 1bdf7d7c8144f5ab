"""``F.interpolate`` (modes ``nearest``, ``nearest-exact``, ``linear``, ``bilinear``,
``trilinear``, ``bicubic`` and ``area``, with ``align_corners``) and ``pixel_shuffle`` /
``pixel_unshuffle``.

Resizing is separable: one spatial dim at a time, each output position ``dst`` mixes a few
input positions ("taps", clamped into [0, n_in - 1]) with constant weights:

    nearest        src = min(floor(dst * scale), n_in - 1)
    nearest-exact  src = min(floor((dst + 0.5) * scale), n_in - 1)
    linear         x = dst * (n_in - 1) / (n_out - 1)                 (align_corners=True)
                   x = max((dst + 0.5) * scale - 0.5, 0)              (align_corners=False)
                   out = (1 - t) in[floor(x)] + t in[floor(x) + 1],  t = x - floor(x)
    bicubic        x as linear but not clamped at 0; taps floor(x) - 1 .. floor(x) + 2 with
                   Keys' cubic weights (a = -0.75) of the distances t + 1, t, 1 - t, 2 - t
    area           the mean of in[floor(dst n_in / n_out) : ceil((dst + 1) n_in / n_out)]
                   (adaptive average pooling)

With ``antialias=True`` (bilinear, bicubic) a shrinking resize widens its filter to cover
every input an output spans (see ``_taps_antialias``).

where ``scale`` is n_in / n_out, or 1 / scale_factor when a scale factor is given.  The reads
are ``IndexSelect``s and the mixing a multiply-add with constant weights, so the gradient (a
scatter-add of weighted gradients) and its own derivatives come from those ops.

uint8 images (bilinear, bicubic) are resized as PyTorch does them: each dim's weights rounded
to fixed point (15 bits for the largest), integer sums rounded and clamped to [0, 255] after
each dim, the last dim first.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._util import not_implemented_for
from .elementwise import add, mul
from .movement import permute
from .plumbing import reshape_to
from .scatter_gather import IndexSelect

__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle"]

_NEEDS_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}
_ALL = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_CUBIC_A = -0.75


def _sizes(input, size, scale_factor):
    spatial = list(input.shape[2:])
    nd = len(spatial)
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        given, size = size, [size] * nd if isinstance(size, int) else list(size)
        if len(size) != nd:
            raise ValueError(    # the size shown as given (a list or a tuple), as PyTorch
                f"Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {spatial} and output size of {given}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size "
                "in (o1, o2, ...,oK) format.")
        return [int(s) for s in size], [n / s if s else 0.0 for n, s in zip(spatial, size)]
    factors = [scale_factor] * nd if isinstance(scale_factor, (int, float)) else \
        list(scale_factor)
    if len(factors) != nd:
        raise ValueError(
            f"Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {spatial} and scale_factor of shape "
            f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format "
            "and scale_factor in (s1, s2, ...,sK) format.")
    return ([int(math.floor(n * f)) for n, f in zip(spatial, factors)],
            [1.0 / f if f else 0.0 for f in factors])


def _cubic(d):
    """Keys' cubic convolution weight of a tap at distance |d| (a = -0.75)."""
    d = np.abs(d)
    a = _CUBIC_A
    near = ((a + 2) * d - (a + 3)) * d * d + 1                     # |d| <= 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a                 # 1 < |d| < 2
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _taps(mode, n_in, n_out, scale, align_corners):
    """[(index (n_out,) int64, weight (n_out,) float64 or None)]: the input positions each of the
    ``n_out`` outputs reads along one dim, and how much of each (None: just that one)."""
    dst = np.arange(n_out, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        shift = 0.5 if mode == "nearest-exact" else 0.0
        return [(np.minimum(np.floor((dst + shift) * scale).astype(np.int64), n_in - 1), None)]
    if mode == "area":
        start = (np.arange(n_out) * n_in) // n_out
        stop = -((-(np.arange(n_out) + 1) * n_in) // n_out)                  # ceil
        width = stop - start
        return [(np.minimum(start + k, stop - 1), (k < width) / width)
                for k in range(int(width.max()) if n_out else 1)]
    if align_corners:
        x = dst * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
    else:
        x = (dst + 0.5) * scale - 0.5
        if mode != "bicubic":
            x = np.maximum(x, 0.0)
    floor = np.floor(x)
    t = x - floor
    floor = floor.astype(np.int64)
    if mode == "bicubic":
        return [(np.clip(floor + k, 0, n_in - 1), _cubic(t - k)) for k in (-1, 0, 1, 2)]
    lo = np.minimum(floor, n_in - 1)
    return [(lo, 1 - t), (np.minimum(lo + 1, n_in - 1), t)]


def _taps_antialias(mode, n_in, n_out, scale, align_corners):
    """Taps of the anti-aliased resize (``antialias=True``): when shrinking by ``scale`` > 1
    the filter (a triangle for bilinear, Keys' cubic with a = -0.5 for bicubic) is stretched
    by ``scale``, so each output averages every input it covers; its weights are normalized
    to sum to 1 (the ones cut off at the borders are dropped, not clamped)."""
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    half_width = 1.0 if mode == "bilinear" else 2.0
    support = half_width * scale if scale >= 1.0 else half_width
    stretch = 1.0 / scale if scale >= 1.0 else 1.0
    center = scale * (np.arange(n_out, dtype=np.float64) + 0.5)
    first = np.maximum(np.trunc(center - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(center + support + 0.5).astype(np.int64), n_in) - first
    weights = []
    for j in range(int(math.ceil(support)) * 2 + 1):
        d = np.abs((j + first - center + 0.5) * stretch)
        if mode == "bilinear":
            w = np.maximum(1.0 - d, 0.0)
        else:
            w = np.where(d < 1, (1.5 * d - 2.5) * d * d + 1,
                         np.where(d < 2, ((-0.5 * d + 2.5) * d - 4) * d + 2, 0.0))
        weights.append(np.where(j < count, w, 0.0))
    total = np.sum(weights, axis=0)
    total = np.where(total == 0, 1.0, total)
    return [(np.clip(first + j, 0, n_in - 1), w / total) for j, w in enumerate(weights)]


def _resize_dim(out, d, taps):
    """Float path: sum over taps of weight * out[..., index, ...] along dim ``d``."""
    if taps[0][1] is None:
        return IndexSelect.apply(out, index=backend.to_device(taps[0][0], out.device), dim=d)
    view = [1] * out.ndim
    view[d] = len(taps[0][0])
    total = None
    for index, weight in taps:
        w = backend.to_device(weight.reshape(view).astype(out._array.dtype), out.device)
        picked = IndexSelect.apply(out, index=backend.to_device(index, out.device), dim=d)
        term = mul(picked, w)
        total = term if total is None else add(total, term)
    return total


def _resize_dim_uint8(a, d, taps, n_in):
    """uint8 path on a numpy array: fixed-point weights, rounded and clamped sums."""
    weights = np.zeros((len(taps[0][0]), n_in))
    for index, weight in taps:
        np.add.at(weights, (np.arange(len(index)), index), weight)
    # the most fractional bits that keep round(largest weight * 2^bits) below 2^15
    largest = np.abs(weights).max() if weights.size else 0.0
    bits = 0
    while bits < 22 and np.floor(largest * 2.0 ** (bits + 1) + 0.5) < 2 ** 15:
        bits += 1
    fixed = (np.sign(weights) * np.floor(np.abs(weights) * 2.0 ** bits + 0.5)).astype(np.int64)
    summed = np.moveaxis(np.moveaxis(a.astype(np.int64), d, -1) @ fixed.T, -1, d)
    half = (1 << bits) >> 1
    return np.clip((summed + half) >> bits, 0, 255).astype(np.uint8)


def _check_not_empty(input, sizes, mode):
    """PyTorch refuses empty spatial dims (area: any empty dim but the batch's; an empty area
    output is allowed)."""
    if mode == "area":
        empty = [d for d in range(1, input.ndim) if input.shape[d] == 0]
        if empty:
            raise RuntimeError(
                f"adaptive_avg_pool{input.ndim - 2}d(): Expected input to have non-zero size for "
                f"non-batch dimensions, but input has sizes {list(input.shape)} with dimension "
                f"{empty[0]} being empty")
        return
    spatial = list(input.shape[2:])
    if all(n > 0 for n in spatial) and all(n > 0 for n in sizes):
        return
    names = "DHW"[3 - len(sizes):]
    given = ", ".join(f"{n}: {v}" for n, v in zip(names, spatial))
    wanted = ", ".join(f"{n}: {v}" for n, v in zip(names, sizes))
    joint = " and output" if len(sizes) == 1 else " output"
    raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                       f"({given}){joint} ({wanted})")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims of (N, C, *spatial) ``input`` to ``size`` (or by
    ``scale_factor``): output (N, C, *size), each value a fixed mix of nearby input values."""
    if mode not in _ALL:
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            f"nearest-exact (got {mode})")
    if align_corners is not None and mode not in _INTERPOLATING:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    # PyTorch's order: the sizes, antialias, the input's rank, then the mode's rank
    sizes, scales = _sizes(input, size, scale_factor)
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if antialias and (mode not in ("bilinear", "bicubic") or input.ndim != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  "bilinear | bicubic | trilinear | lanczos | area | "
                                  f"nearest-exact (got {mode})")
    if mode in _NEEDS_NDIM and input.ndim != _NEEDS_NDIM[mode]:
        if mode == "bicubic":               # PyTorch has no words of its own for this one
            raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                      f"(got {input.ndim}D) for the modes: nearest | linear | "
                                      "bilinear | bicubic | trilinear | lanczos | area | "
                                      f"nearest-exact (got {mode})")
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                  f"{_NEEDS_NDIM[mode]}D input")
    np_dtype = input._array.dtype
    uint8 = np_dtype == np.uint8 and mode in ("nearest", "nearest-exact", "bilinear", "bicubic")
    if np_dtype.kind != "f" and not uint8:
        kernel = {"nearest": "compute_indices_weights_nearest",
                  "nearest-exact": "compute_indices_weights_nearest",
                  "bicubic": "compute_indices_weights_cubic",
                  "area": "adaptive_avg_pool3d_cpu" if input.ndim == 5 else
                          "adaptive_avg_pool2d"}.get(mode, "compute_indices_weights_linear")
        if input.ndim == 4 and mode in ("nearest", "nearest-exact", "bilinear"):
            # PyTorch's CPU kernels of 2-d nearest and bilinear check the dtype first in
            # their channels-last version, whatever the input's layout
            kernel = f"upsample_{'bilinear' if mode == 'bilinear' else 'nearest'}2d_channels_last"
        raise not_implemented_for(kernel, np_dtype)
    _check_not_empty(input, sizes, mode)
    if recompute_scale_factor:
        scales = [n / s if s else 0.0 for n, s in zip(input.shape[2:], sizes)]
    fixed_point = uint8 and mode in ("bilinear", "bicubic")
    out = backend.as_numpy(input._array) if fixed_point else input
    # the last dim first: for uint8 the order changes the rounding, and PyTorch goes last first
    for k in reversed(range(len(sizes))):
        d, n_out, n_in = 2 + k, sizes[k], input.shape[2 + k]
        if n_out == n_in and mode in ("nearest", "nearest-exact", "area") and \
                (mode == "area" or scales[k] == 1.0):
            continue
        taps = (_taps_antialias if antialias else _taps)(mode, n_in, n_out, scales[k],
                                                          align_corners)
        out = _resize_dim_uint8(out, d, taps, n_in) if fixed_point else \
            _resize_dim(out, d, taps)
    if fixed_point:
        return Tensor._wrap(backend.to_device(out, input.device))
    return out


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated spelling of ``interpolate`` (with a warning, as PyTorch)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", UserWarning, stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block."""
    r = _positive_factor("pixel_shuffle", "upscale_factor", upscale_factor)
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


def _positive_factor(op, name, value):
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}(): argument '{name}' (position 2) must be int, not "
                        f"{type(value).__name__}")
    if value <= 0:
        raise RuntimeError(f"{op} expects a positive {name}, but got {value}")
    return int(value)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): pixel_shuffle's inverse."""
    r = _positive_factor("pixel_unshuffle", "downscale_factor", downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    *lead, c, hr, wr = input.shape
    for name, dim, size in (("height", -2, hr), ("width", -1, wr)):
        if size % r:
            raise RuntimeError(f"pixel_unshuffle expects {name} to be divisible by "
                               f"downscale_factor, but input.size({dim})={size} is not "
                               f"divisible by {r}")
    n = len(lead)
    x = reshape_to(input, tuple(lead) + (c, hr // r, r, wr // r, r))
    x = permute(x, *range(n), n, n + 2, n + 4, n + 1, n + 3)        # (.., C, r, r, H, W)
    return reshape_to(x, tuple(lead) + (c * r * r, hr // r, wr // r))
