"""Depthwise convolutions (``groups == C``: each output channel reads one input channel, as in
MobileNet's blocks) on phase planes: a few taps' worth of work per output, done in blocks
that stay in cache.

A depthwise convolution is a few multiply-adds per output (9 for 3x3), far too little work for
one big GEMM: im2col copied every window of the whole batch into a matrix (9x the input) for
a batch of one-row products. The definition, for a tap t (an offset in the kernel) and the
channel multiplier m = O / C::

    y[n, c*m + j, i] = sum over taps t of  w[c*m + j, 0, t] * xpad[n, c, i*s + t*d]

The fast layout (``Planes``): x is split into its s**nd *phases* (the cells whose padded
coordinates are a given remainder mod the stride) and each (image, channel, phase) plane is
flattened to one row of numbers. A tap then reads one phase, from a fixed *shift* along its
row, for every output at once -- a contiguous slice, as in ``_conv_shift``. (x goes into
its phases in a few copies, not one per phase: ``_conv_phase_copy``.)::

    stride 2, 1-d: xpad  a0 b0 a1 b1 a2 b2 ...   phase a: a0 a1 a2 ..   phase b: b0 b1 b2 ..
    tap 0 reads a[i], tap 1 reads b[i], tap 2 reads a[i + 1]: y[i] = w0 a[i] + w1 b[i] + w2 a[i+1]

Outputs are computed on rows as wide as a phase's (Q numbers per row: the extra columns read
round into the next row and are cropped at the end), so that every pass is one long
contiguous copy, multiply or add (1.7x faster than strided views on 32x32 planes)::

    forward       stack[c, t, n, :W] = plane[n, c, phase_t][shift_t : +W]        (a copy per tap)
                  ywide (c, m, n*W)  =  w (c, m, taps) @ stack (c, taps, n*W)   (a GEMM per c)
    weight_grad   gw[:, j, t]  =  sum over n, i of  gwide[n, :, j, i] * plane[phase_t][shift_t + i]

The forward's stack is a block's im2col, cut to about STACK_BYTES so that it is still in
cache when the GEMM reads it: a copy per tap and one product, where multiplying and adding
tap by tap took two passes and a temporary per tap (a whole stride-1 step, forward and both
gradients, 26 ms instead of 35 on one thread from this alone). With stride 1
and one output channel per input channel, the input gradient is itself a depthwise
convolution -- of g, padded by d*(k-1) - p, with the kernel flipped -- and takes
``forward`` (``_transposed``); otherwise it is made phase by phase on the phase planes laid
out channel first, a block's images end to end (``_conv_depthwise_lanes``: a tap is one long
slice for the whole block, not a row per image and channel; all the phases of a block are
one GEMM over the few shifts that the taps read g from). The
weight gradient takes the same lanes (dot products), but for a strided 2-d kernel of 9 taps
or fewer with one output channel per input channel, where it stays here: a dot product per
(image, channel) (``einsum``: no product array written and read back, 1.5-2x faster than
multiply-then-sum).

gwide is g spread onto the wide rows, zeros in the cropped columns, so they add nothing --
unless a factor is inf or NaN (0 * inf): then the strided views are used instead (``_views``
below, the same passes on ``xpad[window of tap t]``, which touch only real cells).

Every array a pass touches is cut into blocks of images and channels (``_each_block``); the
batch is split over the threads by the caller (``conv_kernels``: one part of the batch per
thread).

1-d convolutions with finite numbers take the *runs* instead (``_conv_depthwise_runs``: the
outputs cut into runs of 16, each run a window of x times a small Toeplitz matrix of the
channel's taps, a few GEMMs per block with no copy per tap).

2-d convolutions with a row stride, on batches of enough rows, take the *row chunks*
(``_conv_depthwise_rows``: each output row a few whole input rows times a matrix of the
taps, all three maps GEMMs over x read once, channels first).

Other 2-d convolutions on planes of 100 outputs or more, with finite x and w, go to
``_conv_bands`` instead: banded GEMMs, which trade the taps' passes for arithmetic. The
forward (with a stride where the row chunks do not take it), and the input gradient through
``forward`` with stride 1. (The bands' weight gradient with stride 1 took 1.4x the lanes'
time: float32, 32x64x32x32 3x3, 7.0 against 5.1 ms on one core; float64 12.2 / 10.2. A
strided input gradient phase by phase on the bands, each phase a stride-1 convolution of g
with its sub-kernel, took 1.1-2x the lanes' phases: float32, 32x128x28x28 3x3 stride 2 12.1
against 7.2 ms, 16x96x60x60 5x5 stride 3 27.6 against 13.3.)

    forward(x, w, b, geom, y)     x (N, C, *S), w (C*m, 1, *k) -> y (N, C*m, *L), written
    input_grad(g, w, geom, gx)    g (N, C*m, *L) -> gx (N, C, *S), written
    weight_grad(x, g, geom)       -> gw (C*m, 1, *k)
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from . import (_conv_bands as _bands, _conv_depthwise_blocks as _blk,
               _conv_depthwise_lanes as _lanes, _conv_depthwise_rows as _rows,
               _conv_depthwise_runs as _runs, _conv_phase_copy as _phase)
from ._util import prod as _prod, window_slices as _window_slices
from ._workspace import workspace as _workspace

# The 1-d runs (``_conv_depthwise_runs``), under names of this module, which dispatches to them
_runs_forward, _runs_input_grad, _runs_weight_grad = _runs.forward, _runs.input_grad, \
    _runs.weight_grad

# The output block of a pass holds about this many bytes. Each pass is a numpy call; smaller
# blocks stay in a faster cache but pay more calls: 32x64x32x32, stride-1 3x3 forward on one
# core, 22 ms in 64 KB blocks, 17 in 256 KB, 14 from 512 KB to 4 MB
BLOCK_BYTES = 1 << 20
# The forward's stacked taps (taps x its output block) hold about this many bytes. Smaller
# stacks mean more, shorter numpy calls, and on two threads the calls queue for the GIL:
# 32x64x32x32, stride 1, forward + both gradients, two threads, 48 ms in 1 MB stacks, 22 in
# 4 MB, 17-20 in 8 MB, 27 in 16 MB
STACK_BYTES = 8 << 20


def _taps(kernel):
    return list(itertools.product(*(range(k) for k in kernel)))


def _each_block(N, C, per_channel, size=None):
    """(n0, n1, c0, c1) of every block, in order; blocks of BLOCK_BYTES unless ``size``."""
    return _blk.each_block(N, C, per_channel, BLOCK_BYTES if size is None else size)


class Planes:
    """The phase-plane layout of a geometry (see the module docstring).

    ``Q``: a phase's extent per axis (ceil(Sp / s)); a plane is prod(Q) numbers then ``tail``
    zeros, ``size`` in all; outputs are computed on ``width`` = L0 * prod(Q[1:]) numbers;
    tap t reads phase ``phase[t]`` from ``shift[t]`` on."""

    def __init__(self, geom):
        s, Sp = geom.stride, tuple(geom.padded)
        self.geom = geom
        self._known = {}                                             # phase -> _parts
        self.Q = tuple(-(-n // k) for n, k in zip(Sp, s))
        steps = [_prod(self.Q[a + 1:]) for a in range(len(Sp))]      # numbers per step
        self.phases = list(itertools.product(*(range(k) for k in s)))
        self.phase, self.shift = [], []
        for offset in _taps(geom.kernel):
            at = [o * d for o, d in zip(offset, geom.dilation)]      # padded coordinate
            self.phase.append(self.phases.index(tuple(p % k for p, k in zip(at, s))))
            self.shift.append(sum(p // k * r for p, k, r in zip(at, s, steps)))
        self.width = geom.out_size[0] * steps[0]
        self.size = _prod(self.Q) + sum((k - 1) * d // st * r for k, d, st, r in zip(
            geom.kernel[1:], geom.dilation[1:], s[1:], steps[1:]))

    def _parts(self, phase):
        """For one phase: (its cells of x: slices of (n, c, *S), where they sit in the
        phase's plane: slices of (n, c, *Q)), worked out once (the lanes ask for them per
        block and phase, twice)."""
        known = self._known.get(phase)
        if known is None:
            known = self._known[phase] = self._slices(phase)
        return known

    def _slices(self, phase):
        of_x, of_plane = [], []
        for a, (n, (l, _), k) in enumerate(zip(self.geom.in_size, self.geom.padding,
                                               self.geom.stride)):
            first = l + (phase[a] - l) % k                   # padded coordinate of the first
            count = len(range(first, l + n, k))
            of_x.append(slice(first - l, first - l + (count - 1) * k + 1, k))
            of_plane.append(slice(first // k, first // k + count))
        lead = (slice(None), slice(None))
        return lead + tuple(of_x), lead + tuple(of_plane)

    def _grid(self, buf, p):
        """Phase p's plane of buf (n, c, phases, size), as (n, c, *Q): a view."""
        return buf[:, :, p, :_prod(self.Q)].reshape(buf.shape[:2] + self.Q)

    def planes(self, x, kind):
        """x (n, c, *S) -> (n, c, phases, size), zero-padded, in a scratch buffer."""
        xp = backend.xp_of(x)
        buf = _workspace(kind, x.shape[:2] + (len(self.phases), self.size), x.dtype, xp)
        buf.fill(0)
        _phase.copy(x, buf, self.geom, self.strides(buf.strides[:3], buf.itemsize),
                    parts=self._parts, phases=self.phases, grid=lambda p: self._grid(buf, p))
        return buf

    def strides(self, lead, itemsize):
        """The byte strides of the planes for ``_conv_phase_copy``: ``lead`` (an image's,
        a channel's, a phase's), then per axis the phase's and a place's."""
        out, s = list(lead[:2]), self.geom.stride
        for a in range(len(s)):
            out += [lead[2] * _prod(s[a + 1:]), itemsize * _prod(self.Q[a + 1:])]
        return tuple(out)

    def read(self, buf, t):
        """What tap t reads, for every wide output: (n, c, 1, width), a view of buf."""
        return buf[:, :, self.phase[t], None, self.shift[t]:self.shift[t] + self.width]

    def crop(self, wide):
        """(..., width) -> (..., *L): the outputs, a view."""
        full = wide.reshape(wide.shape[:-1] + (self.geom.out_size[0],) + self.Q[1:])
        return full[(Ellipsis,) + tuple(slice(0, n) for n in self.geom.out_size[1:])]

    def spread(self, g, kind):
        """g (n, c, m, *L) on the wide rows: (n, c, m, width), zeros in the columns cropped."""
        xp = backend.xp_of(g)
        wide = _workspace(kind, g.shape[:3] + (self.width,), g.dtype, xp)
        wide.fill(0)
        self.crop(wide)[...] = g
        return wide


