"""Whole programs of round 33, part b: sequence and language models, the official tutorials'
and recipes' API corners earlier rounds left out, and torch.func.

Luong attention with input feeding over a packed bidirectional LSTM (enforce_sorted=False)
with scheduled sampling; a CTC recogniser with strided-conv subsampling, concatenated
targets and zero_infinity; batched beam search with GNMT's length penalty; the "Language
Translation with nn.Transformer" tutorial (sequence-first, its masks, greedy decoding); a
TransformerEncoder classifier whose inference fast path zeroes the padded positions; the
torchtext text-classification tutorial's EmbeddingBag model; EmbeddingBag's weighted, max,
include_last_offset and max_norm corners; a character LM whose LSTM projects (proj_size) to
the tied embedding, trained by truncated BPTT and sampled; an adaptive-softmax word LM;
pack_sequence / unpad_sequence / unpack_sequence and left padding; a decoder-only LM with
left padding, a tied head, label smoothing, gradient accumulation and top-k sampling;
torch.func's linearize, grad_and_value with aux, functional_call with tied weights and
strict; training an ensemble through vmap(grad_and_value) of stacked state; DP-SGD by
per-sample gradients; Hessians of a model's loss four ways; the NTK by NTK-vector products;
a BatchNorm ensemble through replace_all_batch_norm_modules_; custom Functions with
mark_dirty, set_materialize_grads(False), mark_non_differentiable and once_differentiable,
and one in the setup_context style with generate_vmap_rule under jacrev/jacfwd/vmap; module
and tensor hooks (with_kwargs pre-hooks, backward pre-hooks, multi-grad hooks, state_dict
hooks); the optimizer-in-backward recipe by post-accumulate-grad hooks; weight_norm,
spectral_norm and orthogonal parametrizations trained; pruning by importance scores with a
state_dict round trip; a checkpoint resumed through a BytesIO (SequentialLR,
ReduceLROnPlateau); OneCycleLR on AdamW with chained, multiplicative, polynomial and cyclic
schedules.

What they found, fixed in minigrad: ctc_loss's node was its last composed step
(WhereBackward0, and ViewBackward0 for an unbatched loss) where PyTorch's is
CtcLossBackward0 (a WhereBackward0 over it with zero_infinity) and SqueezeBackward1;
ctc_loss took lengths torch.ctc_loss's parser refuses (ints, numpy arrays, a tuple beside a
Tensor) instead of raising its TypeError; Module.load_state_dict skipped the load post-hooks
when a size check had failed, ran them parent before child, and showed each the keys of the
whole load, where PyTorch runs them as each module finishes (children first), with the
missing and unexpected keys found so far, and before raising.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike
(tests/side_by_side.py).
"""
import importlib
import io
import math
import random
import warnings

import numpy as np
import pytest

import minigrad  # noqa: F401

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, normal64, program_harness, registry)

import_forward_ad_decompositions()

HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, *shape, scale=1.0, seed=0, grad=False):
    return L.tensor(normal64(*shape, scale=scale, seed=seed), requires_grad=grad)


def _tokens(L, rows, vocab, seed, low=1):
    """A (len(rows), max(rows)) long tensor of tokens in [low, vocab), 0 (padding) past each
    row's length."""
    rng = np.random.RandomState(seed)
    out = np.zeros((len(rows), max(rows)), dtype=np.int64)
    for i, n in enumerate(rows):
        out[i, :n] = rng.randint(low, vocab, n)
    return L.tensor(out)


# ----------------------------------------------------------------------------------------------
# sequence to sequence
# ----------------------------------------------------------------------------------------------
@program
def luong_seq2seq_input_feeding_packed_bilstm_and_scheduled_sampling(L):
    """Attention-based translation in the manner of Luong et al. (bilinear score of the
    decoder state against each encoder state, the attended summary fed back as part of the
    next input): the source goes through a two-layer bidirectional LSTM as an unsorted packed
    batch; its final (h, c) are reshaped to (layers, directions, B, H) and the two directions
    concatenated to seed a decoder twice as wide; padded source positions get -inf before the
    softmax; each step feeds either the gold token or the model's own argmax, chosen by a
    seeded Python random; NLLLoss ignores padding, and two Adam steps follow clipping by
    clip_grad_norm_ (whose returned norm is compared)."""
    nn, F = L.nn, L.nn.functional
    from_packed = L.nn.utils.rnn
    V, E, H, PAD, BOS = 9, 6, 5, 0, 1
    src_len = [5, 3, 4]
    src = _tokens(L, src_len, V, seed=1, low=2)
    tgt = _tokens(L, [4, 3, 2], V, seed=2, low=2)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E, padding_idx=PAD)
            self.rnn = nn.LSTM(E, H, num_layers=2, bidirectional=True, batch_first=True)

        def forward(self, src, lengths):
            packed = from_packed.pack_padded_sequence(self.emb(src), lengths, batch_first=True,
                                                      enforce_sorted=False)
            out, (h, c) = self.rnn(packed)
            out, _ = from_packed.pad_packed_sequence(out, batch_first=True)
            h = h.view(2, 2, -1, H)
            c = c.view(2, 2, -1, H)
            return out, (L.cat([h[:, 0], h[:, 1]], -1), L.cat([c[:, 0], c[:, 1]], -1))

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E, padding_idx=PAD)
            self.rnn = nn.LSTM(E + 2 * H, 2 * H, num_layers=2, batch_first=True)
            self.W_a = nn.Linear(2 * H, 2 * H, bias=False)
            self.W_c = nn.Linear(4 * H, 2 * H, bias=False)
            self.out = nn.Linear(2 * H, V)

        def forward(self, tok, state, feed, enc, mask):
            x = L.cat([self.emb(tok), feed], -1).unsqueeze(1)
            h, state = self.rnn(x, state)
            score = L.bmm(self.W_a(enc), h.transpose(1, 2)).squeeze(2)
            score = score.masked_fill(~mask, float("-inf"))
            a = F.softmax(score, dim=1)
            ctx = L.bmm(a.unsqueeze(1), enc).squeeze(1)
            att = L.tanh(self.W_c(L.cat([ctx, h.squeeze(1)], -1)))
            return F.log_softmax(self.out(att), -1), state, att, a

    L.manual_seed(0)
    enc, dec = Encoder().double(), Decoder().double()
    params = list(enc.parameters()) + list(dec.parameters())
    opt = L.optim.Adam(params, lr=5e-3)
    crit = nn.NLLLoss(ignore_index=PAD)
    lengths = L.tensor(src_len)
    mask = L.arange(src.size(1))[None, :] < lengths[:, None]
    rnd = random.Random(3)
    losses, norms = [], []
    for _ in range(2):
        opt.zero_grad()
        memory, state = enc(src, lengths)
        feed = memory.new_zeros(src.size(0), 2 * H)
        tok = L.full((src.size(0),), BOS, dtype=L.long)
        loss = 0
        for t in range(tgt.size(1)):
            logp, state, feed, attn = dec(tok, state, feed, memory, mask)
            loss = loss + crit(logp, tgt[:, t])
            tok = tgt[:, t] if rnd.random() < 0.5 else logp.argmax(-1).detach()
        loss = loss / tgt.size(1)
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(params, 1.0))
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, norms=norms, attn=attn, memory=memory,
                g=dec.W_a.weight.grad, g_emb=enc.emb.weight.grad)


