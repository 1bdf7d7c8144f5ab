"""The hooks run around every optimizer's step: the global ones
(``register_optimizer_step_pre_hook`` / ``_post_hook``, exported by ``optim.optimizer``) and,
through ``_with_step_hooks`` (the wrapper of every ``step``), each optimizer's own.
"""
from __future__ import annotations

import functools
from collections import OrderedDict

from ..nn.modules.hooks import RemovableHandle

# hooks run around every optimizer's step (register_optimizer_step_pre_hook / _post_hook)
_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs before every optimizer's ``step``; it may return
    a new ``(args, kwargs)``.  Returns a handle whose ``remove()`` takes it out."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` runs after every optimizer's ``step``."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


def _with_step_hooks(step):
    """``step`` running the global and the optimizer's own step hooks around it, once per
    call (a subclass's step that calls ``super().step()`` runs them only in the outer call)."""
    @functools.wraps(step)
    def hooked(self, *args, **kwargs):
        if self.__dict__.get("_in_hooked_step"):
            return step(self, *args, **kwargs)
        args = (self, *args)        # as PyTorch, the hooks see the optimizer among the args
        pre = [*_global_step_pre_hooks.values(), *self._hook_dict("step_pre").values()]
        for hook in pre:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        self._in_hooked_step = True
        try:
            out = step(*args, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in [*self._hook_dict("step_post").values(), *_global_step_post_hooks.values()]:
            hook(self, args, kwargs)
        return out
    hooked._runs_step_hooks = True
    return hooked
