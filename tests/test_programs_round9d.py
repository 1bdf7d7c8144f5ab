"""Whole programs in the idioms of code people run, a ninth round (part d): speech features
and conditioning layers, quantisation-aware training, Lipschitz layers, classical numerical
building blocks (reservoirs, Kabsch alignment, kernel ridge regression, DDIM with guidance,
Hawkes processes, batched ensembles), corners of the API that programs reach (torch.func's
options, non-reentrant checkpointing, module hooks, the dropout family, ragged batches,
scatter-style writes, special functions, matrix exponentials, initialisers, transformed
distributions) and float32 vision code (augmentations, pyramid pooling, FCOS targets,
involution, attribution maps).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, normal64 as _arr, params_of, registry, program_harness,
    leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()

with warnings.catch_warnings():
    warnings.simplefilter("ignore")      # torch.func.jacfwd's first use warns about jit.script
    torch.func.jacfwd(torch.sin)(torch.zeros(1))



# ----------------------------------------------------------------------------------------------
# speech, conditioning and quantisation
# ----------------------------------------------------------------------------------------------
@program
def mfcc_by_mel_and_dct_matrices_with_specaugment_masks(L):
    """MFCCs by hand: an STFT with a Hann window, the power spectrum, a triangular mel
    filterbank built from linspace and clamp, log with an epsilon, an orthonormal DCT-II
    matrix; SpecAugment's time and frequency masks from seeded randint and arange
    comparisons; gradients back to the waveform."""
    n_fft, hop, n_mels, n_mfcc = 16, 4, 5, 4
    wave = _t(L, 2, 64, seed=48, grad=True)
    spec = L.stft(wave, n_fft, hop_length=hop, window=L.hann_window(n_fft, dtype=L.float64),
                  return_complex=True)
    power = spec.abs() ** 2                                  # (B, F, T)
    n_freq = n_fft // 2 + 1
    mel = lambda f: 2595 * math.log10(1 + f / 700)
    pts = L.linspace(mel(0), mel(4000), n_mels + 2, dtype=L.float64)
    hz = 700 * (10 ** (pts / 2595) - 1)
    freqs = L.linspace(0, 4000, n_freq, dtype=L.float64)
    lower = (freqs.unsqueeze(0) - hz[:-2, None]) / (hz[1:-1] - hz[:-2]).unsqueeze(1)
    upper = (hz[2:, None] - freqs.unsqueeze(0)) / (hz[2:] - hz[1:-1]).unsqueeze(1)
    fb = L.clamp(L.minimum(lower, upper), min=0)             # (n_mels, F)
    logmel = L.log(L.einsum("mf,bft->bmt", fb, power) + 1e-6)
    # orthonormal DCT-II: row q is sqrt(2 / M) cos(pi q (j + 1/2) / M), row 0 also / sqrt(2)
    band_mid = L.arange(n_mels, dtype=L.float64) + 0.5
    order = L.arange(n_mfcc, dtype=L.float64).unsqueeze(1)
    dct = L.cos(order * band_mid * (math.pi / n_mels)) * math.sqrt(2.0 / n_mels)
    dct[0] /= math.sqrt(2.0)
    mfcc = dct @ logmel                                      # (B, n_mfcc, T)
    g = L.Generator().manual_seed(1)
    T = mfcc.size(-1)
    t0 = L.randint(0, T - 3, (2, 1), generator=g)
    width = L.randint(1, 4, (2, 1), generator=g)
    steps = L.arange(T).unsqueeze(0)
    tmask = (steps >= t0) & (steps < t0 + width)
    f0 = L.randint(0, n_mfcc - 1, (2, 1), generator=g)
    fmask = L.arange(n_mfcc).unsqueeze(0) == f0
    aug = mfcc.masked_fill(tmask.unsqueeze(1), 0.0).masked_fill(fmask.unsqueeze(2), 0.0)
    aug.pow(2).sum().backward()
    return dict(fb=fb, mfcc=mfcc, aug=aug, masks=(tmask, fmask), gw=wave.grad,
                ortho=L.allclose(dct @ dct.T, L.eye(n_mfcc, dtype=L.float64)))


@program(rtol=1e-7, atol=1e-10)   # the depthwise bias before BatchNorm: Adam on ~0 grads
def conformer_convolution_module_and_macaron_feed_forward(L):
    """A Conformer block's pieces: half-step macaron feed-forwards with SiLU, a convolution
    module (LayerNorm, pointwise conv to 2C, GLU over channels, a depthwise Conv1d with
    'same' padding, BatchNorm1d, SiLU, pointwise conv) on transposed activations, a final
    LayerNorm; two AdamW steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(40)
    C = 6

    class ConvModule(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln = nn.LayerNorm(C)
            self.pw1 = nn.Conv1d(C, 2 * C, 1)
            self.glu = nn.GLU(dim=1)
            self.dw = nn.Conv1d(C, C, 5, padding="same", groups=C)
            self.bn = nn.BatchNorm1d(C)
            self.pw2 = nn.Conv1d(C, C, 1)

        def forward(self, x):
            y = self.glu(self.pw1(self.ln(x).transpose(1, 2)))
            y = self.pw2(F.silu(self.bn(self.dw(y))))
            return x + y.transpose(1, 2)

    ff = lambda: nn.Sequential(nn.LayerNorm(C), nn.Linear(C, 2 * C), nn.SiLU(),  # noqa: E731
                               nn.Dropout(0.0), nn.Linear(2 * C, C))
    block = nn.ModuleDict(dict(ff1=ff(), conv=ConvModule(), ff2=ff(),
                               out=nn.LayerNorm(C))).double()

    def forward(x):
        x = x + 0.5 * block["ff1"](x)
        x = block["conv"](x)
        x = x + 0.5 * block["ff2"](x)
        return block["out"](x)

    opt = L.optim.AdamW(block.parameters(), lr=1e-2)
    x, y = _t(L, 2, 7, C, seed=49), _t(L, 2, 7, C, seed=50)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(forward(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, w=params_of(block["conv"]),
                rv=block["conv"].bn.running_var)


@program
def adain_film_and_dynamic_convolution(L):
    """Three conditioning layers: AdaIN (content normalised by its per-channel statistics,
    rescaled by the style's), FiLM (gamma and beta predicted from a condition, broadcast by
    view), CondConv (per-sample kernels mixed from experts by sigmoid routing weights via
    einsum and applied as one grouped conv2d); equal to a per-sample loop."""
    F = L.nn.functional
    B, C, H, W, E = 2, 3, 5, 5, 4
    content, style = _t(L, B, C, H, W, seed=51, grad=True), _t(L, B, C, H, W, seed=52)

    def stats(x):
        flat = x.view(B, C, -1)
        return flat.mean(-1).view(B, C, 1, 1), (flat.var(-1) + 1e-5).sqrt().view(B, C, 1, 1)

    cm, cs = stats(content)
    sm, ss = stats(style)
    adain = (content - cm) / cs * ss + sm
    cond = _t(L, B, 4, seed=53)
    film = L.nn.Linear(4, 2 * C).double()
    gamma, beta = film(cond).chunk(2, dim=1)
    y = adain * (1 + gamma.view(B, C, 1, 1)) + beta.view(B, C, 1, 1)
    experts = _t(L, E, C, C, 3, 3, scale=0.3, seed=54, grad=True)
    route = L.sigmoid(L.nn.Linear(C, E).double()(F.adaptive_avg_pool2d(y, 1).flatten(1)))
    kernels = L.einsum("be,eoikl->boikl", route, experts)
    out = F.conv2d(y.reshape(1, B * C, H, W), kernels.reshape(B * C, C, 3, 3), padding=1,
                   groups=B).view(B, C, H, W)
    loop = L.cat([F.conv2d(y[i:i + 1], kernels[i], padding=1) for i in range(B)])
    out.square().sum().backward()
    return dict(adain=adain, out=out, same=L.allclose(out, loop), gc=content.grad,
                ge=experts.grad, gf=film.weight.grad)


@program
def quantisation_aware_training_by_straight_through_rounding(L):
    """Fake quantisation written as QAT code does: per-channel symmetric scales from amax of
    the weights, round and clamp with the straight-through trick x + (q - x).detach(),
    activations quantised per tensor with a learned scale (LSQ: the gradient scaled by
    1/sqrt(n q_max)), a binary layer by sign with a hardtanh-shaped STE in a custom
    Function; SGD steps."""
    nn, F = L.nn, L.nn.functional

    def fake_quant_weight(w, bits=4):
        qmax = 2 ** (bits - 1) - 1
        scale = w.detach().abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / qmax
        q = L.clamp(L.round(w / scale), -qmax - 1, qmax) * scale
        return w + (q - w).detach()

    def lsq(x, s, qmax=7):
        g = 1.0 / math.sqrt(x.numel() * qmax)
        s = (s - s * g).detach() + s * g
        v = x / s
        v = v.clamp(-qmax - 1, qmax)
        return (v.round() - v).detach() + v

    class SignSTE(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sign()

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * (x.abs() <= 1).to(g.dtype)

    L.manual_seed(41)
    fc1, fc2 = nn.Linear(4, 6).double(), nn.Linear(6, 3).double()
    s = nn.Parameter(L.tensor(0.1, dtype=L.float64))
    opt = L.optim.SGD(list(fc1.parameters()) + list(fc2.parameters()) + [s], lr=0.1)
    x, y = _t(L, 8, 4, seed=55), L.tensor(_labels(8, 3, 56))
    losses = []
    for _ in range(3):
        h = F.linear(x, fake_quant_weight(fc1.weight), fc1.bias)
        h = lsq(F.relu(h), s) * s
        out = F.linear(SignSTE.apply(h - 0.2), fake_quant_weight(fc2.weight), fc2.bias)
        loss = F.cross_entropy(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, s=s.detach(), w=params_of(fc1), g2=fc2.weight.grad)


@program
def lipschitz_layers_groupsort_and_bjorck_orthonormalisation(L):
    """1-Lipschitz networks: GroupSort (sort within pairs of channels by view and sort),
    weights orthonormalised by Björck iterations W <- W (1.5 I - 0.5 W^T W) after scaling by
    the spectral norm from linalg.matrix_norm(ord=2); the Lipschitz bound checked on input
    pairs; a hinge-margin loss and gradients through the iterations."""
    F = L.nn.functional

    def groupsort(x, g=2):
        return x.view(x.size(0), -1, g).sort(dim=-1)[0].view_as(x)

    def bjorck(w, iters=12):
        w = w / L.linalg.matrix_norm(w.detach(), ord=2)
        eye = L.eye(w.size(1), dtype=w.dtype)
        for _ in range(iters):
            w = w @ (1.5 * eye - 0.5 * w.T @ w)
        return w

    W1 = _t(L, 6, 6, scale=0.5, seed=57, grad=True)
    W2 = _t(L, 2, 6, scale=0.5, seed=58, grad=True)

    def net(x):
        return F.linear(groupsort(F.linear(x, bjorck(W1))), bjorck(W2.T).T)

    x, x2 = _t(L, 5, 6, seed=59), _t(L, 5, 6, seed=60)
    out = net(x)
    ratio = (out - net(x2)).norm(dim=1) / (x - x2).norm(dim=1)
    y = L.tensor([0, 1, 1, 0, 1])
    margin = out.gather(1, y[:, None]) - out.gather(1, 1 - y[:, None])
    loss = F.relu(0.5 - margin).mean()
    loss.backward()
    o = bjorck(W1).detach()
    return dict(out=out, lip=bool((ratio <= 1 + 1e-6).all()), ratio=ratio.detach(),
                orth=(o.T @ o - L.eye(6, dtype=L.float64)).abs().max() < 1e-6,
                g1=W1.grad, g2=W2.grad)


# ----------------------------------------------------------------------------------------------
# numerical building blocks of classical methods
# ----------------------------------------------------------------------------------------------
@program
def echo_state_network_readout_by_ridge_regression(L):
    """Reservoir computing: a random sparse reservoir (a mask from a seeded generator)
    rescaled to spectral radius 0.9 by the largest modulus of linalg.eigvals, states
    collected under no_grad, the readout by ridge regression through linalg.solve and the
    same by linalg.lstsq of an augmented system; the one-step forecast error."""
    g = L.Generator().manual_seed(2)
    N, T = 8, 30
    Wr = (L.rand(N, N, generator=g, dtype=L.float64) - 0.5) * \
        (L.rand(N, N, generator=g, dtype=L.float64) < 0.4)
    radius = L.linalg.eigvals(Wr).abs().max()
    Wr = Wr * (0.9 / radius)
    Win = L.rand(N, 1, generator=g, dtype=L.float64) - 0.5
    u = L.sin(L.arange(T + 1, dtype=L.float64) * 0.5).unsqueeze(1)
    states, x = [], L.zeros(N, dtype=L.float64)
    with L.no_grad():
        for t in range(T):
            x = L.tanh(Win @ u[t] + Wr @ x)
            states.append(x)
    X, Y = L.stack(states)[5:], u[6:]
    lam = 1e-3
    w_solve = L.linalg.solve(X.T @ X + lam * L.eye(N, dtype=L.float64), X.T @ Y)
    A = L.cat([X, math.sqrt(lam) * L.eye(N, dtype=L.float64)])
    b = L.cat([Y, L.zeros(N, 1, dtype=L.float64)])
    w_lstsq = L.linalg.lstsq(A, b).solution
    return dict(radius=radius, w=w_solve, same=L.allclose(w_solve, w_lstsq),
                err=L.nn.functional.mse_loss(X @ w_solve, Y))


@program
def kabsch_alignment_by_svd_and_determinant_fix(L):
    """Kabsch/Procrustes alignment as structural-biology losses compute it: centred point
    clouds, the covariance's SVD, the reflection fixed by the sign of det(V U^T) on the last
    singular direction, the aligned RMSD; differentiable with respect to the predicted
    coordinates."""
    P = _t(L, 6, 3, seed=61, grad=True)
    angle = 0.7
    R_true = L.tensor([[math.cos(angle), -math.sin(angle), 0],
                       [math.sin(angle), math.cos(angle), 0], [0, 0, 1.0]], dtype=L.float64)
    Q = P.detach() @ R_true.T + L.tensor([1.0, -2.0, 0.5], dtype=L.float64) + \
        0.05 * _t(L, 6, 3, seed=62)
    Pc, Qc = P - P.mean(0), Q - Q.mean(0)
    H = Pc.T @ Qc
    U, S, Vh = L.linalg.svd(H)
    d = L.sign(L.linalg.det(Vh.T @ U.T))
    D = L.diag(L.stack([L.ones((), dtype=L.float64), L.ones((), dtype=L.float64), d]))
    R = Vh.T @ D @ U.T
    rmsd = ((Pc @ R.T - Qc) ** 2).sum(-1).mean().sqrt()
    rmsd.backward()
    return dict(R=R, rmsd=rmsd, det=L.linalg.det(R), g=P.grad,
                close=L.allclose(R, R_true, atol=0.1))


@program
def random_fourier_features_and_kernel_ridge_by_cholesky(L):
    """Kernel methods on tensors: an RBF Gram matrix by cdist, kernel ridge regression by
    cholesky and cholesky_solve, the same predictions approximated by random Fourier features
    drawn after a seed; the marginal-likelihood-like objective differentiated in the
    length scale."""
    x, y = _t(L, 10, 2, seed=63), _t(L, 10, 1, seed=64)
    xt = _t(L, 4, 2, seed=65)
    log_ls = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    ls = log_ls.exp()
    K = L.exp(-L.cdist(x, x).pow(2) / (2 * ls ** 2)) + 0.1 * L.eye(10, dtype=L.float64)
    Lc = L.linalg.cholesky(K)
    alpha = L.cholesky_solve(y, Lc)
    Ks = L.exp(-L.cdist(xt, x).pow(2) / (2 * ls ** 2))
    pred = Ks @ alpha
    nll = 0.5 * (y * alpha).sum() + L.log(L.diagonal(Lc)).sum()
    nll.backward()
    L.manual_seed(42)
    D = 200
    Wf = L.randn(2, D, dtype=L.float64)
    bf = L.rand(D, dtype=L.float64) * 2 * math.pi
    phi = lambda z: math.sqrt(2.0 / D) * L.cos(z @ Wf + bf)  # noqa: E731
    approx = phi(x) @ phi(x).T
    return dict(pred=pred, nll=nll, g=log_ls.grad, approx=approx,
                err=(approx - (K.detach() - 0.1 * L.eye(10, dtype=L.float64))).abs().max())


@program
def ddim_sampling_with_classifier_free_guidance(L):
    """DDIM's deterministic sampler with classifier-free guidance: a linear beta schedule
    and cumprod of alphas, the conditional model trained with the condition dropped by a
    seeded bernoulli mask (a learned null embedding put in by torch.where), then sampling
    over a strided timestep subsequence mixing conditional and unconditional predictions."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(43)
    T = 20
    betas = L.linspace(1e-4, 0.2, T, dtype=L.float64)
    abar = L.cumprod(1 - betas, 0)
    net = nn.Sequential(nn.Linear(3 + 4 + 1, 16), nn.SiLU(), nn.Linear(16, 3)).double()
    cond_emb = nn.Embedding(3, 4).double()
    null = nn.Parameter(L.zeros(4, dtype=L.float64))
    opt = L.optim.Adam(list(net.parameters()) + list(cond_emb.parameters()) + [null], lr=1e-2)

    def eps_model(x, t, c):
        return net(L.cat([x, c, (t.double() / T).unsqueeze(1)], 1))

    x0, labels = _t(L, 6, 3, seed=66), L.tensor(_labels(6, 3, 67))
    losses = []
    for _ in range(2):
        t = L.randint(0, T, (6,))
        noise = L.randn_like(x0)
        a = abar[t].unsqueeze(1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        drop = L.bernoulli(L.full((6, 1), 0.3, dtype=L.float64)).bool()
        c = L.where(drop, null.expand(6, 4), cond_emb(labels))
        loss = F.mse_loss(eps_model(xt, t, c), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        x = L.randn(2, 3, dtype=L.float64)
        c = cond_emb(L.tensor([0, 2]))
        steps = list(range(T - 1, -1, -5))
        for i, t in enumerate(steps):
            tt = L.full((2,), t, dtype=L.long)
            e_c, e_u = eps_model(x, tt, c), eps_model(x, tt, null.expand(2, 4))
            e = e_u + 3.0 * (e_c - e_u)
            a_t = abar[t]
            a_prev = abar[steps[i + 1]] if i + 1 < len(steps) else L.tensor(1.0).double()
            x0_hat = (x - (1 - a_t).sqrt() * e) / a_t.sqrt()
            x = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * e
    return dict(losses=losses, x=x, null=null.detach())


@program
def hawkes_process_log_likelihood_with_exponential_kernel(L):
    """A temporal point process: a Hawkes intensity with an exponential kernel over event
    times (pairwise differences masked to the past by tril), the compensator in closed form,
    the log-likelihood maximised two Adam steps over softplus'ed parameters; padded
    sequences of different lengths masked."""
    F = L.nn.functional
    times = L.tensor([[0.5, 1.1, 1.3, 2.8, 3.0], [0.2, 0.9, 2.0, 0.0, 0.0]], dtype=L.float64)
    lengths = L.tensor([5, 3])
    Tend = 3.5
    valid = L.arange(5).unsqueeze(0) < lengths.unsqueeze(1)
    raw = L.nn.Parameter(L.tensor([-1.0, 0.0, 0.5], dtype=L.float64))
    opt = L.optim.Adam([raw], lr=0.1)
    lls = []
    for _ in range(2):
        mu, alpha, beta = F.softplus(raw).unbind()
        dt = times.unsqueeze(2) - times.unsqueeze(1)
        past = L.tril(L.ones(5, 5, dtype=L.bool), -1) & valid.unsqueeze(1) & \
            valid.unsqueeze(2)
        excite = L.where(past, alpha * L.exp(-beta * dt.clamp(min=0)), L.zeros_like(dt))
        lam = mu + excite.sum(-1)
        log_term = (L.log(lam) * valid).sum(1)
        comp = mu * Tend + (alpha / beta * (1 - L.exp(-beta * (Tend - times))) * valid).sum(1)
        ll = (log_term - comp).mean()
        opt.zero_grad()
        (-ll).backward()
        opt.step()
        lls.append(ll.item())
    return dict(lls=lls, raw=raw.detach(), lam=lam.detach())


@program
def batched_ensemble_of_linear_layers_by_baddbmm(L):
    """An ensemble of five MLPs run as batched matrix products: stacked weights of shape
    (E, in, out), baddbmm with the biases, the input expanded over members, the members'
    losses summed; equal to running each member's F.linear; Adam on the stacked tensors."""
    F = L.nn.functional
    E, N, D, H = 5, 4, 3, 6
    W1 = L.nn.Parameter(_t(L, E, D, H, scale=0.5, seed=68))
    b1 = L.nn.Parameter(_t(L, E, 1, H, scale=0.1, seed=69))
    W2 = L.nn.Parameter(_t(L, E, H, 1, scale=0.5, seed=70))
    b2 = L.nn.Parameter(L.zeros(E, 1, 1, dtype=L.float64))
    opt = L.optim.Adam([W1, b1, W2, b2], lr=1e-2)
    x, y = _t(L, N, D, seed=71), _t(L, N, 1, seed=72)

    def forward(x):
        h = F.relu(L.baddbmm(b1, x.unsqueeze(0).expand(E, -1, -1), W1))
        return L.baddbmm(b2, h, W2)

    out = forward(x)
    member = L.stack([F.linear(F.relu(F.linear(x, W1[e].T, b1[e, 0])), W2[e].T, b2[e, 0])
                      for e in range(E)])
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.mse_loss(forward(x), y.expand(E, -1, -1), reduction="none").mean((1, 2)).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    pred = forward(x)
    return dict(same=L.allclose(out, member), losses=losses, mean=pred.mean(0),
                std=pred.std(0), W1=W1.detach())



# ----------------------------------------------------------------------------------------------
# corners of the API that programs reach
# ----------------------------------------------------------------------------------------------
@program
def func_transforms_in_dims_out_dims_chunks_and_randomness(L):
    """torch.func in the ways library code calls it: vmap with in_dims=(0, None) and
    out_dims=1, chunk_size, nested vmap for a pairwise kernel, jacfwd and hessian of a
    small function, a jvp, and vmap over dropout refused by the default
    randomness='error' (the message) while randomness='same' runs."""
    F = L.nn.functional
    fn = L.func
    x, w = _t(L, 5, 3, seed=73), _t(L, 3, 2, seed=74)
    f = lambda xi, w: L.tanh(xi @ w)  # noqa: E731
    a = fn.vmap(f, in_dims=(0, None), out_dims=1)(x, w)
    b = fn.vmap(f, in_dims=(0, None), chunk_size=2)(x, w)
    k = fn.vmap(fn.vmap(lambda u, v: L.exp(-((u - v) ** 2).sum()), (None, 0)), (0, None))(x, x)
    g = lambda v: (v.sin() * v.cumsum(0)).sum()  # noqa: E731
    v0 = _t(L, 4, seed=75)
    jac = fn.jacfwd(lambda v: v.sin() * v.cumsum(0))(v0)
    hess = fn.hessian(g)(v0)
    out, tangent = fn.jvp(lambda v: v.exp() * v, (v0,), (L.ones(4, dtype=L.float64),))
    drop = lambda xi: F.dropout(xi, 0.5, training=True)  # noqa: E731
    refused = err(lambda: fn.vmap(drop)(x))
    L.manual_seed(0)
    same = fn.vmap(drop, randomness="same")(x)
    rows_equal = bool(((same == 0) == (same[0] == 0)).all())
    return dict(a=a, b=b, k=k, jac=jac, hess=hess, out=out, tangent=tangent, refused=refused,
                rows_equal=rows_equal)


@program
def non_reentrant_checkpoint_with_kwargs_and_checkpoint_sequential(L):
    """Activation checkpointing as training scripts use it in 2.x: checkpoint with
    use_reentrant=False on a block taking a keyword argument and returning a tuple,
    the dropout inside recomputed with the same mask (preserve_rng_state), and
    checkpoint_sequential over segments; the gradients equal the plain run's."""
    nn, F = L.nn, L.nn.functional
    from_ckpt = L.utils.checkpoint

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.drop = nn.Dropout(0.3)

        def forward(self, x, *, scale=1.0):
            h = self.drop(F.gelu(self.fc(x))) * scale
            return h, h.sum(-1)

    L.manual_seed(44)
    block = Block().double()
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Dropout(0.2))
                          for _ in range(4)]).double()
    x = _t(L, 3, 4, seed=76, grad=True)
    L.manual_seed(1)
    h, s = from_ckpt.checkpoint(block, x, scale=2.0, use_reentrant=False)
    (h.pow(2).sum() + s.sum()).backward()
    g_ckpt = (x.grad.clone(), block.fc.weight.grad.clone())
    x.grad, block.fc.weight.grad = None, None
    L.manual_seed(1)
    h2, s2 = block(x, scale=2.0)
    (h2.pow(2).sum() + s2.sum()).backward()
    L.manual_seed(2)
    out = from_ckpt.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    out.sum().backward()
    return dict(h=h, same=[L.allclose(a, b) for a, b in zip(g_ckpt, (x.grad,
                block.fc.weight.grad))], out=out, g=grads_of(seq))


