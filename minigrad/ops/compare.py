"""Pointwise ops without a useful gradient: comparisons, logical ops, sign, rounding, nan/inf
tests.

Comparisons and tests give bool tensors, which never require grad. sign, floor, ceil and
round are piecewise constant: as in PyTorch their result requires grad when their input does,
and the gradient they pass back is 0 (``StepFunction``).
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from .._parser_emulation import refusal
from .._tensor_input import _combination
from .._type_names import python_type_name
from ..tensor import Tensor
from ._util import (broadcast_shape, check_python_int, check_tensor, int_arg, not_implemented_for,
                    torch_sign)


def _wrapped(value, other):
    """A Python int compared with an integer tensor, as PyTorch compares it: first converted
    to the tensor's dtype, two's complement (int8 < 200 compares with -56)."""
    check_python_int(value)
    if type(value) is int and getattr(other, "dtype", None) is not None and \
            other.dtype.kind in "iu":
        bits = other.dtype.itemsize * 8
        value &= (1 << bits) - 1
        if other.dtype.kind == "i" and value >= 1 << (bits - 1):
            value -= 1 << bits
    return value


def _in_common_dtype(value, other):
    """An array ``value`` converted to the dtype PyTorch compares ``value`` and ``other`` in
    (their promoted type: a 0-d float64 tensor meets a float32 one in float32, a 0-d int16
    one a uint8 one in uint8, as two's complement); a number as it is (numpy converts it)."""
    kind = getattr(value, "dtype", None)
    if kind is None or kind == getattr(other, "dtype", None) or (
            kind.kind in "fc" and type(other) in (int, float)):
        return value            # (the common cases, kept as they are without promoting)
    common = dtypes.result_type(value, other)
    if value.dtype == common:
        return value
    converted = dtypes.astype(value, common)
    if type(converted) is np.ndarray and not mf.exactly_row_major(value):
        # (value's very strides kept, a size-1 dim's too: PyTorch orders the result by them)
        converted = mf.restrided(converted, mf.target_strides(value, mf.preserve_format))
    return converted


def _no_grad_binary(name, a, b, op):
    like = a if isinstance(a, Tensor) else b
    av = a._array if isinstance(a, Tensor) else a
    if isinstance(b, Tensor):
        bv = b._array
    else:
        bv = b
        if op in _REFUSING and not isinstance(b, _NUMBERS):
            # an array, a list...: PyTorch's comparison functions take a Tensor or a Number
            raise _combination(name, (a, b), {}, _FUNCTION_FORMS)
    kind = type(bv)
    if type(av) is np.ndarray and (
            kind is np.ndarray and av.dtype == bv.dtype or av.dtype.kind == "f" and
            (kind is float or kind is int and -2 ** 63 <= bv < 2 ** 64)):
        # the common cases: two numpy arrays of one dtype (one device, nothing to promote),
        # or a float array and a Python number (compared as it is)
        if kind is np.ndarray:
            broadcast_shape(av.shape, bv.shape, name)
    else:
        av, bv = _checked_operands(name, like if like is a else None, av, bv, op)
    out = op(av, bv)
    # laid out as PyTorch's, after av: numpy's layout when av is row-major (or a number),
    # unless av's size-1 dims have strides of their own beside a number (PyTorch's general
    # rule then orders them too)
    if type(av) is not type(out):
        return Tensor._wrap(out)
    if type(bv) is np.ndarray:
        if mf.numpy_agrees(out, av, bv):
            return Tensor._wrap(out)
    elif av.flags.c_contiguous and av.size and (1 not in av.shape or mf.exactly_row_major(av)):
        return Tensor._wrap(out)        # (an empty av: any strides, its order may differ)
    return Tensor._wrap(mf.pointwise_layout(out, (av, bv), numbers=True))


def _checked_operands(name, first, av, bv, op):
    """``av`` and ``bv`` as a comparison takes them (Python ints wrapped into an integer
    tensor's dtype, arrays in their common dtype), after the checks of type, shape and
    device; ``first``: the first operand when it is a tensor (whose device ``bv`` needs).
    A numpy scalar is the Python number PyTorch reads (np.complex64 its real part)."""
    av, bv = dtypes.python_number(av), dtypes.python_number(bv)
    if op in _COMPARISONS:
        av, bv = _wrapped(av, bv), _wrapped(bv, av)
        av, bv = _in_common_dtype(av, bv), _in_common_dtype(bv, av)
    elif op in _LOGICAL:
        av, bv = _in_common_dtype(av, bv), _in_common_dtype(bv, av)
    if isinstance(bv, Tensor) or isinstance(av, Tensor):
        raise TypeError(f"{name}: unsupported operands")
    if hasattr(av, "shape") and hasattr(bv, "shape"):
        broadcast_shape(av.shape, bv.shape, name)
        if first is not None and backend.device_of(bv) != first.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {first.device} and {backend.device_of(bv)}!")
    return av, bv


# the other operands a comparison takes besides a Tensor (numpy's scalars pass as numbers)
_NUMBERS = (bool, int, float, complex, np.generic)
_FUNCTION_FORMS = ("Tensor input, Tensor other, *, Tensor out = None",
                   "Tensor input, Number other, *, Tensor out = None")
_METHOD_FORMS = ("Tensor other", "Number other")


def method(compare, name=None):
    """``compare`` as the Tensor method ``name`` (``x.eq(other)``): PyTorch's method refuses
    an ``other`` that is neither a Tensor nor a Number in its own words (one argument)."""
    name = name or compare.__name__

    def call(self, *args, **kwargs):
        if len(args) == 1 and not kwargs:
            other = args[0]
        elif not args and list(kwargs) == ["other"]:
            other = kwargs["other"]
        else:
            other = _NO_OTHER
        if not isinstance(other, _OPERANDS):
            raise _combination(name, args, kwargs, _METHOD_FORMS)
        return compare(self, other)
    call.__name__ = name
    return call


def tensor_method(fn, name=None):
    """``fn(self, other)`` as a Tensor method that, as PyTorch's (``x.logical_and(y)``),
    takes a Tensor ``other`` only, refusing anything else in PyTorch's words."""
    name = name or fn.__name__

    def call(self, *args, **kwargs):
        if len(args) == 1 and not kwargs and not isinstance(args[0], Tensor):
            raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not "
                            f"{python_type_name(args[0])}")
        if not args and "other" in kwargs and not isinstance(kwargs["other"], Tensor):
            raise TypeError(f"{name}(): argument 'other' must be Tensor, not "
                            f"{python_type_name(kwargs['other'])}")
        return fn(self, *args, **kwargs)
    call.__name__ = name
    return call


