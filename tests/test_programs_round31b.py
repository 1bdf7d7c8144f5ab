"""Whole programs of round 31, part b: the models of small language-model repositories, their facts
rebuilt in our own plain-torch code, in the parts the earlier rounds' nanoGPT, RWKV and LoRA
programs left out. Sampling: a generate loop's logits processors (a repetition penalty by
gather/scatter, top-k by masked_fill, top-p by a descending sort, softmax, cumsum and a shifted
mask scattered back, min-p) and multinomial under a Generator, with and without replacement, and
its refusals. Llama in the shape of Meta's reference model (RMSNorm in float cast back by
type_as, rotary embeddings by polar/view_as_complex/view_as_real(...).flatten(3), grouped-query
attention by expand, SwiGLU, a KV cache written by slice assignment under inference_mode with an
hstack'ed mask, prefill and decoding against the full pass), its rotary step in float64 with a
double backward through the complex view; attention in the transformers library's eager form
(rotate_half with cos/sin from inv_freq @ position_ids, left padding with cumsum position ids, a
4-d mask of finfo.min, a static cache by index_copy_, repeat_interleave and sdpa with
enable_gqa). A LoRA Linear with loralib's behaviour (its fan_in_fan_out form too), frozen by
requires_grad_, merged on eval and unmerged on train, its adapters saved alone and loaded with
strict=False.  Mixtral's sparse MoE block (one_hot expert masks, torch.where, index_add_, the
load-balancing and z losses) and Switch routing with a capacity by cumsum, einsum dispatch and a
scatter_add_ combine.  Mamba's selective scan three ways (the sequential loop, a cumsum parallel
form, Mamba-2's chunked SSD with segsum) and its decoding step with a rolled conv state;
RWKV-6's data-dependent token shift (ZeroPad2d with a negative pad), matrix-state WKV and
group-norm ln_x.  A byte-level BPE tokenizer's tensor side (unique pair counts, masked merges,
isin/searchsorted ranks, padding on either side).  Label-smoothed cross-entropy with
ignore_index against fairseq's formula, strided perplexity under inference_mode.  A
nanoGPT-style training run end to end (uint16 token batches, warmup-cosine rates, accumulation,
clipping, AdamW(fused=False) groups, sdpa with dropout beside the masked path, a BytesIO
checkpoint with _orig_mod. prefixes resumed to the same losses, sampling with top-k and top-p).

What they found, fixed in minigrad (1 program of 14 failed before, the one written around
these findings: every program as first written from its repository agreed; the focused tests
at the end check each fix, and fail without it):
out of place, ``masked_fill`` and ``masked_scatter`` looked at the mask's dtype (and the value)
before broadcasting the mask with the input, where PyTorch broadcasts first (a float causal
mask of the wrong size gave the dtype error, not the size error), and masked_scatter named the
two sizes the other way round; ``masked_scatter_`` checked the mask's dtype before the
source's and refused a wider mask in its own words, where PyTorch expands the mask to the
input (expand's errors) between the two; expand's too-few-sizes error printed a bool, bfloat16,
complex or uint16-64 tensor as ``torch.BoolTensor`` where PyTorch prints ``CPUBoolType`` (its
legacy classes only for the eight old dtypes); ``Module.to(float64)`` dropped the imaginary
part of a complex parameter or buffer (a rotary table) without PyTorch's warning;
``torch.save`` wrote tensors that view one storage as two dtypes (a complex table beside its
view_as_real, a weight beside its .view(int32)), which PyTorch refuses; ``torch.func.rearrange`` raised ValueErrors of its own words where PyTorch's
first-class dimensions raise DimensionBindError naming them d0, d1, ..., and took a second
ellipsis for a duplicate name.

``torch.tensor(1j)`` under a bfloat16 default dtype gave complex64 where PyTorch has no
complex dtype to pair with bfloat16 and refuses.

Not fixed here (files held by others; see the report): ``view_as_complex`` of a bfloat16 tensor
fails inside numpy instead of PyTorch's RuntimeError; ``F.rms_norm`` (so nn.RMSNorm on
bfloat16 activations with float32 weights) lacks PyTorch's once-a-process warning that a weight
of another dtype cannot take the fused kernel; twenty Tensor methods (add, mul, matmul,
softmax, gather...) accept ``out=``, which only the functions take.  Not compared:
topk's order among tied values (PyTorch's CPU kernel leaves it to its partial sort), float32
transcendental functions' last bit (a polar table's cos, a float32 softmax cast back to
float64), the Device class's name.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import copy
import inspect
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, registry, program_harness, leaf as _t, normal32)


HARNESS = program_harness()
PROGRAMS, program = registry()


def _f(L, *shape, scale=1.0, seed=0, grad=False):
    """A float32 leaf of seeded normal draws."""
    return L.tensor(normal32(*shape, scale=scale, seed=seed), requires_grad=grad)


def _ids(L, *shape, vocab, seed):
    return L.tensor(np.random.RandomState(seed).randint(0, vocab, shape))


# ----------------------------------------------------------------------------------------------
# sampling
# ----------------------------------------------------------------------------------------------
@program
def nucleus_top_k_min_p_and_repetition_penalty_sampling(L):
    """The logits processors of a generate loop written by hand: a repetition penalty read by
    gather and written back by scatter (divided where positive, multiplied where negative),
    temperature, top-k by ``topk(...)[0][..., -1, None]`` and masked_fill(-inf), top-p by a
    descending sort, softmax, cumsum and a mask shifted right by one (the first token always
    kept) scattered back to vocabulary order, min-p against the largest probability; then
    ``torch.multinomial`` under a seeded Generator (one draw per row, several without
    replacement) and greedy argmax, and the refusals of multinomial."""
    logits = _t(L, 3, 11, seed=1) * 2
    prev = L.tensor([[1, 4, 4], [0, 2, 9], [10, 3, 1]])
    score = L.gather(logits, 1, prev)
    score = L.where(score < 0, score * 1.3, score / 1.3)
    penalised = logits.scatter(1, prev, score)
    t = penalised / 0.7
    kth = L.topk(t, 4)[0][..., -1, None]
    topk = t.masked_fill(t < kth, float("-inf"))
    sorted_logits, sorted_idx = L.sort(t, descending=True)
    cum = L.cumsum(L.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cum > 0.8
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    to_remove = remove.scatter(1, sorted_idx, remove)
    topp = t.masked_fill(to_remove, -float("inf"))
    probs = L.softmax(t, dim=-1)
    minp = t.masked_fill(probs < 0.1 * probs.max(dim=-1, keepdim=True).values, float("-inf"))
    g = L.Generator().manual_seed(123)
    draws = [L.multinomial(L.softmax(x, -1), 1, generator=g) for x in (topk, topp, minp)]
    several = L.multinomial(L.softmax(topk, -1), 3, replacement=False, generator=g)
    many = L.multinomial(L.softmax(t, -1), 6, replacement=True, generator=g)
    L.manual_seed(5)
    glob = L.multinomial(L.softmax(topp[0], -1), 2)
    return dict(penalised=penalised, topk=topk, topp=topp, minp=minp, keep=to_remove,
                draws=draws, several=several, many=many, glob=glob, greedy=t.argmax(-1),
                kept=[(x > float("-inf")).sum(-1) for x in (topk, topp, minp)],
                errors=[err(lambda: L.multinomial(L.softmax(topk, -1), 6, generator=g)),
                        err(lambda: L.multinomial(L.tensor([[0.0, 0.0]]), 1)),
                        err(lambda: L.multinomial(L.tensor([[-0.1, 1.0]]), 1)),
                        err(lambda: L.multinomial(L.tensor([[0.5, float("nan")]]), 1)),
                        err(lambda: L.multinomial(L.ones(2, 2, 2), 1))])


# ----------------------------------------------------------------------------------------------
# a Llama-shaped decoder (the facts of Meta's reference model: RMSNorm in float, complex rotary
# embeddings, grouped-query attention, SwiGLU, a KV cache in plain tensors), in our own layout
# ----------------------------------------------------------------------------------------------
def _llama(L, dim=16, n_heads=4, n_kv_heads=2, n_layers=2, vocab=23, max_seq=12, max_batch=2,
           multiple_of=8, seed=0):
    nn, F = L.nn, L.nn.functional
    hd = dim // n_heads
    group = n_heads // n_kv_heads          # query heads sharing one key/value head

    class RMS(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(L.ones(dim))

        def forward(self, x):
            x32 = x.float()
            inv_rms = L.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
            return (x32 * inv_rms).type_as(x) * self.weight

    def rotations(width, length, base=10000.0):
        # unit complex numbers e^(i * pos * base^(-2j / width)), one row per position
        inv = 1.0 / (base ** (L.arange(0, width, 2)[: (width // 2)].float() / width))
        angle = L.outer(L.arange(length, device=inv.device), inv).float()
        return L.polar(L.ones_like(angle), angle)

    def rotate(x, rot):
        # (b, s, heads, hd) real pairs viewed as hd / 2 complex numbers, turned, viewed back
        pairs = L.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))
        assert rot.shape == (pairs.shape[1], pairs.shape[-1])
        lined_up = rot.view(*[n if i in (1, pairs.ndim - 1) else 1
                              for i, n in enumerate(pairs.shape)])
        return L.view_as_real(pairs * lined_up).flatten(3).type_as(x)

    def share_kv(t):
        # (b, s, kv_heads, hd) -> (b, s, kv_heads * group, hd) by a broadcast view
        if group == 1:
            return t
        b, s, kv, d = t.shape
        return t[:, :, :, None, :].expand(b, s, kv, group, d).reshape(b, s, kv * group, d)

    class GQA(nn.Module):
        def __init__(self):
            super().__init__()
            self.to_q = nn.Linear(dim, n_heads * hd, bias=False)
            self.to_k = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.to_v = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.to_out = nn.Linear(n_heads * hd, dim, bias=False)
            self.keys = L.zeros((max_batch, max_seq, n_kv_heads, hd))
            self.values = L.zeros((max_batch, max_seq, n_kv_heads, hd))

        def remember(self, k, v, start):
            # write this chunk into the cache, return everything cached up to its end
            b, s = k.shape[:2]
            self.keys, self.values = self.keys.to(k), self.values.to(k)
            self.keys[:b, start: start + s] = k
            self.values[:b, start: start + s] = v
            return self.keys[:b, : start + s], self.values[:b, : start + s]

        def forward(self, x, start, rot, mask, use_cache):
            b, s, _ = x.shape
            q = self.to_q(x).view(b, s, n_heads, hd)
            k = self.to_k(x).view(b, s, n_kv_heads, hd)
            v = self.to_v(x).view(b, s, n_kv_heads, hd)
            q, k = rotate(q, rot), rotate(k, rot)
            if use_cache:
                k, v = self.remember(k, v, start)
            q, k, v = (t.transpose(1, 2) for t in (q, share_kv(k), share_kv(v)))
            att = L.matmul(q, k.transpose(2, 3)) / math.sqrt(hd)
            if mask is not None:
                att = att + mask
            att = F.softmax(att.float(), dim=-1).type_as(q)
            mixed = L.matmul(att, v).transpose(1, 2).contiguous().view(b, s, -1)
            return self.to_out(mixed)

    def swiglu_width(w):
        w = int(2 * w / 3)
        return multiple_of * ((w + multiple_of - 1) // multiple_of)

    class SwiGLU(nn.Module):
        def __init__(self, hidden):
            super().__init__()
            hidden = swiglu_width(hidden)
            self.gate = nn.Linear(dim, hidden, bias=False)
            self.down = nn.Linear(hidden, dim, bias=False)
            self.up = nn.Linear(dim, hidden, bias=False)

        def forward(self, x):
            return self.down(F.silu(self.gate(x)) * self.up(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn, self.ffn = GQA(), SwiGLU(4 * dim)
            self.attn_in, self.ffn_in = RMS(), RMS()

        def forward(self, x, start, rot, mask, use_cache):
            x = x + self.attn(self.attn_in(x), start, rot, mask, use_cache)
            return x + self.ffn(self.ffn_in(x))

    def causal_mask(s, start, like, use_cache):
        future = L.triu(L.full((s, s), float("-inf"), device=like.device), diagonal=1)
        if not use_cache:
            return future
        # every cached position before ``start`` is visible to all of the new ones
        seen = L.zeros((s, start), device=like.device)
        return L.hstack([seen, future]).type_as(like)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.layers = nn.ModuleList([Layer() for _ in range(n_layers)])
            self.norm = RMS()
            self.unembed = nn.Linear(dim, vocab, bias=False)
            self.freqs_cis = rotations(hd, max_seq * 2)

        def forward(self, tokens, start_pos=0, use_cache=True):
            s = tokens.shape[1]
            h = self.embed(tokens)
            rot = self.freqs_cis[start_pos: start_pos + s]
            mask = causal_mask(s, start_pos, h, use_cache) if s > 1 else None
            for layer in self.layers:
                h = layer(h, start_pos, rot, mask, use_cache)
            return self.unembed(self.norm(h)).float()

    L.manual_seed(seed)
    return Decoder()


@program
def llama_reference_model_with_complex_rotary_embeddings_and_kv_cache(L):
    """Meta's reference Llama in float32: RMSNorm computing in float and cast back by type_as,
    rotary frequencies by ``torch.polar(ones_like(freqs), freqs)`` applied through
    view_as_complex / view_as_real(...).flatten(3), grouped-query attention by repeat_kv
    (expand and reshape), SwiGLU with hidden width rounded to multiple_of, and a KV cache in
    plain tensors written by slice assignment with an hstack'ed mask for the prompt.  A
    prompt prefill then token-by-token decoding (greedy and sampled) must give the logits of
    the full forward without the cache; a training step (no cache) gives gradients through
    the complex view."""
    model = _llama(L)
    tokens = _ids(L, 2, 5, vocab=23, seed=3)
    with L.inference_mode():
        full_prompt = model(tokens, 0, use_cache=False)
        logits = model(tokens, 0)
        out, pos, seq = [logits[:, -1]], tokens.shape[1], tokens
        g = L.Generator().manual_seed(7)
        for step in range(4):
            last = out[-1]
            if step % 2 == 0:
                nxt = L.argmax(last, dim=-1, keepdim=True)
            else:
                nxt = L.multinomial(L.softmax(last / 0.8, dim=-1), 1, generator=g)
            seq = L.cat([seq, nxt], dim=1)
            out.append(model(nxt, pos)[:, -1])
            pos += 1
        full = model(seq, 0, use_cache=False)
    cached = L.stack(out, 1)
    agree = (cached - full[:, tokens.shape[1] - 1:]).abs().max() < 1e-4
    model.zero_grad()
    x = _ids(L, 2, 7, vocab=23, seed=4)
    logits = model(x[:, :-1], use_cache=False)
    loss = L.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)),
                                         x[:, 1:].reshape(-1))
    loss.backward()
    return dict(prompt=full_prompt, logits=logits.detach(), cached=cached, seq=seq,
                agree=agree, loss=loss, grads=grads_of(model),
                freqs=model.freqs_cis[:3], freqs_dtype=model.freqs_cis.dtype,
                inference=[cached.is_inference(), logits.is_inference()])


@program
def llama_float64_rope_gradients_through_view_as_complex(L):
    """The reference Llama's rotary step in float64 (``.float()`` swapped for ``.double()``),
    as a test of gradients through view_as_complex, complex multiplication by a polar
    frequency table and view_as_real(...).flatten(3): the query/key gradients, a double
    backward of their norm, and the complex helpers' refusals (odd last dimension, a
    non-contiguous view)."""
    dim, seq = 8, 5
    freqs = 1.0 / (10000.0 ** (L.arange(0, dim, 2).double() / dim))
    angles = L.outer(L.arange(seq).double(), freqs)
    cis = L.polar(L.ones_like(angles), angles)
    xq = _t(L, 2, seq, 3, dim, seed=1, grad=True)
    xk = _t(L, 2, seq, 3, dim, seed=2, grad=True)
    xq_ = L.view_as_complex(xq.reshape(*xq.shape[:-1], -1, 2))
    xk_ = L.view_as_complex(xk.reshape(*xk.shape[:-1], -1, 2))
    c = cis.view(1, seq, 1, dim // 2)
    q = L.view_as_real(xq_ * c).flatten(3)
    k = L.view_as_real(xk_ * c).flatten(3)
    scores = L.einsum("bqhd,bkhd->bhqk", q, k)
    loss = scores.tanh().sum()
    gq, gk = L.autograd.grad(loss, (xq, xk), create_graph=True)
    (gq.pow(2).sum() + gk.abs().sum()).backward()
    norms = [q.norm(dim=-1) - xq.norm(dim=-1)]
    odd = _t(L, 2, 3, seed=3)
    return dict(q=q, k=k, cis=cis, gq=gq, gk=gk, xq_grad=xq.grad, xk_grad=xk.grad,
                norms=norms, cdtype=xq_.dtype, real_shape=L.view_as_real(cis).shape,
                errors=[err(lambda: L.view_as_complex(odd)),
                        err(lambda: L.view_as_complex(_t(L, 4, 2, seed=4).t())),
                        err(lambda: L.view_as_real(odd))])



# ----------------------------------------------------------------------------------------------
# Llama/Qwen attention in the transformers library's eager form: rotate-half rotary embeddings,
# a static cache by index_copy_, 4-d additive masks (our own code over those facts)
# ----------------------------------------------------------------------------------------------
def _rotate_half(L, x):
    # (a, b) on the two halves of the last dim -> (-b, a)
    half = x.shape[-1] // 2
    return L.cat((-x[..., half:], x[..., :half]), dim=-1)


def _hf_rope(L, head_dim, base=10000.0):
    inv = 1.0 / (base ** (L.arange(0, head_dim, 2, dtype=L.int64).float() / head_dim))

    def tables(like, positions):
        # (batch, half, 1) @ (batch, 1, seq) -> angles (batch, seq, half), each used twice
        per_batch = inv[None, :, None].float().expand(positions.shape[0], -1, 1)
        angles = (per_batch.float() @ positions[:, None, :].float()).transpose(1, 2)
        twice = L.cat((angles, angles), dim=-1)
        return twice.cos().to(dtype=like.dtype), twice.sin().to(dtype=like.dtype)
    return tables


@program
def hf_attention_with_rotate_half_static_cache_and_padding_masks(L):
    """Attention in the form the transformers library gives Llama in eager mode: cos/sin built
    by ``inv_freq[None, :, None].expand(...) @ position_ids[:, None, :].float()`` and
    ``cat((freqs, freqs))``, applied by rotate_half with unsqueeze(1); a left-padded batch
    whose position_ids come from ``attention_mask.long().cumsum(-1) - 1`` filled with 1 at
    the padding; the 4-d additive mask from a causal triu of ``finfo(dtype).min`` combined
    with the padding mask by masked_fill; a static KV cache written by ``index_copy_(2,
    cache_position, k)``; grouped heads by repeat_interleave, the eager path against
    ``scaled_dot_product_attention`` with the float mask and with ``enable_gqa=True``.  The
    prefill-then-decode logits must equal the full pass at the real tokens."""
    nn, F = L.nn, L.nn.functional
    B, T, H, KV, D = 2, 6, 4, 2, 8
    E = H * D
    L.manual_seed(1)
    q_proj, k_proj = nn.Linear(E, H * D, bias=True), nn.Linear(E, KV * D, bias=True)
    v_proj, o_proj = nn.Linear(E, KV * D, bias=True), nn.Linear(H * D, E, bias=False)
    rope = _hf_rope(L, D)
    x = _f(L, B, T + 2, E, seed=2)
    attention_mask = L.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 1]])
    position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill_(attention_mask == 0, 1)
    lowest = L.finfo(L.float32).min

    def mask_4d(q_len, kv_len, cache_position):
        # additive: 0 where a query may look, float32's lowest value where it may not
        grid = L.full((q_len, kv_len), fill_value=lowest, dtype=L.float32)
        ahead = L.triu(grid, diagonal=1) if q_len > 1 else grid * 0
        ahead = ahead * (L.arange(kv_len) > cache_position.reshape(-1, 1))
        rows = ahead[None, None, :, :].expand(B, 1, -1, -1).clone()
        window = rows[:, :, :, :kv_len]
        on_pad = (window + attention_mask[:, None, None, :kv_len]) == 0
        rows[:, :, :, :kv_len] = window.masked_fill(on_pad, lowest)
        return rows

    def heads(t, n):
        b, s, _ = t.shape
        return t.view(b, s, n, D).transpose(1, 2)

    def by_hand(q, k, v, mask):
        w = L.matmul(q, k.transpose(2, 3)) / math.sqrt(D) + mask[:, :, :, : k.shape[-2]]
        return L.matmul(F.softmax(w, dim=-1, dtype=L.float32).to(q.dtype), v)

    def attend(h, pos, mask, cache=None, cache_position=None, how="eager"):
        q, k, v = heads(q_proj(h), H), heads(k_proj(h), KV), heads(v_proj(h), KV)
        cos, sin = (t.unsqueeze(1) for t in rope(v, pos))
        q, k = (t * cos + _rotate_half(L, t) * sin for t in (q, k))
        if cache is not None:
            for store, new in zip(cache, (k, v)):
                store.index_copy_(2, cache_position, new)
            k, v = cache
        if how == "gqa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
        else:
            k, v = (t.repeat_interleave(H // KV, dim=1) for t in (k, v))
            out = (F.scaled_dot_product_attention(q, k, v, attn_mask=mask) if how == "sdpa"
                   else by_hand(q, k, v, mask))
        return o_proj(out.transpose(1, 2).reshape(h.shape[0], h.shape[1], -1))

    full_mask = mask_4d(T + 2, T + 2, L.arange(T + 2))
    with L.no_grad():
        eager = attend(x, position_ids, full_mask)
        sdpa = attend(x, position_ids, full_mask, how="sdpa")
        gqa = attend(x, position_ids, full_mask, how="gqa")
        cache = (L.zeros(B, KV, T + 2, D), L.zeros(B, KV, T + 2, D))
        cp = L.arange(T)
        m = mask_4d(T, T + 2, cp)
        steps = [attend(x[:, :T], position_ids[:, :T], m, cache, cp)]
        for t in range(T, T + 2):
            cp = L.tensor([t])
            steps.append(attend(x[:, t:t + 1], position_ids[:, t:t + 1],
                                mask_4d(1, T + 2, cp), cache, cp))
    decoded = L.cat(steps, 1)
    real = attention_mask.bool()
    return dict(eager=eager, sdpa_close=L.allclose(eager[real], sdpa[real], atol=1e-5),
                gqa_close=L.allclose(eager[real], gqa[real], atol=1e-5),
                decoded=decoded[real], full=eager[real], position_ids=position_ids,
                mask=full_mask[0, 0], cache=cache[0],
                errors=[err(lambda: cache[0].index_copy_(2, L.tensor([0, 1]), cache[0])),
                        err(lambda: cache[0].index_copy_(2, L.tensor([0.0]),
                                                         cache[0][:, :, :1])),
                        err(lambda: L.zeros(3).index_copy_(0, L.tensor([5]),
                                                           L.ones(1)))])


# ----------------------------------------------------------------------------------------------
# LoRA (loralib's behaviour: merge on eval, unmerge on train, the fan_in_fan_out layout)
# ----------------------------------------------------------------------------------------------
def _lora_linear(L):
    nn, F = L.nn, L.nn.functional

    class LoRALinear(nn.Linear):
        """A Linear whose weight stays frozen while a rank-r update up @ down * (alpha / r)
        trains; eval() folds the update into the weight, train() takes it out again.  With
        fan_in_fan_out the weight is stored (in, out), as GPT-2's Conv1D keeps it."""

        def __init__(self, n_in, n_out, r=4, lora_alpha=8, lora_dropout=0.0,
                     fan_in_fan_out=False, merge_weights=True, **kw):
            nn.Linear.__init__(self, n_in, n_out, **kw)   # runs reset_parameters once already
            self.r, self.stored_transposed = r, fan_in_fan_out
            self.scale = lora_alpha / r
            self.drop = nn.Dropout(p=lora_dropout) if lora_dropout > 0 else (lambda t: t)
            self.can_merge, self.merged = merge_weights, False
            self.lora_down = nn.Parameter(self.weight.new_zeros((r, n_in)))
            self.lora_up = nn.Parameter(self.weight.new_zeros((n_out, r)))
            self.weight.requires_grad = False
            self.reset_parameters()
            if fan_in_fan_out:
                self.weight.data = self.weight.data.transpose(0, 1)

        def reset_parameters(self):
            nn.Linear.reset_parameters(self)
            if hasattr(self, "lora_down"):      # absent on the call from Linear's __init__
                nn.init.kaiming_uniform_(self.lora_down, a=math.sqrt(5))
                nn.init.zeros_(self.lora_up)

        def as_stored(self, w):
            return w.transpose(0, 1) if self.stored_transposed else w

        def delta(self):
            return self.as_stored(self.lora_up @ self.lora_down) * self.scale

        def train(self, mode=True):
            nn.Linear.train(self, mode)
            if self.can_merge and self.merged == mode:   # state differs from the one wanted
                if mode:
                    self.weight.data -= self.delta()
                else:
                    self.weight.data += self.delta()
                self.merged = not mode
            return self

        def forward(self, x):
            out = F.linear(x, self.as_stored(self.weight), bias=self.bias)
            if self.r == 0 or self.merged:
                return out
            low = self.drop(x) @ self.lora_down.transpose(0, 1) @ self.lora_up.transpose(0, 1)
            return out + low * self.scale
    return LoRALinear


