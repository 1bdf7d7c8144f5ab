"""``Binomial(total_count=1, probs=None, logits=None)``: successes in ``total_count``
Bernoulli(p) trials, P(k) = C(n, k) p^k (1 - p)^(n - k).

log_prob is evaluated from the logits l:  log C(n, k) + k l - n softplus(l), with
softplus(l) = max(l, 0) + log(1 + e^-|l|) (finite for any l).
"""
from __future__ import annotations

from .._random_factories import stream_of
from ..ops.sampling_binomial import binomial_draws
from . import _ops as ops
from . import constraints
from .bernoulli import BinaryOdds, _BOTH_OR_NEITHER
from .distribution import Distribution
from .utils import broadcast_all, enumerate_values, param_numpy, wrap_draws

__all__ = ["Binomial"]


def _stable_softplus(x):
    """log(1 + e^x); its max(x, 0) part is (x + |x|) / 2, whose gradient is 1/2 at 0."""
    return (x + x.abs()) * 0.5 + (-x.abs()).exp().log1p()


def _log_choose(n, k):
    return ops.lgamma(n + 1) - ops.lgamma(k + 1) - ops.lgamma(n - k + 1)


class Binomial(BinaryOdds, Distribution):
    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if (probs is None) is (logits is None):
            raise ValueError(_BOTH_OR_NEITHER)
        name, given = ("logits", logits) if probs is None else ("probs", probs)
        count, param = broadcast_all(total_count, given)
        setattr(self, name, param)
        self._param = param
        self.total_count = count.type_as(param)
        super().__init__(param.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(Binomial, batch_shape, _instance,
                                   ("total_count", "probs", "logits"))
        held = vars(twin)
        twin._param = held["logits"] if "logits" in held else held["probs"]
        return twin

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def param_shape(self):
        return self._param.size()

    @property
    def mean(self):
        n, p = self.total_count, self.probs
        return n * p

    @property
    def mode(self):
        """floor((n + 1) p), at most n."""
        n = self.total_count
        return ((n + 1) * self.probs).floor().clamp(max=n)

    @property
    def variance(self):
        p = self.probs
        return self.total_count * p * (1 - p)

    def sample(self, sample_shape=ops.Size()):
        out_shape = self._extended_shape(sample_shape)
        chance = param_numpy(self.probs.expand(out_shape))
        trials = param_numpy(self.total_count.expand(out_shape)).astype(chance.dtype)
        return wrap_draws(binomial_draws(trials, chance, stream_of(None)), self.probs)

    def log_prob(self, value):
        """log C(n, k) + k l - n log(1 + e^l), in a form stable for any logit l."""
        k = self._checked(value)
        n, log_odds = self.total_count, self.logits
        return _log_choose(n, k) + k * log_odds - n * _stable_softplus(log_odds)

    def _common_count(self, what):
        """The total_count shared by the whole batch (PyTorch refuses mixed counts)."""
        top = int(self.total_count.max())
        if not bool(self.total_count.min() == top):
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return top

    def entropy(self):
        self._common_count("entropy")
        log_pmf = self.log_prob(self.enumerate_support(False))
        return -(log_pmf * log_pmf.exp()).sum(0)

    def enumerate_support(self, expand=True):
        top = self._common_count("enumerate_support")
        counts = ops.arange(top + 1, dtype=self._param.dtype, device=self._param.device)
        return enumerate_values(counts, self._batch_shape, expand)
