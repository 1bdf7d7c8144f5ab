"""The nodes of ``cat`` / ``stack`` and of ``split`` / ``chunk`` / ``unbind``, which are each
other's backward.

* ``Cat`` and ``Stack``: numpy's concatenate / stack into an array laid out as PyTorch's
  (channels-last when all inputs are); backward hands each input its slice of the gradient
  (a basic-slice view, whose own backward pads it back with zeros).
* ``Split``, ``SplitWithSizes`` and ``Unbind``: one node with an output per piece, as
  PyTorch's ``SplitBackward0`` / ``SplitWithSizesBackward0`` / ``UnbindBackward0``. Every
  piece's ``grad_fn`` is that node, its ``output_nr`` its place, so that graph readers
  (``next_functions`` of a consumer names ``(node, k)``), hooks on the node (called once,
  with a gradient or None per piece) and ``_saved_dim`` / ``_saved_split_size(s)`` /
  ``_saved_self_sym_sizes`` read as PyTorch's. ``pieces`` makes them: ``Function.apply``
  runs for the first piece (views, profiler, anomaly trace as for any op), the others are
  wrapped beside it and given the same node. Backward writes the gradients that came into
  one zero tensor; under ``create_graph`` it is a ``cat`` / ``stack`` of them (zeros for a
  piece without one), differentiable again, as PyTorch's.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import _memory_format as mf
from ..autograd import Function
from ..autograd._view_tracking import link_view
from ..autograd.grad_mode import _state
from ..tensor import Tensor
from .._tiled_copy import copy_into
from .indexing import BasicGetItem

__all__ = ["Cat", "Stack", "Split", "SplitWithSizes", "Unbind", "pieces"]


def _narrow(g, dim, start, size):
    """``g[..., start:start + size, ...]`` along ``dim``: a differentiable view of g."""
    index = (slice(None),) * dim + (slice(start, start + size),)
    return BasicGetItem.apply(g, index=index, basic=True)


def _joined_layout(xp, arrays, shape, stacked=None):
    """The array cat (stack along dim ``stacked``) writes into, laid out as PyTorch's: in the
    channels-last format all the inputs share (stack: in the order of the first input's
    strides with the new dim unsqueezed in), else row-major."""
    fmt = mf.suggest(arrays[0])
    if fmt is not mf.contiguous_format and all(mf.suggest(a) is fmt for a in arrays[1:]):
        if stacked is not None and stacked < arrays[0].ndim:     # (a last new dim: row-major)
            strides = mf.unsqueezed_order_strides(arrays[0], stacked, shape)
        elif stacked is None:
            strides = mf.target_strides(xp.broadcast_to(xp.empty((), arrays[0].dtype), shape),
                                        fmt)
        else:
            return xp.empty(shape, arrays[0].dtype)
        return mf.empty_strided(xp, shape, strides, arrays[0].dtype)
    return xp.empty(shape, arrays[0].dtype)


class Cat(Function):
    """Concatenate along ``dim``.  Backward: each input gets its slice of the gradient
    (a gather whose backward pads it back with zeros)."""
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "dim"}

    def forward(self, *arrays, dim, legacy=()):
        # legacy: the positions of PyTorch's legacy empty 1-d inputs (shape (0,)), which take
        # no part in the join but are inputs of the node, so that each gets an empty gradient
        self.dim, self.legacy = dim, legacy
        if legacy:
            arrays = [a for i, a in enumerate(arrays) if i not in legacy]
        self.sizes = [a.shape[dim] for a in arrays]
        xp = backend.xp_of(arrays[0])
        shape = list(arrays[0].shape)
        shape[dim] = sum(self.sizes)
        out = _joined_layout(xp, arrays, tuple(shape))
        if xp is np and out.nbytes >= 1 << 18 and \
                all(a.dtype == out.dtype and a.ndim for a in arrays) and \
                not all(a.flags.c_contiguous for a in arrays):
            # (a transposed input: each copied into its place by the tiled copy, which
            # walks such an input faster than concatenate's walk)
            start, lead = 0, (slice(None),) * dim
            for a, size in zip(arrays, self.sizes):
                copy_into(out[lead + (slice(start, start + size),)], a)
                start += size
            return out
        return xp.concatenate(arrays, axis=dim, out=out)

    def backward(self, g):
        if self.legacy:
            return self._with_legacy(g)
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_input_grad):
            grads.append(_narrow(g, self.dim, start, size) if needed else None)
            start += size
        return tuple(grads)

    def _with_legacy(self, g):
        """Each joined input its slice of ``g``; each legacy empty one zeros of shape (0,)."""
        grads, start, sizes = [], 0, iter(self.sizes)
        for i, needed in enumerate(self.needs_input_grad):
            if i in self.legacy:
                grads.append(Tensor._wrap(backend.xp_of(g._array).zeros((0,), g._array.dtype))
                             if needed else None)
                continue
            size = next(sizes)
            grads.append(_narrow(g, self.dim, start, size) if needed else None)
            start += size
        return tuple(grads)


class Stack(Function):
    """Stack equal shapes along a new axis ``dim``.  Backward: input i gets ``g`` at
    position i of that axis."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, *arrays, dim):
        self.dim = dim
        xp = backend.xp_of(arrays[0])
        shape = arrays[0].shape[:dim] + (len(arrays),) + arrays[0].shape[dim:]
        # xp.stack's own steps, without its checks (made by stack()): each array with a new
        # axis of 1 at dim (a view), then one concatenate
        new_axis = (slice(None),) * dim + (None,)
        return xp.concatenate([a[new_axis] for a in arrays], axis=dim,
                              out=_joined_layout(xp, arrays, shape, stacked=dim))

    def backward(self, g):
        lead = (slice(None),) * self.dim
        return tuple(BasicGetItem.apply(g, index=lead + (i,), basic=True) if needed else None
                     for i, needed in enumerate(self.needs_input_grad))


