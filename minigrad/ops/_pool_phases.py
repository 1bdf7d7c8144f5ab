"""The gradient scatter of a max-pool whose windows overlap, on flat arrays (numpy): see
``scatter_phases``. Used by ``_pool_kernels.scatter_offsets``.

Measured (one thread, float32, 16x64x56x56, 3x3 stride 2 padding 1, ResNet's stem pool;
the scatter alone, interleaved, on a loaded 2-core machine): 9.0 ms, where the strided
passes it replaces took 25.5 (PyTorch's whole backward: ~6 on a quiet machine).
"""
from __future__ import annotations

import itertools

import numpy as np

from ._util import along as _along, prod
from ._workspace import workspace

__all__ = ["scatter_phases"]


def _padded_copy(a, shape, fill, kind):
    """``a`` (..., *o) at the start of a scratch array of ``shape`` (..., *M), M >= o, the
    rest ``fill``."""
    out = workspace(kind, shape, a.dtype, np)
    for ax in range(a.ndim):
        if shape[ax] > a.shape[ax]:
            out[_along(ax, slice(a.shape[ax], None))] = fill
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


def scatter_phases(dx, g, arg, kernel, stride, padding, dilation, trail=0):
    """``scatter_offsets`` for overlapping windows (numpy), into dx (..., *S), with flat passes;
    the pooled axes may be followed by ``trail`` others (channels-last memory: (N, *S, C)).

    Kernel offset p along an axis (stride s, dilation d) sends output i to padded row
    p*d + s*i = s*(i + p*d // s) + p*d % s: row i + p*d // s of *phase* p*d % s, the input's
    rows of one remainder mod s. Each phase is a plane of M rows (M >= o + the largest
    shift), and g and arg are copied once into such planes (margins 0 and -1): then an
    offset's pass is three ufunc calls over whole flat arrays (compare, mask, add at a flat
    shift; what spills across a row or plane end is the margins' zeros). numpy's loops run
    several times faster on flat arrays than on the strided views they replace. Last, one
    strided copy per phase puts its rows and columns into dx (the padding left out). The
    adds come in offset order, on +0: the sums are the strided passes' bits, and no element
    is -0 (PyTorch's gradient starts at +0 too).
    """
    nd = len(kernel)
    first_ax = g.ndim - nd - trail                 # the first pooled axis
    lead, o, tail = g.shape[:first_ax], g.shape[first_ax:first_ax + nd], g.shape[first_ax + nd:]
    size = dx.shape[first_ax:first_ax + nd]
    rest = (slice(None),) * trail
    shifts = [[p * d // s for p in range(k)] for k, s, d in zip(kernel, stride, dilation)]
    rows = tuple(max(n + sh[-1], -(-(l + m) // s))
                 for n, sh, (l, _), m, s in zip(o, shifts, padding, size, stride))
    gp = _padded_copy(g, lead + rows + tail, 0, "pool-gpad")
    ap = _padded_copy(arg, lead + rows + tail, -1, "pool-apad")
    count = prod(stride)
    planes = workspace("pool-phases", (count,) + lead + rows + tail, g.dtype, np)
    planes.fill(0)
    flat = planes.reshape(count, -1)
    chosen = workspace("pool-pmask", (gp.size,), bool, np)
    part = workspace("pool-part", (gp.size,), g.dtype, np)
    row_len = [prod(rows[a + 1:]) * prod(tail) for a in range(nd)]
    for k, offset in enumerate(itertools.product(*(range(n) for n in kernel))):
        phase, at = 0, 0
        for a, p in enumerate(offset):
            phase = phase * stride[a] + p * dilation[a] % stride[a]
            at += shifts[a][p] * row_len[a]
        np.equal(ap.reshape(-1), k, out=chosen)
        np.multiply(gp.reshape(-1), chosen, out=part)
        target = flat[phase, at:]
        np.add(target, part[:target.size], out=target)
    # the phases into dx: unpadded row r is padded row r + l, row (r + l) // s of phase
    # (r + l) % s; per phase, one strided copy (the padding rows are never read)
    view = planes.reshape(tuple(stride) + lead + rows + tail)
    for phase in itertools.product(*(range(n) for n in stride)):
        first = [(ph - l) % st for ph, (l, _), st in zip(phase, padding, stride)]
        dst = dx[(Ellipsis,) + tuple(slice(r, None, st) for r, st in zip(first, stride)) + rest]
        dst[...] = view[phase + (Ellipsis,) + tuple(
            slice((r + l) // st, (r + l) // st + n)
            for r, (l, _), st, n in zip(first, padding, stride,
                                        dst.shape[first_ax:first_ax + nd])) + rest]
