"""PyTorch's reading of an index holding several Ellipses (numpy allows one only)."""
from __future__ import annotations

from ._index_words import _index_items, _list_as_tuple

__all__ = ["one_ellipsis"]


def _width(item):
    """The dims of the indexed tensor an index item takes (None, Ellipsis, a bool: none; a
    bool or uint8 mask: its ndim; anything else: one)."""
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    kind = getattr(getattr(item, "_array", item), "dtype", None)
    return item.ndim if kind is not None and kind.kind in "bu" and kind.itemsize == 1 else 1


def one_ellipsis(index, ndim):
    """``index`` with its Ellipses written out as PyTorch reads them, where numpy would read
    them otherwise: PyTorch lets a tuple index hold several, and each skips the dims no other
    item takes (so two of them may skip more dims than there are: full slices past the last
    dim then do nothing); and one that skips no dim does not part the index tensors around
    it (``x[i, ..., j]`` of a 2-d ``x`` keeps the result's dim where the two stand)."""
    if type(index) is list and any(item is Ellipsis for item in index) and \
            _list_as_tuple(index):
        index = _index_items(index)     # (a short list of items is a tuple, with a warning)
    if type(index) is not tuple:
        return index
    at = [j for j, item in enumerate(index) if item is Ellipsis]
    if not at or len(at) == 1 and not any(map(_advanced, index)):
        return index
    skipped = ndim - sum(_width(i) for i in index)
    if skipped < 0 or len(at) == 1 and skipped:
        return index                # (too many indices; or numpy reads it as PyTorch)
    full = slice(None)
    items = []
    for item in index:
        items.extend([full] * skipped if item is Ellipsis else [item])
    taking = sum(_width(i) for i in items)
    while taking > ndim and items and type(items[-1]) is slice and items[-1] == full:
        items.pop()                 # (past the last dim: PyTorch skips a full slice)
        taking -= 1
    return tuple(items)


def _advanced(item):
    """Whether an index item is an index array (a tensor, a numpy array or a list)."""
    return isinstance(item, list) or getattr(item, "ndim", 0) > 0
