"""Transformer programs on the pattern of Hugging Face ``transformers`` model files and the
LLaMA/Mistral reference code, written anew at tiny sizes: a GPT-2 model (Conv1D, fused qkv,
a boolean causal buffer with ``where`` and a finfo.min tensor, tanh GELU, a key/value cache
grown with ``cat``, tied head, shifted loss), a BERT masked LM (three embeddings, persistent=
False position ids, pooler, weight init through ``apply``), T5 relative position buckets and
the float32 RMS norm, LLaMA blocks with both rotary forms (complex ``polar`` and rotate_half),
grouped-query SDPA and a slice-assigned cache, generation filters, and the training utilities
(AdamW groups by name, linear warmup, clipping, accumulation, label smoothing, checkpoint).

Each ``program(lib)`` runs once with ``lib`` = torch and once with ``lib`` = minigrad from the
same numpy weights and inputs; the two must give the same values, dtypes and shapes.
"""
import importlib
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, dotted, grads_of as _grads, load_seeded as _load, params_of as _params,
    registry)


HARNESS = SideBySide(rename=dotted, tol={"float16": (1e-4, 1e-5), "float32": (2e-4, 2e-5),
                                         "float64": 1e-8},
                     tag=lambda v: type(v) is list)
_check = HARNESS.check
PROGRAMS, program = registry()


def _ints(low, high, shape, seed):
    return np.random.RandomState(seed).randint(low, high, shape)


def _checkpoint_fn(lib):
    return importlib.import_module(lib.__name__ + ".utils.checkpoint").checkpoint


