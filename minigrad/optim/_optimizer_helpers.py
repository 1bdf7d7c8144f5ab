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