_NO_OTHER = object()
_EQ, _NE = (lambda x, y: x == y), (lambda x, y: x != y)
_LT, _LE = (lambda x, y: x < y), (lambda x, y: x <= y)
_GT, _GE = (lambda x, y: x > y), (lambda x, y: x >= y)
_ARRAY_EQ = lambda x, y: x == y         # noqa: E731  (eq, but taking an array: ``==``)
_REFUSING = (_EQ, _NE, _LT, _LE, _GT, _GE)
_COMPARISONS = _REFUSING + (_ARRAY_EQ,)
_OPERANDS = (Tensor,) + _NUMBERS


def eq_operator(a, b):
    """``a == b``: eq, but taking a numpy array ``b`` as PyTorch's ``==`` does."""
    if isinstance(b, np.ndarray) and isinstance(a, Tensor):
        return _no_grad_binary("eq", a, b, _ARRAY_EQ)
    return eq(a, b)


def eq(a, b):
    return _no_grad_binary("eq", a, b, _EQ)


def ne(a, b):
    return _no_grad_binary("ne", a, b, _NE)


# complex numbers have no order; uint16/32/64 have no ordering kernels in PyTorch
_UNORDERED = frozenset(np.dtype(d) for d in ("complex64", "complex128")) | \
    dtypes.BAREBONES_UNSIGNED


