"""Array-level pooling kernels (numpy or cupy in, array out): the fast paths that the pooling
Functions of ``pool.py`` run in their forwards.

Every kernel works on the last ``nd`` axes; whatever comes before them (N, C or just C) is a
batch of independent planes, so unbatched inputs need no special case.

Windows are visited as *sub-grids*: for kernel offset (p, q), the strided view
``xpad[..., p*d :: s, q*d :: s]`` (cut to the output size) holds, for every output pixel,
the input element at that offset of its window. A max-pool is then kH*kW ``maximum`` calls
on whole sub-grids (a 2x2/2 pool is 4 calls), never a loop over pixels or batch items.
"""
from __future__ import annotations

import itertools

import numpy as np  # dtype limits and index bookkeeping; the data goes through backend.xp_of

from .. import backend
from ..parallel import run_split
from ._pool_phases import scatter_phases
from ._util import FLOAT32_64 as _FLOATS, along as _along, prod, window_slices as _window_slices
from ._workspace import workspace

__all__ = ["prod", "pad", "crop", "max_windows", "flat_indices", "scatter_offsets",
           "window_sums", "spread_windows", "avg_divisor", "running_max", "gather_flat",
           "scatter_flat", "trunc_divide"]


def pad(x, pads, value):
    """Pad the last len(pads) axes of x with ``value``: pads = ((left, right), ...)."""
    if not any(l or r for l, r in pads):
        return x
    xp = backend.xp_of(x)
    nd = len(pads)
    shape = x.shape[:-nd] + tuple(n + l + r for n, (l, r) in zip(x.shape[-nd:], pads))
    out = xp.full(shape, value, dtype=x.dtype)
    out[(Ellipsis,) + tuple(slice(l, l + n) for n, (l, _) in zip(x.shape[-nd:], pads))] = x
    return out


def crop(x, pads, size):
    """Undo ``pad``: the interior of x, as a contiguous array."""
    if not any(l or r for l, r in pads):
        return x
    xp = backend.xp_of(x)
    return xp.ascontiguousarray(
        x[(Ellipsis,) + tuple(slice(l, l + n) for n, (l, _) in zip(size, pads))])


# ----------------------------------------------------------------------------------------------
# Max over windows
# ----------------------------------------------------------------------------------------------
def lowest(dtype):
    """The value padding takes in a max-pool: -inf, or the smallest integer."""
    return -np.inf if dtype.kind in "fV" else np.iinfo(dtype).min


def _offset_dtype(count):
    return np.int8 if count <= 127 else np.int16 if count <= 32767 else np.int32


def running_max(candidate, count, xp, with_arg=True):
    """Max over ``count`` candidates and the index of the one PyTorch picks.

    candidate(k) -> the k-th candidate for every output position (a view, shape = out).
    PyTorch scans a window in order and keeps ``val > max or isnan(val)``: the FIRST maximum,
    but the LAST NaN. Here: a running ``maximum`` (NaN propagates) whose index moves only on a
    strictly greater value, then, only if the result holds NaNs, the largest k that is NaN.
    """
    if count == 2 or (count > 2 and not with_arg):
        # the first two candidates in one call (no copy of the first); for a 2-wide window
        # the index is one comparison (strictly greater: a tie keeps the first), written as
        # int8 ones and zeros
        view = candidate(0)
        first, second = _dense(view, "pool-c0"), _dense(candidate(1), "pool-c1")
        out = xp.maximum(first, second, out=xp.empty_like(view))   # the layout x's view has
        arg = xp.greater(second, first).view(np.int8) if with_arg else None
        scanned = 2
    else:
        out = xp.array(candidate(0), copy=True)
        arg = xp.zeros(out.shape, dtype=_offset_dtype(count)) if with_arg else None
        scanned = 1
    if with_arg and count > scanned:   # scratch for the steps below, reused call to call
        bigger = workspace("pool-mask", out.shape, bool, xp)
        move = workspace("pool-move", out.shape, arg.dtype, xp)
    for k in range(scanned, count):
        c = _dense(candidate(k), "pool-c0")
        if with_arg:
            # arg = k where c > out, as arithmetic on small ints: ~30x faster than a masked
            # copy (copyto/where); into scratch buffers, so no temporaries per candidate
            xp.greater(c, out, out=bigger)
            xp.subtract(k, arg, out=move)
            xp.multiply(move, bigger, out=move)
            arg += move
        xp.maximum(out, c, out=out)
    if with_arg and out.dtype.kind in "fV" and bool(xp.isnan(out).any()):
        for k in range(count):
            arg += xp.isnan(candidate(k)) * (k - arg)
    return out, arg


