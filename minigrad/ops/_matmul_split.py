"""A batched ``matmul``'s node laid out as PyTorch's graph, made when someone looks at it.

minigrad multiplies batches in one node (``matmul.MatMul``, named ``UnsafeViewBackward0`` as
the node PyTorch's matmul ends in). PyTorch's graph has more nodes there, and graph drawers
and walkers read them:

* a batch times a matrix (``x @ W`` with x of 3 or more dims, folded into one matrix):
  ``UnsafeViewBackward0`` over ``MmBackward0`` of (x's reshape to rows, W), or over
  ``MvBackward0`` for a vector;
* a vector times a matrix: ``SqueezeBackward4`` over ``MmBackward0`` of (the vector's
  ``UnsqueezeBackward0`` to a row, the matrix);
* two batches (``q @ k.transpose(-1, -2)``), or a batch that PyTorch does not fold times a
  matrix: ``UnsafeViewBackward0`` over ``BmmBackward0`` of each operand's
  ``ExpandBackward0`` to the broadcast batch, reshaped to one batch dim.

Each reshape is named as PyTorch's reshape of that layout names it: ``ViewBackward0`` of
contiguous memory, ``ReshapeAliasBackward0`` of a strided view, ``UnsafeViewBackward0`` of a
copy (``movement._reshape_node``'s rule). ``split_batched`` makes those nodes on the first
read of the node's ``next_functions`` (``matmul.py`` calls it through its ``split_batched``
slot, which this module fills), outside a backward pass: from then on the gradients go
through them (hooks on them run); the node itself becomes the final reshape (or squeeze).
A graph nobody reads keeps the one fused node. Left fused: a vector or a matrix times a
batch, a batch of one (PyTorch squeezes it first), a batch times a vector or matrix that
PyTorch does not fold, 16-bit nodes, saved values with hooks of their own, and graphs a
backward has freed. ``_saved_self`` / ``_saved_mat2`` of the mm / bmm node are the operands
as given (PyTorch's: as reshaped).
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..autograd._node_names import _node_type
from ..autograd._shown_edges import new_node
from ..autograd.engine import _pass as _backward_pass
from . import matmul as _matmul
from ._util import broadcast_shape
from .matmul import MatMul, _mT
from .movement import _RESHAPE_ALIAS, _RESHAPE_AS_VIEW, _RESHAPE_COPIED, view_strides
from .plumbing import Expand, Reshape, conj_of, expand_to, reshape_to

__all__ = ["split_batched"]


class _Product(Function):
    """mm / bmm of the operands reshaped (and expanded) as PyTorch's matmul does, keeping the
    operands as given: its backward makes the reshaped ones again (``expanded``: the shape
    each was expanded to) and gives the gradients of the reshaped operands."""
    saved_names = ("self", "mat2")

    def backward(self, g):
        a, b = self.saved_tensors      # a kept only when b needs a gradient, b when a does
        need_a, need_b = self.needs_input_grad
        (sa, _), (sb, _) = self._in_meta
        ea, eb = self.expanded
        ga = gb = None
        if len(sb) == 1:        # mv: (rows, k) @ (k,) -> (rows,)
            if need_a:
                ga = MatMul.apply(reshape_to(g, (sa[0], 1)), reshape_to(conj_of(b), (1, sb[0])))
            if need_b:
                gb = MatMul.apply(_mT(reshape_to(conj_of(a), sa)), g)
            return ga, gb
        if need_a:
            ga = MatMul.apply(g, _mT(reshape_to(expand_to(conj_of(b), eb), sb)))
        if need_b:
            gb = MatMul.apply(_mT(reshape_to(expand_to(conj_of(a), ea), sa)), g)
        return ga, gb


_MM, _BMM, _MV = (_Product.renamed(name) for name in ("MmBackward0", "BmmBackward0",
                                                         "MvBackward0"))
# the node itself once split: the product's result viewed back to the batch shape (a vector
# times a matrix: the row squeezed away), and a vector's row made before the product
_FINAL_VIEW, _SQUEEZE, _UNSQUEEZE = (Reshape.renamed(name) for name in (
    "UnsafeViewBackward0", "SqueezeBackward4", "UnsqueezeBackward0"))


def _row_major(shape, strides):
    """Are ``strides`` (bytes) row-major for ``shape``, size-1 dims aside (numpy's and
    PyTorch's contiguity)?"""
    step = None
    for size, stride in zip(reversed(shape), reversed(strides)):
        if size == 1:
            continue
        if step is not None and stride != step:
            return False
        step = stride * size
    return True


def _reshape_op(shape, strides, new_shape):
    """The node PyTorch's reshape of memory laid out so records (``movement._reshape_node``)."""
    if _row_major(shape, strides):
        return _RESHAPE_AS_VIEW
    if view_strides(shape, strides, new_shape) is None:
        return _RESHAPE_COPIED
    return _RESHAPE_ALIAS


def _expanded_strides(shape, strides, target):
    """The strides of ``shape``/``strides`` expanded to ``target``: 0 on new and repeated dims."""
    lead = len(target) - len(shape)
    return tuple(0 if i < lead or shape[i - lead] != target[i] else strides[i - lead]
                 for i in range(len(target)))


def _operand(edge, need, meta, strides, expanded, flat, seq, reshape_op=None):
    """The edge to the product from one operand: its expand to ``expanded`` (None: none)
    and reshape to ``flat`` nodes over ``edge`` (the reshape by ``reshape_op``, else named by
    the layout), sequence numbers from ``seq`` on."""
    if edge is None:
        return None
    shape, dtype = meta
    if expanded is not None:
        node = new_node(Expand, seq, (edge,), (need,), (meta,), ((expanded, dtype),))
        node.in_shape = shape
        edge, strides, shape = (node, 0), _expanded_strides(shape, strides, expanded), expanded
    if flat == shape and expanded is None:
        return edge
    node = new_node(reshape_op or _reshape_op(shape, strides, flat), seq + 0.05, (edge,), (True,),
                    ((shape, dtype),), ((flat, dtype),))
    node.in_shape = shape
    return (node, 0)


def _folds(shape, strides, itemsize, other_needs):
    """Does PyTorch fold a batch of ``shape``/``strides`` times a matrix into one matrix
    product (``matmul._folds``, from the shapes the node kept)?"""
    if other_needs or 0 in shape:
        return True
    steps = [s // itemsize for s in strides]
    return all(steps[i] == steps[i + 1] * shape[i + 1] for i in range(len(shape) - 2))


def split_batched(node):
    """Lay the batched MatMul ``node`` out as PyTorch's nodes, where it can be (see the
    module docstring); once. Returns ``node``."""
    attrs = node.__dict__
    if "_split" in attrs or getattr(_backward_pass, "callbacks", None) is not None:
        return node
    attrs["_split"] = True
    edges, needs = node.next_functions_, node.needs_input_grad
    if len(edges) != 2 or node.saved_ is None or attrs.get("_packed") is not True or \
            node._wide_sources is not None or not isinstance(node, MatMul):
        return node
    (sa, da), (sb, db) = node._in_meta
    (so, do), = node._out_meta
    stra, strb = node.strides
    if len(sa) >= 3 and len(sb) <= 2 and _folds(sa, stra, da.itemsize, needs[1]):
        rows = math.prod(sa[:-1])
        op, flat_a, flat_b = (_MM, (rows, sa[-1]), sb) if len(sb) == 2 else \
            (_MV, (rows, sa[-1]), sb)
        out = (rows, sb[-1]) if len(sb) == 2 else (rows,)
        expanded = (None, None)
    elif len(sa) >= 3 and len(sb) >= 2 and math.prod(sa[:-2]) != 1 and \
            (len(sb) == 2 or math.prod(sb[:-2]) != 1):
        # (a matrix b not folded with a: expanded to the batch too)
        batch = broadcast_shape(tuple(sa[:-2]), tuple(sb[:-2]))
        n = math.prod(batch)
        expanded = (batch + tuple(sa[-2:]), batch + tuple(sb[-2:]))
        op, flat_a, flat_b, out = _BMM, (n,) + tuple(sa[-2:]), (n,) + tuple(sb[-2:]), \
            (n, sa[-2], sb[-1])
    elif len(sa) == 1 and len(sb) == 2:          # a vector times a matrix, as a row
        op, flat_a, flat_b, out = _MM, (1, sa[0]), sb, (1, sb[1])
        expanded = (None, None)
    else:
        return node
    seq = node._seq
    product = new_node(op, seq - 0.5, (
        _operand(edges[0], needs[0], (sa, da), stra, expanded[0], flat_a, seq - 0.9,
                 _UNSQUEEZE if len(sa) == 1 else None),
        _operand(edges[1], needs[1], (sb, db), strb, expanded[1], flat_b, seq - 0.7)),
        needs, ((flat_a, da), (flat_b, db)), ((out, do),))
    product.expanded = tuple(e or s for e, s in zip(expanded, (sa, sb)))
    product.saved_, product._versions, product._packed = node.saved_, node._versions, True
    # the node itself: the product's result viewed back to the batch shape
    node.__class__ = _node_type(_SQUEEZE if len(sa) == 1 else _FINAL_VIEW)
    node.in_shape = out
    node.saved_, node._versions = (), None
    node.next_functions_, node.needs_input_grad, node._in_meta = ((product, 0),), (True,), \
        ((out, do),)
    return node


_matmul.split_batched = split_batched
