"""``RAdam``: Adam whose adaptive step is switched on gradually (variance rectification)."""
from __future__ import annotations

import math

from ._moments import next_step, step_gradient, update_moments
from ._validate import check_betas, check_non_negative
from .optimizer import Optimizer

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam (Liu et al., 2020), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at step t = 1, 2, ...:
        p = p * (1 - lr * weight_decay)     if decoupled_weight_decay (RAdamW)
        g = g + weight_decay * p            otherwise (L2 penalty)
        m = beta1 m + (1 - beta1) g             v = beta2 v + (1 - beta2) g^2
        m_hat = m / (1 - beta1^t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p = p - lr * m_hat * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:                               (the first few steps: plain momentum SGD)
            p = p - lr * m_hat
    State per parameter: 'step', 'exp_avg' (m), 'exp_avg_sq' (v).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        self._check_flags("RAdam", None, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = self._step_tensor()
            state["exp_avg"] = self._zeros_like(param)
            state["exp_avg_sq"] = self._zeros_like(param)
        step = next_step(state)
        g = step_gradient(p, grad, group, group["decoupled_weight_decay"])
        m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
        update_moments(m, v, g, beta1, beta2)
        bias_correction2 = 1 - beta2 ** step
        m_hat = m / (1 - beta1 ** step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * beta2 ** step / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            p -= m_hat * lr * (math.sqrt(bias_correction2) / (v ** 0.5 + eps)) * rect
        else:
            p -= m_hat * lr
