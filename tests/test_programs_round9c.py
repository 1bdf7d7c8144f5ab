"""Whole programs in the idioms of code people run, a ninth round (part c): captioning with
a shrinking batch, sentence-pair matching, location-sensitive speech attention, hierarchical
attention, forecasting (N-BEATS with RevIN, TFT's gated residual networks), graph networks
(GIN, APPNP and Chebyshev filters, DiffPool), offline RL and noisy-label training,
differentiable sorting, uncertainty by sampling, L-BFGS checkpoints, sampling ops on the
graph, and language- and generative-model plumbing (MLM masking, label smoothing with the
Noam rate, speculative decoding, switch routing, RNN-T and soft-DTW recursions,
hypergradients, bundle adjustment, flow matching, FSQ, CLIP's logit scale).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, load_seeded, normal64 as _arr, params_of, registry,
    program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()



# ----------------------------------------------------------------------------------------------
# captioning, matching and speech attention
# ----------------------------------------------------------------------------------------------
@program
def show_attend_tell_decoder_with_shrinking_batch(L):
    """Captioning with soft attention over a grid of image features (after Xu et al.'s "Show,
    Attend and Tell") where the decoding batch shrinks as captions end: the batch reordered
    by sort(descending=True) on caption length so the rows still running at step t are a
    prefix, the LSTMCell state initialised from the mean feature, additive attention with a
    sigmoid gate on the attended feature, logits and attention weights written step by step
    into preallocated zeros by slice assignment, the cross entropy over
    pack_padded_sequence(...).data of logits and targets, and a penalty pushing each grid
    cell's total attention towards one."""
    nn, F = L.nn, L.nn.functional
    packing = nn.utils.rnn
    L.manual_seed(22)
    V, E, H, A, P, C = 9, 4, 6, 5, 4, 3
    word_vec = load_seeded(L, nn.Embedding(V, E).double(), 22)
    key_proj, query_proj, energy_proj = nn.Linear(C, A), nn.Linear(H, A), nn.Linear(A, 1)
    gate_proj, step_cell, vocab_proj = nn.Linear(H, C), nn.LSTMCell(E + C, H), nn.Linear(H, V)
    h0_proj, c0_proj = nn.Linear(C, H), nn.Linear(C, H)
    nn.ModuleList([key_proj, query_proj, energy_proj, gate_proj, step_cell, vocab_proj,
                   h0_proj, c0_proj]).double()
    grid = _t(L, 3, P, C, seed=70)
    words = L.tensor(_labels(3 * 6, V, 71).reshape(3, 6))
    n_words, order = L.tensor([4, 6, 3]).sort(dim=0, descending=True)
    grid, words = grid[order], words[order]
    steps = (n_words - 1).tolist()        # every token but the first is predicted
    mean_feat = grid.mean(1)
    h, c = h0_proj(mean_feat), c0_proj(mean_feat)
    n_steps = max(steps)
    logits = L.zeros(3, n_steps, V, dtype=L.float64)
    weights = L.zeros(3, n_steps, P, dtype=L.float64)
    embedded = word_vec(words)
    for t in range(n_steps):
        live = sum(1 for n in steps if n > t)       # captions not yet finished
        query, keys = h[:live], grid[:live]
        energy = energy_proj(F.relu(key_proj(keys) + query_proj(query).unsqueeze(1)))
        w = F.softmax(energy.squeeze(2), dim=1)
        glimpse = (keys * w.unsqueeze(2)).sum(1) * L.sigmoid(gate_proj(query))
        h, c = step_cell(L.cat([embedded[:live, t], glimpse], 1), (query, c[:live]))
        logits[:live, t] = vocab_proj(h)
        weights[:live, t] = w
    flat_logits = packing.pack_padded_sequence(logits, steps, batch_first=True).data
    flat_targets = packing.pack_padded_sequence(words[:, 1:], steps, batch_first=True).data
    coverage = ((1.0 - weights.sum(1)) ** 2).mean()
    loss = F.cross_entropy(flat_logits, flat_targets) + coverage
    loss.backward()
    return dict(order=order, loss=loss, alphas=weights, g=grads_of(step_cell),
                ge=word_vec.weight.grad)


@program
def esim_soft_alignment_with_masks_and_pooling(L):
    """ESIM for sentence pairs: BiLSTM encodings, a similarity matrix, masked softmax both
    ways (masked_fill with a large negative, then multiplied by the mask and renormalised),
    the enhancement [a; a~; a - a~; a * a~], a composition BiLSTM, masked average and
    max pooling, a tanh classifier."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(23)
    enc = nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    proj = nn.Linear(32, 4).double()
    comp = nn.LSTM(4, 4, batch_first=True, bidirectional=True).double()
    cls = nn.Sequential(nn.Linear(32, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    p, h = _t(L, 2, 5, 3, seed=72), _t(L, 2, 4, 3, seed=73)
    pm = L.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=L.float64)
    hm = L.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=L.float64)

    def masked_softmax(x, mask):
        r = F.softmax(x.masked_fill(mask == 0, -1e7), dim=-1) * mask
        return r / (r.sum(-1, keepdim=True) + 1e-13)

    a, b = enc(p)[0], enc(h)[0]
    sim = a.bmm(b.transpose(2, 1).contiguous())
    a_t = masked_softmax(sim, hm.unsqueeze(1)).bmm(b) * pm.unsqueeze(-1)
    b_t = masked_softmax(sim.transpose(1, 2).contiguous(), pm.unsqueeze(1)).bmm(a) * \
        hm.unsqueeze(-1)
    ma = F.relu(proj(L.cat([a, a_t, a - a_t, a * a_t], -1)))
    mb = F.relu(proj(L.cat([b, b_t, b - b_t, b * b_t], -1)))
    va, vb = comp(ma)[0], comp(mb)[0]
    avg = lambda v, m: (v * m.unsqueeze(-1)).sum(1) / m.sum(1, keepdim=True)  # noqa: E731
    mx = lambda v, m: v.masked_fill(m.unsqueeze(-1) == 0, -1e7).max(1)[0]  # noqa: E731
    logits = cls(L.cat([avg(va, pm), mx(va, pm), avg(vb, hm), mx(vb, hm)], -1))
    loss = F.cross_entropy(logits, L.tensor([2, 0]))
    loss.backward()
    return dict(sim=sim, logits=logits, g=grads_of(proj), ge=enc.weight_hh_l0_reverse.grad)


@program
def location_sensitive_attention_and_guided_attention_loss(L):
    """Tacotron 2's location-sensitive attention: cumulative attention weights convolved by a
    Conv1d (no bias), projected and added to query and memory projections, energies
    masked by memory lengths, the cumulative weights carried across decoder steps; the
    guided attention loss with W[n, t] = 1 - exp(-(n/N - t/T)^2 / (2 g^2)) built by
    broadcasting per utterance lengths."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(24)
    B, Tm, Dm, A, steps = 2, 6, 4, 5, 4
    loc_conv = nn.Conv1d(2, 3, 5, padding=2, bias=False).double()
    loc_dense = nn.Linear(3, A, bias=False).double()
    q_layer, m_layer = nn.Linear(4, A, bias=False).double(), nn.Linear(Dm, A, bias=False).double()
    v = nn.Linear(A, 1).double()
    memory = _t(L, B, Tm, Dm, seed=74)
    mem_len = L.tensor([6, 4])
    mask = L.arange(Tm).unsqueeze(0) >= mem_len.unsqueeze(1)
    queries = _t(L, steps, B, 4, seed=75, grad=True)
    w_prev = L.zeros(B, Tm, dtype=L.float64)
    w_cum = L.zeros(B, Tm, dtype=L.float64)
    pm = m_layer(memory)
    ws = []
    for t in range(steps):
        loc = loc_dense(loc_conv(L.stack([w_prev, w_cum], 1)).transpose(1, 2))
        e = v(L.tanh(q_layer(queries[t]).unsqueeze(1) + loc + pm)).squeeze(-1)
        w_prev = F.softmax(e.masked_fill(mask, -float("inf")), dim=1)
        w_cum = w_cum + w_prev
        ws.append(w_prev)
    align = L.stack(ws, 2)                                        # (B, Tm, steps)
    out_len = L.tensor([4, 3])
    n = L.arange(Tm, dtype=L.float64).view(1, Tm, 1) / mem_len.view(B, 1, 1)
    tt = L.arange(steps, dtype=L.float64).view(1, 1, steps) / out_len.view(B, 1, 1)
    W = 1 - L.exp(-(n - tt) ** 2 / (2 * 0.2 ** 2))
    valid = (~mask).unsqueeze(2) & (L.arange(steps).view(1, 1, steps) < out_len.view(B, 1, 1))
    gal = (align * W)[valid].mean()
    gal.backward()
    return dict(align=align, W=W, gal=gal, gq=queries.grad, gc=loc_conv.weight.grad)


@program
def hierarchical_attention_network_words_then_sentences(L):
    """A hierarchical attention network: documents as (doc, sentence, word) ids, words encoded
    by a bidirectional GRU over the flattened sentences, attention pooling with a context
    vector, sentences encoded and pooled the same way, padded words and sentences masked;
    the attention weights returned for display."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(25)
    emb = load_seeded(L, nn.Embedding(12, 4, padding_idx=0).double(), 25)
    word_rnn = nn.GRU(4, 3, batch_first=True, bidirectional=True).double()
    sent_rnn = nn.GRU(6, 3, batch_first=True, bidirectional=True).double()
    w_proj, s_proj = nn.Linear(6, 6).double(), nn.Linear(6, 6).double()
    w_ctx = nn.Parameter(L.randn(6, dtype=L.float64) * 0.1)
    s_ctx = nn.Parameter(L.randn(6, dtype=L.float64) * 0.1)
    head = nn.Linear(6, 2).double()
    docs = L.tensor(_labels(2 * 3 * 4, 12, 76).reshape(2, 3, 4))
    docs[0, 2] = 0
    docs[1, 1, 2:] = 0

    def attend(h, ctx, proj, mask):
        score = L.tanh(proj(h)) @ ctx
        a = F.softmax(score.masked_fill(~mask, float("-inf")), -1)
        a = L.nan_to_num(a)                      # fully padded rows give all-NaN softmax
        return (a.unsqueeze(-1) * h).sum(-2), a

    D, S, W = docs.shape
    words = docs.view(D * S, W)
    wh, _ = word_rnn(emb(words))
    sent_vec, wa = attend(wh, w_ctx, w_proj, words != 0)
    smask = (docs != 0).any(-1)
    sh, _ = sent_rnn(sent_vec.view(D, S, -1))
    doc_vec, sa = attend(sh, s_ctx, s_proj, smask)
    loss = F.cross_entropy(head(doc_vec), L.tensor([1, 0]))
    loss.backward()
    return dict(wa=wa.view(D, S, W), sa=sa, loss=loss, gw=w_ctx.grad, gs=s_ctx.grad,
                gemb=emb.weight.grad)


# ----------------------------------------------------------------------------------------------
# forecasting
# ----------------------------------------------------------------------------------------------
@program
def nbeats_trend_and_seasonality_bases_with_revin(L):
    """N-BEATS with interpretable stacks: polynomial trend bases from powers of a linspace,
    Fourier seasonality bases by cos/sin, each block emitting theta by a ReLU MLP, backcast
    subtracted from the residual and forecasts summed; the input normalised by RevIN
    (instance mean and std, a learned affine) and the forecast de-normalised."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(26)
    back, fore, deg, harm = 8, 4, 2, 2
    t_b = L.linspace(0, 1, back + fore, dtype=L.float64)[:back]
    t_f = L.linspace(0, 1, back + fore, dtype=L.float64)[back:]
    trend = lambda t: L.stack([t ** i for i in range(deg + 1)])  # noqa: E731
    seas = lambda t: L.cat([L.stack([L.cos(2 * math.pi * k * t) for k in range(harm)]),  # noqa
                            L.stack([L.sin(2 * math.pi * k * t) for k in range(1, harm)])])
    bases = [(trend(t_b), trend(t_f)), (seas(t_b), seas(t_f))]
    blocks = nn.ModuleList([nn.Sequential(nn.Linear(back, 16), nn.ReLU(), nn.Linear(16, 16),
                                          nn.ReLU(), nn.Linear(16, 2 * B.size(0)))
                            for B, _ in bases]).double()
    gamma = nn.Parameter(L.ones(1, dtype=L.float64))
    beta = nn.Parameter(L.zeros(1, dtype=L.float64))
    opt = L.optim.Adam(list(blocks.parameters()) + [gamma, beta], lr=1e-2)
    series = L.sin(L.arange(3 * (back + fore), dtype=L.float64).view(3, -1) * 0.4) * 3 + \
        L.arange(3, dtype=L.float64).view(3, 1)
    x, y = series[:, :back], series[:, back:]
    losses = []
    for _ in range(3):
        mean = x.mean(1, keepdim=True).detach()
        std = L.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5).detach()
        residual = (x - mean) / std * gamma + beta
        forecast = 0
        for block, (Bb, Bf) in zip(blocks, bases):
            theta_b, theta_f = block(residual).chunk(2, -1)
            residual = residual - theta_b @ Bb
            forecast = forecast + theta_f @ Bf
        pred = (forecast - beta) / (gamma + 1e-10) * std + mean
        loss = F.l1_loss(pred, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, pred=pred.detach(), gamma=gamma.detach(), beta=beta.detach())


