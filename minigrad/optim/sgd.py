"""``SGD``: stochastic gradient descent, with momentum, Nesterov momentum and weight decay."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation.

    For each parameter p with gradient g (g = -g when ``maximize``):
        g = g + weight_decay * p
        b = g (first step)  or  b = momentum * b + (1 - dampening) * g     (if momentum)
        g = g + momentum * b (nesterov)  or  g = b
        p = p - lr * g
    State per parameter: 'momentum_buffer' (when momentum != 0).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        self._check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._check_flags("SGD", fused, differentiable, foreach)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if wd != 0:
            g = g + wd * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._wrap(g.copy())
            else:
                b = buf._array
                b *= momentum
                b += (1 - group["dampening"]) * g
            g = g + momentum * buf._array if group["nesterov"] else buf._array
        p -= lr * g
