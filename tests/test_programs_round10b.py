"""Whole programs in the idioms of code people run, a tenth round, part b: recurrent layers
driven hard (bidirectional stacks with packed sequences and a given hx, projections,
unbatched input, dropout between layers in eval, a double backward through an LSTM,
weight_norm on a recurrent weight), seq2seq with nn.Transformer and padding masks, and the
training machinery around a model (label smoothing, distillation, EMA, checkpointing,
state-dict surgery, resumed optimizers, chained schedulers).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, load_seeded, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# recurrent layers
# ----------------------------------------------------------------------------------------------
@program
def lstm_bidirectional_two_layers_packed_unsorted_with_hx(L):
    """A tagger's encoder: a 2-layer bidirectional LSTM (batch_first) over an unsorted batch
    packed by pack_padded_sequence(enforce_sorted=False), initial (h0, c0) given, the output
    unpacked with a padding value and total_length; the final states are in the batch's
    original order; gradients reach the inputs, h0, c0 and every weight."""
    nn, U = L.nn, L.nn.utils.rnn
    L.manual_seed(0)
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    x = _t(L, 3, 5, 3, seed=1, grad=True)
    lengths = L.tensor([2, 5, 3])
    h0 = _t(L, 4, 3, 4, seed=2, grad=True)
    c0 = _t(L, 4, 3, 4, seed=3, grad=True)
    packed = U.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (hn, cn) = lstm(packed, (h0, c0))
    padded, lens = U.pad_packed_sequence(out, batch_first=True, padding_value=-1.0,
                                         total_length=6)
    mask = padded != -1.0
    loss = (padded * mask).pow(2).sum() + hn.sum() + (cn * 0.5).sum()
    loss.backward()
    return dict(padded=padded, lens=lens, hn=hn, cn=cn, bs=out.batch_sizes, si=out.sorted_indices,
                gx=x.grad, gh=h0.grad, gc=c0.grad, g=grads_of(lstm))


@program
def gru_bidirectional_final_state_concat_for_classification(L):
    """A sentence classifier: a bidirectional GRU over packed sequences, the last layer's
    forward and backward final states (h_n[-2], h_n[-1]) concatenated, a Linear head; the
    same sentences run one at a time unbatched give the same final states."""
    nn, U = L.nn, L.nn.utils.rnn
    L.manual_seed(4)
    gru = nn.GRU(3, 5, num_layers=2, bidirectional=True).double()
    head = nn.Linear(10, 2).double()
    seqs = [_t(L, n, 3, seed=10 + n) for n in (4, 2, 3)]
    packed = U.pack_sequence(seqs, enforce_sorted=False)
    _, hn = gru(packed)
    feat = L.cat([hn[-2], hn[-1]], dim=1)
    loss = nn.functional.cross_entropy(head(feat), L.tensor([1, 0, 1]))
    loss.backward()
    singles = []
    with L.no_grad():
        for s in seqs:
            _, h = gru(s)
            singles.append(L.cat([h[-2], h[-1]], 0))
    return dict(feat=feat, loss=loss, single=L.stack(singles), hshape=tuple(h.shape),
                g=grads_of(gru), gh=grads_of(head))


@program
def lstm_proj_size_dropout_eval_and_unbatched(L):
    """LSTM with proj_size (h is projected, c is not: h0 (layers, N, proj), c0 (layers, N,
    hidden)), dropout=0.5 between layers inert in eval, the same module in train under a
    seed; unbatched input with unbatched (h0, c0); the weight_hr parameters by name."""
    nn = L.nn
    L.manual_seed(5)
    lstm = nn.LSTM(4, 6, num_layers=2, proj_size=3, dropout=0.5).double()
    x = _t(L, 5, 2, 4, seed=6, grad=True)
    h0, c0 = _t(L, 2, 2, 3, seed=7), _t(L, 2, 2, 6, seed=8)
    lstm.eval()
    y_eval, (h, c) = lstm(x, (h0, c0))
    y_eval.sum().backward()
    gx_eval = x.grad.clone()
    lstm.train()
    L.manual_seed(9)
    y_train, _ = lstm(x, (h0, c0))
    yu, (hu, cu) = lstm.eval()(x[:, 0], (h0[:, 0], c0[:, 0]))
    names = [n for n, _ in lstm.named_parameters()]
    return dict(y_eval=y_eval, h=h, c=c, gx=gx_eval, y_train=y_train, yu=yu, hu=hu, cu=cu,
                names=names, same=float((yu - y_eval[:, 0]).abs().max()) < 1e-12)


@program
def lstm_double_backward_gradient_penalty(L):
    """A gradient penalty through an LSTM: d(output)/d(input) by autograd.grad with
    create_graph=True, its squared norm backpropagated into the LSTM's weights (a second
    derivative of sigmoid and tanh through the recurrence)."""
    nn = L.nn
    L.manual_seed(10)
    lstm = nn.LSTM(2, 3, num_layers=1, batch_first=True).double()
    x = _t(L, 2, 4, 2, seed=11, grad=True)
    out, (h, c) = lstm(x)
    score = (out[:, -1] * L.tensor([1.0, -2.0, 0.5], dtype=L.float64)).sum() + c.sum()
    (gx,) = L.autograd.grad(score, x, create_graph=True)
    penalty = gx.pow(2).sum()
    penalty.backward()
    return dict(gx=gx, penalty=penalty, g=grads_of(lstm), gxx=x.grad)


@program
def gru_cell_and_lstm_cell_loops_match_the_layers(L):
    """Decoders written with cells: an LSTMCell stepped over time with its state carried
    matches nn.LSTM given the cell's weights by load_state_dict with renamed keys
    (weight_ih -> weight_ih_l0); a GRUCell with unbatched input; teacher forcing."""
    nn = L.nn
    L.manual_seed(12)
    cell = nn.LSTMCell(3, 4).double()
    layer = nn.LSTM(3, 4).double()
    layer.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    x = _t(L, 5, 2, 3, seed=13, grad=True)
    h = c = L.zeros(2, 4, dtype=L.float64)
    outs = []
    for t in range(x.size(0)):
        h, c = cell(x[t], (h, c))
        outs.append(h)
    loop = L.stack(outs)
    ref, _ = layer(x)
    loss = loop.sum() + ref.pow(2).sum()
    loss.backward()
    gcell = nn.GRUCell(3, 2).double()
    hg = gcell(x[0, 0])
    hg2 = gcell(x[1, 0], hg)
    return dict(loop=loop, ref=ref, gx=x.grad, gc=grads_of(cell), gl=grads_of(layer),
                hg2=hg2, hgs=tuple(hg.shape))


@program
def weight_norm_on_recurrent_weight_hh(L):
    """torch.nn.utils.weight_norm applied to an LSTM's weight_hh_l0 (the deprecated hook
    form, with its FutureWarning) and parametrizations.weight_norm on a GRU's weight_hh_l0:
    the g and v parameters get gradients through the recurrence, the recomputed weight
    follows an optimizer step, remove_weight_norm folds it back."""
    nn = L.nn
    L.manual_seed(14)
    lstm = nn.LSTM(3, 4).double()
    lstm = nn.utils.weight_norm(lstm, name="weight_hh_l0")
    gru = nn.utils.parametrizations.weight_norm(nn.GRU(3, 4).double(), name="weight_hh_l0")
    x = _t(L, 4, 2, 3, seed=15)
    opt = L.optim.SGD(list(lstm.parameters()) + list(gru.parameters()), lr=0.1)
    out = []
    for _ in range(2):
        y, _ = lstm(x)
        z, _ = gru(x)
        loss = y.pow(2).sum() + z.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(loss.item())
    names = sorted(n for n, _ in lstm.named_parameters())
    gnames = sorted(n for n, _ in gru.named_parameters())
    g = lstm.weight_hh_l0_g.grad
    y_before, _ = lstm(x)
    nn.utils.remove_weight_norm(lstm, name="weight_hh_l0")
    y_after, _ = lstm(x)
    return dict(losses=out, names=names, gnames=gnames, g=g, w=gru.weight_hh_l0,
                same=float((y_before - y_after).abs().max()) < 1e-12,
                after=sorted(n for n, _ in lstm.named_parameters()))


@program
def min_lstm_and_min_gru_parallel_scan_matches_sequential(L):
    """minGRU / minLSTM ("Were RNNs all we needed?"): gates from the input only, the
    sequential loop h_t = (1 - z) h_{t-1} + z h~ against the parallel form in log space
    (log-coefficients cumsum, logcumsumexp of log-values), g(x) = where(x >= 0, x + 0.5,
    sigmoid(x)) and its log; gradients of both forms agree."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(16)
    lin_z, lin_h = nn.Linear(3, 4).double(), nn.Linear(3, 4).double()
    x = _t(L, 2, 6, 3, seed=17, grad=True)

    def g(v):
        return L.where(v >= 0, v + 0.5, L.sigmoid(v))

    def log_g(v):
        return L.where(v >= 0, (F.relu(v) + 0.5).log(), -F.softplus(-v))

    k, hx = lin_z(x), lin_h(x)
    z = L.sigmoid(k)
    h = L.zeros(2, 4, dtype=L.float64) + 0.5
    seq = []
    for t in range(6):
        h = (1 - z[:, t]) * h + z[:, t] * g(hx[:, t])
        seq.append(h)
    seq = L.stack(seq, 1)
    log_coeffs = -F.softplus(k)
    log_z = -F.softplus(-k)
    log_values = L.cat([L.full((2, 1, 4), 0.5, dtype=L.float64).log(), log_z + log_g(hx)], 1)
    a_star = F.pad(L.cumsum(log_coeffs, dim=1), (0, 0, 1, 0))
    log_h = a_star + L.logcumsumexp(log_values - a_star, dim=1)
    par = L.exp(log_h)[:, 1:]
    (gs,) = L.autograd.grad(seq.sum(), x, retain_graph=True)
    (gp,) = L.autograd.grad(par.sum(), x)
    return dict(seq=seq, par=par, gs=gs, gp=gp,
                close=float((seq - par).abs().max()) < 1e-10)


