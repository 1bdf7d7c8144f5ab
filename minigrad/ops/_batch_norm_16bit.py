"""Batch normalisation of a float16 / bfloat16 input, rounded where PyTorch's CPU kernel rounds,
for a row-major input with more than one value per (sample, channel): the kernel behind
``instance_norm`` (PyTorch runs it as a batch norm of one sample with N * C channels), and
``BatchNorm16`` for ``batch_norm`` (training and evaluation).

PyTorch, per channel c over its n values (all samples, all positions), in float32:

    mean = sum(x) / n                         saved rounded to 16 bits
    var_sum = sum((x - mean)^2)               (the unrounded mean)
    invstd = 1 / sqrt(var_sum / n + eps)      saved rounded to 16 bits; for bfloat16 var_sum
                                              is first rounded, and var_sum / n computed
                                              in bfloat16 (n rounded to it too)
    y = x alpha + beta,  alpha = invstd w,  beta = b - mean alpha   (saved values; one fused
                                              multiply-add, rounded once)

and the backward, with the saved mean and invstd:

    s = sum(g),  dotp = sum((x - mean) g),  k = dotp invstd^2 / n
    dx = (g - s / n - (x - mean) k) invstd w        rounded once
    dw = dotp invstd,  db = s                         rounded to the parameters' dtype

In evaluation mode mean is the running mean and invstd = 1 / sqrt(running_var + eps) in
float32 (not rounded); dx = g invstd w.

Everything works on float32 copies of the 16-bit values.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .elementary_functions import rsqrt
from .elementwise import add, cast, mul, sub
from .plumbing import reshape_to
from .reduce import mean, sum as reduce_sum

__all__ = ["saved_and_wanted", "fma_blocks", "batch_norm_stats_16", "batch_norm_apply_16",
           "batch_norm_grads_16", "running_invstd_16", "fits", "BatchNorm16"]

_F32 = np.dtype("float32")


def saved_and_wanted(node):
    """(x, w, want_x, want_w, want_b) of a 16-bit normalisation node (``has_bias``, saved x and
    w): which of its gradients are needed, the weight's and the bias's only where given."""
    x, w = node.saved_tensors
    need = node.needs_input_grad
    return x, w, need[0], w is not None and need[1], node.has_bias and need[-1]


def _f32(a):
    return dtypes.astype(np.asarray(a), _F32)


def _r(a, half):
    """float32 ``a`` rounded to ``half`` and back to float32."""
    return dtypes.astype(dtypes.astype(np.asarray(a, _F32), half), _F32)


def batch_norm_stats_16(x, eps, half):
    """x (N, C, S) float32 copy of the 16-bit input -> (mean, invstd) per channel, float32
    values of the saved 16-bit statistics."""
    n = x.shape[0] * x.shape[2]
    total = x.sum(axis=(0, 2), dtype=_F32)
    mean = total / np.float32(n)
    # one value per (sample, channel): PyTorch's channels-last kernel, whose bfloat16 variance
    # reads the mean as saved (rounded)
    centred = x - (_r(mean, half) if x.shape[2] == 1 and half == dtypes.BFLOAT16 else
                   mean)[None, :, None]
    var_sum = np.einsum("ncs,ncs->c", centred, centred)
    if half == dtypes.BFLOAT16:
        var = _r(_r(var_sum, half) / _r(np.float32(n), half), half)
    else:
        var = var_sum / np.float32(n)
    invstd = np.float32(1) / np.sqrt(var + np.float32(eps))
    return _r(mean, half), _r(invstd, half)


def batch_norm_apply_16(x, w, b, mean, invstd):
    """y = x alpha + beta per channel (float32; to be rounded once)."""
    alpha = invstd if w is None else invstd * w
    beta = -(mean * alpha) if b is None else b - mean * alpha
    # one fused multiply-add, as PyTorch's compiled kernel: x alpha is not rounded before
    # beta is added (float64 holds the product exactly); on (N C, S) rows in blocks, so that
    # no float64 copy of the whole input is made
    n, c, s = x.shape
    rows = x.reshape(n * c, s)
    alpha, beta = (np.tile(v.astype(np.float64), n) for v in (alpha, beta))
    y = np.empty(rows.shape, _F32)
    for sl in fma_blocks(n * c, s):
        t = rows[sl].astype(np.float64) * alpha[sl, None]
        t += beta[sl, None]
        y[sl] = t                                       # rounded once to float32
    return y.reshape(x.shape)


# numbers per block of the float64 products that stand for fused multiply-adds
_FMA_BLOCK = 1 << 15


def fma_blocks(m, n):
    """The rows 0..m of n numbers as slices of whole rows, about _FMA_BLOCK numbers each."""
    step = max(1, _FMA_BLOCK // max(n, 1))
    return [slice(i, min(i + step, m)) for i in range(0, m, step)]


def batch_norm_grads_16(x, g, w, mean, invstd, want_x, want_w, want_b):
    """The training-mode gradients (float32; dx to be rounded to the input's dtype, dw and db
    to the parameters')."""
    n = x.shape[0] * x.shape[2]
    s = g.sum(axis=(0, 2), dtype=_F32)
    centred = x - mean[None, :, None]
    dotp = np.einsum("ncs,ncs->c", centred, g)
    dx = None
    if want_x:
        k = dotp * invstd * invstd / np.float32(n)
        grad_mean = s / np.float32(n)
        dx = g - grad_mean[None, :, None]
        dx -= centred * k[None, :, None]
        dx *= invstd[None, :, None]
        if w is not None:
            dx *= w[None, :, None]
    return dx, (dotp * invstd if want_w else None), (s if want_b else None)


def running_invstd_16(running_var, eps):
    """Evaluation mode's invstd from the running variance (float32 values of its 16-bit ones):
    1 / sqrt(var + eps) in float32, not rounded (PyTorch keeps it in float32)."""
    return np.float32(1) / np.sqrt(np.asarray(running_var, _F32) + np.float32(eps))


def fits(x, *params):
    """Whether ``BatchNorm16`` serves this call: a row-major numpy 16-bit input of at least
    2 dims, its parameters (those given) of its dtype."""
    a = x._array
    return type(a) is np.ndarray and dtypes.reduced_float(a.dtype) and a.ndim >= 2 and \
        a.size > 0 and a.flags.c_contiguous and \
        all(p is None or p._array.dtype == a.dtype for p in params)


class BatchNorm16(Function):
    """batch_norm of a 16-bit input (``fits``) as PyTorch's kernel rounds it (PyTorch's
    NativeBatchNormBackward0): training with the batch's statistics, or evaluation with the
    running ones (16-bit arrays); ``half`` is the input's dtype. In training
    ``update(running_mean, running_var, mean, var, count, momentum)`` is called with the
    batch's float32 mean and biased variance, for the caller's running-statistics rule.
    Under create_graph the backward runs as float32 ops."""
    _node_name = "NativeBatchNormBackward0"

    def forward(self, x, *affine, running_mean, running_var, has_weight, has_bias, training,
                momentum, eps, update, half):
        # (``half``: the input's dtype, which also keeps Function.apply from widening a
        # bfloat16 input to float32)
        n, c = x.shape[:2]
        w = None if not has_weight else _f32(affine[0]).reshape(-1)
        b = None if not has_bias else _f32(affine[-1]).reshape(-1)
        rows = _f32(x).reshape(n, c, -1)
        if training:
            mean, invstd = batch_norm_stats_16(rows, eps, half)
            if update is not None and (running_mean is not None or running_var is not None):
                m = rows.mean(axis=(0, 2))
                var = np.square(rows - m[None, :, None]).mean(axis=(0, 2))
                update(running_mean, running_var, m, var, n * rows.shape[2], momentum)
        else:
            mean = _f32(running_mean)
            invstd = running_invstd_16(_f32(running_var), eps)
        self.save_for_backward(x, affine[0] if has_weight else None)
        self.mean, self.invstd, self.training, self.has_bias, self.eps = mean, invstd, \
            training, has_bias, eps
        self.bias_shape = affine[-1].shape if has_bias else None
        return dtypes.astype(batch_norm_apply_16(rows, w, b, mean, invstd), half).reshape(
            x.shape)

    def backward(self, g):
        x, w, want_x, want_w, want_b = saved_and_wanted(self)
        if is_grad_enabled():
            return self._backward_ops(x, g, w, want_x, want_w, want_b)
        half = x._array.dtype
        n, c = x._array.shape[:2]
        rows = _f32(x._array).reshape(n, c, -1)
        gf = _f32(g._array).reshape(rows.shape)
        wf = None if w is None else _f32(w._array).reshape(-1)
        if self.training:
            dx, dw, db = batch_norm_grads_16(rows, gf, wf, self.mean, self.invstd, want_x,
                                             want_w, want_b)
        else:                 # evaluation: dx = g invstd w; dw, db as in training
            _, dw, db = batch_norm_grads_16(rows, gf, wf, self.mean, self.invstd, False,
                                            want_w, want_b)
            scale = self.invstd if wf is None else self.invstd * wf
            dx = gf * scale[None, :, None] if want_x else None
        grads = [None if dx is None else
                 Tensor._wrap(dtypes.astype(dx, half).reshape(x._array.shape))]
        if w is not None:
            grads.append(Tensor._wrap(dtypes.astype(dw, half).reshape(w._array.shape))
                         if want_w else None)
        if self.has_bias:
            grads.append(Tensor._wrap(dtypes.astype(db, half).reshape(self.bias_shape))
                         if want_b else None)
        return tuple(grads)

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        """The closed form as float32 ops of x (training: the batch's statistics move with
        x), results in the inputs' dtypes."""
        half = x._array.dtype
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        x32, g32 = cast(x, _F32), cast(g, _F32)
        if self.training:
            mu = mean(x32, axes, keepdim=True)
            centred = sub(x32, mu)
            invstd = rsqrt(add(mean(mul(centred, centred), axes, keepdim=True), self.eps))
        else:
            centred = sub(x32, Tensor._wrap(self.mean.reshape(shape)))
            invstd = Tensor._wrap(self.invstd.reshape(shape))
        x_hat = mul(centred, invstd)
        a = g32 if w is None else mul(g32, reshape_to(cast(w, _F32), shape))
        gx = gw = gb = None
        if want_x:
            gx = mul(invstd, sub(sub(a, mean(a, axes, keepdim=True)),
                                 mul(x_hat, mean(mul(a, x_hat), axes, keepdim=True)))) \
                if self.training else mul(a, invstd)
            gx = cast(gx, half)
        if want_w:
            gw = cast(reshape_to(reduce_sum(mul(g32, x_hat), axes), tuple(w.shape)), half)
        if want_b:
            gb = cast(reshape_to(reduce_sum(g32, axes), self.bias_shape), half)
        return (gx,) + ((gw,) if w is not None else ()) + ((gb,) if self.has_bias else ())
