"""Depthwise 2-d convolutions as banded matrix products: the forward (the input gradient of
a stride-1 depthwise convolution is itself one, with the kernel flipped:
``_conv_depthwise._transposed``; a row-strided one on enough rows takes
``_conv_depthwise_rows``; the other gradients take ``_conv_depthwise_lanes``).

A depthwise 3x3 is 9 multiply-adds per output: as passes over memory (a copy or a
multiply-add per tap) numpy spends its time moving numbers, and on two threads such passes
barely run faster than on one. A matrix product runs at the processor's speed and splits
well, so this formulation trades arithmetic for passes. For one channel, R output rows
(a *band*) read R + dh (kh - 1) input rows; stack, for every row h the band reads, its kw
horizontal shifts (dj = 0 .. kw-1), and an output row is a fixed combination of those
K = (R + dh (kh - 1)) kw stacked rows -- the same for every band of the channel:

    T (R, K):  T[r, (h, dj)] = w[di, dj]  where h = r + di dh, else 0      (a banded matrix)
    S (K, N):  S[(h, dj), q] = xpad[row h, column q + dj dw]               (the stacked rows)
    Y (R, N) = T @ S                                                        (one GEMM a band)

    3x3, R = 2:   rows in the band's reach h = 0 1 2 3; K = 4 x 3 shifts
        T = | w00 w01 w02  w10 w11 w12  w20 w21 w22   0   0   0 |    output row 0
            |   0   0   0  w00 w01 w02  w10 w11 w12  w20 w21 w22 |    output row 1

The columns q run over every image of the block side by side, each padded to Wp columns
(the wide rows of ``_conv_shift``): N = n Wp, and the columns past an image's last output
are computed and cropped. T is (R + 2)/3 times as much arithmetic as the taps need (3.3x for
R = 8) but one GEMM replaces 9 copies and a matrix-vector product per tap stack: on one core
190 us per 64-channel 32x32 image against 280 for ``_conv_depthwise``'s stacks.

A stride (sh, sw): output row r of a band reads rows r sh + di dh, so T's taps step sh
columns of (h, dj) blocks a row and a band spans (R - 1) sh + dh (kh - 1) + 1 rows (R is
STRIDED_ROWS, fewer than ROWS / sh: see there); with sw > 1, each image's row is padded to
a whole number of strides, cols of them (cols >= Wo), and shift dj holds the padded row's
columns q sw + dj dw (``_strided_columns``: for float32 and sw = 2 a cast of 64-bit pairs,
no copy at the stride) instead of the wide rows.

Every product of T's zeros with S is a real zero only for finite S: an inf or NaN in x (or
in w) takes ``_conv_depthwise``'s taps instead (``fits``).

    forward(x, w, b, geom, y)     x (N, C, H, W), w (C*m, 1, kh, kw) -> y (N, C*m, Ho, Wo)
"""
from __future__ import annotations

import sys

import numpy as np

from .. import parallel
from ._workspace import workspace as _workspace

# Output rows per band. More rows waste more arithmetic on T's zeros ((R + 2) / 3 for a
# 3x3); fewer make K small, where the GEMM runs slower (32x64x32x32 forward on two threads,
# 4 MB stacks: R = 4 5.2 ms, 8 4.9, 16 5.4)
ROWS = 8
# With a row stride sh > 1, at most this many rows a band (and ROWS // sh, at least 1): this
# changes only sh = 2, whose 4 rows a band read 9 input rows (K = 27 products an output for
# a 3x3) where 2 rows read 5 (K = 15). Float32 forward on one core, R = 2 against 4:
# 32x128x28x28 3x3 stride 2 3.6-4.0 ms against 3.9-4.3; 8x96x56x56 2.6 / 3.0; stride (2, 1)
# on 32x128x28x28 6.6 / 7.6. R = 1 (a product per output row) was no faster; for stride 3,
# R = 1 or 2 ran alike
STRIDED_ROWS = 2
# The stack S of a block of images and channels holds about this many bytes: 64 channels of
# a 32x32 image, 0.8 MB, ran 250 us per image; two to four images 190-200; eight (6.8 MB,
# past this machine's 2 MB of L2) 700 (so it read then). On two threads larger blocks win:
# each block is a few dozen numpy calls, and the threads take turns through the interpreter
# lock between them. Float32 32x64x32x32 3x3 stride 1, forward (input gradient), medians
# under a real-time priority on 2 cores: one thread 1 MB 7.3 ms (6.9), 4 MB 7.0 (6.1), 8 MB
# 6.8 (6.2), 16 MB 7.4 (6.9); two threads 1 MB 7.9 (6.8), 2 MB 5.8 (5.4), 4 MB 4.5 (4.1),
# 8 MB 4.0 (3.9), 16 MB 4.2 (3.7). One thread keeps 4 MB (in the benchmark's whole step, 8
# MB ran about 4% slower there); several take THREADED_SCALE times that
STACK_BYTES = 4 << 20
THREADED_SCALE = 2


