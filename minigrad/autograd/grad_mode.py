"""Grad modes: whether ops record a graph (``no_grad``, ``enable_grad``, ``set_grad_enabled``,
``inference_mode``) and anomaly detection (``detect_anomaly``).

Every switch is per thread, so one thread's ``no_grad()`` does not disturb another's.
"""
from __future__ import annotations

import functools
import inspect

from .._warn_once import warn_user
from .. import _grad_state

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly",
           "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "enforce_grad_layout_policy"]


# ----------------------------------------------------------------------------------------------
# Grad mode: a per-thread switch, so one thread's no_grad() does not disturb another's.
# ----------------------------------------------------------------------------------------------
# the switches themselves live in _grad_state, which tensor.py reads too
_state = _grad_state.state


def is_grad_enabled() -> bool:
    return _state.mode


def _set_mode(mode):
    """Set the grad mode; recording follows it except inside inference_mode, where nothing
    records even when the mode is on (PyTorch reports the mode it was set to all the same)."""
    _state.mode = mode
    _state.enabled = mode and not _state.inference


def _run_in(make_context, func):
    """``func`` wrapped so that it runs inside a fresh ``make_context()``; a generator
    function has every resumption of its body run inside one (a decorated generator that
    yields tokens stays in the mode between yields, as in PyTorch)."""
    if inspect.isgeneratorfunction(func):
        @functools.wraps(func)
        def generator_wrapper(*args, **kwargs):
            gen = func(*args, **kwargs)
            try:
                with make_context():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with make_context():
                            gen.close()
                        raise
                    except BaseException as exc:
                        with make_context():
                            response = gen.throw(exc)
                    else:
                        with make_context():
                            response = gen.send(request)
            except StopIteration as stop:
                return stop.value
        return generator_wrapper

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with make_context():
            return func(*args, **kwargs)
    return wrapper


def _with_grad_mode(mode, func):
    """``func`` wrapped so that it always runs with gradient recording set to ``mode``."""
    return _run_in(lambda: set_grad_enabled(mode), func)


class set_grad_enabled:
    """Turn gradient recording on or off: a function call, a context manager or a decorator."""

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            kind = type(mode)
            name = kind.__name__ if kind.__module__ == "builtins" else \
                f"{kind.__module__}.{kind.__name__}"
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                            f"not {name}")
        self.prev = _state.mode
        self.mode = mode
        _set_mode(mode)

    def __enter__(self):
        return None      # `with ... as x` binds None, as in PyTorch

    def __exit__(self, *exc):
        _set_mode(self.prev)
        return False

    def __call__(self, func):
        _set_mode(self.prev)   # used as a decorator: do not change the mode now
        return _with_grad_mode(self.mode, func)

    def clone(self):
        """A new context of the same mode (made as the constructor makes it: applied now)."""
        return self.__class__(self.mode)

    def __repr__(self):
        # what a REPL echoes after ``torch.set_grad_enabled(False)``, as PyTorch writes it
        return f"{type(self).__module__}.{type(self).__qualname__}(mode={self.mode})"


class enforce_grad_layout_policy:
    """Whether accumulated gradients must follow the gradient layout contract (a parameter's
    strides, or row-major): a function call, a context manager or a decorator, per thread.
    With ``False`` a leaf's first gradient keeps the strides it came with, as PyTorch's
    (``_grad_sums._laid_out_like``)."""

    def __init__(self, enable: bool = True):
        self.prev = getattr(_state, "grad_layout", True)
        self.mode = enable
        _state.grad_layout = enable

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        _state.grad_layout = self.prev
        return False

    def __call__(self, func):
        _state.grad_layout = self.prev      # used as a decorator: do not switch now
        mode = self.mode
        return _run_in(lambda: enforce_grad_layout_policy(mode), func)

    def clone(self):
        return self.__class__(self.mode)


class _GradModeContext:
    mode = True

    def __new__(cls, *args, **kwargs):
        # ``@no_grad`` without parentheses decorates the function directly, as in PyTorch.
        self = super().__new__(cls)
        if len(args) == 1 and not kwargs and callable(args[0]):
            self.__init__()
            return self(args[0])
        return self

    def __enter__(self):
        self.prev = _state.mode
        _set_mode(self.mode)
        return None

    def __exit__(self, *exc):
        _set_mode(self.prev)
        return False

    def __call__(self, func):
        return _with_grad_mode(self.mode, func)

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Context manager / decorator: ops inside record no graph (for evaluation, weight updates)."""
    mode = False


class enable_grad(_GradModeContext):
    """Context manager / decorator: record the graph again inside a ``no_grad`` block."""
    mode = True


class inference_mode(_GradModeContext):
    """``inference_mode(mode=True)``: nothing records a graph inside it, not even under a
    nested ``enable_grad()``, and the tensors made inside it are *inference tensors*
    (``is_inference()``): they keep no version counter, so outside the block they may not be
    written in place, saved for a backward, or set to require grad (PyTorch's refusals).
    ``inference_mode(False)`` leaves inference mode and turns recording on, as PyTorch's,
    until the block ends."""

    def __init__(self, mode: bool = True):
        self.enabled = bool(mode)

    def __enter__(self):
        self.prev = (_state.mode, _state.enabled, _state.inference)
        if self.enabled:
            _state.inference += 1
            _set_mode(False)
        else:
            _state.inference = 0
            _set_mode(True)
        return None

    def __exit__(self, *exc):
        _state.mode, _state.enabled, _state.inference = self.prev
        return False

    def __call__(self, func):
        enabled = self.enabled
        return _run_in(lambda: inference_mode(enabled), func)

    def clone(self):
        return self.__class__(self.enabled)


def is_inference_mode_enabled() -> bool:
    return bool(_state.inference)


# ----------------------------------------------------------------------------------------------
# Anomaly detection: name the op whose backward produced a NaN.
# ----------------------------------------------------------------------------------------------
def is_anomaly_enabled() -> bool:
    return _state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return _state.anomaly and _state.anomaly_check_nan


class detect_anomaly:
    """Context manager (not a decorator, as in PyTorch): inside it, each op remembers where it
    was called in forward, and a backward that produces a NaN raises an error naming the op,
    the line of user code that called it in forward and the shapes involved (as
    ``torch.autograd.detect_anomaly``; an infinite gradient passes); a backward that fails
    otherwise warns where its op was called::

        with minigrad.autograd.detect_anomaly():
            y = x.sqrt()            # x contains a negative number
            y.sum().backward()      # RuntimeError: Function 'SqrtBackward0' returned nan ...
                                    # ... called in forward at test.py:2 ...

    The graph must be built inside the context (that is when call sites are recorded); the
    check runs for every backward started inside it. ``check_nan=False`` records call sites
    without checking the gradients. It costs a stack walk per op: for debugging only.
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)
        warn_user("Anomaly Detection has been enabled. This mode will increase the "
                  "runtime and should only be enabled for debugging.")

    def __enter__(self):
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = True, self.check_nan
        return None

    def __exit__(self, *exc):
        _state.anomaly, _state.anomaly_check_nan = self.prev
        return False


class set_detect_anomaly:
    """``set_detect_anomaly(True)`` turns anomaly mode on (and ``False`` off) from now on, or,
    used as a context manager, for the block only (as PyTorch's)."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return None      # `with ... as x` binds None, as in PyTorch

    def __exit__(self, *exc):
        _state.anomaly, _state.anomaly_check_nan = self.prev
        return False
