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
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
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
_erf_table = None                 # (6 * 256, 4) cubic coefficients, made on first use


def _erf_cubics():
    """Per interval [i/256, (i+1)/256]: the cubic in s = 256 x - i through erf and its
    derivative at both ends, as a (6 * 256, 4) array of rows (c3, c2, c1, c0): one gather
    of rows fetches all four (four gathers of one took 40% longer)."""
    global _erf_table
    if _erf_table is None:
        nodes = np.arange(_ERF_END * _ERF_STEPS + 1) / _ERF_STEPS
        f = np.array([math.erf(v) for v in nodes])
        d = _TWO_OVER_SQRT_PI * np.exp(-nodes * nodes) / _ERF_STEPS       # d erf / ds
        rise = f[1:] - f[:-1]
        _erf_table = np.ascontiguousarray(np.stack(
            [d[:-1] + d[1:] - 2 * rise, 3 * rise - 2 * d[:-1] - d[1:], d[:-1], f[:-1]], axis=1))
    return _erf_table


_erf_cols = None


def _erf_columns():
    """The table's four columns (c3, c2, c1, c0) as contiguous arrays: a gather from each
    into a contiguous block, and Horner's rule on contiguous float64 blocks, took 490 us a
    64K block against 680 for one gather of rows and arithmetic on their strided columns
    (numpy's loops on a stride of 32 bytes are not vectorised)."""
    global _erf_cols
    if _erf_cols is None:
        _erf_cols = tuple(np.ascontiguousarray(col) for col in _erf_cubics().T)
    return _erf_cols


def _erf_narrow(x):
    """erf of a numpy float32/float16/bfloat16 array (see _erf_cubics), in x's dtype; in
    blocks that keep the float64 temporaries in cache, the blocks over the threads."""
    out = np.empty(x.shape, dtype=x.dtype)

    def blocks(xs, outs):
        work = {}                       # one set of block buffers per piece (erf_buffer)
        for b in range(0, xs.size, _ERF_BLOCK):
            _erf_cubic(xs[b:b + _ERF_BLOCK], outs[b:b + _ERF_BLOCK], work)
    parallel.map_pieces(blocks, np.ascontiguousarray(x).reshape(-1), out.reshape(-1))
    return out


# numbers per block: its float64 and int64 temporaries (~1 MB at 16K) stay in a 2 MB L2
# cache (4M float32 numbers, one thread, CPU time: 38-42 ms in 16K blocks, 61-70 in 64K)
_ERF_BLOCK = 1 << 14


def erf_buffer(work, name, n, dtype):
    """The first n numbers of the scratch array ``name`` of ``work`` (a dict kept for the
    blocks of one piece), made on first use at n, the piece's first and largest block.

    Why: fresh temporaries for every block cost more than the arithmetic. The allocator
    hands the freed memory back to the system and takes it again, page by page (64K
    float32 numbers took 1.2 ms that way, against 0.4 ms in kept buffers)."""
    buf = work.get(name)
    if buf is None or buf.size < n or buf.dtype != dtype:
        buf = work[name] = np.empty(n, dtype=dtype)
    return buf[:n]


