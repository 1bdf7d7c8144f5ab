"""Generative models and scientific ML, as tutorials and repositories write them: a VAE, GAN
and WGAN-GP training steps, spectral norm, a small DDPM (schedules, time embeddings, a
GroupNorm/SiLU U-Net, the sampling loop), a RealNVP flow, torch.distributions, a PINN trained
with LBFGS, MAML through ``torch.func.functional_call``, per-sample gradients,
``torch.autograd.functional``, Gaussian-process regression, Bayesian linear regression,
score matching and a neural ODE. Each is ``program(lib)``, run with ``lib`` = PyTorch and
``lib`` = minigrad from the same numpy weights and inputs; every output, loss, gradient,
updated parameter and error must agree."""
import math
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------
# Harness
# ----------------------------------------------------------------------------------------------
def _np(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def _run(program, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # torch.func's first use warns about jit.script
        return program(lib)


def _compare(program, rtol=1e-7, atol=1e-9):
    """``program`` with both libraries: the same keys, and for each the same shape, dtype
    and values (strings and exceptions' text compared exactly)."""
    theirs = _run(program, torch)
    ours = _run(program, minigrad)
    assert list(ours) == list(theirs)
    for key, b in theirs.items():
        a = ours[key]
        if isinstance(b, str):
            assert a.replace("minigrad", "torch") == b, (key, a, b)
            continue
        a, b = _np(a), _np(b)
        assert a.shape == b.shape and a.dtype == b.dtype, (key, a.shape, a.dtype, b.shape,
                                                           b.dtype)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=key)


def _outcome(fn):
    """'ok' or 'ExceptionType: message' (minigrad's module name spelled as torch's)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 (compared with the other library's)
        return f"{type(exc).__name__}: {exc}".replace("minigrad", "torch")
    return "ok"


def _weights(model, seed, scale=0.3):
    """A state dict of seeded normal numpy values for ``model``'s floating entries."""
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(tuple(v.shape)) * scale
            for k, v in model.state_dict().items() if v.dtype.is_floating_point}


def _load(lib, model, seed, scale=0.3):
    state = model.state_dict()
    state.update({k: lib.tensor(v) for k, v in _weights(model, seed, scale).items()})
    model.load_state_dict(state)
    return model


_RNG = np.random.default_rng(0)
X8 = _RNG.random((6, 8))
EPS3 = _RNG.standard_normal((3, 6, 3))
ALPHA = _RNG.random((6, 1))
X0 = _RNG.standard_normal((2, 2, 4, 4))
NOISE = _RNG.standard_normal((2, 2, 4, 4))
XT = _RNG.random((8, 2))
XS, YS = _RNG.standard_normal((3, 5, 3)), _RNG.standard_normal((3, 5, 1))
XQ, YQ = _RNG.standard_normal((3, 5, 3)), _RNG.standard_normal((3, 5, 1))
XTR = _RNG.random((7, 2))
YTR = np.sin(3 * XTR[:, 0]) + 0.1 * _RNG.standard_normal(7)
XTE = _RNG.random((3, 2))
VEC = _RNG.standard_normal(3)
MAT = _RNG.standard_normal((3, 3))


# ----------------------------------------------------------------------------------------------
# VAE, GAN, WGAN-GP, spectral norm
# ----------------------------------------------------------------------------------------------
def vae(torch):
    nn, F = torch.nn, torch.nn.functional

    class Autoencoder(nn.Module):
        """Gaussian posterior (mean and log-variance heads), reparameterised draw, Bernoulli
        decoder"""
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(8, 5)
            self.mean, self.log_var = nn.Linear(5, 3), nn.Linear(5, 3)
            self.decode = nn.Sequential(nn.Linear(3, 5), nn.ReLU(inplace=True), nn.Linear(5, 8),
                                        nn.Sigmoid())

        def forward(self, x, noise):
            h = F.relu(self.hidden(x.view(-1, 8)))
            mean, log_var = self.mean(h), self.log_var(h)
            z = mean + torch.exp(log_var / 2) * noise
            return self.decode(z), mean, log_var

    model = _load(torch, Autoencoder().double(), 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = torch.tensor(X8)
    out = {}
    for i in range(3):
        model.train()
        opt.zero_grad()
        recon, mean, log_var = model(x, torch.from_numpy(EPS3[i]))
        rec = F.binary_cross_entropy(recon, x.view(-1, 8), reduction="sum")
        # KL(N(mean, exp(log_var)) || N(0, 1)), summed over batch and latent dimensions
        kl = 0.5 * torch.sum(mean.pow(2) + log_var.exp() - log_var - 1)
        loss = rec + kl
        loss.backward()
        out[f"loss{i}"] = loss
        out[f"grad{i}"] = model.hidden.weight.grad.clone()
        opt.step()
        out[f"mse{i}"] = F.mse_loss(recon, x, reduction="sum")
    model.eval()
    with torch.no_grad():
        out["sample"] = model.decode(torch.from_numpy(EPS3[0]))
    out["weight"] = model.decode[2].weight
    return out


def gan(torch):
    nn = torch.nn
    G = nn.Sequential(nn.Linear(3, 6), nn.LeakyReLU(0.2, inplace=True), nn.Linear(6, 4),
                      nn.Tanh()).double()
    D = nn.Sequential(nn.Linear(4, 6), nn.LeakyReLU(0.2), nn.Dropout(0.0),
                      nn.Linear(6, 1)).double()
    _load(torch, G, 2), _load(torch, D, 3)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    real = torch.tensor(X8[:, :4])
    out = {}
    for i in range(3):
        fake = G(torch.tensor(EPS3[i]))
        opt_d.zero_grad()
        d_real, d_fake = D(real), D(fake.detach())
        loss_d = (criterion(d_real, torch.ones_like(d_real))
                  + criterion(d_fake, torch.zeros_like(d_fake)))
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        d_fake = D(fake)
        loss_g = criterion(d_fake, torch.ones_like(d_fake))
        loss_g.backward()
        opt_g.step()
        out[f"loss_d{i}"], out[f"loss_g{i}"] = loss_d, loss_g
        out[f"grad_d{i}"] = D[0].weight.grad.clone()
    out["g_weight"] = G[2].weight
    return out


def wgan_gp(torch):
    nn = torch.nn
    critic = _load(torch, nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 1)).double(), 3)
    opt = torch.optim.RMSprop(critic.parameters(), lr=1e-3)
    real, fake = torch.tensor(X8[:, :4]), torch.tensor(X8[:, 4:] - 0.5)
    mix = torch.tensor(ALPHA)
    out = {}
    for i in range(2):
        opt.zero_grad()
        # the critic's input gradient on points between real and fake samples, pushed
        # towards unit norm (a double backward through the critic)
        between = (fake + mix * (real - fake)).requires_grad_(True)
        score = critic(between)
        slope, = torch.autograd.grad(outputs=score, inputs=between,
                                     grad_outputs=torch.ones_like(score), create_graph=True,
                                     retain_graph=True, only_inputs=True)
        penalty = (slope.view(len(slope), -1).norm(2, dim=1) - 1).pow(2).mean()
        loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
        loss.backward()
        out[f"gp{i}"], out[f"grad{i}"] = penalty, critic[0].weight.grad.clone()
        opt.step()
    return out


def spectral_norms(torch):
    nn = torch.nn
    x = torch.tensor(X8[:, :4])
    out = {}
    for name in ("hook", "parametrization"):
        lin = _load(torch, nn.Linear(4, 3).double(), 4)
        if name == "hook":
            sn = nn.utils.spectral_norm(lin)
            u, v, original = sn.weight_u, sn.weight_v, lambda: sn.weight_orig
        else:
            sn = nn.utils.parametrizations.spectral_norm(lin)
            p = sn.parametrizations.weight[0]
            u, v, original = p._u, p._v, lambda: sn.parametrizations.weight.original
        out[f"{name}_names"] = " ".join(sorted(k for k, _ in sn.named_parameters()))
        out[f"{name}_buffers"] = " ".join(sorted(k for k, _ in sn.named_buffers()))
        with torch.no_grad():
            u.copy_(torch.tensor([0.6, 0.0, 0.8]))
            v.copy_(torch.tensor([0.5, 0.5, 0.5, 0.5]))
        y = sn(x)
        y.sum().backward()
        sn.eval()
        out[f"{name}_y"], out[f"{name}_y_eval"] = y, sn(x)
        out[f"{name}_grad"] = original().grad
    return out


def test_vae_gan_wgan_gp_spectral_norm():
    for program in (vae, gan, wgan_gp, spectral_norms):
        _compare(program)


# ----------------------------------------------------------------------------------------------
# DDPM
# ----------------------------------------------------------------------------------------------
def _unet(torch):
    nn, F = torch.nn, torch.nn.functional

    class StepEncoding(nn.Module):
        """the diffusion step as sines then cosines of geometrically spaced frequencies"""
        def __init__(self, width):
            super().__init__()
            self.half = width // 2

        def forward(self, steps):
            rates = torch.arange(self.half, device=steps.device) * (
                -math.log(10000) / (self.half - 1))
            angles = steps[:, None] * torch.exp(rates)[None, :]
            return torch.cat((angles.sin(), angles.cos()), dim=-1)

    class ResBlock(nn.Module):
        def __init__(self, cin, cout, tdim):
            super().__init__()
            self.norm1, self.conv1 = nn.GroupNorm(1, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(tdim, cout * 2))
            self.norm2, self.conv2 = nn.GroupNorm(2, cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.res = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x, temb):
            h = self.conv1(F.silu(self.norm1(x)))
            scale, shift = self.mlp(temb)[:, :, None, None].chunk(2, dim=1)
            h = self.conv2(F.silu(self.norm2(h) * (scale + 1) + shift))
            return h + self.res(x)

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_mlp = nn.Sequential(StepEncoding(8), nn.Linear(8, 8),
                                          nn.GELU(), nn.Linear(8, 8))
            self.block1 = ResBlock(2, 4, 8)
            self.down = nn.Conv2d(4, 4, 4, 2, 1)
            self.up = nn.ConvTranspose2d(4, 4, 4, 2, 1)
            self.block2 = ResBlock(8, 4, 8)
            self.out = nn.Conv2d(4, 2, 1)

        def forward(self, x, t):
            temb = self.time_mlp(t)
            h1 = self.block1(x, temb)
            h = self.up(self.down(h1))
            return self.out(self.block2(torch.cat([h, h1], dim=1), temb))
    return UNet


