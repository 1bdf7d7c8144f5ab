"""Collation (PyTorch's ``torch.utils.data._utils.collate``): ``default_collate`` stacks a
list of samples into a batch, ``default_convert`` makes one sample tensors without batching."""
from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence

import numpy as np

from ....ops.stacking import stack
from ....tensor import Tensor
from ...._tensor_factories import tensor

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map",
           "collate_tensor_fn", "collate_numpy_array_fn", "collate_numpy_scalar_fn",
           "collate_float_fn", "collate_int_fn", "collate_str_fn"]

_COLLATE_TYPES = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                  "or lists; ")


def default_convert(data):
    """One sample made tensors without batching (``batch_size=None``): numpy arrays and
    numpy scalars become tensors, containers are converted field by field, the rest stays."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biufc":
        return Tensor._wrap(data)
    if isinstance(data, np.generic) and data.dtype.kind in "biufc":
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if isinstance(data, tuple) and hasattr(data, "_fields"):   # namedtuple
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]       # PyTorch's rule: a tuple -> a list
    if isinstance(data, Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate_tensor_fn(batch, *, collate_fn_map=None):
    return stack(list(batch), 0)        # differentiable, as PyTorch's


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if elem.dtype.kind not in "biufc":
        raise TypeError(_COLLATE_TYPES + f"found {elem.dtype}")
    if any(b.shape != elem.shape for b in batch):   # images of different sizes: stack's error
        return collate_tensor_fn([Tensor._wrap(np.asarray(b)) for b in batch])
    return Tensor._wrap(np.stack(batch))


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    elem = batch[0]
    if elem.dtype.kind not in "biufc":
        raise TypeError(_COLLATE_TYPES + f"found {elem.dtype}")
    return Tensor._wrap(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    return Tensor._wrap(np.asarray(batch, dtype=np.float64))


def collate_int_fn(batch, *, collate_fn_map=None):
    # the dtype tensor(batch) infers: bools alone give bool, ints int64, and later floats in
    # a batch whose first sample was an int give the default float dtype (not truncation)
    return tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None):
    # the batch as it came: a list at the top, a tuple of one field of tuple samples
    return batch


# type -> function(batch, *, collate_fn_map) for the leaves; a map of your own extends it:
# collate(batch, collate_fn_map={**default_collate_fn_map, MyBox: collate_boxes})
default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` (a list of samples) with PyTorch's rules: a leaf whose type (or a
    base of it) is in ``collate_fn_map`` goes to that function; mappings, namedtuples and
    sequences are collated field by field (a tuple gives a list); anything else is a
    TypeError."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        if elem_type in collate_fn_map:
            return collate_fn_map[elem_type](batch, collate_fn_map=collate_fn_map)
        for leaf_type, fn in collate_fn_map.items():
            if isinstance(elem, leaf_type):
                return fn(batch, collate_fn_map=collate_fn_map)

    def field(key):
        return collate([d[key] for d in batch], collate_fn_map=collate_fn_map)

    if isinstance(elem, Mapping):
        try:
            if isinstance(elem, MutableMapping):
                # a copy keeps the mapping's type and any attributes of its own
                clone = copy.copy(elem)
                clone.update({key: field(key) for key in elem})
                return clone
            return elem_type({key: field(key) for key in elem})
        except TypeError:
            return {key: field(key) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return elem_type(*(collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # each field's values as a tuple (what a custom collate function receives)
        fields = [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return fields           # PyTorch's rule: tuple samples (x, y) give a list [xs, ys]
        try:
            if isinstance(elem, MutableSequence):
                clone = copy.copy(elem)
                for i, f in enumerate(fields):
                    clone[i] = f
                return clone
            return elem_type(fields)
        except TypeError:
            return fields
    raise TypeError(_COLLATE_TYPES + f"found {elem_type}")


def default_collate(batch):
    """Stack a list of samples into a batch, recursively (PyTorch's rules): tensors and numpy
    arrays are stacked along a new dim 0, Python ints become an int64 tensor, floats a
    float64 tensor, bools a bool tensor; tuples/lists/dicts are collated field by field;
    strings stay a list."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
