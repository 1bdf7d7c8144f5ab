"""``nll_loss`` of log-probabilities with spatial dims, (N, C, d1, ...), as one node on the
input as it is laid out (PyTorch's NllLoss2DBackward0, whose next function is the input's).

``loss.ClassNLL`` works on (M, C) rows: for spatial scores the class axis was moved last
first, a copy of the whole input (permute + reshape), and its gradient, a dense (M, C)
array, went back through the two views into another copy. Without label smoothing, logits
or 16-bit rounding the loss reads one number per position, input[n, t, s] (``take`` at
flat positions), and its gradient has one number per position there, in zeros of the
input's (N, C, S) layout. The numbers are ClassNLL's, in its order:

    loss[n, s] = (-w[t]) * input[n, t, s]      (w[t] 0 for an ignored target)
    'mean': sum(loss) / sum(w[t]);  'sum': sum(loss);  'none': loss (N, d1, ...)
    (the sums in PyTorch's order, ``_nll_cascade``)
    d input[n, t, s] = ((-coef) * w[t]) * g    (coef 1 / the summed weights for 'mean')

Under a recorded graph the gradient is g (as an op) times the constant coefficients, so it
can be differentiated with respect to g again, as ClassNLL's.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._nll_cascade import cascade_reduce, grad_entries
from ._util import FLOAT32_64
from ._nll_second_order import nll_scores_grad
from .elementwise import mul
from .plumbing import reshape_to
from .pointwise_select import where

__all__ = ["fits", "SpatialNLL"]


def fits(input, from_logits, smoothing):
    """Whether ``SpatialNLL`` takes the loss: a C-ordered, non-empty numpy float32/float64
    input with spatial dims, log-probabilities, no smoothing (so no 16-bit rounding)."""
    a = input._array
    return (not from_logits and not smoothing and input.ndim > 2 and
            type(a) is np.ndarray and a.dtype in FLOAT32_64 and a.size > 0 and
            a.flags.c_contiguous)


class SpatialNLL(Function):
    """input (N, C, d1, ...) log-probabilities, target (N, d1, ...) int64 (checked: in
    [0, C) or ``ignore_index``; ``all_valid``: every one in range and none ignored), weight
    (C,) or None -> the loss, reduced by ``reduction`` ('none': shaped as target, or as
    ``out_shape``: PyTorch's (N, H, W) node output for a 4-d input, which it views for others)."""
    _node_name = "NllLoss2DBackward0"

    def forward(self, x, *, target, weight, ignore_index, reduction, all_valid,
                out_shape=None):
        n, c = x.shape[:2]
        s = x.size // (n * c)
        m = n * s
        t = target.reshape(m)
        valid = None
        if not all_valid:
            valid = t != ignore_index
            t = np.where(valid, t, 0)
        # flat position of (n, t, s): (n C + t) S + s
        pos = (np.arange(n, dtype=np.int64) * (c * s))[:, None] + \
            np.arange(s, dtype=np.int64)[None, :]
        pos = pos.reshape(m) + t * s
        picked = np.take(x.reshape(-1), pos, mode="clip")
        if all_valid and weight is None:
            w_t = None
            loss = -picked
        else:
            w_class = weight if weight is not None else np.ones(c, dtype=x.dtype)
            w_t = w_class.take(t) if all_valid else w_class.take(t) * valid
            loss = (-1.0 * w_t) * picked
        if reduction == "none":
            denominator = None
            out = loss.reshape(target.shape if out_shape is None else out_shape)
        else:       # PyTorch's order of additions over the positions (n, d1, ...)
            out, denominator = cascade_reduce(loss, valid, None if weight is None else w_t,
                                              reduction)
        self.pos, self.w_t, self.denominator, self.reduction = pos, w_t, denominator, reduction
        self.valid = valid
        self.in_shape, self.m, self.dtype = x.shape, m, x.dtype
        self.save_for_backward(x)       # (as PyTorch's node: its double backward counts it)
        return np.asarray(out).astype(x.dtype, copy=False)

    def backward(self, g):
        coef = 1.0
        if self.reduction == "mean":
            if self.denominator != 0:
                coef = 1.0 / self.denominator
            else:
                # every target ignored: the gradient is 0, its derivative with respect to g
                # 0/0 = nan (as ClassNLL's)
                g = where(Tensor._wrap(np.ones((), dtype=bool)), 0.0, mul(g, float("nan")))
        shape, m = self.in_shape, self.m
        out = np.zeros(shape, dtype=self.dtype)
        if not is_grad_enabled() and g._array.dtype == out.dtype and \
                type(g._array) is np.ndarray and (self.reduction != "mean" or
                                                  self.denominator != 0):
            # PyTorch's products, only the counted positions written (the others stay +0)
            rows, picked = grad_entries(m, self.w_t, self.valid, g._array, self.denominator,
                                        self.reduction)
            out.reshape(-1)[self.pos[rows]] = picked
            return Tensor._wrap(out)
        w_t = self.w_t if self.w_t is not None else np.ones(m, dtype=self.dtype)
        vals = (-(1 - 0.0) * coef) * w_t
        counted = self.pos if self.valid is None else self.pos[self.valid]
        out.reshape(-1)[counted] = vals if self.valid is None else vals[self.valid]
        n = shape[0]
        g_shape = (n, 1) + tuple(shape[2:]) if self.reduction == "none" else ()
        x, = self.saved_tensors
        if x.requires_grad:             # PyTorch's NllLoss2DBackwardBackward0 (x's zeros)
            return nll_scores_grad(x, g, out, g_shape, spatial=True)
        return mul(reshape_to(g, g_shape), Tensor._wrap(out))
