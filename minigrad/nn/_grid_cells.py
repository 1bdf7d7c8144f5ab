"""Bilinear ``grid_sample`` of a 4-D numpy float32/float64 input on arrays, forward and the
backward without a recorded graph (``_functional_grid._BilinearSample2d``), by *cells*.

A point at source pixel coordinates (ix, iy) reads the 4 pixels around it, (y0, x0),
(y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1) with x0 = floor(ix), y0 = floor(iy): the cell
(y0, x0). The input is first copied once into pixel rows (C numbers per pixel) of a zero
*padded* image, one pixel of zeros left and above, one right and two below, so that every
tap of every cell from (-1, -1) to (H - 1, W - 1) is a row of it and a tap outside the image
reads zeros: no validity masks, no clamping. A point whose cell is further out (or NaN)
reads a cell of the bottom padding, all zeros. Tap k of the point whose cell row is r is
then padded row r + (0, 1, Wp, Wp + 1)[k] (Wp = W + 2).

    forward       out = sum over the taps of padded[cell + off_k] * w_k, w_k = w_y * w_x
                  (w = f for the upper tap, 1 - f for the lower; f = coordinate - floor),
                  block by block of points, in the order of the composition it replaced
    d ix, d iy    per tap gv = sum over channels of g * padded[cell + off_k], then
                  d ix = sum +-gv w_y (+ for the upper tap in x) and d iy alike with w_x
    d input       each point sends g * w_k to the 4 pixels of its cell: the points are sorted
                  by cell (one sort of int64 keys) and their g rows gathered once, rank after
                  rank (the k-th point of every cell together); per tap, each rank's rows
                  times the tap's weights are added into the cells' running sums (U, C) (a
                  few long cells' later points left to a float64 bincount), and the sums
                  are added at cell + off_k of a zero padded image (a fancy add with no
                  repeated row), whose inside is the gradient.

The input gradient went through a sort of 4 N P (pixel, point) pairs before, and its
weighted rows were gathered per tap (4 times the points' rows); here the points are sorted
once and their rows gathered once. A pixel's gradient sums its points in cell order, each
cell's in point order, in the dtype (a cell's points beyond ``MIN_RANKS``, in a rank of
fewer than ``MIN_RANK_WORK`` numbers, in float64 rounded once): the same sum as PyTorch's
in another order.
"""
from __future__ import annotations

import numpy as np

from ..ops._row_sums import _sorted_with_positions as sorted_with_positions

__all__ = ["cell_layout", "padded_rows", "sample", "coordinate_grads", "input_grad"]

# numbers per block of points in the forward (the block's taps and its sums stay in cache)
_BLOCK = 1 << 16
# ranks of the sorted points are one vectorised add each while they add at least this many
# numbers, and the first MIN_RANKS always; the rest of the long cells go to a bincount
MIN_RANK_WORK = 4096
MIN_RANKS = 16


class Cells:
    """The points' cells and weights: ``key`` (K,) int64 the cell's row in the padded image
    (a zero cell for points outside), ``inside`` (K,) bool whether any tap is inside, and the
    4 taps' weights ``w`` (4, K) in the coordinates' dtype, taps in the order (y0, x0),
    (y0, x1), (y1, x0), (y1, x1); ``fx``, ``fy`` (K,) the fractions; ``offsets`` of the taps;
    ``shape`` (N, Hp, Wp) of the padded image."""

    def __init__(self, ix, iy, h, w):
        n = ix.shape[0]
        ix, iy = ix.reshape(-1), iy.reshape(-1)
        hp, wp = h + 3, w + 2
        with np.errstate(invalid="ignore"):
            x0, y0 = np.floor(ix), np.floor(iy)
            self.fx, self.fy = ix - x0, iy - y0
            inside = (x0 >= -1) & (x0 <= w - 1) & (y0 >= -1) & (y0 <= h - 1)   # NaN: False
        row = np.where(inside, y0 + 1, h + 1).astype(np.int64)
        col = np.where(inside, x0 + 1, 0).astype(np.int64)
        per = ix.size // n if n else 0
        row += np.repeat(np.arange(n, dtype=np.int64) * hp, per)
        row *= wp
        row += col
        self.key, self.inside = row, inside
        wy1, wx1 = self.fy, self.fx
        wy0, wx0 = (wy1 * -1) + 1, (wx1 * -1) + 1
        weights = np.empty((4, ix.size), ix.dtype)
        for k, (wy, wx) in enumerate(((wy0, wx0), (wy0, wx1), (wy1, wx0), (wy1, wx1))):
            np.multiply(wy, wx, out=weights[k])
        self.w = weights
        self.wy, self.wx = (wy0, wy1), (wx0, wx1)
        self.offsets = (0, 1, wp, wp + 1)
        self.shape = (n, hp, wp)


