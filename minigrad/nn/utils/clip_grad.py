"""Gradient clipping, in place on the ``.grad`` of parameters (after backward, before step).

``clip_grad_norm_`` treats all gradients as one long vector: its p-norm is
(sum over tensors of ||g||_p^p)^(1/p) (the max for inf); when that exceeds ``max_norm``
every gradient is scaled by max_norm / (norm + 1e-6).  Returns the total norm (a 0-d tensor),
as PyTorch, so a training loop can log it.
"""
from __future__ import annotations

import math

from ... import backend
from ...autograd import no_grad
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale all gradients together so that their total ``norm_type``-norm is at most
    ``max_norm``; returns the total norm before clipping (``get_total_norm``, then
    ``clip_grads_with_norm_``)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)                  # read twice: a generator would run dry
    total = get_total_norm([p.grad for p in parameters], norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """The deprecated name of ``clip_grad_norm_``."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = backend.xp_of(g._array)
        xp.clip(g._array, -clip_value, clip_value, out=g._array)
        g._version.value += 1


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` (e.g. gradients) seen as one vector:
    (sum of ||t||_p^p)^(1/p), the max of |t| for inf; a 0-d tensor, 0.0 when there are none."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._wrap(backend.np.zeros((), dtype="float32"))
    xp = backend.xp_of(tensors[0]._array)
    dtype = tensors[0]._array.dtype
    if norm_type == math.inf:
        per = [xp.abs(t._array).max() if t._array.size else xp.zeros((), dtype) for t in tensors]
        total = xp.max(xp.stack([xp.asarray(v, dtype=dtype) for v in per]))
    else:
        per = [xp.sum(xp.abs(t._array.astype(xp.float64)) ** norm_type) for t in tensors]
        total = xp.asarray(sum(float(v) for v in per) ** (1.0 / norm_type), dtype=dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), in place, with a
    ``total_norm`` already computed (e.g. by ``get_total_norm``)."""
    grads = _grads(parameters)
    if not grads:
        return
    # the coefficient in the norm's own precision (a float32 norm gives a float32 coefficient)
    total = backend.as_numpy(total_norm._array) if isinstance(total_norm, Tensor) else \
        backend.np.asarray(float(total_norm))
    dt = total.dtype.type
    coef = min(dt(max_norm) / (total + dt(1e-6)), dt(1.0))
    with no_grad():
        for g in grads:
            g._array *= g._array.dtype.type(coef)
            g._version.value += 1
