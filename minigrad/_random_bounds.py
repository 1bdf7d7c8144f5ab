"""The [low, high) range of integer draws (``randint``, ``random_(from, to)``) into a floating
dtype, as PyTorch settles it before drawing.

A bound the dtype cannot hold exactly is moved inward, onto the dtype's grid: where
``high - 1`` rounds up to ``high`` or past it (bfloat16 holds only even integers from 256 to
512, so ``randint(0, 300)`` has 299 rounding to 300), ``high`` becomes that rounded value less
one step of the grid there (298), and likewise ``low`` where ``low + 1`` rounds below ``low``.
The draws are then ``low + word % (high - low)``, so the moved bound changes every draw, not
just the largest ones.  A bound past 2^digits (the integers the dtype holds one by one: 8 for
bfloat16, 11 for float16, 24 for float32, 53 for float64) is allowed with a warning.
"""
from __future__ import annotations

import numpy as np

from . import dtypes
from ._warn_once import warn_user

__all__ = ["float_bounds"]

# the significand's bits (the implicit one counted) and PyTorch's name of each element type
_GRID = {np.dtype(np.float16): (11, "c10::Half"), np.dtype(dtypes.BFLOAT16): (8, "c10::BFloat16"),
         np.dtype(np.float32): (24, "float"), np.dtype(np.float64): (53, "double")}


def _as(np_dtype, value):
    """The integer ``value`` converted to ``np_dtype`` and back (16-bit types through float32,
    as PyTorch's conversion of an int64 goes)."""
    if np_dtype.itemsize == 2:
        rounded = np.array(np.float32(value)).astype(np_dtype)
    else:
        rounded = np.array(value, dtype=np.float64 if np_dtype.itemsize == 8 else np.float32)
    return int(rounded.astype(np.float64))


def float_bounds(np_dtype, low, high):
    """``(low, high)`` for draws into ``np_dtype``: unchanged for a non-floating dtype; for a
    floating one moved onto its grid (the module's rule), with PyTorch's warning for a bound
    past the integers it holds exactly and its refusal of a range that closes up."""
    grid = _GRID.get(np.dtype(np_dtype))
    if grid is None:
        return low, high
    digits, name = grid
    up = _as(np_dtype, low + 1)
    if up < low:
        low = up + (1 << ((abs(low + 1).bit_length() - 1) - digits + 1))
    down = _as(np_dtype, high - 1)
    if down >= high:
        high = down - (1 << ((abs(high - 1).bit_length() - 1) - digits + 1))
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than 'to' "
                           f"casted to dtype, but got from={low} >= to={high}")
    for what, value in (("from", low), ("to - 1", high - 1)):
        if abs(value) > 1 << digits:
            warn_user(f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to precision "
                      f"limitations {name} can support discrete uniform distribution only "
                      f"within this range. This warning will become an error in version 1.7 "
                      f"release, please fix the code in advance", UserWarning)
    return low, high
