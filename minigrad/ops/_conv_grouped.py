"""Reformulations of ``conv_kernels`` for shapes its three general paths handle poorly:
grouped convolutions with few channels per group and strides that share a factor with the
dilation.

    batched(geom, C, O, itemsize)
        whether a stride-1 grouped convolution takes ``grouped_shift``
    grouped_shift(x, w, G, pads, dilation, out_size, bias, y)
        a stride-1 grouped convolution, every group at once: the shifted-GEMM layout
        (``_conv_shift``) with the groups as the batch axis of one batched product
    grouped_shift_weight_grad(x, g, G, pads, dilation, kernel)
        its weight gradient, every group at once
    recast(x, w, geom), common_step(geom)
        (f, first pixel, reduced Geometry) when stride and dilation share a factor f along
        some axis: the convolution then reads only every f-th pixel of x

Numpy (or cupy) arrays in and out, no autograd (the node's backward is made of
convolutions, ``conv.py``).
"""
from __future__ import annotations

import math

from .. import backend
from ._conv_im2col import crop_into
from ._conv_layout import extent, shift_planes, taps, zero_beyond
from . import _conv_shift as _shift
from ._conv_shift import batch_chunk_bytes, images_per_chunk
from ._util import prod as _prod
from ._workspace import workspace as _workspace


# Grouped stride-1 convolutions of at least _GROUPED_MIN_GROUPS groups with at most
# _GROUPED_MAX_CHANNELS channels a group (in and out) take every group at once, not a
# shifted-GEMM call per group. One thread, forward, 3x3 pad 1, group by group against all at
# once: 16x128x16x16 in 64 groups 7.3 -> 2.0 ms, 32 groups 4.3 -> 2.2, 16 groups 4.0 -> 2.6,
# 8 groups 4.2 -> 3.7; 8x64x32x32 in 8 groups 3.2 -> 2.5; but 4 groups of 32 channels 5.9
# against 6.5, 8x64x32x32 in 2 groups 5.3 against 5.6 (each group's products are large
# enough there; and with two or three groups a call per group costs little). Nor images so
# large that one group's shifted copies of one image pass ``_conv_shift.CHUNK_BYTES``: group
# by group, those go in bands of rows or runs of positions
_GROUPED_MAX_CHANNELS = 16
_GROUPED_MIN_GROUPS = 4


