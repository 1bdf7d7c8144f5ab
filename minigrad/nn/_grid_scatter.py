"""The input gradient of bilinear ``grid_sample`` (``_functional_grid._BilinearSample2d``) as
sums of whole pixel rows, without a bincount.

Every tap of every sampled point sends one row of C numbers (the point's upstream gradient
over the channels, times the tap's weight) to one pixel of the input. A bincount over the
N C P entries of each of the 4 taps cost several nanoseconds an entry (its loop is one
float64 add per entry, its weights converted first), most of the backward. Here the
4 N P taps go to ``ops._row_sums.row_sums``: sorted by the pixel they land on, the k-th tap
of every pixel is one vectorised gather, weighting and add of whole rows, rank after rank
(the weighted rows are made one rank at a time, never all 4 N P of them at once).

A pixel's row sums its taps in tap order (the 4 corners in turn, each over the points in
order), in the input's dtype, from zero (so -0.0 terms sum to +0.0, as the bincount's and
PyTorch's sums from zero do); a pixel under more than ``_row_sums.MIN_RANKS`` taps has the
rest summed in float64 and rounded once.
"""
from __future__ import annotations

from ..ops._row_sums import row_sums

__all__ = ["fits", "tap_rows_sum"]

# channels per row below which the bincount over every entry is the cheaper
MIN_ROW = 8


def fits(c):
    """Whether rows of ``c`` channels go through ``tap_rows_sum``."""
    return c >= MIN_ROW


def tap_rows_sum(g_rows, flat_dest, points, flat_w, size):
    """g_rows (M, C) the points' upstream rows; per tap (K,) the pixel it lands on (int64 in
    [0, size)), its point (int64 in [0, M)) and its weight (g_rows' dtype) -> out (size, C):
    the sum over the taps of g_rows[point] * weight at row pixel."""
    return row_sums(g_rows, flat_dest, size, take=points, weights=flat_w)
