"""The input gradient of bilinear ``grid_sample`` (``_functional_grid._BilinearSample2d``) as
sums of whole pixel rows, without a bincount.

Every tap of every sampled point sends one row of C numbers (the point's upstream gradient
over the channels, times the tap's weight) to one pixel of the input. A bincount over the
N C P entries of each of the 4 taps cost several nanoseconds an entry (its loop is one
float64 add per entry, its weights converted first), most of the backward. Here the
4 N P taps are sorted by the pixel they land on (a stable argsort of 4 N P integers, cheap
next to the N C P numbers): within a pixel's *run* of taps, the k-th has *rank* k. The taps
of one rank land on distinct pixels, so each rank is one vectorised write (rank 0) or
in-place add (the others) of whole rows: out[pixels] (+)= g_rows[points] * weights. The
ranks that too few taps reach to be worth a vectorised step (a pixel that many points fall
on) go, from the first such rank on, to one bincount over their entries alone.

A pixel's row sums its taps in tap order (the 4 corners in turn, each over the points in
order), in the input's dtype, from zero (so -0.0 terms sum to +0.0, as the bincount's and
PyTorch's sums from zero do).
"""
from __future__ import annotations

import numpy as np

__all__ = ["fits", "tap_rows_sum"]

# a rank is one vectorised add when it moves at least this many numbers (a few microseconds
# of Python each); the taps of the ranks after it go to one bincount
MIN_RANK_WORK = 4096
# channels per row below which the bincount over every entry is the cheaper
MIN_ROW = 8


def fits(c):
    """Whether rows of ``c`` channels go through ``tap_rows_sum``."""
    return c >= MIN_ROW


def tap_rows_sum(g_rows, flat_dest, points, flat_w, size):
    """g_rows (M, C) the points' upstream rows; per tap (K,) the pixel it lands on (int64 in
    [0, size)), its point (int64 in [0, M)) and its weight (g_rows' dtype) -> out (size, C):
    the sum over the taps of g_rows[point] * weight at row pixel."""
    c = g_rows.shape[1]
    out = np.zeros((size, c), g_rows.dtype)
    k = flat_dest.size
    if k == 0 or c == 0:
        return out
    ordered, order = _sorted_with_positions(flat_dest, size)   # taps grouped by pixel
    new = np.empty(k, dtype=bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    rank = np.arange(k, dtype=np.int64)
    rank -= np.repeat(starts, np.diff(np.append(starts, k)))
    per_rank = np.bincount(rank)                           # taps of each rank
    _, by_rank = _sorted_with_positions(rank, per_rank.size)   # rank by rank, pixels ascending
    by_rank = order.take(by_rank)
    bounds = np.concatenate(([0], np.cumsum(per_rank)))
    r = 0
    while r < per_rank.size and (r == 0 or per_rank[r] * c >= MIN_RANK_WORK):
        taps = by_rank[bounds[r]:bounds[r + 1]]
        rows = g_rows.take(points.take(taps), axis=0)
        rows *= flat_w.take(taps)[:, None]
        if r == 0:
            rows += 0                                      # -0.0 -> +0.0: a sum from zero
            out[flat_dest.take(taps)] = rows
        else:
            out[flat_dest.take(taps)] += rows
        r += 1
    if r < per_rank.size:                                  # the few taps of the long runs
        taps = by_rank[bounds[r]:]
        rows = g_rows.take(points.take(taps), axis=0)
        rows *= flat_w.take(taps)[:, None]
        pixels, which = np.unique(flat_dest.take(taps), return_inverse=True)
        at = (which.reshape(-1) * c)[:, None] + np.arange(c, dtype=np.int64)
        extra = np.bincount(at.reshape(-1), rows.reshape(-1).astype(np.float64),
                            minlength=pixels.size * c)
        out[pixels] += extra.reshape(pixels.size, c).astype(out.dtype)
    return out


def _sorted_with_positions(values, bound):
    """values (K,) int64 in [0, bound) -> (sorted values, their positions): a stable argsort.
    As one sort of value * 2^b + position (unique keys: any sort is stable), several times
    faster than numpy's stable argsort of int64; that argsort where the keys would not fit."""
    k = values.size
    b = max(k - 1, 1).bit_length()
    if max(bound - 1, 1).bit_length() + b > 62:
        order = np.argsort(values, kind="stable")
        return values.take(order), order
    keys = values << b
    keys |= np.arange(k, dtype=np.int64)
    keys.sort()
    order = keys & ((1 << b) - 1)
    keys >>= b
    return keys, order
