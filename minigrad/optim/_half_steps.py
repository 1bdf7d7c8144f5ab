"""The optimizers' steps on float16 and bfloat16 parameters, operation by operation as
PyTorch's CPU implementations run them (the rounding of each operation: ``ops._half_rounding``).

PyTorch updates a half parameter with a chain of tensor operations, each rounding its result
to the half dtype, and keeps its state (moments, buffers) in the half dtype; the float32
arrays' formulas of the optimizers' ``_update`` would round differently. Each function here
is an optimizer class's ``_half_update(param, grad, state, group)``: ``grad`` the gradient's
array, the arrays of ``param`` and of the state updated in place. ``group["foreach"]``
picks PyTorch's multi-tensor sequence where it differs from the single-tensor one (Adagrad,
NAdam, RAdam); the default on the CPU is the single-tensor one.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from ..ops import _half_rounding as H

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step", "adadelta_step",
           "adamax_step", "nadam_step", "radam_step"]


def _set(array, values):
    np.copyto(array, values, casting="unsafe")


def _foreach(group):
    """Whether the group runs PyTorch's multi-tensor (foreach) sequence: only when asked for
    on the CPU (its default there is the single-tensor one)."""
    return bool(group.get("foreach"))


def _count(state):
    """Advance the float32 step counter in place; its new value as a float."""
    step = state["step"]._array
    step += 1
    return float(step)


def _gradient(p, grad, group, decoupled=False):
    """-grad when maximising; weight decay as an L2 term (g + wd * p) or, ``decoupled``,
    p *= 1 - lr * wd."""
    g = H.neg(grad) if group["maximize"] else grad
    wd = group["weight_decay"]
    if wd != 0:
        if decoupled:
            _set(p, H.mul_s(p, 1 - float(group["lr"]) * wd, _foreach(group)))
        else:
            g = H.add(g, p, wd)
    return g


def _moments(m, v, g, beta1, beta2, foreach):
    """m.lerp_(g, 1 - beta1); v.mul_(beta2).addcmul_(g, g, value=1 - beta2)."""
    _set(m, H.lerp(m, g, 1 - beta1))
    _set(v, H.addcmul(H.mul_s(v, beta2, foreach), g, g, 1 - beta2))


def sgd_step(self, param, grad, state, group):
    """SGD: buf = momentum * buf + (1 - dampening) * g; g += momentum * buf (nesterov);
    p += -lr * g."""
    p = param._array
    g = _gradient(p, grad, group)
    momentum = group["momentum"]
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            b = np.array(g, copy=True)
            state["momentum_buffer"] = Tensor._wrap(b)
        else:
            b = buf._array
            _set(b, H.add(H.mul_s(b, momentum, _foreach(group)), g, 1 - group["dampening"]))
        g = H.add(g, b, momentum) if group["nesterov"] else b
    _set(p, H.add(p, g, -float(group["lr"])))


def adam_step(self, param, grad, state, group):
    """Adam and AdamW (the same sequence with foreach on or off)."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    beta1, beta2 = (float(b) for b in group["betas"])
    lr = float(group["lr"])
    t = _count(state)
    g = _gradient(p, grad, group, group.get("decoupled_weight_decay", False))
    m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
    _moments(m, v, g, beta1, beta2, _foreach(group))
    step_size = lr / (1 - beta1 ** t)
    bc2_sqrt = (1 - beta2 ** t) ** 0.5
    if group["amsgrad"]:
        v_max = state["max_exp_avg_sq"]._array
        _set(v_max, H.maximum(v_max, v))
        v = v_max
    denom = H.add_s(H.div_s(H.sqrt(v), bc2_sqrt), group["eps"])
    _set(p, H.addcdiv(p, m, denom, -step_size))


def rmsprop_step(self, param, grad, state, group):
    """RMSprop (the same sequence with foreach on or off)."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    _count(state)
    g = _gradient(p, grad, group)
    alpha = group["alpha"]
    sq = state["square_avg"]._array
    _set(sq, H.addcmul(H.mul_s(sq, alpha, _foreach(group)), g, g, 1 - alpha))
    if group["centered"]:
        ga = state["grad_avg"]._array
        _set(ga, H.lerp(ga, g, 1 - alpha))
        avg = H.sqrt(H.addcmul(sq, ga, ga, -1))
    else:
        avg = H.sqrt(sq)
    avg = H.add_s(avg, group["eps"])
    lr = float(group["lr"])
    if group["momentum"] > 0:
        buf = state["momentum_buffer"]._array
        _set(buf, H.addcdiv(H.mul_s(buf, group["momentum"], _foreach(group)), g, avg))
        _set(p, H.add(p, buf, -lr))
    else:
        _set(p, H.addcdiv(p, g, avg, -lr))


def adagrad_step(self, param, grad, state, group):
    """Adagrad: single-tensor p.addcdiv_(g, std, value=-clr); foreach scales g by -clr first
    (one more rounding) and adds g / std."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    t = _count(state)
    g = _gradient(p, grad, group)
    lr = float(group["lr"])
    sums = state["sum"]._array
    _set(sums, H.addcmul(sums, g, g, 1))
    std = H.add_s(H.sqrt(sums), group["eps"])
    if _foreach(group):
        # (in place, so with the number rounded to the half dtype, where g is already a
        # new tensor: after weight decay or maximize)
        in_place = group["weight_decay"] != 0 or group["maximize"]
        minus_clr = -lr / (1 + (t - 1) * group["lr_decay"])
        _set(p, H.addcdiv(p, H.mul_s(g, minus_clr, in_place), std))
    else:
        _set(p, H.addcdiv(p, g, std, -(lr / (1 + (t - 1) * group["lr_decay"]))))


