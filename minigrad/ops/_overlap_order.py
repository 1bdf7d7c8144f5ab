"""Writes into a tensor whose elements share memory with no zero stride among them
(``a.as_strided((3, 3), (1, 1))``), in PyTorch's order.

PyTorch refuses a write into an expanded tensor (a zero stride), but cannot tell cheaply
whether other layouts repeat an address, and runs its kernel: the elements are visited one
after another, each reading memory as the earlier visits left it.  An address met ``k``
times is updated ``k`` times (``add_(1)`` adds ``k``, ``mul_(2)`` multiplies by ``2**k``),
and the last visit's value stays (``copy_``).  The visits follow PyTorch's TensorIterator:
dims ordered by increasing stride of the written tensor, ties broken by size (the shorter
dim inner) and then by the operands' strides, in C order of the loop nest so made.

``write_in_turns`` reproduces that without a loop over elements: the visits are grouped by
rank (the ``k``-th visit of its address); within one rank no two visits share an address,
so each rank is one vectorised computation and one scatter, the ranks taken in turn.
"""
from __future__ import annotations

import numpy as np

from .._memory_format import iteration_order

__all__ = ["copy_order", "shares_within", "write_in_turns"]


def shares_within(a):
    """May two elements of the numpy array ``a`` lie at one address?  (No for sure when,
    dims taken by increasing step, each step clears the span of the dims before it.)  Cheap
    for the usual layouts: a contiguous array answers by its flags.  A zero step is refused
    before, by the writes; a negative one (no PyTorch tensor has it) answers no."""
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return False
    if a.ndim == 2:                 # (the common view: a slice, a transpose; said at once)
        (outer, inner), (n_outer, n_inner) = a.strides, a.shape
        if outer < inner:
            outer, inner, n_outer, n_inner = inner, outer, n_inner, n_outer
        return n_outer > 1 and n_inner > 1 and inner > 0 and \
            outer < inner * (n_inner - 1) + a.itemsize
    span = 0
    for step, n in sorted(zip(a.strides, a.shape)):
        if n > 1:
            if step <= 0:
                return False
            if step < span:
                return True
            span = step * (n - 1) + (span or a.itemsize)
    return False


def copy_order(a):
    """For a view ``a`` whose elements share memory: the order (outermost dim first) in which
    PyTorch's CopySlices copies a gradient back into it (a copy from a contiguous tensor,
    the last visit of an address staying); None for any other view."""
    if not shares_within(a):
        return None
    dense, step = [], a.itemsize
    for n in reversed(a.shape):
        dense.append(step)
        step *= n
    return tuple(iteration_order(a.shape, [a.strides, dense[::-1]])[::-1])


def _element_offsets(a):
    """Each element's offset from the first, in elements (an int64 array shaped as ``a``)."""
    item = a.itemsize
    pos = np.zeros((), dtype=np.int64)
    for axis, (n, stride) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[axis] = n
        pos = pos + (np.arange(n, dtype=np.int64) * (stride // item)).reshape(shape)
    return np.broadcast_to(pos, a.shape)


def write_in_turns(dst, first, recompute, operands=()):
    """Write into the numpy array ``dst`` (elements sharing memory, see ``shares_within``)
    as PyTorch's kernel does, visit by visit.  ``first``: the new values computed from
    memory as it is now (``dst``'s shape); ``recompute()``: the same computed again from
    memory as it is then; ``operands``: the arrays the values are read from, which take
    part in the order of visits (those of the shape of ``dst`` or broadcast to it)."""
    strides = [dst.strides]
    for op in operands:
        if op is not None and op.ndim:
            try:
                strides.append(np.broadcast_to(op, dst.shape).strides)
            except ValueError:      # (an op that is not pointwise: an index, a source)
                continue
    perm = iteration_order(dst.shape, strides)
    outer_first = perm[::-1]
    offsets = np.ascontiguousarray(_element_offsets(dst).transpose(outer_first)).reshape(-1)
    # rank of each visit: how many visits before it went to its address
    order = np.argsort(offsets, kind="stable")
    ordered = offsets[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    lengths = np.diff(np.r_[starts, ordered.size])
    rank = np.empty(offsets.size, dtype=np.int64)
    rank[order] = np.arange(ordered.size) - np.repeat(starts, lengths)
    flat = np.lib.stride_tricks.as_strided(dst, (int(offsets.max()) + 1,), (dst.itemsize,))
    values = first
    for turn in range(int(lengths.max())):
        if turn:
            values = recompute()
        values = np.broadcast_to(np.asarray(values), dst.shape).transpose(outer_first)
        pick = rank == turn
        flat[offsets[pick]] = np.ascontiguousarray(values).reshape(-1)[pick]
