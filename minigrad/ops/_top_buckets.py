"""topk of a few from long rows, by bucket maxima: a threshold per row that the k best reach,
then a sort of only the numbers that reach it.

numpy's ``partition`` along a row of 4096 float32 took ~50 us (1024x4096, k=8: 52 ms,
PyTorch's whole topk 9). Here, for the k largest of each row of x (m, n):

    buckets   the row's numbers dealt into B = 8k buckets of s (bucket j: the numbers j,
              j + B, j + 2B, ...; a tail of n mod B its own bucket): each bucket's max
    t         the k-th largest of those maxima. The k largest maxima are k numbers of the
              row, all >= t, so the row's k-th largest v is >= t: every number >= v is
              among the candidates x >= t (a few times k of them on most data; at most
              k s plus the tail however the row is ordered, unless ties of t are many)
    order     the candidates, in index order, padded to the longest row's count with the
              worst value, sorted stably by value: the first k are the k best in the stable
              order (ties in index order; a padding, after every real candidate, never
              among them as each row has at least k)

(the k smallest: minima, <= t, the other way round). 1024x4096 float32, k = 8, one thread:
about 7 ms in all (on a loaded machine). A NaN anywhere (a bucket's max is NaN) or too many
candidates (a row of ties) returns None: the caller partitions or sorts instead.
"""
from __future__ import annotations

import numpy as np

__all__ = ["fits", "top_positions"]

_BUCKETS_PER_K = 8              # B = 8 k buckets: t close to v on most data
_MIN_BUCKET = 8                 # numbers per bucket at least (a reduction's inner loop)
_MAX_CANDIDATES = 8             # at most n / this many candidates in a row, else None


def fits(n, k):
    """Whether rows of n numbers are long enough beside k for the buckets to pay."""
    return n >= _BUCKETS_PER_K * _MIN_BUCKET * k


def _key(values, largest):
    """A sort key whose ascending order is the best first: -x for floats (exact), ~x for
    integers (-x of the most negative one would wrap)."""
    if not largest:
        return values
    return -values if values.dtype.kind == "f" else ~values


def top_positions(x, k, largest):
    """(m, k) int64: the positions of the k best numbers of each row of x (m, n), best
    first, ties in index order (the first k of a stable sort); or None (module docstring).
    x: a float or integer numpy array, 1 <= k, ``fits(n, k)``."""
    m, n = x.shape
    # the worst value of the dtype: the padding of the candidates, after each row's own
    if x.dtype.kind == "f":
        worst = -np.inf if largest else np.inf
    else:
        info = np.iinfo(x.dtype)
        worst = info.min if largest else info.max
    lanes = _BUCKETS_PER_K * k
    size = n // lanes
    # bucket j: the numbers j, j + lanes, j + 2 lanes, ... of a row (a reduction down the
    # middle axis runs along contiguous lanes: 2 ms for 1024x4096, contiguous buckets 4.5)
    body = x[:, :lanes * size].reshape(m, size, lanes)
    best = np.maximum.reduce if largest else np.minimum.reduce
    extremes = np.empty((m, lanes + 1), x.dtype)
    best(body, axis=1, out=extremes[:, :lanes])
    tail = x[:, lanes * size:]                                  # (m, n mod lanes)
    extremes[:, lanes] = best(tail, axis=1) if tail.shape[1] else worst
    if x.dtype.kind == "f" and np.isnan(extremes).any():
        return None
    # t: the k-th best of the extremes (partition's place of it in ascending order)
    t = np.partition(_key(extremes, largest), k - 1, axis=1)[:, k - 1:k]
    if not largest:
        mask = x <= t
    else:                                   # (t is -v or ~v in key space: back to values)
        mask = x >= (-t if x.dtype.kind == "f" else ~t)
    # the candidates, row-major (so in index order in each row), padded to the most any
    # row has (np.nonzero's two index arrays of a 2-d mask took 20 ms of 1024x4096)
    flat = np.flatnonzero(mask)
    rows = flat // n
    counts = np.bincount(rows, minlength=m)
    width = int(counts.max())
    if width * _MAX_CANDIDATES > n:
        return None
    slots = np.arange(flat.size) - (np.cumsum(counts) - counts)[rows]
    values = np.full((m, width), worst, x.dtype)
    where = np.zeros((m, width), np.int64)
    values[rows, slots] = x.reshape(-1)[flat] if x.flags.c_contiguous else x[rows, flat % n]
    where[rows, slots] = flat - rows * n
    order = np.argsort(_key(values, largest), axis=1, kind="stable")[:, :k]
    return np.take_along_axis(where, order, axis=1)
