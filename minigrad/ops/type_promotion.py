"""PyTorch's type-promotion queries: ``result_type``, ``promote_types`` and ``can_cast``.

The categories are ordered bool < integer < floating.  Across categories the higher one wins;
within a category the wider dtype wins (int8 with uint8 is int16).  Operands with dimensions
outrank 0-d tensors, which outrank Python numbers, unless the lower-priority one is of a higher
category (``dtypes.result_type`` holds the rule).  A cast is allowed unless it goes down a
category (float to integer, integer or float to bool).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor
from .writes import can_cast_inplace

__all__ = ["result_type", "promote_types", "can_cast"]


def _is_number(value):
    return isinstance(value, (bool, int, float, complex, np.bool_, np.integer, np.floating,
                              np.complexfloating))


def _operand(value):
    """A result_type operand: a tensor's array, or a number as PyTorch reads it (a numpy
    scalar is a Python number: np.float16(1) weighs as 1.0, np.bool_ as a float too)."""
    if isinstance(value, Tensor):
        return value._array
    return dtypes.python_number(value)


# result_type's overloads, as PyTorch's parser lists them: (type, name) of each argument
_OVERLOADS = ((("Tensor", "tensor"), ("Tensor", "other")),
              (("Number", "scalar"), ("Tensor", "tensor")),
              (("Tensor", "tensor"), ("Number", "other")),
              (("Number", "scalar1"), ("Number", "scalar2")))


def _invalid_combination(args):
    got = [type(a).__name__ for a in args]
    lines = [f"result_type() received an invalid combination of arguments - got "
             f"({', '.join(got)}), but expected one of:"]
    for overload in _OVERLOADS:
        marked = [name if (isinstance(a, Tensor) if kind == "Tensor" else _is_number(a))
                  else f"!{name}!" for a, name, (kind, _) in zip(args, got, overload)]
        lines.append(f" * ({', '.join(f'{kind} {label}' for kind, label in overload)})")
        lines.append(f"      didn't match because some of the arguments have invalid types: "
                     f"({', '.join(marked)})")
    return TypeError("\n".join(lines) + "\n")


def result_type(tensor, other):
    """The dtype an arithmetic op on ``tensor`` and ``other`` (tensors or numbers) would
    return."""
    if not all(isinstance(a, Tensor) or _is_number(a) for a in (tensor, other)):
        raise _invalid_combination((tensor, other))
    return dtypes.from_numpy_dtype(dtypes.result_type(_operand(tensor), _operand(other)))


def promote_types(type1, type2):
    """The smallest dtype both ``type1`` and ``type2`` convert to without leaving their
    categories (``promote_types(int32, float32)`` is float32)."""
    t1 = dtypes.dtype_argument(type1, "promote_types", "type1", 1)
    t2 = dtypes.dtype_argument(type2, "promote_types", "type2", 2)
    return dtypes.from_numpy_dtype(dtypes._promote(t1.np, t2.np))


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` to become ``to`` (a bool): any cast
    except down a category, float to integer or anything non-bool to bool."""
    src = dtypes.dtype_argument(from_, "can_cast", "from_", 1)
    dst = dtypes.dtype_argument(to, "can_cast", "to", 2)
    return can_cast_inplace(src.np, dst.np)
