"""``embedding_bag``: the sum, mean or max of bags of rows of an embedding table (the math of
``nn.EmbeddingBag``), and ``_renorm_rows``, the in-place ``max_norm`` shrinking that
``embedding`` and ``embedding_bag`` share.  Kept apart from the layer so that
``nn.functional`` can offer it without importing the layers."""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes
from .._sparse_factories import embedding_rows
from ..autograd import is_grad_enabled
from ..autograd._node_names import rename_node
from ..ops.stacking import cat
from ..ops.scatter_gather import Gather, IndexAdd, IndexSelect, scatter_reduce_array
from ..ops._gather_scatter_checks import SCALAR_NAMES
from .._type_names import python_type_name
from ..tensor import Tensor, _plain_type
from ._embedding_bag_node import EmbeddingBagSums, bag_sums_fit

__all__ = ["embedding_bag"]


def _type_name(obj):
    """``str(type(obj))``, with the Tensor class under its public name
    ("<class 'minigrad.Tensor'>", as PyTorch writes "<class 'torch.Tensor'>")."""
    cls = _plain_type(obj)          # (a checked view is a Tensor to its user)
    if cls is Tensor:
        return "<class 'minigrad.Tensor'>"
    return str(cls)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """In place and outside autograd (as PyTorch does): each row of ``weight`` that ``idx``
    uses and whose ``norm_type``-norm exceeds ``max_norm`` is scaled by max_norm / (norm + 1e-7)."""
    a = weight._array
    xp = backend.xp_of(a)
    used = xp.unique(idx.reshape(-1).astype("int64"))
    rows = a[used]
    norms = xp.linalg.norm(rows, ord=norm_type, axis=1) if rows.size else xp.zeros(len(used))
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    a[used] = (rows * scale[:, None]).astype(a.dtype)
    weight._vcounter.value += 1


def check_index_dtype(dtype, op, position=1):
    """Embedding indices are int64 or int32 (PyTorch refuses the narrower integers too)."""
    name = np.dtype(dtype).name
    if name not in ("int64", "int32"):
        what = dtypes.tensor_type_string(dtype)   # ('CPUComplexFloatType', ...)
        raise RuntimeError(f"Expected tensor for argument #{position} 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {what} instead (while "
                           f"checking arguments for {op})")


def _legacy_name(dtype):
    """'torch.FloatTensor' for float32...: how PyTorch's argument checks name a tensor type."""
    name = dtypes.from_numpy_dtype(np.dtype(dtype)).name
    return f"torch.{SCALAR_NAMES.get(name, name)}Tensor"


def _check_weights_dtype(weight, per_sample_weights):
    """The per-sample weights scale rows of ``weight`` in its own dtype: they must share it."""
    if per_sample_weights is not None and \
            per_sample_weights._array.dtype != weight._array.dtype:
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as "
                           f"tensor for argument #1 'per_sample_weights'; but type "
                           f"{_legacy_name(weight._array.dtype)} does not equal "
                           f"{_legacy_name(per_sample_weights._array.dtype)} (while checking "
                           f"arguments for embedding_bag)")


