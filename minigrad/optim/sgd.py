"""``SGD``: stochastic gradient descent, with momentum, Nesterov momentum and weight decay;
its functional form ``sgd`` (one update, ``sgd_update``, for both)."""
from __future__ import annotations

import numpy as np

from ..dtypes import complex64
from ..tensor import Tensor
from ._functional import bump_versions, each_param, float_scalars, unscale_grads
from . import _half_steps
from .optimizer import Optimizer
from ._update_arrays import complex_of_pairs

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulation.

    For each parameter p with gradient g (g = -g when ``maximize``):
        g = g + weight_decay * p
        b = g (first step)  or  b = momentum * b + (1 - dampening) * g     (if momentum)
        g = g + momentum * b (nesterov)  or  g = b
        p = p - lr * g
    State per parameter: 'momentum_buffer' (when momentum != 0).
    """

    _late_options = {"fused": False}
    _half_update = _half_steps.sgd_step   # float16/bfloat16 parameters

    def _check_fused(self, with_grad):
        """The first parameter is checked once; PyTorch's fused kernel has no complex case."""
        super()._check_fused(with_grad)
        for p in with_grad:
            if p.is_complex():
                kind = "ComplexFloat" if p.dtype == complex64 else "ComplexDouble"
                raise NotImplementedError(f'"fused_sgd_kernel" not implemented for \'{kind}\'')

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        self._check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self._check_flags("SGD", fused, differentiable, foreach, differentiable_ok=True)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        momentum = group["momentum"]
        if momentum == 0 and group["weight_decay"] == 0 and not group["maximize"]:
            # plain SGD: sgd_update's one line, without its keyword call (small tensors)
            p = param._array
            p -= group["lr"] * grad
            return
        buf = state.get("momentum_buffer")
        made = sgd_update(param._array, grad, None if buf is None else buf._array,
                          weight_decay=group["weight_decay"], momentum=momentum,
                          lr=group["lr"], dampening=group["dampening"],
                          nesterov=group["nesterov"], maximize=group["maximize"])
        if buf is None and momentum != 0:
            state["momentum_buffer"] = Tensor._wrap(made)

    def _update_differentiable(self, param, grad, state, group):
        """``sgd_update``'s arithmetic as tensor operations, recorded in the graph; the first
        momentum buffer is the (detached) gradient, as in PyTorch."""
        g = self._differentiable_gradient(param, grad, group)
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.clone().detach()
            else:
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
        param.add_(g, alpha=-group["lr"])

    def _update_sparse(self, param, grad, state, group):
        """A sparse gradient: without momentum only its rows move (``p[rows] -= lr * g``);
        with momentum the buffer decays everywhere, so the step is the dense one."""
        if group["weight_decay"] != 0:
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        if group["momentum"] != 0:
            self._update(param, grad.to_dense()._array, state, group)
            return
        g = grad.coalesce()
        step = g._values()._array * (group["lr"] if group["maximize"] else -group["lr"])
        param._array[tuple(g._indices()._array)] += step.astype(param._array.dtype, copy=False)


# The usual momentum step (b = momentum * b + g; p -= lr * b) on a large parameter runs in
# blocks of this many numbers: lr * b is a block-sized temporary that stays in cache, where a
# whole one was one more pass over memory (Linear(800, 500)'s weight: 0.36 ms -> 0.23 ms on
# one thread). On the calling thread only: split over two threads on a busy 2-core machine,
# the MNIST step took 6% longer (a piece waits for its thread to be scheduled)
_SGD_BLOCK = 1 << 15
_SGD_BLOCKED = 1 << 18      # from this many numbers on (below, whole arrays were as fast)


