"""``minigrad.types``: the type aliases PyTorch code annotates with (``torch.types``).

Annotations only: nothing here is checked at run time.
"""
from __future__ import annotations

from typing import Sequence, Union

from .backend import Device as _device
from .dtypes import DType as _dtype
from .tensor import Size, Tensor

__all__ = ["Number", "Device", "Tensor", "Size"]

_int = int
_float = float
_bool = bool
_complex = complex
_str = str
_bytes = bytes
_size = Union[Size, Sequence[int]]

Number = Union[int, float, bool]
_Number = (int, float, bool)            # for isinstance checks, as torch.types._Number
Device = Union[_device, str, int, None]
_TensorOrTensors = Union[Tensor, Sequence[Tensor]]
