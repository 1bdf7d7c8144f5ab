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

__all__ = ["row_blocks", "over_rows", "normalised_rows", "centred_rows_into", "row_dots"]


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


def normalised_rows(rows, eps, finish):
    """rows (M, D) -> (y, mu, invstd) as ``centred_rows_into``, block by block of rows: y's block
    is rows - mu, then ``finish(y_block, invstd_block)`` scales it in place (by invstd and
    the affine parameters) while it is still in cache; the blocks over the threads."""
    m, d = rows.shape
    y = np.empty((m, d), rows.dtype)
    mu = np.empty(m, rows.dtype)
    invstd = np.empty(m, rows.dtype)

    def piece(start, stop):
        for sl in row_blocks(stop, d, start):
            c, mu[sl], invstd[sl] = centred_rows_into(rows[sl], eps, y[sl])
            finish(c, invstd[sl])
    over_rows(piece, m, d, 2 * rows.nbytes)
    return y, mu, invstd


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