@program
def module_backward_pre_hooks_and_global_forward_hooks(L):
    """Hooks as debugging code installs them: register_full_backward_pre_hook scaling the
    output gradient a module receives, a full backward hook recording gradient norms,
    a global forward hook (nn.modules.module.register_module_forward_hook) counting calls of
    every module and removed by its handle, a tensor hook on an activation clipping its
    gradient."""
    nn = L.nn
    L.manual_seed(45)
    net = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)).double()
    seen, calls = [], []
    net[2].register_full_backward_pre_hook(lambda m, go: (go[0] * 0.5,))
    net[0].register_full_backward_hook(
        lambda m, gi, go: seen.append((type(m).__name__, go[0].norm().item(),
                                       None if gi[0] is None else gi[0].norm().item())))
    handle = nn.modules.module.register_module_forward_hook(
        lambda m, i, o: calls.append(type(m).__name__))
    x = _t(L, 4, 3, seed=77, grad=True)
    h = net[1](net[0](x))
    h.register_hook(lambda g: g.clamp(-0.1, 0.1))
    out = net[2](h)
    handle.remove()
    net(x)
    out.pow(2).sum().backward()
    return dict(out=out, seen=seen, calls=calls, gx=x.grad, g=grads_of(net))


@program
def dropout_family_under_a_seed_and_rare_activations(L):
    """The dropout variants and activations seldom in tests, after manual_seed: Dropout1d on
    (N, C, L), FeatureAlphaDropout and AlphaDropout in training, RReLU in train (seeded
    slopes) and eval, Softmax2d, Threshold, Hardtanh with bounds, Softmin, LogSigmoid;
    values and gradients."""
    nn = L.nn
    x = _t(L, 2, 4, 3, seed=78, grad=True)
    L.manual_seed(46)
    outs = dict(d1=nn.Dropout1d(0.5)(x), fad=nn.FeatureAlphaDropout(0.3)(x.unsqueeze(-1)),
                ad=nn.AlphaDropout(0.2)(x), rr=nn.RReLU(0.1, 0.3)(x),
                rr_eval=nn.RReLU(0.1, 0.3).eval()(x), sm2=nn.Softmax2d()(x.unsqueeze(0)),
                th=nn.Threshold(0.1, -2.0)(x), ht=nn.Hardtanh(-0.5, 0.25)(x),
                smin=nn.Softmin(dim=1)(x), ls=nn.LogSigmoid()(x))
    total = sum((v * (i + 1)).sum() for i, v in enumerate(outs.values()))
    outs["grad"] = L.autograd.grad(total, x)[0]
    return outs


