"""The rest of the trigonometric family: tan, asin, acos, atan, atan2, and the hyperbolic
sinh, cosh, asinh, acosh, atanh (sin, cos, tanh live in ``elementary_functions``).

Forward on arrays (numpy's ufunc), backward as ops on Tensors: each derivative is a formula
of the input (or the output), so it can be differentiated again::

    tan'   = 1 + tan^2            asin' =  1 / sqrt(1 - x^2)     acos' = -1 / sqrt(1 - x^2)
    atan'  = 1 / (1 + x^2)        sinh' = cosh                   cosh' = sinh
    asinh' = 1 / sqrt(x^2 + 1)    acosh' = 1 / sqrt(x^2 - 1)     atanh' = 1 / (1 - x^2)
    atan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)

Outside the domain (asin(2), acosh(0.5)) the value is NaN, as in PyTorch.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._util import broadcast_shape, ieee, not_implemented_for
from .elementary_functions import _unary, sqrt
from .elementwise import _binary, add, cast, mul, neg, sub
from .division import div
from .pointwise_select import where
from .plumbing import conj_of, sum_to

__all__ = ["tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh",
           "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh"]


class _Unary(Function):
    """forward: ``ufunc`` of numpy/cupy; backward: g * ``derivative(x, out)`` (Tensors),
    conjugated for complex inputs (every function here is holomorphic off its branch cuts)."""
    ufunc = ""
    complex_ok = True

    @ieee
    def forward(self, a):
        out = getattr(backend.xp_of(a), self.ufunc)(a)
        self.save_for_backward(a, out)
        return out

    @ieee
    def backward(self, g):
        a, out = self.saved_tensors
        return mul(g, conj_of(self.derivative(a, out)))


class Tan(_Unary):
    ufunc = "tan"

    @staticmethod
    def derivative(a, out):
        return add(mul(out, out), 1.0)


class Asin(_Unary):
    ufunc = "arcsin"

    @staticmethod
    def derivative(a, out):
        return div(1.0, sqrt(sub(1.0, mul(a, a))))


class Acos(_Unary):
    ufunc = "arccos"

    @staticmethod
    def derivative(a, out):
        return div(-1.0, sqrt(sub(1.0, mul(a, a))))


class Atan(_Unary):
    """Backward: g / conj(1 + x^2), a division as PyTorch's (at the poles x = +-i a complex
    g / 0 is inf + nan i there, where g * (1 / 0) would be NaN)."""
    ufunc = "arctan"

    @ieee
    def backward(self, g):
        a, _ = self.saved_tensors
        return div(g, conj_of(add(mul(a, a), 1.0)))


class Sinh(_Unary):
    ufunc = "sinh"

    @staticmethod
    def derivative(a, out):
        return cosh(a)


class Cosh(_Unary):
    ufunc = "cosh"

    @staticmethod
    def derivative(a, out):
        return sinh(a)


class Asinh(_Unary):
    ufunc = "arcsinh"

    @staticmethod
    def derivative(a, out):
        return div(1.0, sqrt(add(mul(a, a), 1.0)))


class Acosh(_Unary):
    ufunc = "arccosh"

    @staticmethod
    def derivative(a, out):
        if a._array.dtype.kind == "c":
            # sqrt(z - 1) sqrt(z + 1), not sqrt(z^2 - 1): the branch acosh's own values take
            return div(1.0, mul(sqrt(sub(a, 1.0)), sqrt(add(a, 1.0))))
        return div(1.0, sqrt(sub(mul(a, a), 1.0)))


class Atanh(_Unary):
    ufunc = "arctanh"

    @staticmethod
    def derivative(a, out):
        return div(1.0, sub(1.0, mul(a, a)))


class Atan2(Function):
    """atan2(y, x): the angle of the point (x, y), in (-pi, pi]; y and x broadcast.

    Backward: dy = g x / r2, dx = -g y / r2 with r2 = x^2 + y^2.  ``squares`` and ``minus_y``
    (arrays, or None) replace y^2 or x^2 and -y where that operand was an integer or bool tensor
    before promotion: PyTorch computes them in the operand's own dtype (uint8 -3 is 253, a
    square wraps around, and -y of a bool raises, in the backward)."""
    saved_names = ("self", "other")

    def forward(self, y, x, *, squares=(None, None), minus_y=None, y_is_bool=False):
        self.save_for_backward(y, x)
        self.squares, self.minus_y, self.y_is_bool = squares, minus_y, y_is_bool
        return mf.pointwise_result(backend.xp_of(y).arctan2(y, x), y, x)

    @ieee
    def backward(self, g):
        y, x = self.saved_tensors
        y2, x2 = (mul(t, t) if sq is None else Tensor._wrap(sq)
                  for t, sq in ((y, self.squares[0]), (x, self.squares[1])))
        # at the origin (or where r2 underflows to 0) the angle has no derivative; PyTorch
        # gives 0 there, not 0/0, so 1/r2 is replaced by 0 where r2 is 0 -- after it is
        # taken (inf), so that a second derivative there is 0 * inf = NaN, as PyTorch's
        r2 = add(x2, y2)
        recip = where(Tensor._wrap(r2._array == 0), 0.0, div(1.0, r2))
        gy = sum_to(mul(mul(g, x), recip), y.shape) if self.needs_input_grad[0] else None
        gx = None
        if self.needs_input_grad[1]:
            if self.y_is_bool:
                raise RuntimeError("Negation, the `-` operator, on a bool tensor is not "
                                   "supported. If you are trying to invert a mask, use the `~` "
                                   "or `logical_not()` operator instead.")
            top = mul(neg(g), y) if self.minus_y is None else mul(g, Tensor._wrap(self.minus_y))
            gx = sum_to(mul(top, recip), x.shape)
        return gy, gx


def _in_own_dtype(t, dtype, xp):
    """(t^2, -t) computed in t's integer or bool dtype (wrapping, as PyTorch), then cast to
    ``dtype``; (None, None) for a floating tensor or a number."""
    if not isinstance(t, Tensor) or t._array.dtype.kind not in "biu":
        return None, None
    a = t._array
    with np.errstate(over="ignore"):
        square = (a & a) if a.dtype.kind == "b" else a * a
        minus = None if a.dtype.kind == "b" else xp.negative(a)
    return square.astype(dtype), None if minus is None else minus.astype(dtype)


def tan(input):
    return _unary(Tan, input)


def asin(input):
    return _unary(Asin, input)


def acos(input):
    return _unary(Acos, input)


def atan(input):
    return _unary(Atan, input)


def sinh(input):
    return _unary(Sinh, input)


def cosh(input):
    return _unary(Cosh, input)


def asinh(input):
    return _unary(Asinh, input)


def acosh(input):
    return _unary(Acosh, input)


def atanh(input):
    return _unary(Atanh, input)


def atan2(input, other):
    """Elementwise angle of (other, input) = (x, y); integer inputs give the default float."""
    mixed = isinstance(input, Tensor) and isinstance(other, Tensor) and \
        (input._array.dtype.kind in "biu") != (other._array.dtype.kind in "biu")
    if not mixed:
        return _binary(Atan2, input, other, "atan2", true_divide=True)
    # one integer or bool operand beside a floating one: its backward terms in its own dtype
    dtype = dtypes.result_type(input._array, other._array)
    broadcast_shape(tuple(input.shape), tuple(other.shape), "atan2")
    if dtype.kind == "c":
        raise not_implemented_for("atan2_cpu", dtype)
    xp = backend.xp_of(input._array)
    y_sq, minus_y = _in_own_dtype(input, dtype, xp)
    x_sq, _ = _in_own_dtype(other, dtype, xp)
    return Atan2.apply(cast(input, dtype), cast(other, dtype), squares=(y_sq, x_sq),
                       minus_y=minus_y, y_is_bool=input._array.dtype.kind == "b")


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