def _bag_arguments(input, weight, offsets, per_sample_weights, mode, include_last_offset,
                   scale_grad_by_freq, padding_idx=None, sparse=False, max_norm=None):
    """Checks as PyTorch; -> (flat indices (M,), bag starts (B + 1,) ending in M, flat
    per-sample weights or None), all index arrays on the host.  With ``include_last_offset``
    the indices past the last offset join the last bag (PyTorch's reference kernel; its fast
    float32 sum/mean kernel drops them from the values but not from the gradient)."""
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({input.shape})")
    idx = backend.as_numpy(input._array)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {_type_name(offsets)}")
        bags, width = input.shape
        if idx.dtype.kind == "b" or idx.dtype.kind == "u" and idx.dtype.itemsize > 1:
            # PyTorch's offsets: an arange in the input's dtype, which has none of these
            raise NotImplementedError(f"\"arange_cpu\" not implemented for "
                                      f"'{dtypes.scalar_type_name(idx.dtype)}'")
        if width == 0:      # PyTorch's offsets are arange(0, numel, width): no step
            raise RuntimeError("step must be nonzero")
        starts = np.arange(bags + 1, dtype=np.int64) * width
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        starts = backend.as_numpy(offsets._array).astype(np.int64)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights")
    if max_norm is not None:   # PyTorch renorms the used rows here, checking the indices
        check_index_dtype(idx.dtype, "embedding_renorm_", 2)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    n = weight.shape[0]
    if padding_idx is not None and (isinstance(padding_idx, bool) or not isinstance(
            padding_idx, (int, np.integer, Tensor))):
        raise TypeError(f"embedding_bag(): argument 'padding_idx' (position 9) must be int, "
                        f"not {python_type_name(padding_idx)}")
    if padding_idx is not None and not -n <= int(padding_idx) < n:   # (PyTorch's kernel: first)
        raise RuntimeError(f"padding_idx must be within the number of embeddings, -{n} through "
                           f"{n - 1}, but got {padding_idx}")
    _check_weights_dtype(weight, per_sample_weights)
    # PyTorch's kernel, after the mode: the indices and offsets promoted to one type (uint8
    # indices beside int64 offsets are taken as int64), which must be int64 or int32
    # (promoted as offsets with indices: a refusal names them in that order)
    common = idx.dtype if input.ndim == 2 else dtypes._promote(offsets._array.dtype, idx.dtype)
    check_index_dtype(common, "embedding_bag")
    if input.ndim == 1 and include_last_offset and not len(starts):
        raise RuntimeError("include_last_offset: number of offset should be at least 1")
    if input.ndim == 1:         # the offsets' values: PyTorch's kernel checks them, after the above
        if len(starts) and starts[0] != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                               f"mini-batch has to start from position 0. However, got "
                               f"{int(starts[0])}\n[ torch.{SCALAR_NAMES[common.name]}Tensor{{}} ]")
        if len(starts) and starts[-1] > idx.size:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length "
                               f"{idx.size} but got offsets[-1] of {int(starts[-1])}")
        disordered = bool((starts[1:] < starts[:-1]).any())
        if disordered and mode != "max" and padding_idx is None and \
                weight._array.dtype != np.float64:
            _check_fast_offsets(starts, include_last_offset)
        starts = np.append(starts[:-1] if include_last_offset else starts, idx.size)
    else:
        disordered = False
    return idx.reshape(-1).astype(np.int64), starts, per_sample_weights, disordered


def _check_fast_offsets(offsets, include_last_offset):
    """PyTorch's fast sum/mean kernel (float32 and 16-bit tables, no padding_idx) refuses
    offsets out of order (its generic one takes them: see ``embedding_bag``)."""
    if include_last_offset and len(offsets) > 1 and offsets[-1] < offsets[-2]:
        raise RuntimeError("Your input appears to be incorrect: the last offset value should be "
                           "the size of the indices tensor, but it seems not to be the case.")
    if np.any(offsets[1:] < offsets[:-1]):
        raise RuntimeError("Expected i < index_size to be true, but got false.  (Could this "
                           "error message be improved?  If so, please report an enhancement "
                           "request to PyTorch.)")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """The functional form of :class:`EmbeddingBag` (same arguments, ``weight`` given).
    ``scale_grad_by_freq`` divides each row's gradient by how often ``input`` uses it, as
    ``embedding`` does (PyTorch 2.x's CPU kernel pairs some rows with a neighbour's count).
    With ``include_last_offset`` and a last offset short of the input's length, the indices
    past it join the last bag (PyTorch's generic kernel); PyTorch's fast sum/mean kernel
    (float32 and 16-bit tables, no padding_idx) leaves them out of the values only, as here."""
    out = _embedding_bag(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq,
                         mode, sparse, per_sample_weights, include_last_offset, padding_idx)
    if include_last_offset and mode != "max" and padding_idx is None and \
            weight._array.dtype != np.float64 and input.ndim == 1 and offsets.numel() > 1:
        bounds = backend.as_numpy(offsets._array)
        cut, total = int(bounds[-1]), input.numel()
        if cut < total:
            out = _without_tail(out, weight, input, per_sample_weights, cut,
                                max(total - int(bounds[-2]), 1) if mode == "mean" else 1)
    return out