def ddpm(torch):
    F = torch.nn.functional
    T = 10
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        linear = torch.linspace(1e-4, 0.02, T)
        # a cosine schedule: the kept signal fraction follows cos^2 of the step, offset 0.008;
        # each beta is one minus the ratio of neighbours, clipped away from 0 and 1
        grid = torch.linspace(0, T, T + 1)
        kept = torch.cos((grid / T + 0.008) / 1.008 * math.pi / 2) ** 2
        betas = torch.clip(1 - kept[1:] / kept[:-1] * (kept[0] / kept[0]), 0.0001, 0.9999)
        keep = 1. - betas
        keep_bar = torch.cumprod(keep, axis=0)
        keep_bar_before = F.pad(keep_bar[:-1], (1, 0), value=1.0)
        signal, noise_scale = torch.sqrt(keep_bar), torch.sqrt(1. - keep_bar)
        inv_sqrt_keep = torch.sqrt(1.0 / keep)
        post_var = betas * (1. - keep_bar_before) / (1. - keep_bar)

        def at(table, steps, like):
            """table[steps], shaped to broadcast over an image batch like `like`"""
            picked = table.gather(-1, steps.cpu())
            return picked.reshape(len(steps), *[1] * (len(like) - 1)).to(steps.device)

        model = _load(torch, _unet(torch)(), 1)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x0, noise, t = torch.tensor(X0), torch.tensor(NOISE), torch.tensor([3, 7])
        out = {"linear": linear, "posterior_variance": post_var}
        for i in range(2):
            noisy = at(signal, t, x0.shape) * x0 + at(noise_scale, t, x0.shape) * noise
            loss = F.mse_loss(noise, model(noisy, t))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            out[f"loss{i}"] = loss
        out["grad"] = model.block1.conv1.weight.grad
        model.eval()
        with torch.no_grad():
            img = torch.tensor(NOISE)
            for i in reversed(range(0, T, 4)):
                now = torch.full((img.shape[0],), i, device=img.device, dtype=torch.long)
                guess = model(img, now)          # the predicted noise
                cleaned = img - at(betas, now, img.shape) / at(noise_scale, now, img.shape) * guess
                mean = at(inv_sqrt_keep, now, img.shape) * cleaned
                if i == 0:
                    img = mean
                else:
                    img = mean + torch.sqrt(at(post_var, now, img.shape)) * torch.tensor(X0)
            out["sample"] = img.clamp(-1, 1)
        out["t_dtype"] = str(now.dtype)
        return out
    finally:
        torch.set_default_dtype(previous)


def test_ddpm_schedule_training_and_sampling():
    _compare(ddpm)


def test_mixed_dtype_linear_errors_name_the_dtypes_as_pytorch():
    """float32 time embedding into a float64 Linear: the message spells the scalar types
    (Float, Double; float, double, long int for the C++ names) as PyTorch's does; minigrad
    printed numpy's names (float32 != float64)."""
    def calls(T):
        F = T.nn.functional
        x32, w64 = T.ones(3, 4), T.ones(2, 4, dtype=T.float64)
        yield lambda: F.linear(x32, w64)
        yield lambda: F.linear(x32, w64, T.ones(2, dtype=T.float64))
        yield lambda: F.linear(T.ones(2, 3, 4), w64, T.ones(2, dtype=T.float64))
        yield lambda: T.ones(3, 4, dtype=T.int64) @ T.ones(4, 2)
        yield lambda: T.ones(3, 4, dtype=T.int32) @ T.ones(4, 2, dtype=T.float64)
        yield lambda: T.ones(3, 4, dtype=T.int16) @ T.ones(4, 2, dtype=T.float16)
        yield lambda: T.ones(3, 4, dtype=T.uint8) @ T.ones(4, 2, dtype=T.int8)
        yield lambda: T.ones(3, 4, dtype=T.bool) @ T.ones(4, 2)
    for mine, theirs in zip(calls(minigrad), calls(torch)):
        assert _outcome(mine) == _outcome(theirs)


# ----------------------------------------------------------------------------------------------
# Normalizing flow and distributions
# ----------------------------------------------------------------------------------------------
def realnvp(torch):
    nn, D = torch.nn, torch.distributions

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 4), nn.Tanh())
            self.t = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))

        def forward(self, x):
            xm = x * self.mask
            s = self.s(xm) * (1 - self.mask)
            t = self.t(xm) * (1 - self.mask)
            return xm + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(dim=1)

        def inverse(self, y):
            ym = y * self.mask
            s = self.s(ym) * (1 - self.mask)
            t = self.t(ym) * (1 - self.mask)
            return ym + (1 - self.mask) * ((y - t) * torch.exp(-s))

    masks = torch.tensor([[1., 0., 1., 0.], [0., 1., 0., 1.]], dtype=torch.float64)
    flows = _load(torch, nn.ModuleList([Coupling(m) for m in masks]).double(), 1)
    prior = D.Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0,
                                                                          dtype=torch.float64))
    prior_mv = D.MultivariateNormal(torch.zeros(4, dtype=torch.float64),
                                    torch.eye(4, dtype=torch.float64))
    opt = torch.optim.Adam(flows.parameters(), lr=1e-2)
    x = torch.tensor(X8[:5, :4])
    out = {}
    for i in range(3):
        z, log_det = x, torch.zeros(x.shape[0], dtype=torch.float64)
        for flow in flows:
            z, ld = flow(z)
            log_det = log_det + ld
        loss = -(prior.log_prob(z).sum(-1) + log_det).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"loss{i}"], out[f"log_prob_mv{i}"] = loss, prior_mv.log_prob(z) + log_det
    with torch.no_grad():
        for flow in reversed(flows):
            z = flow.inverse(z)
    out["inverse"], out["grad"] = z, flows[0].s[0].weight.grad
    return out


def distributions(torch):
    D = torch.distributions
    x = torch.tensor(X8[:5, :4] - 0.5)
    loc = torch.tensor(X8[0, 4:], requires_grad=True)
    raw = torch.tensor(X8[1, 4:], requires_grad=True)
    scale = torch.nn.functional.softplus(raw)
    ind = D.Independent(D.Normal(loc, scale), 1)
    out = {"batch_shape": str(ind.batch_shape), "event_shape": str(ind.event_shape)}
    out["log_prob"] = ind.log_prob(x)
    std_normal = D.Normal(torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64))
    td = D.TransformedDistribution(std_normal, [D.transforms.AffineTransform(loc, scale),
                                                D.transforms.SigmoidTransform()])
    out["td_log_prob"] = td.log_prob(torch.sigmoid(x))
    out["td_ind_log_prob"] = D.Independent(td, 1).log_prob(torch.sigmoid(x))
    out["entropy"] = ind.entropy()
    mvn = D.MultivariateNormal(loc, scale_tril=torch.diag(scale))
    mvn2 = D.MultivariateNormal(loc, covariance_matrix=torch.diag(scale ** 2) + 0.1)
    out["mvn_log_prob"], out["mvn2_log_prob"] = mvn.log_prob(x), mvn2.log_prob(x)
    out["kl"] = D.kl_divergence(mvn, mvn2)
    out["kl_independent"] = D.kl_divergence(ind, D.Independent(std_normal, 1))
    out["mvn2_entropy"] = mvn2.entropy()
    out["scale_tril"], out["precision"] = mvn2.scale_tril, mvn2.precision_matrix
    total = (out["log_prob"].sum() + out["td_log_prob"].sum() + out["kl"]
             + out["kl_independent"] + out["mvn2_log_prob"].sum() + out["mvn2_entropy"])
    out["grad_loc"], out["grad_raw"] = torch.autograd.grad(total, [loc, raw])
    out["normal01"] = D.Normal(0, 1).log_prob(x)
    out["cdf"] = D.Normal(0., 2.).cdf(x)
    out["icdf"] = D.Normal(1., 2.).icdf(torch.sigmoid(x))
    return out


def test_realnvp_flow_and_distributions():
    _compare(realnvp)
    _compare(distributions)


# ----------------------------------------------------------------------------------------------
# Physics-informed network
# ----------------------------------------------------------------------------------------------
def pinn_lbfgs(torch):
    nn = torch.nn

    class PINN(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 6), nn.Tanh(),
                                     nn.Linear(6, 1))

        def forward(self, x, t):
            return self.net(torch.cat([x, t], dim=1))

    model = _load(torch, PINN().double(), 1, 0.5)
    x = torch.tensor(XT[:, :1], requires_grad=True)
    t = torch.tensor(XT[:, 1:], requires_grad=True)
    x_bc = torch.tensor(np.linspace(0, 1, 4)[:, None])
    t_bc = torch.zeros_like(x_bc)
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=5, history_size=5,
                            line_search_fn="strong_wolfe")
    nu = 0.01 / math.pi
    losses = []

    def closure():
        opt.zero_grad()
        u = model(x, t)
        u_t = torch.autograd.grad(u, t, torch.ones_like(u), create_graph=True)[0]
        u_x = torch.autograd.grad(u, x, grad_outputs=torch.ones_like(u), create_graph=True)[0]
        u_xx = torch.autograd.grad(u_x, x, torch.ones_like(u_x), create_graph=True)[0]
        residual = u_t + u * u_x - nu * u_xx
        loss = (torch.mean(residual ** 2)
                + nn.MSELoss()(model(x_bc, t_bc), -torch.sin(math.pi * x_bc)))
        loss.backward()
        losses.append(loss.item())
        return loss

    out = {}
    for i in range(2):
        out[f"step{i}"] = opt.step(closure)
    out["losses"], out["weight"] = np.array(losses), model.net[0].weight
    return out


def pinn_adam(torch):
    nn = torch.nn
    model = _load(torch, nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1)).double(),
                  1, 0.5)
    xt = torch.tensor(XT).requires_grad_()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    out = {}
    for i in range(3):
        u = model(xt)
        du = torch.autograd.grad(u.sum(), xt, create_graph=True)[0]
        u_x, u_t = du[:, 0:1], du[:, 1:2]
        u_xx = torch.autograd.grad(u_x.sum(), xt, create_graph=True)[0][:, 0:1]
        loss = ((u_t - 0.1 * u_xx) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        out[f"loss{i}"], out[f"lr{i}"] = loss, np.array(sched.get_last_lr())
    return out


def test_pinn_with_lbfgs_strong_wolfe_and_adam():
    _compare(pinn_lbfgs)
    _compare(pinn_adam)


# ----------------------------------------------------------------------------------------------
# MAML, torch.func, autograd.grad's arguments
# ----------------------------------------------------------------------------------------------
def maml(torch):
    nn, F = torch.nn, torch.nn.functional
    model = _load(torch, nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1)).double(),
                  1, 0.5)
    meta_opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = {}
    for step in range(2):
        meta_opt.zero_grad()
        total = 0.
        for task in range(3):
            params = dict(model.named_parameters())
            xs, ys = torch.tensor(XS[task]), torch.tensor(YS[task])
            for _ in range(2):
                loss = F.mse_loss(torch.func.functional_call(model, params, (xs,)), ys)
                # a dict's values() view, as MAML code passes it
                grads = torch.autograd.grad(loss, params.values(), create_graph=True)
                params = {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}
            query = torch.func.functional_call(model, params, torch.tensor(XQ[task]))
            query_loss = F.mse_loss(query, torch.tensor(YQ[task]))
            query_loss.backward()
            total += query_loss.item()
        meta_opt.step()
        out[f"total{step}"], out[f"grad{step}"] = np.array(total), model[0].weight.grad.clone()
    return out


def per_sample_gradients(torch):
    nn, F = torch.nn, torch.nn.functional
    fc, grad, vmap = torch.func.functional_call, torch.func.grad, torch.func.vmap
    model = _load(torch, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double(),
                  1, 0.5)
    weights = dict((name, w.detach()) for name, w in model.named_parameters())
    state = dict((name, b.detach()) for name, b in model.named_buffers())

    def loss_fn(weights, state, row, target):        # one example, made a batch of one
        pred = fc(model, (weights, state), (row[None],))
        return F.mse_loss(pred, target[None])

    x, y = torch.tensor(XS[0]), torch.tensor(YS[0])
    # the weights and buffers are shared, the examples and targets mapped over
    per_example = vmap(grad(loss_fn), in_dims=(None, None, 0, 0))
    per_sample = per_example(weights, state, x, y)
    out = {f"per_sample_{k}": v for k, v in per_sample.items()}
    grads, value = torch.func.grad_and_value(loss_fn)(weights, state, x[0], y[0])
    out.update({f"grad_{k}": v for k, v in grads.items()}, value=value)
    w0 = torch.tensor(XQ[0, 0])

    def f(w):
        return torch.tanh(w @ x.T).sum(0)
    out["jacrev"], out["jacfwd"] = torch.func.jacrev(f)(w0), torch.func.jacfwd(f)(w0)
    out["hessian"] = torch.func.hessian(lambda w: f(w).sum())(w0)
    return out


