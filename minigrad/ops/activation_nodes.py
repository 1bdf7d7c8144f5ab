"""GELU, SiLU and hardswish as one node each, on numpy float32/float64 arrays.

``activation.py`` defines these activations by composing differentiable ops, which is the
clearest statement of what they compute, but each op of the composition is a node with its
own full-size passes forward and backward: GELU on 32x64x32x32 float32 took 26 ms forward
and backward against PyTorch's 4, hardswish 33 against 7, SiLU 12 against 3. Here each is
one Function (grad_fn ``GeluBackward0``, ``SiluBackward0``, ``HardswishBackward0``, as in
PyTorch) whose forward and derivative are array kernels run in cache-sized blocks, and
whose backward is written twice, as a learner would check it:

* ``grad_arrays(x, g)``: g * f'(x) on arrays, when the backward records no graph (the usual
  ``loss.backward()``);
* ``grad_ops(x, g)``: the same formula with differentiable ops, under ``create_graph=True``,
  so that second derivatives come out of it.

GELU and SiLU go one step further (``_SlopeNode``): where a backward may follow, the forward
makes the whole slope f'(x) while the value's parts are in cache, and the backward without a
graph is g f'(x); where none may, nothing of x's size but the value is written.

The derivatives are PyTorch's, edges included (hardswish's slope at exactly -3 and 3, NaN
and infinities); the tests check both backwards against PyTorch's first and second
derivatives.

    gelu        y = x/2 (1 + erf(x / sqrt 2))         y' = Phi(x) + x phi(x)
    gelu tanh   y = x/2 (1 + tanh(u)),                y' = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) u'
                u = sqrt(2/pi) (x + 0.044715 x^3)     u' = sqrt(2/pi) (1 + 3 0.044715 x^2)
    silu        y = x s,  s = sigmoid(x)              y' = s (1 + x (1 - s))
    hardswish   y = x clamp(x + 3, 0, 6) / 6          y' = 0 (x <= -3), x/3 + 1/2 (x < 3), 1
"""
from __future__ import annotations

import math
import sys

import numpy as np

from .. import _memory_format as mf, parallel
from ..autograd import Function
from ..autograd.engine import frees_saved_values
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import FLOAT32_64
from ._workspace import workspace
from .error_function import _erf_array, erf_buffer
from .elementary_functions import dense_order, empty_in_order, exp, sigmoid, tanh
from .elementwise import add, mul, sub
from .pointwise_select import _SELECT_INTS, select_block, where

__all__ = ["Gelu", "Silu", "Hardswish", "fits", "on_arrays", "two_phi"]

_BLOCK = 1 << 16                 # numbers per block: the temporaries stay in cache
_SQRT1_2 = 1.0 / math.sqrt(2.0)
_PDF = 1.0 / math.sqrt(2.0 * math.pi)          # phi(x) = e^(-x^2/2) / sqrt(2 pi)
_LOG2E = 1.0 / math.log(2.0)                    # e^a = 2^(a log2(e))
_TANH_SCALE = math.sqrt(2.0 / math.pi)
_KAPPA = 0.044715


def fits(x):
    """True where the one-node form applies: a numpy float32 or float64 array."""
    a = x._array
    return type(a) is np.ndarray and a.dtype in FLOAT32_64


def on_arrays(x, g):
    """Whether a backward may run on arrays: no graph recorded, and a numpy gradient of x's
    dtype."""
    return not is_grad_enabled() and type(g._array) is np.ndarray and \
        g._array.dtype == x._array.dtype


