"""float16 / bfloat16 reductions rounded where PyTorch's CPU kernels round, so that the results
agree with PyTorch's bit for bit (numpy's float16 sums accumulate in float16, and its
products of a whole row run in one sequence).

* ``half_product``: a product along a dim whose elements are adjacent in memory (the last
  dim of a row-major array, or every element) runs as PyTorch's vectorized inner reduction:
  four accumulators of 16 lanes over blocks of 64 elements, combined as (acc0 * acc1) *
  (acc2 * acc3), then the 16 lanes one after the other, then the leftover elements one by
  one. Along any other dim, one product after another down the dim. Every product is
  rounded to the 16-bit dtype (PyTorch multiplies two halves in float32 and rounds).
* ``half_logsumexp``: PyTorch computes a 16-bit logsumexp as separate ops, each rounded:
  a - max, its exp, their sum (accumulated in float32), its log, + max.
* ``round_tail_exps``: softmax along a dim other than the last works on vectors of 32
  positions of the dims after it; those positions divide the float32 exp by the float32
  sum, the leftover positions (inner size mod 32) divide the exp rounded to 16 bits. This
  is PyTorch's kernel run by one thread (several threads split the positions into ranges,
  each with leftovers of its own: a machine-dependent result minigrad does not follow).
"""
from __future__ import annotations

import math

import numpy as np

from .. import dtypes

HALF_TYPES = (np.dtype(np.float16), dtypes.BFLOAT16)

_LANES = 16         # a product's vector of 16-bit numbers
_BLOCK = 4 * _LANES
_SOFTMAX_VECTOR = 32


def _running_product(a, axis, half):
    """The product along ``axis``, each step rounded to ``half``: numpy's own rounding for
    an array of that dtype, else (a float32 array holding bfloat16 values) a step at a
    time."""
    if a.dtype == half:
        return np.multiply.accumulate(a, axis=axis).take(-1, axis=axis)
    a = np.moveaxis(a, axis, 0)
    out = a[0].copy()
    for row in a[1:]:
        out = (out * row).astype(half).astype(a.dtype)
    return out


def _inner_product(rows, half):
    """(M, n) 16-bit rows -> (M,): PyTorch's vectorized product of adjacent elements."""
    m, n = rows.shape
    count = n // _BLOCK
    out = np.ones((m,), rows.dtype)
    if count:
        blocks = rows[:, :count * _BLOCK].reshape(m, count, 4, _LANES)
        acc = _running_product(blocks, 1, half)                 # (M, 4, lanes)
        pair = _running_product(acc[:, 0:2], 1, half), _running_product(acc[:, 2:4], 1, half)
        out = _running_product(_running_product(np.stack(pair, 1), 1, half), 1, half)
    if count * _BLOCK < n:
        tail = np.concatenate([out[:, None], rows[:, count * _BLOCK:]], axis=1)
        out = _running_product(tail, 1, half)
    return out


def half_product(a, axis, keepdim, half):
    """The product of ``a`` (16-bit values, of dtype ``half`` or in float32) along ``axis``
    (None: all), rounded to ``half`` as PyTorch's kernel rounds; a's dtype."""
    if axis is None:
        out = _inner_product(np.ascontiguousarray(a).reshape(1, -1), half)[0]
        out = out.reshape((1,) * a.ndim) if keepdim else out.reshape(())
        return np.array(out)
    n = a.shape[axis]
    if a.strides[axis] == a.itemsize and n >= _BLOCK:
        moved = np.moveaxis(a, axis, -1)
        out = _inner_product(moved.reshape(-1, n), half).reshape(moved.shape[:-1])
    else:
        out = _running_product(a, axis, half)
    if keepdim:
        out = np.expand_dims(out, axis)
    return np.array(out, order="C")     # (ascontiguousarray would make a 0-d result 1-d)


def half_logsumexp(a, axes, m, half):
    """log(sum(exp(a - m))) + m over ``axes`` (kept), for ``a`` holding 16-bit values (of
    dtype ``half`` or in float32) and its max ``m`` (kept dims, infinities replaced by 0),
    each step rounded to ``half`` as PyTorch's separate ops round; a's dtype."""
    def rounded(x):
        return x.astype(half).astype(np.float32)
    shifted = rounded(np.exp(rounded(a.astype(np.float32) - m)))
    total = rounded(shifted.sum(axis=axes, keepdims=True))
    return rounded(rounded(np.log(total)) + m).astype(a.dtype)


def round_tail_exps(exps, dim, half):
    """Round, in place, the float32 ``exps`` of a softmax along ``dim`` (not the last) to
    the 16-bit dtype ``half`` at the positions PyTorch's kernel keeps in 16 bits: the
    leftover positions past the last whole vector of the dims after ``dim``."""
    inner = math.prod(exps.shape[dim + 1:])
    start = inner - inner % _SOFTMAX_VECTOR
    if start == inner:
        return exps
    view = exps.reshape(math.prod(exps.shape[:dim + 1]), inner)
    view[:, start:] = view[:, start:].astype(half).astype(exps.dtype)
    return exps
