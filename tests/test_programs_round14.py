"""Whole programs in the idioms of code people run, a fourteenth round: language models and
vision transformers as tutorials write them.  A hand-built character vocabulary, a GRU
seq2seq with Bahdanau attention trained by teacher forcing and decoded by beam search over
topk/gather, nn.Transformer with causal and key-padding masks and label smoothing, padded
and packed batches, a ViT patch embedding by unfold and by a strided conv, Swin window
partition with roll and a relative-position bias table, and detection utilities written by
hand (box IoU, a greedy NMS loop, anchors from meshgrid, RoI sampling through affine_grid
and grid_sample).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()
F32 = dict(rtol=2e-5, atol=2e-6)   # float32 programs: their Python-float losses as float32's


# ----------------------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------------------
_CORPUS = ["the cat sat", "a dog ran far", "cats nap", "the end"]


def _vocab():
    chars = sorted(set("".join(_CORPUS)))
    itos = ["<pad>", "<sos>", "<eos>"] + chars
    return itos, {c: i for i, c in enumerate(itos)}


@program
def char_vocabulary_pad_sequence_and_packed_gru_classifier(L):
    """A character tokenizer built from a set of the corpus, each sentence encoded to a
    LongTensor with <sos>/<eos>, batched by pad_sequence(batch_first=True), sorted by length
    and packed (enforce_sorted both ways), run through a bidirectional GRU, unpacked by
    pad_packed_sequence, the last hidden states of both directions concatenated and
    classified; the mean over valid steps by a length mask as a second readout."""
    nn, F = L.nn, L.nn.functional
    rnn_utils = L.nn.utils.rnn
    itos, stoi = _vocab()
    seqs = [L.tensor([1] + [stoi[c] for c in s] + [2]) for s in _CORPUS]
    lengths = L.tensor([len(s) for s in seqs])
    padded = rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=0)
    L.manual_seed(0)
    emb = nn.Embedding(len(itos), 6, padding_idx=0).double()
    gru = nn.GRU(6, 5, batch_first=True, bidirectional=True).double()
    head = nn.Linear(10, 3).double()
    packed = rnn_utils.pack_padded_sequence(emb(padded), lengths, batch_first=True,
                                            enforce_sorted=False)
    out, h = gru(packed)
    unpacked, lens = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=16)
    logits = head(L.cat([h[-2], h[-1]], dim=1))
    mask = (L.arange(unpacked.shape[1])[None, :] < lens[:, None]).unsqueeze(-1)
    mean = (unpacked * mask).sum(1) / lens[:, None]
    y = L.tensor([0, 1, 2, 0])
    loss = F.cross_entropy(logits, y) + mean.pow(2).mean()
    loss.backward()
    order = L.argsort(lengths, descending=True)
    packed2 = rnn_utils.pack_padded_sequence(emb(padded[order]), lengths[order],
                                             batch_first=True)
    return dict(padded=padded, lens=lens, bs=packed.batch_sizes, idx=packed.sorted_indices,
                un=unpacked, loss=loss, g=grads_of(gru), ge=emb.weight.grad,
                same=L.equal(gru(packed2)[1][:, packed2.unsorted_indices], h),
                pad_shape=padded.shape, text="".join(itos[i] for i in padded[1].tolist() if i > 2))


@program
def seq2seq_gru_with_bahdanau_attention_and_teacher_forcing(L):
    """The classic translation tutorial: an encoder GRU, a decoder GRUCell whose input is the
    embedded token concatenated with an additive-attention context (v^T tanh(W q + U k)),
    attention masked where the source is padding (masked_fill -inf then softmax), teacher
    forcing chosen by a seeded random draw per step, NLL of log_softmax with ignore_index,
    clip_grad_norm_ and an Adam step; the attention weights returned."""
    nn, F = L.nn, L.nn.functional
    V, E, H = 12, 5, 6
    L.manual_seed(1)

    class Enc(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn = nn.Embedding(V, E, padding_idx=0), nn.GRU(E, H, batch_first=True)

        def forward(self, src):
            return self.rnn(self.emb(src))

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.W, self.U, self.v = nn.Linear(H, H, bias=False), nn.Linear(H, H), \
                nn.Linear(H, 1, bias=False)

        def forward(self, q, keys, mask):
            s = self.v(L.tanh(self.W(q).unsqueeze(1) + self.U(keys))).squeeze(-1)
            a = F.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
            return L.bmm(a.unsqueeze(1), keys).squeeze(1), a

    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.attn = nn.Embedding(V, E), Attn()
            self.cell, self.out = nn.GRUCell(E + H, H), nn.Linear(2 * H, V)

        def forward(self, tok, h, keys, mask):
            ctx, a = self.attn(h, keys, mask)
            h = self.cell(L.cat([self.emb(tok), ctx], -1), h)
            return F.log_softmax(self.out(L.cat([h, ctx], -1)), -1), h, a

    enc, dec = Enc().double(), Dec().double()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = L.optim.Adam(params, lr=0.01)
    src = L.tensor([[3, 4, 5, 6, 0], [7, 8, 9, 0, 0], [4, 4, 10, 11, 3]])
    tgt = L.tensor([[1, 5, 6, 7, 2], [1, 9, 8, 2, 0], [1, 3, 11, 10, 2]])
    losses, norms = [], []
    for step in range(3):
        L.manual_seed(10 + step)
        keys, h = enc(src)
        h = h[0]
        mask = src != 0
        loss, tok, atts = 0.0, tgt[:, 0], []
        for t in range(1, tgt.shape[1]):
            logp, h, a = dec(tok, h, keys, mask)
            atts.append(a)
            loss = loss + F.nll_loss(logp, tgt[:, t], ignore_index=0)
            teach = L.rand(1).item() < 0.5
            tok = tgt[:, t] if teach else logp.argmax(-1)
        loss = loss / (tgt.shape[1] - 1)
        opt.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(params, 1.0).item())
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, norms=norms, att=L.stack(atts, 1).detach(),
                w=dec.state_dict())


@program
def beam_search_over_log_probs_with_topk_gather_and_length_penalty(L):
    """Beam search as NMT repos write it: the batch expanded to batch*beam, scores
    accumulated as (B, beam) + log_softmax, flattened to beam*V and topk'd, the beam and
    token recovered by // and %, histories reordered by gather/index_select, finished beams
    masked to -inf except the EOS continuation, and a GNMT length penalty for the final
    choice."""
    nn, F = L.nn, L.nn.functional
    V, H, B, K, T, EOS = 7, 5, 2, 3, 5, 2
    L.manual_seed(3)
    emb, cell, out = nn.Embedding(V, H).double(), nn.GRUCell(H, H).double(), \
        nn.Linear(H, V).double()
    with L.no_grad():
        h = _t(L, B, H, seed=3).repeat_interleave(K, dim=0)
        tok = L.full((B * K,), 1, dtype=L.long)
        scores = L.zeros(B, K, dtype=L.float64)
        scores[:, 1:] = float("-inf")
        hist = L.zeros(B * K, 0, dtype=L.long)
        done = L.zeros(B * K, dtype=L.bool)
        for _ in range(T):
            h = cell(emb(tok), h)
            logp = F.log_softmax(out(h), -1)
            logp = L.where(done[:, None], L.full_like(logp, float("-inf")), logp)
            logp[done, EOS] = 0.0
            cand = (scores.view(B * K, 1) + logp).view(B, K * V)
            top, idx = cand.topk(K, dim=1)
            beam, word = idx // V, idx % V
            base = (L.arange(B) * K)[:, None]
            sel = (base + beam).view(-1)
            h, hist, done = h.index_select(0, sel), hist[sel], done[sel]
            tok = word.view(-1)
            hist = L.cat([hist, tok[:, None]], 1)
            done = done | (tok == EOS)
            scores = top
        length = (hist != EOS).sum(1).clamp(min=1).view(B, K).double()
        lp = ((5 + length) / 6) ** 0.6
        best = (scores / lp).argmax(1)
        chosen = hist.view(B, K, T).gather(1, best.view(B, 1, 1).expand(B, 1, T)).squeeze(1)
    return dict(scores=scores, hist=hist, best=best, chosen=chosen, lp=lp)


@program
def top_k_top_p_sampling_with_temperature_and_repetition_penalty(L):
    """Sampling-based decoding: logits divided by a
    temperature, a repetition penalty applied by gather/scatter on the tokens already
    produced (divide positive, multiply negative), top-k by the k-th largest value and
    where(-inf), nucleus filtering by sort, softmax cumsum, the mask shifted right by one and
    scattered back to vocabulary order, then multinomial under manual_seed; Categorical's
    log_prob and entropy of the filtered distribution."""
    F = L.nn.functional

    def penalise_repeats(scores, seen, factor):
        """Tokens already produced made less likely: their positive scores divided by the
        factor, their negative ones multiplied by it."""
        old = scores.gather(1, seen)
        return scores.scatter(1, seen, L.where(old > 0, old / factor, old * factor))

    def outside_nucleus(scores, p):
        """True at the tokens outside the smallest best-first set whose probability mass
        passes p (the token that passes p stays in)."""
        ranked, order = scores.sort(descending=True, dim=-1)
        passed = F.softmax(ranked, -1).cumsum(-1) > p
        drop = L.zeros_like(passed)
        drop[..., 1:] = passed[..., :-1].clone()
        return drop.scatter(1, order, drop)

    L.manual_seed(40)
    logits = _t(L, 2, 9, seed=40)
    prev = L.tensor([[1, 3, 3], [0, 8, 2]])
    out, lps = [], []
    for step in range(4):
        lg = penalise_repeats(logits / 0.7, prev, 1.3)
        fifth = L.topk(lg, 5)[0][..., -1:]
        lg = lg.masked_fill(lg < fifth, float("-inf"))
        lg = lg.masked_fill(outside_nucleus(lg, 0.85), float("-inf"))
        tok = L.multinomial(F.softmax(lg, -1), 1)
        d = L.distributions.Categorical(logits=lg)
        lps.append((d.log_prob(tok.squeeze(1)), d.entropy()))
        prev = L.cat([prev, tok], 1)
        logits = logits + 0.1 * F.one_hot(tok.squeeze(1), 9)
        out.append(tok)
    return dict(prev=prev, lps=lps, last=lg)


def _square_mask(L, n):
    return L.triu(L.full((n, n), float("-inf"), dtype=L.float64), diagonal=1)


@program
def nn_transformer_seq2seq_with_causal_and_padding_masks_and_label_smoothing(L):
    """nn.Transformer(batch_first=True) with scaled token embeddings and a sinusoidal
    positional table registered as a non-persistent buffer, the causal mask from
    generate_square_subsequent_mask, src/tgt key_padding_masks, memory_key_padding_mask,
    CrossEntropyLoss(label_smoothing=0.1, ignore_index=0), and two AdamW steps in eval()
    (dropout off)."""
    nn = L.nn
    V, D = 10, 8

    class SinusoidTable(nn.Module):
        """Adds a fixed table of sines (even columns) and cosines (odd columns) whose
        frequencies fall geometrically from 1 to 1/10000; kept out of the state_dict."""

        def __init__(self, width, longest=20):
            super().__init__()
            freqs = L.exp(-math.log(10000.0) / width * L.arange(0, width, 2, dtype=L.float64))
            angles = L.arange(longest, dtype=L.float64)[:, None] * freqs
            table = L.zeros(longest, width, dtype=L.float64)
            table[:, ::2], table[:, 1::2] = angles.sin(), angles.cos()
            self.register_buffer("table", table, persistent=False)

        def forward(self, tokens):
            return tokens + self.table[: tokens.size(1)]

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.pos = nn.Embedding(V, D, padding_idx=0), SinusoidTable(D)
            self.tf = nn.Transformer(D, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                                     dim_feedforward=16, dropout=0.1, batch_first=True)
            self.out = nn.Linear(D, V)

        def forward(self, src, tgt):
            cm = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], dtype=L.float64)
            s = self.pos(self.emb(src) * math.sqrt(D))
            t = self.pos(self.emb(tgt) * math.sqrt(D))
            h = self.tf(s, t, tgt_mask=cm, src_key_padding_mask=src == 0,
                        tgt_key_padding_mask=tgt == 0, memory_key_padding_mask=src == 0)
            return self.out(h)

    L.manual_seed(4)
    m = Model().double().eval()
    src = L.tensor([[4, 5, 6, 0], [7, 3, 0, 0]])
    tgt = L.tensor([[1, 4, 5, 6, 2], [1, 7, 3, 2, 0]])
    crit = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=0)
    opt = L.optim.AdamW(m.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        logits = m(src, tgt[:, :-1])
        loss = crit(logits.reshape(-1, V), tgt[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, keys=list(m.state_dict())[:6], n=len(m.state_dict()),
                logits=logits.detach(), mask=_square_mask(L, 3),
                gen=nn.Transformer.generate_square_subsequent_mask(3))


@program
def transformer_encoder_classifier_with_cls_token_and_bool_masks(L):
    """A BERT-style classifier: a learned [CLS] parameter prepended with expand/cat, learned
    positional embeddings, TransformerEncoder of two norm_first layers with GELU activation
    and a final LayerNorm, key_padding_mask as bool, the [CLS] output classified; the
    gradients of the CLS token and positions, and the output with an explicit bool
    attn_mask too."""
    nn, F = L.nn, L.nn.functional
    D, N = 8, 5
    L.manual_seed(5)
    layer = nn.TransformerEncoderLayer(D, 2, 16, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(D),
                                enable_nested_tensor=False).double()
    cls = nn.Parameter(L.zeros(1, 1, D, dtype=L.float64))
    pos = nn.Parameter(_t(L, 1, N + 1, D, scale=0.02, seed=5))
    head = nn.Linear(D, 3).double()
    x = _t(L, 3, N, D, seed=6)
    pad = L.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])
    h = L.cat([cls.expand(3, -1, -1), x], 1) + pos
    kpm = F.pad(pad, (1, 0), value=False)
    z = enc(h, src_key_padding_mask=kpm)
    loss = F.cross_entropy(head(z[:, 0]), L.tensor([0, 2, 1]))
    loss.backward()
    am = L.ones(N + 1, N + 1, dtype=L.bool).tril()
    z2 = enc(h.detach(), mask=am)
    return dict(z=z, loss=loss, gc=cls.grad, gp=pos.grad, g=grads_of(head), z2=z2)


@program
def multihead_attention_weights_averaged_or_per_head_with_float_and_bool_masks(L):
    """nn.MultiheadAttention used by hand: kdim/vdim different from embed_dim, a float
    additive attn_mask and a bool key_padding_mask, need_weights with
    average_attn_weights True and False, batch_first and sequence-first layouts, add_bias_kv
    and add_zero_attn; the in_proj split q/k/v weights of the separate-proj case in the
    state_dict."""
    nn = L.nn
    L.manual_seed(6)
    mha = nn.MultiheadAttention(6, 2, kdim=4, vdim=5, batch_first=True).double()
    q, k, v = _t(L, 2, 3, 6, seed=1), _t(L, 2, 4, 4, seed=2), _t(L, 2, 4, 5, seed=3)
    am = _t(L, 3, 4, seed=4, scale=0.5)
    kpm = L.tensor([[False, False, False, True], [False, True, False, False]])
    o1, w1 = mha(q, k, v, attn_mask=am, key_padding_mask=kpm)
    o2, w2 = mha(q, k, v, key_padding_mask=kpm, average_attn_weights=False)
    (o1.sum() + o2.pow(2).sum()).backward()
    L.manual_seed(7)
    m2 = nn.MultiheadAttention(6, 3, add_bias_kv=True, add_zero_attn=True).double()
    x = _t(L, 4, 2, 6, seed=5)
    cm = L.ones(4, 4, dtype=L.bool).triu(1)
    o3, w3 = m2(x, x, x, attn_mask=cm)
    o4, w4 = m2(x, x, x, need_weights=False)
    return dict(o1=o1, w1=w1, o2=o2, w2=w2, g=grads_of(mha), keys=sorted(mha.state_dict()),
                o3=o3, w3=w3, o4=o4, w4=w4, keys2=sorted(m2.state_dict()),
                bad=[err(lambda: nn.MultiheadAttention(5, 2)),
                     err(lambda: mha(q, k, v, attn_mask=L.zeros(3, 5, dtype=L.float64))),
                     err(lambda: mha(q, k, v, is_causal=True))])


@program
def word_level_language_model_with_tied_weights_and_bptt_batches(L):
    """A word-level language model: a corpus tokenised by split, a dictionary built with
    setdefault, the id stream batchified (narrow to a multiple, view(bsz, -1).t()),
    get_batch slices of bptt length, an LSTM with weights tied to the embedding, the hidden
    state detached between batches (repackage), clip_grad_norm_ and a manual SGD update
    p.data.add_(p.grad, alpha=-lr); perplexity by exp of the mean loss."""
    nn, F = L.nn, L.nn.functional
    text = "the cat sat on the mat and the dog sat on the log while the cat ran".split()
    vocab = {}
    for w in text:
        vocab.setdefault(w, len(vocab))
    ids = L.tensor([vocab[w] for w in text], dtype=L.long)
    bsz, bptt = 2, 4
    # bsz parallel streams, one per column: the tail that does not fill a row is dropped
    rows = ids.size(0) // bsz
    data = ids.narrow(0, 0, rows * bsz).view(bsz, -1).t().contiguous()
    V, D = len(vocab), 6
    L.manual_seed(8)

    class TiedLSTM(nn.Module):
        """Embedding -> 2-layer LSTM -> Linear, the output matrix being the embedding's."""

        def __init__(self):
            super().__init__()
            self.enc, self.rnn, self.dec = nn.Embedding(V, D), nn.LSTM(D, D, 2), nn.Linear(D, V)
            self.dec.weight = self.enc.weight
            nn.init.uniform_(self.enc.weight, -0.1, 0.1)
            nn.init.zeros_(self.dec.bias)

        def forward(self, x, state):
            seq, state = self.rnn(self.enc(x), state)
            return self.dec(seq), state

    m = TiedLSTM().double()
    state = (L.zeros(2, bsz, D, dtype=L.float64), L.zeros(2, bsz, D, dtype=L.float64))
    losses = []
    for start in range(0, data.size(0) - 1, bptt):
        span = min(bptt, data.size(0) - 1 - start)
        inp = data[start:start + span]
        nxt = data[start + 1:start + 1 + span].reshape(-1)     # the next word at each step
        state = tuple(t.detach() for t in state)   # carry the state, not its history
        m.zero_grad()
        out, state = m(inp, state)
        loss = F.cross_entropy(out.view(-1, V), nxt)
        loss.backward()
        nn.utils.clip_grad_norm_(m.parameters(), 0.25)
        for w in m.parameters():                   # plain SGD by hand, lr 5
            w.data.add_(w.grad, alpha=-5.0)
        losses.append(loss.item())
    return dict(data=data, losses=losses, ppl=math.exp(sum(losses) / len(losses)),
                tied=m.dec.weight is m.enc.weight, n=len(list(m.parameters())),
                sd=sorted(m.state_dict()), w=m.enc.weight)