def batched(geom, C, O, itemsize):
    """Whether a stride-1 convolution (``geom``) of C -> O channels takes every group at
    once (``grouped_shift``; ``_GROUPED_MAX_CHANNELS``, ``_GROUPED_MIN_GROUPS``)."""
    G = geom.groups
    return G >= _GROUPED_MIN_GROUPS and max(C, O) <= _GROUPED_MAX_CHANNELS * G and \
        image_fits(geom, C // G, O // G, itemsize)


def recast(x, w, geom):
    """(x', w, geom') when stride and dilation share a factor f along an axis: the
    convolution reads only every f-th pixel there (``common_step``), and is the one of those
    pixels (a view of x) with stride and dilation divided by f. None otherwise, and for a
    depthwise convolution (its row-strided kernels read the phase rows themselves)."""
    step = None if geom.groups == x.shape[1] else common_step(geom)
    if step is None:
        return None
    factors, first, reduced = step
    return x[(slice(None), slice(None)) + tuple(slice(r, None, f) for r, f in
                                                zip(first, factors))], w, reduced


def grouped_shift(x, w, G, pads, dilation, out_size, bias, y):
    """Stride-1 convolution of G groups by shifted GEMMs, all groups in one batched product:
    x (N, C, *S), w (O, C/G, *k) -> written into y (N, O, *L); returns y.

    As ``_conv_shift.shift_conv``: each padded image is one flat row of P numbers; the kW
    horizontal taps are copied (long contiguous runs) into a block whose rows are ordered
    (group, j, channel), so that group q's rows are one (kW*C/G, n*P) matrix; ONE batched
    GEMM (G, T*O/G, kW*C/G) @ (G, kW*C/G, n*P + tail) makes every leading tap's product for
    every group, and tap t's term is its O/G rows read shifts[t] columns on. Where a group
    by group call paid a dozen numpy calls per group (32 groups of 4 channels: most of the
    time), this is a dozen calls in all."""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, Cg, *kernel = w.shape
    Og, kw, dw = O // G, kernel[-1], dilation[-1]
    ext = extent(size, pads, kernel, dilation)
    P = _prod(ext)
    shifts = taps(kernel, dilation, ext)
    T = len(shifts)
    # w as (G, T*O/G, kW*C/G): [q, t*O/G + o, j*C/G + c] = w[q*O/G + o, c, tap t, j]
    w_all = _workspace("grouped-w", (G, T, Og, kw, Cg), x.dtype, xp)
    w_all[...] = w.reshape(G, Og, Cg, T, kw).transpose(0, 3, 1, 4, 2)
    w_all = w_all.reshape(G, T * Og, kw * Cg)
    n_step, g_step = _chunks(N, G, max(kw * Cg, T * Og) * P * x.itemsize, len(kernel))
    crop = (slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)
    for n0 in range(0, N, n_step):
        n1 = min(N, n0 + n_step)
        L = (n1 - n0) * P
        width = L + max(shifts)
        first = shift_planes(x[n0:n1], pads, dilation, kernel, (0, kw), first_only=True)
        first = first.reshape(G, Cg, first.shape[-1])                 # (G, C/G, row), a view
        for q0 in range(0, G, g_step):
            q1 = min(G, q0 + g_step)
            block = _horizontal_copies(first[q0:q1], kw, dw, width)
            out = _workspace("grouped-out", (q1 - q0, T * Og, width), x.dtype, xp)
            xp.matmul(w_all[q0:q1], block.reshape(q1 - q0, kw * Cg, width), out=out)
            del block
            acc = _workspace("grouped-acc", (q1 - q0, Og, L), x.dtype, xp)
            if T == 1:
                acc[...] = out[:, :, shifts[0]:shifts[0] + L]
            else:
                xp.add(out[:, :Og, shifts[0]:shifts[0] + L],
                       out[:, Og:2 * Og, shifts[1]:shifts[1] + L], out=acc)
                for t in range(2, T):
                    acc += out[:, t * Og:(t + 1) * Og, shifts[t]:shifts[t] + L]
            del out
            kept = acc.reshape(((q1 - q0) * Og, n1 - n0) + tuple(ext))[crop].swapaxes(0, 1)
            crop_into(y[n0:n1, q0 * Og:q1 * Og], kept, None if bias is None else
                      bias[q0 * Og:q1 * Og])
            del acc, kept
        del first
    return y


def _horizontal_copies(first, kw, dw, width):
    """The block of a chunk of groups' horizontal tap copies: first (g, C/G, row) -> (g, kW,
    C/G, width) from the workspace, [q, j] = first[q, :, j dW : j dW + width] (each a long
    contiguous run), so that a group's (kW C/G, width) rows meet all its leading taps in one
    product."""
    g, Cg = first.shape[:2]
    block = _workspace("grouped-block", (g, kw, Cg, width), first.dtype, backend.xp_of(first))
    for j in range(kw):
        block[:, j] = first[:, :, j * dw:j * dw + width]
    return block


def grouped_shift_weight_grad(x, g, G, pads, dilation, kernel):
    """gw (O, C/G, *k) of a stride-1 convolution of G groups by shifted GEMMs, all groups
    at once: x (N, C, *S), g (N, O, *L).

    As ``_conv_shift.shift_weight_grad``, group-batched: g laid out like the padded images
    (zeros where outputs were cropped), as (G, n*P, O/G); the block of horizontal copies as
    in ``grouped_shift``, (G, kW*C/G, width); and for each leading tap t ONE batched
    product block[:, :, shifts[t]:shifts[t] + n*P] @ g, (G, kW*C/G, O/G), summed over the
    chunks of images. (The caller checks x for an inf or NaN, which the zeros of cropped
    outputs would meet in the wrapped-round cells.)"""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    O, out_size = g.shape[1], g.shape[2:]
    Cg, Og, kw, dw = C // G, O // G, kernel[-1], dilation[-1]
    ext = extent(size, pads, kernel, dilation)
    P = _prod(ext)
    shifts = taps(kernel, dilation, ext)
    T = len(shifts)
    sums = _workspace("grouped-gw", (T, G, kw * Cg, Og), x.dtype, xp)
    n_step, g_step = _chunks(N, G, max(kw * Cg, T * Og) * P * x.itemsize, len(kernel))
    keep = (slice(None), slice(None)) + tuple(slice(0, m) for m in out_size)
    for n0 in range(0, N, n_step):
        n1 = min(N, n0 + n_step)
        L = (n1 - n0) * P
        width = L + max(shifts)
        wide = _workspace("grouped-g", (O, n1 - n0) + tuple(ext), x.dtype, xp)
        wide[keep] = g[n0:n1].swapaxes(0, 1)
        zero_beyond(wide, out_size)           # cropped outputs: they add nothing
        wide_t = _workspace("grouped-g-t", (G, L, Og), x.dtype, xp)
        wide_t[...] = wide.reshape(G, Og, L).swapaxes(1, 2)
        del wide
        first = shift_planes(x[n0:n1], pads, dilation, kernel, (0, kw), first_only=True)
        first = first.reshape(G, Cg, first.shape[-1])                 # (G, C/G, row), a view
        for q0 in range(0, G, g_step):
            q1 = min(G, q0 + g_step)
            block = _horizontal_copies(first[q0:q1], kw, dw, width)
            rows = block.reshape(q1 - q0, kw * Cg, width)
            product = _workspace("grouped-gw-t", (q1 - q0, kw * Cg, Og), x.dtype, xp)
            for t, shift in enumerate(shifts):
                into = sums[t, q0:q1]
                xp.matmul(rows[:, :, shift:shift + L], wide_t[q0:q1],
                          out=into if n0 == 0 else product)
                if n0 > 0:
                    into += product
            del block, rows, product
        del first, wide_t
    # (T, G, kW, C/G, O/G) -> (G, O/G, C/G, T, kW) -> (O, C/G, *k)
    turned = sums.reshape(T, G, kw, Cg, Og).transpose(1, 4, 3, 0, 2)
    answer = xp.ascontiguousarray(turned).reshape((O, Cg) + tuple(kernel))
    del sums, turned
    return answer


def image_fits(geom, Cg, Og, itemsize):
    """Whether one image's shifted copies and products of one group (Cg -> Og channels) fit
    in ``_conv_shift.CHUNK_BYTES`` (``grouped_shift`` has no bands of rows nor runs)."""
    ext = extent(geom.in_size, geom.padding, geom.kernel, geom.dilation)
    per = max(geom.kernel[-1] * Cg, _prod(geom.kernel[:-1]) * Og) * _prod(ext) * itemsize
    return per <= _shift.CHUNK_BYTES


def _chunks(N, G, per_group_image, nd):
    """(images, groups) per chunk: all groups of as many images as fit in the shifted GEMMs'
    chunk (``_conv_shift.batch_chunk_bytes``, ``per_group_image`` bytes per group and
    image), or, when one image's groups do not fit, one image and as many groups as do."""
    units = batch_chunk_bytes(nd) // max(per_group_image, 1)     # groups x images
    if units >= G:
        return images_per_chunk(N, units // G), G
    return 1, -(-G // -(-G // max(units, 1)))


def grouped_adjoint_weight(w, G):
    """w (O, C/G, *k) of a G-group convolution -> the kernel of its adjoint, (C, O/G, *k):
    each group's (O/G, C/G) block transposed, the taps turned by 180 degrees."""
    O, Cg, *kernel = w.shape
    nd = len(kernel)
    turned = w.reshape((G, O // G, Cg) + tuple(kernel)).swapaxes(1, 2)
    return turned.reshape((G * Cg, O // G) + tuple(kernel))[
        (slice(None), slice(None)) + (slice(None, None, -1),) * nd]


def common_step(geom):
    """Where stride s and dilation d share a factor f = gcd(s, d) > 1 along an axis, output i
    and tap p read x at s*i + d*p - l = f*(s/f*i + d/f*p) - l: only the pixels r, r + f, ...
    with r = -l mod f. -> (factors, first pixels, the Geometry of the convolution of those
    pixels alone: stride s/f, dilation d/f, left padding (l + r)/f); None when no axis has
    such a factor."""
    factors = [math.gcd(s, d) for s, d in zip(geom.stride, geom.dilation)]
    if all(f == 1 for f in factors):
        return None
    first, pads, sizes = [], [], []
    for f, s, d, k, (l, _), n, m in zip(factors, geom.stride, geom.dilation, geom.kernel,
                                         geom.padding, geom.in_size, geom.out_size):
        r = -l % f
        size = len(range(r, n, f))
        left = (l + r) // f
        # the right padding the last output's last tap reads past the pixels (at least 0)
        right = max(0, s // f * (m - 1) + d // f * (k - 1) - left - size + 1)
        first.append(r)
        pads.append((left, right))
        sizes.append(size)
    if 0 in sizes:                      # (no pixel read: the general paths' zeros)
        return None
    reduced = geom._replace(stride=tuple(s // f for s, f in zip(geom.stride, factors)),
                            dilation=tuple(d // f for d, f in zip(geom.dilation, factors)),
                            padding=tuple(pads), in_size=tuple(sizes))
    return factors, first, reduced
