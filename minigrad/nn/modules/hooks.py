"""``RemovableHandle``: what ``Module.register_forward_hook`` and friends return; and the
global hooks that run on every module's call (``register_module_forward_hook``...)."""
from __future__ import annotations

from collections import OrderedDict

from ..._hooks import RemovableHandle

__all__ = ["RemovableHandle", "register_module_forward_pre_hook", "register_module_forward_hook",
           "register_module_full_backward_pre_hook", "register_module_full_backward_hook",
           "register_module_backward_hook", "register_module_buffer_registration_hook",
           "register_module_module_registration_hook",
           "register_module_parameter_registration_hook"]


# ----------------------------------------------------------------------------------------------
# Global module hooks: run on every module's call, before the module's own hooks
# (``torch.nn.modules.module.register_module_forward_hook`` and friends; profilers and
# activation loggers use them).
# ----------------------------------------------------------------------------------------------
_global_forward_pre_hooks = OrderedDict()
_global_forward_hooks = OrderedDict()
_global_forward_hooks_with_kwargs = set()
_global_forward_hooks_always_called = set()
_global_backward_hooks = OrderedDict()
_global_backward_pre_hooks = OrderedDict()
# whether the global backward hooks are full ones (True), the deprecated kind (False) or not
# chosen yet (None): once chosen, the other kind is refused, as in PyTorch
_global_backward_kind = {"full": None}
# hooks run as every module registers a buffer, a submodule or a parameter
_global_buffer_registration_hooks = OrderedDict()
_global_module_registration_hooks = OrderedDict()
_global_parameter_registration_hooks = OrderedDict()


def _add_global(hooks, hook, extra_dict=None):
    handle = RemovableHandle(hooks, extra_dict=extra_dict)
    hooks[handle.id] = hook
    return handle


def register_module_forward_pre_hook(hook):
    """``hook(module, args)`` before every module's forward (a non-None return replaces the
    args, as a module's own pre-hook's does); returns a handle to remove it."""
    return _add_global(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook, *, with_kwargs=False, always_call=False):
    """``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
    ``with_kwargs``) after every module's forward; a non-None return replaces the output.
    With ``always_call`` it also runs when forward raises."""
    handle = _add_global(_global_forward_hooks, hook, _global_forward_hooks_always_called)
    if with_kwargs:
        _global_forward_hooks_with_kwargs.add(handle.id)
    if always_call:
        _global_forward_hooks_always_called.add(handle.id)
    return handle


def register_module_full_backward_pre_hook(hook):
    """``hook(module, grad_output)`` for every module, as a module's own full backward
    pre-hook."""
    return _add_global(_global_backward_pre_hooks, hook)


def _choose_backward_kind(full):
    if _global_backward_kind["full"] is (not full):
        raise RuntimeError("Cannot use both regular backward hooks and full backward hooks as a "
                           "global Module hook. Please use only one of them.")
    _global_backward_kind["full"] = full


def register_module_full_backward_hook(hook):
    """``hook(module, grad_input, grad_output)`` for every module, as a module's own full
    backward hook."""
    _choose_backward_kind(True)
    return _add_global(_global_backward_hooks, hook)


def register_module_backward_hook(hook):
    """The deprecated form of ``register_module_full_backward_hook``, run as that one (as
    ``Module.register_backward_hook`` is); the two kinds cannot be mixed."""
    _choose_backward_kind(False)
    return _add_global(_global_backward_hooks, hook)


def register_module_buffer_registration_hook(hook):
    """``hook(module, name, buffer)`` whenever any module registers a buffer (also when one
    is assigned); a non-None return is registered instead."""
    return _add_global(_global_buffer_registration_hooks, hook)


def register_module_module_registration_hook(hook):
    """``hook(module, name, submodule)`` whenever any module registers a submodule (also when
    one is assigned); a non-None return is registered instead."""
    return _add_global(_global_module_registration_hooks, hook)


def register_module_parameter_registration_hook(hook):
    """``hook(module, name, param)`` whenever any module registers a parameter (not None);
    a non-None return is registered instead."""
    return _add_global(_global_parameter_registration_hooks, hook)


def registered(hooks, module, name, value):
    """``value`` as the registration ``hooks`` leave it (each may return a replacement)."""
    for hook in list(hooks.values()):
        output = hook(module, name, value)
        if output is not None:
            value = output
    return value
