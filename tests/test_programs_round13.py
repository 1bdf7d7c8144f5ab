"""Whole programs in the idioms of code people run, a thirteenth round: generative and
self-supervised models and the reinforcement-learning and speech code of public repositories.
DDPM training (a linear beta schedule gathered per sample, sinusoidal time embeddings, a small
UNet of GroupNorm residual blocks with self-attention, an EMA copy of the weights, a reverse
sampling step), a VAE's reparameterisation and closed-form KL, a VQ-VAE codebook with the
straight-through estimator and EMA updates, SimCLR's NT-Xent and CLIP's symmetric loss with a
learned temperature, MoCo's queue, BYOL's predictor and Barlow Twins' cross-correlation, PPO
with GAE over a Categorical policy, DQN with a replay buffer and a target network, SAC's
tanh-squashed Normal, a hand-built mel filterbank and MFCC, a CTC speech model with greedy
decoding, STFT/iSTFT round trips, DLRM's EmbeddingBag interactions and a DeepFM.  Part b holds
the training machinery of the round.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (drawn after ``L.manual_seed``, which gives PyTorch's numbers in minigrad);
both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes, shapes and
requires_grad, or raise the same exception type with torch's words.
"""
import copy
import math
import random
from collections import deque

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, registry, program_harness, leaf as _t, ddpm_blocks)


HARNESS = program_harness()
PROGRAMS, program = registry()
F32 = dict(rtol=2e-5, atol=2e-6)   # float32 programs: their Python-float losses as float32's


# ----------------------------------------------------------------------------------------------
# diffusion
# ----------------------------------------------------------------------------------------------
def _timestep_embedding(L, t, dim):
    half = dim // 2
    freqs = L.exp(-math.log(10000) * L.arange(half, dtype=L.float64) / half)
    args = t[:, None].to(L.float64) * freqs[None]
    return L.cat([L.cos(args), L.sin(args)], dim=-1)


