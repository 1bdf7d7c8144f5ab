"""``F.multi_head_attention_forward``: the computation behind ``nn.MultiheadAttention``.

Sequence-first shapes: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or unbatched
(L, E), (S, kdim), (S, vdim).  With H heads of size D = E / H:

    q = query Wq^T + bq,  k = key Wk^T + bk,  v = value Wv^T + bv        (each (., N, E))
    split E into H heads: q -> (N*H, L, D), k -> (N*H, S, D), v -> (N*H, S, D)
    A = softmax(q k^T / sqrt(D) + mask)                                  (N*H, L, S)
    out = concat_heads(A v) Wo^T + bo                                    (L, N, E)

Masks follow PyTorch's convention, the opposite of ``scaled_dot_product_attention``'s: a
bool ``attn_mask`` ((L, S) or (N*H, L, S)) or ``key_padding_mask`` ((N, S)) is True where
attention is NOT allowed (it becomes -inf); a float one is added to the scores.
``bias_k``/``bias_v`` ((1, 1, E)) append one learned key/value position; ``add_zero_attn``
appends one all-zero position (after the heads are split).  Every step is a differentiable
minigrad op, so gradients flow to the inputs, the weights and a float mask, to any order.
"""
from __future__ import annotations

import math

import numpy as np

from .._warn_once import warn_user
from .. import backend
from ..tensor import Tensor
from ..ops.linear import linear
from ..ops.padding import pad
from ..ops.softmax import softmax
from ..ops.math_extra import scaled_dot_product_attention, _dropout_weights
from ..ops.stacking import cat
from ..ops.products import baddbmm

__all__ = ["multi_head_attention_forward"]


def _is_float(t):
    return t._array.dtype.kind in "fV"


# how PyTorch's overflow message names the integer types
_C_INT_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int",
                "int64": "int64_t"}


def _canonical_mask(mask, name, dtype, other=None, other_name=""):
    """A bool mask (True = masked) becomes 0 / -inf of ``dtype``; a float mask is kept.
    Warns (deprecated in PyTorch) when ``other``, the other mask, has another dtype."""
    if mask is None:
        return None
    kind = mask._array.dtype.kind
    if kind != "b" and kind not in "fV":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other is not None and other._array.dtype != mask._array.dtype:
        warn_user(f"Support for mismatched {name} and {other_name} is deprecated. Use "
                  "same type for both instead.")
    if kind == "b":
        target = np.dtype(dtype)
        if target.kind in "iu":        # -inf does not fit an integer dtype, whatever the mask
            raise RuntimeError(f"value cannot be converted to type {_C_INT_NAMES[target.name]} "
                               "without overflow")
        xp = backend.xp_of(mask._array)
        if target.kind == "b":         # -inf as a bool is True: the mask itself
            return Tensor._wrap(mask._array.copy())
        return Tensor._wrap(xp.where(mask._array, -math.inf, 0.0).astype(dtype))
    return mask


def _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's input-rank rules; returns whether the input is batched (3-d)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 "respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.ndim}-D tensor "
                                 "instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 "respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.ndim}-D tensor "
                                 "instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                     "instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                     f"{attn_mask.shape}")
        return False
    raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.ndim}-D query tensor")


def _heads(x, length, batch_heads, head_dim):
    """(length, N, H*D) -> (N*H, length, D)."""
    return x.reshape(length, batch_heads, head_dim).transpose(0, 1)


