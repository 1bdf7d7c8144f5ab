"""The array kernels of the scatter-adds, numpy or cupy:

* ``scatter_add_array``: zeros with src's elements added at their flat positions
  (``flat_positions``), one ``bincount`` over every element (ScatterAdd, and IndexAdd's
  other cases);
* ``index_add_slices``: IndexAdd (the backward of ``index_select`` and ``embedding``),

      out = zeros(shape with ``size`` along dim);  out.take(index, axis=dim) += src

  for float slices, as sorted runs of whole slices instead. The bincount weighs each
  element in float64 and writes a float64 array of the whole output: for an embedding's
  8192 rows of 256 float32 into a 10000-row table that is 2M conversions and a 20 MB
  intermediate (14 ms, against 3 ms for PyTorch's whole forward and backward).

The slices of ``src`` are sorted by their index (a stable argsort of the 1-d index, cheap
next to the data): a *run* is the slices bound for one destination, in their order, the
k-th of them of *rank* k. Then:

* a destination reached once gets its slice copied (plus 0, which turns -0.0 into the +0.0
  that a sum starting from zero gives);
* the other runs, listed longest first, are summed rank by rank: the runs that reach rank r
  are a prefix of that list, so gathering the slices rank after rank makes each rank one
  vectorised add of a contiguous block into the sums (a loop over ranks, not over slices);
* a rank that too few runs reach to be worth its add (an index repeating a few values
  many times) ends that: the runs longer than the last rank summed so go to the bincount,
  on their slices alone.

Sums run in float64 (complex128) and are rounded once, in index order, so the results are
bitwise the bincount's. Other dtypes, cupy, small slices (where the bincount is the cheaper)
and empty arrays keep ``scatter_add_array``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ._util import along as _along

# a rank of the runs is summed by a vectorised add of its own when it adds at least this
# many elements (a few microseconds of Python each); the runs longer than the last such rank
# go to the bincount, which costs per element
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


def _runs_reaching(counts):
    """counts (R,) of runs -> reaching (max count,): reaching[r] = number of runs longer
    than r, i.e. that have a slice of rank r (0-based)."""
    if not counts.size:
        return np.zeros(0, np.int64)
    return np.bincount(counts - 1)[::-1].cumsum()[::-1]


def index_add_slices(src, index, dim, size):
    """src (..., K, ...) with K = len(index) along ``dim``, index (K,) int64 in [0, size) ->
    out (..., size, ...) zeros with src's slice k added into slice index[k].
    Only for the cases ``fits`` accepts."""
    k = index.size
    slice_size = src.size // k
    order = np.argsort(index, kind="stable")               # slices grouped by destination
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    counts = np.diff(np.append(starts, k))
    once = counts == 1
    # ranks worth a vectorised add of their own: those that enough runs reach
    reaching = _runs_reaching(counts[~once])
    last_rank = int(np.count_nonzero(reaching * slice_size >= MIN_RANK_WORK))
    light = ~once & (counts <= last_rank)
    heavy = counts > max(last_rank, 1)

    out = np.zeros(src.shape[:dim] + (size,) + src.shape[dim + 1:], src.dtype)
    # the slices bound for a destination of their own are copied there (+ 0 turning -0.0
    # into the +0.0 that a sum from zero gives); when they are most, all slices are, the
    # other destinations being overwritten below
    if 2 * int(once.sum()) >= k:
        out[_along(dim, index)] = src
        out += 0
    else:
        single = order[starts[once]]
        part = np.take(src, single, axis=dim)
        part += 0
        out[_along(dim, index[single])] = part
    if light.any():
        # light runs, longest first (stable: equal counts keep their index order): the runs
        # reaching rank r are a prefix of them; light_order lists the slices rank by rank,
        # the slice of rank r of the run listed j-th at offsets[r] + j
        by_count = np.argsort(-counts[light], kind="stable")
        light_starts, light_counts = starts[light][by_count], counts[light][by_count]
        per_rank = _runs_reaching(light_counts)
        offsets = np.concatenate(([0], per_rank.cumsum()))
        rank = np.arange(offsets[-1]) - np.repeat(light_counts.cumsum() - light_counts,
                                                  light_counts)
        run = np.repeat(np.arange(light_counts.size), light_counts)
        light_order = np.empty(rank.size, np.int64)
        light_order[offsets[rank] + run] = order[np.repeat(light_starts, light_counts) + rank]
        wide = np.complex128 if src.dtype.kind == "c" else np.float64
        sums = np.add(np.take(src, light_order[:per_rank[0]], axis=dim), 0, dtype=wide)
        for r in range(1, per_rank.size):          # one add per rank, not per slice
            sums[_along(dim, slice(0, per_rank[r]))] += np.take(
                src, light_order[offsets[r]:offsets[r + 1]], axis=dim)
        out[_along(dim, ordered[light_starts])] = sums     # rounded once to src's dtype
    heavy_counts = counts[heavy]
    if heavy_counts.size:
        rest = np.take(src, order[np.repeat(heavy, counts)], axis=dim)
        which = np.repeat(np.arange(heavy_counts.size), heavy_counts)
        view = [1] * src.ndim
        view[dim] = which.size
        shape = src.shape[:dim] + (heavy_counts.size,) + src.shape[dim + 1:]
        out[_along(dim, ordered[starts[heavy]])] = scatter_add_array(
            shape, dim, which.reshape(view), rest)
    return out
