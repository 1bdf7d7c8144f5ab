"""The searches behind ``searchsorted`` and ``bucketize`` (``statistics.py``), on numpy arrays:
the insertion points of many rows at once by one stable sort, and PyTorch's binary search
itself, followed step by step where NaN among the boundaries makes the answer depend on its
path."""
from __future__ import annotations

import numpy as np

__all__ = ["binary_search", "searchsorted_rows"]


def binary_search(seq, values, right):
    """PyTorch's binary search itself, run for all values at once: the first index whose
    boundary is >= the value (> for ``right``), found by halving [start, end) on that
    comparison.  Where the boundaries hold a NaN (which compares as neither) the answer
    depends on the path the halving takes, which this follows step by step."""
    n = seq.shape[-1]
    values = np.asarray(values)
    rows = seq.reshape(-1, n)
    vals = values.reshape(rows.shape[0] if seq.ndim > 1 else 1, -1)
    start = np.zeros(vals.shape, dtype=np.int64)
    end = np.full(vals.shape, n, dtype=np.int64)
    while True:
        active = start < end
        if not active.any():
            break
        mid = start + ((end - start) >> 1)
        at = np.take_along_axis(np.broadcast_to(rows, (vals.shape[0], n)),
                                np.minimum(mid, n - 1), -1)
        with np.errstate(invalid="ignore"):
            below = ~(at > vals) if right else ~(at >= vals)
        start = np.where(active & below, mid + 1, start)
        end = np.where(active & ~below, mid, end)
    return start.reshape(values.shape)


def searchsorted_rows(seq, values, right):
    """Insertion points of each row of ``values`` in the matching sorted row of ``seq``, all
    rows at once: each row of boundaries and values is sorted together (stably, NaN last),
    values placed before the boundaries for the left side (so an equal boundary counts after
    the value) and after them for the right side; a value's index is then the number of
    boundaries ahead of it in its row.  O(rows * (n + m) log(n + m)) time and memory."""
    n, m = seq.shape[-1], values.shape[-1]
    lead = int(np.prod(seq.shape[:-1], dtype=np.int64))
    rows = seq.reshape(lead, n)
    vals = values.reshape(lead, m)
    dtype = np.result_type(rows, vals)
    parts = (rows, vals) if right else (vals, rows)
    merged = np.concatenate([p.astype(dtype, copy=False) for p in parts], axis=-1)
    order = np.argsort(merged, axis=-1, kind="stable")
    is_boundary = order < n if right else order >= m
    ahead = np.cumsum(is_boundary, axis=-1) - is_boundary      # boundaries before each slot
    slot = order[~is_boundary].reshape(lead, m) - (n if right else 0)
    out = np.empty((lead, m), dtype=np.int64)
    np.put_along_axis(out, slot, ahead[~is_boundary].reshape(lead, m), axis=-1)
    return out.reshape(values.shape)
