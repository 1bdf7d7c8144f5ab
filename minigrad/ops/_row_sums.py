"""One kernel that adds rows of a source block into destination rows by an index, on numpy
arrays, without ``numpy.add.at`` (an unbuffered loop per element) or a bincount over every
element (a float64 conversion and a Python-free but per-element loop):

    out = zeros(shape of src with ``size`` along ``axis``)
    for k in range(K):  out.take(index[k], axis) += src.take(take[k], axis) * weights[k]

where ``take`` (default: k itself) picks the source row of entry k and ``weights`` (default:
1) scales it. A *row* is a slice of ``axis`` (a number for 1-d arrays, a vector or block for
n-d ones). Its callers: the weight gradient of ``embedding`` (``ops.embedding_grad``), the
IndexAdd of float slices (``ops._scatter_add_kernels``: the backward of ``index_select``,
``x[idx]`` and ``index_add``); bilinear ``grid_sample``'s input gradient (``nn._grid_cells``)
borrows its sort.

The algorithm, for K entries, R distinct destinations and rows of D numbers:

1. The entries are sorted by destination, stably, with one ``np.sort`` of int64 keys
   destination * 2^b + position (the keys are unique, so any sort is stable; several times
   faster than a stable argsort). A *run* is the entries of one destination, in index order;
   the k-th of them has *rank* k. (All runs of one entry: each row is written where it lands,
   at once, and that is all.)
2. The runs are listed longest first (a stable argsort of the R lengths), ties in
   destination order. The runs that reach rank r are then the first ``reaching[r]`` of that
   list, and the entries are listed rank after rank (K integers).
3. Rank by rank, the entries' rows are gathered (and weighted): rank 0's become the running
   sums (R, D), each later rank one in-place add into a prefix of them. A loop over ranks,
   not over rows; the peak memory is the sums, one rank's rows, then the output (allocated
   last), never all K rows at once.
4. Past the first ``MIN_RANKS`` ranks, the ranks that move fewer than ``min_rank_work``
   numbers each (a few destinations reached very often: a padding token, a pixel under many
   sampling points) are left to the tail: each long run's running sum goes on over its
   remaining rows in one ``np.add.reduce`` per run when those runs are few and long (at
   least ``min_rank_work`` numbers each, on average) and a row is more than one number
   (numpy reduces an axis that is not the fastest in memory in order; the fastest one
   pairwise), else in one float64 ``bincount`` over all of them (complex as two); integers
   by one ``reduceat``.
5. The sums are written into the zero output at their destinations, at once.

Order: each destination's row sums ``((0 + row_a) + row_b) + ...``, its rows in index order,
in the accumulation dtype: src's own (PyTorch's CPU embedding backward, bitwise), or with
``wide`` float64 / complex128, rounded once at the end (bitwise the bincount of every element
that IndexAdd used). The starting zero turns a -0.0 sum into +0.0, as a sum from zeros does.
The one exception is step 4's bincount: it goes on in the same order but in float64, the
same sums for float64 ones, for float32 / complex64 ones a float64 sum rounded once (more
accurate than, so not bitwise, a float32 sum in index order). Integer rows sum exactly.
The same input gives the same bits every run: no threads, no order that depends on memory.
"""
from __future__ import annotations

import numpy as np

from ._util import along

__all__ = ["row_sums"]

# a rank is one vectorised add of its own when it moves at least this many numbers (a numpy
# call costs a few microseconds); the rows of the later ranks go to the tail (step 4)
MIN_RANK_WORK = 2048
# ... but the first this many ranks are always added rank by rank (the index order in the
# accumulation dtype wherever no destination is reached more often)
MIN_RANKS = 32