# ----------------------------------------------------------------------------------------------
# vision transformers
# ----------------------------------------------------------------------------------------------
@program
def vit_patch_embedding_by_unfold_equals_the_strided_conv_and_trains(L):
    """ViT's patchify two ways: F.unfold with kernel=stride=patch then transpose, and
    Tensor.unfold twice with permute/reshape; both fed to a Linear equal to a Conv2d with the
    same weights flattened; a class token, learned positions, one encoder block written by
    hand (LayerNorm, qkv Linear split by reshape/permute, scaled dot-product attention,
    MLP with GELU tanh), an SGD step; the interpolated position table for a larger
    image."""
    nn, F = L.nn, L.nn.functional
    P, C, D = 4, 3, 8
    L.manual_seed(9)
    conv = nn.Conv2d(C, D, P, stride=P).double()
    lin = nn.Linear(C * P * P, D).double()
    with L.no_grad():
        lin.weight.copy_(conv.weight.flatten(1))
        lin.bias.copy_(conv.bias)
    img = _t(L, 2, C, 8, 12, seed=9)
    a = conv(img).flatten(2).transpose(1, 2)
    b = lin(F.unfold(img, kernel_size=P, stride=P).transpose(1, 2))
    pt = img.unfold(2, P, P).unfold(3, P, P)              # B C h w P P
    c = lin(pt.permute(0, 2, 3, 1, 4, 5).reshape(2, -1, C * P * P))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.qkv, self.proj = nn.LayerNorm(D), nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.n2 = nn.LayerNorm(D)
            self.mlp = nn.Sequential(nn.Linear(D, 16), nn.GELU(approximate="tanh"),
                                     nn.Linear(16, D))

        def forward(self, x):
            B, N, _ = x.shape
            q, k, v = self.qkv(self.n1(x)).reshape(B, N, 3, 2, D // 2).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(q, k, v)
            x = x + self.proj(o.transpose(1, 2).reshape(B, N, D))
            return x + self.mlp(self.n2(x))

    blk = Block().double()
    cls = nn.Parameter(L.zeros(1, 1, D, dtype=L.float64))
    pos = nn.Parameter(_t(L, 1, 7, D, scale=0.02, seed=10))
    opt = L.optim.SGD(list(blk.parameters()) + [cls, pos] + list(conv.parameters()), lr=0.1)
    x = L.cat([cls.expand(2, -1, -1), conv(img).flatten(2).transpose(1, 2)], 1) + pos
    loss = blk(x)[:, 0].pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    grid = pos[:, 1:].reshape(1, 2, 3, D).permute(0, 3, 1, 2)
    big = F.interpolate(grid, size=(4, 6), mode="bicubic", align_corners=False)
    return dict(ab=(a - b).abs().max(), ac=(a - c).abs().max(), a=a, loss=loss,
                conv=conv.weight, pos=pos, big=big, g=grads_of(blk))


def _to_windows(img, side):
    """(B, H, W, C) -> (B * H/side * W/side, side * side, C): non-overlapping square tiles,
    row of tiles by row of tiles, each tile's pixels in row-major order."""
    b, h, w, c = img.shape
    tiles = img.view(b, h // side, side, w // side, side, c).permute(0, 1, 3, 2, 4, 5)
    return tiles.reshape(-1, side * side, c)


def _from_windows(tiles, side, h, w):
    """The inverse of ``_to_windows``: tiles back to (B, H, W, C)."""
    c = tiles.shape[-1]
    grid = tiles.view(-1, h // side, w // side, side, side, c).transpose(2, 3)
    return grid.contiguous().view(-1, h, w, c)


@program
def swin_shifted_window_attention_with_relative_position_bias_and_mask(L):
    """Swin's block: the relative-position index built from meshgrid(indexing='ij'),
    flatten, broadcast difference, shift and the (2w-1) multiplier, summed and registered
    as a buffer; a trunc_normal_-initialised bias table indexed by it; cyclic shift by
    torch.roll, window partition/reverse by view/permute, the shifted-window attention mask
    from slices and masked_fill(-100), attention per window with the bias added; the
    roll back and a backward."""
    nn, F = L.nn, L.nn.functional
    ws, shift, C, heads, H, W = 2, 1, 4, 2, 4, 4
    hd = C // heads
    L.manual_seed(11)
    # index of (dy, dx) between two pixels of a window: both offsets moved to >= 0, then
    # read as the digits of a base-(2ws-1) number
    rows, cols = L.meshgrid(L.arange(ws), L.arange(ws), indexing="ij")
    pix = L.flatten(L.stack([rows, cols]), 1)                       # (2, ws*ws)
    offs = pix.unsqueeze(2) - pix.unsqueeze(1) + (ws - 1)           # (2, N, N)
    offs[0] *= 2 * ws - 1
    index = offs.sum(0)
    table = nn.Parameter(L.zeros((2 * ws - 1) ** 2, heads, dtype=L.float64))
    nn.init.trunc_normal_(table, std=0.02)
    qkv, proj = nn.Linear(C, 3 * C).double(), nn.Linear(C, C).double()

    # after the cyclic shift, pixels of one window may come from three bands of rows and
    # three of columns; pairs from different (row band, column band) regions are masked
    def bands(n):
        band = L.zeros(n)
        band[n - ws:] = 1
        band[n - shift:] = 2
        return band

    region = (3 * bands(H)[:, None] + bands(W)[None, :]).view(1, H, W, 1)
    reg = _to_windows(region, ws).squeeze(-1)                       # (nW, N)
    apart = reg[:, None, :] - reg[:, :, None]
    attn_mask = L.zeros_like(apart).masked_fill(apart != 0, -100.0)
    nW = attn_mask.shape[0]

    x = _t(L, 2, H, W, C, seed=11, grad=True)
    win = _to_windows(L.roll(x, shifts=(-shift, -shift), dims=(1, 2)), ws)
    Bw, N, _ = win.shape
    q, k, v = (t.transpose(1, 2) for t in qkv(win).view(Bw, N, 3, heads, hd).unbind(2))
    scores = L.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
    scores = scores + table[index].permute(2, 0, 1)                 # (heads, N, N) bias
    scores = scores.unflatten(0, (-1, nW)) + attn_mask[None, :, None].double()
    probs = F.softmax(scores.flatten(0, 1), dim=-1)
    o = proj(L.matmul(probs, v).transpose(1, 2).flatten(2))
    y = L.roll(_from_windows(o, ws, H, W), shifts=(shift, shift), dims=(1, 2))
    y.pow(2).sum().backward()
    return dict(index=index, mask=attn_mask, y=y, gx=x.grad, gt=table.grad, g=grads_of(qkv))


@program
def patch_merging_and_drop_path_stochastic_depth_in_train_and_eval(L):
    """Swin's patch merging by strided slicing x[:, 0::2, 0::2] etc., cat, LayerNorm and a
    bias-free reduction; timm's drop_path: a (B, 1, 1, 1) Bernoulli mask from
    x.new_empty(shape).bernoulli_(keep) divided by keep, identity in eval; the layer-scale
    gamma multiplication."""
    nn = L.nn
    L.manual_seed(12)
    norm, red = nn.LayerNorm(16).double(), nn.Linear(16, 8, bias=False).double()
    x = _t(L, 3, 4, 4, 4, seed=12, grad=True)
    x0, x1, x2, x3 = x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]
    merged = red(norm(L.cat([x0, x1, x2, x3], -1)))

    def stochastic_depth(t, rate, training):
        """Each sample of the batch kept whole with probability 1 - rate and rescaled."""
        if not training or rate == 0.0:
            return t
        survive = 1.0 - rate
        coin = t.new_empty(t.shape[:1] + (1,) * (t.dim() - 1))
        return coin.bernoulli_(survive).div_(survive) * t

    gamma = nn.Parameter(1e-1 * L.ones(8, dtype=L.float64))
    L.manual_seed(13)
    tr = stochastic_depth(merged * gamma, 0.4, True)
    ev = stochastic_depth(merged * gamma, 0.4, False)
    (tr.sum() + ev.mean()).backward()
    return dict(merged=merged, tr=tr, ev=ev, gx=x.grad, gg=gamma.grad, gn=grads_of(norm))


# ----------------------------------------------------------------------------------------------
# detection utilities
# ----------------------------------------------------------------------------------------------
def _box_iou(L, a, b):
    """IoU of every box of a with every box of b, boxes as (x1, y1, x2, y2)."""
    def area(bx):
        return (bx[:, 2] - bx[:, 0]) * (bx[:, 3] - bx[:, 1])

    near = L.max(a[:, None, :2], b[None, :, :2])         # overlap's top-left corner
    far = L.min(a[:, None, 2:], b[None, :, 2:])          # and its bottom-right one
    side = (far - near).clamp(min=0)
    overlap = side[..., 0] * side[..., 1]
    return overlap / (area(a)[:, None] + area(b)[None] - overlap)


def _boxes(L, n, seed):
    r = np.random.RandomState(seed)
    xy = r.uniform(0, 20, (n, 2))
    wh = r.uniform(2, 10, (n, 2))
    return L.tensor(np.concatenate([xy, xy + wh], 1))


@program
def greedy_nms_loop_and_batched_nms_by_coordinate_offsets(L):
    """NMS written by hand: scores sorted descending, a while loop keeping the first index,
    the IoU of it with the rest and the survivors kept by a boolean mask; class-aware NMS by
    offsetting boxes by class * (max coordinate + 1); the kept boxes gathered, plus the
    generalised IoU of matched pairs."""
    boxes = _boxes(L, 12, 1)
    scores = L.tensor(np.random.RandomState(2).rand(12))
    classes = L.tensor(np.random.RandomState(3).randint(0, 3, 12))

    def nms(b, s, thr):
        order = s.argsort(descending=True)
        keep = []
        while order.numel() > 0:
            i = order[0]
            keep.append(i.item())
            if order.numel() == 1:
                break
            iou = _box_iou(L, b[i].unsqueeze(0), b[order[1:]]).squeeze(0)
            order = order[1:][iou <= thr]
        return L.tensor(keep, dtype=L.long)

    keep = nms(boxes, scores, 0.3)
    off = classes.to(boxes) * (boxes.max() + 1)
    keep_c = nms(boxes + off[:, None], scores, 0.3)
    a, b = boxes[:6], boxes[6:]
    lt, rb = L.min(a[:, :2], b[:, :2]), L.max(a[:, 2:], b[:, 2:])
    hull = (rb - lt).prod(1)
    iou = L.diagonal(_box_iou(L, a, b))
    union = ((a[:, 2:] - a[:, :2]).prod(1) + (b[:, 2:] - b[:, :2]).prod(1)) / (1 + iou) * 1
    giou = iou - (hull - union) / hull
    return dict(keep=keep, keep_c=keep_c, kept=boxes[keep], iou=_box_iou(L, a, b), giou=giou)


@program
def anchor_generation_by_meshgrid_and_box_coding_with_matching(L):
    """An RPN's anchors: base anchors from scales x ratios (sqrt of ratios, stacked
    [-w,-h,w,h]/2, rounded), shifts from meshgrid(indexing='ij') of arange * stride,
    (shifts[:, None] + base[None]).reshape(-1, 4); ground truth matched by IoU max/argmax
    along dim 0 with low-quality matches allowed (where iou == max per gt); box deltas
    encoded with weights (10, 10, 5, 5) and decoded back with clamp of dw/dh."""
    scales, ratios = L.tensor([8.0, 16.0], dtype=L.float64), L.tensor([0.5, 1.0, 2.0],
                                                                       dtype=L.float64)
    # one anchor per (ratio, scale), centred on 0, area scale**2, height/width = ratio
    hr = L.sqrt(ratios)
    wr = 1 / hr
    half_w = (wr[:, None] * scales[None, :]).view(-1) / 2
    half_h = (hr[:, None] * scales[None, :]).view(-1) / 2
    base = L.stack([-half_w, -half_h, half_w, half_h], dim=1).round()
    # every base anchor moved to every cell of a 3 x 4 grid of stride 8
    cy, cx = L.meshgrid(L.arange(0, 3, dtype=L.float64) * 8, L.arange(0, 4, dtype=L.float64) * 8,
                        indexing="ij")
    corner = L.stack((cx.reshape(-1), cy.reshape(-1)) * 2, dim=1)     # (x, y, x, y)
    anchors = (corner.unsqueeze(1) + base.unsqueeze(0)).reshape(-1, 4)
    gt = _boxes(L, 3, 4)
    iou = _box_iou(L, gt, anchors)
    vals, matches = iou.max(dim=0)              # the best ground truth of each anchor
    # each ground truth also claims the anchors it overlaps most, however little
    gt_i, pred_i = L.where(iou == iou.max(dim=1)[0][:, None])
    matches[vals < 0.3] = -1
    matches[pred_i] = gt_i
    m = gt[matches.clamp(min=0)]

    def centre_size(bx):
        w, h = bx[:, 2] - bx[:, 0], bx[:, 3] - bx[:, 1]
        return bx[:, 0] + 0.5 * w, bx[:, 1] + 0.5 * h, w, h

    wts = (10.0, 10.0, 5.0, 5.0)
    ax, ay, aw, ah = centre_size(anchors)
    gx, gy, gw, gh = centre_size(m)
    # offsets in anchor sizes, log size ratios, each scaled by its weight
    deltas = L.stack([wts[0] * (gx - ax) / aw, wts[1] * (gy - ay) / ah,
                      wts[2] * L.log(gw / aw), wts[3] * L.log(gh / ah)], 1)
    dx, dy, dw, dh = (deltas / L.tensor(wts, dtype=L.float64)).unbind(1)
    most = math.log(1000.0 / 16)                # no box grows more than 1000/16 times
    w, h = L.exp(dw.clamp(max=most)) * aw, L.exp(dh.clamp(max=most)) * ah
    cx, cy = dx * aw + ax, dy * ah + ay
    dec = L.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], 1)
    return dict(base=base, anchors=anchors, matches=matches, deltas=deltas,
                err=(dec - m).abs().max(), gi=gt_i, pi=pred_i)


