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
bitwise the bincount; the ops call it ``in_order``: float32, float64 and complex slices then
add one after another in their own dtype, as PyTorch's CPU index_add (bit for bit). Other
dtypes, cupy, small slices (where the bincount is the cheaper) and empty arrays keep
``scatter_add_array``.
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
# a float scatter-add of at least this many elements writes them in place and sums only the
# repeated positions apart (``_written_then_summed``); fewer go straight to the bincount
DISTINCT_FROM = 1024
# ... and so does one whose output has at most this many positions per element: there the
# bincount's float64 output costs less than the other's passes over the elements (64K
# elements into 512K positions: 0.21 ms against 0.55; at 16 positions each they tie)
BINCOUNT_UP_TO = 8


def flat_positions(shape, dim, index):
    """Where index's elements land in a flat array of ``shape``: each element's own coordinates
    with ``dim``'s replaced by its value, flattened (int64, index's shape)."""
    xp = backend.xp_of(index)
    strides = [1] * len(shape)
    for k in range(len(shape) - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    offsets = []                # each other dim's coordinate times its stride, as a column
    for k, n in enumerate(index.shape):
        if k != dim and strides[k] and n > 1:
            view = [1] * index.ndim
            view[k] = n
            offsets.append((xp.arange(n, dtype=xp.int64) * strides[k]).reshape(view))
    # one pass over index's size where it can (the int64 cast made in the first add, a
    # stride of 1 not multiplied by): gather's (1024, 64) index into 1024 x 1024, 69 us in
    # three passes and two temporaries
    flat = index if strides[dim] == 1 else xp.multiply(index, strides[dim], dtype=xp.int64)
    if not offsets:
        flat = flat.astype(xp.int64, copy=flat is index)
    else:
        flat = xp.add(flat, offsets[0], dtype=xp.int64)
        for more in offsets[1:]:
            xp.add(flat, more, out=flat)
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
    if type(w) is np.ndarray and w.dtype in _MARKED and pos.size >= DISTINCT_FROM and \
            size > BINCOUNT_UP_TO * pos.size and pos.size < 1 << (8 * w.dtype.itemsize - 1):
        out = _written_then_summed(shape, size, pos, w)
        if out is not None:
            return out
    if w.dtype.kind == "c":
        # bincount adds float weights only: the real and imaginary parts are summed apart
        summed = xp.bincount(pos, weights=w.real, minlength=size) + \
            1j * xp.bincount(pos, weights=w.imag, minlength=size)
    else:
        summed = xp.bincount(pos, weights=w, minlength=size)
    return summed.reshape(shape).astype(src.dtype, copy=False)


# the float dtypes whose output array first holds, as integers of their width, the number of
# the element written last at each position (see ``_written_then_summed``)
_MARKED = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}
# more repeated elements than this fraction of them: the bincount over all of them is cheaper
# than summing the repeats apart (a sort of them)
REPEATS_UP_TO = 0.25


def _written_then_summed(shape, size, pos, w):
    """zeros(size) with w added at pos (float32/float64, K elements) when few positions
    repeat, else None: each element is written where it lands (the last of a repeated
    position wins), then the positions that more than one element reached get their float64
    sum in index order, rounded once -- the bincount's numbers, without its float64 array of
    the whole output. The repeats are found without a scratch array of the output's size:
    the output itself, seen as integers, first takes each element's number at its position
    (the last one wins); an element that does not read its own number back repeats a
    position. Elements are written + 0, as the bincount's sum from 0 turns -0.0 into 0.0."""
    k = pos.size
    out = np.zeros(size, w.dtype)
    marks = out.view(_MARKED[w.dtype])
    numbers = np.arange(k, dtype=marks.dtype)
    marks[pos] = numbers
    last = marks.take(pos)
    again = np.flatnonzero(last != numbers)             # the elements some later one beat
    if again.size > REPEATS_UP_TO * k:
        return None
    out[pos] = np.add(w, 0, dtype=w.dtype)
    if again.size:
        dest = pos.take(again)
        places, group = np.unique(dest, return_inverse=True)
        winner = np.empty(places.size, np.int64)
        winner[group] = last.take(again)                # each place's last element
        total = np.bincount(group, w.take(again), places.size)
        total += w.take(winner)
        out[places] = total
    return out.reshape(shape)


def index_add_fits(src, index, size):
    """Whether ``index_add_slices`` takes this case (else ``scatter_add_array`` does)."""
    return bool(type(src) is np.ndarray and src.dtype.kind in "fc" and index.size and size
                and src.size >= MIN_SLICE * index.size)


def index_add_slices(src, index, dim, size, in_order=False):
    """src (..., K, ...) with K = len(index) along ``dim``, index (K,) int64 in [0, size) ->
    out (..., size, ...) zeros with src's slice k added into slice index[k], in index order:
    summed in float64 (complex128) and rounded once, bitwise the bincount; with
    ``in_order``, float32, float64 and complex slices one add after another in their own
    dtype, as PyTorch's CPU index_add (and so the backward of index_select and ``x[idx]``)
    adds them, bit for bit, and faster (no float64 copies: 1024 random rows of 1024 float32,
    1.1 ms instead of 1.6); the later rows of a destination reached very often still go to
    a float64 sum there (``row_sums`` step 4: more accurate than PyTorch's), and float16
    stays wide (PyTorch sums it in float32, rounded once). Only for the cases ``fits``
    accepts."""
    wide = not in_order or src.dtype.itemsize == 2
    return row_sums(src, index, size, axis=dim, wide=wide, min_rank_work=MIN_RANK_WORK)
