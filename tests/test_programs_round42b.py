"""Whole programs of round 42b: model code of the kind copied from Hugging Face and similar repos.

LLaMA-style pieces (RMSNorm with an upcast, rotary embeddings by rotate-half or by complex
multiplication, SwiGLU, grouped-query attention with repeat_interleave or expand, a KV cache
grown by cat during greedy and top-p generation), BERT-style embeddings, extended attention
masks built from finfo.min, a pooler and a weight-tied MLM head, T5's bucketed relative
position bias, GPT-2's Conv1D by addmm, a ViT patch embedding with a class token, a
Whisper-style log-mel frontend from stft, a diffusers-style ResNet block with a timestep
embedding, gradient checkpointing inside a training loop, AdamW parameter groups under a
linear warmup LambdaLR, and state_dict round trips through io.BytesIO.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same seeded weights; both must give the same values, dtypes, shapes and requires_grad,
or raise the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (err, labels, load_seeded, normal64, program_harness,  # noqa: E402
                          registry)

HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, a, grad=False):
    """A float64 tensor of ``L`` holding the numpy array ``a``."""
    return L.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _grads(model):
    """{name: grad} of ``model``'s parameters that have one."""
    return {n: p.grad for n, p in model.named_parameters() if p.grad is not None}


# ----------------------------------------------------------------------------------------------
# LLaMA-style pieces
# ----------------------------------------------------------------------------------------------
def _rms_norm(L):
    """RMSNorm(d): the mean square over the last dim taken in float32 (or wider), the input
    scaled by its reciprocal root, cast back, times a learned gain."""
    nn = L.nn

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-6):
            super().__init__()
            self.weight = nn.Parameter(L.ones(d))
            self.variance_epsilon = eps

        def forward(self, x):
            kind = x.dtype
            h = x.to(L.float32) if kind in (L.float16, L.bfloat16) else x
            ms = h.pow(2).mean(-1, keepdim=True)
            h = h * L.rsqrt(ms + self.variance_epsilon)
            return self.weight * h.to(kind)

    return RMSNorm


def _rope_tables(L, dim, positions, base=10000.0, dtype=None):
    """cos, sin of shape (batch, seq, dim) in ``dtype`` (float32 by default): inverse
    frequencies base^(-2i/dim) times the position ids, the half-table repeated twice along the
    last dim."""
    kind = dtype or L.float32
    inv = 1.0 / (base ** (L.arange(0, dim, 2, dtype=L.int64).to(kind) / dim))
    ang = inv[None, :, None].expand(positions.shape[0], -1, 1) @ positions[:, None, :].to(kind)
    ang = ang.transpose(1, 2)
    emb = L.cat((ang, ang), dim=-1)
    return emb.cos(), emb.sin()


def _rotate_half(L, x):
    """The last dim's halves (a, b) -> (-b, a)."""
    half = x.shape[-1] // 2
    return L.cat((-x[..., half:], x[..., :half]), dim=-1)


def _apply_rope(L, q, k, cos, sin, head_dim=1):
    """q, k (batch, heads, seq, d) rotated: x cos + rotate_half(x) sin."""
    cos, sin = cos.unsqueeze(head_dim), sin.unsqueeze(head_dim)
    return q * cos + _rotate_half(L, q) * sin, k * cos + _rotate_half(L, k) * sin


@program
def llama_rmsnorm_half_input_upcast_and_double_gradients(L):
    """RMSNorm on a float16 input computes in float32 and casts back to float16, then the
    float32 gain promotes the product to float32; on float64 it stays float64 and its
    gradients reach the input and the gain."""
    RMSNorm = _rms_norm(L)
    norm = RMSNorm(6)
    xh = _t(L, normal64(2, 3, 6, seed=1)).half()
    out_half = norm(xh)
    norm64 = RMSNorm(6).double()
    with L.no_grad():
        norm64.weight.copy_(_t(L, 1 + 0.1 * normal64(6, seed=2)))
    x = _t(L, normal64(2, 3, 6, seed=3), grad=True)
    y = norm64(x)
    (y * _t(L, normal64(2, 3, 6, seed=4))).sum().backward()
    return out_half.dtype, out_half.float(), y, x.grad, norm64.weight.grad


@program
def llama_rotary_rotate_half_with_position_ids_and_relative_invariance(L):
    """Rotary embeddings by rotate-half from a cos/sin cache indexed by position ids: the
    rotated q.k scores depend only on the offset, so shifting every position by 5 leaves them
    unchanged; gradients flow to q and k."""
    b, h, s, d = 2, 3, 5, 8
    q = _t(L, normal64(b, h, s, d, seed=5), grad=True)
    k = _t(L, normal64(b, h, s, d, seed=6), grad=True)
    pos = L.arange(s).unsqueeze(0).expand(b, -1)
    cos, sin = _rope_tables(L, d, pos, dtype=L.float64)
    qr, kr = _apply_rope(L, q, k, cos, sin)
    scores = qr @ kr.transpose(-1, -2)
    cos5, sin5 = _rope_tables(L, d, pos + 5, dtype=L.float64)
    qs, ks = _apply_rope(L, q, k, cos5, sin5)
    shifted = qs @ ks.transpose(-1, -2)
    scores.pow(2).sum().backward()
    return cos.dtype, tuple(cos.shape), scores, L.allclose(scores, shifted, atol=1e-4), \
        q.grad, k.grad


