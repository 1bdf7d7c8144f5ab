"""``Normal(loc, scale)``: the Gaussian N(loc, scale^2), a batch of independent scalars.

With the standardised value z = (x - loc) / scale:

    log p(x) = -z^2 / 2 - log(scale) - log(2 pi) / 2
    cdf(x)   = (1 + erf(z / sqrt 2)) / 2
    rsample  = loc + scale * eps,  eps ~ N(0, 1)
"""
from __future__ import annotations

import math
from numbers import Real

from . import _ops as ops
from . import constraints
from .exp_family import ExponentialFamily
from .utils import standard_normal, store_broadcast

__all__ = ["Normal"]

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


class Normal(ExponentialFamily):
    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        shape = store_broadcast(self, Real, loc=loc, scale=scale)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Normal, batch_shape, _instance, ("loc", "scale"))

    # as an exponential family: theta = (loc / scale^2, -1 / (2 scale^2)),
    # F(theta) = -theta_1^2 / (4 theta_2) + log(pi / -theta_2) / 2, no carrier measure
    @property
    def _natural_params(self):
        precision = self.scale.pow(2).reciprocal()
        return self.loc * precision, -0.5 * precision

    def _log_normalizer(self, x, y):
        return -0.25 * x.pow(2) / y + 0.5 * (-math.pi / y).log()

    @property
    def _mean_carrier_measure(self):
        return 0

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=ops.Size()):
        noise = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.scale * noise + self.loc

    def sample(self, sample_shape=ops.Size()):
        """``rsample``'s draws, without a graph; as PyTorch's (which draws with ``normal``) a
        negative scale is refused (reachable with ``validate_args=False``)."""
        if bool((self.scale._array < 0).any()) and \
                ops.Size(self._extended_shape(sample_shape)).numel():
            raise RuntimeError("normal expects all elements of std >= 0.0")
        return super().sample(sample_shape)

    def log_prob(self, value):
        # PyTorch's form: scale^2 and log(scale) are rounded in the parameters' dtype (float32
        # for a Normal(0., 0.1) scoring float64 values), not in the value's
        value = self._checked(value)
        var = self.scale ** 2
        return -((value - self.loc) ** 2) / (2 * var) - self.scale.log() - _HALF_LOG_TWO_PI

    def cdf(self, value):
        """Phi(z) = (1 + erf(z / sqrt 2)) / 2."""
        x = self._checked(value)
        # PyTorch's order of operations (the same rounding, and the same last node)
        return 0.5 * (1 + ops.erf((x - self.loc) * self.scale.reciprocal() / math.sqrt(2)))

    def icdf(self, value):
        """loc + scale * sqrt(2) * erfinv(2 p - 1)."""
        # PyTorch's order: scale times erfinv first (a float32 probability meets a float64
        # scale before the factor sqrt 2 is applied)
        return self.loc + self.scale * ops.erfinv(2 * value - 1) * math.sqrt(2)

    def entropy(self):
        """(1 + log(2 pi)) / 2 + log(scale)."""
        return self.scale.log() + (0.5 + _HALF_LOG_TWO_PI)
