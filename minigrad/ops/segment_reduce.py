"""``torch.segment_reduce``: reduce consecutive runs (segments) of ``data`` along ``axis``.

    segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None)

``lengths`` (..., S) gives the segments' sizes (``offsets`` (..., S + 1) their boundaries
instead), with its leading dims matching data's dims before ``axis`` (``axis`` is
lengths.dim() - 1), so every row along those dims can be cut differently.  The result has S in
place of data's ``axis``.  ``reduce`` is 'sum', 'prod', 'mean', 'max' or 'min'; ``initial``
joins every segment (max(initial, values), initial + sum, initial * prod, (initial + sum) / n)
and is an empty segment's value (otherwise 0, 1, NaN, -inf, inf).

Composed of ``scatter_reduce`` and ``where``, so the gradient is theirs: ties of max/min share
it evenly, and ``initial`` takes none of it.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..tensor import Tensor
from .elementwise import add, div, mul
from .pointwise_select import where
from .scatter_reduce import scatter_reduce
from .stacking import narrow

__all__ = ["segment_reduce"]

_REDUCTIONS = {"sum": "sum", "prod": "prod", "mean": "sum", "max": "amax", "min": "amin"}
_EMPTY = {"sum": 0.0, "prod": 1.0, "mean": float("nan"), "max": -np.inf, "min": np.inf}


def _segment_lengths(data, lengths, offsets, axis, unsafe):
    """The segments' sizes (..., S) as an int64 numpy array, checked as PyTorch checks them."""
    given = lengths if lengths is not None else offsets
    if given._array.dtype.kind not in "iu":
        kernel = "lengths" if lengths is not None else "offsets"
        raise NotImplementedError(f'"_segment_reduce_{kernel}_cpu_kernel1" not implemented for '
                                  f"'{dtypes.scalar_type_name(given._array.dtype)}'")
    sizes = backend.as_numpy(given._array).astype(np.int64)
    if lengths is None:
        sizes = np.diff(sizes, axis=-1)
    if not unsafe:
        if (sizes < 0).any():
            raise RuntimeError("lengths contains negative value!")
        if (sizes.sum(-1) != data.shape[axis]).any():
            raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to "
                               "sum to data.size(lengths.dim()-1) when !unsafe.")
    return sizes


def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0,
                   unsafe=False, initial=None):
    """The ``reduce`` of each segment of ``data`` along ``axis`` (see the module docstring)."""
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    if indices is not None:
        raise RuntimeError("segment_reduce(): indices based reduction is not supported yet.")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined.")
    if data._array.dtype.kind != "f":
        raise NotImplementedError(f'"_segment_reduce_cpu" not implemented for '
                                  f"'{dtypes.scalar_type_name(data._array.dtype)}'")
    axis = axis + data.ndim if axis < 0 else axis
    if (lengths if lengths is not None else offsets).ndim - 1 != axis:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of "
                           f"{'lengths' if lengths is not None else 'offsets'} but got {axis}.")
    sizes = _segment_lengths(data, lengths, offsets, axis, unsafe)
    segments = sizes.shape[-1]
    # each element's segment along axis: how many segment ends lie at or before it (..., N)
    ends = np.cumsum(sizes, -1)
    position = np.arange(data.shape[axis])
    owner = (position >= ends[..., :, None]).sum(-2)
    # with unsafe=True the lengths may cover less than the axis: the elements past the last
    # segment belong to none (they go to a spare segment, dropped after the reduction)
    spare = int(owner.max(initial=0) >= segments)
    owner = owner.reshape(owner.shape + (1,) * (data.ndim - axis - 1))
    index = Tensor._wrap(backend.to_device(np.ascontiguousarray(
        np.broadcast_to(owner, data.shape)), data.device))
    shape = tuple(data.shape[:axis]) + (segments,) + tuple(data.shape[axis + 1:])
    xp = backend.xp_of(data._array)
    start = 0.0 if reduce in ("sum", "mean") else 1.0 if reduce == "prod" else _EMPTY[reduce]
    wide = shape[:axis] + (segments + spare,) + shape[axis + 1:]
    base = Tensor._wrap(xp.full(wide, start, data._array.dtype))
    out = scatter_reduce(base, axis, index, data, _REDUCTIONS[reduce],
                         include_self=reduce in ("sum", "prod", "mean"))
    if spare:
        out = narrow(out, axis, 0, segments)
    counts = sizes.reshape(sizes.shape + (1,) * (data.ndim - axis - 1))
    fill = _EMPTY[reduce] if initial is None else initial
    if reduce == "mean":
        if initial is not None:
            out = add(out, initial)
        safe = Tensor._wrap(backend.to_device(np.maximum(counts, 1).astype(
            data._array.dtype), data.device))
        empty = Tensor._wrap(backend.to_device(np.broadcast_to(counts == 0, shape).copy(),
                                               data.device))
        return where(empty, Tensor._wrap(xp.full(shape, fill, data._array.dtype)),
                     div(out, safe))
    if initial is None:
        return out
    if reduce == "sum":
        return add(out, initial)
    if reduce == "prod":
        return mul(out, initial)
    # max / min: the initial value wins only where it is strictly beyond the segment's extreme
    # (an empty segment's extreme is -inf / inf), so ties leave the gradient with the data
    beyond = out._array < initial if reduce == "max" else out._array > initial
    return where(Tensor._wrap(beyond), Tensor._wrap(xp.full(shape, initial,
                                                            data._array.dtype)), out)
