"""KL divergences between members of different families (registered with ``register_kl``
on import), the pairs PyTorch registers beyond those of ``kl`` and ``kl_more``.

Each finite one is KL(p || q) = -H(p) - E_p[log q(X)], with E_p[log q(X)] read off q's
log-density from the moments of p that it needs:

    q Normal(mu, s)       log q = -log s - log(2 pi)/2 - (x - mu)^2 / (2 s^2)
                          needs E(X - mu)^2 = Var X + (E X - mu)^2
    q Exponential(r)      log q = log r - r x                  needs E X
    q Gamma(a, b)         log q = a log b - lgamma(a) + (a - 1) log x - b x
                          needs E X and E log X
    q Gumbel(m, b)        log q = -log b - z - exp(-z),  z = (x - m) / b
                          needs E X and E exp(-X / b) (p's moment generating function)
    q Uniform(l, h)       log q = -log(h - l) on [l, h]
    q ContinuousBernoulli log q = log C + x logit - softplus(logit) (affine in x)
    q Pareto(s, a)        log q = log a + a log s - (a + 1) log x on [s, inf)

and it is +inf where p puts mass outside q's support (whole pairs, such as a Normal
against a Gamma, are +inf everywhere, shaped like p's first parameter) or where the moment
needed diverges (a Pareto's mean for alpha <= 1, its variance for alpha <= 2).
"""
from __future__ import annotations

import math

from . import _ops as ops
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .continuous_bernoulli import ContinuousBernoulli
from .exponential import Exponential
from .gamma import Gamma
from .heavy_tailed import Gumbel
from .kl import register_kl
from .laplace import Laplace
from .normal import Normal
from .poisson import Poisson
from .uniform import Uniform
from .weibull_pareto import Pareto

__all__ = []

_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def _infinite_like(value):
    return ops.full_like(value, math.inf)


def _where_inf(condition, value):
    return ops.where(condition, ops.full_like(value, math.inf), value)


# --------------------------------------------------------------- E_p[log q] of each q


def _cross_normal(q, mean, variance):
    second = variance + (mean - q.loc).pow(2)
    return -q.scale.log() - _HALF_LOG_TWO_PI - second / (2 * q.scale.pow(2))


def _cross_exponential(q, mean):
    return q.rate.log() - q.rate * mean


def _cross_gamma(q, mean, mean_log):
    a, b = q.concentration, q.rate
    return a * b.log() - ops.lgamma(a) + (a - 1) * mean_log - b * mean


def _cross_gumbel(q, mean, mgf_at_minus_inv_scale):
    return (-q.scale.log() - (mean - q.loc) / q.scale
            - (q.loc / q.scale).exp() * mgf_at_minus_inv_scale)


def _cross_cont_bernoulli(q, mean):
    return q._log_norm() + mean * q.logits - ops.softplus(q.logits)


# ---------------------------------------------------------------- moments of each p


def _beta_mean_log(p):
    return ops.digamma(p.concentration1) - ops.digamma(p.concentration1 + p.concentration0)


def _uniform_mean_log(p):
    """E log X for X ~ U(l, h), 0 <= l: (h log h - l log l) / (h - l) - 1."""
    width = p.high - p.low
    return (ops.xlogy(p.high, p.high) - ops.xlogy(p.low, p.low)) / width - 1


def _safe_alpha(p, least):
    """p.alpha where it exceeds ``least``, elsewhere a finite stand-in (those entries end
    up +inf), so that neither value nor gradient of the discarded branch is nan."""
    return ops.where(p.alpha > least, p.alpha, ops.full_like(p.alpha, least + 1.0))


def _pareto_mean(p):
    a = _safe_alpha(p, 1)                # a <= 1: infinite mean
    return p.scale * a / (a - 1)


def _pareto_log_moments(p):
    """(E log X, E X) for X ~ Pareto(s, a): log s + 1 / a, a s / (a - 1)."""
    return p.scale.log() + p.alpha.reciprocal(), _pareto_mean(p)


# ------------------------------------------------------------------- to a Normal


def _any_vs_normal(p, q):
    """For p with finite mean and variance of its own (Beta, CB, Exponential, Gamma)."""
    return -p.entropy() - _cross_normal(q, p.mean, p.variance)


for _p_type in (Beta, ContinuousBernoulli, Exponential, Gamma):
    register_kl(_p_type, Normal)(_any_vs_normal)


@register_kl(Laplace, Normal)
def _laplace_vs_normal(p, q):
    return -p.entropy() - _cross_normal(q, p.loc, 2 * p.scale.pow(2))


@register_kl(Pareto, Normal)
def _pareto_vs_normal(p, q):
    a = _safe_alpha(p, 2)                # a <= 2: infinite variance
    variance = (p.scale / (a - 1)).pow(2) * (a / (a - 2))
    result = -p.entropy() - _cross_normal(q, p.scale * a / (a - 1), variance)
    return _where_inf(p.alpha <= 2, result)


# --------------------------------------------------------- to an Exponential / Gamma


@register_kl(Beta, Exponential)
def _beta_vs_exponential(p, q):
    return -p.entropy() - _cross_exponential(q, p.mean)


@register_kl(ContinuousBernoulli, Exponential)
def _cont_bernoulli_vs_exponential(p, q):
    return -p.entropy() - _cross_exponential(q, p.mean)


@register_kl(Pareto, Exponential)
def _pareto_vs_exponential(p, q):
    result = -p.entropy() - _cross_exponential(q, _pareto_mean(p))
    return _where_inf(p.alpha <= 1, result)


@register_kl(Uniform, Exponential)
def _uniform_vs_exponential(p, q):
    result = -p.entropy() - _cross_exponential(q, p.mean)
    return _where_inf(p.low < 0, result)


