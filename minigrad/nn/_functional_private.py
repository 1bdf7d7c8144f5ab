"""Underscore helpers of ``nn.functional`` that third-party code calls anyway: attention layers
copied from PyTorch's own (``_canonical_mask``, ``_none_or_dtype``, ``_in_projection_packed``,
``_in_projection``, ``_mha_shape_check``), custom normalisation and softmax layers
(``_verify_batch_size``, ``_get_softmax_dim``), and ``_Reduction``. Same signatures, results
and errors as PyTorch's; the bodies are minigrad ops, so gradients flow through them. Also
the names PyTorch's ``nn.functional`` namespace carries in passing: the ``overrides`` checks,
``assert_int_or_pair`` and grid_sample's mode tables."""
from __future__ import annotations

import math

from .._warn_once import warn_user
from ..ops.linear import linear
from ..ops.normalization import check_values_per_channel
from ..overrides import (  # noqa: F401  (F.has_torch_function(...), as PyTorch's F exposes)
    handle_torch_function, has_torch_function, has_torch_function_unary,
    has_torch_function_variadic)
from ..tensor import Tensor
from . import _reduction as _Reduction  # noqa: F401  (F._Reduction.get_enum(...))
from ._functional_attention import _shape_check

__all__ = []

# grid_sample's mode and padding_mode names as the numbers PyTorch's kernel takes
GRID_SAMPLE_INTERPOLATION_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
GRID_SAMPLE_PADDING_MODES = {"zeros": 0, "border": 1, "reflection": 2}


def assert_int_or_pair(arg, arg_name, message):
    """``AssertionError(message.format(arg_name))`` unless ``arg`` is an int or has two
    elements."""
    if not (isinstance(arg, int) or len(arg) == 2):
        raise AssertionError(message.format(arg_name))


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool ``mask`` (True = masked out) as an additive float mask of ``target_type``
    (0 where kept, -inf where masked); a float mask is returned as it is; ``None`` stays
    ``None``. Other dtypes raise ``AssertionError``. With ``check_other``, a mask whose dtype
    differs from ``other_type`` (the other mask's, or None) draws a deprecation warning."""
    if mask is None:
        return None
    floating = mask.is_floating_point()
    if not floating and str(mask.dtype).rsplit(".", 1)[-1] != "bool":
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warn_user(f"Support for mismatched {mask_name} and {other_name} is deprecated. Use "
                  "same type for both instead.")
    if floating:
        return mask
    additive = mask.new_zeros(tuple(mask.shape), dtype=target_type)
    return additive.masked_fill_(mask, -math.inf)


def _none_or_dtype(input):
    """``input.dtype``, or None for None; anything else raises ``RuntimeError``."""
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _in_projection_packed(q, k, v, w, b=None):
    """The query/key/value projections with one packed weight ``w`` (3E, E) and bias ``b``
    (3E,), rows in q, k, v order -> (q', k', v'), each shaped as its input with last dim E.

    When ``k is v`` the key and value rows run as one product (and all three when ``q is k``
    too, self-attention); each result is then a contiguous copy, as in PyTorch."""
    width = q.size(-1)
    if k is v and q is k:
        both = linear(q, w, b).unflatten(-1, (3, width))
        return tuple(both.select(-2, i).contiguous() for i in range(3))
    if k is v:
        w_q, w_kv = w.split([width, 2 * width])
        b_q, b_kv = (None, None) if b is None else b.split([width, 2 * width])
        kv = linear(k, w_kv, b_kv).unflatten(-1, (2, width))
        return (linear(q, w_q, b_q), kv.select(-2, 0).contiguous(),
                kv.select(-2, 1).contiguous())
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    """Three separate projections, the weights (Eq, Eq), (Eq, Ek), (Eq, Ev) and the biases
    (Eq,) checked first (``AssertionError`` naming the first that does not fit)."""
    e_q, e_k, e_v = q.size(-1), k.size(-1), v.size(-1)
    for label, t, want in (("query weights", w_q, (e_q, e_q)), ("key weights", w_k, (e_q, e_k)),
                           ("value weights", w_v, (e_q, e_v)), ("query bias", b_q, (e_q,)),
                           ("key bias", b_k, (e_q,)), ("value bias", b_v, (e_q,))):
        if t is not None and tuple(t.shape) != want:
            raise AssertionError(f"expecting {label} shape of {want}, but got {t.shape}")
    return linear(q, w_q, b_q), linear(k, w_k, b_k), linear(v, w_v, b_v)


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether ``query`` is batched (3-d) rather than unbatched (2-d), after multi-head
    attention's rank checks of all five inputs (``AssertionError`` otherwise)."""
    return _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)


def _get_softmax_dim(name, ndim, stacklevel):
    """The dim an implicit-dim softmax used: 0 for 0-, 1- and 3-d inputs, else 1; warns that
    leaving it out is deprecated (attributed to the caller's line outside minigrad, whatever
    ``stacklevel`` says)."""
    warn_user(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
              "include dim=X as an argument.")
    return 0 if ndim in (0, 1, 3) else 1


def _verify_batch_size(size):
    """``ValueError`` when the (N, C, *S) ``size`` leaves one value per channel (N prod(S)
    is 1): batch statistics need more than one."""
    check_values_per_channel(size, size)