def _blocks(kernel, arrays, outs, scratch=None):
    """kernel(*blocks of arrays, *blocks of outs) over blocks of _BLOCK numbers of the
    flattened arrays (made contiguous) and outs, the blocks split over the threads.  The
    outs are laid out as ``empty_in_order`` makes them for arrays[0]: all are read in its
    memory order (a transposed input is not copied). With ``scratch`` (names -> dtypes, None
    for x's own), the kernel also gets a dict of those scratch arrays of a block's size,
    kept over the blocks of one piece (``erf_buffer``) and between calls (``workspace``, per
    thread): fresh ones cost pages faulted in anew. One block or less of row-major arrays
    of one shape: the kernel once, on them (and fresh scratch), no pieces (32x32 float32:
    a logsigmoid's forward 30 -> 8 us, an elu's 60 -> 25)."""
    first = arrays[0]
    if first.size <= _BLOCK and first.flags.c_contiguous and all(
            a.shape == first.shape and a.flags.c_contiguous for a in (*arrays, *outs)):
        with np.errstate(all="ignore"):
            kernel(*(a.reshape(-1) for a in (*arrays, *outs)), *(() if scratch is None else
                                                                ({},)))
        return
    perm = dense_order(first)
    if perm is not None:
        arrays = [a.transpose(perm) for a in arrays]
        outs = [o.transpose(perm) for o in outs]
    # an array that is one number expanded (the gradient of a sum() or a mean(): every
    # stride 0) is not copied out whole: each piece fills one block of it, once
    numbers = {i: a[(0,) * a.ndim] for i, a in enumerate(arrays)
               if i and a.size > 1 and not any(a.strides)}
    flats = [np.ascontiguousarray(a).reshape(-1) for i, a in enumerate(arrays)
             if i not in numbers] + [o.reshape(-1) for o in outs]

    def run(*pieces):
        first = pieces[0]
        extra = () if scratch is None else ({name: workspace(
            "activation_" + name, (min(_BLOCK, first.size),),
            first.dtype if dt is None else dt, np) for name, dt in scratch.items()},)
        if numbers:
            pieces = list(pieces)
            for i, value in numbers.items():
                pieces.insert(i, np.full(min(_BLOCK, first.size), value))
        with np.errstate(all="ignore"):         # inf and NaN in, as PyTorch: no warnings
            for b in range(0, first.size, _BLOCK):
                n = min(_BLOCK, first.size - b)
                kernel(*(p[b:b + n] if i not in numbers else p[:n]
                         for i, p in enumerate(pieces)), *extra)
    parallel.map_pieces(run, *flats)


class _OneNode(Function):
    """An activation y = f(x) in one node: ``value(x, out, kept)`` forward on array blocks,
    and the backward as ``slope_times(x, kept, g, out)`` (out = g * f'(x)) without a graph
    or ``grad_ops`` under create_graph (module docstring). ``kept`` is an array the forward
    also fills, of x's shape, where the derivative reuses a costly part of the value (erf,
    tanh, sigmoid: the same memory as the composition's saved results); None if ``keeps``
    is false."""
    keeps = False
    # the scratch arrays value and slope_times take as a dict (``_blocks``' ``scratch``), or
    # None where they take none
    value_scratch = slope_scratch = None

    def forward(self, x, **kwargs):
        self.save_for_backward(x)
        self.options = kwargs
        perm = dense_order(x)                 # a transposed x: its strides kept, as PyTorch
        out = empty_in_order(x, perm)
        self.kept = empty_in_order(x, perm) if self.keeps else None
        _blocks(self.value, [x], [out] + ([self.kept] if self.keeps else []),
                self.value_scratch)
        return out

    def value(self, x, out, kept=None):
        raise NotImplementedError

    def backward(self, g):
        x, = self.saved_tensors
        if on_arrays(x, g):
            kept = self.kept
            # kept is freed right after this backward (no retain_graph) and nobody else holds
            # it (references: the node's, ``kept`` and getrefcount's argument): the gradient
            # is written over it, block by block (the kernels read a block's kept before
            # they write its out). A fresh full-size array had its pages faulted in anew at
            # every step (64x128x768 float32, one thread: GELU's backward 20.2 -> 16.7 ms,
            # SiLU's 17.1 -> 12.5, CPU time)
            out = kept if kept is not None and frees_saved_values() and \
                sys.getrefcount(kept) <= 3 else empty_in_order(x._array, dense_order(x._array))
            _blocks(self.slope_times, [x._array] + ([kept] if self.keeps else [])
                    + [g._array], [out], self.slope_scratch)
            del kept
            return Tensor._wrap(_laid_out(out, g._array, x._array))
        return self.grad_ops(x, g)


