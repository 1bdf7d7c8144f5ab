"""``Geometric(probs=None, logits=None)``: the number of failures before the first success
of Bernoulli(p) trials, P(k) = (1 - p)^k p for k = 0, 1, 2, ...

    mean = (1 - p) / p,  variance = (1 - p) / p^2,  sample = floor(log u / log(1 - p))
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .bernoulli import BinaryOdds, cross_entropy_with_logits, probs_or_logits
from .distribution import Distribution
from .utils import scalar_or_param_shape, standard_uniform

__all__ = ["Geometric"]


class Geometric(BinaryOdds, Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        given = probs_or_logits(self, probs, logits)
        held = vars(self)["probs" if probs is not None else "logits"]
        super().__init__(scalar_or_param_shape((given,), held), validate_args=validate_args)
        if probs is not None and self._validate_args:
            self._require_positive_probs()

    def _require_positive_probs(self):
        """p = 0 passes unit_interval but defines no distribution: PyTorch's extra check."""
        p = self.probs
        bad = p <= 0
        if bool(bad.any()):
            raise ValueError(f"Expected parameter probs ({type(p).__name__} of shape "
                             f"{tuple(p.shape)}) of distribution {self!r} to be "
                             f"positive but found invalid values:\n{p.detach()[bad]}")

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Geometric, batch_shape, _instance, ("probs", "logits"))

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ops.zeros_like(self.probs)

    @property
    def variance(self):
        p = self.probs
        return (1 - p) / (p * p)

    def sample(self, sample_shape=ops.Size()):
        """floor(log u / log(1 - p)): inverse-CDF sampling."""
        out_shape = self._extended_shape(sample_shape)
        with ops.no_grad():
            p = self.probs.detach()
            u = standard_uniform(out_shape, p).clamp(min=ops.finfo(p.dtype).tiny)
            return (u.log() / (-p).log1p()).floor()

    def log_prob(self, value):
        """k log(1 - p) + log p (with 0 * log 0 = 0 at p = 1, k = 0)."""
        x = self._checked(value)
        if not ops.is_tensor(x):
            x = ops.tensor(x, dtype=self.probs.dtype, device=self.probs.device)
        k, p = ops.broadcast_tensors(x, self.probs)
        # where p = 1 and k = 0 the term k log(1 - p) is 0 * -inf: evaluate it at p = 0
        # instead (value 0, and no NaN gradient through log1p)
        p_for_failures = ops.where((k == 0) & (p == 1), 0.0, p)
        return k * (-p_for_failures).log1p() + self.probs.log()

    def entropy(self):
        return cross_entropy_with_logits(self.logits, self.probs) / self.probs
