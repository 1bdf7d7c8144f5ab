"""The helpers PyTorch's ``torch.optim.optimizer`` offers optimizer authors, which third-party
optimizers copied from its sources import (``minigrad.optim.optimizer`` exports them): the
``required`` marker, the ``ParamsT`` and ``StateDict`` annotations,
``_use_grad_for_differentiable``, ``_get_value``, ``_get_scalar_dtype`` and
``_default_to_fused_or_foreach``.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, Union

from ..autograd import set_grad_enabled
from ..dtypes import float32, float64, get_default_dtype
from ..tensor import Tensor

# type aliases third-party optimizers annotate with (``params: ParamsT``)
ParamsT = Union[Iterable[Tensor], Iterable[dict[str, Any]], Iterable[tuple[str, Tensor]]]
StateDict = dict[str, Any]


def _use_grad_for_differentiable(func):
    """Decorator for a ``step``: run it with gradient recording on only when the optimizer
    was built with ``differentiable=True`` (third-party optimizers copied from PyTorch's
    sources decorate their step with it)."""
    @functools.wraps(func)
    def step(self, *args, **kwargs):
        with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
            return func(self, *args, **kwargs)
    return step


def _get_value(x):
    """A 1-element tensor's Python number (a step count, say); anything else as it is."""
    return x.item() if isinstance(x, Tensor) else x


def _get_scalar_dtype(is_fused=None):
    """The dtype of 0-d state such as 'step': float64 under a float64 default, else float32."""
    if is_fused:
        return float32
    return float64 if get_default_dtype() == float64 else float32


def _default_to_fused_or_foreach(params, differentiable, use_fused=False):
    """(fused, foreach) as PyTorch picks them when the caller left both unset: neither for a
    differentiable step; fused when asked for and every tensor is floating point; else
    foreach when no tensor is on the CPU (whose foreach kernels PyTorch does not count)."""
    if differentiable:
        return False, False
    fused = bool(use_fused) and all(p is None or p.is_floating_point() for p in params)
    foreach = not fused and all(p is None or p.device.type != "cpu" for p in params)
    return fused, foreach


class _RequiredParameter:
    """Marks a hyper-parameter without a default (it must be given)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _check_loaded_shapes(optimizer, param, state):
    """After ``load_state_dict`` took state tensors shaped unlike their parameters (PyTorch
    takes them without a look), the step refuses them as PyTorch's first update does: an
    elementwise op between the state (a) and the gradient (b), Rprop's the other way round."""
    for name, value in state.items():
        if name == "step" or name in optimizer._scalar_state or not isinstance(value, Tensor):
            continue
        have, want = tuple(value.shape), tuple(param.shape)
        if have == want:
            continue
        a, b = (want, have) if type(optimizer).__name__ == "Rprop" else (have, want)
        width = max(len(a), len(b))
        for back in range(1, width + 1):       # (scanned from the last dim, as torch's)
            m = a[-back] if back <= len(a) else 1
            n = b[-back] if back <= len(b) else 1
            if m != n and m != 1 and n != 1:
                raise RuntimeError(f"The size of tensor a ({m}) must match the size of tensor b "
                                   f"({n}) at non-singleton dimension {width - back}")
        raise RuntimeError(f"output with shape {list(have)} doesn't match the broadcast shape "
                           f"{list(_broadcast(have, want))}")


def _broadcast(a, b):
    """The shape two broadcastable shapes give together."""
    width = max(len(a), len(b))
    a, b = (1,) * (width - len(a)) + a, (1,) * (width - len(b)) + b
    return tuple(n if m == 1 else m for m, n in zip(a, b))
