"""Smooth pointwise functions with PyTorch's names and dtype rules, kept apart from
``pointwise_more.py``: ``logit`` (ln(p / (1 - p)), with an optional clamp to [eps, 1 - eps]),
``sinc`` (sin(pi x) / (pi x), 1 at 0) and ``expm1`` (e**x - 1).  Integer inputs compute in
the default float dtype; each backward is written with differentiable ops, so second
derivatives work too.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ._util import ieee, ieee_errors
from .elementary_functions import cos, exp, sin
from .elementwise import cast, mul, sub
from .division import div
from .pointwise_select import where
from .plumbing import conj_of
from .pointwise_more import _floating

__all__ = ["logit", "sinc", "expm1"]


class Logit(Function):
    """log(p / (1 - p)) of p, clamped first to [eps, 1 - eps] when ``eps`` is given;
    d/dp = 1 / (p (1 - p)) (infinite at 0 and 1), 0 outside [eps, 1 - eps]; without eps,
    NaN outside [0, 1], where the value itself is NaN (as PyTorch's)."""
    @ieee
    def forward(self, p, *, eps, hi=None):
        self.eps = eps
        self.hi = hi = (None if eps is None else 1.0 - eps) if hi is None else hi
        self.save_for_backward(p)
        xp, q = backend.xp_of(p), p
        if eps is not None:      # low bound first: with eps > 0.5 a p below eps becomes eps
            lo, hi = xp.asarray(eps, p.dtype), xp.asarray(hi, p.dtype)
            q = xp.where(p < lo, lo, xp.where(p > hi, hi, p))
        return xp.log(q / (1 - q))

    def backward(self, g):
        p, = self.saved_tensors
        with ieee_errors():
            out = div(g, mul(p, sub(1.0, p)))
        if self.eps is None:
            return where((p._array < 0) | (p._array > 1), math.nan, out)
        return where((p._array < self.eps) | (p._array > self.hi), 0.0, out)


def logit(input, eps=None):
    """log(p / (1 - p)); with ``eps`` the input is first clamped to [eps, 1 - eps] (the
    gradient is then 0 outside that range).  Integers give the default float dtype.  The
    bounds are in the input's dtype, as PyTorch's kernel makes them: in bfloat16, 1 - 1e-3
    is 1."""
    p = _floating(input)
    if eps is None:
        return Logit.apply(p, eps=None)
    dtype = p._array.dtype
    if dtypes.reduced_float(dtype):
        lo = np.asarray(float(eps)).astype(dtype)
        hi = (np.asarray(1.0).astype(dtype).astype(np.float32) -
              lo.astype(np.float32)).astype(dtype)
        return Logit.apply(p, eps=float(lo), hi=float(hi))
    return Logit.apply(p, eps=float(eps))


def sinc(input):
    """The normalised sinc: sin(pi x) / (pi x), and 1 at x = 0 (float16 and bfloat16 in
    float32, rounded once, as PyTorch: sinc(1) is then 0, not sin(pi rounded to float16))."""
    x = _floating(input)
    if dtypes.reduced_float(x._array.dtype):
        return rename_node(cast(sinc(cast(x, np.dtype(np.float32))), x._array.dtype),
                           "SincBackward0")
    return Sinc.apply(x)


class Sinc(Function):
    """sinc, with PyTorch's backward: g (pi x cos(pi x) - sin(pi x)) / (pi x^2), 0 where
    pi x^2 is 0 (x = 0, and an x so small that its square underflows), in ops (the factor
    conjugated for complex x)."""
    _node_name = "SincBackward0"
    complex_ok = True

    @ieee
    def forward(self, x):
        self.save_for_backward(x)
        product = x * math.pi
        return mf.pointwise_result(np.where(x == 0, 1.0, np.sin(product) / product).astype(
            x.dtype, copy=False), x)

    def backward(self, g):
        x, = self.saved_tensors
        with ieee_errors():
            x_pi = mul(x, math.pi)
            square_pi = mul(mul(x, x), math.pi)
            out = mul(g, conj_of(div(sub(mul(x_pi, cos(x_pi)), sin(x_pi)), square_pi)))
            return where(square_pi._array == 0, 0.0, out)


class Expm1(Function):
    """exp(x) - 1, accurate for small x; d/dx = exp(x) (conjugated for complex x)."""
    complex_ok = True

    @ieee
    def forward(self, a):
        self.save_for_backward(a)
        return backend.xp_of(a).expm1(a)

    def backward(self, g):
        a, = self.saved_tensors
        return mul(g, conj_of(exp(a)))


def expm1(input):
    """exp(input) - 1 (accurate near 0); integers give the default float dtype."""
    return Expm1.apply(_floating(input))
