"""The flattened layouts of ``_conv_shift``: how images become rows of numbers that one GEMM
reads, and the shifted copies of them (``shift_planes``).

``_conv_shift`` lays each zero-padded image out as one flat row, E = W + max(l, r) numbers
per image row (``extent``), and makes a leading tap's term a read of the products that many
places further on; rows and images share their padding zeros. Two layouts drop the zeros
where ``packs``: two or more spatial axes, padding along the last one, and output rows no
longer than x's ('same' padding and narrower; without padding there are no zeros to drop,
and the rows layout's adds over rows shorter than x's ran 8% slower). For a 2-d 3x3 with
padding 1 on H x W planes, as in a ResNet:

``packed`` (the weight gradient's): (H + 1) W numbers per image, not
    (H + 1)(W + 1). A horizontal copy j reads x's column w + j*dW - l for column w; where
    that falls outside the row, it read the next or previous row's cell: those columns of
    each copy are zeroed (``zero_wrapped``, a column or two).
``rows`` (the forward and the input gradient): H W numbers per image, the
    horizontal copies packed as above and no zero rows either. A leading tap's product is
    then added only over the output rows whose reads stay inside the image, each image's
    rows read where they lie (``add_rows``: strided views, runs of (H - 1) W numbers), and
    the sums go straight into y (no accumulator to crop, the bias added on the way). (Not
    for a y strided along its rows, nor for a w holding an inf or NaN: ``shift_conv``
    says why.)

On 16x16 planes the GEMMs then compute 1.0x the outputs, not 1.13x (packed: 1.06x); on
32x32 1.0x, not 1.06x. (That also makes the products' rows a power of two long: they are
padded a little, ``padded_rows``, or the GEMM writing them slows down.) Measured on a
2-core Xeon (AVX-512), one thread, CPU time, alternating in-process against the padded
layout: the ResNet step's 3x3 layers, 16 images, forward / input gradient / weight
gradient: 128 channels at 16x16 12.1 -> 10.5, 11.9 -> 10.4, 12.4 -> 11.8 ms; 32 at 64x64
16.2 -> 15.6, 16.9 -> 15.8, 18.7 -> 18.7; 64 at 32x32 12.6 -> 12.5, 12.3 -> 12.2,
14.1 -> 13.7 (0-3% in other runs); on two threads 0.88x / 0.87x / 0.93x at 16x16,
0.90x / 0.86x / 0.98x at 64x64, 0.92x / 0.96x / 1.0x at 32x32; the whole step 4% less CPU
time on one and on two threads. conv_sweep's
steps (forward + both gradients): 8x256x14x14 0.87x, 64x32x14x14 0.85x, 8x64x28x28 k7
0.87x, 'same' k4 0.91x, dilation 2 0.89x, 3-d 8x16x8^3 0.90x (dilation 2: 0.69x); its other
cases within the noise (+-5%).

    extent, taps                            the numbers per step, the leading taps' reads
    shift_planes(x, pads, ...)              the kW shifted copies of a chunk of images
    packs(size, pads, ...)                  whether the packed and rows layouts apply
    zero_wrapped(copy, offset, W)           zero a packed copy's wrapped columns
    add_rows(y, products, ...)              y = the sum of the leading taps' products
"""
from __future__ import annotations

import itertools

from .. import backend
from ..parallel import run_split
from ._util import prod as _prod
from ._workspace import workspace as _workspace


def extent(size, pads, kernel, dilation, packed=False):
    """The numbers per step along each axis of the flattened layout: E = max(S + max(l, r), L).

    Images are not padded each on its own (S + l + r per axis): consecutive rows (and images)
    share their zeros. A row is S numbers and E - S zeros; a read up to r past a row's end
    lands in those zeros, and so does a read up to l before the next row's start, since both
    are at most E - S away. E must also hold a row of L outputs. With 3x3 kernels and padding
    1 that is (H + 1)(W + 1) numbers per image instead of (H + 2)(W + 2): on 16x16 planes the
    GEMMs compute 1.13x the outputs instead of 1.27x.

    ``packed``: the last axis holds no zeros at all, E = W (the module's docstring).
    """
    ext = [max(m + max(l, r), m + l + r - d * (k - 1))
           for m, (l, r), k, d in zip(size, pads, kernel, dilation)]
    if packed:
        ext[-1] = size[-1]
    return ext


