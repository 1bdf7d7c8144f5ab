"""KL divergences of the laws in ``heavy_tailed`` and ``lowrank_multivariate_normal``
(registered with ``register_kl`` on import), each from E_p[log p] - E_p[log q]:

    Cauchy  || Cauchy    log((s1 + s2)^2 + (m1 - m2)^2) - log(4 s1 s2)
    Gumbel  || Gumbel    log(b2 / b1) + (m1 - m2) / b2 + g b1 / b2
                         + exp((m2 - m1) / b2) Gamma(1 + b1 / b2) - 1 - g     (g: Euler's)
    HalfNormal pairs     the KL of the unfolded normals
    Gumbel  || Normal    E_p[(x - mu)^2] = var_p + (mean_p - mu)^2 in the normal's log-density
    Normal  || Gumbel    E_p[exp(-(x - m) / b)] = exp(-(mu - m) / b + sigma^2 / (2 b^2))

and for Gaussians with covariances S_p, S_q on R^n (one or both low-rank-plus-diagonal)

    0.5 (log det S_q - log det S_p + tr(S_q^-1 S_p) + (mu_q - mu_p)^T S_q^-1 (mu_q - mu_p) - n)

with S_q^-1 = D^-1 - A^T A (A = L_C^-1 W^T D^-1, Woodbury) when q is low-rank, so that
tr(S_q^-1 S_p) = sum(diag(S_p) / D) - |A F|^2 for any factor F F^T = S_p.
"""
from __future__ import annotations

import math

from . import _ops as ops
from .heavy_tailed import Cauchy, Gumbel, HalfNormal
from .kl import register_kl
from .lowrank_multivariate_normal import LowRankMultivariateNormal, lowrank_logdet, \
    lowrank_mahalanobis
from .multivariate_normal import MultivariateNormal, batch_mahalanobis
from .normal import Normal

__all__ = []

_EULER = 0.57721566490153286060
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
# PyTorch's messages, with the run of spaces its source's line continuation leaves in them
_GAP = " " * 26
_LOWRANK_PAIR = ("KL-divergence between two Low Rank Multivariate Normals with" + _GAP +
                 "different event shapes cannot be computed")
_MIXED_PAIR = ("KL-divergence between two (Low Rank) Multivariate Normals with" + _GAP +
               "different event shapes cannot be computed")


@register_kl(Cauchy, Cauchy)
def _cauchy_vs_cauchy(p, q):
    spread = (p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)
    return spread.log() - (4 * p.scale * q.scale).log()


@register_kl(Gumbel, Gumbel)
def _gumbel_vs_gumbel(p, q):
    ratio = p.scale / q.scale
    shift = (p.loc - q.loc) / q.scale
    tail = (ops.lgamma(1 + ratio) - shift).exp()
    return -ratio.log() + shift + _EULER * ratio + tail - (1 + _EULER)


@register_kl(HalfNormal, HalfNormal)
def _halfnormal_vs_halfnormal(p, q):
    ratio_sq = (p.scale / q.scale).pow(2)
    return 0.5 * (ratio_sq - 1 - ratio_sq.log())


@register_kl(Gumbel, Normal)
def _gumbel_vs_normal(p, q):
    var_q = q.scale.pow(2)
    second_moment = (math.pi * p.scale).pow(2) / 6 + (p.loc + _EULER * p.scale - q.loc).pow(2)
    return ((q.scale / p.scale).log() + _HALF_LOG_TWO_PI - (1 + _EULER)
            + second_moment / (2 * var_q))


@register_kl(Normal, Gumbel)
def _normal_vs_gumbel(p, q):
    z = (p.loc - q.loc) / q.scale
    tail = (0.5 * (p.scale / q.scale).pow(2) - z).exp()
    return (q.scale / p.scale).log() + z + tail - (0.5 + _HALF_LOG_TWO_PI)


def _frobenius_sq(x):
    return x.pow(2).sum((-2, -1))


def _woodbury_half(q):
    """A with S_q^-1 = D^-1 - A^T A for a low-rank-plus-diagonal q."""
    W, D = q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag
    return ops.solve_triangular(q._capacitance_tril, W.transpose(-2, -1) / D.unsqueeze(-2),
                                upper=False)


def _trace_against_lowrank(q, diag_p, factors_p):
    """tr(S_q^-1 S_p) for low-rank q, S_p given by its diagonal and factors F (F F^T summed)."""
    A = _woodbury_half(q)
    trace = (diag_p / q._unbroadcasted_cov_diag).sum(-1)
    for f in factors_p:
        trace = trace - _frobenius_sq(A @ f)
    return trace


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _lowrank_vs_lowrank(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(_LOWRANK_PAIR)
    Wp, Dp = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    log_dets = (lowrank_logdet(q._unbroadcasted_cov_diag, q._capacitance_tril)
                - lowrank_logdet(Dp, p._capacitance_tril))
    trace = _trace_against_lowrank(q, Wp.pow(2).sum(-1) + Dp, (Wp, Dp.sqrt().diag_embed()))
    squared = lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                  q.loc - p.loc, q._capacitance_tril)
    return 0.5 * (log_dets + trace + squared - p.event_shape[0])


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _mvn_vs_lowrank(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(_MIXED_PAIR)
    Lp = p._unbroadcasted_scale_tril
    log_dets = (lowrank_logdet(q._unbroadcasted_cov_diag, q._capacitance_tril)
                - 2 * Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    trace = _trace_against_lowrank(q, Lp.pow(2).sum(-1), (Lp,))
    squared = lowrank_mahalanobis(q._unbroadcasted_cov_factor, q._unbroadcasted_cov_diag,
                                  q.loc - p.loc, q._capacitance_tril)
    return 0.5 * (log_dets + trace + squared - p.event_shape[0])


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _lowrank_vs_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError(_MIXED_PAIR)
    Lq = q._unbroadcasted_scale_tril
    Wp, Dp = p._unbroadcasted_cov_factor, p._unbroadcasted_cov_diag
    n = p.event_shape[0]
    log_dets = (2 * Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                - lowrank_logdet(Dp, p._capacitance_tril))
    batch = tuple(ops.broadcast_shapes(tuple(Lq.shape[:-2]), tuple(Wp.shape[:-2])))
    tril = Lq.expand(batch + (n, n))
    trace = 0
    for f in (Wp, Dp.sqrt().diag_embed()):
        f = f.expand(batch + tuple(f.shape[-2:]))
        trace = trace + _frobenius_sq(ops.solve_triangular(tril, f, upper=False))
    squared = batch_mahalanobis(Lq, q.loc - p.loc)
    return 0.5 * (log_dets + trace + squared - n)