@program
def lora_adapters_merged_unmerged_frozen_and_saved_alone(L):
    """A LoRA Linear in float64 (and its fan_in_fan_out form, GPT-2's Conv1D layout): the down
    matrix by kaiming_uniform_(a=sqrt(5)), the up matrix zeros, scaling alpha/r, the base weight
    frozen by requires_grad; mark_only_lora_as_trainable by name with requires_grad_; an
    AdamW over the parameters that still require grad; train() unmerging and eval()
    merging ``B @ A * scaling`` into ``weight.data`` (eval outputs equal to the unmerged
    train outputs); the adapter-only state dict (names holding 'lora_') saved to a BytesIO
    and loaded into a fresh model with strict=False (missing keys reported); PEFT's
    merge-and-unload into a plain Linear."""
    nn = L.nn
    LoRALinear = _lora_linear(L)
    L.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 6)
            self.q = LoRALinear(6, 6, r=2, lora_alpha=4)
            self.c_attn = LoRALinear(6, 12, r=3, lora_alpha=3, fan_in_fan_out=True)
            self.head = nn.Linear(12, 5)

        def forward(self, idx):
            return self.head(L.tanh(self.c_attn(L.relu(self.q(self.emb(idx))))))

    net = Net().double()
    for n, p in net.named_parameters():
        if "lora_" not in n:
            p.requires_grad_(False)
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    opt = L.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=0.05,
                        weight_decay=0.01)
    idx, y = _ids(L, 8, vocab=10, seed=1), _ids(L, 8, vocab=5, seed=2)
    losses = []
    for _ in range(4):
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(idx), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    frozen_grads = [p.grad for n, p in net.named_parameters() if not p.requires_grad]
    train_out = net(idx)
    net.eval()
    eval_out = net(idx)
    merged_w = net.q.weight.clone()
    net.train()
    back = net(idx)
    buf = io.BytesIO()
    L.save({k: v for k, v in net.state_dict().items() if "lora_" in k}, buf)
    buf.seek(0)
    L.manual_seed(0)
    fresh = Net().double()
    result = fresh.load_state_dict(L.load(buf), strict=False)
    with L.no_grad():
        delta = net.q.lora_up @ net.q.lora_down * net.q.scale
        plain = nn.Linear(6, 6).double()
        plain.weight.copy_(net.q.weight + delta)
        plain.bias.copy_(net.q.bias)
    x = net.emb(idx)
    return dict(trainable=trainable, losses=losses, frozen_grads=frozen_grads,
                train_out=train_out, eval_close=L.allclose(train_out, eval_out),
                eval_out=eval_out, merged_w=merged_w, back=back, unmerged_w=net.q.weight,
                missing=sorted(result.missing_keys), unexpected=result.unexpected_keys,
                fresh_out=fresh(idx), merged_linear=plain(x) - net.q(x),
                requires=[p.requires_grad for p in fresh.parameters()])