def taps(kernel, dilation, ext):
    """How far each leading kernel tap (all axes but the last) reads ahead in the flattened
    layout: sum over axes of p_a * d_a * (numbers per step along axis a)."""
    return [sum(p * d * _prod(ext[a + 1:]) for a, (p, d) in enumerate(zip(tap, dilation)))
            for tap in itertools.product(*(range(k) for k in kernel[:-1]))]


def shift_planes(x, pads, dilation, kernel, cols=None, first_only=False, packed=False):
    """The shifted copies of the zero-padded images: a (kW*C, n*P + tail) block.

    Each image is flattened to a row of P = prod(E) numbers (``extent``: its rows share
    their padding zeros) and the n images of the chunk are laid end to end, so one GEMM
    covers them all::

        block[j*C + c, m*P + t] = (image m, channel c at flat position t + j*dW)

    ``tail`` zeros follow, for the taps of the last image. ``cols`` = (j0, j1) makes only the
    copies j0 <= j < j1 (rows (j - j0)*C + c), for kernels too wide to copy all at once.

    Copy 0 *is* the padded layout: x is written into its interior, once (the only strided
    copy), and its padding zeroed; every other copy j is then that row read j*dW numbers
    further on, a plain copy of long contiguous rows (half the time of writing each copy from
    x). Cells read round from the next row or image feed only output columns cropped away.

    ``first_only``: make copy j0 alone, every column that the other copies would read from it
    (a (C, width + (j1 - j0 - 1)*dW) array): ``shift_conv_columns`` copies its parts itself.

    ``packed``: the layout has no zeros along the last axis (``extent``): copy j's column w
    reads x's column w + j*dW - l, and where that is outside the row, the copy read the next
    or previous row's cells: those columns of every row are zeroed (a column or two). (The
    rows layout is this with the leading axes unpadded and one tap long.)
    """
    xp = backend.xp_of(x)
    n, C, *size = x.shape
    kw, dw = kernel[-1], dilation[-1]
    j0, j1 = cols or (0, kw)
    assert not (packed and first_only)
    ext = extent(size, pads, kernel, dilation, packed)
    P = _prod(ext)
    tail = max(taps(kernel, dilation, ext))     # the furthest a leading tap reads past n*P
    width = n * P + tail                               # the columns a copy has
    # where x's first number lands in copy j0 (the padding before it, less j0*dW)
    shift = pads[-1][0] - j0 * dw + sum(l * _prod(ext[a + 1:])
                                        for a, (l, _) in enumerate(pads[:-1]))
    # a row of copy j0 is read (j1 - j0 - 1)*dW further on by the last copy, and holds n
    # images from `shift` on
    row = max(width + (j1 - j0 - 1) * dw, shift + n * P)
    buf = _workspace("shift", (1 if first_only else j1 - j0, C, row), x.dtype, xp)
    first = buf[0]          # copy j0: the images read j0*dW on (x written that earlier)
    inner = (slice(None), slice(None)) + tuple(slice(0, m) for m in size)
    src = x.swapaxes(0, 1)                                                   # (C, n, *S), a view
    whole = None
    if shift < 0:
        # a group of taps that starts past the left padding: x's first -shift numbers fall
        # off the front (only outputs this group does not compute read them)
        whole = xp.zeros([C, n] + ext, dtype=x.dtype)
        whole[inner] = src

    def copy(c0, c1):                     # channels c0..c1 of every copy, on one thread
        if whole is None:
            first[c0:c1, :shift] = 0
            images = first[c0:c1, shift:shift + n * P].reshape([c1 - c0, n] + ext)
            images[inner] = src[c0:c1]
            zero_beyond(images, size)    # the padding (a reused buffer holds old numbers)
        else:
            first[c0:c1, :n * P + shift] = whole[c0:c1].reshape(c1 - c0, n * P)[:, -shift:]
        first[c0:c1, shift + n * P:] = 0
        for j in range(1, 1 if first_only else j1 - j0):
            buf[j, c0:c1, :width] = first[c0:c1, j * dw:j * dw + width]
        if packed:                        # (after every copy: copy 0 is their source)
            for j in range(j1 - j0):
                zero_wrapped(buf[j, c0:c1, :width], (j0 + j) * dw - pads[-1][0], ext[-1])
    run_split(copy, C, 2 * (j1 - j0) * C * width * x.itemsize, xp)
    if first_only:
        return buf[0]
    # (j1 - j0, C, row) -> ((j1 - j0) * C, width): the first `width` columns of every row
    return buf.reshape((j1 - j0) * C, row)[:, :width]


