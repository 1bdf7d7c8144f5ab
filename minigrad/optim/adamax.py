"""``Adamax``: Adam with the infinity norm in place of the root mean square of gradients."""
from __future__ import annotations

from .. import backend
from ._moments import next_step, step_gradient
from ._validate import check_betas, check_non_negative
from .optimizer import Optimizer

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7.1), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at step t = 1, 2, ...:
        g = g + weight_decay * p
        m = beta1 m + (1 - beta1) g
        u = max(beta2 u, |g| + eps)                     (elementwise)
        p = p - lr / (1 - beta1^t) * m / u
    State per parameter: 'step', 'exp_avg' (m), 'exp_inf' (u).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        self._check_flags("Adamax", None, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        xp = backend.xp_of(p)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = self._step_tensor()
            state["exp_avg"] = self._zeros_like(param)
            state["exp_inf"] = self._zeros_like(param)
        step = next_step(state)
        g = step_gradient(p, grad, group)
        m, u = state["exp_avg"]._array, state["exp_inf"]._array
        m += (1 - beta1) * (g - m)
        u *= beta2
        xp.maximum(u, xp.abs(g) + eps, out=u)
        p -= (lr / (1 - beta1 ** step)) * m / u
