"""``torch.embedding_bag``: the kernel-level form of ``F.embedding_bag``, which also returns the
bookkeeping PyTorch's CPU kernel keeps for its backward.

    embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None)
        -> (output (B, D), offset2bag (M,), bag_size (B,), max_indices)

``mode`` is 0 (sum), 1 (mean) or 2 (max).  The bookkeeping is integer-valued, as PyTorch's:
offset2bag, the bag of each index (empty for a sum without padding_idx of a table that is
not float64: PyTorch's fast kernel keeps none); bag_size, the
indices per bag other than ``padding_idx`` (zeros for a sum); max_indices, for max the row of
``weight`` that won each (bag, column), 0 for an empty bag (B, D), for mean a copy of
bag_size, for sum zeros (B,).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..tensor import Tensor
from ._functional_embedding_bag import embedding_bag as _functional_embedding_bag

__all__ = ["embedding_bag"]

_MODES = ("sum", "mean", "max")


def _int64(values, like):
    return Tensor._wrap(backend.to_device(np.ascontiguousarray(values, dtype=np.int64),
                                          like.device))


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """(output, offset2bag, bag_size, max_indices) of bags of ``weight``'s rows (see the module
    docstring); output and its gradient are ``F.embedding_bag``'s."""
    for name, value in (("weight", weight), ("indices", indices), ("offsets", offsets)):
        if not isinstance(value, Tensor):
            raise TypeError(f"embedding_bag(): argument '{name}' (position "
                            f"{('weight', 'indices', 'offsets').index(name) + 1}) must be "
                            f"Tensor, not {type(value).__name__}")
    if isinstance(mode, bool) or not isinstance(mode, int) or mode not in (0, 1, 2):
        raise RuntimeError(f"embedding_bag(): mode must be 0 (sum), 1 (mean) or 2 (max), "
                           f"got {mode!r}")
    output = _functional_embedding_bag(
        indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
        mode=_MODES[mode], sparse=sparse, per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset, padding_idx=padding_idx)
    bags = output.shape[0]
    idx = backend.as_numpy(indices._array).reshape(-1).astype(np.int64)
    starts = backend.as_numpy(offsets._array).astype(np.int64)[:bags]
    # each index's bag (the ones past the last start belong to the last bag, as PyTorch's)
    bag_of = np.clip(np.searchsorted(starts, np.arange(idx.size), side="right") - 1, 0,
                     max(bags - 1, 0))
    counted = np.ones(idx.size, bool) if padding_idx is None else \
        idx != (padding_idx + weight.shape[0] if padding_idx < 0 else padding_idx)
    # PyTorch's fast kernel (a sum without padding_idx, of a table that is not float64) keeps
    # no offset2bag
    plain_sum = mode == 0 and padding_idx is None and weight._array.dtype != np.float64
    offset2bag = np.zeros(0, np.int64) if plain_sum else bag_of
    if mode == 0:
        size = np.zeros(bags, np.int64)
        return output, _int64(offset2bag, weight), _int64(size, weight), _int64(size, weight)
    size = np.bincount(bag_of[counted], minlength=bags)[:bags]
    if mode == 1:
        return output, _int64(offset2bag, weight), _int64(size, weight), _int64(size, weight)
    return (output, _int64(offset2bag, weight), _int64(size, weight),
            _int64(_max_rows(backend.as_numpy(weight._array), idx, bag_of, counted, bags),
                   weight))


def _max_rows(table, idx, bag_of, counted, bags):
    """(B, D): for each bag and column, the first index of the bag whose row holds the bag's
    largest value in that column (0 where the bag has no counted index)."""
    rows, bag = table[idx[counted]], bag_of[counted]
    best = np.full((bags, table.shape[1]), -np.inf)
    np.maximum.at(best, bag, rows)
    position = np.where(rows == best[bag], np.arange(len(bag))[:, None], len(bag))
    first = np.full(best.shape, len(bag))
    np.minimum.at(first, bag, position)
    found = first < len(bag)
    return np.where(found, np.append(idx[counted], 0)[first], 0)
