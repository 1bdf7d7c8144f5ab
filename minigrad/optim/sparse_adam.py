"""``SparseAdam``: Adam for sparse gradients (embedding tables).

The sparse gradients of ``embedding(..., sparse=True)`` update only the rows they hold, with
their moments; like PyTorch given a dense gradient, ``step()`` raises and points to ``Adam``.
Parameters without a gradient are skipped, as in PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """``SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False)``.

    PyTorch's lazy Adam: only the rows present in a sparse gradient have their moments and
    values updated. A dense gradient is PyTorch's RuntimeError.
    State per parameter: 'step' (an int), 'exp_avg' and 'exp_avg_sq' (dense, like the
    parameter).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        self._check_tensor_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i in (0, 1):
            if not 0.0 <= betas[i] < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {betas[i]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_params = [[i, j] for i, group in enumerate(self.param_groups)
                          for j, p in enumerate(group["params"]) if p._array.dtype.kind == "c"]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    def _update(self, param, grad, state, group):
        raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam "
                           "instead")

    def _update_sparse(self, param, grad, state, group):
        g = grad.coalesce()
        where = tuple(g._indices()._array)
        values = g._values()._array
        if group["maximize"]:
            values = -values
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor._wrap(np.zeros_like(param._array))
            state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(param._array))
        state["step"] += 1
        if values.size == 0:
            return
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"]._array, state["exp_avg_sq"]._array
        # each moment moves toward the new value by (1 - beta), at the rows held only
        m_rows = m[where]
        m_rows += (values - m_rows) * (1 - beta1)
        v_rows = v[where]
        v_rows += (values * values - v_rows) * (1 - beta2)
        m[where], v[where] = m_rows, v_rows
        t = state["step"]
        step_size = group["lr"] * math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        param._array[where] -= step_size * m_rows / (np.sqrt(v_rows) + group["eps"])
