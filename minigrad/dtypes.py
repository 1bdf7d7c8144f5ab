"""Data types: ``minigrad.float32``, ``float64``, ``float16``, ``bfloat16``, ``int64``, ``bool``...

bfloat16 arrays are numpy arrays of ``ml_dtypes.bfloat16``, whose numpy kind is 'V' (not 'f'):
code that asks "is this a floating array" should use ``is_float_np`` rather than ``kind == 'f'``.

Each dtype wraps a numpy dtype and prints like PyTorch's (``minigrad.float32``).  Type promotion
follows PyTorch's rules, which differ from numpy's in two places that matter to users:
  * a Python float never widens a float32 tensor, and an integer tensor combined with a Python
    float becomes float32 (the default dtype), not float64;
  * a 0-d tensor only decides the result dtype when it is of a higher category
    (bool < integer < floating) than every tensor with dimensions.
"""
from __future__ import annotations

import ml_dtypes      # only adds numpy dtypes (bfloat16); it changes no numpy or global setting
import numpy as np

from . import _memory_format as mf
from ._argument_error import argument_error
# the dtype names of PyTorch's messages, re-exported: callers spell them dtypes.<name>
from ._dtype_names import (  # noqa: F401
    SCALAR_NAMES, c_type_name, legacy_type_name, scalar_type_name, tensor_type_string,
    typeid_name)

__all__ = ["DType", "float16", "bfloat16", "BFLOAT16", "reduced_float", "float32", "float64",
           "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool_",
           "complex64", "complex128",
           "default_complex", "to_dtype", "default_float", "result_type", "get_default_dtype",
           "set_default_dtype", "np_finfo", "is_float_np"]


class DType:
    """A tensor element type. ``np`` is the numpy dtype behind it."""
    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize")

    def to_real(self):
        """The real dtype of a complex one's parts (complex64 -> float32); a real dtype itself."""
        return _BY_NUMPY[self.np.type(0).real.dtype] if self.is_complex else self

    def to_complex(self):
        """The complex dtype whose parts are this floating dtype (float32 -> complex64)."""
        if self.is_complex:
            return self
        if self.np == BFLOAT16:
            return complex64            # as PyTorch: a bfloat16 with a complex is complex64
        if not self.is_floating_point or self.np.itemsize == 2:
            raise RuntimeError(f"Unknown Complex ScalarType for {SCALAR_NAMES[self.name]}"
                               if not self.is_floating_point
                               else "minigrad has no complex32 (ComplexHalf) dtype")
        return _BY_NUMPY[np.result_type(self.np, np.complex64)]

    def __init__(self, name, np_dtype):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind in "fV" or self.np == BFLOAT16
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.is_floating_point or self.np.kind in "ic"
        self.itemsize = self.np.itemsize

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __eq__(self, other):
        if isinstance(other, DType):
            return self.np == other.np
        if other is None:   # (numpy reads None as float64: ``float64 == None`` was True)
            return False
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.np)

    def __reduce__(self):
        # pickled by name, so that loading (and copy.deepcopy) gives back the one instance
        return (_named, (self.name,))

    def __getitem__(self, key):
        # (PyTorch's C type has no item slot: Python's words, with its type's dotted name)
        raise TypeError("'minigrad.dtype' object is not subscriptable")

    __iter__ = None                 # (so that iter() still refuses it, not walk __getitem__)

    # Lets numpy accept a DType wherever it accepts a dtype: np.zeros(3, dtype=minigrad.float32).
    @property
    def dtype(self):
        return self.np


# named as PyTorch's class is: ``minigrad.dtype`` (what repr(type(x)) and type errors show)
DType.__name__ = DType.__qualname__ = "dtype"
DType.__module__ = "minigrad"
DType._tp_name = "minigrad.dtype"       # PyTorch's is a C type: its errors say 'torch.dtype'

# the numpy dtype of bfloat16 arrays (ml_dtypes'); numpy's kind for it is 'V'
BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
_FLOAT32_NP = np.dtype(np.float32)