class _SlopeNode(_OneNode):
    """A one-node activation whose forward also makes the whole slope f'(x) where a backward
    may follow (``slope``: the caller records a graph), block by block while the parts of
    the value it shares are still in cache, kept of x's shape (the memory the composition's
    saved results took); the backward without a graph is then one pass, g f'(x), that reads
    neither x nor any part again. Without ``slope`` (no_grad, an input that needs no
    gradient) those parts live in block-sized scratch ("k") and nothing of x's size but the
    value is written. Subclasses give ``parts(x, out, kept, slope, work)``."""
    keeps = True
    slope_scratch = None

    def forward(self, x, *, slope=True, **kwargs):
        self.save_for_backward(x)
        self.options = kwargs
        perm = dense_order(x)                 # a transposed x: its strides kept, as PyTorch
        out = empty_in_order(x, perm)
        self.kept = empty_in_order(x, perm) if slope else None
        _blocks(self.value, [x], [out] + ([self.kept] if slope else []), self.value_scratch)
        return out

    def value(self, x, out, *rest):
        kept, work = rest if len(rest) == 2 else (None, rest[0])
        if kept is None:
            self.parts(x, out, erf_buffer(work, "k", x.size, x.dtype), False, work)
        else:
            self.parts(x, out, kept, True, work)

    def parts(self, x, out, kept, slope, work):
        raise NotImplementedError

    def backward(self, g):
        x, = self.saved_tensors
        kept = self.kept
        if kept is None or not on_arrays(x, g):
            del kept
            return self.grad_ops(x, g)
        # kept (the slope) is freed right after this backward (no retain_graph) and nobody
        # else holds it (references: the node's, ``kept`` and getrefcount's argument): the
        # gradient is written over it. A fresh full-size array had its pages faulted in anew
        # at every step
        out = kept if frees_saved_values() and sys.getrefcount(kept) <= 3 else \
            empty_in_order(x._array, dense_order(x._array))
        _blocks(_times, [kept, g._array], [out])
        del kept
        return Tensor._wrap(_laid_out(out, g._array, x._array))


def _laid_out(out, g, x):
    """A backward's result ``out`` (made in x's memory order) laid out as PyTorch's backward
    kernel lays out its result: by the gradient g where its strides order the dims, then by
    x (a copy only where that differs: a row-major g of a permuted x)."""
    if g.flags.c_contiguous and out.flags.c_contiguous:
        return out
    return mf.pointwise_layout(out, (g, x))


def _times(slope, g, out):
    """out = g f'(x) for one block, from the slope the forward kept (out may be it)."""
    np.multiply(g, slope, out=out)


