"""nll_loss and cross entropy's reductions in float16 / bfloat16, rounded where PyTorch's CPU
kernels round, so that the values and gradients are bit for bit PyTorch's.

PyTorch's nll_loss kernel sums the picked log-probabilities (times their class weights, and
the weights themselves for 'mean') in the 16-bit dtype, every addition rounded, in a cascade
of 8 running sums: the first takes the rows one by one, and every 16th row (row index b with
b % 16 == 0, counted over all rows, ignored ones skipped) adds it into the second and clears
it; every 256th row does the same one level up, and so on; the levels are added last, in
order. A mean divides by the summed weights (or the count of rows kept), rounded once more.

With label smoothing PyTorch composes the loss of tensor ops, each rounded to the 16-bit
dtype: (1 - eps) nll + (sum of the rows' -sum_c w_c logp_c, divided as nll's) (eps / C),
with its scalars in float32; its sums over classes and rows accumulate in float32.

Everything here works on float32 copies of the 16-bit values and rounds after each step
(``_r``); Python loops run over the cascade's levels and over the positions inside one
stretch between two pushes (16 without ignored rows), never over the rows.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes

__all__ = ["nll_reduced", "smoothed_value", "nll_grad", "smoothed_grads"]

_LEVELS = 8
_STEP = 16           # 1 << level_power: 4 for any batch below 2**40 rows


def _r(a, half):
    """float32 ``a`` rounded to the 16-bit dtype ``half`` and back to float32."""
    return dtypes.astype(dtypes.astype(np.asarray(a, np.float32), half), np.float32)


def _stretches(values, pos, level, half):
    """One cascade level: ``values`` (float32, rounded) arriving at row positions ``pos``, summed
    one by one from 0 (each sum rounded); the sum is pushed up and restarted after each value
    whose position is a multiple of STEP ** (level + 1). -> (pushed sums, their positions, the
    sum left at the end)."""
    n = len(values)
    if not n:
        return values, pos, np.float32(0)
    push = pos % (_STEP ** (level + 1)) == 0 if level + 1 < _LEVELS else np.zeros(n, bool)
    seg = np.cumsum(push) - push                     # stretch of each value
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    lengths = np.diff(np.r_[starts, n])
    col = np.arange(n) - np.repeat(starts, lengths)
    grid = np.zeros((len(starts), int(lengths.max())), np.float32)
    grid[seg, col] = values
    acc = np.zeros(len(starts), np.float32)
    for j in range(grid.shape[1]):                   # the stretch's values in their order
        acc = _r(acc + grid[:, j], half)
    pushed = int(push.sum())
    left = acc[pushed] if pushed < len(starts) else np.float32(0)
    return acc[:pushed], pos[push], left


def _cascade(values, pos, half):
    """PyTorch's nll_loss cascade sum of ``values`` at row positions ``pos`` (float32)."""
    lefts = []
    for level in range(_LEVELS):
        values, pos, left = _stretches(values, pos, level, half)
        lefts.append(left)
    total = np.float32(0)
    for left in lefts:
        total = _r(total + left, half)
    return total


def nll_reduced(logp, t, weight, valid, reduction, half):
    """nll_loss's 'mean' / 'sum' value (float32, 16-bit exact) and the total weight, from
    logp (M, C), targets t (M,) (ignored rows: any class), weight (C,) or None, valid (M,)."""
    m = len(t)
    rows = np.flatnonzero(valid) if valid is not None else np.arange(m)
    data = logp.astype(np.float32)[rows, t[rows]] if m else np.zeros(0, np.float32)
    if weight is not None:
        w = weight.astype(np.float32)[t[rows]]
        terms = -_r(data * w, half)
        total_weight = _cascade(w, rows, half)
    else:
        terms = -data
        total_weight = _r(len(rows), half)
    out = _cascade(terms, rows, half)
    if reduction == "mean":
        # 0 / 0 (every row ignored) is PyTorch's positive NaN, not the x86 default NaN
        out = _r(out / total_weight, half) if total_weight or out else np.float32(np.nan)
    return out, total_weight