float16 = half = DType("float16", np.float16)
bfloat16 = DType("bfloat16", BFLOAT16)
float32 = float = DType("float32", np.float32)
float64 = double = DType("float64", np.float64)
int8 = DType("int8", np.int8)
int16 = short = DType("int16", np.int16)
int32 = int = DType("int32", np.int32)
int64 = long = DType("int64", np.int64)
uint8 = DType("uint8", np.uint8)
# PyTorch's "barebones" unsigned types: few kernels take them and they promote with nothing
# but themselves and floats (see ``_promote``)
uint16 = DType("uint16", np.uint16)
uint32 = DType("uint32", np.uint32)
uint64 = DType("uint64", np.uint64)
bool_ = DType("bool", np.bool_)
complex64 = cfloat = DType("complex64", np.complex64)
complex128 = cdouble = DType("complex128", np.complex128)

_BY_NUMPY = {d.np: d for d in (float16, bfloat16, float32, float64, int8, int16, int32, int64,
                               uint8, uint16, uint32, uint64, bool_,
                               complex64, complex128)}
# numpy dtypes of the barebones unsigned types
BAREBONES_UNSIGNED = frozenset(d.np for d in (uint16, uint32, uint64))
_UINT64_NP = uint64.np
_BY_NAME = {d.name: d for d in _BY_NUMPY.values()}


def _named(name):
    """The dtype called ``name`` (what a pickled dtype loads as)."""
    return _BY_NAME[name]

_default_float = float32


