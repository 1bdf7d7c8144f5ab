"""A convolution's first-order backward as one batch split: each thread takes a part of the
batch and computes, for its images, the input gradient, its share of the weight gradient and
its share of the bias gradient -- one hand-over instead of three steps.

``Conv.backward`` calls it when no graph is recorded (a plain ``loss.backward()``); with
``create_graph=True`` the gradients stay the three differentiable Functions. Separately,
``input_grad`` and ``weight_grad`` each cut the batch over the threads, and the bias sum ran
on the calling thread. Each hand-over wakes the other core (on the 2-core VM this was
measured on: 15 us to post the piece, the worker starting 30-100 us later, the caller
woken 27 us after the worker's end), and the bias sum (of LeNet's first layer, 2.9 MB) was
the largest pass a LeNet step left on one thread.

The parts are the same as the separate kernels' (``parallel.over_batch``'s cuts), so each
part finds its own im2col matrix kept by the forward, and the sums are added part by part
in the same order: the results equal the separate kernels' (float64: to rounding).
"""
from __future__ import annotations

import numpy as np

from .. import parallel
from ._batch_norm_kernels import channel_sum
from . import conv_kernels as _kernels
from ._conv_weight_grad import _weight_grad, part_sum_scratch
from .conv_kernels import _half, _input_grad, _macs, _part_columns, sum_parts

__all__ = ["backward"]


def backward(x, g, w, geom, cols, need):
    """(gx, gw, gb) of y = x (*) w + b, in one batch split; None when it would not be split
    (one thread, one image, a small or empty problem, float16, not numpy), where the caller
    runs the separate kernels.

    x (N, C, *S), g = dL/dy (N, O, *L), w (O, C/G, *k); ``cols``: what the forward kept
    (``PartColumns``) or None; ``need``: (gx, gw, gb) wanted, gb only with a bias.
    -> gx (N, C, *S), gw (O, C/G, *k), gb (O,), None where not wanted::

        gx = ConvTranspose(g, w)    gw = sum over parts of ConvWeightGrad(x[part], g[part])
        gb[o] = sum over parts of sum_{n in part, i, j} g[n, o, i, j]
    """
    need_x, need_w, need_b = (tuple(need) + (False,))[:3]
    if not (need_x or need_w) or type(x) is not np.ndarray or type(g) is not np.ndarray \
            or _half(x) or x.dtype != g.dtype or x.dtype != w.dtype:
        return None
    N, C, O = x.shape[0], x.shape[1], w.shape[0]
    if N < 2 or x.size == 0 or g.size == 0 or w.size == 0 or \
            _macs(N, O, C, geom) < _kernels._SPLIT_MIN_MACS:
        return None
    gx = np.empty(x.shape, dtype=x.dtype) if need_x else None
    weights, biases = {}, {}
    per_image = g[0, 0].size

    def part(n0, n1):
        g_part = g[n0:n1]
        if need_x:
            _input_grad(g_part, w, geom, gx[n0:n1])
        if need_w:
            weights[n0] = _weight_grad(x[n0:n1], g_part, geom,
                                       _part_columns(cols, n0, n1, per_image),
                                       part_sum_scratch(n0, w.shape, w.dtype))
        if need_b:
            biases[n0] = _channel_sums(g_part)
    if not parallel.over_batch(part, N):
        return None
    return gx, sum_parts(weights) if need_w else None, sum_parts(biases) if need_b else None


def _channel_sums(g):
    """g (n, O, *L) summed over every axis but O -> (O,), as ``Sum`` sums a bias gradient."""
    if g.flags.c_contiguous and g.ndim >= 3 and 64 <= g[0, 0].size <= 1 << 16:
        return channel_sum(g.reshape(g.shape[0], g.shape[1], -1))
    return g.sum(axis=(0,) + tuple(range(2, g.ndim)), dtype=g.dtype)
