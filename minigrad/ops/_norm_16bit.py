"""layer_norm on float16 / bfloat16 inputs, rounded where PyTorch's CPU kernel rounds, so that
the value and the gradients are PyTorch's bit for bit (or within an ulp where a float32 sum
runs in another order).

PyTorch computes a 16-bit layer norm in float32 and rounds at these places:

* forward: per row mu and rstd = 1 / sqrt(var + eps) in float32; y = (x rstd + (-rstd mu))
  * w + b in float32, rounded once. The saved mu and rstd have the parameters' dtype: with
  16-bit parameters (or none) they are rounded to 16 bits, and the backward reads them so;
  with float32 parameters they stay float32.
* backward, input: per row ds = sum g w x, db = sum g w (float32), then
  b = (db mu - ds) rstd^3 / N, c = -b mu - db rstd / N, and dx = rstd g w + b x + c, rounded
  once.
* backward, weight and bias: each of PyTorch's threads adds its run of rows into a buffer
  row of the input's 16-bit dtype, every addition rounded, so its result depends on its
  thread count. minigrad does not copy that: the rows' terms are summed in float32 and
  rounded once to the parameters' dtype (vectorised, the same on any thread count, and
  closer to the exact sum); the tests bound the difference from PyTorch's.

Everything works on float32 copies of the 16-bit values.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._batch_norm_16bit import fma_blocks, saved_and_wanted
from .elementary_functions import rsqrt
from .elementwise import add, cast, mul, sub
from .plumbing import reshape_to
from .reduce import mean, sum as reduce_sum

__all__ = ["to_f32", "rounded", "layer_norm_forward_16", "layer_norm_backward_16",
           "LayerNorm16", "group_norm_forward_16",
           "group_norm_backward_16", "GroupNorm16"]

_F32 = np.dtype("float32")


def to_f32(a):
    """A float32 copy of a 16-bit (or float32) array."""
    return dtypes.astype(np.asarray(a), _F32)


def rounded(a, half):
    """float32 ``a`` rounded to ``half`` and back to float32 (no-op for float32)."""
    if half == _F32:
        return np.asarray(a, _F32)
    return dtypes.astype(dtypes.astype(np.asarray(a, _F32), half), _F32)


def layer_norm_forward_16(x, w, b, eps, stats_dtype):
    """x (M, N), w, b (N,) or None: float32 copies of the 16-bit values. -> (y float32, to be
    rounded once; mu and rstd as saved: rounded to ``stats_dtype``)."""
    n = x.shape[1]
    mu = x.sum(axis=1, dtype=_F32) / np.float32(n) if n else np.zeros(x.shape[0], _F32)
    centred = x - mu[:, None]
    var = np.einsum("ij,ij->i", centred, centred) / np.float32(n) if n else mu
    rstd = np.float32(1) / np.sqrt(var + np.float32(eps))
    # (x rstd + shift) w + b as PyTorch's compiled kernel runs it: fused multiply-adds, each
    # product kept exact (float64) until its sum is rounded; in blocks of rows, so that no
    # float64 copy of the whole input is made
    y = np.empty(x.shape, _F32)
    shift = -rstd * mu
    for sl in fma_blocks(x.shape[0], x.shape[1]):
        t = x[sl].astype(np.float64) * rstd[sl, None] + shift[sl, None]
        if w is not None:
            t = t.astype(_F32).astype(np.float64) * w
            if b is not None:
                t += b
        y[sl] = t                                       # rounded once to float32
    if w is None and b is not None:
        y += b
    return y, rounded(mu, stats_dtype), rounded(rstd, stats_dtype)


def layer_norm_backward_16(x, g, mu, rstd, w, half, param_dtype, want_x, want_w, want_b):
    """The gradients of ``layer_norm_forward_16`` (all arrays float32; x, g (M, N); mu, rstd
    (M,) as saved). -> (dx, dw, db) float32 (None where not wanted), dx to be rounded to
    ``half``, dw and db already rounded to ``param_dtype``."""
    m, n = x.shape
    a = rstd[:, None]
    dx = dw = db = None
    if want_x:
        gw = g if w is None else g * w
        # (PyTorch's order of the three factors: g x w with 16-bit parameters, x (g w) with
        # float32 ones)
        ds = np.einsum("ij,ij->i", gw, x) if w is None or param_dtype == _F32 else \
            np.einsum("ij,j->i", g * x, w)
        dsum = gw.sum(axis=1, dtype=_F32)
        scale = np.float32(1) / np.float32(n)
        bb = (dsum * mu - ds) * rstd * rstd * rstd * scale
        c = -bb * mu - dsum * rstd * scale
        dx = gw * a if w is None else g * a * w
        dx += bb[:, None] * x
        dx += c[:, None]
    terms = []
    if want_w:
        shift = (-rstd * mu)[:, None]
        terms.append(g * (a * x + shift))
    if want_b:
        terms.append(g)
    if terms:                                           # both sums in one pass
        sums = [rounded(t.sum(axis=0, dtype=_F32), param_dtype) for t in terms]
        dw = sums.pop(0) if want_w else None
        db = sums.pop(0) if want_b else None
    return dx, dw, db


class LayerNorm16(Function):
    """layer_norm of a float16 / bfloat16 input as one node (PyTorch's NativeLayerNormBackward0),
    rounded as PyTorch's kernel rounds (above). x seen as (M, N) rows; ``stats`` the dtype the
    saved mu and rstd are rounded to (the input's with 16-bit or no parameters, float32 with
    float32 ones). Under create_graph the backward runs as float32 ops of x instead, so that a
    second derivative sees mu and rstd move with x."""
    def forward(self, x, *affine, k, has_weight, has_bias, eps, stats):
        half = x.dtype
        rows = x.shape[:x.ndim - k]
        m = int(np.prod(rows, dtype=np.int64))
        n = x.size // m if m else 0
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        y, mu, rstd = layer_norm_forward_16(
            to_f32(x).reshape(m, n), None if w is None else to_f32(w).reshape(-1),
            None if b is None else to_f32(b).reshape(-1), eps, stats)
        self.save_for_backward(x, w)
        self.mu, self.rstd, self.k, self.has_bias, self.eps = mu, rstd, k, has_bias, eps
        self.param_dtype = stats
        self.bias_shape = None if b is None else b.shape
        return dtypes.astype(y, half).reshape(x.shape)

    def backward(self, g):
        x, w, want_x, want_w, want_b = saved_and_wanted(self)
        if is_grad_enabled():
            return self._backward_ops(x, g, w, want_x, want_w, want_b)
        half = x._array.dtype
        m = self.mu.size
        n = x._array.size // m if m else 0
        dx, dw, db = layer_norm_backward_16(
            to_f32(x._array).reshape(m, n), to_f32(g._array).reshape(m, n), self.mu, self.rstd,
            None if w is None else to_f32(w._array).reshape(-1), half, self.param_dtype,
            want_x, want_w, want_b)
        grads = [None if dx is None else
                 Tensor._wrap(dtypes.astype(dx, half).reshape(x._array.shape))]
        if w is not None:
            grads.append(None if dw is None else Tensor._wrap(
                dtypes.astype(dw, w._array.dtype).reshape(w._array.shape)))
        if self.has_bias:
            grads.append(None if db is None else Tensor._wrap(
                dtypes.astype(db, self.param_dtype).reshape(self.bias_shape)))
        return tuple(grads)

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        """The closed form as float32 ops of x, results in the inputs' dtypes."""
        half = x._array.dtype
        axes = tuple(range(x.ndim - self.k, x.ndim))
        lead = tuple(range(x.ndim - self.k))
        x32, g32 = cast(x, _F32), cast(g, _F32)
        mu = mean(x32, axes, keepdim=True)
        centred = sub(x32, mu)
        invstd = rsqrt(add(mean(mul(centred, centred), axes, keepdim=True), self.eps))
        x_hat = mul(centred, invstd)
        gx = gw = gb = None
        if want_x:
            a = g32 if w is None else mul(g32, cast(w, _F32))
            gx = cast(mul(invstd, sub(sub(a, mean(a, axes, keepdim=True)),
                                      mul(x_hat, mean(mul(a, x_hat), axes, keepdim=True)))),
                      half)
        if want_w:
            gw = cast(reduce_sum(mul(g32, x_hat), lead) if lead else mul(g32, x_hat),
                      w._array.dtype)
        if want_b:
            gb = cast(reduce_sum(g32, lead) if lead else g32, self.param_dtype)
        return (gx,) + ((gw,) if w is not None else ()) + ((gb,) if self.has_bias else ())


def group_norm_forward_16(x, w, b, groups, eps, stats_dtype):
    """x (N, C, S) float32 copy of the 16-bit input, w, b (C,) or None. PyTorch's kernel: mu,
    rstd per (sample, group) in float32; y = (x - mu) rstd without parameters, else
    x scale_c + bias_c with scale_c = rstd w_c, bias_c = -scale_c mu + b_c. -> (y float32,
    mu and rstd (N, G) as saved)."""
    n, c, s = x.shape
    rows = x.reshape(n, groups, -1)
    d = rows.shape[2]
    mu = rows.sum(axis=2, dtype=_F32) / np.float32(d)
    centred = rows - mu[..., None]
    var = np.einsum("ngk,ngk->ng", centred, centred) / np.float32(d)
    rstd = np.float32(1) / np.sqrt(np.maximum(var, np.float32(0)) + np.float32(eps))
    if w is None and b is None:
        y = (centred * rstd[..., None]).reshape(n, c, s)
    else:
        per_c = np.repeat(rstd, c // groups, axis=1)                      # (N, C)
        scale = per_c if w is None else per_c * w
        bias = -scale * np.repeat(mu, c // groups, axis=1)
        if b is not None:
            bias += b
        y = x * scale[..., None] + bias[..., None]
    return y, rounded(mu, stats_dtype), rounded(rstd, stats_dtype)


def group_norm_backward_16(x, g, mu, rstd, w, groups, param_dtype, want_x, want_w, want_b):
    """The gradients of ``group_norm_forward_16`` (float32 arrays; x, g (N, C, S); mu, rstd
    (N, G) as saved). PyTorch's kernel: ds_nc = sum g x, db_nc = sum g (float32); per group
    ds = sum_c ds_nc w_c, db = sum_c db_nc w_c, c2 = (db mu - ds) rstd^3 / (D S),
    c3 = -c2 mu - db rstd / (D S), dx = rstd w_c g + c2 x + c3 (rounded once);
    dw_c = sum_n (ds_nc - db_nc mu) rstd, db_c = sum_n db_nc, in float32 (rounded once)."""
    n, c, s = x.shape
    cpg = c // groups
    ds_nc = np.einsum("ncs,ncs->nc", g, x)
    db_nc = g.sum(axis=2, dtype=_F32)
    dx = dw = db = None
    if want_x:
        wc = np.ones(c, _F32) if w is None else w
        ds = (ds_nc * wc).reshape(n, groups, cpg).sum(axis=2, dtype=_F32)
        dsum = (db_nc * wc).reshape(n, groups, cpg).sum(axis=2, dtype=_F32)
        scale = np.float32(1) / np.float32(cpg * s)
        c2 = (dsum * mu - ds) * rstd * rstd * rstd * scale
        c3 = -c2 * mu - dsum * rstd * scale
        c1 = np.repeat(rstd, cpg, axis=1) * wc                              # (N, C)
        dx = g * c1[..., None]
        dx += np.repeat(c2, cpg, axis=1)[..., None] * x
        dx += np.repeat(c3, cpg, axis=1)[..., None]
    if want_w:
        terms = (ds_nc - db_nc * np.repeat(mu, cpg, axis=1)) * np.repeat(rstd, cpg, axis=1)
        # PyTorch's order, the samples one by one: numpy adds the rows of an outer axis in order
        dw = rounded(terms.sum(axis=0, dtype=_F32), param_dtype)
    if want_b:
        db = rounded(db_nc.sum(axis=0, dtype=_F32), param_dtype)
    return dx, dw, db


class GroupNorm16(Function):
    """group_norm of a row-major float16 / bfloat16 input as one node (PyTorch's
    NativeGroupNormBackward0), rounded as PyTorch's kernel rounds (``group_norm_forward_16``,
    ``group_norm_backward_16``); under create_graph the backward runs as float32 ops."""
    def forward(self, x, *affine, groups, has_weight, has_bias, eps, stats):
        half = x.dtype
        n, c = x.shape[:2]
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        y, mu, rstd = group_norm_forward_16(
            to_f32(x).reshape(n, c, -1), None if w is None else to_f32(w),
            None if b is None else to_f32(b), groups, eps, stats)
        self.save_for_backward(x, w)
        self.mu, self.rstd, self.groups, self.has_bias, self.eps = mu, rstd, groups, \
            has_bias, eps
        self.param_dtype = stats
        return dtypes.astype(y, half).reshape(x.shape)

    def backward(self, g):
        x, w, want_x, want_w, want_b = saved_and_wanted(self)
        half = x._array.dtype
        n, c = x._array.shape[:2]
        if is_grad_enabled():
            return self._backward_ops(x, g, w, want_x, want_w, want_b)
        dx, dw, db = group_norm_backward_16(
            to_f32(x._array).reshape(n, c, -1), to_f32(g._array).reshape(n, c, -1), self.mu,
            self.rstd, None if w is None else to_f32(w._array), self.groups,
            self.param_dtype, want_x, want_w, want_b)
        grads = [None if dx is None else
                 Tensor._wrap(dtypes.astype(dx, half).reshape(x._array.shape))]
        if w is not None:
            grads.append(None if dw is None else Tensor._wrap(dtypes.astype(dw, w._array.dtype)))
        if self.has_bias:
            grads.append(None if db is None else Tensor._wrap(dtypes.astype(db,
                                                                            self.param_dtype)))
        return tuple(grads)

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        """The closed form as float32 ops of x, results in the inputs' dtypes."""
        half = x._array.dtype
        n, c = x.shape[:2]
        shape = tuple(x.shape)
        x32 = reshape_to(cast(x, _F32), (n, self.groups, x._array.size // (n * self.groups)))
        g32 = cast(g, _F32)
        mu = mean(x32, (2,), keepdim=True)
        centred = sub(x32, mu)
        invstd = rsqrt(add(mean(mul(centred, centred), (2,), keepdim=True), self.eps))
        x_hat = mul(centred, invstd)
        channel = (c,) + (1,) * (x.ndim - 2)
        others = (0,) + tuple(range(2, x.ndim))
        gx = gw = gb = None
        if want_x:
            a = g32 if w is None else mul(g32, reshape_to(cast(w, _F32), channel))
            a = reshape_to(a, tuple(x32.shape))
            gx = cast(reshape_to(mul(invstd, sub(sub(a, mean(a, (2,), keepdim=True)),
                                              mul(x_hat, mean(mul(a, x_hat), (2,),
                                                              keepdim=True)))), shape), half)
        if want_w:
            gw = cast(reduce_sum(mul(g32, reshape_to(x_hat, shape)), others), w._array.dtype)
        if want_b:
            gb = cast(reduce_sum(g32, others), self.param_dtype)
        return (gx,) + ((gw,) if w is not None else ()) + ((gb,) if self.has_bias else ())