def _erf_cubic(x, out, work=None):
    """out = erf(x) for 1-D x, out (one block): the interval's cubic, evaluated in float64.

    The passes, and why each is as it is (the cost of each was measured): |x| and the split
    of 256 |x| into interval i and offset s in float32 (scaling by 256 and taking the integer
    part off are exact there), i through int32 (a float32 to int64 cast is twice as slow),
    the interval's row of coefficients gathered once (``take(mode='clip')``: no bounds check,
    and the index of NaN, whatever integer it casts to, lands on a real row while s stays
    NaN, so NaN in gives NaN out with no mask pass), Horner's rule in float64, the result
    rounded to x's dtype and x's sign bit put on it with integer ops (np.copysign took
    four times as long). |x| >= 6 takes the last interval's cubic at s = 0: erf(5.996) is 1
    within 3e-17, as erf(6)."""
    if work is None:
        work = {}
    n = x.size
    if x.dtype != np.float32:                       # float16 / bfloat16: exact in float32
        x = x.astype(np.float32)
    cols = _erf_columns()
    a = erf_buffer(work, "a", n, np.float32)
    whole = erf_buffer(work, "whole", n, np.float32)
    i32 = erf_buffer(work, "i32", n, np.int32)
    i = erf_buffer(work, "i", n, np.intp)
    s = erf_buffer(work, "s", n, np.float64)
    y = erf_buffer(work, "y", n, np.float64)
    c = erf_buffer(work, "c", n, np.float64)
    np.abs(x, out=a)
    np.minimum(a, np.float32(_ERF_END), out=a)
    a *= np.float32(_ERF_STEPS)
    np.floor(a, out=whole)
    a -= whole                                      # s in [0, 1), exact
    with np.errstate(invalid="ignore"):             # NaN to integer: a row, see above
        np.copyto(i32, whole, casting="unsafe")
    np.copyto(i, i32)
    np.copyto(s, a)
    np.take(cols[0], i, out=y, mode="clip")
    for col in cols[1:]:                            # Horner: ((c3 s + c2) s + c1) s + c0
        y *= s
        y += np.take(col, i, out=c, mode="clip")
    if out.dtype == np.float32:
        np.copyto(out, y, casting="same_kind")     # >= 0, rounded to float32
        bits = out.view(np.uint32)
        sign = i32.view(np.uint32)                  # (i is made: its int32 copy is free)
        np.bitwise_and(x.view(np.uint32), np.uint32(0x80000000), out=sign)
        bits |= sign                                # erf(-x) = -erf(x); erf(-0.0) = -0.0
    else:
        np.copysign(y, x, out=y)
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


def _erf_slope_times(x, g):
    """g 2/sqrt(pi) e^(-x^2) on C-contiguous numpy float32/float64 arrays of one shape, as
    the ops backward rounds it (((x x) negated, exp) times the constant, times g), in one
    new array in blocks that stay in cache (the ops made four full-size temporaries), the
    blocks over the threads (64x128x512 float32, one thread: 26.8 -> 13.6 ms)."""
    out = np.empty(x.shape, x.dtype)
    c = x.dtype.type(_TWO_OVER_SQRT_PI)

    def blocks(xs, gs, outs):
        with np.errstate(all="ignore"):
            for b in range(0, xs.size, _SLOPE_BLOCK):
                xb, o = xs[b:b + _SLOPE_BLOCK], outs[b:b + _SLOPE_BLOCK]
                np.multiply(xb, xb, out=o)
                np.negative(o, out=o)
                np.exp(o, out=o)
                o *= c
                o *= gs[b:b + _SLOPE_BLOCK]
    parallel.map_pieces(blocks, x.reshape(-1), g.reshape(-1), out.reshape(-1))
    return out


_SLOPE_BLOCK = 1 << 16


class Erf(Function):
    """erf(x) = 2/sqrt(pi) int_0^x e^(-t^2) dt, elementwise; shape unchanged."""
    def forward(self, a):
        self.save_for_backward(a)
        return mf.pointwise_result(_erf_array(a), a)

    def backward(self, g):
        a, = self.saved_tensors        # d erf/dx = 2/sqrt(pi) e^(-x^2)
        x, ga = a._array, g._array
        if not is_grad_enabled() and type(x) is np.ndarray and type(ga) is np.ndarray and \
                x.dtype in (np.float32, np.float64) and ga.dtype == x.dtype and \
                ga.shape == x.shape and x.flags.c_contiguous and ga.flags.c_contiguous:
            return Tensor._wrap(_erf_slope_times(x, ga))
        return mul(g, mul(exp(neg(mul(a, a))), _TWO_OVER_SQRT_PI))


def erf(input):
    return Erf.apply(floating(input))