@program
def llama_rotary_complex_polar_view_as_complex_and_view_as_real(L):
    """Meta's rotary form: freqs_cis = polar(1, t * theta) as a complex64 table, queries
    viewed as complex pairs, multiplied by the table (broadcast over batch and heads), viewed
    back as real pairs and flattened; it agrees with the rotate-half form on interleaved
    pairs and the gradient through it is taken."""
    d, s = 8, 4
    freqs = 1.0 / (10000.0 ** (L.arange(0, d, 2)[: d // 2].float() / d))
    t = L.arange(s, dtype=L.float32)
    table = L.outer(t, freqs)
    cis = L.polar(L.ones_like(table), table)
    xq = L.tensor(normal64(2, s, 3, d, seed=7).astype(np.float32), requires_grad=True)
    xc = L.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    shape = [n if i in (1, xc.ndim - 1) else 1 for i, n in enumerate(xc.shape)]
    out = L.view_as_real(xc * cis.view(*shape)).flatten(3).type_as(xq)
    (out * L.tensor(normal64(2, s, 3, d, seed=8).astype(np.float32))).sum().backward()
    even, odd = xq[..., 0::2], xq[..., 1::2]
    c, sn = table.cos()[None, :, None, :], table.sin()[None, :, None, :]
    by_hand = L.stack((even * c - odd * sn, even * sn + odd * c), dim=-1).flatten(3)
    return cis.dtype, cis, out, L.allclose(out, by_hand, atol=1e-5), xq.grad


@program
def llama_swiglu_mlp_bias_free_projections_and_sgd_step(L):
    """The gated MLP: down(silu(gate(x)) * up(x)) with bias-free Linear layers whose hidden
    size is 8/3 of the model's rounded up to a multiple; one SGD step with momentum."""
    nn, F = L.nn, L.nn.functional
    dim, multiple = 6, 4
    hidden = int(2 * (4 * dim) / 3)
    hidden = multiple * ((hidden + multiple - 1) // multiple)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate_proj = nn.Linear(dim, hidden, bias=False)
            self.up_proj = nn.Linear(dim, hidden, bias=False)
            self.down_proj = nn.Linear(hidden, dim, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    mlp = load_seeded(L, MLP().double(), seed=9)
    opt = L.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9)
    x = _t(L, normal64(3, 4, dim, seed=10))
    target = _t(L, normal64(3, 4, dim, seed=11))
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.mse_loss(mlp(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return hidden, losses, _grads(mlp), mlp.down_proj.weight


def _repeat_kv(x, n_rep):
    """(b, kv_heads, s, d) -> (b, kv_heads * n_rep, s, d), each kv head repeated n_rep times
    next to itself (by expand and reshape)."""
    b, kvh, s, d = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(b, kvh, n_rep, s, d).reshape(b, kvh * n_rep, s, d)


@program
def llama_grouped_query_attention_repeat_kv_matches_repeat_interleave(L):
    """Grouped-query attention with 4 query heads over 2 key/value heads: keys repeated by
    expand-reshape equal repeat_interleave on dim 1; causal scores masked by a triu matrix of
    -inf, softmax (also asked for in float32), and gradients to the projections."""
    nn, F = L.nn, L.nn.functional
    b, s, nh, nkv, hd = 2, 5, 4, 2, 3
    L.manual_seed(0)
    q_proj = nn.Linear(nh * hd, nh * hd, bias=False).double()
    kv_proj = nn.Linear(nh * hd, 2 * nkv * hd, bias=False).double()
    load_seeded(L, q_proj, seed=12)
    load_seeded(L, kv_proj, seed=13)
    x = _t(L, normal64(b, s, nh * hd, seed=14))
    q = q_proj(x).view(b, s, nh, hd).transpose(1, 2)
    k, v = kv_proj(x).view(b, s, 2, nkv, hd).unbind(2)
    k, v = k.transpose(1, 2), v.transpose(1, 2)
    k_rep, v_rep = _repeat_kv(k, nh // nkv), _repeat_kv(v, nh // nkv)
    same = L.equal(k_rep, k.repeat_interleave(nh // nkv, dim=1))
    mask = L.full((s, s), float("-inf")).triu(1)
    w = q @ k_rep.transpose(2, 3) / math.sqrt(hd) + mask
    w32 = F.softmax(w, dim=-1, dtype=L.float32)
    w = F.softmax(w, dim=-1)
    out = (w @ v_rep).transpose(1, 2).contiguous().view(b, s, -1)
    sdpa = F.scaled_dot_product_attention(q, k_rep, v_rep, is_causal=True)
    out.pow(2).mean().backward()
    return same, w32, out, L.allclose(out, sdpa.transpose(1, 2).reshape(b, s, -1),
                                          atol=1e-5), q_proj.weight.grad, kv_proj.weight.grad


def _tiny_llama(L, vocab=13, dim=8, nh=2, nkv=1, layers=2):
    """A tiny decoder of LLaMA blocks (RMSNorm, rotary, GQA, SwiGLU) with a KV cache: forward
    (ids, cache, start) -> logits, new cache (a list of (k, v) per layer, grown by cat)."""
    nn, F = L.nn, L.nn.functional
    RMSNorm = _rms_norm(L)
    hd = dim // nh

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn_norm, self.mlp_norm = RMSNorm(dim), RMSNorm(dim)
            self.wq = nn.Linear(dim, nh * hd, bias=False)
            self.wk = nn.Linear(dim, nkv * hd, bias=False)
            self.wv = nn.Linear(dim, nkv * hd, bias=False)
            self.wo = nn.Linear(nh * hd, dim, bias=False)
            self.w1 = nn.Linear(dim, 12, bias=False)
            self.w3 = nn.Linear(dim, 12, bias=False)
            self.w2 = nn.Linear(12, dim, bias=False)

        def forward(self, x, cos, sin, past):
            b, s, _ = x.shape
            h = self.attn_norm(x)
            q = self.wq(h).view(b, s, nh, hd).transpose(1, 2)
            k = self.wk(h).view(b, s, nkv, hd).transpose(1, 2)
            v = self.wv(h).view(b, s, nkv, hd).transpose(1, 2)
            q, k = _apply_rope(L, q, k, cos, sin)
            if past is not None:
                k, v = L.cat([past[0], k], dim=2), L.cat([past[1], v], dim=2)
            present = (k, v)
            kk, vv = _repeat_kv(k, nh // nkv), _repeat_kv(v, nh // nkv)
            t = kk.shape[2]
            scores = q @ kk.transpose(2, 3) / math.sqrt(hd)
            if s > 1:
                causal = L.ones(s, t, dtype=L.bool).tril(t - s)
                scores = scores.masked_fill(~causal, float("-inf"))
            att = (scores.softmax(-1) @ vv).transpose(1, 2).reshape(b, s, -1)
            x = x + self.wo(att)
            h = self.mlp_norm(x)
            return x + self.w2(F.silu(self.w1(h)) * self.w3(h)), present

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.norm = RMSNorm(dim)
            self.head = nn.Linear(dim, vocab, bias=False)

        def forward(self, ids, cache=None, start=0):
            b, s = ids.shape
            pos = L.arange(start, start + s).unsqueeze(0).expand(b, -1)
            cos, sin = _rope_tables(L, hd, pos, dtype=L.float64)
            x = self.embed(ids)
            new = []
            for i, blk in enumerate(self.blocks):
                x, kv = blk(x, cos, sin, None if cache is None else cache[i])
                new.append(kv)
            return self.head(self.norm(x)), new

    return load_seeded(L, Model().double(), seed=15, scale=0.5)


@program
def llama_kv_cache_greedy_decoding_matches_full_recompute(L):
    """Greedy decoding with a KV cache (prefill, then one token a step, keys and values grown
    by cat) gives the same tokens and last logits as recomputing the whole sequence each
    step; the cache's shapes grow by one per step."""
    model = _tiny_llama(L)
    model.eval()
    ids = L.tensor(labels(6, 13, seed=16).reshape(2, 3))
    with L.no_grad():
        logits, cache = model(ids)
        seq, shapes = ids, []
        for _ in range(4):
            nxt = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            start = seq.shape[1]
            seq = L.cat([seq, nxt], dim=1)
            logits, cache = model(nxt, cache, start)
            shapes.append(tuple(cache[0][0].shape))
        full, _ = model(seq)
    return seq, shapes, logits[:, -1], L.allclose(full[:, -1], logits[:, -1], atol=1e-5)


def _top_p_filter(L, logits, top_p, min_keep=1):
    """Logits outside the smallest set of top tokens whose probability reaches ``top_p`` set
    to -inf: sorted ascending, cumulative softmax, tokens at or under 1 - top_p removed (the
    last ``min_keep`` always kept), the removal scattered back to vocabulary order."""
    sorted_logits, order = L.sort(logits, descending=False)
    cum = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    drop = cum <= (1 - top_p)
    drop[..., -min_keep:] = False
    drop = drop.scatter(1, order, drop)
    return logits.masked_fill(drop, -float("inf"))


@program
def llama_top_p_temperature_sampling_with_kv_cache_and_seeded_generator(L):
    """Nucleus sampling with temperature from the cached decoder: logits divided by 0.7, the
    top-p filter (p = 0.8), softmax, multinomial draws from a seeded Generator; the filtered
    logits' -inf counts and the drawn tokens agree."""
    model = _tiny_llama(L)
    model.eval()
    gen = L.Generator().manual_seed(1234)
    ids = L.tensor(labels(4, 13, seed=17).reshape(2, 2))
    kept = []
    with L.no_grad():
        logits, cache = model(ids)
        seq = ids
        for _ in range(5):
            last = logits[:, -1, :] / 0.7
            filt = _top_p_filter(L, last, 0.8)
            kept.append(L.isfinite(filt).sum(dim=-1))
            probs = filt.softmax(dim=-1)
            nxt = L.multinomial(probs, num_samples=1, generator=gen)
            start = seq.shape[1]
            seq = L.cat([seq, nxt], dim=1)
            logits, cache = model(nxt, cache, start)
    return seq, L.stack(kept), probs


@program
def llama_training_step_shifted_labels_ignore_index_and_clip(L):
    """A causal-LM loss as the trainers compute it: logits[:, :-1] against labels[:, 1:],
    padding labelled -100 and ignored; AdamW steps with the
    gradient norm clipped to 1."""
    model = _tiny_llama(L)
    opt = L.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    ids = L.tensor(labels(12, 13, seed=18).reshape(2, 6))
    lab = ids.clone()
    lab[1, 4:] = -100
    losses, norms = [], []
    for _ in range(3):
        opt.zero_grad()
        logits, _ = model(ids)
        shift_logits = logits[:, :-1, :].contiguous()
        shift_labels = lab[:, 1:].contiguous()
        loss = L.nn.functional.cross_entropy(shift_logits.view(-1, 13), shift_labels.view(-1),
                                             ignore_index=-100)
        loss.backward()
        norms.append(L.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
        losses.append(loss.item())
    return losses, L.stack(norms), model.head.weight



# ----------------------------------------------------------------------------------------------
# BERT-style encoder pieces
# ----------------------------------------------------------------------------------------------
def _bert(L, vocab=17, dim=8, heads=2, types=2, max_pos=12, layers=1):
    """A tiny BERT: word + position + token-type embeddings, LayerNorm, post-norm encoder
    layers whose attention takes an additive extended mask, a tanh pooler over the first
    token and an MLM head (dense, gelu, LayerNorm, decoder tied to the word embeddings, with
    its own bias)."""
    nn, F = L.nn, L.nn.functional

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(vocab, dim, padding_idx=0)
            self.position = nn.Embedding(max_pos, dim)
            self.token_type = nn.Embedding(types, dim)
            self.norm = nn.LayerNorm(dim, eps=1e-12)
            self.drop = nn.Dropout(0.1)
            self.register_buffer("position_ids", L.arange(max_pos).expand((1, -1)),
                                 persistent=False)
            self.register_buffer("token_type_ids", L.zeros(1, max_pos, dtype=L.long),
                                 persistent=False)

        def forward(self, ids, token_type_ids=None):
            s = ids.size(1)
            pos = self.position_ids[:, :s]
            if token_type_ids is None:
                token_type_ids = self.token_type_ids[:, :s].expand(ids.size(0), s)
            x = self.word(ids) + self.token_type(token_type_ids) + self.position(pos)
            return self.drop(self.norm(x))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(dim, dim) for _ in range(3))
            self.out, self.norm1 = nn.Linear(dim, dim), nn.LayerNorm(dim, eps=1e-12)
            self.up, self.down = nn.Linear(dim, 2 * dim), nn.Linear(2 * dim, dim)
            self.norm2 = nn.LayerNorm(dim, eps=1e-12)

        def split(self, t):
            b, s, _ = t.size()
            return t.view(b, s, heads, dim // heads).permute(0, 2, 1, 3)

        def forward(self, x, ext_mask):
            q, k, v = self.split(self.query(x)), self.split(self.key(x)), self.split(self.value(x))
            scores = L.matmul(q, k.transpose(-1, -2)) / math.sqrt(dim // heads) + ext_mask
            ctx = L.matmul(nn.functional.softmax(scores, dim=-1), v)
            ctx = ctx.permute(0, 2, 1, 3).contiguous()
            ctx = ctx.view(ctx.size()[:-2] + (dim,))
            x = self.norm1(x + self.out(ctx))
            return self.norm2(x + self.down(F.gelu(self.up(x))))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.layers = nn.ModuleList(Layer() for _ in range(layers))
            self.pooler = nn.Linear(dim, dim)
            self.transform = nn.Linear(dim, dim)
            self.transform_norm = nn.LayerNorm(dim, eps=1e-12)
            self.decoder = nn.Linear(dim, vocab, bias=False)
            self.bias = nn.Parameter(L.zeros(vocab))
            self.decoder.weight = self.embeddings.word.weight

        def extended(self, mask, dtype):
            ext = mask[:, None, None, :].to(dtype=dtype)
            return (1.0 - ext) * L.finfo(dtype).min

        def forward(self, ids, mask, token_type_ids=None):
            x = self.embeddings(ids, token_type_ids)
            ext = self.extended(mask, x.dtype)
            for layer in self.layers:
                x = layer(x, ext)
            pooled = L.tanh(self.pooler(x[:, 0]))
            h = self.transform_norm(F.gelu(self.transform(x)))
            return self.decoder(h) + self.bias, pooled

    return Bert


def _bert_batch(L):
    ids = L.tensor([[2, 5, 7, 9, 3, 0, 0], [2, 4, 11, 6, 8, 12, 3]])
    mask = (ids != 0).long()
    types = L.tensor([[0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1]])
    return ids, mask, types


@program
def bert_extended_mask_from_finfo_min_and_padding_invariance(L):
    """The extended mask (1 - mask) * finfo(float64).min added to the scores: the outputs
    at real tokens do not change when the padded positions hold other token ids; the mask's
    dtype, shape and values are compared."""
    Bert = _bert(L)
    L.manual_seed(0)
    model = load_seeded(L, Bert().double(), seed=20, scale=0.4)
    model.eval()
    ids, mask, types = _bert_batch(L)
    ext = model.extended(mask, L.float64)
    logits, pooled = model(ids, mask, types)
    other = ids.masked_fill(mask == 0, 9)
    logits2, _ = model(other, mask, types)
    real = mask.bool()
    same = L.allclose(logits[real], logits2[real], atol=1e-9)
    return ext.dtype, tuple(ext.shape), ext, logits[real], pooled, same


@program
def bert_mlm_head_tied_decoder_masked_labels_and_adamw_steps(L):
    """Masked-LM training: 15%-style masking chosen by numpy, unmasked labels set to -100,
    cross entropy over the vocabulary; the decoder's weight is the word embedding (one
    parameter, gradient from both uses); AdamW steps (eval mode, so dropout is off)."""
    Bert = _bert(L)
    L.manual_seed(0)
    model = load_seeded(L, Bert().double(), seed=21, scale=0.4)
    ids, mask, types = _bert_batch(L)
    chosen = L.tensor(np.array([[0, 1, 0, 1, 0, 0, 0], [0, 0, 1, 0, 0, 1, 0]], dtype=bool))
    labels_ = ids.masked_fill(~chosen, -100)
    inputs = ids.masked_fill(chosen, 1)
    opt = L.optim.AdamW(model.parameters(), lr=5e-3)
    losses = []
    model.eval()
    for _ in range(3):
        opt.zero_grad()
        logits, _ = model(inputs, mask, types)
        loss = L.nn.functional.cross_entropy(logits.view(-1, 17), labels_.view(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    names = [n for n, _ in model.named_parameters()]
    tied = model.decoder.weight is model.embeddings.word.weight
    return losses, "decoder.weight" in names, tied, \
        model.embeddings.word.weight, model.bias, model.embeddings.token_type.weight.grad


@program
def bert_default_token_types_buffer_expand_and_non_persistent_buffers(L):
    """Without token-type ids the zero buffer is sliced and expanded; the position-id and
    token-type buffers are not in the state dict (persistent=False) but are in named_buffers;
    the pooled output's gradient reaches the position embeddings only at used rows."""
    Bert = _bert(L)
    L.manual_seed(0)
    model = load_seeded(L, Bert().double(), seed=22, scale=0.4)
    model.eval()
    ids, mask, _ = _bert_batch(L)
    _, pooled = model(ids, mask)
    pooled.sum().backward()
    grad = model.embeddings.position.weight.grad
    return sorted(k for k in model.state_dict() if "embeddings" in k), \
        sorted(n for n, _ in model.named_buffers()), pooled, grad, \
        grad[ids.size(1):].abs().sum().item()


# ----------------------------------------------------------------------------------------------
# T5 relative position bias
# ----------------------------------------------------------------------------------------------
def _t5_bucket(L, rel, bidirectional=True, num_buckets=32, max_distance=128):
    """Bucket of each relative position: exact buckets for small offsets, logarithmic ones up
    to ``max_distance`` (clamped to the last bucket); in the bidirectional case the upper half
    of the buckets is for positive offsets."""
    out = 0
    if bidirectional:
        num_buckets //= 2
        out += (rel > 0).to(L.long) * num_buckets
        rel = L.abs(rel)
    else:
        rel = -L.min(rel, L.zeros_like(rel))
    exact = num_buckets // 2
    small = rel < exact
    large = exact + (L.log(rel.float() / exact) / math.log(max_distance / exact)
                     * (num_buckets - exact)).to(L.long)
    large = L.min(large, L.full_like(large, num_buckets - 1))
    return out + L.where(small, rel, large)


@program
def t5_relative_buckets_bidirectional_and_causal_with_log_and_clamp(L):
    """The bucket tables of a 6-query by 40-key grid (memory positions offset by the queries'
    start) in both modes, small bucket counts so that the logarithmic range and the clamp at
    the last bucket are exercised."""
    q = L.arange(20, 26, dtype=L.long)[:, None]
    k = L.arange(40, dtype=L.long)[None, :]
    rel = k - q
    return _t5_bucket(L, rel, True, 16, 24), _t5_bucket(L, rel, False, 8, 20), \
        _t5_bucket(L, rel).dtype


@program
def t5_attention_with_learned_bias_shared_across_layers_no_scaling_and_rms_norm(L):
    """T5 attention: no 1/sqrt(d) scaling, a bias Embedding(num_buckets, heads) looked up by
    bucket, permuted to (1, heads, q, k) and added with the padding mask; the first layer's
    position bias is reused by the second; T5's layer norm has no mean and no bias."""
    nn, F = L.nn, L.nn.functional
    dim, heads, nb = 8, 2, 8
    RMSNorm = _rms_norm(L)
    L.manual_seed(0)
    bias_emb = nn.Embedding(nb, heads).double()
    layers = nn.ModuleList(nn.ModuleDict({"qkv": nn.Linear(dim, 3 * dim, bias=False),
                                          "o": nn.Linear(dim, dim, bias=False),
                                          "ln": RMSNorm(dim)}) for _ in range(2)).double()
    load_seeded(L, bias_emb, seed=23)
    load_seeded(L, layers, seed=24)
    x = _t(L, normal64(2, 5, dim, seed=25), grad=True)
    mask = L.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
    s = x.shape[1]
    ctx = L.arange(s)[:, None]
    mem = L.arange(s)[None, :]
    bucket = _t5_bucket(L, mem - ctx, True, nb, 10)
    position_bias = bias_emb(bucket).permute([2, 0, 1]).unsqueeze(0)
    position_bias = position_bias + (1 - mask[:, None, None, :].double()) * L.finfo(L.float64).min
    h = x
    for layer in layers:
        n = layer["ln"](h)
        q, k, v = layer["qkv"](n).view(2, s, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(3, 2) + position_bias
        w = F.softmax(scores, dim=-1)
        h = h + layer["o"]((w @ v).transpose(1, 2).reshape(2, s, dim))
    h.sum().backward()
    return bucket, h, x.grad, bias_emb.weight.grad


# ----------------------------------------------------------------------------------------------
# GPT-2 Conv1D, ViT patch embedding
# ----------------------------------------------------------------------------------------------
def _conv1d(L):
    """GPT-2's Conv1D(nf, nx): a Linear with its weight stored (nx, nf), applied by addmm."""
    nn = L.nn

    class Conv1D(nn.Module):
        def __init__(self, nf, nx):
            super().__init__()
            self.nf = nf
            self.weight = nn.Parameter(L.empty(nx, nf))
            self.bias = nn.Parameter(L.zeros(nf))
            nn.init.normal_(self.weight, std=0.02)

        def forward(self, x):
            shape = x.size()[:-1] + (self.nf,)
            return L.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(shape)

    return Conv1D


@program
def gpt2_conv1d_addmm_c_attn_split_causal_bias_buffer_and_where_min(L):
    """GPT-2 attention: c_attn = Conv1D(3d, d) split into q, k, v along dim 2, heads split,
    causal mask from a registered tril buffer sliced to the length, the scores kept where the
    mask holds and replaced by finfo.min (as a tensor of the scores' dtype) elsewhere;
    Conv1D equals a Linear with the transposed weight; gradients flow."""
    nn = L.nn
    Conv1D = _conv1d(L)
    d, heads, n = 8, 2, 6
    L.manual_seed(0)
    c_attn, c_proj = Conv1D(3 * d, d).double(), Conv1D(d, d).double()
    load_seeded(L, c_attn, seed=26)
    load_seeded(L, c_proj, seed=27)
    bias = L.tril(L.ones((n, n), dtype=L.bool)).view(1, 1, n, n)
    x = _t(L, normal64(2, 4, d, seed=28), grad=True)
    q, k, v = c_attn(x).split(d, dim=2)

    def heads_of(t):
        return t.view(t.size()[:-1] + (heads, d // heads)).permute(0, 2, 1, 3)

    q, k, v = heads_of(q), heads_of(k), heads_of(v)
    w = L.matmul(q, k.transpose(-1, -2)) / (v.size(-1) ** 0.5)
    s = q.size(-2)
    causal = bias[:, :, :s, :s]
    floor = L.full([], L.finfo(w.dtype).min, dtype=w.dtype, device=w.device)
    w = L.where(causal, w.to(w.dtype), floor)
    w = nn.functional.softmax(w, dim=-1)
    a = L.matmul(w, v).permute(0, 2, 1, 3).contiguous()
    out = c_proj(a.view(a.size()[:-2] + (d,)))
    lin = nn.Linear(d, 3 * d).double()
    with L.no_grad():
        lin.weight.copy_(c_attn.weight.t())
        lin.bias.copy_(c_attn.bias)
    out.pow(2).sum().backward()
    return out, L.allclose(lin(x), c_attn(x)), x.grad, c_attn.weight.grad, c_proj.bias.grad


@program
def vit_patch_embed_stride_equal_kernel_cls_token_and_position_embedding(L):
    """ViT's embedding: Conv2d with stride = kernel = patch cuts the image into patches,
    flatten(2).transpose(1, 2) gives (batch, patches, dim), a learned class token expanded
    over the batch is prepended and position embeddings added; the conv equals unfolding the
    patches and a matmul; the class token's output after a LayerNorm and a head is trained
    one Adam step."""
    nn, F = L.nn, L.nn.functional
    dim, p = 6, 4
    L.manual_seed(0)
    proj = nn.Conv2d(3, dim, kernel_size=p, stride=p).double()
    cls = nn.Parameter(L.zeros(1, 1, dim, dtype=L.float64))
    pos = nn.Parameter(L.zeros(1, 1 + 4, dim, dtype=L.float64))
    norm, head = nn.LayerNorm(dim).double(), nn.Linear(dim, 3).double()
    for i, m in enumerate((proj, norm, head)):
        load_seeded(L, m, seed=30 + i)
    with L.no_grad():
        pos.copy_(_t(L, 0.02 * normal64(1, 5, dim, seed=34)))
        cls.copy_(_t(L, 0.02 * normal64(1, 1, dim, seed=35)))
    img = _t(L, normal64(2, 3, 8, 8, seed=36))
    tokens = proj(img).flatten(2).transpose(1, 2)
    by_unfold = (F.unfold(img, p, stride=p).transpose(1, 2) @ proj.weight.view(dim, -1).t()
                 + proj.bias)
    x = L.cat((cls.expand(img.shape[0], -1, -1), tokens), dim=1) + pos
    params = [cls, pos] + list(proj.parameters()) + list(norm.parameters()) + \
        list(head.parameters())
    opt = L.optim.Adam(params, lr=1e-2)
    loss = F.cross_entropy(head(norm(x)[:, 0]), L.tensor([0, 2]))
    loss.backward()
    opt.step()
    return tuple(tokens.shape), L.allclose(tokens, by_unfold), loss, cls.grad, pos.grad, \
        proj.weight



# ----------------------------------------------------------------------------------------------
# Whisper-style audio frontend
# ----------------------------------------------------------------------------------------------
def _mel_bank(n_mels, n_fft, sr):
    """A (n_mels, n_fft // 2 + 1) bank of triangular filters evenly spaced on the HTK mel
    scale (m = 2595 log10(1 + f / 700)), built in numpy."""
    to_mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)          # noqa: E731
    to_hz = lambda m: 700.0 * (10.0 ** (m / 2595.0) - 1.0)          # noqa: E731
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sr / 2), n_mels + 2))
    bins = np.linspace(0, sr / 2, n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (bins[None] - lo) / (mid - lo)
    fall = (hi - bins[None]) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall))


@program
def whisper_log_mel_from_stft_hann_window_mel_matmul_and_dynamic_range_clamp(L):
    """Whisper's log-mel spectrogram: stft with a periodic Hann window and centred reflect
    padding, the last frame dropped, power = |stft|^2, mel filters @ power, clamp at 1e-10,
    log10, values below (max - 8) raised to it, (x + 4) / 4; float64 audio, gradients of a
    loss on the log-mel reach the audio."""
    n_fft, hop, n_mels = 16, 4, 5
    audio = _t(L, normal64(2, 64, seed=40) * 0.3, grad=True)
    window = L.hann_window(n_fft, dtype=L.float64)
    spec = L.stft(audio, n_fft, hop, window=window, return_complex=True)
    power = spec[..., :-1].abs() ** 2
    filters = _t(L, _mel_bank(n_mels, n_fft, 16000))
    mel = filters @ power
    log_spec = L.clamp(mel, min=1e-10).log10()
    log_spec = L.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    log_spec.pow(2).mean().backward()
    return window, spec.dtype, tuple(spec.shape), log_spec, audio.grad


@program
def whisper_conv_stem_gelu_stride_two_and_sinusoid_positions(L):
    """The audio encoder's stem: two Conv1d(k=3, padding=1) with GELU, the second of stride
    2, permuted to (batch, frames, dim) and sinusoidal positions added (the timescales from
    exp(-log(10000) / (channels/2 - 1) * arange), sin and cos concatenated)."""
    nn, F = L.nn, L.nn.functional
    n_mels, dim = 5, 6
    L.manual_seed(0)
    conv1 = nn.Conv1d(n_mels, dim, kernel_size=3, padding=1).double()
    conv2 = nn.Conv1d(dim, dim, kernel_size=3, stride=2, padding=1).double()
    load_seeded(L, conv1, seed=41)
    load_seeded(L, conv2, seed=42)

    def sinusoids(length, channels, max_timescale=10000):
        inc = math.log(max_timescale) / (channels // 2 - 1)
        inv = L.exp(-inc * L.arange(channels // 2, dtype=L.float64))
        scaled = L.arange(length, dtype=L.float64)[:, None] * inv[None, :]
        return L.cat([L.sin(scaled), L.cos(scaled)], dim=1)

    mel = _t(L, normal64(2, n_mels, 10, seed=43), grad=True)
    x = F.gelu(conv1(mel))
    x = F.gelu(conv2(x)).permute(0, 2, 1)
    x = x + sinusoids(x.shape[1], dim)
    x.sum().backward()
    return x, mel.grad, conv2.weight.grad


# ----------------------------------------------------------------------------------------------
# diffusers-style UNet pieces
# ----------------------------------------------------------------------------------------------
def _timestep_embedding(L, t, dim, flip_sin_to_cos=False, shift=1, scale=1.0, max_period=1e4):
    """Sinusoidal embedding (len(t), dim) of timesteps: exponents -log(max_period) * i /
    (half - shift), sin then cos (or cos then sin when flipped), zero-padded if dim is odd."""
    half = dim // 2
    expo = -math.log(max_period) * L.arange(0, half, dtype=L.float64) / (half - shift)
    emb = t[:, None].double() * L.exp(expo)[None, :] * scale
    emb = L.cat([L.sin(emb), L.cos(emb)], dim=-1)
    if flip_sin_to_cos:
        emb = L.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = L.nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


def _resnet_block(L):
    """ResnetBlock2D(cin, cout, temb): GroupNorm(eps 1e-6), SiLU, 3x3 conv; the projected
    time embedding added per channel; GroupNorm, SiLU, dropout, 3x3 conv; a 1x1 shortcut when
    the channels change; (shortcut + h) / output_scale_factor."""
    nn, F = L.nn, L.nn.functional

    class ResnetBlock2D(nn.Module):
        def __init__(self, cin, cout, temb, groups=2, scale=1.0):
            super().__init__()
            self.norm1 = nn.GroupNorm(groups, cin, eps=1e-6, affine=True)
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=1, padding=1)
            self.time_emb_proj = nn.Linear(temb, cout)
            self.norm2 = nn.GroupNorm(groups, cout, eps=1e-6, affine=True)
            self.dropout = nn.Dropout(0.0)
            self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1)
            self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None
            self.output_scale_factor = scale

        def forward(self, x, temb):
            h = self.conv1(F.silu(self.norm1(x)))
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
            h = self.conv2(self.dropout(F.silu(self.norm2(h))))
            if self.conv_shortcut is not None:
                x = self.conv_shortcut(x)
            return (x + h) / self.output_scale_factor

    return ResnetBlock2D


@program
def diffusers_resnet_block_timestep_mlp_shortcut_and_output_scale(L):
    """Timesteps embedded (flip_sin_to_cos, shift 0), through Linear-SiLU-Linear, conditioning
    a ResNet block with a 1x1 shortcut (4 -> 6 channels) and output scale 2; an MSE loss
    against a noise target, gradients to the input and the time MLP."""
    nn, F = L.nn, L.nn.functional
    Block = _resnet_block(L)
    L.manual_seed(0)
    time_mlp = nn.Sequential(nn.Linear(8, 10), nn.SiLU(), nn.Linear(10, 10)).double()
    block = Block(4, 6, 10, scale=2.0).double()
    load_seeded(L, time_mlp, seed=44)
    load_seeded(L, block, seed=45)
    t = L.tensor([3, 250])
    temb = time_mlp(_timestep_embedding(L, t, 8, flip_sin_to_cos=True, shift=0))
    x = _t(L, normal64(2, 4, 5, 5, seed=46), grad=True)
    out = block(x, temb)
    loss = F.mse_loss(out, _t(L, normal64(2, 6, 5, 5, seed=47)))
    loss.backward()
    return _timestep_embedding(L, t, 7), out, loss, x.grad, time_mlp[0].weight.grad, \
        block.norm1.weight.grad


@program
def diffusers_down_up_sample_nearest_interpolate_and_skip_concat(L):
    """A two-level UNet: ResNet block, Downsample by a stride-2 conv, ResNet block, Upsample by
    nearest interpolation (scale 2) then a 3x3 conv, the skip concatenated on channels;
    trained two AdamW steps on a DDPM-style noise-prediction loss at fixed timesteps."""
    nn, F = L.nn, L.nn.functional
    Block = _resnet_block(L)
    L.manual_seed(0)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.time = nn.Linear(6, 8)
            self.inp = nn.Conv2d(2, 4, 3, padding=1)
            self.b1 = Block(4, 4, 8)
            self.down = nn.Conv2d(4, 4, 3, stride=2, padding=1)
            self.b2 = Block(4, 4, 8)
            self.up = nn.Conv2d(4, 4, 3, padding=1)
            self.b3 = Block(8, 4, 8)
            self.out = nn.Conv2d(4, 2, 3, padding=1)

        def forward(self, x, t):
            temb = self.time(_timestep_embedding(L, t, 6))
            h1 = self.b1(self.inp(x), temb)
            h2 = self.b2(self.down(h1), temb)
            u = self.up(F.interpolate(h2, scale_factor=2.0, mode="nearest"))
            return self.out(self.b3(L.cat([u, h1], dim=1), temb))

    net = load_seeded(L, UNet().double(), seed=48, scale=0.2)
    opt = L.optim.AdamW(net.parameters(), lr=1e-3)
    betas = L.linspace(1e-4, 0.02, 100, dtype=L.float64)
    abar = L.cumprod(1.0 - betas, dim=0)
    x0 = _t(L, normal64(2, 2, 6, 6, seed=49))
    noise = _t(L, normal64(2, 2, 6, 6, seed=50))
    t = L.tensor([10, 70])
    a = abar[t].view(-1, 1, 1, 1)
    xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(net(xt, t), noise)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, net.b3.conv_shortcut.weight, net.up.weight.grad


# ----------------------------------------------------------------------------------------------
# training utilities: checkpointing, parameter groups, warmup schedule, state dicts
# ----------------------------------------------------------------------------------------------
def _mlp_stack(L, seed):
    nn = L.nn
    L.manual_seed(0)

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 12),
                                                      nn.GELU(), nn.Linear(12, 6))
                                        for _ in range(3))
            self.head = nn.Linear(6, 3)
            self.gradient_checkpointing = False

        def forward(self, x):
            for blk in self.blocks:
                if self.gradient_checkpointing and self.training:
                    x = x + L.utils.checkpoint.checkpoint(blk, x, use_reentrant=False)
                else:
                    x = x + blk(x)
            return self.head(x)

    return load_seeded(L, Stack().double(), seed=seed)


@program
def gradient_checkpointing_non_reentrant_training_matches_plain_loop(L):
    """Blocks run through torch.utils.checkpoint (use_reentrant=False) in train mode: the
    losses, gradients and parameters after three AdamW steps equal the plain model's; in
    eval mode checkpointing is skipped."""
    F = L.nn.functional
    x = _t(L, normal64(5, 6, seed=51))
    y = L.tensor(labels(5, 3, seed=52))
    results = []
    for ckpt in (True, False):
        model = _mlp_stack(L, seed=53)
        model.gradient_checkpointing = ckpt
        opt = L.optim.AdamW(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        results.append((losses, _grads(model), model.blocks[0][1].weight))
    same = all(L.equal(a, b) for a, b in zip(results[0][1].values(), results[1][1].values()))
    return results[0], same


@program
def gradient_checkpointing_reentrant_needs_an_input_requiring_grad(L):
    """The reentrant variant: with a leaf input requiring grad the gradients match the plain
    computation; with an input that does not require grad torch warns (the UserWarning is
    compared) and the output does not require grad, so backward raises."""
    F = L.nn.functional
    L.manual_seed(0)
    blk = load_seeded(L, L.nn.Sequential(L.nn.Linear(4, 4), L.nn.Tanh()).double(), seed=54)
    x = _t(L, normal64(3, 4, seed=55), grad=True)
    out = L.utils.checkpoint.checkpoint(blk, x, use_reentrant=True)
    F.mse_loss(out, L.zeros_like(out)).backward()
    g_ckpt, gx = blk[0].weight.grad.clone(), x.grad.clone()
    blk.zero_grad()
    xp = x.detach().requires_grad_()
    F.mse_loss(blk(xp), L.zeros(3, 4, dtype=L.float64)).backward()
    g_plain = blk[0].weight.grad
    blk.zero_grad()
    cold = L.utils.checkpoint.checkpoint(blk, x.detach(), use_reentrant=True)
    return g_ckpt, gx, L.allclose(g_ckpt, g_plain), L.allclose(gx, xp.grad), \
        cold.requires_grad, err(lambda: cold.sum().backward())


def _linear_warmup(warmup, total):
    def factor(step):
        if step < warmup:
            return float(step) / float(max(1, warmup))
        return max(0.0, float(total - step) / float(max(1, total - warmup)))
    return factor


@program
def adamw_no_decay_groups_for_bias_and_norm_with_linear_warmup_lambdalr(L):
    """The trainers' optimizer: parameters whose names hold 'bias' or a LayerNorm's
    'weight' go in a group with weight_decay 0, the rest decay 0.1; a LambdaLR with linear
    warmup over 3 steps then linear decay to 0 at 8; the lr each step, the losses, the groups'
    sizes and the final parameters."""
    F = L.nn.functional
    model = _mlp_stack(L, seed=56)
    no_decay = ["bias", "LayerNorm.weight", "0.weight"]
    groups = [
        {"params": [p for n, p in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": 0.1},
        {"params": [p for n, p in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    opt = L.optim.AdamW(groups, lr=5e-2, eps=1e-8)
    sched = L.optim.lr_scheduler.LambdaLR(opt, _linear_warmup(3, 8))
    x = _t(L, normal64(4, 6, seed=57))
    y = L.tensor(labels(4, 3, seed=58))
    lrs, losses = [], []
    for _ in range(8):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        opt.zero_grad()
        lrs.append(sched.get_last_lr()[0])
        losses.append(loss.item())
    return [len(g["params"]) for g in opt.param_groups], lrs, losses, \
        model.blocks[0][0].weight, model.head.weight, sched.state_dict()["last_epoch"]


@program
def state_dict_bytesio_round_trip_model_optimizer_and_scheduler_resume(L):
    """Checkpointing in memory: model, optimizer and scheduler state dicts saved together to
    an io.BytesIO, loaded (weights_only) into fresh objects after two steps; two more steps
    from the resumed objects equal four uninterrupted steps."""
    F = L.nn.functional
    x = _t(L, normal64(4, 6, seed=59))
    y = L.tensor(labels(4, 3, seed=60))

    def make():
        model = _mlp_stack(L, seed=61)
        opt = L.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.05)
        sched = L.optim.lr_scheduler.LambdaLR(opt, _linear_warmup(2, 6))
        return model, opt, sched

    def step(model, opt, sched):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    ref = make()
    ref_losses = [step(*ref) for _ in range(4)]
    run = make()
    losses = [step(*run) for _ in range(2)]
    buf = io.BytesIO()
    L.save({"model": run[0].state_dict(), "optimizer": run[1].state_dict(),
            "scheduler": run[2].state_dict(), "step": 2}, buf)
    buf.seek(0)
    ckpt = L.load(buf, weights_only=True)
    fresh = make()
    missing = fresh[0].load_state_dict(ckpt["model"])
    fresh[1].load_state_dict(ckpt["optimizer"])
    fresh[2].load_state_dict(ckpt["scheduler"])
    losses += [step(*fresh) for _ in range(2)]
    return ref_losses, losses, sorted(ckpt), ckpt["step"], tuple(missing), \
        fresh[0].head.weight, ref[0].head.weight, fresh[2].get_last_lr()


@program
def state_dict_strict_load_errors_shapes_and_non_strict_report(L):
    """Loading a state dict with a renamed key and a wrong shape: strict loading raises a
    RuntimeError naming the missing and unexpected keys; a shape mismatch raises even
    non-strict; with the bad entry dropped, strict=False reports the keys instead."""
    nn = L.nn
    L.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["2.kernel"] = sd.pop("2.weight")
    buf = io.BytesIO()
    L.save(sd, buf)
    buf.seek(0)
    loaded = L.load(buf)
    strict = err(lambda: model.load_state_dict(loaded))
    wrong = dict(loaded, **{"0.bias": L.zeros(5, dtype=L.float64)})
    shape = err(lambda: model.load_state_dict(wrong, strict=False))
    report = model.load_state_dict(loaded, strict=False)
    return strict, shape, report.missing_keys, report.unexpected_keys



# ----------------------------------------------------------------------------------------------
# more of the same repos' habits
# ----------------------------------------------------------------------------------------------
@program
def hf_init_weights_apply_normal_std_zero_bias_and_padding_row(L):
    """_init_weights by model.apply: Linear weights normal(0, 0.02) and zero biases,
    Embedding weights normal(0, 0.02) with the padding row zeroed, LayerNorm weight 1 and
    bias 0, all under one manual seed (the draws follow module order)."""
    nn = L.nn
    L.manual_seed(7)
    model = nn.ModuleDict({"emb": nn.Embedding(9, 4, padding_idx=1), "ln": nn.LayerNorm(4),
                           "fc": nn.Linear(4, 3)}).double()

    def init(module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    L.manual_seed(11)
    model.apply(init)
    return dict(model.state_dict())


@program
def hf_repetition_penalty_top_k_warpers_and_greedy_vs_sampled(L):
    """Logits processors: a repetition penalty gathers the scores of tokens already produced
    and divides positive ones (multiplies negative ones) by 1.3, scattered back; top-k keeps
    the 4 best (the rest -inf by the k-th value); greedy picks argmax and sampling draws from
    the softmax with a seeded generator."""
    scores = _t(L, normal64(3, 10, seed=62) * 2)
    seen = L.tensor(labels(12, 10, seed=63).reshape(3, 4))
    picked = L.gather(scores, 1, seen)
    picked = L.where(picked < 0, picked * 1.3, picked / 1.3)
    penalised = scores.scatter(1, seen, picked)
    kth = L.topk(penalised, 4)[0][..., -1, None]
    warped = penalised.masked_fill(penalised < kth, -float("inf"))
    gen = L.Generator().manual_seed(99)
    sampled = L.multinomial(L.softmax(warped, dim=-1), 3, replacement=True, generator=gen)
    return penalised, warped, L.argmax(warped, dim=-1), sampled


@program
def hf_resize_token_embeddings_copy_old_rows_mean_init_and_retie(L):
    """Growing the vocabulary: a new Embedding with the old rows copied and the new rows set
    to the old rows' mean, assigned to the model and the output layer's weight re-tied to it
    (one parameter); the output layer's bias padded with zeros; a forward and backward."""
    nn = L.nn
    L.manual_seed(0)
    emb = load_seeded(L, nn.Embedding(6, 4).double(), seed=64)
    head = load_seeded(L, nn.Linear(4, 6).double(), seed=65)
    head.weight = emb.weight
    new = nn.Embedding(9, 4).double()
    with L.no_grad():
        new.weight[:6] = emb.weight
        new.weight[6:] = emb.weight.mean(dim=0, keepdim=True)
    head.weight = new.weight
    head.bias = nn.Parameter(L.nn.functional.pad(head.bias.data, (0, 3), value=0.0))
    head.out_features = 9
    ids = L.tensor([[0, 7, 8, 2]])
    logits = head(new(ids))
    logits.logsumexp(-1).sum().backward()
    return head.weight is new.weight, logits, new.weight.grad, head.bias.grad


@program
def hf_causal_plus_padding_mask_for_left_padded_batch_and_sdpa_bool_mask(L):
    """Left-padded batched generation: position ids from cumsum(mask) - 1 (padding filled with
    1), a 4-d boolean mask combining causality and padding, the same attention by sdpa with
    the bool mask and by hand with a finfo.min additive mask (rows of padding queries left
    as they fall)."""
    F = L.nn.functional
    mask = L.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    pos = mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)
    s = mask.shape[1]
    causal = L.tril(L.ones(s, s, dtype=L.bool))
    full = causal[None, None] & mask[:, None, None, :].bool()
    q = _t(L, normal64(2, 2, s, 3, seed=66), grad=True)
    k = _t(L, normal64(2, 2, s, 3, seed=67))
    v = _t(L, normal64(2, 2, s, 3, seed=68))
    keep = mask.bool()[:, None, :, None]
    by_sdpa = F.scaled_dot_product_attention(q, k, v, attn_mask=full)
    add = (~full).double() * L.finfo(L.float64).min
    by_hand = (q @ k.transpose(-1, -2) / math.sqrt(3) + add).softmax(-1) @ v
    (by_sdpa * keep).sum().backward()
    return pos, full, L.allclose(by_sdpa * keep, by_hand * keep), by_sdpa * keep, q.grad


@program
def whisper_pad_or_trim_and_batched_log_mel_of_two_lengths(L):
    """pad_or_trim: a clip longer than 48 samples cut with index_select, a shorter one
    right-padded with F.pad; both stacked and turned into a float32 log-mel batch (stft
    with a Hann window, |.|^2, mel matmul, log10 of the clamp)."""
    F = L.nn.functional
    n = 48

    def pad_or_trim(a, length=n, axis=-1):
        if a.shape[axis] > length:
            a = a.index_select(dim=axis, index=L.arange(length, device=a.device))
        if a.shape[axis] < length:
            widths = [0, length - a.shape[axis]]
            a = F.pad(a, widths)
        return a

    long_clip = L.tensor(normal64(60, seed=69).astype(np.float32))
    short_clip = L.tensor(normal64(30, seed=70).astype(np.float32))
    batch = L.stack([pad_or_trim(long_clip), pad_or_trim(short_clip)])
    spec = L.stft(batch, 16, 8, window=L.hann_window(16), return_complex=True)
    power = spec[..., :-1].abs() ** 2
    mel = L.tensor(_mel_bank(4, 16, 8000).astype(np.float32)) @ power
    return batch, spec.dtype, L.clamp(mel, min=1e-10).log10()


@program
def tied_weights_survive_state_dict_bytesio_and_load_into_fresh_model(L):
    """A tied BERT saved by state dict to bytes: both names of the shared weight are in the
    state dict; loading into a fresh model keeps the tie (the decoder's weight is still the
    embedding's), and the outputs equal the original's."""
    Bert = _bert(L)
    L.manual_seed(0)
    model = load_seeded(L, Bert().double(), seed=71, scale=0.4)
    model.eval()
    buf = io.BytesIO()
    L.save(model.state_dict(), buf)
    size = buf.tell() > 0
    buf.seek(0)
    L.manual_seed(1)
    fresh = Bert().double()
    fresh.load_state_dict(L.load(buf, weights_only=True))
    fresh.eval()
    ids, mask, types = _bert_batch(L)
    a, _ = model(ids, mask, types)
    b, _ = fresh(ids, mask, types)
    keys = sorted(k for k in model.state_dict() if k.endswith("word.weight") or "decoder" in k)
    return size, keys, fresh.decoder.weight is fresh.embeddings.word.weight, L.equal(a, b), b



@program
def checkpoint_with_dropout_replays_the_same_mask_on_recomputation(L):
    """Checkpointed blocks that hold Dropout in train mode: the recomputation in backward
    restores the RNG state (preserve_rng_state), so the gradients equal those of the plain
    run from the same seed, for both the reentrant and non-reentrant variants."""
    nn = L.nn
    L.manual_seed(0)
    blk = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.5), nn.GELU(),
                                       nn.Linear(8, 5)).double(), seed=72)
    x0 = normal64(4, 5, seed=73)
    out = {}
    for mode in ("plain", "reentrant", "non_reentrant"):
        blk.zero_grad()
        x = _t(L, x0, grad=True)
        L.manual_seed(5)
        if mode == "plain":
            y = blk(x)
        else:
            y = L.utils.checkpoint.checkpoint(blk, x, use_reentrant=mode == "reentrant")
        y.pow(2).sum().backward()
        out[mode] = (y, x.grad, blk[0].weight.grad)
    return out


@program(rtol=1e-4, atol=1e-5)          # (float32, as the checkpoints run)
def float32_llama_block_forward_backward_with_causal_sdpa(L):
    """A float32 LLaMA-style block (RMSNorm, rotary from float32 tables, GQA by
    repeat_interleave, causal sdpa, SwiGLU): the output and the gradients of a mean-square
    loss to the input and the projections."""
    nn, F = L.nn, L.nn.functional
    RMSNorm = _rms_norm(L)
    dim, nh, nkv, s = 8, 4, 2, 6
    hd = dim // nh
    L.manual_seed(0)
    norm = RMSNorm(dim)
    wq, wkv = nn.Linear(dim, dim, bias=False), nn.Linear(dim, 2 * nkv * hd, bias=False)
    wo = nn.Linear(dim, dim, bias=False)
    mlp = nn.ModuleList([nn.Linear(dim, 12, bias=False), nn.Linear(dim, 12, bias=False),
                         nn.Linear(12, dim, bias=False)])
    for i, m in enumerate((wq, wkv, wo, mlp)):
        load_seeded(L, m, seed=80 + i, scale=0.4)
    x = L.tensor(normal64(2, s, dim, seed=84).astype(np.float32), requires_grad=True)
    h = norm(x)
    q = wq(h).view(2, s, nh, hd).transpose(1, 2)
    k, v = wkv(h).view(2, s, 2, nkv, hd).permute(2, 0, 3, 1, 4)
    cos, sin = _rope_tables(L, hd, L.arange(s)[None].expand(2, -1))
    q, k = _apply_rope(L, q, k, cos, sin)
    k, v = k.repeat_interleave(nh // nkv, dim=1), v.repeat_interleave(nh // nkv, dim=1)
    att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    x2 = x + wo(att.transpose(1, 2).reshape(2, s, dim))
    g = norm(x2)
    y = x2 + mlp[2](F.silu(mlp[0](g)) * mlp[1](g))
    y.pow(2).mean().backward()
    return y, x.grad, wq.weight.grad, wkv.weight.grad, mlp[0].weight.grad, norm.weight.grad


@program
def t5_decoder_bias_for_cached_queries_sliced_to_the_last_rows(L):
    """T5's decoder with a cache: the causal (unidirectional) bias is computed for the full
    key length and only the last query rows are kept ([:, :, -q_len:, :]); it equals the
    bias computed directly for query positions offset by the cache length."""
    nn = L.nn
    L.manual_seed(0)
    emb = load_seeded(L, nn.Embedding(8, 2).double(), seed=85)

    def bias(q_len, k_len, offset=0):
        ctx = L.arange(offset, offset + q_len)[:, None]
        mem = L.arange(k_len)[None, :]
        return emb(_t5_bucket(L, mem - ctx, False, 8, 12)).permute(2, 0, 1).unsqueeze(0)

    full = bias(7, 7)
    sliced = full[:, :, -2:, :]
    direct = bias(2, 7, offset=5)
    direct.sum().backward()
    return tuple(full.shape), sliced, L.equal(sliced, direct), emb.weight.grad


@program
def layerwise_lr_groups_state_dict_param_groups_and_warmup_lists(L):
    """Per-group learning rates (embedding 1e-3, body 1e-2, head 5e-2) with a shared LambdaLR:
    get_last_lr gives one rate per group scaled alike; the optimizer's state_dict lists the
    groups' hyperparameters and integer parameter ids; the state holds step, exp_avg and
    exp_avg_sq per parameter."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    emb = load_seeded(L, nn.Embedding(7, 4).double(), seed=86)
    body = load_seeded(L, nn.Linear(4, 4).double(), seed=87)
    head = load_seeded(L, nn.Linear(4, 7).double(), seed=88)
    opt = L.optim.AdamW([{"params": emb.parameters(), "lr": 1e-3},
                         {"params": body.parameters()},
                         {"params": head.parameters(), "lr": 5e-2, "weight_decay": 0.0}],
                        lr=1e-2)
    sched = L.optim.lr_scheduler.LambdaLR(opt, _linear_warmup(2, 5))
    ids = L.tensor(labels(6, 7, seed=89))
    lrs = []
    for _ in range(3):
        loss = F.cross_entropy(head(L.tanh(body(emb(ids)))), ids.roll(1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
        lrs.append(sched.get_last_lr())
    sd = opt.state_dict()
    groups = [{k: v for k, v in g.items() if k in ("lr", "initial_lr", "weight_decay",
                                                   "params", "betas", "eps")}
              for g in sd["param_groups"]]
    st = sd["state"][4]
    return lrs, groups, sorted(st), st["step"], st["exp_avg"], head.weight



@program
def meta_device_init_empty_weights_to_empty_and_assign_load(L):
    """Loading big checkpoints without a first allocation: the model is built under the meta
    device (no data), moved by to_empty to the CPU and filled by load_state_dict(assign=True),
    which puts the checkpoint's tensors in as the parameters (kept as Parameters requiring
    grad); a forward and backward through the loaded model."""
    nn = L.nn
    with L.device("meta"):
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    kind = model[0].weight.device.type
    model.to_empty(device="cpu")
    sd = {"0.weight": _t(L, normal64(4, 3, seed=90)), "0.bias": _t(L, normal64(4, seed=91)),
          "2.weight": _t(L, normal64(2, 4, seed=92)), "2.bias": _t(L, normal64(2, seed=93))}
    model.load_state_dict(sd, assign=True)
    x = _t(L, normal64(5, 3, seed=94))
    model(x).pow(2).sum().backward()
    return kind, model[0].weight.device.type, type(model[0].weight).__name__, \
        model[0].weight.requires_grad, model[2].weight.grad, model[0].bias.grad


@program(rtol=1e-5, atol=1e-6)          # (float32, as BLOOM computes its scores)
def bloom_alibi_slopes_by_pow_cumsum_positions_and_baddbmm_scores(L):
    """ALiBi as BLOOM builds it: slopes base^(1..n) with base = 2^(-2^-(log2 n - 3)), key
    positions from cumsum(mask) - 1 zeroed at padding, alibi = slopes x positions added to
    the scores by baddbmm(alibi, q, k, beta=1, alpha=1/sqrt(d)), padding masked by finfo.min,
    softmax in float32."""
    n_heads, s, d = 4, 5, 3
    base = L.tensor(2 ** (-(2 ** -(math.log2(n_heads) - 3))), dtype=L.float32)
    slopes = L.pow(base, L.arange(1, 1 + n_heads, dtype=L.int32))
    mask = L.tensor([[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]])
    positions = ((mask.cumsum(dim=-1) - 1) * mask)[:, None, :]
    alibi = (slopes[..., None] * positions).reshape(2 * n_heads, 1, s)
    q = L.tensor(normal64(2 * n_heads, s, d, seed=95).astype(np.float32), requires_grad=True)
    k = L.tensor(normal64(2 * n_heads, d, s, seed=96).astype(np.float32))
    scores = L.baddbmm(alibi, q, k, beta=1.0, alpha=1 / math.sqrt(d)).view(2, n_heads, s, s)
    causal = L.ones(s, s, dtype=L.bool).triu(1)
    blocked = causal[None, None] | (mask == 0)[:, None, None, :]
    scores = scores.masked_fill(blocked, L.finfo(scores.dtype).min)
    probs = L.nn.functional.softmax(scores, dim=-1, dtype=L.float32)
    probs.pow(2).sum().backward()
    return slopes.dtype, slopes, alibi, probs, q.grad


@program
def hf_eos_stopping_with_isin_unfinished_flags_and_pad_fill(L):
    """The generation loop's bookkeeping: finished rows emit the pad token (next * unfinished
    + pad * (1 - unfinished)), a row finishes when its token is in the EOS set (isin), and the
    loop stops when every row is done; greedy tokens from a fixed logits table."""
    table = _t(L, normal64(6, 3, 7, seed=97))
    eos = L.tensor([2, 5])
    pad = 0
    seq = L.tensor([[1], [3], [4]])
    unfinished = L.ones(3, dtype=L.long)
    flags = []
    for step in range(6):
        nxt = table[step].argmax(-1)
        nxt = nxt * unfinished + pad * (1 - unfinished)
        seq = L.cat([seq, nxt[:, None]], dim=-1)
        unfinished = unfinished & ~L.isin(nxt, eos)
        flags.append(unfinished.clone())
        if unfinished.max() == 0:
            break
    return seq, L.stack(flags), step


@program
def checkpoint_sequential_segments_match_the_plain_stack(L):
    """checkpoint_sequential over a 6-layer Sequential in 3 segments (non-reentrant): the
    output and the gradients to the input and every layer equal the plain run's."""
    nn = L.nn
    L.manual_seed(0)
    layers = []
    for _ in range(3):
        layers += [nn.Linear(4, 4), nn.SiLU()]
    seq = load_seeded(L, nn.Sequential(*layers).double(), seed=98)
    x = _t(L, normal64(3, 4, seed=99), grad=True)
    y = L.utils.checkpoint.checkpoint_sequential(seq, 3, x, use_reentrant=False)
    y.sum().backward()
    ck = (x.grad.clone(), {n: g.clone() for n, g in _grads(seq).items()})
    seq.zero_grad()
    x2 = x.detach().requires_grad_()
    seq(x2).sum().backward()
    same = L.equal(ck[0], x2.grad) and all(L.equal(ck[1][n], g) for n, g in _grads(seq).items())
    return y, ck, same


@program
def whisper_stft_istft_round_trip_and_normalized_uncentred_frames(L):
    """stft and istft with the same Hann window and hop give the signal back (length given);
    an uncentred, normalized stft's magnitudes; gradients of both to the audio."""
    a = _t(L, normal64(2, 40, seed=100), grad=True)
    w = L.hann_window(8, dtype=L.float64)
    spec = L.stft(a, 8, 2, window=w, return_complex=True)
    back = L.istft(spec, 8, 2, window=w, length=40)
    mags = L.stft(a, 8, 2, window=w, center=False, normalized=True, return_complex=True).abs()
    (back.pow(2).sum() + mags.sum()).backward()
    return L.allclose(back, a), back, mags, a.grad


@program
def weights_only_load_refuses_a_pickled_class_until_allowlisted(L):
    """torch.load(weights_only=True) of a checkpoint holding a class object fails with an
    UnpicklingError whose WeightsUnpickler line names the global; inside the safe_globals
    context manager the same bytes load, and so they do with weights_only=False."""
    buf = io.BytesIO()
    L.save({"w": L.ones(2), "cls": io.BytesIO}, buf)
    buf.seek(0)
    refused = err(lambda: L.load(buf, weights_only=True))
    line = [t for t in str(refused.exc).split("\n") if "WeightsUnpickler" in t][0]
    buf.seek(0)
    with L.serialization.safe_globals([io.BytesIO]):
        allowed = L.load(buf, weights_only=True)
    buf.seek(0)
    loaded = L.load(buf, weights_only=False)
    return type(refused.exc).__name__, line.strip(), allowed["cls"] is io.BytesIO, \
        loaded["w"], loaded["cls"] is io.BytesIO


@program
def frozen_embeddings_enable_input_require_grads_hook_with_reentrant_checkpoint(L):
    """Fine-tuning adapters with gradient checkpointing: the embeddings are frozen, so a
    forward hook makes their output require grad (enable_input_require_grads), which the
    reentrant checkpoint needs for the trainable layer after it to get gradients; without
    the hook that layer gets none and torch warns."""
    nn = L.nn
    L.manual_seed(0)
    emb = load_seeded(L, nn.Embedding(5, 3).double(), seed=101)
    lin = load_seeded(L, nn.Linear(3, 3).double(), seed=102)
    emb.requires_grad_(False)
    ids = L.tensor([[1, 2, 3], [4, 0, 1]])
    cold = L.utils.checkpoint.checkpoint(lin, emb(ids), use_reentrant=True)
    handle = emb.register_forward_hook(lambda mod, inp, out: out.requires_grad_(True))
    x = emb(ids)
    y = L.utils.checkpoint.checkpoint(lin, x, use_reentrant=True)
    y.tanh().sum().backward()
    handle.remove()
    return cold.requires_grad, x.requires_grad, emb.weight.grad, lin.weight.grad, lin.bias.grad


@program
def lora_by_parametrization_frozen_original_and_merged_weight(L):
    """A LoRA adapter written as a parametrization of a Linear's weight: W + (alpha / r) B A
    with B starting at zero; the original weight frozen, two Adam steps train A and B only;
    the parametrized weight equals the merged one and the state dict holds the
    parametrization's names."""
    nn, F = L.nn, L.nn.functional
    r, alpha = 2, 4.0

    class LoRA(nn.Module):
        def __init__(self, fan_out, fan_in):
            super().__init__()
            self.lora_A = nn.Parameter(_t(L, normal64(r, fan_in, seed=103) * 0.1))
            self.lora_B = nn.Parameter(L.zeros(fan_out, r, dtype=L.float64))

        def forward(self, w):
            return w + (alpha / r) * (self.lora_B @ self.lora_A)

    L.manual_seed(0)
    lin = load_seeded(L, nn.Linear(3, 4).double(), seed=104)
    L.nn.utils.parametrize.register_parametrization(lin, "weight", LoRA(4, 3))
    lin.parametrizations.weight.original.requires_grad_(False)
    lin.bias.requires_grad_(False)
    opt = L.optim.Adam([p for p in lin.parameters() if p.requires_grad], lr=0.05)
    x = _t(L, normal64(6, 3, seed=105))
    target = _t(L, normal64(6, 4, seed=106))
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(lin(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    lora = lin.parametrizations.weight[0]
    merged = lin.parametrizations.weight.original + (alpha / r) * lora.lora_B @ lora.lora_A
    return losses, sorted(lin.state_dict()), L.allclose(lin.weight, merged), lora.lora_B, \
        lin.parametrizations.weight.original.grad


@program
def half_precision_masks_where_with_float32_min_scalar_and_masked_fill_overflow(L):
    """Masks in float16 the way copied code gets them wrong and right: where() with
    finfo(float32).min as a Python scalar keeps float16 (the value overflowing to -inf),
    masked_fill with it raises for the value not fitting float16, and finfo(float16).min
    as a tensor gives finite scores whose softmax agrees with a float32 softmax."""
    scores = L.tensor(normal64(2, 4, seed=107).astype(np.float16))
    keep = L.tensor([[True, False, True, True], [False, True, True, False]])
    a = L.where(keep, scores, L.finfo(L.float32).min)
    floor = L.tensor(L.finfo(L.float16).min, dtype=L.float16)
    b = L.where(keep, scores, floor)
    overflow = err(lambda: scores.masked_fill(~keep, L.finfo(L.float32).min))
    return a, b, overflow, b.float().softmax(-1)


@program
def forward_hooks_with_kwargs_override_and_read_keyword_arguments(L):
    """Adapters injected by hooks that see keyword arguments: a pre-hook (with_kwargs=True)
    replaces the attention-scale keyword and a forward hook reads it to add a term; removing
    the handles restores the plain call."""
    nn = L.nn

    class Scaled(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = Scaled()
    h1 = m.register_forward_pre_hook(
        lambda mod, args, kwargs: (args, dict(kwargs, scale=kwargs.get("scale", 1.0) * 3)),
        with_kwargs=True)
    h2 = m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["scale"],
                                 with_kwargs=True)
    x = _t(L, normal64(3, seed=108), grad=True)
    hooked = m(x, scale=2.0)
    hooked.sum().backward()
    h1.remove()
    h2.remove()
    return hooked, x.grad, m(x, scale=2.0)


@program
def embedding_max_norm_renormalises_looked_up_rows_in_place(L):
    """Embedding(max_norm=1): rows looked up with a norm above 1 are rescaled in the weight
    itself (only those rows), the output holds the rescaled rows and gradients flow to the
    weight."""
    e = L.nn.Embedding(5, 3, max_norm=1.0).double()
    with L.no_grad():
        e.weight.copy_(_t(L, normal64(5, 3, seed=109) * 2))
    out = e(L.tensor([0, 2, 2, 4]))
    (out * _t(L, normal64(4, 3, seed=110))).sum().backward()
    return out, e.weight, e.weight.norm(dim=1), e.weight.grad



@program
def static_kv_cache_index_copy_at_cache_positions_matches_the_cat_cache(L):
    """A static cache: key/value buffers of the full length written in place by index_copy_
    at the cache positions (arange(past, past + new)), attention over the filled prefix only
    by a mask from arange(max_len) <= cache_position; the outputs equal those of a cache
    grown by cat."""
    F = L.nn.functional
    b, h, d, max_len = 1, 2, 3, 6
    k_buf = L.zeros(b, h, max_len, d, dtype=L.float64)
    v_buf = L.zeros(b, h, max_len, d, dtype=L.float64)
    k_cat = v_cat = None
    outs_static, outs_cat, past = [], [], 0
    for step, n in enumerate((3, 1, 1)):
        q = _t(L, normal64(b, h, n, d, seed=111 + 3 * step))
        k = _t(L, normal64(b, h, n, d, seed=112 + 3 * step))
        v = _t(L, normal64(b, h, n, d, seed=113 + 3 * step))
        cache_position = L.arange(past, past + n)
        k_buf.index_copy_(2, cache_position, k)
        v_buf.index_copy_(2, cache_position, v)
        allowed = L.arange(max_len)[None, :] <= cache_position[:, None]
        outs_static.append(F.scaled_dot_product_attention(q, k_buf, v_buf, attn_mask=allowed))
        k_cat = k if k_cat is None else L.cat([k_cat, k], dim=2)
        v_cat = v if v_cat is None else L.cat([v_cat, v], dim=2)
        causal = L.arange(past + n)[None, :] <= cache_position[:, None]
        outs_cat.append(F.scaled_dot_product_attention(q, k_cat, v_cat, attn_mask=causal))
        past += n
    same = all(L.allclose(a, c) for a, c in zip(outs_static, outs_cat))
    return k_buf, outs_static, same


@program
def wav2vec2_positional_conv_weight_norm_dim_two_groups_and_trim(L):
    """Wav2Vec2's convolutional positional embedding: a grouped Conv1d (even kernel, padding
    k // 2) under weight_norm over dim 2, the extra last frame trimmed, GELU, added to the
    features (batch, time, channels); the magnitude (original0) and direction (original1)
    both get gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(0)
    conv = load_seeded(L, nn.Conv1d(4, 4, kernel_size=4, padding=2, groups=2).double(),
                       seed=120)
    conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
    feats = _t(L, normal64(2, 7, 4, seed=121), grad=True)
    h = conv(feats.transpose(1, 2))
    h = F.gelu(h[:, :, :-1]).transpose(1, 2)
    out = F.layer_norm(feats + h, (4,))
    out.pow(2).sum().backward()
    pw = conv.parametrizations.weight
    return tuple(pw.original0.shape), sorted(conv.state_dict()), out, feats.grad, \
        pw.original0.grad, pw.original1.grad


@program
def swin_relative_position_index_shifted_windows_and_attention_mask(L):
    """Swin's window attention pieces: the relative position index from a meshgrid
    (indexing='ij') of window coordinates, shifted and scaled then summed; the feature map
    rolled by -shift, cut into windows by view/permute; the region mask painted by slices,
    windowed, and turned into a -100 / 0 attention mask; attention with the bias table
    looked up by the index, gradients to the table and input."""
    nn = L.nn
    ws, shift, H, W, C = 2, 1, 4, 4, 3
    coords = L.stack(L.meshgrid([L.arange(ws), L.arange(ws)], indexing="ij"))
    flat = L.flatten(coords, 1)
    rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    index = rel.sum(-1)
    table = nn.Parameter(_t(L, normal64((2 * ws - 1) ** 2, 1, seed=122) * 0.1))

    def windows(t):
        b = t.shape[0]
        t = t.view(b, H // ws, ws, W // ws, ws, -1).permute(0, 1, 3, 2, 4, 5).contiguous()
        return t.view(-1, ws * ws, t.shape[-1])

    region = L.zeros((1, H, W, 1))
    n = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            region[:, hs, wsl, :] = n
            n += 1
    mw = windows(region).squeeze(-1)
    attn_mask = (mw.unsqueeze(1) - mw.unsqueeze(2))
    attn_mask = attn_mask.masked_fill(attn_mask != 0, -100.0).masked_fill(attn_mask == 0, 0.0)
    x = _t(L, normal64(1, H, W, C, seed=123), grad=True)
    xw = windows(L.roll(x, shifts=(-shift, -shift), dims=(1, 2)))
    bias = table[index.view(-1)].view(ws * ws, ws * ws)
    scores = xw @ xw.transpose(-1, -2) / math.sqrt(C) + bias + attn_mask.double()
    out = scores.softmax(-1) @ xw
    out.pow(2).sum().backward()
    return index, attn_mask, out, x.grad, table.grad


@program
def clip_symmetric_contrastive_loss_with_learned_clamped_logit_scale(L):
    """CLIP's loss: image and text features L2-normalised (F.normalize and by hand), logits
    = exp(logit_scale) (clamped at 100) times text @ image.T, cross entropy against arange
    labels in both directions averaged; a few SGD steps move the features and the scale."""
    F = L.nn.functional
    img = L.nn.Parameter(_t(L, normal64(4, 5, seed=124)))
    txt = L.nn.Parameter(_t(L, normal64(4, 5, seed=125)))
    scale = L.nn.Parameter(L.tensor(math.log(1 / 0.07), dtype=L.float64))
    opt = L.optim.SGD([img, txt, scale], lr=0.5)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        i = F.normalize(img, dim=-1)
        t = txt / txt.norm(p=2, dim=-1, keepdim=True)
        logits_per_text = scale.exp().clamp(max=100) * t @ i.t()
        target = L.arange(4)
        loss = (F.cross_entropy(logits_per_text, target) +
                F.cross_entropy(logits_per_text.t(), target)) / 2
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, scale, img.grad, txt



@program
def lambdalr_per_group_lambdas_callable_state_and_step_order_warning(L):
    """LambdaLR with one lambda per group: a callable object's attributes are saved in the
    state dict (a plain lambda's slot is None); stepping the scheduler before the optimizer
    warns (the UserWarning is compared) and get_lr called directly warns too."""
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    p, q = L.nn.Parameter(L.ones(2)), L.nn.Parameter(L.ones(2))
    opt = L.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.5}], lr=0.1)
    sched = L.optim.lr_scheduler.LambdaLR(opt, [Warmup(3), lambda e: 0.9 ** e])
    sched.step()
    opt.step()
    rates = []
    for _ in range(3):
        opt.step()
        sched.step()
        rates.append(sched.get_last_lr())
    return rates, sched.state_dict()["lr_lambdas"], sched.get_lr()


@program
def stft_short_window_constant_padding_and_missing_return_complex_error(L):
    """stft details the audio frontends lean on: a window shorter than n_fft (win_length 6 of
    8) is centred with zeros, pad_mode='constant' pads the signal with zeros; leaving out
    return_complex for a real input raises a RuntimeError saying it must be given."""
    a = _t(L, normal64(30, seed=126), grad=True)
    win = L.hann_window(6, dtype=L.float64)
    spec = L.stft(a, 8, 2, win_length=6, window=win, pad_mode="constant", return_complex=True)
    spec.abs().sum().backward()
    return err(lambda: L.stft(a.detach(), 8)), spec, a.grad


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("torch_on_one_thread")     # (torch's pool waits ~20x longer here)
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
