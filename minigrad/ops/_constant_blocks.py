"""numpy's SIMD loops against a constant: ``maximum(x, 0)`` and friends with the constant laid
out as a block of itself.

numpy's maximum (minimum) of an array and a number runs a plain C loop, whatever the number's
type; of two arrays, its SIMD loop. So relu's max(x, 0) and leaky_relu's slope take the
constant as a read-only block of ZERO_BLOCK numbers, x seen as rows of that length (numpy's
outer loop runs over the rows, its SIMD loop along each). (numpy 2's clip by two numbers of
the array's dtype is one SIMD pass, faster than a maximum and a minimum against blocks: the
clip-shaped activations use it, ``piecewise_linear._clip``.)
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ._util import FLOAT32_64 as _FLOATS

__all__ = ["ZERO_BLOCK", "zero_block", "constant_block", "against_blocks", "max_with",
           "max_zero"]


# numpy's maximum of an array and a scalar runs a plain C loop; of two arrays, its SIMD loop:
# against a block of zeros, max(x, 0) ran 2.8x faster (0.14 ms instead of 0.39 for LeNet's
# 64x20x24x24 maps, one thread). A block of 64K numbers stays in cache; shorter rows cost
# more trips through numpy's outer loop (4K: 1.4x slower on 8 MB)
ZERO_BLOCK = 1 << 16
_constant_blocks = {}       # (dtype, value) -> a read-only block of that constant


def constant_block(dtype, value):
    """A read-only block of ZERO_BLOCK numbers ``value`` of ``dtype`` (a few kept)."""
    value = np.dtype(dtype).type(value)
    key = (dtype, value.tobytes())              # (by its bits: -0.0 is not 0.0 here)
    block = _constant_blocks.get(key)
    if block is None:
        if len(_constant_blocks) >= 8:
            _constant_blocks.clear()
        block = np.full(ZERO_BLOCK, value, dtype=dtype)
        block.flags.writeable = False
        _constant_blocks[key] = block
    return block


_zero_blocks = {}           # dtype -> its block of zeros (relu's, looked up at every call)


def zero_block(dtype):
    """The read-only block of ZERO_BLOCK zeros of ``dtype``."""
    zeros = _zero_blocks.get(dtype)
    if zeros is None:
        zeros = _zero_blocks.setdefault(dtype, constant_block(dtype, 0))
    return zeros


def against_blocks(ufunc, x, value, out, block_first=True):
    """out = ufunc(block, x) (or ufunc(x, block)) for row-major float arrays x and out of one
    shape: ``value`` as a block of itself (``constant_block``), so that numpy runs its SIMD
    loop of two arrays (against a scalar: a plain C loop, 2-3x slower). out may be x."""
    block = constant_block(x.dtype, value)
    x, o = x.reshape(-1), out.reshape(-1)
    whole = x.size // ZERO_BLOCK * ZERO_BLOCK
    if whole:
        rows, dst = x[:whole].reshape(-1, ZERO_BLOCK), o[:whole].reshape(-1, ZERO_BLOCK)
        ufunc(block, rows, out=dst) if block_first else ufunc(rows, block, out=dst)
    if whole < x.size:
        rest, tail = block[:x.size - whole], x[whole:]
        ufunc(rest, tail, out=o[whole:]) if block_first else ufunc(tail, rest, out=o[whole:])
    return out


def max_with(x, value):
    """x = max(x, value) in place, for a float array x and a number ``value`` of its dtype
    (against blocks where x is row-major)."""
    if not x.flags.c_contiguous:            # (a permuted x: numpy's own loop, in place)
        np.maximum(x, value, out=x)
        return
    against_blocks(np.maximum, x, value, x)


def max_zero(x, o):
    """o = max(x, 0), NaN kept (numpy's maximum propagates it), as PyTorch's relu. The zero
    comes first: where the two are equal numpy's float32/float64 maximum gives its second
    operand, so -0.0 stays -0.0, as in PyTorch."""
    xp = backend.xp_of(x)
    if xp is not np or x.dtype not in _FLOATS or x.shape != o.shape or \
            not (x.flags.c_contiguous and o.flags.c_contiguous):
        xp.maximum(x.dtype.type(0), x, out=o)
        return
    against_blocks(np.maximum, x, 0, o)
