"""Helpers that the depthwise formulations share (``_conv_depthwise`` and its 1-d runs,
``_conv_depthwise_runs``): cutting a batch into cache-sized blocks of images and channels, and
the cheap check that an array holds only finite numbers.

    each_block(N, C, per_channel, size)   (n0, n1, c0, c1) of every block, in order
    finite(xp, a)                         whether every number of a is finite
"""
from __future__ import annotations


def blocks(n, C, per_channel, size):
    """(images, channels) per block: ``per_channel`` bytes per image and channel, about
    ``size`` bytes a block -- whole images where one fits, else part of one image's channels."""
    per_image = C * per_channel
    if per_image >= size:
        return 1, max(1, size // max(per_channel, 1))
    return max(1, min(n, size // max(per_image, 1))), C


def each_block(N, C, per_channel, size):
    """(n0, n1, c0, c1) of every block of about ``size`` bytes, in order."""
    bn, bc = blocks(N, C, per_channel, size)
    for n0 in range(0, N, bn):
        for c0 in range(0, C, bc):
            yield n0, min(N, n0 + bn), c0, min(C, c0 + bc)


def finite(xp, a):
    """Whether every number of ``a`` is finite: one sum (an inf or NaN makes it inf or NaN;
    finite numbers whose sum overflows read as not finite, which only sends them to a
    slower, exact path)."""
    return bool(xp.isfinite(a.sum()))