def _unordered(kernel, *operands):
    """Complex numbers have no order: PyTorch's ordering kernels refuse them (numpy would
    compare real parts first, then imaginary parts, without a word); nor has it any for
    uint16/32/64 (the promoted dtype's kernel: uint16 < 1.5 compares in float32)."""
    if not any(isinstance(x, complex) or isinstance(x, Tensor) and x._array.dtype in _UNORDERED
               for x in operands):
        return
    shapes = [x._array.shape for x in operands if isinstance(x, Tensor)]
    if len(shapes) == 2:
        broadcast_shape(shapes[0], shapes[1], kernel[:2])     # (PyTorch checks it first)
    try:        # the kernel PyTorch lacks is that of the promoted dtype
        dtype = dtypes.result_type(*(x._array if isinstance(x, Tensor) else x
                                     for x in operands))
    except (TypeError, ValueError):
        dtype = dtypes.default_complex().np
    if dtype.kind == "c" or dtype in _UNORDERED:
        raise not_implemented_for(kernel, dtype)


def _unsigned_logical(kernel, a, b):
    """PyTorch's refusal of a logical op whose operands promote to uint16/32/64."""
    if isinstance(a, Tensor) and a._array.dtype in dtypes.BAREBONES_UNSIGNED or \
            isinstance(b, Tensor) and b._array.dtype in dtypes.BAREBONES_UNSIGNED:
        dtypes.refuse_unsigned(kernel, dtypes.result_type(
            *(x._array if isinstance(x, Tensor) else x for x in (a, b))))


def lt(a, b):
    _unordered("lt_cpu", a, b)
    return _no_grad_binary("lt", a, b, _LT)


def le(a, b):
    _unordered("le_cpu", a, b)
    return _no_grad_binary("le", a, b, _LE)


def gt(a, b):
    _unordered("gt_cpu", a, b)
    return _no_grad_binary("gt", a, b, _GT)


def ge(a, b):
    _unordered("ge_cpu", a, b)
    return _no_grad_binary("ge", a, b, _GE)


def _alias(compare, name):
    """``compare`` under PyTorch's other name for it (``torch.greater`` is ``gt``), whose
    refusal of an operand that is neither a Tensor nor a Number names the alias, as
    PyTorch's does."""
    def call(a, b):
        if not isinstance(b, (Tensor,) + _NUMBERS):
            raise _combination(name, (a, b), {}, _FUNCTION_FORMS)
        return compare(a, b)
    call.__name__ = call.__qualname__ = name
    return call


greater, greater_equal = _alias(gt, "greater"), _alias(ge, "greater_equal")
less, less_equal, not_equal = _alias(lt, "less"), _alias(le, "less_equal"), _alias(ne, "not_equal")


def _logical_and(x, y):
    return backend.xp_of(x).logical_and(x, y)


def _logical_or(x, y):
    return backend.xp_of(x).logical_or(x, y)


# (PyTorch's logical ops read their operands in the promoted dtype: a 0-d int64 256 beside a
# uint8 tensor is 0 there, so False)
_LOGICAL = (_logical_and, _logical_or)


def logical_and(a, b):
    _unsigned_logical("logical_and_cpu", a, b)
    return _no_grad_binary("logical_and", a, b, _logical_and)


def logical_or(a, b):
    _unsigned_logical("logical_or_cpu", a, b)
    return _no_grad_binary("logical_or", a, b, _logical_or)


def logical_not(a):
    dtypes.refuse_unsigned("logical_not_cpu", a._array.dtype)
    return _no_grad_unary(a, lambda xp, x: xp.logical_not(x))


def _no_grad_unary(a, fn):
    x = a._array
    out = fn(backend.xp_of(x), x)
    # laid out after x as PyTorch's (numpy's own layout when x is row-major)
    return Tensor._wrap(out if x.flags.c_contiguous or type(out) is not np.ndarray
                        else mf.pointwise_layout(out, (x,)))


class StepFunction(Function):
    """A piecewise-constant function ``fn(xp, a)`` (sign, floor...): its derivative is 0
    almost everywhere, so the gradient is zeros (not g * 0, which would be NaN for NaN g)."""
    def forward(self, a, *, fn):
        out = fn(backend.xp_of(a), a)
        return out if a.flags.c_contiguous or type(out) is not np.ndarray else \
            mf.pointwise_layout(out, (a,))          # a's layout, as PyTorch's

    def backward(self, g):
        return Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))


class Sign(StepFunction):
    pass


class Floor(StepFunction):
    pass


