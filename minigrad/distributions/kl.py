"""``kl_divergence(p, q)`` = E_p[log p(X) - log q(X)], in closed form for the registered
pairs of distribution types, and ``register_kl(type_p, type_q)`` to register more.
Dispatch takes the most specific registered pair of base classes, as PyTorch does; a pair
with no registration raises NotImplementedError.
"""
from __future__ import annotations

import math

from .._warn_once import warn_user
from . import _ops as ops
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
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal, batch_mahalanobis
from .normal import Normal
from .poisson import Poisson
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform
from .utils import sum_rightmost

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY = {}     # (type_p, type_q) -> function, as registered
_KL_MEMOIZE = {}      # (type(p), type(q)) -> function chosen by dispatch (or NotImplemented)

_EULER_GAMMA = 0.5772156649015329


def _check_distribution_type(kind, name):
    if not (isinstance(kind, type) and issubclass(kind, Distribution)):
        raise TypeError(f"Expected {name} to be a Distribution subclass but got {kind}")


def register_kl(type_p, type_q):
    """Decorator registering a closed-form KL: ``@register_kl(Normal, Normal)`` above
    ``def kl(p, q): ...`` (returns a tensor of the batch shape)."""
    _check_distribution_type(type_p, "type_p")
    _check_distribution_type(type_q, "type_q")

    def add(fn):
        _KL_REGISTRY[(type_p, type_q)] = fn
        _KL_MEMOIZE.clear()             # earlier dispatch results may now be stale
        return fn

    return add


def _before(first, second):
    """Specificity order on type tuples: ``first`` comes before ``second`` when, at the
    first position where they differ, first's type is a subclass of second's."""
    for mine, theirs in zip(first, second):
        if mine is not theirs:
            return issubclass(mine, theirs)
    return False


def _most_specific(candidates):
    best = candidates[0]
    for candidate in candidates[1:]:
        if _before(candidate, best):
            best = candidate
    return best


def _lookup(type_p, type_q):
    """The registered function for the most specific pair that (type_p, type_q) matches,
    warning when ranking by p first and by q first disagree; NotImplemented if none."""
    fits = [pair for pair in _KL_REGISTRY
            if issubclass(type_p, pair[0]) and issubclass(type_q, pair[1])]
    if not fits:
        return NotImplemented
    by_p = _most_specific(fits)
    by_q = _most_specific([(pq[1], pq[0]) for pq in fits])[::-1]
    chosen = _KL_REGISTRY[by_p]
    if chosen is not _KL_REGISTRY[by_q]:
        warn_user(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). "
                  f"Please register_kl({by_p[0].__name__}, {by_q[1].__name__})",
                  RuntimeWarning)
    return chosen


def kl_divergence(p, q):
    """KL(p || q) for distributions p and q, of shape batch_shape."""
    key = (type(p), type(q))
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _lookup(*key)
    fn = _KL_MEMOIZE[key]
    if fn is NotImplemented:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type "
                                  f"{type(p).__name__} and q type {type(q).__name__}")
    return fn(p, q)


def _weighted_log_ratio(weight, log_ratio, weight_is_zero, reference_is_zero):
    """weight * log_ratio with the KL conventions 0 * log(0 / r) = 0 and
    w * log(w / 0) = +inf for w > 0."""
    term = ops.where(reference_is_zero, math.inf, weight * log_ratio)
    return ops.where(weight_is_zero, 0.0, term)


def _log_beta_function(a, b):
    """log B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b)."""
    return ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)


def _half_log_det(scale_tril):
    """sum(log diag L) = 0.5 log det(L L^T), per matrix."""
    return scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)


# ------------------------------------------------------------------ pairs of one family


@register_kl(Bernoulli, Bernoulli)
def _bernoulli_vs_bernoulli(p, q):
    # log p - log q and log(1-p) - log(1-q), from log sigmoid(l) = -softplus(-l)
    success = _weighted_log_ratio(p.probs, ops.softplus(-q.logits) - ops.softplus(-p.logits),
                                  p.probs == 0, q.probs == 0)
    failure = _weighted_log_ratio(1 - p.probs, ops.softplus(q.logits) - ops.softplus(p.logits),
                                  p.probs == 1, q.probs == 1)
    return success + failure


