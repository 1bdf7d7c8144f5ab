"""Whole programs of round 26, part a: vision and generative model files as their repositories
write them, in pieces earlier rounds left out.  ProGAN's pixel norm, minibatch standard
deviation, equalised learning rate and fade-in with an R1 penalty; SPADE's spatially-adaptive
normalisation with a hinge loss; pix2pixHD's multi-scale discriminators and feature
matching; StyleGAN2's lazy R1 and path-length regularisers; CBAM, a non-local block and
DANet's attention; BlurPool; MLP-Mixer and gMLP; RepVGG's branches fused into one
convolution; a ConvLSTM forecaster; Perceiver's Fourier features and latent cross-attention;
MAE's random masking; NeRF's volume rendering with hierarchical sampling; the Lovasz hinge;
SimSiam and DINO; SIREN fitted to an image's gradient; BiFPN; an LPIPS-style distance by
forward hooks; DiT's adaLN-Zero blocks with classifier-free guidance; the latent-diffusion
autoencoder; RAFT's correlation pyramid; Grad-CAM++ by full backward hooks; a deformable
convolution by grid_sample; torchvision's colour, geometric and detection kernels written
anew (HSV round trips, equalize, affine and perspective grids, anchors, the Matcher, the box
coder, batched NMS); and, under torch.autocast('cpu', dtype=bfloat16), a ViT step with
GradScaler, attention, a CRNN recogniser with CTC and AlexNet's local response norm.

What they found, fixed in minigrad: under create_graph, PReLU, the reflection and
replication pads and fractional max pooling did not list their input on the gradient's graph
as PyTorch's backward kernels do, so a gradient penalty gave the parameters before them no
gradient where PyTorch gives a zero one (Adam then skipped them); scaled_dot_product_attention
was not among the ops CPU autocast lowers (float32 inputs gave a float32 result);
RNN/GRU/LSTM refused a bfloat16 sequence with float32 weights inside an autocast region,
where PyTorch drops that dtype check; and LocalResponseNorm refused a 4-d bfloat16 input
inside autocast, where PyTorch runs its window mean (a 3-d average pool) in float32.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5; under
autocast, bfloat16's precision), dtypes, shapes and requires_grad, or raise the same exception
type with torch's words.
"""
import copy
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# GANs: ProGAN, SPADE, pix2pixHD
# ----------------------------------------------------------------------------------------------
@program
def progan_pixel_norm_minibatch_std_equalized_lr_fade_in_and_r1(L):
    """ProGAN/StyleGAN building blocks: equalised-learning-rate layers (weights drawn N(0, 1)
    by normal_, scaled by sqrt(2/fan_in) at run time, a lr multiplier on the mapping net),
    PixelNorm by rsqrt of the channel mean square, a 4x4 -> 8x8 generator growing with
    nearest upsampling and an alpha fade-in of the two toRGB outputs, a discriminator with a
    minibatch-stddev channel (groups of 2, var over the group, mean, repeat), avg_pool2d
    downsampling, the non-saturating softplus losses and an R1 penalty by autograd.grad with
    create_graph; Adam with betas (0, 0.99)."""
    nn, F = L.nn, L.nn.functional

    class RuntimeScaledLinear(nn.Module):
        """Equalised learning rate: the weight is stored as N(0, 1) / lr_mul and scaled by
        lr_mul / sqrt(fan_in) on every call; the bias is scaled by lr_mul."""

        def __init__(self, cin, cout, lr_mul=1.0):
            super().__init__()
            self.weight = nn.Parameter(L.randn(cout, cin, dtype=L.float64).div_(lr_mul))
            self.bias = nn.Parameter(L.zeros(cout, dtype=L.float64))
            self.lr_mul = lr_mul
            self.gain = lr_mul * (1 / math.sqrt(cin))

        def forward(self, x):
            return F.linear(x, self.weight * self.gain, self.bias * self.lr_mul)

    class RuntimeScaledConv(nn.Module):
        """The same for a k x k convolution, with He's gain sqrt(2 / fan_in)."""

        def __init__(self, cin, cout, k, padding=0):
            super().__init__()
            self.weight = nn.Parameter(L.empty(cout, cin, k, k, dtype=L.float64))
            nn.init.normal_(self.weight)
            self.bias = nn.Parameter(L.zeros(cout, dtype=L.float64))
            self.gain = math.sqrt(2 / (cin * k * k))
            self.padding = padding

        def forward(self, x):
            return F.conv2d(x, self.weight * self.gain, self.bias, padding=self.padding)

    class ChannelRMSNorm(nn.Module):
        """Each pixel's feature vector divided by its root mean square over channels."""

        def forward(self, x):
            mean_sq = x.pow(2).mean(dim=1, keepdim=True)
            return x * L.rsqrt(mean_sq + 1e-8)

    def append_batch_spread(x, group=2):
        """One more channel: the standard deviation across groups of ``group`` samples
        (sample i with i + n/group, ...), averaged over channels and pixels, then broadcast."""
        n, c, h, w = x.shape
        grouped = x.reshape(group, -1, c, h, w)
        var = (grouped - grouped.mean(0)).pow(2).mean(0)
        spread = (var + 1e-8).sqrt().mean(dim=[1, 2, 3])
        return L.cat([x, spread.reshape(-1, 1, 1, 1).repeat(group, 1, h, w)], 1)

    L.manual_seed(1)
    mapping = nn.Sequential(ChannelRMSNorm(), RuntimeScaledLinear(4, 4, lr_mul=0.01),
                            nn.LeakyReLU(0.2), RuntimeScaledLinear(4, 8, lr_mul=0.01),
                            nn.LeakyReLU(0.2))
    block4 = RuntimeScaledConv(2, 3, 3, padding=1)
    block8 = RuntimeScaledConv(3, 3, 3, padding=1)
    rgb4, rgb8 = RuntimeScaledConv(3, 3, 1), RuntimeScaledConv(3, 3, 1)
    d_from, d_conv = RuntimeScaledConv(3, 3, 1), RuntimeScaledConv(4, 3, 3, padding=1)
    d_head = RuntimeScaledLinear(3 * 4 * 4, 1)
    G = nn.ModuleList([mapping, block4, block8, rgb4, rgb8])
    D = nn.ModuleList([d_from, d_conv, d_head])
    opt_g = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.99))
    opt_d = L.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.99))
    rms = ChannelRMSNorm()

    def generate(z, alpha):
        w = mapping(z)
        h = w.view(-1, 2, 2, 2)
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = rms(F.leaky_relu(block4(h), 0.2))
        up = F.interpolate(h, scale_factor=2)
        h8 = rms(F.leaky_relu(block8(up), 0.2))
        return (1 - alpha) * rgb4(up) + alpha * rgb8(h8)

    def discriminate(img):
        h = F.leaky_relu(d_from(img), 0.2)
        h = F.avg_pool2d(h, 2)
        h = F.leaky_relu(d_conv(append_batch_spread(h)), 0.2)
        return d_head(h.flatten(1))

    real = _t(L, 4, 3, 8, 8, seed=2)
    z = _t(L, 4, 4, seed=3)
    out = {}
    for step, alpha in enumerate([0.25, 0.75]):
        fake = generate(z, alpha)
        real_in = real.detach().requires_grad_(True)
        real_score = discriminate(real_in)
        d_loss = F.softplus(discriminate(fake.detach())).mean() + F.softplus(-real_score).mean()
        grad_real, = L.autograd.grad(real_score.sum(), real_in, create_graph=True)
        r1 = grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()
        opt_d.zero_grad()
        (d_loss + 5.0 * r1).backward()
        out[f"d_grads{step}"] = grads_of(D)
        opt_d.step()
        for p in D.parameters():
            p.requires_grad_(False)
        g_loss = F.softplus(-discriminate(generate(z, alpha))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        for p in D.parameters():
            p.requires_grad_(True)
        out[f"losses{step}"] = [d_loss.item(), r1.item(), g_loss.item()]
    out["fake"] = fake.detach()
    out["G"], out["D"] = G.state_dict(), D.state_dict()
    return out


@program
def spade_normalization_residual_block_with_hinge_loss(L):
    """SPADE's normalisation (our code): a parameter-free InstanceNorm2d (affine=False)
    modulated by gamma and beta convolved from a one-hot segmentation map (F.one_hot, permute,
    float) resized with F.interpolate(size=, mode='nearest'); a residual block of them with a
    learned 1x1 shortcut (spectral_norm'd convolutions, leaky ReLU); the hinge GAN losses relu(1
    - D(real)), relu(1 + D(fake)) and -D(fake).mean(); one SGD step."""
    nn, F = L.nn, L.nn.functional
    SN = nn.utils.spectral_norm

    class MapModulatedNorm(nn.Module):
        """Parameter-free instance norm, then a per-pixel scale (1 + gamma) and shift beta,
        both convolved from the label map resized (nearest) to the input's size."""

        def __init__(self, c, labels, hidden=4):
            super().__init__()
            self.norm = nn.InstanceNorm2d(c, affine=False)
            self.embed = nn.Sequential(nn.Conv2d(labels, hidden, 3, padding=1), nn.ReLU())
            self.to_gamma = nn.Conv2d(hidden, c, 3, padding=1)
            self.to_beta = nn.Conv2d(hidden, c, 3, padding=1)

        def forward(self, x, seg):
            h = self.embed(F.interpolate(seg, size=x.size()[2:], mode="nearest"))
            return self.norm(x) * (1 + self.to_gamma(h)) + self.to_beta(h)

    class ModulatedResidual(nn.Module):
        def __init__(self, cin, cout, labels):
            super().__init__()
            mid = min(cin, cout)
            self.conv_0 = SN(nn.Conv2d(cin, mid, 3, padding=1))
            self.conv_1 = SN(nn.Conv2d(mid, cout, 3, padding=1))
            self.skip = SN(nn.Conv2d(cin, cout, 1, bias=False))
            self.mod_0, self.mod_1 = MapModulatedNorm(cin, labels), MapModulatedNorm(mid, labels)
            self.mod_skip = MapModulatedNorm(cin, labels)

        def forward(self, x, seg):
            # the learned shortcut, then two modulated-norm / leaky-ReLU / conv steps
            short = self.skip(self.mod_skip(x, seg))
            y = self.conv_0(F.leaky_relu(self.mod_0(x, seg), 2e-1))
            return short + self.conv_1(F.leaky_relu(self.mod_1(y, seg), 2e-1))

    L.manual_seed(4)
    block = ModulatedResidual(3, 2, labels=3).double()
    D = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                      nn.Conv2d(4, 1, 3, padding=1)).double()
    label_map = L.tensor(_labels(2 * 8 * 8, 3, seed=5).reshape(2, 8, 8))
    seg = F.one_hot(label_map, num_classes=3).permute(0, 3, 1, 2).double()
    x = _t(L, 2, 3, 4, 4, seed=6)
    real = _t(L, 2, 2, 4, 4, seed=7)
    opt = L.optim.SGD(list(block.parameters()) + list(D.parameters()), lr=0.05)
    fake = block(x, seg)
    d_loss = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake.detach())).mean()
    g_loss = -D(fake).mean()
    opt.zero_grad()
    (d_loss + g_loss).backward()
    grads = grads_of(block)
    opt.step()
    return dict(fake=fake, d=d_loss, g=g_loss, grads=grads, seg=seg,
                u=block.conv_0.weight_u, after=block(x, seg))


@program
def pix2pixhd_multiscale_discriminators_and_feature_matching(L):
    """pix2pixHD's multi-scale discriminator: three PatchGANs that return every
    intermediate feature, the input downsampled between them by AvgPool2d(3, stride=2,
    padding=[1, 1], count_include_pad=False); the LSGAN loss on each last output against
    ones/zeros made by full_like, and the feature-matching L1 between the features of real
    (detached) and fake, weighted 4 / n_layers / n_D."""
    nn, F = L.nn, L.nn.functional

    class PatchCritic(nn.Module):
        """Three conv stages (registered as stage0..stage2 by setattr); returns each stage's
        output, the last one the patch scores."""

        def __init__(self, cin):
            super().__init__()
            stages = [nn.Sequential(nn.Conv2d(cin, 4, 4, stride=2, padding=2),
                                    nn.LeakyReLU(0.2, True)),
                      nn.Sequential(nn.Conv2d(4, 8, 4, stride=1, padding=2),
                                    nn.InstanceNorm2d(8), nn.LeakyReLU(0.2, True)),
                      nn.Conv2d(8, 1, 4, stride=1, padding=2)]
            for k, stage in enumerate(stages):
                setattr(self, f"stage{k}", stage)

        def forward(self, x):
            outs = []
            for k in range(3):
                x = getattr(self, f"stage{k}")(x)
                outs.append(x)
            return outs

    class ScaleCritics(nn.Module):
        """The same critic design at n scales, the input average-pooled (padding not counted)
        between them; the coarsest-indexed critic sees the full resolution."""

        def __init__(self, cin, n=3):
            super().__init__()
            self.n = n
            for k in range(n):
                setattr(self, f"critic{k}", PatchCritic(cin))
            self.shrink = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

        def forward(self, x):
            outs = []
            for k in reversed(range(self.n)):
                outs.append(getattr(self, f"critic{k}")(x))
                if k:
                    x = self.shrink(x)
            return outs

    L.manual_seed(8)
    D = ScaleCritics(2).double()
    real = _t(L, 2, 2, 12, 12, seed=9)
    fake = _t(L, 2, 2, 12, 12, seed=10, grad=True)
    pred_real, pred_fake = D(real), D(fake)
    gan = sum(F.mse_loss(p[-1], L.full_like(p[-1], 1.0)) for p in pred_fake)
    d_real = sum(F.mse_loss(p[-1], L.ones_like(p[-1])) for p in pred_real)
    d_fake = sum(F.mse_loss(p[-1], L.zeros_like(p[-1])) for p in D(fake.detach()))
    feat_weight, d_weight = 4.0 / 3, 1.0 / 3
    fm = 0
    for i in range(3):
        for j in range(len(pred_fake[i]) - 1):
            fm = fm + d_weight * feat_weight * F.l1_loss(pred_fake[i][j], pred_real[i][j].detach())
    (gan + 10 * fm).backward()
    shapes = [[tuple(f.shape) for f in p] for p in pred_fake]
    return dict(gan=gan, fm=fm, d=(d_real + d_fake) / 2, gfake=fake.grad, shapes=shapes,
                gD=grads_of(D))


