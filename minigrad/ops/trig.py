"""The rest of the trigonometric family: tan, asin, acos, atan, atan2, and the hyperbolic
sinh, cosh, asinh, acosh, atanh (sin, cos, tanh live in ``elementwise``).

Forward on arrays (numpy's ufunc), backward as ops on Tensors: each derivative is a formula
of the input (or the output), so it can be differentiated again::

    tan'   = 1 + tan^2            asin' =  1 / sqrt(1 - x^2)     acos' = -1 / sqrt(1 - x^2)
    atan'  = 1 / (1 + x^2)        sinh' = cosh                   cosh' = sinh
    asinh' = 1 / sqrt(x^2 + 1)    acosh' = 1 / sqrt(x^2 - 1)     atanh' = 1 / (1 - x^2)
    atan2(y, x): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2)

Outside the domain (asin(2), acosh(0.5)) the value is NaN, as in PyTorch.
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function
from ._util import ieee
from .elementwise import _binary, _unary, add, div, mul, neg, sqrt, sub
from .plumbing import sum_to

__all__ = ["tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh", "atanh",
           "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh"]


class _Unary(Function):
    """forward: ``ufunc`` of numpy/cupy; backward: g * ``derivative(x, out)`` (Tensors)."""
    ufunc = ""

    @ieee
    def forward(self, a):
        out = getattr(backend.xp_of(a), self.ufunc)(a)
        self.save_for_backward(a, out)
        return out

    @ieee
    def backward(self, g):
        a, out = self.saved_tensors
        return mul(g, self.derivative(a, out))


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
    ufunc = "arctan"

    @staticmethod
    def derivative(a, out):
        return div(1.0, add(mul(a, a), 1.0))


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
        return div(1.0, sqrt(sub(mul(a, a), 1.0)))


class Atanh(_Unary):
    ufunc = "arctanh"

    @staticmethod
    def derivative(a, out):
        return div(1.0, sub(1.0, mul(a, a)))


class Atan2(Function):
    """atan2(y, x): the angle of the point (x, y), in (-pi, pi]; y and x broadcast."""
    def forward(self, y, x):
        self.save_for_backward(y, x)
        return backend.xp_of(y).arctan2(y, x)

    @ieee
    def backward(self, g):
        y, x = self.saved_tensors
        r2 = add(mul(x, x), mul(y, y))
        return (sum_to(div(mul(g, x), r2), y.shape) if self.needs_input_grad[0] else None,
                sum_to(div(mul(neg(g), y), r2), x.shape) if self.needs_input_grad[1] else None)


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
    return _binary(Atan2, input, other, "atan2", true_divide=True)


arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
