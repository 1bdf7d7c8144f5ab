"""``MultiheadAttention``: scaled dot-product attention over ``num_heads`` learned projections.

    out = concat(head_1, ..., head_H) Wo^T + bo,
    head_i = softmax((query Wq_i^T)(key Wk_i^T)^T / sqrt(D) + mask) (value Wv_i^T),  D = E / H

The computation is ``F.multi_head_attention_forward`` (``nn/_functional_attention.py``);
this module holds the parameters, named as PyTorch names them so that state_dicts load
either way: ``in_proj_weight`` (3E, E) and ``in_proj_bias`` (3E,) when key and value have
the query's size E, else ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
``v_proj_weight`` (E, vdim); ``bias_k``/``bias_v`` (1, 1, E) with ``add_bias_kv``; and
``out_proj`` (Wo, bo).
"""
from __future__ import annotations

from ... import _autocast_state, _sdp_state, creation
from ...autograd import is_grad_enabled
from .. import functional as F, init
from .._functional_attention import _canonical_mask
from ..parameter import Parameter
from .linear import NonDynamicallyQuantizableLinear
from .module import Module

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), PyTorch's layer.

    Shapes (``batch_first=False``): query (L, N, E), key (S, N, kdim), value (S, N, vdim) ->
    output (L, N, E) and, with ``need_weights``, weights (N, L, S) averaged over heads or
    (N, H, L, S); ``batch_first=True`` puts N first in the inputs and the output.  Unbatched
    (L, E) inputs give (L, E) and (L, S).  ``key_padding_mask`` (N, S) and ``attn_mask``
    ((L, S) or (N*H, L, S)) are True where attention is not allowed, or float additive.
    ``dropout`` drops attention weights in training mode.

    Init as PyTorch: Xavier-uniform projection weights, zero projection biases, Xavier-normal
    ``bias_k``/``bias_v``; ``out_proj.weight`` keeps Linear's init.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(creation.empty((3 * embed_dim, embed_dim), **kw))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = Parameter(creation.empty((embed_dim, embed_dim), **kw))
            self.k_proj_weight = Parameter(creation.empty((embed_dim, self.kdim), **kw))
            self.v_proj_weight = Parameter(creation.empty((embed_dim, self.vdim), **kw))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(creation.empty(3 * embed_dim, **kw))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = Parameter(creation.empty((1, 1, embed_dim), **kw))
            self.bias_v = Parameter(creation.empty((1, 1, embed_dim), **kw))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """(output, weights or None); see the class docstring for shapes and masks."""
        batched = query.ndim == 3
        fast = self._fast_path(query, key, value, attn_mask, key_padding_mask)
        # as PyTorch's module, bool masks become float ones of the query's dtype first
        key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                           query._array.dtype, attn_mask, "attn_mask")
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query._array.dtype)
        if fast:
            # PyTorch's fused inference kernel: plain softmax (a query whose keys are all
            # masked gives NaN, where the SDPA path gives 0), and ``is_causal`` is ignored
            out, weights = F.multi_head_attention_forward(
                query.transpose(1, 0), key.transpose(1, 0), value.transpose(1, 0),
                self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias, None,
                None, False, 0.0, self.out_proj.weight, self.out_proj.bias, training=False,
                key_padding_mask=key_padding_mask, need_weights=True, attn_mask=attn_mask,
                average_attn_weights=average_attn_weights)
            return out.transpose(1, 0), (weights if need_weights else None)
        if self.batch_first and batched:
            # one tensor stays one (PyTorch's projections tell self-attention and a shared
            # key and value apart by identity)
            if key is value:
                query, key = (t.transpose(1, 0) for t in (query, key)) if query is not key \
                    else (query.transpose(1, 0),) * 2
                value = key
            else:
                query, key, value = (t.transpose(1, 0) for t in (query, key, value))
        separate = not self._qkv_same_embed_dim
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=separate, q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)
        return out, weights

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """One (N, H, L, L) mask out of ``attn_mask`` ((L, L) or (N*H, L, L)) and
        ``key_padding_mask`` ((N, L)) for a batch-first ``query`` (N, L, E), added together
        when both are given, and its kind: 0/None none, 1 padding only, 2 with an attention
        mask (as PyTorch's)."""
        if attn_mask is None:
            return key_padding_mask, (None if key_padding_mask is None else 1)
        n, length = query.shape[0], query.shape[1]
        if attn_mask.ndim == 3:
            merged = attn_mask.view(n, -1, length, length)
        else:
            merged = attn_mask.view(1, 1, length, length).expand(n, self.num_heads, -1, -1)
        if key_padding_mask is not None:
            merged = merged + key_padding_mask.view(n, 1, 1, length).expand(
                -1, self.num_heads, -1, -1)
        return merged, 2

    def _fast_path(self, query, key, value, attn_mask, key_padding_mask):
        """Whether PyTorch would run this call on its fused inference kernel: batched
        self-attention (query, key and value the same tensor) in eval mode with batch_first,
        an even number of heads, packed projections with biases, no bias_k/bias_v/zero
        attention, bool masks only, CUDA autocast off, and no gradient to record."""
        if not _sdp_state.get_fastpath_enabled() or self.training:
            return False
        if any(m is not None and m._array.dtype.kind in "fV"
               for m in (attn_mask, key_padding_mask)):
            return False
        if query.ndim != 3 or query is not key or key is not value or not self.batch_first:
            return False
        if (self.in_proj_weight is None or self.in_proj_bias is None
                or self.num_heads % 2 or self.bias_k is not None or self.bias_v is not None
                or self.add_zero_attn or not self._qkv_same_embed_dim):
            return False
        if (query.dtype != self.in_proj_weight.dtype
                or query.dtype != self.in_proj_bias.dtype):
            return False
        if _autocast_state.is_enabled("cuda"):
            return False
        tensors = (query, self.in_proj_weight, self.in_proj_bias, self.out_proj.weight,
                   self.out_proj.bias)
        return not (is_grad_enabled() and any(t is not None and t.requires_grad
                                              for t in tensors))
