"""Concrete (Gumbel-softmax) relaxation of a one-hot categorical draw over k classes, at a
``temperature`` t > 0: reparameterized draws on the simplex that approach one-hot vectors
as t -> 0.

``ExpRelaxedCategorical``: the log-space variable y = log_softmax((logits + g) / t), g
standard Gumbel noise (g = -log(-log u)), event shape (k,). With s = logits - t y,

    log p(y) = log (k-1)! + (k - 1) log t + sum_i s_i - k logsumexp(s)

``RelaxedOneHotCategorical``: exp(y), a point of the simplex.
"""

from . import _ops as ops
from . import constraints
from .categorical import Categorical
from .distribution import Distribution
from .relaxed_bernoulli import from_base
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform
from .utils import clamp_probs, standard_uniform

__all__ = ["ExpRelaxedCategorical", "RelaxedOneHotCategorical"]


class ExpRelaxedCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        classes = Categorical(probs, logits)
        self._classes = classes
        self.temperature = temperature
        super().__init__(classes.batch_shape, classes.param_shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(ExpRelaxedCategorical, _instance)
        wanted = ops.Size(batch_shape)
        out.temperature = self.temperature
        out._classes = self._classes.expand(wanted)
        Distribution.__init__(out, wanted, self._event_shape, validate_args=False)
        out._validate_args = self._validate_args
        return out

    @property
    def logits(self):
        """Normalised log-probabilities, shape batch + (k,)."""
        return self._classes.logits

    @property
    def probs(self):
        """Normalised class probabilities, shape batch + (k,)."""
        return self._classes.probs

    @property
    def param_shape(self):
        return self._classes.param_shape

    def rsample(self, sample_shape=ops.Size()):
        u = clamp_probs(standard_uniform(self._extended_shape(sample_shape), self.logits))
        gumbel_noise = -(-u.log()).log()
        # scores - logsumexp(scores) (not log_softmax), rounded as PyTorch's sampler rounds
        scores = (self.logits + gumbel_noise) / self.temperature
        return scores - scores.logsumexp(-1, keepdim=True)

    def log_prob(self, value):
        y = self._checked(value)
        t = self.temperature
        k = self._event_shape[0]
        s = self.logits - t * y
        density = s.sum(-1) - k * s.logsumexp(-1)
        # log (k-1)! + (k-1) log t in the temperature's own dtype, as PyTorch: a float32
        # temperature rounds this term to float32 even beside float64 logits
        log_scale = ops.lgamma(ops.full_like(t, float(k))) + (k - 1) * t.log()
        return density + log_scale


class RelaxedOneHotCategorical(TransformedDistribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        log_space = ExpRelaxedCategorical(temperature, probs, logits,
                                          validate_args=validate_args)
        super().__init__(log_space, ExpTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(RelaxedOneHotCategorical, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=out)

    temperature = from_base("temperature", "The relaxation temperature t.")
    logits = from_base("logits", "Normalised log-probabilities of the classes.")
    probs = from_base("probs", "Normalised probabilities of the classes.")
