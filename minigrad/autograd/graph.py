"""``minigrad.autograd.graph`` (as ``torch.autograd.graph``): hooks on what the graph keeps
for backward, and the graph-node type.

    saved_tensors_hooks(pack, unpack)    every tensor an op saves for backward while active
                                         is stored as pack(tensor); backward reads it back
                                         as unpack(stored)
    save_on_cpu()                        those hooks moving saved tensors to host memory
    allow_mutation_on_saved_tensors()    saved tensors may be changed in place afterwards
    disable_saved_tensors_hooks(msg)     forbid saved_tensors_hooks in a region
    Node                                 the abstract type of ``y.grad_fn`` objects
    increment_version(t)                 mark t as modified in place (saved-value checks)
    register_multi_grad_hook(ts, fn)     fn(grads of ts) once per backward that reaches them
    get_gradient_edge(t)                 where t's gradient flows in, for autograd.grad

and ``Tensor.register_post_accumulate_grad_hook`` (defined here, attached to Tensor).

Example, counting what a forward keeps::

    kept = []
    with saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        y = (x * w).sin().sum()
    y.backward()          # gradients as without the hooks
"""
from __future__ import annotations

import abc
import weakref
from collections import OrderedDict

from .. import backend
from .._hooks import RemovableHandle
from ..tensor import Tensor
from ._accumulate_grad import AccumulateGrad
from ._backward_args import GradientEdge
from ._saved_hooks import saved_tensors_hooks_state as _hooks
from .engine import current_pass, will_execute
from .function import Function

__all__ = ["saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks",
           "allow_mutation_on_saved_tensors", "Node",
           "increment_version", "register_multi_grad_hook", "GradientEdge",
           "get_gradient_edge", "region_activation_memory_budget"]


class saved_tensors_hooks:
    """Context manager: pack and unpack hooks for the tensors ops save for backward.

    ``pack_hook(tensor) -> anything`` runs when an op records a tensor for its backward
    (in forward); ``unpack_hook(that) -> Tensor`` runs when the backward needs it and must
    give back a tensor with the same values. Nested contexts: the innermost pair wins. Which
    tensors an op saves is the op's business (minigrad's ops may save other tensors than
    PyTorch's do); the gradients are the same either way.
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _hooks.disabled is not None:
            raise RuntimeError(_hooks.disabled)
        _hooks.stack = _hooks.stack + ((self.pack_hook, self.unpack_hook),)
        return self

    def __exit__(self, *exc):
        _hooks.stack = _hooks.stack[:-1]
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors kept in host memory and moved back to their device for backward
    (trading GPU memory for transfers). For tensors already on the CPU it changes nothing.
    ``pin_memory`` and ``device_type`` are accepted for PyTorch compatibility."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return t.device, Tensor._wrap(backend.as_numpy(t._array)) if t.is_cuda else t

        def unpack(packed):
            device, t = packed
            return t.to(device)

        super().__init__(pack, unpack)


class allow_mutation_on_saved_tensors(saved_tensors_hooks):
    """Context manager: the tensors ops save for backward inside it may be modified in place
    afterwards, backward using the values they had when saved. PyTorch copies a saved tensor
    when it is first mutated; here each is copied when saved (the same gradients, more
    memory). Contexts may not be nested."""
    _active = False

    def __init__(self):
        super().__init__(lambda t: t.detach().clone(), lambda t: t)

    def __enter__(self):
        if allow_mutation_on_saved_tensors._active:
            raise RuntimeError("allow_mutation_on_saved_tensors contexts cannot be nested")
        super().__enter__()
        allow_mutation_on_saved_tensors._active = True
        return self

    def __exit__(self, *exc):
        allow_mutation_on_saved_tensors._active = False
        return super().__exit__(*exc)


class disable_saved_tensors_hooks:
    """Context manager (also a decorator): inside it, entering ``saved_tensors_hooks``
    raises ``RuntimeError(error_message)``. Entering it while hooks are active raises too,
    as in PyTorch."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        if _hooks.stack:
            raise RuntimeError(self.error_message)
        self._prev = _hooks.disabled
        _hooks.disabled = self.error_message
        return self

    def __exit__(self, *exc):
        _hooks.disabled = self._prev
        return False

    def __call__(self, fn):
        def wrapper(*args, **kwargs):
            with disable_saved_tensors_hooks(self.error_message):
                return fn(*args, **kwargs)
        wrapper.__name__ = getattr(fn, "__name__", "wrapper")
        wrapper.__doc__ = getattr(fn, "__doc__", None)
        return wrapper


class Node(abc.ABC):
    """The type of graph nodes: ``isinstance(y.grad_fn, Node)`` holds for every op's node
    (a ``Function``) and for the ``AccumulateGrad`` nodes of leaves. The methods listed are
    the ones a node offers: ``name()``, ``next_functions``, ``metadata``,
    ``register_hook(hook(grad_inputs, grad_outputs))`` and
    ``register_prehook(hook(grad_outputs))``."""

    @abc.abstractmethod
    def name(self):
        """The node's name, such as ``'MulBackward0'``."""

    @property
    @abc.abstractmethod
    def next_functions(self):
        """``(node, output_nr)`` pairs: where this node's gradients go, in input order."""

    @classmethod
    def __subclasshook__(cls, subclass):
        if cls is Node and issubclass(subclass, (Function, AccumulateGrad)):
            return True
        return NotImplemented


