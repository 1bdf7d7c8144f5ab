"""The row kernels behind ``feature_norm``'s one-node layer_norm and group_norm: numpy
arrays in and out, no autograd.

A normalisation does little arithmetic per number, so its time is the passes it makes over
memory. Each of them sees its input as rows (M, D) normalised one by one (layer_norm: the
samples; group_norm: the (sample, group) pairs), and runs the passes of a block of rows
(``row_blocks``) one after another while the block is in cache, the blocks split over
minigrad's threads (``over_rows``):

    mu = sum(row) / D,   var = sum((row - mu)^2) / D   (two passes: the digits of a row
    whose mean is large beside its spread are kept),   invstd = 1 / sqrt(var + eps)
"""
from __future__ import annotations

import numpy as np

from ..parallel import blas_on_one_thread, run_split
from ._workspace import workspace

__all__ = ["row_blocks", "over_rows", "centred_rows_into", "row_dots", "layer_norm_rows",
           "layer_norm_grad_rows"]


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


def over_rows(piece, m, d, nbytes, blas=None):
    """piece(start, stop) over parts of m rows of d numbers, a part per thread when the
    passes move ``nbytes`` in all (``parallel.run_split``); the BLAS calls of the pieces
    (``blas``: the most numbers one of them reads; d by default, a row's dot product) on
    each piece's own thread."""
    with blas_on_one_thread(d if blas is None else blas):
        run_split(piece, m, nbytes)


def centred_rows_into(rows, eps, out, ones=None):
    """rows (M, D) array -> (out, mu, invstd): out = rows - mu (written into ``out``), mu
    (M,) the row means, invstd (M,) = 1 / sqrt(biased var + eps), in the rows' dtype. The
    row sums as one matrix-vector product (``ones``: D ones of the rows' dtype, made when not
    given; the library's dot sums in several running sums, as accurate as einsum's and in
    less time); mu spread over ``out`` by a copy and then taken from the rows in one
    same-shape pass (numpy's subtraction of a column, broadcast, costs about what the two
    cost together and more for rows under a few hundred); the sums of squares by
    ``row_dots``."""
    d = rows.shape[1]
    mu = rows @ (np.ones(d, rows.dtype) if ones is None else ones)
    mu /= rows.dtype.type(d)
    np.copyto(out, mu[:, None])
    np.subtract(rows, out, out=out)
    var = row_dots(out, out) / d
    var += eps
    invstd = np.sqrt(var, out=var)
    np.divide(1.0, invstd, out=invstd)
    return out, mu, invstd.astype(rows.dtype, copy=False)


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


def layer_norm_rows(rows, w, b, eps):
    """layer_norm's forward on rows (M, D) with w, b (D,) or None -> (y, mu, invstd), y
    (M, D) = (rows - mu) (invstd w) + b: block by block of rows, each block's passes in
    place in y while it is in cache (invstd w made as one (k, D) matrix in a kept scratch
    block, ``_Outer``); the blocks over the threads."""
    m, d = rows.shape
    dt = rows.dtype
    y = np.empty((m, d), dt)
    mu = np.empty(m, dt)
    invstd = np.empty(m, dt)
    ones = np.ones(d, dt)

    def piece(start, stop):
        blocks = row_blocks(stop, d, start)
        k = blocks[0].stop - blocks[0].start
        scale = workspace("norm_rows_s", (k, d), dt, np)
        outer = _Outer(ones if w is None else w, k)
        for sl in blocks:
            c, mu[sl], invstd[sl] = centred_rows_into(rows[sl], eps, y[sl], ones)
            c *= outer(invstd[sl], scale[:sl.stop - sl.start])              # x_hat w
            if b is not None:
                c += b
    over_rows(piece, m, d, _FORWARD_PASSES * rows.nbytes, blas=row_blocks(m, d)[0].stop * d)
    return y, mu, invstd


# the arrays of the rows' size each way reads and writes, counted for ``run_split``'s size
# rule: x and y forward; x, g, gx and the scratch block (written three times) backward
# (a Transformer's 1024 x 128 float32 rows stay on one thread: on a loaded 2-core machine
# they took about 0.6 ms forward and backward whole, no less split in two)
_FORWARD_PASSES = 2
_BACKWARD_PASSES = 5


def layer_norm_grad_rows(rows, g, mu, invstd, w, want_x, want_w, want_b, gx=None):
    """layer_norm's gradients on arrays from rows x (M, D), g (M, D), the forward's mu and
    invstd (M,), w (D,) or None: (gx written into ``gx`` (M, D) when want_x, gw (D,) or None,
    gb (D,) or None). With a = g w, c = x - mu and row sums sa = sum a = g @ w,
    sac = sum a c = (g c) @ w:

        dx = g (invstd w) + x beta + gamma,   beta = -sac invstd^3 / D,
                                              gamma = -beta mu - sa invstd / D
        dw = invstd @ (g c),          db = ones @ g

    every sum a matrix-vector product; g c made once (c by a copy of mu and a same-shape
    subtraction) for dw and sac, whose digits it keeps for rows of a mean large beside their
    spread (sums of g x uncentred, PyTorch's CPU kernel's form, lost 3x more in float32 at a
    ratio of 1000, and took 5-10% less time); the combine, as PyTorch's, from x. invstd w,
    beta and gamma made as (k, D) matrices (``_Outer``, a copy) and used in same-shape
    passes, numpy's broadcasting of a row or column along a block costing more. Block by
    block of rows (blocks half the forward's: four arrays of the block's size are live), the
    blocks over the threads, their partial sums of dw and db added in row order. The
    blocks' scratch (g c, reused for beta and gamma) is kept between calls (``workspace``):
    made afresh at every call, its pages were faulted in again each time."""
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
        t_buf = workspace("norm_rows_t", (kmax, d), dt, np) if want_x or want_w else None
        outer = _Outer(wv, kmax) if want_x else None
        for sl in blocks:
            k = sl.stop - sl.start
            g_b, x_b, inv, mu_b = g[sl], rows[sl], invstd[sl], mu[sl]
            if want_b:
                gb += ones_k[:k] @ g_b                                      # sum of g
            if not (want_x or want_w):
                continue
            t = t_buf[:k]
            np.copyto(t, mu_b[:, None])
            t = np.subtract(x_b, t, out=t)                                  # x - mu
            t *= g_b
            if want_w:
                gw += inv @ t                          # sum of g x_hat, x_hat never made
            if want_x:
                sa = g_b @ wv
                beta = t @ wv                                               # sum a (x - mu)
                beta *= inv * inv * inv / -d
                neg_gamma = beta * mu_b
                neg_gamma += sa * inv / d
                dx = outer(inv, gx[sl])                                     # invstd w
                dx *= g_b
                np.copyto(t, beta[:, None])
                t *= x_b
                dx += t
                np.copyto(t, neg_gamma[:, None])
                dx -= t
        sums.append((start, gw, gb))
    over_rows(piece, m, d, _BACKWARD_PASSES * rows.nbytes,
              blas=row_blocks(m, d, 0, _GRAD_BLOCK)[0].stop * d)
    sums.sort(key=lambda t: t[0])       # the pieces' partial sums, added in row order
    _, gw, gb = sums[0]
    for _, more_w, more_b in sums[1:]:
        gw = None if gw is None else gw + more_w
        gb = None if gb is None else gb + more_b
    return gx, gw, gb


# numbers per block of rows in the backward: half the forward's, its four live arrays of
# the block's size (x, g, g x, gx) then fit the L2 cache (4096 x 768 float32, one thread:
# 6.6 ms instead of 8.8)
_GRAD_BLOCK = 1 << 16
