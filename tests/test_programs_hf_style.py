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

    class Conv1D(nn.Module):
        """A linear layer whose weight is stored (in_features, out_features)."""

        def __init__(self, nf, nx):
            super().__init__()
            self.nf = nf
            self.weight = nn.Parameter(lib.empty(nx, nf))
            self.bias = nn.Parameter(lib.zeros(nf))
            nn.init.normal_(self.weight, std=0.02)

        def forward(self, x):
            size_out = x.size()[:-1] + (self.nf,)
            x = lib.addmm(self.bias, x.view(-1, x.size(-1)), self.weight)
            return x.view(size_out)

    def gelu_new(x):
        inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * lib.pow(x, 3.0))
        return 0.5 * x * (1.0 + lib.tanh(inner))

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            causal = lib.tril(lib.ones((n_pos, n_pos), dtype=lib.bool)).view(1, 1, n_pos, n_pos)
            self.register_buffer("bias", causal, persistent=False)
            self.c_attn = Conv1D(3 * n_embd, n_embd)
            self.c_proj = Conv1D(n_embd, n_embd)
            self.attn_dropout, self.resid_dropout = nn.Dropout(0.0), nn.Dropout(0.0)

        @staticmethod
        def _split_heads(t):
            return t.view(t.size()[:-1] + (n_head, head_dim)).permute(0, 2, 1, 3)

        @staticmethod
        def _merge_heads(t):
            t = t.permute(0, 2, 1, 3).contiguous()
            return t.view(t.size()[:-2] + (n_head * head_dim,))

        def _attn(self, query, key, value, attention_mask):
            w = lib.matmul(query, key.transpose(-1, -2))
            w = w / lib.full([], value.size(-1) ** 0.5, dtype=w.dtype, device=w.device)
            q_len, k_len = query.size(-2), key.size(-2)
            causal = self.bias[:, :, k_len - q_len:k_len, :k_len]
            floor = lib.full([], lib.finfo(w.dtype).min, dtype=w.dtype, device=w.device)
            w = lib.where(causal, w.to(w.dtype), floor)
            if attention_mask is not None:
                w = w + attention_mask
            w = F.softmax(w, dim=-1).type(value.dtype)
            return lib.matmul(self.attn_dropout(w), value), w

        def forward(self, h, layer_past=None, attention_mask=None, use_cache=False):
            query, key, value = self.c_attn(h).split(n_embd, dim=2)
            query, key, value = (self._split_heads(t) for t in (query, key, value))
            if layer_past is not None:
                past_key, past_value = layer_past
                key = lib.cat((past_key, key), dim=-2)
                value = lib.cat((past_value, value), dim=-2)
            present = (key, value) if use_cache else None
            out, weights = self._attn(query, key, value, attention_mask)
            out = self.resid_dropout(self.c_proj(self._merge_heads(out)))
            return out, present, weights

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc, self.c_proj = Conv1D(4 * n_embd, n_embd), Conv1D(n_embd, 4 * n_embd)
            self.dropout = nn.Dropout(0.0)

        def forward(self, h):
            return self.dropout(self.c_proj(gelu_new(self.c_fc(h))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(n_embd, eps=1e-5), SelfAttention()
            self.ln_2, self.mlp = nn.LayerNorm(n_embd, eps=1e-5), MLP()

        def forward(self, h, layer_past=None, attention_mask=None, use_cache=False):
            a, present, weights = self.attn(self.ln_1(h), layer_past, attention_mask, use_cache)
            h = a + h
            return h + self.mlp(self.ln_2(h)), present, weights

    class GPT2Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(n_pos, n_embd)
            self.drop = nn.Dropout(0.0)
            self.h = nn.ModuleList([Block() for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)

        def forward(self, input_ids, past_key_values=None, attention_mask=None,
                    position_ids=None, use_cache=False):
            input_shape = input_ids.size()
            input_ids = input_ids.view(-1, input_shape[-1])
            batch = input_ids.shape[0]
            if past_key_values is None:
                past_length, past_key_values = 0, tuple([None] * len(self.h))
            else:
                past_length = past_key_values[0][0].size(-2)
            if position_ids is None:
                position_ids = lib.arange(past_length, input_shape[-1] + past_length,
                                          dtype=lib.long, device=input_ids.device)
                position_ids = position_ids.unsqueeze(0)
            dtype = self.wte.weight.dtype
            if attention_mask is not None:
                attention_mask = attention_mask.view(batch, -1)[:, None, None, :]
                attention_mask = attention_mask.to(dtype=dtype)
                attention_mask = (1.0 - attention_mask) * lib.finfo(dtype).min
            h = self.drop(self.wte(input_ids) + self.wpe(position_ids))
            presents, all_weights = () if use_cache else None, ()
            for block, layer_past in zip(self.h, past_key_values):
                h, present, weights = block(h, layer_past, attention_mask, use_cache)
                if use_cache:
                    presents = presents + (present,)
                all_weights = all_weights + (weights,)
            h = self.ln_f(h)
            return h.view(input_shape + (h.size(-1),)), presents, all_weights

    class GPT2LMHeadModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = GPT2Model()
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.transformer.wte.weight

        def forward(self, input_ids, labels=None, **kw):
            hidden, presents, weights = self.transformer(input_ids, **kw)
            logits = self.lm_head(hidden)
            loss = None
            if labels is not None:
                shift_logits = logits[..., :-1, :].contiguous()
                shift_labels = labels[..., 1:].contiguous()
                loss_fct = nn.CrossEntropyLoss()
                loss = loss_fct(shift_logits.view(-1, shift_logits.size(-1)),
                                shift_labels.view(-1))
            return loss, logits, presents, weights

    return GPT2LMHeadModel()


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

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, width, padding_idx=pad)
            self.position_embeddings = nn.Embedding(max_pos, width)
            self.token_type_embeddings = nn.Embedding(type_vocab, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.dropout = nn.Dropout(0.0)
            self.register_buffer("position_ids", lib.arange(max_pos).expand((1, -1)),
                                 persistent=False)
            self.register_buffer("token_type_ids",
                                 lib.zeros(self.position_ids.size(), dtype=lib.long),
                                 persistent=False)

        def forward(self, input_ids, token_type_ids=None):
            seq_length = input_ids.size(1)
            position_ids = self.position_ids[:, :seq_length]
            if token_type_ids is None:
                buffered = self.token_type_ids[:, :seq_length]
                token_type_ids = buffered.expand(input_ids.size(0), seq_length)
            emb = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
            emb = emb + self.position_embeddings(position_ids)
            return self.dropout(self.LayerNorm(emb))

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
            self.dropout = nn.Dropout(0.0)

        @staticmethod
        def transpose_for_scores(x):
            return x.view(x.size()[:-1] + (n_heads, head_size)).permute(0, 2, 1, 3)

        def forward(self, h, extended_mask):
            q = self.transpose_for_scores(self.query(h))
            k = self.transpose_for_scores(self.key(h))
            v = self.transpose_for_scores(self.value(h))
            scores = lib.matmul(q, k.transpose(-1, -2)) / math.sqrt(head_size)
            probs = self.dropout(F.softmax(scores + extended_mask, dim=-1))
            ctx = lib.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
            return ctx.view(ctx.size()[:-2] + (width,))

    class AddNorm(nn.Module):
        def __init__(self, fan_in):
            super().__init__()
            self.dense = nn.Linear(fan_in, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.dropout = nn.Dropout(0.0)

        def forward(self, h, residual):
            return self.LayerNorm(self.dropout(self.dense(h)) + residual)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.attention = SelfAttention()
            self.attention_output = AddNorm(width)
            self.intermediate = nn.Linear(width, 4 * width)
            self.output = AddNorm(4 * width)

        def forward(self, h, extended_mask):
            a = self.attention_output(self.attention(h, extended_mask), h)
            return self.output(F.gelu(self.intermediate(a)), a)

    class Pooler(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense, self.activation = nn.Linear(width, width), nn.Tanh()

        def forward(self, h):
            return self.activation(self.dense(h[:, 0]))

    class BertModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embeddings = Embeddings()
            self.layer = nn.ModuleList([Layer() for _ in range(n_layers)])
            self.pooler = Pooler()

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            dtype = self.embeddings.word_embeddings.weight.dtype
            extended = attention_mask[:, None, None, :].to(dtype=dtype)
            extended = (1.0 - extended) * lib.finfo(dtype).min
            h = self.embeddings(input_ids, token_type_ids)
            for layer in self.layer:
                h = layer(h, extended)
            return h, self.pooler(h)

    class LMPredictionHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(width, width)
            self.LayerNorm = nn.LayerNorm(width, eps=1e-12)
            self.decoder = nn.Linear(width, vocab, bias=False)
            self.bias = nn.Parameter(lib.zeros(vocab))
            self.decoder.bias = self.bias

        def forward(self, h):
            return self.decoder(self.LayerNorm(F.gelu(self.dense(h))))

    class BertForPreTraining(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel()
            self.predictions = LMPredictionHead()
            self.seq_relationship = nn.Linear(width, 2)
            self.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

        def _init_weights(self, module):
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

        def forward(self, input_ids, attention_mask, token_type_ids=None, labels=None,
                    next_sentence_label=None):
            seq, pooled = self.bert(input_ids, attention_mask, token_type_ids)
            scores, relation = self.predictions(seq), self.seq_relationship(pooled)
            loss_fct = nn.CrossEntropyLoss()
            mlm = loss_fct(scores.view(-1, vocab), labels.view(-1))
            nsp = loss_fct(relation.view(-1, 2), next_sentence_label.view(-1))
            return mlm + nsp, scores, relation, pooled

    return BertForPreTraining()


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
    relative_buckets = 0
    if bidirectional:
        num_buckets //= 2
        relative_buckets += (relative_position > 0).to(lib.long) * num_buckets
        relative_position = lib.abs(relative_position)
    else:
        relative_position = -lib.min(relative_position, lib.zeros_like(relative_position))
    max_exact = num_buckets // 2
    is_small = relative_position < max_exact
    if_large = max_exact + (
        lib.log(relative_position.float() / max_exact)
        / math.log(max_distance / max_exact) * (num_buckets - max_exact)
    ).to(lib.long)
    if_large = lib.min(if_large, lib.full_like(if_large, num_buckets - 1))
    relative_buckets += lib.where(is_small, relative_position, if_large)
    return relative_buckets


def _t5(lib, vocab=27, d_model=8, d_kv=4, n_heads=2, d_ff=16, n_layers=2, num_buckets=8,
        max_distance=12):
    nn, F = lib.nn, lib.nn.functional

    class T5LayerNorm(nn.Module):
        def __init__(self, eps=1e-6):
            super().__init__()
            self.weight, self.variance_epsilon = nn.Parameter(lib.ones(d_model)), eps

        def forward(self, hidden):
            variance = hidden.to(lib.float32).pow(2).mean(-1, keepdim=True)
            hidden = hidden * lib.rsqrt(variance + self.variance_epsilon)
            if self.weight.dtype == lib.float16:     # (and bfloat16, outside minigrad)
                hidden = hidden.to(self.weight.dtype)
            return self.weight * hidden

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

        def compute_bias(self, q_len, k_len):
            device = self.relative_attention_bias.weight.device
            context = lib.arange(q_len, dtype=lib.long, device=device)[:, None]
            memory = lib.arange(k_len, dtype=lib.long, device=device)[None, :]
            buckets = _t5_bucket(lib, memory - context, not self.is_decoder, num_buckets,
                                 max_distance)
            values = self.relative_attention_bias(buckets)
            return values.permute([2, 0, 1]).unsqueeze(0)

        def forward(self, h, mask=None, kv=None, position_bias=None):
            b, q_len = h.shape[:2]
            src = h if kv is None else kv
            k_len = src.shape[1]

            def shape(s):
                return s.view(b, -1, n_heads, d_kv).transpose(1, 2)

            q, k, v = shape(self.q(h)), shape(self.k(src)), shape(self.v(src))
            scores = lib.matmul(q, k.transpose(3, 2))
            if position_bias is None:
                if self.has_relative_attention_bias:
                    position_bias = self.compute_bias(q_len, k_len)
                else:
                    position_bias = lib.zeros((1, n_heads, q_len, k_len), dtype=scores.dtype)
                if mask is not None:
                    position_bias = position_bias + mask
            scores += position_bias
            weights = F.softmax(scores.float(), dim=-1).type_as(scores)
            out = lib.matmul(weights, v).transpose(1, 2).contiguous().view(b, -1,
                                                                           n_heads * d_kv)
            return self.o(out), position_bias

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

        def _shift_right(self, labels, start=0, pad=0):
            shifted = labels.new_zeros(labels.shape)
            shifted[..., 1:] = labels[..., :-1].clone()
            shifted[..., 0] = start
            shifted.masked_fill_(shifted == -100, pad)
            return shifted

        def forward(self, input_ids, attention_mask, labels):
            dtype = self.shared.weight.dtype
            enc_mask = (1.0 - attention_mask[:, None, None, :].to(dtype)) * lib.finfo(dtype).min
            enc, enc_bias = self.encoder(self.shared(input_ids), enc_mask)
            dec_ids = self._shift_right(labels)
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

    def precompute_freqs_cis(end, theta=10000.0):
        freqs = 1.0 / (theta ** (lib.arange(0, hd, 2)[: (hd // 2)].float() / hd))
        t = lib.arange(end, device=freqs.device)
        freqs = lib.outer(t, freqs).float()
        return lib.polar(lib.ones_like(freqs), freqs)

    def apply_rotary_emb(xq, xk, freqs_cis):
        xq_ = lib.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
        xk_ = lib.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
        shape = [d if i == 1 or i == xq_.ndim - 1 else 1 for i, d in enumerate(xq_.shape)]
        freqs_cis = freqs_cis.view(*shape)
        xq_out = lib.view_as_real(xq_ * freqs_cis).flatten(3)
        xk_out = lib.view_as_real(xk_ * freqs_cis).flatten(3)
        return xq_out.type_as(xq), xk_out.type_as(xk)

    def cos_sin(end, base=10000.0):
        inv_freq = 1.0 / (base ** (lib.arange(0, hd, 2, dtype=lib.int64).float() / hd))
        freqs = lib.outer(lib.arange(end).float(), inv_freq)
        emb = lib.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()

    def rotate_half(x):
        x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
        return lib.cat((-x2, x1), dim=-1)

    def apply_rotary_pos_emb(q, k, cos, sin, position_ids, unsqueeze_dim=1):
        cos = cos[position_ids].unsqueeze(unsqueeze_dim).to(q.dtype)
        sin = sin[position_ids].unsqueeze(unsqueeze_dim).to(q.dtype)
        return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)

    def repeat_kv(hidden, reps):          # (b, kv, L, hd) -> (b, kv * reps, L, hd)
        b, kv, slen, d = hidden.shape
        if reps == 1:
            return hidden
        hidden = hidden[:, :, None, :, :].expand(b, kv, reps, slen, d)
        return hidden.reshape(b, kv * reps, slen, d)

    class RMSNorm(nn.Module):
        def __init__(self):
            super().__init__()
            self.eps, self.weight = eps, nn.Parameter(lib.ones(dim))

        def _norm(self, x):
            return x * lib.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

        def forward(self, x):
            return self._norm(x.float()).type_as(x) * self.weight

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.wq = nn.Linear(dim, n_heads * hd, bias=False)
            self.wk = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.wv = nn.Linear(dim, n_kv_heads * hd, bias=False)
            self.wo = nn.Linear(n_heads * hd, dim, bias=False)
            self.cache_k = lib.zeros((max_batch, max_seq, n_kv_heads, hd))
            self.cache_v = lib.zeros((max_batch, max_seq, n_kv_heads, hd))

        def forward(self, x, start_pos, rot, mask, use_cache):
            bsz, seqlen, _ = x.shape
            xq = self.wq(x).view(bsz, seqlen, n_heads, hd)
            xk = self.wk(x).view(bsz, seqlen, n_kv_heads, hd)
            xv = self.wv(x).view(bsz, seqlen, n_kv_heads, hd)
            if rope == "complex":
                xq, xk = apply_rotary_emb(xq, xk, rot)
            else:
                cos, sin, position_ids = rot
                q, k = apply_rotary_pos_emb(xq.transpose(1, 2), xk.transpose(1, 2), cos, sin,
                                            position_ids)
                xq, xk = q.transpose(1, 2), k.transpose(1, 2)
            if not use_cache:                  # training: the whole sequence, causal SDPA
                q, k, v = xq.transpose(1, 2), xk.transpose(1, 2), xv.transpose(1, 2)
                k = repeat_kv(k, n_rep)
                v = lib.repeat_interleave(v, n_rep, dim=1)
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                self.cache_k = self.cache_k.to(xq)
                self.cache_v = self.cache_v.to(xq)
                self.cache_k[:bsz, start_pos: start_pos + seqlen] = xk
                self.cache_v[:bsz, start_pos: start_pos + seqlen] = xv
                keys = self.cache_k[:bsz, : start_pos + seqlen]
                values = self.cache_v[:bsz, : start_pos + seqlen]
                keys = lib.repeat_interleave(keys, dim=2, repeats=n_rep)
                values = lib.repeat_interleave(values, dim=2, repeats=n_rep)
                q, keys, values = xq.transpose(1, 2), keys.transpose(1, 2), values.transpose(1, 2)
                scores = lib.matmul(q, keys.transpose(2, 3)) / math.sqrt(hd)
                if mask is not None:
                    scores = scores + mask
                scores = F.softmax(scores.float(), dim=-1).type_as(q)
                out = lib.matmul(scores, values)
            return self.wo(out.transpose(1, 2).contiguous().view(bsz, seqlen, -1))

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            hidden = int(2 * (4 * dim) / 3)
            hidden = multiple_of * ((hidden + multiple_of - 1) // multiple_of)
            self.w1 = nn.Linear(dim, hidden, bias=False)
            self.w2 = nn.Linear(hidden, dim, bias=False)
            self.w3 = nn.Linear(dim, hidden, bias=False)

        def forward(self, x):
            return self.w2(F.silu(self.w1(x)) * self.w3(x))

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
            self.freqs_cis = precompute_freqs_cis(max_seq * 2)
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
                mask = lib.full((seqlen, seqlen), float("-inf"), device=tokens.device)
                mask = lib.triu(mask, diagonal=1)
                mask = lib.hstack([lib.zeros((seqlen, start_pos), device=tokens.device),
                                   mask]).type_as(h)
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
    v, _ = lib.topk(logits, min(k, logits.size(-1)))
    logits = logits.clone()
    logits[logits < v[..., [-1]]] = -float("inf")
    return logits


def _top_k_warper(lib, scores, top_k, filter_value=-float("inf")):
    removed = scores < lib.topk(scores, top_k)[0][..., -1, None]
    return scores.masked_fill(removed, filter_value)


def _top_p_descending(lib, logits, top_p):
    F = lib.nn.functional
    sorted_logits, sorted_indices = lib.sort(logits, descending=True)
    cumulative = lib.cumsum(F.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cumulative > top_p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    remove = remove.scatter(1, sorted_indices, remove)
    return logits.masked_fill(remove, -float("inf"))


def _top_p_ascending(lib, scores, top_p, min_tokens_to_keep=1):
    sorted_logits, sorted_indices = lib.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - top_p)
    remove[..., -min_tokens_to_keep:] = 0
    remove = remove.scatter(1, sorted_indices, remove)
    return scores.masked_fill(remove, -float("inf"))


def _repetition_penalty(lib, input_ids, scores, penalty, inplace):
    score = lib.gather(scores, 1, input_ids)
    score = lib.where(score < 0, score * penalty, score / penalty)
    if inplace:
        return scores.clone().scatter_(1, input_ids, score)
    return scores.scatter(1, input_ids, score)


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


def _linear_warmup(num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) /
                   float(max(1, num_training_steps - num_warmup_steps)))
    return lr_lambda


def _train_run(lib, dtype, checkpointing):
    nn = lib.nn
    model = _load(lib, _classifier(lib).to(getattr(lib, dtype)), seed=15, scale=0.5)
    model.gradient_checkpointing = checkpointing
    ids = lib.tensor(_ints(1, 41, (16, 6), 16))
    ids[::3, 4:] = 0
    ys = lib.tensor(_ints(0, 3, 16, 17))
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(ids, ys), batch_size=4)
    no_decay = ["bias", "LayerNorm.weight"]
    named = list(model.named_parameters())
    groups = [
        {"params": [p for n, p in named if not any(nd in n for nd in no_decay)],
         "weight_decay": 0.01},
        {"params": [p for n, p in named if any(nd in n for nd in no_decay)],
         "weight_decay": 0.0},
    ]
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