# ----------------------------------------------------------------------------------------------
# attention modules for CNNs
# ----------------------------------------------------------------------------------------------
@program
def cbam_channel_and_spatial_attention_in_a_resnet_block(L):
    """CBAM's facts: channel attention from a shared MLP (1x1 convs, no bias) over AdaptiveAvgPool2d
    and AdaptiveMaxPool2d summaries, sigmoid; spatial attention from torch.mean and
    torch.max(dim=1, keepdim=True)[0] concatenated and a 7x7 conv; inside a basic residual
    block with BatchNorm in training mode; cross-entropy, backward, the BN running stats."""
    nn, F = L.nn, L.nn.functional

    class ChannelGate(nn.Module):
        """Weights per channel from the average- and max-pooled maps through one shared MLP."""

        def __init__(self, c, ratio=2):
            super().__init__()
            self.mlp = nn.Sequential(nn.Conv2d(c, c // ratio, 1, bias=False), nn.ReLU(),
                                     nn.Conv2d(c // ratio, c, 1, bias=False))
            self.pools = nn.ModuleList([nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1)])

        def forward(self, x):
            return L.sigmoid(sum(self.mlp(pool(x)) for pool in self.pools))

    class SpatialGate(nn.Module):
        """Weights per pixel from the channel mean and channel max through a k x k conv."""

        def __init__(self, k=7):
            super().__init__()
            self.conv = nn.Conv2d(2, 1, k, padding=k // 2, bias=False)

        def forward(self, x):
            summary = L.cat([L.mean(x, dim=1, keepdim=True), L.max(x, dim=1, keepdim=True)[0]],
                            dim=1)
            return L.sigmoid(self.conv(summary))

    class GatedResidual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(c), nn.ReLU(),
                                      nn.Conv2d(c, c, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(c))
            self.by_channel, self.by_pixel = ChannelGate(c), SpatialGate()

        def forward(self, x):
            y = self.body(x)
            y = y * self.by_channel(y)
            y = y * self.by_pixel(y)
            return F.relu(y + x)

    L.manual_seed(11)
    net = nn.Sequential(GatedResidual(4), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                        nn.Linear(4, 3)).double()
    x = _t(L, 3, 4, 6, 6, seed=12)
    y = L.tensor(_labels(3, 3, seed=13))
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return dict(logits=logits, loss=loss, grads=grads_of(net),
                stats={k: v for k, v in net.state_dict().items() if "running" in k or
                       "num_batches" in k})


@program
def non_local_block_and_danet_position_channel_attention(L):
    """A non-local block (embedded Gaussian): theta/phi/g 1x1 convs, phi and g sub-sampled by
    MaxPool2d(2), view/permute/matmul, softmax(dim=-1), W as a conv + BatchNorm whose weight
    and bias start at zero by nn.init.constant_; DANet's position attention (bmm of query and
    key, gamma = Parameter(zeros(1))) and channel attention (energy_new = max - energy by
    expand_as); the gammas' gradients after backward."""
    nn, F = L.nn, L.nn.functional

    def flat(t):
        # (b, c, h, w) -> (b, c, h * w)
        return t.view(t.size(0), t.size(1), -1)

    class NonLocal(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.mid = c // 2
            self.value = nn.Sequential(nn.Conv2d(c, self.mid, 1), nn.MaxPool2d(2))
            self.key = nn.Sequential(nn.Conv2d(c, self.mid, 1), nn.MaxPool2d(kernel_size=2))
            self.query = nn.Conv2d(c, self.mid, 1)
            self.back = nn.Sequential(nn.Conv2d(self.mid, c, 1), nn.BatchNorm2d(c))
            # the block starts as the identity: its output BN is zeroed
            nn.init.constant_(self.back[1].weight, 0)
            nn.init.constant_(self.back[1].bias, 0)

        def forward(self, x):
            q = flat(self.query(x)).permute(0, 2, 1)            # (b, pixels, mid)
            k = flat(self.key(x))                                # (b, mid, pooled)
            v = flat(self.value(x)).permute(0, 2, 1)             # (b, pooled, mid)
            mixed = L.matmul(F.softmax(L.matmul(q, k), dim=-1), v)
            mixed = mixed.permute(0, 2, 1).contiguous().view(x.size(0), self.mid, *x.size()[2:])
            return self.back(mixed) + x

    class PixelAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.q, self.k = nn.Conv2d(c, c // 2, 1), nn.Conv2d(c, c // 2, 1)
            self.v = nn.Conv2d(c, c, 1)
            self.scale = nn.Parameter(L.zeros(1))       # starts switched off
            self.norm = nn.Softmax(dim=-1)

        def forward(self, x):
            weights = self.norm(L.bmm(flat(self.q(x)).permute(0, 2, 1), flat(self.k(x))))
            out = L.bmm(flat(self.v(x)), weights.permute(0, 2, 1)).view(x.size())
            return self.scale * out + x

    class ChannelAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(L.zeros(1))

        def forward(self, x):
            f = flat(x)
            sim = L.bmm(f, f.permute(0, 2, 1))                   # (b, c, c)
            # the least similar channels get the most weight: softmax of (row max - sim)
            weights = F.softmax(L.max(sim, -1, keepdim=True)[0].expand_as(sim) - sim, dim=-1)
            return self.scale * L.bmm(weights, f).view(x.size()) + x

    L.manual_seed(14)
    nl, pam, cam = NonLocal(4).double(), PixelAttention(4).double(), ChannelAttention().double()
    x = _t(L, 2, 4, 4, 4, seed=15, grad=True)
    h = nl(x)
    out = pam(h) + cam(h)
    (out * _t(L, 2, 4, 4, 4, seed=16)).sum().backward()
    return dict(out=out, gx=x.grad, nl=grads_of(nl), pam=grads_of(pam), cam=cam.scale.grad)


@program
def blurpool_antialiased_downsampling_with_a_binomial_buffer(L):
    """Anti-aliased downsampling ("Making convnets shift-invariant again"): a binomial filter
    [1, 3, 3, 1] as an outer product, normalised and repeated per channel into a registered
    buffer, reflection padding by nn.ReflectionPad2d with the odd split, a depthwise stride-2
    conv2d; MaxBlurPool (max_pool2d with stride 1 then blur); ReplicationPad2d and ZeroPad2d
    variants; the buffer in the state dict and moved by .double()."""
    nn, F = L.nn, L.nn.functional
    binomial = {3: [1., 2., 1.], 4: [1., 3., 3., 1.]}
    pads = {"reflect": nn.ReflectionPad2d, "repl": nn.ReplicationPad2d, "zero": nn.ZeroPad2d}

    class Blur(nn.Module):
        """Low-pass each channel with a normalised binomial kernel, then subsample."""

        def __init__(self, channels, pad_type="reflect", size=4, stride=2):
            super().__init__()
            taps = L.tensor(binomial[size])
            kernel = taps[:, None] * taps[None, :]
            kernel = kernel / L.sum(kernel)
            self.register_buffer("filt", kernel[None, None, :, :].repeat((channels, 1, 1, 1)))
            before, after = (size - 1) // 2, int(np.ceil((size - 1) / 2))   # even sizes: odd split
            self.pad = pads[pad_type]([before, after, before, after])
            self.stride = stride

        def forward(self, x):
            return F.conv2d(self.pad(x), self.filt, stride=self.stride, groups=x.shape[1])

    L.manual_seed(17)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    net = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=1),
                        Blur(3), Blur(3, "repl", size=3),
                        Blur(3, "zero", stride=1)).double()
    x = _t(L, 2, 2, 9, 9, seed=18, grad=True)
    y = net(x)
    shifted = net(L.roll(x, 1, dims=3))
    y.pow(2).sum().backward()
    sd = net.state_dict()
    return dict(y=y, shifted=shifted, gx=x.grad, gw=conv.weight.grad,
                buffers={k: v for k, v in sd.items() if k.endswith("filt")},
                keys=list(sd.keys()))


# ----------------------------------------------------------------------------------------------
# all-MLP and re-parameterised networks
# ----------------------------------------------------------------------------------------------
@program
def mlp_mixer_and_gmlp_spatial_gating(L):
    """MLP-Mixer: a patch embedding by a stride-p Conv2d, flatten(2).transpose(1, 2), token
    mixing along the sequence by transposing around an MLP and channel mixing, GELU, a mean
    over tokens; gMLP's spatial gating unit: chunk(2, dim=-1), LayerNorm, a Conv1d over the
    sequence (kernel 1, weight uniform in +-eps, bias ones); AdamW steps on both."""
    nn, F = L.nn, L.nn.functional

    def two_layer(dim, hidden):
        return nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    class MixLayer(nn.Module):
        """Mix across tokens (the MLP applied to the transposed sequence), then across
        channels, each pre-normed with a residual."""

        def __init__(self, tokens, dim):
            super().__init__()
            self.pre_tok, self.pre_ch = nn.LayerNorm(dim), nn.LayerNorm(dim)
            self.across_tokens, self.across_channels = two_layer(tokens, 8), two_layer(dim, 8)

        def forward(self, x):
            x = x + self.across_tokens(self.pre_tok(x).transpose(1, 2)).transpose(1, 2)
            return x + self.across_channels(self.pre_ch(x))

    class TokenGate(nn.Module):
        """Half the features gate the other half after a kernel-1 Conv1d over the sequence,
        started near the identity gate (weights in +-1e-3, bias one)."""

        def __init__(self, width, tokens):
            super().__init__()
            self.norm = nn.LayerNorm(width // 2)
            self.over_tokens = nn.Conv1d(tokens, tokens, kernel_size=1)
            nn.init.uniform_(self.over_tokens.weight, -1e-3, 1e-3)
            nn.init.constant_(self.over_tokens.bias, 1.0)

        def forward(self, x):
            kept, gate = x.chunk(2, dim=-1)
            return kept * self.over_tokens(self.norm(gate))

    class GatedMLP(nn.Module):
        def __init__(self, dim, hidden, tokens):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.up = nn.Linear(dim, 2 * hidden)
            self.gate = TokenGate(2 * hidden, tokens)
            self.down = nn.Linear(hidden, dim)

        def forward(self, x):
            return x + self.down(self.gate(F.gelu(self.up(self.norm(x)))))

    L.manual_seed(19)
    stem = nn.Conv2d(3, 6, kernel_size=2, stride=2)
    mixer = nn.Sequential(MixLayer(9, 6), MixLayer(9, 6))
    gmlp = GatedMLP(6, 4, 9)
    head = nn.Linear(6, 4)
    model = nn.ModuleDict(dict(stem=stem, mixer=mixer, gmlp=gmlp, head=head)).double()
    opt = L.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.05)
    x = _t(L, 2, 3, 6, 6, seed=20)
    y = L.tensor([1, 3])
    losses = []
    for _ in range(2):
        h = model["stem"](x).flatten(2).transpose(1, 2)
        h = model["gmlp"](model["mixer"](h))
        loss = F.cross_entropy(model["head"](h.mean(dim=1)), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return dict(losses=losses, grads=grads_of(model), sgu=gmlp.gate.over_tokens.weight)


@program
def repvgg_branches_fused_into_one_conv_for_deployment(L):
    """RepVGG's re-parameterisation: a training-time block of a 3x3 conv+BN, a 1x1 conv+BN and
    an identity BN summed; after a few training steps (BN running stats move), each branch's BN
    folded into its kernel (std = (running_var + eps).sqrt()), the 1x1 kernel padded to 3x3 by
    F.pad, the identity written as a kernel with ones at the centre, and the block replaced by
    one Conv2d whose weight and bias are set through .data; the fused and unfused eval outputs
    must match."""
    nn, F = L.nn, L.nn.functional

    def conv_then_bn(c, k):
        seq = nn.Sequential()
        seq.add_module("conv", nn.Conv2d(c, c, k, padding=k // 2, bias=False))
        seq.add_module("bn", nn.BatchNorm2d(c))
        return seq

    def folded(kernel, bn):
        # BN(conv(x)) == conv'(x) + b' with conv' = conv * gamma / std, b' = beta - mean gamma / std
        std = (bn.running_var + bn.eps).sqrt()
        shift = bn.bias - bn.running_mean * bn.weight / std
        return kernel * (bn.weight / std).reshape(-1, 1, 1, 1), shift

    class ThreeBranch(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c
            self.skip_bn = nn.BatchNorm2d(c)
            self.k3 = conv_then_bn(c, 3)
            self.k1 = conv_then_bn(c, 1)

        def forward(self, x):
            if hasattr(self, "merged"):
                return F.relu(self.merged(x))
            return F.relu(self.k3(x) + self.k1(x) + self.skip_bn(x))

        def identity_kernel(self, dtype):
            eye = L.zeros(self.c, self.c, 3, 3, dtype=dtype)
            for ch in range(self.c):
                eye[ch, ch, 1, 1] = 1
            return eye

        def merge(self):
            w3, b3 = folded(self.k3.conv.weight, self.k3.bn)
            w1, b1 = folded(self.k1.conv.weight, self.k1.bn)
            wi, bi = folded(self.identity_kernel(self.skip_bn.weight.dtype), self.skip_bn)
            self.merged = nn.Conv2d(self.c, self.c, 3, padding=1).to(w3.dtype)
            self.merged.weight.data = (w3 + F.pad(w1, [1, 1, 1, 1]) + wi).detach()
            self.merged.bias.data = (b3 + b1 + bi).detach()
            for p in self.parameters():
                p.detach_()
            for name in ("k3", "k1", "skip_bn"):
                self.__delattr__(name)

    L.manual_seed(21)
    model = nn.Sequential(ThreeBranch(3), ThreeBranch(3)).double()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(3):
        x = _t(L, 4, 3, 5, 5, seed=22 + step)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    x = _t(L, 2, 3, 5, 5, seed=30)
    with L.no_grad():
        before = model(x)
    for m in model.modules():
        if hasattr(m, "merge"):
            m.merge()
    with L.no_grad():
        after = model(x)
    return dict(before=before, after=after, gap=(before - after).abs().max(),
                keys=list(model.state_dict().keys()),
                fused=model[0].merged.weight, rg=model[0].merged.weight.requires_grad)


# ----------------------------------------------------------------------------------------------
# sequences of images, latent arrays, masking
# ----------------------------------------------------------------------------------------------
@program
def convlstm_encoder_forecaster_with_truncated_bptt(L):
    """A ConvLSTM cell (input and hidden concatenated, one conv for the four gates split by
    torch.split, sigmoid/tanh), states initialised by zeros with the conv's weight device
    and dtype, an encoder over 4 frames and a forecaster that feeds back its prediction for
    2 more; outputs stacked along time; MSE, clip_grad_norm_ (its total norm returned),
    Adam; the hidden state detached between two chunks (truncated BPTT)."""
    nn, F = L.nn, L.nn.functional

    class ConvLSTMCell(nn.Module):
        """An LSTM cell whose gates are one conv over [input, hidden] stacked on channels."""

        def __init__(self, cin, hidden, k):
            super().__init__()
            self.hidden = hidden
            self.gates = nn.Conv2d(cin + hidden, 4 * hidden, k, padding=k // 2, bias=True)

        def forward(self, x, state):
            h, c = state
            i, f, o, g = L.split(self.gates(L.cat([x, h], dim=1)), self.hidden, dim=1)
            c = L.sigmoid(f) * c + L.sigmoid(i) * L.tanh(g)
            return L.sigmoid(o) * L.tanh(c), c

        def zero_state(self, b, size):
            w = self.gates.weight
            return tuple(L.zeros(b, self.hidden, *size, device=w.device, dtype=w.dtype)
                         for _ in range(2))

    L.manual_seed(31)
    cell = ConvLSTMCell(1, 3, 3).double()
    readout = nn.Conv2d(3, 1, 1).double()
    params = list(cell.parameters()) + list(readout.parameters())
    opt = L.optim.Adam(params, lr=0.01)
    seq = L.tanh(_t(L, 2, 12, 1, 4, 4, seed=32))
    state = cell.zero_state(2, (4, 4))
    losses, norms = [], []
    for chunk in range(2):
        frames = seq[:, chunk * 6:(chunk + 1) * 6]
        state = tuple(s.detach() for s in state)
        for t in range(4):
            state = cell(frames[:, t], state)
        preds, inp = [], readout(state[0])
        for t in range(2):
            preds.append(inp)
            state = cell(inp, state)
            inp = readout(state[0])
        pred = L.stack(preds, dim=1)
        loss = F.mse_loss(pred, frames[:, 4:])
        opt.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(params, max_norm=0.5))
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, norms=norms, pred=pred, w=cell.gates.weight)


@program
def perceiver_fourier_features_and_latent_cross_attention(L):
    """Perceiver: Fourier position features for a 2-d grid (linspace(-1, 1), meshgrid with
    indexing='ij', frequencies by linspace(1, max_freq / 2), sin/cos of pi-scaled positions,
    the raw positions concatenated), appended to the pixels; a learned latent array repeated
    over the batch by einops-style repeat, cross-attention by nn.MultiheadAttention with
    kdim/vdim and batch_first, a self-attention layer (nn.TransformerEncoderLayer,
    norm_first, dropout 0), mean over latents and a linear head."""
    nn, F = L.nn, L.nn.functional

    def fourier_features(x, max_freq, bands):
        # each coordinate -> sin and cos of pi * f * x for f in linspace(1, max_freq / 2),
        # then the coordinate itself
        x = x.unsqueeze(-1)
        freqs = L.linspace(1.0, max_freq / 2, bands, device=x.device, dtype=x.dtype)
        freqs = freqs[(*((None,) * (len(x.shape) - 1)), Ellipsis)]
        phase = x * freqs * math.pi
        return L.cat([phase.sin(), phase.cos(), x], dim=-1)

    B, H, W, C = 2, 4, 4, 3
    axis_pos = [L.linspace(-1.0, 1.0, steps=n, dtype=L.float64) for n in (H, W)]
    pos = L.stack(L.meshgrid(*axis_pos, indexing="ij"), dim=-1)
    enc = fourier_features(pos, 6.0, 3).flatten(-2)
    enc = enc.unsqueeze(0).expand(B, *enc.shape)
    data = _t(L, B, H, W, C, seed=33)
    data = L.cat([data, enc], dim=-1).reshape(B, H * W, -1)
    L.manual_seed(34)
    latents = nn.Parameter(L.randn(5, 8, dtype=L.float64))
    cross = nn.MultiheadAttention(8, 2, kdim=data.shape[-1], vdim=data.shape[-1],
                                  batch_first=True).double()
    norm = nn.LayerNorm(8).double()
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       batch_first=True, norm_first=True).double()
    head = nn.Linear(8, 3).double()
    x = latents.unsqueeze(0).repeat(B, 1, 1)
    attn_out, attn_w = cross(norm(x), data, data, need_weights=True)
    x = x + attn_out
    x = layer(x)
    logits = head(x.mean(dim=-2))
    loss = F.cross_entropy(logits, L.tensor([2, 0]))
    loss.backward()
    return dict(enc=enc, logits=logits, attn=attn_w, gl=latents.grad,
                gk=cross.k_proj_weight.grad, gv=cross.v_proj_weight.grad,
                gin=cross.in_proj_weight, keys=sorted(dict(cross.named_parameters())))


@program
def mae_random_masking_patchify_and_normalized_pixel_loss(L):
    """MAE: patchify by reshape and einsum('nchpwq->nhwpqc'), per-sample random masking
    (noise from torch.rand after manual_seed, argsort twice for shuffle and restore, gather
    with an index repeated over the channels), a binary mask unshuffled by gather, mask
    tokens appended and unshuffled, the loss on normalised pixels (mean and var with
    keepdim, unbiased by default) over masked patches only; unpatchify back."""
    nn = L.nn
    p, N, C, Hs = 2, 2, 3, 4
    imgs = _t(L, N, C, Hs * p, Hs * p, seed=35)

    def to_patches(images):
        # (n, 3, h p, w p) -> (n, h w, p p 3), pixels of a patch in (row, col, channel) order
        n, side = images.shape[0], images.shape[2] // p
        grid = images.reshape(shape=(n, 3, side, p, side, p))
        return L.einsum("nchpwq->nhwpqc", grid).reshape(shape=(n, side * side, p ** 2 * 3))

    def from_patches(patches):
        n, side = patches.shape[0], int(patches.shape[1] ** .5)
        grid = patches.reshape(shape=(n, side, side, p, p, 3))
        return L.einsum("nhwpqc->nchpwq", grid).reshape(shape=(n, 3, side * p, side * p))

    def keep_random(tokens, ratio):
        # per sample: sort uniform noise, keep the first tokens of that order; ``back`` undoes
        # the order and ``hidden`` is 1 on the dropped tokens, in the original order
        n, count, width = tokens.shape
        kept = int(count * (1 - ratio))
        order = L.argsort(L.rand(n, count, device=tokens.device), dim=1)
        back = L.argsort(order, dim=1)
        visible = L.gather(tokens, dim=1, index=order[:, :kept].unsqueeze(-1).repeat(1, 1, width))
        hidden = L.ones([n, count], device=tokens.device)
        hidden[:, :kept] = 0
        return visible, L.gather(hidden, dim=1, index=back), back

    L.manual_seed(36)
    embed = nn.Linear(12, 6).double()
    encoder = nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 6), nn.GELU()).double()
    decoder = nn.Linear(6, 12).double()
    mask_token = nn.Parameter(L.zeros(1, 1, 6, dtype=L.float64))
    nn.init.normal_(mask_token, std=.02)
    target = to_patches(imgs)
    x, mask, ids_restore = keep_random(embed(target), 0.75)
    latent = encoder(x)
    fillers = mask_token.repeat(latent.shape[0], ids_restore.shape[1] - latent.shape[1], 1)
    full = L.cat([latent, fillers], dim=1)
    full = L.gather(full, dim=1, index=ids_restore.unsqueeze(-1).repeat(1, 1, full.shape[2]))
    pred = decoder(full)
    # the target pixels normalised per patch (unbiased variance, as var's default)
    mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
    per_patch = ((pred - (target - mean) / (var + 1.e-6) ** .5) ** 2).mean(dim=-1)
    loss = (per_patch * mask).sum() / mask.sum()
    loss.backward()
    return dict(loss=loss, mask=mask, ids=ids_restore, back=from_patches(target),
                same=L.equal(from_patches(target), imgs), recon=from_patches(pred.detach()),
                gtok=mask_token.grad, gemb=embed.weight.grad)


@program
def nerf_positional_encoding_volume_rendering_and_hierarchical_sampling(L):
    """NeRF: the positional encoding (2 ** linspace frequency bands, sin and cos of
    x * freq, input included), ray sample depths by linspace with stratified jitter from
    torch.rand, a tiny MLP for rgb and sigma, raw2outputs (dists with a 1e10 last entry by
    expand, alpha = 1 - exp(-relu(sigma) dists), transmittance by an exclusive cumprod,
    weights, rgb/depth/acc maps, a white background), then sample_pdf's inverse-CDF
    sampling (cumsum, searchsorted(right=True), clamp, gather, where) with det=True, sorted
    fine samples, and the coarse + fine MSE backward."""
    nn, F = L.nn, L.nn.functional

    def encode(x, bands=3):
        # x, then sin and cos of x * 2^k for k = 0 .. bands - 1
        feats = [x]
        for f in 2. ** L.linspace(0., bands - 1, steps=bands, dtype=x.dtype):
            feats += [L.sin(x * f), L.cos(x * f)]
        return L.cat(feats, -1)

    def render(raw, depths, dirs):
        # segment lengths along each ray (the last one "infinite"), scaled to world units
        gaps = depths[..., 1:] - depths[..., :-1]
        last = L.tensor([1e10], dtype=depths.dtype).expand(gaps[..., :1].shape)
        gaps = L.cat([gaps, last], -1) * L.norm(dirs[..., None, :], dim=-1)
        opacity = 1. - L.exp(-F.relu(raw[..., 3]) * gaps)
        # light reaching each sample: product of (1 - opacity) over the samples before it
        ones = L.ones((opacity.shape[0], 1), dtype=opacity.dtype)
        reach = L.cumprod(L.cat([ones, 1. - opacity + 1e-10], -1), -1)[:, :-1]
        w = opacity * reach
        coverage = L.sum(w, -1)
        colour = L.sum(w[..., None] * L.sigmoid(raw[..., :3]), -2) + (1. - coverage[..., None])
        return colour, L.sum(w * depths, -1), coverage, w

    def inverse_cdf(edges, w, n):
        # n deterministic draws (evenly spaced u) from the piecewise-constant pdf over bins
        pdf = (w + 1e-5) / L.sum(w + 1e-5, -1, keepdim=True)
        cdf = L.cat([L.zeros_like(pdf[..., :1]), L.cumsum(pdf, -1)], -1)
        u = L.linspace(0., 1., steps=n, dtype=edges.dtype)
        u = u.expand(list(cdf.shape[:-1]) + [n]).contiguous()
        hi_idx = L.searchsorted(cdf, u, right=True)
        lo = L.max(L.zeros_like(hi_idx - 1), hi_idx - 1)
        hi = L.min((cdf.shape[-1] - 1) * L.ones_like(hi_idx), hi_idx)
        pair = L.stack([lo, hi], -1)
        shape = [pair.shape[0], pair.shape[1], cdf.shape[-1]]
        c = L.gather(cdf.unsqueeze(1).expand(shape), 2, pair)
        b = L.gather(edges.unsqueeze(1).expand(shape), 2, pair)
        span = c[..., 1] - c[..., 0]
        span = L.where(span < 1e-5, L.ones_like(span), span)
        return b[..., 0] + (u - c[..., 0]) / span * (b[..., 1] - b[..., 0])

    L.manual_seed(37)
    mlp = nn.Sequential(nn.Linear(21, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    n_rays, n_samples = 3, 6
    rays_o, rays_d = _t(L, n_rays, 3, scale=0.1, seed=38), _t(L, n_rays, 3, seed=39)
    near, far = 2., 6.
    t_vals = L.linspace(0., 1., steps=n_samples, dtype=L.float64)
    z_vals = (near * (1. - t_vals) + far * t_vals).expand([n_rays, n_samples])
    # stratified: one uniform draw inside each sample's interval
    mids = .5 * (z_vals[..., 1:] + z_vals[..., :-1])
    upper, lower = L.cat([mids, z_vals[..., -1:]], -1), L.cat([z_vals[..., :1], mids], -1)
    z_vals = lower + (upper - lower) * L.rand(z_vals.shape, dtype=L.float64)

    def points(z):
        return rays_o[..., None, :] + rays_d[..., None, :] * z[..., :, None]

    rgb0, depth0, acc0, weights = render(mlp(encode(points(z_vals))), z_vals, rays_d)
    z_mid = .5 * (z_vals[..., 1:] + z_vals[..., :-1])
    z_fine = inverse_cdf(z_mid, weights[..., 1:-1], 5).detach()
    z_all, _ = L.sort(L.cat([z_vals, z_fine], -1), -1)
    rgb, depth, acc, _ = render(mlp(encode(points(z_all))), z_all, rays_d)
    target = L.full((n_rays, 3), 0.5, dtype=L.float64)
    loss = F.mse_loss(rgb, target) + F.mse_loss(rgb0, target)
    loss.backward()
    psnr = -10. * L.log(loss) / L.log(L.tensor([10.], dtype=L.float64))
    return dict(rgb=rgb, depth=depth, acc=acc, z=z_all, loss=loss, psnr=psnr,
                grads=grads_of(mlp))


# ----------------------------------------------------------------------------------------------
# losses and self-supervision
# ----------------------------------------------------------------------------------------------
@program
def lovasz_hinge_loss_for_binary_segmentation(L):
    """The Lovasz hinge (Berman et al.): per image, signs 2y - 1, errors
    1 - logits * signs, sorted descending with their permutation, labels gathered by it,
    the Lovasz extension's gradient from cumsums of the sorted labels (intersection and
    union, jaccard[1:] - jaccard[:-1]), dot(F.relu(errors_sorted), grad); averaged over
    images; its gradient reaches the logits through sort's."""
    F = L.nn.functional

    def jaccard_steps(sorted_labels):
        # with the pixels sorted by error, the Jaccard loss of "the first i pixels predicted
        # wrong" for each i; its successive differences are the Lovasz extension's gradient
        positives = sorted_labels.sum()
        inter = positives - sorted_labels.float().cumsum(0)
        union = positives + (1 - sorted_labels).float().cumsum(0)
        loss = 1. - inter / union
        if len(sorted_labels) > 1:
            loss[1:] = loss[1:] - loss[:-1]
        return loss

    def hinge_one_image(scores, labels):
        if len(labels) == 0:
            return scores.sum() * 0.
        margins = 1. - scores * (2. * labels.float() - 1.)
        ordered, order = L.sort(margins, dim=0, descending=True)
        return L.dot(F.relu(ordered), jaccard_steps(labels[order.data]))

    logits = L.tensor(np.round(np.random.RandomState(40).randn(3, 4, 4), 3).astype(np.float32),
                      requires_grad=True)
    labels = L.tensor(_labels(48, 2, seed=41).reshape(3, 4, 4))
    losses = [hinge_one_image(lg.view(-1), lb.view(-1)) for lg, lb in zip(logits, labels)]
    loss = L.stack(losses).mean()
    loss.backward()
    empty = hinge_one_image(logits[0, :0, 0], labels[0, :0, 0])
    return dict(losses=losses, loss=loss, g=logits.grad, empty=empty)


@program
def simsiam_stop_gradient_and_dino_self_distillation(L):
    """SimSiam: a projector with BatchNorm1d (the last one affine=False), a bottleneck
    predictor, the symmetrised negative cosine -(p1 * z2.detach()) cosine with the stop
    gradient; DINO: a student and an EMA teacher (copy.deepcopy refused because of
    weight_norm, so a second model given the student's state dict, requires_grad False), a
    weight-normalised last layer whose weight_g is filled with 1 and frozen, teacher
    outputs centred by a buffer and sharpened (temperature 0.04), the cross-entropy summed
    over crop pairs except same-view ones, the centre updated by EMA under no_grad, the
    last layer's grads cancelled (p.grad = None) in the first epoch, the teacher's
    momentum update by torch._foreach_mul_ / _foreach_add_."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(42)
    backbone = nn.Sequential(nn.Linear(5, 6), nn.ReLU())
    projector = nn.Sequential(nn.Linear(6, 6, bias=False), nn.BatchNorm1d(6), nn.ReLU(),
                              nn.Linear(6, 4, bias=False), nn.BatchNorm1d(4, affine=False))
    predictor = nn.Sequential(nn.Linear(4, 2, bias=False), nn.BatchNorm1d(2), nn.ReLU(),
                              nn.Linear(2, 4))
    siam = nn.ModuleList([backbone, projector, predictor]).double()
    x1, x2 = _t(L, 4, 5, seed=43), _t(L, 4, 5, seed=44)
    z1, z2 = projector(backbone(x1)), projector(backbone(x2))
    p1, p2 = predictor(z1), predictor(z2)
    crit = nn.CosineSimilarity(dim=1)
    simsiam = -(crit(p1, z2.detach()).mean() + crit(p2, z1.detach()).mean()) * 0.5
    simsiam.backward()
    out = dict(simsiam=simsiam, gsiam=grads_of(siam))

    class ProjectionHead(nn.Module):
        """An MLP, an L2 normalisation, then a weight-normalised Linear whose norms are fixed
        at one (weight_g filled and frozen)."""

        def __init__(self, cin, cout):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(cin, 6), nn.GELU(), nn.Linear(6, 3))
            self.last_layer = nn.utils.weight_norm(nn.Linear(3, cout, bias=False))
            self.last_layer.weight_g.data.fill_(1)
            self.last_layer.weight_g.requires_grad = False

        def forward(self, x):
            return self.last_layer(F.normalize(self.mlp(x), dim=-1, p=2))

    student = nn.Sequential(nn.Linear(5, 4), nn.GELU(), ProjectionHead(4, 7)).double()
    copy_error = err(lambda: copy.deepcopy(student))
    teacher = nn.Sequential(nn.Linear(5, 4), nn.GELU(), ProjectionHead(4, 7)).double()
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    center = L.zeros(1, 7, dtype=L.float64)
    opt = L.optim.SGD([p for p in student.parameters() if p.requires_grad], lr=0.1)
    crops = [_t(L, 3, 5, seed=45 + i) for i in range(4)]
    losses = []
    for epoch in range(2):
        student_out = student(L.cat(crops)) / 0.1
        with L.no_grad():
            teacher_out = teacher(L.cat(crops[:2]))
        s_chunks = student_out.chunk(4)
        t_chunks = F.softmax((teacher_out - center) / 0.04, dim=-1).detach().chunk(2)
        total, n = 0, 0
        for iq, q in enumerate(t_chunks):
            for v in range(len(s_chunks)):
                if v == iq:
                    continue
                total = total + L.sum(-q * F.log_softmax(s_chunks[v], dim=-1), dim=-1).mean()
                n += 1
        loss = total / n
        opt.zero_grad()
        loss.backward()
        if epoch < 1:
            for name, p in student.named_parameters():
                if "last_layer" in name:
                    p.grad = None
        opt.step()
        with L.no_grad():
            batch_center = L.sum(teacher_out, dim=0, keepdim=True) / len(teacher_out)
            center = center * 0.9 + batch_center * (1 - 0.9)
            sp = [p.detach() for p in student.parameters()]
            tp = [p.detach() for p in teacher.parameters()]
            L._foreach_mul_(tp, 0.99)
            L._foreach_add_(tp, sp, alpha=1 - 0.99)
        losses.append(loss.item())
    out.update(copy_error=copy_error, losses=losses, center=center, teacher=teacher.state_dict(),
               g=student[2].last_layer.weight_v.grad)
    return out


@program
def siren_fitting_an_image_gradient_by_double_backward(L):
    """SIREN: sine layers with omega_0 = 30 on the first, the first layer's weights uniform
    in +-1/in and the others' in +-sqrt(6/in)/omega_0 under no_grad, coordinates from
    linspace/meshgrid flattened and requiring grad, the image gradient of the network by
    autograd.grad(create_graph=True, grad_outputs=ones_like), its Laplacian by a divergence
    loop, an MSE against a target gradient field fitted for three Adam steps."""
    nn = L.nn

    class Sine(nn.Module):
        """sin(omega * (W x + b)); the first layer's W uniform in +-1/fan_in, the later ones' in
        +-sqrt(6/fan_in)/omega, so that pre-activations keep unit scale through depth."""

        def __init__(self, cin, cout, first=False, omega=30.):
            super().__init__()
            self.omega = omega
            self.linear = nn.Linear(cin, cout)
            bound = 1 / cin if first else np.sqrt(6 / cin) / omega
            with L.no_grad():
                self.linear.weight.uniform_(-bound, bound)

        def forward(self, x):
            return L.sin(self.omega * self.linear(x))

    def d_dx(y, x):
        return L.autograd.grad(y, [x], grad_outputs=L.ones_like(y), create_graph=True)[0]

    def laplacian(y, x):
        g = d_dx(y, x)
        total = 0.
        for axis in range(g.shape[-1]):
            second = L.autograd.grad(g[..., axis], x, L.ones_like(g[..., axis]),
                                     create_graph=True)[0]
            total = total + second[..., axis:axis + 1]
        return total

    L.manual_seed(50)
    net = nn.Sequential(Sine(2, 8, first=True), Sine(8, 8),
                        nn.Linear(8, 1)).double()
    tensors = tuple(2 * [L.linspace(-1, 1, steps=4, dtype=L.float64)])
    grid = L.stack(L.meshgrid(*tensors, indexing="ij"), dim=-1).reshape(-1, 2)
    target = L.stack([L.cos(3 * grid[:, 0]), -L.sin(2 * grid[:, 1])], -1)
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        coords = grid.clone().detach().requires_grad_(True)
        out = net(coords)
        g = d_dx(out, coords)
        loss = ((g - target) ** 2).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    coords = grid.clone().requires_grad_(True)
    lap = laplacian(net(coords), coords)
    return dict(losses=losses, lap=lap.detach(), w=net[0].linear.weight, g=grads_of(net))


@program
def bifpn_fast_normalized_fusion_with_separable_convs(L):
    """A BiFPN-style layer (EfficientDet's design) over three levels: merge weights as float32
    Parameters of ones, relu'd and normalised by their sum + 1e-4, a coarse-to-fine path by
    nearest upsampling (F.interpolate scale_factor=2) and a fine-to-coarse one by
    max_pool2d(3, 2, padding=1), depthwise-separable convs followed by
    BatchNorm2d(momentum=0.01, eps=1e-3) after x * sigmoid(x); training-mode forward,
    backward and a Nesterov SGD step."""
    nn, F = L.nn, L.nn.functional

    class DepthwiseThenPointwise(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.per_channel = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
            self.mix = nn.Conv2d(c, c, 1)
            self.norm = nn.BatchNorm2d(c, momentum=0.01, eps=1e-3)

        def forward(self, x):
            return self.norm(self.mix(self.per_channel(x)))

    class TwoWayPyramid(nn.Module):
        """Levels 3-5 (finest first): a coarse-to-fine pass refining level 4 and then 3, a
        fine-to-coarse pass refining 4 and then 5; every merge is a weighted sum whose
        weights are relu'd and divided by their total (plus 1e-4), then x * sigmoid(x) and a
        separable convolution."""

        def __init__(self, c):
            super().__init__()
            self.td4, self.td3 = DepthwiseThenPointwise(c), DepthwiseThenPointwise(c)
            self.bu4, self.bu5 = DepthwiseThenPointwise(c), DepthwiseThenPointwise(c)
            self.mix_td4 = nn.Parameter(L.ones(2, dtype=L.float32))
            self.mix_td3 = nn.Parameter(L.ones(2, dtype=L.float32))
            self.mix_bu4 = nn.Parameter(L.ones(3, dtype=L.float32))
            self.mix_bu5 = nn.Parameter(L.ones(2, dtype=L.float32))
            self.relu = nn.ReLU()

        def merge(self, conv, raw, *maps):
            w = self.relu(raw)
            w = w / (L.sum(w, dim=0) + 1e-4)
            total = sum(w[i] * m for i, m in enumerate(maps))
            return conv(total * L.sigmoid(total))

        def forward(self, levels):
            c3, c4, c5 = levels

            def finer(t):
                return F.interpolate(t, scale_factor=2, mode="nearest")

            def coarser(t):
                return F.max_pool2d(t, 3, 2, padding=1)

            mid4 = self.merge(self.td4, self.mix_td4, c4, finer(c5))
            out3 = self.merge(self.td3, self.mix_td3, c3, finer(mid4))
            out4 = self.merge(self.bu4, self.mix_bu4, c4, mid4, coarser(out3))
            out5 = self.merge(self.bu5, self.mix_bu5, c5, coarser(out4))
            return out3, out4, out5

    L.manual_seed(51)
    fpn = TwoWayPyramid(3).double()
    feats = [_t(L, 2, 3, 8 // 2 ** i, 8 // 2 ** i, seed=52 + i) for i in range(3)]
    outs = fpn(feats)
    loss = sum(o.square().mean() for o in outs)
    opt = L.optim.SGD(fpn.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    opt.zero_grad()
    loss.backward()
    grads = grads_of(fpn)
    opt.step()
    return dict(outs=list(outs), loss=loss, grads=grads, w=fpn.mix_bu4,
                rm=fpn.bu4.norm.running_mean)


@program
def lpips_style_perceptual_distance_with_forward_hooks(L):
    """An LPIPS-style distance: a small feature network whose intermediate activations are
    caught by register_forward_hook into a dict (the handles removed after), the input
    scaled by a module's registered shift/scale buffers, features unit-normalised by
    sqrt(sum of squares over channels) + eps, squared differences weighted by 1x1 'lin'
    convs with Dropout (eval mode) and spatially averaged with keepdim; the distance of two
    images and the gradient to the first, plus the hooks' call count."""
    nn = L.nn

    class InputShift(nn.Module):
        """(x - shift) / scale per channel, both held as registered buffers."""

        def __init__(self):
            super().__init__()
            self.register_buffer("shift", L.tensor([-.030, -.088, -.188])[None, :, None, None])
            self.register_buffer("scale", L.tensor([.458, .448, .450])[None, :, None, None])

        def forward(self, x):
            return (x - self.shift) / self.scale

    def unit_channels(x, eps=1e-10):
        return x / (L.sqrt(L.sum(x ** 2, dim=1, keepdim=True)) + eps)

    L.manual_seed(56)
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=False),
                             nn.MaxPool2d(2), nn.Conv2d(4, 5, 3, padding=1),
                             nn.ReLU(inplace=False))
    lins = nn.ModuleList([nn.Sequential(nn.Dropout(), nn.Conv2d(c, 1, 1, bias=False))
                          for c in (4, 5)])
    scaling = InputShift()
    model = nn.ModuleList([features, lins, scaling]).double().eval()
    caught, calls = {}, []

    def hook_for(name):
        def hook(module, inputs, output):
            caught[name] = output
            calls.append(name)
        return hook

    handles = [features[1].register_forward_hook(hook_for("relu1")),
               features[4].register_forward_hook(hook_for("relu2"))]
    x0 = _t(L, 2, 3, 6, 6, scale=0.5, seed=57, grad=True)
    x1 = _t(L, 2, 3, 6, 6, scale=0.5, seed=58)
    feats = []
    for img in (x0, x1):
        features(scaling(img))
        feats.append([unit_channels(caught[k]) for k in ("relu1", "relu2")])
    for h in handles:
        h.remove()
    features(scaling(x1))
    diffs = [(f0 - f1) ** 2 for f0, f1 in zip(*feats)]
    res = [lins[i](d).mean([2, 3], keepdim=True) for i, d in enumerate(diffs)]
    val = sum(res)
    val.sum().backward()
    return dict(val=val, g=x0.grad, calls=calls, glin=grads_of(lins),
                buffers=list(dict(model.named_buffers())))



# ----------------------------------------------------------------------------------------------
# diffusion backbones and latent autoencoders
# ----------------------------------------------------------------------------------------------
@program
def dit_adaln_zero_blocks_timestep_embedding_and_guidance(L):
    """DiT's facts: the sinusoidal timestep embedding (exp(-log(max_period) * arange / half),
    cos and sin concatenated), a label embedding with a null class for dropout, adaLN-Zero blocks
    (SiLU + Linear to 6 chunks, modulate = x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1),
    gated residuals; the modulation and final layers zero-initialised by
    nn.init.constant_), LayerNorm(elementwise_affine=False, eps=1e-6), the patch embedding
    and unpatchify by einsum('nhwpqc->nchpwq'), learned sigma split off by chunk; one AdamW
    step, then classifier-free guidance: the batch doubled by cat, the outputs split and
    mixed with a scale, only on the first three channels."""
    nn, F = L.nn, L.nn.functional

    def sinusoid(t, dim, max_period=10000):
        # cos, then sin, of t * max_period ** (-i / half) for i = 0 .. half - 1
        half = dim // 2
        rates = L.exp(-math.log(max_period) * L.arange(start=0, end=half, dtype=L.float32)
                      / half).to(device=t.device)
        phase = t[:, None].float() * rates[None]
        return L.cat([L.cos(phase), L.sin(phase)], dim=-1)

    def shift_scale(x, shift, scale):
        return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)

    def zero_last(seq):
        # adaLN-Zero: each conditioning projection starts as exactly zero
        nn.init.constant_(seq[-1].weight, 0)
        nn.init.constant_(seq[-1].bias, 0)

    def plain_norm(h):
        return nn.LayerNorm(h, elementwise_affine=False, eps=1e-6)

    class CondBlock(nn.Module):
        def __init__(self, h, heads):
            super().__init__()
            self.pre_attn, self.pre_mlp = plain_norm(h), plain_norm(h)
            self.attn = nn.MultiheadAttention(h, heads, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(h, 2 * h), nn.GELU(approximate="tanh"),
                                     nn.Linear(2 * h, h))
            self.cond = nn.Sequential(nn.SiLU(), nn.Linear(h, 6 * h, bias=True))

        def forward(self, x, c):
            a_shift, a_scale, a_gate, m_shift, m_scale, m_gate = self.cond(c).chunk(6, dim=1)
            z = shift_scale(self.pre_attn(x), a_shift, a_scale)
            x = x + a_gate.unsqueeze(1) * self.attn(z, z, z, need_weights=False)[0]
            z = shift_scale(self.pre_mlp(x), m_shift, m_scale)
            return x + m_gate.unsqueeze(1) * self.mlp(z)

    class Denoiser(nn.Module):
        def __init__(self, p=2, cin=3, h=8, classes=3):
            super().__init__()
            self.p, self.cout = p, 2 * cin            # noise and a variance per channel
            self.patch = nn.Conv2d(cin, h, p, stride=p)
            self.time = nn.Sequential(nn.Linear(16, h), nn.SiLU(), nn.Linear(h, h))
            self.label = nn.Embedding(classes + 1, h)  # the last row: "no label"
            self.blocks = nn.ModuleList([CondBlock(h, 2) for _ in range(2)])
            self.out_norm = plain_norm(h)
            self.out = nn.Linear(h, p * p * self.cout)
            self.out_cond = nn.Sequential(nn.SiLU(), nn.Linear(h, 2 * h))
            for seq in [b.cond for b in self.blocks] + [self.out_cond]:
                zero_last(seq)

        def to_image(self, tokens):
            n, p, c = tokens.shape[0], self.p, self.cout
            side = int(tokens.shape[1] ** 0.5)
            grid = tokens.reshape(shape=(n, side, side, p, p, c))
            return L.einsum("nhwpqc->nchpwq", grid).reshape(shape=(n, c, side * p, side * p))

        def forward(self, x, t, y):
            tokens = self.patch(x).flatten(2).transpose(1, 2)
            c = self.time(sinusoid(t, 16)) + self.label(y)
            for block in self.blocks:
                tokens = block(tokens, c)
            shift, scale = self.out_cond(c).chunk(2, dim=1)
            return self.to_image(self.out(shift_scale(self.out_norm(tokens), shift, scale)))

        def guided(self, x, t, y, weight):
            # the first half run twice (its labels, then the null label); the noise mixed
            first = x[: len(x) // 2]
            out = self.forward(L.cat([first, first], dim=0), t, y)
            noise, rest = out[:, :3], out[:, 3:]
            with_label, without = L.split(noise, len(noise) // 2, dim=0)
            mixed = without + weight * (with_label - without)
            return L.cat([L.cat([mixed, mixed], dim=0), rest], dim=1)

    L.manual_seed(60)
    model = Denoiser()
    x = _t(L, 2, 3, 4, 4, seed=61).float()
    t = L.tensor([3, 70])
    y = L.tensor([0, 2])
    out = model(x, t, y)
    eps_pred, var_pred = out.chunk(2, dim=1)
    loss = F.mse_loss(eps_pred, x) + var_pred.pow(2).mean()
    opt = L.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0)
    opt.zero_grad()
    loss.backward()
    grads = {k: v for k, v in grads_of(model).items() if "cond" in k or k.startswith("out.")}
    opt.step()
    with L.no_grad():
        z = L.cat([x, x], 0)
        guided = model.guided(z, L.tensor([5, 5, 5, 5]), L.tensor([1, 2, 3, 3]), 4.0)
    return dict(out=out, loss=loss, grads=grads, guided=guided, temb=sinusoid(t, 16))


@program
def ldm_autoencoder_diagonal_gaussian_posterior_and_attention(L):
    """The latent-diffusion autoencoder's pieces: GroupNorm(eps=1e-6), the activation
    x * sigmoid(x), a residual block with a 1x1 shortcut when widths differ, a downsampling
    conv of stride 2 after F.pad((0, 1, 0, 1), mode='constant', value=0), spatial
    self-attention (q/k/v 1x1 convs, reshape/permute, bmm scaled by c ** -0.5,
    softmax(dim=2)), a diagonal Gaussian posterior (chunk(2, dim=1), log-variance clamped to
    [-30, 20], a sample with randn after manual_seed, KL and NLL summed over [1, 2, 3], the
    mode), an upsampling by nearest interpolate and conv; the VAE loss (L1 + KL weight)
    backward."""
    nn, F = L.nn, L.nn.functional

    def gn(c):
        return nn.GroupNorm(num_groups=2, num_channels=c, eps=1e-6, affine=True)

    def swish(x):
        return x * L.sigmoid(x)

    class Res(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.n1, self.c1 = gn(cin), nn.Conv2d(cin, cout, 3, 1, 1)
            self.n2, self.c2 = gn(cout), nn.Conv2d(cout, cout, 3, 1, 1)
            self.drop = nn.Dropout(0.0)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

        def forward(self, x):
            h = self.c1(swish(self.n1(x)))
            return self.skip(x) + self.c2(self.drop(swish(self.n2(h))))

    class PixelAttention(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.norm = gn(c)
            self.qkv = nn.ModuleList([nn.Conv2d(c, c, 1) for _ in range(3)])
            self.out = nn.Conv2d(c, c, 1)

        def forward(self, x):
            b, c, hh, ww = x.shape
            z = self.norm(x)
            q, k, v = (conv(z).reshape(b, c, hh * ww) for conv in self.qkv)
            # weights[b, i, j]: how much pixel i reads pixel j (a softmax over j)
            weights = F.softmax(L.bmm(q.permute(0, 2, 1), k) * (int(c) ** (-0.5)), dim=2)
            return x + self.out(L.bmm(v, weights.permute(0, 2, 1)).reshape(b, c, hh, ww))

    class PadDown(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, stride=2, padding=0)

        def forward(self, x):
            return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))

    class Posterior:
        """A Gaussian per latent element, mean and log-variance stacked on the channels."""

        def __init__(self, moments):
            self.mean, logvar = L.chunk(moments, 2, dim=1)
            self.logvar = L.clamp(logvar, -30.0, 20.0)

        def sample(self):
            noise = L.randn(self.mean.shape).to(device=self.mean.device, dtype=self.mean.dtype)
            return self.mean + L.exp(0.5 * self.logvar) * noise

        def kl(self):
            # KL(N(mean, var) || N(0, 1)), summed over channels and pixels
            return 0.5 * L.sum(L.pow(self.mean, 2) + L.exp(self.logvar) - 1.0 - self.logvar,
                               dim=[1, 2, 3])

        def nll(self, x, dims=(1, 2, 3)):
            sq = L.pow(x - self.mean, 2) / L.exp(self.logvar)
            return 0.5 * L.sum(np.log(2.0 * np.pi) + self.logvar + sq, dim=dims)

        def mode(self):
            return self.mean

    L.manual_seed(62)
    enc = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1), Res(4, 4), PadDown(4),
                        Res(4, 6), PixelAttention(6), gn(6), nn.SiLU(),
                        nn.Conv2d(6, 4, 3, 1, 1)).double()
    dec = nn.Sequential(nn.Conv2d(2, 6, 3, 1, 1), PixelAttention(6), Res(6, 4),
                        nn.Upsample(scale_factor=2.0, mode="nearest"), nn.Conv2d(4, 4, 3, 1, 1),
                        gn(4), nn.SiLU(), nn.Conv2d(4, 3, 3, 1, 1)).double()
    x = _t(L, 2, 3, 6, 6, seed=63)
    posterior = Posterior(enc(x))
    L.manual_seed(64)
    z = posterior.sample()
    rec = dec(z)
    kl = posterior.kl()
    loss = L.abs(x.contiguous() - rec.contiguous()).sum() / rec.shape[0] + 1e-6 * kl.mean()
    loss.backward()
    return dict(z=z, rec=rec, kl=kl, nll=posterior.nll(z), mode=posterior.mode(), loss=loss,
                genc=grads_of(enc), gdec=grads_of(dec))


# ----------------------------------------------------------------------------------------------
# flow, saliency and deformable sampling
# ----------------------------------------------------------------------------------------------
@program
def raft_correlation_pyramid_bilinear_lookup_and_sequence_loss(L):
    """RAFT's pieces, in our code: a pixel grid by meshgrid(arange) stacked as (x, y) with
    [::-1], all-pairs correlation by matmul of flattened features / sqrt(dim), a pyramid by
    avg_pool2d(2, stride=2), the lookup by bilinear_sampler (split([1, 1], dim=-1), pixel
    coordinates normalised to [-1, 1], grid_sample with align_corners=True) over a radius window
    from linspace and meshgrid(indexing='ij'), a small update loop producing flows, upflow8 by
    interpolate(bilinear, align_corners=True) * 8, and the sequence loss with gamma ** (n - i -
    1) weights, the valid mask and the EPE metrics."""
    nn, F = L.nn, L.nn.functional

    def pixel_grid(batch, ht, wd, dtype):
        # (batch, 2, ht, wd): channel 0 the x (column) coordinate, channel 1 the y (row)
        rows, cols = L.meshgrid(L.arange(ht, dtype=dtype), L.arange(wd, dtype=dtype),
                                indexing="ij")
        return L.stack((rows, cols)[::-1], dim=0)[None].repeat(batch, 1, 1, 1)

    def sample_at_pixels(img, xy):
        # grid_sample wants [-1, 1]; align_corners=True maps -1 and 1 to the corner pixels
        h, w = img.shape[-2:]
        x, y = xy.split([1, 1], dim=-1)
        return F.grid_sample(img, L.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1),
                             align_corners=True)

    class CostVolume:
        """All-pairs feature correlations, average-pooled into a pyramid over the second
        image's pixels, read around a position by bilinear sampling in a square window."""

        def __init__(self, f1, f2, levels=2, radius=1):
            self.levels, self.radius = levels, radius
            n, c, h, w = f1.shape
            pairs = L.matmul(f1.view(n, c, h * w).transpose(1, 2), f2.view(n, c, h * w))
            pairs = pairs.view(n, h, w, 1, h, w) / L.sqrt(L.tensor(c).float())
            level = pairs.reshape(n * h * w, 1, h, w).to(f1.dtype)
            self.pyramid = [level]
            for _ in range(levels - 1):
                level = F.avg_pool2d(level, 2, stride=2)
                self.pyramid.append(level)

        def window(self, dtype):
            r = self.radius
            steps = L.linspace(-r, r, 2 * r + 1, dtype=dtype)
            return L.stack(L.meshgrid(steps, steps, indexing="ij"), dim=-1)

        def __call__(self, xy):
            xy = xy.permute(0, 2, 3, 1)
            n, h, w, _ = xy.shape
            side = 2 * self.radius + 1
            offsets = self.window(xy.dtype).view(1, side, side, 2)
            looked = []
            for k, level in enumerate(self.pyramid):
                where = xy.reshape(n * h * w, 1, 1, 2) / 2 ** k + offsets
                looked.append(sample_at_pixels(level, where).view(n, h, w, -1))
            return L.cat(looked, dim=-1).permute(0, 3, 1, 2).contiguous().float()

    L.manual_seed(65)
    fnet = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(4, 4, 1))
    update = nn.Sequential(nn.Conv2d(18 + 2, 8, 3, padding=1), nn.ReLU(),
                           nn.Conv2d(8, 2, 3, padding=1))
    img1, img2 = _t(L, 1, 3, 8, 8, seed=66).float(), _t(L, 1, 3, 8, 8, seed=67).float()
    f1, f2 = fnet(img1), fnet(img2)
    corr_fn = CostVolume(f1, f2)
    coords0 = pixel_grid(1, 4, 4, f1.dtype)
    coords1 = coords0.clone()
    preds = []
    for _ in range(3):
        coords1 = coords1.detach()
        corr = corr_fn(coords1)
        coords1 = coords1 + update(L.cat([corr, coords1 - coords0], dim=1))
        # the flow at 1/2 resolution, upsampled and scaled (8 as in RAFT's 1/8 maps)
        preds.append(8 * F.interpolate(coords1 - coords0, size=(8, 8), mode="bilinear",
                                       align_corners=True))
    flow_gt = _t(L, 1, 2, 8, 8, seed=68).float()
    small = (flow_gt.abs() < 1.5).all(dim=1).float()
    valid = (small >= 0.5) & (L.sum(flow_gt ** 2, dim=1).sqrt() < 400)
    n, gamma, flow_loss = len(preds), 0.8, 0.0
    for i, pred in enumerate(preds):          # later iterations weigh more
        flow_loss += gamma ** (n - i - 1) * (valid[:, None] * (pred - flow_gt).abs()).mean()
    epe = L.sum((preds[-1] - flow_gt) ** 2, dim=1).sqrt().view(-1)[valid.view(-1)]
    metrics = {"epe": epe.mean().item(), "1px": (epe < 1).float().mean().item()}
    flow_loss.backward()
    return dict(loss=flow_loss, preds=[p.detach() for p in preds], metrics=metrics,
                gf=grads_of(fnet), gu=grads_of(update), pyr=corr_fn.pyramid[1])