# ----------------------------------------------------------------------------------------------
# mixture of experts
# ----------------------------------------------------------------------------------------------
@program
def mixtral_sparse_moe_block_with_load_balancing_and_z_losses(L):
    """A Mixtral-style sparse MoE block in float32: router logits, softmax in float, topk with the
    weights renormalised, ``one_hot(selected, num_classes=E).permute(2, 1, 0)`` and, per
    expert, ``torch.where(expert_mask[e])`` giving the slots and tokens, the expert's output
    scaled by its routing weight and ``index_add_``'ed into a zero tensor of the hidden
    states' dtype; the auxiliary load-balancing loss (tokens per expert times router
    probability per expert, from one_hot means) and the router z-loss (logsumexp squared);
    gradients of the total through the gather of routing weights; jitter noise drawn by
    ``empty_like(...).uniform_`` under a seed."""
    nn, F = L.nn, L.nn.functional
    E, K, Dm, Dff = 4, 2, 6, 10
    L.manual_seed(3)
    router = nn.Linear(Dm, E, bias=False)
    experts = nn.ModuleList([nn.ModuleDict(dict(
        lift=nn.Linear(Dm, Dff, bias=False), drop=nn.Linear(Dff, Dm, bias=False),
        gate=nn.Linear(Dm, Dff, bias=False))) for _ in range(E)])

    def expert_ffn(f, t):
        return f["drop"](F.silu(f["lift"](t)) * f["gate"](t))

    x = _f(L, 3, 3, Dm, seed=1, grad=True)
    b, s, h = x.shape
    tokens = x.view(-1, h)
    tokens = tokens * L.empty_like(tokens).uniform_(1.0 - 0.01, 1.0 + 0.01)    # jitter
    router_logits = router(tokens)
    top_w, selected = L.topk(F.softmax(router_logits, dim=1, dtype=L.float), K, dim=-1)
    routing_weights = (top_w / top_w.sum(dim=-1, keepdim=True)).to(tokens.dtype)
    # (expert, slot, token): 1 where the token's slot-th choice is that expert
    expert_mask = F.one_hot(selected, num_classes=E).permute(2, 1, 0)
    hit = L.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()
    mixed = L.zeros((b * s, h), dtype=tokens.dtype, device=tokens.device)
    for e in hit:
        slot, tok = L.where(expert_mask[e].squeeze(0))
        picked = tokens[None, tok].reshape(-1, h)
        y = expert_ffn(experts[int(e)], picked) * routing_weights[tok, slot, None]
        mixed.index_add_(0, tok, y.to(tokens.dtype))
    out = mixed.reshape(b, s, h)
    # load balancing: the share of routed slots per expert times its mean router probability
    probs = F.softmax(router_logits, dim=-1)
    routed_share = L.mean(F.one_hot(L.topk(probs, K, dim=-1)[1], E).float(), dim=0)
    aux = L.sum(routed_share * L.mean(probs, dim=0).unsqueeze(0)) * E
    z = L.logsumexp(router_logits, dim=-1).pow(2).mean()
    loss = out.pow(2).mean() + 0.01 * aux + 0.001 * z
    loss.backward()
    return dict(out=out, aux=aux, z=z, selected=selected, weights=routing_weights,
                hit=hit, mask=expert_mask, tokens=routed_share, x_grad=x.grad,
                gate_grad=router.weight.grad,
                expert_grads=[ex["lift"].weight.grad for ex in experts],
                rw_dtype=F.softmax(router_logits.double(), 1, dtype=L.float).dtype)


