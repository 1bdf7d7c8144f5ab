"""``RAdam``: Adam whose adaptive step is switched on gradually (variance rectification)."""
from __future__ import annotations

import math

from ._moments import next_step, step_gradient, update_moments
from ._validate import check_betas, check_non_negative
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["RAdam", "radam"]


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
    # (its foreach path's words)
    _foreach_capturable = (["cuda", "xpu", "hpu", "privateuseone"],
                           "params and state_steps")

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.radam_step   # float16/bfloat16 parameters

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        self._check_flags("RAdam", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor()
        state["exp_avg"] = self._zeros_like(param)
        state["exp_avg_sq"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        radam_update(param._array, grad, state["exp_avg"]._array, state["exp_avg_sq"]._array,
                     state["step"]._array, beta1=beta1, beta2=beta2, lr=group["lr"],
                     weight_decay=group["weight_decay"], eps=group["eps"],
                     maximize=group["maximize"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])


    def _update_differentiable(self, param, grad, state, group):
        """``radam_update``'s arithmetic as tensor operations, recorded in the graph: the
        rectified adaptive step once the variance estimate is tractable (rho_t > 5), the
        momentum step before."""
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        state["step"] += 1
        step = state["step"].item()
        g = self._differentiable_gradient(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bias_correction2 = 1 - beta2 ** step
        corrected = exp_avg / (1 - beta1 ** step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf /
                    ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = (bias_correction2 ** 0.5) / exp_avg_sq.sqrt().add(group["eps"])
            param.add_(corrected * lr * adaptive * rect, alpha=-1.0)
        else:
            param.add_(corrected * lr, alpha=-1.0)


def radam_update(p, grad, exp_avg, exp_avg_sq, step, *, beta1, beta2, lr, weight_decay, eps,
                 maximize, decoupled_weight_decay):
    """One RAdam step of one parameter, in place on its arrays; shared by ``RAdam.step``
    and ``radam``."""
    t = next_step(step)
    g = step_gradient(p, grad, maximize, weight_decay, lr, decoupled_weight_decay)
    update_moments(exp_avg, exp_avg_sq, g, beta1, beta2)
    bias_correction2 = 1 - beta2 ** t
    m_hat = exp_avg / (1 - beta1 ** t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        p -= m_hat * lr * (math.sqrt(bias_correction2) / (exp_avg_sq ** 0.5 + eps)) * rect
    else:
        p -= m_hat * lr


def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps, decoupled_weight_decay=False,
          foreach=None, differentiable=False, capturable=False, has_complex=False,
          maximize=False, *, beta1, beta2, lr, weight_decay, eps):
    """The step of ``RAdam`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state, updated in place."""
    check_state_tensors(state_steps)
    check_flags("radam", differentiable)
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, exp_avgs, exp_avg_sqs, state_steps):
        radam_update(*arrays, beta1=beta1, beta2=beta2, weight_decay=weight_decay, eps=eps,
                     maximize=maximize, decoupled_weight_decay=decoupled_weight_decay,
                     **hyper)
    bump_versions(params)
