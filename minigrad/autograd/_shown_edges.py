"""``next_functions`` as PyTorch shows it for a node whose op takes a Python number.

minigrad hands a number operand to its op as a 0-d constant tensor, an input of the node
without a gradient, shown as ``(None, 0)``; several of PyTorch's nodes for such ops have no
edge for the number at all (``1 - x``'s ``RsubBackward1``, ``x ** 2``'s ``PowBackward0``,
``tril``'s ``TrilBackward0``), or list their inputs in another order than minigrad's op
takes them (``masked_fill``'s: self, then the value). ``shown_inputs(*positions)`` is a
``next_functions`` for such an op's class that shows the inputs at those positions, in that
order. Only what is shown changes: the edges themselves (which the engine follows) stay,
and the hidden ones lead nowhere (their operand needs no gradient).
"""
from __future__ import annotations

from .function import Function

__all__ = ["shown_inputs", "padded_inputs", "copy_slices_edges"]

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
