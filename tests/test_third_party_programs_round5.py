"""Whole programs in the idioms of code people run, a fifth round: graph networks in plain
torch (GCN by a sparse normalised adjacency, GAT with a scatter softmax, GraphSAGE with
scatter_reduce means and global pooling by index), audio (stft/istft features, a WaveNet stack of
dilated causal convolutions with gated activations), a DDPM U-Net with sinusoidal timestep
embeddings, GroupNorm and self-attention, VQ-VAE codebooks with a straight-through estimator,
top-k Mixture-of-Experts, LoRA adapters on frozen layers, rotary embeddings with a KV cache,
nn.MultiheadAttention and nn.TransformerDecoder with padding and causal masks, and more.

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-9, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, grads_of, labels as _labels, load_seeded, normal32 as _f32,
    normal64 as _arr, registry, train_steps, ddpm_blocks)


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float32": (1e-5, 1e-6), "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# graph neural networks in plain torch
# ----------------------------------------------------------------------------------------------
_EDGES = np.array([[0, 1, 1, 2, 2, 3, 4, 5, 5, 6, 3, 6],
                   [1, 0, 2, 1, 3, 2, 5, 4, 6, 5, 6, 3]])
_BATCH = np.array([0, 0, 0, 0, 1, 1, 1])


@program
def gcn_sparse_normalised_adjacency_and_mean_pool(L):
    """Kipf-Welling GCN: A + I as a sparse COO tensor, degrees by index_add_, D^-1/2 A D^-1/2
    values per edge, torch.sparse.mm propagation, a global mean pool by index_add_ and
    bincount, graph classification trained by Adam."""
    nn, F = L.nn, L.nn.functional
    n = 7
    ei = L.tensor(_EDGES)
    loops = L.arange(n).unsqueeze(0).repeat(2, 1)
    ei = L.cat([ei, loops], dim=1)
    row, col = ei
    deg = L.zeros(n, dtype=L.float64).index_add_(0, row, L.ones(row.numel(), dtype=L.float64))
    dinv = deg.pow(-0.5)
    dinv[dinv == float("inf")] = 0
    vals = dinv[row] * dinv[col]
    adj = L.sparse_coo_tensor(ei, vals, (n, n)).coalesce()

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2, self.head = nn.Linear(3, 8), nn.Linear(8, 8), nn.Linear(8, 2)

        def forward(self, x, adj, batch):
            x = F.relu(L.sparse.mm(adj, self.l1(x)))
            x = L.sparse.mm(adj, self.l2(x))
            pooled = L.zeros(2, x.size(1), dtype=x.dtype).index_add_(0, batch, x)
            pooled = pooled / L.bincount(batch).unsqueeze(1).to(x.dtype)
            return self.head(pooled)

    model = load_seeded(L, GCN().double(), 1)
    x = L.tensor(_arr(n, 3, seed=2))
    batch = L.tensor(_BATCH)
    y = L.tensor([0, 1])
    opt = L.optim.Adam(model.parameters(), lr=0.01)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x, adj, batch), y))
    return dict(losses=losses, deg=deg, idx=adj.indices(), vals=adj.values(),
                nnz=adj._nnz(), dense=adj.to_dense(), out=model(x, adj, batch),
                w=model.l1.weight)


@program
def gat_multihead_scatter_softmax(L):
    """GAT layer: per-head scores a^T [W h_i || W h_j] by leaky_relu, a softmax over each
    node's incoming edges by scatter_reduce('amax') then exp and index_add_ sums, messages
    aggregated by index_add_, heads concatenated then averaged, ELU in between."""
    nn, F = L.nn, L.nn.functional

    class GATLayer(nn.Module):
        def __init__(self, fin, fout, heads, concat=True):
            super().__init__()
            self.W = nn.Linear(fin, heads * fout, bias=False)
            self.a_src = nn.Parameter(L.empty(1, heads, fout))
            self.a_dst = nn.Parameter(L.empty(1, heads, fout))
            self.h, self.f, self.concat = heads, fout, concat

        def forward(self, x, ei):
            src, dst = ei
            n = x.size(0)
            h = self.W(x).view(n, self.h, self.f)
            e = F.leaky_relu((h * self.a_src).sum(-1)[src] + (h * self.a_dst).sum(-1)[dst], 0.2)
            m = L.full((n, self.h), float("-inf"), dtype=e.dtype)
            m = m.scatter_reduce(0, dst.unsqueeze(1).expand_as(e), e, reduce="amax",
                                 include_self=True)
            w = (e - m[dst]).exp()
            s = L.zeros(n, self.h, dtype=e.dtype).index_add_(0, dst, w)
            alpha = w / (s[dst] + 1e-16)
            out = L.zeros_like(h).index_add_(0, dst, alpha.unsqueeze(-1) * h[src])
            return out.flatten(1) if self.concat else out.mean(1), alpha

    l1 = load_seeded(L, GATLayer(3, 4, 2).double(), 3)
    l2 = load_seeded(L, GATLayer(8, 2, 3, concat=False).double(), 4)
    x = L.tensor(_arr(7, 3, seed=5), requires_grad=True)
    ei = L.tensor(_EDGES)
    h, a1 = l1(x, ei)
    out, a2 = l2(F.elu(h), ei)
    loss = F.cross_entropy(out, L.tensor([0, 1, 1, 0, 1, 0, 0]))
    loss.backward()
    per_node = L.zeros(7, 2, dtype=L.float64).index_add_(0, ei[1], a1)
    return dict(out=out, a1=a1, a2=a2, per_node=per_node, loss=loss, gx=x.grad,
                g1=grads_of(l1), g2=grads_of(l2))


@program
def graphsage_scatter_mean_and_max_pool(L):
    """GraphSAGE: neighbour means by scatter_reduce('mean', include_self=False) on a zeros
    target, concatenated with the node's own features, L2-normalised, a global max pool by
    scatter_reduce('amax') and a global add pool by scatter_add, SGD with momentum."""
    nn, F = L.nn, L.nn.functional

    class SAGE(nn.Module):
        def __init__(self, fin, fout):
            super().__init__()
            self.lin = nn.Linear(2 * fin, fout)

        def forward(self, x, ei):
            src, dst = ei
            idx = dst.unsqueeze(1).expand(-1, x.size(1))
            agg = L.zeros_like(x).scatter_reduce(0, idx, x[src], reduce="mean",
                                                 include_self=False)
            return F.normalize(self.lin(L.cat([x, agg], dim=1)), p=2, dim=-1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.s1, self.s2, self.head = SAGE(3, 6), SAGE(6, 6), nn.Linear(12, 3)

        def forward(self, x, ei, batch):
            x = self.s2(F.relu(self.s1(x, ei)), ei)
            idx = batch.unsqueeze(1).expand_as(x)
            mx = L.full((2, x.size(1)), -1e9, dtype=x.dtype).scatter_reduce(
                0, idx, x, reduce="amax", include_self=False)
            sm = L.zeros(2, x.size(1), dtype=x.dtype).scatter_add(0, idx, x)
            return self.head(L.cat([mx, sm], 1))

    net = load_seeded(L, Net().double(), 6)
    x = L.tensor(_arr(7, 3, seed=7))
    ei, batch = L.tensor(_EDGES), L.tensor(_BATCH)
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    losses = train_steps(opt, lambda: F.cross_entropy(net(x, ei, batch), L.tensor([2, 0])))
    return dict(losses=losses, out=net(x, ei, batch), g=grads_of(net))


# ----------------------------------------------------------------------------------------------
# audio
# ----------------------------------------------------------------------------------------------
@program
def stft_log_mel_features_and_istft_round_trip(L):
    """Raw waveform to a log-magnitude spectrogram by torch.stft (hann window, center,
    return_complex), a mel-like filterbank by matmul, a Conv1d classifier on the frames with
    gradients back to the waveform, and istft restoring the signal."""
    nn, F = L.nn, L.nn.functional
    wav = L.tensor(_arr(2, 256, seed=8), requires_grad=True)
    win = L.hann_window(64, dtype=L.float64)
    spec = L.stft(wav, n_fft=64, hop_length=16, win_length=64, window=win, center=True,
                  pad_mode="reflect", normalized=False, onesided=True, return_complex=True)
    power = spec.abs().pow(2)
    fb = L.tensor(np.abs(_arr(33, 10, seed=9)))
    mel = L.log(L.matmul(power.transpose(1, 2), fb) + 1e-6).transpose(1, 2)
    net = load_seeded(L, nn.Sequential(nn.Conv1d(10, 6, 3, padding=1), nn.ReLU(),
                                       nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                                       nn.Linear(6, 3)).double(), 10)
    loss = F.cross_entropy(net(mel), L.tensor([1, 2]))
    loss.backward()
    back = L.istft(spec.detach(), n_fft=64, hop_length=16, window=win, length=256)
    return dict(shape=tuple(spec.shape), dtype=spec.dtype, power=power, mel=mel, loss=loss,
                gwav=wav.grad, back=back, err=(back - wav.detach()).abs().max().item() < 1e-9)


@program
def wavenet_dilated_causal_gated_stack(L):
    """WaveNet: mu-law companding of a waveform to 16 classes (sign, log1p), a causal Conv1d
    stack with dilations 1, 2, 4, 8 padded on the left by F.pad, tanh * sigmoid gates, 1x1
    residual and skip convolutions, cross-entropy on next-sample classes, Adam steps."""
    nn, F = L.nn, L.nn.functional
    mu = 15

    def mu_law(x):
        y = L.sign(x) * L.log1p(mu * x.abs()) / math.log1p(mu)
        return ((y + 1) / 2 * mu + 0.5).long()

    class Block(nn.Module):
        def __init__(self, c, d):
            super().__init__()
            self.d = d
            self.filt, self.gate = nn.Conv1d(c, c, 2, dilation=d), nn.Conv1d(c, c, 2, dilation=d)
            self.res, self.skip = nn.Conv1d(c, c, 1), nn.Conv1d(c, c, 1)

        def forward(self, x):
            p = F.pad(x, (self.d, 0))
            z = L.tanh(self.filt(p)) * L.sigmoid(self.gate(p))
            return x + self.res(z), self.skip(z)

    class WaveNet(nn.Module):
        def __init__(self, c=6):
            super().__init__()
            self.inp = nn.Conv1d(mu + 1, c, 1)
            self.blocks = nn.ModuleList([Block(c, d) for d in (1, 2, 4, 8)])
            self.out = nn.Sequential(nn.ReLU(), nn.Conv1d(c, c, 1), nn.ReLU(),
                                     nn.Conv1d(c, mu + 1, 1))

        def forward(self, x):
            h = self.inp(x)
            skips = 0
            for b in self.blocks:
                h, s = b(h)
                skips = skips + s
            return self.out(skips)

    wav = L.tensor(np.tanh(_arr(2, 40, seed=11)))
    q = mu_law(wav)
    x = F.one_hot(q[:, :-1], mu + 1).permute(0, 2, 1).double()
    net = load_seeded(L, WaveNet().double(), 12)
    opt = L.optim.Adam(net.parameters(), lr=3e-3)
    losses = train_steps(opt, lambda: F.cross_entropy(net(x), q[:, 1:]))
    with L.no_grad():
        first = net(x)[:, :, :3]
        x2 = x.clone()
        x2[:, :, 5:] = 0
        causal = (net(x2)[:, :, :5] - net(x)[:, :, :5]).abs().max()
    return dict(q=q, losses=losses, first=first, causal=causal, rf=1 + sum((1, 2, 4, 8)))


# ----------------------------------------------------------------------------------------------
# generative models
# ----------------------------------------------------------------------------------------------
def _timestep_embedding(L, t, dim):
    """Sinusoidal embedding of integer timesteps t (B,) into (B, dim)."""
    # dim / 2 rates falling geometrically from 1 to nearly 1 / 10000; cosines then sines
    rates = L.exp(L.arange(dim // 2, dtype=L.float64) * (-math.log(10000) / (dim // 2)))
    phase = t.double().unsqueeze(1) * rates.unsqueeze(0)
    return L.cat([phase.cos(), phase.sin()], dim=-1)


def _ddpm_unet(L):
    nn = L.nn
    ResBlock, Attn = ddpm_blocks(L)

    class UNet(nn.Module):
        def __init__(self, c=4, tdim=8):
            super().__init__()
            self.tdim = tdim
            self.temb = nn.Sequential(nn.Linear(tdim, tdim), nn.SiLU(), nn.Linear(tdim, tdim))
            self.inp = nn.Conv2d(1, c, 3, padding=1)
            self.down = ResBlock(c, 2 * c, tdim)
            self.pool = nn.Conv2d(2 * c, 2 * c, 3, stride=2, padding=1)
            self.mid = ResBlock(2 * c, 2 * c, tdim)
            self.attn = Attn(2 * c)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.dec = ResBlock(4 * c, c, tdim)
            self.out = nn.Sequential(nn.GroupNorm(2, c), nn.SiLU(), nn.Conv2d(c, 1, 3, padding=1))

        def forward(self, x, t):
            temb = self.temb(_timestep_embedding(L, t, self.tdim))
            h0 = self.down(self.inp(x), temb)
            h = self.attn(self.mid(self.pool(h0), temb))
            h = self.dec(L.cat([self.up(h), h0], dim=1), temb)
            return self.out(h)

    return UNet()


@program
def ddpm_unet_training_and_ancestral_sampling(L):
    """DDPM: a linear beta schedule, alphas_cumprod by cumprod, q(x_t | x_0) with gathered
    coefficients, epsilon-prediction MSE through a small U-Net (timestep embedding, GroupNorm,
    SiLU, self-attention, nearest upsampling, skip concatenation), AdamW with
    clip_grad_norm_, then a few ancestral sampling steps with numpy noise."""
    F = L.nn.functional
    T = 10
    betas = L.linspace(1e-4, 0.02, T, dtype=L.float64)
    alphas = 1.0 - betas
    ac = L.cumprod(alphas, dim=0)
    ac_prev = F.pad(ac[:-1], (1, 0), value=1.0)
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    net = load_seeded(L, _ddpm_unet(L).double(), 13)
    opt = L.optim.AdamW(net.parameters(), lr=1e-3)
    x0 = L.tensor(_arr(3, 1, 8, 8, seed=14))
    norms, losses = [], []
    for step in range(3):
        t = L.tensor(_labels(3, T, 15 + step))
        noise = L.tensor(_arr(3, 1, 8, 8, seed=20 + step))
        a = ac.gather(0, t).view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = F.mse_loss(net(xt, t), noise)
        opt.zero_grad()
        loss.backward()
        norms.append(L.nn.utils.clip_grad_norm_(net.parameters(), 1.0))
        opt.step()
        losses.append(loss.item())
    x = L.tensor(_arr(1, 1, 8, 8, seed=30))
    net.eval()
    with L.no_grad():
        for i in reversed(range(T - 3, T)):
            t = L.full((1,), i, dtype=L.long)
            eps = net(x, t)
            mean = (x - betas[i] / (1 - ac[i]).sqrt() * eps) / alphas[i].sqrt()
            x = mean + post_var[i].sqrt() * L.tensor(_arr(1, 1, 8, 8, seed=31 + i))
    return dict(losses=losses, norms=norms, sample=x, post_var=post_var,
                emb=_timestep_embedding(L, L.tensor([0, 3, 9]), 8))


@program
def vq_vae_codebook_straight_through(L):
    """VQ-VAE: a conv encoder, nearest codebook entries by squared distances (sum of squares
    minus 2 x e^T) and argmin, a one-hot encodings matrix by scatter_, quantised vectors by
    matmul, codebook and commitment losses with detach, the straight-through estimator
    z + (q - z).detach(), perplexity, and a ConvTranspose2d decoder."""
    nn, F = L.nn, L.nn.functional

    class VQ(nn.Module):
        def __init__(self, K=6, D=3, beta=0.25):
            super().__init__()
            self.emb = nn.Embedding(K, D)
            self.emb.weight.data.uniform_(-1 / K, 1 / K)
            self.K, self.D, self.beta = K, D, beta

        def forward(self, z):
            z = z.permute(0, 2, 3, 1).contiguous()
            flat = z.view(-1, self.D)
            d = (flat ** 2).sum(1, keepdim=True) + (self.emb.weight ** 2).sum(1) \
                - 2 * flat @ self.emb.weight.t()
            idx = L.argmin(d, dim=1).unsqueeze(1)
            enc = L.zeros(idx.shape[0], self.K, dtype=z.dtype)
            enc.scatter_(1, idx, 1)
            q = (enc @ self.emb.weight).view(z.shape)
            loss = F.mse_loss(q, z.detach()) + self.beta * F.mse_loss(q.detach(), z)
            q = z + (q - z).detach()
            p = enc.mean(0)
            perp = L.exp(-L.sum(p * L.log(p + 1e-10)))
            return loss, q.permute(0, 3, 1, 2).contiguous(), perp, idx.squeeze(1)

    enc = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 3, 3, 1, 1))
    dec = nn.Sequential(nn.ConvTranspose2d(3, 4, 4, 2, 1), nn.ReLU(), nn.Conv2d(4, 1, 3, 1, 1))
    model = nn.ModuleDict(dict(enc=enc, vq=VQ(), dec=dec))
    load_seeded(L, model.double(), 16)
    x = L.tensor(_arr(2, 1, 8, 8, seed=17))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    out = []
    for _ in range(3):
        opt.zero_grad()
        vq_loss, q, perp, idx = model["vq"](model["enc"](x))
        recon = model["dec"](q)
        loss = F.mse_loss(recon, x) + vq_loss
        loss.backward()
        opt.step()
        out.append((loss.item(), perp, idx))
    return dict(out=out, g=grads_of(model), cb=model["vq"].emb.weight)


@program
def conv_vae_reparameterised_elbo(L):
    """A convolutional VAE: encoder to (mu, logvar) by chunk, z = mu + eps * exp(0.5 logvar)
    with numpy eps, a decoder by Unflatten and ConvTranspose2d with output_padding, the ELBO
    of BCE-with-logits summed plus the analytic KL, Adam steps."""
    nn, F = L.nn, L.nn.functional

    class VAE(nn.Module):
        def __init__(self, z=2):
            super().__init__()
            self.enc = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.LeakyReLU(0.2),
                                     nn.Conv2d(4, 4, 3, 2, 1), nn.Flatten(),
                                     nn.Linear(4 * 3 * 3, 2 * z))
            self.dec = nn.Sequential(nn.Linear(z, 4 * 3 * 3), nn.Unflatten(1, (4, 3, 3)),
                                     nn.ConvTranspose2d(4, 4, 3, 2, 1, output_padding=0),
                                     nn.ReLU(), nn.ConvTranspose2d(4, 1, 3, 2, 1,
                                                                   output_padding=1))

        def forward(self, x, eps):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            z = mu + eps * L.exp(0.5 * logvar)
            return self.dec(z), mu, logvar

    vae = load_seeded(L, VAE().double(), 18, scale=0.2)
    x = L.tensor((np.random.RandomState(19).rand(3, 1, 10, 10) > 0.5).astype(np.float64))
    opt = L.optim.Adam(vae.parameters(), lr=1e-2)
    res = []
    for s in range(3):
        eps = L.tensor(_arr(3, 2, seed=40 + s))
        opt.zero_grad()
        logits, mu, logvar = vae(x[:, :, :9, :9] if False else x, eps)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kld = -0.5 * L.sum(1 + logvar - mu.pow(2) - logvar.exp())
        loss = (rec + kld) / x.size(0)
        loss.backward()
        opt.step()
        res.append((rec.item(), kld.item(), tuple(logits.shape)))
    return dict(res=res, g=grads_of(vae))


# ----------------------------------------------------------------------------------------------
# transformers: experts, adapters, rotary embeddings, masks
# ----------------------------------------------------------------------------------------------
@program
def mixture_of_experts_top2_gating(L):
    """A sparse MoE layer: router logits, topk(2) with the kept logits softmaxed, tokens
    dispatched per expert by torch.where on the top-k indices, expert outputs weighted and
    accumulated by index_add_, and a Switch-style load-balancing loss from one_hot counts."""
    nn, F = L.nn, L.nn.functional

    class MoE(nn.Module):
        def __init__(self, d=4, E=4, k=2):
            super().__init__()
            self.router = nn.Linear(d, E, bias=False)
            self.experts = nn.ModuleList(nn.Sequential(nn.Linear(d, 8), nn.GELU(),
                                                       nn.Linear(8, d)) for _ in range(E))
            self.E, self.k = E, k

        def forward(self, x):
            B, T, D = x.shape
            flat = x.reshape(-1, D)
            logits = self.router(flat)
            topv, topi = logits.topk(self.k, dim=-1)
            gates = F.softmax(topv, dim=-1, dtype=L.float64)
            out = L.zeros_like(flat)
            for e, expert in enumerate(self.experts):
                tok, slot = L.where(topi == e)
                if tok.numel() == 0:
                    continue
                y = expert(flat[tok]) * gates[tok, slot].unsqueeze(-1)
                out.index_add_(0, tok, y)
            probs = F.softmax(logits, dim=-1)
            frac = F.one_hot(topi[:, 0], self.E).float().mean(0)
            aux = self.E * (frac.to(probs.dtype) * probs.mean(0)).sum()
            return out.view(B, T, D), aux, topi

    moe = load_seeded(L, MoE().double(), 50)
    x = L.tensor(_arr(2, 5, 4, seed=51))
    opt = L.optim.Adam(moe.parameters(), lr=1e-2)
    res = []
    for _ in range(3):
        opt.zero_grad()
        y, aux, topi = moe(x)
        loss = y.pow(2).mean() + 0.01 * aux
        loss.backward()
        opt.step()
        res.append((loss.item(), topi))
    return dict(res=res, g=grads_of(moe))


@program
def lora_adapters_on_frozen_linear(L):
    """LoRA: a pretrained Linear frozen by requires_grad_(False), low-rank A (kaiming_uniform_
    replaced by copied values) and zero-initialised B, scaling alpha / r, only the adapters
    handed to the optimizer, then merging B @ A into the weight under no_grad and checking the
    merged layer's outputs; trainable-parameter counts and state_dict keys."""
    nn, F = L.nn, L.nn.functional

    class LoRALinear(nn.Module):
        """A frozen layer plus a trainable rank-``rank`` correction down (A) then up (B)."""
        def __init__(self, frozen, rank=2, alpha=4):
            super().__init__()
            self.base = frozen
            for w in frozen.parameters():
                w.requires_grad_(False)
            kind = frozen.weight.dtype
            self.lora_A = nn.Parameter(L.zeros(rank, frozen.in_features, dtype=kind))   # down
            self.lora_B = nn.Parameter(L.zeros(frozen.out_features, rank, dtype=kind))  # up
            self.scaling = alpha / rank

        def forward(self, x):
            low = x @ self.lora_A.T                  # (.., rank)
            return self.base(x) + (low @ self.lora_B.T) * self.scaling

    model = nn.Sequential(nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 3)).double()
    load_seeded(L, model, 52)
    model[0] = LoRALinear(model[0])
    model[2] = LoRALinear(model[2])
    with L.no_grad():
        for m in (model[0], model[2]):
            m.lora_A.copy_(L.tensor(_arr(*m.lora_A.shape, seed=53)))
    trainable = [p for p in model.parameters() if p.requires_grad]
    n_train = sum(p.numel() for p in trainable)
    n_all = sum(p.numel() for p in model.parameters())
    opt = L.optim.AdamW(trainable, lr=0.05, weight_decay=0.0)
    x, y = L.tensor(_arr(4, 5, seed=54)), L.tensor(_arr(4, 3, seed=55))
    losses = train_steps(opt, lambda: F.mse_loss(model(x), y))
    before = model(x)
    with L.no_grad():
        for m in (model[0], model[2]):
            m.base.weight += (m.lora_B @ m.lora_A) * m.scaling
            m.lora_B.zero_()
    after = model(x)
    return dict(losses=losses, n_train=n_train, n_all=n_all, keys=list(model.state_dict()),
                frozen=[p.grad is None for p in model.parameters()], before=before,
                after=after, rg=[p.requires_grad for p in model.parameters()])


