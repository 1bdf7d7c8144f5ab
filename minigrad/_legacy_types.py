"""PyTorch's legacy typed tensor classes, as older code still uses them.

``minigrad.FloatTensor(2, 3)`` makes a float32 tensor of that size (zeros here, where PyTorch
leaves it uninitialised), ``minigrad.LongTensor([1.7, -2.5])`` one from data (cast as
PyTorch casts: ``[1, -2]``), ``isinstance(x, minigrad.FloatTensor)`` asks whether x is a
float32 tensor on the CPU, and ``x.type(minigrad.DoubleTensor)`` converts.  ``CUDA_TYPES``
holds the same names for GPU tensors (PyTorch's ``torch.cuda.FloatTensor``...).  Each name is a
class whose instances are ordinary Tensors: the class only stands for a dtype.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend, dtypes
from .creation import zeros
from .tensor import Tensor
from ._data_conversion import _legacy_sizes, legacy_keywords, legacy_other_dtype
from ._tensor_factories import tensor

__all__ = ["FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "ByteTensor",
           "CharTensor", "ShortTensor", "IntTensor", "LongTensor", "BoolTensor", "is_legacy_type"]


class _TensorType(type):
    """The metaclass of the legacy names: calling one builds a tensor of its dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and \
            obj.device.type == cls.device_type

    def __call__(cls, *args, **kwargs):
        legacy_keywords(args, kwargs)                 # (device is the only keyword)
        device = kwargs.get("device")
        kind = None if device is None else getattr(device, "type", str(device).split(":")[0])
        if kind is not None and kind != cls.device_type:
            raise RuntimeError(f"legacy constructor expects device type: {cls.device_type} but "
                               f"device type: {kind} was passed")
        if cls.device_type == "cuda":       # made as the CPU class makes it, then moved
            if not backend.is_cuda_available():
                raise TypeError(f"type {cls.__module__}.{cls.__name__} not available. Torch "
                                "not compiled with CUDA enabled.")
            return _CPU_TYPE[cls.__name__](*args).to(device or "cuda")
        if len(args) == 1 and isinstance(args[0], Tensor):
            data = args[0]
            if data.dtype != cls.dtype:
                raise legacy_other_dtype(cls.dtype.name, data.dtype.name)
            return data.view(tuple(data.shape))    # as PyTorch: an alias, not a copy
        if len(args) == 1 and type(args[0]).__name__ != "Size" and \
                isinstance(args[0], (list, tuple, range, np.ndarray)):
            return tensor(args[0], dtype=cls.dtype)
        if len(args) == 1 and type(args[0]).__name__ == "Size":
            args = tuple(args[0])
        if len(args) == 1:
            a = args[0]
            if isinstance(a, str):
                raise TypeError(f"new(): invalid data type '{type(a).__name__}'")
            if not isinstance(a, numbers.Integral) or isinstance(a, bool):
                raise TypeError(f"new(): data must be a sequence (got {type(a).__name__})")
        return zeros(_legacy_sizes(args) or (0,), dtype=cls.dtype)   # no size: empty, 1-d

    def __repr__(cls):
        return f"<class '{cls.__module__}.{cls.__name__}'>"


def _legacy(name, dtype, device_type="cpu"):
    module = "minigrad" if device_type == "cpu" else "minigrad.cuda"
    return _TensorType(name, (), {"dtype": dtype, "device_type": device_type,
                                  "is_cuda": device_type == "cuda", "__module__": module,
                                  "__doc__": f"A {dtype.name} tensor on the {device_type}, "
                                             f"PyTorch's legacy way."})


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

_CPU_TYPE = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, BFloat16Tensor,
                                     ByteTensor, CharTensor, ShortTensor, IntTensor, LongTensor,
                                     BoolTensor)}
# ``minigrad.cuda.FloatTensor``...: the same names for tensors on the GPU (old scripts pick
# ``Tensor = torch.cuda.FloatTensor if cuda else torch.FloatTensor`` at import, GPU or not)
CUDA_TYPES = {name: _legacy(name, t.dtype, "cuda") for name, t in _CPU_TYPE.items()}


def is_legacy_type(obj) -> bool:
    """Is ``obj`` one of the classes above (``x.type(minigrad.LongTensor)``)?"""
    return isinstance(obj, _TensorType)
