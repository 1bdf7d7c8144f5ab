"""``Adamax``: Adam with the infinity norm in place of the root mean square of gradients."""
from __future__ import annotations

from .. import backend
from ._moments import next_step, step_gradient
from ._validate import check_betas, check_non_negative
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars
from ..ops.stacking import stack
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, 2015, section 7.1), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at step t = 1, 2, ...:
        g = g + weight_decay * p
        m = beta1 m + (1 - beta1) g
        u = max(beta2 u, |g| + eps)                     (elementwise)
        p = p - lr / (1 - beta1^t) * m / u
    State per parameter: 'step', 'exp_avg' (m), 'exp_inf' (u).
    """
    # (its foreach path's words)
    _foreach_capturable = (["cuda", "xpu", "hpu", "privateuseone"],
                           "params and state_steps")

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.adamax_step   # float16/bfloat16 parameters

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay)
        self._check_flags("Adamax", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor()
        state["exp_avg"] = self._zeros_like(param)
        state["exp_inf"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        adamax_update(param._array, grad, state["exp_avg"]._array, state["exp_inf"]._array,
                      state["step"]._array, eps=group["eps"], beta1=beta1, beta2=beta2,
                      lr=group["lr"], weight_decay=group["weight_decay"],
                      maximize=group["maximize"])

    def _update_differentiable(self, param, grad, state, group):
        """``adamax_update``'s arithmetic as tensor operations, recorded in the graph (the
        running max as an amax over the two candidates, so ties share the gradient)."""
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        step = state["step"]
        step += 1
        g = self._differentiable_gradient(param, grad, group)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg.lerp_(g, 1 - beta1)
        candidates = stack([exp_inf.mul_(beta2), g.abs().add_(group["eps"])], 0)
        exp_inf.copy_(candidates.amax(0))
        clr = group["lr"] / (1 - beta1 ** step.item())
        param.addcdiv_(exp_avg, exp_inf, value=-clr)


def adamax_update(p, grad, exp_avg, exp_inf, step, *, eps, beta1, beta2, lr, weight_decay,
                  maximize):
    """One Adamax step of one parameter, in place on its arrays; shared by ``Adamax.step``
    and ``adamax``."""
    xp = backend.xp_of(p)
    t = next_step(step)
    g = step_gradient(p, grad, maximize, weight_decay, lr)
    exp_avg += (1 - beta1) * (g - exp_avg)
    exp_inf *= beta2
    xp.maximum(exp_inf, xp.abs(g) + eps, out=exp_inf)
    p -= (lr / (1 - beta1 ** t)) * exp_avg / exp_inf


def adamax(params, grads, exp_avgs, exp_infs, state_steps, foreach=None, maximize=False,
           differentiable=False, capturable=False, has_complex=False, *, eps, beta1, beta2, lr,
           weight_decay):
    """The step of ``Adamax`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state, updated in place."""
    check_state_tensors(state_steps)
    check_flags("adamax", differentiable)
    hyper = float_scalars(lr=lr, beta1=beta1, beta2=beta2)
    for arrays in each_param(params, grads, exp_avgs, exp_infs, state_steps):
        adamax_update(*arrays, eps=eps, weight_decay=weight_decay, maximize=maximize, **hyper)
    bump_versions(params)