# Images of at most this many padded columns have their stack zeroed by one fill before the
# copy, not just the padding around x's columns (a few numbers a row, numpy's inner loop
# started for each): float32 3x3, forward and input gradient, ms on one / two threads, those
# zeros against the fill: 32x64x32x32 13.2 / 7.9-8.4 against 12.8 / 7.3-7.4; 4x64x20x20
# 1.05 / 0.96 against 0.94 / 0.91; but 8x96x56x56 15.6 / 9.4 against 16.2 / 9.1 and
# 16x32x112x112 43 / 25 against 47 / 27
FILL_WIDTH = 48


# Planes with fewer outputs keep the taps: forward and both gradients on one core, 7x7
# outputs (4x128 channels) 1.14x the taps' time, 8x8 1.04x; 14x14 0.89x, 16x16 0.63-0.99x,
# 32x32 0.77x, 112x112 0.71x
MIN_OUTPUTS = 100


def fits(x, w, geom):
    """Whether this formulation applies: 2-d, planes of MIN_OUTPUTS outputs or more, numpy,
    finite x and w."""
    return (fits_shape(x, geom) and bool(np.isfinite(w.sum())) and
            bool(np.isfinite(x.sum())))


def fits_shape(x, geom):
    """``fits`` but for the finiteness of x and w, which a caller that checked it once for
    several calls need not pay again."""
    return (len(geom.kernel) == 2 and type(x) is np.ndarray and x.dtype.kind == "f" and
            geom.out_size[0] * geom.out_size[1] >= MIN_OUTPUTS)


