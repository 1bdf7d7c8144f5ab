"""Whole programs in the idioms of code people run, a seventh round: neural ODEs with a
hand-written RK4 solver, physics-informed networks with second derivatives by autograd,
RealNVP and MAF flows, an energy-based model with Langevin steps, denoising score matching,
SimCLR's NT-Xent, BYOL with an EMA target, DQN with a replay buffer, A2C, Gaussian-process
regression by Cholesky, Bayesian linear regression, matrix factorisation with sparse
embeddings, char-RNN sampling by temperature, seq2seq with Bahdanau attention and beam search,
pointer networks, U-Net, spatial transformers, MLP-Mixer, ConvNeXt, WGAN-GP, loss scaling by
hand, orthogonal parametrizations, torch.func, Cox and pinball losses, a Kalman filter,
Sinkhorn transport, top-k sparse attention, k-means and PCA; then MAML, TRPO, Hamiltonian
and equilibrium networks, PixelCNN, mixtures, a Fourier neural operator, spline flows,
Poincare embeddings, SIREN, word2vec with sparse optimizers, label propagation on a checked
sparse adjacency, and programs drawing from the seeded global generator (VonMises, default
init, dropout, multinomial).

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-9, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import copy
import math
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

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
# differential equations
# ----------------------------------------------------------------------------------------------
@program
def neural_ode_fixed_step_rk4_fit(L):
    """A neural ODE dz/dt = f(t, z) integrated by a hand-written RK4 loop over a time grid
    (torch.linspace), fitted to a spiral trajectory with an MSE over all time points."""
    nn = L.nn

    class ODEFunc(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 2))

        def forward(self, t, z):
            tt = t.expand(z.shape[0], 1)
            return self.net(L.cat([z, tt], dim=-1))

    def odeint_rk4(f, z0, ts):
        zs = [z0]
        z = z0
        for t0, t1 in zip(ts[:-1], ts[1:]):
            h = t1 - t0
            k1 = f(t0, z)
            k2 = f(t0 + h / 2, z + h * k1 / 2)
            k3 = f(t0 + h / 2, z + h * k2 / 2)
            k4 = f(t1, z + h * k3)
            z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            zs.append(z)
        return L.stack(zs)

    func = load_seeded(L, ODEFunc().double(), 1, 0.4)
    ts = L.linspace(0, 2, 9, dtype=L.float64)
    true_A = L.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=L.float64)
    z0 = L.tensor(_arr(4, 2, seed=2))
    with L.no_grad():
        target = odeint_rk4(lambda t, z: (z ** 3) @ true_A * 0.1, z0, ts)
    opt = L.optim.Adam(func.parameters(), lr=0.01)
    losses = train_steps(opt, lambda: ((odeint_rk4(func, z0, ts) - target) ** 2).mean())
    return dict(losses=losses, traj=odeint_rk4(func, z0, ts).detach(), g=grads_of(func))


@program
def pinn_poisson_second_derivatives_by_autograd(L):
    """A physics-informed net for u''(x) = -pi^2 sin(pi x) on [0, 1] with u(0) = u(1) = 0:
    u_x and u_xx by autograd.grad(create_graph=True), the PDE residual plus the boundary loss,
    trained by Adam; the parameters' gradients flow through the second derivative."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(nn.Linear(1, 12), nn.Tanh(), nn.Linear(12, 12),
                                         nn.Tanh(), nn.Linear(12, 1)).double(), 3, 0.5)
    x = L.linspace(0, 1, 11, dtype=L.float64).unsqueeze(1).requires_grad_(True)
    xb = L.tensor([[0.0], [1.0]], dtype=L.float64)

    def loss_of():
        u = model(x)
        u_x = L.autograd.grad(u, x, grad_outputs=L.ones_like(u), create_graph=True)[0]
        u_xx = L.autograd.grad(u_x, x, grad_outputs=L.ones_like(u_x), create_graph=True)[0]
        f = -(math.pi ** 2) * L.sin(math.pi * x)
        return L.mean((u_xx - f) ** 2) + L.mean(model(xb) ** 2)

    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, loss_of, 4)
    u = model(x)
    du = L.autograd.grad(u.sum(), x)[0]
    return dict(losses=losses, g=grads_of(model), du=du, u=u)


@program
def heat_equation_pinn_with_jacobian_and_hessian(L):
    """u(x, t) for u_t = 0.1 u_xx: the gradient with respect to the (x, t) input columns by
    one autograd.grad, the second x-derivative by a second; torch.autograd.functional's
    jacobian and hessian of a small scalar function as a cross-check."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(nn.Linear(2, 10), nn.Softplus(), nn.Linear(10, 1))
                        .double(), 4, 0.5)
    xt = L.tensor(np.random.RandomState(5).rand(7, 2)).requires_grad_()
    u = model(xt)
    g = L.autograd.grad(u, xt, L.ones_like(u), create_graph=True)[0]
    u_x, u_t = g[:, 0:1], g[:, 1:2]
    u_xx = L.autograd.grad(u_x, xt, L.ones_like(u_x), create_graph=True)[0][:, 0:1]
    loss = ((u_t - 0.1 * u_xx) ** 2).mean()
    loss.backward()

    def scalar(v):
        return model(v.unsqueeze(0)).squeeze()

    jac = L.autograd.functional.jacobian(scalar, xt[0].detach())
    hes = L.autograd.functional.hessian(scalar, xt[0].detach())
    return dict(loss=loss, g=grads_of(model), xg=xt.grad, jac=jac, hes=hes)


# ----------------------------------------------------------------------------------------------
# normalizing flows, energy models, score matching
# ----------------------------------------------------------------------------------------------
@program
def realnvp_affine_coupling_flow(L):
    """RealNVP on 2-d data: alternating binary masks kept as buffers, scale nets with tanh,
    log-determinants summed over layers, a standard-normal prior's log_prob, maximum
    likelihood by Adam, and the inverse pass reconstructing the data."""
    nn = L.nn

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(), nn.Linear(8, 2), nn.Tanh())
            self.t = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(), nn.Linear(8, 2))

        def _shift_and_log_scale(self, kept):
            # both nets read only the kept coordinates; their outputs act on the others
            free = 1 - self.mask
            return self.t(kept) * free, self.s(kept) * free

        def forward(self, x):
            kept = x * self.mask
            shift, log_scale = self._shift_and_log_scale(kept)
            moved = (1 - self.mask) * (x * L.exp(log_scale) + shift)
            return kept + moved, log_scale.sum(dim=1)

        def inverse(self, y):
            kept = y * self.mask
            shift, log_scale = self._shift_and_log_scale(kept)
            return kept + (1 - self.mask) * ((y - shift) * L.exp(-log_scale))

    class RealNVP(nn.Module):
        def __init__(self):
            super().__init__()
            masks = [L.tensor([1.0, 0.0]), L.tensor([0.0, 1.0])] * 2
            self.layers = nn.ModuleList([Coupling(m.double()) for m in masks])
            self.prior = L.distributions.Normal(L.tensor(0.0, dtype=L.float64),
                                                L.tensor(1.0, dtype=L.float64))

        def log_prob(self, x):
            ld = L.zeros(x.shape[0], dtype=x.dtype)
            for layer in self.layers:
                x, d = layer(x)
                ld = ld + d
            return self.prior.log_prob(x).sum(1) + ld, x

        def inverse(self, z):
            for layer in reversed(self.layers):
                z = layer.inverse(z)
            return z

    flow = load_seeded(L, RealNVP().double(), 6, 0.3)
    for layer, m in zip(flow.layers, ([1.0, 0.0], [0.0, 1.0]) * 2):
        layer.mask.copy_(L.tensor(m))
    rng = np.random.RandomState(7)
    theta = rng.rand(32) * 2 * np.pi
    data = L.tensor(np.stack([np.cos(theta), np.sin(theta)], 1) + 0.1 * rng.randn(32, 2))
    opt = L.optim.Adam(flow.parameters(), lr=3e-3)
    losses = train_steps(opt, lambda: -flow.log_prob(data)[0].mean(), 4)
    lp, z = flow.log_prob(data)
    back = flow.inverse(z)
    return dict(losses=losses, lp=lp, z=z, err=float((back - data).abs().max()) < 1e-10,
                g=grads_of(flow), bufs=sorted(n for n, _ in flow.named_buffers()))


@program
def maf_made_masks_and_sequential_inverse(L):
    """A masked autoregressive flow: MADE masks from degrees (register_buffer, mask * weight
    in F.linear), mu and log-scale outputs, density by one pass, sampling by D sequential
    passes from fixed standard-normal draws, and a permutation between layers by flip."""
    nn, F = L.nn, L.nn.functional
    D = 3

    class MaskedLinear(nn.Linear):
        def __init__(self, fin, fout, mask):
            super().__init__(fin, fout)
            self.register_buffer("mask", mask)

        def forward(self, x):
            return F.linear(x, self.mask * self.weight, self.bias)

    def made_masks(D, H):
        din = np.arange(1, D + 1)
        dh = np.arange(H) % (D - 1) + 1
        m1 = (dh[:, None] >= din[None, :]).astype(np.float64)
        m2 = (din[:, None] > dh[None, :]).astype(np.float64)
        return L.tensor(m1), L.tensor(np.concatenate([m2, m2]))

    class MADE(nn.Module):
        def __init__(self, H=6):
            super().__init__()
            m1, m2 = made_masks(D, H)
            self.l1 = MaskedLinear(D, H, m1)
            self.l2 = MaskedLinear(H, 2 * D, m2)

        def forward(self, x):
            mu, alpha = self.l2(F.relu(self.l1(x))).chunk(2, dim=-1)
            return mu, L.clamp(alpha, -5, 5)

    layers = nn.ModuleList([MADE(), MADE()]).double()
    load_seeded(L, layers, 8, 0.4)
    for made in layers:
        m1, m2 = made_masks(D, 6)
        made.l1.mask.copy_(m1)
        made.l2.mask.copy_(m2)
    x = L.tensor(_arr(16, D, seed=9) @ np.array([[1.0, 0.5, 0.0], [0, 1, 0.3], [0, 0, 1]]))

    def log_prob(x):
        ld = 0
        for made in layers:
            mu, alpha = made(x)
            x = ((x - mu) * L.exp(-alpha)).flip(-1)
            ld = ld - alpha.sum(-1)
        return (-0.5 * x ** 2 - 0.5 * math.log(2 * math.pi)).sum(-1) + ld

    def sample(z):
        for made in reversed(layers):
            z = z.flip(-1)
            x = L.zeros_like(z)
            for i in range(D):
                mu, alpha = made(x)
                x[:, i] = mu[:, i] + z[:, i] * L.exp(alpha[:, i])
            z = x
        return z

    opt = L.optim.Adam(layers.parameters(), lr=5e-3)
    losses = train_steps(opt, lambda: -log_prob(x).mean(), 3)
    with L.no_grad():
        s = sample(L.tensor(_arr(5, D, seed=10)))
        lp = log_prob(s)
    return dict(losses=losses, s=s, lp=lp, g=grads_of(layers))


@program
def energy_model_langevin_sampling_contrastive(L):
    """An energy-based model trained by contrastive divergence: negatives by Langevin steps
    x <- x - step/2 * dE/dx + noise, the input gradient by autograd.grad on a detached
    copy that requires grad, clamped to the data box, an L2 energy regulariser."""
    nn = L.nn
    energy = load_seeded(L, nn.Sequential(nn.Linear(2, 16), nn.SiLU(), nn.Linear(16, 16),
                                          nn.SiLU(), nn.Linear(16, 1)).double(), 11, 0.4)
    data = L.tensor(_arr(24, 2, seed=12) * 0.3 + 1.0)
    x0 = L.tensor(np.random.RandomState(13).uniform(-2, 2, (24, 2)))
    noises = [L.tensor(_arr(24, 2, seed=20 + k) * 0.05) for k in range(5)]
    opt = L.optim.Adam(energy.parameters(), lr=1e-3, betas=(0.0, 0.999))

    def langevin(x):
        x = x.clone().detach()
        for nz in noises:
            x.requires_grad_(True)
            e = energy(x).sum()
            gx, = L.autograd.grad(e, [x])
            x = (x - 5e-2 * gx + nz).detach().clamp_(-3, 3)
        return x

    losses = []
    neg = x0
    for _ in range(3):
        neg = langevin(neg)
        opt.zero_grad()
        ep, en = energy(data), energy(neg)
        loss = ep.mean() - en.mean() + 0.1 * (ep ** 2 + en ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(energy.parameters(), 0.1)
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, neg=neg, g=grads_of(energy))


@program
def denoising_score_matching_multi_sigma(L):
    """Denoising score matching over a geometric ladder of noise levels (NCSN): the net gets
    the noise level as an embedded index, targets -noise/sigma, the loss weighted by
    sigma^2; annealed Langevin steps with fixed noises afterwards."""
    nn = L.nn

    class Score(nn.Module):
        def __init__(self, n_sig):
            super().__init__()
            self.emb = nn.Embedding(n_sig, 8)
            self.fc1 = nn.Linear(2, 8)
            self.fc2 = nn.Linear(8, 2)

        def forward(self, x, idx):
            h = F.softplus(self.fc1(x) * self.emb(idx))
            return self.fc2(h)

    F = L.nn.functional
    sigmas = L.exp(L.linspace(math.log(1.0), math.log(0.05), 4, dtype=L.float64))
    net = load_seeded(L, Score(4).double(), 14, 0.5)
    x = L.tensor(_arr(20, 2, seed=15))
    idx = L.tensor(_labels(20, 4, 16))
    eps = L.tensor(_arr(20, 2, seed=17))

    def loss_of():
        sig = sigmas[idx].view(-1, 1)
        noisy = x + sig * eps
        target = -eps / sig
        s = net(noisy, idx)
        return (0.5 * ((s - target) ** 2).sum(dim=-1) * sig.squeeze(-1) ** 2).mean()

    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = train_steps(opt, loss_of)
    with L.no_grad():
        xs = L.tensor(_arr(6, 2, seed=18))
        for i, s in enumerate(sigmas):
            step = 1e-2 * (s / sigmas[-1]) ** 2
            for k in range(2):
                z = L.tensor(_arr(6, 2, seed=30 + 2 * i + k))
                xs = xs + step / 2 * net(xs, L.full((6,), i, dtype=L.long)) + L.sqrt(step) * z
    return dict(losses=losses, xs=xs, g=grads_of(net))


# ----------------------------------------------------------------------------------------------
# self-supervised learning
# ----------------------------------------------------------------------------------------------
def _augment(x, seed):
    """A numpy 'augmentation': random crop-free jitter, flips and noise of a (N, C, H, W)."""
    rng = np.random.RandomState(seed)
    out = x * rng.uniform(0.8, 1.2, (x.shape[0], 1, 1, 1)) + 0.05 * rng.randn(*x.shape)
    flip = rng.rand(x.shape[0]) < 0.5
    out[flip] = out[flip][..., ::-1]
    return out


@program
def simclr_nt_xent_projection_head(L):
    """SimCLR: an encoder and a projection MLP, two augmented views, F.normalize, the 2N x 2N
    cosine similarity matrix with the diagonal masked by masked_fill(-inf)/fill_diagonal_,
    positives at (i + N) mod 2N, cross entropy at temperature 0.5, LARS-free SGD."""
    nn, F = L.nn, L.nn.functional

    class SimCLR(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6),
                                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.proj = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 4))

        def forward(self, x):
            return self.proj(self.encoder(x))

    model = load_seeded(L, SimCLR().double(), 19, 0.4)
    imgs = _arr(6, 3, 5, 5, seed=20)
    v1, v2 = L.tensor(_augment(imgs, 21)), L.tensor(_augment(imgs, 22))

    def nt_xent(z1, z2, tau=0.5):
        n = z1.shape[0]
        z = F.normalize(L.cat([z1, z2], dim=0), dim=1)
        sim = z @ z.T / tau
        mask = L.eye(2 * n, dtype=L.bool)
        sim = sim.masked_fill(mask, float("-inf"))
        targets = L.cat([L.arange(n, 2 * n), L.arange(0, n)])
        return F.cross_entropy(sim, targets)

    def nt_xent_logits(z1, z2, tau=0.5):
        z1, z2 = F.normalize(z1, dim=-1), F.normalize(z2, dim=-1)
        reps = L.cat([z1, z2])
        sim = F.cosine_similarity(reps.unsqueeze(1), reps.unsqueeze(0), dim=2)
        sim.fill_diagonal_(-9e15)
        n = z1.shape[0]
        pos = L.cat([L.diag(sim, n), L.diag(sim, -n)])
        return -(pos / tau - L.logsumexp(sim / tau, dim=1)).mean()

    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    losses = train_steps(opt, lambda: nt_xent(model(v1), model(v2)))
    with L.no_grad():
        other = nt_xent_logits(model(v1), model(v2))
    return dict(losses=losses, other=other, g=grads_of(model),
                rv=model.encoder[1].running_var)


@program
def byol_ema_target_network_and_predictor(L):
    """BYOL: an online network with a predictor, a target network made by copy.deepcopy with
    requires_grad_(False), the symmetric normalised-MSE loss 2 - 2 cos, and the EMA update
    of the target by a no_grad loop of mul_/add_ (and lerp_ as a second form)."""
    nn, F = L.nn, L.nn.functional

    def mlp(i, h, o):
        return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))

    online = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), mlp(8, 8, 4)).double()
    # (no BatchNorm first in the predictor: it would cancel the projector's last bias, whose
    # gradient would then be rounding noise that Adam scales up)
    predictor = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    load_seeded(L, online, 23, 0.4)
    load_seeded(L, predictor, 24, 0.4)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    x = _arr(8, 5, seed=25)
    v1 = L.tensor(x + 0.1 * _arr(8, 5, seed=26))
    v2 = L.tensor(x * 0.9 + 0.1 * _arr(8, 5, seed=27))

    def regression(p, z):
        p, z = F.normalize(p, dim=-1, p=2), F.normalize(z, dim=-1, p=2)
        return 2 - 2 * (p * z).sum(dim=-1)

    opt = L.optim.AdamW(list(online.parameters()) + list(predictor.parameters()), lr=1e-2)
    losses, tau = [], 0.9
    for step in range(3):
        p1, p2 = predictor(online(v1)), predictor(online(v2))
        with L.no_grad():
            t1, t2 = target(v1), target(v2)
        loss = (regression(p1, t2.detach()) + regression(p2, t1.detach())).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        with L.no_grad():
            for po, pt in zip(online.parameters(), target.parameters()):
                if step % 2 == 0:
                    pt.data.mul_(tau).add_(po.data, alpha=1 - tau)
                else:
                    pt.lerp_(po, 1 - tau)
    return dict(losses=losses, target=params_of(target), g=grads_of(predictor),
                rg=[p.requires_grad for p in target.parameters()])


# ----------------------------------------------------------------------------------------------
# reinforcement learning
# ----------------------------------------------------------------------------------------------
@program
def dqn_replay_buffer_target_sync_and_epsilon_greedy(L):
    """DQN: a deque replay buffer of numpy transitions sampled by a seeded generator, Q(s, a)
    by gather, targets r + gamma * max_a' Q_target(s', a') * (1 - done) under no_grad,
    smooth L1, clip_grad_value_, a target sync by load_state_dict every other step, and
    epsilon-greedy actions from argmax."""
    import collections
    nn, F = L.nn, L.nn.functional
    q = load_seeded(L, nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).double(),
                    28, 0.4)
    q_target = load_seeded(L, nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
                           .double(), 29, 0.4)
    q_target.load_state_dict(q.state_dict())
    q_target.eval()
    rng = np.random.RandomState(30)
    buffer = collections.deque(maxlen=50)
    for _ in range(60):
        buffer.append((rng.randn(4), rng.randint(3), rng.randn(), rng.randn(4), rng.rand() < 0.2))
    opt = L.optim.RMSprop(q.parameters(), lr=1e-3, alpha=0.95, eps=0.01)
    losses, actions = [], []
    for step in range(4):
        batch = [buffer[i] for i in rng.choice(len(buffer), 8, replace=False)]
        s, a, r, s2, d = map(np.array, zip(*batch))
        s, s2 = L.tensor(s), L.tensor(s2)
        a = L.tensor(a).long().unsqueeze(1)
        r, d = L.tensor(r), L.tensor(d.astype(np.float64))
        q_sa = q(s).gather(1, a).squeeze(1)
        with L.no_grad():
            best = q(s2).argmax(dim=1, keepdim=True)          # double DQN
            q_next = q_target(s2).gather(1, best).squeeze(1)
            q_max = q_target(s2).max(1)[0]
            y = r + 0.99 * q_next * (1 - d)
        loss = F.smooth_l1_loss(q_sa, y)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(q.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % 2 == 1:
            q_target.load_state_dict(q.state_dict())
        eps = max(0.05, 1.0 - step * 0.3)
        if rng.rand() > eps:
            actions.append(q(L.tensor(rng.randn(1, 4))).argmax().item())
        else:
            actions.append(int(rng.randint(3)))
    return dict(losses=losses, actions=actions, qm=q_max, g=grads_of(q))


@program
def a2c_shared_trunk_gae_entropy(L):
    """Advantage actor-critic on a batch of rollouts: a shared trunk with policy and value
    heads, Categorical(logits=...) log_prob/entropy of recorded actions, discounted returns
    by a reversed loop, GAE, advantage normalisation, value loss by MSE, grad norm clipping."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class ActorCritic(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(4, 16), nn.Tanh())
            self.pi = nn.Linear(16, 3)
            self.v = nn.Linear(16, 1)

        def forward(self, s):
            h = self.trunk(s)
            return D.Categorical(logits=self.pi(h)), self.v(h).squeeze(-1)

    ac = load_seeded(L, ActorCritic().double(), 31, 0.4)
    T, N = 6, 4
    s = L.tensor(_arr(T, N, 4, seed=32))
    acts = L.tensor(_labels(T * N, 3, 33).reshape(T, N))
    rew = L.tensor(_arr(T, N, seed=34))
    done = L.tensor((np.random.RandomState(35).rand(T, N) < 0.2).astype(np.float64))
    gamma, lam = 0.99, 0.95
    opt = L.optim.Adam(ac.parameters(), lr=7e-4, eps=1e-5)

    def loss_of():
        dist, v = ac(s)
        with L.no_grad():
            last_v = ac(s[-1])[1]
            adv = L.zeros_like(rew)
            gae = L.zeros(N, dtype=rew.dtype)
            for t in reversed(range(T)):
                nv = last_v if t == T - 1 else v[t + 1]
                delta = rew[t] + gamma * nv * (1 - done[t]) - v[t]
                gae = delta + gamma * lam * (1 - done[t]) * gae
                adv[t] = gae
            ret = adv + v
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp = dist.log_prob(acts)
        return -(logp * adv).mean() + 0.5 * F.mse_loss(v, ret) - 0.01 * dist.entropy().mean()

    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(ac.parameters(), 0.5)
        opt.step()
        losses.append((loss.item(), norm))
    dist, v = ac(s[0])
    return dict(losses=losses, probs=dist.probs, v=v, g=grads_of(ac))


