"""``Gamma(concentration, rate)``: density rate^a x^(a-1) e^(-rate x) / Gamma(a) on x > 0
(a = concentration).

rsample draws Gamma(a, 1) / rate, with implicit reparameterization gradients in ``a``
(see ``_standard_gamma``) and the ordinary 1/rate gradient in ``rate``.
"""
from __future__ import annotations

from numbers import Number

from . import _ops as ops
from . import constraints
from ._standard_gamma import standard_gamma
from .exp_family import ExponentialFamily
from .utils import _as_param_dtype, store_broadcast

__all__ = ["Gamma"]


class Gamma(ExponentialFamily):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        shape = store_broadcast(self, Number, concentration=concentration, rate=rate)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Gamma, batch_shape, _instance, ("concentration", "rate"))

    # as an exponential family: theta = (alpha - 1, -rate),
    # F(theta) = lgamma(theta_1 + 1) + (theta_1 + 1) log(-1 / theta_2)
    @property
    def _natural_params(self):
        return self.concentration - 1, -self.rate

    def _log_normalizer(self, x, y):
        return ops.lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()

    @property
    def _mean_carrier_measure(self):
        return 0

    @property
    def mean(self):
        a = self.concentration
        return a / self.rate

    @property
    def mode(self):
        """(a - 1) / rate, or 0 when a < 1."""
        return (self.concentration - 1).clamp(min=0) / self.rate

    @property
    def variance(self):
        return self.concentration / (self.rate * self.rate)

    def rsample(self, sample_shape=ops.Size()):
        out_shape = self._extended_shape(sample_shape)
        draws = standard_gamma(self.concentration.expand(out_shape)) / self.rate.expand(out_shape)
        # lift exact zeros (underflow) to the smallest normal number so log_prob stays
        # finite: written in place into the values only, as PyTorch does (the division's
        # gradients read its inputs, so they pass through untouched; the node stays Div's)
        draws.detach().clamp_(min=ops.finfo(draws.dtype).tiny)
        return draws

    def log_prob(self, value):
        """a log(rate) + (a - 1) log x - rate x - lgamma(a)."""
        x = self._checked(_as_param_dtype(value, self.rate))
        a = self.concentration
        # summed in PyTorch's order (the same rounding, and the same last node)
        return ops.xlogy(a, self.rate) + ops.xlogy(a - 1, x) - self.rate * x - ops.lgamma(a)

    def entropy(self):
        """a + lgamma(a) - (a - 1) digamma(a) - log(rate)."""
        a = self.concentration
        # summed in PyTorch's order (its rounding, its last node)
        return a - self.rate.log() + ops.lgamma(a) + (1.0 - a) * ops.digamma(a)

    def cdf(self, value):
        """The regularized lower incomplete gamma P(a, rate x)."""
        return ops.igamma(self.concentration, self.rate * self._checked(value))
