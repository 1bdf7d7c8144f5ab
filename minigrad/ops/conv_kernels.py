"""The array kernels behind ``minigrad/ops/conv.py``: fast, numpy/cupy in and out, no autograd.

Three linear maps make up every convolution and all of its derivatives::

    forward(x, w)       y  = x (*) w            x (N, C, *S)   -> y  (N, O, *L)
    input_grad(g, w)    gx = the adjoint in x   g (N, O, *L)   -> gx (N, C, *S)
    weight_grad(x, g)   gw = the adjoint in w   x, g           -> gw (O, C/G, *k)

(``input_grad`` *is* the transposed convolution; ``weight_grad`` is in
``_conv_weight_grad.py``.) A ``Geometry`` says how: kernel, stride,
padding (a (left, right) pair per axis), dilation, groups, input size S and output size L.

Three ways to compute them, chosen by shape (``path``):

* ``"gemm"``   1x1 kernels without padding: a plain matrix product per image, on the (N, C,
               H*W) layout as it is (a strided view first for stride 2).
* ``"shift"``  stride 1, planes large enough (in 3-d with few channels, a larger share
               of extra outputs allowed; a grouped convolution group by group, or, with
               few channels a group, every group in one batched product:
               ``_conv_grouped.grouped_shift``): the shifted-GEMM formulation
               (``_conv_shift.py``; ``shift_conv``'s docstring has the picture). No im2col
               matrix, no transposes.
* ``"depthwise"`` one input channel per group (``groups == C``, MobileNet's 3x3s): 2-d
               stride-1 ones as banded GEMMs over stacked rows (``_conv_bands.py``),
               row-strided 2-d ones on enough rows as GEMMs over chunks of stride rows
               (``_conv_depthwise_rows.py``), 1-d ones as small Toeplitz GEMMs over runs
               of outputs (``_conv_depthwise_runs.py``), the others a pass per kernel tap
               on phase planes, in blocks that stay in cache (``_conv_depthwise.py``).
* ``"im2col"`` everything else (strided 3x3, strided grouped convs, tiny planes):
               every window copied once into a matrix, then one GEMM per image (and
               group) straight into the output (``_conv_im2col.py``; strided windows
               read from the stride's phase planes, along contiguous rows).

A stride that shares a factor f with the dilation reads only every f-th pixel: the forward
is then the convolution of those pixels (a view) with both divided by f
(``_conv_grouped.common_step``), a stride-1 one on the shifted GEMMs for conv1d(stride=2,
dilation=2).

A strided convolution's input gradient (the transposed convolution) is, when its pieces are
large enough, s^d stride-1 convolutions, one per phase of x, each on the shifted GEMMs
(``by_phases``, ``_conv_phases.py``).

This module holds the geometry, the choice and the three maps; the formulations live in
their own modules. Buffers that a step needs and drops again (the shifted planes, the
accumulators) come from a small cache (``_workspace``) that hands a buffer out again only
when nothing else holds it. Large passes that are not matrix products run on several
threads (``minigrad.parallel``).
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import NamedTuple

import numpy as np

from .. import backend, parallel
from . import (_conv_depthwise as _depthwise, _conv_grouped as _grouped, _conv_im2col as _cols,
               _conv_phases as _phases, _conv_shift as _shift)
from ._util import prod as _prod
from ._thin_gemm import thin_matmul
from ._workspace import padded_rows

__all__ = ["Geometry", "forward", "input_grad", "columns", "path", "sum_parts"]


class Geometry(NamedTuple):
    """Everything but the arrays: which convolution. Tuples of ints, one entry per axis."""
    kernel: tuple
    stride: tuple
    padding: tuple          # ((left, right), ...)
    dilation: tuple
    groups: int
    in_size: tuple          # S, the unpadded input's spatial size
    out_size: tuple         # L, the output's spatial size

    @property
    def padded(self):
        return tuple(n + l + r for n, (l, r) in zip(self.in_size, self.padding))




# ----------------------------------------------------------------------------------------------
# 1x1 kernels: one GEMM per image on the NCHW layout
# ----------------------------------------------------------------------------------------------
def _pick(x, geom):
    """The inputs a 1x1 kernel reads: every s-th pixel (a view; a copy only when strided)."""
    sub = x[(slice(None), slice(None)) + tuple(slice(0, s * (m - 1) + 1, s)
                                               for s, m in zip(geom.stride, geom.out_size))]
    return sub.reshape(x.shape[0], x.shape[1], -1)                 # (N, C, L)


# ----------------------------------------------------------------------------------------------
# Dispatch
# ----------------------------------------------------------------------------------------------
# The shifted GEMMs pay off from about 128 outputs per image on (LeNet's 8x8 outputs ran faster
# with im2col; the Conv1d text model's 252 ran 15-20% faster shifted, and kept no columns);
# and only while the padded width they compute on wastes little
# and while their GEMMs are deep enough: a stem conv on 3 colour channels has kW*C = 9, too
# shallow a product (im2col's kH*kW*C = 27 ran faster)
_SHIFT_MIN_OUTPUTS = 128
_SHIFT_MAX_WASTE = 1.6
_SHIFT_MIN_DEPTH = 32
# In 3-d, im2col copies 27 taps (3x3x3) in runs of a few numbers (a row of a small cube), and
# with few channels per group those copies outweigh the products: there the shifted GEMMs
# pay even computing more extra outputs, the more the fewer the channels: up to
# _SHIFT_MAX_WASTE * (1 + 4 / channels), 2x for 16 channels, 1.8x for 32. One thread (CPU
# time), forward + both gradients: 8x16x8^3 with dilation 2 (1.95x the outputs) 9.2 ->
# 5.4 ms, the same with 2 groups of 16 channels 40 -> 12 ms, 4x32x5^3 (1.73x) 2.8 -> 2.2;
# im2col stayed faster for 32x32x4^3 (1.95x: 8.0 against 8.8) and 16x64x4^3 (11.3 against
# 16). Cubes of fewer than _SHIFT_MIN_OUTPUTS outputs stay on im2col: 64x16x4^3 ran 12%
# faster shifted on one thread, but 10% slower on two
_SHIFT_3D_WASTE_CHANNELS = 4
_SHIFT_3D_MAX_CHANNELS = 32


# Small 2-d planes (fewer than _SHIFT_MIN_OUTPUTS outputs, from 7x7 on) padded 'same' take
# the shifted GEMMs' zero-free rows layout (``_conv_layout``) when a batch of them makes a
# product at least _ROWS_MIN_COLUMNS wide (images x outputs) over at most _ROWS_MAX_CHANNELS
# channels: one thread, forward + both gradients of 3x3 convolutions, CPU time against
# im2col: 64x64x7x7 -> 64 0.76x, 16x64x7x7 0.70x, 64x32x8x8 0.72x, 16x128x8x8 0.76x,
# 8x64x10x10 0.79x, 16x256x7x7 0.89x, 32x128x7x7 0.91x; but 32x256x7x7 1.01x,
# 16x512x7x7 1.09x (the chunks' products grow narrow), and with fewer columns 8x256x7x7
# 1.01x, 32x64x4x4 1.04x, 1x64x7x7 1.3x
_ROWS_MIN_OUTPUTS = 49
_ROWS_MIN_COLUMNS = 768
_ROWS_MAX_CHANNELS = 256

# im2col's forward makes one product per image, written straight into y, from this many
# outputs per image on; below, the per-image products are too narrow for the BLAS, and one
# (O, N*L) product and a copy into y's layout are faster. One thread, (O, C*9) @ (C*9, L)
# per image against one product and the copy, 8 images: 512x4608 with L=16 8.4 -> 6.6 ms,
# 256x2304 with L=49 5.5 -> 4.9; but L=64 (16 images, 256x1152) 6.6 against 7.5
_PER_IMAGE_MIN_OUTPUTS = 64

# The input gradient's im2col path computes its columns on the padded width (``wide``), which
# makes col2im's adds long runs, at the price of Wp/W times the product. Many channels on a
# small plane pay that price in the product more than col2im gains: the wide columns are
# taken only while O * (Wp - W) / W, the extra multiply-adds per column entry, stays within
# _WIDE_MAX_EXTRA. One thread, 3x3 pad 1, 8 images: 512 channels on 4x4 11.0 -> 9.2 ms,
# on 7x7 27.1 -> 23.5 (1 image: 4.5 -> 3.8); 256 on 7x7 (73) alike both ways
_WIDE_MAX_EXTRA = 64

# im2col's weight gradient is the product of g (O, N*L) and the columns (C*K, N*L) over N*L.
# With few output channels it is made as cols @ g^T, (C*K, O), whose transpose gw then is;
# from this many output channels per group on as g @ cols^T, row-major: the transposed result
# cost a slow strided pass wherever it was used (.grad, the optimizer's update), and the
# product itself is faster that way round. One thread, 512 channels, C*K = 4608, 72 columns:
# 3.5 ms for the product, 19 with the row-major copy of the transposed one; 256 channels,
# C*K = 1152, 392 columns: 2.6 -> 2.4 ms; 128 channels, 576 x 1568: 2.4 against 2.6
_WEIGHT_GRAD_ROWS_MIN = 256


def path(geom, channels, images=None):
    """Which formulation computes this geometry on ``channels`` input channels: "gemm",
    "depthwise", "shift" or "im2col". A grouped convolution (one input channel per group
    aside) takes the shifted GEMMs wherever its stride is 1, however few channels a group
    has: im2col's batched products over the groups ran 2-3x slower (4 to 64 groups of 2 to
    16 channels, 32x32 planes, one and two threads); group by group, or all groups in one
    batched product (``_conv_grouped.batched``). ``images``: the batch
    (or the part of it) that one call computes, when known (small planes, ``_shift_fits``)."""
    if geom.groups == channels > 1:
        return "depthwise"
    if geom.groups == 1 and all(k == 1 for k in geom.kernel) and \
            all(l == 0 and r == 0 for l, r in geom.padding):
        return "gemm"
    if (geom.groups > 1 or channels * geom.kernel[-1] >= _SHIFT_MIN_DEPTH) and \
            _shift_fits(geom, channels, images):
        return "shift"
    return "im2col"


def _shift_fits(geom, channels, images=None):
    """Stride 1, and planes large enough for the shifted GEMMs to waste little (a little
    more in 3-d with few ``channels`` per group, the channels the convolution reads), or
    small 2-d planes in the rows layout, ``images`` of them at once (``_ROWS_MIN_COLUMNS``)."""
    if any(s != 1 for s in geom.stride):
        return False
    outputs = _prod(geom.out_size)
    if images is not None and len(geom.kernel) == 2 and geom.groups == 1 and \
            _ROWS_MIN_OUTPUTS <= outputs < _SHIFT_MIN_OUTPUTS and \
            channels <= _ROWS_MAX_CHANNELS and images * outputs >= _ROWS_MIN_COLUMNS and \
            _shift.packs(geom.in_size, geom.padding, geom.kernel, geom.dilation):
        return True
    computed = _prod(_shift.extent(geom.in_size, geom.padding, geom.kernel, geom.dilation))
    per_group = channels // geom.groups
    if len(geom.kernel) == 3 and 0 < per_group <= _SHIFT_3D_MAX_CHANNELS:
        waste = _SHIFT_MAX_WASTE * (1 + _SHIFT_3D_WASTE_CHANNELS / per_group)
        return outputs >= _SHIFT_MIN_OUTPUTS and computed <= waste * outputs
    return outputs >= _SHIFT_MIN_OUTPUTS and computed <= _SHIFT_MAX_WASTE * outputs


def _groups(G, *parts):
    """For each of the G groups, the group's slice of every part: ``parts`` are (array, axis)
    pairs, each cut into G equal slices along its axis (views). One group: the arrays."""
    for q in range(G):
        yield tuple(a[(slice(None),) * axis + (slice(q * (a.shape[axis] // G),
                                                      (q + 1) * (a.shape[axis] // G)),)]
                    for a, axis in parts)


# A strided convolution's input gradient splits into stride-1 pieces, one per phase of x
# (``_conv_phases``), when each piece is one the shifted GEMMs compute well and x has channels
# enough: the pieces' products are (taps x C) rows deep. On the ResNet step's 32 -> 64
# channel stride-2 layer (64x64 images) 11 ms instead of im2col's 15; a transposed 4x4 stride-2
# convolution of 64 x 128 x 16x16 images, 64 ms instead of 85; but 25 ms instead of 12 for one
# with 3 output channels, and slower on 8x8 phases, which the rule leaves to im2col
_PHASE_MIN_CHANNELS = 16


def by_phases(geom, channels, out_channels):
    """The phases (``_conv_phases.split``) that compute the input gradient of this strided
    convolution, or None when im2col does it better (or the split does not apply: dilation,
    groups, padding wider than a phase's taps reach)."""
    if geom.groups != 1 or all(s == 1 for s in geom.stride) or \
            any(d != 1 for d in geom.dilation) or channels < _PHASE_MIN_CHANNELS:
        return None
    phases = _phases.split(geom)
    if phases and all(path(p.geom, out_channels) in ("shift", "gemm") and
                      _shift.adjoint_pads(p.geom) is not None for p in phases):
        return phases
    return None


# ----------------------------------------------------------------------------------------------
# The three maps
# ----------------------------------------------------------------------------------------------
def columns(x, geom):
    """The im2col matrix of x (N, C, *S): (G, C/G * prod(k), N * prod(L)), or, for many
    images of small planes (``batch_last``), (G, C/G * prod(k), prod(L), N); None when this
    geometry is not computed with im2col (nothing to share then)."""
    if path(geom, x.shape[1], x.shape[0]) != "im2col" or x.size == 0:
        return None
    return _im2col(x, geom)


def _im2col(x, geom):
    if batch_last(x.shape[0], x.shape[1], geom, x.itemsize):
        return _cols.im2col_batch_last(x, geom)
    return _cols.im2col(x, geom)


def batch_last(N, C, geom, itemsize):
    """Whether im2col and col2im put the batch axis last: for many images of small planes
    (N at least 4 outputs rows' worth, LeNet's 64 images of 8x8 outputs), while the matrix
    stays within FRESH_MAP_BYTES. Their copies and adds then run over rows of L[-1] * N
    numbers rather than L[-1] (1.6-2x faster there), for two small transposes."""
    return N >= 4 * geom.out_size[-1] and \
        C * _prod(geom.kernel) * _prod(geom.out_size) * N * itemsize <= _cols.FRESH_MAP_BYTES


_FLOAT16 = np.dtype(np.float16)


def _half(x):
    """Whether x is a numpy float16 array: numpy has no float16 GEMM (its float16 products
    loop in C, 100-300x slower), so such convolutions run in float32 and are rounded once,
    with the float32 accumulation that PyTorch's float16 convolutions have too."""
    return x.dtype == _FLOAT16 and backend.xp_of(x) is np


def _single(*arrays):
    return [None if a is None else a.astype(np.float32) for a in arrays]


# A batch is split over the threads, a whole kernel per thread (``parallel.over_batch``), from
# about this many multiply-adds on: below, handing a part to another thread (tens of
# microseconds) costs about what the part saves
_SPLIT_MIN_MACS = 1 << 21


def _macs(N, O, C, geom):
    """The multiply-adds of one of the three maps (forward, input or weight gradient)."""
    return N * O * C // geom.groups * _prod(geom.kernel) * _prod(geom.out_size)


def _whole(xp, macs):
    """The context a kernel runs its whole batch in on the calling thread. A kernel too small
    to cut keeps its products off the BLAS's worker threads too (once woken they spin on the
    core minigrad's threads use next, ``parallel.blas_on_one_thread``), unless it is so small
    that OpenBLAS would not split them anyway; a large one that could not be cut (a single
    image) lets the BLAS split its products."""
    if xp is np and parallel.BLAS_THREADED_MACS <= macs < _SPLIT_MIN_MACS:
        return parallel.blas_on_one_thread()
    return nullcontext()


def _part_columns(cols, n0, n1, per_image):
    """The columns of images n0..n1 in ``cols``: a view of the (G, C/G*K, N*L) matrix, or
    the part's own matrix when a batch split made one per part (``PartColumns``)."""
    if cols is None:
        return None
    if isinstance(cols, PartColumns):
        return cols.get((n0, n1))
    if cols.ndim == 4:                   # batch last: a part's columns are not one slice
        return None
    return cols[:, :, n0 * per_image:n1 * per_image]


def sum_parts(parts):
    """{first image: a part's sum} -> the sums added in batch order, into the first part's
    array (the same rounding however the parts were run)."""
    arrays = [parts[n0] for n0 in sorted(parts)]
    for other in arrays[1:]:
        arrays[0] += other
    return arrays[0]


class PartColumns(dict):
    """The im2col matrices of a batch computed in parts: {(n0, n1): columns of images n0..n1}.
    ``weight_grad`` uses a part's matrix when it splits the batch the same way."""


def forward(x, w, b, geom, cols=None):
    """y = x (*) w + b: x (N, C, *S), w (O, C/G, *k), b (O,) or None -> (y (N, O, *L), cols).

    ``cols``: x's im2col matrix when the caller has it already. The returned ``cols`` (None
    when nothing worth keeping was made) can be handed to ``weight_grad`` with the same x.
    With several threads a large batch is cut into parts, one per thread, each computed
    whole on its own thread (``parallel.over_batch``).
    """
    if _half(x):
        return forward(*_single(x, w, b), geom)[0].astype(np.float16), None
    xp = backend.xp_of(x)
    N, C, O = x.shape[0], x.shape[1], w.shape[0]
    nd = len(geom.kernel)
    if x.size == 0 or _prod(geom.out_size) == 0:     # (an empty x's windows read padding)
        y = xp.zeros((N, O) + tuple(geom.out_size), dtype=x.dtype)
        return (y if b is None else y + b.reshape((-1,) + (1,) * nd)), None
    y = xp.empty((N, O) + tuple(geom.out_size), dtype=x.dtype)
    kept, per_image = PartColumns(), _prod(geom.out_size)

    def part(n0, n1):
        kept[n0, n1] = _forward(x[n0:n1], w, b, geom, _part_columns(cols, n0, n1, per_image),
                                y[n0:n1])
    macs = _macs(N, O, C, geom)
    if xp is np and parallel.over_batch(part, N, macs >= _SPLIT_MIN_MACS):
        return y, (kept if any(c is not None for c in kept.values()) else None)
    with _whole(xp, macs):
        return y, _forward(x, w, b, geom, cols, y)


def _forward(x, w, b, geom, cols, y):
    """forward's work for x (n, C, *S), written into y (n, O, *L); -> the im2col matrix or
    None."""
    if cols is None:
        recast = _grouped.recast(x, w, geom)
        if recast is not None:
            _forward(*recast[:2], b, recast[2], None, y)
            return None
    xp = backend.xp_of(x)
    N, O, G = x.shape[0], w.shape[0], geom.groups
    how = path(geom, x.shape[1], N)
    if how == "gemm":
        out = y.reshape(N, O, -1)
        xp.matmul(w.reshape(O, -1), _pick(x, geom), out=out)      # (O, C) @ (N, C, L)
        if b is not None:
            out += b.reshape(-1, 1)
        return None
    if how == "shift" and _grouped.batched(geom, x.shape[1], O, x.itemsize):
        _grouped.grouped_shift(x, w, G, geom.padding, geom.dilation, geom.out_size, b, y)
        return None
    if how == "shift":                     # group by group (one group: the whole)
        for q, (xq, wq, yq) in enumerate(_groups(G, (x, 1), (w, 0), (y, 1))):
            bq = None if b is None else b[q * (O // G):(q + 1) * (O // G)]
            _shift.shift_conv(xq, wq, geom.padding, geom.dilation, geom.out_size, bq, out=yq)
        return None
    if how == "depthwise":
        _depthwise.forward(x, w, b, geom, y)
        return None
    if cols is None:
        cols = columns(x, geom)
    nd = len(geom.kernel)
    w_g = w.reshape(G, O // G, -1)                                  # (G, O/G, C/G*K)
    L = _prod(geom.out_size)
    if cols.ndim == 3 and (L >= _PER_IMAGE_MIN_OUTPUTS or N == 1):
        # one product per image and group, written straight into y: (O/G, C/G*K) @ (C/G*K,
        # L) for image n is y[n]'s rows of that group. No product matrix, no pass copying it
        # into y: on the ResNet step's strided layers 3-20% faster than one (O/G, N*L)
        # product and the copy (1 thread), the stem's thin products 30%
        per_image = cols.reshape(G, cols.shape[1], N, L).transpose(2, 0, 1, 3)
        thin_matmul(w_g, per_image, _cols.view_as(y, (N, G, O // G, L)))
        if b is not None:
            _cols.add_bias(y, b)
        return cols
    flat = cols.reshape(cols.shape[:2] + (-1,))                     # (G, C/G*K, N*L)
    y_t = padded_rows("im2col-y", (G, O // G, flat.shape[-1]), x.dtype, xp)
    thin_matmul(w_g, flat, y_t)                                     # (G, O/G, N*L)
    if cols.ndim == 3:      # images in turn: y_t is (O, N, *L)
        kept = y_t.reshape((O, N) + tuple(geom.out_size)).swapaxes(0, 1)
    else:                   # batch last: y_t is (O, *L, N)
        kept = y_t.reshape((O,) + tuple(geom.out_size) + (N,)).transpose(
            nd + 1, 0, *range(1, nd + 1))
    _cols.crop_into(y, kept, b)
    return cols


def input_grad(g, w, geom):
    """The transposed convolution: g (N, O, *L), w (O, C/G, *k) -> gx (N, C, *S). A large
    batch in parts over the threads, as ``forward``."""
    if _half(g):
        return input_grad(*_single(g, w), geom).astype(np.float16)
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C = w.shape[1] * G
    if g.size == 0 or w.size == 0 or _prod(geom.in_size) == 0:
        return xp.zeros((N, C) + tuple(geom.in_size), dtype=g.dtype)
    gx = xp.empty((N, C) + tuple(geom.in_size), dtype=g.dtype)

    def part(n0, n1):
        _input_grad(g[n0:n1], w, geom, gx[n0:n1])
    macs = _macs(N, O, C, geom)
    if not (xp is np and parallel.over_batch(part, N, macs >= _SPLIT_MIN_MACS)):
        with _whole(xp, macs):
            _input_grad(g, w, geom, gx)
    return gx


def _input_grad(g, w, geom, gx):
    """input_grad's work for g (n, O, *L), written into gx (n, C, *S)."""
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C = w.shape[1] * G
    if path(geom, C) == "depthwise":        # (any channel multiplier O / C)
        _depthwise.input_grad(g, w, geom, gx)
        return
    step = _grouped.common_step(geom)
    if step is not None and path(step[2], O, N) == "shift":
        # every f-th pixel read (``_grouped.common_step``): their gradient is that of the
        # convolution of those pixels alone, the others' zero
        factors, first, reduced = step
        gx.fill(0)
        _input_grad(g, w, reduced, gx[(slice(None), slice(None)) + tuple(
            slice(r, None, f) for r, f in zip(first, factors))])
        return
    how = path(geom, O, N)                  # the adjoint convolution reads O channels
    if G > 1:                               # (O == G is no depthwise adjoint: C/G channels)
        how = "shift" if _shift_fits(geom, O) else "im2col"
    if how == "gemm":
        if tuple(geom.out_size) == tuple(geom.in_size):
            xp.matmul(w.reshape(O, C).T, g.reshape(N, O, -1), out=gx.reshape(N, C, -1))
            return
        gx.fill(0)
        gx[(slice(None), slice(None)) + tuple(slice(0, s * (m - 1) + 1, s) for s, m in
                                              zip(geom.stride, geom.out_size))] = \
            xp.matmul(w.reshape(O, C).T, g.reshape(N, O, -1)).reshape(     # (C, O) @ (N, O, L)
                (N, C) + tuple(geom.out_size))
        return
    # the shifted GEMMs (and the phases, made of them) multiply w by the zeros that extend g
    # past its edges: an inf or NaN in w would turn them into NaNs where no window reads g,
    # so such a w takes im2col, whose products are all real ones (w is small: a cheap check)
    finite_w = not (how == "shift" or any(s > 1 for s in geom.stride)) or \
        bool(xp.isfinite(w.sum()))
    pads = _shift.adjoint_pads(geom) if how == "shift" and finite_w else None
    if pads is not None and _grouped.batched(geom._replace(
            padding=pads, in_size=geom.out_size, out_size=geom.in_size), O, C, g.itemsize):
        _grouped.grouped_shift(g, _grouped.grouped_adjoint_weight(w, G), G, pads,
                               geom.dilation, geom.in_size, None, gx)
        return
    if pads is not None:                    # group by group (one group: the whole)
        for gq, wq, gxq in _groups(G, (g, 1), (w, 0), (gx, 1)):
            _shift.shift_conv(gq, _shift.flipped(wq), pads, geom.dilation, geom.in_size,
                              out=gxq)
        return
    phases = by_phases(geom, C, O) if finite_w else None
    if phases:
        _phases.input_grad(g, w, geom, phases, gx)
        return
    if batch_last(N, C, geom, g.itemsize):
        _cols.input_grad_batch_last(g, w, geom, gx)
        return
    # wide columns (see _cols.col2im) along a stride-1 last axis, unless they would more than
    # double the product or add more to it than col2im saves (_WIDE_MAX_EXTRA), or w holds an
    # inf or NaN (which the zero columns would turn into NaNs where no window reads)
    out_size, Wp = tuple(geom.out_size), geom.padded[-1]
    wide = (geom.stride[-1] == 1 and Wp <= 2 * out_size[-1] and Wp != out_size[-1]
            and O // G * (Wp - out_size[-1]) <= _WIDE_MAX_EXTRA * out_size[-1]
            and bool(xp.isfinite(w.sum())))
    if wide:
        out_size = out_size[:-1] + (Wp,)
    g_t = _cols.channels_first(g, Wp if wide else None).reshape(G, O // G, -1)   # (G, O/G, N*L)
    gx_pad = _cols.conv_transpose_t(g_t, w, geom.stride, geom.dilation, geom.padded, out_size,
                                    G, N, wide)                    # (N, C, *Sp), scratch
    _cols.crop_into(gx, gx_pad[(slice(None), slice(None)) + tuple(
        slice(l, l + n) for n, (l, _) in zip(geom.in_size, geom.padding))], None)
