"""``Poisson(rate)``: P(k) = rate^k e^-rate / k!  for k = 0, 1, 2, ...

Draws come from numpy's Poisson sampler on the global generator (no gradient).
"""
from __future__ import annotations

from numbers import Number

from .._random_factories import stream_of
from ..ops.sampling_more import poisson_counts
from . import _ops as ops
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, param_numpy, store_broadcast, wrap_draws

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    arg_constraints = {"rate": constraints.nonnegative}
    support = constraints.nonnegative_integer

    def __init__(self, rate, validate_args=None):
        shape = store_broadcast(self, Number, rate=rate)
        super().__init__(shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Poisson, batch_shape, _instance, ("rate",))

    # as an exponential family: theta = log rate, F(theta) = e^theta (its carrier measure,
    # -log x!, has no closed-form mean: entropy() raises, as PyTorch's)
    @property
    def _natural_params(self):
        return (self.rate.log(),)

    def _log_normalizer(self, x):
        return x.exp()

    @property
    def mean(self):
        return self.rate

    @property
    def mode(self):
        return self.rate.floor()

    @property
    def variance(self):
        return self.rate

    def sample(self, sample_shape=ops.Size()):
        lam = param_numpy(self.rate.expand(self._extended_shape(sample_shape)))
        if (lam < 0).any():             # (PyTorch draws with ``poisson``: its refusal)
            raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
        return wrap_draws(poisson_counts(lam, stream_of(None)), self.rate)

    def log_prob(self, value):
        """k log(rate) - rate - log(k!), with 0 log 0 = 0 (rate 0 puts all mass on k = 0)."""
        lam, k = broadcast_all(self.rate, self._checked(value))
        return ops.xlogy(k, lam) - (lam + ops.lgamma(k + 1))
