"""``Adagrad``: per-parameter learning rates shrinking with the sum of squared gradients."""
from __future__ import annotations

from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, PyTorch's formulation.  For each parameter p with gradient g, at step t:

        g = g + weight_decay * p                      (g = -g first when ``maximize``)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2                                   (s starts at initial_accumulator_value)
        p = p - lr_t * g / (sqrt(s) + eps)

    State per parameter: 'step' and 'sum'.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        self._check_tensor_lr(lr)
        for name, value in (("learning rate", lr), ("lr_decay value", lr_decay),
                            ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if value < 0.0:
                raise ValueError(f"Invalid {name}: {value}")
        self._check_flags("Adagrad", fused, differentiable, foreach)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        if "sum" not in state:
            state["step"] = self._step_tensor()       # a 0-d float32 tensor, as PyTorch's
            state["sum"] = Tensor._wrap(p * 0 + group["initial_accumulator_value"])
        state["step"]._array += 1
        step = float(state["step"]._array)
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]._array
        s += g * g
        p -= clr * g / (s ** 0.5 + group["eps"])
