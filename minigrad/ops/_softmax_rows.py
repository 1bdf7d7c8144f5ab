"""Softmax and log_softmax along a dim of a C-ordered numpy float32/float64 array, forward and
backward: numpy arrays in and out, no autograd. Along the last dim the array is seen as rows
(M, D); along another, as slabs (outer, D, inner), where each of the inner columns is
normalised over its D numbers and the sums are (1, D) @ (D, inner) products.

Each works block by block of rows (``_norm_rows.row_blocks``) or of whole slabs while the
block is in cache, the blocks over minigrad's threads (``_norm_rows.over_rows``), so that the
whole arrays are read and written once each and the later passes of a block run in cache:

    softmax       e = exp(a) in the output's block, s = e @ ones (the matrix library's
                  row sums), out = e * (1 / s)
    log_softmax   the same e, then out = a - log(s)

No shift by the row's max where a block needs none: its sums are finite (no exp
overflowed, no NaN) and large enough that no exp of it lost digits to underflow that the
shifted form would keep (softmax: s >= 1, so that every output is at most its exp;
log_softmax: s at least the square root of the dtype's smallest normal number, the sum
itself being all it uses). A block that fails the test is done again shifted by its rows'
maxima, as PyTorch's kernels do. The check costs a few numbers per row, where the whole
array's min and max before it took two passes.

Backwards (g and the saved output y, both (M, D)):

    softmax       dx = (g - sum(g y)) y       the row sums by ``row_dots``
    log_softmax   dx = g - exp(y) sum(g)      the row sums of g a matrix-vector product
"""
from __future__ import annotations

import numpy as np

from ._norm_rows import over_rows, row_blocks, row_dots

__all__ = ["softmax_rows", "log_softmax_rows", "softmax_grad_rows", "log_softmax_grad_rows",
           "softmax_slabs", "log_softmax_slabs", "softmax_grad_slabs", "log_softmax_grad_slabs"]


# numbers per block of rows: a block of the input, of the output (and of g in the
# backward) stay in the L2 cache between the passes
_BLOCK = 1 << 17

# inf and NaN rows go through silently, as PyTorch's (each piece may run on a worker thread,
# which has not the caller's numpy error state)
_QUIET = {"over": "ignore", "under": "ignore", "invalid": "ignore", "divide": "ignore"}


def _smallest_sum(dt, log):
    """The least row sum of exps for which the unshifted form keeps every digit the
    shifted one would (see the module's docstring)."""
    return float(np.sqrt(np.finfo(dt).tiny)) if log else 1.0


def _block(a_b, out_b, sums, axis, least, log):
    """softmax (log False) or log_softmax of one block a_b into out_b, in either layout:
    ``sums(x)`` gives x's sums along the softmax ``axis``, shaped to broadcast against x.
    exp, the sums and their check first; a block that fails (an exp overflowed, a sum below
    ``least``, NaN) is done again the other way: exp(a - max) / sum, (a - max) - log(sum),
    each difference rounded once, as PyTorch's kernel rounds them (a row all -inf, or with
    a NaN or +inf: NaN)."""
    np.exp(a_b, out=out_b)
    s = sums(out_b)
    if not (np.all(s >= least) and np.all(s < np.inf)):         # NaN fails too
        np.subtract(a_b, a_b.max(axis=axis, keepdims=True), out=out_b)
        if log:
            s = sums(np.exp(out_b))
            out_b -= np.log(s, out=s)
        else:
            np.exp(out_b, out=out_b)
            s = sums(out_b)
            out_b *= np.divide(1, s, out=s)
    elif log:
        np.subtract(a_b, np.log(s, out=s), out=out_b)
    else:
        out_b *= np.divide(1, s, out=s)


# A pass of a block (k, D) with a column (k, 1) (a per-row number) runs at about half a
# plain pass's speed under numpy's default ufunc buffer of 8192 elements, and near it with a
# buffer no longer than a row (1024 x 1000 float32, 0.23 ms -> 0.14): ``over_rows`` sets it
# for pieces whose runs (``runs=d``, a row) are long enough.


def _forward(a, log):
    m, d = a.shape
    dt = a.dtype
    out = np.empty((m, d), dt)
    ones = np.ones(d, dt)
    least = _smallest_sum(dt, log)

    def sums(x):                            # (k, D) -> (k, 1)
        return (x @ ones)[:, None]

    def piece(start, stop):
        with np.errstate(**_QUIET):
            for sl in row_blocks(stop, d, start, _BLOCK):
                _block(a[sl], out[sl], sums, 1, least, log)
    over_rows(piece, m, d, 2 * a.nbytes, blas=row_blocks(m, d, 0, _BLOCK)[0].stop * d,
              runs=d)
    return out


def softmax_rows(a):
    """softmax of each row of ``a`` (M, D) -> a new (M, D) array."""
    return _forward(a, False)


def log_softmax_rows(a):
    """log_softmax of each row of ``a`` (M, D) -> a new (M, D) array."""
    return _forward(a, True)


