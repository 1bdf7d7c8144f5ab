"""``MixtureSameFamily(mixture_distribution, component_distribution)``: a finite mixture of
k distributions of one family (a Gaussian mixture, a mixture density network's output).

The component distribution's rightmost batch dim indexes the k components; the mixture is
a ``Categorical`` over them, whose batch shape broadcasts with the rest. With weights w_j:

    log p(x) = logsumexp_j (log w_j + log p_j(x))
    mean     = sum_j w_j mean_j
    variance = sum_j w_j var_j + sum_j w_j (mean_j - mean)^2   (total variance)

Drawing picks a component per draw, then takes that component's draw (no rsample).
"""
from __future__ import annotations

from . import _ops as ops
from . import constraints
from .categorical import Categorical
from .distribution import Distribution, _size_text as _size

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    arg_constraints = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an  instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution needs to be an instance of "
                             "torch.distributions.Distribution")
        mixture_batch = mixture_distribution.batch_shape
        component_batch = component_distribution.batch_shape[:-1]
        for a, b in zip(reversed(mixture_batch), reversed(component_batch)):
            if a != 1 and b != 1 and a != b:
                raise ValueError(f"`mixture_distribution.batch_shape` ({_size(mixture_batch)}) "
                                 f"is not compatible with `component_distribution.batch_shape`"
                                 f"({_size(component_batch)})")
        k_mixture = mixture_distribution.logits.shape[-1]
        k_component = component_distribution.batch_shape[-1]
        if k_mixture != k_component:
            raise ValueError(f"`mixture_distribution component` ({k_mixture}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({k_component})")
        self._num_component = k_mixture
        event_shape = component_distribution.event_shape
        self._event_ndims = len(event_shape)
        super().__init__(batch_shape=component_batch, event_shape=event_shape,
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._get_checked_instance(MixtureSameFamily, _instance)
        batch_shape = ops.Size(batch_shape)
        twin._component_distribution = self._component_distribution.expand(
            ops.Size(tuple(batch_shape) + (self._num_component,)))
        twin._mixture_distribution = self._mixture_distribution.expand(batch_shape)
        twin._num_component = self._num_component
        twin._event_ndims = self._event_ndims
        Distribution.__init__(twin, batch_shape, twin._component_distribution.event_shape,
                              validate_args=False)
        twin._validate_args = self._validate_args
        return twin

    @constraints.dependent_property
    def support(self):
        return constraints.MixtureSameFamilyConstraint(self._component_distribution.support)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    def _at_components(self, x):
        """``x`` (batch + event) with a size-1 component dim before the event dims."""
        return x.unsqueeze(-1 - self._event_ndims)

    def _weights(self):
        """The mixture probabilities laid out against the components' (batch, k, event)."""
        probs = self._mixture_distribution.probs
        mixture_rank = len(self._mixture_distribution.batch_shape)
        pad = 0 if mixture_rank == 1 else len(self.batch_shape) - mixture_rank
        shape = tuple(probs.shape)
        return probs.reshape(shape[:-1] + (1,) * pad + shape[-1:] + (1,) * self._event_ndims)

    def _over_components(self, value):
        return value.sum(-1 - self._event_ndims)

    @property
    def mean(self):
        return self._over_components(self._weights() * self._component_distribution.mean)

    @property
    def variance(self):
        w = self._weights()
        components = self._component_distribution
        within = self._over_components(w * components.variance)
        spread = (components.mean - self._at_components(self.mean)).pow(2.0)
        return within + self._over_components(w * spread)

    def cdf(self, x):
        x = self._at_components(x)
        return (self._component_distribution.cdf(x) * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        x = self._at_components(self._checked(x))
        per_component = self._component_distribution.log_prob(x)        # (sample, batch, k)
        log_weights = self._mixture_distribution.logits.log_softmax(-1)
        return (per_component + log_weights).logsumexp(-1)

    def sample(self, sample_shape=ops.Size()):
        with ops.no_grad():
            sample_shape = ops.Size(sample_shape)
            where = len(sample_shape) + len(self.batch_shape)          # the component dim
            event = tuple(self.event_shape)
            chosen = self._mixture_distribution.sample(sample_shape)  # (sample, batch)
            drawn = self._component_distribution.sample(sample_shape)  # (sample, batch, k, event)
            index = chosen.reshape(tuple(chosen.shape) + (1,) * (len(event) + 1))
            index = index.repeat((1,) * chosen.dim() + (1,) + event)
            return drawn.gather(where, index).squeeze(where)

    def __repr__(self):
        return (f"MixtureSameFamily(\n  {self._mixture_distribution},\n  "
                f"{self._component_distribution})")