def _packed_width_error(query, key, value, weight, bias):
    """A key or value too wide or narrow for the packed weight fails in PyTorch's product,
    whose message names the operands: one product of the whole (3E, E) weight for
    self-attention (query, key and value one tensor), one of its last 2E rows for key and
    value one tensor, else one per projection (the plain products below fail as those)."""
    e = query.shape[-1]
    if key is value:
        if query is key:
            linear(query, weight, bias)
        linear(key, weight[e:], None if bias is None else bias[e:])


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """Multi-head attention, sequence-first (see the module docstring for the formula).

    Returns (output (L, N, E), weights) where weights is (N, L, S) averaged over heads,
    (N, H, L, S) when ``average_attn_weights=False``, or None when ``need_weights=False``;
    unbatched inputs drop the N dim.  ``in_proj_weight`` (3E, E) packs Wq, Wk, Wv; with
    ``use_separate_proj_weight`` they come as ``q_proj_weight`` (E, E), ``k_proj_weight``
    (E, kdim), ``v_proj_weight`` (E, vdim).  ``static_k``/``static_v`` ((N*H, S, D)) replace
    the projected keys/values.  ``dropout_p`` drops attention weights in training.
    ``is_causal=True`` promises that ``attn_mask`` (which must then be passed) already hides
    the future positions; it lets the mask be skipped when no padding mask or weights are needed.
    """
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    dtype = query._array.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", dtype, attn_mask,
                                       "attn_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None                    # attention applies the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", dtype)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                                 f"value's {value.shape[:2]}")
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight "
                                     "is None")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if tuple(key.shape) != tuple(value.shape):
            raise AssertionError(f"key shape {key.shape} does not match value shape "
                                 f"{value.shape}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        w_q, w_k, w_v = in_proj_weight.chunk(3)
        if key.shape[-1] != w_k.shape[-1] or value.shape[-1] != w_v.shape[-1]:
            _packed_width_error(query, key, value, in_proj_weight, in_proj_bias)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    if use_separate_proj_weight:
        _check_projections(query, key, value, (w_q, w_k, w_v), (b_q, b_k, b_v))
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    src_len = key.shape[0]
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but "
                                   f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.expand(1, bsz, embed_dim)], 0)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")
    bh = bsz * num_heads
    q = _heads(q, tgt_len, bh, head_dim)
    k = _heads(k, k.shape[0], bh, head_dim) if static_k is None else \
        _static(static_k, "static_k", bh, head_dim)
    v = _heads(v, v.shape[0], bh, head_dim) if static_v is None else \
        _static(static_v, "static_v", bh, head_dim)
    if add_zero_attn:
        xp = backend.xp_of(k._array)
        k = cat([k, Tensor._wrap(xp.zeros((bh, 1, head_dim), dtype=k._array.dtype))], 1)
        v = cat([v, Tensor._wrap(xp.zeros((bh, 1, head_dim), dtype=v._array.dtype))], 1)
        attn_mask = None if attn_mask is None else pad(attn_mask, (0, 1))
        key_padding_mask = None if key_padding_mask is None else pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bh, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if need_weights:
        q_scaled = q * math.sqrt(1.0 / head_dim)
        with np.errstate(invalid="ignore"):   # a fully masked row is NaN, as in PyTorch
            # a float mask is added by baddbmm, which wants it in the query's dtype
            scores = q_scaled.matmul(k.transpose(-2, -1)) if attn_mask is None else \
                baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
            weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = _dropout_weights(weights, dropout_p)
        out = weights.matmul(v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(tgt_len, bsz, out.shape[-1])     # (out_proj may change the width)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights
    if attn_mask is not None:
        # SDPA's bool convention is the opposite one; the mask is already additive here
        attn_mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    out = out.reshape(tgt_len, bsz, out.shape[-1])
    return (out if batched else out.squeeze(1)), None


def _check_projections(query, key, value, weights, biases):
    """PyTorch's checks of the in-projections' shapes against the query's, key's and value's
    feature sizes (separate weights: each (E, its input's size); biases (E,))."""
    e = query.shape[-1]
    names = ("query", "key", "value")
    for name, x, w in zip(names, (query, key, value), weights):
        if tuple(w.shape) != (e, x.shape[-1]):
            raise AssertionError(f"expecting {name} weights shape of {(e, x.shape[-1])}, but "
                                 f"got {w.shape}")
    for name, b in zip(names, biases):
        if b is not None and tuple(b.shape) != (e,):
            raise AssertionError(f"expecting {name} bias shape of {(e,)}, but got {b.shape}")


def _static(t, name, bh, head_dim):
    if t.shape[0] != bh:
        raise AssertionError(f"expecting {name}.size(0) of {bh}, but got {t.shape[0]}")
    if t.shape[2] != head_dim:
        raise AssertionError(f"expecting {name}.size(2) of {head_dim}, but got {t.shape[2]}")
    return t