@program
def ctc_recogniser_conv_subsampling_concatenated_targets_and_zero_infinity(L):
    """Training and decoding a toy speech recogniser with CTC: a stride-2 Conv1d halves the
    frame count (the new lengths worked out with floor division), a bidirectional GRU reads
    the packed frames, log_softmax is taken over (time, batch, class) and CTCLoss gets all
    targets joined in one 1-d tensor with zero_infinity=True, since the third utterance's
    label is longer than its frames allow (its raw loss is inf); then the 'none' and 'sum'
    reductions, the conv gradient, and a best-path decode (argmax per frame, repeats merged by
    unique_consecutive, blanks removed)."""
    nn, F = L.nn, L.nn.functional
    B, T, C_in, H, V = 3, 12, 4, 5, 6
    feats = _t(L, B, T, C_in, seed=4)
    in_len = L.tensor([12, 9, 7])
    target_lens = L.tensor([3, 2, 5])
    targets = L.tensor(labels(int(target_lens.sum()), V - 1, seed=5) + 1)

    L.manual_seed(1)
    conv = nn.Conv1d(C_in, H, kernel_size=3, stride=2, padding=1).double()
    gru = nn.GRU(H, H, bidirectional=True).double()
    proj = nn.Linear(2 * H, V).double()
    params = [*conv.parameters(), *gru.parameters(), *proj.parameters()]
    opt = L.optim.SGD(params, lr=0.1, momentum=0.9)
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    out_len = L.div(in_len + 2 * 1 - 3, 2, rounding_mode="floor") + 1
    losses = []
    for _ in range(2):
        h = F.relu(conv(feats.transpose(1, 2))).permute(2, 0, 1)
        packed = nn.utils.rnn.pack_padded_sequence(h, out_len, enforce_sorted=False)
        y, _ = gru(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y)
        logp = F.log_softmax(proj(y), dim=-1)
        loss = ctc(logp, targets, out_len, target_lens)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    raw = F.ctc_loss(logp, targets, out_len, target_lens, reduction="none")
    summed = F.ctc_loss(logp, targets, out_len, target_lens, reduction="sum",
                        zero_infinity=True)
    best = logp.argmax(-1).t()
    decoded = []
    for b in range(B):
        seq = L.unique_consecutive(best[b, :int(out_len[b])])
        decoded.append(seq[seq != 0].tolist())
    return dict(out_len=out_len, losses=losses, raw=raw, summed=summed, decoded=decoded,
                g=conv.weight.grad, isinf=L.isinf(raw))


@program
def beam_search_batched_gru_decoder_with_gnmt_length_penalty(L):
    """Batched beam search over a GRU language-model decoder as fairseq-like code writes it:
    beams flattened into the batch (B*K rows), the first step expanded from one beam, scores
    summed with log-probabilities and reshaped to (B, K*V) for topk, the beam of each pick by
    floor division and the token by remainder, the hidden state reordered by index_select on
    flat beam indices, finished hypotheses kept alive only through EOS (masked_fill of
    every other token with -inf), histories by gather, and the best hypothesis chosen by
    GNMT's length penalty ((5 + len) / 6) ** alpha."""
    nn, F = L.nn, L.nn.functional
    B, K, V, E, H, EOS, BOS, steps, alpha = 2, 3, 7, 4, 6, 1, 0, 5, 0.6
    L.manual_seed(2)
    emb = nn.Embedding(V, E).double()
    cell = nn.GRUCell(E, H).double()
    out = nn.Linear(H, V).double()
    h0 = _t(L, B, H, seed=6)
    with L.no_grad():
        h = h0.repeat_interleave(K, dim=0)
        tokens = L.full((B * K, 1), BOS, dtype=L.long)
        scores = L.zeros(B, K, dtype=L.float64)
        scores[:, 1:] = float("-inf")
        finished = L.zeros(B * K, dtype=L.bool)
        lengths = L.zeros(B * K, dtype=L.long)
        for _ in range(steps):
            h = cell(emb(tokens[:, -1]), h)
            logp = F.log_softmax(out(h), -1)
            eos_only = L.full_like(logp, float("-inf"))
            eos_only[:, EOS] = 0.0
            logp = L.where(finished[:, None], eos_only, logp)
            cand = (scores.view(-1, 1) + logp).view(B, K * V)
            top, idx = cand.topk(K, dim=1)
            beam = L.div(idx, V, rounding_mode="floor")
            tok = idx % V
            flat = (beam + L.arange(B)[:, None] * K).view(-1)
            h = h.index_select(0, flat)
            tokens = L.cat([tokens.index_select(0, flat), tok.view(-1, 1)], 1)
            lengths = lengths.index_select(0, flat) + (~finished.index_select(0, flat)).long()
            finished = finished.index_select(0, flat) | (tok.view(-1) == EOS)
            scores = top
        penalty = ((5.0 + lengths.double()) / 6.0) ** alpha
        normed = scores.view(-1) / penalty
        best = normed.view(B, K).argmax(1)
        chosen = tokens.view(B, K, -1).gather(
            1, best.view(B, 1, 1).expand(B, 1, tokens.size(1))).squeeze(1)
    return dict(tokens=tokens, scores=scores, lengths=lengths, finished=finished,
                normed=normed, chosen=chosen)


@program(rtol=1e-5, atol=1e-6)
def translation_tutorial_seq2seq_transformer_seq_first_with_greedy_decode(L):
    """The setting of PyTorch's "Language Translation with nn.Transformer" tutorial, in our
    code: token vectors scaled by sqrt(width), a sinusoid position buffer of shape
    (maxlen, 1, width) with dropout, the masks (an all-False bool source mask, a float causal
    target mask from generate_square_subsequent_mask, padding masks from
    (x == PAD).transpose(0, 1)), the sequence-first nn.Transformer, CrossEntropyLoss(
    ignore_index=PAD), Adam with betas (0.9, 0.98) and eps 1e-9, then greedy decoding through
    the transformer's encoder and decoder called apart."""
    nn = L.nn
    PAD, BOS, V, D = 0, 1, 11, 8

    def sinusoid_table(width, length=20):
        # row p: sin(p r_i) in the even columns, cos(p r_i) in the odd, r_i = 10000^(-2i/width)
        rates = L.exp(-L.arange(0, width, 2) * math.log(10000) / width)
        pos = L.arange(0, length).reshape(length, 1)
        table = L.zeros((length, width))
        table[:, 0::2] = L.sin(pos * rates)
        table[:, 1::2] = L.cos(pos * rates)
        return table.unsqueeze(-2)            # (length, 1, width): sequence-first batches

    class Embed(nn.Module):
        def __init__(self, vocab, width, p):
            super().__init__()
            self.table, self.width = nn.Embedding(vocab, width), width
            self.drop = nn.Dropout(p)
            self.register_buffer("positions", sinusoid_table(width))

        def forward(self, tokens):
            x = self.table(tokens.long()) * math.sqrt(self.width)
            return self.drop(x + self.positions[:x.size(0), :])

    class Translator(nn.Module):
        def __init__(self):
            super().__init__()
            self.core = nn.Transformer(d_model=D, nhead=2, num_encoder_layers=2,
                                       num_decoder_layers=1, dim_feedforward=16, dropout=0.1)
            self.to_vocab = nn.Linear(D, V)
            self.src_embed, self.tgt_embed = Embed(V, D, 0.1), Embed(V, D, 0.1)

        def forward(self, src, tgt, src_mask, tgt_mask, src_pad, tgt_pad, memory_pad):
            out = self.core(self.src_embed(src), self.tgt_embed(tgt), src_mask, tgt_mask, None,
                            src_pad, tgt_pad, memory_pad)
            return self.to_vocab(out)

        def encode(self, src, src_mask):
            return self.core.encoder(self.src_embed(src), src_mask)

        def decode(self, tgt, memory, tgt_mask):
            return self.core.decoder(self.tgt_embed(tgt), memory, tgt_mask)

    def masks_for(src, tgt):
        causal = nn.Transformer.generate_square_subsequent_mask(tgt.shape[0])
        see_all = L.zeros((src.shape[0], src.shape[0])).type(L.bool)
        return see_all, causal, (src == PAD).transpose(0, 1), (tgt == PAD).transpose(0, 1)

    src = _tokens(L, [6, 4, 5], V, seed=7, low=3).t()
    tgt = _tokens(L, [5, 5, 3], V, seed=8, low=3).t()
    tgt = L.cat([L.full((1, 3), BOS), tgt], 0)
    L.manual_seed(3)
    model = Translator()
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    opt = L.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    model.train()
    for _ in range(2):
        given, wanted = tgt[:-1, :], tgt[1:, :]
        src_mask, tgt_mask, src_pad, tgt_pad = masks_for(src, given)
        logits = model(src, given, src_mask, tgt_mask, src_pad, tgt_pad, src_pad)
        opt.zero_grad()
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), wanted.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    one = src[:, :1]
    mask1 = L.zeros(one.shape[0], one.shape[0]).type(L.bool)
    with L.no_grad():
        memory = model.encode(one, mask1)
        ys = L.ones(1, 1).fill_(BOS).type(L.long)
        for _ in range(5):
            causal = nn.Transformer.generate_square_subsequent_mask(ys.size(0)).type(L.bool)
            last = model.decode(ys, memory, causal).transpose(0, 1)[:, -1]
            _, best = L.max(model.to_vocab(last), dim=1)
            ys = L.cat([ys, L.ones(1, 1).type_as(src.data).fill_(best.item())], dim=0)
    return dict(losses=losses, ys=ys, memory=memory, tgt_mask=tgt_mask,
                g=model.src_embed.table.weight.grad)


