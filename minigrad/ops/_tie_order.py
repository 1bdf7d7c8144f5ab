"""The order PyTorch's CPU ``sort(stable=False)`` gives equal values: its kernel runs the C++
library's introsort (libstdc++'s ``std::sort``) on (value, index) pairs compared by value
alone, so ties come out in the order that algorithm leaves them, not first come first. Rows
of at most 16 elements are insertion-sorted there, which is stable: only longer rows with
ties differ from a stable sort.

The introsort here works on one row's values as a Python list, step for step as the library
does: while a range holds more than 16 elements, the median of its second, middle and last
elements is swapped to its front and the range is partitioned around it (Hoare's scheme,
stopping on equal values), the right part sorted first, the left part looped on; past a
depth of 2 * floor(log2 n) the range is heap-sorted; then one insertion sort over the whole
row finishes it. A per-element loop, so it runs only where it changes the answer (a long row
with ties) and while those rows hold at most ``_MAX_ELEMENTS`` elements in all; beyond, ties
keep numpy's stable order.
"""
from __future__ import annotations

import math

import numpy as np

_THRESHOLD = 16
# The emulation is a Python loop: it runs only while the rows it reorders hold at most this
# many elements in all (a sort of 4096 tied elements took 5 ms, numpy's 0.2); past it, ties
# keep numpy's stable order in every row. topk's selections take one step per element, no
# log n: 64 tied rows of 2000 (a heap of 5) took 12 ms, torch 0.2
_MAX_ELEMENTS = 1 << 13
_MAX_TOP_ELEMENTS = 1 << 16     # partial_sort's heap (k * 64 <= n)
_MAX_SELECT_ELEMENTS = 1 << 14  # nth_element (and the sort of the k before it)


