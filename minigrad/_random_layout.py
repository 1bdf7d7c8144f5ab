"""The layout of the ``*_like`` random factories' draws (``rand_like``, ``randn_like``,
``randint_like``): a new tensor in ``t``'s layout (or the memory format asked for) is filled
as PyTorch's kernels fill it, walking its memory: the k-th draw lands in the k-th place of
storage, not at the k-th index in row-major order."""
from __future__ import annotations

import numpy as np

from . import _memory_format as mf
from .creation import _laid_out

__all__ = ["_drawn_in_place"]


def _drawn_in_place(t, make, draws, memory_format, name):
    """``make()``'s draws (shaped like ``t``) in ``memory_format``'s layout (by default
    ``t``'s, when dense), drawn as PyTorch's kernels fill such a tensor: in memory order, by
    its one-at-a-time kernel where not row-major (``draws(strides)``: that array)."""
    strides = mf.target_strides(t._array, mf.check(memory_format, name))
    if type(t._array) is not np.ndarray or t._array.size == 0 or \
            tuple(strides) == mf._dense_strides(tuple(t.shape), range(t.ndim)) or \
            not mf.is_non_overlapping_and_dense(tuple(t.shape), strides):
        return _laid_out(t, make, memory_format, name)
    out = draws(strides)
    if mf.element_strides(out._array) != strides:
        return _laid_out(t, lambda: out, memory_format, name)
    return out
