"""Memory overlap between a written array and what the write reads, as PyTorch checks it:
``memory_overlap`` (none, partial or full, for dense arrays), ``check_partial_overlap`` (its
RuntimeError for a write that reads a partly overlapping operand, ``x[1:] = x[:-1]``) and
``overlaps_itself`` (may two elements of one array share memory).  Used by the in-place
writes of ``writes.py`` and the ops with an ``out=``.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor


# how the memory of a written tensor meets an operand's (PyTorch's memory-overlap status)
NO_OVERLAP, PARTIAL_OVERLAP, FULL_OVERLAP = 0, 1, 2


INPUT_OVERLAP = ("unsupported operation: some elements of the input tensor and the written-to "
                 "tensor refer to a single memory location. Please clone() the tensor before "
                 "performing the operation.")


def _dense(array):
    """Its elements fill one block of memory, each once (PyTorch's non-overlapping and
    dense), with no step backwards."""
    if array.flags.c_contiguous or array.flags.f_contiguous:
        return True
    need = array.itemsize
    for step, size in sorted((s, n) for s, n in zip(array.strides, array.shape) if n != 1):
        if step != need:
            return False
        need *= size
    return True


def _same_layout(a, b):
    """Equal strides, where a size-1 dim's step (which never moves) does not count: numpy
    gives x[None] the step 0 where PyTorch's view of the same elements has another."""
    return a.shape == b.shape and all(
        sa == sb for sa, sb, n in zip(a.strides, b.strides, a.shape) if n != 1)


def memory_overlap(a, b):
    """How array ``a``'s memory meets ``b``'s, as PyTorch's test finds it: not at all, in part,
    or fully (the same elements laid out alike).  Only dense arrays are compared; for others
    PyTorch cannot tell either, and lets the operation run."""
    if a.size == 0 or b.size == 0 or not backend.xp_of(a).may_share_memory(a, b):
        return NO_OVERLAP
    if not (_dense(a) and _dense(b)):
        return NO_OVERLAP
    a0, b0 = backend.data_address(a), backend.data_address(b)
    a1, b1 = a0 + a.nbytes, b0 + b.nbytes
    if a0 == b0 and a1 == b1:
        return FULL_OVERLAP if _same_layout(a, b) else PARTIAL_OVERLAP
    return PARTIAL_OVERLAP if a0 < b1 and b0 < a1 else NO_OVERLAP


def check_partial_overlap(written, operands):
    """Refuse a write into array ``written`` that reads an operand (a Tensor among
    ``operands``) lying partly in the same memory: PyTorch's RuntimeError (``x[1:] =
    x[:-1]``, ``x[1:].add_(x[:-1])``; the same elements alike, ``x.mul_(x)``, are fine)."""
    for t in operands:
        if isinstance(t, Tensor) and memory_overlap(written, t._array) == PARTIAL_OVERLAP:
            raise RuntimeError(INPUT_OVERLAP)


def overlaps_itself(array):
    """May two elements of ``array`` share memory? (False for sure only when, taking dims by
    increasing step, each step clears the span of the dims before it.)  An empty array has
    no elements to share (numpy gives its dims the step 0)."""
    if array.size == 0:
        return False
    span = 0
    for step, size in sorted((abs(st), n) for st, n in zip(array.strides, array.shape) if n > 1):
        if step < span or step == 0:
            return True
        span = step * (size - 1) + max(span, array.itemsize)
    return False
