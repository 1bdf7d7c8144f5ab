"""Whole programs of round 43: research-code kinds of scripts written afresh.

Diffusion training and sampling (noise-schedule buffers gathered per timestep, a small U-Net
with GroupNorm and concatenated skips, EMA weights), normalizing flows (affine couplings,
masked autoregressive layers, planar flows, log-determinants), NeRF-style rendering with
hierarchical sampling, contrastive and self-distillation losses, knowledge distillation, a
CTC speech model, policy-gradient agents with GAE, mixture density networks, capsule routing,
an RK4 neural ODE, attention seq2seq and pointer decoders, sparsemax/entmax, Hopfield
pooling, a ViT with stochastic depth, U-Net segmentation with dice, masked graph attention,
mixture-of-experts routing, LoRA adapters, gradient checkpointing and torch.func ensembles,
per-sample gradients, MAML and Newton steps; also TRPO, SAC and DQN updates, a PINN trained
by L-BFGS with strong Wolfe, SIREN, RoPE, Swin windows, beam search, FNO and STFT losses,
MoCo/DINO/CLIP/ArcFace objectives, PixelCNN, flow matching, neural cellular automata,
detection losses, sparse GCNs, neural processes, set transformers, hypernetworks, Conformer,
Perceiver, StyleGAN2 modulated convolution, PointNet, EGNN and learned grid sampling.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same seeded weights; both must give the same values, dtypes, shapes and requires_grad,
or raise the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    ddpm_blocks, err, import_forward_ad_decompositions, labels, normal64, program_harness,
    registry)

import_forward_ad_decompositions()     # (hessian's forward mode; its import warns once)
HARNESS = program_harness()
PROGRAMS, program = registry()


def _t(L, a, grad=False):
    """A float64 tensor of ``L`` holding the numpy array ``a``."""
    return L.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def _steps(opt, loss_of, n=3):
    """``n`` optimizer steps of ``loss_of()``; the losses as floats."""
    out = []
    for _ in range(n):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


# ----------------------------------------------------------------------------------------------
# diffusion
# ----------------------------------------------------------------------------------------------
def _timestep_embedding(L, t, dim):
    """Sinusoidal embedding of integer timesteps ``t`` (B,) -> (B, dim)."""
    half = dim // 2
    freqs = L.exp(-math.log(10000.0) * L.arange(half, dtype=L.float64) / half)
    ang = t.double()[:, None] * freqs[None]
    return L.cat([ang.sin(), ang.cos()], dim=-1)


def _tiny_unet(L):
    """A two-level U-Net (32 -> 16 channels... at 8x8 and 4x4) with skip concatenation."""
    nn, F = L.nn, L.nn.functional
    ResBlock, Attn = ddpm_blocks(L)

    class UNet(nn.Module):
        def __init__(self, ch=4, tdim=8):
            super().__init__()
            self.tdim = tdim
            self.temb = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
            self.inc = nn.Conv2d(1, ch, 3, padding=1)
            self.down = ResBlock(ch, 2 * ch, tdim)
            self.pool = nn.Conv2d(2 * ch, 2 * ch, 3, stride=2, padding=1)
            self.mid = ResBlock(2 * ch, 2 * ch, tdim)
            self.attn = Attn(2 * ch)
            self.up = ResBlock(4 * ch, ch, tdim)
            self.out = nn.Sequential(nn.GroupNorm(2, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))

        def forward(self, x, t):
            e = self.temb(_timestep_embedding(L, t, self.tdim))
            h0 = self.down(self.inc(x), e)
            h = self.attn(self.mid(self.pool(h0), e))
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = self.up(L.cat([h, h0], dim=1), e)
            return self.out(h)

    return UNet


@program
def ddpm_cosine_schedule_buffers_gather_extract_p_losses_and_ema_lerp(L):
    """A Gaussian-diffusion wrapper: betas from the cosine schedule (clipped), cumulative
    products and their shifted copy (F.pad with value 1) registered as buffers, a per-sample
    extract by gather + reshape, q_sample with seeded noise, the epsilon-prediction MSE, Adam
    steps and an EMA copy of the weights updated by lerp_ under no_grad."""
    nn, F = L.nn, L.nn.functional
    T = 20

    def cosine_betas(steps, s=0.008):
        x = L.linspace(0, steps, steps + 1, dtype=L.float64)
        ac = L.cos(((x / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
        ac = ac / ac[0]
        return L.clip(1 - (ac[1:] / ac[:-1]), 0, 0.999)

    class Diffusion(nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model
            betas = cosine_betas(T)
            alphas = 1.0 - betas
            acp = L.cumprod(alphas, dim=0)
            acp_prev = F.pad(acp[:-1], (1, 0), value=1.0)
            self.register_buffer("betas", betas)
            self.register_buffer("sqrt_acp", acp.sqrt())
            self.register_buffer("sqrt_1m_acp", (1 - acp).sqrt())
            self.register_buffer("post_var", betas * (1 - acp_prev) / (1 - acp))
            self.register_buffer("post_logvar", L.log(self.post_var.clamp(min=1e-20)))

        @staticmethod
        def extract(a, t, shape):
            b = t.shape[0]
            return a.gather(-1, t).reshape(b, *((1,) * (len(shape) - 1)))

        def forward(self, x0, t, noise):
            xt = self.extract(self.sqrt_acp, t, x0.shape) * x0 + \
                self.extract(self.sqrt_1m_acp, t, x0.shape) * noise
            return F.mse_loss(self.model(xt, t), noise)

    L.manual_seed(3)
    diff = Diffusion(_tiny_unet(L)()).double()
    ema = _tiny_unet(L)().double()
    ema.load_state_dict(diff.model.state_dict())
    ema.requires_grad_(False)
    opt = L.optim.Adam(diff.model.parameters(), lr=1e-3)
    x0 = _t(L, normal64(3, 1, 8, 8, seed=1))
    losses = []
    for step in range(3):
        t = L.tensor(labels(3, T, seed=10 + step))
        noise = _t(L, normal64(3, 1, 8, 8, seed=20 + step))
        opt.zero_grad()
        loss = diff(x0, t, noise)
        loss.backward()
        opt.step()
        with L.no_grad():
            for pe, pm in zip(ema.parameters(), diff.model.parameters()):
                pe.lerp_(pm, 0.1)
        losses.append(loss.item())
    return losses, diff.post_logvar, diff.betas, ema.out[2].weight, \
        diff.model.inc.weight.grad, list(diff.state_dict())[:5]


@program
def ddim_deterministic_sampling_loop_over_strided_timesteps_under_inference_mode(L):
    """DDIM sampling: a linear beta schedule, timesteps strided by linspace().long() and
    flipped, x0 predicted from epsilon and clamped, the next x from alpha-bar of the previous
    step (1 at the end), all under inference_mode; the intermediate x0s stacked."""
    T = 30
    L.manual_seed(5)
    net = _tiny_unet(L)().double().eval()
    betas = L.linspace(1e-4, 0.02, T, dtype=L.float64)
    abar = L.cumprod(1 - betas, 0)
    steps = L.linspace(0, T - 1, 5).long().flip(0)
    x = _t(L, normal64(2, 1, 8, 8, seed=2))
    preds = []
    with L.inference_mode():
        for i, t in enumerate(steps):
            tt = L.full((x.shape[0],), int(t), dtype=L.long)
            eps = net(x, tt)
            a_t = abar[t]
            a_prev = abar[steps[i + 1]] if i + 1 < len(steps) else L.tensor(1.0, dtype=x.dtype)
            x0 = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1, 1)
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            preds.append(x0)
    return steps, x, L.stack(preds), x.is_inference()


@program
def ddpm_ancestral_step_posterior_mean_coefficients_and_masked_noise_at_t0(L):
    """One reverse step of DDPM: posterior mean coefficients from alpha-bars, the model's
    epsilon turned into x0 (clamped), the posterior log-variance exponentiated by half, and
    noise switched off for samples whose t is 0 by a float mask ((t != 0).float().view)."""
    T = 10
    betas = L.linspace(1e-3, 0.05, T, dtype=L.float64)
    alphas = 1 - betas
    abar = alphas.cumprod(0)
    abar_prev = L.cat([abar.new_ones(1), abar[:-1]])
    c0 = betas * abar_prev.sqrt() / (1 - abar)
    ct = (1 - abar_prev) * alphas.sqrt() / (1 - abar)
    logvar = L.log(L.cat([(betas * (1 - abar_prev) / (1 - abar))[1:2],
                          (betas * (1 - abar_prev) / (1 - abar))[1:]]))
    L.manual_seed(1)
    net = _tiny_unet(L)().double()
    x = _t(L, normal64(4, 1, 8, 8, seed=4), grad=True)
    t = L.tensor([0, 3, 9, 0])
    eps = net(x, t)
    bc = (-1, 1, 1, 1)
    x0 = (x / abar[t].sqrt().view(bc) - (1 / abar[t] - 1).sqrt().view(bc) * eps).clamp(-1, 1)
    mean = c0[t].view(bc) * x0 + ct[t].view(bc) * x
    mask = (t != 0).float().view(bc)
    z = _t(L, normal64(4, 1, 8, 8, seed=5))
    out = mean + mask * (0.5 * logvar[t]).exp().view(bc) * z
    out.pow(2).mean().backward()
    return out, x.grad, logvar, mask.dtype


# ----------------------------------------------------------------------------------------------
# normalizing flows
# ----------------------------------------------------------------------------------------------
@program
def realnvp_checkerboard_and_channel_masks_tanh_scale_logdet_and_bits_per_dim(L):
    """RealNVP on 2-d points: alternating binary masks, s and t nets sharing a trunk, the
    scale squashed by tanh times a learned per-feature factor, forward and inverse passes,
    log-det summed, the Normal prior's log_prob, negative log-likelihood in bits per dim and
    the inverse reconstructing the input."""
    nn = L.nn
    L.manual_seed(7)

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 4))
            self.scale = nn.Parameter(L.ones(2))

        def st(self, x):
            s, t = self.net(x * self.mask).chunk(2, dim=-1)
            return self.scale * L.tanh(s) * (1 - self.mask), t * (1 - self.mask)

        def forward(self, x):
            s, t = self.st(x)
            return x * s.exp() + t, s.sum(-1)

        def inverse(self, y):
            s, t = self.st(y)
            return (y - t) * (-s).exp()

    masks = [L.tensor([1.0, 0.0]), L.tensor([0.0, 1.0])] * 2
    flows = nn.ModuleList([Coupling(m) for m in masks]).double()
    prior = L.distributions.Normal(L.zeros(2, dtype=L.float64), L.ones(2, dtype=L.float64))
    opt = L.optim.Adam(flows.parameters(), lr=5e-3)
    x = _t(L, normal64(32, 2, seed=3) * [1.0, 0.3] + [0.5, -1.0])

    def nll():
        z, ld = x, 0
        for f in flows:
            z, d = f(z)
            ld = ld + d
        logp = prior.log_prob(z).sum(-1) + ld
        return -(logp.mean()) / (2 * math.log(2))

    losses = _steps(opt, nll, 4)
    with L.no_grad():
        z = x
        for f in flows:
            z, _ = f(z)
        back = z
        for f in reversed(flows):
            back = f.inverse(back)
    return losses, (back - x).abs().max() < 1e-10, flows[0].scale.grad, z


@program
def masked_autoregressive_flow_made_degree_masks_and_sequential_inverse(L):
    """A MAF layer: MADE masks built from input degrees (arange) and hidden degrees
    (seeded randint), masked linear layers (weight times a buffer mask in forward via
    F.linear), mu and log-scale outputs, the log-det as -sum(alpha), and the inverse done
    dimension by dimension."""
    nn, F = L.nn, L.nn.functional
    D, H = 4, 12

    class MaskedLinear(nn.Linear):
        def __init__(self, fin, fout, mask):
            super().__init__(fin, fout)
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.linear(x, self.weight * self.mask, self.bias)

    L.manual_seed(2)
    din = L.arange(1, D + 1)
    dh = L.tensor(np.random.RandomState(1).randint(1, D, H))
    m1 = (dh[:, None] >= din[None, :]).double()
    m2 = (din.repeat(2)[:, None] > dh[None, :]).double()
    net = nn.Sequential(MaskedLinear(D, H, m1), nn.Tanh(), MaskedLinear(H, 2 * D, m2)).double()
    x = _t(L, normal64(16, D, seed=8), grad=True)
    mu, alpha = net(x).chunk(2, dim=1)
    u = (x - mu) * L.exp(-alpha)
    logdet = -alpha.sum(1)
    logp = (-0.5 * u ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) + logdet
    (-logp.mean()).backward()
    with L.no_grad():
        xr = L.zeros_like(u)
        for i in range(D):
            mu_i, a_i = net(xr).chunk(2, dim=1)
            xr[:, i] = u[:, i] * a_i[:, i].exp() + mu_i[:, i]
    jac = L.autograd.functional.jacobian(lambda v: net(v)[:, :D].sum(0), x.detach()[:3])
    return logp, x.grad, (xr - x).abs().max().item() < 1e-9, net[0].weight.grad, \
        (jac.sum(1) != 0).int()


@program
def planar_flow_chain_softplus_invertibility_constraint_and_abs_logdet(L):
    """Planar flows f(z) = z + u_hat tanh(w.z + b) with u_hat made invertible through
    softplus(w.u) - 1, the log |1 + u_hat . psi| summed along the chain, a target density
    (a ring) and the reverse-KL loss minimised by RMSprop."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(11)

    class Planar(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.u = nn.Parameter(L.randn(d) * 0.1)
            self.w = nn.Parameter(L.randn(d) * 0.1)
            self.b = nn.Parameter(L.zeros(1))

        def forward(self, z):
            wu = self.w @ self.u
            u_hat = self.u + (-1 + F.softplus(wu) - wu) * self.w / self.w.norm() ** 2
            lin = z @ self.w + self.b
            f = z + u_hat * L.tanh(lin).unsqueeze(-1)
            psi = (1 - L.tanh(lin) ** 2).unsqueeze(-1) * self.w
            return f, L.log((1 + psi @ u_hat).abs() + 1e-8)

    flows = nn.ModuleList([Planar(2) for _ in range(4)]).double()
    z0 = _t(L, normal64(64, 2, seed=6))
    base = L.distributions.MultivariateNormal(L.zeros(2, dtype=L.float64),
                                              L.eye(2, dtype=L.float64))

    def loss():
        z, ld = z0, 0.0
        for f in flows:
            z, d = f(z)
            ld = ld + d
        r = z.norm(dim=1)
        log_target = -0.5 * ((r - 2) / 0.4) ** 2
        return (base.log_prob(z0) - ld - log_target).mean()

    opt = L.optim.RMSprop(flows.parameters(), lr=1e-2)
    return _steps(opt, loss, 4), flows[1].u.grad, flows[3].b


@program
def glow_actnorm_data_init_and_invertible_1x1_conv_with_slogdet(L):
    """Glow's pieces on 2x2 squeezed images: a squeeze by view/permute, ActNorm initialised
    from the first batch's per-channel mean/std (a flag buffer flipped by fill_), an
    invertible 1x1 convolution whose weight starts as a QR-orthogonal matrix and whose
    log-det is H*W*slogdet, and an additive coupling; the total log-det and gradients."""
    nn, F = L.nn, L.nn.functional

    def squeeze(x):
        b, c, h, w = x.shape
        x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return x.reshape(b, c * 4, h // 2, w // 2)

    class ActNorm(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.loc = nn.Parameter(L.zeros(1, c, 1, 1))
            self.logs = nn.Parameter(L.zeros(1, c, 1, 1))
            self.register_buffer("inited", L.tensor(0, dtype=L.uint8))

        def forward(self, x):
            if self.inited.item() == 0:
                with L.no_grad():
                    mean = x.mean(dim=(0, 2, 3), keepdim=True)
                    std = x.std(dim=(0, 2, 3), keepdim=True)
                    self.loc.data.copy_(-mean)
                    self.logs.data.copy_(L.log(1 / (std + 1e-6)))
                    self.inited.fill_(1)
            y = (x + self.loc) * self.logs.exp()
            return y, x.shape[2] * x.shape[3] * self.logs.sum()

    class InvConv(nn.Module):
        def __init__(self, c):
            super().__init__()
            q, _ = L.linalg.qr(_t(L, normal64(c, c, seed=9)))
            self.weight = nn.Parameter(q)

        def forward(self, x):
            ld = x.shape[2] * x.shape[3] * L.slogdet(self.weight)[1]
            return F.conv2d(x, self.weight.view(*self.weight.shape, 1, 1)), ld

    L.manual_seed(4)
    x = squeeze(_t(L, normal64(3, 1, 4, 4, seed=12)))
    an, ic = ActNorm(4).double(), InvConv(4)
    coup = nn.Conv2d(2, 2, 3, padding=1).double()
    y, ld1 = an(x)
    y, ld2 = ic(y)
    ya, yb = y.chunk(2, 1)
    y = L.cat([ya, yb + coup(ya)], 1)
    total = ld1 + ld2
    obj = -(total - 0.5 * (y ** 2).sum(dim=(1, 2, 3))).mean()
    obj.backward()
    y2, _ = an(x)
    return y, total, ic.weight.grad, an.logs.grad, an.inited, (y2 - an(x)[0]).abs().max()


# ----------------------------------------------------------------------------------------------
# NeRF
# ----------------------------------------------------------------------------------------------
def _posenc(L, x, n_freqs):
    """[x, sin(2^k x), cos(2^k x) for k < n_freqs] along the last dimension."""
    bands = 2.0 ** L.linspace(0, n_freqs - 1, n_freqs, dtype=x.dtype)
    xb = (x[..., None, :] * bands[:, None]).flatten(-2)
    return L.cat([x, L.sin(xb), L.cos(xb)], dim=-1)


def _render(L, raw, z, dirs):
    """Volume rendering of raw (R, S, 4) at depths z (R, S): rgb, depth, acc and weights."""
    F = L.nn.functional
    deltas = z[..., 1:] - z[..., :-1]
    deltas = L.cat([deltas, L.full_like(deltas[..., :1], 1e10)], dim=-1)
    deltas = deltas * L.norm(dirs[..., None, :], dim=-1)
    alpha = 1.0 - L.exp(-F.relu(raw[..., 3]) * deltas)
    trans = L.cumprod(L.cat([L.ones_like(alpha[..., :1]), 1.0 - alpha + 1e-10], -1), -1)
    weights = alpha * trans[..., :-1]
    rgb = (weights[..., None] * L.sigmoid(raw[..., :3])).sum(-2)
    depth = (weights * z).sum(-1)
    acc = weights.sum(-1)
    return rgb + (1.0 - acc[..., None]), depth, acc, weights


def _sample_pdf(L, bins, weights, n, u):
    """Inverse-CDF sampling of ``n`` depths per ray from piecewise-constant ``weights``."""
    weights = weights + 1e-5
    pdf = weights / weights.sum(-1, keepdim=True)
    cdf = L.cat([L.zeros_like(pdf[..., :1]), L.cumsum(pdf, -1)], -1)
    u = u.contiguous()
    inds = L.searchsorted(cdf, u, right=True)
    below = L.max(L.zeros_like(inds - 1), inds - 1)
    above = L.min((cdf.shape[-1] - 1) * L.ones_like(inds), inds)
    g = L.stack([below, above], -1)
    shape = [g.shape[0], g.shape[1], cdf.shape[-1]]
    cdf_g = L.gather(cdf.unsqueeze(1).expand(shape), 2, g)
    bins_g = L.gather(bins.unsqueeze(1).expand(shape), 2, g)
    denom = cdf_g[..., 1] - cdf_g[..., 0]
    denom = L.where(denom < 1e-5, L.ones_like(denom), denom)
    t = (u - cdf_g[..., 0]) / denom
    return bins_g[..., 0] + t * (bins_g[..., 1] - bins_g[..., 0])


@program
def nerf_positional_encoding_volume_rendering_and_hierarchical_resampling(L):
    """A NeRF step: rays' points at stratified depths (seeded jitter), positional encoding of
    points and directions, an MLP with a skip concatenation and a separate view-dependent
    head, volume rendering by an exclusive cumprod of transmittance, fine depths drawn from
    the coarse weights by searchsorted (detached) and merged by sort, photometric MSE of both
    passes and PSNR."""
    nn, F = L.nn, L.nn.functional

    class NeRF(nn.Module):
        def __init__(self, fx=2, fd=1, W=16):
            super().__init__()
            cx, cd = 3 + 6 * fx, 3 + 6 * fd
            self.fx, self.fd = fx, fd
            self.l1, self.l2 = nn.Linear(cx, W), nn.Linear(W + cx, W)
            self.sigma, self.feat = nn.Linear(W, 1), nn.Linear(W, W)
            self.rgb = nn.Sequential(nn.Linear(W + cd, W // 2), nn.ReLU(), nn.Linear(W // 2, 3))

        def forward(self, pts, d):
            ex, ed = _posenc(L, pts, self.fx), _posenc(L, d, self.fd)
            h = F.relu(self.l1(ex))
            h = F.relu(self.l2(L.cat([h, ex], -1)))
            c = self.rgb(L.cat([self.feat(h), ed.expand(*h.shape[:-1], ed.shape[-1])], -1))
            return L.cat([c, self.sigma(h)], -1)

    L.manual_seed(0)
    coarse, fine = NeRF().double(), NeRF().double()
    R, S = 6, 8
    o, d = _t(L, normal64(R, 3, seed=1) * 0.1), _t(L, normal64(R, 3, seed=2))
    d = d / d.norm(dim=-1, keepdim=True)
    target = _t(L, np.random.RandomState(3).rand(R, 3))
    near, far = 2.0, 6.0
    tv = L.linspace(0.0, 1.0, S, dtype=L.float64)
    z = near * (1 - tv) + far * tv
    mids = 0.5 * (z[1:] + z[:-1])
    upper, lower = L.cat([mids, z[-1:]]), L.cat([z[:1], mids])
    z = (lower + (upper - lower) * _t(L, np.random.RandomState(4).rand(R, S)))
    pts = o[:, None] + d[:, None] * z[..., None]
    rgb_c, depth, acc, w = _render(L, coarse(pts, d[:, None]), z, d)
    zm = 0.5 * (z[..., 1:] + z[..., :-1])
    zs = _sample_pdf(L, zm, w[..., 1:-1].detach(), 5, _t(L, np.random.RandomState(5).rand(R, 5)))
    zall, _ = L.sort(L.cat([z, zs.detach()], -1), -1)
    pts_f = o[:, None] + d[:, None] * zall[..., None]
    rgb_f, _, _, _ = _render(L, fine(pts_f, d[:, None]), zall, d)
    loss = F.mse_loss(rgb_c, target) + F.mse_loss(rgb_f, target)
    psnr = -10.0 * L.log10(F.mse_loss(rgb_f, target))
    loss.backward()
    return loss, psnr, depth, acc, zs, coarse.l2.weight.grad, fine.rgb[2].bias.grad


@program
def nerf_sample_pdf_edge_cases_uniform_u_and_zero_weights(L):
    """The inverse-CDF sampler with deterministic u = linspace (the 'perturb off' branch),
    expanded to all rays, for weights that are all zero on one ray and one-hot on another;
    the searchsorted indices of left and right side and the samples."""
    bins = L.linspace(0.0, 1.0, 6, dtype=L.float64).expand(3, 6)
    weights = _t(L, [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [1, 2, 3, 2, 1]])
    u = L.linspace(0.0, 1.0, 7, dtype=L.float64).expand(3, 7)
    samples = _sample_pdf(L, bins, weights, 7, u)
    cdf = L.cumsum(weights + 1e-5, -1)
    cdf = cdf / cdf[:, -1:]
    return samples, L.searchsorted(cdf, u.contiguous()), \
        L.searchsorted(cdf, u.contiguous(), side="right"), L.bucketize(u[0], cdf[2])


# ----------------------------------------------------------------------------------------------
# contrastive and self-supervised losses
# ----------------------------------------------------------------------------------------------
@program
def simclr_nt_xent_masked_similarity_two_views_and_lars_free_sgd(L):
    """SimCLR's NT-Xent: two noisy views through an encoder and projection head, normalised,
    the (2N, 2N) similarity over a temperature with the diagonal filled by masked_fill of an
    eye mask, positives at +-N found by roll of the indices and the cross entropy; plus the
    top-1 accuracy of the positive among all candidates."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(9)
    enc = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 8))
    head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 4))
    model = nn.Sequential(enc, head).double()
    base = normal64(5, 6, seed=1)
    v1 = _t(L, base + 0.1 * normal64(5, 6, seed=2))
    v2 = _t(L, base + 0.1 * normal64(5, 6, seed=3))
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    accs = []

    def nt_xent():
        z = F.normalize(model(L.cat([v1, v2])), dim=1)
        n = z.shape[0] // 2
        sim = z @ z.T / 0.5
        sim = sim.masked_fill(L.eye(2 * n, dtype=L.bool), float("-inf"))
        pos = L.arange(2 * n).roll(n)
        accs.append((sim.argmax(1) == pos).float().mean().item())
        return F.cross_entropy(sim, pos)

    return _steps(opt, nt_xent, 3), accs, enc[1].running_var, head[2].weight.grad


@program
def supcon_loss_label_mask_logits_max_detach_and_mean_log_prob_over_positives(L):
    """Supervised contrastive loss: features (N, views, D) unbound and concatenated,
    anchor-dot-contrast over a temperature with the row max detached and subtracted, a
    label-equality mask tiled by repeat and its self-contrast entries zeroed through scatter,
    log-probabilities and the mean over positives per anchor."""
    F = L.nn.functional
    feats = F.normalize(_t(L, normal64(6, 2, 5, seed=4), grad=True), dim=2)
    y = L.tensor([0, 1, 0, 2, 1, 0])
    n, views = feats.shape[:2]
    contrast = L.cat(L.unbind(feats, dim=1), dim=0)
    logits = contrast @ contrast.T / 0.1
    lmax, _ = logits.max(dim=1, keepdim=True)
    logits = logits - lmax.detach()
    mask = L.eq(y.view(-1, 1), y.view(1, -1)).double().repeat(views, views)
    keep = L.scatter(L.ones_like(mask), 1, L.arange(n * views).view(-1, 1), 0)
    mask = mask * keep
    exp = L.exp(logits) * keep
    log_prob = logits - L.log(exp.sum(1, keepdim=True))
    mean_pos = (mask * log_prob).sum(1) / mask.sum(1)
    loss = -(0.1 / 0.07) * mean_pos.view(views, n).mean()
    loss.backward()
    return loss, mean_pos, feats.grad if feats.grad is not None else "no grad", keep


@program(rtol=1e-7, atol=1e-9)     # (Adam steps magnify last-bit differences)
def barlow_twins_cross_correlation_off_diagonal_view_trick_and_vicreg_terms(L):
    """Barlow Twins' loss (batch-normalised embeddings without affine, the cross-correlation
    divided by the batch size, (diag - 1)^2 and the off-diagonal entries reached by
    flatten()[:-1].view(n-1, n+1)[:, 1:]) and VICReg's variance (relu(1 - std)) and
    covariance terms, trained together for a few Adam steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(13)
    net = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 6)).double()
    bn = nn.BatchNorm1d(6, affine=False).double()
    a = _t(L, normal64(10, 5, seed=1))
    b = a + _t(L, normal64(10, 5, seed=2) * 0.2)

    def off_diagonal(m):
        n = m.shape[0]
        return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()

    def loss():
        z1, z2 = net(a), net(b)
        c = bn(z1).T @ bn(z2) / a.shape[0]
        bt = L.diagonal(c).add_(-1).pow_(2).sum() + 0.005 * off_diagonal(c).pow_(2).sum()
        std = L.sqrt(z1.var(dim=0) + 1e-4)
        zc = z1 - z1.mean(dim=0)
        cov = zc.T @ zc / (z1.shape[0] - 1)
        vic = F.relu(1 - std).mean() + off_diagonal(cov).pow(2).sum() / 6 + F.mse_loss(z1, z2)
        return bt + vic

    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    return _steps(opt, loss, 3), bn.running_mean, net[2].weight.grad


@program
def byol_online_predictor_target_momentum_update_and_symmetric_cosine_loss(L):
    """BYOL: an online encoder + predictor, a target encoder deep-copied with requires_grad
    off, the loss 2 - 2 cos for both view orders with the target side under no_grad, and the
    target updated by p_t.data = tau p_t + (1 - tau) p_o after each step, tau raised on a
    cosine schedule."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(21)
    online = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4)).double()
    pred = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad = False
    opt = L.optim.Adam(list(online.parameters()) + list(pred.parameters()), lr=1e-2)
    x = _t(L, normal64(8, 4, seed=5))
    v1, v2 = x * 1.1, x.flip(1) * 0.9
    out = []
    for step in range(3):
        def reg(p, z):
            return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)
        p1, p2 = pred(online(v1)), pred(online(v2))
        with L.no_grad():
            t1, t2 = target(v1), target(v2)
        loss = (reg(p1, t2) + reg(p2, t1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        tau = 1 - (1 - 0.9) * (math.cos(math.pi * step / 3) + 1) / 2
        for po, pt in zip(online.parameters(), target.parameters()):
            pt.data = tau * pt.data + (1 - tau) * po.data
        out.append(loss.item())
    return out, target[3].weight, target[1].running_mean, target[0].weight.requires_grad


# ----------------------------------------------------------------------------------------------
# distillation
# ----------------------------------------------------------------------------------------------
@program
def knowledge_distillation_soft_kl_temperature_squared_plus_hard_ce(L):
    """Hinton distillation: a frozen teacher in eval mode under no_grad, the student's
    log_softmax at temperature T against the teacher's softmax by kl_div(batchmean) times
    T^2, mixed with hard-label cross entropy; and the same soft term with log_target=True
    and through nn.KLDivLoss, which must agree."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(17)
    teacher = nn.Sequential(nn.Linear(6, 20), nn.ReLU(), nn.Dropout(0.3), nn.Linear(20, 5))
    student = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))
    teacher, student = teacher.double().eval(), student.double()
    x, y = _t(L, normal64(12, 6, seed=1)), L.tensor(labels(12, 5, seed=2))
    T, alpha = 4.0, 0.7
    opt = L.optim.SGD(student.parameters(), lr=0.5)
    soft_terms = []

    def loss():
        with L.no_grad():
            tl = teacher(x)
        sl = student(x)
        soft = F.kl_div(F.log_softmax(sl / T, 1), F.softmax(tl / T, 1), reduction="batchmean")
        soft2 = F.kl_div(F.log_softmax(sl / T, 1), F.log_softmax(tl / T, 1),
                         reduction="batchmean", log_target=True)
        soft3 = nn.KLDivLoss(reduction="sum")(F.log_softmax(sl / T, -1), F.softmax(tl / T, -1))
        soft_terms.append((soft.item(), soft2.item(), soft3.item() / x.shape[0]))
        return alpha * soft * T * T + (1 - alpha) * F.cross_entropy(sl, y)

    return _steps(opt, loss, 3), soft_terms, student[0].weight.grad


