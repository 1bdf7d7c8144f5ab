"""PyTorch's parser on the one int-list argument of ``reshape``, ``view``, ``expand``,
``permute`` and ``repeat`` (a method's ``*shape``, a function's ``shape``), with its words.

A method takes the list as separate ints (``x.reshape(2, 3)``) when its first argument is
an int, or as one tuple or list; a function (``torch.reshape(x, (2, 3))``) and a keyword
(``x.reshape(shape=(2, 3))``) take only the sequence.  The sequence is matched by its first
element (an int, no bool; an integer tensor of one element counts), then unpacked element by
element (a bool is read as an int there), each an int64.
"""
from __future__ import annotations

import operator

from ..tensor import Tensor
from ._int_lists import int_like
from ._util import python_type_name

__all__ = ["int_list_argument"]

_INT64 = 2 ** 63


def _is_int(v, first):
    """``int_like``, and a 0-d integer array (read through its ``__index__``, as PyTorch)."""
    if int_like(v, first):
        return True
    kind = getattr(getattr(v, "dtype", None), "kind", None)
    return kind in ("i", "u") and getattr(v, "ndim", None) == 0 and not isinstance(v, Tensor)


def int_list_argument(op, arg, args, kwargs, position=1, varargs=True, empty=False):
    """The tuple of ints given for ``arg`` of ``op``: ``args`` the positional arguments after
    the tensor, ``position`` the 1-based place of the first of them in PyTorch's signature
    (1 for a method, 2 for a function), ``varargs`` whether separate ints are taken.
    ``empty``: no argument at all is the empty list (minigrad's own ``reshape(t, *shape)``
    calls; the Tensor methods refuse that call before)."""
    if not kwargs and args:
        first = args[0]
        if varargs and type(first) is int:
            seq = args
        else:
            seq = first if len(args) == 1 and type(first) in (tuple, list) else None
        if seq is not None and all(type(s) is int and -_INT64 <= s < _INT64 for s in seq):
            return tuple(seq)                   # the usual case: nothing more to check
    if kwargs:
        # PyTorch's parser: a missing or ill-typed list first, then a keyword it does not know
        other = [k for k in kwargs if k != arg]
        if args:
            if other:
                raise TypeError(f"{op}() got an unexpected keyword argument '{other[0]}'")
            raise TypeError(f"{op}() got multiple values for argument '{arg}'")
        if arg not in kwargs:
            raise TypeError(f'{op}() missing 1 required positional arguments: "{arg}"')
        value = kwargs[arg]
        if not isinstance(value, (tuple, list)) or (value and not _is_int(value[0], True)):
            raise TypeError(f"{op}(): argument '{arg}' must be tuple of ints, not "
                            f"{python_type_name(value)}")
        if other:
            raise TypeError(f"{op}() got an unexpected keyword argument '{other[0]}'")
    else:
        if not args:
            if empty:
                return ()
            raise TypeError(f'{op}() missing 1 required positional arguments: "{arg}"')
        first = args[0]
        if varargs and _is_int(first, True):
            value = args
        elif len(args) > 1:
            raise TypeError(f"{op}() takes {position} positional argument"
                            f"{'s' if position > 1 else ''} but {len(args) + position - 1} "
                            f"were given")
        else:
            value = first
            where = f"{op}(): argument '{arg}' (position {position}) must be tuple of ints"
            if not isinstance(value, (tuple, list)):
                raise TypeError(f"{where}, not {python_type_name(value)}")
            if value and not _is_int(value[0], True):
                raise TypeError(f"{where}, but found element of type "
                                f"{python_type_name(value[0])} at pos 0")
    out = []
    for i, v in enumerate(value):
        if i and not _is_int(v, False):
            raise TypeError(f"{op}(): argument '{arg}' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got "
                            f"{python_type_name(v)}\"")
        n = int(v._array.reshape(-1)[0]) if isinstance(v, Tensor) else operator.index(v)
        if not -_INT64 <= n < _INT64:
            raise TypeError(f"{op}(): argument '{arg}' failed to unpack the object at pos "
                            f"{i + 1} with error \"Overflow when unpacking long long\"")
        out.append(n)
    return tuple(out)
