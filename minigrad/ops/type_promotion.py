"""PyTorch's type-promotion queries: ``result_type``, ``promote_types`` and ``can_cast``.

The categories are ordered bool < integer < floating.  Across categories the higher one wins;
within a category the wider dtype wins (int8 with uint8 is int16).  Operands with dimensions
outrank 0-d tensors, which outrank Python numbers, unless the lower-priority one is of a higher
category (``dtypes.result_type`` holds the rule).  A cast is allowed unless it goes down a
category (float to integer, integer or float to bool).
"""
from __future__ import annotations

from .. import dtypes
from ..tensor import Tensor
from .writes import can_cast_inplace

__all__ = ["result_type", "promote_types", "can_cast"]


def _operand(value, name, position):
    if isinstance(value, Tensor):
        return value._array
    if isinstance(value, (bool, int, float)):
        return value
    raise TypeError(f"{name}(): argument 'tensor{position}' must be Tensor or Number, not "
                    f"{type(value).__name__}")


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on ``tensor1`` and ``tensor2`` (tensors or Python numbers)
    would return."""
    a, b = _operand(tensor1, "result_type", 1), _operand(tensor2, "result_type", 2)
    return dtypes.from_numpy_dtype(dtypes.result_type(a, b))


def _dtype_arg(value, name, label):
    if not isinstance(value, dtypes.DType):
        raise TypeError(f"{name}(): argument '{label}' must be torch.dtype, not "
                        f"{type(value).__name__}")
    return value


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without leaving their
    categories (``promote_types(int32, float32)`` is float32)."""
    t1 = _dtype_arg(type1, "promote_types", "type1")
    t2 = _dtype_arg(type2, "promote_types", "type2")
    return dtypes.from_numpy_dtype(dtypes._promote(t1.np, t2.np))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` to become ``to`` (a bool): any cast
    except down a category, float to integer or anything non-bool to bool."""
    src = _dtype_arg(from_, "can_cast", "from")
    dst = _dtype_arg(to, "can_cast", "to")
    return can_cast_inplace(src.np, dst.np)
