"""The weight gradient of ``embedding`` (PyTorch's embedding_dense_backward) as one node, on
numpy float32/float64 arrays.

The incoming rows g (N, D) are added into a zero table (V, D) at their indices, the row of
``padding_idx`` left at zero. PyTorch's CPU kernel adds them one after another in index
order, in the table's dtype; this does the same additions, in the same order, vectorised:

* the rows are sorted by destination (a stable argsort of the N indices, cheap next to the
  rows): a *run* is the rows bound for one destination, in index order, the k-th of them of
  *rank* k;
* the runs are listed longest first, and the rows gathered rank after rank in one ``take``:
  the runs that reach rank r are then a prefix of that list, so rank r is one contiguous add
  of a block of rows into the first running sums (a loop over ranks, not over rows);
* the sums are written into the table's rows at once.

So each destination's sum is ((g_a + g_b) + g_c) ..., its rows in index order, as PyTorch's
(plus +0.0 first, which turns a -0.0 sum into the +0.0 that a sum from a zero table gives):
bitwise its result. A few long runs (a padding token or a frequent word repeated hundreds of
times) would make many ranks of a few rows each: past the first ``MIN_RANKS`` ranks, the
ranks that add fewer than ``MIN_RANK_WORK`` numbers are left to one ``numpy.add.reduceat``
over the long runs' remaining rows (a different order of the same additions there).

A 16x64 batch into a 512 x 128 table, float32, one thread: 0.11 ms against 0.24 ms for the
IndexAdd it replaced (whose float64 sums, rounded once, are still those of float16, bfloat16
and complex tables).

The node's own backward, for a second derivative, is the gather of the rows (the gradient
of a sum with respect to each of its terms), the padding rows' zeroed: differentiable ops.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import FLOAT32_64
from .pointwise_select import where
from .scatter_gather import IndexSelect

__all__ = ["EmbeddingDenseBackward", "dense_backward_fits", "summed_rows"]

# a rank of the runs is added on its own when it adds at least this many numbers (a numpy
# call costs a few microseconds); the later ranks go to one reduceat
MIN_RANK_WORK = 2048
# ... but the first this many ranks are always added rank by rank (exactly PyTorch's order
# of additions wherever no destination is reached more often)
MIN_RANKS = 32


def dense_backward_fits(rows, index):
    """Whether the node takes this case: a numpy float32/float64 (N, D) gradient with N >= 1
    rows and D >= 1 (others keep IndexAdd: its float64 sums for 16-bit floats, complex, cupy)."""
    a = rows._array
    return type(a) is np.ndarray and a.dtype in FLOAT32_64 and a.ndim == 2 and \
        index.size > 0 and a.shape[1] > 0


def summed_rows(g, index, size, padding_idx=None):
    """out (size, D) zeros with g's row k added into row index[k], in index order, the row
    ``padding_idx`` (if any) left at zero; g (N, D) float, index (N,) int64 in [0, size)."""
    n, d = g.shape
    order = np.argsort(index, kind="stable")              # the rows grouped by destination
    ordered = index[order]
    first = np.empty(n, bool)
    first[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n))
    # the runs, longest first (stable: equal lengths keep their destination order)
    by_length = np.argsort(-counts, kind="stable")
    run_starts, run_counts = starts[by_length], counts[by_length]
    # reaching[r]: the runs that have a row of rank r (non-increasing)
    reaching = np.bincount(run_counts - 1)[::-1].cumsum()[::-1]
    ranks = max(int(np.count_nonzero(reaching * d >= MIN_RANK_WORK)),
                min(reaching.size, MIN_RANKS))
    reaching = reaching[:ranks]
    # the rows of ranks 0..ranks-1, rank after rank: rank r's are those of the first
    # reaching[r] runs, at offsets[r] of the gathered block
    offsets = np.concatenate(([0], reaching.cumsum()))
    run_of = np.arange(offsets[-1]) - np.repeat(offsets[:-1], reaching)
    rank_of = np.repeat(np.arange(ranks), reaching)
    block = g.take(order[run_starts[run_of] + rank_of], axis=0)
    sums = block[:reaching[0]]
    sums += 0                                            # -0.0 -> +0.0, as 0 + g would
    for r in range(1, ranks):
        sums[:reaching[r]] += block[offsets[r]:offsets[r + 1]]
    long_runs = int(np.count_nonzero(run_counts > ranks))
    if long_runs:                      # the rest of the long runs' rows, summed per run
        rest = np.concatenate([np.arange(s + ranks, s + c) for s, c in
                               zip(run_starts[:long_runs].tolist(),
                                   run_counts[:long_runs].tolist())])
        tails = np.add.reduceat(g.take(order[rest], axis=0),
                                np.append(0, (run_counts[:long_runs] - ranks).cumsum()[:-1]),
                                axis=0)
        sums[:long_runs] += tails
    out = np.zeros((size, d), g.dtype)
    out[ordered[run_starts]] = sums
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class EmbeddingDenseBackward(Function):
    """rows g (N, D) -> the table's gradient (size, D) (``summed_rows``); its backward, the
    gather of the incoming gradient's rows at the indices (the padding rows' zero)."""
    _node_name = "EmbeddingDenseBackwardBackward0"

    def forward(self, rows, *, index, size, padding_idx):
        self.index, self.padding_idx = index, padding_idx
        return summed_rows(rows, index, size, padding_idx)

    def backward(self, gg):
        picked = IndexSelect.apply(gg, index=self.index, dim=0)
        if self.padding_idx is None:
            return picked
        return where(Tensor._wrap((self.index == self.padding_idx)[:, None]), 0.0, picked)
