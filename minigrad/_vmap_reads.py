"""vmap's refusal of a batched tensor read as Python data, as PyTorch's.

Inside ``torch.vmap`` a tensor that depends on the mapped inputs holds the whole batch, so
``.item()`` (and ``float``, ``int``, ``complex``, a format spec), ``bool`` (a data-dependent
branch), ``.tolist()`` and ``.numpy()`` of one are refused in PyTorch's words. minigrad runs
the function once per example and does not follow which tensors derive from the inputs, so
it tells a batched tensor by what it reads: an example itself, or a read whose value differs
from the first example's at the same place in the function's run (the same read then gave
two values, so it depends on the example). A read of the same value in every example (a
batch of one, equal examples, a branch all examples take) passes where PyTorch refuses.
Reads made by minigrad's own code (printing, an op reading its argument) are not checked.

While a vmap runs, ``_tensor_python.vmap_hook`` is set; other times a read pays one global
look-up.
"""
from __future__ import annotations

import os
import sys
import threading

import numpy as np

from . import _tensor_python, backend
from .autograd._transforms import transforms

__all__ = ["push", "pop", "set_aside", "put_back"]


class _State(threading.local):
    reads = ()          # one ``_Reads`` per running vmap of this thread, innermost last


_state = _State()


def push(level):
    """A vmap starts running its function: its record of reads (``level``: the set of the ids
    of the examples passed now, which the vmap keeps up to date; call ``begin(i)`` at each
    example)."""
    record = _Reads(level)
    _state.reads = _state.reads + (record,)
    _hook_on(True)
    return record


def pop():
    """The innermost running vmap of this thread is done."""
    _state.reads = _state.reads[:-1]
    _hook_on(False)


def set_aside():
    """The innermost running vmap's record taken off while code that runs outside that vmap
    (a custom Function's ``vmap`` rule, which sees whole batches) reads tensors; -> what
    ``put_back`` restores."""
    kept = _state.reads
    _state.reads = kept[:-1]
    return kept


def put_back(kept):
    """Undo ``set_aside``."""
    _state.reads = kept


_ITEM = ("vmap: It looks like you're calling .item() on a Tensor. We don't support vmap over "
         "calling .item() on a Tensor, please try to rewrite what you're doing with other "
         "operations. If error is occurring somewhere inside PyTorch internals, please file a "
         "bug report.")
_BRANCH = ("vmap: It looks like you're attempting to use a Tensor in some data-dependent "
           "control flow. We don't support that yet, please file an issue at "
           "https://github.com/pytorch/pytorch/issues .")
_NO_STORAGE = "Cannot access data pointer of Tensor that doesn't have storage"
# an item or a branch read while grad, jvp, jacrev... runs inside the vmap: one message for both
_EITHER = ("vmap: It looks like you're either (1) calling .item() on a Tensor or (2) attempting "
           "to use a Tensor in some data-dependent control flow or (3) encountering this error "
           "in PyTorch internals. For (1): we don't support vmap over calling .item() on a "
           "Tensor, please try to rewrite what you're doing with other operations. For (2): we "
           "don't support data-dependent control flow in vmap yet, please file an issue at "
           "https://github.com/pytorch/pytorch/issues . For (3): please file an issue.")
_REFUSALS = {"item": _ITEM, "bool": _BRANCH, "data": _NO_STORAGE}


class _Reads:
    """One running vmap's record of its function's reads of tensors as Python data, for
    torch's refusal of a batched tensor read so: ``level`` holds the ids of the examples
    passed now (reading one of them is refused at once); the first example's reads are kept
    in order (kind and value), and a later example's read whose value differs from the
    first's at the same place is refused (the tensor then depends on the example)."""
    __slots__ = ("level", "first", "example", "at", "outside")

    def __init__(self, level):
        self.level, self.first, self.example, self.at = level, [], 0, 0
        self.outside = _differentiating()       # (the transforms the vmap runs inside)

    def begin(self, example):
        self.example, self.at = example, 0

    def refuse(self, kind):
        if kind != "data" and _differentiating() > self.outside:
            raise RuntimeError(_EITHER)
        raise RuntimeError(_REFUSALS[kind])

    def see(self, t, kind, value):
        if id(t) in self.level:
            self.refuse(kind)
        if kind == "data":
            value = backend.as_numpy(t._array).copy()
        if not self.example:
            self.first.append((kind, value))
            return
        at, self.at = self.at, self.at + 1
        if at < len(self.first) and self.first[at][0] == kind and \
                not _same(self.first[at][1], value):
            self.refuse(kind)


def _differentiating():
    """How many of the transforms running now are not vmaps (grad, jvp, jacrev...)."""
    return transforms.functorch - transforms.vmap


def _same(a, b):
    """Whether two values read from tensors are equal (NaN equal to NaN)."""
    if isinstance(a, np.ndarray):
        return a.shape == b.shape and a.dtype == b.dtype and \
            np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    return a == b or (a != a and b != b)


_TENSOR_PYTHON = _tensor_python.TensorPython.item.__code__.co_filename
_PACKAGE = os.path.dirname(_TENSOR_PYTHON) + os.sep
# minigrad's files whose frames only pass a user's read on (the read is the caller's)
_PASSING_THROUGH = frozenset(_PACKAGE + name for name in (
    "_tensor_python.py", "_torch_function.py", "_torch_function_dispatch.py"))
_running = [0]          # the vmaps running now, in all threads
_running_lock = threading.Lock()


def _hook_on(on):
    """Count a vmap starting (``on``) or ending; the tensors' read hook is set while any
    runs."""
    with _running_lock:
        _running[0] += 1 if on else -1
        _tensor_python.vmap_hook = _read_hook if _running[0] else None


def _read_hook(t, kind, value):
    """A tensor read as Python data (``kind``: 'item', 'bool' or 'data') while a vmap may
    run: each running vmap of this thread checks it, when the function's own code reads it
    (minigrad's code reading a tensor inside an op is not the function's doing)."""
    reads = _state.reads
    if not reads:
        return
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename in _PASSING_THROUGH:
        frame = frame.f_back            # (float(t), format: item() called by them; a method's
        # ``__torch_function__`` twin, which Tensor holds once a subclass or mode took part)
    if frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        return
    for record in reads:
        record.see(t, kind, value)
