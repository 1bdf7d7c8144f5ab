"""``Adam`` and ``AdamW`` (Adam with decoupled weight decay)."""
from __future__ import annotations

import math

from .. import backend
from ._moments import next_step, step_gradient, update_moments
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), PyTorch's formulation.

    For each parameter p with gradient g (g = -g when ``maximize``), at step t = 1, 2, ...:
        p = p * (1 - lr * weight_decay)     if decoupled_weight_decay (AdamW)
        g = g + weight_decay * p            otherwise (L2 penalty)
        m = beta1 m + (1 - beta1) g             v = beta2 v + (1 - beta2) g^2
        v_max = max(v_max, v) and use v_max instead of v      (amsgrad)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    State per parameter: 'step', 'exp_avg' (m), 'exp_avg_sq' (v), 'max_exp_avg_sq' (amsgrad).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        for what, value in (("lr", lr), ("betas[0]", betas[0]), ("betas[1]", betas[1])):
            if isinstance(value, Tensor) and foreach and not capturable:
                raise ValueError(f"{what} as a Tensor is not supported for capturable=False "
                                 "and foreach=True")
        self._check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (all(isinstance(b, float) for b in betas[:2])
                or all(isinstance(b, Tensor) for b in betas[:2])):
            # an int such as betas=(0, 0.99) is refused as PyTorch does
            raise ValueError("betas must be either both floats or both Tensors")
        self._check_flags(type(self).__name__, fused, differentiable, foreach)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        xp = backend.xp_of(p)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        if not state:
            state["step"] = self._step_tensor()
            state["exp_avg"] = self._zeros_like(param)
            state["exp_avg_sq"] = self._zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = self._zeros_like(param)
        step = next_step(state)
        g = step_gradient(p, grad, group, group.get("decoupled_weight_decay", False))
        m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
        update_moments(m, v, g, beta1, beta2)
        bias_correction1 = 1 - beta1 ** step
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]._array
            xp.maximum(v_max, v, out=v_max)
            v = v_max
        denom = xp.sqrt(v) / bias_correction2_sqrt + eps
        p -= (lr / bias_correction1) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019): each step first shrinks
    p by (1 - lr * weight_decay), then takes the Adam step without any L2 term."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
