"""``AdaptiveLogSoftmaxWithLoss``: a softmax over many classes (a language model's vocabulary)
that spends little compute on the rare ones (Grave et al., "Efficient softmax approximation
for GPUs", 2016).

The classes are split by ``cutoffs`` into a shortlist ``[0, cutoffs[0])`` and clusters
``[cutoffs[i], cutoffs[i + 1])``.  The ``head`` (a Linear to shortlist + n_clusters logits)
scores the shortlist classes and one entry per cluster; cluster i's ``tail[i]`` (a Linear down
to ``in_features // div_value ** (i + 1)`` features, then up to the cluster's classes) scores
the classes inside it.  So

    log p(c) = head_logprob[c]                                        c in the shortlist
    log p(c) = head_logprob[shortlist + i] + tail_i_logprob[c - cutoffs[i]]   c in cluster i

Submodule and parameter names are PyTorch's (``head.weight``, ``tail.0.0.weight``...), so
state_dicts move between the two.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import backend
from ...ops.stacking import cat
from ...ops.softmax import log_softmax
from ...tensor import Tensor
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])

_BAD_CUTOFFS = ("cutoffs should be a sequence of unique, positive integers sorted in an "
                "increasing order, where each value is between 1 and n_classes-1")


class AdaptiveLogSoftmaxWithLoss(Module):
    """AdaptiveLogSoftmaxWithLoss(in_features, n_classes, cutoffs, div_value=4.0,
    head_bias=False, device=None, dtype=None).

    ``forward(input, target)`` -> ``(output, loss)``: input (N, in_features) with target (N,)
    (or (in_features,) with a 0-d target); output (N,) the log-probability of each target,
    loss the mean of ``-output``.  ``log_prob(input)`` (N, n_classes) gives every class's;
    ``predict(input)`` (N,) the most likely class.
    """

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > n_classes - 1
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError(_BAD_CUTOFFS)
        self.in_features, self.n_classes = in_features, n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value, self.head_bias = div_value, head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        factory = {"device": device, "dtype": dtype}
        self.head = Linear(in_features, self.head_size, bias=head_bias, **factory)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hidden = int(in_features // (div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hidden, bias=False, **factory),
                                        Linear(hidden, size, bias=False, **factory)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for projection, output in self.tail:
            projection.reset_parameters()
            output.reset_parameters()

    # ------------------------------------------------------------------------------------------
    def forward(self, input_, target_):
        if target_.dim() == 1:
            if input_.size(0) != target_.size(0):
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.dim() != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found "
                                   f"inputs with size {input_.size()}")
        elif target_.dim() == 0:
            if input_.dim() != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found "
                                   f"inputs with size {input_.size()}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = target_.dim() > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = backend.as_numpy(target_._array).reshape(-1)
        if target.dtype.kind not in "iu":
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        if target.size and (target.min() < 0 or target.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{target.min()}, {target.max()}] were found. ")
        # cluster 0 is the shortlist; a target in cluster i > 0 reads head entry shortlist+i-1
        cluster = np.searchsorted(self.cutoffs, target, side="right")
        head_index = np.where(cluster == 0, target, self.shortlist_size + cluster - 1)
        output = self._tails_logprob(input, target, cluster)
        head_logprob = log_softmax(self.head(input), 1)
        output = output + head_logprob.gather(1, self._index(head_index[:, None], input))[:, 0]
        loss = (-output).mean()
        return _ASMoutput(output if batched else output.squeeze(0), loss)

    def _index(self, array, like):
        return Tensor._wrap(backend.to_device(np.ascontiguousarray(array, dtype=np.int64),
                                              like.device))

    def _tails_logprob(self, input, target, cluster):
        """(N,): each row's log-probability inside its target's cluster (0 in the shortlist);
        each tail runs only on the rows whose target falls in its cluster."""
        output = input.new_zeros(input.shape[0])
        for i in range(1, self.n_clusters + 1):
            rows = np.nonzero(cluster == i)[0]
            if rows.size == 0:
                continue
            row_index = self._index(rows, input)
            logprob = log_softmax(self.tail[i - 1](input.index_select(0, row_index)), 1)
            local = self._index((target[rows] - self.cutoffs[i - 1])[:, None], input)
            output = output.index_add(0, row_index, logprob.gather(1, local)[:, 0])
        return output

    def _get_full_log_prob(self, input, head_output):
        """(N, n_classes): the shortlist's log-probabilities from the head, then each
        cluster's, its tail's log-softmax plus the head's log-probability of the cluster."""
        head_logprob = log_softmax(head_output, 1)
        pieces = [head_logprob[:, :self.shortlist_size]]
        for i, tail in enumerate(self.tail):
            cluster = self.shortlist_size + i
            pieces.append(log_softmax(tail(input), 1) + head_logprob[:, cluster:cluster + 1])
        return cat(pieces, 1)

    def log_prob(self, input):
        """Every class's log-probability: (N, in_features) -> (N, n_classes)."""
        return self._get_full_log_prob(input, self.head(input))

    def predict(self, input):
        """The most likely class of each row: (N, in_features) -> (N,) int64.  A row whose
        head prefers a shortlist class gets it without running the tails (as PyTorch)."""
        head_output = self.head(input)
        output = head_output.argmax(1)
        outside = backend.as_numpy(output._array) >= self.shortlist_size
        if not outside.any():
            return output
        rows = self._index(np.nonzero(outside)[0], input)
        full = self._get_full_log_prob(input.index_select(0, rows),
                                       head_output.index_select(0, rows))
        return output.index_copy(0, rows, full.argmax(1))