@program
def rnn_errors_people_hit(L):
    """What a recurrent layer says when it is misused: hx of the wrong size, a 4-d input,
    a proj_size not below hidden_size, an unsorted batch packed with enforce_sorted=True,
    lengths given as a float tensor."""
    nn, U = L.nn, L.nn.utils.rnn
    L.manual_seed(18)
    lstm = nn.LSTM(3, 4).double()
    x = _t(L, 5, 2, 3, seed=19)

    def z(*shape):
        return L.zeros(*shape, dtype=L.float64)

    return dict(
        hx=err(lambda: lstm(x, (z(1, 3, 4), z(1, 2, 4)))),
        cx=err(lambda: lstm(x, (z(1, 2, 4), z(1, 2, 5)))),
        four=err(lambda: lstm(x.unsqueeze(0))),
        feat=err(lambda: lstm(x[..., :2])),
        proj=err(lambda: nn.LSTM(3, 4, proj_size=4)),
        gru_proj=err(lambda: nn.GRU(3, 4, proj_size=2)),
        unsorted=err(lambda: U.pack_padded_sequence(x, L.tensor([2, 5]))),
        zero_len=err(lambda: U.pack_padded_sequence(x, L.tensor([5, 0]))),
    )


# ----------------------------------------------------------------------------------------------
# seq2seq with nn.Transformer
# ----------------------------------------------------------------------------------------------
@program
def seq2seq_nn_transformer_with_padding_masks_and_greedy_decode(L):
    """A sequence-first nn.Transformer translator (the setting of PyTorch's translation
    tutorial, dropout 0): embeddings times sqrt(d) plus a fixed sine/cosine position table
    filled by strided slice assignment, the causal target mask from
    generate_square_subsequent_mask, padding masks for source, target and memory, and
    CrossEntropyLoss ignoring padding; then, without grad, the encoder run once and the
    decoder re-run on the growing output, each new token its last position's argmax."""
    nn = L.nn
    PAD, BOS, V, d = 0, 1, 9, 8
    L.manual_seed(20)
    model = nn.Transformer(d_model=d, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=16, dropout=0.0).double()
    emb_s, emb_t = nn.Embedding(V, d).double(), nn.Embedding(V, d).double()
    gen = nn.Linear(d, V).double()
    load_seeded(L, emb_s, 21)
    load_seeded(L, emb_t, 22)
    # feature pair (2i, 2i + 1) of position p holds sin and cos of p / 10000^(2i / d)
    rates = L.exp(-L.arange(0, d, 2, dtype=L.float64) * np.log(10000) / d)
    angle = L.arange(0, 12, dtype=L.float64).unsqueeze(1) * rates          # (12, d / 2)
    table = L.zeros(12, d, dtype=L.float64)
    table[:, 0::2], table[:, 1::2] = L.sin(angle), L.cos(angle)
    table = table.unsqueeze(-2)         # (position, 1, d): broadcast over the batch column

    def embed(e, tok):
        return e(tok) * np.sqrt(d) + table[:tok.size(0)]

    src = L.tensor([[2, 3], [4, 5], [6, PAD], [7, PAD]])
    tgt = L.tensor([[BOS, BOS], [3, 4], [5, PAD], [2, PAD]])
    tgt_in, tgt_out = tgt[:-1], tgt[1:]
    tgt_mask = nn.Transformer.generate_square_subsequent_mask(tgt_in.size(0), dtype=L.float64)
    src_pad, tgt_pad = (src == PAD).transpose(0, 1), (tgt_in == PAD).transpose(0, 1)
    out = model(embed(emb_s, src), embed(emb_t, tgt_in), tgt_mask=tgt_mask,
                src_key_padding_mask=src_pad, tgt_key_padding_mask=tgt_pad,
                memory_key_padding_mask=src_pad)
    logits = gen(out)
    loss = nn.CrossEntropyLoss(ignore_index=PAD)(logits.reshape(-1, V), tgt_out.reshape(-1))
    loss.backward()
    with L.no_grad():
        encoded = model.encoder(embed(emb_s, src[:, :1]))     # first sentence only
        ys = L.full((1, 1), BOS, dtype=L.long)
        while ys.size(0) < 4:
            causal = nn.Transformer.generate_square_subsequent_mask(ys.size(0)).bool()
            states = model.decoder(embed(emb_t, ys), encoded, causal)
            ys = L.cat([ys, gen(states[-1]).argmax(-1).view(1, 1)], 0)
    return dict(mask=tgt_mask, logits=logits, loss=loss, ys=ys, ge=emb_s.weight.grad,
                g=grads_of(model.decoder.layers[0].multihead_attn))


