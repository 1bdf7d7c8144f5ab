"""``scaled_dot_product_attention``, with PyTorch's arguments, checks and node names:
softmax(Q K^T * scale + mask) V composed from matmul, softmax and where (so its first and
second derivatives come from those ops), masked rows giving 0, grouped-query heads repeated,
dropout on the attention weights; the common float32/float64 case runs as one node
(``attention_node.py``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, _sdp_state, backend
from ..dtypes import reduced_float
from .._random_factories import bernoulli_draws
from ..tensor import Tensor
from ._util import broadcast_shape
from ..autograd._node_names import rename_node
from .elementwise import add, cast, mul
from .pointwise_select import where
from .matmul import matmul
from .movement import transpose
from .softmax import softmax
from . import attention_node
from ._autocast_cast import lower as _autocast_lower
from .scatter_gather import IndexSelect
from ._gather_scatter_checks import CPP_NAMES

_FLOAT32 = np.dtype("float32")      # float16 and bfloat16 are computed in it


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, with scale 1/sqrt(E) by default.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).  A bool
    ``attn_mask`` keeps True positions (the others get -inf); a float one is added.  A row with
    every position masked gives 0 (and a zero gradient), as PyTorch.
    ``is_causal`` masks positions j > i (beside an ``attn_mask`` too).  ``enable_gqa`` repeats key/value heads (dim -3)
    to match the query's.  ``dropout_p`` > 0 zeroes each attention weight with that
    probability and scales the others by 1 / (1 - p), whatever the module's training mode
    (as PyTorch; pass 0.0 for evaluation).  The kernel switches of ``nn.attention.sdpa_kernel``
    and ``backends.cuda.enable_*_sdp`` can refuse a call, as PyTorch's (``_sdp_state.py``).
    """
    if _autocast_state.active:       # one of the ops CPU autocast runs in its lower dtype
        query, key, value, attn_mask = _autocast_lower(query, key, value, attn_mask)
    if dropout_p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    q_dtype, k_dtype, v_dtype = (t._array.dtype.name for t in (query, key, value))
    if not q_dtype == k_dtype == v_dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {CPP_NAMES[q_dtype]} key.dtype: {CPP_NAMES[k_dtype]} "
                           f"and value.dtype: {CPP_NAMES[v_dtype]} instead.")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.ndim} key.dim: {key.ndim} and "
                           f"value.dim: {value.ndim} instead.")
    if attn_mask is not None and attn_mask._array.dtype.name not in ("bool", "float32",
                                                                     q_dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: "
                           f"{CPP_NAMES[attn_mask._array.dtype.name]} and  query.dtype: "
                           f"{CPP_NAMES[q_dtype]} instead.")
    if not (query.shape[-2] and key.shape[-2] and value.shape[-1]):
        return _empty_attention(query, key, value)
    if enable_gqa and min(query.ndim, key.ndim, value.ndim) < 3:
        short = min(t.ndim for t in (query, key, value))     # (its read of the head dim)
        raise IndexError(f"Dimension out of range (expected to be in range of [{-short}, "
                         f"{short - 1}], but got -3)")
    if any(0 in t.shape[:-2] for t in (query, key, value)):
        # an empty batch: PyTorch looks at no mask
        attn_mask, is_causal = None, False
    if is_causal and attn_mask is not None and not _sdp_state.flash_cpu_takes(
            query, key, value, attn_mask, dropout_p, enable_gqa):
        # only PyTorch's CPU flash kernel takes both; its reference kernel refuses the pair
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    _sdp_state.check_kernel(query, key, value, dropout_p)
    # the kernel PyTorch picks names the result's node (a printed output shows it)
    flash = _sdp_state.flash_cpu_takes(query, key, value, attn_mask, dropout_p, enable_gqa)
    if flash and dropout_p < 0:          # (its flash kernel takes no dropout but 0)
        raise RuntimeError("scaled_dot_product_attention_flash_attention: Currently do not "
                           "support dropout > 0")
    half = query._array.dtype if reduced_float(query._array.dtype) else None
    if half is not None:
        # as PyTorch's CPU kernels: half-precision attention is accumulated in float32 (the
        # float16 softmax and products alone were off by 2% of the output's scale)
        query, key, value = (cast(t, _FLOAT32) for t in (query, key, value))
        if attn_mask is not None and reduced_float(attn_mask._array.dtype):
            attn_mask = cast(attn_mask, _FLOAT32)
    if enable_gqa and min(query.ndim, key.ndim, value.ndim) >= 3:
        # key and value may each have fewer heads than query: each is repeated to match
        n_q = query.shape[-3]
        if n_q % key.shape[-3] or n_q % value.shape[-3]:
            raise RuntimeError("Number of heads in key and value must divide the number of "
                               "heads in ")
        key, value = _repeat_heads(key, n_q), _repeat_heads(value, n_q)
    e = query.shape[-1]
    # (features of size 0: the scores are all 0, whatever the scale, as PyTorch's)
    s = (1.0 / math.sqrt(e) if e else 1.0) if scale is None else scale
    if flash and half is None and attention_node.fits(query, key, value, attn_mask):
        # the common case as one node (ops/attention_node.py)
        out = attention_node.attention(query, key, value, attn_mask, is_causal, s)
        return rename_node(out, "ScaledDotProductFlashAttentionForCpuBackward0")
    scores = mul(matmul(query, transpose(key, -2, -1)), s)
    xp = backend.xp_of(query._array)
    if attn_mask is not None:
        # PyTorch adds the mask into the scores in place: it may not enlarge them
        grown = broadcast_shape(tuple(scores.shape), tuple(attn_mask.shape))
        if grown != tuple(scores.shape):
            raise RuntimeError(f"output with shape {list(scores.shape)} doesn't match the "
                               f"broadcast shape {list(grown)}")
    if is_causal:
        # the causal mask (query i sees keys j <= i), and with an attn_mask as well both of
        # them (PyTorch 2.13's CPU kernels: a bool mask and-ed, a float one added to -inf)
        n_l, n_s = query.shape[-2], key.shape[-2]
        causal = xp.tril(xp.ones((n_l, n_s), dtype=bool))
        if attn_mask is None:
            attn_mask = Tensor._wrap(causal)
        elif attn_mask._array.dtype.kind == "b":
            attn_mask = Tensor._wrap(attn_mask._array & causal)
        else:
            attn_mask = add(attn_mask, Tensor._wrap(
                xp.where(causal, 0.0, -math.inf).astype(attn_mask._array.dtype)))
    if attn_mask is not None:
        # as PyTorch, a bool mask becomes a bias (0 kept, -inf masked) that is added: the
        # gradient of the scores reaches masked positions too (0, or NaN beside a NaN)
        bias = attn_mask._array
        if bias.dtype.kind == "b":
            bias = xp.where(bias, 0.0, -math.inf).astype(scores._array.dtype)
            attn_mask = Tensor._wrap(bias)
        with np.errstate(invalid="ignore"):     # inf + -inf is NaN, silently as in PyTorch
            scores = add(scores, cast(attn_mask, scores._array.dtype))
    weights = _safe_softmax(scores, xp)
    if dropout_p > 0:                     # a negative p drops nothing, as in PyTorch
        weights = _dropout_weights(weights, dropout_p)
    out = matmul(weights, value)
    out = cast(out, half) if half is not None else out
    return rename_node(out, "ScaledDotProductFlashAttentionForCpuBackward0") if flash else out