class Ceil(StepFunction):
    pass


class Round(StepFunction):
    pass


def _step(function, a, fn):
    if a._requires_grad:
        return function.apply(a, fn=fn)
    return _no_grad_unary(a, fn)


def sign(a):
    """-1, 0 or 1 by the sign of each element (0 for NaN); a bool tensor is its own sign."""
    if a._array.dtype.kind == "b":
        return _no_grad_unary(a, lambda xp, x: x.copy())
    dtypes.refuse_unsigned("sign_cpu", a._array.dtype)
    if a._array.dtype.kind == "c":
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                                  "numbers. Please use torch.sgn instead.")
    return _step(Sign, a, torch_sign)


def _no_bool(kernel, a):
    """PyTorch's rounding kernels take integers (unchanged) but not bool, nor complex."""
    if isinstance(a, Tensor) and a._array.dtype.kind in "bc":
        raise not_implemented_for(kernel, a._array.dtype)


def _no_complex_rounding(name, a):
    if isinstance(a, Tensor) and a._array.dtype.kind == "c":
        raise NotImplementedError(f"{name} is not supported for complex inputs")


def floor(a):
    _no_complex_rounding("floor", a)
    _no_bool("floor_vml_cpu", a)
    return _step(Floor, a, lambda xp, x: xp.floor(x))


def ceil(a):
    _no_complex_rounding("ceil", a)
    _no_bool("ceil_vml_cpu", a)
    return _step(Ceil, a, lambda xp, x: xp.ceil(x))


_NO_DECIMALS = object()     # round's decimals left out (PyTorch refuses an explicit None)


def round(a, *, decimals=_NO_DECIMALS):
    """Round half to even (to ``decimals`` places).  As PyTorch, a plain ``round(int_tensor)``
    returns the integers unchanged, while passing ``decimals`` (even 0) picks the kernel that
    takes floating-point input only."""
    if decimals is _NO_DECIMALS:
        _no_bool("round_vml_cpu", a)
        return _step(Round, a, lambda xp, x: xp.round(x))
    check_tensor("round", a)
    decimals = int_arg("round", "decimals", decimals)
    if isinstance(a, Tensor) and a._array.dtype.kind in "biuc":
        raise not_implemented_for("round_vml_cpu" if decimals == 0 else "round_cpu",
                                  a._array.dtype)
    # (PyTorch's round with decimals is an overload of its own: RoundBackward1)
    return rename_node(_step(Round, a, lambda xp, x: mf.pointwise_result(
        _round_decimals(xp, x, decimals), x)), "RoundBackward1")


def round_method(self, *args, **kwargs):
    """``Tensor.round``: ``round(self, decimals=...)``, ``decimals`` a keyword only (a number
    given by position, or another keyword, is PyTorch's parser's refusal, in its words)."""
    if args or any(k != "decimals" for k in kwargs):
        raise refusal("round", True, args, kwargs)
    return round(self, **kwargs)


round_method.__name__ = round_method.__qualname__ = "round"     # (as Python's refusals name it)


def _round_decimals(xp, x, decimals):
    """PyTorch's rounding to ``decimals`` places: rint(x * 10**d) / 10**d, or for negative d
    rint(x / 10**-d) * 10**-d, in the dtype (half floats in float32), so that the scaling
    overflows where PyTorch's does and nowhere else (float16 65504 to -1 places is 65504)."""
    work = x.astype(np.float32) if x.dtype in (np.float16, dtypes.BFLOAT16) else x
    with np.errstate(over="ignore", invalid="ignore"):
        places = builtins.abs(decimals)
        power = work.dtype.type(10.0 ** places if places <= 308 else float("inf"))
        if decimals > 0:
            out = xp.rint(work * power) / power
        elif decimals < 0:
            out = xp.rint(work / power) * power
        else:
            out = xp.rint(work)
    return out.astype(x.dtype, copy=False)

def isnan(a):
    return _no_grad_unary(a, lambda xp, x: xp.isnan(x))


def isinf(a):
    return _no_grad_unary(a, lambda xp, x: xp.isinf(x))


def isfinite(a):
    return _no_grad_unary(a, lambda xp, x: xp.isfinite(x))
