"""Whole programs in the idioms of code people run, a ninth round: model families the earlier
rounds left out.  Relative attention by the pad-and-view shift of Transformer-XL, a
pointer-generator, span extraction, Kim's CNN, memory networks, Linformer, FNet, a selective
scan, retention and grouped-query attention; interatomic potentials whose forces are the
negative gradient of the energy (trained through a double backward), E(n)-equivariant message
passing, spiking neurons with a surrogate gradient, neural cellular automata; optimizers people
write themselves (SAM, Lookahead, Lion, Adafactor, layer-wise decay); metric learning by
angular margins and self-supervised objectives (Barlow Twins, VICReg, MoCo's queue, DINO's
centring, MAE's random masking), few-shot and continual learning; recommender interaction
layers and TabNet's sparsemax.  Parts b, c and d hold the rest of the round.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, load_seeded, params_of, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# attention and sequence models
# ----------------------------------------------------------------------------------------------
@program
def transformer_xl_relative_shift_by_pad_and_view(L):
    """Transformer-XL's relative attention: content and position scores with the u/v biases,
    the position scores shifted by padding a zero column and viewing the buffer as one row
    longer, memory from the previous segment detached and concatenated, a causal mask."""
    F = L.nn.functional
    L.manual_seed(0)
    d, h, T, M = 8, 2, 4, 3
    qkv = L.nn.Linear(d, 3 * d, bias=False).double()
    r_net = L.nn.Linear(d, d, bias=False).double()
    u = L.nn.Parameter(L.zeros(h, d // h, dtype=L.float64).normal_(0, 0.1))
    v = L.nn.Parameter(L.zeros(h, d // h, dtype=L.float64).normal_(0, 0.1))

    def align_by_distance(s):
        """(B, h, T, K) scores against positions K-1..0 re-indexed so that entry (i, j)
        uses the distance of query i to key j: prepend a zero column, reread the buffer
        with one more row than columns, drop the first row."""
        B_, h_, T_, K_ = s.shape
        widened = L.cat([s.new_zeros(B_, h_, T_, 1), s], dim=-1)
        return widened.view(B_, h_, K_ + 1, T_)[:, :, 1:].view_as(s)

    x = _t(L, 2, T, d, seed=1)
    mem = _t(L, 2, M, d, seed=2, grad=True)
    cat = L.cat([mem.detach(), x], 1)
    K = cat.size(1)
    pos = L.arange(K - 1, -1, -1.0, dtype=L.float64)
    inv = 1 / (10000 ** (L.arange(0, d, 2.0, dtype=L.float64) / d))
    sinus = L.einsum("i,j->ij", pos, inv)
    r = r_net(L.cat([sinus.sin(), sinus.cos()], -1)).view(K, h, d // h)
    q, k, val = qkv(cat).chunk(3, dim=-1)
    q = q[:, -T:].reshape(2, T, h, d // h)
    k, val = k.reshape(2, K, h, d // h), val.reshape(2, K, h, d // h)
    by_content = L.einsum("bihd,bjhd->bhij", q + u, k)
    by_distance = align_by_distance(L.einsum("bihd,jhd->bhij", q + v, r))
    future = L.triu(L.ones(T, K, dtype=L.bool), diagonal=1 + M)
    score = (by_content + by_distance).masked_fill(future, float("-inf")) / math.sqrt(d // h)
    out = L.einsum("bhij,bjhd->bihd", F.softmax(score, -1), val).flatten(2)
    out.pow(2).mean().backward()
    return dict(out=out, bd=by_distance, gu=u.grad, gv=v.grad, gr=r_net.weight.grad, mem=mem.grad)


@program
def pointer_generator_copy_distribution_by_scatter_add(L):
    """A pointer-generator step: attention over source tokens, p_gen by a sigmoid gate, the
    copy distribution scattered (scatter_add) into a vocabulary extended by the source's
    out-of-vocabulary ids, NLL of the targets gathered from the mixture, coverage loss."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(1)
    V, ext, d, S, B = 7, 3, 6, 5, 2
    emb, gate, out_proj = nn.Embedding(V, d), nn.Linear(3 * d, 1), nn.Linear(2 * d, V)
    for m in (emb, gate, out_proj):
        m.double()
    load_seeded(L, emb, 1)         # float32 normals past 16 may differ in the last place
    src_ext = L.tensor([[1, 7, 3, 8, 0], [2, 2, 9, 4, 5]])
    src = src_ext.masked_fill(src_ext >= V, 0)
    enc = emb(src)
    dec = _t(L, B, d, seed=3, grad=True)
    coverage = L.zeros(B, S, dtype=L.float64)
    target = L.tensor([8, 9])
    attn = F.softmax(L.bmm(enc, dec.unsqueeze(2)).squeeze(2), dim=1)
    ctx = L.bmm(attn.unsqueeze(1), enc).squeeze(1)
    p_vocab = F.softmax(out_proj(L.cat([dec, ctx], 1)), dim=1)
    p_gen = L.sigmoid(gate(L.cat([dec, ctx, enc.mean(1)], 1)))
    final = L.cat([p_gen * p_vocab, p_vocab.new_zeros(B, ext)], 1)
    final = final.scatter_add(1, src_ext, (1 - p_gen) * attn)
    nll = -L.log(final.gather(1, target.unsqueeze(1)).squeeze(1) + 1e-12)
    cov_loss = L.sum(L.min(attn, coverage), 1)
    loss = (nll + cov_loss).mean()
    loss.backward()
    return dict(final=final, total=final.sum(1), loss=loss, gd=dec.grad,
                g=grads_of(gate), ge=emb.weight.grad)


