"""``next_functions`` as PyTorch shows it for a node whose op takes a Python number.

minigrad hands a number operand to its op as a 0-d constant tensor, an input of the node
without a gradient, shown as ``(None, 0)``; several of PyTorch's nodes for such ops have no
edge for the number at all (``1 - x``'s ``RsubBackward1``, ``x ** 2``'s ``PowBackward0``,
``tril``'s ``TrilBackward0``), or list their inputs in another order than minigrad's op
takes them (``masked_fill``'s: self, then the value). ``shown_inputs(*positions)`` is a
``next_functions`` for such an op's class that shows the inputs at those positions, in that
order. Only what is shown changes: the edges themselves (which the engine follows) stay,
and the hidden ones lead nowhere (their operand needs no gradient).

``node_below(name)`` is a ``next_functions`` for an op whose PyTorch form runs one more
step before it, which passes the gradient on unchanged (a reshape that copies: PyTorch's
``UnsafeViewBackward0`` over a ``CloneBackward0``): on the first read, outside a backward
pass, it puts a real node of that name under the op's first input (hooks on it run, as
linear's split nodes, ``ops/linear.py``); a graph nobody reads never gets it.
"""
from __future__ import annotations

from ._node_names import _node_type
from .engine import _pass as _backward_pass
from .function import Function

__all__ = ["shown_inputs", "padded_inputs", "copy_slices_edges", "node_below", "new_node"]

_all_edges = Function.next_functions.fget


def shown_inputs(*positions):
    """A ``next_functions`` property showing the node's inputs at ``positions``, in order."""
    def next_functions(self):
        edges = _all_edges(self)
        return tuple(edges[i] for i in positions if i < len(edges))
    return property(next_functions, doc=f"The edges of inputs {positions}, as PyTorch's node "
                                        f"lists its own (see ``autograd._shown_edges``).")


def padded_inputs(count):
    """A ``next_functions`` property showing the node's inputs followed by ``(None, 0)`` up to
    ``count`` edges: PyTorch's node has an edge for an optional input not given (a
    convolution's bias), minigrad's op takes no such input."""
    def next_functions(self):
        edges = _all_edges(self)
        return edges + ((None, 0),) * (count - len(edges))
    return property(next_functions, doc=f"The node's edges, (None, 0) for the optional inputs "
                                        f"not given, {count} in all, as PyTorch's.")


def _copy_slices_edges(self):
    edges = _all_edges(self)
    op = self.__dict__.get("_op_node")
    return edges if op is None else edges[:1] + op.next_functions[1:]


# A write through a view made by an in-place op (``base[0].mul_(2)``): minigrad's node is
# ``CopySlices(base before, op(view of base, *others))``; PyTorch's CopySlices holds the op's
# node inside it and lists the base's edge, then the op's other inputs. With ``_op_node``
# (the op's node, set by ``ops/writes``) shown so; the edges followed stay minigrad's.
copy_slices_edges = property(_copy_slices_edges, doc="The base's edge, then the other inputs "
                             "of the in-place op written through the view, as PyTorch's.")


class _PassOn(Function):
    """The step ``node_below`` shows under an op (renamed as PyTorch's node for it): its
    gradient is the one it got."""

    def backward(self, g):
        return g


def new_node(op, seq, edges, needs, in_meta, out_meta):
    """A node of ``op`` made by hand, for the nodes of PyTorch's graph that a fused node is
    split into when its graph is read: sequence number ``seq``, ``edges`` to the nodes below
    (as ``next_functions_`` holds them), ``needs_input_grad``, and the (shape, dtype) of each
    input and output."""
    node = _node_type(op)()
    node.saved_ = ()
    node._seq = seq
    node._versions = node._retained = node._pre_hooks = node._shapes = None
    node.next_functions_, node.needs_input_grad = tuple(edges), tuple(needs)
    node._in_meta, node._out_meta = tuple(in_meta), tuple(out_meta)
    return node


def _put_below(node, op):
    """A node of ``op`` between ``node`` and its first input's edge, made as the op's own
    nodes are (its sequence number just below ``node``'s: PyTorch runs the step first)."""
    edges = node.next_functions_
    below = new_node(op, node._seq - 0.5, edges[:1], node.needs_input_grad[:1],
                     node._in_meta[:1], node._in_meta[:1])
    node.next_functions_ = ((below, 0),) + tuple(edges[1:])
    return below


def node_below(node_name):
    """A ``next_functions`` property that shows (and from its first read, outside a backward
    pass, runs) a ``node_name`` node passing the gradient on between the node and its first
    input, as PyTorch's graph has it."""
    op = _PassOn.renamed(node_name)

    def next_functions(self):
        attrs = self.__dict__
        if "_node_below" not in attrs and getattr(_backward_pass, "callbacks", None) is None:
            attrs["_node_below"] = None if self.next_functions_[0] is None else \
                _put_below(self, op)
        return _all_edges(self)
    return property(next_functions, doc=f"The node's edges, its first input's through a "
                                        f"{node_name} node, as PyTorch's.")
