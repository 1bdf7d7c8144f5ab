"""``SparseAdam``: Adam for sparse gradients (embedding tables).

minigrad has dense tensors only, so no gradient it produces is sparse; like PyTorch given a
dense gradient, ``step()`` raises and points to ``Adam``. The class exists so that code
building it (and saving/loading its state_dict) runs unchanged; parameters without a
gradient are skipped, as in PyTorch.
"""
from __future__ import annotations

from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """``SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False)``.

    PyTorch's lazy Adam: only the rows present in a sparse gradient have their moments and
    values updated. ``step()`` raises PyTorch's RuntimeError for the dense gradients that are
    all minigrad has.
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
