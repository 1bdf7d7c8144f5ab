"""Reductions that select: ``aminmax``, ``kthvalue``, ``median``, ``nanmedian``, ``mode``, and
the NaN-skipping sums ``nansum`` and ``nanmean``.

The order statistics find positions with numpy (NaN counted as the largest value, as PyTorch
does) and take the values with ``TakeAlongDim``: their gradient goes to the selected index, as
PyTorch's.  Where elements tie, which index PyTorch returns follows its CPU algorithm:
``kthvalue`` replays its quickselect (``_quickselect``), so it returns the same index;
``median``/``nanmedian`` along a dim take the place in a stable sort, and ``mode`` the last
occurrence of the value, which is what PyTorch's nth_element and sort give on small slices
(on long slices with ties PyTorch's index follows those algorithms' internal order).
``median()``/``nanmedian()`` of a whole tensor return the value only, and share its gradient
evenly among the elements equal to it (``_Evenly``), as PyTorch.
"""
from __future__ import annotations

import functools

import numpy as np

from .. import backend, dtypes, return_types
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import argument_error, bool_arg, check_tensor, ieee_errors, int_arg, normalize_dim, \
    normalize_dims, not_implemented_for, scalar_type_name, sort_keys
from .elementwise import Mul, cast
from .division import div
from .pointwise_select import select_grad
from .plumbing import expand_to, reshape_to
from .extrema import _UNORDERED, MAXMIN_NODES, TAKE_NODES, MaxResult, TakeAlongDim, _unordered
from .reduce import NO_DIM, _dim_given, _reduced_axes, check_grad_dtype, sum as _sum

__all__ = ["aminmax", "kthvalue", "median", "nanmedian", "mode", "nansum", "nanmean"]


