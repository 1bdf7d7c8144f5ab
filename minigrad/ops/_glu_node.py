"""``glu`` of a C-contiguous numpy float32 / float64 input as one node, in cache-sized blocks.

With the input seen as (pre, 2, L) (pre: the dims before ``dim``, L: half of ``dim`` times
the dims after it), the two halves a = x[:, 0] and b = x[:, 1] are strided views whose rows
are contiguous: each block of rows goes through the same ufuncs the composition
``a * sigmoid(b)`` ran, in the same order, so the values are the same bits:

    s   = 1 / (1 + e^-b)                 (sigmoid's kernel)
    out = a s
    d/da = g s,   d/db = ((g a)(1 - s)) s   (mul's and sigmoid's backwards)

The composition copied b out whole, wrote s, then the product, and its backward two
zero-padded half gradients and their sum (1M float32, one thread: forward 0.89 -> 0.5 ms,
backward 1.5 -> 0.6). The backward writes both halves of the input's gradient in place (a
-0.0 stays -0.0, as PyTorch's, where the padded sum made it +0.0). Under create_graph it is
written with ops (sigmoid, mul, cat), so it is differentiable again.
"""
from __future__ import annotations

import math

import numpy as np

from .. import parallel
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .elementary_functions import sigmoid
from .elementwise import mul, sub
from .stacking import cat

__all__ = ["GluArrays", "fits"]

_BLOCK = 1 << 16                 # numbers of a half per block: the temporaries stay in cache


def fits(a):
    """Whether the one-node form applies: a C-contiguous numpy float32/float64 array."""
    return type(a) is np.ndarray and a.dtype in (np.float32, np.float64) and \
        a.flags.c_contiguous and a.size > 0


def _pieces(rows, length):
    """The blocks of a (rows, length) array: (row slice, column slice) pairs of about _BLOCK
    numbers, whole rows where a row is shorter than a block."""
    if length >= _BLOCK:
        return [(slice(r, r + 1), slice(c, c + _BLOCK)) for r in range(rows)
                for c in range(0, length, _BLOCK)]
    step = max(1, _BLOCK // length)
    return [(slice(r, r + step), slice(None)) for r in range(0, rows, step)]


def _run(kernel, rows, length, nbytes):
    """kernel(row slice, column slice, work) over the blocks, the rows split over the
    threads; ``work``: a dict of scratch arrays kept over the blocks of a piece
    (``scratch``)."""
    def piece(start, stop):
        work = {}
        with np.errstate(all="ignore"):
            for rs, cs in _pieces(stop - start, length):
                kernel(slice(start + rs.start, min(stop, start + rs.stop)), cs, work)
    parallel.run_split(piece, rows, nbytes)


def scratch(work, like):
    """A scratch array of ``like``'s shape and dtype, from one buffer of ``work`` made at the
    first (and largest) block of a piece."""
    buf = work.get("s")
    if buf is None or buf.size < like.size:
        buf = work["s"] = np.empty(like.size, like.dtype)
    return buf[:like.size].reshape(like.shape)


class GluArrays(Function):
    """(..., 2h, ...) x -> (..., h, ...) a sigmoid(b) along ``dim`` (non-negative), x a
    C-contiguous numpy float32/float64 array; s kept (half x's size) where ``slope``: a
    backward may follow."""
    _node_name = "GluBackward0"

    def forward(self, x, *, dim, slope=True):
        self.dim = dim
        self.save_for_backward(x)
        shape = x.shape
        pre, half, post = math.prod(shape[:dim]), shape[dim] // 2, math.prod(shape[dim + 1:])
        length = half * post
        x3 = x.reshape(pre, 2, length)
        a, b = x3[:, 0], x3[:, 1]
        out = np.empty((pre, length), x.dtype)
        kept = np.empty((pre, length), x.dtype) if slope else None
        self.kept = kept

        def kernel(rs, cs, work):
            o = out[rs, cs]
            s = kept[rs, cs] if kept is not None else scratch(work, o)
            np.negative(b[rs, cs], out=s)
            np.exp(s, out=s)
            s += 1
            np.divide(1, s, out=s)
            np.multiply(a[rs, cs], s, out=o)
        _run(kernel, pre, length, 3 * out.nbytes)
        return out.reshape(shape[:dim] + (half,) + shape[dim + 1:])

    def backward(self, g):
        x, = self.saved_tensors
        kept, ga = self.kept, g._array
        if is_grad_enabled() or kept is None or type(ga) is not np.ndarray or \
                ga.dtype != kept.dtype:
            return self._grad_ops(x, g)
        xa = x._array
        pre, length = kept.shape
        x3 = xa.reshape(pre, 2, length)
        a = x3[:, 0]
        g2 = np.ascontiguousarray(ga).reshape(pre, length)
        grad = np.empty((pre, 2, length), xa.dtype)
        da, db = grad[:, 0], grad[:, 1]

        def kernel(rs, cs, work):
            s, gb = kept[rs, cs], g2[rs, cs]
            np.multiply(gb, s, out=da[rs, cs])
            out = db[rs, cs]
            np.multiply(gb, a[rs, cs], out=out)
            rest = np.subtract(1, s, out=scratch(work, s))
            out *= rest
            out *= s
        _run(kernel, pre, length, 4 * kept.nbytes)
        return Tensor._wrap(grad.reshape(xa.shape))

    def _grad_ops(self, x, g):
        """The same gradient written with ops (differentiable again)."""
        dim = self.dim
        size = x.shape[dim] // 2
        first = (slice(None),) * dim + (slice(0, size),)
        second = (slice(None),) * dim + (slice(size, 2 * size),)
        a, b = x[first], x[second]
        s = sigmoid(b)
        grad_a = mul(g, s)
        grad_b = mul(mul(mul(g, a), sub(1.0, s)), s)
        return cat([grad_a, grad_b], dim)