def _rope_tables(L, T, d):
    inv = 1.0 / (10000 ** (L.arange(0, d, 2, dtype=L.float64) / d))
    ang = L.outer(L.arange(T, dtype=L.float64), inv)
    return L.polar(L.ones_like(ang), ang)


@program
def llama_rotary_attention_with_kv_cache(L):
    """LLaMA-style attention: rotary embeddings by view_as_complex on pairs, multiplication by
    polar frequencies and view_as_real, grouped-query heads by repeat_interleave, RMSNorm by
    rsqrt, a full causal pass with sdpa, then token-by-token decoding with a KV cache grown by
    torch.cat giving the same last-position outputs."""
    nn, F = L.nn, L.nn.functional
    T, d, H, KV = 6, 8, 4, 2
    hd = d // H

    def rope(x, phasors):
        # (B, S, heads, hd): channel pairs become complex numbers, each turned by its
        # position's phasor (S, hd/2), then unpaired again
        B, S, nh, width = x.shape
        paired = L.view_as_complex(x.reshape(B, S, nh, width // 2, 2))
        turned = paired * phasors.view(1, S, 1, width // 2)
        return L.view_as_real(turned).flatten(3).type_as(x)

    class RMSNorm(nn.Module):
        """Divide by the root mean square over features (no centring), then a gain."""
        def __init__(self, width, eps=1e-6):
            super().__init__()
            self.eps, self.weight = eps, nn.Parameter(L.ones(width))

        def forward(self, x):
            inv_rms = L.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
            return x * inv_rms * self.weight

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = RMSNorm(d)
            self.wq, self.wk = nn.Linear(d, H * hd, bias=False), nn.Linear(d, KV * hd, bias=False)
            self.wv, self.wo = nn.Linear(d, KV * hd, bias=False), nn.Linear(H * hd, d, bias=False)

        def forward(self, x, freqs, cache=None):
            B, S, _ = x.shape
            h = self.norm(x)
            q = self.wq(h).view(B, S, H, hd)
            k = self.wk(h).view(B, S, KV, hd)
            v = self.wv(h).view(B, S, KV, hd)
            q, k = rope(q, freqs), rope(k, freqs)
            if cache is not None:
                k, v = L.cat([cache[0], k], dim=1), L.cat([cache[1], v], dim=1)
            new_cache = (k, v)
            k = k.repeat_interleave(H // KV, dim=2)
            v = v.repeat_interleave(H // KV, dim=2)
            q, k, v = (t.transpose(1, 2) for t in (q, k, v))
            o = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None and S > 1)
            return x + self.wo(o.transpose(1, 2).reshape(B, S, -1)), new_cache

    attn = load_seeded(L, Attn().double(), 56)
    freqs = _rope_tables(L, T, hd)
    x = L.tensor(_arr(2, T, d, seed=57), requires_grad=True)
    full, _ = attn(x, freqs)
    full.sum().backward()
    with L.no_grad():
        out, cache = attn(x[:, :3], freqs[:3])
        steps = [out[:, -1]]
        for t in range(3, T):
            o, cache = attn(x[:, t:t + 1], freqs[t:t + 1], cache)
            steps.append(o[:, -1])
    inc = L.stack(steps, 1)
    return dict(full=full, inc=inc, same=L.allclose(inc, full[:, 2:].detach()),
                cache=[c.shape for c in cache], freqs=freqs, gx=x.grad, g=grads_of(attn))


@program
def multihead_attention_padding_and_causal_masks(L):
    """nn.MultiheadAttention(batch_first=True): a boolean key_padding_mask with a causal bool
    attn_mask, the same with float masks (-inf added), averaged and per-head weights,
    need_weights=False, kdim/vdim different from embed_dim, and the gradients."""
    nn = L.nn
    mha = load_seeded(L, nn.MultiheadAttention(8, 2, batch_first=True).double(), 58)
    x = L.tensor(_arr(3, 5, 8, seed=59), requires_grad=True)
    lengths = L.tensor([5, 3, 4])
    pad = L.arange(5)[None, :] >= lengths[:, None]
    causal = L.triu(L.ones(5, 5, dtype=L.bool), diagonal=1)
    o1, w1 = mha(x, x, x, key_padding_mask=pad, attn_mask=causal)
    fpad = L.zeros(3, 5, dtype=L.float64).masked_fill(pad, float("-inf"))
    fcausal = nn.Transformer.generate_square_subsequent_mask(5, dtype=L.float64)
    o2, w2 = mha(x, x, x, key_padding_mask=fpad, attn_mask=fcausal,
                 average_attn_weights=False)
    o3, w3 = mha(x, x, x, need_weights=False, key_padding_mask=pad)
    cross = load_seeded(L, nn.MultiheadAttention(8, 4, kdim=3, vdim=5, batch_first=True)
                        .double(), 60)
    kv_k, kv_v = L.tensor(_arr(3, 7, 3, seed=61)), L.tensor(_arr(3, 7, 5, seed=62))
    o4, w4 = cross(x, kv_k, kv_v)
    (o1.sum() + (o2 ** 2).sum() + o3.mean() + o4.sum()).backward()
    return dict(o1=o1, w1=w1, o2=o2, w2=w2, o3=o3, w3=w3, o4=o4, w4=w4, gx=x.grad,
                g=grads_of(mha), gc=grads_of(cross), fcausal=fcausal,
                keys=list(cross.state_dict()))


@program
def transformer_decoder_causal_training_and_greedy_decode(L):
    """nn.TransformerDecoder (norm_first, GELU, dropout 0) over an encoder memory: a causal
    tgt_mask from generate_square_subsequent_mask, tgt_key_padding_mask and
    memory_key_padding_mask, token embeddings scaled by sqrt(d) plus sinusoidal positions,
    label-smoothed cross-entropy with ignore_index, then greedy decoding in eval."""
    nn, F = L.nn, L.nn.functional
    V, d = 9, 8
    pe = L.zeros(10, d, dtype=L.float64)
    pos = L.arange(10, dtype=L.float64).unsqueeze(1)
    div = L.exp(L.arange(0, d, 2, dtype=L.float64) * (-math.log(10000.0) / d))
    pe[:, 0::2], pe[:, 1::2] = L.sin(pos * div), L.cos(pos * div)

    class Dec(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, d, padding_idx=0)
            layer = nn.TransformerDecoderLayer(d, 2, 16, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.dec = nn.TransformerDecoder(layer, 2, norm=nn.LayerNorm(d))
            self.out = nn.Linear(d, V)

        def forward(self, tgt, mem, tpad=None, mpad=None):
            S = tgt.size(1)
            h = self.emb(tgt) * math.sqrt(d) + pe[:S]
            mask = nn.Transformer.generate_square_subsequent_mask(S, dtype=L.float64)
            return self.out(self.dec(h, mem, tgt_mask=mask, tgt_is_causal=True,
                                     tgt_key_padding_mask=tpad,
                                     memory_key_padding_mask=mpad))

    model = load_seeded(L, Dec().double(), 63)
    mem = L.tensor(_arr(2, 4, d, seed=64))
    mpad = L.tensor([[False, False, False, True], [False, False, False, False]])
    seq = L.tensor([[1, 4, 5, 2, 0, 0], [1, 3, 7, 8, 6, 2]])
    inp, tgt = seq[:, :-1], seq[:, 1:]
    opt = L.optim.Adam(model.parameters(), lr=5e-3)
    losses = train_steps(opt, lambda: F.cross_entropy(
        model(inp, mem, inp == 0, mpad).reshape(-1, V), tgt.reshape(-1), ignore_index=0,
        label_smoothing=0.1))
    model.eval()
    ys = L.ones(2, 1, dtype=L.long)
    with L.no_grad():
        for _ in range(4):
            nxt = model(ys, mem, mpad=mpad)[:, -1].argmax(-1, keepdim=True)
            ys = L.cat([ys, nxt], 1)
    return dict(losses=losses, ys=ys, n=len(model.dec.layers), g=grads_of(model.dec.layers[0]))


@program
def perceiver_latent_cross_attention(L):
    """Perceiver: a learned latent array expanded over the batch, cross-attention from latents
    to a long input with a key padding mask (sdpa given a boolean attn_mask broadcast from
    (B, 1, 1, N)), latent self-attention blocks with pre-LayerNorm and GEGLU feed-forward, mean
    pooled logits."""
    nn, F = L.nn, L.nn.functional

    class GEGLU(nn.Module):
        def forward(self, x):
            x, gate = x.chunk(2, dim=-1)
            return x * F.gelu(gate)

    class Cross(nn.Module):
        def __init__(self, dq, dkv, heads=2, dh=3):
            super().__init__()
            self.h = heads
            self.nq, self.nkv = nn.LayerNorm(dq), nn.LayerNorm(dkv)
            self.q = nn.Linear(dq, heads * dh, bias=False)
            self.kv = nn.Linear(dkv, 2 * heads * dh, bias=False)
            self.o = nn.Linear(heads * dh, dq)
            self.ff = nn.Sequential(nn.LayerNorm(dq), nn.Linear(dq, 4 * dq), GEGLU(),
                                    nn.Linear(2 * dq, dq))

        def forward(self, lat, x, mask=None):
            B = lat.size(0)
            q = self.q(self.nq(lat))
            k, v = self.kv(self.nkv(x)).chunk(2, dim=-1)
            q, k, v = (t.reshape(B, t.size(1), self.h, -1).transpose(1, 2) for t in (q, k, v))
            am = None if mask is None else mask[:, None, None, :]
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=am)
            lat = lat + self.o(o.transpose(1, 2).flatten(2))
            return lat + self.ff(lat)

    class Perceiver(nn.Module):
        def __init__(self, n_lat=3, d=6, din=5):
            super().__init__()
            self.latents = nn.Parameter(L.randn(n_lat, d))
            self.cross = Cross(d, din)
            self.selfs = nn.ModuleList([Cross(d, d), Cross(d, d)])
            self.head = nn.Linear(d, 4)

        def forward(self, x, mask):
            lat = self.latents.unsqueeze(0).expand(x.size(0), -1, -1)
            lat = self.cross(lat, x, mask)
            for blk in self.selfs:
                lat = blk(lat, lat)
            return self.head(lat.mean(1))

    model = load_seeded(L, Perceiver().double(), 65)
    x = L.tensor(_arr(2, 9, 5, seed=66))
    mask = L.arange(9)[None] < L.tensor([[9], [6]])
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x, mask), L.tensor([3, 1])))
    return dict(losses=losses, out=model(x, mask), g=grads_of(model))


# ----------------------------------------------------------------------------------------------
# sequence models
# ----------------------------------------------------------------------------------------------
@program
def tcn_weight_norm_chomped_causal_convs(L):
    """A temporal convolutional network: Conv1d with symmetric padding (k-1)d chomped on the
    right, weight_norm from nn.utils.parametrizations (weight.original0/original1 in the
    state dict), residual 1x1 downsampling, the last time step into a Linear, and the
    parametrized weight recomputed after optimizer steps."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm

    class Chomp(nn.Module):
        """Cut the last ``n`` steps off: a conv padded by (k-1)d on both sides then only
        keeps outputs that look at the present and the past."""
        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            kept = x.size(2) - self.n
            return x[:, :, :kept].contiguous()

    def causal_stage(cin, cout, k, d):
        pad = (k - 1) * d
        return [wn(nn.Conv1d(cin, cout, k, padding=pad, dilation=d)), Chomp(pad), nn.ReLU()]

    class Block(nn.Module):
        """Two causal dilated stages; a 1x1 conv on the skip path when widths differ."""
        def __init__(self, cin, cout, k, d):
            super().__init__()
            self.net = nn.Sequential(*causal_stage(cin, cout, k, d),
                                     *causal_stage(cout, cout, k, d))
            self.down = None if cin == cout else nn.Conv1d(cin, cout, 1)

        def forward(self, x):
            skip = x if self.down is None else self.down(x)
            return F.relu(skip + self.net(x))

    class TCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(Block(2, 4, 3, 1), Block(4, 4, 3, 2))
            self.fc = nn.Linear(4, 1)

        def forward(self, x):
            return self.fc(self.blocks(x)[:, :, -1])

    tcn = load_seeded(L, TCN().double(), 67)
    x, y = L.tensor(_arr(3, 2, 12, seed=68)), L.tensor(_arr(3, 1, seed=69))
    opt = L.optim.Adam(tcn.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: F.mse_loss(tcn(x), y))
    conv = tcn.blocks[0].net[0]
    return dict(losses=losses, keys=list(tcn.state_dict()), w=conv.weight,
                g=conv.parametrizations.weight.original1.grad,
                norm=conv.parametrizations.weight.original0)


@program
def crnn_ctc_training_and_greedy_decode(L):
    """CRNN for text lines: Conv2d/BatchNorm2d/MaxPool2d features, height squeezed and
    permuted to (T, B, C), a bidirectional GRU, log_softmax over classes, F.ctc_loss with
    per-sample input and target lengths (concatenated targets, zero_infinity), and greedy CTC
    decoding by argmax then unique_consecutive with blanks removed."""
    nn, F = L.nn, L.nn.functional

    class CRNN(nn.Module):
        def __init__(self, C=5):
            super().__init__()
            self.cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                     nn.ReLU(), nn.MaxPool2d((2, 1)),
                                     nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                                     nn.AdaptiveAvgPool2d((1, None)))
            self.rnn = nn.GRU(4, 5, bidirectional=True)
            self.fc = nn.Linear(10, C)

        def forward(self, x):
            f = self.cnn(x).squeeze(2).permute(2, 0, 1)
            out, _ = self.rnn(f)
            return self.fc(out).log_softmax(2)

    model = load_seeded(L, CRNN().double(), 70)
    x = L.tensor(_arr(2, 1, 6, 10, seed=71))
    targets = L.tensor([1, 2, 2, 3, 4, 1])
    tlens, ilens = L.tensor([4, 2]), L.full((2,), 10, dtype=L.long)
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: F.ctc_loss(model(x), targets, ilens, tlens,
                                                   blank=0, zero_infinity=True))
    model.eval()
    with L.no_grad():
        lp = model(x)
        best = lp.argmax(2).T
        decoded = []
        for row in best:
            u = L.unique_consecutive(row)
            decoded.append(u[u != 0].tolist())
        per = F.ctc_loss(lp, targets, ilens, tlens, reduction="none")
    return dict(losses=losses, decoded=decoded, per=per, rm=model.cnn[1].running_mean,
                nbt=model.cnn[1].num_batches_tracked)


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def reinforce_categorical_with_baseline(L):
    """REINFORCE: a policy MLP giving Categorical(logits=...), actions picked from numpy
    uniforms by inverse CDF (cumsum and searchsorted), log_prob and entropy, discounted
    returns built backwards, normalised by mean and std, a value baseline, the policy and
    value losses summed, clip_grad_norm_, Adam."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    pol = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double(), 72)
    val = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double(), 73)
    opt = L.optim.Adam([*pol.parameters(), *val.parameters()], lr=1e-2)
    obs = L.tensor(_arr(6, 4, seed=74))
    rewards = [1.0, 0.0, -0.5, 1.0, 0.5, 0.0]
    u = L.tensor(np.random.RandomState(75).rand(6, 1))
    out = []
    for _ in range(2):
        dist = D.Categorical(logits=pol(obs))
        acts = L.searchsorted(dist.probs.cumsum(-1), u).squeeze(1).clamp(max=2)
        R, returns = 0.0, []
        for r in reversed(rewards):
            R = r + 0.99 * R
            returns.insert(0, R)
        returns = L.tensor(returns, dtype=L.float64)
        returns = (returns - returns.mean()) / (returns.std() + 1e-8)
        v = val(obs).squeeze(-1)
        adv = returns - v.detach()
        loss = -(dist.log_prob(acts) * adv).sum() + F.smooth_l1_loss(v, returns) \
            - 0.01 * dist.entropy().mean()
        opt.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_([*pol.parameters(), *val.parameters()], 0.5)
        opt.step()
        out.append((loss.item(), acts, norm, dist.entropy()))
    return dict(out=out, w=pol[0].weight, logp=dist.log_prob(acts))