@program
def ddpm_training_step_with_gathered_schedule_groupnorm_unet_and_ema(L):
    """A DDPM training loop: betas by linspace,
    alphas_cumprod by cumprod, sqrt tables gathered at random timesteps and reshaped to
    (B, 1, 1, 1); a tiny UNet of GroupNorm/SiLU residual blocks taking a sinusoidal time
    embedding through an MLP, a self-attention block over the flattened feature map, a
    down/up path with skip concatenation; MSE to the noise; an EMA copy updated by
    mul_/add_ under no_grad; one reverse step x_{t-1} from the EMA model."""
    nn, F = L.nn, L.nn.functional
    T = 50
    betas = L.linspace(1e-4, 0.02, T, dtype=L.float64)
    alphas = 1.0 - betas
    abar = L.cumprod(alphas, dim=0)
    abar_prev = F.pad(abar[:-1], (1, 0), value=1.0)
    sqrt_ab, sqrt_1mab = abar.sqrt(), (1 - abar).sqrt()
    post_var = betas * (1 - abar_prev) / (1 - abar)

    def at_steps(table, t, like):
        """table[t] per sample, shaped (B, 1, ..., 1) to broadcast against ``like``."""
        per_sample = table.gather(-1, t)
        return per_sample.reshape(t.shape[0], *([1] * (len(like) - 1)))

    ResBlock, Attn = ddpm_blocks(L)

    class UNet(nn.Module):
        def __init__(self, c=4, tdim=8):
            super().__init__()
            self.tdim = tdim
            self.tmlp = nn.Sequential(nn.Linear(tdim, 2 * tdim), nn.SiLU(),
                                      nn.Linear(2 * tdim, tdim))
            self.inc = nn.Conv2d(1, c, 3, padding=1)
            self.d1 = ResBlock(c, c, tdim)
            self.down = nn.Conv2d(c, c, 3, stride=2, padding=1)
            self.mid, self.attn = ResBlock(c, 2 * c, tdim), Attn(2 * c)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.u1 = ResBlock(3 * c, c, tdim)
            self.out = nn.Sequential(nn.GroupNorm(2, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

        def forward(self, x, t):
            temb = self.tmlp(_timestep_embedding(L, t, self.tdim).to(x.dtype))
            h1 = self.d1(self.inc(x), temb)
            h = self.attn(self.mid(self.down(h1), temb))
            h = self.u1(L.cat([self.up(h), h1], dim=1), temb)
            return self.out(h)

    L.manual_seed(0)
    model = UNet().double()
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = L.optim.Adam(model.parameters(), lr=2e-3)
    x0 = _t(L, 4, 1, 8, 8, seed=1)
    losses = []
    for step in range(3):
        t = L.randint(0, T, (x0.shape[0],))
        noise = L.randn_like(x0)
        xt = at_steps(sqrt_ab, t, x0.shape) * x0 + at_steps(sqrt_1mab, t, x0.shape) * noise
        loss = F.mse_loss(model(xt, t), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(0.9).add_(pm.detach(), alpha=0.1)
        losses.append(loss.item())
    with L.no_grad():
        x = L.randn(2, 1, 8, 8, dtype=L.float64)
        t = L.full((2,), T - 1, dtype=L.long)
        eps = ema(x, t)
        coef = at_steps(betas, t, x.shape) / at_steps(sqrt_1mab, t, x.shape)
        mean = (x - coef * eps) / at_steps(alphas, t, x.shape).sqrt()
        x_prev = mean + at_steps(post_var, t, x.shape).sqrt() * L.randn_like(x)
    return dict(losses=losses, x_prev=x_prev, ema=ema.state_dict(), g=grads_of(model),
                t=t, post=post_var[:4])


@program(**F32)
def ddim_sampler_with_classifier_free_guidance_and_a_generator(L):
    """Deterministic DDIM sampling (eta = 0) with classifier-free guidance: ten timesteps
    counted down (arange with a stride, then flip), the class-conditioned MLP denoiser
    evaluated once on the batch stacked with itself under a null class, the two noise
    estimates extrapolated by a guidance weight of 2.5, the clean sample estimated and
    clamped to [-1, 1] before stepping; starting noise drawn from its own seeded
    torch.Generator, everything under inference_mode."""
    nn = L.nn
    T = 100
    betas = L.linspace(1e-4, 0.02, T, dtype=L.float32)
    abar = L.cumprod(1 - betas, 0)

    class Denoiser(nn.Module):
        def __init__(self, d=6, ncls=3):
            super().__init__()
            self.emb = nn.Embedding(ncls + 1, 8)
            self.net = nn.Sequential(nn.Linear(d + 8 + 8, 32), nn.Mish(), nn.Linear(32, d))

        def forward(self, x, t, y):
            return self.net(L.cat([x, _timestep_embedding(L, t, 8).float(), self.emb(y)], -1))

    L.manual_seed(3)
    model = Denoiser().eval()
    g = L.Generator().manual_seed(42)
    x = L.randn(4, 6, generator=g)
    y = L.tensor([0, 1, 2, 1])
    null = L.full_like(y, 3)
    ts = L.arange(0, T, T // 10).flip(0)
    traj = []
    with L.inference_mode():
        for i, t in enumerate(ts):
            tb = t.repeat(x.shape[0])
            eps_c, eps_u = model(L.cat([x, x]), L.cat([tb, tb]), L.cat([y, null])).chunk(2)
            eps = eps_u + 2.5 * (eps_c - eps_u)
            a_t = abar[t]
            a_prev = abar[ts[i + 1]] if i + 1 < len(ts) else L.tensor(1.0)
            x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            traj.append(x.norm().item())
    return dict(x=x, traj=traj, ts=ts, inf=x.is_inference())


# ----------------------------------------------------------------------------------------------
# VAEs
# ----------------------------------------------------------------------------------------------
@program
def conv_vae_reparameterisation_bce_and_closed_form_kl_with_beta_warmup(L):
    """A convolutional VAE on 8x8 binary images: two stride-2 convs give a 32-vector that two
    Linear heads turn into the posterior's mean and log-variance; the code is the mean plus
    randn_like noise times exp(log-variance / 2); a Linear and two ConvTranspose2d layers map
    it back to pixel logits. The loss is summed BCE-with-logits plus beta times the Gaussian
    KL to N(0, I) in closed form, beta ramping linearly to 1 over four Adam steps; then, in
    eval mode and without grad, sigmoid reconstructions and two decodes of prior draws."""
    nn, F = L.nn, L.nn.functional

    class ConvGaussianVAE(nn.Module):
        def __init__(self, latent=3):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2),
                nn.Conv2d(4, 8, 3, 2, 1), nn.LeakyReLU(0.2), nn.Flatten())
            self.to_mean, self.to_log_var = nn.Linear(32, latent), nn.Linear(32, latent)
            self.expand = nn.Linear(latent, 32)
            self.upsample = nn.Sequential(nn.Unflatten(1, (8, 2, 2)),
                                          nn.ConvTranspose2d(8, 4, 4, 2, 1), nn.ReLU(),
                                          nn.ConvTranspose2d(4, 1, 4, 2, 1))

        def decode(self, code):
            return self.upsample(self.expand(code))

        def forward(self, images):
            f = self.features(images)
            mean, log_var = self.to_mean(f), self.to_log_var(f)
            spread = L.exp(0.5 * log_var)
            code = mean + L.randn_like(spread) * spread    # differentiable in mean and spread
            return self.decode(code), mean, log_var

    def kl_to_standard_normal(mean, log_var):
        # KL(N(m, s^2) || N(0, 1)) per coordinate is (m^2 + s^2 - 1 - log s^2) / 2
        return -0.5 * L.sum(1 + log_var - mean.pow(2) - log_var.exp())

    L.manual_seed(5)
    model = ConvGaussianVAE().double()
    images = L.tensor((np.random.RandomState(2).rand(6, 1, 8, 8) > 0.6).astype(np.float64))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    hist, n_steps = [], 4
    for k in range(1, n_steps + 1):
        logits, mean, log_var = model(images)
        recon_term = F.binary_cross_entropy_with_logits(logits, images, reduction="sum")
        kl_term = kl_to_standard_normal(mean, log_var)
        loss = (recon_term + min(1.0, k / n_steps) * kl_term) / images.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((recon_term.item(), kl_term.item()))
    model.eval()
    with L.no_grad():
        recon = L.sigmoid(model(images)[0])
        samples = L.sigmoid(model.decode(L.randn(2, 3, dtype=L.float64)))
    return dict(hist=hist, recon=recon, samples=samples, g=grads_of(model))


@program(**F32)
def vq_vae_codebook_straight_through_and_ema_updates(L):
    """A VQ-VAE quantiser: distances |z|^2 - 2 z e^T + |e|^2, argmin codes, one_hot
    encodings, the straight-through z + (q - z).detach(), codebook and commitment losses,
    perplexity from the mean usage; the EMA codebook update of the Sonnet-style repos by
    cluster sizes with Laplace smoothing and an embedding sum of encodings^T z, copied into
    the buffer with .data.copy_."""
    nn, F = L.nn, L.nn.functional

    class EMACodebook(nn.Module):
        """Nearest-code quantisation of NHWC vectors; in training the codes follow the
        exponential averages of the vectors assigned to them (counts Laplace-smoothed);
        a straight-through estimator and a commitment loss."""

        def __init__(self, K=6, D=3, decay=0.9, eps=1e-5):
            super().__init__()
            self.K, self.D, self.decay, self.eps = K, D, decay, eps
            self.codes = nn.Embedding(K, D)
            self.codes.weight.data.normal_()
            self.register_buffer("counts", L.zeros(K))
            self.sums = nn.Parameter(L.empty(K, D).normal_(), requires_grad=False)

        def assign(self, flat):
            w = self.codes.weight
            sq = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ w.t() + w.pow(2).sum(1)
            idx = L.argmin(sq, dim=1).unsqueeze(1)
            onehot = L.zeros(idx.shape[0], self.K, device=flat.device)
            onehot.scatter_(1, idx, 1)
            return idx, onehot

        def follow(self, flat, onehot):
            rate = 1 - self.decay
            self.counts.mul_(self.decay).add_(onehot.sum(0), alpha=rate)
            total = self.counts.sum()
            self.counts.data = (self.counts + self.eps) / (total + self.K * self.eps) * total
            self.sums.data.copy_(self.sums * self.decay + rate * (onehot.t() @ flat))
            self.codes.weight.data.copy_(self.sums / self.counts.unsqueeze(1))

        def forward(self, z):
            z = z.permute(0, 2, 3, 1).contiguous()
            flat = z.view(-1, self.D)
            idx, onehot = self.assign(flat)
            q = (onehot @ self.codes.weight).view(z.shape)
            if self.training:
                self.follow(flat, onehot)
            commit = F.mse_loss(q.detach(), z)
            q = z + (q - z).detach()
            usage = onehot.mean(0)
            perplexity = L.exp(-L.sum(usage * L.log(usage + 1e-10)))
            return 0.25 * commit, q.permute(0, 3, 1, 2).contiguous(), perplexity, idx

    L.manual_seed(7)
    enc = nn.Conv2d(2, 3, 3, padding=1)
    vq = EMACodebook()
    dec = nn.Conv2d(3, 2, 3, padding=1)
    x = L.tensor(np.random.RandomState(3).randn(2, 2, 4, 4).astype(np.float32))
    params = list(enc.parameters()) + list(dec.parameters())
    opt = L.optim.Adam(params, lr=1e-2)
    out = []
    for _ in range(3):
        commit, q, ppl, idx = vq(enc(x))
        loss = F.mse_loss(dec(q), x) + commit
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((loss.item(), ppl.item()))
    return dict(out=out, idx=idx, cb=vq.codes.weight, cs=vq.counts,
                g=[p.grad for p in params])


@program(**F32)
def gumbel_softmax_vae_with_hard_samples_and_temperature_annealing(L):
    """A categorical VAE: logits reshaped to (B, latents, classes), F.gumbel_softmax with
    hard=True under the seed (a one-hot forward, soft gradients), the KL to a uniform
    prior by q log(q K) summed, the temperature annealed by max(0.5, exp(-r step))."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(11)
    enc = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3 * 4))
    dec = nn.Sequential(nn.Linear(3 * 4, 16), nn.ReLU(), nn.Linear(16, 10))
    x = L.tensor((np.random.RandomState(4).rand(5, 10) > 0.5).astype(np.float32))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    hist = []
    for step in range(3):
        tau = max(0.5, math.exp(-0.3 * step))
        logits = enc(x).view(-1, 3, 4)
        z = F.gumbel_softmax(logits, tau=tau, hard=True)
        q = F.softmax(logits, dim=-1)
        kl = (q * L.log(q * 4 + 1e-20)).sum(dim=(1, 2)).mean()
        rec = F.binary_cross_entropy(L.sigmoid(dec(z.view(-1, 12))), x, reduction="sum") / 5
        loss = rec + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((rec.item(), kl.item()))
    return dict(hist=hist, z=z, g=grads_of(enc))


# ----------------------------------------------------------------------------------------------
# self-supervised and contrastive
# ----------------------------------------------------------------------------------------------
@program(**F32)
def simclr_nt_xent_with_masked_diagonal_and_temperature(L):
    """SimCLR's NT-Xent: two augmented views (noise and random feature dropout by
    bernoulli), an MLP encoder and projection head with BatchNorm1d, F.normalize'd
    projections, the 2N x 2N cosine matrix by matmul, the diagonal masked by
    masked_fill(eye.bool(), -inf), positives at (i + N) % 2N, cross_entropy over the
    temperature-scaled rows; top-1 positive accuracy by argmax."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(13)
    encoder = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16))
    head = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    x = L.tensor(np.random.RandomState(5).randn(6, 8).astype(np.float32))

    def augment(v):
        keep = L.bernoulli(L.full_like(v, 0.8))
        return v * keep + 0.1 * L.randn_like(v)

    def nt_xent(z1, z2, tau=0.5):
        z = F.normalize(L.cat([z1, z2], dim=0), dim=1)
        sim = z @ z.T / tau
        n = z1.shape[0]
        sim = sim.masked_fill(L.eye(2 * n, dtype=L.bool), float("-inf"))
        targets = (L.arange(2 * n) + n) % (2 * n)
        return F.cross_entropy(sim, targets), (sim.argmax(1) == targets).float().mean()

    opt = L.optim.SGD(list(encoder.parameters()) + list(head.parameters()), lr=0.1,
                      momentum=0.9, weight_decay=1e-4)
    hist = []
    for _ in range(3):
        loss, acc = nt_xent(head(encoder(augment(x))), head(encoder(augment(x))))
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((loss.item(), acc.item()))
    return dict(hist=hist, g=grads_of(encoder), rm=encoder[1].running_mean)


