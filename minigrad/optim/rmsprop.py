"""``RMSprop``: divide the gradient by a running root mean square of recent gradients."""
from __future__ import annotations

from .. import backend
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["RMSprop", "rmsprop"]


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

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.rmsprop_step   # float16/bfloat16 parameters

    _late_options = {"momentum": 0}

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
        self._check_flags("RMSprop", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        momentum, centered = group["momentum"], group["centered"]
        state["step"] = self._step_tensor()
        state["square_avg"] = self._zeros_like(param)
        if momentum > 0:
            state["momentum_buffer"] = self._zeros_like(param)
        if centered:
            state["grad_avg"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        momentum, centered = group["momentum"], group["centered"]
        if not state:
            self._fresh_state(param, state, group)
        rmsprop_update(param._array, grad, state["square_avg"]._array,
                       state["grad_avg"]._array if centered else None,
                       state["momentum_buffer"]._array if momentum > 0 else None,
                       state["step"]._array, lr=group["lr"], alpha=group["alpha"],
                       eps=group["eps"], weight_decay=group["weight_decay"], momentum=momentum,
                       centered=centered, maximize=group["maximize"])

    def _update_differentiable(self, param, grad, state, group):
        """``rmsprop_update``'s arithmetic as tensor operations, recorded in the graph."""
        momentum, centered = group["momentum"], group["centered"]
        if not state:
            self._fresh_state(param, state, group)
        alpha = group["alpha"]
        state["step"] += 1
        g = self._differentiable_gradient(param, grad, group)
        square_avg = state["square_avg"]
        square_avg.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if centered:
            grad_avg = state["grad_avg"]
            grad_avg.lerp_(g, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add(group["eps"])
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf.mul_(momentum).addcdiv_(g, avg)
            param.add_(buf, alpha=-group["lr"])
        else:
            param.addcdiv_(g, avg, value=-group["lr"])


def rmsprop_update(p, grad, square_avg, grad_avg, momentum_buffer, step, *, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize):
    """One RMSprop step of one parameter, in place on its arrays (``grad_avg`` only when
    centered, ``momentum_buffer`` only with momentum); shared by ``RMSprop.step`` and
    ``rmsprop``."""
    xp = backend.xp_of(p)
    g = -grad if maximize else grad
    step += 1
    if weight_decay != 0:
        g = g + weight_decay * p
    square_avg *= alpha
    square_avg += (1 - alpha) * g * g
    if centered:
        grad_avg += (1 - alpha) * (g - grad_avg)
        avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        avg = xp.sqrt(square_avg) + eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        p -= lr * momentum_buffer
    else:
        p -= lr * g / avg


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps,
            foreach=None, maximize=False, differentiable=False, capturable=False,
            has_complex=False, *, lr, alpha, eps, weight_decay, momentum, centered):
    """The step of ``RMSprop`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state (``grad_avgs`` read only when centered,
    ``momentum_buffer_list`` only with momentum), updated in place."""
    check_state_tensors(state_steps)
    check_flags("rmsprop", differentiable)
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, square_avgs, grad_avgs if centered else None,
                             momentum_buffer_list if momentum > 0 else None, state_steps):
        rmsprop_update(*arrays, alpha=alpha, eps=eps, weight_decay=weight_decay,
                       momentum=momentum, centered=centered, maximize=maximize, **hyper)
    bump_versions(params)
