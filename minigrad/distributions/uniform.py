"""``Uniform(low, high)``: constant density 1 / (high - low) on [low, high).

    cdf(x) = clamp((x - low) / (high - low), 0, 1),  icdf(p) = low + p (high - low)
    rsample = icdf(u),  u ~ U[0, 1)
"""
from __future__ import annotations

import math
from numbers import Number

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .utils import standard_uniform, store_broadcast

__all__ = ["Uniform"]


class Uniform(Distribution):
    has_rsample = True

    @property
    def arg_constraints(self):
        return {"low": constraints.less_than(self.high),
                "high": constraints.greater_than(self.low)}

    def __init__(self, low, high, validate_args=None):
        shape = store_broadcast(self, Number, low=low, high=high)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Uniform, batch_shape, _instance, ("low", "high"))

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.interval(self.low, self.high)

    def _width(self):
        return self.high - self.low

    @property
    def mean(self):
        return (self.high + self.low) / 2

    @property
    def mode(self):
        return self.high * math.nan

    @property
    def stddev(self):
        return self._width() / math.sqrt(12.0)

    @property
    def variance(self):
        return self._width() ** 2 / 12

    def rsample(self, sample_shape=ops.Size()):
        u = standard_uniform(self._extended_shape(sample_shape), self.low)
        return self.icdf(u)

    def log_prob(self, value):
        """-log(high - low) inside [low, high), -inf outside."""
        x = self._checked(value)
        inside = ((x >= self.low) & (x < self.high)).to(self.low.dtype)
        return inside.log() - self._width().log()

    def cdf(self, value):
        fraction = (self._checked(value) - self.low) / self._width()
        return fraction.clamp(0, 1)

    def icdf(self, value):
        return self.low + self._width() * value

    def entropy(self):
        return self._width().log()