@program
def roi_align_by_affine_grid_and_grid_sample_with_gradients(L):
    """RoI pooling written without torchvision: each box (x1, y1, x2, y2) in pixels turned
    into an affine theta in normalised coordinates (scale and translation, align_corners
    False), affine_grid to a (R, 7, 7, 2) grid, the feature map repeated per box by
    index_select of the batch index, grid_sample bilinear with zeros padding; adaptive max
    pooling of the crops; gradients to the features and to the box coordinates."""
    F = L.nn.functional
    feat = _t(L, 2, 3, 10, 12, seed=14, grad=True)
    rois = L.tensor([[0, 1.0, 2.0, 7.0, 8.0], [1, 0.0, 0.0, 11.0, 9.0],
                     [0, 4.5, 3.5, 9.0, 6.0]], dtype=L.float64, requires_grad=True)
    H, W = feat.shape[-2:]
    b = rois[:, 1:]
    x1, y1, x2, y2 = b.unbind(1)
    theta = L.zeros(3, 2, 3, dtype=L.float64)
    theta = L.stack([L.stack([(x2 - x1) / W, L.zeros_like(x1), (x1 + x2) / W - 1], 1),
                     L.stack([L.zeros_like(x1), (y2 - y1) / H, (y1 + y2) / H - 1], 1)], 1)
    grid = F.affine_grid(theta, (3, 3, 4, 4), align_corners=False)
    crops = F.grid_sample(feat.index_select(0, rois[:, 0].long()), grid, mode="bilinear",
                          padding_mode="zeros", align_corners=False)
    pooled = F.adaptive_max_pool2d(crops, 2)
    (crops.sum() + pooled.pow(2).sum()).backward()
    near = F.grid_sample(feat.detach(), grid[:2], mode="nearest", padding_mode="border",
                         align_corners=True)
    return dict(grid=grid, crops=crops, pooled=pooled, gf=feat.grad, gr=rois.grad, near=near)


