"""Whole programs of round 33, part a: generative models and scientific machine learning, as their
authors write them, in the corners earlier rounds left out.

VAEs: beta-TCVAE's decomposition (the log-density matrix over the batch, stratified weights
written into strided views of a legacy torch.Tensor, logsumexp); the VampPrior (pseudo-inputs
through Hardtanh, a hand-written log-sum-exp prior, KL warm-up, state_dict through torch.save);
Householder Sylvester flows in a VAE (triu masks, diagonals written by advanced indexing into
activations reshaped by the deprecated Tensor.resize, bmm products of reflections); the
stick-breaking VAE (Kumaraswamy posteriors by the inverse CDF, the Taylor-series KL to a Beta
prior by lgamma and digamma, against Kumaraswamy/Beta log_prob). GANs: StyleGAN2's path-length
penalty, lazy R1, equalised-lr mapping network, modulated/demodulated grouped convs, noise
injection and the EMA generator; InfoGAN's information loss over itertools.chain of two
networks; RaGAN with DRAGAN's perturbation penalty and a clipped norm. Diffusion: improved DDPM
(cosine schedule in numpy, _extract_into_tensor, learned-range variance, the VLB by normal_kl
and the discretized Gaussian likelihood, float32); DiT (adaLN-Zero blocks, numpy sin-cos
position embeddings in a frozen Parameter, CFG label dropping, unpatchify by einsum,
forward_with_cfg); the score-SDE tutorial's ScoreNet (Gaussian Fourier features,
ConvTranspose2d with output_padding, GroupNorm) with the DSM loss and the predictor-corrector
sampler. Flows: a two-level Glow (squeeze/split, ActNorm data init behind a uint8 buffer, a
matrix_exp 1x1 conv checked by slogdet, zero-init convs, the learned prior, reverse pass);
WaveGlow (QR-initialised invertible conv with logdet and a cached inverse, weight_norm'd WN
layers, early outputs, inference); a coupling layer as a torch.distributions.Transform subclass
composed into a TransformedDistribution. Neural ODEs: a latent ODE with an ODE-RNN encoder run
backwards in time (GRUCell, RK4, IWAE-style logsumexp, Adamax); the adjoint method by
torch.func.vjp over functional_call against backprop through the solver. PINNs: Raissi's
Navier-Stokes inverse problem (stream function, registered lambda Parameters, Adam then
L-BFGS); Wang et al.'s loss weights from per-layer gradient statistics with the Laplacian by
vmap(jacfwd(jacrev)); a physics-informed DeepONet (vmap(jacrev) against autograd.grad,
searchsorted interpolation). GPs: gpytorch's psd_safe_cholesky (cholesky_ex, jitter on the
failed batch members), cholesky_solve, the deprecated triangular_solve, cholesky_inverse,
logdet; a whitened SVGP with kl_divergence between MultivariateNormals. EBMs: NCE against a
MixtureSameFamily noise, then Langevin sampling with enable_grad under no_grad and a forward
hook. Quantisers: residual VQ (k-means init by bincount/index_add_, EMA by lerp_, dead-code
restarts, straight-through, perplexity); FSQ (int32 basis, round with a straight-through
estimator) and a Gumbel-softmax VQ (einsum with spaces). PixelCNN++: shifted weight-normed
convs, a gated resnet on concat_elu, the discretized logistic mixture loss and its Gumbel-max
sampler on legacy FloatTensors, in float32. Distributions: a mixture density network of
Independent Normals, a bounded TransformedDistribution's cdf, closed-form KLs, and the refusals
in torch's words.

What they found, fixed in minigrad (1 program of 25 failed as first written, the Sylvester
flow; side-by-side probes of some 45 further API corners found the second; the focused tests at
the end check each fix): the deprecated out-of-place Tensor.resize / resize_as cloned and
called resize_, so they refused a tensor that requires grad ("cannot resize variables that
require grad") where PyTorch's autograd Resize reshapes it (a ResizeBackward node, the memory
shared with a contiguous input); cdist and pdist with p = inf shared the gradient among
coordinates tied for the largest difference (as the infinity norm does), where PyTorch's
distance kernels give each tied coordinate the whole gradient.

Not matched, left: torch.func's grad transforms refuse an in-place op on a tensor captured from
outside the transformed function ("During a grad (vjp, jvp, grad, etc) transform, the function
provided attempted to call in-place operation ... that would mutate a captured Tensor"),
minigrad runs it (telling captured tensors from ones made inside needs a creation mark on every
tensor); autograd.functional.hessian(vectorize=True, outer_jacobian_strategy="forward-mode")
returns a result that requires grad in PyTorch (a leaked graph), not in minigrad; LKJCholesky's
draws differ (known, docs/distributions.md); PyTorch's forward-mode AD has no rule for its CPU
flash attention (MultiheadAttention's fast path under jvp), minigrad computes it.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program on
the same numpy inputs and seeded draws and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import io
import math
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, registry, program_harness, normal32, normal64, import_forward_ad_decompositions)


HARNESS = program_harness()
PROGRAMS, program = registry()
import_forward_ad_decompositions()   # jacfwd's first use warns once in torch
torch.set_num_threads(1)   # tiny problems: threads only add overhead (and stall on a busy machine)


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters() if p.grad is not None}


def _x(L, *shape, seed=0, scale=1.0, grad=False):
    return L.tensor(normal64(*shape, seed=seed, scale=scale), requires_grad=grad)


def _u(L, *shape, seed=0):
    """Uniform [0, 1) draws in float64, the same on both sides."""
    return L.tensor(np.random.RandomState(seed).rand(*shape))


# ----------------------------------------------------------------------------------------------
# VAEs: beta-TCVAE's decomposition, the VampPrior
# ----------------------------------------------------------------------------------------------
@program
def beta_tcvae_total_correlation_by_minibatch_stratified_sampling(L):
    """beta-TCVAE (Chen et al., 2018): the log-density of every z of the batch under every
    q(z|x) of the batch, the minibatch-stratified importance weights written into strided
    views of a legacy torch.Tensor(B, B), logsumexp over the batch, the ELBO's KL split into
    index-code MI, total correlation and dimension-wise KL; three Adam steps."""
    nn, F = L.nn, L.nn.functional
    n_data = 500

    def gauss_logpdf(x, mu, logvar):
        """Elementwise log N(x; mu, exp(logvar))."""
        return -0.5 * (math.log(2 * math.pi) + logvar) - 0.5 * ((x - mu) ** 2 * L.exp(-logvar))

    def stratified_log_weights(b, n):
        """Log weights for estimating log q(z) from a batch of b drawn from n examples
        (m = b - 1): 1/n on the diagonal, (n - m) / (n m) at every (m+1)-th flat entry from
        1 and at [m - 1, 0], 1/m elsewhere."""
        m = b - 1
        w = L.Tensor(b, b).fill_(1 / m)
        flat = w.view(-1)
        flat[::m + 1] = 1 / n
        flat[1::m + 1] = (n - m) / (n * m)
        w[m - 1, 0] = (n - m) / (n * m)
        return w.log()

    class GaussianVAE(nn.Module):
        def __init__(self, d=6, z=3, h=16):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, 2 * z))
            self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, d))

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=-1)
            sd = L.exp(0.5 * logvar)
            z = mu + sd * L.randn_like(sd)
            return self.dec(z), mu, logvar, z

    def decomposed_loss(x, logits, mu, logvar, z, w_mi=1.0, w_tc=6.0, w_dim=1.0):
        n, d = z.shape
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        zero = L.zeros_like(z)
        log_prior = gauss_logpdf(z, zero, zero).sum(1)
        log_post = gauss_logpdf(z, mu, logvar).sum(1)
        # pair[i, j, k]: coordinate k of z_i under q(. | x_j)
        pair = gauss_logpdf(z.view(n, 1, d), mu.view(1, n, d), logvar.view(1, n, d))
        logw = stratified_log_weights(n, n_data).to(z.device)
        log_agg = L.logsumexp(logw + pair.sum(2), dim=1, keepdim=False)
        log_agg_per_dim = L.logsumexp(logw.view(n, n, 1) + pair, dim=1, keepdim=False).sum(1)
        mi = (log_post - log_agg).mean()
        tc = (log_agg - log_agg_per_dim).mean()
        per_dim_kl = (log_agg_per_dim - log_prior).mean()
        return rec + w_mi * mi + w_tc * tc + w_dim * per_dim_kl, L.stack([mi, tc, per_dim_kl])

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = GaussianVAE()
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    x = _u(L, 8, 6, seed=1).round()
    out = {"W": stratified_log_weights(5, n_data)}
    for step in range(3):
        opt.zero_grad()
        loss, parts = decomposed_loss(x, *model(x))
        loss.backward()
        if step == 0:
            out["grads"] = _grads(model)
        opt.step()
        out[f"loss{step}"] = (loss.item(), parts.detach())
    return out


@program
def vampprior_vae_with_pseudo_inputs_and_a_logsumexp_prior(L):
    """The VampPrior (Tomczak and Welling, 2018): pseudo-inputs made by a Linear on an
    identity matrix clipped by Hardtanh(0, 1), the prior the mean of the encoder's posteriors
    at them (its log-sum-exp max-shifted by hand), a Bernoulli decoder with clamped
    probabilities, KL warm-up over epochs; the model's state_dict through torch.save and
    back."""
    nn = L.nn

    def diag_normal_logpdf(x, mean, log_var, dim=None):
        """log N(x; mean, exp(log_var)) summed over ``dim``, without the 2 pi constant."""
        return L.sum(-0.5 * (log_var + L.pow(x - mean, 2) / L.exp(log_var)), dim)

    def bernoulli_loglik(x, p, dim=None):
        p = L.clamp(p, min=1e-5, max=1.0 - 1e-5)
        return L.sum(x * L.log(p) + (1.0 - x) * L.log(1.0 - p), dim)

    class PseudoInputVAE(nn.Module):
        def __init__(self, d=8, zdim=2, K=5):
            super().__init__()
            self.K = K
            self.trunk = nn.Sequential(nn.Linear(d, 16), nn.Tanh())
            self.to_mean = nn.Linear(16, zdim)
            self.to_logvar = nn.Sequential(nn.Linear(16, zdim),
                                           nn.Hardtanh(min_val=-6., max_val=2.))
            self.decoder = nn.Sequential(nn.Linear(zdim, 16), nn.Tanh(), nn.Linear(16, d),
                                         nn.Sigmoid())
            self.pseudo = nn.Sequential(nn.Linear(K, d, bias=False),
                                        nn.Hardtanh(min_val=0.0, max_val=1.0))
            nn.init.normal_(self.pseudo[0].weight, 0.4, 0.2)
            self.one_hots = L.eye(K, K, dtype=L.float64, requires_grad=False)

        def encode(self, x):
            h = self.trunk(x)
            return self.to_mean(h), self.to_logvar(h)

        def log_prior(self, z):
            mean_k, logvar_k = self.encode(self.pseudo(self.one_hots))
            comp = diag_normal_logpdf(z.unsqueeze(1), mean_k.unsqueeze(0),
                                      logvar_k.unsqueeze(0), dim=2) - math.log(self.K)
            top = L.max(comp, 1)[0]
            return top + L.log(L.sum(L.exp(comp - top.unsqueeze(1)), 1))

        def losses(self, x, beta=1.0):
            mu, lv = self.encode(x)
            z = mu + L.randn_like(mu) * lv.mul(0.5).exp()
            rec = bernoulli_loglik(x, self.decoder(z), dim=1)
            kl = diag_normal_logpdf(z, mu, lv, dim=1) - self.log_prior(z)
            return L.mean(-rec + beta * kl), L.mean(rec), L.mean(kl)

    L.manual_seed(3)
    model = PseudoInputVAE().double()
    opt = L.optim.Adam(model.parameters(), lr=5e-3)
    x = (_u(L, 10, 8, seed=4) > 0.5).double()
    hist = []
    for epoch in range(1, 4):
        opt.zero_grad()
        loss, rec, kl = model.losses(x, min(1.0, epoch / 2))
        loss.backward()
        opt.step()
        hist.append((loss.item(), rec.item(), kl.item()))
    buf = io.BytesIO()
    L.save(model.state_dict(), buf)
    buf.seek(0)
    L.manual_seed(9)
    again = PseudoInputVAE().double()
    again.load_state_dict(L.load(buf))
    with L.no_grad():
        pseudo = again.pseudo(again.one_hots)
    return hist, pseudo, _grads(model), again.log_prior(_x(L, 4, 2, seed=5))


# ----------------------------------------------------------------------------------------------
# GANs: StyleGAN2's path-length regulariser and R1, InfoGAN, RaGAN with DRAGAN's penalty
# ----------------------------------------------------------------------------------------------
@program
def stylegan2_path_length_penalty_r1_and_generator_ema(L):
    """A StyleGAN2 training step in small: a mapping network of EqualLinear layers
    with lr_mul and a fused leaky ReLU after PixelNorm, latents repeated per layer, modulated
    and demodulated convs with noise injection, bilinear upsampling; the non-saturating
    losses, lazy R1 (autograd.grad of real_pred.sum() w.r.t. the images with create_graph),
    the path-length penalty against a running mean, requires_grad toggled per phase, and
    accumulate() for the EMA generator."""
    nn, F = L.nn, L.nn.functional
    autograd = L.autograd

    def biased_lrelu(x, bias, slope=0.2, gain=2 ** 0.5):
        """x + bias (per channel, dim 1) through a leaky ReLU, rescaled to keep its variance."""
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return F.leaky_relu(x + bias.reshape(shape), negative_slope=slope) * gain

    class PixelNorm(nn.Module):
        def forward(self, x):
            return x / (x.square().mean(dim=1, keepdim=True) + 1e-8).sqrt()

    class EqualLinear(nn.Module):
        """A linear layer stored at unit scale and scaled when run (equalised learning
        rate); lr_mul slows its learning rate."""

        def __init__(self, n_in, n_out, bias_init=0, lr_mul=1, activation=None):
            super().__init__()
            self.weight = nn.Parameter(L.randn(n_out, n_in) / lr_mul)
            self.bias = nn.Parameter(L.full((n_out,), float(bias_init)))
            self.activation, self.lr_mul = activation, lr_mul
            self.gain = lr_mul / math.sqrt(n_in)

        def forward(self, x):
            w, b = self.weight * self.gain, self.bias * self.lr_mul
            if self.activation:
                return biased_lrelu(F.linear(x, w), b)
            return F.linear(x, w, b)

    class ModulatedConv(nn.Module):
        """A convolution whose weight each sample's style scales per input channel, then
        normalised per output channel (demodulation): one grouped convolution, a group per
        sample."""

        def __init__(self, cin, cout, k, style_dim, demodulate=True):
            super().__init__()
            self.weight = nn.Parameter(L.randn(1, cout, cin, k, k))
            self.modulation = EqualLinear(style_dim, cin, bias_init=1)
            self.gain = (cin * k * k) ** -0.5
            self.k, self.cout, self.demodulate = k, cout, demodulate

        def forward(self, x, style):
            n, cin, h, w = x.shape
            wgt = self.weight * self.gain * self.modulation(style).reshape(n, 1, cin, 1, 1)
            if self.demodulate:
                wgt = wgt / (wgt.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8).sqrt()
            y = F.conv2d(x.reshape(1, n * cin, h, w),
                         wgt.reshape(n * self.cout, cin, self.k, self.k),
                         padding=self.k // 2, groups=n)
            return y.reshape(n, self.cout, y.shape[2], y.shape[3])

    class NoiseInjection(nn.Module):
        """Adds per-pixel Gaussian noise, one learned strength."""

        def __init__(self):
            super().__init__()
            self.weight = nn.Parameter(L.zeros(1))

        def forward(self, image):
            n, _, h, w = image.shape
            return image + self.weight * image.new_empty(n, 1, h, w).normal_()

    class Generator(nn.Module):
        def __init__(self, style_dim=8, c=4):
            super().__init__()
            self.style = nn.Sequential(PixelNorm(), *[EqualLinear(style_dim, style_dim, lr_mul=0.01,
                                                                  activation="fused_lrelu")
                                                      for _ in range(2)])
            self.input = nn.Parameter(L.randn(1, c, 4, 4))
            self.conv1, self.noise1 = ModulatedConv(c, c, 3, style_dim), NoiseInjection()
            self.conv2, self.noise2 = ModulatedConv(c, c, 3, style_dim), NoiseInjection()
            self.activate = nn.LeakyReLU(0.2)
            self.to_rgb = ModulatedConv(c, 1, 1, style_dim, demodulate=False)
            self.n_latent = 3

        def forward(self, z, return_latents=False):
            latent = self.style(z).unsqueeze(1).repeat(1, self.n_latent, 1)
            out = self.input.repeat(z.shape[0], 1, 1, 1)
            out = self.activate(self.noise1(self.conv1(out, latent[:, 0])))
            out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)
            out = self.activate(self.noise2(self.conv2(out, latent[:, 1])))
            image = self.to_rgb(out, latent[:, 2])
            return (image, latent) if return_latents else (image, None)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.LeakyReLU(0.2),
                                     nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                                     nn.Flatten(), nn.Linear(8 * 16, 1))

        def forward(self, x):
            return self.net(x)

    def requires_grad(model, flag=True):
        model.requires_grad_(flag)

    def accumulate(ema, model, decay=0.999):
        """ema's weights <- decay ema + (1 - decay) model's, in place."""
        with L.no_grad():
            for (_, e), (_, p) in zip(ema.named_parameters(), model.named_parameters()):
                e.lerp_(p, 1 - decay)

    def d_r1_loss(real_pred, real_img):
        """R1: the squared norm of the discriminator's gradient at the real images."""
        grad, = autograd.grad(real_pred.sum(), real_img, create_graph=True)
        return grad.square().flatten(1).sum(dim=1).mean()

    def g_path_regularize(fake_img, latents, mean_path_length, decay=0.01):
        """How far the generator's Jacobian norm along random image directions strays from
        its running mean (path-length regularisation)."""
        pixels = fake_img.shape[2] * fake_img.shape[3]
        probe = L.randn_like(fake_img) / math.sqrt(pixels)
        grad, = autograd.grad((fake_img * probe).sum(), latents, create_graph=True)
        lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
        running = mean_path_length + decay * (lengths.mean() - mean_path_length)
        return (lengths - running).square().mean(), running.detach(), lengths

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    g, d = Generator().double(), Discriminator().double()
    g_ema = Generator().double()
    g_ema.eval()
    accumulate(g_ema, g, 0)
    g_reg_ratio, d_reg_ratio = 4 / 5, 16 / 17
    g_optim = L.optim.Adam(g.parameters(), lr=2e-3 * g_reg_ratio,
                           betas=(0 ** g_reg_ratio, 0.99 ** g_reg_ratio))
    d_optim = L.optim.Adam(d.parameters(), lr=2e-3 * d_reg_ratio,
                           betas=(0 ** d_reg_ratio, 0.99 ** d_reg_ratio))
    refused = err(lambda: L.optim.Adam(g.parameters(), betas=(0, 0.99)))
    real = _x(L, 3, 1, 8, 8, seed=11)
    mean_path_length, log = 0, []
    for i in range(2):
        requires_grad(g, False)
        requires_grad(d, True)
        fake_img, _ = g(L.randn(3, 8))
        d_loss = F.softplus(-d(real)).mean() + F.softplus(d(fake_img)).mean()
        d.zero_grad()
        d_loss.backward()
        d_optim.step()
        real_img = real.clone().requires_grad_(True)
        r1 = d_r1_loss(d(real_img), real_img)
        d.zero_grad()
        (10 / 2 * r1 * 16 + 0 * d(real_img)[0]).backward()
        d_optim.step()

        requires_grad(g, True)
        requires_grad(d, False)
        fake_img, _ = g(L.randn(3, 8))
        g_loss = F.softplus(-d(fake_img)).mean()
        g.zero_grad()
        g_loss.backward()
        g_optim.step()
        fake_img, latents = g(L.randn(2, 8), return_latents=True)
        path_loss, mean_path_length, path_lengths = g_path_regularize(fake_img, latents,
                                                                      mean_path_length)
        g.zero_grad()
        weighted = 2 * 4 * path_loss + 0 * fake_img[0, 0, 0, 0]
        weighted.backward()
        pl_grads = {k: v.clone() for k, v in _grads(g).items()}
        g_optim.step()
        accumulate(g_ema, g, 0.5)
        log.append((d_loss.item(), r1.item(), g_loss.item(), path_loss.item(),
                    mean_path_length, path_lengths.detach()))
    return log, pl_grads, g_ema.state_dict(), refused


