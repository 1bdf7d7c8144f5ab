"""``Exponential(rate)``: density rate * exp(-rate x) on x >= 0.

    cdf(x) = 1 - exp(-rate x),   icdf(p) = -log(1 - p) / rate
    rsample = e / rate,  e ~ Exp(1) (PyTorch's exponential_ draws: -log1p(-u), u ~ U[0, 1))
"""
from __future__ import annotations

from numbers import Number

from . import _ops as ops
from . import constraints
from .exp_family import ExponentialFamily
from .utils import store_broadcast

__all__ = ["Exponential"]


class Exponential(ExponentialFamily):
    arg_constraints = {"rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, rate, validate_args=None):
        shape = store_broadcast(self, Number, rate=rate)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Exponential, batch_shape, _instance, ("rate",))

    # as an exponential family: theta = -rate, F(theta) = -log(-theta)
    @property
    def _natural_params(self):
        return (-self.rate,)

    def _log_normalizer(self, x):
        return -(-x).log()

    @property
    def _mean_carrier_measure(self):
        return 0

    @property
    def mean(self):
        return self.rate.reciprocal()

    @property
    def mode(self):
        return ops.zeros_like(self.rate)

    @property
    def stddev(self):
        return self.rate.reciprocal()

    @property
    def variance(self):
        return self.rate ** -2

    def _quantile(self, p):
        return -(-p).log1p() / self.rate

    def rsample(self, sample_shape=ops.Size()):
        # PyTorch's way: exponential_ draws of rate 1 in the rate's dtype, divided by the rate
        e = self.rate.new_empty(self._extended_shape(sample_shape)).exponential_()
        return e / self.rate

    def log_prob(self, value):
        x = self._checked(value)
        return self.rate.log() - self.rate * x

    def cdf(self, value):
        x = self._checked(value)
        return 1 - (-self.rate * x).exp()           # as PyTorch rounds it

    def icdf(self, value):
        return self._quantile(value)

    def entropy(self):
        """1 - log(rate)."""
        return 1.0 - self.rate.log()
