"""The backward engine: ``Tensor.backward``, ``autograd.backward`` and ``autograd.grad``.

How it works. The graph is made of ``Function`` nodes (``y.grad_fn``), each pointing at the
nodes of its inputs (``next_functions``) and, for a leaf, at the leaf tensor itself. A
backward pass

1. counts, for every node reachable from the outputs, how many edges send it a gradient;
2. (``autograd.grad`` and ``inputs=``) keeps only the nodes that lie on a path to an input,
   and a built-in node computes only the input gradients that lead to one (its
   ``needs_input_grad`` narrowed for the call, as PyTorch's engine masks its outputs);
3. runs, of the nodes whose gradients have all arrived, the one created last (the highest
   sequence number, as PyTorch's ready queue orders them): calls its ``backward`` (a Tensor
   function, so with ``create_graph=True`` this records a new graph: higher-order
   gradients), and adds each result into the pending gradient of the node it goes to;
4. delivers a leaf's summed gradient as soon as it is complete, before any other ready node
   (PyTorch's AccumulateGrad): into ``.grad`` (``backward``) or into the result tuple
   (``grad``, which never touches any ``.grad``).

Iterative throughout: a chain of 100,000 ops needs no recursion.

This module holds the entry points, the pass itself (``_run`` and its ready queue) and the
pass's per-thread state (``frees_saved_values``, ``queue_callback``). The rest lives apart:
the arguments checked in ``_backward_args.py``, batched upstream gradients in
``_batched_grads.py``, the graph walked before a pass in
``_pass_plan.py``, one node run in ``_node_call.py``, gradients summed in ``_grad_sums.py``
and hooks' results checked in ``_engine_checks.py``.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Mapping
from heapq import heappop, heappush

from .._warn_once import warn_user
from .. import backend
from .._grad_dtype import _CHOSEN, cast_to_chosen
from ..tensor import Tensor
from . import function as _function  # its _profiler slot, read as it is now
from ._backward_args import GradientEdge, _as_list, _check_input, _edge_targets, _make_grads
from ._batched_grads import batched_grad
from ._engine_checks import _check_hook_count, _checked_hook_result, _warn_failed_node
from ._forward_numerics import _quiet_enter, _quiet_exit
from ._grad_sums import _Piece, _accumulate, _add, _add_leaf, _add_piece, _piece_grad
from ._node_call import _call, _tensor_hooks
from ._pass_plan import Reach as _Reach, _dependencies, _narrow_needs, _needed
from .function import Function
from .grad_mode import _set_mode, _state

__all__ = ["backward", "grad", "tensor_backward", "queue_callback", "GradientEdge"]


# ----------------------------------------------------------------------------------------------
# Public entry points
# ----------------------------------------------------------------------------------------------
def tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

    ``gradient`` is d(something)/d(self) (default 1 for a one-element tensor);
    ``create_graph=True`` records the backward itself, so the gradients can be differentiated
    again; ``inputs`` restricts accumulation to those tensors (leaves or not).
    """
    backward(self, gradient, retain_graph, create_graph, inputs=inputs)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Backward from one tensor or several that may share a graph, in one pass."""
    if grad_variables is not None:
        grad_tensors = grad_variables
    tensors = _as_list(tensors)
    targets = None if inputs is None else _as_list(
        [inputs] if isinstance(inputs, GradientEdge) else inputs)
    stand_ins = ()
    if targets and any(isinstance(t, GradientEdge) for t in targets):
        edges, targets = targets, _edge_targets(targets)
        stand_ins = {id(t) for e, t in zip(edges, targets) if t is not e and t.grad_fn}
    if targets == []:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    # PyTorch checks the outputs (and their gradients) before the inputs
    grads = _make_grads(tensors, _as_list(grad_tensors, len(tensors)), create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    for t in targets or ():
        _check_input(t, "backward")
    for t in targets or ():
        if t.grad_fn is not None and id(t) not in stand_ins:
            t.retain_grad()     # as PyTorch: a non-leaf input keeps receiving gradients after
    if create_graph:
        # PyTorch's words (given once per process there; here as Python's filters decide)
        warn_user("Using backward() with create_graph=True will create a reference cycle "
                  "between the parameter and its gradient which can cause a memory leak. "
                  "We recommend using autograd.grad when creating the graph to avoid this. "
                  "If you have to use this function, make sure to reset the .grad fields of "
                  "your parameters to None after use to break the cycle and avoid the "
                  "leak.", UserWarning)
    _run(tensors, grads, bool(retain_graph), bool(create_graph), targets, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned as a tuple.

    Nothing is accumulated into any ``.grad``. ``inputs`` may be leaves or intermediate
    tensors. ``grad_outputs``: d(something)/d(output) for each output (default 1 for
    one-element outputs). ``create_graph=True`` records the computation so the result can be
    differentiated again. An input the outputs do not depend on raises, unless
    ``allow_unused=True`` (then None) or ``materialize_grads=True`` (then zeros).
    """
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads="
                         "True, but got: allow_unused=False.")
    if isinstance(inputs, Mapping) and type(inputs) is not dict:
        raise TypeError(f"`inputs` argument to `grad()` must be a dict, not "
                        f"{type(inputs).__name__}. Other Mapping types are not supported.")
    if not only_inputs:
        warn_user("only_inputs argument is deprecated and is ignored now (defaults to "
                  "True). To accumulate gradient for other parts of the graph, please use "
                  "torch.autograd.backward.", FutureWarning)
    if type(inputs) is dict:
        # ``dict(model.named_parameters())``: the gradients come back under the same keys
        result = grad(outputs, tuple(inputs.values()), grad_outputs, retain_graph,
                      create_graph, True, allow_unused, is_grads_batched, materialize_grads)
        return dict(zip(inputs.keys(), result))
    if is_grads_batched:
        return batched_grad(grad, outputs, inputs, grad_outputs, retain_graph, create_graph,
                            allow_unused, materialize_grads)
    allow_unused = bool(allow_unused) or materialize_grads
    edges = _as_list([inputs] if isinstance(inputs, GradientEdge) else inputs)
    inputs = _edge_targets(edges)
    outputs = _as_list(outputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    # PyTorch checks the outputs (and their gradients) before the inputs
    grads = _make_grads(outputs, _as_list(grad_outputs, len(outputs)), create_graph)
    for t in inputs:
        _check_input(t)
    if retain_graph is None:
        retain_graph = create_graph
    result = _run(outputs, grads, bool(retain_graph), bool(create_graph), inputs,
                  accumulate=False)
    out = []
    for i, (t, g) in enumerate(zip(inputs, result)):
        if g is None:
            if materialize_grads and isinstance(edges[i], GradientEdge):
                raise RuntimeError("materialize_grads cannot be used when the given input is a "
                                   "GradientEdge")
            if materialize_grads:
                # a zero gradient that can itself be differentiated when a graph is built
                g = Tensor._wrap(backend.xp_of(t._array).zeros_like(t._array))
                g.requires_grad_(bool(create_graph))
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
        out.append(g)
    return tuple(out)


# ----------------------------------------------------------------------------------------------
# The engine
# ----------------------------------------------------------------------------------------------
# Whether the backward pass under way in this thread frees each node's saved values once the
# node's backward has run (no retain_graph): a backward may then reuse a saved array that
# nothing else holds for its result (relu writes its gradient into its saved output)
class _PassState(threading.local):
    """The pass under way in this thread (the class's values outside any: reading one is a
    plain attribute look-up, where ``getattr`` with a default raised and caught inside)."""
    frees = False       # the nodes' saved values are freed after their backward
    callbacks = None    # ``queue_callback``'s list (None: no pass)
    partial = False     # a pass for chosen inputs
    nested = None       # what ``_nested_pass`` set for the next pass
    plan = None         # the pass's ``_Reach`` (what it runs: ``will_execute``)


_pass = _PassState()


def frees_saved_values():
    """True inside a node's backward when what the node saved is freed right after it."""
    return _pass.frees


def _is_checkpoint_valid():
    """False in a pass for chosen inputs (grad, backward(inputs=)): no reentrant checkpoint."""
    return not _pass.partial


@contextlib.contextmanager
def _nested_pass(partial):
    """The next pass in this thread (a checkpoint's ``grad``) counts as ``partial`` says."""
    outer, _pass.nested = _pass.nested, partial
    try:
        yield
    finally:
        _pass.nested = outer


def current_pass():
    """The backward pass running in this thread (an object to key on), or None."""
    return _pass.plan


def will_execute(tensor):
    """Whether the pass under way runs ``tensor``'s gradient node (a leaf: its
    AccumulateGrad), so that hooks on it fire (``torch._C._will_engine_execute_node``)."""
    plan = _pass.plan
    if plan is None:
        raise RuntimeError("_will_engine_execute_node should only be called during the "
                           "backward pass")
    return plan.runs(tensor)


def queue_callback(callback):
    """Call ``callback()`` (no arguments) once the backward pass running now has computed and
    accumulated every gradient (``Variable._execution_engine.queue_callback``, as PyTorch's);
    callbacks queued by a callback run too.  Only inside a backward pass (a hook, or a custom
    Function's backward)."""
    queued = _pass.callbacks
    if queued is None:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    queued.append(callback)


def _run(roots, root_grads, retain_graph, create_graph, targets, accumulate):
    """One backward pass. ``targets``: None (every leaf) or the tensors whose gradients are
    wanted; with ``accumulate`` they go into ``.grad``, else they are returned in order.
    inf * 0, inf - inf, a 16-bit gradient's overflow: silent, as in PyTorch (and as every
    forward is, ``Function.apply``), in the backward's ops, its sums and its casts."""
    quiet = _quiet_enter()
    try:
        return _run_pass(roots, root_grads, retain_graph, create_graph, targets, accumulate)
    finally:
        _quiet_exit(quiet)


def _run_pass(roots, root_grads, retain_graph, create_graph, targets, accumulate):
    """``_run``'s work."""
    pending = {}                 # node -> [grad of output 0, grad of output 1, ...]
    leaf_grads = {}              # id(leaf) -> [leaf, summed grad]
    owned = {}                   # id of a summed grad this pass made from pieces ->
                                 # _add_piece's note
    root_nodes = []
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            _add_leaf(leaf_grads, t, g, create_graph)
        else:
            node = t.grad_fn
            if node not in pending:
                pending[node] = [None] * len(node._out_meta)
                root_nodes.append(node)
            slots = pending[node]
            nr = t._output_nr
            slots[nr] = g if slots[nr] is None else _add(slots[nr], g, create_graph)

    deps, parents, leaf_parents, leaf_deps = _dependencies(root_nodes, targets is not None)
    target_leaves, target_nodes, execute = {}, {}, None
    if targets is not None:
        for i, t in enumerate(targets):
            if t.grad_fn is None:
                target_leaves.setdefault(id(t), []).append(i)
            else:
                target_nodes.setdefault(t.grad_fn, {}).setdefault(t._output_nr, []).append(i)
        execute = _needed(parents, leaf_parents, target_leaves, target_nodes)
    captured = [None] * (len(targets) if targets is not None else 0)

    def deliver(leaf, g):
        """A leaf's complete gradient: its hooks, then the caller's list or its ``.grad``
        (with the AccumulateGrad node's hooks around the accumulation)."""
        if _CHOSEN:             # (some leaf has a grad_dtype of its own: cast to it first)
            g = cast_to_chosen(leaf, g)
        if leaf._hooks:
            for hook in list(leaf._hooks.values()):
                g = _checked_hook_result(hook, g, hook(g))
        if targets is not None:
            for i in target_leaves.get(id(leaf), ()):
                captured[i] = g
        if accumulate:
            # hooks on the leaf's AccumulateGrad node (``next_functions``) run around
            # the accumulation: pre-hooks may replace the gradient
            acc_node = leaf.__dict__.get("_accumulate_node")
            if acc_node is not None:
                for hook in list((getattr(acc_node, "_node_pre_hooks", None) or {}).values()):
                    new = hook((g,))
                    if new is not None:
                        g = new[0]
            if g is None:           # no gradient came: only the hooks run
                pass
            elif _function._profiler is None:
                _accumulate(leaf, g, create_graph)
            else:
                _function._profiler.accumulate(_accumulate, leaf, g, create_graph)
            post_hooks = leaf.__dict__.get("_post_accumulate_grad_hooks")
            if post_hooks:
                for hook in list(post_hooks.values()):
                    back = hook(leaf)       # None or the leaf itself (as PyTorch)
                    if back is None or back is leaf:
                        continue
                    if isinstance(back, Tensor):
                        raise RuntimeError("Tensor post accumulate grad hooks should return "
                                           "None.")
                    raise TypeError(f"expected Variable, but hook returned "
                                    f"'{type(back).__name__}'")
            if acc_node is not None:
                for hook in list((getattr(acc_node, "_post_hooks", None) or {}).values()):
                    _check_hook_count(hook, hook((), (g,)), 0)

    # the ready queue (see ``_LEAF``), the roots first, in order, as PyTorch's GraphRoot
    # hands them on
    heap = []
    last_root = {(t.grad_fn if t.grad_fn is not None else id(t)): i
                 for i, t in enumerate(roots)}
    for i, t in enumerate(roots):
        node = t.grad_fn
        if node is None:
            if last_root[id(t)] == i and not leaf_deps.get(id(t)) and (
                    targets is None or id(t) in target_leaves):
                heappush(heap, (_LEAF, _LeafTask(t)))
        elif last_root[node] == i and deps[node] == 0 and (
                execute is None or node in execute or node in target_nodes):
            heappush(heap, (-node._seq, node))
    check_anomaly = _state.anomaly and _state.anomaly_check_nan
    state = _pass
    outer, state.frees = state.frees, not retain_graph
    outer_callbacks, state.callbacks = state.callbacks, []
    outer_partial = state.partial
    outer_nested, state.nested = state.nested, None
    outer_plan, state.plan = state.plan, _Reach(
        deps, leaf_deps, {id(t) for t in roots if t.grad_fn is None}, execute, target_nodes,
        target_leaves, accumulate)
    state.partial = targets is not None if outer_nested is None else outer_nested
    outer_mode = _state.mode
    try:
        _set_mode(create_graph)     # (set_grad_enabled's work, without its object)
        while heap:
            key, node = heappop(heap)
            if key == _LEAF:
                # a leaf whose every gradient has come (its AccumulateGrad node); its
                # hooks run when all were None too, as PyTorch's
                # (unpacked: nothing else may hold the gradient, or .grad copies it)
                leaf, g = leaf_grads.pop(id(node.leaf), None) or (node.leaf, None)
                owned.pop(id(g), None)
                deliver(leaf, g)
                continue
            grads = pending.pop(node, None)
            if owned and grads is not None:     # handed on now: no more adds in place
                for g in grads:
                    owned.pop(id(g), None)
            if node._pre_hooks or node._retained:
                # (with None where no gradient came: PyTorch calls the hooks then too)
                grads = _tensor_hooks(node, grads or [None] * len(node._out_meta),
                                      create_graph)
            if target_nodes and grads is not None and node in target_nodes:
                for nr, indices in target_nodes[node].items():
                    for i in indices:
                        captured[i] = grads[nr]
            if execute is not None and node not in execute:
                continue
            results = None
            if grads is not None and (grads[0] is not None if len(grads) == 1 else
                                      any(g is not None for g in grads)) or \
                    node._ctx_style or node.__dict__ and (
                        node.__dict__.get("_node_pre_hooks") or
                        node.__dict__.get("_post_hooks")):
                # (no gradient came, a backward gave None for it: PyTorch runs the node
                # all the same, its hooks seeing None, a custom Function's backward
                # zeros)
                if grads is None:
                    grads = [None] * len(node._out_meta)
                needs = None if execute is None else _narrow_needs(
                    node, execute, target_nodes, target_leaves)
                # (the class's flag first: it is False for nearly every node)
                piece = None if not getattr(type(node), "grad_is_piece", False) or \
                    execute is not None or _state.anomaly or \
                    _function._profiler is not None else \
                    _piece_grad(node, grads, create_graph)
                try:
                    if piece is not None:
                        results = [piece]
                    elif _function._profiler is None:
                        results = _call(node, grads, create_graph, check_anomaly)
                    else:
                        results = _function._profiler.backward_node(
                            node, _call, grads, create_graph, check_anomaly)
                except Exception:
                    if _state.anomaly:
                        _warn_failed_node(node)
                    raise
                finally:
                    if needs is not None:
                        node.needs_input_grad = needs
                if not retain_graph:
                    node._release()
            edges = node.next_functions_
            # a fused node hands its gradients on in the order of PyTorch's nodes it
            # stands for (``delivery_order``; Linear's bias first): the order in which
            # its leaves become ready, and so their hooks fire
            order = node.delivery_order
            for i in range(len(edges)) if order is None else \
                    [k for k in order if k < len(edges)]:
                edge = edges[i]
                if edge is None:
                    continue
                nxt = edge[0]
                g = results[i] if results is not None else None
                if isinstance(nxt, Function):
                    if execute is not None and nxt not in execute and nxt not in target_nodes:
                        continue
                    if g is not None:
                        slots = pending.get(nxt)
                        if slots is None:
                            slots = pending[nxt] = [None] * len(nxt._out_meta)
                        nr = edge[1]
                        if isinstance(g, _Piece):
                            slots[nr] = _add_piece(slots[nr], g, owned)
                        elif slots[nr] is None:
                            slots[nr] = g
                        else:
                            owned.pop(id(slots[nr]), None)
                            slots[nr] = _add(slots[nr], g, create_graph)
                    left = deps[nxt] - 1
                    deps[nxt] = left
                    if left == 0:
                        heappush(heap, (-nxt._seq, nxt))
                else:
                    if targets is not None and id(nxt) not in target_leaves:
                        continue
                    if g is not None:
                        entry = leaf_grads.get(id(nxt))
                        if isinstance(g, _Piece):
                            if entry is None:
                                leaf_grads[id(nxt)] = [nxt, _add_piece(None, g, owned)]
                            else:
                                entry[1] = _add_piece(entry[1], g, owned)
                        else:
                            if entry is not None:
                                owned.pop(id(entry[1]), None)
                            _add_leaf(leaf_grads, nxt, g, create_graph)
                    # every edge into the leaf has sent its part: its AccumulateGrad is
                    # ready, and runs before any other node (its hooks fire between the
                    # nodes', not after all)
                    leaf_deps[id(nxt)] -= 1
                    if leaf_deps[id(nxt)] == 0:
                        heappush(heap, (_LEAF, _LeafTask(nxt)))

        # what is left: the roots that are leaves, and leaves some of whose edges did not
        # run (nodes no target needs)
        for leaf, g in leaf_grads.values():
            deliver(leaf, g)
        callbacks = _pass.callbacks
        while callbacks:
            callbacks.pop(0)()
    finally:
        _set_mode(outer_mode)
        state.frees = outer
        state.callbacks = outer_callbacks
        state.partial, state.nested = outer_partial, outer_nested
        state.plan = outer_plan
    if targets is not None and accumulate:
        for t, g in zip(targets, captured):
            if t.grad_fn is not None and g is not None and not t.retains_grad:
                _accumulate(t, g, create_graph)       # (a retained one already has it)
    return captured


# The ready queue is a ``heapq`` of (-priority, task): a node's priority is its sequence
# number, a leaf's (its AccumulateGrad) the largest. heapq sifts exactly as the C++ library's
# ``push_heap`` / ``pop_heap`` under PyTorch's ready queue (a hole sinks along the better
# children, right on a tie, then the last item rises while strictly better than its parent),
# so leaves ready together, equal in priority, come out in the order PyTorch's heap gives
# them, not first in first out (four at once run as 0, 2, 1, 3).
_LEAF = -sys.maxsize


class _LeafTask:
    """A leaf in the ready queue. Two of them are equal in order (neither is less), as
    PyTorch's AccumulateGrad nodes, so the heap's layout alone decides between them."""
    __slots__ = ("leaf",)

    def __init__(self, leaf):
        self.leaf = leaf

    def __lt__(self, other):
        return False