@program
def feature_distillation_hint_regressor_attention_transfer_and_frozen_teacher_hooks(L):
    """FitNets / attention transfer: a teacher's intermediate maps captured by a forward
    hook into a dict, a 1x1 regressor mapping the student's map to the teacher's width, the
    hint MSE, attention maps as normalised channel-mean of squares and their L2 distance;
    the teacher's parameters get no gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(23)
    teacher = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1))
    student = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 3, 3, padding=1))
    teacher, student = teacher.double(), student.double()
    teacher.requires_grad_(False)
    reg = nn.Conv2d(3, 6, 1).double()
    feats = {}
    hooks = [teacher[1].register_forward_hook(lambda m, i, o: feats.__setitem__("t", o)),
             student[1].register_forward_hook(lambda m, i, o: feats.__setitem__("s", o))]
    x = _t(L, normal64(2, 2, 5, 5, seed=7))
    teacher(x)
    out = student(x)

    def at(f):
        return F.normalize(f.pow(2).mean(1).view(f.size(0), -1))

    hint = F.mse_loss(reg(feats["s"]), feats["t"])
    att = (at(feats["s"]) - at(feats["t"])).pow(2).mean()
    (hint + 1000 * att + out.mean()).backward()
    for h in hooks:
        h.remove()
    teacher(x)
    return hint, att, reg.weight.grad, student[0].weight.grad, teacher[0].weight.grad is None, \
        sorted(feats)


# ----------------------------------------------------------------------------------------------
# speech, sequence models and decoders
# ----------------------------------------------------------------------------------------------
@program
def ctc_speech_model_conv_front_end_bigru_log_probs_tnc_and_greedy_collapse(L):
    """A DeepSpeech-like model: a strided Conv1d front end over (B, feats, T) spectrogram
    frames with the output lengths computed from the padding/stride formula, a bidirectional
    GRU over packed sequences, log_softmax transposed to (T, N, C), ctc_loss with
    concatenated targets and lengths as tensors (mean and sum reductions, zero_infinity),
    and a greedy decode by argmax, unique_consecutive and blank removal."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(31)
    C = 5

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 6, kernel_size=3, stride=2, padding=1)
            self.bn = nn.BatchNorm1d(6)
            self.rnn = nn.GRU(6, 5, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(10, C)

        def forward(self, x, lens):
            h = F.hardtanh(self.bn(self.conv(x)), 0, 20)
            lens = (lens + 2 * 1 - 3) // 2 + 1
            packed = nn.utils.rnn.pack_padded_sequence(h.transpose(1, 2), lens,
                                                       batch_first=True, enforce_sorted=False)
            out, _ = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
            return self.fc(out).log_softmax(-1).transpose(0, 1), lens

    model = Model().double()
    x = _t(L, normal64(3, 4, 16, seed=1))
    in_lens = L.tensor([16, 11, 14])
    tgt_lens = L.tensor([3, 2, 4])
    targets = L.tensor(labels(9, C - 1, seed=2) + 1)
    opt = L.optim.AdamW(model.parameters(), lr=1e-2)
    crit = nn.CTCLoss(blank=0, zero_infinity=True)
    record = []

    def loss():
        lp, lens = model(x, in_lens)
        s = F.ctc_loss(lp, targets, lens, tgt_lens, reduction="sum")
        record.append((lp.shape[0], lens.tolist(), s.item()))
        return crit(lp, targets, lens, tgt_lens)

    losses = _steps(opt, loss, 3)
    with L.no_grad():
        lp, lens = model.eval()(x, in_lens)
    best = lp.argmax(-1).T
    decoded = []
    for b in range(best.shape[0]):
        seq = L.unique_consecutive(best[b, :lens[b]])
        decoded.append(seq[seq != 0].tolist())
    return losses, record, decoded, model.fc.weight.grad


@program
def bahdanau_attention_seq2seq_gru_teacher_forcing_and_greedy_decoding(L):
    """An attention seq2seq: a bidirectional GRU encoder whose final states are joined by a
    Linear+tanh into the decoder's start state, additive attention (energy = v . tanh(W_h h +
    W_s s)) with source padding masked by -1e10, a GRUCell decoder fed [embedding; context],
    teacher forcing decided by a seeded random.random(), NLL over non-pad targets
    (ignore_index) and a greedy decoding run at the end."""
    nn, F = L.nn, L.nn.functional
    V, E, H, PAD = 9, 4, 5, 0
    L.manual_seed(37)

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb, self.tgt_emb = nn.Embedding(V, E, padding_idx=PAD), nn.Embedding(V, E)
            self.enc = nn.GRU(E, H, bidirectional=True)
            self.bridge = nn.Linear(2 * H, H)
            self.Wh, self.Ws = nn.Linear(2 * H, H, bias=False), nn.Linear(H, H)
            self.v = nn.Linear(H, 1, bias=False)
            self.dec = nn.GRUCell(E + 2 * H, H)
            self.out = nn.Linear(H + 2 * H + E, V)

        def encode(self, src):
            enc, h = self.enc(self.src_emb(src))
            s = L.tanh(self.bridge(L.cat((h[-2], h[-1]), dim=1)))
            return enc, s

        def step(self, y, s, enc, mask):
            e = self.tgt_emb(y)
            energy = self.v(L.tanh(self.Wh(enc) + self.Ws(s).unsqueeze(0))).squeeze(2).T
            a = F.softmax(energy.masked_fill(mask == 0, -1e10), dim=1)
            ctx = L.bmm(a.unsqueeze(1), enc.permute(1, 0, 2)).squeeze(1)
            s = self.dec(L.cat((e, ctx), dim=1), s)
            return self.out(L.cat((s, ctx, e), dim=1)), s, a

    src = L.tensor([[3, 4, 5], [6, 2, 7], [8, 1, PAD], [2, PAD, PAD]])   # (S, B)
    tgt = L.tensor([[1, 1, 1], [4, 5, 6], [7, 8, PAD], [2, 2, PAD]])
    model = Seq2Seq().double()
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    rng = random.Random(0)
    crit = nn.CrossEntropyLoss(ignore_index=PAD)

    def loss():
        enc, s = model.encode(src)
        mask = (src != PAD).T
        outs, y = [], tgt[0]
        for t in range(1, tgt.shape[0]):
            o, s, _ = model.step(y, s, enc, mask)
            outs.append(o)
            y = tgt[t] if rng.random() < 0.5 else o.argmax(1)
        logits = L.stack(outs)
        return crit(logits.view(-1, V), tgt[1:].reshape(-1))

    losses = _steps(opt, loss, 3)
    with L.no_grad():
        enc, s = model.encode(src)
        y, toks, attn = tgt[0], [], []
        for _ in range(3):
            o, s, a = model.step(y, s, enc, (src != PAD).T)
            y = o.argmax(1)
            toks.append(y)
            attn.append(a)
    return losses, L.stack(toks), L.stack(attn), model.v.weight.grad


@program
def pointer_network_masked_log_softmax_visited_scatter_and_sampled_tours(L):
    """A pointer network for a toy routing task: an LSTM encoder over 2-d cities, a decoder
    LSTMCell whose query attends over the encodings; visited cities masked with -inf via
    masked_fill (a bool mask updated by scatter), the next city drawn from Categorical
    (seeded) or argmax, tour length from gathered coordinates, and REINFORCE with a greedy
    rollout baseline."""
    nn = L.nn
    L.manual_seed(41)
    B, N, H = 3, 5, 8

    class Pointer(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Linear(2, H)
            self.enc = nn.LSTM(H, H, batch_first=True)
            self.cell = nn.LSTMCell(H, H)
            self.Wq, self.Wr = nn.Linear(H, H), nn.Linear(H, H)
            self.v = nn.Parameter(L.randn(H) * 0.1)
            self.start = nn.Parameter(L.zeros(H))

        def forward(self, xy, greedy):
            e = self.emb(xy)
            ref, (h, c) = self.enc(e)
            h, c = h[0], c[0]
            inp = self.start.expand(xy.shape[0], H)
            visited = L.zeros(xy.shape[0], N, dtype=L.bool)
            logps, tour = [], []
            for _ in range(N):
                h, c = self.cell(inp, (h, c))
                u = (self.v * L.tanh(self.Wq(h)[:, None] + self.Wr(ref))).sum(-1)
                u = (10 * L.tanh(u)).masked_fill(visited, float("-inf"))
                lp = L.log_softmax(u, dim=-1)
                nxt = lp.argmax(-1) if greedy else L.distributions.Categorical(logits=lp).sample()
                logps.append(lp.gather(1, nxt[:, None]).squeeze(1))
                tour.append(nxt)
                visited = visited.scatter(1, nxt[:, None], True)
                inp = e[L.arange(xy.shape[0]), nxt]
            return L.stack(tour, 1), L.stack(logps, 1).sum(1)

    def length(xy, tour):
        pts = xy.gather(1, tour[..., None].expand(-1, -1, 2))
        return (pts - pts.roll(-1, dims=1)).norm(dim=-1).sum(1)

    net = Pointer().double()
    xy = _t(L, np.random.RandomState(4).rand(B, N, 2))
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    out = []
    for _ in range(2):
        tour, lp = net(xy, greedy=False)
        with L.no_grad():
            gtour, _ = net(xy, greedy=True)
        adv = length(xy, tour) - length(xy, gtour)
        loss = (adv.detach() * lp).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        out.append((tour, gtour, loss.item()))
    return out, net.v.grad, L.sort(tour, 1)[0]


# ----------------------------------------------------------------------------------------------
# mixture density networks, capsules, ODEs
# ----------------------------------------------------------------------------------------------
@program
def mixture_density_network_logsumexp_nll_sampling_and_mode_prediction(L):
    """An MDN on the inverted sine problem: the head split into pi logits, mu and log sigma
    (viewed as (B, K, D)), the NLL through log_softmax + Normal(mu, sigma).log_prob summed
    over D and logsumexp over K; samples from Categorical then gather of the component and a
    reparameterised draw, and the most probable component's mean."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(43)
    K, D = 3, 1

    class MDN(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(1, 16), nn.Tanh())
            self.head = nn.Linear(16, K + 2 * K * D)

        def forward(self, x):
            p = self.head(self.body(x))
            pi, mu, ls = p.split([K, K * D, K * D], dim=-1)
            return pi, mu.view(-1, K, D), ls.view(-1, K, D).clamp(-7, 7).exp()

    net = MDN().double()
    ys = np.random.RandomState(1).rand(40, 1) * 2 - 1
    xs = np.sin(3 * ys) + 0.05 * normal64(40, 1, seed=2)
    x, y = _t(L, xs), _t(L, ys)
    opt = L.optim.Adam(net.parameters(), lr=1e-2)

    def nll():
        pi, mu, sd = net(x)
        comp = L.distributions.Normal(mu, sd).log_prob(y.unsqueeze(1)).sum(-1)
        return -L.logsumexp(F.log_softmax(pi, -1) + comp, dim=-1).mean()

    losses = _steps(opt, nll, 4)
    with L.no_grad():
        pi, mu, sd = net(x[:6])
        k = L.distributions.Categorical(logits=pi).sample()
        idx = k.view(-1, 1, 1).expand(-1, 1, D)
        m, s = mu.gather(1, idx).squeeze(1), sd.gather(1, idx).squeeze(1)
        draw = m + s * L.randn_like(m)
        mode = mu[L.arange(6), pi.argmax(-1)]
    mix = L.distributions.MixtureSameFamily(
        L.distributions.Categorical(logits=pi),
        L.distributions.Independent(L.distributions.Normal(mu, sd), 1))
    return losses, k, draw, mode, mix.log_prob(y[:6]), mix.mean, net.head.bias.grad


@program
def capsule_network_squash_dynamic_routing_by_agreement_and_margin_loss(L):
    """Capsules: primary capsules from a Conv2d reshaped to (B, N, 4) and squashed,
    prediction vectors u_hat from a per-pair weight by matmul of W[None] and u[..., None],
    three routing iterations (softmax of logits over the output capsules, weighted sum,
    squash, agreement added with u_hat detached except in the last iteration), the margin
    loss on capsule lengths and a masked reconstruction by one_hot."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(47)

    def squash(s, dim=-1):
        n2 = (s ** 2).sum(dim, keepdim=True)
        return n2 / (1 + n2) * s / L.sqrt(n2 + 1e-8)

    class CapsNet(nn.Module):
        def __init__(self, nout=3, dout=6):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3, stride=2)
            self.W = nn.Parameter(0.1 * L.randn(1, 8, nout, dout, 4))
            self.recon = nn.Sequential(nn.Linear(nout * dout, 16), nn.ReLU(), nn.Linear(16, 25),
                                       nn.Sigmoid())

        def forward(self, x, y):
            u = squash(self.conv(x).view(x.shape[0], -1, 4))           # (B, 8, 4)
            u_hat = (self.W @ u[:, :, None, :, None]).squeeze(-1)     # (B, 8, nout, dout)
            b = L.zeros(*u_hat.shape[:3], dtype=x.dtype)
            for it in range(3):
                c = F.softmax(b, dim=2)
                src = u_hat if it == 2 else u_hat.detach()
                v = squash((c.unsqueeze(-1) * src).sum(1))            # (B, nout, dout)
                if it < 2:
                    b = b + (src * v.unsqueeze(1)).sum(-1)
            lengths = v.norm(dim=-1)
            masked = (v * F.one_hot(y, 3).unsqueeze(-1)).flatten(1)
            return lengths, self.recon(masked), c

    net = CapsNet().double()
    x = _t(L, np.random.RandomState(2).rand(4, 1, 5, 5))
    y = L.tensor([0, 2, 1, 2])
    lengths, rec, c = net(x, y)
    T = F.one_hot(y, 3).double()
    margin = T * F.relu(0.9 - lengths) ** 2 + 0.5 * (1 - T) * F.relu(lengths - 0.1) ** 2
    loss = margin.sum(1).mean() + 5e-4 * F.mse_loss(rec, x.view(4, -1), reduction="sum")
    loss.backward()
    return loss, lengths, c.sum(2), net.W.grad, net.conv.weight.grad


@program
def neural_ode_fixed_step_rk4_trajectory_time_concat_and_backprop_through_solver(L):
    """A neural ODE fitted to a spiral: dynamics f(t, y) an MLP on [y, t], a fixed-step RK4
    integrator written by hand returning the stacked trajectory at the requested times
    (several substeps between them), the MSE to observations and backprop through the
    solver, plus the Euler solution for comparison and the parameters' gradient norm."""
    nn = L.nn
    L.manual_seed(53)

    class Func(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))

        def forward(self, t, y):
            return self.net(L.cat([y, t.expand(*y.shape[:-1], 1)], -1))

    def odeint(f, y0, ts, sub=3, method="rk4"):
        ys, y = [y0], y0
        for t0, t1 in zip(ts[:-1], ts[1:]):
            h = (t1 - t0) / sub
            for i in range(sub):
                t = t0 + i * h
                if method == "euler":
                    y = y + h * f(t, y)
                    continue
                k1 = f(t, y)
                k2 = f(t + h / 2, y + h / 2 * k1)
                k3 = f(t + h / 2, y + h / 2 * k2)
                k4 = f(t + h, y + h * k3)
                y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            ys.append(y)
        return L.stack(ys)

    ts = L.linspace(0.0, 1.5, 6, dtype=L.float64)
    A = _t(L, [[-0.1, 2.0], [-2.0, -0.1]])
    y0 = _t(L, [[2.0, 0.0], [1.0, 1.0]])
    with L.no_grad():
        truth = odeint(lambda t, y: (y ** 3) @ A * 0.2, y0, ts, sub=10)
    func = Func().double()
    opt = L.optim.Adam(func.parameters(), lr=1e-2)
    losses = _steps(opt, lambda: (odeint(func, y0, ts) - truth).pow(2).mean(), 3)
    gnorm = L.norm(L.stack([p.grad.norm() for p in func.parameters()]))
    with L.no_grad():
        euler = odeint(func, y0, ts, method="euler")
    return losses, truth, euler, gnorm


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
def _gae(L, rewards, values, dones, last_value, gamma=0.99, lam=0.95):
    """Generalised advantage estimates by the reversed loop over T steps; (adv, returns)."""
    T = rewards.shape[0]
    adv = L.zeros_like(rewards)
    last = 0
    for t in reversed(range(T)):
        nxt = last_value if t == T - 1 else values[t + 1]
        nonterm = 1.0 - dones[t]
        delta = rewards[t] + gamma * nxt * nonterm - values[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
    return adv, adv + values


@program
def ppo_discrete_gae_loop_minibatch_randperm_clipped_surrogate_value_clip_and_kl(L):
    """PPO with a Categorical policy: a rollout of T steps x E envs (seeded observations,
    rewards and dones), GAE by a reversed loop, advantages normalised per minibatch, index
    minibatches from randperm, the ratio exp(new - old log-prob), the clipped surrogate,
    a clipped value loss, the entropy bonus, clip_grad_norm_ and the approximate KL and the
    clip fraction as diagnostics."""
    nn = L.nn
    L.manual_seed(59)
    T, E, O, A = 5, 4, 3, 3

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.critic = nn.Sequential(nn.Linear(O, 16), nn.Tanh(), nn.Linear(16, 1))
            self.actor = nn.Sequential(nn.Linear(O, 16), nn.Tanh(), nn.Linear(16, A))

        def layer_init(self):        # (in float64: a float32 QR's last bits vary by LAPACK)
            nn.init.orthogonal_(self.actor[2].weight, 0.01)
            nn.init.constant_(self.actor[2].bias, 0.0)
            return self

        def act(self, x, action=None):
            dist = L.distributions.Categorical(logits=self.actor(x))
            if action is None:
                action = dist.sample()
            return action, dist.log_prob(action), dist.entropy(), self.critic(x).squeeze(-1)

    agent = Agent().double().layer_init()
    opt = L.optim.Adam(agent.parameters(), lr=2.5e-4, eps=1e-5)
    obs = _t(L, normal64(T, E, O, seed=1))
    rewards = _t(L, normal64(T, E, seed=2))
    dones = _t(L, (np.random.RandomState(3).rand(T, E) < 0.2).astype(float))
    with L.no_grad():
        actions, logp, _, values = agent.act(obs)
        last_v = agent.critic(_t(L, normal64(E, O, seed=4))).squeeze(-1)
    adv, ret = _gae(L, rewards, values, dones, last_v)
    b_obs, b_act, b_logp = obs.reshape(-1, O), actions.reshape(-1), logp.reshape(-1)
    b_adv, b_ret, b_val = adv.reshape(-1), ret.reshape(-1), values.reshape(-1)
    stats = []
    for epoch in range(2):
        perm = L.randperm(T * E)
        for start in range(0, T * E, 10):
            mb = perm[start:start + 10]
            _, newlp, ent, newv = agent.act(b_obs[mb], b_act.long()[mb])
            logratio = newlp - b_logp[mb]
            ratio = logratio.exp()
            with L.no_grad():
                approx_kl = ((ratio - 1) - logratio).mean()
                clipfrac = ((ratio - 1.0).abs() > 0.2).float().mean().item()
            a = b_adv[mb]
            a = (a - a.mean()) / (a.std() + 1e-8)
            pg = L.max(-a * ratio, -a * L.clamp(ratio, 0.8, 1.2)).mean()
            v_clip = b_val[mb] + L.clamp(newv - b_val[mb], -0.2, 0.2)
            v_loss = 0.5 * L.max((newv - b_ret[mb]) ** 2, (v_clip - b_ret[mb]) ** 2).mean()
            loss = pg - 0.01 * ent.mean() + 0.5 * v_loss
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
            opt.step()
            stats.append((loss.item(), approx_kl.item(), clipfrac))
    y_pred, y_true = b_val, b_ret
    explained = 1 - (y_true - y_pred).var() / y_true.var()
    return actions, adv, stats, explained, agent.actor[2].weight


@program
def ppo_continuous_state_independent_log_std_normal_sum_log_prob_and_obs_normaliser(L):
    """Continuous PPO: a running mean/std observation normaliser (parallel-variance update
    from batch moments), a Normal policy with a learned log-std parameter expanded to the
    mean's shape, log-probs and entropies summed over action dimensions, rsample'd actions
    clipped to bounds, and one clipped-surrogate update."""
    nn = L.nn
    L.manual_seed(61)

    class RunningMeanStd:
        def __init__(self, shape):
            self.mean, self.var, self.count = L.zeros(shape, dtype=L.float64), \
                L.ones(shape, dtype=L.float64), 1e-4

        def update(self, x):
            bm, bv, bc = x.mean(0), x.var(0, unbiased=False), x.shape[0]
            delta, tot = bm - self.mean, self.count + bc
            self.mean = self.mean + delta * bc / tot
            m2 = self.var * self.count + bv * bc + delta ** 2 * self.count * bc / tot
            self.var, self.count = m2 / tot, tot

    actor = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    log_std = nn.Parameter(L.zeros(1, 2, dtype=L.float64))
    rms = RunningMeanStd(3)
    raw = [_t(L, normal64(6, 3, seed=s) * 2 + 1) for s in (1, 2)]
    for r in raw:
        rms.update(r)
    obs = ((raw[1] - rms.mean) / L.sqrt(rms.var + 1e-8)).clip(-5, 5)
    mean = actor(obs)
    dist = L.distributions.Normal(mean, log_std.expand_as(mean).exp())
    act = dist.rsample().clamp(-1, 1).detach()
    old_lp = dist.log_prob(act).sum(1).detach()
    adv = _t(L, normal64(6, seed=3))
    opt = L.optim.Adam(list(actor.parameters()) + [log_std], lr=3e-3)

    def loss():
        d = L.distributions.Normal(actor(obs), log_std.exp())
        ratio = (d.log_prob(act).sum(1) - old_lp).exp()
        s1, s2 = ratio * adv, ratio.clamp(0.8, 1.2) * adv
        return -L.min(s1, s2).mean() - 0.001 * d.entropy().sum(1).mean()

    return rms.mean, rms.var, rms.count, act, _steps(opt, loss, 3), log_std.grad


@program
def sac_tanh_squashed_gaussian_log_prob_correction_alpha_tuning_and_polyak(L):
    """SAC updates: twin Q networks and Polyak-averaged targets (mul_/add_ under no_grad),
    a tanh-squashed Gaussian actor with the log-prob corrected by log(1 - tanh^2 + eps)
    (and the softplus form), the soft Bellman target with the min of the target Qs, the
    actor loss and automatic entropy tuning through a log_alpha parameter."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(67)
    O, A, B = 3, 2, 8

    def mlp(i, o):
        return nn.Sequential(nn.Linear(i, 16), nn.ReLU(), nn.Linear(16, o)).double()

    q1, q2, actor = mlp(O + A, 1), mlp(O + A, 1), mlp(O, 2 * A)
    q1_t, q2_t = copy.deepcopy(q1), copy.deepcopy(q2)
    log_alpha = L.zeros(1, dtype=L.float64, requires_grad=True)
    qopt = L.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=3e-4)
    popt, aopt = L.optim.Adam(actor.parameters(), lr=3e-4), L.optim.Adam([log_alpha], lr=3e-4)
    s, s2 = _t(L, normal64(B, O, seed=1)), _t(L, normal64(B, O, seed=2))
    a, r = _t(L, np.tanh(normal64(B, A, seed=3))), _t(L, normal64(B, 1, seed=4))
    d = _t(L, (np.arange(B) % 4 == 0).reshape(B, 1).astype(float))

    def sample(obs):
        mu, ls = actor(obs).chunk(2, -1)
        ls = L.clamp(ls, -20, 2)
        n = L.distributions.Normal(mu, ls.exp())
        u = n.rsample()
        act = L.tanh(u)
        lp = n.log_prob(u) - L.log(1 - act.pow(2) + 1e-6)
        lp2 = n.log_prob(u) - 2 * (math.log(2) - u - F.softplus(-2 * u))
        return act, lp.sum(-1, keepdim=True), lp2.sum(-1, keepdim=True)

    out = []
    for _ in range(2):
        with L.no_grad():
            a2, lp2, _ = sample(s2)
            sa2 = L.cat([s2, a2], 1)
            qt = L.min(q1_t(sa2), q2_t(sa2)) - log_alpha.exp() * lp2
            y = r + 0.99 * (1 - d) * qt
        sa = L.cat([s, a], 1)
        qloss = F.mse_loss(q1(sa), y) + F.mse_loss(q2(sa), y)
        qopt.zero_grad()
        qloss.backward()
        qopt.step()
        pa, lp, lpsp = sample(s)
        spa = L.cat([s, pa], 1)
        ploss = (log_alpha.exp().detach() * lp - L.min(q1(spa), q2(spa))).mean()
        popt.zero_grad()
        ploss.backward()
        popt.step()
        aloss = -(log_alpha * (lp + (-A)).detach()).mean()
        aopt.zero_grad()
        aloss.backward()
        aopt.step()
        with L.no_grad():
            for p, pt in zip(q1.parameters(), q1_t.parameters()):
                pt.mul_(0.995)
                pt.add_(0.005 * p)
            for p, pt in zip(q2.parameters(), q2_t.parameters()):
                pt.data.copy_(0.005 * p.data + 0.995 * pt.data)
        out.append((qloss.item(), ploss.item(), aloss.item(), (lp - lpsp).abs().max().item()))
    return out, log_alpha, q1_t[2].weight, actor[2].bias.grad


@program
def double_dqn_gather_q_sa_target_argmax_smooth_l1_and_epsilon_greedy(L):
    """Double DQN: Q(s, a) by gather on the taken actions, the next action chosen by the
    online net's argmax and evaluated by the target net, terminal masking, Huber loss
    (smooth_l1 and nn.HuberLoss with delta 1 agree), gradients clamped in place per
    parameter (clamp_), a hard target sync by load_state_dict every other step and
    epsilon-greedy actions from a seeded numpy generator."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(71)
    net = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3)).double()
    tgt = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3)).double()
    tgt.load_state_dict(net.state_dict())
    tgt.eval()
    opt = L.optim.RMSprop(net.parameters(), lr=1e-3)
    rng = np.random.RandomState(0)
    S, S2 = _t(L, normal64(16, 4, seed=1)), _t(L, normal64(16, 4, seed=2))
    A = L.tensor(labels(16, 3, seed=3))
    R, D = _t(L, normal64(16, seed=4)), L.tensor(rng.rand(16) < 0.25)
    out = []
    for step in range(4):
        idx = L.tensor(rng.choice(16, 8, replace=False))
        q = net(S[idx]).gather(1, A[idx].unsqueeze(1)).squeeze(1)
        with L.no_grad():
            a_star = net(S2[idx]).argmax(1, keepdim=True)
            nq = tgt(S2[idx]).gather(1, a_star).squeeze(1)
            nq[D[idx]] = 0.0
            y = R[idx] + 0.9 * nq
        loss = F.smooth_l1_loss(q, y)
        opt.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.grad.data.clamp_(-1, 1)
        opt.step()
        if step % 2 == 1:
            tgt.load_state_dict(net.state_dict())
        eps = max(0.05, 1.0 - step * 0.3)
        with L.no_grad():
            greedy = net(S[:4]).max(1)[1]
        act = [int(g) if rng.rand() > eps else int(rng.randint(3)) for g in greedy]
        out.append((loss.item(), nn.HuberLoss(delta=1.0)(q, y).item(), act))
    return out, tgt[2].weight, net[0].weight.grad


