"""Helpers shared by the distributions: parameter broadcasting, probs <-> logits, cached
properties, and draws from minigrad's global random generator.

Draws use ``minigrad.manual_seed``'s generator, so a fixed seed gives fixed samples.  Normal
and uniform draws are PyTorch's own (``normal_``/``rand``), so samplers that use them as
PyTorch's do give its numbers; gamma, Poisson and binomial draws come from numpy's
algorithms over the same stream (the same distributions, other numbers).
"""
from __future__ import annotations

from numbers import Number

import numpy as np

from .. import backend
from .._random_factories import default_generator, normal_draws, uniform_draws
from . import _ops as ops

__all__ = ["broadcast_all", "enumerate_values", "store_broadcast", "scalar_or_param_shape",
           "logits_to_probs", "probs_to_logits", "lazy_property", "clamp_probs",
           "tril_matrix_to_vec", "vec_to_tril_matrix", "euler_constant"]

euler_constant = 0.57721566490153286060     # Euler-Mascheroni constant, as PyTorch exports it


def scalar_or_param_shape(raw_values, param, kind=Number):
    """The batch shape a distribution gets from its raw arguments: ``()`` when every one of
    them is a plain Python number of ``kind``, else the (broadcast) ``param``'s size."""
    if all(isinstance(v, kind) for v in raw_values):
        return ops.Size()
    return param.size()


def store_broadcast(dist, kind=Number, **params):
    """Broadcast the keyword parameters together (``broadcast_all``), set each on ``dist``
    under its keyword, and return the batch shape they give (see ``scalar_or_param_shape``)."""
    tensors = broadcast_all(*params.values())
    for name, tensor in zip(params, tensors):
        setattr(dist, name, tensor)
    return scalar_or_param_shape(params.values(), tensors[0], kind)


def enumerate_values(values, batch_shape, expand):
    """Support points ``values`` (n, *event) laid out for ``enumerate_support``: shape
    (n, 1, ..., 1, *event) with one 1 per batch dim, or broadcast to (n, *batch, *event)."""
    count, event = values.shape[0], tuple(values.shape[1:])
    batch = tuple(batch_shape)
    laid_out = values.reshape((count,) + (1,) * len(batch) + event)
    return laid_out.expand((count,) + batch + event) if expand else laid_out