def get_gradient_edge(tensor):
    """The ``GradientEdge`` through which ``tensor``'s gradient flows: (its grad_fn, its output
    number), or (its AccumulateGrad node, 0) for a leaf. ``autograd.grad(loss, edge)`` then
    gives what ``autograd.grad(loss, tensor)`` gives, even after ``tensor`` is gone."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    if tensor.grad_fn is None:
        return GradientEdge(AccumulateGrad.of(tensor), 0)
    return GradientEdge(tensor.grad_fn, tensor._output_nr)


def increment_version(tensor):
    """Bump the version counter of ``tensor`` (or of each tensor in an iterable), as an
    in-place write does: a backward that saved it then raises instead of using stale data."""
    tensors = (tensor,) if isinstance(tensor, Tensor) else tuple(tensor)
    for t in tensors:
        if not isinstance(t, Tensor):
            raise TypeError(f"increment_version(): expected a Tensor, got {type(t).__name__}")
        t._vcounter.value += 1


def register_post_accumulate_grad_hook(self, hook):
    """``Tensor.register_post_accumulate_grad_hook``: call ``hook(tensor)`` on this leaf right
    after a backward has added into its ``.grad`` (an optimizer step fused into backward,
    say). Not called by ``autograd.grad``, which accumulates nothing. Returns a handle whose
    ``remove()`` unregisters the hook."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    hooks = self.__dict__.get("_post_accumulate_grad_hooks")
    if hooks is None:
        hooks = self.__dict__["_post_accumulate_grad_hooks"] = OrderedDict()
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


class _MultiHandle:
    """What ``register_multi_grad_hook`` returns: ``remove()`` takes off all its hooks."""

    def __init__(self, handles):
        self.handles = tuple(handles)

    def remove(self):
        for handle in self.handles:
            handle.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def register_multi_grad_hook(tensors, fn, *, mode="all"):
    """Call ``fn`` once per backward pass that computes a gradient for any of ``tensors``.

    ``mode="all"``: ``fn(grads)``, one entry per tensor (its gradient, or None for those the
    pass gives none), from inside the hook of the last of them that the pass reaches: before
    that tensor's gradient goes on (a leaf's into ``.grad``), as PyTorch's. ``mode="any"``:
    ``fn(grad)`` with the first gradient computed for one of them, once per pass (tensors
    that do not require grad are left out).  Returns a handle whose ``remove()`` unregisters
    it.
    """
    if mode not in ("all", "any"):
        raise ValueError(f"Expects mode to be one of ('all', 'any') but got {mode}")
    tensors = tuple(tensors)
    if mode == "any":
        fired = weakref.WeakKeyDictionary()        # pass -> True once fn has run in it

        def first_only(grad):
            run = current_pass()
            if run is None:
                raise AssertionError("expected this hook to be called inside a backward call")
            if run not in fired:
                fired[run] = True
                fn(grad)
        return _MultiHandle(t.register_hook(first_only) for t in tensors if t.requires_grad)
    for t in tensors:
        if not t.requires_grad:     # (PyTorch looks for its gradient node first)
            raise AssertionError("Expected gradient function to be set")
    seen = weakref.WeakKeyDictionary()              # pass -> [calls expected, grads so far]

    def hook_for(i):
        def hook(grad):
            run = current_pass()
            if run is None:
                raise AssertionError("expected this hook to be called inside a backward call")
            entry = seen.get(run)
            if entry is None:
                expected = sum(1 for t in tensors if will_execute(t))
                entry = seen[run] = [expected, [None] * len(tensors), 0]
            entry[1][i] = grad
            entry[2] += 1
            if entry[2] == entry[0]:
                del seen[run]
                fn(entry[1])
        return hook

    return _MultiHandle(t.register_hook(hook_for(i)) for i, t in enumerate(tensors))


def reachable_leaves(tensors):
    """The leaves that require grad which ``tensors`` depend on through the recorded graph
    (a tensor that is such a leaf itself included), each node visited once: a walk without
    recursion, so deep graphs cannot exhaust Python's stack."""
    seen, todo = set(), []
    for t in tensors:
        if not t._requires_grad:
            continue
        if t.grad_fn is None:
            yield t
        else:
            todo.append(t.grad_fn)
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in getattr(node, "next_functions_", None) or ():
            if edge is None or edge[0] is None:
                continue
            if isinstance(edge[0], Tensor):
                yield edge[0]
            else:
                todo.append(edge[0])


def region_activation_memory_budget(budget):
    """A compiled region's activation memory budget (a ratio in [0, 1]).  Only
    ``torch.compile``'s partitioner reads it; minigrad runs eagerly, where PyTorch refuses it:
    the same checks and errors."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)):
        raise TypeError(f"torch.autograd.graph.region_activation_memory_budget: expects a "
                        f"float, got {type(budget).__name__}")
    if not 0.0 <= budget <= 1.0:
        raise ValueError(f"torch.autograd.graph.region_activation_memory_budget: must be in "
                         f"[0, 1], got {budget}")
    raise RuntimeError("torch.autograd.graph.region_activation_memory_budget can only be used "
                       "inside a torch.compile region; it has no effect in eager mode.")