@program(rtol=1e-5, atol=1e-6)
def transformer_encoder_classifier_eval_fast_path_zeroes_padding(L):
    """A TransformerEncoder sentence classifier (batch_first, enable_nested_tensor) evaluated
    under inference: PyTorch's fast path runs the padded batch as a nested tensor, so the
    encoder's outputs at padded positions come back as zeros; a masked mean pooling and the
    predicted classes; the same batch in train mode (no fast path) with its loss and
    gradient, and the warning-free construction."""
    nn, F = L.nn, L.nn.functional
    V, D = 10, 8
    toks = _tokens(L, [5, 2, 4], V, seed=9)
    pad = toks == 0
    L.manual_seed(4)
    emb = nn.Embedding(V, D, padding_idx=0)
    layer = nn.TransformerEncoderLayer(D, 2, dim_feedforward=16, dropout=0.0, batch_first=True)
    encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=True)
    head = nn.Linear(D, 2)
    for m in (emb, encoder, head):
        m.eval()
    with L.inference_mode():
        h = encoder(emb(toks), src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1)
        pred = head(pooled).argmax(-1)
    encoder.train()
    h2 = encoder(emb(toks), src_key_padding_mask=pad)
    loss = F.cross_entropy(head(h2[:, 0]), L.tensor([1, 0, 1]))
    loss.backward()
    return dict(h=h, pooled=pooled, pred=pred, h2=h2, loss=loss,
                g=encoder.layers[0].linear1.weight.grad)