# ----------------------------------------------------------------------------------------------
# sparse attention maps and associative memories
# ----------------------------------------------------------------------------------------------
def _sparsemax_fn(L):
    """Sparsemax as an autograd.Function over the last dimension (sort, cumsum, support,
    threshold tau gathered at the support size; backward projects onto the support)."""

    class Sparsemax(L.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            zs, _ = L.sort(z, dim=-1, descending=True)
            k = L.arange(1, z.shape[-1] + 1, dtype=z.dtype)
            cum = zs.cumsum(-1)
            support = (1 + k * zs) > cum
            k_z = support.sum(-1, keepdim=True)
            tau = (cum.gather(-1, k_z - 1) - 1) / k_z.to(z.dtype)
            out = L.clamp(z - tau, min=0)
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            out, = ctx.saved_tensors
            nz = (out > 0).to(g.dtype)
            v = (g * nz).sum(-1, keepdim=True) / nz.sum(-1, keepdim=True)
            return nz * (g - v)

    return Sparsemax


@program
def sparsemax_autograd_function_vs_gradcheck_and_tabnet_attentive_prior_scales(L):
    """Sparsemax written as a custom Function (its backward checked by gradcheck), then a
    TabNet-like attentive transformer: ghost batch norm over virtual batches (chunk + cat),
    masks = sparsemax(prior * bn(fc(a))), the prior updated by (gamma - mask), the sparsity
    regulariser -mean(sum(M log(M + eps))) and GLU feature blocks."""
    nn, F = L.nn, L.nn.functional
    Sparsemax = _sparsemax_fn(L)
    z = _t(L, normal64(4, 6, seed=1), grad=True)
    ok = L.autograd.gradcheck(Sparsemax.apply, (z,), eps=1e-6, atol=1e-5)
    L.manual_seed(73)

    class GBN(nn.Module):
        def __init__(self, d, vbs=4):
            super().__init__()
            self.bn, self.vbs = nn.BatchNorm1d(d, momentum=0.02), vbs

        def forward(self, x):
            chunks = x.chunk(int(math.ceil(x.shape[0] / self.vbs)), 0)
            return L.cat([self.bn(c) for c in chunks], dim=0)

    class Step(nn.Module):
        def __init__(self, d, na):
            super().__init__()
            self.att = nn.Linear(na, d, bias=False)
            self.gbn = GBN(d)
            self.feat = nn.Linear(d, 2 * (na + 2))

        def forward(self, x, a, prior):
            m = Sparsemax.apply(self.gbn(self.att(a)) * prior)
            h = F.glu(self.feat(m * x), dim=-1)
            return m, h[:, :2], h[:, 2:]

    D, NA = 6, 3
    steps = nn.ModuleList([Step(D, NA) for _ in range(3)]).double()
    x = _t(L, normal64(8, D, seed=2))
    prior, a, out, reg = L.ones_like(x), x[:, :NA], 0, 0
    masks = []
    for st in steps:
        m, d, a = st(x, a, prior)
        prior = prior * (1.3 - m)
        reg = reg + (-m * L.log(m + 1e-10)).sum(1).mean()
        out = out + F.relu(d)
        masks.append(m)
    (out.sum() + 1e-3 * reg).backward()
    return ok, Sparsemax.apply(z), L.stack(masks), reg, steps[1].att.weight.grad, \
        steps[0].gbn.bn.running_var


@program
def entmax15_bisection_threshold_and_sparse_attention_over_sequence(L):
    """alpha-entmax (alpha = 1.5) by bisection on the threshold tau: p = clamp((alpha-1) z -
    tau, 0) ** (1/(alpha-1)) with tau bracketed between max-1 and max-(1/d)^(alpha-1),
    twenty halvings, renormalised; used as the attention distribution of a single-head
    attention over a masked sequence, backprop through the bisection's last step."""
    F = L.nn.functional

    def entmax_bisect(z, alpha=1.5, iters=20):
        z = z * (alpha - 1)
        zmax = z.max(-1, keepdim=True).values
        d = z.shape[-1]
        lo, hi = zmax - 1, zmax - (1.0 / d) ** (alpha - 1)
        for _ in range(iters):
            tau = (lo + hi) / 2
            p = L.clamp(z - tau, min=0) ** (1 / (alpha - 1))
            big = (p.sum(-1, keepdim=True) - 1) >= 0
            lo = L.where(big, tau, lo)
            hi = L.where(big, hi, tau)
        return p / p.sum(-1, keepdim=True)

    q = _t(L, normal64(2, 3, 4, seed=1), grad=True)
    k = _t(L, normal64(2, 5, 4, seed=2), grad=True)
    v = _t(L, normal64(2, 5, 4, seed=3))
    pad = L.tensor([[False] * 5, [False, False, False, True, True]])
    s = (q @ k.transpose(-1, -2) / 2).masked_fill(pad[:, None], -1e4)
    attn = entmax_bisect(s)
    out = attn @ v
    out.pow(2).sum().backward()
    return attn, (attn == 0).sum(), out, q.grad, k.grad, F.softmax(s, -1).max(-1).values


@program
def modern_hopfield_pooling_learned_queries_beta_softmax_and_retrieval_iterations(L):
    """Hopfield layers: stored patterns Y projected to keys and values, state patterns
    updated xi <- softmax(beta xi K^T) K for a few iterations (retrieval of a noisy stored
    pattern converging), and a HopfieldPooling with learned query patterns (a Parameter
    expanded over the batch) and a key padding mask, trained for two steps."""
    nn, F = L.nn, L.nn.functional
    Y = F.normalize(_t(L, normal64(6, 8, seed=1)), dim=-1)
    noisy = Y[2:3] + 0.3 * _t(L, normal64(1, 8, seed=2))
    xi = noisy
    energies = []
    for _ in range(3):
        xi = F.softmax(8.0 * xi @ Y.T, dim=-1) @ Y
        energies.append((-L.logsumexp(8.0 * xi @ Y.T, -1) / 8.0 + 0.5 * (xi * xi).sum()).item())
    retrieved = (xi @ Y.T).argmax(-1)
    L.manual_seed(79)

    class HopfieldPooling(nn.Module):
        def __init__(self, d, nq=2, beta=None):
            super().__init__()
            self.q = nn.Parameter(L.randn(1, nq, d) * 0.1)
            self.k, self.v = nn.Linear(d, d), nn.Linear(d, d)
            self.beta = beta or 1 / math.sqrt(d)

        def forward(self, x, pad):
            sc = self.beta * self.q.expand(x.shape[0], -1, -1) @ self.k(x).transpose(1, 2)
            sc = sc.masked_fill(pad[:, None, :], float("-inf"))
            return (F.softmax(sc, -1) @ self.v(x)).flatten(1)

    pool = HopfieldPooling(8).double()
    head = nn.Linear(16, 2).double()
    x = _t(L, normal64(3, 6, 8, seed=3))
    pad = L.tensor(np.arange(6)[None, :] >= np.array([[6], [4], [2]]))
    y = L.tensor([0, 1, 1])
    opt = L.optim.Adam(list(pool.parameters()) + list(head.parameters()), lr=1e-2)
    losses = _steps(opt, lambda: F.cross_entropy(head(pool(x, pad)), y), 2)
    return xi, energies, retrieved, losses, pool.q.grad, pool.k.weight.grad


# ----------------------------------------------------------------------------------------------
# vision models
# ----------------------------------------------------------------------------------------------
@program
def vit_conv_patch_embed_cls_token_learned_pos_embed_stochastic_depth_and_mha(L):
    """A small ViT: patches by a strided Conv2d then flatten(2).transpose(1, 2), a cls token
    and learned positional embedding (trunc_normal_ init), pre-norm blocks with
    nn.MultiheadAttention(batch_first) and an MLP, stochastic depth drawing a per-sample
    keep mask (x.new_empty(shape).bernoulli_(keep) / keep) with drop rates rising linearly
    by torch.linspace, the cls output classified; train mode (seeded drops) then eval."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(83)

    class DropPath(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if self.p == 0.0 or not self.training:
                return x
            keep = 1 - self.p
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            return x * mask.div_(keep)

    class Block(nn.Module):
        def __init__(self, d, dp):
            super().__init__()
            self.n1, self.n2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
            self.attn = nn.MultiheadAttention(d, 2, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
            self.dp = DropPath(dp)

        def forward(self, x):
            h = self.n1(x)
            x = x + self.dp(self.attn(h, h, h, need_weights=False)[0])
            return x + self.dp(self.mlp(self.n2(x)))

    class ViT(nn.Module):
        def __init__(self, d=8, depth=3):
            super().__init__()
            self.patch = nn.Conv2d(3, d, 4, stride=4)
            self.cls = nn.Parameter(L.zeros(1, 1, d))
            self.pos = nn.Parameter(L.zeros(1, 5, d))
            nn.init.trunc_normal_(self.pos, std=0.02)
            nn.init.trunc_normal_(self.cls, std=0.02)
            rates = [r.item() for r in L.linspace(0, 0.3, depth)]
            self.blocks = nn.Sequential(*[Block(d, r) for r in rates])
            self.norm, self.head = nn.LayerNorm(d, eps=1e-6), nn.Linear(d, 3)

        def forward(self, img):
            x = self.patch(img).flatten(2).transpose(1, 2)
            x = L.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
            return self.head(self.norm(self.blocks(x))[:, 0])

    model = ViT().double()
    img = _t(L, normal64(4, 3, 8, 8, seed=1))
    y = L.tensor([0, 1, 2, 1])
    opt = L.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    losses = _steps(opt, lambda: F.cross_entropy(model(img), y, label_smoothing=0.1), 3)
    model.eval()
    with L.no_grad():
        logits = model(img)
    return losses, logits, model.pos.grad, model.blocks[2].attn.in_proj_weight.grad, \
        [b.dp.p for b in model.blocks]


@program
def unet_segmentation_transposed_conv_center_crop_concat_bce_plus_soft_dice(L):
    """A U-Net segmentation loop: double-conv blocks with BatchNorm, max-pool down,
    ConvTranspose2d up, the encoder map center-cropped to the decoder's size before cat
    (valid convolutions), BCE-with-logits plus a soft dice over sigmoid outputs per image,
    and the hard dice / IoU of thresholded masks in eval mode; multi-class dice by one_hot
    permuted to channels-first as well."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(89)

    def dconv(i, o, pad):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=pad), nn.BatchNorm2d(o), nn.ReLU(True),
                             nn.Conv2d(o, o, 3, padding=pad), nn.BatchNorm2d(o), nn.ReLU(True))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.d1, self.d2 = dconv(1, 4, 0), dconv(4, 8, 1)
            self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
            self.u1 = dconv(8, 4, 1)
            self.out = nn.Conv2d(4, 3, 1)

        def forward(self, x):
            a = self.d1(x)
            b = self.d2(F.max_pool2d(a, 2))
            u = self.up(b)
            dh, dw = (a.shape[2] - u.shape[2]) // 2, (a.shape[3] - u.shape[3]) // 2
            crop = a[:, :, dh:dh + u.shape[2], dw:dw + u.shape[3]]
            return self.out(self.u1(L.cat([crop, u], 1)))

    net = UNet().double()
    x = _t(L, normal64(2, 1, 13, 13, seed=1))
    seg = L.tensor(np.random.RandomState(2).randint(0, 3, (2, 8, 8)))
    onehot = F.one_hot(seg, 3).permute(0, 3, 1, 2).double()

    def dice(p, t, eps=1.0):
        inter = (p * t).sum(dim=(2, 3))
        return 1 - ((2 * inter + eps) / (p.sum(dim=(2, 3)) + t.sum(dim=(2, 3)) + eps)).mean()

    opt = L.optim.Adam(net.parameters(), lr=1e-3)

    def loss():
        logits = net(x)
        return F.binary_cross_entropy_with_logits(logits, onehot) + \
            dice(L.sigmoid(logits), onehot) + dice(logits.softmax(1), onehot)

    losses = _steps(opt, loss, 2)
    net.eval()
    with L.no_grad():
        pred = net(x).argmax(1)
    hard = F.one_hot(pred, 3).permute(0, 3, 1, 2)
    inter = (hard & onehot.bool()).sum(dim=(2, 3))
    union = (hard | onehot.bool()).sum(dim=(2, 3))
    return losses, pred, inter.double() / union.clamp(min=1), net.up.weight.grad, \
        net.d1[1].running_mean


