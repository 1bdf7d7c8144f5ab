"""``minigrad.nn.attention.flex_attention``: attention whose scores a user function edits.

    out = flex_attention(q, k, v, score_mod=None, block_mask=None, scale=None)

q (B, Hq, L, E), k (B, Hkv, S, E), v (B, Hkv, S, Ev) -> out (B, Hq, L, Ev). With
``s = (q k^T) * scale`` (scale 1/sqrt(E) by default), computed in float64 for float64
inputs and in float32 otherwise:

    s'[b, h, i, j] = score_mod(s[b, h, i, j], b, h, i, j)     where mask_mod(b, h, i, j)
                   = -inf                                      elsewhere
    out = softmax(s', dim=-1) @ v        (a row masked everywhere gives zeros)

This is PyTorch's eager (unfused) computation: the whole score matrix is made, which costs
O(B H L S) memory. ``score_mod`` and ``mask_mod`` are called once, on broadcast index
tensors, b (B, 1, 1, 1), h (1, H, 1, 1), i (1, 1, L, 1), j (1, 1, 1, S) (and the scores,
(B, H, L, S)), where PyTorch vmaps them over scalars: a function built of tensor ops and
indexing (``bias[h, i]``, ``doc[i] == doc[j]``) gives the same numbers either way; Python
control flow on those tensors is refused by both. Everything is made of differentiable
ops, so gradients flow to q, k, v and to tensors the functions read (PyTorch's CPU kernel
has no backward).

``create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN)`` wraps ``mask_mod`` in a ``BlockMask``
that also lists, per block of BLOCK_SIZE x BLOCK_SIZE positions, whether any position in it
is kept (PyTorch's fused kernel skips the other blocks; here the mask is applied whole).
``and_masks`` / ``or_masks`` combine mask functions, ``noop_mask`` keeps everything.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import numpy as np

from ... import dtypes
from ..._range_factories import arange
from ..._tensor_factories import tensor
from ...ops.pointwise_select import where
from ...ops.shaping import repeat_interleave
from ...tensor import Tensor

__all__ = ["flex_attention", "create_block_mask", "create_mask", "BlockMask", "and_masks",
           "or_masks", "noop_mask", "AuxRequest", "AuxOutput"]


class AuxRequest(NamedTuple):
    """Which extra results ``flex_attention(..., return_aux=)`` returns."""
    lse: bool = False
    max_scores: bool = False


class AuxOutput(NamedTuple):
    """The extra results asked for (None for those not asked): the log-sum-exp of each
    row's edited scores (B, H, L); max_scores, as on PyTorch's CPU, is refused."""
    lse: Optional[Tensor] = None
    max_scores: Optional[Tensor] = None


def noop_mask(batch, head, token_q, token_kv):
    """A mask function that keeps every position: a 0-d True."""
    return batch.new_ones(size=(), dtype=dtypes.bool_)


def and_masks(*mask_mods):
    """A mask function keeping a position where every one of ``mask_mods`` keeps it."""
    if not all(callable(m) for m in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def and_mask(b, h, q_idx, kv_idx):
        kept = b.new_ones((), dtype=dtypes.bool_)
        for mod in mask_mods:
            kept = kept & mod(b, h, q_idx, kv_idx)
        return kept
    return and_mask


def or_masks(*mask_mods):
    """A mask function keeping a position where any of ``mask_mods`` keeps it."""
    if not all(callable(m) for m in mask_mods):
        raise RuntimeError(f"All inputs should be callable mask_mods: {mask_mods}")

    def or_mask(b, h, q_idx, kv_idx):
        kept = b.new_zeros((), dtype=dtypes.bool_)
        for mod in mask_mods:
            kept = kept | mod(b, h, q_idx, kv_idx)
        return kept
    return or_mask


def _grid(sizes, device=None):
    """Index tensors for the four dims, each shaped to broadcast against the others."""
    out = []
    for d, n in enumerate(sizes):
        shape = [1, 1, 1, 1]
        shape[d] = n
        out.append(arange(n, device=device).reshape(shape))
    return out


def _dense_mask(mask_mod, B, H, L, S, device=None):
    """``mask_mod`` over every (b, h, i, j): a bool tensor broadcast to (B, H, L, S)."""
    b, h, i, j = _grid((B, H, L, S), device)
    kept = mask_mod(b, h, i, j)
    if not isinstance(kept, Tensor):
        kept = tensor(bool(kept))
    return kept.expand(B, H, L, S)


def create_mask(mask_mod, B, H, Q_LEN, KV_LEN, device=None):
    """``mask_mod`` evaluated at every position: a bool tensor (B, H, Q_LEN, KV_LEN) (B, H
    None: 1)."""
    B, H = 1 if B is None else B, 1 if H is None else H
    return _dense_mask(mask_mod, B, H, Q_LEN, KV_LEN, device).contiguous()


class BlockMask:
    """A mask function with its block layout: ``mask_mod``, ``shape`` (B, H, Q_LEN, KV_LEN),
    ``BLOCK_SIZE`` (q, kv), ``seq_lengths``, and per (b, h, row of blocks) how many blocks
    hold a kept position (``kv_num_blocks``), which (``kv_indices``), and of those how many
    keep every position (``full_kv_num_blocks``, ``full_kv_indices``)."""

    def __init__(self, mask_mod, kept, block_size):
        B, H, L, S = kept.shape
        self.mask_mod = mask_mod
        self.seq_lengths = (L, S)
        self.BLOCK_SIZE = block_size
        self.shape = (B, H, L, S)
        bq, bk = block_size
        nq, nk = -(-L // bq), -(-S // bk)
        # padded to whole blocks with masked positions (so a part-block at an end is
        # never full, as PyTorch counts it)
        padded = np.zeros((B, H, nq * bq, nk * bk), dtype=bool)
        padded[:, :, :L, :S] = kept
        blocks = padded.reshape(B, H, nq, bq, nk, bk)
        blocks_any, blocks_all = blocks.any(axis=(3, 5)), blocks.all(axis=(3, 5))
        partial = blocks_any & ~blocks_all
        self._blocks = blocks_any
        self.kv_num_blocks, self.kv_indices = _block_lists(partial)
        self.full_kv_num_blocks, self.full_kv_indices = _block_lists(blocks_all)
        self.q_num_blocks, self.q_indices = _block_lists(partial.swapaxes(-1, -2))
        self.full_q_num_blocks, self.full_q_indices = _block_lists(blocks_all.swapaxes(-1, -2))

    def to_dense(self):
        """Which blocks hold a kept position: int32 (B, H, q blocks, kv blocks)."""
        return Tensor._wrap(self._blocks.astype(np.int32))

    def sparsity(self):
        """The share of the score matrix not computed, in percent: 100 (1 - (positions in
        the blocks computed, per (b, h) on average) / (Q_LEN KV_LEN)); padding makes it
        negative where the blocks overhang the sequences."""
        B, H, L, S = self.shape
        computed = float(self._blocks.sum()) / (B * H) * self.BLOCK_SIZE[0] * \
            self.BLOCK_SIZE[1]
        return 100.0 * (1.0 - computed / (L * S))

    def __repr__(self):
        return (f"BlockMask(shape={self.shape}, sparsity={self.sparsity():.2f}%, "
                f"mask_mod={getattr(self.mask_mod, '__name__', self.mask_mod)})")


def _block_lists(blocks):
    """(count per row (B, H, n), the indices of the set blocks first (B, H, n, m)), int32."""
    counts = blocks.sum(axis=-1).astype(np.int32)
    order = np.argsort(~blocks, axis=-1, kind="stable").astype(np.int32)
    return Tensor._wrap(counts), Tensor._wrap(order)


def create_block_mask(mask_mod, B, H, Q_LEN, KV_LEN, device=None, BLOCK_SIZE=128,
                      _compile=False, separate_full_blocks=True, compute_dq_write_order=False,
                      dq_kv_order=True):
    """A ``BlockMask`` for ``mask_mod`` over (B, H, Q_LEN, KV_LEN) (B or H None: one, shared
    by every batch entry or head). BLOCK_SIZE: an int or a (q, kv) pair."""
    size = (BLOCK_SIZE, BLOCK_SIZE) if isinstance(BLOCK_SIZE, int) else tuple(BLOCK_SIZE)
    B, H = 1 if B is None else B, 1 if H is None else H
    kept = _dense_mask(mask_mod, B, H, Q_LEN, KV_LEN, device)
    return BlockMask(mask_mod, kept.detach().numpy().astype(bool), size)


def _check(query, key, value, enable_gqa):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"flex_attention(): argument '{name}' must be Tensor, not "
                            f"{type(t).__name__}")
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        raise NotImplementedError("NYI: query, key, and value must be 4D tensors")
    if query.size(-1) != key.size(-1):
        raise ValueError(f"Expect query and key/value to have the same embedding dimension "
                         f"but got E={query.size(-1)} and E={key.size(-1)}.")
    hq, hkv = query.size(1), key.size(1)
    if not enable_gqa and hq != hkv:
        raise ValueError(f"Expect query and key/value to have the same number of heads but got "
                         f"Hq={hq} and Hkv={hkv}. Try setting enable_gqa=True for GQA.")
    if enable_gqa and hq % hkv:
        raise ValueError(f"Expect number of query heads to be a multiple of kv heads for GQA "
                         f"but got Hq={hq} and Hkv={hkv}.")
    if value.size(1) != hkv or value.size(2) != key.size(2):
        raise ValueError("Expect key and value to have the same number of heads and sequence "
                         f"length, got key {list(key.shape)} and value {list(value.shape)}.")
    bq, bkv = query.size(0), key.size(0)
    if not (bq == bkv or (bq > 1 and bkv == 1)):
        raise RuntimeError(f"Bq and Bkv must broadcast. Got Bq={bq} and Bkv={bkv}")


def flex_attention(query, key, value, score_mod=None, block_mask=None, scale=None,
                   enable_gqa=False, return_lse=False, kernel_options=None, *,
                   return_aux=None):
    """Attention with scores edited by ``score_mod`` and masked by ``block_mask`` (see the
    module). Returns out (B, Hq, L, Ev); with ``return_lse``, (out, lse (B, Hq, L)); with
    ``return_aux`` (an AuxRequest), (out, AuxOutput)."""
    _check(query, key, value, enable_gqa)
    if return_aux is not None and return_aux.max_scores:
        raise NotImplementedError("Returning max scores is not supported on CPU/MPS.")
    if return_lse and return_aux is not None:
        raise ValueError("Cannot specify both return_lse and return_aux. return_lse is "
                         "deprecated, please use return_aux=AuxRequest(lse=True)")
    B, H, L, E = query.shape
    S = key.size(2)
    if block_mask is not None and tuple(block_mask.seq_lengths) != (L, S) and (
            block_mask.seq_lengths[0] < L or block_mask.seq_lengths[1] < S):
        raise ValueError(f"block_mask was created for block_mask.shape={block_mask.shape} but "
                         f"got q_len={L} and kv_len={S}. As the block mask was created for a "
                         "smaller length than you're using it for, you likely need to create "
                         "a new block mask.")
    groups = H // key.size(1)
    if groups > 1:
        key = repeat_interleave(key, groups, dim=1)
        value = repeat_interleave(value, groups, dim=1)
    key = key.expand(B, *key.shape[1:])
    value = value.expand(B, *value.shape[1:])
    work = dtypes.float64 if query.dtype == dtypes.float64 else dtypes.float32
    scale = 1.0 / math.sqrt(E) if scale is None else scale
    scores = (query.to(work) @ key.to(work).transpose(-2, -1)) * scale     # (B, H, L, S)
    b, h, i, j = _grid((B, H, L, S), query.device)
    edited = scores if score_mod is None else score_mod(scores, b, h, i, j)
    if not isinstance(edited, Tensor):
        edited = tensor(edited, dtype=work)
    edited = edited.to(work).expand(B, H, L, S)
    if block_mask is not None:
        kept = block_mask.mask_mod(b, h, i, j)
        if not isinstance(kept, Tensor):
            kept = tensor(bool(kept))
        edited = where(kept, edited, tensor(-math.inf, dtype=work))
    masked_rows = (edited == -math.inf).all(dim=-1)                           # (B, H, L)
    # a row masked everywhere: zeros out (its softmax taken of zeros, then dropped, so that
    # no NaN reaches the gradients of the other rows)
    safe = where(masked_rows.unsqueeze(-1), tensor(0.0, dtype=work), edited)
    probs = where(masked_rows.unsqueeze(-1), tensor(0.0, dtype=work), safe.softmax(-1))
    out = probs.to(query.dtype) @ value.to(query.dtype)
    if not return_lse and return_aux is None:
        return out
    lse = where(masked_rows, tensor(-math.inf, dtype=work), edited.logsumexp(-1))
    if return_lse:
        return out, lse
    return out, AuxOutput(lse=lse if return_aux.lse else None)