def _without_tail(out, weight, input, per_sample_weights, cut, divisor):
    """``out`` (bags, dim) less, in its last row's values only (the gradient stays), the rows
    that the indices from ``cut`` on added to it (weighted, divided by ``divisor``)."""
    rows = weight._array[input._array.reshape(-1)[cut:]]                       # (T, dim)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights._array.reshape(-1)[cut:, None]
    xp = backend.xp_of(rows)
    tail = xp.zeros(tuple(out.shape), out._array.dtype)
    tail[-1] = rows.astype(np.float32).sum(0) / divisor
    return rename_node(out - Tensor._wrap(tail), "EmbeddingBagBackward0")


def _embedding_bag(input, weight, offsets, max_norm, norm_type, scale_grad_by_freq, mode,
                   sparse, per_sample_weights, include_last_offset, padding_idx):
    if weight._array.dtype.kind == "c":       # PyTorch's bag kernels are real only
        kind = "ComplexFloat" if weight._array.dtype.itemsize == 8 else "ComplexDouble"
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have one of the "
                           f"following scalar types: Half, BFloat16, Float, Double; but got "
                           f"CPU{kind}Type instead (while checking arguments for embedding_bag)")
    idx, starts, psw, disordered = _bag_arguments(input, weight, offsets, per_sample_weights, mode,
                                      include_last_offset, scale_grad_by_freq, padding_idx,
                                      sparse, max_norm)
    n, dim = weight.shape
    bad = np.nonzero((idx < 0) | (idx >= n))[0]
    if len(bad):
        if mode == "max" or weight._array.dtype == np.float64:     # PyTorch's generic kernel
            raise RuntimeError(f"embedding_bag: Expected idx >= 0 && idx < num_embeddings but "
                               f"found idx to be {int(idx[bad[0]])}")
        raise RuntimeError(f"Index {int(bad[0])} of input takes value {int(idx[bad[0]])} which "
                           f"is not in the valid range [0, {n})")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    bags = len(starts) - 1
    # which bag each index falls in, as PyTorch's generic kernel counts it: the number of
    # bag starts at or before it, less one (offsets out of order mix the bags so, and its fast
    # kernel refuses them); the ones equal to padding_idx take no part
    if bags == 0:       # (include_last_offset with one offset: PyTorch's fast kernel)
        empty = backend.to_device(np.zeros(0, np.int64), weight.device)
        return rename_node(IndexSelect.apply(weight, index=empty, dim=0), "EmbeddingBagBackward0")
    if disordered:      # (PyTorch's count of the bag starts at or before each index)
        bag_all = np.cumsum(np.bincount(starts[:-1], minlength=idx.size + 1)[:idx.size]) - 1
    else:
        bag_all = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    if padding_idx is None:
        keep, kept, bag_of = None, idx, bag_all
    else:
        keep = idx != padding_idx
        kept, bag_of = idx[keep], bag_all[keep]
    if max_norm is not None:    # every row the input names, as PyTorch's (padding included)
        _renorm_rows(weight, idx, max_norm, norm_type)
    to_dev = (lambda a: backend.to_device(a, weight.device))
    if mode == "max":           # (each bag's result named as PyTorch's one node for them all)
        return rename_node(_bag_max(weight, kept, bag_of, bags, to_dev), "EmbeddingBagBackward0")
    if psw is None and not scale_grad_by_freq and not sparse and bag_sums_fit(weight, bag_of):
        # (one node: the table's rows summed into the bags by the row kernel, no (K, D) gather)
        count = None if mode == "sum" else \
            _bag_sizes(starts, bag_all, bag_of, disordered).astype(weight._array.dtype)
        return EmbeddingBagSums.apply(weight, kept=kept.astype(np.int64), bag_of=bag_of,
                                      bags=bags, count=count)
    if sparse and not scale_grad_by_freq and backend.xp_of(weight._array) is np and \
            weight.requires_grad and is_grad_enabled():
        # the weight's gradient: a sparse tensor of the rows the bags used, as PyTorch's
        rows = embedding_rows(weight, kept.astype(np.int64), None)             # (K, dim)
    else:
        rows = IndexSelect.apply(weight, index=to_dev(kept), dim=0)          # (K, dim)
    if scale_grad_by_freq and kept.size:
        rows = _scaled_by_frequency(rows, kept, n, to_dev)
    if psw is not None:
        at = np.arange(idx.size) if keep is None else np.nonzero(keep)[0]
        rows = rows * IndexSelect.apply(psw, index=to_dev(at), dim=0).unsqueeze(1)
    sums = IndexAdd.apply(rows, index=to_dev(bag_of), dim=0, size=bags)
    if mode == "sum":
        return rename_node(sums, "EmbeddingBagBackward0")
    count = _bag_sizes(starts, bag_all, bag_of, disordered)      # empty bags stay 0
    return rename_node(sums / Tensor._wrap(to_dev(count[:, None].astype(weight._array.dtype))),
                       "EmbeddingBagBackward0")


