"""``Adadelta``: steps scaled by the ratio of running RMS of past updates and of gradients."""
from __future__ import annotations

from ._validate import check_non_negative
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["Adadelta", "adadelta"]


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

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.adadelta_step   # float16/bfloat16 parameters
    _capturable_devices = ["cuda", "xpu", "hpu", "privateuseone"]     # PyTorch's list here

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(eps=eps, weight_decay=weight_decay)
        self._check_flags("Adadelta", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor()
        state["square_avg"] = self._zeros_like(param)
        state["acc_delta"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        adadelta_update(param._array, grad, state["square_avg"]._array,
                        state["acc_delta"]._array, state["step"]._array, lr=group["lr"],
                        rho=group["rho"], eps=group["eps"],
                        weight_decay=group["weight_decay"], maximize=group["maximize"])

    def _update_differentiable(self, param, grad, state, group):
        """``adadelta_update``'s arithmetic as tensor operations, recorded in the graph."""
        if not state:
            self._fresh_state(param, state, group)
        rho, eps = group["rho"], group["eps"]
        state["step"] += 1
        g = self._differentiable_gradient(param, grad, group)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg.mul_(rho).addcmul_(g, g, value=1 - rho)
        std = square_avg.add(eps).sqrt_()
        delta = acc_delta.add(eps).sqrt_().clone().div_(std).mul_(g)
        acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        param.add_(delta, alpha=-group["lr"])


def adadelta_update(p, grad, square_avg, acc_delta, step, *, lr, rho, eps, weight_decay,
                    maximize):
    """One Adadelta step of one parameter, in place on its arrays; shared by
    ``Adadelta.step`` and ``adadelta``."""
    step += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg *= rho
    square_avg += (1 - rho) * g * g
    delta = (acc_delta + eps) ** 0.5 / (square_avg + eps) ** 0.5 * g
    acc_delta *= rho
    acc_delta += (1 - rho) * delta * delta
    p -= lr * delta


def adadelta(params, grads, square_avgs, acc_deltas, state_steps, capturable=False,
             foreach=None, differentiable=False, has_complex=False, *, lr, rho, eps,
             weight_decay, maximize):
    """The step of ``Adadelta`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state, updated in place."""
    check_state_tensors(state_steps)
    check_flags("adadelta", differentiable)
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, square_avgs, acc_deltas, state_steps):
        adadelta_update(*arrays, rho=rho, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, **hyper)
    bump_versions(params)