@program
def reinforce_returns_by_discount_matrix_and_softmax_policy(L):
    """REINFORCE with returns computed by a discount matrix (torch.triu of powers) instead of
    a loop, a softmax policy whose chosen probabilities come from gather, -log pi * G with
    the returns standardised, and a greedy and a temperature-sampled (inverse CDF with fixed
    uniforms via cumsum and searchsorted) action choice."""
    nn, F = L.nn, L.nn.functional
    policy = load_seeded(L, nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 4),
                                          nn.Softmax(dim=-1)).double(), 36, 0.5)
    T = 7
    states = L.tensor(_arr(T, 3, seed=37))
    actions = L.tensor(_labels(T, 4, 38))
    rewards = L.tensor(np.random.RandomState(39).rand(T))
    gamma = 0.9
    i = L.arange(T, dtype=L.float64)
    disc = L.triu(gamma ** (i[None, :] - i[:, None]).clamp(min=0))
    returns = disc @ rewards
    returns = (returns - returns.mean()) / (returns.std() + 1e-9)
    opt = L.optim.Adam(policy.parameters(), lr=1e-2)

    def loss_of():
        probs = policy(states)
        chosen = probs.gather(1, actions.view(-1, 1)).squeeze(1)
        return -(L.log(chosen) * returns).sum()

    losses = train_steps(opt, loss_of)
    with L.no_grad():
        logits = L.log(policy(states))
        cdf = L.cumsum(F.softmax(logits / 0.7, dim=-1), dim=-1)
        u = L.tensor(np.random.RandomState(40).rand(T, 1))
        sampled = L.searchsorted(cdf, u).squeeze(1).clamp(max=3)
    return dict(losses=losses, returns=returns, greedy=logits.argmax(-1), sampled=sampled,
                g=grads_of(policy))


# ----------------------------------------------------------------------------------------------
# probabilistic models
# ----------------------------------------------------------------------------------------------
@program
def gaussian_process_marginal_likelihood_by_cholesky(L):
    """Exact GP regression: an RBF kernel with log lengthscale/variance/noise parameters (by
    torch.cdist and exp), Cholesky of K + s^2 I, alpha by cholesky_solve, the negative log
    marginal likelihood with the log-determinant from the factor's diagonal, Adam on the
    hyperparameters, the predictive mean and variance by triangular solves."""
    rng = np.random.RandomState(41)
    xtr = L.tensor(np.sort(rng.rand(12) * 6)).unsqueeze(1)
    ytr = L.sin(xtr).squeeze(1) + 0.1 * L.tensor(rng.randn(12))
    xte = L.linspace(0, 6, 5, dtype=L.float64).unsqueeze(1)
    log_ls = L.nn.Parameter(L.tensor(0.0, dtype=L.float64))
    log_var = L.nn.Parameter(L.tensor(0.0, dtype=L.float64))
    log_noise = L.nn.Parameter(L.tensor(-2.0, dtype=L.float64))

    def kernel(a, b):
        d2 = L.cdist(a, b) ** 2
        return log_var.exp() * L.exp(-0.5 * d2 / log_ls.exp() ** 2)

    def nll():
        n = xtr.shape[0]
        K = kernel(xtr, xtr) + (log_noise.exp() ** 2 + 1e-6) * L.eye(n, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        alpha = L.cholesky_solve(ytr.unsqueeze(1), Lc)
        return (0.5 * ytr @ alpha.squeeze(1) + L.log(L.diagonal(Lc)).sum()
                + 0.5 * n * math.log(2 * math.pi))

    opt = L.optim.Adam([log_ls, log_var, log_noise], lr=0.05)
    losses = train_steps(opt, nll, 5)
    with L.no_grad():
        K = kernel(xtr, xtr) + log_noise.exp() ** 2 * L.eye(12, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        Ks = kernel(xtr, xte)
        alpha = L.cholesky_solve(ytr.unsqueeze(1), Lc)
        mean = (Ks.T @ alpha).squeeze(1)
        v = L.linalg.solve_triangular(Lc, Ks, upper=False)
        var = kernel(xte, xte).diagonal() - (v ** 2).sum(0)
        logdet = L.logdet(K)
        sign, lad = L.linalg.slogdet(K)
    return dict(losses=losses, mean=mean, var=var, hyper=[log_ls, log_var, log_noise],
                logdet=logdet, sl=(sign, lad), g=log_ls.grad)


@program
def bayesian_linear_regression_multivariate_normal(L):
    """Conjugate Bayesian linear regression: the posterior precision and mean by
    torch.linalg.inv/solve, MultivariateNormal with covariance_matrix and with scale_tril,
    log_prob of points, entropy, KL to the prior, the posterior predictive; and a
    variational version whose loc and scale_tril (tril of an unconstrained matrix with a
    softplus diagonal) are fitted by rsample with fixed normal draws."""
    D = L.distributions
    rng = np.random.RandomState(42)
    X = L.tensor(np.c_[np.ones(15), rng.randn(15, 2)])
    w_true = L.tensor([0.5, -1.0, 2.0], dtype=L.float64)
    y = X @ w_true + 0.3 * L.tensor(rng.randn(15))
    alpha, beta = 1.0, 1 / 0.09
    prior = D.MultivariateNormal(L.zeros(3, dtype=L.float64),
                                 covariance_matrix=L.eye(3, dtype=L.float64) / alpha)
    S_inv = alpha * L.eye(3, dtype=L.float64) + beta * X.T @ X
    S = L.linalg.inv(S_inv)
    m = beta * L.linalg.solve(S_inv, X.T @ y)
    post = D.MultivariateNormal(m, covariance_matrix=S)
    post2 = D.MultivariateNormal(m, scale_tril=L.linalg.cholesky(S))
    pts = L.tensor(_arr(4, 3, seed=43))
    xq = L.tensor([[1.0, 0.2, -0.3], [1.0, -1.0, 1.0]], dtype=L.float64)
    pred_mean = xq @ m
    pred_var = 1 / beta + (xq @ S * xq).sum(-1)

    loc = L.nn.Parameter(L.zeros(3, dtype=L.float64))
    raw = L.nn.Parameter(L.tensor(_arr(3, 3, seed=44) * 0.1))
    eps = L.tensor(_arr(8, 3, seed=45))
    F = L.nn.functional

    def neg_elbo():
        tril = L.tril(raw, -1) + L.diag_embed(F.softplus(L.diagonal(raw)) + 1e-4)
        q = D.MultivariateNormal(loc, scale_tril=tril)
        w = loc + eps @ tril.T                       # rsample with fixed draws
        ll = D.Normal(w @ X.T, 0.3).log_prob(y).sum(-1).mean()
        return D.kl_divergence(q, prior) - ll

    opt = L.optim.Adam([loc, raw], lr=0.05)
    losses = train_steps(opt, neg_elbo, 4)
    return dict(m=m, S=S, lp=post.log_prob(pts), lp2=post2.log_prob(pts), ent=post.entropy(),
                kl=D.kl_divergence(post, prior), pm=pred_mean, pv=pred_var, losses=losses,
                prec=post.precision_matrix, g=raw.grad, var=post2.variance)


@program
def matrix_factorisation_sparse_embeddings(L):
    """A recommender: user and item nn.Embedding(sparse=True) plus bias embeddings, a
    global mean, predictions by elementwise product and sum; SparseAdam on the embeddings
    (their grads are sparse COO tensors) and Adam on the dense rest; coalesced sparse grads
    compared as dense; top-k recommendations excluding seen items by masked_fill."""
    nn = L.nn

    class MF(nn.Module):
        def __init__(self, nu=6, ni=7, k=3):
            super().__init__()
            self.u = nn.Embedding(nu, k, sparse=True)
            self.i = nn.Embedding(ni, k, sparse=True)
            self.ub = nn.Embedding(nu, 1, sparse=True)
            self.ib = nn.Embedding(ni, 1, sparse=True)
            self.mu = nn.Parameter(L.tensor(3.0))

        def forward(self, u, i):
            dot = (self.u(u) * self.i(i)).sum(1)
            return dot + self.ub(u).squeeze(1) + self.ib(i).squeeze(1) + self.mu

    model = load_seeded(L, MF().double(), 46, 0.2)
    rng = np.random.RandomState(47)
    users = L.tensor(rng.randint(0, 6, 20))
    items = L.tensor(rng.randint(0, 7, 20))
    ratings = L.tensor(rng.randint(1, 6, 20).astype(np.float64))
    sparse = [p for n, p in model.named_parameters() if n != "mu"]
    opt_s = L.optim.SparseAdam(sparse, lr=0.05)
    opt_d = L.optim.Adam([model.mu], lr=0.05)
    losses, kinds = [], []
    for _ in range(3):
        opt_s.zero_grad()
        opt_d.zero_grad()
        loss = L.nn.functional.mse_loss(model(users, items), ratings)
        loss.backward()
        kinds.append([p.grad.is_sparse for p in sparse])
        g = model.u.weight.grad.coalesce()
        opt_s.step()
        opt_d.step()
        losses.append(loss.item())
    with L.no_grad():
        scores = model.u.weight @ model.i.weight.T + model.ib.weight.T
        seen = L.zeros(6, 7, dtype=L.bool)
        seen[users, items] = True
        top = scores.masked_fill(seen, float("-inf")).topk(2, dim=1)
    return dict(losses=losses, kinds=kinds, g=g.to_dense(), gi=g.indices(), top=top.indices,
                w=params_of(model))


@program
def char_rnn_training_and_temperature_sampling(L):
    """A character-level nn.RNN language model: one-hot-free embedding, tanh RNN with two
    layers, teacher-forced cross entropy over the flattened sequence, clip_grad_norm_,
    then generation with a carried hidden state, logits / temperature, and sampling by the
    inverse CDF of fixed uniforms (torch.multinomial's role) alongside greedy argmax."""
    nn, F = L.nn, L.nn.functional
    text = "hello world, hello there"
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    V = len(chars)

    class CharRNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, 6)
            self.rnn = nn.RNN(6, 10, num_layers=2, batch_first=True)
            self.fc = nn.Linear(10, V)

        def forward(self, x, h=None):
            out, h = self.rnn(self.emb(x), h)
            return self.fc(out), h

    model = load_seeded(L, CharRNN().double(), 48, 0.3)
    ids = L.tensor([stoi[c] for c in text])
    seqs = ids.unfold(0, 9, 5)
    x, y = seqs[:, :-1], seqs[:, 1:]
    opt = L.optim.Adam(model.parameters(), lr=5e-3)

    def loss_of():
        logits, _ = model(x)
        return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))

    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = loss_of()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    u = np.random.RandomState(49).rand(8)
    out, greedy = [stoi["h"]], [stoi["h"]]
    h = hg = None
    model.eval()
    with L.no_grad():
        for k in range(8):
            logits, h = model(L.tensor([[out[-1]]]), h)
            p = F.softmax(logits[0, -1] / 0.8, dim=-1)
            out.append(min(int((p.cumsum(0) < u[k]).sum()), V - 1))
            lg, hg = model(L.tensor([[greedy[-1]]]), hg)
            greedy.append(int(lg[0, -1].argmax()))
    return dict(losses=losses, text="".join(chars[i] for i in out),
                greedy="".join(chars[i] for i in greedy), h=h, g=grads_of(model))