@program(**F32)
def clip_symmetric_loss_with_learned_clamped_logit_scale(L):
    """CLIP's training objective: an image tower and a text tower (EmbeddingBag of token
    ids with offsets, mean mode), both projected without bias and L2-normalised by
    x / x.norm(dim=-1, keepdim=True); logit_scale a Parameter initialised to log(1/0.07),
    exponentiated and clamped to 100; logits_per_image and its transpose; the mean of the
    two cross entropies; the log-scale clamped in place after each step."""
    nn, F = L.nn, L.nn.functional

    class TwoTowers(nn.Module):
        """Image and text embeddings on the unit sphere, compared by a learned temperature
        (stored as its log, starting at 1 / 0.07)."""

        def __init__(self, d=6):
            super().__init__()
            self.visual = nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, d, bias=False))
            self.tok = nn.EmbeddingBag(20, 16, mode="mean")
            self.text_proj = nn.Parameter(L.randn(16, d) * 16 ** -0.5)
            self.log_temp = nn.Parameter(L.ones([]) * math.log(1 / 0.07))

        def forward(self, img, ids, offsets):
            def unit(v):
                return v / v.norm(dim=-1, keepdim=True)

            img_e = unit(self.visual(img))
            txt_e = unit(self.tok(ids, offsets) @ self.text_proj)
            sim = self.log_temp.exp().clamp(max=100) * img_e @ txt_e.t()    # [image, text]
            return sim, sim.t()

    L.manual_seed(17)
    model = TwoTowers()
    img = L.tensor(np.random.RandomState(6).randn(4, 12).astype(np.float32))
    ids = L.tensor(np.random.RandomState(7).randint(0, 20, 11))
    offsets = L.tensor([0, 3, 5, 9])
    opt = L.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.2, betas=(0.9, 0.98),
                        eps=1e-6)
    labels = L.arange(4)
    hist = []
    for _ in range(3):
        li, lt = model(img, ids, offsets)
        loss = (F.cross_entropy(li, labels) + F.cross_entropy(lt, labels)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            model.log_temp.clamp_(0, math.log(100))
        hist.append(loss.item())
    return dict(hist=hist, li=li, g=grads_of(model), scale=model.log_temp)


@program(**F32)
def moco_momentum_encoder_with_a_queue_of_negatives(L):
    """MoCo v2: a query encoder and a key encoder initialised by param_k.data.copy_(param_q)
    and requires_grad False, the momentum update under no_grad, positive logits by einsum
    'nc,nc->n' and negatives 'nc,ck->nk' against a normalised queue buffer, labels all zero,
    the queue refreshed by slice assignment at a pointer kept in a long buffer."""
    nn, F = L.nn, L.nn.functional

    def mlp(dim):
        return nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, dim))

    class MomentumContrast(nn.Module):
        """Queries from a trained encoder, keys from a slowly following copy (an EMA of its
        weights, no gradients); each query's positive is its own key, its negatives a FIFO
        queue of earlier keys held in a buffer with a write pointer."""

        def __init__(self, dim=4, K=8, m=0.9, T=0.2):
            super().__init__()
            self.K, self.m, self.T = K, m, T
            self.query_net, self.key_net = mlp(dim), mlp(dim)
            for fast, slow in zip(self.query_net.parameters(), self.key_net.parameters()):
                slow.data.copy_(fast.data)
                slow.requires_grad = False
            self.register_buffer("queue", F.normalize(L.randn(dim, K), dim=0))
            self.register_buffer("queue_ptr", L.zeros(1, dtype=L.long))

        @L.no_grad()
        def follow(self):
            for fast, slow in zip(self.query_net.parameters(), self.key_net.parameters()):
                slow.data = slow.data * self.m + fast.data * (1.0 - self.m)

        @L.no_grad()
        def push(self, keys):
            at = int(self.queue_ptr)
            self.queue[:, at:at + keys.shape[0]] = keys.T
            self.queue_ptr[0] = (at + keys.shape[0]) % self.K

        def forward(self, a, b):
            q = F.normalize(self.query_net(a), dim=1)
            with L.no_grad():
                self.follow()
                k = F.normalize(self.key_net(b), dim=1)
            positive = L.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
            negative = L.einsum("nc,ck->nk", [q, self.queue.clone().detach()])
            logits = L.cat([positive, negative], dim=1) / self.T
            self.push(k)
            return logits, L.zeros(logits.shape[0], dtype=L.long)   # the positive is class 0

    L.manual_seed(19)
    model = MomentumContrast()
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    hist = []
    for s in range(3):
        x = L.tensor(np.random.RandomState(10 + s).randn(4, 6).astype(np.float32))
        logits, labels = model(x + 0.05 * L.randn_like(x), x + 0.05 * L.randn_like(x))
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    return dict(hist=hist, queue=model.queue, ptr=model.queue_ptr,
                k=model.key_net.state_dict(), g=grads_of(model))