@program
def grad_cam_plus_plus_with_full_backward_hooks(L):
    """Grad-CAM++: a forward hook keeps the target layer's activations and a full backward
    hook its output gradient (grad_output[0]), the class score's exp-trick alphas
    (grads^2 / (2 grads^2 + sum(A) grads^3), where over a zero denominator), weights from
    relu(grads) * alphas summed spatially, the map relu'd, upsampled by
    interpolate(bilinear, align_corners=False) and min-max normalised per image by amin and
    amax over dims (1, 2, 3) with keepdim; a global forward hook counts the module calls;
    model.zero_grad(set_to_none=True) before the backward."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(69)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3),
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(5, 3)).double().eval()
    saved, seen = {}, []

    def fwd_hook(module, inp, out):
        saved["act"] = out.detach()

    def bwd_hook(module, grad_input, grad_output):
        saved["grad"] = grad_output[0].detach()

    target = model[2]
    h1 = target.register_forward_hook(fwd_hook)
    h2 = target.register_full_backward_hook(bwd_hook)
    h3 = nn.modules.module.register_module_forward_hook(
        lambda m, i, o: seen.append(type(m).__name__))
    try:
        x = _t(L, 2, 3, 6, 6, seed=70, grad=True)
        logits = model(x)
        cls = logits.argmax(dim=1)
        model.zero_grad(set_to_none=True)
        score = logits.gather(1, cls[:, None]).sum()
        score.backward()
    finally:
        h1.remove()
        h2.remove()
        h3.remove()
    model(x)
    A, grads = saved["act"], saved["grad"]
    grads_power_2, grads_power_3 = grads ** 2, grads ** 3
    sum_activations = L.sum(A, dim=(2, 3))
    aij = grads_power_2 / (2 * grads_power_2 + sum_activations[:, :, None, None] *
                           grads_power_3 + 1e-7)
    aij = L.where(grads != 0, aij, L.zeros_like(aij))
    weights = (F.relu(grads) * aij).sum(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * A).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
    lo = cam.amin(dim=(1, 2, 3), keepdim=True)
    hi = cam.amax(dim=(1, 2, 3), keepdim=True)
    cam = (cam - lo) / (hi - lo + 1e-8)
    return dict(cam=cam, cls=cls, gx=x.grad, seen=seen, gw=model[0].weight.grad)


@program
def deformable_convolution_by_grid_sample_and_offsets(L):
    """A deformable convolution written with grid_sample, as repositories do without
    torchvision's op: offsets from a 3x3 conv (initialised to small values), a base grid of
    kernel positions plus each output pixel's centre, the sampling positions normalised to
    [-1, 1] (align_corners=False convention), bilinear sampling with zeros padding of all
    K*K positions at once from an (N, H, W*K*K, 2) grid, a modulation mask by sigmoid
    (DCNv2), then the weighted sum as an einsum with the kernel; gradients to the input,
    the offsets' conv and the weight."""
    nn, F = L.nn, L.nn.functional
    N, C, H, W, K, Cout = 1, 2, 5, 5, 3, 3
    L.manual_seed(71)
    offset_conv = nn.Conv2d(C, 3 * K * K, 3, padding=1).double()
    nn.init.normal_(offset_conv.weight, std=0.05)
    nn.init.zeros_(offset_conv.bias)
    weight = nn.Parameter(_t(L, Cout, C, K, K, scale=0.3, seed=72))
    x = _t(L, N, C, H, W, seed=73, grad=True)
    om = offset_conv(x)
    o1, o2, mask = L.chunk(om, 3, dim=1)
    offset = L.cat((o1, o2), dim=1).view(N, K * K, 2, H, W)
    mask = L.sigmoid(mask)
    ky, kx = L.meshgrid(L.arange(-(K // 2), K // 2 + 1, dtype=L.float64),
                        L.arange(-(K // 2), K // 2 + 1, dtype=L.float64), indexing="ij")
    base = L.stack([ky.reshape(-1), kx.reshape(-1)], 1).view(1, K * K, 2, 1, 1)
    cy, cx = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    centre = L.stack([cy, cx], 0).view(1, 1, 2, H, W)
    pos = centre + base + offset
    gx = (pos[:, :, 1] + 0.5) / W * 2 - 1
    gy = (pos[:, :, 0] + 0.5) / H * 2 - 1
    grid = L.stack([gx, gy], -1).permute(0, 2, 3, 1, 4).reshape(N, H, W * K * K, 2)
    sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros",
                            align_corners=False).view(N, C, H, W, K * K)
    sampled = sampled * mask.permute(0, 2, 3, 1).unsqueeze(1)
    out = L.einsum("nchwk,ock->nohw", sampled, weight.view(Cout, C, K * K))
    plain = F.conv2d(x, weight, padding=1)
    (out.square().mean() + 0.1 * offset.abs().mean()).backward()
    return dict(out=out, plain=plain, gx=x.grad, gw=weight.grad, goff=offset_conv.weight.grad)



@program
def lazy_r1_regularization_step_through_a_prelu_discriminator(L):
    """StyleGAN2's lazy regularisation: every other discriminator step backs up only the R1
    penalty (scaled by the interval, plus 0 * real_pred[0] as rosinality's code does) and
    steps Adam; then the penalty's gradient with respect to the parameters by
    autograd.grad, as a functional (MAML-style) update takes it.  The convolutions are
    followed by PReLU, so the penalty reaches the parameters before each PReLU only through
    its kink: PyTorch gives them zero gradients, not none (minigrad gave none: fixed); the
    last bias is unused (allow_unused, then materialize_grads for the update)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(80)
    D = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.PReLU(3), nn.Conv2d(3, 3, 3, stride=2),
                      nn.PReLU(), nn.Flatten(), nn.Linear(12, 1)).double()
    opt = L.optim.Adam(D.parameters(), lr=0.01, betas=(0.0, 0.99))
    real, fake = _t(L, 3, 2, 5, 5, seed=81), _t(L, 3, 2, 5, 5, seed=82)
    d_reg_every, r1_gamma = 2, 10.0
    record = []
    for step in range(4):
        loss = F.softplus(D(fake)).mean() + F.softplus(-D(real)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % d_reg_every == 0:
            real.requires_grad = True
            real_pred = D(real)
            grad_real, = L.autograd.grad(outputs=real_pred.sum(), inputs=real,
                                         create_graph=True)
            r1 = grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()
            opt.zero_grad()
            (r1_gamma / 2 * r1 * d_reg_every + 0 * real_pred[0]).backward()
            record.append(dict(r1=r1, grads=grads_of(D), real=real.grad))
            opt.step()
            real = real.detach()
    real.requires_grad_(True)
    g, = L.autograd.grad(D(real).sum(), real, create_graph=True)
    names, params = zip(*D.named_parameters())
    meta = L.autograd.grad(g.square().sum(), params, retain_graph=True, allow_unused=True)
    full = L.autograd.grad(g.square().sum(), params, allow_unused=True,
                           materialize_grads=True)
    fast = {n: p - 0.1 * d for n, p, d in zip(names, params, full)}
    out = L.func.functional_call(D, fast, (fake,))
    return dict(record=record, D=D.state_dict(), state=opt.state_dict()["state"],
                meta=dict(zip(names, meta)), out=out)



@program
def path_length_regularization_through_reflection_and_replication_pads(L):
    """StyleGAN2's path-length regulariser on a generator whose convolutions are preceded by
    ReflectionPad2d and ReplicationPad2d: image noise scaled by 1/sqrt(H W), the gradient
    with respect to the latents by autograd.grad(create_graph=True), path lengths, their
    running mean updated by lerp with decay 0.01 (detached), the penalty backed up alone
    every other step (lazy regularisation) and Adam stepping.  The first layer reaches the
    penalty only through the pads' inputs: PyTorch gives its bias a zero gradient, not none
    (minigrad gave none, so Adam skipped it: fixed)."""
    nn = L.nn
    L.manual_seed(100)
    G = nn.Sequential(nn.Linear(3, 2 * 3 * 3), nn.Unflatten(1, (2, 3, 3)), nn.ReflectionPad2d(1),
                      nn.Conv2d(2, 3, 3), nn.ReplicationPad2d((1, 1, 0, 2)),
                      nn.Conv2d(3, 3, (3, 3))).double()
    opt = L.optim.Adam(G.parameters(), lr=0.01)
    mean_path_length = L.zeros((), dtype=L.float64)
    rec = []
    for step in range(4):
        z = _t(L, 4, 3, seed=101 + step, grad=True)
        fake = G(z)
        if step % 2 == 0:
            loss = fake.square().mean()
        else:
            L.manual_seed(110 + step)
            noise = L.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
            grad, = L.autograd.grad(outputs=(fake * noise).sum(), inputs=z, create_graph=True)
            path_lengths = L.sqrt(grad.pow(2).sum(1))
            path_mean = mean_path_length + 0.01 * (path_lengths.mean() - mean_path_length)
            loss = (path_lengths - path_mean).pow(2).mean()
            mean_path_length = path_mean.detach()
        opt.zero_grad()
        loss.backward()
        rec.append(dict(loss=loss, grads=grads_of(G)))
        opt.step()
    return dict(rec=rec, G=G.state_dict(), mean=mean_path_length, fake=fake)


@program
def segmentation_training_with_ohem_dice_poly_lr_and_miou(L):
    """A semantic-segmentation training loop as the segmentation repositories write it:
    labels with 255 as the ignore index, logits resized to the label by bilinear
    interpolate (align_corners False for the head, True for the auxiliary head), weighted
    cross-entropy with ignore_index, OHEM (per-pixel losses, the valid ones kept by a mask,
    sorted, a threshold), a soft Dice over one_hot(clamp) masked labels, SGD with nesterov
    and two parameter groups under a poly LambdaLR, then the confusion matrix by bincount,
    per-class IoU from its diagonal and nanmean."""
    nn, F = L.nn, L.nn.functional
    C, ignore = 4, 255
    L.manual_seed(130)
    backbone = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.BatchNorm2d(6), nn.ReLU())
    head = nn.Conv2d(6, C, 1)
    aux = nn.Conv2d(6, C, 1)
    model = nn.ModuleDict(dict(backbone=backbone, head=head, aux=aux)).double()
    base_lr, max_iter = 0.05, 4
    opt = L.optim.SGD([{"params": backbone.parameters(), "lr": base_lr},
                       {"params": list(head.parameters()) + list(aux.parameters()),
                        "lr": base_lr * 10}],
                      lr=base_lr, momentum=0.9, weight_decay=1e-4, nesterov=True)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 - it / max_iter) ** 0.9)
    img = _t(L, 2, 3, 8, 8, seed=131)
    label = L.tensor(_labels(128, C, seed=132).reshape(2, 8, 8))
    label[:, :2, :3] = ignore
    weight = L.tensor([1.0, 2.0, 0.5, 1.5], dtype=L.float64)
    hist = L.zeros(C, C, dtype=L.int64)
    rec = []
    for it in range(max_iter):
        feat = backbone(img)
        logits = F.interpolate(head(feat), size=label.shape[-2:], mode="bilinear",
                               align_corners=False)
        aux_logits = F.interpolate(aux(feat), size=label.shape[-2:], mode="bilinear",
                                   align_corners=True)
        main = F.cross_entropy(logits, label, weight=weight, ignore_index=ignore)
        pixel = F.cross_entropy(aux_logits, label, ignore_index=ignore, reduction="none").view(-1)
        valid = label.view(-1) != ignore
        pixel = pixel[valid]
        n_min = int(pixel.numel() * 0.25)
        sorted_loss, _ = L.sort(pixel, descending=True)
        thresh = sorted_loss[n_min]
        hard = pixel[pixel > thresh] if (sorted_loss > 0.7).sum() < n_min else \
            pixel[pixel > 0.7]
        ohem = hard.mean() if hard.numel() > 0 else sorted_loss[:n_min].mean()
        probs = logits.softmax(1)
        onehot = F.one_hot(label.clamp(max=C - 1), C).permute(0, 3, 1, 2).to(probs.dtype)
        mask = (label != ignore).unsqueeze(1).to(probs.dtype)
        inter = (probs * onehot * mask).sum((0, 2, 3))
        union = (probs * mask).sum((0, 2, 3)) + (onehot * mask).sum((0, 2, 3))
        dice = 1 - ((2 * inter + 1) / (union + 1)).mean()
        loss = main + 0.4 * ohem + 0.5 * dice
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        with L.no_grad():
            pred = logits.argmax(1)
            k = (label >= 0) & (label < C)
            hist += L.bincount(C * label[k].to(L.int64) + pred[k],
                               minlength=C ** 2).reshape(C, C)
        rec.append(dict(loss=loss.item(), ohem=ohem, dice=dice, lr=sched.get_last_lr()))
    iu = L.diag(hist) / (hist.sum(1) + hist.sum(0) - L.diag(hist))
    acc = L.diag(hist).sum() / hist.sum()
    return dict(rec=rec, hist=hist, iu=iu, miou=L.nanmean(iu), acc=acc, g=grads_of(model))


@program
def fractional_max_pooling_discriminator_with_a_gradient_penalty(L):
    """Graham's fractional max pooling in a small discriminator (2-d, with return_indices,
    and 3-d on an unbatched volume, by output_ratio), seeded _random_samples, a WGAN-GP
    style penalty on the input gradient backed up alone, and a bfloat16 pass; the nodes
    must be PyTorch's FractionalMaxPool2D/3DBackward0 (minigrad's were a gather and a view,
    and the penalty gave the layers before the pool no gradient where PyTorch gives a zero
    one: fixed)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(150)
    conv = nn.Conv2d(3, 3, 3, padding=1).double()
    head = nn.Linear(36, 1).double()
    x = _t(L, 2, 3, 7, 6, seed=151, grad=True)
    s = L.tensor(np.random.RandomState(152).rand(2, 3, 2))
    y, idx = F.fractional_max_pool2d(conv(x), (2, 3), output_size=(4, 3), _random_samples=s,
                                     return_indices=True)
    score = head(y.flatten(1))
    g, = L.autograd.grad(score.sum(), x, create_graph=True)
    penalty = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    v = _t(L, 3, 5, 6, 5, seed=153, grad=True)
    s3 = L.tensor(np.random.RandomState(154).rand(1, 3, 3))
    y3 = F.fractional_max_pool3d(v, 2, output_ratio=0.5, _random_samples=s3)
    g3, = L.autograd.grad((y3 * y3).sum(), v, create_graph=True)
    g3.pow(2).sum().backward()
    xb = _t(L, 1, 2, 5, 5, seed=155).to(L.bfloat16).requires_grad_()
    yb = F.fractional_max_pool2d(xb, 2, output_size=3,
                                 _random_samples=L.full((1, 2, 2), 0.3, dtype=L.bfloat16))
    yb.float().sum().backward()
    return dict(y=y, idx=idx, penalty=penalty, gconv=grads_of(conv), gx=x.grad, y3=y3,
                g3=g3, gv=v.grad, yb=yb.float(), gb=xb.grad.float(),
                names=[y.grad_fn.name(), y3.grad_fn.name(), yb.grad_fn.name()])

# ----------------------------------------------------------------------------------------------
# torchvision's functional kernels
# ----------------------------------------------------------------------------------------------
@program
def torchvision_color_kernels_on_uint8_and_float_images(L):
    """torchvision's tensor colour kernels written anew, on a uint8 image and its float copy:
    rgb_to_grayscale by unbind and the (0.2989, 0.587, 0.114) weights, _blend's clamp and
    cast back, brightness/contrast/saturation, hue by the RGB->HSV->RGB round trip (fmod,
    floor, int32, a mask einsum), gamma, solarize, autocontrast (amin/amax with keepdim,
    masked writes where the scale is infinite), sharpness (a 3x3 depthwise conv, the border
    kept by a padded mask), posterize by bitwise and with a negative int, equalize by
    bincount/cumsum/floor division and a look-up table."""
    F = L.nn.functional
    def _max_value(dtype):
        return 255 if dtype == L.uint8 else 1.0
    def rgb_to_grayscale(img, num_output_channels=1):
        r, g, b = img.unbind(dim=-3)
        l_img = (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype)
        l_img = l_img.unsqueeze(dim=-3)
        if num_output_channels == 3:
            return l_img.expand(img.shape)
        return l_img
    def _blend(img1, img2, ratio):
        ratio = float(ratio)
        bound = _max_value(img1.dtype)
        return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, bound).to(img1.dtype)
    def adjust_brightness(img, f):
        return _blend(img, L.zeros_like(img), f)
    def adjust_contrast(img, f):
        dtype = img.dtype if L.is_floating_point(img) else L.float32
        mean = L.mean(rgb_to_grayscale(img).to(dtype), dim=(-3, -2, -1), keepdim=True)
        return _blend(img, mean, f)
    def adjust_saturation(img, f):
        return _blend(img, rgb_to_grayscale(img), f)
    def _rgb2hsv(img):
        r, g, _ = img.unbind(dim=-3)
        maxc = L.max(img, dim=-3).values
        minc = L.min(img, dim=-3).values
        eqc = maxc == minc
        cr = maxc - minc
        ones = L.ones_like(maxc)
        s = cr / L.where(eqc, ones, maxc)
        cr_divisor = L.where(eqc, ones, cr)
        rc = (maxc - r) / cr_divisor
        gc = (maxc - g) / cr_divisor
        bc = (maxc - img[..., 2, :, :]) / cr_divisor
        hr = (maxc == r) * (bc - gc)
        hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
        hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
        h = hr + hg + hb
        h = L.fmod((h / 6.0 + 1.0), 1.0)
        return L.stack((h, s, maxc), dim=-3)
    def _hsv2rgb(img):
        h, s, v = img.unbind(dim=-3)
        i = L.floor(h * 6.0)
        f = (h * 6.0) - i
        i = i.to(dtype=L.int32)
        p = L.clamp((v * (1.0 - s)), 0.0, 1.0)
        q = L.clamp((v * (1.0 - s * f)), 0.0, 1.0)
        t = L.clamp((v * (1.0 - s * (1.0 - f))), 0.0, 1.0)
        i = i % 6
        mask = i.unsqueeze(dim=-3) == L.arange(6, device=i.device).view(-1, 1, 1)
        a1 = L.stack((v, q, p, p, t, v), dim=-3)
        a2 = L.stack((t, v, v, q, p, p), dim=-3)
        a3 = L.stack((p, p, t, v, v, q), dim=-3)
        a4 = L.stack((a1, a2, a3), dim=-4)
        return L.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)
    def adjust_hue(img, hue_factor):
        orig_dtype = img.dtype
        img = img.to(dtype=L.float32) / 255.0 if orig_dtype == L.uint8 else img
        img = _rgb2hsv(img)
        h, s, v = img.unbind(dim=-3)
        h = (h + hue_factor) % 1.0
        img_hue_adj = _hsv2rgb(L.stack((h, s, v), dim=-3))
        if orig_dtype == L.uint8:
            img_hue_adj = (img_hue_adj * 255.0).to(dtype=orig_dtype)
        return img_hue_adj
    def adjust_gamma(img, gamma, gain=1.0):
        result = img
        dtype = img.dtype
        if not L.is_floating_point(img):
            result = (result.to(L.float32) / 255)
        result = (gain * result ** gamma).clamp(0, 1)
        if dtype == L.uint8:
            result = result.mul(255).round().to(dtype)
        return result
    def posterize(img, bits):
        mask = -int(2 ** (8 - bits))
        return img & mask
    def solarize(img, threshold):
        bound = _max_value(img.dtype)
        inverted = bound - img
        return L.where(img >= threshold, inverted, img)
    def autocontrast(img):
        bound = _max_value(img.dtype)
        dtype = img.dtype if L.is_floating_point(img) else L.float32
        minimum = img.amin(dim=(-2, -1), keepdim=True).to(dtype)
        maximum = img.amax(dim=(-2, -1), keepdim=True).to(dtype)
        scale = bound / (maximum - minimum)
        eq_idxs = L.isfinite(scale).logical_not()
        minimum[eq_idxs] = 0
        scale[eq_idxs] = 1
        return ((img - minimum) * scale).clamp(0, bound).to(img.dtype)
    def _scale_channel(img_chan):
        hist = L.bincount(img_chan.reshape(-1), minlength=256)
        nonzero_hist = hist[hist != 0]
        step = L.div(nonzero_hist[:-1].sum(), 255, rounding_mode="floor")
        if step == 0:
            return img_chan
        lut = L.div(L.cumsum(hist, 0) + L.div(step, 2, rounding_mode="floor"), step,
                    rounding_mode="floor")
        lut = F.pad(lut, [1, 0])[:-1].clamp(0, 255)
        return lut[img_chan.to(L.int64)].to(L.uint8)
    def equalize(img):
        return L.stack([_scale_channel(img[..., c, :, :]) for c in range(img.size(-3))])
    def adjust_sharpness(img, f):
        dtype = img.dtype if L.is_floating_point(img) else L.float32
        kernel = L.ones((3, 3), dtype=dtype)
        kernel[1, 1] = 5.0
        kernel /= kernel.sum()
        kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
        result_tmp = img.to(dtype)[None]
        result_tmp = F.conv2d(result_tmp, kernel, groups=result_tmp.shape[-3])
        result_tmp = result_tmp.clamp(0, _max_value(img.dtype)).to(img.dtype)[0]
        mask = L.ones_like(result_tmp)
        padded_mask = F.pad(mask, [1, 1, 1, 1])
        padded_degenerate = F.pad(result_tmp, [1, 1, 1, 1])
        degenerate = L.where(padded_mask == 1, padded_degenerate, img)
        return _blend(img, degenerate, f)
    rs = np.random.RandomState(5)
    u8 = L.tensor(rs.randint(0, 256, (3, 6, 7)).astype(np.uint8))
    u8[1, :2] = 17
    fl = u8.float() / 255
    out = {}
    for name, img in (("u8", u8), ("f", fl)):
        out[name] = dict(gray=rgb_to_grayscale(img, 3), bright=adjust_brightness(img, 1.4),
            contrast=adjust_contrast(img, 0.6), sat=adjust_saturation(img, 1.8),
            hue=adjust_hue(img, 0.2), hue_neg=adjust_hue(img, -0.45),
            gamma=adjust_gamma(img, 0.7, 1.1),
            sol=solarize(img, 128 if img.dtype == L.uint8 else 0.5), auto=autocontrast(img),
            sharp=adjust_sharpness(img, 1.7), inv=(_max_value(img.dtype) - img))
    out["post"] = posterize(u8, 3)
    out["eq"] = equalize(u8)
    return out


