"""Collation (PyTorch's ``torch.utils.data._utils.collate``): ``default_collate`` stacks a
list of samples into a batch, ``default_convert`` makes one sample tensors without batching."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ....ops.movement import stack
from ....tensor import Tensor

__all__ = ["default_collate", "default_convert"]


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


def default_collate(batch):
    """Stack a list of samples into a batch, recursively (PyTorch's rules): tensors and numpy
    arrays are stacked along a new dim 0, Python ints become an int64 tensor, floats a
    float64 tensor, bools a bool tensor; tuples/lists/dicts are collated field by field;
    strings stay a list."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack([b.detach() for b in batch], 0)
    if isinstance(elem, np.ndarray):
        return Tensor._wrap(np.stack(batch))
    if isinstance(elem, np.generic):
        return Tensor._wrap(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor._wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor._wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor._wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        collated = {k: default_collate([d[k] for d in batch]) for k in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):   # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # one batch per field; PyTorch gives a list for tuple samples too: (x, y) -> [xs, ys]
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem).__name__}")
