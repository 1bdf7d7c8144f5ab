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

from .. import dtypes
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from ..ops import _half_rounding as H

__all__ = ["sgd_step", "adam_step", "rmsprop_step", "adagrad_step", "adadelta_step",
           "adamax_step", "nadam_step", "radam_step", "asgd_step", "adafactor_step",
           "split_half", "run_functional"]


def split_half(params):
    """(indices of the float16/bfloat16 numpy parameters, indices of the others)."""
    half, other = [], []
    for i, p in enumerate(params):
        a = p._array
        (half if type(a) is np.ndarray and a.dtype.itemsize == 2 and a.dtype.kind in "fV"
         else other).append(i)
    return half, other


def run_functional(step, params, grads, indices, states, group):
    """A functional optimizer's (``optim.adam.adam`` ...) step on its 16-bit parameters
    ``indices``: ``step`` (one of this module's) with ``states[k]`` the state dict of
    ``params[indices[k]]`` (its tensors updated in place, a new one added to the dict)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):   # IEEE, silently
        for i, state in zip(indices, states):
            step(None, params[i], grads[i]._array, state, group)


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
    if group.get("fused"):
        return _fused_sgd(p, grad, state, group)
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
    """Adam and AdamW (the same sequence with foreach on or off; ``fused``: one kernel)."""
    if not state:
        self._fresh_state(param, state, group)
    p = param._array
    beta1, beta2 = (float(b) for b in group["betas"])
    lr = float(group["lr"])
    t = _count(state)
    if group.get("fused"):
        return _fused_adam(p, grad, state, group, beta1, beta2, lr, t)
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


_F32 = np.float32
_VECTOR = 16         # the elements of one vector of PyTorch's fused kernels on 16-bit floats


def _fused_adam(p, grad, state, group, beta1, beta2, lr, t):
    """PyTorch's fused Adam/AdamW kernel: each element read as float32, its whole update in
    float32 and the state and parameter rounded once as they are stored (the moments go on
    unrounded into the parameter's update).  The last ``size % 16`` elements run one at a
    time: the lerp of the first moment is unfused there, fused in the vectors before."""
    w = np.asarray(p, _F32)
    g = np.asarray(grad, _F32)
    m_arr, v_arr = state["exp_avg"]._array, state["exp_avg_sq"]._array
    m, v = m_arr.astype(_F32), v_arr.astype(_F32)
    if group["maximize"]:
        g = -g
    wd = group["weight_decay"]
    if wd != 0:
        if group.get("decoupled_weight_decay", False):
            w = w * _F32(1 - lr * wd)
        else:
            g = g + w * _F32(wd)
    weight = _F32(1 - beta1)
    small = abs(weight) < 0.5
    body = p.size - p.size % _VECTOR
    flat_m, flat_g = m.reshape(-1), g.reshape(-1)
    lerp = H.fma(weight if small else weight - _F32(1), g - m, m if small else g)
    tail_m, tail_g = flat_m[body:], flat_g[body:]
    lerp.reshape(-1)[body:] = tail_m + weight * (tail_g - tail_m) if small else \
        tail_g - (tail_g - tail_m) * (_F32(1) - weight)
    m = lerp
    v = v * _F32(beta2) + _F32(1 - beta2) * g * g
    _set(m_arr, m)
    _set(v_arr, v)
    if group["amsgrad"]:
        v_max = state["max_exp_avg_sq"]._array
        v = np.maximum(v_max.astype(_F32), v)
        _set(v_max, v)
    denom = np.sqrt(v) / _F32(math.sqrt(1 - beta2 ** t)) + _F32(group["eps"])
    step_size = lr / (1 - beta1 ** t)
    out = w + _F32(-step_size) * m / denom
    tail = slice(body, None)
    out.reshape(-1)[tail] = w.reshape(-1)[tail] - \
        _F32(step_size) * m.reshape(-1)[tail] / denom.reshape(-1)[tail]
    _set(p, out)


def asgd_step(self, param, grad, state, group):
    """ASGD: single-tensor p = p (1 - lambd eta) - eta g, ax += (p - ax) mu (eta and mu
    read as float32 numbers); foreach p -= eta (g + lambd p), ax += (p - ax) mu, each an
    addcmul with eta or mu rounded to the 16-bit dtype, and the next eta computed in float32
    from the float32 step."""
    if not state:
        self._fresh_state(param, state, group)
    p, ax = param._array, state["ax"]._array
    t = _count(state)
    g = H.neg(grad) if group["maximize"] else grad
    eta_t, mu_t = state["eta"]._array, state["mu"]._array
    eta, mu = float(eta_t), float(mu_t)
    lambd, wd = group["lambd"], group["weight_decay"]
    if wd != 0:
        g = H.add(g, p, wd)
    as_half = (lambda x: np.asarray(x, _F32).astype(p.dtype))
    if _foreach(group):
        _set(p, H.addcmul(p, H.add(g, p, lambd), as_half(eta), -1))
        _set(ax, H.addcmul(ax, H.add(p, ax, -1), as_half(mu)))
    else:
        _set(p, H.add(H.mul_s(p, 1 - lambd * eta), g, -eta))
        if mu != 1:
            _set(ax, H.add(ax, H.mul_s(H.add(p, ax, -1), mu)))
        else:
            _set(ax, p)
    lr = float(group["lr"])
    if _foreach(group):
        # (foreach: the step a float32 tensor, so eta is float32 arithmetic, the division a
        # reciprocal times lr)
        base = _F32(1) + _F32(t) * _F32(lambd * lr)
        eta_t[...] = (_F32(1) / np.power(base, _F32(group["alpha"]))) * _F32(lr)
    else:
        eta_t[...] = _F32(lr / ((1 + lambd * lr * t) ** group["alpha"]))
    mu_t[...] = _F32(1 / max(1, t - group["t0"]))


def adafactor_step(self, param, grad, state, group):
    """Adafactor as PyTorch's single-tensor sequence of 16-bit tensor operations (each
    rounding): the factored (row, column) or full second moment lerped towards the squared
    gradient's means, the update g / sqrt(max(v, eps1^2)) scaled by the parameter's RMS and
    its own."""
    eps1, eps2 = group["eps"]
    if eps1 is None:
        eps1 = self._eps1.setdefault(id(group), float(dtypes.np_finfo(param._array.dtype).eps))
    g = Tensor._wrap(grad)
    if not state:
        state["step"] = self._step_tensor()
        if g.ndim > 1:
            state["row_var"] = Tensor._wrap(np.zeros(g.shape[:-1] + (1,), grad.dtype))
            state["col_var"] = Tensor._wrap(np.zeros(g.shape[:-2] + (1,) + g.shape[-1:],
                                                     grad.dtype))
        else:
            state["variance"] = Tensor._wrap(np.zeros(g.shape, grad.dtype))
    with no_grad():
        if group["maximize"]:
            g = -g
        t = _count(state)
        lr = float(group["lr"])
        weight = t ** group["beta2_decay"]
        rho = min(lr, 1 / (t ** 0.5))
        alpha = max(eps2, param.norm(2).item() / (param.numel() ** 0.5)) * rho
        if group["weight_decay"] != 0:
            _set(param._array, H.mul_s(param._array, 1 - lr * group["weight_decay"]))
        if g.ndim > 1:
            row, col = state["row_var"], state["col_var"]
            row.lerp_(g.norm(dim=-1, keepdim=True).square_().div_(g.shape[-1]), weight)
            col.lerp_(g.norm(dim=-2, keepdim=True).square_().div_(g.shape[-2]), weight)
            estimate = row @ col
            estimate.div_(row.mean(dim=-2, keepdim=True).clamp_(min=eps1))
        else:
            state["variance"].lerp_(g * g, weight)
            estimate = state["variance"].clone()
        update = estimate.clamp_(min=eps1 * eps1).rsqrt_()
        update.mul_(g)
        denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * group["d"]))
        _set(param._array, H.add(param._array, update._array, -alpha / denom))


def _fused_sgd(p, grad, state, group):
    """PyTorch's fused SGD kernel as its element-at-a-time loop computes every element: in
    float32, g + wd p, buf = momentum buf + (1 - dampening) g (g itself at the first step),
    g + momentum buf (nesterov) or buf, p - lr g; buf and p rounded as stored.  (PyTorch
    2.13's kernel leaves the elements of its 16-wide vectors, all but the last
    ``size % 16``, of a 16-bit parameter unchanged: not copied here.)"""
    w = np.asarray(p, _F32)
    g = np.asarray(grad, _F32)
    if group["maximize"]:
        g = -g
    if group["weight_decay"] != 0:
        g = g + w * _F32(group["weight_decay"])
    momentum = group["momentum"]
    if momentum != 0:
        buf = state.get("momentum_buffer")
        if buf is None:
            b = g
            state["momentum_buffer"] = Tensor._wrap(g.astype(p.dtype))
        else:
            b = buf._array.astype(_F32) * _F32(momentum) + g * _F32(1 - group["dampening"])
            _set(buf._array, b)
        g = g + b * _F32(momentum) if group["nesterov"] else b
    _set(p, w - g * _F32(group["lr"]))


def _fused_adagrad(p, grad, state, group, t):
    """PyTorch's fused Adagrad kernel: in float32, g + wd p, sum + g g, then
    p - clr g / (sqrt(sum) + eps), sum and p rounded as stored; in the 16-wide vectors (all
    but the last ``size % 16`` elements) wd, eps and clr are rounded to the 16-bit dtype
    first."""
    w = np.asarray(p, _F32)
    g = np.asarray(grad, _F32)
    sums = state["sum"]._array
    lr = float(group["lr"])
    clr = lr / (1 + (t - 1) * group["lr_decay"])
    if group["maximize"]:
        g = -g
    body = p.size - p.size % _VECTOR
    in_half = p.dtype

    def numbers(x):
        """(the vectors' number, one per element: rounded to the 16-bit dtype in the body)"""
        out = np.full(p.shape, _F32(x))
        out.reshape(-1)[:body] = _F32(np.asarray(_F32(x)).astype(in_half))
        return out
    if group["weight_decay"] != 0:
        g = g + w * numbers(group["weight_decay"])
    s = sums.astype(_F32) + g * g
    _set(sums, s)
    _set(p, w - numbers(clr) * g / (np.sqrt(s) + numbers(group["eps"])))


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
    if group.get("fused"):
        return _fused_adagrad(p, grad, state, group, t)
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
