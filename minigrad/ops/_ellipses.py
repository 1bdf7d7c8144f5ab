"""PyTorch's reading of an index holding several Ellipses (numpy allows one only)."""
from __future__ import annotations

__all__ = ["one_ellipsis"]


def _width(item):
    """The dims of the indexed tensor an index item takes (None, Ellipsis, a bool: none; a
    bool or uint8 mask: its ndim; anything else: one)."""
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    kind = getattr(getattr(item, "_array", item), "dtype", None)
    return item.ndim if kind is not None and kind.kind in "bu" and kind.itemsize == 1 else 1


def one_ellipsis(index, ndim):
    """``index`` with the Ellipses PyTorch reads as doing nothing taken out: PyTorch lets a
    tuple index hold several, each skipping the dims no other item takes, so a later one
    skips nothing when every dim is taken, nor at the end of the index."""
    if type(index) is not tuple or sum(item is Ellipsis for item in index) < 2:
        return index
    at = [j for j, item in enumerate(index) if item is Ellipsis]
    skipped = ndim - sum(_width(i) for i in index)
    drop = {j for j in at[1:] if skipped <= 0 or all(i is Ellipsis for i in index[j:])}
    return tuple(item for j, item in enumerate(index) if j not in drop)