def test_maml_and_per_sample_gradients():
    _compare(maml)
    _compare(per_sample_gradients)


def test_autograd_grad_and_backward_take_any_iterable_of_tensors():
    """inputs/outputs/grad_outputs may be generators or dict views (minigrad took only a
    list or tuple: 'inputs must be Tensors, got dict_values'); a number where a tensor or a
    sequence is expected is refused with PyTorch's errors (minigrad accepted it); bad
    arguments are reported in PyTorch's order and words (minigrad checked the inputs first)."""
    cases = [
        lambda T, x, y: T.autograd.grad(y, {"a": x}.values()),
        lambda T, x, y: T.autograd.grad(y, (p for p in [x])),
        lambda T, x, y: T.autograd.grad((o for o in [y]), [x]),
        lambda T, x, y: T.autograd.grad([y], [x], (g for g in [T.ones(())])),
        lambda T, x, y: T.autograd.backward((o for o in [y]), inputs=(i for i in [x])),
        lambda T, x, y: T.autograd.backward([y], inputs={"x": x}.values()),
        lambda T, x, y: y.backward(inputs={"x": x}.values()),
        lambda T, x, y: T.autograd.grad(y, x, 1.0),
        lambda T, x, y: T.autograd.grad([y], [x], [1.0]),
        lambda T, x, y: T.autograd.grad(y, 3),
        lambda T, x, y: T.autograd.grad(y, [3]),
        lambda T, x, y: T.autograd.grad(3, x),
        lambda T, x, y: T.autograd.backward(y, 2.0),
        lambda T, x, y: T.autograd.backward([y], [2.0]),
        lambda T, x, y: y.backward(2.0),
        lambda T, x, y: y.backward(inputs=[x, 2]),
        # the order of PyTorch's checks: empty inputs, the outputs, then the inputs
        lambda T, x, y: T.autograd.grad(T.ones(2).sum(), []),
        lambda T, x, y: T.autograd.grad(T.ones(2), [3]),
        lambda T, x, y: T.autograd.grad(T.ones(2).sum(), T.ones(2)),
        lambda T, x, y: T.autograd.grad(y, [T.ones(2)]),
        lambda T, x, y: T.autograd.grad(x * 2, [3]),
        lambda T, x, y: T.autograd.backward(T.ones(2).sum(), inputs=[]),
        lambda T, x, y: T.autograd.backward(y, inputs=[T.ones(1)]),
    ]
    for case in cases:
        results = []
        for T in (minigrad, torch):
            x = T.tensor([1.0, 2.0], requires_grad=True)
            y = (x * x).sum()
            box = []
            outcome = _outcome(lambda: box.append(case(T, x, y)))
            value = box[0] if box and box[0] is not None else x.grad
            results.append((outcome, None if value is None else _np(value[0] if isinstance(
                value, tuple) else value).tolist()))
        # PyTorch's words first (minigrad may add a hint after them)
        assert results[0][0].startswith(results[1][0]), results
        assert results[0][1] == results[1][1]


# ----------------------------------------------------------------------------------------------
# torch.autograd.functional
# ----------------------------------------------------------------------------------------------
def autograd_functional(torch):
    AF = torch.autograd.functional
    a = torch.tensor(MAT)
    x, v, y = torch.tensor(VEC), torch.tensor(VEC[::-1].copy()), torch.tensor(VEC * 0.5)

    def f(x):
        return torch.tanh(a @ x).pow(2).sum()

    def h(x):
        return torch.sigmoid(a @ x) * x

    def g(x, y):
        return torch.sin(x) * y.exp(), (x * y).sum()

    out = {"hessian": AF.hessian(f, x),
           "hessian_vectorized": AF.hessian(f, x, vectorize=True),
           "hessian_forward": AF.hessian(f, x, vectorize=True,
                                         outer_jacobian_strategy="forward-mode"),
           "jacobian": AF.jacobian(h, x),
           "jacobian_vectorized": AF.jacobian(h, x, vectorize=True),
           "jacobian_forward": AF.jacobian(h, x, vectorize=True, strategy="forward-mode")}
    pair = AF.hessian(lambda x, y: (x.sin() * y).sum() + (x * y).pow(2).sum(), (x, y))
    jac_pair = AF.jacobian(g, (x, y))
    for i in range(2):
        for j in range(2):
            out[f"hessian_{i}{j}"], out[f"jacobian_{i}{j}"] = pair[i][j], jac_pair[i][j]
    out["hvp_value"], out["hvp"] = AF.hvp(f, x, v)
    out["vhp"] = AF.vhp(f, x, v)[1]
    out["vjp_value"], out["vjp"] = AF.vjp(h, x, v)
    out["jvp"] = AF.jvp(h, x, v)[1]
    out["jvp_a"], out["jvp_b"] = AF.jvp(g, (x, y), (v, v))[1]
    w = torch.tensor(VEC, requires_grad=True)
    hv = AF.hvp(lambda x: torch.tanh(w * x).sum() ** 2, x, v, create_graph=True)[1]
    out["d_hvp_dw"] = torch.autograd.grad(hv.sum(), w)[0]
    jac = AF.jacobian(lambda x: torch.tanh(w * x), x, create_graph=True)
    out["d_jacobian_dw"] = torch.autograd.grad(jac.sum(), w)[0]
    out["hessian_unused"] = AF.hessian(lambda x, y: (x ** 3).sum(), (x, y))[0][1]
    return out


def autograd_functional_graphs(torch):
    AF = torch.autograd.functional
    w = torch.tensor(MAT, requires_grad=True)
    x = torch.tensor(VEC)
    f64 = torch.float64
    out = {"jacobian": AF.jacobian(lambda x: torch.tanh(w @ x), x, create_graph=True,
                                   vectorize=True),
           "hessian": AF.hessian(lambda x: torch.tanh(w @ x).pow(3).sum(), x,
                                 create_graph=True, vectorize=True)}
    out["d_jacobian"] = torch.autograd.grad(out["jacobian"].pow(2).sum(), w)[0]
    out["d_hessian"] = torch.autograd.grad(out["hessian"].sum(), w)[0]
    out["constant"] = AF.jacobian(lambda x: torch.ones(2, dtype=f64), x, vectorize=True)
    out["mixed"] = AF.jacobian(lambda x, y: (x * 2, torch.ones(2, dtype=f64)), (x, x),
                               vectorize=True)[1][0]
    out["scalar_input"] = AF.jacobian(lambda s: torch.stack([s.sin(), s.cos()]),
                                      torch.tensor(0.3, dtype=f64))
    out["matrix_input"] = AF.jacobian(lambda A: A @ x, torch.tensor(MAT))
    out["matrix_hessian"] = AF.hessian(lambda A: (A @ x).pow(2).sum(), torch.tensor(MAT))
    out["vjp_no_v"] = AF.vjp(lambda x: x.pow(2).sum(), x)[1]
    out["jvp_no_v"] = AF.jvp(lambda s: s * torch.tensor(VEC), torch.tensor(2.0, dtype=f64))[1]
    out["hvp_pair"] = AF.hvp(lambda a, b: (a * b).pow(2).sum(), (x, x * 2), (x, x))[1][1]
    with torch.no_grad():
        out["under_no_grad"] = AF.hessian(lambda x: (w @ x).pow(4).sum(), x)
    return out


def test_autograd_functional_values():
    """vectorize=True and the forward-mode strategies give PyTorch's values (minigrad raised
    NotImplementedError for forward-mode)."""
    _compare(autograd_functional)
    _compare(autograd_functional_graphs)


def test_autograd_functional_checks_and_strict_mode_errors():
    """PyTorch's argument checks and strict-mode errors, each in its words: a list is not a
    tuple of inputs; v's length and size; strict refuses outputs that do not require grad, an
    input an output does not depend on, a linear function's Hessian; the strategy and
    vectorize combinations PyTorch refuses (minigrad accepted most of these or raised
    other errors)."""
    def calls(T):
        AF = T.autograd.functional
        x, y, s = T.tensor([1.0, 2.0, 3.0]), T.tensor([0.5, -1.0, 2.0]), T.tensor([2.0])
        return [
            lambda: AF.jacobian(lambda x: T.ones(3), x, strict=True),
            lambda: AF.jacobian(lambda x, y: x * 2, (x, y), strict=True),
            lambda: AF.jacobian(lambda x: x * 2, x, strict=True, create_graph=True),
            lambda: AF.jacobian(lambda x: x, x, strict=True, vectorize=True),
            lambda: AF.jacobian(lambda x: x, x, strategy="foo"),
            lambda: AF.jacobian(lambda x: x, x, strategy="forward-mode"),
            lambda: AF.jacobian(lambda x: x, x, strategy="forward-mode", strict=True,
                                vectorize=True),
            lambda: AF.jacobian(lambda x: x, x, strategy="forward-mode", create_graph=True,
                                vectorize=True),
            lambda: AF.jacobian(lambda x, y: x * y, [x, y]),
            lambda: AF.jacobian(lambda x: 3.0, x),
            lambda: AF.jacobian(lambda x: [x, x], x),
            lambda: AF.jacobian(lambda x: x, (x, 3)),
            lambda: AF.jacobian(lambda x: x, torch.ones(0) if T is torch else T.ones(0)),
            lambda: AF.hessian(lambda x: x * 2, x),
            lambda: AF.hessian(lambda x: (x.sum(),), x),
            lambda: AF.hessian(lambda x: x.sum(), x, strict=True),
            lambda: AF.hessian(lambda x, y: (x ** 3).sum(), (x, y), strict=True),
            lambda: AF.hessian(lambda x: T.ones(()), x, strict=True),
            lambda: AF.hessian(lambda x: x.sum(), x, outer_jacobian_strategy="bar"),
            lambda: AF.hessian(lambda x: x.sum(), x, outer_jacobian_strategy="forward-mode"),
            lambda: AF.vjp(lambda x: x * 2, x),
            lambda: AF.vjp(lambda x: x * 2, x, (x, x)),
            lambda: AF.vjp(lambda x: (x * 2, x), x, (x,)),
            lambda: AF.vjp(lambda x: (x * 2, x), x, (x, s)),
            lambda: AF.vjp(lambda x: T.ones(3), x, x, strict=True),
            lambda: AF.vjp(lambda x, y: x * 2, (x, y), x, strict=True),
            lambda: AF.vjp(lambda x: x * 2, x, [x]),
            lambda: AF.jvp(lambda x: x * 2, x),
            lambda: AF.jvp(lambda x, y: x * 2, (x, y), (x, y), strict=True),
            lambda: AF.jvp(lambda x: T.ones(3), x, x, strict=True),
            lambda: AF.vhp(lambda x: x * 2, x, x),
            lambda: AF.vhp(lambda x: (x.sum(),), x, x),
            lambda: AF.vhp(lambda x: x.sum(), x),
            lambda: AF.vhp(lambda x: x.sum(), x, x, strict=True),
            lambda: AF.vhp(lambda x, y: (x ** 3).sum() + y.sum(), (x, y), (x, y), strict=True),
            lambda: AF.hvp(lambda x: x * 2, x, x),
            lambda: AF.hvp(lambda x: (x.sum(),), x, x),
            lambda: AF.hvp(lambda x: x.sum(), x, x, strict=True),
            lambda: AF.hvp(lambda x, y: (x ** 2).sum() + (y ** 3).sum(), (x, y), (x, y),
                           strict=True),
        ]
    for mine, theirs in zip(calls(minigrad), calls(torch)):
        assert _outcome(mine) == _outcome(theirs)


