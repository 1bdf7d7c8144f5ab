"""More pointwise ops with PyTorch's names and dtype rules: ``copysign``, ``hypot``,
``logaddexp``, ``logaddexp2``, ``xlogy``, ``special.xlog1py``, ``special.entr``,
``float_power``, ``floor_divide``, ``true_divide``, ``deg2rad``, ``rad2deg``, ``heaviside``,
``nextafter``, ``signbit`` and ``positive`` (``logit``, ``sinc`` and ``expm1`` are in
``pointwise_smooth.py``).

Every input broadcasts like NumPy.  The differentiable ones are either compositions of
existing ops or a ``Function`` whose backward is written with differentiable ops, so their
second derivatives work too.  ``heaviside`` and ``signbit`` are step functions (no gradient,
as in PyTorch); ``nextafter`` passes its gradient through to ``input``, as PyTorch does.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import broadcast_shape, ieee, no_complex_kernel, not_implemented_for, result_dtype
from .elementary_functions import exp, log, log1p, sigmoid
from .power import pow
from . import division
from .elementwise import _scalar_or_tensor, add, cast, mul, neg, sub
from .division import div
from .pointwise_select import where
from .plumbing import sum_to

__all__ = ["copysign", "hypot", "logaddexp", "logaddexp2", "xlogy", "xlog1py", "entr",
           "float_power", "floor_divide", "true_divide", "deg2rad", "rad2deg", "heaviside",
           "nextafter", "signbit", "positive"]

_LN2 = math.log(2.0)


def _tensors(a, b, name):
    """``a`` and ``b`` as tensors (a Python number becomes a 0-d tensor beside the other)."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(a).__name__}")
    if not isinstance(a, Tensor):
        a = _scalar_or_tensor(a, b, name)
    if not isinstance(b, Tensor):
        b = _scalar_or_tensor(b, a, name)
    broadcast_shape(tuple(a.shape), tuple(b.shape), name)
    return a, b


def _require_tensor_other(other, name):
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")


def _float_pair(a, b, name):
    """Promote ``a``, ``b`` together; integers and bools go to the default float dtype."""
    ta, tb = _tensors(a, b, name)
    dtype = result_dtype(ta, tb)
    if dtype.kind == "c":               # (PyTorch's kernel names the promoted dtype)
        raise not_implemented_for(f"{name}_cpu", dtype)
    if dtype.kind not in "fV":
        dtype = dtypes.default_float().np
    # a Python number keeps its value in that dtype (xlogy(uint8_tensor, -2) takes log(-2),
    # not the log of the -2 wrapped to uint8's 254)
    if not isinstance(a, Tensor):
        tb = cast(tb, dtype)
        return _scalar_or_tensor(a, tb, name), tb
    ta = cast(ta, dtype)
    return ta, (cast(tb, dtype) if isinstance(b, Tensor) else _scalar_or_tensor(b, ta, name))


def _floating_only_pair(a, b, name, kernel):
    """Promote ``a``, ``b``; PyTorch's NotImplementedError when the result is not floating."""
    _require_tensor_other(b, name)
    a, b = _tensors(a, b, name)
    dtype = result_dtype(a, b)
    if dtype.kind not in "fV":
        raise not_implemented_for(kernel, dtype)
    return cast(a, dtype), cast(b, dtype)


def _floating(a):
    return a if a._array.dtype.kind in "fcV" else cast(a, dtypes.default_float().np)


def _real_only(input, name):
    if input._array.dtype.kind == "c":
        raise RuntimeError(f"{name} is not supported for complex tensors.")


# ----------------------------------------------------------------------------------------------
# Sign manipulation
# ----------------------------------------------------------------------------------------------
class Copysign(Function):
    """|a| with the sign bit of b (so -0.0 counts as negative).

    Backward, as PyTorch's: g * out / a for ``a`` (0 where a is 0, so NaN where a is NaN or
    infinite), zeros for ``b``.  Under ``create_graph`` the ratio out / a is built from a and
    the output, then zeroed where a is 0, so that its own derivative there is PyTorch's
    0 / 0 = NaN."""
    saved_names = ("self", "result")

    @ieee
    def forward(self, a, b):
        xp = backend.xp_of(a)
        out = xp.copysign(a, b)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.ratio = xp.where(a == 0, 0, out / a).astype(out.dtype, copy=False)
        self.shapes = a.shape, b.shape
        out = mf.pointwise_result(out, a, b)
        self.save_for_backward(a, out)
        return out

    @ieee
    def backward(self, g):
        xp = backend.xp_of(g._array)
        ratio = Tensor._wrap(self.ratio)
        if self.needs_input_grad[0] and is_grad_enabled():
            a, out = self.saved_tensors
            if a.requires_grad:
                ratio = where(Tensor._wrap(a._array == 0), 0.0, div(out, a))
        return (sum_to(mul(g, ratio), self.shapes[0])
                if self.needs_input_grad[0] else None,
                Tensor._wrap(xp.zeros(self.shapes[1], g._array.dtype))
                if self.needs_input_grad[1] else None)


