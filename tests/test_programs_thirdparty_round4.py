"""Whole programs in the idioms of code people run, a fourth round: minGPT/nanoGPT pieces
(weight tying, configure_optimizers splitting decay/no-decay by module type, a tril causal
mask buffer, sdpa with is_causal, top-k/temperature generation with argmax), a char-GRU on
packed variable-length batches, Bahdanau seq2seq with teacher forcing, PointNet with a T-net,
message passing by index_add_/scatter_reduce, an RK4 neural ODE, RealNVP coupling with a
log-det, a VAE, a spectral-norm GAN with a WGAN-GP penalty, NT-Xent, distillation, triplet
hard mining, focal and Dice losses, an audio Conv1d net, tabular embeddings, EmbeddingBag
matrix factorisation, Hessian-vector products, an LR finder, early stopping by deepcopied
state dicts, data pipelines (random_split, Subset, ConcatDataset, WeightedRandomSampler,
pad_sequence collate), evaluation under no_grad/inference_mode with bincount confusion
matrices, frozen BatchNorm statistics, layer replacement by setattr, clip_grad_value_ and
parameters_to_vector/vector_to_parameters (also given a bare tensor, iterated by rows as
torch does); seeded nanoGPT batches and multinomial sampling, an LSTM with proj_size on packed
input, index_reduce readouts, OneCycleLR/CyclicLR, hard Gumbel-softmax, gradient penalties
through GRU, Conv1d+BatchNorm and causal-attention critics, sparse embeddings with SparseAdam,
and Newton-CG steps by Hessian-vector products.

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-10, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, err, grads_of, labels as _labels, load_seeded, normal32 as _f32,
    normal64 as _arr, params_of, registry, train_steps)


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float32": (1e-5, 1e-6), "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# language models
# ----------------------------------------------------------------------------------------------
@program
def mingpt_configure_optimizers_tied_weights_and_generate(L):
    """A GPT-like model: wte tied to lm_head, a causal mask registered as a tril buffer,
    decay/no-decay sets built by walking named_modules by module type, AdamW groups, then generation with
    temperature, top-k by topk and argmax of the filtered probabilities."""
    nn, F = L.nn, L.nn.functional

    class CausalMix(nn.Module):
        def __init__(self, width, heads, ctx):
            super().__init__()
            self.heads = heads
            self.c_attn = nn.Linear(width, 3 * width)
            self.c_proj = nn.Linear(width, width)
            # lower-triangular ones: position i may look at positions 0..i
            self.register_buffer("bias", L.tril(L.ones(ctx, ctx)).view(1, 1, ctx, ctx))

        def forward(self, seq):
            nb, nt, width = seq.size()

            def per_head(t):
                return t.view(nb, nt, self.heads, width // self.heads).transpose(1, 2)

            q, k, v = map(per_head, self.c_attn(seq).split(width, dim=2))
            sim = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            future = self.bias[:, :, :nt, :nt] == 0
            mixed = F.softmax(sim.masked_fill(future, float("-inf")), dim=-1) @ v
            return self.c_proj(mixed.transpose(1, 2).contiguous().view(nb, nt, width))

    class OneBlockLM(nn.Module):
        def __init__(self, vocab=11, width=8, ctx=6):
            super().__init__()
            self.ctx = ctx
            self.wte = nn.Embedding(vocab, width)
            self.lm_head = nn.Linear(width, vocab, bias=False)
            self.wte.weight = self.lm_head.weight          # one matrix reads and writes tokens
            self.wpe = nn.Embedding(ctx, width)
            self.ln1, self.ln_f = nn.LayerNorm(width), nn.LayerNorm(width)
            self.attn = CausalMix(width, 2, ctx)
            self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                     nn.Linear(4 * width, width))

        def forward(self, tokens, labels=None):
            where = L.arange(0, tokens.size(1), dtype=L.long).unsqueeze(0)
            h = self.wte(tokens) + self.wpe(where)
            h = h + self.attn(self.ln1(h))
            h = h + self.mlp(h)
            logits = self.lm_head(self.ln_f(h))
            if labels is None:
                return logits, None
            flat = logits.view(-1, logits.size(-1))
            return logits, F.cross_entropy(flat, labels.view(-1), ignore_index=-1)

    model = load_seeded(L, OneBlockLM().double(), 1)
    # sort every parameter by the kind of module owning it: Linear weights decay; biases,
    # LayerNorm and Embedding weights do not
    decay, no_decay = set(), set()
    for owner_name, owner in model.named_modules():
        for leaf, _ in owner.named_parameters():
            full = f"{owner_name}.{leaf}" if owner_name else leaf
            if leaf.endswith("bias"):
                no_decay.add(full)
            elif leaf.endswith("weight"):
                if isinstance(owner, nn.Linear):
                    decay.add(full)
                elif isinstance(owner, (nn.LayerNorm, nn.Embedding)):
                    no_decay.add(full)
    by_name = dict(model.named_parameters())
    # the tied matrix is listed once by named_parameters (as wte.weight): its lm_head alias
    # is dropped from the sets, or the lookups below would raise KeyError
    decay, no_decay = decay & by_name.keys(), no_decay & by_name.keys()
    groups = [dict(params=[by_name[n] for n in sorted(decay - no_decay)], weight_decay=0.1),
              dict(params=[by_name[n] for n in sorted(no_decay - decay)], weight_decay=0.0)]
    opt = L.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95))
    idx = L.tensor(_labels(12, 11, 2)).view(2, 6)
    tgt = L.tensor(_labels(12, 11, 3)).view(2, 6)
    tgt[0, -2:] = -1
    losses = train_steps(opt, lambda: model(idx, tgt)[1])
    model.eval()

    def next_token(prefix, temperature=0.8, keep=3):
        # the last position's logits, cooled, all but the best ``keep`` set to -inf in place
        scores = model(prefix[:, -model.ctx:])[0][:, -1, :] / temperature
        cut = L.topk(scores, keep)[0][:, [-1]]
        scores[scores < cut] = -float("Inf")
        return L.argmax(F.softmax(scores, dim=-1), dim=-1, keepdim=True)

    out = idx[:, :2]
    with L.no_grad():
        for _ in range(5):
            out = L.cat((out, next_token(out)), dim=1)
    return dict(losses=losses, decay=sorted(decay), no_decay=sorted(no_decay), out=out,
                n_params=sum(p.numel() for p in model.parameters()),
                tied=model.wte.weight is model.lm_head.weight, buffers=list(
                    dict(model.named_buffers())), head=model.lm_head.weight)


@program
def nanogpt_sdpa_is_causal_matches_masked_softmax(L):
    """F.scaled_dot_product_attention(is_causal=True) against the explicit tril mask, the
    gradients of both, dropout_p=0 in eval, and multinomial on fixed probabilities with a
    seeded generator left out: argmax of (probs - numpy uniforms) instead."""
    F = L.nn.functional
    q, k, v = (L.tensor(_arr(2, 2, 5, 4, seed=s), requires_grad=True) for s in (4, 5, 6))
    y1 = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=True)
    mask = L.ones(5, 5, dtype=L.bool).tril()
    y2 = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    att = (q @ k.transpose(-2, -1)) / math.sqrt(4)
    att = att.masked_fill(~mask, float("-inf")).softmax(-1)
    y3 = att @ v
    (y1.pow(2).sum() + y2.sum() + y3.exp().sum()).backward()
    probs = F.softmax(y1[:, 0, -1], dim=-1)
    u = L.tensor(_arr(2, 4, seed=7)).abs()
    pick = L.argmax(probs.log() + u, dim=-1)
    return dict(y1=y1, y2=y2, y3=y3, gq=q.grad, gk=k.grad, gv=v.grad, pick=pick,
                d12=(y1 - y2).abs().max().item() < 1e-12)


@program
def char_gru_on_packed_variable_length_batches(L):
    """A char-level GRU classifier over a padded batch: pad_sequence, sort by length,
    pack_padded_sequence(enforce_sorted=False), pad_packed_sequence back, last hidden state
    into a Linear; also the unsorted indices and batch sizes of the packed sequence."""
    nn = L.nn
    rnn_utils = nn.utils.rnn
    emb = load_seeded(L, nn.Embedding(9, 4, padding_idx=0).double(), 8)
    gru = load_seeded(L, nn.GRU(4, 5, num_layers=2, batch_first=True).double(), 9)
    head = load_seeded(L, nn.Linear(5, 3).double(), 10)
    lens = [4, 2, 5, 1]
    seqs = [L.tensor(_labels(n, 8, 11 + n) + 1) for n in lens]
    padded = rnn_utils.pad_sequence(seqs, batch_first=True, padding_value=0)
    lengths = L.tensor(lens)
    packed = rnn_utils.pack_padded_sequence(emb(padded), lengths, batch_first=True,
                                            enforce_sorted=False)
    out, h = gru(packed)
    unpacked, out_lens = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=6)
    logits = head(h[-1])
    loss = nn.CrossEntropyLoss()(logits, L.tensor([0, 1, 2, 1]))
    loss.backward()
    return dict(padded=padded, batch_sizes=packed.batch_sizes, sorted=packed.sorted_indices,
                unsorted=packed.unsorted_indices, unpacked=unpacked, out_lens=out_lens,
                h=h, loss=loss, g=grads_of(gru), ge=emb.weight.grad)


@program
def bahdanau_seq2seq_with_teacher_forcing(L):
    """An encoder GRU, a decoder GRUCell with additive attention (v^T tanh(W h + U s)),
    teacher forcing decided by a numpy coin per step, NLL summed over steps, clip_grad_norm_
    and an SGD step."""
    nn, F = L.nn, L.nn.functional

    class Seq2Seq(nn.Module):
        def __init__(self, V=7, d=6):
            super().__init__()
            self.emb = nn.Embedding(V, d)
            self.enc = nn.GRU(d, d, batch_first=True, bidirectional=True)
            self.bridge = nn.Linear(2 * d, d)
            self.W, self.U = nn.Linear(2 * d, d, bias=False), nn.Linear(d, d)
            self.v = nn.Linear(d, 1, bias=False)
            self.cell = nn.GRUCell(d + 2 * d, d)
            self.out = nn.Linear(d, V)

        def forward(self, src, tgt, coins):
            enc, h = self.enc(self.emb(src))                  # (B, S, 2d), (2, B, d)
            s = L.tanh(self.bridge(L.cat([h[0], h[1]], dim=1)))
            keys = self.W(enc)
            tok, logps, atts = tgt[:, 0], [], []
            for t in range(1, tgt.size(1)):
                e = self.v(L.tanh(keys + self.U(s).unsqueeze(1))).squeeze(2)
                a = F.softmax(e, dim=1)
                ctx = L.bmm(a.unsqueeze(1), enc).squeeze(1)
                s = self.cell(L.cat([self.emb(tok), ctx], 1), s)
                lp = F.log_softmax(self.out(s), dim=-1)
                logps.append(lp)
                atts.append(a)
                tok = tgt[:, t] if coins[t] else lp.argmax(-1)
            return L.stack(logps, 1), L.stack(atts, 1)

    model = load_seeded(L, Seq2Seq().double(), 12)
    src = L.tensor(_labels(15, 7, 13)).view(3, 5)
    tgt = L.tensor(_labels(12, 7, 14)).view(3, 4)
    coins = np.random.RandomState(15).rand(4) < 0.5
    opt = L.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    norms = []

    def loss_of():
        lp, _ = model(src, tgt, coins)
        loss = F.nll_loss(lp.reshape(-1, 7), tgt[:, 1:].reshape(-1))
        return loss

    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1.0))
        opt.step()
        losses.append(loss.item())
    _, atts = model(src, tgt, coins)
    return dict(losses=losses, norms=norms, atts=atts, params=params_of(model))


# ----------------------------------------------------------------------------------------------
# point clouds, graphs, ODEs, flows
# ----------------------------------------------------------------------------------------------
@program(rtol=1e-7, atol=1e-9)
def pointnet_with_tnet_and_max_over_points(L):
    """PointNet: a T-net predicts a 3x3 transform added to the identity (eye repeated over the
    batch), bmm into the points, Conv1d(k=1)+BatchNorm1d stacks, max over points with
    indices, the orthogonality regulariser ||I - A A^T||, trained three Adam steps (Adam's
    first steps divide near-zero gradients by their own size: summation-order rounding grows
    to ~1e-9, hence the looser tolerance)."""
    nn, F = L.nn, L.nn.functional

    class TNet(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.conv = nn.Conv1d(k, 8, 1)
            self.bn = nn.BatchNorm1d(8)
            self.fc = nn.Linear(8, k * k)
            self.k = k

        def forward(self, pts):
            # a (k, k) matrix per cloud from max-pooled point features, predicted as an
            # offset from the identity
            pooled = L.max(F.relu(self.bn(self.conv(pts))), 2, keepdim=True)[0].view(-1, 8)
            eye_rows = L.eye(self.k, dtype=pts.dtype).flatten().view(1, -1).repeat(pts.size(0), 1)
            return (eye_rows + self.fc(pooled)).view(-1, self.k, self.k)

    class PointNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.tnet = TNet()
            self.c1, self.b1 = nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8)
            self.c2, self.b2 = nn.Conv1d(8, 16, 1), nn.BatchNorm1d(16)
            self.fc = nn.Linear(16, 4)

        def forward(self, pts):                          # (n, 3, points)
            turn = self.tnet(pts)
            aligned = L.bmm(pts.transpose(2, 1), turn).transpose(2, 1)
            per_point = self.b2(self.c2(F.relu(self.b1(self.c1(aligned)))))
            cloud, winner = per_point.max(dim=2)           # and which point gave each max
            return F.log_softmax(self.fc(cloud), dim=1), turn, winner

    model = load_seeded(L, PointNet().double(), 16, 0.2)
    pts = L.tensor(_arr(4, 3, 10, seed=17))
    y = L.tensor([0, 3, 1, 2])
    opt = L.optim.Adam(model.parameters(), lr=1e-2)

    def loss_of():
        out, turn, _ = model(pts)
        # keep the predicted transforms near orthogonal: || I - A A^T ||_F per cloud
        off = L.eye(3, dtype=turn.dtype)[None] - L.bmm(turn, turn.transpose(2, 1))
        return F.nll_loss(out, y) + 0.001 * L.mean(L.norm(off, dim=(1, 2)))

    losses = train_steps(opt, loss_of)
    model.eval()
    out, trans, crit = model(pts)
    return dict(losses=losses, out=out, trans=trans, crit=crit,
                rm=model.b2.running_mean, rv=model.b2.running_var,
                nbt=model.b1.num_batches_tracked)


@program
def message_passing_by_index_add_and_scatter_reduce(L):
    """A GNN layer written by hand: messages gathered by edge index, summed per target by
    index_add_, degree by bincount, mean and amax aggregation by scatter_reduce with
    include_self=False, a global mean pool by scatter_add over a batch vector."""
    nn = L.nn
    src = L.tensor([0, 1, 2, 3, 4, 0, 2, 5, 1, 3])
    dst = L.tensor([1, 0, 3, 2, 5, 2, 0, 4, 2, 4])
    x = L.tensor(_arr(6, 3, seed=18), requires_grad=True)
    lin = load_seeded(L, nn.Linear(3, 4).double(), 19)
    lin_self = load_seeded(L, nn.Linear(3, 4).double(), 20)
    msg = lin(x)[src]
    summed = L.zeros(6, 4, dtype=msg.dtype).index_add_(0, dst, msg)
    deg = L.bincount(dst, minlength=6).clamp(min=1).to(msg.dtype).unsqueeze(1)
    idx = dst.unsqueeze(1).expand(-1, 4)
    mean = L.zeros(6, 4, dtype=msg.dtype).scatter_reduce(0, idx, msg, reduce="mean",
                                                         include_self=False)
    amax = L.zeros(6, 4, dtype=msg.dtype).scatter_reduce(0, idx, msg, reduce="amax",
                                                         include_self=False)
    h = L.relu(lin_self(x) + summed / deg) + mean + amax
    batch = L.tensor([0, 0, 0, 1, 1, 1])
    pooled = L.zeros(2, 4, dtype=h.dtype).scatter_add(0, batch.unsqueeze(1).expand(-1, 4), h)
    pooled = pooled / L.bincount(batch).unsqueeze(1)
    pooled.sum().backward()
    return dict(summed=summed, deg=deg, mean=mean, amax=amax, pooled=pooled, gx=x.grad,
                gw=lin.weight.grad)


@program
def neural_ode_with_fixed_step_rk4(L):
    """dz/dt = f(t, z) by an MLP taking t as an extra feature, integrated with hand-written RK4
    over linspace times, trajectory stacked, MSE against numpy targets, backprop through the
    solver, Adam steps."""
    nn = L.nn

    class ODEFunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))

        def forward(self, t, z):
            tt = L.ones_like(z[:, :1]) * t
            return self.net(L.cat([z, tt], 1))

    def odeint(f, z0, ts):
        zs, z = [z0], z0
        for i in range(len(ts) - 1):
            t0, dt = ts[i], ts[i + 1] - ts[i]
            k1 = f(t0, z)
            k2 = f(t0 + dt / 2, z + dt * k1 / 2)
            k3 = f(t0 + dt / 2, z + dt * k2 / 2)
            k4 = f(t0 + dt, z + dt * k3)
            z = z + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            zs.append(z)
        return L.stack(zs)

    f = load_seeded(L, ODEFunc().double(), 21)
    z0 = L.tensor(_arr(3, 2, seed=22))
    ts = L.linspace(0, 1, 5, dtype=L.float64)
    target = L.tensor(_arr(5, 3, 2, seed=23))
    opt = L.optim.Adam(f.parameters(), lr=0.05)
    losses = train_steps(opt, lambda: nn.functional.mse_loss(odeint(f, z0, ts), target))
    return dict(losses=losses, traj=odeint(f, z0, ts), params=params_of(f))


@program
def realnvp_coupling_layers_with_log_det(L):
    """RealNVP: alternating checkerboard masks as buffers, s = tanh(scale net), t by a
    translation net, y = x*m + (1-m)(x e^s + t), log|det| summed, negative log-likelihood
    under a standard normal, then the inverse recovers x."""
    nn = L.nn

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 4))
            self.t = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 4))

        def scale_shift(self, v):
            # both computed from the masked (kept) coordinates only, zero on the kept ones
            kept, free = v * self.mask, 1 - self.mask
            return kept, free, L.tanh(self.s(kept)) * free, self.t(kept) * free

        def forward(self, x):
            kept, free, log_scale, shift = self.scale_shift(x)
            return kept + free * (x * L.exp(log_scale) + shift), log_scale.sum(dim=1)

        def inverse(self, y):
            kept, free, log_scale, shift = self.scale_shift(y)
            return kept + free * ((y - shift) * L.exp(-log_scale))

    masks = [L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64),
             L.tensor([0.0, 1.0, 0.0, 1.0], dtype=L.float64)] * 2
    flow = nn.ModuleList([Coupling(m) for m in masks]).double()
    load_seeded(L, flow, 24, 0.2)
    x = L.tensor(_arr(6, 4, seed=25))
    opt = L.optim.Adam(flow.parameters(), lr=1e-2)

    def nll():
        z, logdet = x, L.zeros(x.size(0), dtype=x.dtype)
        for layer in flow:
            z, ld = layer(z)
            logdet = logdet + ld
        logp = -0.5 * (z ** 2).sum(1) - 0.5 * 4 * math.log(2 * math.pi)
        return -(logp + logdet).mean()

    losses = train_steps(opt, nll)
    with L.no_grad():
        z = x
        for layer in flow:
            z, _ = layer(z)
        back = z
        for layer in reversed(flow):
            back = layer.inverse(back)
    return dict(losses=losses, z=z, err=(back - x).abs().max().item() < 1e-12,
                mask_in_state="0.mask" in flow.state_dict())


@program
def vae_reparameterisation_and_kl(L):
    """A VAE: encoder to (mu, logvar), z = mu + eps * exp(0.5 logvar) with numpy eps,
    BCE-with-logits reconstruction summed, KL = -0.5 sum(1 + logvar - mu^2 - e^logvar),
    and distributions.kl_divergence of Normals as a check."""
    nn, F = L.nn, L.nn.functional
    enc = load_seeded(L, nn.Linear(6, 8).double(), 26)
    mu_l = load_seeded(L, nn.Linear(8, 2).double(), 27)
    lv_l = load_seeded(L, nn.Linear(8, 2).double(), 28)
    dec = load_seeded(L, nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 6)).double(), 29)
    x = L.tensor((np.random.RandomState(30).rand(5, 6) > 0.5).astype(np.float64))
    eps = L.tensor(_arr(5, 2, seed=31))
    params = [*enc.parameters(), *mu_l.parameters(), *lv_l.parameters(), *dec.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    kls = []

    def loss_of():
        h = F.relu(enc(x))
        mu, logvar = mu_l(h), lv_l(h)
        z = mu + eps * L.exp(0.5 * logvar)
        rec = F.binary_cross_entropy_with_logits(dec(z), x, reduction="sum")
        kld = -0.5 * L.sum(1 + logvar - mu.pow(2) - logvar.exp())
        d = L.distributions
        kl2 = d.kl_divergence(d.Normal(mu, (0.5 * logvar).exp()), d.Normal(0.0, 1.0)).sum()
        kls.append((kld - kl2).abs().item() < 1e-10)
        return (rec + kld) / x.size(0)

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, kls=kls, g=grads_of(dec))


@program
def spectral_norm_gan_with_wgan_gp(L):
    """A critic built with nn.utils.spectral_norm (power iteration seeded by copied u/v
    buffers), a generator, WGAN-GP's gradient penalty by autograd.grad(create_graph=True) on
    numpy-mixed interpolates, critic then generator Adam steps."""
    nn = L.nn
    G = load_seeded(L, nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)).double(), 32)
    D = nn.Sequential(nn.utils.spectral_norm(nn.Linear(3, 8)), nn.LeakyReLU(0.2),
                      nn.utils.spectral_norm(nn.Linear(8, 1))).double()
    load_seeded(L, D, 33)
    real = L.tensor(_arr(4, 3, seed=34))
    noise = L.tensor(_arr(4, 2, seed=35))
    alpha = L.tensor(np.random.RandomState(36).rand(4, 1))
    optD = L.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    optG = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    out = []
    for _ in range(2):
        fake = G(noise)
        optD.zero_grad()
        inter = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
        d_inter = D(inter)
        grad = L.autograd.grad(outputs=d_inter, inputs=inter,
                               grad_outputs=L.ones_like(d_inter), create_graph=True,
                               retain_graph=True, only_inputs=True)[0]
        gp = ((grad.norm(2, dim=1) - 1) ** 2).mean()
        d_loss = D(fake.detach()).mean() - D(real).mean() + 10 * gp
        d_loss.backward()
        optD.step()
        optG.zero_grad()
        g_loss = -D(G(noise)).mean()
        g_loss.backward()
        optG.step()
        out.append((d_loss.item(), gp.item(), g_loss.item()))
    return dict(out=out, D=params_of(D), G=params_of(G), u=D[0].weight_u,
                keys=sorted(D.state_dict()))


# ----------------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------------
@program
def simclr_nt_xent_with_masked_similarity(L):
    """NT-Xent: normalised projections of two views, a 2N x 2N cosine similarity, the
    diagonal removed by masked_fill with a bool eye (and by a view of ~eye), positives found
    by roll, cross-entropy over logits/temperature."""
    F = L.nn.functional
    proj = load_seeded(L, L.nn.Linear(5, 4).double(), 37)
    a = L.tensor(_arr(4, 5, seed=38))
    b = L.tensor(_arr(4, 5, seed=39))
    z = F.normalize(proj(L.cat([a, b])), dim=1)
    n = z.size(0)
    sim = z @ z.T / 0.5
    eye = L.eye(n, dtype=L.bool)
    sim1 = sim.masked_fill(eye, -9e15)
    labels = L.arange(n).roll(n // 2)
    loss1 = F.cross_entropy(sim1, labels)
    sim2 = sim[~eye].view(n, n - 1)
    pos = L.cat([L.diag(sim, n // 2), L.diag(sim, -n // 2)]).view(n, 1)
    neg_mask = ~(eye | eye.roll(n // 2, dims=1))
    neg = sim[neg_mask].view(n, -1)
    logits = L.cat([pos, neg], dim=1)
    loss2 = F.cross_entropy(logits, L.zeros(n, dtype=L.long))
    cos = F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=2)
    (loss1 + loss2).backward()
    return dict(loss1=loss1, loss2=loss2, sim2=sim2, cos=cos, g=proj.weight.grad)


@program
def knowledge_distillation_with_temperature(L):
    """Hinton distillation: KLDivLoss(batchmean) of log_softmax(student/T) against
    softmax(teacher/T) times T^2, plus hard cross-entropy with label smoothing; the teacher
    under no_grad in eval mode; log_target=True variant."""
    nn, F = L.nn, L.nn.functional
    teacher = load_seeded(L, nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Dropout(0.5),
                                           nn.Linear(10, 4)).double(), 40).eval()
    student = load_seeded(L, nn.Linear(6, 4).double(), 41)
    x = L.tensor(_arr(8, 6, seed=42))
    y = L.tensor(_labels(8, 4, 43))
    T = 3.0
    opt = L.optim.SGD(student.parameters(), lr=0.1)
    kl = nn.KLDivLoss(reduction="batchmean")
    parts = []

    def loss_of():
        with L.no_grad():
            t = teacher(x)
        s = student(x)
        soft = kl(F.log_softmax(s / T, 1), F.softmax(t / T, 1)) * T * T
        soft2 = F.kl_div(F.log_softmax(s / T, 1), F.log_softmax(t / T, 1), reduction="batchmean",
                         log_target=True) * T * T
        hard = F.cross_entropy(s, y, label_smoothing=0.1)
        parts.append((soft.item(), soft2.item(), hard.item(), t.requires_grad))
        return 0.7 * soft + 0.3 * hard

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, parts=parts, w=student.weight)


@program
def triplet_batch_hard_mining_with_triplet_margin_loss(L):
    """Batch-hard mining: pairwise distances by cdist, the hardest positive by masked max and
    hardest negative by masked min (inf fill), embeddings gathered by the indices into
    TripletMarginLoss and TripletMarginWithDistanceLoss(cosine distance, swap=True)."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Linear(5, 3).double(), 44)
    x = L.tensor(_arr(8, 5, seed=45))
    y = L.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    e = net(x)
    d = L.cdist(e, e)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    pos_d, pos_i = (d * same.to(d.dtype)).max(1)
    neg_d, neg_i = d.masked_fill(same, float("inf")).min(1)
    l1 = nn.TripletMarginLoss(margin=0.5, p=2)(e, e[pos_i], e[neg_i])
    l2 = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - F.cosine_similarity(a, b), margin=0.3,
        swap=True)(e, e[pos_i], e[neg_i])
    l3 = F.relu(pos_d - neg_d + 0.5).mean()
    (l1 + l2 + l3).backward()
    return dict(l1=l1, l2=l2, l3=l3, pos_i=pos_i, neg_i=neg_i, g=net.weight.grad)