@program
def seq2seq_bahdanau_attention_and_beam_search(L):
    """An encoder GRU (bidirectional, outputs summed) and a GRUCell decoder with additive
    Bahdanau attention v^T tanh(W h + U s), padded source positions masked by masked_fill
    before softmax, teacher forcing, and a beam search of width 3 ranking by summed
    log-probabilities with topk over the flattened beam x vocab scores."""
    nn, F = L.nn, L.nn.functional
    V, H = 7, 6

    class Attn(nn.Module):
        def __init__(self):
            super().__init__()
            self.W = nn.Linear(H, H, bias=False)
            self.U = nn.Linear(H, H)
            self.v = nn.Linear(H, 1, bias=False)

        def forward(self, s, enc, mask):
            e = self.v(L.tanh(self.W(enc) + self.U(s).unsqueeze(1))).squeeze(-1)
            a = F.softmax(e.masked_fill(~mask, -1e10), dim=1)
            return L.bmm(a.unsqueeze(1), enc).squeeze(1), a

    class Seq2Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb = nn.Embedding(V, 5, padding_idx=0)
            self.tgt_emb = nn.Embedding(V, 5)
            self.enc = nn.GRU(5, H, batch_first=True, bidirectional=True)
            self.attn = Attn()
            self.cell = nn.GRUCell(5 + H, H)
            self.out = nn.Linear(2 * H, V)

        def encode(self, src):
            out, h = self.enc(self.src_emb(src))
            return out[..., :H] + out[..., H:], L.tanh(h[0] + h[1])

        def step(self, tok, s, enc, mask):
            ctx, a = self.attn(s, enc, mask)
            s = self.cell(L.cat([self.tgt_emb(tok), ctx], -1), s)
            return F.log_softmax(self.out(L.cat([s, ctx], -1)), -1), s, a

    model = load_seeded(L, Seq2Seq().double(), 50, 0.3)
    src = L.tensor([[3, 4, 5, 2, 0], [6, 2, 3, 0, 0]])
    tgt = L.tensor([[1, 5, 4, 3, 2], [1, 3, 2, 6, 2]])
    mask = src != 0
    opt = L.optim.Adam(model.parameters(), lr=1e-2)

    def loss_of():
        enc, s = model.encode(src)
        total = 0
        for t in range(tgt.shape[1] - 1):
            logp, s, _ = model.step(tgt[:, t], s, enc, mask)
            total = total + F.nll_loss(logp, tgt[:, t + 1])
        return total / (tgt.shape[1] - 1)

    losses = train_steps(opt, loss_of)
    with L.no_grad():
        enc, s = model.encode(src[:1])
        K = 3
        beams = L.tensor([[1]])
        scores = L.zeros(1, dtype=L.float64)
        s = s.expand(1, H)
        for _ in range(4):
            k = beams.shape[0]
            logp, s_new, a = model.step(beams[:, -1], s, enc.expand(k, -1, -1),
                                        mask[:1].expand(k, -1))
            cand = (scores.unsqueeze(1) + logp).view(-1)
            scores, flat = cand.topk(min(K, cand.numel()))
            prev = L.div(flat, V, rounding_mode="floor")
            beams = L.cat([beams[prev], (flat % V).unsqueeze(1)], dim=1)
            s = s_new[prev]
    return dict(losses=losses, beams=beams, scores=scores, attn=a, g=grads_of(model))


@program
def pointer_network_masked_greedy_decoding(L):
    """A pointer network that orders numbers: LSTM encoder, LSTMCell decoder whose attention
    logits over the inputs are the output distribution, already-chosen positions masked by
    masked_fill(-inf) on a bool mask updated by scatter, cross entropy with teacher forcing
    on the sorting permutation, then greedy decoding."""
    nn, F = L.nn, L.nn.functional

    class PtrNet(nn.Module):
        def __init__(self, H=8):
            super().__init__()
            self.enc = nn.LSTM(1, H, batch_first=True)
            self.dec = nn.LSTMCell(1, H)
            self.W1 = nn.Linear(H, H, bias=False)
            self.W2 = nn.Linear(H, H, bias=False)
            self.v = nn.Parameter(L.zeros(H))
            self.start = nn.Parameter(L.zeros(1))

        def forward(self, x, targets=None):
            B, n = x.shape
            enc, (h, c) = self.enc(x.unsqueeze(-1))
            h, c = h[0], c[0]
            inp = self.start.expand(B, 1)
            mask = L.zeros(B, n, dtype=L.bool)
            logits_all, picks = [], []
            for t in range(n):
                h, c = self.dec(inp, (h, c))
                u = L.tanh(self.W1(enc) + self.W2(h).unsqueeze(1)) @ self.v
                u = u.masked_fill(mask, float("-inf"))
                logits_all.append(u)
                idx = targets[:, t] if targets is not None else u.argmax(-1)
                picks.append(idx)
                mask = mask.scatter(1, idx.unsqueeze(1), True)
                inp = x.gather(1, idx.unsqueeze(1))
            return L.stack(logits_all, 1), L.stack(picks, 1)

    model = load_seeded(L, PtrNet().double(), 51, 0.4)
    x = L.tensor(np.random.RandomState(52).rand(4, 5))
    perm = x.argsort(dim=1)
    opt = L.optim.Adam(model.parameters(), lr=1e-2)

    def loss_of():
        logits, _ = model(x, perm)
        return F.cross_entropy(logits.reshape(-1, 5), perm.reshape(-1))

    losses = train_steps(opt, loss_of)
    with L.no_grad():
        logits, picks = model(x)
    return dict(losses=losses, picks=picks, lp=F.log_softmax(logits, -1), g=grads_of(model))


# ----------------------------------------------------------------------------------------------
# vision architectures
# ----------------------------------------------------------------------------------------------
@program
def unet_transposed_convs_skip_concat_bce_dice(L):
    """A two-level U-Net: DoubleConv blocks (conv-BN-ReLU twice), MaxPool2d down, upsampling
    by ConvTranspose2d(stride 2), F.pad to match odd sizes, torch.cat of the skip, a 1x1
    head, BCEWithLogits plus soft dice on a binary mask, Adam; eval-mode sigmoid > 0.5."""
    nn, F = L.nn, L.nn.functional

    def double_conv(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o),
                             nn.ReLU(inplace=True), nn.Conv2d(o, o, 3, padding=1, bias=False),
                             nn.BatchNorm2d(o), nn.ReLU(inplace=True))

    class Up(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.up = nn.ConvTranspose2d(i, i // 2, kernel_size=2, stride=2)
            self.conv = double_conv(i, o)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            return self.conv(L.cat([x2, x1], dim=1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.inc = double_conv(2, 4)
            self.down = nn.Sequential(nn.MaxPool2d(2), double_conv(4, 8))
            self.up = Up(8, 4)
            self.outc = nn.Conv2d(4, 1, 1)

        def forward(self, x):
            x1 = self.inc(x)
            return self.outc(self.up(self.down(x1), x1))

    model = load_seeded(L, UNet().double(), 53, 0.3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.abs_().add_(0.5)
    x = L.tensor(_arr(2, 2, 7, 9, seed=54))
    y = L.tensor((np.random.RandomState(55).rand(2, 1, 7, 9) > 0.6).astype(np.float64))
    crit = nn.BCEWithLogitsLoss(pos_weight=L.tensor([2.0], dtype=L.float64))

    def loss_of():
        logits = model(x)
        p = logits.sigmoid()
        dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
        return crit(logits, y) + dice

    opt = L.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-5)
    losses = train_steps(opt, loss_of)
    model.eval()
    with L.no_grad():
        pred = model(x).sigmoid() > 0.5
    return dict(losses=losses, pred=pred, g=grads_of(model),
                rm=model.up.conv[1].running_mean)


@program
def spatial_transformer_affine_grid_identity_init(L):
    """A spatial transformer network: a localisation net whose last layer is zeroed with an
    identity-affine bias, theta.view(-1, 2, 3), F.affine_grid(align_corners=False) and
    F.grid_sample (bilinear, zeros padding) feeding a classifier; gradients reach theta."""
    nn, F = L.nn, L.nn.functional

    class STN(nn.Module):
        def __init__(self):
            super().__init__()
            self.loc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU(),
                                     nn.Flatten(), nn.Linear(4 * 3 * 3, 8), nn.ReLU(),
                                     nn.Linear(8, 6))
            self.cls = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.AdaptiveMaxPool2d(2),
                                     nn.Flatten(), nn.Linear(12, 3))

        def forward(self, x):
            theta = self.loc(x).view(-1, 2, 3)
            grid = F.affine_grid(theta, x.size(), align_corners=False)
            xt = F.grid_sample(x, grid, align_corners=False)
            return F.log_softmax(self.cls(xt), dim=1), theta

    model = load_seeded(L, STN().double(), 56, 0.3)
    model.loc[-1].weight.data.zero_()
    model.loc[-1].bias.data.copy_(L.tensor([1, 0, 0, 0, 1, 0], dtype=L.float64))
    x = L.tensor(_arr(3, 1, 8, 8, seed=57))
    y = L.tensor([0, 2, 1])
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.5)
    losses = train_steps(opt, lambda: F.nll_loss(model(x)[0], y), 4)
    out, theta = model(x)
    return dict(losses=losses, theta=theta, out=out, g=grads_of(model))


@program
def deformable_sampling_offsets_by_grid_sample(L):
    """Deformable-convolution-style sampling in plain torch: a conv predicts per-pixel (dx, dy)
    offsets, a base meshgrid in normalised coordinates plus the offsets gives the grid,
    grid_sample with border padding and align_corners=True, then a 1x1 conv; gradients reach
    both the offsets' conv and the input. Also nearest mode and reflection padding."""
    nn, F = L.nn, L.nn.functional
    off_conv = load_seeded(L, nn.Conv2d(3, 2, 3, padding=1).double(), 58, 0.1)
    proj = load_seeded(L, nn.Conv2d(3, 4, 1).double(), 59, 0.3)
    x = L.tensor(_arr(2, 3, 6, 7, seed=60), requires_grad=True)
    N, C, H, W = x.shape
    ys, xs = L.meshgrid(L.linspace(-1, 1, H, dtype=L.float64),
                        L.linspace(-1, 1, W, dtype=L.float64), indexing="ij")
    base = L.stack((xs, ys), dim=-1).unsqueeze(0)          # (1, H, W, 2), x first
    off = off_conv(x).permute(0, 2, 3, 1)
    grid = base + off * (2.0 / max(H - 1, W - 1))
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
    y = proj(sampled)
    near = F.grid_sample(x, grid.detach() * 1.3, mode="nearest", padding_mode="zeros",
                         align_corners=True)
    refl = F.grid_sample(x, grid * 1.4, mode="bilinear", padding_mode="reflection",
                         align_corners=False)
    (y.pow(2).mean() + refl.sum() * 0.1).backward()
    return dict(y=y, near=near, refl=refl, gx=x.grad, g=grads_of(off_conv))


@program
def gram_matrix_style_features_with_hooks(L):
    """Style/content losses in the Gatys manner without LBFGS: features from a small conv
    stack gathered by forward hooks, Gram matrices by bmm of flattened features divided by
    c*h*w, content MSE on one layer, style MSE on all, total variation, and Adam on the
    image pixels (clamped to [0, 1] in place after each step)."""
    nn, F = L.nn, L.nn.functional
    net = load_seeded(L, nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                       nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                                       nn.AvgPool2d(2), nn.Conv2d(6, 6, 3, padding=1),
                                       nn.ReLU()).double(), 61, 0.3)
    for p in net.parameters():
        p.requires_grad_(False)
    feats = {}
    for idx in (1, 3, 6):
        net[idx].register_forward_hook(lambda m, i, o, idx=idx: feats.__setitem__(idx, o))

    def gram(maps):
        # channel-by-channel inner products over all positions, per image and per
        # feature value: (N, C, H*W) times its transpose, over C*H*W
        n, ch, rows, cols = maps.size()
        per_channel = maps.view(n, ch, rows * cols)
        return per_channel.bmm(per_channel.transpose(1, 2)) / (ch * rows * cols)

    rng = np.random.RandomState(62)
    content = L.tensor(rng.rand(1, 3, 8, 8))
    style = L.tensor(rng.rand(1, 3, 8, 8))
    net(content)
    c_t = feats[3].detach()
    net(style)
    s_t = {k: gram(v).detach() for k, v in feats.items()}
    img = content.clone().requires_grad_(True)
    opt = L.optim.Adam([img], lr=0.05)

    def loss_of():
        net(img)
        s = sum(F.mse_loss(gram(feats[k]), s_t[k]) for k in (1, 3, 6))
        tv = (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + \
            (img[..., 1:] - img[..., :-1]).abs().mean()
        return F.mse_loss(feats[3], c_t) + 1e3 * s + 0.1 * tv

    losses = []
    for _ in range(3):
        losses.extend(train_steps(opt, loss_of, 1))
        with L.no_grad():
            img.clamp_(0, 1)
    return dict(losses=losses, img=img, g=img.grad)


@program
def mlp_mixer_token_and_channel_mixing(L):
    """MLP-Mixer: patches by a strided Conv2d, flatten(2).transpose(1, 2), token-mixing MLPs
    applied on the transposed (B, C, T) layout, channel-mixing MLPs, pre-LayerNorm residual
    blocks with GELU, global average pooling over tokens, label-smoothed cross entropy."""
    nn, F = L.nn, L.nn.functional

    class MixerBlock(nn.Module):
        def __init__(self, T, C, ht=6, hc=10):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(C), nn.LayerNorm(C)
            self.tok = nn.Sequential(nn.Linear(T, ht), nn.GELU(), nn.Linear(ht, T))
            self.ch = nn.Sequential(nn.Linear(C, hc), nn.GELU(approximate="tanh"),
                                    nn.Linear(hc, C))

        def forward(self, x):
            x = x + self.tok(self.ln1(x).transpose(1, 2)).transpose(1, 2)
            return x + self.ch(self.ln2(x))

    class Mixer(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 5, kernel_size=2, stride=2)
            self.blocks = nn.Sequential(MixerBlock(9, 5), MixerBlock(9, 5))
            self.ln = nn.LayerNorm(5)
            self.head = nn.Linear(5, 4)

        def forward(self, x):
            x = self.stem(x).flatten(2).transpose(1, 2)
            return self.head(self.ln(self.blocks(x)).mean(dim=1))

    model = load_seeded(L, Mixer().double(), 63, 0.3)
    x = L.tensor(_arr(3, 3, 6, 6, seed=64))
    y = L.tensor([1, 3, 0])
    opt = L.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), y, label_smoothing=0.1))
    return dict(losses=losses, g=grads_of(model), out=model(x))


