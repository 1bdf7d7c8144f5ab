"""``Rprop``: resilient backpropagation, a per-element step size driven by gradient signs."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun, 1993), PyTorch's formulation (the iRprop- variant).

    Each element of p keeps its own step size s (``lr`` at first) and the last gradient it
    followed, prev. With g the gradient (g = -g when ``maximize``), at every step:
        g * prev > 0:  s = min(s * etas[1], step_sizes[1])      (same sign: speed up)
        g * prev < 0:  s = max(s * etas[0], step_sizes[0]);  g = 0   (sign flip: slow down,
                                                                      and skip this element)
        otherwise:     s unchanged (clamped into step_sizes)
        p = p - sign(g) * s;   prev = g
    Only the sign of the gradient is used, never its size.
    State per parameter: 'step', 'prev', 'step_size'.
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        self._check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        self._check_flags("Rprop", None, differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        xp = backend.xp_of(p)
        eta_minus, eta_plus = group["etas"]
        size_min, size_max = group["step_sizes"]
        if not state:
            state["step"] = self._step_tensor()
            state["prev"] = self._zeros_like(param)
            state["step_size"] = Tensor._wrap(xp.full_like(p, float(group["lr"])))
        state["step"]._array += 1
        g = -grad if group["maximize"] else grad
        prev, s = state["prev"]._array, state["step_size"]._array
        agreement = g * prev
        flipped = agreement < 0
        factor = xp.where(agreement > 0, eta_plus, xp.where(flipped, eta_minus, 1.0))
        s *= factor.astype(s.dtype, copy=False)
        xp.clip(s, size_min, size_max, out=s)
        g = xp.where(flipped, 0, g).astype(p.dtype, copy=False)
        p -= xp.sign(g) * s
        prev[...] = g
