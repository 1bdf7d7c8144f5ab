"""``finfo`` and ``iinfo``: the numeric limits of minigrad's dtypes, with PyTorch's fields.

finfo: bits, eps (1.0's spacing), max, min, tiny = smallest_normal, resolution (10^-digits)
and dtype (its name); iinfo: bits, max, min and dtype.  Values are Python floats / ints.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes

__all__ = ["finfo", "iinfo"]


def _name(dtype):
    return dtype.name if isinstance(dtype, dtypes.DType) else type(dtype).__name__


class finfo:  # noqa: N801  (PyTorch's name)
    """The limits of a floating dtype (the default float dtype when none is given)."""
    def __init__(self, type=None):  # noqa: A002  (PyTorch's argument name)
        dtype = dtypes.get_default_dtype() if type is None else type
        if not isinstance(dtype, dtypes.DType) or not dtype.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{_name(dtype)}'")
        info = np.finfo(dtype.np)
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


class iinfo:  # noqa: N801  (PyTorch's name)
    """The limits of an integer dtype."""
    def __init__(self, type):  # noqa: A002  (PyTorch's argument name)
        if not isinstance(type, dtypes.DType) or type.np.kind not in "iu":
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo to "
                            f"handle '{_name(type)}'")
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
