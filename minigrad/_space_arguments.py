"""linspace's and logspace's arguments as PyTorch's parser reads them, before any check of
their values: ``start`` and ``end`` each a Number or a Tensor, ``steps`` an int (a numpy
integer or a 0-d integer tensor too, never a bool or a float), logspace's ``base`` a real
number or a 0-d tensor. Anything else matches none of the four overloads (each of start and
end a Number or a Tensor), and the TypeError lists them.
"""
from __future__ import annotations

import numbers

import numpy as np

from ._type_names import python_type_name
from .tensor import Tensor

_OPTIONS = ("*, Tensor out = None, torch.dtype dtype = None, torch.layout layout = None, "
            "torch.device device = None, bool pin_memory = False, bool requires_grad = False")
_BOUNDS = (("Tensor", "Tensor"), ("Number", "Tensor"), ("Tensor", "Number"), ("Number", "Number"))


def _is_bound(value):
    return isinstance(value, (numbers.Number, np.bool_, Tensor))


def _is_steps(value):
    if isinstance(value, Tensor):
        return value.ndim == 0 and value._array.dtype.kind in "iu"
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_base(value):
    if isinstance(value, Tensor):
        return value.ndim == 0
    return isinstance(value, (numbers.Real, np.bool_))


def _keyword_type(key, value):
    # a minigrad dtype, layout or device is what PyTorch's messages call torch.dtype, ...
    if key in ("dtype", "layout", "device") and type(value).__module__.startswith("minigrad"):
        return f"torch.{key}"
    return python_type_name(value)


def check_space_arguments(name, start, end, steps, keywords, *base):
    """Refuse, as PyTorch's parser does, arguments of ``name`` (linspace, or logspace when
    a ``base`` follows) that fit no overload. ``keywords``: the keyword arguments given other
    than their defaults, listed in the message as PyTorch lists what it got."""
    fits = _is_bound(start) and _is_bound(end) and _is_steps(steps) and \
        all(_is_base(b) for b in base)
    if fits:
        return
    shown = [b for b in base if not (isinstance(b, float) and b == 10.0)]   # not the default
    got = [python_type_name(v) for v in (start, end, steps, *shown)]
    got += [f"{key}={_keyword_type(key, value)}" for key, value in keywords.items()]
    base_option = "float base = 10.0, " if base else ""
    lines = [f"{name}() received an invalid combination of arguments - got ({', '.join(got)}), "
             f"but expected one of:"]
    lines += [f" * ({first} start, {second} end, int steps, {base_option}{_OPTIONS})"
              for first, second in _BOUNDS]
    raise TypeError("\n".join(lines) + "\n")
