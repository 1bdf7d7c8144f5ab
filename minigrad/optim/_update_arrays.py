"""The arrays and numbers the optimizers' updates compute with: a complex parameter's memory
as real (real, imag) pairs and back (``real_pairs``, ``complex_of_pairs``), and a group's
tensor hyper-parameters read as numpy scalars (``_with_float_scalars``).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def real_pairs(a):
    """A complex array's memory read as real (real, imag) pairs: shape (..., 2), a view."""
    return a[..., None].view(a.real.dtype)


def complex_of_pairs(a):
    """The complex array whose (real, imag) pairs ``a`` (..., 2) holds: a view."""
    return a.view(np.result_type(a.dtype, np.complex64))[..., 0]


def _like_complex(v, p):
    return isinstance(v, Tensor) and v._array.dtype == p._array.dtype and \
        v._array.shape == p._array.shape


def _with_float_scalars(group):
    """``group`` for the array arithmetic of ``_update``: a tensor hyper-parameter (a 1-element
    ``lr`` tensor or Adam's tensor ``betas``, which PyTorch allows so that a scheduler can
    change them in place) read as a numpy scalar of the tensor's dtype (PyTorch's arithmetic on
    it, e.g. lr / bias_correction, rounds to that dtype), in a shallow copy; the group itself
    where none is a tensor."""
    def scalar(v):
        return v._array.reshape(())[()] if isinstance(v, Tensor) else v

    def has_tensor(v):
        return isinstance(v, Tensor) or (isinstance(v, tuple) and
                                         any(isinstance(x, Tensor) for x in v))
    # (the usual group holds only numbers, flags and None: those are passed over by their
    # exact type, without a call each, as this runs at every step)
    for k, v in group.items():
        kind = type(v)
        if kind is float or kind is int or kind is bool or v is None or k == "params":
            continue
        if has_tensor(v):
            break
    else:
        return group
    return {k: (v if k == "params" else
                tuple(map(scalar, v)) if isinstance(v, tuple) else scalar(v))
            for k, v in group.items()}
