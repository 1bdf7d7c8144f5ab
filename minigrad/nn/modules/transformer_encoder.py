"""``TransformerEncoderLayer`` and ``TransformerEncoder`` (Vaswani et al., 2017), PyTorch's.

One layer, on x of shape (S, N, E) ((N, S, E) with ``batch_first``, (S, E) unbatched):

    post-norm (default):  x = norm1(x + SA(x));         x = norm2(x + FF(x))
    pre-norm (norm_first): x = x + SA(norm1(x));        x = x + FF(norm2(x))

    SA(x) = dropout1(self_attn(x, x, x, masks)[0])
    FF(x) = dropout2(linear2(dropout(activation(linear1(x)))))       E -> dim_feedforward -> E

The encoder runs ``num_layers`` independent copies of a layer, then the optional ``norm``.
Everything is composed of minigrad modules, so gradients (of any order) are theirs.
"""
from __future__ import annotations

import copy
import inspect

from ..._warn_once import warn_user
from ... import _autocast_state, _sdp_state, backend
from ..._global_flags import warn_once
from ...autograd import is_grad_enabled
from ...ops._autocast_cast import lower as _autocast_lower
from ...tensor import Tensor
from .. import functional as F
from .._functional_attention import _canonical_mask
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .feature_norm import LayerNorm
from .linear import Linear
from .module import Module

__all__ = ["TransformerEncoderLayer", "TransformerEncoder"]


def _get_clones(module, N):
    """N independent deep copies of ``module`` in a ModuleList (the layers of a stack)."""
    return ModuleList([copy.deepcopy(module) for _ in range(N)])


def _get_activation_fn(activation):
    """The function an activation name ("relu" or "gelu") stands for."""
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class TransformerEncoderLayer(Module):
    """Self-attention then a position-wise feed-forward block, each with a residual
    connection and a LayerNorm (after it, or before it with ``norm_first``).

    ``activation``: "relu", "gelu" or any callable (a Module is registered as a child).
    forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False): masks as
    ``MultiheadAttention``'s attn_mask (S, S) / (N*nhead, S, S) and key_padding_mask (N, S).
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        kw = dict(device=device, dtype=dtype)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        # (unwrapped: F.relu may be a __torch_function__ twin of the one given, or the reverse)
        plain = inspect.unwrap(activation) if callable(activation) else activation
        if plain is inspect.unwrap(F.relu) or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif plain is inspect.unwrap(F.gelu) or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (S, N, E) / (N, S, E) / (S, E) -> the same shape."""
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               src._array.dtype, src_mask, "src_mask")
        src_mask = _canonical_mask(src_mask, "src_mask", src._array.dtype)
        if self._fast_path(src):
            # PyTorch's fused inference kernel: the masks are merged, ``is_causal`` is not
            # looked at, and a query whose keys are all masked gives NaN (0 elsewhere)
            sa = self._fused_sa_block
            if _autocast_state.active:
                # the fused kernel is among the ops CPU autocast runs in its lower dtype
                src, = _autocast_lower(src)
            if self.norm_first:
                x = src + sa(self.norm1(src), src_mask, src_key_padding_mask)
                return x + self._ff_block(self.norm2(x))
            x = self.norm1(src + sa(src, src_mask, src_key_padding_mask))
            return self.norm2(x + self._ff_block(x))
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def _fast_path(self, src):
        """Whether PyTorch would run this layer on its fused inference kernel
        (``_transformer_encoder_layer_fwd``): batched input in eval mode, batch_first packed
        attention with biases and an even number of heads, relu or gelu, equal norm eps,
        CUDA autocast off, no hooks on the layer or its children, and no gradient to record."""
        attn = self.self_attn
        if (not _sdp_state.get_fastpath_enabled() or src.ndim != 3 or self.training
                or not attn.batch_first or attn.in_proj_bias is None
                or not attn._qkv_same_embed_dim or not self.activation_relu_or_gelu
                or self.norm1.eps != self.norm2.eps or attn.num_heads % 2 == 1
                or _autocast_state.is_enabled("cuda")):
            return False
        if any(m._forward_hooks or m._forward_pre_hooks for m in self.modules()):
            return False
        tensors = (src, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj.weight,
                   attn.out_proj.bias, self.norm1.weight, self.norm1.bias, self.norm2.weight,
                   self.norm2.bias, self.linear1.weight, self.linear1.bias,
                   self.linear2.weight, self.linear2.bias)
        return not (is_grad_enabled() and any(t is not None and t.requires_grad
                                              for t in tensors))

    def _fused_sa_block(self, x, attn_mask, key_padding_mask):
        """Self-attention as the fused kernel computes it (eval mode: no dropout).  The
        kernel reads a mask as bool: any nonzero entry, even a float bias, masks its place."""
        a = self.self_attn
        attn_mask = None if attn_mask is None else attn_mask != 0
        key_padding_mask = None if key_padding_mask is None else key_padding_mask != 0
        x = x.transpose(1, 0)
        out = F.multi_head_attention_forward(
            x, x, x, a.embed_dim, a.num_heads, a.in_proj_weight, a.in_proj_bias, None, None,
            False, 0.0, a.out_proj.weight, a.out_proj.bias, training=False,
            key_padding_mask=key_padding_mask, need_weights=True, attn_mask=attn_mask)[0]
        return out.transpose(1, 0)


