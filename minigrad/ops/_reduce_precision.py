"""Where a reduction's precision follows PyTorch's CPU kernels rather than numpy's: a float16
product rounded at every step (``half_product``), a float32 variance accumulated in double
(``SINGLE``)."""
from __future__ import annotations

import numpy as np

from .. import backend

__all__ = ["SINGLE", "half_product"]

# the dtype whose variance is accumulated in double, as PyTorch's CPU kernel does: squares
# beyond float32's range (|a| near 1e19 and up) still give a finite result (not complex64:
# its parts' variances are summed in single precision there)
SINGLE = {np.dtype(np.float32): np.dtype(np.float64)}


def half_product(a, axis, keepdim):
    """A float16 product as PyTorch's kernel computes it: each partial product rounded to
    float16, so one that overflows is inf (and inf * 0 NaN) even where the float32 product,
    numpy's, is finite."""
    xp = backend.xp_of(a)
    if axis is None:
        last = xp.multiply.accumulate(a.reshape(-1))[-1:].reshape((1,) * a.ndim if keepdim
                                                                 else ())
        return last.copy()
    last = xp.take(xp.multiply.accumulate(a, axis=axis), [-1], axis=axis)
    if not keepdim:
        last = last.squeeze(axis)
    return last.copy()      # (C order; ascontiguousarray would make a 0-d result 1-d)