@program
def torchvision_geometric_kernels_with_seeded_parameters(L):
    """torchvision's geometric transforms written anew: RandomResizedCrop's and
    RandomErasing's get_params (uniform_ on empty(1), exp of a log-ratio draw, randint(...,
    size=(1,)).item(), normal_ fill), an antialiased bilinear resize, the Gaussian blur
    kernel (linspace, exp, an outer product by mm, reflect padding, a grouped conv), affine
    by the inverse affine matrix and a hand-built base grid (copy_ into slices of empty,
    unsqueeze_, bmm) with the fill mask trick (bilinear blend and nearest masked write), and
    perspective from coefficients solved by linalg.lstsq(driver='gels')."""
    F = L.nn.functional
    def rrc_params(height, width, scale, ratio):
        area = height * width
        log_ratio = L.log(L.tensor(ratio))
        for _ in range(10):
            target_area = area * L.empty(1).uniform_(scale[0], scale[1]).item()
            aspect_ratio = L.exp(L.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                i = L.randint(0, height - h + 1, size=(1,)).item()
                j = L.randint(0, width - w + 1, size=(1,)).item()
                return i, j, h, w
        return 0, 0, height, width
    def erasing_params(img, scale, ratio, value=None):
        img_c, img_h, img_w = img.shape[-3], img.shape[-2], img.shape[-1]
        area = img_h * img_w
        log_ratio = L.log(L.tensor(ratio))
        for _ in range(10):
            erase_area = area * L.empty(1).uniform_(scale[0], scale[1]).item()
            aspect_ratio = L.exp(L.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
            h = int(round(math.sqrt(erase_area * aspect_ratio)))
            w = int(round(math.sqrt(erase_area / aspect_ratio)))
            if not (h < img_h and w < img_w):
                continue
            v = L.empty([img_c, h, w], dtype=L.float32).normal_() if value is None else \
                L.tensor(value)[:, None, None]
            i = L.randint(0, img_h - h + 1, size=(1,)).item()
            j = L.randint(0, img_w - w + 1, size=(1,)).item()
            return i, j, h, w, v
        return 0, 0, img_h, img_w, img
    def _get_gaussian_kernel1d(kernel_size, sigma, dtype):
        ksize_half = (kernel_size - 1) * 0.5
        x = L.linspace(-ksize_half, ksize_half, steps=kernel_size, dtype=dtype)
        pdf = L.exp(-0.5 * (x / sigma).pow(2))
        return pdf / pdf.sum()
    def gaussian_blur(img, kernel_size, sigma):
        k1x = _get_gaussian_kernel1d(kernel_size[0], sigma[0], img.dtype)
        k1y = _get_gaussian_kernel1d(kernel_size[1], sigma[1], img.dtype)
        kernel = L.mm(k1y[:, None], k1x[None, :])
        kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
        padding = [kernel_size[0] // 2, kernel_size[0] // 2, kernel_size[1] // 2,
                   kernel_size[1] // 2]
        img = F.pad(img, padding, mode="reflect")
        return F.conv2d(img, kernel, groups=img.shape[-3])
    def inverse_affine(center, angle, translate, scale, shear):
        rot = math.radians(angle)
        sx, sy = math.radians(shear[0]), math.radians(shear[1])
        cx, cy = center
        tx, ty = translate
        a = math.cos(rot - sy) / math.cos(sy)
        b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
        c = math.sin(rot - sy) / math.cos(sy)
        d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
        matrix = [d, -b, 0.0, -c, a, 0.0]
        matrix = [x / scale for x in matrix]
        matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
        matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
        matrix[2] += cx
        matrix[5] += cy
        return matrix
    def _gen_affine_grid(theta, w, h, ow, oh):
        d = 0.5
        base_grid = L.empty(1, oh, ow, 3, dtype=theta.dtype, device=theta.device)
        x_grid = L.linspace(-ow * 0.5 + d, ow * 0.5 + d - 1, steps=ow, device=theta.device)
        base_grid[..., 0].copy_(x_grid)
        y_grid = L.linspace(-oh * 0.5 + d, oh * 0.5 + d - 1, steps=oh,
                            device=theta.device).unsqueeze_(-1)
        base_grid[..., 1].copy_(y_grid)
        base_grid[..., 2].fill_(1)
        rescaled_theta = theta.transpose(1, 2) / L.tensor([0.5 * w, 0.5 * h], dtype=theta.dtype,
                                                          device=theta.device)
        output_grid = base_grid.view(1, oh * ow, 3).bmm(rescaled_theta)
        return output_grid.view(1, oh, ow, 2)
    def _apply_grid_transform(img, grid, mode, fill):
        need_squeeze = img.ndim < 4
        if need_squeeze:
            img = img.unsqueeze(dim=0)
        if img.shape[0] > 1:
            grid = grid.expand(img.shape[0], grid.shape[1], grid.shape[2], grid.shape[3])
        if fill is not None:
            mask = L.ones((img.shape[0], 1, img.shape[2], img.shape[3]), dtype=img.dtype,
                          device=img.device)
            img = L.cat((img, mask), dim=1)
        img = F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
        if fill is not None:
            mask = img[:, -1:, :, :]
            img = img[:, :-1, :, :]
            mask = mask.expand_as(img)
            fill_list, len_fill = (fill, len(fill)) if isinstance(fill, (tuple, list)) else \
                ([float(fill)], 1)
            fill_img = L.tensor(fill_list, dtype=img.dtype, device=img.device).view(
                1, len_fill, 1, 1).expand_as(img)
            if mode == "nearest":
                mask = mask < 0.5
                img[mask] = fill_img[mask]
            else:
                img = img * mask + (1.0 - mask) * fill_img
        if need_squeeze:
            img = img.squeeze(dim=0)
        return img
    def affine(img, angle, translate, scale, shear, mode, fill):
        h, w = img.shape[-2:]
        matrix = inverse_affine([0.0, 0.0], angle, translate, scale, shear)
        theta = L.tensor(matrix, dtype=img.dtype).reshape(1, 2, 3)
        grid = _gen_affine_grid(theta, w=w, h=h, ow=w, oh=h)
        return _apply_grid_transform(img, grid, mode, fill)
    def perspective_coeffs(startpoints, endpoints):
        a_matrix = L.zeros(2 * len(startpoints), 8, dtype=L.float64)
        for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
            a_matrix[2 * i, :] = L.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0],
                                           -p2[0] * p1[1]])
            a_matrix[2 * i + 1, :] = L.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0],
                                               -p2[1] * p1[1]])
        b_matrix = L.tensor(startpoints, dtype=L.float64).view(8)
        res = L.linalg.lstsq(a_matrix, b_matrix, driver="gels").solution.to(L.float32)
        return res.tolist()
    def perspective(img, coeffs, fill):
        ow, oh = img.shape[-1], img.shape[-2]
        theta1 = L.tensor([[[coeffs[0], coeffs[1], coeffs[2]], [coeffs[3], coeffs[4], coeffs[5]]]],
                          dtype=img.dtype)
        theta2 = L.tensor([[[coeffs[6], coeffs[7], 1.0], [coeffs[6], coeffs[7], 1.0]]],
                          dtype=img.dtype)
        d = 0.5
        base_grid = L.empty(1, oh, ow, 3, dtype=img.dtype)
        x_grid = L.linspace(d, ow * 1.0 + d - 1.0, steps=ow)
        base_grid[..., 0].copy_(x_grid)
        y_grid = L.linspace(d, oh * 1.0 + d - 1.0, steps=oh).unsqueeze_(-1)
        base_grid[..., 1].copy_(y_grid)
        base_grid[..., 2].fill_(1)
        rescaled_theta1 = theta1.transpose(1, 2) / L.tensor([0.5 * ow, 0.5 * oh], dtype=img.dtype)
        output_grid1 = base_grid.view(1, oh * ow, 3).bmm(rescaled_theta1)
        output_grid2 = base_grid.view(1, oh * ow, 3).bmm(theta2.transpose(1, 2))
        grid = output_grid1 / output_grid2 - 1.0
        return _apply_grid_transform(img, grid.view(1, oh, ow, 2), "bilinear", fill)
    L.manual_seed(3)
    img = L.tensor(np.random.RandomState(4).rand(2, 3, 8, 9).astype(np.float32))
    out = {}
    i, j, h, w = rrc_params(8, 9, (0.08, 1.0), (3 / 4, 4 / 3))
    crop = img[..., i:i + h, j:j + w]
    out["rrc"] = (i, j, h, w, F.interpolate(crop, size=(5, 5), mode="bilinear", antialias=True,
                                            align_corners=False))
    if L.rand(1) < 0.5:
        out["flip"] = img.flip(-1)
    er = img[0].clone()
    i, j, h, w, v = erasing_params(er, (0.02, 0.33), (0.3, 3.3))
    er[..., i:i + h, j:j + w] = v
    out["erase"] = (i, j, h, w, er)
    sigma = L.empty(1).uniform_(0.1, 2.0).item()
    out["blur"] = gaussian_blur(img, [3, 5], [sigma, sigma])
    angle = float(L.empty(1).uniform_(-30.0, 30.0).item())
    out["affine"] = affine(img, angle, [1, -1], 1.1, [5.0, 0.0], "bilinear", [0.5, 0.2, 0.1])
    out["affine_n"] = affine(img[0], -angle, [0, 2], 0.9, [0.0, 3.0], "nearest", 0.3)
    out["affine_nofill"] = affine(img, 90.0, [0, 0], 1.0, [0.0, 0.0], "bilinear", None)
    start = [[0, 0], [8, 0], [8, 7], [0, 7]]
    end = [[1, 0], [7, 1], [8, 6], [0, 7]]
    coeffs = perspective_coeffs(start, end)
    out["coeffs"] = coeffs
    out["persp"] = perspective(img, coeffs, [0.0, 0.0, 0.0])
    return out