@program
def bidaf_trilinear_similarity_and_best_span_by_triu(L):
    """BiDAF's attention flow: a trilinear similarity [c; q; c*q] w, context-to-query and
    query-to-context attention (max over the query), start/end logits with padding masked,
    the best span as the argmax of an outer sum restricted to end >= start (triu) and at
    most three tokens long (tril), cross entropy on the gold spans."""
    F = L.nn.functional
    L.manual_seed(2)
    B, Tc, Tq, d = 2, 6, 3, 4
    w = L.nn.Linear(3 * d, 1, bias=False).double()
    head = L.nn.Linear(4 * d, 2).double()
    c, q = _t(L, B, Tc, d, seed=4, grad=True), _t(L, B, Tq, d, seed=5)
    c_mask = L.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=L.bool)
    ce = c.unsqueeze(2).expand(-1, -1, Tq, -1)
    qe = q.unsqueeze(1).expand(-1, Tc, -1, -1)
    S = w(L.cat([ce, qe, ce * qe], -1)).squeeze(-1)
    c2q = L.bmm(F.softmax(S, -1), q)
    b = F.softmax(S.max(-1).values.masked_fill(~c_mask, -1e30), -1)
    q2c = L.bmm(b.unsqueeze(1), c).expand(-1, Tc, -1)
    G = L.cat([c, c2q, c * c2q, c * q2c], -1)
    start, end = head(G).unbind(-1)
    start, end = start.masked_fill(~c_mask, -1e30), end.masked_fill(~c_mask, -1e30)
    p = F.log_softmax(start, -1).unsqueeze(2) + F.log_softmax(end, -1).unsqueeze(1)
    allowed = L.ones(Tc, Tc, dtype=L.bool).triu().tril(2)
    best = p.masked_fill(~allowed, float("-inf")).flatten(1).argmax(1)
    spans = L.stack([best // Tc, best % Tc], 1)
    loss = F.cross_entropy(start, L.tensor([1, 0])) + F.cross_entropy(end, L.tensor([3, 2]))
    loss.backward()
    return dict(S=S, spans=spans, loss=loss, gc=c.grad, gw=w.weight.grad)


@program
def kim_textcnn_kernel_sizes_max_over_time(L):
    """Kim's CNN for sentences: embeddings permuted to channels first, Conv1d of widths 2, 3
    and 4, ReLU, max over time, concatenation, dropout in eval, a linear classifier; two
    Adadelta steps and the max-norm rescaling of the classifier's rows by renorm_."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3)

    class TextCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 6, padding_idx=0)
            self.convs = nn.ModuleList([nn.Conv1d(6, 4, k) for k in (2, 3, 4)])
            self.drop = nn.Dropout(0.5)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            e = self.emb(x).permute(0, 2, 1)
            pooled = [F.relu(c(e)).max(dim=2)[0] for c in self.convs]
            return self.fc(self.drop(L.cat(pooled, 1)))

    model = TextCNN().double()
    load_seeded(L, model.emb, 3)
    opt = L.optim.Adadelta(model.parameters(), lr=1.0)
    x = L.tensor(_labels(4 * 9, 20, 3).reshape(4, 9))
    x[:, 7:] = 0
    y = L.tensor([0, 1, 2, 1])
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        with L.no_grad():
            model.fc.weight.renorm_(2, 0, 0.5)
        losses.append(loss.item())
    model.eval()
    return dict(losses=losses, eval=model(x), w=params_of(model))


@program
def end_to_end_memory_network_three_hops(L):
    """MemN2N: bag-of-words sentence encodings with a position encoding matrix, three hops
    with adjacent weight tying (the output embedding of a hop is the input one of the next),
    temporal encodings added, the answer from the last u through the final embedding."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(4)
    V, d, n_mem, n_words, hops = 12, 5, 4, 3, 3
    embs = load_seeded(L, nn.ModuleList([nn.Embedding(V, d) for _ in range(hops + 1)]).double())
    T_A = nn.Parameter(L.randn(n_mem, d, dtype=L.float64) * 0.1)
    J, k = n_words, d
    jj = L.arange(1, J + 1, dtype=L.float64).unsqueeze(1)
    kk = L.arange(1, k + 1, dtype=L.float64).unsqueeze(0)
    pe = (1 - jj / J) - (kk / k) * (1 - 2 * jj / J)
    story = L.tensor(_labels(2 * n_mem * n_words, V, 5).reshape(2, n_mem, n_words))
    query = L.tensor(_labels(2 * n_words, V, 6).reshape(2, n_words))
    u = (embs[0](query) * pe).sum(1)
    attns = []
    for hop in range(hops):
        m = (embs[hop](story) * pe).sum(2) + T_A
        c = (embs[hop + 1](story) * pe).sum(2)
        p = F.softmax(L.einsum("bmd,bd->bm", m, u), -1)
        attns.append(p)
        u = u + L.einsum("bm,bmd->bd", p, c)
    logits = u @ embs[-1].weight.t()
    loss = F.cross_entropy(logits, L.tensor([3, 7]))
    loss.backward()
    return dict(attn=L.stack(attns), loss=loss, gT=T_A.grad, g0=embs[0].weight.grad)


@program
def linformer_low_rank_key_value_projection(L):
    """Linformer: keys and values projected along the sequence by learned (n -> k) matrices
    before attention, shared across heads; the same result by F.scaled_dot_product_attention
    and by the explicit softmax, and gradients through both."""
    F = L.nn.functional
    L.manual_seed(5)
    B, n, k, h, dh = 2, 8, 3, 2, 4
    E = L.nn.Parameter(L.randn(k, n, dtype=L.float64) / math.sqrt(n))
    x = _t(L, B, n, h * dh, seed=7, grad=True)
    q = x.view(B, n, h, dh).transpose(1, 2)
    kv = L.einsum("kn,bnd->bkd", E, x).view(B, k, h, dh).transpose(1, 2)
    a = F.scaled_dot_product_attention(q, kv, kv)
    b = F.softmax(q @ kv.transpose(-2, -1) / math.sqrt(dh), -1) @ kv
    gx, gE = L.autograd.grad(a.sin().sum(), (x, E))
    return dict(a=a, same=L.allclose(a, b), gx=gx, gE=gE)


@program
def fnet_fourier_token_mixing_block(L):
    """FNet: the real part of a 2-d FFT over the sequence and hidden dimensions replaces
    attention, then residual, LayerNorm, a GELU feed-forward; two SGD-momentum steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(6)

    class FNetBlock(nn.Module):
        def __init__(self, d=6):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, 12), nn.GELU(approximate="tanh"),
                                    nn.Linear(12, d))

        def forward(self, x):
            x = self.n1(x + L.fft.fft2(x.to(L.complex128), dim=(-2, -1)).real)
            return self.n2(x + self.ff(x))

    model = nn.Sequential(FNetBlock(), FNetBlock()).double()
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    x, y = _t(L, 3, 5, 6, seed=8), _t(L, 3, 5, 6, seed=9)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, w=params_of(model))


@program
def selective_scan_by_log_space_cumsum(L):
    """A Mamba-like selective scan computed in parallel: input-dependent step sizes by
    softplus, decays exp(delta * A) accumulated as a cumulative sum in log space, the
    recurrence h_t = a_t h_{t-1} + b_t x_t as a masked (causal) weighted sum, and the same
    states by the sequential loop; gradients of A and the inputs."""
    F = L.nn.functional
    B, T, D, N = 2, 5, 3, 4
    x = _t(L, B, T, D, seed=10, grad=True)
    A_log = L.tensor(np.log(np.arange(1, N + 1, dtype=np.float64)).repeat(D).reshape(N, D).T
                     .copy(), requires_grad=True)
    dt_proj = _t(L, D, D, scale=0.3, seed=11, grad=True)
    Bm = _t(L, B, T, N, scale=0.5, seed=12)
    A = -L.exp(A_log)                                   # (D, N)
    delta = F.softplus(x @ dt_proj)                     # (B, T, D)
    logdec = L.einsum("btd,dn->btdn", delta, A)
    cum = logdec.cumsum(1)                              # (B, T, D, N)
    u = L.einsum("btd,btn->btdn", delta * x, Bm)
    w = (cum.unsqueeze(2) - cum.unsqueeze(1))           # t, s -> sum_{s<r<=t}
    causal = L.tril(L.ones(T, T, dtype=L.bool)).view(1, T, T, 1, 1)
    w = L.where(causal, w, L.full_like(w, float("-inf"))).exp()
    h_par = (w * u.unsqueeze(1)).sum(2)
    h, hs = L.zeros(B, D, N, dtype=L.float64), []
    for t in range(T):
        h = logdec[:, t].exp() * h + u[:, t]
        hs.append(h)
    h_seq = L.stack(hs, 1)
    y = (h_par * Bm.unsqueeze(2)).sum(-1)
    gx, gA = L.autograd.grad(y.square().sum(), (x, A_log))
    return dict(y=y, close=L.allclose(h_par, h_seq), gx=gx, gA=gA)


@program
def retnet_decay_mask_parallel_and_recurrent(L):
    """RetNet's retention: a decay mask gamma^(n-m) on and below the diagonal (one gamma per
    head), the parallel form (QK^T * D) V with GroupNorm over heads, and the recurrent form
    S_n = gamma S_{n-1} + k_n^T v_n giving the same outputs."""
    F = L.nn.functional
    B, h, T, d = 2, 2, 5, 3
    q, k, v = (_t(L, B, h, T, d, seed=s, grad=True) for s in (13, 14, 15))
    gamma = 1 - 2.0 ** (-5 - L.arange(h, dtype=L.float64))
    n = L.arange(T, dtype=L.float64)
    diff = n.view(T, 1) - n.view(1, T)
    D = L.where(diff >= 0, gamma.view(h, 1, 1) ** diff.clamp(min=0), L.zeros(()).double())
    par = (q @ k.transpose(-1, -2) * D) @ v
    S, rec = L.zeros(B, h, d, d, dtype=L.float64), []
    for t in range(T):
        S = gamma.view(1, h, 1, 1) * S + k[:, :, t].unsqueeze(-1) * v[:, :, t].unsqueeze(-2)
        rec.append((q[:, :, t].unsqueeze(-2) @ S).squeeze(-2))
    rec = L.stack(rec, 2)
    out = F.group_norm(par.transpose(1, 2).reshape(B * T, h * d), h)
    gq, gk = L.autograd.grad(out.tanh().sum(), (q, k))
    return dict(D=D, par=par, same=L.allclose(par, rec), out=out, gq=gq, gk=gk)


@program
def grouped_query_attention_by_repeat_interleave(L):
    """Grouped-query attention: 4 query heads share 2 key/value heads, expanded by
    repeat_interleave on the head dimension; the result of SDPA with is_causal equals the
    explicit masked softmax; the kv gradients sum over the heads that share them."""
    F = L.nn.functional
    B, T, d = 2, 4, 3
    q = _t(L, B, 4, T, d, seed=16, grad=True)
    k, v = _t(L, B, 2, T, d, seed=17, grad=True), _t(L, B, 2, T, d, seed=18, grad=True)
    kr, vr = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    a = F.scaled_dot_product_attention(q, kr, vr, is_causal=True)
    mask = L.ones(T, T, dtype=L.bool).tril()
    s = (q @ kr.transpose(-2, -1)) * d ** -0.5
    b = s.masked_fill(~mask, float("-inf")).softmax(-1) @ vr
    gk, gv = L.autograd.grad((a * a).sum(), (k, v))
    return dict(a=a, same=L.allclose(a, b), gk=gk, gv=gv)


# ----------------------------------------------------------------------------------------------
# physics, geometry and biology-inspired models
# ----------------------------------------------------------------------------------------------
@program
def schnet_energy_and_forces_by_double_backward(L):
    """A SchNet-like potential: pairwise distances by cdist, a Gaussian radial basis, a cosine
    cutoff, continuous-filter convolutions; the forces -dE/dpos by autograd.grad with
    create_graph, and a loss on energies and forces trained through the double backward."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(7)
    n_atoms, n_rbf, d, cutoff = 5, 6, 4, 2.5
    emb = nn.Embedding(3, d).double()
    filt = nn.Sequential(nn.Linear(n_rbf, d), nn.Softplus(), nn.Linear(d, d)).double()
    out = nn.Sequential(nn.Linear(d, d), nn.SiLU(), nn.Linear(d, 1)).double()
    params = list(emb.parameters()) + list(filt.parameters()) + list(out.parameters())
    opt = L.optim.Adam(params, lr=1e-2)
    z = L.tensor([0, 1, 2, 1, 0])
    pos0 = _t(L, n_atoms, 3, seed=19)
    f_ref = _t(L, n_atoms, 3, scale=0.1, seed=20)
    centers = L.linspace(0, cutoff, n_rbf, dtype=L.float64)
    losses = []
    for _ in range(2):
        pos = pos0.clone().requires_grad_()
        r = (pos.unsqueeze(1) - pos.unsqueeze(0)).pow(2).sum(-1).add(1e-9).sqrt()
        rbf = L.exp(-4.0 * (r.unsqueeze(-1) - centers) ** 2)
        fc = 0.5 * (L.cos(r * math.pi / cutoff) + 1) * (r < cutoff)
        fc = fc * (1 - L.eye(n_atoms, dtype=L.float64))
        h = emb(z)
        h = h + (filt(rbf) * fc.unsqueeze(-1) * h.unsqueeze(0)).sum(1)
        energy = out(h).sum()
        forces = -L.autograd.grad(energy, pos, create_graph=True)[0]
        loss = 0.1 * energy ** 2 + F.mse_loss(forces, f_ref)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, forces=forces.detach(), emb=emb.weight.detach())


