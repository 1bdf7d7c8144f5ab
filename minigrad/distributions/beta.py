"""``Beta(concentration1, concentration0)``: density x^(a-1) (1-x)^(b-1) / B(a, b) on
[0, 1] (a = concentration1, b = concentration0).

Implemented as the first coordinate of a Dirichlet over (x, 1 - x) with concentration
(a, b): sampling, log_prob, moments and entropy all delegate to it.
"""
from __future__ import annotations

from numbers import Real

from . import _ops as ops
from . import constraints
from .dirichlet import Dirichlet
from .exp_family import ExponentialFamily
from .utils import broadcast_all

__all__ = ["Beta"]


def _pair_last(a, b):
    """(a, b) as one tensor with a trailing dim of 2 (plain numbers give a 1-D pair)."""
    if isinstance(a, Real) and isinstance(b, Real):
        return ops.tensor([float(a), float(b)], dtype=ops.get_default_dtype())
    return ops.stack(list(broadcast_all(a, b)), -1)


class Beta(ExponentialFamily):
    arg_constraints = {"concentration1": constraints.positive,
                       "concentration0": constraints.positive}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, concentration1, concentration0, validate_args=None):
        both = _pair_last(concentration1, concentration0)
        self._dirichlet = Dirichlet(both, validate_args=validate_args)
        super().__init__(self._dirichlet.batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(Beta, batch_shape, _instance, ())
        twin._dirichlet = self._dirichlet.expand(batch_shape)
        return twin

    def _first(self, pair):
        return pair.select(-1, 0)

    @property
    def concentration1(self):
        return self._first(self._dirichlet.concentration)

    @property
    def concentration0(self):
        return self._dirichlet.concentration.select(-1, 1)

    # as an exponential family: theta = (alpha, beta), F(theta) = log B(alpha, beta)
    @property
    def _natural_params(self):
        return self.concentration1, self.concentration0

    def _log_normalizer(self, x, y):
        return ops.lgamma(x) + ops.lgamma(y) - ops.lgamma(x + y)

    @property
    def mean(self):
        c1 = self.concentration1
        return c1 / (c1 + self.concentration0)

    @property
    def mode(self):
        return self._first(self._dirichlet.mode)

    @property
    def variance(self):
        """c1 c0 / ((c1 + c0)^2 (c1 + c0 + 1)), computed as PyTorch does (its nodes too)."""
        c1, c0 = self.concentration1, self.concentration0
        total = c1 + c0
        return c1 * c0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape=()):
        return self._first(self._dirichlet.rsample(sample_shape))

    def log_prob(self, value):
        x = self._checked(value)
        return self._dirichlet.log_prob(ops.stack([x, 1.0 - x], -1))

    def entropy(self):
        return self._dirichlet.entropy()
