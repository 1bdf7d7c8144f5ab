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


def row_blocks(m, d, start=0):
    """The rows start..m of d numbers as slices of whole rows, about _ROW_BLOCK numbers
    each."""
    step = max(1, _ROW_BLOCK // max(d, 1))
    return [slice(i, min(i + step, m)) for i in range(start, m, step)]


def over_rows(piece, m, d, nbytes, blas=None):
    """piece(start, stop) over parts of m rows of d numbers, a part per thread when the
    passes move ``nbytes`` in all (``parallel.run_split``); the BLAS calls of the pieces
    (``blas``: the most numbers one of them reads; d by default, a row's dot product) on
    each piece's own thread."""
    with blas_on_one_thread(d if blas is None else blas):
        run_split(piece, m, nbytes)


def centred_rows_into(rows, eps, out):
    """rows (M, D) array -> (out, mu, invstd): out = rows - mu (written into ``out``), mu
    (M,) the row means, invstd (M,) = 1 / sqrt(biased var + eps), in the rows' dtype. The
    row sums by einsum: a third of the time of mean's pairwise summation, and as accurate
    for rows of a few thousand; the sums of squares by ``row_dots``."""
    d = rows.shape[1]
    mu = np.einsum("ij->i", rows)
    mu /= rows.dtype.type(d)
    np.subtract(rows, mu[:, None], out=out)
    var = row_dots(out, out) / d
    var += eps
    invstd = np.sqrt(var, out=var)
    np.divide(1.0, invstd, out=invstd)
    return out, mu, invstd.astype(rows.dtype, copy=False)


def layer_norm_rows(rows, w, b, eps):
    """layer_norm's forward on rows (M, D) with w, b (D,) or None -> (y, mu, invstd), y
    (M, D) = (rows - mu) invstd w + b: block by block of rows, each block's passes in place
    in y while it is in cache; the blocks over the threads."""
    m, d = rows.shape
    y = np.empty((m, d), rows.dtype)
    mu = np.empty(m, rows.dtype)
    invstd = np.empty(m, rows.dtype)

    def piece(start, stop):
        for sl in row_blocks(stop, d, start):
            c, mu[sl], invstd[sl] = centred_rows_into(rows[sl], eps, y[sl])
            c *= invstd[sl, None]                                   # x_hat
            if w is not None:
                c *= w
            if b is not None:
                c += b
    over_rows(piece, m, d, _FORWARD_PASSES * rows.nbytes)
    return y, mu, invstd


# the arrays of the rows' size each way reads and writes, counted for ``run_split``'s size
# rule: x and y forward; x, g, gx and the two scratch blocks backward (a Transformer's
# 1024 x 128 float32 rows stay on one thread: on a loaded 2-core machine they took about
# 0.6 ms forward and backward whole, no less split in two)
_FORWARD_PASSES = 2
_BACKWARD_PASSES = 5


def layer_norm_grad_rows(rows, g, mu, invstd, w, want_x, want_w, want_b, gx=None):
    """layer_norm's gradients on arrays from rows x (M, D), g (M, D), the forward's mu and
    invstd (M,), w (D,) or None: (gx written into ``gx`` (M, D) when want_x, gw (D,) or None,
    gb (D,) or None). With a = g w, c = x - mu and D-means per row:

        dx = invstd (a - mean(a) - c invstd^2 mean(a c)),
        dw = invstd @ (g c),          db = ones @ g               (matrix-vector products)

    block by block of rows (x - mu and a made and used while in cache, x_hat never), the
    blocks over the threads, their partial sums of dw and db added in row order. The
    blocks' scratch (x - mu, g (x - mu)) is kept between calls (``workspace``): made afresh
    at every call, its pages were faulted in again each time, and a Transformer's 1024 x 128
    float32 rows took 1.0 ms forward and backward instead of 0.6 (one thread)."""
    m, d = rows.shape
    sums = []

    def piece(start, stop):
        gw = np.zeros(d, rows.dtype) if want_w else None
        gb = np.zeros(d, rows.dtype) if want_b else None
        c_buf = t_buf = ones = None
        for sl in row_blocks(stop, d, start):
            k = sl.stop - sl.start
            g_b, inv = g[sl], invstd[sl]
            if c_buf is None:       # kept between calls: no fresh pages to fault in
                c_buf = workspace("norm_rows_c", (k, d), rows.dtype, np)
                t_buf = workspace("norm_rows_t", (k, d), rows.dtype, np) if want_w else None
                ones = np.ones(k, rows.dtype)
            if want_b:
                gb += ones[:k] @ g_b                                        # sum of g
            if not (want_x or want_w):
                continue
            c = np.subtract(rows[sl], mu[sl, None], out=c_buf[:k])          # x - mu
            if want_w:
                # sum of g x_hat = invstd @ (g (x - mu)): a matrix-vector product, no x_hat
                # (and fewer roundings than numpy's sum down the rows)
                gw += inv @ np.multiply(g_b, c, out=t_buf[:k])
            if want_x:
                a = gx[sl]                                                  # g * w
                if w is None:
                    a[...] = g_b
                else:
                    np.multiply(g_b, w, out=a)
                # x_hat mean(a x_hat) = (x - mu) invstd^2 (sum a (x - mu)) / D
                dots = row_dots(a, c)
                dots *= inv * inv / d
                a -= (np.einsum("ij->i", a) / d)[:, None]                   # mean(a)
                c *= dots[:, None]
                a -= c
                a *= inv[:, None]
        sums.append((start, gw, gb))
    over_rows(piece, m, d, _BACKWARD_PASSES * rows.nbytes,
              blas=row_blocks(m, d)[0].stop * d)
    sums.sort(key=lambda t: t[0])       # the pieces' partial sums, added in row order
    _, gw, gb = sums[0]
    for _, more_w, more_b in sums[1:]:
        gw = None if gw is None else gw + more_w
        gb = None if gb is None else gb + more_b
    return gx, gw, gb
