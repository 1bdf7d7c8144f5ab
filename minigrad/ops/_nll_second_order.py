"""The gradient of an NLL loss with respect to its log-probabilities, as a node of its own when
a graph is recorded (``create_graph=True``).

The gradient is g times constants (minus the class weights of the targets' columns, over the
reduction's count), so it depends on g alone; but PyTorch's backward kernel takes the input
too, and its node counts it: the gradient requires grad wherever the input does (grad_fn
``NllLossBackwardBackward0``, or ``NllLoss2DBackwardBackward0`` for spatial inputs), and
differentiating it again gives the input zeros (a tensor, not nothing) and g the constants.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .elementwise import mul
from .plumbing import reshape_to
from .reduce import sum as reduce_sum

__all__ = ["nll_scores_grad"]


class _ScoresGrad(Function):
    """out = g (reshaped to ``g_shape``, which broadcasts against the constants) * constants;
    d/dx = 0, d/dg = the constants summed back to g's shape."""

    def forward(self, x, g, *, constants, g_shape):
        self.constants, self.x_meta = constants, (x.shape, x.dtype)
        self.g_shape, self.g_given = g_shape, g.shape
        return np.multiply(g.reshape(g_shape), constants)

    def backward(self, gg):
        shape, dtype = self.x_meta
        to_x = Tensor._wrap(np.zeros(shape, dtype))
        prod = mul(gg, Tensor._wrap(self.constants))
        # (g's shape as broadcast against the constants: 1s on the left for a 0-d g)
        g_shape = (1,) * (prod.ndim - len(self.g_shape)) + tuple(self.g_shape)
        axes = tuple(d for d, n in enumerate(g_shape) if n == 1 and prod.shape[d] != 1)
        to_g = reduce_sum(prod, axes) if axes else prod
        return to_x, reshape_to(to_g, tuple(self.g_given))


def nll_scores_grad(x, g, constants, g_shape, spatial):
    """g * constants (g reshaped to ``g_shape``) recorded as PyTorch's NLL double-backward node,
    with ``x`` (the scores the loss read) as its first input."""
    node = _ScoresGrad.renamed("NllLoss2DBackwardBackward0" if spatial else
                               "NllLossBackwardBackward0")
    return node.apply(x, g, constants=constants, g_shape=g_shape)
