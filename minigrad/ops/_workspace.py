"""Scratch buffers that a kernel needs during a call and drops again, reused across calls.

A training loop makes the same temporaries every step (shifted planes and accumulators in
the convolutions, masks in the pools). A fresh large allocation is page-faulted in every
time (glibc hands big blocks back to the system on free, and the pages come back zeroed by
the kernel); a cached one is not. The cache is small and bounded, and it never hands out a
buffer that anything else still holds, so it has no effect outside these kernels
(``import minigrad`` changes no allocator setting).

Buffers are kept per *kind* of scratch (a name such as "im2col") and dtype, grown to the
largest size asked for: the layers of a network ask for the same kinds at different shapes,
and one buffer serves them all, where a buffer per shape made a ResNet's ~25 shapes evict
each other every step. A kind has a few slots, for buffers that are still in use when the
next one is asked for (a convolution keeps its im2col matrix for its backward). What a
buffer holds when handed out is whatever its last user left: callers write every cell they
read.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import OrderedDict

import numpy as np

from ._util import prod

__all__ = ["workspace", "padded_rows", "clear_workspace", "l2_cache_bytes"]

_WORKSPACE = OrderedDict()        # (kind, dtype, module, thread, slot) -> 1-D array, LRU order
# At most this much is kept between calls: one buffer of each kind that a large convolution's
# forward and backward use at once (shifted planes, products, accumulator, spread gradient,
# im2col matrix), so that a network's buffers survive from one step to the next
_WORKSPACE_BYTES = 96 << 20
_LOCK = threading.Lock()          # kernels may ask from several threads (minigrad.parallel)
_SLOTS = 4                        # buffers of one kind kept at once (several may be in use)
_NEEDED = {}                      # key -> the most elements asked of it since the last trim
# Below this size a buffer is simply allocated: glibc serves it from its heap, reusing freed
# blocks without page faults, and the cache's lock and look-ups cost more than that (a
# small max-pool asks for six such buffers per call)
_SMALL_BYTES = 64 << 10


def workspace(kind, shape, dtype, xp):
    """A scratch array of ``shape`` and ``dtype`` whose contents are undefined.

    It is a view of a cached buffer of this ``kind``, reused only when no one else holds that
    buffer (no view of it, no saved tensor). A kind has a few slots: the first free one is
    used, made larger if it is too small; when every kept one is busy a new one is made and
    kept (within the cache's bound). Arrays larger than half the bound are never kept.
    """
    dtype = xp.dtype(dtype)
    if prod(shape) * dtype.itemsize < _SMALL_BYTES:     # the allocator reuses these anyway
        return xp.empty(shape, dtype=dtype)
    with _LOCK:
        return _take(kind, shape, dtype, xp)


# A matrix whose rows are a multiple of this many bytes apart gets its rows spread a little
# further (ROW_PAD bytes): OpenBLAS packs a GEMM operand by reading many of its rows at once,
# and rows 64 KB apart fall on the same cache sets and evict each other. With OpenBLAS 0.3
# (one thread), the ResNet step's strided im2col product (64, 288) @ (288, 16384) took 10.1 ms
# on 64 KB rows and 7.4 ms with the rows (and the product's rows) 64 bytes longer
ROW_ALIGN = 4096
ROW_PAD = 64


def padded_rows(kind, shape, dtype, xp):
    """``workspace(kind, shape, dtype, xp)``, its last axis laid ROW_PAD bytes further apart
    when its rows are a multiple of ROW_ALIGN bytes long (a view; every other axis is as in a
    contiguous array, so merging or splitting the leading axes, or the last one, stays a
    view)."""
    dtype = xp.dtype(dtype)
    if xp is not np or not shape or shape[-1] == 0 or shape[-1] * dtype.itemsize % ROW_ALIGN:
        return workspace(kind, shape, dtype, xp)
    extra = ROW_PAD // dtype.itemsize or 1
    return workspace(kind, tuple(shape[:-1]) + (shape[-1] + extra,), dtype, xp)[..., :shape[-1]]


def _take(kind, shape, dtype, xp):
    size = prod(shape)
    if size * dtype.itemsize > _WORKSPACE_BYTES // 2:
        return xp.empty(shape, dtype=dtype)          # too large to keep
    # a pool's slices ask for the same kinds on several threads at once: one buffer each
    base = (kind, dtype.str, xp.__name__, threading.get_ident())
    for slot in range(_SLOTS):
        # slot k is tried when slots 0..k-1 are busy: a kept im2col matrix, say, while the
        # next layer makes its own
        key = base + (slot,)
        buf = _WORKSPACE.get(key)
        if buf is None:
            break
        # 3 references to a free buffer: the dict's, ``buf``'s and getrefcount's own argument
        if sys.getrefcount(buf) != 3:
            continue
        if buf.size >= size:
            _WORKSPACE.move_to_end(key)
            _NEEDED[key] = max(_NEEDED.get(key, 0), size)
            return buf[:size].reshape(shape)
        break                                        # free but too small: replaced below
    else:
        return xp.empty(shape, dtype=dtype)          # every slot busy
    buf = None
    _WORKSPACE.pop(key, None)
    new = xp.empty(size, dtype=dtype)
    _WORKSPACE[key] = new
    _NEEDED[key] = max(_NEEDED.get(key, 0), size)
    total = sum(a.nbytes for a in _WORKSPACE.values())
    if total > _WORKSPACE_BYTES:
        total = _trim(total)
    while total > _WORKSPACE_BYTES and len(_WORKSPACE) > 1:
        total -= _WORKSPACE.popitem(last=False)[1].nbytes
    return new[:size].reshape(shape)


def _trim(total):
    """The cache is over its bound: first drop the free buffers that nothing asked for since
    the last trim, or that are more than twice the most asked of them since (grown by an
    earlier, larger workload: kept, they would hold the cache over its bound and make it
    evict the current workload's buffers at every step). Then start a new window of needs.
    Returns the new total."""
    for key in list(_WORKSPACE):
        buf = _WORKSPACE[key]
        # 3 references to a free buffer, as in _take (the new one has a 4th: the caller's)
        if sys.getrefcount(buf) == 3 and buf.size > 2 * _NEEDED.get(key, 0):
            total -= buf.nbytes
            del _WORKSPACE[key]
        buf = None
    _NEEDED.clear()
    return total


def clear_workspace():
    """Drop every cached scratch buffer (their memory goes back to the allocator)."""
    with _LOCK:
        _WORKSPACE.clear()
        _NEEDED.clear()


CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"      # where Linux describes the caches


def l2_cache_bytes(root=None):
    """One core's L2 cache in bytes as Linux reports it (under ``root``, by default
    CACHE_DIR), or None: another system, or not reported. Scratch that a kernel reuses in
    chunks is sized by it (``_conv_shift.BATCH_CHUNK_BYTES``)."""
    root = root or CACHE_DIR
    try:
        for entry in sorted(os.listdir(root)):
            if not entry.startswith("index"):
                continue
            with open(os.path.join(root, entry, "level")) as f:
                if f.read().strip() != "2":
                    continue
            with open(os.path.join(root, entry, "size")) as f:
                text = f.read().strip().upper()
            scale = {"K": 1 << 10, "M": 1 << 20}.get(text[-1:], 1)
            return int(text.rstrip("KM")) * scale
    except (OSError, ValueError):
        return None
    return None
