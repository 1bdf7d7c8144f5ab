"""Calling a ``Module``: ``__call__`` and its hooks, kept apart from ``module.py``.

``module(*args)`` runs, in order (the global hooks of ``register_module_*_hook`` before the
module's own at each step)::

    forward pre-hooks   hook(module, args) -> new args or None
                        (with_kwargs: hook(module, args, kwargs) -> (args, kwargs) or None)
    forward             output = module.forward(*args, **kwargs)
    forward hooks       hook(module, args, output) -> new output or None
                        (always_call: also when a step above raised, with the output so far)

With backward hooks registered, the inputs and outputs pass through ``BackwardHookCall``
(``backward_hooks.py``), whose nodes call ``hook(module, grad_input, grad_output)`` during
backward.  A module with no hooks anywhere goes straight to ``forward``.
"""
from __future__ import annotations

from collections import OrderedDict

from ..._warn_once import warn_user
from .backward_hooks import BackwardHookCall, hook_output_node
from . import hooks as _global_hooks
from .hooks import RemovableHandle

__all__ = ["ModuleCalls"]


class ModuleCalls:
    """The call machinery ``Module`` derives: hook registration and ``__call__``."""
    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call ``hook(module, args)`` before forward; it may return new args (a tuple or one
        value).  With ``with_kwargs=True``: ``hook(module, args, kwargs)`` -> (args, kwargs)."""
        handle = RemovableHandle(self._forward_pre_hooks,
                                 extra_dict=self._forward_pre_hooks_with_kwargs)
        self._forward_pre_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        if prepend:
            self._forward_pre_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Call ``hook(module, args, output)`` after forward; a non-None return replaces the
        output.  With ``with_kwargs=True``: ``hook(module, args, kwargs, output)``.  With
        ``always_call=True`` it also runs (with output None) when forward raises.

        Returns a handle whose ``.remove()`` unregisters the hook.
        """
        always_called = self.__dict__.setdefault("_forward_hooks_always_called", set())
        handle = RemovableHandle(self._forward_hooks, extra_dict=[
            self._forward_hooks_with_kwargs, always_called])
        self._forward_hooks[handle.id] = hook
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            always_called.add(handle.id)
        if prepend:
            self._forward_hooks.move_to_end(handle.id, last=False)
        return handle

    def register_full_backward_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_input, grad_output)`` once the gradients of this call's
        inputs are computed (tuples: one entry per positional input / output, None where
        there is none); a non-None return replaces grad_input.  See ``backward_hooks.py``."""
        self._claim_backward_hook_kind(full=True)
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Call ``hook(module, grad_output)`` when the gradients of this call's outputs
        arrive, before they go on into the module; a non-None return replaces them."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_backward_hook(self, hook):
        """The deprecated form of ``register_full_backward_hook``, set as PyTorch sets it on
        each call: on the node that made the output, so that grad_input holds the gradients
        of that node's inputs (the module's last operation), not of the module's inputs."""
        self._claim_backward_hook_kind(full=False)
        return self._add_hook(self._backward_hooks, hook, False)

    def _claim_backward_hook_kind(self, full):
        """Record which backward-hook API this module uses; the first registration decides
        for good (removing the hooks does not undo it), as in PyTorch, since both kinds
        share one registry but promise different grad_input."""
        kind = self.__dict__.get("_is_full_backward_hook")
        if kind is not None and kind != full:
            raise RuntimeError("Cannot use both regular backward hooks and full backward hooks "
                               "on a single Module. Please use only one of them.")
        object.__setattr__(self, "_is_full_backward_hook", full)

    @staticmethod
    def _add_hook(hooks, hook, prepend):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def __call__(self, *args, **kwargs):
        # .get: a module unpickled from before backward hooks existed has no such registries
        g = _global_hooks
        backward = (self.__dict__.get("_backward_hooks") or self.__dict__.get(
            "_backward_pre_hooks") or g._global_backward_hooks or g._global_backward_pre_hooks)
        if not (self._forward_pre_hooks or self._forward_hooks or backward or
                g._global_forward_pre_hooks or g._global_forward_hooks):
            return self.forward(*args, **kwargs)
        # a hook or forward that raises still lets the always_call forward hooks see the call
        # (``state`` holds how far the call got: args after the pre-hooks, output, hooks run)
        state = {"args": args, "kwargs": kwargs, "output": None, "called": set()}
        try:
            return self._call_with_hooks(args, kwargs, backward, state)
        except Exception:
            self._run_always_called_hooks(state)
            raise

    def _call_with_hooks(self, args, kwargs, backward, state):
        """The hooked call: pre-hooks, forward, forward hooks, recording progress in
        ``state`` for the always_call hooks should any step raise."""
        g = _global_hooks
        # the global hooks (register_module_forward_hook...) first, then the module's own
        for hook_id, hook in [*g._global_forward_pre_hooks.items(),
                              *self._forward_pre_hooks.items()]:
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError("forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        if backward:
            # the hooks registered now, copied: this call's backward runs them even if they
            # are removed before it (and not those added after), as PyTorch's
            # (the module's hooks of the deprecated kind go on the output's node instead)
            old = self.__dict__.get("_is_full_backward_hook") is False and \
                list(self._backward_hooks.values())
            hooks = OrderedDict([*g._global_backward_hooks.items(),
                                 *(() if old else self.__dict__.get("_backward_hooks", {})
                                   .items())])
            pre_hooks = OrderedDict([*g._global_backward_pre_hooks.items(),
                                     *self.__dict__.get("_backward_pre_hooks", {}).items()])
            call = BackwardHookCall(self, hooks, pre_hooks) if hooks or pre_hooks else None
            unwrapped = args
            if call is not None:
                args = call.wrap_inputs(args)
        state.update(args=args, kwargs=kwargs)
        output = state["output"] = self.forward(*args, **kwargs)
        for hook_id, hook in [*g._global_forward_hooks.items(), *self._forward_hooks.items()]:
            state["called"].add(hook_id)
            if (hook_id in self._forward_hooks_with_kwargs or
                    hook_id in g._global_forward_hooks_with_kwargs):
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = state["output"] = result
        if backward:
            if call is not None:
                output = call.wrap_outputs(output)
            if old:
                hook_output_node(self, old, unwrapped, args, output)
        return output

    # PyTorch's names for the call machinery, which some code calls directly
    _call_impl = __call__
    _wrapped_call_impl = __call__

    def _run_always_called_hooks(self, state):
        """After a pre-hook, forward or forward hook raised: the ``always_call`` forward hooks
        not run yet, with the output so far (None when forward did not return).  An error
        in one of them is only warned about, so that the first error is the one raised."""
        g = _global_hooks
        always = self.__dict__.get("_forward_hooks_always_called") or set()
        if not (always or g._global_forward_hooks_always_called):
            return
        args, kwargs, output, called = state["args"], state["kwargs"], state["output"], \
            state["called"]
        for hook_id, hook in [*g._global_forward_hooks.items(), *self._forward_hooks.items()]:
            if hook_id in called or not (hook_id in always or
                                         hook_id in g._global_forward_hooks_always_called):
                continue
            try:
                if (hook_id in self._forward_hooks_with_kwargs or
                        hook_id in g._global_forward_hooks_with_kwargs):
                    hook(self, args, kwargs, output)
                else:
                    hook(self, args, output)
            except Exception as e:
                warn_user("forward hook with ``always_call=True`` raised an exception that "
                          f"was silenced as another error was raised in forward: {e}")
