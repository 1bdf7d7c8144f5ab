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

What differs from PyTorch: minigrad's own functions and Tensor methods do not dispatch (they
run on minigrad Tensors only), so ``minigrad.add(obj, 1)`` with a Tensor-like ``obj`` is not
routed to ``obj.__torch_function__``. Accordingly ``has_torch_function`` is True only for
arguments whose class defines ``__torch_function__`` (a Tensor subclass that defines none
has nothing to dispatch to, where PyTorch's inherited handler would re-wrap results),
``get_overridable_functions()`` is empty and ``get_ignored_functions()`` holds every public
function. ``TorchFunctionMode`` is left out: with no function calling into it, a mode would
silently see nothing.
"""
from __future__ import annotations

import functools
import inspect
import sys

from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["has_torch_function", "has_torch_function_unary", "has_torch_function_variadic",
           "handle_torch_function", "is_tensor_like", "wrap_torch_function", "resolve_name",
           "get_ignored_functions", "get_overridable_functions"]

_PLAIN = (Tensor, Parameter)


def _overloads(arg) -> bool:
    kind = type(arg)
    return kind not in _PLAIN and hasattr(kind, "__torch_function__")


def has_torch_function(relevant_args) -> bool:
    """Does any element of ``relevant_args`` (a sequence) define ``__torch_function__``?
    Exact Tensors and Parameters do not count. Guards a call to ``handle_torch_function``."""
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
    return _overloads(arg)


def has_torch_function_variadic(*args) -> bool:
    """``has_torch_function(args)``, the arguments given one by one."""
    for arg in args:
        if _overloads(arg):
            return True
    return False


def _overloaded_args(relevant_args):
    """The arguments whose ``__torch_function__`` to try, one per class, in order: the
    argument order, except that an instance of a subclass goes before its parent classes."""
    found, kinds = [], []
    for arg in relevant_args:
        kind = type(arg)
        if kind in kinds or not _overloads(arg):
            continue
        position = len(found)
        for k, earlier in enumerate(kinds):
            if issubclass(kind, earlier):
                position = k
                break
        found.insert(position, arg)
        kinds.insert(position, kind)
    return found


def resolve_name(f):
    """``module.name`` of a function, the name errors use (``'mypkg.scale'``)."""
    if isinstance(f, (property, functools.partial)):
        return None
    module, name = getattr(f, "__module__", None), getattr(f, "__name__", None)
    return f"{module}.{name}" if module else name


def handle_torch_function(public_api, relevant_args, *args, **kwargs):
    """Call ``public_api(*args, **kwargs)`` through the ``__torch_function__`` of the
    overloading arguments among ``relevant_args``: the first result that is not
    ``NotImplemented`` is returned."""
    overloaded = _overloaded_args(relevant_args)
    types = tuple(type(arg) for arg in overloaded)
    for arg in overloaded:
        result = arg.__torch_function__(public_api, types, args, kwargs)
        if result is not NotImplemented:
            return result
    raise TypeError(f"no implementation found for '{resolve_name(public_api)}' on types that "
                    f"implement __torch_function__: {list(types)}")


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
    """Namespace -> the functions in it that dispatch to ``__torch_function__``: minigrad's
    functions do not, so the answer is empty."""
    return {}


@functools.lru_cache(maxsize=1)
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
    return frozenset(found)


def get_ignored_functions():
    """The public functions that never dispatch to ``__torch_function__``: in minigrad, all
    of them (``minigrad.*``, ``nn.functional``, ``linalg``, ``fft``, ``special``, Tensor's
    methods)."""
    return set(_public_functions())


def __getattr__(name):
    if name in ("TorchFunctionMode", "BaseTorchFunctionMode"):
        raise AttributeError(f"module '{__name__}' has no attribute '{name}': minigrad's "
                             "functions do not dispatch to __torch_function__, so a mode "
                             "would see none of them")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
