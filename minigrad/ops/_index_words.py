"""PyTorch's checks of an index and its words when one fails, in PyTorch's order: how many
dims a tuple index takes, the kind and range of each item, the masks' shapes, numpy's
IndexError reworded, and the refusals of ``x[index] = value`` (the value's kind, its shape
against the indexed one).  ``indexing`` runs the index itself.
"""
from __future__ import annotations

import numbers
import re

import numpy as np

from .._warn_once import warn_user
from .. import dtypes
from ..tensor import Tensor


def _index_items(index):
    """The index as a tuple of per-dimension items, by PyTorch's (and old numpy's) rule for a
    list: a short list (under 32 items) holding a slice, None, Ellipsis, a tensor, an array or
    another sequence stands for a tuple (``x[[slice(None), 1]]`` is ``x[:, 1]``, with
    PyTorch's deprecation warning); any other list is one index array."""
    if isinstance(index, tuple):
        return index
    if _list_as_tuple(index):
        warn_user("Using a non-tuple sequence for multidimensional indexing is deprecated: "
                  "x[seq] is read as x[tuple(seq)] here, but may later be read as "
                  "x[tensor(seq)]; write x[tuple(seq)]", UserWarning)
        return tuple(index)
    return (index,)


def _list_as_tuple(index):
    """Whether a list index stands for a tuple of items (``_index_items``'s rule)."""
    return isinstance(index, list) and len(index) < 32 and any(
        item is None or item is Ellipsis
        or isinstance(item, (slice, list, tuple, range, Tensor, np.ndarray)) for item in index)


def _is_int(item):
    return isinstance(item, numbers.Integral) and not isinstance(item, bool)


def _refuse_long_ints(items):
    """PyTorch's ValueError for an int index past 64 bits (its parser reads an int64)."""
    if any(type(i) is int and not -2 ** 63 <= i < 2 ** 63 for i in items):
        raise ValueError("Overflow when unpacking long long")


def _check_index_count(a, index):
    """PyTorch's first check of a tuple index: it may not take more dims than ``a`` has (a
    mask takes its own number of dims; None, Ellipsis and a bool none), before any item's
    kind or dtype is looked at."""
    if _list_as_tuple(index):
        index = tuple(index)
    elif type(index) is not tuple and type(index) is not slice and not _is_int(index):
        index = (index,)                # (a lone int or slice: the 0-d tensor's own words)
    if type(index) is not tuple:
        return
    taken = 0
    for item in index:
        if item is None or item is Ellipsis or isinstance(item, (bool, np.bool_)):
            continue
        kind = getattr(item, "dtype", None)
        if isinstance(item, Tensor):
            kind = item._array.dtype
        if kind is not None and (kind == np.bool_ or kind == np.uint8):
            taken += len(item.shape)
        else:
            taken += 1
    if taken > a.ndim:
        raise IndexError(f"too many indices for tensor of dimension {a.ndim}")


_UNGIVEN = object()
_TOO_MANY = re.compile(r"too many indices for array: array is (\d+)-dimensional, but (\d+) were "
                       r"indexed")
_MASK = re.compile(r"boolean index did not match indexed array along (?:axis|dimension) (\d+); "
                   r"size of (?:axis|dimension) is (\d+) but size of corresponding boolean "
                   r"(?:axis|dimension) is (\d+)")
_NO_BROADCAST = "shape mismatch: indexing arrays could not be broadcast together with shapes"
_BOUNDS = re.compile(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)")


def _check_masks(idx, a):
    """PyTorch's IndexError for a bool mask whose shape differs from the dims it covers.  The
    sizes named are those of the tensor PyTorch indexes: the integer indices already applied
    (their dims gone) and each None a new dim of size 1."""
    def is_mask(i):
        return getattr(i, "dtype", None) is not None and i.dtype.kind == "b"

    used = sum(i.ndim if is_mask(i) else 0 if i is None or i is Ellipsis else 1 for i in idx)
    shape, kept, masks, d = a._array.shape, [], [], 0
    for i in idx:
        if i is None:
            kept.append(1)
        elif i is Ellipsis:
            n = max(a.ndim - used, 0)
            kept += shape[d:d + n]
            d += n
        elif is_mask(i):
            masks.append((i, d, len(kept)))
            kept += shape[d:d + i.ndim]
            d += i.ndim
        else:
            if not _is_int(i):
                kept += shape[d:d + 1]
            d += 1
    kept += shape[d:]
    for mask, d, r in masks:
        for j in range(mask.ndim):
            if d + j < a.ndim and mask.shape[j] != shape[d + j]:
                raise IndexError(f"The shape of the mask {list(mask.shape)} at index {j} does "
                                 f"not match the shape of the indexed tensor {list(kept)} at "
                                 f"index {r + j}")