@program
def byol_predictor_with_ema_target_and_barlow_twins_cross_correlation(L):
    """Two self-supervised objectives on one pair of augmented views. BYOL: a predictor on the
    online network must match the other view's output of a target network (2 - 2 cos, both
    orders summed), the target following the online weights as a moving average done with
    torch._foreach_mul_ and _foreach_add_. Barlow Twins on the online outputs: the
    cross-correlation of the two views' batch-standardised features pushed to the identity,
    the diagonal through an in-place diagonal view and the off-diagonal entries picked by a
    flatten / view / slice trick, their squares down-weighted."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(23)

    def mlp(i, h, o):
        return nn.Sequential(nn.Linear(i, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(),
                             nn.Linear(h, o))

    online = nn.Sequential(mlp(8, 16, 8), mlp(8, 16, 4)).double()
    predictor = mlp(4, 8, 4).double()
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    x = _t(L, 6, 8, seed=8)

    def prediction_gap(pred, aim):
        # squared distance of unit vectors, |a - b|^2 = 2 - 2 cos(a, b); no gradient to aim
        return 2 - 2 * F.cosine_similarity(pred, aim.detach(), dim=-1).mean()

    def redundancy_penalty(za, zb, weight=5e-3):
        standardise = nn.BatchNorm1d(za.shape[1], affine=False).double()
        corr = standardise(za).T @ standardise(zb) / za.shape[0]      # (d, d)
        d = corr.shape[0]
        # the diagonal (a view of corr, changed in place) should be 1 ...
        invariance = L.diagonal(corr).add_(-1).pow_(2).sum()
        # ... the rest 0: without the last entry, the d*d - 1 values read d + 1 to a row
        # start each row with a diagonal entry, so columns 1: are the off-diagonal ones
        cross = corr.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()
        return invariance + weight * cross.pow_(2).sum()

    opt = L.optim.Adam(list(online.parameters()) + list(predictor.parameters()), lr=3e-3)
    hist = []
    for _ in range(3):
        v1, v2 = x + 0.1 * L.randn_like(x), x * (1 + 0.1 * L.randn_like(x))
        o1, o2 = online(v1), online(v2)
        with L.no_grad():
            t1, t2 = target(v1), target(v2)
        loss = (prediction_gap(predictor(o1), t2) + prediction_gap(predictor(o2), t1)
                + 0.01 * redundancy_penalty(o1, o2))
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            tp, op = list(target.parameters()), list(online.parameters())
            L._foreach_mul_(tp, 0.99)
            L._foreach_add_(tp, op, alpha=0.01)
        hist.append(loss.item())
    return dict(hist=hist, t=target.state_dict(), g=grads_of(predictor))


@program
def triplet_mining_and_arcface_margin_for_metric_learning(L):
    """Metric learning three ways on one embedding net: batch-hard triplets mined from a cdist
    matrix (the farthest same-label point by a masked max, the nearest other-label point by a
    min once same-label distances are pushed up by the largest distance) under a hinge; an
    angular-margin softmax head on normalised embeddings and class weights (sin from cos by
    sqrt of a clamp, a where for the wrap-round case, a scatter_ one-hot choosing which class
    gets the margin); and TripletMarginLoss with swap on hand-picked triplets."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(29)
    emb_net = nn.Sequential(nn.Linear(5, 12), nn.PReLU(), nn.Linear(12, 4))
    W = nn.Parameter(L.randn(3, 4, dtype=L.float64))
    emb_net.double()
    x = _t(L, 9, 5, seed=9)
    y = L.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    e = emb_net(x)
    d = L.cdist(e, e)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    d_ap = (d * same.float()).max(dim=1).values
    d_an = (d + d.max() * same.double()).min(dim=1).values
    tri = F.relu(d_ap - d_an + 0.3).mean()
    # additive angular margin: the true class scores cos(theta + m) = cos cos(m) - sin sin(m)
    # instead of cos(theta); beyond theta = pi - m, where theta + m would wrap round, it
    # scores cos(theta) - m sin(m) so the logit keeps falling as theta grows
    margin, scale = 0.2, 16.0
    cos_t = F.linear(F.normalize(e), F.normalize(W))
    sin_t = L.sqrt((1.0 - cos_t.pow(2)).clamp(0, 1))
    shifted = L.where(cos_t > math.cos(math.pi - margin),
                      cos_t * math.cos(margin) - sin_t * math.sin(margin),
                      cos_t - math.sin(math.pi - margin) * margin)
    is_label = L.zeros_like(cos_t).scatter_(1, y.view(-1, 1), 1.0)
    arc = F.cross_entropy(scale * (is_label * shifted + (1.0 - is_label) * cos_t), y)
    tml = nn.TripletMarginLoss(margin=0.5, p=2, swap=True)(e[[0, 3, 6]], e[[1, 4, 7]],
                                                           e[[3, 6, 0]])
    (tri + arc + tml).backward()
    return dict(tri=tri, arc=arc, tml=tml, g=grads_of(emb_net), gw=W.grad)


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
class _ChainEnv:
    """A deterministic toy environment in numpy: a position on a line pushed by actions."""

    def __init__(self, seed):
        self.rng = np.random.RandomState(seed)
        self.pos = 0.0

    def reset(self):
        self.pos = float(self.rng.uniform(-1, 1))
        return np.array([self.pos, 0.0], dtype=np.float32)

    def step(self, a):
        self.pos += (float(a) - 1.0) * 0.3
        r = 1.0 - abs(self.pos)
        done = abs(self.pos) > 1.5
        return np.array([self.pos, r], dtype=np.float32), r, done


@program(**F32)
def ppo_with_gae_clipped_ratio_value_loss_and_entropy_bonus(L):
    """PPO with a discrete policy: an actor-critic with orthogonal init (nn.init.orthogonal_
    with gain sqrt(2), 1 or 0.01, constant_ biases), rollouts sampled from
    Categorical(logits=...) under the seed, generalised advantage estimates computed
    backwards with episode-continuation masks, advantages normalised per minibatch,
    minibatches from a seeded permutation, the clipped surrogate on exp(new - old
    log-prob), the k3 KL estimate, the clipped fraction, a clipped value loss, an entropy
    bonus, clip_grad_norm_ with max_norm 0.5."""
    nn = L.nn
    D = L.distributions

    def ortho(layer, gain=math.sqrt(2), bias=0.0):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.constant_(layer.bias, bias)
        return layer

    class ActorCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.value_net = nn.Sequential(ortho(nn.Linear(2, 16)), nn.Tanh(),
                                           ortho(nn.Linear(16, 1), gain=1.0))
            self.policy_net = nn.Sequential(ortho(nn.Linear(2, 16)), nn.Tanh(),
                                            ortho(nn.Linear(16, 3), gain=0.01))

        def act(self, obs, chosen=None):
            """(action, its log-prob, the policy's entropy, the value); samples an action
            when none is given."""
            pi = D.Categorical(logits=self.policy_net(obs))
            if chosen is None:
                chosen = pi.sample()
            return chosen, pi.log_prob(chosen), pi.entropy(), self.value_net(obs)

    L.manual_seed(31)
    agent = ActorCritic()
    opt = L.optim.Adam(agent.parameters(), lr=2.5e-4, eps=1e-5)
    env = _ChainEnv(0)
    N = 16
    obs_buf = L.zeros(N, 2)
    act_buf, logp_buf = L.zeros(N), L.zeros(N)
    rew_buf, done_buf, val_buf = L.zeros(N), L.zeros(N), L.zeros(N)
    cur_obs, cur_done = L.tensor(env.reset()), L.zeros(())
    for k in range(N):
        obs_buf[k] = cur_obs
        done_buf[k] = cur_done
        with L.no_grad():
            a, lp, _, v = agent.act(cur_obs)
            val_buf[k] = v.flatten()
        act_buf[k], logp_buf[k] = a, lp
        o, r, d = env.step(a.item())
        if d:
            o = env.reset()
        rew_buf[k] = L.tensor(r).view(-1)
        cur_obs, cur_done = L.tensor(o), L.tensor(float(d))
    gamma, lam = 0.99, 0.95
    with L.no_grad():
        bootstrap = agent.value_net(cur_obs).reshape(1, -1)
        adv = L.zeros_like(rew_buf)
        running = 0
        for k in range(N - 1, -1, -1):
            # the step after k: whether the episode went on into it, and its value
            if k == N - 1:
                alive, v_next = 1.0 - cur_done, bootstrap
            else:
                alive, v_next = 1.0 - done_buf[k + 1], val_buf[k + 1]
            td = rew_buf[k] + gamma * v_next * alive - val_buf[k]
            running = td + gamma * lam * alive * running
            adv[k] = running
        ret = adv + val_buf
    g = L.Generator().manual_seed(1)
    stats = []
    for epoch in range(2):
        order = L.randperm(N, generator=g)
        for lo in range(0, N, 8):
            mb = order[lo:lo + 8]
            _, logp, ent, v = agent.act(obs_buf[mb], act_buf.long()[mb])
            log_ratio = logp - logp_buf[mb]
            ratio = log_ratio.exp()
            with L.no_grad():
                kl_est = ((ratio - 1) - log_ratio).mean()
                clipped_share = ((ratio - 1.0).abs() > 0.2).float().mean().item()
            a_mb = adv[mb]
            a_mb = (a_mb - a_mb.mean()) / (a_mb.std() + 1e-8)
            policy_loss = L.max(-a_mb * ratio, -a_mb * L.clamp(ratio, 0.8, 1.2)).mean()
            v = v.view(-1)
            v_clip = val_buf[mb] + L.clamp(v - val_buf[mb], -0.2, 0.2)
            value_loss = 0.5 * L.max((v - ret[mb]) ** 2, (v_clip - ret[mb]) ** 2).mean()
            loss = policy_loss - 0.01 * ent.mean() + value_loss * 0.5
            opt.zero_grad()
            loss.backward()
            norm = nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
            stats.append((loss.item(), kl_est.item(), clipped_share, norm.item()))
    var_ret = ret.var()
    explained = float("nan") if var_ret == 0 else 1 - (ret - val_buf).var() / var_ret
    return dict(stats=stats, adv=adv, actions=act_buf, explained=explained,
                sd=agent.state_dict())