@register_kl(Beta, Beta)
def _beta_vs_beta(p, q):
    # log B(q) - log B(p) + (a_p - a_q) psi(a_p) + (b_p - b_q) psi(b_p)
    #   + (a_q + b_q - a_p - b_p) psi(a_p + b_p)
    a_p, b_p, a_q, b_q = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    total_p = a_p + b_p
    digamma_part = ((a_p - a_q) * ops.digamma(a_p) + (b_p - b_q) * ops.digamma(b_p)
                    + ((a_q + b_q) - total_p) * ops.digamma(total_p))
    return _log_beta_function(a_q, b_q) - _log_beta_function(a_p, b_p) + digamma_part


@register_kl(Binomial, Binomial)
def _binomial_vs_binomial(p, q):
    # n [pi_p (logit p - logit q) + log(1 - pi_p) - log(1 - pi_q)], infinite if n_p > n_q
    if bool((p.total_count < q.total_count).any()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count "
                                  "is not implemented")
    per_trial = (p.probs * (p.logits - q.logits)
                 + ((-p.probs).log1p() - (-q.probs).log1p()))
    return ops.where(p.total_count > q.total_count, math.inf, per_trial * p.total_count)


@register_kl(Categorical, Categorical)
def _categorical_vs_categorical(p, q):
    per_class = _weighted_log_ratio(p.probs, p.logits - q.logits, p.probs == 0, q.probs == 0)
    return per_class.sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _onehotcategorical_vs_onehotcategorical(p, q):
    return _categorical_vs_categorical(p._categorical, q._categorical)


@register_kl(Dirichlet, Dirichlet)
def _dirichlet_vs_dirichlet(p, q):
    # log G(A_p) - log G(A_q) - sum[log G(a_p) - log G(a_q)] + sum (a_p - a_q)(psi(a_p) - psi(A_p))
    alpha, beta = p.concentration, q.concentration
    alpha_0 = alpha.sum(-1)
    normalizers = ops.lgamma(alpha_0) - ops.lgamma(beta.sum(-1))
    per_component = (ops.lgamma(alpha) - ops.lgamma(beta)).sum(-1)
    expectation = ((alpha - beta) * (ops.digamma(alpha) - ops.digamma(alpha_0)[..., None])).sum(-1)
    return normalizers - per_component + expectation


@register_kl(Exponential, Exponential)
def _exponential_vs_exponential(p, q):
    # r - 1 - log r with r = rate_q / rate_p
    r = q.rate / p.rate
    return (r - 1) - r.log()


@register_kl(Gamma, Gamma)
def _gamma_vs_gamma(p, q):
    a_p, b_p, a_q, b_q = p.concentration, p.rate, q.concentration, q.rate
    log_normalizers = a_q * (b_p / b_q).log() + (ops.lgamma(a_q) - ops.lgamma(a_p))
    return log_normalizers + (a_p - a_q) * ops.digamma(a_p) + (b_q - b_p) * (a_p / b_p)


@register_kl(Geometric, Geometric)
def _geometric_vs_geometric(p, q):
    # -H(p) - E_p[log q(X)],  log q(k) = k log(1 - q) + log q,  E_p[X] = (1 - p) / p
    cross_entropy = -(-q.probs).log1p() / p.probs - q.logits
    return cross_entropy - p.entropy()


@register_kl(Laplace, Laplace)
def _laplace_vs_laplace(p, q):
    # log(b_q / b_p) + |mu_p - mu_q| / b_q + (b_p / b_q) exp(-|mu_p - mu_q| / b_p) - 1
    shift = (p.loc - q.loc).abs()
    ratio = p.scale / q.scale
    return shift / q.scale + ratio * (-shift / p.scale).exp() - ratio.log() - 1


@register_kl(MultivariateNormal, MultivariateNormal)
def _multivariatenormal_vs_multivariatenormal(p, q):
    # log det L_q - log det L_p + 0.5 (||L_q^-1 L_p||_F^2 + mahalanobis_q(mu_q - mu_p) - n)
    if q.event_shape != p.event_shape:
        # PyTorch's words, with the run of spaces its source's line continuation leaves
        raise ValueError("KL-divergence between two Multivariate Normals with" + " " * 26
                         + "different event shapes cannot be computed")
    tril_p, tril_q = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    dim = p.event_shape[0]
    batch = tuple(ops.broadcast_shapes(tuple(tril_q.shape)[:-2], tuple(tril_p.shape)[:-2]))
    whitened = ops.solve_triangular(tril_q.expand(batch + (dim, dim)),
                                    tril_p.expand(batch + (dim, dim)), upper=False)
    trace_term = whitened.pow(2).reshape(batch + (dim * dim,)).sum(-1)
    mahalanobis = batch_mahalanobis(tril_q, q.loc - p.loc)
    return (_half_log_det(tril_q) - _half_log_det(tril_p)) + 0.5 * (trace_term + mahalanobis - dim)