@program
def dense_gat_leaky_scores_masked_fill_neg_inf_isolated_node_nan_and_nan_to_num(L):
    """Graph attention on a dense adjacency: e_ij = LeakyReLU(a_src . Wh_i + a_dst . Wh_j)
    by broadcasting, non-edges masked to -inf, softmax over neighbours giving NaN rows for an
    isolated node (no self-loop) that a second variant repairs with nan_to_num and the
    self-loops added through adj + eye, multi-head outputs concatenated then averaged."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(97)
    N, Fi, Fo, H = 5, 3, 4, 2
    W = nn.Parameter(L.randn(H, Fi, Fo, dtype=L.float64) * 0.5)
    a = nn.Parameter(L.randn(H, 2 * Fo, dtype=L.float64) * 0.5)
    x = _t(L, normal64(N, Fi, seed=1))
    adj = L.tensor([[0, 1, 1, 0, 0], [1, 0, 0, 1, 0], [1, 0, 0, 1, 0], [0, 1, 1, 0, 0],
                    [0, 0, 0, 0, 0]])

    def gat(adjm, repair):
        Wh = L.einsum("nf,hfo->hno", x, W)
        src = (Wh * a[:, None, :Fo]).sum(-1)
        dst = (Wh * a[:, None, Fo:]).sum(-1)
        e = F.leaky_relu(src[:, :, None] + dst[:, None, :], 0.2)
        e = e.masked_fill(adjm[None] == 0, float("-inf"))
        att = L.softmax(e, dim=-1)
        if repair:
            att = L.nan_to_num(att, nan=0.0)
        return att, (att @ Wh)

    att_nan, _ = gat(adj, False)
    att, out = gat(adj, True)
    att2, out2 = gat(adj + L.eye(N, dtype=adj.dtype), False)
    h = F.elu(out.permute(1, 0, 2).reshape(N, -1))
    (h.sum() + out2.mean(0).pow(2).sum()).backward()
    return att_nan[:, 4].isnan().all(), att, att2, h, W.grad, a.grad


# ----------------------------------------------------------------------------------------------
# routing, adapters, memory and torch.func
# ----------------------------------------------------------------------------------------------
@program
def moe_noisy_top_k_gating_scatter_gates_index_add_combine_and_cv_squared_balance(L):
    """A sparsely-gated mixture of experts: noisy gating logits (noise std from softplus of
    a second projection, seeded randn_like), topk over k+1 for the load estimate, softmax
    over the top k scattered into a dense gate matrix, tokens dispatched to each expert by
    nonzero indices and index_select, outputs weighted and combined by index_add_, the
    importance and load balanced by the squared coefficient of variation."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(101)
    D, E, K, B = 4, 4, 2, 10

    class MoE(nn.Module):
        def __init__(self):
            super().__init__()
            self.w_gate = nn.Parameter(L.randn(D, E) * 0.3)
            self.w_noise = nn.Parameter(L.randn(D, E) * 0.1)
            self.experts = nn.ModuleList([nn.Sequential(nn.Linear(D, 6), nn.ReLU(),
                                                        nn.Linear(6, D)) for _ in range(E)])

        def forward(self, x):
            clean = x @ self.w_gate
            std = F.softplus(x @ self.w_noise) + 1e-2
            logits = clean + L.randn_like(clean) * std
            top_v, top_i = logits.topk(min(K + 1, E), dim=1)
            gates_k = F.softmax(top_v[:, :K], dim=1)
            gates = L.zeros_like(logits).scatter(1, top_i[:, :K], gates_k)
            out = L.zeros_like(x)
            for e in range(E):
                idx = L.nonzero(gates[:, e] > 0).squeeze(1)
                if idx.numel() == 0:
                    continue
                y = self.experts[e](x.index_select(0, idx)) * gates[idx, e].unsqueeze(1)
                out = out.index_add(0, idx, y)
            threshold = top_v[:, K:K + 1]
            prob_in = L.distributions.Normal(0.0, 1.0).cdf((clean - threshold) / std)
            return out, gates, prob_in.sum(0)

    def cv_squared(v):
        return v.float().var() / (v.float().mean() ** 2 + 1e-10) if v.numel() > 1 else 0

    moe = MoE().double()
    x = _t(L, normal64(B, D, seed=1))
    target = _t(L, normal64(B, D, seed=2))
    opt = L.optim.Adam(moe.parameters(), lr=1e-2)
    record = []

    def loss():
        out, gates, load = moe(x)
        aux = cv_squared(gates.sum(0)) + cv_squared(load)
        record.append((gates, (gates > 0).sum(0)))
        return F.mse_loss(out, target) + 0.01 * aux

    return _steps(opt, loss, 3), record, moe.w_noise.grad, moe.experts[3][0].weight.grad


@program
def switch_top1_routing_capacity_factor_cumsum_positions_and_dropped_tokens(L):
    """Switch-transformer routing: top-1 expert per token from a softmax router, each
    token's position in its expert's queue from cumsum of the one-hot assignment, tokens
    beyond the capacity dropped (mask), dispatch/combine tensors built by einsum of one-hots
    and the auxiliary load-balancing loss E * sum(fraction * mean prob)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(103)
    T, D, E, cap = 8, 4, 3, 3
    router = nn.Linear(D, E, bias=False).double()
    experts = nn.Parameter(L.randn(E, D, D, dtype=L.float64) * 0.3)
    x = _t(L, normal64(T, D, seed=1))
    probs = F.softmax(router(x), dim=-1)
    gate, idx = probs.max(dim=-1)
    onehot = F.one_hot(idx, E)
    pos = (L.cumsum(onehot, dim=0) - 1) * onehot
    keep = (pos < cap) & (onehot > 0)
    slot = F.one_hot(pos.sum(-1).clamp(max=cap - 1), cap)
    dispatch = keep.to(x.dtype)[:, :, None] * slot[:, None, :]
    ex_in = L.einsum("tec,td->ecd", dispatch, x)
    ex_out = L.einsum("ecd,edf->ecf", ex_in, experts)
    combine = dispatch * gate[:, None, None]
    y = L.einsum("tec,ecf->tf", combine, ex_out)
    frac = onehot.double().mean(0)
    aux = E * (frac * probs.mean(0)).sum()
    (y.pow(2).sum() + aux).backward()
    dropped = (~keep.any(-1)).nonzero().flatten()
    return idx, pos, dropped, y, aux, experts.grad, router.weight.grad


@program
def lora_linear_wrapper_frozen_base_kaiming_a_zero_b_merge_and_unmerge(L):
    """LoRA adapters: every nn.Linear of a model replaced (named_children recursion and
    setattr) by a wrapper holding the frozen base (requires_grad_(False)), A initialised by
    kaiming_uniform_(a=sqrt(5)) and B zeros, the update scaled by alpha / r with dropout on
    the input; only the adapters train (filter on requires_grad), the trainable count, then
    the delta merged into the base weight in place and the merged model's outputs compared
    with the adapter form's; unmerging restores the base."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(107)

    class LoRALinear(nn.Module):
        def __init__(self, base, r=2, alpha=4):
            super().__init__()
            self.base = base.requires_grad_(False)
            self.A = nn.Parameter(L.empty(r, base.in_features, dtype=base.weight.dtype))
            self.B = nn.Parameter(L.zeros(base.out_features, r, dtype=base.weight.dtype))
            nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
            self.scale, self.drop, self.merged = alpha / r, nn.Dropout(0.1), False

        def forward(self, x):
            y = self.base(x)
            if not self.merged:
                y = y + (self.drop(x) @ self.A.T @ self.B.T) * self.scale
            return y

        def merge(self, sign=1):
            self.base.weight.data += sign * (self.B @ self.A) * self.scale
            self.merged = sign > 0

    def inject(module):
        for name, child in module.named_children():
            if isinstance(child, nn.Linear):
                setattr(module, name, LoRALinear(child))
            else:
                inject(child)

    model = nn.Sequential(nn.Linear(5, 8), nn.GELU(),
                          nn.Sequential(nn.Linear(8, 8), nn.Tanh()), nn.Linear(8, 2)).double()
    base0 = model[2][0].weight.detach().clone()
    inject(model)
    trainable = [p for p in model.parameters() if p.requires_grad]
    counts = (sum(p.numel() for p in trainable), sum(p.numel() for p in model.parameters()))
    opt = L.optim.AdamW(trainable, lr=1e-2)
    x, y = _t(L, normal64(6, 5, seed=1)), _t(L, normal64(6, 2, seed=2))
    losses = _steps(opt, lambda: F.mse_loss(model(x), y), 3)
    model.eval()
    with L.no_grad():
        before = model(x)
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.merge()
        after = model(x)
        for m in model.modules():
            if isinstance(m, LoRALinear):
                m.merge(-1)
    return counts, losses, (before - after).abs().max() < 1e-12, \
        (model[2][0].base.weight - base0).abs().max() < 1e-12, model[3].B, \
        model[0].base.weight.grad is None, sorted(model.state_dict())[:4]


@program
def gradient_checkpointing_non_reentrant_blocks_dropout_rng_and_checkpoint_sequential(L):
    """Activation checkpointing: each block of a residual MLP run through
    torch.utils.checkpoint.checkpoint(use_reentrant=False) with a keyword argument and a
    dropout inside (the RNG state preserved so recomputation draws the same mask), the
    gradients equal to the plain run's under the same seed; checkpoint_sequential over an
    nn.Sequential in segments; and a non-tensor extra argument passed through."""
    nn, F = L.nn, L.nn.functional
    from importlib import import_module
    cp = import_module(L.__name__ + ".utils.checkpoint")
    L.manual_seed(109)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.drop = nn.Linear(6, 6), nn.Dropout(0.25)

        def forward(self, x, scale=1.0, act="gelu"):
            h = self.drop(getattr(F, act)(self.fc(x)))
            return x + scale * h

    blocks = nn.ModuleList([Block() for _ in range(3)]).double()
    x = _t(L, normal64(4, 6, seed=1), grad=True)

    def run(ckpt):
        L.manual_seed(5)
        h = x
        for b in blocks:
            if ckpt:
                h = cp.checkpoint(b, h, 0.5, use_reentrant=False, act="tanh")
            else:
                h = b(h, 0.5, act="tanh")
        return h

    out_c = run(True)
    out_c.pow(2).sum().backward()
    g_c = (x.grad.clone(), blocks[1].fc.weight.grad.clone())
    x.grad, _ = None, blocks.zero_grad()
    out_p = run(False)
    out_p.pow(2).sum().backward()
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(6, 6), nn.SiLU()) for _ in range(4)]).double()
    y = cp.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    y.sum().backward()
    return out_c, out_p, g_c[0], x.grad, g_c[1], blocks[1].fc.weight.grad, \
        seq[0][0].weight.grad


@program
def func_functional_call_stack_module_state_vmap_ensemble_and_vmapped_grads(L):
    """Model ensembling with torch.func: five copies of a model (with a BatchNorm in eval
    and its buffers), stack_module_state into stacked params and buffers, a base copy moved
    to 'meta', functional_call with (params, buffers) vmapped over the model dim with the
    same minibatch (in_dims=(0, 0, None)) or different minibatches (0, 0, 0), compared with
    looping; and vmap(grad) of the ensemble loss over the members."""
    import copy
    nn, F = L.nn, L.nn.functional
    from importlib import import_module
    tf = import_module(L.__name__ + ".func")
    L.manual_seed(113)

    def make():
        return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                             nn.Linear(6, 2)).double().eval()

    models = [make() for _ in range(5)]
    for i, m in enumerate(models):
        m[1].running_mean.fill_(0.1 * i)
    params, buffers = tf.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def f(p, b, x):
        return tf.functional_call(base, (p, b), (x,))

    x = _t(L, normal64(3, 4, seed=1))
    xs = _t(L, normal64(5, 3, 4, seed=2))
    same = tf.vmap(f, in_dims=(0, 0, None))(params, buffers, x)
    diff = tf.vmap(f)(params, buffers, xs)
    loop = L.stack([m(xs[i]) for i, m in enumerate(models)])
    y = L.tensor([0, 1, 1])

    def loss(p, b, x):
        return F.cross_entropy(f(p, b, x), y)

    grads = tf.vmap(tf.grad(loss), in_dims=(0, 0, None))(params, buffers, x)
    return same, (diff - loop).abs().max() < 1e-12, sorted(params), sorted(buffers), \
        grads["0.weight"], grads["3.bias"], params["0.weight"].requires_grad