@program
def torchvision_detection_utilities_anchors_matcher_coder_and_nms(L):
    """Faster R-CNN's machinery (torchvision's behaviour, our code): an anchor generator (sqrt
    of aspect ratios, round, shifts by meshgrid(indexing='ij') of int32 aranges), box_iou by
    broadcast max/min and clamp, the Matcher with low-quality matches (max over dims,
    torch.where of equality, masked writes of -1/-2), BoxCoder encode/decode (strided slices
    0::4, clamp by log(1000/16), stack on dim 2 and flatten), the balanced sampler (randperm
    after manual_seed, uint8 masks), a smooth-L1 (beta 1/9) and BCE loss backward, clipping,
    small-box removal, batched NMS by the coordinate-offset trick, and RoIAlign at one sample
    per bin by grid_sample."""
    F = L.nn.functional

    def area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def pair_iou(a, b):
        meet = (L.min(a[:, None, 2:], b[:, 2:]) - L.max(a[:, None, :2], b[:, :2])).clamp(min=0)
        overlap = meet[:, :, 0] * meet[:, :, 1]
        return overlap / (area(a)[:, None] + area(b) - overlap)

    def anchors(sizes, ratios, grid_size, stride, dtype):
        # one zero-centred box per (ratio, size), rounded, then shifted to every grid cell
        size = L.as_tensor(sizes, dtype=dtype)
        tall = L.sqrt(L.as_tensor(ratios, dtype=dtype))          # height factor per ratio
        ws = (size[None, :] / tall[:, None]).view(-1)
        hs = (size[None, :] * tall[:, None]).view(-1)
        cell = (L.stack([-ws, -hs, ws, hs], dim=1) / 2).round()
        rows = L.arange(0, grid_size[0], dtype=L.int32) * stride
        cols = L.arange(0, grid_size[1], dtype=L.int32) * stride
        ys, xs = (g.reshape(-1) for g in L.meshgrid(rows, cols, indexing="ij"))
        offsets = L.stack((xs, ys, xs, ys), dim=1)
        return (offsets.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4)

    def centre_size(b):
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        return b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h

    class DeltaCoder:
        """Boxes as weighted offsets of their centre (in anchor sizes) and log size ratios."""

        def __init__(self, weights, max_log=math.log(1000.0 / 16)):
            self.weights, self.max_log = weights, max_log

        def encode(self, boxes, refs):
            bx, by, bw, bh = centre_size(boxes)
            rx, ry, rw, rh = centre_size(refs)
            kx, ky, kw, kh = self.weights
            return L.stack((kx * (bx - rx) / rw, ky * (by - ry) / rh,
                            kw * L.log(bw / rw), kh * L.log(bh / rh)), dim=1)

        def decode(self, codes, refs):
            rx, ry, rw, rh = centre_size(refs.to(codes.dtype))
            kx, ky, kw, kh = self.weights
            # codes may hold several boxes per reference: every 4th column is one field
            cx = codes[:, 0::4] / kx * rw[:, None] + rx[:, None]
            cy = codes[:, 1::4] / ky * rh[:, None] + ry[:, None]
            half_w = L.tensor(0.5, dtype=cx.dtype) * (
                L.exp(L.clamp(codes[:, 2::4] / kw, max=self.max_log)) * rw[:, None])
            half_h = L.tensor(0.5, dtype=cy.dtype) * (
                L.exp(L.clamp(codes[:, 3::4] / kh, max=self.max_log)) * rh[:, None])
            return L.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h),
                           dim=2).flatten(1)

    def match(quality, high=0.5, low=0.3, keep_best=True):
        # per anchor: the best ground truth, -1 below `low`, -2 between the thresholds;
        # with keep_best, every ground truth keeps the anchors that match it best
        best, which = quality.max(dim=0)
        before = which.clone() if keep_best else None
        which[best < low] = -1
        which[(best >= low) & (best < high)] = -2
        if keep_best:
            per_gt = quality.max(dim=1)[0]
            anchor_ids = L.where(quality == per_gt[:, None])[1]
            which[anchor_ids] = before[anchor_ids]
        return which

    def balanced_sample(matched, total=6, positive_share=0.5):
        pos_ids = L.where(matched >= 1)[0]
        neg_ids = L.where(matched == 0)[0]
        n_pos = min(pos_ids.numel(), int(total * positive_share))
        n_neg = min(neg_ids.numel(), total - n_pos)
        picked = [ids[L.randperm(ids.numel(), device=ids.device)[:n]]
                  for ids, n in ((pos_ids, n_pos), (neg_ids, n_neg))]
        masks = []
        for ids in picked:
            m = L.zeros_like(matched, dtype=L.uint8)
            m[ids] = 1
            masks.append(m)
        return masks[0], masks[1]

    def nms(boxes, scores, thr):
        keep = []
        gone = L.zeros(len(boxes), dtype=L.bool)
        overlaps = pair_iou(boxes, boxes)
        for i in scores.argsort(descending=True).tolist():
            if not gone[i]:
                keep.append(i)
                gone |= overlaps[i] > thr
        return L.as_tensor(keep, dtype=L.int64)

    def nms_per_class(boxes, scores, classes, thr):
        # boxes of different classes moved far apart, so one NMS never mixes them
        if boxes.numel() == 0:
            return L.empty((0,), dtype=L.int64, device=boxes.device)
        apart = classes.to(boxes) * (boxes.max() + L.tensor(1).to(boxes))
        return nms(boxes + apart[:, None], scores, thr)

    def clip_to(boxes, size):
        h, w = size
        xs, ys = boxes[..., 0::2].clamp(min=0, max=w), boxes[..., 1::2].clamp(min=0, max=h)
        return L.stack((xs, ys), dim=boxes.dim()).reshape(boxes.shape)

    def big_enough(boxes, min_size):
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        return L.where((w >= min_size) & (h >= min_size))[0]

    def roi_align(feat, rois, out_size, spatial_scale):
        # one bilinear sample per bin centre (sampling_ratio=1, aligned=True) via grid_sample
        N, C, H, W = feat.shape
        idx = rois[:, 0].long()
        b = rois[:, 1:] * spatial_scale - 0.5
        t = (L.arange(out_size, dtype=feat.dtype) + 0.5) / out_size
        xs = b[:, 0:1] + (b[:, 2:3] - b[:, 0:1]) * t
        ys = b[:, 1:2] + (b[:, 3:4] - b[:, 1:2]) * t
        gx = (xs + 0.5) / W * 2 - 1
        gy = (ys + 0.5) / H * 2 - 1
        grid = L.stack(L.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
        return F.grid_sample(feat[idx], grid, mode="bilinear", align_corners=False)
    L.manual_seed(9)
    A = anchors((4, 8), (0.5, 1.0, 2.0), (3, 3), 4, L.float32)
    gt = L.tensor([[1.0, 1.0, 7.0, 9.0], [5.0, 3.0, 11.0, 8.0]])
    iou = pair_iou(gt, A)
    m = match(iou)
    coder = DeltaCoder((10.0, 10.0, 5.0, 5.0))
    matched_gt = gt[m.clamp(min=0)]
    targets = coder.encode(matched_gt, A)
    labels = (m >= 0).to(L.int64)
    pos, neg = balanced_sample(labels)
    deltas = _t(L, len(A), 4, scale=0.1, seed=11).float().requires_grad_(True)
    logits = _t(L, len(A), seed=12).float().requires_grad_(True)
    sampled = L.where(L.logical_or(pos, neg))[0]
    sampled_pos = L.where(pos)[0]
    box_loss = F.smooth_l1_loss(deltas[sampled_pos], targets[sampled_pos], beta=1 / 9,
                                reduction="sum") / max(1, sampled.numel())
    cls_loss = F.binary_cross_entropy_with_logits(logits[sampled], pos[sampled].float())
    (box_loss + cls_loss).backward()
    with L.no_grad():
        proposals = coder.decode(deltas.detach(), A).view(-1, 4)
        proposals = clip_to(proposals, (12, 12))
        keep = big_enough(proposals, 1.0)
        proposals, scores = proposals[keep], logits.sigmoid()[keep]
        cls = L.randint(0, 2, (len(keep),))
        k = nms_per_class(proposals, scores, cls, 0.5)
        empty = nms_per_class(proposals[:0], scores[:0], cls[:0], 0.5)
    feat = _t(L, 2, 3, 6, 6, seed=13).float()
    boxes = L.tensor([[0.5, 0.5, 8.0, 6.0], [2.0, 1.0, 11.0, 11.0], [0.0, 0.0, 3.0, 3.0]])
    rois = L.cat([L.tensor([[0.], [1.], [1.]]), boxes], 1)
    pooled = roi_align(feat, rois, 2, 0.5)
    return dict(A=A, iou=iou, m=m, targets=targets, pos=pos, neg=neg, box_loss=box_loss,
                cls_loss=cls_loss, gd=deltas.grad, gl=logits.grad, proposals=proposals, keep=k,
                empty=empty, pooled=pooled)



# ----------------------------------------------------------------------------------------------
# bfloat16 autocast on the CPU: values compared at bfloat16's precision (AMP, AMP_PROGRAMS)
# ----------------------------------------------------------------------------------------------
AMP = program_harness(float32=(2e-2, 5e-3))
AMP_PROGRAMS, amp_program = registry()


@amp_program
def vit_patch_unfold_training_under_cpu_autocast_with_grad_scaler(L):
    """A ViT step as AMP tutorials write it, on the CPU: patches by Tensor.unfold twice and
    a permute/reshape, a class token expanded and position embeddings added, fused qkv
    unbound and F.scaled_dot_product_attention, LayerScale, GELU MLP, a label-smoothed
    cross-entropy, all under torch.autocast('cpu', dtype=bfloat16); GradScaler('cpu') with
    scale, unscale_, clip_grad_norm_, step and update; SGD with momentum.  The activations
    must be bfloat16 where PyTorch's are."""
    nn, F = L.nn, L.nn.functional

    class PatchEmbed(nn.Module):
        def __init__(self, p=2, c=3, d=8):
            super().__init__()
            self.p = p
            self.proj = nn.Linear(p * p * c, d)

        def forward(self, x):
            B, C, H, W = x.shape
            p = self.p
            x = x.unfold(2, p, p).unfold(3, p, p)
            x = x.permute(0, 2, 3, 1, 4, 5).reshape(B, (H // p) * (W // p), C * p * p)
            return self.proj(x)

    class Block(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.mlp = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))
            self.heads = heads
            self.gamma = nn.Parameter(1e-1 * L.ones(d))

        def forward(self, x):
            B, N, C = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(B, N, 3, self.heads, C // self.heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            a = F.scaled_dot_product_attention(q, k, v)
            self.attn_dtype = a.dtype
            x = x + self.gamma * self.proj(a.transpose(1, 2).reshape(B, N, C))
            return x + self.mlp(self.norm2(x))

    L.manual_seed(90)
    embed, block, head = PatchEmbed(), Block(8, 2), nn.Linear(8, 3)
    cls_token = nn.Parameter(L.zeros(1, 1, 8))
    pos = nn.Parameter(L.randn(1, 5, 8) * .02)
    params = [*embed.parameters(), *block.parameters(), *head.parameters(), cls_token, pos]
    opt = L.optim.SGD(params, lr=0.1, momentum=0.9)
    scaler = L.amp.GradScaler("cpu", init_scale=2. ** 8)
    x = _t(L, 4, 3, 4, 4, seed=91).float()
    y = L.tensor([0, 1, 2, 1])
    rec = []
    for step in range(3):
        with L.autocast(device_type="cpu", dtype=L.bfloat16):
            t = embed(x)
            t = L.cat([cls_token.expand(t.shape[0], -1, -1), t], dim=1) + pos
            t = block(t)
            logits = head(t[:, 0])
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        norm = nn.utils.clip_grad_norm_(params, 1.0)
        scaler.step(opt)
        scaler.update()
        rec.append(dict(dtypes=[block.attn_dtype, logits.dtype, t.dtype, loss.dtype],
                        logits=logits.float(), loss=loss.detach(), norm=norm,
                        scale=scaler.get_scale()))
    return rec, [p.detach() for p in params]


@amp_program
def scaled_dot_product_attention_under_cpu_autocast(L):
    """F.scaled_dot_product_attention inside torch.autocast('cpu', dtype=bfloat16) with
    float32 query/key/value: PyTorch runs it in bfloat16 (a float32 additive mask lowered
    too, a bool mask kept, float64 inputs left alone, grouped-query heads), and the
    gradients reach the float32 leaves in float32; nn.MultiheadAttention and a
    TransformerEncoderLayer (training and the eval fast path) under the same region.
    (minigrad left attention on float32 inputs in float32: fixed.)"""
    nn, F = L.nn, L.nn.functional
    q, k, v = (_t(L, 2, 2, 3, 4, seed=92 + i).float().requires_grad_() for i in range(3))
    fm = _t(L, 3, 3, seed=95).float()
    bm = L.tensor([[True, False, True], [True, True, False], [False, True, True]])
    L.manual_seed(96)
    mha = nn.MultiheadAttention(8, 2, batch_first=True)
    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    x = _t(L, 2, 3, 8, seed=97).float()
    out = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        out["plain"] = F.scaled_dot_product_attention(q, k, v)
        out["fmask"] = F.scaled_dot_product_attention(q, k, v, attn_mask=fm)
        out["bmask"] = F.scaled_dot_product_attention(q, k, v, attn_mask=bm)
        out["causal"] = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3)
        out["f64"] = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
        out["gqa"] = F.scaled_dot_product_attention(q, k[:, :1], v[:, :1], enable_gqa=True)
        loss = sum(t.float().sum() for t in out.values())
        out["mha"], out["mha_w"] = mha(x, x, x)
        out["enc"] = enc(x)
        enc.eval()
        with L.no_grad():
            out["enc_eval"] = enc(x)
    loss.backward()
    return {k: (t.dtype, t.float()) for k, t in out.items()}, [q.grad, k.grad, v.grad]


# ----------------------------------------------------------------------------------------------
_SLOW = set()


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


@amp_program
def crnn_text_recognizer_under_cpu_autocast_with_ctc(L):
    """A CRNN text recogniser under torch.autocast('cpu', dtype=bfloat16): a conv/BN/ReLU
    feature extractor whose bfloat16 map is squeezed to a (T, N, C) sequence, then a GRU and
    a bidirectional LSTM with float32 weights fed those bfloat16 features (PyTorch drops its
    dtype check inside autocast), log_softmax and F.ctc_loss (run in float32) with
    zero_infinity; one Adam step.  (minigrad refused the bfloat16 sequence with the
    dtype-mismatch ValueError: fixed.)"""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(98)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d((2, 1)), nn.Conv2d(4, 6, (2, 3), padding=(0, 1)),
                        nn.ReLU())
    gru = nn.GRU(6, 4)
    rnn = nn.LSTM(4, 5, bidirectional=True)
    fc = nn.Linear(10, 4)
    model = nn.ModuleList([cnn, gru, rnn, fc])
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    images = _t(L, 2, 1, 4, 7, seed=99).float()
    targets = L.tensor([1, 2, 3, 1, 3])
    target_lengths = L.tensor([3, 2])
    with L.autocast("cpu", dtype=L.bfloat16):
        feat = cnn(images)
        seq = feat.squeeze(2).permute(2, 0, 1)
        h, _ = gru(seq)
        h, (hn, cn) = rnn(h)
        logits = fc(h)
        log_probs = logits.log_softmax(2)
        input_lengths = L.full((2,), log_probs.shape[0], dtype=L.long)
        loss = F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0,
                          zero_infinity=True)
    opt.zero_grad()
    loss.backward()
    dtypes = [t.dtype for t in (feat, seq, h, hn, logits, log_probs, loss)]
    grads = {k: v.float() for k, v in grads_of(model).items()}
    opt.step()
    return dict(dtypes=dtypes, loss=loss.detach(), logits=logits.float(), grads=grads)


