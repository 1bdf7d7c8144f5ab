"""``finfo`` and ``iinfo``: the numeric limits of minigrad's dtypes, with PyTorch's fields.

finfo: bits, eps (1.0's spacing), max, min, tiny = smallest_normal, resolution (10^-digits)
and dtype (its name); iinfo: bits, max, min and dtype.  Values are Python floats / ints.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes

__all__ = ["finfo", "iinfo"]


_DEFAULT = object()


class _Info:
    """What finfo and iinfo share, as PyTorch's: equal when they describe the same dtype
    (hence unhashable), and read-only."""
    __slots__ = ()

    def __eq__(self, other):
        return type(other) is type(self) and other.dtype == self.dtype

    __hash__ = None

    def __setattr__(self, name, value):
        if name in type(self).__slots__ and hasattr(self, name):
            raise AttributeError(f"attribute '{name}' of 'torch.{type(self).__name__}' objects "
                                 f"is not writable")
        object.__setattr__(self, name, value)


class finfo(_Info):  # noqa: N801  (PyTorch's name)
    """The limits of a floating dtype (the default float dtype when none is given)."""
    _tp_name = "minigrad.finfo"  # PyTorch's C type's name, in its argument errors
    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=_DEFAULT):  # noqa: A002  (PyTorch's argument name)
        dtype = dtypes.get_default_dtype() if type is _DEFAULT else \
            dtypes.dtype_argument(type, "finfo", "type", 1)
        if not (dtype.is_floating_point or dtype.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        dtype = dtype.to_real()            # a complex dtype's limits are its parts'
        info = dtypes.np_finfo(dtype.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = dtype.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo(_Info):  # noqa: N801  (PyTorch's name)
    """The limits of an integer dtype."""
    _tp_name = "minigrad.iinfo"  # PyTorch's C type's name, in its argument errors
    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):  # noqa: A002  (PyTorch's argument name)
        type = dtypes.dtype_argument(type, "iinfo", "type", 1)  # noqa: A001
        if type.np.kind == "b":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if type.np.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