def softmax_grad_rows(g, y):
    """softmax's input gradient (g - sum(g y)) y from g and the output y, both (M, D)."""
    m, d = g.shape
    dx = np.empty((m, d), g.dtype)

    def piece(start, stop):
        with np.errstate(**_QUIET):           # (a worker thread: the caller's state is not)
            for sl in row_blocks(stop, d, start, _BLOCK):
                g_b, y_b, dx_b = g[sl], y[sl], dx[sl]
                s = row_dots(g_b, y_b)
                np.subtract(g_b, s[:, None], out=dx_b)
                dx_b *= y_b
    over_rows(piece, m, d, 3 * g.nbytes, blas=row_blocks(m, d, 0, _BLOCK)[0].stop * d,
              runs=d)
    return dx


def log_softmax_grad_rows(g, y):
    """log_softmax's input gradient g - exp(y) sum(g) from g and the output y (M, D)."""
    m, d = g.shape
    dx = np.empty((m, d), g.dtype)
    ones = np.ones(d, g.dtype)

    def piece(start, stop):
        with np.errstate(**_QUIET):
            for sl in row_blocks(stop, d, start, _BLOCK):
                g_b, dx_b = g[sl], dx[sl]
                np.exp(y[sl], out=dx_b)
                dx_b *= (g_b @ ones)[:, None]
                np.subtract(g_b, dx_b, out=dx_b)
    over_rows(piece, m, d, 3 * g.nbytes, blas=row_blocks(m, d, 0, _BLOCK)[0].stop * d,
              runs=d)
    return dx


# ----------------------------------------------------------------------------------------------
# along a dim that is not the last: the array as slabs (outer, D, inner), each position of
# ``inner`` a softmax over the D numbers D apart in memory
# ----------------------------------------------------------------------------------------------
def _slab_blocks(outer, d, inner):
    """Slices of ``outer``: whole slabs (D, inner), as many as make about ``_BLOCK`` numbers
    (at least one; pieces of a slab's columns, strided, measured slower: 300 x 512 along
    dim 0, 0.31 ms against 0.19 whole)."""
    step = max(1, _BLOCK // (d * inner))
    return [slice(o, min(o + step, outer)) for o in range(0, outer, step)]


def _over_slabs(piece, a):
    outer, d, inner = a.shape
    over_rows(lambda start, stop: piece(start, stop, d, inner), outer, d * inner,
              3 * a.nbytes, blas=min(d * inner, _BLOCK))


def _slab_forward(a, log):
    """softmax (log False) or log_softmax of ``a`` (outer, D, inner) along its middle axis,
    as the rows' kernel (the module's docstring): exp, the sums as (1, D) @ (D, columns)
    products, the check of the sums, a block of slabs shifted again where they fail."""
    out = np.empty(a.shape, a.dtype)
    ones = np.ones((1, a.shape[1]), a.dtype)
    least = _smallest_sum(a.dtype, log)

    def sums(x):                            # (k, D, columns) -> (k, 1, columns)
        return np.matmul(ones, x)

    def piece(start, stop, d, inner):
        with np.errstate(**_QUIET):
            for so in _slab_blocks(stop - start, d, inner):
                so = slice(so.start + start, so.stop + start)
                _block(a[so], out[so], sums, 1, least, log)
    _over_slabs(piece, a)
    return out


def softmax_slabs(a):
    """softmax of ``a`` (outer, D, inner) along its middle axis -> a new array."""
    return _slab_forward(a, False)


def log_softmax_slabs(a):
    """log_softmax of ``a`` (outer, D, inner) along its middle axis -> a new array."""
    return _slab_forward(a, True)


def softmax_grad_slabs(g, y):
    """softmax's input gradient (g - sum(g y)) y along the middle axis of (outer, D, inner)."""
    dx = np.empty(g.shape, g.dtype)
    ones = np.ones((1, g.shape[1]), g.dtype)

    def piece(start, stop, d, inner):
        with np.errstate(**_QUIET):
            for so in _slab_blocks(stop - start, d, inner):
                so = slice(so.start + start, so.stop + start)
                g_b, y_b, dx_b = g[so], y[so], dx[so]
                s = np.matmul(ones, np.multiply(g_b, y_b, out=dx_b))        # sum g y
                np.subtract(g_b, s, out=dx_b)
                dx_b *= y_b
    _over_slabs(piece, g)
    return dx


def log_softmax_grad_slabs(g, y):
    """log_softmax's input gradient g - exp(y) sum(g) along the middle axis of
    (outer, D, inner)."""
    dx = np.empty(g.shape, g.dtype)
    ones = np.ones((1, g.shape[1]), g.dtype)

    def piece(start, stop, d, inner):
        with np.errstate(**_QUIET):
            for so in _slab_blocks(stop - start, d, inner):
                so = slice(so.start + start, so.stop + start)
                g_b, dx_b = g[so], dx[so]
                np.exp(y[so], out=dx_b)
                dx_b *= np.matmul(ones, g_b)
                np.subtract(g_b, dx_b, out=dx_b)
    _over_slabs(piece, g)
    return dx
