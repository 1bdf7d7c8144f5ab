"""Data types: ``minigrad.float32``, ``float64``, ``float16``, ``int64``, ``int32``, ``bool``...

Each dtype wraps a numpy dtype and prints like PyTorch's (``minigrad.float32``).  Type promotion
follows PyTorch's rules, which differ from numpy's in two places that matter to users:
  * a Python float never widens a float32 tensor, and an integer tensor combined with a Python
    float becomes float32 (the default dtype), not float64;
  * a 0-d tensor only decides the result dtype when it is of a higher category
    (bool < integer < floating) than every tensor with dimensions.
"""
from __future__ import annotations

import numpy as np

__all__ = ["DType", "float16", "float32", "float64", "int8", "int16", "int32", "int64",
           "uint8", "bool_", "to_dtype", "default_float", "result_type", "get_default_dtype",
           "set_default_dtype"]


class DType:
    """A tensor element type. ``np`` is the numpy dtype behind it."""
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize")

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __eq__(self, other):
        if isinstance(other, DType):
            return self.np == other.np
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.np)

    # Lets numpy accept a DType wherever it accepts a dtype: np.zeros(3, dtype=minigrad.float32).
    @property
    def dtype(self):
        return self.np


float16 = half = DType("float16", np.float16)
float32 = float = DType("float32", np.float32)
float64 = double = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = short = DType("int16", np.int16)
int32 = int = DType("int32", np.int32)
int64 = long = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
bool_ = DType("bool", np.bool_)

_BY_NUMPY = {d.np: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8, bool_)}

_default_float = float32


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype that Python floats and ``zeros``/``randn``... give (float32 or float64)."""
    global _default_float
    dtype = to_dtype(dtype)
    if not dtype.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {dtype}")
    _default_float = dtype


def default_float() -> DType:
    return _default_float


def to_dtype(dtype) -> DType:
    """Accept a DType, a numpy dtype, a Python type or a name and return the DType."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is builtins_float:
        return _default_float
    if dtype is builtins_int:
        return int64
    if dtype is builtins_bool:
        return bool_
    try:
        return _BY_NUMPY[np.dtype(dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"minigrad has no dtype {dtype!r}; use one of "
                        f"{sorted(d.name for d in _BY_NUMPY.values())}") from None


import builtins as _builtins  # noqa: E402  (the names float/int/bool are taken above)
builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool


def from_numpy_dtype(np_dtype) -> DType:
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        names = [d for d in ("float64", "float32", "float16", "int64", "int32", "int16",
                             "int8", "uint8") if np.dtype(d) in _BY_NUMPY]
        kind = np.dtype(np_dtype).type.__name__
        raise TypeError(f"can't convert np.ndarray of type numpy.{kind}. The only supported "
                        f"types are: {', '.join(names)}, and bool.") from None


def _category(np_dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point."""
    kind = np_dtype.kind
    return 0 if kind == "b" else (2 if kind == "f" else 1)


def _promote(a, b):
    """Promote two dtypes as PyTorch: across categories the higher category's dtype wins
    (float32 with int64 is float32, where numpy says float64); within one, numpy's rule."""
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def result_type(*operands):
    """The numpy dtype PyTorch would give to an op on ``operands``.

    ``operands`` are numpy/cupy arrays (with their ``ndim``) or Python scalars.
    """
    dimensioned, zero_dim, scalars = [], [], []
    for op in operands:
        if isinstance(op, (_builtins.bool, _builtins.int, _builtins.float)):
            scalars.append(op)
        elif op.ndim == 0:
            zero_dim.append(op.dtype)
        else:
            dimensioned.append(op.dtype)
    result = None
    for group in (dimensioned, zero_dim):
        if not group:
            continue
        promoted = group[0]
        for d in group[1:]:
            promoted = _promote(promoted, d)
        if result is None or _category(promoted) > _category(result):
            result = promoted
    for s in scalars:
        cat = 0 if isinstance(s, _builtins.bool) else (1 if isinstance(s, _builtins.int) else 2)
        if result is None:
            result = (np.dtype(np.bool_), np.dtype(np.int64), _default_float.np)[cat]
        elif cat > _category(result):
            result = np.dtype(np.int64) if cat == 1 else _default_float.np
    return result
