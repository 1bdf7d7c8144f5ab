"""``cosine_similarity``: PyTorch's composition, and for two float32/float64 tensors of one
shape and dtype the same as one node.

PyTorch divides each input by its 2-norm along ``dim``, that norm clamped to at least eps
in place without recording it (so the gradient reaches the norm even where the clamp
holds it at eps), multiplies the quotients and sums them along ``dim``.  The fused node
computes the value step for step in that order, so the roundings are the same; what goes is
a node per step (eight of them were most of the time on small tensors).  Its backward is
the composition's chain rule written in ops, so it is differentiable again:

    c_i = max(n_i, eps),  n_i = ||x_i||,  u_i = x_i / c_i,  g broadcast back along dim
    grad x_1 = g u_2 / c_1 + sum(-(g u_2) x_1 / (c_1 c_1)) (x_1 / n_1, 0 where n_1 = 0)
    (and the same with 1 and 2 swapped)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ._util import FLOAT32_64
from .elementwise import mul
from .division import div
from .movement import unsqueeze
from .norms import vector_norm
from .pointwise_select import where
from .reduce import sum

__all__ = ["ClampedNorm", "composed_cosine_similarity", "fused_cosine_similarity"]


def fused_cosine_similarity(x1, x2, dim, eps):
    """The fused node's result, or None where the composed form must run (other dtypes or
    shapes, a dim of one element, whose norm is |x|, or a dim out of range)."""
    a, b = x1._array, x2._array
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or \
            a.dtype not in FLOAT32_64 or a.shape != b.shape or type(dim) is not int or \
            not -a.ndim <= dim < a.ndim or a.shape[dim] < 2:
        return None
    return _CosineSimilarity.apply(x1, x2, dim=dim % a.ndim, eps=eps)


def _clamped_norm(a, dim, eps):
    """(the 2-norm of a along dim kept as a size-1 dim, that norm clamped below at eps)"""
    n = np.sqrt(np.sum(np.square(a), axis=dim, keepdims=True))
    return n, np.where(n < eps if eps == eps else True, a.dtype.type(eps), n)   # (NaN: all)


class ClampedNorm(Function):
    """max(n, eps) whose gradient is g everywhere: PyTorch clamps the norm in place under
    no_grad, so its graph sees the norm itself."""
    _node_name = "CloneBackward0"

    def forward(self, n, *, eps):
        return backend.xp_of(n).where(n < eps if eps == eps else True, n.dtype.type(eps), n)

    def backward(self, g):
        return g


def composed_cosine_similarity(x1, x2, dim, eps):
    """PyTorch's composition itself, node by node (x1 and x2 broadcast already)."""
    c1, c2 = (ClampedNorm.apply(vector_norm(x, 2, dim, keepdim=True), eps=eps)
              for x in (x1, x2))
    return sum(mul(div(x1, c1), div(x2, c2)), dim)


class _CosineSimilarity(Function):
    _node_name = "SumBackward1"             # PyTorch's last node: the sum along dim

    def forward(self, a, b, *, dim, eps):
        self.dim, self.eps = dim, eps
        _, ca = _clamped_norm(a, dim, eps)
        _, cb = _clamped_norm(b, dim, eps)
        out = np.sum(np.multiply(a / ca, b / cb), axis=dim, dtype=a.dtype)
        self.save_for_backward(a, b)
        return np.ascontiguousarray(out) if out.ndim else np.asarray(out)

    def backward(self, g):
        x1, x2 = self.saved_tensors
        dim, eps = self.dim, self.eps
        g = unsqueeze(g, dim)
        norms = [vector_norm(x, 2, dim, keepdim=True) for x in (x1, x2)]
        clamped = [ClampedNorm.apply(n, eps=eps) for n in norms]
        u1, u2 = div(x1, clamped[0]), div(x2, clamped[1])
        grads = []
        for x, n, c, other in ((x1, norms[0], clamped[0], u2), (x2, norms[1], clamped[1], u1)):
            gu = mul(g, other)
            gn = sum(div(mul(-gu, x), mul(c, c)), dim, keepdim=True)
            grads.append(div(gu, c) + mul(gn, where(n._array == 0, 0.0, div(x, n))))
        return tuple(grads)
