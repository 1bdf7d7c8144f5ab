"""Draw the autograd graph behind a tensor: Graphviz DOT text, an image, or a text tree.

    >>> import minigrad as torch
    >>> from minigrad import viz
    >>> model = torch.nn.Conv2d(1, 2, 3)
    >>> y = model(torch.randn(1, 1, 5, 5)).relu().sum()
    >>> g = viz.draw_graph(y, params=dict(model.named_parameters()))
    >>> print(g)                  # the text tree (no Graphviz needed)
    output () float32
    └── SumBackward0 () float32
        └── ReluBackward0 (1, 2, 3, 3) float32
            └── ConvolutionBackward0 (1, 2, 3, 3) float32
                ├── weight (2, 1, 3, 3) float32
                └── bias (2) float32
    >>> g.source                  # doctest: +ELLIPSIS
    'digraph autograd {...'
    >>> g.render("graph", format="svg")     # needs Graphviz's dot  # doctest: +SKIP
    'graph.svg'

As torchviz's ``make_dot``: one box per op, named as PyTorch names the backward nodes
(``grad_fn.name()``: 'ConvolutionBackward0', 'AddBackward0', ...), leaves (the tensors that
receive gradients, in light blue) named from ``params`` (``dict(model.named_parameters())``),
the output in green, and arrows in the direction data flows in forward (inputs -> op). Each
box shows its output's shape and dtype (recorded by ``Function.apply`` as ``_out_meta``).
Inputs that do not require grad (the image) are not part of the graph, as in PyTorch.
Unlike torchviz there is no separate 'AccumulateGrad' box: the leaf points at its op directly.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .autograd import Function
from .tensor import Tensor

__all__ = ["draw_graph", "Graph", "GraphNode"]

_COLORS = {"output": "darkolivegreen1", "leaf": "lightblue", "op": "lightgray"}


@dataclass
class GraphNode:
    id: str                        # 'n0', 'n1', ... in the order met walking back from the output
    kind: str                      # 'output', 'op' or 'leaf'
    name: str                      # 'ConvolutionBackward0', 'conv1.weight', 'output'
    shape: Optional[Tuple[int, ...]] = None
    dtype: Optional[str] = None

    def describe(self, show_shapes=True) -> str:
        if not show_shapes or self.shape is None:
            return self.name
        return f"{self.name} {_shape_text(self.shape)} {self.dtype}"


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _dtype_text(dtype) -> str:
    name = getattr(dtype, "name", None) or str(dtype)
    return "bool" if name in ("bool_", "bool") else name


def _dot_quote(text) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Graph:
    """The graph behind a tensor. ``.source``: DOT text; ``.render(path)``: an image through
    Graphviz's ``dot``; ``.text()`` / ``print(graph)``: a plain-text tree; ``.nodes`` and
    ``.edges`` (pairs of node ids, forward direction: input -> op -> output)."""

    def __init__(self, nodes: List[GraphNode], edges: List[Tuple[str, str]], children,
                 roots: List[str], show_shapes=True):
        self.nodes = nodes
        self.edges = edges
        self._children = children          # node id -> input node ids, in argument order
        self._roots = roots
        self.show_shapes = show_shapes
        self._by_id = {n.id: n for n in nodes}

    def node(self, name) -> Optional[GraphNode]:
        """The first node called ``name`` ('ReluBackward0', 'conv1.weight'...), or None."""
        for n in self.nodes:
            if n.name == name:
                return n
        return None

    def inputs_of(self, node_id) -> List[GraphNode]:
        """The nodes feeding ``node_id`` (for an op: its inputs that carry gradients)."""
        return [self._by_id[i] for i in self._children.get(node_id, [])]

    # -- DOT ----------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        lines = ["digraph autograd {",
                 "    graph [rankdir=TB]",
                 "    node [shape=box style=\"filled,rounded\" fillcolor=lightgray "
                 "fontname=monospace fontsize=10 height=0.2]"]
        for n in self.nodes:
            label = n.name
            if self.show_shapes and n.shape is not None:
                label += f"\n{_shape_text(n.shape)} {n.dtype}"
            color = "" if n.kind == "op" else f" fillcolor={_COLORS[n.kind]}"
            lines.append(f"    {n.id} [label={_dot_quote(label)}{color}]")
        for a, b in self.edges:
            lines.append(f"    {a} -> {b}")
        lines.append("}")
        return "\n".join(lines) + "\n"

    def save(self, path) -> str:
        """Write the DOT text to ``path``; returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.source)
        return str(path)

    def render(self, path, format="svg") -> str:
        """Draw the graph to ``path`` (``.svg``/``.png``/... appended unless already there)
        with Graphviz's ``dot`` program; returns the file's path."""
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError(
                "Graph.render needs the 'dot' program of Graphviz, which was not found on the "
                "PATH. Install Graphviz (apt install graphviz, brew install graphviz, conda "
                "install graphviz, or https://graphviz.org/download/), or use graph.source "
                "(DOT text, for any Graphviz viewer), graph.save('graph.dot') or graph.text().")
        path = os.fspath(path)
        if not path.endswith("." + format):
            path = f"{path}.{format}"
        done = subprocess.run([exe, f"-T{format}", "-o", path], input=self.source.encode(),
                              capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"dot -T{format} failed (exit {done.returncode}): "
                               f"{done.stderr.decode(errors='replace').strip()}")
        return path

    def to_graphviz(self):
        """A ``graphviz.Source`` (needs the optional ``graphviz`` Python package)."""
        try:
            import graphviz
        except ImportError as error:
            raise ImportError("Graph.to_graphviz needs the 'graphviz' Python package (pip "
                              "install graphviz); graph.source is the same DOT text") from error
        return graphviz.Source(self.source)

    def _repr_svg_(self):            # Jupyter: draw inline when dot is there, else the text
        if shutil.which("dot") is None:
            return None
        done = subprocess.run([shutil.which("dot"), "-Tsvg"], input=self.source.encode(),
                              capture_output=True)
        return done.stdout.decode() if done.returncode == 0 else None

    # -- text ---------------------------------------------------------------------------------
    def text(self) -> str:
        """A plain-text tree from the output back to the leaves. An op reached a second time
        (its output used twice) is marked '(shown above)' instead of being expanded again."""
        lines = []
        expanded = set()
        stack = [(root, "", "", True) for root in reversed(self._roots)]
        while stack:
            node_id, first, rest, is_root = stack.pop()
            node = self._by_id[node_id]
            label = node.describe(self.show_shapes)
            children = self._children.get(node_id, [])
            if node.kind == "op" and node_id in expanded:
                lines.append(first + label + "  (shown above)")
                continue
            expanded.add(node_id)
            lines.append(first + label)
            for k in range(len(children) - 1, -1, -1):
                last = k == len(children) - 1
                stack.append((children[k], rest + ("└── " if last else "├── "),
                              rest + ("    " if last else "│   "), False))
        return "\n".join(lines)

    def __str__(self):
        return self.text()

    def __repr__(self):
        return (f"<minigrad.viz.Graph: {len(self.nodes)} nodes, {len(self.edges)} edges; "
                "print() it for a tree, .source for DOT, .render(path) for an image>")