@program
def ppo_gaussian_policy_gae_clipped_objective(L):
    """PPO with a diagonal Gaussian policy: Normal(mu, exp(log_std)) with log_prob summed over
    action dims, GAE computed by a reversed loop over deltas and also by flip/cumsum of
    discounted deltas, the clipped surrogate (ratio clamp, torch.min), value clipping,
    Independent(Normal) entropy, minibatches by fixed permutations, clip_grad_norm_."""
    nn = L.nn
    D = L.distributions

    class AC(nn.Module):
        def __init__(self):
            super().__init__()
            self.pi = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
            self.v = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
            self.log_std = nn.Parameter(L.zeros(2))

        def dist(self, s):
            return D.Independent(D.Normal(self.pi(s), self.log_std.exp()), 1)

    ac = load_seeded(L, AC().double(), 76, scale=0.3)
    T, gamma, lam = 8, 0.99, 0.95
    s = L.tensor(_arr(T, 3, seed=77))
    a = L.tensor(_arr(T, 2, seed=78))
    r = L.tensor(_arr(T, seed=79))
    done = L.tensor([0, 0, 0, 1, 0, 0, 0, 0], dtype=L.float64)
    with L.no_grad():
        old_logp = ac.dist(s).log_prob(a)
        v = ac.v(s).squeeze(-1)
        v_next = L.cat([v[1:], L.zeros(1, dtype=v.dtype)])
        delta = r + gamma * v_next * (1 - done) - v
        adv = L.zeros_like(r)
        last = 0.0
        for t in reversed(range(T)):
            last = delta[t] + gamma * lam * (1 - done[t]) * last
            adv[t] = last
        ret = adv + v
        g = gamma * lam
        seg = delta[4:]
        disc = g ** L.arange(seg.numel(), dtype=L.float64)
        gae2 = L.flip(L.cumsum(L.flip(seg * disc, [0]), 0), [0]) / disc
    adv_n = (adv - adv.mean()) / (adv.std() + 1e-8)
    opt = L.optim.Adam(ac.parameters(), lr=3e-3, eps=1e-5)
    out = []
    for perm in (np.array([3, 0, 6, 1, 7, 2, 5, 4]), np.array([5, 2, 7, 0, 4, 6, 1, 3])):
        for mb in L.tensor(perm).split(4):
            d = ac.dist(s[mb])
            ratio = (d.log_prob(a[mb]) - old_logp[mb]).exp()
            s1, s2 = ratio * adv_n[mb], L.clamp(ratio, 0.8, 1.2) * adv_n[mb]
            vpred = ac.v(s[mb]).squeeze(-1)
            vclip = v[mb] + (vpred - v[mb]).clamp(-0.2, 0.2)
            vloss = 0.5 * L.max((vpred - ret[mb]) ** 2, (vclip - ret[mb]) ** 2).mean()
            loss = -L.min(s1, s2).mean() + 0.5 * vloss - 0.01 * d.entropy().mean()
            opt.zero_grad()
            loss.backward()
            n = nn.utils.clip_grad_norm_(ac.parameters(), 0.5)
            opt.step()
            frac = ((ratio - 1).abs() > 0.2).float().mean()
            out.append((loss.item(), n, frac))
    return dict(adv=adv, ret=ret, gae2=gae2, out=out, log_std=ac.log_std,
                kl=(old_logp - ac.dist(s).log_prob(a)).mean())


