"""Elementwise operations on 2-byte float arrays (float16, bfloat16) rounded as PyTorch's CPU
kernels round them: the optimizers' half-precision steps (``optim._half_steps``) and
``add``/``sub`` with alpha (``_half_add``).

Each operation reads its half inputs as float32, computes in float32 and rounds its result
to the half dtype once; a chain of in-place tensor operations therefore rounds after every
operation.  What a Python number becomes inside a kernel differs by operation:

* ``mul_s``, ``div_s`` (tensor * number, tensor / number): the number as a float32 (but
  rounded to the half dtype by the in-place ``torch._foreach_mul_``);
* ``add_s`` (tensor + number) and the ``alpha`` of ``add``: the number rounded to the half
  dtype first (and ``add`` with an alpha computed in the half type itself over each loop's
  scalar tail);
* ``addcmul``: ``a + (value * b) * c`` with the last multiply-add fused (one rounding);
* ``addcdiv``: ``a + value * b / c`` left to right, unfused;
* ``lerp`` with a number weight w: ``a + w * (b - a)`` for |w| < 0.5, else
  ``b - (b - a) * (1 - w)``, each a fused multiply-add;
* ``rdiv`` (number / tensor): the reciprocal rounded to the half dtype, times the number.

A fused multiply-add is computed in float64 (the float32 product of the operands is exact
there) and rounded to float32, then to the half dtype.
"""
from __future__ import annotations

import numpy as np

from ..parallel import get_num_threads

__all__ = ["neg", "add", "add_s", "mul", "mul_s", "div", "div_s", "rdiv", "recip", "sqrt",
           "addcmul", "addcdiv", "lerp", "maximum", "absolute", "fma"]

_F32 = np.float32
_F64 = np.float64


def _up(a):
    return a.astype(_F32)


def _down(x, like):
    """float32 (or float64, through float32) values rounded to ``like``'s half dtype."""
    if x.dtype != _F32:
        x = x.astype(_F32)
    return x.astype(like.dtype)


def _in_half(value, like):
    """A Python number rounded to ``like``'s half dtype, as a float32."""
    return _F32(np.asarray(_F32(value)).astype(like.dtype))


def neg(a):
    """-a (exact)."""
    return np.negative(a)


def absolute(a):
    """|a| (exact)."""
    return np.abs(a)


# PyTorch's x86 kernels (AVX2 and AVX-512 builds alike) run each innermost loop of a half
# op in vectors of this many elements and the loop's last ``run % _LANES`` one at a time
_LANES = 32
_GRAIN = 32768          # the elements from which PyTorch splits an op over its threads


def _inner_run(shape, *operand_shapes):
    """The length of the innermost loop PyTorch's iterator runs for an output of ``shape``
    (C-contiguous) and operands of ``operand_shapes`` (broadcast to it): the trailing
    dimensions it can merge, those along which each operand either walks or stays put
    (is broadcast) throughout."""
    padded = [(1,) * (len(shape) - len(s)) + tuple(s) for s in operand_shapes]
    run, kinds = 1, None
    for d in range(len(shape) - 1, -1, -1):
        n = shape[d]
        if n == 1:
            continue
        walks = tuple(p[d] == n for p in padded)
        if kinds is None:
            kinds = walks
        elif walks != kinds:
            break
        run *= n
    return run


