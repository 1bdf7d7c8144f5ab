"""Pointwise ops added in round 7: ``rsub``, ``fmax``/``fmin``, ``angle``, the real/complex
queries (``isreal``, ``real``, ``imag``), ``isposinf``/``isneginf``, ``fill`` (out of place)
and the function forms of ``fill_``, ``detach`` and ``detach_``.

minigrad has no complex dtype, so on its (real) tensors ``real`` is the identity, ``imag``
is refused as PyTorch refuses it for real tensors, ``isreal`` is all True and ``angle`` is
the argument of a real number: 0 for x >= 0, pi for x < 0, NaN for NaN.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from ._util import broadcast_shape, ieee
from .elementwise import cast, select_grad, sub
from .plumbing import sum_to

__all__ = ["rsub", "fmax", "fmin", "isposinf", "isneginf", "isreal", "real", "imag", "angle",
           "fill", "fill_", "detach", "detach_"]


def rsub(input, other, alpha=1):
    """``other - alpha * input`` (``sub`` with its operands swapped); ``other`` may be a
    number."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return sub(other, input, alpha=alpha)


# ----------------------------------------------------------------------------------------------
# fmax / fmin: maximum / minimum that ignore NaN
# ----------------------------------------------------------------------------------------------
class _NanIgnoringExtreme(Function):
    """out = fmax(a, b) (or fmin): the larger (smaller) of the two, the other one where one is
    NaN, NaN where both are.  Backward as PyTorch's: the whole gradient goes to ``a`` where
    a wins or ties, or where b is NaN, and to ``b`` elsewhere (no splitting of ties)."""
    numpy_fn = None
    wins = None                              # a's winning comparison with b (>= or <=)

    @ieee
    def forward(self, a, b):
        xp = backend.xp_of(a)
        self.shapes = a.shape, b.shape
        self.to_a = type(self).wins(a, b) | xp.isnan(b)
        return getattr(xp, self.numpy_fn)(a, b)

    def backward(self, g):
        sa, sb = self.shapes
        to_a = backend.xp_of(g._array).broadcast_to(self.to_a, g.shape)
        return (sum_to(select_grad(g, to_a), sa) if self.needs_input_grad[0] else None,
                sum_to(select_grad(g, ~to_a), sb) if self.needs_input_grad[1] else None)


class FMax(_NanIgnoringExtreme):
    numpy_fn = "fmax"
    wins = staticmethod(lambda a, b: a >= b)


class FMin(_NanIgnoringExtreme):
    numpy_fn = "fmin"
    wins = staticmethod(lambda a, b: a <= b)


def _nan_ignoring(function, input, other, name):
    for what, value, pos in (("input", input, 1), ("other", other, 2)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {pos}) must be Tensor, not "
                            f"{type(value).__name__}")
    broadcast_shape(input._array.shape, other._array.shape, name)
    if input.device != other.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {other.device}!")
    dtype = dtypes.result_type(input._array, other._array)
    return function.apply(cast(input, dtype), cast(other, dtype))


def fmax(input, other):
    """Elementwise maximum ignoring NaN: the other element where one is NaN (NaN only where
    both are).  Broadcasts and promotes; ties send the gradient to ``input``."""
    return _nan_ignoring(FMax, input, other, "fmax")


def fmin(input, other):
    """Elementwise minimum ignoring NaN (see ``fmax``)."""
    return _nan_ignoring(FMin, input, other, "fmin")


# ----------------------------------------------------------------------------------------------
# Queries: not differentiable, bool results
# ----------------------------------------------------------------------------------------------
def _bool_of(input, fn):
    a = input._array
    return Tensor._wrap(fn(backend.xp_of(a), a))


def isposinf(input):
    """True where ``input`` is +inf (never for integers)."""
    return _bool_of(input, lambda xp, a: xp.isposinf(a) if a.dtype.kind == "f"
                    else xp.zeros(a.shape, dtype=bool))


def isneginf(input):
    """True where ``input`` is -inf (never for integers)."""
    return _bool_of(input, lambda xp, a: xp.isneginf(a) if a.dtype.kind == "f"
                    else xp.zeros(a.shape, dtype=bool))


def isreal(input):
    """True where the imaginary part is 0: everywhere, minigrad's tensors being real."""
    return _bool_of(input, lambda xp, a: xp.ones(a.shape, dtype=bool))


def real(input):
    """The real part: for a real tensor, the tensor itself (as PyTorch)."""
    return input


def imag(input):
    """The imaginary part: refused for real tensors (all of minigrad's), as PyTorch."""
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


class Angle(Function):
    """The argument of a real number: pi for x < 0, 0 for x >= 0 (and -0.0), NaN for NaN.
    Piecewise constant, so its gradient is 0 (PyTorch's, not g * 0, which is NaN for NaN g)."""
    def forward(self, a):
        xp = backend.xp_of(a)
        out = xp.where(a < 0, math.pi, 0.0).astype(a.dtype)
        return xp.where(xp.isnan(a), a, out)

    def backward(self, g):
        return Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))


def angle(input):
    """The argument (phase) of each element in radians; integers and bools give the default
    float dtype.  See ``Angle``."""
    if input._array.dtype.kind in "biu":
        input = cast(input, dtypes.default_float().np)
    return Angle.apply(input)


# ----------------------------------------------------------------------------------------------
# fill, detach
# ----------------------------------------------------------------------------------------------
class Fill(Function):
    """out = a tensor shaped like ``a`` holding the 0-d ``value`` everywhere.
    Backward: 0 for ``a`` (its values are all replaced), sum(g) for ``value``."""
    def forward(self, a, value):
        xp = backend.xp_of(a)
        return xp.full(a.shape, value, dtype=a.dtype)

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))
        if self.needs_input_grad[1]:
            gv = sum_to(g, ())
        return ga, gv


def fill(input, value):
    """A new tensor like ``input`` (shape, dtype, device) filled with ``value`` (a number or a
    0-d tensor, converted to input's dtype); the gradient flows to a tensor ``value``."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        value = cast(value, input._array.dtype)
    elif isinstance(value, (bool, int, float, np.number)):
        value = Tensor._wrap(backend.xp_of(input._array).asarray(value,
                                                                 dtype=input._array.dtype))
    else:
        raise TypeError(f"fill(): argument 'value' must be Number or Tensor, not "
                        f"{type(value).__name__}")
    return Fill.apply(input, value)


def fill_(input, value):
    """``input.fill_(value)``: every element of ``input`` set to ``value``, in place."""
    return input.fill_(value)


def detach(input):
    """``input.detach()``: the same memory, out of the graph."""
    return input.detach()


def detach_(input):
    """``input.detach_()``: ``input`` itself, cut out of the graph."""
    return input.detach_()