def _dense(view, kind):
    """``view`` itself, or a contiguous copy of it in scratch when numpy's loops would crawl
    over it: when its numbers are not next to each other along its last axis (every s-th of
    a row, the windows along the last axis) -- numpy's SIMD loops take contiguous rows only,
    and maximum and greater ran 5-7x slower there (LeNet's 64x50x8x8 maps: 103 against 15
    us, the copy 30) -- or when its rows are short (under 16 numbers: a loop per row; every
    other row of LeNet's 4-wide maps, max and comparison 337 us as they are, 214 copied)."""
    if backend.xp_of(view) is not np or view.ndim == 0 or view.flags.c_contiguous or \
            (view.strides[-1] == view.itemsize and view.shape[-1] >= 16):
        return view
    out = workspace(kind, view.shape, view.dtype, np)
    np.copyto(out, view)
    return out


def _by_leading_axis(x, nd, piece):
    """piece(start, stop) over slices of x's first axis, split over the threads, when x has
    axes before its last ``nd`` (independent planes); otherwise piece(None, None)."""
    if x.ndim == nd:
        piece(None, None)
    else:
        run_split(piece, x.shape[0], 2 * x.nbytes, backend.xp_of(x))


def max_windows(x, kernel, stride, padding, dilation, out_size, with_arg):
    """y[..., i, j] = max_{p, q} xpad[..., i*sH + p*dH, j*sW + q*dW] and ``arg``, the row-major
    kernel offset k = p*kW + q of the element PyTorch picks (its first maximum), or None.

    The planes (the leading axes) are independent: slices of the first axis run on the
    threads, their outputs joined after.
    """
    if _halving(x, kernel, stride, padding, dilation, out_size):
        return _max_halving(x, out_size, with_arg)
    nd = len(kernel)
    trail = 0
    if _channels_last(x, nd):
        # channels-last memory (N, C, *S): pooled as the row-major (N, *S, C) it is, each
        # window offset a view whose rows are whole C-runs (gathering the C-strided
        # candidates of the (N, C, *S) view into dense copies was ~9x slower than PyTorch)
        x, trail = np.moveaxis(x, 1, -1), 1
    parts = {}

    def piece(a, b):
        parts[a] = _max_windows(x[a:b], kernel, stride, padding, dilation, out_size,
                                with_arg, trail)
    _by_leading_axis(x, nd + trail, piece)
    if len(parts) == 1:
        y, arg = next(iter(parts.values()))
    else:
        xp = backend.xp_of(x)
        ys, args = zip(*(parts[a] for a in sorted(parts)))
        y, arg = xp.concatenate(ys), (xp.concatenate(args) if with_arg else None)
    if trail:                          # back to (N, C, *out) views, channels-last memory
        y = np.moveaxis(y, -1, 1)
        arg = None if arg is None else np.moveaxis(arg, -1, 1)
    return y, arg


def _channels_last(x, nd):
    """Is ``x`` an (N, C, *S) numpy array (nd = len(S)) in channels-last memory, (N, *S, C)
    row-major?"""
    return type(x) is np.ndarray and x.ndim == nd + 2 and not x.flags.c_contiguous and \
        x.strides[1] == x.itemsize and np.moveaxis(x, 1, -1).flags.c_contiguous


