"""Memory formats: ``minigrad.contiguous_format``, ``preserve_format``, ``channels_last`` and
``channels_last_3d``, the ``memory_format=`` of ``contiguous``, ``clone``, ``to`` (and
``float()``, ``cpu()``...), ``empty``, the ``*_like`` factories and ``resize_``.

A format only decides the strides of a new tensor, never its values or shape.  numpy arrays
carry strides too, so each format is expressed as an array laid out that way:

* ``contiguous_format``: row-major (C order);
* ``channels_last``: a 4-d (N, C, H, W) tensor stored as N, H, W, C (strides
  (HWC, 1, WC, C)); ``channels_last_3d`` the same for 5-d (N, C, D, H, W);
* ``preserve_format``: the input's strides when it is non-overlapping and dense, otherwise a
  dense layout that orders the dimensions as the input's strides do.

A pointwise op's result is laid out from its operands' strides, as PyTorch's TensorIterator
lays it out (``pointwise_result``): where the operands disagree the first one decides
(channels-last x + row-major y is channels-last, y + x row-major); numpy, which computes
the values, would settle such a disagreement as row-major.
"""
from __future__ import annotations

import functools

import numpy as np

from ._tiled_copy import contiguous_copy, copy_into

__all__ = ["memory_format", "contiguous_format", "preserve_format", "channels_last",
           "channels_last_3d"]


class memory_format:  # noqa: N801  (PyTorch's spelling: torch.memory_format)
    """The layout a new tensor's elements get in memory; one object per format."""
    _tp_name = "minigrad.memory_format"  # PyTorch's C type's name, in its argument errors
    __slots__ = ("name",)
    __module__ = "minigrad"           # the public name: minigrad.memory_format

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __reduce__(self):
        return self.name             # pickled (e.g. deep-copied) as the module-level singleton


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

# the rank each channels-last format needs, and its dimension order from outermost to innermost
_CHANNELS_LAST = {channels_last: (4, (0, 2, 3, 1)), channels_last_3d: (5, (0, 2, 3, 4, 1))}


def check(fmt, fn_name, none_means=preserve_format):
    """``fmt`` itself, ``none_means`` for None (where the function takes None), or PyTorch's
    TypeError."""
    if fmt is None and none_means is not None:
        return none_means
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{fn_name}(): argument 'memory_format' must be minigrad.memory_format, "
                        f"not {type(fmt).__name__}")
    return fmt


def _check_rank(fmt, ndim):
    rank = _CHANNELS_LAST[fmt][0]
    if ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt.name} format")