class Gelu(_SlopeNode):
    """GELU, exact (``approximate='none'``) or in PyTorch's tanh form (``'tanh'``). The slope
    (``_SlopeNode``) is made from the value's parts while they are in cache: Phi(x) and x^2
    (exact), tanh(u), x^2 and x/2 (tanh form), rounded as the backward's formula rounded it
    (64x128x768 float32, one thread, forward and backward: 6% less CPU time for the exact
    form, 12% for the tanh one, than Phi or tanh(u) kept and the slope made in the backward;
    a forward without a graph 13% and 5% less). The temporaries live in the piece's scratch
    dict (kept between calls, ``workspace``): fresh ones for every block cost as much as
    the arithmetic."""
    value_scratch = {"a": None, "t": None, "r": None, "k": None}

    def parts(self, x, out, kept, slope, work):
        t = x.dtype.type
        if self.options["approximate"] == "tanh":
            sq = np.multiply(x, x, out=erf_buffer(work, "t", x.size, x.dtype))
            th = _tanh_inner(x, kept, sq)
            np.tanh(th, out=th)
            half = np.multiply(x, t(0.5), out=erf_buffer(work, "r", x.size, x.dtype))
            a = np.add(th, t(1), out=erf_buffer(work, "a", x.size, x.dtype))
            np.multiply(half, a, out=out)                   # (x/2) (1 + th), in that order
            if slope:
                # (1 + th)/2 + x/2 (1 - th^2) b (1 + 3k x^2), as the backward formula rounds
                # it, written over th (last: th is read first)
                sq *= t(3 * _KAPPA)
                sq += t(1)
                other = np.multiply(th, th, out=erf_buffer(work, "k", x.size, x.dtype))
                np.subtract(t(1), other, out=other)
                half *= other
                half *= t(_TANH_SCALE)
                half *= sq
                a *= t(0.5)
                np.add(a, half, out=kept)
        else:
            if x.dtype == np.float32:
                # (1 / (1 + e^(-2 x R)), the same fit, is closer to the exact value and 10%
                # faster, but PyTorch's 1 + erf cancels below -4 as 1 + tanh does: the tanh
                # form meets PyTorch's numbers there, and rounded to bfloat16 their roundings)
                two_phi(x, kept, work)                          # 1 + erf(x / sqrt 2)
            else:
                kept[...] = _erf_array(x * x.dtype.type(_SQRT1_2))
                kept += 1                                       # 1 + erf, = 2 Phi(x)
            # Phi(x) kept: halving is exact, so x Phi is (x/2)(1 + erf) as it was rounded
            kept *= t(0.5)
            np.multiply(x, kept, out=out)
            if slope:
                # Phi + x phi(x), phi = e^(-x^2/2) / sqrt(2 pi); x^2 is two_phi's scratch
                # (float32), halved exactly
                a = erf_buffer(work, "a", x.size, x.dtype)
                if x.dtype == np.float32:
                    # e^(-x^2/2) as 2^(-x^2 log2(e)/2): numpy's float32 exp2 takes less than
                    # half exp's time (64K numbers: 14 us against 30); phi within 8e-7 of
                    # itself, and x phi is small wherever the exponent is large
                    np.multiply(erf_buffer(work, "t", x.size, x.dtype), t(-0.5 * _LOG2E),
                                out=a)
                    np.exp2(a, out=a)
                else:
                    np.multiply(x, t(-0.5), out=a)
                    a *= x
                    np.exp(a, out=a)
                a *= t(_PDF)
                a *= x
                kept += a
            self._inf_nan(x, out, kept, slope)

    def _inf_nan(self, x, out, kept, slope):
        """PyTorch's vectorised float32 kernel (a contiguous input of 2 numbers or more)
        gives NaN at +inf, value and slope (its one-number loop gives inf): so here, where
        the caller said so (``inf_nan``)."""
        if not self.options.get("inf_nan"):
            return
        top = x.max()
        if top == np.inf or top != top:             # (a NaN hides the largest number)
            top = x == np.inf
            out[top] = np.nan
            if slope:
                kept[top] = np.nan

    def grad_ops(self, x, g):
        if self.options["approximate"] == "tanh":
            return mul(g, _GeluTanhSlope.apply(x))
        return mul(g, _GeluSlope.apply(x))


class _GeluTanhSlope(Function):
    """The tanh-form GELU's slope s(x) = (1 + th)/2 + x/2 (1 - th^2) u', th = tanh(u), as one
    node (what ``Gelu``'s backward multiplies g by under create_graph), rounded as the
    composition of ops rounds it. Its derivative is written out, with T = 1 - th^2 taken
    into each product first:

        s'(x) = T u' - x th (T u') u' + (T u'') x/2,    u'' = 6 sqrt(2/pi) 0.044715 x

    Differentiating the composition instead multiplied T's zero (|x| large: tanh is +-1) by
    the product of the other factors, which overflows (x/2 times u', ~x^3): inf * 0 = NaN
    where PyTorch's formula gives 0; in float32, 1 - th^2 differentiated step by step also
    lost the digits PyTorch's keeps (at x = 5.3, -8e-6 against -1.6e-6)."""

    def forward(self, x):
        self.save_for_backward(x)
        t = x.dtype.type
        with np.errstate(all="ignore"):
            th = np.tanh((x * x * x * t(_KAPPA) + x) * t(_TANH_SCALE))
            right = x * t(0.5) * (t(1) - th * th) * t(_TANH_SCALE) * \
                (x * x * t(3 * _KAPPA) + t(1))
            return (th + t(1)) * t(0.5) + right

    def backward(self, g):
        x, = self.saved_tensors
        th = tanh(mul(add(x, mul(mul(mul(x, x), x), _KAPPA)), _TANH_SCALE))
        rest = sub(1.0, mul(th, th))                            # T
        du = mul(add(mul(mul(x, x), 3 * _KAPPA), 1.0), _TANH_SCALE)
        rest_du = mul(rest, du)
        curve = mul(mul(rest, mul(x, 6 * _KAPPA * _TANH_SCALE)), mul(x, 0.5))
        # x th T u'^2 as (x/2 u') (T u') 2 th: x/2 u' overflows where PyTorch's does (|x|
        # above 1.5e103 in float64, 1.9e13 in float32), giving its NaN there
        bend = mul(mul(mul(mul(x, 0.5), du), rest_du), mul(th, 2.0))
        return mul(g, sub(add(rest_du, curve), bend))


