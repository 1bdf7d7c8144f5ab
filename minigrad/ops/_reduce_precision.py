"""Where a reduction's precision follows PyTorch's CPU kernels rather than numpy's: a float32
variance accumulated in double (``SINGLE``; 16-bit products and sums are in ``_half_order``);
and a float sum over the axes fastest in memory as matrix-vector products by
chunks, as accurate as numpy's pairwise sum and PyTorch's (``rows_layout``, ``sum_rows``)."""
from __future__ import annotations

import numpy as np

from ..parallel import blas_on_one_thread

__all__ = ["SINGLE", "rows_layout", "sum_rows"]

# the dtype whose variance is accumulated in double, as PyTorch's CPU kernel does: squares
# beyond float32's range (|a| near 1e19 and up) still give a finite result (not complex64:
# its parts' variances are summed in single precision there)
SINGLE = {np.dtype(np.float32): np.dtype(np.float64)}


# A float32/float64 sum over the axes that are fastest in memory, as matrix-vector products
# with a vector of ones: numpy's pairwise sum of such rows runs scalar (1024x1024 float32
# along dim 1: 0.175 ms, the products 0.06; PyTorch 0.054). A BLAS dot product keeps a few
# lanes that each add up their share one after another, so a long row would round more than
# a pairwise sum does: each row is cut into chunks of _CHUNK numbers (the lanes then add 16
# numbers each, as the first stage of numpy's pairwise sum), whose totals are summed again.
# On rows of 1024 to 65536 normal, uniform or offset numbers the largest relative error was
# numpy's pairwise sum's and PyTorch's (1e-8 .. 2e-7 of the sum of magnitudes).
_CHUNK = 256
_MIN_ROW = 16               # shorter rows: numpy (a row is one BLAS step: no gain)
_MIN_SIZE = 1 << 12         # fewer numbers: numpy (its call costs less than two products')
_ONES = {}


def _ones(n, dtype):
    """A cached read-only vector of ``n`` ones of ``dtype``."""
    key = (n, dtype)
    v = _ONES.get(key)
    if v is None:
        v = np.ones(n, dtype)
        v.flags.writeable = False
        _ONES[key] = v
    return v


def rows_layout(a, axes):
    """(m, n, kept shape) when the ``axes`` of numpy ``a`` (float32/float64) are the fastest
    in memory and the others, in order, the slowest, so that a is an (m, n) row-major
    matrix of its kept and reduced elements (a view): a C-contiguous array reduced over its
    last axes, or its transpose reduced over its first ones. None when the sum is better
    left to numpy (another layout, few numbers, short rows)."""
    if type(a) is not np.ndarray or a.dtype not in _DTYPES or a.size < _MIN_SIZE:
        return None
    ndim = a.ndim
    k = ndim - len(axes)
    if a.flags.c_contiguous:
        if axes != tuple(range(k, ndim)):
            return None
        kept = a.shape[:k]
    elif a.flags.f_contiguous:
        if axes != tuple(range(len(axes))):
            return None
        kept = a.shape[len(axes):][::-1]        # (a.T is C-contiguous: its kept axes first)
    else:
        return None
    m = 1
    for s in kept:
        m *= s
    n = a.size // m
    return (m, n, kept) if n >= _MIN_ROW else None


_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _chunk(n):
    """The chunk length for rows of ``n`` numbers: n itself up to _WHOLE_ROW, else the
    divisor of n nearest _CHUNK between 64 and _WHOLE_ROW; None when there is none (a
    prime n, say: numpy then). Looked up once per n."""
    if n <= _WHOLE_ROW:
        return n
    if n in _CHUNKS:
        return _CHUNKS[n]
    found = None
    for step in range(_WHOLE_ROW // 2 - 64 + 1):
        for length in (_CHUNK - step, _CHUNK + step):
            if 64 <= length <= _WHOLE_ROW and n % length == 0:
                found = length
                break
        if found:
            break
    if len(_CHUNKS) < 4096:
        _CHUNKS[n] = found
    return found


_CHUNKS = {}


_WHOLE_ROW = 512            # a row up to this long: one product (as accurate, measured)


def sum_rows(a, m, n):
    """The sums of the rows of ``a`` seen as an (m, n) row-major matrix (``rows_layout``): a
    new (m,) array of a's dtype, by chunks of about _CHUNK numbers as matrix-vector products,
    their totals again by one (at most 8 chunks: numpy adds so few one by one too) or by
    numpy's pairwise sum; None where no chunk length divides n."""
    length = _chunk(n)
    if length is None:
        return None
    flat = (a if a.flags.c_contiguous else a.T).reshape(m, n)
    ones = _ones(length, a.dtype)
    with blas_on_one_thread(a.size):
        if length == n:
            return flat @ ones
        q = n // length
        totals = (flat.reshape(m * q, length) @ ones).reshape(m, q)
        if q <= 8:
            return totals @ _ones(q, a.dtype)
    return np.add.reduce(totals, axis=1)