def _param_names(params):
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):              # a Module
        params = dict(params.named_parameters())
    items = params.items() if hasattr(params, "items") else params
    return {id(t): name for name, t in items}


def draw_graph(tensor, show_shapes=True, params=None) -> Graph:
    """The autograd graph behind ``tensor`` (or a list/tuple of tensors).

    show_shapes: label each box with its output's shape and dtype.
    params: names for the leaves, ``dict(model.named_parameters())`` (or the model itself).
    Returns a ``Graph``; raises ``ValueError`` for a tensor with no graph behind it.
    """
    roots = list(tensor) if isinstance(tensor, (list, tuple)) else [tensor]
    for i, t in enumerate(roots):
        if not isinstance(t, Tensor):
            raise TypeError(f"draw_graph: expected a Tensor, got {type(t).__name__}")
        if t.grad_fn is None and not t.requires_grad:
            raise ValueError(
                "draw_graph: " + (f"tensor {i} " if len(roots) > 1 else "the tensor ")
                + f"{_shape_text(t.shape)} has no autograd graph: it does not require grad "
                "(it was computed under no_grad(), or from tensors none of which requires "
                "grad; parameters and tensors made with requires_grad=True start a graph)")
    names = _param_names(params)
    nodes: List[GraphNode] = []
    edges: List[Tuple[str, str]] = []
    children = {}
    ids = {}                            # id(Function or leaf Tensor) -> node id

    def new_node(kind, name, shape, dtype):
        node = GraphNode(f"n{len(nodes)}", kind, name, shape, dtype)
        nodes.append(node)
        return node.id

    def node_for(obj):
        """The node id of a Function or a leaf Tensor, created on first sight."""
        key = id(obj)
        if key in ids:
            return ids[key], False
        if isinstance(obj, Function):
            meta = getattr(obj, "_out_meta", None)
            meta = meta[0] if meta else None           # the node's first output
            shape, dtype = ((tuple(meta[0]), _dtype_text(meta[1])) if meta else (None, None))
            node_id = new_node("op", obj.name(), shape, dtype)
        else:
            node_id = new_node("leaf", names.get(key, "leaf tensor"), tuple(obj.shape),
                               _dtype_text(obj.dtype))
        ids[key] = node_id
        return node_id, True

    root_ids = []
    keep_alive = []                       # objects whose id() is a key must outlive the walk
    for i, t in enumerate(roots):
        out_id = new_node("output", "output" if len(roots) == 1 else f"output {i}",
                          tuple(t.shape), _dtype_text(t.dtype))
        root_ids.append(out_id)
        source = t.grad_fn if t.grad_fn is not None else t
        keep_alive.append(source)
        src_id, fresh = node_for(source)
        edges.append((src_id, out_id))
        children[out_id] = [src_id]
        stack = [source] if fresh and isinstance(source, Function) else []
        while stack:                                   # iterative: deep graphs are fine
            fn = stack.pop()
            fn_id = ids[id(fn)]
            inputs = []
            for edge in fn.next_functions_:
                if edge is None:
                    continue
                edge = edge[0]                       # (node or leaf, output number)
                keep_alive.append(edge)
                edge_id, fresh = node_for(edge)
                inputs.append(edge_id)
                edges.append((edge_id, fn_id))
                if fresh and isinstance(edge, Function):
                    stack.append(edge)
            children[fn_id] = inputs
    return Graph(nodes, edges, children, root_ids, show_shapes)