@program
def focal_and_dice_losses_for_segmentation(L):
    """Multi-class focal loss from log_softmax gathered at the target, alpha per class,
    (1-p)^gamma; soft Dice over one_hot targets permuted to NCHW with an epsilon; and
    binary focal from BCE-with-logits(reduction='none')."""
    F = L.nn.functional
    conv = load_seeded(L, L.nn.Conv2d(2, 3, 3, padding=1).double(), 46)
    x = L.tensor(_arr(2, 2, 5, 5, seed=47))
    tgt = L.tensor(_labels(50, 3, 48)).view(2, 5, 5)
    logits = conv(x)
    logp = F.log_softmax(logits, dim=1)
    logpt = logp.gather(1, tgt.unsqueeze(1)).squeeze(1)
    pt = logpt.exp()
    alpha = L.tensor([0.25, 0.5, 0.25], dtype=L.float64)
    focal = (-alpha[tgt] * (1 - pt) ** 2.0 * logpt).mean()
    probs = logits.softmax(1)
    oh = F.one_hot(tgt, 3).permute(0, 3, 1, 2).to(probs.dtype)
    inter = (probs * oh).sum(dim=(2, 3))
    dice = 1 - ((2 * inter + 1e-6) / (probs.sum((2, 3)) + oh.sum((2, 3)) + 1e-6)).mean()
    bin_t = (tgt == 1).to(L.float64)
    bce = F.binary_cross_entropy_with_logits(logits[:, 1], bin_t, reduction="none")
    p_t = L.exp(-bce)
    bfocal = (0.25 * (1 - p_t) ** 2 * bce).mean()
    (focal + dice + bfocal).backward()
    return dict(focal=focal, dice=dice, bfocal=bfocal, oh_dtype=F.one_hot(tgt, 3).dtype,
                g=conv.weight.grad)


