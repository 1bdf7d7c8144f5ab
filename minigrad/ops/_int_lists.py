"""PyTorch's argument parser on int-list arguments (kernel sizes, strides, output sizes of
``fold``, ``unfold``, ``fractional_max_pool``), with its TypeError words.

The parser reads an op's arguments twice.  First it matches the signature: an int-list
argument must be an int (a bool is not one) or a sequence whose *first* element is an int;
otherwise ``argument 'kernel_size' (position 2) must be tuple of ints, ...``.  Then it
unpacks each list, the last argument first, where a later element that is no int (a bool
is one there) gives ``argument 'kernel_size' failed to unpack the object at pos 2 ...``.
An integer tensor of one element counts as an int.
"""
from __future__ import annotations

import numbers

from .._argument_error import argument_error
from ..tensor import Tensor

__all__ = ["int_lists", "int_like"]


def int_like(v, first):
    """Does the parser read ``v`` as an int (a bool only after a list's first element)?"""
    if isinstance(v, Tensor):
        return v._array.dtype.kind in "iu" and v._array.size == 1
    return isinstance(v, numbers.Integral) and not (first and isinstance(v, bool))


def int_lists(op, first_position, named, n, then=None):
    """The values of ``named`` (argument name -> value, in the signature's order, the first
    at ``first_position``) as tuples of ints, a single int repeated ``n`` times; ``then()``
    runs after the signature match (the check of an op's other arguments)."""
    lists = []
    for position, (name, value) in enumerate(named.items(), first_position):
        if isinstance(value, (tuple, list)):
            if value and not int_like(value[0], True):
                raise argument_error(op, name, "tuple of ints", value, position,
                                     found=(0, value[0]))
            lists.append(tuple(value))
        elif int_like(value, True):
            lists.append((value,) * n)
        else:
            raise argument_error(op, name, "tuple of ints", value, position)
    if then is not None:
        then()
    for name, items in reversed(tuple(zip(named, lists))):
        for i, v in enumerate(items[1:], 2):
            if not int_like(v, False):
                raise argument_error(op, name, "tuple of ints", named[name], found=(i - 1, v))
    return [tuple(int(v) for v in items) for items in lists]