@program
def per_sample_gradients_func_grad_vmap_detached_params_and_clipped_dp_sgd(L):
    """Per-sample gradients: params detached into a dict, a loss of one example (unsqueezed
    to a batch of one inside), vmap(grad(loss), in_dims=(None, None, 0, 0)) over the batch,
    checked against a loop of backward calls; then a DP-SGD step: per-sample gradient norms
    across all parameters, clipping factors min(1, C / norm), the clipped mean plus seeded
    Gaussian noise written into p.grad, and an SGD step."""
    nn, F = L.nn, L.nn.functional
    from importlib import import_module
    tf = import_module(L.__name__ + ".func")
    L.manual_seed(127)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    x, y = _t(L, normal64(6, 3, seed=1)), L.tensor(labels(6, 3, seed=2))

    def loss_one(p, b, xi, yi):
        out = tf.functional_call(model, (p, b), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    ps = tf.vmap(tf.grad(loss_one), in_dims=(None, None, 0, 0))(params, buffers, x, y)
    loop = []
    for i in range(6):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        loop.append(model[0].weight.grad.clone())
    norms = L.stack([g.flatten(1).norm(dim=1) for g in ps.values()], 1).norm(dim=1)
    factor = (1.0 / (norms / 0.5)).clamp(max=1.0)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    for name, p in model.named_parameters():
        g = L.einsum("i,i...->...", factor, ps[name])
        p.grad = (g + 0.5 * 0.1 * L.randn_like(g)) / 6
    opt.step()
    return (ps["0.weight"] - L.stack(loop)).abs().max() < 1e-12, norms, factor, \
        ps["2.bias"], model[2].weight


# ----------------------------------------------------------------------------------------------
# generative models: codebooks, critics, scores, energies
# ----------------------------------------------------------------------------------------------
@program
def vqvae_cdist_argmin_codebook_straight_through_commitment_and_ema_updates(L):
    """VQ-VAE quantisation: encoder output permuted to channels-last and flattened, distances
    by |z|^2 - 2 z e^T + |e|^2 (and cdist), argmin codes, quantised by embedding lookup,
    the codebook and commitment losses with detach, the straight-through z + (q - z).detach(),
    perplexity from code usage; the EMA codebook variant (cluster sizes with Laplace
    smoothing, embed sums by one-hot matmul, mul_/add_ with alpha) under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(131)
    K, D = 6, 3
    enc = nn.Conv2d(2, D, 3, padding=1).double()
    dec = nn.ConvTranspose2d(D, 2, 3, padding=1).double()
    book = nn.Embedding(K, D).double()
    book.weight.data.uniform_(-1 / K, 1 / K)
    x = _t(L, normal64(2, 2, 4, 4, seed=1))
    z = enc(x).permute(0, 2, 3, 1).contiguous()
    flat = z.view(-1, D)
    dist = (flat ** 2).sum(1, keepdim=True) - 2 * flat @ book.weight.t() + \
        (book.weight ** 2).sum(1)
    codes = dist.argmin(1)
    same_codes = L.cdist(flat, book.weight).argmin(1)
    q = book(codes).view(z.shape)
    loss_vq = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(q.detach(), z)
    q_st = z + (q - z).detach()
    recon = dec(q_st.permute(0, 3, 1, 2))
    loss = F.mse_loss(recon, x) + loss_vq
    loss.backward()
    onehot = F.one_hot(codes, K).double()
    avg = onehot.mean(0)
    perplexity = L.exp(-L.sum(avg * L.log(avg + 1e-10)))
    with L.no_grad():
        size, esum = L.zeros(K, dtype=L.float64), book.weight.detach().clone()
        size.mul_(0.9).add_(onehot.sum(0), alpha=0.1)
        esum.mul_(0.9).add_(onehot.t() @ flat, alpha=0.1)
        n = size.sum()
        size = (size + 1e-5) / (n + K * 1e-5) * n
        new_book = esum / size.unsqueeze(1)
    return codes, L.equal(codes, same_codes), loss, perplexity, enc.weight.grad, \
        book.weight.grad, new_book


@program
def wgan_gp_interpolates_grad_penalty_create_graph_and_n_critic_loop(L):
    """WGAN-GP: a critic with LayerNorm over (C, H, W) and LeakyReLU, real and fake images,
    interpolates from a seeded alpha of shape (B, 1, 1, 1), gradients of the critic's output
    by autograd.grad(create_graph=True, grad_outputs=ones_like), the penalty
    ((norm(2, dim=1) - 1)^2).mean() times lambda, five critic steps per generator step with
    Adam(betas=(0.5, 0.9))."""
    nn = L.nn
    L.manual_seed(137)
    G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh()).double()
    Dn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LayerNorm([4, 4, 4]),
                       nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(64, 1)).double()
    optG = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    optD = L.optim.Adam(Dn.parameters(), lr=1e-3, betas=(0.5, 0.9))
    real = _t(L, normal64(4, 1, 4, 4, seed=1))
    rec = []
    for it in range(6):
        noise = L.randn(4, 3, dtype=L.float64)
        fake = G(noise).view(4, 1, 4, 4)
        if it % 3 != 2:
            alpha = L.rand(4, 1, 1, 1, dtype=L.float64)
            inter = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
            out = Dn(inter)
            g = L.autograd.grad(outputs=out, inputs=inter, grad_outputs=L.ones_like(out),
                                create_graph=True, retain_graph=True, only_inputs=True)[0]
            gp = ((g.view(g.size(0), -1).norm(2, dim=1) - 1) ** 2).mean() * 10
            d_loss = Dn(fake.detach()).mean() - Dn(real).mean() + gp
            optD.zero_grad()
            d_loss.backward()
            optD.step()
            rec.append(("D", d_loss.item(), gp.item()))
        else:
            g_loss = -Dn(fake).mean()
            optG.zero_grad()
            g_loss.backward()
            optG.step()
            rec.append(("G", g_loss.item()))
    return rec, Dn[1].weight, G[2].weight.grad, Dn[0].weight.grad


@program
def ncsn_denoising_score_matching_geometric_sigmas_and_annealed_langevin(L):
    """Noise-conditional score matching: sigmas spaced geometrically (exp of a linspace of
    logs), a random noise level per example, perturbed data, the score net conditioned by
    dividing its output by sigma, the loss 0.5 ||s sigma + z||^2 averaged (the lambda =
    sigma^2 weighting), and annealed Langevin dynamics with step sizes eps sigma^2 /
    sigma_L^2 and seeded noise."""
    nn = L.nn
    L.manual_seed(139)
    sigmas = L.tensor(np.exp(np.linspace(np.log(1.0), np.log(0.05), 5)))
    net = nn.Sequential(nn.Linear(3, 32), nn.Softplus(), nn.Linear(32, 2)).double()
    x = _t(L, normal64(16, 2, seed=1) * 0.3 + [1.0, -1.0])
    opt = L.optim.Adam(net.parameters(), lr=1e-2)

    def score(xx, s):
        return net(L.cat([xx, s.log()], -1)) / s

    def loss():
        lab = L.randint(0, len(sigmas), (x.shape[0],))
        s = sigmas[lab].view(-1, 1)
        z = L.randn_like(x)
        return 0.5 * ((score(x + z * s, s) * s + z) ** 2).sum(-1).mean()

    losses = _steps(opt, loss, 3)
    xs = L.rand(4, 2, dtype=L.float64) * 2 - 1
    with L.no_grad():
        for s in sigmas:
            step = 2e-2 * (s / sigmas[-1]) ** 2
            for _ in range(2):
                sv = s.expand(xs.shape[0], 1)
                xs = xs + step / 2 * score(xs, sv) + step.sqrt() * L.randn_like(xs)
    return losses, xs, sigmas, net[0].weight.grad


@program
def sliced_score_matching_hutchinson_projections_double_backward(L):
    """Sliced score matching: random projection vectors v (normalised), the score s(x) of a
    small net, grad of (v . s) w.r.t. x with create_graph, the loss v^T J v + 0.5 (v . s)^2
    averaged, and its gradients w.r.t. the parameters through the double backward of Softplus
    and Linear layers."""
    nn = L.nn
    L.manual_seed(149)
    net = nn.Sequential(nn.Linear(2, 12), nn.Softplus(), nn.Linear(12, 12), nn.ELU(),
                        nn.Linear(12, 2)).double()
    x = _t(L, normal64(10, 2, seed=1)).requires_grad_()
    v = L.randn_like(x)
    v = v / v.norm(dim=-1, keepdim=True)
    s = net(x)
    sv = (s * v).sum()
    gv = L.autograd.grad(sv, x, create_graph=True)[0]
    loss = ((gv * v).sum(-1) + 0.5 * ((s * v).sum(-1)) ** 2).mean()
    loss.backward()
    return loss, gv, net[0].weight.grad, net[2].bias.grad, x.grad


@program
def energy_based_model_sgld_replay_buffer_requires_grad_toggle_and_contrastive_loss(L):
    """An EBM trained with SGLD negatives: a replay buffer of uniform noise from which 95%
    of the chains restart (seeded choice by rand < 0.95 and where), Langevin steps x <- x +
    step * grad E(x)... with x.requires_grad_(), autograd.grad of the summed energy, noise,
    the model's parameters' requires_grad switched off during sampling and back on, the
    contrastive loss with an energy magnitude regulariser, and the buffer rewritten."""
    nn = L.nn
    L.manual_seed(151)
    f = nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Linear(16, 1)).double()
    buffer = L.rand(20, 2, dtype=L.float64) * 2 - 1
    opt = L.optim.Adam(f.parameters(), lr=1e-3, betas=(0.0, 0.999))
    data = _t(L, normal64(8, 2, seed=1) * 0.2)
    rec = []
    for _ in range(2):
        idx = L.randint(0, buffer.shape[0], (8,))
        fresh = L.rand(8, 2, dtype=L.float64) * 2 - 1
        choose = (L.rand(8, 1) < 0.95).to(L.float64)
        x = (choose * buffer[idx] + (1 - choose) * fresh).detach()
        for p in f.parameters():
            p.requires_grad = False
        x.requires_grad_(True)
        for _ in range(5):
            g = L.autograd.grad(f(x).sum(), [x])[0]
            x.data += 1.0 * g + 0.01 * L.randn_like(x)
        for p in f.parameters():
            p.requires_grad = True
        x = x.detach()
        buffer[idx] = x
        pos, neg = f(data), f(x)
        loss = neg.mean() - pos.mean() + 0.1 * (pos ** 2 + neg ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((loss.item(), x))
    return rec, buffer, f[0].weight.grad


# ----------------------------------------------------------------------------------------------
# sequence models and structured losses
# ----------------------------------------------------------------------------------------------
@program
def tcn_weight_norm_parametrization_chomp_causal_padding_and_remove(L):
    """A temporal convolutional network: dilated causal Conv1d layers wrapped by
    nn.utils.parametrizations.weight_norm (original0/original1), Chomp1d slicing the extra
    right padding off, a 1x1 downsample residual, training steps on sequence regression,
    the parametrized weight's value, then remove_parametrizations keeping the value."""
    nn, F = L.nn, L.nn.functional
    wn = L.nn.utils.parametrizations.weight_norm
    L.set_default_dtype(L.float64)      # (g = ||v|| taken in float32 differs in its last bit)
    L.manual_seed(157)

    class TemporalBlock(nn.Module):
        def __init__(self, i, o, k, d):
            super().__init__()
            self.pad = (k - 1) * d
            self.c1 = wn(nn.Conv1d(i, o, k, padding=self.pad, dilation=d))
            self.c2 = wn(nn.Conv1d(o, o, k, padding=self.pad, dilation=d))
            self.down = nn.Conv1d(i, o, 1) if i != o else None

        def forward(self, x):
            h = F.relu(self.c1(x)[:, :, :-self.pad])
            h = F.relu(self.c2(h)[:, :, :-self.pad])
            res = x if self.down is None else self.down(x)
            return F.relu(h + res)

    tcn = nn.Sequential(TemporalBlock(2, 4, 2, 1), TemporalBlock(4, 4, 2, 2))
    head = nn.Linear(4, 1)
    x, y = _t(L, normal64(3, 2, 10, seed=1)), _t(L, normal64(3, 1, seed=2))
    opt = L.optim.Adam(list(tcn.parameters()) + list(head.parameters()), lr=2e-3)
    losses = _steps(opt, lambda: F.mse_loss(head(tcn(x)[:, :, -1]), y), 3)
    names = sorted(n for n, _ in tcn.named_parameters())[:4]
    g = tcn[0].c1.parametrizations.weight.original0.grad
    w = tcn[1].c2.weight.detach().clone()
    L.nn.utils.parametrize.remove_parametrizations(tcn[1].c2, "weight")
    return losses, names, g, (tcn[1].c2.weight - w).abs().max(), \
        L.nn.utils.parametrize.is_parametrized(tcn[1].c2), tcn(x)[0, :, -3:]


@program
def wavenet_mu_law_companding_one_hot_scatter_gated_dilated_convs_and_ce_over_time(L):
    """WaveNet-style: audio in [-1, 1] mu-law encoded (sign * log1p(mu |x|) / log1p(mu))
    into 16 classes, one-hot inputs by scatter_ into zeros (B, C, T), dilated causal convs
    by left F.pad, gated activations tanh * sigmoid, residual and skip 1x1 convs, the
    cross entropy over (B, C, T) logits against next-sample classes, and mu-law decoding."""
    nn, F = L.nn, L.nn.functional
    Q = 16
    mu = Q - 1
    L.manual_seed(163)
    audio = _t(L, np.sin(np.linspace(0, 6, 2 * 17)).reshape(2, 17) * 0.8)
    enc = L.sign(audio) * L.log1p(mu * audio.abs()) / math.log1p(mu)
    q = ((enc + 1) / 2 * mu + 0.5).long()
    dec = L.sign(2 * q.double() / mu - 1) * ((1 + mu) ** (2 * q.double() / mu - 1).abs() - 1) / mu
    inp = L.zeros(2, Q, 16, dtype=L.float64).scatter_(1, q[:, None, :-1], 1.0)

    class Layer(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.d = d
            self.conv = nn.Conv1d(8, 16, 2, dilation=d)
            self.res, self.skip = nn.Conv1d(8, 8, 1), nn.Conv1d(8, 8, 1)

        def forward(self, x):
            h = self.conv(F.pad(x, (self.d, 0)))
            a, b = h.chunk(2, 1)
            z = L.tanh(a) * L.sigmoid(b)
            return x + self.res(z), self.skip(z)

    front = nn.Conv1d(Q, 8, 1).double()
    layers = nn.ModuleList([Layer(d) for d in (1, 2, 4)]).double()
    out = nn.Sequential(nn.ReLU(), nn.Conv1d(8, 8, 1), nn.ReLU(), nn.Conv1d(8, Q, 1)).double()
    h, skips = front(inp), 0
    for lay in layers:
        h, s = lay(h)
        skips = skips + s
    logits = out(skips)
    loss = F.cross_entropy(logits, q[:, 1:])
    loss.backward()
    return q, dec, loss, logits.argmax(1), layers[2].conv.weight.grad, front.bias.grad


@program
def linear_chain_crf_forward_algorithm_logsumexp_gold_score_and_viterbi_backtrack(L):
    """A BiLSTM-CRF's CRF: emission scores from a BiLSTM, the partition function by the
    forward algorithm (logsumexp over previous tags of alpha + transition + emission, masked
    by sequence lengths with where), the gold path score from gathered emissions and indexed
    transitions, NLL, and Viterbi decoding by max with argmax backpointers and a backtrack."""
    nn = L.nn
    L.manual_seed(167)
    Tg, B, S = 4, 2, 5
    lstm = nn.LSTM(3, 3, bidirectional=True, batch_first=True).double()
    proj = nn.Linear(6, Tg).double()
    trans = nn.Parameter(L.randn(Tg, Tg, dtype=L.float64) * 0.5)
    start, end = nn.Parameter(L.zeros(Tg, dtype=L.float64)), nn.Parameter(
        L.zeros(Tg, dtype=L.float64))
    x = _t(L, normal64(B, S, 3, seed=1))
    tags = L.tensor(labels(B * S, Tg, seed=2).reshape(B, S))
    mask = L.arange(S)[None, :] < L.tensor([[5], [3]])
    em = proj(lstm(x)[0])
    alpha = start + em[:, 0]
    for t in range(1, S):
        nxt = L.logsumexp(alpha[:, :, None] + trans[None] + em[:, t, None, :], dim=1)
        alpha = L.where(mask[:, t, None], nxt, alpha)
    logZ = L.logsumexp(alpha + end, dim=1)
    gold = start[tags[:, 0]] + em[:, 0].gather(1, tags[:, :1]).squeeze(1)
    for t in range(1, S):
        step = trans[tags[:, t - 1], tags[:, t]] + em[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
        gold = gold + step * mask[:, t]
    last = tags.gather(1, (mask.sum(1) - 1)[:, None]).squeeze(1)
    gold = gold + end[last]
    nll = (logZ - gold).mean()
    nll.backward()
    with L.no_grad():
        score, ptrs = start + em[:, 0], []
        for t in range(1, S):
            best, arg = (score[:, :, None] + trans[None]).max(dim=1)
            score = L.where(mask[:, t, None], best + em[:, t], score)
            ptrs.append(arg)
        score = score + end
        best_last = score.argmax(1)
        paths = []
        for b in range(B):
            n = int(mask[b].sum())
            path = [int(best_last[b])]
            for p in reversed(ptrs[:n - 1]):
                path.append(int(p[b, path[-1]]))
            paths.append(path[::-1])
    return logZ, gold, nll, trans.grad, start.grad, proj.weight.grad, paths


# ----------------------------------------------------------------------------------------------
# second-order and physics-informed training
# ----------------------------------------------------------------------------------------------
@program
def trpo_conjugate_gradient_fisher_vector_products_and_backtracking_line_search(L):
    """TRPO: the surrogate advantage, the mean KL between the old (detached) and new
    Categorical policies by kl_divergence, its gradient flattened by cat of views, Fisher
    vector products by a second autograd.grad of (grad_kl . v) plus damping, ten conjugate
    gradient iterations, the step scaled to the trust region, and a backtracking line search
    writing candidates through vector_to_parameters / parameters_to_vector."""
    nn = L.nn
    D = L.distributions
    L.manual_seed(173)
    pi = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    obs = _t(L, normal64(12, 3, seed=1))
    act = L.tensor(labels(12, 3, seed=2))
    adv = _t(L, normal64(12, seed=3))
    with L.no_grad():
        old = D.Categorical(logits=pi(obs))
        old_lp = old.log_prob(act)

    def surrogate():
        return ((pi(obs).log_softmax(-1).gather(1, act[:, None]).squeeze(1) - old_lp).exp()
                * adv).mean()

    def mean_kl():
        return D.kl_divergence(old, D.Categorical(logits=pi(obs))).mean()

    params = list(pi.parameters())
    g = L.cat([x.reshape(-1) for x in L.autograd.grad(surrogate(), params)])
    gkl = L.cat([x.view(-1) for x in L.autograd.grad(mean_kl(), params, create_graph=True)])

    def fvp(v):
        hv = L.autograd.grad((gkl * v).sum(), params, retain_graph=True)
        return L.cat([x.contiguous().view(-1) for x in hv]) + 0.1 * v

    x, r = L.zeros_like(g), g.clone()
    p, rr = r.clone(), r @ r
    for _ in range(10):
        Ap = fvp(p)
        alpha = rr / (p @ Ap)
        x, r = x + alpha * p, r - alpha * Ap
        rr_new = r @ r
        if rr_new < 1e-10:
            break
        p, rr = r + rr_new / rr * p, rr_new
    step = L.sqrt(2 * 0.01 / (x @ fvp(x))) * x
    flat0 = nn.utils.parameters_to_vector(params).detach()
    with L.no_grad():
        base = surrogate()
        taken = None
        for k in range(5):
            nn.utils.vector_to_parameters(flat0 + 0.5 ** k * step, params)
            if surrogate() > base and mean_kl() <= 0.015:
                taken = k
                break
        else:
            nn.utils.vector_to_parameters(flat0, params)
    return g, x, step, taken, mean_kl(), nn.utils.parameters_to_vector(params)


@program
def pinn_burgers_residual_autograd_derivatives_and_lbfgs_strong_wolfe(L):
    """A physics-informed network for Burgers' equation: u(x, t) by an MLP on cat'd
    collocation points (requires_grad), u_t, u_x and u_xx by autograd.grad with
    create_graph and grad_outputs=ones_like, the residual u_t + u u_x - nu u_xx, boundary
    and initial-condition MSE terms, and a few L-BFGS iterations with the strong-Wolfe line
    search inside a closure."""
    nn = L.nn
    L.manual_seed(179)
    net = nn.Sequential(nn.Linear(2, 10), nn.Tanh(), nn.Linear(10, 10), nn.Tanh(),
                        nn.Linear(10, 1)).double()
    rng = np.random.RandomState(1)
    xc = _t(L, rng.rand(20, 1) * 2 - 1, grad=True)
    tc = _t(L, rng.rand(20, 1), grad=True)
    x0 = _t(L, np.linspace(-1, 1, 8)[:, None])
    u0 = -L.sin(math.pi * x0)
    tb = _t(L, np.linspace(0, 1, 5)[:, None])
    nu = 0.01 / math.pi

    def residual():
        u = net(L.cat([xc, tc], 1))
        ones = L.ones_like(u)
        u_t, u_x = L.autograd.grad(u, (tc, xc), ones, create_graph=True)
        u_xx = L.autograd.grad(u_x, xc, L.ones_like(u_x), create_graph=True)[0]
        return u_t + u * u_x - nu * u_xx

    def loss():
        f = residual()
        ic = net(L.cat([x0, L.zeros_like(x0)], 1)) - u0
        bc = L.cat([net(L.cat([-L.ones_like(tb), tb], 1)), net(L.cat([L.ones_like(tb), tb], 1))])
        return (f ** 2).mean() + (ic ** 2).mean() + (bc ** 2).mean()

    opt = L.optim.LBFGS(net.parameters(), lr=1.0, max_iter=6, history_size=5,
                        line_search_fn="strong_wolfe")
    seen = []

    def closure():
        opt.zero_grad()
        val = loss()
        val.backward()
        seen.append(val.item())
        return val

    first = opt.step(closure)
    opt.step(closure)
    state = opt.state[opt._params[0]]
    return first, seen, state["n_iter"], state["func_evals"], net[4].weight, \
        net[0].weight.grad


@program
def siren_sine_layers_special_init_and_laplacian_by_double_autograd(L):
    """SIREN: sine activations with omega_0 = 30, the first layer's weights uniform in
    +-1/n and the others in +-sqrt(6/n)/omega_0 (uniform_ under no_grad), fitting an image's
    gradient field; the network's gradient and Laplacian w.r.t. the coordinates through
    autograd.grad (the divergence of the gradient summed per dimension)."""
    nn = L.nn
    L.manual_seed(181)

    class Sine(nn.Module):
        def __init__(self, i, o, first, w0=30.0):
            super().__init__()
            self.lin, self.w0 = nn.Linear(i, o), w0
            with L.no_grad():
                b = 1 / i if first else math.sqrt(6 / i) / w0
                self.lin.weight.uniform_(-b, b)

        def forward(self, x):
            return L.sin(self.w0 * self.lin(x))

    net = nn.Sequential(Sine(2, 12, True), Sine(12, 12, False), nn.Linear(12, 1)).double()
    coords = _t(L, np.stack(np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 4),
                                        indexing="ij"), -1).reshape(-1, 2)).requires_grad_(True)
    y = net(coords)
    grad = L.autograd.grad(y, [coords], grad_outputs=L.ones_like(y), create_graph=True)[0]
    lap = 0
    for i in range(2):
        lap = lap + L.autograd.grad(grad[..., i], coords, L.ones_like(grad[..., i]),
                                    create_graph=True)[0][..., i:i + 1]
    target = _t(L, normal64(16, 2, seed=2))
    loss = ((grad - target) ** 2).mean() + 1e-4 * (lap ** 2).mean()
    loss.backward()
    return y, grad, lap, net[0].lin.weight.grad, net[2].bias.grad


@program
def maml_second_order_inner_loop_functional_call_with_create_graph(L):
    """MAML on sine regression: per-task fast weights as a dict of named parameters, two
    inner SGD steps by autograd.grad(create_graph=True) and dict comprehension, the query
    loss through functional_call with the adapted weights, meta-gradients accumulated over
    tasks into the meta-optimizer (Adam); first-order variant by detaching inner grads."""
    nn, F = L.nn, L.nn.functional
    from importlib import import_module
    fc = import_module(L.__name__ + ".func").functional_call
    L.manual_seed(191)
    model = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    meta = L.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.RandomState(5)
    tasks = []
    for _ in range(3):
        amp, ph = rng.uniform(0.5, 2), rng.uniform(0, math.pi)
        xs, xq = rng.uniform(-5, 5, (5, 1)), rng.uniform(-5, 5, (5, 1))
        tasks.append((_t(L, xs), _t(L, amp * np.sin(xs + ph)), _t(L, xq),
                      _t(L, amp * np.sin(xq + ph))))
    out = []
    for first_order in (False, True):
        meta.zero_grad()
        total = 0
        for xs, ys, xq, yq in tasks:
            fast = dict(model.named_parameters())
            for _ in range(2):
                loss = F.mse_loss(fc(model, fast, (xs,)), ys)
                grads = L.autograd.grad(loss, list(fast.values()), create_graph=not first_order)
                fast = {k: v - 0.01 * g for (k, v), g in zip(fast.items(), grads)}
            q = F.mse_loss(fc(model, fast, (xq,)), yq)
            (q / len(tasks)).backward()
            total += q.item()
        out.append((total, model[0].weight.grad.clone()))
        meta.step()
    return out, model[2].bias


# ----------------------------------------------------------------------------------------------
# transformers' pieces
# ----------------------------------------------------------------------------------------------
@program
def rotary_embeddings_polar_view_as_complex_and_view_as_real_in_attention(L):
    """Rotary position embeddings the LLaMA way: frequencies by outer(arange, inverse
    powers), polar(ones, angles) complex factors, queries and keys reshaped into pairs and
    viewed as complex, multiplied, back by view_as_real(...).flatten(3); the attention with
    a causal mask from triu(full(-inf), 1), and gradients through the complex ops."""
    F = L.nn.functional
    B, T, H, Dh = 2, 5, 2, 4
    freqs = 1.0 / (10000 ** (L.arange(0, Dh, 2)[: Dh // 2].double() / Dh))
    ang = L.outer(L.arange(T, dtype=L.float64), freqs)
    cis = L.polar(L.ones_like(ang), ang)
    q = _t(L, normal64(B, T, H, Dh, seed=1), grad=True)
    k = _t(L, normal64(B, T, H, Dh, seed=2), grad=True)
    v = _t(L, normal64(B, T, H, Dh, seed=3))

    def rope(x):
        xc = L.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
        return L.view_as_real(xc * cis.view(1, T, 1, Dh // 2)).flatten(3).type_as(x)

    qr, kr = rope(q).transpose(1, 2), rope(k).transpose(1, 2)
    mask = L.triu(L.full((T, T), float("-inf"), dtype=L.float64), diagonal=1)
    att = F.softmax(qr @ kr.transpose(2, 3) / math.sqrt(Dh) + mask, dim=-1)
    out = (att @ v.transpose(1, 2)).transpose(1, 2).contiguous().view(B, T, -1)
    sdpa = F.scaled_dot_product_attention(qr, kr, v.transpose(1, 2), is_causal=True)
    (out.sum() + (out ** 2).mean()).backward()
    return cis, qr, out, (sdpa.transpose(1, 2).reshape(B, T, -1) - out).abs().max() < 1e-12, \
        q.grad, k.grad


@program
def swin_window_partition_shifted_roll_attention_mask_and_relative_position_bias(L):
    """Swin's window attention: a relative position bias table indexed by the pairwise
    coordinate offsets (meshgrid, stack, flatten, broadcast difference, permute, shifted
    and scaled then summed) registered as a buffer, cyclic shift by roll, windows
    partitioned by view/permute and reversed, the shifted-window mask from region ids
    written through slices, masked_fill of non-zero differences by -100, attention and the
    reverse shift."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(193)
    B, Hh, Ww, C, ws, shift, heads = 1, 4, 4, 4, 2, 1, 2

    def partition(x):
        b, h, w, c = x.shape
        x = x.view(b, h // ws, ws, w // ws, ws, c)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws * ws, c)

    def reverse(win, h, w):
        b = int(win.shape[0] / (h * w / ws / ws))
        x = win.view(b, h // ws, w // ws, ws, ws, -1)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)

    table = nn.Parameter(L.randn((2 * ws - 1) ** 2, heads, dtype=L.float64) * 0.02)
    coords = L.flatten(L.stack(L.meshgrid([L.arange(ws), L.arange(ws)], indexing="ij")), 1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    index = rel.sum(-1)
    img = L.zeros((1, Hh, Ww, 1))
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    mw = partition(img).view(-1, ws * ws)
    amask = mw.unsqueeze(1) - mw.unsqueeze(2)
    amask = amask.masked_fill(amask != 0, -100.0).masked_fill(amask == 0, 0.0).double()
    qkv = nn.Linear(C, 3 * C).double()
    x = _t(L, normal64(B, Hh, Ww, C, seed=1), grad=True)
    xs = L.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    win = partition(xs)
    nW, N = win.shape[0], ws * ws
    q, k, v = qkv(win).reshape(nW, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    att = (q * (C // heads) ** -0.5) @ k.transpose(-2, -1)
    bias = table[index.view(-1)].view(N, N, -1).permute(2, 0, 1).contiguous()
    att = att + bias.unsqueeze(0)
    att = att.view(-1, nW, heads, N, N) + amask.unsqueeze(1).unsqueeze(0)
    att = F.softmax(att.view(-1, heads, N, N), dim=-1)
    o = (att @ v).transpose(1, 2).reshape(nW, N, C)
    y = L.roll(reverse(o, Hh, Ww), shifts=(shift, shift), dims=(1, 2))
    y.pow(2).sum().backward()
    return index, amask, y, table.grad, x.grad


@program
def beam_search_flattened_topk_floor_div_beam_reorder_and_length_penalty(L):
    """Beam search over a toy decoder: log-probs added to beam scores, topk over the
    flattened (beam x vocab) scores, beam origins by div(rounding_mode='floor') and tokens
    by remainder, hidden states reordered by index_select, finished beams frozen (EOS
    masking with a -inf row except EOS at 0), and the best hypothesis by a length penalty."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(197)
    V, H, K, EOS = 6, 5, 3, 1
    emb, cell, out = nn.Embedding(V, H), nn.GRUCell(H, H), nn.Linear(H, V)
    for m in (emb, cell, out):
        m.double()
    h = L.zeros(1, H, dtype=L.float64).expand(K, H).contiguous()
    tok = L.zeros(K, dtype=L.long)
    scores = L.tensor([0.0] + [float("-inf")] * (K - 1), dtype=L.float64)
    seqs = tok[:, None]
    done = L.zeros(K, dtype=L.bool)
    with L.no_grad():
        for _ in range(5):
            h = cell(emb(tok), h)
            lp = F.log_softmax(out(h), -1)
            frozen = L.full_like(lp, float("-inf"))
            frozen[:, EOS] = 0
            lp = L.where(done[:, None], frozen, lp)
            flat = (scores[:, None] + lp).view(-1)
            top, idx = flat.topk(K)
            beam = L.div(idx, V, rounding_mode="floor")
            tok = idx % V
            h, done = h.index_select(0, beam), done[beam] | (tok == EOS)
            seqs = L.cat([seqs[beam], tok[:, None]], 1)
            scores = top
        lengths = ((seqs != EOS).cumsum(1) == L.arange(1, seqs.shape[1] + 1)).sum(1)
        lengths = lengths.double() + 1
        norm = scores / (((5 + lengths) / 6) ** 0.6)
    return seqs, scores, norm, norm.argmax(), done


@program
def fairseq_label_smoothed_nll_gather_pad_mask_and_smooth_loss_by_sum(L):
    """The fairseq label-smoothed criterion: lprobs viewed as (N, V), target unsqueezed,
    nll = -gather, smooth = -sum(keepdim), padding positions zeroed by masked_fill_ of
    target.eq(pad), eps_i = eps / (V - 1), the loss (1 - eps - eps_i) nll + eps_i smooth,
    compared with cross_entropy(label_smoothing, ignore_index) after rescaling."""
    F = L.nn.functional
    V, PAD, eps = 7, 1, 0.1
    logits = _t(L, normal64(3, 4, V, seed=1), grad=True)
    target = L.tensor([[2, 3, 1, 1], [4, 5, 6, 1], [0, 2, 2, 3]])
    lprobs = F.log_softmax(logits, dim=-1).view(-1, V)
    tgt = target.view(-1).unsqueeze(-1)
    nll = -lprobs.gather(dim=-1, index=tgt)
    smooth = -lprobs.sum(dim=-1, keepdim=True)
    pad = tgt.eq(PAD)
    nll.masked_fill_(pad, 0.0)
    smooth.masked_fill_(pad, 0.0)
    nll, smooth = nll.squeeze(-1).sum(), smooth.squeeze(-1).sum()
    eps_i = eps / (V - 1)
    loss = (1.0 - eps - eps_i) * nll + eps_i * smooth
    loss.backward()
    ntok = target.ne(PAD).sum()
    ce = F.cross_entropy(logits.view(-1, V), target.view(-1), ignore_index=PAD,
                         label_smoothing=eps, reduction="sum")
    return loss, nll, smooth, ntok, ce, logits.grad


# ----------------------------------------------------------------------------------------------
# spectral methods
# ----------------------------------------------------------------------------------------------
@program
def fourier_neural_operator_rfft2_complex_weights_einsum_and_irfft2_size(L):
    """An FNO spectral layer: rfft2 of the input, the lowest modes (top and bottom rows of
    the frequency grid) multiplied by complex weights (cdouble Parameters scaled by
    1/(cin cout) * rand) with einsum, written into a zero complex tensor, irfft2 back with
    s=(H, W), added to a 1x1 conv path and GELU; trained for two steps with Adam (complex
    parameters' moments)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(199)
    ci, co, m1, m2 = 2, 3, 2, 2

    class Spectral(nn.Module):
        def __init__(self):
            super().__init__()
            s = 1 / (ci * co)
            self.w1 = nn.Parameter(s * L.rand(ci, co, m1, m2, dtype=L.cdouble))
            self.w2 = nn.Parameter(s * L.rand(ci, co, m1, m2, dtype=L.cdouble))

        def forward(self, x):
            B, _, H, W = x.shape
            xf = L.fft.rfft2(x)
            of = L.zeros(B, co, H, W // 2 + 1, dtype=L.cdouble)
            of[:, :, :m1, :m2] = L.einsum("bixy,ioxy->boxy", xf[:, :, :m1, :m2], self.w1)
            of[:, :, -m1:, :m2] = L.einsum("bixy,ioxy->boxy", xf[:, :, -m1:, :m2], self.w2)
            return L.fft.irfft2(of, s=(H, W))

    spec, skip = Spectral(), nn.Conv2d(ci, co, 1).double()
    x = _t(L, normal64(2, ci, 6, 6, seed=1))
    y = _t(L, normal64(2, co, 6, 6, seed=2))
    opt = L.optim.Adam(list(spec.parameters()) + list(skip.parameters()), lr=1e-2)
    losses = _steps(opt, lambda: F.mse_loss(F.gelu(spec(x) + skip(x)), y), 2)
    return losses, spec.w1, spec.w2.grad, skip.weight.grad


@program
def multi_resolution_stft_loss_spectral_convergence_and_log_magnitude(L):
    """The multi-resolution STFT loss of neural vocoders: for several (n_fft, hop, win)
    settings, stft with a Hann window and return_complex=True, magnitudes clamped before
    sqrt of the squared real and imaginary parts, spectral convergence (Frobenius norm of
    the difference over the target's) and the L1 of log magnitudes, averaged; gradients
    reach the predicted waveform."""
    F = L.nn.functional
    t = np.linspace(0, 1, 96)
    target = _t(L, np.stack([np.sin(2 * np.pi * 7 * t), np.sin(2 * np.pi * 3 * t) * 0.5]))
    pred = _t(L, (target.numpy() + 0.1 * normal64(2, 96, seed=1)), grad=True)

    def mag(x, n_fft, hop, win):
        spec = L.stft(x, n_fft, hop_length=hop, win_length=win,
                      window=L.hann_window(win, dtype=x.dtype), return_complex=True)
        return L.sqrt(L.clamp(spec.real ** 2 + spec.imag ** 2, min=1e-7)).transpose(2, 1)

    sc, lm = 0.0, 0.0
    for n_fft, hop, win in ((16, 4, 12), (32, 8, 24), (8, 2, 8)):
        p, q = mag(pred, n_fft, hop, win), mag(target, n_fft, hop, win)
        sc = sc + L.norm(q - p, p="fro") / L.norm(q, p="fro")
        lm = lm + F.l1_loss(L.log(q), L.log(p))
    loss = (sc + lm) / 3
    loss.backward()
    spec = L.stft(target, 16, hop_length=4, window=L.hann_window(16, dtype=L.float64),
                  return_complex=True)
    back = L.istft(spec, 16, hop_length=4, window=L.hann_window(16, dtype=L.float64),
                   length=96)
    return loss, sc, lm, pred.grad, (back - target).abs().max() < 1e-10, spec.shape


@program
def mel_filterbank_built_by_hand_log_mel_and_spec_augment_masks(L):
    """Log-mel features by hand: a triangular mel filterbank from hz/mel conversions with
    linspace and clamp of the rising and falling slopes, power spectra from rfft of framed
    audio (unfold into overlapping frames times a Hamming window), log(mel + 1e-6), per-
    utterance mean/variance normalisation and SpecAugment time and frequency masks at
    seeded positions (masked_fill over arange comparisons)."""
    sr, n_fft, n_mels, hop = 800, 32, 6, 8
    audio = _t(L, np.sin(np.linspace(0, 40, 2 * 120)).reshape(2, 120) +
               0.1 * normal64(2, 120, seed=1))
    frames = audio.unfold(-1, n_fft, hop) * L.hamming_window(n_fft, periodic=False,
                                                             dtype=L.float64)
    power = L.fft.rfft(frames, dim=-1).abs() ** 2
    nb = n_fft // 2 + 1

    def hz2mel(f):
        return 2595.0 * L.log10(1.0 + f / 700.0)

    def mel2hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    mpts = L.linspace(float(hz2mel(L.tensor(0.0))), float(hz2mel(L.tensor(sr / 2.0))),
                      n_mels + 2, dtype=L.float64)
    fpts = mel2hz(mpts)
    freqs = L.linspace(0, sr / 2, nb, dtype=L.float64)
    slopes = fpts[None, :] - freqs[:, None]
    down = -slopes[:, :-2] / (fpts[1:-1] - fpts[:-2])
    up = slopes[:, 2:] / (fpts[2:] - fpts[1:-1])
    fb = L.clamp(L.min(down, up), min=0)
    logmel = L.log(power @ fb + 1e-6)
    norm = (logmel - logmel.mean(1, keepdim=True)) / (logmel.std(1, keepdim=True) + 1e-5)
    rng = np.random.RandomState(3)
    T = norm.shape[1]
    t0, f0 = rng.randint(0, T - 3, 2), rng.randint(0, n_mels - 2, 2)
    tmask = (L.arange(T)[None] >= L.tensor(t0)[:, None]) & \
        (L.arange(T)[None] < L.tensor(t0)[:, None] + 3)
    fmask = (L.arange(n_mels)[None] >= L.tensor(f0)[:, None]) & \
        (L.arange(n_mels)[None] < L.tensor(f0)[:, None] + 2)
    aug = norm.masked_fill(tmask[:, :, None], 0.0).masked_fill(fmask[:, None, :], 0.0)
    return fb, logmel, aug, frames.shape


# ----------------------------------------------------------------------------------------------
# metric learning and contrastive queues
# ----------------------------------------------------------------------------------------------
@program
def moco_key_encoder_momentum_queue_enqueue_by_slice_and_einsum_logits(L):
    """MoCo v2: query and key encoders (the key one updated by momentum, no grads), a
    normalised queue buffer (dim, K) with a pointer buffer, positive logits by
    einsum('nc,nc->n') unsqueezed and negatives by einsum('nc,ck->nk') against a cloned,
    detached queue, cat then divided by the temperature, zero labels, and the keys enqueued
    by slice assignment of keys.T with the pointer advanced modulo K."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(211)
    dim, K, m, T = 4, 8, 0.99, 0.2
    q_enc = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, dim)).double()
    k_enc = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, dim)).double()
    for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
        pk.data.copy_(pq.data)
        pk.requires_grad = False
    queue = F.normalize(L.randn(dim, K, dtype=L.float64), dim=0)
    ptr = L.zeros(1, dtype=L.long)
    opt = L.optim.SGD(q_enc.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    rec = []
    for step in range(3):
        x = _t(L, normal64(4, 5, seed=step))
        xq, xk = x + 0.1 * L.randn_like(x), x + 0.1 * L.randn_like(x)
        q = F.normalize(q_enc(xq), dim=1)
        with L.no_grad():
            for pq, pk in zip(q_enc.parameters(), k_enc.parameters()):
                pk.data = pk.data * m + pq.data * (1.0 - m)
            k = F.normalize(k_enc(xk), dim=1)
        l_pos = L.einsum("nc,nc->n", [q, k]).unsqueeze(-1)
        l_neg = L.einsum("nc,ck->nk", [q, queue.clone().detach()])
        logits = L.cat([l_pos, l_neg], dim=1) / T
        labels_ = L.zeros(logits.shape[0], dtype=L.long)
        loss = F.cross_entropy(logits, labels_)
        opt.zero_grad()
        loss.backward()
        opt.step()
        p = int(ptr)
        queue[:, p:p + k.shape[0]] = k.T
        ptr[0] = (p + k.shape[0]) % K
        acc = (logits.argmax(1) == 0).float().mean()
        rec.append((loss.item(), acc.item(), int(ptr)))
    return rec, queue, k_enc[2].weight, q_enc[0].weight.grad


@program
def dino_centering_teacher_temperature_schedule_multicrop_chunks_and_ema_center(L):
    """DINO's loss: student outputs of several crops chunked per crop, the teacher's two
    global crops sharpened by a temperature from a warmup schedule (np.concatenate of a
    linspace and a constant), centred by an EMA centre buffer (updated from the batch mean
    of teacher outputs under no_grad), cross entropy between the teacher's softmax and the
    student's log_softmax over all pairs of different crops."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(223)
    out_dim, ncrops, B = 6, 4, 3
    temps = np.concatenate((np.linspace(0.04, 0.07, 2), np.ones(3) * 0.07))
    student = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, out_dim)).double()
    teacher = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, out_dim)).double()
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad_(False)
    center = L.zeros(1, out_dim, dtype=L.float64)
    opt = L.optim.AdamW(student.parameters(), lr=1e-3)
    rec = []
    for epoch in range(3):
        crops = [_t(L, normal64(B, 5, seed=10 * epoch + c)) for c in range(ncrops)]
        s_out = student(L.cat(crops)) / 0.1
        with L.no_grad():
            t_raw = teacher(L.cat(crops[:2]))
        t_out = F.softmax((t_raw - center) / temps[epoch], dim=-1).detach().chunk(2)
        s_chunks = s_out.chunk(ncrops)
        total, n = 0, 0
        for iq, q in enumerate(t_out):
            for v in range(len(s_chunks)):
                if v == iq:
                    continue
                total = total + L.sum(-q * F.log_softmax(s_chunks[v], dim=-1), dim=-1).mean()
                n += 1
        loss = total / n
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            center = center * 0.9 + t_raw.mean(dim=0, keepdim=True) * 0.1
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(0.996).add_((1 - 0.996) * ps.detach())
        rec.append(loss.item())
    return rec, center, teacher[2].bias, student[0].weight.grad


@program
def clip_symmetric_contrastive_loss_learned_logit_scale_clamped_exp(L):
    """CLIP's objective: image and text towers projected and L2-normalised, the logit scale
    a Parameter initialised to log(1/0.07) whose exp is clamped at 100, image-to-text
    logits and their transpose, the mean of the two cross entropies against arange labels,
    and the scale clamped in place after each step (data.clamp_(0, log 100))."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(227)
    img = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    txt = nn.EmbeddingBag(10, 4, mode="mean").double()
    scale = nn.Parameter(L.ones([], dtype=L.float64) * np.log(1 / 0.07))
    opt = L.optim.Adam(list(img.parameters()) + list(txt.parameters()) + [scale], lr=0.05)
    x = _t(L, normal64(5, 6, seed=1))
    tokens = L.tensor(labels(15, 10, seed=2))
    offsets = L.tensor([0, 3, 5, 9, 12])
    rec = []
    for _ in range(3):
        ie = F.normalize(img(x), dim=-1)
        te = F.normalize(txt(tokens, offsets), dim=-1)
        logits = scale.exp().clamp(max=100) * ie @ te.t()
        y = L.arange(len(logits))
        loss = (F.cross_entropy(logits, y) + F.cross_entropy(logits.t(), y)) / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        with L.no_grad():
            scale.data.clamp_(0, math.log(100))
        rec.append((loss.item(), scale.item()))
    return rec, txt.weight.grad, logits.softmax(-1)


@program
def arcface_additive_angular_margin_threshold_fallback_and_batch_hard_triplet(L):
    """ArcFace: normalised features and class centres, cos theta clamped, sin from sqrt(1 -
    cos^2), phi = cos(theta + m) expanded by the angle-sum identity, the easy-margin-free
    fallback where(cos > th, phi, cos - mm), the one-hot from scatter_, scaled logits and CE;
    plus batch-hard triplet mining on pairwise distances (cdist) with masks of equal labels
    (the diagonal excluded) picking the hardest positive and negative per anchor."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(229)
    s, m = 8.0, 0.3
    cos_m, sin_m = math.cos(m), math.sin(m)
    th, mm = math.cos(math.pi - m), math.sin(math.pi - m) * m
    emb = nn.Sequential(nn.Linear(5, 8), nn.PReLU(), nn.Linear(8, 4)).double()
    W = nn.Parameter(L.empty(3, 4, dtype=L.float64))
    nn.init.xavier_uniform_(W)
    x = _t(L, normal64(8, 5, seed=1))
    y = L.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    f = emb(x)
    cosine = F.linear(F.normalize(f), F.normalize(W)).clamp(-1 + 1e-7, 1 - 1e-7)
    sine = L.sqrt(1.0 - L.pow(cosine, 2))
    phi = cosine * cos_m - sine * sin_m
    phi = L.where(cosine > th, phi, cosine - mm)
    one_hot = L.zeros(cosine.size(), dtype=L.float64)
    one_hot.scatter_(1, y.view(-1, 1).long(), 1)
    logits = s * ((one_hot * phi) + ((1.0 - one_hot) * cosine))
    arc = F.cross_entropy(logits, y)
    d = L.cdist(f, f)
    same = y[:, None] == y[None, :]
    eye = L.eye(len(y), dtype=L.bool)
    hardest_pos = (d * (same & ~eye)).max(1).values
    hardest_neg = d.masked_fill(same, float("inf")).min(1).values
    trip = F.relu(hardest_pos - hardest_neg + 0.5).mean()
    tml = nn.TripletMarginLoss(margin=0.5)(f, f[[3, 4, 5, 6, 7, 0, 1, 2]], f.flip(0))
    (arc + trip + tml).backward()
    return logits, arc, trip, tml, W.grad, emb[1].weight.grad


@program
def center_loss_index_select_centres_and_manual_centre_update_by_index_add(L):
    """Center loss beside softmax: class centres as a Parameter gathered per sample
    (index_select), the half squared distance averaged, a separate SGD for the centres with
    their gradients rescaled by 1/alpha before the step, and the original paper's centre
    update computed by index_add_ of differences over per-class counts (bincount)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(233)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).double()
    cls = nn.Linear(2, 3).double()
    centers = nn.Parameter(L.randn(3, 2, dtype=L.float64))
    opt = L.optim.SGD(list(net.parameters()) + list(cls.parameters()), lr=0.1)
    copt = L.optim.SGD([centers], lr=0.5)
    x, y = _t(L, normal64(9, 4, seed=1)), L.tensor(labels(9, 3, seed=2))
    rec = []
    for _ in range(3):
        feat = net(x)
        c = centers.index_select(0, y)
        closs = 0.5 * ((feat - c) ** 2).sum(1).mean()
        loss = F.cross_entropy(cls(feat), y) + 0.1 * closs
        opt.zero_grad()
        copt.zero_grad()
        loss.backward()
        for p in [centers]:
            p.grad.data *= 1.0 / 0.1
        opt.step()
        copt.step()
        with L.no_grad():
            diff = L.zeros_like(centers).index_add_(0, y, c - feat)
            counts = L.bincount(y, minlength=3).double()
            delta = diff / (1 + counts[:, None])
        rec.append((loss.item(), delta))
    return rec, centers, net[2].weight.grad


# ----------------------------------------------------------------------------------------------
# more generative and structured models
# ----------------------------------------------------------------------------------------------
@program
def pixelcnn_masked_convolutions_type_a_b_buffers_and_discretised_ce(L):
    """PixelCNN: Conv2d subclasses whose weight is multiplied in place by a registered mask
    (type A excludes the centre pixel, type B includes it; rows below and pixels to the
    right zeroed by slice assignment) before calling super().forward, a 4-level
    quantised image as (B, C, H, W) logits and cross entropy; the receptive field checked by
    the gradient of one output pixel w.r.t. the input."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(239)

    class MaskedConv(nn.Conv2d):
        def __init__(self, kind, *args, **kw):
            super().__init__(*args, **kw)
            self.register_buffer("mask", self.weight.data.clone())
            _, _, h, w = self.weight.size()
            self.mask.fill_(1)
            self.mask[:, :, h // 2, w // 2 + (kind == "B"):] = 0
            self.mask[:, :, h // 2 + 1:] = 0

        def forward(self, x):
            self.weight.data *= self.mask
            return super().forward(x)

    net = nn.Sequential(MaskedConv("A", 1, 6, 5, padding=2), nn.ReLU(),
                        MaskedConv("B", 6, 6, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(6, 4, 1)).double()
    img = L.tensor(np.random.RandomState(1).randint(0, 4, (2, 1, 5, 5)))
    inp = (img.double() / 3).requires_grad_(True)
    logits = net(inp)
    loss = F.cross_entropy(logits, img[:, 0])
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    opt.zero_grad()
    loss.backward()
    opt.step()
    probe = inp.detach().clone().requires_grad_(True)
    net(probe)[0, :, 2, 2].sum().backward()
    field = (probe.grad[0, 0] != 0).int()
    return loss, field, net[0].mask[0, 0], net[2].weight.grad.abs().sum(), net[0].weight


@program
def rectified_flow_matching_linear_interpolants_velocity_mse_and_euler_sampler(L):
    """Flow matching / rectified flow: x_t = t x1 + (1 - t) x0 with seeded t of shape
    (B, 1), the target velocity x1 - x0, a time-conditioned MLP (t concatenated), the MSE,
    Adam steps with a LambdaLR warmup, then an Euler ODE sampler from noise over N steps
    under no_grad, and the straightness measure of the learned trajectories."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(241)
    net = nn.Sequential(nn.Linear(3, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(),
                        nn.Linear(32, 2)).double()
    opt = L.optim.Adam(net.parameters(), lr=3e-3)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 3))
    x1 = _t(L, normal64(32, 2, seed=1) * 0.2 + np.where(np.arange(32)[:, None] % 2, 1.5, -1.5))
    losses = []
    for _ in range(4):
        x0 = L.randn_like(x1)
        t = L.rand(x1.shape[0], 1, dtype=L.float64)
        xt = t * x1 + (1 - t) * x0
        loss = F.mse_loss(net(L.cat([xt, t], -1)), x1 - x0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    with L.no_grad():
        z = L.randn(6, 2, dtype=L.float64)
        x, N, vs = z.clone(), 5, []
        for i in range(N):
            tt = L.full((6, 1), i / N, dtype=L.float64)
            v = net(L.cat([x, tt], -1))
            vs.append(v)
            x = x + v / N
        straight = L.stack([((x - z) - v).pow(2).sum(-1) for v in vs]).mean()
    return losses, sched.get_last_lr(), x, straight


@program
def neural_cellular_automata_sobel_depthwise_perception_alive_mask_and_stochastic_update(L):
    """Growing neural cellular automata: a perception by a depthwise conv (groups = channels)
    with identity and Sobel kernels stacked and repeated per channel, an update MLP as 1x1
    convs with the last zero-initialised, a stochastic per-cell fire mask (rand <= 0.5),
    the alive mask from max_pool2d of the alpha channel before and after, a few steps of
    growth and the loss on the RGBA channels against a target."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(251)
    C = 6
    ident = L.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=L.float64)
    sobel = L.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=L.float64) / 8
    kernel = L.stack([ident, sobel, sobel.T])[:, None].repeat(C, 1, 1, 1)
    update = nn.Sequential(nn.Conv2d(3 * C, 16, 1), nn.ReLU(), nn.Conv2d(16, C, 1, bias=False))
    update = update.double()
    with L.no_grad():
        update[2].weight.zero_()
        update[2].weight.add_(0.01 * L.randn_like(update[2].weight))

    def alive(x):
        return F.max_pool2d(x[:, 3:4], 3, stride=1, padding=1) > 0.1

    def step(x):
        pre = alive(x)
        y = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), kernel, groups=C)
        dx = update(y)
        fire = (L.rand(x.shape[0], 1, x.shape[2], x.shape[3]) <= 0.5).to(x.dtype)
        x = x + dx * fire
        return x * (pre & alive(x)).to(x.dtype)

    seed = L.zeros(1, C, 6, 6, dtype=L.float64)
    seed[:, 3:, 3, 3] = 1.0
    target = _t(L, np.random.RandomState(1).rand(1, 4, 6, 6))
    x = seed
    for _ in range(4):
        x = step(x)
    loss = F.mse_loss(x[:, :4], target)
    loss.backward()
    return kernel.shape, x, loss, update[0].weight.grad, update[2].weight.grad


@program
def detection_box_iou_giou_loss_sigmoid_focal_loss_and_delta_encode_decode(L):
    """Detection losses by hand (torchvision.ops' formulas): pairwise IoU of xyxy boxes by
    max/min of corners with clamp(min=0) and prod, GIoU with the enclosing box, the sigmoid
    focal loss (p_t, alpha_t, (1 - p_t)^gamma on BCE-with-logits), box regression targets
    encoded as (dx, dy, log dw, log dh) with weights and decoded back with the dw/dh clamp at
    log(1000/16), and a greedy NMS loop over argsort(descending)."""
    F = L.nn.functional

    def area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def iou(a, b):
        lt = L.max(a[:, None, :2], b[:, :2])
        rb = L.min(a[:, None, 2:], b[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(2)
        union = area(a)[:, None] + area(b) - inter
        return inter / union, union

    def giou(a, b):
        i, u = iou(a, b)
        lt = L.min(a[:, None, :2], b[:, :2])
        rb = L.max(a[:, None, 2:], b[:, 2:])
        encl = (rb - lt).clamp(min=0).prod(2)
        return i - (encl - u) / encl

    xy = np.random.RandomState(1).rand(5, 2) * 10
    wh = np.random.RandomState(2).rand(5, 2) * 5 + 1
    pred = _t(L, np.concatenate([xy, xy + wh], 1), grad=True)
    gt = _t(L, np.concatenate([xy + 0.5, xy + wh * 0.8], 1))
    gl = (1 - L.diag(giou(pred, gt))).mean()
    logits = _t(L, normal64(5, 3, seed=3), grad=True)
    tgt = F.one_hot(L.tensor([0, 2, 1, 1, 0]), 3).double()
    p = L.sigmoid(logits)
    ce = F.binary_cross_entropy_with_logits(logits, tgt, reduction="none")
    p_t = p * tgt + (1 - p) * (1 - tgt)
    focal = (ce * (1 - p_t) ** 2 * (0.25 * tgt + 0.75 * (1 - tgt))).sum() / 5
    (gl + focal).backward()
    wx, wy, ww, wh_ = 10.0, 10.0, 5.0, 5.0

    def encode(ref, prop):
        pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
        px, py = prop[:, 0] + 0.5 * pw, prop[:, 1] + 0.5 * ph
        gw, gh = ref[:, 2] - ref[:, 0], ref[:, 3] - ref[:, 1]
        gx, gy = ref[:, 0] + 0.5 * gw, ref[:, 1] + 0.5 * gh
        return L.stack((wx * (gx - px) / pw, wy * (gy - py) / ph, ww * L.log(gw / pw),
                        wh_ * L.log(gh / ph)), dim=1)

    def decode(d, prop):
        pw, ph = prop[:, 2] - prop[:, 0], prop[:, 3] - prop[:, 1]
        px, py = prop[:, 0] + 0.5 * pw, prop[:, 1] + 0.5 * ph
        dw = L.clamp(d[:, 2] / ww, max=math.log(1000.0 / 16))
        dh = L.clamp(d[:, 3] / wh_, max=math.log(1000.0 / 16))
        cx, cy = d[:, 0] / wx * pw + px, d[:, 1] / wy * ph + py
        w, h = L.exp(dw) * pw, L.exp(dh) * ph
        return L.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=1)

    props = pred.detach()
    deltas = encode(gt, props)
    back = decode(deltas, props)
    scores = _t(L, np.random.RandomState(4).rand(5))
    order = scores.argsort(descending=True)
    ious = iou(props, props)[0]
    keep, removed = [], set()
    for i in order.tolist():
        if i in removed:
            continue
        keep.append(i)
        removed |= set(L.nonzero(ious[i] > 0.3).flatten().tolist())
    return gl, focal, pred.grad, logits.grad, deltas, (back - gt).abs().max() < 1e-10, keep


@program
def gradient_hooks_param_clamp_register_hook_and_post_accumulate_misuse(L):
    """Gradient hooks in a training loop: per-parameter register_hook clamping gradients
    (returning the new tensor), a module full backward hook recording grad_output norms,
    a post-accumulate-grad hook scaling p.grad in place and returning None, and the error a
    post-accumulate hook that returns a tensor raises; hooks removed by their handles."""
    nn = L.nn
    L.manual_seed(257)
    net = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    handles = [p.register_hook(lambda g: g.clamp(-0.05, 0.05)) for p in net[0].parameters()]
    norms = []
    handles.append(net[2].register_full_backward_hook(
        lambda m, gin, gout: norms.append(gout[0].norm().item())))

    def halve(p):
        p.grad.mul_(0.5)

    handles.append(net[2].weight.register_post_accumulate_grad_hook(halve))
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    x, y = _t(L, normal64(5, 3, seed=1)), _t(L, normal64(5, 2, seed=2))
    losses = _steps(opt, lambda: ((net(x) - y) ** 2).mean(), 2)
    g0, g2 = net[0].weight.grad.clone(), net[2].weight.grad.clone()
    for h in handles:
        h.remove()
    bad = []
    for back in (lambda p: p.grad * 2, lambda p: p.grad, lambda p: p, lambda p: 2.0):
        w = L.randn(3, dtype=L.float64, requires_grad=True)
        w.register_post_accumulate_grad_hook(back)
        bad.append(err(lambda: (w * 3).sum().backward()))
    net.zero_grad()
    ((net(x) - y) ** 2).mean().backward()
    return losses, norms, g0, g2, bad, w.grad, net[0].weight.grad.abs().max() > 0.05


# ----------------------------------------------------------------------------------------------
# graphs, sets and latent-variable models
# ----------------------------------------------------------------------------------------------
@program
def pygcn_sparse_normalised_adjacency_sparse_mm_dropout_and_masked_nll(L):
    """The pygcn recipe: a symmetric adjacency with self-loops row-normalised, turned into a
    sparse COO tensor (indices from nonzero, values gathered), two graph-convolution layers
    as sparse.mm(adj, x @ W) with a uniform_(-stdv, stdv) reset, dropout between them,
    log_softmax and NLL over the training index only, accuracy on the validation index, Adam
    with weight decay."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(263)
    N, Fi, Hd, C = 7, 4, 6, 3
    rng = np.random.RandomState(1)
    A = (rng.rand(N, N) < 0.35).astype(float)
    A = np.maximum(A, A.T) + np.eye(N)
    A = A / A.sum(1, keepdims=True)
    rows, cols = np.nonzero(A)
    adj = L.sparse_coo_tensor(L.tensor(np.vstack([rows, cols])), L.tensor(A[rows, cols]), (N, N))

    class GraphConv(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.weight = nn.Parameter(L.empty(i, o, dtype=L.float64))
            self.bias = nn.Parameter(L.empty(o, dtype=L.float64))
            stdv = 1.0 / math.sqrt(o)
            self.weight.data.uniform_(-stdv, stdv)
            self.bias.data.uniform_(-stdv, stdv)

        def forward(self, x, a):
            return L.sparse.mm(a, x @ self.weight) + self.bias

    g1, g2 = GraphConv(Fi, Hd), GraphConv(Hd, C)
    params = list(g1.parameters()) + list(g2.parameters())
    opt = L.optim.Adam(params, lr=0.01, weight_decay=5e-4)
    x = _t(L, rng.rand(N, Fi))
    y = L.tensor(labels(N, C, seed=2))
    idx_train, idx_val = L.arange(0, 4), L.arange(4, 7)
    rec = []
    for _ in range(3):
        h = F.dropout(F.relu(g1(x, adj)), 0.5, training=True)
        out = F.log_softmax(g2(h, adj), dim=1)
        loss = F.nll_loss(out[idx_train], y[idx_train])
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc = out[idx_val].max(1)[1].type_as(y).eq(y[idx_val]).double().sum() / len(idx_val)
        rec.append((loss.item(), acc.item()))
    return rec, g1.weight.grad, g2.bias, adj.to_dense()


@program
def conditional_neural_process_mean_aggregation_softplus_sigma_and_independent_normal(L):
    """A conditional neural process: context pairs encoded and mean-aggregated into r,
    r repeated over the targets (unsqueeze + expand), the decoder's output split into mean
    and a sigma bounded by 0.1 + 0.9 softplus, the log-likelihood of an Independent(Normal)
    per task, and the context/target split from a seeded permutation."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(269)
    enc = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8)).double()
    dec = nn.Sequential(nn.Linear(9, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    xs = _t(L, np.linspace(-2, 2, 10)[None, :, None].repeat(3, 0))
    ys = L.sin(xs * _t(L, [[[1.0]], [[2.0]], [[0.5]]]))
    rec = []
    for _ in range(3):
        perm = L.randperm(10)
        ci, ti = perm[:4], perm
        r = enc(L.cat([xs[:, ci], ys[:, ci]], -1)).mean(1)
        rep = r.unsqueeze(1).expand(-1, len(ti), -1)
        mu, raw = dec(L.cat([rep, xs[:, ti]], -1)).chunk(2, -1)
        sigma = 0.1 + 0.9 * F.softplus(raw)
        dist = D.Independent(D.Normal(mu, sigma), 1)
        ll = dist.log_prob(ys[:, ti]).mean()
        opt.zero_grad()
        (-ll).backward()
        opt.step()
        rec.append((ll.item(), dist.batch_shape, dist.event_shape))
    return rec, sigma.min(), dec[2].weight.grad


@program
def gumbel_softmax_vae_hard_straight_through_categorical_kl_to_uniform_and_annealing(L):
    """A categorical VAE: the encoder's logits for N latent variables of K classes, samples
    by F.gumbel_softmax(hard=True) (seeded; straight-through so gradients flow), the KL to
    the uniform prior as sum q log(q K), the BCE reconstruction of binary data, and the
    temperature annealed by max(0.5, exp(-r t)) between steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(271)
    Nl, K = 3, 4
    enc = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, Nl * K)).double()
    dec = nn.Sequential(nn.Linear(Nl * K, 16), nn.ReLU(), nn.Linear(16, 8)).double()
    x = _t(L, (np.random.RandomState(1).rand(6, 8) > 0.5).astype(float))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    tau, rec = 1.0, []
    for step in range(3):
        logits = enc(x).view(-1, Nl, K)
        z = F.gumbel_softmax(logits, tau=tau, hard=True, dim=-1)
        recon = dec(z.view(-1, Nl * K))
        q = F.softmax(logits, dim=-1)
        kl = (q * L.log(q * K + 1e-20)).sum(dim=(1, 2)).mean()
        bce = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / x.shape[0]
        loss = bce + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((loss.item(), z.argmax(-1), tau))
        tau = max(0.5, math.exp(-0.3 * (step + 1)))
    return rec, enc[2].weight.grad, z.sum(-1)


@program
def set_transformer_isab_inducing_points_pma_seed_and_key_padding_masks(L):
    """A Set Transformer: MAB blocks built on nn.MultiheadAttention(batch_first) with
    LayerNorm and a row-wise feed-forward, ISAB through learned inducing points (a Parameter
    with xavier_uniform_) repeated over the batch, PMA pooling with a learned seed vector,
    sets of different sizes padded with a key_padding_mask, and a permutation-invariance
    check of the pooled output."""
    nn = L.nn
    L.manual_seed(277)
    d = 8

    class MAB(nn.Module):
        def __init__(self):
            super().__init__()
            self.att = nn.MultiheadAttention(d, 2, batch_first=True)
            self.ln0, self.ln1 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Linear(d, d)

        def forward(self, q, k, mask=None):
            h = self.ln0(q + self.att(q, k, k, key_padding_mask=mask)[0])
            return self.ln1(h + L.relu(self.ff(h)))

    class ISAB(nn.Module):
        def __init__(self, m=3):
            super().__init__()
            self.I = nn.Parameter(L.empty(1, m, d))
            nn.init.xavier_uniform_(self.I)
            self.m0, self.m1 = MAB(), MAB()

        def forward(self, x, mask):
            h = self.m0(self.I.repeat(x.size(0), 1, 1), x, mask)
            return self.m1(x, h)

    class PMA(nn.Module):
        def __init__(self):
            super().__init__()
            self.S = nn.Parameter(L.randn(1, 1, d) * 0.1)
            self.mab = MAB()

        def forward(self, x, mask):
            return self.mab(self.S.repeat(x.size(0), 1, 1), x, mask)

    embed, isab, pma = nn.Linear(2, d).double(), ISAB().double(), PMA().double()
    x = _t(L, normal64(3, 5, 2, seed=1))
    mask = L.arange(5)[None] >= L.tensor([[5], [3], [4]])

    def run(inp, m):
        return pma(isab(embed(inp), m), m).squeeze(1)

    out = run(x, mask)
    perm = L.tensor([4, 2, 0, 1, 3])
    out_p = run(x[:, perm], mask[:, perm])
    out[:, 0].sum().backward()
    return out, (out_p - out).abs().max() < 1e-10, isab.I.grad, pma.S.grad


@program
def hypernetwork_generated_weights_functional_linear_and_per_task_embeddings(L):
    """A hypernetwork: per-task embeddings map through a generator MLP to the flat weights
    and biases of a target network, split and viewed into shapes, used by F.linear; the
    loss over tasks trains only the hypernetwork and the embeddings; with a chunked variant
    generating the target's weights in chunks with chunk embeddings then cat'd."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(281)
    shapes = [(6, 2), (6,), (1, 6), (1,)]
    sizes = [int(np.prod(s)) for s in shapes]
    gen = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, sum(sizes))).double()
    tasks = nn.Embedding(4, 3).double()
    chunk_emb = nn.Parameter(L.randn(3, 2, dtype=L.float64))
    cgen = nn.Linear(5, 9).double()
    x = _t(L, normal64(4, 5, 2, seed=1))
    y = _t(L, normal64(4, 5, 1, seed=2))
    opt = L.optim.Adam(list(gen.parameters()) + list(tasks.parameters()), lr=1e-2)

    def target(flat, inp):
        w1, b1, w2, b2 = [p.view(s) for p, s in zip(flat.split(sizes), shapes)]
        return F.linear(L.tanh(F.linear(inp, w1, b1)), w2, b2)

    def loss():
        flats = gen(tasks(L.arange(4)))
        return sum(F.mse_loss(target(flats[t], x[t]), y[t]) for t in range(4)) / 4

    losses = _steps(opt, loss, 3)
    temb = tasks(L.tensor([1])).expand(3, -1)
    chunks = cgen(L.cat([temb, chunk_emb], -1)).flatten()[:sum(sizes) - 2]
    flat = L.cat([chunks, L.zeros(2, dtype=L.float64)])
    out = target(flat, x[1])
    out.sum().backward()
    return losses, out, chunk_emb.grad, cgen.weight.grad, gen[2].bias.grad


@program
def deep_ensemble_gaussian_nll_quantile_pinball_and_mixture_predictive(L):
    """Uncertainty heads: an ensemble of three regressors each predicting mean and variance
    (softplus + 1e-6), nn.GaussianNLLLoss(full=True) against the hand-written NLL, the
    ensemble's mixture mean and variance (law of total variance), and a quantile regressor
    trained with the pinball loss max(q e, (q - 1) e) at three quantiles."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(283)
    members = nn.ModuleList([nn.Sequential(nn.Linear(1, 12), nn.ReLU(), nn.Linear(12, 2))
                             for _ in range(3)]).double()
    qnet = nn.Sequential(nn.Linear(1, 12), nn.ReLU(), nn.Linear(12, 3)).double()
    x = _t(L, np.linspace(-1, 1, 12)[:, None])
    y = x ** 3 + 0.1 * _t(L, normal64(12, 1, seed=1))
    gnll = nn.GaussianNLLLoss(full=True)
    qs = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)
    opt = L.optim.Adam(list(members.parameters()) + list(qnet.parameters()), lr=1e-2)
    rec = []
    for _ in range(3):
        total, mus, vars_ = 0, [], []
        for m in members:
            mu, raw = m(x).chunk(2, -1)
            var = F.softplus(raw) + 1e-6
            total = total + gnll(mu, y, var)
            by_hand = 0.5 * (L.log(var) + (y - mu) ** 2 / var + math.log(2 * math.pi)).mean()
            mus.append(mu)
            vars_.append(var)
        e = y - qnet(x)
        pin = L.max(qs * e, (qs - 1) * e).mean()
        loss = total + pin
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((loss.item(), by_hand.item(), pin.item()))
    mu_s, var_s = L.stack(mus), L.stack(vars_)
    mean = mu_s.mean(0)
    var = (var_s + mu_s ** 2).mean(0) - mean ** 2
    return rec, mean, var, qnet[2].weight.grad


@program
def transformer_xl_style_segment_memory_detached_cat_and_relative_shift(L):
    """Segment-level recurrence: hidden states of the previous segment kept as memory
    (detached), keys and values over cat([mem, h]), a causal mask that lets each position
    see all memory (triu with diagonal = 1 + mem_len), a relative-position term with the
    _rel_shift trick (pad a zero column, view, drop the first row, view back), and the
    memory updated by the last mem_len states."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(293)
    d, seg, mem_len = 6, 3, 3
    qkv = nn.Linear(d, 3 * d, bias=False).double()
    r_emb = nn.Parameter(L.randn(seg + mem_len, d, dtype=L.float64) * 0.1)
    out_proj = nn.Linear(d, d).double()

    def rel_shift(x):
        q, k = x.shape
        z = L.zeros((q, 1), dtype=x.dtype)
        padded = L.cat([z, x], dim=1).view(k + 1, q)
        return padded[1:].view_as(x)

    data = _t(L, normal64(3 * seg, d, seed=1))
    mem = L.zeros(0, d, dtype=L.float64)
    outs = []
    for s in range(3):
        h = data[s * seg:(s + 1) * seg]
        cat = L.cat([mem, h], 0)
        q, k, v = qkv(cat).chunk(3, -1)
        q = q[-seg:]
        klen = cat.shape[0]
        ac = q @ k.T
        bd = rel_shift(q @ r_emb[-klen:].T)
        score = (ac + bd) / math.sqrt(d)
        mask = L.triu(L.ones(seg, klen, dtype=L.bool), diagonal=1 + mem.shape[0])
        att = F.softmax(score.masked_fill(mask, float("-inf")), -1)
        o = h + out_proj(att @ v)
        outs.append(o)
        mem = cat[-mem_len:].detach()
    y = L.cat(outs)
    y.pow(2).mean().backward()
    return y, mem, r_emb.grad, qkv.weight.grad, rel_shift(L.arange(12.0).view(3, 4))


# ----------------------------------------------------------------------------------------------
# transformer training odds and ends
# ----------------------------------------------------------------------------------------------
@program
def conformer_convolution_module_pointwise_glu_depthwise_batchnorm_swish_and_macaron_ffn(L):
    """A Conformer block: half-step macaron feed-forward modules (LayerNorm, Linear, SiLU,
    dropout, Linear, scaled by 0.5), multi-head self-attention with a key padding mask, the
    convolution module (LayerNorm, pointwise Conv1d to 2C, GLU over channels, depthwise
    Conv1d with groups=C and same padding, BatchNorm1d, SiLU, pointwise Conv1d) on
    transposed (B, C, T) features, and a final LayerNorm; two AdamW steps."""
    nn = L.nn
    L.manual_seed(307)
    C, T, B = 8, 6, 2

    class FFN(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.LayerNorm(C), nn.Linear(C, 2 * C), nn.SiLU(),
                                     nn.Dropout(0.1), nn.Linear(2 * C, C), nn.Dropout(0.1))

        def forward(self, x):
            return 0.5 * self.net(x)

    class ConvModule(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.ln = nn.LayerNorm(C)
            self.pw1, self.glu = nn.Conv1d(C, 2 * C, 1), nn.GLU(dim=1)
            self.dw = nn.Conv1d(C, C, k, padding="same", groups=C)
            self.bn, self.act, self.pw2 = nn.BatchNorm1d(C), nn.SiLU(), nn.Conv1d(C, C, 1)

        def forward(self, x):
            h = self.glu(self.pw1(self.ln(x).transpose(1, 2)))
            return self.pw2(self.act(self.bn(self.dw(h)))).transpose(1, 2)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ff1, self.ff2 = FFN(), FFN()
            self.ln_att = nn.LayerNorm(C)
            self.att = nn.MultiheadAttention(C, 2, dropout=0.1, batch_first=True)
            self.conv, self.ln = ConvModule(), nn.LayerNorm(C)

        def forward(self, x, pad):
            x = x + self.ff1(x)
            h = self.ln_att(x)
            x = x + self.att(h, h, h, key_padding_mask=pad, need_weights=False)[0]
            x = x + self.conv(x)
            return self.ln(x + self.ff2(x))

    block = Block().double()
    x = _t(L, normal64(B, T, C, seed=1))
    pad = L.tensor([[False] * 6, [False] * 4 + [True] * 2])
    opt = L.optim.AdamW(block.parameters(), lr=1e-3)
    losses = _steps(opt, lambda: block(x, pad).pow(2).mean(), 2)
    return losses, block.conv.bn.running_var, block.conv.dw.weight.grad, \
        block.att.out_proj.weight.grad


@program
def transformer_decoder_square_subsequent_mask_memory_padding_and_greedy_decode(L):
    """An encoder-decoder built from nn.TransformerEncoder/Decoder (norm_first layers,
    batch_first): the causal target mask from nn.Transformer.generate_square_subsequent_mask,
    source and target key padding masks, memory_key_padding_mask, label-smoothed CE on
    shifted targets ignoring pad, two steps, then a greedy decoding loop in eval mode that
    appends argmax tokens until all sequences have emitted EOS."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(311)
    V, d, PAD, BOS, EOS = 8, 8, 0, 1, 2
    emb = nn.Embedding(V, d, padding_idx=PAD)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, 2, 16, 0.0, batch_first=True,
                                                           norm_first=True), 1,
                                enable_nested_tensor=False)
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, 2, 16, 0.0, batch_first=True,
                                                           norm_first=True), 1)
    head = nn.Linear(d, V)
    model = nn.ModuleList([emb, enc, dec, head]).double()
    src = L.tensor([[3, 4, 5, 6], [7, 3, PAD, PAD]])
    tgt = L.tensor([[BOS, 4, 5, EOS], [BOS, 6, EOS, PAD]])
    opt = L.optim.Adam(model.parameters(), lr=1e-3)

    def forward(s, t):
        mem = enc(emb(s) * math.sqrt(d), src_key_padding_mask=s == PAD)
        mask = nn.Transformer.generate_square_subsequent_mask(t.shape[1], dtype=L.float64)
        h = dec(emb(t) * math.sqrt(d), mem, tgt_mask=mask, tgt_key_padding_mask=t == PAD,
                memory_key_padding_mask=s == PAD, tgt_is_causal=True)
        return head(h)

    def loss():
        logits = forward(src, tgt[:, :-1])
        return F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1),
                               ignore_index=PAD, label_smoothing=0.1)

    losses = _steps(opt, loss, 2)
    model.eval()
    ys = L.full((2, 1), BOS, dtype=L.long)
    with L.no_grad():
        for _ in range(5):
            nxt = forward(src, ys)[:, -1].argmax(-1, keepdim=True)
            ys = L.cat([ys, nxt], 1)
            if (ys == EOS).any(1).all():
                break
    return losses, ys, nn.Transformer.generate_square_subsequent_mask(3), head.weight.grad