# ----------------------------------------------------------------------------------------------
# audio, tabular, recommendation
# ----------------------------------------------------------------------------------------------
@program
def audio_conv1d_batchnorm_adaptive_pool_classifier(L):
    """A 1-d CNN on raw waveforms: Conv1d(stride) + BatchNorm1d + ReLU + MaxPool1d blocks,
    AdaptiveAvgPool1d(1), flatten, Linear; float32 weights; train then eval outputs and the
    running statistics."""
    nn = L.nn
    model = nn.Sequential(
        nn.Conv1d(1, 4, kernel_size=9, stride=2, padding=4), nn.BatchNorm1d(4), nn.ReLU(),
        nn.MaxPool1d(2), nn.Conv1d(4, 6, 3, padding=1, dilation=1), nn.BatchNorm1d(6),
        nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(6, 3))
    load_seeded(L, model, 49)
    wav = L.from_numpy(_f32(4, 1, 40, seed=50))
    y = L.tensor([0, 1, 2, 1])
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                      weight_decay=1e-4)
    losses = train_steps(opt, lambda: nn.functional.cross_entropy(model(wav), y))
    model.eval()
    return dict(losses=losses, out=model(wav), rm=model[1].running_mean,
                rv=model[5].running_var, dt=model(wav).dtype)