@program
def infogan_categorical_and_continuous_codes_with_an_information_loss(L):
    """InfoGAN (the PyTorch-GAN collection's implementation in small): a generator on noise,
    a one-hot class code by F.one_hot and a continuous code; the discriminator's shared trunk
    with an adversarial head, an auxiliary class head and a latent head; MSE adversarial
    losses, and the information loss (cross entropy + MSE on the codes) stepped by its own
    Adam over both networks' parameters chained by itertools.chain."""
    import itertools
    nn, F = L.nn, L.nn.functional
    n_classes, code_dim, latent_dim = 3, 2, 4

    def weights_init_normal(m):
        classname = m.__class__.__name__
        if classname.find("Linear") != -1:
            L.nn.init.normal_(m.weight.data, 0.0, 0.2)
        elif classname.find("BatchNorm") != -1:
            L.nn.init.normal_(m.weight.data, 1.0, 0.02)
            L.nn.init.constant_(m.bias.data, 0.0)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Sequential(nn.Linear(latent_dim + n_classes + code_dim, 16),
                                       nn.BatchNorm1d(16, 0.8), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Linear(16, 6), nn.Tanh())

        def forward(self, noise, labels, code):
            return self.model(L.cat((noise, labels, code), -1))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(6, 16), nn.LeakyReLU(0.2, inplace=True),
                                       nn.Dropout(0.25))
            self.adv_layer = nn.Linear(16, 1)
            self.aux_layer = nn.Sequential(nn.Linear(16, n_classes), nn.Softmax(dim=1))
            self.latent_layer = nn.Linear(16, code_dim)

        def forward(self, x):
            out = self.trunk(x)
            return self.adv_layer(out), self.aux_layer(out), self.latent_layer(out)

    L.manual_seed(1)
    generator, discriminator = Generator().double(), Discriminator().double()
    generator.apply(weights_init_normal)
    discriminator.apply(weights_init_normal)
    adversarial_loss, categorical_loss, continuous_loss = nn.MSELoss(), nn.CrossEntropyLoss(), \
        nn.MSELoss()
    optimizer_G = L.optim.Adam(generator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizer_D = L.optim.Adam(discriminator.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optimizer_info = L.optim.Adam(itertools.chain(generator.parameters(),
                                                  discriminator.parameters()),
                                  lr=2e-3, betas=(0.5, 0.999))
    real_imgs = _x(L, 6, 6, seed=2).tanh()
    B = real_imgs.shape[0]
    valid, fake = L.ones(B, 1, dtype=L.float64), L.zeros(B, 1, dtype=L.float64)
    log = []
    for _ in range(2):
        optimizer_G.zero_grad()
        z = L.randn(B, latent_dim, dtype=L.float64)
        label_input = F.one_hot(L.randint(0, n_classes, (B,)), n_classes).double()
        code_input = L.empty(B, code_dim, dtype=L.float64).uniform_(-1, 1)
        gen_imgs = generator(z, label_input, code_input)
        validity, _, _ = discriminator(gen_imgs)
        g_loss = adversarial_loss(validity, valid)
        g_loss.backward()
        optimizer_G.step()

        optimizer_D.zero_grad()
        real_pred, _, _ = discriminator(real_imgs)
        fake_pred, _, _ = discriminator(gen_imgs.detach())
        d_loss = (adversarial_loss(real_pred, valid) + adversarial_loss(fake_pred, fake)) / 2
        d_loss.backward()
        optimizer_D.step()

        optimizer_info.zero_grad()
        sampled_labels = L.randint(0, n_classes, (B,))
        gt_labels = sampled_labels.clone()
        label_input = F.one_hot(sampled_labels, n_classes).double()
        code_input = L.empty(B, code_dim, dtype=L.float64).uniform_(-1, 1)
        gen_imgs = generator(L.randn(B, latent_dim, dtype=L.float64), label_input, code_input)
        _, pred_label, pred_code = discriminator(gen_imgs)
        info_loss = categorical_loss(pred_label, gt_labels) + \
            0.1 * continuous_loss(pred_code, code_input)
        info_loss.backward()
        optimizer_info.step()
        log.append((g_loss.item(), d_loss.item(), info_loss.item()))
    generator.eval()
    with L.no_grad():
        static = generator(L.zeros(n_classes, latent_dim, dtype=L.float64),
                           L.eye(n_classes, dtype=L.float64),
                           L.linspace(-1, 1, n_classes * code_dim, dtype=L.float64).view(-1, 2))
    return log, static, generator.model[1].running_var, generator.model[1].num_batches_tracked


@program
def relativistic_average_gan_with_a_dragan_perturbation_penalty(L):
    """RaGAN's losses (BCE with logits on real minus the mean fake logit and the reverse) and
    DRAGAN's penalty: interpolates between the data and the data perturbed by 0.5 * std times
    uniform noise, the gradient norm by autograd.grad with grad_outputs=ones and
    create_graph, pushed towards 1; the discriminator's gradient norm clipped."""
    nn = L.nn
    L.manual_seed(4)
    G = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    D = nn.Sequential(nn.Linear(2, 16), nn.ELU(), nn.Linear(16, 16), nn.ELU(),
                      nn.Linear(16, 1)).double()
    opt_g = L.optim.RMSprop(G.parameters(), lr=1e-3)
    opt_d = L.optim.RMSprop(D.parameters(), lr=1e-3, momentum=0.5)
    data = _x(L, 8, 2, seed=3)
    criterion = nn.BCEWithLogitsLoss()
    ones, zeros = L.ones(8, 1, dtype=L.float64), L.zeros(8, 1, dtype=L.float64)
    log = []
    for _ in range(2):
        fake = G(L.randn(8, 3, dtype=L.float64))
        real_logit, fake_logit = D(data), D(fake.detach())
        d_loss = (criterion(real_logit - fake_logit.mean(), ones) +
                  criterion(fake_logit - real_logit.mean(), zeros)) / 2
        alpha = L.rand(data.size(0), 1, dtype=L.float64).expand(data.size())
        x_p = data + 0.5 * data.std() * L.rand(data.size(), dtype=L.float64)
        differences = x_p - data
        interpolates = (data + alpha * differences).requires_grad_(True)
        gradients = L.autograd.grad(outputs=D(interpolates), inputs=interpolates,
                                    grad_outputs=L.ones(8, 1, dtype=L.float64),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
        gp = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
        opt_d.zero_grad()
        (d_loss + 0.5 * gp).backward()
        total = nn.utils.clip_grad_norm_(D.parameters(), 0.5)
        opt_d.step()

        fake = G(L.randn(8, 3, dtype=L.float64))
        real_logit, fake_logit = D(data), D(fake)
        g_loss = (criterion(real_logit - fake_logit.mean(), zeros) +
                  criterion(fake_logit - real_logit.mean(), ones)) / 2
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        log.append((d_loss.item(), gp.item(), total, g_loss.item()))
    return log, _grads(G), opt_d.state_dict()["state"][0]


# ----------------------------------------------------------------------------------------------
# Diffusion: improved DDPM's hybrid loss, DiT's adaLN-Zero blocks, the score-SDE tutorial
# ----------------------------------------------------------------------------------------------
@program
def improved_ddpm_cosine_schedule_learned_range_variance_and_vlb_terms(L):
    """Improved DDPM's training objective in small (the facts of openai/improved-diffusion, our
    code): the cosine schedule in numpy, per-sample schedule values read by from_numpy,
    indexing by the timesteps, .float(), axes added in a loop and expand; an odd-sized
    sinusoidal timestep embedding padded with zeros, an output conv zeroed through its
    parameters' detach(), the learned-range variance, the hybrid loss (MSE + the variational
    bound on a frozen mean: the Gaussian KL and the discretized Gaussian log-likelihood by the
    tanh CDF approximation, torch.where on t == 0), float32."""
    nn, F = L.nn, L.nn.functional
    T = 10

    def alpha_bar(u):
        return math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2

    # beta_i from consecutive ratios of alpha_bar, capped at 0.999
    betas = np.array([min(1 - alpha_bar((i + 1) / T) / alpha_bar(i / T), 0.999)
                      for i in range(T)])
    abar = np.cumprod(1.0 - betas, axis=0)
    abar_prev = np.append(1.0, abar[:-1])
    post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    table = {
        "sqrt_abar": np.sqrt(abar), "sqrt_1m_abar": np.sqrt(1.0 - abar),
        "recip_sqrt_abar": np.sqrt(1.0 / abar), "sqrt_recip_m1": np.sqrt(1.0 / abar - 1),
        # step 0's posterior variance is 0: its log takes step 1's value
        "post_logvar": np.log(np.append(post_var[1], post_var[1:])),
        "post_c0": betas * np.sqrt(abar_prev) / (1.0 - abar),
        "post_ct": (1.0 - abar_prev) * np.sqrt(1 - betas) / (1.0 - abar),
        "log_beta": np.log(betas)}

    def at(name, t, shape):
        v = L.from_numpy(table[name]).to(device=t.device)[t].float()
        while len(v.shape) < len(shape):
            v = v[..., None]
        return v.expand(shape)

    def time_features(t, dim, max_period=10000):
        half = dim // 2
        rates = L.exp(-math.log(max_period) * L.arange(start=0, end=half, dtype=L.float32)
                      / half).to(device=t.device)
        phase = t[:, None].float() * rates[None]
        feats = L.cat([L.cos(phase), L.sin(phase)], dim=-1)
        return feats if dim % 2 == 0 else L.cat([feats, L.zeros_like(feats[:, :1])], dim=-1)

    def zeroed(module):
        for p in module.parameters():
            p.detach().zero_()
        return module

    def mean_over_pixels(x):
        return x.mean(dim=list(range(1, len(x.shape))))

    def gauss_kl(m1, lv1, m2, lv2):
        # KL(N(m1, e^lv1) || N(m2, e^lv2)) elementwise; a log-variance may be a Python float
        like = next(o for o in (m1, lv1, m2, lv2) if isinstance(o, L.Tensor))
        lv1, lv2 = [v if isinstance(v, L.Tensor) else L.tensor(v).to(like) for v in (lv1, lv2)]
        return 0.5 * (-1.0 + lv2 - lv1 + L.exp(lv1 - lv2) + ((m1 - m2) ** 2) * L.exp(-lv2))

    def phi(x):
        # the tanh approximation of the standard normal CDF
        return 0.5 * (1.0 + L.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * L.pow(x, 3))))

    def binned_loglik(x, mean, log_scale):
        # log-probability of x's bin (width 2/255) under N(mean, scale^2), end bins open
        inv = L.exp(-log_scale)
        upper = phi(inv * (x - mean + 1.0 / 255.0))
        lower = phi(inv * (x - mean - 1.0 / 255.0))

        def safe_log(v):
            return L.log(v.clamp(min=1e-12))

        inside = L.where(x > 0.999, safe_log(1.0 - lower), safe_log(upper - lower))
        return L.where(x < -0.999, safe_log(upper), inside)

    class TinyUNet(nn.Module):
        def __init__(self, c=2, ch=8, emb=7):
            super().__init__()
            self.emb_dim = emb
            self.time_mlp = nn.Sequential(nn.Linear(emb, ch), nn.SiLU(), nn.Linear(ch, ch))
            self.stem = nn.Conv2d(c, ch, 3, padding=1)
            self.norm = nn.GroupNorm(4, ch)
            self.film = nn.Sequential(nn.SiLU(), nn.Linear(ch, 2 * ch))
            self.down = nn.Conv2d(ch, ch, 3, stride=2, padding=1)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.head = nn.Sequential(nn.GroupNorm(4, 2 * ch), nn.SiLU(),
                                      zeroed(nn.Conv2d(2 * ch, 2 * c, 3, padding=1)))

        def forward(self, x, t):
            cond = self.film(self.time_mlp(time_features(t, self.emb_dim)))
            scale, shift = L.chunk(cond[..., None, None], 2, dim=1)
            h1 = self.norm(self.stem(x)) * (1 + scale) + shift
            h2 = self.up(F.silu(self.down(F.silu(h1))))
            return self.head(L.cat([h1, h2], dim=1))

    def noised(x0, t, noise):
        return at("sqrt_abar", t, x0.shape) * x0 + at("sqrt_1m_abar", t, x0.shape) * noise

    def posterior(x0, xt, t):
        mean = at("post_c0", t, xt.shape) * x0 + at("post_ct", t, xt.shape) * xt
        return mean, at("post_logvar", t, xt.shape)

    def reverse_step(eps, v, xt, t):
        # the log-variance moves between the posterior's and beta's as v goes from -1 to 1
        w = (v + 1) / 2
        log_var = w * at("log_beta", t, xt.shape) + (1 - w) * at("post_logvar", t, xt.shape)
        x0 = (at("recip_sqrt_abar", t, xt.shape) * xt
              - at("sqrt_recip_m1", t, xt.shape) * eps).clamp(-1, 1)
        return posterior(x0, xt, t)[0], log_var

    def losses_at(model, x0, t, noise):
        xt = noised(x0, t, noise)
        eps, v = L.split(model(xt, t), xt.shape[1], dim=1)
        true_mean, true_logvar = posterior(x0, xt, t)
        # the bound trains the variance only: the mean comes from the detached noise guess
        mean, log_var = reverse_step(eps.detach(), v, xt, t)
        kl_bits = mean_over_pixels(gauss_kl(true_mean, true_logvar, mean, log_var)) / np.log(2.0)
        nll_bits = -mean_over_pixels(binned_loglik(x0, mean, 0.5 * log_var)) / np.log(2.0)
        vb = L.where((t == 0), nll_bits, kl_bits) * T / 1000.0
        mse = mean_over_pixels((noise - eps) ** 2)
        return {"loss": mse + vb, "mse": mse, "vb": vb}

    L.manual_seed(0)
    model = TinyUNet()
    opt = L.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)
    x_start = L.tensor(np.tanh(normal32(4, 2, 6, 6, seed=5) * 2).round(2))
    x_start[0, 0, 0, :3] = L.tensor([-1.0, 1.0, 0.5])
    out = []
    for step, ts in enumerate(([0, 3, 9, 5], [1, 0, 7, 2])):
        t = L.tensor(ts)
        weights = L.from_numpy(np.ones(T) / T)[t].float() * T
        opt.zero_grad()
        losses = losses_at(model, x_start, t, L.tensor(normal32(4, 2, 6, 6, seed=10 + step)))
        loss = (losses["loss"] * weights).mean()
        loss.backward()
        out.append((losses, model.head[2].weight.grad.clone(), model.stem.weight.grad.clone()))
        opt.step()
    return out, time_features(L.tensor([0, 5, 9]), 7)


