"""``ContinuousBernoulli(probs=None, logits=None, lims=(0.499, 0.501))``.

A density on [0, 1] (the VAE likelihood of pixel intensities that are not binary) with
parameter l in (0, 1) (``probs``; ``logits`` = log(l / (1 - l))):

    p(x) = C(l) l^x (1 - l)^(1 - x),     C(l) = log((1 - l) / l) / (1 - 2l)   (C(1/2) = 2)

    mean = l / (2l - 1) + 1 / log((1 - l) / l)
    var  = l (l - 1) / (1 - 2l)^2 + 1 / log((1 - l) / l)^2
    cdf  = (l^x (1 - l)^(1 - x) + l - 1) / (2l - 1),     icdf by solving that for x

Those closed forms are 0 / 0 at l = 1/2, so for l in (lims[0], lims[1]] they are replaced by
Taylor polynomials in d = l - 1/2 (the cdf and icdf by the identity, the uniform law's).
Parameters give the batch shape; events are scalars.  Draws are icdf(u), reparameterized.
"""
import math

from ..autograd._node_names import rename_node
from . import _ops as ops
from . import constraints
from .bernoulli import GivenParameter, cross_entropy_with_logits, probs_or_logits
from .exp_family import ExponentialFamily
from .utils import clamp_probs, lazy_property, scalar_or_param_shape, standard_uniform

__all__ = ["ContinuousBernoulli"]

# Taylor coefficients around l = 1/2, as polynomials in d^2 (log C, variance) or of the
# odd part of the mean (mean = 1/2 + d * poly(d^2))
_LOG_NORM_SERIES = (math.log(2.0), 4 / 3, 104 / 45)
_MEAN_SERIES = (1 / 3, 16 / 45)
_VAR_SERIES = (1 / 12, -1 / 15, 128 / 945)


def _series(coefficients, u):
    """sum_j coefficients[j] u^j, by Horner's rule."""
    total = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        total = total * u + c
    return total


class ContinuousBernoulli(GivenParameter, ExponentialFamily):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, probs=None, logits=None, lims=(0.499, 0.501), validate_args=None):
        raw = probs_or_logits(self, probs, logits)
        if "probs" in vars(self):
            # checked here, explicitly, because clamping would hide values outside [0, 1]
            if validate_args is not None and not self.arg_constraints["probs"].check(
                    self.probs).all():
                raise ValueError("The parameter probs has invalid values")
            self.probs = clamp_probs(self.probs)
        self._lims = lims
        super().__init__(scalar_or_param_shape((raw,), self._param),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._expand_params(ContinuousBernoulli, batch_shape, _instance,
                                  ("probs", "logits"))
        out._lims = self._lims
        return out

    @lazy_property
    def logits(self):
        l = clamp_probs(self.probs)
        return l.log() - (-l).log1p()

    @lazy_property
    def probs(self):
        return clamp_probs(self.logits.sigmoid())

    def _outside_lims(self):
        low, high = self._lims
        l = self.probs
        return (l <= low) | (l > high)

    def _safe_probs(self):
        """l where the closed forms are used; elsewhere lims[0], so that the discarded
        branch of each ``where`` (and its gradient) stays finite."""
        stand_in = ops.ones_like(self.probs) * self._lims[0]
        return ops.where(self._outside_lims(), self.probs, stand_in)

    def _choose(self, closed, near_half):
        return ops.where(self._outside_lims(), closed, near_half)

    def _log_norm(self):
        """log C(l)."""
        l = self._safe_probs()
        log_odds_abs = ((-l).log1p() - l.log()).abs().log()
        # log|1 - 2l|, each branch fed only values where its log is defined
        lower = ops.where(l <= 0.5, l, ops.zeros_like(l))
        upper = ops.where(l >= 0.5, l, ops.ones_like(l))
        log_gap = ops.where(l <= 0.5, (-2 * lower).log1p(), (2 * upper - 1).log())
        d2 = (self.probs - 0.5).pow(2)
        return self._choose(log_odds_abs - log_gap, _series(_LOG_NORM_SERIES, d2))

    # as an exponential family: theta = logit, F(theta) = log((e^theta - 1) / theta), taken
    # near theta = 0 from its series theta/2 + theta^2/24 - theta^4/2880
    @property
    def _natural_params(self):
        return (self.logits,)

    def _log_normalizer(self, x):
        near = x.abs() < 1e-2
        safe = ops.where(near, ops.ones_like(x), x)
        exact = (ops.expm1(safe).abs() / safe.abs()).log()
        series = 0.5 * x + x.pow(2) / 24.0 - x.pow(4) / 2880.0
        return ops.where(near, series, exact)

    @property
    def _mean_carrier_measure(self):
        return 0

    @property
    def mean(self):
        l = self._safe_probs()
        closed = l / (2 * l - 1) + ((-l).log1p() - l.log()).reciprocal()
        d = self.probs - 0.5
        return self._choose(closed, 0.5 + d * _series(_MEAN_SERIES, d * d))

    @property
    def variance(self):
        l = self._safe_probs()
        inv_log = ((-l).log1p() - l.log()).reciprocal()
        closed = l * (l - 1) / (1 - 2 * l).pow(2) + inv_log * inv_log
        return self._choose(closed, _series(_VAR_SERIES, (self.probs - 0.5).pow(2)))

    @property
    def stddev(self):
        return self.variance.sqrt()

    def sample(self, sample_shape=ops.Size()):
        with ops.no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape=ops.Size()):
        u = standard_uniform(self._extended_shape(sample_shape), self.probs)
        return self.icdf(u)

    def log_prob(self, value):
        x = self._checked(value)
        # (PyTorch adds the log-normaliser last: AddBackward0)
        return rename_node(self._log_norm() - cross_entropy_with_logits(
            *ops.broadcast_tensors(self.logits, x)), "AddBackward0")

    def cdf(self, value):
        x = self._checked(value)
        l = self._safe_probs()
        closed = (l.pow(x) * (1 - l).pow(1 - x) + l - 1) / (2 * l - 1)
        inside = self._choose(closed, x)
        floor = ops.where(x <= 0, ops.zeros_like(inside), inside)
        return ops.where(x >= 1, ops.ones_like(inside), floor)

    def icdf(self, value):
        l = self._safe_probs()
        log_1ml = (-l).log1p()
        closed = ((value * (2 * l - 1) - l).log1p() - log_1ml) / (l.log() - log_1ml)
        return self._choose(closed, value)

    def entropy(self):
        log_l, log_1ml = self.probs.log(), (-self.probs).log1p()
        return self.mean * (log_1ml - log_l) - log_1ml - self._log_norm()
