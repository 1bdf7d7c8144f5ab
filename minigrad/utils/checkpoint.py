"""Activation checkpointing: trade compute for memory.

``checkpoint(function, *args)`` runs ``function`` without recording a graph, so none of the
activations inside it are kept; only its inputs are. When the backward pass reaches it, it
runs ``function`` again with gradients on (restoring the random-number state first, so a
dropout draws the same mask) and backpropagates through that fresh graph.  The recomputation
is an ordinary minigrad ``Function`` whose backward uses ``autograd.grad``: gradients reach the
inputs and the parameters ``function`` uses, through ``backward()`` and (with
use_reentrant=False, PyTorch's rule) ``autograd.grad`` alike, and under ``create_graph=True``
the result can be differentiated again.

Which parameters does ``function`` use?  They are found without running it: a Module's
parameters (``function`` itself, the Module of a bound method, Modules and tensors in a
lambda's closure or the globals it names, a ``functools.partial``'s pieces).  A leaf tensor that
requires grad reached some other way still gets its gradient, accumulated into ``.grad`` as
PyTorch's reentrant checkpoint does (so ``autograd.grad`` does not see it).
"""
from __future__ import annotations

import contextlib
import enum
import functools

from .._warn_once import warn_user
from .._random_factories import get_rng_state, set_rng_state
from ..autograd import Function, enable_grad, grad as autograd_grad, is_grad_enabled, no_grad
from ..autograd.engine import _is_checkpoint_valid, _nested_pass
from ..nn.modules.module import Module
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointPolicy",
           "check_backward_validity", "create_selective_checkpoint_contexts",
           "detach_variable", "noop_context_fn", "set_checkpoint_debug_enabled",
           "set_checkpoint_early_stop"]


class CheckpointError(RuntimeError):
    """PyTorch's error type for a recomputation that does not match the first run."""


def _noop_context_fn():
    return _NullContext(), _NullContext()


noop_context_fn = _noop_context_fn     # the default ``context_fn``, under its public name


class CheckpointPolicy(enum.Enum):
    """What a selective-checkpoint policy says of one op's output (save it for backward or
    recompute it); minigrad recomputes the whole region whatever it says."""
    MUST_SAVE = 0
    PREFER_SAVE = 1
    MUST_RECOMPUTE = 2
    PREFER_RECOMPUTE = 3
    MUST_CPU_OFFLOAD = 4
    PREFER_CPU_OFFLOAD = 5


def create_selective_checkpoint_contexts(policy_fn_or_list, allow_cache_entry_mutation=False):
    """The ``context_fn`` of selective activation checkpointing: ``checkpoint(...,
    use_reentrant=False, context_fn=functools.partial(create_selective_checkpoint_contexts,
    policy))``.  Which outputs are saved changes only memory, never the values: minigrad
    recomputes the whole region, so the policy (a function or a list of ops) is checked and
    kept, and the contexts do nothing."""
    if not (callable(policy_fn_or_list) or isinstance(policy_fn_or_list, list)):
        raise TypeError("policy_fn_or_list must be either a function or a list of ops.")
    return _NullContext(), _NullContext()


def detach_variable(inputs):
    """A tuple of ``inputs`` with each tensor detached, keeping its ``requires_grad`` (what
    hand-written checkpointing code calls on the inputs it re-runs a function on)."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    out = []
    for inp in inputs:
        if not isinstance(inp, Tensor):
            out.append(inp)
            continue
        x = inp.detach()
        x.requires_grad = inp.requires_grad
        out.append(x)
    return tuple(out)


def check_backward_validity(inputs):
    """Warn when no tensor among ``inputs`` requires grad (a checkpointed region's gradients
    would then all be None)."""
    if not any(isinstance(inp, Tensor) and inp.requires_grad for inp in inputs):
        warn_user("None of the inputs have requires_grad=True. Gradients will be None")


_debug_override = [None]     # set_checkpoint_debug_enabled's value while its block runs


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled):
    """Inside the block, every ``checkpoint`` call runs with ``debug=enabled`` whatever it
    passes (None: as passed), as PyTorch's."""
    previous = _debug_override[0]
    _debug_override[0] = enabled
    try:
        yield
    finally:
        _debug_override[0] = previous