# ----------------------------------------------------------------------------------------------
# 1. GPT-2
# ----------------------------------------------------------------------------------------------
def _gpt2(lib, vocab=29, n_pos=9, n_embd=8, n_head=2, n_layer=2):
    nn, F = lib.nn, lib.nn.functional
    head_dim = n_embd // n_head

    class InOutLinear(nn.Module):
        """GPT-2's checkpoint layout: the weight is kept (fan_in, fan_out) and applied with
        one addmm on the rows flattened to 2-d."""

        def __init__(self, fan_out, fan_in):
            super().__init__()
            self.weight = nn.Parameter(nn.init.normal_(lib.empty(fan_in, fan_out), std=0.02))
            self.bias = nn.Parameter(lib.zeros(fan_out))

        def forward(self, rows):
            lead = rows.size()[:-1]
            flat = lib.addmm(self.bias, rows.view(-1, rows.size(-1)), self.weight)
            return flat.view(lead + (self.weight.size(1),))

    def tanh_gelu(t):
        # GELU through tanh, spelt out op by op: 0.5 t (1 + tanh(sqrt(2/pi) (t + 0.044715 t^3)))
        cubic = t + 0.044715 * lib.pow(t, 3.0)
        return 0.5 * t * (1.0 + lib.tanh(math.sqrt(2.0 / math.pi) * cubic))

    def heads_out(t):                       # (b, n, width) -> (b, heads, n, head_dim)
        return t.view(t.size()[:-1] + (n_head, head_dim)).permute(0, 2, 1, 3)

    def heads_in(t):                        # the inverse
        t = t.permute(0, 2, 1, 3).contiguous()
        return t.view(t.size()[:-2] + (n_embd,))

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = InOutLinear(3 * n_embd, n_embd)
            self.c_proj = InOutLinear(n_embd, n_embd)
            lower = lib.ones((n_pos, n_pos), dtype=lib.bool).tril()
            self.register_buffer("bias", lower[None, None], persistent=False)
            self.attn_dropout, self.resid_dropout = nn.Dropout(0.0), nn.Dropout(0.0)

        def scores(self, q, k, extra):
            # scaled by a 0-d tensor, as the reference does; masked positions take the
            # dtype's lowest finite value (not -inf) through where
            raw = lib.matmul(q, k.transpose(-1, -2))
            raw = raw / lib.full([], k.size(-1) ** 0.5, dtype=raw.dtype, device=raw.device)
            n_new, n_all = q.size(-2), k.size(-2)
            visible = self.bias[:, :, n_all - n_new:n_all, :n_all]
            lowest = lib.full([], lib.finfo(raw.dtype).min, dtype=raw.dtype, device=raw.device)
            raw = lib.where(visible, raw, lowest)
            return raw if extra is None else raw + extra

        def forward(self, h, cache=None, extra=None, keep=False):
            q, k, v = map(heads_out, self.c_attn(h).split(n_embd, dim=2))
            if cache is not None:           # earlier steps' keys and values come first
                k, v = lib.cat((cache[0], k), dim=-2), lib.cat((cache[1], v), dim=-2)
            probs = F.softmax(self.scores(q, k, extra), dim=-1).type(v.dtype)
            mixed = heads_in(lib.matmul(self.attn_dropout(probs), v))
            return self.resid_dropout(self.c_proj(mixed)), ((k, v) if keep else None), probs

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = InOutLinear(4 * n_embd, n_embd)
            self.c_proj = InOutLinear(n_embd, 4 * n_embd)
            self.dropout = nn.Dropout(0.0)

        def forward(self, h):
            return self.dropout(self.c_proj(tanh_gelu(self.c_fc(h))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd, eps=1e-5)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(n_embd, eps=1e-5)
            self.mlp = MLP()

        def forward(self, h, cache, extra, keep):
            mixed, kv, probs = self.attn(self.ln_1(h), cache, extra, keep)
            h = h + mixed
            return h + self.mlp(self.ln_2(h)), kv, probs

    class Trunk(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(n_pos, n_embd)
            self.drop = nn.Dropout(0.0)
            self.h = nn.ModuleList(Block() for _ in range(n_layer))
            self.ln_f = nn.LayerNorm(n_embd)

        def additive_mask(self, pad_mask, rows):
            # 1 = attend, 0 = padding  ->  0 or the lowest float, broadcast over heads/queries
            dtype = self.wte.weight.dtype
            keep = pad_mask.view(rows, -1)[:, None, None, :].to(dtype=dtype)
            return (1.0 - keep) * lib.finfo(dtype).min

        def forward(self, input_ids, past_key_values=None, attention_mask=None,
                    position_ids=None, use_cache=False):
            shape = input_ids.size()
            ids = input_ids.view(-1, shape[-1])
            caches = past_key_values or [None] * len(self.h)
            done = 0 if past_key_values is None else past_key_values[0][0].size(-2)
            if position_ids is None:
                position_ids = lib.arange(done, done + shape[-1], dtype=lib.long,
                                          device=ids.device).unsqueeze(0)
            extra = None if attention_mask is None else self.additive_mask(attention_mask,
                                                                           ids.shape[0])
            h = self.drop(self.wte(ids) + self.wpe(position_ids))
            kept, probs = [], []
            for block, cache in zip(self.h, caches):
                h, kv, p = block(h, cache, extra, use_cache)
                kept.append(kv)
                probs.append(p)
            h = self.ln_f(h)
            return h.view(shape + (h.size(-1),)), (tuple(kept) if use_cache else None), \
                tuple(probs)

    class LMHeadModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = Trunk()
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.transformer.wte.weight

        def forward(self, input_ids, labels=None, **kw):
            hidden, kept, probs = self.transformer(input_ids, **kw)
            logits = self.lm_head(hidden)
            if labels is None:
                return None, logits, kept, probs
            # position t predicts token t + 1: drop the last prediction and the first label
            guesses = logits[..., :-1, :].contiguous()
            wanted = labels[..., 1:].contiguous()
            loss = nn.CrossEntropyLoss()(guesses.view(-1, guesses.size(-1)), wanted.view(-1))
            return loss, logits, kept, probs

    return LMHeadModel()


def _gpt2_run(lib, dtype):
    dt = getattr(lib, dtype)
    model = _load(lib, _gpt2(lib).to(dt), seed=1, scale=0.4)
    ids = lib.tensor(_ints(0, 29, (2, 7), 2))
    mask = lib.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    labels = ids.clone()
    labels[mask == 0] = -100
    opt = lib.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    losses = []
    for _ in range(2):
        loss, logits, _, weights = model(ids, labels=labels, attention_mask=mask)
        opt.zero_grad()
        loss.backward()
        grads = _grads(model)
        opt.step()
        losses.append(loss.item())
    out = {"losses": losses, "logits": logits, "attn0": weights[0], "grads": grads,
           "params": _params(model), "keys": list(model.state_dict()),
           "tied": model.lm_head.weight is model.transformer.wte.weight}
    model.eval()
    with lib.no_grad():
        # the whole sequence at once vs one step at a time through past_key_values
        _, full, _, _ = model(ids)
        _, step, past, _ = model(ids[:, :4], use_cache=True)
        steps = [step]
        for t in range(4, 7):
            _, step, past, _ = model(ids[:, t:t + 1], past_key_values=past, use_cache=True)
            steps.append(step)
        out["full"], out["cached"] = full, lib.cat(steps, dim=1)
        out["past_shape"] = [tuple(k.shape) for k, _ in past]
        # greedy continuation, the cache carried between calls
        cur, past, made = ids[:, :3], None, []
        for _ in range(4):
            _, logits, past, _ = model(cur, past_key_values=past, use_cache=True)
            cur = logits[:, -1, :].argmax(dim=-1, keepdim=True)
            made.append(cur)
        out["greedy"] = lib.cat(made, dim=-1)
    return out


@program
def gpt2_float32(lib):
    return _gpt2_run(lib, "float32")


@program
def gpt2_float64(lib):
    return _gpt2_run(lib, "float64")


# ----------------------------------------------------------------------------------------------
# 2. BERT
# ----------------------------------------------------------------------------------------------
def _bert(lib, vocab=31, width=12, n_heads=2, n_layers=2, max_pos=10, type_vocab=2, pad=0):
    nn, F = lib.nn, lib.nn.functional
    head_size = width // n_heads

    def split_heads(t):                     # (b, n, width) -> (b, heads, n, head_size)
        b, n = t.shape[:2]
        return t.view(b, n, n_heads, head_size).permute(0, 2, 1, 3)

    class InputLookup(nn.Module):
        """token + segment + position embeddings, then LayerNorm; the position ids and the
        default (all zero) segment ids are non-persistent buffers sliced to the length"""

        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, width, padding_idx=pad)
            self.position_embeddings = nn.Embedding(max_pos, width)
            self.token_type_embeddings = nn.Embedding(type_vocab, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.dropout = nn.Dropout(0.0)
            where = lib.arange(max_pos).expand((1, -1))
            self.register_buffer("position_ids", where, persistent=False)
            self.register_buffer("token_type_ids", lib.zeros(where.size(), dtype=lib.long),
                                 persistent=False)

        def forward(self, tokens, segments=None):
            rows, n = tokens.shape
            if segments is None:
                segments = self.token_type_ids[:, :n].expand(rows, n)
            total = self.word_embeddings(tokens) + self.token_type_embeddings(segments)
            total = total + self.position_embeddings(self.position_ids[:, :n])
            return self.dropout(self.LayerNorm(total))

    class Mixing(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Linear(width, width)
            self.key = nn.Linear(width, width)
            self.value = nn.Linear(width, width)
            self.dropout = nn.Dropout(0.0)

        def forward(self, h, additive):
            q, k, v = (split_heads(proj(h)) for proj in (self.query, self.key, self.value))
            logits = lib.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_size) + additive
            mixed = lib.matmul(self.dropout(F.softmax(logits, dim=-1)), v)
            mixed = mixed.permute(0, 2, 1, 3).contiguous()
            return mixed.view(mixed.shape[0], mixed.shape[1], width)

    class ResidualNorm(nn.Module):
        """post-norm: LayerNorm(residual + dropout(dense(branch)))"""

        def __init__(self, fan_in):
            super().__init__()
            self.dense = nn.Linear(fan_in, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.dropout = nn.Dropout(0.0)

        def forward(self, branch, residual):
            return self.LayerNorm(residual + self.dropout(self.dense(branch)))

    class EncoderLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = Mixing()
            self.attention_output = ResidualNorm(width)
            self.intermediate = nn.Linear(width, 4 * width)
            self.output = ResidualNorm(4 * width)

        def forward(self, h, additive):
            h = self.attention_output(self.attention(h, additive), h)
            return self.output(F.gelu(self.intermediate(h)), h)

    class FirstTokenSummary(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense, self.activation = nn.Linear(width, width), nn.Tanh()

        def forward(self, h):
            return self.activation(self.dense(h[:, 0]))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = InputLookup()
            self.layer = nn.ModuleList(EncoderLayer() for _ in range(n_layers))
            self.pooler = FirstTokenSummary()

        def forward(self, tokens, keep, segments=None):
            # keep: 1 for real tokens, 0 for padding -> 0 / lowest float added to the scores
            dtype = self.embeddings.word_embeddings.weight.dtype
            additive = (1.0 - keep[:, None, None, :].to(dtype=dtype)) * lib.finfo(dtype).min
            h = self.embeddings(tokens, segments)
            for layer in self.layer:
                h = layer(h, additive)
            return h, self.pooler(h)

    class TokenScores(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(width, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.decoder = nn.Linear(width, vocab, bias=False)
            self.bias = nn.Parameter(lib.zeros(vocab))
            self.decoder.bias = self.bias          # one vector under two names

        def forward(self, h):
            return self.decoder(self.LayerNorm(F.gelu(self.dense(h))))

    def starting_values(layer):
        # zero biases, unit norms, N(0, 0.02) matrices and tables with the padding row
        # cleared; written through .data as model code of this kind does
        if isinstance(layer, nn.LayerNorm):
            layer.weight.data.fill_(1.0)
            layer.bias.data.zero_()
            return
        if isinstance(layer, (nn.Linear, nn.Embedding)):
            layer.weight.data.normal_(mean=0.0, std=0.02)
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            layer.bias.data.zero_()
        if isinstance(layer, nn.Embedding) and layer.padding_idx is not None:
            layer.weight.data[layer.padding_idx].zero_()

    class MaskedLMWithPairs(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = Encoder()
            self.predictions = TokenScores()
            self.seq_relationship = nn.Linear(width, 2)
            self.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
            self._init_weights = starting_values

        def forward(self, tokens, keep, segments=None, labels=None, pair_label=None):
            seq, pooled = self.bert(tokens, keep, segments)
            scores, relation = self.predictions(seq), self.seq_relationship(pooled)
            ce = nn.CrossEntropyLoss()
            loss = ce(scores.view(-1, vocab), labels.view(-1)) + ce(relation.view(-1, 2),
                                                                    pair_label.view(-1))
            return loss, scores, relation, pooled

    return MaskedLMWithPairs()


def _bert_run(lib, dtype):
    dt = getattr(lib, dtype)
    lib.manual_seed(0)
    model = _bert(lib).to(dt)
    returned = model.apply(model._init_weights)
    emb = model.bert.embeddings
    inited = {
        "same_module": returned is model,
        "pad_row_zero": bool((emb.word_embeddings.weight[0] == 0).all()),
        "ln_ones": all(bool((m.weight == 1).all()) and bool((m.bias == 0).all())
                       for m in model.modules() if isinstance(m, lib.nn.LayerNorm)),
        "bias_zero": all(bool((m.bias == 0).all()) for m in model.modules()
                         if isinstance(m, lib.nn.Linear)),
        "std_near": abs(emb.word_embeddings.weight[1:].std().item() - 0.02) < 0.005,
        "tied": model.predictions.decoder.weight is emb.word_embeddings.weight,
        "keys": list(model.state_dict()),
        "buffers": [n for n, _ in model.named_buffers()],
        "position_ids": emb.position_ids,
    }
    _load(lib, model, seed=3, scale=0.3)
    ids = lib.tensor(_ints(1, 31, (2, 6), 4))
    ids[0, 4:] = 0                                              # padding
    mask = (ids != 0).long()
    types = lib.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    labels = lib.full_like(ids, -100)
    labels[:, 2] = ids[:, 2]
    labels[1, 4] = ids[1, 4]
    nsp = lib.tensor([1, 0])
    # a key bias shifts every score of a row alike, so its gradient is zero but for rounding,
    # which Adam would blow up to full steps: those biases are left out of the optimizer
    opt = lib.optim.AdamW([p for n, p in model.named_parameters()
                           if not n.endswith("key.bias")], lr=1e-2)
    losses = []
    for k in range(2):
        loss, scores, relation, pooled = model(ids, mask, types if k == 0 else None,
                                               labels, nsp)
        opt.zero_grad()
        loss.backward()
        grads = _grads(model)
        opt.step()
        losses.append(loss.item())
    return {"init": inited, "losses": losses, "scores": scores, "relation": relation,
            "pooled": pooled, "grads": grads, "params": _params(model),
            "pad_grad": model.bert.embeddings.word_embeddings.weight.grad[0]}


@program
def bert_float32(lib):
    return _bert_run(lib, "float32")


@program
def bert_float64(lib):
    return _bert_run(lib, "float64")


# ----------------------------------------------------------------------------------------------
# 3. T5 relative position bias and RMS norm
# ----------------------------------------------------------------------------------------------
def _t5_bucket(lib, relative_position, bidirectional=True, num_buckets=8, max_distance=12):
    """Bucket index of each (key - query) offset. Two-sided: half the buckets for keys
    after the query. Within a side, offsets below half the side's buckets get a bucket each;
    larger ones share buckets spaced logarithmically up to max_distance (the last bucket
    takes everything beyond)."""
    if bidirectional:
        side = num_buckets // 2
        base = (relative_position > 0).to(lib.long) * side
        dist = lib.abs(relative_position)
    else:                                   # one-sided: only keys before the query count
        side, base = num_buckets, 0
        dist = -lib.min(relative_position, lib.zeros_like(relative_position))
    exact = side // 2
    log_part = lib.log(dist.float() / exact) / math.log(max_distance / exact)
    far = exact + (log_part * (side - exact)).to(lib.long)
    far = lib.min(far, lib.full_like(far, side - 1))
    return base + lib.where(dist < exact, dist, far)


def _t5(lib, vocab=27, d_model=8, d_kv=4, n_heads=2, d_ff=16, n_layers=2, num_buckets=8,
        max_distance=12):
    nn, F = lib.nn, lib.nn.functional

    class T5LayerNorm(nn.Module):
        """scale-only norm: no mean subtracted, the mean square taken in float32 whatever
        the input dtype, the result cast back only for half weights"""

        def __init__(self, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(lib.ones(d_model))

        def forward(self, h):
            mean_sq = h.to(lib.float32).pow(2).mean(-1, keepdim=True)
            scaled = h * lib.rsqrt(mean_sq + self.eps)
            half = self.weight.dtype == lib.float16   # (bfloat16 too, outside minigrad)
            return self.weight * (scaled.to(self.weight.dtype) if half else scaled)

    class T5Attention(nn.Module):
        def __init__(self, is_decoder, has_bias):
            super().__init__()
            self.is_decoder, self.has_relative_attention_bias = is_decoder, has_bias
            inner = n_heads * d_kv
            self.q, self.k = nn.Linear(d_model, inner, bias=False), nn.Linear(d_model, inner,
                                                                              bias=False)
            self.v, self.o = nn.Linear(d_model, inner, bias=False), nn.Linear(inner, d_model,
                                                                              bias=False)
            if has_bias:
                self.relative_attention_bias = nn.Embedding(num_buckets, n_heads)

        def learnt_offsets(self, n_q, n_k):
            # (1, heads, n_q, n_k): one learnt scalar per head and bucket of (key - query)
            table = self.relative_attention_bias
            offset = (lib.arange(n_k, dtype=lib.long, device=table.weight.device)[None, :]
                      - lib.arange(n_q, dtype=lib.long, device=table.weight.device)[:, None])
            buckets = _t5_bucket(lib, offset, not self.is_decoder, num_buckets, max_distance)
            return table(buckets).permute([2, 0, 1]).unsqueeze(0)

        def forward(self, h, mask=None, kv=None, position_bias=None):
            # no 1/sqrt(d) scaling in T5; the first layer's bias (plus the mask) is handed on
            # to the later layers of the stack
            src = h if kv is None else kv
            b, n_q, n_k = h.shape[0], h.shape[1], src.shape[1]
            q, k, v = (lin(t).view(b, -1, n_heads, d_kv).transpose(1, 2)
                       for lin, t in ((self.q, h), (self.k, src), (self.v, src)))
            if position_bias is None:
                position_bias = (self.learnt_offsets(n_q, n_k)
                                 if self.has_relative_attention_bias
                                 else lib.zeros((1, n_heads, n_q, n_k), dtype=q.dtype))
                position_bias = position_bias if mask is None else position_bias + mask
            scores = lib.matmul(q, k.transpose(3, 2))
            scores += position_bias
            weights = F.softmax(scores.float(), dim=-1).type_as(scores)
            merged = lib.matmul(weights, v).transpose(1, 2).contiguous()
            return self.o(merged.view(b, -1, n_heads * d_kv)), position_bias

    class Sub(nn.Module):
        """T5's pre-norm residual around one attention."""

        def __init__(self, is_decoder, has_bias):
            super().__init__()
            self.layer_norm = T5LayerNorm()
            self.attn = T5Attention(is_decoder, has_bias)

        def forward(self, h, mask, kv=None, position_bias=None):
            out, position_bias = self.attn(self.layer_norm(h), mask, kv, position_bias)
            return h + out, position_bias

    class DenseReluDense(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer_norm = T5LayerNorm()
            self.wi, self.wo = nn.Linear(d_model, d_ff, bias=False), nn.Linear(d_ff, d_model,
                                                                               bias=False)

        def forward(self, h):
            return h + self.wo(F.relu(self.wi(self.layer_norm(h))))

    class Stack(nn.Module):
        def __init__(self, is_decoder):
            super().__init__()
            self.is_decoder = is_decoder
            self.self_attn = nn.ModuleList([Sub(is_decoder, i == 0) for i in range(n_layers)])
            if is_decoder:
                self.cross = nn.ModuleList([Sub(True, False) for _ in range(n_layers)])
            self.ff = nn.ModuleList([DenseReluDense() for _ in range(n_layers)])
            self.final_layer_norm = T5LayerNorm()

        def forward(self, h, mask, enc=None, enc_mask=None):
            bias = cross_bias = None
            for i in range(n_layers):
                h, bias = self.self_attn[i](h, mask, position_bias=bias)
                if self.is_decoder:
                    h, cross_bias = self.cross[i](h, enc_mask, enc, cross_bias)
                h = self.ff[i](h)
            return self.final_layer_norm(h), bias

    class T5(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Embedding(vocab, d_model)
            self.encoder, self.decoder = Stack(False), Stack(True)

        @staticmethod
        def decoder_inputs(labels, start=0, pad=0):
            # teacher forcing: the decoder reads the labels one step late, a start token in
            # front; ignored (-100) labels become padding
            inputs = labels.new_zeros(labels.shape)
            inputs[..., 0] = start
            inputs[..., 1:] = labels[..., :-1].clone()
            return inputs.masked_fill_(inputs == -100, pad)

        def forward(self, input_ids, attention_mask, labels):
            dtype = self.shared.weight.dtype
            enc_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * lib.finfo(dtype).min
            enc, enc_bias = self.encoder(self.shared(input_ids), enc_mask)
            dec_ids = self.decoder_inputs(labels)
            n = dec_ids.shape[1]
            seq = lib.arange(n)
            causal = (seq[None, None, :] <= seq[None, :, None]).to(dtype)[:, None]
            dec_mask = (1.0 - causal) * lib.finfo(dtype).min
            dec, dec_bias = self.decoder(self.shared(dec_ids), dec_mask, enc, enc_mask)
            logits = lib.matmul(dec * (d_model ** -0.5), self.shared.weight.t())
            loss = nn.CrossEntropyLoss(ignore_index=-100)(logits.view(-1, logits.size(-1)),
                                                          labels.view(-1))
            return loss, logits, enc_bias, dec_bias, dec_ids

    return T5()


def _t5_run(lib, dtype):
    model = _load(lib, _t5(lib).to(getattr(lib, dtype)), seed=5, scale=0.4)
    rel = lib.arange(14)[None, :] - lib.arange(14)[:, None]
    ids = lib.tensor(_ints(1, 27, (2, 7), 6))
    mask = lib.tensor([[1, 1, 1, 1, 1, 0, 0], [1] * 7])
    labels = lib.tensor(_ints(1, 27, (2, 5), 7))
    labels[0, 3:] = -100
    opt = lib.optim.Adafactor(model.parameters(), lr=1e-2)
    loss, logits, enc_bias, dec_bias, dec_ids = model(ids, mask, labels)
    loss.backward()
    out = {"bidirectional": _t5_bucket(lib, rel), "causal": _t5_bucket(lib, rel, False),
           "wide": _t5_bucket(lib, rel * 3, True, 32, 128), "loss": loss.item(),
           "logits": logits, "enc_bias": enc_bias, "dec_bias": dec_bias, "dec_ids": dec_ids,
           "grads": _grads(model), "norm_dtype": model.encoder.final_layer_norm(
               lib.ones(2, 8, dtype=getattr(lib, dtype))).dtype}
    opt.step()
    out["params"] = _params(model)
    return out


@program(rtol=1e-5, atol=1e-6)
def t5_float32(lib):
    return _t5_run(lib, "float32")


@program(rtol=1e-5, atol=1e-6)
def t5_float64(lib):
    # the norm's statistics are float32 even here, so float64 results carry float32 rounding
    return _t5_run(lib, "float64")


# ----------------------------------------------------------------------------------------------
# 4. LLaMA / Mistral
# ----------------------------------------------------------------------------------------------
def _llama(lib, rope, dim=16, n_layers=2, n_heads=4, n_kv_heads=2, vocab=37, max_batch=2,
           max_seq=9, multiple_of=8, eps=1e-5):
    nn, F = lib.nn, lib.nn.functional
    hd, n_rep = dim // n_heads, n_heads // n_kv_heads

    def angles(n_positions, base=10000.0):
        # angle of pair i at position p: p * base^(-2i / hd), as an (n_positions, hd/2) table
        pair_rate = 1.0 / (base ** (lib.arange(0, hd, 2)[: (hd // 2)].float() / hd))
        return lib.outer(lib.arange(n_positions, device=pair_rate.device), pair_rate).float()

    def unit_phasors(n_positions):
        theta = angles(n_positions)
        return lib.polar(lib.ones_like(theta), theta)

    def turn_as_complex(t, phasors):
        # adjacent features (2i, 2i+1) read as one complex number and multiplied by the
        # phasor of its position; computed in complex64 and cast back to t's dtype
        pairs = lib.view_as_complex(t.float().reshape(*t.shape[:-1], -1, 2))
        along = [1] * pairs.ndim
        along[1], along[-1] = pairs.shape[1], pairs.shape[-1]     # (1, seq, 1, hd/2)
        turned = lib.view_as_real(pairs * phasors.view(*along)).flatten(3)
        return turned.type_as(t)

    def cos_sin(n_positions, base=10000.0):
        rate = 1.0 / (base ** (lib.arange(0, hd, 2, dtype=lib.int64).float() / hd))
        theta = lib.outer(lib.arange(n_positions).float(), rate).repeat(1, 2)
        return theta.cos(), theta.sin()

    def turn_halves(t, cos, sin):
        # the other layout: feature i pairs with feature i + hd/2; (a, b) -> (-b, a) is the
        # quarter turn that sin multiplies
        first, second = t.chunk(2, dim=-1)
        return t * cos + lib.cat((-second, first), dim=-1) * sin

    def share_kv_heads(t, times):         # (b, kv, n, hd) -> (b, kv * times, n, hd)
        if times == 1:
            return t
        b, kv, n, d = t.shape
        return t.unsqueeze(2).expand(b, kv, times, n, d).reshape(b, kv * times, n, d)

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.eps, self.weight = eps, nn.Parameter(lib.ones(dim))

        def forward(self, x):
            wide = x.float()                     # statistics in float32, result in x's dtype
            shrunk = wide * lib.rsqrt(wide.pow(2).mean(-1, keepdim=True) + self.eps)
            return shrunk.type_as(x) * self.weight

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.wq = nn.Linear(dim, n_heads * hd, bias=False)
            self.wk = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.wv = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.wo = nn.Linear(n_heads * hd, dim, bias=False)
            self.cache_k = lib.zeros((max_batch, max_seq, n_kv_heads, hd))
            self.cache_v = lib.zeros((max_batch, max_seq, n_kv_heads, hd))

        def rotate(self, q, k, rot):
            if rope == "complex":
                return turn_as_complex(q, rot), turn_as_complex(k, rot)
            cos, sin, where = rot
            cos = cos[where].unsqueeze(1).to(q.dtype)          # (b, 1, n, hd)
            sin = sin[where].unsqueeze(1).to(q.dtype)
            q, k = (turn_halves(t.transpose(1, 2), cos, sin).transpose(1, 2) for t in (q, k))
            return q, k

        def forward(self, x, start_pos, rot, mask, use_cache):
            b, n, _ = x.shape
            q = self.wq(x).view(b, n, n_heads, hd)
            k = self.wk(x).view(b, n, n_kv_heads, hd)
            v = self.wv(x).view(b, n, n_kv_heads, hd)
            q, k = self.rotate(q, k, rot)
            if use_cache:
                out = self.cached(q, k, v, start_pos, mask)
            else:                                # training: the whole sequence, causal SDPA
                k = share_kv_heads(k.transpose(1, 2), n_rep)
                v = lib.repeat_interleave(v.transpose(1, 2), n_rep, dim=1)
                out = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, is_causal=True)
            return self.wo(out.transpose(1, 2).contiguous().view(b, n, -1))

        def cached(self, q, k, v, start_pos, mask):
            # write this step's keys/values into the preallocated slots, read back the prefix
            b, n = q.shape[:2]
            self.cache_k = self.cache_k.to(q)
            self.cache_v = self.cache_v.to(q)
            upto = start_pos + n
            self.cache_k[:b, start_pos:upto] = k
            self.cache_v[:b, start_pos:upto] = v
            keys, values = (lib.repeat_interleave(c[:b, :upto], dim=2, repeats=n_rep)
                            .transpose(1, 2) for c in (self.cache_k, self.cache_v))
            q = q.transpose(1, 2)
            logits = lib.matmul(q, keys.transpose(2, 3)) / math.sqrt(hd)
            if mask is not None:
                logits = logits + mask
            return lib.matmul(F.softmax(logits.float(), dim=-1).type_as(q), values)

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            # two thirds of 4 * dim, rounded up to a multiple of ``multiple_of``
            width = -(-int(8 * dim / 3) // multiple_of) * multiple_of
            self.w1 = nn.Linear(dim, width, bias=False)
            self.w2 = nn.Linear(width, dim, bias=False)
            self.w3 = nn.Linear(dim, width, bias=False)

        def forward(self, x):
            gate, up = F.silu(self.w1(x)), self.w3(x)
            return self.w2(gate * up)

    class TransformerBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention, self.feed_forward = Attention(), FeedForward()
            self.attention_norm, self.ffn_norm = RMSNorm(), RMSNorm()

        def forward(self, x, start_pos, rot, mask, use_cache):
            h = x + self.attention(self.attention_norm(x), start_pos, rot, mask, use_cache)
            return h + self.feed_forward(self.ffn_norm(h))

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok_embeddings = nn.Embedding(vocab, dim)
            self.layers = nn.ModuleList([TransformerBlock() for _ in range(n_layers)])
            self.norm = RMSNorm()
            self.output = nn.Linear(dim, vocab, bias=False)
            self.freqs_cis = unit_phasors(max_seq * 2)
            cos, sin = cos_sin(max_seq * 2)
            self.register_buffer("cos_cached", cos, persistent=False)
            self.register_buffer("sin_cached", sin, persistent=False)

        def forward(self, tokens, start_pos=0, use_cache=False):
            bsz, seqlen = tokens.shape
            h = self.tok_embeddings(tokens)
            if rope == "complex":
                rot = self.freqs_cis[start_pos: start_pos + seqlen]
            else:
                pos = lib.arange(start_pos, start_pos + seqlen).unsqueeze(0).expand(bsz, -1)
                rot = (self.cos_cached, self.sin_cached, pos)
            mask = None
            if use_cache and seqlen > 1:
                # the cached prefix is all visible; within the new tokens, -inf above the
                # diagonal
                ahead = lib.triu(lib.full((seqlen, seqlen), float("-inf"), device=tokens.device),
                                 diagonal=1)
                prefix = lib.zeros((seqlen, start_pos), device=tokens.device)
                mask = lib.hstack([prefix, ahead]).type_as(h)
            for layer in self.layers:
                h = layer(h, start_pos, rot, mask, use_cache)
            return self.output(self.norm(h)).float()

    return Transformer()


def _llama_run(lib, rope, dtype):
    model = _load(lib, _llama(lib, rope).to(getattr(lib, dtype)), seed=8, scale=0.4)
    tokens = lib.tensor(_ints(0, 37, (2, 8), 9))
    opt = lib.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    losses = []
    for _ in range(2):
        logits = model(tokens[:, :-1])
        loss = lib.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)),
                                               tokens[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grads = _grads(model)
        opt.step()
        losses.append(loss.item())
    out = {"losses": losses, "logits": logits, "grads": grads, "params": _params(model),
           "keys": list(model.state_dict()), "freqs": model.freqs_cis}
    model.eval()
    with lib.inference_mode():
        full = model(tokens[:, :6])
        prompt = tokens[:, :3]
        step = model(prompt, 0, use_cache=True)
        pieces, made = [step], []
        for pos in range(3, 6):
            pieces.append(model(tokens[:, pos:pos + 1], pos, use_cache=True))
        out["full"], out["cached"] = full, lib.cat(pieces, dim=1)
        # greedy decoding through a fresh cache
        for layer in model.layers:
            layer.attention.cache_k.zero_()
            layer.attention.cache_v.zero_()
        logits, cur = model(prompt, 0, use_cache=True), 3
        while cur < 8:
            nxt = lib.argmax(logits[:, -1], dim=-1)
            made.append(nxt)
            logits = model(nxt[:, None], cur, use_cache=True)
            cur += 1
        out["greedy"] = lib.stack(made, dim=1)
        out["cache"] = model.layers[1].attention.cache_k
    return out


@program
def llama_complex_rope_float32(lib):
    return _llama_run(lib, "complex", "float32")


@program(rtol=1e-5, atol=1e-6)
def llama_rotate_half_float64(lib):
    # RMSNorm takes its statistics in float32 (x.float()) and casts back
    return _llama_run(lib, "half", "float64")


@program(rtol=1e-5, atol=1e-6)
def llama_complex_rope_float64(lib):
    # the rotation is computed in complex64 (x.float()), then cast back to float64
    return _llama_run(lib, "complex", "float64")


# ----------------------------------------------------------------------------------------------
# 5. generation utilities
# ----------------------------------------------------------------------------------------------
def _top_k_filter(lib, logits, k):
    # a copy with everything below the k-th largest score of its row set to -inf
    kth = lib.topk(logits, min(k, logits.size(-1)))[0][..., [-1]]
    out = logits.clone()
    out[out < kth] = -float("inf")
    return out


def _top_k_warper(lib, scores, top_k, filter_value=-float("inf")):
    # the same filter out of place: masked_fill with the comparison against the k-th value
    kth = lib.topk(scores, top_k)[0][..., -1, None]
    return scores.masked_fill(scores < kth, filter_value)


def _top_p_descending(lib, logits, top_p):
    # nucleus from the top: keep the best tokens until their mass passes top_p, the token
    # that crosses the line included (the flags moved one place right)
    ranked, order = lib.sort(logits, descending=True)
    mass = lib.cumsum(lib.nn.functional.softmax(ranked, dim=-1), dim=-1)
    past = mass > top_p
    drop = lib.zeros_like(past)
    drop[..., 1:] = past[..., :-1].clone()
    return logits.masked_fill(drop.scatter(1, order, drop), -float("inf"))


def _top_p_ascending(lib, scores, top_p, min_tokens_to_keep=1):
    # nucleus from the bottom: drop the worst tokens while their mass stays within
    # 1 - top_p, never the best ``min_tokens_to_keep``
    ranked, order = lib.sort(scores, descending=False)
    drop = ranked.softmax(dim=-1).cumsum(dim=-1) <= (1 - top_p)
    drop[..., -min_tokens_to_keep:] = 0
    return scores.masked_fill(drop.scatter(1, order, drop), -float("inf"))


def _repetition_penalty(lib, input_ids, scores, penalty, inplace):
    # tokens seen before lose: positive scores divided, negative ones multiplied
    seen = lib.gather(scores, 1, input_ids)
    lowered = lib.where(seen < 0, seen * penalty, seen / penalty)
    if inplace:
        return scores.clone().scatter_(1, input_ids, lowered)
    return scores.scatter(1, input_ids, lowered)


@program
def generation_filters(lib):
    F = lib.nn.functional
    rng = np.random.RandomState(11)
    logits = lib.tensor(rng.randn(3, 23).astype(np.float32))
    ids = lib.tensor(_ints(0, 23, (3, 5), 12))
    penalised = _repetition_penalty(lib, ids, logits, 1.2, False)
    scaled = penalised / 0.7                                      # temperature
    top_k = _top_k_filter(lib, scaled, 6)
    top_k2 = _top_k_warper(lib, scaled, 6)
    nucleus = _top_p_descending(lib, scaled, 0.8)
    nucleus2 = _top_p_ascending(lib, top_k2, 0.9)                 # after top-k: -inf ties
    probs = F.softmax(nucleus2, dim=-1)
    g = lib.Generator().manual_seed(1234)
    drawn = lib.multinomial(probs, num_samples=4, replacement=True, generator=g)
    again = lib.multinomial(probs, num_samples=4, replacement=True,
                            generator=lib.Generator().manual_seed(1234))
    one = lib.multinomial(probs, 1, generator=g).squeeze(1)
    return {"penalised": penalised, "inplace": _repetition_penalty(lib, ids, logits, 1.2, True),
            "top_k": top_k, "top_k_same": bool(lib.equal(top_k, top_k2)), "nucleus": nucleus,
            "nucleus2": nucleus2, "probs": probs, "greedy": scaled.argmax(-1),
            "drawn_ok": bool((probs.gather(1, drawn) > 0).all()),
            "drawn_meta": (str(drawn.dtype), tuple(drawn.shape), tuple(one.shape)),
            "same_seed_same_draw": bool(lib.equal(drawn, again)),
            "kept": (nucleus2 > -float("inf")).sum(-1)}


@program
def generation_loop_gpt2(lib):
    """Greedy and sampled continuations with an attention mask grown per step; the sampled
    tokens are checked only for lying in the kept set (the random streams differ)."""
    F = lib.nn.functional
    model = _load(lib, _gpt2(lib).double(), seed=13, scale=0.5).eval()
    ids = lib.tensor(_ints(1, 29, (2, 3), 14))
    mask = lib.ones_like(ids)
    gen = lib.Generator().manual_seed(0)
    out, ok, past = {}, [], None
    with lib.no_grad():
        for mode in ("greedy", "sample"):
            cur, att, past = ids, mask, None
            seq = ids
            for _ in range(4):
                _, logits, past, _ = model(cur, past_key_values=past, attention_mask=att,
                                           use_cache=True)
                scores = _repetition_penalty(lib, seq, logits[:, -1, :], 1.3, True)
                if mode == "greedy":
                    nxt = lib.argmax(scores, dim=-1)
                else:
                    filtered = _top_p_ascending(lib, _top_k_warper(lib, scores / 0.9, 5), 0.9)
                    probs = F.softmax(filtered, dim=-1)
                    nxt = lib.multinomial(probs, 1, generator=gen).squeeze(1)
                    ok.append(bool((probs.gather(1, nxt[:, None]) > 0).all()))
                    nxt = seq[:, -1]            # continue deterministically from here
                seq = lib.cat([seq, nxt[:, None]], dim=-1)
                att = lib.cat([att, att.new_ones((att.shape[0], 1))], dim=-1)
                cur = nxt[:, None]
            out[mode] = seq
    out["ok"], out["mask"] = ok, att
    return out


# ----------------------------------------------------------------------------------------------
# 6. training utilities
# ----------------------------------------------------------------------------------------------
def _classifier(lib, vocab=41, width=8, n_labels=3, n_layers=2):
    nn, F = lib.nn, lib.nn.functional
    checkpoint = _checkpoint_fn(lib)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.Linear(width, 3 * width, bias=False)
            self.dense = nn.Linear(width, width)
            self.LayerNorm = nn.LayerNorm(width)

        def forward(self, h, additive):
            q, k, v = self.attn(h).chunk(3, dim=-1)
            w = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(width) + additive, dim=-1)
            return self.LayerNorm(h + F.gelu(self.dense(w @ v), approximate="tanh"))

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = nn.Embedding(vocab, width, padding_idx=0)
            self.layers = nn.ModuleList([Layer() for _ in range(n_layers)])
            self.classifier = nn.Linear(width, n_labels)
            self.gradient_checkpointing = False

        def forward(self, ids):
            keep = (ids != 0).to(self.embeddings.weight.dtype)
            additive = (1.0 - keep[:, None, :]) * lib.finfo(keep.dtype).min
            h = self.embeddings(ids)
            for layer in self.layers:
                if self.gradient_checkpointing and self.training:
                    h = checkpoint(layer, h, additive, use_reentrant=False)
                else:
                    h = layer(h, additive)
            pooled = (h * keep[..., None]).sum(1) / keep.sum(1, keepdim=True)
            return self.classifier(pooled)

    return Classifier()


def _linear_warmup(rise, total):
    """LR factor: a ramp from 0 to 1 over ``rise`` steps, then a straight line down to 0 at
    ``total`` (and 0 after)."""
    def factor(step):
        up = step / max(1, rise)
        down = (total - step) / max(1, total - rise)
        return float(up) if step < rise else max(0.0, float(down))
    return factor


def _train_run(lib, dtype, checkpointing):
    nn = lib.nn
    model = _load(lib, _classifier(lib).to(getattr(lib, dtype)), seed=15, scale=0.5)
    model.gradient_checkpointing = checkpointing
    ids = lib.tensor(_ints(1, 41, (16, 6), 16))
    ids[::3, 4:] = 0
    ys = lib.tensor(_ints(0, 3, 16, 17))
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(ids, ys), batch_size=4)
    # groups by name: biases and the LayerNorm scales are spared weight decay
    spared = {}
    for name, w in model.named_parameters():
        spared.setdefault("bias" in name or "LayerNorm.weight" in name, []).append(w)
    groups = [dict(params=spared[False], weight_decay=0.01),
              dict(params=spared[True], weight_decay=0.0)]
    accumulation, epochs = 2, 3
    total = len(loader) // accumulation * epochs
    opt = lib.optim.AdamW(groups, lr=2e-2, eps=1e-8)
    sched = lib.optim.lr_scheduler.LambdaLR(opt, _linear_warmup(2, total), last_epoch=-1)
    loss_fct = nn.CrossEntropyLoss(label_smoothing=0.1)
    losses, norms, lrs, accuracy = [], [], [], []
    model.zero_grad()
    for _ in range(epochs):
        model.train()
        for step, (x, y) in enumerate(loader):
            loss = loss_fct(model(x), y) / accumulation
            loss.backward()
            losses.append(loss.item())
            if (step + 1) % accumulation == 0:
                norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1.0).item())
                opt.step()
                sched.step()
                model.zero_grad()
                lrs.append(sched.get_last_lr())
        model.eval()
        correct, seen, eval_loss = 0, 0, 0.0
        with lib.no_grad():
            for x, y in loader:
                logits = model(x)
                eval_loss += nn.functional.cross_entropy(logits, y).item()
                correct += (logits.argmax(dim=-1) == y).sum().item()
                seen += y.size(0)
        accuracy.append((correct / seen, eval_loss / len(loader)))
    keys = ("lr", "initial_lr", "weight_decay", "betas", "eps", "amsgrad")
    return {"losses": losses, "norms": norms, "lrs": lrs, "accuracy": accuracy,
            "params": _params(model), "sizes": [len(g["params"]) for g in groups],
            "groups": [{k: g[k] for k in keys} for g in opt.param_groups],
            "sched": {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"},
            "state": opt.state_dict()["state"][0]}


@program
def training_utilities_float32(lib):
    return _train_run(lib, "float32", False)


@program
def training_utilities_checkpointed_float64(lib):
    return _train_run(lib, "float64", True)


@program
def checkpoint_matches_plain_block(lib):
    """One backward with the layers under checkpoint, one without: the same gradients."""
    model = _load(lib, _classifier(lib).double(), seed=18, scale=0.5)
    ids = lib.tensor(_ints(0, 41, (3, 5), 19))
    out = {}
    for flag in (False, True):
        model.gradient_checkpointing = flag
        model.zero_grad()
        logits = model(ids)
        nn_loss = lib.nn.CrossEntropyLoss(label_smoothing=0.1)(logits, lib.tensor([0, 2, 1]))
        nn_loss.backward()
        out[flag] = {"logits": logits, "grads": _grads(model)}
    return out


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    error = _check(program)
    assert error is None, f"torch raised {error!r}"


# ----------------------------------------------------------------------------------------------
# 7. float16 inference (model.half())
# ----------------------------------------------------------------------------------------------
@program
def gpt2_half_inference(lib):
    """Conv1D's addmm and the float16 silu round once from float32, as PyTorch's kernels.
    (rsqrt is left out: PyTorch's float16 result depends on the length, its vectorized and
    scalar loops rounding differently.)"""
    model = _load(lib, _gpt2(lib).half(), seed=1, scale=0.4).eval()
    ids = lib.tensor(_ints(0, 29, (2, 7), 2))
    mask = lib.tensor([[0, 0, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1]])
    with lib.no_grad():
        _, logits, _, weights = model(ids, attention_mask=mask, use_cache=True)
    rng = np.random.RandomState(21)
    x = lib.tensor((rng.randn(400) * 3).astype(np.float16))
    return {"logits": logits, "attn": weights[1], "silu": lib.nn.functional.silu(x),
            "addmm": lib.addmm(x[:5], x[5:65].view(6, 10), x[65:115].view(10, 5), beta=0.5,
                               alpha=2)}