def _selects_a_view(idx, a):
    """Does PyTorch's ``a[idx] = v`` first take a view of ``a``: an integer, None, a Python
    bool or a slice that is not the whole dim (``:`` and ``...`` leave ``a`` as it is)."""
    def is_array(i):
        return getattr(i, "dtype", None) is not None

    used = sum(i.ndim if is_array(i) and i.dtype.kind == "b" else
               0 if i is None or i is Ellipsis or isinstance(i, bool) else 1 for i in idx)
    d = 0
    for i in idx:
        if i is None or isinstance(i, bool) or _is_int(i):
            return True
        if i is Ellipsis:
            d += max(a.ndim - used, 0)
        elif isinstance(i, slice):
            if d < a.ndim and i.indices(a.shape[d]) != (0, a.shape[d], 1):
                return True
            d += 1
        else:
            d += i.ndim if i.dtype.kind == "b" else 1
    return False


def _advanced_dim(idx, a, axis):
    """The dimension PyTorch names when an index array at numpy's ``axis`` of ``a[idx]`` is
    out of bounds: PyTorch moves the indexed dimensions to the front and applies the index
    arrays there, so it counts only the dimensions the index arrays (and masks) before this
    one index; None when a slice or an integer (numpy's axis is PyTorch's) is at ``axis``."""
    used = sum(i.ndim if hasattr(i, "shape") and i.dtype.kind == "b" else
               0 if i is None or i is Ellipsis or isinstance(i, bool) else 1 for i in idx)
    d = before = 0
    for i in idx:
        if i is Ellipsis:
            d += max(a.ndim - used, 0)
        elif hasattr(i, "shape"):
            width = i.ndim if i.dtype.kind == "b" else 1
            if d <= axis < d + width:
                return None if i.dtype.kind == "b" else before
            d, before = d + width, before + width
        elif i is not None and not isinstance(i, bool):
            if d == axis:
                return None
            d += 1
    return None