@program(rtol=1e-5, atol=1e-6)
def text_classification_tutorial_embedding_bag_with_offsets(L):
    """The setting of the "Text classification with the torchtext library" tutorial without
    torchtext, in our code: an EmbeddingBag(vocab, dim, sparse=False) and a Linear, both
    weights drawn by .data.uniform_(-0.5, 0.5) and the bias zeroed, a collate building one
    flat token tensor and bag offsets by cumsum of the lengths, SGD at lr 5 with StepLR(1,
    gamma=0.1), clip_grad_norm_(0.1) before each step, accuracy by (argmax ==
    label).sum().item(), and scheduler.step() when the validation accuracy drops."""
    nn = L.nn
    VOCAB, DIM, CLASSES = 20, 6, 3

    class BagClassifier(nn.Module):
        def __init__(self, vocab, dim, classes, spread=0.5):
            super().__init__()
            self.bag = nn.EmbeddingBag(vocab, dim, sparse=False)
            self.fc = nn.Linear(dim, classes)
            for w in (self.bag.weight, self.fc.weight):
                w.data.uniform_(-spread, spread)
            self.fc.bias.data.zero_()

        def forward(self, flat, offsets):
            return self.fc(self.bag(flat, offsets))

    rng = np.random.RandomState(10)
    data = [(int(rng.randint(CLASSES)), list(rng.randint(0, VOCAB, rng.randint(1, 6))))
            for _ in range(12)]

    def collate(batch):
        labels = L.tensor([y for y, _ in batch], dtype=L.int64)
        texts = [L.tensor(t, dtype=L.int64) for _, t in batch]
        # each bag starts where the lengths before it add up to
        starts = L.tensor([0] + [t.size(0) for t in texts[:-1]]).cumsum(dim=0)
        return labels, L.cat(texts), starts

    L.manual_seed(5)
    model = BagClassifier(VOCAB, DIM, CLASSES)
    criterion = nn.CrossEntropyLoss()
    optimizer = L.optim.SGD(model.parameters(), lr=5)
    scheduler = L.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    train, valid = data[:8], data[8:]
    best, log = None, []
    for epoch in range(3):
        model.train()
        for i in range(0, len(train), 4):
            labels, flat, offsets = collate(train[i:i + 4])
            optimizer.zero_grad()
            loss = criterion(model(flat, offsets), labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            log.append(loss.item())
        model.eval()
        with L.no_grad():
            labels, flat, offsets = collate(valid)
            acc = (model(flat, offsets).argmax(1) == labels).sum().item() / labels.size(0)
        if best is not None and best > acc:
            scheduler.step()
        else:
            best = acc
        log.append((acc, scheduler.get_last_lr()))
    return dict(log=log, weight=model.bag.weight, offsets=offsets)


@program
def embedding_bag_weighted_sum_max_mode_2d_input_and_include_last_offset(L):
    """EmbeddingBag's other corners as recommendation code uses them: 2-d input (one bag per
    row) with per_sample_weights in 'sum' mode, 1-d input with include_last_offset=True and
    an empty bag, padding_idx skipped by 'mean' (a bag of only padding gives zeros), 'max'
    mode's gradient routed to the winning rows, from_pretrained with freeze=False, and
    max_norm renormalising the looked-up rows in place."""
    nn, F = L.nn, L.nn.functional
    w = _t(L, 8, 3, seed=11, grad=True)
    idx2 = L.tensor([[1, 2, 2], [0, 5, 7]])
    psw = _t(L, 2, 3, seed=12, grad=True)
    a = F.embedding_bag(idx2, w, per_sample_weights=psw, mode="sum")
    flat = L.tensor([3, 1, 4, 1, 5, 0, 0])
    offs = L.tensor([0, 3, 3, 5, 7])
    b = F.embedding_bag(flat, w, offs, mode="mean", include_last_offset=True, padding_idx=0)
    c = F.embedding_bag(flat, w, offs[:-1], mode="max")
    (a.sum() + (b * L.arange(12.0, dtype=L.float64).view(4, 3)).sum() + c.pow(2).sum()) \
        .backward()
    bag = nn.EmbeddingBag.from_pretrained(w.detach() * 3, freeze=False, mode="sum",
                                          max_norm=1.5)
    out = bag(L.tensor([[0, 1], [1, 6]]))
    return dict(a=a, b=b, c=c, gw=w.grad, gpsw=psw.grad, out=out, renormed=bag.weight,
                frozen=bag.weight.requires_grad)


# ----------------------------------------------------------------------------------------------
# language models
# ----------------------------------------------------------------------------------------------
@program
def char_lm_lstm_with_projection_tied_weights_and_truncated_bptt(L):
    """Characters predicted by an LSTM whose output is projected (proj_size) back to the
    embedding width, which lets the output layer reuse the embedding table (tied weights).
    The text is cut into four parallel streams (narrow, view, t, contiguous), trained three
    windows at a time with the recurrent state detached at each window's start,
    clip_grad_norm_ and a hand-written SGD step on p.data (add_ with alpha); afterwards eight
    characters are drawn one by one from the temperature-scaled softmax by multinomial."""
    nn, F = L.nn, L.nn.functional
    corpus = "the cat sat on the mat and the rat ran at the cat "
    alphabet = sorted(set(corpus))
    code = {ch: k for k, ch in enumerate(alphabet)}
    V, E, H, streams = len(alphabet), 5, 9, 4
    ids = L.tensor([code[ch] for ch in corpus])
    usable = (ids.size(0) // streams) * streams
    # rows are time steps, column j reads the j-th quarter of the text
    grid = ids.narrow(0, 0, usable).view(streams, -1).t().contiguous()

    class ProjectedCharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = nn.Embedding(V, E)
            self.lstm = nn.LSTM(E, H, proj_size=E)      # h_t leaves the cell E wide ...
            self.to_vocab = nn.Linear(E, V)
            self.to_vocab.weight = self.table.weight    # ... so the table serves both ends

        def forward(self, tokens, state):
            feats, state = self.lstm(self.table(tokens), state)
            return self.to_vocab(feats), state

    L.manual_seed(6)
    lm = ProjectedCharLSTM().double()
    state = (L.zeros(1, streams, E, dtype=L.float64), L.zeros(1, streams, H, dtype=L.float64))
    window, step_size, losses = 5, 0.5, []
    last_input_row = grid.size(0) - 1
    for lo in (0, window, 2 * window):
        hi = min(lo + window, last_input_row)
        inputs, targets = grid[lo:hi], grid[lo + 1:hi + 1].reshape(-1)
        state = tuple(s.detach() for s in state)    # no gradient into earlier windows
        lm.zero_grad()
        logits, state = lm(inputs, state)
        loss = F.cross_entropy(logits.view(-1, V), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(lm.parameters(), 0.25)
        for w in lm.parameters():
            w.data.add_(w.grad, alpha=-step_size)
        losses.append(loss.item())

    L.manual_seed(7)
    drawn, carry = "", None
    current = L.tensor([[code["t"]]])
    with L.no_grad():
        while len(drawn) < 8:
            logits, carry = lm(current, carry)
            p = F.softmax(logits[-1, 0] / 0.8, dim=-1)
            current = L.multinomial(p, 1).view(1, 1)
            drawn += alphabet[current.item()]
    return dict(losses=losses, tied=lm.to_vocab.weight is lm.table.weight,
                n_params=len(list(lm.parameters())), sampled=drawn,
                w=lm.table.weight, hr=lm.lstm.weight_hr_l0)


@program
def adaptive_softmax_word_lm_loss_log_prob_and_predict(L):
    """A word LM head by AdaptiveLogSoftmaxWithLoss (cutoffs [4, 10], div_value 2, a head
    bias) over a GRU: the returned output and loss, the full log-probabilities by log_prob
    (rows summing to one in probability), predict against log_prob's argmax, and one Adagrad
    step; a target outside the vocabulary refused with PyTorch's words."""
    nn = L.nn
    V, H, B, T = 16, 6, 3, 4
    x = _tokens(L, [T] * B, V, seed=13, low=0)
    L.manual_seed(8)
    emb = nn.Embedding(V, H).double()
    rnn = nn.GRU(H, H, batch_first=True).double()
    asm = nn.AdaptiveLogSoftmaxWithLoss(H, V, cutoffs=[4, 10], div_value=2.0,
                                        head_bias=True).double()
    opt = L.optim.Adagrad([*emb.parameters(), *rnn.parameters(), *asm.parameters()], lr=0.1)
    losses = []
    for _ in range(2):
        h, _ = rnn(emb(x[:, :-1]))
        res = asm(h.reshape(-1, H), x[:, 1:].reshape(-1))
        opt.zero_grad()
        res.loss.backward()
        opt.step()
        losses.append(res.loss.item())
    with L.no_grad():
        lp = asm.log_prob(h.reshape(-1, H))
        pred = asm.predict(h.reshape(-1, H))
    bad = err(lambda: asm(h.reshape(-1, H), L.full((B * (T - 1),), V)))
    return dict(losses=losses, output=res.output, lp=lp, total=lp.exp().sum(1), pred=pred,
                same=bool((pred == lp.argmax(1)).all()), bad=bad,
                g=asm.head.weight.grad)


@program
def gru_packed_bidirectional_unsort_unpad_and_left_padding(L):
    """The packing utilities around a two-layer bidirectional GRU: pack_sequence of unsorted
    variable-length sequences (enforce_sorted=False), the packed batch's sorted_indices and
    unsorted_indices, the final states of each direction in the caller's order,
    pad_packed_sequence with total_length, unpad_sequence and unpack_sequence giving back the
    original lengths, pad_sequence with padding_side='left' for a decoder-only model, and the
    gradient of every input sequence."""
    nn = L.nn
    rnn_utils = nn.utils.rnn
    seqs = [_t(L, n, 3, seed=20 + n, grad=True) for n in (2, 5, 3, 4)]
    L.manual_seed(9)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True).double()
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    out, h = gru(packed)
    padded, lens = rnn_utils.pad_packed_sequence(out, total_length=6)
    last = L.cat([h[-2], h[-1]], dim=1)
    unpadded = rnn_utils.unpad_sequence(padded, lens)
    unpacked = rnn_utils.unpack_sequence(out)
    left = rnn_utils.pad_sequence([s.detach() for s in seqs], batch_first=True,
                                  padding_value=-1.0, padding_side="left")
    (padded.pow(2).sum() + last.sum()).backward()
    return dict(sorted=packed.sorted_indices, unsorted=packed.unsorted_indices,
                batch_sizes=packed.batch_sizes, padded=padded, lens=lens, last=last,
                unpadded=[u.shape for u in unpadded], unpacked=unpacked[2], left=left,
                grads=[s.grad for s in seqs])



# ----------------------------------------------------------------------------------------------
# torch.func
# ----------------------------------------------------------------------------------------------
@program
def func_linearize_grad_and_value_with_aux_and_tied_functional_call(L):
    """torch.func's less used entry points on a model with tied weights: functional_call with
    tie_weights (a replacement for one name reaching both uses) and with strict=True refusing
    a missing key in PyTorch's words, grad_and_value with has_aux over a dict of parameters,
    grad with argnums=(0, 1), linearize's jvp function against jvp at several tangents, and
    vjp with has_aux."""
    nn, func = L.nn, L.func
    L.manual_seed(10)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(6, 4)
            self.mid = nn.Linear(4, 4)
            self.out = nn.Linear(4, 6, bias=False)
            self.out.weight = self.emb.weight

        def forward(self, x):
            return self.out(L.tanh(self.mid(self.emb(x))))

    model = Tied().double()
    x = L.tensor([0, 3, 5, 2])
    y = L.tensor([1, 2, 0, 4])
    params = {k: v.detach() for k, v in model.named_parameters()}
    new_emb = params["emb.weight"] * 2

    def loss_fn(p):
        logits = func.functional_call(model, p, (x,))
        return L.nn.functional.cross_entropy(logits, y), logits.argmax(-1)

    g, (value, aux) = func.grad_and_value(loss_fn, has_aux=True)(params)
    gv = func.grad(loss_fn, has_aux=True)(params)
    tied = func.functional_call(model, {"emb.weight": new_emb}, (x,))
    untied = func.functional_call(model, {"emb.weight": new_emb}, (x,), tie_weights=False)
    strict = err(lambda: func.functional_call(model, {"emb.weight": new_emb}, (x,),
                                              strict=True))

    def f(w, b, inp):
        return L.tanh(inp @ w.t() + b).sum()

    w, b = params["mid.weight"], params["mid.bias"]
    inp = _t(L, 3, 4, seed=30)
    gw, gb = func.grad(f, argnums=(0, 1))(w, b, inp)
    with warnings.catch_warnings():     # (torch's linearize traces by fx, which warns)
        warnings.simplefilter("ignore")
        out, jvp_fn = func.linearize(lambda w: L.tanh(inp @ w.t()), w)
    tangents = [_t(L, 4, 4, seed=31 + i) for i in range(2)]
    lin = [jvp_fn(t) for t in tangents]
    ref = [func.jvp(lambda w: L.tanh(inp @ w.t()), (w,), (t,))[1] for t in tangents]
    o, vjp_fn, aux2 = func.vjp(lambda w: (L.sin(w).sum(0), w.norm()), w, has_aux=True)
    return dict(g=g, value=value, aux=aux, gv=gv, tied=tied, untied=untied, strict=strict, gw=gw, gb=gb,
                out=out, lin=lin, ref=ref, o=o, vjp=vjp_fn(L.ones_like(o)), aux2=aux2)


@program
def ensemble_training_of_stacked_parameters_with_vmap_grad_and_sgd(L):
    """Training an ensemble of MLPs as one vmapped function (the model-ensembling tutorial
    taken a step further): stack_module_state, a base copy on the meta device,
    vmap(grad_and_value(loss), in_dims=(0, 0, 0, 0)) giving each member its own minibatch,
    the stacked parameters updated by plain SGD with momentum buffers kept as dicts, and the
    members' predictions agreeing with each model run alone on its final weights."""
    nn, F, func = L.nn, L.nn.functional, L.func
    import copy
    M, B = 3, 5
    L.manual_seed(11)
    models = [nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 2)).double()
              for _ in range(M)]
    params, buffers = func.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def loss(p, b, x, y):
        return F.cross_entropy(func.functional_call(base, (p, b), (x,)), y)

    xs = _t(L, M, B, 4, seed=32)
    ys = L.tensor(labels(M * B, 2, seed=33).reshape(M, B))
    step = func.vmap(func.grad_and_value(loss), in_dims=(0, 0, 0, 0))
    mom = {k: L.zeros_like(v) for k, v in params.items()}
    history = []
    for _ in range(3):
        grads, losses = step(params, buffers, xs, ys)
        for k in params:
            mom[k] = 0.9 * mom[k] + grads[k]
            params[k] = params[k] - 0.1 * mom[k]
        history.append(losses)
    for i, m in enumerate(models):
        m.load_state_dict({k: v[i] for k, v in params.items()})
    alone = L.stack([m(xs[i]) for i, m in enumerate(models)])
    together = func.vmap(lambda p, b, x: func.functional_call(base, (p, b), (x,)))(
        params, buffers, xs)
    return dict(history=history, alone=alone, together=together, keys=sorted(params),
                meta=next(base.parameters()).device.type)


