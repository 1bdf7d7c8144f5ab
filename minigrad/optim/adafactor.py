"""``Adafactor``: Adam-like steps whose second-moment estimate of a matrix is stored as one
row vector and one column vector (memory O(m + n) instead of O(m n))."""
from __future__ import annotations

import math

from .. import backend, dtypes
from ..tensor import Tensor
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018), PyTorch's formulation (torch >= 2.5).

    For each parameter p with gradient g (g = -g when ``maximize``), at step t = 1, 2, ...:
        beta2_t' = t ^ beta2_decay          (the weight of the new g^2; 1 at t = 1)
        rho = min(lr, 1 / sqrt(t));   alpha = max(eps[1], rms(p)) * rho
        p = p * (1 - lr * weight_decay)
        p of 2+ dims (factored over its last two dims, m x n):
            R = lerp(R, mean(g^2, dim=-1), beta2_t')        shape (..., m, 1)
            C = lerp(C, mean(g^2, dim=-2), beta2_t')        shape (..., 1, n)
            V = R @ C / max(mean(R, dim=-2), eps[0])
        p of 0 or 1 dims:  V = lerp(V, g^2, beta2_t')
        u = g / sqrt(max(V, eps[0]^2));   p = p - alpha / max(1, rms(u) / d) * u
    rms(x) = ||x||_2 / sqrt(numel).  eps[0] = None means the machine epsilon of p's dtype
    (like PyTorch, taken from the first parameter updated in the group).
    State per parameter: 'step', and 'row_var' and 'col_var' (2+ dims) or 'variance'.
    """

    _tensor_numbers = frozenset({"step"})

    # the factored moments are shaped (..., m, 1) and (..., 1, n), not like the parameter:
    # load_state_dict skips its shape check for them
    _scalar_state = frozenset({"row_var", "col_var"})

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        self._check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _half_update(self, param, grad, state, group):
        """float16/bfloat16 parameters: PyTorch's single-tensor sequence of rounded tensor
        operations (its foreach one is not copied: the float32-style update then)."""
        if group.get("foreach"):
            return self._update(param, grad, state, group)
        return _half_steps.adafactor_step(self, param, grad, state, group)

    def step(self, closure=None):
        # eps[0] = None resolves to the dtype epsilon of the group's first updated parameter
        self._eps1 = {}
        return super().step(closure)

    def _update(self, param, grad, state, group):
        p = param._array
        xp = backend.xp_of(p)
        if p.dtype.kind == "c":
            raise RuntimeError("Adafactor does not support complex parameters")
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = self._eps1.setdefault(id(group), float(dtypes.np_finfo(p.dtype).eps))
        if not state:
            state["step"] = self._step_tensor()
            if grad.ndim > 1:
                state["row_var"] = Tensor._wrap(xp.zeros(grad.shape[:-1] + (1,), p.dtype))
                state["col_var"] = Tensor._wrap(
                    xp.zeros(grad.shape[:-2] + (1,) + grad.shape[-1:], p.dtype))
            else:
                state["variance"] = self._zeros_like(param)
        g = -grad if group["maximize"] else grad
        state["step"]._array += 1
        t = float(state["step"]._array)
        lr = group["lr"]
        new_weight = t ** group["beta2_decay"]
        rho = min(lr, 1 / t ** 0.5)
        alpha = max(eps2, float(xp.linalg.norm(p.ravel())) / math.sqrt(p.size)) * rho
        if group["weight_decay"] != 0:
            p *= 1 - lr * group["weight_decay"]
        if g.ndim > 1:
            row, col = state["row_var"]._array, state["col_var"]._array
            g2 = g * g
            row += new_weight * (g2.mean(axis=-1, keepdims=True) - row)
            col += new_weight * (g2.mean(axis=-2, keepdims=True) - col)
            var = (row @ col) / xp.maximum(row.mean(axis=-2, keepdims=True), eps1)
        else:
            v = state["variance"]._array
            v += new_weight * (g * g - v)
            var = v
        update = g / xp.sqrt(xp.maximum(var, eps1 * eps1))
        rms = float(xp.linalg.norm(update.ravel())) / (math.sqrt(update.size) * group["d"])
        p -= (alpha / max(1.0, rms)) * update
