"""``Variable``: the wrapper old code (before PyTorch 0.4) put around tensors.

Tensors carry their own gradients now, so ``Variable(t)`` only makes a new tensor that shares
t's memory, outside the graph, with ``requires_grad`` as asked; ``isinstance(x, Variable)`` is
true of every tensor.  ``volatile=True`` is accepted with PyTorch's warning and does nothing
(``with no_grad():`` is its replacement).
"""
from __future__ import annotations

import numpy as np

from .._warn_once import warn_user
from .. import dtypes
from .._type_names import python_type_name
from ..tensor import Tensor
from .engine import queue_callback

__all__ = ["Variable"]


class _ExecutionEngine:
    """``Variable._execution_engine``: the backward engine's entry that code written for
    PyTorch reaches through it (``queue_callback``)."""

    queue_callback = staticmethod(queue_callback)


class VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(data=None, requires_grad=False, volatile=False)``: a tensor sharing
    ``data``'s memory (an empty float tensor for None), detached from the graph."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        if volatile:                         # warned first, as PyTorch, even before an error
            warn_user("volatile was removed and now has no effect. Use `with "
                      "minigrad.no_grad():` instead.", UserWarning)
            if requires_grad:
                raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if data is None:
            out = Tensor._wrap(np.zeros(0, dtypes.default_float().np))
        elif isinstance(data, Tensor):
            out = data.detach()
        else:
            raise TypeError(f"Variable data has to be a tensor, but got {python_type_name(data)}")
        if requires_grad:
            out.requires_grad_(True)
        return out


Variable._execution_engine = _ExecutionEngine()
