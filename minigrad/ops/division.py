"""Division and its kin: true division (``Div``, the ``/`` operator, ``div``/``divide``),
division with a rounding mode (``div(..., rounding_mode="floor" | "trunc")``,
``floor_divide`` and ``//``, exact in integer dtypes) and ``remainder`` (``%``, Python's
modulo with the divisor's sign).

True division's backward is g / b for a and -g a / b**2 for b; the rounded quotients are step
functions (zero gradients; ``floor_divide`` has none); remainder's gradient is g for a and
-g floor(a / b) for b.  The promotion and broadcasting they share is ``elementwise._binary``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _memory_format as mf, backend
from ..autograd import Function
from ..autograd._shown_edges import shown_inputs
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .._tensor_factories import tensor as _number_tensor
from .._argument_error import argument_error
from ._util import (broadcast_shape, check_python_int, ieee, ieee_errors,
                    not_implemented_for, python_type_name, result_dtype)
from ._binary_operands import _BAREBONES, _first_number, _scalar_or_tensor
from .plumbing import conj_of, sum_to
from ._broadcast_rows import rows_or_relaid
from .elementwise import _BF16, _FLOAT16, _binary, _by_half_scalar, cast, mul, neg


class Div(Function):
    half = False
    complex_ok = True
    saved_for_input = (1, None)       # a is read only for b's gradient; b for both
    saved_names = ("self", "other")

    def forward(self, a, b, *, half=False):
        # (1/0 = inf silently: Function.apply runs every forward with numpy's warnings off)
        self.save_for_backward(a, b)
        if half:        # a float16 a over a float32 scalar b, computed in float32 (half_scalar)
            self.half = True
            return (a / b).astype(a.dtype)
        # (x / v, a per-channel scale: in long rows; a transposed b: in a's order, as Mul's)
        out, b = rows_or_relaid(np.true_divide, a, b)
        if out is None:
            out = a / b
        # PyTorch lays the result out after a: numpy's layout when a is row-major; otherwise
        # a's dims' order (and, a dense a beside a number, a's very strides, size-1 dims'
        # included, which numpy would choose for itself)
        return out if mf.numpy_agrees(out, a, b) else mf.pointwise_layout(out, (a, b))

    @ieee
    def backward(self, g):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2, taken as -g ((a / b) / b), PyTorch's order of
        # operations (the same bits as its gradient: -g a / (b b) rounds differently)
        a, b = self.saved_tensors      # a kept only when b needs a gradient
        (shape_a, _), (shape_b, _) = self._in_meta
        if self.half:
            b = b.item()            # the scalar again, as a number: g / b in float32 too
        else:
            b = conj_of(b)
            if g._array.dtype is _BF16 and b._array.dtype != _BF16:
                # bfloat16 operands kept in float32: read them back in bfloat16, so that
                # each step rounds to it (before a broadcast dim is summed), as PyTorch's
                b = cast(b, _BF16)
                a = a if a is None else cast(a, _BF16)
        return (sum_to(div(g, b), shape_a) if self.needs_input_grad[0] else None,
                sum_to(mul(neg(g), div(div(conj_of(a), b), b)), shape_b)
                if self.needs_input_grad[1] else None)


Div.renamed("DivBackward1").next_functions = shown_inputs(0)     # x / a number: one edge


def div_operator(self, other):
    """``self / other``; see above (a 16-bit float self: div's float32 scalar rule)."""
    dtype = self._array.dtype
    if dtype is _FLOAT16 or dtype is _BF16 or not isinstance(other, Tensor):
        if isinstance(other, np.ndarray):
            return NotImplemented
        if dtype is _FLOAT16 or dtype is _BF16:      # (what _by_half_scalar looks for)
            out = _by_half_scalar(Div, self, other)
            if out is not None:
                return out
    try:
        return _binary(Div, self, other, "div", true_divide=True)
    except TypeError:
        return NotImplemented       # (a list, None: Python's words, as PyTorch's operator)


def div(a, b, *, rounding_mode=None):
    return _div(a, b, rounding_mode, RoundedDiv)


def divide(a, b, *, rounding_mode=None):
    """``div`` under its other name, which PyTorch's parser uses in its errors."""
    return _div(a, b, rounding_mode, RoundedDiv, "divide")


def floor_divide(a, b):
    """``a // b``: floor(a / b) in the promoted dtype, as ``div(a, b, rounding_mode="floor")``
    but, as PyTorch's floor_divide, with no derivative: a result that requires grad has a
    node whose backward raises."""
    return _div(a, b, "floor", FloorDivide)


def _div(a, b, rounding_mode, rounded_node, name="div"):
    if not isinstance(a, Tensor):
        a = _first_number(a, b)
    if rounding_mode is None:
        out = _by_half_scalar(Div, a, b)
        return _binary(Div, a, b, name, true_divide=True) if out is None else out
    if not isinstance(rounding_mode, str):
        # (the wrappers list PyTorch's signatures: a str rounding_mode is in two of them)
        raise argument_error(None, "rounding_mode", "str", rounding_mode)
    if rounding_mode not in ("floor", "trunc"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    if not isinstance(a, Tensor):
        if isinstance(a, (bool, int, float, complex, np.number, np.bool_)):
            # beside a tensor the number is a scalar operand (1e300 // float64 stays finite,
            # 5 // uint8 is uint8); beside a number PyTorch reads it as torch.tensor(a)
            a = a if isinstance(b, Tensor) else _number_tensor(a)
        else:
            raise TypeError(f"div(): argument 'input' (position 1) must be Tensor, not "
                            f"{python_type_name(a)}")
    if not isinstance(b, (Tensor, bool, int, float, complex, np.number, np.bool_)):
        raise argument_error(None, "other", "Tensor", b, 2)
    check_python_int(a)
    check_python_int(b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        broadcast_shape(a._array.shape, b._array.shape, "div")    # (before the dtypes)
    dtype = result_dtype(a, b)
    if dtype.kind in "bc" or dtype in _BAREBONES:
        raise not_implemented_for(f"div_{rounding_mode}_cpu", dtype)
    if dtype.kind in "iu":
        return _integer_div(a, b, dtype, rounding_mode)
    a_t = a if isinstance(a, Tensor) else _scalar_or_tensor(a, b, "div")
    b_t = b if isinstance(b, Tensor) else _scalar_or_tensor(b, a, "div")
    broadcast_shape(a_t._array.shape, b_t._array.shape, "div")
    av, bv = a_t._array.astype(dtype, copy=False), b_t._array.astype(dtype, copy=False)
    xp = backend.xp_of(av)
    with ieee_errors():
        # PyTorch's floor division of floats is numpy's: from fmod, the quotient the remainder
        # implies (1.0 // 0.1 is 9, as in Python, where floor(1.0 / 0.1) would be 10)
        q = xp.floor_divide(av, bv) if rounding_mode == "floor" else xp.trunc(av / bv)
    q = mf.pointwise_result(q, av, bv)
    if is_grad_enabled() and (a_t._requires_grad or b_t._requires_grad):
        return rounded_node.apply(a_t, b_t, quotient=q)
    return Tensor._wrap(q)


class RoundedDiv(Function):
    """a / b rounded to an integral value (floor or trunc): a step function of both operands,
    so, as in PyTorch, the result requires grad and both gradients are zeros."""
    _node_name = "DivBackward2"           # PyTorch's node for a div with a rounding mode

    def forward(self, a, b, *, quotient):
        return quotient

    def backward(self, g):
        xp = backend.xp_of(g._array)
        return tuple(Tensor._wrap(xp.zeros(shape, dtype)) if need else None
                     for (shape, dtype), need in zip(self._in_meta, self.needs_input_grad))


class FloorDivide(RoundedDiv):
    """``floor_divide`` (``a // b``) of operands that require grad: PyTorch records it with
    no derivative, and a backward through it is an error."""
    _node_name = "torch::autograd::NotImplemented"

    def backward(self, g):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


def _integer_div(a, b, dtype, rounding_mode):
    """Integer floor/trunc division in integers: exact past 2**53 (a float64 detour rounds), and
    PyTorch's ZeroDivisionError for a zero divisor (numpy returns 0 with a warning)."""
    like = a if isinstance(a, Tensor) else b
    xp = backend.xp_of(like._array)
    av = a._array if isinstance(a, Tensor) else xp.asarray(a)
    bv = b._array if isinstance(b, Tensor) else xp.asarray(b)
    broadcast_shape(tuple(av.shape), tuple(bv.shape), "div")
    av, bv = av.astype(dtype, copy=False), bv.astype(dtype, copy=False)
    if av.size and bool((bv == 0).any()):      # (an empty result divides nothing)
        raise RuntimeError(f"ZeroDivisionError: integer division by zero (div with rounding_mode="
                           f"'{rounding_mode}' of {dtype} values; the divisor holds a 0)")
    with np.errstate(over="ignore"):    # the type's minimum over -1 wraps, silently as PyTorch
        q = xp.floor_divide(av, bv)
        if rounding_mode == "trunc":   # floor is one below trunc for an inexact negative quotient
            q = q + ((q * bv != av) & ((av < 0) != (bv < 0)))
    return Tensor._wrap(mf.pointwise_result(xp.asarray(q, dtype=dtype), av, bv))


class Remainder(Function):
    """a - floor(a / b) * b, Python's modulo with the sign of the divisor, computed by
    numpy's remainder (the formula gives NaN for 3 % inf, PyTorch and numpy give 3).

    Backward: d/da = 1, d/db = -floor(a / b) (a step function: no second derivative).
    """
    def forward(self, a, b):
        if a.dtype.kind == "b":
            raise NotImplementedError("\"remainder_cpu\" not implemented for 'Bool' (remainder "
                                      "of bool tensors; cast them with .int() first)")
        if a.dtype.kind in "iu" and a.size and b.size and bool((b == 0).any()):
            raise RuntimeError("ZeroDivisionError: integer remainder by zero (the divisor "
                               f"of a {a.dtype} remainder holds a 0)")
        self.save_for_backward(a, b)
        xp = backend.xp_of(a)
        if a.dtype.kind not in "fV":
            return mf.pointwise_result(xp.remainder(a, b), a, b)
        # PyTorch's: fmod moved to the divisor's side; a zero keeps fmod's sign (-3 % 3 is
        # -0.0, where numpy's remainder gives the divisor's sign, +0.0)
        mod = xp.fmod(a, b)
        return mf.pointwise_result(xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod),
                                   a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        return (sum_to(g, tuple(a.shape)) if self.needs_input_grad[0] else None,
                sum_to(mul(neg(g), div(a, b, rounding_mode="floor")), tuple(b.shape))
                if self.needs_input_grad[1] else None)


class NumberRemainder(Remainder):
    """``number % tensor``: PyTorch records it with no derivative (its Scalar-self overload),
    and a backward through it is an error."""
    _node_name = "torch::autograd::NotImplemented"

    def backward(self, g):
        raise RuntimeError("derivative for aten::remainder is not implemented")


def remainder(a, b):
    """Python's modulo, with the sign of the divisor (as torch.remainder); see Remainder."""
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        # (PyTorch's words for an op with a Number overload: the overloads it tried)
        first, second = ("numpy.ndarray" if isinstance(x, np.ndarray) else
                         python_type_name(x) for x in (a, b))
        # (which arguments the (Number self, Tensor other) overload refuses)
        marked = ", ".join((first if isinstance(a, numbers.Number) else f"!{first}!",
                            f"!{second}!" if isinstance(b, np.ndarray) else second))
        got = f"{first}, {second}"
        raise TypeError(f"remainder() received an invalid combination of arguments - got "
                        f"({got}), but expected one of:\n * (Tensor input, Tensor other, *, "
                        f"Tensor out = None)\n * (Number self, Tensor other)\n      didn't "
                        f"match because some of the arguments have invalid types: ({marked})\n"
                        f" * (Tensor input, Number other, *, Tensor out = None)\n")
    node = NumberRemainder if isinstance(b, Tensor) and not isinstance(a, Tensor) else \
        _TENSOR_REMAINDER if isinstance(b, Tensor) else Remainder
    return _binary(node, a, b, "remainder")


# PyTorch's nodes: RemainderBackward0 for a number divisor, RemainderBackward1 for a tensor
_TENSOR_REMAINDER = Remainder.renamed("RemainderBackward1")
