"""One node's turn in a backward pass: its hooks, its backward, the gradients it returns.

``_call`` runs the node's pre-hooks, then its backward (minigrad's own ops with Tensors, a
``first_order_only`` op with raw arrays, a PyTorch-style Function through ``_function_ctx``),
checks what came back against the node's inputs with PyTorch's errors (count, shape, dtype;
a broadcast gradient summed down), then its post-hooks and anomaly checks.
``_tensor_hooks`` runs the hooks of the non-leaf tensors the node produced and their
``retain_grad``. A ``first_order_only`` op's gradients under ``create_graph`` are marked with
``mark_not_differentiable``, so a second derivative through them raises instead of being 0.

Separate from ``engine.py``: the engine decides *when* a node runs (``_run``: the ready queue,
the sums of gradients); this module is *what running one* means.
"""
from __future__ import annotations

from .. import backend
from ..dtypes import from_numpy_dtype
from ..tensor import Tensor
from .._data_conversion import _to_array
from ._engine_checks import (_check_anomaly, _checked_hook_result, _checked_node_hook_result,
                             _expands_to)
from ._function_ctx import _backward_ctx_style    # (importing it fills function's slots)
from ._grad_sums import _accumulate
from ._sparse_grads import sparse_backward
from .function import Function, NotDifferentiable


def _call(node, grads, create_graph, check_anomaly):
    """Run one node's backward and check what it returns against its inputs."""
    attrs = node.__dict__
    hooks = attrs.get("_node_pre_hooks") if attrs else None
    if hooks:
        for hook in list(hooks.values()):      # a snapshot: a hook may remove hooks
            new = hook(tuple(grads))
            if new is not None:
                grads = _checked_node_hook_result(hook, grads, new)
    post = attrs.get("_post_hooks") if attrs else None
    if (hooks or post) and not node._ctx_style and all(g is None for g in grads):
        # no gradient came, or a pre-hook dropped every one: nothing to compute, but the
        # post-hooks run (with None), as PyTorch's (a custom Function's backward is called,
        # on zeros or, with set_materialize_grads(False), on None)
        results = [None] * len(node.next_functions_)
    elif node.first_order_only and not node._ctx_style:
        if node.saved_ is None:
            node.saved_tensors     # raises "backward through the graph a second time"
        arrays = node.backward(*(g._array if g is not None else None for g in grads))
        arrays = arrays if isinstance(arrays, tuple) else (arrays,)
        results = [None if a is None else Tensor._wrap(a) for a in arrays]
        if create_graph:
            results = [None if r is None else mark_not_differentiable(r, node, grads)
                       for r in results]
    elif node._ctx_style:
        results = list(_backward_ctx_style(node, grads))
    else:
        # ``Function._backward`` inline for minigrad's own ops (one call less per node)
        if node.saved_ is None and not (attrs and attrs.get("_saves_nothing")):
            node.saved_tensors      # raises "backward through the graph a second time"
        if node._versions and attrs and attrs.get("_kept"):
            node._check_versions(kept_only=True)    # what keep_for_backward kept
        try:
            results = node.backward(*grads)
        except NotImplementedError:
            # a sparse gradient (embedding's) into an op that reads dense arrays only
            if not any(g is not None and g.is_sparse for g in grads):
                raise
            results = sparse_backward(node, grads)
        results = list(results) if isinstance(results, tuple) else [results]
    edges = node.next_functions_
    if len(results) != len(edges):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients "
                           f"(expected {len(edges)}, got {len(results)})")
    metas = node._in_meta
    needs = node.needs_input_grad or ()      # narrowed during this call (``_narrow_needs``):
    n_needs = len(needs)                     # what a backward made for an unwanted input
    for i, g in enumerate(results):          # is dropped
        if g is None or edges[i] is None or (i < n_needs and not needs[i]):
            results[i] = None
            continue
        if not isinstance(g, Tensor):
            g = results[i] = Tensor._wrap(_to_array(g))
        elif g.is_sparse:       # a sparse gradient (embedding(sparse=True)): made to measure
            continue
        shape, dtype = metas[i]
        if g._array.shape != shape:
            if not _expands_to(shape, g._array.shape):
                raise RuntimeError(f"Function {node.name()} returned an invalid gradient at "
                                   f"index {i} - got {list(g._array.shape)} but expected shape "
                                   f"compatible with {list(shape)}")
            g = results[i] = g.sum_to_size(shape)   # PyTorch sums a broadcast gradient down
        if g._array.dtype is not dtype and g._array.dtype != dtype:
            if g._array.dtype.kind == "c" and dtype.kind != "c" and node._ctx_style:
                # a custom backward's complex gradient for a real input (PyTorch's check, in
                # its words; minigrad's own ops may rely on the cast)
                raise RuntimeError("Expected isFloatingType(grad.scalar_type()) || "
                                   "(input_is_complex == grad_is_complex) to be true, but got "
                                   "false.  (Could this error message be improved?  If so, "
                                   "please report an enhancement request to PyTorch.)")
            results[i] = g.to(from_numpy_dtype(dtype)) if create_graph else Tensor._wrap(
                g._array.astype(dtype))
    if post:
        # a custom Function's hooks see the gradients of its tensor arguments only, as
        # PyTorch's (its other arguments have no place among the node's inputs)
        shown = [i for i, m in enumerate(metas) if m is not None] \
            if node._ctx_style and None in metas else None
        for hook in list(post.values()):
            given = results if shown is None else [results[i] for i in shown]
            new = hook(tuple(given), tuple(grads))
            if new is None:
                continue
            new = _checked_node_hook_result(hook, given, new)
            if shown is None:
                results = new
            else:
                for i, g in zip(shown, new):
                    results[i] = g
    if check_anomaly:
        _check_anomaly(node, results)
    return results


def _tensor_hooks(node, grads, create_graph):
    """Hooks registered on non-leaf tensors (``register_hook``), then ``retain_grad``."""
    grads = list(grads)
    for nr, hooks in (node._pre_hooks or {}).items():
        for hook in list(hooks.values()):
            grads[nr] = _checked_hook_result(hook, grads[nr], hook(grads[nr]))
    if node._retained:
        for nr, ref in node._retained.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                _accumulate(t, grads[nr], create_graph)
    return grads


def mark_not_differentiable(value, node, grads):
    """``value`` (a gradient computed by ``node``'s backward without recording a graph) made
    into a tensor that depends on the output gradients and on node's inputs, through a
    ``NotDifferentiable`` node: differentiating it again raises instead of giving zero."""
    sources = [g for g in grads if isinstance(g, Tensor) and g._requires_grad]
    for edge, meta in zip(node.next_functions_, node._in_meta):
        if edge is None or meta is None:
            continue
        source, nr = edge
        if isinstance(source, Function):      # a stand-in for that input: same node and slot
            proxy = Tensor._wrap(backend.xp_of(value._array).broadcast_to(
                value._array.dtype.type(0), meta[0]), True)
            proxy.grad_fn, proxy._output_nr = source, nr
            sources.append(proxy)
        else:
            sources.append(source)
    if not sources:
        return value
    return NotDifferentiable.apply(*sources, value=value._array, what=node.name())