@contextlib.contextmanager
def set_checkpoint_early_stop(enable):
    """Accepted as PyTorch's (stopping a recomputation once what backward needs is made);
    minigrad's recomputation always runs to the end, with the same results."""
    yield


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def checkpoint(function, *args, use_reentrant=None, context_fn=_noop_context_fn,
               determinism_check="default", debug=False, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``, keeping none of its activations for backward (they are
    recomputed then).  Returns what ``function`` returns (a tensor or a tuple).

    ``preserve_rng_state=True`` (a keyword): the recomputation sees the random state of the
    first run.  ``use_reentrant``: PyTorch's two implementations; both are the same one here
    (differences kept: with True, no input requiring grad means no gradient at all, and a
    warning; and a backward pass that wants chosen inputs' gradients only -- ``grad``,
    ``backward(inputs=...)`` -- is refused, as PyTorch's reentrant form refuses it).  Not given: a warning, then True, as PyTorch.  ``context_fn``, ``debug``,
    ``determinism_check`` and ``early_stop`` are accepted; ``kwargs`` go to ``function``
    (only with use_reentrant=False).
    """
    if use_reentrant is None:
        warn_user("minigrad.utils.checkpoint: the use_reentrant parameter should be passed "
                  "explicitly. PyTorch will require it; use_reentrant=False is "
                  "recommended. Defaulting to use_reentrant=True, PyTorch's current "
                  "default.")
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant and (context_fn is not _noop_context_fn or debug is not False):
        raise ValueError("Passing `context_fn` or `debug` is only supported when "
                         "use_reentrant=False.")
    if not use_reentrant:
        if _debug_override[0] is not None:
            debug = _debug_override[0]
        if debug and context_fn is not _noop_context_fn:
            raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in ("default", "none"):
        raise ValueError("determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warn_user("None of the inputs have requires_grad=True. Gradients will be None")
        with no_grad():
            return function(*args)
    forward_context, recompute_context = context_fn()
    run = _Run(function, args, kwargs, preserve, recompute_context)
    run.reentrant = use_reentrant
    with forward_context:
        return run.start(_used_tensors(function, args, kwargs))


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a list of callables or a ``Sequential``) one after the other on
    ``input``, split into ``segments`` chunks of ``len(functions) // segments``; every chunk
    but the last (which backward needs at once) is checkpointed."""
    if use_reentrant is None:
        warn_user("minigrad.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                  "parameter should be passed explicitly (PyTorch will require it); "
                  "use_reentrant=False is recommended. Defaulting to use_reentrant=True, "
                  "PyTorch's current default.")
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, Module):
        functions = list(functions.children())
    functions = list(functions)
    size = len(functions) // segments
    end = 0
    for start in range(0, size * (segments - 1), size):
        end = start + size
        chunk = _Chain(functions[start:end])
        if use_reentrant and not (isinstance(input, Tensor) and input.requires_grad):
            warn_user("None of the inputs have requires_grad=True. Gradients will be None")
            with no_grad():
                input = chunk(input)
            continue
        input = _Run(chunk, (input,), {}, preserve, _NullContext()).start(
            _used_tensors(chunk, (input,), {}))
    return _Chain(functions[end:])(input)


class _Chain:
    """Callables applied one after the other (a segment of checkpoint_sequential)."""

    def __init__(self, functions):
        self.functions = functions

    def __call__(self, x):
        for f in self.functions:
            x = f(x)
        return x


# ----------------------------------------------------------------------------------------------
# Which tensors does a function use?
# ----------------------------------------------------------------------------------------------
def _used_tensors(function, args, kwargs):
    """The tensors requiring grad that ``function`` reads besides its tensor arguments (see
    the module docstring), without duplicates and without the arguments themselves."""
    found, seen = [], {id(a) for a in args if isinstance(a, Tensor)}
    seen.update(id(v) for v in kwargs.values() if isinstance(v, Tensor))
    visited = set()

    def add(obj, depth):
        if id(obj) in visited or depth > 3:
            return
        visited.add(id(obj))
        if isinstance(obj, Tensor):
            if obj.requires_grad and id(obj) not in seen:
                seen.add(id(obj))
                found.append(obj)
        elif isinstance(obj, Module):
            for p in obj.parameters():
                add(p, depth)
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                add(item, depth + 1)
        elif isinstance(obj, dict):
            for item in obj.values():
                add(item, depth + 1)
        elif isinstance(obj, functools.partial):
            add(obj.func, depth + 1)
            add(obj.args, depth + 1)
            add(obj.keywords, depth + 1)
        elif isinstance(obj, _Chain):
            add(obj.functions, depth)
        elif callable(obj):
            owner = getattr(obj, "__self__", None)
            if isinstance(owner, Module):
                add(owner, depth + 1)
            code = getattr(obj, "__code__", None)
            for cell in getattr(obj, "__closure__", None) or ():
                try:
                    add(cell.cell_contents, depth + 1)
                except ValueError:          # an empty cell
                    pass
            if code is not None:
                globals_ = getattr(obj, "__globals__", {})
                for name in code.co_names:
                    value = globals_.get(name)
                    if isinstance(value, (Tensor, Module)):
                        add(value, depth + 1)

    add(function, 0)
    return found


# ----------------------------------------------------------------------------------------------
# The recomputation
# ----------------------------------------------------------------------------------------------
class _Run:
    """One checkpointed call: the function, its arguments (tensors among them), the random
    state of the first run, and how to rerun it."""

    def __init__(self, function, args, kwargs, preserve_rng_state, recompute_context):
        self.function, self.args, self.kwargs = function, args, kwargs
        self.rng_state = get_rng_state() if preserve_rng_state else None
        self.recompute_context = recompute_context
        # argument i of the Function: a tensor argument, a tensor kwarg, or a used tensor
        self.arg_slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.kwarg_slots = [k for k, v in kwargs.items() if isinstance(v, Tensor)]
        self.as_list = False
        self.reentrant = False

    def start(self, used):
        tensors = ([self.args[i] for i in self.arg_slots] +
                   [self.kwargs[k] for k in self.kwarg_slots] + list(used))
        out = CheckpointFunction.apply(self, *tensors)
        return list(out) if self.as_list else out

    def call(self, tensors):
        """``function`` with the tensor arguments taken from ``tensors`` (same order)."""
        args = list(self.args)
        for slot, t in zip(self.arg_slots, tensors):
            args[slot] = t
        kwargs = dict(self.kwargs)
        for key, t in zip(self.kwarg_slots, tensors[len(self.arg_slots):]):
            kwargs[key] = t
        out = self.function(*args, **kwargs)
        if isinstance(out, list):           # Functions return tensors or tuples
            self.as_list = True
            out = tuple(out)
        return out

    def recompute(self, tensors):
        """Run ``function`` again with grad on, under the random state of the first run.
        Returns its outputs and the tensors it was given: each argument that requires grad
        is replaced by a copy of its own (one per slot), so the recomputed graph starts at
        those copies and a gradient taken there never runs the graph that made an argument
        (the caller's, which backward runs once, after this)."""
        saved_state = get_rng_state()
        if self.rng_state is not None:
            set_rng_state(self.rng_state)
        n_args = len(self.arg_slots) + len(self.kwarg_slots)
        try:
            with enable_grad(), self.recompute_context:
                tensors = [t.clone() if i < n_args and t.requires_grad else t
                           for i, t in enumerate(tensors)]
                return self.call(tensors), tensors
        finally:
            set_rng_state(saved_state)


class CheckpointFunction(Function):
    """Forward: ``run.function`` without a graph.  Backward: run it again with a graph and
    backpropagate the output gradients through it, to every tensor argument (the inputs and
    the tensors the function uses)."""

    @staticmethod
    def forward(ctx, run, *tensors):
        ctx.run = run
        ctx.save_for_backward(*tensors)
        return run.call(list(tensors))

    @staticmethod
    def backward(ctx, *grads):
        if ctx.run.reentrant and not _is_checkpoint_valid():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() "
                "or passing an `inputs` parameter to .backward(). To resolve this error, you "
                "can either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument.")
        outs, tensors = ctx.run.recompute(list(ctx.saved_tensors))
        outs = outs if isinstance(outs, tuple) else (outs,)
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        # each distinct tensor once (an argument passed twice has a copy per slot by now)
        wanted = list({id(t): t for t in tensors if t.requires_grad}.values())
        if not pairs or not wanted:
            return (None,) * (len(tensors) + 1)
        others = _other_leaves(pairs, wanted)
        create_graph = is_grad_enabled()
        # (PyTorch's reentrant form runs a whole backward here, its other form recomputes
        # inside the pass under way)
        with _nested_pass(False if ctx.run.reentrant else not _is_checkpoint_valid()):
            results = autograd_grad([o for o, _ in pairs], wanted + others,
                                    [g for _, g in pairs], allow_unused=True,
                                    create_graph=create_graph)
        for leaf, g in zip(others, results[len(wanted):]):
            if g is not None:                # PyTorch's reentrant way: straight into .grad
                leaf.grad = g if leaf.grad is None else leaf.grad + g
        by_id = {id(t): g for t, g in zip(wanted, results)}
        return (None,) + tuple(by_id.pop(id(t), None) for t in tensors)


def _other_leaves(pairs, wanted):
    """Leaf tensors that require grad, reached by the recomputed graph without passing
    through a wanted tensor: ones the function used that ``_used_tensors`` did not find."""
    stop_nodes = {id(t.grad_fn) for t in wanted if t.grad_fn is not None}
    known = {id(t) for t in wanted}
    found, seen = [], set()
    stack = [o.grad_fn for o, _ in pairs if o.grad_fn is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in stop_nodes:
            continue
        seen.add(id(node))
        for edge in node.next_functions_:
            if edge is None:
                continue
            source = edge[0]
            if isinstance(source, Tensor):
                if id(source) not in known and id(source) not in seen:
                    seen.add(id(source))
                    found.append(source)
            elif source is not None:
                stack.append(source)
    return found