@program
def dp_sgd_per_sample_clipping_with_vmap_grad_and_seeded_noise(L):
    """DP-SGD as Opacus computes it, by torch.func: per-sample gradients of a small CNN by
    vmap(grad(loss_of_one), in_dims=(None, None, 0, 0)) with the sample unsqueezed to a
    batch of one, the per-sample total norm over all parameters, clip factors
    clamp(max_norm / (norm + 1e-6), max=1), the clipped sum plus seeded Gaussian noise scaled
    by sigma * max_norm, averaged over the batch and written into p.grad for an SGD step."""
    nn, F, func = L.nn, L.nn.functional, L.func
    L.manual_seed(12)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 4 * 4, 3)).double()
    opt = L.optim.SGD(model.parameters(), lr=0.5)
    x = _t(L, 4, 1, 6, 6, seed=34)
    y = L.tensor([0, 2, 1, 2])
    max_norm, sigma = 0.5, 0.3

    def loss_of_one(p, b, xi, yi):
        """The loss of a single example, made a batch of one for the model."""
        return F.cross_entropy(func.functional_call(model, (p, b), (xi.unsqueeze(0),)),
                               yi.unsqueeze(0))

    losses, factors = [], []
    for _ in range(2):
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        per = func.vmap(func.grad(loss_of_one), in_dims=(None, None, 0, 0))(
            params, buffers, x, y)
        norms = L.stack([g.reshape(g.shape[0], -1).norm(2, dim=1) for g in per.values()],
                        dim=1).norm(2, dim=1)
        factor = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        factors.append(factor)
        for name, p in model.named_parameters():
            clipped = L.einsum("i,i...->...", factor, per[name])
            noise = L.normal(0.0, sigma * max_norm, size=p.shape, dtype=L.float64)
            p.grad = (clipped + noise) / x.shape[0]
        opt.step()
        losses.append(F.cross_entropy(model(x), y).item())
    return dict(losses=losses, factors=factors, w=model[0].weight)


@program
def model_hessian_by_func_hessian_hvp_by_jvp_of_grad_and_functional_hvp(L):
    """Second-order quantities of a small regression network's loss, each computed more than
    one way: the Hessian with respect to a dict of parameters by hessian (a nested dict
    of blocks), by jacfwd(jacrev) and by autograd.functional.hessian on a flat vector; a
    Hessian-vector product as jvp(grad(f)) (forward-over-reverse), by vjp of grad
    (reverse-over-reverse) and by autograd.functional.hvp/vhp, which must all agree; and the
    per-sample input Jacobian by vmap(jacrev) with chunk_size."""
    nn, func = L.nn, L.func
    L.manual_seed(13)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    x = _t(L, 6, 3, seed=35)
    y = _t(L, 6, 1, seed=36)
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss(p):      # (torch's mse_loss fails forward-over-reverse: "ZeroTensors are immutable")
        return (func.functional_call(model, p, (x,)) - y).pow(2).mean()

    H = func.hessian(loss)(params)
    H2 = func.jacfwd(func.jacrev(loss))(params)
    names = list(params)
    shapes = [params[k].shape for k in names]
    sizes = [params[k].numel() for k in names]
    flat = L.cat([params[k].reshape(-1) for k in names])

    ends = np.cumsum(sizes).tolist()

    def flat_loss(v):
        return loss({k: v[e - n:e].view(s) for k, e, n, s in zip(names, ends, sizes, shapes)})

    Hf = L.autograd.functional.hessian(flat_loss, flat)
    v = _t(L, flat.numel(), seed=37)
    fwd = func.jvp(func.grad(flat_loss), (flat,), (v,))[1]
    rev = func.vjp(func.grad(flat_loss), flat)[1](v)[0]
    _, hvp = L.autograd.functional.hvp(flat_loss, flat, v)
    _, vhp = L.autograd.functional.vhp(flat_loss, flat, v)
    J = func.vmap(func.jacrev(lambda xi: model(xi)), chunk_size=2)(x)
    return dict(H=H["0.weight"]["2.weight"], Hb=H["2.bias"]["0.bias"],
                H2=H2["0.bias"]["0.weight"], Hf=Hf, fwd=fwd, rev=rev, hvp=hvp, vhp=vhp,
                Hv=Hf @ v, J=J)


@program
def neural_tangent_kernel_by_ntk_vector_products_and_trace(L):
    """The empirical neural tangent kernel by kernel-vector products: for each pair of
    inputs the kernel's columns are jvp at one input of the vjp at the other applied to the
    identity basis of the output space, vmapped over the basis and over both inputs; checked
    against per-example Jacobians (vmap of jacrev) contracted by einsum into the full
    kernel, its trace and its diagonal."""
    nn, func = L.nn, L.func
    L.manual_seed(14)
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x1 = _t(L, 4, 3, seed=38)
    x2 = _t(L, 3, 3, seed=39)

    def f_single(p, x):
        return func.functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

    names, values = tuple(params), tuple(params.values())

    def of_tensors(x):
        """f_single at x as a function of the parameter tensors, in order."""
        return lambda *ps: f_single(dict(zip(names, ps)), x)

    def kernel_block(xa, xb):
        """K(xa, xb) = J(xa) J(xb)^T one column at a time: e -> J(xa) (J(xb)^T e)."""
        out_b, pull_back = func.vjp(of_tensors(xb), *values)

        def column(e):
            return func.jvp(of_tensors(xa), values, pull_back(e))[1]

        basis = L.eye(out_b.numel(), dtype=out_b.dtype).view(out_b.numel(), -1)
        return func.vmap(column)(basis)

    vps = func.vmap(func.vmap(kernel_block, (None, 0)), (0, None))(x1, x2)
    # the same from per-example Jacobians, flattened per parameter and contracted
    per_x1 = func.vmap(func.jacrev(f_single), (None, 0))(params, x1)
    per_x2 = func.vmap(func.jacrev(f_single), (None, 0))(params, x2)
    flat1 = [j.flatten(2) for j in per_x1.values()]
    flat2 = [j.flatten(2) for j in per_x2.values()]

    def contract(spec):
        return L.stack([L.einsum(spec, a, b) for a, b in zip(flat1, flat2)]).sum(0)

    full = contract("iop,jqp->ijoq")
    trace = contract("iop,jop->ij")
    diag = contract("iop,jop->ijo")
    return dict(vps=vps, full=full, trace=trace, diag=diag)