# ----------------------------------------------------------------------------------------------
# tabular, metric learning, sets
# ----------------------------------------------------------------------------------------------
@program
def tabular_embeddings_batchnorm_mlp(L):
    """A tabular net: one Embedding per categorical column sized min(50, (n+1)//2), dropout
    0 embeddings concatenated with BatchNorm1d-normalised continuous columns, Linear/ReLU/
    BatchNorm1d blocks, BCE-with-logits with pos_weight, then eval predictions with the
    running statistics, and the printed model."""
    nn = L.nn
    cards = [4, 7, 3]

    class TabNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embs = nn.ModuleList(nn.Embedding(c, min(50, (c + 1) // 2)) for c in cards)
            n_emb = sum(e.embedding_dim for e in self.embs)
            self.bn_cont = nn.BatchNorm1d(2)
            self.layers = nn.Sequential(nn.Linear(n_emb + 2, 8), nn.ReLU(), nn.BatchNorm1d(8),
                                        nn.Dropout(0.0), nn.Linear(8, 1))

        def forward(self, cat, cont):
            x = L.cat([e(cat[:, i]) for i, e in enumerate(self.embs)], 1)
            return self.layers(L.cat([x, self.bn_cont(cont)], 1)).squeeze(1)

    net = load_seeded(L, TabNet().double(), 80)
    rs = np.random.RandomState(81)
    cat = L.tensor(np.stack([rs.randint(0, c, 10) for c in cards], 1))
    cont = L.tensor(_arr(10, 2, seed=82) * 3 + 1)
    y = L.tensor((rs.rand(10) > 0.6).astype(np.float64))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4)
    crit = nn.BCEWithLogitsLoss(pos_weight=L.tensor([2.0], dtype=L.float64))
    losses = train_steps(opt, lambda: crit(net(cat, cont), y))
    net.eval()
    with L.no_grad():
        pred = L.sigmoid(net(cat, cont))
    return dict(losses=losses, pred=pred, rm=net.bn_cont.running_mean,
                rv=net.layers[2].running_var, nbt=net.layers[2].num_batches_tracked,
                text=repr(net), acc=((pred > 0.5).double() == y).double().mean())


@program
def triplet_batch_hard_mining_and_cosine(L):
    """Metric learning: an embedding net with F.normalize, pairwise distances by cdist, masks
    of same/different labels by broadcasting ==, batch-hard positives (max of masked) and
    negatives (min after masked_fill with inf), a margin ranking by relu, TripletMarginLoss
    and TripletMarginWithDistanceLoss with cosine distance, cosine_similarity matrices and
    topk retrieval."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 4)).double(), 83)
    x = L.tensor(_arr(8, 5, seed=84))
    y = L.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    emb = F.normalize(net(x), dim=1)
    dist = L.cdist(emb, emb, p=2)
    same = y.unsqueeze(0) == y.unsqueeze(1)
    eye = L.eye(8, dtype=L.bool)
    hardest_pos = (dist * (same & ~eye)).max(1).values
    hardest_neg = dist.masked_fill(same, float("inf")).min(1).values
    hard = F.relu(hardest_pos - hardest_neg + 0.3).mean()
    a, p, n = emb[[0, 2, 4]], emb[[1, 3, 5]], emb[[2, 4, 0]]
    t1 = nn.TripletMarginLoss(margin=0.5, p=2, swap=True)(a, p, n)
    t2 = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda u, v: 1.0 - F.cosine_similarity(u, v), margin=0.2)(a, p, n)
    sim = F.cosine_similarity(emb.unsqueeze(1), emb.unsqueeze(0), dim=-1)
    top = sim.masked_fill(eye, -2).topk(2, dim=1)
    (hard + t1 + t2).backward()
    return dict(dist=dist, hp=hardest_pos, hn=hardest_neg, hard=hard, t1=t1, t2=t2, sim=sim,
                topv=top.values, topi=top.indices, g=grads_of(net))


@program
def deep_sets_masked_sum_pooling(L):
    """Deep Sets: phi applied to every element of padded sets, a mask from lengths zeroing the
    padding before sum pooling, rho on the pooled vectors, permutation invariance checked by
    index_select with a permutation, trained with RMSprop."""
    nn, F = L.nn, L.nn.functional
    phi = nn.Sequential(nn.Linear(2, 6), nn.ELU(), nn.Linear(6, 6))
    rho = nn.Sequential(nn.Linear(6, 6), nn.ELU(), nn.Linear(6, 1))
    model = load_seeded(L, nn.ModuleDict(dict(phi=phi, rho=rho)).double(), 85)
    x = L.tensor(_arr(3, 5, 2, seed=86))
    lens = L.tensor([5, 2, 4])
    mask = (L.arange(5).expand(3, 5) < lens.unsqueeze(1)).unsqueeze(-1)

    def f(x):
        return model["rho"]((model["phi"](x) * mask).sum(1)).squeeze(-1)

    target = (x * mask).sum((1, 2))
    opt = L.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.9, centered=True)
    losses = train_steps(opt, lambda: F.mse_loss(f(x), target))
    perm = L.tensor([1, 0, 3, 2, 4])
    xp = x.clone()
    xp[2] = x[2].index_select(0, perm)
    return dict(losses=losses, out=f(x), perm_out=f(xp), g=grads_of(model))


# ----------------------------------------------------------------------------------------------
# GAN normalisations
# ----------------------------------------------------------------------------------------------
@program
def spectral_norm_discriminator_hinge_gan(L):
    """An SN-GAN: a discriminator whose Conv2d and Linear layers are wrapped by
    parametrizations.spectral_norm (power-iteration vectors loaded from numpy with the rest of
    the state), a generator with ConvTranspose2d and BatchNorm2d, hinge losses, Adam with
    betas (0.0, 0.9), alternating D and G steps; the spectral norm of the weight after the
    steps, the state dict keys and the printed discriminator."""
    nn, F = L.nn, L.nn.functional
    SN = nn.utils.parametrizations.spectral_norm
    D = nn.Sequential(SN(nn.Conv2d(1, 4, 4, 2, 1)), nn.LeakyReLU(0.1),
                      SN(nn.Conv2d(4, 4, 4, 2, 1)), nn.LeakyReLU(0.1), nn.Flatten(),
                      SN(nn.Linear(16, 1)))
    G = nn.Sequential(nn.Linear(3, 16), nn.Unflatten(1, (4, 2, 2)),
                      nn.ConvTranspose2d(4, 4, 4, 2, 1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.ConvTranspose2d(4, 1, 4, 2, 1), nn.Tanh())
    load_seeded(L, D.double(), 87)
    load_seeded(L, G.double(), 88)
    optD = L.optim.Adam(D.parameters(), lr=2e-4, betas=(0.0, 0.9))
    optG = L.optim.Adam(G.parameters(), lr=2e-4, betas=(0.0, 0.9))
    real = L.tensor(np.tanh(_arr(4, 1, 8, 8, seed=89)))
    out = []
    for s in range(2):
        z = L.tensor(_arr(4, 3, seed=90 + s))
        fake = G(z)
        lossD = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake.detach())).mean()
        optD.zero_grad()
        lossD.backward()
        optD.step()
        lossG = -D(fake).mean()
        optG.zero_grad()
        lossG.backward()
        optG.step()
        out.append((lossD.item(), lossG.item()))
    D.eval()
    w = D[0].weight
    sigma = L.linalg.matrix_norm(w.flatten(1), ord=2)
    return dict(out=out, w=w, sigma=sigma, keys=list(D.state_dict()), text=repr(D),
                u=D[2].parametrizations.weight[0]._u, gG=grads_of(G))


@program
def legacy_weight_norm_and_remove(L):
    """nn.utils.weight_norm (the deprecated hook form) on a Linear: weight_g/weight_v
    parameters, the recomputed weight after SGD steps, dim=None (a scalar g), then
    remove_weight_norm folding it back into a plain weight parameter."""
    nn = L.nn
    lin = load_seeded(L, nn.Linear(4, 3).double(), 91)
    lin = nn.utils.weight_norm(lin, name="weight", dim=0)
    other = nn.utils.weight_norm(load_seeded(L, nn.Linear(4, 3).double(), 92), dim=None)
    names = [n for n, _ in lin.named_parameters()], [n for n, _ in other.named_parameters()]
    shapes = lin.weight_g.shape, other.weight_g.shape
    opt = L.optim.SGD([*lin.parameters(), *other.parameters()], lr=0.1)
    x = L.tensor(_arr(5, 4, seed=93))
    losses = train_steps(opt, lambda: (lin(x) * other(x)).sum())
    w_before = lin(x)
    nn.utils.remove_weight_norm(lin)
    return dict(losses=losses, names=names, shapes=shapes, after=lin(x), before=w_before,
                params=[n for n, _ in lin.named_parameters()], g=other.weight_g)


# ----------------------------------------------------------------------------------------------
# NeRF
# ----------------------------------------------------------------------------------------------
@program
def nerf_positional_encoding_and_hierarchical_sampling(L):
    """NeRF: a positional encoding [x, sin(2^k x), cos(2^k x)], stratified depths from numpy
    jitter, an MLP giving density and colour, volume rendering weights by an exclusive
    cumprod of (1 - alpha), then hierarchical sampling of the PDF (cumsum, searchsorted with
    right=True, gather of bins and CDF) detached and sorted with the coarse depths, and a
    fine pass; MSE of the rendered colours backpropagated."""
    nn, F = L.nn, L.nn.functional

    def encode(x, n=3):
        out = [x]
        for k in range(n):
            out += [L.sin(2.0 ** k * x), L.cos(2.0 ** k * x)]
        return L.cat(out, -1)

    mlp = load_seeded(L, nn.Sequential(nn.Linear(21, 16), nn.ReLU(), nn.Linear(16, 16),
                                       nn.ReLU(), nn.Linear(16, 4)).double(), 94)

    def render(z, rays_o, rays_d):
        pts = rays_o[:, None] + rays_d[:, None] * z[..., None]
        raw = mlp(encode(pts))
        sigma, rgb = F.relu(raw[..., 0]), L.sigmoid(raw[..., 1:])
        dists = L.cat([z[:, 1:] - z[:, :-1], L.full_like(z[:, :1], 1e10)], -1)
        alpha = 1 - L.exp(-sigma * dists)
        trans = L.cumprod(L.cat([L.ones_like(alpha[:, :1]), 1 - alpha + 1e-10], -1), -1)[:, :-1]
        w = alpha * trans
        return (w[..., None] * rgb).sum(-2), w

    def sample_pdf(bins, weights, u):
        pdf = (weights + 1e-5) / (weights + 1e-5).sum(-1, keepdim=True)
        cdf = L.cat([L.zeros_like(pdf[..., :1]), L.cumsum(pdf, -1)], -1)
        inds = L.searchsorted(cdf, u.contiguous(), right=True)
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

    rays_o = L.tensor(_arr(4, 3, seed=95) * 0.1)
    rays_d = F.normalize(L.tensor(_arr(4, 3, seed=96)), dim=-1)
    target = L.tensor(np.random.RandomState(97).rand(4, 3))
    t = L.linspace(0.0, 1.0, 8, dtype=L.float64)
    z = 2.0 * (1 - t) + 6.0 * t
    z = z.expand(4, 8)
    mids = 0.5 * (z[:, 1:] + z[:, :-1])
    upper, lower = L.cat([mids, z[:, -1:]], -1), L.cat([z[:, :1], mids], -1)
    z = lower + (upper - lower) * L.tensor(np.random.RandomState(98).rand(4, 8))
    rgb_c, w = render(z, rays_o, rays_d)
    zmid = 0.5 * (z[:, 1:] + z[:, :-1])
    fine = sample_pdf(zmid, w[:, 1:-1].detach(), L.tensor(np.random.RandomState(99).rand(4, 6)))
    z_all, _ = L.sort(L.cat([z, fine.detach()], -1), -1)
    rgb_f, _ = render(z_all, rays_o, rays_d)
    loss = F.mse_loss(rgb_c, target) + F.mse_loss(rgb_f, target)
    loss.backward()
    psnr = -10.0 * L.log10(F.mse_loss(rgb_f, target))
    return dict(rgb_c=rgb_c, rgb_f=rgb_f, w=w, fine=fine, z_all=z_all, loss=loss, psnr=psnr,
                g=grads_of(mlp))


# ----------------------------------------------------------------------------------------------
# optimisation idioms
# ----------------------------------------------------------------------------------------------
@program
def style_transfer_gram_matrices_with_lbfgs(L):
    """Neural style transfer: a frozen conv feature extractor (requires_grad_(False), eval),
    features captured at chosen layers, Gram matrices by bmm normalised by c*h*w, content and
    style MSE losses, the input image optimised by LBFGS with a closure (strong Wolfe line
    search), clamp_ of the image under no_grad between steps."""
    nn, F = L.nn, L.nn.functional
    feat = load_seeded(L, nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                        nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                                        nn.AvgPool2d(2), nn.Conv2d(4, 6, 3, padding=1),
                                        nn.ReLU()).double(), 100)
    feat.eval().requires_grad_(False)

    def gram(maps):
        # channel-by-channel inner products over all positions, per image and per
        # feature value: (N, C, H*W) times its transpose, over C*H*W
        n, ch, rows, cols = maps.size()
        per_channel = maps.view(n, ch, rows * cols)
        return per_channel.bmm(per_channel.transpose(1, 2)) / (ch * rows * cols)

    def features(x):
        outs = {}
        for i, layer in enumerate(feat):
            x = layer(x)
            if i in (1, 3, 6):
                outs[i] = x
        return outs

    content = L.tensor(np.random.RandomState(101).rand(1, 3, 8, 8))
    style = L.tensor(np.random.RandomState(102).rand(1, 3, 8, 8))
    with L.no_grad():
        c_t = features(content)[3]
        s_t = {k: gram(v) for k, v in features(style).items()}
    img = content.clone().requires_grad_(True)
    opt = L.optim.LBFGS([img], lr=1.0, max_iter=4, history_size=5,
                        line_search_fn="strong_wolfe")
    trace = []

    def closure():
        opt.zero_grad()
        fs = features(img)
        loss = F.mse_loss(fs[3], c_t) + 1e3 * sum(F.mse_loss(gram(fs[k]), s_t[k]) for k in s_t)
        loss.backward()
        trace.append(loss.item())
        return loss

    for _ in range(2):
        ret = opt.step(closure)
        with L.no_grad():
            img.clamp_(0, 1)
    return dict(trace=trace, ret=ret, img=img, n_iter=opt.state[img]["n_iter"],
                feat_grads=[p.grad for p in feat.parameters()])


@program
def activation_checkpointing_matches_plain_backward(L):
    """torch.utils.checkpoint.checkpoint (use_reentrant=False) around blocks of a deep MLP and
    checkpoint_sequential over a Sequential: the same outputs and gradients as without it,
    including a block with two outputs and keyword arguments."""
    nn = L.nn
    cp = L.utils.checkpoint
    blocks = load_seeded(L, nn.Sequential(*[nn.Sequential(nn.Linear(5, 5), nn.Tanh())
                                            for _ in range(4)]).double(), 103)

    def two(x, scale=1.0):
        return x * scale, x.sin()

    x = L.tensor(_arr(3, 5, seed=104), requires_grad=True)
    h = x
    for b in blocks:
        h = cp.checkpoint(b, h, use_reentrant=False)
    a, s = cp.checkpoint(two, h, use_reentrant=False, scale=2.0)
    (a.sum() + s.pow(2).sum()).backward()
    g1, gw1 = x.grad.clone(), blocks[0][0].weight.grad.clone()
    x.grad = None
    blocks.zero_grad()
    h = blocks(x)
    a2, s2 = two(h, scale=2.0)
    (a2.sum() + s2.pow(2).sum()).backward()
    g2, gw2 = x.grad.clone(), blocks[0][0].weight.grad.clone()
    x.grad = None
    blocks.zero_grad(set_to_none=True)
    y = cp.checkpoint_sequential(blocks, 2, x, use_reentrant=False)
    y.sum().backward()
    return dict(a=a, s=s, g1=g1, g2=g2, gw1=gw1, gw2=gw2, y=y, g3=x.grad,
                gw3=blocks[3][0].weight.grad)


@program
def packed_bidirectional_lstm_tagger(L):
    """A sequence tagger: pack_padded_sequence of unsorted lengths (enforce_sorted=False) into a
    2-layer bidirectional LSTM, pad_packed_sequence with batch_first, per-token logits with
    the padding ignored by CrossEntropyLoss(ignore_index=-100), the final h_n reordered to
    the original batch, also pack_sequence over a list."""
    nn = L.nn
    R = nn.utils.rnn
    emb = load_seeded(L, nn.Embedding(10, 4).double(), 105)
    lstm = load_seeded(L, nn.LSTM(4, 3, num_layers=2, bidirectional=True,
                                  batch_first=True).double(), 106)
    head = load_seeded(L, nn.Linear(6, 5).double(), 107)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = L.optim.Adam(params, lr=1e-2)
    lens = L.tensor([3, 6, 1, 4])
    tok = L.tensor(_labels(24, 10, 108)).view(4, 6)
    tags = L.tensor(_labels(24, 5, 109)).view(4, 6)
    tags = tags.masked_fill(L.arange(6)[None] >= lens[:, None], -100)
    out = []
    for _ in range(2):
        packed = R.pack_padded_sequence(emb(tok), lens, batch_first=True, enforce_sorted=False)
        o, (h, c) = lstm(packed)
        o, ol = R.pad_packed_sequence(o, batch_first=True)
        loss = nn.CrossEntropyLoss()(head(o).reshape(-1, 5), tags[:, :o.size(1)].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append((loss.item(), h, c[-1], ol))
    ps = R.pack_sequence([tok[1], tok[0, :3], tok[3, :4]], enforce_sorted=False)
    o2, _ = lstm(R.PackedSequence(emb(ps.data), ps.batch_sizes, ps.sorted_indices,
                                  ps.unsorted_indices))
    return dict(out=out, bs=ps.batch_sizes, data=o2.data, g=grads_of(lstm))


@program
def ema_of_weights_by_foreach_and_averaged_model(L):
    """Exponential moving averages of the weights three ways: torch._foreach_mul_/_foreach_add_
    over parameter lists, lerp_ per tensor, and optim.swa_utils.AveragedModel with
    get_ema_multi_avg_fn (buffers too with use_buffers=True); a BatchNorm model trained by SGD
    between updates."""
    nn, F = L.nn, L.nn.functional
    swa = L.optim.swa_utils
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                         nn.Linear(4, 2)).double(), 110)
    ema1 = [p.detach().clone() for p in model.parameters()]
    ema2 = [p.detach().clone() for p in model.parameters()]
    avg = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x, y = L.tensor(_arr(6, 3, seed=111)), L.tensor(_arr(6, 2, seed=112))
    for _ in range(3):
        opt.zero_grad()
        F.mse_loss(model(x), y).backward()
        opt.step()
        with L.no_grad():
            cur = [p.detach() for p in model.parameters()]
            L._foreach_mul_(ema1, 0.9)
            L._foreach_add_(ema1, cur, alpha=0.1)
            for e, p in zip(ema2, cur):
                e.lerp_(p, 0.1)
        avg.update_parameters(model)
    avg_params = [p for n, p in avg.named_parameters()]
    return dict(ema1=ema1, ema2=ema2, avg=avg_params, n=avg.n_averaged,
                keys=list(avg.state_dict()), out=avg(x),
                rm=avg.module[1].running_mean)


@program
def gradient_accumulation_with_cpu_grad_scaler(L):
    """Gradient accumulation over micro-batches with loss / accum_steps, torch.amp.GradScaler
    on the CPU device (enabled and disabled): scale, unscale_ before clip_grad_norm_, step,
    update, get_scale, a step skipped when a gradient is inf, and the scaler's state_dict."""
    nn, F = L.nn, L.nn.functional
    results = {}
    for enabled in (True, False):
        model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.ReLU(),
                                             nn.Linear(4, 1)).double(), 113)
        opt = L.optim.SGD(model.parameters(), lr=0.05)
        scaler = L.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2,
                                  enabled=enabled)
        x, y = L.tensor(_arr(8, 3, seed=114)), L.tensor(_arr(8, 1, seed=115))
        trace = []
        for step in range(3):
            for mb in range(2):
                sl = slice(4 * mb, 4 * mb + 4)
                loss = F.mse_loss(model(x[sl]), y[sl]) / 2
                scaler.scale(loss).backward()
            if step == 1:
                model[0].weight.grad[0, 0] = float("inf")
            scaler.unscale_(opt)
            norm = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            trace.append((loss.item(), scaler.get_scale(), norm))
        results[enabled] = dict(trace=trace, w=model[0].weight, sd=scaler.state_dict(),
                                enabled=scaler.is_enabled())
    return results


