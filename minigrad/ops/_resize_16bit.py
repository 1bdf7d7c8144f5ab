"""``F.interpolate`` on float16/bfloat16 numpy arrays, rounded as PyTorch's CPU kernels round
(modes nearest, nearest-exact, linear, bilinear, trilinear, bicubic; ``interpolate.py`` sends
the 16-bit inputs here).

Forward (the generic kernel; bilinear's small outputs take the "channels-last" one):

* each dim's weights are computed in float32 and stored in the 16-bit dtype: linear
  l1 = clamp(x - floor(x), 0, 1) with x = s (o + 0.5) - 0.5 (one fused multiply-add, clamped
  at 0) or s o (align_corners), l0 = 1 - l1 after l1's rounding; bicubic Keys' cubic
  (a = -0.75) of the distances, with the multiply-adds fused as the compiled kernel fuses them;
  a dim whose size does not change is read with the weights (1, 0) (linear modes);
* the value is computed in float32, the last dim first, and rounded once: two taps as
  fma(t0, w0, t1 w1); four as t0 w0, then fma(tj, wj, sum) for j = 1..3;
* bilinear on outputs with H + W <= 128 (or 3 channels on one thread, or a channels-last
  input of more than 3 channels): the float32 products h w of the unrounded lambdas as the
  corners' weights, the four terms summed left to right with fused multiply-adds for each
  channel past the last multiple of 16 (the first two as fma(t1, w1, t0 w0) for float16,
  fma(t0, w0, t1 w1) for bfloat16), right to left in the 16-channel vectors before it.

Backward: each input cell's gradient is accumulated in float32, in the order the kernel walks
the outputs (row-major, then the taps), and rounded once: linear modes add
fma((l_d l_h) l_w, g, acc); bicubic (g y_j) x_i unfused, x taps outer; nearest adds g, at the
positions of the backward kernel's own index (floor(o s), floor((o + 0.5) s) in float32),
which may differ from the forward's where a position lands on an integer.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..parallel import get_num_threads
from ._half_rounding import fma

_F32 = np.float32
_F64 = np.float64
_A = _F32(-0.75)
# the 16-bit elements of one vector of the kernels PyTorch runs on this build
_LANES = 16


def _scale(n_in, n_out, align_corners, factor):
    """The kernel's float32 step between output positions along a dim."""
    if align_corners:
        return _F32(n_in - 1) / _F32(n_out - 1) if n_out > 1 else _F32(0)
    if factor is not None and float(factor) > 0:
        return _F32(1.0 / float(factor))
    return _F32(n_in) / _F32(n_out)


def _mad(a, b, c, fused):
    """a * b + c in float32: fused (one rounding) or not."""
    if fused:
        return fma(a, b, c)
    return (np.asarray(a, _F32) * np.asarray(b, _F32) + np.asarray(c, _F32)).astype(_F32)


def _source(n_out, step, align_corners, cubic, fused=True):
    """The float32 input position of each output position."""
    o = np.arange(n_out)
    if align_corners:
        return step * o.astype(_F32)
    x = _mad(np.full(n_out, step), o.astype(_F32) + _F32(0.5), np.full(n_out, _F32(-0.5)),
             fused)
    return x if cubic else np.maximum(x, _F32(0))


def _cubic_near(x, fused):
    """Keys' cubic for |x| <= 1: ((a + 2) x - (a + 3)) x x + 1."""
    v = _mad(_A + _F32(2), x, -(_A + _F32(3)), fused) * x
    return _mad(v, x, _F32(1), fused)


def _cubic_far(x, fused):
    """Keys' cubic for 1 < |x| < 2: ((a x - 5 a) x + 8 a) x - 4 a (the last step unfused
    even in the kernel that fuses the others)."""
    v = _mad(_mad(_A, x, -_F32(5) * _A, fused), x, _F32(8) * _A, fused)
    return v * x - _F32(4) * _A


def linear_taps(n_in, n_out, align_corners, factor, half=None):
    """[(index0, l0), (index1, l1)] of one dim; the weights float32, or rounded to ``half``
    (l0 then 1 - l1 of the rounded l1) as the forward kernel stores them."""
    o = np.arange(n_out)
    if n_in == n_out:
        return [(o, np.ones(n_out, _F32)), (o, np.zeros(n_out, _F32))]
    x = _source(n_out, _scale(n_in, n_out, align_corners, factor), align_corners, False)
    i0 = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
    l1 = np.clip(x - i0.astype(_F32), _F32(0), _F32(1)).astype(_F32)
    i1 = i0 + (i0 < n_in - 1)
    if half is None:
        return [(i0, _F32(1) - l1), (i1, l1)]
    l1 = l1.astype(half).astype(_F32)
    return [(i0, (_F32(1) - l1).astype(half).astype(_F32)), (i1, l1)]


