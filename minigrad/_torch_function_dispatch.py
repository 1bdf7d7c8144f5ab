"""The ``__torch_function__`` protocol's switches and its order of asking, shared by the
dispatching twins (``_torch_function``) and ``TorchFunctionMode`` (``_torch_function_mode``):
which arguments take part, the per-thread switches (``DisableTorchFunction*``) and mode
stack, and the offering of one call to a mode and to the arguments' handlers.
"""
from __future__ import annotations

import functools
import threading

from .tensor import Tensor

__all__ = ["DisableTorchFunctionSubclass", "DisableTorchFunction",
           "_disabled_torch_function_impl", "is_torch_function_enabled", "takes_part",
           "relevant_args", "overloaded_args", "dispatch", "offer_to_mode", "NOT_OFFERED"]


class _State(threading.local):
    subclasses_off = 0      # depth of DisableTorchFunctionSubclass (and DisableTorchFunction)
    all_off = 0             # depth of DisableTorchFunction

    def __init__(self):
        self.modes = []     # this thread's TorchFunctionMode stack, innermost last


_state = _State()
NOT_OFFERED = object()


class DisableTorchFunctionSubclass:
    """``with DisableTorchFunctionSubclass():`` Tensor subclasses' ``__torch_function__`` is
    not consulted in the block (Tensor-likes that are not Tensors still are)."""

    def __enter__(self):
        _state.subclasses_off += 1
        return self

    def __exit__(self, *exc):
        _state.subclasses_off -= 1
        return False


class DisableTorchFunction:
    """``with DisableTorchFunction():`` no ``__torch_function__`` is consulted in the block."""

    def __enter__(self):
        _state.subclasses_off += 1
        _state.all_off += 1
        return self

    def __exit__(self, *exc):
        _state.subclasses_off -= 1
        _state.all_off -= 1
        return False


def is_torch_function_enabled():
    """``torch._C._is_torch_function_enabled()``: False inside ``DisableTorchFunction``."""
    return _state.all_off == 0


def _disabled_torch_function_impl(func, types, args=(), kwargs=None):
    """The ``__torch_function__`` of a class that does not take part (``Parameter``): as a
    marker it is never consulted; called, it runs ``func`` with subclasses switched off."""
    with DisableTorchFunctionSubclass():
        return func(*args, **(kwargs or {}))


# ----------------------------------------------------------------------------------------------
# Who takes part, and in which order
# ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _class_takes_part(kind):
    """Whether instances of ``kind`` are offered calls: its class defines a handler that is
    not the disabled one. minigrad's own subclasses (sparse tensors, checked views) take no
    part unless they define a handler of their own."""
    if kind is Tensor:
        return False
    handler = getattr(kind, "__torch_function__", None)
    if handler is None or getattr(handler, "__func__", handler) is _disabled_torch_function_impl:
        return False
    if any(k.__name__ == "Tensor" and k.__module__ == "torch" for k in kind.__mro__):
        return False        # PyTorch's own tensors (their handler would call back into ours)
    home = getattr(kind, "__module__", None) or ""
    return not (home.startswith("minigrad.") and "__torch_function__" not in vars(kind))


def takes_part(kind):
    """Whether an argument of class ``kind`` is offered the call now."""
    if not _class_takes_part(kind):
        return False
    if issubclass(kind, Tensor):
        return _state.subclasses_off == 0
    return _state.all_off == 0


_PLAIN_TYPES = frozenset((Tensor, int, float, bool, complex, str, type(None), slice,
                          type(Ellipsis)))


def relevant_args(args, kwargs=None):
    """The arguments (and the items of list and tuple arguments, one level down) whose
    class takes part: [] for plain calls, which is what callers check first."""
    found = []
    for arg in args:
        kind = type(arg)
        if kind in _PLAIN_TYPES:
            continue
        if kind is list or kind is tuple:
            found.extend(item for item in arg if type(item) not in _PLAIN_TYPES and
                         takes_part(type(item)))
        elif takes_part(kind):
            found.append(arg)
    if kwargs:
        found.extend(relevant_args(tuple(kwargs.values())))
    return found