@program
def perceiver_latent_cross_attention_fourier_position_features_and_latent_self_attention(L):
    """A Perceiver: Fourier position features of a 2-d grid (sin/cos of pi * pos * freqs,
    linspace'd frequencies, concatenated with the raw positions) appended to the pixels, a
    learned latent array cross-attending to the flattened inputs through scaled_dot_product
    attention, two latent self-attention layers sharing weights, mean-pooled logits."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(313)
    H = W = 4
    nb = 2
    pos = L.stack(L.meshgrid(L.linspace(-1, 1, H, dtype=L.float64),
                             L.linspace(-1, 1, W, dtype=L.float64), indexing="ij"), -1)
    freqs = L.linspace(1.0, 3.0, nb, dtype=L.float64)
    ang = math.pi * pos[..., None] * freqs
    feats = L.cat([pos, ang.sin().flatten(-2), ang.cos().flatten(-2)], -1).view(H * W, -1)
    d_in = 3 + feats.shape[-1]
    latents = nn.Parameter(L.randn(4, 8, dtype=L.float64) * 0.2)
    q_proj, kv_proj = nn.Linear(8, 8).double(), nn.Linear(d_in, 16).double()
    self_qkv, head = nn.Linear(8, 24).double(), nn.Linear(8, 3).double()
    img = _t(L, normal64(2, 3, H, W, seed=1))
    x = L.cat([img.flatten(2).transpose(1, 2), feats.expand(2, -1, -1)], -1)
    q = q_proj(latents).expand(2, -1, -1)
    k, v = kv_proj(x).chunk(2, -1)
    z = latents + F.scaled_dot_product_attention(q, k, v)
    for _ in range(2):
        a, b, c = self_qkv(F.layer_norm(z, (8,))).chunk(3, -1)
        z = z + F.scaled_dot_product_attention(a.unflatten(-1, (2, 4)).transpose(1, 2),
                                               b.unflatten(-1, (2, 4)).transpose(1, 2),
                                               c.unflatten(-1, (2, 4)).transpose(1, 2)
                                               ).transpose(1, 2).flatten(2)
    logits = head(z.mean(1))
    F.cross_entropy(logits, L.tensor([0, 2])).backward()
    return feats, logits, latents.grad, kv_proj.weight.grad, self_qkv.bias.grad


@program
def bf16_autocast_cpu_training_step_float32_master_weights_and_disabled_scaler(L):
    """Mixed precision on CPU: forward under autocast('cpu', dtype=bfloat16) (Linear and
    matmul in bfloat16, softmax/layer_norm/cross entropy back in float32), the loss's dtype,
    float32 gradients on float32 parameters, a GradScaler('cpu', enabled=False) passing
    scale/step/update through, and the same step without autocast for comparison."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(317)
    net = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.LayerNorm(8), nn.Linear(8, 3))
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    x = L.tensor(normal64(5, 6, seed=1), dtype=L.float32)
    y = L.tensor([0, 1, 2, 1, 0])
    with L.autocast("cpu", dtype=L.bfloat16):
        h = net[0](x)
        logits = net(x)
        loss = F.cross_entropy(logits, y)
        probs = logits.softmax(-1)
    opt.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    g = net[0].weight.grad
    plain = F.cross_entropy(net(x), y)
    return h.dtype, logits.dtype, loss.dtype, probs.dtype, loss, g.dtype, g, net[3].weight, \
        plain, scaler.get_scale(), scaler.is_enabled()


