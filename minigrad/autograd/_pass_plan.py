"""What one backward pass must run, worked out from the graph before the pass starts.

* ``_dependencies``: for each node reachable from the outputs (and each leaf), how many edges
  send it a gradient: a node runs once all have arrived;
* ``_needed``: for ``autograd.grad`` and ``backward(inputs=...)``, the nodes with a path to a
  wanted input (the others are not run);
* ``_narrow_needs``: a node's ``needs_input_grad`` narrowed, for one call, to the inputs whose
  gradient leads somewhere wanted, as PyTorch's engine masks a node's outputs;
* ``Reach``: what one pass runs, asked of a tensor (``engine.will_execute``).

Separate from ``engine.py``: these walk the graph and read its edges and flags, nothing
else; the pass itself (the ready queue, the sums, the hooks) stays in ``engine._run``.
"""
from __future__ import annotations

from .function import Function


def _dependencies(root_nodes, want_parents):
    """Count, for each node reachable from the roots and each leaf (by id), the edges that
    send it a gradient."""
    deps = {n: 0 for n in root_nodes}
    parents, leaf_parents, leaf_deps = {}, {}, {}
    stack = list(root_nodes)
    while stack:
        node = stack.pop()
        for edge in node.next_functions_:
            if edge is None:
                continue
            nxt = edge[0]
            if isinstance(nxt, Function):
                count = deps.get(nxt)       # (a node is in deps once seen: the roots, and
                if count is None:           # every node reached, on first reaching it)
                    deps[nxt] = 1
                    stack.append(nxt)
                else:
                    deps[nxt] = count + 1
                if want_parents:
                    parents.setdefault(nxt, []).append(node)
            else:
                leaf_deps[id(nxt)] = leaf_deps.get(id(nxt), 0) + 1
                if want_parents:
                    leaf_parents.setdefault(id(nxt), []).append(node)
    return deps, parents, leaf_parents, leaf_deps


def _needed(parents, leaf_parents, target_leaves, target_nodes):
    """The nodes whose backward must run: those with a path to a target."""
    stack = []
    for key in target_leaves:
        stack.extend(leaf_parents.get(key, ()))
    for node in target_nodes:
        stack.extend(parents.get(node, ()))
    needed = set()
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(parents.get(node, ()))
    return needed


def _narrow_needs(node, execute, target_nodes, target_leaves):
    """When only some inputs' gradients are wanted (``autograd.grad``, ``inputs=``): set the
    node's ``needs_input_grad`` to the inputs whose edge leads to a wanted gradient, so that
    its backward skips the others (a convolution's weight gradient when only the input's is
    asked for); -> the value to restore afterwards, or None when nothing was narrowed.
    Custom Functions keep theirs: PyTorch's ``ctx.needs_input_grad`` is fixed at forward."""
    needs = node.needs_input_grad
    if node._ctx_style or not needs or not any(needs):
        return None
    wanted = []
    for need, edge in zip(needs, node.next_functions_):
        if need and edge is not None:
            nxt = edge[0]
            need = (nxt in execute or nxt in target_nodes) if isinstance(nxt, Function) \
                else id(nxt) in target_leaves
        wanted.append(bool(need))
    wanted = tuple(wanted)
    if wanted == tuple(needs):
        return None
    node.needs_input_grad = wanted
    return needs


class Reach:
    """Which nodes and leaves one pass runs (``runs``); also the pass's identity (a
    multi-grad hook keeps one count per pass)."""
    __slots__ = ("deps", "leaf_deps", "root_leaves", "execute", "target_nodes",
                 "target_leaves", "accumulate", "__weakref__")

    def __init__(self, deps, leaf_deps, root_leaves, execute, target_nodes, target_leaves,
                 accumulate):
        self.deps, self.leaf_deps, self.root_leaves = deps, leaf_deps, root_leaves
        self.execute, self.target_nodes = execute, target_nodes
        self.target_leaves, self.accumulate = target_leaves, accumulate

    def runs(self, tensor):
        """Whether the pass runs ``tensor``'s node (a leaf: its AccumulateGrad). As
        PyTorch's, refused for a leaf that ``autograd.grad`` asks for."""
        node = tensor.grad_fn
        if node is None:
            key = id(tensor)
            if self.execute is not None and key not in self.target_leaves:
                return False
            if not self.accumulate:
                raise RuntimeError("A leaf node was passed to _will_engine_execute_node but we "
                                   "are currently running autograd.grad(). This is currently "
                                   "not supported.")
            return key in self.leaf_deps or key in self.root_leaves
        return node in self.deps and (self.execute is None or node in self.execute or
                                      node in self.target_nodes)