def _tail_positions(size, run, lanes=_LANES):
    """The flat positions PyTorch's kernel computes one at a time: the last ``len % 32`` of
    every loop, the loops being the rows of ``run`` elements cut where the element range is
    split over threads (more than 32768 elements: ``get_num_threads()`` pieces at most, one
    per 32768, of equal length but the last); ``lanes``: the vector loop's step, where a
    kernel takes two vectors a step (64)."""
    cuts = np.arange(0, size + 1, run)
    if size >= _GRAIN and get_num_threads() > 1:
        pieces = min(get_num_threads(), -(-size // _GRAIN))
        chunk = -(-size // pieces)
        cuts = np.union1d(cuts, np.arange(0, size + 1, chunk))
    cuts = np.union1d(cuts, [size])
    starts, ends = cuts[:-1], cuts[1:]
    tails = (ends - starts) % lanes
    keep = tails > 0
    if not keep.any():
        return None
    ends, tails = ends[keep], tails[keep]
    offsets = np.arange(tails.sum()) - np.repeat(np.cumsum(tails) - tails, tails)
    return np.repeat(ends - tails, tails) + offsets


def add(a, b, alpha=1, dtype=None):
    """a + alpha * b (``Tensor.add(b, alpha=)``; a or b may be 0-d: a number), alpha rounded
    to the half dtype: in float32 with one rounding, except at the positions PyTorch's
    kernel runs one at a time (``_tail_positions``), where it computes in the half type
    itself: alpha * b rounded, then the sum.  ``dtype``: the result's (``a``'s by default)."""
    like = np.empty(0, dtype if dtype is not None else a.dtype)
    if alpha == 1:
        return _down(_up(a) + _up(b), like)
    scale = _in_half(alpha, like)
    wide_b = _up(b)
    out = np.ascontiguousarray(_down(_up(a) + scale * wide_b, like))
    run = _inner_run(out.shape, np.shape(a), np.shape(b))
    where = _tail_positions(out.size, run) if out.size else None
    if where is not None:
        flat = out.reshape(-1)
        start = np.broadcast_to(a, out.shape).reshape(-1)[where]
        other = np.broadcast_to(wide_b, out.shape).reshape(-1)[where]
        flat[where] = _down(_up(start) + _up(_down(scale * other, like)), like)
    return out


def add_s(a, s):
    """a + s for a number s (rounded to the half dtype first)."""
    return _down(_up(a) + _in_half(s, a), a)


def mul(a, b):
    """a * b of two half arrays."""
    return _down(_up(a) * _up(b), a)


def mul_s(a, s, scalar_in_half=False):
    """a * s for a number s: a float32 in the kernel of ``Tensor.mul``; rounded to the half
    dtype first with ``scalar_in_half`` (the in-place ``torch._foreach_mul_``)."""
    return _down(_up(a) * (_in_half(s, a) if scalar_in_half else _F32(s)), a)


def div(a, b):
    """a / b of two half arrays."""
    return _down(_up(a) / _up(b), a)


def div_s(a, s):
    """a / s for a number s (a float32 in the kernel)."""
    return _down(_up(a) / _F32(s), a)


def recip(a):
    """1 / a."""
    return _down(_F32(1) / _up(a), a)


def rdiv(s, a):
    """s / a for a number s: PyTorch computes reciprocal(a) * s."""
    return mul_s(recip(a), s)


def sqrt(a):
    """The square root of a."""
    return _down(np.sqrt(_up(a)), a)


def maximum(a, b):
    """The elementwise maximum (NaN where either is NaN; exact)."""
    return np.maximum(a, b)


def fma(a, b, c):
    """round_f32(a * b + c) of float32 arrays with one rounding (as a fused multiply-add)."""
    return (np.asarray(a, _F64) * np.asarray(b, _F64) + np.asarray(c, _F64)).astype(_F32)


def addcmul(a, b, c, value=1):
    """a + value * b * c: (value * b) in float32, then one fused multiply-add with c."""
    scaled = _up(b) if value == 1 else _F32(value) * _up(b)
    return _down(_up(a).astype(_F64) + scaled.astype(_F64) * _up(c).astype(_F64), a)


def addcdiv(a, b, c, value=1):
    """a + value * b / c, left to right in float32."""
    top = _up(b) if value == 1 else _F32(value) * _up(b)
    return _down(_up(a) + top / _up(c), a)


def lerp(a, b, weight):
    """a + weight * (b - a) for a number weight, in the form PyTorch's kernel picks by |w|."""
    w = _F32(weight)
    start, end = _up(a), _up(b)
    diff = (end - start).astype(_F64)
    if abs(w) < 0.5:
        out = start.astype(_F64) + _F64(w) * diff
    else:
        out = end.astype(_F64) - diff * _F64(_F32(1) - w)
    return _down(out, a)
