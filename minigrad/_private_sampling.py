"""``torch._sample_dirichlet`` and ``torch._standard_gamma``: the private samplers that
scripts call by name (torchvision's classification reference draws its mixup weight as
``float(torch._sample_dirichlet(torch.tensor([a, a]))[0])``; Gamma-based code calls
``torch._standard_gamma``).  The same draws as ``distributions.Dirichlet(...).sample()``
and ``Gamma(alpha, 1).rsample()`` for the same seed, from the default generator."""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd._node_names import rename_node
from .creation import _TORCH_TYPE_NAMES
from .distributions._standard_gamma import standard_gamma, torch_gamma_draws
from .tensor import Tensor

__all__ = ["_sample_dirichlet", "_standard_gamma"]


def _checked(input, kernel, word, generator):
    """Refuses what these samplers cannot draw from: a non-floating ``input`` (PyTorch's
    NotImplementedError) and an explicit ``generator`` (not supported here: the Gamma
    draws come from the default generator).  ``word``: PyTorch's kernel name in the
    dtype message."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{kernel}(): argument 'self' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if not input.dtype.is_floating_point:
        name = input.dtype.name
        raise NotImplementedError(f"\"{word}\" not implemented for "
                                  f"'{_TORCH_TYPE_NAMES.get(name, name)}'")
    if generator is not None:
        raise NotImplementedError(f"{kernel}(): an explicit generator is not supported; "
                                  "the draws come from the default generator")


def _sample_dirichlet(input, generator=None):
    """A Dirichlet(alpha) draw for each row of ``input`` (alpha along the last dim), of
    ``input``'s shape and dtype: Gamma(alpha_i, 1) draws in float64, divided by their sum
    over the last dim, rounded to the dtype and kept inside (0, 1).  Not differentiable
    (the result never requires grad; PyTorch marks its derivative as not implemented)."""
    _checked(input, "_sample_dirichlet", "dirichlet", generator)
    a = backend.as_numpy(input.detach())
    g64 = np.maximum(torch_gamma_draws(a, np.float64), np.finfo(np.float64).tiny)
    dtype = a.dtype
    x = np.clip((g64 / g64.sum(-1, keepdims=True)).astype(dtype),
                np.finfo(dtype).tiny, np.nextafter(dtype.type(1), dtype.type(0)))
    return Tensor._wrap(backend.to_device(x, input.device))


def _standard_gamma(input, generator=None):
    """Gamma(alpha, 1) draws of ``input``'s shape and dtype (alpha = ``input``),
    differentiable in alpha by the implicit reparameterisation gradient (first order)."""
    _checked(input, "_standard_gamma", "gamma_cpu", generator)
    return rename_node(standard_gamma(input), "StandardGammaBackward0")
