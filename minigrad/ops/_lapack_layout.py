"""The memory layout of the results of PyTorch's LAPACK-backed linear algebra.

LAPACK reads and writes each matrix column by column, so PyTorch gives the matrices its
factorizations, inverses and solves return (``linalg.inv``, ``solve``, ``cholesky``,
``lu_factor``, ``qr``, ``svd``'s U and Vh, ``eigh``'s vectors...) column-major layouts: a
result of shape (*, m, n) has strides (m * n, ..., m * n, 1, m), the batch outermost.  numpy
returns its results row-major; ``column_major`` lays them out as PyTorch's, so that
``stride()``, ``is_contiguous()`` and ``view`` behave alike.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf
from .movement_copies import clone

__all__ = ["column_major", "column_major_tensor", "column_major_copy"]


def column_major(a):
    """``a`` (..., m, n), a numpy array, with each matrix stored column by column and the batch
    row-major outside them: ``a`` itself when it already is so, else one copy.  Arrays of
    fewer than 2 dims and other array types (meta, device arrays) come back unchanged."""
    if type(a) is not np.ndarray or a.ndim < 2 or _laid_out(a):
        return a
    if a.size == 0:
        return _empty_column_major(a.shape, a.dtype)
    # (a fresh array: numpy's own copy keeps any stride on a dim of size 1)
    out = np.empty(a.shape[:-2] + (a.shape[-1], a.shape[-2]), a.dtype)
    out[...] = a.swapaxes(-1, -2)
    return out.swapaxes(-1, -2)


def _strides(shape):
    """PyTorch's column-major strides (in elements) for ``shape`` (*, m, n): 1 down a column,
    max(m, 1) across, the batch row-major outside, each size counted as at least 1."""
    out, step = [1, max(shape[-2], 1)], max(shape[-2], 1) * max(shape[-1], 1)
    for size in reversed(shape[:-2]):
        out.insert(0, step)
        step *= max(size, 1)
    return tuple(out)


def _empty_column_major(shape, dtype):
    """An empty array of ``shape`` whose strides are PyTorch's column-major ones (numpy gives a
    new empty array zero strides, which ``stride()`` reports as row-major)."""
    strides = tuple(s * dtype.itemsize for s in _strides(shape))
    return np.ndarray(shape, dtype, buffer=np.empty(1, dtype), strides=strides)


def _laid_out(a):
    """Is ``a`` already stored as ``column_major`` stores it?  Its strides exactly, on dims of
    size 1 too (numpy's flags take any stride there; PyTorch's strides are fixed: a column
    (m, 1) has strides (1, m), a row (1, n) has (1, 1)); an empty array's, PyTorch's
    (``_strides``)."""
    if a.size == 0:
        return a.strides == tuple(s * a.itemsize for s in _strides(a.shape))
    if not a.swapaxes(-1, -2).flags.c_contiguous:
        return False
    if 1 not in a.shape:
        return True
    step = a.itemsize
    for axis, size in zip((-2, -1), a.shape[-2:]):
        if a.strides[axis] != step:
            return False
        step *= size
    for axis in range(a.ndim - 3, -1, -1):
        if a.strides[axis] != step:
            return False
        step *= a.shape[axis]
    return True


def column_major_tensor(t):
    """The Tensor ``t`` (..., m, n) laid out as ``column_major`` lays out an array: ``t`` itself
    when it already is so (or holds at most one element), else a differentiable copy (the
    transpose's row-major copy, transposed back)."""
    a = t._array
    if type(a) is not np.ndarray or a.ndim < 2 or a.size == 1 or _laid_out(a):
        return t
    if a.size == 0:                 # (a differentiable view of the empty array, re-strided)
        return t.as_strided(a.shape, _strides(a.shape), t.storage_offset())
    if a.swapaxes(-1, -2).flags.c_contiguous:
        # only a dim of size 1 has another stride: ``contiguous`` would keep it
        return column_major_copy(t)
    return t.mT.contiguous().mT


def column_major_copy(t):
    """A differentiable copy of the Tensor ``t`` (..., m, n) laid out as ``column_major`` lays
    out an array (sharing no memory with ``t``, whatever its layout)."""
    return clone(t.mT, memory_format=mf.contiguous_format).mT