def zero_beyond(a, size):
    """Zero every cell of a (A, B, *E) outside its leading (A, B, *size) corner."""
    for ax, m in enumerate(size):
        a[(slice(None), slice(None)) + tuple(slice(0, k) for k in size[:ax]) +
          (slice(m, None),)] = 0


def packs(size, pads, kernel, dilation):
    """Whether the layout can be ``packed``: two or more spatial axes (a 1-d image's padding
    is already shared with the next image's), padding along the last axis to save, and a row
    of outputs no longer than a row of x (the padding reaches no further than the kernel:
    'same' and narrower)."""
    return len(size) >= 2 and any(pads[-1]) and rows_fit(size, pads, kernel, dilation)


def rows_fit(size, pads, kernel, dilation):
    """Whether a row of outputs is no longer than a row of x (and there are rows: two or
    more spatial axes)."""
    (l, r), W = pads[-1], size[-1]
    return len(size) >= 2 and W + l + r - dilation[-1] * (kernel[-1] - 1) <= W


def zero_wrapped(copy, offset, W):
    """Zero the columns of a packed copy (C, width), rows of W numbers, whose cells read x's
    column (column + ``offset``) outside [0, W): the row before's or after's cells."""
    if offset == 0:
        return
    bad = slice(0, min(W, -offset)) if offset < 0 else slice(max(0, W - offset), W)
    rows = copy.view()
    rows.shape = (copy.shape[0], copy.shape[1] // W, W)     # a view (an error if not one)
    rows[:, :, bad] = 0


def _tap_rows(tap, dilation, pads, size, out_size):
    """For a leading tap: (output rows, product rows) per leading axis, as slices, or None
    when the tap reads no row of x. Output row i reads x's row i + p*d - l."""
    dst, src = [], []
    for p, d, (l, _), S, L in zip(tap, dilation, pads, size, out_size):
        off = p * d - l
        i0, i1 = max(0, -off), min(L, S - off)
        if i1 <= i0:
            return None
        dst.append(slice(i0, i1))
        src.append(slice(i0 + off, i1 + off))
    return dst, src


def add_rows(y, products, kernel, dilation, pads, size, bias=None):
    """y (n, O, *L) = the sum over leading taps t of products' rows t*O..(t+1)*O, each read
    over the rows where the tap stays inside the image (+ bias (O,)).

    products: (T*O, n * prod(S)), tap t's term for every position of x (the ``rows``
    layout: images of prod(S) numbers end to end, the last axis W long). A tap that covers
    every output row (the middle one of an odd kernel with 'same' padding) writes y first,
    the others add into their rows. The output channels are cut over the threads."""
    xp = backend.xp_of(y)
    n, O, *out_size = y.shape
    nd = len(out_size)
    lead = list(itertools.product(*(range(k) for k in kernel[:-1])))
    terms = []                            # (covers every row, y's rows, the product's rows)
    for t, tap in enumerate(lead):
        rows = _tap_rows(tap, dilation, pads, size, out_size)
        if rows is not None:
            full = all(s.start == 0 and s.stop == L for s, L in zip(rows[0], out_size))
            terms.append((full, t, tuple(rows[0]), tuple(rows[1])))
    terms.sort(key=lambda term: not term[0])          # the full ones first, in tap order
    on = products.view()
    on.shape = (len(lead), O, n) + tuple(size)        # a view (an error if not one)
    keep = (slice(0, out_size[-1]),)                  # of the last axis: W >= L
    yv = y.swapaxes(0, 1)                             # (O, n, *L), a view
    b = None if bias is None else bias.reshape((-1,) + (1,) * (nd + 1))

    def term(o0, o1, t, src):              # tap t's rows that its outputs read
        return on[t, o0:o1][(slice(None), slice(None)) + src + keep]

    def add(o0, o1):
        dst = yv[o0:o1]
        rest = list(terms)
        if rest and rest[0][0]:
            first = term(o0, o1, *rest.pop(0)[1::2])
            if b is not None:
                xp.add(first, b[o0:o1], out=dst)
            elif rest and rest[0][0]:
                xp.add(first, term(o0, o1, *rest.pop(0)[1::2]), out=dst)
            else:
                dst[...] = first
        else:
            dst[...] = 0 if b is None else b[o0:o1]
        for _, t, rows, src in rest:
            dst[(slice(None), slice(None)) + rows] += term(o0, o1, t, src)
    run_split(add, O, (len(terms) + 1) * y.nbytes, xp)
    return y