def row_sums(src, index, size, *, axis=0, take=None, weights=None, wide=False,
             min_rank_work=None):
    """Rows of ``src`` summed into rows of a zero output by ``index`` (see the module's text).

    src: numpy array, M rows along ``axis`` (float, complex or integer); index: (K,) integer
    in [-size, size) (negative counts from the end), the destination of entry k; size: the
    output's row count; take: (K,) int64 in [0, M), the source row of entry k (None: K == M
    and entry k is row k); weights: (K,) of src's dtype, entry k's factor (None: 1); wide:
    sum float rows in float64 (complex in complex128) and round once; min_rank_work: the
    rank size, in numbers, below which a rank is left to the tail (None: MIN_RANK_WORK).
    Returns out: src's shape with ``size`` along ``axis``, src's dtype.
    """
    shape = src.shape[:axis] + (size,) + src.shape[axis + 1:]
    k = index.size
    row = src.size // src.shape[axis] if src.shape[axis] else 0
    if k == 0 or row == 0:
        return np.zeros(shape, src.dtype)
    index = index.reshape(-1)
    if index.min() < 0:
        index = np.where(index < 0, index + size, index)
    kind = src.dtype.kind
    acc = np.result_type(src.dtype, np.float64) if wide and kind in "fc" else src.dtype
    limit = MIN_RANK_WORK if min_rank_work is None else min_rank_work

    def rows_of(entries):                       # the entries' (weighted) source rows
        rows = np.take(src, entries if take is None else take.take(entries), axis=axis)
        if weights is not None:
            factor = weights.take(entries)
            rows *= factor.reshape(factor.shape + (1,) * (src.ndim - axis - 1))
        return rows

    # 1. the entries grouped by destination, in index order
    ordered, order = _sorted_with_positions(index, size)
    first = np.empty(k, bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    if starts.size == k:                # every destination once: each row written in place
        out = np.zeros(shape, src.dtype)
        rows = src if take is None and weights is None else rows_of(np.arange(k))
        out[along(axis, index)] = rows + 0 if kind in "fc" else rows    # -0.0 -> +0.0
        return out
    counts = np.diff(np.append(starts, k))
    # 2. the runs longest first, ties in destination order (a stable argsort: few distinct
    # lengths, long stretches of equal keys, which it sorts fastest)
    by_length = np.argsort(-counts, kind="stable")
    run_starts, run_counts = starts.take(by_length), counts.take(by_length)
    reaching = np.bincount(run_counts - 1)[::-1].cumsum()[::-1]    # runs that have rank r
    ranks = max(int(np.count_nonzero(reaching * row >= limit)), min(reaching.size, MIN_RANKS))
    # the entries of ranks 0..ranks-1, rank after rank: rank r's, of the first reaching[r]
    # runs, at offsets[r]
    reaching = reaching[:ranks]
    offsets = np.concatenate(([0], reaching.cumsum()))
    run_of = np.arange(offsets[-1]) - np.repeat(offsets[:-1], reaching)
    listed = order.take(run_starts.take(run_of) + np.repeat(np.arange(ranks), reaching))

    # 3. rank by rank, into the running sums' prefix
    sums = rows_of(listed[:offsets[1]])
    if kind in "fc":
        sums += 0                               # -0.0 -> +0.0, as a sum from 0
    # widened (``wide``): only the destinations reached more than once, the first
    # reaching[1] runs (a row alone is its own sum, rounded back to itself)
    multi = along(axis, slice(0, int(reaching[1]) if ranks > 1 else 0))
    running = sums if acc == src.dtype else sums[multi].astype(acc)
    for r in range(1, ranks):
        running[along(axis, slice(0, int(reaching[r])))] += rows_of(
            listed[offsets[r]:offsets[r + 1]])
    # 4. the long runs' later rows
    long_runs = int(np.count_nonzero(run_counts > ranks))
    if long_runs:
        tails = run_counts[:long_runs] - ranks
        run = np.repeat(np.arange(long_runs), tails)
        rank = np.arange(run.size) - np.repeat(tails.cumsum() - tails, tails)
        rest = rows_of(order.take(run_starts.take(run) + ranks + rank))
        head = along(axis, slice(0, long_runs))
        running[head] = _run_totals(running[head], rest, tails, axis, limit)
    if running is not sums:
        sums[multi] = running                   # rounded once
    # 5. into the output
    out = np.zeros(shape, src.dtype)
    out[along(axis, ordered.take(run_starts))] = sums
    return out


def _run_totals(partial, rest, tails, axis, limit):
    """partial (.., H, ..) running sums; rest (.., T, ..) more rows, run by run (run j's
    tails[j] in order) -> partial's totals: in order, in partial's dtype, one reduce per run
    where the runs are few and long; else one bincount in float64 (complex as two), rounded
    once (the same sums for float64). Integers exactly, by one reduceat."""
    h = partial.shape[axis]
    firsts = np.concatenate(([0], tails.cumsum()[:-1]))
    if partial.dtype.kind not in "fc":
        return partial + np.add.reduceat(rest, firsts, axis=axis, dtype=partial.dtype)
    rest = rest.astype(partial.dtype, copy=False)
    rest[along(axis, firsts)] += partial        # each run's first row: partial + row (a + b
    post = int(np.prod(partial.shape[axis + 1:], dtype=np.int64))     # is b + a)
    if post > 1 and rest.size >= limit * h:
        # few long runs: one reduce each, along an axis that is not the fastest in memory
        # (numpy sums that one in order; pairwise only along the fastest)
        ends = firsts + tails
        return np.stack([np.add.reduce(rest[along(axis, slice(a, b))], axis=axis)
                         for a, b in zip(firsts.tolist(), ends.tolist())], axis=axis)
    # flat positions in partial, (p * h + run) * post + q, for rest's elements in order
    pre = partial.size // (h * post)
    run = np.repeat(np.arange(h), tails)
    dest = ((np.arange(pre)[:, None] * h + run)[:, :, None] * post + np.arange(post)).reshape(-1)
    values = rest.reshape(-1)
    if values.dtype.kind == "c":
        total = np.bincount(dest, values.real, partial.size) + \
            1j * np.bincount(dest, values.imag, partial.size)
    else:
        total = np.bincount(dest, values, partial.size)
    return total.reshape(partial.shape).astype(partial.dtype, copy=False)


def _sorted_with_positions(values, bound):
    """values (K,) int64 in [0, bound) -> (sorted values, their positions): a stable argsort.
    As one sort of value * 2^b + position (unique keys: any sort is stable), several times
    faster than numpy's stable argsort of int64; that argsort where the keys would not fit;
    nothing to sort for values in order already."""
    k = values.size
    if not np.any(values[1:] < values[:-1]):            # sorted already (a cheap pass)
        return values, np.arange(k)
    b = max(k - 1, 1).bit_length()
    if max(bound - 1, 1).bit_length() + b > 62:
        order = np.argsort(values, kind="stable")
        return values.take(order), order
    keys = values.astype(np.int64) << b
    keys |= np.arange(k, dtype=np.int64)
    keys.sort()
    order = keys & ((1 << b) - 1)
    keys >>= b
    return keys, order
