"""The array kernels behind ``minigrad/ops/conv.py``: fast, numpy/cupy in and out, no autograd.

Three linear maps make up every convolution and all of its derivatives::

    forward(x, w)       y  = x (*) w            x (N, C, *S)   -> y  (N, O, *L)
    input_grad(g, w)    gx = the adjoint in x   g (N, O, *L)   -> gx (N, C, *S)
    weight_grad(x, g)   gw = the adjoint in w   x, g           -> gw (O, C/G, *k)

(``input_grad`` *is* the transposed convolution.) A ``Geometry`` says how: kernel, stride,
padding (a (left, right) pair per axis), dilation, groups, input size S and output size L.

Three ways to compute them, chosen by shape (``path``):

* ``"gemm"``   1x1 kernels without padding: a plain matrix product per image, on the (N, C,
               H*W) layout as it is (a strided view first for stride 2).
* ``"shift"``  stride 1, one group, planes large enough: the shifted-GEMM formulation
               (``_shift_conv``'s docstring has the picture). No im2col matrix, no transposes.
* ``"im2col"`` everything else (strided 3x3, grouped and depthwise convs, tiny planes):
               every window copied once into a matrix, then one batched GEMM.

Buffers that a step needs and drops again (the shifted planes, the accumulators) come from a
small cache (``_workspace``) that hands a buffer out again only when nothing else holds it.
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

from .. import backend
from ..parallel import run_split
from ._util import prod as _prod, window_slices as _window_slices
from ._workspace import workspace as _workspace

__all__ = ["Geometry", "forward", "input_grad", "weight_grad", "columns", "path"]


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
# im2col and its adjoint, on the (N, C, *S) layout as it is
# ----------------------------------------------------------------------------------------------
# The columns are ordered (image, position): the product w @ cols is then (O, N, *L), and
# its two leading axes swap into the (N, O, *L) output by copying contiguous rows of prod(L)
# numbers. (An (position, image) order, N last, made that copy a gather with N's stride:
# 2-5x slower, and the same again for the gradient going in.)
def _padded(x, pads):
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


def _im2col(x, geom):
    """Every window of x (N, C, *S), as the columns of a matrix.

    -> cols: (G, C/G * prod(kernel), N * prod(out_size)) with
    cols[g, (c, p, q), (n, i, j)] = xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW].
    The window view is free (strides only); the copy into the matrix is the one pass.
    """
    kernel, stride, dilation, out_size = geom.kernel, geom.stride, geom.dilation, geom.out_size
    nd = len(kernel)
    N, C = x.shape[:2]
    xp = backend.xp_of(x)
    xpad = _padded(x, geom.padding)                                # (N, C, *Sp)
    spatial = tuple(range(2, nd + 2))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    win = backend.sliding_window_view(xpad, span, axis=spatial)   # (N, C, *positions, *span)
    win = win[(slice(None), slice(None))
              + tuple(slice(0, s * (n - 1) + 1, s) for s, n in zip(stride, out_size))
              + tuple(slice(None, None, d) for d in dilation)]    # (N, C, *out, *kernel)
    win = win.transpose(1, *range(nd + 2, 2 * nd + 2), 0, *spatial)   # (C, *kernel, N, *out)
    # every element of the (reused) buffer is written: no stale values
    cols = _workspace("im2col", (geom.groups, C // geom.groups * _prod(kernel),
                                 N * _prod(out_size)), x.dtype, xp)
    rows = cols.reshape(win.shape)

    def copy(c0, c1):                    # channels c0..c1, on one thread
        rows[c0:c1] = win[c0:c1]
    run_split(copy, C, 2 * cols.nbytes, xp)
    return cols


def _channels_first(g, width=None):
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


def _col2im(cols, out, stride, dilation, out_size, row0=0, flat=None):
    """The adjoint of ``_im2col``: add each column entry back where its window read it.

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
            dst = xp.lib.stride_tricks.as_strided(
                flat[start:], (N, c1 - c0) + tuple(out_size),
                tuple(flat.itemsize * n for n in [C * plane, plane] + steps))
            dst += src
    run_split(add, C, 2 * _prod(kernel) * cols[(slice(None),) + (0,) * nd].nbytes, xp)
    return out


