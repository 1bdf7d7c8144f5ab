"""binary_cross_entropy_with_logits (and binary_cross_entropy, ``BCE16`` below) on float16 /
bfloat16 inputs and target, rounded where PyTorch rounds, so that the value and both
gradients are PyTorch's bit for bit.

PyTorch composes this loss, and its two gradients, of tensor ops, each of which computes in
float32 and rounds its result to the 16-bit dtype:

    forward   ls = log_sigmoid(x);  with pos_weight: ls *= (pw - 1) * y + 1
              loss = (1 - y) * x - ls;  with weight: loss *= w
              'sum': sum (float32, rounded once); 'mean': that sum / N, rounded once
    d/dx      sigmoid(x) - y,  with pos_weight ((pw y + 1) - y) sigmoid(x) - pw y;
              then * g, * w, and / N for 'mean'
    d/dy      -x,  with pos_weight log_sigmoid(-x) - log_sigmoid(x) pw;  then * g, * w, / N

(every arrow of the chain a separate rounding; g is the gradient of the reduced loss, one
number for 'mean' and 'sum'). Everything here works on float32 copies of the 16-bit values
(``r`` rounds one step's result).
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function

__all__ = ["BCEWithLogits16", "bce_with_logits_16", "BCE16", "bce_16"]

_F32 = np.dtype("float32")


def _f32(a):
    return dtypes.astype(np.asarray(a), _F32)


def _reduced(loss, reduction, half, r):
    """The loss (float32, each element rounded) reduced as PyTorch reduces it, in ``half``:
    'none' as it is, 'sum' the float32 sum rounded once, 'mean' that sum divided, then
    rounded once (``r`` rounds to ``half``)."""
    if reduction == "none":
        return dtypes.astype(loss, half)
    total = loss.sum(dtype=_F32)
    total = r(total / np.float32(loss.size) if reduction == "mean" else total)
    return dtypes.astype(np.asarray(total, _F32).reshape(()), half)


def _finished(grad, w, reduction, n, shape, r, half):
    """A gradient's last steps, each rounded (``r``): times the weight, over N for 'mean';
    broadcast to ``shape`` and given in ``half``."""
    if w is not None:
        grad = r(grad * w)
    if reduction == "mean":
        grad = r(grad / n)
    return dtypes.astype(np.broadcast_to(grad, shape), half)


class _Rounder:
    """``r(a)``: float32 ``a`` rounded to the 16-bit dtype and back to float32."""
    def __init__(self, half):
        self.half = half

    def __call__(self, a):
        return dtypes.astype(dtypes.astype(np.asarray(a, _F32), self.half), _F32)


def _log_sigmoid(x):
    """log sigmoid(x) in float32 without overflow: min(x, 0) - log1p(exp(-|x|))."""
    return np.minimum(x, np.float32(0)) - np.log1p(np.exp(-np.abs(x)))


def _sigmoid(x):
    return np.float32(1) / (np.float32(1) + np.exp(-x))


class BCEWithLogits16(Function):
    """The loss reduced (``reduction`` 'none', 'mean' or 'sum') in one node, as PyTorch's
    BinaryCrossEntropyWithLogitsBackward0; x, y of one 16-bit dtype, weight and pos_weight
    arrays of it broadcast to x's shape, or None. First derivatives only, on arrays."""
    _node_name = "BinaryCrossEntropyWithLogitsBackward0"
    first_order_only = True

    def forward(self, x, y, *, weight, pos_weight, reduction, half):
        # (``half``, a dtype, also keeps Function.apply from widening bfloat16 inputs)
        r = _Rounder(half)
        xf, yf = _f32(x), _f32(y)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            ls = r(_log_sigmoid(xf))
            if pos_weight is not None:
                ls = r(ls * r(r(r(_f32(pos_weight) - 1) * yf) + 1))
            loss = r(r(r(1 - yf) * xf) - ls)
            if weight is not None:
                loss = r(loss * _f32(weight))
        self.x, self.y, self.weight, self.pos_weight = x, y, weight, pos_weight
        self.reduction = reduction
        return _reduced(loss, reduction, half, r)

    def backward(self, g):
        half = self.x.dtype
        r = _Rounder(half)
        xf, yf, gf = _f32(self.x), _f32(self.y), _f32(g)
        w = None if self.weight is None else _f32(self.weight)
        pw = None if self.pos_weight is None else _f32(self.pos_weight)
        n = np.float32(xf.size)
        gx = gy = None
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                sig = r(_sigmoid(xf))
                if pw is None:
                    gx = r(sig - yf)
                else:
                    t = r(pw * yf)
                    gx = r(r(r(r(t + 1) - yf) * sig) - t)
                gx = _finished(r(gx * gf), w, self.reduction, n, xf.shape, r, half)
            if self.needs_input_grad[1]:
                if pw is None:
                    gy = r(-xf * gf)
                else:
                    gy = r(r(r(_log_sigmoid(-xf)) - r(r(_log_sigmoid(xf)) * pw)) * gf)
                gy = _finished(gy, w, self.reduction, n, yf.shape, r, half)
        return gx, gy


