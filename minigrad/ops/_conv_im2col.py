"""The im2col formulation of ``conv_kernels``: every window copied into the columns of a
matrix, one batched GEMM; col2im, its adjoint, adds the columns back. Used for strided,
grouped and depthwise convolutions, small planes and shallow inputs (``conv_kernels.path``).

    im2col(x, geom)                 x (N, C, *S) -> cols (G, C/G * prod(k), N * prod(L))
    im2col_batch_last(x, geom)      the same, (G, C/G * prod(k), prod(L), N) (many small planes)
    col2im(cols, out, ...)          cols (C, *k, N, *L) added into out (N, C, *Sp)
    conv_transpose_t(g_t, w, ...)   w^T @ g, then col2im: the input gradient, padded
    input_grad_batch_last(g, w, geom, gx)   the same, batch axis last (many small planes)
    crop_into(y, kept, bias)        y = kept (+ bias), the channels over the threads
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import backend
from ..parallel import run_split
from ._conv_phase_copy import phase_planes
from ._util import prod as _prod, window_slices as _window_slices
from ._thin_gemm import thin_matmul
from ._workspace import padded_rows, workspace as _workspace

# ----------------------------------------------------------------------------------------------
# im2col and its adjoint, on the (N, C, *S) layout as it is
# ----------------------------------------------------------------------------------------------
# The columns are ordered (image, position): each image's columns are then one block, and
# w @ (that block) is the image's (O, *L) output, written in place (``conv_kernels``). (An
# (position, image) order, N last, made the output a gather with N's stride: 2-5x slower,
# and the same again for the gradient going in.)
def view_as(a, shape):
    """a reshaped to ``shape`` as a view (for numpy an error, never a silent copy, if it
    cannot be; the callers' arrays are contiguous or padded rows, which always can)."""
    if type(a) is not np.ndarray:
        return a.reshape(shape)
    out = a.view()
    out.shape = shape
    return out


def padded(x, pads):
    """x (N, C, *S) zero-padded to (N, C, *Sp), in a scratch buffer; x itself if no padding."""
    if not any(l or r for l, r in pads):
        return x
    xp = backend.xp_of(x)
    size = x.shape[2:]
    out = _workspace("im2col-pad", x.shape[:2] + tuple(n + l + r for n, (l, r) in
                                                     zip(size, pads)), x.dtype, xp)

    def pad(c0, c1):                     # channels c0..c1, on one thread
        part = out[:, c0:c1]
        for ax, (l, r) in enumerate(pads):   # the padding slabs (a reused buffer: not zeros)
            lead = (slice(None), slice(None)) + (slice(None),) * ax
            part[lead + (slice(0, l),)] = 0
            part[lead + (slice(l + size[ax], None),)] = 0
        part[(slice(None), slice(None)) + tuple(slice(l, l + n) for n, (l, _) in
                                                zip(size, pads))] = x[:, c0:c1]
    run_split(pad, x.shape[1], 2 * out.nbytes, xp)
    return out


def im2col(x, geom):
    """Every window of x (N, C, *S), as the columns of a matrix.

    -> cols: (G, C/G * prod(kernel), N * prod(out_size)) with
    cols[g, (c, p, q), (n, i, j)] = xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW].
    The window view is free (strides only); the copy into the matrix is the one pass.
    """
    if geom.stride[-1] > 1 and all(d == 1 for d in geom.dilation) and \
            _prod(geom.kernel) >= _PHASES_MIN_TAPS * _prod(geom.stride):
        return _im2col_phases(x, geom)
    return _im2col_windows(x, geom)


# Strided windows are read from phase planes (``_im2col_phases``) when the kernel has at
# least this many taps per phase: the planes cost two passes over x (zeroing, the phase
# copies), the columns prod(k) / prod(s) times x's size. One thread, the columns alone,
# windows against phase planes: 7x7 stride 2 on 8x3x224x224 14.5 -> 11.2 ms, 4x4 on 8x3x128x128
# 1.05 -> 0.69, 5x5 on 8x16x64x64 2.3 -> 1.9, 11x11 stride 4 on 8x3x224x224 6.8 -> 5.3; but
# 3x3 stride 2 (2.25 taps per phase) 2.5 against 3.1 ms on 16x64x32x32, 1.4 against 1.9 on
# 16x128x16x16 (the ResNet step's strided layers)
_PHASES_MIN_TAPS = 4


def _im2col_windows(x, geom):
    """``im2col`` straight from the windows of the padded x."""
    kernel, stride, dilation, out_size = geom.kernel, geom.stride, geom.dilation, geom.out_size
    nd = len(kernel)
    N, C = x.shape[:2]
    xp = backend.xp_of(x)
    xpad = padded(x, geom.padding)                                # (N, C, *Sp)
    spatial = tuple(range(2, nd + 2))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = backend.sliding_window_view(xpad, span, axis=spatial)   # (N, C, *positions, *span)
    win = win[(slice(None), slice(None))
              + tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, out_size))
              + tuple(slice(None, None, d) for d in dilation)]    # (N, C, *out, *kernel)
    win = win.transpose(1, *range(nd + 2, 2 * nd + 2), 0, *spatial)   # (C, *kernel, N, *out)
    # every element of the (reused) buffer is written: no stale values. Rows a little apart
    # when a power of two long (``padded_rows``): the GEMM reads them faster
    cols = padded_rows("im2col", (geom.groups, C // geom.groups * _prod(kernel),
                                  N * _prod(out_size)), x.dtype, xp)
    rows = view_as(cols, win.shape)

    def copy(c0, c1):                    # channels c0..c1, on one thread
        rows[c0:c1] = win[c0:c1]
    run_split(copy, C, 2 * cols.nbytes, xp)
    return cols


