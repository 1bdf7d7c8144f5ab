"""smooth_l1_loss and huber_loss of two C-ordered numpy float32/float64 arrays of one shape,
forward and backward, block by block: numpy arrays in and out, no autograd (the one node of
``regression_loss._BandLoss`` calls them when nothing is recorded).

The elementwise loss (d = input - target, |d| against the band's width w)

    smooth_l1   0.5 d^2 / w  where |d| < w,   |d| - w / 2  elsewhere
    huber       0.5 d^2      where |d| < w,   w (|d| - w / 2)  elsewhere

took about eight passes over whole arrays (each a new array, so its pages faulted in too),
and for 'mean' and 'sum' its elementwise array was made only to be summed. Here each block
of about ``_BLOCK`` numbers goes through all the steps while it is in cache, in scratch
arrays made once per piece, and is summed there; the blocks are spread over minigrad's
threads (``parallel.run_split``, whole blocks per thread).

Sums: each block's pairwise float sum in the dtype (numpy's), the block sums added in
float64 in block order and rounded once -- the same number whatever the thread count, at
least as accurate as one pairwise sum of the whole array (not bitwise the same).

Backward (gradient of the input; the target's is its negation, written in the same pass):

    smooth_l1   g * clip(d / w, -1, 1)          huber   g * clip(d, -w, w)

the same numbers as the unblocked formulas (d / w is exact for w = 1, so it is skipped);
g is a number (the reduced losses' upstream gradient, divided by the count for 'mean') or
an array of the input's shape ('none').
"""
from __future__ import annotations

import numpy as np

from ..parallel import run_split

__all__ = ["band_loss_value", "band_loss_grads"]

# numbers per block: a block of both inputs and the scratch arrays stay in the L2 cache
_BLOCK = 1 << 17

# NaN and inf go through silently (a piece may run on a worker thread, which has not the
# caller's numpy error state)
_QUIET = {"over": "ignore", "under": "ignore", "invalid": "ignore", "divide": "ignore"}


def _blocks(n):
    return -(-n // _BLOCK)


def band_loss_value(a, t, width, huber, reduction):
    """The loss of ``a`` and ``t`` (C-ordered, one shape, float32/float64): the elementwise
    array of a's shape for reduction 'none', else the sum or the mean as a 0-d array of the
    dtype."""
    dt = a.dtype
    n = a.size
    fa, ft = a.reshape(-1), t.reshape(-1)
    keep = reduction == "none"
    out = np.empty(n, dt) if keep else None
    count = _blocks(n)
    totals = np.zeros(count, np.float64)
    half_w = dt.type(0.5 * width)
    bits = np.int32 if dt == np.float32 else np.int64
    w = dt.type(width)

    def piece(start, stop):
        if start >= stop:
            return
        size = min(_BLOCK, n)
        d, quad, far = np.empty(size, dt), np.empty(size, dt), np.empty(size, bool)
        mask, flips = np.empty(size, bits), np.empty(size, bits)
        with np.errstate(**_QUIET):
            for b in range(start, stop):
                lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
                k = hi - lo
                d_b, q_b, f_b, m_b, x_b = d[:k], quad[:k], far[:k], mask[:k], flips[:k]
                np.subtract(fa[lo:hi], ft[lo:hi], out=d_b)
                np.abs(d_b, out=d_b)                        # |d|
                np.greater_equal(d_b, w, out=f_b)           # far (a NaN counts as near)
                np.multiply(d_b, 0.5, out=q_b)              # 0.5 |d| |d| (/ w), in the
                q_b *= d_b                                  # order PyTorch rounds it
                if not huber:
                    q_b /= w
                d_b -= half_w                               # |d| - w / 2 (times w)
                if huber:
                    d_b *= w
                # q where near, else d: by the bits (a masked copy or np.where branches
                # on every element, ten times slower on a mixed block)
                np.negative(f_b.view(np.int8), out=m_b)     # all ones where far
                q_i = q_b.view(bits)
                np.bitwise_xor(q_i, d_b.view(bits), out=x_b)
                x_b &= m_b
                q_i ^= x_b
                if keep:
                    out[lo:hi] = q_b
                else:
                    totals[b] = np.add.reduce(q_b)
    run_split(piece, count, 3 * a.nbytes)
    if keep:
        return out.reshape(a.shape)
    total = np.add.reduce(totals)
    if reduction == "mean":
        # the sum divided by the count, rounded once (an empty mean is NaN)
        with np.errstate(**_QUIET):
            return np.asarray(dt.type(total / n) if n else dt.type(np.nan))
    return np.asarray(dt.type(total))


def band_loss_grads(a, t, g, width, huber, want_input, want_target):
    """The gradients of the input and the target (each None unless wanted) for the upstream
    ``g``: a number (numpy scalar of the dtype) or an array of a's shape."""
    dt = a.dtype
    n = a.size
    fa, ft = a.reshape(-1), t.reshape(-1)
    scalar = np.ndim(g) == 0
    fg = g[()] if scalar else np.ascontiguousarray(g).reshape(-1)
    ga = np.empty(n, dt) if want_input else None
    gt = np.empty(n, dt) if want_target else None
    w = dt.type(width)
    count = _blocks(n)

    def piece(start, stop):
        if start >= stop:
            return
        scratch = None if want_input else np.empty(min(_BLOCK, n), dt)
        with np.errstate(**_QUIET):
            for b in range(start, stop):
                lo, hi = b * _BLOCK, min(n, (b + 1) * _BLOCK)
                s = ga[lo:hi] if want_input else scratch[:hi - lo]
                np.subtract(fa[lo:hi], ft[lo:hi], out=s)
                if huber:
                    np.clip(s, -w, w, out=s)
                else:
                    if width != 1.0:
                        s /= w
                    np.clip(s, -1, 1, out=s)
                np.multiply(fg if scalar else fg[lo:hi], s, out=s)
                if want_target:
                    np.negative(s, out=gt[lo:hi])
    run_split(piece, count, (4 if scalar else 5) * a.nbytes)
    return (None if ga is None else ga.reshape(a.shape),
            None if gt is None else gt.reshape(a.shape))