def broadcast_all(*values):
    """Tensors or numbers -> tensors broadcast to one shape. Numbers take the dtype and
    device of the first tensor among ``values``, else the default float dtype."""
    if not all(ops.is_tensor(v) or isinstance(v, Number) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    if not all(ops.is_tensor(v) for v in values):
        options = {"dtype": ops.get_default_dtype()}
        for v in values:
            if ops.is_tensor(v):
                options = {"dtype": v.dtype, "device": v.device}
                break
        values = [v if ops.is_tensor(v) else ops.tensor(v, **options) for v in values]
    return ops.broadcast_tensors(*values)


def clamp_probs(probs):
    """probs kept in [eps, 1 - eps] (eps: the dtype's machine epsilon), so logs stay finite."""
    margin = ops.finfo(probs.dtype).eps
    return probs.clamp(margin, 1 - margin)


def logits_to_probs(logits, is_binary=False):
    """sigmoid(logits) for a binary variable, softmax over the last dim otherwise."""
    if is_binary:
        return logits.sigmoid()
    return logits.softmax(-1)


def probs_to_logits(probs, is_binary=False):
    """log p - log(1 - p) for a binary variable, log p otherwise (probs clamped first)."""
    safe = clamp_probs(probs)
    log_p = safe.log()
    return log_p - (-safe).log1p() if is_binary else log_p


def _tril_mask(n, diag, like):
    """(n, n) bool tensor on ``like``'s device: True where column - row <= diag."""
    return ops.tensor(np.tri(n, n, diag, dtype=bool), device=like.device)


def tril_matrix_to_vec(mat, diag=0):
    """The entries of (a batch of) D x D matrices with column - row <= ``diag``, read row by
    row into the last dimension (diag 0: the lower triangle with its diagonal)."""
    n = mat.shape[-1]
    if not -n <= diag < n:
        raise ValueError(f"diag ({diag}) provided is outside [{-n}, {n - 1}].")
    return mat[..., _tril_mask(n, diag, mat)]


def vec_to_tril_matrix(vec, diag=0):
    """The inverse of ``tril_matrix_to_vec``: (a batch of) D x D matrices, zero above the
    ``diag``-th diagonal, filled row by row from the last dimension of ``vec``."""
    length = vec.shape[-1]
    # D solves D**2 + (2 diag + 1) D - |diag| (diag + 1) - 2 length = 0 (its positive root)
    linear = 2 * diag + 1
    root = (-linear + (linear * linear + 8 * length + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if round(root) - root > ops.finfo(vec.dtype).eps:
        raise ValueError(f"The size of last dimension is {length} which cannot be expressed as "
                         "the lower triangular part of a square D x D matrix.")
    n = round(root)
    mat = vec.new_zeros(tuple(vec.shape[:-1]) + (n, n))
    mat[..., _tril_mask(n, diag, vec)] = vec
    return mat


class lazy_property:  # noqa: N801  (PyTorch's name)
    """A property computed on first access (with gradients recorded) and then stored in the
    instance, e.g. ``probs`` of a distribution built from ``logits``."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return _LazyPropertyOnClass(self)
        with ops.enable_grad():
            computed = self.wrapped(instance)
        instance.__dict__[self.__name__] = computed     # later reads skip this descriptor
        return computed


class _LazyPropertyOnClass(lazy_property, property):
    """What ``Class.lazy_attr`` returns: still recognisable as a lazy_property."""

    def __init__(self, lazy):
        self.wrapped = lazy.wrapped
        property.__init__(self, lazy.wrapped)


def sum_rightmost(value, dim):
    """``value`` summed over its ``dim`` rightmost dimensions (no-op for dim == 0)."""
    if not dim:
        return value
    kept = tuple(value.shape)[:value.dim() - dim]
    return value.reshape(kept + (-1,)).sum(-1)


def _rng():
    return default_generator.rng


def wrap_draws(draws, like):
    """A numpy array of draws -> a Tensor with ``like``'s dtype and device, no gradient."""
    array = np.asarray(draws).astype(like._array.dtype, copy=False)
    return ops.Tensor._wrap(backend.to_device(array, like.device))


def param_numpy(t):
    """A parameter tensor's values as a numpy array (for the sampler), detached."""
    return backend.as_numpy(t.detach()._array)


def standard_normal(shape, like):
    """N(0, 1) draws of ``shape`` in ``like``'s dtype/device (drawn as PyTorch's
    ``empty(shape).normal_()``, so a seed gives its numbers)."""
    return wrap_draws(normal_draws(None, tuple(shape), like._array.dtype), like)


def standard_uniform(shape, like):
    """U[0, 1) draws of ``shape`` in ``like``'s dtype/device (as PyTorch's ``rand``)."""
    return wrap_draws(uniform_draws(None, tuple(shape), like._array.dtype), like)


def numpy_rng():
    """The global generator's numpy Generator (for gamma, poisson, binomial draws)."""
    return _rng()


def _as_param_dtype(value, like):
    """``value`` as a tensor of ``like``'s dtype and device, as PyTorch's
    ``torch.as_tensor(value, dtype=like.dtype, device=like.device)`` at the top of a few
    log_probs (Gamma, HalfCauchy): a float64 value scored by float32 parameters is rounded to
    float32 (a differentiable cast) and so is the result."""
    if ops.is_tensor(value):
        return value.to(device=like.device, dtype=like.dtype)
    return ops.tensor(value, dtype=like.dtype, device=like.device)