@program
def transformer_encoder_layer_norm_first_gelu_and_src_mask(L):
    """nn.TransformerEncoder of norm_first layers with activation="gelu" and a final
    LayerNorm (batch_first), a boolean src_mask banning attention to later positions and a
    key-padding mask; eval mode under no_grad agrees with train mode (dropout 0)."""
    nn = L.nn
    L.manual_seed(23)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8), enable_nested_tensor=False).double()
    x = _t(L, 2, 5, 8, seed=24, grad=True)
    mask = L.triu(L.ones(5, 5, dtype=L.bool), 1)
    kpm = L.tensor([[False] * 5, [False, False, False, True, True]])
    y = enc(x, mask=mask, src_key_padding_mask=kpm)
    y.pow(2).mean().backward()
    enc.eval()
    with L.no_grad():
        ye = enc(x, mask=mask, src_key_padding_mask=kpm)
    return dict(y=y, ye=ye, gx=x.grad, g=grads_of(enc.layers[1].linear1),
                close=float((y - ye).abs().max()) < 1e-12)


# ----------------------------------------------------------------------------------------------
# losses and training tricks
# ----------------------------------------------------------------------------------------------
@program
def label_smoothing_cross_entropy_three_ways(L):
    """Label smoothing three ways: cross_entropy's own label_smoothing=0.1; the same loss
    spelled out on the non-ignored rows (0.9 of the gold class's negative log-probability,
    by gather, plus 0.1 of the average negative log-probability over all classes); and the
    built-in with class weights, ignore_index and soft (probability) targets."""
    F = L.nn.functional
    logits = _t(L, 6, 5, seed=30, grad=True)
    y = L.tensor([0, 3, 4, 1, -100, 2])
    a = F.cross_entropy(logits, y, label_smoothing=0.1)
    kept = y != -100
    log_q = F.log_softmax(logits[kept], dim=-1)
    gold_term = -log_q.gather(dim=-1, index=y[kept].unsqueeze(1)).squeeze(1)
    uniform_term = -log_q.mean(dim=-1)       # cross entropy against the uniform distribution
    b = (0.9 * gold_term + 0.1 * uniform_term).mean()
    w = L.tensor([1.0, 2.0, 0.5, 1.0, 3.0], dtype=L.float64)
    c = F.cross_entropy(logits, y, weight=w, label_smoothing=0.2, reduction="sum")
    cm = F.cross_entropy(logits, y, weight=w, label_smoothing=0.2)
    soft = F.softmax(_t(L, 6, 5, seed=31), -1)
    d = F.cross_entropy(logits, soft, label_smoothing=0.3)
    (a + b + c + cm + d).backward()
    return dict(a=a, b=b, c=c, cm=cm, d=d, g=logits.grad)