def test_autograd_functional_graphs_follow_create_graph_and_grad_mode():
    """Which results require grad, with and without create_graph, under no_grad or not, for
    an input that requires grad or not (a closed-over weight always does)."""
    def program(T):
        AF = T.autograd.functional
        x = T.tensor([1.0, 2.0, 3.0], dtype=T.float64)
        v = T.tensor([0.5, -1.0, 2.0], dtype=T.float64)
        w = T.tensor([0.3, 0.2, 0.1], dtype=T.float64, requires_grad=True)
        xr = x.clone().requires_grad_(True)

        def f(x):
            return (x * w).sin()

        def s(x):
            return ((x * w).sin() ** 2).sum()
        found = []
        for create_graph in (False, True):
            for mode in (T.no_grad, T.enable_grad):
                with mode():
                    for inp in (x, xr):
                        for res in (AF.vjp(f, inp, v, create_graph=create_graph),
                                    AF.jvp(f, inp, v, create_graph=create_graph),
                                    (AF.jacobian(f, inp, create_graph=create_graph),),
                                    (AF.hessian(s, inp, create_graph=create_graph),),
                                    AF.vhp(s, inp, v, create_graph=create_graph),
                                    AF.hvp(s, inp, v, create_graph=create_graph)):
                            found += [(t.requires_grad, round(float(t.detach().sum()), 10))
                                      for t in res]
        return found
    assert program(minigrad) == program(torch)


# ----------------------------------------------------------------------------------------------
# Gaussian process, Bayesian regression, score matching, neural ODE
# ----------------------------------------------------------------------------------------------
def gaussian_process(torch):
    F = torch.nn.functional
    X, y, Xs = torch.tensor(XTR), torch.tensor(YTR), torch.tensor(XTE)
    raw_ls = torch.nn.Parameter(torch.tensor(0.0, dtype=torch.float64))
    raw_sf = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    raw_noise = torch.nn.Parameter(torch.tensor([-2.0], dtype=torch.float64))
    opt = torch.optim.Adam([raw_ls, raw_sf, raw_noise], lr=0.05)
    eye = torch.eye(len(X), dtype=torch.float64)

    def rbf(a, b, ls, sf):
        return sf ** 2 * torch.exp(-0.5 * torch.cdist(a / ls, b / ls, p=2).pow(2))

    def hyper():
        return F.softplus(raw_ls), F.softplus(raw_sf), F.softplus(raw_noise) + 1e-4

    out = {}
    for i in range(3):
        opt.zero_grad()
        ls, sf, noise = hyper()
        L = torch.linalg.cholesky(rbf(X, X, ls, sf) + noise * eye)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), L)
        nll = (0.5 * (y.unsqueeze(-1) * alpha).sum() + torch.log(torch.diagonal(L)).sum()
               + 0.5 * len(X) * math.log(2 * math.pi))
        nll.backward()
        out[f"nll{i}"] = nll
        out[f"grad{i}"] = torch.stack([raw_ls.grad, raw_sf.grad, raw_noise.grad[0]])
        opt.step()
    with torch.no_grad():
        ls, sf, noise = hyper()
        K = rbf(X, X, ls, sf) + noise * eye
        L = torch.linalg.cholesky(K)
        Ks = rbf(X, Xs, ls, sf)
        v = torch.linalg.solve_triangular(L, Ks, upper=False)
        out["mean"] = Ks.T @ torch.cholesky_solve(y[:, None], L)
        out["var"] = rbf(Xs, Xs, ls, sf).diag() - (v ** 2).sum(0)
        out["logdet"] = torch.logdet(K)
        sign, logabsdet = torch.linalg.slogdet(K)
        out["slogdet"] = torch.stack([sign, logabsdet, torch.slogdet(K)[1]])
        out["cholesky_ex"] = torch.linalg.cholesky_ex(K).L
        out["cholesky_inverse"] = torch.cholesky_inverse(L)
        out["upper"] = torch.linalg.cholesky(K, upper=True)
        out["solve"] = torch.linalg.solve(K, y)
        out["solve_right"] = torch.linalg.solve_triangular(L.T, Ks.T, upper=True, left=False)
        out["triangular_solve"] = torch.triangular_solve(Ks, L, upper=False).solution
    X = torch.tensor(XTR, requires_grad=True)
    K = torch.exp(-torch.cdist(X, X) ** 2) + 0.1 * eye
    L = torch.linalg.cholesky(K)
    B = torch.tensor(YTR[:, None] * XTR)
    total = (torch.cholesky_solve(B, L).sum()
             + torch.linalg.solve_triangular(L, B, upper=False).pow(2).sum()
             + torch.logdet(K) + torch.linalg.slogdet(K).logabsdet
             + torch.cdist(X, X[:3], p=1).sum() + torch.cdist(X, X[:3], p=3.0).sum())
    out["total"], out["grad_x"] = total, torch.autograd.grad(total, X)[0]
    return out


