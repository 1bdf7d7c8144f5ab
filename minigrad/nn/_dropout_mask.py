"""Dropout's keep-mask and scale, drawn as PyTorch draws them, without float64 uniforms.

PyTorch's dropout takes ``bernoulli_(1 - p)``: per number a float64 uniform u = k 2^-53,
where k is the low 53 bits of two 32-bit words of the stream (the first the high half), and
keeps the number where u < q (q = 1 - p). Scaling by a power of two is exact, so

    u < q   <=>   k < q 2^53   <=>   k < c,  c = ceil(q 2^53)   (k an integer)

and with k = h 2^32 + l (h the first word's low 21 bits, l the second word), k < c is
h < c_h or (h = c_h and l < c_l) for c = c_h 2^32 + c_l: two compares on the words as they
come, where the uniforms took a 64-bit word, a float conversion and a product per number.
The mask is the same, bit for bit (``bernoulli_draws``' for the same stream).
"""
from __future__ import annotations

import math

import numpy as np

from .._random_factories import arranged_draws, bernoulli_draws, stream_of

__all__ = ["keep_mask", "dropout_scale"]

_LOW21 = (1 << 21) - 1
_MANY = 1 << 16          # numbers from which the words come as uint32


def keep_mask(shape, q, strides=None):
    """A bool array of ``shape``, True with probability ``q`` (a number in [0, 1]): the
    default generator's ``bernoulli_draws(None, shape, q, strides)``."""
    q = float(q)
    if not 0.0 <= q <= 1.0:
        return bernoulli_draws(None, shape, q, strides)
    n = int(np.prod(shape, dtype=np.int64))
    stream = stream_of(None)
    # the stream's next 2n 32-bit words: numpy's full-range uint32 draw takes one word each
    # and is the faster for many (a 4-byte array), the raw words (uint64) for few
    if n >= _MANY:
        words = stream.numpy_generator().integers(0, 1 << 32, size=2 * n, dtype=np.uint32)
    else:
        words = stream.words(2 * n)
    words = words.reshape(n, 2)
    kind = words.dtype.type
    c = math.ceil(q * 2.0 ** 53)
    c_h, c_l = kind(c >> 32), kind(c & 0xFFFFFFFF)
    high = words[:, 0] & kind(_LOW21)
    keep = high < c_h
    if c_l:
        # a tie on the high part (one number in 2^21) is settled by the second word
        tie = np.flatnonzero(high == c_h)
        if tie.size:
            keep[tie] = words[tie, 1] < c_l
    return arranged_draws(keep, shape, strides, np.dtype(bool))


def dropout_scale(keep, p, dtype):
    """keep / (1 - p) in ``dtype`` (float16/bfloat16 divide in float32 by the unrounded
    1 - p, as PyTorch's kernel): the two values it takes, placed by ``keep``."""
    work = np.float32 if dtype.itemsize == 2 else dtype.type
    values = (np.array([0.0, 1.0], dtype=work) / work(1.0 - p)).astype(dtype)
    return np.where(keep, values[1], values[0])