def torch_compile_as_a_wrapper(L):
    """torch.compile on a module and on a function (CPU, used as a plain wrapper): the
    compiled module's outputs, gradients, parameters shared with the original, its
    state_dict keys with the _orig_mod. prefix, and a decorated function with options."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2)).double(),
                        116)
    cm = L.compile(model)

    @L.compile(fullgraph=True, dynamic=False)
    def loss_fn(out, y):
        return F.mse_loss(out, y) + out.abs().mean()

    x, y = L.tensor(_arr(5, 3, seed=117)), L.tensor(_arr(5, 2, seed=118))
    opt = L.optim.Adam(cm.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: loss_fn(cm(x), y))
    out = cm(x)
    return dict(losses=losses, keys=list(cm.state_dict()), same=cm._orig_mod is model,
                out=out, w=model[0].weight, training=cm.training,
                nparams=len(list(cm.parameters())))


# ----------------------------------------------------------------------------------------------
# more transformer idioms
# ----------------------------------------------------------------------------------------------
@program
def transformer_encoder_eval_fast_path_with_padding(L):
    """nn.TransformerEncoder built with enable_nested_tensor=True over layers with
    batch_first=True: in train mode and in eval under no_grad (where torch takes its fused
    path and writes zeros at the padded positions of the output), with a src_key_padding_mask
    and with none; masked mean pooling by the mask afterwards."""
    nn = L.nn
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    enc = load_seeded(L, nn.TransformerEncoder(layer, 2, enable_nested_tensor=True).double(),
                      119)
    x = L.tensor(_arr(3, 5, 8, seed=120))
    pad = L.arange(5)[None] >= L.tensor([[5], [2], [4]])
    train_out = enc(x, src_key_padding_mask=pad)
    enc.eval()
    with L.no_grad():
        ev = enc(x, src_key_padding_mask=pad)
        ev_nomask = enc(x)
    keep = (~pad).unsqueeze(-1).double()
    pooled = (ev * keep).sum(1) / keep.sum(1)
    return dict(train=train_out, ev_valid=ev[~pad], ev_pad_zero=ev[pad].abs().max() == 0,
                ev_nomask=ev_nomask, pooled=pooled)


@program
def t5_relative_position_bias_and_alibi(L):
    """T5 relative position buckets (exact buckets then log-spaced ones by torch.log, .to(long),
    torch.min with full_like, torch.where), an Embedding of buckets as a per-head bias added to
    attention scores; ALiBi slopes 2^(-8i/H) times negative distances; both used in
    attention with gradients to the bias table."""
    nn, F = L.nn, L.nn.functional

    def bucket(offset, both_ways=True, n_slots=8, far=16):
        # offset = key position - query position. With both_ways, keys ahead of the query
        # use the upper half of the slots. Within a half, distances below half of its
        # slots each get their own slot; longer ones share log-spaced slots up to ``far``,
        # beyond which everything goes to the half's last slot.
        dist = -offset
        base = 0
        if both_ways:
            n_slots //= 2
            base = (dist < 0).to(L.long) * n_slots
            dist = L.abs(dist)
        else:
            dist = L.max(dist, L.zeros_like(dist))       # keys ahead all fall in slot 0
        n_exact = n_slots // 2
        log_frac = L.log(dist.float() / n_exact) / math.log(far / n_exact)
        spread = n_exact + (log_frac * (n_slots - n_exact)).to(L.long)
        spread = L.min(spread, L.full_like(spread, n_slots - 1))
        return base + L.where(dist < n_exact, dist, spread)

    H, T = 2, 12
    ctx = L.arange(T, dtype=L.long)[:, None]
    mem = L.arange(T, dtype=L.long)[None, :]
    b_bi, b_uni = bucket(mem - ctx), bucket(mem - ctx, both_ways=False)
    table = load_seeded(L, nn.Embedding(8, H).double(), 121)
    bias = table(b_bi).permute(2, 0, 1).unsqueeze(0)
    slopes = L.tensor([2 ** (-8 * (i + 1) / H) for i in range(H)], dtype=L.float64)
    alibi = slopes[:, None, None] * -(ctx - mem).abs().double()
    q, k, v = (L.tensor(_arr(1, H, T, 4, seed=s)) for s in (122, 123, 124))
    scores = q @ k.transpose(-1, -2) + bias + alibi
    out = F.softmax(scores, -1) @ v
    out.pow(2).sum().backward()
    return dict(b_bi=b_bi, b_uni=b_uni, alibi=alibi, out=out, g=table.weight.grad)


@program
def nucleus_sampling_and_beam_search(L):
    """Decoding: a nucleus (top-p) filter built in rank order (descending sort, cumulative
    softmax, the drop flags moved one rank later, scattered back to vocabulary order), a draw
    as the argmax of log-probs plus numpy Gumbel noise; and beam search over a fixed
    transition model with flattened topk, beam ids by torch.div(rounding_mode='floor'),
    token ids by remainder, index_select of histories."""
    F = L.nn.functional
    logits = L.tensor(_arr(3, 10, seed=125) * 2)
    # nucleus of mass 0.8: walk the vocabulary best-first and drop every token whose
    # predecessors already hold 0.8 of the probability
    best_first, vocab_id = L.sort(logits, descending=True)
    mass_so_far = L.cumsum(F.softmax(best_first, dim=-1), dim=-1)
    outside = mass_so_far > 0.8
    outside[..., 1:] = outside[..., :-1].clone()     # judge each token by those above it
    outside[..., 0] = False
    mask = outside.scatter(1, vocab_id, outside)      # back from rank order to vocab order
    filtered = logits.masked_fill(mask, -float("inf"))
    gumbel = L.tensor(-np.log(-np.log(np.random.RandomState(126).rand(3, 10))))
    picks = (F.log_softmax(filtered, -1) + gumbel).argmax(-1)
    V, B = 6, 3
    trans = F.log_softmax(L.tensor(_arr(V, V, seed=127)), -1)
    scores = L.zeros(B, dtype=L.float64)
    scores[1:] = -1e9
    hist = L.zeros(B, 1, dtype=L.long)
    for _ in range(4):
        cand = scores[:, None] + trans[hist[:, -1]]
        top, flat = cand.view(-1).topk(B)
        beam = L.div(flat, V, rounding_mode="floor")
        tok = flat % V
        hist = L.cat([hist.index_select(0, beam), tok[:, None]], 1)
        scores = top
    return dict(filtered=filtered, mask=mask, picks=picks, hist=hist, scores=scores)


@program
def bilstm_crf_forward_algorithm_and_viterbi(L):
    """Sequence tagging with a linear-chain CRF on top of a two-way LSTM. The partition
    function is a running log-sum-exp over (previous tag, next tag) tables that only
    advances where the mask is on (torch.where); the tagged path is scored by indexing the
    pair table and gathering emissions; SGD lowers the difference; decoding keeps the argmax
    of each step and walks the pointers back with gather."""
    nn = L.nn
    n_tags = 4

    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 4, bidirectional=True, batch_first=True)
            self.emit = nn.Linear(8, n_tags)
            self.trans = nn.Parameter(L.zeros(n_tags, n_tags))   # [from, to]
            self.start = nn.Parameter(L.zeros(n_tags))
            self.end = nn.Parameter(L.zeros(n_tags))

        def unary(self, x):                  # (batch, time, tags)
            return self.emit(self.lstm(x)[0])

        def _pair_table(self, prev, unary_t):
            # prev: (B, from); unary_t: (B, to) -> (B, from, to)
            return prev[:, :, None] + self.trans + unary_t[:, None, :]

        def log_partition(self, u, mask):
            run = u[:, 0] + self.start
            for t in range(1, u.shape[1]):
                moved = L.logsumexp(self._pair_table(run, u[:, t]), 1)
                run = L.where(mask[:, t, None], moved, run)
            return L.logsumexp(run + self.end, 1)

        def path_score(self, u, tags, mask):
            first = tags[:, 0]
            total = u[:, 0].gather(1, first[:, None]).squeeze(1) + self.start[first]
            for t in range(1, u.shape[1]):
                here = u[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
                hop = self.trans[tags[:, t - 1], tags[:, t]]
                total = total + (hop + here) * mask[:, t]
            final_pos = mask.sum(1) - 1
            final_tag = tags.gather(1, final_pos[:, None]).squeeze(1)
            return total + self.end[final_tag]

        def nll(self, x, tags, mask):
            u = self.unary(x)
            return (self.log_partition(u, mask) - self.path_score(u, tags, mask)).mean()

        def decode(self, x):
            u = self.unary(x)
            run = u[:, 0] + self.start
            pointers = []
            for t in range(1, u.shape[1]):
                top, arg = (run[:, :, None] + self.trans).max(1)
                pointers.append(arg)
                run = top + u[:, t]
            cur = (run + self.end).argmax(1)
            rev = [cur]
            for arg in pointers[::-1]:
                cur = arg.gather(1, cur[:, None]).squeeze(1)
                rev.append(cur)
            rev.reverse()
            return L.stack(rev, 1)

    crf = load_seeded(L, Tagger().double(), 128)
    x = L.tensor(_arr(2, 5, 3, seed=129))
    tags = L.tensor(_labels(10, n_tags, 130)).view(2, 5)
    mask = L.tensor([[True] * 5, [True] * 3 + [False] * 2])
    opt = L.optim.SGD(crf.parameters(), lr=0.1)
    losses = train_steps(opt, lambda: crf.nll(x, tags, mask))
    with L.no_grad():
        path = crf.decode(x)
    return dict(losses=losses, path=path, trans=crf.trans, g=grads_of(crf))


# ----------------------------------------------------------------------------------------------
# audio, part two
# ----------------------------------------------------------------------------------------------
@program
def multi_resolution_stft_loss_and_griffin_lim(L):
    """A vocoder's multi-resolution STFT loss: for three (n_fft, hop, win) settings, magnitudes
    from stft with hann windows clamped to a floor, spectral convergence by torch.norm 'fro'
    ratios and log-magnitude L1; gradients to the generated waveform; then two Griffin-Lim
    iterations by istft/stft with angle and polar."""
    F = L.nn.functional
    y = L.tensor(_arr(2, 200, seed=131))
    y_hat = L.tensor(_arr(2, 200, seed=132) * 0.5, requires_grad=True)
    total, parts = 0, []
    for n_fft, hop, win in ((32, 8, 24), (64, 16, 64), (16, 4, 16)):
        w = L.hann_window(win, periodic=True, dtype=L.float64)

        def mag(s):
            sp = L.stft(s, n_fft, hop, win, w, return_complex=True)
            return L.sqrt(L.clamp(sp.real ** 2 + sp.imag ** 2, min=1e-7)).transpose(2, 1)

        m_hat, m = mag(y_hat), mag(y)
        sc = L.norm(m - m_hat, p="fro") / L.norm(m, p="fro")
        mg = F.l1_loss(L.log(m), L.log(m_hat))
        parts.append((sc, mg))
        total = total + sc + mg
    total.backward()
    w = L.hann_window(32, dtype=L.float64)
    S = L.stft(y, 32, 8, window=w, return_complex=True).abs()
    angles = L.polar(L.ones_like(S), L.tensor(np.random.RandomState(133).rand(*S.shape) * 6))
    for _ in range(2):
        inv = L.istft(S * angles, 32, 8, window=w, length=200)
        rebuilt = L.stft(inv, 32, 8, window=w, return_complex=True)
        angles = L.polar(L.ones_like(S), rebuilt.angle())
    return dict(parts=parts, total=total, g=y_hat.grad, inv=inv, angles=angles)


@program
def hifigan_style_upsampler_with_reflection_pad(L):
    """A HiFi-GAN-like generator: ReflectionPad1d, conv_pre with weight_norm, ConvTranspose1d
    upsampling by 2 twice (padding (k - u) // 2), residual blocks with dilated convolutions
    and leaky_relu(0.1), tanh output; a feature-matching L1 between two passes and an L1 on a
    mel-free frame energy computed by Tensor.unfold over time."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm

    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.convs = nn.ModuleList(wn(nn.Conv1d(c, c, 3, dilation=d, padding=d))
                                       for d in (1, 3))

        def forward(self, x):
            for c in self.convs:
                x = x + c(F.leaky_relu(x, 0.1))
            return x

    class Gen(nn.Module):
        def __init__(self):
            super().__init__()
            self.pad = nn.ReflectionPad1d(2)
            self.pre = wn(nn.Conv1d(4, 6, 5))
            self.ups = nn.ModuleList([wn(nn.ConvTranspose1d(6, 4, 4, 2, padding=1)),
                                      wn(nn.ConvTranspose1d(4, 3, 4, 2, padding=1))])
            self.res = nn.ModuleList([ResBlock(4), ResBlock(3)])
            self.post = nn.Conv1d(3, 1, 7, padding=3)

        def forward(self, mel):
            x = self.pre(self.pad(mel))
            for up, rb in zip(self.ups, self.res):
                x = rb(up(F.leaky_relu(x, 0.1)))
            return L.tanh(self.post(F.leaky_relu(x)))

    g = load_seeded(L, Gen().double(), 134)
    mel = L.tensor(_arr(2, 4, 6, seed=135))
    target = L.tensor(np.tanh(_arr(2, 1, 24, seed=136)))
    opt = L.optim.AdamW(g.parameters(), lr=2e-4, betas=(0.8, 0.99))

    def loss_of():
        wav = g(mel)
        frames = wav.squeeze(1).unfold(-1, 8, 4)
        e_hat, e = frames.pow(2).mean(-1), target.squeeze(1).unfold(-1, 8, 4).pow(2).mean(-1)
        return F.l1_loss(wav, target) + F.l1_loss(e_hat, e)

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, out=g(mel), keys=list(g.state_dict())[:6])


