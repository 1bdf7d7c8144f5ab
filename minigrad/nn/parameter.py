"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable weights.

Assigning a Parameter to a module attribute (``self.weight = Parameter(...)``) is what makes it
appear in ``module.parameters()`` and ``module.state_dict()``.  It shares memory with the data
it is built from, and requires grad by default.
"""
from __future__ import annotations

from ..creation import empty
from ..tensor import Tensor, _to_array

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A learnable tensor of a Module: ``Parameter(data, requires_grad=True)``.

    ``data`` (a Tensor or array-like) is wrapped without a copy when it is a Tensor, as in
    PyTorch.  Ops on a Parameter give plain Tensors.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = empty(0)
        array = data._array if isinstance(data, Tensor) else _to_array(data)
        self._init(array, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        new = Parameter._wrap(self._array.copy(), self.requires_grad)
        if self.grad is not None:
            new.grad = Tensor._wrap(self.grad._array.copy())
        memo[id(self)] = new
        return new