@program
def yolo_style_grid_decoding_with_sigmoid_offsets_and_confidence_filter(L):
    """A detection head's output (B, A*(5+C), H, W) viewed to (B, A, 5+C, H, W) and permuted
    to (B, A, H, W, 5+C); the cell grid from arange/meshgrid added to sigmoid(xy), anchors
    times exp(wh), objectness by sigmoid times class softmax, boxes above a confidence kept
    with nonzero(as_tuple=True), converted xywh->xyxy and batch indices gathered."""
    B, A, C, H, W = 2, 2, 3, 3, 4
    p = _t(L, B, A * (5 + C), H, W, seed=15)
    anchors = L.tensor([[1.0, 1.5], [2.0, 1.0]], dtype=L.float64)
    p = p.view(B, A, 5 + C, H, W).permute(0, 1, 3, 4, 2).contiguous()
    gy, gx = L.meshgrid(L.arange(H), L.arange(W), indexing="ij")
    grid = L.stack((gx, gy), 2).view(1, 1, H, W, 2).double()
    xy = (p[..., :2].sigmoid() + grid) * 8
    wh = p[..., 2:4].exp() * anchors.view(1, A, 1, 1, 2) * 8
    conf = p[..., 4:5].sigmoid() * p[..., 5:].softmax(-1)
    score, cls = conf.max(-1)
    bi, ai, yi, xi = (score > 0.3).nonzero(as_tuple=True)
    sel_xy, sel_wh = xy[bi, ai, yi, xi], wh[bi, ai, yi, xi]
    boxes = L.cat([sel_xy - sel_wh / 2, sel_xy + sel_wh / 2], 1)
    return dict(score=score, cls=cls, bi=bi, boxes=boxes, n=int(bi.numel()),
                flat=conf.view(B, -1, C).shape)