def _halving(x, kernel, stride, padding, dilation, out_size):
    """Whether max_windows is a 2x2 pool, stride 2 (no padding, dilation, ceil_mode
    overhang) of a row-major float32/float64 numpy array: ``_max_halving``."""
    return (type(x) is np.ndarray and x.dtype in _FLOATS and x.ndim >= 2 and
            x.flags.c_contiguous and tuple(kernel) == (2, 2) and tuple(stride) == (2, 2) and
            tuple(dilation) == (1, 1) and not any(l or r for l, r in padding) and
            tuple(out_size) == (x.shape[-2] // 2, x.shape[-1] // 2) and x.size > 0)


def _max_halving(x, out_size, with_arg):
    """max_windows for a 2x2 window, stride 2, on a row-major float array: x (..., H, W) ->
    y (..., H/2, W/2) and the int8 window offsets (0-3, row-major), or None.

    The general path works on strided views whose rows (W/2 numbers) are too short for
    numpy's fast loops (LeNet's 64x20x24x24 maps: 0.75 ms, here 0.56). Here one copy sorts
    the four candidates of every window into dense planes a, b, c, d, and the rest runs on
    flat arrays. The offset is PyTorch's (first maximum in scan order a, b, c, d): b only
    if b > a, the lower pair only if its max is strictly greater."""
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    planes = prod(lead)
    y = np.empty(lead + tuple(out_size), dtype=x.dtype)
    arg = np.empty(y.shape, dtype=np.int8) if with_arg else None
    x3, y3 = x.reshape(planes, h, w), y.reshape(planes, -1)
    arg3 = None if arg is None else arg.reshape(planes, -1)

    def piece(a, b):
        _halve(x3[a:b], y3[a:b], None if arg3 is None else arg3[a:b])
    run_split(piece, planes, 2 * x.nbytes)
    return y, arg


def _halve(x, y, arg):
    """_max_halving on planes x (P, H, W) into y, arg (P, Ho*Wo) (arg may be None)."""
    p, h, w = x.shape
    ho, wo = h // 2, w // 2
    s = x.itemsize
    # (P, Ho, row of the pair, Wo, column of the pair); an odd last row or column is left out
    windows = np.lib.stride_tricks.as_strided(
        x, (p, ho, 2, wo, 2), (h * w * s, 2 * w * s, w * s, 2 * s, s), writeable=False)
    q = workspace("pool-q", (2, 2, p, ho * wo), x.dtype, np)
    np.copyto(q.reshape(2, 2, p, ho, wo), windows.transpose(2, 4, 0, 1, 3))
    a, b, c, d = q[0, 0], q[0, 1], q[1, 0], q[1, 1]
    if arg is None:
        np.maximum(a, b, out=a)
        np.maximum(c, d, out=c)
        np.maximum(a, c, out=y)
        return
    right, lower_right, lower = (workspace(f"pool-m{i}", a.shape, bool, np) for i in range(3))
    np.greater(b, a, out=right)
    np.maximum(a, b, out=a)
    np.greater(d, c, out=lower_right)
    np.maximum(c, d, out=c)
    np.greater(c, a, out=lower)
    np.maximum(a, c, out=y)
    # offset = lower * (2 + lower_right - right) + right, in int8 (bools seen as 0/1 bytes)
    right, lower_right, lower = (m.view(np.int8) for m in (right, lower_right, lower))
    np.subtract(lower_right, right, out=arg)
    arg += 2
    arg *= lower
    arg += right
    if not np.isfinite(y.sum()):     # a NaN (or an inf, an overflow: then this changes
        # nothing): PyTorch keeps a window's LAST NaN; numpy's maximum already gave NaN
        for k in range(4):
            arg += np.isnan(windows[:, :, k // 2, :, k % 2].reshape(p, -1)) * (k - arg)


def _max_windows(x, kernel, stride, padding, dilation, out_size, with_arg, trail=0):
    """max_windows on one slice of planes; the pooled axes are followed by ``trail`` others
    (1: channels-last memory seen as (N, *S, C)).

    The max is separable: along W first, then H. Taking the first max along W, then the first
    row holding the max, is exactly PyTorch's first max in row-major window order.
    """
    xp = backend.xp_of(x)
    nd = len(kernel)
    low = lowest(x.dtype)
    y, arg = pad(x, tuple(padding) + ((0, 0),) * trail, low), None      # (..., *Sp)
    for a in range(nd - 1, -1, -1):                                # (..., Sp[:a], out[a:])
        ax, k, s, d, o = y.ndim - nd - trail + a, kernel[a], stride[a], dilation[a], \
            out_size[a]

        def pick(p):                                               # offset p of every window
            return _along(ax, slice(p * d, p * d + s * (o - 1) + 1, s))

        if k > 1 and (trail or (a == nd - 1 and s == 1)) and xp is np and \
                y.flags.c_contiguous and y.size:
            y_new, arg_a = _max_flat(y, ax, k, s, d, o, with_arg)
        else:
            y_new, arg_a = running_max(lambda p: y[pick(p)], k, xp, with_arg)
        if with_arg:
            if any(padding[a]) and bool((y_new == low).any()):
                # only -inf in the window: PyTorch names its first element inside the input
                first = xp.clip(-((xp.arange(o) * s - padding[a][0]) // d), 0, k - 1)
                first = first.astype(arg_a.dtype)
                arg_a = xp.where(y_new == low,
                                 first.reshape((-1,) + (1,) * (nd - 1 - a + trail)), arg_a)
            arg = arg_a if arg is None else _combine(xp, arg, arg_a, pick, k, prod(kernel[a + 1:]))
        y = y_new
    return y, arg


def _max_flat(y, ax, k, s, d, o, with_arg):
    """``running_max`` along axis ``ax`` of a row-major numpy array, on its flat memory.

    With T the size of the axes after ``ax``, window j's offset p in every row of the
    leading axes is flat element (r*n + s*j + p*d)*T + t: so offset p's candidates for all
    windows at once lie in the one flat run starting at p*d*T, and the max over the runs
    holds every window's max at the flat positions (r*n + s*j)*T + t (the rest, garbage, is
    dropped by the final strided copy). numpy's loops ran ~5x faster on such flat runs than
    on the views they replace, whose rows are short or C-strided (one thread, no indices:
    32x64x512, k=3, s=1: 1.10 ms to 0.54, torch 0.33; channels-last 16x64x56x56, 3x3
    stride 2 padding 1: 9.5 to 5.9, torch 1.9)."""
    n = y.shape[ax]
    after = prod(y.shape[ax + 1:])
    run = ((prod(y.shape[:ax]) - 1) * n + s * (o - 1) + 1) * after   # to the last window's
    flat = y.reshape(-1)
    out, arg = running_max(lambda p: flat[p * d * after:p * d * after + run], k, np,
                           with_arg)

    def windows(a):                # the (..., o, ...) windows of a flat run, row-major
        per = a.itemsize / y.itemsize
        strides = tuple(int(st * per) for st in y.strides)
        return np.ascontiguousarray(np.lib.stride_tricks.as_strided(
            a, y.shape[:ax] + (o,) + y.shape[ax + 1:],
            strides[:ax] + (s * strides[ax],) + strides[ax + 1:], writeable=False))
    return windows(out), (windows(arg) if with_arg else None)


def _combine(xp, arg, arg_a, pick, k, later):
    """Row-major offset in the window: arg_a (offset along this axis) * prod(later kernel
    sizes) + the offset along the later axes found at the chosen position."""
    if k == 2:     # arg_a is 0 or 1: first + arg_a * (later + second - first), four calls
        first, second = _dense(arg[pick(0)], "pool-a0"), _dense(arg[pick(1)], "pool-a1")
        out = xp.subtract(second, first, dtype=_offset_dtype(k * later))
        out += later
        out *= arg_a
        out += first
        return out
    out = arg_a.astype(_offset_dtype(k * later))
    out *= later
    chosen = workspace("pool-mask", arg_a.shape, bool, xp)
    part = workspace("pool-part", arg_a.shape, out.dtype, xp)
    for p in range(k):
        xp.equal(arg_a, p, out=chosen)          # arithmetic select (see running_max)
        xp.multiply(chosen, arg[pick(p)], out=part)
        out += part
    return out


def flat_indices(arg, size, out_size, kernel, stride, padding, dilation):
    """PyTorch's indices: the position of each chosen element in its (unpadded) plane,
    row-major, int64, from the kernel offsets ``arg`` (..., *out)."""
    xp = backend.xp_of(arg)
    nd = len(kernel)
    rest, flat = arg.astype(np.int64), 0
    for a in range(nd - 1, -1, -1):                                # last axis first
        rest, p = xp.divmod(rest, kernel[a])
        start = xp.arange(out_size[a]).reshape((-1,) + (1,) * (nd - 1 - a)) * stride[a] \
            - padding[a][0]                                        # where window i starts
        flat = flat + (start + p * dilation[a]) * prod(size[a + 1:])
    return flat


def scatter_offsets(g, arg, kernel, stride, padding, dilation, size):
    """The adjoint of picking one element per window: dx[window(i, j) at offset arg[i, j]] +=
    g[i, j]. One strided pass per kernel offset; plain writes when windows do not overlap,
    else (numpy) adds on phase planes (``_pool_phases.scatter_phases``). As PyTorch's
    (whose gradient starts at +0 and is added to), no element is -0."""
    xp = backend.xp_of(g)
    nd = len(kernel)
    padded = tuple(n + l + r for n, (l, r) in zip(size, padding))
    out_size = g.shape[g.ndim - nd:]
    lead = g.shape[:g.ndim - nd]
    disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
    if not disjoint and xp is np and g.size:
        trail = int(_channels_last(arg, nd))
        if trail:                      # the winners of a channels-last input: (N, *out, C)
            g, arg = np.moveaxis(g, 1, -1), np.moveaxis(arg, 1, -1)
        dx = np.empty(g.shape[:g.ndim - nd - trail] + tuple(size) + g.shape[g.ndim - trail:],
                      dtype=g.dtype)

        def phases(a, b):
            scatter_phases(dx[a:b], g[a:b], arg[a:b], kernel, stride, padding, dilation,
                           trail)
        if g.ndim == nd:
            phases(None, None)
        else:
            run_split(phases, g.shape[0], 2 * dx.nbytes + prod(kernel) * 2 * g.nbytes, xp)
        return np.moveaxis(dx, -1, 1) if trail else dx
    # windows that tile the padded plane (a 2x2 pool of even sizes) write every element once:
    # no zeros needed first (on LeNet's 64x20x24x24 maps the zeroing was a sixth of the pass)
    tiled = all(s == k and d == 1 and o * k == n
                for k, s, d, o, n in zip(kernel, stride, dilation, out_size, padded))
    gx = (xp.empty if tiled else xp.zeros)(lead + padded, dtype=g.dtype)

    def piece(a, b):                   # slices of the first axis, on the threads
        _scatter_into(gx[a:b], g[a:b], arg[a:b], kernel, stride, dilation)
    if g.ndim == nd:
        piece(None, None)
    else:   # the pass writes gx and reads g and arg once per kernel offset
        run_split(piece, g.shape[0], gx.nbytes + prod(kernel) * (g.nbytes + arg.nbytes), xp)
    dx = crop(gx, padding, size)
    if disjoint:
        dx += 0       # the writes g * (chosen or not) leave -0 where g < 0: +0, as PyTorch
    return dx


def _scatter_into(gx, g, arg, kernel, stride, dilation):
    """scatter_offsets on one slice of planes, into gx (..., *Sp), zeros."""
    xp = backend.xp_of(g)
    out_size = g.shape[g.ndim - len(kernel):]
    disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
    chosen = workspace("pool-mask", arg.shape, bool, xp)
    part = None if disjoint else workspace("pool-grad", g.shape, g.dtype, xp)
    for k, offset in enumerate(itertools.product(*(range(n) for n in kernel))):
        view = gx[(Ellipsis,) + _window_slices(offset, stride, dilation, out_size)]
        xp.equal(arg, k, out=chosen)
        if disjoint:                    # each input element gets at most one write
            xp.multiply(g, chosen, out=view)
        else:
            xp.multiply(g, chosen, out=part)
            view += part


def gather_flat(x, indices, nd):
    """out[..., i, j] = x[..., indices[..., i, j]], indices counting in each flattened (last
    ``nd`` axes) plane of x; ``indices`` may have fewer leading axes (broadcast)."""
    xp = backend.xp_of(x)
    lead = x.shape[:x.ndim - nd]
    out_size = indices.shape[indices.ndim - nd:]
    planes = x.reshape(lead + (prod(x.shape[x.ndim - nd:]),))
    idx = xp.broadcast_to(indices, lead + out_size).reshape(lead + (prod(out_size),))
    return xp.take_along_axis(planes, idx, axis=-1).reshape(lead + out_size)


def scatter_flat(g, indices, size):
    """The adjoint of ``gather_flat``: out[..., indices[..., i, j]] += g[..., i, j] in each
    plane of shape ``size``; repeated indices add up (one ``bincount`` over all planes)."""
    xp = backend.xp_of(g)
    nd = len(size)
    lead = g.shape[:g.ndim - nd]
    rows, plane = prod(lead), prod(size)
    idx = xp.broadcast_to(indices, g.shape).reshape(rows, prod(g.shape[g.ndim - nd:]))
    where = (xp.arange(rows)[:, None] * plane + idx).reshape(-1)
    out = xp.bincount(where, weights=g.reshape(-1), minlength=rows * plane)
    return out.astype(g.dtype, copy=False).reshape(lead + tuple(size))


# ----------------------------------------------------------------------------------------------
# Sums over windows (average pooling)
# ----------------------------------------------------------------------------------------------
def _sum_along(y, ax, kernel, stride, out):
    """Window sums along one axis: z[.., i, ..] = sum_{p < kernel} y[.., i*stride + p, ..]."""
    acc = None
    for p in range(kernel):
        part = y[_along(ax, slice(p, p + stride * (out - 1) + 1, stride))]
        if acc is None:
            acc = part.copy()
        else:
            acc += part
    return acc


def _spread_along(g, ax, kernel, stride, full):
    """The adjoint of ``_sum_along``: each z[.., i, ..] goes back to its ``kernel`` inputs."""
    xp = backend.xp_of(g)
    out = g.shape[ax]
    gx = xp.zeros(g.shape[:ax] + (full,) + g.shape[ax + 1:], dtype=g.dtype)
    for p in range(kernel):
        view = _along(ax, slice(p, p + stride * (out - 1) + 1, stride))
        if stride >= kernel:           # disjoint windows: plain writes
            gx[view] = g
        else:
            gx[view] += g
    return gx


def window_sums(x, kernel, stride, padding, out_size):
    """Sum of every (zero-padded) window; separable: kH slice-adds along H, then kW along W."""
    nd = len(kernel)
    y = pad(x, padding, 0)                                         # (..., *Sp)
    for a in range(nd):                                            # (..., out[:a+1], Sp[a+1:])
        y = _sum_along(y, y.ndim - nd + a, kernel[a], stride[a], out_size[a])
    return y


def spread_windows(g, kernel, stride, padding, size):
    """The adjoint of ``window_sums``: each g[..., i, j] added to every element of its window."""
    nd = len(kernel)
    for a in range(nd - 1, -1, -1):                                # undo the sums, last first
        g = _spread_along(g, g.ndim - nd + a, kernel[a], stride[a],
                          size[a] + padding[a][0] + padding[a][1])
    return crop(g, padding, size)


def avg_divisor(xp, size, out_size, kernel, stride, padding, count_include_pad,
                divisor_override, dtype):
    """PyTorch's divisor per output position (a number when it is the same everywhere).

    kH*kW, or with count_include_pad=False the number of real (non-padding) elements, or
    divisor_override; as PyTorch, ceil_mode's overhang past the right padding never counts.
    """
    if divisor_override is not None:
        return divisor_override
    nd = len(kernel)
    total = 1
    for a, (n, o, k, s, (l, _)) in enumerate(zip(size, out_size, kernel, stride, padding)):
        start = np.arange(o) * s - l
        end = np.minimum(start + k, n + l)                         # clipped at the padding
        if not count_include_pad:
            start, end = np.maximum(start, 0), np.minimum(end, n)
        total = total * (end - start).reshape((-1,) + (1,) * (nd - 1 - a))
    if (total == total.flat[0]).all():
        return int(total.flat[0])
    return xp.asarray(total.astype(dtype))


def trunc_divide(s, d):
    """Integer s / d rounded toward zero (C's integer division, which PyTorch's integer
    average pool uses), where numpy's // rounds toward -inf."""
    xp = backend.xp_of(s)
    q = s // d
    return q + ((q * d != s) & ((s < 0) != (xp.asarray(d) < 0)))