@program
def convnext_block_channels_last_layernorm_and_drop_path(L):
    """ConvNeXt blocks: a 7x7 depthwise conv, permute to channels-last for nn.LayerNorm and
    pointwise nn.Linear layers, a learnable layer-scale gamma, stochastic depth with a fixed
    keep mask (x.div(keep_prob) * mask), a channels-first LayerNorm written by hand
    (mean/var over dim 1) for the downsampling layer, trunc_normal_-free init copied."""
    nn, F = L.nn, L.nn.functional

    class LayerNormCF(nn.Module):
        """LayerNorm over the channel axis of (n, c, h, w), by hand (biased variance)"""

        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight, self.bias = nn.Parameter(L.ones(c)), nn.Parameter(L.zeros(c))
            self.eps = eps

        def forward(self, x):
            centred = x - x.mean(1, keepdim=True)
            spread = L.sqrt(centred.pow(2).mean(1, keepdim=True) + self.eps)
            per_channel = lambda v: v.view(1, -1, 1, 1)
            return per_channel(self.weight) * (centred / spread) + per_channel(self.bias)

    class Block(nn.Module):
        """depthwise 7x7, then in channels-last layout LayerNorm and an expand-GELU-shrink
        pair of Linears, a learnt per-channel gain, a fixed per-sample keep mask in training
        (survivors divided by the keep rate 0.75), added to the input"""

        def __init__(self, dim, keep):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pwconv1, self.act = nn.Linear(dim, 4 * dim), nn.GELU()
            self.pwconv2 = nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(L.full((dim,), 0.1))
            self.register_buffer("keep", keep)

        def forward(self, x):
            last = self.dwconv(x).permute(0, 2, 3, 1)                   # (n, h, w, c)
            for layer in (self.norm, self.pwconv1, self.act, self.pwconv2):
                last = layer(last)
            branch = (last * self.gamma).permute(0, 3, 1, 2)
            if self.training:
                branch = branch.div(0.75) * self.keep.view(-1, 1, 1, 1)
            return x + branch

    keep = L.tensor([1.0, 0.0, 1.0])
    model = nn.Sequential(nn.Conv2d(2, 4, 2, 2), LayerNormCF(4), Block(4, keep.clone()),
                          LayerNormCF(4), nn.Conv2d(4, 6, 2, 2), Block(6, keep.clone()),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.LayerNorm(6),
                          nn.Linear(6, 3)).double()
    load_seeded(L, model, 65, 0.3)
    for m in model.modules():
        if isinstance(m, Block):
            m.keep.copy_(keep)
    x = L.tensor(_arr(3, 2, 8, 8, seed=66))
    y = L.tensor([2, 0, 1])
    opt = L.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.05)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), y))
    model.eval()
    return dict(losses=losses, g=grads_of(model), out=model(x))


# ----------------------------------------------------------------------------------------------
# GAN training and training-loop mechanics
# ----------------------------------------------------------------------------------------------
@program
def wgan_gp_gradient_penalty_two_optimizers(L):
    """WGAN-GP: a critic without batch norm, interpolates between real and fake by fixed
    alphas, the input gradient by autograd.grad(create_graph=True, retain_graph=True,
    grad_outputs=ones), the penalty lambda * (||g||_2 - 1)^2, n_critic critic steps per
    generator step with Adam(betas=(0.5, 0.9)), the generator's loss -D(G(z)).mean()."""
    nn = L.nn
    G = load_seeded(L, nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 4)).double(),
                    67, 0.4)
    D = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
                    .double(), 68, 0.4)
    opt_g = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.9))
    opt_d = L.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.9))
    real = L.tensor(_arr(8, 4, seed=69) + 1.0)
    d_losses, g_losses, gps = [], [], []

    def penalty(real, fake, alpha):
        # the critic's input gradient at points on the segments real-fake should have unit
        # norm; the gradient keeps its graph so the penalty itself can be differentiated
        between = (fake + alpha * (real - fake)).requires_grad_(True)
        score = D(between)
        slope, = L.autograd.grad(outputs=score, inputs=between, grad_outputs=L.ones_like(score),
                                 create_graph=True, retain_graph=True, only_inputs=True)
        excess = slope.view(slope.size(0), -1).norm(2, dim=1) - 1
        return excess.pow(2).mean()

    for it in range(2):
        for k in range(2):
            z = L.tensor(_arr(8, 3, seed=70 + 10 * it + k))
            alpha = L.tensor(np.random.RandomState(80 + 10 * it + k).rand(8, 1))
            fake = G(z).detach()
            opt_d.zero_grad()
            gp = penalty(real, fake, alpha)
            loss_d = D(fake).mean() - D(real).mean() + 10 * gp
            loss_d.backward()
            opt_d.step()
            d_losses.append(loss_d.item())
            gps.append(gp.item())
        for p in D.parameters():
            p.requires_grad = False
        opt_g.zero_grad()
        loss_g = -D(G(L.tensor(_arr(8, 3, seed=99 + it)))).mean()
        loss_g.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad = True
        g_losses.append(loss_g.item())
    return dict(d=d_losses, g=g_losses, gp=gps, gg=grads_of(G), dg=grads_of(D))


@program
def loss_scaling_by_hand_and_gradient_accumulation(L):
    """Mixed-precision-style dynamic loss scaling written by hand: the loss multiplied by a
    scale before backward, grads unscaled in place under no_grad, an overflow check by
    torch.isfinite over all grads (an injected inf skips the step and halves the scale),
    gradient accumulation over micro-batches divided by their count, clip_grad_norm_ with
    error_if_nonfinite=False, and a growth interval doubling the scale."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, 2)).double(),
                        71, 0.4)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(_arr(12, 5, seed=72))
    y = L.tensor(_labels(12, 2, 73))
    scale, good, log = 2.0 ** 10, 0, []
    for step in range(4):
        opt.zero_grad(set_to_none=True)
        for mb in range(3):
            xb, yb = x[mb * 4:(mb + 1) * 4], y[mb * 4:(mb + 1) * 4]
            loss = F.cross_entropy(model(xb), yb) / 3
            (loss * scale).backward()
        if step == 1:
            model[0].weight.grad[0, 0] = float("inf")
        with L.no_grad():
            grads = [p.grad for p in model.parameters()]
            finite = all(bool(L.isfinite(g).all()) for g in grads)
            for g in grads:
                g.div_(scale)
        if finite:
            norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0,
                                            error_if_nonfinite=False)
            opt.step()
            good += 1
            if good % 2 == 0:
                scale *= 2
        else:
            norm = None
            scale /= 2
            good = 0
        log.append((loss.item(), scale, finite, norm))
    return dict(log=log, w=params_of(model), buf=opt.state[model[0].weight]["momentum_buffer"])


@program
def orthogonal_and_custom_parametrizations(L):
    """torch.nn.utils.parametrize: a custom symmetric parametrization (X.triu() +
    X.triu(1).T) and a positive-diagonal one registered on Linear weights, the
    parametrizations.original parameter trained by Adam, cached evaluation, and
    remove_parametrizations keeping the parametrized value; plus
    parametrizations.orthogonal's result checked for W W^T = I."""
    nn = L.nn
    P = nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class PositiveDiag(nn.Module):
        def forward(self, X):
            return X - L.diag_embed(X.diagonal()) + L.diag_embed(X.diagonal().exp())

    model = load_seeded(L, nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4),
                                         nn.Tanh(), nn.Linear(4, 2)).double(), 74, 0.4)
    P.register_parametrization(model[0], "weight", Symmetric())
    P.register_parametrization(model[2], "weight", PositiveDiag())
    P.register_parametrization(model[2], "weight", Symmetric())
    names = sorted(n for n, _ in model.named_parameters())
    x = L.tensor(_arr(6, 4, seed=75))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: model(x).pow(2).mean())
    w0 = model[0].weight
    with P.cached():
        a, b = model[2].weight, model[2].weight
        same = a is b
    P.remove_parametrizations(model[2], "weight", leave_parametrized=True)
    orth = nn.utils.parametrizations.orthogonal(nn.Linear(3, 3).double())
    W = orth.weight
    return dict(losses=losses, names=names, sym=bool((w0 == w0.T).all()), w0=w0, same=same,
                w2=model[2].weight, is_p=P.is_parametrized(model[2]),
                orth=float((W @ W.T - L.eye(3, dtype=L.float64)).abs().max()) < 1e-12,
                g=grads_of(model))


@program
def torch_func_per_sample_grads_jacrev_and_hessian(L):
    """torch.func: per-sample gradients by vmap(grad(loss), in_dims=(None, 0, 0)) over
    functional_call with detached parameters, the per-sample norms for DP-SGD-style clipping
    and noise-free averaging, jacrev of the model's outputs, hessian of a scalar, jvp and
    vjp, and vmap of a function with keyword arguments."""
    nn, F = L.nn, L.nn.functional
    fx = L.func
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double(),
                        76, 0.5)
    params = {k: v.detach() for k, v in model.named_parameters()}
    x = L.tensor(_arr(6, 3, seed=77))
    y = L.tensor(_labels(6, 2, 78))

    def loss_fn(p, xi, yi):
        out = fx.functional_call(model, p, (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per = fx.vmap(fx.grad(loss_fn), in_dims=(None, 0, 0))(params, x, y)
    norms = L.stack([g.flatten(1).norm(dim=1) for g in per.values()], 1).norm(dim=1)
    factor = (1.0 / (norms / 0.5)).clamp(max=1.0)
    clipped = {k: (g * factor.view(-1, *[1] * (g.ndim - 1))).mean(0) for k, g in per.items()}
    jac = fx.jacrev(lambda p: fx.functional_call(model, p, (x[:2],)))(params)
    with warnings.catch_warnings():
        # (torch's forward-mode pass scripts a helper the first time, which warns that
        # torch.jit.script is deprecated: torch's internals, not the program's)
        warnings.simplefilter("ignore", DeprecationWarning)
        hes = fx.hessian(lambda v: (model(v) ** 2).sum())(x[0])
    out, tangent = fx.jvp(lambda v: model(v), (x[:2],), (L.ones_like(x[:2]),))
    out2, vjp_fn = fx.vjp(lambda v: model(v).sum(1), x[:3])
    (vx,) = vjp_fn(L.ones(3, dtype=L.float64))

    def scaled(v, *, s):
        return (v * s).sum()

    vs = fx.vmap(scaled)(x, s=2.0)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    mean_grad = {k: g.mean(0) for k, g in per.items()}
    return dict(per=per, norms=norms, clipped=clipped, jac=jac, hes=hes, tangent=tangent,
                out=out, vx=vx, vs=vs, mean=mean_grad, full=grads_of(model))


@program
def ensembles_by_stack_module_state_and_vmap(L):
    """Model ensembling the torch.func way: stack_module_state of several copies, a base
    model by copy.deepcopy (the tutorial moves it to 'meta'), vmap over the stacked parameters
    with functional_call, the same minibatch (in_dims None) and different minibatches (in_dims
    0); gradients flow to the stacked parameters."""
    nn = L.nn
    fx = L.func
    models = [load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
                          .double(), 79 + i, 0.5) for i in range(3)]
    params, buffers = fx.stack_module_state(models)
    base = copy.deepcopy(models[0])

    def f(p, b, x):
        return fx.functional_call(base, (p, b), (x,))

    x = L.tensor(_arr(5, 3, seed=82))
    xs = L.tensor(_arr(3, 5, 3, seed=83))
    same = fx.vmap(f, in_dims=(0, 0, None))(params, buffers, x)
    diff = fx.vmap(f)(params, buffers, xs)
    (same.pow(2).sum() + diff.sum()).backward()
    loop = L.stack([m(x) for m in models])
    return dict(same=same, diff=diff, loop=loop, shapes={k: v.shape for k, v in params.items()},
                g={k: v.grad for k, v in params.items()})


# ----------------------------------------------------------------------------------------------
# statistics: quantiles, survival, filtering, transport
# ----------------------------------------------------------------------------------------------
@program
def quantile_regression_pinball_loss_and_crossing_fix(L):
    """Quantile regression: one head per quantile, the pinball loss max(q * e, (q - 1) * e)
    written with torch.max over a stacked pair and with where, monotone quantiles by a
    cumulative sum of softplus increments, empirical coverage, and torch.quantile of the
    residuals (linear, lower, nearest, midpoint interpolations)."""
    nn, F = L.nn, L.nn.functional
    qs = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)

    class QNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 12), nn.ReLU())
            self.base = nn.Linear(12, 1)
            self.inc = nn.Linear(12, 2)

        def forward(self, x):
            h = self.body(x)
            return L.cat([self.base(h), self.base(h) + F.softplus(self.inc(h)).cumsum(-1)], -1)

    model = load_seeded(L, QNet().double(), 84, 0.4)
    rng = np.random.RandomState(85)
    x = L.tensor(rng.randn(30, 2))
    y = L.tensor(rng.randn(30) * (1 + rng.rand(30)))

    def pinball(pred, target):
        e = target.unsqueeze(-1) - pred
        a = L.max(qs * e, (qs - 1) * e)
        b = L.where(e >= 0, qs * e, (qs - 1) * e)
        return a.mean(), b.mean()

    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: pinball(model(x), y)[0])
    with L.no_grad():
        pred = model(x)
        cover = (y.unsqueeze(-1) <= pred).double().mean(0)
        res = y - pred[:, 1]
        quants = {m: L.quantile(res, qs, interpolation=m)
                  for m in ("linear", "lower", "higher", "nearest", "midpoint")}
    return dict(losses=losses, other=pinball(pred, y)[1], cover=cover, quants=quants,
                nanq=L.nanquantile(L.tensor([1.0, float("nan"), 3.0, 2.0]), 0.5),
                g=grads_of(model))