# Above this many bytes, w^T @ g (as large as the im2col matrix) is made a few kernel rows at
# a time, each part added back before the next: less memory, and the parts stay in cache.
_FRESH_MAP_BYTES = 32 << 20


def _conv_transpose_t(g_t, w, stride, dilation, size, out_size, groups, N, wide=False):
    """Transposed convolution: the adjoint of the im2col GEMM in x.

    g_t: (G, O/G, N*L), w: (O, C/G, *k) -> (N, C, *size), ``size`` being the (padded) extent
    the windows live in (a scratch buffer). gcols = w^T @ g_t is made ``rows`` kernel rows
    at a time (rows p..p+r: w[:, :, p:p+r]^T @ g_t), so that no part passes _FRESH_MAP_BYTES.
    ``wide``: g_t's last axis is the padded width, zeros past the outputs (``_col2im``).
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
    rows = max(1, min(kernel[0], kernel[0] * _FRESH_MAP_BYTES // nbytes))  # rows per product
    w_rows = w.reshape(groups, O // groups, Cg, kernel[0], -1)    # (G, O/G, C/G, kH, kW...)
    for p in range(0, kernel[0], rows):
        w_p = w_rows[:, :, :, p:p + rows].reshape(groups, O // groups, -1)
        gcols = _workspace("col2im-cols", (groups, w_p.shape[-1], g_t.shape[-1]), g_t.dtype,
                           xp)
        xp.matmul(w_p.swapaxes(1, 2), g_t, out=gcols)             # (G, C/G*rows*kW..., N*L)
        gcols = gcols.reshape((C, -1) + tuple(kernel[1:]) + (N,) + tuple(out_size))
        if wide:
            _col2im(gcols, out, stride, dilation, out_size, row0=p, flat=flat)
        else:
            _col2im(gcols, out, stride, dilation, out_size, row0=p)
    return out


# ----------------------------------------------------------------------------------------------
# Shifted GEMMs: stride 1, one group
# ----------------------------------------------------------------------------------------------
# A chunk of images is processed at a time, so that the shifted copies stay this small. Not
# smaller: every chunk is a few more BLAS calls, and on a busy machine each call with two
# BLAS threads can wait milliseconds for both to run (4 MB chunks: 10x slower at 2 threads,
# load 4 on 2 cores; the same speed at 1 thread)
_CHUNK_BYTES = 16 << 20


def _taps(kernel, dilation, padded):
    """How far each leading kernel tap (all axes but the last) reads ahead in a flattened
    padded image: sum over axes of p_a * d_a * (numbers per step along axis a)."""
    return [sum(p * d * _prod(padded[a + 1:]) for a, (p, d) in enumerate(zip(tap, dilation)))
            for tap in itertools.product(*(range(k) for k in kernel[:-1]))]


def _shift_planes(x, pads, dilation, kernel, cols=None):
    """The shifted copies of the zero-padded images: a (kW*C, n*P + tail) block.

    Each padded image is flattened to a row of P = prod(Sp) numbers and the n images of the
    chunk are laid end to end, so one GEMM covers them all::

        block[j*C + c, m*P + t] = xpad[m, c, flat position t + j*dW]

    ``tail`` zeros follow, for the taps of the last image. ``cols`` = (j0, j1) makes only the
    copies j0 <= j < j1 (rows (j - j0)*C + c), for kernels too wide to copy all at once.

    Copy 0 *is* the padded image: x is written into its interior, once (the only strided
    copy), and its padding zeroed; every other copy j is then that row read j*dW numbers
    further on, a plain copy of long contiguous rows (half the time of writing each copy from
    x). Cells read round from the next row or image feed only output columns cropped away.
    """
    xp = backend.xp_of(x)
    n, C, *size = x.shape
    kw, dw = kernel[-1], dilation[-1]
    j0, j1 = cols or (0, kw)
    padded = [m + l + r for m, (l, r) in zip(size, pads)]
    P = _prod(padded)
    tail = max(_taps(kernel, dilation, padded))     # the furthest a leading tap reads past n*P
    width = n * P + tail                               # the columns a copy has
    # where x's first number lands in copy j0 (the padding before it, less j0*dW)
    shift = pads[-1][0] - j0 * dw + sum(l * _prod(padded[a + 1:])
                                        for a, (l, _) in enumerate(pads[:-1]))
    # a row of copy j0 is read (j1 - j0 - 1)*dW further on by the last copy, and holds n
    # padded images from `shift` on
    row = max(width + (j1 - j0 - 1) * dw, shift + n * P)
    buf = _workspace("shift", (j1 - j0, C, row), x.dtype, xp)
    first = buf[0]          # copy j0: the padded images read j0*dW on (x written that earlier)
    inner = (slice(None), slice(None)) + tuple(slice(0, m) for m in size)
    src = x.swapaxes(0, 1)                                                   # (C, n, *S), a view
    whole = None
    if shift < 0:
        # a group of taps that starts past the left padding: x's first -shift numbers fall
        # off the front (only outputs this group does not compute read them)
        whole = xp.zeros([C, n] + padded, dtype=x.dtype)
        whole[inner] = src

    def copy(c0, c1):                     # channels c0..c1 of every copy, on one thread
        if whole is None:
            first[c0:c1, :shift] = 0
            images = first[c0:c1, shift:shift + n * P].reshape([c1 - c0, n] + padded)
            images[inner] = src[c0:c1]
            _zero_beyond(images, size)    # the padding (a reused buffer holds old numbers)
        else:
            first[c0:c1, :n * P + shift] = whole[c0:c1].reshape(c1 - c0, n * P)[:, -shift:]
        first[c0:c1, shift + n * P:] = 0
        for j in range(1, j1 - j0):
            buf[j, c0:c1, :width] = first[c0:c1, j * dw:j * dw + width]
    run_split(copy, C, 2 * (j1 - j0) * C * width * x.itemsize, xp)
    # (j1 - j0, C, row) -> ((j1 - j0) * C, width): the first `width` columns of every row
    return buf.reshape((j1 - j0) * C, row)[:, :width]


def _zero_beyond(a, size):
    """Zero every cell of a (A, B, *Sp) outside its leading (A, B, *size) corner."""
    for ax, m in enumerate(size):
        a[(slice(None), slice(None)) + tuple(slice(0, k) for k in size[:ax]) +
          (slice(m, None),)] = 0


def _even(total, most):
    """[(start, stop), ...] cutting range(total) into equal parts of at most ``most``."""
    parts = -(-total // max(1, most))
    size = -(-total // parts)
    return [(i, min(total, i + size)) for i in range(0, total, size)]


def _images_per_chunk(N, most):
    """At most ``most`` images per chunk, all chunks the same size where a divisor of N near
    ``most`` allows (64 images: 16 + 16 + 16 + 16, not 22 + 22 + 20), so that every chunk
    reuses the same cached buffers; otherwise as even as possible."""
    most = max(1, min(N, most))
    for size in range(most, (most + 1) // 2 - 1, -1):
        if N % size == 0:
            return size
    return _even(N, most)[0][1]


def _plan(N, C, O, kernel, padded, itemsize):
    """How to cut the work so that no scratch array passes _CHUNK_BYTES: (images per chunk,
    ranges (j0, j1) of the horizontal taps copied into one block, ranges (t0, t1) of the
    leading taps whose products are made by one GEMM).

    The shifted block of n images is kW*C rows of n*P numbers, the stacked products T*O rows
    (T leading taps, O output channels). Normally all taps at once, over as many images as
    fit, in chunks of one size where possible (``_images_per_chunk``).
    A wide kernel on a large plane (15x15 on 8x256x256) does not fit even for one image:
    then one image at a time, and the taps in groups."""
    plane = _prod(padded) * itemsize
    kw, taps = kernel[-1], _prod(kernel[:-1])
    per_image = max(kw * C, taps * O) * plane
    if per_image <= _CHUNK_BYTES:
        return _images_per_chunk(N, _CHUNK_BYTES // max(per_image, 1)), [(0, kw)], [(0, taps)]
    return (1, _even(kw, _CHUNK_BYTES // max(C * plane, 1)),
            _even(taps, _CHUNK_BYTES // max(O * plane, 1)))


def _shift_conv(x, w, pads, dilation, out_size, bias=None):
    """Stride-1, one-group convolution by shifted GEMMs: x (N, C, *S), w (O, C, *k) -> (N, O, *L).

    Flatten each zero-padded image to a row of numbers. A kernel tap (di, dj) then reads,
    for output (i, j), the number di*dH*Wp + dj*dW places after (i, j) -- the same shift for
    every output. So the convolution is a sum over taps of w[:, :, di, dj] @ (the padded
    plane shifted by that much), laid out on the padded width Wp (crop the extra columns)::

        padded plane (Hp x Wp = 4 x 5)     tap (1, 2) reads 1*5 + 2 = 7 places further on
        . . . . .                          out[i, j] += w[:, :, 1, 2] @ plane[:, i*5 + j + 7]
        . a b c .
        . d e f .
        . . . . .

    The kW horizontal taps are copied once into a (kW*C, ...) block (``_shift_planes``), and
    the products of all T = prod(k[:-1]) leading taps come from ONE GEMM, kW*C deep, with
    their weights stacked into T*O rows; tap t's term is then its O rows of that product read
    shifts[t] columns further on (shifting the product instead of the input: one large GEMM
    instead of T thin ones, 10-40% faster). No im2col matrix (kH*kW times the input). A very
    wide kernel on a large plane takes its taps a few at a time instead (``_plan``).
    """
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, _, *kernel = w.shape
    nd = len(kernel)
    padded = [m + l + r for m, (l, r) in zip(size, pads)]
    P, kw = _prod(padded), kernel[-1]
    # w as one (T*O, kW*C) matrix: row t*O + o holds leading tap t, columns ordered (j, c) as
    # the block's rows
    w_all = xp.ascontiguousarray(w.reshape(O, C, -1, kw).transpose(2, 0, 3, 1)).reshape(
        -1, kw * C)
    shifts = _taps(kernel, dilation, padded)
    y = xp.empty((N, O) + tuple(out_size), dtype=x.dtype)
    step, tap_groups, lead_groups = _plan(N, C, O, kernel, padded, x.itemsize)
    crop = (slice(None), slice(None), slice(0, out_size[0])) + \
        tuple(slice(0, m) for m in out_size[1:])                          # of (O, n, *Sp)
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        L = (n1 - n0) * P
        acc = _workspace("shift-acc", (O, L), x.dtype, xp)
        fresh = True                      # acc holds nothing yet
        for j0, j1 in tap_groups:
            block = _shift_planes(x[n0:n1], pads, dilation, kernel, (j0, j1))
            for t0, t1 in lead_groups:
                # one GEMM for several leading taps: (T*O, kW*C) @ (kW*C, n*P + tail); tap t's
                # product, read `shifts[t]` columns on, is its term of the output
                out = _workspace("shift-out", ((t1 - t0) * O, block.shape[1]), x.dtype, xp)
                xp.matmul(w_all[t0 * O:t1 * O, j0 * C:j1 * C], block, out=out)
                _add_shifted(acc, out, shifts[t0:t1], fresh)
                fresh = False
                del out
            del block                       # the workspace is free again for the next group
        kept = acc.reshape((O, n1 - n0) + tuple(padded))[crop].swapaxes(0, 1)   # (n, O, *L)
        _crop_into(y[n0:n1], kept, bias)
        del acc, kept                       # the workspace is free again for the next chunk
    return y


def _crop_into(y, kept, bias):
    """y (n, O, *L) = kept (n, O, *L) (+ bias (O,)): the output channels over the threads."""
    xp = backend.xp_of(y)
    b = None if bias is None else bias.reshape((-1,) + (1,) * (y.ndim - 2))

    def crop(o0, o1):
        if b is None:
            y[:, o0:o1] = kept[:, o0:o1]
        else:
            xp.add(kept[:, o0:o1], b[o0:o1], out=y[:, o0:o1])
    run_split(crop, y.shape[1], 2 * y.nbytes, xp)


def _add_shifted(acc, products, shifts, fresh):
    """acc (O, L) (+)= sum over t of products[t*O:(t+1)*O, shifts[t]:shifts[t] + L]: each
    tap's product read as far on as the tap reads. ``fresh``: acc holds nothing yet. The
    output channels are cut over the threads, each adding all taps into its rows in turn."""
    xp = backend.xp_of(acc)
    O, L = acc.shape

    def add(o0, o1):
        terms = [products[t * O + o0:t * O + o1, shift:shift + L]
                 for t, shift in enumerate(shifts)]
        if fresh and len(terms) > 1:
            xp.add(terms[0], terms[1], out=acc[o0:o1])
            terms = terms[2:]
        elif fresh:
            acc[o0:o1] = terms.pop(0)
        for term in terms:
            acc[o0:o1] += term
    run_split(add, O, (len(shifts) + 1) * acc.nbytes, xp)


def _shift_weight_grad(x, g, pads, dilation, kernel):
    """gw (O, C, *k) by shifted GEMMs: for each leading tap, g_wide (O, n*P) @ block[:,
    shift:shift + n*P]^T (n*P, kW*C), g_wide being g laid out on the padded images (zeros
    where outputs were cropped, so they add nothing)."""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, out_size = g.shape[1], g.shape[2:]
    padded = [m + l + r for m, (l, r) in zip(size, pads)]
    P, kw = _prod(padded), kernel[-1]
    shifts = _taps(kernel, dilation, padded)
    gw = xp.zeros((len(shifts), kw * C, O), dtype=x.dtype)
    step, tap_groups, _ = _plan(N, C, O, kernel, padded, x.itemsize)
    keep = (slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)   # of (O, n, *Sp)
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        L = (n1 - n0) * P
        wide = _workspace("shift-g", (O, n1 - n0) + tuple(padded), x.dtype, xp)
        g_on = g[n0:n1].swapaxes(0, 1)                                 # (O, n, *L), a view

        def spread(o0, o1):                # output channels o0..o1, on one thread
            wide[o0:o1][keep] = g_on[o0:o1]
            _zero_beyond(wide[o0:o1], out_size)    # cropped outputs: they add nothing
        run_split(spread, O, 2 * g_on.nbytes, xp)
        wide_t = wide.reshape(O, L).T                              # (L, O), a view
        for j0, j1 in tap_groups:
            block = _shift_planes(x[n0:n1], pads, dilation, kernel, (j0, j1))
            for t, shift in enumerate(shifts):
                # (kW*C, L) @ (L, O): the long L axis is the contraction and the small O axis
                # last; the other order, (O, L) @ (L, kW*C), ran 5-20x slower on 2 BLAS threads
                gw[t, j0 * C:j1 * C] += block[:, shift:shift + L] @ wide_t
            del block                       # the workspace is free again for the next group
        del wide, wide_t                    # the workspace is free again for the next chunk
    # (taps, kW, C, O) -> (O, C, *k[:-1], kW)
    gw = gw.reshape(tuple(kernel[:-1]) + (kw, C, O))
    nd = len(kernel)
    return xp.ascontiguousarray(gw.transpose(nd + 1, nd, *range(nd - 1), nd - 1))


def _flipped(w):
    """w (O, C, *k) -> (C, O, *k) turned by 180 degrees: the kernel of the adjoint."""
    nd = w.ndim - 2
    return w.swapaxes(0, 1)[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]


def _adjoint_pads(geom):
    """Padding that makes the stride-1 convolution of g with the flipped kernel land exactly
    on x's extent: left d(k-1) - l, right S - L + l (zero-extending g); None if negative."""
    pads = tuple((d * (k - 1) - l, n - m + l) for k, d, (l, _), n, m in
                 zip(geom.kernel, geom.dilation, geom.padding, geom.in_size, geom.out_size))
    return pads if all(a >= 0 and b >= 0 for a, b in pads) else None


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