def copysign(input, other):
    """|input| with the sign bit of ``other`` (so -0.0 counts as negative); a float result."""
    a, b = _float_pair(input, other, "copysign")
    # PyTorch's node: CopysignBackward0 for a tensor other, CopysignBackward1 for a number
    node = Copysign if isinstance(other, Tensor) else Copysign.renamed("CopysignBackward1")
    return node.apply(a, b)


def signbit(input):
    """True where the sign bit is set (negative numbers, -0.0, negative NaN); a bool tensor."""
    if input._array.dtype.kind == "c":
        raise NotImplementedError("signbit is not implemented for complex tensors.")
    xp = backend.xp_of(input._array)
    return Tensor._wrap(xp.signbit(input._array))


def positive(input):
    """``input`` itself (``+x``); refused for bool tensors, as in PyTorch."""
    if input._array.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


# ----------------------------------------------------------------------------------------------
# hypot, logaddexp, logaddexp2
# ----------------------------------------------------------------------------------------------
class Hypot(Function):
    """sqrt(a^2 + b^2) without overflow; d/da = a / hypot(a, b), d/db = b / hypot(a, b)."""
    @ieee
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return mf.pointwise_result(backend.xp_of(a).hypot(a, b), a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        h = Hypot.apply(a, b)
        return (sum_to(div(mul(g, a), h), a.shape) if self.needs_input_grad[0] else None,
                sum_to(div(mul(g, b), h), b.shape) if self.needs_input_grad[1] else None)


def hypot(input, other):
    """sqrt(input^2 + other^2), elementwise, floating dtypes only."""
    a, b = _floating_only_pair(input, other, "hypot", "hypot_cpu")
    return Hypot.apply(a, b)


class LogAddExp(Function):
    """log(b^a + b^c) for base b = e (``scale`` = 1) or 2 (``scale`` = ln 2), computed stably.

    d/da = sigmoid(scale (a - c)), d/dc = sigmoid(scale (c - a))."""
    _node_name = "LogaddexpBackward0"       # PyTorch's spelling (logaddexp2's too)

    @ieee
    def forward(self, a, b, *, base2):
        self.save_for_backward(a, b)
        self.scale = _LN2 if base2 else 1.0
        xp = backend.xp_of(a)
        return mf.pointwise_result(xp.logaddexp2(a, b) if base2 else xp.logaddexp(a, b), a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        k = self.scale
        return (sum_to(mul(g, sigmoid(mul(sub(a, b), k))), a.shape)
                if self.needs_input_grad[0] else None,
                sum_to(mul(g, sigmoid(mul(sub(b, a), k))), b.shape)
                if self.needs_input_grad[1] else None)


def logaddexp(input, other):
    """log(exp(input) + exp(other)), without overflow; floating or complex dtypes (for complex
    numbers the principal log, shifted by the larger real part)."""
    if _complex_pair(input, other):
        a, b = _tensors(input, other, "logaddexp")
        dtype = result_dtype(a, b)
        a, b = cast(a, dtype), cast(b, dtype)
        # as PyTorch: the operand with the larger real part plus log1p(exp(the other - it)),
        # so only a non-positive real part is exponentiated, and the larger operand's
        # imaginary part is kept as it is (not wrapped into (-pi, pi])
        first = a._array.real >= b._array.real
        big, small = where(first, a, b), where(first, b, a)
        return add(big, log1p(exp(sub(small, big))))
    a, b = _floating_only_pair(input, other, "logaddexp", "logaddexp_cpu")
    return LogAddExp.apply(a, b, base2=False)


def _complex_pair(a, b):
    return any(isinstance(t, Tensor) and t._array.dtype.kind == "c" for t in (a, b))


def logaddexp2(input, other):
    """log2(2^input + 2^other), without overflow; floating dtypes only."""
    a, b = _floating_only_pair(input, other, "logaddexp2", "logaddexp2_cpu")
    return rename_node(LogAddExp.apply(a, b, base2=True), "Logaddexp2Backward0")


# ----------------------------------------------------------------------------------------------
# x * log(y) families
# ----------------------------------------------------------------------------------------------
class XLogY(Function):
    """x * f(y) with f = log (``shift`` 0) or log1p (``shift`` 1); 0 where x = 0 unless y is
    NaN.  d/dx = f(y) (0 where x = 0 and y <= -shift), d/dy = x / (y + shift)."""
    _node_name = "XlogyBackward0"                   # PyTorch's node

    @ieee
    def forward(self, x, y, *, shift, dtype=None):
        self.save_for_backward(x, y)
        self.shift = shift
        xp = backend.xp_of(x)
        fy = xp.log1p(y) if shift else xp.log(y)
        if dtype is not None and dtype != x.dtype:
            # bfloat16 arrives in float32: PyTorch's kernel rounds log(y) to bfloat16 before
            # the product (rounded again on the way out)
            fy = fy.astype(dtype).astype(x.dtype)
        out = xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), x.dtype), x * fy).astype(x.dtype)
        return mf.pointwise_result(out, x, y)

    @ieee
    def backward(self, g):
        x, y = self.saved_tensors
        gx = gy = None
        if self.needs_input_grad[0]:
            undefined = (x._array == 0) & (y._array <= -self.shift)
            safe_y = where(undefined, 1.0 - self.shift, y)
            fy = log1p(safe_y) if self.shift else log(safe_y)
            # PyTorch's g * f(y) is itself an xlogy: 0 where g is 0 (unless y is NaN), so a
            # zero gradient stays 0 where f(y) is NaN or infinite (y <= -shift); f(y) is
            # masked rather than the product, so that the result stays linear in g (its
            # derivative in g, what forward mode takes, is f(y) at g = 0 too)
            xp = backend.xp_of(g._array)
            silent = undefined | ((g._array == 0) & ~xp.isnan(y._array) &
                                  ~xp.isfinite(fy._array))
            gx = sum_to(mul(g, where(silent, 0.0, fy)), x.shape)
        if self.needs_input_grad[1]:
            gy = sum_to(div(mul(g, x), add(y, self.shift) if self.shift else y), y.shape)
        return gx, gy