@program
def egnn_equivariant_coordinate_updates(L):
    """An E(n)-equivariant GNN layer: messages from node features and squared distances,
    coordinates moved along relative vectors weighted by a scalar of the message, features
    updated by the summed messages; a rotation of the input rotates the output coordinates
    and leaves the features as they were."""
    nn = L.nn
    L.manual_seed(8)
    d, n = 4, 5
    phi_e = nn.Sequential(nn.Linear(2 * d + 1, 8), nn.SiLU(), nn.Linear(8, 8), nn.SiLU()).double()
    phi_x = nn.Linear(8, 1, bias=False).double()
    phi_h = nn.Sequential(nn.Linear(d + 8, 8), nn.SiLU(), nn.Linear(8, d)).double()

    def layer(h, x):
        rel = x.unsqueeze(1) - x.unsqueeze(0)
        d2 = rel.pow(2).sum(-1, keepdim=True)
        hi = h.unsqueeze(1).expand(n, n, d)
        hj = h.unsqueeze(0).expand(n, n, d)
        m = phi_e(L.cat([hi, hj, d2], -1))
        offdiag = (1 - L.eye(n, dtype=h.dtype)).unsqueeze(-1)
        x = x + (rel * phi_x(m) * offdiag).sum(1) / (n - 1)
        h = h + phi_h(L.cat([h, (m * offdiag).sum(1)], -1))
        return h, x

    h0, x0 = _t(L, n, d, seed=21), _t(L, n, 3, seed=22, grad=True)
    Q, _ = L.linalg.qr(_t(L, 3, 3, seed=23))
    h1, x1 = layer(h0, x0)
    h2, x2 = layer(h0, x0 @ Q.T)
    (x1.sum() + h1.pow(2).sum()).backward()
    return dict(h1=h1, x1=x1, inv=L.allclose(h1, h2), eq=L.allclose(x1 @ Q.T, x2),
                gx=x0.grad, g=grads_of(phi_x))


