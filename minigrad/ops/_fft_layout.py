"""The memory layout of PyTorch's Fourier transform results on the CPU, so that ``stride()``,
``is_contiguous()`` and ``view`` of a transform's result behave as there.

PyTorch runs a transform over ``dims`` as one batched call of its FFT library: it moves the
dims it does not transform (the batch) to the front, ordered by the input's strides (largest
first), puts the transformed dims after them, and writes a row-major result in that order.
The result, seen in the original dim order, has the strides of that permuted row-major block.
Before that, a complex-to-complex transform (and a real-to-complex one giving the full
spectrum) orders its dims by the input's strides too; a one-sided real-to-complex transform
orders all but its last dim.  The two-step transforms (``irfftn`` / ``hfftn``: complex over
all but the last dim, then complex-to-real on it; ``ihfftn``: real-to-complex on the last dim,
then complex over the others) take the layout of their first step's result into the second.

The functions here work on strides counted in elements, one per dim.
"""
from __future__ import annotations

import numpy as np

__all__ = ["c2c_strides", "r2c_strides", "c2r_strides", "element_strides", "laid_out",
           "row_major_kept"]


def _partition(order, batch):
    """``order`` with the dims in ``batch`` moved to the front, as the C++ standard library's
    (unstable) partition moves them: swapping from both ends.  Returns (dims, count)."""
    dims, first, last = list(order), 0, len(order)
    while True:
        while first != last and dims[first] in batch:
            first += 1
        if first == last:
            return dims, first
        last -= 1
        while first != last and dims[last] not in batch:
            last -= 1
        if first == last:
            return dims, first
        dims[first], dims[last] = dims[last], dims[first]
        first += 1


def _batched_strides(in_strides, out_shape, dims):
    """The strides of a batched transform's result over ``dims`` (in the order the library
    runs them), for an input of strides ``in_strides``."""
    batch = set(range(len(out_shape))) - set(dims)
    order, count = _partition(range(len(out_shape)), batch)
    # (a stable sort: the library's insertion sort, for this few dims)
    front = sorted(order[:count], key=lambda d: -in_strides[d])
    out = [0] * len(out_shape)
    step = 1
    for d in reversed(dims):
        out[d] = step
        step *= out_shape[d]
    for d in reversed(front):
        out[d] = step
        step *= out_shape[d]
    return out


def _by_stride(in_strides, dims):
    return sorted(dims, key=lambda d: -in_strides[d])


def c2c_strides(in_strides, shape, dims):
    """The strides of a complex-to-complex transform's result over ``dims``."""
    return _batched_strides(in_strides, shape, _by_stride(in_strides, dims))


def r2c_strides(in_strides, out_shape, dims, onesided=True, last_first=False):
    """The strides of a real-to-complex transform's result over ``dims`` (``onesided``: the
    half spectrum on the last dim, which keeps its place; ``last_first``: ihfftn's two steps,
    the last dim alone, then the others complex-to-complex)."""
    if last_first and len(dims) > 1:
        mid = _batched_strides(in_strides, out_shape, dims[-1:])
        return c2c_strides(mid, out_shape, dims[:-1])
    head = _by_stride(in_strides, dims[:-1]) + list(dims[-1:]) if onesided else \
        _by_stride(in_strides, dims)
    return _batched_strides(in_strides, out_shape, head)


def c2r_strides(in_strides, in_shape, out_shape, dims):
    """The strides of a complex-to-real transform's result over ``dims``: complex over all
    but the last dim first, then complex-to-real on the last."""
    if len(dims) > 1:
        in_strides = c2c_strides(in_strides, in_shape, dims[:-1])
    return _batched_strides(in_strides, out_shape, dims[-1:])


def element_strides(a):
    """The strides of the numpy array ``a`` in elements."""
    return [s // a.itemsize for s in a.strides]


def laid_out(out, strides):
    """The numpy array ``out`` with the element ``strides`` (a dense layout: a permutation of
    a row-major block): ``out`` itself when it has them, else a copy laid out so."""
    if out.ndim < 2 or out.size == 0 or element_strides(out) == list(strides):
        return out
    block = np.empty(out.size, out.dtype)
    view = np.lib.stride_tricks.as_strided(block, out.shape,
                                           [s * out.itemsize for s in strides])
    view[...] = out
    return view


def row_major_kept(a, out, axes):
    """The common case, told at once: the input ``a`` row-major and ``axes`` its last dims in
    order give a row-major result in PyTorch (``out`` is it when row-major too); not for
    ihfftn's two steps."""
    first = a.ndim - len(axes)
    return a.flags.c_contiguous and out.flags.c_contiguous and \
        all(ax == first + i for i, ax in enumerate(axes))