class _GeluSlope(Function):
    """The exact GELU's slope s(x) = Phi(x) + x phi(x) as one node (``Gelu``'s backward under
    create_graph), rounded as the composition rounds it; its derivative written out as
    PyTorch's: s'(x) = 2 phi(x) - x^2 phi(x) (NaN where x^2 overflows, as there)."""

    def forward(self, x):
        self.save_for_backward(x)
        t = x.dtype.type
        with np.errstate(all="ignore"):
            cdf = (_erf_array(x * t(_SQRT1_2)).astype(x.dtype, copy=False) + t(1)) * t(0.5)
            return cdf + x * (np.exp(x * x * t(-0.5)) * t(_PDF))

    def backward(self, g):
        x, = self.saved_tensors
        square = mul(x, x)
        pdf = mul(exp(mul(square, -0.5)), _PDF)
        return mul(g, sub(mul(pdf, 2.0), mul(square, pdf)))


# Exact GELU in float32 as 2 Phi(x) = 1 + tanh(x R(x^2)): R, of degree 6, fitted here (weighted
# least squares iterated toward the smallest largest error of GELU's value) to
# atanh(erf(x / sqrt 2)) / x on |x| <= 6, weighted by GELU's sensitivity (so in effect on
# |x| <= 5.6, where Phi reaches 1 within float32's half unit). Beyond 6 no clamp is needed
# (it was a pass of its own): R stays positive and x R(x^2) at least 12 in magnitude, where
# numpy's float32 tanh is exactly +-1 (at 9.2 it is not), up to float32's largest x (checked
# on a fine grid; Horner's steps overflow to inf with x's sign, never to NaN). R(0) is
# sqrt(2/pi) and its next coefficient near sqrt(2/pi) 0.044715: the tanh approximation,
# corrected. Float32 throughout, 16 contiguous passes; erf's cubic table
# (``error_function``) took a gather of four float64 coefficients per number and strided
# float64 steps (GELU of 16x64x512 forward and backward: 27 ms against PyTorch's 0.9, one
# thread, on a loaded machine). GELU's largest error over [-12, 12] is 5.5e-7 against the
# exact value (PyTorch's float32 kernel's: 1.2e-6).
_PHI_R = tuple(np.float32(c) for c in (
    0.7978842163519901, 0.03633428277970181, -3.312944351877363e-05, -5.5240322087161805e-05,
    3.969131651855168e-06, -1.334477698749677e-07, 1.8056466729800537e-09))


def two_phi(x, out, work):
    """out = 2 Phi(x) = 1 + erf(x / sqrt 2), in [0, 2], for 1-D float32 blocks x and out (see
    above); scratch arrays from ``work`` (``erf_buffer``). NaN gives NaN, -0.0 1."""
    t = erf_buffer(work, "t", x.size, np.float32)
    np.multiply(x, x, out=t)
    r = _PHI_R
    np.multiply(t, r[-1], out=out)
    for c in r[-2:0:-1]:
        out += c
        out *= t
    out += r[0]
    out *= x
    np.tanh(out, out=out)
    out += np.float32(1)


def _tanh_inner(x, u, sq):
    """sqrt(2/pi) (x + 0.044715 x^3), as the composition rounds it: (x + (x x) x k) b, in u,
    from sq = x x (left as it is)."""
    t = x.dtype.type
    np.multiply(sq, x, out=u)
    u *= t(_KAPPA)
    u += x
    u *= t(_TANH_SCALE)
    return u