AminmaxResult = return_types.make("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim=False):
    """(amin, amax) of ``input`` over ``dim`` (an int; None: every element), each with amin's
    and amax's gradient (shared evenly among ties)."""
    if dim is not None and (not isinstance(dim, int) or isinstance(dim, bool)):
        raise argument_error("aminmax", "dim", "int", dim)
    if dim is not None:
        normalize_dim(dim, input.ndim)          # (a bad dim is refused before the dtype)
    _unordered(input, "aminmax_cpu")
    if dim is None:
        if input._array.size == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        axes = tuple(range(input.ndim))
    else:
        d = normalize_dim(dim, input.ndim)
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        axes = (d,) if input.ndim else ()
    return AminmaxResult(
        MAXMIN_NODES["aminmax"].apply(input, axes=axes, keepdim=keepdim, largest=False,
                                      name="amin"),
        MAXMIN_NODES["aminmax"].apply(input, axes=axes, keepdim=keepdim, largest=True,
                                      name="amax"))


# ----------------------------------------------------------------------------------------------
# Order statistics along a dim: kthvalue, median, nanmedian, mode
# ----------------------------------------------------------------------------------------------
def _check_along(input, dim, name):
    """dim normalised; PyTorch's IndexError for an empty dim to reduce."""
    d = normalize_dim(dim, input.ndim)
    if input.ndim and input.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return d


def _take(input, d, index, keepdim, name):
    """(values, indices) at ``index`` (int64, keepdim shape) along d, as PyTorch's named
    tuple ``name``; the values' gradient goes to the index.  A 0-d input is its own result."""
    if input.ndim == 0:         # a copy of it (PyTorch's result is a new tensor), index 0
        xp = backend.xp_of(input._array)
        values = TakeAlongDim.apply(reshape_to(input, (1,)), indices=xp.zeros(1, "int64"),
                                    dim=0, keepdim=False)
        return MaxResult(values, Tensor._wrap(xp.zeros((), "int64")), name)
    values = TAKE_NODES[name].apply(input, indices=index, dim=d, keepdim=keepdim)
    return MaxResult(values, Tensor._wrap(index if keepdim else index.squeeze(d)), name)


def _sorted_index(a, d, place):
    """Array: the index, along d, of the element at ``place`` (per slice, keepdim shape) of a
    stable ascending sort of ``a`` with NaN last."""
    xp = backend.xp_of(a)
    order = xp.argsort(sort_keys(a), axis=d, kind="stable")
    place = xp.broadcast_to(place, [1 if k == d else n for k, n in enumerate(a.shape)])
    return xp.take_along_axis(order, place.astype("int64"), axis=d).astype("int64")


def _greater(a, b):
    """a > b, NaN above every number (the order PyTorch selects in)."""
    xp = backend.xp_of(a)
    return (xp.isnan(a) & ~xp.isnan(b)) | (a > b) if a.dtype.kind in "fV" else a > b


def _swap(arrays, rows, p, q):
    """Swap positions p and q (one per row in ``rows``) of each (rows, n) array."""
    for arr in arrays:
        kept = arr[rows, p].copy()
        arr[rows, p] = arr[rows, q]
        arr[rows, q] = kept


def _quickselect(values, k):
    """Index, per row of ``values`` (rows, n), of the element that PyTorch's CPU select leaves
    at place k (0-based): its median-of-three quickselect with a Hoare partition, replayed
    on all rows at once.  One round partitions every unfinished row; within a round the
    partition's swaps are found without stepping through the elements: the scan from the
    left stops at the elements >= pivot, the scan from the right at those <= pivot, so the
    k-th swap pairs the k-th of each, until the scans cross (where a scan also stops at a
    place an earlier swap filled).  Ties thus get the very index PyTorch returns."""
    xp = backend.xp_of(values)
    v = values.copy()
    n_rows, n = v.shape
    index = xp.broadcast_to(xp.arange(n), v.shape).copy()
    lo, hi = xp.zeros(n_rows, "int64"), xp.full(n_rows, n - 1, "int64")
    pos, missing = xp.arange(n), 2 * n + 4
    while True:
        two = xp.nonzero(hi == lo + 1)[0]                 # a pair: order it and stop
        swap = two[_greater(v[two, lo[two]], v[two, hi[two]])]
        _swap((v, index), swap, lo[swap], hi[swap])
        hi[two] = lo[two]
        rows = xp.nonzero(hi > lo + 1)[0]
        if not len(rows):
            return index[:, k]
        low, high, at = lo[rows], hi[rows], xp.arange(len(rows))
        # pivot: the median of the first, middle and last, left at low (low + 1 <= it <= high)
        _swap((v, index), rows, (low + high) >> 1, low + 1)
        for p, q in ((low + 1, high), (low, high), (low + 1, low)):
            swap = _greater(v[rows, p], v[rows, q])
            _swap((v, index), rows[swap], p[swap], q[swap])
        seg = v[rows]
        pivot = seg[at, low][:, None]
        inside = (pos >= (low + 2)[:, None]) & (pos <= (high - 1)[:, None])
        lefts = xp.sort(xp.where(inside & ~_greater(pivot, seg), pos, missing), axis=1)
        rights = -xp.sort(xp.where(inside & ~_greater(seg, pivot), -pos, missing), axis=1)
        # column k: the k-th stop of each scan; column 0: where each scan starts from
        lefts = xp.concatenate([(low + 1)[:, None], lefts], axis=1)
        rights = xp.concatenate([high[:, None], rights], axis=1)
        before_l = xp.concatenate([(low + 1)[:, None], lefts[:, :-2]], axis=1)
        before_r = xp.concatenate([high[:, None], rights[:, :-2]], axis=1)
        met = lefts[:, :-1] == rights[:, :-1]             # the last swap was a no-op (i == j)
        met[:, 0] = False
        i = xp.minimum(lefts[:, 1:], xp.where(met, before_r, rights[:, :-1]))
        j = xp.maximum(rights[:, 1:], xp.where(met, before_l, lefts[:, :-1]))
        crossed = xp.argmax(j < i, axis=1)
        sel_rows, sel_cols = xp.nonzero(xp.arange(n)[None, :] < crossed[:, None])
        _swap((v, index), rows[sel_rows], lefts[sel_rows, sel_cols + 1],
              rights[sel_rows, sel_cols + 1])
        i, j = i[at, crossed], j[at, crossed]
        _swap((v, index), rows, low, j)
        lo[rows] = xp.where(j <= k, i, low)
        hi[rows] = xp.where(j >= k, j - 1, high)


def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the k-th smallest element (k from 1) along ``dim``; NaN counts as
    larger than any number."""
    check_tensor("kthvalue", input)
    k = int_arg("kthvalue", "k", k, 2)
    keepdim = bool_arg("kthvalue", "keepdim", keepdim)
    d = _check_along(input, dim, "kthvalue")        # dim and k are checked before the dtype
    size = input.shape[d] if input.ndim else 1
    if not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    _unordered(input, "kthvalue_cpu")
    if input._array.dtype.kind == "b" and input.ndim:    # a 0-d one is its own result
        raise not_implemented_for("kthvalue_cpu", input._array.dtype)
    if input.ndim == 0:
        return _take(input, d, None, keepdim, "kthvalue")
    xp = backend.xp_of(input._array)
    moved = xp.moveaxis(input._array, d, -1)
    # (a column of the quickselect's work array: made row-major, as PyTorch's indices are)
    index = xp.ascontiguousarray(_quickselect(moved.reshape(-1, moved.shape[-1]), k - 1))
    return _take(input, d, xp.expand_dims(index.reshape(moved.shape[:-1]), d), keepdim,
                 "kthvalue")


class _Evenly(Function):
    """a -> ``value`` (a 0-d array computed from a: its median); the gradient is shared evenly
    among the elements equal to it (the NaN elements when it is NaN), 0 elsewhere."""
    def forward(self, a, *, value):
        self.save_for_backward(a)
        self.value = value
        return value

    def backward(self, g):
        a, = self.saved_tensors
        xp = backend.xp_of(a._array)
        hits = xp.isnan(a._array) if xp.isnan(self.value) else a._array == self.value
        with ieee_errors():
            share = (hits / hits.sum()).astype(g._array.dtype)
        return select_grad(expand_to(g, a.shape), share)


def _whole_median(input, ignore_nan):
    """median()/nanmedian() of every element: the lower middle value, as a 0-d tensor."""
    a = input._array
    xp = backend.xp_of(a)
    flat = a.reshape(-1)
    if a.dtype.kind == "b":
        if flat.size == 0:       # PyTorch's NaN for an empty input comes before its dtype check
            return _Evenly.apply(input, value=xp.asarray(True))
        raise not_implemented_for("median_cpu", a.dtype)
    nan = xp.isnan(flat) if a.dtype.kind in "fV" else xp.zeros(flat.shape, bool)
    if ignore_nan:
        flat = flat[~nan]
    if flat.size == 0 or (nan.any() and not ignore_nan):
        # PyTorch: NaN for a NaN anywhere (median) or nothing left; an integer gets NaN cast
        # through int32 (its lowest value, or 0 once narrowed to a 1- or 2-byte integer)
        value = xp.asarray(np.nan if a.dtype.kind in "fV" else
                           np.iinfo(a.dtype).min if a.dtype.itemsize >= 4 else 0, a.dtype)
    else:
        k = (flat.size - 1) // 2
        value = xp.partition(flat, k)[k]
    node = _Evenly.renamed("NanmedianBackward0" if ignore_nan else "MedianBackward0")
    return node.apply(input, value=xp.asarray(value, dtype=a.dtype).reshape(()))


@functools.lru_cache(maxsize=64)
def _all_nan_place(n):
    """The index nanmedian returns for a slice of n NaN: PyTorch asks std::nth_element for
    place 0 with every comparison false, and libstdc++'s introselect then still moves the
    elements: each round swaps the middle one to the front and reverses pairs from both ends
    until they meet, and goes on in the part before the meeting place, down to 3 elements
    (which its insertion sort leaves alone)."""
    order = list(range(n))
    while len(order) > 3:
        size, mid = len(order), len(order) // 2
        order[0], order[mid] = order[mid], order[0]
        cut = 1 + (size - 1) // 2            # where the two scans meet
        order = order[:1] + order[size - 1:size - cut:-1]
    return order[0]


def _median_along(input, dim, keepdim, ignore_nan, name):
    d = _check_along(input, dim, "median")          # the dim is checked before the dtype
    if input._array.dtype.kind == "b" or input._array.dtype in _UNORDERED:
        raise not_implemented_for("median_out", input._array.dtype)
    if input.ndim == 0:
        return _take(input, d, None, keepdim, name)
    a = input._array
    xp = backend.xp_of(a)
    n = a.shape[d]
    nan = xp.isnan(a) if a.dtype.kind in "fV" else xp.zeros(a.shape, bool)
    nans = nan.sum(axis=d, keepdims=True)
    if ignore_nan:     # the lower middle of the numbers (where all are NaN: _all_nan_place)
        index = _sorted_index(a, d, xp.maximum(n - nans - 1, 0) // 2)
        if n > 3 and (nans == n).any():
            index = xp.where(nans == n, _all_nan_place(n), index)
    else:              # the lower middle, or the first NaN of a slice holding one
        index = _sorted_index(a, d, np.int64((n - 1) // 2))
        if nans.any():
            index = xp.where(nans > 0, xp.expand_dims(xp.argmax(nan, axis=d), d), index)
    return _take(input, d, index, keepdim, name)


def median(input, dim=NO_DIM, keepdim=False):
    """``median(input)``: the lower median of all elements (NaN if any is NaN);
    ``median(input, dim)``: (values, indices) of the lower median along ``dim``."""
    check_tensor("median", input)
    if dim is NO_DIM:                   # (along a dim: median_out's refusal, after the dim's)
        _unordered(input, "median_cpu")
    dim = _dim_given("median", dim)
    keepdim = bool_arg("median", "keepdim", keepdim)
    if dim is None:
        if keepdim:
            raise TypeError('median() missing 1 required positional arguments: "dim"')
        return _whole_median(input, ignore_nan=False)
    return _median_along(input, dim, keepdim, ignore_nan=False, name="median")


def nanmedian(input, dim=NO_DIM, keepdim=False):
    """median skipping NaN: the lower median of the numbers (NaN where all are NaN)."""
    check_tensor("nanmedian", input)
    if dim is NO_DIM:                   # (PyTorch's nanmedian refuses in median's words)
        _unordered(input, "median_cpu")
    dim = _dim_given("nanmedian", dim)
    keepdim = bool_arg("nanmedian", "keepdim", keepdim)
    if dim is None:
        if keepdim:
            raise TypeError('nanmedian() missing 1 required positional arguments: "dim"')
        return _whole_median(input, ignore_nan=True)
    return _median_along(input, dim, keepdim, ignore_nan=True, name="nanmedian")


def _insertion_order(keys):
    """The order PyTorch's CPU mode sorts each row of ``keys`` (rows of at most 16 numbers)
    into: the insertion sort of C++'s std::sort with ``<``, replayed on all rows at once.
    Element i goes to the front when it is below the first element, else just after the
    nearest element before it that it is not below; a NaN is below nothing and nothing is
    below it, so it holds its neighbours in place.  Returns the column indices, (rows, n)."""
    xp = backend.xp_of(keys)
    rows, n = keys.shape
    v, order = keys.copy(), xp.broadcast_to(xp.arange(n), keys.shape).copy()
    for i in range(1, n):
        val = v[:, i:i + 1]
        below = val < v[:, :i]                              # (rows, i)
        stop = i - 1 - xp.argmax(~below[:, ::-1], axis=1)   # nearest place it is not below
        target = xp.where(below[:, 0], 0, stop + 1)[:, None]
        place = xp.arange(i + 1)
        source = place - (place > target)                   # shift target..i-1 up one
        source = xp.where(place == target, i, source)
        v[:, :i + 1] = xp.take_along_axis(v[:, :i + 1], source, axis=1)
        order[:, :i + 1] = xp.take_along_axis(order[:, :i + 1], source, axis=1)
    return order


def mode(input, dim=-1, keepdim=False):
    """(values, indices): the most frequent value along ``dim`` (the smallest of equally
    frequent ones; each NaN counts alone) and the index of its last occurrence (with NaN in
    a row of at most 16, the last of its run in PyTorch's insertion sort: ``_insertion_order``)."""
    keepdim = bool_arg("mode", "keepdim", keepdim)
    d = _check_along(check_tensor("mode", input), dim, "mode")
    _unordered(input, "mode_cpu")
    if input.ndim == 0:
        return _take(input, d, None, keepdim, "mode")
    a = input._array
    xp = backend.xp_of(a)
    moved = xp.moveaxis(a, d, -1)
    rows, n = moved.reshape(-1, a.shape[d]), a.shape[d]
    keys = sort_keys(rows)
    if n <= 16 and keys.dtype.kind == "f" and xp.isnan(keys).any():
        order = _insertion_order(keys)          # NaN breaks the sort's order: replay it
    else:
        order = xp.argsort(keys, axis=1, kind="stable")
    v = xp.take_along_axis(rows, order, axis=1)
    starts = xp.ones(v.shape, bool)
    starts[:, 1:] = v[:, 1:] != v[:, :-1]                 # NaN != NaN: one group each
    group = xp.cumsum(starts, axis=1) - 1                 # group number of each place
    flat_group = group + n * xp.arange(len(rows))[:, None]
    counts = xp.bincount(flat_group.reshape(-1), minlength=rows.size).reshape(rows.shape)
    freq = xp.take_along_axis(counts, group, axis=1)      # each place's group size
    first = xp.argmax(freq == freq.max(axis=1, keepdims=True), axis=1)   # smallest value
    last = first + xp.take_along_axis(freq, first[:, None], axis=1)[:, 0] - 1
    index = xp.take_along_axis(order, last[:, None], axis=1).reshape(moved.shape[:-1])
    return _take(input, d, xp.expand_dims(index.astype("int64"), d), keepdim, "mode")


# ----------------------------------------------------------------------------------------------
# Sums that skip NaN
# ----------------------------------------------------------------------------------------------
class _NanToZero(Function):
    """a -> a with NaN replaced by 0.  Backward: g times the (constant) not-NaN mask, as
    PyTorch's nansum: a NaN or infinite g still gives NaN at a NaN element (inf * 0)."""
    def forward(self, a):
        self.kept = ~backend.xp_of(a).isnan(a)
        return backend.xp_of(a).where(self.kept, a, 0)

    def backward(self, g):
        with ieee_errors():      # an infinite g (nanmean of an all-NaN slice) gives NaN here
            return Mul.apply(g, Tensor._wrap(self.kept.astype(g._array.dtype)))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """sum over ``dim`` counting NaN as 0 (integers and bools summed as int64)."""
    keepdim = bool_arg("nansum", "keepdim", keepdim)
    a = check_tensor("nansum", input)
    if a._array.dtype.kind == "c":
        if dim is not None:                 # (PyTorch checks the dims first)
            normalize_dims(dim, a.ndim, "nansum")
        raise RuntimeError("nansum on CPU does not support complex inputs")
    if dim is not None:
        normalize_dims(dim, a.ndim, "nansum")       # (the dims before the dtype, as PyTorch)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
        check_grad_dtype(a, dtype)
        dtypes.refuse_unsigned("sum_cpu", dtype)        # (no uint16/32/64 sum kernel)
        if dtype.is_complex and a._array.dtype.kind in "fV" and a._array.size:
            # PyTorch's NaN-skipping kernel has no complex version (a bool or integer input
            # goes through the plain sum, which has)
            raise not_implemented_for("nansum_cpu", dtype.np)
    # NaN counts as 0 before any conversion to ``dtype`` (to an integer or bool it would not)
    if a._array.dtype.kind in "fV":
        a = _NanToZero.apply(a)
    if dtype is not None:
        a = cast(a, dtype)
    out = rename_node(_sum(a, dim, keepdim), "NansumBackward0")
    # the sum of a bool or small integer dtype stays in it (integers wrap, bools saturate)
    return out if dtype is None or out._array.dtype == dtype.np else cast(out, dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """mean over ``dim`` of the elements that are not NaN: nansum / their count (NaN where
    there is none)."""
    if input._array.dtype.kind not in "fcV":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {scalar_type_name(input._array.dtype)}")
    if dtype is not None and dtypes.to_dtype(dtype).np.kind not in "fcV":
        raise RuntimeError("nanmean(): could not infer output dtype. Optional dtype must be "
                           "either a floating point or complex dtype. Got: "
                           f"{scalar_type_name(dtypes.to_dtype(dtype).np)}")
    if input._array.dtype.kind == "c":       # PyTorch's nanmean is a nansum, which refuses
        if dim is not None:                 # (after it checks the dims)
            normalize_dims(dim, input.ndim, "nanmean")
        raise RuntimeError("nansum on CPU does not support complex inputs")
    total = nansum(input, dim, keepdim, dtype=dtype)
    xp = backend.xp_of(input._array)
    count = (~xp.isnan(input._array)).sum(axis=_reduced_axes(input, dim), keepdims=keepdim)
    with ieee_errors():
        return div(total, Tensor._wrap(xp.asarray(count, dtype=total._array.dtype)))