def cubic_taps(n_in, n_out, align_corners, factor, half=None, fused=True):
    """[(index_j, w_j)] j = 0..3 of one dim (indices clamped), weights float32 or rounded to
    ``half``; ``fused``: with the forward kernel's fused multiply-adds (the backward's has
    none)."""
    x = _source(n_out, _scale(n_in, n_out, align_corners, factor), align_corners, True, fused)
    i = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
    t = np.clip(x - i.astype(_F32), _F32(0), _F32(1)).astype(_F32)
    u = _F32(1) - t
    ws = [_cubic_far(t + _F32(1), fused), _cubic_near(t, fused), _cubic_near(u, fused),
          _cubic_far(u + _F32(1), fused)]
    if half is not None:
        ws = [w.astype(half).astype(_F32) for w in ws]
    return [(np.clip(i + j - 1, 0, n_in - 1), w) for j, w in enumerate(ws)]


def nearest_grad_index(mode, n_in, n_out, factor):
    """The input position the backward kernels send each output's gradient to."""
    step = _scale(n_in, n_out, False, factor)
    o = np.arange(n_out)
    if mode == "nearest-exact":
        pos = ((o + 0.5) * _F64(step)).astype(_F32)
    else:
        if n_out == n_in:
            return o
        if n_out == 2 * n_in:
            return o >> 1
        pos = o.astype(_F32) * step
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def _mix(a, axis, taps):
    """float32 ``a`` resized along ``axis`` with float32 weights (None: a copy per index)."""
    a = np.moveaxis(a, axis, -1)
    if len(taps) == 1:
        out = a[..., taps[0][0]]
    elif len(taps) == 2:
        (i0, w0), (i1, w1) = taps
        out = fma(a[..., i0], w0, a[..., i1] * w1)
    else:
        out = a[..., taps[0][0]] * taps[0][1]
        for i, w in taps[1:]:
            out = fma(a[..., i], w, out)
    return np.moveaxis(out, -1, axis)


def _bilinear_rows(a, dims, half):
    """bilinear's channels-last kernel: float32 corner weights h w (unrounded lambdas)."""
    (_, th), (_, tw) = dims
    (h0, lh0), (h1, lh1) = th
    (w0, lw0), (w1, lw1) = tw
    corners = [(h, w, lh[:, None] * lw[None, :]) for h, lh in ((h0, lh0), (h1, lh1))
               for w, lw in ((w0, lw0), (w1, lw1))]
    reads = [a[:, :, h][:, :, :, w] for h, w, _ in corners]
    if half == np.float16:                  # (the compiled kernel fuses the first two terms
        tail = fma(reads[1], corners[1][2], reads[0] * corners[0][2])   # one way per dtype)
    else:
        tail = fma(reads[0], corners[0][2], reads[1] * corners[1][2])
    for r, (_, _, wt) in zip(reads[2:], corners[2:]):
        tail = fma(r, wt, tail)
    body = a.shape[1] - a.shape[1] % _LANES
    if body:
        part = reads[3][:, :body] * corners[3][2]
        for r, (_, _, wt) in zip(reads[2::-1], corners[2::-1]):
            part = fma(r[:, :body], wt, part)
        tail[:, :body] = part
    return tail


def _channels_last_bilinear(x, sizes):
    """Whether PyTorch's bilinear kernel takes its channels-last form: channels-last input of
    more than 3 channels, an output with H + W <= 128, or 3 channels on one thread."""
    n, c, h, w = x.shape
    strides = x.strides
    channels_last = c > 3 and strides[1] == x.itemsize and strides[3] == c * x.itemsize and \
        strides[2] == w * c * x.itemsize
    return channels_last or sizes[0] + sizes[1] <= 128 or (get_num_threads() == 1 and c == 3)


def forward(x, mode, sizes, factors, align_corners, nearest_dims=None):
    """The resized 16-bit array of (N, C, *spatial) ``x``."""
    half = x.dtype
    a = x.astype(_F32)
    if mode in ("nearest", "nearest-exact"):
        for d, _, _, taps in nearest_dims:
            a = np.take(a, taps[0][0], axis=d)
        return np.ascontiguousarray(a.astype(half))
    nd = len(sizes)
    if mode == "bilinear" and _channels_last_bilinear(x, sizes):
        dims = [(2 + k, linear_taps(x.shape[2 + k], sizes[k], align_corners, factors[k]))
                for k in range(2)]
        return np.ascontiguousarray(_bilinear_rows(a, dims, half).astype(half))
    make = cubic_taps if mode == "bicubic" else linear_taps
    for k in reversed(range(nd)):
        taps = make(x.shape[2 + k], sizes[k], align_corners, factors[k], half)
        a = _mix(a, 2 + k, taps)
    return np.ascontiguousarray(a.astype(half))