@program
def spiking_lif_network_with_surrogate_gradient(L):
    """A leaky integrate-and-fire network unrolled over time: a Heaviside spike whose backward
    is a fast-sigmoid surrogate (a custom autograd.Function with save_for_backward), soft
    reset by subtraction, spike counts as the readout, two Adam steps."""
    nn, F = L.nn, L.nn.functional

    class Spike(L.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            ctx.save_for_backward(v)
            return (v > 0).to(v.dtype)

        @staticmethod
        def backward(ctx, g):
            v, = ctx.saved_tensors
            return g / (1 + 10 * v.abs()) ** 2

    L.manual_seed(9)
    fc1, fc2 = nn.Linear(6, 10).double(), nn.Linear(10, 3).double()
    opt = L.optim.Adam(list(fc1.parameters()) + list(fc2.parameters()), lr=5e-2)
    inp = L.tensor((np.random.RandomState(24).rand(8, 4, 6) < 0.4).astype(np.float64))
    y = L.tensor([0, 2, 1, 0])
    losses = []
    for _ in range(2):
        v1 = L.zeros(4, 10, dtype=L.float64)
        v2 = L.zeros(4, 3, dtype=L.float64)
        count = L.zeros(4, 3, dtype=L.float64)
        for t in range(inp.size(0)):
            v1 = 0.9 * v1 + fc1(inp[t])
            s1 = Spike.apply(v1 - 1.0)
            v1 = v1 - s1
            v2 = 0.9 * v2 + fc2(s1)
            s2 = Spike.apply(v2 - 1.0)
            v2 = v2 - s2
            count = count + s2 + 0.1 * v2
        loss = F.cross_entropy(count, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, w1=fc1.weight.detach(), count=count.detach())


@program
def neural_cellular_automaton_sobel_perception_alive_mask(L):
    """Growing neural cellular automata: depthwise perception by identity and Sobel kernels
    (conv2d with groups, circular padding), an update MLP as 1x1 convs whose last layer is
    zero-initialised, a stochastic update mask from a seeded generator, alive masking by
    max_pool2d over the alpha channel; the loss on the RGBA after a few steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(10)
    C = 4
    ident = L.tensor([[0., 0, 0], [0, 1, 0], [0, 0, 0]], dtype=L.float64)
    sob = L.tensor([[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=L.float64) / 8
    kernel = L.stack([ident, sob, sob.T]).repeat(C, 1, 1).unsqueeze(1)
    update = nn.Sequential(nn.Conv2d(3 * C, 16, 1), nn.ReLU(), nn.Conv2d(16, C, 1)).double()
    with L.no_grad():
        update[2].weight.normal_(0, 0.05)
        update[2].bias.zero_()
    gen = L.Generator().manual_seed(3)
    x = L.zeros(1, C, 6, 6, dtype=L.float64)
    x[:, 3:, 3, 3] = 1.0
    x[:, :3, 3, 3] = 0.5
    for _ in range(3):
        pre = F.max_pool2d(x[:, 3:4], 3, 1, 1) > 0.1
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel, groups=C)
        dx = update(y)
        fire = (L.rand(1, 1, 6, 6, generator=gen) <= 0.5).to(L.float64)
        x = x + dx * fire
        post = F.max_pool2d(x[:, 3:4], 3, 1, 1) > 0.1
        x = x * (pre & post).to(L.float64)
    loss = (x[:, :4] - 0.25).pow(2).mean()
    loss.backward()
    return dict(x=x, loss=loss, g=grads_of(update))


# ----------------------------------------------------------------------------------------------
# optimizers people write themselves
# ----------------------------------------------------------------------------------------------
def _small_mlp(L, seed=11):
    L.manual_seed(seed)
    nn = L.nn
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).double()


@program
def sam_sharpness_aware_two_step_update(L):
    """Sharpness-aware minimisation as an Optimizer subclass wrapping SGD: the wrapper's
    defaults hold rho beside the base optimizer's settings and both share one param_groups
    list; the first call stores each weight in self.state and moves it up its gradient to
    distance rho (by the global gradient norm, torch.norm of a stack), the model is
    differentiated again there, and the second call puts the weights back by assigning .data
    and lets the base optimizer step with the new gradient."""
    F = L.nn.functional

    class SharpnessAware(L.optim.Optimizer):
        def __init__(self, params, base_cls, rho=0.05, **base_kw):
            super().__init__(params, {"rho": rho, **base_kw})
            self.inner = base_cls(self.param_groups, **base_kw)
            self.param_groups = self.inner.param_groups

        def _with_grad(self):
            return [(grp, w) for grp in self.param_groups for w in grp["params"]
                    if w.grad is not None]

        @L.no_grad()
        def ascend(self):
            pairs = self._with_grad()
            total = L.norm(L.stack([w.grad.norm(p=2) for _, w in pairs]), p=2)
            for grp, w in pairs:
                self.state[w]["home"] = w.data.clone()
                w.add_(w.grad * (grp["rho"] / (total + 1e-12)).to(w))
            self.zero_grad()

        @L.no_grad()
        def return_and_step(self):
            for _, w in self._with_grad():
                w.data = self.state[w]["home"]
            self.inner.step()
            self.zero_grad()

    model = _small_mlp(L)
    opt = SharpnessAware(model.parameters(), L.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    x, y = _t(L, 6, 4, seed=25), L.tensor(_labels(6, 2, 26))
    losses = []
    for _ in range(3):
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.ascend()
        F.cross_entropy(model(x), y).backward()
        opt.return_and_step()
        losses.append(loss.item())
    return dict(losses=losses, w=params_of(model), keys=sorted(opt.defaults))


@program
def lookahead_wrapping_adam_with_slow_weights(L):
    """Lookahead: every k inner steps of Adam the slow weights move toward the fast ones by
    alpha (lerp_), and the fast weights are reset to them (copy_); the wrapper keeps its own
    state dict beside the inner optimizer's, round-tripped through state_dict/load."""
    F = L.nn.functional

    class Lookahead:
        def __init__(self, inner, k=2, alpha=0.5):
            self.inner, self.k, self.alpha, self.n = inner, k, alpha, 0
            self.slow = [[p.detach().clone() for p in g["params"]] for g in inner.param_groups]

        def zero_grad(self):
            self.inner.zero_grad()

        @L.no_grad()
        def step(self):
            self.inner.step()
            self.n += 1
            if self.n % self.k == 0:
                for g, slows in zip(self.inner.param_groups, self.slow):
                    for p, s in zip(g["params"], slows):
                        s.lerp_(p, self.alpha)
                        p.copy_(s)

    model = _small_mlp(L, 12)
    opt = Lookahead(L.optim.Adam(model.parameters(), lr=0.05))
    x, y = _t(L, 6, 4, seed=27), _t(L, 6, 2, seed=28)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = F.smooth_l1_loss(model(x), y, beta=0.5)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    sd = opt.inner.state_dict()
    fresh = L.optim.Adam(model.parameters(), lr=0.05)
    fresh.load_state_dict(sd)
    return dict(losses=losses, w=params_of(model), slow=opt.slow[0],
                steps=[float(s["step"]) for s in fresh.state.values()],
                avg=fresh.state[model[0].weight]["exp_avg_sq"])


@program
def lion_and_adafactor_written_as_optimizer_subclasses(L):
    """Two optimizers from papers written as torch.optim.Optimizer subclasses: Lion (the
    sign of an interpolation of momentum and gradient, decoupled weight decay) and a
    factored Adafactor (row and column second-moment averages for matrices, RMS-clipped
    updates, a relative step size); closures returning the loss."""
    F = L.nn.functional

    class Lion(L.optim.Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0):
            super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

        @L.no_grad()
        def step(self, closure=None):
            # the closure re-evaluates the loss and calls backward, so it needs grad mode
            loss = self._reevaluate(closure)
            for group in self.param_groups:
                lr, (b_mix, b_track) = group["lr"], group["betas"]
                for w in (w for w in group["params"] if w.grad is not None):
                    track = self.state[w].setdefault("exp_avg", L.zeros_like(w))
                    w.mul_(1 - lr * group["weight_decay"])           # decoupled decay
                    direction = L.sign(track * b_mix + w.grad * (1 - b_mix))
                    w.add_(direction, alpha=-lr)
                    track.mul_(b_track).add_(w.grad, alpha=1 - b_track)
            return loss

        @staticmethod
        def _reevaluate(closure):
            if closure is None:
                return None
            with L.enable_grad():
                return closure()

    class Adafactor(L.optim.Optimizer):
        def __init__(self, params, eps=(1e-30, 1e-3), decay=-0.8):
            super().__init__(params, dict(eps=eps, decay=decay))

        @L.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:             # the closure's backward needs a graph
                with L.enable_grad():
                    loss = closure()
            for g in self.param_groups:
                for p in g["params"]:
                    st = self.state[p]
                    st["step"] = st.get("step", 0) + 1
                    beta2 = 1.0 - st["step"] ** g["decay"]
                    rho = min(1e-2, 1.0 / math.sqrt(st["step"]))
                    lr = max(g["eps"][1], p.pow(2).mean().sqrt().item()) * rho
                    g2 = p.grad ** 2 + g["eps"][0]
                    if p.dim() == 2:
                        r = st.setdefault("row", L.zeros(p.size(0), dtype=p.dtype))
                        c = st.setdefault("col", L.zeros(p.size(1), dtype=p.dtype))
                        r.mul_(beta2).add_(g2.mean(1), alpha=1 - beta2)
                        c.mul_(beta2).add_(g2.mean(0), alpha=1 - beta2)
                        v = L.outer(r / r.mean(), c)
                    else:
                        v = st.setdefault("v", L.zeros_like(p))
                        v.mul_(beta2).add_(g2, alpha=1 - beta2)
                    u = p.grad * v.rsqrt()
                    u.div_((u.pow(2).mean().sqrt() / 1.0).clamp_(min=1.0))
                    p.sub_(lr * u)
            return loss

    out = {}
    for name, make in (("lion", lambda ps: Lion(ps, lr=1e-2, weight_decay=0.1)),
                       ("adafactor", lambda ps: Adafactor(ps))):
        model = _small_mlp(L, 13)
        opt = make(model.parameters())
        x, y = _t(L, 6, 4, seed=29), L.tensor(_labels(6, 2, 30))

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss

        out[name] = [opt.step(closure).item() for _ in range(3)] + [params_of(model)]
    return out


@program
def layerwise_lr_decay_param_groups_and_bitfit(L):
    """Fine-tuning recipes as parameter groups: layer-wise learning-rate decay (the deeper the
    layer, the larger its lr) built from named_parameters, BitFit (only the biases train,
    the rest requires_grad_(False)); AdamW steps and the lrs per group after a scheduler."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(14)
    layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
    model = nn.ModuleDict(dict(layers=layers, head=nn.Linear(4, 2))).double()
    groups = []
    for i, layer in enumerate(model["layers"]):
        groups.append({"params": list(layer.parameters()), "lr": 1e-2 * 0.5 ** (3 - i)})
    groups.append({"params": list(model["head"].parameters()), "lr": 1e-2})
    opt = L.optim.AdamW(groups, weight_decay=0.01)
    sched = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for n, p in model.named_parameters():
        if not n.endswith("bias") and not n.startswith("head"):
            p.requires_grad_(False)
    x, y = _t(L, 5, 4, seed=31), L.tensor(_labels(5, 2, 32))

    def fwd():
        h = x
        for layer in model["layers"]:
            h = F.gelu(layer(h))
        return model["head"](h)

    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(fwd(), y).backward()
        opt.step()
        sched.step()
    return dict(lrs=sched.get_last_lr(), w=params_of(model),
                trainable=[n for n, p in model.named_parameters() if p.requires_grad],
                state=len(opt.state))


# ----------------------------------------------------------------------------------------------
# metric learning and self-supervision
# ----------------------------------------------------------------------------------------------
@program
def arcface_additive_angular_margin_head(L):
    """ArcFace: normalised embeddings and class centres, the target logit's angle by acos
    of the clamped cosine, a margin added to it where theta + m < pi (else the CosFace-like
    fallback), scaled logits into cross entropy; gradients of centres and features."""
    F = L.nn.functional
    s, m = 8.0, 0.3
    feats = _t(L, 6, 5, seed=33, grad=True)
    W = _t(L, 4, 5, seed=34, grad=True)
    y = L.tensor([0, 1, 2, 3, 1, 0])
    cos = F.linear(F.normalize(feats), F.normalize(W)).clamp(-1 + 1e-7, 1 - 1e-7)
    theta = L.acos(cos)
    target = L.cos(theta + m)
    target = L.where(theta + m < math.pi, target, cos - m * math.sin(m))
    one_hot = F.one_hot(y, 4).bool()
    logits = s * L.where(one_hot, target, cos)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return dict(logits=logits, loss=loss, gf=feats.grad, gW=W.grad)


@program
def barlow_twins_and_vicreg_objectives(L):
    """Two redundancy-reduction losses on two views' embeddings: Barlow Twins (the
    cross-correlation of batch-standardised embeddings, on-diagonal pulled to 1, off-diagonal
    to 0 through a flatten/view trick) and VICReg (invariance by MSE, variance by a hinge on
    the std, covariance by the squared off-diagonal of the covariance)."""
    F = L.nn.functional
    N, D = 8, 5
    z1, z2 = _t(L, N, D, seed=35, grad=True), _t(L, N, D, seed=36, grad=True)

    def outside_diagonal(sq):
        # a (k, k) matrix minus its last entry, read k + 1 to a row, has the diagonal as
        # column 0: the remaining columns are exactly the off-diagonal entries
        k = sq.shape[0]
        return sq.flatten()[:-1].view(k - 1, k + 1)[:, 1:].flatten()

    def standardise(z):
        return (z - z.mean(0)) / z.std(0, unbiased=False)

    def spread_hinge(z):
        return L.mean(F.relu(1 - L.sqrt(z.var(dim=0) + 1e-4)))

    def decorrelation(z):
        centred = z - z.mean(dim=0)
        return outside_diagonal(centred.T @ centred / (N - 1)).pow(2).sum() / D

    corr = standardise(z1).T @ standardise(z2) / N
    barlow = (L.diagonal(corr) - 1).pow(2).sum() + 5e-3 * outside_diagonal(corr).pow(2).sum()
    vicreg = (25 * F.mse_loss(z1, z2) + 25 * (spread_hinge(z1) / 2 + spread_hinge(z2) / 2)
              + (decorrelation(z1) + decorrelation(z2)))
    g1, g2 = L.autograd.grad(barlow + vicreg, (z1, z2))
    return dict(barlow=barlow, vicreg=vicreg, g1=g1, g2=g2)


@program
def moco_queue_and_momentum_encoder(L):
    """MoCo v2: a key encoder as a deepcopy updated by momentum in no_grad (mul_/add_), keys
    detached, logits against a queue of negatives (a buffer of normalised columns), labels
    all zero, the queue updated at a pointer by slice assignment; two steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(15)
    q_enc = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    k_enc = copy.deepcopy(q_enc)
    for p in k_enc.parameters():
        p.requires_grad = False
    queue = F.normalize(L.randn(4, 6, dtype=L.float64), dim=0)
    ptr = 0
    opt = L.optim.SGD(q_enc.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    losses = []
    for step in range(2):
        x = _t(L, 3, 6, seed=37 + step)
        xq, xk = x + 0.1 * _t(L, 3, 6, seed=40 + step), x + 0.1 * _t(L, 3, 6, seed=43 + step)
        query = F.normalize(q_enc(xq), dim=1)
        with L.no_grad():                     # the key net trails the query net
            for slow, fast in zip(k_enc.parameters(), q_enc.parameters()):
                slow.data = slow.data * 0.9 + fast.data * 0.1
            key = F.normalize(k_enc(xk), dim=1)
        # column 0: each query against its own key; then against every queued key
        own = L.einsum("nc,nc->n", [query, key]).unsqueeze(-1)
        queued = L.einsum("nc,ck->nk", [query, queue.clone().detach()])
        logits = L.cat([own, queued], dim=1) / 0.2
        loss = F.cross_entropy(logits, L.zeros(logits.shape[0], dtype=L.long))
        opt.zero_grad()
        loss.backward()
        opt.step()
        queue[:, ptr:ptr + 3] = key.T
        ptr = (ptr + 3) % 6
        losses.append(loss.item())
    return dict(losses=losses, queue=queue, kw=params_of(k_enc), qw=params_of(q_enc))


@program
def dino_centering_sharpening_and_teacher_ema(L):
    """Self-distillation with a centred, sharpened teacher (the DINO objective): four crops
    (two global, two local) through the student, the two global ones through a frozen
    deepcopy; the teacher's outputs minus a running centre, divided by a low temperature and
    softmaxed; the cross entropy of each teacher view against every student view but its
    own, averaged; then the centre and the teacher's weights moved by EMA (mul_, add_)."""
    F = L.nn.functional
    L.manual_seed(16)
    student = L.nn.Sequential(L.nn.Linear(5, 8), L.nn.GELU(), L.nn.Linear(8, 6)).double()
    teacher = copy.deepcopy(student).requires_grad_(False)
    center = L.zeros(1, 6, dtype=L.float64)
    crops = [_t(L, 3, 5, seed=46 + i) for i in range(4)]
    s_out = student(L.cat(crops)).chunk(4)           # views 0 and 1 global, 2 and 3 local
    with L.no_grad():
        t_raw = teacher(L.cat(crops[:2]))
    t_out = F.softmax((t_raw - center) / 0.04, dim=-1).detach().chunk(2)
    pairs = [(ti, si) for ti in range(2) for si in range(4) if si != ti]
    terms = [L.sum(-t_out[ti] * F.log_softmax(s_out[si] / 0.1, dim=-1), dim=-1).mean()
             for ti, si in pairs]
    loss = sum(terms) / len(pairs)
    loss.backward()
    center = center * 0.9 + t_raw.mean(dim=0, keepdim=True) * 0.1
    with L.no_grad():
        for ps, pt in zip(student.parameters(), teacher.parameters()):
            pt.mul_(0.996).add_((1 - 0.996) * ps.detach())
    return dict(loss=loss, center=center, g=grads_of(student), t=params_of(teacher))


@program
def mae_random_masking_by_argsort_and_unshuffle(L):
    """Random patch masking as in masked autoencoders: one uniform score per patch from a
    seeded generator, argsort of the scores a random order and argsort of that its inverse,
    the first quarter of the order kept (gather), a 0/1 mask made in shuffled order and put
    back in patch order by gather with the inverse, a learnable mask token filling the
    dropped slots before un-shuffling, and the squared error to per-patch standardised
    pixels averaged over the hidden patches only."""
    N, P, D = 2, 8, 3
    gen = L.Generator().manual_seed(0)
    x = _t(L, N, P, D, seed=50, grad=True)
    mask_token = L.zeros(1, 1, D, dtype=L.float64, requires_grad=True)
    enc = L.nn.Linear(D, D).double()
    n_vis = int(P * 0.25)

    def by_patch(t, order):
        """The patches of t (N, P', D) listed in ``order`` (N, k)."""
        return L.gather(t, 1, order.unsqueeze(-1).repeat(1, 1, D))

    order = L.argsort(L.rand(N, P, generator=gen, dtype=L.float64), dim=1)
    undo = L.argsort(order, dim=1)                  # the inverse permutation
    visible = by_patch(x, order[:, :n_vis])
    hidden = L.ones([N, P], dtype=L.float64)
    hidden[:, :n_vis] = 0                           # shuffled order: the first n_vis are seen
    hidden = L.gather(hidden, dim=1, index=undo)    # now in patch order
    tokens = L.cat([enc(visible), mask_token.repeat(N, P - n_vis, 1)], dim=1)
    tokens = by_patch(tokens, undo)
    target = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + 1e-6) ** .5
    per_patch = ((tokens - target.detach()) ** 2).mean(-1)
    loss = (per_patch * hidden).sum() / hidden.sum()
    loss.backward()
    return dict(ids=undo, mask=hidden, loss=loss, gx=x.grad, gm=mask_token.grad,
                g=grads_of(enc))


