"""Set-like ops without a gradient: ``unique``, ``unique_consecutive``, ``bincount``.

``unique`` and ``unique_consecutive`` share one grouping step.  The input is viewed as rows:
its elements (``dim=None``, one value per row) or its slices along ``dim`` (moved to the
front and flattened, one slice per row).  ``unique`` first orders the rows (lexicographically,
a stable sort, NaN last); ``unique_consecutive`` keeps their order.  A row starts a new group
where it differs from the row before it (so each NaN is a group of its own, as PyTorch's), and

    group[k]   = (number of group starts among rows 0..k) - 1
    inverse    = group, scattered back to the rows' original positions
    counts     = how many rows each group has
    output     = the first row of each group

all computed with whole-array numpy calls, no loop over the elements.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend, dtypes
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import (argument_error, bool_arg, dim_like, normalize_dim, not_a_tensor,
                    not_implemented_for, python_type_name, sort_keys)

__all__ = ["unique", "unique_consecutive", "bincount"]


def _rows(a, dim):
    """``a`` as a 2-d array of rows (see the module docstring), and how to reshape the output
    rows back: (rows, rebuild) where rebuild(unique_rows) gives the output array."""
    if dim is None:
        return a.reshape(-1, 1), lambda u: u.reshape(-1)
    xp = backend.xp_of(a)
    moved = xp.moveaxis(a, dim, 0)
    rest = moved.shape[1:]
    return (moved.reshape(moved.shape[0], int(np.prod(rest))),
            lambda u: xp.moveaxis(u.reshape((u.shape[0],) + rest), 0, dim))


def _insertion_order(rows):
    """The order PyTorch's unique with a dim leaves a few rows holding NaN in: it sorts them
    with std::sort and a lexicographic "less" that a NaN fails both ways, so the order is
    that of libstdc++'s insertion sort (what std::sort does for up to 16 elements): each row
    moved to the front if less than the first, else moved left past the rows it is less
    than."""
    def less(i, j):
        for x, y in zip(rows[i].tolist(), rows[j].tolist()):
            if x < y:
                return True
            if x > y:
                return False
        return False

    order = list(range(rows.shape[0]))
    for k in range(1, len(order)):
        row = order[k]
        if less(row, order[0]):
            order[1:k + 1] = order[:k]
            order[0] = row
            continue
        place = k
        while less(row, order[place - 1]):
            order[place] = order[place - 1]
            place -= 1
        order[place] = row
    return np.asarray(order)


def _group(rows, sort, by_slices=False):
    """(first-row index of each group in the ordered rows' order, inverse, counts) for a 2-d
    array of rows, the rows ordered first when ``sort`` (``by_slices``: the rows are slices
    along a dim, which PyTorch orders as ``_insertion_order`` says when NaN are among them,
    for up to 16 of them)."""
    xp = backend.xp_of(rows)
    n = rows.shape[0]
    if sort and by_slices and 1 < n <= 16 and rows.dtype.kind in "fV" and \
            xp.isnan(rows).any():
        order = xp.asarray(_insertion_order(backend.as_numpy(rows)))
        return _groups_of(rows[order], order, n)
    if sort and rows.shape[1] == 1 and rows.dtype.kind in "iu" and xp is np and n >= 1024:
        counted = _group_by_counting(rows[:, 0])
        if counted is not None:
            return counted
    if sort and n > 1 and rows.shape[1]:
        if rows.shape[1] == 1:
            order = xp.argsort(sort_keys(rows[:, 0]), kind="stable")
        else:                      # lexsort's last key is the primary one: column 0
            order = xp.lexsort(sort_keys(rows.T[::-1]))
        ordered = rows[order]
    else:
        order, ordered = None, rows
    return _groups_of(ordered, order, n)


def _groups_of(ordered, order, n):
    xp = backend.xp_of(ordered)
    starts = xp.ones(n, dtype=bool)
    if n > 1:
        starts[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
    group = xp.cumsum(starts) - 1
    inverse = group if order is None else xp.empty_like(group)
    if order is not None:
        inverse[order] = group
    counts = xp.bincount(group, minlength=int(starts.sum())) if n else xp.zeros(0, np.int64)
    return ordered[starts], inverse.astype(np.int64), counts.astype(np.int64)


def _group_by_counting(values):
    """``_group`` of sorted 1-d integers whose range is small next to their number (class
    labels, token ids): a count per value in the range instead of a sort (1M int64 in
    [0, 1000): 5 ms instead of 100). None when the range is too wide for it."""
    lo, hi = values.min(), values.max()
    span = int(hi) - int(lo) + 1
    if span > 2 * values.size:
        return None
    # in [0, span): 8-byte values subtract in place (span < 2^63), narrower ones widened
    # first (int8's 127 - -128 would wrap)
    wide = values if values.dtype.itemsize == 8 else values.astype(np.int64)
    shifted = (wide - wide.dtype.type(lo)).astype(np.intp, copy=False)
    per_value = np.bincount(shifted, minlength=span)
    present = per_value > 0
    rank = np.cumsum(present) - 1                         # a value's group number
    uniq = np.flatnonzero(present).astype(values.dtype) + lo
    return uniq.reshape(-1, 1), rank[shifted].astype(np.int64), \
        per_value[present].astype(np.int64)


class _NoDerivative(Function):
    """The distinct values (computed beforehand): PyTorch's output requires grad when the
    input does, but its backward refuses."""
    complex_ok = True            # values only: its backward refuses every dtype
    def forward(self, a, *, value, op):
        self.op = op
        return value

    def backward(self, g):
        raise NotImplementedError(f"the derivative for '{self.op}' is not implemented.")


def _unique(name, input, sort, return_inverse, return_counts, dim):
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, input)
    a = input._array
    if dim is not None:
        if a.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        dim = normalize_dim(dim, a.ndim)
        if any(n == 0 for k, n in enumerate(a.shape) if k != dim):
            raise RuntimeError("There are 0 sized dimensions, and they aren't selected, so "
                               "unique cannot be applied")
    rows, rebuild = _rows(a, dim)
    uniq, inverse, counts = _group(rows, sort, dim is not None)
    node = name if not sort else "_unique2" if dim is None else "unique_dim"
    out = _NoDerivative.apply(input, value=rebuild(uniq), op=node)
    if dim is None:
        inverse = inverse.reshape(a.shape)
    result = (out,)
    if return_inverse:
        result += (Tensor._wrap(inverse),)
    if return_counts:
        result += (Tensor._wrap(counts),)
    return result[0] if len(result) == 1 else result


def _refuse_complex(input, kernel="unique"):
    """Complex numbers have no order to sort the distinct values by: PyTorch refuses them
    (in the words of ``kernel``: unique_dim's, given a dim)."""
    if isinstance(input, Tensor) and input._array.dtype.kind == "c":
        raise not_implemented_for(kernel, input._array.dtype)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values of ``input`` (``dim=None``: a 1-d tensor) or its distinct slices
    along ``dim`` (shape of input with size(dim) replaced by their number), in ascending
    (lexicographic for slices) order.  ``return_inverse`` adds, for every element (input's
    shape) or slice (length size(dim)), the index of its value in the output, so that
    ``output[inverse] == input``; ``return_counts`` adds how often each output value occurs.
    Returns the output alone, or a tuple of it and the requested extras (int64).  The order
    is ascending even with ``sorted=False`` (any order is allowed there).  No gradient."""
    _refuse_complex(input, "unique" if dim is None else "unique_dim")
    for arg, flag in (("sorted", sorted), ("return_inverse", return_inverse),
                      ("return_counts", return_counts)):
        bool_arg("_unique2", arg, flag)
    if dim is not None and not isinstance(dim, Tensor) and (
            isinstance(dim, bool) or not isinstance(dim, numbers.Integral)):
        # (PyTorch's unique with a dim calls its unique_dim, dim second there)
        raise TypeError(f"unique_dim(): argument 'dim' (position 2) must be int, not "
                        f"{python_type_name(dim)}")
    return _unique("unique", input, True, return_inverse, return_counts, dim)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """``unique`` of each run of equal consecutive values (or slices along ``dim``): keeps
    the first of every run, in input order, so ``[1, 1, 2, 1]`` gives ``[1, 2, 1]``.
    ``return_inverse`` gives each element's run number, ``return_counts`` each run's length."""
    if dim is not None and not dim_like(dim):
        raise TypeError(f"unique_consecutive(): argument 'dim' must be int, not "
                        f"{python_type_name(dim)}")      # (PyTorch's parser, first)
    _refuse_complex(input, "unique" if dim is None else "unique_dim")
    bool_arg("unique_consecutive", "return_inverse", return_inverse)
    bool_arg("unique_consecutive", "return_counts", return_counts)
    return _unique("unique_consecutive", input, False, return_inverse, return_counts, dim)


def bincount(input, weights=None, minlength=0):
    """How often each value 0..N-1 occurs in the 1-d non-negative integer tensor ``input``,
    with N = max(max(input) + 1, minlength): out[v] = #{i : input[i] = v} (int64), or, with
    ``weights`` (1-d, input's length), out[v] = sum of weights[i] over input[i] = v (float32
    for float32 weights, otherwise float64).  An empty input gives int64 zeros of length
    ``minlength``.  No gradient."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("bincount", input)
    # (the positions of the arguments are worded by a wrapper that sees the call)
    if weights is not None and not isinstance(weights, Tensor):
        raise argument_error("bincount", "weights", "Tensor", weights)
    if isinstance(minlength, Tensor) and minlength._array.dtype.kind in "iu" and \
            minlength._array.size == 1:
        minlength = int(minlength.item())        # PyTorch reads a one-element tensor's value
    if isinstance(minlength, bool) or not isinstance(minlength, numbers.Integral):
        raise argument_error("bincount", "minlength", "int", minlength)
    a = input._array
    if a.dtype.kind not in "iu" or a.dtype in dtypes.BAREBONES_UNSIGNED:
        raise not_implemented_for("bincount_cpu", a.dtype)
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    xp = backend.xp_of(a)
    if a.ndim != 1 or (a.size and int(a.min()) < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    w = None
    if weights is not None:
        w = weights._array
        if w.ndim != 1 or w.shape[0] != a.shape[0]:
            raise RuntimeError("weights should be 1-d and have the same length as input")
    if a.size == 0:
        return Tensor._wrap(xp.zeros(int(minlength), dtype=np.int64))
    if w is None:
        return Tensor._wrap(xp.bincount(a, minlength=int(minlength)).astype(np.int64))
    out_dtype = w.dtype if w.dtype in (np.float32, np.float64) else dtypes.float64.np
    counts = xp.bincount(a, weights=w.astype(np.float64), minlength=int(minlength))
    return Tensor._wrap(counts.astype(out_dtype, copy=False))
