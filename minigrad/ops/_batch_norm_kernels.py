"""The array kernels behind ``batch_norm``'s fast path: numpy/cupy in and out, no autograd.

Batch norm does little arithmetic per number, so its time is the passes it makes over memory.
These kernels make as few as the formulas allow, on x (N, C, *S) viewed as (N, C, S) (S the
product of the spatial sizes), for a contiguous float32/float64 input:

* per-channel sums are matrix products (BLAS), never a full-size temporary;
* every per-channel constant is folded into one factor before it touches a full-size array;
* the passes run on slices of the batch in parallel (``minigrad.parallel``), each slice in
  sub-slices of a few images (``BLOCK_BYTES``), each sub-slice taken through all of a pass's
  calls in turn while it is still in the core's cache.

    forward (training)  mu = sum x / M, var = sum (x - mu)^2 / M     (M = N*S)
                        y = (x - mu) * weight invstd + bias          3 passes
    forward (eval)      y = x * (weight invstd) + (bias - mu weight invstd)      2 passes
    backward            gb = sum g, s = sum g (x - mu)
                        dx = a (g - gb / M - (x - mu) invstd^2 s / M)  (a = weight invstd)
                        dweight = invstd s, dbias = gb               4 passes

An input without spatial positions (BatchNorm1d on (N, C)) takes the same formulas on (N, C)
rows (``_rows_forward``, ``_rows_backward``): a few whole-array numpy calls, each running
along a row of C numbers, where the (N, C, 1) view would make every call's inner loop one
number long and the sums matrix products of width one (64 x 256: 89 -> 19 us forward).
"""
from __future__ import annotations

from .. import backend
from ..parallel import blas_on_one_thread, run_split
from ._util import FLOAT32_64 as _FLOATS

__all__ = ["usable", "forward_train", "forward_eval", "backward_train", "channel_sum"]




def usable(x, *others):
    """Whether the fast path applies: x a contiguous float32/float64 array, the others (the
    gradient, the affine parameters; None where absent) of x's dtype."""
    return (x.dtype in _FLOATS and x.flags.c_contiguous and
            all(a is None or a.dtype == x.dtype for a in others))


def channel_sum(a):
    """a (N, C, S) -> (C,): each channel summed over the batch and the positions."""
    xp = backend.xp_of(a)
    n, c, s = a.shape
    if s == 1:
        return a.reshape(n, c).sum(axis=0)
    # on the calling thread: the BLAS's own workers would spin afterwards on the core that
    # the passes that follow split themselves over (``blas_on_one_thread``)
    with blas_on_one_thread(a.size):
        return (a.reshape(n * c, s) @ xp.ones(s, dtype=a.dtype)).reshape(n, c).sum(axis=0)


def _row_dots(a, b):
    """a, b (k, C, S) -> (k, C): the dot product of every (image, channel) row."""
    k, c, s = a.shape
    if s < 64:          # many tiny dot products cost more in calls than the product does
        return (a * b).sum(axis=2)
    return (a.reshape(k * c, 1, s) @ b.reshape(k * c, s, 1)).reshape(k, c)


def _spread(v, like):
    """v (C,) as an operand that broadcasts against ``like`` (N, C, S) channel by channel.

    v[:, None] would do, but then numpy runs its inner loop once per (image, channel) row;
    a (C, S) copy of v (1/N of the work of the pass) lets it run once per image over C*S
    numbers: these passes ran about 1.5x faster. Not worth it for few images."""
    xp = backend.xp_of(like)
    n, c, s = like.shape
    v = v.astype(like.dtype, copy=False)
    if n < 4 or s == 1:
        return v[:, None]
    return xp.repeat(v, s).reshape(c, s)


def _channels(a):
    """a (N, C, *S), contiguous -> (N, C, prod(S)), a view."""
    return a.reshape(a.shape[0], a.shape[1], -1)


