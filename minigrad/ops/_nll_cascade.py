"""The summation order of PyTorch's CPU ``nll_loss`` reductions ('sum' and 'mean'), so that
the reduced float32 / float64 loss and its summed weights match it bit for bit.

PyTorch adds the per-row losses (and, with class weights, the rows' weights) in the input's
own dtype, row by row, into a small cascade of partial sums: level 0 takes each counted row;
after a counted row b whose index is a multiple of ``step`` (16 below 2**40 rows), level 0 is
added into level 1 and cleared, and then, while b is a multiple of step**(j+1), level j into
level j+1 (8 levels; the last one is never carried).  Rows whose target is ``ignore_index``
are skipped, checks included.  The total is ((0 + p0) + p1) + ... + p7.

So every level is a left-to-right sum of the items the level below carried, cut after the
items carried at a counted row that is a multiple of the step.  When every row counts that
is a fixed shape (``_regular_partials``: row 0 goes straight to the top, the others in groups
of 16, their sums in groups of 16 again, ...), each group a running sum across its columns.
With skipped rows, a level works on blocks of 16 positions (``_level``): a block whose last
position counts is carried up; one whose last does not goes on into the next block, so such
runs of blocks are summed as one (the runs of one length together).  'mean' then divides
the loss total by the weight total (or by the count of counted rows without class weights)
once, in the dtype.  ``grad_entries``
gives the backward's numbers as PyTorch's kernel makes them: -(g / total weight) times the
row's weight.
"""
from __future__ import annotations

import numpy as np

__all__ = ["cascade_total", "cascade_reduce", "grad_entries", "grad_rows"]

_LEVELS = 8