def element_strides(array):
    return tuple(s // array.itemsize for s in array.strides)


def is_contiguous(array, fmt=contiguous_format):
    """``Tensor.is_contiguous(memory_format=fmt)``: are the elements stored densely in the
    format's order?  Dimensions of size 1 may have any stride; a channels-last format on a
    tensor of another rank is False (not an error, as in PyTorch)."""
    if fmt not in _CHANNELS_LAST:
        return bool(array.flags.c_contiguous)     # preserve_format counts as contiguous_format
    rank, order = _CHANNELS_LAST[fmt]
    if array.ndim != rank:
        return False
    strides, expected = element_strides(array), 1
    for d in reversed(order):
        if array.shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= array.shape[d]
    return True


def is_non_overlapping_and_dense(shape, strides):
    """Do the elements fill a block of memory exactly, each at its own address (in any
    dimension order)?  Size-1 dimensions may have any stride."""
    dims = sorted((d for d in range(len(shape)) if shape[d] >= 2), key=lambda d: strides[d])
    expected = 1
    for d in dims:
        if strides[d] != expected:
            return False
        expected *= shape[d]
    return True


def _dense_strides(shape, order):
    """Row-major strides for the dimensions listed in ``order``, outermost first."""
    strides, step = [0] * len(shape), 1
    for d in reversed(order):
        strides[d] = step
        step *= max(shape[d], 1)
    return tuple(strides)


def _channels_last_strides(shape, order):
    """Dense strides for the dims in ``order`` (a channels-last one), as PyTorch computes a
    channels-last tensor's: each the product of the sizes inside it, a 0 size included (an
    empty (2, 3, 0, 2) tensor's are (0, 1, 6, 3)), where its row-major strides count a 0 as
    a 1."""
    strides, step = [0] * len(shape), 1
    for d in reversed(order):
        strides[d] = step
        step *= shape[d]
    return tuple(strides)


def new_array(shape, dtype, fmt):
    """An uninitialised numpy array of ``shape`` laid out in ``fmt``: channels-last(-3d)
    where ``fmt`` is one and the rank fits, else row-major (what ``suggest`` returned for
    an input allocates its op's result in)."""
    if fmt in _CHANNELS_LAST and len(shape) == _CHANNELS_LAST[fmt][0]:
        return empty_strided(np, shape, _channels_last_strides(shape, _CHANNELS_LAST[fmt][1]),
                             dtype)
    return np.empty(shape, dtype)


def row_major_strides(shape):
    """The strides (in elements) of a C-contiguous tensor of ``shape``, as PyTorch counts
    them (a size-0 dimension counted as 1)."""
    return _dense_strides(shape, range(len(shape)))


def _inferred_order(shape, strides):
    """The dimensions ordered by stride, outermost first, for a tensor that is not dense:
    a stable insertion sort in which a 0 stride (broadcast) is comparable to nothing, and
    equal strides put the longer dimension outside."""
    return tuple(reversed(iteration_order(shape, [strides])))


def iteration_order(shape, operands):
    """The order of the dims, innermost first, that PyTorch's TensorIterator gives an output
    computed from operands with these strides (one tuple per operand, one step per dim): a
    stable insertion sort of the dims, the first operand whose steps of two dims are both
    nonzero deciding (the smaller step inside; equal steps put the longer dim outside)."""
    perm = list(reversed(range(len(shape))))          # innermost first

    def should_swap(d0, d1):                          # 1: d0 lies outside d1; -1: inside
        for steps in operands:
            s0, s1 = steps[d0], steps[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    for i in range(1, len(perm)):
        j = i
        for k in range(i - 1, -1, -1):
            c = should_swap(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    return perm


def numpy_agrees(out, a, b):
    """Has ``out``, numpy's result of a pointwise op of the arrays ``a`` and ``b`` (a 0-d one
    for a number), PyTorch's layout already?  Yes when both are row-major of one shape
    (TensorIterator's shortcut), or when the first operand that is not 0-d is row-major of the
    result's shape and the result has no size-1 dim: it then orders every dim, as numpy
    does.  (A size-1 dim's stride, or a broadcast operand, may take PyTorch elsewhere.)"""
    lead = a if a.ndim else b
    if not lead.flags.c_contiguous or not out.size:     # (an empty one: any strides)
        return False
    if b.flags.c_contiguous and a.shape == b.shape:
        return True
    return lead.shape == out.shape and 1 not in out.shape


def pointwise_result(out, *operands):
    """``out``, a pointwise op's new result, laid out as PyTorch lays it out given the
    ``operands`` (arrays or numbers, in the op's order): see ``pointwise_layout``, which this
    skips (no work, the common case) when numpy's layout is PyTorch's (``numpy_agrees``) or,
    for more operands, each is row-major or a number."""
    if len(operands) == 2:           # the usual binary op: one check (no slice, no loop)
        a, b = operands
        if type(out) is not np.ndarray:
            return out
        if not hasattr(b, "ndim"):               # a number second: a alone decides
            if not hasattr(a, "ndim") or a.flags.c_contiguous and a.size and (
                    1 not in a.shape or exactly_row_major(a)):
                return out
            return pointwise_layout(out, operands)
        if not hasattr(a, "ndim"):
            a = np.zeros((), b.dtype)            # (a number first: b decides)
        if numpy_agrees(out, a, b):
            return out
        return pointwise_layout(out, (a, b))
    for x in operands:
        flags = getattr(x, "flags", None)
        if flags is not None and not flags.c_contiguous:
            return pointwise_layout(out, operands)
    return out


def exactly_row_major(array):
    """Is ``array`` row-major with the very strides PyTorch gives a new row-major tensor, its
    size-1 dims' too?  (numpy's C-contiguous flag, as PyTorch's is_contiguous, lets a size-1
    dim have any stride: ``x.t()`` of a (3, 1) tensor has strides (1, 1).)  Cheap where
    there is no size-1 dim."""
    if not array.flags.c_contiguous:
        return False
    shape = array.shape
    if 1 not in shape:
        return True
    return array.strides == _row_major_bytes(shape, array.itemsize)


@functools.lru_cache(maxsize=256)
def _row_major_bytes(shape, itemsize):
    return tuple(s * itemsize for s in _dense_strides(shape, range(len(shape))))


def pointwise_layout(out, operands, numbers=False):
    """``out``, the new array numpy computed for a pointwise op of ``operands`` (the op's
    tensor operands' arrays in PyTorch's order, the first first; numbers take no part unless
    ``numbers``: a binary op's number operand, a 0-d tensor to PyTorch), laid out as
    PyTorch's TensorIterator lays out such an op's result: ``out`` itself when it already
    is, else a copy (or, where only size-1 dims' strides differ, a restrided view).

    PyTorch's rule: operands of the result's shape that are all row-major, all channels-last,
    or all dense with equal strides give that layout; otherwise the dims are ordered by
    ``iteration_order`` (the first operand with two nonzero steps decides).  numpy's own rule
    (a conflict between operands goes to row-major) agrees whenever the first operand is
    row-major, the common case, so callers skip this then."""
    shape = out.shape
    if out.ndim < 2 or type(out) is not np.ndarray:
        return out
    arrays = [x for x in operands if hasattr(x, "ndim")]
    if out.size == 0:
        return empty_result(out, operands if numbers else arrays)
    if 1 not in shape and out.flags.c_contiguous and all(
            x.flags.c_contiguous and x.shape == shape or not any(x.strides) for x in arrays):
        # every operand row-major of the result's shape or a broadcast number (a backward's
        # expanded gradient, all steps 0, times a saved input): the latter order no dims,
        # the former order them all as numpy did (no size-1 dim, whose stride could be
        # anything)
        return out
    # ``numbers``: a number is an operand too, a 0-d one (PyTorch's binary ops wrap it, where
    # clamp's bounds are no operands): the shortcut is then off
    strides = None if numbers and len(arrays) < len(operands) else \
        _fast_setup_strides(shape, arrays)
    if strides is None:
        # (steps in bytes, as TensorIterator compares them: a float64 operand's step of 8
        # is a float32 one's 2 elements)
        steps = [_broadcast_steps(x, shape) for x in arrays]
        strides = _dense_strides(shape, tuple(reversed(iteration_order(shape, steps))))
    return restrided(out, strides)


def empty_result(out, operands):
    """``out``, a pointwise op's new result with no elements (numpy's, row-major), laid out
    as PyTorch lays out such a result: row-major where every operand (arrays, 0-d ones for
    numbers) has the result's shape (an empty tensor counts as contiguous to it) or the
    operands' ``iteration_order`` is row-major, else dense in that order, each stride the
    product of the sizes inside it, a 0 size included (``zeros(0, 5).t() * 2`` keeps strides
    (1, 5))."""
    shape = out.shape
    if len(shape) < 2 or type(out) is not np.ndarray or all(
            getattr(x, "shape", None) == shape for x in operands):
        return out
    steps = [_broadcast_steps(x, shape) if hasattr(x, "ndim") else [0] * len(shape)
             for x in operands]
    order = tuple(reversed(iteration_order(shape, steps)))
    if order == tuple(range(len(shape))):       # (row-major: PyTorch allocates it plainly)
        return out
    return restrided(out, _channels_last_strides(shape, order))


def _fast_setup_strides(shape, arrays):
    """The result's strides when every operand has the result's shape and all are row-major,
    all channels-last, or all dense with one set of strides (TensorIterator's shortcut,
    which also sets the strides of size-1 dims); None otherwise (a 0-d operand, a number,
    included)."""
    if not arrays or any(x.shape != shape for x in arrays):
        return None
    if all(x.flags.c_contiguous for x in arrays):
        return _dense_strides(shape, range(len(shape)))
    if len(shape) == 4 and all(is_contiguous(x, channels_last) for x in arrays):
        return _dense_strides(shape, _CHANNELS_LAST[channels_last][1])
    first = element_strides(arrays[0])
    if is_non_overlapping_and_dense(shape, first) and min(first) >= 0 and \
            all(element_strides(x) == first for x in arrays[1:]):
        return first
    return None


def _broadcast_steps(x, shape):
    """The byte steps of ``x`` broadcast to ``shape``: 0 along the dims it is repeated (a
    size-1 dim of the result keeps x's own step, which PyTorch orders it by)."""
    lead = len(shape) - x.ndim
    steps = [0] * lead
    for d, s in enumerate(x.strides):
        steps.append(0 if x.shape[d] == 1 and shape[lead + d] != 1 else s)
    return steps


def restrided(out, strides):
    """``out`` with these element strides: itself when it has them, a view when only the
    strides of size-1 dims differ (the same memory), else a copy laid out so."""
    have = element_strides(out)
    if have == strides:
        return out
    nbytes = tuple(s * out.itemsize for s in strides)
    if all(h == s for h, s, n in zip(have, strides, out.shape) if n != 1):
        return np.lib.stride_tricks.as_strided(out, out.shape, nbytes)
    return copy_into(empty_strided(np, out.shape, strides, out.dtype), out)


def exact_layout(array, fmt):
    """``array``, already dense in the channels-last format ``fmt`` (or any other array), with
    the format's strides exactly, size-1 dims' too: a view where only those differ (a (N, 1,
    H, W) result numpy left row-major is channels-last to PyTorch, which allocates it so).
    An array of another rank, or in ``contiguous_format``, is returned as it is."""
    if fmt not in _CHANNELS_LAST or array.ndim != _CHANNELS_LAST[fmt][0]:
        return array
    return restrided(array, _channels_last_strides(array.shape, _CHANNELS_LAST[fmt][1]))


def target_strides(array, fmt):
    """The element strides a new tensor shaped like ``array`` gets in format ``fmt`` (checks
    the rank of a channels-last format)."""
    shape = array.shape
    if fmt in _CHANNELS_LAST:
        _check_rank(fmt, array.ndim)
        return _channels_last_strides(shape, _CHANNELS_LAST[fmt][1])
    if fmt is preserve_format:
        strides = element_strides(array)
        if array.size == 0 and any(strides):
            return strides        # an empty tensor counts as dense: its strides are kept
        if is_non_overlapping_and_dense(shape, strides) and min(strides, default=0) >= 0:
            return strides
        return _dense_strides(shape, _inferred_order(shape, strides))
    return _dense_strides(shape, range(len(shape)))


def empty_strided(xp, shape, strides, dtype):
    """An uninitialised array of ``shape`` with the given element strides (dense ones)."""
    dtype = xp.dtype(dtype)
    if tuple(strides) == _dense_strides(shape, range(len(shape))):
        return xp.empty(shape, dtype)             # row-major: numpy's own layout
    size = 1
    for s in shape:
        size *= s
    extent = 1 + sum((n - 1) * s for n, s in zip(shape, strides)) if size else 0
    buffer = xp.empty(extent, dtype)
    steps = tuple(s * dtype.itemsize for s in strides)
    if xp is np:        # (the view made at once: numpy's as_strided is Python, some 5 us)
        return np.ndarray(tuple(shape), dtype, buffer, 0, steps)
    return xp.lib.stride_tricks.as_strided(buffer, shape, steps)


def suggest(array):
    """The format ``array``'s strides look like: a channels-last one when a 4-d (5-d) array's
    strides grow in the order C, W, H, N (C, W, H, D, N), even with gaps, else
    ``contiguous_format``.  ``Tensor.to(memory_format=f)`` keeps a tensor that looks like f."""
    for fmt, (rank, order) in _CHANNELS_LAST.items():
        if array.ndim == rank and _strides_grow(array.shape, element_strides(array), order):
            return fmt
    return contiguous_format


def channels_last_like(y, x, nd=2):
    """A 4-d result ``y`` laid out channels-last where the 4-d input ``x`` looks channels-last
    (a copy only then), as PyTorch lays out its 2-d (``nd``) pooling and convolution results
    (an unbatched 3-d pooling's 4-d input is left alone); for a 1-d pooling (``nd`` 1) the
    same over the (N, C, 1, L) view its kernels see. Otherwise ``y`` itself, a row-major
    one with PyTorch's strides on its size-1 dims too (``row_major_if_dense``)."""
    if nd == 2 and y.ndim == 4 and x.ndim == 4 and suggest(x) is channels_last:
        return contiguous_copy(y.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if nd == 1 and y.ndim == 3 and x.ndim == 3 and _unsqueezed_channels_last(x):
        return contiguous_copy(y.transpose(0, 2, 1)).transpose(0, 2, 1)
    return row_major_if_dense(y)


def row_major_if_dense(y):
    """A C-contiguous numpy ``y`` with PyTorch's row-major strides on its size-1 dims too (a
    view: a kernel's result, or numpy's reduction over a window view, can keep a step of its
    own there, which never moves but shows in ``stride()``); any other array as it is."""
    if type(y) is not np.ndarray or 1 not in y.shape or not y.flags.c_contiguous:
        return y
    steps = tuple(s * y.itemsize for s in row_major_strides(y.shape))
    return y if steps == y.strides else np.ndarray(y.shape, y.dtype, y, 0, steps)


def unsqueezed_order_strides(x, dim, shape):
    """Dense strides for ``shape`` (``x``'s with one more dim at ``dim``), the dims in the
    order of the strides of ``x.unsqueeze(dim)`` (PyTorch's unsqueeze gives the new dim the
    stride spanning the dim after it): how PyTorch lays out a stack of such inputs."""
    steps = list(element_strides(x))
    steps.insert(dim, steps[dim] * max(x.shape[dim], 1) if dim < x.ndim else 1)
    order = _inferred_order(shape[:dim] + (1,) + shape[dim + 1:], tuple(steps))
    return _dense_strides(shape, order)


def suggested_layout(y, x):
    """``y``, a new result shaped like ``x``, laid out in the format ``x`` looks like
    (``suggest``): channels-last(-3d) when x looks so (a copy only then), else ``y`` itself."""
    fmt = suggest(x)
    if fmt is contiguous_format:
        return y
    return restrided(y, target_strides(y, fmt))


def _unsqueezed_channels_last(x):
    """Does the 3-d (N, C, L) array ``x``, seen as the (N, C, 1, L) tensor PyTorch's 1-d pools
    run their 2-d kernels on, look channels-last (a transposed (N, L, C) tensor does)?"""
    n, c, length = x.shape
    s_n, s_c, s_l = element_strides(x)
    # PyTorch's unsqueeze gives the new dim the stride that spans the next one
    return _strides_grow((n, c, 1, length), (s_n, s_c, s_l * max(length, 1), s_l),
                         _CHANNELS_LAST[channels_last][1])


def _strides_grow(shape, strides, order):
    """Does each stride, from the innermost dimension of ``order`` out, cover the previous
    dimension's extent?  A zero-sized dimension or a 0 channel stride says nothing."""
    if strides[1] == 0:
        return False
    least = 0
    for d in reversed(order):
        if shape[d] == 0 or strides[d] < least:
            return False
        if d == 0 and least == strides[1]:
            return False          # N's stride equal to C's: N, C, 1, 1 reads as contiguous
        least = strides[d] * (shape[d] if shape[d] > 1 else 1)
    return True
