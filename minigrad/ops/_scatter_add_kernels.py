"""The array kernels of the scatter-adds, numpy or cupy:

* ``scatter_add_array``: zeros with src's elements added at their flat positions
  (``flat_positions``), one ``bincount`` over every element (ScatterAdd, and IndexAdd's
  other cases);
* ``index_add_slices``: IndexAdd (the backward of ``index_select``, ``x[idx]`` and
  ``embedding`` for other dtypes, and ``index_add``),

      out = zeros(shape with ``size`` along dim);  out.take(index, axis=dim) += src

  for float and complex slices, as whole slices summed rank by rank (``_row_sums.row_sums``:
  sorted by destination, the k-th slice of every destination in one vectorised add), where
  the bincount weighs each element in float64 and writes a float64 array of the whole output
  (for an embedding's 8192 rows of 256 float32 into a 10000-row table, 2M conversions and a
  20 MB intermediate: 14 ms, against 3 ms for PyTorch's whole forward and backward).

Both sum in float64 (complex128), in index order, and round once: ``index_add_slices`` is
bitwise the bincount. Other dtypes, cupy, small slices (where the bincount is the cheaper)
and empty arrays keep ``scatter_add_array``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ._row_sums import row_sums

# ``row_sums``' min_rank_work for IndexAdd: a rank of the sorted slices is summed by a
# vectorised add of its own when it adds at least this many elements (a few microseconds of
# Python each); the later rows of the runs longer than that go to a bincount (per element)
MIN_RANK_WORK = 1024
# slices of fewer elements than this are left to the bincount, whose cost is per element,
# while sorting the index costs per slice
MIN_SLICE = 48
# a scatter-add of at least this many elements first checks whether its positions are all
# distinct (then it writes them in place); fewer go straight to the bincount
DISTINCT_FROM = 1024


def flat_positions(shape, dim, index):
    """Where index's elements land in a flat array of ``shape``: each element's own coordinates
    with ``dim``'s replaced by its value, flattened (int64, index's shape)."""
    xp = backend.xp_of(index)
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    flat = index.astype(xp.int64) * strides[dim]
    for k, n in enumerate(index.shape):
        if k != dim and strides[k] and n > 1:
            view = [1] * index.ndim
            view[k] = n
            flat = flat + (xp.arange(n, dtype=xp.int64) * strides[k]).reshape(view)
    # (already index's shape unless index has one element per line: a broadcast view then)
    return flat if flat.shape == index.shape else xp.broadcast_to(flat, index.shape)


def scatter_add_array(shape, dim, index, src):
    """zeros(shape) with src[pos] added at index along ``dim`` (index broadcastable to src).

    Array-level (numpy or cupy); ``index`` values must already be checked and non-negative.
    """
    xp = backend.xp_of(src)
    flat = flat_positions(shape, dim, xp.broadcast_to(index, src.shape))
    size = 1
    for n in shape:
        size *= n
    if src.size == 0 or size == 0:
        return xp.zeros(shape, dtype=src.dtype)
    pos, w = flat.ravel(), src.ravel()
    if type(w) is np.ndarray and w.dtype.kind == "f" and w.dtype.itemsize <= 8 and \
            pos.size >= DISTINCT_FROM:
        # no position twice (a gather's backward, a permutation): each element is written
        # where it lands, + 0 (the bincount's sum from 0 turns -0.0 into 0.0; one element
        # widened to float64 and back is itself); else the bincount below
        seen = np.zeros(size, dtype=bool)
        seen[pos] = True
        if np.count_nonzero(seen) == pos.size:
            out = np.zeros(shape, dtype=src.dtype)
            out.reshape(-1)[pos] = np.add(w, 0, dtype=src.dtype)
            return out
    if w.dtype.kind == "c":
        # bincount adds float weights only: the real and imaginary parts are summed apart
        summed = xp.bincount(pos, weights=w.real, minlength=size) + \
            1j * xp.bincount(pos, weights=w.imag, minlength=size)
    else:
        summed = xp.bincount(pos, weights=w, minlength=size)
    return summed.reshape(shape).astype(src.dtype, copy=False)


def index_add_fits(src, index, size):
    """Whether ``index_add_slices`` takes this case (else ``scatter_add_array`` does)."""
    return bool(type(src) is np.ndarray and src.dtype.kind in "fc" and index.size and size
                and src.size >= MIN_SLICE * index.size)


def index_add_slices(src, index, dim, size):
    """src (..., K, ...) with K = len(index) along ``dim``, index (K,) int64 in [0, size) ->
    out (..., size, ...) zeros with src's slice k added into slice index[k], summed in float64
    (complex128) in index order and rounded once. Only for the cases ``fits`` accepts."""
    return row_sums(src, index, size, axis=dim, wide=True, min_rank_work=MIN_RANK_WORK)