@program
def switch_routing_with_capacity_by_cumsum_and_scatter_add_combine(L):
    """Switch/GShard-style top-1 routing with an expert capacity, in float32: the position of
    each token in its expert's queue by ``cumsum(one_hot, 0) * one_hot``, tokens past the
    capacity dropped by a mask, a dispatch tensor built by one_hot of the position and
    einsum'ed to expert inputs, the experts as batched ``bmm`` over stacked weights, the
    combine by einsum with the gate values, plus a ``scatter_add_`` combine of the kept
    tokens' outputs and the ``bincount`` of assignments; gradients through the gate
    probabilities; argmax ties broken to the first expert."""
    F = L.nn.functional
    N, D, E, C = 10, 4, 3, 4
    x = _f(L, N, D, seed=1, grad=True)
    wg = _f(L, D, E, seed=2, grad=True)
    w_e = _f(L, E, D, D, seed=3, scale=0.5, grad=True)
    logits = x @ wg
    logits = L.cat([logits[:-1], L.zeros(1, E)])   # a tie: the first expert wins
    probs = L.softmax(logits, dim=-1)
    gate, expert = probs.max(dim=-1)
    onehot = F.one_hot(expert, E)
    position = (L.cumsum(onehot, dim=0) * onehot).sum(-1) - 1
    keep = position < C
    counts = L.bincount(expert, minlength=E)
    dispatch = F.one_hot(expert, E).unsqueeze(-1) * \
        F.one_hot(position.clamp(max=C - 1), C).unsqueeze(1) * keep[:, None, None]
    dispatch = dispatch.float()
    expert_in = L.einsum("nec,nd->ecd", dispatch, x)
    expert_out = L.bmm(expert_in, w_e)
    combine = dispatch * (gate * keep)[:, None, None]
    y = L.einsum("nec,ecd->nd", combine, expert_out)
    flat = expert_out.reshape(E * C, D)
    slot = (expert * C + position.clamp(max=C - 1))[keep]
    y2 = L.zeros(N, D).scatter_add_(0, L.nonzero(keep).expand(-1, D),
                                    flat[slot] * gate[keep, None])
    f = onehot.float().mean(0)
    aux = E * (f * probs.mean(0)).sum()
    (y.pow(2).sum() + aux).backward()
    return dict(expert=expert, position=position, keep=keep, counts=counts, y=y, y2=y2,
                aux=aux, x_grad=x.grad, wg_grad=wg.grad, we_grad=w_e.grad,
                dtype=dispatch.dtype)


# ----------------------------------------------------------------------------------------------
# Mamba's selective scan
# ----------------------------------------------------------------------------------------------
def _segsum(L, x):
    # out[..., i, j] = x[..., j + 1] + ... + x[..., i] for j <= i (0 on the diagonal), -inf
    # above it: summed down the rows of a grid masked below the diagonal, which stays stable
    # where a difference of two cumulative sums would cancel
    n = x.size(-1)
    ones = L.ones(n, n, dtype=L.bool, device=x.device)
    rows = x[..., None].repeat(*([1] * x.dim()), n)
    rows = rows.masked_fill(~L.tril(ones, diagonal=-1), 0)
    return L.cumsum(rows, dim=-2).masked_fill(~L.tril(ones, diagonal=0), -L.inf)


@program
def mamba_selective_scan_sequential_parallel_and_chunked(L):
    """A Mamba block's selective scan in float64 three ways: a sequential loop (the per-step
    decays ``exp(einsum(..., delta, A))``, the state updated per step and read
    by einsum with C), a parallel form by cumsum of log-decays (exp of differences masked by
    tril), and Mamba-2's chunked form with a stable segment sum (repeat, tril masks, cumsum,
    masked_fill(-inf)) over rearranged chunks; the causal depthwise conv1d with
    padding=d_conv-1 cut back to length L, softplus dt with dt_proj, ``A = -exp(A_log)`` with
    A_log from ``repeat(arange(1, n+1), 'n -> d n')``, the SiLU gate; all three must agree,
    and gradients reach A_log, D and the convolution."""
    nn, F = L.nn, L.nn.functional
    B, T, d_model, d_inner, d_state, d_conv, dt_rank = 2, 8, 4, 6, 3, 3, 2
    L.manual_seed(0)
    in_proj = nn.Linear(d_model, 2 * d_inner, bias=False).double()
    conv1d = nn.Conv1d(d_inner, d_inner, kernel_size=d_conv, groups=d_inner,
                       padding=d_conv - 1).double()
    x_proj = nn.Linear(d_inner, dt_rank + 2 * d_state, bias=False).double()
    dt_proj = nn.Linear(dt_rank, d_inner, bias=True).double()
    out_proj = nn.Linear(d_inner, d_model, bias=False).double()
    A_log = nn.Parameter(L.log(L.arange(1, d_state + 1).repeat(d_inner, 1).double()))
    Dp = nn.Parameter(L.ones(d_inner, dtype=L.float64))
    u = _t(L, B, T, d_model, seed=1)

    def prepare():
        xz = in_proj(u)
        xs, res = xz.split(split_size=[d_inner, d_inner], dim=-1)
        xs = conv1d(xs.transpose(1, 2))[:, :, :T].transpose(1, 2)
        xs = F.silu(xs)
        A = -L.exp(A_log.float()).double()
        dbc = x_proj(xs)
        delta, Bm, Cm = dbc.split(split_size=[dt_rank, d_state, d_state], dim=-1)
        delta = F.softplus(dt_proj(delta))
        return xs, res, A, delta, Bm, Cm

    def sequential(xs, A, delta, Bm, Cm):
        # h_t = exp(delta_t A) h_(t-1) + delta_t B_t x_t, read out as y_t = h_t . C_t
        decay = L.exp(L.einsum("btc,cs->btcs", delta, A))
        push = L.einsum("btc,bts,btc->btcs", delta, Bm, xs)
        h = L.zeros((B, d_inner, d_state), dtype=xs.dtype)
        out = []
        for t in range(T):
            h = decay[:, t] * h + push[:, t]
            out.append(L.einsum("bcs,bs->bc", h, Cm[:, t, :]))
        return L.stack(out, dim=1)

    def parallel(xs, A, delta, Bm, Cm):
        logA = L.einsum("bld,dn->bldn", delta, A)
        cum = L.cumsum(logA, dim=1)
        diff = cum[:, :, None] - cum[:, None, :]        # b t s d n: sum over (s, t]
        causal = L.tril(L.ones(T, T, dtype=L.bool))[None, :, :, None, None]
        decay = L.exp(diff.masked_fill(~causal, -float("inf")))
        dBu = L.einsum("bld,bln,bld->bldn", delta, Bm, xs)
        states = (decay * dBu[:, None]).sum(2)
        return L.einsum("btdn,btn->btd", states, Cm)

    def chunked(xs, A, delta, Bm, Cm, q=4):
        k = T // q
        u = (xs * delta).reshape(B, k, q, d_inner)                  # (b, chunk, pos, chan)
        Bq, Cq = (m.reshape(B, k, q, d_state) for m in (Bm, Cm))
        logd = (delta[..., None] * A).permute(0, 2, 3, 1).reshape(B, d_inner, d_state, k, q)
        run = L.cumsum(logd, dim=-1)                                # log-decay to each pos
        # inside a chunk: y_l = sum over s <= l of (C_l . B_s) exp(log-decays in (s, l]) u_s
        within = L.einsum("bkln,bksn,bdnkls,bksd->bkld", Cq, Bq, L.exp(_segsum(L, logd)), u)
        # the state each chunk leaves, then carried from chunk to chunk
        ends = L.einsum("bksn,bdnks,bksd->bkdn", Bq, L.exp(run[..., -1:] - run), u)
        ends = L.cat([L.zeros_like(ends[:, :1]), ends], dim=1)
        across = L.exp(_segsum(L, F.pad(run[..., -1], (1, 0))))
        entering = L.einsum("bdnjk,bkdn->bjdn", across, ends)[:, :-1]
        # the state entering each chunk, decayed to each of its positions
        carried = L.einsum("bkln,bkdn,bdnkl->bkld", Cq, entering, L.exp(run))
        return (within + carried).reshape(B, T, d_inner)

    xs, res, A, delta, Bm, Cm = prepare()
    ys = [f(xs, A, delta, Bm, Cm) for f in (sequential, parallel, chunked)]
    y = ys[0] + xs * Dp
    out = out_proj(y * F.silu(res))
    out.pow(2).mean().backward()
    return dict(ys=ys, out=out, agree=[L.allclose(ys[0], v) for v in ys[1:]],
                a_grad=A_log.grad, d_grad=Dp.grad, conv_grad=conv1d.weight.grad,
                dt_grad=dt_proj.bias.grad, segsum=_segsum(L, L.arange(4.0)))