# ----------------------------------------------------------------------------------------------
# probabilistic models
# ----------------------------------------------------------------------------------------------
@program
def mixture_density_network_nll(L):
    """A mixture density network: an MLP giving mixture logits, means and log-scales,
    MixtureSameFamily(Categorical(logits), Independent(Normal(mu, sigma), 1)), log_prob of
    targets for the loss, mean and variance of the mixture, and the component posteriors."""
    nn, D = L.nn, L.distributions
    K, dim = 3, 2
    net = load_seeded(L, nn.Sequential(nn.Linear(1, 8), nn.Tanh(),
                                       nn.Linear(8, K + 2 * K * dim)).double(), 137)
    x = L.tensor(_arr(6, 1, seed=138))
    y = L.tensor(_arr(6, dim, seed=139))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)

    def mdn(x):
        out = net(x)
        logits, mu, log_s = out.split([K, K * dim, K * dim], dim=-1)
        comp = D.Independent(D.Normal(mu.view(-1, K, dim), log_s.view(-1, K, dim).exp()), 1)
        return D.MixtureSameFamily(D.Categorical(logits=logits), comp)

    losses = train_steps(opt, lambda: -mdn(x).log_prob(y).mean())
    m = mdn(x)
    post = m.component_distribution.log_prob(y.unsqueeze(1)) + \
        L.log_softmax(m.mixture_distribution.logits, -1)
    post = post.softmax(-1)
    return dict(losses=losses, mean=m.mean, var=m.variance, post=post,
                batch=m.batch_shape, event=m.event_shape)


@program
def sac_tanh_squashed_gaussian_policy(L):
    """Soft actor-critic's actor: Normal(mu, std) with std from a clamped log_std, the action
    a = tanh(u) for a fixed pre-tanh u, its log-probability both by the change-of-variables
    formula (log(1 - tanh^2 + eps) and 2(log 2 - u - softplus(-2u))) and by
    TransformedDistribution with TanhTransform; twin Q critics, the min of the two, the
    entropy-regularised actor loss, a learned log_alpha temperature, and a Polyak target
    update by mul_/add_ under no_grad."""
    nn, F, D = L.nn, L.nn.functional, L.distributions
    actor = load_seeded(L, nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4)).double(),
                        140)
    q1 = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double(), 141)
    q2 = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double(), 142)
    tq1 = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double(), 143)
    log_alpha = L.zeros(1, dtype=L.float64, requires_grad=True)
    opt = L.optim.Adam(actor.parameters(), lr=3e-4)
    a_opt = L.optim.Adam([log_alpha], lr=3e-4)
    s = L.tensor(_arr(5, 3, seed=144))
    eps = L.tensor(_arr(5, 2, seed=145))
    out = []
    for _ in range(2):
        mu, log_std = actor(s).chunk(2, -1)
        log_std = L.clamp(log_std, -20, 2)
        normal = D.Normal(mu, log_std.exp())
        u = mu + log_std.exp() * eps
        a = L.tanh(u)
        lp1 = (normal.log_prob(u) - L.log(1 - a.pow(2) + 1e-6)).sum(-1)
        lp2 = (normal.log_prob(u) - 2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        td = D.TransformedDistribution(normal, [D.TanhTransform(cache_size=1)])
        lp3 = td.log_prob(a.detach()).sum(-1)
        sa = L.cat([s, a], -1)
        q = L.min(q1(sa), q2(sa)).squeeze(-1)
        alpha = log_alpha.exp().detach()
        loss = (alpha * lp2 - q).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        a_loss = -(log_alpha * (lp2.detach() - 2.0)).mean()
        a_opt.zero_grad()
        a_loss.backward()
        a_opt.step()
        with L.no_grad():
            for p, tp in zip(q1.parameters(), tq1.parameters()):
                tp.data.mul_(0.995)
                tp.data.add_(0.005 * p.data)
        out.append((loss.item(), lp1, lp2, lp3))
    return dict(out=out, log_alpha=log_alpha, tq=list(tq1.parameters()),
                gq=grads_of(q1))


@program
def made_masked_autoregressive_flow(L):
    """MADE / MAF: degrees assigned to inputs and hidden units, masks built by comparisons of
    degrees registered as buffers, F.linear with mask * weight, the affine autoregressive
    transform u = (x - mu) exp(-alpha) with log-det -sum(alpha), a standard-normal base
    log-likelihood, and input order reversal between two flow layers by flip."""
    nn, F = L.nn, L.nn.functional

    class MaskedLinear(nn.Linear):
        def __init__(self, fin, fout, mask):
            super().__init__(fin, fout)
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.linear(x, self.mask * self.weight, self.bias)

    class MADE(nn.Module):
        def __init__(self, D=3, H=6):
            super().__init__()
            d_in = L.arange(1, D + 1)
            d_h = L.tensor([(i % (D - 1)) + 1 for i in range(H)])
            m1 = (d_h[:, None] >= d_in[None]).double()
            m2 = (d_in[:, None] > d_h[None]).double().repeat(2, 1)
            self.l1, self.l2 = MaskedLinear(D, H, m1), MaskedLinear(H, 2 * D, m2)

        def forward(self, x):
            mu, alpha = self.l2(F.relu(self.l1(x))).chunk(2, -1)
            u = (x - mu) * L.exp(-alpha)
            return u, -alpha.sum(-1)

    flows = nn.ModuleList([MADE(), MADE()])
    load_seeded(L, flows.double(), 146)
    for f in flows:          # load_seeded gave the masks random values too: rebuild them
        f.l1.mask.copy_((f.l1.mask != 0).double() * 0 + MADE().l1.mask.double())
        f.l2.mask.copy_(MADE().l2.mask.double())
    x = L.tensor(_arr(8, 3, seed=147))
    opt = L.optim.Adam(flows.parameters(), lr=1e-2)

    def nll():
        h, logdet = x, 0
        for f in flows:
            h, ld = f(h)
            logdet = logdet + ld
            h = h.flip(-1)
        base = -0.5 * (h ** 2).sum(-1) - 0.5 * 3 * math.log(2 * math.pi)
        return -(base + logdet).mean()

    losses = train_steps(opt, nll)
    x2 = x.clone().requires_grad_(True)
    u, _ = flows[0](x2)
    jac = L.autograd.functional.jacobian(lambda v: flows[0](v)[0], x[0])
    return dict(losses=losses, masks=[flows[0].l1.mask, flows[0].l2.mask], jac=jac,
                upper=L.triu(jac, 1).abs().max())


# ----------------------------------------------------------------------------------------------
# training loop plumbing
# ----------------------------------------------------------------------------------------------
@program
def warmup_cosine_schedules_and_plateau(L):
    """Schedulers as training scripts chain them: LambdaLR warmup, SequentialLR of LinearLR and
    CosineAnnealingLR with milestones, get_last_lr per step, OneCycle-free; ReduceLROnPlateau
    in 'min' mode with patience and cooldown driven by a numpy metric sequence; the
    scheduler's state_dict round-tripped into a fresh one."""
    nn = L.nn
    lin = nn.Linear(2, 1)
    opt = L.optim.SGD(lin.parameters(), lr=0.1, momentum=0.9)
    warm = L.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=5, eta_min=1e-3)
    seq = L.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    lrs = []
    for _ in range(9):
        opt.step()
        seq.step()
        lrs.append(seq.get_last_lr()[0])
    opt2 = L.optim.Adam(lin.parameters(), lr=1e-2)
    lam = L.optim.lr_scheduler.LambdaLR(opt2, lambda s: min(1.0, (s + 1) / 4))
    lams = []
    for _ in range(5):
        opt2.step()
        lam.step()
        lams.append(opt2.param_groups[0]["lr"])
    opt3 = L.optim.SGD(lin.parameters(), lr=1.0)
    pl = L.optim.lr_scheduler.ReduceLROnPlateau(opt3, mode="min", factor=0.5, patience=1,
                                                cooldown=1, min_lr=0.1)
    pls = []
    for m in [1.0, 0.9, 0.95, 0.97, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9]:
        pl.step(m)
        pls.append(opt3.param_groups[0]["lr"])
    sd = cos.state_dict()
    return dict(lrs=lrs, lams=lams, pls=pls, last=seq.last_epoch,
                sd={k: v for k, v in sd.items() if k in ("T_max", "eta_min", "last_epoch",
                                                         "base_lrs", "_last_lr")})