def _empty_attention(query, key, value):
    """No query or key positions, or values of size 0: PyTorch returns zeros of shape
    (*query.shape[:-1], Ev) at once (no other shape, head or mask check), their gradients
    zeros."""
    xp = backend.xp_of(query._array)
    shape = tuple(query.shape[:-1]) + (value.shape[-1],)
    anything = add(add(query.sum(), key.sum()), value.sum())     # (for the graph only)
    return where(Tensor._wrap(xp.zeros(shape, dtype=bool)), anything, 0.0)


def _repeat_heads(t, n_heads):
    """(..., H, S, E) -> (..., n_heads, S, E), each head repeated n_heads // H times in place
    (head h serves query heads h*r .. h*r + r - 1), as grouped-query attention shares them."""
    if t.shape[-3] == n_heads:
        return t
    xp = backend.xp_of(t._array)
    heads = xp.repeat(xp.arange(t.shape[-3]), n_heads // t.shape[-3])
    return IndexSelect.apply(t, index=heads, dim=t.ndim - 3)


def _safe_softmax(scores, xp):
    """softmax over the last dim, but 0 (and a zero gradient) for a row whose scores are all
    -inf (fully masked), as PyTorch's attention, where plain softmax would give NaN."""
    dead = (scores._array == -math.inf).all(axis=-1, keepdims=True)
    if not dead.any():
        return softmax(scores, -1)
    weights = softmax(where(dead, 0.0, scores), -1)
    return where(dead, 0.0, weights)


def _dropout_weights(weights, p):
    """weights * keep / (1 - p), keep ~ Bernoulli(1 - p) drawn from minigrad's generator (as
    F.dropout draws it); all zeros when p is 1.  A product with a constant, so its first and
    second derivatives are mul's."""
    if p >= 1:
        return mul(weights, 0.0)
    keep = bernoulli_draws(None, tuple(weights.shape), 1.0 - p)
    scale = (keep / (1.0 - p)).astype(weights._array.dtype)
    return mul(weights, Tensor._wrap(backend.to_device(scale, weights.device)))