@program
def knowledge_distillation_kl_with_temperature(L):
    """Hinton distillation: KL(softmax(t/T) || softmax(s/T)) by F.kl_div(log_softmax,
    softmax, reduction="batchmean") times T^2 plus hard-label CE with alpha; the teacher in
    eval under no_grad; log_target=True form; nn.KLDivLoss's module form; the student's
    gradient only."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(32)
    teacher = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(16, 3)).double().eval()
    student = nn.Sequential(nn.Linear(4, 3)).double()
    x, y = _t(L, 8, 4, seed=33), L.tensor(_labels(8, 3, 34))
    T, alpha = 4.0, 0.7
    with L.no_grad():
        t_logits = teacher(x)
    s_logits = student(x)
    kd = F.kl_div(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1),
                  reduction="batchmean") * T * T
    kd2 = F.kl_div(F.log_softmax(s_logits / T, 1), F.log_softmax(t_logits / T, 1),
                   reduction="batchmean", log_target=True) * T * T
    kd3 = nn.KLDivLoss(reduction="sum")(F.log_softmax(s_logits, 1), F.softmax(t_logits, 1))
    loss = alpha * kd + (1 - alpha) * F.cross_entropy(s_logits, y)
    loss.backward()
    return dict(kd=kd, kd2=kd2, kd3=kd3, loss=loss, g=grads_of(student),
                tg=[p.grad for p in teacher.parameters()], t_logits=t_logits)


@program
def model_ema_with_warmup_decay_and_buffers(L):
    """An exponential moving average of a whole model, weights and BatchNorm statistics
    alike: a frozen deepcopy in eval mode; after each optimizer step every floating entry of
    its state_dict moves towards the live model's (mul_ then add_ with alpha, under no_grad)
    with a decay that starts small, min(0.9, (1 + n) / (10 + n)), while integer entries
    (num_batches_tracked) are copied; the averaged model's outputs compared at the end."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(35)
    model = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).double()
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    x, y = _t(L, 10, 3, seed=36), L.tensor(_labels(10, 2, 37))
    decays = []
    for n in range(4):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        d = min(0.9, (1 + n) / (10 + n))
        decays.append(d)
        with L.no_grad():
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.dtype.is_floating_point:
                    e.mul_(d).add_(m.detach(), alpha=1 - d)
                else:
                    e.copy_(m)
    return dict(decays=decays, out=ema(x), w=ema[0].weight, rm=ema[1].running_mean,
                nbt=ema[1].num_batches_tracked, rg=ema[0].weight.requires_grad,
                mw=model[3].weight)