# ----------------------------------------------------------------------------------------------
# point clouds
# ----------------------------------------------------------------------------------------------
@program
def pointnet_classifier_with_tnet_regulariser_and_max_over_points(L):
    """PointNet: a T-Net predicting a 3x3 transform (plus identity repeated by .repeat over
    the batch) applied by bmm, shared MLPs as Conv1d(kernel 1) with BatchNorm1d, the global
    feature by torch.max over points (values and indices), the orthogonality regulariser
    ||I - A A^T|| of the feature transform, NLL of log_softmax; a train step then eval."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(16)

    def move(points, mat):
        """(B, C, N) points times a (B, C, C) matrix, point by point."""
        return L.bmm(points.transpose(1, 2), mat).transpose(1, 2)

    class TNet(nn.Module):
        """Predicts a (B, k, k) alignment matrix from (B, k, N) points: per-point features,
        a max over the points, a Linear to k*k numbers added to the flattened identity."""

        def __init__(self, k):
            super().__init__()
            self.k = k
            self.c1, self.c2 = nn.Conv1d(k, 8, 1), nn.Conv1d(8, 16, 1)
            self.b1, self.b2 = nn.BatchNorm1d(8), nn.BatchNorm1d(16)
            self.fc = nn.Linear(16, k * k)

        def forward(self, points):
            per_point = F.relu(self.b1(self.c1(points)))
            per_point = F.relu(self.b2(self.c2(per_point)))
            pooled = L.max(per_point, 2, keepdim=True).values.view(-1, 16)
            start = L.eye(self.k, dtype=points.dtype).reshape(1, self.k * self.k)
            flat = self.fc(pooled) + start.repeat(len(points), 1)
            return flat.view(-1, self.k, self.k)

    class PointNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.t3, self.tf = TNet(3), TNet(8)
            self.c1, self.b1 = nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8)
            self.c2, self.b2 = nn.Conv1d(8, 32, 1), nn.BatchNorm1d(32)
            self.head = nn.Sequential(nn.Linear(32, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                      nn.Dropout(0.3), nn.Linear(16, 4))

        def forward(self, points):
            feats = F.relu(self.b1(self.c1(move(points, self.t3(points)))))
            align = self.tf(feats)
            feats = self.b2(self.c2(move(feats, align)))
            top, where = L.max(feats, 2)
            return F.log_softmax(self.head(top), dim=1), align, where

    net = PointNet().double()
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    pts = _t(L, 4, 3, 20, seed=16)
    y = L.tensor([0, 3, 1, 2])
    L.manual_seed(17)
    logp, A, idx = net(pts)
    # how far the feature transform is from orthogonal: ||A A^T - I||_F per cloud
    gram = L.bmm(A, A.transpose(1, 2))
    reg = L.mean(L.norm(gram - L.eye(8, dtype=L.float64).expand_as(gram), dim=(1, 2)))
    loss = F.nll_loss(logp, y) + 1e-3 * reg
    opt.zero_grad()
    loss.backward()
    opt.step()
    net.eval()
    with L.no_grad():
        ev = net(pts)[0]
    return dict(loss=loss, idx=idx, ev=ev, rm=net.b2.running_mean,
                g=grads_of(net.t3), nbt=net.b1.num_batches_tracked)


@program
def dgcnn_edge_conv_knn_by_pairwise_distance_topk_and_gather(L):
    """DGCNN's EdgeConv: pairwise distances as -||x||^2 + 2 x^T x - ||x||^2, k nearest by
    topk, neighbour features gathered with an index offset by batch (idx + arange(B)*N,
    view(-1)), the edge feature cat(x_j - x_i, x_i) through Conv2d + BatchNorm2d +
    LeakyReLU(0.2) and max over neighbours; the knn also by cdist + topk(largest=False)
    agreeing on the neighbour sets."""
    nn, F = L.nn, L.nn.functional
    B, C, N, k = 2, 3, 10, 4
    x = _t(L, B, C, N, seed=17, grad=True)
    # minus the squared distance between points i and j: 2 x_i.x_j - |x_i|^2 - |x_j|^2
    sq = L.sum(x ** 2, dim=1, keepdim=True)                          # (B, 1, N)
    closeness = 2 * L.matmul(x.transpose(2, 1), x) - sq - sq.transpose(2, 1)
    idx = closeness.topk(k=k, dim=-1)[1]
    pts = x.detach().transpose(1, 2)
    idx2 = L.cdist(pts, pts).topk(k, dim=-1, largest=False)[1]
    same = L.equal(idx.sort(-1)[0], idx2.sort(-1)[0])

    def edge_features(points, nbr):
        """(B, C, N) points and (B, N, k) neighbour ids -> (B, 2C, N, k): for every
        neighbour j of i, the offset x_j - x_i stacked on x_i.  Neighbours are read from
        one (B*N, C) table, so each cloud's ids are shifted by its first row."""
        rows = points.transpose(2, 1).contiguous()                    # (B, N, C)
        first_row = L.arange(0, B).view(-1, 1, 1) * N
        nbrs = rows.view(B * N, -1)[(nbr + first_row).view(-1), :].view(B, N, k, C)
        centre = rows.view(B, N, 1, C).repeat(1, 1, k, 1)
        return L.cat((nbrs - centre, centre), dim=3).permute(0, 3, 1, 2).contiguous()

    edge = edge_features(x, idx)
    L.manual_seed(18)
    conv = nn.Sequential(nn.Conv2d(2 * C, 8, 1, bias=False), nn.BatchNorm2d(8),
                         nn.LeakyReLU(0.2)).double()
    out = conv(edge).max(dim=-1, keepdim=False)[0]
    F.adaptive_avg_pool1d(out, 1).sum().backward()
    return dict(idx=idx, same=same, out=out, gx=x.grad, g=grads_of(conv))


