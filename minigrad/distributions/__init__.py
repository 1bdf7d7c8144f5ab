"""``minigrad.distributions``: PyTorch's ``torch.distributions`` API on minigrad tensors.

Each distribution computes log_prob, entropy, mean, variance, cdf/icdf and KL divergences
with differentiable minigrad ops (so gradients, also of higher order, flow to the
parameters), and draws samples from minigrad's global generator (``minigrad.manual_seed``):
the same distributions as PyTorch's, not the same numbers.  See docs/distributions.md.
"""
from . import constraints, transforms  # noqa: F401
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical, OneHotCategorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exponential import Exponential
from .gamma import Gamma
from .geometric import Geometric
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .log_normal import LogNormal
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .transforms import (
    AffineTransform, ComposeTransform, ExpTransform, SigmoidTransform, TanhTransform,
    Transform, identity_transform)
from .uniform import Uniform

__all__ = [
    "AffineTransform", "Bernoulli", "Beta", "Binomial", "Categorical", "ComposeTransform",
    "Dirichlet", "Distribution", "ExpTransform", "Exponential", "Gamma", "Geometric",
    "Independent", "Laplace", "LogNormal", "MultivariateNormal", "Normal", "OneHotCategorical",
    "Poisson", "SigmoidTransform", "TanhTransform", "Transform", "TransformedDistribution",
    "Uniform", "constraints", "identity_transform", "kl_divergence", "register_kl",
    "transforms",
]