def xlogy(input, other):
    """input * log(other), with 0 where input = 0 (unless other is NaN); a float result.
    Either argument may be a Python number."""
    x, y = _float_pair(input, other, "xlogy")
    # PyTorch's node: XlogyBackward0 for two tensors, 1 for a number input, 2 for a number other
    node = 0 if isinstance(input, Tensor) and isinstance(other, Tensor) else \
        1 if isinstance(other, Tensor) else 2
    return XLogY.renamed(f"XlogyBackward{node}").apply(x, y, shift=0, dtype=_rounded(x))


def xlog1py(input, other):
    """input * log1p(other), with 0 where input = 0 (unless other is NaN); a float result."""
    x, y = _float_pair(input, other, "xlog1py")
    return XLogY.renamed("SpecialXlog1PyBackward0").apply(x, y, shift=1, dtype=_rounded(x))


def _rounded(x):
    """The dtype f(y) is rounded to before the product: bfloat16's (as PyTorch's kernel rounds
    it), else None."""
    return x._array.dtype if x._array.dtype == dtypes.bfloat16.np else None


class Entr(Function):
    """-x log x for x > 0, 0 at 0, -inf for x < 0 (NaN stays).

    Backward, PyTorch's formula everywhere: -(1 + log x), so inf at 0 and NaN below.

    A bfloat16 input arrives in float32; its log is rounded to bfloat16 before the product,
    as PyTorch's scalar bfloat16 kernel rounds it."""
    _node_name = "SpecialEntrBackward0"             # PyTorch's node

    @ieee
    def forward(self, x, *, dtype):
        self.save_for_backward(x)
        xp = backend.xp_of(x)
        positive_ = x > 0
        safe = xp.where(positive_, x, 1)
        log_x = xp.log(safe)
        if dtype != x.dtype:
            log_x = log_x.astype(dtype).astype(x.dtype)
        out = xp.where(positive_, -safe * log_x, 0).astype(x.dtype, copy=False)
        out = xp.where(x < 0, -xp.inf, out).astype(x.dtype, copy=False)
        return xp.where(xp.isnan(x), x, out)

    def backward(self, g):
        x, = self.saved_tensors
        return mul(g, neg(add(log(x), 1.0)))


def entr(input):
    """The elementwise entropy term: -x log x for x > 0, 0 at 0, -inf for x < 0 (NaN stays)."""
    no_complex_kernel("entr_cpu", input)
    x = _floating(input)
    return Entr.apply(x, dtype=x._array.dtype)


