"""``Multinomial(total_count=1, probs=None, logits=None)``.

The class counts, over n = ``total_count`` independent categorical trials with class
probabilities p (last dim, k classes), of how often each class came up: an event is a
k-vector x of non-negative integers with sum n (event shape (k,)), and

    P(x) = n! / (x_1! ... x_k!) * prod_i p_i^x_i

    E[x_i] = n p_i,   Var[x_i] = n p_i (1 - p_i)

The entropy uses the marginal of one count, x_i ~ Binomial(n, p_i):

    H = n H(p) - log n! + sum_i sum_{j=1..n} P(x_i = j) log j!

The parameters are held by a ``Categorical`` over the same probs/logits (which normalises
them and checks them), and a draw is the histogram of n categorical draws.
"""
import math

from . import _ops as ops
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .utils import clamp_probs

__all__ = ["Multinomial"]


def _log_binomial_pmf(j, n, p):
    """log P(X = j) for X ~ Binomial(n, p); p is clamped away from 0 and 1."""
    q = clamp_probs(p)
    log_choose = math.lgamma(n + 1) - ops.lgamma(j + 1) - ops.lgamma(n - j + 1)
    return log_choose + j * q.log() + (n - j) * (-q).log1p()


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._trial = Categorical(probs, logits)
        trial = self._trial
        super().__init__(trial.batch_shape, trial.param_shape[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(Multinomial, _instance)
        wanted = ops.Size(batch_shape)
        out.total_count = self.total_count
        out._trial = self._trial.expand(wanted)
        Distribution.__init__(out, wanted, self._event_shape, validate_args=False)
        out._validate_args = self._validate_args
        return out

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        """Integer k-vectors with entries in [0, n] summing to n."""
        return constraints.multinomial(self.total_count)

    @property
    def probs(self):
        """Normalised class probabilities, shape batch + (k,)."""
        return self._trial.probs

    @property
    def logits(self):
        """Normalised log-probabilities, shape batch + (k,)."""
        return self._trial.logits

    @property
    def param_shape(self):
        return self._trial.param_shape

    @property
    def mean(self):
        n = self.total_count
        return n * self.probs

    @property
    def variance(self):
        p = self.probs
        return (p - p * p) * self.total_count

    def sample(self, sample_shape=ops.Size()):
        """The histogram over classes of n categorical draws (in probs' dtype)."""
        k = self._event_shape[0]
        labels = self._trial.sample(ops.Size((self.total_count,)) + ops.Size(sample_shape))
        tally = ops.one_hot(labels, k).sum(0)
        return tally.reshape(self._extended_shape(sample_shape)).to(self.probs.dtype)

    def log_prob(self, value):
        x = self._checked(value)
        log_p = self.logits
        # terms with x_i = 0 contribute nothing, even where log p_i = -inf (only there is
        # log p_i replaced, so d/dx_i stays log p_i elsewhere, as in PyTorch)
        log_p = ops.where((x == 0) & (log_p == -math.inf), ops.zeros_like(log_p), log_p)
        powers = (x * log_p).sum(-1)
        log_coefficient = ops.lgamma(x.sum(-1) + 1) - ops.lgamma(x + 1).sum(-1)
        return log_coefficient + powers

    def entropy(self):
        n = self.total_count
        p = self.probs
        j = ops.arange(1, n + 1, dtype=p.dtype, device=p.device)
        j = j.reshape((n,) + (1,) * p.dim())                     # (n, 1, ..., 1)
        marginal = _log_binomial_pmf(j, n, p).exp()               # (n, *batch, k)
        expected_log_fact = (marginal * ops.lgamma(j + 1)).sum(0).sum(-1)
        # torch takes lgamma(n + 1) of an integer tensor, so rounded to the default dtype
        log_n_fact = float(ops.tensor(math.lgamma(n + 1), dtype=ops.get_default_dtype()))
        return n * self._trial.entropy() - log_n_fact + expected_log_fact