@program
def cox_partial_likelihood_with_logcumsumexp_and_c_index(L):
    """Deep survival (DeepSurv): risk scores sorted by descending time, the Cox negative
    partial log-likelihood by torch.logcumsumexp (and by cumsum of exp as the naive form),
    averaged over events, with Breslow ties left as is; Harrell's concordance index by
    broadcast comparisons of times and risks."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(nn.Linear(4, 8), nn.SELU(), nn.AlphaDropout(0.0),
                                         nn.Linear(8, 1)).double(), 86, 0.4)
    rng = np.random.RandomState(87)
    x = L.tensor(rng.randn(20, 4))
    time = L.tensor(np.round(rng.exponential(5, 20), 1))
    event = L.tensor(rng.rand(20) < 0.7)

    def cox(risk, time, event):
        order = L.argsort(time, descending=True, stable=True)
        risk, ev = risk[order], event[order].double()
        log_cum = L.logcumsumexp(risk, dim=0)
        naive = L.log(L.cumsum(L.exp(risk), dim=0))
        nll = -((risk - log_cum) * ev).sum() / ev.sum()
        return nll, naive - log_cum

    opt = L.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    losses = train_steps(opt, lambda: cox(model(x).squeeze(-1), time, event)[0])
    with L.no_grad():
        risk = model(x).squeeze(-1)
        _, gap = cox(risk, time, event)
        comparable = (time.unsqueeze(1) < time.unsqueeze(0)) & event.unsqueeze(1)
        concordant = (risk.unsqueeze(1) > risk.unsqueeze(0)) & comparable
        ties = (risk.unsqueeze(1) == risk.unsqueeze(0)) & comparable
        cindex = (concordant.sum() + 0.5 * ties.sum()) / comparable.sum()
    return dict(losses=losses, gap=gap, cindex=cindex, g=grads_of(model))


@program
def kalman_filter_and_rts_smoother_with_learned_noise(L):
    """A linear-Gaussian state-space model: Kalman predict/update with torch.linalg.solve
    for the gain (K = P H^T S^-1 computed as solve(S, H P)^T), Joseph-form covariance
    update, the innovations' log-likelihood by MultivariateNormal, a Rauch-Tung-Striebel
    backward pass with linalg.inv, and the noise log-variances learned by Adam."""
    D = L.distributions
    dt = 0.5
    A = L.tensor([[1.0, dt], [0.0, 1.0]], dtype=L.float64)
    H = L.tensor([[1.0, 0.0]], dtype=L.float64)
    rng = np.random.RandomState(88)
    ys = L.tensor(np.cumsum(rng.randn(12)) * 0.5 + rng.randn(12) * 0.3).unsqueeze(-1)
    log_q = L.nn.Parameter(L.tensor(-1.0, dtype=L.float64))
    log_r = L.nn.Parameter(L.tensor(-1.0, dtype=L.float64))
    I2 = L.eye(2, dtype=L.float64)

    def run(smooth=False):
        Q = log_q.exp() * L.tensor([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]],
                                   dtype=L.float64)
        R = log_r.exp() * L.eye(1, dtype=L.float64)
        m, P = L.zeros(2, dtype=L.float64), I2.clone()
        ll, ms, Ps, mps, Pps = 0, [], [], [], []
        for y in ys:
            mp, Pp = A @ m, A @ P @ A.T + Q
            S = H @ Pp @ H.T + R
            ll = ll + D.MultivariateNormal(H @ mp, covariance_matrix=S).log_prob(y)
            K = L.linalg.solve(S, H @ Pp).T
            m = mp + K @ (y - H @ mp)
            IKH = I2 - K @ H
            P = IKH @ Pp @ IKH.T + K @ R @ K.T
            ms.append(m), Ps.append(P), mps.append(mp), Pps.append(Pp)
        if not smooth:
            return ll
        sm = [ms[-1]]
        for t in range(len(ys) - 2, -1, -1):
            G = Ps[t] @ A.T @ L.linalg.inv(Pps[t + 1])
            sm.insert(0, ms[t] + G @ (sm[0] - mps[t + 1]))
        return ll, L.stack(ms), L.stack(sm)

    opt = L.optim.Adam([log_q, log_r], lr=0.1)
    losses = train_steps(opt, lambda: -run(), 3)
    with L.no_grad():
        ll, filt, smooth = run(True)
    return dict(losses=losses, ll=ll, filt=filt, smooth=smooth, q=log_q, r=log_r, g=log_q.grad)


@program
def sinkhorn_optimal_transport_log_domain(L):
    """Entropic optimal transport: the squared-distance cost by cdist, Sinkhorn iterations in
    the log domain with logsumexp over rows and columns, the plan exp(f + g - C) / eps, the
    transport cost, its gradient to the source points (a differentiable Wasserstein loss
    moving points by SGD), and a matching read off by argmax of the plan."""
    x = L.tensor(_arr(6, 2, seed=89), requires_grad=True)
    y = L.tensor(_arr(7, 2, seed=90) + 1.0)
    a = L.full((6,), 1 / 6, dtype=L.float64)
    b = L.full((7,), 1 / 7, dtype=L.float64)
    eps = 0.1

    def sinkhorn(x, y, n_iter=30):
        C = L.cdist(x, y, p=2) ** 2
        f = L.zeros(6, dtype=L.float64)
        g = L.zeros(7, dtype=L.float64)
        for _ in range(n_iter):
            f = eps * (L.log(a) - L.logsumexp((g[None, :] - C) / eps, dim=1))
            g = eps * (L.log(b) - L.logsumexp((f[:, None] - C) / eps, dim=0))
        plan = L.exp((f[:, None] + g[None, :] - C) / eps)
        return (plan * C).sum(), plan

    opt = L.optim.SGD([x], lr=0.5)
    losses = train_steps(opt, lambda: sinkhorn(x, y)[0], 3)
    cost, plan = sinkhorn(x, y)
    cost.backward()
    return dict(losses=losses, plan=plan, rows=plan.sum(1), match=plan.argmax(1), gx=x.grad,
                p1=L.cdist(x, y, p=1), pinf=L.cdist(x, y, p=float("inf")))


# ----------------------------------------------------------------------------------------------
# attention variants, clustering, decompositions
# ----------------------------------------------------------------------------------------------
@program
def topk_sparse_attention_with_sinusoidal_buffer(L):
    """Top-k sparse attention: scores q k^T / sqrt(d) with a causal mask from torch.triu
    (masked_fill -inf), each query keeping its k largest scores (topk values' last column as
    a threshold, scores below it masked), softmax, and sinusoidal positional encodings kept
    in a non-persistent register_buffer (absent from the state dict) sliced to the length."""
    nn, F = L.nn, L.nn.functional

    class WaveTable(nn.Module):
        """a fixed (1, length, d) table added to the input: even features sin(p w_i), odd
        ones cos(p w_i), w_i = 10000^(-2i/d); not saved with the state dict"""

        def __init__(self, d, length=16):
            super().__init__()
            rate = L.exp(L.arange(0, d, 2) * (-math.log(10000.0) / d))
            angle = L.arange(length).unsqueeze(1) * rate               # (length, d / 2)
            table = L.zeros(length, d)
            table[:, 0::2], table[:, 1::2] = L.sin(angle), L.cos(angle)
            self.register_buffer("pe", table[None], persistent=False)

        def forward(self, x):
            return self.pe[:, :x.size(1)] + x

    class SparseAttn(nn.Module):
        def __init__(self, d=8, topk=3):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * d)
            self.o = nn.Linear(d, d)
            self.topk = topk

        def forward(self, x):
            q, k, v = self.qkv(x).chunk(3, dim=-1)
            T = x.shape[1]
            s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
            causal = L.triu(L.ones(T, T, dtype=L.bool), diagonal=1)
            s = s.masked_fill(causal, float("-inf"))
            kth = s.topk(self.topk, dim=-1).values[..., -1:]
            s = s.masked_fill(s < kth, float("-inf"))
            a = F.softmax(s, dim=-1)
            return self.o(a @ v), a

    pe = WaveTable(8)
    attn = load_seeded(L, SparseAttn(), 91, 0.4)
    x = L.tensor(_f32(2, 6, 8, seed=92))
    h = pe(x)
    out, a = attn(h)
    out.pow(2).mean().backward()
    return dict(keys=list(pe.state_dict().keys()), bufs=[n for n, _ in pe.named_buffers()],
                pe=pe.pe, out=out, a=a, nz=(a > 0).sum(-1), g=grads_of(attn))


@program
def kmeans_by_cdist_argmin_and_scatter_add(L):
    """k-means in torch: k-means++-style seeding with fixed uniforms over the squared-distance
    CDF (cumsum, searchsorted), Lloyd iterations with cdist/argmin, new centroids by
    index_add_ / scatter_add_ of the points and bincount of the counts (empty clusters kept),
    inertia by gather, and the soft assignment of a differentiable variant."""
    rng = np.random.RandomState(93)
    pts = np.concatenate([rng.randn(10, 2) + c for c in ([0, 0], [4, 4], [0, 5])])
    X = L.tensor(pts)
    u = rng.rand(3)
    K = 3
    cent = [X[0]]
    for k in range(1, K):
        d2 = L.cdist(X, L.stack(cent)).min(dim=1).values ** 2
        cdf = L.cumsum(d2 / d2.sum(), 0)
        cent.append(X[L.searchsorted(cdf, L.tensor(u[k]).to(cdf.dtype)).clamp(max=29)])
    C = L.stack(cent)
    for _ in range(4):
        assign = L.cdist(X, C).argmin(dim=1)
        sums = L.zeros_like(C).index_add_(0, assign, X)
        sums2 = L.zeros_like(C).scatter_add_(0, assign.unsqueeze(1).expand(-1, 2), X)
        counts = L.bincount(assign, minlength=K).to(X.dtype)
        C = L.where(counts.unsqueeze(1) > 0, sums / counts.clamp(min=1).unsqueeze(1), C)
    inertia = (X - C[assign]).pow(2).sum(1).sum()
    dist = L.cdist(X, C)
    gathered = dist.gather(1, assign.unsqueeze(1)).squeeze(1)
    Cp = C.clone().requires_grad_(True)
    soft = L.softmax(-L.cdist(X, Cp) ** 2 / 0.5, dim=1)
    (soft * L.cdist(X, Cp) ** 2).sum().backward()
    return dict(C=C, assign=assign, sums_same=bool(L.allclose(sums, sums2)), counts=counts,
                inertia=inertia, gathered=gathered, soft=soft, g=Cp.grad)


@program
def pca_by_svd_eigh_and_lowrank_whitening(L):
    """PCA: centring, torch.linalg.svd(full_matrices=False) with the sign fixed by the largest
    absolute entry of each component, explained variance ratios, the same spectrum from
    torch.linalg.eigh of the covariance (ascending, flipped), torch.pca_lowrank's singular
    values with q = rank, projection, ZCA whitening, and reconstruction error of k
    components."""
    rng = np.random.RandomState(94)
    X = L.tensor(rng.randn(40, 4) @ rng.randn(4, 4) + rng.randn(4))
    mean = X.mean(0, keepdim=True)
    Xc = X - mean
    U, S, Vh = L.linalg.svd(Xc, full_matrices=False)
    idx = Vh.abs().argmax(dim=1)
    signs = L.sign(Vh[L.arange(4), idx])
    Vh = Vh * signs[:, None]
    var = S ** 2 / (X.shape[0] - 1)
    ratio = var / var.sum()
    cov = Xc.T @ Xc / (X.shape[0] - 1)
    evals, evecs = L.linalg.eigh(cov)
    evals = evals.flip(0)
    _, S_low, _ = L.pca_lowrank(X, q=4, center=True, niter=4)
    Z = Xc @ Vh[:2].T
    recon = Z @ Vh[:2] + mean
    zca = evecs @ L.diag(1.0 / L.sqrt(evals.flip(0) + 1e-5)) @ evecs.T
    white = Xc @ zca
    return dict(S=S, Vh=Vh, ratio=ratio, cum=ratio.cumsum(0), evals=evals, S_low=S_low, Z=Z,
                err=(X - recon).pow(2).mean(), wcov=white.T @ white / (X.shape[0] - 1),
                cov=L.cov(X.T), corr=L.corrcoef(X.T))


# ----------------------------------------------------------------------------------------------
# meta-learning, second-order methods, physics-structured nets
# ----------------------------------------------------------------------------------------------
@program
def maml_second_order_inner_loop_by_functional_call(L):
    """MAML on sine-like regression tasks: the inner SGD step on a task's support set by
    autograd.grad(create_graph=True) producing fast weights as a dict, the query loss through
    torch.func.functional_call with those weights, the meta-gradient over a batch of tasks
    (second order), and a first-order variant with create_graph=False."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1)).double(),
                        95, 0.5)
    meta = L.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.RandomState(96)
    tasks = []
    for _ in range(3):
        amp, ph = rng.uniform(0.5, 2), rng.uniform(0, np.pi)
        xs, xq = rng.uniform(-3, 3, (5, 1)), rng.uniform(-3, 3, (5, 1))
        tasks.append(tuple(L.tensor(v) for v in (xs, amp * np.sin(xs + ph),
                                                 xq, amp * np.sin(xq + ph))))

    def adapt(xs, ys, second_order):
        params = dict(model.named_parameters())
        loss = F.mse_loss(L.func.functional_call(model, params, (xs,)), ys)
        grads = L.autograd.grad(loss, list(params.values()), create_graph=second_order)
        return {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}

    losses = []
    for second_order in (True, True, False):
        meta.zero_grad()
        total = 0
        for xs, ys, xq, yq in tasks:
            fast = adapt(xs, ys, second_order)
            total = total + F.mse_loss(L.func.functional_call(model, fast, (xq,)), yq)
        (total / len(tasks)).backward()
        meta.step()
        losses.append(total.item())
    return dict(losses=losses, g=grads_of(model), w=params_of(model))


