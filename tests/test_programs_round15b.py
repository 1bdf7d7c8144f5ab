"""Whole programs of the fifteenth round, part b: recurrences, optimizers and
self-supervision as their repositories write them.  RWKV's token shift and WKV recurrence,
the Muon optimizer written as an Optimizer subclass beside AdamW, a top-k sparse autoencoder
with unit-norm decoder columns, PCGrad gradient surgery with uncertainty weighting, slot
attention with a spatial-broadcast decoder, contrastive predictive coding and deep knowledge
tracing; and distribution heads whose moments and samples a script prints.

The harness is part a's: both libraries run each program on the same numpy inputs and
seeded weights and must agree in values, dtypes, shapes and requires_grad (and printed
tensors, grad_fn names included, where a program prints them).
"""
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# RWKV
# ----------------------------------------------------------------------------------------------
@program
def rwkv_token_shift_by_zero_pad_and_wkv_recurrence(L):
    """An RWKV-4 style block written from its equations: the token shift by
    nn.ZeroPad2d((0, 0, 1, -1)) (a negative pad crops the last step), time-mix lerps by
    learned vectors, the WKV recurrence over time with the running-max trick (aa, bb, pp),
    time_decay as -exp(w), the receptance gate, the channel mix with squared ReLU; two Adam
    steps on next-step regression."""
    nn, F = L.nn, L.nn.functional
    B, T, D = 2, 6, 4
    L.manual_seed(21)

    def blend(cur, prev, weight):
        return cur * weight + prev * (1 - weight)

    def wkv(k, v, w, u):
        """Each step's output: v averaged over the past with weights exp(k_i - (t-1-i)|w|),
        the current step's weight being exp(u + k_t).  Numerator and denominator are carried
        divided by exp(level), level the largest exponent met so far, so that exp never
        overflows."""
        num, den = L.zeros_like(k[:, 0]), L.zeros_like(k[:, 0])
        level = L.full_like(num, -1e38)
        out = []
        for kt, vt in zip(k.unbind(1), v.unbind(1)):
            now = u + kt
            top = L.maximum(level, now)
            w_past, w_now = L.exp(level - top), L.exp(now - top)
            out.append((w_past * num + w_now * vt) / (w_past * den + w_now))
            faded = level + w
            top = L.maximum(faded, kt)
            w_past, w_now = L.exp(faded - top), L.exp(kt - top)
            num, den, level = w_past * num + w_now * vt, w_past * den + w_now, top
        return L.stack(out, 1)

    def const(shape, value):
        return nn.Parameter(L.full(shape, value, dtype=L.float64))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            # pad one step on top of the time axis, crop one at the bottom: x[t-1] at t
            self.shift = nn.ZeroPad2d((0, 0, 1, -1))
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.decay = nn.Parameter(L.linspace(-1, 0.5, D, dtype=L.float64))
            self.first = const((D,), 0.3)
            self.mix_k, self.mix_v, self.mix_r = (const((1, 1, D), f) for f in (0.5, 0.6, 0.4))
            self.key, self.value = nn.Linear(D, D, bias=False), nn.Linear(D, D, bias=False)
            self.recept, self.output = nn.Linear(D, D, bias=False), nn.Linear(D, D, bias=False)
            self.ffk, self.ffv = nn.Linear(D, 2 * D, bias=False), nn.Linear(2 * D, D, bias=False)

        def time_mix(self, x):
            prev = self.shift(x)
            gate = L.sigmoid(self.recept(blend(x, prev, self.mix_r)))
            mixed = wkv(self.key(blend(x, prev, self.mix_k)),
                        self.value(blend(x, prev, self.mix_v)), -L.exp(self.decay), self.first)
            return self.output(gate * mixed)

        def forward(self, x):
            x = x + self.time_mix(self.ln1(x))
            return x + self.ffv(L.relu(self.ffk(self.ln2(x))) ** 2)

    blk = Block().double()
    x = _t(L, B, T, D, seed=22)
    opt = L.optim.Adam(blk.parameters(), lr=0.01)
    losses = []
    for _ in range(2):
        out = blk(x)
        loss = F.mse_loss(out[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(shifted=blk.shift(x), losses=losses, out=out.detach(),
                g=grads_of(blk), pad=repr(blk.shift))


# ----------------------------------------------------------------------------------------------
# optimizers and training tricks
# ----------------------------------------------------------------------------------------------
def _muon_class(L):
    class Muon(L.optim.Optimizer):
        """Heavy-ball momentum (Nesterov by default) whose step direction is replaced by an
        approximately orthogonal matrix of the same shape before it is applied."""

        def __init__(self, params, lr=0.02, momentum=0.95, nesterov=True, ns_steps=5):
            defaults = dict(lr=lr, momentum=momentum, nesterov=nesterov, ns_steps=ns_steps)
            super().__init__(params, defaults)

        @staticmethod
        def polar_factor(m, iters):
            """Drive the singular values of m towards one by an odd quintic polynomial
            iteration (coefficients 3.4445, -4.7750, 2.0315), worked on the wide orientation
            so that the Gram matrix is the smaller one."""
            wide = m.size(0) <= m.size(1)
            z = (m if wide else m.T) / (m.norm() + 1e-7)
            for _ in range(iters):
                gram = z @ z.T
                z = 3.4445 * z + (-4.7750 * gram + 2.0315 * gram @ gram) @ z
            return z if wide else z.T

        @L.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                beta = group["momentum"]
                for p in (q for q in group["params"] if q.grad is not None):
                    buf = self.state[p].setdefault("momentum_buffer", L.zeros_like(p))
                    buf.mul_(beta).add_(p.grad)
                    direction = p.grad.add(buf, alpha=beta) if group["nesterov"] else buf
                    aspect = max(1.0, p.size(0) / p.size(1)) ** 0.5
                    p.add_(self.polar_factor(direction, group["ns_steps"]),
                           alpha=-group["lr"] * aspect)

    return Muon


@program
def muon_optimizer_subclass_for_matrices_and_adamw_for_the_rest(L):
    """The Muon recipe: 2-d hidden weights go to a Muon Optimizer subclass (Nesterov
    momentum, then a quintic Newton-Schulz orthogonalisation, a tall-matrix transpose and the
    sqrt(rows/cols) scale), biases and the output layer to AdamW; both stepped each
    iteration; the singular values of an orthogonalised update near one, the optimizer's
    state_dict after the steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(23)
    net = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, 6), nn.GELU(),
                        nn.Linear(6, 3)).double()
    hidden = [p for n, p in net.named_parameters() if p.ndim == 2 and not n.startswith("4")]
    rest = [p for n, p in net.named_parameters() if p.ndim != 2 or n.startswith("4")]
    Muon = _muon_class(L)
    opts = [Muon(hidden, lr=0.05), L.optim.AdamW(rest, lr=0.01, weight_decay=0.0)]
    x, y = _t(L, 12, 5, seed=24), L.tensor(_labels(12, 3, 25))
    losses = []
    for _ in range(3):
        loss = F.cross_entropy(net(x), y)
        for o in opts:
            o.zero_grad()
        loss.backward()
        for o in opts:
            o.step()
        losses.append(loss.item())
    u = Muon.polar_factor(_t(L, 8, 5, seed=26), 5)
    sd = opts[0].state_dict()
    return dict(losses=losses, w=net.state_dict(), sv=L.linalg.svdvals(u),
                state=sd["state"], groups=sd["param_groups"], n=len(hidden))


@program
def top_k_sparse_autoencoder_with_unit_norm_decoder_and_parallel_grad_removed(L):
    """A top-k sparse autoencoder of activations: a pre-encoder bias subtracted, the k largest
    pre-activations kept by topk and scattered into zeros after ReLU, unit-norm decoder
    columns; after backward the gradient component parallel to each decoder column is
    removed, after the step the columns renormalised in place under no_grad; dead latents
    counted by how often each latent fired."""
    nn, F = L.nn, L.nn.functional
    d, m, k = 6, 12, 3
    L.manual_seed(27)
    enc = nn.Linear(d, m).double()
    dec = nn.Linear(m, d, bias=False).double()
    with L.no_grad():
        dec.weight.copy_(enc.weight.T)
        dec.weight /= dec.weight.norm(dim=0, keepdim=True)
    b_pre = nn.Parameter(L.zeros(d, dtype=L.float64))
    opt = L.optim.Adam([*enc.parameters(), *dec.parameters(), b_pre], lr=0.01)
    x = _t(L, 20, d, seed=28)
    fired = L.zeros(m, dtype=L.long)
    losses = []
    for _ in range(3):
        pre = enc(x - b_pre)
        vals, idx = pre.topk(k, dim=-1)
        z = L.zeros_like(pre).scatter(-1, idx, F.relu(vals))
        recon = dec(z) + b_pre
        loss = (recon - x).pow(2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        with L.no_grad():
            W = dec.weight
            dec.weight.grad -= (dec.weight.grad * W).sum(0, keepdim=True) * W
        opt.step()
        with L.no_grad():
            dec.weight.div_(dec.weight.norm(dim=0, keepdim=True))
        fired += (z > 0).sum(0)
        losses.append(loss.item())
    return dict(losses=losses, z=z.detach(), fired=fired, dead=(fired == 0).sum(),
                norms=dec.weight.norm(dim=0), w=enc.state_dict(), b=b_pre.detach())


@program
def pcgrad_projection_of_conflicting_task_gradients_and_uncertainty_weighting(L):
    """Multi-task training: a shared trunk and two heads, task losses weighted by learned
    log-variances (exp(-s) L + s); per-task gradients of the trunk by autograd.grad with
    retain_graph, flattened by cat of views; where two conflict (negative dot) each is
    projected off the other (PCGrad), the sum written back into .grad by split/view_as; the
    heads' and log-variances' grads by backward with inputs=; one SGD-momentum step per
    iteration."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(29)
    trunk = nn.Sequential(nn.Linear(4, 6), nn.Tanh()).double()
    heads = nn.ModuleList([nn.Linear(6, 1), nn.Linear(6, 3)]).double()
    log_vars = nn.Parameter(L.zeros(2, dtype=L.float64))
    shared = list(trunk.parameters())
    others = list(heads.parameters()) + [log_vars]
    opt = L.optim.SGD(shared + others, lr=0.1, momentum=0.9)
    x = _t(L, 10, 4, seed=30)
    yr, yc = _t(L, 10, 1, seed=31), L.tensor(_labels(10, 3, 32))
    logs = []
    for _ in range(3):
        h = trunk(x)
        raw = [F.mse_loss(heads[0](h), yr), F.cross_entropy(heads[1](h), yc)]
        losses = [L.exp(-log_vars[i]) * raw[i] + log_vars[i] for i in range(2)]
        flat = []
        for li in losses:
            gs = L.autograd.grad(li, shared, retain_graph=True)
            flat.append(L.cat([g.reshape(-1) for g in gs]))
        dots = []
        proj = [g.clone() for g in flat]
        for i, j in ((0, 1), (1, 0)):
            dot = L.dot(proj[i], flat[j])
            dots.append(dot.item())
            if dot < 0:
                proj[i] = proj[i] - dot / flat[j].pow(2).sum() * flat[j]
        total = proj[0] + proj[1]
        opt.zero_grad()
        sum(losses).backward(inputs=others)
        for p, g in zip(shared, total.split([p.numel() for p in shared])):
            p.grad = g.view_as(p).clone()
        opt.step()
        logs.append(dict(raw=[r.item() for r in raw], dots=dots))
    return dict(logs=logs, log_vars=log_vars.detach(), w=trunk.state_dict(),
                grads=[p.grad for p in shared + others])


# ----------------------------------------------------------------------------------------------
# object-centric and self-supervised sequence models
# ----------------------------------------------------------------------------------------------
@program
def slot_attention_iterations_with_gru_cell_and_spatial_broadcast_decoder(L):
    """Slot attention: slots initialised as mu + exp(log_sigma) * randn after manual_seed,
    three iterations of attention normalised over slots (softmax over dim 1) then over
    inputs (a weighted mean with an epsilon), a GRUCell update on flattened slots and a
    residual MLP; a spatial-broadcast decoder adds a coordinate grid from meshgrid, emits
    RGB and a mask logit per slot, the masks softmaxed over slots; an MSE step."""
    nn, F = L.nn, L.nn.functional
    B, N, D, S, H, W = 2, 9, 6, 3, 3, 3
    L.manual_seed(33)
    ln_in, ln_s, ln_m = nn.LayerNorm(D), nn.LayerNorm(D), nn.LayerNorm(D)
    q, k, v = (nn.Linear(D, D, bias=False) for _ in range(3))
    gru = nn.GRUCell(D, D)
    mlp = nn.Sequential(nn.Linear(D, 12), nn.ReLU(), nn.Linear(12, D))
    mu = nn.Parameter(L.randn(1, 1, D))
    log_sigma = nn.Parameter(L.zeros(1, 1, D))
    pos = nn.Linear(2, D)
    decoder = nn.Sequential(nn.Linear(D, 8), nn.ReLU(), nn.Linear(8, 4))
    mods = nn.ModuleList([ln_in, ln_s, ln_m, q, k, v, gru, mlp, pos, decoder]).double()
    mu.data, log_sigma.data = mu.data.double(), log_sigma.data.double()
    feats = _t(L, B, N, D, seed=34)
    img = L.sigmoid(_t(L, B, H * W, 3, seed=35))
    opt = L.optim.Adam([*mods.parameters(), mu, log_sigma], lr=0.005)
    ys, xs = L.meshgrid(L.linspace(-1, 1, H, dtype=L.float64),
                        L.linspace(-1, 1, W, dtype=L.float64), indexing="ij")
    grid = L.stack([ys, xs], -1).reshape(1, 1, H * W, 2)
    losses = []
    for step in range(2):
        L.manual_seed(100 + step)
        slots = mu + log_sigma.exp() * L.randn(B, S, D, dtype=L.float64)
        normed = ln_in(feats)
        kk, vv = k(normed), v(normed)

        def compete(state):
            """One round: the slots compete for each input (softmax across slots), each
            slot averages the values of what it won (weights renormalised over the inputs,
            floored at 1e-8), and a GRU cell then a residual MLP give its next state."""
            scores = L.einsum("bnd,bsd->bsn", kk, q(ln_s(state))) * D ** -0.5
            won = L.softmax(scores, dim=1).add(1e-8)
            won = won / won.sum(-1, keepdim=True)
            gathered = L.einsum("bsn,bnd->bsd", won, vv)
            nxt = gru(gathered.flatten(0, 1), state.flatten(0, 1)).view(B, S, D)
            return nxt + mlp(ln_m(nxt)), won

        for _ in range(3):
            slots, attn = compete(slots)
        out = decoder(slots.unsqueeze(2) + pos(grid))
        rgb, mask = out[..., :3], out[..., 3:].softmax(dim=1)
        recon = (rgb * mask).sum(1)
        loss = F.mse_loss(recon, img)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, attn=attn.detach(), mask=mask.detach(), mu=mu.grad,
                ls=log_sigma.grad, g=grads_of(gru))


@program
def cpc_future_prediction_info_nce_with_per_step_predictors(L):
    """Contrastive predictive coding: a strided Conv1d encoder, a GRU context network, one
    Linear predictor per future offset in a ModuleList, for each offset the scores of the
    prediction against every example's encoding at that step (a batch x batch matrix), the
    InfoNCE loss by cross_entropy against arange, accuracy by argmax; one Adam step."""
    nn, F = L.nn, L.nn.functional
    B, Z, C, K = 4, 5, 6, 2
    L.manual_seed(37)
    enc = nn.Sequential(nn.Conv1d(1, Z, 4, stride=2, padding=1), nn.ReLU(),
                        nn.Conv1d(Z, Z, 4, stride=2, padding=1)).double()
    ar = nn.GRU(Z, C, batch_first=True).double()
    preds = nn.ModuleList([nn.Linear(C, Z, bias=False) for _ in range(K)]).double()
    params = [*enc.parameters(), *ar.parameters(), *preds.parameters()]
    opt = L.optim.Adam(params, lr=0.01)
    wave = _t(L, B, 1, 32, seed=38)
    z = enc(wave).transpose(1, 2)
    c, _ = ar(z)
    t = 3
    loss, accs = 0.0, []
    for i, p in enumerate(preds):
        scores = p(c[:, t]) @ z[:, t + 1 + i].T
        loss = loss + F.cross_entropy(scores, L.arange(B))
        accs.append((scores.argmax(1) == L.arange(B)).double().mean().item())
    loss = loss / K
    opt.zero_grad()
    loss.backward()
    opt.step()
    return dict(z=z.detach(), loss=loss, accs=accs, g=grads_of(preds),
                w=enc.state_dict(), shape=z.shape)


@program
def deep_knowledge_tracing_lstm_with_interaction_ids_and_next_skill_gather(L):
    """Deep knowledge tracing: each (skill, correct) pair encoded as skill + n_skills *
    correct into an embedding (padding index for the padding steps), an LSTM, per-skill
    logits, the prediction for the next step's skill gathered, BCE-with-logits over the
    valid steps only (boolean indexing by the mask); two steps and the accuracy."""
    nn, F = L.nn, L.nn.functional
    S = 4
    L.manual_seed(39)
    skills = L.tensor([[0, 1, 1, 2, 3, 0], [2, 2, 3, 1, 0, 0], [3, 0, 1, 2, 2, 1]])
    right = L.tensor([[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0], [1, 1, 0, 0, 1, 1]])
    lengths = L.tensor([6, 4, 6])
    valid = L.arange(6)[None] < lengths[:, None]
    inter = L.where(valid, skills + S * right + 1, L.zeros_like(skills))
    emb = nn.Embedding(2 * S + 1, 5, padding_idx=0).double()
    lstm = nn.LSTM(5, 7, batch_first=True).double()
    out = nn.Linear(7, S).double()
    opt = L.optim.Adam([*emb.parameters(), *lstm.parameters(), *out.parameters()], lr=0.02)
    res = []
    for _ in range(2):
        h, _ = lstm(emb(inter[:, :-1]))
        logits = out(h).gather(-1, skills[:, 1:, None]).squeeze(-1)
        m = valid[:, 1:]
        target = right[:, 1:].double()
        loss = F.binary_cross_entropy_with_logits(logits[m], target[m])
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = ((logits[m] > 0).long() == right[:, 1:][m]).double().mean()
        res.append((loss.item(), acc.item()))
    return dict(res=res, inter=inter, logits=logits.detach(), gpad=emb.weight.grad[0],
                g=grads_of(out))



@program(rtol=2e-3, atol=1e-6)     # torch's Gamma rsample gradient is an approximation
def uncertainty_heads_logging_their_distributions_moments_and_samples(L):
    """Prediction heads that output distributions, as a training script logs them: a Gamma
    head (softplus concentration and rate) sampled by rsample after manual_seed, its
    entropy; a Student-t head whose mean and variance are printed (NaN / inf where df is
    small), a OneHotCategorical head's variance, Chi2 draws; printed tensors and a step of
    the summed objective."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    L.manual_seed(96)
    head = nn.Linear(3, 7).double()
    x = _t(L, 4, 3, seed=97)
    out = head(x)
    conc, rate = F.softplus(out[:, 0]) + 0.5, F.softplus(out[:, 1]) + 0.5
    df = F.softplus(out[:, 2]) * 3
    gamma = D.Gamma(conc, rate)
    student = D.StudentT(df, out[:, 3], F.softplus(out[:, 4]) + 0.1)
    onehot = D.OneHotCategorical(logits=out[:, 4:7])
    L.manual_seed(98)
    g = gamma.rsample()
    ent = gamma.entropy()
    c = D.Chi2(df + 1).rsample()
    shown = [g, ent, student.mean, student.variance, onehot.variance, c,
             student.log_prob(g), gamma.log_prob(g)]
    lines = [repr(t) for t in shown]
    loss = g.sum() + ent.sum() + student.log_prob(g).sum() + onehot.variance.sum() + c.sum()
    loss.backward()
    return dict(lines=lines, loss=loss, g=grads_of(head))

# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
