"""PyTorch's legacy typed tensor classes, as older code still uses them.

``minigrad.FloatTensor(2, 3)`` makes a float32 tensor of that size (zeros here, where PyTorch
leaves it uninitialised), ``minigrad.LongTensor([1.7, -2.5])`` one from data (cast as
PyTorch casts: ``[1, -2]``), ``isinstance(x, minigrad.FloatTensor)`` asks whether x is a
float32 tensor on the CPU, and ``x.type(minigrad.DoubleTensor)`` converts.  Each name is a
class whose instances are ordinary Tensors: the class only stands for a dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .creation import zeros
from .tensor import Tensor, _legacy_sizes, tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor",
           "CharTensor", "ShortTensor", "IntTensor", "LongTensor", "BoolTensor", "is_legacy_type"]


class _TensorType(type):
    """The metaclass of the legacy names: calling one builds a tensor of its dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None):
        if device is not None and str(device) != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{device} was passed")
        if len(args) == 1 and isinstance(args[0], Tensor):
            data = args[0]
            if data.dtype != cls.dtype:
                raise TypeError(f"expected {cls.__name__} of dtype {cls.dtype!r} (got a tensor "
                                f"of dtype {data.dtype!r})")
            return data.view(tuple(data.shape))    # as PyTorch: an alias, not a copy
        if len(args) == 1 and type(args[0]).__name__ != "Size" and \
                isinstance(args[0], (list, tuple, np.ndarray)):
            return tensor(args[0], dtype=cls.dtype)
        if len(args) == 1 and type(args[0]).__name__ == "Size":
            args = tuple(args[0])
        for a in args:
            if isinstance(a, str):
                raise TypeError(f"new(): invalid data type '{type(a).__name__}'")
            if not isinstance(a, numbers.Integral) or isinstance(a, bool):
                raise TypeError(f"new(): data must be a sequence (got {type(a).__name__})")
        return zeros(_legacy_sizes(args) or (0,), dtype=cls.dtype)   # no size: empty, 1-d

    def __repr__(cls):
        return f"<class 'minigrad.{cls.__name__}'>"


def _legacy(name, dtype):
    return _TensorType(name, (), {"dtype": dtype, "__module__": "minigrad",
                                  "__doc__": f"A {dtype.name} tensor, PyTorch's legacy way."})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
BFloat16Tensor = _legacy("BFloat16Tensor", dtypes.bfloat16)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
CharTensor = _legacy("CharTensor", dtypes.int8)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
IntTensor = _legacy("IntTensor", dtypes.int32)
LongTensor = _legacy("LongTensor", dtypes.int64)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)


def is_legacy_type(obj) -> bool:
    """Is ``obj`` one of the classes above (``x.type(minigrad.LongTensor)``)?"""
    return isinstance(obj, _TensorType)
