"""``RMSprop``: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

from .. import backend
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's formulation.

    For each parameter p with gradient g (g = -g when ``maximize``):
        g = g + weight_decay * p
        s = alpha s + (1 - alpha) g^2
        centered:  a = alpha a + (1 - alpha) g;  d = sqrt(s - a^2) + eps
        otherwise: d = sqrt(s) + eps
        momentum > 0: b = momentum b + g / d;  p = p - lr b
        otherwise:    p = p - lr g / d
    State per parameter: 'step', 'square_avg' (s), 'momentum_buffer' (b), 'grad_avg' (a).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        self._check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        self._check_flags("RMSprop", None, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        xp = backend.xp_of(p)
        lr, alpha, eps, wd = group["lr"], group["alpha"], group["eps"], group["weight_decay"]
        momentum = group["momentum"]
        if not state:
            state["step"] = self._step_tensor()
            state["square_avg"] = self._zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = self._zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = self._zeros_like(param)
        g = -grad if group["maximize"] else grad
        state["step"]._array += 1
        if wd != 0:
            g = g + wd * p
        s = state["square_avg"]._array
        s *= alpha
        s += (1 - alpha) * g * g
        if group["centered"]:
            a = state["grad_avg"]._array
            a += (1 - alpha) * (g - a)
            avg = xp.sqrt(s - a * a) + eps
        else:
            avg = xp.sqrt(s) + eps
        if momentum > 0:
            b = state["momentum_buffer"]._array
            b *= momentum
            b += g / avg
            p -= lr * b
        else:
            p -= lr * g / avg