@program(**F32)
def dqn_replay_buffer_gather_huber_and_target_network_sync(L):
    """A DQN loop: epsilon-greedy by Python's seeded random, a deque replay
    buffer sampled by random.sample, the batch stacked by torch.tensor(np.array(...)),
    Q(s, a) by gather(1, a.unsqueeze(1)), targets from the target net's max(1)[0] masked
    by done, SmoothL1Loss, clip_grad_value_, and the target network synced by
    load_state_dict every few steps; a soft (Polyak) update as the alternative."""
    nn = L.nn
    L.manual_seed(37)
    rnd = random.Random(0)

    def qnet():
        return nn.Sequential(nn.Linear(2, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(),
                             nn.Linear(24, 3))

    policy, target = qnet(), qnet()
    target.load_state_dict(policy.state_dict())
    target.eval()
    opt = L.optim.AdamW(policy.parameters(), lr=1e-3, amsgrad=True)
    memory = deque(maxlen=64)
    env = _ChainEnv(1)
    state = env.reset()
    losses, qs = [], []
    for step in range(40):
        eps = 0.05 + 0.9 * math.exp(-step / 20)
        if rnd.random() > eps:
            with L.no_grad():
                q_now = policy(L.tensor(state).unsqueeze(0))
                action = q_now.max(1).indices.view(1, 1).item()         # greedy
        else:
            action = rnd.randrange(3)
        nxt, r, done = env.step(action)
        memory.append((state, action, r, nxt, done))
        state = env.reset() if done else nxt
        if len(memory) < 16:
            continue
        batch = rnd.sample(memory, 8)
        s, a, r, s2, d = zip(*batch)
        s = L.tensor(np.array(s))
        a = L.tensor(a, dtype=L.int64)
        r = L.tensor(r, dtype=L.float32)
        s2 = L.tensor(np.array(s2))
        d = L.tensor(d, dtype=L.bool)
        q = policy(s).gather(1, a.unsqueeze(1))
        with L.no_grad():
            nq = target(s2).max(1)[0]
            nq[d] = 0.0
        expected = r + 0.9 * nq
        loss = nn.SmoothL1Loss()(q, expected.unsqueeze(1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(policy.parameters(), 100)
        opt.step()
        losses.append(loss.item())
        qs.append(q.detach().mean().item())
        if step % 10 == 0:
            target.load_state_dict(policy.state_dict())
        else:
            tau = 0.005                                  # Polyak averaging otherwise
            online = policy.state_dict()
            mixed = {name: w * tau + old * (1 - tau)
                     for (name, w), old in zip(online.items(), target.state_dict().values())}
            target.load_state_dict(mixed)
    return dict(losses=losses, qs=qs, t=target.state_dict())


@program
def sac_tanh_squashed_normal_with_log_prob_correction_and_twin_critics(L):
    """Soft actor-critic's actor: mean and log_std heads, log_std clamped then rescaled by
    tanh into [min, max], Normal(mean, std).rsample() pushed through tanh with the
    log-prob correction log(scale (1 - y^2) + eps) summed over actions; twin Q critics with
    min over them; the entropy temperature log_alpha learned against a target entropy;
    critic targets under no_grad; the actor loss (alpha logp - min Q).mean()."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(41)

    class SquashedGaussianActor(nn.Module):
        """Actions in [-scale, scale]: a Normal draw squashed by tanh and scaled, its
        log-density corrected by the log-Jacobian of that map; the log-std bounded to
        [-5, 2] by an affine map of a tanh."""

        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(3, 16), nn.ReLU())
            self.mu_head, self.log_sd_head = nn.Linear(16, 2), nn.Linear(16, 2)
            self.register_buffer("scale", L.tensor([1.0, 2.0], dtype=L.float64))

        def forward(self, x):
            h = self.trunk(x)
            lo, hi = -5, 2
            unit = L.tanh(self.log_sd_head(h))
            return self.mu_head(h), lo + 0.5 * (hi - lo) * (unit + 1)

        def sample(self, x):
            """(action, log-density summed over the action dims, deterministic action)."""
            mu, log_sd = self(x)
            base = D.Normal(mu, log_sd.exp())
            u = base.rsample()
            squashed = L.tanh(u)
            log_jac = L.log(self.scale * (1 - squashed.pow(2)) + 1e-6)
            logp = (base.log_prob(u) - log_jac).sum(1, keepdim=True)
            return squashed * self.scale, logp, L.tanh(mu) * self.scale

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))

        def forward(self, s, a):
            return self.net(L.cat([s, a], 1))

    actor, q1, q2 = SquashedGaussianActor().double(), Critic().double(), Critic().double()
    q1_t, q2_t = copy.deepcopy(q1), copy.deepcopy(q2)
    log_alpha = L.zeros(1, requires_grad=True, dtype=L.float64)
    q_opt = L.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=1e-3)
    a_opt = L.optim.Adam(actor.parameters(), lr=3e-4)
    al_opt = L.optim.Adam([log_alpha], lr=1e-3)
    s, s2 = _t(L, 6, 3, seed=12), _t(L, 6, 3, seed=13)
    a, r = _t(L, 6, 2, seed=14).clamp(-1, 1), _t(L, 6, seed=15)
    done = L.tensor([0.0, 0, 1, 0, 0, 1], dtype=L.float64)
    target_entropy = -2.0
    hist = []
    for _ in range(2):
        alpha = log_alpha.exp().item()
        with L.no_grad():
            a2, logp2, _ = actor.sample(s2)
            soft_v = L.min(q1_t(s2, a2), q2_t(s2, a2)) - alpha * logp2
            y = r + (1 - done) * 0.99 * soft_v.view(-1)
        critic_loss = F.mse_loss(q1(s, a).view(-1), y) + F.mse_loss(q2(s, a).view(-1), y)
        q_opt.zero_grad()
        critic_loss.backward()
        q_opt.step()
        a_new, logp, _ = actor.sample(s)
        actor_loss = ((alpha * logp) - L.min(q1(s, a_new), q2(s, a_new))).mean()
        a_opt.zero_grad()
        actor_loss.backward()
        a_opt.step()
        with L.no_grad():
            _, logp, _ = actor.sample(s)
        alpha_loss = (-log_alpha.exp() * (logp + target_entropy)).mean()
        al_opt.zero_grad()
        alpha_loss.backward()
        al_opt.step()
        hist.append((critic_loss.item(), actor_loss.item(), alpha_loss.item()))
    return dict(hist=hist, alpha=log_alpha, actor=grads_of(actor), q=grads_of(q1))


@program(**F32)
def reinforce_with_baseline_discounted_returns_and_normal_policy(L):
    """Policy gradient with a learned baseline on a continuous action: the mean of a Normal
    policy comes from an MLP, its log standard deviation is one free Parameter, and the two
    action dims form one event by Independent; eight sampled steps per episode, rewards-to-go
    discounted by 0.95 and then standardised (mean and std of the tensor, 1e-9 added), the
    score-function loss -log_prob times the baseline-corrected return summed over a stack,
    plus a smooth_l1_loss regression of the value net onto the returns; two episodes."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(43)
    mu_net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    log_std = nn.Parameter(L.full((2,), -0.5))
    vnet = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
    opt = L.optim.Adam([*mu_net.parameters(), log_std, *vnet.parameters()], lr=1e-2)
    env = _ChainEnv(2)
    hist = []
    for ep in range(2):
        o = env.reset()
        logps, vals, rewards = [], [], []
        for _ in range(8):
            x = L.from_numpy(o)
            dist = D.Independent(D.Normal(mu_net(x), log_std.exp()), 1)
            a = dist.sample()
            logps.append(dist.log_prob(a))
            vals.append(vnet(x).squeeze())
            o, r, _ = env.step(float(a[0].clamp(-1, 3)))
            rewards.append(r)
        to_go, backwards = 0.0, []
        for r in reversed(rewards):      # accumulate from the last step, then flip
            to_go = r + 0.95 * to_go
            backwards.append(to_go)
        returns = L.tensor(backwards[::-1])
        returns = (returns - returns.mean()) / (returns.std() + 1e-9)
        vals = L.stack(vals)
        adv = returns - vals.detach()
        loss = L.stack([-lp * ad for lp, ad in zip(logps, adv)]).sum() + \
            F.smooth_l1_loss(vals, returns)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    return dict(hist=hist, log_std=log_std, g=grads_of(mu_net), ent=dist.entropy())


# ----------------------------------------------------------------------------------------------
# speech
# ----------------------------------------------------------------------------------------------
def _hz_to_mel(f):
    """The HTK mel scale of a frequency in Hz."""
    return 2595.0 * np.log10(1.0 + f / 700.0)


def _mel_fbank(L, n_freqs, n_mels, sr, dtype):
    """An (n_freqs, n_mels) bank of triangles spaced evenly in mel from 0 to sr / 2, each
    divided by half its base width so that all have the same area (Slaney's scaling)."""
    bin_hz = L.linspace(0, sr // 2, n_freqs, dtype=dtype).unsqueeze(1)        # (n_freqs, 1)
    mel_edges = L.linspace(float(_hz_to_mel(0.0)), float(_hz_to_mel(sr / 2)), n_mels + 2,
                           dtype=dtype)
    hz_edges = 700.0 * (10 ** (mel_edges / 2595.0) - 1.0)      # back from mel to Hz
    left, peak, right = hz_edges[:-2], hz_edges[1:-1], hz_edges[2:]
    rising = (bin_hz - left) / (peak - left)
    falling = (right - bin_hz) / (right - peak)
    triangles = L.max(L.zeros(1, dtype=dtype), L.min(rising, falling))
    return triangles * (2.0 / (right - left)).unsqueeze(0)


@program
def log_mel_and_mfcc_by_a_hand_built_filterbank_and_dct_matrix(L):
    """Speech features computed with core ops only: a centred, reflect-padded stft under a
    periodic Hann window, its squared magnitude, a triangular mel filterbank of our own
    (linspace, min, max), decibels of the clamped mel energies with everything more than 80
    dB below each utterance's peak (amax over two dims) raised to that floor, cepstra by an
    orthonormal DCT-II matrix built from cos of an outer product and in-place scaling, and
    per-utterance mean and variance normalisation; the gradient reaches the waveform."""
    sr, n_fft, hop = 8000, 64, 16
    rng = np.random.RandomState(21)
    tt = np.arange(400) / sr
    wav = np.stack([np.sin(2 * np.pi * 440 * tt), np.sin(2 * np.pi * 1200 * tt)]) + \
        0.05 * rng.randn(2, 400)
    x = L.tensor(wav, requires_grad=True)
    spec = L.stft(x, n_fft=n_fft, hop_length=hop, win_length=n_fft,
                  window=L.hann_window(n_fft, dtype=L.float64), center=True,
                  pad_mode="reflect", return_complex=True)
    power = spec.abs().pow(2.0)
    fb = _mel_fbank(L, n_fft // 2 + 1, 12, sr, L.float64)
    mel = (power.transpose(-1, -2) @ fb).transpose(-1, -2)
    db = 10.0 * L.log10(L.clamp(mel, min=1e-10))
    db = L.max(db, db.amax(dim=(-2, -1), keepdim=True) - 80.0)
    n_mels, n_ceps = 12, 8
    # DCT-II basis, row q: cos(pi q (j + 1/2) / n_mels) over mel bands j; made orthonormal by
    # sqrt(2 / n_mels) overall and a further 1/sqrt(2) on the constant row
    band_mid = L.arange(n_mels, dtype=L.float64) + 0.5
    order = L.arange(n_ceps, dtype=L.float64).unsqueeze(1)
    basis = L.cos(order * band_mid * (math.pi / n_mels))
    basis[0] *= 1.0 / math.sqrt(2.0)
    basis *= math.sqrt(2.0 / n_mels)
    mfcc = L.matmul(db.transpose(-1, -2), basis.t()).transpose(-1, -2)
    cmvn = (mfcc - mfcc.mean(-1, keepdim=True)) / (mfcc.std(-1, keepdim=True) + 1e-5)
    cmvn.pow(2).mean().backward()
    return dict(spec_shape=tuple(spec.shape), fb=fb, db=db, mfcc=mfcc, g=x.grad)


@program
def stft_istft_round_trip_and_a_spectral_masking_enhancer(L):
    """Speech enhancement by masking: STFT (onesided, hann window, hop n_fft // 4),
    magnitude and phase by abs() and angle(), a small MLP predicting a sigmoid mask over
    frequency bins, the masked complex spectrum rebuilt by torch.polar(mag * mask, phase),
    istft with length= back to the waveform, an L1 waveform loss plus a multi-resolution
    spectral convergence term; the round trip without the mask reconstructs the input."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(47)
    rng = np.random.RandomState(22)
    clean = np.sin(2 * np.pi * 5 * np.arange(256) / 256)[None].repeat(2, 0) * \
        np.array([[1.0], [0.5]])
    noisy = L.tensor(clean + 0.2 * rng.randn(2, 256))
    clean = L.tensor(clean)
    n_fft, hop = 32, 8
    win = L.hann_window(n_fft, dtype=L.float64)
    spec = L.stft(noisy, n_fft, hop, window=win, return_complex=True)
    back = L.istft(spec, n_fft, hop, window=win, length=256)
    net = nn.Sequential(nn.Linear(n_fft // 2 + 1, 24), nn.ReLU(),
                        nn.Linear(24, n_fft // 2 + 1)).double()
    opt = L.optim.Adam(net.parameters(), lr=1e-2)

    def sc_loss(a, b, nf):
        w = L.hann_window(nf, dtype=L.float64)
        A = L.stft(a, nf, nf // 4, window=w, return_complex=True).abs()
        B = L.stft(b, nf, nf // 4, window=w, return_complex=True).abs()
        return L.norm(B - A, p="fro") / L.norm(B, p="fro")

    hist = []
    for _ in range(3):
        mag, phase = spec.abs(), spec.angle()
        mask = L.sigmoid(net(mag.transpose(1, 2))).transpose(1, 2)
        est = L.istft(L.polar(mag * mask, phase), n_fft, hop, window=win, length=256)
        loss = F.l1_loss(est, clean) + sc_loss(est, clean, 16) + sc_loss(est, clean, 64)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    return dict(err=(back - noisy).abs().max() < 1e-10, hist=hist, est=est, g=grads_of(net))


@program
def ctc_speech_model_with_greedy_decoding_and_unique_consecutive(L):
    """A small ASR model: a Conv1d front end with stride over log-mel frames, a
    bidirectional GRU, a Linear to the vocabulary, log_softmax transposed to (T, N, C) for
    nn.CTCLoss(blank=0, zero_infinity=True) with output lengths computed from the stride;
    padded targets and their lengths; greedy decoding by argmax, unique_consecutive and
    dropping blanks; gradient clipping by norm."""
    nn, F = L.nn, L.nn.functional

    class ASR(nn.Module):
        def __init__(self, n_mels=8, vocab=6):
            super().__init__()
            self.conv = nn.Sequential(nn.Conv1d(n_mels, 12, 3, stride=2, padding=1),
                                      nn.BatchNorm1d(12), nn.GELU())
            self.rnn = nn.GRU(12, 8, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(16, vocab)

        def forward(self, x, lengths):
            h = self.conv(x).transpose(1, 2)
            out_lengths = (lengths + 2 * 1 - 3) // 2 + 1
            h, _ = self.rnn(h)
            return F.log_softmax(self.fc(h), dim=-1), out_lengths

    L.manual_seed(53)
    model = ASR().double()
    feats = _t(L, 3, 8, 20, seed=23)
    in_lens = L.tensor([20, 17, 12])
    targets = L.tensor([[1, 2, 3, 2], [4, 4, 1, 0], [5, 3, 0, 0]])
    tgt_lens = L.tensor([4, 3, 2])
    ctc = nn.CTCLoss(blank=0, zero_infinity=True)
    opt = L.optim.Adam(model.parameters(), lr=5e-3)
    hist = []
    for _ in range(3):
        logp, out_lens = model(feats, in_lens)
        loss = ctc(logp.transpose(0, 1), targets, out_lens, tgt_lens)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        hist.append(loss.item())
    model.eval()
    with L.no_grad():
        logp, out_lens = model(feats, in_lens)
    decoded = []
    for b in range(3):
        best = logp[b, :out_lens[b]].argmax(-1)
        best = L.unique_consecutive(best)
        decoded.append(best[best != 0].tolist())
    per = F.ctc_loss(logp.transpose(0, 1), targets, out_lens, tgt_lens, reduction="none")
    return dict(hist=hist, decoded=decoded, per=per, out_lens=out_lens, g=grads_of(model))


@program
def ctc_loss_reductions_blank_index_and_concatenated_targets(L):
    """F.ctc_loss the way different codebases call it: targets concatenated in one 1-d
    tensor, the blank as the last class, input lengths as a tuple of ints, reductions
    'mean' (divided by target lengths), 'sum' and 'none', an impossible alignment giving
    inf (and 0 with zero_infinity); gradients of each w.r.t. the logits."""
    F = L.nn.functional
    logits = _t(L, 7, 2, 5, seed=24, grad=True)
    logp = logits.log_softmax(2)
    targets = L.tensor([0, 1, 1, 2, 3, 0, 2])
    out = {}
    for red in ("mean", "sum", "none"):
        out[red] = F.ctc_loss(logp, targets, (7, 6), (4, 3), blank=4, reduction=red)
    g = L.autograd.grad(out["mean"] + out["sum"], logits, retain_graph=True)[0]
    bad = F.ctc_loss(logp, L.tensor([[1, 1, 1, 1], [2, 2, 2, 2]]), (7, 3), (4, 4),
                     blank=4, reduction="none")
    zi = F.ctc_loss(logp, L.tensor([[1, 1, 1, 1], [2, 2, 2, 2]]), (7, 3), (4, 4),
                    blank=4, reduction="sum", zero_infinity=True)
    gz = L.autograd.grad(zi, logits)[0]
    return dict(out=out, g=g, bad=bad, zi=zi, gz=gz)


# ----------------------------------------------------------------------------------------------
# recommendation
# ----------------------------------------------------------------------------------------------
@program
def dlrm_embedding_bags_with_offsets_and_pairwise_dot_interactions(L):
    """DLRM: a bottom MLP over dense features, one nn.EmbeddingBag(mode='sum') per sparse
    feature fed flat indices with offsets, the pairwise dot interactions by bmm of the
    stacked features with their transpose, the strict upper triangle gathered by
    torch.triu_indices (offset=1), concatenated with the dense output into a top MLP and
    BCEWithLogitsLoss; sparse gradients and SGD."""
    nn = L.nn

    class DotInteractionModel(nn.Module):
        """Dense features through an MLP to one d-vector, each sparse feature pooled to
        another; the dot products of every pair of these vectors (once each) joined to the
        dense vector feed the top MLP."""

        def __init__(self, tables=(10, 7, 5), d=4):
            super().__init__()
            self.emb = nn.ModuleList([nn.EmbeddingBag(n, d, mode="sum", sparse=True)
                                      for n in tables])
            self.bot = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, d), nn.ReLU())
            n_vec = len(tables) + 1
            self.rows, self.cols = L.triu_indices(n_vec, n_vec, offset=1)
            self.top = nn.Sequential(nn.Linear(d + n_vec * (n_vec - 1) // 2, 8), nn.ReLU(),
                                     nn.Linear(8, 1))

        def forward(self, dense, idx, offs):
            dense_vec = self.bot(dense)
            pooled = [bag(i, o) for bag, i, o in zip(self.emb, idx, offs)]
            vecs = L.cat([dense_vec] + pooled, dim=1).view(dense_vec.shape[0], -1,
                                                           dense_vec.shape[1])
            gram = L.bmm(vecs, L.transpose(vecs, 1, 2))
            return self.top(L.cat([dense_vec, gram[:, self.rows, self.cols]], dim=1))

    L.manual_seed(59)
    model = DotInteractionModel().double()
    rng = np.random.RandomState(25)
    dense = _t(L, 4, 3, seed=26)
    idx = [L.tensor(rng.randint(0, n, 9)) for n in (10, 7, 5)]
    offs = [L.tensor([0, 2, 5, 6]), L.tensor([0, 3, 3, 7]), L.tensor([0, 1, 2, 4])]
    y = L.tensor([1.0, 0, 0, 1], dtype=L.float64)
    dense_params = [p for n, p in model.named_parameters() if not n.startswith("emb")]
    opt = L.optim.SGD(dense_params, lr=0.1)
    sopt = L.optim.SGD(model.emb.parameters(), lr=0.1)
    hist = []
    for _ in range(3):
        loss = nn.BCEWithLogitsLoss()(model(dense, idx, offs).squeeze(1), y)
        opt.zero_grad()
        sopt.zero_grad()
        loss.backward()
        opt.step()
        sopt.step()
        hist.append(loss.item())
    g0 = model.emb[0].weight.grad
    return dict(hist=hist, sparse=g0.is_sparse, gdense=g0.to_dense(),
                emb=[e.weight for e in model.emb], g=grads_of(model.top))


@program
def deepfm_and_fm_second_order_by_square_of_sum_minus_sum_of_squares(L):
    """DeepFM on field-aware categorical input: a shared embedding table indexed by field
    offsets added to the raw ids, the FM's first-order term by an Embedding(n, 1), the
    second-order term 0.5 (sum^2 - sum of squares) summed over the embedding dim, a deep
    part over the flattened embeddings with Dropout in train mode under the seed; weight
    decay only on embeddings by two parameter groups; roc-auc by ranks from argsort."""
    nn = L.nn

    class FieldFactorisationNet(nn.Module):
        """One table for all fields (field j's ids shifted past the earlier fields'), a
        per-id weight, the pairwise term 0.5 ((sum v)^2 - sum v^2) and an MLP over the
        concatenated field vectors, all added before the sigmoid."""

        def __init__(self, field_dims=(4, 6, 3), d=4):
            super().__init__()
            starts = [0] + list(np.cumsum(field_dims)[:-1])
            self.register_buffer("field_start", L.tensor(tuple(starts)))
            n_ids = sum(field_dims)
            self.per_id = nn.Embedding(n_ids, 1)
            self.bias = nn.Parameter(L.zeros((1,)))
            self.vectors = nn.Embedding(n_ids, d)
            nn.init.xavier_uniform_(self.vectors.weight.data)
            self.mlp = nn.Sequential(nn.Linear(len(field_dims) * d, 16), nn.BatchNorm1d(16),
                                     nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 1))

        def forward(self, x):
            ids = x + self.field_start.unsqueeze(0)
            v = self.vectors(ids)                                    # (B, fields, d)
            pairwise = 0.5 * (v.sum(1) ** 2 - (v ** 2).sum(1)).sum(1, keepdim=True)
            first_order = self.per_id(ids).sum(1) + self.bias
            deep = self.mlp(v.view(-1, v.shape[1] * v.shape[2]))
            return L.sigmoid((first_order + pairwise + deep).squeeze(1))

    L.manual_seed(61)
    model = FieldFactorisationNet().double()
    rng = np.random.RandomState(27)
    x = L.tensor(np.stack([rng.randint(0, n, 12) for n in (4, 6, 3)], 1))
    y = L.tensor(rng.randint(0, 2, 12).astype(np.float64))
    emb = [p for n, p in model.named_parameters() if "vectors" in n]
    rest = [p for n, p in model.named_parameters() if "vectors" not in n]
    opt = L.optim.Adam([{"params": emb, "weight_decay": 1e-3}, {"params": rest}], lr=1e-2)
    crit = nn.BCELoss()
    hist = []
    for _ in range(3):
        loss = crit(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    model.eval()
    with L.no_grad():
        p = model(x)
    ranks = L.empty_like(p)
    ranks[p.argsort()] = L.arange(1, 13, dtype=p.dtype)
    pos = y.sum()
    auc = (ranks[y == 1].sum() - pos * (pos + 1) / 2) / (pos * (12 - pos))
    return dict(hist=hist, p=p, auc=auc, g=grads_of(model))


@program
def ncf_with_bpr_loss_negative_sampling_and_hit_rate_at_k(L):
    """Neural collaborative filtering (NeuMF): GMF and MLP towers over user and item
    embeddings concatenated into a prediction layer initialised with kaiming_uniform_(a=1,
    nonlinearity='sigmoid'); BPR loss -logsigmoid(pos - neg) with negatives drawn by
    torch.randint under the seed; HR@K and NDCG@K from torch.topk over all items with the
    training items masked to -inf by index_put_."""
    nn, F = L.nn, L.nn.functional

    class NeuMF(nn.Module):
        def __init__(self, nu=5, ni=9, d=4):
            super().__init__()
            self.ug, self.ig = nn.Embedding(nu, d), nn.Embedding(ni, d)
            self.um, self.im = nn.Embedding(nu, d), nn.Embedding(ni, d)
            for e in (self.ug, self.ig, self.um, self.im):
                nn.init.normal_(e.weight, std=0.01)
            self.mlp = nn.Sequential(nn.Linear(2 * d, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
            self.predict = nn.Linear(d + 4, 1)
            nn.init.kaiming_uniform_(self.predict.weight, a=1, nonlinearity="sigmoid")

        def forward(self, u, i):
            gmf = self.ug(u) * self.ig(i)
            mlp = self.mlp(L.cat([self.um(u), self.im(i)], -1))
            return self.predict(L.cat([gmf, mlp], -1)).view(-1)

    L.manual_seed(67)
    model = NeuMF().double()
    u = L.tensor([0, 0, 1, 2, 3, 4, 4, 1])
    pos = L.tensor([1, 2, 3, 4, 5, 6, 0, 7])
    opt = L.optim.Adam(model.parameters(), lr=0.05)
    hist = []
    for _ in range(4):
        neg = L.randint(0, 9, (8,))
        loss = -F.logsigmoid(model(u, pos) - model(u, neg)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append(loss.item())
    with L.no_grad():
        users = L.arange(5)
        scores = model(users.repeat_interleave(9), L.arange(9).repeat(5)).view(5, 9)
        scores.index_put_((u[:-2], pos[:-2]), L.tensor(float("-inf"), dtype=L.float64))
        top = L.topk(scores, k=3, dim=1).indices
        held = L.tensor([7, 6, 7, 7, 0])
        hit = (top == held.unsqueeze(1))
        hr = hit.any(1).float().mean()
        ndcg = (hit.float() / L.log2(L.arange(2, 5).float())).sum(1).mean()
    return dict(hist=hist, top=top, hr=hr, ndcg=ndcg, g=grads_of(model))


@program
def embedding_bag_max_mode_padding_idx_and_per_sample_weights(L):
    """EmbeddingBag in its other modes: 'max' over 2-d input (fixed bag length) and over
    1-d input with offsets including an empty bag, 'sum' with per_sample_weights and a
    padding_idx whose entries are skipped, include_last_offset=True; from_pretrained with
    freeze=False; gradients of each."""
    nn, F = L.nn, L.nn.functional
    W = _t(L, 8, 3, seed=28)
    bag = nn.EmbeddingBag.from_pretrained(W, mode="max", freeze=False)
    a = bag(L.tensor([[1, 2, 7], [3, 3, 0]]))
    b = bag(L.tensor([4, 5, 1, 6]), L.tensor([0, 2, 2]))
    bag2 = nn.EmbeddingBag(8, 3, mode="sum", padding_idx=2, include_last_offset=True)
    with L.no_grad():
        bag2.weight.copy_(W)
    psw = L.tensor([0.5, 2.0, 1.0, -1.0, 3.0], dtype=L.float32)
    c = bag2(L.tensor([1, 2, 2, 5, 6]), L.tensor([0, 2, 3, 5]), per_sample_weights=psw)
    d = F.embedding_bag(L.tensor([0, 1, 3, 3]), W, L.tensor([0, 1]), mode="mean",
                        padding_idx=3)
    (a.sum() + b.pow(2).sum() + d.sum()).backward()
    c.sum().backward()
    return dict(a=a, b=b, c=c, d=d, g=bag.weight.grad, g2=bag2.weight.grad)


# ----------------------------------------------------------------------------------------------
# policies as RL libraries build them from torch.distributions
# ----------------------------------------------------------------------------------------------
@program
def squashed_gaussian_policy_as_a_transformed_distribution_with_cached_inverse(L):
    """The RL-library way to a squashed policy: TransformedDistribution(Normal, [TanhTransform
    (cache_size=1), AffineTransform(cache_size=1)]) so that log_prob of an rsample reuses
    the cached pre-tanh value, Independent over the action dims, gradients into the mean
    and log-std; log_prob of a clamped action (through atanh); a stick-breaking simplex
    transform's inverse over a Dirichlet, Compose/Power/Exp transforms with their
    log-determinants, CumulativeDistributionTransform; the mean's NotImplementedError."""
    D = L.distributions
    T = D.transforms
    mu = _t(L, 3, 2, grad=True)
    ls = _t(L, 3, 2, seed=1, scale=0.3, grad=True)
    d = D.TransformedDistribution(D.Normal(mu, ls.exp()),
                                  [T.TanhTransform(cache_size=1),
                                   T.AffineTransform(0.5, 2.0, cache_size=1)])
    L.manual_seed(0)
    a = d.rsample()
    lp = d.log_prob(a)
    ind = D.Independent(d, 1)
    lp2 = ind.log_prob(a)
    (lp.sum() + a.sum() + lp2.sum()).backward()
    lp3 = d.log_prob(a.detach().clamp(-1.4, 2.4))
    st = D.TransformedDistribution(D.Dirichlet(L.ones(3, dtype=L.float64) * 2),
                                   [T.StickBreakingTransform().inv])
    x = st.sample((2,))
    c = T.ComposeTransform([T.ExpTransform(), T.PowerTransform(L.tensor(2.0, dtype=L.float64))])
    u = _t(L, 3, seed=2)
    y = c(u)
    sig = T.SigmoidTransform()
    cdt = T.CumulativeDistributionTransform(D.Normal(0.0, 1.0))
    z = _t(L, 4, seed=3)
    return dict(a=a, lp=lp, lp2=lp2, gm=mu.grad, gl=ls.grad, lp3=lp3, x=x, stlp=st.log_prob(x),
                y=y, ladj=c.log_abs_det_jacobian(u, y), sig=sig.inv(sig(z)), cdt=cdt(z),
                ladj2=cdt.log_abs_det_jacobian(z, cdt(z)), mean_err=err(lambda: d.mean),
                support=str(d.support), ev=(d.event_shape, ind.event_shape, ind.batch_shape))


@program
def action_masked_categorical_policy_with_entropy_and_kl_to_the_old_policy(L):
    """Invalid-action masking as game-playing agents do it: logits.masked_fill(~mask, -1e8)
    into Categorical(logits=...), a seeded sample, log_prob and entropy backpropagated (the
    masked logits get no gradient), KL to the unmasked old policy, enumerate_support,
    perplexity, mode, and the probs/logits the distribution normalised; a Bernoulli and a
    MultivariateNormal's entropy and batched log_prob beside."""
    D = L.distributions
    logits = _t(L, 4, 3, grad=True)
    mask = L.tensor([[True, True, False], [True, False, True], [True, True, True],
                     [False, True, True]])
    c = D.Categorical(logits=logits.masked_fill(~mask, -1e8))
    L.manual_seed(5)
    a = c.sample()
    lp, ent = c.log_prob(a), c.entropy()
    (lp.sum() + ent.sum()).backward()
    old = D.Categorical(probs=L.softmax(logits.detach(), -1))
    b = D.Bernoulli(logits=logits.detach())
    mvn = D.MultivariateNormal(L.zeros(2, dtype=L.float64), L.eye(2, dtype=L.float64) * 2)
    L.manual_seed(6)
    return dict(a=a, lp=lp, ent=ent, g=logits.grad, kl=D.kl_divergence(c, old),
                es=old.enumerate_support(), pp=old.perplexity(), bent=b.entropy(), bs=b.sample(),
                mode=c.mode, mce=mvn.entropy(), mclp=mvn.log_prob(L.ones(3, 2, dtype=L.float64)),
                logits=c.logits, probs=c.probs)


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
