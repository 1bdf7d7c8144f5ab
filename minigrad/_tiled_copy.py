"""One copy routine for every layout copy (``contiguous``, ``clone`` into another format, a
reshape that must copy, a result relaid out in PyTorch's layout): ``copy_into(dst, src)``
is ``dst[...] = src``, done in two cache-friendly passes where numpy's single pass is slow.

Why: numpy walks a copy in the destination's memory order, so when the source's unit step
lies along another axis, every element read jumps by the source's step along the
destination's inner axis.  When that jump is a multiple of 1 KiB (a 1024-wide float32 row,
a 256-wide channel plane...) all those reads land in a few cache sets and evict each other:
``x.t().contiguous()`` of a 1024x1024 float32 runs at 1/10 of a plain copy's speed.

How: the axes both arrays step through alike are merged, the source's unit axis ``s`` and
the destination's ``d`` are moved last, and the copy goes strip by strip of ``T`` along
``s`` (``T`` elements are 256 bytes): first the strip is copied into a small buffer shaped
(..., n_d, T), reading runs of ``T`` consecutive source elements, then the buffer,
transposed, is written out in the destination's order (reads step ``T`` elements).  Both
passes stay in cache; measured 3-4x faster than the single pass on such arrays, and slower
where the jump is not a multiple of 1 KiB, where the single pass is kept.

Where both arrays step through the inner axis by one element and differ outside it
(attention heads (B, T, H, D) -> (B, H, T, D)), numpy's loop restarts every D elements:
each run is then copied as one element of a void type of D elements' bytes (1.2-2x).
"""
from __future__ import annotations

import numpy as np

MIN_BYTES = 1 << 18         # smaller copies fit in cache whatever their order
_ALIASING_STEP = 1024       # jumps that are multiples of this crowd a few cache sets
_STRIP_BYTES = 256          # T * itemsize: a strip's run of consecutive source elements
_BUFFER_BYTES = 1 << 19    # a strip's buffer, kept within the L2 cache
_LONGEST_RUN = 2048         # runs this long (bytes) and shorter: copied as void elements
_MIN_INNER = 16             # a destination inner axis shorter than this: the single pass


def copy_into(dst, src):
    """``dst[...] = src`` for arrays of one shape and dtype (``dst`` a new array or a
    window of one, not overlapping ``src``); returns ``dst``."""
    if src.nbytes >= MIN_BYTES and type(src) is np.ndarray and type(dst) is np.ndarray:
        plan = _plan(dst, src)
        if plan is not None:
            if plan[2]:
                _two_pass(*plan)
            else:           # runs: one element of a void type each
                np.copyto(plan[0], plan[1])
            return dst
    dst[...] = src
    return dst


def contiguous_copy(src):
    """A new row-major copy of ``src`` (as ``src.copy(order="C")``, tiled for a numpy array
    where that is faster)."""
    if src.nbytes >= MIN_BYTES and type(src) is np.ndarray:
        return copy_into(np.empty(src.shape, src.dtype), src)
    return src.copy()


def laid_out_like(x, like):
    """``x``, or a copy of it laid out as ``like`` (a dense operand of the same shape and dtype)
    where numpy's walk of ``x`` in ``like``'s memory order is slow (as ``copy_into`` tells
    them apart): then a binary op of the two walks both in one order, at a plain pass's
    speed, and its result takes ``like``'s layout, the first operand's, as in PyTorch."""
    if type(x) is not np.ndarray or type(like) is not np.ndarray or x.nbytes < MIN_BYTES \
            or x.shape != like.shape or x.dtype != like.dtype or 1 in x.shape \
            or not _dense(like):
        # (a size-1 dim: its stride in PyTorch's result may come from x's, which stays)
        return x
    out = np.empty_like(like)
    plan = _plan(out, x)
    if plan is None or not plan[2]:     # (runs alike: the op's own walk reads them well)
        return x
    _two_pass(*plan)
    return out


def _dense(a):
    """Whether ``a``'s elements fill its memory with no gap or repeat (in some order of its
    axes): then ``np.empty_like`` lays a new array out as ``a``."""
    step = a.itemsize
    for st, n in sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n != 1):
        if st != step:
            return False
        step *= n
    return True