@program
def chamfer_distance_and_farthest_point_sampling_by_argmax_loop(L):
    """Point-cloud losses: the Chamfer distance from a (B, N, M) squared distance matrix by
    min over both axes, with gradients to the predicted points; farthest point sampling as
    a loop over steps keeping a running min distance and argmax, the first index random from
    torch.randint under a generator."""
    a = _t(L, 2, 9, 3, seed=19, grad=True)
    b = _t(L, 2, 7, 3, seed=20)
    d = ((a[:, :, None] - b[:, None]) ** 2).sum(-1)
    cd = d.min(2)[0].mean(1) + d.min(1)[0].mean(1)
    cd.mean().backward()

    def farthest_first(points, count, gen):
        """Greedy farthest-point order: a random first point, then again and again the
        point farthest from everything chosen so far, that distance kept as a running
        minimum over the chosen points.  Returns the ids and the final distances."""
        nb, npts = points.shape[:2]
        picked = L.zeros(nb, count, dtype=L.long)
        gap = L.full((nb, npts), 1e10, dtype=L.float64)
        cur = L.randint(0, npts, (nb,), generator=gen)
        rows = L.arange(nb)
        for step in range(count):
            picked[:, step] = cur
            newest = points[rows, cur, :].view(nb, 1, 3)
            gap = L.minimum(gap, ((points - newest) ** 2).sum(-1))
            cur = L.max(gap, -1)[1]
        return picked, gap

    cent, dist = farthest_first(a.detach(), 4, L.Generator().manual_seed(3))
    return dict(cd=cd, ga=a.grad, cent=cent, dist=dist)


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
