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
it evenly, and ``initial`` takes none of it.  Floating dtypes only (bfloat16 included); a
running sum (product) starts at ``initial`` and rounds to data's dtype at every element, as
PyTorch's kernel (for bfloat16 the values are recomputed in that order, ``_round_each_step``).
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from ..autograd import Function
from ..tensor import Tensor
from .division import div
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


def _round_each_step(result, data, sizes, axis, reduce, start):
    """PyTorch's values of the bfloat16 ``result`` (shape: data's with S at ``axis``), as a
    new array: each segment's running sum (product) rounded to bfloat16 after every element,
    then divided by the count for 'mean' (empty segments keep ``result``'s fill).  Vectorised
    over the segments; one step per position in the longest one."""
    x = np.moveaxis(data.astype(np.float32), axis, -1)              # (lead, trail, N)
    trail = data.ndim - axis - 1
    lengths = sizes.reshape(sizes.shape[:-1] + (1,) * trail + sizes.shape[-1:])
    lengths = np.broadcast_to(lengths, x.shape[:-1] + sizes.shape[-1:])  # (lead, trail, S)
    first = np.cumsum(lengths, -1) - lengths
    acc = np.full(lengths.shape, np.float32(dtypes.BFLOAT16.type(start)))
    last = max(x.shape[-1] - 1, 0)
    for k in range(int(lengths.max(initial=0))):
        value = np.take_along_axis(x, np.minimum(first + k, last), -1)
        step = (acc + value if reduce != "prod" else acc * value).astype(dtypes.BFLOAT16)
        acc = np.where(k < lengths, step.astype(np.float32), acc)
    if reduce == "mean":
        acc = np.where(lengths > 0, acc / np.maximum(lengths, 1), np.moveaxis(
            result.astype(np.float32), axis, -1))
    return np.ascontiguousarray(np.moveaxis(acc.astype(dtypes.BFLOAT16), -1, axis))


class _SteppedValues(Function):
    """The reduction's result with the values PyTorch's step-by-step rounding gives (bfloat16
    only); the gradient passes through as the float-accumulated reduction's."""
    _node_name = "SegmentReduceBackward0"

    def forward(self, out, *, values):
        return values

    def backward(self, g):
        return g


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
    if data._array.dtype.kind != "f" and data._array.dtype != dtypes.BFLOAT16:
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
    if initial is not None and reduce in ("sum", "prod", "mean"):
        # as PyTorch: each segment's running sum (product) starts at initial, in data's dtype
        # (for float16 / bfloat16 the rounding of every step depends on it)
        start = initial
    wide = shape[:axis] + (segments + spare,) + shape[axis + 1:]
    base = Tensor._wrap(xp.full(wide, start, data._array.dtype))
    out = scatter_reduce(base, axis, index, data, _REDUCTIONS[reduce],
                         include_self=reduce in ("sum", "prod", "mean"))
    if spare:
        out = narrow(out, axis, 0, segments)
    counts = sizes.reshape(sizes.shape + (1,) * (data.ndim - axis - 1))
    fill = _EMPTY[reduce] if initial is None else initial
    if reduce == "mean":
        safe = Tensor._wrap(backend.to_device(np.maximum(counts, 1).astype(
            data._array.dtype), data.device))
        empty = Tensor._wrap(backend.to_device(np.broadcast_to(counts == 0, shape).copy(),
                                               data.device))
        out = where(empty, Tensor._wrap(xp.full(shape, fill, data._array.dtype)),
                    div(out, safe))
    if reduce in ("sum", "prod", "mean") and data._array.dtype == dtypes.BFLOAT16 and \
            type(data._array) is np.ndarray:
        out = _SteppedValues.apply(out, values=_round_each_step(
            out._array, data._array, sizes, axis, reduce, start))
    if initial is None or reduce in ("sum", "prod", "mean"):
        return out
    # max / min: the initial value wins only where it is strictly beyond the segment's extreme
    # (an empty segment's extreme is -inf / inf), so ties leave the gradient with the data
    beyond = out._array < initial if reduce == "max" else out._array > initial
    return where(Tensor._wrap(beyond), Tensor._wrap(xp.full(shape, initial,
                                                            data._array.dtype)), out)