@program
def prototypical_networks_and_reptile_meta_update(L):
    """Few-shot learning: prototypes as the class means of support embeddings (index_add_
    over labels then divided by counts), query logits as negative squared cdist; then a
    Reptile outer step: the inner SGD on a deepcopy, the meta weights moved toward the
    adapted ones by lerp_ under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(17)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    sx, sy = _t(L, 6, 4, seed=51), L.tensor([0, 1, 2, 0, 1, 2])
    qx, qy = _t(L, 3, 4, seed=52), L.tensor([2, 0, 1])
    emb = net(sx)
    protos = L.zeros(3, 3, dtype=L.float64).index_add_(0, sy, emb)
    protos = protos / L.bincount(sy).unsqueeze(1)
    logits = -L.cdist(net(qx), protos).pow(2)
    loss = F.cross_entropy(logits, qy)
    loss.backward()
    proto_grads = grads_of(net)
    fast = copy.deepcopy(net)
    inner = L.optim.SGD(fast.parameters(), lr=0.1)
    for _ in range(3):
        inner.zero_grad()
        F.cross_entropy(-L.cdist(fast(qx), protos.detach()).pow(2), qy).backward()
        inner.step()
    with L.no_grad():
        for p, q in zip(net.parameters(), fast.parameters()):
            p.lerp_(q, 0.5)
    return dict(logits=logits, loss=loss, g=proto_grads, w=params_of(net))


@program
def elastic_weight_consolidation_fisher_penalty(L):
    """EWC: a diagonal Fisher estimated from squared per-batch gradients of the
    log-likelihood of sampled labels (Categorical with a seed), the old weights stored by
    detach().clone(), then training on a new task with the quadratic penalty."""
    F = L.nn.functional
    model = _small_mlp(L, 18)
    x_old = _t(L, 8, 4, seed=53)
    L.manual_seed(5)
    fisher = {n: L.zeros_like(p) for n, p in model.named_parameters()}
    for i in range(4):
        model.zero_grad()
        logits = model(x_old[2 * i:2 * i + 2])
        ys = L.distributions.Categorical(logits=logits).sample()
        F.cross_entropy(logits, ys, reduction="sum").backward()
        for n, p in model.named_parameters():
            fisher[n] += p.grad.detach() ** 2 / 4
    star = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x_new, y_new = _t(L, 6, 4, seed=54), L.tensor(_labels(6, 2, 55))
    losses = []
    for _ in range(3):
        opt.zero_grad()
        penalty = sum((fisher[n] * (p - star[n]) ** 2).sum()
                      for n, p in model.named_parameters())
        loss = F.cross_entropy(model(x_new), y_new) + 50.0 * penalty
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(fisher=fisher, losses=losses, w=params_of(model))


# ----------------------------------------------------------------------------------------------
# recommenders and tabular models
# ----------------------------------------------------------------------------------------------
@program
def deepfm_second_order_interactions_by_square_of_sum(L):
    """DeepFM: per-field embeddings looked up with offsets into one table, a first-order
    term, FM's pairwise interactions by 0.5 * ((sum v)^2 - sum v^2), a deep tower on the
    flattened embeddings, BCE with logits; the FM term equals the explicit pairwise sum."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(19)
    field_dims = [3, 4, 5]
    offsets = L.tensor([0, 3, 7])
    emb = nn.Embedding(sum(field_dims), 4).double()
    lin = nn.Embedding(sum(field_dims), 1).double()
    load_seeded(L, emb, 19)
    deep = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Linear(8, 1)).double()
    x = L.tensor([[0, 1, 4], [2, 3, 0], [1, 0, 2], [2, 2, 3]]) + offsets
    v = emb(x)
    fm = 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1, keepdim=True)
    i, j = L.triu_indices(3, 3, offset=1)
    pairs = (v[:, i] * v[:, j]).sum((1, 2)).unsqueeze(1)
    logit = lin(x).sum(1) + fm + deep(v.flatten(1))
    loss = F.binary_cross_entropy_with_logits(logit.squeeze(1), L.tensor([1., 0, 1, 1],
                                                                        dtype=L.float64))
    loss.backward()
    return dict(fm=fm, same=L.allclose(fm, pairs), loss=loss, ge=emb.weight.grad,
                rm=deep[1].running_mean)


