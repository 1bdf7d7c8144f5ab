"""The row kernels behind ``feature_norm``'s one-node layer_norm and group_norm: numpy
arrays in and out, no autograd.

A normalisation does little arithmetic per number, so its time is the passes it makes over
memory. Each of them sees its input as rows (M, D) normalised one by one (layer_norm: the
samples; group_norm: the (sample, group) pairs), and runs the passes of a block of rows
(``row_blocks``) one after another while the block is in cache, the blocks split over
minigrad's threads (``over_rows``):

    mu = sum(row) / D,   var = sum((row - mu)^2) / D   (two passes: the digits of a row
    whose mean is large beside its spread are kept),   invstd = 1 / sqrt(var + eps)

A row as long as a block (a layer_norm over (C, H, W)) is its own block, its mean and
factors scalars (numpy's scalar loops; no (1, D) matrix made, no (1,) @ (1, D) product,
which the matrix library ran at an eighth of a pass's speed). The passes that multiply runs
by per-run factors run under a short ufunc buffer (``_small_buffer``). (One pass for the
statistics, sum x and sum x^2 by matrix products, then y = x * s + t with s, t made as
(k, D) matrices, measured no faster than the two passes here, and loses the digits above.)
A channels-last group_norm input runs on its (N, positions, C) rows instead
(``group_norm_channels_last``).
"""
from __future__ import annotations

import numpy as np

from ..parallel import blas_on_one_thread, run_split
from ._batch_norm_kernels import channels_last_rows, column_sums, from_rows
from ._workspace import workspace

__all__ = ["row_blocks", "over_rows", "row_dots", "layer_norm_rows",
           "layer_norm_grad_rows", "group_norm_rows", "group_norm_grad_rows",
           "group_norm_channels_last", "group_norm_grad_channels_last"]


def row_dots(a, b):
    """(M,) the dot products of the rows of a and b, both (M, D): one (1, D) @ (D, 1)
    matrix product per row, the matrix library's dot, which sums in more running sums than
    einsum does (a float32 row of 4096 squares: 3e-8 relative error, einsum's 4e-7; of 1M:
    1e-6 against 6e-5) and in 60% of its time from rows of 128 on (einsum below: a call
    per row costs more than short rows save)."""
    if a.shape[1] < _MATMUL_ROW:
        return np.einsum("ij,ij->i", a, b)
    return np.matmul(a[:, None, :], b[:, :, None]).reshape(a.shape[0])


_MATMUL_ROW = 128


# numbers per block of rows: a block and its temporaries stay in the L2 cache, so the passes
# after the first read it there (layer_norm 32x128x768 float32, one thread: forward 4.4 ms
# instead of 5.1 in whole-array passes, a training step's forward and backward 14 instead
# of 21)
_ROW_BLOCK = 1 << 17


