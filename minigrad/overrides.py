"""``torch.overrides``: the ``__torch_function__`` protocol, for functions that ask for it.

A class that defines ``__torch_function__(cls, func, types, args=(), kwargs=None)`` (a
Tensor-like, or a Tensor subclass) can take over a function that guards itself as PyTorch's
extending guide shows::

    def scale(x, factor=2):
        if has_torch_function_unary(x):
            return handle_torch_function(scale, (x,), x, factor=factor)
        return x * factor

``handle_torch_function`` offers the call to each overloading argument's
``__torch_function__``, a subclass before its parents and otherwise in argument order, and
returns the first answer that is not ``NotImplemented`` (a ``TypeError`` when all decline),
as PyTorch does.

minigrad's own functions and Tensor methods take part too (``_torch_function``): a Tensor
subclass keeps its class through every op, and its ``__torch_function__`` sees every call
(``minigrad.add``, ``x.sum``, ``nn.functional.linear``...), as in PyTorch.
``get_overridable_functions()`` names those functions, ``get_ignored_functions()`` the
public ones that do not take part (factories, conversions from other objects, settings).

``TorchFunctionMode`` (``_torch_function_mode``) sees every such call first, plain Tensors'
included, while it is active (``with Mode():``); the ``has_torch_function*`` guards answer
True then, so that functions guarded as above reach the mode too.
"""
from __future__ import annotations

import functools
import inspect
import sys

from . import _torch_function as _tf
from . import _torch_function_mode as _modes
from ._torch_function_mode import (BaseTorchFunctionMode, TorchFunctionMode,
                                   _is_torch_function_mode_enabled, enable_reentrant_dispatch)
from .tensor import Tensor

__all__ = ["has_torch_function", "has_torch_function_unary", "has_torch_function_variadic",
           "handle_torch_function", "is_tensor_like", "wrap_torch_function", "resolve_name",
           "get_ignored_functions", "get_overridable_functions", "TorchFunctionMode",
           "BaseTorchFunctionMode", "enable_reentrant_dispatch"]

# the mode stack's helpers that code written for PyTorch reaches for here (not in __all__)
_get_current_function_mode = _modes._get_current_function_mode
_get_current_function_mode_stack = _modes._get_current_function_mode_stack
_push_mode, _pop_mode = _modes._push_mode, _modes._pop_mode
_pop_mode_temporarily = _modes._pop_mode_temporarily

def _overloads(arg) -> bool:
    return _tf.takes_part(type(arg))


def has_torch_function(relevant_args) -> bool:
    """Does any element of ``relevant_args`` (a sequence) define ``__torch_function__``?
    Exact Tensors and Parameters do not count; anything does while a mode is active. Guards
    a call to ``handle_torch_function``."""
    if _is_torch_function_mode_enabled():
        return True
    if not isinstance(relevant_args, (tuple, list)):
        try:
            relevant_args = tuple(relevant_args)
        except TypeError:
            raise TypeError("expected a sequence") from None
    for arg in relevant_args:
        if _overloads(arg):
            return True
    return False


def has_torch_function_unary(arg) -> bool:
    """``has_torch_function((arg,))``, cheaper."""
    return _overloads(arg) or _is_torch_function_mode_enabled()


def has_torch_function_variadic(*args) -> bool:
    """``has_torch_function(args)``, the arguments given one by one."""
    for arg in args:
        if _overloads(arg):
            return True
    return _is_torch_function_mode_enabled()


def resolve_name(f):
    """``module.name`` of a function, the name errors use (``'mypkg.scale'``)."""
    if isinstance(f, (property, functools.partial)):
        return None
    module, name = getattr(f, "__module__", None), getattr(f, "__name__", None)
    return f"{module}.{name}" if module else name


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call ``public_api(*args, **kwargs)`` through the ``__torch_function__`` of the
    overloading arguments among ``relevant_args`` (after the active mode's): the first
    result that is not ``NotImplemented`` is returned."""
    name = resolve_name(public_api)
    result = _tf.offer_to_mode(public_api, name, args, kwargs, python_level=True)
    if result is not _tf.NOT_OFFERED:
        return result
    return _tf.dispatch(public_api, name,
                        [arg for arg in relevant_args if _overloads(arg)], args, kwargs,
                        python_level=True)


def wrap_torch_function(dispatcher):
    """A decorator: the decorated function first asks ``dispatcher(*args, **kwargs)`` (which
    returns the relevant arguments) whether one overloads it, and if so dispatches."""
    def decorator(func):
        @functools.wraps(func)
        def wrapped(*args, **kwargs):
            relevant = dispatcher(*args, **kwargs)
            if has_torch_function(relevant):
                return handle_torch_function(wrapped, relevant, *args, **kwargs)
            return func(*args, **kwargs)
        return wrapped
    return decorator


def is_tensor_like(inp) -> bool:
    """A Tensor (or subclass), or anything with a ``__torch_function__``."""
    return isinstance(inp, Tensor) or hasattr(inp, "__torch_function__")


def get_overridable_functions():
    """Namespace -> the public functions in it that offer their calls to
    ``__torch_function__`` (``minigrad``, ``nn.functional``, ``linalg``, ``special``, ``fft``:
    the functions as these namespaces hold them now; Tensor: its offered methods)."""
    found = {}
    for module, name, fn in _tf.offered_functions():
        found.setdefault(module, []).append(fn)
    found[Tensor] = [getattr(Tensor, name) for name in _tf.offered_method_names()]
    return found


def _public_functions():
    package = sys.modules[__package__]
    namespaces = (package, package.functional, package.nn.functional, package.linalg,
                  package.fft, package.special, Tensor)
    found = set()
    for space in namespaces:
        for name in dir(space):
            value = getattr(space, name, None)
            if not name.startswith("_") and callable(value) and not inspect.isclass(value):
                found.add(value)
    return found


def get_ignored_functions():
    """The public functions that never offer their calls to ``__torch_function__``: the
    factories, the conversions from other objects, the settings, and the like."""
    offered = {id(fn) for fns in get_overridable_functions().values() for fn in fns}
    return {fn for fn in _public_functions() if id(fn) not in offered}
