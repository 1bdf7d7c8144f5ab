"""Pointwise ops without a gradient: comparisons, logical ops, sign, rounding, nan/inf tests.

Their results are bool or piecewise-constant tensors that never require grad.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from ._util import broadcast_shape, torch_sign


def _no_grad_binary(name, a, b, op):
    like = a if isinstance(a, Tensor) else b
    av = a._array if isinstance(a, Tensor) else a
    bv = b._array if isinstance(b, Tensor) else b
    if isinstance(bv, Tensor) or isinstance(av, Tensor):
        raise TypeError(f"{name}: unsupported operands")
    if hasattr(av, "shape") and hasattr(bv, "shape"):
        broadcast_shape(av.shape, bv.shape, name)
        if like is a and backend.device_of(bv) != like.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {like.device} and {backend.device_of(bv)}!")
    return Tensor._wrap(op(av, bv))


def eq(a, b):
    return _no_grad_binary("eq", a, b, lambda x, y: x == y)


def ne(a, b):
    return _no_grad_binary("ne", a, b, lambda x, y: x != y)


def lt(a, b):
    return _no_grad_binary("lt", a, b, lambda x, y: x < y)


def le(a, b):
    return _no_grad_binary("le", a, b, lambda x, y: x <= y)


def gt(a, b):
    return _no_grad_binary("gt", a, b, lambda x, y: x > y)


def ge(a, b):
    return _no_grad_binary("ge", a, b, lambda x, y: x >= y)


def logical_and(a, b):
    return _no_grad_binary("logical_and", a, b, lambda x, y: backend.xp_of(x).logical_and(x, y))


def logical_or(a, b):
    return _no_grad_binary("logical_or", a, b, lambda x, y: backend.xp_of(x).logical_or(x, y))


def logical_not(a):
    return Tensor._wrap(backend.xp_of(a._array).logical_not(a._array))


def _no_grad_unary(a, fn):
    return Tensor._wrap(fn(backend.xp_of(a._array), a._array))


def sign(a):
    """-1, 0 or 1 by the sign of each element (0 for NaN); a bool tensor is its own sign."""
    if a._array.dtype.kind == "b":
        return _no_grad_unary(a, lambda xp, x: x.copy())
    return _no_grad_unary(a, torch_sign)


def floor(a):
    return _no_grad_unary(a, lambda xp, x: xp.floor(x))


def ceil(a):
    return _no_grad_unary(a, lambda xp, x: xp.ceil(x))


def round(a, decimals=0):
    return _no_grad_unary(a, lambda xp, x: xp.round(x, decimals))


def isnan(a):
    return _no_grad_unary(a, lambda xp, x: xp.isnan(x))


def isinf(a):
    return _no_grad_unary(a, lambda xp, x: xp.isinf(x))


def isfinite(a):
    return _no_grad_unary(a, lambda xp, x: xp.isfinite(x))