def adadelta_step(self, param, grad, state, group):
    """Adadelta (the same sequence with foreach on or off)."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    _count(state)
    g = _gradient(p, grad, group)
    rho, eps = group["rho"], group["eps"]
    sq, acc = state["square_avg"]._array, state["acc_delta"]._array
    _set(sq, H.addcmul(H.mul_s(sq, rho, _foreach(group)), g, g, 1 - rho))
    std = H.sqrt(H.add_s(sq, eps))
    delta = H.mul(H.div(H.sqrt(H.add_s(acc, eps)), std), g)
    _set(acc, H.addcmul(H.mul_s(acc, rho, _foreach(group)), delta, delta, 1 - rho))
    _set(p, H.add(p, delta, -float(group["lr"])))


def adamax_step(self, param, grad, state, group):
    """Adamax (the same sequence with foreach on or off)."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    beta1, beta2 = (float(b) for b in group["betas"])
    t = _count(state)
    g = _gradient(p, grad, group)
    m, u = state["exp_avg"]._array, state["exp_inf"]._array
    _set(m, H.lerp(m, g, 1 - beta1))
    _set(u, H.maximum(H.mul_s(u, beta2, _foreach(group)),
                      H.add_s(H.absolute(g), group["eps"])))
    clr = float(group["lr"]) / (1 - beta1 ** t)
    _set(p, H.addcdiv(p, m, u, -clr))


def nadam_step(self, param, grad, state, group):
    """NAdam: single-tensor denom = sqrt(v / bc2) + eps; foreach sqrt(v) / sqrt(bc2) + eps."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    beta1, beta2 = (float(b) for b in group["betas"])
    lr, decay = float(group["lr"]), group["momentum_decay"]
    t = _count(state)
    g = _gradient(p, grad, group, group.get("decoupled_weight_decay", False))
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * decay)))
    mu_product = state["mu_product"]._array
    mu_product *= mu                     # the float32 (float64) state's own rounding
    product = float(mu_product)
    m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
    _moments(m, v, g, beta1, beta2, _foreach(group))
    if _foreach(group):
        denom = H.div_s(H.sqrt(v), (1 - beta2 ** t) ** 0.5)
    else:
        denom = H.sqrt(H.div_s(v, 1 - beta2 ** t))
    denom = H.add_s(denom, group["eps"])
    _set(p, H.addcdiv(p, g, denom, -(lr * (1.0 - mu) / (1.0 - product))))
    _set(p, H.addcdiv(p, m, denom, -(lr * mu_next / (1.0 - product * mu_next))))


def radam_step(self, param, grad, state, group):
    """RAdam: single-tensor p -= (m / bc1) * lr * (sqrt(bc2) / (sqrt(v) + eps)) * rect, or
    p -= (m / bc1) * lr before rectification; foreach p += m * b with
    b = 1 / ((sqrt(v) + eps) / -(sqrt(bc2) * lr * rect / bc1)) - lr * [rect == 0] / bc1."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    beta1, beta2 = (float(b) for b in group["betas"])
    lr, eps = float(group["lr"]), group["eps"]
    t = _count(state)
    g = _gradient(p, grad, group, group.get("decoupled_weight_decay", False))
    m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
    _moments(m, v, g, beta1, beta2, _foreach(group))
    bc1, bc2 = 1 - beta1 ** t, 1 - beta2 ** t
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2 ** t) / bc2
    rect = 0
    if rho_t > 5:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                         ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    if _foreach(group):
        unrect = (lr * (0 if rect > 0 else 1.0) / bc1) * -1
        scale = (bc2 ** 0.5) * (lr * rect / bc1) * -1
        buffer = H.recip(H.div_s(H.add_s(H.sqrt(v), eps), scale))
        _set(p, H.addcmul(p, m, H.add_s(buffer, unrect)))
        return
    corrected = H.div_s(m, bc1)
    if rho_t > 5.0:
        adaptive = H.rdiv(bc2 ** 0.5, H.add_s(H.sqrt(v), eps))
        _set(p, H.add(p, H.mul_s(H.mul(H.mul_s(corrected, lr), adaptive), rect), -1.0))
    else:
        _set(p, H.add(p, H.mul_s(corrected, lr), -1.0))