def path(geom, channels):
    """Which formulation computes this geometry on ``channels`` input channels: "gemm",
    "shift" or "im2col"."""
    if geom.groups == 1 and all(k == 1 for k in geom.kernel) and \
            all(l == 0 and r == 0 for l, r in geom.padding):
        return "gemm"
    if geom.groups == 1 and all(s == 1 for s in geom.stride) and \
            channels * geom.kernel[-1] >= _SHIFT_MIN_DEPTH:
        outputs = _prod(geom.out_size)
        computed = geom.out_size[0] * _prod(geom.padded[1:])
        if outputs >= _SHIFT_MIN_OUTPUTS and computed <= _SHIFT_MAX_WASTE * outputs:
            return "shift"
    return "im2col"


# ----------------------------------------------------------------------------------------------
# The three maps
# ----------------------------------------------------------------------------------------------
def columns(x, geom):
    """The im2col matrix of x (N, C, *S): (G, C/G * prod(k), N * prod(L)), or None when this
    geometry is not computed with im2col (nothing to share then)."""
    if path(geom, x.shape[1]) != "im2col" or x.size == 0:
        return None
    return _im2col(x, geom)


def forward(x, w, b, geom, cols=None):
    """y = x (*) w + b: x (N, C, *S), w (O, C/G, *k), b (O,) or None -> (y (N, O, *L), cols).

    ``cols``: x's im2col matrix when the caller has it already. The returned ``cols`` (None
    when nothing worth keeping was made) can be handed to ``weight_grad`` with the same x.
    """
    xp = backend.xp_of(x)
    N, O, G = x.shape[0], w.shape[0], geom.groups
    nd = len(geom.kernel)
    if N == 0 or _prod(geom.out_size) == 0 or x.shape[1] == 0:
        y = xp.zeros((N, O) + tuple(geom.out_size), dtype=x.dtype)
        return (y if b is None else y + b.reshape((-1,) + (1,) * nd)), None
    how = path(geom, x.shape[1])
    if how == "gemm":
        y = xp.matmul(w.reshape(O, -1), _pick(x, geom))          # (O, C) @ (N, C, L)
        if b is not None:
            y += b.reshape(-1, 1)
        return y.reshape((N, O) + tuple(geom.out_size)), None
    if how == "shift":
        return _shift_conv(x, w, geom.padding, geom.dilation, geom.out_size, b), None
    if cols is None:
        cols = columns(x, geom)
    y_t = _workspace("im2col-y", (G, O // G, cols.shape[-1]), x.dtype, xp)
    xp.matmul(w.reshape(G, O // G, -1), cols, out=y_t)              # (G, O/G, N*L)
    y = xp.empty((N, O) + tuple(geom.out_size), dtype=x.dtype)
    _crop_into(y, y_t.reshape((O, N) + tuple(geom.out_size)).swapaxes(0, 1), b)
    return y, cols


def input_grad(g, w, geom):
    """The transposed convolution: g (N, O, *L), w (O, C/G, *k) -> gx (N, C, *S)."""
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C = w.shape[1] * G
    if g.size == 0 or w.size == 0:
        return xp.zeros((N, C) + tuple(geom.in_size), dtype=g.dtype)
    how = path(geom, O)                     # the adjoint convolution reads O channels
    if how == "gemm":
        gx_sub = xp.matmul(w.reshape(O, C).T, g.reshape(N, O, -1))    # (C, O) @ (N, O, L)
        if tuple(geom.out_size) == tuple(geom.in_size):
            return gx_sub.reshape((N, C) + tuple(geom.in_size))
        gx = xp.zeros((N, C) + tuple(geom.in_size), dtype=g.dtype)
        gx[(slice(None), slice(None)) + tuple(slice(0, s * (m - 1) + 1, s) for s, m in
                                              zip(geom.stride, geom.out_size))] = \
            gx_sub.reshape((N, C) + tuple(geom.out_size))
        return gx
    pads = _adjoint_pads(geom) if how == "shift" else None
    if pads is not None:
        return _shift_conv(g, _flipped(w), pads, geom.dilation, geom.in_size)
    if N >= 4 * geom.out_size[-1] and \
            C * _prod(geom.kernel) * _prod(geom.out_size) * N * g.itemsize <= _FRESH_MAP_BYTES:
        return _input_grad_batch_last(g, w, geom)
    # wide columns (see _col2im) along a stride-1 last axis, unless they would more than
    # double the product, or w holds an inf or NaN (which the zero columns would turn into
    # NaNs where no window reads)
    out_size, Wp = tuple(geom.out_size), geom.padded[-1]
    wide = (geom.stride[-1] == 1 and Wp <= 2 * out_size[-1] and Wp != out_size[-1]
            and bool(xp.isfinite(w.sum())))
    if wide:
        out_size = out_size[:-1] + (Wp,)
    g_t = _channels_first(g, Wp if wide else None).reshape(G, O // G, -1)   # (G, O/G, N*L)
    gx_pad = _conv_transpose_t(g_t, w, geom.stride, geom.dilation, geom.padded, out_size,
                               G, N, wide)                         # (N, C, *Sp), scratch
    gx = xp.empty((N, C) + tuple(geom.in_size), dtype=g.dtype)
    _crop_into(gx, gx_pad[(slice(None), slice(None)) + tuple(
        slice(l, l + n) for n, (l, _) in zip(geom.in_size, geom.padding))], None)
    return gx


def _input_grad_batch_last(g, w, geom):
    """input_grad's im2col path with the batch axis last, for many images of small planes
    (LeNet's 64 images of 8x8 outputs): col2im's slice-adds then run over rows of
    (outputs per row) x N numbers, not of a few outputs each (1.6x faster there), for two
    small transposes. g (N, O, *L), w (O, C/G, *k) -> gx (N, C, *S)."""
    xp = backend.xp_of(g)
    N, O, G = g.shape[0], w.shape[0], geom.groups
    C, nd = w.shape[1] * G, len(geom.kernel)
    g_t = xp.ascontiguousarray(g.transpose(1, *range(2, nd + 2), 0))      # (O, *L, N)
    w_t = w.reshape(G, O // G, -1).swapaxes(1, 2)                         # (G, C/G*K, O/G)
    gcols = _workspace("col2im-cols", (G, w_t.shape[1], g_t.size // O), g.dtype, xp)
    xp.matmul(w_t, g_t.reshape(G, O // G, -1), out=gcols)                # (G, C/G*K, L*N)
    gcols = gcols.reshape((C,) + tuple(geom.kernel) + tuple(geom.out_size) + (N,))
    out = _workspace("col2im-last", (C,) + tuple(geom.padded) + (N,), g.dtype, xp)
    out.fill(0)
    for offset in itertools.product(*(range(k) for k in geom.kernel)):
        out[(slice(None),) + _window_slices(offset, geom.stride, geom.dilation,
                                            geom.out_size)] += gcols[(slice(None),) + offset]
    inner = out[(slice(None),) + tuple(slice(l, l + n) for n, (l, _) in
                                       zip(geom.in_size, geom.padding))]      # (C, *S, N)
    gx = xp.empty((N, C) + tuple(geom.in_size), dtype=g.dtype)
    _crop_into(gx, inner.transpose(nd + 1, 0, *range(1, nd + 1)), None)
    return gx


def weight_grad(x, g, geom, cols=None):
    """The gradient of <g, x (*) w> in w: x (N, C, *S), g (N, O, *L) -> gw (O, C/G, *k).

    gw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]
    """
    xp = backend.xp_of(x)
    N, C, O, G = x.shape[0], x.shape[1], g.shape[1], geom.groups
    shape = (O, C // G) + tuple(geom.kernel)
    if N == 0 or g.size == 0 or x.size == 0:
        return xp.zeros(shape, dtype=x.dtype)
    how = path(geom, C)
    if how == "gemm":
        # sum over images of g[n] (O, L) @ x[n]^T (L, C)
        gw = xp.matmul(g.reshape(N, O, -1), _pick(x, geom).transpose(0, 2, 1)).sum(axis=0)
        return gw.reshape(shape)
    # the shifted GEMMs multiply the zeros of cropped outputs by x's cells wrapped round
    # from the next row: an inf or NaN in x would make NaNs there, so such an x takes im2col
    if how == "shift" and bool(xp.isfinite(x.sum())):
        return _shift_weight_grad(x, g, geom.padding, geom.dilation, geom.kernel)
    if cols is None:
        cols = _im2col(x, geom)
    g_t = _channels_first(g).reshape(G, O // G, -1)               # (G, O/G, N*L)
    # (G, C/G*K, N*L) @ (G, N*L, O/G): the long N*L axis is the contraction. With the small
    # O/G axis last, OpenBLAS splits the work over threads well; the other order,
    # g @ cols^T, took 2-3x the CPU time on 2 threads (same numbers).
    return (cols @ g_t.swapaxes(1, 2)).swapaxes(1, 2).reshape(shape)
