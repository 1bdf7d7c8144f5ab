"""Scaled dot-product attention as one node, for the calls PyTorch's CPU flash kernel takes.

``math_extra.scaled_dot_product_attention`` composes the attention from ops (a matmul, a
product by the scale, the mask added as a new tensor, a softmax guarded for fully masked rows,
a matmul), each a node with its own full-size passes forward and backward. Here, for numpy
float32/float64 query, key and value of shape (N, H, L, E), (N, H, S, E), (N, H, S, Ev) with
as many key heads as query heads, no dropout and a mask that needs no gradient:

    forward    A = softmax((q * scale) k^T + bias)        one batched product, in place after
               out = A v                                  (bias: the mask's 0 / -inf or float
                                                          values, plus the causal -inf)
    backward   dv = A^T g,  dA = g v^T
               dS = A * (dA - rowsum(dA * A))             in place
               dq = scale dS k,  dk = scale dS^T q

four batched products (the BLAS's) and a few passes. The causal mask is a cached (L, S)
array added in place (query i sees keys j <= i, as PyTorch aligns it for L != S too), not a
bool tensor made per call; where the scores' range cannot overflow exp, the softmax takes no
per-row max and zeroes the causal positions instead of adding -inf. A row with every key
masked gives 0 and a zero gradient, as PyTorch's kernel. Under ``create_graph`` the backward
is the same formula written with ops (the weights recomputed from q and k), so second
derivatives follow.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import FLOAT32_64
from .elementwise import add, mul, sub
from .matmul import matmul
from .movement import transpose
from .pointwise_select import where
from .softmax import _dot_sums, _sums, softmax

__all__ = ["attention", "fits"]

# softmax without the max where every unmasked score is within +-this (as softmax.py)
_NO_SHIFT = 64.0
_causal_cache = {}           # (L, S, dtype name) -> read-only (L, S) bias: 0 kept, -inf masked
_causal_upper = {}           # (L, S) -> read-only bool (L, S): True where j > i
_CACHE_SIZE = 16


def _cached(cache, key, make):
    value = cache.get(key)
    if value is None:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        value = make()
        value.flags.writeable = False
        cache[key] = value
    return value


def _upper(n_l, n_s):
    return _cached(_causal_upper, (n_l, n_s),
                   lambda: np.triu(np.ones((n_l, n_s), dtype=bool), 1))


def _causal_bias(n_l, n_s, dtype):
    return _cached(_causal_cache, (n_l, n_s, dtype.name),
                   lambda: np.where(_upper(n_l, n_s), -math.inf, 0.0).astype(dtype))


def fits(query, key, value, attn_mask):
    """Whether ``attention`` takes this call: numpy float32/float64 q, k, v of one dtype, 4-d,
    one batch and head count, non-empty; no mask, or a bool one or one of q's dtype, that
    needs no gradient, of at most 4 dims, broadcast to the scores (N, H, L, S)."""
    arrays = (query._array, key._array, value._array)
    if not all(type(a) is np.ndarray and a.ndim == 4 and a.size for a in arrays):
        return False
    q, k, v = arrays
    if q.dtype not in FLOAT32_64 or not q.dtype == k.dtype == v.dtype:
        return False
    if q.shape[:2] != k.shape[:2] or k.shape[:3] != v.shape[:3] or q.shape[3] != k.shape[3]:
        return False
    if attn_mask is None:
        return True
    m = attn_mask._array
    if not (type(m) is np.ndarray and m.ndim <= 4 and not attn_mask.requires_grad and
            (m.dtype == np.bool_ or m.dtype == q.dtype)):
        return False
    scores = q.shape[:3] + k.shape[2:3]
    try:            # a mask that would enlarge the scores: the caller's error, not this path
        return np.broadcast_shapes(scores, m.shape) == scores
    except ValueError:
        return False


def _mask_bias(mask, dtype):
    """A bool mask as the bias PyTorch adds (0 kept, -inf masked); a float one as it is."""
    if mask is None or mask.dtype != np.bool_:
        return mask
    return np.where(mask, 0.0, -math.inf).astype(dtype)


def _weights(q, k, scale, bias, causal):
    """softmax((q scale) k^T + bias (+ causal)) along the last dim, on arrays, in one new
    array; fully masked rows 0."""
    t = q.dtype.type
    scores = backend.matmul(np.multiply(q, t(scale), order="C"), np.swapaxes(k, -1, -2))
    n_l, n_s = scores.shape[-2:]
    with np.errstate(invalid="ignore", over="ignore"):
        if bias is None and causal and scores.size >= 1024:
            upper = _upper(n_l, n_s)
            lo, hi = scores.min(), scores.max()
            if -_NO_SHIFT <= lo and hi <= _NO_SHIFT:      # NaN fails: the shifted path
                np.exp(scores, out=scores)
                np.copyto(scores, t(0), where=upper)       # row i keeps key 0: never empty
                scores /= _sums(scores, scores.ndim - 1)
                return scores
        if bias is not None:
            scores += bias
        if causal:
            scores += _causal_bias(n_l, n_s, scores.dtype)
        top = scores.max(axis=-1, keepdims=True)
        dead = top == -math.inf
        any_dead = (bias is not None) and dead.any()
        if any_dead:
            top[dead] = 0
        scores -= top
        np.exp(scores, out=scores)
        scores /= _sums(scores, scores.ndim - 1)
        if any_dead:
            np.copyto(scores, t(0), where=dead)
    return scores


class Attention(Function):
    """softmax(q k^T scale + bias) v in one node (module docstring)."""

    def forward(self, q, k, v, *, bias, causal, scale):
        w = _weights(q, k, scale, bias, causal)
        self.save_for_backward(q, k, v)
        self.weights, self.bias, self.causal, self.scale = w, bias, causal, scale
        return backend.matmul(w, v)

    def backward(self, g):
        q, k, v = self.saved_tensors
        ga = g._array
        if not is_grad_enabled() and type(ga) is np.ndarray and ga.dtype == q._array.dtype:
            return tuple(None if r is None else Tensor._wrap(r)
                         for r in self._backward_arrays(ga, q._array, k._array, v._array))
        return self._backward_ops(g, q, k, v)

    def _backward_arrays(self, g, q, k, v):
        need_q, need_k, need_v = self.needs_input_grad[:3]
        w = self.weights
        t = q.dtype.type
        dv = backend.matmul(np.swapaxes(w, -1, -2), g) if need_v else None
        if not (need_q or need_k):
            return None, None, dv
        ds = backend.matmul(g, np.swapaxes(v, -1, -2))                # dA
        with np.errstate(invalid="ignore", over="ignore"):
            ds -= _dot_sums(ds, w, ds.ndim - 1)
            ds *= w
            dq = backend.matmul(ds, k) if need_q else None
            dk = backend.matmul(np.swapaxes(ds, -1, -2), q) if need_k else None
            if dq is not None:
                dq *= t(self.scale)
            if dk is not None:
                dk *= t(self.scale)
        return dq, dk, dv

    def _backward_ops(self, g, q, k, v):
        """The same gradients as ops of q, k, v and g: differentiable again."""
        scores = mul(matmul(q, transpose(k, -2, -1)), self.scale)
        n_l, n_s = scores.shape[-2:]
        bias = self.bias
        if self.causal:
            causal = _causal_bias(n_l, n_s, q._array.dtype)
            bias = causal if bias is None else bias + causal
        if bias is not None:
            scores = add(scores, Tensor._wrap(np.asarray(bias)))
        dead = (scores._array == -math.inf).all(axis=-1, keepdims=True)
        if dead.any():
            w = where(dead, 0.0, softmax(where(dead, 0.0, scores), -1))
        else:
            w = softmax(scores, -1)
        dv = matmul(transpose(w, -2, -1), g)
        da = matmul(g, transpose(v, -2, -1))
        ds = mul(w, sub(da, mul(da, w).sum(-1, keepdim=True)))
        dq = mul(matmul(ds, k), self.scale)
        dk = mul(matmul(transpose(ds, -2, -1), q), self.scale)
        return dq, dk, dv


def attention(query, key, value, attn_mask, is_causal, scale):
    """The attention of ``fits``'s calls as one node (``scale`` a number)."""
    bias = None if attn_mask is None else _mask_bias(attn_mask._array, query._array.dtype)
    return Attention.apply(query, key, value, bias=bias, causal=bool(is_causal),
                           scale=float(scale))
