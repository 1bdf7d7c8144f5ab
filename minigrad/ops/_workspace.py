"""Scratch buffers that a kernel needs during a call and drops again, reused across calls.

A training loop makes the same temporaries every step (shifted planes and accumulators in
the convolutions, masks in the pools). A fresh large allocation is page-faulted in every
time (glibc hands big blocks back to the system on free, and the pages come back zeroed by
the kernel); a cached one is not. The cache is small and bounded, and it never hands out a
buffer that anything else still holds, so it has no effect outside these kernels
(``import minigrad`` changes no allocator setting).

One buffer per *kind* of scratch (a name such as "im2col") and dtype, grown to the largest
size asked for: the layers of a network ask for the same kinds at different shapes, and one
buffer serves them all, where a buffer per shape made a ResNet's ~25 shapes evict each other
every step. What a buffer holds when handed out is whatever its last user left: callers
write every cell they read.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict

from ._util import prod

__all__ = ["workspace", "clear_workspace"]

_WORKSPACE = OrderedDict()        # (kind, dtype, module, thread) -> 1-D array, most recent last
# At most this much is kept between calls: one buffer of each kind that a large convolution's
# forward and backward use at once (shifted planes, products, accumulator, spread gradient,
# im2col matrix), so that a network's buffers survive from one step to the next
_WORKSPACE_BYTES = 96 << 20
_LOCK = threading.Lock()          # kernels may ask from several threads (minigrad.parallel)


def workspace(kind, shape, dtype, xp):
    """A scratch array of ``shape`` and ``dtype`` whose contents are undefined.

    It is a view of the cached buffer of this ``kind``, reused only when no one else holds
    that buffer (no view of it, no saved tensor); otherwise, or when it is too small, a new
    one is made (and kept, if it fits the cache's bound). Arrays larger than half the bound
    are never kept.
    """
    with _LOCK:
        return _take(kind, shape, xp.dtype(dtype), xp)


def _take(kind, shape, dtype, xp):
    size = prod(shape)
    # a pool's slices ask for the same kinds on several threads at once: one buffer each
    key = (kind, dtype.str, xp.__name__, threading.get_ident())
    buf = _WORKSPACE.get(key)
    # 3 references to a free buffer: the dict's, ``buf``'s and getrefcount's own argument
    free = buf is not None and sys.getrefcount(buf) == 3
    if free and buf.size >= size:
        _WORKSPACE.move_to_end(key)
        return buf[:size].reshape(shape)
    if size * dtype.itemsize > _WORKSPACE_BYTES // 2 or (buf is not None and not free):
        return xp.empty(shape, dtype=dtype)          # too large to keep, or the kept one is busy
    del buf
    _WORKSPACE.pop(key, None)                        # too small: replaced by a larger one
    new = xp.empty(size, dtype=dtype)
    _WORKSPACE[key] = new
    total = sum(a.nbytes for a in _WORKSPACE.values())
    while total > _WORKSPACE_BYTES and len(_WORKSPACE) > 1:
        total -= _WORKSPACE.popitem(last=False)[1].nbytes
    return new[:size].reshape(shape)


def clear_workspace():
    """Drop every cached scratch buffer (their memory goes back to the allocator)."""
    with _LOCK:
        _WORKSPACE.clear()
