"""The shifted-GEMM formulation of ``conv_kernels``: stride 1, large planes, one group (a
grouped convolution calls it group by group).
No im2col matrix: each zero-padded image is one flat row of numbers, a kernel tap is a shift
along it, and the convolution is a sum of GEMMs over shifted views (``shift_conv``'s
docstring has the picture).

    shift_conv(x, w, pads, ...)          the convolution (and, with the flipped kernel on
                                         the zero-extended gradient, the input gradient)
    shift_weight_grad(x, g, pads, ...)   the weight gradient
    shift_conv_columns(x, w_all, ...)    shift_conv's sum for an image too large to copy
                                         at once: all taps, over runs of positions
    plan, bands                          how the work is cut
The layouts themselves (``extent``, ``shift_planes``, the zero-free ``rows`` layout of
2-d 'same' convolutions) live in ``_conv_layout``.
"""
from __future__ import annotations

from .. import backend
from ..parallel import run_split
from ._conv_im2col import crop_into
from ._conv_layout import add_rows, extent, packs, shift_planes, taps, zero_beyond
from ._util import prod as _prod
from ._workspace import l2_cache_bytes, padded_rows, workspace as _workspace

# ----------------------------------------------------------------------------------------------
# Shifted GEMMs: stride 1, one group
# ----------------------------------------------------------------------------------------------
# No scratch array passes CHUNK_BYTES: a kernel too wide for even one image's shifted copies
# to fit takes its taps in groups (``plan``). Splitting an image's taps costs passes, so not
# smaller than this
CHUNK_BYTES = 16 << 20
# When whole images fit, a chunk holds about this many bytes of shifted copies: the block,
# the GEMM's products and the accumulator of one chunk then stay in the processor's cache
# between the copy, the GEMM and the adds. 4 MB chunks against 16 MB: forward + weight
# gradient of the ResNet step's 32-channel 64x64 layers 20-40% faster (1 and 2 threads),
# its 16x16 ones the same. (Each chunk is a few more BLAS calls; on a machine loaded beyond
# its cores, two BLAS threads can wait on each other at every call: there 4 MB chunks were
# once measured 10x slower at 2 threads, load 4 on 2 cores.)
IMAGE_CHUNK_BYTES = 4 << 20
# Whole images of 1-d and 2-d convolutions are grouped into chunks of at most this many bytes
# (and IMAGE_CHUNK_BYTES): with two threads each running its own part of the batch
# (``parallel.over_batch``), two chunks' arrays share the processor's last-level cache.
# Forward + both gradients of the ResNet step's 3x3 layers (16 images; 32 channels at 64x64,
# 64 at 32x32, 128 at 16x16) and of the 32x64x32x32 benchmark took 2-13% less CPU time on two
# threads in 2 MB chunks than in 4 MB ones, 0-4% less on one; conv_sweep's other 1-d and 2-d
# cases whose chunks it changes 16% less to 2% more (noise). Its 3-d ones (8x8x8 cubes) ran
# the same on two threads and 1-5% slower on one (their small products pay more per chunk):
# they keep
# IMAGE_CHUNK_BYTES. So do bands of rows and runs of positions, for images too large to copy
# whole (smaller bands ran 5-15% slower on 224x224 planes).
# That machine's cores had 1 MB of L2 cache each. On a 2-core Intel Xeon with 2 MB each, 4 MB
# chunks were the faster on two threads (the same three layers, forward + both gradients,
# alternating in-process: 28.0-29.0 ms instead of 31.1-32.6 at 32 channels, 20.8 instead of
# 23.2 at 64, 18.8-19.2 instead of 20.0 at 128, with 6-11% less CPU time; one thread 0-4%
# faster), and so were the benchmarks (two threads: the ResNet-like step 0.93-0.96x, conv2d
# 0.92x, conv1d_text 0.90x; one thread 0.98-1.0x); 8 MB no faster than 4. So the limit is
# twice a core's L2 cache, within 2 MB and IMAGE_CHUNK_BYTES (2 MB where it is not known).
_BATCH_CHUNK_DEFAULT = 2 << 20


def batch_chunk_limit(l2):
    """BATCH_CHUNK_BYTES for cores of ``l2`` bytes of L2 cache (None: not known)."""
    if not l2:
        return _BATCH_CHUNK_DEFAULT
    return max(_BATCH_CHUNK_DEFAULT, min(IMAGE_CHUNK_BYTES, 2 * l2))