@program
def trpo_conjugate_gradient_fisher_vector_products(L):
    """TRPO's natural-gradient step: the surrogate advantage, the mean KL between the old
    (detached) and new Categorical policies, Fisher-vector products by double backward of
    the KL's gradient dotted with a vector, conjugate gradient, the step size from the KL
    bound, a backtracking line search with parameters_to_vector / vector_to_parameters."""
    nn = L.nn
    D = L.distributions
    pi = load_seeded(L, nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).double(),
                     97, 0.5)
    s = L.tensor(_arr(10, 3, seed=98))
    a = L.tensor(_labels(10, 3, 99))
    adv = L.tensor(_arr(10, seed=100))
    with L.no_grad():
        old_logits = pi(s)
    old = D.Categorical(logits=old_logits)
    params = list(pi.parameters())

    def surrogate():
        new = D.Categorical(logits=pi(s))
        return (L.exp(new.log_prob(a) - old.log_prob(a)) * adv).mean()

    def kl():
        return D.kl_divergence(old, D.Categorical(logits=pi(s))).mean()

    def flat(parts):
        return L.cat([part.reshape(-1) for part in parts])

    def fvp(vec, damping=0.1):
        # Fisher (KL Hessian) times vec without forming it: differentiate grad(KL) . vec
        kl_slope = flat(L.autograd.grad(kl(), params, create_graph=True))
        return flat(L.autograd.grad((kl_slope * vec).sum(), params)) + damping * vec

    def solve_fisher(rhs, sweeps=8):
        # conjugate directions for F x = rhs, using F only through fvp
        sol = L.zeros_like(rhs)
        resid, direction = rhs.clone(), rhs.clone()
        res_sq = resid @ resid
        for _ in range(sweeps):
            f_dir = fvp(direction)
            step_len = res_sq / (direction @ f_dir)
            sol += step_len * direction
            resid -= step_len * f_dir
            res_sq, prev = resid @ resid, res_sq
            direction = resid + res_sq / prev * direction
        return sol

    g = flat(L.autograd.grad(surrogate(), params))
    step = solve_fisher(g)
    shs = 0.5 * (step @ fvp(step))              # predicted KL of the raw step
    full = step * L.sqrt(0.01 / shs)            # rescaled to a KL of 0.01
    old_vec = nn.utils.parameters_to_vector(params).detach()
    base = surrogate().item()
    tried = []
    for frac in 0.5 ** np.arange(5):
        nn.utils.vector_to_parameters(old_vec + frac * full, params)
        with L.no_grad():
            gain, k = surrogate().item() - base, kl().item()
        tried.append((gain, k))
        if k <= 0.015 and gain > 0:
            break
    return dict(g=g, step=step, shs=shs, tried=tried, w=params_of(pi))


@program
def hamiltonian_neural_network_symplectic_gradient(L):
    """A Hamiltonian neural network: H(q, p) by an MLP, the time derivatives (dq/dt, dp/dt) =
    (dH/dp, -dH/dq) from one autograd.grad(create_graph=True) of H.sum() with respect to
    the state, trained on a spring's derivatives; a leapfrog rollout under enable_grad inside
    no_grad; energy drift of the rollout."""
    nn = L.nn
    H = load_seeded(L, nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1)).double(),
                    101, 0.5)
    rng = np.random.RandomState(102)
    state = rng.randn(16, 2)
    dstate = np.stack([state[:, 1], -state[:, 0]], 1)            # H = (q^2 + p^2) / 2
    x, dx = L.tensor(state), L.tensor(dstate)

    def time_derivative(x, create_graph):
        x = x if x.requires_grad else x.requires_grad_(True)
        dH = L.autograd.grad(H(x).sum(), x, create_graph=create_graph)[0]
        dHdq, dHdp = dH.split(1, dim=1)
        return L.cat([dHdp, -dHdq], dim=1)

    opt = L.optim.Adam(H.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: (time_derivative(x.clone(), True) - dx).pow(2).mean())
    with L.no_grad():
        z = L.tensor([[1.0, 0.0]], dtype=L.float64)
        traj = [z]
        for _ in range(5):
            with L.enable_grad():
                d = time_derivative(z.clone(), False)
            z = z + 0.1 * d
            traj.append(z)
        traj = L.cat(traj)
        energy = H(traj).squeeze(1)
    return dict(losses=losses, traj=traj, drift=energy - energy[0], g=grads_of(H))


@program
def deq_fixed_point_with_implicit_backward_hook(L):
    """A deep equilibrium layer: the fixed point z = tanh(W z + U x) found by iteration under
    no_grad, one differentiable step re-attached, and the implicit-function gradient by a
    register_hook that solves g = J^T g + grad by fixed-point iterations of autograd.grad
    (vector-Jacobian products with retain_graph) on a detached copy."""
    nn = L.nn

    class DEQ(nn.Module):
        def __init__(self, d=5, din=3):
            super().__init__()
            self.W = nn.Linear(d, d, bias=False)
            self.U = nn.Linear(din, d)

        def f(self, z, x):
            return L.tanh(self.W(z) + self.U(x))

        def forward(self, x):
            with L.no_grad():
                z = L.zeros(x.shape[0], 5, dtype=x.dtype)
                for _ in range(40):
                    z = self.f(z, x)
            z = self.f(z, x)
            z0 = z.clone().detach().requires_grad_()
            f0 = self.f(z0, x)

            def backward_hook(grad):
                g = grad
                for _ in range(40):
                    g = L.autograd.grad(f0, z0, g, retain_graph=True)[0] + grad
                return g

            z.register_hook(backward_hook)
            return z

    model = load_seeded(L, DEQ().double(), 103, 0.3)
    head = load_seeded(L, nn.Linear(5, 2).double(), 104, 0.5)
    x = L.tensor(_arr(4, 3, seed=105))
    y = L.tensor(_labels(4, 2, 106))
    opt = L.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.1)
    losses = train_steps(opt, lambda: nn.functional.cross_entropy(head(model(x)), y))
    z = model(x)
    return dict(losses=losses, z=z, res=(z - model.f(z, x)).abs().max(), g=grads_of(model))


@program
def pixelcnn_masked_convolutions_and_autoregressive_order(L):
    """PixelCNN: a Conv2d subclass whose weight is multiplied by a type-A / type-B mask buffer
    (filled by slicing) in forward, a 256-way-free 4-level quantised output trained by
    cross entropy over (N, K, H, W) logits, and a check that output pixel (i, j) does not
    depend on later pixels (the input gradient of one output is zero there)."""
    nn, F = L.nn, L.nn.functional

    def hide_future(mask, see_centre):
        # raster order: rows below the centre are hidden, and in the centre row the taps
        # right of the centre (and the centre itself unless see_centre)
        rows, cols = mask.shape[-2:]
        mask.fill_(1)
        mask[:, :, rows // 2, cols // 2 + int(see_centre):] = 0
        mask[:, :, rows // 2 + 1:] = 0

    class MaskedConv2d(nn.Conv2d):
        """A convolution whose kernel is multiplied by a 0/1 buffer on every call; the
        first layer may not see the centre pixel ("A"), later ones may ("B")."""
        def __init__(self, kind, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.register_buffer("mask", self.weight.data.clone())
            hide_future(self.mask, kind == "B")

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask, self.bias, self.stride, self.padding)

    model = nn.Sequential(MaskedConv2d("A", 1, 6, 5, padding=2), nn.ReLU(),
                          MaskedConv2d("B", 6, 6, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(6, 4, 1)).double()
    load_seeded(L, model, 107, 0.3)              # overwrites the mask buffers too: redo them
    for m in model.modules():
        if isinstance(m, MaskedConv2d):
            hide_future(m.mask, m.in_channels != 1)
    levels = L.tensor(_labels(2 * 36, 4, 108).reshape(2, 6, 6))
    x = (levels.double() / 3).unsqueeze(1)
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), levels))
    xi = x.clone().requires_grad_(True)
    model(xi)[0, :, 2, 3].sum().backward()
    later = xi.grad[0, 0].reshape(-1)[2 * 6 + 3:]
    return dict(losses=losses, dep=bool((later == 0).all()), g=xi.grad, m=model[0].mask[0, 0])


@program
def gaussian_mixture_by_mixture_same_family_and_em(L):
    """A Gaussian mixture fitted two ways: gradient descent on MixtureSameFamily(Categorical,
    Independent(Normal)) log-likelihood with softmax weights and softplus scales, and EM
    steps with responsibilities by log_softmax of component log-probs; posterior assignments
    by the responsibilities' argmax, the mixture's mean/variance and cdf-free log_prob."""
    D, F = L.distributions, L.nn.functional
    rng = np.random.RandomState(109)
    X = L.tensor(np.concatenate([rng.randn(12, 2) * 0.5 + [2, 0], rng.randn(12, 2) - [1, 1]]))
    logits = L.nn.Parameter(L.zeros(2, dtype=L.float64))
    locs = L.nn.Parameter(L.tensor([[1.0, 1.0], [-1.0, 0.0]], dtype=L.float64))
    raw = L.nn.Parameter(L.zeros(2, 2, dtype=L.float64))

    def mixture():
        comp = D.Independent(D.Normal(locs, F.softplus(raw) + 1e-3), 1)
        return D.MixtureSameFamily(D.Categorical(logits=logits), comp)

    opt = L.optim.Adam([logits, locs, raw], lr=0.05)
    losses = train_steps(opt, lambda: -mixture().log_prob(X).mean(), 4)
    mix = mixture()
    with L.no_grad():
        mu, var, w = locs.clone(), (F.softplus(raw) + 1e-3) ** 2, F.softmax(logits, 0)
        for _ in range(3):
            comp_lp = D.Normal(mu.unsqueeze(0), var.sqrt().unsqueeze(0)).log_prob(
                X.unsqueeze(1)).sum(-1)
            resp = F.log_softmax(comp_lp + L.log(w), dim=1).exp()
            nk = resp.sum(0)
            w = nk / nk.sum()
            mu = resp.T @ X / nk.unsqueeze(1)
            var = (resp.unsqueeze(-1) * (X.unsqueeze(1) - mu) ** 2).sum(0) / nk.unsqueeze(1)
    return dict(losses=losses, mean=mix.mean, var=mix.variance, lp=mix.log_prob(X[:3]),
                w=w, mu=mu, em_var=var, assign=resp.argmax(1), g=locs.grad)