def bayesian_linear_regression(torch):
    D = torch.distributions
    X, y = torch.tensor(XTR), torch.tensor(YTR)
    mu = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    rho = torch.full((2,), -1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([mu, rho], lr=0.01, momentum=0.9, nesterov=True)
    prior = D.Normal(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    out = {}
    for i in range(3):
        opt.zero_grad()
        q = D.Normal(mu, torch.log1p(torch.exp(rho)))
        w = q.loc + q.scale * torch.tensor(EPS3[i, 0, :2])
        loss = D.kl_divergence(q, prior).sum() - D.Normal(X @ w, 0.3).log_prob(y).sum()
        loss.backward()
        out[f"loss{i}"], out[f"grad_mu{i}"] = loss, mu.grad.clone()
        out[f"grad_rho{i}"] = rho.grad.clone()
        opt.step()
    q = D.Normal(mu, torch.nn.functional.softplus(rho))
    out["entropy"], out["mean"], out["stddev"] = q.entropy(), q.mean, q.stddev
    out["kl_independent"] = D.kl_divergence(D.Independent(q, 1), D.Independent(prior, 1))
    mvq = D.MultivariateNormal(mu, scale_tril=torch.diag_embed(q.scale))
    mvp = D.MultivariateNormal(torch.zeros(2, dtype=torch.float64),
                               torch.eye(2, dtype=torch.float64))
    out["kl_mvn"] = D.kl_divergence(mvq, mvp)
    return out


def score_matching(torch):
    nn = torch.nn
    net = _load(torch, nn.Sequential(nn.Linear(2, 8), nn.Softplus(), nn.Linear(8, 1)).double(),
                4, 0.5)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    x = torch.tensor(XTR)
    out = {}
    for i in range(2):
        xx = x.clone().requires_grad_(True)
        score = -torch.autograd.grad(net(xx).squeeze(-1).sum(), xx, create_graph=True)[0]
        trace = 0.
        for d in range(2):
            trace = trace + torch.autograd.grad(score[:, d].sum(), xx, create_graph=True)[0][:, d]
        loss = (0.5 * score.pow(2).sum(-1) + trace).mean()
        noise = torch.tensor(EPS3[i, :x.shape[0] - 1, :2]) * 0.1
        xn = (x[1:] + noise).requires_grad_()
        s = -torch.autograd.grad(net(xn).sum(), xn, create_graph=True)[0]
        dsm = ((s + noise / 0.01) ** 2).sum(-1).mean()
        opt.zero_grad()
        (loss + 1e-3 * dsm).backward()
        opt.step()
        out[f"loss{i}"], out[f"dsm{i}"] = loss, dsm
    xs = torch.tensor(XTE)
    for k in range(3):      # Langevin steps
        xs = xs.detach().requires_grad_(True)
        score = -torch.autograd.grad(net(xs).sum(), xs)[0]
        with torch.no_grad():
            xs = xs + 0.01 * score + math.sqrt(0.02) * 0.1 * k
    out["weight"], out["samples"] = net[0].weight, xs
    return out


def neural_ode(torch):
    # fit a learned vector field to trajectories of a damped cubic oscillator, both integrated
    # by a hand-written classical Runge-Kutta step and differentiated straight through it
    nn = torch.nn

    class Field(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.Linear(2, 10), nn.Tanh(), nn.Linear(10, 2))
            for lin in (m for m in self.f if isinstance(m, nn.Linear)):
                nn.init.normal_(lin.weight, mean=0, std=0.1)
                nn.init.constant_(lin.bias, val=0)

        def forward(self, t, state):
            return self.f(state ** 3)

    def integrate(field, start, times):
        path = [start]
        for a, b in zip(times[:-1], times[1:]):
            dt, s = b - a, path[-1]
            s1 = field(a, s)
            s2 = field(a + dt / 2, s + s1 * dt / 2)
            s3 = field(a + dt / 2, s + s2 * dt / 2)
            s4 = field(b, s + s3 * dt)
            path.append(s + (s1 + 2 * (s2 + s3) + s4) * dt / 6)
        return torch.stack(path)

    field = _load(torch, Field().double(), 6, 0.5)
    times = torch.linspace(0., 1., 5, dtype=torch.float64)
    start = torch.tensor([[2., 0.]], dtype=torch.float64)
    damped = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64)
    with torch.no_grad():
        observed = integrate(lambda t, s: torch.mm(s ** 3, damped), start, times)
    opt = torch.optim.RMSprop(field.parameters(), lr=1e-3)
    out = {"true": observed}
    for i in range(2):
        opt.zero_grad()
        loss = torch.mean(torch.abs(integrate(field, start, times) - observed))
        loss.backward()
        opt.step()
        out[f"loss{i}"] = loss
    out["weight"] = field.f[2].weight
    return out


def test_gaussian_process_bayesian_regression_score_matching_neural_ode():
    for program in (gaussian_process, bayesian_linear_regression, score_matching, neural_ode):
        _compare(program)


# ----------------------------------------------------------------------------------------------
# Mixture density network, low-rank Gaussians, heavy tails, Gumbel-softmax, their KLs
# ----------------------------------------------------------------------------------------------
def mixture_density_network(torch):
    """A Gaussian-mixture head trained by negative log-likelihood (MixtureSameFamily of
    Independent Normals), then its moments, cdf, expand, support and shapes."""
    nn, D = torch.nn, torch.distributions
    K = 3

    class MDN(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Sequential(nn.Linear(2, 8), nn.Tanh())
            self.pi, self.mu, self.sigma = nn.Linear(8, K), nn.Linear(8, K * 2), nn.Linear(8, K * 2)

        def forward(self, x):
            h = self.hidden(x)
            mix = D.Categorical(logits=self.pi(h))
            comp = D.Independent(D.Normal(self.mu(h).view(-1, K, 2),
                                          torch.exp(self.sigma(h)).view(-1, K, 2)), 1)
            return D.MixtureSameFamily(mix, comp)

    model = _load(torch, MDN().double(), 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.tensor(X8[:, :2]), torch.tensor(X8[:, 2:4] - 0.5)
    out = {}
    for i in range(2):
        gmm = model(x)
        loss = -gmm.log_prob(y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"loss{i}"] = loss
    out["mean"], out["variance"] = gmm.mean, gmm.variance
    out["shapes"] = f"{gmm.batch_shape} {gmm.event_shape} {tuple(gmm.sample((5,)).shape)}"
    out["support"] = f"{gmm.support!r} {gmm.support.check(y).tolist()}"
    gmm1 = D.MixtureSameFamily(
        D.Categorical(torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)),
        D.Normal(torch.tensor([-1., 0., 2.], dtype=torch.float64),
                 torch.tensor([0.5, 1., 0.3], dtype=torch.float64)))
    v = torch.tensor(X8[:, 0] * 3 - 1)
    out["log_prob1"], out["cdf1"] = gmm1.log_prob(v), gmm1.cdf(v)
    out["mean1"], out["variance1"] = gmm1.mean, gmm1.variance
    out["sample1"] = str(tuple(gmm1.sample((4, 2)).shape))
    out["expanded"] = gmm1.expand((6,)).log_prob(v)
    out["repr"] = repr(gmm1)
    gmm2 = D.MixtureSameFamily(
        D.Categorical(logits=torch.tensor(np.arange(6.).reshape(2, 3) / 5)),
        D.Normal(torch.tensor(np.linspace(-1, 1, 24).reshape(4, 2, 3)),
                 torch.ones(4, 2, 3, dtype=torch.float64)))
    out["mean2"], out["variance2"] = gmm2.mean, gmm2.variance
    out["log_prob2"] = gmm2.log_prob(torch.tensor(X8[:4, :2]))
    return out


def more_distributions(torch):
    """LowRankMultivariateNormal, Cauchy, StudentT, Chi2, Gumbel, HalfNormal, HalfCauchy:
    densities, moments, cdf/icdf, entropies, shapes and the parameters' gradients."""
    D = torch.distributions
    a = torch.tensor(np.concatenate([X8[:, :3], X8[:, 3:6] - 0.5]), requires_grad=True)
    sp = torch.nn.functional.softplus
    loc, scale, loc2, scale2 = a[0], sp(a[1]), a[2], sp(a[3])
    df = torch.tensor([0.8, 1.5, 4.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor(X8[:2, 5:] * 4 - 2)
    p = torch.tensor(X8[2:4, 5:] * 0.9 + 0.05)
    W = a[4:6].T.reshape(3, 2)
    lowrank = D.LowRankMultivariateNormal(loc, W, scale)
    out = {"lr_log_prob": lowrank.log_prob(torch.tensor(X8[:4, :3])),
           "lr_entropy": lowrank.entropy(), "lr_variance": lowrank.variance,
           "lr_scale_tril": lowrank.scale_tril, "lr_covariance": lowrank.covariance_matrix,
           "lr_precision": lowrank.precision_matrix,
           "lr_shapes": f"{lowrank.batch_shape} {lowrank.event_shape} "
                        f"{tuple(lowrank.rsample((5,)).shape)}",
           "lr_expanded": lowrank.expand((2,)).log_prob(torch.tensor(X8[:2, :3]))}
    total = out["lr_log_prob"].sum() + out["lr_entropy"] + out["lr_precision"].sum()
    laws = {"cauchy": D.Cauchy(loc, scale), "t": D.StudentT(df, loc, scale),
            "chi2": D.Chi2(df), "gumbel": D.Gumbel(loc, scale),
            "half_normal": D.HalfNormal(scale), "half_cauchy": D.HalfCauchy(scale)}
    for name, law in laws.items():
        value = x.abs() if name in ("chi2", "half_normal", "half_cauchy") else x
        out[f"{name}_log_prob"], out[f"{name}_entropy"] = law.log_prob(value), law.entropy()
        total = total + out[f"{name}_log_prob"].sum() + out[f"{name}_entropy"].sum()
        for attr in ("mean", "mode", "variance", "stddev"):
            out[f"{name}_{attr}"] = getattr(law, attr)
        if name not in ("t", "chi2"):
            out[f"{name}_cdf"], out[f"{name}_icdf"] = law.cdf(value), law.icdf(p)
            total = total + out[f"{name}_cdf"].sum() + out[f"{name}_icdf"].sum()
        out[f"{name}_shapes"] = f"{law.batch_shape} {tuple(law.rsample((5, 2)).shape)}"
        out[f"{name}_support"] = repr(law.support)
        out[f"{name}_expanded"] = law.expand((2, 3)).log_prob(value)
    out["half_normal_outside"] = D.HalfNormal(scale, validate_args=False).log_prob(-x)
    out["grad_a"], out["grad_df"] = torch.autograd.grad(total, [a, df])
    out["numbers"] = torch.stack([D.Cauchy(0., 1.).log_prob(x), D.StudentT(3.).log_prob(x)])
    return out


def gumbel_softmax(torch):
    """Relaxed one-hot and relaxed Bernoulli latents (a discrete VAE's), their densities and
    gradients, and a straight-through one-hot built from an rsample."""
    D = torch.distributions
    logits = torch.tensor(X8[:4, :3] * 2 - 1, requires_grad=True)
    temperature = torch.tensor(0.7, dtype=torch.float64)
    relaxed = D.RelaxedOneHotCategorical(temperature, logits=logits)
    coin = D.RelaxedBernoulli(temperature, logits=logits)
    coin_p = D.RelaxedBernoulli(temperature, probs=torch.sigmoid(logits))
    point = torch.softmax(torch.tensor(X8[:4, 3:6] * 3), -1)
    u = torch.tensor(X8[:4, 5:] * 0.9 + 0.05)
    out = {"one_hot_log_prob": relaxed.log_prob(point), "coin_log_prob": coin.log_prob(u),
           "coin_probs_log_prob": coin_p.log_prob(u), "probs": relaxed.probs,
           "coin_probs": coin.probs, "temperature": relaxed.temperature,
           "shapes": f"{relaxed.batch_shape} {relaxed.event_shape} {coin.batch_shape} "
                     f"{tuple(relaxed.rsample((2,)).shape)} {tuple(coin.rsample((2,)).shape)}",
           "supports": f"{relaxed.support!r} {coin.support!r}",
           "expanded": relaxed.expand((2, 4)).log_prob(point),
           "logit_coin": D.relaxed_bernoulli.LogitRelaxedBernoulli(
               temperature, logits=logits).log_prob(torch.tensor(X8[:4, :3])),
           "exp_relaxed": D.relaxed_categorical.ExpRelaxedCategorical(
               temperature, logits=logits).log_prob(point.log())}
    total = out["one_hot_log_prob"].sum() + out["coin_log_prob"].sum()
    out["grad"] = torch.autograd.grad(total + out["coin_probs_log_prob"].sum(), logits)[0]
    y = relaxed.rsample()
    hard = torch.zeros_like(y).scatter_(-1, y.argmax(-1, keepdim=True), 1.0)
    out["straight_through_rows"] = ((hard - y).detach() + y).sum(-1)
    out["relaxed_rows"] = y.sum(-1)
    return out


def more_kl_divergences(torch):
    D = torch.distributions
    a = torch.tensor(np.concatenate([X8[:, :3], X8[:, 3:6] - 0.5]), requires_grad=True)
    sp = torch.nn.functional.softplus
    l1, s1, l2, s2 = a[0], sp(a[1]), a[2], sp(a[3])
    W1 = a[4:6].T.reshape(3, 2)
    W2 = a[:2].T.reshape(1, 3, 2) * torch.tensor([[[1.]], [[0.5]]], dtype=torch.float64)
    lr1 = D.LowRankMultivariateNormal(l1, W1, s1)
    lr2 = D.LowRankMultivariateNormal(l2, W2, s2)
    mvn = D.MultivariateNormal(l2, scale_tril=torch.diag(s2) + torch.tril(torch.outer(s1, s2),
                                                                           -1))
    pairs = {"cauchy": (D.Cauchy(l1, s1), D.Cauchy(l2, s2)),
             "gumbel": (D.Gumbel(l1, s1), D.Gumbel(l2, s2)),
             "half_normal": (D.HalfNormal(s1), D.HalfNormal(s2)),
             "gumbel_normal": (D.Gumbel(l1, s1), D.Normal(l2, s2)),
             "normal_gumbel": (D.Normal(l1, s1), D.Gumbel(l2, s2)),
             "lowrank": (lr1, lr2), "lowrank_batched": (lr2, lr1), "mvn_lowrank": (mvn, lr2),
             "lowrank_mvn": (lr2, mvn), "lowrank_mvn_single": (lr1, mvn)}
    out = {name: D.kl_divergence(p, q) for name, (p, q) in pairs.items()}
    out["grad"] = torch.autograd.grad(sum(v.sum() for v in out.values()), a)[0]
    return out


def test_mixture_density_network():
    """MixtureSameFamily was missing (AttributeError)."""
    _compare(mixture_density_network)


def test_lowrank_normal_heavy_tailed_and_half_distributions():
    """LowRankMultivariateNormal, Cauchy, StudentT, Chi2, Gumbel, HalfNormal, HalfCauchy
    were missing."""
    _compare(more_distributions)


def test_gumbel_softmax_relaxed_distributions():
    """RelaxedOneHotCategorical, RelaxedBernoulli and their log-space bases were missing."""
    _compare(gumbel_softmax)


def test_kl_divergences_of_the_added_distributions():
    _compare(more_kl_divergences)


def test_added_distributions_refuse_bad_arguments_as_pytorch():
    def calls(T):
        D = T.distributions
        t = T.tensor(0.5)

        def ones(*shape):
            return T.ones(*shape, dtype=T.float64)
        normal3 = D.Normal(T.zeros(3), T.ones(3))
        return [
            lambda: D.MixtureSameFamily(D.Normal(0., 1.), normal3),
            lambda: D.MixtureSameFamily(D.Categorical(T.ones(3)), 3),
            lambda: D.MixtureSameFamily(D.Categorical(T.ones(2, 3)),
                                        D.Normal(T.zeros(4, 3), T.ones(4, 3))),
            lambda: D.MixtureSameFamily(D.Categorical(T.ones(3)), D.Normal(T.zeros(4),
                                                                           T.ones(4))),
            lambda: D.MixtureSameFamily(D.Categorical(T.ones(3)), normal3).rsample(),
            lambda: D.MixtureSameFamily(D.Categorical(T.ones(3)), D.Exponential(
                T.ones(3))).log_prob(T.tensor([-1.0])),
            lambda: D.LowRankMultivariateNormal(ones(), ones(3, 1), ones(3)),
            lambda: D.LowRankMultivariateNormal(ones(3), ones(3), ones(3)),
            lambda: D.LowRankMultivariateNormal(ones(3), ones(2, 1), ones(3)),
            lambda: D.LowRankMultivariateNormal(ones(3), ones(3, 1), ones(2)),
            lambda: D.LowRankMultivariateNormal(ones(2, 3), ones(4, 3, 1), ones(3)),
            lambda: D.kl_divergence(D.LowRankMultivariateNormal(ones(2), ones(2, 1), ones(2)),
                                    D.LowRankMultivariateNormal(ones(3), ones(3, 1), ones(3))),
            lambda: D.kl_divergence(D.LowRankMultivariateNormal(ones(2), ones(2, 1), ones(2)),
                                    D.MultivariateNormal(ones(3), T.eye(3, dtype=T.float64))),
            lambda: D.Cauchy(0., -1.),
            lambda: D.HalfNormal(T.tensor([-1.])),
            lambda: D.HalfNormal(1.).log_prob(T.tensor([-1.])),
            lambda: D.Chi2(T.tensor([-1.])),
            lambda: D.StudentT(T.tensor([0.])),
            lambda: D.Gumbel(0., T.tensor(-2.)),
            lambda: D.RelaxedBernoulli(t, probs=T.tensor([0.5]), logits=T.tensor([0.])),
            lambda: D.RelaxedOneHotCategorical(t),
            lambda: D.RelaxedBernoulli(t, probs=T.tensor([1.5])),
            lambda: D.RelaxedBernoulli(t, probs=T.tensor([0.5])).log_prob(T.tensor([1.5])),
            lambda: D.RelaxedOneHotCategorical(t, probs=T.tensor([0.5, 0.5])).log_prob(
                T.tensor([0.9, 0.9])),
        ]
    for mine, theirs in zip(calls(minigrad), calls(torch)):
        assert _outcome(mine) == _outcome(theirs)


# ----------------------------------------------------------------------------------------------
# More training idioms: convolutional beta-VAE, score SDE, classifier-free guidance, EMA,
# VQ-VAE, Glow pieces, ensembles with torch.func, parameter-space Hessians
# ----------------------------------------------------------------------------------------------
IMG = _RNG.random((4, 1, 8, 8))
T01 = _RNG.random(4)


def conv_beta_vae(torch):
    nn, F, D = torch.nn, torch.nn.functional, torch.distributions
    enc = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(),
                        nn.Conv2d(4, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.LeakyReLU(), nn.Flatten(),
                        nn.Linear(8 * 2 * 2, 6))
    dec = nn.Sequential(nn.Linear(3, 32), nn.Unflatten(1, (8, 2, 2)),
                        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
                        nn.ReLU(), nn.ConvTranspose2d(4, 1, 3, 2, 1, output_padding=1))
    enc, dec = _load(torch, enc.double(), 1), _load(torch, dec.double(), 2)
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3,
                           weight_decay=1e-5)
    x = torch.tensor(IMG)
    out = {}
    for i in range(2):
        mu, logvar = torch.chunk(enc(x), 2, dim=1)
        q = D.Normal(mu, torch.exp(0.5 * logvar))
        logits = dec(q.loc + q.scale * torch.tensor(EPS3[i, :4]))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)
        rec2 = -D.Bernoulli(logits=logits, validate_args=False).log_prob(x).sum() / x.size(0)
        prior = D.Normal(torch.zeros_like(mu), torch.ones_like(logvar))
        kl = D.kl_divergence(q, prior).sum(-1).mean()
        loss = rec + 4.0 * kl
        opt.zero_grad()
        loss.backward()
        out[f"grad_norm{i}"] = torch.nn.utils.clip_grad_norm_(enc.parameters(), max_norm=1.0)
        torch.nn.utils.clip_grad_value_(dec.parameters(), 0.5)
        opt.step()
        out[f"rec{i}"], out[f"rec_bernoulli{i}"], out[f"kl{i}"] = rec, rec2, kl
    out["running_mean"], out["weight"] = enc[3].running_mean, dec[2].weight
    enc.eval()
    with torch.inference_mode():
        out["reconstruction"] = torch.sigmoid(dec(enc(x)[:, :3]))
    return out


def score_sde(torch):
    # denoising score matching under a variance-exploding SDE: noise scale
    # s(t) = sqrt((25^(2t) - 1) / (2 ln 25)), diffusion g(t) = 25^t, random Fourier features
    # of t as a frozen Parameter, then a few Euler-Maruyama steps backwards in time
    nn = torch.nn
    base = 25.0

    def noise_std(t):
        t = torch.as_tensor(t, dtype=torch.float64)
        return torch.sqrt((base ** (2 * t) - 1.) / (2. * np.log(base)))

    def g_of(t):
        return torch.tensor(base, dtype=torch.float64) ** t

    class FourierTime(nn.Module):
        def __init__(self, width, spread=30.):
            super().__init__()
            freqs = torch.tensor(np.linspace(-1, 1, width // 2)) * spread
            self.freqs = nn.Parameter(freqs, requires_grad=False)

        def forward(self, t):
            phase = 2 * np.pi * self.freqs[None, :] * t[:, None]
            return torch.cat([phase.sin(), phase.cos()], dim=-1)

    class Score(nn.Module):
        def __init__(self):
            super().__init__()
            self.time = nn.Sequential(FourierTime(8), nn.Linear(8, 8))
            self.inp, self.outp = nn.Linear(3, 8), nn.Linear(8, 3)

        def forward(self, x, t):
            h = self.inp(x) + self.time(t)
            return self.outp(torch.sigmoid(h) * h) / noise_std(t).unsqueeze(1)

    net = Score().double()
    state = net.state_dict()
    state.update({k: torch.tensor(v) for k, v in _weights(net, 1).items()
                  if k != "time.0.freqs"})
    net.load_state_dict(state)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, z = torch.tensor(XS[0, :4]), torch.tensor(EPS3[0, :4])
    out = {}
    lowest = 1e-5
    for i in range(2):
        t = lowest + (1. - lowest) * torch.tensor(T01)
        s = noise_std(t).unsqueeze(1)
        # the score of the perturbed point times s should undo the unit noise z
        loss = ((net(x + s * z, t) * s + z) ** 2).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"loss{i}"] = loss
    with torch.no_grad():
        times = torch.linspace(1., 1e-3, 4, dtype=torch.float64)
        dt = times[0] - times[1]
        xk = z * noise_std(torch.ones(4, dtype=torch.float64)).unsqueeze(1)
        for t in times:
            now = torch.full((4,), 1.0, dtype=torch.float64) * t
            g = g_of(now)
            drift = xk + dt * (g ** 2).unsqueeze(1) * net(xk, now)
            xk = drift + g.unsqueeze(1) * torch.sqrt(dt) * torch.tensor(XQ[0, :4])
    out["sample"], out["W"] = drift, net.time[0].freqs
    return out


def guidance_and_ema(torch):
    nn, F = torch.nn, torch.nn.functional
    swa = torch.optim.swa_utils
    model = _load(torch, nn.Sequential(nn.Linear(5, 8), nn.SiLU(), nn.Linear(8, 3)).double(), 3)
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))
    ema2 = swa.AveragedModel(model, avg_fn=swa.get_ema_avg_fn(0.8), use_buffers=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    null = torch.zeros(1, 2, dtype=torch.float64)
    cond, x, target = torch.tensor(EPS3[1, :4, :2]), torch.tensor(XS[0, :4]), torch.tensor(
        EPS3[2, :4])
    c = torch.where((torch.tensor(T01) < 0.3)[:, None], null.expand_as(cond), cond)
    out = {"cond": c}
    for i in range(2):
        loss = F.mse_loss(model(torch.cat([x, c], dim=-1)), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update_parameters(model)
        ema2.update_parameters(model)
        out[f"loss{i}"] = loss
    shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for k, v in model.state_dict().items():
            shadow[k].mul_(0.99).add_(v, alpha=0.01)
            shadow[k].lerp_(v, 0.5)
        e_cond, e_uncond = ema(torch.cat([torch.cat([x] * 2),
                                          torch.cat([cond, null.expand_as(cond)])], -1)).chunk(2)
    out["guided"] = e_uncond + 3.0 * (e_cond - e_uncond)
    out["guided_lerp"] = torch.lerp(e_uncond, e_cond, 3.0)
    out["ema"], out["ema2"], out["n"] = ema.module[0].weight, ema2.module[0].weight, ema.n_averaged
    out["shadow"] = shadow["0.weight"]
    return out


def vq_vae_and_glow(torch):
    nn, F = torch.nn, torch.nn.functional
    codebook = nn.Embedding(5, 3).double()
    codebook.weight.data.copy_(torch.tensor(XQ[0]))
    z = torch.tensor(np.concatenate([XS[0], XS[1, :1]]), requires_grad=True)
    codes = codebook.weight
    # squared distances |z|^2 - 2 z.c + |c|^2 to every code, the nearest code as one-hot rows
    sq = (z ** 2).sum(dim=1, keepdim=True) - 2 * torch.matmul(z, codes.t()) + torch.sum(
        codes ** 2, dim=1)
    nearest = torch.argmin(sq, dim=1).unsqueeze(1)
    chosen = torch.zeros(len(nearest), 5, dtype=torch.float64).scatter_(1, nearest, 1)
    zq = torch.matmul(chosen, codes)
    idx2 = torch.cdist(z, codes).argmin(-1)
    loss = F.mse_loss(zq.detach(), z) + 0.25 * F.mse_loss(zq, z.detach())
    usage = chosen.mean(dim=0)
    entropy = -(usage * torch.log(usage + 1e-10)).sum()
    out = {"loss": loss, "perplexity": torch.exp(entropy),
           "same_codes": (codebook(idx2) == zq).all(),
           "usage": F.one_hot(idx2, 5).float().mean(0),
           "counts": torch.bincount(idx2, minlength=6)}
    (loss + (z + (zq - z).detach()).sum()).backward()
    out["grad_z"], out["grad_codebook"] = z.grad, codebook.weight.grad
    # Glow: actnorm initialised from data, invertible 1x1 convolution and its log-determinant
    weight = nn.Parameter(torch.linalg.qr(torch.tensor(MAT[:2, :2]))[0])
    x = torch.tensor(X0)
    with torch.no_grad():
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True)
    loc, logs = nn.Parameter(-mean), nn.Parameter(torch.log(1 / (std + 1e-6)))
    h = (x + loc) * torch.exp(logs)
    y = F.conv2d(h, weight.view(2, 2, 1, 1))
    log_det = 16 * torch.sum(logs) + 16 * torch.slogdet(weight)[1]
    log_p = -0.5 * (y ** 2 + math.log(2 * math.pi)).sum(dim=(1, 2, 3)) + log_det
    bits = -log_p.mean() / (math.log(2.) * 2 * 16)
    bits.backward()
    P, L, U = torch.linalg.lu(weight)
    out.update(bits=bits, grad_weight=weight.grad, grad_logs=logs.grad, P=P, L=L, U=U,
               lu_log_det=torch.sum(torch.log(torch.abs(torch.diag(U)))),
               inverse=F.conv2d(y, torch.inverse(weight).view(2, 2, 1, 1)) * torch.exp(-logs)
               - loc)
    return out


def ensembles_and_parameter_hessian(torch):
    nn, F, func = torch.nn, torch.nn.functional, torch.func
    models = [_load(torch, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)).double(),
                    s) for s in range(3)]
    params, buffers = func.stack_module_state(models)

    def fmodel(params, buffers, x):
        return func.functional_call(models[0], (params, buffers), (x,))
    x = torch.tensor(XS[0])
    out = {"ensemble": func.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, x),
           "ensemble_batched": func.vmap(fmodel)(params, buffers,
                                                 x.unsqueeze(0).expand(3, -1, -1)),
           "stacked": " ".join(f"{k}{tuple(v.shape)}" for k, v in sorted(params.items()))}
    model = _load(torch, nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)).double(), 4)
    y = torch.tensor(YS[0])
    vec = torch.nn.utils.parameters_to_vector(model.parameters()).detach()
    named = [(n, p.shape) for n, p in model.named_parameters()]

    def loss_of(flat):
        ps, i = {}, 0
        for n, s in named:
            k = int(np.prod(s))
            ps[n] = flat[i:i + k].view(s)
            i += k
        return F.mse_loss(func.functional_call(model, ps, (x,)), y)
    out["hessian"] = torch.autograd.functional.hessian(loss_of, vec)
    out["eigenvalues"] = torch.linalg.eigvalsh(out["hessian"])
    out["jacrev"] = func.jacrev(loss_of)(vec)
    grads = torch.autograd.grad(F.mse_loss(model(x), y), model.parameters(), create_graph=True)
    gv = sum((g * torch.ones_like(g)).sum() for g in grads)
    out["hvp0"], out["hvp3"] = torch.autograd.grad(gv, model.parameters())[::3]
    torch.nn.utils.vector_to_parameters(vec * 2, model.parameters())
    out["reloaded"] = model[0].weight
    # a batch of vector-Jacobian products in one call (the rows of a Jacobian)
    w = torch.tensor(VEC, requires_grad=True)
    out["batched_vjp"] = torch.autograd.grad(torch.tanh(w) * w, w, torch.eye(3, dtype=w.dtype),
                                             is_grads_batched=True)[0]
    return out


