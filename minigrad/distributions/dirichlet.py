"""``Dirichlet(concentration)``: density prod_i x_i^(a_i - 1) / B(a) on the simplex.

rsample normalises independent Gamma(a_i, 1) draws, x = g / sum(g), as PyTorch's kernel;
its gradient is PyTorch's pathwise one, through each x_i's Beta marginal (see
``_dirichlet_grad``), computed exactly where PyTorch approximates it.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd._node_names import rename_node
from ..autograd.function import Function, once_differentiable
from . import _ops as ops
from . import constraints
from ._dirichlet_grad import dirichlet_grad
from ._standard_gamma import torch_gamma_draws
from .utils import param_numpy
from .exp_family import ExponentialFamily

__all__ = ["Dirichlet"]


def _log_beta(a):
    """log B(a) = sum_i lgamma(a_i) - lgamma(sum_i a_i), over the last dim."""
    return ops.lgamma(a).sum(-1) - ops.lgamma(a.sum(-1))


class _Dirichlet(Function):
    """Dirichlet draws ``draws`` (a numpy array made in rsample) of concentration ``alpha``;
    backward: PyTorch's pathwise gradient through the Beta marginals, once differentiable
    as there."""

    @staticmethod
    def forward(ctx, alpha, draws):
        x = ops.Tensor._wrap(backend.to_device(draws, alpha.device))
        ctx.save_for_backward(x, alpha)
        return x

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x, alpha = ctx.saved_tensors
        grad = dirichlet_grad(param_numpy(x), param_numpy(alpha), param_numpy(g))
        return ops.Tensor._wrap(backend.to_device(grad, g.device)), None


class Dirichlet(ExponentialFamily):
    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.dim() == 0:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        dims = tuple(concentration.shape)
        super().__init__(dims[:-1], dims[-1:], validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        return self._expand_params(Dirichlet, batch_shape, _instance, ("concentration",))

    def rsample(self, sample_shape=ops.Size()):
        out_shape = self._extended_shape(sample_shape)
        alpha = self.concentration.expand(out_shape)
        # PyTorch's kernel draws the gammas and normalises them in float64, then rounds to
        # alpha's dtype and keeps the result inside (0, 1): those are the values; the
        # gradient flows through the normalised gammas (the difference is a constant shift)
        a = param_numpy(alpha)
        g64 = np.maximum(torch_gamma_draws(a, np.float64), np.finfo(np.float64).tiny)
        dtype = a.dtype
        exact = np.clip((g64 / g64.sum(-1, keepdims=True)).astype(dtype),
                        np.finfo(dtype).tiny, np.nextafter(dtype.type(1), dtype.type(0)))
        return _Dirichlet.apply(alpha, exact)

    def log_prob(self, value):
        """sum (a_i - 1) log x_i - log B(a)."""
        x = self._checked(value)
        a = self.concentration
        return ops.xlogy(a - 1.0, x).sum(-1) - _log_beta(a)

    # as an exponential family: theta = alpha, F(theta) = sum lgamma(alpha_i) - lgamma(sum alpha)
    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return ops.lgamma(x).sum(-1) - ops.lgamma(x.sum(-1))

    @property
    def mean(self):
        a = self.concentration
        return a / a.sum(-1, keepdim=True)

    @property
    def mode(self):
        """(a - 1) / sum(a - 1) where all a > 1; a vertex where some a < 1 (PyTorch's rule:
        where every a_i < 1, the one-hot vector of the largest)."""
        excess = (self.concentration - 1).clamp(min=0.0)
        interior = excess / excess.sum(-1, keepdim=True)
        k = excess.shape[-1]
        corner = ops.one_hot(interior.argmax(-1), k).to(interior.dtype)
        all_small = (self.concentration < 1).all(dim=-1, keepdim=True)
        # (PyTorch writes the vertices into its result: CopySlices last)
        return rename_node(ops.where(all_small, corner, interior), "torch::autograd::CopySlices")

    @property
    def variance(self):
        """m (1 - m) / (a0 + 1) with m the mean and a0 = sum(a)."""
        a = self.concentration
        total = a.sum(-1, keepdim=True)
        m = a / total
        return m * (1 - m) / (total + 1)

    def entropy(self):
        """log B(a) + (a0 - K) digamma(a0) - sum (a_i - 1) digamma(a_i)."""
        a = self.concentration
        a0 = a.sum(-1)
        spread = ((a - 1.0) * ops.digamma(a)).sum(-1)
        return _log_beta(a) + (a0 - a.shape[-1]) * ops.digamma(a0) - spread
