"""A convolution's weight gradient: the adjoint of ``conv_kernels.forward`` in w.

    weight_grad(x, g)   x (N, C, *S), g = dL/dy (N, O, *L)   -> gw (O, C/G, *k)

    gw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]

By the same paths as the forward (``conv_kernels.path``): one product per image for a 1x1
kernel, the shifted GEMMs (``_conv_shift.shift_weight_grad``), the depthwise kernels, and
otherwise g's rows times the im2col matrix's (the forward's, where it kept one). A large batch
goes in parts over the threads, each part's sum then added in batch order; every part after
the first writes into scratch, so a step allocates one weight gradient whatever the threads.
"""
from __future__ import annotations

import numpy as np

from .. import backend, parallel
from . import _conv_depthwise as _depthwise, _conv_im2col as _cols, _conv_shift as _shift
from . import _conv_grouped as _grouped
from ._thin_gemm import BLOCK, THIN_ENTRIES, thin_contract
from ._util import prod as _prod
from ._workspace import workspace as _workspace
from . import conv_kernels as _kernels
from .conv_kernels import (_WEIGHT_GRAD_ROWS_MIN, PartColumns, _groups, _half, _im2col, _macs,
                           _part_columns, _pick, _single, _whole, path, sum_parts)

__all__ = ["weight_grad"]


def weight_grad(x, g, geom, cols=None):
    """The gradient of <g, x (*) w> in w: x (N, C, *S), g (N, O, *L) -> gw (O, C/G, *k).

    gw[o, c, p, q] = sum_{n, i, j} g[n, o, i, j] * xpad[n, g*C/G + c, i*sH + p*dH, j*sW + q*dW]

    A large batch in parts over the threads, as ``forward``: each part's sum over its images,
    then the parts' sums added.
    """
    if _half(x):
        return weight_grad(*_single(x, g), geom).astype(np.float16)
    xp = backend.xp_of(x)
    N, C, O, G = x.shape[0], x.shape[1], g.shape[1], geom.groups
    if N == 0 or g.size == 0 or x.size == 0:
        return xp.zeros((O, C // G) + tuple(geom.kernel), dtype=x.dtype)
    sums, per_image = {}, _prod(geom.out_size)

    def part(n0, n1):
        sums[n0] = _weight_grad(x[n0:n1], g[n0:n1], geom,
                                _part_columns(cols, n0, n1, per_image),
                                part_sum_scratch(n0, (O, C // G) + tuple(geom.kernel), x.dtype))
    macs = _macs(N, O, C, geom)
    if xp is np and parallel.over_batch(part, N, macs >= _kernels._SPLIT_MIN_MACS):
        return sum_parts(sums)
    with _whole(xp, macs):
        return _weight_grad(x, g, geom, None if isinstance(cols, PartColumns) else cols)


def part_sum_scratch(n0, shape, dtype):
    """Where the weight gradient of the batch part starting at image n0 may go: None (a fresh
    array) for the first part, which the others' sums are then added into, and scratch for
    the others (so a step on two threads allocates one weight gradient, not one a part)."""
    return None if n0 == 0 else _workspace("conv-gw-part", shape, dtype, np)


def _weight_grad(x, g, geom, cols, out=None):
    """weight_grad's work for one part of the batch (or all of it); ``out``: an (O, C/G, *k)
    array the one-group shifted GEMMs and the row-major im2col product write into, in place
    of a fresh one (the other paths return their own)."""
    recast = None if cols is not None else _grouped.recast(x, None, geom)
    if recast is not None:      # every f-th pixel read: the gradient of the convolution of
        x, _, geom = recast     # those pixels alone
    xp = backend.xp_of(x)
    N, C, O, G = x.shape[0], x.shape[1], g.shape[1], geom.groups
    shape = (O, C // G) + tuple(geom.kernel)
    how = path(geom, C, N)
    if how == "depthwise":
        return _depthwise.weight_grad(x, g, geom)
    if how == "gemm":
        # sum over images of g[n] (O, L) @ x[n]^T (L, C)
        gw = xp.matmul(g.reshape(N, O, -1), _pick(x, geom).transpose(0, 2, 1)).sum(axis=0)
        return gw.reshape(shape)
    # the shifted GEMMs multiply the zeros of cropped outputs by x's cells wrapped round
    # from the next row: an inf or NaN in x would make NaNs there, so such an x takes im2col
    if how == "shift" and _grouped.batched(geom, C, O, x.itemsize) and \
            bool(xp.isfinite(x.sum())):                  # every group at once
        return _grouped.grouped_shift_weight_grad(x, g, G, geom.padding, geom.dilation,
                                                  geom.kernel)
    if how == "shift" and bool(xp.isfinite(x.sum())):    # group by group, stacked
        parts = [_shift.shift_weight_grad(xq, gq, geom.padding, geom.dilation, geom.kernel,
                                          out if G == 1 else None)
                 for xq, gq in _groups(G, (x, 1), (g, 1))]
        return parts[0] if G == 1 else xp.concatenate(parts)
    if cols is None:
        cols = _im2col(x, geom)
    L = _prod(geom.out_size)
    if cols.ndim == 3 and cols.shape[1] * (O // G) < THIN_ENTRIES and L >= 2 * BLOCK:
        # a thin product (a stem's few channels) over large planes: image by image, g read
        # where it lies (no (O, N*L) copy of it), the images' sums added. The stem of the
        # ResNet step (27 x 32 per group, 4096 outputs per image): 2.4 -> 1.6 ms (1 thread)
        per_image = cols.reshape(G, cols.shape[1], N, L).transpose(2, 0, 1, 3)
        g_img = g.reshape(N, G, O // G, L).swapaxes(2, 3)              # (N, G, L, O/G)
        return thin_contract(per_image, g_img).sum(axis=0).swapaxes(1, 2).reshape(shape)
    if cols.ndim == 4:                  # batch last: g as (O, *L, N)
        nd = len(geom.kernel)
        g_t = xp.ascontiguousarray(g.transpose(1, *range(2, nd + 2), 0)).reshape(G, O // G, -1)
        cols = cols.reshape(cols.shape[:2] + (-1,))
    else:
        g_t = _cols.channels_first(g).reshape(G, O // G, -1)           # (G, O/G, N*L)
    if O // G >= _WEIGHT_GRAD_ROWS_MIN:
        # (G, O/G, N*L) @ (G, N*L, C/G*K): gw comes out row-major, as PyTorch lays out .grad
        into = None if out is None else out.reshape(G, O // G, -1)
        return xp.matmul(g_t, cols.swapaxes(1, 2), out=into).reshape(shape)
    # (G, C/G*K, N*L) @ (G, N*L, O/G): the long N*L axis is the contraction. With the small
    # O/G axis last, OpenBLAS splits the work over threads well; the other order,
    # g @ cols^T, took 2-3x the CPU time on 2 threads (same numbers).
    # (and a thin product, few channels and taps, in blocks of N*L: ``_thin_gemm``)
    return thin_contract(cols, g_t.swapaxes(1, 2)).swapaxes(1, 2).reshape(shape)