@program
def tabular_embeddings_per_categorical_column(L):
    """A tabular net: one nn.Embedding per categorical column (sizes by the rule
    min(50, (n+1)//2)) in a ModuleList, their outputs concatenated with BatchNorm'd continuous
    features, Dropout(0) and a Linear head; embedding dropout off; MSE regression."""
    nn = L.nn
    cards = [5, 3, 7]

    class Tab(nn.Module):
        def __init__(self):
            super().__init__()
            self.embs = nn.ModuleList([nn.Embedding(c, min(50, (c + 1) // 2)) for c in cards])
            self.bn = nn.BatchNorm1d(2)
            n_emb = sum(e.embedding_dim for e in self.embs)
            self.head = nn.Sequential(nn.Linear(n_emb + 2, 8), nn.ReLU(), nn.Dropout(0.0),
                                      nn.Linear(8, 1))

        def forward(self, x_cat, x_cont):
            x = L.cat([e(x_cat[:, i]) for i, e in enumerate(self.embs)], 1)
            return self.head(L.cat([x, self.bn(x_cont)], 1)).squeeze(-1)

    model = load_seeded(L, Tab().double(), 51)
    rs = np.random.RandomState(52)
    x_cat = L.tensor(np.stack([rs.randint(0, c, 6) for c in cards], 1))
    x_cont = L.tensor(_arr(6, 2, seed=53))
    y = L.tensor(_arr(6, seed=54))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: nn.MSELoss()(model(x_cat, x_cont), y))
    return dict(losses=losses, dims=[e.embedding_dim for e in model.embs],
                params=params_of(model), xcat_dtype=x_cat.dtype)


@program
def matrix_factorisation_with_embedding_bag(L):
    """Recommendation: user and item biases by Embedding, item-history profiles by
    EmbeddingBag(mode='mean') with offsets and per_sample_weights under mode='sum', a dot
    product score, BCE-with-logits on implicit feedback, SparseAdam-free Adagrad."""
    nn, F = L.nn, L.nn.functional
    users = load_seeded(L, nn.Embedding(5, 4).double(), 55)
    items = load_seeded(L, nn.Embedding(7, 4).double(), 56)
    bag = load_seeded(L, nn.EmbeddingBag(7, 4, mode="mean").double(), 57)
    bag_sum = load_seeded(L, nn.EmbeddingBag(7, 4, mode="sum").double(), 58)
    ub = load_seeded(L, nn.Embedding(5, 1).double(), 59)
    hist = L.tensor([1, 2, 4, 0, 6, 3, 3, 5])
    offsets = L.tensor([0, 3, 4, 6, 6])
    w = L.tensor(np.random.RandomState(60).rand(8))
    u = L.tensor([0, 1, 2, 3, 4])
    i = L.tensor([2, 5, 1, 0, 6])
    r = L.tensor([1.0, 0.0, 1.0, 1.0, 0.0], dtype=L.float64)
    mods = nn.ModuleList([users, items, bag, bag_sum, ub])
    opt = L.optim.Adagrad(mods.parameters(), lr=0.1)

    def loss_of():
        prof = users(u) + bag(hist, offsets) + bag_sum(hist, offsets, per_sample_weights=w)
        score = (prof * items(i)).sum(1) + ub(u).squeeze(1)
        return F.binary_cross_entropy_with_logits(score, r)

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, bag=bag(hist, offsets), params=params_of(mods))


# ----------------------------------------------------------------------------------------------
# autograd and training-loop utilities
# ----------------------------------------------------------------------------------------------
@program
def hessian_vector_products_by_double_backward(L):
    """Hv by grad of (grad . v) with create_graph=True, the Pearlmutter trick checked against
    autograd.functional.hvp and hessian on a small MLP loss flattened by
    parameters_to_vector."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double(), 61)
    x = L.tensor(_arr(5, 3, seed=62))
    y = L.tensor(_arr(5, 1, seed=63))
    params = list(net.parameters())
    loss = F.mse_loss(net(x), y)
    grads = L.autograd.grad(loss, params, create_graph=True)
    vs = [L.tensor(_arr(*p.shape, seed=64 + k)) for k, p in enumerate(params)]
    gv = sum((g * v).sum() for g, v in zip(grads, vs))
    hv = L.autograd.grad(gv, params)
    flat = nn.utils.parameters_to_vector(hv)

    def f(z):
        return (z.sin() * z.roll(1)).sum()

    z = L.tensor(_arr(4, seed=70))
    val, hvp = L.autograd.functional.hvp(f, z, L.tensor(_arr(4, seed=71)))
    H = L.autograd.functional.hessian(f, z)
    return dict(hv=hv, flat=flat, val=val, hvp=hvp, H=H, gvg=grads[0].requires_grad)


@program
def learning_rate_finder_with_exponential_schedule(L):
    """An LR range test: lr multiplied by a constant each step written into param_groups,
    a smoothed loss with bias correction, stopping when the loss diverges past 4x the best,
    then the model restored from a deepcopied state_dict."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).double(),
                        72)
    init = copy.deepcopy(model.state_dict())
    x = L.tensor(_arr(10, 4, seed=73))
    y = L.tensor(_labels(10, 2, 74))
    opt = L.optim.SGD(model.parameters(), lr=1e-4)
    mult = (10.0 / 1e-4) ** (1 / 19)
    lrs, smoothed, avg, best = [], [], 0.0, float("inf")
    for it in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        avg = 0.9 * avg + 0.1 * loss.item()
        sm = avg / (1 - 0.9 ** (it + 1))
        if sm > 4 * best:
            break
        best = min(best, sm)
        lrs.append(opt.param_groups[0]["lr"])
        smoothed.append(sm)
        loss.backward()
        opt.step()
        for g in opt.param_groups:
            g["lr"] *= mult
    moved = model[0].weight.clone()
    model.load_state_dict(init)
    return dict(lrs=lrs, smoothed=smoothed, moved=moved, restored=model[0].weight,
                same=L.equal(model[0].weight, init["0.weight"]))


@program
def early_stopping_with_deepcopied_best_state(L):
    """Train/validate epochs; the best validation state kept as copy.deepcopy(state_dict())
    (not aliased to the live parameters), patience counting, ReduceLROnPlateau stepping on
    the validation loss, the best weights loaded back at the end."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 1)).double(),
                        75, 0.5)
    xt, yt = L.tensor(_arr(12, 3, seed=76)), L.tensor(_arr(12, 1, seed=77))
    xv, yv = L.tensor(_arr(6, 3, seed=78)), L.tensor(_arr(6, 1, seed=79))
    opt = L.optim.Adam(model.parameters(), lr=0.3)
    sched = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=1)
    best, best_state, wait, hist = float("inf"), None, 0, []
    for epoch in range(8):
        model.train()
        opt.zero_grad()
        F.mse_loss(model(xt), yt).backward()
        opt.step()
        model.eval()
        with L.no_grad():
            val = F.mse_loss(model(xv), yv).item()
        sched.step(val)
        hist.append((val, opt.param_groups[0]["lr"]))
        if val < best - 1e-4:
            best, best_state, wait = val, copy.deepcopy(model.state_dict()), 0
        else:
            wait += 1
            if wait >= 3:
                break
    last = model[0].weight.detach().clone()
    model.load_state_dict(best_state)
    return dict(hist=hist, epoch=epoch, last=last, best=model[0].weight,
                aliased=best_state["0.weight"] is model[0].weight,
                sched=sched.state_dict()["num_bad_epochs"])


@program
def data_pipeline_splits_subsets_weighted_sampler_and_padding_collate(L):
    """torch.utils.data: a map-style Dataset of variable-length sequences, random_split with
    a seeded generator's lengths replaced by Subset of numpy indices, ConcatDataset indexing,
    WeightedRandomSampler's weights from inverse class counts (bincount), a collate_fn padding
    by pad_sequence, DataLoader batching in order with drop_last."""
    data = L.utils.data
    pad_sequence = L.nn.utils.rnn.pad_sequence
    rs = np.random.RandomState(80)
    lens = rs.randint(1, 5, 10)
    labels = rs.randint(0, 3, 10)

    class SeqDS(data.Dataset):
        def __init__(self, off):
            self.off = off

        def __len__(self):
            return len(lens)

        def __getitem__(self, k):
            seq = L.arange(1, lens[k] + 1, dtype=L.float64) + self.off
            return seq, int(labels[k])

    both = data.ConcatDataset([SeqDS(0), SeqDS(100)])
    perm = rs.permutation(len(both))
    train, val = data.Subset(both, perm[:14].tolist()), data.Subset(both, perm[14:].tolist())

    def collate(batch):
        seqs, ys = zip(*batch)
        lengths = L.tensor([len(s) for s in seqs])
        return pad_sequence(seqs, batch_first=True, padding_value=-1.0), lengths, L.tensor(ys)

    loader = data.DataLoader(train, batch_size=4, shuffle=False, collate_fn=collate,
                             drop_last=True)
    batches = [b for b in loader]
    ys = L.tensor([both[k][1] for k in perm[:14]])
    counts = L.bincount(ys, minlength=3)
    weights = (1.0 / counts.double())[ys]
    sampler = data.WeightedRandomSampler(weights, num_samples=6, replacement=True)
    vl = data.DataLoader(val, batch_size=3, collate_fn=collate)
    default = data.DataLoader(data.TensorDataset(L.tensor(_arr(5, 2, seed=81)),
                                                 L.tensor(labels[:5])), batch_size=2)
    return dict(n=len(both), item=both[13], batches=batches, lens=len(loader), counts=counts,
                weights=weights, n_samples=len(sampler), n_val=len(vl),
                val=[b for b in vl], default=[b for b in default],
                w_dtype=sampler.weights.dtype)


@program
def evaluation_no_grad_inference_mode_confusion_matrix(L):
    """An eval loop: model.eval() (dropout off, BN running stats), torch.no_grad and
    torch.inference_mode blocks, argmax predictions, accuracy by eq().sum().item(), a
    confusion matrix by bincount(n * y + p).reshape, per-class recall by diag / sum."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                         nn.Dropout(0.5), nn.Linear(8, 3)).double(), 82)
    x = L.tensor(_arr(20, 4, seed=83))
    y = L.tensor(_labels(20, 3, 84))
    model.eval()
    with L.no_grad():
        a = model(x)
    with L.inference_mode():
        b = model(x)
        inf = b.is_inference()
    pred = a.argmax(1)
    acc = pred.eq(y).sum().item() / len(y)
    cm = L.bincount(3 * y + pred, minlength=9).reshape(3, 3)
    recall = cm.diag().double() / cm.sum(1).clamp(min=1)
    correct = (pred == y).float().mean()
    top2 = a.topk(2, dim=1).indices.eq(y.view(-1, 1)).any(1).float().mean()
    return dict(a=a, b=b, inf=inf, acc=acc, cm=cm, recall=recall, correct=correct, top2=top2,
                rg=(a.requires_grad, b.requires_grad), training=model.training,
                sub=[m.training for m in model])


@program
def frozen_batchnorm_statistics_while_finetuning(L):
    """Freezing BN: every BatchNorm put in eval() after model.train() so its running stats
    stay fixed, its affine parameters frozen by requires_grad_(False), momentum=None
    (cumulative average) on another BN; the head fine-tuned by SGD."""
    nn = L.nn
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4, momentum=None),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)).double()
    load_seeded(L, model, 85)
    model[1].running_var.abs_()
    model[4].running_var.abs_()

    def freeze_bn(m):
        if isinstance(m, nn.BatchNorm2d) and m.momentum is not None:
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)

    model.train()
    model.apply(freeze_bn)
    x = L.tensor(_arr(3, 2, 6, 6, seed=86))
    y = L.tensor([0, 1, 1])
    opt = L.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    losses = train_steps(opt, lambda: nn.functional.cross_entropy(model(x), y))
    return dict(losses=losses, rm1=model[1].running_mean, rm4=model[4].running_mean,
                rv4=model[4].running_var, nbt=model[4].num_batches_tracked,
                tr=[m.training for m in model], gw1=model[1].weight.grad,
                n_trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))


