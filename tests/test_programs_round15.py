"""Whole programs in the idioms of code people run, a fifteenth round: models of the last few
years as their repositories write them.  Kolmogorov-Arnold layers on B-spline bases,
preference tuning of a tiny language model (DPO and IPO against a frozen reference, a
Bradley-Terry reward model, GRPO's group-normalised advantages), speech separation by SI-SNR
with permutation-invariant training, Autoformer's series decomposition and FFT
auto-correlation, and the Nystrom and LSH approximations of attention.  Parts b-e hold the
rest of the round.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import copy
import itertools
import math

import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# Kolmogorov-Arnold networks
# ----------------------------------------------------------------------------------------------
@program
def kan_layer_b_spline_bases_by_cox_de_boor_and_silu_residual(L):
    """A Kolmogorov-Arnold layer: a uniform knot grid extended
    by the spline order and registered as a buffer, B-spline bases by the Cox-de Boor
    recursion on broadcast comparisons, the spline part by einsum and a SiLU 'base' branch by
    F.linear; an L1 penalty on the spline coefficients; three Adam steps; the bases of
    interior points sum to one."""
    nn, F = L.nn, L.nn.functional

    class SplineEdges(nn.Module):
        """out_j = sum_i w_ji silu(x_i) + sum_i sum_m c_jim B_m(x_i): a linear 'base' path
        plus one learned spline per (input, output) pair, splines of the given order on
        uniform knots over [-1, 1] padded by `order` knots at each end."""

        def __init__(self, nin, nout, grid_size=4, order=3):
            super().__init__()
            step = 2.0 / grid_size
            knots = L.arange(-order, grid_size + order + 1, dtype=L.float64) * step - 1.0
            self.register_buffer("grid", knots.expand(nin, -1).contiguous())
            self.order = order
            self.base = nn.Parameter(L.empty(nout, nin, dtype=L.float64))
            self.spline = nn.Parameter(L.empty(nout, nin, grid_size + order,
                                               dtype=L.float64))
            nn.init.kaiming_uniform_(self.base, a=math.sqrt(5))
            nn.init.trunc_normal_(self.spline, std=0.1)

        def bases(self, x):
            """(batch, nin) -> (batch, nin, grid_size + order).  Cox-de Boor: order 0 is
            the indicator of each knot interval; order k blends two neighbouring order k-1
            bases, one by a ramp rising over [t_i, t_i+k], one falling over
            [t_i+1, t_i+k+1]."""
            t, u = self.grid, x[..., None]
            n = t.shape[-1]
            basis = ((u >= t[:, :-1]) & (u < t[:, 1:])).to(u.dtype)
            for k in range(1, self.order + 1):
                rise = (u - t[:, :n - k - 1]) / (t[:, k:n - 1] - t[:, :n - k - 1])
                fall = (t[:, k + 1:] - u) / (t[:, k + 1:] - t[:, 1:n - k])
                basis = rise * basis[..., :-1] + fall * basis[..., 1:]
            return basis.contiguous()

        def forward(self, x):
            spline_part = L.einsum("bik,oik->bo", self.bases(x), self.spline)
            return F.linear(F.silu(x), self.base) + spline_part

    L.manual_seed(0)
    net = nn.Sequential(SplineEdges(3, 5), SplineEdges(5, 1))
    x = L.tanh(_t(L, 16, 3, seed=1))
    y = (x[:, :1] * x[:, 1:2]).sin() + x[:, 2:].pow(2)
    opt = L.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(3):
        loss = F.mse_loss(net(x), y) + 1e-3 * sum(m.spline.abs().mean() for m in net)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    b = net[0].bases(x)
    return dict(losses=losses, bases=b, unity=b.sum(-1), g=grads_of(net),
                grid=net[0].grid, keys=list(net.state_dict()))


# ----------------------------------------------------------------------------------------------
# preference tuning of a tiny language model
# ----------------------------------------------------------------------------------------------
def _tiny_lm(L, V=11, D=6, seed=0):
    nn = L.nn

    class LM(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.rnn = nn.Embedding(V, D), nn.GRU(D, D, batch_first=True)
            self.head = nn.Linear(D, V, bias=False)

        def forward(self, ids):
            return self.head(self.rnn(self.emb(ids))[0])

    L.manual_seed(seed)
    return LM().double()


def _sequence_logps(L, model, ids, mask):
    """Summed log-probabilities of ids[:, 1:] under the model, where mask[:, 1:] is set."""
    logp = model(ids[:, :-1]).log_softmax(-1)
    tok = L.gather(logp, 2, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    return (tok * mask[:, 1:]).sum(-1)


@program
def dpo_and_ipo_losses_against_a_frozen_deepcopied_reference(L):
    """Direct preference optimisation: the reference is a
    deepcopy of the policy with requires_grad_(False) and eval(); chosen and rejected answers
    concatenated into one batch, per-token log-probabilities gathered and summed under a
    completion mask (the prompt and padding masked out), the DPO loss -logsigmoid(beta *
    margin) with conservative label smoothing, the IPO loss on the side, the implicit rewards
    and reward accuracy logged; three AdamW steps and the reference untouched."""
    F = L.nn.functional
    policy = _tiny_lm(L, seed=3)
    ref = copy.deepcopy(policy).requires_grad_(False).eval()
    chosen = L.tensor([[1, 4, 5, 6, 7, 2], [1, 3, 8, 9, 2, 0], [1, 6, 6, 10, 4, 2]])
    rejected = L.tensor([[1, 4, 5, 9, 2, 0], [1, 3, 8, 4, 4, 2], [1, 6, 6, 2, 0, 0]])
    ids = L.cat([chosen, rejected])
    mask = (ids != 0).double()
    mask[:, :3] = 0.0
    beta, eps = 0.1, 0.1
    opt = L.optim.AdamW(policy.parameters(), lr=0.05, weight_decay=0.01)
    logs = []
    for _ in range(3):
        pc, pr = _sequence_logps(L, policy, ids, mask).chunk(2)
        with L.no_grad():
            rc, rr = _sequence_logps(L, ref, ids, mask).chunk(2)
        # how much more the policy prefers the chosen answer than the reference does
        gap = (pc - rc) - (pr - rr)
        # a Bradley-Terry likelihood of beta * gap whose label is flipped with chance eps
        margin = beta * gap
        dpo = -(F.logsigmoid(margin) * (1 - eps) + F.logsigmoid(-margin) * eps).mean()
        ipo_target = 1 / (2 * beta)                 # IPO regresses the gap onto this
        ipo = (gap - ipo_target).pow(2).mean()
        reward_c, reward_r = beta * (pc - rc).detach(), beta * (pr - rr).detach()
        opt.zero_grad()
        dpo.backward()
        opt.step()
        logs.append(dict(dpo=dpo.item(), ipo=ipo.item(),
                         # (ahead by more than rounding: at the first step policy and
                         # reference agree, their rewards differing only in the last bits)
                         acc=(reward_c - reward_r > 1e-12).float().mean().item(),
                         margin=(reward_c - reward_r).mean().item()))
    return dict(logs=logs, w=policy.state_dict(),
                ref_grads=[p.grad for p in ref.parameters()],
                ref_flags=[p.requires_grad for p in ref.parameters()])


@program
def bradley_terry_reward_model_with_last_token_pooling(L):
    """A reward model: a transformer encoder (norm_first, no dropout) over right-padded
    pairs, the score read at each sequence's last real token by advanced indexing with
    lengths from the padding mask, the pairwise loss -logsigmoid(r_chosen - r_rejected) with a
    small centring term on the summed rewards, two Adam steps; the win rate."""
    nn, F = L.nn, L.nn.functional
    V, D = 9, 8
    L.manual_seed(5)
    emb, pos = nn.Embedding(V, D, padding_idx=0).double(), nn.Embedding(8, D).double()
    enc = nn.TransformerEncoderLayer(D, 2, 16, dropout=0.0, batch_first=True,
                                     norm_first=True).double()
    score = nn.Linear(D, 1).double()
    mods = nn.ModuleList([emb, pos, enc, score])
    chosen = L.tensor([[1, 4, 5, 6, 2], [1, 3, 2, 0, 0], [1, 7, 8, 2, 0]])
    rejected = L.tensor([[1, 4, 2, 0, 0], [1, 3, 5, 5, 2], [1, 7, 2, 0, 0]])
    ids = L.cat([chosen, rejected], 0)
    pad = ids == 0
    last = (~pad).sum(1) - 1
    opt = L.optim.Adam(mods.parameters(), lr=0.01)
    out = []
    for _ in range(2):
        h = enc(emb(ids) + pos(L.arange(ids.shape[1]))[None], src_key_padding_mask=pad)
        r = score(h[L.arange(ids.shape[0]), last]).squeeze(-1)
        rc, rr = r.chunk(2)
        loss = -F.logsigmoid(rc - rr).mean() + 0.01 * ((rc + rr) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((loss.item(), (rc > rr).double().mean().item()))
    return dict(out=out, last=last, r=r.detach(), g=grads_of(score), ge=emb.weight.grad)


@program
def grpo_group_normalised_advantages_clipped_ratio_and_k3_kl(L):
    """GRPO's update: G completions per prompt sampled from a Categorical policy after a
    manual_seed, rewards by a rule, advantages normalised within each group (mean and the
    unbiased std over dim 1, keepdim), the per-token ratio against detached old
    log-probabilities, the clipped surrogate, the k3 KL estimator to a frozen reference
    (exp(ref - logp) - (ref - logp) - 1), per-sequence masked means; two SGD steps."""
    nn = L.nn
    B, G, T, V = 2, 4, 4, 5
    L.manual_seed(8)
    policy = nn.Sequential(nn.Embedding(V, 8), nn.Tanh(), nn.Linear(8, V)).double()
    ref = copy.deepcopy(policy).requires_grad_(False)
    prompts = L.tensor([1, 3])
    with L.no_grad():
        tok = prompts.repeat_interleave(G)
        seq = [tok]
        for _ in range(T):
            tok = L.distributions.Categorical(logits=policy(tok)).sample()
            seq.append(tok)
        seq = L.stack(seq, 1)
    done = (seq[:, 1:] == 0).long().cumsum(1)
    mask = ((done == 0) | ((done == 1) & (seq[:, 1:] == 0))).double()
    rewards = (seq[:, 1:] == 2).double().sum(1).view(B, G)
    # each completion scored against the other completions of its own prompt
    spread = rewards.std(1, keepdim=True) + 1e-4
    adv = ((rewards - rewards.mean(1, keepdim=True)) / spread).view(-1, 1)

    def token_logps(model):
        return model(seq[:, :-1]).log_softmax(-1).gather(-1, seq[:, 1:, None]).squeeze(-1)

    with L.no_grad():
        old, refl = token_logps(policy), token_logps(ref)
    opt = L.optim.SGD(policy.parameters(), lr=0.5)
    logs = []
    for _ in range(2):
        logp = token_logps(policy)
        ratio = L.exp(logp - old)
        surr = L.min(ratio * adv, L.clamp(ratio, 0.8, 1.2) * adv)
        drift = refl - logp
        kl = L.exp(drift) - drift - 1               # >= 0, unbiased for KL(policy || ref)
        per_tok = 0.04 * kl - surr
        per_seq = (per_tok * mask).sum(1) / mask.sum(1)
        loss = per_seq.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        logs.append((loss.item(), kl.mean().item(), ratio.max().item()))
    return dict(seq=seq, mask=mask, rewards=rewards, adv=adv, logs=logs,
                w=policy.state_dict())


# ----------------------------------------------------------------------------------------------
# speech separation and time series
# ----------------------------------------------------------------------------------------------
def _si_snr(L, est, ref, eps=1e-8):
    est = est - est.mean(-1, keepdim=True)
    ref = ref - ref.mean(-1, keepdim=True)
    proj = (est * ref).sum(-1, keepdim=True) * ref / (ref.pow(2).sum(-1, keepdim=True) + eps)
    noise = est - proj
    return 10 * L.log10(proj.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps) + eps)


@program
def conv_tasnet_style_separator_with_si_snr_and_permutation_invariant_training(L):
    """A tiny masking separator: a strided Conv1d encoder with ReLU, a 1x1 Conv1d mask net
    emitting C sigmoid masks, a ConvTranspose1d decoder of each masked representation;
    the SI-SNR of every permutation of the sources (itertools.permutations, stacked), the
    best permutation by max per example, the negative mean as the loss; two Adam steps;
    the chosen permutations returned."""
    nn = L.nn
    C, N, K = 2, 6, 4
    L.manual_seed(11)
    enc = nn.Conv1d(1, N, K, stride=K // 2, bias=False).double()
    masker = nn.Sequential(nn.Conv1d(N, N, 3, padding=1), nn.PReLU(),
                           nn.Conv1d(N, C * N, 1)).double()
    dec = nn.ConvTranspose1d(N, 1, K, stride=K // 2, bias=False).double()
    params = [*enc.parameters(), *masker.parameters(), *dec.parameters()]
    src = L.stack([L.sin(L.arange(32, dtype=L.float64) * f) for f in (0.3, 1.1)])
    src = src[None] * L.tensor([[1.0], [0.5]], dtype=L.float64)[None] + \
        0.1 * _t(L, 3, C, 32, seed=12)
    mix = src.sum(1, keepdim=True)
    opt = L.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(2):
        w = L.relu(enc(mix))
        masks = L.sigmoid(masker(w)).view(mix.shape[0], C, N, -1)
        est = dec((masks * w.unsqueeze(1)).view(-1, N, w.shape[-1])).view(mix.shape[0], C, -1)
        perms = list(itertools.permutations(range(C)))
        scores = L.stack([_si_snr(L, est[:, list(p)], src).mean(-1) for p in perms], 1)
        best, which = scores.max(1)
        loss = -best.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, which=which, est=est.detach(), scores=scores.detach(),
                gdec=dec.weight.grad, shape=est.shape)


@program
def autoformer_series_decomposition_and_fft_auto_correlation(L):
    """Autoformer's two pieces: the moving-average series decomposition (the ends repeated
    by cat of expanded first and last steps, avg_pool1d over time after permute, the
    seasonal part as the remainder) and the auto-correlation block (rfft of queries and keys,
    irfft of q * conj(k), top-k delays of the batch-mean correlation taken as Python ints,
    the values rolled by each delay and weighted by a softmax over the chosen
    correlations); a projection trained for two steps."""
    nn, F = L.nn, L.nn.functional
    B, T, D, k = 2, 12, 4, 5
    L.manual_seed(13)
    qp, kp, vp, op = (nn.Linear(D, D).double() for _ in range(4))
    t = L.arange(T, dtype=L.float64)
    x = (L.sin(t * 0.9)[None, :, None] + 0.05 * t[None, :, None]) + \
        0.2 * _t(L, B, T, D, seed=14)

    def decompose(series):
        """(seasonal, trend): the trend a centred k-step moving average along time, the
        series extended at both ends by copies of its first and last steps so that the
        average keeps the length."""
        reach = (k - 1) // 2
        padded = L.cat([series[:, :1].expand(-1, reach, -1), series,
                        series[:, -1:].expand(-1, reach, -1)], 1)
        trend = F.avg_pool1d(padded.permute(0, 2, 1), k, 1).permute(0, 2, 1)
        return series - trend, trend

    def autocorr(q, kk, v, top=3):
        qf, kf = L.fft.rfft(q, dim=1), L.fft.rfft(kk, dim=1)
        corr = L.fft.irfft(qf * L.conj(kf), n=T, dim=1)
        mean = corr.mean(-1)
        delays = L.topk(mean.mean(0), top)[1].tolist()
        weights = L.softmax(L.stack([mean[:, d] for d in delays], -1), -1)
        agg = sum(L.roll(v, -d, 1) * weights[:, i, None, None] for i, d in enumerate(delays))
        return agg, corr, delays

    opt = L.optim.SGD([p for m in (qp, kp, vp, op) for p in m.parameters()], lr=0.05)
    losses = []
    for _ in range(2):
        season, trend = decompose(x)
        agg, corr, delays = autocorr(qp(season), kp(season), vp(season))
        out = op(agg) + trend
        loss = F.mse_loss(out[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(season=season, trend=trend, corr=corr.detach(), delays=delays,
                losses=losses, g=grads_of(qp))


# ----------------------------------------------------------------------------------------------
# approximate attention
# ----------------------------------------------------------------------------------------------
@program
def nystromformer_landmarks_and_iterative_pseudo_inverse(L):
    """Nystromformer attention: landmarks as segment means of queries and keys (reshape and
    mean), the three softmax kernels, the Moore-Penrose pseudo-inverse of the middle kernel by
    the cubic Newton-Schulz iteration from K^T / (max row sum * max column sum), compared with
    linalg.pinv and with exact softmax attention; gradients through the iteration."""
    B, H, N, d, m = 2, 2, 8, 4, 4
    q = _t(L, B, H, N, d, seed=15, grad=True)
    k = _t(L, B, H, N, d, seed=16, grad=True)
    v = _t(L, B, H, N, d, seed=17)
    s = d ** -0.25
    ql, kl = (q * s).reshape(B, H, m, N // m, d).mean(-2), (k * s).reshape(B, H, m, N // m,
                                                                            d).mean(-2)
    k1 = L.softmax((q * s) @ kl.transpose(-1, -2), -1)
    k2 = L.softmax(ql @ kl.transpose(-1, -2), -1)
    k3 = L.softmax(ql @ (k * s).transpose(-1, -2), -1)

    def approx_pinv(a, rounds):
        """Newton-Schulz style iteration for the pseudo-inverse, third order: started at a^T
        over (largest column sum of |a|) * (largest row sum), which keeps it convergent;
        each round z <- z (13 I - P (15 I - P (7 I - P))) / 4 with P = a z."""
        one = L.eye(a.shape[-1], dtype=a.dtype)
        z = a.transpose(-1, -2) / (a.abs().sum(-2).amax() * a.abs().sum(-1).amax())
        for _ in range(rounds):
            p = a @ z
            z = 0.25 * z @ (13 * one - p @ (15 * one - p @ (7 * one - p)))
        return z

    z = approx_pinv(k2, 6)
    out = (k1 @ z) @ (k3 @ v)
    exact = L.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), -1) @ v
    out.pow(2).sum().backward()
    return dict(out=out, z=z, pinv=L.linalg.pinv(k2.detach()), exact=exact.detach(),
                gap=(out - exact).abs().max().item(), gq=q.grad, gk=k.grad)


@program
def reformer_lsh_bucketing_sorted_chunks_and_look_one_back(L):
    """Reformer's LSH attention over shared query-keys: keys normalised, random rotations
    drawn after manual_seed, buckets by argmax of cat([xR, -xR]), positions sorted by
    bucket * T + position (argsort), queries/values gathered into that order, chunked, each
    chunk attending to itself and the previous chunk (cat with roll), attention to oneself
    masked by -1e5, outputs unsorted by the inverse permutation (scatter of arange); the
    gradient of the shared projection."""
    nn, F = L.nn, L.nn.functional
    B, T, D, nb, c = 2, 8, 4, 4, 4
    L.manual_seed(19)
    qk, vproj = nn.Linear(D, D).double(), nn.Linear(D, D).double()
    x = _t(L, B, T, D, seed=20)
    R = L.randn(D, nb // 2, dtype=L.float64)
    h = qk(x)
    keys = F.normalize(h, dim=-1)
    rot = h @ R
    buckets = L.cat([rot, -rot], -1).argmax(-1)
    order = (buckets * T + L.arange(T)).argsort(-1)
    undo = L.empty_like(order).scatter_(1, order, L.arange(T).expand(B, -1))
    sq = h.gather(1, order[..., None].expand(-1, -1, D))
    sk = keys.gather(1, order[..., None].expand(-1, -1, D))
    sv = vproj(x).gather(1, order[..., None].expand(-1, -1, D))
    cq, ck, cv = (t.reshape(B, T // c, c, D) for t in (sq, sk, sv))
    cpos = order.reshape(B, T // c, c)
    ck2 = L.cat([ck, ck.roll(1, 1)], 2)
    cv2 = L.cat([cv, cv.roll(1, 1)], 2)
    kpos = L.cat([cpos, cpos.roll(1, 1)], 2)
    dots = L.einsum("bncd,bnkd->bnck", cq, ck2) / math.sqrt(D)
    dots = dots.masked_fill(cpos[..., :, None] == kpos[..., None, :], -1e5)
    att = dots.softmax(-1)
    out = L.einsum("bnck,bnkd->bncd", att, cv2).reshape(B, T, D)
    out = out.gather(1, undo[..., None].expand(-1, -1, D))
    out.pow(2).mean().backward()
    return dict(buckets=buckets, order=order, undo=undo, out=out, att=att.detach(),
                g=grads_of(qk), gv=grads_of(vproj))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
