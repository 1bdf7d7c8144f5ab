"""logsigmoid's array kernels and its slope as a node (``activation.LogSigmoid`` uses them).

    value  min(x, 0) - log1p(e^-|x|)
    slope  z / (1 + z), z = e^-|x|, for x >= 0; 1 / (1 + z) below (PyTorch's formula, 1 - z /
           (1 + z) there, within a unit: a large x gives e^-x, subnormals kept, no overflow);
           on arrays g / (1 + e^x), redone as that where e^x overflows
    its derivative (s - 1) s, s = sigmoid(x) (PyTorch's double backward)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from .elementary_functions import sigmoid
from .elementwise import mul, sub
from .error_function import erf_buffer

__all__ = ["_LogSigmoidSlope", "_logsigmoid_value", "_logsigmoid_slope_times"]


class _LogSigmoidSlope(Function):
    """logsigmoid's slope as one node, PyTorch's formula: q = z / (1 + z), z = e^-|x|, for
    x >= 0 (so a large x gives e^-x, no overflow, float32's subnormals kept), and 1 - q =
    1 / (1 + z) below (so written: within a unit of PyTorch's).
    Its derivative is PyTorch's double backward, (s - 1) s with s = sigmoid(x): 0 where s
    rounds to 1 or 0, as there."""

    def forward(self, x):
        self.save_for_backward(x)
        xp = backend.xp_of(x)
        t = x.dtype.type
        with np.errstate(all="ignore"):
            z = xp.exp(-xp.abs(x))
            # (as the kernel below: z or 1 over 1 + z)
            return (xp.maximum(z, (x < 0).astype(x.dtype)) / (z + t(1))).astype(x.dtype,
                                                                               copy=False)

    def backward(self, g):
        x, = self.saved_tensors
        s = sigmoid(x)
        return mul(mul(g, sub(s, 1.0)), s)


_LOGSIG_SCRATCH = {"a": None}      # the value kernel's block-sized scratch


def _logsigmoid_value(x, out, work):
    """min(x, 0) - log1p(e^-|x|) on one block (the minimum as a clip: one SIMD pass; numpy's
    minimum by a number is a scalar loop). Six passes in cache where the whole-array form
    made five temporaries (1M float32, one thread: 2.0 -> 1.4 ms)."""
    t = x.dtype.type
    np.abs(x, out=out)
    np.negative(out, out=out)
    np.exp(out, out=out)
    np.log1p(out, out=out)
    np.subtract(np.clip(x, t(-np.inf), t(0), out=erf_buffer(work, "a", x.size, x.dtype)),
                out, out=out)


def _logsigmoid_slope_times(x, g, out):
    """g sigmoid(-x) on one block: g / (1 + e^x), four passes in cache (where the ops made
    three full-size arrays: 1M float32, one thread, 1.8 -> 0.9 ms); where e^x overflows (x
    past 88.7 in float32, 709 in float64: one reduction finds whether any does), those
    numbers are redone as PyTorch's z / (1 + z), z = e^-x (``_LogSigmoidSlope``): a
    subnormal, not 0, down to 0 at 104 (float32)."""
    np.exp(x, out=out)
    out += 1
    np.divide(1, out, out=out)
    out *= g
    top = x.max() if x.size else 0
    if top > _BIG[x.dtype.itemsize] or top != top:      # (a NaN hides the largest number)
        big = x > _BIG[x.dtype.itemsize]
        z = np.exp(-x[big])
        out[big] = g[big] * (z / (z + 1))


_BIG = {4: 80.0, 8: 700.0}          # beyond: e^x is about to overflow (float32, float64)