def _blocked_momentum_step(p, grad, buf, lr, momentum):
    """b *= momentum; b += g; p -= lr * b, block by block, when p, grad and buf are
    row-major numpy arrays of one float dtype of at least _SGD_BLOCKED numbers and lr and
    momentum plain numbers (as numbers, they are rounded to the dtype as in the whole-array
    arithmetic, so the results are the same bits); False when it does not apply."""
    if not (type(p) is np.ndarray and type(grad) is np.ndarray and type(buf) is np.ndarray
            and p.size >= _SGD_BLOCKED and p.dtype.kind == "f" and p.dtype == grad.dtype ==
            buf.dtype and p.shape == grad.shape == buf.shape and p.flags.c_contiguous and
            grad.flags.c_contiguous and buf.flags.c_contiguous and p.flags.writeable and
            type(lr) in (float, int) and type(momentum) in (float, int)):
        return False
    t = p.dtype.type
    lr, momentum = t(lr), t(momentum)
    pf, gf, bf = p.reshape(-1), grad.reshape(-1), buf.reshape(-1)
    scratch = np.empty(_SGD_BLOCK, dtype=pf.dtype)
    for s in range(0, pf.size, _SGD_BLOCK):
        e = min(pf.size, s + _SGD_BLOCK)
        b, step = bf[s:e], scratch[:e - s]
        b *= momentum
        b += gf[s:e]
        np.multiply(b, lr, out=step)
        pf[s:e] -= step
    return True


def sgd_update(p, grad, momentum_buffer, *, weight_decay, momentum, lr, dampening, nesterov,
               maximize):
    """One SGD step of one parameter, in place on its arrays; shared by ``SGD.step`` and
    ``sgd``.  Returns the momentum buffer: a new array (a copy of the first step's
    gradient) when ``momentum_buffer`` is None and momentum is used, else the one given."""
    if (momentum_buffer is not None and momentum != 0 and weight_decay == 0 and not dampening
            and not nesterov and not maximize and
            _blocked_momentum_step(p, grad, momentum_buffer, lr, momentum)):
        return momentum_buffer
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * p
    buf = momentum_buffer
    if momentum != 0:
        if buf is None:
            buf = g.copy()
        else:
            buf *= momentum
            # (no dampening, the usual case: g as it is, not a product by 1 in a new array)
            buf += (1 - dampening) * g if dampening else g
        g = g + momentum * buf if nesterov else buf
    p -= lr * g
    return buf


def sgd(params, d_p_list, momentum_buffer_list, has_sparse_grad=False, foreach=None,
        fused=None, grad_scale=None, found_inf=None, *, weight_decay, momentum, lr, dampening,
        nesterov, maximize):
    """The step of ``SGD`` on lists: each ``params[i]`` updated in place from
    ``d_p_list[i]``; a momentum buffer that is None in ``momentum_buffer_list`` is made
    (from the gradient) and put in its place in the list.  ``grad_scale``/``found_inf``
    (loss scaling) only with ``fused=True``."""
    if not unscale_grads(d_p_list, grad_scale, found_inf, fused):
        return
    half, other = _half_steps.split_half(params)
    if half:
        # float16/bfloat16: PyTorch's rounded sequence (its fused kernel with fused=True)
        group = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, dampening=dampening,
                     nesterov=nesterov, maximize=maximize, foreach=foreach, fused=fused)
        states = [{} if momentum_buffer_list[i] is None else
                  {"momentum_buffer": momentum_buffer_list[i]} for i in half]
        _half_steps.run_functional(_half_steps.sgd_step, params, d_p_list, half, states, group)
        for i, state in zip(half, states):
            if "momentum_buffer" in state:
                momentum_buffer_list[i] = state["momentum_buffer"]
        if other:
            buffers = [momentum_buffer_list[i] for i in other]
            sgd([params[i] for i in other], [d_p_list[i] for i in other], buffers,
                has_sparse_grad, foreach, fused, weight_decay=weight_decay,
                momentum=momentum, lr=lr, dampening=dampening, nesterov=nesterov,
                maximize=maximize)
            for i, buf in zip(other, buffers):
                momentum_buffer_list[i] = buf
        bump_versions([params[i] for i in half])
        return
    hyper = float_scalars(lr=lr)
    uses_buffers = momentum != 0
    for i, (p, g, buf) in enumerate(each_param(params, d_p_list, momentum_buffer_list)):
        made = sgd_update(p, g, buf, weight_decay=weight_decay, momentum=momentum,
                          dampening=dampening, nesterov=nesterov, maximize=maximize, **hyper)
        if uses_buffers and buf is None:
            if params[i]._array.dtype.kind == "c":
                made = complex_of_pairs(made)
            momentum_buffer_list[i] = Tensor._wrap(made)
    bump_versions(params)
