"""``LogNormal(loc, scale)``: Y = exp(X) for X ~ Normal(loc, scale), built as that Normal
pushed through ``ExpTransform``.  With s = scale:

    mean = exp(loc + s^2 / 2),  mode = exp(loc - s^2),  variance = (e^(s^2) - 1) mean^2
    entropy = entropy(X) + loc
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform

__all__ = ["LogNormal"]


class LogNormal(TransformedDistribution):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.positive
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        underlying = Normal(loc, scale, validate_args=validate_args)
        super().__init__(underlying, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        target = self._get_checked_instance(LogNormal, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=target)

    @property
    def loc(self):
        return self.base_dist.loc

    @property
    def scale(self):
        return self.base_dist.scale

    def _log_scale_sq(self):
        return self.scale * self.scale

    @property
    def mean(self):
        return (self._log_scale_sq() * 0.5 + self.loc).exp()

    @property
    def mode(self):
        return (self.loc - self._log_scale_sq()).exp()

    @property
    def variance(self):
        return ops.expm1(self._log_scale_sq()) * self.mean ** 2

    def entropy(self):
        return self.loc + self.base_dist.entropy()