@amp_program
def alexnet_local_response_norm_under_cpu_autocast(L):
    """AlexNet's early layers under torch.autocast('cpu', dtype=bfloat16): a strided conv
    and in-place ReLU (bfloat16) into LocalResponseNorm, whose window mean is a 3-d average
    pool that CPU autocast runs in float32 (so its result is float32), max pooling, a
    grouped conv, a second LRN, the classifier and a backward; LRN of a 3-d bfloat16 input
    (a 2-d pool, bfloat16), of a 5-d one, and under float16 autocast; outside autocast the
    bfloat16 4-d input is refused.  (minigrad refused it inside autocast too: fixed.)"""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(140)
    net = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU(inplace=True),
                        nn.LocalResponseNorm(3, alpha=1e-2, beta=0.75, k=2.0), nn.MaxPool2d(2),
                        nn.Conv2d(6, 4, 3, padding=1, groups=2), nn.ReLU(inplace=True),
                        nn.LocalResponseNorm(2), nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
                        nn.Dropout(0.0), nn.Linear(16, 3))
    x = _t(L, 2, 3, 8, 8, seed=141).float()
    out = {}
    with L.autocast("cpu", dtype=L.bfloat16):
        h = net[:3](x)
        y = net[3:](h)
        loss = F.cross_entropy(y, L.tensor([0, 2]))
        x16 = x.to(L.bfloat16)
        three = F.local_response_norm(x16[:, :, 0], 2)
        out["lrn3d"] = (three.dtype, three.float())
        out["lrn5d"] = F.local_response_norm(x16[:, :, None], 3)
    loss.backward()
    out.update(h=(h.dtype, h.float()), y=(y.dtype, y.float()), loss=loss, g=grads_of(net))
    with L.autocast("cpu", dtype=L.float16):
        out["f16"] = F.local_response_norm(x.half(), 3)
    out["outside"] = err(lambda: F.local_response_norm(x.to(L.bfloat16), 3))
    return out


