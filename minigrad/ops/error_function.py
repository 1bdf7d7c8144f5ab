"""erf, the error function, elementwise: the one primitive behind exact GELU, the normal
distribution's cdf and the special functions built on it.

numpy has no erf. Float32 and narrower inputs interpolate a table of erf and its derivative
(a few passes, within half a float32 unit); float64 inputs sum a series near 0 and a
continued fraction beyond (``_erf_array``). The derivative, 2/sqrt(pi) e^(-x^2), is written
with ops, so erf is differentiable to any order.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes, parallel
from ..autograd import Function
from .elementary_functions import exp
from .elementwise import cast, mul, neg

__all__ = ["Erf", "erf", "floating"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def floating(a):
    """a itself when floating or complex; an integer or bool tensor as the default float."""
    return a if a._array.dtype.kind in "fcV" else cast(a, dtypes.default_float().np)


# erf of float32 and narrower inputs: cubic Hermite interpolation between erf and its
# derivative at every 1/256 on [0, 6] (erf(6) is 1 to float64 precision), computed in float64:
# the error is under h^4/384 times the largest fourth derivative, < 5e-12, and near 0 (where
# that derivative is ~13.5 x) under 1e-11 relative, far below float32's half unit (3e-8); the
# measured error, rounded to float32, is half a unit at most. A handful of passes, where the
# float64 path below makes ~300: GELU on 32x64x32x32 took 636 ms that way (PyTorch 1.3).
_ERF_STEPS = 256                  # table points per unit
_ERF_END = 6
_erf_table = None                 # 4 arrays of 6 * 256 cubic coefficients, made on first use


def _erf_cubics():
    """Per interval [i/256, (i+1)/256]: the cubic in s = 256 x - i through erf and its
    derivative at both ends, as its coefficients (c0, c1, c2, c3), an array of each."""
    global _erf_table
    if _erf_table is None:
        nodes = np.arange(_ERF_END * _ERF_STEPS + 1) / _ERF_STEPS
        f = np.array([math.erf(v) for v in nodes])
        d = _TWO_OVER_SQRT_PI * np.exp(-nodes * nodes) / _ERF_STEPS       # d erf / ds
        rise = f[1:] - f[:-1]
        _erf_table = tuple(np.ascontiguousarray(c) for c in (
            f[:-1], d[:-1], 3 * rise - 2 * d[:-1] - d[1:], d[:-1] + d[1:] - 2 * rise))
    return _erf_table


def _erf_narrow(x):
    """erf of a numpy float32/float16/bfloat16 array (see _erf_cubics), in x's dtype; in
    blocks that keep the float64 temporaries in cache (2M numbers: 46 ms whole, 17 ms in
    blocks of 64K), the blocks over the threads."""
    out = np.empty(x.shape, dtype=x.dtype)

    def blocks(xs, outs):
        for b in range(0, xs.size, _ERF_BLOCK):
            _erf_cubic(xs[b:b + _ERF_BLOCK], outs[b:b + _ERF_BLOCK])
    parallel.map_pieces(blocks, np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


_ERF_BLOCK = 1 << 16


def _erf_cubic(x, out):
    """out = erf(x) for 1-D x, out (one block): the interval's cubic, evaluated in float64."""
    c0, c1, c2, c3 = _erf_cubics()
    a = np.abs(x.astype(np.float64))
    nan = np.isnan(a)
    a[nan] = 0.0                                            # put back below
    np.minimum(a, _ERF_END, out=a)
    a *= _ERF_STEPS
    i = a.astype(np.intp)
    np.minimum(i, c0.size - 1, out=i)
    a -= i                                                  # s, in [0, 1]
    y = c3.take(i)
    y *= a
    y += c2.take(i)
    y *= a
    y += c1.take(i)
    y *= a
    y += c0.take(i)
    np.copysign(y, x, out=y)
    y[nan] = x[nan]                                         # NaN in, the same NaN out
    out[...] = y


def _erf_array(x):
    """erf(x), vectorised (no Python loop over elements): float32 and narrower numpy arrays
    by ``_erf_narrow``; otherwise to float64 precision, as follows.

    |x| < 3: erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)); every term is
    positive (no cancellation) and 80 terms reach 1e-17 relative at |x| = 3.
    |x| >= 3: erfc(x) from its continued fraction, 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
    evaluated bottom-up at a fixed depth (converges fast that far out).
    """
    xp = backend.xp_of(x)
    if xp is np and x.dtype.kind in "fV" and x.dtype.itemsize <= 4:
        return _erf_narrow(x)
    x64 = x.astype(xp.float64)
    ax = xp.abs(x64)
    small = xp.minimum(ax, 3.0)
    term = small.copy()
    total = small.copy()
    sq = small * small
    for n in range(1, 80):
        term = term * (2.0 * sq / (2 * n + 1))
        total = total + term
    series = _TWO_OVER_SQRT_PI * xp.exp(-sq) * total
    big = xp.maximum(ax, 3.0)
    frac = big
    for k in range(60, 0, -1):
        frac = big + (k / 2.0) / frac
    erfc_big = xp.exp(-big * big) / (math.sqrt(math.pi) * frac)
    out = xp.where(ax < 3.0, series, 1.0 - erfc_big)
    out = xp.where(xp.isnan(x64), xp.nan, out)
    return xp.copysign(out, x64).astype(x.dtype, copy=False)       # erf(-0.0) is -0.0


class Erf(Function):
    """erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt, elementwise; shape unchanged."""
    def forward(self, a):
        self.save_for_backward(a)
        return mf.pointwise_result(_erf_array(a), a)

    def backward(self, g):
        a, = self.saved_tensors        # d erf/dx = 2/sqrt(pi) e^(-x^2)
        return mul(g, mul(exp(neg(mul(a, a))), _TWO_OVER_SQRT_PI))


def erf(input):
    return Erf.apply(floating(input))
