"""Whole programs of the twenty-sixth round, part b: sequences, text, audio, graphs, reinforcement
learning, scientific ML and the utilities around them. pytorch/examples' word language model (a
relu RNN, tied weights, get_total_norm and clip_grads_with_norm_) and time-sequence prediction
(LSTMCells under LBFGS); packed batches (unsorted packs, a pack's data mapped and rebuilt,
unpack/unpad, left padding, the pack's casts); Transformer encoders and decoders with causal
and padding masks (the nested-tensor fast path's zeros); per-head MultiheadAttention weights
with bias_kv, zero_attn and kdim/vdim; fairseq's ConvS2S; the text-classification tutorial's
EmbeddingBag; word2vec's skip-gram (sparse embeddings, SparseAdam); a CTC acoustic model; a
torchaudio-style log-mel front end with deltas, SpecAugment and a Griffin-Lim step; M5 behind a
sinc resampler; GCN on a sparse adjacency and GAT by segment softmax; pygcn's and pyGAT's
sparse code (a custom Function saving a sparse tensor), LightGCN/NGCF's sparse graph dropout,
GraphSAGE with sampled neighbours, graph diffusion with a second derivative through sparse
products; PPO with a seeded BatchSampler, DreamerV3's straight-through latents and two-hot
targets, a Decision Transformer, a pointer network under REINFORCE; Hamiltonian and Lagrangian
networks, a Burgers PINN by torch.func and by autograd, an augmented neural ODE; and the
utilities (data pipelines, parametrizations and pruning, custom Functions, checkpointing, the
Module API, a bucketing sampler and LoRA injection).

What this round fixed, each checked here: a custom Function given or saving a sparse COO
tensor (pyGAT's sparse matmul) failed, and a sparse input's gradient went to the wrong
place; ``_values()`` of a sparse tensor was differentiable (PyTorch's is not; ``values()``
is); sparse COO tensors lacked the zero-preserving elementwise functions (abs, sqrt, tanh,
relu...), ``pow`` and ``index_select``, a dense factor broadcast to them (row scaling), and
``dense @ sparse``; ``torch.sparse.mm`` had no second derivative; ``torch.jit.script`` and
``trace`` did not give PyTorch 2.13's DeprecationWarning; ``stft`` checked its arguments
before padding (PyTorch pads first: a short clip's padding error, a 3-d batch's padded
length); PackedSequence lacked byte/char/short/pin_memory; ConcatDataset lacked the old
``cummulative_sizes``.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import collections
import importlib
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, import_forward_ad_decompositions, labels as _labels, registry,
    program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()
import_forward_ad_decompositions()


# ----------------------------------------------------------------------------------------------
# language models and recurrent plumbing
# ----------------------------------------------------------------------------------------------
@program
def word_language_model_relu_rnn_tied_dropout_repackage_and_total_norm(L):
    """The setting of pytorch/examples' word language model with an RNN_RELU, in our code: a
    token stream cut into columns, bptt windows with shifted targets, embedding dropout, a
    two-layer relu RNN with dropout between layers, the output layer's weight tied to the
    embedding, the hidden state detached between windows (a tensor or a nested tuple), the
    gradient norm measured by get_total_norm and applied by clip_grads_with_norm_, then the
    manual update p.data.add_(p.grad, alpha=-lr); evaluation under no_grad."""
    nn, F = L.nn, L.nn.functional
    ntoken, nhid, bsz, bptt = 11, 6, 3, 4
    L.manual_seed(1)

    class TiedRNNLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(ntoken, nhid)
            self.rnn = nn.RNN(nhid, nhid, 2, nonlinearity="relu", dropout=0.3)
            self.out = nn.Linear(nhid, ntoken)
            self.drop = nn.Dropout(0.3)
            self.out.weight = self.embed.weight
            nn.init.uniform_(self.embed.weight, -0.1, 0.1)
            nn.init.zeros_(self.out.bias)

        def forward(self, tokens, state):
            h, state = self.rnn(self.drop(self.embed(tokens)), state)
            scores = self.out(self.drop(h)).view(-1, ntoken)
            return F.log_softmax(scores, dim=1), state

        def zero_state(self, b):
            return self.embed.weight.new_zeros(2, b, nhid)

    def cut_graph(state):
        return state.detach() if isinstance(state, L.Tensor) else tuple(map(cut_graph, state))

    def columns(stream, b):
        # drop the tail that does not fill b columns; row t holds step t of every column
        usable = (stream.size(0) // b) * b
        return stream.narrow(0, 0, usable).view(b, -1).t().contiguous()

    def window(source, start):
        n = min(bptt, len(source) - 1 - start)
        return source[start:start + n], source[start + 1:start + 1 + n].reshape(-1)

    stream = L.tensor(_labels(40, ntoken, 3))
    train = columns(stream, bsz)
    model = TiedRNNLM().double()
    crit = nn.NLLLoss()
    state = model.zero_state(bsz)
    lr, losses, norms = 2.0, [], []
    model.train()
    for start in range(0, train.size(0) - 1, bptt):
        data, targets = window(train, start)
        model.zero_grad()
        state = cut_graph(state)
        output, state = model(data, state)
        loss = crit(output, targets)
        loss.backward()
        params = list(model.parameters())
        total = nn.utils.get_total_norm([p.grad for p in params])
        nn.utils.clip_grads_with_norm_(params, 0.25, total)
        for p in params:
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
        norms.append(total)
    model.eval()
    with L.no_grad():
        out, _ = model(train[:5], model.zero_state(bsz))
        val = crit(out, train[1:6].reshape(-1))
    return dict(losses=losses, norms=norms, val=val, tied=model.out.weight is
                model.embed.weight, n_params=len(list(model.parameters())),
                state=model.state_dict())


@program
def time_sequence_prediction_lstmcells_lbfgs_closure_and_future(L):
    """The setting of pytorch/examples' time-sequence prediction, in our code: two LSTMCells
    stepped over the columns of a batch of sine waves (input.split(1, dim=1)), predicting the
    next value, trained by LBFGS with a closure over a few steps, then extra steps fed with
    the model's own output; the loss reported by the closure and the predictions."""
    nn = L.nn
    L.manual_seed(2)

    class TwoCells(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.width = width
            self.cells = nn.ModuleList([nn.LSTMCell(1, width), nn.LSTMCell(width, width)])
            self.read = nn.Linear(width, 1)

        def step(self, value, states):
            new = []
            for cell, hc in zip(self.cells, states):
                hc = cell(value, hc)
                new.append(hc)
                value = hc[0]
            return self.read(value), new

        def forward(self, series, extra=0):
            states = [(L.zeros(series.size(0), self.width, dtype=L.double),
                       L.zeros(series.size(0), self.width, dtype=L.double)) for _ in self.cells]
            preds = []
            for column in series.split(1, dim=1):
                y, states = self.step(column, states)
                preds.append(y)
            for _ in range(extra):            # run on, fed with its own predictions
                y, states = self.step(y, states)
                preds.append(y)
            return L.cat(preds, dim=1)

    rng = np.random.RandomState(4)
    x = np.arange(12) + rng.randint(-8, 8, 3).reshape(3, 1)
    data = L.tensor(np.sin(x / 4.0))
    inp, target = data[:, :-1], data[:, 1:]
    seq = TwoCells().double()
    crit = nn.MSELoss()
    opt = L.optim.LBFGS(seq.parameters(), lr=0.8, max_iter=4)
    seen = []

    def closure():
        opt.zero_grad()
        loss = crit(seq(inp), target)
        seen.append(loss.item())
        loss.backward()
        return loss

    for _ in range(2):
        opt.step(closure)
    with L.no_grad():
        pred = seq(inp[:2], extra=3)
        test_loss = crit(pred[:, :-3], target[:2])
    return dict(seen=seen, pred=pred, test_loss=test_loss,
                state={k: v for k, v in opt.state_dict()["state"][0].items()
                       if k in ("n_iter", "func_evals")})


@program
def packed_sequences_unsorted_bigru_packed_data_map_and_unpadding(L):
    """Variable-length batches the ways repositories handle them: pack_sequence with
    enforce_sorted=False, a bidirectional GRU over the pack, a Linear applied to packed.data
    and the pack rebuilt with _replace, pad_packed_sequence with total_length and a
    padding_value, unpack_sequence and unpad_sequence back to the original order, and
    pad_sequence with padding_side='left' for a decoder prompt; gradients of the inputs; the
    pack's dtype conversions (byte, char, short...) and pin_memory's refusal without an
    accelerator."""
    nn = L.nn
    rnn_utils = nn.utils.rnn
    L.manual_seed(5)
    lengths = [3, 5, 2, 4]
    seqs = [_t(L, n, 3, seed=10 + i, grad=True) for i, n in enumerate(lengths)]
    gru = nn.GRU(3, 4, bidirectional=True, batch_first=True).double()
    proj = nn.Linear(8, 2).double()
    packed = rnn_utils.pack_sequence(seqs, enforce_sorted=False)
    out, h = gru(packed)
    mapped = out._replace(data=proj(out.data))
    padded, lens = rnn_utils.pad_packed_sequence(mapped, batch_first=True, total_length=6,
                                                 padding_value=-1.0)
    back = rnn_utils.unpack_sequence(mapped)
    unpadded = rnn_utils.unpad_sequence(padded, lens, batch_first=True)
    left = rnn_utils.pad_sequence([s.sum(-1) for s in seqs], batch_first=True,
                                  padding_side="left")
    loss = sum((b ** 2).sum() for b in back) + padded.clamp(min=0).sum() + h.pow(2).mean() + \
        (left * L.arange(5.0, dtype=L.double)).sum()
    loss.backward()
    casts = [packed.byte().data.dtype, packed.char().data.dtype, packed.short().data.dtype,
             packed.int().data.dtype, packed.half().data.dtype, err(lambda: packed.pin_memory())]
    return dict(padded=padded, lens=lens, back=back, unpadded=unpadded, left=left, h=h,
                casts=casts,
                batch_sizes=packed.batch_sizes, sorted=packed.sorted_indices,
                unsorted=packed.unsorted_indices, grads=[s.grad for s in seqs],
                g=grads_of(gru), is_packed=type(mapped).__name__)


@program
def transformer_encoder_decoder_with_causal_and_padding_masks(L):
    """A seq2seq nn.TransformerEncoder/Decoder built by hand with norm_first layers, a GELU
    callable, a final LayerNorm: generate_square_subsequent_mask in float64, a boolean
    src_key_padding_mask shared as memory_key_padding_mask, tgt_key_padding_mask, and
    tgt_is_causal; label-smoothed cross-entropy with ignore_index, one Adam step; then the
    encoder in eval under no_grad (the nested-tensor fast path, whose padded rows are
    zeros)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(7)
    d, V, pad = 8, 9, 0
    emb = nn.Embedding(V, d, padding_idx=pad).double()
    enc_layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, activation=F.gelu,
                                           batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(enc_layer, 2, norm=nn.LayerNorm(d),
                                    enable_nested_tensor=False).double()
    dec_layer = nn.TransformerDecoderLayer(d, 2, 16, dropout=0.0, batch_first=True,
                                           norm_first=True)
    decoder = nn.TransformerDecoder(dec_layer, 1, norm=nn.LayerNorm(d)).double()
    head = nn.Linear(d, V).double()
    src = L.tensor([[3, 4, 5, 6, 0], [7, 2, 0, 0, 0]])
    tgt = L.tensor([[1, 5, 6, 2], [1, 8, 0, 0]])
    src_pad, tgt_pad = src == pad, tgt == pad
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=L.float64)
    params = [*emb.parameters(), *encoder.parameters(), *decoder.parameters(),
              *head.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    memory = encoder(emb(src) * math.sqrt(d), src_key_padding_mask=src_pad)
    out = decoder(emb(tgt[:, :-1]), memory, tgt_mask=causal[:3, :3],
                  tgt_key_padding_mask=tgt_pad[:, :-1], memory_key_padding_mask=src_pad,
                  tgt_is_causal=True)
    logits = head(out)
    loss = F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=pad,
                           label_smoothing=0.1)
    opt.zero_grad()
    loss.backward()
    g = {n: p.grad for n, p in encoder.named_parameters() if "layers.0" in n}
    opt.step()
    fast = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0,
                                                            batch_first=True), 1).double()
    fast.eval()
    with L.no_grad():
        fast_out = fast(emb(src), src_key_padding_mask=src_pad)
    return dict(causal=causal, memory=memory, logits=logits, loss=loss, g=g,
                emb=emb.weight, fast=fast_out)



@program
def multihead_attention_per_head_weights_bias_kv_zero_attn_and_unbatched(L):
    """nn.MultiheadAttention as attention-visualisation code calls it: per-head weights
    (average_attn_weights=False) with a 3-d float attn_mask of shape (N*heads, L, S) and a
    float key_padding_mask, add_bias_kv and add_zero_attn, kdim/vdim; an unbatched (2-d)
    query; a boolean key_padding_mask beside a float attn_mask (mismatched types); the
    gradients of the inputs and of the in-projection weights."""
    nn = L.nn
    L.manual_seed(9)
    mha = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True, kdim=5,
                                vdim=3).double()
    q = _t(L, 4, 2, 8, seed=20, grad=True)
    k = _t(L, 6, 2, 5, seed=21, grad=True)
    v = _t(L, 6, 2, 3, seed=22, grad=True)
    attn_mask = _t(L, 4, 4, 6, scale=0.5, seed=23)
    kpm = L.zeros(2, 6, dtype=L.double)
    kpm[1, 4:] = float("-inf")
    out, w = mha(q, k, v, attn_mask=attn_mask, key_padding_mask=kpm,
                 average_attn_weights=False)
    (out.pow(2).sum() + w[:, 0].sum()).backward()
    plain = nn.MultiheadAttention(8, 2, batch_first=True).double()
    x = _t(L, 3, 8, seed=24, grad=True)
    o1, w1 = plain(x, x, x)
    o2, w2 = plain(x, x, x, need_weights=False)
    bool_kpm = L.tensor([[False, False, True]])
    o3, _ = plain(x[None], x[None], x[None], key_padding_mask=bool_kpm,
                  attn_mask=L.zeros(3, 3, dtype=L.double))
    (o1.sum() + o3.sum()).backward()
    return dict(out=out, w=w, gq=q.grad, gk=k.grad, gv=v.grad, gq_w=mha.q_proj_weight.grad,
                gbk=mha.bias_k.grad, o1=o1, w1=w1, o2=o2, w2=w2, o3=o3, gx=x.grad)


@program
def ctc_acoustic_model_conv_bilstm_greedy_decode(L):
    """An audio-like CTC model (DeepSpeech's shape): a Conv1d front-end with stride over
    feature frames, output lengths computed from the input lengths by the convolution's
    formula, a bidirectional LSTM over the packed frames, log_softmax over (T, N, C) with the
    blank last; F.ctc_loss with concatenated 1-d targets, blank=C-1, zero_infinity for an
    infeasible sample and reduction='sum', nn.CTCLoss(reduction='none') with padded targets;
    greedy decoding with unique_consecutive; one SGD step."""
    nn, F = L.nn, L.nn.functional
    rnn_utils = nn.utils.rnn
    L.manual_seed(11)
    C = 5
    conv = nn.Conv1d(4, 6, 3, stride=2, padding=1).double()
    lstm = nn.LSTM(6, 4, bidirectional=True).double()
    fc = nn.Linear(8, C).double()
    feats = _t(L, 3, 4, 13, seed=30)
    in_lens = L.tensor([13, 9, 5])
    out_lens = (in_lens + 2 * 1 - 3) // 2 + 1
    h = F.hardtanh(conv(feats), 0, 20).permute(2, 0, 1)
    packed = rnn_utils.pack_padded_sequence(h, out_lens, enforce_sorted=False)
    o, _ = lstm(packed)
    o, _ = rnn_utils.pad_packed_sequence(o)
    logp = fc(o).log_softmax(-1)
    targets = L.tensor([0, 1, 1, 2, 3, 0, 1, 2, 3, 0, 1])
    tgt_lens = L.tensor([4, 3, 4])
    loss = F.ctc_loss(logp, targets, out_lens, tgt_lens, blank=C - 1, reduction="sum",
                      zero_infinity=True)
    padded_t = L.tensor([[0, 1, 1, 2], [3, 0, 1, 0], [2, 3, 0, 1]])
    per = nn.CTCLoss(blank=C - 1, reduction="none")(logp, padded_t, out_lens, tgt_lens)
    params = [*conv.parameters(), *lstm.parameters(), *fc.parameters()]
    opt = L.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True)
    opt.zero_grad()
    loss.backward()
    g = conv.weight.grad.clone()
    opt.step()
    best = logp.argmax(-1).t()
    decoded = []
    for b in range(3):
        seq = L.unique_consecutive(best[b, :out_lens[b]])
        decoded.append(seq[seq != C - 1].tolist())
    return dict(out_lens=out_lens, logp=logp, loss=loss, per=per, g=g, decoded=decoded,
                w=conv.weight)


@program
def log_mel_spectrogram_deltas_spec_augment_and_griffin_lim_step(L):
    """An audio front end assembled from tensor ops: pre-emphasis from shifted slices;
    torch.stft with a periodic Hann window shorter than n_fft, reflect padding and
    normalized=True; the power spectrogram projected on triangular mel filters whose edges
    are equally spaced on the mel scale (elementwise max/min against zero); decibels with an
    80 dB floor under each clip's peak (amax over two dims); regression deltas by a replicate
    pad and a depthwise conv1d; time and band masks from arange comparisons; then one
    Griffin-Lim round trip (istft with length, stft again, unit phase, polar/angle); every
    term's gradient reaches the waveform."""
    F = L.nn.functional
    sr, n_fft, hop, n_mels = 800, 32, 8, 6
    wav = _t(L, 2, 120, scale=0.3, seed=40, grad=True)
    x = L.cat([wav[:, :1], wav[:, 1:] - 0.97 * wav[:, :-1]], dim=1)
    window = L.hann_window(24, dtype=L.double)
    spec = L.stft(x, n_fft, hop_length=hop, win_length=24, window=window, center=True,
                  pad_mode="reflect", normalized=True, return_complex=True)
    power = spec.abs().pow(2.0)

    def hz_to_mel(f):
        return 2595.0 * L.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    # triangular mel filters: filter k rises from edge k to edge k+1 and falls to edge k+2
    bin_hz = L.linspace(0, sr // 2, n_fft // 2 + 1, dtype=L.double).unsqueeze(1)
    top_mel = hz_to_mel(L.tensor(sr / 2.0)).item()
    edges = mel_to_hz(L.linspace(hz_to_mel(L.tensor(0.0)).item(), top_mel, n_mels + 2,
                                 dtype=L.double))
    lo, centre, hi = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_hz - lo) / (centre - lo)
    falling = (hi - bin_hz) / (hi - centre)
    fb = L.max(L.zeros(1, dtype=L.double), L.min(rising, falling))   # (bins, n_mels)
    mel = L.matmul(power.transpose(-1, -2), fb).transpose(-1, -2)
    # decibels, floored 80 dB under each clip's loudest cell
    db = 10.0 * L.log10(L.clamp(mel, min=1e-10))
    loudest = db.amax(dim=(-2, -1))
    db = L.max(db, (loudest - 80.0).view(-1, 1, 1))
    # first-order regression deltas over +-2 frames, one depthwise filter per mel band
    taps = L.arange(-2, 3, dtype=L.double)
    norm = 2 * (1 ** 2 + 2 ** 2)
    edge_held = F.pad(db, (2, 2), mode="replicate")
    deltas = F.conv1d(edge_held, taps.repeat(n_mels, 1, 1), groups=n_mels) / float(norm)
    T = db.shape[-1]
    t = L.arange(T)
    time_mask = (t >= 3) & (t < 5)
    f_mask = (L.arange(n_mels) >= 1) & (L.arange(n_mels) < 3)
    aug = db.masked_fill(time_mask.view(1, 1, -1) | f_mask.view(1, -1, 1), db.mean().item())
    mag = spec.abs()
    rec = L.istft(L.polar(mag, spec.angle()), n_fft, hop_length=hop, win_length=24,
                  window=window, normalized=True, length=120)
    again = L.stft(rec, n_fft, hop_length=hop, win_length=24, window=window,
                   normalized=True, return_complex=True)
    phase = again / again.abs().clamp(min=1e-8)
    loss = aug.mean() + deltas.pow(2).mean() + (rec - x).pow(2).sum() + \
        (mag * phase).real.sum()
    loss.backward()
    return dict(fb=fb, db=db, deltas=deltas, aug=aug, rec=rec, loss=loss, g=wav.grad,
                shape=spec.shape, dtype=spec.dtype)




@program
def convs2s_glu_encoder_decoder_with_weight_normed_convs_and_attention(L):
    """fairseq's convolutional seq2seq at toy size: token plus learned position embeddings,
    weight-normalised (parametrizations) Conv1d blocks with GLU and residuals scaled by
    sqrt(0.5), a decoder made causal by left padding, attention over the encoder outputs
    z and z + e by bmm with a padding mask, the context scaled by s * sqrt(1/s); the
    cross-entropy, gradients of the weight norms' g and v, and an NAG step."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm
    L.manual_seed(47)
    V, d, k, pad = 8, 6, 3, 0
    tok, pos = nn.Embedding(V, d, padding_idx=pad).double(), nn.Embedding(10, d).double()
    enc_conv = wn(nn.Conv1d(d, 2 * d, k, padding=k // 2).double())
    dec_conv = wn(nn.Conv1d(d, 2 * d, k).double())
    out_proj = nn.Linear(d, V).double()
    src = L.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    tgt = L.tensor([[1, 2, 3], [1, 5, 6]])
    src_pad = src.eq(pad)
    e = tok(src) + pos(L.arange(src.size(1)))
    z = (F.glu(enc_conv(e.transpose(1, 2)), dim=1).transpose(1, 2) + e) * math.sqrt(0.5)
    z = z.masked_fill(src_pad.unsqueeze(-1), 0.0)
    g = tok(tgt) + pos(L.arange(tgt.size(1)))
    h = F.pad(g.transpose(1, 2), (k - 1, 0))
    h = (F.glu(dec_conv(h), dim=1).transpose(1, 2) + g) * math.sqrt(0.5)
    scores = L.bmm(h, z.transpose(1, 2)).masked_fill(src_pad.unsqueeze(1), float("-inf"))
    attn = F.softmax(scores, dim=-1)
    s_len = (~src_pad).sum(1, keepdim=True).unsqueeze(-1).to(L.double)
    ctx = L.bmm(attn, z + e) * (s_len * (1.0 / s_len).sqrt())
    logits = out_proj((h + ctx) * math.sqrt(0.5))
    loss = F.cross_entropy(logits[:, :-1].reshape(-1, V), tgt[:, 1:].reshape(-1))
    params = [*tok.parameters(), *pos.parameters(), *enc_conv.parameters(),
              *dec_conv.parameters(), *out_proj.parameters()]
    opt = L.optim.SGD(params, lr=0.25, momentum=0.99, nesterov=True)
    opt.zero_grad()
    loss.backward()
    grads = {n: p.grad for n, p in enc_conv.named_parameters()}
    opt.step()
    return dict(attn=attn, logits=logits, loss=loss, grads=grads,
                w=enc_conv.weight, g0=enc_conv.parametrizations.weight.original0)


@program
def text_classification_embedding_bag_offsets_tfidf_weights_and_step_lr(L):
    """Bag-of-words classification of short headlines: the vocabulary ranked by frequency
    (ties alphabetical) behind <pad> and <unk>, unknown words mapped to <unk> by a
    defaultdict; a DataLoader whose collate_fn concatenates a batch's token ids into one flat
    tensor, turns the texts' lengths into start offsets by an exclusive cumsum and attaches
    TF-IDF weights per token; EmbeddingBag(mode='sum', padding_idx=0) fed those weights
    through per_sample_weights, a Linear head, both re-initialised in place by uniform_ on
    .data; SGD at lr 5 decayed tenfold per epoch by StepLR, gradients clipped to norm 0.1;
    predictions and accuracy under no_grad, including a text of unseen words."""
    nn, F = L.nn, L.nn.functional
    headlines = [(0, "the cat sat on the mat"), (1, "stocks fell on the news"),
                 (0, "a cat and a dog"), (1, "the market rallied on news"),
                 (2, "team wins the match"), (2, "the match ended in a draw")]
    freq = collections.Counter(w for _, text in headlines for w in text.split())
    by_rank = sorted(freq, key=lambda w: (-freq[w], w))
    vocab = ["<pad>", "<unk>"] + by_rank
    index_of = collections.defaultdict(lambda: 1, zip(vocab, range(len(vocab))))
    doc_freq = collections.Counter(w for _, text in headlines for w in set(text.split()))
    idf = {w: math.log(len(headlines) / (1 + doc_freq[w])) + 1.0 for w in freq}

    def to_batch(items):
        words = [text.split() for _, text in items]
        flat_ids = L.cat([L.tensor([index_of[w] for w in ws], dtype=L.int64) for ws in words])
        token_weights = L.cat([L.tensor([idf.get(w, 1.0) for w in ws], dtype=L.double)
                               for ws in words])
        starts = L.tensor([0] + [len(ws) for ws in words[:-1]]).cumsum(dim=0)
        classes = L.tensor([c for c, _ in items], dtype=L.int64)
        return classes, flat_ids, starts, token_weights

    L.manual_seed(53)
    bag = nn.EmbeddingBag(len(vocab), 5, mode="sum", padding_idx=0).double()
    head = nn.Linear(5, 3).double()
    bag.weight.data.uniform_(-0.5, 0.5)
    head.weight.data.uniform_(-0.5, 0.5)
    head.bias.data.zero_()
    weights = list(bag.parameters()) + list(head.parameters())
    opt = L.optim.SGD(weights, lr=5.0)
    decay = L.optim.lr_scheduler.StepLR(opt, 1, gamma=0.1)
    batches = L.utils.data.DataLoader(headlines, batch_size=3, shuffle=False,
                                      collate_fn=to_batch)
    losses = []
    for _ in range(2):
        for classes, flat_ids, starts, token_weights in batches:
            opt.zero_grad()
            scores = head(bag(flat_ids, starts, per_sample_weights=token_weights))
            batch_loss = F.cross_entropy(scores, classes)
            batch_loss.backward()
            nn.utils.clip_grad_norm_(weights, 0.1)
            opt.step()
            losses.append(batch_loss.item())
        decay.step()
    with L.no_grad():
        classes, flat_ids, starts, token_weights = to_batch(
            headlines + [(1, "unseen words here")])
        guess = head(bag(flat_ids, starts, per_sample_weights=token_weights)).argmax(1)
        accuracy = (guess == classes).sum().item() / classes.size(0)
    return dict(itos=vocab, log=losses, pred=guess, acc=accuracy, lr=decay.get_last_lr(),
                offsets=starts, w=bag.weight)


@program
def speech_commands_m5_with_sinc_resampling_and_batchnorm_running_stats(L):
    """An M5-style audio classifier after a polyphase sinc resampler (torchaudio's method):
    a bank of Hann-windowed sinc kernels built by broadcasting (the t == 0
    case by where), applied by conv1d with stride = the original rate's factor, output
    frames reshaped and trimmed; then strided Conv1d, BatchNorm1d, MaxPool1d, a global
    avg_pool1d over the remaining length, log_softmax and nll_loss; Adam with weight decay
    over two steps, the BatchNorm running statistics, eval predictions."""
    nn, F = L.nn, L.nn.functional
    orig, new, half_span, rolloff = 4, 3, 4, 0.95
    cutoff = min(orig, new) * rolloff            # a fraction of the lower rate's Nyquist band

    def sinc_bank():
        """(new, 1, taps): for each output phase, a Hann-windowed sinc over the input
        samples from -half_span to half_span + orig around a block of orig inputs."""
        taps = L.arange(-half_span, half_span + orig, dtype=L.double)[None, None] / orig
        phase = L.arange(0, -new, -1, dtype=L.double)[:, None, None] / new
        x = ((phase + taps) * cutoff).clamp_(-half_span, half_span)
        hann = L.cos(x * math.pi / half_span / 2) ** 2
        x = x * math.pi
        sinc = L.where(x == 0, L.tensor(1.0, dtype=L.double), x.sin() / x)
        return sinc * hann * (cutoff / orig)

    kernels = sinc_bank()
    n_in = 96
    wav = _t(L, 4, 1, n_in, scale=0.5, seed=140)
    padded = F.pad(wav.view(-1, n_in), (half_span, half_span + orig))
    phases = F.conv1d(padded[:, None], kernels, stride=orig)        # (N, new, blocks)
    n_out = math.ceil(new * n_in / orig)
    res = phases.transpose(1, 2).reshape(4, -1)[:, :n_out][:, None]  # phases interleaved
    L.manual_seed(59)
    model = nn.Sequential(
        nn.Conv1d(1, 8, 8, stride=4), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 3), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2)).double()
    fc = nn.Linear(8, 3).double()

    def forward(inp):
        feats = model(inp)
        pooled = F.avg_pool1d(feats, feats.shape[-1])          # (N, C, 1): a global mean
        return F.log_softmax(fc(pooled.permute(0, 2, 1)), dim=2).squeeze(1)

    y = L.tensor([0, 2, 1, 2])
    opt = L.optim.Adam([*model.parameters(), *fc.parameters()], lr=0.01, weight_decay=1e-4)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.nll_loss(forward(res), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        pred = forward(res).argmax(-1)
    return dict(kernels=kernels, res=res, losses=losses, pred=pred,
                mean=model[1].running_mean, var=model[5].running_var,
                tracked=model[1].num_batches_tracked, w=model[0].weight)



@program
def skip_gram_negative_sampling_sparse_embeddings_and_sparse_adam(L):
    """Skip-gram with negative sampling (word2vec's objective), in plain tensor code: input and
    output Embeddings with sparse=True (scale_grad_by_freq refused with them, in torch's
    words), negatives drawn by multinomial from the unigram counts ** 0.75 after a seed,
    logsigmoid of the positive dot products and of the negated bmm with the negatives,
    SparseAdam over both tables, the sparse gradient's coalesced rows; nearest neighbours by
    cosine similarity."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(107)
    V, d = 8, 4
    emb_in = nn.Embedding(V, d, sparse=True).double()
    emb_out = nn.Embedding(V, d, sparse=True).double()
    counts = L.tensor([5., 3., 8., 1., 2., 2., 6., 4.], dtype=L.double)
    noise = counts ** 0.75
    noise = noise / noise.sum()
    opt = L.optim.SparseAdam([*emb_in.parameters(), *emb_out.parameters()], lr=0.05)
    centers, ctx = L.tensor([1, 2, 2, 5]), L.tensor([2, 1, 3, 6])
    log = []
    for _ in range(2):
        neg = L.multinomial(noise, 4 * 3, replacement=True).view(4, 3)
        c = emb_in(centers)
        pos = F.logsigmoid((c * emb_out(ctx)).sum(1))
        negs = F.logsigmoid(-L.bmm(emb_out(neg), c.unsqueeze(2)).squeeze(2)).sum(1)
        loss = -(pos + negs).mean()
        opt.zero_grad()
        loss.backward()
        g = emb_in.weight.grad.coalesce()
        opt.step()
        log.append((loss.item(), neg.tolist(), g.indices().tolist(), g.values()))
    with L.no_grad():
        sim = F.cosine_similarity(emb_in.weight[:, None], emb_in.weight[None], dim=-1)
    scaled = nn.Embedding(V, d, sparse=True, scale_grad_by_freq=True)
    refused = err(lambda: scaled(centers).sum().backward())
    return dict(log=log, near=sim.topk(2, dim=1).indices, w=emb_in.weight, refused=refused)


# ----------------------------------------------------------------------------------------------
# graphs
# ----------------------------------------------------------------------------------------------
@program
def gcn_by_sparse_coo_adjacency_and_gat_by_segment_softmax(L):
    """Kipf's GCN with the normalised adjacency as a coalesced sparse COO tensor (self-loops
    added, degrees by sparse.sum and to_dense, values D^-1/2 A D^-1/2 gathered by the
    indices), torch.sparse.mm into X W; a GAT layer on the same edges by a segment softmax
    (scatter_reduce 'amax' with include_self=False, exp, index_add_ of the normalisers) and
    a graph readout by index_reduce_('mean'); node classification loss on a mask, one
    Adam step; gradients of features and weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(13)
    n = 6
    edges = L.tensor([[0, 1, 1, 2, 3, 4, 4, 5, 2, 0], [1, 0, 2, 1, 4, 3, 5, 4, 0, 2]])
    loops = L.arange(n).repeat(2, 1)
    ei = L.cat([edges, loops], 1)
    A = L.sparse_coo_tensor(ei, L.ones(ei.size(1), dtype=L.double), (n, n)).coalesce()
    deg = L.sparse.sum(A, dim=1).to_dense()
    dinv = deg.pow(-0.5)
    idx = A.indices()
    vals = dinv[idx[0]] * A.values() * dinv[idx[1]]
    A_hat = L.sparse_coo_tensor(idx, vals, (n, n))
    x = _t(L, n, 4, seed=50, grad=True)
    W1 = nn.Linear(4, 8, bias=False).double()
    att_src = nn.Parameter(_t(L, 8, scale=0.4, seed=51))
    att_dst = nn.Parameter(_t(L, 8, scale=0.4, seed=52))
    W2 = nn.Linear(8, 3).double()
    h = F.relu(L.sparse.mm(A_hat, W1(x)))
    src, dst = ei
    e = F.leaky_relu((h * att_src).sum(-1)[src] + (h * att_dst).sum(-1)[dst], 0.2)
    emax = L.zeros(n, dtype=L.double).scatter_reduce(0, dst, e, "amax", include_self=False)
    ex = (e - emax[dst]).exp()
    denom = L.zeros(n, dtype=L.double).index_add_(0, dst, ex)
    alpha = ex / denom[dst]
    msg = h[src] * alpha.unsqueeze(-1)
    agg = L.zeros(n, 8, dtype=L.double).index_add_(0, dst, msg)
    logits = W2(F.elu(agg))
    batch = L.tensor([0, 0, 0, 1, 1, 1])
    pooled = L.zeros(2, 3, dtype=L.double).index_reduce_(0, batch, logits, "mean",
                                                         include_self=False)
    y = L.tensor([0, 1, 2, 0, 1, 2])
    mask = L.tensor([True, False, True, True, False, True])
    loss = F.cross_entropy(logits[mask], y[mask]) + pooled.pow(2).mean()
    opt = L.optim.Adam([*W1.parameters(), att_src, att_dst, *W2.parameters()], lr=0.01,
                       weight_decay=5e-4)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return dict(deg=deg, A=A_hat.to_dense(), alpha=alpha, pooled=pooled, loss=loss,
                gx=x.grad, gW1=W1.weight.grad, ga=att_src.grad, nnz=A._nnz(),
                coalesced=A.is_coalesced(), W1=W1.weight)



@program
def graphsage_sampled_neighbours_edge_dropout_and_link_prediction(L):
    """GraphSAGE-style mean aggregation over sampled neighbourhoods, and link prediction,
    without a graph library: edges sorted by destination (a CSR rowptr by bincount and cumsum),
    a fixed number of neighbours per node drawn by randint after a seed and offset into the
    rowptr, mean aggregation by scatter_reduce('mean', include_self=False), edge dropout by
    a rand mask, negative edges by randint filtered with isin on hashed pairs, dot-product
    scores and BCE-with-logits; gradients and one Adam step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(67)
    n = 7
    ei = L.tensor([[0, 1, 2, 3, 4, 5, 6, 1, 2, 3, 0, 5], [1, 0, 1, 2, 3, 4, 5, 2, 3, 4, 6, 6]])
    order = ei[1].argsort(stable=True)
    ei = ei[:, order]
    counts = L.bincount(ei[1], minlength=n)
    rowptr = L.cat([counts.new_zeros(1), counts.cumsum(0)])
    k = 2
    draw = (L.rand(n, k) * counts.clamp(min=1)[:, None]).long()
    pick = rowptr[:-1, None] + draw
    nbr = ei[0][pick.clamp(max=ei.size(1) - 1)]
    has = counts > 0
    x = _t(L, n, 4, seed=150)
    lin_self, lin_nbr = nn.Linear(4, 8).double(), nn.Linear(4, 8, bias=False).double()
    dst = L.arange(n).repeat_interleave(k)
    agg = x.new_zeros(n, 4).scatter_reduce(0, dst[:, None].expand(-1, 4),
                                           x[nbr.reshape(-1)], "mean", include_self=False)
    h = F.normalize(F.relu(lin_self(x) + lin_nbr(agg * has[:, None])), dim=-1)
    keep = L.rand(ei.size(1)) > 0.2
    pos = ei[:, keep]
    neg = L.randint(0, n, (2, 8))
    key = lambda e: e[0] * n + e[1]
    neg = neg[:, ~L.isin(key(neg), key(ei)) & (neg[0] != neg[1])]
    score = lambda e: (h[e[0]] * h[e[1]]).sum(-1)
    logits = L.cat([score(pos), score(neg)])
    labels = L.cat([L.ones(pos.size(1)), L.zeros(neg.size(1))]).double()
    loss = F.binary_cross_entropy_with_logits(logits, labels)
    opt = L.optim.Adam([*lin_self.parameters(), *lin_nbr.parameters()], lr=0.01)
    opt.zero_grad()
    loss.backward()
    g = {"self": lin_self.weight.grad, "nbr": lin_nbr.weight.grad}
    opt.step()
    return dict(rowptr=rowptr, nbr=nbr, agg=agg, keep=keep, neg=neg, logits=logits,
                loss=loss, g=g, w=lin_nbr.weight)



@program
def pygcn_legacy_sparse_constructors_and_pygat_special_spmm_function(L):
    """Legacy sparse idioms that older graph code still carries.  A graph convolution built
    the old way: a row-normalised float32 adjacency from numpy passed to
    torch.sparse.FloatTensor(indices, values, Size) via from_numpy, features and labels by
    the FloatTensor/LongTensor constructors, an uninitialised FloatTensor parameter filled by
    uniform_ within 1/sqrt(fan_out), torch.spmm(adj, mm(x, W)), log_softmax and nll_loss.
    Then sparse attention by a custom autograd Function that assembles a sparse_coo_tensor
    from an edge list inside forward and saves it, and whose backward reads the saved
    tensor's _indices() to pick the entries of the dense gradient that sit on edges;
    attention weights exp(-leaky_relu(a . [h_src, h_dst])), normalised by the same Function
    applied to a column of ones; and a second Function taking a sparse tensor with
    differentiable values whose backward returns a dense gradient for it."""
    nn, F = L.nn, L.nn.functional
    rng = np.random.RandomState(190)
    links = (rng.rand(5, 5) > 0.6).astype(np.float32)
    links = links + links.T + np.eye(5, dtype=np.float32)
    links = links / links.sum(1, keepdims=True)
    r_np, c_np = np.nonzero(links)
    A = L.sparse.FloatTensor(L.from_numpy(np.vstack((r_np, c_np)).astype(np.int64)),
                             L.from_numpy(links[r_np, c_np]), L.Size(links.shape))
    feats = L.FloatTensor(rng.randn(5, 3).astype(np.float32))
    labels = L.LongTensor(np.array([0, 1, 0, 1, 1]))
    W = nn.Parameter(L.FloatTensor(3, 2))
    bound = 1. / math.sqrt(W.size(1))
    L.manual_seed(83)
    W.data.uniform_(-bound, bound)
    out = L.spmm(A, L.mm(feats, W))
    gcn_loss = F.nll_loss(F.log_softmax(out, dim=1), labels)
    gcn_loss.backward()

    class EdgeListTimesDense(L.autograd.Function):
        """S @ b where S has the given edge list and values; d(values) is the dense
        gradient g b^T read only at the edges (flat position row * n + col)."""

        @staticmethod
        def forward(ctx, edges, values, shape, b):
            assert not edges.requires_grad
            S = L.sparse_coo_tensor(edges, values, shape)
            ctx.save_for_backward(S, b)
            ctx.n = shape[0]
            return L.matmul(S, b)

        @staticmethod
        def backward(ctx, g):
            S, b = ctx.saved_tensors
            grads = [None, None, None, None]
            if ctx.needs_input_grad[1]:
                at = S._indices()
                flat = at[0, :] * ctx.n + at[1, :]
                grads[1] = g.matmul(b.t()).view(-1)[flat]
            if ctx.needs_input_grad[3]:
                grads[3] = S.t().matmul(g)
            return tuple(grads)

    class SparseTimesDense(L.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return L.sparse.mm(a, b)

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return g @ b.t(), a.t() @ g

    edge = L.tensor([[0, 1, 2, 2, 3, 3], [1, 2, 0, 3, 3, 1]])
    h = _t(L, 4, 3, seed=191, grad=True)
    att = _t(L, 6, scale=0.5, seed=192, grad=True)

    def edge_weights(nodes):
        both_ends = L.cat((nodes[edge[0, :], :], nodes[edge[1, :], :]), dim=1)   # (E, 2F)
        return L.exp(-F.leaky_relu(att.matmul(both_ends.t()).squeeze(), 0.2))

    weight = edge_weights(h)
    size = L.Size([4, 4])
    ones = L.ones(size=(4, 1), dtype=L.double)
    mass = EdgeListTimesDense.apply(edge, weight, size, ones)
    h_prime = F.elu(EdgeListTimesDense.apply(edge, weight, size, h).div(mass))
    vals = _t(L, 6, seed=193, grad=True)
    mixed = SparseTimesDense.apply(L.sparse_coo_tensor(edge, vals, (4, 4)), h)
    (h_prime.pow(2).sum() + mixed.sum()).backward()
    return dict(out=out, gcn_loss=gcn_loss, gW=W.grad, idx=A._indices(), vals=A._values(),
                nnz=A._nnz(), type=A.type(), layout=str(A.layout), h_prime=h_prime,
                gh=h.grad, ga=att.grad, gvals=vals.grad, mixed=mixed)


@program
def lightgcn_ngcf_sparse_graph_dropout_propagation_and_bpr(L):
    """Recommender-style propagation on a sparse bipartite graph: the adjacency
    [[0, R], [R^T, 0]] normalised by D^-1/2 A D^-1/2 in numpy and handed to the legacy
    constructor torch.sparse.FloatTensor(index, data, shape).coalesce(); two ways of
    dropping edges that such code uses -- keep an edge when int(rand + keep) is 1
    (indices().t() and values() masked, the kept values divided by keep), or when
    floor(1 - rate + rand) is 1 (through _indices()/_values(), the whole sparse graph then
    multiplied by 1 / (1 - rate)); the layer outputs of repeated torch.sparse.mm averaged
    by stack and mean; a Bayesian personalised ranking loss (softplus of the score margin)
    on fixed (user, liked, other) triples with a small L2 term on the looked-up embeddings;
    gradients, Adam, and top-2 unseen items per user."""
    nn, F = L.nn, L.nn.functional
    n_users, n_items, d = 3, 4, 4
    interactions = np.array([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=np.float32)
    n_nodes = n_users + n_items
    bipartite = np.zeros((n_nodes, n_nodes), dtype=np.float32)
    bipartite[:n_users, n_users:] = interactions
    bipartite[n_users:, :n_users] = interactions.T
    degree = bipartite.sum(1)
    inv_sqrt = np.power(degree, -0.5, where=degree > 0, out=np.zeros_like(degree))
    normalised = inv_sqrt[:, None] * bipartite * inv_sqrt[None, :]
    nz_r, nz_c = np.nonzero(normalised)
    graph = L.sparse.FloatTensor(L.stack([L.LongTensor(nz_r), L.LongTensor(nz_c)]),
                                 L.FloatTensor(normalised[nz_r, nz_c]),
                                 L.Size([n_nodes, n_nodes])).coalesce()
    L.manual_seed(97)
    user_table, item_table = nn.Embedding(n_users, d), nn.Embedding(n_items, d)
    nn.init.normal_(user_table.weight, std=0.1)
    nn.init.normal_(item_table.weight, std=0.1)

    def keep_by_truncation(adj, keep):
        # rand + keep lies in [keep, 1 + keep): its integer part is 1 with probability keep
        coords, weights = adj.indices().t(), adj.values()
        kept = (L.rand(len(weights)) + keep).int().bool()
        return L.sparse.FloatTensor(coords[kept].t(), weights[kept] / keep, adj.size())

    def keep_by_floor(adj, rate, n_draws):
        survives = L.floor((1 - rate) + L.rand(n_draws)).type(L.bool)
        thinned = L.sparse.FloatTensor(adj._indices()[:, survives], adj._values()[survives],
                                       adj.shape)
        return thinned * (1. / (1 - rate))

    def propagate(adj):
        layers = [L.cat([user_table.weight, item_table.weight])]
        for _ in range(2):
            layers.append(L.sparse.mm(adj, layers[-1]))
        averaged = L.mean(L.stack(layers, dim=1), dim=1)
        return L.split(averaged, [n_users, n_items])

    who = L.tensor([0, 1, 2, 0])
    liked, other = L.tensor([0, 1, 3, 2]), L.tensor([1, 3, 2, 3])
    opt = L.optim.Adam([user_table.weight, item_table.weight], lr=0.01)
    history = []
    for step in range(2):
        L.manual_seed(100 + step)
        if step == 0:
            thinned = keep_by_truncation(graph, 0.8)
        else:
            thinned = keep_by_floor(graph, 0.2, graph._nnz())
        users_final, items_final = propagate(thinned)
        u = users_final[who]
        margin = L.mul(u, items_final[other]).sum(dim=1) - L.mul(u, items_final[liked]).sum(dim=1)
        looked_up = (user_table(who), item_table(liked), item_table(other))
        l2 = 0.5 * sum(t.norm(2).pow(2) for t in looked_up) / float(len(who))
        loss = L.mean(F.softplus(margin)) + 1e-4 * l2
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append((loss.detach(), thinned._nnz()))
    with L.no_grad():
        users_final, items_final = propagate(graph)
        affinity = F.sigmoid(users_final @ items_final.t())
        seen = L.from_numpy(interactions) > 0
        suggest = affinity.masked_fill(seen, -1.0).topk(2, dim=1).indices
    return dict(graph=graph.to_dense(), log=history, rating=affinity, top=suggest,
                gu=user_table.weight.grad, w=item_table.weight)


@program
def graph_diffusion_with_sparse_laplacian_and_input_gradient_penalty(L):
    """Graph diffusion in the style of GRAND and physics-on-graph codes: a normalised
    Laplacian as a sparse COO tensor (degrees by torch.sparse.sum, the identity by
    sparse add), explicit Euler steps u <- u - dt * L @ u through torch.sparse.mm, the
    features read out by a dense matrix times the sparse adjacency (dense @ sparse); a
    classifier on top, and a gradient penalty on the input features (autograd.grad with
    create_graph, then backward through it: a second derivative through the sparse
    products); Adam steps on the diffusion time and the weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(103)
    n = 6
    ei = L.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0, 5], [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 5, 0]])
    A = L.sparse_coo_tensor(ei, L.ones(ei.size(1), dtype=L.double), (n, n)).coalesce()
    deg = L.sparse.sum(A, dim=1).to_dense()
    dinv = deg.pow(-0.5)
    idx = A.indices()
    A_norm = L.sparse_coo_tensor(idx, dinv[idx[0]] * A.values() * dinv[idx[1]], (n, n))
    eye = L.sparse_coo_tensor(L.arange(n).repeat(2, 1), L.ones(n, dtype=L.double), (n, n))
    lap = (eye - A_norm).coalesce()
    enc, head = nn.Linear(3, 4).double(), nn.Linear(4, 2).double()
    log_t = nn.Parameter(L.tensor(-1.0, dtype=L.double))
    readout = _t(L, 2, n, scale=0.5, seed=220, grad=True)
    x = _t(L, n, 3, seed=221)
    y = L.tensor([0, 1, 0, 1, 1, 0])
    opt = L.optim.Adam([*enc.parameters(), *head.parameters(), log_t, readout], lr=0.02)

    def forward(inp):
        u = enc(inp)
        dt = log_t.exp() / 4
        for _ in range(4):
            u = u - dt * L.sparse.mm(lap, u)
        return head(L.tanh(u)), readout @ A_norm

    log = []
    for _ in range(2):
        inp = x.clone().requires_grad_(True)
        logits, pooled = forward(inp)
        ce = F.cross_entropy(logits, y)
        g, = L.autograd.grad(ce, inp, create_graph=True)
        loss = ce + 0.5 * g.pow(2).sum() + 0.01 * pooled.pow(2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss.item(), log_t.item()))
    return dict(lap=lap.to_dense(), log=log, g=g, w=enc.weight, gt=log_t.grad,
                pooled=pooled, node=pooled.grad_fn.name())


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def ppo_discrete_minibatches_by_batch_sampler_with_generator_and_kl_early_stop(L):
    """PPO as the popular single-file implementations write it: a shared-trunk actor-critic,
    GAE over a rollout with dones, advantages normalised per minibatch, minibatches drawn
    by BatchSampler(SubsetRandomSampler(..., generator=g)), the clipped surrogate with the
    approximate KL ((ratio - 1) - logratio).mean() and an exact kl_divergence between the
    old and new Categoricals, entropy bonus, clipped value loss, clip_grad_norm_ and an early
    stop when the KL passes a target."""
    nn = L.nn
    D = L.distributions
    data = L.utils.data
    L.manual_seed(17)
    trunk = nn.Sequential(nn.Linear(4, 16), nn.Tanh()).double()
    pi_head, v_head = nn.Linear(16, 3).double(), nn.Linear(16, 1).double()
    params = [*trunk.parameters(), *pi_head.parameters(), *v_head.parameters()]
    opt = L.optim.Adam(params, lr=3e-3, eps=1e-5)
    T = 8
    obs = _t(L, T, 4, seed=60)
    actions = L.tensor(_labels(T, 3, 61))
    rewards = _t(L, T, scale=0.5, seed=62)
    dones = L.tensor([0, 0, 1, 0, 0, 0, 1, 0], dtype=L.double)
    with L.no_grad():
        z = trunk(obs)
        old_logits, values = pi_head(z), v_head(z).squeeze(-1)
        old_logp = D.Categorical(logits=old_logits).log_prob(actions)
        next_value = v_head(trunk(_t(L, 1, 4, seed=63))).squeeze()
    adv = L.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(T)):
        nv = next_value if t == T - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + 0.99 * nv * nonterminal - values[t]
        last = delta + 0.99 * 0.95 * nonterminal * last
        adv[t] = last
    returns = adv + values
    g = L.Generator().manual_seed(3)
    sampler = data.BatchSampler(data.SubsetRandomSampler(range(T), generator=g), 3,
                                drop_last=False)
    log = []
    for epoch in range(2):
        for mb in sampler:
            mb = L.tensor(mb)
            z = trunk(obs[mb])
            dist = D.Categorical(logits=pi_head(z))
            newlogp = dist.log_prob(actions[mb])
            logratio = newlogp - old_logp[mb]
            ratio = logratio.exp()
            with L.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                exact_kl = D.kl_divergence(D.Categorical(logits=old_logits[mb]), dist).mean()
            a = adv[mb]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg = L.max(-a * ratio, -a * L.clamp(ratio, 0.8, 1.2)).mean()
            v = v_head(z).view(-1)
            v_clipped = values[mb] + L.clamp(v - values[mb], -0.2, 0.2)
            v_loss = 0.5 * L.max((v - returns[mb]) ** 2, (v_clipped - returns[mb]) ** 2).mean()
            loss = pg - 0.01 * dist.entropy().mean() + 0.5 * v_loss
            opt.zero_grad()
            loss.backward()
            norm = nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            log.append([mb.tolist(), loss.item(), approx_kl.item(), exact_kl.item(),
                        norm.item()])
        if log[-1][2] > 0.5:
            break
    return dict(adv=adv, returns=returns, log=log, w=pi_head.weight)


@program
def dreamer_style_discrete_latents_straight_through_symlog_two_hot(L):
    """World-model pieces of the DreamerV3 kind: 2 groups of 4-way categorical latents
    mixed with 1% uniform, sampled by OneHotCategoricalStraightThrough.rsample after a
    seed (gradients pass straight through), KL balancing between Independent posterior and
    prior with free bits (clamp at 1 nat) on both stop-gradient sides, symlog targets, a
    two-hot encoding over symexp-spaced bins by bucketize and its cross-entropy; gradients
    of the encoder and prior networks."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(19)
    enc, prior = nn.Linear(5, 8).double(), nn.Linear(3, 8).double()
    value = nn.Linear(8, 7).double()
    obs, ctx = _t(L, 4, 5, seed=70), _t(L, 4, 3, seed=71)

    def dist_of(logits):
        probs = logits.view(4, 2, 4).softmax(-1)
        probs = 0.99 * probs + 0.01 / 4
        return D.Independent(D.OneHotCategoricalStraightThrough(probs=probs), 1)

    post_logits, prior_logits = enc(obs), prior(ctx)
    post, pri = dist_of(post_logits), dist_of(prior_logits)
    L.manual_seed(20)
    z = post.rsample()
    feat = z.reshape(4, 8)
    dyn = D.kl_divergence(dist_of(post_logits.detach()), pri).clamp(min=1.0).mean()
    rep = D.kl_divergence(post, dist_of(prior_logits.detach())).clamp(min=1.0).mean()

    def symlog(x):
        return L.sign(x) * L.log1p(x.abs())

    def symexp(x):
        return L.sign(x) * L.expm1(x.abs())

    bins = symexp(L.linspace(-3, 3, 7, dtype=L.double))
    target = symlog(L.tensor([0.3, -2.0, 5.0, 40.0], dtype=L.double))
    target_raw = symexp(target)
    below = (L.bucketize(target_raw, bins, right=True) - 1).clamp(0, 6)
    above = (below + 1).clamp(0, 6)
    dist_b = (bins[below] - target_raw).abs()
    dist_a = (bins[above] - target_raw).abs()
    tot = dist_b + dist_a
    same = below == above
    w_b = L.where(same, L.ones_like(tot), dist_a / tot)
    w_a = L.where(same, L.zeros_like(tot), dist_b / tot)
    two_hot = F.one_hot(below, 7) * w_b[:, None] + F.one_hot(above, 7) * w_a[:, None]
    logits = value(feat)
    v_loss = -(two_hot * logits.log_softmax(-1)).sum(-1).mean()
    pred = (logits.softmax(-1) * bins).sum(-1)
    loss = 0.5 * dyn + 0.1 * rep + v_loss
    loss.backward()
    return dict(z=z, dyn=dyn, rep=rep, two_hot=two_hot, pred=pred, loss=loss,
                g_enc=enc.weight.grad, g_prior=prior.weight.grad, g_value=value.weight.grad,
                entropy=post.entropy(), mode=post.mode, batch=post.batch_shape,
                event=post.event_shape)




@program
def decision_transformer_interleaved_tokens_timestep_embedding_and_action_loss(L):
    """Return-conditioned sequence modelling in the manner of the Decision Transformer:
    returns-to-go from a reversed cumsum of the rewards; one linear embedding each for
    return, state and action, all plus an embedding of the timestep; the three streams
    woven into the order (R1, s1, a1, R2, ...) by stack(dim=1), permute and reshape, and the
    key-padding mask woven the same way; LayerNorm, then a causal TransformerEncoder (square
    mask with is_causal=True) over the 3T tokens; the tokens unwoven by reshape/permute,
    each action predicted from its state's token through tanh; MSE over unpadded steps,
    AdamW with a linear LambdaLR warm-up and clip_grad_norm_."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(71)
    B, T, S, A, d = 2, 4, 3, 2, 8
    rewards = _t(L, B, T, seed=160)
    to_go = rewards.flip(1).cumsum(1).flip(1).unsqueeze(-1)
    states = _t(L, B, T, S, seed=161)
    actions = _t(L, B, T, A, scale=0.5, seed=162).tanh()
    steps = L.arange(T).expand(B, T)
    present = L.tensor([[1, 1, 1, 1], [0, 1, 1, 1]])
    step_table, from_return = nn.Embedding(10, d).double(), nn.Linear(1, d).double()
    from_state, from_action = nn.Linear(S, d).double(), nn.Linear(A, d).double()
    token_norm = nn.LayerNorm(d).double()
    block = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=True,
                                       activation="gelu")
    trunk = nn.TransformerEncoder(block, 1, enable_nested_tensor=False).double()
    to_action = nn.Linear(d, A).double()
    modules = (step_table, from_return, from_state, from_action, token_norm, trunk, to_action)
    weights = [w for m in modules for w in m.parameters()]
    opt = L.optim.AdamW(weights, lr=1e-3, weight_decay=1e-4)
    warmup = L.optim.lr_scheduler.LambdaLR(opt, lambda k: min((k + 1) / 2, 1))
    causal = nn.Transformer.generate_square_subsequent_mask(3 * T, dtype=L.double)

    def weave(per_kind):
        # (B, 3, T, ...) -> (B, 3T, ...) with the three kinds alternating in time
        stacked = L.stack(per_kind, dim=1)
        order = (0, 2, 1) + tuple(range(3, stacked.dim()))
        return stacked.permute(*order).reshape(B, 3 * T, *stacked.shape[3:])

    log = []
    for _ in range(2):
        when = step_table(steps)
        tokens = weave([from_return(to_go) + when, from_state(states) + when,
                        from_action(actions) + when])
        ignore = ~weave([present, present, present]).bool()
        hidden = trunk(token_norm(tokens), mask=causal, src_key_padding_mask=ignore,
                       is_causal=True)
        by_kind = hidden.reshape(B, T, 3, d).permute(0, 2, 1, 3)
        guess = to_action(by_kind[:, 1]).tanh()
        keep = present.reshape(-1) > 0
        loss = F.mse_loss(guess.reshape(-1, A)[keep], actions.reshape(-1, A)[keep])
        opt.zero_grad()
        loss.backward()
        total = nn.utils.clip_grad_norm_(weights, 0.25)
        opt.step()
        warmup.step()
        log.append((loss.item(), total.item(), warmup.get_last_lr()[0]))
    return dict(rtg=to_go, pred=guess, log=log, w=to_action.weight, g=step_table.weight.grad)


@program
def pointer_network_sorting_with_masked_attention_reinforce_and_a2c_rmsprop(L):
    """A pointer network that learns to sort (Vinyals et al., trained by REINFORCE as in
    the neural-combinatorial-optimisation repositories): an LSTM encoder, an LSTMCell
    decoder fed the embedding of the element it chose, attention logits clipped by
    10 * tanh, the already chosen positions masked in place with masked_fill_ and a
    scatter_ into the mask, actions sampled from Categorical after a seed, the log-probs
    summed; the reward the negative count of inversions, an exponential moving baseline
    updated under no_grad, and RMSprop(alpha=0.99, eps=1e-5) with clip_grad_norm_ as A2C
    uses it."""
    nn = L.nn
    D = L.distributions
    L.manual_seed(101)
    B, N, H = 3, 5, 8
    embed = nn.Linear(1, H).double()
    enc = nn.LSTM(H, H, batch_first=True).double()
    dec = nn.LSTMCell(H, H).double()
    W_ref, W_q = nn.Linear(H, H, bias=False).double(), nn.Linear(H, H, bias=False).double()
    v = nn.Parameter(_t(L, H, scale=0.3, seed=210))
    start = nn.Parameter(_t(L, H, scale=0.3, seed=211))
    params = [*embed.parameters(), *enc.parameters(), *dec.parameters(),
              *W_ref.parameters(), *W_q.parameters(), v, start]
    opt = L.optim.RMSprop(params, lr=1e-3, alpha=0.99, eps=1e-5)
    baseline = L.zeros((), dtype=L.double)
    log = []
    for step in range(2):
        xs = L.tensor(np.random.RandomState(212 + step).rand(B, N, 1))
        e = embed(xs)
        ref, (h, c) = enc(e)
        h, c = h[0], c[0]
        inp = start.expand(B, H)
        mask = L.zeros(B, N, dtype=L.bool)
        logps, picks = [], []
        L.manual_seed(300 + step)
        for t in range(N):
            h, c = dec(inp, (h, c))
            u = (v * L.tanh(W_ref(ref) + W_q(h).unsqueeze(1))).sum(-1)
            logits = 10 * L.tanh(u)
            logits = logits.masked_fill(mask, float("-inf"))
            dist = D.Categorical(logits=logits)
            a = dist.sample()
            logps.append(dist.log_prob(a))
            picks.append(a)
            mask = mask.clone()
            mask.scatter_(1, a.unsqueeze(1), True)
            inp = e[L.arange(B), a]
        order = L.stack(picks, 1)
        vals = xs.squeeze(-1).gather(1, order)
        inversions = (vals[:, :-1] > vals[:, 1:]).sum(1).double()
        reward = -inversions
        with L.no_grad():
            baseline = 0.9 * baseline + 0.1 * reward.mean()
        loss = -((reward - baseline) * L.stack(logps, 1).sum(1)).mean()
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        log.append([order.tolist(), reward.tolist(), loss.item(), norm.item()])
    return dict(log=log, baseline=baseline, v=v, sq=opt.state[v]["square_avg"])


# ----------------------------------------------------------------------------------------------
# scientific ML
# ----------------------------------------------------------------------------------------------
@program
def hamiltonian_neural_network_symplectic_field_and_leapfrog_rollout(L):
    """A Hamiltonian neural network (Greydanus et al.): a scalar net H(q, p) whose input
    gradient, taken by autograd.grad with create_graph, is turned into the flow
    (dq/dt, dp/dt) = (dH/dp, -dH/dq) by a fixed 2x2 rotation assembled from rows of an
    identity with one row negated; fitted to a unit spring's true flow by Adam (the loss
    differentiates through the first gradient), then integrated by leapfrog under no_grad
    with enable_grad around each field evaluation, the learned energy read along the way."""
    nn = L.nn
    L.manual_seed(23)
    energy_net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    eye = L.eye(2, dtype=L.double)
    rotate = L.cat([eye[1:], -eye[:1]])          # rows (0, 1) and (-1, 0)

    def flow(state):
        if not state.requires_grad:
            state = state.requires_grad_(True)
        (grad_h,) = L.autograd.grad(energy_net(state).sum(), state, create_graph=True)
        return grad_h @ rotate.t()

    x = _t(L, 6, 2, seed=80)
    true_flow = L.stack([x[:, 1], -x[:, 0]], 1)
    opt = L.optim.Adam(energy_net.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        mismatch = (flow(x.clone()) - true_flow).pow(2).mean()
        mismatch.backward()
        opt.step()
        losses.append(mismatch.item())

    def momentum_rate(q, p):
        with L.enable_grad():
            return flow(L.cat([q, p], 1))[:, 1:]

    dt = 0.1
    with L.no_grad():
        q, p = x[:2, :1].clone(), x[:2, 1:].clone()
        path = []
        for _ in range(4):
            p_mid = p + dt / 2 * momentum_rate(q, p)
            q = q + dt * p_mid
            p = p_mid + dt / 2 * momentum_rate(q, p_mid)
            path.append(L.cat([q, p], 1))
        energy = [energy_net(s).squeeze(-1) for s in path]
    return dict(losses=losses, traj=L.stack(path), energy=L.stack(energy),
                grad_mode=L.is_grad_enabled(), w=energy_net[0].weight)


@program
def physics_informed_burgers_residual_by_func_transforms_and_autograd(L):
    """A PINN for viscous Burgers u_t + u u_x = nu u_xx, its derivatives two ways: torch.func
    (vmap over collocation points of jacrev and hessian of a functional_call on the
    network's parameters) and autograd.grad with create_graph and grad_outputs of ones; the
    two residuals agree, the loss adds initial/boundary terms, gradients of the parameters
    through the second derivatives, one LBFGS step with a strong-Wolfe line search."""
    nn = L.nn
    fn = L.func
    L.manual_seed(29)
    net = nn.Sequential(nn.Linear(2, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh(),
                        nn.Linear(12, 1)).double()
    nu = 0.01 / math.pi
    pts = _t(L, 7, 2, scale=0.5, seed=90)
    params = dict(net.named_parameters())

    def u_single(p, xt):
        return fn.functional_call(net, p, (xt.unsqueeze(0),)).squeeze()

    d1 = fn.vmap(fn.jacrev(u_single, argnums=1), in_dims=(None, 0))(params, pts)
    d2 = fn.vmap(fn.hessian(u_single, argnums=1), in_dims=(None, 0))(params, pts)
    u_f = fn.vmap(u_single, in_dims=(None, 0))(params, pts)
    res_func = d1[:, 1] + u_f * d1[:, 0] - nu * d2[:, 0, 0]
    xt = pts.clone().requires_grad_(True)
    u = net(xt)
    g, = L.autograd.grad(u, xt, grad_outputs=L.ones_like(u), create_graph=True)
    u_x, u_t = g[:, 0:1], g[:, 1:2]
    u_xx = L.autograd.grad(u_x, xt, grad_outputs=L.ones_like(u_x), create_graph=True)[0][:, :1]
    res = (u_t + u * u_x - nu * u_xx).squeeze(-1)
    x0 = L.linspace(-1, 1, 5, dtype=L.double)
    ic = L.stack([x0, L.zeros_like(x0)], 1)
    bc = L.tensor([[-1.0, 0.5], [1.0, 0.5]], dtype=L.double)
    opt = L.optim.LBFGS(net.parameters(), lr=1.0, max_iter=3, line_search_fn="strong_wolfe")

    def loss_fn():
        xt = pts.clone().requires_grad_(True)
        u = net(xt)
        g, = L.autograd.grad(u.sum(), xt, create_graph=True)
        u_xx = L.autograd.grad(g[:, 0].sum(), xt, create_graph=True)[0][:, 0]
        r = g[:, 1] + u.squeeze(-1) * g[:, 0] - nu * u_xx
        return r.pow(2).mean() + (net(ic).squeeze(-1) + L.sin(math.pi * x0)).pow(2).mean() + \
            net(bc).pow(2).mean()

    first = loss_fn()
    first.backward()
    gw = net[0].weight.grad.clone()

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    after = opt.step(closure)
    return dict(res_func=res_func, res=res, first=first, gw=gw, after=after,
                w=net[2].weight)


@program
def neural_ode_rk4_fixed_grid_with_augmented_state_and_parameter_sensitivity(L):
    """A neural ODE classifier on an augmented state (two zero channels appended to the
    input, as in augmented neural ODEs), integrated over a fixed time grid by Kutta's 3/8
    variant of RK4 with a time-conditioned softplus field; the states at the grid times
    stacked by torch.stack, a linear head on the last one, cross-entropy; and the
    parameter gradient checked against a forward-mode derivative of the same loss along a
    constant direction (torch.func.jvp through functional_call)."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    L.manual_seed(31)

    class TimedField(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Linear(5, 10), nn.Linear(10, 4)

        def forward(self, t, y):
            clock = L.ones_like(y[:, :1]) * t
            return self.l2(F.softplus(self.l1(L.cat([clock, y], 1))))

    def three_eighths_step(field, t_a, t_b, y):
        # Kutta's 3/8 rule: stages at t, t + h/3, t + 2h/3, t + h, weights (1, 3, 3, 1) / 8
        h = t_b - t_a
        s1 = field(t_a, y)
        s2 = field(t_a + h / 3, y + h * s1 / 3)
        s3 = field(t_a + h * 2 / 3, y + h * (s2 - s1 / 3))
        s4 = field(t_b, y + h * (s1 - s2 + s3))
        return y + (s1 + 3 * (s2 + s3) + s4) * h / 8

    class AugmentedODEClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.f, self.head = TimedField(), nn.Linear(4, 2)

        def forward(self, x, ts):
            states = [L.cat([x, x.new_zeros(x.shape[0], 2)], 1)]
            for t_a, t_b in zip(ts[:-1], ts[1:]):
                states.append(three_eighths_step(self.f, t_a, t_b, states[-1]))
            return L.stack(states), self.head(states[-1])

    model = AugmentedODEClassifier().double()
    x = _t(L, 3, 2, seed=95)
    y = L.tensor([0, 1, 1])
    ts = L.linspace(0, 1, 5, dtype=L.double)
    traj, logits = model(x, ts)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    frozen = {k: w.detach() for k, w in model.named_parameters()}
    direction = {k: L.ones_like(w) * 0.01 for k, w in frozen.items()}

    def loss_at(weights):
        return F.cross_entropy(fn.functional_call(model, weights, (x, ts))[1], y)

    val, directional = fn.jvp(loss_at, (frozen,), (direction,))
    by_grad = sum((w.grad * 0.01).sum() for w in model.parameters())
    return dict(traj=traj, logits=logits, loss=loss, val=val, jvp=directional,
                by_grad=by_grad, g=grads_of(model))


@program
def lagrangian_neural_network_accelerations_by_hessians_and_pinv(L):
    """Cranmer et al.'s Lagrangian neural network: a network L(q, qdot), per-sample
    accelerations qddot = pinv(d2L/dqdot2) (dL/dq - d2L/dq dqdot qdot) with the Hessian
    and gradient from torch.func (vmap of hessian and jacrev over a functional_call), the
    same for one sample by autograd.functional.hessian(create_graph=True), and a loss on
    the accelerations of a pendulum whose gradient passes through pinv and the Hessians."""
    nn = L.nn
    fn = L.func
    L.manual_seed(73)
    net = nn.Sequential(nn.Linear(2, 16), nn.Softplus(), nn.Linear(16, 1)).double()
    params = dict(net.named_parameters())

    def lagrangian(p, state):
        return fn.functional_call(net, p, (state,)).squeeze(-1)

    def accel(p, state):
        H = fn.hessian(lagrangian, argnums=1)(p, state)
        J = fn.jacrev(lagrangian, argnums=1)(p, state)
        qdot = state[1:]
        return L.linalg.pinv(H[1:, 1:]) @ (J[:1] - H[1:, :1] @ qdot)

    states = _t(L, 5, 2, seed=170)
    qdd = fn.vmap(accel, in_dims=(None, 0))(params, states)
    target = -L.sin(states[:, :1])
    loss = (qdd - target).pow(2).mean()
    loss.backward()
    one = L.autograd.functional.hessian(lambda s: net(s).squeeze(-1), states[0],
                                        create_graph=True)
    return dict(qdd=qdd, loss=loss, g=grads_of(net), one=one, one_grad=one.requires_grad)


# ----------------------------------------------------------------------------------------------
# utilities: data, parametrizations, pruning, custom Functions, checkpointing, Module APIs
# ----------------------------------------------------------------------------------------------
@program
def data_pipeline_dict_samples_stack_dataset_fraction_split_and_collate(L):
    """torch.utils.data as NLP and audio repositories use it: a map-style Dataset returning
    dicts (a tensor, an int label, a string id, a namedtuple of floats, a numpy array),
    StackDataset and ConcatDataset (cumulative_sizes, and the misspelt old name, which
    warns), random_split by fractions with a seeded Generator, Subset of a Subset, a
    DataLoader with a custom collate_fn that pads by pad_sequence and calls default_collate
    on the rest, one with batch_size=None (default_convert), a SequentialSampler with
    drop_last and a WeightedRandomSampler."""
    data = L.utils.data
    rnn_utils = L.nn.utils.rnn
    Meta = collections.namedtuple("Meta", ["gain", "rate"])

    class Utterances(data.Dataset):
        def __init__(self, n, offset):
            self.n, self.offset = n, offset

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            k = i + self.offset
            return {"feats": L.arange(float(k % 3 + 1)) * (k + 1), "label": k % 2,
                    "id": f"utt{k}", "meta": Meta(0.5 * k, 16000),
                    "np": np.array([k, k + 1], dtype=np.int64)}

    a, b = Utterances(4, 0), Utterances(3, 10)
    both = data.ConcatDataset([a, b])
    stacked = data.StackDataset(x=data.TensorDataset(L.arange(7.0)), y=both)

    def collate(batch):
        feats = [s.pop("feats") for s in batch]
        lens = L.tensor([len(f) for f in feats])
        out = data.default_collate(batch)
        out["feats"] = rnn_utils.pad_sequence(feats, batch_first=True, padding_value=-1.0)
        out["lens"] = lens
        return out

    g = L.Generator().manual_seed(42)
    train, val = data.random_split(both, [0.6, 0.4], generator=g)
    sub = data.Subset(train, [2, 0])
    loader = data.DataLoader(train, batch_size=2, shuffle=True, collate_fn=collate,
                             generator=L.Generator().manual_seed(7))
    batches = [dict(b) for b in loader]
    seq = data.DataLoader(val, batch_size=None, sampler=data.SequentialSampler(val))
    singles = [s["np"] for s in seq]
    dropped = list(data.DataLoader(both, batch_size=3, drop_last=True,
                                   collate_fn=lambda b: [s["id"] for s in b]))
    weights = [0.1, 0.1, 5.0, 0.1, 0.1, 0.1, 5.0]
    ws = list(data.WeightedRandomSampler(weights, 6, replacement=True,
                                         generator=L.Generator().manual_seed(1)))
    return dict(cum=both.cumulative_sizes, old_name=both.cummulative_sizes,
                split=[train.indices, val.indices],
                sub=[sub[i]["id"] for i in range(len(sub))], batches=batches,
                singles=singles, dropped=dropped, ws=ws, stacked=stacked[5],
                n=len(stacked), default=data.default_convert(np.ones(2)))


@program
def parametrizations_orthogonal_symmetric_cached_and_pruning_round_trip(L):
    """nn.utils.parametrize as layers use it: a Symmetric parametrization with a
    right_inverse registered on a Linear, assignment through it, the original stored under
    parametrizations.weight.original, parametrize.cached() around two forwards,
    parametrizations.orthogonal (matrix_exp and cayley maps) checked by W W^T = I after an
    SGD step, weight_norm by parametrizations (original0/original1), remove_parametrizations
    with leave_parametrized; then pruning: ln_structured on channels, l1_unstructured on a
    bias, global_unstructured over two layers, is_pruned, the masks as buffers, remove."""
    nn = L.nn
    P = nn.utils.parametrize
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(37)

    class MirrorUpperTriangle(nn.Module):
        """Stores only the upper triangle; the weight is that triangle reflected across
        the diagonal."""

        def forward(self, stored):
            return stored.triu(1).transpose(0, 1) + stored.triu()

        def right_inverse(self, full):
            return full.triu()      # what to store so that forward gives back `full`

    lin = nn.Linear(3, 3).double()
    P.register_parametrization(lin, "weight", MirrorUpperTriangle())
    S = _t(L, 3, 3, seed=100)
    lin.weight = S + S.T
    keys = list(lin.state_dict().keys())
    x = _t(L, 2, 3, seed=101)
    with P.cached():
        y = lin(x) + lin(x)
    y.sum().backward()
    g_orig = lin.parametrizations.weight.original.grad
    orth = {}
    for kind in ("matrix_exp", "cayley", "householder"):
        L.manual_seed(38)
        q = nn.utils.parametrizations.orthogonal(nn.Linear(4, 4).double(), orthogonal_map=kind)
        opt = L.optim.SGD(q.parameters(), lr=0.1)
        q(_t(L, 3, 4, seed=102)).pow(2).sum().backward()
        opt.step()
        W = q.weight
        orth[kind] = (W @ W.T - L.eye(4, dtype=L.double)).abs().max() < 1e-10
    wn = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2).double(), dim=0)
    wn_keys = list(wn.state_dict().keys())
    g0 = wn.parametrizations.weight.original0.clone()
    P.remove_parametrizations(lin, "weight", leave_parametrized=True)
    after_keys = list(lin.state_dict().keys())
    a, b = nn.Linear(4, 3).double(), nn.Linear(3, 2).double()
    for m in (a, b):
        nn.init.normal_(m.weight)
    prune.ln_structured(a, "weight", amount=0.34, n=2, dim=0)
    prune.l1_unstructured(a, "bias", amount=1)
    prune.global_unstructured([(a, "weight"), (b, "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    out = b(a(_t(L, 2, 4, seed=103)))
    out.sum().backward()
    masks = {n: buf for n, buf in a.named_buffers()}
    pruned = prune.is_pruned(a)
    prune.remove(a, "weight")
    return dict(keys=keys, w=lin.weight, g_orig=g_orig, y=y, orth=orth, wn_keys=wn_keys,
                g0=g0, after_keys=after_keys, masks=masks, pruned=pruned,
                pruned_after=prune.is_pruned(a), out=out, ga=a.weight_orig.grad
                if hasattr(a, "weight_orig") else a.bias_orig.grad, w_a=a.weight,
                names=[n for n, _ in a.named_parameters()])


@program
def custom_functions_needs_input_grad_materialize_and_once_differentiable(L):
    """Custom autograd Functions of three kinds: a clamp-with-straight-through Function
    whose backward consults ctx.needs_input_grad and returns None for inputs not needing
    one; a Function with set_materialize_grads(False) and two outputs, one of them unused
    (its gradient arrives as None), and a non-differentiable argmax output; and a
    once_differentiable backward saved output, whose double backward raises torch's
    error."""
    from_fn = importlib.import_module(L.__name__ + ".autograd.function")

    class StraightClamp(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, lo, scale):
            ctx.save_for_backward(x)
            ctx.lo = lo
            return x.clamp(min=lo) * scale

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            gx = g * 1.0 if ctx.needs_input_grad[0] else None
            gs = (g * x.clamp(min=ctx.lo)).sum() if ctx.needs_input_grad[2] else None
            return gx, None, gs

    class TwoOut(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            idx = x.argmax(-1)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x)
            return x.exp(), x.sin(), idx

        @staticmethod
        def backward(ctx, ge, gs, gi):
            x, = ctx.saved_tensors
            out = L.zeros_like(x)
            seen = (ge is None, gs is None, gi is None)
            if ge is not None:
                out = out + ge * x.exp()
            if gs is not None:
                out = out + gs * x.cos()
            ctx_seen.append(seen)
            return out

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x ** 3
            ctx.save_for_backward(x)
            return y

        @staticmethod
        @from_fn.once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x ** 2

    ctx_seen = []
    x = _t(L, 2, 3, seed=110, grad=True)
    s = L.tensor(2.0, dtype=L.double, requires_grad=True)
    y = StraightClamp.apply(x, -0.2, s)
    e, sn, idx = TwoOut.apply(x)
    (y.sum() + e.sum()).backward(retain_graph=True)
    gx1, gs = x.grad.clone(), s.grad
    x.grad = None
    sn.sum().backward()
    z = _t(L, 3, seed=111, grad=True)
    c = Cube.apply(z)
    g, = L.autograd.grad(c.sum(), z, create_graph=True)
    second = err(lambda: g.sum().backward())
    return dict(y=y, gx1=gx1, gs=gs, gx2=x.grad, seen=ctx_seen, idx=idx,
                idx_grad=idx.requires_grad, g=g, second=second, c=c)


@program
def checkpointed_blocks_dropout_rng_kwargs_and_sequential_segments(L):
    """Activation checkpointing with the cases that bite: the non-reentrant
    checkpoint of a block with dropout (the RNG state preserved so the recomputation draws
    the same mask) and a keyword argument, checkpoint_sequential over a Sequential in two
    segments, and the reentrant form with an input that does not require grad (torch's
    warning); the gradients equal those of the plain forward under the same seed."""
    nn, F = L.nn, L.nn.functional
    cp = importlib.import_module(L.__name__ + ".utils.checkpoint")
    L.manual_seed(41)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Linear(6, 12), nn.Linear(12, 6)

        def forward(self, x, scale=1.0):
            return x + scale * self.l2(F.dropout(F.gelu(self.l1(x)), 0.3, self.training))

    blocks = nn.ModuleList([Block() for _ in range(2)]).double()
    seq = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 6), nn.Tanh()).double()
    x = _t(L, 4, 6, seed=120, grad=True)

    def run(use_cp):
        L.manual_seed(5)
        h = x
        for b in blocks:
            h = cp.checkpoint(b, h, use_reentrant=False, scale=0.5) if use_cp else \
                b(h, scale=0.5)
        h = cp.checkpoint_sequential(seq, 2, h, use_reentrant=False) if use_cp else seq(h)
        return h

    out_cp = run(True)
    out_cp.pow(2).sum().backward()
    g_cp = {**grads_of(blocks), "x": x.grad.clone(), **grads_of(seq)}
    blocks.zero_grad()
    seq.zero_grad()
    x.grad = None
    out = run(False)
    out.pow(2).sum().backward()
    g = {**grads_of(blocks), "x": x.grad.clone(), **grads_of(seq)}
    frozen = _t(L, 2, 6, seed=121)
    r = cp.checkpoint(seq, frozen, use_reentrant=True)
    return dict(out_cp=out_cp, out=out, g_cp=g_cp, g=g, r=r, r_grad=r.requires_grad)


@program
def module_api_named_modules_hooks_state_dict_and_partial_loading(L):
    """The Module API people lean on: named_modules with a prefix and remove_duplicate=False
    over a shared submodule, apply for initialisation by class, register_buffer with
    persistent=False (absent from state_dict, present in named_buffers), get_submodule and
    get_parameter (and their errors), a state-dict post hook that renames keys, a
    load-state-dict pre hook that maps old names, a post hook that clears expected missing
    keys, load_state_dict(strict=False)'s missing/unexpected keys and its repr, strict
    loading's error words, and state_dict(keep_vars=True)."""
    nn = L.nn
    L.manual_seed(43)
    shared = nn.Linear(3, 3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = shared
            self.body = nn.Sequential(shared, nn.ReLU(), nn.Linear(3, 2))
            self.register_buffer("steps", L.zeros((), dtype=L.long))
            self.register_buffer("cache", L.ones(2), persistent=False)

        def forward(self, x):
            self.steps += 1
            return self.body(self.a(x)) + self.cache

    net = Net().double()

    def init(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.bias, 0.1)
            nn.init.eye_(m.weight) if m.weight.shape[0] == m.weight.shape[1] else \
                nn.init.ones_(m.weight)

    net.apply(init)
    names = [n for n, _ in net.named_modules(prefix="root", remove_duplicate=False)]
    uniq = [n for n, _ in net.named_modules()]
    buffers = [n for n, _ in net.named_buffers()]
    out = net(_t(L, 2, 3, seed=130))
    keys = list(net.state_dict().keys())
    sub = net.get_submodule("body.2")
    par = net.get_parameter("body.2.bias")
    bad_sub = err(lambda: net.get_submodule("body.5"))
    bad_par = err(lambda: net.get_parameter("body.2.gain"))

    def renamed(module, sd, prefix, local_metadata):
        for k in list(sd.keys()):
            if k.endswith("steps"):
                sd[k.replace("steps", "num_steps")] = sd.pop(k)

    net2 = Net().double()
    h = net2.register_state_dict_post_hook(renamed)
    hooked = list(net2.state_dict().keys())
    h.remove()

    def pre(module, sd, prefix, local_metadata, strict, missing, unexpected, errors):
        if prefix + "num_steps" in sd:
            sd[prefix + "steps"] = sd.pop(prefix + "num_steps")

    net2.register_load_state_dict_pre_hook(pre)
    src = {k.replace("steps", "num_steps"): v for k, v in net.state_dict().items()}
    src["extra.weight"] = L.zeros(1)
    del src["body.2.bias"]
    res = net2.load_state_dict(src, strict=False)

    def post(module, incompatible):
        incompatible.missing_keys[:] = [k for k in incompatible.missing_keys
                                        if not k.endswith("bias")]

    net3 = Net().double()
    net3.register_load_state_dict_post_hook(post)
    res3 = net3.load_state_dict({k: v for k, v in net.state_dict().items()
                                 if k != "body.2.bias"})
    strict_err = err(lambda: Net().double().load_state_dict(src))
    kv = net.state_dict(keep_vars=True)
    return dict(names=names, uniq=uniq, buffers=buffers, out=out, keys=keys,
                sub=repr(sub), par=par, bad_sub=bad_sub, bad_par=bad_par, hooked=hooked,
                missing=res.missing_keys, unexpected=res.unexpected_keys, res=repr(res),
                res3=repr(res3), strict=strict_err, steps=net2.steps,
                kv=[type(v).__name__ for v in kv.values()], kv_grad=kv["a.weight"])



@program
def bucket_batch_sampler_by_length_and_lora_injection_with_merge(L):
    """Two utilities from fine-tuning code: a BucketBatchSampler (a Sampler subclass that
    sorts indices by length inside shuffled chunks, cuts batches and shuffles them with a
    seeded Generator) driving a DataLoader(batch_sampler=...); and LoRA injected into a
    small attention model by walking named_modules and replacing the q/v Linears through
    get_submodule of the parent and setattr, the base frozen by requires_grad_(False), only
    lora_ parameters trained, the lora state dict saved by a key filter and loaded into a
    fresh injected copy with strict=False (its missing keys), then the weights merged."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data

    class BucketBatchSampler(data.Sampler):
        def __init__(self, lengths, batch_size, generator):
            self.lengths, self.bs, self.g = lengths, batch_size, generator

        def __iter__(self):
            idx = L.randperm(len(self.lengths), generator=self.g).tolist()
            chunks = [idx[i:i + 2 * self.bs] for i in range(0, len(idx), 2 * self.bs)]
            batches = []
            for c in chunks:
                c = sorted(c, key=lambda i: self.lengths[i])
                batches += [c[i:i + self.bs] for i in range(0, len(c), self.bs)]
            order = L.randperm(len(batches), generator=self.g).tolist()
            return iter([batches[i] for i in order])

        def __len__(self):
            return math.ceil(len(self.lengths) / self.bs)

    lengths = [5, 2, 7, 3, 3, 6, 1, 4]
    seqs = [L.arange(float(n)) for n in lengths]
    sampler = BucketBatchSampler(lengths, 3, L.Generator().manual_seed(11))
    loader = data.DataLoader(seqs, batch_sampler=sampler,
                             collate_fn=lambda b: nn.utils.rnn.pad_sequence(b, True))
    shapes = [tuple(b.shape) for b in loader]

    class WithLowRankUpdate(nn.Module):
        """base(x) + (alpha / rank) * B A x; B starts at zero, so the wrapped layer first
        computes exactly what the base did (A gets a Linear-style random init)."""

        def __init__(self, base, rank=2, alpha=4):
            super().__init__()
            self.base = base
            self.scale = alpha / rank
            down = L.zeros(rank, base.in_features, dtype=L.double)
            self.lora_A = nn.Parameter(nn.init.kaiming_uniform_(down, a=math.sqrt(5)))
            self.lora_B = nn.Parameter(L.zeros(base.out_features, rank, dtype=L.double))

        def forward(self, x):
            update = F.linear(F.linear(x, self.lora_A), self.lora_B)
            return self.base(x) + self.scale * update

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(4, 4) for _ in range(4))

        def forward(self, x):
            a = (self.q(x) @ self.k(x).transpose(-1, -2) / 2).softmax(-1)
            return self.o(a @ self.v(x))

    def inject(model):
        for name, mod in list(model.named_modules()):
            if isinstance(mod, nn.Linear) and name.split(".")[-1] in ("q", "v"):
                parent_name, _, child = name.rpartition(".")
                parent = model.get_submodule(parent_name)
                setattr(parent, child, WithLowRankUpdate(mod))
        for n, p in model.named_parameters():
            p.requires_grad_("lora_" in n)
        return model

    L.manual_seed(79)
    model = inject(nn.Sequential(Attn(), nn.ReLU(), Attn()).double())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    opt = L.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=0.05)
    x = _t(L, 2, 3, 4, seed=180)
    for _ in range(2):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
    lora_sd = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    L.manual_seed(79)
    fresh = inject(nn.Sequential(Attn(), nn.ReLU(), Attn()).double())
    res = fresh.load_state_dict(lora_sd, strict=False)
    with L.no_grad():
        before = fresh(x)
        for mod in fresh.modules():
            if isinstance(mod, WithLowRankUpdate):
                mod.base.weight += mod.lora_B @ mod.lora_A * mod.scale
                mod.lora_B.zero_()
        after = fresh(x)
    return dict(shapes=shapes, n_batches=len(loader), trainable=trainable, loss=loss,
                lora=sorted(lora_sd), missing=res.missing_keys,
                unexpected=res.unexpected_keys, before=before, after=after,
                frozen_grad=model[0].k.weight.grad)



# ----------------------------------------------------------------------------------------------
# focused cases of what this round fixed
# ----------------------------------------------------------------------------------------------
@program
def jit_script_and_trace_warn_of_their_deprecation(L):
    """Model code that still calls torch.jit: script of a module and of a function, trace of
    a function and of a module (which traces its forward as a method), trace_module; each
    gives PyTorch 2.13's DeprecationWarning and returns something callable that computes the
    same values."""
    nn = L.nn
    L.manual_seed(89)
    m = nn.Sequential(nn.Linear(3, 2), nn.Tanh()).double()
    x = _t(L, 2, 3, seed=200)
    out = {}
    for name, make in [("script", lambda: L.jit.script(m)),
                       ("trace_fn", lambda: L.jit.trace(lambda a: a.sin() * 2, x)),
                       ("trace_module", lambda: L.jit.trace(m, x)),
                       ("trace_methods", lambda: L.jit.trace_module(m, {"forward": x}))]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            f = make()
        out[name] = (sorted({(w.category.__name__, str(w.message)) for w in seen}), f(x))
    with warnings.catch_warnings(record=True) as seen:     # fork and wait warn too
        warnings.simplefilter("always")
        value = L.jit.wait(L.jit.fork(lambda a: a * 3, x))
    out["fork_wait"] = (sorted({(w.category.__name__, str(w.message)) for w in seen}), value)
    return out


@program
def stft_pads_before_checking_short_clips_and_3d_batches(L):
    """A clip shorter than n_fft // 2 with center=True: PyTorch pads (reflect) before its
    other checks, so the padding error comes first, without the missing-window warning, and
    even when return_complex is not given; a batch of shape (B, C, T) is padded too, so the
    refusal of a 3-d signal names the padded length."""
    return [err(lambda: L.stft(L.zeros(3), 8, return_complex=True)),
            err(lambda: L.stft(L.zeros(2, 3), 8)),
            err(lambda: L.stft(L.zeros(5), 8, window=L.hann_window(8))),
            err(lambda: L.stft(L.zeros(2, 2, 30), 8, return_complex=True), quiet=True),
            err(lambda: L.stft(L.zeros(2, 2, 2, 30), 8, return_complex=True))]


@program
def sparse_coo_elementwise_functions_pow_and_index_select(L):
    """What graph code does to a sparse adjacency besides multiplying it: the elementwise
    functions that keep zeros (abs, sqrt, tanh, relu, sign, log1p, square, isnan, ...) on an
    uncoalesced tensor (coalesced first: duplicates summed before the function), pow by a
    number (zero refused), index_select of rows and columns for a sampled sub-graph (a
    repeated index repeats rows; entries grouped by position), rows and columns scaled by
    broadcast dense factors (D^-1/2 A D^-1/2), the gradients to the values where PyTorch has
    them, and the refusals (an index out of range, a non-long index)."""
    i = L.tensor([[0, 1, 1, 0, 2], [1, 0, 2, 1, 2]])
    v = L.tensor([1.5, -2.0, 3.0, -4.0, 0.25], dtype=L.double, requires_grad=True)
    A = L.sparse_coo_tensor(i, v, (3, 3))
    out = {}
    for name in ("abs", "sqrt", "tanh", "relu", "sign", "log1p", "square", "isnan", "sin",
                 "floor", "expm1", "atan", "signbit", "deg2rad", "trunc", "frac"):
        r = getattr(A, name)()
        out[name] = (r.to_dense(), r.is_coalesced(), r.dtype)
    out["positive"] = (A.positive()._values(), A.positive().is_coalesced())
    out["pow"] = [(A ** 2).to_dense(), A.pow(-1).to_dense(), A.abs().pow(0.5).to_dense(),
                  err(lambda: A.pow(0))]
    sub = A.index_select(0, L.tensor([2, 0, 2])).index_select(1, L.tensor([1, 2]))
    out["sub"] = (sub._indices(), sub._values(), sub.shape, sub.is_coalesced(), sub.to_dense())
    out["negative_index"] = A.index_select(1, L.tensor([-1, 0]))._values()
    deg = L.sparse.sum(A.abs(), dim=1).to_dense()
    scaled = deg.pow(-0.5).view(-1, 1) * A * deg.pow(-0.5).view(1, -1)     # broadcast factors
    out["scaled"] = (scaled.to_dense(), scaled.is_sparse, scaled.is_coalesced())
    out["errors"] = [err(lambda: A.index_select(0, L.tensor([3]))),
                     err(lambda: A.index_select(0, L.tensor([0], dtype=L.int32))),
                     err(lambda: A.index_select(0, L.tensor(1))),
                     err(lambda: A.index_select(2, L.tensor([0])))]
    # (PyTorch differentiates few of these: abs, relu, square, log1p, pow, not index_select)
    loss = A.abs().pow(0.5).to_dense().sum() + L.sparse.sum(A.relu().pow(3)) + \
        (A.square().log1p().to_dense() * L.arange(9.0, dtype=L.double).view(3, 3)).sum() + \
        (A * L.arange(3.0, dtype=L.double).view(3, 1)).to_dense().sum()
    loss.backward()
    out["grad"] = v.grad
    return out


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
