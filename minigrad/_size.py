"""``Size``: the shape of a tensor, a tuple that prints as ``minigrad.Size([2, 3])``."""
from __future__ import annotations

import operator

import numpy as np

from ._tensor_base import TensorBase


class Size(tuple):
    """The shape of a tensor: a tuple that prints as ``minigrad.Size([1, 2, 11])``."""
    _tp_name = "minigrad.Size"  # PyTorch's C type's name, in its argument errors

    def __new__(cls, sizes=()):
        items = tuple(sizes)
        if any(type(s) is not int for s in items):
            items = tuple(_size_item(s, i) for i, s in enumerate(items))
        return tuple.__new__(cls, items)

    def __repr__(self):
        return f"minigrad.Size({list(map(int, self))})"   # (np.int64(3) shows as 3)

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        out = tuple.__getitem__(self, item)
        return Size(out) if isinstance(item, slice) else out

    # concatenating or repeating a Size gives a Size, as in PyTorch (GPT-2's Conv1D builds its
    # output shape as ``x.size()[:-1] + (nf,)``)
    def __add__(self, other):
        if not isinstance(other, tuple):
            raise TypeError(f"can only concatenate tuple (not {type(other).__name__}) to "
                            "minigrad.Size")
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, n):
        out = tuple.__mul__(self, n)
        return out if out is NotImplemented else Size(out)

    __rmul__ = __mul__


# an array's shape as a Size without Size()'s checks (numpy's shapes are Python ints already):
# ``.shape`` is read many times an op, and the checks tripled its cost
_SIZE_OF = tuple.__new__


def _size_item(s, i):
    """One entry of a ``Size``: a bool or a one-element integer tensor becomes an int, other
    integers (numpy's too) are kept as given; anything else is PyTorch's TypeError."""
    if isinstance(s, bool):
        return int(s)
    if isinstance(s, TensorBase):
        if s._array.size == 1 and s._array.dtype.kind in "iub":
            return int(s._array.reshape(-1)[0])
    elif not isinstance(s, (float, complex, np.floating, np.complexfloating)):
        try:
            operator.index(s)
            return s
        except TypeError:
            pass
    kind = type(s)
    name = kind.__qualname__ if kind.__module__ in ("builtins", "minigrad.tensor") else \
        f"{kind.__module__}.{kind.__qualname__}"
    raise TypeError(f"torch.Size() takes an iterable of 'int' (item {i} is '{name}')")