@program
def mamba_step_decoding_with_rolled_conv_state(L):
    """Mamba's single-token step in float32: a conv state of the last d_conv inputs kept by
    ``torch.roll(conv_state, shifts=-1, dims=-1)`` and a write to the last column, the depthwise
    convolution as ``sum(conv_state * rearranged weight) + bias``, the SSM state updated in
    place (``ssm_state.copy_(ssm_state * dA + dB * x)``); stepping token by token must agree
    with the full causal conv1d over the sequence and the sequential scan."""
    nn, F = L.nn, L.nn.functional
    B, T, d, n, k = 2, 6, 4, 3, 4
    L.manual_seed(4)
    conv = nn.Conv1d(d, d, k, groups=d, padding=k - 1)
    A = -L.exp(_f(L, d, n, seed=1, scale=0.3))
    xs = _f(L, B, T, d, seed=2)
    dt = F.softplus(_f(L, B, T, d, seed=3))
    Bm, Cm = _f(L, B, T, n, seed=4), _f(L, B, T, n, seed=5)
    with L.no_grad():
        full_conv = F.silu(conv(xs.transpose(1, 2))[..., :T]).transpose(1, 2)
        h = L.zeros(B, d, n)
        full = []
        for t in range(T):
            h = L.exp(dt[:, t, :, None] * A) * h + \
                dt[:, t, :, None] * Bm[:, t, None, :] * full_conv[:, t, :, None]
            full.append((h * Cm[:, t, None, :]).sum(-1))
        conv_state = L.zeros(B, d, k)
        ssm_state = L.zeros(B, d, n)
        steps, convs = [], []
        for t in range(T):
            conv_state.copy_(L.roll(conv_state, shifts=-1, dims=-1))
            conv_state[:, :, -1] = xs[:, t]
            xc = L.sum(conv_state * conv.weight.squeeze(1), dim=-1) + conv.bias
            xc = F.silu(xc)
            convs.append(xc)
            dA = L.exp(L.einsum("bd,dn->bdn", dt[:, t], A))
            dB = L.einsum("bd,bn->bdn", dt[:, t], Bm[:, t])
            ssm_state.copy_(ssm_state * dA + L.unsqueeze(xc, -1) * dB)
            steps.append(L.einsum("bdn,bn->bd", ssm_state, Cm[:, t]))
    return dict(full_conv=full_conv, convs=L.stack(convs, 1), full=L.stack(full, 1),
                steps=L.stack(steps, 1), conv_state=conv_state, ssm_state=ssm_state,
                rolled=L.roll(L.arange(6).view(2, 3), shifts=(1, -1), dims=(0, 1)))



# ----------------------------------------------------------------------------------------------
# RWKV
# ----------------------------------------------------------------------------------------------
@program
def rwkv6_time_mixing_with_data_dependent_lerp_and_matrix_state(L):
    """RWKV-6's time mixing in float64: the token shift by ``nn.ZeroPad2d((0, 0, 1, -1))`` (a
    negative pad cutting the last step), the data-dependent lerp (a tanh bottleneck viewed
    to five low-rank heads and ``bmm``'ed back to the width, then unbind), the decay
    ``exp(-exp(w))`` per head and channel, the WKV recurrence with a per-head matrix state
    and the current token's bonus read by einsum, ``F.group_norm`` over heads with eps 64e-5
    as ln_x, the SiLU gate; and RWKV-4's channel mixing by F.pad(x, (0, 0, 1, -1)), lerp
    with a parameter weight and squared ReLU.  Gradients of every parameter."""
    F = L.nn.functional
    B, T, C, H = 2, 5, 8, 2
    N = C // H
    rs = np.random.RandomState(0)

    def par(*shape, scale=1.0, shift=0.0, uniform=False):
        a = rs.rand(*shape) if uniform else rs.randn(*shape) * scale + shift
        return L.nn.Parameter(L.tensor(a))

    x = _t(L, B, T, C, seed=1, grad=True)
    mix_x, mix_down = par(1, 1, C, uniform=True), par(C, 5 * 2, scale=0.1)
    mix_up, mix = par(5, 2, C, scale=0.1), par(5, 1, 1, C, uniform=True)
    decay, bonus = par(1, 1, C, scale=0.5, shift=-1), par(H, N, scale=0.1)
    Wr, Wk, Wv, Wg, Wo = [par(C, C, scale=0.3) for _ in range(5)]
    ln_w, ln_b = par(C, scale=0.1, shift=1), par(C, scale=0.1)
    shift = L.nn.ZeroPad2d((0, 0, 1, -1))          # row t holds x[t - 1], zeros at t = 0
    step = shift(x) - x
    # five per-token mixing amounts from one low-rank tanh bottleneck: (5, B*T, 2) @ (5, 2, C)
    low = L.tanh((x + step * mix_x) @ mix_down).view(B * T, 5, -1).transpose(0, 1)
    amounts = L.bmm(low, mix_up).view(5, B, T, -1).unbind(dim=0)
    xw, xk, xv, xr, xg = (x + step * (mix[i] + a) for i, a in enumerate(amounts))
    heads = (B, T, H, N)
    r, k, v = (xr @ Wr).view(heads), (xk @ Wk).view(heads), (xv @ Wv).view(heads)
    g = F.silu(xg @ Wg)
    w = L.exp(-L.exp((decay + xw * 0.1).view(heads)))     # per-step decay in (0, 1)
    state = L.zeros(B, H, N, N, dtype=L.float64)
    outs = []
    for t in range(T):
        outer = k[:, t, :, :, None] * v[:, t, :, None, :]
        # the current token's outer product enters with the bonus before the state decays
        outs.append(L.einsum("bhi,bhij->bhj", r[:, t], state + bonus[..., None] * outer))
        state = w[:, t, :, :, None] * state + outer
    y = L.stack(outs, 1).reshape(B * T, C)
    y = F.group_norm(y, H, ln_w, ln_b, eps=64e-5).view(B, T, C)
    y = (y * g) @ Wo
    tmk = par(1, 1, C, uniform=True)
    xk4 = L.lerp(F.pad(y, (0, 0, 1, -1)), y, tmk)
    out = L.square(L.relu(xk4)) @ Wv
    out.pow(2).mean().backward()
    return dict(y=y, out=out, state=state, x_grad=x.grad, decay_grad=decay.grad,
                bonus_grad=bonus.grad, mix_up_grad=mix_up.grad, mix_grad=mix.grad,
                ln_grad=ln_w.grad, tmk_grad=tmk.grad, shifted=shift(x)[:, :2, :3])


