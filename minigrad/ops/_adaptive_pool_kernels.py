"""Array kernels of the adaptive pools (numpy or cupy in, array out), for ``avg_pool.py`` and
``pool.py``: window i of o over n elements is [floor(i*n/o), ceil((i+1)*n/o)).

Along an axis where n is a multiple of o the windows are equal (k = n/o): k strided slices.
Otherwise the windows differ in length by one (and overlap where o does not divide n): a
window is visited *tap by tap*, one ``take`` of element start_i + p for every window i per
tap p, so an adaptive pool costs max-window-length passes over its output per axis, never a
loop over windows (16x64x28x28 -> 5x5: 13 takes).

Measured (one thread, float32, 16x64x28x28, ms, the kernel alone, interleaved with torch
2.13 on a loaded 2-core machine): to 7x7 0.45 (torch 0.83; the old reshape-and-mean 2.09),
to 5x5 1.10 (torch 0.90; the old gather-and-where 3.26); the whole forward and backward to
5x5 3.4 (torch 2.4; before 13.4 against 3.0).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ._pool_kernels import _sum_along, running_max
from ._util import prod
from ._workspace import workspace

__all__ = ["adaptive_bounds", "adaptive_mean", "adaptive_spread", "adaptive_max"]


def adaptive_bounds(n, o):
    i = np.arange(o)
    return i * n // o, -(-(i + 1) * n // o)


def _shaped(values, ndim_after):
    """A per-position vector along some axis, shaped to broadcast over the ``ndim_after``
    axes that follow it."""
    return values.reshape((-1,) + (1,) * ndim_after)


def _take_into(xp, a, index, ax, out):
    """out[...] = a.take(index, axis=ax) (numpy: unbuffered, as mode="clip" is)."""
    if xp is np:
        np.take(a, index, axis=ax, out=out, mode="clip")
    else:
        out[...] = xp.take(a, index, axis=ax)


def _adaptive_sum_along(xp, y, ax, n, o):
    """Per adaptive window i along ``ax`` (n -> o, unequal windows): the sum of its elements
    (and each window's length). One ``take`` per tap p: window i's element start_i + p, added
    where the window is that long (with ``where=``, so an inf or NaN of an element outside
    the window never reaches the sum, as a multiply by 0 would)."""
    start, end = adaptive_bounds(n, o)
    length = end - start
    acc = xp.take(y, xp.asarray(start), axis=ax)                   # tap 0: every window
    part = None
    for p in range(1, int(length.max()) if o else 0):
        index = xp.asarray(np.minimum(start + p, n - 1))
        if part is None:
            part = workspace("pool-tap", acc.shape, acc.dtype, xp)
        _take_into(xp, y, index, ax, part)
        longer = p < length
        if longer.all():
            acc += part
        elif xp is np:
            np.add(acc, part, out=acc, where=_shaped(longer, y.ndim - ax - 1))
        else:
            acc += xp.where(xp.asarray(_shaped(longer, y.ndim - ax - 1)), part, 0)
    return acc, length


def adaptive_mean(x, out_size):
    """Average over adaptive windows: the window sums, one axis at a time, divided once by
    each window's element count (as PyTorch: sum / (kH*kW)). Along an axis where n is a
    multiple of o the windows are equal (k = n/o): k strided slices added; otherwise they
    differ in length (and may overlap): ``_adaptive_sum_along``."""
    if x.dtype == np.float16:     # as PyTorch, accumulate halves in float32, round once
        return adaptive_mean(x.astype(np.float32), out_size).astype(np.float16)
    xp = backend.xp_of(x)
    nd = len(out_size)
    trail = 0
    if nd == 2 and type(x) is np.ndarray and x.ndim == 4 and not x.flags.c_contiguous and \
            x.strides[1] == x.itemsize and np.moveaxis(x, 1, -1).flags.c_contiguous:
        # channels-last memory: summed as the row-major (N, H, W, C) it is (slices of whole
        # C-runs, not C-strided ones); the result stays channels-last (an (N, C, oH, oW) view)
        x, trail = np.moveaxis(x, 1, -1), 1
    y, count = x, 1
    for a, o in enumerate(out_size):
        ax = y.ndim - nd - trail + a
        n = y.shape[ax]
        if o and n % o == 0:
            k = n // o
            if k > 1:
                y = _sum_along(y, ax, k, k, o)
            length = k
        else:
            y, length = _adaptive_sum_along(xp, y, ax, n, o)
            length = _shaped(length, nd - 1 - a + trail)
        count = count * length
    if y is x:                     # every window one element: a copy
        y = xp.array(x, copy=True, order="C")
    elif y.dtype.kind not in "fc":     # (an integer x reaches here only for an empty result)
        y = y / count
    elif isinstance(count, int):
        y /= count
    else:
        y /= xp.asarray(count, dtype=y.dtype)
    return np.moveaxis(xp.ascontiguousarray(y), -1, 1) if trail else xp.ascontiguousarray(y)


def _spread_equal(xp, g, ax, k):
    """Each g[.., i, ..] copied to the k elements of window i along ``ax`` (equal windows)."""
    o = g.shape[ax]
    out = xp.empty(g.shape[:ax] + (o, k) + g.shape[ax + 1:], dtype=g.dtype)
    out[...] = xp.expand_dims(g, ax + 1)
    return out.reshape(g.shape[:ax] + (o * k,) + g.shape[ax + 1:])


def _spread_unequal(xp, g, ax, n):
    """The adjoint of ``_adaptive_sum_along``: dx[.., j, ..] = the sum of g over the windows
    that hold element j (one or two where n >= o, a few where o > n), in window order, as
    PyTorch adds them. One ``take`` per holder rank h (the h-th window holding each
    element), from g with one zero slab appended along ``ax``, which the elements held by
    fewer windows take instead (adding +0)."""
    o = g.shape[ax]
    start, end = adaptive_bounds(n, o)
    j = np.arange(n)
    inside = (j >= start[:, None]) & (j < end[:, None])            # (o, n): j in window i
    holders = inside.sum(axis=0)
    width = int(holders.max()) if n and o else 0
    if not width:
        return xp.zeros(g.shape[:ax] + (n,) + g.shape[ax + 1:], dtype=g.dtype)
    # per element j: the windows that hold it first (a stable sort of "not inside")
    windows = np.argsort(~inside, axis=0, kind="stable")[:width].T          # (n, width)
    windows[np.arange(width) >= holders[:, None]] = o                        # the zero slab
    padded = xp.concatenate([g, xp.zeros(g.shape[:ax] + (1,) + g.shape[ax + 1:], g.dtype)],
                            axis=ax)
    acc = xp.take(padded, xp.asarray(windows[:, 0]), axis=ax)
    if width > 1:
        part = workspace("pool-tap", acc.shape, acc.dtype, xp)
        for h in range(1, width):
            _take_into(xp, padded, xp.asarray(windows[:, h]), ax, part)
            acc += part
    return acc


def adaptive_spread(g, size):
    """The adjoint of ``adaptive_mean``: each g / kH / kW (PyTorch's share, divided in that
    order) added to every element of its window, one axis at a time, last first: a broadcast
    copy where windows are equal, else each element's sum over the windows that hold it."""
    if g.dtype == np.float16:
        return adaptive_spread(g.astype(np.float32), size).astype(np.float16)
    xp = backend.xp_of(g)
    nd = len(size)
    share = None
    for a in range(nd):                                            # g / kH / kW
        start, end = adaptive_bounds(size[a], g.shape[g.ndim - nd + a])
        length = end - start
        if not length.size or (length == 1).all():
            continue
        div = int(length[0]) if (length == length[0]).all() else \
            xp.asarray(_shaped(length, nd - 1 - a), dtype=g.dtype)
        share = g / div if share is None else xp.divide(share, div, out=share)
    g = g.copy() if share is None else share
    for a in range(nd - 1, -1, -1):
        ax = g.ndim - nd + a
        n, o = size[a], g.shape[ax]
        if o and n % o == 0:
            if n != o:
                g = _spread_equal(xp, g, ax, n // o)
        else:
            g = _spread_unequal(xp, g, ax, n)
    return xp.ascontiguousarray(g)


def adaptive_max(x, out_size):
    """Max over adaptive windows of unequal length, and PyTorch's indices: x (..., *S) ->
    y (..., *out) and the int64 position of each maximum in its flattened S-plane.

    Separable, as ``max_windows``: along the last axis first, then each earlier one. Along
    an axis, tap p of window i is element min(start_i + p, end_i - 1) (a short window
    repeats its last element, which is never strictly greater: PyTorch's choice is kept),
    one ``take`` per tap, and ``running_max`` keeps the first maximum (the last NaN). The
    position within the later axes found so far is carried along as one flat int64 array
    and picked at the chosen row (``take_along_axis``). 16x64x28x28 to 5x5: 13 takes,
    where gathering every (row, column) tap of every window took 49 fancy-index gathers."""
    xp = backend.xp_of(x)
    nd = len(out_size)
    size = x.shape[x.ndim - nd:]
    if not all(out_size):             # an empty result: nothing to compare
        shape = x.shape[:x.ndim - nd] + tuple(out_size)
        return xp.empty(shape, dtype=x.dtype), xp.zeros(shape, dtype=np.int64)
    y, inner = x, None
    for a in range(nd - 1, -1, -1):
        ax, n, o = y.ndim - nd + a, size[a], out_size[a]
        start, end = adaptive_bounds(n, o)
        width = int((end - start).max())
        taps = [xp.asarray(np.minimum(start + p, end - 1)) for p in range(width)]
        y_new, arg = running_max(lambda p: xp.take(y, taps[p], axis=ax), width, xp)
        # the chosen element's row along this axis, min(start + tap, end - 1), then its
        # position within the later axes (found at that row) added
        row = xp.minimum(arg.astype(np.int64) + xp.asarray(_shaped(start, nd - 1 - a)),
                         xp.asarray(_shaped(end - 1, nd - 1 - a)))
        picked = row * prod(size[a + 1:]) if a < nd - 1 else row
        if inner is not None:
            picked += xp.take_along_axis(inner, row, axis=ax)
        y, inner = y_new, picked
    return y, inner