@program
def checkpointed_blocks_with_dropout_preserve_rng(L):
    """Gradient checkpointing as HF models use it: each block run through
    torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False) in train mode with
    dropout (the RNG state preserved so the recomputation draws the same mask), and
    checkpoint_sequential over segments; gradients equal the un-checkpointed run's."""
    nn = L.nn
    cp = L.utils.checkpoint
    L.manual_seed(38)
    blocks = nn.ModuleList([nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.3), nn.Tanh())
                            for _ in range(3)]).double()
    x = _t(L, 5, 4, seed=39, grad=True)

    def run(use_cp):
        h = x
        for b in blocks:
            h = cp.checkpoint(b, h, use_reentrant=False) if use_cp else b(h)
        return h

    L.manual_seed(40)
    y1 = run(True)
    y1.sum().backward()
    g1 = [x.grad.clone()] + [b[0].weight.grad.clone() for b in blocks]
    x.grad = None
    blocks.zero_grad()
    L.manual_seed(40)
    y2 = run(False)
    y2.sum().backward()
    g2 = [x.grad.clone()] + [b[0].weight.grad.clone() for b in blocks]
    seq = nn.Sequential(*[b for b in blocks]).eval()
    x.grad = None
    y3 = cp.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    y3.pow(2).sum().backward()
    return dict(y1=y1, y2=y2, g1=g1, g2=g2, y3=y3, g3=x.grad)


