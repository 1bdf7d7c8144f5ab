"""Copying x into its phase planes in a few numpy calls, not one per phase.

A stride s splits each axis of the padded x into s *phases*: padded coordinate u belongs to
phase u % s, at place u // s of that phase's plane (``_conv_depthwise.Planes``). Cell i of x
(padded coordinate i + l, l the left padding) goes to::

    phase (r + l) % s,  place (r + l) // s + j        where i = j s + r, 0 <= r < s

Copying phase by phase reads x at the stride, a run of a few numbers per row and a numpy call
per phase (4 for a 2-d stride 2, each reading every cache line of x). Here the remainder r is
an axis of its own instead: x seen as (.., [r, j], ..) -- a view, cell j s + r -- and the
planes as the same shape, where moving r by one moves the destination by a fixed number of
bytes whenever the phases' places are evenly spaced in r (always for s <= 2: two points; for
a larger s only without a wrap). Then every phase is one copy::

    stride 2, left padding 1:   x cells  0 1 2 3 4 5 ...   r = 0 1 0 1 0 1, j = 0 0 1 1 2 2
    phase (r + 1) % 2:                   1 0 1 0 1 0
    place (r + 1) // 2 + j:              0 1 1 2 2 3    r = 0 -> phase 1 place j,
                                                        r = 1 -> phase 0 place j + 1

Cells past the last whole stride (x's size not a multiple of s) are a second, thinner piece
per axis (so up to 2**nd pieces). Float32, 32x128x28x28, 3x3 stride 2 padding 1, into the
planes of blocks of 5 images: 2.5-2.8 ms against 3.5-4.1 for a copy per phase (one core).

    pieces(geom, lead_shape, x_strides, dst_strides)   the copies, as strided views
    copy(x, planes, geom, dst_strides, parts, phases, grid)   x (n, c, *S) -> planes
    phase_planes(x, stride, padding, Q)    the padded x's phases as (N, C, *s, *Q) planes,
                                           a copy per phase (strided im2col reads them)
"""
from __future__ import annotations

import functools
import itertools

import numpy as np

from .. import backend
from ._workspace import workspace as _workspace


def _segments(size, s, left, phase_stride, place_stride):
    """One axis: [(first cell of x, remainders, places, destination offset, remainder stride
    on x (cells), remainder stride on the planes (bytes))], each remainder's cells j s + r
    for j < places: one entry for all the remainders where their destinations step evenly,
    else one per remainder."""
    def at(r, j):
        return (r + left) % s * phase_stride + ((r + left) // s + j) * place_stride

    out = []
    whole, rest = divmod(size, s)
    for first, count, places in ((0, s, whole), (whole * s, rest, 1)):
        if count == 0 or places == 0:
            continue
        base = at(first % s, first // s)  # (first is a multiple of s: remainder 0, place)
        step = at(1, first // s) - base if count > 1 else 0
        if all(at(r, first // s) - base == r * step for r in range(count)):
            out.append((first, count, places, base, step))
        else:                               # one piece per remainder
            out.extend((first + r, 1, places, at(r, first // s), 0) for r in range(count))
    return out


@functools.lru_cache(maxsize=64)
def pieces(geom, lead_shape, x_strides, dst_strides):
    """The copies that take x (lead_shape + S, byte strides ``x_strides``) into its planes,
    whose byte strides are ``dst_strides``: (the lead axes', then per axis the phase's and a
    place's). Each: (x's first cell per axis, the planes' offset in bytes, shape, x's and
    the planes' byte strides), the shape lead_shape + (remainders, places) per axis. (Cached:
    a call's blocks ask for the same pieces.)"""
    nd = len(geom.kernel)
    lead = len(lead_shape)
    per_axis = []
    for a in range(nd):
        s, (left, _), size = geom.stride[a], geom.padding[a], geom.in_size[a]
        xa = x_strides[lead + a]
        place_stride = dst_strides[lead + 2 * a + 1]
        per_axis.append([(first, count, places, base, step, xa, s * xa, place_stride)
                         for first, count, places, base, step in
                         _segments(size, s, left, dst_strides[lead + 2 * a], place_stride)])
    out = []
    for combo in itertools.product(*per_axis):
        shape, xs, ds = list(lead_shape), list(x_strides[:lead]), list(dst_strides[:lead])
        firsts, offset = [], 0
        for first, count, places, base, step, xr, xj, place_stride in combo:
            firsts.append(first)
            offset += base
            shape += [count, places]
            xs += [xr, xj]
            ds += [step, place_stride]
        out.append((tuple(firsts), offset, tuple(shape), tuple(xs), tuple(ds)))
    return tuple(out)


def copy(x, planes, geom, dst_strides, parts, phases, grid):
    """x (n, c, *S) into the planes held by the contiguous scratch ``planes``, whose byte
    strides for x's (n, c) and per axis (phase, place) are ``dst_strides``. Cells of the
    planes that no cell of x fills are left as they are. (Only this way: the inverse, writing
    x at the stride in one call, ran 1.3-1.7x slower than a copy per phase.)

    Where that takes as many copies as there are phases (one phase; or sizes that are no
    multiple of the stride), a copy per phase instead: ``parts(phase)`` its slices
    of x and of the planes, ``grid(p)`` phase p's planes (a view of ``planes``). (Float32
    32x512x7x7 stride 2: 4.5 ms for the pieces' weight gradient, 4.1 by phases.)"""
    todo = None if len(phases) == 1 else pieces(geom, x.shape[:2], x.strides, dst_strides)
    if todo is None or len(todo) >= len(phases):
        for p, phase in enumerate(phases):
            of_x, of_plane = parts(phase)
            grid(p)[of_plane] = x[of_x]
        return
    flat = planes.reshape(-1)
    it = planes.itemsize
    as_strided = np.lib.stride_tricks.as_strided
    for firsts, offset, shape, xs, ds in todo:
        src = as_strided(x[(slice(None), slice(None)) + tuple(slice(f, None) for f in firsts)],
                         shape, xs, writeable=False)
        # (a remainder's step may be negative: the planes' cells before ``offset`` are
        # still inside the scratch)
        as_strided(flat[offset // it:], shape, ds)[...] = src


def phase_planes(x, stride, padding, Q):
    """The stride's phase planes of the zero-padded x (N, C, *S): -> z (N, C, *s, *Q), a
    workspace, z[n, c, h..., u...] = xpad[n, c, s*u + h] (zero past xpad's end). A window
    of taps h, h + s, ... of a stride-s convolution is then a stride-1 window of plane h,
    read along contiguous rows where x itself would be read at stride s. One pass zeroing z
    and one copying each phase of x into its plane."""
    xp = backend.xp_of(x)
    N, C, *size = x.shape
    z = _workspace("phase-planes", (N, C) + tuple(stride) + tuple(Q), x.dtype, xp)
    z.fill(0)
    for phase in itertools.product(*(range(s) for s in stride)):
        src, dst = [], []
        for h, s, (l, _), n, q in zip(phase, stride, padding, size, Q):
            u0 = max(0, -(-(l - h) // s))                # first u with s*u + h - l >= 0
            u1 = min(q, (n - 1 + l - h) // s + 1)        # past the last one inside x
            if u1 <= u0:
                break
            src.append(slice(s * u0 + h - l, s * (u1 - 1) + h - l + 1, s))
            dst.append(slice(u0, u1))
        else:
            z[(slice(None), slice(None)) + tuple(phase) + tuple(dst)] = \
                x[(slice(None), slice(None)) + tuple(src)]
    return z