@program
def variable_length_batches_left_padding_unpad_and_pack_sequence(L):
    """Ragged batches the 2.x way: pad_sequence with padding_side='left' for decoder-only
    generation, unpad_sequence back to the list, pack_sequence(enforce_sorted=False) through
    a two-layer bidirectional GRU, unpack_sequence of the output, and the last real step
    of each sequence gathered from pad_packed_sequence's output by lengths."""
    nn = L.nn
    rnn_u = nn.utils.rnn
    L.manual_seed(47)
    seqs = [_t(L, n, 3, seed=79 + n) for n in (4, 2, 5)]
    lengths = L.tensor([4, 2, 5])
    left = rnn_u.pad_sequence(seqs, batch_first=True, padding_value=-1.0, padding_side="left")
    back = rnn_u.unpad_sequence(rnn_u.pad_sequence(seqs, batch_first=True), lengths,
                                batch_first=True)
    gru = nn.GRU(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    packed = rnn_u.pack_sequence(seqs, enforce_sorted=False)
    out, h = gru(packed)
    unpacked = rnn_u.unpack_sequence(out)
    padded, lens = rnn_u.pad_packed_sequence(out, batch_first=True)
    last = padded.gather(1, (lens - 1).view(-1, 1, 1).expand(-1, 1, 8)).squeeze(1)
    last.sum().backward()
    return dict(left=left, back=back, sorted=packed.sorted_indices, h=h, lens=lens,
                unpacked=unpacked, last=last, g=grads_of(gru)["weight_hh_l1_reverse"])


@program
def scatter_style_writes_index_put_accumulate_put_masked_scatter(L):
    """The write ops of sparse and graph code: index_put_ with accumulate=True and repeated
    indices, Tensor.put_ into flat positions (accumulate too), masked_scatter filling
    True positions in order, index_fill, scatter_reduce('amax', include_self=False) as a
    segment max; gradients through out-of-place forms."""
    src = _t(L, 6, seed=85, grad=True)
    base = _t(L, 4, 3, seed=86, grad=True)
    rows, cols = L.tensor([0, 2, 0, 3, 2, 0]), L.tensor([1, 1, 1, 0, 2, 1])
    acc = base.index_put((rows, cols), src, accumulate=True)
    flat = base.put(L.tensor([0, 5, 5, 11]), src[:4], accumulate=True)
    mask = L.tensor([[True, False, True], [False, False, False], [True, True, False],
                     [False, True, False]])
    ms = base.masked_scatter(mask, src.view(2, 3).repeat(2, 1))
    filled = base.index_fill(1, L.tensor([0, 2]), -1.0)
    seg = L.tensor([0, 1, 0, 2, 1, 0])
    smax = L.zeros(4, dtype=L.float64).scatter_reduce(0, seg, src, "amax", include_self=False)
    total = (acc * 1.0).sum() + (flat ** 2).sum() + (ms * 3).sum() + filled.sum() + \
        (smax * L.arange(1.0, 5.0, dtype=L.float64)).sum()
    gs, gb = L.autograd.grad(total, (src, base))
    buf = L.zeros(5, dtype=L.float64)
    buf.index_put_((L.tensor([1, 1, 3]),), L.tensor([1.0, 2.0, 3.0], dtype=L.float64),
                   accumulate=True)
    return dict(acc=acc, flat=flat, ms=ms, filled=filled, smax=smax, gs=gs, gb=gb, buf=buf)


@program
def probit_regression_and_dirichlet_kl_by_special_functions(L):
    """Special functions in model code: probit regression by log_ndtr of +-z, its
    quantiles by ndtri, the KL between Dirichlets written with lgamma and digamma equal to
    distributions' kl_divergence, an evidential classification loss, xlog1py and entr in
    an entropy term, multigammaln in a Wishart normaliser; gradients."""
    D = L.distributions
    sp = L.special
    x, y = _t(L, 8, 3, seed=87), L.tensor([1., 0, 1, 1, 0, 0, 1, 0], dtype=L.float64)
    w = _t(L, 3, scale=0.5, seed=88, grad=True)
    z = x @ w
    nll = -(y * sp.log_ndtr(z) + (1 - y) * sp.log_ndtr(-z)).mean()
    q = sp.ndtri(L.tensor([0.025, 0.5, 0.975], dtype=L.float64))
    alpha = L.nn.functional.softplus(_t(L, 4, 3, seed=89, grad=True)) + 1
    beta = L.ones_like(alpha)
    S = alpha.sum(-1)
    kl = (L.lgamma(S) - L.lgamma(alpha).sum(-1) - L.lgamma(beta.sum(-1)) +
          L.lgamma(beta).sum(-1) +
          ((alpha - beta) * (L.digamma(alpha) - L.digamma(S).unsqueeze(-1))).sum(-1))
    ref = D.kl_divergence(D.Dirichlet(alpha), D.Dirichlet(beta))
    yk = L.nn.functional.one_hot(L.tensor([0, 2, 1, 1]), 3).double()
    evid = (yk * (L.digamma(S).unsqueeze(-1) - L.digamma(alpha))).sum(-1).mean()
    p = alpha / S.unsqueeze(-1)
    ent = sp.entr(p).sum(-1) + sp.xlog1py(p, p).sum(-1)
    mvg = sp.multigammaln(S, 3)
    total = nll + kl.mean() + evid + ent.sum() + mvg.sum() * 0.01
    gw = L.autograd.grad(total, w)[0]
    return dict(nll=nll, q=q, kl=kl, same=L.allclose(kl, ref), evid=evid, ent=ent, mvg=mvg,
                gw=gw)


@program
def lie_group_rotations_by_matrix_exp_and_triangular_solves(L):
    """Rotations parametrised in so(3): a skew-symmetric matrix from a vector, matrix_exp
    (orthogonal, determinant one), equal to Rodrigues' formula, its gradient; then whitening
    by solve_triangular with left=False and upper=True, and pinv of a rank-deficient matrix."""
    la = L.linalg
    v = _t(L, 3, scale=0.5, seed=90, grad=True)
    zero = L.zeros((), dtype=L.float64)
    K = L.stack([L.stack([zero, -v[2], v[1]]), L.stack([v[2], zero, -v[0]]),
                 L.stack([-v[1], v[0], zero])])
    R = L.linalg.matrix_exp(K)
    th = v.norm()
    rod = L.eye(3, dtype=L.float64) + L.sin(th) / th * K + (1 - L.cos(th)) / th ** 2 * K @ K
    pts = _t(L, 4, 3, seed=91)
    (pts @ R.T).sum().backward()
    A = _t(L, 5, 3, seed=92)
    U = la.cholesky(A.T @ A).mT
    Xw = la.solve_triangular(U, A, upper=True, left=False)
    B = _t(L, 4, 2, seed=93) @ _t(L, 2, 5, seed=94)
    return dict(R=R, det=la.det(R), same=L.allclose(R, rod), g=v.grad,
                white=Xw.T @ Xw, pinv=la.pinv(B), rank=la.matrix_rank(B))


@program
def seeded_initialisers_in_float64(L):
    """Initialisers as model code applies them, after manual_seed, on float64 weights:
    trunc_normal_ with bounds, orthogonal_ with a gain, xavier_uniform_ with
    calculate_gain('leaky_relu', 0.2), kaiming_uniform_ fan_out, sparse_, dirac_ and eye_,
    constant_ and zeros_ for biases, normal_ on an embedding's padding row left at zero."""
    nn = L.nn
    init = nn.init
    L.manual_seed(48)
    out = {}
    w = L.empty(4, 6, dtype=L.float64)
    out["trunc"] = init.trunc_normal_(w.clone(), std=0.5, a=-0.6, b=0.6)
    out["orth"] = init.orthogonal_(w.clone(), gain=2.0)
    gain = init.calculate_gain("leaky_relu", 0.2)
    out["gain"] = gain
    out["xavier"] = init.xavier_uniform_(w.clone(), gain=gain)
    out["kaiming"] = init.kaiming_uniform_(L.empty(3, 2, 3, 3, dtype=L.float64),
                                           mode="fan_out", nonlinearity="relu")
    out["sparse"] = init.sparse_(w.clone(), sparsity=0.5, std=0.1)
    out["dirac"] = init.dirac_(L.empty(4, 2, 3, dtype=L.float64), groups=2)
    out["eye"] = init.eye_(w.clone())
    emb = nn.Embedding(5, 3, padding_idx=1).double()
    with L.no_grad():
        emb.weight.normal_(0, 0.02)
        emb.weight[emb.padding_idx].zero_()
    out["emb"] = emb.weight
    lin = nn.Linear(6, 4).double()
    init.constant_(lin.bias, 0.1)
    init.zeros_(lin.weight)
    out["lin"] = params_of(lin)
    out["orth_check"] = L.allclose(out["orth"] @ out["orth"].T / 4,
                                   L.eye(4, dtype=L.float64))
    return out


@program
def transformed_distributions_for_bounded_actions_and_flows(L):
    """Distributions built from transforms: a tanh-squashed Gaussian by TransformedDistribution
    with TanhTransform(cache_size=1) and an AffineTransform to an action range, its rsample
    and log_prob after a seed; Independent over the last dimension; a ComposeTransform with
    SigmoidTransform and its log_abs_det_jacobian; Kumaraswamy and ContinuousBernoulli
    log-likelihoods with gradients."""
    D = L.distributions
    T = D.transforms
    mu = _t(L, 3, 2, scale=0.5, seed=95, grad=True)
    log_std = _t(L, 3, 2, scale=0.2, seed=96, grad=True)
    base = D.Independent(D.Normal(mu, log_std.exp()), 1)
    squashed = D.TransformedDistribution(base, [T.TanhTransform(cache_size=1),
                                                T.AffineTransform(loc=1.0, scale=2.0)])
    L.manual_seed(49)
    a = squashed.rsample()
    lp = squashed.log_prob(a)
    comp = T.ComposeTransform([T.AffineTransform(0.5, 3.0), T.SigmoidTransform()])
    u = _t(L, 4, seed=97)
    y = comp(u)
    ladj = comp.log_abs_det_jacobian(u, y)
    ku = D.Kumaraswamy(L.nn.functional.softplus(mu[:, 0]) + 0.5, 2.0)
    cb = D.ContinuousBernoulli(logits=mu[:, 1])
    obs = L.tensor([0.2, 0.5, 0.9], dtype=L.float64)
    ll = ku.log_prob(obs).sum() + cb.log_prob(obs).sum()
    g = L.autograd.grad(lp.sum() + ll, (mu, log_std))
    return dict(a=a, lp=lp, y=y, ladj=ladj, ll=ll, cbmean=cb.mean, g=g,
                shapes=(squashed.batch_shape, squashed.event_shape))



# ----------------------------------------------------------------------------------------------
# float32 vision code: augmentations, pyramid pooling, dense detection targets, attribution
# ----------------------------------------------------------------------------------------------
def _img32(L, *shape, seed=0):
    return L.tensor(_arr(*shape, seed=seed).astype(np.float32))


@program
def tensor_augmentations_color_jitter_blur_and_resized_crop(L):
    """torchvision-like augmentations on float32 batches: brightness, contrast (blend with
    the grayscale mean by ITU-R 601 weights) and saturation jitter with factors from a
    seeded generator, clamp to [0, 1]; a separable Gaussian blur (conv2d per channel with
    groups, reflect padding); a random resized crop by affine_grid and grid_sample with
    align_corners=False; horizontal flip by flip(-1) on a mask of the batch."""
    F = L.nn.functional
    g = L.Generator().manual_seed(4)
    x = L.sigmoid(_img32(L, 3, 3, 8, 8, seed=94))
    b = L.empty(3, 1, 1, 1).uniform_(0.8, 1.2, generator=g)
    c = L.empty(3, 1, 1, 1).uniform_(0.8, 1.2, generator=g)
    s = L.empty(3, 1, 1, 1).uniform_(0.5, 1.5, generator=g)
    w = L.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    x = (x * b).clamp(0, 1)
    gray = (x * w).sum(1, keepdim=True)
    x = (c * x + (1 - c) * gray.mean((-3, -2, -1), keepdim=True)).clamp(0, 1)
    gray = (x * w).sum(1, keepdim=True)
    x = (s * x + (1 - s) * gray).clamp(0, 1)
    k = L.exp(-(L.arange(5) - 2.0) ** 2 / (2 * 1.0 ** 2))
    k = k / k.sum()
    xp = F.pad(x, (2, 2, 2, 2), mode="reflect")
    x = F.conv2d(xp, k.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    x = F.conv2d(x, k.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    scale = L.empty(3).uniform_(0.5, 1.0, generator=g)
    shift = L.empty(3, 2).uniform_(-0.3, 0.3, generator=g)
    theta = L.zeros(3, 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = scale, scale
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, [3, 3, 6, 6], align_corners=False)
    crops = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection",
                          align_corners=False)
    flip = L.rand(3, generator=g) < 0.5
    crops = L.where(flip.view(3, 1, 1, 1), crops.flip(-1), crops)
    return dict(x=x, crops=crops, flip=flip, factors=(b.flatten(), c.flatten(), s.flatten()))


@program
def pyramid_pooling_module_and_fcos_centerness_targets(L):
    """PSPNet's pyramid pooling (adaptive average pools of 1, 2, 3 and 6 bins, 1x1 convs,
    bilinear upsampling back, concatenation) trained one SGD step in float32; FCOS's
    regression targets (left/top/right/bottom distances of each location to a box by
    meshgrid), the inside-box mask and centerness sqrt(min/max * min/max), an IoU loss of
    predicted distances with -log."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(50)
    convs = nn.ModuleList([nn.Conv2d(4, 1, 1, bias=False) for _ in (1, 2, 3, 6)])
    head = nn.Conv2d(8, 2, 3, padding=1)
    opt = L.optim.SGD(list(convs.parameters()) + list(head.parameters()), lr=0.1,
                      momentum=0.9)
    feats = _img32(L, 2, 4, 12, 12, seed=95)
    target = L.tensor(_labels(2 * 12 * 12, 2, 96).reshape(2, 12, 12))
    pooled = [F.interpolate(conv(F.adaptive_avg_pool2d(feats, size)), size=(12, 12),
                            mode="bilinear", align_corners=False)
              for conv, size in zip(convs, (1, 2, 3, 6))]
    logits = head(L.cat([feats] + pooled, 1))
    loss = F.cross_entropy(logits, target)
    opt.zero_grad()
    loss.backward()
    opt.step()
    ys, xs = L.meshgrid(L.arange(8.0) + 0.5, L.arange(8.0) + 0.5, indexing="ij")
    box = L.tensor([1.0, 2.0, 6.0, 7.5])
    ltrb = L.stack([xs - box[0], ys - box[1], box[2] - xs, box[3] - ys], -1)
    inside = ltrb.min(-1).values > 0
    lr_, tb = ltrb[..., [0, 2]], ltrb[..., [1, 3]]
    centerness = L.sqrt((lr_.min(-1).values / lr_.max(-1).values).clamp(min=0) *
                        (tb.min(-1).values / tb.max(-1).values).clamp(min=0))
    pred = L.exp(_img32(L, 8, 8, 4, seed=97) * 0.2) * 2
    pred.requires_grad_()
    t, p = ltrb[inside], pred[inside]
    area_t = (t[:, 0] + t[:, 2]) * (t[:, 1] + t[:, 3])
    area_p = (p[:, 0] + p[:, 2]) * (p[:, 1] + p[:, 3])
    inter = (L.min(p[:, 0], t[:, 0]) + L.min(p[:, 2], t[:, 2])) * \
        (L.min(p[:, 1], t[:, 1]) + L.min(p[:, 3], t[:, 3]))
    iou = inter / (area_t + area_p - inter)
    iou_loss = -L.log(iou).mean()
    iou_loss.backward()
    return dict(loss=loss, w=params_of(head), centerness=centerness, inside=inside,
                iou_loss=iou_loss, gp=pred.grad)


@program
def involution_kernels_generated_per_pixel_by_unfold(L):
    """Involution: a kernel generated for every pixel from the input by a 1x1 conv
    bottleneck (shared across channel groups), applied to the unfolded neighbourhoods
    (F.unfold, view into groups, multiply, sum over the window); float32 forward and
    backward, equal to the explicit loop over window offsets with padded shifts."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(51)
    B, C, H, W, K, G = 2, 4, 5, 5, 3, 2
    reduce = nn.Sequential(nn.Conv2d(C, 2, 1), nn.BatchNorm2d(2), nn.ReLU())
    span = nn.Conv2d(2, K * K * G, 1)
    x = _img32(L, B, C, H, W, seed=98).requires_grad_()
    kernel = span(reduce(x)).view(B, G, 1, K * K, H, W)
    patches = F.unfold(x, K, padding=1).view(B, G, C // G, K * K, H, W)
    out = (kernel * patches).sum(3).view(B, C, H, W)
    xp = F.pad(x, (1, 1, 1, 1))
    loop = 0
    for i in range(K):
        for j in range(K):
            shifted = xp[:, :, i:i + H, j:j + W].reshape(B, G, C // G, H, W)
            loop = loop + kernel[:, :, :, i * K + j] * shifted
    loop = loop.reshape(B, C, H, W)
    out.pow(2).mean().backward()
    return dict(out=out, close=L.allclose(out, loop, atol=1e-6), gx=x.grad,
                g=span.weight.grad)


@program
def attribution_smoothgrad_and_occlusion_by_unfold_fold(L):
    """Attribution maps of a small float32 CNN: SmoothGrad (input gradients averaged over
    seeded noisy copies, by autograd.grad on the class score) and occlusion sensitivity
    (every 2x2 patch zeroed in one batch of masks folded from unfolded ones, the drops folded
    back into a map and divided by the coverage count from folding ones)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(52)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
                        nn.Flatten(), nn.Linear(12, 2)).eval()
    x = _img32(L, 1, 1, 6, 6, seed=99)
    grads = []
    for _ in range(4):
        xn = (x + 0.1 * L.randn_like(x)).requires_grad_()
        grads.append(L.autograd.grad(net(xn)[0, 1], xn)[0])
    smooth = L.stack(grads).mean(0).abs()
    cols = F.unfold(L.ones(1, 1, 6, 6), 2, stride=2)           # (1, 4, 9): 9 patches
    masks = F.fold(cols * L.eye(9).unsqueeze(1), (6, 6), 2, stride=2)   # one patch each
    occluded = x * (1 - masks)
    with L.no_grad():
        base = net(x)[0, 1]
        drops = base - net(occluded)[:, 1]
    heat = F.fold((drops.view(1, 1, 9) * L.ones(1, 4, 9)), (6, 6), 2, stride=2)
    cover = F.fold(L.ones(1, 4, 9), (6, 6), 2, stride=2)
    return dict(smooth=smooth, masks=masks.sum((1, 2, 3)), heat=heat / cover, drops=drops)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
