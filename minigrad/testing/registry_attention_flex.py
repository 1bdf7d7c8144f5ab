"""Registry entries for ``torch.nn.attention.flex_attention`` (eager). PyTorch's own
flex_attention has no backward on the CPU, so torch's side is the definition written in torch
ops: scores q k^T * scale, edited by ``score_mod(score, b, h, i, j)`` on index tensors that
broadcast over the score's axes, masked to -inf where ``mask_mod(b, h, i, j)`` is False,
softmax over the keys, times v. Checked like every entry: forward, gradients and second
derivatives against that definition and against finite differences."""
from __future__ import annotations

import importlib
import math

from .opinfo import Sample as S, register


def _score_mod(name, bias=None):
    """The samples' score edits: a relative-position term, or a learnable (H, L, S) bias."""
    if name == "relative":
        return lambda score, b, h, i, j: score + 0.1 * (i - j)
    if name == "bias":
        return lambda score, b, h, i, j: score + bias[h, i, j]
    return None


def _causal(b, h, i, j):
    return i >= j


def _flex(lib, q, k, v, *bias, score=None, causal=False, scale=None):
    """minigrad's flex_attention (its block mask made by ``create_block_mask``)."""
    flex = importlib.import_module(lib.__name__ + ".nn.attention.flex_attention")
    mask = None
    if causal:
        mask = flex.create_block_mask(_causal, None, None, q.shape[-2], k.shape[-2])
    return flex.flex_attention(q, k, v, score_mod=_score_mod(score, *bias), block_mask=mask,
                               scale=scale)


def _flex_torch(torch, q, k, v, *bias, score=None, causal=False, scale=None):
    """The same attention written in torch ops (PyTorch's flex_attention has no CPU backward)."""
    B, H, L, E = q.shape
    S_ = k.shape[-2]
    scores = q @ k.transpose(-2, -1) * (1 / math.sqrt(E) if scale is None else scale)
    b = torch.arange(B).view(B, 1, 1, 1)
    h = torch.arange(H).view(1, H, 1, 1)
    i = torch.arange(L).view(1, 1, L, 1)
    j = torch.arange(S_).view(1, 1, 1, S_)
    mod = _score_mod(score, *bias)
    if mod is not None:
        scores = mod(scores, b, h, i, j)
    if causal:
        scores = scores.masked_fill(~_causal(b, h, i, j), -math.inf)
    return scores.softmax(-1) @ v


def _samples(g):
    yield S(g.randn(1, 2, 4, 3), g.randn(1, 2, 5, 3), g.randn(1, 2, 5, 2), desc="plain")
    yield S(g.randn(2, 1, 4, 3), g.randn(2, 1, 4, 3), g.randn(2, 1, 4, 3),
            kwargs={"score": "relative", "scale": 0.6}, desc="relative-position score_mod")
    yield S(g.randn(1, 2, 4, 3), g.randn(1, 2, 4, 3), g.randn(1, 2, 4, 3), g.randn(2, 4, 4),
            kwargs={"score": "bias"}, desc="a learnable bias read by score_mod")
    yield S(g.randn(1, 2, 5, 3), g.randn(1, 2, 5, 3), g.randn(1, 2, 5, 3),
            kwargs={"causal": True}, desc="causal block mask")


register("flex_attention", _flex, _samples, torch_f=_flex_torch, family="nn",
         requires=(("minigrad.nn.attention.flex_attention", "flex_attention"),))
