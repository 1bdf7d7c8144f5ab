"""instance_norm's pieces beside ``feature_norm``: its float16 / bfloat16 node, rounded where
PyTorch rounds (PyTorch runs instance_norm as a batch norm of one sample with N * C channels,
the weight and bias repeated N times: ``_batch_norm_16bit``), and its answer for an input with
no elements.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import scalar_type_name
from ._batch_norm_16bit import (batch_norm_apply_16, batch_norm_grads_16, batch_norm_stats_16,
                                saved_and_wanted)
from .elementary_functions import rsqrt
from .elementwise import add, cast, mul, sub
from .plumbing import reshape_to
from .reduce import mean, sum as reduce_sum

__all__ = ["InstanceNorm16", "instance_norm_of_nothing"]

_F32 = np.dtype("float32")


def _f32(a):
    return dtypes.astype(np.asarray(a), _F32)


def _r(a, half):
    return dtypes.astype(dtypes.astype(np.asarray(a, _F32), half), _F32)


class InstanceNorm16(Function):
    """instance_norm with the input's own statistics, of a row-major 16-bit input whose weight
    and bias (when given) have its dtype: PyTorch's batch norm of the (1, N C, *) view, the
    parameters repeated per sample (their gradients, rounded per copy, then summed in float32
    and rounded again). Under create_graph the backward runs as float32 ops of x."""
    def forward(self, x, *affine, has_weight, has_bias, eps, half):
        # (``half``, a dtype, also keeps Function.apply from widening bfloat16 inputs)
        n, c = x.shape[:2]
        w = affine[0] if has_weight else None
        b = affine[-1] if has_bias else None
        rows = _f32(x).reshape(1, n * c, -1)
        self.mean, self.invstd = batch_norm_stats_16(rows, eps, half)
        y = batch_norm_apply_16(rows, None if w is None else np.tile(_f32(w), n),
                                None if b is None else np.tile(_f32(b), n), self.mean,
                                self.invstd)
        self.save_for_backward(x, w)
        self.has_bias, self.eps, self.half = has_bias, eps, half
        return dtypes.astype(y, half).reshape(x.shape)

    def backward(self, g):
        x, w, want_x, want_w, want_b = saved_and_wanted(self)
        if is_grad_enabled():
            return self._backward_ops(x, g, w, want_x, want_w, want_b)
        half = self.half
        n, c = x._array.shape[:2]
        rows = _f32(x._array).reshape(1, n * c, -1)
        dx, dw, db = batch_norm_grads_16(
            rows, _f32(g._array).reshape(rows.shape),
            None if w is None else np.tile(_f32(w._array), n), self.mean, self.invstd,
            want_x, want_w, want_b)
        grads = [None if dx is None else
                 Tensor._wrap(dtypes.astype(dx, half).reshape(x._array.shape))]
        for wanted, d, keep in ((want_w, dw, w is not None), (want_b, db, self.has_bias)):
            if keep:     # each sample's copy rounded, the copies summed and rounded again
                grads.append(Tensor._wrap(dtypes.astype(
                    _r(_r(d, half).reshape(n, c).sum(axis=0, dtype=_F32), half), half))
                    if wanted else None)
        return tuple(grads)

    def _backward_ops(self, x, g, w, want_x, want_w, want_b):
        """The closed form as float32 ops of x, results in the inputs' dtypes."""
        half = self.half
        axes = tuple(range(2, x.ndim))
        x32, g32 = cast(x, _F32), cast(g, _F32)
        mu = mean(x32, axes, keepdim=True)
        centred = sub(x32, mu)
        invstd = rsqrt(add(mean(mul(centred, centred), axes, keepdim=True), self.eps))
        x_hat = mul(centred, invstd)
        channel = (x.shape[1],) + (1,) * (x.ndim - 2)
        others = (0,) + axes
        gx = gw = gb = None
        if want_x:
            a = g32 if w is None else mul(g32, reshape_to(cast(w, _F32), channel))
            gx = cast(mul(invstd, sub(sub(a, mean(a, axes, keepdim=True)),
                                      mul(x_hat, mean(mul(a, x_hat), axes, keepdim=True)))),
                      half)
        if want_w:
            gw = cast(reduce_sum(mul(g32, x_hat), others), half)
        if want_b:
            gb = cast(reduce_sum(g32, others), half)
        return (gx,) + ((gw,) if w is not None else ()) + ((gb,) if self.has_bias else ())


def instance_norm_of_nothing(input, running_mean, running_var, use_input_stats, weight=None,
                             bias=None):
    """instance_norm of an input with no elements, as PyTorch computes it: its batch norm of
    nothing returns a copy of the input at once (no dtype check: an integer input passes; no
    size check of the running statistics). With input statistics the running ones are then
    updated from the repeated ones: a mean of the input (refused for an integer input), then,
    per statistic, a view as (N, C) averaged over N (nan for N = 0) copied back, which needs
    the statistic to hold C values."""
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    n, c = input.shape[0], input.shape[1]
    if use_input_stats and (running_mean is not None or running_var is not None):
        if input._array.dtype.kind not in "fcV":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either "
                               "a floating point or complex dtype. Got: "
                               f"{scalar_type_name(input._array.dtype)}")
        for stat in (running_mean, running_var):
            if stat is None:
                continue
            if n * stat.numel() != n * c:
                raise RuntimeError(f"shape '[{n}, {c}]' is invalid for input of size "
                                   f"{n * stat.numel()}")
            if stat.numel() != c:
                raise RuntimeError(f"The size of tensor a ({stat.numel()}) must match the size "
                                   f"of tensor b ({c}) at non-singleton dimension 0")
            if n == 0:                       # the mean of no repeated statistic
                stat._array[...] = np.nan
                stat._vcounter.value += 1
    out = input.clone()
    if is_grad_enabled() and input._array.dtype.kind in "fcV" and \
            any(t is not None and t.requires_grad for t in (weight, bias)):
        # PyTorch's result keeps a graph to a weight or bias that requires grad: each gets a
        # gradient of zeros (the sum over no element)
        per_channel = (c,) + (1,) * (input.ndim - 2)
        if weight is not None:
            out = mul(out, reshape_to(weight, per_channel))
        if bias is not None:
            out = add(out, reshape_to(bias, per_channel))
        out = cast(out, input._array.dtype)
    return out