def forward(x, w, b, geom, y):
    """y = x (*) w + b for a depthwise w: x (N, C, *S), w (C*m, 1, *k), b (C*m,) or None,
    written into y (N, C*m, *L). Per block: the taps' slices stacked, one GEMM per channel."""
    m = w.shape[0] // x.shape[1]
    if _rows.fits(x, geom, m) and _blk.finite(np, w) and _rows.forward(x, w, b, geom, y):
        return None                   # 2-d with a row stride: row chunks (_conv_depthwise_rows)
    if _bands.fits(x, w, geom):           # 2-d: banded GEMMs (_conv_bands)
        return _bands.forward(x, w, b, geom, y)
    if len(geom.kernel) == 1 and _runs.fits(x, w):    # 1-d: small Toeplitz GEMMs (runs)
        return _runs_forward(x, w, b, geom, y)
    xp = backend.xp_of(x)
    N, C = x.shape[:2]
    m, nd = w.shape[0] // C, len(geom.kernel)
    lay = Planes(geom)
    taps = len(lay.shift)
    wv = w.reshape(C, m, taps)                                      # (C, m, taps)
    yv = y.reshape((N, C, m) + tuple(geom.out_size))                # (N, C, m, *L)
    per_channel = max(m, taps) * lay.width * x.itemsize
    for n0, n1, c0, c1 in _each_block(N, C, per_channel, STACK_BYTES):
        n, c = n1 - n0, c1 - c0
        buf = lay.planes(x[n0:n1, c0:c1], "depthwise-x")          # (n, c, phases, size)
        by_channel = buf.transpose(1, 2, 0, 3)                     # (c, phases, n, size)
        stack = _workspace("depthwise-s", (c, taps, n, lay.width), x.dtype, xp)
        for t in range(taps):
            shift = lay.shift[t]
            stack[:, t] = by_channel[:, lay.phase[t], :, shift:shift + lay.width]
        wide = _workspace("depthwise-y", (c, m, n * lay.width), x.dtype, xp)
        xp.matmul(wv[c0:c1], stack.reshape(c, taps, -1), out=wide)   # (c, m, n*width)
        yv[n0:n1, c0:c1] = lay.crop(wide.reshape(c, m, n, lay.width).transpose(2, 0, 1, 3))
        if b is not None:
            yv[n0:n1, c0:c1] += b.reshape((C, m) + (1,) * nd)[c0:c1]
        del buf, by_channel, stack, wide   # the workspace is free again for the next block


