"""Integer and exponent arithmetic with PyTorch's names: ``gcd``, ``lcm`` (and their in-place
forms), ``ldexp`` and ``frexp``.

gcd(a, b) is the largest non-negative integer dividing both (gcd(0, 0) = 0); lcm(a, b) =
|a b| / gcd(a, b) (0 when either is 0).  Both take integer tensors only, broadcast, and have no
gradient.  ldexp(x, e) = x * 2**e (a floating result).  frexp(x) splits a float into
mantissa * 2**exponent with 0.5 <= |mantissa| < 1 (mantissa 0 for 0) and an int32 exponent.
"""
from __future__ import annotations

from .. import _memory_format as mf, backend, dtypes, return_types
from ..autograd import Function
from ..tensor import Tensor
from ._util import broadcast_shape, ieee_errors, not_implemented_for, result_dtype
from .power import pow
from .elementwise import cast, mul
from .inplace import copy_, refuse_self_overlap
from .writes import can_cast_inplace, kind_name

__all__ = ["gcd", "lcm", "gcd_", "lcm_", "ldexp", "ldexp_", "frexp"]

FrexpResult = return_types.make("frexp", ["mantissa", "exponent"])


def _integer_pair(input, other, name):
    """input, other as arrays of their promoted integer dtype (PyTorch refuses the rest)."""
    for position, (label, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{label}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")
    broadcast_shape(tuple(input.shape), tuple(other.shape), name)
    dtype = result_dtype(input, other)
    if dtype.kind not in "iu" or dtype in dtypes.BAREBONES_UNSIGNED:
        raise not_implemented_for(f"{name}_cpu", dtype)
    return input._array.astype(dtype, copy=False), other._array.astype(dtype, copy=False)


def gcd(input, other):
    """Elementwise greatest common divisor of two integer tensors (broadcast); no gradient."""
    a, b = _integer_pair(input, other, "gcd")
    return Tensor._wrap(mf.pointwise_result(_gcd(a, b), a, b))


def _gcd(a, b):
    """PyTorch's gcd kernel on arrays: numpy's, but where a signed type's most negative value
    takes part its |x| wraps to itself and Euclid's steps run in the type (gcd(-128, 6) is -2
    in int8), emulated step by step on the elements concerned."""
    xp = backend.xp_of(a)
    g = xp.gcd(a, b)
    if a.dtype.kind != "i":
        return g
    low = xp.iinfo(a.dtype).min
    odd = (a == low) | (b == low)
    if not bool(odd.any()):
        return g
    x, y = xp.broadcast_arrays(a, b)
    x, y = xp.abs(x[odd]), xp.abs(y[odd])      # (|min| wraps to min, as the C++ abs does)
    while bool((x != 0).any()):
        live = x != 0
        step = xp.where(live, x, 1)
        with ieee_errors():
            x, y = xp.where(live, xp.fmod(y, step), 0), xp.where(live, x, y)
    g = g.copy() if g.shape == odd.shape else xp.broadcast_to(g, odd.shape).copy()
    g[odd] = y
    return g


def lcm(input, other):
    """Elementwise least common multiple |a / gcd(a, b) * b| of two integer tensors, 0 where
    the gcd is; no gradient."""
    a, b = _integer_pair(input, other, "lcm")
    xp = backend.xp_of(a)
    # PyTorch's kernel: C++ promotes int8/int16/uint8 to int (the product then fits, and is
    # cut to the type after the abs); int32 and int64 wrap in their type before it
    wide = xp.int32 if a.dtype.itemsize < 4 else a.dtype
    g = _gcd(a, b)
    zero = g == 0
    with ieee_errors():             # (a / g is exact: g divides a)
        q = a.astype(wide) // xp.where(zero, 1, g).astype(wide)
    out = xp.where(zero, 0, xp.abs(q * b.astype(wide))).astype(a.dtype)
    return Tensor._wrap(mf.pointwise_result(out, a, b))


def _out_shape_first(input, other):
    """PyTorch checks an in-place op's output shape before its kernel's dtypes."""
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        try:
            shape = tuple(broadcast_shape(tuple(input.shape), tuple(other.shape), "op"))
        except RuntimeError:
            return
        if shape != tuple(input.shape):
            raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")
        # and then the cast of the promoted type back into input (int8.gcd_(float): the cast)
        have = result_dtype(input, other)
        if not can_cast_inplace(have, input._array.dtype):
            raise RuntimeError(f"result type {kind_name(have)} can't be cast to the desired "
                               f"output type {kind_name(input._array.dtype)}")


def _write_back(input, result, name):
    if tuple(result.shape) != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    if not can_cast_inplace(result._array.dtype, input._array.dtype):
        raise RuntimeError(f"result type {kind_name(result._array.dtype)} can't be cast to the "
                           f"desired output type {kind_name(input._array.dtype)}")
    return copy_(input, result)


def gcd_(input, other):
    """In-place gcd: ``input`` becomes gcd(input, other); returns ``input``."""
    refuse_self_overlap(input)          # (an expanded input: first, as PyTorch)
    _out_shape_first(input, other)
    return _write_back(input, gcd(input, other), "gcd_")


def lcm_(input, other):
    """In-place lcm: ``input`` becomes lcm(input, other); returns ``input``."""
    refuse_self_overlap(input)
    _out_shape_first(input, other)
    return _write_back(input, lcm(input, other), "lcm_")


def ldexp(input, other):
    """input * 2**other, broadcast; integer operands give the default float dtype.  Built from
    mul and pow, so both operands get gradients (d/dother = result * ln 2)."""
    for position, (label, value) in enumerate((("input", input), ("other", other)), 1):
        if not isinstance(value, Tensor):
            raise TypeError(f"ldexp(): argument '{label}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")
    # As PyTorch: 2**other is computed in other's own dtype when it is floating (a float16
    # exponent gives a float16-rounded power even for float64 input), and an integer exponent
    # in the promoted result dtype (integers promoting to the default float); the product
    # then promotes as mul does (float16 input with int exponents stays float16)
    broadcast_shape(tuple(input.shape), tuple(other.shape), "ldexp")
    dtype = result_dtype(input, other)
    if dtype.kind not in "fcV":
        dtype = dtypes.default_float().np
    elif other._array.dtype.kind == "b" and dtype.kind != "c":
        # (a complex product takes a bool exponent: PyTorch's pow has a complex kernel)
        raise not_implemented_for("ldexp_cpu_exp", other._array.dtype)
    if dtype.kind in "fV" and other._array.dtype.kind in "iu" and \
            input._array.dtype.kind in "fV":
        # (an integer or bool input: PyTorch's input * 2.0 ** other in the default float,
        # where 0 * 2**200 is 0 * inf, NaN)
        # an integer exponent of a real float: the C ldexp, exact scaling (1e30 * 2**-200
        # is 6.2e-31 in float32, 0 * 2**32767 is 0), the exponent read as a C int
        return Ldexp.apply(cast(input, dtype), exponent=other._array.astype("int32"),
                           scale=_integer_power_of_two(other._array))
    if other._array.dtype.kind not in "fcV":
        other = cast(other, dtype)
    elif other.ndim == 0 and dtype.kind != "c" and other._array.dtype != dtype:
        # a 0-d real exponent: PyTorch's power of two is in the wider of its dtype and the
        # result's (a float64 input times 2 ** a float16 200 is finite)
        size = other._array.dtype.itemsize
        if dtype.itemsize >= size:
            other = cast(other, dtype if dtype.itemsize > size else dtypes.float32.np)
    return mul(input, pow(2.0, other))


class Ldexp(Function):
    """x * 2**e for an integer ``exponent`` e (a constant: integers take no gradient).

    Backward: g * ``scale``, PyTorch's derivative: 2**e computed as an integer power in e's
    own integer type (so 0 for a negative e or one past the type's bits, as PyTorch's
    ``pow(2, other)`` of an integer tensor gives), a constant factor: differentiable to any
    order."""
    def forward(self, x, *, exponent, scale):
        xp = backend.xp_of(x)
        self.scale = scale
        with xp.errstate(over="ignore", under="ignore"):
            out = xp.ldexp(x, exponent)
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        return mul(g, Tensor._wrap(self.scale))


def _integer_power_of_two(e):
    """2**e as PyTorch's integer pow computes it in e's dtype: two's complement wrapping
    (1 << (bits - 1) is the type's minimum for a signed type), 0 for e < 0 or e >= bits."""
    xp = backend.xp_of(e)
    bits = e.dtype.itemsize * 8
    inside = (e >= 0) & (e < bits)
    shift = xp.where(inside, e, 0).astype(e.dtype)
    return xp.where(inside, xp.left_shift(xp.ones_like(e), shift), 0).astype(e.dtype)


def ldexp_(input, other):
    """In-place ldexp: ``input`` becomes input * 2**other; returns ``input``."""
    if isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError(f"ldexp_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(other).__name__}")
    if isinstance(input, Tensor) and input._array.dtype.kind in "biu":
        # (PyTorch's Python-level check, before the shapes)
        raise RuntimeError(f"ldexp can't be cast to the desired output type "
                           f"{kind_name(input._array.dtype)}")
    _out_shape_first(input, other)
    return _write_back(input, ldexp(input, other), "ldexp_")


class Frexp(Function):
    """mantissa = x / 2**e with e = the exponent of x (held fixed): its gradient is
    g / 2**e, a piecewise-constant scale."""
    def forward(self, x):
        xp = backend.xp_of(x)
        mantissa, exponent = xp.frexp(x)
        self.scale = xp.ldexp(xp.ones_like(x), -exponent)
        self.exponent = exponent
        return mantissa

    def backward(self, g):
        return mul(g, Tensor._wrap(self.scale.astype(g._array.dtype, copy=False)))


def frexp(input):
    """(mantissa, exponent) with input = mantissa * 2**exponent, 0.5 <= |mantissa| < 1 (both 0
    for 0; inf and NaN keep themselves with exponent 0); the exponent is int32.  Floating
    tensors only."""
    if not isinstance(input, Tensor):
        raise TypeError(f"frexp(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input._array.dtype.kind not in "fV":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    mantissa = Frexp.apply(input)
    exponent = backend.xp_of(input._array).frexp(input._array)[1].astype("int32")
    return FrexpResult(mantissa, Tensor._wrap(exponent))
