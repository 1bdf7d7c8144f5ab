"""``Bernoulli(probs=None, logits=None)``: 1 with probability p, 0 otherwise.

Exactly one of ``probs`` (p) and ``logits`` (log(p / (1 - p))) is given; the other is
derived on first use.  log p(x) = x log p + (1 - x) log(1 - p), evaluated from the logits
as minus the binary cross-entropy with logits, which stays finite for extreme logits.
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, clamp_probs, enumerate_values, lazy_property, \
    scalar_or_param_shape, standard_uniform

__all__ = ["Bernoulli", "probs_or_logits"]

_BOTH_OR_NEITHER = "Either `probs` or `logits` must be specified, but not both."


def probs_or_logits(dist, probs, logits):
    """Store whichever of probs/logits was given (broadcast to a tensor) on ``dist``;
    returns it. Raises PyTorch's ValueError unless exactly one is given."""
    if (probs is None) is (logits is None):
        raise ValueError(_BOTH_OR_NEITHER)
    name, given = ("logits", logits) if probs is None else ("probs", probs)
    setattr(dist, name, broadcast_all(given)[0])
    dist._given = name
    return given


def cross_entropy_with_logits(logits, target):
    """Elementwise -(t log p + (1 - t) log(1 - p)) with p = sigmoid(logits), stable."""
    return ops.binary_cross_entropy_with_logits(logits, target, reduction="none")


class BinaryOdds:
    """Mixin for distributions of one success probability, held as ``probs`` (p) or
    ``logits`` (log-odds log(p / (1 - p))); the missing one is derived lazily."""

    @lazy_property
    def logits(self):
        p = clamp_probs(self.probs)
        return p.log() - (-p).log1p()

    @lazy_property
    def probs(self):
        return self.logits.sigmoid()


class GivenParameter:
    """Mixin: ``_param``, the one of probs/logits given at construction (``probs_or_logits``
    records which in ``_given``; ``expand`` keeps it), even after the other was derived; and
    ``param_shape``, its size."""

    @property
    def _param(self):
        return vars(self)[self._given]

    @property
    def param_shape(self):
        return self._param.size()


class Bernoulli(GivenParameter, BinaryOdds, ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        given = probs_or_logits(self, probs, logits)
        super().__init__(scalar_or_param_shape((given,), self._param),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Bernoulli, batch_shape, _instance, ("probs", "logits"))

    # as an exponential family: theta = logit p, F(theta) = log(1 + e^theta)
    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        return ops.softplus(x)

    @property
    def _mean_carrier_measure(self):
        return 0

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        """1 where p > 1/2, 0 where p < 1/2, NaN at exactly 1/2."""
        p = self.probs
        return ops.where(p == 0.5, float("nan"), (p > 0.5).to(p.dtype))

    @property
    def variance(self):
        p = self.probs
        return p * (1 - p)

    def sample(self, sample_shape=ops.Size()):
        out_shape = self._extended_shape(sample_shape)
        with ops.no_grad():
            thresholds = self.probs.detach().expand(out_shape)
            if not bool(((thresholds >= 0) & (thresholds <= 1)).all()):   # (as torch.bernoulli)
                raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  "
                                   "(Could this error message be improved?  If so, please "
                                   "report an enhancement request to PyTorch.)")
            hits = standard_uniform(out_shape, thresholds) < thresholds
            return hits.to(thresholds.dtype)

    def log_prob(self, value):
        value = self._checked(value)       # first: the error shows the parameters given
        log_odds, x = broadcast_all(self.logits, value)
        return -cross_entropy_with_logits(log_odds, x)

    def entropy(self):
        """-p log p - (1 - p) log(1 - p)."""
        return cross_entropy_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand=True):
        outcomes = ops.arange(2, dtype=self._param.dtype, device=self._param.device)
        return enumerate_values(outcomes, self._batch_shape, expand)