def _transposed(geom):
    """For stride 1, the input gradient is the correlation of g, padded by d*(k-1) - p, with
    the kernel flipped: that convolution's geometry, or None where it does not apply (a
    stride, or a padding wider than the kernel's reach)."""
    reach = [d * (k - 1) for k, d in zip(geom.kernel, geom.dilation)]
    if any(s != 1 for s in geom.stride) or any(
            l > r or p > r for (l, p), r in zip(geom.padding, reach)):
        return None
    # cells past the last window (a transposed convolution's output_padding) get no gradient:
    # g's right padding reaches over them too, so the correlation still has in_size outputs
    unread = [n + l + p - r - o for n, (l, p), r, o in zip(geom.in_size, geom.padding, reach,
                                                            geom.out_size)]
    return geom._replace(padding=tuple((r - l, r - p + u) for (l, p), r, u
                                       in zip(geom.padding, reach, unread)),
                         in_size=geom.out_size, out_size=geom.in_size)


def input_grad(g, w, geom, gx):
    """The transposed depthwise convolution: g (N, C*m, *L), w (C*m, 1, *k), written into
    gx (N, C, *S). With stride 1 and m == 1, ``forward`` of g with the flipped kernel; else
    1-d on the runs; otherwise phase by phase on the lanes (``_conv_depthwise_lanes``)."""
    xp = backend.xp_of(g)
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    if not _blk.finite(xp, w):
        return _views_input_grad(g, w, geom, gx)
    turned = _transposed(geom) if m == 1 else None
    if turned is not None:             # a correlation of g with the flipped kernel
        return forward(g, _flipped(w), None, turned, gx)
    if len(geom.kernel) == 1 and _runs.fits(g, w):
        return _runs_input_grad(g, w, geom, gx)
    if _rows.fits(g, geom, m, _rows.MAX_GRAD_WIDTH) and _rows.input_grad(g, w, geom, gx):
        return gx                      # (False: g not finite, gx to be made again)
    return _lanes.input_grad(g, w, geom, gx, Planes(geom))