# ----------------------------------------------------------------------------------------------
# spectral methods, complex parameters, geometry
# ----------------------------------------------------------------------------------------------
@program
def fourier_neural_operator_complex_spectral_weights(L):
    """A 1-d Fourier Neural Operator layer: torch.fft.rfft of the lifted signal, the lowest
    modes multiplied by complex weights (a cfloat-style parameter, scale * torch.rand-free
    copy) via einsum('bix,iox->box'), zero-filled higher modes in a new complex tensor,
    irfft(n=...) back, plus a pointwise Conv1d path and GELU; trained by Adam, whose complex
    parameter updates are checked."""
    nn, F = L.nn, L.nn.functional

    class SpectralConv1d(nn.Module):
        def __init__(self, cin, cout, modes):
            super().__init__()
            self.modes = modes
            scale = 1 / (cin * cout)
            w = (_arr(cin, cout, modes, seed=110) + 1j * _arr(cin, cout, modes, seed=111))
            self.weights = nn.Parameter(L.tensor(scale * w, dtype=L.complex128))

        def forward(self, signal):                      # (b, cin, n) real
            n = signal.size(-1)
            low = L.fft.rfft(signal)[:, :, :self.modes]   # the kept frequencies only
            spec = L.zeros(signal.shape[0], self.weights.shape[1], n // 2 + 1, dtype=L.cdouble)
            spec[:, :, :self.modes] = L.einsum("bix,iox->box", low, self.weights)
            return L.fft.irfft(spec, n=n)                 # higher modes come back as zero

    class FNO(nn.Module):
        def __init__(self):
            super().__init__()
            self.lift = nn.Linear(2, 4)
            self.spec = SpectralConv1d(4, 4, 3)
            self.w = nn.Conv1d(4, 4, 1)
            self.proj = nn.Linear(4, 1)

        def forward(self, pts):                          # (b, n, 2) -> (b, n)
            chan_first = self.lift(pts).transpose(1, 2)
            mixed = F.gelu(self.w(chan_first) + self.spec(chan_first))
            return self.proj(mixed.transpose(1, 2)).squeeze(-1)

    model = FNO().double()
    state = {k: v for k, v in load_seeded(L, nn.Sequential(nn.Linear(2, 4), nn.Conv1d(4, 4, 1),
                                                            nn.Linear(4, 1)).double(),
                                          112, 0.4).state_dict().items()}
    model.lift.load_state_dict({"weight": state["0.weight"], "bias": state["0.bias"]})
    model.w.load_state_dict({"weight": state["1.weight"], "bias": state["1.bias"]})
    model.proj.load_state_dict({"weight": state["2.weight"], "bias": state["2.bias"]})
    grid = np.linspace(0, 1, 8)
    u0 = _arr(3, 8, seed=113)
    x = L.tensor(np.stack([u0, np.broadcast_to(grid, (3, 8))], -1))
    y = L.tensor(np.roll(u0, 1, axis=1))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = train_steps(opt, lambda: F.mse_loss(model(x), y))
    return dict(losses=losses, w=model.spec.weights, g=grads_of(model), out=model(x))


@program
def rational_quadratic_spline_transform(L):
    """A neural spline flow's elementwise monotone rational-quadratic spline on [-B, B] with
    identity tails: widths/heights by softmax with a minimum bin size, knots by cumsum and
    F.pad, knot slopes by softplus, each input's bin by searchsorted (and, as a check, by
    counting the inner edges it passes), the bin's numbers by gather, the map and the log of
    its slope, and the way back by solving a quadratic; gradients to the spline parameters."""
    F = L.nn.functional
    K, B = 4, 2.0
    raw_w = L.tensor(_arr(6, K, seed=114), requires_grad=True)
    raw_h = L.tensor(_arr(6, K, seed=115), requires_grad=True)
    raw_d = L.tensor(_arr(6, K - 1, seed=116), requires_grad=True)
    x = L.tensor(np.array([-2.5, -1.3, -0.2, 0.4, 1.9, 2.2]))

    def edges_and_sizes(raw, smallest=1e-3):
        # bin sizes: a softmax share of the interval, each at least ``smallest`` of it
        share = F.softmax(raw, dim=-1)
        share = smallest + (1 - smallest * K) * share
        edges = F.pad(L.cumsum(share, dim=-1), (1, 0), mode="constant", value=0.0)
        edges = 2 * B * edges - B                       # [0, 1] -> [-B, B]
        edges[..., 0], edges[..., -1] = -B, B           # exact ends despite rounding
        return edges, edges[..., 1:] - edges[..., :-1]

    def spline(v, inverse=False):
        in_range = (v >= -B) & (v <= B)
        x_edges, x_size = edges_and_sizes(raw_w)
        y_edges, y_size = edges_and_sizes(raw_h)
        slopes = F.pad(1e-3 + F.softplus(raw_d), (1, 1), value=1.0)   # slope 1 at the ends
        inner = (y_edges if inverse else x_edges)[..., 1:-1]
        vc = v.clamp(-B, B)
        bin_ = (L.searchsorted(inner.contiguous(), vc.unsqueeze(-1))).squeeze(-1)
        bin_by_count = (vc.unsqueeze(-1) >= inner).sum(-1)

        def at_bin(table):
            return table.gather(-1, bin_.unsqueeze(-1)).squeeze(-1)

        x0, wid, y0, hgt = at_bin(x_edges), at_bin(x_size), at_bin(y_edges), at_bin(y_size)
        d_lo, d_hi = at_bin(slopes[..., :-1]), at_bin(slopes[..., 1:])
        ratio = hgt / wid                                # the bin's mean slope
        bend = d_hi + d_lo - 2 * ratio
        if inverse:
            # solve the forward map for the position t in the bin: a t^2 + b t + c = 0
            dy = vc - y0
            qa = hgt * (ratio - d_lo) + dy * bend
            qb = hgt * d_lo - dy * bend
            qc = -ratio * dy
            t = 2 * qc / (-qb - L.sqrt(qb ** 2 - 4 * qa * qc))
            return L.where(in_range, t * wid + x0, v), None, bin_by_count
        t = (vc - x0) / wid
        mix = t * (1 - t)
        below = ratio + bend * mix
        out = y0 + hgt * (ratio * t ** 2 + d_lo * mix) / below
        slope_num = ratio ** 2 * (d_hi * t ** 2 + 2 * ratio * mix + d_lo * (1 - t) ** 2)
        log_slope = L.log(slope_num) - 2 * L.log(below)
        return (L.where(in_range, out, v), L.where(in_range, log_slope, L.zeros_like(v)),
                bin_by_count)

    y, logdet, idx2 = spline(x)
    back, _, _ = spline(y, inverse=True)
    (y.sum() + logdet.sum()).backward()
    return dict(y=y, logdet=logdet, idx2=idx2, back=back, gw=raw_w.grad, gh=raw_h.grad,
                gd=raw_d.grad)


@program
def poincare_embeddings_riemannian_sgd(L):
    """Poincare embeddings: the hyperbolic distance arcosh(1 + 2|u-v|^2 / ((1-|u|^2)(1-|v|^2)))
    with clamps, a softmax loss over one positive and fixed negatives, the Riemannian
    gradient rescaling (1 - |x|^2)^2 / 4 applied to the embedding's grad, and the
    retraction back into the ball by renormalising rows above 1 - eps."""
    nn, F = L.nn, L.nn.functional
    emb = nn.Embedding(8, 2).double()
    with L.no_grad():
        emb.weight.copy_(L.tensor(np.random.RandomState(117).uniform(-1e-1, 1e-1, (8, 2))))
    pairs = L.tensor([[0, 1], [0, 2], [1, 3], [2, 4], [3, 5], [4, 6]])
    negs = L.tensor(_labels(6 * 3, 8, 118).reshape(6, 3))
    eps = 1e-5

    def dist(u, v):
        sq = ((u - v) ** 2).sum(-1)
        nu = L.clamp((u ** 2).sum(-1), 0, 1 - eps)
        nv = L.clamp((v ** 2).sum(-1), 0, 1 - eps)
        return L.acosh(1 + 2 * sq / ((1 - nu) * (1 - nv)))

    losses = []
    for _ in range(4):
        emb.zero_grad()
        u = emb(pairs[:, 0]).unsqueeze(1)
        v = emb(L.cat([pairs[:, 1:], negs], dim=1))
        d = dist(u, v)
        loss = F.cross_entropy(-d, L.zeros(6, dtype=L.long))
        loss.backward()
        with L.no_grad():
            w = emb.weight
            scale = ((1 - (w ** 2).sum(-1, keepdim=True)) ** 2 / 4)
            w -= 0.3 * scale * w.grad
            norms = w.norm(dim=-1, keepdim=True)
            w.copy_(L.where(norms >= 1, w / norms * (1 - eps), w))
        losses.append(loss.item())
    return dict(losses=losses, w=emb.weight, d=dist(emb.weight[:1], emb.weight))


@program
def siren_sine_layers_with_first_layer_init_and_laplacian(L):
    """SIREN: sin(omega_0 * (W x + b)) layers with the paper's uniform init bounds
    (1/in for the first layer, sqrt(6/in)/omega_0 for the rest) drawn from numpy,
    fitting an image-like 2-d signal on a meshgrid of coordinates, and the Laplacian of
    the fitted field by two autograd.grad passes (a divergence over both coordinates)."""
    nn = L.nn

    class SineLayer(nn.Module):
        def __init__(self, fin, fout, first, omega=30.0, seed=0):
            super().__init__()
            self.omega, self.linear = omega, nn.Linear(fin, fout)
            bound = 1 / fin if first else math.sqrt(6 / fin) / omega
            rng = np.random.RandomState(seed)
            with L.no_grad():
                self.linear.weight.copy_(L.tensor(rng.uniform(-bound, bound, (fout, fin))))
                self.linear.bias.copy_(L.tensor(rng.uniform(-0.1, 0.1, fout)))

        def forward(self, x):
            return L.sin(self.omega * self.linear(x))

    net = nn.Sequential(SineLayer(2, 16, True, seed=119), SineLayer(16, 16, False, seed=120),
                        nn.Linear(16, 1)).double()
    with L.no_grad():
        net[2].weight.copy_(L.tensor(_arr(1, 16, seed=121) * 0.1))
        net[2].bias.zero_()
    lin = L.linspace(-1, 1, 5, dtype=L.float64)
    coords = L.stack(L.meshgrid(lin, lin, indexing="xy"), dim=-1).reshape(-1, 2)
    target = L.sin(3 * coords[:, :1]) * L.cos(2 * coords[:, 1:])
    opt = L.optim.Adam(net.parameters(), lr=1e-4)
    losses = train_steps(opt, lambda: ((net(coords) - target) ** 2).mean())
    c = coords.clone().requires_grad_(True)
    y = net(c)
    g = L.autograd.grad(y, c, L.ones_like(y), create_graph=True)[0]
    lap = 0
    for i in range(2):
        lap = lap + L.autograd.grad(g[:, i], c, L.ones_like(g[:, i]), create_graph=True)[0][:, i]
    return dict(losses=losses, lap=lap, grad=g, g=grads_of(net))


@program
def differentiable_linear_algebra_losses(L):
    """Losses through decompositions: a nuclear-norm penalty by svdvals, an orthogonality
    penalty ||W^T W - I||_F by matrix_norm, the log-determinant of an SPD matrix built as
    A A^T + I, torch.linalg.lstsq's solution's residual, a matrix exponential of a
    skew-symmetric matrix (a rotation), eigvalsh's largest eigenvalue, and QR's R
    diagonal; gradients back to the raw matrices."""
    A = L.tensor(_arr(4, 4, seed=122), requires_grad=True)
    W = L.tensor(_arr(5, 3, seed=123), requires_grad=True)
    X = L.tensor(_arr(8, 3, seed=124))
    y = L.tensor(_arr(8, 2, seed=125))
    spd = A @ A.T + L.eye(4, dtype=L.float64)
    nuc = L.linalg.svdvals(A).sum()
    orth = L.linalg.matrix_norm(W.T @ W - L.eye(3, dtype=L.float64))
    ld = L.logdet(spd)
    sol = L.linalg.lstsq(X, y @ W[:2, :2]).solution
    resid = (X @ sol - y @ W[:2, :2]).pow(2).sum()
    skew = A - A.T
    R = L.linalg.matrix_exp(skew * 0.1)
    top = L.linalg.eigvalsh(spd)[-1]
    Q, Rq = L.linalg.qr(W)
    total = nuc + orth + ld + resid + R.trace() + top + Rq.diagonal().abs().sum()
    total.backward()
    return dict(nuc=nuc, orth=orth, ld=ld, sol=sol, R=R, RtR=R.T @ R, top=top, Rq=Rq.abs(),
                gA=A.grad, gW=W.grad, nn=L.linalg.matrix_norm(A, ord="nuc"),
                cond=L.linalg.cond(spd), rank=L.linalg.matrix_rank(W))


@program
def image_inpainting_patches_by_unfold_fold(L):
    """Patch-based processing: F.unfold into overlapping 3x3 patches (stride 2), a per-patch
    linear denoiser, F.fold back with an overlap count from folding ones to average, a mask of
    missing pixels filled by the reconstruction (torch.where), a masked L1 loss, and
    pixel_shuffle / pixel_unshuffle round trips of the result."""
    nn, F = L.nn, L.nn.functional
    img = L.tensor(_arr(2, 2, 7, 7, seed=126))
    mask = L.tensor(np.random.RandomState(127).rand(2, 1, 7, 7) > 0.3)
    lin = load_seeded(L, nn.Linear(18, 18).double(), 128, 0.2)
    opt = L.optim.Adam(lin.parameters(), lr=1e-2)

    def inpaint():
        corrupted = img * mask
        patches = F.unfold(corrupted, kernel_size=3, stride=2)        # (N, 18, P)
        recon = lin(patches.transpose(1, 2)).transpose(1, 2)
        out = F.fold(recon, output_size=(7, 7), kernel_size=3, stride=2)
        count = F.fold(L.ones_like(recon), output_size=(7, 7), kernel_size=3, stride=2)
        return L.where(mask, img, out / count.clamp(min=1)), out / count.clamp(min=1)

    losses = train_steps(opt, lambda: (inpaint()[1] - img).abs().mul(~mask).sum() /
                         (~mask).sum())
    filled, raw = inpaint()
    sq = F.pixel_unshuffle(filled[:, :, :6, :6], 2)
    return dict(losses=losses, filled=filled, sq=sq, back=F.pixel_shuffle(sq, 2),
                g=grads_of(lin))


# ----------------------------------------------------------------------------------------------
# embeddings, discrete latents, sparse coding, survival curves
# ----------------------------------------------------------------------------------------------
@program(rtol=1e-6, atol=1e-7)         # float32 losses as Python floats
def word2vec_skipgram_negative_sampling_sparse_sgd(L):
    """word2vec skip-gram with negative sampling in float32: centre and context nn.Embedding
    (sparse=True) with the usual init (uniform centre by numpy, zero context), pairs from a
    window over a token list, unigram^0.75 negatives drawn by numpy, scores by bmm,
    logsigmoid losses, plain SGD and Adagrad on the sparse gradients, and nearest
    neighbours by cosine similarity of the normalised centre vectors."""
    nn, F = L.nn, L.nn.functional
    corpus = "the cat sat on the mat the dog sat on the log the cat saw the dog".split()
    vocab = sorted(set(corpus))
    w2i = {w: i for i, w in enumerate(vocab)}
    ids = [w2i[w] for w in corpus]
    pairs = [(ids[i], ids[j]) for i in range(len(ids))
             for j in range(max(0, i - 2), min(len(ids), i + 3)) if i != j]
    counts = np.bincount(ids, minlength=len(vocab)) ** 0.75
    rng = np.random.RandomState(129)
    V, Dm, K = len(vocab), 6, 3

    class SGNS(nn.Module):
        def __init__(self):
            super().__init__()
            self.u = nn.Embedding(V, Dm, sparse=True)
            self.v = nn.Embedding(V, Dm, sparse=True)
            bound = 0.5 / Dm
            with L.no_grad():
                self.u.weight.copy_(L.tensor(rng.uniform(-bound, bound, (V, Dm)),
                                             dtype=L.float32))
                self.v.weight.zero_()

        def forward(self, c, o, neg):
            u = self.u(c)
            pos = F.logsigmoid((u * self.v(o)).sum(-1))
            negs = F.logsigmoid(-L.bmm(self.v(neg), u.unsqueeze(2)).squeeze(2)).sum(-1)
            return -(pos + negs).mean()

    model = SGNS()
    opt_u = L.optim.SGD(model.u.parameters(), lr=0.5)
    opt_v = L.optim.Adagrad(model.v.parameters(), lr=0.5)
    losses = []
    for step in range(4):
        batch = np.array(pairs)[rng.choice(len(pairs), 16, replace=False)]
        neg = rng.choice(V, (16, K), p=counts / counts.sum())
        opt_u.zero_grad()
        opt_v.zero_grad()
        loss = model(L.tensor(batch[:, 0]), L.tensor(batch[:, 1]), L.tensor(neg))
        loss.backward()
        opt_u.step()
        opt_v.step()
        losses.append(loss.item())
    with L.no_grad():
        E = F.normalize(model.u.weight, dim=1)
        sims = E @ E[w2i["cat"]]
        near = sims.topk(3).indices
    return dict(losses=losses, u=model.u.weight, v=model.v.weight, near=near, sims=sims)


@program
def gumbel_softmax_straight_through_categorical_vae(L):
    """A categorical VAE: encoder logits (N, latents, classes), Gumbel-softmax relaxation
    written by hand with fixed uniform noise (-log(-log u)), temperature annealing by
    exp decay, the straight-through hard sample (y_hard - y.detach() + y with one_hot of
    argmax via scatter), a KL to the uniform prior, and BCE-with-logits reconstruction."""
    nn, F = L.nn, L.nn.functional
    N, Lt, C = 6, 2, 3
    enc = load_seeded(L, nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, Lt * C))
                      .double(), 130, 0.4)
    dec = load_seeded(L, nn.Sequential(nn.Linear(Lt * C, 12), nn.ReLU(), nn.Linear(12, 8))
                      .double(), 131, 0.4)
    x = L.tensor((np.random.RandomState(132).rand(N, 8) > 0.5).astype(np.float64))
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)

    def gumbel_softmax(logits, tau, u, hard):
        g = -L.log(-L.log(u + 1e-20) + 1e-20)
        y = F.softmax((logits + g) / tau, dim=-1)
        if not hard:
            return y
        idx = y.max(dim=-1, keepdim=True)[1]
        y_hard = L.zeros_like(y).scatter_(-1, idx, 1.0)
        return (y_hard - y).detach() + y

    losses = []
    for step in range(3):
        tau = max(0.5, math.exp(-0.3 * step))
        u = L.tensor(np.random.RandomState(133 + step).rand(N, Lt, C))
        logits = enc(x).view(N, Lt, C)
        z = gumbel_softmax(logits, tau, u, hard=step > 0)
        recon = dec(z.view(N, -1))
        q = F.softmax(logits, dim=-1)
        kl = (q * (L.log(q + 1e-20) - math.log(1.0 / C))).sum((1, 2)).mean()
        loss = F.binary_cross_entropy_with_logits(recon, x, reduction="sum") / N + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, z=z, ge=grads_of(enc), gd=grads_of(dec))