@program
def state_dict_surgery_prefixes_partial_and_strict_false(L):
    """Loading checkpoints from elsewhere: a DataParallel 'module.' prefix stripped, keys
    renamed by a regex-free replace (backbone. -> features.), a head of another size
    dropped by comparing shapes, load_state_dict(strict=False) returning the missing and
    unexpected keys, strict=True's error words; a buffer-only key set."""
    nn = L.nn
    L.manual_seed(41)

    class Net(nn.Module):
        def __init__(self, classes):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
            self.head = nn.Linear(5, classes)

        def forward(self, x):
            return self.head(self.features(x))

    src = Net(4).double()
    ckpt = {"module." + k.replace("features.", "backbone."): v for k, v in src.state_dict().items()}
    ckpt["module.extra.weight"] = L.zeros(2)
    dst = Net(2).double()
    sd = {k[len("module."):] if k.startswith("module.") else k: v for k, v in ckpt.items()}
    sd = {k.replace("backbone.", "features."): v for k, v in sd.items()}
    own = dst.state_dict()
    compatible = {k: v for k, v in sd.items() if k in own and v.shape == own[k].shape}
    res = dst.load_state_dict(compatible, strict=False)
    strict_err = err(lambda: dst.load_state_dict(sd))
    x = _t(L, 4, 3, seed=42)
    dst.eval()
    src.eval()
    return dict(missing=res.missing_keys, unexpected=res.unexpected_keys, strict=strict_err,
                same=float((dst.features(x) - src.features(x)).abs().max()) == 0.0,
                keys=sorted(compatible), tup=tuple(res), head=dst.head.weight)


