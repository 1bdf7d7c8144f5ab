"""Scratch buffers that a kernel needs during a call and drops again, reused across calls.

A training loop makes the same temporaries every step (shifted planes and accumulators in
the convolutions, masks in the pools). A fresh large allocation is page-faulted in every
time (glibc hands big blocks back to the system on free); a cached one is not. The cache
is small, bounded, and never hands out a buffer that anything else still holds, so it has
no effect outside these kernels (``import minigrad`` changes no allocator setting).
"""
from __future__ import annotations

import sys
from collections import OrderedDict

__all__ = ["workspace", "clear_workspace"]

_WORKSPACE = OrderedDict()        # key -> array, most recently used last
# At most this much is kept between calls: the working set of one large convolution's forward
# and backward (two shifted blocks of up to 16 MB, their products and accumulators, the
# spread gradient), so that a layer's buffers survive from one step to the next
_WORKSPACE_BYTES = 64 << 20


def workspace(key, shape, dtype, xp):
    """A zero-initialised scratch array for ``key`` (which must fix what is ever written in it:
    a buffer is handed out again with the zeros it was made with wherever nobody writes).

    The cached array is reused only when no one else holds a reference to it (no view, no
    saved tensor); otherwise a new one is made. That saves the page faults of a fresh
    allocation every step, without changing process-wide allocator settings.
    """
    key = (key, tuple(shape), xp.dtype(dtype).str, xp.__name__)
    buf = _WORKSPACE.get(key)
    # 3 references: the dict's, ``buf``'s and getrefcount's own argument
    if buf is not None and sys.getrefcount(buf) == 3:
        _WORKSPACE.move_to_end(key)
        return buf
    buf = xp.zeros(shape, dtype=dtype)
    if buf.nbytes <= _WORKSPACE_BYTES // 2:
        _WORKSPACE[key] = buf
        total = sum(a.nbytes for a in _WORKSPACE.values())
        while total > _WORKSPACE_BYTES and len(_WORKSPACE) > 1:
            total -= _WORKSPACE.popitem(last=False)[1].nbytes
    return buf


def clear_workspace():
    """Drop every cached scratch buffer (their memory goes back to the allocator)."""
    _WORKSPACE.clear()
