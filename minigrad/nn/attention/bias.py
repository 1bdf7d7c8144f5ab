"""``minigrad.nn.attention.bias``: causal masks for ``F.scaled_dot_product_attention`` when
the query and key lengths differ.

``causal_upper_left(L, S)`` lets query i see keys 0..i (the mask ``is_causal=True`` gives);
``causal_lower_right(L, S)`` aligns the last query with the last key, so query i sees keys
0..i + S - L (what decoding with a cache of S - L earlier keys needs).  Either is a
``CausalBias``: a bool (L, S) tensor, True where attention is allowed, that can be passed as
``attn_mask`` directly; ``_materialize()`` gives it as a plain tensor.
"""
from __future__ import annotations

from enum import IntEnum, auto

import numpy as np

from ..._warn_once import warn_user
from ... import backend
from ...tensor import Tensor

__all__ = ["CausalVariant", "CausalBias", "causal_upper_left", "causal_lower_right"]


class CausalVariant(IntEnum):
    """Where the causal triangle is anchored: the top-left or the bottom-right corner."""
    UPPER_LEFT = auto()
    LOWER_RIGHT = auto()


def _allowed(variant, seq_len_q, seq_len_kv):
    """(L, S) bool: query i may attend key j when j <= i (+ S - L for lower-right)."""
    shift = 0 if variant == CausalVariant.UPPER_LEFT else seq_len_kv - seq_len_q
    rows = np.arange(seq_len_q)[:, None]
    cols = np.arange(seq_len_kv)[None, :]
    return cols <= rows + shift


class CausalBias(Tensor):
    """A causal attention mask of a given variant and lengths (see the module docstring)."""

    def __init__(self, variant, seq_len_q, seq_len_kv):
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {variant!r}")
        self._init(_allowed(variant, seq_len_q, seq_len_kv))
        self.variant, self.seq_len_q, self.seq_len_kv = variant, seq_len_q, seq_len_kv
        if variant == CausalVariant.LOWER_RIGHT and seq_len_q > seq_len_kv:
            warn_user("Lower right causal bias will produce NaNs in the output when "
                      "seq_len_q > seq_len_kv!")

    def _materialize(self, device=None):
        """The mask as a plain bool (L, S) tensor (on ``device`` when given)."""
        array = _allowed(self.variant, self.seq_len_q, self.seq_len_kv)
        if device is not None:
            array = backend.to_device(array, backend.device(device))
        return Tensor._wrap(array)

    def __repr__(self):
        return repr(self._materialize())


def causal_upper_left(*size):
    """``CausalBias`` for ``size`` = (seq_len_q, seq_len_kv), anchored top-left."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    return CausalBias(CausalVariant.UPPER_LEFT, size[0], size[1])


def causal_lower_right(*size):
    """``CausalBias`` for ``size`` = (seq_len_q, seq_len_kv), anchored bottom-right."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    return CausalBias(CausalVariant.LOWER_RIGHT, size[0], size[1])