@program
def lista_unrolled_sparse_coding_with_softshrink(L):
    """Learned ISTA: a dictionary, the ISTA iteration z <- softshrink(z + W_e (x - D z),
    lambda) unrolled with learned matrices and per-layer thresholds (as a softshrink written
    with sign and relu, and F.softshrink for a fixed lambda), trained to match sparse codes;
    sparsity measured by count_nonzero."""
    nn, F = L.nn, L.nn.functional
    rng = np.random.RandomState(134)
    Dict = rng.randn(6, 10) / np.sqrt(6)
    codes = rng.randn(12, 10) * (rng.rand(12, 10) < 0.2)
    X, Z = L.tensor(codes @ Dict.T), L.tensor(codes)

    class LISTA(nn.Module):
        def __init__(self, T=3):
            super().__init__()
            Lc = np.linalg.norm(Dict, 2) ** 2
            self.We = nn.Linear(6, 10, bias=False)
            self.S = nn.Linear(10, 10, bias=False)
            with L.no_grad():
                self.We.weight.copy_(L.tensor(Dict.T / Lc))
                self.S.weight.copy_(L.tensor(np.eye(10) - Dict.T @ Dict / Lc))
            self.theta = nn.Parameter(L.full((T,), 0.1 / Lc, dtype=L.float64))
            self.T = T

        def forward(self, x):
            b = self.We(x)
            z = L.sign(b) * F.relu(b.abs() - self.theta[0])
            for t in range(1, self.T):
                c = b + self.S(z)
                z = L.sign(c) * F.relu(c.abs() - self.theta[t])
            return z

    model = LISTA().double()
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    losses = train_steps(opt, lambda: F.mse_loss(model(X), Z), 4)
    with L.no_grad():
        z = model(X)
        ista = L.zeros_like(Z)
        for _ in range(5):
            ista = F.softshrink(ista + (X - ista @ L.tensor(Dict).T) @ L.tensor(Dict) * 0.3, 0.05)
    return dict(losses=losses, z=z, nnz=L.count_nonzero(z, dim=1), ista=ista,
                theta=model.theta, g=grads_of(model))


@program
def sliced_wasserstein_by_sorted_projections(L):
    """A sliced Wasserstein loss between a generated and a target point cloud: fixed random
    directions normalised by F.normalize, projections by matmul, torch.sort of each
    projection (gradient through the sort's values), the mean squared difference of the
    sorted projections, a generator trained by RMSprop; also torch.quantile matching."""
    nn, F = L.nn, L.nn.functional
    gen = load_seeded(L, nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2)).double(),
                      135, 0.5)
    z = L.tensor(_arr(20, 2, seed=136))
    target = L.tensor(_arr(20, 2, seed=137) * 0.5 + np.array([2.0, -1.0]))
    dirs = F.normalize(L.tensor(_arr(2, 8, seed=138)), dim=0)

    def swd(a, b):
        pa, _ = L.sort(a @ dirs, dim=0)
        pb, _ = L.sort(b @ dirs, dim=0)
        return ((pa - pb) ** 2).mean()

    opt = L.optim.RMSprop(gen.parameters(), lr=1e-2, momentum=0.5, centered=True)
    losses = train_steps(opt, lambda: swd(gen(z), target), 4)
    qs = L.linspace(0.1, 0.9, 5, dtype=L.float64)
    with L.no_grad():
        qa = L.quantile(gen(z) @ dirs, qs, dim=0)
        qb = L.quantile(target @ dirs, qs, dim=0)
    return dict(losses=losses, qa=qa, qb=qb, g=grads_of(gen))


@program
def ntm_content_addressing_and_circular_shift(L):
    """Neural Turing machine addressing: content weights by softmax(beta * cosine
    similarity(key, memory)), interpolation with the previous weights by a sigmoid gate,
    a circular shift by a 3-tap softmax kernel (torch.roll sums and the same by an
    FFT circular convolution), sharpening w^gamma / sum, and the read vector by bmm."""
    nn, F = L.nn, L.nn.functional
    B, Nm, M = 2, 6, 4
    ctrl = load_seeded(L, nn.Linear(5, M + 1 + 1 + 3 + 1).double(), 139, 0.5)
    memory = L.tensor(_arr(B, Nm, M, seed=140))
    w_prev = F.softmax(L.tensor(_arr(B, Nm, seed=141)), dim=1)
    h = L.tensor(_arr(B, 5, seed=142), requires_grad=True)
    o = ctrl(h)
    key, beta, g, s, gamma = L.split(o, [M, 1, 1, 3, 1], dim=1)
    beta, g = F.softplus(beta), L.sigmoid(g)
    s, gamma = F.softmax(s, dim=1), 1 + F.softplus(gamma)
    wc = F.softmax(beta * F.cosine_similarity(memory, key.unsqueeze(1), dim=2, eps=1e-16), dim=1)
    wg = g * wc + (1 - g) * w_prev
    shifted = sum(s[:, k:k + 1] * L.roll(wg, shifts=k - 1, dims=1) for k in range(3))
    kernel = L.zeros(B, Nm, dtype=L.float64)
    kernel[:, :2] = s[:, 1:]
    kernel[:, -1] = s[:, 0]
    by_fft = L.fft.irfft(L.fft.rfft(wg) * L.fft.rfft(kernel), n=Nm)
    w = shifted ** gamma
    w = w / (w.sum(dim=1, keepdim=True) + 1e-16)
    read = L.bmm(w.unsqueeze(1), memory).squeeze(1)
    read.pow(2).sum().backward()
    return dict(wc=wc, shifted=shifted, fft=by_fft, w=w, read=read, gh=h.grad,
                g=grads_of(ctrl))


@program
def gamma_survival_curve_by_regularized_incomplete_gamma(L):
    """A parametric survival model: S(t) = Q(k, t / theta) by torch.special.gammaincc with a
    per-sample scale theta = exp(x w) learned by maximum likelihood on censored times (log
    pdf for events, log S for the censored); the shape k fixed, because PyTorch has no
    derivative in the first argument, and the error a program gets when it tries to learn
    it too."""
    D = L.distributions
    rng = np.random.RandomState(143)
    x = L.tensor(rng.randn(15, 2))
    t = L.tensor(rng.gamma(2.0, 1.5, 15))
    event = L.tensor(rng.rand(15) < 0.7)
    w = L.nn.Parameter(L.zeros(2, dtype=L.float64))
    b = L.nn.Parameter(L.tensor(0.0, dtype=L.float64))
    k = L.tensor(2.0, dtype=L.float64)

    def nll(k):
        theta = L.exp(x @ w + b)
        log_pdf = D.Gamma(k, 1 / theta).log_prob(t)
        log_surv = L.log(L.special.gammaincc(k, t / theta))
        return -L.where(event, log_pdf, log_surv).mean()

    opt = L.optim.Adam([w, b], lr=0.05)
    losses = train_steps(opt, lambda: nll(k), 4)
    cdf = L.special.gammainc(k, t / L.exp(x @ w + b))
    k_learn = L.nn.Parameter(k.clone())
    return dict(losses=losses, w=w, cdf=cdf, gw=w.grad,
                learn_k=err(lambda: nll(k_learn).backward()),
                lower=err(lambda: L.special.gammainc(k_learn, t).sum().backward()))


@program
def label_propagation_on_a_checked_sparse_adjacency(L):
    """Label propagation on a graph: a symmetric-normalised adjacency D^-1/2 A D^-1/2 built by
    torch.sparse_coo_tensor(..., check_invariants=True) from an edge list, degrees by
    torch.sparse.sum, Y <- alpha S Y + (1 - alpha) Y0 iterated with torch.sparse.mm, and the
    errors the invariant checks give a program whose edge list names a node past num_nodes,
    a negative node (checked even without the checks where the size is read off the
    indices), or claims is_coalesced for unsorted indices."""
    edges = L.tensor([[0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 0, 5],
                      [1, 0, 2, 1, 3, 2, 4, 3, 5, 4, 5, 0]])
    n = 6
    w = L.ones(edges.shape[1], dtype=L.float64)
    A = L.sparse_coo_tensor(edges, w, (n, n), check_invariants=True).coalesce()
    deg = L.sparse.sum(A, dim=1).to_dense()
    dinv = deg.pow(-0.5)
    vals = dinv[A.indices()[0]] * A.values() * dinv[A.indices()[1]]
    S = L.sparse_coo_tensor(A.indices(), vals, (n, n), check_invariants=True)
    Y0 = L.zeros(n, 2, dtype=L.float64)
    Y0[0, 0], Y0[3, 1] = 1.0, 1.0
    Y = Y0.clone()
    for _ in range(10):
        Y = 0.8 * L.sparse.mm(S, Y) + 0.2 * Y0
    bad = L.tensor([[0, 6], [1, 2]])
    return dict(Y=Y, pred=Y.argmax(1), deg=deg,
                past=err(lambda: L.sparse_coo_tensor(bad, L.ones(2), (n, n),
                                                     check_invariants=True)),
                negative=err(lambda: L.sparse_coo_tensor(-bad, L.ones(2), (n, n),
                                                         check_invariants=True)),
                unsorted=err(lambda: L.sparse_coo_tensor(edges, w, (n, n), check_invariants=True,
                                                         is_coalesced=True)),
                unchecked=L.sparse_coo_tensor(bad, L.ones(2), (n, n),
                                              check_invariants=False).shape,
                inferred=err(lambda: L.sparse_coo_tensor(-bad, L.ones(2),
                                                         check_invariants=False)))


# ----------------------------------------------------------------------------------------------
# programs that draw from torch's generator (manual_seed gives both libraries the same stream)
# ----------------------------------------------------------------------------------------------
@program
def von_mises_wind_direction_regression_on_seeded_draws(L):
    """Circular regression: wind directions drawn under torch.manual_seed from VonMises
    (rejection sampling in float64), a linear model of the mean direction through atan2 of
    a predicted (cos, sin) pair, the concentration by softplus, maximum likelihood by Adam;
    circular mean and resultant length of the draws."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(0)
    x = L.randn(64, 2, dtype=L.float64)
    true_mu = L.atan2(x[:, 1] + 0.5, x[:, 0] + 1.0)
    y = D.VonMises(true_mu, L.tensor([0.3, 2.0, 8.0], dtype=L.float64).repeat(22)[:64]).sample()
    small = D.VonMises(L.tensor(0.5), L.tensor(1e-3)).sample((5,))
    head = nn.Linear(2, 2).double()
    raw_kappa = nn.Parameter(L.zeros(1, dtype=L.float64))
    opt = L.optim.Adam(list(head.parameters()) + [raw_kappa], lr=0.05)

    def nll():
        cs = head(x)
        mu = L.atan2(cs[:, 1], cs[:, 0])
        return -D.VonMises(mu, F.softplus(raw_kappa)).log_prob(y).mean()

    losses = train_steps(opt, nll, 4)
    resultant = L.stack([y.cos().mean(), y.sin().mean()])
    return dict(y=y, small=small, losses=losses, w=params_of(head), kappa=raw_kappa,
                mean_dir=L.atan2(resultant[1], resultant[0]), R=resultant.norm())


@program
def seeded_default_init_dropout_and_multinomial_generation(L):
    """A whole program on the global generator: modules built with their default init under
    manual_seed (no weights copied), dropout active while training, data from randn and
    randint, Langevin-style noise by randn_like, and text generated by torch.multinomial
    from temperature-scaled softmax; the losses, weights and samples must be the same."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(1234)
    model = nn.Sequential(nn.Embedding(10, 8), nn.Flatten(), nn.Linear(24, 16), nn.ReLU(),
                          nn.Dropout(0.3), nn.Linear(16, 10))
    x = L.randint(0, 10, (12, 3))
    y = L.randint(0, 10, (12,))
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), y), 3)
    model.eval()
    ctx, out = x[:2].clone(), []
    with L.no_grad():
        for _ in range(5):
            probs = F.softmax(model(ctx) / 0.8, dim=-1)
            nxt = L.multinomial(probs, num_samples=1)
            out.append(nxt)
            ctx = L.cat([ctx[:, 1:], nxt], dim=1)
    z = L.randn(4, 8)
    for _ in range(3):
        z = z - 0.05 * z + math.sqrt(2 * 0.05) * L.randn_like(z)
    return dict(losses=losses, gen=L.cat(out, 1), z=z, w=params_of(model))


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)


# torch.sparse.check_sparse_tensor_invariants sets a process-wide default that no public call
# takes back (once set, the constructors stop warning that the checks are implicitly off), so
# it is compared in a fresh process per library
_INVARIANTS_SCRIPT = """
import warnings
import {lib} as L
L.set_warn_always(True)
bad = L.tensor([[0, 4]])
out = []

def warned(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            result = "ok"
        except RuntimeError as e:
            result = str(e)
    return (result, len(w))

CSI = L.sparse.check_sparse_tensor_invariants
out.append(CSI.is_enabled())
out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (3,))))
out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (3,), check_invariants=False)))
with CSI():
    out.append(CSI.is_enabled())
    out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (3,))))
    out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (5,))))
    with CSI(False):
        out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (3,))))
out.append(CSI.is_enabled())
out.append(warned(lambda: L.sparse_coo_tensor(bad, L.ones(2), (3,))))

@CSI()
def build():
    return L.sparse_coo_tensor(bad, L.ones(2), (3,))

out.append(warned(build))
CSI.enable()
out.append((CSI.is_enabled(), warned(lambda: L.sparse_coo_tensor(-bad, L.ones(2), (3,)))))
CSI.disable()
ctx = CSI()
with ctx:
    out.append(warned(lambda: ctx.__enter__()))
print(out)
"""


def test_check_sparse_tensor_invariants_process_default_like_torch():
    outs = []
    for name in ("torch", "minigrad"):
        code = textwrap.dedent(_INVARIANTS_SCRIPT.format(lib=name))
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parent.parent)
        outs.append(run.stdout.strip().replace("minigrad", "torch"))
    assert outs[0] == outs[1]