# ----------------------------------------------------------------------------------------------
# geometric and generator architectures
# ----------------------------------------------------------------------------------------------
@program
def stylegan2_modulated_conv_demodulation_grouped_batch_trick_and_noise_injection(L):
    """StyleGAN2's modulated convolution: a mapping MLP turns z into w, an affine layer gives
    per-sample styles (bias initialised to 1), the weight scaled per sample (B, O, I, k, k)
    then demodulated by rsqrt of the squared sum + 1e-8, the batch folded into groups
    (input viewed as (1, B*I, H, W), weight as (B*O, I, k, k), conv2d with groups=B) and
    unfolded, per-pixel noise scaled by a learned strength, and leaky ReLU times sqrt(2)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(331)
    B, I, O, k, R = 2, 3, 4, 3, 5

    class ModConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(L.randn(O, I, k, k))
            self.affine = nn.Linear(6, I)
            nn.init.ones_(self.affine.bias)
            self.noise_strength = nn.Parameter(L.zeros([]))

        def forward(self, x, w, noise):
            s = self.affine(w)
            wt = self.weight[None] * s[:, None, :, None, None] / math.sqrt(I * k * k)
            d = L.rsqrt(wt.pow(2).sum(dim=[2, 3, 4]) + 1e-8)
            wt = wt * d[:, :, None, None, None]
            y = F.conv2d(x.reshape(1, -1, R, R), wt.reshape(-1, I, k, k), padding=k // 2,
                         groups=x.shape[0])
            y = y.reshape(x.shape[0], O, R, R) + noise * self.noise_strength
            return F.leaky_relu(y, 0.2) * math.sqrt(2)

    mapping = nn.Sequential(nn.Linear(6, 6), nn.LeakyReLU(0.2), nn.Linear(6, 6)).double()
    conv = ModConv().double()
    z = _t(L, normal64(B, 6, seed=1))
    w = mapping(z / z.pow(2).mean(1, keepdim=True).add(1e-8).sqrt())
    x = _t(L, normal64(B, I, R, R, seed=2))
    noise = _t(L, normal64(B, 1, R, R, seed=3))
    y = conv(x, w, noise)
    per_sample = L.cat([conv(x[i:i + 1], w[i:i + 1], noise[i:i + 1]) for i in range(B)])
    (y.pow(2).mean() + conv.noise_strength.pow(2)).backward()
    return y, (y - per_sample).abs().max() < 1e-12, conv.weight.grad, conv.affine.bias.grad, \
        conv.noise_strength.grad, mapping[0].weight.grad


@program
def pointnet_tnet_feature_transform_orthogonality_regulariser_and_max_pool_over_points(L):
    """PointNet: a T-Net predicting a k x k transform from max-pooled per-point features,
    the identity added via eye(k).flatten().repeat(B, 1), points transformed by bmm after
    transpose, shared MLPs as Conv1d(kernel 1) with BatchNorm1d, a global max over points
    (torch.max(x, 2, keepdim=True)[0]), classification NLL plus the feature-transform
    regulariser ||I - A A^T|| averaged over the batch."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(337)

    class TNet(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k
            self.c1, self.c2 = nn.Conv1d(k, 8, 1), nn.Conv1d(8, 16, 1)
            self.b1, self.b2 = nn.BatchNorm1d(8), nn.BatchNorm1d(16)
            self.fc = nn.Linear(16, k * k)

        def forward(self, x):
            h = F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))))
            h = L.max(h, 2, keepdim=True)[0].view(-1, 16)
            iden = L.eye(self.k, dtype=x.dtype).flatten().view(1, -1).repeat(x.shape[0], 1)
            return (self.fc(h) + iden).view(-1, self.k, self.k)

    t3, t4 = TNet(3).double(), TNet(4).double()
    c1, c2 = nn.Conv1d(3, 4, 1).double(), nn.Conv1d(4, 16, 1).double()
    head = nn.Linear(16, 3).double()
    pts = _t(L, normal64(4, 3, 10, seed=1))
    y = L.tensor([0, 1, 2, 1])
    trans = t3(pts)
    x = L.bmm(pts.transpose(2, 1), trans).transpose(2, 1)
    x = F.relu(c1(x))
    A = t4(x)
    x = L.bmm(x.transpose(2, 1), A).transpose(2, 1)
    g = L.max(c2(x), 2, keepdim=True)[0].view(-1, 16)
    out = F.log_softmax(head(g), dim=1)
    I = L.eye(4, dtype=A.dtype)[None]
    reg = L.mean(L.norm(L.bmm(A, A.transpose(2, 1)) - I, dim=(1, 2)))
    loss = F.nll_loss(out, y) + 0.001 * reg
    loss.backward()
    return out, reg, t3.fc.weight.grad, c2.weight.grad, t4.b1.running_mean