# A thread's slice of the batch is run in sub-slices of whole images of about this many bytes
# of x: each of a pass's calls on one sub-slice, then the next, so that what a call writes is
# still in the core's cache (2 MB of L2 on the machine measured) when the next one reads it.
# One thread, float32, training forward + backward: 16x64x32x32 2.75 -> 2.39 ms,
# 16x128x16x16 1.43 -> 1.24 ms (blocks of 256 KB gained less, of 1 MB less too)
BLOCK_BYTES = 1 << 19


def _step(like):
    """How many images a sub-slice of ``like`` (N, C, S) holds, or None for no sub-slices:
    where an image is more than half a block, its passes stay in cache only in blocks of a
    few channels, with the per-channel operands sliced to them, and 16x32x64x64 float32
    measured 7-25% slower so than in whole slices (blocks of 128-512 KB)."""
    k = BLOCK_BYTES // max(like.shape[1] * like.shape[2] * like.itemsize, 1)
    return k if 2 <= k < like.shape[0] else None


def _parallel(piece, like, passes):
    """Run piece(start, stop) over slices of the batch axis of ``like`` (N, C, S), a slice
    per thread, each in sub-slices (``_step``); the pieces' BLAS calls on their own threads
    only (``blas_on_one_thread``). The hold is sized by the whole array, not a row: a
    piece's per-channel sums are one matrix-vector product over its (images x C, S) block,
    which OpenBLAS splits over its workers even when S is short (32x32 planes: a ResNet-like
    step's backward took 573 ms instead of 402 on two cores, its workers spinning on
    minigrad's second core, unless OPENBLAS_THREAD_TIMEOUT was set short)."""
    k = _step(like)

    def in_steps(a, b):
        for i in range(a, b, k):
            piece(i, min(b, i + k))
    with blas_on_one_thread(like.size):
        run_split(piece if k is None else in_steps, like.shape[0], passes * like.nbytes,
                  backend.xp_of(like))


def _centered(x_in, mean, other=None, other_sum=False, overwrite=False):
    """x - mean, in a new (N, C, *S) array (in x itself with ``overwrite``), and the
    per-channel sum of ``other`` (N, C, S) times it (of its square when ``other`` is None),
    made in the same pass; with ``other_sum`` also the per-channel sum of ``other`` itself
    (else None)."""
    xp = backend.xp_of(x_in)
    out = x_in if overwrite else xp.empty_like(x_in)
    x, centered = _channels(x_in), _channels(out)
    other = centered if other is None else other
    n, c, s = x.shape
    partial = xp.empty((n, c), dtype=x.dtype)
    sums = xp.empty((n, c), dtype=x.dtype) if other_sum else None
    ones = xp.ones(s, dtype=x.dtype) if other_sum else None
    mean_s = _spread(mean, x)

    def center(a, b):
        xp.subtract(x[a:b], mean_s, out=centered[a:b])
        partial[a:b] = _row_dots(other[a:b], centered[a:b])
        if sums is not None:
            # (in the pieces, not a product over the whole array on the calling thread
            # first: the other threads would wait for it)
            sums[a:b] = (other[a:b].reshape((b - a) * c, s) @ ones).reshape(b - a, c)
    _parallel(center, x, 3 if other is centered else 5 if other_sum else 4)
    return out, partial.sum(axis=0), None if sums is None else sums.sum(axis=0)


def forward_train(x_in, weight, bias, eps):
    """x (N, C, *S); weight, bias (C,) or None -> (y (N, C, *S), mean (C,), var (C,) biased,
    invstd (C,))."""
    xp = backend.xp_of(x_in)
    x = _channels(x_in)
    if x.shape[2] == 1:
        return _rows_forward(x_in, weight, bias, eps)
    m = x.shape[0] * x.shape[2]
    mean = channel_sum(x) / m
    out, squares, _ = _centered(x_in, mean)     # out holds x - mu first, then becomes y
    y = _channels(out)
    var = squares / m
    invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    scale = _spread(invstd if weight is None else invstd * weight, x)
    shift = None if bias is None else _spread(bias, x)

    def normalize(a, b):
        y[a:b] *= scale
        if shift is not None:
            y[a:b] += shift
    _parallel(normalize, x, 2 if shift is None else 4)
    return out, mean, var, invstd