def _contributions(mode, in_spatial, sizes, factors, align_corners):
    """(target input cell, source output cell, weight factors, g first) of every addition the
    backward kernel makes, in its order (flat row-major indices)."""
    nd = len(sizes)
    if mode in ("nearest", "nearest-exact"):
        per_dim = [[(nearest_grad_index(mode, in_spatial[k], sizes[k], factors[k]), None)]
                   for k in range(nd)]
    elif mode == "bicubic":
        per_dim = [cubic_taps(in_spatial[k], sizes[k], align_corners, factors[k], fused=False)
                   for k in range(nd)]
    else:
        per_dim = [linear_taps(in_spatial[k], sizes[k], align_corners, factors[k])
                   for k in range(nd)]
    n_taps = [len(t) for t in per_dim]
    # tap combinations in the kernel's order: the last dim's taps fastest (bicubic: the
    # first dim's, its x taps outer)
    if mode == "bicubic":
        combos = np.indices(n_taps[::-1]).reshape(nd, -1).T[:, ::-1]
    else:
        combos = np.indices(n_taps).reshape(nd, -1).T
    out_grid = np.indices(sizes).reshape(nd, -1)            # (nd, n_out)
    n_out, n_combo = out_grid.shape[1], len(combos)
    target = np.zeros((n_out, n_combo), np.int64)
    factors_w = []
    for k in range(nd):
        idx = np.stack([per_dim[k][j][0] for j in range(n_taps[k])])     # (taps, n_out_k)
        pos = idx[combos[:, k]][:, out_grid[k]].T                          # (n_out, combo)
        target = target * in_spatial[k] + pos
        if per_dim[k][0][1] is not None:
            w = np.stack([per_dim[k][j][1] for j in range(n_taps[k])])
            factors_w.append(w[combos[:, k]][:, out_grid[k]].T)
    source = np.broadcast_to(np.arange(n_out)[:, None], target.shape)
    return target.reshape(-1), source.reshape(-1), [f.reshape(-1) for f in factors_w]


def backward(g, mode, in_spatial, sizes, factors, align_corners):
    """The 16-bit gradient (N, C, *in_spatial) of a resize from the 16-bit ``g``."""
    half = g.dtype
    lead = g.shape[:2]
    if mode == "bicubic" and tuple(in_spatial) == tuple(sizes):
        return np.array(g, order="C")
    target, source, ws = _contributions(mode, in_spatial, sizes, factors, align_corners)
    n_in = int(np.prod(in_spatial))
    if mode == "bicubic":
        weight = None                     # (g * y) * x: the first dim's weight first
    elif ws:
        weight = ws[0]
        for w in ws[1:]:
            weight = weight * w
    else:
        weight = None
    order = np.argsort(target, kind="stable")
    counts = np.bincount(target, minlength=n_in)
    slots = counts.max() if counts.size else 0
    starts = np.cumsum(counts) - counts
    t_sorted = target[order]
    rank = np.arange(order.size) - starts[t_sorted]
    table = np.full((n_in, slots), -1, np.int64)
    table[t_sorted, rank] = order
    flat_g = g.reshape(lead[0] * lead[1], -1).astype(_F32)
    acc = np.zeros((flat_g.shape[0], n_in), _F32)
    for k in range(slots):
        which = table[:, k]
        live = which >= 0
        pick = which[live]
        v = flat_g[:, source[pick]]
        if mode == "bicubic":
            for w in ws:
                v = v * w[pick]
            acc[:, live] += v
        elif weight is not None:
            acc[:, live] = fma(weight[pick], v, acc[:, live])
        else:
            acc[:, live] += v
    return acc.astype(half).reshape(lead + tuple(in_spatial))


class HalfResize(Function):
    """The 16-bit resize as one op (forward and backward as PyTorch's CPU kernels round).
    ``half``: the input's dtype, given so that ``apply`` leaves a bfloat16 input as it is."""

    def forward(self, a, *, half, mode, sizes, factors, align_corners, nearest_dims=None):
        self.args = (mode, tuple(a.shape[2:]), tuple(sizes), tuple(factors), align_corners)
        self.nearest_dims = nearest_dims
        return forward(a, mode, sizes, factors, align_corners, nearest_dims)

    def backward(self, g):
        return HalfResizeGrad.apply(g, half=g._array.dtype, args=self.args,
                                    nearest_dims=self.nearest_dims)


class HalfResizeGrad(Function):
    """The gradient of ``HalfResize``; its own gradient is the resize again."""

    def forward(self, g, *, half, args, nearest_dims):
        self.args, self.nearest_dims = args, nearest_dims
        return backward(g, *args)

    def backward(self, gg):
        mode, _, sizes, factors, align_corners = self.args
        return HalfResize.apply(gg, half=gg._array.dtype, mode=mode, sizes=sizes,
                                factors=factors, align_corners=align_corners,
                                nearest_dims=self.nearest_dims)
