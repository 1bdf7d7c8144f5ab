"""Cross entropy's kernels over class scores as rows (M, C): the fused log-softmax forward
and the gradient with respect to the logits, split out of ``loss.py``.

Forward, block by block of rows while the block is in cache (``_norm_rows.row_blocks``),
the blocks over minigrad's threads:

    m = max(row),   E = exp(row - m),   s = sum(E)      (then log-softmax = row - m - log s)

(m is taken as 0, no max pass and no subtraction, for a block whose row sums of exp(row)
are finite and at least 1: then no exp overflowed or lost digits.) E and s are what the
backward needs: softmax(x) = E / s. E is kept on the loss's node (a scratch buffer from
``workspace``: made afresh at every call its pages were faulted in each time) and the
first-order backward writes the gradient into it, in one more pass:

    dx = r (A - S rA)  =  E (-r rA / s)  +  r A          (A: dL/dlogp per unit gradient)

where r A is a column per row (the target's) plus, with label smoothing, the class weights
once more. When the backward must itself be differentiable, ``CrossEntropyGrad`` is a node
of its own whose backward is written with minigrad's ops (``RowSoftmax`` for S).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Function
from ..tensor import Tensor
from ._norm_rows import over_rows, row_blocks
from ._workspace import workspace
from .elementwise import mul, neg, sub
from .plumbing import reshape_to
from .reduce import sum as reduce_sum

__all__ = ["softmax_rows", "exp_rows_again", "cross_entropy_grad_into", "coefficients",
           "soft_and_grad", "RowSoftmax", "CrossEntropyGrad"]

# what the forward and the fused backward count as moved for ``run_split``'s size rule: the
# logits once (not each of their passes over a block in cache), so that the rows split over
# two threads from 4 MB of logits on. The Transformer benchmark's 1024 x 512 float32 rows
# stay on one thread: split, on a loaded 2-core machine (load average 5), their forward and
# backward took 4.8 ms instead of 1.4 ms.
_FORWARD_PASSES = 1
_BACKWARD_PASSES = 1


def softmax_rows(x, w_smooth=None):
    """x (M, C) float array -> (E, row_max, sums, wdot): E (M, C) = exp(x - row_max) in a
    scratch buffer, row_max and sums (M,) its shift and row sums, and with ``w_smooth``
    (class weights (C,), or True for all ones) wdot (M,) = sum_c w_c (x_c - row_max), else
    None. The rows go block by block, the blocks over the threads (numpy arrays); a block
    whose exps need no shift is not shifted (``_unshifted``: its row_max 0)."""
    xp = backend.xp_of(x)
    m, c = x.shape
    dtype = x.dtype
    wdot = None if w_smooth is None else xp.empty(m, dtype)
    if xp is not np or not m or not c:
        row_max = x.max(axis=1) if c else xp.zeros(m, dtype)
        e = x - row_max[:, None]
        if w_smooth is not None:
            wdot[...] = e.sum(axis=1) if w_smooth is True else e @ w_smooth
        xp.exp(e, out=e)
        return e, row_max, e.sum(axis=1), wdot
    if m * c <= _FEW:
        # a few rows: the same steps (each row's alone, in any blocks) on whole arrays, without
        # the blocks, the threads' rule and the scratch buffer (two thirds of a 4 x 6 loss)
        row_max = np.maximum.reduce(x, axis=1)
        e = np.subtract(x, row_max[:, None])
        if w_smooth is True:
            np.einsum("ij->i", e, out=wdot)
        elif w_smooth is not None:
            np.matmul(e, w_smooth, out=wdot)
        np.exp(e, out=e)
        return e, row_max, np.einsum("ij->i", e), wdot
    e = workspace("cross_entropy_exp", (m, c), dtype, np)
    row_max = np.empty(m, dtype)
    sums = np.empty(m, dtype)

    def piece(start, stop):
        for sl in row_blocks(stop, c, start):
            xb, eb = x[sl], e[sl]
            mb = row_max[sl]
            with np.errstate(over="ignore", invalid="ignore"):
                if _unshifted(xb, eb, mb, sums[sl], w_smooth, wdot, sl):
                    continue
            np.max(xb, axis=1, out=mb)
            np.subtract(xb, mb[:, None], out=eb)
            if w_smooth is True:
                np.einsum("ij->i", eb, out=wdot[sl])
            elif w_smooth is not None:
                np.matmul(eb, w_smooth, out=wdot[sl])
            np.exp(eb, out=eb)
            np.einsum("ij->i", eb, out=sums[sl])
    _over_rows(piece, m, c, _FORWARD_PASSES * x.nbytes)
    return e, row_max, sums, wdot


def _unshifted(xb, eb, mb, sb, w_smooth, wdot, sl):
    """A block's E = exp(x) without the shift by the rows' maxima (the max pass and the
    subtraction skipped: 1024 x 1000 float32, 1.25 ms -> 0.6), taken where it loses nothing
    (as ``_softmax_rows`` does for log_softmax): every row sum finite and at least 1, so no
    exp overflowed and none that the shifted form keeps normal became subnormal. Its shift
    (row_max) is then 0; True when taken, else the caller shifts the block."""
    np.exp(xb, out=eb)
    np.einsum("ij->i", eb, out=sb)
    lowest = sb.min()
    if not (lowest >= 1 and np.isfinite(sb.max())):         # (NaN fails too)
        return False
    mb[...] = 0
    if w_smooth is True:
        np.einsum("ij->i", xb, out=wdot[sl])
    elif w_smooth is not None:
        np.matmul(xb, w_smooth, out=wdot[sl])
    return True


def _over_rows(piece, m, c, nbytes):
    """piece(0, m) directly for rows that make one block (no thread or BLAS hold to set up:
    a 64 x 10 batch's loss took 5% longer through them), else ``over_rows``."""
    if m * c <= _SMALL:
        piece(0, m)
    else:
        over_rows(piece, m, c, nbytes, blas=c)


_SMALL = 1 << 14
# up to this many scores softmax_rows works on whole arrays
_FEW = 1024


def exp_rows_again(x, row_max):
    """E = exp(x - row_max) afresh (a second backward through the same node, whose first
    one wrote its gradient into the forward's E)."""
    xp = backend.xp_of(x)
    e = x - row_max[:, None]
    xp.exp(e, out=e)
    return e


def _row_a(t, w_t, w_class, valid, eps, coef):
    """(M,) the row sums of A in closed form, times -1: -coef ((1 - eps) w_t + eps/C W valid)."""
    c = len(w_class)
    row_a = (1 - eps) * w_t
    if eps:                          # (without smoothing no class weight but w[t] enters)
        row_a = row_a + (eps / max(c, 1)) * w_class.sum() * valid
    return row_a * -coef


def cross_entropy_grad_into(e, sums, r, t, w_t, w_class, valid, eps, coef):
    """The gradient dx = r (A - S rA) (M, C), written into E = exp(x - row_max) (its
    memory; numpy arrays) and returned; r: () or (M,), the loss's incoming gradient."""
    m, c = e.shape
    dtype = e.dtype
    scale = (-(_row_a(t, w_t, w_class, valid, eps, coef) * r) / sums).astype(dtype, copy=False)
    smooth = None
    if eps:
        # the class weights' share of A, per row: -coef eps/C r valid (times w_c)
        smooth = ((-(eps / max(c, 1)) * coef) * (valid * r)).astype(dtype, copy=False)
        smooth = np.broadcast_to(smooth, (m,))
        w = w_class.astype(dtype, copy=False)

    def piece(start, stop):
        for sl in row_blocks(stop, c, start):
            eb = e[sl]
            np.multiply(eb, scale[sl, None], out=eb)
            if smooth is not None:
                eb += smooth[sl, None] * w
    if m and c:
        _over_rows(piece, m, c, _BACKWARD_PASSES * e.nbytes)
    e[np.arange(m), t] += ((-(1 - eps) * coef) * w_t * r).astype(dtype, copy=False)
    return e


def coefficients(t, w_t, w_class, valid, eps, coef):
    """A (M, C) = dL/dlogp per unit of each row's gradient (coef: 1, or 1 / the summed weights
    for 'mean'):  A[i, :] = -coef ((1 - eps) w[t_i] onehot(t_i) + (eps / C) w[:] valid_i)."""
    xp = backend.xp_of(w_t)
    m, c = len(t), len(w_class)
    a = xp.zeros((m, c), dtype=w_class.dtype)
    on_target = (-(1 - eps) * coef) * w_t
    if valid is None:
        a[xp.arange(m), t] = on_target
    else:                           # (an ignored row's zeros stay +0, as PyTorch's)
        rows = xp.flatnonzero(valid)
        a[rows, t[rows]] = on_target[rows]
    if eps:
        a -= ((eps / max(c, 1)) * coef) * w_class[None, :] * valid[:, None]
    return a


def soft_and_grad(soft, g, t, w_t, w_class, valid, eps, coef):
    """``CrossEntropyGrad``'s value on arrays, S = softmax(x) given and kept: (dx, rA), dx =
    r (A - S rA) a new (M, C) array in S's dtype, rA (M,) the row sums of A."""
    xp = backend.xp_of(soft)
    m, c = soft.shape
    row_a = _row_a(t, w_t, w_class, valid, eps, coef)
    dx = soft * (-(row_a * g)).astype(soft.dtype, copy=False)[:, None]     # -r S rA
    dx[xp.arange(m), t] += (-(1 - eps) * coef) * w_t * g                   # + r A: target
    if eps:
        dx -= ((eps / max(c, 1)) * coef) * w_class[None, :] * (valid * g)[:, None]
    return dx.astype(soft.dtype, copy=False), row_a


class RowSoftmax(Function):
    """softmax(x) along axis 1 of x (M, C), its value handed in already computed; the
    backward is softmax's, in ops:  dx = y * (g - sum_c g y),  so that cross entropy's
    gradient can be differentiated again, to any order."""
    def forward(self, x, *, value):
        self.save_for_backward(value)
        return value

    def backward(self, g):
        y, = self.saved_tensors                 # this node's output, as a Tensor
        return mul(y, sub(g, reduce_sum(mul(g, y), 1, keepdim=True)))


class CrossEntropyGrad(Function):
    """Cross entropy's gradient with respect to the logits, as a node of its own so that it can
    be differentiated again.  Inputs: x (M, C) and the loss's incoming gradient g (() or (M,)):

        dx = r (A - S rA),   S = softmax(x) (rows),  r = g per row,  rA = sum_c A  (M, 1)

    forward: arrays (S handed in); backward: minigrad ops, with S as a ``RowSoftmax`` node
    of x, so the third derivative is right too.
    """
    def forward(self, x, g, *, t, w_t, w_class, valid, soft, eps, coef):
        dx, row_a = soft_and_grad(soft, g, t, w_t, w_class, valid, eps, coef)
        self.save_for_backward(x, g)
        self.soft, self.row_a = soft, row_a.astype(x.dtype, copy=False)[:, None]
        self.targets = t, w_t, w_class, valid, eps, coef
        return dx

    def backward(self, gg):
        """gg (M, C): d<gg, dx>/dx = S (h - sum_c h S) with h = -gg r rA (softmax's vjp), and
        d<gg, dx>/dg = sum_c gg (A - S rA) per row (summed over rows for a 0-d g)."""
        x, g = self.saved_tensors
        soft = RowSoftmax.apply(x, value=self.soft)
        row_a = Tensor._wrap(self.row_a)
        r = reshape_to(g, (x.shape[0] if g.ndim else 1, 1))
        gx = gg_g = None
        if self.needs_input_grad[0]:
            h = mul(gg, mul(r, neg(row_a)))
            gx = mul(soft, sub(h, reduce_sum(mul(h, soft), 1, keepdim=True)))
        if self.needs_input_grad[1]:
            b = sub(Tensor._wrap(coefficients(*self.targets)), mul(soft, row_a))
            gg_g = reduce_sum(mul(gg, b), 1)
            if not g.ndim:
                gg_g = reduce_sum(gg_g)
        return gx, gg_g
