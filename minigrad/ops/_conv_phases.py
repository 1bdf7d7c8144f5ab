"""Strided convolutions split by phase: the input gradient of a stride-s convolution (which is
also the transposed convolution's forward) as s^d stride-1 pieces on the shifted GEMMs.

A stride-s convolution reads x at s*i + p - l for output i and kernel tap p (padding l).
Taps whose p - l leave the same remainder r modulo s read only x's pixels r, r + s, r + 2s,
... -- the *phase* r of x -- and among themselves they are a stride-1 convolution of that
phase with every s-th tap::

    k = 3, s = 2, l = 1          tap p reads x[2i + p - 1]
    taps 0 and 2 (w[0::2])  ->   x[2(i - 1) + 1], x[2i + 1]: the odd pixels x[1::2],
                                 a stride-1 convolution with left padding 1
    tap 1        (w[1::2])  ->   x[2i]: the even pixels x[0::2], a 1-tap convolution

The phases of x are disjoint, so x's gradient is made phase by phase: each phase's part is
the transposed stride-1 convolution of g with that phase's taps, written straight into
gx[..., r::s]. That replaces im2col's matrix of k^d / s^d times g's size with products
read once, and col2im's adds at stride s with one write per pixel.

    split(geom)                 the phases: which taps, which pixels, the stride-1 geometry
    input_grad(g, w, geom, ps, gx)   gx, phase by phase, written into gx

(The forward and the weight gradient split the same way, into phases whose products are
only C deep and must then be summed: measured on the ResNet step's strided layers, no
faster than im2col, so they stay there.)
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

from . import _conv_shift as _shift
from ._util import prod as _prod


class Phase(NamedTuple):
    """One phase of x along every axis: x[..., pixels] with the kernel's taps w[..., taps]
    is the stride-1 convolution ``geom`` (which reads only that phase, and all of g)."""
    taps: tuple             # a slice per spatial axis of w: a, a + s, ... (a < s)
    pixels: tuple           # a slice per spatial axis of x: the phase's pixels read
    geom: tuple             # the stride-1 Geometry of x[..., pixels] (*) w[..., taps]


def _axis(k, s, l, n, L):
    """The phases of one axis: [(taps, pixels, ka, (left, right) padding, pixels read)].

    Taps p = a + s*t (t = 0 .. ka - 1) read x at s*(i + t + q) + r, with q, r = divmod(a - l,
    s): the phase r's pixels u = i + t + q, u from q (i = t = 0) to L - 1 + ka - 1 + q. Those
    that exist are the phase's pixels [start, stop); the rest are the stride-1 convolution's
    padding."""
    out = []
    for a in range(min(s, k)):
        ka = len(range(a, k, s))
        q, r = divmod(a - l, s)
        first, last = q, L + ka - 2 + q          # phase pixels read, padding included
        start, stop = max(first, 0), min(last, len(range(r, n, s)) - 1) + 1
        pixels = slice(r + s * start, r + s * (stop - 1) + 1, s) if stop > start else None
        out.append((slice(a, None, s), pixels, ka, (start - first, last + 1 - stop),
                    max(0, stop - start)))
    return out


def split(geom):
    """The phases of a convolution with dilation 1 and one group, each with its stride-1
    geometry; phases that read no pixel of x are left out."""
    phases = []
    for per_axis in itertools.product(*(_axis(k, s, l, n, L) for k, s, (l, _), n, L in zip(
            geom.kernel, geom.stride, geom.padding, geom.in_size, geom.out_size))):
        if any(pixels is None for _, pixels, *_ in per_axis):
            continue
        nd = len(per_axis)
        sub = geom._replace(kernel=tuple(a[2] for a in per_axis), stride=(1,) * nd,
                            padding=tuple(a[3] for a in per_axis), dilation=(1,) * nd,
                            groups=1, in_size=tuple(a[4] for a in per_axis))
        phases.append(Phase(tuple(a[0] for a in per_axis), tuple(a[1] for a in per_axis),
                            sub))
    return phases


def covers(phases, geom):
    """Whether the phases' pixels are every pixel of x (else the others get zeros)."""
    return sum(_prod(p.geom.in_size) for p in phases) == _prod(geom.in_size)


def input_grad(g, w, geom, phases, gx):
    """gx (N, C, *S) of a strided convolution, phase by phase: g (N, O, *L), w (O, C, *k);
    written into ``gx``.

    gx[..., pixels] = the transposed stride-1 convolution of g with w[..., taps], which is
    the shifted-GEMM convolution of g with those taps flipped (``_conv_shift.adjoint_pads``
    says the padding; the caller checked that it is never negative)."""
    if not covers(phases, geom):
        gx.fill(0)                      # pixels that no phase writes
    every = (slice(None), slice(None))
    for phase in phases:
        sub = phase.geom
        _shift.shift_conv(g, _shift.flipped(w[every + phase.taps]), _shift.adjoint_pads(sub),
                          sub.dilation, sub.in_size, out=gx[every + phase.pixels])
    return gx