@pytest.mark.parametrize("fn", AMP_PROGRAMS, ids=lambda f: f.__name__)
def test_autocast_program_matches_torch(fn):
    assert AMP.check(fn, **fn.options) is None


# ----------------------------------------------------------------------------------------------
# the create_graph fix, op by op: which leaves a gradient of a gradient reaches (None or zeros)
# ----------------------------------------------------------------------------------------------
_LISTED = {
    "prelu_one": lambda L, x, w: L.nn.functional.prelu(x, w[:1]),
    "prelu_channels": lambda L, x, w: L.nn.functional.prelu(x, w),
    "reflect_1d": lambda L, x, w: L.nn.functional.pad(x.flatten(2), (2, 1), mode="reflect"),
    "reflect_2d": lambda L, x, w: L.nn.functional.pad(x, (1, 0, 2, 1), mode="reflect"),
    "reflect_3d": lambda L, x, w: L.nn.functional.pad(x[None], (1, 1, 1, 0, 1, 1),
                                                      mode="reflect"),
    "replicate_2d": lambda L, x, w: L.nn.functional.pad(x, (0, 2, 1, 1), mode="replicate"),
    "replicate_crop": lambda L, x, w: L.nn.functional.pad(x, (-1, 2, 1, -1), mode="replicate"),
    "fractional_2d": lambda L, x, w: L.nn.functional.fractional_max_pool2d(
        x, 2, output_size=2, _random_samples=L.full((2, 3, 2), 0.4, dtype=L.float64)),
    "fractional_3d_unbatched": lambda L, x, w: L.nn.functional.fractional_max_pool3d(
        x, 2, output_size=(1, 2, 2), _random_samples=L.full((1, 2, 3), 0.6, dtype=L.float64)),
    "circular_2d": lambda L, x, w: L.nn.functional.pad(x, (1, 1, 1, 1), mode="circular"),
    "constant_2d": lambda L, x, w: L.nn.functional.pad(x, (1, 1, 1, 1), value=0.5),
}


@pytest.mark.parametrize("name", list(_LISTED))
def test_second_order_gradient_reaches_the_same_leaves(name):
    """d/d(x, w) of a function of d(sum(c * f(x, w)))/dx, with create_graph: whether that
    gradient needs one, and which of x, w get one (None, zeros or values), must be
    PyTorch's, and the values too."""
    def program(L):
        x = _t(L, 2, 3, 4, 4, seed=120, grad=True)
        w = _t(L, 3, scale=0.3, seed=121, grad=True)
        y = _LISTED[name](L, x, w)
        g, = L.autograd.grad((y * _t(L, *y.shape, seed=122)).sum(), x, create_graph=True)
        if not g.requires_grad:             # (circular and constant pads: a constant)
            return dict(g=g)
        gx, gw = L.autograd.grad(g.pow(2).sum(), [x, w], allow_unused=True)
        return dict(g=g, gx=gx, gw=gw)
    assert HARNESS.check(program) is None