def _item_position(idx, a, axis):
    """The dimension PyTorch names when an integer or slice at numpy's ``axis`` is out of
    bounds: the place of that item in the index as written (each None, Ellipsis and bool
    counts one), not the axis it reaches (``x[..., 5]`` names dimension 1 whatever x's
    dimensions).  With a mask among the items, numpy's axis."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    if any(getattr(i, "dtype", None) is not None and i.dtype.kind == "b" for i in idx):
        return axis
    used = sum(0 if i is None or i is Ellipsis or isinstance(i, bool) else 1 for i in idx)
    d = 0
    for place, i in enumerate(idx):
        if i is Ellipsis:
            d += max(a.ndim - used, 0)
        elif i is not None and not isinstance(i, bool):
            if d == axis:
                return place
            d += 1
    return axis


def _index_message(exc, a, idx=(), index=_UNGIVEN, reading=False):
    """numpy's IndexError, reworded as PyTorch's, with the indexed tensor's shape (``idx``:
    the index, whose arrays PyTorch counts dimensions by; ``index``: the index as given, whose
    kind picks PyTorch's words for a 0-d tensor; ``reading``: a read through index tensors)."""
    msg = str(exc)
    too_many = _TOO_MANY.search(msg)
    mask = _MASK.search(msg)
    bounds = _BOUNDS.search(msg)
    dim = bounds and _advanced_dim(idx, a, int(bounds[2]))
    if too_many and a.ndim == 0 and index is not _UNGIVEN and not _is_int(index):
        # only a lone int (x[0]) gets the words about item(); a lone slice has its own
        msg = "slice() cannot be applied to a 0-dim tensor." if type(index) is slice else \
            "too many indices for tensor of dimension 0"
    elif too_many and a.ndim == 0 and _is_int(index) and int(index) != 0:
        # (only 0 gets the words about item(): any other int is out of a dim of size 0)
        msg = f"index {int(index)} is out of bounds for dimension 0 with size 0"
    elif too_many and a.ndim == 0:
        msg = ("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
               "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    elif too_many:
        msg = (f"too many indices for tensor of dimension {too_many[1]} (got {too_many[2]} "
               "indices)")
    elif mask:
        dim, size, got = mask.groups()
        msg = (f"The shape of the mask [{got}] at index {dim} does not match the shape of the "
               f"indexed tensor [{size}] at index {dim}")
    elif bounds and (bounds[3] == "0" or reading and 0 in a.shape) and dim is not None:
        # PyTorch's words (a read of an empty tensor's too, whichever index is out: its
        # kernel finds the tensor empty before it reads an index)
        msg = "index is out of bounds for dimension with size 0"
    elif dim is not None:
        msg = f"index {bounds[1]} is out of bounds for dimension {dim} with size {bounds[3]}"
    elif bounds:
        msg = (f"index {bounds[1]} is out of bounds for dimension "
               f"{_item_position(idx, a, int(bounds[2]))} with size {bounds[3]}")
    elif msg.startswith(_NO_BROADCAST):
        # numpy's shapes "(12,) (2,1) " written as PyTorch's "[12], [2, 1]"
        shapes = re.findall(r"\(([\d,]*)\)", msg[len(_NO_BROADCAST):])
        msg = ("shape mismatch: indexing tensors could not be broadcast together with shapes " +
               ", ".join("[" + ", ".join(d for d in sh.split(",") if d) + "]" for sh in shapes))
    else:
        msg = msg.replace("axis", "dimension")
    return f"{msg} (indexing a tensor of shape {list(a.shape)})"


def _check_value_kind(a, value):
    """PyTorch takes a tensor or a Python number only as the value of ``a[i] = value`` (not a
    list, an array or a numpy scalar but an integer one): torch.tensor(...) first."""
    if not isinstance(value, (Tensor, bool, int, float, complex, np.integer)):
        kind = type(value)
        name = kind.__name__ if kind.__module__ == "builtins" else \
            f"{kind.__module__.split('.')[0]}.{kind.__name__}"
        raise TypeError(f"can't assign a {name} to a {a.type()}")


def _lone_byte_mask(index):
    """Whether the index's only tensor-like item is a uint8 mask (ints, slices, None and
    Ellipsis beside it): PyTorch then writes a single value with masked_fill_.  A Python bool
    is a tensor index there, as a list is, and makes it an index_put."""
    items = [i for i in _index_items(index)
             if isinstance(i, (Tensor, list, tuple, range, np.ndarray, bool, np.bool_))
             and not (isinstance(i, Tensor) and i.ndim == 0 and i._array.dtype.kind == "i")]
    return len(items) == 1 and isinstance(items[0], Tensor) and items[0]._array.dtype == np.uint8


def _check_put_shapes(a, index, idx, value):
    """index_put's checks before that of the dtypes: the index arrays broadcast together, and
    the value broadcasts to what they pick (its leading 1s dropped).  An index out of range
    is found later, by the kernel (but one into a dim of size 0 here)."""
    try:
        target = a._array[idx].shape
    except IndexError as exc:
        words = _index_message(exc, a, idx, index)
        if not _BOUNDS.search(str(exc)) or "with size 0" in words:
            raise IndexError(words) from None
        target = a._array[_zeroed(idx)].shape      # the shape picked
    have = list(value.shape)
    while have and have[0] == 1:
        have.pop(0)
    if len(have) > len(target) or any(h not in (1, t) for h, t in
                                      zip(reversed(have), reversed(target))):
        raise _shape_refusal(a, index, idx, value, False, target)


def _zeroed(idx):
    """``idx`` with every integer index array at 0 (to read the shape an index picks)."""
    return tuple(np.zeros_like(i) if getattr(i, "dtype", None) is not None and
                 i.dtype.kind in "iu" else i for i in idx)


def _shape_refusal(a, index, idx, value, basic, target=None, given_dtype=None):
    """The RuntimeError for a value that does not broadcast to ``a[index]`` (of shape
    ``target`` when given): PyTorch's words, then minigrad's explanation."""
    if target is not None:
        target = list(target)
    else:
        try:
            target = list(a._array[idx].shape)
        except IndexError:      # an index out of range: the shape it would pick
            try:
                target = list(a._array[_zeroed(idx)].shape)
            except Exception:  # noqa: BLE001 -- only to word the message
                target = "?"
        except Exception:  # noqa: BLE001 -- only to word the message
            target = "?"
    words = "" if target == "?" else _torch_words(value, target, basic, given_dtype)
    return RuntimeError(f"{words}cannot assign a tensor of shape {list(value.shape)} to "
                        f"{_describe_index(index)} of a tensor of shape {list(a.shape)}: "
                        f"the value's shape {list(value.shape)} does not broadcast to the "
                        f"indexed shape {target}{')' if words else ''}")


def _torch_words(value, target, basic, given_dtype=None):
    """How PyTorch words a value that does not broadcast to the indexed shape ``target``: a
    basic index writes through a view, expanding the value to it; an advanced one is an
    index_put. Returned as a lead-in to minigrad's own explanation."""
    have = list(value.shape)
    if not basic:
        while have and have[0] == 1:        # (index_put gets the value without leading 1s)
            have.pop(0)
        return (f"shape mismatch: value tensor of shape {have} cannot be broadcast to indexing "
                f"result of shape {target} (")
    if len(have) > len(target):
        dtype = value._array.dtype if given_dtype is None else given_dtype
        return (f"expand({dtypes.tensor_type_string(dtype)}{{{have}}}, "
                f"size={target}): the number of sizes provided ({len(target)}) must be greater "
                f"or equal to the number of dimensions in the tensor ({len(have)}) (")
    lead = len(target) - len(have)
    for i in range(len(target) - 1, lead - 1, -1):          # the last clashing dim, as PyTorch
        if have[i - lead] not in (1, target[i]):
            return (f"The expanded size of the tensor ({target[i]}) must match the existing size "
                    f"({have[i - lead]}) at non-singleton dimension {i}.  Target sizes: "
                    f"{target}.  Tensor sizes: {have} (")
    return ""


def _describe_index(index):
    return "every element (copy_/fill_)" if index is Ellipsis else f"index {index!r}"