# ----------------------------------------------------------------------------------------------
# Powers and division
# ----------------------------------------------------------------------------------------------
def float_power(input, exponent):
    """input ** exponent computed in double precision: the result is float64 (complex128
    when either operand is complex)."""
    a, b = _tensors(input, exponent, "float_power")
    wide = np.dtype(np.complex128 if "c" in (a._array.dtype.kind, b._array.dtype.kind)
                    else np.float64)
    # a Python number keeps its value in the wide dtype (uint8 ** -1 divides by 2, not by the
    # -1 wrapped to uint8's 255)
    # (as a number, so that pow's scalar paths apply: x ** 0.5 is sqrt, -0.0 stays)
    if not isinstance(exponent, Tensor):
        return pow(cast(a, wide), exponent.item() if isinstance(exponent, np.generic)
                   else exponent)
    if not isinstance(input, Tensor):
        return pow(input.item() if isinstance(input, np.generic) else input, cast(b, wide))
    return pow(cast(a, wide), cast(b, wide))


def true_divide(dividend, divisor):
    """dividend / divisor with true (float) division: ``div`` without a rounding mode."""
    return div(dividend, divisor)


def floor_divide(input, other):
    """floor(input / other), in the promoted dtype (integers stay integers); no derivative
    (``division.floor_divide``)."""
    return division.floor_divide(input, other)


def deg2rad(input):
    """Degrees to radians (x * pi / 180); integers and bools give the default float dtype."""
    _real_only(input, "deg2rad")
    return rename_node(mul(_floating(input), math.pi / 180.0), "Deg2RadBackward0")


def rad2deg(input):
    """Radians to degrees (x * 180 / pi); integers and bools give the default float dtype."""
    _real_only(input, "rad2deg")
    return rename_node(mul(_floating(input), 180.0 / math.pi), "Rad2DegBackward0")


# ----------------------------------------------------------------------------------------------
# Step functions
# ----------------------------------------------------------------------------------------------
def heaviside(input, values):
    """The Heaviside step: 0 where input < 0, ``values`` where input = 0, 1 where input > 0
    (NaN gives 0).  ``input`` and ``values`` need one dtype; no gradient."""
    _require_tensor_other(values, "heaviside")
    if input._array.dtype.kind == "c" or values._array.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if input._array.dtype != values._array.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    broadcast_shape(tuple(input.shape), tuple(values.shape), "heaviside")
    dtypes.refuse_unsigned("heaviside_cpu", input._array.dtype)
    xp = backend.xp_of(input._array)
    x, v = input._array, values._array
    out = xp.where(x == 0, v, (x > 0).astype(x.dtype))
    out = mf.pointwise_result(out.astype(x.dtype, copy=False), x, v)
    return Heaviside.apply(input, values, value=out)


class Heaviside(Function):
    """heaviside's result (computed beforehand): as PyTorch's, it requires grad when an
    operand does, and a backward through it is refused."""
    _node_name = "torch::autograd::NotImplemented"

    def forward(self, a, b, *, value):
        return value

    def backward(self, g):
        raise RuntimeError("derivative for aten::heaviside is not implemented")


class NextAfter(Function):
    """The neighbouring float of ``a`` towards ``b``.  PyTorch treats the one-ulp step as
    nothing: the gradient passes to ``a`` unchanged where a != b (NaN included) and is 0 where
    a == b (the result is then ``b``); ``b`` gets zeros."""
    def forward(self, a, b):
        xp = backend.xp_of(a)
        self.moved = xp.not_equal(a, b)
        self.shapes = (a.shape, b.shape)
        return mf.pointwise_result(_next_after(a, b), a, b)

    def backward(self, g):
        a_shape, b_shape = self.shapes
        xp = backend.xp_of(g._array)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(mul(g, Tensor._wrap(self.moved.astype(g._array.dtype))), a_shape)
        if self.needs_input_grad[1]:
            gb = Tensor._wrap(xp.zeros(b_shape, g._array.dtype))
        return ga, gb


def nextafter(input, other):
    """The next representable float after ``input`` towards ``other`` (see ``NextAfter`` for
    its gradient)."""
    a, b = _floating_only_pair(input, other, "nextafter", "nextafter_cpu")
    if a._requires_grad or b._requires_grad:
        return NextAfter.apply(a, b)
    av, bv = a._array, b._array
    return Tensor._wrap(mf.pointwise_result(_next_after(av, bv), av, bv))


def _next_after(a, b):
    """C's nextafter: ``b`` where a == b (nextafter(-0.0, 0.0) is 0.0), which numpy's float16
    loop does not give (it returns ``a``)."""
    xp = backend.xp_of(a)
    out = xp.nextafter(a, b)
    if a.dtype == np.float16:
        out = xp.where(a == b, b, out).astype(out.dtype, copy=False)
    return out