@program
def temporal_fusion_gated_residual_network_and_variable_selection(L):
    """The Temporal Fusion Transformer's building blocks: a gated residual network (ELU,
    dropout in eval, a GLU gate, a skip projection, LayerNorm) applied per variable, and
    variable selection weights by a GRN over the flattened inputs and softmax; the weighted
    sum of processed variables, with the selection weights returned."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(27)

    class GRN(nn.Module):
        def __init__(self, i, h, o, ctx=None):
            super().__init__()
            self.skip = nn.Linear(i, o) if i != o else nn.Identity()
            self.fc1, self.fc2 = nn.Linear(i, h), nn.Linear(h, h)
            self.ctx = nn.Linear(ctx, h, bias=False) if ctx else None
            self.gate = nn.Linear(h, 2 * o)
            self.drop, self.norm = nn.Dropout(0.1), nn.LayerNorm(o)

        def forward(self, x, c=None):
            h = self.fc1(x)
            if c is not None:
                h = h + self.ctx(c)
            h = self.drop(self.fc2(F.elu(h)))
            return self.norm(self.skip(x) + F.glu(self.gate(h), dim=-1))

    n_vars, d, H = 3, 2, 4
    var_grns = nn.ModuleList([GRN(d, H, H) for _ in range(n_vars)])
    sel = GRN(n_vars * d, H, n_vars, ctx=3)
    nn.ModuleList([var_grns, sel]).double().eval()
    x = _t(L, 2, 5, n_vars, d, seed=77, grad=True)
    c = _t(L, 2, 1, 3, seed=78)
    weights = F.softmax(sel(x.flatten(-2), c), dim=-1)
    processed = L.stack([g(x[..., i, :]) for i, g in enumerate(var_grns)], -1)
    out = (processed * weights.unsqueeze(-2)).sum(-1)
    out.pow(2).mean().backward()
    return dict(weights=weights, out=out, gx=x.grad, g=grads_of(sel))


# ----------------------------------------------------------------------------------------------
# graphs
# ----------------------------------------------------------------------------------------------
def _graph(L):
    edges = L.tensor([[0, 1], [1, 2], [2, 0], [2, 3], [3, 4], [4, 5], [5, 3], [1, 4]]).T
    A = L.zeros(6, 6, dtype=L.float64)
    A[edges[0], edges[1]] = 1.0
    A = ((A + A.T) > 0).double()
    return edges, A


@program
def gin_sum_aggregation_and_batched_graph_readout(L):
    """GIN layers: (1 + eps) h_v plus the sum of neighbours by index_add_ over an edge list
    made symmetric by flip and cat, an MLP with BatchNorm; two graphs in a batch vector,
    sum readouts per graph by index_add_ concatenated over layers (jumping knowledge)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(28)
    edges, _ = _graph(L)
    ei = L.cat([edges, edges.flip(0)], 1)
    batch = L.tensor([0, 0, 0, 1, 1, 1])
    layers = nn.ModuleList([nn.Sequential(nn.Linear(3 if i == 0 else 4, 4), nn.BatchNorm1d(4),
                                          nn.ReLU(), nn.Linear(4, 4)) for i in range(2)])
    layers = layers.double()
    eps = nn.Parameter(L.zeros(2, dtype=L.float64))
    h = _t(L, 6, 3, seed=79)
    reads = []
    for i, mlp in enumerate(layers):
        agg = L.zeros_like(h).index_add_(0, ei[1], h[ei[0]])
        h = F.relu(mlp((1 + eps[i]) * h + agg))
        reads.append(L.zeros(2, 4, dtype=L.float64).index_add_(0, batch, h))
    g = L.cat(reads, -1)
    loss = F.cross_entropy(g, L.tensor([1, 0]))
    loss.backward()
    return dict(g=g, loss=loss, geps=eps.grad, gw=layers[0][0].weight.grad,
                rm=layers[1][1].running_mean)


