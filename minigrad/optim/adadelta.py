"""``Adadelta``: steps scaled by the ratio of running RMS of past updates and of gradients."""
from __future__ import annotations

from ._validate import check_non_negative
from .optimizer import Optimizer

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at every step:
        g = g + weight_decay * p
        s = rho s + (1 - rho) g^2                         (running mean of squared gradients)
        d = sqrt(a + eps) / sqrt(s + eps) * g             (a: running mean of squared updates)
        a = rho a + (1 - rho) d^2
        p = p - lr * d
    State per parameter: 'step', 'square_avg' (s), 'acc_delta' (a).
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(eps=eps, weight_decay=weight_decay)
        self._check_flags("Adadelta", None, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        if not state:
            state["step"] = self._step_tensor()
            state["square_avg"] = self._zeros_like(param)
            state["acc_delta"] = self._zeros_like(param)
        state["step"]._array += 1
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        s, a = state["square_avg"]._array, state["acc_delta"]._array
        s *= rho
        s += (1 - rho) * g * g
        delta = (a + eps) ** 0.5 / (s + eps) ** 0.5 * g
        a *= rho
        a += (1 - rho) * delta * delta
        p -= lr * delta
