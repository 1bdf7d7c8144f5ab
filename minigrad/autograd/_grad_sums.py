"""How the backward engine (``engine.py``) sums a gradient's contributions and puts a
leaf's complete gradient into its ``.grad``: two gradients added (recorded under
``create_graph``), the pieces of a basic read summed in place (``_Piece``), and the first
gradient of a leaf taken over without a copy when nothing else holds it (``_accumulate``)."""
from __future__ import annotations

import sys

import numpy as np

from .. import _grad_state, _memory_format as mf, backend, parallel
from .._grad_dtype import _CHOSEN, NOT_CHOSEN, chosen_grad_dtype
from .._tiled_copy import contiguous_copy, copy_into
from ..tensor import Tensor


def _add(a, b, create_graph):
    """Two gradient contributions summed (recorded when create_graph)."""
    if a.is_sparse:             # sparse gradients (embedding(sparse=True)) add up sparse
        return a.add(b) if b.is_sparse else b + a
    if create_graph or b.is_sparse:
        return a + b
    return Tensor._wrap(parallel.binary(np.add, a._array, b._array))


class _Piece:
    """The gradient of a basic read ``a[index]`` (ints, slices, None, ...: a view of ``a``)
    before it is made a tensor: ``array`` in the ``index`` part of zeros of ``shape``.

    The reads of many pieces of one tensor (``unbind``, ``split``, ``x[:, t]`` in a loop over
    time) each gave a full-size gradient, zeros but for their piece, and each was added to
    the sum of the ones before: quadratic in the number of pieces (an LSTM over 50 steps
    added 49 copies of its (50, 32, 1024) gate inputs, 28 of 140 ms). Kept apart, the pieces
    are added into one buffer in place (``_add_piece``)."""
    __slots__ = ("index", "array", "shape")

    def __init__(self, index, array, shape):
        self.index, self.array, self.shape = index, array, shape


def _piece_grad(node, grads, create_graph):
    """The ``_Piece`` that ``node``'s backward would make full-size, when ``node`` is a basic
    read (its class says ``grad_is_piece``) whose backward need not run: nothing recorded
    (no create_graph), no hooks on the node, a numpy gradient of the input's dtype. Else
    None."""
    if create_graph or not getattr(type(node), "grad_is_piece", False) or \
            node.__dict__.get("_node_pre_hooks") or node.__dict__.get("_post_hooks") or \
            len(grads) != 1 or not node.needs_input_grad or not node.needs_input_grad[0]:
        return None
    g = grads[0]
    shape, dtype = node._in_meta[0]
    if g is None or g.is_sparse or type(g._array) is not np.ndarray or g._array.dtype != dtype:
        return None
    return _Piece(node.index, g._array, shape)


def _add_piece(current, piece, owned):
    """``current`` (a gradient tensor, or None) plus the ``_Piece`` ``piece``: added in place
    when this pass made ``current`` from pieces (its id in ``owned``), else into a new
    buffer that the pass then owns. Nothing is added outside the piece, where adding the
    zeros of a full-size gradient left the same numbers.

    Signed zeros as PyTorch's sums of full-size gradients: a lone piece keeps its -0.0, which
    the second one's +0.0 zeros turn into +0.0. ``owned`` notes the first piece's index until
    a second one comes (then None)."""
    if current is not None and id(current) in owned:
        first = owned[id(current)]
        if first is not None:
            current._array[first] += 0.0         # -0.0 + 0.0 = +0.0, all else unchanged
            owned[id(current)] = None
        current._array[piece.index] += piece.array
        return current
    out = np.zeros(piece.shape, dtype=piece.array.dtype)
    out[piece.index] = piece.array
    if current is not None:
        a = current._array
        if current.is_sparse or type(a) is not np.ndarray or a.dtype != out.dtype or \
                a.shape != out.shape:
            return _add(current, Tensor._wrap(out), False)
        out += a
    summed = Tensor._wrap(out)
    owned[id(summed)] = piece.index if current is None else None
    return summed


def _add_leaf(leaf_grads, leaf, g, create_graph):
    entry = leaf_grads.get(id(leaf))
    if entry is None:
        leaf_grads[id(leaf)] = [leaf, g]
    else:
        entry[1] = _add(entry[1], g, create_graph)


