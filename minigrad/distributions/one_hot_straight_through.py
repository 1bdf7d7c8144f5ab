"""``OneHotCategoricalStraightThrough(probs=None, logits=None)``: a ``OneHotCategorical``
with a straight-through reparameterized sample (Bengio, Leonard & Courville, 2013).

rsample returns the exact one-hot draw h in value, but with the gradient of the probability
vector p in place of the (zero) gradient of h:

    rsample = h + (p - stop_gradient(p))

so d(rsample)/d(p) is the identity (a biased but low-variance gradient estimate).
"""
from __future__ import annotations

from . import _ops as ops
from .categorical import OneHotCategorical

__all__ = ["OneHotCategoricalStraightThrough"]


class OneHotCategoricalStraightThrough(OneHotCategorical):
    """``OneHotCategorical`` (event shape (K,)) whose ``rsample`` carries straight-through
    gradients to probs (and through them to logits)."""
    has_rsample = True

    def rsample(self, sample_shape=ops.Size()):
        """One-hot draws (sample_shape + batch_shape + (K,)) in the probs' dtype, with the
        gradient of probs."""
        hard = self.sample(sample_shape)
        p = self._categorical.probs
        return hard + (p - p.detach())