def cell_layout(ix, iy, h, w):
    """ix, iy (N, P) source pixel coordinates of an (h, w) image -> their ``Cells``."""
    return Cells(ix, iy, h, w)


def padded_rows(inp):
    """inp (N, C, H, W) -> its pixel rows in the zero padded image, (N Hp Wp, C)."""
    n, c, h, w = inp.shape
    rows = np.zeros((n, h + 3, w + 2, c), inp.dtype)
    rows[:, 1:h + 1, 1:w + 1, :] = inp.transpose(0, 2, 3, 1)
    return rows.reshape(-1, c)


def _blocks(k, c):
    step = max(1, _BLOCK // max(c, 1))
    return [(a, min(k, a + step)) for a in range(0, k, step)]


def sample(inp, cells):
    """The forward: (N, C, P) samples of inp at the cells' points. Where an image has at
    least a block of points, blocks never straddle two images and each is written, turned,
    straight into the output; else into rows (K, C), turned at the end."""
    n, c = inp.shape[:2]
    rows = padded_rows(inp)
    k = cells.key.size
    p = k // n if n else 0
    step = max(1, _BLOCK // max(c, 1))
    out = np.empty((n, c, p), inp.dtype)
    if p >= step:
        blocks = [(i * p + a, i * p + min(p, a + step)) for i in range(n)
                  for a in range(0, p, step)]
        out_rows = None
    else:
        blocks, out_rows = _blocks(k, c), np.empty((k, c), inp.dtype)
    key, w, offsets = cells.key, cells.w, cells.offsets
    with np.errstate(invalid="ignore", over="ignore"):
        for a, b in blocks:
            kb = key[a:b]
            acc = rows.take(kb, axis=0)
            acc *= w[0, a:b, None]
            for t in range(1, 4):
                term = rows.take(kb + offsets[t], axis=0)
                term *= w[t, a:b, None]
                acc += term
            if out_rows is None:
                i = a // p
                out[i, :, a - i * p:b - i * p] = acc.T
            else:
                out_rows[a:b] = acc
    if out_rows is not None:
        out[...] = out_rows.reshape(n, p, c).transpose(0, 2, 1)
    return out


def coordinate_grads(rows, g_rows, cells, want_x, want_y):
    """d ix, d iy (flat, (K,), each None unless wanted) for g_rows (K, C) the points'
    upstream rows and ``rows`` the padded pixel rows."""
    k = cells.key.size
    gx = np.empty(k, g_rows.dtype) if want_x else None
    gy = np.empty(k, g_rows.dtype) if want_y else None
    key, offsets = cells.key, cells.offsets
    c = g_rows.shape[1]
    with np.errstate(invalid="ignore", over="ignore"):
        for a, b in _blocks(k, c):
            kb, gb = key[a:b], g_rows[a:b]
            sx = sy = None
            for t, (up_y, up_x) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                gv = np.einsum("pc,pc->p", gb, rows.take(kb + offsets[t], axis=0))
                if want_x:
                    wy = cells.wy[up_y][a:b]
                    term = gv * wy if up_x else gv * (wy * -1)
                    sx = term if sx is None else sx + term
                if want_y:
                    wx = cells.wx[up_x][a:b]
                    term = gv * wx if up_y else gv * (wx * -1)
                    sy = term if sy is None else sy + term
            if want_x:
                gx[a:b] = sx
            if want_y:
                gy[a:b] = sy
    return gx, gy


def input_grad(g_rows, cells, inp_shape):
    """d input (N, C, H, W) for g_rows (K, C) the points' upstream rows."""
    n, c, h, w = inp_shape
    dt = g_rows.dtype
    grad = np.zeros((cells.shape[0] * cells.shape[1] * cells.shape[2], c), dt)
    points = np.flatnonzero(cells.inside)
    if points.size and c:
        keys = cells.key.take(points)
        ordered, order = sorted_with_positions(keys, grad.shape[0])
        runs = _Runs(ordered, points.take(order), c)          # the points, by cell
        del keys, ordered, order, points
        g_listed = g_rows.take(runs.listed, axis=0)           # (L, C), rank after rank
        sums = np.empty((runs.distinct, c), dt)
        scratch = np.empty((runs.second, c), dt)
        for t in range(4):
            runs.tap_sums(g_rows, g_listed, cells.w[t], sums, scratch)
            if t == 0:
                sums += 0                                     # -0.0 -> +0.0 (a sum from 0)
                grad[runs.cells] = sums                       # (distinct cells: no repeats)
            else:
                grad[runs.cells + cells.offsets[t]] += sums
        del g_listed, sums, scratch
    inner = grad.reshape(cells.shape + (c,))[:, 1:h + 1, 1:w + 1, :]
    return np.ascontiguousarray(inner.transpose(0, 3, 1, 2))


class _Runs:
    """The points grouped by cell (``ordered`` their sorted cell keys, ``order`` the points
    in that order, a cell's in point order): the cells longest first (ties in key order), so
    that the cells that reach rank r are the first ``reaching[r]``; ``listed`` the points
    rank after rank (rank r's at offsets[r]) for the first ``ranks`` ranks, and the later
    points of the cells longer than that (``rest``, cell by cell, ``rest_run`` their cell's
    number). ``cells`` (U,) the cells' keys in that order."""

    def __init__(self, ordered, order, c):
        k = ordered.size
        first = np.empty(k, bool)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, k))
        by_length = np.argsort(-counts, kind="stable")
        run_starts, run_counts = starts.take(by_length), counts.take(by_length)
        reaching = np.bincount(run_counts - 1)[::-1].cumsum()[::-1]
        ranks = max(int(np.count_nonzero(reaching * c >= MIN_RANK_WORK)),
                    min(reaching.size, MIN_RANKS))
        reaching = reaching[:ranks]
        offsets = np.concatenate(([0], reaching.cumsum()))
        run_of = np.arange(offsets[-1]) - np.repeat(offsets[:-1], reaching)
        self.listed = order.take(run_starts.take(run_of) +
                                 np.repeat(np.arange(ranks), reaching))
        self.offsets = offsets.tolist()
        self.distinct = int(reaching[0])
        self.second = int(reaching[1]) if ranks > 1 else 0
        self.cells = ordered.take(run_starts)
        self.long_runs = int(np.count_nonzero(run_counts > ranks))
        self.c = c
        if self.long_runs:
            tails = run_counts[:self.long_runs] - ranks
            run = np.repeat(np.arange(self.long_runs), tails)
            rank = np.arange(run.size) - np.repeat(tails.cumsum() - tails, tails)
            self.rest = order.take(run_starts.take(run) + ranks + rank)
            self.rest_dest = (run[:, None] * c + np.arange(c)).reshape(-1)

    def tap_sums(self, g_rows, g_listed, weight, sums, scratch):
        """Into sums (U, C): per cell the sum over its points of g_row * weight[point]."""
        off = self.offsets
        u = self.distinct
        np.multiply(g_listed[:u], weight.take(self.listed[:u])[:, None], out=sums)
        for r in range(1, len(off) - 1):
            lo, hi = off[r], off[r + 1]
            part = scratch[:hi - lo]
            np.multiply(g_listed[lo:hi], weight.take(self.listed[lo:hi])[:, None], out=part)
            sums[:hi - lo] += part
        if self.long_runs:                  # the long cells' later points, in float64
            terms = g_rows.take(self.rest, axis=0)
            terms *= weight.take(self.rest)[:, None]
            total = np.bincount(self.rest_dest, terms.reshape(-1), self.long_runs * self.c)
            head = sums[:self.long_runs]
            head[...] = head + total.reshape(self.long_runs, self.c)
