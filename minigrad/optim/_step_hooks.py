"""The hooks run around every optimizer's step: the global ones
(``register_optimizer_step_pre_hook`` / ``_post_hook``, exported by ``optim.optimizer``) and,
through ``_with_step_hooks`` (the wrapper ``mark_step_hooked`` puts on an optimizer class's
``step`` when the first of its optimizers is made), each optimizer's own.
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
    """``step`` running the global and the optimizer's own step hooks around it. As in
    PyTorch, a subclass's step that calls a wrapped ``super().step()`` (its parent class's
    optimizers were made too) runs them again inside."""
    @functools.wraps(step)
    def hooked(self, *args, **kwargs):
        args = (self, *args)        # as PyTorch, the hooks see the optimizer among the args
        # (an optimizer whose Optimizer.__init__ never ran lacks its hook dicts: the
        # AttributeError PyTorch's wrapper raises there)
        pre = [*_global_step_pre_hooks.values(), *self._optimizer_step_pre_hooks.values()]
        for hook in pre:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(*args, **kwargs)
        for hook in [*self._optimizer_step_post_hooks.values(),
                     *_global_step_post_hooks.values()]:
            hook(self, args, kwargs)
        return out
    hooked._runs_step_hooks = True
    return hooked


def mark_step_hooked(optimizer):
    """Wrap the ``step`` of ``optimizer``'s class in ``_with_step_hooks`` unless it is already,
    as PyTorch does the first time one of the class's optimizers is made, unpickled or given
    a ``zero_grad()``: until then the class's step runs bare (a subclass whose ``__init__``
    skips Optimizer's), and a bound step taken before (an LR scheduler's) stays bare; from
    then on the class's steps read the optimizer's own hook dicts, which an optimizer whose
    Optimizer.__init__ never ran lacks (PyTorch's AttributeError)."""
    cls = type(optimizer)
    step = cls.step
    if not getattr(step, "_runs_step_hooks", False):
        cls.step = _with_step_hooks(step)
