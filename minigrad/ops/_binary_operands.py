"""The operands of a binary pointwise op, before any arithmetic: a Python number made a
tensor of the other operand's dtype (``_scalar_or_tensor``), the checks of add/sub's
``alpha`` against the result dtype, the kernels PyTorch lacks for unsigned and complex
types (refused in the words of the kernel it names), and the deprecated scalar-first
overloads (``p.add_(-lr, g)``) with their warning.  ``elementwise`` and its sibling modules
build on them.
"""
from __future__ import annotations

import numbers

import numpy as np

from .._warn_once import warn_user
from .. import backend, dtypes
from .._global_flags import is_warn_always_enabled
from ..tensor import Tensor
from .._tensor_factories import tensor as _number_tensor
from .._argument_error import ArgumentError
from ._util import check_python_int, not_implemented_for, to_tensor_like

_COMPLEX_KERNELS = {"remainder": "remainder_cpu", "fmod": "fmod_cpu", "atan2": "atan2_cpu"}


# uint16/32/64 (PyTorch's "barebones" unsigned types): the ops among these names have no
# kernel for them there, and refuse them in the words of the kernel named (mul, and true
# division, which computes in floating point, take them)
_BAREBONES = dtypes.BAREBONES_UNSIGNED
_UNSIGNED_KERNELS = {"add": "add_stub", "sub": "add_stub", "remainder": "remainder_cpu",
                     "fmod": "fmod_cpu", "maximum": "maximum_cpu", "minimum": "minimum_cpu",
                     "pow": "pow"}


def _refuse_unsigned_by_kernel(name, dtype):
    kernel = _UNSIGNED_KERNELS.get(name)
    if kernel is not None:
        dtypes.refuse_unsigned(kernel, dtype)


def _refuse_complex_by_kernel(name, dtype):
    kernel = _COMPLEX_KERNELS.get(name)
    if kernel is not None and dtype.kind == "c":
        raise not_implemented_for(kernel, dtype)


# the largest magnitude of each float dtype: a Python number within it is made in that dtype
# without overflowing (what ``_scalar_or_tensor``'s fast path relies on)
_FLOAT_LIMITS = {np.dtype(d): float(np.finfo(d).max)
                 for d in (np.float16, np.float32, np.float64)}


def _scalar_or_tensor(value, like, name, true_divide=False):
    kind = type(value)
    if (kind is float or kind is int and -2 ** 63 <= value < 2 ** 64) and \
            type(like._array) is np.ndarray:
        # ``x * 0.5``, ``x + 1`` on a float tensor, the common case: the number takes the
        # tensor's dtype (promotion of a float tensor with a Python number) and, being within
        # its range (NaN is not), needs none of the checks below
        limit = _FLOAT_LIMITS.get(like._array.dtype)
        if limit is not None and -limit <= value <= limit:
            t = Tensor._wrap(np.asarray(value, dtype=like._array.dtype))
            # PyTorch's wrapped number: no saved-tensor hook sees it, and a node shows it
            # (grad_fn._saved_other) as the number itself; kept in a (truthy) 1-tuple
            t._wrapped_number = (value,)
            return t
    if type(value) not in _PYTHON_NUMBERS and isinstance(value, np.generic):
        # PyTorch reads a numpy scalar as the Python number it holds, so np.float16(2) weighs
        # as a Python float (int32 tensor * it is float32), np.bool_ as a float too
        value = dtypes.python_number(value)
    if isinstance(value, (bool, int, float, complex)):
        check_python_int(value)
        number = value
        dtype = dtypes.result_type(like._array, value)
        if dtype in _BAREBONES:             # (x.add_(1) too: the in-place name's kernel)
            _refuse_unsigned_by_kernel(name.rstrip("_"), dtype)
        if true_divide and dtype.kind in "biu":
            # true division computes in floating point: the number keeps its value there
            # (uint8 / -3 divides by -3, not by -3 wrapped to 253)
            dtype = dtypes.default_float().np
        if isinstance(value, int) and not isinstance(value, bool) and dtype.kind in "iu":
            bits = dtype.itemsize * 8
            # PyTorch wraps the number into the tensor's integer type, two's complement
            # (uint8 + 300 adds 44); numpy would raise OverflowError
            value &= (1 << bits) - 1
            if dtype.kind == "i" and value >= 1 << (bits - 1):
                value -= 1 << bits
        with np.errstate(over="ignore"):   # past float16's range (x_half + 1e6): inf, silently
            t = to_tensor_like(value, like, dtype=dtype)
        t._wrapped_number = (number,)
        return t
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a numpy array
        return Tensor._wrap(backend.to_device(value, like.device))
    exc = TypeError(f"{name}: unsupported operand type {type(value).__name__}; expected a "
                    "Tensor or a number")
    # the methods' and functions' wrappers word it as PyTorch's parser (the operators, as
    # Python's own refusal, keep these words)
    exc.argument = ArgumentError(name, "other", "Tensor", value, 2)
    raise exc