@register_kl(Beta, Gamma)
def _beta_vs_gamma(p, q):
    return -p.entropy() - _cross_gamma(q, p.mean, _beta_mean_log(p))


@register_kl(Pareto, Gamma)
def _pareto_vs_gamma(p, q):
    mean_log, mean = _pareto_log_moments(p)
    result = -p.entropy() - _cross_gamma(q, mean, mean_log)
    return _where_inf(p.alpha <= 1, result)


@register_kl(Uniform, Gamma)
def _uniform_vs_gamma(p, q):
    result = -p.entropy() - _cross_gamma(q, p.mean, _uniform_mean_log(p))
    return _where_inf(p.low < 0, result)


# ----------------------------------------------------------------------- to a Gumbel


@register_kl(Exponential, Gumbel)
def _exponential_vs_gumbel(p, q):
    mgf = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() - _cross_gumbel(q, p.mean, mgf)


@register_kl(Gamma, Gumbel)
def _gamma_vs_gumbel(p, q):
    mgf = (-p.concentration * (1 + (p.rate * q.scale).reciprocal()).log()).exp()
    return -p.entropy() - _cross_gumbel(q, p.mean, mgf)


@register_kl(Uniform, Gumbel)
def _uniform_vs_gumbel(p, q):
    width = p.high - p.low
    mgf = q.scale * ((-p.low / q.scale).exp() - (-p.high / q.scale).exp()) / width
    return -p.entropy() - _cross_gumbel(q, p.mean, mgf)


# ------------------------------------------------- to bounded supports: Uniform, Beta, CB


@register_kl(Beta, Uniform)
def _beta_vs_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _where_inf((q.low > 0) | (q.high < 1), result)


@register_kl(ContinuousBernoulli, Uniform)
def _cont_bernoulli_vs_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    # as PyTorch: q touching either end of [0, 1] counts as not covering it
    return _where_inf((q.low >= 0) | (q.high <= 1), result)


@register_kl(Uniform, Beta)
def _uniform_vs_beta(p, q):
    a, b = q.concentration1, q.concentration0
    width = p.high - p.low
    mean_log = _uniform_mean_log(p)
    # E log(1 - X): X -> 1 - X maps U(l, h) onto U(1 - h, 1 - l)
    one_minus_high, one_minus_low = 1 - p.high, 1 - p.low
    mean_log_rest = (ops.xlogy(one_minus_low, one_minus_low)
                     - ops.xlogy(one_minus_high, one_minus_high)) / width - 1
    log_beta = ops.lgamma(a) + ops.lgamma(b) - ops.lgamma(a + b)
    cross = (a - 1) * mean_log + (b - 1) * mean_log_rest - log_beta
    result = -p.entropy() - cross
    return _where_inf((p.low < 0) | (p.high > 1), result)


@register_kl(Beta, ContinuousBernoulli)
def _beta_vs_cont_bernoulli(p, q):
    return -p.entropy() - _cross_cont_bernoulli(q, p.mean)


@register_kl(Uniform, ContinuousBernoulli)
def _uniform_vs_cont_bernoulli(p, q):
    result = -p.entropy() - _cross_cont_bernoulli(q, p.mean)
    # PyTorch counts touching either end of [0, 1] as leaving the support
    return _where_inf((p.high >= 1) | (p.low <= 0), result)


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _cont_bernoulli_vs_cont_bernoulli(p, q):
    # PyTorch registers this pair in closed form, ahead of the exponential-family rule
    # (whose autograd slope would leave the result requiring grad): with log f = log C +
    # x logit + log(1 - probs), KL is E X (logit_p - logit_q) plus the rest's difference
    rest_p = p._log_norm() + (-p.probs).log1p()
    rest_q = q._log_norm() + (-q.probs).log1p()
    return p.mean * (p.logits - q.logits) + rest_p - rest_q


@register_kl(Pareto, Pareto)
def _pareto_vs_pareto(p, q):
    # a_q log(s_p / s_q) - log(a_q / a_p) + a_q / a_p - 1, +inf where s_p < s_q
    ratio = q.alpha / p.alpha
    result = q.alpha * (p.scale / q.scale).log() - ratio.log() + ratio - 1
    return _where_inf(p.scale < q.scale, result)


@register_kl(Uniform, Pareto)
def _uniform_vs_pareto(p, q):
    mean_log = _uniform_mean_log(p)
    cross = q.alpha.log() + q.alpha * q.scale.log() - (q.alpha + 1) * mean_log
    result = -p.entropy() - cross
    return _where_inf(p.low < q.scale, result)


# ------------------------------------------------------------ support mismatch: +inf


def _register_infinite(p_types, q_types, first_param):
    def infinite(p, q):
        return _infinite_like(getattr(p, first_param))

    for p_type in p_types:
        for q_type in q_types:
            register_kl(p_type, q_type)(infinite)


_UNIT_INTERVAL = (Beta, ContinuousBernoulli, Pareto, Uniform)
_register_infinite((Normal,), (Exponential, Gamma) + _UNIT_INTERVAL, "loc")
_register_infinite((Laplace,), (Exponential, Gamma) + _UNIT_INTERVAL, "loc")
_register_infinite((Gumbel,), (Exponential, Gamma) + _UNIT_INTERVAL, "loc")
_register_infinite((Exponential,), _UNIT_INTERVAL, "rate")
_register_infinite((Gamma,), _UNIT_INTERVAL, "concentration")
_register_infinite((Beta,), (Pareto,), "concentration1")
_register_infinite((ContinuousBernoulli,), (Pareto,), "probs")
_register_infinite((Pareto,), (Beta, ContinuousBernoulli, Uniform), "scale")
_register_infinite((Poisson,), (Bernoulli, Binomial), "rate")