def _im2col_phases(x, geom):
    """``im2col`` of a convolution strided along its last axis (dilation 1), read from the
    stride's phase planes (``_conv_phase_copy.phase_planes``): the taps h, h + s, ... read plane
    h as a stride-1 window, so every copy runs along contiguous rows of L[-1] numbers where
    the strided window read every s-th number (``_PHASES_MIN_TAPS`` says when)."""
    kernel, stride, out_size = geom.kernel, geom.stride, geom.out_size
    nd = len(kernel)
    N, C = x.shape[:2]
    xp = backend.xp_of(x)
    ka = [-(-k // s) for k, s in zip(kernel, stride)]
    z = phase_planes(x, stride, geom.padding, [m + a - 1 for m, a in zip(out_size, ka)])
    cols = padded_rows("im2col", (geom.groups, C // geom.groups * _prod(kernel),
                                  N * _prod(out_size)), x.dtype, xp)
    rows = view_as(cols, (C,) + tuple(kernel) + (N,) + tuple(out_size))
    spatial = tuple(range(2, nd + 2))
    copies = []                          # (the rows of taps h, h + s, ..., their windows)
    for phase in itertools.product(*(range(min(s, k)) for s, k in zip(stride, kernel))):
        span = tuple(len(range(h, k, s)) for h, k, s in zip(phase, kernel, stride))
        win = backend.sliding_window_view(z[(slice(None), slice(None)) + phase], span,
                                          axis=spatial)
        win = win[(slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)]
        copies.append((tuple(slice(h, None, s) for h, s in zip(phase, stride)),
                       win.transpose(1, *range(nd + 2, 2 * nd + 2), 0, *spatial)))

    def copy(c0, c1):                    # channels c0..c1, on one thread
        for taps, win in copies:         # (C, *span, N, *out)
            rows[(slice(c0, c1),) + taps] = win[c0:c1]
    run_split(copy, C, 2 * cols.nbytes, xp)
    return cols


def im2col_batch_last(x, geom):
    """``im2col`` with the batch axis last, for many images of small planes (LeNet's 64
    images of 8x8 outputs): -> cols (G, C/G * prod(kernel), prod(out_size), N) with
    cols[g, (c, p, q), (i, j), n] = xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW].

    x is first turned to (C, *Sp, N) (one small transpose); a window row of all N images is
    then one contiguous run of L[-1] * N numbers, where the (image, position) order copies
    runs of L[-1] numbers (8 for LeNet's second layer): the copy 2x faster there.
    """
    kernel, stride, dilation, out_size = geom.kernel, geom.stride, geom.dilation, geom.out_size
    nd = len(kernel)
    N, C = x.shape[:2]
    xp = backend.xp_of(x)
    xpad = padded(x, geom.padding)                                # (N, C, *Sp)
    xt = _workspace("im2col-xt", (C,) + xpad.shape[2:] + (N,), x.dtype, xp)
    xt[...] = xpad.transpose(1, *range(2, nd + 2), 0)             # (C, *Sp, N)
    spatial = tuple(range(1, nd + 1))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = backend.sliding_window_view(xt, span, axis=spatial)     # (C, *positions, N, *span)
    win = win[(slice(None),)
              + tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, out_size))
              + (slice(None),)
              + tuple(slice(None, None, d) for d in dilation)]    # (C, *out, N, *kernel)
    win = win.transpose(0, *range(nd + 2, 2 * nd + 2), *spatial, nd + 1)   # (C, *k, *out, N)
    cols = _workspace("im2col", (geom.groups, C // geom.groups * _prod(kernel),
                                 _prod(out_size), N), x.dtype, xp)
    rows = cols.reshape(win.shape)

    def copy(c0, c1):                    # channels c0..c1, on one thread
        rows[c0:c1] = win[c0:c1]
    run_split(copy, C, 2 * cols.nbytes, xp)
    return cols