def _tensor_args(args, kwargs):
    """The arguments (and the items of list and tuple arguments) that are Tensors, plain ones
    too, or take part."""
    found = []
    for arg in (*args, *(kwargs or {}).values()):
        for item in (arg if type(arg) is list or type(arg) is tuple else (arg,)):
            kind = type(item)
            if kind is Tensor or kind not in _PLAIN_TYPES and (
                    isinstance(item, Tensor) or takes_part(kind)):
                found.append(item)
    return found


def overloaded_args(relevant):
    """One argument per class, in argument order, except that a subclass goes before its
    parent classes (PyTorch's order of asking)."""
    found, kinds = [], []
    for arg in relevant:
        kind = type(arg)
        if kind in kinds:
            continue
        position = len(found)
        for k, earlier in enumerate(kinds):
            if issubclass(kind, earlier):
                position = k
                break
        found.insert(position, arg)
        kinds.insert(position, kind)
    return found


def dispatch(public, name, relevant, args, kwargs, python_level=False):
    """Offer ``public(*args, **kwargs)`` to the overloading arguments' handlers: the first
    answer that is not ``NotImplemented``; PyTorch's TypeError when all decline. ``name``:
    the dotted name the error gives ('torch.add', 'torch.Tensor.add'); ``python_level``:
    the words of PyTorch's functions written in Python (``handle_torch_function``'s, as
    ``nn.functional``'s)."""
    overloaded = overloaded_args(relevant)
    types = tuple(type(arg) for arg in overloaded)
    for arg in overloaded:
        result = arg.__torch_function__(public, types, args, kwargs or {})
        if result is not NotImplemented:
            return result
    if python_level or name.startswith("torch.nn.functional."):
        raise TypeError(f"no implementation found for '{name}' on types that implement "
                        f"__torch_function__: {list(types)}")
    raise TypeError(_declined(name, types))


def offer_to_mode(public, name, args, kwargs, python_level=False, with_self=False):
    """Offer ``public(*args, **kwargs)`` to this thread's innermost mode (taken off the stack
    while its handler runs), then to the overloading arguments' handlers (the mode back on);
    ``NOT_OFFERED`` when no mode is active here or ``DisableTorchFunction`` is on.
    ``with_self``: the first argument, a Tensor, counts among the overloading ones even when
    it is a plain Tensor, as PyTorch counts ``self`` for a property's getter or setter and
    for the Tensor methods that take nothing else (``types`` holds Tensor then); "all":
    every Tensor argument does, as for PyTorch's functions written in Python (most of
    ``nn.functional``)."""
    stack = _state.modes
    if not stack or _state.all_off:
        return NOT_OFFERED
    relevant = relevant_args(args, kwargs)
    if with_self == "all":
        relevant = _tensor_args(args, kwargs)
    elif with_self and args and isinstance(args[0], Tensor) and \
            not any(arg is args[0] for arg in relevant):
        relevant.insert(0, args[0])
    overloaded = overloaded_args(relevant)
    types = tuple(type(arg) for arg in overloaded)
    kwargs = kwargs or {}
    mode = stack.pop()
    try:
        result = mode.__torch_function__(public, types, args, kwargs)
        if result is NotImplemented and with_self and \
                not all(takes_part(kind) for kind in types):
            # declined: asked again with the Tensors that take no part left out of the types
            # (PyTorch's second try), whose handlers are then asked as they would have been
            overloaded = [arg for arg in overloaded if takes_part(type(arg))]
            types = tuple(type(arg) for arg in overloaded)
            result = mode.__torch_function__(public, types, args, kwargs)
    finally:
        stack.append(mode)
    if result is not NotImplemented:
        return result
    for arg in overloaded:
        result = arg.__torch_function__(public, types, args, kwargs)
        if result is not NotImplemented:
            return result
    if python_level or name.startswith("torch.nn.functional."):
        raise TypeError(f"no implementation found for '{name}' on types that implement "
                        f"__torch_function__: {list(types)} nor in mode {mode!r}")
    raise TypeError(_declined(name, types, mode))


def _declined(name, types, mode=None):
    lines = "".join(f"  - tensor subclass {kind}\n" for kind in types)
    if mode is not None:
        lines = f"  - mode object {mode!r}\n" + lines
    return (f"Multiple dispatch failed for '{name}'; all __torch_function__ handlers returned "
            f"NotImplemented:\n\n{lines}\nFor more information, try re-running with "
            f"TORCH_LOGS=not_implemented")