@program
def appnp_propagation_and_chebyshev_filters(L):
    """Spectral and propagation GNNs on a dense adjacency: the symmetric normalisation
    D^-1/2 (A + I) D^-1/2, APPNP's personalised PageRank iterations
    Z <- (1 - a) A_hat Z + a H, and ChebNet's filters from the Chebyshev recurrence
    T_k = 2 L~ T_{k-1} - T_{k-2} on the scaled Laplacian (largest eigenvalue by eigvalsh)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(29)
    _, A = _graph(L)
    A_hat = A + L.eye(6, dtype=L.float64)
    dinv = A_hat.sum(1).pow(-0.5)
    A_norm = dinv.unsqueeze(1) * A_hat * dinv.unsqueeze(0)
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x = _t(L, 6, 3, seed=80)
    H = mlp(x)
    Z = H
    for _ in range(5):
        Z = 0.9 * A_norm @ Z + 0.1 * H
    deg = A.sum(1)
    lap = L.eye(6, dtype=L.float64) - (deg.pow(-0.5).unsqueeze(1) * A * deg.pow(-0.5))
    lmax = L.linalg.eigvalsh(lap).max()
    lt = 2 * lap / lmax - L.eye(6, dtype=L.float64)
    thetas = _t(L, 3, 3, 2, scale=0.5, seed=81, grad=True)
    Tx = [x, lt @ x]
    Tx.append(2 * lt @ Tx[1] - Tx[0])
    cheb = sum(T @ th for T, th in zip(Tx, thetas))
    y = L.tensor([0, 1, 1, 0, 0, 1])
    loss = F.cross_entropy(Z, y) + F.cross_entropy(cheb, y)
    loss.backward()
    return dict(Z=Z, cheb=cheb, lmax=lmax, gt=thetas.grad, g=grads_of(mlp))


@program
def diffpool_soft_assignment_with_link_and_entropy_losses(L):
    """DiffPool: a GNN produces embeddings and soft cluster assignments S (softmax over
    clusters), the pooled graph X' = S^T Z and A' = S^T A S, the link prediction loss
    ||A - S S^T||_F / n^2 and the assignment entropy, trained two Adam steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(30)
    _, A = _graph(L)
    A_norm = A / A.sum(1, keepdim=True)
    emb, assign = nn.Linear(3, 4).double(), nn.Linear(3, 2).double()
    head = nn.Linear(4, 2).double()
    opt = L.optim.Adam(list(emb.parameters()) + list(assign.parameters()) +
                       list(head.parameters()), lr=1e-2)
    x = _t(L, 6, 3, seed=82)
    losses = []
    for _ in range(2):
        Z = F.relu(A_norm @ emb(x))
        S = F.softmax(A_norm @ assign(x), dim=-1)
        Xp = S.T @ Z
        Ap = S.T @ A @ S
        link = L.norm(A - S @ S.T, p="fro") / A.numel()
        ent = (-S * L.log(S + 1e-15)).sum(-1).mean()
        logits = head(Xp.max(0)[0])
        loss = F.cross_entropy(logits.unsqueeze(0), L.tensor([1])) + link + ent
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, S=S.detach(), Ap=Ap.detach(), Xp=Xp.detach())


