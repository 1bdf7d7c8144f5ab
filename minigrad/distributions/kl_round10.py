"""KL divergences of ``ExponentialFamily`` members (registered with ``register_kl`` on
import): for p and q of one family, with natural parameters theta_p, theta_q and
log-normalizer F, the Bregman divergence

    KL(p || q) = F(theta_q) - F(theta_p) - <theta_q - theta_p, grad F(theta_p)>

(grad F by autograd, kept differentiable).  Members of different families raise
NotImplementedError, as in PyTorch.  The other laws added with it (VonMises, InverseGamma,
Kumaraswamy, GeneralizedPareto, FisherSnedecor) have no closed-form pair of their own in
PyTorch; InverseGamma and Kumaraswamy pairs go through the TransformedDistribution rule.
"""
from __future__ import annotations

from .exp_family import ExponentialFamily, log_normalizer_slopes
from .kl import register_kl
from .utils import sum_rightmost

__all__ = []

# PyTorch's message, with the run of spaces its source's line continuation leaves in it
_CROSS_FAMILY = ("The cross KL-divergence between different exponential families cannot"
                 + " " * 29 + "be computed using Bregman divergences")


@register_kl(ExponentialFamily, ExponentialFamily)
def _expfamily_vs_expfamily(p, q):
    if type(p) is not type(q):
        raise NotImplementedError(_CROSS_FAMILY)
    etas_p, log_norm_p, slopes_p = log_normalizer_slopes(p)
    etas_q = q._natural_params
    result = q._log_normalizer(*etas_q) - log_norm_p
    event_rank = len(q.event_shape)
    for eta_p, eta_q, slope in zip(etas_p, etas_q, slopes_p):
        result = result - sum_rightmost((eta_q - eta_p) * slope, event_rank)
    return result
