"""The strides of PyTorch's ``einsum`` result, found by walking its chain of ops (permute,
unsqueeze, sum, mul, bmm, view: ``_einsum_16bit.contract_16bit``) over shapes and strides
alone: ``einsum_strides(subs, out, arrays, ellipsis_letters)``.

PyTorch's result is the last op's: a permuted view of a row-major bmm product (its dims in
the order shared-kept, left's own, right's own), a broadcast product laid out by its
iterator, a row-major sum, or a view of an operand.  minigrad computes the values otherwise
(one matmul, numpy's einsum) and lays its result out with these strides.

Rules the stand-ins follow (PyTorch's):

* ``unsqueeze(t, d)``: the new dim's stride is ``size * stride`` of the dim it goes before,
  1 at the end;
* ``reshape`` / ``view``: a view where the old strides allow one (dims merged or split
  within runs of one step pattern, size-1 dims given the stride of what follows them),
  else a row-major copy;
* ``sum`` and ``bmm``: a new row-major tensor;
* ``mul``: the iterator's layout (``_memory_format``'s rule for pointwise results).
"""
from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from .. import _memory_format as mf
from ._einsum_16bit import contract_16bit
from .movement import view_strides


class _Layout:
    """A stand-in tensor: a shape and element strides."""
    __slots__ = ("shape", "strides")

    def __init__(self, shape, strides):
        self.shape, self.strides = tuple(shape), tuple(strides)

    @property
    def ndim(self):
        return len(self.shape)


def _row_major(shape):
    return _Layout(shape, mf._dense_strides(shape, range(len(shape))))


def _unsqueeze(t, d):
    step = t.shape[d] * t.strides[d] if d < t.ndim else 1
    return _Layout(t.shape[:d] + (1,) + t.shape[d:], t.strides[:d] + (step,) + t.strides[d:])


def _permute(t, order):
    return _Layout([t.shape[d] for d in order], [t.strides[d] for d in order])


def _reshape(t, shape):
    shape = tuple(shape)
    # (a 0-d or empty tensor reshapes as a row-major one; else PyTorch's view rule, or a copy)
    strides = None if not t.shape or 0 in t.shape else view_strides(t.shape, t.strides, shape)
    return _row_major(shape) if strides is None else _Layout(shape, strides)


def _sum(t, dims, keepdim=True):
    dims = {dims} if isinstance(dims, int) else set(dims)
    if keepdim:
        return _row_major(tuple(1 if d in dims else n for d, n in enumerate(t.shape)))
    return _row_major(tuple(n for d, n in enumerate(t.shape) if d not in dims))


def _bmm(a, b):
    return _row_major((a.shape[0], a.shape[1], b.shape[2]))


def _mul(a, b):
    shape = tuple(max(m, n) if 1 in (m, n) else m for m, n in zip(a.shape, b.shape))
    if a.shape == shape == b.shape:
        if all(_is_row_major(x) for x in (a, b)):
            return _row_major(shape)
        if a.strides == b.strides and mf.is_non_overlapping_and_dense(shape, a.strides):
            return _Layout(shape, a.strides)
    steps = [[0 if n == 1 and m != 1 else s for n, m, s in zip(x.shape, shape, x.strides)]
             for x in (a, b)]
    order = tuple(reversed(mf.iteration_order(shape, steps)))
    return _Layout(shape, mf._dense_strides(shape, order))


def _is_row_major(t):
    step = 1
    for n, s in zip(reversed(t.shape), reversed(t.strides)):
        if n != 1:
            if s != step:
                return False
            step *= n
    return True


_LAYOUT_OPS = SimpleNamespace(mul=_mul, bmm=_bmm, permute=_permute, reshape=_reshape,
                              unsqueeze=_unsqueeze, view=_reshape, sum=_sum)


@lru_cache(maxsize=512)
def _strides_for(subs, out, layouts, ellipsis_letters):
    operands = [_Layout(shape, strides) for shape, strides in layouts]
    return contract_16bit(list(subs), out, operands, ellipsis_letters, _LAYOUT_OPS).strides


def einsum_strides(subs, out, operands, equation):
    """The element strides of PyTorch's ``einsum`` result for ``operands`` (Tensors of numpy
    arrays, repeated letters already taken as diagonals) with letters ``subs`` into ``out``
    (``equation``: the one given, whose letters tell the '...' ones apart); None where they
    are not a dense layout (a view of a sliced operand: left as computed), an operand is
    empty or not a numpy array."""
    arrays = [t._array for t in operands]
    if any(type(x) is not np.ndarray or x.size == 0 for x in arrays):
        return None
    ellipsis_letters = tuple(sorted(set("".join(subs)) - set(equation)))
    layouts = tuple((x.shape, tuple(s // x.itemsize for s in x.strides)) for x in arrays)
    strides = _strides_for(tuple(subs), out, layouts, ellipsis_letters)
    sizes = {}
    for s, x in zip(subs, arrays):
        for c, n in zip(s, x.shape):
            sizes[c] = max(sizes.get(c, 1), n)       # (a size-1 letter broadcasts)
    shape = tuple(sizes[c] for c in out)
    return strides if mf.is_non_overlapping_and_dense(shape, strides) else None