class _Pieces(Function):
    """The pieces of the input along ``dim`` (``indices``: their basic indices), one output
    each; ``forward`` gives the first (``pieces`` wraps the others)."""
    returns_view = True
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "dim", "self_sym_sizes": "in_shape"}

    def forward(self, a, *, dim, indices, sizes):
        self.in_shape, self.dim, self.indices, self.sizes = a.shape, dim, indices, sizes
        return a[indices[0]]

    def backward(self, *grads):
        shape, dtype = self._in_meta[0]
        given = next((g._array for g in grads if g is not None), None)
        if given is None:               # (called by hand with no gradient)
            return None
        xp = backend.xp_of(given)
        if not _state.enabled:          # a plain backward: written into one zero tensor
            out = xp.zeros(shape, dtype)
            for index, g in zip(self.indices, grads):
                if g is not None:
                    out[index] = g._array
            return Tensor._wrap(out)
        # recorded: PyTorch's cat (stack) of the gradients, zeros for a piece without one
        return self.joined([Tensor._wrap(xp.zeros(self._out_meta[k][0], dtype)) if g is None
                            else g for k, g in enumerate(grads)])

    def joined(self, parts):
        return Cat.apply(*parts, dim=self.dim)


class Split(_Pieces):
    """``split`` by one size (``chunk`` too): ``SplitBackward0``."""
    saved_fields = dict(_Pieces.saved_fields, split_size="split_size")


class SplitWithSizes(_Pieces):
    """``split`` by a list of sizes: ``SplitWithSizesBackward0``."""
    saved_fields = dict(_Pieces.saved_fields, split_sizes="sizes")


class Unbind(_Pieces):
    """``unbind``: the input's slices at each place along ``dim``, that dim removed
    (``UnbindBackward0``; its backward a stack)."""
    saved_fields = {"dim": "dim"}

    def joined(self, parts):
        return Stack.apply(*parts, dim=self.dim)


def pieces(kind, a, dim, bounds, split_size=None):
    """``a``'s pieces along ``dim`` as views sharing one ``kind`` node (Split,
    SplitWithSizes: ``bounds`` the (start, stop) of each; Unbind: ``bounds`` the places),
    a list. ``split_size``: what ``split`` was given, for ``_saved_split_size``."""
    lead = (slice(None),) * dim
    if kind is Unbind:
        indices = [lead + (i, Ellipsis) for i in bounds]    # (...: a 0-d piece stays a view)
        sizes = None
    else:
        indices = [lead + (slice(s, e),) for s, e in bounds]
        sizes = tuple(e - s for s, e in bounds)
    first = kind.apply(a, dim=dim, indices=indices, sizes=sizes)
    array = a._array
    out = [first]
    for index in indices[1:]:
        t = Tensor._wrap(array[index])
        link_view(t, a)
        out.append(t)
    node = first.grad_fn
    if node is not None and isinstance(node, kind):
        if split_size is not None:
            node.split_size = split_size
        metas = [(first._array.shape, first._array.dtype)]
        for j, t in enumerate(out[1:], 1):
            t._requires_grad = True
            t.grad_fn = node
            t._output_nr = j
            metas.append((t._array.shape, t._array.dtype))
        node._out_meta = tuple(metas)
    return out
