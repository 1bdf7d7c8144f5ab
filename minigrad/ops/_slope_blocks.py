"""The backward of a pointwise function, ``g * f'(saved)``, in one pass over cache-sized
blocks, when no graph of the gradient is wanted.

Written as Tensor ops (``mul(g, sub(1, mul(y, y)))`` for tanh), a slope is three passes over
the whole array, each writing a new array of its size (16 MiB for a 4096x1024 float32, every
page of it touched for the first time).  Here each block of ``BLOCK`` numbers goes through the
same ufuncs, in PyTorch's kernels' order of rounding, while it is in cache, into the one
result::

    out[b : b + BLOCK] = g[b : b + BLOCK] * slope(saved[b : b + BLOCK])     block by block

``g`` is either an array of the result's shape or, the gradient of a ``sum()`` or a
``mean()``, one number expanded over it (every stride 0); both are taken.
"""
from __future__ import annotations

import numpy as np

from .. import parallel
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import FLOAT32_64 as _FLOATS

__all__ = ["BLOCK", "slope_times", "sigmoid_slope", "tanh_slope", "sin_slope", "cos_slope"]

BLOCK = 1 << 16      # numbers per block: a block's temporaries stay in cache


def slope_times(g, saved, kernel):
    """``kernel``'s ``g * slope(saved)`` as a Tensor, or None where the fast path does not
    apply (a graph of the gradient wanted, another device or dtype, a layout other than
    C order, a g of another shape that is not one expanded number): the caller then writes
    it with Tensor ops.  ``kernel(s, g, out)`` works on 1-D pieces; g is a 1-element array
    when it is one number."""
    s, ga = saved._array, g._array
    if is_grad_enabled() or type(s) is not np.ndarray or type(ga) is not np.ndarray or \
            s.dtype not in _FLOATS or ga.dtype != s.dtype or ga.shape != s.shape or \
            not s.flags.c_contiguous:
        return None
    out = np.empty_like(s)
    if ga.flags.c_contiguous:
        parallel.map_pieces(kernel, s.reshape(-1), ga.reshape(-1), out.reshape(-1))
    elif s.size and not any(ga.strides):
        one = np.full(1, ga[(0,) * ga.ndim], ga.dtype)
        parallel.map_pieces(lambda sb, ob: kernel(sb, one, ob), s.reshape(-1), out.reshape(-1))
    else:
        return None
    return Tensor._wrap(out)


def _blocks(n):
    return range(0, n, BLOCK)


def _g(g, b):
    return g if g.size == 1 else g[b:b + BLOCK]


# (each kernel is silent, as the ops it replaces: 0 * inf is NaN here as there; a worker
# thread has numpy's default warnings, not the caller's setting)
def sigmoid_slope(s, g, out):
    """out = (g (1 - s)) s, s sigmoid's result (PyTorch's kernel's order of rounding)."""
    with np.errstate(all="ignore"):
        for b in _blocks(s.size):
            sb, ob = s[b:b + BLOCK], out[b:b + BLOCK]
            np.subtract(1, sb, out=ob)
            np.multiply(_g(g, b), ob, out=ob)
            ob *= sb


def tanh_slope(y, g, out):
    """out = g (1 - y^2), y tanh's result."""
    with np.errstate(all="ignore"):
        for b in _blocks(y.size):
            yb, ob = y[b:b + BLOCK], out[b:b + BLOCK]
            np.multiply(yb, yb, out=ob)
            np.subtract(1, ob, out=ob)
            np.multiply(_g(g, b), ob, out=ob)


def sin_slope(a, g, out):
    """out = g cos(a), a sin's input."""
    with np.errstate(all="ignore"):
        for b in _blocks(a.size):
            ob = out[b:b + BLOCK]
            np.cos(a[b:b + BLOCK], out=ob)
            np.multiply(_g(g, b), ob, out=ob)


def cos_slope(a, g, out):
    """out = (-g) sin(a), a cos's input."""
    with np.errstate(all="ignore"):
        for b in _blocks(a.size):
            ob = out[b:b + BLOCK]
            np.sin(a[b:b + BLOCK], out=ob)
            np.multiply(np.negative(_g(g, b)), ob, out=ob)
