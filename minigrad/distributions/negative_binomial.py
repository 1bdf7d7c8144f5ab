"""``NegativeBinomial(total_count, probs=None, logits=None)``.

The number k = 0, 1, 2, ... of successes (each with probability p) seen before the r-th
failure, r = ``total_count`` > 0 (real r allowed):

    P(k) = Gamma(r + k) / (Gamma(r) k!) * p^k (1 - p)^r

    mean = r p / (1 - p),  var = mean / (1 - p),  mode = floor((r - 1) p / (1 - p)) (>= 0)

Both powers are taken in log space from the logits, log p = logsigmoid(logits) and
log(1 - p) = logsigmoid(-logits).  A draw is Poisson(lambda) with lambda ~ Gamma(r, rate
(1 - p) / p) (no gradient).  total_count and the probability broadcast to the batch shape.
"""
from .._random_factories import stream_of
from ..ops.sampling_more import poisson_counts
from ..autograd._node_names import rename_node
from . import _ops as ops
from . import constraints
from .bernoulli import _BOTH_OR_NEITHER, BinaryOdds, GivenParameter
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all, lazy_property, param_numpy, wrap_draws

__all__ = ["NegativeBinomial"]


def _log_sigmoid(z):
    return -ops.softplus(-z)


class NegativeBinomial(GivenParameter, BinaryOdds, Distribution):
    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        if (probs is None) is (logits is None):
            raise ValueError(_BOTH_OR_NEITHER)
        name, given = ("logits", logits) if probs is None else ("probs", probs)
        r, p = broadcast_all(total_count, given)
        setattr(self, name, p)
        self.total_count = r.type_as(p)
        self._given = name
        super().__init__(p.size(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(NegativeBinomial, batch_shape, _instance,
                                   ("total_count", "probs", "logits"))

    @property
    def mean(self):
        odds = self.logits.exp()                      # p / (1 - p)
        return odds * self.total_count

    @property
    def mode(self):
        odds = self.logits.exp()
        return (odds * (self.total_count - 1)).floor().clamp(min=0.0)

    @property
    def variance(self):
        one_minus_p = (-self.logits).sigmoid()
        return self.mean / one_minus_p

    @lazy_property
    def _poisson_rate(self):
        """Gamma(r, rate (1 - p) / p): the mixing law of the Poisson rate."""
        return Gamma(concentration=self.total_count, rate=(-self.logits).exp(),
                     validate_args=False)

    def sample(self, sample_shape=ops.Size()):
        with ops.no_grad():
            lam = self._poisson_rate.sample(sample_shape)
            return wrap_draws(poisson_counts(param_numpy(lam), stream_of(None)), lam)

    def log_prob(self, value):
        k = self._checked(value)
        r = self.total_count
        log_powers = k * _log_sigmoid(self.logits) + r * _log_sigmoid(-self.logits)
        log_coefficient = ops.lgamma(r + k) - ops.lgamma(r) - ops.lgamma(k + 1)
        # r + k = 0 (r = 0 and k = 0): the coefficient is 1, though lgamma(0) is infinite
        log_coefficient = ops.where(r + k == 0, 0.0, log_coefficient)
        # (PyTorch subtracts the log-normaliser last: SubBackward0)
        return rename_node(log_powers + log_coefficient, "SubBackward0")