@program
def dcn_v2_cross_network_and_two_tower_in_batch_negatives(L):
    """DCN-v2's cross layers x_{l+1} = x0 * (W x_l + b) + x_l stacked in a ModuleList, then a
    two-tower retrieval loss: in-batch negatives with a log-q correction subtracted from
    the logits and duplicates of the same item masked out of the negatives."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(20)
    cross = nn.ModuleList([nn.Linear(5, 5) for _ in range(2)]).double()
    user_tower = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3)).double()
    item_emb = load_seeded(L, nn.Embedding(6, 3).double(), 20)
    x0 = _t(L, 4, 5, seed=56)
    x = x0
    for layer in cross:
        x = x0 * layer(x) + x
    u = F.normalize(user_tower(x), dim=-1)
    items = L.tensor([1, 4, 1, 5])
    it = F.normalize(item_emb(items), dim=-1)
    logq = L.log(L.bincount(items, minlength=6).double()[items] / items.numel())
    logits = u @ it.T / 0.1 - logq
    dup = (items.unsqueeze(0) == items.unsqueeze(1)) & ~L.eye(4, dtype=L.bool)
    logits = logits.masked_fill(dup, float("-inf"))
    loss = F.cross_entropy(logits, L.arange(4))
    loss.backward()
    return dict(x=x, logits=logits, loss=loss, gi=item_emb.weight.grad, g=grads_of(cross))


@program
def tabnet_sparsemax_attentive_transformer(L):
    """TabNet's feature selection: sparsemax written by hand (sort descending, cumulative
    sums, the support size by a comparison with arange, tau by gather), prior scales
    updated by (gamma - mask), the entropy regulariser; sparsemax gives exact zeros and
    sums to one, and its gradient flows through the support only."""

    def sparsemax(z, dim=-1):
        zs, _ = L.sort(z, dim=dim, descending=True)
        rng = L.arange(1, z.size(dim) + 1, dtype=z.dtype)
        cs = zs.cumsum(dim)
        support = (1 + rng * zs) > cs
        k = support.sum(dim=dim, keepdim=True)
        tau = (cs.gather(dim, k - 1) - 1) / k.to(z.dtype)
        return L.clamp(z - tau, min=0)

    L.manual_seed(21)
    fc = L.nn.Linear(4, 6).double()
    bn = L.nn.BatchNorm1d(6).double()
    h = _t(L, 5, 4, seed=57, grad=True)
    prior = L.ones(5, 6, dtype=L.float64)
    masks = []
    for _ in range(2):
        m = sparsemax(bn(fc(h)) * prior)
        prior = prior * (1.3 - m)
        masks.append(m)
    M = L.stack(masks)
    entropy = (-M * L.log(M + 1e-10)).sum(-1).mean()
    (entropy + (M * L.arange(6.0, dtype=L.float64)).sum()).backward()
    return dict(M=M, zeros=int((M == 0).sum()), sums=M.sum(-1), gh=h.grad, g=grads_of(fc),
                rv=bn.running_var)



# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
