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

Every array a pass touches is cut into blocks of images and channels (``_blocks``); the batch
is split over the threads by the caller (``conv_kernels``: one part of the batch per thread).

1-d convolutions with finite numbers take the *runs* instead (``Runs`` below): the outputs
cut into runs of 16, each run a window of x times a small Toeplitz matrix of the channel's
taps, so that all three maps are a few GEMMs per block with no copy per tap (float32, one
core, forward and both gradients of 16x128x1000: k9 stride 1 17.6 -> 9.8 ms, k3 stride 2
8.7 -> 8.1, k31 25 -> 8.6).

2-d convolutions on planes of 100 outputs or more, with finite x and w, go to ``_conv_bands``
instead: banded GEMMs, which trade the taps' passes for arithmetic. The forward with any
stride, and the input gradient through ``forward`` with stride 1. (The bands' weight gradient
with stride 1 took 1.4x the lanes' time: float32, 32x64x32x32 3x3, 7.0 against 5.1 ms on one
core; float64 12.2 / 10.2. A strided input gradient phase by phase on the bands, each phase a
stride-1 convolution of g with its sub-kernel, took 1.1-2x the lanes' phases: float32,
32x128x28x28 3x3 stride 2 12.1 against 7.2 ms, 16x96x60x60 5x5 stride 3 27.6 against 13.3.)

    forward(x, w, b, geom, y)     x (N, C, *S), w (C*m, 1, *k) -> y (N, C*m, *L), written
    input_grad(g, w, geom, gx)    g (N, C*m, *L) -> gx (N, C, *S), written
    weight_grad(x, g, geom)       -> gw (C*m, 1, *k)
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from . import _conv_bands as _bands, _conv_depthwise_lanes as _lanes, _conv_phase_copy as _phase
from ._util import prod as _prod, window_slices as _window_slices
from ._workspace import workspace as _workspace

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


