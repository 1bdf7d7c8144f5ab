"""Gradient clipping, in place on the ``.grad`` of parameters (after backward, before step).

``clip_grad_norm_`` treats all gradients as one long vector: its p-norm is
(sum over tensors of ||g||_p^p)^(1/p) (the max for inf); when that exceeds ``max_norm``
every gradient is scaled by max_norm / (norm + 1e-6).  Returns the total norm (a 0-d tensor),
as PyTorch, so a training loop can log it.
"""
from __future__ import annotations

import math

import numpy as np

from ..._warn_once import warn_user
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
    warn_user("`minigrad.nn.utils.clip_grad_norm` is now deprecated in favor of "
              "`minigrad.nn.utils.clip_grad_norm_`.", FutureWarning)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    grads = _grads(parameters)
    if not grads:
        # as PyTorch, whose grouping of the gradients by device and dtype refuses an empty
        # list (no parameters, or none with a gradient) in its C++ check's words
        raise RuntimeError("Expected !nested_tensorlist[0].empty() to be true, but got false.  "
                           "(Could this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    for g in grads:
        xp = backend.xp_of(g._array)
        xp.clip(g._array, -clip_value, clip_value, out=g._array)
        g._vcounter.value += 1


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
    # as PyTorch, which stacks the per-tensor norms: their dtypes promote (float32 and
    # float64 gradients give a float64 total)
    # (a complex tensor's norm is real: its magnitudes, in the matching real dtype)
    arrays = [xp.abs(t._array) if t._array.dtype.kind == "c" else t._array for t in tensors]
    dtype = np.result_type(*[a.dtype for a in arrays])
    # as PyTorch: the norm of each tensor, then the same norm of those norms (for p > 0 this
    # is the norm of everything as one vector; p = 0 counts the tensors with a nonzero entry);
    # each tensor's norm is rounded to its own dtype, as PyTorch's per-tensor vector_norm
    per = xp.stack([xp.asarray(_vector_norm(xp, a.astype(xp.float64, copy=False), norm_type),
                               dtype=a.dtype).astype(xp.float64) for a in arrays])
    total = xp.asarray(_vector_norm(xp, per, norm_type), dtype=dtype)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


def _vector_norm(xp, values, p):
    """The p-norm of an array seen as a vector (linalg.vector_norm's definition for every p:
    max / min of |x| for +-inf, the count of nonzeros for 0, (sum |x|^p)^(1/p) otherwise)."""
    if p == 2 and values.dtype.kind == "f":
        # the common case in one BLAS dot product: no |x| and x ** 2 arrays (a 1M-parameter
        # model's clip took 1.9 ms against PyTorch's 0.4)
        flat = values.reshape(-1)
        return xp.sqrt(xp.dot(flat, flat))
    values = xp.abs(values.reshape(-1))
    if p == math.inf:
        return values.max() if values.size else xp.zeros((), values.dtype)
    if p == -math.inf:
        return values.min() if values.size else xp.asarray(math.inf, values.dtype)
    if p == 0:
        return xp.asarray(xp.count_nonzero(values), values.dtype)
    with np.errstate(divide="ignore", over="ignore"):     # 0 ** negative p: inf, as torch
        return xp.sum(values ** p) ** (1.0 / p)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient by min(1, max_norm / (total_norm + 1e-6)), in place, with a
    ``total_norm`` already computed (e.g. by ``get_total_norm``)."""
    grads = _grads(parameters)
    max_norm = float(max_norm)      # first, as PyTorch: a max_norm of None is a TypeError
    if not grads:
        return
    if not isinstance(total_norm, Tensor):
        # PyTorch clamps max_norm / (total_norm + 1e-6) as a tensor: a number total_norm
        # gives a float, which its clamp refuses
        raise TypeError("clamp() received an invalid combination of arguments - got (float, "
                        "max=float), but expected one of:\n"
                        " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = "
                        "None)\n"
                        " * (Tensor input, Number min = None, Number max = None, *, Tensor out "
                        "= None)\n")
    # the coefficient in the norm's own precision (a float32 norm gives a float32 coefficient)
    total = backend.as_numpy(total_norm._array) if isinstance(total_norm, Tensor) else \
        backend.np.asarray(float(total_norm))
    dt = total.dtype.type
    coef = min(dt(max_norm) / (total + dt(1e-6)), dt(1.0))
    # an infinite norm gives coefficient 0 and inf * 0 = NaN: silently, as in PyTorch (AMP's
    # GradScaler then skips the step)
    with no_grad(), np.errstate(invalid="ignore", over="ignore"):
        for g in grads:
            g._array *= g._array.dtype.type(coef)
            g._vcounter.value += 1
