"""Random sampling beyond rand/randn: ``normal`` and ``bernoulli`` (PyTorch's signatures).

Draws come from the default generator (or ``generator=``), so ``manual_seed`` makes them
reproducible; they carry no gradient (as in PyTorch, sampling is not differentiable).
"""
from __future__ import annotations

from . import backend, dtypes
from .creation import default_generator, randn
from .ops.elementwise import add, mul
from .tensor import Tensor

__all__ = ["normal", "bernoulli"]


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Samples of N(mean, std^2): ``mean`` and ``std`` tensors (broadcast) or numbers (then
    ``size`` gives the shape)."""
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: with "
                            "float mean and std, the size argument is required")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
        z = randn(*tuple(size), generator=generator, dtype=dtype, device=device)
        out = z * std + mean
        out = out.detach()
        return out.requires_grad_() if requires_grad else out
    like = mean if isinstance(mean, Tensor) else std
    if isinstance(std, Tensor) and bool((std._array < 0).any()):
        raise RuntimeError(f"normal expects all elements of std >= 0.0 (got min std "
                           f"{float(std._array.min())})")
    shape = tuple(like.shape)
    if isinstance(mean, Tensor) and isinstance(std, Tensor):
        shape = tuple(backend.xp_of(like._array).broadcast_shapes(tuple(mean.shape),
                                                                  tuple(std.shape)))
    gen = generator or default_generator
    z = gen.rng.standard_normal(shape).astype(like._array.dtype)
    z = Tensor._wrap(backend.to_device(z, like.device))
    m = mean.detach() if isinstance(mean, Tensor) else mean
    s = std.detach() if isinstance(std, Tensor) else std
    return add(mul(z, s), m)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``) elementwise, else 0; in input's dtype."""
    probs = input._array if p is None else backend.xp_of(input._array).full(
        input._array.shape, p)
    if probs.size and (float(probs.min()) < 0 or float(probs.max()) > 1):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    gen = generator or default_generator
    draw = gen.rng.random(probs.shape) < backend.as_numpy(probs)
    dtype = input._array.dtype if input._array.dtype.kind == "f" else dtypes.default_float().np
    return Tensor._wrap(backend.to_device(draw.astype(dtype), input.device))