# ----------------------------------------------------------------------------------------------
# offline RL, noisy labels, differentiable sorting, uncertainty
# ----------------------------------------------------------------------------------------------
@program
def decision_transformer_tokens_and_iql_expectile_losses(L):
    """Offline RL plumbing: returns-to-go by flip-cumsum-flip, (R, s, a) tokens interleaved
    by stack and reshape with timestep embeddings, a causal transformer encoder predicting
    actions from state tokens; IQL's expectile value loss |tau - 1(u < 0)| u^2 and the
    advantage-weighted policy loss with exp(beta A) clamped."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(31)
    B, T, ds, da, d = 2, 3, 3, 2, 8
    rewards = _t(L, B, T, seed=83)
    rtg = rewards.flip(1).cumsum(1).flip(1)
    states, actions = _t(L, B, T, ds, seed=84), _t(L, B, T, da, seed=85).tanh()
    er, es, ea = nn.Linear(1, d), nn.Linear(ds, d), nn.Linear(da, d)
    et = load_seeded(L, nn.Embedding(T, d).double(), 31)
    layer = nn.TransformerEncoderLayer(d, 2, 16, dropout=0.0, batch_first=True)
    body = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    head = nn.Linear(d, da)
    nn.ModuleList([er, es, ea, body, head]).double()
    time = et(L.arange(T)).unsqueeze(0)
    tokens = L.stack([er(rtg.unsqueeze(-1)) + time, es(states) + time, ea(actions) + time], 2)
    tokens = tokens.reshape(B, 3 * T, d)
    mask = nn.Transformer.generate_square_subsequent_mask(3 * T, dtype=L.float64)
    h = body(tokens, mask=mask, is_causal=True).reshape(B, T, 3, d)
    pred = L.tanh(head(h[:, :, 1]))
    dt_loss = F.mse_loss(pred, actions)
    q, v = _t(L, 8, seed=86), _t(L, 8, seed=87, grad=True)
    u = q - v
    expectile = (L.abs(0.7 - (u < 0).double()) * u ** 2).mean()
    adv = (q - v).detach()
    logp = _t(L, 8, seed=88, grad=True)
    awr = -(L.exp(3.0 * adv).clamp(max=100.0) * logp).mean()
    (dt_loss + expectile + awr).backward()
    return dict(rtg=rtg, pred=pred, dt=dt_loss, exp=expectile, awr=awr, gv=v.grad,
                glp=logp.grad, g=grads_of(head))


@program
def noisy_label_losses_gce_sce_and_co_teaching_selection(L):
    """Learning with noisy labels: generalised cross entropy (1 - p_y^q) / q, symmetric
    cross entropy with the reverse term's log(0) clamped, and co-teaching's small-loss
    selection (argsort of per-sample losses, each network trained on the samples its peer
    finds easiest) with two SGD optimizers."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(32)
    net1 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    net2 = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    o1, o2 = L.optim.SGD(net1.parameters(), lr=0.1), L.optim.SGD(net2.parameters(), lr=0.1)
    x, y = _t(L, 10, 4, seed=89), L.tensor(_labels(10, 3, 90))
    logits = net1(x)
    p = F.softmax(logits, 1)
    gce = ((1 - p.gather(1, y[:, None]).squeeze(1) ** 0.7) / 0.7).mean()
    onehot = F.one_hot(y, 3).double().clamp(min=1e-4, max=1.0)
    sce = F.cross_entropy(logits, y) + (-(p.clamp(min=1e-7) * L.log(onehot)).sum(1)).mean()
    g_noisy = L.autograd.grad(gce + sce, net1[0].weight)[0]
    kept = []
    for _ in range(2):
        l1 = F.cross_entropy(net1(x), y, reduction="none")
        l2 = F.cross_entropy(net2(x), y, reduction="none")
        n_keep = 7
        idx1, idx2 = L.argsort(l1.detach())[:n_keep], L.argsort(l2.detach())[:n_keep]
        o1.zero_grad()
        o2.zero_grad()
        l1[idx2].mean().backward()
        l2[idx1].mean().backward()
        o1.step()
        o2.step()
        kept.append((idx1.sort()[0], idx2.sort()[0]))
    return dict(gce=gce, sce=sce, g=g_noisy, kept=kept, w1=params_of(net1))