# ----------------------------------------------------------------------------------------------
# a byte-level BPE tokenizer's tensor side
# ----------------------------------------------------------------------------------------------
@program
def byte_level_bpe_training_and_encoding_in_tensor_ops(L):
    """A byte-level BPE tokenizer written with tensors (minbpe's algorithm): the text's
    UTF-8 bytes as a uint8 tensor widened to int64, pair statistics by stacking neighbours
    and ``unique(dim=0, return_counts=True)`` (the most frequent pair by argmax; ties to the
    smallest pair, as unique sorts), a merge by a boolean mask of pair starts with
    overlapping starts suppressed by a scan, ``masked_fill``/``masked_select`` and
    ``cat``; encoding a new text by repeated lowest-rank merges found with ``isin`` over the
    pair codes; decoding through ``tolist`` and ``bytes``; then batches of the encodings
    padded on the left and right by pad_sequence(padding_side=...) with attention masks,
    and position ids from the mask's cumsum."""
    text = "the cat sat on the mat; the cat ate the rat at the mat"
    ids = L.tensor(list(text.encode("utf-8")), dtype=L.uint8).long()

    def stats(ids):
        pairs = L.stack([ids[:-1], ids[1:]], dim=1)
        uniq, counts = L.unique(pairs, dim=0, return_counts=True)
        return uniq, counts

    def merge(ids, pair, idx):
        starts = (ids[:-1] == pair[0]) & (ids[1:] == pair[1])
        starts = L.cat([starts, L.tensor([False])])
        # a run "aaa" merging (a, a): the second start overlaps the first and is dropped
        keep = starts.clone()
        for i in range(1, len(ids)):                  # short sequences: a plain scan
            if keep[i] and keep[i - 1]:
                keep[i] = False
        second = L.cat([L.tensor([False]), keep[:-1]])
        out = ids.masked_fill(keep, idx)
        return out.masked_select(~second)

    merges, vocab_size, work = {}, 256 + 6, ids.clone()
    picked = []
    for new_id in range(256, vocab_size):
        uniq, counts = stats(work)
        best = uniq[counts.argmax()]
        pair = tuple(best.tolist())
        merges[pair] = new_id
        picked.append((pair, int(counts.max())))
        work = merge(work, best, new_id)
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), i in merges.items():
        vocab[i] = vocab[a] + vocab[b]

    def encode(s):
        t = L.tensor(list(s.encode("utf-8")), dtype=L.int64)
        codes = L.tensor([a * 1024 + b for a, b in merges])
        ranks = L.tensor(list(merges.values()))
        while len(t) >= 2:
            pc = t[:-1] * 1024 + t[1:]
            hit = L.isin(pc, codes)
            if not bool(hit.any()):
                break
            order = codes.argsort()
            rank = L.where(hit, ranks[order][L.searchsorted(codes[order], pc).clamp(
                max=len(codes) - 1)], L.iinfo(L.int64).max)
            best = int(rank.min())
            pair = [k for k, v in merges.items() if v == best][0]
            t = merge(t, L.tensor(pair), best)
        return t

    def decode(t):
        return b"".join(vocab[i] for i in t.tolist()).decode("utf-8", errors="replace")

    encs = [encode(s) for s in ("the cat", "a rat at the mat", "hé")]
    pad = L.nn.utils.rnn.pad_sequence
    right = pad(encs, batch_first=True, padding_value=0)
    left = pad(encs, batch_first=True, padding_value=0, padding_side="left")
    lens = L.tensor([len(e) for e in encs])
    mask_right = L.arange(right.size(1))[None, :] < lens[:, None]
    mask_left = mask_right.flip(-1)
    pos = (mask_left.long().cumsum(-1) - 1).clamp(min=0)
    return dict(ids=ids[:10], work=work, picked=picked, merged_len=len(work),
                decoded=decode(work), encs=encs, round_trip=[decode(e) for e in encs],
                right=right, left=left, mask_right=mask_right, mask_left=mask_left, pos=pos,
                raw=L.frombuffer(bytearray("hé".encode()), dtype=L.uint8),
                back=bytes(L.tensor([104, 195, 169], dtype=L.uint8).tolist()).decode())


# ----------------------------------------------------------------------------------------------
# losses and evaluation
# ----------------------------------------------------------------------------------------------
@program
def label_smoothed_lm_loss_and_sliding_window_perplexity(L):
    """A language model's losses and evaluation in float64: shifted logits and labels with
    -100 at the padding, ``cross_entropy`` with label_smoothing and ignore_index under each
    reduction (and class weights), fairseq's label_smoothed_nll_loss by hand (gather of the
    target, the smoothing term over the vocabulary, pads masked by ``eq(ignore_index)``),
    which must equal the library's sum; a batch whose targets are all ignored (nan for the
    mean); token accuracy over the kept places; then Hugging Face's strided perplexity under
    ``torch.inference_mode`` (context tokens set to -100, the NLL weighted by the valid
    count) and a per-document perplexity under ``torch.no_grad`` with the model in eval
    mode; the results are inference tensors that refuse requires_grad_."""
    nn, F = L.nn, L.nn.functional
    V, eps = 11, 0.1
    L.manual_seed(2)
    model = nn.Sequential(nn.Embedding(V, 6), nn.Dropout(0.2), nn.Linear(6, V)).double()
    ids = _ids(L, 3, 9, vocab=V, seed=3)
    labels = ids.clone()
    labels[0, 6:] = -100
    labels[2, :2] = -100
    logits = model(ids)
    sl = logits[:, :-1].contiguous().view(-1, V)
    tl = labels[:, 1:].contiguous().view(-1)
    losses = {r: F.cross_entropy(sl, tl, ignore_index=-100, label_smoothing=eps, reduction=r)
              for r in ("mean", "sum", "none")}
    weighted = F.cross_entropy(sl, tl, weight=L.linspace(0.5, 1.5, V, dtype=L.float64),
                               label_smoothing=eps)
    lprobs = F.log_softmax(sl, dim=-1)
    target = tl.unsqueeze(-1)
    pad = target.eq(-100)
    nll = -lprobs.gather(dim=-1, index=target.clamp(min=0))
    smooth = -lprobs.sum(dim=-1, keepdim=True)
    nll, smooth = nll.masked_fill(pad, 0.0).sum(), smooth.masked_fill(pad, 0.0).sum()
    by_hand = (1.0 - eps) * nll + eps / V * smooth
    losses["mean"].backward()
    grads = grads_of(model)
    kept = tl != -100
    acc = (sl.argmax(-1)[kept] == tl[kept]).double().mean()
    none_kept = F.cross_entropy(sl[:2], L.full((2,), -100), label_smoothing=eps)
    model.eval()
    seq = _ids(L, 1, 20, vocab=V, seed=4)
    max_length, stride, nlls, prev_end = 7, 4, [], 0
    with L.inference_mode():
        for begin in range(0, seq.size(1), stride):
            end = min(begin + max_length, seq.size(1))
            trg_len = end - prev_end
            inp = seq[:, begin:end]
            target = inp.clone()
            target[:, :-trg_len] = -100
            out = model(inp)
            shift_logits = out[..., :-1, :].contiguous()
            shift_labels = target[..., 1:].contiguous()
            loss = F.cross_entropy(shift_logits.view(-1, V), shift_labels.view(-1))
            n_valid = (shift_labels != -100).sum().item()
            nlls.append(loss * n_valid)
            prev_end = end
            if end == seq.size(1):
                break
        ppl = L.exp(L.stack(nlls).sum() / (seq.size(1) - 1))
    with L.no_grad():
        doc = model(ids)
        per_doc = F.cross_entropy(doc[:, :-1].transpose(1, 2), labels[:, 1:],
                                  reduction="none").sum(1) / (labels[:, 1:] != -100).sum(1)
    return dict(losses=losses, weighted=weighted, by_hand=by_hand,
                agree=L.allclose(by_hand, losses["sum"]), grads=grads, acc=acc,
                none_kept=none_kept, ppl=ppl, nlls=nlls, per_doc=L.exp(per_doc),
                inference=[ppl.is_inference(), per_doc.is_inference()],
                refused=err(lambda: ppl.requires_grad_()))


# ----------------------------------------------------------------------------------------------
# a nanoGPT-sized training run, checkpointed and resumed (the facts of nanoGPT's train.py: its
# schedule, accumulation, clipping, decay groups and compiled-model checkpoint keys; our code)
# ----------------------------------------------------------------------------------------------
def _gpt(L, flash, vocab=13, block=8, n_embd=8, n_head=2, n_layer=2, dropout=0.1, seed=0):
    nn, F = L.nn, L.nn.functional
    hd = n_embd // n_head

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=False)
            self.proj = nn.Linear(n_embd, n_embd, bias=False)
            self.drop_w, self.drop_y = nn.Dropout(dropout), nn.Dropout(dropout)
            if not flash:
                self.register_buffer("allowed", L.tril(L.ones(block, block)))

        def split_heads(self, x):
            n, t, _ = x.size()
            return [z.view(n, t, n_head, hd).transpose(1, 2)
                    for z in self.qkv(x).split(n_embd, dim=2)]

        def forward(self, x):
            n, t, c = x.size()
            q, k, v = self.split_heads(x)
            if flash:
                p = dropout if self.training else 0
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=p,
                                                   is_causal=True)
            else:
                s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
                s = s.masked_fill(self.allowed[:t, :t] == 0, float("-inf"))
                y = self.drop_w(F.softmax(s, dim=-1)) @ v
            return self.drop_y(self.proj(y.transpose(1, 2).contiguous().view(n, t, c)))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.attn = nn.LayerNorm(n_embd, bias=False), Attn()
            self.n2 = nn.LayerNorm(n_embd, bias=False)
            self.ff = nn.Sequential(nn.Linear(n_embd, 4 * n_embd, bias=False), nn.GELU(),
                                    nn.Linear(4 * n_embd, n_embd, bias=False),
                                    nn.Dropout(dropout))

        def forward(self, x):
            x = x + self.attn(self.n1(x))
            return x + self.ff(self.n2(x))

    def wide_normal(mod):
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            nn.init.normal_(mod.weight, mean=0.0, std=0.2)

    def keep_top_p(logits, p):
        # drop the tokens outside the smallest prefix (by probability) holding mass p
        ranked, order = L.sort(logits, descending=True)
        probs = F.softmax(ranked, dim=-1)
        ranked[L.cumsum(probs, dim=-1) - probs > p] = -float("inf")
        return L.empty_like(logits).scatter_(1, order, ranked)

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = nn.ModuleDict({
                "tok": nn.Embedding(vocab, n_embd), "pos": nn.Embedding(block, n_embd),
                "drop": nn.Dropout(dropout),
                "layers": nn.ModuleList([Layer() for _ in range(n_layer)]),
                "norm": nn.LayerNorm(n_embd, bias=False)})
            self.head = nn.Linear(n_embd, vocab, bias=False)
            self.parts.tok.weight = self.head.weight
            self.apply(wide_normal)
            for name, p in self.named_parameters():
                if name.endswith("2.weight"):     # the feed-forward's output projections
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def forward(self, idx, targets=None):
            pos = L.arange(0, idx.size(1), dtype=L.long, device=idx.device)
            x = self.parts.drop(self.parts.tok(idx) + self.parts.pos(pos))
            for layer in self.parts.layers:
                x = layer(x)
            x = self.parts.norm(x)
            if targets is None:
                return self.head(x[:, [-1], :]), None
            logits = self.head(x)
            flat = logits.view(-1, logits.size(-1))
            return logits, F.cross_entropy(flat, targets.view(-1), ignore_index=-1)

        def optimizer(self, weight_decay, lr, betas):
            trainable = [p for p in self.parameters() if p.requires_grad]
            groups = [{"params": [p for p in trainable if p.dim() >= 2],
                       "weight_decay": weight_decay},
                      {"params": [p for p in trainable if p.dim() < 2], "weight_decay": 0.0}]
            extra = (dict(fused=False) if "fused" in inspect.signature(L.optim.AdamW).parameters
                     else {})
            return L.optim.AdamW(groups, lr=lr, betas=betas, **extra)

        @L.no_grad()
        def generate(self, idx, steps, temperature=1.0, top_k=None, top_p=None, generator=None):
            for _ in range(steps):
                logits = self(idx[:, -block:])[0][:, -1, :] / temperature
                if top_k is not None:
                    kth = L.topk(logits, min(top_k, logits.size(-1)))[0][:, [-1]]
                    logits[logits < kth] = -float("Inf")
                if top_p is not None:
                    logits = keep_top_p(logits, top_p)
                pick = L.multinomial(F.softmax(logits, dim=-1), num_samples=1,
                                     generator=generator)
                idx = L.cat((idx, pick), dim=1)
            return idx

    L.manual_seed(seed)
    return TinyLM()