@program
def per_sample_gradients_by_vmap_and_functional_call(L):
    """Per-sample gradients as in DP-SGD: torch.func.functional_call of a model with a
    dict of detached parameters, grad of a per-example loss, vmap over the batch
    (in_dims=(None, 0, 0)), per-sample norms, clipping factors, and the noise-free
    clipped mean compared with the ordinary batch gradient."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double(),
                        148)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = L.tensor(_arr(5, 3, seed=149)), L.tensor(_labels(5, 2, 150))

    def loss(p, xi, yi):
        out = fn.functional_call(model, p, (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per = fn.vmap(fn.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    norms = L.stack([g.flatten(1).norm(dim=1) for g in per.values()], 1).norm(dim=1)
    factor = (1.0 / (norms / 1.0).clamp(min=1.0))
    clipped = {k: (g * factor.view(-1, *[1] * (g.dim() - 1))).mean(0) for k, g in per.items()}
    F.cross_entropy(model(x), y).backward()
    return dict(per=per, norms=norms, clipped=clipped, batch=grads_of(model),
                mean_equal=[L.allclose(per[k].mean(0), p.grad) for k, p in
                            model.named_parameters()])


# ----------------------------------------------------------------------------------------------
# embeddings, point clouds, capsules, sets
# ----------------------------------------------------------------------------------------------
@program
def skipgram_negative_sampling_with_max_norm(L):
    """word2vec skip-gram with negative sampling: input and output Embeddings (the input one
    with max_norm=1.0, renormalised in place as it is looked up), logsigmoid of positive
    dot products by bmm and of negative ones, SparseAdam-free SGD steps, and the nearest
    words by cosine similarity of the normalised table."""
    nn, F = L.nn, L.nn.functional
    V, d = 12, 4
    inp = load_seeded(L, nn.Embedding(V, d, max_norm=1.0).double(), 151, scale=1.0)
    out = load_seeded(L, nn.Embedding(V, d).double(), 152)
    opt = L.optim.SGD([*inp.parameters(), *out.parameters()], lr=0.2)
    center = L.tensor(_labels(6, V, 153))
    ctx = L.tensor(_labels(6, V, 154))
    neg = L.tensor(_labels(18, V, 155)).view(6, 3)
    losses = []
    for _ in range(3):
        v = inp(center)
        u = out(ctx)
        un = out(neg)
        pos = F.logsigmoid((v * u).sum(-1))
        negs = F.logsigmoid(-L.bmm(un, v.unsqueeze(2)).squeeze(2)).sum(-1)
        loss = -(pos + negs).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    table = F.normalize(inp.weight.detach(), dim=1)
    sims = table @ table[center[0]]
    return dict(losses=losses, w=inp.weight, norms=inp.weight.norm(dim=1),
                near=sims.topk(3).indices, g=out.weight.grad)


@program
def fuse_conv_bn_for_inference(L):
    """Folding BatchNorm into the preceding convolution for deployment:
    nn.utils.fusion.fuse_conv_bn_eval and fuse_linear_bn_eval on trained-then-eval modules,
    and the same folding done by hand (per-channel gain gamma / std on the kernel, bias
    shifted to the BN centre); all compared with running conv then bn."""
    nn, F = L.nn, L.nn.functional
    fusion = nn.utils.fusion
    conv = load_seeded(L, nn.Conv2d(2, 3, 3, padding=1).double(), 156)
    bn = load_seeded(L, nn.BatchNorm2d(3).double(), 157)
    bn.running_var.abs_()
    lin = load_seeded(L, nn.Linear(4, 3).double(), 158)
    bn1 = load_seeded(L, nn.BatchNorm1d(3).double(), 159)
    bn1.running_var.abs_()
    x = L.tensor(_arr(2, 2, 5, 5, seed=160))
    z = L.tensor(_arr(5, 4, seed=161))
    for m in (conv, bn, lin, bn1):
        m.eval()
    fused = fusion.fuse_conv_bn_eval(conv, bn)
    fused_lin = fusion.fuse_linear_bn_eval(lin, bn1)
    # our own folding: each output channel c of the conv is multiplied by
    # gain[c] = gamma[c] / std[c], and its bias is moved to the BN's centre
    std = L.sqrt(bn.running_var + bn.eps)
    gain = bn.weight / std
    kernel = gain[:, None, None, None] * conv.weight
    shift = bn.bias + gain * (conv.bias - bn.running_mean)
    with L.no_grad():
        ref = bn(conv(x))
        by_hand = F.conv2d(x, kernel, shift, padding=1)
    return dict(ref=ref, fused=fused(x), by_hand=by_hand, lin_ref=bn1(lin(z)),
                lin_fused=fused_lin(z), type=type(fused).__name__,
                rg=fused.weight.requires_grad, keys=list(fused.state_dict()))


@program
def dgcnn_edgeconv_knn_graph(L):
    """DGCNN EdgeConv: k nearest neighbours from -||xi - xj||^2 (computed as 2 x^T x - |x|^2 -
    |x|^2^T) by topk, neighbour features gathered with an index offset per batch item,
    edge features [xj - xi, xi], a Conv2d/BatchNorm2d/LeakyReLU, max over neighbours,
    then a global max and mean pooled classifier."""
    nn, F = L.nn, L.nn.functional

    def knn(pts, k):
        # (B, C, N) -> (B, N, k) indices of the k nearest points (itself included): the
        # largest of -|a - b|^2 = 2 a.b - |a|^2 - |b|^2
        sq = (pts ** 2).sum(dim=1, keepdim=True)                          # (B, 1, N)
        closeness = 2 * L.matmul(pts.transpose(2, 1), pts) - sq - sq.transpose(2, 1)
        return closeness.topk(k=k, dim=-1)[1]

    def edge_features(pts, k):
        # (B, C, N) -> (B, 2C, N, k): for each point i and neighbour j, [x_j - x_i, x_i];
        # neighbours fetched from one flat (B*N, C) table, so batch b's indices move by b*N
        B, C, N = pts.shape
        rows = pts.transpose(2, 1).contiguous()                           # (B, N, C)
        flat_idx = (knn(pts, k) + N * L.arange(0, B).view(-1, 1, 1)).view(-1)
        nbr = rows.view(B * N, -1)[flat_idx, :].view(B, N, k, C)
        centre = rows.view(B, N, 1, C).repeat(1, 1, k, 1)
        return L.cat((nbr - centre, centre), dim=3).permute(0, 3, 1, 2).contiguous()

    def edge_conv(cin):
        return nn.Sequential(nn.Conv2d(cin, 8, 1, bias=False), nn.BatchNorm2d(8),
                             nn.LeakyReLU(0.2))

    class DGCNN(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.k = k
            self.e1, self.e2 = edge_conv(6), edge_conv(16)
            self.head = nn.Linear(32, 3)

        def forward(self, pts):
            first = self.e1(edge_features(pts, self.k)).max(dim=-1, keepdim=False)[0]
            second = self.e2(edge_features(first, self.k)).max(dim=-1)[0]   # graph rebuilt
            both = L.cat([first, second], 1)                                 # (B, 16, N)
            n = pts.size(0)
            pooled = [F.adaptive_max_pool1d(both, 1).view(n, -1),
                      F.adaptive_avg_pool1d(both, 1).view(n, -1)]
            return self.head(L.cat(pooled, 1))

    net = load_seeded(L, DGCNN().double(), 162)
    pts = L.tensor(_arr(2, 3, 10, seed=163))
    opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = train_steps(opt, lambda: F.cross_entropy(net(pts), L.tensor([0, 2])))
    return dict(losses=losses, knn=knn(pts, 3), g=grads_of(net))


@program
def capsule_squash_and_dynamic_routing(L):
    """CapsNet: primary capsules from a Conv2d reshaped to (B, N, 8), squash
    (|s|^2 / (1 + |s|^2) s / |s|), prediction vectors u_hat by a broadcast matmul with a
    weight of shape (1, N, J, D, 8), three routing iterations (softmax over output capsules,
    weighted sums, agreement added to the logits with u_hat detached except in the last),
    and the margin loss on capsule lengths."""
    nn, F = L.nn, L.nn.functional

    def squash(s, dim=-1):
        n2 = (s ** 2).sum(dim=dim, keepdim=True)
        return n2 / (1 + n2) * s / L.sqrt(n2 + 1e-8)

    class Caps(nn.Module):
        def __init__(self, J=3, D=4):
            super().__init__()
            self.conv = nn.Conv2d(1, 16, 3, stride=2)
            self.W = nn.Parameter(L.randn(1, 2 * 3 * 3, J, D, 8))
            self.J = J

        def forward(self, x):
            u = squash(self.conv(x).view(x.size(0), 2, 8, 3, 3).permute(0, 1, 3, 4, 2)
                       .reshape(x.size(0), -1, 8))
            u_hat = (self.W @ u[:, :, None, :, None]).squeeze(-1)
            b = L.zeros(*u_hat.shape[:3], dtype=u.dtype)
            for it in range(3):
                c = F.softmax(b, dim=2)
                uh = u_hat if it == 2 else u_hat.detach()
                v = squash((c.unsqueeze(-1) * uh).sum(1, keepdim=True))
                if it < 2:
                    b = b + (uh * v).sum(-1)
            return v.squeeze(1)

    caps = load_seeded(L, Caps().double(), 164, scale=0.2)
    x = L.tensor(_arr(2, 1, 7, 7, seed=165))
    y = F.one_hot(L.tensor([2, 0]), 3).double()
    v = caps(x)
    lengths = v.norm(dim=-1)
    loss = (y * F.relu(0.9 - lengths) ** 2 + 0.5 * (1 - y) * F.relu(lengths - 0.1) ** 2)
    loss = loss.sum(1).mean()
    loss.backward()
    return dict(v=v, lengths=lengths, loss=loss, g=grads_of(caps))


@program
def set_transformer_isab_and_pma(L):
    """Set Transformer: MAB blocks of nn.MultiheadAttention with residual LayerNorms, ISAB
    with learned inducing points expanded over the batch, PMA pooling by a learned seed
    vector, a key padding mask over the set, and permutation invariance of the pooled
    output."""
    nn, F = L.nn, L.nn.functional

    class MAB(nn.Module):
        def __init__(self, d, h=2):
            super().__init__()
            self.att = nn.MultiheadAttention(d, h, batch_first=True)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, d), nn.ReLU())

        def forward(self, q, k, pad=None):
            h = self.ln1(q + self.att(q, k, k, key_padding_mask=pad, need_weights=False)[0])
            return self.ln2(h + self.ff(h))

    class SetT(nn.Module):
        def __init__(self, din=3, d=4, m=2):
            super().__init__()
            self.emb = nn.Linear(din, d)
            self.I = nn.Parameter(L.randn(1, m, d))
            self.mab1, self.mab2 = MAB(d), MAB(d)
            self.S = nn.Parameter(L.randn(1, 1, d))
            self.pma = MAB(d)
            self.out = nn.Linear(d, 1)

        def forward(self, x, pad):
            x = self.emb(x)
            H = self.mab1(self.I.expand(x.size(0), -1, -1), x, pad)
            x = self.mab2(x, H)
            return self.out(self.pma(self.S.expand(x.size(0), -1, -1), x, pad)).squeeze(-1)

    net = load_seeded(L, SetT().double(), 166)
    x = L.tensor(_arr(2, 5, 3, seed=167))
    pad = L.tensor([[False] * 5, [False] * 3 + [True] * 2])
    y = L.tensor(_arr(2, 1, seed=168))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: F.mse_loss(net(x, pad), y))
    perm = L.tensor([2, 0, 1, 3, 4])
    return dict(losses=losses, out=net(x, pad), perm=net(x[:, perm], pad[:, perm]),
                g=grads_of(net))


@program
def hypernetwork_generating_weights_via_functional_call(L):
    """A hypernetwork: a task embedding mapped by an MLP to the flat weights of a target
    Linear-Tanh-Linear net, split and viewed into a dict by the target's parameter shapes,
    applied with torch.func.functional_call; only the hypernetwork is trained."""
    nn, F = L.nn, L.nn.functional
    target = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).double()
    shapes = {k: v.shape for k, v in target.named_parameters()}
    sizes = [math.prod(s) for s in shapes.values()]
    hyper = load_seeded(L, nn.Sequential(nn.Embedding(3, 4), nn.Linear(4, 8), nn.ReLU(),
                                         nn.Linear(8, sum(sizes))).double(), 169, scale=0.2)
    x = L.tensor(_arr(3, 6, 2, seed=170))
    y = L.tensor(_arr(3, 6, 1, seed=171))
    opt = L.optim.Adam(hyper.parameters(), lr=1e-2)

    def loss_of():
        flat = hyper(L.arange(3))
        total = 0
        for t in range(3):
            chunks = flat[t].split(sizes)
            params = {k: c.view(s) for (k, s), c in zip(shapes.items(), chunks)}
            out = L.func.functional_call(target, params, (x[t],))
            total = total + F.mse_loss(out, y[t])
        return total

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, g=grads_of(hyper),
                target_grads=[p.grad for p in target.parameters()])


# ----------------------------------------------------------------------------------------------
# RL, domain adaptation, attribution, attacks
# ----------------------------------------------------------------------------------------------
@program
def double_dueling_dqn_huber_target_network(L):
    """Double DQN with a dueling head: V + A - A.mean(1, keepdim=True), Q(s, a) by gather,
    next actions chosen by the online net and evaluated by the target net, terminal masks,
    smooth_l1_loss, clip_grad_value_, the target copied by load_state_dict(state_dict()) and
    then softly by torch._foreach_lerp_; epsilon-greedy with numpy draws."""
    nn, F = L.nn, L.nn.functional

    class Dueling(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU())
            self.v, self.a = nn.Linear(8, 1), nn.Linear(8, 3)

        def forward(self, s):
            h = self.body(s)
            a = self.a(h)
            return self.v(h) + a - a.mean(1, keepdim=True)

    online = load_seeded(L, Dueling().double(), 172)
    target = Dueling().double()
    target.load_state_dict(online.state_dict())
    opt = L.optim.Adam(online.parameters(), lr=1e-3)
    s, s2 = L.tensor(_arr(6, 4, seed=173)), L.tensor(_arr(6, 4, seed=174))
    a = L.tensor(_labels(6, 3, 175))
    r = L.tensor(_arr(6, seed=176))
    done = L.tensor([0, 0, 1, 0, 1, 0], dtype=L.bool)
    out = []
    for _ in range(3):
        q = online(s).gather(1, a.unsqueeze(1)).squeeze(1)
        with L.no_grad():
            a2 = online(s2).argmax(1, keepdim=True)
            q2 = target(s2).gather(1, a2).squeeze(1)
            y = r + 0.99 * q2 * (~done).double()
        loss = F.smooth_l1_loss(q, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(online.parameters(), 0.5)
        opt.step()
        with L.no_grad():
            L._foreach_lerp_(list(target.parameters()), list(online.parameters()), 0.1)
        out.append((loss.item(), a2.squeeze(1)))
    rand = np.random.RandomState(177).rand(6)
    with L.no_grad():
        greedy = online(s).argmax(1)
    act = L.where(L.tensor(rand < 0.3), L.tensor(_labels(6, 3, 178)), greedy)
    return dict(out=out, act=act, tw=list(target.parameters()), g=grads_of(online))


@program
def dann_gradient_reversal_custom_function(L):
    """Domain-adversarial training: a GradientReversal autograd.Function (forward view_as,
    backward -alpha * grad with None for alpha), the domain classifier behind it and the label
    classifier beside it, both losses summed; the feature extractor's gradients then hold the
    reversed domain gradient; ctx.needs_input_grad recorded."""
    nn, F = L.nn, L.nn.functional
    seen = []

    class GradReverse(L.autograd.Function):
        """Identity going forward (a fresh view, so the node is recorded); on the way back
        the gradient is flipped and scaled by ``strength``, which itself gets none."""
        @staticmethod
        def forward(ctx, feats, strength):
            ctx.strength = strength
            return feats.view_as(feats)

        @staticmethod
        def backward(ctx, upstream):
            seen.append(ctx.needs_input_grad)
            flipped = upstream.neg()
            return flipped * ctx.strength, None

    feat = load_seeded(L, nn.Sequential(nn.Linear(3, 5), nn.ReLU()).double(), 179)
    clf = load_seeded(L, nn.Linear(5, 2).double(), 180)
    dom = load_seeded(L, nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 1)).double(), 181)
    xs, xt = L.tensor(_arr(4, 3, seed=182)), L.tensor(_arr(4, 3, seed=183))
    ys = L.tensor([0, 1, 1, 0])
    fs, ft = feat(xs), feat(xt)
    cls = F.cross_entropy(clf(fs), ys)
    f_all = GradReverse.apply(L.cat([fs, ft]), 0.5)
    d = dom(f_all).squeeze(1)
    dl = F.binary_cross_entropy_with_logits(d, L.cat([L.zeros(4), L.ones(4)]).double())
    (cls + dl).backward()
    g_total = feat[0].weight.grad.clone()
    feat.zero_grad()
    cls2 = F.cross_entropy(clf(feat(xs)), ys)
    cls2.backward()
    return dict(cls=cls, dl=dl, seen=seen, g_total=g_total, g_cls=feat[0].weight.grad,
                gdom=grads_of(dom), fn=type(f_all.grad_fn).__name__)


@program
def grad_cam_hooks_and_integrated_gradients(L):
    """Attribution: Grad-CAM with a forward hook storing activations and a full backward hook
    storing gradients of the last conv block, channel weights by mean over space, relu of the
    weighted sum, bilinear upsampling and min-max normalisation; integrated gradients along
    a straight path with 8 alphas from linspace by autograd.grad on a batch, trapezoid over
    the path, and the completeness gap."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                       nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                       nn.Linear(4, 2)).double(), 184)
    store = {}
    h1 = net[3].register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    h2 = net[3].register_full_backward_hook(lambda m, gi, go: store.__setitem__("grad", go[0]))
    x = L.tensor(_arr(1, 1, 6, 6, seed=185), requires_grad=True)
    out = net(x)
    out[0, 1].backward()
    w = store["grad"].mean(dim=(2, 3), keepdim=True)
    cam = F.relu((w * store["act"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(12, 12), mode="bilinear", align_corners=False)
    cam = (cam - cam.min()) / (cam.max() - cam.min() + 1e-8)
    h1.remove()
    h2.remove()
    base = L.zeros_like(x)
    alphas = L.linspace(0, 1, 8, dtype=L.float64).view(-1, 1, 1, 1)
    path = (base + alphas * (x.detach() - base)).requires_grad_(True)
    g, = L.autograd.grad(net(path)[:, 1].sum(), path)
    ig = (x.detach() - base) * L.trapezoid(g, dx=1.0 / 7, dim=0)
    with L.no_grad():
        gap = ig.sum() - (net(x)[0, 1] - net(base)[0, 1])
    return dict(cam=cam, ig=ig, gap=gap, hooks=(len(net[3]._forward_hooks),
                                                len(net[3]._backward_hooks)), gx=x.grad)


@program
def pgd_adversarial_training_step(L):
    """PGD adversarial training: a random start from numpy uniforms, three ascent steps of
    alpha * grad.sign() by autograd.grad, projection to the eps ball by torch.min/torch.max
    with tensors and to [0, 1] by clamp, the model trained on the adversarial batch (train
    mode) after the attack ran in eval mode; FGSM on a BatchNorm model for comparison."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                                       nn.Flatten(), nn.Linear(3 * 4 * 4, 3)).double(), 186)
    net[1].running_var.abs_()
    x = L.tensor(np.random.RandomState(187).rand(3, 1, 6, 6))
    y = L.tensor([0, 2, 1])
    eps, alpha = 0.1, 0.04
    opt = L.optim.SGD(net.parameters(), lr=0.05)
    net.eval()
    adv = x + L.tensor(np.random.RandomState(188).uniform(-eps, eps, size=(3, 1, 6, 6)))
    adv = adv.clamp(0, 1)
    for _ in range(3):
        adv.requires_grad_(True)
        g, = L.autograd.grad(F.cross_entropy(net(adv), y), adv)
        adv = adv.detach() + alpha * g.sign()
        adv = L.min(L.max(adv, x - eps), x + eps).clamp(0.0, 1.0)
    net.train()
    loss = F.cross_entropy(net(adv), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    xf = x.clone().requires_grad_(True)
    F.cross_entropy(net(xf), y).backward()
    fgsm = (x + eps * xf.grad.sign()).clamp(0, 1)
    return dict(adv=adv, loss=loss, fgsm=fgsm, rm=net[1].running_mean,
                linf=(adv - x).abs().max())


# ----------------------------------------------------------------------------------------------
# recurrent training details
# ----------------------------------------------------------------------------------------------
@program
def truncated_bptt_with_detached_state_and_left_padding(L):
    """A language model trained by truncated BPTT: an LSTM's (h, c) carried across chunks and
    detached between them, a GRU with an explicit h0, pad_sequence with padding_side='left'
    and 'right', unpad_sequence and unpack_sequence getting the sequences back."""
    nn, F = L.nn, L.nn.functional
    R = nn.utils.rnn
    emb = load_seeded(L, nn.Embedding(7, 3).double(), 189)
    lstm = load_seeded(L, nn.LSTM(3, 4, batch_first=True).double(), 190)
    head = load_seeded(L, nn.Linear(4, 7).double(), 191)
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = L.optim.SGD(params, lr=0.5)
    data = L.tensor(_labels(2 * 13, 7, 192)).view(2, 13)
    state, losses = None, []
    for i in range(0, 12, 4):
        inp, tgt = data[:, i:i + 4], data[:, i + 1:i + 5]
        if state is not None:
            state = tuple(s.detach() for s in state)
        out, state = lstm(emb(inp), state)
        loss = F.cross_entropy(head(out).transpose(1, 2), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    gru = load_seeded(L, nn.GRU(3, 2, num_layers=2).double(), 193)
    h0 = L.tensor(_arr(2, 3, 2, seed=194))     # (layers, batch of 3 sequences, hidden)
    seqs = [L.tensor(_arr(n, 3, seed=195 + n)) for n in (3, 1, 2)]
    left = R.pad_sequence(seqs, batch_first=True, padding_side="left")
    right = R.pad_sequence(seqs, padding_value=-1.0)
    back = R.unpad_sequence(right, L.tensor([3, 1, 2]))
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    o, hn = gru(packed, h0)
    parts = R.unpack_sequence(o)
    return dict(losses=losses, state=state, left=left, right=right, back=back, parts=parts,
                hn=hn)


@program
def learnable_edge_weights_through_sparse_mm(L):
    """A graph layer with learnable edge weights: sparse_coo_tensor built from a values
    tensor that requires grad, torch.sparse.mm with a dense feature matrix, gradients to the
    edge weights and the features, torch.sparse.sum per row as the weighted degree, and
    the same propagation done densely by index_put_ with accumulate=True; the nodes that
    printing torch.mm / @ / torch.sparse.addmm results shows."""
    ei = L.tensor(_EDGES)
    w = L.tensor(np.abs(_arr(ei.size(1), seed=196)), requires_grad=True)
    x = L.tensor(_arr(7, 3, seed=197), requires_grad=True)
    A = L.sparse_coo_tensor(ei, w, (7, 7))
    y = L.sparse.mm(A, x)
    deg = L.sparse.sum(A, dim=1).to_dense()
    (y.pow(2).sum() + deg.sum()).backward()
    gw, gx = w.grad.clone(), x.grad.clone()
    w.grad, x.grad = None, None
    Ad = L.zeros(7, 7, dtype=L.float64).index_put_((ei[0], ei[1]), w, accumulate=True)
    y2 = Ad @ x
    (y2.pow(2).sum() + Ad.sum(1).sum()).backward()
    nodes = {k: type(v.grad_fn).__name__ for k, v in dict(
        sparse_mm=y, mm=L.mm(A, x), at=A @ x, addmm=L.sparse.addmm(x, A, x, beta=0.5)).items()}
    return dict(y=y, deg=deg, gw=gw, gx=gx, y2=y2, gw2=w.grad, gx2=x.grad, nodes=nodes,
                is_sparse=(A.is_sparse, A.layout == L.sparse_coo, y.is_sparse))


# ----------------------------------------------------------------------------------------------
# what printed results show
# ----------------------------------------------------------------------------------------------
@program
def printed_grad_fn_of_einsum_stft_and_writes(L):
    """Programs print intermediate results, whose repr ends with the node that made them:
    einsum (a contraction, an outer product, a permutation, a sum), tensordot and inner,
    stft of a batch and of one signal, istft (cut to a length, or padded with the warning),
    index_put and put out of place, repeat_interleave by an int and by counts, trapezoid and
    cumulative_trapezoid."""
    a = L.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    b = L.tensor(np.arange(12.0).reshape(3, 4) / 4, requires_grad=True)
    v = L.tensor([1.0, 2.0, 3.0], dtype=L.float64, requires_grad=True)
    wav = L.tensor(_arr(2, 48, seed=200), requires_grad=True)
    win = L.hann_window(16, dtype=L.float64)
    spec = L.stft(wav, 16, 4, window=win, return_complex=True)
    one = L.stft(wav[0], 16, 4, window=win, return_complex=True)
    idx = L.tensor([0, 1, 1])
    results = dict(
        mm=L.einsum("ij,jk->ik", a, b), outer=L.einsum("i,j->ij", v, v),
        perm=L.einsum("ij->ji", a), total=L.einsum("ij->", a), diag=L.einsum("ii->i", b[:, :3]),
        batched=L.einsum("bi,bj->bij", a, a), dot=L.einsum("i,i->", v, v),
        tensordot=L.tensordot(a, b, dims=1), inner=L.inner(v, v),
        spec=spec, one=one, back=L.istft(spec, 16, 4, window=win, length=40),
        one_back=L.istft(one, 16, 4, window=win),
        padded=L.istft(one, 16, 4, window=win, length=60),
        put_acc=L.zeros(2, 3, dtype=L.float64).index_put((idx[:2], idx[1:]), v[:2],
                                                         accumulate=True),
        put=L.zeros(2, 3, dtype=L.float64).index_put((idx[:2], idx[1:]), v[:2]),
        flat_put=L.zeros(2, 3, dtype=L.float64).put(idx, v),
        rep=v.repeat_interleave(2), rep_dim=a.repeat_interleave(2, dim=0),
        rep_counts=v.repeat_interleave(L.tensor([1, 0, 2])),
        trap=L.trapezoid(a), trap_dx=L.trapezoid(a, dx=0.5), trap_x=L.trapezoid(a, v),
        cumtrap=L.cumulative_trapezoid(a, dx=2.0), cumtrap_x=L.cumulative_trapezoid(a, v))
    names = {k: type(t.grad_fn).__name__ for k, t in results.items()}
    text = [repr(results[k]) for k in ("mm", "outer", "perm", "total", "tensordot", "put_acc",
                                       "rep", "trap", "cumtrap")]
    sum(t.abs().sum() for t in results.values()).backward()
    return dict(names=names, text=text, values=results, ga=a.grad, gb=b.grad, gv=v.grad,
                gw=wav.grad)


@program
def printed_grad_fn_of_attention_fft_and_distributions(L):
    """More nodes printed results end with: sdpa on 4-d heads (PyTorch's CPU flash kernel) and
    on 3-d inputs, a Categorical's log_prob and an Exponential's, a Normal's cdf, a Gamma's
    log_prob, fft/ifft of a real signal, rfft/irfft, fft2 and ihfft2, .real and .imag; the
    values and gradients too."""
    F, D = L.nn.functional, L.distributions
    q, k, v = (L.tensor(_arr(2, 2, 4, 3, seed=s), requires_grad=True) for s in (201, 202, 203))
    sig = L.tensor(_arr(2, 8, seed=204), requires_grad=True)
    logits = L.tensor(_arr(3, 4, seed=205), requires_grad=True)
    rate = L.tensor(np.abs(_arr(3, seed=206)) + 0.5, requires_grad=True)
    spec = L.fft.rfft(sig)
    results = dict(
        flash=F.scaled_dot_product_attention(q, k, v),
        flash_causal=F.scaled_dot_product_attention(q, k, v, is_causal=True),
        flash_mask=F.scaled_dot_product_attention(q, k, v, attn_mask=L.ones(4, 4).bool()),
        math3d=F.scaled_dot_product_attention(q[0], k[0], v[0]),
        cat_lp=D.Categorical(logits=logits).log_prob(L.tensor([0, 3, 1])),
        exp_lp=D.Exponential(rate).log_prob(L.tensor([0.5, 1.0, 2.0], dtype=L.float64)),
        exp_cdf=D.Exponential(rate).cdf(L.tensor([0.5, 1.0, 2.0], dtype=L.float64)),
        exp_ent=D.Exponential(rate).entropy(),
        normal_cdf=D.Normal(rate, rate).cdf(L.tensor([0.1, 1.0, -2.0], dtype=L.float64)),
        gamma_lp=D.Gamma(rate, rate + 1).log_prob(L.tensor([0.5, 1.0, 2.0], dtype=L.float64)),
        fft=L.fft.fft(sig), ifft=L.fft.ifft(sig), rfft=spec, irfft=L.fft.irfft(spec, n=8),
        fft2=L.fft.fft2(sig), ihfft2=L.fft.ihfft2(sig), real=spec.real, imag=spec.imag)
    names = {k: type(t.grad_fn).__name__ for k, t in results.items()}
    total = sum(t.abs().sum() if t.is_complex() else t.sum() for t in results.values())
    total.backward()
    return dict(names=names, values=results, gq=q.grad, gsig=sig.grad, glog=logits.grad,
                grate=rate.grad)


@program
def rot90_copies_and_printed_nodes_of_small_ops(L):
    """rot90 by a multiple of four turns gives a new contiguous tensor (writing into it leaves
    the input alone), and the nodes results print: rot90, logcumsumexp (a streaming
    log-likelihood), std_mean and var_mean (feature statistics), atleast_2d/3d, sinc
    (a windowed-sinc filter), kron, instance_norm (style transfer); values and gradients
    too."""
    x = L.tensor(_arr(3, 4, seed=207), requires_grad=True)
    same = L.rot90(x.detach().T, 4)
    same[0, 0] = 100.0
    s, m = L.std_mean(x, 1)
    vv, vm = L.var_mean(x)
    t = L.linspace(-2, 2, 9, dtype=L.float64)
    taps = L.sinc(0.5 * t) * L.hann_window(9, periodic=False, dtype=L.float64)
    results = dict(r0=L.rot90(x, 0), r1=L.rot90(x, 1), r2=L.rot90(x, -2, (1, 0)),
                   r3=L.rot90(x, 3), lcse=L.logcumsumexp(x, 1), std=s, mean=m, var=vv,
                   vmean=vm, a2=L.atleast_2d(x[0]), a2s=L.atleast_2d(x[0, 0]),
                   a3=L.atleast_3d(x), sinc=L.sinc(x), kron=L.kron(x[:2, :2], x[1:, 2:]),
                   inorm=L.nn.functional.instance_norm(x[None]))
    names = {k: type(v.grad_fn).__name__ for k, v in results.items()}
    sum((v * v).sum() for v in results.values()).backward()
    return dict(names=names, values=results, g=x.grad, x=x, same=same,
                contiguous=L.rot90(x.T, 0).is_contiguous(), taps=taps)


@program
def autocast_regions_in_a_cpu_training_loop(L):
    """Mixed precision as CPU training scripts write it: torch.autocast('cpu',
    dtype=bfloat16) around the forward (Linear and matmul outputs in bfloat16, softmax and
    layer_norm in float32), the loss cast back by .float(), backward outside the region,
    and a script written for GPUs run on a CPU-only machine: autocast(device_type='cuda')
    warns with PyTorch's words and leaves everything in float32."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.LayerNorm(6),
                                         nn.Linear(6, 3)), 208)
    x, y = L.tensor(_f32(5, 4, seed=209)), L.tensor(_labels(5, 3, 210))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    dtypes = []
    for _ in range(2):
        with L.autocast("cpu", dtype=L.bfloat16):
            h = model[0](x)
            logits = model[3](model[2](model[1](h)))
            attn = F.softmax(logits @ logits.T, dim=-1)
            loss = F.cross_entropy(logits.float(), y)
        dtypes.append((h.dtype, logits.dtype, attn.dtype, loss.dtype))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with L.autocast(device_type="cuda"):
            out = model(x)
    said = [(w.category.__name__, str(w.message)) for w in caught]
    return dict(dtypes=dtypes, loss=loss.double(), out_dtype=out.dtype, said=said,
                grad_dtype=model[0].weight.grad.dtype)


@program
def recurrent_outputs_printed_and_projection_warning(L):
    """What printing RNN outputs shows: an LSTM on (T, N, C) float32 input (PyTorch's oneDNN
    layer), with batch_first (a transpose), bidirectional (a cat), in float64; a GRU and an
    RNN with batch_first (transposed in place); a GRUCell batched and unbatched; and an LSTM
    with proj_size in float32, which PyTorch warns it runs without oneDNN; values and
    gradients too."""
    nn = L.nn
    x = L.tensor(_f32(4, 2, 3, seed=211), requires_grad=True)
    mods = dict(lstm=nn.LSTM(3, 4), lstm_bf=nn.LSTM(3, 4, batch_first=True),
                lstm_bi=nn.LSTM(3, 4, bidirectional=True), gru_bf=nn.GRU(3, 4, batch_first=True),
                rnn_bf=nn.RNN(3, 4, batch_first=True, num_layers=2),
                proj=nn.LSTM(3, 4, proj_size=2))
    for i, m in enumerate(mods.values()):
        load_seeded(L, m, 212 + i)
    outs = {k: m(x)[0] for k, m in mods.items()}
    lstm64 = load_seeded(L, nn.LSTM(3, 4).double(), 220)
    outs["lstm64"] = lstm64(x.double())[0]
    cell = load_seeded(L, nn.GRUCell(3, 4), 221)
    outs["cell"], outs["cell_unbatched"] = cell(x[0]), cell(x[0, 0])
    names = {k: type(v.grad_fn).__name__ for k, v in outs.items()}
    sum(v.double().pow(2).sum() for v in outs.values()).backward()
    return dict(names=names, outs=outs, gx=x.grad, g=grads_of(mods["lstm"]))


@program
def masked_writes_printed_nodes_and_gradients(L):
    """Index writes as programs do them on intermediate results: scores[mask] = -inf before a
    softmax, x[idx] = rows, x[:, cols] = 0, x[..., idx] = v, x[m] = 0-d tensor, a fill by
    x[:] = 0 and a copy by x[...] = row; beside writes through views (x[0, idx], x[1:][idx],
    x[::2]) that PyTorch records as CopySlices; the printed nodes, values and gradients."""
    base = L.tensor(_arr(4, 5, seed=230), requires_grad=True)
    row = L.tensor(_arr(5, seed=231), requires_grad=True)
    idx, cols = L.tensor([0, 2]), L.tensor([1, 3])
    mask = L.tensor(np.random.RandomState(232).rand(4, 5) > 0.6)
    writes = dict(
        mask=lambda x: x.__setitem__(mask, float("-inf")),
        rows=lambda x: x.__setitem__(idx, row),
        cols=lambda x: x.__setitem__((slice(None), cols), 0.0),
        ell=lambda x: x.__setitem__((Ellipsis, cols), row[:4, None].expand(4, 2)),
        mask_t=lambda x: x.__setitem__(mask, row[0]),
        fill=lambda x: x.__setitem__(slice(None), 0.5),
        copy=lambda x: x.__setitem__(Ellipsis, row),
        int_idx=lambda x: x.__setitem__((0, idx), 1.0),
        part=lambda x: x[1:].__setitem__(idx, 2.0),
        step=lambda x: x.__setitem__(slice(None, None, 2), row))
    names, values = {}, {}
    for k, write in writes.items():
        x = base * 1.0
        write(x)
        names[k], values[k] = type(x.grad_fn).__name__, x
    att = values["mask"].softmax(-1)
    (att.nan_to_num().sum() + sum((v * v).sum() for k, v in values.items()
                                  if k != "mask")).backward()
    return dict(names=names, values=values, att=att, gb=base.grad, gr=row.grad)


# ----------------------------------------------------------------------------------------------
# the heaviest programs run only with --runslow
_SLOW = {"ddpm_unet_training_and_ancestral_sampling"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)


@pytest.mark.slow
def test_torch_compile_as_a_wrapper():
    # torch's tracer gives DeprecationWarnings of its own (torch.jit internals) while it
    # compiles: those are not compared
    def kind(w):
        return None if issubclass(w.category, DeprecationWarning) else w.category.__name__

    SideBySide(rename=bare, rename_error=bare, tol=HARNESS.tol, scalar_tol=HARNESS.scalar_tol,
               requires_grad=True, warning=kind).check(torch_compile_as_a_wrapper)
