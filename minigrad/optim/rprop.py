"""``Rprop``: resilient backpropagation, a per-element step size driven by gradient signs."""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from ._functional import bump_versions, check_flags, check_state_tensors, each_param
from .optimizer import Optimizer

__all__ = ["Rprop", "rprop"]


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

    _tensor_numbers = frozenset({"step"})

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        self._check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        self._check_flags("Rprop", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, param, grad, state, group):
        p = param._array
        if not state:
            state["step"] = self._step_tensor()
            state["prev"] = self._zeros_like(param)
            state["step_size"] = Tensor._wrap(backend.xp_of(p).full_like(p, float(group["lr"])))
        size_min, size_max = group["step_sizes"]
        eta_minus, eta_plus = group["etas"]
        rprop_update(p, grad, state["prev"]._array, state["step_size"]._array,
                     state["step"]._array, step_size_min=size_min, step_size_max=size_max,
                     etaminus=eta_minus, etaplus=eta_plus, maximize=group["maximize"])


    def _update_differentiable(self, param, grad, state, group):
        """``rprop_update``'s arithmetic as tensor operations, recorded in the graph (the
        signs carry no gradient; the step sizes and the masked gradient do)."""
        if not state:
            state["step"] = self._step_tensor()
            state["prev"] = self._zeros_like(param)
            state["step_size"] = self._zeros_like(param).fill_(float(group["lr"]))
        size_min, size_max = group["step_sizes"]
        eta_minus, eta_plus = group["etas"]
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        prev, step_size = state["prev"], state["step_size"]
        sign = g.mul(prev.clone()).sign()
        factor = sign.clone()
        factor[sign.gt(0)] = eta_plus
        factor[sign.lt(0)] = eta_minus
        factor[sign.eq(0)] = 1
        step_size.mul_(factor).clamp_(size_min, size_max)
        g = g.clone()
        g[factor.eq(eta_minus)] = 0      # a sign change: no step this time, as PyTorch
        param.addcmul_(g.sign(), step_size, value=-1)
        prev.copy_(g)


def rprop_update(p, grad, prev, step_size, step, *, step_size_min, step_size_max, etaminus,
                 etaplus, maximize):
    """One Rprop step of one parameter, in place on its arrays; shared by ``Rprop.step``
    and ``rprop``."""
    xp = backend.xp_of(p)
    step += 1
    g = -grad if maximize else grad
    agreement = g * prev
    flipped = agreement < 0
    factor = xp.where(agreement > 0, etaplus, xp.where(flipped, etaminus, 1.0))
    step_size *= factor.astype(step_size.dtype, copy=False)
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    g = xp.where(flipped, 0, g).astype(p.dtype, copy=False)
    # a NaN gradient does not move the parameter: PyTorch's sign(NaN) is 0
    p -= xp.nan_to_num(xp.sign(g), nan=0.0) * step_size
    prev[...] = g


def rprop(params, grads, prevs, step_sizes, state_steps, foreach=None, capturable=False,
          maximize=False, differentiable=False, has_complex=False, *, step_size_min,
          step_size_max, etaminus, etaplus):
    """The step of ``Rprop`` on lists: each ``params[i]`` updated in place from
    ``grads[i]`` with its last gradient ``prevs[i]`` and its per-element ``step_sizes[i]``,
    updated in place."""
    check_state_tensors(state_steps)
    check_flags("rprop", differentiable)
    for arrays in each_param(params, grads, prevs, step_sizes, state_steps):
        rprop_update(*arrays, step_size_min=step_size_min, step_size_max=step_size_max,
                     etaminus=etaminus, etaplus=etaplus, maximize=maximize)
    bump_versions(params)