def get_default_dtype() -> DType:
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype that Python floats and ``zeros``/``randn``... give (float32 or float64)."""
    global _default_float
    floating = "only floating-point types are supported as the default type"
    if not isinstance(dtype, DType):
        # PyTorch takes a dtype only (not its name, a numpy dtype or Python's float)
        raise TypeError(f"invalid dtype object: {floating}")
    if not dtype.is_floating_point:
        raise TypeError(floating)
    _default_float = dtype


def default_float() -> DType:
    return _default_float


def default_complex() -> DType:
    """The dtype a Python complex number gets: complex64, or complex128 when the default
    floating dtype is float64 (as PyTorch pairs them)."""
    return complex128 if _default_float is float64 else complex64


def to_dtype(dtype) -> DType:
    """Accept a DType, a numpy dtype, a Python type or a name and return the DType."""
    if isinstance(dtype, DType):
        return dtype
    if dtype is builtins_float:
        return float64          # PyTorch reads Python's float as double, whatever the default
    if dtype is builtins_int:
        return int64
    if dtype is builtins_bool:
        return bool_
    if dtype is builtins_complex:
        return complex128       # Python's complex is a pair of doubles
    if isinstance(dtype, str) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        # PyTorch's parser takes no name ('float') nor numpy type (np.float32) for a dtype
        # (the op's name and the argument's position added by the op's wrapper)
        raise argument_error(None, "dtype", "torch.dtype", dtype)
    if isinstance(dtype, (builtins_int, builtins_float, builtins_complex, list, tuple)):
        raise argument_error(None, "dtype", "torch.dtype", dtype)
    try:
        return _BY_NUMPY[np.dtype(dtype)]
    except (KeyError, TypeError, ValueError):      # ValueError: a tensor (numpy reads its .dtype)
        raise TypeError(f"minigrad has no dtype {dtype!r}; use one of "
                        f"{sorted(d.name for d in _BY_NUMPY.values())}") from None


import builtins as _builtins  # noqa: E402  (the names float/int/bool are taken above)
builtins_float, builtins_int, builtins_bool = _builtins.float, _builtins.int, _builtins.bool
builtins_complex = _builtins.complex


def dtype_argument(value, function, label, position) -> DType:
    """``value`` as a dtype argument of ``function`` in PyTorch's parser: a dtype, or Python's
    float, int or bool (float64, int64, bool); anything else is refused with its words."""
    if isinstance(value, DType):
        return value
    if value is builtins_float or value is builtins_int or value is builtins_bool or \
            value is builtins_complex:
        return to_dtype(value)
    raise TypeError(f"{function}(): argument '{label}' (position {position}) must be "
                    f"torch.dtype, not {type(value).__name__}")


_INF = _builtins.float("inf")
_FLOAT_MAX = {2: 65504.0, 4: _builtins.float(np.finfo(np.float32).max)}
_BF16_MAX = _builtins.float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)


def number_for(value, np_dtype, half_checked=False):
    """A Python number written into a tensor of ``np_dtype`` (``full``, ``fill_``, ``x[i] =
    v``), checked as PyTorch converts it: an int must fit the type (an unsigned one also takes
    negatives down to -max, as their two's complement: -1 is 255 in uint8), a float written
    into an integer type must be finite and within it, one into float32 must not overflow it
    (nor float16, when ``half_checked``: PyTorch's fill of more than one element checks it,
    its single-element and indexed writes do not); bool takes anything.  Returns the number
    to store, a Python one (a numpy scalar is read as ``python_number`` says)."""
    if isinstance(value, np.generic):
        value = python_number(value)
    if type(value) is _builtins.int and not -2 ** 63 <= value < 2 ** 64:
        # (PyTorch reads an int as a 64-bit one first, whatever the dtype, bfloat16's too)
        raise OverflowError("can't convert negative int to unsigned" if value < 0 else
                            "int too big to convert")
    if np_dtype == BFLOAT16:
        return _bfloat16_number(value, half_checked)
    if type(value) is _builtins.float and np_dtype.kind in "fV":     # the common case, quickly
        limit = _FLOAT_MAX.get(np_dtype.itemsize) if np_dtype.itemsize == 4 or half_checked \
            else None
        if limit is None or -limit <= value <= limit or value != value or abs(value) == _INF:
            return value
        raise RuntimeError(f"value cannot be converted to type {c_type_name(np_dtype)} "
                           f"without overflow")
    kind = np_dtype.kind
    if kind == "c":
        if np_dtype.itemsize == 8 and not isinstance(value, _builtins.bool) and any(
                _FLOAT_MAX[4] < abs(part) < _INF for part in (value.real, value.imag)):
            # a part past float32's range: complex64 refuses it as float32 does
            raise RuntimeError(f"value cannot be converted to type {c_type_name(np_dtype)} "
                               f"without overflow")
        # (an int as a complex: 2**63 fits a complex tensor, not the 64-bit int it would be
        # read as on its way)
        return _builtins.complex(value) if type(value) is _builtins.int else value
    if isinstance(value, (_builtins.complex, np.complexfloating)):
        if kind == "b":               # bool takes any number: True unless it is 0
            return value != 0
        if value.imag != 0:           # a real dtype takes a complex number with no imag only
            raise RuntimeError(f"value cannot be converted to type {c_type_name(np_dtype)} "
                               f"without overflow")
        value = value.real
    if kind == "b":
        # any number as it is (True unless 0, NaN True); an int past int64 (read as a
        # uint64) as its truth, which numpy could not make a bool of
        return value if type(value) is not _builtins.int or value < 2 ** 63 else True
    if isinstance(value, (_builtins.bool, np.bool_)) or \
            not isinstance(value, (_builtins.int, _builtins.float, np.integer, np.floating)):
        return value
    if kind in "fV":
        number = _builtins.float(value)
        if (np_dtype.itemsize == 4 or (np_dtype.itemsize == 2 and half_checked)) and \
                abs(number) != _INF and abs(number) > _FLOAT_MAX[np_dtype.itemsize]:
            raise RuntimeError(f"value cannot be converted to type {c_type_name(np_dtype)} "
                               f"without overflow")
        return number
    info = np.iinfo(np_dtype)
    if isinstance(value, (_builtins.int, np.integer)):
        low = -_builtins.int(info.max) if kind == "u" else _builtins.int(info.min)
        if low <= value <= info.max:
            return _builtins.int(value) % (_builtins.int(info.max) + 1) if value < 0 and \
                kind == "u" else value
    elif info.min <= value <= info.max:           # False for NaN
        return value
    raise RuntimeError(f"value cannot be converted to type {c_type_name(np_dtype)} without "
                       f"overflow")


def _bfloat16_number(value, checked):
    """``number_for`` for bfloat16: as float16's, with bfloat16's largest finite value."""
    if isinstance(value, (_builtins.complex, np.complexfloating)):
        if value.imag != 0:
            raise RuntimeError("value cannot be converted to type c10::BFloat16 without overflow")
        value = value.real
    if isinstance(value, (_builtins.bool, np.bool_)) or \
            not isinstance(value, (_builtins.int, _builtins.float, np.integer, np.floating)):
        return value
    number = _builtins.float(value)
    if checked and abs(number) != _INF and abs(number) > _BF16_MAX:
        raise RuntimeError("value cannot be converted to type c10::BFloat16 without overflow")
    return number


def refuse_unsigned(kernel, dtype) -> None:
    """PyTorch's NotImplementedError when ``dtype`` (a DType or numpy dtype) is uint16, uint32
    or uint64 and its ``kernel`` has no version for those ("arange_cpu" not implemented for
    'UInt16'): numpy would compute one, PyTorch refuses."""
    np_dtype = dtype.np if isinstance(dtype, DType) else dtype
    if np_dtype in BAREBONES_UNSIGNED:
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(np_dtype)}'")


def refuse_unsigned_input(kernel, *values) -> None:
    """``refuse_unsigned`` for the tensors among ``values`` (anything else is passed over, for
    the op's own checks to word): a one-line guard at the top of an op PyTorch has no
    uint16/32/64 kernel for."""
    for value in values:
        array = getattr(value, "_array", None)
        if array is not None and array.dtype in BAREBONES_UNSIGNED:
            refuse_unsigned(kernel, array.dtype)


def astype(array, np_dtype):
    """``array`` converted to ``np_dtype`` as PyTorch converts: a double becomes a half by way
    of a float (PyTorch's half is built from a float), so it rounds twice, as there -- 77 of a
    million uniform doubles in [-10, 10] land on a different half than numpy's direct
    conversion gives."""
    if not array.flags.c_contiguous and 0 in array.strides and array.dtype != np_dtype and \
            type(array) is np.ndarray:
        # a broadcast (expanded) input: PyTorch orders the copy's dims by the nonzero strides
        # alone, where numpy's order "K" would sort the 0 strides in among the others
        out = mf.empty_strided(np, array.shape, mf.target_strides(array, mf.preserve_format),
                               np_dtype)
        out[...] = array.astype(np.float32) if array.dtype == np.float64 and \
            np_dtype == np.float16 else array
        return out
    if array.dtype == np.float64 and np_dtype == np.float16:
        array = array.astype(np.float32)
    return array.astype(np_dtype, copy=False)


def preserving_copy(array, source=None):
    """A copy of the numpy array ``array`` laid out as PyTorch lays out its copy (a clone in
    ``preserve_format``, what ``torch.tensor(ndarray)`` makes): ``array``'s own strides when
    it is non-overlapping and dense (size-1 dims' strides included), else dense in the order
    of its strides (0 strides of a broadcast taking no part: row-major for ``broadcast_to``),
    where numpy's order "K" would sort the 0 strides in.  With ``source``: ``array`` is a
    new array numpy converted from ``source`` (another dtype), laid out so after ``source``
    (itself, or a view of it where only size-1 dims' strides differ)."""
    like = array if source is None else source
    if like.flags.c_contiguous and 1 not in like.shape:
        return array.copy() if source is None else array     # row-major, the common case
    strides = mf.target_strides(like, mf.preserve_format)
    if source is not None:
        return mf.restrided(array, strides)
    out = mf.empty_strided(np, array.shape, strides, array.dtype)
    out[...] = array
    return out


def from_numpy_dtype(np_dtype) -> DType:
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        if not np.dtype(np_dtype).isnative:
            raise ValueError("given numpy array has byte order different from the native byte "
                             "order. Conversion between byte orders is currently not "
                             "supported.") from None
        names = [d for d in ("float64", "float32", "float16", "complex64", "complex128",
                             "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16",
                             "uint8")
                 if np.dtype(d) in _BY_NUMPY]
        kind = np.dtype(np_dtype).type.__name__
        raise TypeError(f"can't convert np.ndarray of type numpy.{kind}. The only supported "
                        f"types are: {', '.join(names)}, and bool.") from None


def _category(np_dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point (bfloat16 too), 3 for complex."""
    kind = np_dtype.kind
    return 0 if kind == "b" else (2 if kind in "fV" or np_dtype == BFLOAT16 else
                                  (3 if kind == "c" else 1))


def np_finfo(np_dtype):
    """numpy's finfo of a floating numpy dtype; ml_dtypes' for bfloat16 (numpy's refuses it)."""
    return ml_dtypes.finfo(np_dtype) if np_dtype == BFLOAT16 else np.finfo(np_dtype)


def is_float_np(np_dtype) -> bool:
    """Whether a numpy dtype is a real floating one: numpy's kind 'f', or bfloat16 (kind 'V')."""
    return np_dtype.kind in "fV" or np_dtype == BFLOAT16


def reduced_float(np_dtype) -> bool:
    """Whether a numpy dtype is a 2-byte float (float16, bfloat16): PyTorch's CPU kernels
    compute those in float32 and round the result once."""
    return np_dtype.itemsize == 2 and (np_dtype.kind in "fV" or np_dtype == BFLOAT16)


def _same_category(a, b):
    """numpy's promotion within one category, and PyTorch's for bfloat16 (which numpy does not
    promote with other floats): with float16 it is float32, with a wider float that one."""
    if a == BFLOAT16 or b == BFLOAT16:
        if a == b:
            return a
        other = b if a == BFLOAT16 else a
        if other.kind == "c":
            return np.promote_types(other, np.complex64)
        return _FLOAT32_NP if other.itemsize <= 2 else other
    return np.promote_types(a, b)


_COMPLEX_OF = {2: np.dtype(np.complex64), 4: np.dtype(np.complex64), 8: np.dtype(np.complex128)}


def _promote(a, b):
    """Promote two dtypes as PyTorch: across categories the higher category's dtype wins
    (float32 with int64 is float32, where numpy says float64), except that a complex dtype
    widens to hold a wider float (complex64 with float64 is complex128); within one
    category, numpy's rule.  uint16/32/64 promote only with themselves and with a real
    floating dtype (which wins); anything else is PyTorch's RuntimeError."""
    if a in BAREBONES_UNSIGNED or b in BAREBONES_UNSIGNED:
        if a == b:
            return a
        if is_float_np(a) or is_float_np(b):
            return a if is_float_np(a) else b
        # (numpy would give int64 or float64: PyTorch refuses, uint64 does not fit int64)
        raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                           f"attempted to promote {scalar_type_name(a)} and "
                           f"{scalar_type_name(b)}")
    ca, cb = _category(a), _category(b)
    if ca != cb:
        if ca < cb:
            a, b, ca, cb = b, a, cb, ca
        if ca == 3 and cb == 2:
            return _same_category(a, b)
        return a
    return _same_category(a, b)


def python_number(value):
    """A numpy scalar as the Python number PyTorch reads it in an op (``t + np.int32(2)``,
    ``full(s, np.float16(1))``): an integer as an int, a real float as a float, a bool as a
    float too (np.bool_ weighs as 1.0), a complex128 (a subclass of Python's complex) as a
    complex, and the other complex scalars (complex64) as a float, by ``float()``: their real
    part, with numpy's ComplexWarning, as PyTorch converts them.  Anything else is returned
    as given."""
    if isinstance(value, np.generic) and not isinstance(value, (_builtins.float,
                                                                  _builtins.complex)):
        if isinstance(value, (np.bool_, np.floating, np.complexfloating)):
            return _builtins.float(value)
        return value.item()
    return value


def result_type(*operands):
    """The numpy dtype PyTorch would give to an op on ``operands``.

    ``operands`` are numpy/cupy arrays (with their ``ndim``), Python scalars, or numpy scalars
    (read as ``python_number`` says).
    """
    dimensioned, zero_dim, scalars = [], [], []
    for op in operands:
        if isinstance(op, (_builtins.bool, _builtins.int, _builtins.float, _builtins.complex)):
            scalars.append(op)
        elif op.ndim == 0:
            if isinstance(op, np.generic):            # a numpy scalar: a number, not a 0-d
                scalars.append(python_number(op))
                continue
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
        if result is not None and result.kind == "b" and promoted in BAREBONES_UNSIGNED:
            _promote(result, promoted)      # PyTorch's error (bool tensor, 0-d uint16...)
        if result is None or _category(promoted) > _category(result):
            if result is not None and _category(promoted) == 3 and _category(result) == 2:
                # a 0-d complex tensor makes a float tensor the complex dtype of its width,
                # as a complex number does (float32 with complex128 0-d is complex64)
                result = _COMPLEX_OF[result.itemsize]
            else:
                result = promoted
    for s in scalars:
        cat = 0 if isinstance(s, _builtins.bool) else (1 if isinstance(s, _builtins.int) else
                                                     (2 if isinstance(s, _builtins.float) else 3))
        if result is None:
            result = (np.dtype(np.bool_), np.dtype(np.int64), _default_float.np,
                      default_complex().np)[cat]
        elif cat == 1 and result.kind == "b" and s >= 2 ** 63 and type(s) is _builtins.int:
            _promote(result, _UINT64_NP)    # such an int is a uint64 to PyTorch: refused
        elif cat > _category(result):
            if cat == 3:
                # a complex number makes a float tensor the complex dtype of its width
                # (float64 -> complex128, float16 -> complex64 here: no complex32)
                result = _COMPLEX_OF[result.itemsize] if is_float_np(result) else \
                    default_complex().np
            else:
                result = np.dtype(np.int64) if cat == 1 else _default_float.np
    return result