class Silu(_SlopeNode):
    """SiLU (swish): x sigmoid(x); its slope s (1 + x (1 - s)), s = sigmoid(x), made in the
    forward while s is in cache (``_SlopeNode``; 64x128x768 float32, one thread: forward and
    backward 8% less CPU time than s kept and the slope made in the backward, a forward
    without a graph 22% less: no s of x's size, and no 1 / (1 + e^-x) pass)."""
    value_scratch = {"a": None, "k": None}

    def parts(self, x, out, kept, slope, work):
        # PyTorch's kernel: x / (1 + e^-x), and s = 1 / (1 + e^-x); e^-x overflows to inf
        # below -88 (float32): s and the value are then 0 and -0.0, as PyTorch's. Four passes
        # where the stable sigmoid took seven (1M float32: 30% less time)
        t = x.dtype.type
        np.negative(x, out=kept)
        # (1 + e^-x as expm1(-x) + 2 is faster in float32, but for large x it keeps e^-x only
        # to expm1's unit near -1: the slope's 1 - s, times x, then misses PyTorch's by 2e-6)
        np.exp(kept, out=kept)
        kept += t(1)
        np.divide(x, kept, out=out)
        if slope:
            # s (1 + x (1 - s)) = s + y (1 - s), y = x s the value just made: four passes
            # (a reciprocal took two divisions' time)
            np.divide(t(1), kept, out=kept)                 # s
            inner = np.subtract(t(1), kept, out=erf_buffer(work, "a", x.size, x.dtype))
            inner *= out
            kept += inner

    def grad_ops(self, x, g):
        s = sigmoid(x)
        return mul(mul(g, s), add(mul(x, sub(1.0, s)), 1.0))


class Hardswish(_OneNode):
    """hardswish: x clamp(x + 3, 0, 6) / 6, as PyTorch computes it (so -0.0 below -3,
    NaN at -inf, x * 6 / 6 from 3 on)."""
    def value(self, x, out):
        np.add(x, x.dtype.type(3), out=out)
        np.clip(out, 0, 6, out=out)             # NaN stays NaN; one pass, maximum is slower
        out *= x
        out /= x.dtype.type(6)

    @staticmethod
    def _slope(x):
        """PyTorch's: 0 up to -3, x/3 + 1/2 strictly between, 1 from 3 on (NaN too); as a
        bit select (numpy's ``where`` and ``copyto(where=)`` branch on every element)."""
        hi = x < 3
        inside = x > -3
        inside &= hi
        np.logical_not(hi, out=hi)                          # 1 from 3 on, and at NaN
        s = x / x.dtype.type(3)
        s += x.dtype.type(0.5)
        return select_block(inside, s, hi.astype(x.dtype), s)

    def slope_times(self, x, g, out):
        # g (x/3 + 1/2), then by bits (``select_block``'s way, its masks built here): g
        # itself from 3 on and at NaN, and +0.0 up to -3 whatever g is (PyTorch's zero;
        # g * 0 gave -0.0 for a negative g, NaN for an infinite one)
        t = x.dtype.type
        np.divide(x, t(3), out=out)
        out += t(0.5)
        out *= g
        ints = _SELECT_INTS[x.dtype.itemsize]
        bits, g_bits = out.view(ints), g.view(ints)
        mask = (x < 3).view(np.int8).astype(ints)
        np.negative(mask, out=mask)                         # all ones below 3
        bits ^= g_bits
        bits &= mask
        bits ^= g_bits                                      # where(x < 3, out, g)
        np.less_equal(x, t(-3), out=mask, casting="unsafe")
        mask -= 1                                           # all ones but up to -3
        bits &= mask

    def grad_ops(self, x, g):
        # inside (-3, 3) the slope x/3 + 1/2 as an op of x (its own derivative 1/3); its
        # values elsewhere, the ends included, as constants: PyTorch's second derivative
        # is 1/3 strictly inside and 0 elsewhere
        a = x._array
        inside = (a > -3) & (a < 3)
        slope = where(Tensor._wrap(inside), add(mul(x, 1.0 / 3.0), 0.5),
                      Tensor._wrap(self._slope(a.reshape(-1)).reshape(a.shape)))
        return mul(g, slope)
