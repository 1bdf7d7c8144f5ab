"""The gradients of a depthwise convolution on *lanes*: the phase planes of
``_conv_depthwise.Planes`` laid out channel first, a block's images end to end, so that a
tap is one long contiguous slice.

``Planes`` keeps a plane per (image, channel, phase): a tap's pass over a block runs numpy's
inner loop once per image and channel, on a row of a few hundred numbers, and the weight
gradient's per-tap sums are an ``einsum`` over (image, position) per channel. Here one
channel's plane of one phase holds the block's n images one after the other, ``size``
numbers apart (a *lane* of n * size numbers)::

    lane[c, phase, k * size + u]  =  number u of image k's plane (channel c, that phase)

Tap t reads its phase from ``shift_t`` on, for every wide output of the whole block at once
(``count`` = (n - 1) size + width numbers): image k's outputs are the ``width`` numbers from
k * size on; those between are zeros in g spread onto the lanes (``spread``), so they add
nothing::

    input_grad    glane[c, p][u] =  sum over the taps t of phase p of  w[c, t] gwide[c][u - shift_t]
    weight_grad   gw[c*m + j, t] =  gwide[c, j] . lane[c, phase_t][shift_t:]    (a dot a tap)

The input gradient is thus the phase decomposition of the transposed convolution (each phase
of x a stride-1 correlation of g with that phase's taps); the phases' taps read g from a few
shared shifts, so that all the lanes of a block are one GEMM over a stack of those shifted
slices of g, every number of the lanes written once (``input_grad``). (The figures below for
the input gradient are of the GEMV per phase that came before: see ``input_grad`` for the
GEMM's.) The weight gradient is the dot products of whole lanes, a
phase's taps in one matrix product (``_grid_dots``: numpy holds the interpreter lock through
a dot, not through a larger product). Blocks of channels (``LANE_BYTES``) keep a
block's lanes in cache between the passes. On one core, float32 (float64), against the
passes per tap on ``Planes``, the bands, or the phases on the bands they replace: weight
gradient of 32x64x32x32 3x3 stride 1 7.0 -> 5.1 ms (12.2 -> 10.2), of 8x32x16^3 stride 1
10.3 -> 6.5; input gradient of 32x128x28x28 3x3 stride 2 12.1 -> 7.2 (on a loaded machine;
12.9 -> 11.4 in float64), of 16x96x60x60 5x5 stride 3 27.6 -> 13.3, of 8x32x16^3 stride 2
3.9 -> 3.3 (7.7 -> 5.7), of 16x64x28x28 stride 2 with m = 2 3.7 -> 1.7 (6.1 -> 3.8).

x goes into the lanes' grids straight from its (image, channel) layout, all phases in a few
copies (``_conv_phase_copy``; a copy per phase, at the stride and transposed, ran 3x slower
than a channels-first copy of x and the phases from it, 32x128x28x28: 6 ms against 2; the
few copies straight from x beat both, see ``Lanes._copy``).
The lanes' forward (a multiply and an add per tap) ran 1.1-1.3x slower than ``Planes``'
stacked taps and the bands, and is not kept.

Every product with a lane's zeros (padding, the dropped columns) is a real zero only for
finite numbers: the caller checks w first (input gradient), and keeps a weight gradient
only when it is finite (else it is made again on strided views).

    input_grad(g, w, geom, gx, lay)    g (N, C*m, *L) -> gx (N, C, *S), written
    weight_grad(x, g, geom, lay)       x (N, C, *S) -> gw (C*m, 1, *k)
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend, parallel
from . import _conv_phase_copy as _phase
from ._util import prod as _prod
from ._workspace import workspace as _workspace

# A block's lanes (every phase of its channels) hold about this many bytes: float32,
# 32x128x28x28 stride 2, input gradient on one core, 6.1 ms in 2 MB blocks, 10 with all 128
# channels at once (15 MB)
LANE_BYTES = 2 << 20
# The weight gradient's blocks are this many times LANE_BYTES: each block is some twenty
# numpy calls, and on two threads the threads took turns through the interpreter lock
# between them. Float32 32x64x32x32 3x3 stride 1 (each thread's 16 images: 64 channels of
# 0.2 MB), medians under a real-time priority on 2 cores, one thread / two threads: 2 MB
# blocks 5.2 / 5.4 ms, 4 MB 5.2 / 4.1, 8 MB 5.1 / 3.1, 16 MB 5.0 / 2.9, 64 MB 5.1 / 3.2
# (0.25 MB: 9.7 / 24.8)
WEIGHT_SCALE = 8
# With several threads set, the input gradient's blocks are this many times LANE_BYTES: on
# one thread its smaller blocks stay in cache (float32, ms with 2 / 4 / 8 / 16 MB blocks:
# 16x64x28x28 m = 2 4.8 / 5.9 / 7.4 / 8.0; 16x32x96x96 stride 2 7.0 / 6.5 / 7.4 / 7.9;
# 16x96x56x56 5x5 stride 2 10.3 / 10.3 / 10.7 / 12.1), on two the threads' turns through
# the interpreter lock between the more, shorter numpy calls cost more (4.9 / 4.1 / 4.1 /
# 4.2; 6.8 / 5.4 / 4.4 / 4.1; 13.5 / 9.9 / 7.2 / 6.4; and 8x32x56x56 m = 4 7.1 / 5.3 / 5.5
# / 5.5, where one thread took 6.2 in 2 MB blocks)
THREADED_SCALE = 4


class Lanes:
    """The lanes of ``lay`` (a ``_conv_depthwise.Planes``) for a block of ``n`` images."""

    def __init__(self, lay, n):
        self.lay, self.n = lay, n
        self.phases = len(lay.phases)
        self.span = n * lay.size                           # numbers a lane
        self.count = (n - 1) * lay.size + lay.width        # wide outputs computed

    def read(self, lanes, t):
        """What tap t reads for every wide output: (c, count), a view of lanes."""
        shift = self.lay.shift[t]
        return lanes[:, self.lay.phase[t], shift:shift + self.count]

    def _grid(self, lanes, p):
        """Phase p of lanes (c, phases, span) as (c, n, *Q): a view."""
        lay = self.lay
        c = lanes.shape[0]
        per = lanes[:, p].reshape(c, self.n, lay.size)[:, :, :_prod(lay.Q)]
        return per.reshape((c, self.n) + lay.Q)

    def planes(self, x, kind):
        """x (n, c, *S) -> lanes (c, phases, span), zero-padded, in a scratch buffer: x's
        cells go straight into the lanes' grids, (n, c) read in x's order and written in the
        lanes' (``_copy``)."""
        xp = backend.xp_of(x)
        n, c = x.shape[:2]
        lanes = _workspace(kind, (c, self.phases, self.span), x.dtype, xp)
        lanes.fill(0)
        self._copy(x, lanes)
        return lanes

    def _copy(self, x, lanes):
        """x (n, c, *S) into the lanes, the phases in a few copies (``_conv_phase_copy``):
        the lanes' strides for an image and a channel are handed over in x's order, so that
        no channels-first copy of x comes first. (With a stride, the copies run a few numbers
        a row anyway, and reading x's (n, c) in place cost nothing more: float32,
        16x128x28x28 3x3 stride 2, weight gradient on one core, 3.5 -> 2.9 ms against a
        channels-first scratch and its copy.)"""
        lay = self.lay
        it = lanes.itemsize
        _phase.copy(x, lanes, lay.geom,
                    lay.strides((lay.size * it, lanes.strides[0], lanes.strides[1]), it),
                    lay._parts, lay.phases, lambda p: self._grid(lanes, p).swapaxes(0, 1))

    def unplane(self, lanes, out):
        """The inverse of ``planes``: out (n, c, *S) = x's cells of lanes, a copy per phase.

        With a stride of 2 or less along the last axis, straight into out at the stride,
        transposed: the input gradient of 16x128x28x28, 3x3 stride 2, 2.76 -> 2.50 ms in
        float32 (5.20 -> 4.90 in float64; 3-d 4x32x16^3 stride 2, and 8x64x28x28 with a
        multiplier of 2, 4-9% less) against a channels-first scratch and its copy into out.
        With stride 3 the scratch stays (8x96x60x60, 5x5: 6.3 ms against 6.6)."""
        xp = backend.xp_of(out)
        n, c = out.shape[:2]
        direct = self.lay.geom.stride[-1] <= 2
        first = out.swapaxes(0, 1) if direct else \
            _workspace("lanes-t", (c, n) + out.shape[2:], out.dtype, xp)
        for p, phase in enumerate(self.lay.phases):   # (one copy: 1.3-1.7x slower,
            of_x, of_plane = self.lay._parts(phase)    # writing at the stride)
            first[of_x] = self._grid(lanes, p)[of_plane]
        if not direct:
            out[...] = first.swapaxes(0, 1)

    def spread(self, g, m, kind, before=0):
        """g (n, c*m, *L) -> (c, m, before + span): ``before`` zeros, then image k's outputs
        on its wide rows from k * size on, zeros in every other number."""
        xp = backend.xp_of(g)
        n, c = g.shape[0], g.shape[1] // m
        lay = self.lay
        out = _workspace(kind, (c, m, before + self.span), g.dtype, xp)
        out.fill(0)
        rows = out[:, :, before:].reshape(c, m, n, lay.size)[..., :lay.width]
        nd = g.ndim - 2
        lay.crop(rows)[...] = g.reshape((n, c, m) + g.shape[2:]).transpose(
            (1, 2, 0) + tuple(range(3, 3 + nd)))
        return out