def _flipped(w):
    """w (C, 1, *k) turned by 180 degrees, contiguous."""
    return backend.xp_of(w).ascontiguousarray(
        w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)])


def weight_grad(x, g, geom):
    """The gradient of <g, x (*) w> in a depthwise w: x (N, C, *S), g (N, C*m, *L) ->
    gw (C*m, 1, *k): per tap, the products of g with what the tap reads of x, summed over
    the images and positions."""
    xp = backend.xp_of(x)
    if len(geom.kernel) == 1 and _runs.fits(x, g):
        return _runs_weight_grad(x, g, geom)
    m = g.shape[1] // x.shape[1]
    gw = _rows.weight_grad(x, g, geom) if _rows.fits(x, geom, m, _rows.MAX_GRAD_WIDTH) else \
        _layout_weight_grad(x, g, geom)
    # The lanes and planes also multiply x's cells that no window reads (the cropped columns)
    # by g's zeros: an inf or NaN there is a NaN that torch's windows do not make. Every cell
    # they read lands in some tap's sum, so a finite gw means every one was finite and gw is
    # exact; only then is it kept (a check of gw, not a pass over x: float32 32x128x28x28
    # stride 2, 0.5 of the 6 ms weight gradient)
    if not _blk.finite(xp, gw):
        return _views_weight_grad(x, g, geom)
    return gw