def _heap_sort(v, ix, lo, hi, less, middle=None, finish=True):
    """libstdc++'s partial_sort(first, middle, last) on [lo, hi) (middle: lo + m, the
    default hi): a heap of the first m, each later element better than its top swapped in,
    then the heap sorted."""
    n = (hi if middle is None else middle) - lo

    def adjust(hole, length, value, index):
        top = hole
        child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if less(v[lo + child], v[lo + child - 1]):
                child -= 1
            v[lo + hole], ix[lo + hole] = v[lo + child], ix[lo + child]
            hole = child
        if (length & 1) == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            v[lo + hole], ix[lo + hole] = v[lo + child - 1], ix[lo + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and less(v[lo + parent], value):
            v[lo + hole], ix[lo + hole] = v[lo + parent], ix[lo + parent]
            hole = parent
            parent = (hole - 1) // 2
        v[lo + hole], ix[lo + hole] = value, index

    if n >= 2:
        for parent in range((n - 2) // 2, -1, -1):
            adjust(parent, n, v[lo + parent], ix[lo + parent])
    for i in range(lo + n, hi):
        if less(v[i], v[lo]):               # __pop_heap(first, middle, i)
            value, index = v[i], ix[i]
            v[i], ix[i] = v[lo], ix[lo]
            adjust(0, n, value, index)
    if not finish:
        return
    for last in range(n - 1, 0, -1):
        value, index = v[lo + last], ix[lo + last]
        v[lo + last], ix[lo + last] = v[lo], ix[lo]
        adjust(0, last, value, index)


def _median_partition(v, ix, lo, hi, less):
    """libstdc++'s __unguarded_partition_pivot on [lo, hi): the median of the second,
    middle and last elements swapped to the front, then Hoare's partition around it;
    returns the cut."""
    def swap(i, j):
        v[i], v[j] = v[j], v[i]
        ix[i], ix[j] = ix[j], ix[i]

    a, b, c = lo + 1, lo + (hi - lo) // 2, hi - 1
    if less(v[a], v[b]):
        if less(v[b], v[c]):
            swap(lo, b)
        elif less(v[a], v[c]):
            swap(lo, c)
        else:
            swap(lo, a)
    elif less(v[a], v[c]):
        swap(lo, a)
    elif less(v[b], v[c]):
        swap(lo, c)
    else:
        swap(lo, b)
    pivot = v[lo]
    first, last = lo + 1, hi
    while True:
        while less(v[first], pivot):
            first += 1
        last -= 1
        while less(pivot, v[last]):
            last -= 1
        if not first < last:
            return first
        swap(first, last)
        first += 1


def _introsort(v, ix, less):
    """Sort the lists ``v`` (values) and ``ix`` (their indices) together, as std::sort."""
    n = len(v)

    stack = [(0, n, 2 * int(math.log2(n)) if n > 1 else 0)]
    while stack:
        lo, hi, depth = stack.pop()
        while hi - lo > _THRESHOLD:
            if depth == 0:
                _heap_sort(v, ix, lo, hi, less)
                break
            depth -= 1
            first = _median_partition(v, ix, lo, hi, less)
            # the right part before the left one (recursion there, a loop here)
            stack.append((lo, first, depth))
            lo = first
            stack.append((lo, hi, depth))
            break
    _insertion_sort(v, ix, 0, n, less)


def _insertion_sort(v, ix, lo, hi, less):
    """libstdc++'s final insertion sort of [lo, hi): guarded over the first 16, unguarded
    after (the 16 hold the smallest)."""
    for i in range(lo + 1, hi):
        value, index = v[i], ix[i]
        if i < lo + _THRESHOLD and less(value, v[lo]):
            v[lo + 1:i + 1], ix[lo + 1:i + 1] = v[lo:i], ix[lo:i]
            v[lo], ix[lo] = value, index
            continue
        j = i
        while less(value, v[j - 1]):
            v[j], ix[j] = v[j - 1], ix[j - 1]
            j -= 1
        v[j], ix[j] = value, index


def _less(descending):
    """PyTorch's comparison of two keys: NaN after everything ascending, first descending."""
    if descending:
        return lambda p, q: (p != p and q == q) or p > q
    return lambda p, q: (p == p and q != q) or p < q


def unstable_order(a, dim, descending, stable_order):
    """``stable_order`` (argsort of the numpy array ``a`` along ``dim``, ties in index
    order) with the rows that have ties and more than 16 elements reordered as PyTorch's
    unstable sort leaves them; ``stable_order`` itself when none needs it."""
    n = a.shape[dim] if a.ndim else 1
    if type(a) is not np.ndarray or n <= _THRESHOLD or n > _MAX_ELEMENTS or \
            a.dtype.kind not in "biuf":
        return stable_order
    keys = np.moveaxis(a, dim, -1).reshape(-1, n)
    order = np.moveaxis(stable_order, dim, -1).reshape(-1, n)
    ranked = np.take_along_axis(keys, order, axis=1)
    tied = np.nonzero(_equal(ranked[:, 1:], ranked[:, :-1]).any(axis=1))[0]
    if not len(tied) or len(tied) * n > _MAX_ELEMENTS:
        return stable_order
    order = order.copy()
    less = _less(descending)
    for r in tied:
        values = keys[r].tolist()
        index = list(range(n))
        _introsort(values, index, less)
        order[r] = index
    moved = order.reshape(np.moveaxis(stable_order, dim, -1).shape)
    return np.ascontiguousarray(np.moveaxis(moved, -1, dim))


def _equal(p, q):
    """Elementwise p == q, NaN equal to NaN (PyTorch's comparison finds neither less)."""
    same = p == q
    if p.dtype.kind == "f":
        nan_p = np.isnan(p)
        if nan_p.any():
            same |= nan_p & np.isnan(q)
    return same


def _introselect(v, ix, nth, less):
    """libstdc++'s nth_element(first, first + nth, last) on the whole lists."""
    lo, hi = 0, len(v)
    depth = 2 * int(math.log2(hi)) if hi > 1 else 0
    while hi - lo > 3:
        if depth == 0:
            _heap_select(v, ix, lo, nth + 1, hi, less)
            v[lo], v[nth] = v[nth], v[lo]
            ix[lo], ix[nth] = ix[nth], ix[lo]
            return
        depth -= 1
        cut = _median_partition(v, ix, lo, hi, less)
        if cut <= nth:
            lo = cut
        else:
            hi = cut
    _insertion_sort(v, ix, lo, hi, less)


def _heap_select(v, ix, lo, middle, hi, less):
    """The heap phase of partial_sort alone (a heap of [lo, middle) holding the best)."""
    _heap_sort(v, ix, lo, hi, less, middle=middle, finish=False)


def unstable_top(a, k, dim, largest, sorted_, stable_top):
    """``stable_top`` (the first k of the stable order of ``a`` along ``dim``) with the rows
    that have ties (every row, unsorted) chosen and ordered as PyTorch's topk leaves them:
    ``std::partial_sort`` when k * 64 <= n, else ``std::nth_element`` at k - 1 and
    (``sorted_``) ``std::sort`` of the k - 1 before it."""
    n = a.shape[dim] if a.ndim else 1
    budget = _MAX_TOP_ELEMENTS if k * 64 <= n else _MAX_SELECT_ELEMENTS
    if type(a) is not np.ndarray or n <= 3 or k == 0 or a.dtype.kind not in "biuf" or \
            n > budget:
        return stable_top
    keys = np.moveaxis(a, dim, -1).reshape(-1, n)
    top = np.moveaxis(stable_top, dim, -1).reshape(-1, k).copy()
    if not sorted_ and k * 64 > n:
        tied = range(len(keys))     # (unsorted: nth_element's order, ties or not)
    else:
        # only ties among the k kept values, or of the k-th with one left out, change them
        kept = np.take_along_axis(keys, top, axis=1)
        ordered = np.sort(kept, axis=1)
        last = kept[:, -1:]                                     # the k-th best
        tied = np.nonzero(_equal(ordered[:, 1:], ordered[:, :-1]).any(axis=1) |
                          (np.count_nonzero(_equal(last, keys), axis=1) >
                           np.count_nonzero(_equal(kept, last), axis=1)))[0]
    if not len(tied) or len(tied) * n > budget:
        return stable_top
    less = _less(largest)
    for r in tied:
        values, index = keys[r].tolist(), list(range(n))
        if k * 64 <= n:
            _heap_sort(values, index, 0, n, less, middle=k)
        else:
            _introselect(values, index, k - 1, less)
            if sorted_ and k > 1:
                part_v, part_i = values[:k - 1], index[:k - 1]
                _introsort(part_v, part_i, less)
                index[:k - 1] = part_i
        top[r] = index[:k]
    moved = top.reshape(np.moveaxis(stable_top, dim, -1).shape)
    return np.ascontiguousarray(np.moveaxis(moved, -1, dim))