@program
def replace_layers_in_place_by_setattr_over_named_modules(L):
    """Model surgery: ReLU -> SiLU and BatchNorm2d -> GroupNorm by walking named_modules,
    splitting the dotted name with rpartition and setattr on get_submodule(parent);
    parameter counts before and after, the printed module types."""
    nn = L.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    model = nn.Sequential(Block(), nn.Sequential(Block.__new__(Block)), nn.Flatten())
    Block.__init__(model[1][0])
    model[1][0].conv = nn.Conv2d(4, 4, 3, padding=1)
    before = sum(p.numel() for p in model.parameters())
    for name, m in list(model.named_modules()):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if isinstance(m, nn.ReLU):
            setattr(parent, child, nn.SiLU())
        elif isinstance(m, nn.BatchNorm2d):
            setattr(parent, child, nn.GroupNorm(2, m.num_features))
    model = model.double()
    load_seeded(L, model, 87)
    out = model(L.tensor(_arr(2, 2, 3, 3, seed=88)))
    out.sum().backward()
    return dict(before=before, after=sum(p.numel() for p in model.parameters()),
                types=[type(m).__name__ for _, m in model.named_modules()],
                names=[n for n, _ in model.named_modules()], out=out,
                g=model[1][0].bn.weight.grad, keys=list(model.state_dict()))