class Bands:
    """The banded layout of a geometry for a channel multiplier m: ``R`` rows a band,
    ``bands`` of them, each reading ``span`` = (R - 1) sh + dh (kh - 1) + 1 rows, ``rows`` of
    S in all, ``cols`` columns an image (the padded width Wp for a column stride of 1; with
    ``pairs`` (float32 ``dtype``, sw = 2) ``seg`` / sw, ``seg`` >= Wp being as many padded
    columns as reach x's last column and the last output's window, rounded up to whole
    strides; else exactly the Wo outputs), and ``K`` = span kw."""

    def __init__(self, geom, m, dtype=None):
        (self.kh, self.kw), (self.dh, self.dw) = geom.kernel, geom.dilation
        self.sh, self.sw = geom.stride
        (self.top, _), (self.left, right) = geom.padding
        self.H, self.W = geom.in_size
        self.Ho, self.Wo = geom.out_size
        self.m = m
        self.Wp = self.W + self.left + right
        self.cols = self.Wp if self.sw == 1 else self.Wo
        self.pairs = dtype is not None and _pairs_fit(dtype, self.sw)
        if self.pairs:
            # an image's segment of the phase rows: its padded columns up to the last one
            # that x fills or an output reads, rounded up to whole strides
            need = max(self.left + self.W, self.sw * (self.Wo - 1) +
                       self.dw * (self.kw - 1) + 1)
            self.cols = -(-need // self.sw)
            self.seg = self.sw * self.cols
            # what the last image's cropped columns read past its segment (one more for
            # the pairs of ``_strided_columns``; an even row keeps every row's pairs aligned)
            self.tail = self.dw * (self.kw - 1) + 1
            self.tail += self.tail % 2
        self.R = min(ROWS if self.sh == 1 else min(STRIDED_ROWS, ROWS // self.sh or 1),
                     self.Ho)
        self.bands = -(-self.Ho // self.R)
        self.reach = self.dh * (self.kh - 1)
        self.span = (self.R - 1) * self.sh + self.reach + 1
        # (a stride may leave x's last rows unread; S still holds them)
        self.rows = max((self.bands * self.R - 1) * self.sh + self.reach + 1,
                        self.top + self.H)
        self.K = self.span * self.kw

    def per_channel(self, itemsize):
        """Bytes of S per image and channel."""
        return self.rows * self.kw * self.cols * itemsize

    def toeplitz(self, w, out):
        """w (C*m, 1, kh, kw) -> T (C, R*m, K), written into ``out`` (its numbers): row
        (r, j) of channel c holds the taps of output channel c*m + j at band rows r + di dh."""
        C = w.shape[0] // self.m
        T = out.reshape(C, self.R, self.m, self.span, self.kw)
        T.fill(0)
        r = np.arange(self.R)
        taps = w.reshape(C, self.m, self.kh, self.kw).transpose(0, 2, 1, 3)  # (C, kh, m, kw)
        for di in range(self.kh):
            T[:, r, :, r * self.sh + di * self.dh, :] = taps[:, di]   # (R, C, m, kw)
        return out.reshape(C, self.R * self.m, self.K)

    def stack(self, x, kind):
        """x (n, c, H, W) -> S (c, rows, kw, n*cols): row h, shift dj of every image of the
        block side by side; zeros in the padding. A column stride takes
        ``_strided_columns``; otherwise:

        One strided copy writes all kw shifts: shift dj starts dj*(n Wp - dw) numbers after
        shift 0, so that x's first columns, which shift dj moves before its row's start,
        land at the end of the row before, in columns that only cropped outputs read."""
        n, c = x.shape[:2]
        NW = n * self.cols
        size = c * self.rows * self.kw * NW
        S = _workspace(kind, (size,), x.dtype, np).reshape(c, self.rows, self.kw, NW)
        if self.sw > 1:
            self._strided_columns(x, S)
            return S
        self._zero_around(S, n)
        isz = x.itemsize
        first = S[:, self.top, 0, self.left:]
        into = np.lib.stride_tricks.as_strided(
            first, (c, self.H, self.kw, n, self.W),
            (S.strides[0], S.strides[1], (NW - self.dw) * isz, self.Wp * isz, isz))
        into[...] = x.transpose(1, 2, 0, 3)[:, :, None]
        return S

    def _strided_columns(self, x, S):
        """S for a column stride sw: without ``pairs``, ``_strided_copies``; with them, in
        two copies. First x's rows, padded, into a scratch
        P (c, H, n seg + tail): each image's row in a segment of seg = sw cols columns (and
        zeros round it). Then S's shift dj at column q is P's number sw q + dj dw of
        the row. Output column j of image i reads P's i seg + j sw + dj dw, inside the
        image's segment; the cols - Wo cropped columns after it read on into the next
        image's (or the zero tail).

        For float32 and sw = 2 (the common strided depthwise), P from number dj dw on, seen
        as 64-bit pairs, holds shift dj's numbers in the pairs' first halves: a cast of the
        pairs to 32 bits keeps those, so each shift is a contiguous cast, not a copy at the
        stride (float32, 32x128x28x28 3x3 stride 2, one core: 2.5 ms for the stacks
        straight from x at the stride, 2.1 this way)."""
        if not self.pairs:
            return self._strided_copies(x, S)
        n, c = x.shape[:2]
        top, H = self.top, self.H
        S[:, :top] = 0
        S[:, top + H:] = 0
        width = n * self.seg
        P = _workspace("bands-p", (c, H, width + self.tail), x.dtype, np)
        # (one fill: zeroing just the padding's few columns an image took 1.6x as long)
        P.fill(0)
        rows = P[:, :, :width].reshape(c, H, n, self.seg)
        rows[..., self.left:self.left + self.W] = x.transpose(1, 2, 0, 3)
        into = S.view(np.uint32)
        for dj in range(self.kw):
            a = dj * self.dw
            np.copyto(into[:, top:top + H, dj], P[:, :, a:a + width].view(np.uint64),
                      casting="unsafe")
        del rows, P                    # the workspace is free again

    def _strided_copies(self, x, S):
        """``_strided_columns`` without the pairs (cols = Wo): shift dj holds, at output
        column j of each image, x's column j sw + dj dw - left (0 where that is padding) -- a
        copy per shift, reading x at the stride, and no cropped columns. (Copying x's rows
        into a padded scratch first, then all shifts from it at the stride, took 1.1x this:
        float64, 32x128x30x30 3x3 stride 3, one core.)"""
        n, c = x.shape[:2]
        S5 = S.reshape(c, self.rows, self.kw, n, self.Wo)
        S5[:, :self.top] = 0
        S5[:, self.top + self.H:] = 0
        src = x.transpose(1, 2, 0, 3)                                  # (c, H, n, W)
        for dj in range(self.kw):
            into = S5[:, self.top:self.top + self.H, dj]               # (c, H, n, Wo)
            off = dj * self.dw - self.left           # x's column read by output column 0
            j0 = min(self.Wo, max(0, -(off // self.sw)))               # the first in x
            j1 = max(j0, min(self.Wo, (self.W - 1 - off) // self.sw + 1))   # past the last
            into[..., :j0] = 0
            into[..., j1:] = 0
            if j1 > j0:
                start = j0 * self.sw + off
                into[..., j0:j1] = src[..., start:start + (j1 - j0 - 1) * self.sw + 1:self.sw]

    def _zero_around(self, S, n):
        """Zero every number of S that x's copy will not write (a fill of all of S cost as
        much as a third of the copy): the rows above and below x's, and in x's rows, for
        each shift dj, the left + right numbers of every image's Wp that x's W do not
        cover -- an interval that wraps round the image's end when dj moves x left (then
        each image's end holds the next image's first columns, and the last image's end
        nothing). Rows of at most FILL_WIDTH padded columns take one fill of S instead."""
        if self.Wp <= FILL_WIDTH:
            S.fill(0)
            return
        c, top, H, Wp = S.shape[0], self.top, self.H, self.Wp
        S[:, :top] = 0
        S[:, top + H:] = 0
        gap = Wp - self.W
        for dj in range(self.kw):
            seg = S[:, top:top + H, dj].reshape(c, H, n, Wp)
            start = (self.left - dj * self.dw + self.W) % Wp
            seg[..., start:start + gap] = 0
            if start + gap > Wp:
                seg[..., :start + gap - Wp] = 0
            moved = dj * self.dw - self.left     # x's first columns, moved before the row:
            if moved > 0:                        # the last image's tail then holds nothing
                seg[:, :, -1, Wp - moved:] = 0

    def band_view(self, S):
        """S (c, rows, kw, N) as (c, bands, K, N): band t reads rows t R sh .. + span."""
        s = S.strides
        return np.lib.stride_tricks.as_strided(
            S, (S.shape[0], self.bands, self.K, S.shape[3]),
            (s[0], self.R * self.sh * s[1], s[2], s[3]))

    def outputs(self, Y, n):
        """Y (c, bands, R*m, n*cols) -> the outputs, a view (c, Ho, m, n, Wo)."""
        c = Y.shape[0]
        full = Y.reshape(c, self.bands * self.R, self.m, n, self.cols)
        return full[:, :self.Ho, :, :, :self.Wo]


def _pairs_fit(dtype, sw):
    """Whether ``_strided_columns`` may take its pairs: a stride of 2 over float32 stored
    first number in the low half of a 64-bit pair (little-endian)."""
    return sw == 2 and np.dtype(dtype) == np.float32 and sys.byteorder == "little"


def _blocks(N, C, per_channel):
    """(n0, n1, c0, c1) of the blocks: whole images of all channels where several fit in
    STACK_BYTES (THREADED_SCALE times that with several threads set), else part of one image's channels; the blocks as nearly of one size as
    their count allows (``_even``: 16 images in blocks of 9 would leave one of 7: 8 and 8)."""
    per_image = C * per_channel
    size = STACK_BYTES * (THREADED_SCALE if parallel.get_num_threads() > 1 else 1)
    if per_image >= size:
        bn, bc = 1, _even(C, max(1, size // per_channel))
    else:
        bn, bc = _even(N, max(1, size // per_image)), C
    for n0 in range(0, N, bn):
        for c0 in range(0, C, bc):
            yield n0, min(N, n0 + bn), c0, min(C, c0 + bc)


def _even(n, most):
    """The smallest block size that cuts n into as few blocks as ``most`` does (at most
    ``most``): the blocks as nearly one size as one size for all but the last allows."""
    return -(-n // -(-n // most))


def forward(x, w, b, geom, y):
    """y = x (*) w + b, written into y (N, C*m, Ho, Wo): per block, S, then one GEMM per
    channel and band, Y (c, bands, R*m, n Wp) = T @ S, cropped into y."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    lay = Bands(geom, m, x.dtype)
    yv = y.reshape(N, C, m, lay.Ho, lay.Wo)
    bias = None if b is None else b.reshape(C, 1, m, 1)
    # every channel's banded matrix once, not once a block (a block of images holds all
    # the channels: six blocks' matrices took 0.2 ms of a 4.5 ms forward, float32
    # 32x128x28x28 stride 2, one core)
    T_all = lay.toeplitz(w, _workspace("bands-t", (C * lay.R * m * lay.K,), x.dtype, np))
    for n0, n1, c0, c1 in _blocks(N, C, lay.per_channel(x.itemsize)):
        n, c = n1 - n0, c1 - c0
        S = lay.stack(x[n0:n1, c0:c1], "bands-s")
        T = T_all[c0:c1, None]                                      # (c, 1, R*m, K)
        Y = _workspace("bands-y", (c, lay.bands, lay.R * m, n * lay.cols), x.dtype, np)
        np.matmul(T, lay.band_view(S), out=Y)
        if bias is not None:
            # onto Y's long rows while they are in cache, not onto y's strided outputs
            # after the copy (a three-operand add in the copy buffered all three): float32
            # 32x64x32x32 forward, 6.7-7.1 -> 6.7 ms on one thread, 3.9-4.2 -> 3.9 on two
            Y.reshape(c, lay.bands * lay.R, m, -1)[...] += bias[c0:c1]
        into = yv[n0:n1, c0:c1].transpose(1, 3, 2, 0, 4)             # (c, Ho, m, n, Wo)
        into[...] = lay.outputs(Y, n)
        del S, T, Y                    # the workspace is free again for the next block