def _accumulate(t, g, create_graph):
    """Add ``g`` into ``t.grad``: in place normally; out of place (keeping the graph) when
    ``create_graph``, as PyTorch. A first gradient that nothing else holds becomes ``.grad``
    as it is (no copy, as PyTorch steals it); one that may be shared is copied, and so is
    every first gradient under ``create_graph`` (recorded: PyTorch's CopyBackwards). A view
    made with grad mode off (``function.link_view``) keeps no gradient, as in PyTorch."""
    if t.__dict__.get("_grad_sink", True) is False:
        return
    if g.is_sparse:             # sparse gradients add up sparse, into a dense .grad dense
        t._grad = g if t._grad is None else t._grad + g
        return
    target = t._array.dtype
    if _CHOSEN:                 # (some leaf has a grad_dtype of its own)
        chosen = chosen_grad_dtype(t)
        if chosen is not NOT_CHOSEN:
            target = g._array.dtype if chosen is None else chosen.np
    if g._array.dtype != target:
        g = Tensor._wrap(g._array.astype(target))
    if t._grad is None:
        if create_graph:
            # as PyTorch: always a copy, which stays on the graph (a CopyBackwards node)
            t._grad = Tensor._wrap(_laid_out_like(t, g._array, True))
            if g.requires_grad:
                t._grad.copy_(g)
        elif _unshared(g):
            t._grad = Tensor._wrap(_laid_out_like(t, g._array, False))
        else:
            # a copy: the same gradient may be handed to several inputs (as in a + b), or
            # be a view, or be held by a hook
            t._grad = Tensor._wrap(_laid_out_like(t, g._array, True))
    elif create_graph:
        t._grad = t._grad + g
    elif t._grad.requires_grad:
        t._grad.add_(g)     # in place, as PyTorch with grad mode off: .grad keeps its flags
    else:
        t._grad._array += g._array


def _laid_out_like(t, array, copy):
    """``array``, a leaf ``t``'s first gradient, stored as PyTorch lays out a new ``.grad``:
    with ``t``'s strides when ``t`` is dense (a transposed or channels-last parameter keeps
    its layout), else row-major. The array itself when it already fits, unless ``copy``; or
    whatever its layout, under ``enforce_grad_layout_policy(False)`` (PyTorch steals it)."""
    a = t._array
    if array.size == 0 or not _grad_state.state.grad_layout:
        # (relaxed: the incoming layout, stolen or, when shared, copied as it is laid out)
        return array.copy(order="K") if copy else array
    if a.flags.c_contiguous and array.shape == a.shape:
        if not copy and array.flags.c_contiguous:
            return array        # the common case: both row-major already (no stride walk)
        if type(array) is np.ndarray and 1 not in a.shape:
            # (no size-1 dim, whose stride could be anything: t's strides are numpy's own)
            return contiguous_copy(array)      # (tiled where a transposed walk is slow)
    own = mf.element_strides(a)
    want = own if mf.is_non_overlapping_and_dense(a.shape, own) else \
        mf.row_major_strides(a.shape)
    have = mf.element_strides(array)
    if not copy and all(n < 2 or h == w for n, h, w in zip(array.shape, have, want)):
        return array
    return copy_into(mf.empty_strided(backend.xp_of(array), array.shape, want, array.dtype),
                     array)


# How many references a gradient tensor has inside _unshared when only the engine holds it
# (its entry in leaf_grads, the loop variables, _accumulate's and _unshared's parameters,
# getrefcount's argument); one more is someone else's, a hook that kept it, say.
# tests/test_autograd_v2.py checks both sides of this line.
_ENGINE_REFS = 6


def _unshared(g):
    """Whether ``g`` and its array are held by nobody outside the engine, own their memory
    and are writable: then ``.grad`` can take them over."""
    a = g._array
    base = getattr(a, "base", True)
    if base is not None and not _sole_reshape(a, base):
        return False
    return (a.flags.writeable and a.flags.c_contiguous
            and sys.getrefcount(a) <= 3 and sys.getrefcount(g) <= _ENGINE_REFS)


def _sole_reshape(a, base):
    """Whether ``a`` is a row-major reshape of all of ``base``, a numpy array that owns its
    memory and that nothing but ``a`` holds (a backward's ``fresh.reshape(shape)``): then
    ``a`` may be taken over as if it owned the memory itself."""
    return (isinstance(base, np.ndarray) and base.base is None and base.size == a.size
            and base.flags.c_contiguous and sys.getrefcount(base) <= 4)
    # (4: a's .base, _unshared's and this function's names for it, getrefcount's argument)