def _plan(dst, src):
    """(dst view, src view, T) with the axes merged and ordered (..., s, d); (dst view, src
    view, 0) with the inner axis made one void element where both step through it by one
    element (in runs of at most 2 KiB); or None where the single pass is as fast: dst's
    inner step not one element, src's step along dst's
    inner axis 0 or no multiple of 1 KiB (or 1 KiB with a short walk), no other axis of
    src with a step of 256 bytes or less (its inner one: ``s``)."""
    if dst.shape != src.shape or dst.dtype != src.dtype or dst.dtype.hasobject:
        return None
    item = dst.itemsize
    dims = [i for i, n in enumerate(dst.shape) if n != 1]
    if len(dims) < 2:
        return None
    dims.sort(key=lambda i: -abs(dst.strides[i]))       # dst's memory order, outermost first
    shape, dsteps, ssteps = [], [], []
    for i in dims:
        n, a, b = dst.shape[i], dst.strides[i], src.strides[i]
        if shape and dsteps[-1] == a * n and ssteps[-1] == b * n:     # one axis to both
            shape[-1] *= n
            dsteps[-1], ssteps[-1] = a, b
        else:
            shape.append(n)
            dsteps.append(a)
            ssteps.append(b)
    jump, n_d = abs(ssteps[-1]), shape[-1]
    if len(shape) > 1 and dsteps[-1] == jump == ssteps[-1] == item and \
            n_d * item <= _LONGEST_RUN and not dst.dtype.fields:
        # both step through the inner axis alike, in runs of n_d elements: copied as single
        # elements of a void type (numpy's loop per run of a few dozen elements is most of
        # the time, as in heads (B, T, H, D) -> (B, H, T, D))
        run = np.dtype(f"V{n_d * item}")
        as_strided = np.lib.stride_tricks.as_strided
        return (as_strided(dst, shape, dsteps).view(run),
                as_strided(src, shape, ssteps, writeable=False).view(run), 0)
    # (a 1 KiB jump crowds the cache less: only a long inner walk loses to it)
    if dsteps[-1] != item or not jump or n_d < _MIN_INNER or jump % _ALIASING_STEP or \
            jump % (2 * _ALIASING_STEP) and n_d < 1024:
        return None
    # src's inner axis: its unit step, or (a strided slice) its smallest one, well below 1 KiB
    s = min(range(len(shape) - 1), key=lambda k: abs(ssteps[k]))
    if abs(ssteps[s]) * 4 > _ALIASING_STEP or not ssteps[s]:
        return None
    order = [k for k in range(len(shape) - 1) if k != s] + [s, len(shape) - 1]
    shape = tuple(shape[k] for k in order)
    as_strided = np.lib.stride_tricks.as_strided
    dview = as_strided(dst, shape, tuple(dsteps[k] for k in order))
    sview = as_strided(src, shape, tuple(ssteps[k] for k in order), writeable=False)
    return dview, sview, max(_STRIP_BYTES // item, 4)


def _two_pass(dst, src, width):
    """dst[...] = src where src's unit axis is -2 and dst's is -1: strips of ``width``
    along axis -2, each through a buffer (..., n_d, width) of at most about 512 KiB (the
    leading axis is taken in chunks where the whole would be larger)."""
    n_s, n_d = src.shape[-2:]
    per_item = n_d * width * src.itemsize
    for lead in range(1, src.ndim - 2):
        per_item *= src.shape[lead]
    chunk = src.shape[0] if src.ndim == 2 else max(1, _BUFFER_BYTES // per_item)
    for first in range(0, src.shape[0] if src.ndim > 2 else 1, chunk):
        sub_src = src if src.ndim == 2 else src[first:first + chunk]
        sub_dst = dst if dst.ndim == 2 else dst[first:first + chunk]
        buffer = np.empty(sub_src.shape[:-2] + (n_d, width), src.dtype)
        for start in range(0, n_s, width):
            w = min(width, n_s - start)
            part = buffer if w == width else buffer[..., :w]
            np.copyto(part, sub_src[..., start:start + w, :].swapaxes(-1, -2))
            np.copyto(sub_dst[..., start:start + w, :], part.swapaxes(-1, -2))