# ----------------------------------------------------------------------------------------------
# extending PyTorch, autograd mechanics, hooks
# ----------------------------------------------------------------------------------------------
@program
def custom_functions_mark_dirty_materialize_grads_and_once_differentiable(L):
    """The "Extending PyTorch" note's remaining ctx methods: an in-place clamp Function that
    modifies its input and says so by ctx.mark_dirty (the returned tensor is the input, its
    version bumped, its grad_fn the Function's); a Function with two outputs, one unused,
    under ctx.set_materialize_grads(False) receiving None for it; an argmax output marked
    non-differentiable; and @once_differentiable refusing a double backward in PyTorch's
    words."""
    from_fn = L.autograd.function

    class InplaceClamp(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            mask = x > 0
            ctx.save_for_backward(mask)
            return x.clamp_(min=0)

        @staticmethod
        def backward(ctx, g):
            (mask,) = ctx.saved_tensors
            return g * mask

    class SplitMax(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            ctx.save_for_backward(x)
            idx = x.argmax(-1)
            ctx.mark_non_differentiable(idx)
            return x * 2, x.pow(2), idx

        @staticmethod
        def backward(ctx, g_double, g_square, g_idx):
            (x,) = ctx.saved_tensors
            seen.append((g_double is None, g_square is None, g_idx is None))
            out = L.zeros_like(x)
            if g_double is not None:
                out = out + 2 * g_double
            if g_square is not None:
                out = out + 2 * x * g_square
            return out

    class OnceCube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @from_fn.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    seen = []
    a = _t(L, 5, seed=40, grad=True)
    b = a * 1.5
    v0 = b._version
    c = InplaceClamp.apply(b)
    same = c is b
    bumped = b._version > v0
    c.pow(2).sum().backward()
    leaf = _t(L, 3, seed=41, grad=True)
    leaf_err = err(lambda: InplaceClamp.apply(leaf))
    x = _t(L, 2, 3, seed=42, grad=True)
    d, s, idx = SplitMax.apply(x)
    d.sum().backward(retain_graph=True)
    g1 = x.grad.clone()
    (d.sum() + s.sum()).backward()
    z = _t(L, 3, seed=43, grad=True)
    (gz,) = L.autograd.grad(OnceCube.apply(z).sum(), z, create_graph=True)
    twice = err(lambda: gz.sum().backward())
    return dict(c=c, same=same, bumped=bumped, ga=a.grad, name=type(c.grad_fn).__name__,
                leaf_err=leaf_err, seen=seen, g1=g1, g2=x.grad, idx=idx,
                idx_grad=idx.requires_grad, gz=gz, twice=twice)


@program
def custom_function_generate_vmap_rule_under_jacrev_hessian_and_vmap(L):
    """A Function written in the setup_context style with generate_vmap_rule=True (the
    torch.func tutorial on autograd.Function), whose backward is itself differentiable:
    jacrev of it (which vmaps the backward over the basis), its hessian by jacfwd(jacrev)
    (a forward-mode rule through jvp), vmap over a batch dim that is not the first, and the
    results against the same maths in plain ops."""
    func = L.func

    class SoftPlus(L.autograd.Function):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, beta):
            return L.log1p(L.exp(beta * x)) / beta

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, beta = inputs
            ctx.save_for_backward(x)
            ctx.save_for_forward(x)
            ctx.beta = beta

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * L.sigmoid(ctx.beta * x), None

        @staticmethod
        def jvp(ctx, tx, _):
            (x,) = ctx.saved_tensors
            return tx * L.sigmoid(ctx.beta * x)

    x = _t(L, 4, seed=44)
    xb = _t(L, 4, 3, seed=45)

    def f(v):
        return SoftPlus.apply(v, 2.0).sin()

    def g(v):
        return L.nn.functional.softplus(v, beta=2.0).sin()

    return dict(jac=func.jacrev(f)(x), ref=func.jacrev(g)(x),
                hess=func.jacfwd(func.jacrev(lambda v: f(v).sum()))(x),
                hess_ref=func.hessian(lambda v: g(v).sum())(x),
                batched=func.vmap(f, in_dims=1, out_dims=1)(xb), plain=g(xb),
                fwd=func.jvp(f, (x,), (L.ones_like(x),))[1])


@program
def hooks_recipe_kwargs_pre_hooks_backward_pre_hooks_and_multi_grad_hooks(L):
    """Module and tensor hooks in one training step, in the order each fires: a
    forward-pre-hook with_kwargs rewriting a keyword argument (prepend=True putting it first),
    a forward hook with_kwargs seeing it, register_full_backward_pre_hook scaling the output
    gradient, register_full_backward_hook seeing None for an input without grad, a
    Tensor.register_hook on an activation, register_multi_grad_hook over two leaves in 'all'
    and 'any' modes, and state_dict pre/post hooks on save; each hook's handle removed after
    and a second forward running hook-free."""
    nn = L.nn
    log = []

    class Gated(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x, gate=None, scale=1.0):
            h = self.lin(x) * scale
            return h if gate is None else h * gate

    L.manual_seed(15)
    m = Gated().double()

    def pre_kw(mod, args, kwargs):
        log.append(("pre_kw", sorted(kwargs)))
        kwargs = dict(kwargs, scale=2.0)
        return args, kwargs

    def pre_plain(mod, args):
        log.append(("pre_plain", len(args)))

    def fwd_kw(mod, args, kwargs, out):
        log.append(("fwd_kw", kwargs["scale"]))

    def bwd_pre(mod, grad_output):
        log.append(("bwd_pre", grad_output[0].shape))
        return (grad_output[0] * 0.5,)

    def bwd(mod, grad_input, grad_output):
        log.append(("bwd", [g is None for g in grad_input]))

    handles = [m.register_forward_pre_hook(pre_plain),
               m.register_forward_pre_hook(pre_kw, with_kwargs=True, prepend=True),
               m.register_forward_hook(fwd_kw, with_kwargs=True),
               m.register_full_backward_pre_hook(bwd_pre),
               m.register_full_backward_hook(bwd)]
    a = _t(L, 2, 3, seed=46, grad=True)
    gate = _t(L, 2, 3, seed=47)
    b = _t(L, 2, 3, seed=48, grad=True)
    out = m(a, gate=gate)
    out.register_hook(lambda g: log.append(("tensor", g.sum().item())))
    mh = L.autograd.graph.register_multi_grad_hook(
        (a, b), lambda grads: log.append(("all", [g is None for g in grads])))
    mh_any = L.autograd.graph.register_multi_grad_hook(
        (a, b), lambda g: log.append(("any", g.shape)), mode="any")
    (out.sum() + (b * 3).sum()).backward()
    sd_log = []
    h_pre = m.register_state_dict_pre_hook(
        lambda mod, prefix, keep_vars: sd_log.append(("pre", prefix, keep_vars)))
    h_post = m.register_state_dict_post_hook(
        lambda mod, sd, prefix, local_metadata: sd_log.append(("post", sorted(sd))))
    sd = m.state_dict(prefix="net.")
    for h in handles + [mh, mh_any, h_pre, h_post]:
        h.remove()
    plain = m(a, gate=gate)
    m.state_dict()
    return dict(log=log, out=out, ga=a.grad, gw=m.lin.weight.grad, sd_log=sd_log,
                keys=sorted(sd), plain=plain)


@program
def optimizer_in_backward_by_post_accumulate_grad_hooks_with_param_groups(L):
    """Updating each weight inside backward (the memory-saving trick of PyTorch's recipe on
    fusing the optimizer step into the backward pass): every parameter gets its own AdamW,
    with weight decay for matrices only, and a post-accumulate-grad hook that steps it and
    clears its grad the moment the grad is complete, so no .grad survives backward; one
    ExponentialLR per small optimizer. It must train exactly like one AdamW with a decay
    group and a no-decay group and a single ExponentialLR."""
    nn, F = L.nn, L.nn.functional
    x = _t(L, 8, 4, seed=49)
    y = L.tensor(labels(8, 3, seed=50))

    def make():
        L.manual_seed(16)
        return nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(),
                             nn.Linear(6, 3)).double()

    def attach_own_optimizer(weight):
        """Give ``weight`` a private AdamW run from its post-accumulate-grad hook."""
        own = L.optim.AdamW([weight], lr=0.05, weight_decay=0.1 if weight.dim() > 1 else 0.0)

        def update_now(w):
            own.step()
            own.zero_grad()

        weight.register_post_accumulate_grad_hook(update_now)
        return L.optim.lr_scheduler.ExponentialLR(own, gamma=0.5)

    fused = make()
    scheds = [attach_own_optimizer(w) for w in fused.parameters()]
    ref = make()
    decay = [p for p in ref.parameters() if p.dim() > 1]
    no_decay = [p for p in ref.parameters() if p.dim() <= 1]
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=0.05)
    sched = L.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    l1, l2 = [], []
    for _ in range(3):
        loss = F.cross_entropy(fused(x), y)
        loss.backward()
        for s in scheds:
            s.step()
        l1.append(loss.item())
        opt.zero_grad()
        loss2 = F.cross_entropy(ref(x), y)
        loss2.backward()
        opt.step()
        sched.step()
        l2.append(loss2.item())
    return dict(l1=l1, l2=l2, grads_none=[p.grad is None for p in fused.parameters()],
                w1=fused[3].weight, w2=ref[3].weight, lr=scheds[0].get_last_lr())


