"""Powers, pointwise: ``pow`` (``a ** b``, either a tensor or a number), as PyTorch's kernels
compute it: its scalar-exponent one (``ScalarPow``: 0.5 is sqrt), its tensor-exponent one
(``_c_pow``; C's cpow for complex numbers), a bool exponent, and integer powers with negative
exponents; ``check_integer_exponent`` holds PyTorch's refusals.

Derivatives, as the backwards compute them (conjugated for complex inputs)::

    d(a^b)/da = b a^(b-1)          d(a^b)/db = a^b log a
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._shown_edges import shown_inputs
from ..tensor import Tensor
from ._util import (FLOAT32_64 as _FLOATS, broadcast_shape, check_python_int, ieee, ieee_errors,
                    not_implemented_for)
from .elementwise import _binary, _scalar_or_tensor, mul, refuse_array, sub
from .plumbing import conj_of, sum_to
from .pointwise_select import _one_walk, where
from .elementary_functions import _scalar_tail_rsqrt, log


def _c_pow(xp, a, b):
    """a ** b as C's pow, PyTorch's tensor-exponent kernel: numpy takes an exponent of 0.5
    that it reads with stride 0 (a scalar, a broadcast axis) as sqrt, whose (-inf) ** 0.5
    is NaN (pow's is inf) and (-0) ** 0.5 is -0 (pow's +0)."""
    out = xp.power(a, b)
    if a.dtype.kind == "f" and b.size and (b == 0.5).any():
        half = b == 0.5
        out = xp.where(half & (a == 0), 0.0, xp.where(half & xp.isneginf(a), xp.inf, out))
        out = out.astype(a.dtype, copy=False)
    return out


# the dtypes whose x ** 2 is numpy's square (x * x, rounded once, in the dtype's own loop)
# (not float16: numpy's power and PyTorch's kernel give a NaN of other bits than square's)
_SQUARES = frozenset(np.dtype(d) for d in ("float32", "float64", "int8", "int16", "int32",
                                           "int64", "uint8"))


# the number exponents that PyTorch's scalar-exponent kernel computes without cpow, and how
_COMPLEX_SCALAR_POWERS = {
    0.5: lambda xp, a: xp.sqrt(a),
    -0.5: lambda xp, a: 1 / xp.sqrt(a),
    2: lambda xp, a: a * a,
    3: lambda xp, a: a * a * a,
    -1: lambda xp, a: 1 / a,
    -2: lambda xp, a: 1 / (a * a),
}


def _complex_pow(xp, a, b, number_exponent=False):
    """a ** b for complex arrays as PyTorch's kernel, C's cpow: exp(b log a). numpy's power
    agrees for finite operands and results but has cases of its own at a = 0, at inf or NaN
    and past the float range (integer exponents are repeated products there), where cpow
    gives NaN for 0 ** 0 and inf ** 0 (log 0 is -inf), inf + NaN i for 0 ** -1 and 0 for
    inf ** -1; there the formula is used. PyTorch's kernel for a number exponent
    (``number_exponent``) computes the exponents of ``_COMPLEX_SCALAR_POWERS`` with
    products, square roots and reciprocals instead, and x ** 0 is 1, x ** 1 is x."""
    if number_exponent:
        e = b.item()
        with np.errstate(all="ignore"):
            if e in _COMPLEX_SCALAR_POWERS:
                return _COMPLEX_SCALAR_POWERS[e](xp, a).astype(a.dtype, copy=False)
            out = a ** b
        special = ((a == 0) | ~xp.isfinite(a) | ~xp.isfinite(out)) & (b != 0) & (b != 1)
    else:
        out = a ** b
        special = (a == 0) | ~xp.isfinite(a) | ~xp.isfinite(b) | ~xp.isfinite(out)
    if special.any():
        with np.errstate(all="ignore"):
            cpow = xp.exp(b * xp.log(a)).astype(out.dtype, copy=False)
        out = xp.where(special, cpow, out)
    return out


class Pow(Function):
    complex_ok = True
    saved_names = ("self", "exponent", "result")
    number_base = False       # number ** tensor: PyTorch gives it row-major, whatever b's layout

    @ieee
    def forward(self, a, b):
        if a.dtype.kind == "c":
            out = _complex_pow(backend.xp_of(a), a, b)
        else:
            out = _c_pow(backend.xp_of(a), a, _one_walk(b, a))
        # laid out as PyTorch's: after a (or row-major for a number base)
        if self.number_base:
            out = out if out.flags.c_contiguous else out.copy()
        else:
            out = mf.pointwise_result(out, a, b)
        self.save_for_backward(a, b, out)
        return out

    @ieee
    def backward(self, g):
        # d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log(a)
        a, b, out = self.saved_tensors          # out: None for ScalarPow (not needed)
        ga = gb = None
        if any(v is not None and v._array.dtype.kind == "c" for v in (a, b, out)):
            # the principal branch: conj(b a^(b-1)) and conj(a^b log a); a zero exponent
            # gives a zero gradient for a, as for real tensors
            if self.needs_input_grad[0]:
                ga = where(b._array == 0, 0.0,
                           mul(g, conj_of(mul(b, pow(a, self._exponent_less_one(b))))))
                ga = sum_to(ga, a.shape)
            if self.needs_input_grad[1]:
                gb = mul(g, where((a._array == 0) & (b._array.real >= 0), 0.0,
                                  conj_of(mul(out, log(a)))))
                gb = sum_to(gb, b.shape)
            return ga, gb
        if self.needs_input_grad[0]:
            ga = self._base_grad(g, a, b)
        if self.needs_input_grad[1]:
            # PyTorch's g * where(a == 0 & b >= 0, 0, a^b log a): log(a) is -inf at a = +-0
            # (so 0 ** -1 gives -inf) and NaN below; g multiplies after the choice and log(a)
            # is taken unmasked, so that second derivatives there are PyTorch's (0 from the
            # upstream, NaN = 0 * inf from a's side)
            gb = mul(g, where((a._array == 0) & (b._array >= 0), 0.0, mul(out, log(a))))
            gb = sum_to(gb, b.shape)
        return ga, gb

    def _exponent_less_one(self, b):
        """b - 1, the exponent of the base's gradient (a tensor, so pow's tensor kernel)."""
        return sub(b, 1)

    def _base_grad(self, g, a, b):
        """g b a^(b-1), PyTorch's formula with its pow (1 at NaN ** 0, so the second
        derivative of x ** 2 is 2 everywhere); exactly 0 where b = 0 (a^(b-1) may be inf)."""
        return sum_to(where(b._array == 0, 0.0, mul(g, mul(b, pow(a, sub(b, 1))))), a.shape)


class ScalarPow(Pow):
    """a ** e for a Python number e: PyTorch's scalar-exponent kernel, which takes e = 0.5
    as sqrt and e = -0.5 as rsqrt (NaN at -inf, where pow gives inf and 0; not for float16,
    bfloat16 yes), and its
    backward: a zero gradient without a graph for e = 0, else g e a^(e-1) with that same
    kernel (e - 1 a Python number again)."""

    saved_names = ("self", None, None)
    saved_fields = {"exponent": "exponent"}

    _node_name = "PowBackward0"
    next_functions = shown_inputs(0)        # the number has no edge in PyTorch's node

    @ieee
    def forward(self, a, b, native=None):
        # (``native``: a bfloat16 a as it is, not widened to float32 by Function.apply)
        e = b.item()
        if native is not None:
            out = _bfloat16_power(a, e)
            self.save_for_backward(a, b, None)
            return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))
        if (e == 0.5 or e == -0.5) and a.dtype.kind in "fV" and a.dtype != np.float16:
            # (float16's kernel has no such case: C's pow there, inf at -inf, +0 at -0)
            root = backend.xp_of(a).sqrt(a)
            out = root if e > 0 else (1 / root).astype(a.dtype, copy=False)
            self.save_for_backward(a, b, None)
            return out
        if a.dtype.kind == "c":
            out = _complex_pow(backend.xp_of(a), a, b, number_exponent=True)
        elif (e == 3 or e == -2) and a.dtype in _FLOATS:
            # PyTorch's scalar kernel: x * x * x and 1 / (x * x), its roundings (C's pow of a
            # negative base was 17x slower here too: 170 ms for 2048x1024 float32)
            out = a * a
            if not a.ndim:      # (a 0-d product is a numpy scalar, which takes no out=)
                out = backend.xp_of(a).asarray(out)
            if e == 3:
                out *= a
            else:
                backend.xp_of(a).divide(1, out, out=out)
        elif e == 2 and a.dtype in _SQUARES:
            # PyTorch's scalar kernel: x * x, one rounding (numpy's power of a 0-d exponent
            # array takes its general loop: 3.5x the time of square)
            xp = backend.xp_of(a)
            out = xp.square(a)
            if not a.ndim:      # (a 0-d square is a numpy scalar)
                out = xp.asarray(out)
        else:
            out = a ** b    # numpy's operator
        if not a.flags.c_contiguous:
            out = mf.pointwise_layout(out, (a,))     # a's layout (the exponent is no operand)
        # the result is not kept: the exponent takes no gradient, and a pow_ written later
        # over (a view of) it must not make backward refuse, as in PyTorch
        self.save_for_backward(a, b, None)
        return out

    def _exponent_less_one(self, b):
        """e - 1 as a number: the gradient's power uses the scalar kernel too (for a complex
        base, 0 ** 0 is 1 there, NaN in the tensor kernel)."""
        return b._array.item() - 1

    def _base_grad(self, g, a, b):
        e = b._array.item()
        if e == 0:
            return Tensor._wrap(backend.xp_of(a._array).zeros(a.shape, g._array.dtype))
        return sum_to(mul(g, mul(b, pow(a, e - 1))), a.shape)


def _bfloat16_power(a, e):
    """a ** e for a bfloat16 array and e of 3, -2 or -0.5, as PyTorch's scalar kernel: x * x
    rounded to bfloat16, then times x (3) or its reciprocal (-2), rounded again; -0.5 the
    reciprocal of the float32 root rounded once (its one-at-a-time elements rounding the root
    first, as rsqrt's)."""
    f32 = np.dtype("float32")
    wide = dtypes.astype(a, f32)
    if e == -0.5:
        out = np.asarray(dtypes.astype(np.float32(1) / np.sqrt(wide), a.dtype))
        _scalar_tail_rsqrt(a, out, lanes=64)
        return out
    square = dtypes.astype(dtypes.astype(wide * wide, a.dtype), f32)
    return np.asarray(dtypes.astype(square * wide if e == 3 else np.float32(1) / square,
                                    a.dtype))


class BoolExponentPow(Function):
    """a ** b for a bool exponent b (promoted to a's dtype): the value of Pow; its backward
    refuses as PyTorch's does (it computes b - 1, a subtraction PyTorch forbids on bools)."""
    def forward(self, a, b):
        with ieee_errors():
            return a ** b

    def backward(self, g):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
def check_integer_exponent(a, b):
    """PyTorch's refusals of an integer (or bool) tensor ``a`` to the power of an integer
    number ``b`` (a numpy integer too): a negative one, or one past a's integer type; and of a
    float16 or bfloat16 ``a`` to a power past its range (the number is converted to it); a
    Python int past 64 bits is PyTorch's OverflowError first."""
    check_python_int(a)
    check_python_int(b)
    if isinstance(a, Tensor) and dtypes.reduced_float(a._array.dtype) and \
            isinstance(b, (int, float)) and not isinstance(b, bool):
        dtypes.number_for(b, a._array.dtype, half_checked=True)
    if not isinstance(a, Tensor) or a._array.dtype.kind not in "biu" or \
            not isinstance(b, (int, np.integer)) or isinstance(b, (bool, np.bool_)):
        return
    b = int(b)
    if b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if a._array.dtype.kind in "iu":
        # the exponent is converted to the base's integer type first, and must fit
        info = np.iinfo(a._array.dtype)
        if not info.min <= b <= info.max:
            c_name = {"int32": "int"}.get(a._array.dtype.name, f"{a._array.dtype.name}_t")
            raise RuntimeError(f"value cannot be converted to type {c_name} without overflow")


def pow(input, exponent):
    """input ** exponent (either may be a Python number, not both)."""
    a, b = input, exponent
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        refuse_array("pow", a, "self", 1)
        refuse_array("pow", b, "exponent")
    check_integer_exponent(a, b)
    if isinstance(b, Tensor) and b._array.dtype.kind in "iu":
        like = b
        a_t = a if isinstance(a, Tensor) else _scalar_or_tensor(a, b, "pow")
        dtype = dtypes.result_type(a_t._array, b._array)
        if dtype.kind in "iu":
            xp = backend.xp_of(like._array)
            # in the promoted dtype (a uint8 base wraps -1 to 255, as PyTorch)
            bv = b._array.astype(dtype, copy=False)
            if bool((bv < 0).any()):
                return _integer_pow_negative(xp, a_t._array.astype(dtype, copy=False), bv,
                                             dtype)
    if isinstance(a, bool) and isinstance(b, Tensor) and b._array.dtype.kind == "b":
        raise not_implemented_for("pow", b._array.dtype)       # True ** bool tensor: bool
    if isinstance(a, Tensor) and a._array.dtype.kind == "b" and \
            (isinstance(b, bool) or (isinstance(b, Tensor) and b._array.dtype.kind == "b")):
        # a bool result: PyTorch's pow kernel has no bool version; a Python bool exponent is
        # done without it (a ** True = a, a ** False = True)
        if isinstance(b, Tensor):
            broadcast_shape(a._array.shape, b._array.shape, "pow")    # (the sizes first)
            raise not_implemented_for("pow", a._array.dtype)
        return Tensor._wrap(backend.xp_of(a._array).logical_or(a._array, not b))
    if isinstance(b, Tensor) and b._array.dtype.kind == "b" and isinstance(a, Tensor) and \
            a._array.dtype.kind in "fV":
        return _binary(BoolExponentPow, a, b, "pow")
    if isinstance(a, Tensor) and isinstance(b, (bool, int, float, complex, np.number, np.bool_)):
        if isinstance(b, (int, float, np.integer, np.floating)) and b in (3, -2, -0.5) and \
                not isinstance(b, (bool, np.bool_)) and a._array.dtype == dtypes.BFLOAT16 and \
                type(a._array) is np.ndarray:
            # (PyTorch's bfloat16 kernel for these: products and roots in bfloat16 steps,
            # ``_bfloat16_power``, not the float32 power other exponents round once)
            out = ScalarPow.apply(a, _scalar_or_tensor(b, a, "pow"), native=dtypes.BFLOAT16)
        else:
            out = _binary(ScalarPow, a, b, "pow")
        if out.grad_fn is not None:     # the exponent as given, as PyTorch's node keeps it
            out.grad_fn.exponent = b.item() if isinstance(b, np.generic) else b
        return out
    # PyTorch's nodes: PowBackward1 for a tensor exponent, PowBackward2 for a number's power
    return _binary(_NUMBER_BASE_POW if not isinstance(a, Tensor) else _TENSOR_POW, a, b, "pow")


_TENSOR_POW, _NUMBER_BASE_POW = Pow.renamed("PowBackward1"), Pow.renamed("PowBackward2")
_NUMBER_BASE_POW.number_base = True
_NUMBER_BASE_POW.next_functions = shown_inputs(1)     # (the number base: no edge)


def _integer_pow_negative(xp, av, bv, dtype):
    """Integer ** integer with negative exponents, as PyTorch: 1 ** -n = 1, (-1) ** -n = +-1,
    any other base ** -n = 0 (0 ** -n too)."""
    broadcast_shape(tuple(av.shape), tuple(bv.shape), "pow")
    negative = bv < 0
    with ieee_errors():
        out = xp.power(av, xp.where(negative, 0, bv).astype(dtype, copy=False))
    odd = (bv % 2) != 0
    reciprocal = xp.where(av == 1, 1, xp.where(av == -1, xp.where(odd, -1, 1), 0))
    return Tensor._wrap(xp.asarray(xp.where(negative, reciprocal, out), dtype=dtype))