@program
def optimizer_state_dict_saved_mid_training_and_resumed(L):
    """Resuming a run: model, AdamW and a StepLR saved with torch.save into a BytesIO after
    three steps (a dict with epoch), loaded into fresh objects with torch.load
    (weights_only=True), training continued; the resumed run equals the uninterrupted one,
    the saved step counts and param_groups survive."""
    nn, F = L.nn, L.nn.functional

    def make():
        L.manual_seed(43)
        m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double()
        o = L.optim.AdamW(m.parameters(), lr=0.05, weight_decay=0.01, amsgrad=True)
        s = L.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)
        return m, o, s

    x, y = _t(L, 8, 3, seed=44), _t(L, 8, 1, seed=45)

    def step(m, o, s):
        o.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        o.step()
        s.step()
        return loss.item()

    m, o, s = make()
    full = [step(m, o, s) for _ in range(6)]
    m, o, s = make()
    first = [step(m, o, s) for _ in range(3)]
    buf = io.BytesIO()
    L.save({"epoch": 3, "model": m.state_dict(), "opt": o.state_dict(),
            "sched": s.state_dict()}, buf)
    buf.seek(0)
    ck = L.load(buf, weights_only=True)
    m2, o2, s2 = make()
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["opt"])
    s2.load_state_dict(ck["sched"])
    rest = [step(m2, o2, s2) for _ in range(3)]
    st = ck["opt"]["state"][0]
    return dict(full=full, resumed=first + rest, w=m2[2].weight, epoch=ck["epoch"],
                step=st["step"], keys=sorted(st), lr=o2.param_groups[0]["lr"],
                sched=s2.state_dict()["last_epoch"], pg=sorted(ck["opt"]["param_groups"][0]))