# ----------------------------------------------------------------------------------------------
# parametrizations, pruning, optimizer recipes
# ----------------------------------------------------------------------------------------------
@program
def weight_norm_spectral_norm_and_orthogonal_parametrizations_in_training(L):
    """The parametrizations module's three ready-made ones trained together: weight_norm on a
    Conv1d (original0 the norm over all dims but dim 0, original1 the direction), spectral_norm
    on a Linear whose power iteration advances its u and v buffers in train mode and stops in
    eval, orthogonal on a wide and a tall Linear (use_trivialization=False, and the default),
    two Adam steps, the state_dict keys, and the orthogonality and the spectral norm after."""
    nn, F = L.nn, L.nn.functional
    P = nn.utils.parametrizations
    L.manual_seed(17)
    conv = P.weight_norm(nn.Conv1d(2, 3, 3).double())
    sn = P.spectral_norm(nn.Linear(4, 5).double(), n_power_iterations=2)
    wide = P.orthogonal(nn.Linear(5, 3).double(), use_trivialization=False)
    tall = P.orthogonal(nn.Linear(3, 4, bias=False).double())
    mods = (conv, sn, wide, tall)
    opt = L.optim.Adam([p for m in mods for p in m.parameters()], lr=0.05)
    x = _t(L, 2, 2, 6, seed=51)
    losses, us = [], []
    for _ in range(2):
        h = F.relu(conv(x)).mean(-1)
        h = F.pad(h, (0, 1))
        h = tall(wide(sn(h)))
        loss = h.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        us.append(sn.parametrizations.weight[0]._u.clone())
    sn.eval()
    w_eval = sn.weight
    u_eval = sn.parametrizations.weight[0]._u.clone()
    _ = sn.weight
    keys = sorted(k for m in mods for k in m.state_dict())
    ww = wide.weight
    tw = tall.weight
    return dict(losses=losses, us=us, u_eval=u_eval, w_eval=w_eval,
                sigma=L.linalg.matrix_norm(w_eval, ord=2), keys=keys,
                wide_gram=ww @ ww.t(), tall_gram=tw.t() @ tw,
                g0=conv.parametrizations.weight.original0.grad)


@program
def pruning_with_importance_scores_state_dict_round_trip_and_masked_training(L):
    """Pruning as deployment code uses it after the tutorial: global_unstructured with
    importance_scores (weights scaled by their input activations' magnitudes) rather than
    the weights themselves, prune.identity on a layer kept whole, is_pruned, the pruned
    state_dict (weight_orig and weight_mask) loaded into a freshly pruned model built with
    custom_from_mask, an SGD step during which the masked entries stay zero while weight_orig
    moves, and prune.remove making the pruning permanent."""
    nn, F = L.nn, L.nn.functional
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    x = _t(L, 6, 4, seed=52)
    y = _t(L, 6, 2, seed=53)

    def make():
        L.manual_seed(18)
        return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 2)).double()

    model = make()
    act = x.abs().mean(0)
    h_act = L.tanh(model[0](x)).abs().mean(0).detach()
    scores = {(model[0], "weight"): model[0].weight.detach().abs() * act,
              (model[2], "weight"): model[2].weight.detach().abs() * h_act}
    prune.global_unstructured(list(scores), pruning_method=prune.L1Unstructured, amount=8,
                              importance_scores=scores)
    prune.identity(model[2], "bias")
    flags = [prune.is_pruned(model), prune.is_pruned(model[1])]
    sd = model.state_dict()
    fresh = make()
    prune.custom_from_mask(fresh[0], "weight", L.ones(5, 4))
    prune.custom_from_mask(fresh[2], "weight", L.ones(2, 5))
    prune.identity(fresh[2], "bias")
    fresh.load_state_dict(sd)
    opt = L.optim.SGD(fresh.parameters(), lr=0.3)
    loss = F.mse_loss(fresh(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    after = fresh[0].weight.clone()
    prune.remove(fresh[0], "weight")
    return dict(keys=sorted(sd), masks=[sd["0.weight_mask"], sd["2.weight_mask"]], flags=flags,
                loss=loss, after=after, orig=sd["0.weight_orig"],
                names=[n for n, _ in fresh.named_parameters()],
                zeros=int((fresh[0].weight == 0).sum()), g=fresh[0].weight_orig.grad
                if hasattr(fresh[0], "weight_orig") else None)


@program
def checkpoint_resume_through_bytesio_with_sequential_lr_and_plateau(L):
    """Interrupting a run and picking it up again from saved state: after three of six epochs
    the network's, the optimizer's (nesterov SGD, its second param group added later by
    add_param_group) and the scheduler's (LinearLR warm-up handed over to CosineAnnealingLR
    by SequentialLR) state dicts go, with the epoch counter, into one dict written to an
    in-memory buffer by save and read back by load(weights_only=True); freshly built objects
    take them and finish the run, which must match the run that never stopped. A
    ReduceLROnPlateau's state also makes the trip through a buffer."""
    nn, F = L.nn, L.nn.functional
    x = _t(L, 10, 3, seed=54)
    y = _t(L, 10, 1, seed=55)

    def build():
        L.manual_seed(19)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
        opt = L.optim.SGD(model[0].parameters(), lr=0.2, momentum=0.9, nesterov=True)
        opt.add_param_group({"params": model[2].parameters(), "lr": 0.05})
        warm = L.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=2)
        cos = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        sched = L.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[2])
        return model, opt, sched

    def epoch(model, opt, sched):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item(), sched.get_last_lr()

    model, opt, sched = build()
    straight = [epoch(model, opt, sched) for _ in range(6)]
    model, opt, sched = build()
    first = [epoch(model, opt, sched) for _ in range(3)]
    buf = io.BytesIO()
    parts = {"net": model, "opt": opt, "sched": sched}
    L.save(dict({name: obj.state_dict() for name, obj in parts.items()}, done=3), buf)
    buf.seek(0)
    saved = L.load(buf, weights_only=True)
    model, opt, sched = build()
    for name, obj in (("net", model), ("opt", opt), ("sched", sched)):
        obj.load_state_dict(saved[name])
    rest = [epoch(model, opt, sched) for _ in range(saved["done"], 6)]
    osd = opt.state_dict()
    plateau_opt = L.optim.SGD([L.zeros(1, requires_grad=True)], lr=1.0)
    plateau = L.optim.lr_scheduler.ReduceLROnPlateau(plateau_opt, factor=0.5, patience=1,
                                                     cooldown=1)
    for metric in (1.0, 1.0, 1.0, 0.9, 0.95, 0.96, 0.97):
        plateau.step(metric)
    psd = plateau.state_dict()
    buf2 = io.BytesIO()
    L.save(psd, buf2)
    buf2.seek(0)
    again = L.optim.lr_scheduler.ReduceLROnPlateau(plateau_opt)
    again.load_state_dict(L.load(buf2))
    return dict(straight=straight, resumed=first + rest, epoch=saved["done"],
                groups=[sorted(g) for g in osd["param_groups"]],
                state_keys=sorted(osd["state"]), mom=osd["state"][3]["momentum_buffer"],
                plateau=(plateau_opt.param_groups[0]["lr"], again.num_bad_epochs,
                         again.cooldown_counter, again.best, again.get_last_lr()))


@program
def one_cycle_adamw_momentum_cycling_and_chained_schedulers(L):
    """LR and momentum schedules as recipes stack them: OneCycleLR on AdamW (cycle_momentum
    cycling beta1 between base_momentum and max_momentum, cosine annealing, div_factor and
    final_div_factor), a ChainedScheduler of ConstantLR and ExponentialLR, MultiplicativeLR by
    a lambda, PolynomialLR with power 2 and CyclicLR in 'exp_range' mode on SGD with
    momentum cycling; the learning rates and betas recorded every step."""
    nn = L.nn
    sch = L.optim.lr_scheduler

    def params():
        L.manual_seed(20)
        return nn.Linear(2, 1).double().parameters()

    adamw = L.optim.AdamW(params(), lr=0.01)
    one = sch.OneCycleLR(adamw, max_lr=0.1, total_steps=8, pct_start=0.3, div_factor=10,
                         final_div_factor=100, base_momentum=0.8, max_momentum=0.95)
    sgd = L.optim.SGD(params(), lr=0.1)
    chain = sch.ChainedScheduler([sch.ConstantLR(sgd, factor=0.5, total_iters=3),
                                  sch.ExponentialLR(sgd, gamma=0.9)])
    sgd2 = L.optim.SGD(params(), lr=0.1)
    mult = sch.MultiplicativeLR(sgd2, lr_lambda=lambda e: 0.95 if e % 2 else 0.8)
    sgd3 = L.optim.SGD(params(), lr=0.1)
    poly = sch.PolynomialLR(sgd3, total_iters=5, power=2.0)
    sgd4 = L.optim.SGD(params(), lr=0.1, momentum=0.9)
    cyc = sch.CyclicLR(sgd4, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range",
                       gamma=0.9)
    rec = []
    for _ in range(8):
        for o in (adamw, sgd, sgd2, sgd3, sgd4):
            o.step()
        for s in (one, chain, mult, poly, cyc):
            s.step()
        rec.append((adamw.param_groups[0]["lr"], adamw.param_groups[0]["betas"],
                    sgd.param_groups[0]["lr"], sgd2.param_groups[0]["lr"],
                    sgd3.param_groups[0]["lr"], sgd4.param_groups[0]["lr"],
                    sgd4.param_groups[0]["momentum"]))
    return dict(rec=rec, last=[s.get_last_lr() for s in (one, chain, mult, poly, cyc)])



