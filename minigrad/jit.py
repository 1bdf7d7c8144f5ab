"""``minigrad.jit``: TorchScript's names, so model code that carries them runs eagerly.

minigrad has no compiler. ``script`` and ``trace`` therefore hand back the function or module
they are given, unchanged (``trace`` first runs it once on the example inputs, so a wrong
input surfaces at the same line as with PyTorch); the decorators (``ignore``, ``unused``,
``export``, ``interface``, ``script_method``, ``script_if_tracing``) return what they decorate;
``is_scripting()`` and ``is_tracing()`` are always False, so code guarded by them takes its
eager branch, as it does in PyTorch outside a compiled function.

``ScriptModule`` is a subclass of ``nn.Module`` (old-style ``class M(jit.ScriptModule)`` code
works), but ``script(module)`` does not turn a module into one: ``isinstance(script(m),
jit.ScriptModule)`` is False here, and True in PyTorch. That is the honest answer (nothing was
compiled), and it keeps code that branches on it (to call ``.save`` or ``.graph``, which
minigrad does not have) on its eager path. ``save``/``load`` are left out for the same reason.

``fork(fn, *args)`` runs ``fn`` at once and returns a finished ``Future``; ``wait(future)``
returns its value (PyTorch's eager fork also runs the call before returning).
"""
from __future__ import annotations

import sys
import warnings
from typing import Final  # noqa: F401  (torch.jit.Final is typing.Final)

from .nn.modules.module import Module

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "interface",
           "script_method", "script_if_tracing", "is_scripting", "is_tracing", "annotate",
           "Final", "Attribute", "ScriptModule", "Error", "Future", "fork", "wait"]


def _deprecated(name):
    """PyTorch 2.13's DeprecationWarning of ``torch.jit.<name>`` (worded for the Python
    version, as there), given at each call."""
    if sys.version_info >= (3, 14):
        warnings.warn(f"`torch.jit.{name}` is not supported in Python 3.14+ and may break. "
                      f"Please switch to `torch.compile` or `torch.export`.", DeprecationWarning)
    else:
        warnings.warn(f"`torch.jit.{name}` is deprecated. Please switch to `torch.compile` or "
                      f"`torch.export`.", DeprecationWarning)


class Error(Exception):
    """The error TorchScript raises from a compiled function (never raised by minigrad itself;
    present so that ``except torch.jit.Error`` clauses compile and mean the same)."""


class ScriptModule(Module):
    """A plain ``nn.Module``: base class for old-style TorchScript modules."""


def script(obj, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Returns ``obj`` (a function, a module or a class) unchanged: nothing is compiled."""
    _deprecated("script")
    return obj


def _as_args(example_inputs):
    """PyTorch's reading of example inputs: a single tensor is one argument, a tuple is the
    argument list, anything else must be iterable."""
    if hasattr(example_inputs, "_array"):
        return (example_inputs,)
    return tuple(example_inputs)


def trace(func, example_inputs=None, optimize=None, check_trace=True, check_inputs=None,
          check_tolerance=1e-05, strict=True, _force_outplace=False, _module_class=None,
          _compilation_unit=None, example_kwarg_inputs=None, _store_inputs=True):
    """Runs ``func(*example_inputs)`` (or ``func(**example_kwarg_inputs)``) once, to raise
    what PyTorch's tracer would raise, and returns ``func`` itself."""
    _deprecated("trace")
    if isinstance(func, Module):    # PyTorch traces a module's forward by trace_module
        _deprecated("trace_method")
    if example_kwarg_inputs is not None:
        if not isinstance(example_kwarg_inputs, dict):
            raise RuntimeError("example_kwarg_inputs should be a dict")
        func(**example_kwarg_inputs)
    elif example_inputs is not None:
        func(*_as_args(example_inputs))
    return func


def trace_module(mod, inputs, optimize=None, check_trace=True, check_inputs=None,
                 check_tolerance=1e-05, strict=True, _force_outplace=False, _module_class=None,
                 _compilation_unit=None, example_inputs_is_kwarg=False, _store_inputs=True):
    """``inputs`` maps method names to their example inputs; runs each once, returns ``mod``."""
    _deprecated("trace_method")
    if not isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    for name, args in inputs.items():
        method = getattr(mod, name)
        if example_inputs_is_kwarg:
            method(**args)
        else:
            method(*_as_args(args))
    return mod


def ignore(drop=False, **kwargs):
    """``@ignore`` or ``@ignore(drop=True)``: leave a function to Python (it always is)."""
    if callable(drop):              # used bare: @jit.ignore
        return drop
    return _identity


def _identity(fn):
    return fn


def unused(fn):
    """Marks ``fn`` as skipped by the compiler; returns it."""
    return fn


def export(fn):
    """Marks a method as a compilation entry point; returns it."""
    return fn


def interface(obj):
    """Declares a TorchScript interface type; returns the class."""
    return obj


def script_method(fn):
    """The method decorator of old-style ScriptModules; returns ``fn``."""
    _deprecated("script_method")
    return fn


def script_if_tracing(fn):
    """Compile ``fn`` only when called during tracing; never compiled here, returns ``fn``."""
    return fn


def _overload(func):
    """Declares one typed signature of a function for the compiler (torchvision's model files
    use it); the plain ``def`` that follows is what runs, so this returns ``func``."""
    return func


def _overload_method(func):
    """``_overload`` for a method (DenseNet's ``forward`` over a tensor or a list of them)."""
    return func


def is_scripting() -> bool:
    """False: minigrad code always runs eagerly."""
    return False


def is_tracing() -> bool:
    """False: minigrad never traces."""
    return False


def annotate(the_type, the_value):
    """A type hint for the compiler; returns ``the_value``."""
    return the_value


def Attribute(value, type):  # noqa: N802,A002  (PyTorch's spelling)
    """A typed module attribute for the compiler; eagerly, just ``value``."""
    return value


class Future:
    """The already-finished result of ``fork``: ``wait()`` and ``value()`` return it."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        return self._value

    def value(self):
        return self._value

    def done(self) -> bool:
        return True

    def then(self, callback):
        """A Future holding ``callback(self)``."""
        return Future(callback(self))


def fork(func, *args, **kwargs):
    """Runs ``func(*args, **kwargs)`` now and returns a finished Future holding the result."""
    warnings.warn("`torch.jit.fork` is deprecated. Please use `torch.compile` instead.",
                  DeprecationWarning)
    return Future(func(*args, **kwargs))


def wait(future):
    """The value of a Future made by ``fork``."""
    warnings.warn("`torch.jit.wait` is deprecated. Please use `torch.compile` instead.",
                  DeprecationWarning)
    return future.wait()