def channels_first(g, width=None):
    """g (N, O, *L) -> (O, N * prod(L')): the layout the GEMMs read, one copy of rows. L' is L
    with the last size widened to ``width`` (zeros in the extra columns) when given."""
    xp = backend.xp_of(g)
    last = g.shape[-1]
    width = width or last
    out = _workspace("im2col-g", (g.shape[1], g.shape[0]) + g.shape[2:-1] + (width,), g.dtype,
                     xp)
    g_on = g.swapaxes(0, 1)                                        # (O, N, *L), a view

    def copy(o0, o1):
        out[o0:o1, ..., :last] = g_on[o0:o1]
        out[o0:o1, ..., last:] = 0
    run_split(copy, g.shape[1], 2 * out.nbytes, xp)
    return out.reshape(g.shape[1], -1)


def col2im(cols, out, stride, dilation, out_size, row0=0, flat=None):
    """The adjoint of ``im2col``: add each column entry back where its window read it.

    cols: (C, *kernel, N, *out) is added into out: (N, C, *size). One strided slice-add per
    kernel offset (never a loop over pixels or batch items); overlapping windows simply add
    up. ``row0``: cols may hold only some rows of the kernel, rows row0, row0 + 1, ...
    The channels are cut over the threads.

    ``flat``: the 1-D buffer that ``out`` begins, given when the columns are *wide*: their
    last axis runs over the whole padded width Wp (stride 1 along it), zeros past the real
    outputs. An offset's columns then land on runs of Wp numbers that flow on into the next
    row (the zeros land there), so with stride 1 throughout an image's columns are one
    contiguous run: numpy adds long runs instead of rows of a few outputs. On LeNet's 8x8
    outputs of 12x12 maps the adds took half the time, for a product 1.5x as wide: the input
    gradient 10-15% faster. ``flat`` extends (kW - 1)*dW numbers past ``out`` for the last
    run.
    """
    xp = backend.xp_of(out)
    nd = len(out_size)
    kernel = cols.shape[1:1 + nd]
    N, C, *size = out.shape
    plane = _prod(size)
    steps = [s * _prod(size[a + 1:]) for a, s in enumerate(stride)]       # numbers per step
    if flat is not None:
        strides = tuple(flat.itemsize * n for n in [C * plane, plane] + steps)

    def add(c0, c1):
        for offset in itertools.product(*(range(k) for k in kernel)):
            at = (row0 + offset[0],) + offset[1:]                  # offset in the whole kernel
            src = cols[(slice(c0, c1),) + offset].swapaxes(0, 1)    # (N, c1 - c0, *out)
            if flat is None:
                dst = (slice(None), slice(c0, c1)) + _window_slices(at, stride, dilation,
                                                                    out_size)
                out[dst] += src
                continue
            start = c0 * plane + sum(o * d * _prod(size[a + 1:])
                                     for a, (o, d) in enumerate(zip(at, dilation)))
            dst = backend.strided_view(flat, (N, c1 - c0) + tuple(out_size), strides,
                                       start * flat.itemsize)
            dst += src
    run_split(add, C, 2 * _prod(kernel) * cols[(slice(None),) + (0,) * nd].nbytes, xp)
    return out


# Above this many bytes, w^T @ g (as large as the im2col matrix) is made a few kernel rows at
# a time, each part added back before the next: less memory, and the parts stay in cache.
FRESH_MAP_BYTES = 32 << 20