@program(rtol=1e-5, atol=1e-6)
def decoder_only_lm_left_padding_tied_head_label_smoothing_and_accumulation(L):
    """A GPT-style decoder-only model built from TransformerEncoder layers, as fine-tuning
    scripts batch prompts: left padding by pad_sequence(padding_side='left'), position ids
    from the cumulative attention mask (clamped at 0 for the pads), a causal mask from
    generate_square_subsequent_mask with is_causal=True plus a key padding mask, the LM head
    tied to the token embedding, labels shifted with -100 at the pads, CrossEntropyLoss with
    label_smoothing, gradient accumulation over two micro-batches (loss / 2), clip_grad_norm_
    and AdamW whose biases and norms take no weight decay; then top-k sampling with
    masked_fill and multinomial from a seeded generator."""
    nn, F = L.nn, L.nn.functional
    V, D, PAD = 12, 8, 0
    rng = np.random.RandomState(60)
    prompts = [L.tensor(rng.randint(1, V, n)) for n in (5, 3, 4, 2)]

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(V, D)
            self.pos = nn.Embedding(16, D)
            layer = nn.TransformerEncoderLayer(D, 2, 16, dropout=0.0, batch_first=True,
                                               norm_first=True, activation="gelu")
            self.blocks = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.ln = nn.LayerNorm(D)
            self.head = nn.Linear(D, V, bias=False)
            self.head.weight = self.tok.weight

        def forward(self, ids, attn):
            pos = (attn.long().cumsum(-1) - 1).clamp(min=0)
            causal = nn.Transformer.generate_square_subsequent_mask(ids.size(1))
            h = self.tok(ids) + self.pos(pos)
            h = self.blocks(h, mask=causal, src_key_padding_mask=~attn, is_causal=True)
            return self.head(self.ln(h))

    L.manual_seed(21)
    model = TinyGPT()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": other, "weight_decay": 0.0}], lr=3e-3)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=-100)
    ids = nn.utils.rnn.pad_sequence(prompts, batch_first=True, padding_value=PAD,
                                    padding_side="left")
    attn = ids != PAD
    labels_ = ids.masked_fill(~attn, -100)
    losses, norms = [], []
    for _ in range(2):
        opt.zero_grad()
        for mb in (slice(0, 2), slice(2, 4)):
            logits = model(ids[mb], attn[mb])
            loss = crit(logits[:, :-1].reshape(-1, V), labels_[mb, 1:].reshape(-1)) / 2
            loss.backward()
            losses.append(loss.item())
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
    model.eval()
    gen = L.Generator().manual_seed(22)
    seq, am = ids[:1], attn[:1]      # (a left-padded row is all NaN on the fast path)
    with L.no_grad():
        for _ in range(3):
            logits = model(seq, am)[:, -1] / 0.9
            kth = logits.topk(3, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
            nxt = L.multinomial(F.softmax(logits, -1), 1, generator=gen)
            seq = L.cat([seq, nxt], 1)
            am = L.cat([am, L.ones_like(nxt, dtype=L.bool)], 1)
    return dict(losses=losses, norms=norms, seq=seq, tied=model.head.weight is model.tok.weight,
                g=model.tok.weight.grad)


@program
def batchnorm_ensemble_by_replace_all_batch_norm_modules_and_vmap(L):
    """An ensemble of small CNNs with BatchNorm run under vmap, as the torch.func docs advise
    for batch norm: replace_all_batch_norm_modules_ turning off the running statistics (the
    buffers set to None, track_running_stats False), so each member normalises with its
    minibatch's statistics inside vmap; stack_module_state over the patched members, their
    outputs and the gradient of the ensemble's mean loss by vmap(grad) against each member
    run alone."""
    nn, F, func = L.nn, L.nn.functional, L.func
    import copy
    L.manual_seed(23)
    members = [nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(),
                             nn.Linear(2 * 3 * 3, 2)).double() for _ in range(3)]
    for m in members:
        func.replace_all_batch_norm_modules_(m)
    params, buffers = func.stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")
    x = _t(L, 4, 1, 5, 5, seed=61)
    y = L.tensor([0, 1, 1, 0])

    def loss(p, b):
        return F.cross_entropy(func.functional_call(base, (p, b), (x,)), y)

    outs = func.vmap(lambda p, b: func.functional_call(base, (p, b), (x,)))(params, buffers)
    grads = func.vmap(func.grad(loss))(params, buffers)
    alone = L.stack([m(x) for m in members])
    ref = L.autograd.grad(F.cross_entropy(members[1](x), y), list(members[1].parameters()))
    bn = members[0][1]
    return dict(outs=outs, alone=alone, g=grads["0.weight"][1], ref=ref[0],
                stats=(bn.running_mean, bn.running_var, bn.track_running_stats),
                buffers=sorted(buffers))


# ----------------------------------------------------------------------------------------------
# the runner
# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None



# the fixes of this round, each alone
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_ctc_loss_nodes_are_named_as_torch(reduction, zero_infinity, batched):
    """ctc_loss's per-sample losses come from a CtcLossBackward0 node (a WhereBackward0 over it
    with zero_infinity) and an unbatched loss from SqueezeBackward1, as in PyTorch (minigrad's
    composed loss showed its last step, WhereBackward0, and ViewBackward0); the values and
    gradients stay those checked elsewhere."""
    def run(L):
        lp = L.tensor(normal64(6, 2, 5, seed=70)).log_softmax(-1).requires_grad_()
        tg, il, tl = L.tensor([[1, 2], [3, 0]]), L.tensor([6, 5]), L.tensor([2, 1])
        if not batched:
            lp, tg, il, tl = lp[:, 0], tg[0], il[0], tl[0]
        loss = L.nn.functional.ctc_loss(lp, tg, il, tl, reduction=reduction,
                                        zero_infinity=zero_infinity)
        node, names = loss.grad_fn, []
        while node is not None and len(names) < 4:
            names.append(node.name())
            nxt = [n for n, _ in node.next_functions if n is not None]
            node = nxt[-1] if nxt and names[-1] != "CtcLossBackward0" else None
        return loss, names
    HARNESS.check(run)


@pytest.mark.parametrize("lengths", [
    lambda L: (4, 1), lambda L: ([4, 4], L.tensor([1, 1])), lambda L: (L.tensor([4, 4]), (1, 1)),
    lambda L: (np.array([4, 4]), np.array([1, 1]))],
    ids=["ints", "list_and_tensor", "tensor_and_tuple", "numpy"])
def test_ctc_loss_refuses_lengths_its_parser_refuses(lengths):
    """torch.ctc_loss takes both lengths as tuples of ints or both as Tensors: an int, a numpy
    array or a mix is refused with the parser's TypeError (minigrad computed the loss)."""
    def run(L):
        lp = L.zeros(4, 2, 3).log_softmax(-1)
        return L.nn.CTCLoss()(lp, L.tensor([[1], [2]]), *lengths(L))
    assert HARNESS.check(run) is not None


def test_load_state_dict_post_hooks_run_when_a_size_mismatches():
    """PyTorch runs the load post-hooks (with the missing and unexpected keys) before raising a
    size mismatch; minigrad skipped them when a check had failed."""
    def run(L):
        m = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.Linear(2, 1))
        seen = []
        for i, child in enumerate((m, m[0], m[1])):
            child.register_load_state_dict_post_hook(
                lambda mod, keys, i=i: seen.append((i, list(keys.missing_keys),
                                                    list(keys.unexpected_keys))))
        bad = {k: v for k, v in m.state_dict().items() if k != "1.bias"}
        bad["0.weight"] = L.zeros(3, 2)
        bad["extra"] = L.zeros(1)
        return err(lambda: m.load_state_dict(bad)), seen
    HARNESS.check(run)