def nll_rows(logp, t, weight, valid, half):
    """nll_loss's 'none' values (M,) float32: -w[t] logp[t], 0 where ignored."""
    m = len(t)
    data = logp.astype(np.float32)[np.arange(m), t]
    if weight is not None:
        data = _r(data * weight.astype(np.float32)[t], half)
    out = -data
    if valid is not None:
        out = np.where(valid, out, np.float32(0))
    return out


def _smooth_rows(logp, weight, valid, half):
    """-sum_c w_c logp_c per row (M,), 0 where ignored, each step rounded."""
    lp = logp.astype(np.float32)
    if weight is not None:
        lp = _r(lp * weight.astype(np.float32), half)
    out = -_r(lp.sum(axis=1), half)
    return np.where(valid, out, np.float32(0)) if valid is not None else out


def _smooth_divisor(t, weight, valid, half):
    """What the smoothing term's mean divides by: the kept rows' weights summed (a 16-bit
    sum, float32 inside), or their count."""
    rows = np.flatnonzero(valid) if valid is not None else np.arange(len(t))
    if weight is None:
        return np.float32(len(rows))
    return _r(weight.astype(np.float32)[t[rows]].sum(), half)


def smoothed_value(logp, t, weight, valid, reduction, eps, half):
    """cross_entropy's value with label smoothing eps, float32 (16-bit exact), () or (M,)."""
    c = logp.shape[1]
    if reduction == "none":
        nll = nll_rows(logp, t, weight, valid, half)
        ret = _smooth_rows(logp, weight, valid, half)
    else:
        nll = nll_reduced(logp, t, weight, valid, reduction, half)[0]
        ret = _r(_smooth_rows(logp, weight, valid, half).sum(), half)
        if reduction == "mean":
            ret = _r(ret / _smooth_divisor(t, weight, valid, half), half)
    a = _r(np.float32(1 - eps) * nll, half)
    b = _r(ret * np.float32(eps / c), half)
    return _r(a + b, half)


def nll_grad(g, t, weight, valid, reduction, total_weight, m, c, half):
    """nll_loss's gradient (M, C) float32 from g (() or (M,) float32): at each kept row's
    target -w[t] g (divided by the total weight first for 'mean'), rounded as PyTorch."""
    out = np.zeros((m, c), np.float32)
    if reduction == "none":
        per = g
    else:
        per = -_r(g / total_weight, half) if reduction == "mean" else -g
    w = weight.astype(np.float32)[t] if weight is not None else None
    if reduction == "none":
        val = _r(-(w if w is not None else np.float32(1)) * per, half)
    else:
        val = _r(w * per, half) if w is not None else np.broadcast_to(per, (m,))
    val = np.broadcast_to(val, (m,))
    if valid is not None:
        val = np.where(valid, val, np.float32(0))
    out[np.arange(m), t] = val
    return out


def smoothed_grads(g, t, weight, valid, reduction, eps, total_weight, m, c, half):
    """The gradient (M, C) float32 with respect to logp of ``smoothed_value``, each node's
    step rounded as PyTorch's autograd does it."""
    g_nll = _r(g * np.float32(1 - eps), half)
    g_ret = _r(g * np.float32(eps / c), half)
    gx = nll_grad(g_nll, t, weight, valid, reduction, total_weight, m, c, half)
    if reduction == "mean":
        g_ret = _r(g_ret / _smooth_divisor(t, weight, valid, half), half)
    g_rows = np.broadcast_to(-g_ret, (m,))
    if valid is not None:
        g_rows = np.where(valid, g_rows, np.float32(0))
    gs = np.broadcast_to(g_rows[:, None], (m, c))
    if weight is not None:
        gs = _r(gs * weight.astype(np.float32)[None, :], half)
    return _r(gx + gs, half)