def _step(n):
    """2**level_power: 16, larger only from 2**40 rows on."""
    ceil_log2 = int(n - 1).bit_length() if n > 1 else 0
    return 1 << max(4, ceil_log2 // _LEVELS)


def _row_totals(grid, start=None):
    """Left-to-right sums of each row of a 2-D array, from ``start`` (one per row) or +0:
    one sequential add per element, unlike ``sum``'s pairwise blocks. Short grids by a
    running sum along the rows, tall ones column after column (numpy's running sum along a
    short row costs per row)."""
    rows, width = grid.shape
    if rows * width <= _BY_COLUMNS:
        if start is not None:
            grid = np.concatenate((start[:, None], grid), axis=1)
        return np.add.accumulate(grid, axis=1)[:, -1] if grid.shape[1] else \
            np.zeros(rows, grid.dtype)
    acc = np.zeros(rows, grid.dtype) if start is None else start.copy()
    for k in range(width):
        acc += grid[:, k]
    return acc


_BY_COLUMNS = 1 << 12


def _sequential(vals):
    """v0 + v1 + ... left to right, in vals' dtype (0 when empty).  (A zero's sign may differ
    from PyTorch's +0 start; it cannot survive the final sum from +0.)"""
    if len(vals) == 0:
        return vals.dtype.type(0)
    return np.add.accumulate(vals)[-1]


def _regular_partials(vals, step, levels=_LEVELS - 1):
    """The level partial sums when every row counts: row 0 alone reaches the top level; the
    rest are added in groups of ``step``, whose sums are added in groups of ``step`` again,
    and so on (``levels`` times); what does not fill a group stays at its level."""
    partials = []
    items = vals[1:]
    for _ in range(levels):
        full = len(items) // step * step
        partials.append(_sequential(items[full:]))
        if not full:
            items = items[:0]
            break
        items = _row_totals(items[:full].reshape(-1, step))
    # (levels left empty add zeros: left out)
    partials.append(_sequential(np.concatenate((vals[:1], items))))
    return partials


def _level(vals, counted, step):
    """One level of the cascade when some rows are skipped. vals, counted (R + 1,): the
    items at positions 0..R (position 0 never counted here; an item not counted is 0) and
    whether each counts. The positions 1..R fall in blocks of ``step``; a block whose last
    position counts is carried up after it, else its running sum goes on into the next
    block: a run of blocks up to one that is carried (a "chain") is one left-to-right sum,
    made for all the chains of one length at once. Returns (the next level's vals and
    counted, positions 0..number of blocks, and the sum left at this level after its last
    carry)."""
    r = len(vals) - 1
    blocks = -(-r // step)
    grid = np.zeros(blocks * step, vals.dtype)
    grid[:r] = vals[1:]
    grid = grid.reshape(blocks, step)
    closed = np.zeros(blocks, bool)
    ends = counted[step::step]                                  # the full blocks' last ones
    closed[:len(ends)] = ends
    last = np.flatnonzero(closed)
    open_tail = not closed[-1]
    if open_tail:
        last = np.append(last, blocks - 1)
    first = np.concatenate(([0], last[:-1] + 1))
    size = last - first + 1                                     # blocks in each chain
    totals = np.empty(len(last), vals.dtype)
    for n in np.unique(size):
        which = np.flatnonzero(size == n)
        if n * step * len(which) > _LONG and len(which) <= _FEW:
            for i in which:                                     # a few long chains
                totals[i] = _sequential(grid[first[i]:last[i] + 1].reshape(-1))
            continue
        picked = grid[first[which][:, None] + np.arange(n)]     # (chains, n, step)
        totals[which] = _row_totals(picked.reshape(len(which), n * step))
    up = np.zeros(blocks + 1, vals.dtype)
    carried = last[:-1] if open_tail else last
    up[carried + 1] = totals[:len(carried)]
    up_counted = np.zeros(blocks + 1, bool)
    up_counted[1:] = closed
    left = totals[-1] if open_tail else vals.dtype.type(0)
    return up, up_counted, left


_LONG = 1 << 16         # chains of more numbers than this (a few) by a running sum each
_FEW = 8


def cascade_total(vals, rows, n):
    """PyTorch's cascade sum of ``vals`` (1-D, the counted rows' values in row order, in the
    dtype to sum in) whose row indices are ``rows`` (int array, increasing; None: every row
    0..n-1 is counted, vals has n entries).  Returns a scalar of vals' dtype."""
    step = _step(n)
    if rows is None:
        partials = _regular_partials(vals, step) if len(vals) else []
    else:
        full = np.zeros(n, vals.dtype)
        full[rows] = vals
        counted = np.zeros(n, bool)
        counted[rows] = True
        top = full[0] if n and counted[0] else vals.dtype.type(0)   # row 0: straight up
        counted[:1] = False
        partials = []
        for level in range(_LEVELS - 1):
            if len(full) <= step or not counted.any():
                # no whole block: nothing goes up from here; the top keeps row 0 alone
                partials += [_sequential(full[counted]), top]
                break
            if counted[step::step].all():
                # every carry from here up happens: the fixed shape of ``_regular_partials``
                # (the skipped positions adding zeros), row 0 in position 0 going to the top
                every = np.where(counted, full, 0)
                every[0] = top
                partials += _regular_partials(every, step, _LEVELS - 1 - level)
                break
            full, counted, left = _level(full, counted, step)
            partials.append(left)
        else:
            # the top level: row 0, then what the level below it carried
            partials.append(_sequential(np.concatenate(([top], full[counted]))))
    total = vals.dtype.type(0)
    for p in partials:
        total = vals.dtype.type(total + p)
    return total


def cascade_reduce(loss, valid, w_t, reduction):
    """'sum' or 'mean' of the per-row losses (M,) in PyTorch's order: rows whose ``valid`` is
    False (None: none) are left out; 'mean' divides by the cascade sum of the rows' weights
    ``w_t`` (None: each row weighs 1, the count of counted rows). Returns (out, denominator
    or None)."""
    m = len(loss)
    rows = None if valid is None else np.flatnonzero(valid)
    if rows is None:
        def counted(v):
            return v
    elif valid[::_step(m)].all():
        # every row where a carry happens is counted: the cascade of all the rows, the
        # ignored ones adding zeros (which change no digit), so no pieces of other lengths
        rows = None

        def counted(v):
            return np.where(valid, v, 0)
    else:
        def counted(v):
            return v[rows]
    with np.errstate(all="ignore"):        # (inf and nan losses: as PyTorch, no warning)
        out = cascade_total(counted(loss), rows, m)
        if reduction != "mean":
            return out, None
        if w_t is None:         # PyTorch's count of the counted rows
            denominator = loss.dtype.type(m if valid is None else np.count_nonzero(valid))
        else:
            denominator = cascade_total(counted(w_t), rows, m)
        return loss.dtype.type(out / denominator), denominator  # all ignored: nan, as PyTorch


def grad_entries(m, w_t, valid, g, denominator, reduction):
    """The nonzero entries of nll_loss's input gradient, in PyTorch's arithmetic: (the
    counted rows (K,), their values (K,)), each row's value at its target's column. g: the
    incoming gradient, a 0-d array ((M,) for 'none') of the dtype; w_t (M,) the M rows'
    weights or None (ones); valid (M,) bool or None (every row counted).
        'mean': w_t * -(g / denominator)    'sum': w_t * -g    'none': -w_t * g_i
    Ignored rows get no entry: their zeros stay +0."""
    if reduction == "none":
        step = -g.reshape(-1)
    else:
        step = -(g / denominator) if reduction == "mean" else -g
    vals = step if w_t is None else w_t * step
    if vals.ndim == 0:
        vals = np.full(m, vals)
    if valid is None:
        return np.arange(m), vals
    rows = np.flatnonzero(valid)
    return rows, vals[rows]


def grad_rows(shape, t, w_t, valid, g, denominator, reduction):
    """nll_loss's input gradient (M, C) of log-probabilities, t (M,) the targets: zeros, and
    ``grad_entries``' numbers at the counted rows' targets."""
    rows, vals = grad_entries(shape[0], w_t, valid, g, denominator, reduction)
    out = np.zeros(shape, g.dtype)
    out[rows, t[rows]] = vals
    return out