def test_more_generative_training_idioms():
    for program in (conv_beta_vae, score_sde, guidance_and_ema, vq_vae_and_glow,
                    ensembles_and_parameter_hessian):
        _compare(program)


def test_autograd_grad_with_batched_grad_outputs():
    """is_grads_batched=True (minigrad raised NotImplementedError): dim 0 of each grad_output
    is a batch; results are stacked; unused inputs, mismatched sizes and create_graph as
    PyTorch."""
    def calls(T):
        x = T.tensor([1., 2., 3.], dtype=T.float64, requires_grad=True)
        y = x * x
        unused = T.ones(2, dtype=T.float64, requires_grad=True)
        eye = T.eye(3, dtype=T.float64)
        return [
            lambda: T.autograd.grad(y.sum(), x, T.ones(4, dtype=T.float64),
                                    is_grads_batched=True, retain_graph=True),
            lambda: T.autograd.grad([y, y.sum()], x, [T.ones(2, 3), T.ones(3)],
                                    is_grads_batched=True, retain_graph=True),
            lambda: T.autograd.grad([y], [x, unused], [eye], is_grads_batched=True,
                                    retain_graph=True, allow_unused=True),
            lambda: T.autograd.grad([y], [x, unused], [eye], is_grads_batched=True,
                                    retain_graph=True, materialize_grads=True),
            lambda: T.autograd.grad([y], [x, unused], [eye], is_grads_batched=True,
                                    retain_graph=True),
            lambda: T.autograd.grad(y, x, T.ones(3, 2), is_grads_batched=True,
                                    retain_graph=True),
            lambda: T.autograd.grad([y], [x], [eye.requires_grad_()], is_grads_batched=True,
                                    create_graph=True),
            lambda: T.autograd.grad([y], [x], [eye], is_grads_batched=True),
        ]

    def describe(result):
        return [None if t is None else (tuple(t.shape), t.requires_grad, _np(t).tolist())
                for t in result]
    for mine, theirs in zip(calls(minigrad), calls(torch)):
        boxes = [], []
        outcomes = [_outcome(lambda: box.append(describe(f()))) for box, f in
                    zip(boxes, (mine, theirs))]
        assert outcomes[0].split(":")[0] == outcomes[1].split(":")[0]
        assert boxes[0] == boxes[1]