@program
def clip_grad_value_and_vector_round_trips(L):
    """clip_grad_value_ then clip_grad_norm_ with norm_type=inf and 1, parameters_to_vector
    of weights and of grads, vector_to_parameters writing a perturbed vector back (the
    parameters keep their identity), and an SGD step after."""
    nn, F = L.nn, L.nn.functional
    utils = nn.utils
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double(),
                        89, 2.0)
    x, y = L.tensor(_arr(6, 3, seed=90)), L.tensor(_labels(6, 2, 91))
    F.cross_entropy(model(x), y).backward()
    raw = utils.parameters_to_vector([p.grad for p in model.parameters()])
    utils.clip_grad_value_(model.parameters(), clip_value=0.1)
    clipped = utils.parameters_to_vector(p.grad for p in model.parameters())
    n_inf = utils.clip_grad_norm_(model.parameters(), 0.05, norm_type=float("inf"))
    n_one = utils.clip_grad_norm_(model.parameters(), 0.2, norm_type=1.0)
    ids = [id(p) for p in model.parameters()]
    vec = utils.parameters_to_vector(model.parameters())
    utils.vector_to_parameters(vec * 0.5 + 0.01, model.parameters())
    L.optim.SGD(model.parameters(), lr=1.0).step()
    return dict(raw=raw, clipped=clipped, n_inf=n_inf, n_one=n_one, vec=vec,
                same_ids=ids == [id(p) for p in model.parameters()], params=params_of(model),
                vec_rg=vec.requires_grad)