@program
def dit_adaln_zero_blocks_patchify_cfg_and_unpatchify(L):
    """DiT's model in small (facts from facebookresearch/DiT, our code): a conv patch
    embedding, fixed 2-d sin-cos position embeddings made in numpy and copied into a frozen
    Parameter, a timestep embedder, a label embedder with classifier-free-guidance label
    dropping (forced drop ids), blocks modulated by adaLN-Zero (six chunks, LayerNorm without
    affine, eps 1e-6) with scaled_dot_product_attention and a tanh-GELU MLP, weights
    initialised by Module.apply (xavier_uniform_, the modulation layers zeroed by constant_),
    patches folded back to an image by einsum, and the guided forward; a float32 training step
    with the zero-initialised layers perturbed."""
    nn, F = L.nn, L.nn.functional

    def sincos_table(width, side):
        # the first half of the width encodes the column index, the second the row index:
        # sin then cos of pos * 10000 ** (-i / (width / 4)) for each
        def encode(dim, pos):
            rates = 1. / 10000 ** (np.arange(dim // 2, dtype=np.float64) / (dim / 2.))
            phase = np.einsum("m,d->md", pos.reshape(-1), rates)
            return np.concatenate([np.sin(phase), np.cos(phase)], axis=1)

        cols, rows = np.meshgrid(np.arange(side, dtype=np.float32),
                                 np.arange(side, dtype=np.float32))
        return np.concatenate([encode(width // 2, cols), encode(width // 2, rows)], axis=1)

    def shift_scale(x, shift, scale):
        return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)

    def sinusoid(t, dim, longest=10000):
        """cos and sin of t at dim // 2 frequencies, geometric from 1 to 1/longest."""
        n = dim // 2
        rates = (L.arange(n, dtype=L.float32) * (-math.log(longest) / n)).exp()
        angles = t.float().unsqueeze(1) * rates.unsqueeze(0)
        return L.cat([angles.cos(), angles.sin()], dim=-1)

    def plain_norm(h):
        return nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)

    class Labels(nn.Module):
        """A label table with one extra row standing for "no label" when dropping is on."""

        def __init__(self, classes, h, p_drop):
            super().__init__()
            self.classes, self.p_drop = classes, p_drop
            self.table = nn.Embedding(classes + int(p_drop > 0), h)

        def forward(self, y, train, forced=None):
            if forced is not None:
                y = L.where(forced == 1, self.classes, y)
            elif train and self.p_drop > 0:
                y = L.where(L.rand(y.shape[0], device=y.device) < self.p_drop, self.classes, y)
            return self.table(y)

    class SelfAttention(nn.Module):
        def __init__(self, h, heads):
            super().__init__()
            self.heads = heads
            self.qkv, self.out = nn.Linear(h, h * 3), nn.Linear(h, h)

        def forward(self, x):
            b, n, c = x.shape
            q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(
                2, 0, 3, 1, 4).unbind(0)
            y = F.scaled_dot_product_attention(q, k, v)
            return self.out(y.transpose(1, 2).reshape(b, n, c))

    class CondBlock(nn.Module):
        def __init__(self, h, heads, ratio=2.0):
            super().__init__()
            wide = int(h * ratio)
            self.pre_attn, self.pre_mlp = plain_norm(h), plain_norm(h)
            self.attn = SelfAttention(h, heads)
            self.mlp = nn.Sequential(nn.Linear(h, wide), nn.GELU(approximate="tanh"),
                                     nn.Linear(wide, h))
            self.cond = nn.Sequential(nn.SiLU(), nn.Linear(h, 6 * h))

        def forward(self, x, c):
            a_shift, a_scale, a_gate, m_shift, m_scale, m_gate = self.cond(c).chunk(6, dim=1)
            x = x + a_gate.unsqueeze(1) * self.attn(shift_scale(self.pre_attn(x), a_shift,
                                                                a_scale))
            return x + m_gate.unsqueeze(1) * self.mlp(shift_scale(self.pre_mlp(x), m_shift,
                                                                  m_scale))

    class OutHead(nn.Module):
        def __init__(self, h, p, cout):
            super().__init__()
            self.norm = plain_norm(h)
            self.out = nn.Linear(h, p * p * cout)
            self.cond = nn.Sequential(nn.SiLU(), nn.Linear(h, 2 * h))

        def forward(self, x, c):
            shift, scale = self.cond(c).chunk(2, dim=1)
            return self.out(shift_scale(self.norm(x), shift, scale))

    def xavier_linears(mod):
        if isinstance(mod, nn.Linear):
            L.nn.init.xavier_uniform_(mod.weight)
            if mod.bias is not None:
                nn.init.constant_(mod.bias, 0)

    class Denoiser(nn.Module):
        def __init__(self, size=8, p=2, cin=2, h=16, depth=2, heads=2, p_drop=0.1, classes=5):
            super().__init__()
            self.cin, self.cout, self.p = cin, 2 * cin, p      # noise and variance channels
            self.side = size // p
            self.embed_patch = nn.Conv2d(cin, h, p, stride=p)
            self.embed_time = nn.Sequential(nn.Linear(16, h, bias=True), nn.SiLU(),
                                            nn.Linear(h, h, bias=True))
            self.embed_label = Labels(classes, h, p_drop)
            self.pos = nn.Parameter(L.zeros(1, self.side ** 2, h), requires_grad=False)
            self.blocks = nn.ModuleList([CondBlock(h, heads) for _ in range(depth)])
            self.head = OutHead(h, p, self.cout)
            self.apply(xavier_linears)
            self.pos.data.copy_(L.from_numpy(sincos_table(h, self.side)).float().unsqueeze(0))
            w = self.embed_patch.weight.data
            nn.init.xavier_uniform_(w.view([w.shape[0], -1]))   # as if it were a Linear
            nn.init.constant_(self.embed_patch.bias, 0)
            nn.init.normal_(self.embed_label.table.weight, std=0.02)
            for lin in (self.embed_time[0], self.embed_time[2]):
                nn.init.normal_(lin.weight, std=0.02)
            for lin in [b.cond[-1] for b in self.blocks] + [self.head.cond[-1], self.head.out]:
                nn.init.constant_(lin.weight, 0)
                nn.init.constant_(lin.bias, 0)

        def to_image(self, tokens):
            n, p, c, s = tokens.shape[0], self.p, self.cout, self.side
            grid = tokens.reshape(shape=(n, s, s, p, p, c))
            return L.einsum("nhwpqc->nchpwq", grid).reshape(shape=(n, c, s * p, s * p))

        def forward(self, x, t, y, forced=None):
            tokens = self.embed_patch(x).flatten(2).transpose(1, 2) + self.pos
            c = self.embed_time(sinusoid(t, 16)) + self.embed_label(y, self.training, forced)
            for block in self.blocks:
                tokens = block(tokens, c)
            return self.to_image(self.head(tokens, c))

        def guided(self, x, t, y, weight):
            first = x[: len(x) // 2]
            out = self.forward(L.cat([first, first], dim=0), t, y)
            noise, rest = out[:, :self.cin], out[:, self.cin:]
            with_label, without = L.split(noise, len(noise) // 2, dim=0)
            mixed = without + weight * (with_label - without)
            return L.cat([L.cat([mixed, mixed], dim=0), rest], dim=1)

    L.manual_seed(0)
    model = Denoiser()
    with L.no_grad():                    # as after some training: the zeroed layers moved
        for name, p in model.named_parameters():
            if "cond" in name or "head.out" in name:
                p.add_(0.05 * L.randn_like(p))
    opt = L.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)
    x = L.tensor(normal32(4, 2, 8, 8, seed=1))
    t, y = L.tensor([3, 7, 0, 9]), L.tensor([1, 4, 2, 0])
    out = model(x, t, y, forced=L.tensor([0, 1, 0, 0]))
    loss = F.mse_loss(out[:, :2], L.tensor(normal32(4, 2, 8, 8, seed=2))) + out[:, 2:].pow(2).mean()
    opt.zero_grad()
    loss.backward()
    grads = {k: v for k, v in _grads(model).items() if "blocks.0" in k or "embed_" in k}
    opt.step()
    model.eval()
    with L.no_grad():
        cfg = model.guided(x, t, L.tensor([1, 4, 5, 5]), 4.0)
    return out, loss, grads, cfg, model.pos.requires_grad, \
        [n for n, _ in model.named_parameters()][:6]


@program
def score_sde_tutorial_scorenet_dsm_loss_and_predictor_corrector_sampler(L):
    """The score-SDE tutorial's setting (Yang Song's), channels shrunk, in our own code: random
    Fourier features of the time held in a frozen Parameter, per-stage time projections added
    in place as [..., None, None], GroupNorm and swish, strided convs down and ConvTranspose2d
    (output_padding=1) up with a skip concat, the output divided by the VE SDE's marginal std
    (computed from torch.tensor of a tensor, which warns); the denoising score-matching loss
    on random times, Adam steps, then a predictor-corrector sampler whose Langevin step sizes
    come from gradient norms."""
    nn = L.nn
    sigma = 25.0

    def std_at(t):
        # sqrt((sigma^(2t) - 1) / (2 log sigma)); t is a tensor here, so torch.tensor warns
        t = L.tensor(t)
        return L.sqrt((sigma ** (2 * t) - 1.) / 2. / np.log(sigma))

    def g_at(t):
        return L.tensor(sigma ** t)

    def per_sample(v):
        return v[:, None, None, None]

    class FourierTime(nn.Module):
        def __init__(self, dim, scale=30.):
            super().__init__()
            self.freqs = nn.Parameter(L.randn(dim // 2) * scale, requires_grad=False)

        def forward(self, t):
            angle = t[:, None] * self.freqs[None, :] * 2 * np.pi
            return L.cat([L.sin(angle), L.cos(angle)], dim=-1)

    class ToMap(nn.Linear):
        """A Linear whose output is broadcast over the pixels of a feature map."""

        def forward(self, e):
            return super().forward(e)[..., None, None]

    class TinyScoreNet(nn.Module):
        def __init__(self, std_fn, ch=(4, 8), emb=8):
            super().__init__()
            self.time = nn.Sequential(FourierTime(emb), nn.Linear(emb, emb))
            self.down1, self.t1 = nn.Conv2d(1, ch[0], 3, stride=1, bias=False), ToMap(emb, ch[0])
            self.n1 = nn.GroupNorm(2, num_channels=ch[0])
            self.down2 = nn.Conv2d(ch[0], ch[1], 3, stride=2, bias=False)
            self.t2, self.n2 = ToMap(emb, ch[1]), nn.GroupNorm(4, num_channels=ch[1])
            self.up2 = nn.ConvTranspose2d(ch[1], ch[0], 3, stride=2, bias=False,
                                          output_padding=1)
            self.t3, self.n3 = ToMap(emb, ch[0]), nn.GroupNorm(2, num_channels=ch[0])
            self.up1 = nn.ConvTranspose2d(2 * ch[0], 1, 3, stride=1)
            self.act = lambda z: z * L.sigmoid(z)
            self.std_fn = std_fn

        def stage(self, conv, to_map, norm, x, e):
            h = conv(x)
            h += to_map(e)
            return self.act(norm(h))

        def forward(self, x, t):
            e = self.act(self.time(t))
            h1 = self.stage(self.down1, self.t1, self.n1, x, e)
            h2 = self.stage(self.down2, self.t2, self.n2, h1, e)
            h = self.stage(self.up2, self.t3, self.n3, h2, e)
            return self.up1(L.cat([h, h1], dim=1)) / per_sample(self.std_fn(t))

    def dsm_loss(model, x, eps=1e-5):
        t = L.rand(x.shape[0], device=x.device) * (1. - eps) + eps
        noise = L.randn_like(x)
        s = per_sample(std_at(t))
        # the perturbation kernel's score is -noise / std: the target of std * score
        return L.mean(L.sum((model(x + noise * s, t) * s + noise) ** 2, dim=(1, 2, 3)))

    def pc_sample(model, n=2, steps=3, snr=0.16, eps=1e-3):
        times = np.linspace(1., eps, steps)
        dt = times[0] - times[1]
        x = L.randn(n, 1, 10, 10) * per_sample(std_at(L.ones(n)))
        sizes = []
        with L.no_grad():
            for now in times:
                t = L.ones(n) * now
                # corrector: one Langevin step sized from the signal-to-noise ratio
                score = model(x, t)
                score_norm = L.norm(score.reshape(score.shape[0], -1), dim=-1).mean()
                size = 2 * (snr * np.sqrt(np.prod(x.shape[1:])) / score_norm) ** 2
                x = x + size * score + L.sqrt(2 * size) * L.randn_like(x)
                # predictor: one reverse-time Euler-Maruyama step
                g = g_at(t)
                mean = x + per_sample(g ** 2) * model(x, t) * dt
                x = mean + per_sample(L.sqrt(g ** 2 * dt)) * L.randn_like(x)
                sizes.append(size)
        return mean, sizes

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = TinyScoreNet(std_at)
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    x = L.tensor(normal64(3, 1, 10, 10, seed=4)).sigmoid()
    losses = []
    for _ in range(2):
        loss = dsm_loss(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    grads = _grads(model)
    samples, sizes = pc_sample(model)
    return losses, grads, samples, sizes, model.time[0].freqs.grad


# ----------------------------------------------------------------------------------------------
# Normalizing flows: Glow with a matrix-exponential 1x1 conv, Sylvester flows, a coupling
# layer written as a torch.distributions.Transform subclass
# ----------------------------------------------------------------------------------------------
@program
def glow_multiscale_squeeze_split_prior_and_matrix_exp_invertible_conv(L):
    """A Glow, two levels deep: squeeze by view/permute, ActNorm initialised from the first
    batch behind a uint8 flag buffer, an invertible 1x1
    conv parametrised as W = matrix_exp(A) (log-det = H W trace(A), checked by slogdet), an
    affine coupling with sigmoid(log_s + 2) and a zero-initialised output conv scaled by
    exp(3 logs), the learned split prior's Gaussian log-density, dequantised bits per dim;
    the reverse pass, and the state_dict (buffer included) into a fresh model."""
    nn, F = L.nn, L.nn.functional
    logabs = lambda x: L.log(L.abs(x))          # noqa: E731

    def gaussian_log_p(x, mean, log_sd):
        return -0.5 * math.log(2 * math.pi) - log_sd - 0.5 * (x - mean) ** 2 / L.exp(2 * log_sd)

    def squeeze2d(x):
        b, c, h, w = x.shape
        x = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return x.contiguous().view(b, c * 4, h // 2, w // 2)

    def unsqueeze2d(x):
        b, c, h, w = x.shape
        x = x.view(b, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.contiguous().view(b, c // 4, h * 2, w * 2)

    class ActNorm(nn.Module):
        """Per-channel affine layer, set on the first batch to give it zero mean and unit
        spread (data-dependent initialisation), with its log-determinant."""

        def __init__(self, channels):
            super().__init__()
            self.shift = nn.Parameter(L.zeros(1, channels, 1, 1))
            self.gain = nn.Parameter(L.ones(1, channels, 1, 1))
            self.register_buffer("ready", L.zeros((), dtype=L.uint8))     # a saved flag

        def forward(self, x):
            if not self.ready:
                with L.no_grad():
                    dims = (0, 2, 3)
                    self.shift.copy_(-x.mean(dim=dims, keepdim=True))
                    self.gain.copy_(x.std(dim=dims, keepdim=True).add(1e-6).reciprocal())
                    self.ready.fill_(1)
            pixels = x.shape[2] * x.shape[3]
            return self.gain * (x + self.shift), pixels * logabs(self.gain).sum()

        def reverse(self, y):
            return y / self.gain - self.shift

    class InvConvExp(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.A = nn.Parameter(0.1 * L.randn(c, c))

        def forward(self, x):
            _, _, h, w = x.shape
            weight = L.linalg.matrix_exp(self.A)
            out = F.conv2d(x, weight.unsqueeze(2).unsqueeze(3))
            return out, h * w * L.trace(self.A), h * w * L.slogdet(weight)[1]

        def reverse(self, y):
            return F.conv2d(y, L.linalg.matrix_exp(-self.A)[..., None, None])

    class ZeroConv2d(nn.Module):
        """A 3x3 convolution that starts at zero (weight, bias and a log-gain), so that a
        fresh coupling is the identity; its input padded with ones."""

        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3)
            with L.no_grad():
                self.conv.weight.zero_()
                self.conv.bias.zero_()
            self.log_gain = nn.Parameter(L.zeros(1, cout, 1, 1))

        def forward(self, x):
            return self.conv(F.pad(x, (1, 1, 1, 1), value=1.0)) * (3 * self.log_gain).exp()

    class AffineCoupling(nn.Module):
        """The second half of the channels scaled and shifted by a network of the first."""

        def __init__(self, c, width=8):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(c // 2, width, 3, padding=1),
                                     nn.ReLU(inplace=True),
                                     nn.Conv2d(width, width, 1), nn.ReLU(inplace=True),
                                     ZeroConv2d(width, c))
            with L.no_grad():
                self.net[0].weight.normal_(0, 0.05)
                self.net[0].bias.zero_()

        def _scale_shift(self, a):
            raw, shift = self.net(a).chunk(2, dim=1)
            return L.sigmoid(raw + 2), shift

        def forward(self, x):
            a, b = x.chunk(2, dim=1)
            scale, shift = self._scale_shift(a)
            return L.cat([a, (b + shift) * scale], dim=1), scale.log().flatten(1).sum(dim=1)

        def reverse(self, y):
            a, b = y.chunk(2, dim=1)
            scale, shift = self._scale_shift(a)
            return L.cat([a, b / scale - shift], dim=1)

    class Flow(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.actnorm, self.invconv, self.coupling = ActNorm(c), InvConvExp(c), AffineCoupling(c)

        def forward(self, x):
            out, logdet = self.actnorm(x)
            out, det1, det_check = self.invconv(out)
            out, det2 = self.coupling(out)
            return out, logdet + det1 + det2, det_check - det1

        def reverse(self, y):
            return self.actnorm.reverse(self.invconv.reverse(self.coupling.reverse(y)))

    class Block(nn.Module):
        def __init__(self, c, split=True):
            super().__init__()
            self.flow, self.split = Flow(c * 4), split
            self.prior = ZeroConv2d(c * 2, c * 4) if split else ZeroConv2d(c * 4, c * 8)

        def forward(self, x):
            out, logdet, check = self.flow(squeeze2d(x))
            if self.split:
                out, z_new = out.chunk(2, 1)
                mean, log_sd = self.prior(out).chunk(2, 1)
            else:
                z_new = out
                mean, log_sd = self.prior(L.zeros_like(out)).chunk(2, 1)
            log_p = gaussian_log_p(z_new, mean, log_sd).view(x.shape[0], -1).sum(1)
            return out, logdet, log_p, z_new, check

        def reverse(self, out, z):
            x = L.cat([out, z], 1) if self.split else z
            return unsqueeze2d(self.flow.reverse(x))

    class Glow(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([Block(1), Block(2, split=False)])

        def forward(self, x):
            log_p_sum, logdet, out, zs, checks = 0, 0, x, [], []
            for block in self.blocks:
                out, det, log_p, z_new, check = block(out)
                zs.append(z_new)
                logdet, log_p_sum = logdet + det, log_p_sum + log_p
                checks.append(check)
            return log_p_sum, logdet, zs, checks

        def reverse(self, zs):
            out = self.blocks[1].reverse(None, zs[1])
            return self.blocks[0].reverse(out, zs[0])

    n_bins = 2.0 ** 5
    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = Glow()
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    image = L.floor(_u(L, 3, 1, 8, 8, seed=2) * n_bins) / n_bins - 0.5
    n_pixel = 64
    hist = []
    for _ in range(2):
        log_p, logdet, zs, checks = model(image + L.rand_like(image) / n_bins)
        loss = -math.log(n_bins) * n_pixel + logdet + log_p
        loss = (-loss / (math.log(2) * n_pixel)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((loss.item(), log_p.detach(), logdet.detach(), [c.item() for c in checks]))
    with L.no_grad():
        _, _, zs, _ = model(image)
        recon = model.reverse(zs)
    buf = io.BytesIO()
    L.save(model.state_dict(), buf)
    buf.seek(0)
    fresh = Glow()
    fresh.load_state_dict(L.load(buf))
    return (hist, recon, image, _grads(model)["blocks.0.flow.invconv.A"],
            fresh.blocks[0].flow.actnorm.ready, fresh(image)[0])


@program
def sylvester_flows_with_householder_orthogonal_matrices_in_a_vae(L):
    """Householder Sylvester flows (van den Berg et al., 2018) in a small VAE: the encoder
    amortises the triangular R1, R2 (a strict-triu mask on one full matrix and on its
    transpose, the diagonals written through advanced indexing as tanh'd values, shapes made
    by the legacy Tensor.resize) and the Householder vectors; Q a bmm product of the
    reflections I - 2 v v^T; each flow z + Q R1 h(R2 Q^T z + b) with log-det
    log|1 + diag(R1) diag(R2) h'(.)|; the ELBO with a Bernoulli decoder; Adamax steps."""
    nn, F = L.nn, L.nn.functional
    z_size, num_flows, num_householder, d = 3, 2, 2, 6

    class SylvesterStep(nn.Module):
        """z' = z + Q R1 tanh(R2 Q^T z + b), Q, R1, R2, b given per sample; its log|det| is
        the sum of log|1 + R1_ii R2_ii tanh'(.)_i|."""

        def __init__(self):
            super().__init__()
            self.act = nn.Tanh()
            self.register_buffer("ii", L.arange(0, z_size).long())

        def forward(self, z, r1, r2, q, b):
            row = z.unsqueeze(1)                                  # (B, 1, z): z^T
            pre = L.bmm(row, L.bmm(q, r2.transpose(2, 1))) + b    # (R2 Q^T z + b)^T
            out = (L.bmm(self.act(pre), L.bmm(q, r1).transpose(2, 1)) + row).squeeze(1)
            slope = 1 - self.act(pre) ** 2
            jac_diag = slope.squeeze(1) * (r1[:, self.ii, self.ii] * r2[:, self.ii, self.ii])
            jac_diag += 1.
            return out, jac_diag.abs().log().sum(-1)

    class SylvesterVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Sequential(nn.Linear(d, 16), nn.Softplus())
            self.to_mean = nn.Linear(16, z_size)
            self.to_var = nn.Sequential(nn.Linear(16, z_size), nn.Softplus())
            self.decoder = nn.Sequential(nn.Linear(z_size, 16), nn.ReLU(), nn.Linear(16, d))
            self.register_buffer("eye", L.eye(z_size, z_size).unsqueeze(0))
            self.register_buffer("strict_upper", L.triu(L.ones(z_size, z_size), diagonal=1)
                                 .unsqueeze(0).unsqueeze(3))
            self.register_buffer("ii", L.arange(0, z_size).long())
            self.to_full = nn.Linear(16, num_flows * z_size * z_size)
            self.to_diag1 = nn.Sequential(nn.Linear(16, num_flows * z_size), nn.Tanh())
            self.to_diag2 = nn.Sequential(nn.Linear(16, num_flows * z_size), nn.Tanh())
            self.to_reflections = nn.Linear(16, num_flows * z_size * num_householder)
            self.to_shift = nn.Linear(16, num_flows * z_size)
            self.steps = nn.ModuleList([SylvesterStep() for _ in range(num_flows)])

        def orthogonal(self, vecs):
            """(flows, B, z, z): per flow and sample, the product of the reflections
            I - 2 v v^T / |v|^2 of its num_householder vectors (the last applied last)."""
            v = vecs.view(-1, z_size)
            v = L.div(v, L.norm(v, p=2, dim=1, keepdim=True))
            refl = (self.eye - 2 * L.bmm(v.unsqueeze(2), v.unsqueeze(1)))
            refl = refl.view(-1, num_householder, z_size, z_size)
            prod = refl[:, 0]
            for k in range(1, num_householder):
                prod = L.bmm(refl[:, k], prod)
            return prod.view(-1, num_flows, z_size, z_size).transpose(0, 1)

        def amortised(self, x):
            n = x.size(0)
            h = self.trunk(x)
            full = self.to_full(h).resize(n, z_size, z_size, num_flows)
            r1 = full * self.strict_upper
            r2 = full.transpose(2, 1) * self.strict_upper
            r1[:, self.ii, self.ii, :] = self.to_diag1(h).resize(n, z_size, num_flows)
            r2[:, self.ii, self.ii, :] = self.to_diag2(h).resize(n, z_size, num_flows)
            b = self.to_shift(h).resize(n, 1, z_size, num_flows)
            return self.to_mean(h), self.to_var(h), r1, r2, self.to_reflections(h), b

        def forward(self, x):
            mu, var, r1, r2, vecs, b = self.amortised(x)
            qs = self.orthogonal(vecs)
            z0 = mu + L.randn_like(mu) * var.sqrt()
            z, log_det = z0, 0.
            for k, step in enumerate(self.steps):
                z, ld = step(z, r1[:, :, :, k], r2[:, :, :, k], qs[k, :, :, :], b[:, :, :, k])
                log_det = log_det + ld
            return self.decoder(z), mu, var, log_det, z0, z, qs

    def diag_gauss_logpdf(x, mean, log_var, dim=None):          # up to its constant
        sq = (x - mean) * (x - mean)
        return L.sum(-0.5 * (log_var + sq * log_var.exp().reciprocal()), dim)

    def std_gauss_logpdf(x, dim=None):
        return L.sum(-0.5 * x * x, dim)

    L.set_default_dtype(L.float64)
    L.manual_seed(2)
    model = SylvesterVAE()
    opt = L.optim.Adamax(model.parameters(), lr=2e-3)
    x = (_u(L, 5, d, seed=6) > 0.4).double()
    hist = []
    for _ in range(3):
        logits, mu, var, log_det, z0, zk, qs = model(x)
        bce = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = (diag_gauss_logpdf(z0, mu, var.log(), dim=1) -
              std_gauss_logpdf(zk, dim=1)).sum() - log_det.sum()
        loss = (bce + kl) / x.size(0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        hist.append((loss.item(), log_det.detach()))
    orth = L.matmul(qs, qs.transpose(-1, -2)) - L.eye(z_size)
    return hist, _grads(model), orth.abs().max() < 1e-12


@program
def coupling_layer_as_a_distributions_transform_subclass(L):
    """A RealNVP coupling written as a torch.distributions.Transform subclass (domain and
    codomain constraints.real_vector, bijective, _call, _inverse, log_abs_det_jacobian,
    cache_size=1), composed with the library's transforms and a learned
    AffineTransform into a TransformedDistribution over an Independent Normal; maximum
    likelihood by Adam, rsample'd samples through the cache and their log_prob, the inverse
    transform's sign and event_dim."""
    nn = L.nn
    D = L.distributions
    constraints = D.constraints

    class Coupling(D.Transform):
        domain = constraints.real_vector
        codomain = constraints.real_vector
        bijective = True

        def __init__(self, net, mask, cache_size=1):
            super().__init__(cache_size=cache_size)
            self.net, self.mask = net, mask

        def __eq__(self, other):
            return self is other

        def _params(self, x):
            s, t = self.net(x * self.mask).chunk(2, dim=-1)
            return L.tanh(s) * (1 - self.mask), t * (1 - self.mask)

        def _call(self, x):
            s, t = self._params(x)
            return x * L.exp(s) + t

        def _inverse(self, y):
            s, t = self._params(y)
            return (y - t) * L.exp(-s)

        def log_abs_det_jacobian(self, x, y):
            s, _ = self._params(x)
            return s.sum(-1)

    L.manual_seed(0)
    nets = nn.ModuleList([nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 4)).double()
                          for _ in range(3)])
    loc = nn.Parameter(L.zeros(2, dtype=L.float64))
    log_scale = nn.Parameter(L.zeros(2, dtype=L.float64))
    masks = [L.tensor([1.0, 0.0], dtype=L.float64), L.tensor([0.0, 1.0], dtype=L.float64)]

    def flow():
        base = D.Independent(D.Normal(L.zeros(2, dtype=L.float64), L.ones(2, dtype=L.float64)), 1)
        transforms = [Coupling(net, masks[i % 2]) for i, net in enumerate(nets)]
        transforms.append(D.AffineTransform(loc, log_scale.exp(), event_dim=1))
        return D.TransformedDistribution(base, transforms)

    data = _x(L, 32, 2, seed=3)
    data = L.stack([data[:, 0], 0.5 * data[:, 0] ** 2 + 0.3 * data[:, 1]], dim=1)
    opt = L.optim.Adam(list(nets.parameters()) + [loc, log_scale], lr=1e-2)
    losses = []
    for _ in range(3):
        loss = -flow().log_prob(data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    dist = flow()
    L.manual_seed(5)
    y = dist.rsample((4,))
    lp = dist.log_prob(y)
    lp.sum().backward()
    t0 = dist.transforms[0]
    inv = t0.inv
    return (losses, y, lp, loc.grad, dist.event_shape, dist.batch_shape,
            err(lambda: inv.sign),
            inv(t0(data[:3])), t0.event_dim, inv.inv is t0,
            str(type(D.ComposeTransform(dist.transforms).inv).__name__))


# ----------------------------------------------------------------------------------------------
# Neural ODEs: a latent ODE with an ODE-RNN encoder, the adjoint by torch.func.vjp
# ----------------------------------------------------------------------------------------------
def _rk4_step(func, t0, dt, y):
    k1 = func(t0, y)
    k2 = func(t0 + dt / 2, y + dt * k1 / 2)
    k3 = func(t0 + dt / 2, y + dt * k2 / 2)
    k4 = func(t0 + dt, y + dt * k3)
    return y + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6


def _odeint_rk4(func, y0, t, substeps=2):
    ys = [y0]
    for i in range(len(t) - 1):
        dt = (t[i + 1] - t[i]) / substeps
        y = ys[-1]
        for s in range(substeps):
            y = _rk4_step(func, t[i] + s * dt, dt, y)
        ys.append(y)
    return ys


@program
def latent_ode_with_an_ode_rnn_encoder_run_backwards_in_time(L):
    """A latent ODE (Rubanova et al., 2019) in small: an ODE-RNN encoder that runs a GRUCell backwards
    over irregular, partly masked observations, evolving its state by RK4 between them
    (negative steps); z0 from a softplus'd std, three trajectories sampled, decoded by
    solving another ODE on the time grid (RK4 through the solver, stacked), the masked
    Gaussian likelihood by Normal.log_prob, kl_divergence to N(0, 1), the IWAE-style
    logsumexp over trajectories; Adamax with a hand-decayed learning rate."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    latent, obs_dim, n_traj = 3, 2, 3

    class Field(nn.Module):
        """An autonomous vector field: a tanh MLP started near zero (N(0, 0.1) weights)."""

        def __init__(self, dim, hidden=12):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, dim))
            for layer in (self.mlp[0], self.mlp[2]):
                nn.init.normal_(layer.weight, mean=0, std=0.1)
                nn.init.constant_(layer.bias, val=0)

        def forward(self, t, y):
            return self.mlp(y)

    class BackwardOdeRnn(nn.Module):
        """Reads the series from its last observation to its first: the state flows by the
        ODE back to the previous time, then a GRU cell takes the (values, mask) there, its
        update kept only where something was observed; z0's mean and softplus'd std."""

        def __init__(self):
            super().__init__()
            self.flow = Field(latent)
            self.cell = nn.GRUCell(obs_dim * 2, latent)
            self.to_z0 = nn.Sequential(nn.Linear(latent, 12), nn.Tanh(),
                                       nn.Linear(12, 2 * latent))

        def forward(self, data, mask, times):
            h = L.zeros(data.size(0), latent, dtype=data.dtype)
            last = len(times) - 1
            for i in range(last, -1, -1):
                if i < last:
                    h = _odeint_rk4(self.flow, h, [times[i + 1], times[i]])[-1]
                seen = (mask[:, i].sum(-1, keepdim=True) > 0).to(h.dtype)
                h = seen * self.cell(L.cat([data[:, i], mask[:, i]], -1), h) + (1 - seen) * h
            mean, raw_std = self.to_z0(h).chunk(2, dim=-1)
            return mean, F.softplus(raw_std)

    class LatentOdeModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = BackwardOdeRnn()
            self.dynamics = Field(latent)
            self.readout = nn.Linear(latent, obs_dim)
            self.noise_std = L.tensor([0.1], dtype=L.float64)

        def losses(self, data, mask, times, kl_weight=1.0):
            mean, std = self.encoder(data, mask, times)
            z0 = mean.unsqueeze(0) + std.unsqueeze(0) * L.randn(n_traj, *mean.shape,
                                                                  dtype=mean.dtype)
            paths = L.stack(_odeint_rk4(self.dynamics, z0, times), dim=2)  # (traj, B, T, z)
            pred = self.readout(paths)
            lik = D.Normal(pred, self.noise_std.repeat(pred.size()[-1]))
            # per trajectory and series: the mean log-likelihood of the observed entries
            rec = (lik.log_prob(data.unsqueeze(0)) * mask).sum((2, 3)) / mask.sum((1, 2))
            kl = D.kl_divergence(D.Normal(mean, std),
                                 D.Normal(L.zeros_like(mean), L.ones_like(std))).sum(-1)
            per_series = -L.logsumexp(rec - kl_weight * kl.unsqueeze(0), 0)
            return L.mean(per_series), rec.mean(), kl.mean(), pred

    def decay_lr(opt, factor=0.999, floor=1e-3):
        for g in opt.param_groups:
            g["lr"] = max(g["lr"] * factor, floor)

    L.manual_seed(0)
    model = LatentOdeModel().double()
    optimizer = L.optim.Adamax(model.parameters(), lr=1e-2)
    time_steps = L.tensor([0.0, 0.3, 0.45, 0.9, 1.2], dtype=L.float64)
    tt = time_steps.numpy()
    data = L.tensor(np.stack([np.sin(3 * tt + np.arange(4)[:, None]),
                              np.cos(2 * tt - np.arange(4)[:, None])], -1))
    mask = L.tensor((np.random.RandomState(1).rand(4, 5, 2) > 0.3).astype(np.float64))
    data = data * mask
    log = []
    for itr in range(2):
        optimizer.zero_grad()
        decay_lr(optimizer, factor=0.9, floor=1e-3)
        loss, rec, kl, pred = model.losses(data, mask, time_steps, kl_weight=1 - 0.99 ** itr)
        loss.backward()
        optimizer.step()
        log.append((loss.item(), rec.item(), kl.item(), optimizer.param_groups[0]["lr"]))
    return log, pred.detach()[0, :, -1], _grads(model)


@program
def neural_ode_adjoint_by_func_vjp_over_a_functional_call(L):
    """The adjoint method written with torch.func: the forward solve by RK4 under no_grad,
    then the augmented state (y, a, dL/dtheta) integrated backwards, each dynamics call a
    torch.func.vjp of functional_call(f, params, (t, y)) (vjp_fn returning the params dict's
    and the state's cotangents), its parameter gradients summed as dicts; against autograd
    through the solver, then assigned to .grad and stepped by SGD."""
    nn = L.nn
    func = L.func

    class ODEF(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin1, self.lin2 = nn.Linear(3, 10), nn.Linear(10, 2)

        def forward(self, t, y):
            return self.lin2(L.tanh(self.lin1(L.cat([y, t * L.ones_like(y[:, :1])], dim=1))))

    L.manual_seed(1)
    f = ODEF().double()
    y0 = _x(L, 4, 2, seed=7)
    target = _x(L, 4, 2, seed=8)
    t0, t1, n = 0.0, 1.0, 8
    dt = (t1 - t0) / n

    with L.no_grad():
        y = y0
        for i in range(n):
            y = _rk4_step(f, t0 + i * dt, dt, y)
    yT = y.clone()
    params = {k: v.detach() for k, v in f.named_parameters()}

    def dyn(p, t, y):
        return func.functional_call(f, p, (L.tensor(t, dtype=L.float64), y))

    def aug_dynamics(t, state):
        y, a = state[0], state[1]
        fy, vjp_fn = func.vjp(lambda p, yy: dyn(p, t, yy), params, y)
        gp, gy = vjp_fn(a)
        return (fy, -gy, {k: -v for k, v in gp.items()})

    def add(s, c, k):
        return (s[0] + c * k[0], s[1] + c * k[1], {n_: s[2][n_] + c * k[2][n_] for n_ in s[2]})

    a_T = 2 * (yT - target) / yT.numel()
    state = (yT, a_T, {k: L.zeros_like(v) for k, v in params.items()})
    h = -dt
    for i in range(n):
        t = t1 - i * dt
        k1 = aug_dynamics(t, state)
        k2 = aug_dynamics(t + h / 2, add(state, h / 2, k1))
        k3 = aug_dynamics(t + h / 2, add(state, h / 2, k2))
        k4 = aug_dynamics(t + h, add(state, h, k3))
        state = add(add(add(add(state, h / 6, k1), h / 3, k2), h / 3, k3), h / 6, k4)
    y0_back, a0, adj_grads = state

    y_in = y0.clone().requires_grad_(True)
    y = y_in
    for i in range(n):
        y = _rk4_step(f, t0 + i * dt, dt, y)
    loss = ((y - target) ** 2).mean()
    direct = L.autograd.grad(loss, [y_in] + list(f.parameters()))
    opt = L.optim.SGD(f.parameters(), lr=0.1, momentum=0.9)
    for name, p in f.named_parameters():
        p.grad = adj_grads[name].clone()
    opt.step()
    return (yT, y0_back, a0, adj_grads, direct, loss,
            {k: v.detach() for k, v in f.state_dict().items()})


# ----------------------------------------------------------------------------------------------
# PINNs: Navier-Stokes by a stream function, loss weights by gradient statistics, DeepONet
# ----------------------------------------------------------------------------------------------
@program
def navier_stokes_inverse_pinn_stream_function_with_registered_lambdas(L):
    """Raissi et al.'s Navier-Stokes inverse problem: the net gives a stream function psi
    and a pressure p, u = dpsi/dy and v = -dpsi/dx by autograd.grad with
    grad_outputs=ones_like, every first and second derivative with create_graph, the unknown
    lambda_1 and log lambda_2 Parameters registered on the network too (register_parameter,
    so parameters() yields them once); Adam, then L-BFGS with a closure (no line search)
    counting its evaluations."""
    nn = L.nn

    class StreamAndPressure(nn.Module):
        """(x, y, t) -> (psi, p): a tanh MLP whose layers are named in an OrderedDict."""

        def __init__(self, widths):
            super().__init__()
            named = []
            for k, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:])):
                named.append((f"fc{k}", nn.Linear(w_in, w_out)))
                if k < len(widths) - 2:
                    named.append((f"tanh{k}", nn.Tanh()))
            self.body = nn.Sequential(OrderedDict(named))

        def forward(self, xyt):
            return self.body(xyt)

    class InverseNavierStokes:
        """The flow fitted to velocity samples while lambda_1 (convection) and lambda_2
        (viscosity, through its log) are learned from the momentum residuals."""

        def __init__(self, x, y, t, u, v, widths):
            self.lam1 = nn.Parameter(L.tensor([0.0], dtype=L.float64))
            self.log_lam2 = nn.Parameter(L.tensor([-3.0], dtype=L.float64))
            self.pts = [L.tensor(c, requires_grad=True) for c in (x, y, t)]
            self.u_obs, self.v_obs = L.tensor(u), L.tensor(v)
            self.net = StreamAndPressure(widths).double()
            self.net.register_parameter("lam1", self.lam1)
            self.net.register_parameter("log_lam2", self.log_lam2)
            self.evals = 0

        def residuals(self):
            x, y, t = self.pts
            out = self.net(L.cat([x, y, t], dim=1))
            psi, p = out[:, 0:1], out[:, 1:2]

            def d(f, wrt):
                return L.autograd.grad(f, wrt, grad_outputs=L.ones_like(f), retain_graph=True,
                                       create_graph=True)[0]

            u, v = d(psi, y), -d(psi, x)             # divergence-free by construction
            nu = L.exp(self.log_lam2)

            def momentum(w, dp):
                wx, wy = d(w, x), d(w, y)
                return d(w, t) + self.lam1 * (u * wx + v * wy) + dp - nu * (d(wx, x) + d(wy, y))

            return u, v, momentum(u, d(p, x)), momentum(v, d(p, y))

        def loss(self):
            u, v, ru, rv = self.residuals()
            return (L.sum((self.u_obs - u) ** 2) + L.sum((self.v_obs - v) ** 2)
                    + L.sum(ru ** 2) + L.sum(rv ** 2))

    rs = np.random.RandomState(3)
    x, y, t = rs.rand(12, 1), rs.rand(12, 1), rs.rand(12, 1)
    u = np.sin(np.pi * x) * np.cos(np.pi * y) * np.exp(-t)
    v = -np.cos(np.pi * x) * np.sin(np.pi * y) * np.exp(-t)
    L.manual_seed(0)
    model = InverseNavierStokes(x, y, t, u, v, [3, 12, 12, 2])
    names = [n for n, _ in model.net.named_parameters()]
    adam = L.optim.Adam(model.net.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        adam.zero_grad()
        loss = model.loss()
        loss.backward()
        adam.step()
        losses.append(loss.item())
    lbfgs = L.optim.LBFGS(model.net.parameters(), lr=0.5, max_iter=4, max_eval=6, history_size=10,
                          tolerance_grad=1e-9, tolerance_change=1.0 * np.finfo(float).eps)

    def closure():
        lbfgs.zero_grad()
        value = model.loss()
        value.backward()
        model.evals += 1
        return value

    final = lbfgs.step(closure)
    return (names, len(list(model.net.parameters())), losses, final, model.evals,
            model.lam1.detach(), model.log_lam2.grad, lbfgs.state_dict()["state"][0]["n_iter"])


@program
def pinn_helmholtz_loss_weights_by_gradient_statistics_and_func_laplacian(L):
    """Wang, Teng & Perdikaris's learning-rate annealing for PINNs on a 2-d Helmholtz
    problem: the Laplacian by vmap of the trace of jacfwd(jacrev(u)) over a functional_call
    whose parameters are the live model's, the residual and boundary losses' gradients per
    layer weight by autograd.grad(retain_graph=True), the weight lambda moved towards
    max|g_r| / mean|g_b|, Adam on the weighted sum."""
    nn = L.nn
    func = L.func
    k = 1.0

    L.manual_seed(2)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 1)).double()
    opt = L.optim.Adam(model.parameters(), lr=1e-3)

    def u_fn(params, x):
        return func.functional_call(model, params, (x.unsqueeze(0),)).squeeze()

    def forcing(x):
        a1, a2 = 1.0, 2.0
        s = L.sin(a1 * math.pi * x[:, 0]) * L.sin(a2 * math.pi * x[:, 1])
        return (-(a1 * math.pi) ** 2 - (a2 * math.pi) ** 2 + k ** 2) * s

    rs = np.random.RandomState(5)
    x_r = L.tensor(rs.rand(16, 2) * 2 - 1)
    side = rs.rand(8) * 2 - 1
    x_b = L.tensor(np.concatenate([np.stack([side, np.ones(8)], 1),
                                   np.stack([-np.ones(8), side], 1)]))
    lam, alpha, log = L.tensor(1.0, dtype=L.float64), 0.5, []
    weights = [m.weight for m in model if isinstance(m, nn.Linear)]
    for step in range(2):
        params = dict(model.named_parameters())
        hess = func.vmap(func.jacfwd(func.jacrev(u_fn, argnums=1), argnums=1), in_dims=(None, 0))
        lap = L.diagonal(hess(params, x_r), dim1=-2, dim2=-1).sum(-1)
        u_r = model(x_r).squeeze(-1)
        loss_r = L.mean((lap + k ** 2 * u_r - forcing(x_r)) ** 2)
        loss_b = L.mean(model(x_b) ** 2)
        g_r = L.autograd.grad(loss_r, weights, retain_graph=True)
        g_b = L.autograd.grad(loss_b, weights, retain_graph=True)
        max_grad_r = L.max(L.stack([L.max(L.abs(g)) for g in g_r]))
        mean_grad_b = L.mean(L.stack([L.mean(L.abs(g)) for g in g_b]))
        lam = (1.0 - alpha) * lam + alpha * (max_grad_r / mean_grad_b).detach()
        loss = loss_r + lam * loss_b
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss_r.item(), loss_b.item(), lam.item()))
    return log, lap.detach(), _grads(model)


@program
def physics_informed_deeponet_antiderivative_with_vmapped_jacrev(L):
    """A physics-informed DeepONet for the antiderivative operator (Wang, Wang & Perdikaris,
    in PyTorch): branch net on sensor values, trunk net on the query point, their dot product
    plus a scalar bias; ds/dy per example by vmap(jacrev(G, argnums=1)) over
    functional_call, against autograd.grad of the batched output; the residual ds/dy - u(y)
    with u(y) interpolated by searchsorted/gather, the initial condition s(0) = 0; Adam under
    ExponentialLR."""
    nn = L.nn
    func = L.func
    m, p = 10, 8

    class DeepONet(nn.Module):
        def __init__(self):
            super().__init__()
            self.branch = nn.Sequential(nn.Linear(m, 16), nn.Tanh(), nn.Linear(16, p))
            self.trunk = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, p), nn.Tanh())
            self.b0 = nn.Parameter(L.zeros(1))

        def forward(self, u, y):
            return L.einsum("bi,bi->b", self.branch(u), self.trunk(y)) + self.b0

    L.set_default_dtype(L.float64)
    L.manual_seed(3)
    net = DeepONet()
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    sched = L.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    sensors = L.linspace(0, 1, m)
    rs = np.random.RandomState(6)
    coef = rs.randn(6, 3)
    grid = sensors.numpy()
    u_np = sum(coef[:, j:j + 1] * np.sin((j + 1) * np.pi * grid) for j in range(3))
    u = L.tensor(u_np)
    y = L.tensor(rs.rand(6, 1))

    def G(params, u1, y1):
        return func.functional_call(net, params, (u1.unsqueeze(0), y1.unsqueeze(0))).squeeze(0)

    log = []
    for _ in range(2):
        params = dict(net.named_parameters())
        ds_dy = func.vmap(func.jacrev(G, argnums=2), in_dims=(None, 0, 0))(params, u, y)
        y_req = y.clone().requires_grad_(True)
        s = net(u, y_req)
        ds_dy_ag, = L.autograd.grad(s, y_req, grad_outputs=L.ones_like(s), create_graph=True)
        idx = L.searchsorted(sensors, y.squeeze(1)).clamp(1, m - 1)
        x0, x1 = sensors[idx - 1], sensors[idx]
        u0 = u.gather(1, (idx - 1).unsqueeze(1)).squeeze(1)
        u1 = u.gather(1, idx.unsqueeze(1)).squeeze(1)
        u_y = u0 + (u1 - u0) * (y.squeeze(1) - x0) / (x1 - x0)
        loss_res = ((ds_dy.squeeze(-1) - u_y) ** 2).mean()
        loss_ic = (net(u, L.zeros(6, 1)) ** 2).mean()
        loss = loss_res + loss_ic
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        log.append((loss_res.item(), loss_ic.item(), sched.get_last_lr()))
    return log, ds_dy.detach(), (ds_dy - ds_dy_ag).abs().max().item() < 1e-12, _grads(net)


# ----------------------------------------------------------------------------------------------
# Gaussian processes: gpytorch's jittered Cholesky, a whitened SVGP
# ----------------------------------------------------------------------------------------------
@program
def gp_regression_with_psd_safe_cholesky_jitter_and_deprecated_solvers(L):
    """Exact GP regression as gpytorch-era code writes it: an ARD RBF kernel on duplicated
    inputs (singular in one batch member), psd_safe_cholesky's retry loop (cholesky_ex's
    info, jitter added in place to the clone's diagonal for the failed members only, a
    warning per try), the marginal likelihood by 2 sum log diag, the predictive mean by
    cholesky_solve and the variance by the deprecated torch.triangular_solve (warning, and
    its cloned coefficient); plain linalg.cholesky's refusal and logdet against slogdet."""
    import warnings
    nn = L.nn

    def psd_safe_cholesky(A, jitter=None, max_tries=3):
        Lc, info = L.linalg.cholesky_ex(A)
        if not L.any(info):
            return Lc
        if jitter is None:
            jitter = 1e-6 if A.dtype == L.float32 else 1e-8
        Aprime = A.clone()
        jitter_prev = 0
        for i in range(max_tries):
            jitter_new = jitter * (10 ** i)
            diag_add = ((info > 0) * (jitter_new - jitter_prev)).unsqueeze(-1) \
                .expand(*Aprime.shape[:-1])
            Aprime.diagonal(dim1=-1, dim2=-2).add_(diag_add)
            jitter_prev = jitter_new
            warnings.warn(f"A not p.d., added jitter of {jitter_new:.1e} to the diagonal",
                          RuntimeWarning)
            Lc, info = L.linalg.cholesky_ex(Aprime)
            if not L.any(info):
                return Lc
        raise ValueError(f"Matrix not positive definite after repeatedly adding jitter up to "
                         f"{jitter_new:.1e}.")

    class ARDRBF(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.raw_lengthscale = nn.Parameter(L.zeros(1, d, dtype=L.float64))
            self.raw_outputscale = nn.Parameter(L.tensor(0.0, dtype=L.float64))

        def forward(self, a, b):
            ls = nn.functional.softplus(self.raw_lengthscale)
            a_, b_ = a / ls, b / ls
            sq = (a_.pow(2).sum(-1, keepdim=True) - 2 * a_ @ b_.transpose(-2, -1)
                  + b_.pow(2).sum(-1, keepdim=True).transpose(-2, -1))
            return nn.functional.softplus(self.raw_outputscale) * L.exp(-0.5 * sq.clamp_min(0))

    rs = np.random.RandomState(2)
    X = rs.rand(2, 6, 2)
    X[1, 3] = X[1, 1]                        # a duplicated input: singular without noise
    y = np.sin(3 * X[..., 0]) + X[..., 1] ** 2
    X, y = L.tensor(X), L.tensor(y)
    Xs = L.tensor(rs.rand(2, 3, 2))
    L.manual_seed(0)
    kern = ARDRBF(2)
    raw_noise = nn.Parameter(L.tensor(-4.0, dtype=L.float64))
    opt = L.optim.Adam(list(kern.parameters()) + [raw_noise], lr=0.05)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        K0 = kern(X, X)
        out["refused"] = err(lambda: L.linalg.cholesky(K0 - 1e-3 * L.eye(6, dtype=L.float64)))
        out["info"] = L.linalg.cholesky_ex(K0 - 1e-3 * L.eye(6, dtype=L.float64))[1]
    out["jittered"] = psd_safe_cholesky(K0.detach())
    for step in range(3):
        K = kern(X, X) + (nn.functional.softplus(raw_noise) * 1e-3) * L.eye(6, dtype=L.float64)
        Lk = psd_safe_cholesky(K)
        alpha = L.cholesky_solve(y.unsqueeze(-1), Lk)
        mll = (-0.5 * (y.unsqueeze(-1) * alpha).sum((-1, -2))
               - L.log(L.diagonal(Lk, dim1=-2, dim2=-1)).sum(-1) - 0.5 * 6 * math.log(2 * math.pi))
        loss = -mll.sum() / 12
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"step{step}"] = (loss.item(), kern.raw_lengthscale.grad.clone(),
                              raw_noise.grad.clone())
    with L.no_grad():
        K = kern(X, X) + 1e-3 * L.eye(6, dtype=L.float64)
        Lk = L.linalg.cholesky(K)
        Ks = kern(X, Xs)
        mean = Ks.transpose(-1, -2) @ L.cholesky_solve(y.unsqueeze(-1), Lk)
        v, coeff = L.triangular_solve(Ks, Lk, upper=False)
        var = kern(Xs, Xs).diagonal(dim1=-2, dim2=-1) - v.pow(2).sum(-2)
        out["pred"] = (mean.squeeze(-1), var, coeff, L.logdet(K), L.linalg.slogdet(K),
                       L.cholesky_inverse(Lk) @ K)
    return out


@program
def svgp_whitened_inducing_points_elbo_with_multivariate_normal_kl(L):
    """A sparse variational GP (Hensman et al., whitened) as a torch Module: learnable
    inducing inputs, q(u) = N(m, S) with S's Cholesky factor built from tril(raw, -1) and a
    softplus'd diagonal by diag_embed, the conditional by linalg.solve_triangular of the
    inducing Cholesky, the closed-form Gaussian expected log-likelihood and
    kl_divergence(MultivariateNormal(m, scale_tril=Lq), MultivariateNormal(0, I)), the ELBO
    scaled to the data size over minibatches; the predictive distribution's rsample."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class SVGP(nn.Module):
        def __init__(self, Z):
            super().__init__()
            M = Z.shape[0]
            self.Z = nn.Parameter(Z.clone())
            self.q_mu = nn.Parameter(L.zeros(M, dtype=L.float64))
            self.q_sqrt_raw = nn.Parameter(0.5 * L.eye(M, dtype=L.float64)
                                           + 0.01 * L.ones(M, M, dtype=L.float64))
            self.log_ls = nn.Parameter(L.tensor(-1.0, dtype=L.float64))
            self.log_var = nn.Parameter(L.tensor(0.0, dtype=L.float64))
            self.log_noise = nn.Parameter(L.tensor(-2.0, dtype=L.float64))

        def kernel(self, a, b):
            return self.log_var.exp() * L.exp(-0.5 * L.cdist(a, b).pow(2) / self.log_ls.exp() ** 2)

        def q_sqrt(self):
            raw = self.q_sqrt_raw
            return L.tril(raw, -1) + L.diag_embed(F.softplus(L.diagonal(raw)))

        def forward(self, X):
            M = self.Z.shape[0]
            Kzz = self.kernel(self.Z, self.Z) + 1e-6 * L.eye(M, dtype=L.float64)
            Lz = L.linalg.cholesky(Kzz)
            A = L.linalg.solve_triangular(Lz, self.kernel(self.Z, X), upper=False)
            mean = A.T @ self.q_mu
            SA = self.q_sqrt().T @ A
            var = self.log_var.exp() - (A * A).sum(0) + (SA * SA).sum(0)
            return mean, var

        def elbo(self, X, y, n_data):
            mean, var = self(X)
            noise = self.log_noise.exp()
            ell = (-0.5 * math.log(2 * math.pi) - 0.5 * L.log(noise)
                   - 0.5 * ((y - mean) ** 2 + var) / noise).sum()
            M = self.q_mu.shape[0]
            kl = D.kl_divergence(D.MultivariateNormal(self.q_mu, scale_tril=self.q_sqrt()),
                                 D.MultivariateNormal(L.zeros(M, dtype=L.float64),
                                                      scale_tril=L.eye(M, dtype=L.float64)))
            return ell * n_data / X.shape[0] - kl, kl

    rs = np.random.RandomState(4)
    X = np.sort(rs.rand(20, 1) * 4, axis=0)
    y = np.sin(2 * X[:, 0]) + 0.1 * rs.randn(20)
    X, y = L.tensor(X), L.tensor(y)
    model = SVGP(X[::4].clone())
    opt = L.optim.Adam(model.parameters(), lr=0.05)
    g = L.Generator().manual_seed(0)
    log = []
    for epoch in range(2):
        for idx in L.randperm(20, generator=g).split(8):
            elbo, kl = model.elbo(X[idx], y[idx], 20)
            opt.zero_grad()
            (-elbo).backward()
            opt.step()
            log.append((elbo.item(), kl.item()))
    with L.no_grad():
        mean, var = model(L.linspace(0, 4, 5, dtype=L.float64).unsqueeze(-1))
        pred = D.Normal(mean, (var + model.log_noise.exp()).sqrt())
        L.manual_seed(1)
        draws = pred.rsample((2,))
    return log, mean, var, draws, model.Z.detach(), model.q_sqrt().detach()


# ----------------------------------------------------------------------------------------------
# An energy-based model by noise-contrastive estimation, refined by Langevin dynamics
# ----------------------------------------------------------------------------------------------
@program
def ebm_noise_contrastive_estimation_with_a_mixture_noise_and_langevin(L):
    """An unnormalised 2-d density learnt by NCE: the noise distribution a
    MixtureSameFamily of Independent Normals (sample and log_prob), a learnable log Z, the
    classifier logits -E(x) - log Z - log q(x) through BCE-with-logits; then samples refined
    by Langevin dynamics under no_grad with enable_grad inside, the parameters' requires_grad
    switched off and back, energies logged by a forward hook, the chains clamped in place."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions

    class EnergyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(2, 32), nn.SiLU(), nn.Linear(32, 32), nn.SiLU(),
                                     nn.Linear(32, 1))
            self.log_z = nn.Parameter(L.tensor(0.0))

        def forward(self, x):
            return self.net(x).squeeze(-1)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = EnergyNet()
    energies = []
    handle = model.register_forward_hook(lambda m, inp, out: energies.append(out.detach().mean()))
    noise = D.MixtureSameFamily(D.Categorical(probs=L.tensor([0.3, 0.7])),
                                D.Independent(D.Normal(L.tensor([[-1.0, 0.0], [1.0, 0.5]]),
                                                       L.tensor([[0.8, 1.2], [1.0, 0.7]])), 1))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    theta = L.tensor(normal64(32, seed=3))
    data = L.stack([L.cos(theta), L.sin(theta)], 1) * 1.5 + 0.05 * _x(L, 32, 2, seed=4)
    log = []
    for _ in range(3):
        x_noise = noise.sample((32,))
        x_all = L.cat([data, x_noise])
        labels = L.cat([L.ones(32), L.zeros(32)])
        logits = -model(x_all) - model.log_z - noise.log_prob(x_all)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append(loss.item())

    def langevin(model, x, steps=4, step_size=0.05):
        is_training = model.training
        model.eval()
        for p in model.parameters():
            p.requires_grad = False
        x = x.clone()
        with L.no_grad():
            for _ in range(steps):
                x.data.add_(L.randn_like(x), alpha=math.sqrt(2 * step_size) * 0.1)
                with L.enable_grad():
                    x.requires_grad_(True)
                    grad, = L.autograd.grad(-model(x).sum(), x, only_inputs=True)
                x = x.detach()
                x.data.add_(grad.clamp(-0.5, 0.5), alpha=step_size)
                x.data.clamp_(min=-3.0, max=3.0)
        for p in model.parameters():
            p.requires_grad = True
        model.train(is_training)
        return x

    samples = langevin(model, noise.sample((8,)))
    handle.remove()
    n_logged = len(energies)
    model(samples)
    return (log, samples, L.stack(energies), n_logged, len(energies), model.training,
            [p.requires_grad for p in model.parameters()], noise.mean, noise.variance,
            model.log_z.detach())


# ----------------------------------------------------------------------------------------------
# Vector quantisation: residual VQ with k-means init and dead codes, FSQ, Gumbel VQ
# ----------------------------------------------------------------------------------------------
@program
def residual_vq_with_kmeans_init_ema_codebooks_and_dead_code_restarts(L):
    """Residual vector quantisation (SoundStream / vector-quantize-pytorch style): each of two
    codebooks initialised by a few k-means steps (cdist, argmin, bincount, index_add_), its
    codes chosen by argmin of the expanded squared distance, the EMA of cluster sizes and
    sums updated under no_grad with Laplace smoothing, codes unused below a threshold
    replaced by batch vectors via torch.where, the straight-through estimator and the
    commitment loss, and the codebook perplexity."""
    nn, F = L.nn, L.nn.functional

    def kmeans(points, k, rounds=3):
        centres = points[:k].clone()
        for _ in range(rounds):
            owner = L.cdist(points, centres).argmin(dim=-1)
            counts = L.bincount(owner, minlength=k)
            empty = counts == 0
            sums = owner.new_zeros(k, points.shape[-1], dtype=points.dtype)
            sums.index_add_(0, owner, points)
            # an empty cluster keeps its old centre
            means = sums / counts.masked_fill(empty, 1)[..., None]
            centres = L.where(empty[..., None], centres, means)
        return centres, counts

    class Codebook(nn.Module):
        def __init__(self, dim, size, decay=0.8, eps=1e-5, dead_below=0.5):
            super().__init__()
            self.size, self.decay, self.eps, self.dead_below = size, decay, eps, dead_below
            self.register_buffer("ready", L.Tensor([False]))
            self.register_buffer("counts", L.zeros(size))
            self.register_buffer("codes", L.zeros(size, dim))
            self.register_buffer("sums", L.zeros(size, dim))

        def start_from(self, flat):
            centres, counts = kmeans(flat, self.size)
            self.codes.data.copy_(centres)
            self.sums.data.copy_(centres.clone())
            self.counts.data.copy_(counts.to(self.counts.dtype))
            self.ready.data.copy_(L.Tensor([True]))

        def ema_update(self, flat, onehot):
            rate = 1 - self.decay
            self.counts.data.lerp_(onehot.sum(0), rate)
            self.sums.data.lerp_((flat.t() @ onehot).t(), rate)
            total = self.counts.sum()
            # Laplace smoothing keeps every count positive, the total unchanged
            smoothed = (self.counts + self.eps) / (total + self.size * self.eps) * total
            self.codes.data.copy_(self.sums / smoothed.unsqueeze(1))

        def restart_dead(self, flat):
            dead = self.counts < self.dead_below
            if not L.any(dead):
                return 0
            donors = L.arange(dead.shape[0])[dead] % flat.shape[0]
            self.codes.data.copy_(L.where(dead[..., None], flat[donors], self.codes))
            return int(dead.sum())

        def forward(self, x):
            flat = x.reshape(-1, x.shape[-1])
            if not self.ready:
                self.start_from(flat)
            c = self.codes.t()
            closeness = -(flat.pow(2).sum(1, keepdim=True) - 2 * flat @ c
                          + c.pow(2).sum(0, keepdim=True))
            nearest = closeness.max(dim=-1).indices
            onehot = F.one_hot(nearest, self.size).type(x.dtype)
            nearest = nearest.view(*x.shape[:-1])
            quantised = F.embedding(nearest, self.codes)
            restarted = 0
            if self.training:
                with L.no_grad():
                    self.ema_update(flat, onehot)
                    restarted = self.restart_dead(flat)
            return quantised, nearest, onehot, restarted

    class Quantiser(nn.Module):
        def __init__(self, dim, codebook_size, beta=0.25):
            super().__init__()
            self.book, self.beta = Codebook(dim, codebook_size), beta

        def forward(self, x):
            q, index, onehot, restarted = self.book(x)
            loss = L.tensor([0.0], device=x.device, requires_grad=self.training)
            if self.training:
                q = x + (q - x).detach()          # forward q, backward as the identity
                loss = loss + F.mse_loss(q.detach(), x) * self.beta
            usage = onehot.mean(0)
            perplexity = L.exp(-L.sum(usage * L.log(usage + 1e-10)))
            return q, index, loss, perplexity, restarted

    class Residual(nn.Module):
        """Each stage quantises what the stages before it left over."""

        def __init__(self, depth, **kw):
            super().__init__()
            self.stages = nn.ModuleList([Quantiser(**kw) for _ in range(depth)])

        def forward(self, x):
            total, left, losses, indices, stats = 0.0, x, [], [], []
            for stage in self.stages:
                q, index, loss, perplexity, restarted = stage(left)
                left = left - q.detach()
                total = total + q
                indices.append(index)
                losses.append(loss)
                stats.append((perplexity, restarted))
            return total, L.stack(indices, dim=-1), L.stack(losses, dim=-1), stats

    L.manual_seed(0)
    enc, dec = nn.Linear(6, 4).double(), nn.Linear(4, 6).double()
    rvq = Residual(depth=2, dim=4, codebook_size=5).double()
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-2)
    x = _x(L, 3, 7, 6, seed=9)
    log = []
    for _ in range(3):
        z = enc(x)
        q, indices, losses, stats = rvq(z)
        recon = dec(q)
        loss = F.mse_loss(recon, x) + losses.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss.item(), indices, stats))
    rvq.eval()
    with L.no_grad():
        q_eval, ind_eval, loss_eval, _ = rvq(enc(x))
    return log, enc.weight.grad, rvq.state_dict(), ind_eval, loss_eval


@program
def finite_scalar_quantisation_and_gumbel_softmax_vq(L):
    """Two codebook-free quantisers: FSQ (bound by tanh with an atanh shift for even levels,
    round with a straight-through estimator, codes to indices by an int32 cumprod basis and back
    by // and %), and a Gumbel-softmax quantiser as in taming-transformers (a 1x1 conv to
    logits, F.gumbel_softmax with hard=True at a temperature, an einsum with spaces in its
    equation against the embedding table, the KL to a uniform prior), each in an autoencoder's
    training step."""
    nn, F = L.nn, L.nn.functional

    def round_through(z):
        return z + (z.round() - z).detach()

    class FSQ(nn.Module):
        def __init__(self, levels):
            super().__init__()
            self.register_buffer("levels", L.tensor(levels, dtype=L.int32), persistent=False)
            # mixed-radix place values: 1, l0, l0 * l1, ...
            place = L.cumprod(L.tensor([1] + levels[:-1]), dim=0, dtype=L.int32)
            self.register_buffer("place", place, persistent=False)
            self.codebook_size = int(self.levels.prod().item())

        def bound(self, z, eps=1e-3):
            # squash each coordinate so that rounding gives exactly l values; an even l is
            # offset by half a step (the atanh keeps 0 mapped near the middle)
            half = (self.levels - 1) * (1 + eps) / 2
            off = L.where(self.levels % 2 == 0, 0.5, 0.0)
            return (z + (off / half).atanh()).tanh() * half - off

        def forward(self, z):
            half = self.levels // 2
            codes = round_through(self.bound(z)) / half
            index = ((codes * half + half) * self.place).sum(dim=-1).to(L.int32)
            return codes, index

        def to_codes(self, index):
            half = self.levels // 2
            digits = (index.unsqueeze(-1) // self.place) % self.levels
            return (digits - half) / half

    class GumbelVQ(nn.Module):
        def __init__(self, cin, dim, n, kl_weight=5e-4, temp=1.0):
            super().__init__()
            self.n, self.temperature, self.kl_weight = n, temp, kl_weight
            self.to_logits = nn.Conv2d(cin, n, 1)
            self.table = nn.Embedding(n, dim)

        def forward(self, z, hard=True):
            logits = self.to_logits(z)
            pick = F.gumbel_softmax(logits, tau=self.temperature, dim=1, hard=hard)
            zq = L.einsum("b n h w, n d -> b d h w", pick, self.table.weight)
            q = F.softmax(logits, dim=1)
            # KL(q || uniform over the n codes) = sum q log(q n)
            kl = self.kl_weight * L.sum(q * L.log(q * self.n + 1e-10), dim=1).mean()
            return zq, kl, pick.argmax(dim=1)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    fsq = FSQ([8, 5, 5, 4])
    enc, dec = nn.Linear(5, 4), nn.Linear(4, 5)
    opt = L.optim.SGD(list(enc.parameters()) + list(dec.parameters()), lr=0.1)
    x = _x(L, 6, 5, seed=1)
    codes, indices = fsq(enc(x) * 3)
    loss = F.mse_loss(dec(codes), x)
    opt.zero_grad()
    loss.backward()
    opt.step()
    fsq_out = (codes, indices, fsq.to_codes(indices), fsq.codebook_size, loss,
               enc.weight.grad, fsq.state_dict(), fsq.bound(L.tensor([[-9.0, 0.3, 2.0, 9.0]])))

    gq = GumbelVQ(3, 2, 6)
    conv_enc, conv_dec = nn.Conv2d(1, 3, 3, padding=1), nn.Conv2d(2, 1, 3, padding=1)
    params = list(gq.parameters()) + list(conv_enc.parameters()) + list(conv_dec.parameters())
    opt = L.optim.Adam(params, lr=1e-2)
    img = _x(L, 2, 1, 4, 4, seed=2)
    log = []
    for step in range(3):
        gq.temperature = max(0.5, 1.0 * math.exp(-0.5 * step))
        z_q, diff, ind = gq(conv_enc(img), hard=step > 0)
        loss = F.mse_loss(conv_dec(z_q), img) + diff
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss.item(), diff.item(), ind))
    return fsq_out, log, gq.to_logits.weight.grad, gq.table.weight.grad


# ----------------------------------------------------------------------------------------------
# WaveGlow's flow, distributions-heavy code
# ----------------------------------------------------------------------------------------------
@program
def waveglow_invertible_conv_weight_normed_wn_and_early_outputs(L):
    """WaveGlow in small (NVIDIA's design, our code): an invertible 1x1 conv started from a QR
    rotation with the determinant's sign fixed, log-det by logdet(W) * batch * groups and the
    reverse by a cached inverse; gated tanh * sigmoid units (the split point read from an
    IntTensor) on dilated Conv1ds made by the old nn.utils.weight_norm (a FutureWarning in
    both), a zero-initialised end conv, audio squeezed into groups by unfold/permute, early
    outputs split off; the flow's negative log-likelihood and a reverse pass at sigma."""
    nn = L.nn

    def gated(pre, cond, split):
        k = split[0]
        both = pre + cond
        return L.tanh(both[:, :k, :]) * L.sigmoid(both[:, k:, :])

    class MixChannels(nn.Module):
        """An invertible 1x1 convolution over the channels, starting as a random rotation."""

        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv1d(c, c, kernel_size=1, stride=1, padding=0, bias=False)
            q = L.linalg.qr(L.randn(c, c).double())[0]
            if L.det(q) < 0:                 # a reflection: flip one column for det = +1
                q[:, 0] = -1 * q[:, 0]
            self.conv.weight.data = q.view(c, c, 1)

        def forward(self, z):
            return self.conv(z), z.size(0) * z.size(2) * L.logdet(self.conv.weight.squeeze())

        def undo(self, z):
            if not hasattr(self, "inv"):
                self.inv = self.conv.weight.squeeze().inverse()[..., None]
            return nn.functional.conv1d(z, self.inv, bias=None, stride=1, padding=0)

    def wn_conv(cin, cout, k=1, dilation=1):
        conv = nn.Conv1d(cin, cout, k, dilation=dilation, padding=dilation * (k - 1) // 2)
        return nn.utils.weight_norm(conv, name="weight")

    class GatedStack(nn.Module):
        def __init__(self, cin, layers, width, k):
            super().__init__()
            self.width = width
            self.start = wn_conv(cin, width)
            self.end = nn.Conv1d(width, 2 * cin, 1)
            self.end.weight.data.zero_()
            self.end.bias.data.zero_()
            self.dilated, self.res_skip = nn.ModuleList(), nn.ModuleList()
            for i in range(layers):
                self.dilated.append(wn_conv(width, 2 * width, k, 2 ** i))
                # every layer but the last feeds the residual path as well as the skip sum
                self.res_skip.append(wn_conv(width, 2 * width if i < layers - 1 else width))

        def forward(self, x):
            h = self.start(x)
            split = L.IntTensor([self.width])
            skips = L.zeros_like(h)
            for i, (dil, rs) in enumerate(zip(self.dilated, self.res_skip)):
                pre = dil(h)
                out = rs(gated(pre, L.zeros_like(pre), split))
                if i + 1 < len(self.dilated):
                    h = h + out[:, :self.width, :]
                    skips = skips + out[:, self.width:, :]
                else:
                    skips = skips + out
            return self.end(skips)

    class TinyWaveGlow(nn.Module):
        def __init__(self, flows=3, group=4, early_every=2, early_size=2):
            super().__init__()
            self.flows, self.group = flows, group
            self.early_every, self.early_size = early_every, early_size
            self.mixers, self.nets = nn.ModuleList(), nn.ModuleList()
            c = group
            for k in range(flows):
                if self.emits_early(k):
                    c -= early_size
                self.mixers.append(MixChannels(c))
                self.nets.append(GatedStack(c // 2, layers=2, width=4, k=3))
            self.final_c = c

        def emits_early(self, k):
            return k > 0 and k % self.early_every == 0

        def couple(self, net, x, inverse=False):
            half = int(x.size(1) / 2)
            a, b = x[:, :half, :], x[:, half:, :]
            out = net(a)
            shift, log_s = out[:, :half, :], out[:, half:, :]
            b = (b - shift) / L.exp(log_s) if inverse else L.exp(log_s) * b + shift
            return L.cat([a, b], 1), log_s

        def forward(self, audio):
            x = audio.unfold(1, self.group, self.group).permute(0, 2, 1)
            emitted, log_s_all, logdets = [], [], []
            for k in range(self.flows):
                if self.emits_early(k):
                    emitted.append(x[:, :self.early_size, :])
                    x = x[:, self.early_size:, :]
                x, logdet = self.mixers[k](x)
                x, log_s = self.couple(self.nets[k], x)
                logdets.append(logdet)
                log_s_all.append(log_s)
            return L.cat(emitted + [x], 1), log_s_all, logdets

        def infer(self, z, sigma=1.0):
            x = z[:, -self.final_c:] * sigma
            rest = z[:, :-self.final_c]
            for k in reversed(range(self.flows)):
                x = self.mixers[k].undo(self.couple(self.nets[k], x, inverse=True)[0])
                if self.emits_early(k):
                    x = L.cat((rest[:, -self.early_size:] * sigma, x), 1)
                    rest = rest[:, :-self.early_size]
            return x.permute(0, 2, 1).contiguous().view(x.size(0), -1)

    class FlowNLL(nn.Module):
        def __init__(self, sigma=1.0):
            super().__init__()
            self.sigma = sigma

        def forward(self, outputs):
            z, log_s_all, logdets = outputs
            log_s_total = sum(L.sum(s) for s in log_s_all)
            nll = L.sum(z * z) / (2 * self.sigma * self.sigma) - log_s_total - sum(logdets)
            return nll / (z.size(0) * z.size(1) * z.size(2))

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = TinyWaveGlow()
    with L.no_grad():
        for net in model.nets:
            net.end.weight.normal_(0, 0.05)
    criterion = FlowNLL(sigma=1.0)
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    audio = 0.3 * _x(L, 2, 16, seed=3)
    losses = []
    for _ in range(2):
        model.zero_grad()
        loss = criterion(model(audio))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        z, _, _ = model(audio)
        back = model.infer(z)
    return (losses, (back - audio).abs().max() < 1e-10, z,
            {k: v.grad for k, v in model.nets[0].named_parameters() if "start" in k},
            sorted(model.nets[0].start.state_dict().keys()))


@program
def distributions_mixture_transformed_and_kl_corners_in_a_density_model(L):
    """A density model written with torch.distributions throughout: a 2-d mixture of
    Independent Normals whose parameters a network predicts (log_prob, sample_shape draws,
    mean and variance, expand), a bounded TransformedDistribution (sigmoid then affine)
    with its support and cdf, the closed-form KL of Independents and of Categoricals, the
    refused KL between mixtures and the validation errors in torch's words, entropy, and a
    training step through log_prob."""
    nn = L.nn
    D = L.distributions

    class MDN(nn.Module):
        def __init__(self, K=3):
            super().__init__()
            self.K = K
            self.body = nn.Sequential(nn.Linear(1, 16), nn.Tanh())
            self.logits, self.loc, self.log_scale = nn.Linear(16, K), nn.Linear(16, 2 * K), \
                nn.Linear(16, 2 * K)

        def forward(self, x):
            h = self.body(x)
            loc = self.loc(h).view(-1, self.K, 2)
            scale = self.log_scale(h).view(-1, self.K, 2).clamp(-5, 3).exp()
            return D.MixtureSameFamily(D.Categorical(logits=self.logits(h)),
                                       D.Independent(D.Normal(loc, scale), 1))

    L.set_default_dtype(L.float64)
    L.manual_seed(1)
    mdn = MDN()
    opt = L.optim.Adam(mdn.parameters(), lr=1e-2)
    x = L.linspace(-1, 1, 10).unsqueeze(-1)
    y = L.cat([L.sin(3 * x), L.cos(2 * x)], 1) + 0.1 * _x(L, 10, 2, seed=2)
    losses = []
    for _ in range(3):
        dist = mdn(x)
        loss = -dist.log_prob(y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    dist = mdn(x[:3])
    L.manual_seed(2)
    draws = dist.sample((4,))
    shapes = (dist.batch_shape, dist.event_shape, draws.shape,
              dist.expand(L.Size([2, 3])).batch_shape,
              dist.component_distribution.base_dist.loc.shape)

    low, high = L.tensor([-2.0, 0.0]), L.tensor([2.0, 5.0])
    base = D.Normal(L.tensor([0.0, 1.0]), L.tensor([1.0, 0.5]))
    bounded = D.TransformedDistribution(base, [D.SigmoidTransform(),
                                               D.AffineTransform(low, high - low)])
    L.manual_seed(3)
    b_draw = bounded.rsample((3,))
    values = L.tensor([[0.5, 1.0], [-1.9, 4.9]])
    bounded_out = (b_draw, bounded.log_prob(values), bounded.cdf(values),
                   str(bounded.support), err(lambda: bounded.mean))

    p = D.Independent(D.Normal(L.zeros(3, 2), L.ones(3, 2)), 1)
    q = D.Independent(D.Normal(_x(L, 3, 2, seed=4), L.full((3, 2), 0.7)), 1)
    c1 = D.Categorical(logits=_x(L, 4, seed=5))
    c2 = D.Categorical(probs=L.tensor([0.1, 0.2, 0.3, 0.4]))
    kls = (D.kl_divergence(q, p), D.kl_divergence(c1, c2), c1.entropy(), q.entropy(),
           D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(L.zeros(2), 2 * L.ones(2))))
    errors = [
        err(lambda: D.kl_divergence(dist, dist)),
        err(lambda: D.Normal(L.zeros(2), -L.ones(2), validate_args=True)),
        err(lambda: D.Categorical(probs=L.tensor([0.5, -0.1]), validate_args=True)),
        err(lambda: D.MixtureSameFamily(D.Categorical(logits=L.zeros(3)),
                                        D.Independent(D.Normal(L.zeros(2, 2), L.ones(2, 2)), 1))),
        err(lambda: D.MixtureSameFamily(L.zeros(3), D.Normal(L.zeros(3), L.ones(3)))),
    ]
    return losses, draws, shapes, bounded_out, kls, errors, _grads(mdn)


@program
def stick_breaking_vae_with_kumaraswamy_posteriors_and_a_beta_prior(L):
    """Nalisnick & Smyth's stick-breaking VAE: Kumaraswamy(a, b) posteriors drawn by the
    inverse CDF (and by distributions.Kumaraswamy.rsample), the stick-breaking weights by a
    cumulative product, the KL to a Beta(1, alpha0) prior by its closed-form Taylor series
    (digamma, the Beta function by lgamma), against the Monte-Carlo estimate with
    Kumaraswamy.log_prob and Beta.log_prob; softplus'd parameters, a categorical decoder over
    the truncated sticks, Adam steps."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    K, alpha0 = 4, 2.0

    def beta_function(a, b):
        return L.exp(L.lgamma(a) + L.lgamma(b) - L.lgamma(a + b))

    def kl_kuma_to_beta(a, b, p_a=1.0, p_b=alpha0, terms=10):
        """KL(Kumaraswamy(a, b) || Beta(p_a, p_b)) in closed form (Nalisnick and Smyth,
        2017): a series in B(m / a, b) cut after ``terms`` terms, digamma(b) by its
        asymptotic expansion, Euler's constant to five places."""
        series = sum(1.0 / (m + a * b) * beta_function(m / a, b) for m in range(1, terms + 1))
        digamma_b = L.log(b) - 1.0 / (2 * b) - 1.0 / (12 * b ** 2)
        euler = 0.57721
        log_prior_norm = math.log(beta_function(L.tensor(p_a), L.tensor(p_b)).item())
        out = series * (p_b - 1) * b
        out = out + (a - p_a) / a * (-euler - digamma_b - 1 / b)
        out = out + L.log(a * b) + log_prior_norm
        return out - (b - 1) / b

    class SBVAE(nn.Module):
        def __init__(self, d=6):
            super().__init__()
            self.enc = nn.Sequential(nn.Linear(d, 16), nn.ReLU())
            self.a, self.b = nn.Linear(16, K - 1), nn.Linear(16, K - 1)
            self.dec = nn.Sequential(nn.Linear(K, 16), nn.ReLU(), nn.Linear(16, d))

        def forward(self, x, u):
            h = self.enc(x)
            a = F.softplus(self.a(h)) + 0.1
            b = F.softplus(self.b(h)) + 0.1
            v = (1 - u.pow(1 / b)).pow(1 / a)
            v = v.clamp(1e-6, 1 - 1e-6)
            remaining = L.cumprod(1 - v, dim=-1)
            pi = L.cat([v, L.ones_like(v[:, :1])], -1) * \
                L.cat([L.ones_like(v[:, :1]), remaining], -1)
            return self.dec(pi), a, b, v, pi

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = SBVAE()
    opt = L.optim.Adam(model.parameters(), lr=3e-3)
    x = (_u(L, 8, 6, seed=1) > 0.5).double()
    log = []
    for step in range(3):
        u = _u(L, 8, K - 1, seed=10 + step).clamp(1e-4, 1 - 1e-4)
        logits, a, b, v, pi = model(x, u)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        kl = kl_kuma_to_beta(a, b).sum(-1)
        loss = (rec + kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        log.append((loss.item(), kl.detach(), pi.sum(-1).detach()))
    kuma = D.Kumaraswamy(a.detach(), b.detach())
    prior = D.Beta(L.ones_like(a), alpha0 * L.ones_like(b))
    L.manual_seed(4)
    s = kuma.rsample((64,)).clamp(1e-6, 1 - 1e-6)
    mc_kl = (kuma.log_prob(s) - prior.log_prob(s)).mean(0)
    return (log, mc_kl, kl_kuma_to_beta(a, b).detach(), kuma.mean, kuma.entropy(),
            L.digamma(b.detach()), _grads(model))


# ----------------------------------------------------------------------------------------------
# PixelCNN++: down- and right-shifted convs, the discretized logistic mixture, its sampler
# ----------------------------------------------------------------------------------------------
@program
def pixelcnn_pp_discretized_logistic_mixture_loss_and_sampler(L):
    """PixelCNN++ in small and in float32, with the legacy API its 2018 PyTorch port uses (our
    own code): causal convs that see only rows above, or rows above and columns to the left
    (ZeroPad2d then a weight_norm'd Conv2d, a FutureWarning), a gated residual unit on the ELU
    of [x, -x], the discretized logistic mixture loss over RGB with the channel-coupling
    coefficients (float masks instead of where, a Variable of zeros to broadcast, log-sum-exp
    by max), Adam with a step decay; the sampler: Gumbel-max choice of a component from legacy
    FloatTensor.uniform_ noise, one-hot by scatter_, logistic draws clamped twice."""
    nn, F = L.nn, L.nn.functional
    Variable = L.autograd.Variable

    def elu_both_signs(x):
        return F.elu(L.cat([x, -x], dim=len(x.size()) - 3))

    def lse_last(x):
        d = len(x.size()) - 1
        top, _ = L.max(x, dim=d)
        top_kept, _ = L.max(x, dim=d, keepdim=True)
        return top + L.log(L.sum(L.exp(x - top_kept), dim=d))

    def log_softmax_last(x):
        d = len(x.size()) - 1
        top, _ = L.max(x, dim=d, keepdim=True)
        return x - top - L.log(L.sum(L.exp(x - top), dim=d, keepdim=True))

    def shift_down(x):           # drop the last row, a zero row on top
        return nn.ZeroPad2d((0, 0, 1, 0))(x[:, :, :x.size(2) - 1, :])

    def shift_right(x):          # drop the last column, a zero column on the left
        return nn.ZeroPad2d((1, 0, 0, 0))(x[:, :, :, :x.size(3) - 1])

    class CausalConv(nn.Module):
        """kind 'down': sees the rows above (centred columns); 'down_right': the rows above and
        the columns to the left; the output optionally shifted once more the same way."""

        def __init__(self, cin, cout, size, kind, shift=False):
            super().__init__()
            kh, kw = size
            pad = ((kw - 1) // 2, (kw - 1) // 2, kh - 1, 0) if kind == "down" else \
                (kw - 1, 0, kh - 1, 0)
            self.pad = nn.ZeroPad2d(pad)
            self.conv = nn.utils.weight_norm(nn.Conv2d(cin, cout, size))
            self.after = (shift_down if kind == "down" else shift_right) if shift else None

        def forward(self, x):
            y = self.conv(self.pad(x))
            return y if self.after is None else self.after(y)

    class GatedRes(nn.Module):
        def __init__(self, nf, kind, size):
            super().__init__()
            self.first = CausalConv(2 * nf, nf, size, kind)
            self.second = CausalConv(2 * nf, 2 * nf, size, kind)

        def forward(self, x):
            a, b = L.chunk(self.second(elu_both_signs(self.first(elu_both_signs(x)))), 2, dim=1)
            return x + a * L.sigmoid(b)

    class TinyPixelCNNpp(nn.Module):
        def __init__(self, nf=4, nr_mix=2):
            super().__init__()
            self.up_in = CausalConv(4, nf, (2, 3), "down", shift=True)
            self.left_in = nn.ModuleList([CausalConv(4, nf, (1, 3), "down", shift=True),
                                          CausalConv(4, nf, (2, 1), "down_right", shift=True)])
            self.up = GatedRes(nf, "down", (2, 3))
            self.left = GatedRes(nf, "down_right", (2, 2))
            self.head = nn.utils.weight_norm(nn.Linear(nf, 10 * nr_mix))

        def forward(self, x):
            n, _, h, w = [int(v) for v in x.size()]
            # a channel of ones: after zero padding it tells the convs where the image ends
            x = L.cat((x, Variable(L.ones(n, 1, h, w), requires_grad=False)), 1)
            u = self.up(self.up_in(x))
            ul = self.left(self.left_in[0](x) + self.left_in[1](x) + u)
            return self.head(F.elu(ul).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    def mixture_nll(x, params):
        # params per pixel: k mixture logits, then per channel k means, k log-scales and k
        # coupling coefficients; x in [-1, 1] on 256 levels
        x, params = x.permute(0, 2, 3, 1), params.permute(0, 2, 3, 1)
        shape = [int(v) for v in x.size()]
        k = int(int(params.size(-1)) / 10)
        logits = params[:, :, :, :k]
        per_ch = params[:, :, :, k:].contiguous().view(shape + [3 * k])
        mu = per_ch[:, :, :, :, :k]
        log_s = L.clamp(per_ch[:, :, :, :, k:2 * k], min=-7.)
        coef = F.tanh(per_ch[:, :, :, :, 2 * k:3 * k])
        x = x.contiguous().unsqueeze(-1) + Variable(L.zeros(shape + [k]), requires_grad=False)

        def as_channel(t):
            return t.view(shape[0], shape[1], shape[2], 1, k)

        # green's mean reads red; blue's reads red and green
        g_mu = mu[:, :, :, 1, :] + coef[:, :, :, 0, :] * x[:, :, :, 0, :]
        b_mu = (mu[:, :, :, 2, :] + coef[:, :, :, 1, :] * x[:, :, :, 0, :]
                + coef[:, :, :, 2, :] * x[:, :, :, 1, :])
        mu = L.cat((mu[:, :, :, 0, :].unsqueeze(3), as_channel(g_mu), as_channel(b_mu)), dim=3)
        d = x - mu
        inv_s = L.exp(-log_s)
        hi, lo = inv_s * (d + 1. / 255.), inv_s * (d - 1. / 255.)
        bin_mass = F.sigmoid(hi) - F.sigmoid(lo)
        log_below_hi = hi - F.softplus(hi)        # the lowest bin takes all mass below it
        log_above_lo = -F.softplus(lo)            # the highest bin takes all mass above it
        mid = inv_s * d
        log_density = mid - log_s - 2. * F.softplus(mid)
        ok = (bin_mass > 1e-5).float()
        interior = ok * L.log(L.clamp(bin_mass, min=1e-12)) \
            + (1. - ok) * (log_density - np.log(127.5))
        top, bottom = (x > 0.999).float(), (x < -0.999).float()
        edge_or_interior = top * log_above_lo + (1. - top) * interior
        per_pixel = bottom * log_below_hi + (1. - bottom) * edge_or_interior
        return -L.sum(lse_last(L.sum(per_pixel, dim=3) + log_softmax_last(logits)))

    def legacy_one_hot(idx, n, value=1.):
        out = L.FloatTensor(idx.size() + (n,)).zero_()
        out.scatter_(len(idx.size()), idx.unsqueeze(-1), value)
        return Variable(out)

    def draw(params, k):
        params = params.permute(0, 2, 3, 1)
        lead = [int(v) for v in params.size()][:-1]
        logits = params[:, :, :, :k]
        per_ch = params[:, :, :, k:].contiguous().view(lead + [3, 3 * k])
        gumbel = L.FloatTensor(logits.size())
        gumbel.uniform_(1e-5, 1. - 1e-5)
        _, pick = (logits.data - L.log(- L.log(gumbel))).max(dim=3)
        sel = legacy_one_hot(pick, k).view(lead + [1, k])
        mu = L.sum(per_ch[:, :, :, :, :k] * sel, dim=4)
        log_s = L.clamp(L.sum(per_ch[:, :, :, :, k:2 * k] * sel, dim=4), min=-7.)
        coef = L.sum(F.tanh(per_ch[:, :, :, :, 2 * k:3 * k]) * sel, dim=4)
        u = L.FloatTensor(mu.size())
        u.uniform_(1e-5, 1. - 1e-5)
        x = mu + L.exp(log_s) * (L.log(u) - L.log(1. - u))        # logistic noise

        def clip(t):
            return L.clamp(L.clamp(t, min=-1.), max=1.)

        r = clip(x[:, :, :, 0])
        g = clip(x[:, :, :, 1] + coef[:, :, :, 0] * r)
        b = clip(x[:, :, :, 2] + coef[:, :, :, 1] * r + coef[:, :, :, 2] * g)
        return L.cat([c.view(lead + [1]) for c in (r, g, b)], dim=3).permute(0, 3, 1, 2), pick

    L.manual_seed(0)
    model = TinyPixelCNNpp()
    optimizer = L.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = L.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    pixels = np.random.RandomState(3).randint(0, 256, (2, 3, 4, 4))
    x = L.tensor((pixels / 127.5 - 1.0).astype(np.float32))
    x[0, :, 0, 0] = L.tensor([-1.0, 1.0, 0.0])
    losses, grad_norms = [], []
    for _ in range(2):
        loss = mixture_nll(x, model(x))
        optimizer.zero_grad()
        loss.backward()
        # (the gradients' own entries carry float32 rounding amplified by the bin mass's
        # cancellation: their norms are compared, and the float64 program agrees to 1e-13)
        grad_norms.append(nn.utils.clip_grad_norm_(model.parameters(), 1e6))
        optimizer.step()
        scheduler.step()
        losses.append(loss.detach() / (np.log(2.) * x.numel()))   # bits per dim, float32
    model.eval()
    with L.no_grad():
        data = L.zeros(1, 3, 4, 4)
        for i in range(2):
            for j in range(2):
                sample, _ = draw(model(data), 2)
                data[:, :, i, j] = sample.data[:, :, i, j]
    return losses, data, grad_norms, sorted(model.head.state_dict())


# ==============================================================================================
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


# the fixes of this round, each alone
def test_deprecated_out_of_place_resize_is_autograds_resize():
    """Tensor.resize / resize_as (the deprecated out-of-place ones, which Sylvester-flow and
    other 2017-era code calls on activations) are PyTorch's autograd Resize: a reshape of a
    tensor that requires grad (minigrad refused it as resize_ does), a ResizeBackward node,
    the input's memory shared when it is contiguous, a copy otherwise, the element count
    kept (torch's words when not), and the deprecation warning."""
    def run(L):
        x = L.tensor(normal64(2, 3, seed=1), requires_grad=True)
        h = x * 2
        r = h.resize(3, 2)
        r2 = h.resize_as(L.zeros(6))
        (r * L.arange(6.0, dtype=L.float64).view(3, 2)).sum().backward(retain_graph=True)
        g1 = x.grad.clone()
        r2.sum().backward()
        plain = L.tensor(normal64(2, 3, seed=2))
        shared = plain.resize(6)
        shared[0] = 100.0
        copied = plain.t().resize(6)
        copied[1] = -100.0
        return (r, r2, g1, x.grad, type(r.grad_fn).__name__, plain,
                err(lambda: x.resize(5)), err(lambda: x.resize((3, 2))),
                err(lambda: x.resize_as(L.zeros(2, 2))))
    HARNESS.check(run)


@pytest.mark.parametrize("fn", ["cdist", "pdist"])
def test_chebyshev_distance_gives_each_tied_coordinate_the_whole_gradient(fn):
    """cdist and pdist with p = inf: every coordinate whose |difference| is the distance
    gets the whole gradient (with its sign), as PyTorch's distance kernels give it; it was
    shared among the ties, as the infinity norm's own gradient is (torch.dist and
    vector_norm still share it, as PyTorch's)."""
    def run(L):
        a = L.tensor([[2.0, 3.0], [0.0, 1.0], [1.0, 2.0], [4.0, 4.0]], dtype=L.float64,
                     requires_grad=True)
        b = L.tensor([[0.0, 1.0], [1.0, 2.0], [3.0, 3.0]], dtype=L.float64, requires_grad=True)
        w = L.arange(1.0, 13.0, dtype=L.float64)
        if fn == "cdist":
            d = L.cdist(a, b, p=float("inf"))
            grads = L.autograd.grad((d * w.view(4, 3)).sum(), (a, b))
        else:
            d = L.pdist(a, p=float("inf"))
            grads = L.autograd.grad((d * w[:6]).sum(), a)
        shared = L.autograd.grad(L.dist(a, b[:1], p=float("inf")), a)
        return d, grads, shared
    HARNESS.check(run)


def test_chebyshev_cdist_second_derivative_against_finite_differences():
    """Beyond PyTorch (whose cdist backward has no derivative): the p = inf gradient is made
    of ops, so a gradient penalty through it differentiates again; away from ties it matches
    central differences."""
    import minigrad
    a = minigrad.tensor(normal64(3, 4, seed=5), requires_grad=True)
    b = minigrad.tensor(normal64(2, 4, seed=6))

    def penalty(a):
        g, = minigrad.autograd.grad((minigrad.cdist(a, b, p=float("inf")) ** 2).sum(), a,
                                    create_graph=True)
        return (g ** 2).sum() + (minigrad.cdist(a, b, p=float("inf")) ** 3).sum()
    assert minigrad.autograd.gradcheck(penalty, (a,))