# what PyTorch's nested tensors say as they are made from the padded input (once per process)
_NESTED_PROTOTYPE = ("The PyTorch API of nested tensors is in prototype stage and will change "
                     "in the near future. We recommend specifying layout=torch.jagged when "
                     "constructing a nested tensor, as this layout receives active development, "
                     "has better operator coverage, and works with torch.compile.")


def _why_no_nested(layer):
    """Why PyTorch would not run this encoder on nested (padding-free) tensors; '' if it
    would."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    if layer.norm_first:
        return f"{name}.norm_first was True"
    if not layer.self_attn.batch_first:
        return (f"{name}.self_attn.batch_first was not True(use batch_first for better "
                "inference performance)")
    if not layer.self_attn._qkv_same_embed_dim:
        return f"{name}.self_attn._qkv_same_embed_dim was not True"
    if layer.self_attn.in_proj_bias is None:
        return f"{name}.self_attn was passed bias=False"
    if not layer.activation_relu_or_gelu:
        return f"{name}.activation_relu_or_gelu was not True"
    if layer.norm1.eps != layer.norm2.eps:
        return f"{name}.norm1.eps was not equal to {name}.norm2.eps"
    if layer.self_attn.num_heads % 2 == 1:
        return f"{name}.self_attn.num_heads is odd"
    return ""


def _causal_mask(size, dtype, xp):
    """(size, size): 0 on and below the diagonal, -inf above it."""
    return xp.triu(xp.full((size, size), float("-inf"), dtype=dtype), 1)


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None).  As PyTorch, when the
    encoder would run on nested tensors (``enable_nested_tensor``, an eligible layer in eval
    mode, no gradient needed, a left-aligned ``src_key_padding_mask`` and no ``mask``), the
    padded positions of the output (before ``norm``) are zeros.
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check
        why = _why_no_nested(encoder_layer)
        if enable_nested_tensor and why:
            warn_user(f"enable_nested_tensor is True, but self.use_nested_tensor is False "
                      f"because {why}")
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """src (S, N, E) / (N, S, E) / (S, E) -> the same shape."""
        dtype = src._array.dtype
        src_key_padding_mask = _canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                               dtype, mask, "mask")
        mask = _canonical_mask(mask, "mask", dtype)
        first = self.layers[0]
        nested = self._runs_nested(src, mask, src_key_padding_mask, first)
        if nested:
            warn_once(_NESTED_PROTOTYPE)
        batch_first = first.self_attn.batch_first
        seq_len = src.shape[0] if src.ndim == 2 else src.shape[1 if batch_first else 0]
        is_causal = self._detect_causal(mask, is_causal, seq_len)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if nested:
            # padded positions are zeros, even those of a sequence with no position left
            # (whose attention rows are all masked, NaN)
            padded = Tensor._wrap((src_key_padding_mask._array != 0)[..., None])
            output = output.masked_fill(padded, 0.0)
        if self.norm is not None:
            output = self.norm(output)
        return output

    def _runs_nested(self, src, mask, padding, first):
        """True where PyTorch would convert ``src`` to a nested tensor (see the class doc)."""
        if (padding is None or mask is not None or not self.use_nested_tensor
                or _why_no_nested(first) or first.training or src.ndim != 3
                or not _sdp_state.get_fastpath_enabled() or _autocast_state.is_enabled("cuda")):
            return False
        if is_grad_enabled() and (src.requires_grad
                                  or any(p.requires_grad for p in first.parameters())):
            return False
        if self.mask_check:
            # left aligned: each row keeps a prefix (no kept position after a padded one)
            kept = padding._array == 0
            if bool((kept[:, 1:] & ~kept[:, :-1]).any()):
                return False
        return True

    @staticmethod
    def _detect_causal(mask, is_causal, size):
        """An explicit ``is_causal`` wins; else whether ``mask`` is exactly the causal mask."""
        if is_causal is not None or mask is None:
            return bool(is_causal)
        size = mask.shape[-2] if size is None else size
        if tuple(mask.shape) != (size, size):
            return False
        xp = backend.xp_of(mask._array)
        return bool((mask._array == _causal_mask(size, mask._array.dtype, xp)).all())