@program
def neuralsort_relaxed_permutations_and_soft_ranks(L):
    """NeuralSort's relaxation of sorting: P_hat = softmax(((n + 1 - 2i) s - A_s 1) / tau)
    with A_s the matrix of pairwise |s_i - s_j|, rows approaching the hard permutation as tau
    shrinks, the relaxed sorted values P_hat s, soft ranks, and gradients of a ranking
    loss back to the scores."""
    s = _t(L, 2, 5, seed=91, grad=True)

    def neuralsort(s, tau):
        n = s.size(-1)
        A = (s.unsqueeze(-1) - s.unsqueeze(-2)).abs()
        B = A.sum(-1, keepdim=True).transpose(-1, -2)             # (.., 1, n): A 1
        scaling = (n + 1 - 2 * (L.arange(n, dtype=s.dtype) + 1)).unsqueeze(-1)
        C = scaling * s.unsqueeze(-2)
        return L.softmax((C - B) / tau, dim=-1)

    P = neuralsort(s, 0.5)
    hard = neuralsort(s.detach(), 1e-3).argmax(-1)
    sorted_soft = (P @ s.unsqueeze(-1)).squeeze(-1)
    ranks = (P * L.arange(1.0, 6.0, dtype=L.float64).unsqueeze(-1)).sum(-2)
    target = L.tensor([[1., 2, 3, 4, 5], [5, 4, 3, 2, 1]], dtype=L.float64)
    loss = ((ranks - target) ** 2).mean()
    loss.backward()
    return dict(P=P, hard=hard, true=s.detach().argsort(-1, descending=True),
                sorted=sorted_soft, ranks=ranks, gs=s.grad)


@program
def mc_dropout_and_ensemble_uncertainty_decomposition(L):
    """Uncertainty by sampling: a model in eval mode with only its Dropout modules put back
    in training (by isinstance over modules()), eight stochastic passes after a seed, the
    predictive entropy, the expected entropy and their difference (mutual information),
    and a deep-ensemble's variance of means for a regression head."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(33)
    model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 16),
                          nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(16, 4)).double()
    model(_t(L, 8, 3, seed=92))
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()
    x = _t(L, 5, 3, seed=93)
    with L.no_grad():
        probs = L.stack([F.softmax(model(x), -1) for _ in range(8)])
    mean = probs.mean(0)
    pred_ent = -(mean * L.log(mean + 1e-12)).sum(-1)
    exp_ent = -(probs * L.log(probs + 1e-12)).sum(-1).mean(0)
    members = [nn.Linear(3, 2).double() for _ in range(4)]
    outs = L.stack([m(x) for m in members])
    mu, var = outs[..., 0], F.softplus(outs[..., 1]) + 1e-6
    ens_mean = mu.mean(0)
    ens_var = (var + mu ** 2).mean(0) - ens_mean ** 2
    return dict(mean=mean, pred_ent=pred_ent, mi=pred_ent - exp_ent, ens_mean=ens_mean,
                ens_var=ens_var.detach(), modes=[m.training for m in model])


@program
def lbfgs_state_dict_round_trip_and_resumed_steps(L):
    """L-BFGS checkpointed mid-optimisation: its state (flat direction, the curvature pair
    lists, H_diag and the 'ro' and 'al' scalars as 0-d tensors) saved through torch.save
    to a buffer and loaded into a fresh optimizer, which then continues exactly as the
    original does; the state entries' types are compared too."""
    target = L.tensor([0.3, -0.2, 0.5], dtype=L.float64)

    def make():
        w = L.nn.Parameter(L.tensor([1.5, -0.5, 0.0], dtype=L.float64))
        opt = L.optim.LBFGS([w], lr=1, max_iter=4, history_size=3)

        def closure():
            opt.zero_grad()
            loss = ((w - target) ** 4).sum() + (w[0] * w[1]) ** 2
            loss.backward()
            return loss
        return w, opt, closure

    w, opt, closure = make()
    opt.step(closure)
    buf = io.BytesIO()
    L.save(opt.state_dict(), buf)
    buf.seek(0)
    w2, opt2, closure2 = make()
    with L.no_grad():
        w2.copy_(w)
    opt2.load_state_dict(L.load(buf))
    cont = [opt.step(closure).item() for _ in range(2)]
    resumed = [opt2.step(closure2).item() for _ in range(2)]
    st = opt.state[w]
    kinds = {k: (type(v).__name__ if not isinstance(v, list) else
                 [type(e).__name__ for e in v]) for k, v in sorted(st.items())}
    return dict(cont=cont, resumed=resumed, w=w.detach(), w2=w2.detach(), kinds=kinds,
                H=st["H_diag"], ro=st["ro"])


