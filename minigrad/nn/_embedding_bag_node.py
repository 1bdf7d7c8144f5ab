"""The sum and mean modes of ``embedding_bag`` as one node, on numpy float32/float64 tables.

Composed, a bag's sum was an IndexSelect of the K rows the bags use (a (K, D) copy), an
IndexAdd of them into the bags and, for the mean, a division node. Here the table's rows
are summed into the bags straight from the table by the row-summing kernel
(``ops._row_sums.row_sums`` with ``take``: each rank of the bags' rows gathered as it is
added, never all K rows at once; the same sums in index order as IndexAdd's), then divided
by the bag's size for the mean (an empty bag stays 0). (``np.add.reduceat`` over the
gathered rows' runs took 7 ms for 512 bags of 16 rows of 128, the kernel 0.8.)

Backward: the gradient of a bag goes to each of its rows (divided by the bag's size for the
mean), summed into the table's rows: on arrays, the same kernel straight from g (``take``:
each index's bag); under create_graph, an IndexSelect of g by each index's bag summed by
``EmbeddingDenseBackward`` (embedding's own weight gradient), both differentiable nodes, so
the second derivative follows.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..ops.division import div
from ..ops.embedding_grad import EmbeddingDenseBackward
from ..ops._row_sums import row_sums
from ..ops.scatter_gather import IndexSelect
from ..ops._util import FLOAT32_64
from ..tensor import Tensor

__all__ = ["bag_sums_fit", "EmbeddingBagSums"]


def bag_sums_fit(weight, bag_of):
    """Whether the node takes this call: a numpy float32/float64 2-d table with columns, and
    at least one index in a bag."""
    a = weight._array
    return (type(a) is np.ndarray and a.dtype in FLOAT32_64 and a.ndim == 2 and
            a.shape[1] > 0 and bag_of.size > 0)


class EmbeddingBagSums(Function):
    """weight (V, D) -> (bags, D): the sums (``count`` None) or means (``count`` the bags'
    sizes, at least 1) of the rows ``kept`` of each bag, ``bag_of`` the bag of each."""
    _node_name = "EmbeddingBagBackward0"

    def forward(self, weight, *, kept, bag_of, bags, count):
        out = row_sums(weight, bag_of, bags, take=kept)
        if count is not None:
            out /= count[:, None]
        self.kept, self.bag_of, self.count, self.size = kept, bag_of, count, weight.shape[0]
        return out

    def backward(self, g):
        ga = g._array
        if not is_grad_enabled() and type(ga) is np.ndarray and ga.dtype in FLOAT32_64:
            # on arrays: each bag's gradient row summed into the table's rows straight from
            # g (``take``: the bag of each index), no (K, D) gather first
            if self.count is not None:
                ga = ga / self.count[:, None]
            return Tensor._wrap(row_sums(ga, self.kept, self.size, take=self.bag_of))
        if self.count is not None:
            g = div(g, Tensor._wrap(self.count[:, None]))
        picked = IndexSelect.apply(g, index=self.bag_of, dim=0)              # (K, D)
        return EmbeddingDenseBackward.apply(picked, index=self.kept, size=self.size,
                                            padding_idx=None)