@program(rtol=2e-5, atol=1e-6)       # float32 losses and norms read off by .item()
def nanogpt_training_with_accumulation_checkpoint_resume_and_sampling(L):
    """A nanoGPT-style training run end to end in float32 with dropout on: batches by
    ``randint`` over a uint16 token array read through ``from_numpy(...astype(np.int64))``,
    a warmup-cosine rate written into each param group, gradient accumulation over
    micro-steps (the loss divided by their number), clip_grad_norm_ (its total norm
    reported), AdamW(fused=False) in decay/no-decay groups by ``p.dim()``, the flash path
    (sdpa with dropout_p and is_causal) beside the manual masked path on the same seed; a
    checkpoint (model, optimizer, iteration, best validation loss, config) saved to a
    BytesIO with compiled-model ``_orig_mod.`` prefixes, loaded with map_location and the
    prefix stripped, training resumed in a fresh model and optimizer (the same losses as the
    run that went on); a loss estimate under no_grad in eval mode; generate with
    temperature, top-k and top-p under a seeded Generator."""
    data = (np.arange(200) * 7 % 13).astype(np.uint16)
    block, batch, accum = 8, 3, 2
    warmup, decay_iters, lr_max, lr_min = 2, 6, 1e-2, 1e-3

    def rate(it):
        if it < warmup:
            return lr_max * (it + 1) / (warmup + 1)
        # cosine from lr_max to lr_min over [warmup, decay_iters], then flat
        done = min(1.0, (it - warmup) / (decay_iters - warmup))
        return lr_min + (lr_max - lr_min) * 0.5 * (1.0 + math.cos(math.pi * done))

    def window(starts, shift):
        return L.stack([L.from_numpy(data[s + shift:s + shift + block].astype(np.int64))
                        for s in starts])

    def sample_batch():
        starts = L.randint(len(data) - block, (batch,))
        return window(starts, 0), window(starts, 1)

    def run(model, opt, steps, first=0):
        log = []
        for it in range(first, first + steps):
            for group in opt.param_groups:
                group["lr"] = rate(it)
            for _ in range(accum):
                _, loss = model(*sample_batch())
                (loss / accum).backward()
            norm = L.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            log.append((loss.item(), norm.item()))
        return log

    results = {}
    for flash in (True, False):
        model = _gpt(L, flash)
        opt = model.optimizer(0.1, lr_max, (0.9, 0.95))
        L.manual_seed(1337)
        results[flash] = run(model, opt, 3)
    model = _gpt(L, True)
    opt = model.optimizer(0.1, lr_max, (0.9, 0.95))
    L.manual_seed(1337)
    first = run(model, opt, 4)
    buf = io.BytesIO()
    prefix = "_orig_mod."                # what a torch.compile'd model's state_dict keys carry
    L.save({"model": {prefix + k: v for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(), "step": 4, "best_val": L.tensor(9.5),
            "config": dict(n_layer=2, dropout=0.1, dtype="float32")}, buf)
    rng = L.get_rng_state()
    cont = run(model, opt, 2, first=4)
    buf.seek(0)
    ckpt = L.load(buf, map_location="cpu")
    weights = ckpt["model"]
    for key in [k for k in weights if k.startswith(prefix)]:
        weights[key[len(prefix):]] = weights.pop(key)
    fresh = _gpt(L, True, seed=5)
    missing = fresh.load_state_dict(weights)
    fopt = fresh.optimizer(0.1, lr_max, (0.9, 0.95))
    fopt.load_state_dict(ckpt["optimizer"])
    L.set_rng_state(rng)
    resumed = run(fresh, fopt, 2, first=ckpt["step"])
    fresh.eval()
    with L.no_grad():
        L.manual_seed(0)
        est = L.zeros(3)
        for k in range(3):
            est[k] = fresh(*sample_batch())[1].item()
    g = L.Generator().manual_seed(42)
    samples = [fresh.generate(L.zeros((2, 1), dtype=L.long), 10, temperature=0.8, top_k=5,
                              generator=g),
               fresh.generate(L.tensor([[3, 4]]), 9, top_p=0.7, generator=g)]
    return dict(flash=results[True], manual=results[False], first=first, cont=cont,
                resumed=resumed, missing=repr(missing), iter_num=ckpt["step"],
                best=ckpt["best_val"], config=ckpt["config"],
                tied=fresh.head.weight is fresh.parts.tok.weight,
                groups=[len(g["params"]) for g in fopt.param_groups],
                lrs=[g["lr"] for g in fopt.param_groups], est=est.mean(),
                samples=samples, weights=fresh.head.weight)



# ----------------------------------------------------------------------------------------------
# the mistakes language-model code makes on the way, and a complex rotary buffer moved
# ----------------------------------------------------------------------------------------------
@program
def causal_masks_built_wrong_and_a_complex_rope_buffer_cast(L):
    """What a reader meets while writing attention masks: a float triu mask handed to
    masked_fill beside scores it does not broadcast with (PyTorch broadcasts before it
    looks at the mask's dtype, so the size error comes first), the same float mask of the
    right shape (the dtype error), a bool mask given to ``masked_fill_`` in place, to
    ``masked_scatter`` out of place and in place (a mask with more dimensions than the
    scores: expand's error, naming a bool tensor as CPUBoolType), a KV cache slot assigned a
    bool block of the wrong rank; then a module holding its rotary table as a complex
    buffer moved with ``.to(float64)`` (PyTorch keeps only the real part and warns, as it
    does for a complex parameter), ``.double()`` (complex buffers left alone) and to a complex
    dtype (the complex-modules warning)."""
    nn = L.nn
    T = 4
    scores = _f(L, 2, 2, T, T + 1, seed=1)
    float_mask = L.triu(L.ones(T, T), diagonal=1)
    bool_mask = L.triu(L.ones(T, T + 1, dtype=L.bool), diagonal=1)
    wide = float_mask.bool()[None].expand(3, T, T)
    ok = scores.masked_fill(bool_mask, float("-inf")).softmax(-1)
    cache = L.zeros(2, 6, T + 1, dtype=L.bool)

    def write():
        cache[:, :2] = L.ones(1, 2, 2, T + 1, dtype=L.bool)

    errors = [err(lambda: scores.masked_fill(float_mask, float("-inf"))),
              err(lambda: scores.masked_fill(float_mask[:, :1].expand(T, T + 1), 0.0)),
              err(lambda: L.masked_fill(scores, float_mask, L.tensor(0.0))),
              err(lambda: scores.clone().masked_fill_(float_mask, 0.0)),
              err(lambda: scores.masked_fill(float_mask == 1, L.ones(2))),
              err(lambda: scores.masked_scatter(float_mask, scores)),
              err(lambda: scores.masked_scatter(bool_mask.double(), scores)),
              err(lambda: scores[0, 0].clone().masked_scatter_(wide, L.zeros(60))),
              err(lambda: scores[0, 0].clone().masked_scatter_(wide.float(), L.zeros(60))),
              err(lambda: scores.masked_scatter(bool_mask, scores.double())),
              err(lambda: bool_mask.expand(T + 1)),
              err(lambda: wide.expand(T, T)),
              err(write)]
    L.manual_seed(0)

    class Rope(nn.Module):
        def __init__(self):
            super().__init__()
            freqs = L.outer(L.arange(3.0), L.tensor([1.0, 0.1])).double()
            self.register_buffer("freqs_cis", L.polar(L.ones_like(freqs), freqs),
                                 persistent=False)
            self.proj = nn.Linear(2, 2)

    rope = Rope()
    rope.double()
    kept = rope.freqs_cis.dtype
    rope.to(L.complex64)
    widened = (rope.freqs_cis.dtype, rope.proj.weight.dtype)
    rope.to(L.float64)
    return dict(ok=ok, errors=errors, kept=kept, widened=widened,
                real=(rope.freqs_cis, rope.proj.weight.dtype),
                masked=scores.masked_scatter(bool_mask, -scores)[0, 0])


# (about 2 s, most of it torch's: run with --runslow, to keep the default suite short)
_SLOW = {"nanogpt_training_with_accumulation_checkpoint_resume_and_sampling"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None



# the fixes of this round, each alone
@pytest.mark.parametrize("call", [
    lambda L: L.ones(2, 3, 4, 5).masked_fill(L.ones(4, 4), 0.0),
    lambda L: L.masked_fill(L.ones(2, 3), L.ones(3, 3, dtype=L.bool), L.tensor(1.0)),
    lambda L: L.ones(3).masked_fill(L.ones(2, dtype=L.bool), L.ones(2)),
    lambda L: L.ones(3).masked_fill(L.ones(2, dtype=L.bool), "a"),
    lambda L: L.ones(3, dtype=L.int8).masked_fill(L.ones(2, dtype=L.bool), 1000),
    lambda L: L.ones(3, dtype=L.uint16).masked_fill(L.ones(2, dtype=L.bool), 1),
    lambda L: L.ones(2, 3, 4, 5).masked_scatter(L.ones(4, 4, dtype=L.bool), L.ones(9)),
    lambda L: L.ones(4, 5).masked_scatter(L.ones(3, 5, dtype=L.bool), L.ones(9).double()),
    lambda L: L.ones(4, 5).masked_scatter(L.ones(4, 5), L.ones(20).double()),
    lambda L: L.ones(4, 5).masked_scatter_(L.ones(2, 4, 5), L.ones(40)),
    lambda L: L.ones(4, 5).masked_scatter_(L.ones(2, 1, 5, dtype=L.bool), L.ones(40)),
    lambda L: L.ones(1, 5).masked_scatter_(L.ones(4, 5, dtype=L.bool), L.ones(40)),
    lambda L: L.ones(4, 5).masked_scatter_(L.ones(3, 5), L.ones(40)),
    lambda L: L.ones(4, 5).masked_scatter_(L.ones(2, 4, 5, dtype=L.bool), L.ones(40).double()),
    lambda L: L.ones(4, 5).masked_scatter(L.ones(2, 4, 5, dtype=L.bool), L.arange(40.)),
], ids=["fill_float_mask_bad_shape", "fill_function_tensor_value", "fill_1d_value_bad_shape",
        "fill_str_value", "fill_overflow_bad_shape", "fill_uint16_bad_shape",
        "scatter_bad_shape", "scatter_bad_shape_source_dtype", "scatter_float_mask_source_dtype",
        "scatter_in_place_wider_float_mask", "scatter_in_place_wider_mask",
        "scatter_in_place_unexpandable", "scatter_in_place_bad_float_mask",
        "scatter_in_place_source_dtype_first", "scatter_out_of_place_wider_mask"])
def test_masked_fill_and_scatter_check_in_torchs_order(call):
    """Out of place, masked_fill and masked_scatter broadcast the mask with the input first
    (the mask named as tensor a), then run the in-place op's checks; masked_scatter_ checks
    the source's dtype, then expands the mask to the input's shape (expand's words), then
    the mask's dtype."""
    HARNESS.check(call)


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int16", "float16", "bfloat16", "float32",
                                   "complex64", "complex128", "uint16", "uint32"])