def _each_block(N, C, per_image_channel, size=None):
    """(n0, n1, c0, c1) of every block: all images and a few channels, ``size`` bytes
    (unless given, LANE_BYTES, times THREADED_SCALE with several threads set) a block, or one channel and some of the images where a
    channel's lanes are larger; the blocks as nearly of one size as their count allows
    (``_even``)."""
    if size is None:
        size = LANE_BYTES * (THREADED_SCALE if parallel.get_num_threads() > 1 else 1)
    per_channel = N * per_image_channel
    if per_channel <= size:
        bn, bc = N, _even(C, max(1, size // max(per_channel, 1)))
    else:
        bn, bc = _even(N, max(1, size // max(per_image_channel, 1))), 1
    for c0 in range(0, C, bc):
        for n0 in range(0, N, bn):
            yield n0, min(N, n0 + bn), c0, min(C, c0 + bc)


def _even(n, most):
    """The smallest block size that cuts n into as few blocks as ``most`` does (at most
    ``most``): the blocks as nearly one size as one size for all but the last allows."""
    return -(-n // -(-n // most))


def _shifts(lay, w, m):
    """The distinct shifts of the taps (sorted), and w as the matrix (C, phases, m U) of
    ``input_grad``: entry (c, p, j U + u) the sum of the taps of output channel c m + j that
    read phase p from the u-th distinct shift (zero where none does)."""
    xp = backend.xp_of(w)
    C = w.shape[0] // m
    distinct = sorted(set(lay.shift))
    wv = w.reshape(C, m, -1)
    mat = xp.zeros((C, len(lay.phases), m, len(distinct)), dtype=w.dtype)
    for t, (p, shift) in enumerate(zip(lay.phase, lay.shift)):
        mat[:, p, :, distinct.index(shift)] += wv[:, :, t]
    return distinct, mat.reshape(C, len(lay.phases), -1)


def input_grad(g, w, geom, gx, lay):
    """gx, per block: every phase's lane made whole from g's slices in one GEMM, then the
    lanes' cells of x copied out. A phase's lane gathers::

        glane[c, p][u]  =  sum over the taps t of phase p, the multiplier's j of
                           w[c m + j, t] * gwide[c, j][u - shift_t]

    and the taps of different phases read g from the same few shifts (3x3 stride 2: 9 taps,
    4 phases, 4 distinct shifts 0, 1, Q, Q + 1; 5x5 stride 2: 25 taps, 9 shifts), so all the
    lanes of a block are combinations of the same m U slices of gwide::

        glane (c, phases, span)  =  W (c, phases, m U) @ stack (c, m U, span)

    stack holding gwide's output channels from u - shift on for each distinct shift (``_shifts``
    makes W, zeros where a phase has no tap at a shift): U copies and one product, each lane
    number written once. This replaced a stack and a GEMV per phase (a copy per tap), and
    with a channel multiplier a GEMV and an add per tap: float32 on one core, input gradient
    of 32x128x28x28 3x3 stride 2 8.1 -> 6.0 ms, 16x96x56x56 5x5 stride 2 19.7 -> 10.3,
    16x96x60x60 5x5 stride 3 14.6 -> 9.7, 16x64x28x28 stride 2 with m = 2 2.2 -> 1.7, 1x256x56x56
    stride 2 2.1 -> 1.2.

    Where no two taps share a shift (stride 1, or a dilation that puts every tap in one
    phase) the GEMM would copy a slice per tap anyway, and its stack of m slices a tap ran
    1.1-2x slower (16x64x28x28 with m = 2, 5.4 -> 6.5 ms; 8x32x28x28 5x5 with m = 4, 4.2 ->
    8.1): there each phase's lane is a GEMV of its taps (``_input_grad_by_phase``), or with
    a multiplier m each tap's GEMV over it added onto its slice (``_input_grad_by_taps``).

    W's zeros times an inf or NaN of g would be NaNs that no tap makes: a block whose g is
    not finite takes ``_block_by_taps`` instead."""
    xp = backend.xp_of(g)
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    if len(set(lay.shift)) == len(lay.shift):
        return (_input_grad_by_taps if m > 1 else _input_grad_by_phase)(g, w, gx, lay)
    distinct, mat = _shifts(lay, w, m)
    U, top = len(distinct), max(distinct)
    per = (len(lay.phases) + m * U + m) * lay.size * g.itemsize
    for n0, n1, c0, c1 in _each_block(N, C, per):
        n, c = n1 - n0, c1 - c0
        lanes = Lanes(lay, n)
        span = lanes.span
        padded = lanes.spread(g[n0:n1, c0 * m:c1 * m], m, "lanes-y", before=top)
        buf = _workspace("lanes-x", (c, lanes.phases, span), g.dtype, xp)
        if bool(xp.isfinite(padded.sum())):       # (in cache: just written)
            stack = _workspace("lanes-p", (c, m, U, span), g.dtype, xp)
            for u, shift in enumerate(distinct):
                stack[:, :, u] = padded[:, :, top - shift:top - shift + span]
            xp.matmul(mat[c0:c1], stack.reshape(c, m * U, span), out=buf)
        else:
            stack = None
            _block_by_taps(lanes, w.reshape(C, m, -1)[c0:c1],
                           padded[:, :, top:top + lanes.count], buf)
        lanes.unplane(buf, gx[n0:n1, c0:c1])
        del padded, buf, stack         # the workspace is free again for the next block
    return gx


def _input_grad_by_phase(g, w, gx, lay):
    """``input_grad`` with one output channel per input channel and no shift shared: per
    phase, one GEMV of its taps over a stack of g's shifted slices (a multiply for a phase
    of one tap), each lane number written once."""
    xp = backend.xp_of(g)
    N, C = gx.shape[:2]
    wv = w.reshape(C, -1)
    phases = [[t for t in range(len(lay.shift)) if lay.phase[t] == p]
              for p in range(len(lay.phases))]
    top = max(lay.shift)               # zeros before g: u - shift_t < 0 reads them
    # each phase's taps, (C, 1, taps) contiguous: a row of w picked at the taps is numbers
    # C apart, which numpy's product would copy (or take element by element) every block
    by_phase = [xp.ascontiguousarray(wv[:, None, taps]) for taps in phases]
    per = (2 * len(phases) + 2) * lay.size * g.itemsize
    for n0, n1, c0, c1 in _each_block(N, C, per):
        n, c = n1 - n0, c1 - c0
        lanes = Lanes(lay, n)
        span = lanes.span
        padded = lanes.spread(g[n0:n1, c0:c1], 1, "lanes-y", before=top)[:, 0]
        buf = _workspace("lanes-x", (c, lanes.phases, span), g.dtype, xp)
        stack = None
        for p, taps in enumerate(phases):
            reads = [padded[:, top - lay.shift[t]:top - lay.shift[t] + span] for t in taps]
            if len(taps) <= 1:         # a phase no tap reads gets zeros
                if taps:
                    xp.multiply(reads[0], wv[c0:c1, taps[0], None], out=buf[:, p])
                else:
                    buf[:, p] = 0
                continue
            stack = _workspace("lanes-p", (c, len(taps), span), g.dtype, xp)
            for i, read in enumerate(reads):
                stack[:, i] = read
            xp.matmul(by_phase[p][c0:c1], stack, out=buf[:, p:p + 1])
        lanes.unplane(buf, gx[n0:n1, c0:c1])
        del padded, buf, stack, reads  # the workspace is free again for the next block
    return gx


def _input_grad_by_taps(g, w, gx, lay):
    """``input_grad`` with a channel multiplier m and no shift shared: per block, every
    tap's GEMV over the multiplier added onto its slice (``_block_by_taps``)."""
    xp = backend.xp_of(g)
    N, C = gx.shape[:2]
    m = w.shape[0] // C
    wv = w.reshape(C, m, -1)
    per = (2 * len(lay.phases) + m + 1) * lay.size * g.itemsize
    for n0, n1, c0, c1 in _each_block(N, C, per):
        lanes = Lanes(lay, n1 - n0)
        wide = lanes.spread(g[n0:n1, c0 * m:c1 * m], m, "lanes-y")
        buf = _workspace("lanes-x", (c1 - c0, lanes.phases, lanes.span), g.dtype, xp)
        _block_by_taps(lanes, wv[c0:c1], wide[:, :, :lanes.count], buf)
        lanes.unplane(buf, gx[n0:n1, c0:c1])
        del wide, buf                  # the workspace is free again for the next block
    return gx


def _block_by_taps(lanes, wv, gwide, buf):
    """A block's lanes ``buf`` (c, phases, span) tap by tap: the GEMV over the multiplier
    (c, 1, m) @ gwide (c, m, count) added onto the tap's slice, so that only the taps
    multiply g (an inf of g gives the infs and NaNs that PyTorch's taps give)."""
    xp = backend.xp_of(buf)
    buf.fill(0)
    tmp = _workspace("lanes-p", (buf.shape[0], 1, lanes.count), buf.dtype, xp)
    for t in range(wv.shape[2]):
        xp.matmul(wv[:, None, :, t], gwide, out=tmp)
        lanes.read(buf, t)[...] += tmp[:, 0]


def weight_grad(x, g, geom, lay):
    """gw, per block and phase: the dot products of gwide (c, m, count) with the slices the
    phase's taps read, in one matrix product (``_grid_dots``; a dot per tap where a lane is
    shorter than the pieces, or for arrays not numpy's)."""
    xp = backend.xp_of(x)
    N, C = x.shape[:2]
    m = g.shape[1] // C
    taps = len(lay.shift)
    gw = xp.zeros((C, m, taps), dtype=x.dtype)
    per = (len(lay.phases) + m + 1) * lay.size * x.itemsize
    grids = [_phase_grid(lay, p) for p in range(len(lay.phases))]
    for n0, n1, c0, c1 in _each_block(N, C, per, LANE_BYTES * WEIGHT_SCALE):
        lanes = Lanes(lay, n1 - n0)
        buf = lanes.planes(x[n0:n1, c0:c1], "lanes-x")
        wide = lanes.spread(g[n0:n1, c0 * m:c1 * m], m, "lanes-y")
        gwide = wide[:, :, :lanes.count]
        if xp is np and lanes.count >= PIECES:
            for p, grid in enumerate(grids):
                _grid_dots(gw[c0:c1], gwide, buf[:, p], grid)
        else:
            for t in range(taps):
                gw[c0:c1, :, t] += xp.matmul(gwide, lanes.read(buf, t)[:, :, None])[..., 0]
        del buf, wide, gwide           # the workspace is free again for the next block
    return gw.reshape((C * m, 1) + tuple(geom.kernel))


# The weight gradient's dot products are cut into this many pieces (see ``_grid_dots``)
PIECES = 4


def _phase_grid(lay, p):
    """Phase p's taps as a grid: (their indices, in the grid's row-major order; its shape;
    the shift of its first tap; the shifts between neighbours, per axis). Along an axis the
    offsets o of a phase (o d = the phase's remainder, mod s) are evenly spaced, and so are
    their shifts: tap (i_0, i_1, ..) of the grid reads from first + sum of i_a step_a."""
    geom = lay.geom
    per_axis = [[o for o in range(k) if o * d % s == r] for k, d, s, r in zip(
        geom.kernel, geom.dilation, geom.stride, lay.phases[p])]
    shape = tuple(len(o) for o in per_axis)
    if 0 in shape:                     # no tap reads this phase
        return [], shape, 0, ()
    taps = [sum(o * _prod(geom.kernel[a + 1:]) for a, o in enumerate(offset))
            for offset in itertools.product(*per_axis)]
    step = tuple((o[1] * d // s - o[0] * d // s) * _prod(lay.Q[a + 1:]) if len(o) > 1 else 0
                 for a, (o, d, s) in enumerate(zip(per_axis, geom.dilation, geom.stride)))
    return taps, shape, lay.shift[taps[0]], step


def _grid_dots(gw, a, lane, grid):
    """gw (c, m, taps) += the dot products of a (c, m, K) with the slices of ``lane`` (c, span)
    that the taps of one phase read (``_phase_grid``), in one matrix product.

    numpy ran the small products holding the interpreter lock (a dot per tap, a block's 9
    numbers; a 2 x 2 product per tap too) and released it through ones making a thousand
    numbers or more: the dots held it for 68% of a stride-1 weight gradient's time (float32
    16x64x32x32, py-spy), so the threads took turns through them. Here each row is cut into P
    pieces of L = K // P numbers, and a phase's taps are a grid of slices evenly spaced along
    the lane (a strided view, no copy): (c, m, 1.., P, L) @ (c, 1, *grid, L, P) makes every
    tap's P x P products of pieces, whose trace is its dot; the numbers past P L are added
    by a second, thin product. Float32, 9 channels of 18500 numbers, 9 taps: 128 us against
    158 for the dots, and without the lock."""
    taps, shape, first, step = grid
    if not taps:
        return
    c, m, K = a.shape
    L = K // PIECES
    ng, it = len(shape), lane.itemsize
    across = (lane.strides[0], 0) + tuple(s * it for s in step)
    pieces = a[:, :, :PIECES * L].reshape((c, m) + (1,) * ng + (PIECES, L))
    reads = np.lib.stride_tricks.as_strided(lane[:, first:], (c, 1) + shape + (L, PIECES),
                                            across + (it, L * it), writeable=False)
    sums = np.trace(np.matmul(pieces, reads), axis1=-2, axis2=-1)    # (c, m, *grid)
    rest = K - PIECES * L
    if rest:
        ends = np.lib.stride_tricks.as_strided(lane[:, first + PIECES * L:],
                                               (c, 1) + shape + (rest, 1), across + (it, it),
                                               writeable=False)
        sums += np.matmul(a[:, :, PIECES * L:].reshape((c, m) + (1,) * ng + (1, rest)),
                          ends)[..., 0, 0]
    gw[:, :, taps] += sums.reshape(c, m, -1)
