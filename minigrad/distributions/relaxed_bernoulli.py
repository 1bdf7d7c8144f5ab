"""Binary Concrete (Gumbel-sigmoid) relaxation of a coin with success probability p, at a
``temperature`` t > 0, giving reparameterized draws that approach 0/1 as t -> 0.

``LogitRelaxedBernoulli``: the variable y = (logit(p) + L) / t on the real line, with L a
standard logistic draw (logit of a uniform). With d = logit(p) - t y its log-density is

    log p(y) = log t + d - 2 log(1 + e^d)

``RelaxedBernoulli``: sigmoid(y), a value in (0, 1), built as a ``TransformedDistribution``.

Parameters broadcast to the batch shape; events are scalars.
"""
from . import _ops as ops
from . import constraints
from .bernoulli import BinaryOdds, GivenParameter, probs_or_logits
from .distribution import Distribution
from .transformed_distribution import TransformedDistribution
from .transforms import SigmoidTransform
from .utils import clamp_probs, scalar_or_param_shape, standard_uniform

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli"]


def _logit(q):
    """log(q / (1 - q)) for q in (0, 1)."""
    return q.log() - (-q).log1p()


def from_base(name, doc):
    """A read-only property reading attribute ``name`` of ``self.base_dist`` (the relaxed
    distributions that are transformed ones forward their parameters this way)."""
    return property(lambda self: getattr(self.base_dist, name), doc=doc)


class LogitRelaxedBernoulli(GivenParameter, BinaryOdds, Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self.temperature = temperature
        raw = probs_or_logits(self, probs, logits)
        super().__init__(scalar_or_param_shape((raw,), self._param),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._expand_params(LogitRelaxedBernoulli, batch_shape, _instance,
                                  ("probs", "logits"))
        out.temperature = self.temperature
        return out

    def rsample(self, sample_shape=ops.Size()):
        """(logit(p) + logit(u)) / t with u ~ U(0, 1); both clamped inside (0, 1)."""
        out_shape = self._extended_shape(sample_shape)
        p = clamp_probs(self.probs.expand(out_shape))
        u = clamp_probs(standard_uniform(out_shape, p))
        # summed left to right as PyTorch's sampler does, so a seed gives its numbers
        return (u.log() - (-u).log1p() + p.log() - (-p).log1p()) / self.temperature

    def log_prob(self, value):
        y = self._checked(value)
        t = self.temperature
        d = self.logits - t * y
        log_one_plus_e_d = d.exp().log1p()
        return t.log() + d - log_one_plus_e_d * 2


class RelaxedBernoulli(TransformedDistribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        logit_space = LogitRelaxedBernoulli(temperature, probs, logits)
        super().__init__(logit_space, SigmoidTransform(), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        out = self._get_checked_instance(RelaxedBernoulli, _instance)
        return TransformedDistribution.expand(self, batch_shape, _instance=out)

    temperature = from_base("temperature", "The relaxation temperature t.")
    logits = from_base("logits", "Log-odds of the relaxed coin.")
    probs = from_base("probs", "Success probability of the relaxed coin.")