def row_blocks(m, d, start=0, block=None):
    """The rows start..m of d numbers as slices of whole rows, about ``block`` (by default
    _ROW_BLOCK) numbers each."""
    step = max(1, (_ROW_BLOCK if block is None else block) // max(d, 1))
    return [slice(i, min(i + step, m)) for i in range(start, m, step)]


def over_rows(piece, m, d, nbytes, blas=None, runs=0):
    """piece(start, stop) over parts of m rows of d numbers, a part per thread when the
    passes move ``nbytes`` in all (``parallel.run_split``); the BLAS calls of the pieces
    (``blas``: the most numbers one of them reads; d by default, a row's dot product) on
    each piece's own thread. ``runs``: the length of the runs that the pieces multiply by
    per-run factors (columns); from _SMALL_BUFFER on, in an array large enough, each piece
    runs with numpy's ufunc buffer at _SMALL_BUFFER elements (``_small_buffer``)."""
    if _short_buffer_for(runs, m * d):
        piece = _small_buffer(piece)
    with blas_on_one_thread(d if blas is None else blas):
        run_split(piece, m, nbytes)


# A product or sum of a block (k, D) and a column (k, 1) (a per-row factor) ran at two
# thirds of a same-shape pass's speed with numpy's default ufunc buffer of 8192 elements,
# and at a scalar product's speed once the buffer is no longer than a row (the loop then
# takes the column as one number per row): instance_norm's backward, 16x64x32x32 float32,
# one thread, 1.86 -> 1.43 ms; layer_norm's, 4096 x 768, 6.9 -> 6.3 ms. Setting the buffer
# costs a few microseconds: only for arrays of _SMALL_BUFFER_FROM numbers on.
_SMALL_BUFFER = 512
_SMALL_BUFFER_FROM = 1 << 16


def _short_buffer_for(runs, size):
    """Whether ``over_rows`` runs pieces multiplying runs of ``runs`` numbers by per-run
    factors, in an array of ``size`` numbers, under the short ufunc buffer."""
    return runs >= _SMALL_BUFFER and size >= _SMALL_BUFFER_FROM


def _small_buffer(piece):
    """piece run with numpy's ufunc buffer at _SMALL_BUFFER elements, then set back (the
    setting is local to the thread's numpy error-state context)."""
    def run(start, stop):
        before = np.setbufsize(_SMALL_BUFFER)
        try:
            piece(start, stop)
        finally:
            np.setbufsize(before)
    return run


class _Outer:
    """col (k,) times the fixed row (D,) as a (k, D) matrix, written into ``out``: a matrix
    product of (k, 2) by (2, D) with a zero second column and row, numpy's (k, 1) @ (1, D)
    going by a slower path (10x at 1024 x 128). A row (D,) broadcast down a block by a
    ufunc costs about twice a same-shape pass, and a column (k, 1) broadcast along the rows
    three times: a matrix made here then used same-shape costs less."""
    def __init__(self, row, k):
        self.left = np.zeros((k, 2), row.dtype)
        self.right = np.zeros((2, row.shape[0]), row.dtype)
        self.right[0] = row

    def __call__(self, col, out):
        left = self.left[:col.shape[0]]
        left[:, 0] = col
        return np.matmul(left, self.right, out=out)


def _block_statistics(x_b, c, ones, eps, mu, var, invstd, column=False):
    """A block of rows x_b (k, D): its means into ``mu``, its biased variances into ``var``
    (unless None) and 1 / sqrt(var + eps) into ``invstd`` (each (k,)); ``c`` (k, D) left
    holding x_b - mu (the mean spread by a copy, then subtracted in one same-shape pass;
    with ``column``, under a short ufunc buffer (``_small_buffer``), subtracted as a column
    in one pass). Returns the block's invstd (a (k,) array)."""
    d = x_b.shape[1]
    mean = x_b @ ones
    mean /= x_b.dtype.type(d)
    mu[...] = mean
    if x_b.shape[0] == 1:               # one row: its mean a scalar, one scalar pass
        np.subtract(x_b, mean[0], out=c)
    elif column:
        np.subtract(x_b, mean[:, None], out=c)
    else:
        np.copyto(c, mean[:, None])
        np.subtract(x_b, c, out=c)
    v = row_dots(c, c) / d
    if var is not None:
        var[...] = v
    v += eps
    inv = np.sqrt(v, out=v)
    np.divide(1.0, inv, out=inv)
    invstd[...] = inv
    return inv


def layer_norm_rows(rows, w, b, eps):
    """layer_norm's forward on rows (M, D) with w, b (D,) or None -> (y, mu, invstd), y
    (M, D) = (rows - mu) invstd w + b: block by block of rows (``_FORWARD_BLOCK``), each
    block's passes in place in y while it is in cache (mu spread over the block by a copy
    and then taken from the rows in one same-shape pass; then times invstd, times w, plus
    b), the blocks over the threads. Few blocks: no scratch, as invstd w made as a (k, D)
    matrix in a kept scratch block (``_Outer``) took a same-shape product instead of two
    broadcast ones, but in a training step that block is out of cache at every call (a
    Transformer's 1024 x 128 float32 rows, one thread: 0.39 ms a call inside the step
    against 0.50). From ``_TILED_FROM`` blocks on, that block (and b laid down a block's
    rows) is made once and reused by them all while in cache."""
    m, d = rows.shape
    dt = rows.dtype
    y = np.empty((m, d), dt)
    mu = np.empty(m, dt)
    invstd = np.empty(m, dt)
    ones = np.ones(d, dt)

    def piece(start, stop):
        blocks = row_blocks(stop, d, start, _FORWARD_BLOCK)
        if len(blocks) < _TILED_FROM or blocks[0].stop - blocks[0].start == 1:
            # (rows as long as a block: each its own block, its invstd a scalar)
            for sl in blocks:
                c = y[sl]
                inv = _block_statistics(rows[sl], c, ones, eps, mu[sl], None, invstd[sl])
                c *= inv[0] if inv.shape[0] == 1 else inv[:, None]          # x_hat
                if w is not None:
                    c *= w
                if b is not None:
                    c += b
            return
        # many blocks: invstd w made as a (k, D) matrix (``_Outer``) and b laid down the
        # rows of a (k, D) block, both kept over the blocks, so that the scaling and the
        # shift are same-shape passes (a column or a row broadcast by a ufunc costs about
        # twice one: 8192 x 768 float32, one thread, forward 8.5 -> 6.7 ms)
        kmax = blocks[0].stop - blocks[0].start
        scale = _Outer(ones if w is None else w, kmax)
        s_buf = workspace("norm_rows_s", (kmax, d), dt, np)
        shift = None
        if b is not None:
            shift = workspace("norm_rows_b", (kmax, d), dt, np)
            np.copyto(shift, b)
        for sl in blocks:
            c = y[sl]
            k = sl.stop - sl.start
            inv = _block_statistics(rows[sl], c, ones, eps, mu[sl], None, invstd[sl])
            c *= scale(inv, s_buf[:k])                                      # x_hat w
            if shift is not None:
                c += shift[:k]
    over_rows(piece, m, d, _FORWARD_PASSES * rows.nbytes,
              blas=row_blocks(m, d, 0, _FORWARD_BLOCK)[0].stop * d)
    return y, mu, invstd


# layer_norm's forward keeps (k, D) blocks of invstd w and of b over the blocks of a piece
# from this many blocks on; fewer, and making them costs more than their same-shape passes
# save (above)
_TILED_FROM = 8


# numbers per block of rows in layer_norm's forward: the block of x and of y then take 512 KB
# of the 2 MB L2 cache (8192 x 768 float32, one thread, with a scratch block beside them:
# 11.4 ms instead of 12.9 in blocks twice the size, 11.8 in blocks half the size)
_FORWARD_BLOCK = 1 << 16


# the arrays of the rows' size each way reads and writes, counted for ``run_split``'s size
# rule: x and y forward; x, g, gx and the scratch block backward (5 kept from when it took
# two scratch blocks)
# (a Transformer's 1024 x 128 float32 rows stay on one thread: on a loaded 2-core machine
# they took about 0.6 ms forward and backward whole, no less split in two)
_FORWARD_PASSES = 2
_BACKWARD_PASSES = 5


def layer_norm_grad_rows(rows, g, mu, invstd, w, want_x, want_w, want_b, gx=None):
    """layer_norm's gradients on arrays from rows x (M, D), g (M, D), the forward's mu and
    invstd (M,), w (D,) or None: (gx written into ``gx`` (M, D) when want_x, gw (D,) or None,
    gb (D,) or None). With a = g w, c = x - mu and row sums sa = sum a = g @ w,
    sac = sum a c = (g c) @ w:

        dx = c beta + g (invstd w) + gamma,   beta = -sac invstd^3 / D,
                                              gamma = -sa invstd / D
        dw = invstd @ (g c),          db = ones @ g

    every sum a matrix-vector product; c made once (one subtraction of a column) and g c
    from it for dw and sac, whose digits it keeps for rows of a mean large beside their
    spread (sums of g x uncentred, PyTorch's CPU kernel's form, lost 3x more in float32 at a
    ratio of 1000). Block by block of rows while they are in cache: c made in the block of
    gx itself (when dx is wanted) and turned into c beta + gamma there; g c made in one
    kept scratch block and then turned into g (invstd w) (invstd w made as a (k, D)
    matrix, ``_Outer``), added to gx. (c in a second scratch block and gx written once as
    the sum cost a Transformer's 1024 x 128 float32 rows 0.82 ms a call inside a training
    step, where that block is out of cache at every call, against 0.74, and was no faster
    alone; gx written first by the matrix product and updated three times, with x beta and
    gamma made from x, took 12% longer: 8192 x 768 float32, one thread, 24.2 ms against
    21.3.) Four arrays of the block's size are live; the blocks over the threads, their
    partial sums of dw and db added in row order. The scratch is kept between calls
    (``workspace``): made afresh at every call, its pages were faulted in again each
    time."""
    m, d = rows.shape
    dt = rows.dtype
    sums = []
    ones = np.ones(d, dt)
    wv = ones if w is None else w

    def piece(start, stop):
        gw = np.zeros(d, dt) if want_w else None
        gb = np.zeros(d, dt) if want_b else None
        blocks = row_blocks(stop, d, start, _GRAD_BLOCK)
        kmax = blocks[0].stop - blocks[0].start
        ones_k = np.ones(kmax, dt)
        if want_x or want_w:
            c_buf = None if want_x else workspace("norm_rows_c", (kmax, d), dt, np)
            t_buf = workspace("norm_rows_t", (kmax, d), dt, np)
        outer = _Outer(wv, kmax) if want_x else None
        for sl in blocks:
            k = sl.stop - sl.start
            g_b, x_b, inv = g[sl], rows[sl], invstd[sl]
            # a row as long as a block: its mean and factors scalars, its sums added
            # (the library's (1,) @ (1, D) product took 8x a pass)
            one = k == 1
            if want_b:
                gb += g_b[0] if one else ones_k[:k] @ g_b                   # sum of g
            if not (want_x or want_w):
                continue
            c = np.subtract(x_b, mu[sl][0] if one else mu[sl, None],          # x - mu
                            out=gx[sl] if want_x else c_buf[:k])
            if w is not None:
                t = np.multiply(c, g_b, out=t_buf[:k])                      # g (x - mu)
                if want_w and one:
                    t *= inv[0]                                             # g x_hat
                    gw += t[0]
                elif want_w:
                    gw += inv @ t                      # sum of g x_hat, x_hat never made
            if not want_x:
                continue
            # sum a (x - mu); without a weight, the rows' dot products (no pass written)
            beta = row_dots(c, g_b) if w is None else t @ wv
            beta *= (inv * inv if want_w and one else inv * inv * inv) / -d
            gamma = g_b @ wv                                                # sum a
            gamma *= inv / -d
            if one:
                c *= beta[0]
                c += gamma[0]
                t = np.multiply(g_b, inv[0], out=t_buf[:k])                 # g invstd
                if w is not None:
                    t *= w
            else:
                c *= beta[:, None]
                c += gamma[:, None]
                # g invstd w: invstd w made as a (k, D) matrix, then a same-shape product
                t = np.multiply(g_b, inv[:, None], out=t_buf[:k]) if w is None else \
                    np.multiply(outer(inv, t), g_b, out=t)
            c += t
        sums.append((start, gw, gb))
    over_rows(piece, m, d, _BACKWARD_PASSES * rows.nbytes,
              blas=row_blocks(m, d, 0, _GRAD_BLOCK)[0].stop * d, runs=d)
    sums.sort(key=lambda t: t[0])       # the pieces' partial sums, added in row order
    _, gw, gb = sums[0]
    for _, more_w, more_b in sums[1:]:
        gw = None if gw is None else gw + more_w
        gb = None if gb is None else gb + more_b
    return gx, gw, gb


# numbers per block of rows in the backward: its live arrays of the block's size (x, g, gx,
# the scratch; five when measured, with a second scratch) then fit the L2 cache (4096 x 768
# float32, one thread: 6.6 ms instead of 8.8 in blocks twice the size; blocks half or twice
# this size measured 5-10% slower)
_GRAD_BLOCK = 1 << 16


def group_norm_rows(rows, groups, cpg, wg, bg, eps, y_rows):
    """group_norm's forward on rows (N G, D) (each sample's groups in turn; a group's D
    numbers its C/G channels' positions one channel after another), wg, bg (G, C/G) or None:
    y_rows (N G, D) = (rows - mu) invstd w_c + b_c written in place; returns (mu, var,
    invstd), each (N G,), var biased (instance_norm's running statistics are made from it).
    Block by block of whole groups, each block's passes in place in y while it is in cache
    (as ``layer_norm_rows``), invstd w_c applied in one multiply; the blocks over the
    threads."""
    m, d = rows.shape
    dt = rows.dtype
    mu = np.empty(m, dt)
    var = np.empty(m, dt)
    invstd = np.empty(m, dt)
    ones = np.ones(d, dt)
    short = _short_buffer_for(d // cpg, m * d)

    def piece(start, stop):
        for sl in row_blocks(stop, d, start):
            n = sl.stop - sl.start
            c = y_rows[sl]
            inv = _block_statistics(rows[sl], c, ones, eps, mu[sl], var[sl], invstd[sl],
                                    short)
            if wg is None and bg is None:
                c *= inv[:, None]
                continue
            group = np.arange(sl.start, sl.stop) % groups              # each row's group
            by_channel = c.reshape(n, cpg, -1)                         # (rows, C/G, positions)
            # invstd w_c in one multiply
            by_channel *= (inv[:, None] if wg is None else inv[:, None] * wg[group])[..., None]
            if bg is not None:
                by_channel += bg[group][..., None]
    over_rows(piece, m, d, 2 * rows.nbytes, blas=row_blocks(m, d)[0].stop * d,
              runs=d // cpg)
    return mu, var, invstd


def group_norm_grad_rows(rows_x, rows_g, mu, invstd, groups, cpg, wg, want_x, want_w, want_b,
                         dx_rows):
    """group_norm's gradients on arrays, rows as ``group_norm_rows``'s (x and g (N G, D),
    mu and invstd (N G,), wg (G, C/G) or None): dx written into ``dx_rows`` when want_x;
    returns (s_g, s_gc), the per-(sample, channel) sums (N G, C/G) of g and of g (x - mu)
    (None where not needed), from which the caller makes dw and db. With the group's sums
    of w_c s_g and w_c s_gc, Sa and Sac:
        dx = invstd w_c g  -  (invstd^3 Sac / D) (x - mu)  -  invstd Sa / D
    Block by block of whole groups, x - mu in a kept scratch block (without a weight in dx
    itself, then dx = invstd (g + (x - mu) beta / invstd + gamma / invstd) in place: four
    passes, no scratch); the sums of g a matrix-vector product (the library's dot: a third
    of einsum's time), those of g (x - mu) ``row_dots``."""
    m, d = rows_x.shape
    dt = rows_x.dtype
    s_g = np.empty((m, cpg), dt) if want_x or want_b else None
    s_gc = np.empty((m, cpg), dt) if want_x or want_w else None
    ones = np.ones(d // cpg, dt)

    def piece(start, stop):
        blocks = row_blocks(stop, d, start)
        work = None
        for sl in blocks:
            k = sl.stop - sl.start
            g_ch = rows_g[sl].reshape(k * cpg, -1)                   # (rows C/G, positions)
            if s_g is not None:
                s_g[sl] = (g_ch @ ones).reshape(k, cpg)
            if s_gc is None:
                continue
            if work is None and (wg is not None or not want_x):
                work = workspace("norm_rows_c", (blocks[0].stop - blocks[0].start, d), dt, np)
            # x - mu: in dx itself without a weight, else in the scratch block
            centred = np.subtract(rows_x[sl], mu[sl, None],
                                  out=dx_rows[sl] if want_x and wg is None else work[:k])
            s_gc[sl] = row_dots(g_ch, centred.reshape(k * cpg, -1)).reshape(k, cpg)
            if not want_x:
                continue
            inv = invstd[sl, None]                                   # (rows, 1)
            if wg is None:
                # dx = invstd (g + (x - mu) beta / invstd + gamma / invstd), in place
                sa, sac = (s.sum(axis=1, keepdims=True) if cpg > 1 else s
                           for s in (s_g[sl], s_gc[sl]))
                centred *= -(inv * inv) * sac / d
                centred += rows_g[sl]
                centred += -sa / d
                centred *= inv
                continue
            wc = wg[np.arange(sl.start, sl.stop) % groups]
            sa = (s_g[sl] * wc).sum(axis=1, keepdims=True)           # (rows, 1)
            sac = (s_gc[sl] * wc).sum(axis=1, keepdims=True)
            dx = dx_rows[sl].reshape(k, cpg, -1)
            np.multiply(g_ch.reshape(k, cpg, -1), (inv * wc)[..., None], out=dx)
            centred *= -(inv * inv * inv) * sac / d
            dx += centred.reshape(k, cpg, -1)
            dx += (-inv * sa / d)[..., None]
    over_rows(piece, m, d, 4 * rows_x.nbytes, blas=row_blocks(m, d)[0].stop * d,
              runs=d // cpg)
    return s_g, s_gc


# numbers in the block of rows down which a per-(sample, column) factor is tiled
_COLUMN_TILE = 1 << 14


def _by_columns(op, a, f, out):
    """op(a, f, out=out) for a (N, P, C) and per-(sample, column) factors f (N, C) (broadcast
    along the P rows): f tiled down a block of rows of _COLUMN_TILE numbers and the rows run
    in such blocks, a row of C numbers broadcast costing numpy twice a same-shape pass
    (16x1024x64 float32: 365 -> 180 us a subtraction); the rows left over beside f."""
    n, p, c = a.shape
    k = max(1, _COLUMN_TILE // max(c, 1))
    if p < 2 * k:
        return op(a, f[:, None, :], out=out)
    q = p // k * k
    op(a[:, :q].reshape(n, q // k, k, c), np.repeat(f[:, None, :], k, axis=1)[:, None],
       out=out[:, :q].reshape(n, q // k, k, c))
    if q < p:
        op(a[:, q:], f[:, None, :], out=out[:, q:])
    return out


def _positions_by_channels(a):
    """a (N, C, *S) laid out channels-last -> its (N, prod(S), C) rows, a view (a copy for
    an ``a`` of another layout)."""
    rows = channels_last_rows(a)
    if rows is None:
        rows = np.ascontiguousarray(a.transpose((0,) + tuple(range(2, a.ndim)) + (1,)))
    return rows.reshape(a.shape[0], -1, a.shape[1])


def group_norm_channels_last(x, groups, w, b, eps):
    """group_norm's forward on a channels-last x (N, C, *S), seen as its (N, P, C) rows (P
    positions, a channel per column); w, b (C,) or None -> (y (N, C, *S) channels-last, mu,
    var, invstd, each (N G,), var biased). Each (sample, channel) summed over the positions
    (``column_sums``), the sums gathered per group; x - mu, its squares' sums, then
    * invstd w_c + b_c, the factors tiled along the rows of C numbers (``_by_columns``).
    (A row-major copy each way took twice as long: 16x64x32x32 float32, one thread.)"""
    x3 = _positions_by_channels(x)
    n, p, c = x3.shape
    cpg = c // groups
    dt = x3.dtype
    d = dt.type(p * cpg)
    per_channel = column_sums(x3)                                               # (N, C)
    mu = per_channel.reshape(n, groups, cpg).sum(axis=2) / d                   # (N, G)
    y = _by_columns(np.subtract, x3, np.repeat(mu, cpg, axis=1), np.empty_like(x3))
    var = column_sums(y, y).reshape(n, groups, cpg).sum(axis=2) / d
    invstd = np.divide(1, np.sqrt(var + dt.type(eps)), dtype=dt)
    scale = np.repeat(invstd, cpg, axis=1)                                     # (N, C)
    if w is not None:
        scale *= w
    _by_columns(np.multiply, y, scale, y)
    if b is not None:
        _by_columns(np.add, y, np.broadcast_to(b.astype(dt, copy=False), (n, c)), y)
    return from_rows(y.reshape(-1, c), x), mu.reshape(-1), var.reshape(-1), invstd.reshape(-1)


def group_norm_grad_channels_last(x, g, mu, invstd, groups, w, want_x, want_w, want_b):
    """The gradients of ``group_norm_channels_last`` (x, g (N, C, *S), x channels-last, g
    copied so if not; mu, invstd (N G,); w (C,) or None) -> (dx (N, C, *S) channels-last,
    dw (C,), db (C,)), None where not wanted; the formulas of ``group_norm_grad_rows`` with
    the per-(sample, channel) sums s_g, s_gc made over the positions."""
    x3, g3 = _positions_by_channels(x), _positions_by_channels(g)
    n, p, c = x3.shape
    cpg = c // groups
    dt = x3.dtype
    d = dt.type(p * cpg)
    inv = invstd.reshape(n, groups)
    inv_c = np.repeat(inv, cpg, axis=1)                                        # (N, C)
    s_g = column_sums(g3)
    centred = _by_columns(np.subtract, x3, np.repeat(mu.reshape(n, groups), cpg, axis=1),
                          np.empty_like(x3))
    s_gc = column_sums(g3, centred)
    dw = (s_gc * inv_c).sum(axis=0) if want_w else None
    db = s_g.sum(axis=0) if want_b else None
    if not want_x:
        return None, dw, db
    wc = 1 if w is None else w
    sa = (s_g * wc).reshape(n, groups, cpg).sum(axis=2)                        # (N, G)
    sac = (s_gc * wc).reshape(n, groups, cpg).sum(axis=2)
    beta = np.repeat(-(inv * inv * inv) * sac / d, cpg, axis=1)                # (N, C)
    gamma = np.repeat(-inv * sa / d, cpg, axis=1)
    _by_columns(np.multiply, centred, beta, centred)
    _by_columns(np.add, centred, gamma, centred)
    centred += _by_columns(np.multiply, g3, inv_c * wc, np.empty_like(g3))
    return from_rows(centred.reshape(-1, c), x), dw, db