# ----------------------------------------------------------------------------------------------
# Constrained parameters and more transforms
# ----------------------------------------------------------------------------------------------
def constrained_variational_inference(torch):
    """Unconstrained parameters mapped onto their constraints with transform_to/biject_to
    (a positive scale, a simplex of weights, an interval), optimised by Adam; flows built from
    SoftplusTransform, PowerTransform, StickBreakingTransform and IndependentTransform."""
    D = torch.distributions
    C, T = D.constraints, D.transforms
    raw_scale = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    raw_weights = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    raw_rho = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([raw_scale, raw_weights, raw_rho], lr=0.1)
    data = torch.tensor(X8[:, :3] * 2 - 1)
    out = {}
    for i in range(3):
        scale = D.transform_to(C.positive)(raw_scale)
        weights = D.transform_to(C.simplex)(raw_weights)
        rho = D.biject_to(C.interval(-1., 1.))(raw_rho)
        mix = D.MixtureSameFamily(D.Categorical(probs=weights),
                                  D.Normal(torch.tensor([-1., 0., 1.], dtype=torch.float64) * rho,
                                           scale))
        log_jac = D.biject_to(C.positive).log_abs_det_jacobian(raw_scale, scale).sum()
        loss = -mix.log_prob(data).mean() - 0.01 * log_jac
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"loss{i}"] = loss
    out["scale"], out["weights"], out["rho"] = scale, weights, rho
    x = torch.tensor(X8[:4, :3] * 2 - 1, requires_grad=True)
    p = torch.tensor(X8[:4, 3:6] + 0.1)
    exponent = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    for name, t, value in [("softplus", T.SoftplusTransform(), x),
                           ("power", T.PowerTransform(exponent), p),
                           ("stick", T.StickBreakingTransform(), x),
                           ("independent", T.IndependentTransform(T.SoftplusTransform(), 1), x),
                           ("independent_affine",
                            T.IndependentTransform(T.AffineTransform(x[0], 2.0), 2), x)]:
        y = t(value)
        out[f"{name}_y"], out[f"{name}_inverse"] = y, t.inv(y)
        out[f"{name}_log_det"] = t.log_abs_det_jacobian(value, y)
        out[f"{name}_about"] = (f"{t!r} {t.domain!r} {t.codomain!r} {t.bijective} "
                                f"{t.forward_shape((4, 3))} {t.inverse_shape((4, 3))} "
                                f"{t == t} {t == T.ExpTransform()}")
    out["softmax"] = T.SoftmaxTransform()(x)
    out["softmax_inverse"] = T.SoftmaxTransform().inv(out["softmax"])
    out["sign"] = T.PowerTransform(torch.tensor([-1., 2.])).sign
    differentiable = [v for v in out.values() if getattr(v, "requires_grad", False)]
    out["grad_x"] = torch.autograd.grad(sum(v.sum() for v in differentiable), x)[0]
    std = D.Normal(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    out["softplus_flow"] = D.TransformedDistribution(std, [T.SoftplusTransform()]).log_prob(p)
    simplex_flow = D.TransformedDistribution(
        D.Normal(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)),
        [T.StickBreakingTransform()])
    out["stick_flow"] = simplex_flow.log_prob(torch.softmax(x.detach(), -1))
    out["stick_flow_shapes"] = f"{simplex_flow.batch_shape} {simplex_flow.event_shape}"
    out["power_flow"] = D.TransformedDistribution(
        D.Exponential(torch.ones(3, dtype=torch.float64)),
        [T.PowerTransform(torch.tensor(0.5, dtype=torch.float64))]).log_prob(p)
    for name, c in [("real", C.real), ("positive", C.positive), ("greater", C.greater_than(2.)),
                    ("less", C.less_than(1.)), ("unit", C.unit_interval),
                    ("interval", C.interval(-1., 3.)), ("simplex", C.simplex),
                    ("real_vector", C.real_vector), ("independent", C.independent(C.positive, 1)),
                    ("nonnegative", C.nonnegative)]:
        for kind, registry in (("biject", D.biject_to), ("transform", D.transform_to)):
            t = registry(c)
            y = t(x)
            out[f"{name}_{kind}"], out[f"{name}_{kind}_inside"] = y, c.check(y)
            out[f"{name}_{kind}_repr"] = repr(t)
            if kind == "biject":
                out[f"{name}_{kind}_log_det"] = t.log_abs_det_jacobian(x, y)
                out[f"{name}_{kind}_inverse"] = t.inv(y)
    return out


def test_constrained_parameters_and_transforms():
    """biject_to/transform_to and SoftplusTransform, PowerTransform, SoftmaxTransform,
    StickBreakingTransform, IndependentTransform were missing."""
    _compare(constrained_variational_inference)


def test_transform_registry_errors():
    def calls(T):
        D = T.distributions
        C, Tr = D.constraints, D.transforms
        return [lambda: D.biject_to(C.boolean), lambda: D.biject_to(C.lower_cholesky),
                lambda: D.transform_to(C.integer_interval(0, 3)),
                lambda: Tr.SoftmaxTransform().forward_shape(()),
                lambda: Tr.StickBreakingTransform().inverse_shape(()),
                lambda: Tr.IndependentTransform(Tr.ExpTransform(), 2)(T.ones(3))]
    for mine, theirs in zip(calls(minigrad), calls(torch)):
        assert _outcome(mine) == _outcome(theirs)


# ----------------------------------------------------------------------------------------------
# torch.func transforms, custom autograd Functions, LBFGS variants
# ----------------------------------------------------------------------------------------------
def func_transforms(torch):
    F = torch.func
    x, v = torch.tensor(VEC), torch.tensor(VEC[::-1].copy())

    def f(x):
        return (x.sin() * x).sum()
    out = {}
    out["grad"], out["aux"] = F.grad(lambda x: (f(x), x.cos()), has_aux=True)(x)
    out["vjp"] = F.vjp(lambda x: x.sin() * x, x)[1](v)[0]
    out["jvp"] = F.jvp(lambda x: x.sin() * x, (x,), (v,))[1]
    out["jacrev_a"], out["jacrev_b"] = F.jacrev(lambda a, b: a * b.exp(), argnums=(0, 1))(x, v)
    out["jacfwd"] = F.jacfwd(lambda a, b: (a * b).sum(), argnums=1)(x, v)
    out["hessian"] = F.hessian(f)(x)
    out["vmap_grad"] = F.vmap(F.grad(f))(torch.tensor(MAT))
    out["vmap_in_dims"] = F.vmap(lambda a, b: a @ b, in_dims=(0, None))(torch.tensor(MAT), x)
    out["vmap_chunks"] = F.vmap(torch.sin, chunk_size=2)(torch.tensor(MAT))
    output, jvp_fn = F.linearize(lambda x: x.sin() * x, x)
    out["linearize_output"], out["linearize"] = output, jvp_fn(v)
    out["linearize_twice"] = jvp_fn(x)
    out["linearize_error"] = _outcome(lambda: jvp_fn(torch.ones(2, dtype=torch.float64)))
    return out


def custom_functions_and_lbfgs(torch):
    class Exp(torch.autograd.Function):
        @staticmethod
        def forward(x):
            return x.exp()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(output)

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return g * y

    class ClampMin(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, low):
            return x.clamp(min=low)

        @staticmethod
        def backward(ctx, g):
            return g, None

    x = torch.tensor(VEC, requires_grad=True)
    y = Exp.apply(x)
    gx, = torch.autograd.grad(y.sum(), x, create_graph=True)
    out = {"y": y, "grad": gx, "grad2": torch.autograd.grad(gx.sum(), x)[0],
           "straight_through": torch.autograd.grad(ClampMin.apply(x, 0.0).sum(), x)[0],
           "checks": np.array([torch.autograd.gradcheck(lambda a: Exp.apply(a), (x,)),
                               torch.autograd.gradgradcheck(lambda a: (a.sin() * a).sum(),
                                                            (x,))])}
    A = torch.tensor(MAT @ MAT.T + np.eye(3))
    b = torch.tensor(VEC[::-1].copy())
    for name, options in [("plain", {}),
                          ("wolfe", dict(line_search_fn="strong_wolfe", tolerance_grad=1e-12,
                                         tolerance_change=1e-14)),
                          ("short", dict(history_size=2, max_iter=4, lr=0.5))]:
        p = x.detach().clone().requires_grad_()
        opt = torch.optim.LBFGS([p], **options)
        evaluations = []

        def closure():
            opt.zero_grad()
            loss = 0.5 * p @ A @ p - b @ p + (p ** 4).sum() * 0.01
            loss.backward()
            evaluations.append(loss.item())
            return loss
        for _ in range(2):
            opt.step(closure)
        out[name], out[f"{name}_losses"] = p, np.array(evaluations)
        out[f"{name}_state"] = np.array([opt.state[p]["n_iter"], opt.state[p]["func_evals"]])
    return out


def test_func_transforms_custom_functions_and_lbfgs():
    """torch.func.linearize was missing."""
    _compare(func_transforms)
    _compare(custom_functions_and_lbfgs)