def bce_with_logits_16(input, target, weight, pos_weight, reduction):
    """The loss as PyTorch computes it for 16-bit logits and target of one dtype (Tensors in,
    a Tensor out); weight and pos_weight numpy arrays of that dtype, broadcast, or None."""
    return BCEWithLogits16.apply(input, target, weight=weight, pos_weight=pos_weight,
                                 reduction=reduction, half=input._array.dtype)



class BCE16(Function):
    """binary_cross_entropy of 16-bit probabilities x and target y, reduced (PyTorch's
    BinaryCrossEntropyBackward0), rounded as PyTorch's CPU kernel rounds: its element kernel
    runs on c10 16-bit scalars, whose every operation computes in float32 and rounds back, and
    whose logs (of float32 arguments) are rounded too:

        loss = (y - 1) max(log1p(-x), -100) - y max(log(x), -100)
        d/dx = g (x - y) / max((1 - x) x, 1e-12)       (1e-12 itself rounded to the dtype:
                                                          0 in float16)
        d/dy = -logit(x) g      logit = log(x / (1 - x)), each of its three steps rounded

    then * w, and for 'mean' / N (each rounded); the reductions as in ``BCEWithLogits16``."""
    _node_name = "BinaryCrossEntropyBackward0"
    first_order_only = True

    def forward(self, x, y, *, weight, reduction, half):
        r = _Rounder(half)
        xf, yf = _f32(x), _f32(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_1mx = np.maximum(r(np.log1p(-xf)), np.float32(-100))
            log_x = np.maximum(r(np.log(xf)), np.float32(-100))
            loss = r(r(r(yf - 1) * log_1mx) - r(yf * log_x))
            if weight is not None:
                loss = r(loss * _f32(weight))
        self.x, self.y, self.weight, self.reduction, self.half = x, y, weight, reduction, half
        return _reduced(loss, reduction, half, r)

    def backward(self, g):
        half = self.half
        r = _Rounder(half)
        xf, yf, gf = _f32(self.x), _f32(self.y), _f32(g)
        w = None if self.weight is None else _f32(self.weight)
        n = np.float32(xf.size)
        gx = gy = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.needs_input_grad[0]:
                floor = r(np.float32(1e-12))
                gx = r(r(gf * r(xf - yf)) / np.maximum(r(r(1 - xf) * xf), floor))
                gx = _finished(gx, w, self.reduction, n, xf.shape, r, half)
            if self.needs_input_grad[1]:
                gy = r(-r(np.log(r(xf / r(1 - xf)))) * gf)     # logit's 16-bit steps
                gy = _finished(gy, w, self.reduction, n, yf.shape, r, half)
        return gx, gy


def bce_16(input, target, weight, reduction):
    """binary_cross_entropy as PyTorch computes it for 16-bit input and target of one dtype;
    ``weight`` a numpy array of that dtype broadcast to the input's shape, or None."""
    return BCE16.apply(input, target, weight=weight, reduction=reduction,
                       half=input._array.dtype)
