"""addbmm on float16 / bfloat16 matrices, rounded where PyTorch rounds, so that the value and the
gradients are PyTorch's (bit for bit in the cases checked; a dot product summed in another
order can move a result by an ulp).

PyTorch's CPU addbmm is not one product summed over the batch: it adds the batches' products
into the result one at a time, each step an ``addmm`` that computes in float32 and rounds to
the 16-bit dtype:

    out = input;  out = beta out + alpha (A_0 @ B_0);  out = out + alpha (A_b @ B_b), b = 1...

(with beta = 0 the input is not read). Its gradients are 16-bit ops too: each batch's
product with the output's gradient (rounded), then times alpha (rounded again); the input's
gradient is the output's times beta (rounded), summed over the dims it was broadcast along.

The products are formed in float64 here and rounded to float32, then to the 16-bit dtype: as
close to PyTorch's float32 accumulation as any summation order gets.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .elementwise import mul
from .matmul import bmm

__all__ = ["Addbmm16", "addbmm_16"]

_F32, _F64 = np.dtype("float32"), np.dtype("float64")


def _rounded(a, half):
    """``a`` (float32 or float64) rounded to float32, then to ``half``; back as float64."""
    return dtypes.astype(dtypes.astype(np.asarray(a).astype(_F32), half), _F64)


def _wide(a):
    return dtypes.astype(dtypes.astype(np.asarray(a), _F32), _F64)


def _sum_to(g, shape):
    """``g`` summed over the dims a tensor of ``shape`` was broadcast along."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g


class Addbmm16(Function):
    """beta input + alpha sum_b A_b @ B_b as PyTorch computes it for 16-bit A, B and input
    (above); PyTorch's AddbmmBackward0."""
    _node_name = "AddbmmBackward0"

    def forward(self, input, a, b, *, beta, alpha, half):
        # (``half``, a dtype, also keeps Function.apply from widening bfloat16 inputs)
        n, p = a.shape[1], b.shape[2]
        if beta == 0:
            out = np.zeros((n, p), _F64)
        else:
            out = np.broadcast_to(_wide(input), (n, p)) * float(beta)
        wa, wb = _wide(a), _wide(b)
        for k in range(a.shape[0]):              # the batches, each added and rounded
            out = _rounded(out + float(alpha) * (wa[k] @ wb[k]), half)
        self.save_for_backward(a, b)
        self.beta, self.alpha, self.half, self.input_shape = beta, alpha, half, input.shape
        return dtypes.astype(out.astype(_F32), half)

    def backward(self, g):
        a, b = self.saved_tensors
        need = self.needs_input_grad
        if is_grad_enabled():                     # as 16-bit ops, differentiable again
            g3 = g.unsqueeze(0).expand(a.shape[0], *g.shape)
            ga = None if not need[1] else mul(bmm(g3, b.transpose(1, 2)), self.alpha)
            gb = None if not need[2] else mul(bmm(a.transpose(1, 2), g3), self.alpha)
            gi = None
            if need[0]:
                gi = g if self.beta == 1 else mul(g, self.beta)
                if tuple(gi.shape) != tuple(self.input_shape):
                    gi = gi.sum_to_size(*self.input_shape)
            return gi, ga, gb
        half = self.half
        wg = _wide(g._array)
        gi = ga = gb = None
        if need[0]:
            gi = wg if self.beta == 1 else _rounded(wg * float(self.beta), half)
            if gi.shape != tuple(self.input_shape):
                gi = _rounded(_sum_to(gi, tuple(self.input_shape)), half)
            gi = Tensor._wrap(dtypes.astype(gi.astype(_F32), half))
        alpha = float(self.alpha)
        if need[1]:
            ga = _rounded(np.einsum("np,bkp->bnk", wg, _wide(b._array)), half)
            if alpha != 1:
                ga = _rounded(ga * alpha, half)
            ga = Tensor._wrap(dtypes.astype(ga.astype(_F32), half))
        if need[2]:
            gb = _rounded(np.einsum("bnk,np->bkp", _wide(a._array), wg), half)
            if alpha != 1:
                gb = _rounded(gb * alpha, half)
            gb = Tensor._wrap(dtypes.astype(gb.astype(_F32), half))
        return gi, ga, gb


def addbmm_16(input, batch1, batch2, beta, alpha):
    """addbmm of 16-bit tensors of one dtype (at least one batch) as PyTorch computes it."""
    return Addbmm16.apply(input, batch1, batch2, beta=beta, alpha=alpha,
                          half=batch1._array.dtype)