BATCH_CHUNK_BYTES = batch_chunk_limit(l2_cache_bytes())


def batch_chunk_bytes(nd=2):
    """The bytes of shifted copies that one chunk of whole images may hold, for an
    ``nd``-dimensional convolution."""
    return IMAGE_CHUNK_BYTES if nd > 2 else min(IMAGE_CHUNK_BYTES, BATCH_CHUNK_BYTES)


def even(total, most):
    """[(start, stop), ...] cutting range(total) into equal parts of at most ``most``."""
    parts = -(-total // max(1, most))
    size = -(-total // parts)
    return [(i, min(total, i + size)) for i in range(0, total, size)]


def images_per_chunk(N, most):
    """At most ``most`` images per chunk, all chunks the same size where a divisor of N near
    ``most`` allows (64 images: 16 + 16 + 16 + 16, not 22 + 22 + 20), so that every chunk
    reuses the same cached buffers; otherwise as even as possible."""
    most = max(1, min(N, most))
    for size in range(most, (most + 1) // 2 - 1, -1):
        if N % size == 0:
            return size
    return even(N, most)[0][1]


def plan(N, C, O, kernel, ext, itemsize):
    """How to cut the work so that no scratch array passes CHUNK_BYTES: (images per chunk,
    ranges (j0, j1) of the horizontal taps copied into one block, ranges (t0, t1) of the
    leading taps whose products are made by one GEMM).

    The shifted block of n images is kW*C rows of n*P numbers, the stacked products T*O rows
    (T leading taps, O output channels). Normally all taps at once, over as many images as
    fit in ``batch_chunk_bytes`` (at least one), in chunks of one size where possible
    (``images_per_chunk``).
    A wide kernel on a large plane (15x15 on 8x256x256) does not fit even for one image:
    then one image at a time, and the taps in groups."""
    plane = _prod(ext) * itemsize
    kw, taps = kernel[-1], _prod(kernel[:-1])
    per_image = max(kw * C, taps * O) * plane
    if per_image <= CHUNK_BYTES:
        return (images_per_chunk(N, batch_chunk_bytes(len(kernel)) // max(per_image, 1)),
                [(0, kw)], [(0, taps)])
    return (1, even(kw, CHUNK_BYTES // max(C * plane, 1)),
            even(taps, CHUNK_BYTES // max(O * plane, 1)))


def bands(C, O, size, pads, kernel, dilation, out_size, itemsize):
    """Output rows cut into bands, for an image too large for its shifted copies to fit in
    CHUNK_BYTES: [(r0, r1, a, b, (top, bottom)), ...], output rows r0..r1 being the
    convolution of input rows a..b with that padding along the first spatial axis. None when
    the image fits, when there is a single spatial axis, when the padding along it reaches
    further than the kernel (a band could then read no row of x), or when a band of
    IMAGE_CHUNK_BYTES would hold fewer than 8 times the rows that bands read twice (the
    kernel's reach; a 15x15 kernel reads 14 extra rows): the taps then go in groups instead
    (``plan``).

    All taps at once over a band of rows, instead of a few taps over the whole image: deeper
    GEMMs (3x3 on 8x64x224x224: 192 deep, not 64), and each band's arrays stay in cache."""
    ext = extent(size, pads, kernel, dilation)
    row = max(kernel[-1] * C, _prod(kernel[:-1]) * O) * _prod(ext[1:]) * itemsize
    if len(size) < 2 or row * ext[0] <= CHUNK_BYTES:
        return None
    reach = dilation[0] * (kernel[0] - 1)
    if max(pads[0]) > reach:         # padding past the kernel's reach: bands of only zeros
        return None
    # outputs per band: its layout holds `reach` rows more, and must itself fit (no bands of
    # bands)
    rows = min(IMAGE_CHUNK_BYTES, CHUNK_BYTES) // row - reach
    if rows < 8 * max(reach, 1) or rows >= out_size[0]:
        return None
    top, L, S = pads[0][0], out_size[0], size[0]
    cut = []
    for r0, r1 in even(L, rows):
        first, last = r0 - top, r1 - 1 - top + reach   # the input rows they read, padding too
        a, b = max(0, first), min(S, last + 1)
        cut.append((r0, r1, a, b, (a - first, last + 1 - b)))
    return cut


def shift_conv(x, w, pads, dilation, out_size, bias=None, out=None):
    """Stride-1, one-group convolution by shifted GEMMs: x (N, C, *S), w (O, C, *k) -> (N, O, *L).

    Flatten each zero-padded image to a row of numbers, E numbers per image row. A kernel
    tap (di, dj) then reads, for output (i, j), the number di*dH*E + dj*dW places after
    (i, j) -- the same shift for every output. So the convolution is a sum over taps of
    w[:, :, di, dj] @ (the plane shifted by that much), laid out on the width E (crop the
    extra columns)::

        a 2 x 3 image, padding 1, E = 4    tap (1, 2) reads 1*4 + 2 = 6 places further on
        . . . .                            out[i, j] += w[:, :, 1, 2] @ plane[:, i*4 + j + 6]
        . a b c
        . d e f                            a row's first zero is also the right padding of
        . . . .                            the row above; the last row of zeros is also the
                                           next image's top padding (``extent``)

    The kW horizontal taps are copied once into a (kW*C, ...) block (``shift_planes``), and
    the products of all T = prod(k[:-1]) leading taps come from ONE GEMM, kW*C deep, with
    their weights stacked into T*O rows; tap t's term is then its O rows of that product read
    shifts[t] columns further on (shifting the product instead of the input: one large GEMM
    instead of T thin ones, 10-40% faster). No im2col matrix (kH*kW times the input). A very
    wide kernel on a large plane takes its taps a few at a time instead (``plan``), and a
    large image goes in bands of rows (``bands``), and few output channels (fewer than
    C / T) take every tap on the products' side (``_shift_conv_thin``). A 2-d (or 3-d)
    convolution padded along its last axis whose output rows fit in x's rows ('same'
    padding and narrower) takes the zero-free ``rows`` layout (``_shift_conv_rows``).
    ``out``: where to write y (a view).
    """
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, _, *kernel = w.shape
    y = xp.empty((N, O) + tuple(out_size), dtype=x.dtype) if out is None else out
    cut = bands(C, O, size, pads, kernel, dilation, out_size, x.itemsize)
    if cut is not None:
        for r0, r1, a, b, ends in cut:
            shift_conv(x[:, :, a:b], w, (ends,) + tuple(pads[1:]), dilation,
                       (r1 - r0,) + tuple(out_size[1:]), bias, out=y[:, :, r0:r1])
        return y
    ext = extent(size, pads, kernel, dilation)
    P, kw = _prod(ext), kernel[-1]
    step, tap_groups, lead_groups = plan(N, C, O, kernel, ext, x.itemsize)
    if kw > 1 and _prod(kernel[:-1]) * O < C and len(tap_groups) == len(lead_groups) == 1:
        return _shift_conv_thin(x, w, pads, dilation, bias, y)
    # w as one (T*O, kW*C) matrix: row t*O + o holds leading tap t, columns ordered (j, c) as
    # the block's rows; in scratch, so that a step allocates nothing for it
    lead = _prod(kernel[:-1])
    w_all = _workspace("shift-w", (lead, O, kw, C), x.dtype, xp)
    w_all[...] = w.reshape(O, C, lead, kw).transpose(2, 0, 3, 1)
    w_all = w_all.reshape(-1, kw * C)
    shifts = taps(kernel, dilation, ext)
    crop = (slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)   # of (O, n, *E)
    if len(tap_groups) > 1 or len(lead_groups) > 1:
        # one image's copies or products pass CHUNK_BYTES: all taps at once, over runs of
        # its flat positions (``shift_conv_columns``), image by image
        for n0 in range(N):
            acc = shift_conv_columns(x[n0:n0 + 1], w_all, pads, dilation, kernel, shifts, O)
            kept = acc.reshape((O, 1) + tuple(ext))[crop].swapaxes(0, 1)
            crop_into(y[n0:n0 + 1], kept, bias)
            del acc, kept
        return y
    # The rows layout adds its terms into y where it lies: not into a y strided along its
    # rows (a phase of a strided convolution's input gradient: 7% slower there than adding
    # into the contiguous accumulator and copying that once). Nor with an inf or NaN in w:
    # torch's windows multiply it by the padding's zeros, NaNs that the rows layout, which
    # adds no term that reads padding rows, would not make (w is small: a cheap check)
    if packs(size, pads, kernel, dilation) and y.strides[-1] == y.itemsize and \
            bool(xp.isfinite(w_all.sum())):
        return _shift_conv_rows(x, w_all, pads, dilation, kernel, bias, y, step)
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        L = (n1 - n0) * P
        acc = _workspace("shift-acc", (O, L), x.dtype, xp)
        fresh = True                      # acc holds nothing yet
        for j0, j1 in tap_groups:
            block = shift_planes(x[n0:n1], pads, dilation, kernel, (j0, j1))
            for t0, t1 in lead_groups:
                # one GEMM for several leading taps: (T*O, kW*C) @ (kW*C, n*P + tail); tap t's
                # product, read `shifts[t]` columns on, is its term of the output
                out = _workspace("shift-out", ((t1 - t0) * O, block.shape[1]), x.dtype, xp)
                xp.matmul(w_all[t0 * O:t1 * O, j0 * C:j1 * C], block, out=out)
                add_shifted(acc, out, shifts[t0:t1], fresh)
                fresh = False
                del out
            del block                       # the workspace is free again for the next group
        kept = acc.reshape((O, n1 - n0) + tuple(ext))[crop].swapaxes(0, 1)   # (n, O, *L)
        crop_into(y[n0:n1], kept, bias)
        del acc, kept                       # the workspace is free again for the next chunk
    return y


def _shift_conv_rows(x, w_all, pads, dilation, kernel, bias, y, step):
    """``shift_conv`` in the ``rows`` layout (``_conv_layout``): images of prod(S) numbers end
    to end, no zeros. The kW horizontal copies are those of x with padding along the last
    axis alone (``shift_planes``, packed), ONE GEMM (T*O, kW*C) @ (kW*C, n*prod(S)) makes
    every leading tap's product, and ``add_rows`` sums them into y over the rows each tap
    reads inside its image, ``step`` images at a time: the chunks that the padded layout
    would make (planned on its larger images; planned on the smaller ones, chunks near the
    limit grew, 8 images instead of 4 on 32x32 planes with 64 channels, and ran 6% slower).
    Writes y (N, O, *L); returns it."""
    xp = backend.xp_of(x)
    N, size = x.shape[0], x.shape[2:]
    flat = (1,) * (len(size) - 1)           # the leading axes: no padding, one tap
    row_pads, row_dil = ((0, 0),) * len(flat) + (pads[-1],), flat + (dilation[-1],)
    row_kernel = flat + (kernel[-1],)
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        block = shift_planes(x[n0:n1], row_pads, row_dil, row_kernel, packed=True)
        # rows a little apart: n*prod(S) is often a power of two (4 images of 32x32)
        out = padded_rows("shift-out", (w_all.shape[0], block.shape[1]), x.dtype, xp)
        xp.matmul(w_all, block, out=out)
        del block                           # the workspace is free again
        add_rows(y[n0:n1], out, kernel, dilation, pads, size, bias)
        del out
    return y


def _shift_conv_thin(x, w, pads, dilation, bias, y):
    """``shift_conv`` for few output channels (fewer than C / T, T the leading taps): every
    tap, the horizontal ones too, on the products' side. The padded layout is copied once
    (no kW shifted copies of C rows), ONE GEMM (T*kW*O, C) @ (C, n*P + reach) makes every
    tap's product, and tap (t, j)'s term is its O rows read shifts[t] + j*dW columns on.
    The copies saved are (kW - 1)*C numbers per position, the extra adds T*(kW - 1)*O:
    fewer when T*O < C. One thread: the input gradient of conv1d 3 -> 16, kernel 7, on
    8x4096 (a (3, 112) @ (112, 32K) GEMM after seven copies of 16 rows before, now
    (21, 16) @ (16, 32K)) 1.35 -> 0.55 ms; of conv1d 16 -> 32, kernel 5, on 1x16000
    2.0 -> 1.2 ms. Writes y (N, O, *L); returns it."""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, _, *kernel = w.shape
    kw, dw = kernel[-1], dilation[-1]
    ext = extent(size, pads, kernel, dilation)
    P = _prod(ext)
    shifts = [s + j * dw for s in taps(kernel, dilation, ext) for j in range(kw)]
    # w as one (T*kW*O, C) matrix: row (t*kW + j)*O + o holds tap (t, j) of output o
    w_all = _workspace("shift-w", (len(shifts), O, C), x.dtype, xp)
    w_all[...] = w.reshape(O, C, len(shifts)).transpose(2, 0, 1)
    w_all = w_all.reshape(-1, C)
    per_image = max(C, w_all.shape[0]) * P * x.itemsize
    step = images_per_chunk(N, batch_chunk_bytes(len(kernel)) // max(per_image, 1))
    crop = (slice(None), slice(None)) + tuple(slice(0, m) for m in y.shape[2:])
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        L = (n1 - n0) * P
        # copy 0 of the images with every column a later tap reads: (C, L + reach)
        first = shift_planes(x[n0:n1], pads, dilation, kernel, (0, kw), first_only=True)
        width = L + max(shifts)
        out = _workspace("shift-out", (w_all.shape[0], width), x.dtype, xp)
        xp.matmul(w_all, first[:, :width], out=out)
        del first                           # the workspace is free again
        acc = _workspace("shift-acc", (O, L), x.dtype, xp)
        add_shifted(acc, out, shifts, True)
        del out
        kept = acc.reshape((O, n1 - n0) + tuple(ext))[crop].swapaxes(0, 1)   # (n, O, *L)
        crop_into(y[n0:n1], kept, bias)
        del acc, kept
    return y


def shift_conv_columns(x, w_all, pads, dilation, kernel, shifts, O):
    """The sum over taps of ``shift_conv`` for images whose copies do not fit at once, cut
    along the flat positions instead of into groups of taps: -> acc (O, n*P), a workspace.

    The products at positions [c0, c1) need only the copies' columns [c0, c1): each run's
    block (kW*C, c1 - c0) is copied from copy 0 (``shift_planes(first_only=True)``), ONE
    GEMM with every tap's weights (T*O, kW*C) makes its products, and tap t's rows add into
    acc at positions [c0 - shifts[t], c1 - shifts[t]). Runs of about IMAGE_CHUNK_BYTES keep
    the block and products in cache. Against taps in groups of 5 (8 channels, 15x15 kernel
    on 256x256: nine 40-deep products): 1.4x faster there (the deep GEMM runs at 86 GFLOPS
    instead of 60, one thread)."""
    xp = backend.xp_of(x)
    n, C = x.shape[:2]
    kw, dw = kernel[-1], dilation[-1]
    ext = extent(x.shape[2:], pads, kernel, dilation)
    L = n * _prod(ext)
    first = shift_planes(x, pads, dilation, kernel, (0, kw), first_only=True)   # (C, row)
    width = L + max(shifts)                # the products' positions some tap adds from
    run = max(256, IMAGE_CHUNK_BYTES // (max(w_all.shape) * x.itemsize))
    acc = _workspace("shift-acc", (O, L), x.dtype, xp)
    acc.fill(0)
    for c0 in range(0, width, run):
        m = min(run, width - c0)
        block = _workspace("shift-run", (kw * C, m), x.dtype, xp)
        for j in range(kw):
            block[j * C:(j + 1) * C] = first[:, c0 + j * dw:c0 + j * dw + m]
        out = _workspace("shift-out", (w_all.shape[0], m), x.dtype, xp)
        xp.matmul(w_all, block, out=out)

        def add(o0, o1, out=out, c0=c0, m=m):   # output channels o0..o1, every tap
            for t, shift in enumerate(shifts):
                lo, hi = max(c0 - shift, 0), min(c0 + m - shift, L)
                if hi > lo:
                    acc[o0:o1, lo:hi] += out[t * O + o0:t * O + o1,
                                             lo + shift - c0:hi + shift - c0]
        run_split(add, O, 2 * len(shifts) * O * m * x.itemsize, xp)
        del block, out
    del first
    return acc


def add_shifted(acc, products, shifts, fresh):
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


def shift_weight_grad(x, g, pads, dilation, kernel, out=None):
    """gw (O, C, *k) by shifted GEMMs: for each leading tap, g_wide (O, n*P) @ block[:,
    shift:shift + n*P]^T (n*P, kW*C), g_wide being g laid out like the images (zeros
    where outputs were cropped, so they add nothing). A large image goes in bands of rows
    (``bands``), their gradients added. ``out``: an (O, C, *k) array to write gw into, in
    place of a fresh one (where the bands are not cut)."""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, out_size = g.shape[1], g.shape[2:]
    cut = bands(C, O, size, pads, kernel, dilation, out_size, x.itemsize)
    if cut is not None:
        gw = 0
        for r0, r1, a, b, ends in cut:
            gw = gw + shift_weight_grad(x[:, :, a:b], g[:, :, r0:r1],
                                        (ends,) + tuple(pads[1:]), dilation, kernel)
        return gw
    step, tap_groups, _ = plan(N, C, O, kernel, extent(size, pads, kernel, dilation),
                               x.itemsize)
    # rows of W numbers (``packs``) unless the taps go in groups
    packed = len(tap_groups) == 1 and packs(size, pads, kernel, dilation)
    ext = extent(size, pads, kernel, dilation, packed)   # (the chunks planned as before)
    P, kw = _prod(ext), kernel[-1]
    shifts = taps(kernel, dilation, ext)
    # the sums and each product in scratch buffers: only the answer (O, C, *k) is allocated
    gw = _workspace("shift-gw", (len(shifts), kw * C, O), x.dtype, xp)
    keep = (slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)   # of (O, n, *E)
    for n0 in range(0, N, step):
        n1 = min(N, n0 + step)
        L = (n1 - n0) * P
        wide = _workspace("shift-g", (O, n1 - n0) + tuple(ext), x.dtype, xp)
        g_on = g[n0:n1].swapaxes(0, 1)                                 # (O, n, *L), a view

        def spread(o0, o1):                # output channels o0..o1, on one thread
            wide[o0:o1][keep] = g_on[o0:o1]
            zero_beyond(wide[o0:o1], out_size)    # cropped outputs: they add nothing
        run_split(spread, O, 2 * g_on.nbytes, xp)
        # g_wide as a row-major (L, O) matrix, one transposing pass that every tap's product
        # reuses: OpenBLAS ran (kW*C, L) @ (L, O) 4-35% faster so than with the transposed
        # view of (O, L) for O up to 64 (one thread; 10-70% on two), the same at O = 256.
        # (With a single tap and O = 64, one thread, the pass costs about what it saves.)
        wide_t = _workspace("shift-g-t", (L, O), x.dtype, xp)
        flat = wide.reshape(O, L)

        def turn(l0, l1):                  # positions l0..l1, on one thread
            wide_t[l0:l1] = flat[:, l0:l1].T
        run_split(turn, L, 2 * wide_t.nbytes, xp)
        wide = flat = None                  # the workspace is free again
        for j0, j1 in tap_groups:
            block = shift_planes(x[n0:n1], pads, dilation, kernel, (j0, j1), packed=packed)
            product = _workspace("shift-gw-t", ((j1 - j0) * C, O), x.dtype, xp)
            for t, shift in enumerate(shifts):
                # (kW*C, L) @ (L, O): the long L axis is the contraction and the small O axis
                # last; the other order, (O, L) @ (L, kW*C), ran 5-20x slower on 2 BLAS threads
                sums = gw[t, j0 * C:j1 * C]
                xp.matmul(block[:, shift:shift + L], wide_t, out=sums if n0 == 0 else product)
                if n0 > 0:
                    sums += product
            del block, product              # the workspace is free again for the next group
        wide_t = None                       # the workspace is free again for the next chunk
    # (taps, kW, C, O) -> (O, C, *k[:-1], kW)
    gw = gw.reshape(tuple(kernel[:-1]) + (kw, C, O))
    nd = len(kernel)
    turned = gw.transpose(nd + 1, nd, *range(nd - 1), nd - 1)
    if out is None:
        answer = xp.ascontiguousarray(turned)
    else:
        answer = out
        answer[...] = turned
    del gw, turned                          # (views of the workspace: free again)
    return answer


def flipped(w):
    """w (O, C, *k) -> (C, O, *k) turned by 180 degrees: the kernel of the adjoint."""
    nd = w.ndim - 2
    return w.swapaxes(0, 1)[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]


def adjoint_pads(geom):
    """Padding that makes the stride-1 convolution of g with the flipped kernel land exactly
    on x's extent: left d(k-1) - l, right S - L + l (zero-extending g); None if negative."""
    pads = tuple((d * (k - 1) - l, n - m + l) for k, d, (l, _), n, m in
                 zip(geom.kernel, geom.dilation, geom.padding, geom.in_size, geom.out_size))
    return pads if all(a >= 0 and b >= 0 for a, b in pads) else None
