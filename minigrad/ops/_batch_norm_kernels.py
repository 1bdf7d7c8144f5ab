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
number long and the sums matrix products of width one (64 x 256: 89 -> 19 us forward). So
does a channels-last input, as the (N prod(S), C) rows of its memory (``channels_last_rows``,
``rows_forward``, ``rows_eval``, ``rows_backward``; the results laid out channels-last by
``from_rows``), a channel per column: the per-channel factors tiled down blocks of rows
(``_by_column``), the column sums matrix-vector products.
"""
from __future__ import annotations

import math

from .. import backend
from ..parallel import blas_on_one_thread, run_split
from ._util import FLOAT32_64 as _FLOATS
from ._workspace import workspace as _workspace

__all__ = ["usable", "forward_train", "forward_eval", "backward_train", "channel_sum",
           "column_sums",
           "channels_last_rows", "from_rows", "rows_forward", "rows_eval", "rows_backward"]


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
    ones = _workspace("ones", (s,), a.dtype, xp)     # (scratch: a step allocates no copy)
    ones.fill(1)
    with blas_on_one_thread(a.size):
        return (a.reshape(n * c, s) @ ones).reshape(n, c).sum(axis=0)


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
    n, c = x_in.shape[:2]
    y, mean, var, invstd = rows_forward(x_in.reshape(n, c), weight, bias, eps)
    return y.reshape(x_in.shape), mean, var, invstd


def _rows_backward(x_in, g_in, mean, invstd, weight, want_x, want_w, want_b):
    """backward_train for x (N, C, 1, ...) of one position per channel, on (N, C) rows."""
    n, c = x_in.shape[:2]
    dx, gw, gb = rows_backward(x_in.reshape(n, c), g_in.reshape(n, c), mean, invstd, weight,
                               want_x, want_w, want_b)
    return None if dx is None else dx.reshape(x_in.shape), gw, gb


def channels_last_rows(x, *others):
    """x (N, C, *S), 4-d or 5-d, laid out channels-last (its (N, *S, C) transpose
    row-major), float32 or float64, the others (None where absent) of its dtype -> that
    transpose as (N prod(S), C) rows, a view, where every channel is a column; None for any
    other input."""
    if x.ndim not in (4, 5) or x.flags.c_contiguous or x.dtype not in _FLOATS or \
            any(a is not None and a.dtype != x.dtype for a in others):
        return None
    t = x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))
    return t.reshape(-1, x.shape[1]) if t.flags.c_contiguous else None


def from_rows(rows, like):
    """(N prod(S), C) rows -> the (N, C, *S) view of them, laid out channels-last."""
    t = rows.reshape((like.shape[0],) + like.shape[2:] + (like.shape[1],))
    return t.transpose((0, t.ndim - 1) + tuple(range(1, t.ndim - 1)))


# numbers in the block of rows down which a per-column operand is tiled (``_by_column``)
_TILE = 1 << 14


def _by_column(op, a, v, out):
    """op(a, v, out=out) for rows a (M, C) and a per-column operand v (C,): v tiled down a
    block of rows (_TILE numbers) and the rows run in such blocks, a row of C numbers
    broadcast costing numpy about twice a same-shape pass (16384 x 64 float32: 255 -> 137
    us a product); the rows left over beside v itself."""
    m, c = a.shape
    k = max(1, _TILE // max(c, 1))
    if m < 2 * k:
        return op(a, v, out=out)
    tiled = backend.xp_of(a).tile(v.astype(a.dtype, copy=False), (k, 1))
    q = m // k * k
    op(a[:q].reshape(-1, k, c), tiled, out=out[:q].reshape(-1, k, c))
    if q < m:
        op(a[q:], v, out=out[q:])
    return out


def column_sums(a, other=None):
    """a (..., P, C) -> (..., C): each column summed down its P rows (of a * other, with
    ``other`` of a's shape), in blocks of about sqrt(P) rows (a power of two, 16 at least),
    each block's sums a matrix product (an einsum with ``other``), the blocks' sums then
    added: 16384 x 64 float32 in 70 us (numpy's sum down the rows 320, one matrix-vector
    product 60), 4x closer to the exact sum than either (whose running sums take the rows
    one after another)."""
    xp = backend.xp_of(a)
    p, c = a.shape[-2:]
    lead = a.shape[:-2]
    block = 1 << max(4, round(math.log2(max(p, 1)) / 2))
    q = p // block * block

    def sums(x, y, rows):
        if y is None:
            return xp.ones(rows, dtype=x.dtype) @ x
        return xp.einsum("...pc,...pc->...c", x, y)
    total = None
    if q:
        shape = lead + (q // block, block, c)
        # (the blocks' sums, a small array, added in float64)
        total = sums(a[..., :q, :].reshape(shape),
                     None if other is None else other[..., :q, :].reshape(shape),
                     block).sum(axis=-2, dtype=xp.float64).astype(a.dtype)
    if q < p:
        rest = sums(a[..., q:, :], None if other is None else other[..., q:, :], p - q)
        total = rest if total is None else total + rest
    return total


def _column_sums(a, other=None):
    """a (M, C) -> (C,): ``column_sums``; a small array as numpy sums it (BatchNorm1d's
    results as before)."""
    if a.size < _TILE:
        return a.sum(axis=0) if other is None else \
            backend.xp_of(a).einsum("nc,nc->c", a, other)
    return column_sums(a, other)


def rows_forward(x, weight, bias, eps):
    """forward_train on rows x (M, C), a channel per column (an input without positions, or
    a channels-last one) -> (y (M, C), mean, var (biased), invstd): whole-array calls, each
    running along rows of C numbers."""
    xp = backend.xp_of(x)
    m = x.shape[0]
    mean = _column_sums(x) / m
    y = _by_column(xp.subtract, x, mean, xp.empty_like(x))     # x - mu, then becomes y
    var = _column_sums(y, y) / m
    invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype, copy=False)
    _by_column(xp.multiply, y, invstd if weight is None else invstd * weight, y)
    if bias is not None:
        _by_column(xp.add, y, bias, y)
    return y, mean, var, invstd


def rows_eval(x, mean, invstd, weight, bias):
    """forward_eval on rows x (M, C): y = x * scale + shift, per column."""
    xp = backend.xp_of(x)
    scale = invstd if weight is None else invstd * weight
    y = _by_column(xp.multiply, x, scale, xp.empty_like(x))
    return _by_column(xp.add, y, -mean * scale if bias is None else bias - mean * scale, y)


def rows_backward(x, g, mean, invstd, weight, want_x, want_w, want_b):
    """backward_train on rows x, g (M, C) -> (dx (M, C), dweight, dbias), None where not
    wanted."""
    xp = backend.xp_of(x)
    n = x.shape[0]
    centered = _by_column(xp.subtract, x, mean, xp.empty_like(x))
    dot = _column_sums(g, centered)
    gb = _column_sums(g)
    gw = invstd * dot if want_w else None
    if not want_x:
        return None, gw, gb if want_b else None
    a_ = invstd if weight is None else invstd * weight
    _by_column(xp.multiply, centered, -invstd * invstd * dot / n, centered)
    centered += g
    _by_column(xp.subtract, centered, gb / n, centered)
    _by_column(xp.multiply, centered, a_, centered)
    return centered, gw, gb if want_b else None