def test_expand_names_the_tensor_type_as_torch(dtype):
    """expand's too-few-sizes error prints a tensor with a legacy class as torch.XTensor and
    any other as CPU<scalar type>Type (CPUBoolType, CPUBFloat16Type, CPUComplexFloatType)."""
    def call(L):
        x = L.zeros(2, 3, dtype=getattr(L, dtype))
        cache = L.zeros(4, dtype=getattr(L, dtype))
        return err(lambda: x.expand(3)), err(lambda: cache.__setitem__(slice(0, 3), x))
    HARNESS.check(call)


def test_module_to_a_real_dtype_warns_for_complex_parameters_and_buffers():
    """Module.to(float64) keeps the real part of a complex parameter or buffer and gives
    PyTorch's warning about the discarded imaginary part."""
    def call(L, what):
        m = L.nn.Module()
        z = L.polar(L.ones(2), L.tensor([0.5, 1.0]))
        if what == "parameter":
            m.z = L.nn.Parameter(z)
        else:
            m.register_buffer("z", z)
        m.to(L.float64)
        return m.z

    for what in ("parameter", "buffer"):
        HARNESS.check(lambda L: call(L, what))
        minigrad = pytest.importorskip("minigrad")
        was = minigrad.is_warn_always_enabled()
        minigrad.set_warn_always(True)
        try:
            with pytest.warns(UserWarning, match="discards the imaginary part"):
                call(minigrad, what)
        finally:
            minigrad.set_warn_always(was)



@pytest.mark.parametrize("make", [
    pytest.param(lambda L: L.tensor(1.5j)),
    pytest.param(lambda L: L.tensor([1.0, 2j])),
    pytest.param(lambda L: L.as_tensor([1j])),
    pytest.param(lambda L: L.tensor([L.tensor(1.0), 1j])),
    lambda L: L.tensor(1.5j, dtype=L.complex64),
    lambda L: L.ones(2).new_tensor([1j]), lambda L: L.ones(2, dtype=L.bfloat16) * 1j,
    lambda L: L.full((2,), 1j)],
    ids=["number", "list", "as_tensor", "tensor_beside_complex", "dtype_given", "new_tensor",
         "product", "full"])
def test_complex_data_under_a_bfloat16_default_dtype(make):
    """With bfloat16 as the default dtype (set by a Llama script before building its model),
    PyTorch has no complex dtype to give a Python complex number in a tensor's data and
    refuses it; an explicit dtype, a product with a tensor and ``full`` are unaffected."""
    def call(L):
        L.set_default_dtype(L.bfloat16)        # (the harness puts the default back)
        return make(L)
    HARNESS.check(call)



@pytest.mark.parametrize("make", [
    lambda L, z, a: {"freqs_cis": z, "cache": L.view_as_real(z)},
    lambda L, z, a: [z, z.real],
    lambda L, z, a: {"w": a, "bits": a.view(L.int32)},
    lambda L, z, a: {"lo": a[:2].view(L.int32), "hi": a[2:]},
    lambda L, z, a: {"m": L.nn.Linear(2, 2), "x": a, "y": a.view(L.int32), "s": {1}},
    lambda L, z, a: {"cache": L.view_as_real(z)},
    lambda L, z, a: [z.real, z.imag],
    lambda L, z, a: {"a": a[:2], "b": a[1:]},
], ids=["view_as_real", "real_part", "bit_view", "disjoint_views", "pickled",
        "lone_view", "real_and_imag", "same_dtype_views"])
def test_save_refuses_one_storage_read_as_two_dtypes(make):
    """torch.save refuses tensors that view one storage as different dtypes (a rotary table
    beside its view_as_real cache, a weight beside its int32 bits), whether or not they
    overlap; views of one dtype, and a lone view, save."""
    def call(L):
        z = L.polar(L.ones(3, dtype=L.float64), L.arange(3.0).double())
        a = L.arange(4.0)
        buf = io.BytesIO()
        L.save(make(L, z, a), buf)
        buf.seek(0)
        back = L.load(buf, weights_only=False)
        return [v for v in (back.values() if isinstance(back, dict) else back)
                if isinstance(v, (L.Tensor,))]
    HARNESS.check(call)



@pytest.mark.parametrize("pattern, lengths", [
    ("b l (h d) -> b h l d", {}), ("b (l q) (h d) -> b h l d q", dict(l=2)),
    ("b (x y z) e -> b x y z e", dict(y=4)), ("... (h d) -> ... h d", {}),
    ("b l (h d) -> b h l d", dict(h=3)), ("b (l q) e -> l b q e", dict(q=4)),
    ("b (x y z) e -> b x y z e", dict(y=2, x=5)), ("b l (h d) -> b h l d", dict(h=2, d=3)),
    ("b l e -> e l b", dict(l=5)), ("b (l 1) e -> b l e", dict(l=4)),
    ("b l (h d) -> b h l d", dict(h=0)), ("... e -> ... e ...", {}), ("b.l e -> b l e", {}),
    ("b ... ... -> b", {}), ("b l (h d) -> b h l d", dict(h=2)),
], ids=["two_unknowns", "two_unknowns_later", "unknowns_apart", "beside_ellipsis",
        "uneven", "uneven_known_last", "uneven_three", "pack_mismatch", "single_mismatch",
        "unit_in_group", "zero_length", "two_ellipses", "stray_dot", "ellipsis_twice", "fits"])
def test_func_rearrange_binding_errors_as_torch(pattern, lengths):
    """torch.func.rearrange (Mamba's and the attention blocks' head splits) binds the axis
    lengths as first-class dimensions: what cannot be bound raises its DimensionBindError
    naming them d0, d1, ... (ellipsis axes counted), a known length of 0 divides by zero,
    and dots outside one ellipsis are refused in einops' words."""
    by_name = copy.copy(HARNESS)
    by_name.error_kind = lambda e: type(e).__name__     # (functorch.dim's class, minigrad's)
    by_name.check(lambda L: L.func.rearrange(L.ones(2, 6, 8), pattern, **lengths))
