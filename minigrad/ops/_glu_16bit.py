"""``glu`` of a float16 / bfloat16 numpy input, rounded where PyTorch rounds.

With a, b the two halves of the input along ``dim`` and g the gradient of the output,
PyTorch's CPU kernels compute, each in float32 from the 16-bit values, rounding once:

    out   = round(a sigmoid(b))
    d/da  = round(g s)
    d/db  = round(g a s (1 - s)),   where s = round(sigmoid(b)) (the backward rounds it first)

The backward is written in tensor ops (casts, sigmoid, products, cat), so it is
differentiable again.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from .elementary_functions import sigmoid, sigmoid_array
from .elementwise import cast, mul, sub
from .stacking import cat

__all__ = ["Glu16"]

_F32 = np.dtype("float32")


class Glu16(Function):
    """(..., 2h, ...) 16-bit x -> (..., h, ...) a sigmoid(b) along ``dim`` (non-negative).
    Its forward gets x in float32 and its float32 result is rounded once
    (``half_in_float32``); what it saves stays float32."""
    _node_name = "GluBackward0"
    half_in_float32 = True

    def forward(self, x, *, dim):
        self.dim = dim
        self.save_for_backward(x)
        a, b = np.split(x, 2, axis=dim)
        return a * sigmoid_array(b)

    def backward(self, g):
        x, = self.saved_tensors
        half, dim = g._array.dtype, self.dim          # (the output's 16-bit dtype)
        wide = cast(x, _F32)
        size = x.shape[dim] // 2
        first = (slice(None),) * dim + (slice(0, size),)
        second = (slice(None),) * dim + (slice(size, 2 * size),)
        a, b = wide[first], wide[second]
        s = cast(cast(sigmoid(b), half), _F32)
        g = cast(g, _F32)
        grad_a = cast(mul(g, s), half)
        grad_b = cast(mul(mul(mul(g, a), s), sub(1.0, s)), half)
        return cat([grad_a, grad_b], dim)
