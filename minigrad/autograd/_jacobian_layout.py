"""The blocks of a vectorized Jacobian, laid out as PyTorch's single batched pass leaves them
(``_batch_layout``'s rule for each block); above the ops (``cat``), so imported only by the
modules that sit there: ``autograd.functional`` and ``minigrad._func_jacobians``.

    forward_jacobian_blocks(...) a forward-mode Jacobian's blocks for one output, laid out as
                                 PyTorch's vmap of jvp leaves them
    reverse_jacobian_blocks(...) a vectorized reverse-mode Jacobian's blocks for one input
"""
from __future__ import annotations

from ..ops.stacking import cat
from ..tensor import Tensor
from .. import backend
from ._batch_layout import _broadcast_dims, in_batch_layout, zeros_batch

__all__ = ["forward_jacobian_blocks", "reverse_jacobian_blocks"]


def _joined(pieces):
    return pieces[0] if len(pieces) == 1 else cat(pieces, 0)


def forward_jacobian_blocks(blocks, out, inputs, independent, graph=False):
    """One output's Jacobian blocks (shape ``out.shape + x.shape``, one per input) laid out as
    PyTorch's forward mode leaves them: the tangents of all the inputs' basis vectors stacked
    along a batch dim (outermost; each tangent laid out as ``out``, or zeros broadcast along
    the batch where ``out`` depends on no input), split per input, that dim moved last and
    reshaped to ``x.shape``.  ``inputs``: (the tensors func ran on, the caller's).
    ``graph``: tangents that depend on the inputs carry a graph (made views of a fresh leaf
    when they carry none)."""
    inputs, given = inputs
    sizes = [x.numel() for x in inputs]
    shape = tuple(out.shape)
    if sum(sizes) == 0 or out.numel() == 0:
        return tuple(blocks)
    if independent:
        tangents = zeros_batch(out, sum(sizes))
    else:
        tangents = _joined([b.reshape(shape + (n,)).movedim(-1, 0)
                            for b, n in zip(blocks, sizes)])
        memory = _viewed_memory(out, inputs, given, blocks)
        if memory is not None:
            tangents = _in_view_layout(tangents, out, *memory)
        else:
            tangents = in_batch_layout(tangents, out._array)
        if graph and not tangents.requires_grad:
            tangents = tangents.detach().requires_grad_()
    res, start = [], 0
    for x, n in zip(inputs, sizes):
        piece = tangents.narrow(0, start, n)
        start += n
        res.append(piece.permute(tuple(range(1, piece.dim())) + (0,))
                   .reshape(shape + tuple(x.shape)))
    return tuple(res)


def reverse_jacobian_blocks(column, outputs, x, like):
    """One input's Jacobian blocks (shape ``y.shape + x.shape``, one per output y) laid out as
    PyTorch's vectorized reverse mode leaves them: the gradients for all the outputs' basis
    vectors stacked along a batch dim (outermost; each laid out as ``like``, one gradient
    of a single pass, or zeros broadcast along the batch where ``like`` is None: no output
    depends on ``x``), split per output and viewed as ``y.shape + x.shape``."""
    sizes = [y.numel() for y in outputs]
    shape = tuple(x.shape)
    if sum(sizes) == 0 or x.numel() == 0:
        return tuple(column)
    if like is None:
        grads = zeros_batch(x, sum(sizes))
    else:
        grads = in_batch_layout(_joined([b.reshape((n,) + shape)
                                         for b, n in zip(column, sizes)]), like)
    res, start = [], 0
    for y, n in zip(outputs, sizes):
        res.append(grads.narrow(0, start, n).view(tuple(y.shape) + shape))
        start += n
    return tuple(res)


def _viewed_memory(out, inputs, given, blocks):
    """For an output that is a view (of an input, or of a tensor func made) and blocks that
    carry no graph: (the size of the memory its base's tangent has, its offset there), as
    PyTorch's forward mode makes a view's tangent the same view of its base's tangent (an
    input's tangent laid out as the caller's tensor in memory of its storage's size, another
    base's densely); else None."""
    if any(b.requires_grad for b in blocks):
        return None
    base = getattr(out, "_base", None)
    for x, mine in zip(inputs, given):
        if out is x or (base is not None and base is x):
            room = mine.untyped_storage().nbytes() // mine.element_size()
            return room, mine.storage_offset() + (0 if out is x else
                                                  out.storage_offset() - x.storage_offset())
    if base is None or _broadcast_dims(out._array):
        # (a broadcast output: in_batch_layout's broadcast tangent, whatever its base)
        return None
    return base.untyped_storage().nbytes() // base.element_size(), out.storage_offset()


def _in_view_layout(tangents, out, room, offset):
    """``tangents`` (B, *out.shape) written into B blocks of ``room`` elements each, read back
    through ``out``'s strides from ``offset`` in every block."""
    src = tangents._array
    xp, size = backend.xp_of(src), src.dtype.itemsize
    memory = xp.zeros(src.shape[0] * room + offset, src.dtype)
    view = xp.lib.stride_tricks.as_strided(
        memory[offset:], src.shape, (room * size,) + tuple(st * size for st in out.stride()))
    view[...] = src             # (a broadcast dim: equal values written over one another)
    return Tensor._wrap(view)
