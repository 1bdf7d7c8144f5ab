"""``TransformerDecoderLayer``, ``TransformerDecoder`` and the full encoder-decoder
``Transformer`` (Vaswani et al., 2017), with PyTorch's names, arguments and state_dict keys.

One decoder layer, on tgt x of shape (T, N, E) ((N, T, E) with ``batch_first``, (T, E)
unbatched) and the encoder output ``memory`` (S, N, E):

    post-norm (default):   x = norm1(x + SA(x));  x = norm2(x + CA(x, m));  x = norm3(x + FF(x))
    pre-norm (norm_first): x = x + SA(norm1(x));  x = x + CA(norm2(x), m);  x = x + FF(norm3(x))

    SA(x)    = dropout1(self_attn(x, x, x, tgt masks)[0])
    CA(x, m) = dropout2(multihead_attn(x, m, m, memory masks)[0])
    FF(x)    = dropout3(linear2(dropout(activation(linear1(x)))))     E -> dim_feedforward -> E

Everything is composed of minigrad modules, so gradients (of any order) are autograd's.
"""
from __future__ import annotations

from ... import creation
from .. import functional as F, init
from .attention import MultiheadAttention
from .dropout import Dropout
from .feature_norm import LayerNorm
from .linear import Linear
from .module import Module
from .transformer_encoder import (TransformerEncoder, TransformerEncoderLayer, _get_activation_fn,
                                  _get_clones)

__all__ = ["TransformerDecoderLayer", "TransformerDecoder", "Transformer"]


def _square_subsequent_mask(sz, device=None, dtype=None):
    """(sz, sz) float mask: 0 on and below the diagonal, -inf above it (position i may look
    at positions j <= i only)."""
    return creation.full((sz, sz), float("-inf"), dtype=dtype, device=device).triu(1)


def _seq_len(x, batch_first):
    """The sequence length of x: dim 0 when unbatched (2-d), else dim 1 / 0 by batch_first."""
    if x.ndim == 2:
        return x.shape[0]
    return x.shape[1 if batch_first else 0]


class TransformerDecoderLayer(Module):
    """Masked self-attention over the target, attention over the encoder output ``memory``,
    then a feed-forward block; each with a residual connection and a LayerNorm (after it,
    or before it with ``norm_first``).  See the module docstring for the formulas.

    ``activation``: "relu", "gelu" or any callable (a Module is registered as a child).
    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False): attention
    masks (T, T) / (N*nhead, T, T) and (T, S) / (N*nhead, T, S); key padding masks (N, T) and
    (N, S); bool (True = masked) or additive float, as ``MultiheadAttention``'s.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation = activation

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """tgt (T, N, E) / (N, T, E) / (T, E), memory (S, N, E) / ... -> tgt's shape."""
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                               memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` applied in turn (each attending to the
    same ``memory``), then ``norm`` if given.

    forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False).  With
    ``tgt_is_causal=None`` the layers are told the target mask is causal exactly when
    ``tgt_mask`` equals ``Transformer.generate_square_subsequent_mask(T)``.
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """tgt (T, N, E) / (N, T, E) / (T, E) -> the same shape."""
        output = tgt
        first = self.layers[0] if len(self.layers) else None
        batch_first = first.self_attn.batch_first if first is not None else False
        tgt_is_causal = TransformerEncoder._detect_causal(tgt_mask, tgt_is_causal,
                                                          _seq_len(tgt, batch_first))
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder model: ``memory = encoder(src)``, ``out = decoder(tgt, memory)``.

    By default the encoder is ``num_encoder_layers`` TransformerEncoderLayers and the
    decoder ``num_decoder_layers`` TransformerDecoderLayers, each stack followed by a final
    LayerNorm; ``custom_encoder`` / ``custom_decoder`` replace them.  Every parameter with
    more than one dim is then re-initialised with ``xavier_uniform_``.

    forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False): src (S, N, E),
    tgt (T, N, E) ((N, *, E) with ``batch_first``; unbatched (S, E), (T, E)) -> (T, N, E).
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False,
                 bias=True, device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        layer_kw = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                        layer_norm_eps=layer_norm_eps, batch_first=batch_first,
                        norm_first=norm_first, bias=bias, **kw)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, **layer_kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, **layer_kw)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode src, decode tgt against it; returns tgt's shape (see the class doc)."""
        batched = src.dim() == 3      # (a non-tensor fails as in PyTorch)
        batch_dim = 0 if self.batch_first else 1
        # size() before the batched test, as PyTorch: a 0-d or 1-d src fails there, its way
        if src.size(batch_dim) != tgt.size(batch_dim) and batched:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.size(-1) != self.d_model or tgt.size(-1) != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The (sz, sz) causal mask: 0. on and below the diagonal, -inf above it."""
        return _square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)
