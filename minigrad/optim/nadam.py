"""``NAdam``: Adam with Nesterov momentum and a warming-up momentum schedule."""
from __future__ import annotations

from ._moments import next_step, step_gradient, update_moments
from ._validate import check_betas, check_non_negative
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam (Dozat, 2016), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at step t = 1, 2, ...:
        p = p * (1 - lr * weight_decay)     if decoupled_weight_decay (NAdamW)
        g = g + weight_decay * p            otherwise (L2 penalty)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))     (likewise mu_{t+1})
        P_t = mu_1 * ... * mu_t                                   (state 'mu_product')
        m = beta1 m + (1 - beta1) g             v = beta2 v + (1 - beta2) g^2
        d = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr (1 - mu_t) / (1 - P_t) * g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / d
    State per parameter: 'step', 'mu_product' (a 0-d float32 tensor, as PyTorch's),
    'exp_avg' (m), 'exp_avg_sq' (v).
    """
    # (its foreach path's words)
    _foreach_capturable = (["cuda", "xpu", "hpu", "privateuseone"],
                           "params, mu_products, and state_steps")
    _scalar_state = frozenset({"mu_product"})
    _capturable_what = "params, mu_products and state_steps"
    _tensor_numbers = frozenset({"step", "mu_product"})
    _half_update = _half_steps.nadam_step   # float16/bfloat16 parameters

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, eps=eps)
        check_betas(betas)
        check_non_negative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        self._check_flags("NAdam", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor()
        state["mu_product"] = self._scalar_tensor(1.0)
        state["exp_avg"] = self._zeros_like(param)
        state["exp_avg_sq"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        nadam_update(param._array, grad, state["exp_avg"]._array, state["exp_avg_sq"]._array,
                     state["mu_product"]._array, state["step"]._array, beta1=beta1,
                     beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                     momentum_decay=group["momentum_decay"], eps=group["eps"],
                     maximize=group["maximize"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])

    def _update_differentiable(self, param, grad, state, group):
        """``nadam_update``'s arithmetic as tensor operations, recorded in the graph; as in
        PyTorch, the step sizes come from the 0-d float32 'mu_product' (float32 numbers)."""
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        state["step"] += 1
        step = state["step"].item()
        g = self._differentiable_gradient(param, grad, group)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * group["momentum_decay"])))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * group["momentum_decay"])))
        mu_product = state["mu_product"]
        mu_product *= mu
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = exp_avg_sq.div(1 - beta2 ** step).sqrt().add(group["eps"])
        mu_product_next = mu_product * mu_next
        param.addcdiv_(g * (-lr * (1.0 - mu) / (1.0 - mu_product)), denom)
        param.addcdiv_(exp_avg * (-lr * mu_next / (1.0 - mu_product_next)), denom)


def nadam_update(p, grad, exp_avg, exp_avg_sq, mu_product, step, *, beta1, beta2, lr,
                 weight_decay, momentum_decay, eps, maximize, decoupled_weight_decay):
    """One NAdam step of one parameter, in place on its arrays (``mu_product`` and ``step``
    0-d); shared by ``NAdam.step`` and ``nadam``."""
    t = next_step(step)
    g = step_gradient(p, grad, maximize, weight_decay, lr, decoupled_weight_decay)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product *= mu                   # in the state's own precision, as PyTorch
    product = float(mu_product)
    update_moments(exp_avg, exp_avg_sq, g, beta1, beta2)
    denom = (exp_avg_sq / (1 - beta2 ** t)) ** 0.5 + eps
    p -= (lr * (1.0 - mu) / (1.0 - product)) * g / denom
    p -= (lr * mu_next / (1.0 - product * mu_next)) * exp_avg / denom


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps,
          decoupled_weight_decay=False, foreach=None, capturable=False, differentiable=False,
          has_complex=False, maximize=False, *, beta1, beta2, lr, weight_decay, momentum_decay,
          eps):
    """The step of ``NAdam`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state (``mu_products[i]``, ``state_steps[i]``: 0-d tensors),
    updated in place."""
    check_state_tensors(state_steps)
    check_state_tensors(mu_products, "mu_products")
    check_flags("nadam", differentiable)
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps):
        nadam_update(*arrays, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                     momentum_decay=momentum_decay, eps=eps, maximize=maximize,
                     decoupled_weight_decay=decoupled_weight_decay, **hyper)
    bump_versions(params)