@program
def dropout_and_batchnorm_behaviour_across_train_and_eval(L):
    """model.eval() turns Dropout into the identity and BN onto its running statistics;
    F.dropout(training=False); a BN with track_running_stats=False uses batch stats in eval;
    BatchNorm1d on (N, C, L); a train-mode forward under no_grad still updates the stats."""
    nn, F = L.nn, L.nn.functional
    bn = load_seeded(L, nn.BatchNorm1d(3).double(), 92)
    bn.running_var.abs_()
    bn_nt = nn.BatchNorm1d(3, track_running_stats=False).double()
    drop = nn.Dropout(0.9)
    x = L.tensor(_arr(4, 3, 5, seed=93))
    with L.no_grad():
        t = bn(x)
    rm_after = bn.running_mean.clone()
    bn.eval(), drop.eval(), bn_nt.eval()
    e = bn(x)
    return dict(t=t, rm=rm_after, e=e, d=drop(x), fd=F.dropout(x, 0.5, training=False),
                nt=bn_nt(x), nt_rm=bn_nt.running_mean, nbt=bn.num_batches_tracked,
                keys=list(bn_nt.state_dict()))


# ----------------------------------------------------------------------------------------------
# seeded draws, schedules, compile pass-through
# ----------------------------------------------------------------------------------------------
@program
def nanogpt_loop_with_estimate_loss_and_multinomial_sampling(L):
    """A character-model training loop (torch.compile left out: torch's first call imports
    dynamo, which warns about its own modules): a disabled GradScaler, a held-out mean under
    @torch.no_grad() filling a zeros tensor by .item(), batches from randint offsets after
    manual_seed, then generation by torch.multinomial after top-k filtering and
    temperature."""
    nn, F = L.nn, L.nn.functional

    class NextTokenTable(nn.Module):
        """each token's row of a square table is the logits of the token after it"""

        def __init__(self, vocab=10):
            super().__init__()
            self.tok = nn.Embedding(vocab, vocab)

        def forward(self, tokens, following=None):
            scores = self.tok(tokens)
            loss = None
            if following is not None:
                width = scores.shape[-1]
                loss = F.cross_entropy(scores.view(-1, width), following.view(scores.shape[0] *
                                                                              scores.shape[1]))
            return scores, loss

    L.manual_seed(1337)
    data = L.tensor(_labels(40, 10, 100))
    model = load_seeded(L, NextTokenTable().double(), 101)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    opt = L.optim.AdamW(model.parameters(), lr=1e-2)
    span, rows = 4, 3

    def windows():
        # ``rows`` random starts from the global generator; targets are the inputs moved by one
        starts = L.randint(len(data) - span, (rows,))
        pairs = [(data[s:s + span], data[s + 1:s + 1 + span]) for s in starts]
        return L.stack([a for a, _ in pairs]), L.stack([b for _, b in pairs])

    @L.no_grad()
    def held_out_mean(repeats=3):
        model.eval()
        record = L.zeros(repeats)
        for r in range(repeats):
            record[r] = model(*windows())[1].item()
        model.train()
        return record.mean()

    hist = []
    for _ in range(3):
        loss = model(*windows())[1]
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        hist.append((loss.item(), held_out_mean().item()))
    idx = L.zeros((2, 1), dtype=L.long)
    for _ in range(6):
        last = model(idx)[0][:, -1, :] / 0.9
        fourth_best = L.topk(last, 4)[0][:, [-1]]
        last[last < fourth_best] = -float("Inf")
        drawn = L.multinomial(F.softmax(last, dim=-1), num_samples=1)
        idx = L.cat((idx, drawn), dim=1)
    return dict(hist=hist, idx=idx, w=model.tok.weight, keys=sorted(model.state_dict()),
                grad_enabled=L.is_grad_enabled())


@program
def seeded_data_pipeline_random_split_weighted_sampler_and_shuffle(L):
    """The global-seed variant of a data pipeline: manual_seed, random_split by fractions,
    a WeightedRandomSampler over inverse class frequencies feeding a DataLoader, a shuffled
    loader iterated twice (two different orders), default_collate of dict samples."""
    data = L.utils.data
    L.manual_seed(5)
    xs = L.tensor(_arr(12, 2, seed=102))
    ys = L.tensor([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2])

    class DictDS(data.Dataset):
        def __len__(self):
            return len(ys)

        def __getitem__(self, k):
            return {"x": xs[k], "y": ys[k], "id": k}

    ds = DictDS()
    train, val = data.random_split(ds, [0.75, 0.25])
    counts = L.bincount(ys)
    weights = (1.0 / counts.double())[ys[train.indices]]
    sampler = data.WeightedRandomSampler(weights, num_samples=len(train), replacement=True)
    wl = data.DataLoader(train, batch_size=4, sampler=sampler)
    sl = data.DataLoader(val, batch_size=2, shuffle=True)
    return dict(split=(train.indices, val.indices), batches=[b for b in wl],
                first=[b["id"] for b in sl], second=[b["id"] for b in sl])


@program
def lstm_with_projection_on_packed_input_and_initial_state(L):
    """LSTM(proj_size=...) over a PackedSequence built by pack_sequence(enforce_sorted=False)
    with a given (h0, c0); unpack_sequence of the output; the gradients of the inputs."""
    nn = L.nn
    rnn = nn.utils.rnn
    lstm = load_seeded(L, nn.LSTM(3, 5, num_layers=2, proj_size=2).double(), 103)
    seqs = [L.tensor(_arr(n, 3, seed=104 + n), requires_grad=True) for n in (2, 5, 3)]
    packed = rnn.pack_sequence(seqs, enforce_sorted=False)
    h0 = L.tensor(_arr(2, 3, 2, seed=110))
    c0 = L.tensor(_arr(2, 3, 5, seed=111))
    out, (h, c) = lstm(packed, (h0, c0))
    outs = rnn.unpack_sequence(out)
    (sum((o ** 2).sum() for o in outs) + c.sum()).backward()
    return dict(outs=outs, h=h, c=c, grads=[s.grad for s in seqs],
                shapes=[tuple(v.shape) for v in lstm.state_dict().values()])


@program
def graph_pooling_by_index_reduce_and_embedding_bag_max(L):
    """Per-graph readouts: index_reduce('mean', include_self=False) and ('amax') over a batch
    vector, an EmbeddingBag(mode='max') over padded 2-d neighbour lists, gradients of both
    (ties avoided by the normal draws)."""
    nn = L.nn
    h = L.tensor(_arr(7, 3, seed=112), requires_grad=True)
    batch = L.tensor([0, 0, 1, 1, 1, 2, 2])
    mean = L.zeros(3, 3, dtype=h.dtype).index_reduce(0, batch, h, "mean", include_self=False)
    amax = L.full((3, 3), -1.0, dtype=h.dtype).index_reduce(0, batch, h, "amax")
    bag = load_seeded(L, nn.EmbeddingBag(6, 3, mode="max").double(), 113)
    nbrs = L.tensor([[1, 2, 5], [0, 0, 3], [4, 1, 2]])
    pooled = bag(nbrs)
    (mean.sum() + (amax ** 2).sum() + pooled.sum()).backward()
    return dict(mean=mean, amax=amax, pooled=pooled, gh=h.grad, gbag=bag.weight.grad)