def _check_alpha(alpha, dtype):
    """PyTorch's checks of the ``alpha`` of add/sub against the result ``dtype``: a bool alpha
    only for a bool result, a float one only for a floating result, and a value the dtype holds
    (an unsigned type takes negatives down to -max, as its two's complement); a Python int
    past 64 bits is PyTorch's OverflowError first."""
    check_python_int(alpha)
    if isinstance(alpha, (bool, np.bool_)):
        if dtype.kind != "b":
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
        return
    if dtype.kind == "c" and isinstance(alpha, (int, float, complex, np.number)):
        # a complex result reads alpha as its complex type: each part must fit its float
        limit = float(np.finfo(dtype).max)
        parts = (complex(alpha).real, complex(alpha).imag) if not isinstance(alpha, int) \
            else (float(alpha),)
        if any(np.isfinite(p) and abs(p) > limit for p in parts):
            raise RuntimeError(f"value cannot be converted to type {dtypes.c_type_name(dtype)} "
                               "without overflow")
    if isinstance(alpha, (complex, np.complexfloating)):
        if dtype.kind == "c":
            return
        if dtype.kind in "biu":     # (PyTorch checks an integral result's alpha first)
            raise RuntimeError("For integral input tensors, argument alpha must not be a "
                               "floating point number.")
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a complex "
                           "number.")
    if not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"add(): argument 'alpha' must be Number, not {type(alpha).__name__}")
    if dtype.kind in "biu" and not isinstance(alpha, (int, np.integer)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low = -int(info.max) if dtype.kind == "u" else int(info.min)
        fits = low <= int(alpha) <= info.max
    elif dtype.kind in "fV" and dtype.itemsize < 8:
        limit = float(dtypes.np_finfo(dtype).max)
        fits = not np.isfinite(alpha) or -limit <= float(alpha) <= limit
    else:
        fits = True
    if not fits:
        c_name = _C_SCALAR_NAMES.get(dtype.name, dtype.name + "_t")
        raise RuntimeError(f"value cannot be converted to type {c_name} without overflow "
                           f"(alpha={alpha!r})")


# the C++ names PyTorch's overflow message gives a dtype's element type
_C_SCALAR_NAMES = {"int32": "int", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
                   "float32": "float", "float64": "double"}


_PYTHON_NUMBERS = frozenset((bool, int, float))


_NUMBER_TYPES = frozenset((bool, int, float, complex))


# numpy's scalar types that PyTorch reads as the Python number they hold
_NUMPY_NUMBERS = (np.number, np.bool_)


def _first_number(a, b):
    """add, sub, mul and div, as in PyTorch, take two Python numbers (``torch.add(2, 3.5)`` is
    ``tensor(5.5)``): the first is then read as ``torch.tensor(a)``.  A numpy scalar counts as
    the Python number it holds (``torch.add(np.float64(2), 1)`` is a float32 ``tensor(3.)``)."""
    if type(a) in _NUMBER_TYPES:
        if type(b) in _NUMBER_TYPES or isinstance(b, _NUMPY_NUMBERS):
            return _number_tensor(a)
    elif type(a) is not Tensor and isinstance(a, _NUMPY_NUMBERS) and \
            (type(b) in _NUMBER_TYPES or isinstance(b, _NUMPY_NUMBERS)):
        a = dtypes.python_number(a)     # (np.float64 and np.complex128 come back as they are)
        return _number_tensor(complex(a) if isinstance(a, complex) else
                              float(a) if isinstance(a, float) else a)
    return a


# PyTorch's deprecated overloads that take the scalar first (old optimizers' p.add_(-lr, g),
# exp_avg_sq.addcmul_(1 - beta2, g, g)): still accepted, with a warning given once per process
_LEGACY_WARNED = []


def legacy_overload(name, scalar, tensors, given, instead, numbers_ok=False):
    """Checks a call by PyTorch's deprecated overload ``given`` (a number ``scalar`` before the
    ``tensors``; numbers too where ``numbers_ok``) and warns as PyTorch does (once per
    process, every time under ``set_warn_always(True)``), naming the current signature
    ``instead``; returns ``scalar``.  Other arguments: the current signature's TypeError."""
    kinds = (Tensor, numbers.Number) if numbers_ok else Tensor
    if isinstance(scalar, Tensor) or not isinstance(scalar, numbers.Number) or \
            not all(isinstance(t, kinds) for t in tensors):
        n = instead.split("*")[0].count("Tensor ")
        if not name.endswith("_"):
            n -= 1 if instead.startswith(f"{name}(Tensor other") else 0
        raise TypeError(f"{name}() takes {n} positional argument{'s' * (n != 1)} but "
                        f"{n + 1} were given")
    if is_warn_always_enabled() or not _LEGACY_WARNED:
        _LEGACY_WARNED.append(name)
        warn_user(f"This overload of {name} is deprecated:\n\t{given}\nConsider using one "
                  f"of the following signatures instead:\n\t{instead}", UserWarning)
    return scalar
