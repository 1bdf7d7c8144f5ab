"""Scaled dot-product attention as one node, for the calls PyTorch's CPU flash kernel takes.

``attention.scaled_dot_product_attention`` composes the attention from ops (a matmul, a
product by the scale, the mask added as a new tensor, a softmax guarded for fully masked rows,
a matmul), each a node with its own full-size passes forward and backward. Here, for numpy
float32/float64 query, key and value of shape (N, H, L, E), (N, H, S, E), (N, H, S, Ev) with
as many key heads as query heads, no dropout and a mask that needs no gradient:

    forward    A = softmax(q (scale k^T) + bias)          one batched product, in place after
               out = A v                                  (bias: the mask's 0 / -inf or float
                                                          values, plus the causal -inf)
    backward   dv = A^T g,  dA = g v^T
               scale dS = A * (scale dA - rowsum(scale dA * A))   in place
               dq = (scale dS) k,  dk = (scale dS)^T q

four batched products (the BLAS's) and a few passes. The causal mask is a cached (L, S)
array added in place (query i sees keys j <= i, as PyTorch aligns it for L != S too), not a
bool tensor made per call; the softmax takes no per-row max where its row sums show that
none was needed (``_softmax_in_place``). The products q k^T and g v^T take k^T and v^T
copied row-major (the scale riding on k^T's copy): the BLAS's untransposed form is the
faster one for these small matrices. A row with every key masked gives 0 and a zero
gradient, as PyTorch's kernel.
Under ``create_graph`` the backward is the same formula written with ops (the weights
recomputed from q and k), so second derivatives follow.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..parallel import get_num_threads, over_batch
from ..tensor import Tensor
from ._util import FLOAT32_64
from .elementwise import add, mul, sub
from .matmul import matmul
from .movement import transpose
from .pointwise_select import where
from .softmax import _dot_sums, softmax

__all__ = ["attention", "fits"]

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


def _scaled_keys(k, scale):
    """scale k^T as a row-major stack (N, H, E, S): the products q (scale k^T) then take
    both operands untransposed, the BLAS's faster form for these small matrices (16x4
    heads of 64x32 by 32x64, float32, one thread: 0.31 ms with this copy against 0.41 with
    a transposed operand, q scaled instead)."""
    return np.multiply(np.swapaxes(k, -1, -2), k.dtype.type(scale), order="C")


def _row_sums(a):
    """a's sums along its last dim, kept as a size-1 dim: a matrix-vector product (rows of
    64: 0.6x einsum's time)."""
    return np.matmul(a, np.ones(a.shape[-1], a.dtype))[..., None]


def _least_sum(dtype):
    """The least row sum of exps for which a softmax without the shift by the row's max is
    kept: the square root of the dtype's smallest normal number. An exp that underflowed
    beside such a sum then changes its weight by less than that square root (1e-19 in
    float32, 1e-154 in float64), far below the rounding of the weights that matter."""
    return float(np.sqrt(np.finfo(dtype).tiny))


def _softmax_in_place(scores, bias, causal, recompute):
    """scores -> softmax(scores + bias (+ causal)) along the last dim, in place; fully masked
    rows 0. First without the shift by the row's max: exp, the row sums, and a check of
    them (finite, at least ``_least_sum``; NaN fails), a few numbers per row where the
    scores' min and max were two passes over them. Where any row fails (an exp overflowed,
    a row fully masked or far below zero), ``recompute()`` writes the scores again and they
    take the shifted form, as PyTorch's kernel."""
    t = scores.dtype.type
    n_l, n_s = scores.shape[-2:]
    with np.errstate(invalid="ignore", over="ignore", under="ignore", divide="ignore"):
        # the masks added before exp: exp makes the masked weights 0 in its own pass
        # (zeroing them after exp by a bool mask was a pass of twice the cost)
        if bias is not None:
            scores += bias
        if causal:
            scores += _causal_bias(n_l, n_s, scores.dtype)
        np.exp(scores, out=scores)
        total = _row_sums(scores)
        if np.all(total >= _least_sum(scores.dtype)) and np.all(total < math.inf):
            scores /= total
            return scores
        recompute()
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
        scores /= _row_sums(scores)
        if any_dead:
            np.copyto(scores, t(0), where=dead)
    return scores


def _weights_into(q, k, scale, bias, causal, out=None):
    """softmax((q scale) k^T + bias (+ causal)) along the last dim, on arrays, into ``out``
    (None: a new array made by ``backend.matmul``, which keeps a mid-sized product off the
    BLAS's threads); fully masked rows 0."""
    keys = _scaled_keys(k, scale)
    if out is None:
        out = backend.matmul(q, keys)
    else:
        np.matmul(q, keys, out=out)
    return _softmax_in_place(out, bias, causal, lambda: np.matmul(q, keys, out=out))


