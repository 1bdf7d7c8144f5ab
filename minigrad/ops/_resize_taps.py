"""The taps of ``F.interpolate``'s resize, one spatial dim at a time: the input positions each
output position reads, clamped into [0, n_in - 1], and their weights, for every mode
(``_taps``; the nearest modes' positions rounded as PyTorch's CPU kernels do,
``_nearest_index``; the anti-aliased filters, ``_taps_antialias``), and which dims a resize
touches (``_dims_taps``).  ``interpolate.py`` applies them; its docstring has the formulas.
"""
from __future__ import annotations

import math

import numpy as np


_CUBIC_A = -0.75


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


def _nearest_index(mode, n_in, n_out, scale, scale32, planar, single):
    """The input position each of the ``n_out`` outputs of a nearest mode copies, computed as
    PyTorch's CPU kernels do, since a position that lands on an integer can floor either way:

    * a 4-d input (``planar``): float32 arithmetic with ``scale32`` (the scale rounded to
      float32); 'nearest' copies an unchanged size and halves an exact doubling;
    * 3-d and 5-d inputs: the input dtype's precision (float32 for ``single``, any dtype but
      float64), the position rounded to float32 before the floor; 'nearest-exact' goes
      through the pixel centre, max(scale (dst + 0.5) - 0.5, 0) + 0.5.
    """
    dst = np.arange(n_out, dtype=np.int64)
    exact = mode == "nearest-exact"
    if planar:
        if not exact and n_out == n_in:
            return dst
        if not exact and n_out == 2 * n_in:
            return dst >> 1
        # a product of two float32 values is exact in float64: rounding it once is float32's
        pos = (dst + (0.5 if exact else 0.0)) * np.float64(scale32)
    else:
        work = np.float32 if single else np.float64
        step = work(scale32 if single else scale)
        pos = dst.astype(work) * step
        if exact:
            pos = np.maximum((dst.astype(work) + work(0.5)) * step - work(0.5), work(0)) + \
                work(0.5)
    return np.minimum(np.floor(pos.astype(np.float32)).astype(np.int64), n_in - 1)


def _taps_antialias(mode, n_in, n_out, scale, align_corners):
    """Taps of the anti-aliased resize (``antialias=True``): when shrinking by ``scale`` > 1
    the filter (a triangle for bilinear, Keys' cubic with a = -0.5 for bicubic) is stretched
    by ``scale``, so each output averages every input it covers; its weights are normalized
    to sum to 1 (the ones cut off at the borders are dropped, not clamped)."""
    if align_corners:
        scale = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    half_width = {"bilinear": 1.0, "bicubic": 2.0, "lanczos": 3.0}[mode]
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
        elif mode == "lanczos":
            w = np.where(d < 3.0, np.sinc(d) * np.sinc(d / 3.0), 0.0)
        else:
            w = np.where(d < 1, (1.5 * d - 2.5) * d * d + 1,
                         np.where(d < 2, ((-0.5 * d + 2.5) * d - 4) * d + 2, 0.0))
        weights.append(np.where(j < count, w, 0.0))
    total = np.sum(weights, axis=0)
    total = np.where(total == 0, 1.0, total)
    return [(np.clip(first + j, 0, n_in - 1), w / total) for j, w in enumerate(weights)]


def _dims_taps(input, mode, sizes, scales, scales32, align_corners, antialias, backward=False):
    """[(dim, n_in, n_out, taps)] of the dims to resize, the last dim first (for uint8 the
    order changes the rounding, and PyTorch goes last first).  A dim of unchanged size is
    left alone where PyTorch copies it whatever the scale: by the linear modes, 2-d nearest
    (as in ``_nearest_index``), anti-aliased and uint8 bicubic resizes; the nearest modes at
    scale 1 read every position anyway.

    ``backward``: the dims of PyTorch's backward kernels, which are not always the forward's
    transpose: the anti-aliased ones resize every dim (none is skipped).  (Nearest's backward
    kernels round some positions unlike its forward; minigrad keeps the forward's transpose
    there, the true gradient.)"""
    nearest = mode in ("nearest", "nearest-exact")
    # PyTorch's separable kernels (anti-aliased, and uint8) skip the dims that keep their size
    separable = (antialias and not backward) or (input._array.dtype == np.uint8 and
                                                 mode == "bicubic")
    planar = input.ndim == 4
    single = input._array.dtype != np.float64
    dims = []
    for k in reversed(range(len(sizes))):
        d, n_out, n_in = 2 + k, sizes[k], input.shape[2 + k]
        if n_out == n_in and (mode in ("linear", "bilinear", "trilinear") and not antialias or
                              separable or (mode == "nearest" and planar) or
                              (nearest and scales[k] == 1.0)):
            continue
        if nearest:
            taps = [(_nearest_index(mode, n_in, n_out, scales[k], scales32[k], planar, single),
                     None)]
        else:
            taps = (_taps_antialias if antialias else _taps)(mode, n_in, n_out, scales[k],
                                                             align_corners)
        dims.append((d, n_in, n_out, taps))
    return dims