def forward_eval(x_in, mean, invstd, weight, bias):
    """y = x * scale + shift with the running statistics folded in: x (N, C, *S) -> y."""
    xp = backend.xp_of(x_in)
    scale = invstd if weight is None else invstd * weight          # (C,)
    shift = -mean * scale if bias is None else bias - mean * scale
    out = xp.empty_like(x_in)
    x, y = _channels(x_in), _channels(out)
    scale_s, shift_s = _spread(scale, x), _spread(shift, x)

    def affine(a, b):
        xp.multiply(x[a:b], scale_s, out=y[a:b])
        y[a:b] += shift_s
    _parallel(affine, x, 4)
    return out


def backward_train(x_in, g_in, mean, invstd, weight, want_x, want_w, want_b,
                   overwrite=False):
    """x, g (N, C, *S); mean, invstd, weight (C,) (weight may be None) -> (dx (N, C, *S),
    dweight (C,), dbias (C,)), each None where not wanted. With ``overwrite`` (and dx
    wanted) dx is written over x, which then holds it (the caller frees x)."""
    x, g = _channels(x_in), _channels(g_in)
    m = x.shape[0] * x.shape[2]
    if not (want_x or want_w):
        return None, None, channel_sum(g) if want_b else None
    if x.shape[2] == 1:
        return _rows_backward(x_in, g_in, mean, invstd, weight, want_x, want_w, want_b)
    # x - mu (then becomes dx), sum g (x - mu), and sum g in the same pass when needed
    out, dot, gb = _centered(x_in, mean, g, want_x or want_b, overwrite and want_x)
    centered = _channels(out)
    gw = invstd * dot if want_w else None
    if not want_x:
        return None, gw, gb if want_b else None
    a_ = invstd if weight is None else invstd * weight
    k_s = _spread(-invstd * invstd * dot / m, x)
    c_s = _spread(gb / m, x)
    a_s = _spread(a_, x)

    def combine(a, b):
        gx = centered[a:b]
        gx *= k_s
        gx += g[a:b]
        gx -= c_s
        gx *= a_s
    _parallel(combine, x, 9)
    return out, gw, gb if want_b else None


def _rows_forward(x_in, weight, bias, eps):
    """forward_train for x (N, C, 1, ...) of one position per channel, on (N, C) rows."""
    xp = backend.xp_of(x_in)
    n, c = x_in.shape[:2]
    x = x_in.reshape(n, c)
    mean = x.sum(axis=0) / n
    y = x - mean                                          # x - mu, then becomes y
    var = xp.einsum("nc,nc->c", y, y) / n
    invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    y *= invstd if weight is None else invstd * weight
    if bias is not None:
        y += bias
    return y.reshape(x_in.shape), mean, var, invstd


def _rows_backward(x_in, g_in, mean, invstd, weight, want_x, want_w, want_b):
    """backward_train for x (N, C, 1, ...) of one position per channel, on (N, C) rows."""
    xp = backend.xp_of(x_in)
    n, c = x_in.shape[:2]
    centered = x_in.reshape(n, c) - mean
    g = g_in.reshape(n, c)
    dot = xp.einsum("nc,nc->c", g, centered)
    gb = g.sum(axis=0)
    gw = invstd * dot if want_w else None
    if not want_x:
        return None, gw, gb if want_b else None
    a_ = invstd if weight is None else invstd * weight
    centered *= (-invstd * invstd * dot / n).astype(centered.dtype, copy=False)
    centered += g
    centered -= (gb / n).astype(centered.dtype, copy=False)
    centered *= a_.astype(centered.dtype, copy=False)
    return centered.reshape(x_in.shape), gw, gb if want_b else None
