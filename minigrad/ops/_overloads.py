"""PyTorch's parser on the arguments of ops with several overloads (``narrow``, the splits):
what it reads as an int or a tuple of ints, and its words when the arguments fit none.

An int argument is a Python or numpy integer (no bool) or a 0-d integer tensor. A tuple of
ints is a list or tuple matched by its first element alone (an int, or an integer tensor of
one element); the others are read afterwards, a bool among them as an int, anything else
refused ("failed to unpack"). When nothing fits, the TypeError lists every overload and,
where PyTorch does, marks with ``!...!`` the arguments that overload could not take (a list
or tuple shown with its elements' types).
"""
from __future__ import annotations

import numbers

from .._tensor_input import described as shown
from ..tensor import Tensor
from ._int_lists import int_like
from ._util import python_type_name

__all__ = ["is_int", "is_int_tuple", "check_int_tuple_rest", "shown", "no_overload",
           "type_names"]


def is_int(value):
    if isinstance(value, Tensor):
        return value.ndim == 0 and value._array.dtype.kind in "iu"
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_int_tuple(value):
    return isinstance(value, (list, tuple)) and (not value or int_like(value[0], True))


def check_int_tuple_rest(name, label, values):
    """The elements after the first of a tuple-of-ints argument, as the parser unpacks them."""
    for i, v in enumerate(values[1:], 2):
        if not int_like(v, False):
            raise TypeError(f"{name}(): argument '{label}' failed to unpack the object at pos "
                            f"{i} with error \"type must be tuple of ints,but got "
                            f"{python_type_name(v)}\"")
    return [int(v) for v in values]


def no_overload(name, got, overloads, marks=None):
    """PyTorch's TypeError for arguments that fit no overload. ``got``: the arguments' type
    names as given (a keyword one as ``name=type``); ``overloads``: each one's parameter
    list; ``marks``: for each overload, (value, fits) per positional argument, or None where
    PyTorch lists the overloads bare."""
    lines = [f"{name}() received an invalid combination of arguments - got ({', '.join(got)}), "
             f"but expected one of:"]
    for i, params in enumerate(overloads):
        lines.append(f" * ({params})")
        if marks is not None:
            labels = [shown(v) if ok else f"!{shown(v)}!" for v, ok in marks[i]]
            lines.append(f"      didn't match because some of the arguments have invalid "
                         f"types: ({', '.join(labels)})")
    return TypeError("\n".join(lines) + "\n")


def type_names(*values):
    return [python_type_name(v) for v in values]