# the split over the threads below pays from about this many multiply-adds of the products
# q k^T (a meeting of the threads costs tens of microseconds)
_SPLIT_MACS = 1 << 20


def _parts(q, k):
    """The axis along which the threads share an attention (the batch, or the heads of a
    single sample), its length; None when one thread does it all (``over_batch`` decides
    the rest)."""
    n, h, n_l, e = q.shape
    if get_num_threads() == 1 or n * h < 2 or n * h * n_l * k.shape[2] * e < _SPLIT_MACS:
        return None
    return (0, n) if n >= 2 else (1, h)


def _cut(axis, i, j):
    return (slice(i, j),) if axis == 0 else (slice(None), slice(i, j))


def _forward_split(q, k, v, bias, causal, scale, axis, n):
    """The forward with each thread computing the attention of its part of the batch (or
    heads) -- products on one BLAS thread, softmax passes in its own cache -- in one run
    (each part's softmax settles its own shift). None if ``over_batch`` declines."""
    scores = np.empty(q.shape[:3] + k.shape[2:3], q.dtype)
    full_bias = None if bias is None else np.broadcast_to(bias, scores.shape)
    out = np.empty(q.shape[:3] + v.shape[3:], q.dtype)

    def piece(i, j):
        c = _cut(axis, i, j)
        w = _weights_into(q[c], k[c], scale, None if full_bias is None else full_bias[c],
                          causal, scores[c])
        np.matmul(w, v[c], out=out[c])
    if not over_batch(piece, n):
        return None
    return scores, out


class Attention(Function):
    """softmax(q k^T scale + bias) v in one node (module docstring)."""

    def forward(self, q, k, v, *, bias, causal, scale):
        parts = _parts(q, k)
        done = None if parts is None else _forward_split(q, k, v, bias, causal, scale, *parts)
        if done is None:
            w = _weights_into(q, k, scale, bias, causal)
            out = backend.matmul(w, v)
        else:
            w, out = done
        self.save_for_backward(q, k, v)
        self.weights, self.bias, self.causal, self.scale = w, bias, causal, scale
        return out

    def backward(self, g):
        q, k, v = self.saved_tensors
        ga = g._array
        if not is_grad_enabled() and type(ga) is np.ndarray and ga.dtype == q._array.dtype:
            return tuple(None if r is None else Tensor._wrap(r)
                         for r in self._backward_arrays(ga, q._array, k._array, v._array))
        return self._backward_ops(g, q, k, v)

    def _backward_arrays(self, g, q, k, v):
        need_q, need_k, need_v = self.needs_input_grad[:3]
        parts = _parts(q, k)
        if parts is not None:
            axis, n = parts
            dq = np.empty(q.shape, q.dtype) if need_q else None
            dk = np.empty(k.shape, k.dtype) if need_k else None
            dv = np.empty(v.shape, v.dtype) if need_v else None

            def piece(i, j):
                c = _cut(axis, i, j)
                self._grads_into(g[c], q[c], k[c], v[c], self.weights[c],
                                 (need_q, need_k, need_v),
                                 tuple(None if a is None else a[c] for a in (dq, dk, dv)))
            # (each thread its part of the batch: the four products and the passes between)
            if over_batch(piece, n):
                return dq, dk, dv
        return self._grads_into(g, q, k, v, self.weights, (need_q, need_k, need_v),
                                (None, None, None))

    def _grads_into(self, g, q, k, v, w, needs, outs):
        """(dq, dk, dv) from g and the weights w, each None where ``needs`` says so: written
        into ``outs`` (a thread's part of them), or where an out is None made by
        ``backend.matmul`` (which keeps a mid-sized product off the BLAS's threads)."""
        def product(a, b, out):
            if out is None:
                return backend.matmul(a, b)
            return np.matmul(a, b, out=out)
        t = q.dtype.type
        need_q, need_k, need_v = needs
        dv = product(np.swapaxes(w, -1, -2), g, outs[2]) if need_v else None
        if not (need_q or need_k):
            return None, None, dv
        with np.errstate(invalid="ignore", over="ignore"):
            # scale dA, from g and scale v^T copied row-major (an untransposed product, as
            # in the forward; the scale taken there, not in two passes over dq and dk)
            ds = product(g, np.multiply(np.swapaxes(v, -1, -2), t(self.scale), order="C"),
                         None)
            ds -= _dot_sums(ds, w, ds.ndim - 1)
            ds *= w                                                     # scale dS
            dq = product(ds, k, outs[0]) if need_q else None
            dk = product(np.swapaxes(ds, -1, -2), q, outs[1]) if need_k else None
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
