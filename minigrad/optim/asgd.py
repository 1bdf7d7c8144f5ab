"""``ASGD``: SGD with weight decay towards 0 and a running (Polyak) average of the iterates."""
from __future__ import annotations

import numpy as np

from ._validate import check_non_negative
from ._functional import bump_versions, check_flags, each_param, float_scalars
from . import _half_steps
from .optimizer import Optimizer

__all__ = ["ASGD", "asgd"]


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
    # (its foreach path's words)
    _foreach_capturable = (["cuda", "xpu", "hpu", "privateuseone"],
                           "params, mus, etas, and state_steps")
    _scalar_state = frozenset({"eta", "mu"})
    _capturable_what = "params, mus, etas, and state_steps"
    _tensor_numbers = frozenset({"step", "eta", "mu"})
    _half_update = _half_steps.asgd_step   # float16/bfloat16 parameters

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        self._check_tensor_lr(lr)
        check_non_negative(lr=lr, weight_decay=weight_decay)
        self._check_flags("ASGD", None, differentiable, differentiable_ok=True)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _fresh_state(self, param, state, group):
        """The state a parameter starts with (its first step fills it)."""
        state["step"] = self._step_tensor()
        state["eta"] = self._scalar_tensor(group["lr"])
        state["mu"] = self._scalar_tensor(1.0)
        state["ax"] = self._zeros_like(param)

    def _update(self, param, grad, state, group):
        if not state:
            self._fresh_state(param, state, group)
        asgd_update(param._array, grad, state["ax"]._array, state["mu"]._array,
                    state["eta"]._array, state["step"]._array, lambd=group["lambd"],
                    lr=group["lr"], t0=group["t0"], alpha=group["alpha"],
                    weight_decay=group["weight_decay"], maximize=group["maximize"])


    def _update_differentiable(self, param, grad, state, group):
        """``asgd_update``'s arithmetic as tensor operations, recorded in the graph (eta and
        mu, the 0-d float32 schedule state, are read as numbers, as in PyTorch)."""
        if not state:
            self._fresh_state(param, state, group)
        lambd, lr, alpha = group["lambd"], group["lr"], group["alpha"]
        state["step"] += 1
        g = self._differentiable_gradient(param, grad, group)
        eta = state["eta"].item()
        param.mul_(1 - lambd * eta)
        param.add_(g, alpha=-eta)
        ax, mu = state["ax"], state["mu"]
        if mu.item() != 1:
            ax.add_(param.sub(ax).mul_(mu))
        else:
            ax.copy_(param)
        step = state["step"].item()
        state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
        mu.fill_(1 / max(1, step - group["t0"]))


def asgd_update(p, grad, ax, mu, eta, step, *, lambd, lr, t0, alpha, weight_decay, maximize):
    """One ASGD step of one parameter, in place on its arrays (``mu``, ``eta`` and ``step``
    0-d); shared by ``ASGD.step`` and ``asgd``."""
    step += 1
    t = float(step)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * p
    eta_now, mu_now = float(eta), float(mu)
    p *= 1 - lambd * eta_now
    p -= eta_now * g
    if mu_now != 1:
        ax += (p - ax) * mu_now
    else:
        ax[...] = p
    # new values are rounded to float32 first, as PyTorch makes them default-dtype tensors
    eta[...] = np.float32(lr / ((1 + lambd * lr * t) ** alpha))
    mu[...] = np.float32(1 / max(1, t - t0))


def asgd(params, grads, axs, mus, etas, state_steps, foreach=None, maximize=False,
         differentiable=False, capturable=False, has_complex=False, *, lambd, lr, t0, alpha,
         weight_decay):
    """The step of ``ASGD`` on lists: each ``params[i]`` updated in place from ``grads[i]``
    with its average ``axs[i]`` and its 0-d ``mus[i]``, ``etas[i]``, ``state_steps[i]``,
    all updated in place."""
    check_flags("asgd", differentiable)
    hyper = float_scalars(lr=lr)
    for arrays in each_param(params, grads, axs, mus, etas, state_steps):
        asgd_update(*arrays, lambd=lambd, t0=t0, alpha=alpha, weight_decay=weight_decay,
                    maximize=maximize, **hyper)
    bump_versions(params)