@program
def sampling_inside_the_graph_normal_and_bernoulli_gradients(L):
    """What sampling ops do on the graph, as code that samples where it should have used
    rsample finds out: torch.normal with a mean (or std) that requires grad gives a result
    that requires grad and zero gradients (NormalBackward1/2/3), bernoulli of probabilities
    that require grad likewise (BernoulliBackward0), so .numpy() on it is refused, and
    bernoulli with a float p gives a node whose backward is refused (printed as PyTorch's
    C++ nodes are: by class name, without name()'s namespace)."""
    mu = L.tensor([0.5, -1.0, 2.0], dtype=L.float64, requires_grad=True)
    sd = L.tensor([1.0, 0.5, 0.1], dtype=L.float64, requires_grad=True)
    L.manual_seed(50)
    z1, z2, z3 = L.normal(mu, 1.0), L.normal(0.0, sd), L.normal(mu, sd)
    (z1 + z2 + z3).pow(2).sum().backward()
    p = L.sigmoid(mu)
    b = L.bernoulli(p)
    names = [t.grad_fn.name() for t in (z1, z2, z3, b)]
    refused = err(lambda: b.numpy())
    gp = L.autograd.grad((b * 3).sum(), mu, retain_graph=True)[0]
    bp = L.bernoulli(mu, 0.5)
    no_backward = err(lambda: bp.sum().backward())
    with L.no_grad():
        quiet = L.bernoulli(p).requires_grad
    return dict(z=(z1, z2, z3), gmu=mu.grad, gsd=sd.grad, names=names, b=b, gp=gp,
                refused=refused, bp=bp, no_backward=no_backward, quiet=quiet,
                bp_name=bp.grad_fn.name(), shown=[repr(t.grad_fn).split(" at ")[0]
                                                   for t in (bp, b, mu // 2)])



# ----------------------------------------------------------------------------------------------
# language-model and generative-model plumbing
# ----------------------------------------------------------------------------------------------
@program
def mlm_data_collator_masking_80_10_10(L):
    """Masked-LM batch preparation in BERT's 80/10/10 manner, under a seed: a selection
    probability of 0.15 everywhere but the start and end ids 1 and 2 (masked_fill_),
    positions chosen by bernoulli, labels kept only there (-100 elsewhere); of the chosen, a
    bernoulli(0.8) draw gets the mask id 0, a bernoulli(0.5) draw among the rest a random id
    (randint over the whole shape, read where needed), the others stay; then a cross
    entropy with ignore_index=-100 over made-up logits."""
    F = L.nn.functional
    L.manual_seed(60)
    ids = L.tensor(_labels(4 * 10, 20, 100).reshape(4, 10)) + 3
    ids[:, 0], ids[:, -1] = 1, 2            # start / end markers, never chosen
    labels = ids.clone()
    p_pick = L.full(labels.shape, 0.15)
    p_pick.masked_fill_((ids == 1) | (ids == 2), value=0.0)
    picked = L.bernoulli(p_pick).bool()
    labels[~picked] = -100
    to_mask = picked & L.bernoulli(L.full(labels.shape, 0.8)).bool()
    ids[to_mask] = 0
    to_random = picked & ~to_mask & L.bernoulli(L.full(labels.shape, 0.5)).bool()
    random_ids = L.randint(23, labels.shape, dtype=L.long)
    ids[to_random] = random_ids[to_random]
    logits = _t(L, 4, 10, 23, seed=101, grad=True)
    loss = F.cross_entropy(logits.view(-1, 23), labels.view(-1), ignore_index=-100)
    loss.backward()
    return dict(inputs=ids, labels=labels, n=int(picked.sum()), loss=loss,
                g=logits.grad.abs().sum((0, 2)))


@program
def annotated_transformer_label_smoothing_kl_and_noam_rate(L):
    """A smoothed target for a KL-divergence loss and the Transformer's warm-up learning
    rate: on a detached clone of the log-probabilities, fill_ gives every class
    smoothing / (classes - 2), scatter_ puts 1 - smoothing on the gold class, the padding
    class's column is set to 0 and rows whose gold class is padding are emptied by
    index_fill_ at the rows nonzero() finds; KLDivLoss(reduction='sum'). The rate
    d^-1/2 min(s^-1/2, s w^-3/2) (warm-up w = 3) runs as a LambdaLR over Adam with
    betas (0.9, 0.98)."""
    nn = L.nn
    n_cls, pad, eps_ls = 6, 0, 0.2
    logp = L.log_softmax(_t(L, 5, n_cls, seed=102), -1).requires_grad_()
    gold = L.tensor([2, 1, 0, 3, 3])
    soft = logp.detach().clone()
    soft.fill_(eps_ls / (n_cls - 2))        # shared by all but the gold and padding classes
    soft.scatter_(1, gold.unsqueeze(1), 1.0 - eps_ls)
    soft[:, pad] = 0
    pad_rows = L.nonzero(gold == pad)       # (k, 1): rows to drop from the loss
    if pad_rows.numel():
        soft.index_fill_(0, pad_rows.squeeze(), 0.0)
    loss = nn.KLDivLoss(reduction="sum")(logp, soft)
    loss.backward()

    def warmup_then_decay(step, d_model=8, warmup=3):
        s = max(step, 1)
        return d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5)

    w = nn.Parameter(L.zeros(2))
    opt = L.optim.Adam([w], lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    sched = L.optim.lr_scheduler.LambdaLR(opt, warmup_then_decay)
    lrs = []
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    return dict(true_dist=soft, loss=loss, g=logp.grad, lrs=lrs)


@program
def speculative_decoding_acceptance_and_residual_resampling(L):
    """Speculative sampling's acceptance test after a seed: draft tokens with probabilities
    q, target probabilities p, acceptance where rand < min(1, p/q), the first rejection
    found by cumprod of acceptances, a replacement drawn from the normalised residual
    clamp(p - q, min=0) by multinomial, and the number of tokens kept per sequence."""
    F = L.nn.functional
    L.manual_seed(61)
    B, K, V = 3, 4, 7
    q = F.softmax(_t(L, B, K, V, seed=103), -1)
    p = F.softmax(_t(L, B, K, V, seed=104), -1)
    draft = L.multinomial(q.view(-1, V), 1).view(B, K)
    pq = p.gather(-1, draft.unsqueeze(-1)).squeeze(-1)
    qq = q.gather(-1, draft.unsqueeze(-1)).squeeze(-1)
    accept = L.rand(B, K, dtype=L.float64) < L.clamp(pq / qq, max=1.0)
    prefix = L.cumprod(accept.long(), dim=1)
    n_kept = prefix.sum(1)
    first_rej = n_kept.clamp(max=K - 1)
    resid = (p - q).clamp(min=0)[L.arange(B), first_rej]
    resid = resid / resid.sum(-1, keepdim=True)
    repl = L.multinomial(resid, 1).squeeze(1)
    out = L.where(prefix.bool(), draft, L.full_like(draft, -1))
    out[L.arange(B), first_rej] = L.where(n_kept < K, repl, out[L.arange(B), first_rej])
    return dict(draft=draft, accept=accept, n_kept=n_kept, repl=repl, out=out, resid=resid)


@program
def switch_routing_with_capacity_and_load_balancing_loss(L):
    """Switch Transformer routing: top-1 experts by argmax of the router's softmax, each
    token's position in its expert's queue by cumsum of the one-hot assignment, tokens past
    the capacity dropped, dispatch and combine tensors by einsum, the load-balancing loss
    E * sum(fraction_routed * mean_probability) and the router z-loss."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(62)
    T, d, E = 10, 4, 3
    capacity = int(1.0 * T / E)
    router = nn.Linear(d, E, bias=False).double()
    experts = nn.ModuleList([nn.Linear(d, d) for _ in range(E)]).double()
    x = _t(L, T, d, seed=105, grad=True)
    logits = router(x)
    probs = F.softmax(logits, -1)
    gate, idx = probs.max(-1)
    onehot = F.one_hot(idx, E).double()
    position = (L.cumsum(onehot, 0) - 1) * onehot
    keep = (position < capacity).double() * onehot
    # a dropped token's slot reads 0 (its row of keep is zero anyway)
    pos_1h = F.one_hot((position * keep).sum(-1).long(), capacity).double()
    dispatch = L.einsum("te,tc->tec", keep, pos_1h)
    combine = dispatch * gate.view(T, 1, 1)
    expert_in = L.einsum("tec,td->ecd", dispatch, x)
    expert_out = L.stack([experts[e](expert_in[e]) for e in range(E)])
    y = L.einsum("tec,ecd->td", combine, expert_out)
    aux = E * (onehot.mean(0) * probs.mean(0)).sum()
    z = L.logsumexp(logits, -1).pow(2).mean()
    (y.pow(2).sum() + 0.01 * aux + 0.001 * z).backward()
    return dict(idx=idx, kept=keep.sum(0), y=y, aux=aux, z=z, gx=x.grad,
                gr=router.weight.grad)


@program
def rnnt_loss_by_lattice_dynamic_programming(L):
    """An RNN-Transducer loss written by hand: joint logits from encoder and predictor
    outputs broadcast to (T, U + 1, V), log-softmax, the forward variables alpha over the
    lattice filled by rows with logaddexp of the blank and label transitions, the loss
    -(alpha[T-1, U] + blank at the end); gradients back to both networks' outputs."""
    F = L.nn.functional
    T, U, V, blank = 4, 2, 5, 0
    enc = _t(L, T, 1, 6, seed=106, grad=True)
    pred = _t(L, 1, U + 1, 6, seed=107, grad=True)
    W = _t(L, 6, V, scale=0.5, seed=108)
    labels = [3, 1]
    lp = F.log_softmax(L.tanh(enc + pred) @ W, -1)                 # (T, U + 1, V)
    rows = []
    for t in range(T):
        row = []
        for u in range(U + 1):
            if t == 0 and u == 0:
                a = L.zeros((), dtype=L.float64)
            elif t == 0:
                a = row[u - 1] + lp[0, u - 1, labels[u - 1]]
            elif u == 0:
                a = rows[t - 1][0] + lp[t - 1, 0, blank]
            else:
                a = L.logaddexp(rows[t - 1][u] + lp[t - 1, u, blank],
                                row[u - 1] + lp[t, u - 1, labels[u - 1]])
            row.append(a)
        rows.append(row)
    loss = -(rows[T - 1][U] + lp[T - 1, U, blank])
    loss.backward()
    alpha = L.stack([L.stack(r) for r in rows]).detach()
    return dict(alpha=alpha, loss=loss, ge=enc.grad, gp=pred.grad)


@program
def soft_dtw_loss_by_anti_diagonal_recursion(L):
    """Soft-DTW between two series: the pairwise squared distances by cdist, the recursion
    R[i, j] = D[i, j] + softmin(R[i-1, j], R[i, j-1], R[i-1, j-1]) with softmin as
    -gamma logsumexp(-x / gamma), cells kept in a dict of tensors, the loss R[n, m] and
    its gradient to the predicted series; with gamma -> 0 the value nears the hard DTW."""
    x = _t(L, 5, 2, seed=109, grad=True)
    y = _t(L, 4, 2, seed=110)
    D = L.cdist(x, y) ** 2

    def soft_dtw(D, gamma):
        inf = L.tensor(float("inf"), dtype=L.float64)
        R = {(0, 0): L.zeros((), dtype=L.float64)}
        n, m = D.shape
        for i in range(n + 1):
            for j in range(m + 1):
                if (i, j) != (0, 0) and (i == 0 or j == 0):
                    R[i, j] = inf
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                prev = L.stack([R[i - 1, j], R[i, j - 1], R[i - 1, j - 1]])
                R[i, j] = D[i - 1, j - 1] - gamma * L.logsumexp(-prev / gamma, 0)
        return R[n, m]

    loss = soft_dtw(D, 0.1)
    loss.backward()
    hard = soft_dtw(D.detach(), 1e-4)
    return dict(loss=loss, hard=hard, g=x.grad)


@program
def hypergradient_of_the_learning_rate_through_unrolled_sgd(L):
    """Gradient-based hyperparameter learning: three SGD steps written functionally with
    create_graph=True, the validation loss of the final weights differentiated with
    respect to the log learning rate and the log weight decay, then one step of
    the hyperparameters by Adam."""
    F = L.nn.functional
    log_lr = L.tensor(math.log(0.1), dtype=L.float64, requires_grad=True)
    log_wd = L.tensor(math.log(1e-2), dtype=L.float64, requires_grad=True)
    hopt = L.optim.Adam([log_lr, log_wd], lr=0.05)
    xt, yt = _t(L, 8, 3, seed=111), _t(L, 8, 1, seed=112)
    xv, yv = _t(L, 5, 3, seed=113), _t(L, 5, 1, seed=114)
    out = []
    for _ in range(2):
        w = _t(L, 3, 1, scale=0.1, seed=115, grad=True)
        for _ in range(3):
            loss = F.mse_loss(xt @ w, yt) + log_wd.exp() * (w ** 2).sum()
            g, = L.autograd.grad(loss, w, create_graph=True)
            w = w - log_lr.exp() * g
        val = F.mse_loss(xv @ w, yv)
        hopt.zero_grad()
        val.backward()
        out.append((val.item(), log_lr.grad.clone(), log_wd.grad.clone()))
        hopt.step()
    return dict(steps=out, lr=log_lr.detach().exp(), wd=log_wd.detach().exp())


@program
def bundle_adjustment_quaternions_huber_and_lbfgs(L):
    """A tiny bundle adjustment: camera rotations as unit quaternions (normalised each
    evaluation) turned into matrices, points projected by a pinhole model, Huber-robust
    reprojection residuals (F.huber_loss with delta), and L-BFGS over quaternions,
    translations and points at once with a closure."""
    F = L.nn.functional
    n_cam, n_pts = 2, 5
    pts_true = _t(L, n_pts, 3, seed=116) + L.tensor([0.0, 0.0, 6.0], dtype=L.float64)

    def quat_to_mat(q):
        q = F.normalize(q, dim=-1)
        w, x, y, z = q.unbind(-1)
        return L.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
                       -1).view(-1, 3, 3)

    def project(q, t, X):
        cam = L.einsum("cij,pj->cpi", quat_to_mat(q), X) + t.unsqueeze(1)
        return cam[..., :2] / cam[..., 2:3]

    q_true = L.tensor([[1.0, 0, 0, 0], [0.98, 0.1, -0.1, 0.05]], dtype=L.float64)
    t_true = L.tensor([[0.0, 0, 0], [-0.5, 0.1, 0.2]], dtype=L.float64)
    obs = project(q_true, t_true, pts_true) + 0.01 * _t(L, n_cam, n_pts, 2, seed=117)
    obs[1, 4] += 0.5                                          # an outlier
    q = (q_true + 0.05 * _t(L, n_cam, 4, seed=118)).requires_grad_()
    t = (t_true + 0.05 * _t(L, n_cam, 3, seed=119)).requires_grad_()
    X = (pts_true + 0.1 * _t(L, n_pts, 3, seed=120)).requires_grad_()
    opt = L.optim.LBFGS([q, t, X], lr=0.5, max_iter=15)

    def closure():
        opt.zero_grad()
        loss = F.huber_loss(project(q, t, X), obs, delta=0.05, reduction="sum")
        loss.backward()
        return loss

    first = opt.step(closure)
    final = closure()
    return dict(first=first, final=final, R=quat_to_mat(q).detach(), X=X.detach())


@program
def rectified_flow_matching_training_and_euler_sampling(L):
    """Flow matching: x_t = (1 - t) x0 + t x1 with x0 noise and t from rand after a seed, the
    network regresses the velocity x1 - x0 from (x_t, t), AdamW steps; sampling by Euler
    steps of the learned ODE from seeded noise under inference_mode."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(63)
    net = nn.Sequential(nn.Linear(3, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(),
                        nn.Linear(32, 2)).double()
    opt = L.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.0)
    data = L.cat([_t(L, 16, 2, scale=0.1, seed=121) + L.tensor([1.0, 1.0]).double(),
                  _t(L, 16, 2, scale=0.1, seed=122) - L.tensor([1.0, 1.0]).double()])
    losses = []
    for _ in range(3):
        x1 = data[L.randperm(32)[:8]]
        x0 = L.randn_like(x1)
        t = L.rand(8, 1, dtype=L.float64)
        xt = (1 - t) * x0 + t * x1
        loss = F.mse_loss(net(L.cat([xt, t], -1)), x1 - x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.inference_mode():
        x = L.randn(4, 2, dtype=L.float64)
        for k in range(4):
            tt = L.full((4, 1), k / 4, dtype=L.float64)
            x = x + 0.25 * net(L.cat([x, tt], -1))
    return dict(losses=losses, x=x, inf=x.is_inference())


@program
def finite_scalar_quantisation_with_straight_through_round(L):
    """FSQ: each latent dimension bounded by tanh to a per-dimension number of levels
    (an odd/even offset), rounded with a straight-through estimator, normalised to [-1, 1];
    the codebook index by a mixed-radix sum with cumprod of the levels, its inverse by
    floor division and remainder; reconstruction gradients through the rounding."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(64)
    levels = L.tensor([8, 5, 5])
    enc, dec = nn.Linear(4, 3).double(), nn.Linear(3, 4).double()
    x = _t(L, 6, 4, seed=123)
    z = enc(x)
    half_l = (levels - 1) * (1 - 1e-3) / 2
    offset = L.where(levels % 2 == 1, 0.0, 0.5).double()
    shift = L.atanh(offset / half_l)
    bounded = L.tanh(z + shift) * half_l - offset
    rounded = bounded + (L.round(bounded) - bounded).detach()
    codes = rounded / (levels // 2)
    basis = L.cumprod(L.cat([L.tensor([1]), levels[:-1]]), 0)
    digits = (codes * (levels // 2) + levels // 2).round().long()
    index = (digits * basis).sum(-1)
    back = (index.unsqueeze(-1) // basis) % levels
    loss = F.mse_loss(dec(codes), x)
    loss.backward()
    return dict(codes=codes, index=index, same=L.equal(back, digits), loss=loss,
                g=enc.weight.grad)


@program(rtol=2e-6, atol=1e-7)   # float32 losses as Python floats
def clip_contrastive_with_learnable_logit_scale_float32(L):
    """CLIP's objective in float32: image and text projections normalised, a learnable
    logit_scale initialised to log(1/0.07), exponentiated and clamped at 100 in the forward,
    the symmetric cross entropy over the similarity matrix and its transpose, AdamW steps
    with the scale clamped in place under no_grad after each step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(65)
    img_proj, txt_proj = nn.Linear(6, 4, bias=False), nn.Linear(5, 4, bias=False)
    logit_scale = nn.Parameter(L.ones([]) * math.log(1 / 0.07))
    opt = L.optim.AdamW(list(img_proj.parameters()) + list(txt_proj.parameters()) +
                        [logit_scale], lr=0.05, weight_decay=0.2)
    imgs = L.tensor(_arr(6, 6, seed=124).astype(np.float32))
    txts = L.tensor(_arr(6, 5, seed=125).astype(np.float32))
    losses = []
    for _ in range(3):
        i = F.normalize(img_proj(imgs), dim=-1)
        t = F.normalize(txt_proj(txts), dim=-1)
        logits = logit_scale.exp().clamp(max=100) * i @ t.t()
        labels = L.arange(6)
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
    return dict(losses=losses, scale=logit_scale.detach(), w=params_of(img_proj))


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)


def _truncated_bptt_detaching_a_view_in_place(L):
    """Truncated BPTT written with the in-place detach_ on the last step's hidden state, a
    view of the GRU's output: PyTorch refuses it (its whole message, which speaks of DDP's
    gradient buckets), and the out-of-place detach() that the message recommends runs."""
    L.manual_seed(70)
    gru = L.nn.GRU(2, 3, batch_first=True).double()
    x = _t(L, 2, 4, 2, seed=130)
    out, _ = gru(x[:, :2])
    h = out[:, -1]
    refused = err(lambda: h.detach_())
    out2, _ = gru(x[:, 2:], h.detach().unsqueeze(0))
    out2.sum().backward()
    return dict(refused=refused, out2=out2, g=gru.weight_hh_l0.grad)


def test_truncated_bptt_detaching_a_view_in_place():
    HARNESS.check(_truncated_bptt_detaching_a_view_in_place)