def weibull_pareto_negative_binomial(torch):
    """Survival-time and over-dispersed count likelihoods: Weibull, Pareto, NegativeBinomial
    (from logits or probs), their moments, cdfs, entropies, expand and gradients."""
    D = torch.distributions
    a = torch.tensor(X8[:2, :3] * 2 + 0.3, requires_grad=True)
    x = torch.tensor(X8[2:4, :3] + 1.0)
    counts = torch.tensor([[0., 1., 5.], [2., 0., 3.]], dtype=torch.float64)
    laws = {"weibull": (D.Weibull(a[0], a[1] + 0.5), x),
            "pareto": (D.Pareto(a[0], a[1] + 1.5), x + 2),
            "negative_binomial": (D.NegativeBinomial(a[0] * 3, logits=a[1] - 1), counts),
            "negative_binomial_probs": (D.NegativeBinomial(
                torch.tensor([0., 2., 3.], dtype=torch.float64), probs=torch.sigmoid(a[1] - 1)),
                counts)}
    out, total = {}, 0
    for name, (law, value) in laws.items():
        out[f"{name}_log_prob"] = law.log_prob(value)
        for attr in ("mean", "mode", "variance"):
            out[f"{name}_{attr}"] = getattr(law, attr)
        if name in ("weibull", "pareto"):
            out[f"{name}_entropy"], out[f"{name}_cdf"] = law.entropy(), law.cdf(value)
            out[f"{name}_rsample"] = str(tuple(law.rsample((4,)).shape))
        total = total + sum(v.sum() for k, v in out.items()
                            if k.startswith(name) and not isinstance(v, str))
        out[f"{name}_sample"] = str(tuple(law.sample((4,)).shape))
        out[f"{name}_support"] = type(law.support).__name__
        out[f"{name}_expanded"] = law.expand((2, 3)).log_prob(value)
    out["pareto_support_check"] = laws["pareto"][0].support.check(x + 1)
    out["probs"], out["logits"] = laws["negative_binomial"][0].probs, laws[
        "negative_binomial_probs"][0].logits
    out["grad"] = torch.autograd.grad(total, a)[0]
    out["errors"] = " | ".join(_outcome(f) for f in (
        lambda: D.NegativeBinomial(1., probs=torch.tensor(0.5), logits=torch.tensor(0.)),
        lambda: D.NegativeBinomial(-1., probs=torch.tensor(0.5)),
        lambda: D.NegativeBinomial(1., probs=torch.tensor(0.5)).log_prob(torch.tensor(0.5)),
        lambda: D.Pareto(2., 1.).log_prob(torch.tensor(1.0)),
        lambda: D.Weibull(-1., 1.)))
    return out


def test_weibull_pareto_negative_binomial():
    """Weibull, Pareto and NegativeBinomial were missing."""
    _compare(weibull_pareto_negative_binomial)


def continuous_bernoulli_vae_likelihood(torch):
    """The continuous-Bernoulli likelihood of a VAE decoder's logits for grey pixels, near
    and away from l = 1/2 (where its Taylor branches take over)."""
    D = torch.distributions
    logits = torch.tensor(np.concatenate([X8[:2, :4] * 4 - 2, [[0.0, 0.001, -0.002, 5.0]]]),
                          requires_grad=True)
    pixels = torch.tensor(np.concatenate([X8[2:4, :4], [[0.3, 0.5, 0.0, 1.0]]]))
    out = {}
    for name, law in [("logits", D.ContinuousBernoulli(logits=logits)),
                      ("probs", D.ContinuousBernoulli(probs=torch.sigmoid(logits))),
                      ("validated", D.ContinuousBernoulli(probs=torch.sigmoid(logits),
                                                          validate_args=True))]:
        out[f"{name}_log_prob"] = law.log_prob(pixels)
        out[f"{name}_mean"], out[f"{name}_variance"] = law.mean, law.variance
        out[f"{name}_stddev"], out[f"{name}_entropy"] = law.stddev, law.entropy()
        out[f"{name}_cdf"], out[f"{name}_icdf"] = law.cdf(pixels), law.icdf(pixels)
        out[f"{name}_expanded"] = law.expand((2, 3, 4)).log_prob(pixels)
        out[f"{name}_rsample"] = str(tuple(law.rsample((2,)).shape))
    total = sum(v.sum() for v in out.values() if getattr(v, "requires_grad", False))
    out["grad"] = torch.autograd.grad(total, logits)[0]
    out["scalar"] = D.ContinuousBernoulli(torch.tensor(0.3, dtype=torch.float64)).log_prob(pixels)
    out["scalar_batch_shape"] = str(D.ContinuousBernoulli(0.3).batch_shape)
    out["errors"] = " | ".join(_outcome(f) for f in (
        lambda: D.ContinuousBernoulli(0.3, 0.2),
        lambda: D.ContinuousBernoulli(probs=torch.tensor([1.3]), validate_args=True),
        lambda: D.ContinuousBernoulli(probs=torch.tensor([1.3])),
        lambda: D.ContinuousBernoulli(0.3).log_prob(torch.tensor([1.5])),
        # the error lists the parameters given (minigrad also showed the logits it derived)
        lambda: D.Bernoulli(probs=torch.tensor([0.3])).log_prob(torch.tensor([0.5])),
        lambda: D.RelaxedBernoulli(torch.tensor(0.5), probs=torch.tensor([0.3])).log_prob(
            torch.tensor([1.5]))))
    return out


def test_continuous_bernoulli():
    """ContinuousBernoulli was missing."""
    _compare(continuous_bernoulli_vae_likelihood)


def functional_call_with_buffers(torch):
    """MAML with BatchNorm: functional_call with (params, buffers), the running statistics
    updated in the buffers passed, strict-mode errors, tied weights."""
    nn = torch.nn
    model = _load(torch, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                       nn.Linear(4, 1)).double(), 1, 1.0)
    params = {k: v.clone().requires_grad_() for k, v in model.named_parameters()}
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    x = torch.tensor(XS[0])
    y = torch.func.functional_call(model, (params, buffers), (x,))
    out = {"y": y, "running_mean": buffers["1.running_mean"],
           "model_running_mean": model[1].running_mean,
           "batches": buffers["1.num_batches_tracked"],
           "grad": torch.autograd.grad(y.sum(), list(params.values()))[0]}
    out["errors"] = " | ".join(_outcome(lambda: torch.func.functional_call(model, p, (x,), **kw))
                               for kw, p in [({"strict": True}, {"0.weight": params["0.weight"]}),
                                             ({}, {"0.weightx": params["0.weight"]}),
                                             ({"strict": True}, dict(params, extra=x))])

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = nn.Linear(3, 3, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))
    tied = Tied().double()
    with torch.no_grad():
        tied.a.weight.copy_(torch.tensor(MAT))
    w = torch.tensor(np.eye(3) * 2)
    out["tied"] = torch.func.functional_call(tied, {"a.weight": w}, (x,))
    out["untied"] = torch.func.functional_call(tied, {"a.weight": w}, (x,), tie_weights=False)
    model.eval()
    out["eval"] = torch.func.functional_call(model, (params, buffers), x)
    return out


def test_functional_call_with_buffers_and_tied_weights():
    _compare(functional_call_with_buffers)


def multinomial_counts(torch):
    D = torch.distributions
    logits = torch.tensor(X8[:2, :4] * 2 - 1, requires_grad=True)
    counts = torch.tensor([[1., 0., 2., 2.], [0., 0., 5., 0.]], dtype=torch.float64)
    out = {}
    for name, law in [("logits", D.Multinomial(5, logits=logits)),
                      ("probs", D.Multinomial(5, probs=torch.softmax(logits, -1)))]:
        out[f"{name}_log_prob"], out[f"{name}_entropy"] = law.log_prob(counts), law.entropy()
        out[f"{name}_mean"], out[f"{name}_variance"] = law.mean, law.variance
        out[f"{name}_expanded"] = law.expand((3, 2)).log_prob(counts)
        draws = law.sample((3,))
        out[f"{name}_draws"] = f"{tuple(draws.shape)} {draws.sum(-1).tolist()}"
        out[f"{name}_about"] = f"{law.support!r} {law.batch_shape} {law.event_shape}"
    total = sum(v.sum() for v in out.values() if getattr(v, "requires_grad", False))
    out["grad"] = torch.autograd.grad(total, logits)[0]
    zero = D.Multinomial(3, probs=torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64))
    out["zero_log_prob"] = zero.log_prob(torch.tensor([0., 1., 2.], dtype=torch.float64))
    out["zero_entropy"] = zero.entropy()
    out["one_draw"] = D.Multinomial(probs=torch.tensor([0.2, 0.8])).sample((4,)).sum(-1)
    probs = torch.tensor([0.5, 0.5])
    out["errors"] = " | ".join(_outcome(f) for f in (
        lambda: D.Multinomial(2.5, probs=probs),
        lambda: D.Multinomial(2, probs=probs).log_prob(torch.tensor([2., 1.])),
        lambda: D.Multinomial(2, probs=probs).log_prob(torch.tensor([-1., 1.]))))
    return out


def test_multinomial():
    """Multinomial (and constraints.multinomial) was missing."""
    _compare(multinomial_counts)


def unet_attention_blocks(torch):
    """A diffusion U-Net's attention (einsum, amax-stabilised softmax), linear attention,
    nearest upsampling, bilinear downsampling, baddbmm, and a non-reentrant checkpoint."""
    nn, F = torch.nn, torch.nn.functional

    class SpatialSelfAttention(nn.Module):
        """softmax attention between the h*w positions, per head, with the row maximum taken
        out first (detached), then a residual connection"""
        def __init__(self, c, heads=2):
            super().__init__()
            self.heads, self.norm = heads, nn.GroupNorm(2, c)
            self.qkv, self.out = nn.Conv2d(c, c * 3, 1, bias=False), nn.Conv2d(c, c, 1)

        def forward(self, x):
            b, c, h, w = x.shape
            d = c // self.heads
            q, k, v = (part.reshape(b, self.heads, d, h * w)
                       for part in self.qkv(self.norm(x)).chunk(3, dim=1))
            logits = torch.einsum("bhdi,bhdj->bhij", q / math.sqrt(d), k)
            logits = logits - logits.amax(dim=-1, keepdim=True).detach()
            mixed = torch.einsum("bhij,bhdj->bhid", logits.softmax(dim=-1), v)
            return x + self.out(mixed.permute(0, 1, 3, 2).reshape(b, c, h, w))

    class KernelAttention(nn.Module):
        """linear-cost attention: keys normalised over positions, queries over channels,
        a (c x c) summary between them"""
        def __init__(self, c):
            super().__init__()
            self.qkv = nn.Conv2d(c, c * 3, 1)

        def forward(self, x):
            b, c, h, w = x.shape
            q, k, v = self.qkv(x).reshape(b, 3, c, h * w).unbind(1)
            summary = torch.einsum("b k n, b v n -> b k v", k.softmax(dim=-1), v)
            mixed = torch.einsum("b k v, b k n -> b v n", summary, q.softmax(dim=-2))
            return mixed.reshape(b, c, h, w)

    net = _load(torch, nn.ModuleDict({
        "attn": SpatialSelfAttention(4), "linear": KernelAttention(4),
        "up": nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                            nn.Conv2d(4, 4, 3, padding=1)),
        "down": nn.Conv2d(4, 4, 4, 2, 1), "drop": nn.Dropout2d(0.0)}).double(), 1)
    x = torch.tensor(np.concatenate([X0, NOISE], 1), requires_grad=True)
    h = torch.utils.checkpoint.checkpoint(net["attn"], x, use_reentrant=False)
    h = net["up"](h + net["linear"](h))
    h = (net["down"](h) + F.interpolate(h, scale_factor=0.5, mode="bilinear", align_corners=False)
         + net["drop"](F.interpolate(x, size=(8, 8), mode="nearest")[:, :, ::2, ::2]))
    flat = x.reshape(2, 4, 16)
    gram = torch.baddbmm(torch.zeros(2, 4, 4, dtype=torch.float64), flat, flat.transpose(1, 2),
                         beta=0, alpha=0.25)
    loss = h.pow(2).mean() + gram.sum()
    loss.backward()
    return {"loss": loss, "grad_x": x.grad, "grad_attn": net["attn"].qkv.weight.grad,
            "grad_linear": net["linear"].qkv.weight.grad}


def test_unet_attention_blocks():
    _compare(unet_attention_blocks)