@program
def one_cycle_and_cyclic_lr_training_with_momentum_cycling(L):
    """OneCycleLR cycling SGD's momentum inversely to the lr, CyclicLR(triangular2) on a
    second optimizer; lr and momentum recorded per step while a small net trains."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double(),
                      114)
    x, y = L.tensor(_arr(8, 3, seed=115)), L.tensor(_labels(8, 2, 116))
    opt = L.optim.SGD(net[0].parameters(), lr=0.1, momentum=0.9)
    opt2 = L.optim.SGD(net[2].parameters(), lr=0.1, momentum=0.9)
    one = L.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=8, pct_start=0.25,
                                          anneal_strategy="linear")
    cyc = L.optim.lr_scheduler.CyclicLR(opt2, 0.01, 0.2, step_size_up=2, mode="triangular2")
    rec = []
    for _ in range(8):
        opt.zero_grad()
        opt2.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        opt2.step()
        one.step()
        cyc.step()
        rec.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"],
                    cyc.get_last_lr()[0], opt2.param_groups[0]["momentum"]))
    return dict(rec=rec, params=params_of(net))


@program
def gumbel_softmax_hard_selection_after_manual_seed(L):
    """A discrete latent chosen by F.gumbel_softmax(hard=True) after manual_seed: one-hot
    forward, straight-through softmax gradient backward into the logits."""
    F = L.nn.functional
    L.manual_seed(0)
    enc = load_seeded(L, L.nn.Linear(4, 5).double(), 117)
    x = L.tensor(_arr(3, 4, seed=118))
    code = F.gumbel_softmax(enc(x), tau=0.5, hard=True)
    soft = F.gumbel_softmax(enc(x), tau=2.0)
    ((code * L.arange(5.0, dtype=L.float64)).sum() + soft.pow(2).sum()).backward()
    return dict(code=code, soft=soft, g=enc.weight.grad)


@program
def parameters_to_vector_iterates_a_single_tensor_by_rows(L):
    """parameters_to_vector(weight) with a bare tensor, as code passing one parameter does:
    it is iterated row by row like any iterable (the graph kept); a 0-d tensor cannot be
    iterated; a transposed (non-contiguous) entry is refused by view(-1)."""
    utils = L.nn.utils
    w = L.tensor(_arr(2, 3, seed=120), requires_grad=True)
    v = utils.parameters_to_vector(w)
    (v * L.arange(6.0, dtype=L.float64)).sum().backward()
    return dict(v=v, g=w.grad, gen=utils.parameters_to_vector(p for p in (w, w[0])),
                scalar=err(lambda: utils.parameters_to_vector(L.tensor(2.0))),
                transposed=err(lambda: utils.parameters_to_vector([w.detach().t()])))


@program
def gradient_penalties_through_recurrent_and_normalised_critics(L):
    """WGAN-GP penalties (autograd.grad with create_graph=True, then backward into the
    critic's weights) through a GRU critic over sequences, a Conv1d+BatchNorm1d critic in
    training mode, and causal scaled_dot_product_attention."""
    nn, F = L.nn, L.nn.functional
    gru = load_seeded(L, nn.GRU(2, 3, batch_first=True).double(), 121, 0.4)
    conv = load_seeded(L, nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3), nn.Tanh())
                       .double(), 122, 0.4)

    def penalty(critic, x):
        out = critic(x)
        g, = L.autograd.grad(out.sum(), x, create_graph=True)
        return ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    seq = L.tensor(_arr(2, 3, 2, seed=123), requires_grad=True)
    sig = L.tensor(_arr(2, 2, 6, seed=124), requires_grad=True)
    att = L.tensor(_arr(1, 4, 3, seed=125), requires_grad=True)
    p1 = penalty(lambda x: gru(x)[0] ** 2, seq)
    p2 = penalty(conv, sig)
    p3 = penalty(lambda x: F.scaled_dot_product_attention(x, 2 * x, x.cos(), is_causal=True),
                 att)
    (p1 + p2 + p3).backward()
    return dict(p=(p1, p2, p3), g_gru=grads_of(gru), g_conv=grads_of(conv), seq=seq.grad,
                sig=sig.grad, att=att.grad, rm=conv[1].running_mean)


@program
def recommender_with_sparse_embeddings_and_sparse_adam(L):
    """A recommendation model's sparse path: nn.Embedding(sparse=True) factors trained by
    SparseAdam, an EmbeddingBag(sparse=True) of item histories with include_last_offset by
    SGD; the gradients are sparse tensors (compared dense)."""
    nn, F = L.nn, L.nn.functional
    users = load_seeded(L, nn.Embedding(5, 3, sparse=True).double(), 126)
    hist = load_seeded(L, nn.EmbeddingBag(7, 3, mode="mean", sparse=True,
                                          include_last_offset=True).double(), 127)
    items = load_seeded(L, nn.Embedding(7, 3).double(), 128)
    opt_sparse = L.optim.SparseAdam(list(users.parameters()), lr=0.05)
    opt = L.optim.SGD([*hist.parameters(), *items.parameters()], lr=0.1)
    u, i = L.tensor([0, 2, 2, 4]), L.tensor([1, 6, 3, 0])
    seen, off = L.tensor([1, 2, 5, 0, 3, 4, 4]), L.tensor([0, 2, 3, 5, 7])
    r = L.tensor([1.0, 0.0, 1.0, 0.0], dtype=L.float64)
    losses, kinds = [], []
    for _ in range(3):
        opt_sparse.zero_grad()
        opt.zero_grad()
        score = ((users(u) + hist(seen, off)) * items(i)).sum(1)
        loss = F.binary_cross_entropy_with_logits(score, r)
        loss.backward()
        kinds.append((users.weight.grad.is_sparse, hist.weight.grad.is_sparse,
                      items.weight.grad.is_sparse))
        dense = users.weight.grad.to_dense()
        opt_sparse.step()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, kinds=kinds, dense=dense, users=users.weight,
                hist=hist.weight, items=items.weight)


@program
def newton_cg_steps_by_hessian_vector_products(L):
    """Truncated Newton: the gradient kept with create_graph=True, conjugate-gradient
    iterations whose products H p come from autograd.grad(g, w, p, retain_graph=True), the
    step applied in place under no_grad."""
    w = L.tensor(_arr(3, seed=129), requires_grad=True)
    A = L.tensor(_arr(3, 3, seed=130))
    A = A @ A.T + L.eye(3, dtype=L.float64)

    def loss(w):
        return 0.5 * w @ A @ w + (w ** 4).sum()

    trace = []
    for _ in range(2):
        g, = L.autograd.grad(loss(w), w, create_graph=True)
        x, r = L.zeros_like(w), -g.detach()
        p, rs = r.clone(), r @ r
        for _ in range(3):
            Hp, = L.autograd.grad(g, w, p, retain_graph=True)
            a = rs / (p @ Hp)
            x, r = x + a * p, r - a * Hp
            rn = r @ r
            p, rs = r + rn / rs * p, rn
        with L.no_grad():
            w += x
        trace.append((g.detach(), x))
    return dict(trace=trace, w=w, loss=loss(w))


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