@program
def scheduler_chains_sequential_chained_and_plateau(L):
    """Warmup then cosine by SequentialLR(LinearLR, CosineAnnealingLR, milestones), a
    ChainedScheduler of ExponentialLR and MultiStepLR stepping together, ReduceLROnPlateau
    (mode max, threshold_mode abs, cooldown, min_lr) fed a metric; the rates read by
    get_last_lr() each epoch; a scheduler's state_dict round trip."""
    sch = L.optim.lr_scheduler

    def opt():
        return L.optim.SGD([L.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)

    o1 = opt()
    s1 = sch.SequentialLR(o1, [sch.LinearLR(o1, start_factor=0.1, total_iters=3),
                               sch.CosineAnnealingLR(o1, T_max=5, eta_min=1e-3)], milestones=[3])
    o2 = opt()
    s2 = sch.ChainedScheduler([sch.ExponentialLR(o2, gamma=0.9),
                               sch.MultiStepLR(o2, milestones=[2, 5], gamma=0.5)])
    o3 = opt()
    s3 = sch.ReduceLROnPlateau(o3, mode="max", factor=0.5, patience=1, threshold=0.01,
                               threshold_mode="abs", cooldown=1, min_lr=0.02)
    metrics = [0.5, 0.6, 0.605, 0.6, 0.59, 0.7, 0.69, 0.69, 0.69, 0.69]
    r1, r2, r3 = [], [], []
    for e in range(10):
        o1.step()
        o2.step()
        o3.step()
        s1.step()
        s2.step()
        s3.step(metrics[e])
        r1.append(s1.get_last_lr()[0])
        r2.append(s2.get_last_lr()[0])
        r3.append(o3.param_groups[0]["lr"])
    state = s3.state_dict()
    o4 = opt()
    s4 = sch.ReduceLROnPlateau(o4, mode="max")
    s4.load_state_dict(state)
    return dict(r1=r1, r2=r2, r3=r3, best=s4.best, bad=s4.num_bad_epochs, cd=s4.cooldown_counter,
                last=s3.get_last_lr())


@program
def mixup_and_cutmix_batches_with_soft_targets(L):
    """Two batch-mixing augmentations with soft labels. mixup: each image blended with a
    partner given by randperm, the weight drawn from numpy's Beta(0.4, 0.4) under a seed,
    scored as the weighted pair of cross entropies and as one cross entropy against blended
    one-hot targets. CutMix: a square of the partner image, its side scaled by
    sqrt(1 - lam) around a random pixel and cut off at the borders by np.clip, pasted in by
    slice assignment, the labels then weighted by the area actually pasted."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(46)
    net = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(3, 4)).double()
    x, y = _t(L, 6, 2, 8, 8, seed=47), L.tensor(_labels(6, 4, 48))
    rng = np.random.RandomState(49)
    lam = float(rng.beta(0.4, 0.4))
    L.manual_seed(50)
    perm = L.randperm(6)
    y_partner = y[perm]
    out = net(lam * x + (1 - lam) * x[perm, :])
    l_mix = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y_partner)
    soft = lam * F.one_hot(y, 4).double() + (1 - lam) * F.one_hot(y_partner, 4).double()
    l_soft = F.cross_entropy(out, soft)

    def patch_bounds(share, side=8):
        """Rows r0:r1 and columns c0:c1 of a square covering about 1 - share of the image."""
        half = int(side * np.sqrt(1.0 - share)) // 2
        col, row = rng.randint(side), rng.randint(side)
        c0, c1 = np.clip(col - half, 0, side), np.clip(col + half, 0, side)
        r0, r1 = np.clip(row - half, 0, side), np.clip(row + half, 0, side)
        return r0, r1, c0, c1

    r0, r1, c0, c1 = patch_bounds(float(rng.beta(1.0, 1.0)))
    xc = x.clone()
    xc[:, :, r0:r1, c0:c1] = x[perm, :, r0:r1, c0:c1]
    lam_adj = 1 - ((c1 - c0) * (r1 - r0) / (8 * 8))      # the share left unpasted
    out2 = net(xc)
    l_cut = lam_adj * F.cross_entropy(out2, y) + (1 - lam_adj) * F.cross_entropy(out2, y_partner)
    (l_mix + l_soft + l_cut).backward()
    return dict(perm=perm, l_mix=l_mix, l_soft=l_soft, l_cut=l_cut, lam_adj=float(lam_adj),
                xc=xc, g=grads_of(net))


@program
def triplet_loss_with_batch_hard_mining(L):
    """Batch-hard triplet mining (person re-id code): pairwise distances by torch.cdist and
    by the expanded ||a||^2 + ||b||^2 - 2ab form clamped and sqrt-ed, positive and negative
    masks from label equality, the hardest positive by max over masked distances and the
    hardest negative by min over distances plus a large value on positives, MarginRankingLoss
    and nn.TripletMarginLoss on mined triplets gathered by topk indices."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(51)
    net = nn.Linear(5, 3).double()
    x = _t(L, 8, 5, seed=52)
    y = L.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    emb = F.normalize(net(x), dim=1)
    d1 = L.cdist(emb, emb)
    sq = emb.pow(2).sum(1, keepdim=True)
    d2 = (sq + sq.t() - 2 * emb @ emb.t()).clamp(min=1e-12).sqrt()
    pos = y.unsqueeze(0) == y.unsqueeze(1)
    neg = ~pos
    ap = (d2 * pos).max(1)[0]
    an = d2.masked_fill(~neg, 1e5).min(1)[0]
    loss = nn.MarginRankingLoss(margin=0.3)(an, ap, L.ones_like(an))
    _, hard_pos = (d2 * pos).topk(1, dim=1)
    _, hard_neg = (d2 + 1e5 * pos).topk(1, dim=1, largest=False)
    tl = nn.TripletMarginLoss(margin=0.5, p=2)(emb, emb[hard_pos[:, 0]], emb[hard_neg[:, 0]])
    (loss + tl).backward()
    return dict(d1=d1, close=float((d1 - d2).abs().max()) < 1e-5, loss=loss, tl=tl,
                hp=hard_pos, hn=hard_neg, g=grads_of(net))


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