def _blocks(n, C, per_channel, size):
    """(images, channels) per block: ``per_channel`` bytes per image and channel, about
    ``size`` bytes a block -- whole images where one fits, else part of one image's channels."""
    per_image = C * per_channel
    if per_image >= size:
        return 1, max(1, size // max(per_channel, 1))
    return max(1, min(n, size // max(per_image, 1))), C


def _each_block(N, C, per_channel, size=None):
    """(n0, n1, c0, c1) of every block, in order; blocks of BLOCK_BYTES unless ``size``."""
    bn, bc = _blocks(N, C, per_channel, BLOCK_BYTES if size is None else size)
    for n0 in range(0, N, bn):
        for c0 in range(0, C, bc):
            yield n0, min(N, n0 + bn), c0, min(C, c0 + bc)


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


def _finite(xp, a):
    return bool(xp.isfinite(a.sum()))


def forward(x, w, b, geom, y):
    """y = x (*) w + b for a depthwise w: x (N, C, *S), w (C*m, 1, *k), b (C*m,) or None,
    written into y (N, C*m, *L). Per block: the taps' slices stacked, one GEMM per channel."""
    if _bands.fits(x, w, geom):           # 2-d: banded GEMMs (_conv_bands)
        return _bands.forward(x, w, b, geom, y)
    if len(geom.kernel) == 1 and _runs_fit(x, w):    # 1-d: small Toeplitz GEMMs (runs)
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
    if not _finite(xp, w):
        return _views_input_grad(g, w, geom, gx)
    turned = _transposed(geom) if m == 1 else None
    if turned is not None:             # a correlation of g with the flipped kernel
        return forward(g, _flipped(w), None, turned, gx)
    if len(geom.kernel) == 1 and _runs_fit(g, w):
        return _runs_input_grad(g, w, geom, gx)
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
    if len(geom.kernel) == 1 and _runs_fit(x, g):
        return _runs_weight_grad(x, g, geom)
    gw = _layout_weight_grad(x, g, geom)
    # The lanes and planes also multiply x's cells that no window reads (the cropped columns)
    # by g's zeros: an inf or NaN there is a NaN that torch's windows do not make. Every cell
    # they read lands in some tap's sum, so a finite gw means every one was finite and gw is
    # exact; only then is it kept (a check of gw, not a pass over x: float32 32x128x28x28
    # stride 2, 0.5 of the 6 ms weight gradient)
    if not _finite(xp, gw):
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
# 1-d: runs of outputs as small Toeplitz GEMMs
# ----------------------------------------------------------------------------------------------
# Outputs per run. A run of B outputs reads a window of K = s (B - 1) + d (k - 1) + 1 inputs,
# and its GEMM spends about K multiply-adds per output where the taps need k: more outputs a
# run waste more arithmetic, fewer make the products too thin to run at speed (float32, one
# core, forward and both gradients of 16x128x1000: k9 stride 1, B = 8 10.5 ms, 16 9.9, 32
# 12.4; k3 stride 2, 8.1 / 8.8 / 11.2)
RUN = 16
# The runs' blocks hold about this many bytes of scratch (k3 stride 1 forward of
# 16x128x1000: 1 MB blocks 3.2 ms, 4 MB 2.6: fewer, longer calls)
RUN_BYTES = 4 << 20


def _runs_fit(a, b):
    """Whether the runs apply: numpy floats, and a and b finite (a zero of the Toeplitz
    matrix or of the padding times an inf would be a NaN that no tap makes)."""
    return (type(a) is np.ndarray and a.dtype.kind == "f" and _finite(np, a) and
            _finite(np, b))


class Runs:
    """The run layout of a 1-d depthwise geometry for a channel multiplier m.

    The outputs of an image and channel are cut into runs of ``B``; run j reads the window
    xpad[j*step : j*step + K] (step = s B), and its outputs are that window times the
    channel's Toeplitz matrix T (K, m*B), T[s r + t d, (i, r)] = w[c*m + i, t] (else 0).

    A window is ``pieces`` steps of xpad, and xpad is a channel's images end to end, ``per``
    runs of cells each (at least the padded length, so that a real output's window stays in
    its image): so piece q of every window of a block is one matrix, the block's xpad from
    q*step on, as (n*per, step) -- a view, no window copied::

        X (c, n*per*step + tail)     the block's padded images, channels first
        Y (c, n*per, m*B)  =  sum over pieces q of  X[:, q*step:][as (n*per, step)] @ T_q

    with T_q = T's rows q*step .. + step (the last piece: what is left of K, a narrower
    view of X's steps; ``reached`` names the columns it can touch). The input gradient runs the
    same products backwards: G @ T_q^T, added onto X from q*step on; the weight gradient
    X_q^T @ G gives T_q's entries, whose diagonals (s r + t d, r) are the taps' sums. The
    rows past an image's outputs (G's zeros there) read or write the next image's cells
    only through T's zeros."""

    def __init__(self, geom, m):
        (self.k,), (self.s,), (self.d,) = geom.kernel, geom.stride, geom.dilation
        ((self.left, _),) = geom.padding
        (self.L,), (self.Lo,), (Sp,) = geom.in_size, geom.out_size, geom.padded
        self.m = m
        self.B = min(RUN, self.Lo)
        self.runs = -(-self.Lo // self.B)
        self.step = self.s * self.B
        self.K = self.s * (self.B - 1) + self.d * (self.k - 1) + 1
        self.pieces = -(-self.K // self.step)
        self.per = max(self.runs, -(-Sp // self.step))

    def per_channel(self, itemsize):
        """Bytes of a block's scratch per image and channel."""
        return self.per * (self.step + 2 * self.m * self.B) * itemsize

    def toeplitz(self, w):
        """w (C*m, 1, k) -> T (C, K, m*B)."""
        C = w.shape[0] // self.m
        T = np.zeros((C, self.K, self.m, self.B), dtype=w.dtype)
        r = np.arange(self.B)
        taps = w.reshape(C, self.m, self.k)
        for t in range(self.k):                  # (B, C, m): tap t on every run position r
            T[:, self.s * r + t * self.d, :, r] = taps[:, :, t]
        return T.reshape(C, self.K, self.m * self.B)

    def padded(self, n, c, dtype):
        """A scratch X (c, n*per*step + tail), and its images (c, n, per*step): a view."""
        rows = n * self.per * self.step
        X = _workspace("runs-x", (c, rows + (self.pieces - 1) * self.step), dtype, np)
        return X, X[:, :rows].reshape(c, n, self.per * self.step)

    def spread(self, x):
        """x (n, c, L) -> X, zero-padded (see ``padded``)."""
        n, c = x.shape[:2]
        X, images = self.padded(n, c, x.dtype)
        images[:, :, :self.left] = 0
        images[:, :, self.left + self.L:] = 0
        images[:, :, self.left:self.left + self.L] = x.transpose(1, 0, 2)
        X[:, images.shape[1] * images.shape[2]:] = 0
        return X

    def grid(self, X, q):
        """X from q*step on, as (c, n*per, step): a view."""
        rows = X.shape[1] // self.step - self.pieces + 1
        return X[:, q * self.step:(q + rows) * self.step].reshape(X.shape[0], rows, self.step)

    def piece(self, X, q):
        """Piece q of every window: (c, n*per, width), a view (width: step, or what is left
        of K for the last piece)."""
        return self.grid(X, q)[:, :, :self.K - q * self.step]

    def rows(self, T, q):
        """T's rows that piece q multiplies."""
        return T[:, q * self.step:(q + 1) * self.step]

    def reached(self, q):
        """The columns (of m*B) that piece q's rows of T reach, where that is a run's last
        output alone (one output channel a channel, a piece one cell wide: k3 stride 2),
        else all. A product one cell deep over all the columns took twice piece 0's time;
        adding into 2-8 columns of each row, 3x the time of all 16."""
        if self.m == 1 and q > 0 and \
                self.s * (self.B - 2) + self.d * (self.k - 1) < q * self.step:
            return slice(self.B - 1, None)
        return slice(None)

    def _by_run(self, a):
        """a (n, c*m, Lo) as (n, c, m, Lo), and its full runs (n, c, m, runs', B): views."""
        n, c = a.shape[0], a.shape[1] // self.m
        flat = a.reshape(n, c, self.m, self.Lo)
        full = self.Lo // self.B
        return flat, flat[..., :full * self.B].reshape(n, c, self.m, full, self.B), full

    def gather(self, g):
        """g (n, c*m, Lo) -> G (c, n*per, m*B), zeros past the last output."""
        n, c = g.shape[0], g.shape[1] // self.m
        G = _workspace("runs-y", (c, n * self.per, self.m * self.B), g.dtype, np)
        into = G.reshape(c, n, self.per, self.m, self.B).transpose(1, 0, 3, 2, 4)
        flat, runs, full = self._by_run(g)
        into[:, :, :, :full] = runs
        into[:, :, :, full:] = 0
        if full < self.runs:                     # the last run, part outputs, part zeros
            into[:, :, :, full, :self.Lo - full * self.B] = flat[..., full * self.B:]
        return G

    def scatter(self, Y, out):
        """The inverse of ``gather``: out (n, c*m, Lo) = Y's outputs (the rest dropped)."""
        n, c = out.shape[0], out.shape[1] // self.m
        src = Y.reshape(c, n, self.per, self.m, self.B).transpose(1, 0, 3, 2, 4)
        flat, runs, full = self._by_run(out)
        runs[...] = src[:, :, :, :full]
        if full < self.runs:
            flat[..., full * self.B:] = src[:, :, :, full, :self.Lo - full * self.B]


def _runs_forward(x, w, b, geom, y):
    """``forward`` of a 1-d geometry on the runs: Y = sum of X_q @ T_q per block."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    lay = Runs(geom, m)
    T = lay.toeplitz(w)
    for n0, n1, c0, c1 in _each_block(N, C, lay.per_channel(x.itemsize), RUN_BYTES):
        n, c = n1 - n0, c1 - c0
        X = lay.spread(x[n0:n1, c0:c1])
        Y = _workspace("runs-y", (c, n * lay.per, m * lay.B), x.dtype, np)
        np.matmul(lay.piece(X, 0), lay.rows(T[c0:c1], 0), out=Y)
        part = None
        for q in range(1, lay.pieces):
            cols = lay.reached(q)
            T_q = lay.rows(T[c0:c1], q)[:, :, cols]
            part = _workspace("runs-p", Y.shape[:2] + T_q.shape[2:], x.dtype, np)
            Y[:, :, cols] += np.matmul(lay.piece(X, q), T_q, out=part)
        out = y[n0:n1, c0 * m:c1 * m]
        lay.scatter(Y, out)
        if b is not None:
            out += b[c0 * m:c1 * m, None]
        del X, Y, part                 # the workspace is free again for the next block


def _runs_input_grad(g, w, geom, gx):
    """``input_grad`` of a 1-d geometry on the runs: per block and piece q, G @ T_q^T
    added onto X from q*step on (piece 0 writes every cell of the images, but those past
    a window shorter than the step: no fill)."""
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    lay = Runs(geom, m)
    T = lay.toeplitz(w)
    for n0, n1, c0, c1 in _each_block(N, C, lay.per_channel(g.itemsize), RUN_BYTES):
        n, c = n1 - n0, c1 - c0
        G = lay.gather(g[n0:n1, c0 * m:c1 * m])                    # (c, n*per, m*B)
        X, images = lay.padded(n, c, g.dtype)
        X[:, images.shape[1] * images.shape[2]:] = 0
        part = None
        np.matmul(G, lay.rows(T[c0:c1], 0).swapaxes(1, 2), out=lay.piece(X, 0))  # all rows
        lay.grid(X, 0)[:, :, lay.K:] = 0   # a window shorter than a step: cells none reads
        for q in range(1, lay.pieces):
            cols = lay.reached(q)
            T_q = lay.rows(T[c0:c1], q).swapaxes(1, 2)[:, cols]
            part = _workspace("runs-p", G.shape[:2] + T_q.shape[2:], g.dtype, np)
            lay.piece(X, q)[...] += np.matmul(G[:, :, cols], T_q, out=part)
        gx[n0:n1, c0:c1] = images[:, :, lay.left:lay.left + lay.L].transpose(1, 0, 2)
        del G, X, images, part         # the workspace is free again for the next block


def _runs_weight_grad(x, g, geom):
    """``weight_grad`` of a 1-d geometry on the runs: P = X_q^T @ G summed over the
    blocks, whose diagonals (s r + t d, r) hold tap t's products."""
    N, C = x.shape[:2]
    m = g.shape[1] // C
    lay = Runs(geom, m)
    P = np.zeros((C, lay.K, m * lay.B), dtype=x.dtype)
    for n0, n1, c0, c1 in _each_block(N, C, lay.per_channel(x.itemsize), RUN_BYTES):
        X = lay.spread(x[n0:n1, c0:c1])
        G = lay.gather(g[n0:n1, c0 * m:c1 * m])                    # (c, n*per, m*B)
        for q in range(lay.pieces):
            cols = lay.reached(q)
            lay.rows(P[c0:c1], q)[:, :, cols] += np.matmul(
                lay.piece(X, q).swapaxes(1, 2), G[:, :, cols])
        del X, G                       # the workspace is free again for the next block
    r = np.arange(lay.B)
    P = P.reshape(C, -1, m, lay.B)
    gw = np.stack([P[:, lay.s * r + t * lay.d, :, r].sum(axis=0) for t in range(lay.k)],
                  axis=-1)                                         # (C, m, k)
    return gw.reshape(C * m, 1, lay.k)


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
