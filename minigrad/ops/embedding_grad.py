"""The weight gradient of ``embedding`` (PyTorch's embedding_dense_backward) as one node, on
numpy float32/float64 arrays.

The incoming rows g (N, D) are added into a zero table (V, D) at their indices, the row of
``padding_idx`` left at zero, by ``ops._row_sums.row_sums``: the rows sorted by destination
and added rank by rank (the k-th row of every destination in one vectorised add), in the
table's dtype and in index order, as PyTorch's CPU kernel adds them one after another: its
bits, but where the kernel leaves the rows of destinations reached more than
``_row_sums.MIN_RANKS`` times to its float64 bincount (rounded once; many such destinations
with narrow rows).

Float16, bfloat16 and complex tables keep IndexAdd (its sums in float64, rounded once).

The node's own backward, for a second derivative, is the gather of the rows (the gradient
of a sum with respect to each of its terms), the padding rows' zeroed: differentiable ops.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._row_sums import row_sums
from ._util import FLOAT32_64
from .pointwise_select import where
from .scatter_gather import IndexSelect

__all__ = ["EmbeddingDenseBackward", "dense_backward_fits"]


def dense_backward_fits(rows, index):
    """Whether the node takes this case: a numpy float32/float64 (N, D) gradient with N >= 1
    rows and D >= 1 (others keep IndexAdd: its float64 sums for 16-bit floats, complex, cupy)."""
    a = rows._array
    return type(a) is np.ndarray and a.dtype in FLOAT32_64 and a.ndim == 2 and \
        index.size > 0 and a.shape[1] > 0


class EmbeddingDenseBackward(Function):
    """rows g (N, D) -> the table's gradient (size, D) (``row_sums``); its backward, the
    gather of the incoming gradient's rows at the indices (the padding rows' zero)."""
    _node_name = "EmbeddingDenseBackwardBackward0"

    def forward(self, rows, *, index, size, padding_idx):
        self.index, self.padding_idx = index, padding_idx
        out = row_sums(rows, index, size)
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    def backward(self, gg):
        picked = IndexSelect.apply(gg, index=self.index, dim=0)
        if self.padding_idx is None:
            return picked
        return where(Tensor._wrap((self.index == self.padding_idx)[:, None]), 0.0, picked)
