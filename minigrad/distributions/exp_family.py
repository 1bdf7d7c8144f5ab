"""``ExponentialFamily``: base class of the laws whose density has the form

    p(x; theta) = exp(<t(x), theta> - F(theta) + k(x))

with natural parameters theta, sufficient statistic t, log-normalizer F and carrier
measure k.  Since E[t(X)] = grad F(theta), the entropy and the KL divergence between two
members of one family follow from F alone (Bregman divergences of F; Nielsen & Nock,
"Entropies and cross-entropies of exponential families", 2010):

    H(p)        = F(theta) - <theta, grad F(theta)> - E_p[k(X)]
    KL(p || q)  = F(theta_q) - F(theta_p) - <theta_q - theta_p, grad F(theta_p)>

grad F is taken with minigrad's autograd (``create_graph=True``), so both results stay
differentiable, to any order, in the natural parameters and through them in the
distribution's own parameters.
"""
from __future__ import annotations

from . import _ops as ops
from ..autograd.engine import grad as _autograd_grad
from .distribution import Distribution
from .utils import sum_rightmost

__all__ = ["ExponentialFamily", "log_normalizer_slopes"]


def _as_differentiable(eta):
    """``eta`` itself when autograd already tracks it (so gradients reach the parameters it
    was computed from), else a detached copy made a leaf that requires grad."""
    if eta.requires_grad:
        return eta
    return eta.detach().requires_grad_()


def log_normalizer_slopes(dist):
    """(natural parameters, F at them, grad F at them) for an ExponentialFamily ``dist``;
    the slopes carry a graph (``create_graph=True``) so they can be differentiated again."""
    with ops.enable_grad():
        etas = [_as_differentiable(eta) for eta in dist._natural_params]
        log_norm = dist._log_normalizer(*etas)
        slopes = _autograd_grad(log_norm.sum(), etas, create_graph=True)
    return etas, log_norm, slopes


class ExponentialFamily(Distribution):
    """Abstract base of the exponential-family distributions.

    A subclass provides
      ``_natural_params``        (property) the tuple of natural-parameter tensors theta_i,
                                 each of shape batch_shape + (its own event dims);
      ``_log_normalizer(*theta)`` F(theta), of shape batch_shape;
      ``_mean_carrier_measure``   E_p[k(X)] (a number or a batch_shape tensor);
    and then inherits ``entropy()`` (and the KL between two instances of one subclass,
    registered in ``kl_round10``).
    """

    @property
    def _natural_params(self):
        """The natural parameters theta, as a tuple of tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """The log-normalizer F evaluated at the given natural parameters."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """E_p[k(X)], the expected carrier measure."""
        raise NotImplementedError

    def entropy(self):
        """F(theta) - sum_i <theta_i, dF/dtheta_i> - E[k(X)], of shape batch_shape."""
        etas, log_norm, slopes = log_normalizer_slopes(self)
        result = log_norm - self._mean_carrier_measure
        batch_rank = len(self._batch_shape)
        for eta, slope in zip(etas, slopes):
            inner = eta * slope
            # every dim past the batch belongs to one natural parameter's event
            result = result - sum_rightmost(inner, max(inner.dim() - batch_rank, 0))
        return result
