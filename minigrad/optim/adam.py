"""``Adam`` and its functional form ``adam`` (one update, ``adam_update``, for both)."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..parallel import get_num_threads
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars, unscale_grads
from ._adam_batch import Job, chunkable, job_fits, run_jobs, step_chunk
from ._moments import next_step, step_gradient, update_moments
from ..tensor import Tensor
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["Adam", "adam"]

# The queue runs when the parameters with a gradient hold at least this many numbers in all:
# on a quiet 2-core Xeon, two threads, float32, a GPT-like set of 0.5M numbers took 1.60 ms
# queued against 1.46 one by one, 1.06M 2.54 / 2.62, 1.85M 3.92 / 4.28, 5.8M 11.9 / 15.5
QUEUE_MIN_NUMBERS = 1 << 20


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
    # (its foreach path's words)
    _foreach_capturable = (["cuda", "xpu", "hpu", "privateuseone"],
                           "params and state_steps")

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.adam_step   # float16/bfloat16 parameters

    def _check_fused(self, with_grad):
        """Each parameter is checked when its state is first made, as in PyTorch."""
        for p in with_grad:
            if not self.state.get(p):
                self._fused_param_check(p)

    _sparse_name = "Adam"         # AdamW's refusal too, in PyTorch's words
    _sparse_hint = ", please consider SparseAdam instead"

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
        self._check_flags(type(self).__name__, fused, differentiable, foreach,
                          differentiable_ok=True)
        # kept as a tuple (a list given is copied), 1-element tensors as 0-d ones, as PyTorch
        betas = tuple(b.reshape(()) if isinstance(b, Tensor) and b.dim() != 0 else b
                      for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor(group["fused"])
        state["exp_avg"] = self._zeros_like(param)
        state["exp_avg_sq"] = self._zeros_like(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = self._zeros_like(param)

    def _step_groups(self):
        """With several threads, the updates of the dense float32/float64 parameters are
        queued by ``_update`` and run together at the end (``_adam_batch``: over the
        threads, in kept scratch); the queue also runs when a later parameter raises, so
        that the ones before it moved."""
        if get_num_threads() == 1 or not self._worth_queueing():
            return super()._step_groups()   # one by one: as fast there, with less Python
        self._queued = []              # (an attribute only while the step runs)
        try:
            super()._step_groups()
        finally:
            run_jobs(self.__dict__.pop("_queued"))

    def _worth_queueing(self):
        """Whether the parameters that have a gradient hold QUEUE_MIN_NUMBERS or more."""
        total = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    total += p._array.size
                    if total >= QUEUE_MIN_NUMBERS:
                        return True
        return False

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        queue = getattr(self, "_queued", None)
        v_max = state["max_exp_avg_sq"]._array if amsgrad else None
        arrays = (param._array, grad, state["exp_avg"]._array, state["exp_avg_sq"]._array,
                  v_max)
        if queue is not None and job_fits(*arrays) and \
                not isinstance(group["lr"], Tensor) and \
                not any(isinstance(b, Tensor) for b in (beta1, beta2)):
            queue.append(adam_job(*arrays, state["step"]._array, beta1=beta1, beta2=beta2,
                                  lr=group["lr"], weight_decay=group["weight_decay"],
                                  eps=group["eps"], maximize=group["maximize"],
                                  decoupled_weight_decay=group.get("decoupled_weight_decay",
                                                                   False)))
            return
        adam_update(param._array, grad, state["exp_avg"]._array, state["exp_avg_sq"]._array,
                    state["max_exp_avg_sq"]._array if amsgrad else None,
                    state["step"]._array, amsgrad=amsgrad, beta1=beta1, beta2=beta2,
                    lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                    maximize=group["maximize"],
                    decoupled_weight_decay=group.get("decoupled_weight_decay", False))

    def _update_differentiable(self, param, grad, state, group):
        """``adam_update``'s arithmetic as tensor operations, recorded in the graph.  As in
        PyTorch, the bias corrections come from the 0-d float32 step counter (so they are
        float32 numbers) and the moments are updated in place."""
        if not state:
            self._fresh_state(param, state, group)
        beta1, beta2 = group["betas"]
        lr, eps = group["lr"], group["eps"]
        step = state["step"]
        step += 1
        g = self._differentiable_gradient(param, grad, group)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(g, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        step_size_neg = -(lr / (1 - beta1 ** step))
        bias_correction2_sqrt = (1 - beta2 ** step).sqrt()
        v = exp_avg_sq
        if group["amsgrad"]:
            previous = state["max_exp_avg_sq"].clone()
            state["max_exp_avg_sq"].copy_(previous.maximum(exp_avg_sq))
            v = state["max_exp_avg_sq"]
        # p + m / denom with denom = (sqrt(v) / sqrt(bc2) + eps) / (-step size)
        denom = (v.sqrt() / (bias_correction2_sqrt * step_size_neg)).add_(eps / step_size_neg)
        param.addcdiv_(exp_avg.clone(), denom)


def adam_update(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, amsgrad, beta1, beta2,
                lr, weight_decay, eps, maximize, decoupled_weight_decay):
    """One Adam step of one parameter, in place on its arrays (``step``: the 0-d counter);
    shared by ``Adam.step`` and ``adam``."""
    xp = backend.xp_of(p)
    t = next_step(step)
    g = step_gradient(p, grad, maximize, weight_decay, lr, decoupled_weight_decay)
    bias_correction1 = 1 - beta1 ** t
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** t)
    if _in_chunks(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq):
        return _adam_chunks(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1=beta1,
                            beta2=beta2, step_size=lr / bias_correction1,
                            bias_correction2_sqrt=bias_correction2_sqrt, eps=eps)
    update_moments(exp_avg, exp_avg_sq, g, beta1, beta2)
    v = exp_avg_sq
    if amsgrad:
        xp.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    denom = xp.sqrt(v) / bias_correction2_sqrt + eps
    p -= (lr / bias_correction1) * exp_avg / denom


def adam_job(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, beta1, beta2, lr,
             weight_decay, eps, maximize, decoupled_weight_decay):
    """``adam_update`` as a queued ``Job``: the step counter advanced now, the arrays updated
    when the queue runs (``_adam_batch.run_jobs``), with the same operations."""
    t = next_step(step)
    decoupled = weight_decay != 0 and decoupled_weight_decay
    return Job(p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
               decay=1 - lr * weight_decay if decoupled else 1, negate=maximize,
               l2=weight_decay if weight_decay != 0 and not decoupled else 0,
               beta1=beta1, beta2=beta2, step_size=lr / (1 - beta1 ** t),
               bc2_sqrt=math.sqrt(1 - beta2 ** t), eps=eps)


# numbers per chunk of the step below: its two scratch arrays and the chunks of the five
# arrays it reads stay in the L2 cache (a 1M-number parameter's step took 14 passes through
# memory with fresh temporaries, as whole-array expressions; chunks of 4K were slower still,
# numpy's per-call cost then dominating)
_CHUNK = 1 << 16


def _in_chunks(*arrays):
    """Whether the chunked step applies: ``chunkable`` arrays of more than a chunk of
    numbers (a smaller parameter's arrays stay in cache anyway, and its step is numpy's
    per-call cost: the whole-array expressions make fewer calls: an MLP of six parameters of
    64x64 and less stepped in 101 us that way, 134 us chunked)."""
    return arrays[0].size > _CHUNK and chunkable(arrays)


def _adam_chunks(p, g, m, v, v_max, *, beta1, beta2, step_size, bias_correction2_sqrt, eps):
    """``adam_update``'s moments and update, chunk by chunk (``step_chunk``: the same
    operations in the same order on each element, so the same numbers)."""
    flat = [None if a is None else a.reshape(-1) for a in (p, g, m, v, v_max)]
    work = np.empty(min(_CHUNK, p.size), p.dtype)
    other = np.empty_like(work)
    for b in range(0, p.size, _CHUNK):
        pc, gc, mc, vc, vmax = (None if a is None else a[b:b + _CHUNK] for a in flat)
        step_chunk(pc, gc, mc, vc, vmax, work[:pc.size], other[:pc.size], beta1, beta2,
                   step_size, bias_correction2_sqrt, eps)


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, foreach=None,
         capturable=False, differentiable=False, fused=None, grad_scale=None, found_inf=None,
         has_complex=False, decoupled_weight_decay=False, *, amsgrad, beta1, beta2, lr,
         weight_decay, eps, maximize):
    """The Adam step of ``Adam`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its state ``exp_avgs[i]``, ``exp_avg_sqs[i]``,
    ``max_exp_avg_sqs[i]`` (amsgrad) and ``state_steps[i]`` (a tensor counter), all updated
    in place.  ``grad_scale``/``found_inf`` (loss scaling) only with ``fused=True``."""
    check_state_tensors(state_steps)
    check_flags("adam", differentiable)
    if not unscale_grads(grads, grad_scale, found_inf, fused):
        return
    half, other = _half_steps.split_half(params)
    if half:
        # float16/bfloat16: PyTorch's rounded sequence (its fused kernel with fused=True)
        group = dict(lr=lr, betas=(beta1, beta2), weight_decay=weight_decay, eps=eps,
                     amsgrad=amsgrad, maximize=maximize, foreach=foreach, fused=fused,
                     decoupled_weight_decay=decoupled_weight_decay)
        states = [dict(step=state_steps[i], exp_avg=exp_avgs[i], exp_avg_sq=exp_avg_sqs[i],
                       **({"max_exp_avg_sq": max_exp_avg_sqs[i]} if amsgrad else {}))
                  for i in half]
        _half_steps.run_functional(_half_steps.adam_step, params, grads, half, states, group)
        if other:
            pick = (lambda lst: None if lst is None else [lst[i] for i in other])
            adam([params[i] for i in other], pick(grads), pick(exp_avgs), pick(exp_avg_sqs),
                 pick(max_exp_avg_sqs), pick(state_steps), foreach, capturable,
                 differentiable, fused, None, None, has_complex, decoupled_weight_decay,
                 amsgrad=amsgrad, beta1=beta1, beta2=beta2, lr=lr,
                 weight_decay=weight_decay, eps=eps, maximize=maximize)
        bump_versions([params[i] for i in half])
        return
    hyper = float_scalars(lr=lr, beta1=beta1, beta2=beta2)
    for arrays in each_param(params, grads, exp_avgs, exp_avg_sqs,
                             max_exp_avg_sqs if amsgrad else None, state_steps):
        adam_update(*arrays, amsgrad=amsgrad, weight_decay=weight_decay, eps=eps,
                    maximize=maximize, decoupled_weight_decay=decoupled_weight_decay, **hyper)
    bump_versions(params)