def conv_transpose_t(g_t, w, stride, dilation, size, out_size, groups, N, wide=False):
    """Transposed convolution: the adjoint of the im2col GEMM in x.

    g_t: (G, O/G, N*L), w: (O, C/G, *k) -> (N, C, *size), ``size`` being the (padded) extent
    the windows live in (a scratch buffer). gcols = w^T @ g_t is made ``rows`` kernel rows
    at a time (rows p..p+r: w[:, :, p:p+r]^T @ g_t), so that no part passes FRESH_MAP_BYTES.
    ``wide``: g_t's last axis is the padded width, zeros past the outputs (``col2im``).
    """
    xp = backend.xp_of(g_t)
    O, Cg, *kernel = w.shape
    C = groups * Cg
    total = N * C * _prod(size)
    tail = (kernel[-1] - 1) * dilation[-1] if wide else 0     # the last run's spill
    flat = _workspace("col2im", (total + tail,), g_t.dtype, xp)
    out = flat[:total].reshape((N, C) + tuple(size))
    run_split(lambda c0, c1: out[:, c0:c1].fill(0), C, out.nbytes, xp)
    flat[total:] = 0
    nbytes = C * _prod(kernel) * g_t.shape[-1] * g_t.itemsize                # all of gcols
    if nbytes == 0:
        return out
    rows = max(1, min(kernel[0], kernel[0] * FRESH_MAP_BYTES // nbytes))  # rows per product
    w_rows = w.reshape(groups, O // groups, Cg, kernel[0], -1)    # (G, O/G, C/G, kH, kW...)
    for p in range(0, kernel[0], rows):
        w_p = w_rows[:, :, :, p:p + rows].reshape(groups, O // groups, -1)
        gcols = _workspace("col2im-cols", (groups, w_p.shape[-1], g_t.shape[-1]), g_t.dtype,
                           xp)
        thin_matmul(w_p.swapaxes(1, 2), g_t, gcols)             # (G, C/G*rows*kW..., N*L)
        gcols = gcols.reshape((C, -1) + tuple(kernel[1:]) + (N,) + tuple(out_size))
        if wide:
            col2im(gcols, out, stride, dilation, out_size, row0=p, flat=flat)
        else:
            col2im(gcols, out, stride, dilation, out_size, row0=p)
    return out


def crop_into(y, kept, bias):
    """y (n, O, *L) = kept (n, O, *L) (+ bias (O,)): the output channels over the threads."""
    xp = backend.xp_of(y)
    b = None if bias is None else bias.reshape((-1,) + (1,) * (y.ndim - 2))

    def crop(o0, o1):
        if b is None:
            y[:, o0:o1] = kept[:, o0:o1]
        else:
            xp.add(kept[:, o0:o1], b[o0:o1], out=y[:, o0:o1])
    run_split(crop, y.shape[1], 2 * y.nbytes, xp)


def add_bias(y, bias):
    """y (n, O, *L) += bias (O,), in place: the output channels over the threads."""
    xp = backend.xp_of(y)
    b = bias.reshape((-1,) + (1,) * (y.ndim - 2))

    def add(o0, o1):
        y[:, o0:o1] += b[o0:o1]
    run_split(add, y.shape[1], 2 * y.nbytes, xp)


def input_grad_batch_last(g, w, geom, gx):
    """input_grad's im2col path with the batch axis last, for many images of small planes
    (LeNet's 64 images of 8x8 outputs): col2im's slice-adds then run over rows of
    (outputs per row) x N numbers, not of a few outputs each (1.6x faster there), for two
    small transposes. g (N, O, *L), w (O, C/G, *k) -> written into gx (N, C, *S)."""
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C, nd = w.shape[1] * G, len(geom.kernel)
    g_t = xp.ascontiguousarray(g.transpose(1, *range(2, nd + 2), 0))      # (O, *L, N)
    w_t = w.reshape(G, O // G, -1).swapaxes(1, 2)                         # (G, C/G*K, O/G)
    gcols = _workspace("col2im-cols", (G, w_t.shape[1], g_t.size // O), g.dtype, xp)
    thin_matmul(w_t, g_t.reshape(G, O // G, -1), gcols)                # (G, C/G*K, L*N)
    gcols = gcols.reshape((C,) + tuple(geom.kernel) + tuple(geom.out_size) + (N,))
    out = _workspace("col2im-last", (C,) + tuple(geom.padded) + (N,), g.dtype, xp)

    def add(c0, c1):                     # channels c0..c1, on one thread
        out[c0:c1].fill(0)
        for offset in itertools.product(*(range(k) for k in geom.kernel)):
            out[(slice(c0, c1),) + _window_slices(offset, geom.stride, geom.dilation,
                                                  geom.out_size)] += gcols[(slice(c0, c1),)
                                                                           + offset]
    run_split(add, C, 2 * gcols.nbytes, xp)
    inner = out[(slice(None),) + tuple(slice(l, l + n) for n, (l, _) in
                                       zip(geom.in_size, geom.padding))]      # (C, *S, N)
    crop_into(gx, inner.transpose(nd + 1, 0, *range(1, nd + 1)), None)