@register_kl(Normal, Normal)
def _normal_vs_normal(p, q):
    # 0.5 (s^2 + z^2 - 1) - log s, with s = sigma_p / sigma_q and z = (mu_p - mu_q) / sigma_q
    s_squared = (p.scale / q.scale).pow(2)
    z_squared = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (s_squared + z_squared - 1 - s_squared.log())


@register_kl(Poisson, Poisson)
def _poisson_vs_poisson(p, q):
    # lambda_p log(lambda_p / lambda_q) + lambda_q - lambda_p
    lam_p, lam_q = p.rate, q.rate
    return lam_p * (lam_p.log() - lam_q.log()) + (lam_q - lam_p)


@register_kl(TransformedDistribution, TransformedDistribution)
def _transformed_vs_transformed(p, q):
    # KL is invariant under a shared bijection: compare the bases
    same_map = p.transforms == q.transforms and p.event_shape == q.event_shape
    if not same_map:
        raise NotImplementedError
    base_p, base_q = p.base_dist, q.base_dist
    return kl_divergence(base_p, base_q)


@register_kl(Uniform, Uniform)
def _uniform_vs_uniform(p, q):
    # log(width_q / width_p) when q's interval covers p's, else +inf
    log_widths = ((q.high - q.low) / (p.high - p.low)).log()
    uncovered = (p.low < q.low) | (p.high > q.high)
    return ops.where(uncovered, math.inf, log_widths)


@register_kl(Independent, Independent)
def _independent_vs_independent(p, q):
    moved = p.reinterpreted_batch_ndims
    if moved != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return sum_rightmost(kl_divergence(p.base_dist, q.base_dist), moved)


# ------------------------------------------------------------------ pairs across families


@register_kl(Exponential, Gamma)
def _exponential_vs_gamma(p, q):
    # -a log(b / lambda) + b / lambda + lgamma(a) + (a - 1) gamma_E - 1,  gamma_E: Euler's
    r = q.rate / p.rate
    a = q.concentration
    return (r - a * r.log() + ops.lgamma(a) + a * _EULER_GAMMA
            - (1 + _EULER_GAMMA))


@register_kl(Gamma, Exponential)
def _gamma_vs_exponential(p, q):
    # -H(p) - E_p[log lambda - lambda X],  E_p[X] = a / b
    expected_x = p.concentration / p.rate
    return q.rate * expected_x - q.rate.log() - p.entropy()


@register_kl(Uniform, Normal)
def _uniform_vs_normal(p, q):
    # log(sqrt(2 pi) sigma / w) + (w^2 / 12 + (midpoint - mu)^2) / (2 sigma^2)
    width = p.high - p.low
    offset = (p.high + p.low) / 2 - q.loc
    log_part = (q.scale * math.sqrt(2 * math.pi) / width).log()
    return log_part + (width.pow(2) / 12 + offset.pow(2)) / (2 * q.scale.pow(2))


@register_kl(Normal, Laplace)
def _normal_vs_laplace(p, q):
    # log(b / sigma) + (sigma sqrt(2/pi) exp(-d^2 / 2 sigma^2) + d erf(d / (sigma sqrt 2))) / b
    #   - 0.5 (1 + log(pi / 2)),  d = mu_p - mu_q
    gap = p.loc - q.loc
    standardized = gap / p.scale
    spread = p.scale * math.sqrt(2 / math.pi) * (standardized.pow(2) * -0.5).exp()
    drift = gap * ops.erf(standardized * math.sqrt(0.5))
    constant = 0.5 * (1 + math.log(0.5 * math.pi))
    return (spread + drift) / q.scale - (p.scale / q.scale).log() - constant


@register_kl(Bernoulli, Poisson)
def _bernoulli_vs_poisson(p, q):
    # -H(p) - E_p[X log lambda - lambda - log X!]  (log X! = 0 for X in {0, 1})
    return q.rate - p.probs * q.rate.log() - p.entropy()
