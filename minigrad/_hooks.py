"""``RemovableHandle``: what every ``register_*hook`` returns (tensor, graph node, module,
optimizer and the global module/optimizer hooks), under PyTorch's public path
``minigrad.utils.hooks.RemovableHandle``.

It lives here, importing nothing from minigrad, so that the tensor and autograd layers can
use it as well as ``nn`` and ``optim``. A hook is stored in an ``OrderedDict`` keyed by its
handle's ``id``; the handle holds that dict (and any side dicts or sets keyed the same way,
e.g. the ids of a module's ``with_kwargs`` hooks) only weakly, so a handle kept by the user
does not keep the module or tensor alive.

Also ``unserializable_hook`` / ``warn_if_has_hooks``: pickling a tensor warns about each of
its ``register_hook`` hooks (they are not pickled) unless the hook is marked.
"""
from __future__ import annotations

import warnings
import weakref
from collections import OrderedDict

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks"]


class RemovableHandle:
    """A registered hook's handle: ``handle.remove()`` takes the hook out (a second call does
    nothing), and ``with handle:`` removes it on leaving the block.

    ``id`` is unique in the process and increases with each registration (it orders hooks
    and keys the dicts they live in). ``hooks_dict_ref()`` is the dict holding the hook (None
    once that dict is gone); ``extra_dict_ref`` a tuple of weak references to side dicts or
    sets keyed by the same id, cleaned up by ``remove()`` as well.
    """
    id: int
    next_id: int = 0        # the id the next handle gets (raised when a handle is unpickled)

    def __init__(self, hooks_dict, *, extra_dict=None):
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        self.id = RemovableHandle.next_id
        RemovableHandle.next_id += 1
        if extra_dict is None:
            extras = ()
        elif isinstance(extra_dict, (list, tuple)):
            extras = extra_dict
        else:
            extras = (extra_dict,)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self):
        """Take the hook out of its dict (and the side dicts); idempotent."""
        hooks = self.hooks_dict_ref()
        if hooks is not None:
            hooks.pop(self.id, None)
        for ref in self.extra_dict_ref:
            extra = ref()
            if isinstance(extra, (set, frozenset)):
                extra.discard(self.id)
            elif extra is not None:
                extra.pop(self.id, None)

    # Pickling keeps the dicts themselves (not weak references); an unpickled handle bumps
    # ``next_id`` past its own id, so that later handles do not reuse it.
    def __getstate__(self):
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state):
        hooks = state[0] if state[0] is not None else OrderedDict()
        self.hooks_dict_ref = weakref.ref(hooks)
        self.id = state[1]
        RemovableHandle.next_id = max(RemovableHandle.next_id, self.id + 1)
        extras = state[2] if len(state) > 2 and state[2] is not None else ()
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras if d is not None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.remove()


def unserializable_hook(f):
    """Decorator marking a tensor hook as one the user knows is not pickled with its tensor,
    so that pickling the tensor does not warn about it; returns ``f`` itself."""
    f.__torch_unserializable__ = True
    return f


def warn_if_has_hooks(tensor):
    """Warn (UserWarning) for each ``register_hook`` hook on ``tensor`` not marked by
    ``unserializable_hook``: pickling a tensor keeps its values, never its hooks."""
    hooks = tensor._backward_hooks
    if not hooks:
        return
    for hook in hooks.values():
        if not hasattr(hook, "__torch_unserializable__"):
            warnings.warn(f"backward hook {hook!r} on tensor will not be serialized.  If this "
                          "is expected, you can decorate the function with "
                          "@minigrad.utils.hooks.unserializable_hook to suppress this warning",
                          stacklevel=3)