def _bag_sizes(starts, bag_all, bag_of, disordered):
    """What mean mode divides each bag's sum by, as PyTorch: the count of its kept entries
    (``bag_of``: the bags of those kept), at least 1.  With offsets out of order, the bag's
    span in the offsets (``starts``) less its padding entries (those in ``bag_all``, the bag of
    every index, but not in ``bag_of``): some spans are below 0."""
    bags = len(starts) - 1
    if not disordered:
        return np.maximum(np.bincount(bag_of, minlength=bags), 1)
    size = np.diff(starts)
    if len(bag_of) < len(bag_all):
        size = size - (np.bincount(bag_all, minlength=bags)[:bags] -
                       np.bincount(bag_of, minlength=bags)[:bags])
    return np.maximum(size, 1)


def _scaled_by_frequency(rows, kept, n, to_dev):
    """rows whose gradient is divided by how often their index occurs (values unchanged)."""
    count = np.bincount(kept, minlength=n)[kept][:, None].astype(rows._array.dtype)
    fixed = rows.detach()
    return fixed + (rows - fixed) / Tensor._wrap(to_dev(count))


def _bag_max(weight, kept, bag_of, bags, to_dev):
    """Per bag and feature, the largest value among the bag's rows (the first one on ties);
    an empty bag reads an appended zero row."""
    n, dim = weight.shape
    values = weight._array[to_dev(kept)]                                  # (K, dim)
    targets = to_dev(np.repeat(bag_of[:, None], dim, axis=1))
    xp = backend.xp_of(values)
    lowest = xp.full((bags, dim), -xp.inf, dtype=values.dtype)
    best = scatter_reduce_array(lowest, 0, targets, values, "amax")
    entry = xp.arange(len(kept))[:, None].repeat(dim, axis=1)
    entry = xp.where(values == best[targets, xp.arange(dim)[None, :]], entry, len(kept))
    first = scatter_reduce_array(xp.full((bags, dim), len(kept)), 0, targets, entry, "amin")
    row = xp.append(to_dev(kept), n)[first]                               # n: the zero row
    padded = cat([weight, weight.new_zeros((1, dim))], 0)
    return Gather.apply(padded, index=row, dim=0)