@program
def egnn_edge_index_messages_coordinate_updates_index_add_and_invariance(L):
    """An E(n)-equivariant GNN layer on an edge list: messages from [h_i, h_j, |x_i - x_j|^2]
    per edge (gathered by index), coordinates moved by sum_j (x_i - x_j) phi_x(m_ij) divided
    by the degree (index_add_ of the edges' contributions and bincount), node features
    updated from aggregated messages; outputs checked to be invariant (h) and equivariant
    (x) under a rotation built by QR of a seeded matrix and a translation."""
    nn = L.nn
    L.manual_seed(347)
    N, Fh = 5, 4
    src = L.tensor([0, 1, 1, 2, 2, 3, 3, 4, 4, 0])
    dst = L.tensor([1, 0, 2, 1, 3, 2, 4, 3, 0, 4])
    phi_e = nn.Sequential(nn.Linear(2 * Fh + 1, 8), nn.SiLU(), nn.Linear(8, 8), nn.SiLU()).double()
    phi_x = nn.Sequential(nn.Linear(8, 8), nn.SiLU(), nn.Linear(8, 1)).double()
    phi_h = nn.Sequential(nn.Linear(Fh + 8, 8), nn.SiLU(), nn.Linear(8, Fh)).double()

    def layer(h, x):
        diff = x[src] - x[dst]
        m = phi_e(L.cat([h[src], h[dst], (diff ** 2).sum(-1, keepdim=True)], -1))
        deg = L.bincount(src, minlength=N).double().clamp(min=1)[:, None]
        x = x + L.zeros_like(x).index_add_(0, src, diff * phi_x(m)) / deg
        agg = L.zeros(N, 8, dtype=h.dtype).index_add_(0, src, m)
        return h + phi_h(L.cat([h, agg], -1)), x

    h0 = _t(L, normal64(N, Fh, seed=1))
    x0 = _t(L, normal64(N, 3, seed=2), grad=True)
    Q, _ = L.linalg.qr(_t(L, normal64(3, 3, seed=3)))
    t = _t(L, [1.0, -2.0, 0.5])
    h1, x1 = layer(h0, x0)
    h2, x2 = layer(h0, x0 @ Q.T + t)
    (h1.sum() + x1.pow(2).sum()).backward()
    return h1, x1, (h1 - h2).abs().max() < 1e-10, (x1 @ Q.T + t - x2).abs().max() < 1e-10, \
        x0.grad, phi_x[2].weight.grad


@program
def deformable_sampling_offsets_grid_sample_border_padding_and_affine_grid_stn(L):
    """Learned sampling: an offset head predicting per-pixel (dx, dy) added to a base grid
    from meshgrid of linspace (x then y in the last dim), grid_sample with bilinear
    interpolation, padding_mode='border' and align_corners=False; a spatial transformer
    whose localisation net's last layer starts at the identity (weight zeroed, bias copied
    from [1, 0, 0, 0, 1, 0]) through affine_grid; gradients reach offsets and theta."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(349)
    B, C, H, W = 2, 2, 5, 6
    img = _t(L, normal64(B, C, H, W, seed=1))
    off_head = nn.Conv2d(C, 2, 3, padding=1).double()
    ys, xs = L.meshgrid(L.linspace(-1, 1, H, dtype=L.float64),
                        L.linspace(-1, 1, W, dtype=L.float64), indexing="ij")
    base = L.stack([xs, ys], -1)[None].expand(B, -1, -1, -1)
    off = off_head(img).permute(0, 2, 3, 1) * 0.3
    warped = F.grid_sample(img, base + off, mode="bilinear", padding_mode="border",
                           align_corners=False)
    loc = nn.Sequential(nn.Flatten(), nn.Linear(C * H * W, 8), nn.ReLU(), nn.Linear(8, 6))
    loc = loc.double()
    loc[3].weight.data.zero_()
    loc[3].bias.data.copy_(L.tensor([1, 0, 0, 0, 1, 0], dtype=L.float64))
    theta = loc(img).view(-1, 2, 3)
    grid = F.affine_grid(theta, img.size(), align_corners=False)
    stn = F.grid_sample(img, grid, align_corners=False)
    (warped.pow(2).sum() + stn.pow(3).sum()).backward()
    return warped, (stn - img).abs().max() < 1e-12, off_head.weight.grad, loc[3].weight.grad, \
        loc[1].weight.grad


@program
def newton_logistic_regression_func_hessian_solve_and_jacrev_over_param_dict(L):
    """Second-order fitting with torch.func: Newton's method for logistic regression (grad
    and hessian of the mean BCE-with-logits, a damped linalg.solve per iteration), the
    Jacobian of a classifier's loss w.r.t. its whole parameter dict by jacrev over
    functional_call (BatchNorm in eval), and the BatchNorm made vmap-safe in train mode by
    replace_all_batch_norm_modules_ (running stats dropped) before vmapping over groups."""
    nn, F = L.nn, L.nn.functional
    from importlib import import_module
    tf = import_module(L.__name__ + ".func")
    L.manual_seed(353)
    x = _t(L, normal64(12, 3, seed=1))
    y = _t(L, (normal64(12, seed=2) + x[:, 0].numpy() > 0).astype(float))

    def nll(w):
        return F.binary_cross_entropy_with_logits(x @ w, y)

    w, path = L.zeros(3, dtype=L.float64), []
    for _ in range(4):
        g, Hm = tf.grad(nll)(w), tf.hessian(nll)(w)
        w = w - L.linalg.solve(Hm + 1e-4 * L.eye(3, dtype=L.float64), g)
        path.append(nll(w).item())
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 2)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    buffers = {k: v.detach() for k, v in net.named_buffers()}
    yl = y.long()
    net.eval()      # (in train mode the running-stat update is a captured in-place write)
    jac = tf.jacrev(lambda p: F.cross_entropy(tf.functional_call(net, (p, buffers), (x,)), yl))(
        params)
    net.train()
    tf.replace_all_batch_norm_modules_(net)
    groups = x.view(3, 4, 3)
    per_group = tf.vmap(lambda g: tf.functional_call(net, (params, {}), (g,)))(groups)
    return w, path, jac["0.weight"], jac["3.bias"], net[1].running_mean, per_group


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("torch_on_one_thread")     # (torch's pool waits ~20x longer here)
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None
