"""``ASGD``: SGD with weight decay towards 0 and a running (Polyak) average of the iterates."""
from __future__ import annotations

import numpy as np

from ._validate import check_non_negative
from .optimizer import Optimizer

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992), PyTorch's formulation.

    For each parameter p with gradient g (g = -g first when ``maximize``), at step t = 1, 2, ...
    with eta and mu as left by the previous step (eta = lr and mu = 1 at first):
        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)                 (ax = p while mu is 1)
        eta = lr / (1 + lambd * lr * t) ^ alpha
        mu = 1 / max(1, t - t0)                 (averaging starts after step t0)
    ``ax`` is the averaged parameter; eta and mu are 0-d float32 tensors (their new values
    rounded to float32 when set), as in PyTorch.
    State per parameter: 'step', 'eta', 'mu', 'ax'.
    """
    _scalar_state = frozenset({"eta", "mu"})

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, weight_decay=weight_decay)
        self._check_flags("ASGD", None, differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        if not state:
            state["step"] = self._step_tensor()
            state["eta"] = self._scalar_tensor(lr)
            state["mu"] = self._scalar_tensor(1.0)
            state["ax"] = self._zeros_like(param)
        state["step"]._array += 1
        step = float(state["step"]._array)
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        eta, mu = float(state["eta"]._array), float(state["mu"]._array)
        p *= 1 - lambd * eta
        p -= eta * g
        ax = state["ax"]._array
        if mu != 1:
            ax += (p - ax) * mu
        else:
            ax[...] = p
        # new values are rounded to float32 first, as PyTorch makes them default-dtype tensors
        state["eta"]._array[...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"]._array[...] = np.float32(1 / max(1, step - t0))
