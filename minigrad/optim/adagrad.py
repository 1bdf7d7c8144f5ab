"""``Adagrad``: per-parameter learning rates shrinking with the sum of squared gradients."""
from __future__ import annotations

from .. import backend
from .._sparse_factories import resolve_check
from ..tensor import Tensor
from ._functional import bump_versions, check_flags, check_state_tensors, each_param, \
    float_scalars, unscale_grads
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Adagrad, PyTorch's formulation.  For each parameter p with gradient g, at step t:

        g = g + weight_decay * p                      (g = -g first when ``maximize``)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                                   (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)

    State per parameter: 'step' and 'sum'.
    """

    _tensor_numbers = frozenset({"step"})
    _half_update = _half_steps.adagrad_step   # float16/bfloat16 parameters

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        self._check_tensor_lr(lr)
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if not 0.0 <= value:        # (PyTorch's comparison: its TypeError for a None)
                raise ValueError(f"Invalid {name}: {value}")
        self._check_flags("Adagrad", fused, differentiable, foreach, differentiable_ok=True)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # PyTorch fills the state of every parameter here, so a state_dict() lists the ones
        # that never get a gradient too
        for group in self.param_groups:
            for p in group["params"]:
                self._fresh_state(p, self.state[p], group)

    def _check_fused(self, with_grad):
        """The first parameter is checked once; then no step takes complex or sparse."""
        super()._check_fused(with_grad)
        if any(p.is_complex() or p.grad.is_sparse for p in with_grad):
            raise RuntimeError("`fused` does not support sparse grad or complex param")

    def _fresh_state(self, param, state, group):
        """Fill ``state`` with 'step' (0-d counter) and 'sum' (param-shaped); a complex
        parameter's sum starts at initial_accumulator_value in both its real and imaginary
        parts, as in PyTorch.  Parameters of a group added later start from the constructor's
        value (PyTorch's defaults), not their group's."""
        value = self.defaults["initial_accumulator_value"]
        fill = complex(value, value) if param._array.dtype.kind == "c" else value
        state["step"] = self._step_tensor(group["fused"])
        # (in the parameter's dtype: bfloat16 too, whose arithmetic with a float gives float32)
        state["sum"] = Tensor._wrap(backend.xp_of(param._array).full_like(param._array, fill))

    def _update(self, param, grad, state, group):
        if "sum" not in state:
            self._fresh_state(param, state, group)
        adagrad_update(param._array, grad, state["sum"]._array, state["step"]._array,
                       lr=group["lr"], weight_decay=group["weight_decay"],
                       lr_decay=group["lr_decay"], eps=group["eps"],
                       maximize=group["maximize"])

    def _update_differentiable(self, param, grad, state, group):
        """``adagrad_update``'s arithmetic as tensor operations, recorded in the graph."""
        if "sum" not in state:
            self._fresh_state(param, state, group)
        step = state["step"]
        step += 1
        g = self._differentiable_gradient(param, grad, group)
        clr = group["lr"] / (1 + (step.item() - 1) * group["lr_decay"])
        state["sum"].addcmul_(g, g, value=1)
        param.addcdiv_(g, state["sum"].sqrt() + group["eps"], value=-clr)

    def _update_sparse(self, param, grad, state, group):
        """A sparse gradient (``embedding(..., sparse=True)``): only the rows it holds have
        their sum and value changed, as in PyTorch (which has no weight decay for it)."""
        if group["weight_decay"] != 0:
            raise RuntimeError("weight_decay option is not compatible with sparse gradients")
        # PyTorch builds the update as a sparse_coo_tensor, whose implicit-checks warning
        # its users see from here
        resolve_check(None)
        if "sum" not in state:
            self._fresh_state(param, state, group)
        step = state["step"]._array
        step += 1
        g = grad.coalesce()
        where = tuple(g._indices()._array)
        values = g._values()._array.astype(param._array.dtype, copy=False)
        if group["maximize"]:
            values = -values
        clr = group["lr"] / (1 + (float(step) - 1) * group["lr_decay"])
        sums = state["sum"]._array
        sums[where] += values * values
        param._array[where] -= clr * values / (sums[where] ** 0.5 + group["eps"])


def adagrad_update(p, grad, state_sum, step, *, lr, weight_decay, lr_decay, eps, maximize):
    """One Adagrad step of one parameter, in place on its arrays (``step``: the 0-d
    counter); shared by ``Adagrad.step`` and ``adagrad``."""
    step += 1
    t = float(step)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * p
    clr = lr / (1 + (t - 1) * lr_decay)
    state_sum += g * g
    p -= clr * g / (state_sum ** 0.5 + eps)


def adagrad(params, grads, state_sums, state_steps, fused=None, grad_scale=None,
            found_inf=None, has_sparse_grad=False, foreach=None, differentiable=False,
            has_complex=False, *, lr, weight_decay, lr_decay, eps, maximize):
    """The step of ``Adagrad`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its ``state_sums[i]`` and ``state_steps[i]`` (a tensor counter),
    both updated in place.  ``grad_scale``/``found_inf`` (loss scaling) only with
    ``fused=True``."""
    check_state_tensors(state_steps)
    check_flags("adagrad", differentiable)
    if not unscale_grads(grads, grad_scale, found_inf, fused):
        return
    half, other = _half_steps.split_half(params)
    if half:
        # float16/bfloat16: PyTorch's rounded sequence (its fused kernel with fused=True)
        group = dict(lr=lr, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps,
                     maximize=maximize, foreach=foreach, fused=fused)
        states = [dict(step=state_steps[i], sum=state_sums[i]) for i in half]
        _half_steps.run_functional(_half_steps.adagrad_step, params, grads, half, states,
                                   group)
        if other:
            adagrad([params[i] for i in other], [grads[i] for i in other],
                    [state_sums[i] for i in other], [state_steps[i] for i in other], fused,
                    None, None, has_sparse_grad, foreach, differentiable, has_complex, lr=lr,
                    weight_decay=weight_decay, lr_decay=lr_decay, eps=eps, maximize=maximize)
        bump_versions([params[i] for i in half])
        return
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, state_sums, state_steps):
        adagrad_update(*arrays, weight_decay=weight_decay, lr_decay=lr_decay, eps=eps,
                       maximize=maximize, **hyper)
    bump_versions(params)
