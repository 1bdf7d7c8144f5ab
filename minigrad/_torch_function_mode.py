"""``torch.overrides.TorchFunctionMode``: a context manager that sees every call first.

While ``with Mode():`` is active in a thread, each public function and Tensor method that
takes part in ``__torch_function__`` (the dispatching twins of ``_torch_function``, and the
factories, which PyTorch offers to modes though they take no tensor) is handed to the
innermost mode's ``__torch_function__(func, types, args, kwargs)`` before anything else.
The mode is off the stack while its handler runs, so that ``func(*args, **kwargs)`` there
reaches the next mode, then the arguments' own handlers, then the op. A mode's
``NotImplemented`` passes the call on to the arguments' handlers (the mode back on the
stack), and PyTorch's "Multiple dispatch failed" ``TypeError`` names the mode when all
decline. ``types`` holds the classes of the arguments that take part (Tensor subclasses,
Tensor-likes): ``()`` for plain Tensors. ``DisableTorchFunction`` switches modes off;
``DisableTorchFunctionSubclass`` does not.

The cost is paid only while a mode is active. Entering the first mode (of any thread) puts
every twin in place, Tensor's operators and properties included, so that ``x + 1`` on plain
Tensors reaches the mode as ``Tensor.add``; leaving the last one takes out again what no
Tensor subclass needs, and plain programs run as fast as before (the two swaps cost a few
hundred microseconds each, once per outermost ``with``).
"""
from __future__ import annotations

import contextlib
import threading

from ._warn_once import warn_user
from . import _torch_function as _tf
from ._torch_function_dispatch import _state

__all__ = ["TorchFunctionMode", "BaseTorchFunctionMode", "_get_current_function_mode",
           "_get_current_function_mode_stack", "_push_mode", "_pop_mode",
           "_pop_mode_temporarily", "_len_torch_function_stack", "_get_function_stack_at",
           "_is_torch_function_mode_enabled", "enable_reentrant_dispatch"]

_lock = threading.Lock()


class TorchFunctionMode:
    """Subclass it and define ``__torch_function__(self, func, types, args=(),
    kwargs=None)``; ``with MyMode():`` then hands it every overridable call in the block.
    Inside the handler, calls go on to the next mode (``func(*args, **kwargs)``)."""

    inner: "TorchFunctionMode"
    __module__ = "minigrad.overrides"       # (where it is found, as torch.overrides holds it)

    def __init__(self):
        pass

    def __torch_function__(self, func, types, args=(), kwargs=None):
        raise NotImplementedError

    def __enter__(self):
        _push_mode(self)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _pop_mode()

    @classmethod
    def push(cls, *args, **kwargs):
        warn_user("`Mode.push()` is no longer necessary and can be replaced with just "
                  "`with Mode()`")
        return cls(*args, **kwargs)


class BaseTorchFunctionMode(TorchFunctionMode):
    """A mode that runs every call as it is (a base for modes that change a few)."""
    __module__ = "minigrad.overrides"

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def _push_mode(mode):
    """Put ``mode`` on this thread's stack (the first mode of the process sets the twins)."""
    with _lock:
        if _tf.live_modes == 0:
            _tf.set_mode_twins(True)
        _tf.live_modes += 1
    _state.modes.append(mode)


def _pop_mode():
    """Take this thread's innermost mode off its stack and return it."""
    if not _state.modes:
        raise RuntimeError("trying to pop from empty mode stack")
    mode = _state.modes.pop()
    with _lock:
        _tf.live_modes -= 1
        if _tf.live_modes == 0:
            _tf.set_mode_twins(False)
    return mode


@contextlib.contextmanager
def _pop_mode_temporarily():
    """The innermost mode off the stack for the block (``as``: the mode)."""
    if not _state.modes:
        raise RuntimeError("trying to pop from empty mode stack")
    mode = _state.modes.pop()
    try:
        yield mode
    finally:
        _state.modes.append(mode)


def _len_torch_function_stack():
    """``torch._C._len_torch_function_stack()``: how many modes this thread has active."""
    return len(_state.modes)


def _get_function_stack_at(index):
    """``torch._C._get_function_stack_at(i)``: the mode at ``index``, 0 being the outermost."""
    if not 0 <= index < len(_state.modes):
        raise RuntimeError("Tried to get stack at idx that's too big")
    return _state.modes[index]


def _get_current_function_mode():
    """The innermost active mode of this thread, or None."""
    return _state.modes[-1] if _state.modes else None


def _get_current_function_mode_stack():
    """This thread's active modes, the outermost first."""
    return list(_state.modes)


def _is_torch_function_mode_enabled():
    """``torch._C._is_torch_function_mode_enabled()``: a mode is active and
    ``DisableTorchFunction`` is not."""
    return bool(_state.modes) and not _state.all_off


@contextlib.contextmanager
def enable_reentrant_dispatch():
    """PyTorch's: lets a dispatcher-level handler call back into the dispatcher. minigrad has
    no dispatcher under its Python functions, so the block runs as it is."""
    yield