def _layout_weight_grad(x, g, geom):
    """``weight_grad`` on the lanes, or for a strided 2-d kernel of 9 taps or fewer with one
    output channel per input channel, a dot product per (image, channel) on the planes."""
    xp = backend.xp_of(x)
    N, C = x.shape[:2]
    m = g.shape[1] // C
    lay = Planes(geom)
    if m > 1 or len(geom.kernel) != 2 or geom.stride == (1,) * len(geom.stride) or \
            len(lay.shift) > 9:
        return _lanes.weight_grad(x, g, geom, lay)
    # 2-d, strided, one output channel per input channel, 9 taps or fewer: the lanes' copy
    # of x to channels first cost about what their sums saved (float32, one core,
    # 32x128x28x28 3x3 stride 2: 6.6 ms here against 7.3 on the lanes, alternating
    # processes; 10.3 / 10.9 in float64). With more taps the lanes' GEMVs win (5x5 stride 3
    # on 16x64x30x30, float64: 6.0 -> 3.8; 5x5 stride 2 on 16x96x56x56, float32: 16.5 -> 11.5)
    gv = g.reshape((N, C, m) + tuple(geom.out_size))
    gw = xp.zeros((C, m, len(lay.shift)), dtype=x.dtype)
    for n0, n1, c0, c1 in _each_block(N, C, m * lay.width * x.itemsize):
        buf = lay.planes(x[n0:n1, c0:c1], "depthwise-x")          # (n, c, phases, size)
        wide = lay.spread(gv[n0:n1, c0:c1], "depthwise-y")        # (n, c, m, width)
        for t in range(len(lay.shift)):              # a dot product per (image, channel)
            gw[c0:c1, :, t] += xp.einsum("ncji,nci->cj", wide, lay.read(buf, t)[:, :, 0])
        del buf, wide                  # the workspace is free again for the next block
    return gw.reshape((C * m, 1) + tuple(geom.kernel))


# ----------------------------------------------------------------------------------------------
# The same passes on strided views of the padded x: for an inf or NaN factor, which the
# phase planes' zero columns would turn into NaNs (0 * inf) where no window reads
# ----------------------------------------------------------------------------------------------
def _padded(x, pads):
    """x (n, c, *S) zero-padded into a scratch (n, c, *Sp)."""
    xp = backend.xp_of(x)
    out = _workspace("depthwise-x", x.shape[:2] + tuple(s + l + r for s, (l, r) in
                                                       zip(x.shape[2:], pads)), x.dtype, xp)
    out.fill(0)
    out[(slice(None), slice(None)) + tuple(slice(l, l + s) for s, (l, _) in
                                           zip(x.shape[2:], pads))] = x
    return out


def _window(geom, offset):
    """Tap ``offset``'s view of a padded (n, c, *Sp): slices of (n, c, 1, *L)."""
    return (slice(None), slice(None), None) + _window_slices(offset, geom.stride,
                                                              geom.dilation, geom.out_size)


def _views_input_grad(g, w, geom, gx):
    xp = backend.xp_of(g)
    N, C = gx.shape[:2]
    m, nd = w.shape[0] // C, len(geom.kernel)
    wv = w.reshape((C, m) + tuple(geom.kernel))
    gv = g.reshape((N, C, m) + tuple(geom.out_size))
    inner = tuple(slice(l, l + s) for s, (l, _) in zip(geom.in_size, geom.padding))
    gpad = xp.zeros((N, C) + tuple(geom.padded), dtype=g.dtype)
    for offset in _taps(geom.kernel):
        terms = gv * wv[(slice(None), slice(None)) + offset + (None,) * nd]   # (N, C, m, *L)
        gpad[_window(geom, offset)] += terms.sum(axis=2, keepdims=True)
    gx[...] = gpad[(slice(None), slice(None)) + inner]


def _views_weight_grad(x, g, geom):
    xp = backend.xp_of(x)
    N, C = x.shape[:2]
    m, nd = g.shape[1] // C, len(geom.kernel)
    gv = g.reshape((N, C, m) + tuple(geom.out_size))
    xpad = _padded(x, geom.padding)
    taps = _taps(geom.kernel)
    gw = xp.empty((C, m, len(taps)), dtype=x.dtype)
    for t, offset in enumerate(taps):
        gw[:, :, t] = (gv * xpad[_window(geom, offset)]).sum(axis=(0,) + tuple(range(3, 3 + nd)))
    return gw.reshape((C * m, 1) + tuple(geom.kernel))
