"""Whole programs of round 32, part a: third-party vision models and training utilities, as
their repositories write them, in the parts earlier rounds left out.

Vision models: HRNet's exchange unit (a ModuleList of ModuleLists holding None, strided 3x3
chains down and 1x1 conv + nearest Upsample up, then a bilinear concat head); the stacked
hourglass (a recursive Hourglass, merge_preds/merge_features, meshgrid Gaussian targets,
argmax decoding with the quarter-pixel shift and a soft-argmax); EDSR (a frozen MeanShift
conv whose .data is set, res_scale, PixelShuffle upsampling, MultiStepLR, quantize and a
shaved Y-channel PSNR); SegFormer (overlapping patch embedding, spatial-reduction attention,
Mix-FFN's depthwise conv, init by Module.apply, the all-MLP decoder); coordinate attention
and ECA in a MobileNetV3-like block; Attention U-Net (gates collected by forward hooks, a
Dice + BCE loss); the non-local block in 1, 2 and 3 dims (zero-initialised W, embedded
Gaussian and dot product); CondConv's per-sample kernels by a grouped conv over the batch
folded into channels; RepVGG's re-parameterisation for deployment (BN folded into kernels,
the 1x1 padded, an identity kernel, __delattr__ of the branches, against fuse_conv_bn_eval).
Detection: CenterNet (Gaussian radii, heatmaps drawn by torch.max(..., out=) into a slice,
the penalty-reduced focal loss, _transpose_and_gather_feat, the max-pool peak filter and
two-level topk); RetinaNet's Matcher with low-quality matches, BoxCoder encode/decode,
sigmoid focal loss and batched NMS; GeneralizedRCNNTransform's resize, batching to a
multiple of 32 and box rescaling.  Image ops: torchvision's uint8 tensor ops (blend,
posterize by & with a negative int, solarize, autocontrast, equalize by histc and a LUT,
sharpness, a Cutout mask from a Generator) and float ones (HSV round trip and hue, gamma,
separable Gaussian blur, affine/rotate with a fill through a mask channel); SSIM and
MS-SSIM (a window cached while .data.type() matches).  Training utilities: SAM as an
Optimizer subclass (first/second step, closure under enable_grad, BatchNorm momentum
switched by Module.apply, gradient centralisation, its state_dict through io.BytesIO);
timm's Lookahead (an Optimizer subclass that never calls Optimizer.__init__, under
LambdaLR); the center loss with addmm_ and its own rescaled SGD; MAE's layer-wise lr decay
groups with a per-iteration cosine and bicubic pos-embed interpolation into a bigger ViT
loaded with strict=False; timm's adapt_input_conv, checkpoint key filtering,
reset_classifier and FrozenBatchNorm2d swapped in by named_children; a class-balanced,
aspect-ratio-grouped detection loader (WeightedRandomSampler from 1 / bincount, a
BatchSampler subclass, tuple(zip(*batch)) collation); segmentation metrics (bincount
confusion matrix, nan IoU, nanmean) and COCO-style AP (flip + cummax envelope,
searchsorted recall thresholds).

What they found, fixed in minigrad (1 program of 22 failed as first written, beside
side-by-side probes of the APIs they use; the focused tests at the end check each fix):
the DataLoader read any BatchSampler subclass through BatchSampler's own epoch, so a
subclass with its own __iter__ (torchvision's GroupedBatchSampler, which also skips
BatchSampler.__init__) was ignored or failed for want of drop_last; a TensorDataset or
Subset subclass with its own __getitems__ was batched by indexing its tensors, the method
never called.  nn.Parameter did its work in __init__, so a subclass whose __new__ calls
super().__new__(cls, data) (to add attributes or take other arguments) failed in
object.__new__, and one with its own __init__ had no data; it is now made in __new__, as
PyTorch's, and torch.Tensor._make_subclass (how bitsandbytes-style parameter classes
build themselves) exists.  vmap with randomness='error' drew the first example's numbers
before refusing, so the default generator moved, and let draws from an explicit Generator
through (each example drawing anew); every live generator is now watched, and 'same'
restarts each of them per example.

Not matched, left: PyTorch's float32 bilinear and bicubic F.interpolate round at float32
in the weights and sums (errors up to ~40 ulp against a float64 reference), minigrad's
results are the more exact ones and differ by up to ~5e-6, so the R-CNN transform runs in
float64; CrossMapLRN2d's input gradient in PyTorch is not the derivative of its forward
(finite differences agree with minigrad; known, see test_common_nn_db); ops on a
Tensor subclass made by as_subclass give plain Tensors in minigrad, the subclass in
PyTorch; torch.Tensor([1, 2], dtype=torch.int64) is refused by PyTorch's legacy
constructor and accepted by minigrad's; vmap(randomness='same') over a random op whose
tensor argument is batched (bernoulli of a batched p) is refused by PyTorch and computed
by minigrad.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded draws and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import io
import math
from collections import defaultdict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, registry, program_harness, normal64, labels)


HARNESS = program_harness()
PROGRAMS, program = registry()
torch.set_num_threads(1)   # tiny problems: threads only add overhead (and stall on a busy machine)


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters() if p.grad is not None}


def _x(L, *shape, seed=0, scale=1.0, grad=False):
    return L.tensor(normal64(*shape, seed=seed, scale=scale), requires_grad=grad)


# ----------------------------------------------------------------------------------------------
# HRNet's exchange unit, the stacked hourglass, EDSR
# ----------------------------------------------------------------------------------------------
@program
def hrnet_exchange_unit_fuses_branches(L):
    """HRNet's exchange unit: a basic residual block per branch, fuse layers built as a
    ModuleList of ModuleLists holding None on the diagonal, 1x1 conv + BN + nearest Upsample
    from the lower resolutions, chains of strided 3x3 convs from the higher, summed and
    ReLU'd; then the segmentation head's bilinear upsampling of every branch and a concat."""
    nn, F = L.nn, L.nn.functional

    class Basic(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(c, momentum=0.1), nn.ReLU(inplace=True),
                                      nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.body(x)
            y += x
            return self.relu(y)

    def link(ch, src, dst):
        """The map from branch src to branch dst: None on itself, a 1x1 conv + BN + nearest
        upsampling from a coarser branch, a chain of stride-2 3x3 convs from a finer one (the
        last of the chain changes the width and has no ReLU)."""
        if src == dst:
            return None
        if src > dst:
            return nn.Sequential(nn.Conv2d(ch[src], ch[dst], 1, 1, 0, bias=False),
                                 nn.BatchNorm2d(ch[dst]),
                                 nn.Upsample(scale_factor=2 ** (src - dst), mode="nearest"))
        steps = []
        for k in range(dst - src):
            last = k == dst - src - 1
            width = ch[dst] if last else ch[src]
            layers = [nn.Conv2d(ch[src], width, 3, 2, 1, bias=False), nn.BatchNorm2d(width)]
            steps.append(nn.Sequential(*layers) if last else nn.Sequential(*layers,
                                                                           nn.ReLU(False)))
        return nn.Sequential(*steps)

    class Exchange(nn.Module):
        """Parallel branches at halving resolutions, then every output the ReLU'd sum of all
        branches mapped to its resolution and width."""

        def __init__(self, channels):
            super().__init__()
            n = len(channels)
            self.branches = nn.ModuleList([nn.Sequential(Basic(c)) for c in channels])
            self.links = nn.ModuleList([nn.ModuleList([link(channels, s, d) for s in range(n)])
                                        for d in range(n)])
            self.relu = nn.ReLU(False)

        def forward(self, xs):
            xs = [branch(x) for branch, x in zip(self.branches, xs)]
            fused = []
            for row in self.links:
                total = None
                for mapper, x in zip(row, xs):
                    part = x if mapper is None else mapper(x)
                    total = part if total is None else total + part
                fused.append(self.relu(total))
            return fused

    L.manual_seed(0)
    m = Exchange([4, 6, 8]).double()
    xs = [_x(L, 2, 4, 16, 16, seed=1), _x(L, 2, 6, 8, 8, seed=2), _x(L, 2, 8, 4, 4, seed=3)]
    outs = m(list(xs))
    h, w = outs[0].shape[2:]
    feats = [outs[0]] + [F.interpolate(o, size=(h, w), mode="bilinear", align_corners=False)
                         for o in outs[1:]]
    cat = L.cat(feats, 1)
    loss = sum(o.pow(2).mean() for o in outs) + cat.mean()
    loss.backward()
    keys = list(m.state_dict())
    return dict(outs=outs, cat_shape=cat.shape, loss=loss, grads=_grads(m),
                running=[m.links[2][0][1][1].running_mean, m.links[0][2][1].running_var],
                keys=keys, none=m.links[1][1] is None, n=len(m.links[2]),
                nparams=sum(p.numel() for p in m.parameters()))


@program
def stacked_hourglass_with_intermediate_supervision(L):
    """The stacked hourglass (pose estimation): a recursive hourglass of pre-activation
    residual units, max-pool down and nearest Upsample up; two stacks with merge_preds and
    merge_features; Gaussian heatmap targets drawn on a meshgrid; the per-stack MSE losses
    stacked; predictions decoded by argmax with the quarter-pixel shift toward the larger
    neighbour, and by a soft-argmax."""
    nn, F = L.nn, L.nn.functional

    def bn_relu_conv(cin, cout, k):
        return [nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, k, padding=k // 2)]

    class PreActUnit(nn.Module):
        """BN-ReLU-conv three times (1x1 narrow, 3x3, 1x1 widen), a 1x1 skip when widths
        differ, the branch added in place."""

        def __init__(self, cin, cout):
            super().__init__()
            half = cout // 2
            self.body = nn.Sequential(*bn_relu_conv(cin, half, 1), *bn_relu_conv(half, half, 3),
                                      *bn_relu_conv(half, cout, 1))
            self.skip = nn.Conv2d(cin, cout, 1)
            self.use_skip = cin != cout

        def forward(self, x):
            y = self.body(x)
            y += self.skip(x) if self.use_skip else x
            return y

    class Hourglass(nn.Module):
        """A unit at this resolution plus, one level down (max-pooled), a unit, a smaller
        hourglass (or a unit at the bottom) and a unit, brought back by nearest upsampling."""

        def __init__(self, depth, f):
            super().__init__()
            self.here = PreActUnit(f, f)
            self.down = nn.Sequential(nn.MaxPool2d(2, 2), PreActUnit(f, f),
                                      Hourglass(depth - 1, f) if depth > 1 else PreActUnit(f, f),
                                      PreActUnit(f, f), nn.Upsample(scale_factor=2,
                                                                    mode="nearest"))

        def forward(self, x):
            return self.here(x) + self.down(x)

    class Stacked(nn.Module):
        """Hourglasses in sequence, each predicting heatmaps; between stacks the input of the
        next is this one's input plus projections of its features and of its heatmaps."""

        def __init__(self, stacks, width, joints):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1), nn.BatchNorm2d(width),
                                      nn.ReLU(), PreActUnit(width, width))
            self.stacks = nn.ModuleList()
            for s in range(stacks):
                stage = nn.ModuleDict(dict(
                    glass=Hourglass(2, width),
                    feats=nn.Sequential(PreActUnit(width, width), nn.Conv2d(width, width, 1),
                                        nn.BatchNorm2d(width), nn.ReLU()),
                    heat=nn.Conv2d(width, joints, 1)))
                if s < stacks - 1:
                    stage["back_feats"] = nn.Conv2d(width, width, 1)
                    stage["back_heat"] = nn.Conv2d(joints, width, 1)
                self.stacks.append(stage)

        def forward(self, imgs):
            x, heats = self.stem(imgs), []
            for stage in self.stacks:
                f = stage["feats"](stage["glass"](x))
                h = stage["heat"](f)
                heats.append(h)
                if "back_heat" in stage:
                    x = x + stage["back_heat"](h) + stage["back_feats"](f)
            return L.stack(heats, 1)

    L.manual_seed(0)
    net = Stacked(2, 8, 3).double()
    imgs = _x(L, 2, 3, 16, 16, seed=4)
    B, K, H, W = 2, 3, 16, 16
    ys, xs = L.meshgrid(L.arange(H, dtype=L.float64), L.arange(W, dtype=L.float64),
                        indexing="ij")
    centers = L.tensor([[[3.0, 4.0], [10.0, 12.0], [7.5, 2.0]],
                        [[13.0, 1.0], [5.0, 5.0], [8.0, 14.0]]])
    cx, cy = centers[..., 0, None, None], centers[..., 1, None, None]
    gt = L.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * 1.5 ** 2))
    opt = L.optim.RMSprop(net.parameters(), lr=2.5e-4)
    losses = []
    for _ in range(2):
        combined = net(imgs)
        combined_loss = L.stack([((combined[:, i] - gt) ** 2).mean(dim=3).mean(dim=2)
                                 .mean(dim=1) for i in range(2)], dim=1)
        loss = combined_loss.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(combined_loss)
    net.eval()
    with L.no_grad():
        hm = net(imgs)[:, -1]
    flat = hm.reshape(B, K, -1)
    maxvals, idx = flat.max(dim=2, keepdim=True)
    coords = idx.repeat(1, 1, 2).double()
    coords[:, :, 0] = coords[:, :, 0] % W
    coords[:, :, 1] = L.floor(coords[:, :, 1] / W)
    for n in range(B):
        for k in range(K):
            px, py = int(coords[n, k, 0] + 0.5), int(coords[n, k, 1] + 0.5)
            if 1 < px < W - 1 and 1 < py < H - 1:
                diff = L.tensor([hm[n, k, py, px + 1] - hm[n, k, py, px - 1],
                                 hm[n, k, py + 1, px] - hm[n, k, py - 1, px]],
                                dtype=L.float64)
                coords[n, k] += L.sign(diff) * 0.25
    prob = F.softmax(flat * 10.0, dim=2).view(B, K, H, W)
    soft = L.stack([(prob.sum(2) * L.arange(W)).sum(-1), (prob.sum(3) * L.arange(H)).sum(-1)],
                   -1)
    return dict(losses=losses, coords=coords, maxvals=maxvals, soft=soft,
                bn=net.stem[1].running_var, nbt=net.stem[1].num_batches_tracked)


@program
def edsr_super_resolution_training(L):
    """EDSR's facts: the mean shift as a frozen 1x1 Conv2d whose .data is set from eye / std,
    residual blocks with a residual scale (mul then +=), an Upsampler of conv + PixelShuffle(2)
    log2(scale) times, L1Loss, Adam over filter(requires_grad) with MultiStepLR; then quantize
    and the PSNR on the Y channel with a shaved border."""
    nn = L.nn

    def conv(cin, cout, k, bias=True):
        return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)

    class ChannelShift(nn.Conv2d):
        """A frozen 1x1 conv computing (x + sign * range * mean) / std per channel (weights
        written through .data)."""

        def __init__(self, value_range, mean=(0.4488, 0.4371, 0.4040), std=(1.0, 1.0, 1.0),
                     sign=-1):
            super().__init__(3, 3, kernel_size=1)
            s = L.Tensor(std)
            self.weight.data = L.eye(3).view(3, 3, 1, 1) / s.view(3, 1, 1, 1)
            self.bias.data = sign * value_range * L.Tensor(mean) / s
            for p in self.parameters():
                p.requires_grad = False

    class ScaledRes(nn.Module):
        def __init__(self, width, k, scale=1):
            super().__init__()
            self.body = nn.Sequential(conv(width, width, k), nn.ReLU(True), conv(width, width, k))
            self.scale = scale

        def forward(self, x):
            y = self.body(x).mul(self.scale)
            y += x
            return y

    def upsampler(factor, width):
        # a power of two: (conv to 4x the channels, PixelShuffle(2)) log2(factor) times
        layers = []
        if factor & (factor - 1) == 0:
            for _ in range(int(math.log(factor, 2))):
                layers += [conv(width, 4 * width, 3), nn.PixelShuffle(2)]
        return nn.Sequential(*layers)

    class SuperRes(nn.Module):
        def __init__(self, blocks=2, width=8, factor=4, value_range=255):
            super().__init__()
            self.sub_mean = ChannelShift(value_range)
            self.add_mean = ChannelShift(value_range, sign=1)
            self.head = nn.Sequential(conv(3, width, 3))
            self.body = nn.Sequential(*[ScaledRes(width, 3, scale=0.1) for _ in range(blocks)],
                                      conv(width, width, 3))
            self.tail = nn.Sequential(upsampler(factor, width), conv(width, 3, 3))

        def forward(self, x):
            h = self.head(self.sub_mean(x))
            r = self.body(h)
            r += h
            return self.add_mean(self.tail(r))

    def quantize(img, value_range):
        per_level = 255 / value_range
        return img.mul(per_level).clamp(0, 255).round().div(per_level)

    def y_psnr(sr, hr, factor, value_range):
        # PSNR of the luma (BT.601 weights / 256) after shaving factor + 2 border pixels
        luma = ((sr - hr) / value_range).mul(
            (sr - hr).new_tensor([65.738, 129.057, 25.064]).view(1, 3, 1, 1) / 256).sum(dim=1)
        edge = factor + 2
        return -10 * math.log10(luma[..., edge:-edge, edge:-edge].pow(2).mean())

    L.manual_seed(0)
    model = SuperRes().double()
    lr_img = L.tensor(np.random.RandomState(5).rand(2, 3, 4, 4) * 255)
    hr_img = L.tensor(np.random.RandomState(6).rand(2, 3, 16, 16) * 255)
    trainable = filter(lambda p: p.requires_grad, model.parameters())
    opt = L.optim.Adam(trainable, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    sched = L.optim.lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=0.5)
    crit = nn.L1Loss()
    losses = []
    for _ in range(3):
        opt.zero_grad()
        sr = model(lr_img)
        loss = crit(sr, hr_img)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    with L.no_grad():
        sr = quantize(model(lr_img), 255)
    return dict(losses=losses, sr=sr, psnr=y_psnr(sr, hr_img, 4, 255),
                lr=sched.get_last_lr(), frozen=[p.requires_grad for p in model.parameters()],
                mean_w=model.sub_mean.weight, mean_b=model.add_mean.bias,
                keys=list(model.state_dict())[:8], sd_len=len(model.state_dict()))


# ----------------------------------------------------------------------------------------------
# SSIM, SegFormer, coordinate attention and ECA
# ----------------------------------------------------------------------------------------------
@program
def ssim_and_ms_ssim_losses(L):
    """An SSIM module as pytorch-ssim builds it (our code): a Gaussian window from a Python list
    through torch.Tensor, its outer product by mm, expanded per channel; conv2d with groups; the
    window cached while .data.type() matches, else rebuilt and type_as'd) and an MS-SSIM over
    avg_pool2d levels with weights; an image optimised by Adam toward 1 - SSIM."""
    F = L.nn.functional

    def gauss_taps(size, sigma):
        # built from a Python list through the legacy torch.Tensor constructor
        taps = L.Tensor([math.exp(-(i - size // 2) ** 2 / float(2 * sigma ** 2))
                         for i in range(size)])
        return taps / taps.sum()

    def window_for(size, channels):
        col = gauss_taps(size, 1.5).unsqueeze(1)
        plane = col.mm(col.t()).float().unsqueeze(0).unsqueeze(0)
        return plane.expand(channels, 1, size, size).contiguous()

    def ssim_parts(a, b, window, size, channels, average=True, with_cs=False):
        def blur(t):
            return F.conv2d(t, window, padding=size // 2, groups=channels)

        mu_a, mu_b = blur(a), blur(b)
        var_a = blur(a * a) - mu_a.pow(2)
        var_b = blur(b * b) - mu_b.pow(2)
        cov = blur(a * b) - mu_a * mu_b
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        # contrast-structure term, and the full map with the luminance term
        cs_num, cs_den = 2.0 * cov + c2, var_a + var_b + c2
        ssim_map = ((2 * mu_a * mu_b + c1) * cs_num) / ((mu_a.pow(2) + mu_b.pow(2) + c1) * cs_den)
        value = ssim_map.mean() if average else ssim_map.mean(1).mean(1).mean(1)
        return (value, L.mean(cs_num / cs_den)) if with_cs else value

    class SSIMModule(L.nn.Module):
        """Keeps its window, rebuilding it (type_as the input) when the channel count or the
        tensor type changes."""

        def __init__(self, size=5, average=True):
            super().__init__()
            self.size, self.average, self.channels = size, average, 1
            self.window = window_for(size, 1)

        def forward(self, a, b):
            channels = a.size()[1]
            if channels != self.channels or self.window.data.type() != a.data.type():
                self.window = window_for(self.size, channels).type_as(a)
                self.channels = channels
            return ssim_parts(a, b, self.window, self.size, channels, self.average)

    def ms_ssim(a, b, size=3):
        weights = a.new_tensor([0.0448, 0.2856, 0.3001])
        window = window_for(size, a.size(1)).type_as(a)
        sims, css = [], []
        for _ in range(weights.size()[0]):
            sim, cs = ssim_parts(a, b, window, size, a.size(1), with_cs=True)
            sims.append(sim)
            css.append(cs)
            a, b = F.avg_pool2d(a, (2, 2)), F.avg_pool2d(b, (2, 2))
        sims, css = (L.stack(sims) + 1) / 2, (L.stack(css) + 1) / 2
        # contrast-structure of every scale but the last, times the last scale's full SSIM
        return L.prod((css ** weights)[:-1] * (sims ** weights)[-1])

    target = L.tensor(np.random.RandomState(7).rand(1, 2, 12, 12))
    img = L.tensor(np.random.RandomState(8).rand(1, 2, 12, 12), requires_grad=True)
    crit = SSIMModule()
    types = [crit.window.data.type(), img.data.type()]
    opt = L.optim.Adam([img], lr=0.01)
    values = []
    for _ in range(3):
        opt.zero_grad()
        loss = 1 - crit(img, target)
        loss.backward()
        opt.step()
        values.append(loss.item())
    per_image = ssim_parts(img, target, crit.window, 5, 2, average=False)
    ms = ms_ssim(img, target)
    ms.backward()
    return dict(values=values, types=types, cached=crit.window.dtype, ch=crit.channels,
                per_image=per_image, ms=ms, grad=img.grad)


@program
def segformer_encoder_block_and_all_mlp_head(L):
    """SegFormer's facts (MiT): an overlapping patch embedding (7x7 stride-4 conv, flatten(2)
    .transpose(1, 2), LayerNorm), efficient self-attention whose keys come from a sr_ratio
    strided conv and a LayerNorm, Mix-FFN with a 3x3 depthwise conv between its Linears,
    trunc_normal_/fan-out init by Module.apply, and the all-MLP decoder: each stage's tokens
    projected, brought back to maps by permute + reshape, bilinearly resized to the first
    stage's size and fused by a 1x1 conv."""
    nn, F = L.nn, L.nn.functional

    def tokens_to_map(t, h, w):
        return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], h, w)

    class PatchTokens(nn.Module):
        """An overlapping strided conv, its output flattened to tokens and layer-normed."""

        def __init__(self, k, stride, cin, dim):
            super().__init__()
            self.conv = nn.Conv2d(cin, dim, k, stride, padding=(k // 2, k // 2))
            self.norm = nn.LayerNorm(dim)

        def forward(self, x):
            y = self.conv(x)
            return self.norm(y.flatten(2).transpose(1, 2)), y.shape[2], y.shape[3]

    class ReducedAttention(nn.Module):
        """Queries from every token; keys and values from a map shrunk by a strided conv
        (when shrink > 1) and layer-normed."""

        def __init__(self, dim, heads=2, shrink=2):
            super().__init__()
            self.heads, self.shrink = heads, shrink
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(dim, dim * 2)
            self.out = nn.Linear(dim, dim)
            if shrink > 1:
                self.sr = nn.Conv2d(dim, dim, kernel_size=shrink, stride=shrink)
                self.sr_norm = nn.LayerNorm(dim)

        def forward(self, x, h, w):
            n, t, c = x.shape
            d = c // self.heads
            q = self.q(x).reshape(n, t, self.heads, d).permute(0, 2, 1, 3)
            src = x
            if self.shrink > 1:
                small = self.sr(x.permute(0, 2, 1).reshape(n, c, h, w))
                src = self.sr_norm(small.reshape(n, c, -1).permute(0, 2, 1))
            k, v = self.kv(src).reshape(n, -1, 2, self.heads, d).permute(2, 0, 3, 1, 4)
            weights = ((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(dim=-1)
            return self.out((weights @ v).transpose(1, 2).reshape(n, t, c))

    class MixFFN(nn.Module):
        """Linear, a 3x3 depthwise conv over the token map, GELU, Linear."""

        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1 = nn.Linear(dim, hidden)
            self.dw = nn.Conv2d(hidden, hidden, 3, 1, 1, bias=True, groups=hidden)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(hidden, dim)

        def forward(self, x, h, w):
            n, _, c = x.shape
            y = self.fc1(x)
            y = self.dw(y.transpose(1, 2).view(n, y.shape[2], h, w)).flatten(2).transpose(1, 2)
            return self.fc2(self.act(y))

    class EncoderLayer(nn.Module):
        def __init__(self, dim, shrink):
            super().__init__()
            self.pre_attn = nn.LayerNorm(dim)
            self.attn = ReducedAttention(dim, shrink=shrink)
            self.pre_ffn = nn.LayerNorm(dim)
            self.ffn = MixFFN(dim, dim * 4)

        def forward(self, x, h, w):
            x = x + self.attn(self.pre_attn(x), h, w)
            return x + self.ffn(self.pre_ffn(x), h, w)

    def init_by_kind(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)
        elif isinstance(m, nn.Conv2d):
            # He-normal over the fan-out of one group
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                m.bias.data.zero_()

    class TinySegFormer(nn.Module):
        def __init__(self, classes=3, dims=(8, 16)):
            super().__init__()
            self.embed1 = PatchTokens(7, 4, 3, dims[0])
            self.embed2 = PatchTokens(3, 2, dims[0], dims[1])
            self.block1 = nn.ModuleList([EncoderLayer(dims[0], 2)])
            self.norm1 = nn.LayerNorm(dims[0])
            self.block2 = nn.ModuleList([EncoderLayer(dims[1], 1)])
            self.norm2 = nn.LayerNorm(dims[1])
            self.project = nn.ModuleList([nn.Linear(d, 8) for d in dims])
            self.fuse = nn.Conv2d(16, 8, 1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.classify = nn.Conv2d(8, classes, 1)
            self.apply(init_by_kind)

        def stage(self, x, embed, layers, norm):
            t, h, w = embed(x)
            for layer in layers:
                t = layer(t, h, w)
            return norm(t).reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous()

        def forward(self, x):
            f1 = self.stage(x, self.embed1, self.block1, self.norm1)
            f2 = self.stage(f1, self.embed2, self.block2, self.norm2)
            size = f1.size()[2:]
            # every stage's tokens projected to one width and resized to the first stage's map
            maps = [F.interpolate(tokens_to_map(lin(f.flatten(2).transpose(1, 2)), *f.shape[2:]),
                                  size=size, mode="bilinear", align_corners=False)
                    for f, lin in zip((f1, f2), self.project)]
            fused = F.relu(self.bn(self.fuse(L.cat(maps[::-1], dim=1))))
            return self.classify(fused), [f1, f2]

    L.manual_seed(0)
    model = TinySegFormer().double()
    img = _x(L, 2, 3, 32, 32, seed=9)
    logits, feats = model(img)
    up = F.interpolate(logits, size=img.shape[-2:], mode="bilinear", align_corners=False)
    target = L.tensor(labels(2 * 32 * 32, 3, 10).reshape(2, 32, 32))
    target[0, :4] = 255
    loss = F.cross_entropy(up, target, ignore_index=255)
    loss.backward()
    return dict(logits=logits, shapes=[f.shape for f in feats], loss=loss,
                grads={k: v for k, v in _grads(model).items() if "block" in k or "sr" in k},
                init=model.block1[0].attn.q.weight.std().item() < 0.05)


@program
def coordinate_attention_and_eca_blocks(L):
    """Coordinate attention (CVPR 2021): pooling along H and along W by AdaptiveAvgPool2d
    ((None, 1)) and ((1, None)), the two concatenated and split back, hard swish/sigmoid made
    of ReLU6(x + 3) / 6; and ECA's channel attention, a Conv1d over the squeezed channels
    (squeeze(-1).transpose(-1, -2)) whose kernel size comes from log2 of the channels; in a
    MobileNetV3-like block trained for two SGD steps with Nesterov momentum."""
    nn = L.nn

    class HardSigmoid(nn.Module):
        def __init__(self, inplace=True):
            super().__init__()
            self.relu6 = nn.ReLU6(inplace=inplace)

        def forward(self, x):
            return self.relu6(x + 3) / 6

    class HardSwish(nn.Module):
        def __init__(self, inplace=True):
            super().__init__()
            self.gate = HardSigmoid(inplace=inplace)

        def forward(self, x):
            return x * self.gate(x)

    class CoordGate(nn.Module):
        """Pool along each axis, encode both strips together, then one sigmoid gate per row
        and one per column."""

        def __init__(self, cin, cout, reduction=4):
            super().__init__()
            mid = max(8, cin // reduction)
            self.rows = nn.AdaptiveAvgPool2d((None, 1))
            self.cols = nn.AdaptiveAvgPool2d((1, None))
            self.encode = nn.Sequential(nn.Conv2d(cin, mid, kernel_size=1, stride=1, padding=0),
                                        nn.BatchNorm2d(mid), HardSwish())
            self.to_rows = nn.Conv2d(mid, cout, kernel_size=1, stride=1, padding=0)
            self.to_cols = nn.Conv2d(mid, cout, kernel_size=1, stride=1, padding=0)

        def forward(self, x):
            h, w = x.size()[2:]
            strips = L.cat([self.rows(x), self.cols(x).permute(0, 1, 3, 2)], dim=2)
            along_h, along_w = L.split(self.encode(strips), [h, w], dim=2)
            gate_h = self.to_rows(along_h).sigmoid()
            gate_w = self.to_cols(along_w.permute(0, 1, 3, 2)).sigmoid()
            return x * gate_w * gate_h

    def odd_kernel(c, gamma=2, b=1):
        t = int(abs((math.log(c, 2) + b) / gamma))
        return t + 1 - t % 2

    class ChannelConvGate(nn.Module):
        def __init__(self, c):
            super().__init__()
            k = odd_kernel(c)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            across = self.pool(x).squeeze(-1).transpose(-1, -2)
            w = self.sigmoid(self.conv(across).transpose(-1, -2).unsqueeze(-1))
            return x * w.expand_as(x)

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.dw = nn.Sequential(nn.Conv2d(c, c, 3, 2, 1, groups=c, bias=False),
                                    nn.BatchNorm2d(c), HardSwish())
            self.ca = CoordGate(c, c)
            self.eca = ChannelConvGate(c)
            self.pw = nn.Sequential(nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c))

        def forward(self, x):
            return self.pw(self.eca(self.ca(self.dw(x))))

    L.manual_seed(0)
    block = Block(16).double()
    head = nn.Linear(32, 4).double()
    opt = L.optim.SGD(list(block.parameters()) + list(head.parameters()), lr=0.05,
                      momentum=0.9, nesterov=True, weight_decay=1e-4)
    x = _x(L, 3, 16, 10, 6, seed=11)
    y = L.tensor(labels(3, 4, 12))
    losses = []
    for _ in range(2):
        opt.zero_grad()
        feat = block(x)
        loss = L.nn.functional.cross_entropy(head(feat.mean((2, 3))), y)
        loss.backward()
        opt.step()
        losses.append(loss)
    return dict(losses=losses, feat=feat, k=block.eca.conv.kernel_size,
                grads=_grads(block), mom=[opt.state[p]["momentum_buffer"]
                                         for p in block.ca.parameters()])


# ----------------------------------------------------------------------------------------------
# detection heads: CenterNet, RetinaNet's matcher and box coder
# ----------------------------------------------------------------------------------------------
@program
def centernet_heatmaps_losses_and_decode(L):
    """CenterNet (objects as points): Gaussian radii from the CornerNet quadratic, Gaussians
    drawn into the heatmap by torch.max(..., out=) on a slice view, the head's bias filled
    with -2.19, the clamped sigmoid_, the penalty-reduced focal loss, RegL1Loss through
    _transpose_and_gather_feat with size_average=False (its deprecation warning), and the
    decoder: a 3x3 max-pool peak filter, two-level topk with int division, gathers of the
    size and offset maps and the boxes concatenated."""
    nn, F = L.nn, L.nn.functional

    def radius_for(size, min_iou=0.7):
        # the largest corner shift keeping IoU >= min_iou, the smallest of CornerNet's three
        # cases (both corners inside, both outside, one of each): roots of three quadratics
        h, w = size
        cases = [(1, h + w, w * h * (1 - min_iou) / (1 + min_iou)),
                 (4, 2 * (h + w), (1 - min_iou) * w * h),
                 (4 * min_iou, -2 * min_iou * (h + w), (min_iou - 1) * w * h)]
        return min((b + math.sqrt(b ** 2 - 4 * a * c)) / 2 for a, b, c in cases)

    def gaussian_patch(r, sigma):
        ys, xs = L.meshgrid(L.arange(-r, r + 1.0, dtype=L.float64),
                            L.arange(-r, r + 1.0, dtype=L.float64), indexing="ij")
        g = L.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma))
        g[g < L.finfo(g.dtype).eps * g.max()] = 0
        return g

    def splat(heat, centre, r):
        # keep the elementwise max of the map and a Gaussian around centre, written in place
        # through out= into a view of the map, cut at the borders
        g = gaussian_patch(r, sigma=(2 * r + 1) / 6)
        x, y = int(centre[0]), int(centre[1])
        rows, cols = heat.shape[0:2]
        l, rt = min(x, r), min(cols - x, r + 1)
        t, b = min(y, r), min(rows - y, r + 1)
        window = heat[y - t:y + b, x - l:x + rt]
        patch = g[r - t:r + b, r - l:r + rt]
        if min(patch.shape) > 0 and min(window.shape) > 0:
            L.max(window, patch, out=window)
        return heat

    def safe_sigmoid(x):
        return L.clamp(x.sigmoid_(), min=1e-4, max=1 - 1e-4)

    def peak_focal(pred, gt):
        # focal loss at the peaks (gt == 1), elsewhere down-weighted by (1 - gt)^4
        peak = gt.eq(1).float()
        rest = gt.lt(1).float()
        on = (L.log(pred) * L.pow(1 - pred, 2) * peak).sum()
        off = (L.log(1 - pred) * L.pow(pred, 2) * L.pow(1 - gt, 4) * rest).sum()
        n = peak.float().sum()
        return -off if n == 0 else -(on + off) / n

    def pick(feat, index, mask=None):
        # feat (b, n, d), index (b, k) -> (b, k, d); with a mask, the selected rows only
        d = feat.size(2)
        out = feat.gather(1, index.unsqueeze(2).expand(index.size(0), index.size(1), d))
        if mask is None:
            return out
        return out[mask.unsqueeze(2).expand_as(out)].view(-1, d)

    def pick_from_map(fmap, index):
        flat = fmap.permute(0, 2, 3, 1).contiguous()
        return pick(flat.view(flat.size(0), -1, flat.size(3)), index)

    class MaskedL1(nn.Module):
        def forward(self, out, mask, index, target):
            pred = pick_from_map(out, index)
            m = mask.unsqueeze(2).expand_as(pred).float()
            return F.l1_loss(pred * m, target * m, size_average=False) / (m.sum() + 1e-4)

    def local_peaks(heat, k=3):
        top = F.max_pool2d(heat, (k, k), stride=1, padding=(k - 1) // 2)
        return heat * (top == heat).float()

    def best_k(scores, k):
        # top k per class, then top k over all classes
        n, classes, h, w = scores.size()
        per_class, where = L.topk(scores.view(n, classes, -1), k)
        where = where % (h * w)
        ys, xs = (where / w).int().float(), (where % w).int().float()
        best, slot = L.topk(per_class.view(n, -1), k)
        cls = (slot / k).int()

        def follow(t):
            return pick(t.view(n, -1, 1), slot).view(n, k)

        return best, follow(where), cls, follow(ys), follow(xs)

    def decode(heat, wh, offset, k):
        n = heat.size(0)
        scores, where, cls, ys, xs = best_k(local_peaks(heat), k)
        off = pick_from_map(offset, where).view(n, k, 2)
        xs, ys = xs.view(n, k, 1) + off[:, :, 0:1], ys.view(n, k, 1) + off[:, :, 1:2]
        half = pick_from_map(wh, where).view(n, k, 2) / 2
        boxes = L.cat([xs - half[..., 0:1], ys - half[..., 1:2],
                       xs + half[..., 0:1], ys + half[..., 1:2]], dim=2)
        return L.cat([boxes, scores.view(n, k, 1), cls.view(n, k, 1).float()], dim=2)

    class Heads(nn.Module):
        def __init__(self, c, outputs):
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.ReLU(inplace=True))
            self.names = outputs
            for name, width in outputs.items():
                branch = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=True),
                                       nn.ReLU(inplace=True), nn.Conv2d(c, width, 1))
                if name == "hm":
                    branch[-1].bias.data.fill_(-2.19)       # sigmoid(-2.19) ~ 0.1 at start
                self.__setattr__(name, branch)

        def forward(self, x):
            f = self.backbone(x)
            return [{name: self.__getattr__(name)(f) for name in self.names}]

    out_h = out_w = 8
    boxes = [[[1.0, 1.0, 7.0, 9.0, 0], [6.0, 4.0, 14.0, 12.0, 1]],
             [[2.0, 8.0, 10.0, 15.0, 1], [9.0, 1.0, 15.0, 6.0, 0]]]
    max_objs = 4
    hm = L.zeros(2, 2, out_h, out_w, dtype=L.float64)
    wh_t = L.zeros(2, max_objs, 2, dtype=L.float64)
    reg_t = L.zeros(2, max_objs, 2, dtype=L.float64)
    ind = L.zeros(2, max_objs, dtype=L.int64)
    reg_mask = L.zeros(2, max_objs, dtype=L.uint8)
    radii = []
    for b, objs in enumerate(boxes):
        for k, (x1, y1, x2, y2, cls) in enumerate(objs):
            x1, y1, x2, y2 = x1 / 2, y1 / 2, x2 / 2, y2 / 2
            h, w = y2 - y1, x2 - x1
            radius = max(0, int(radius_for((math.ceil(h), math.ceil(w)))))
            radii.append(radius)
            ct = L.tensor([(x1 + x2) / 2, (y1 + y2) / 2], dtype=L.float64)
            ct_int = ct.to(L.int32)
            splat(hm[b, int(cls)], ct_int, radius)
            wh_t[b, k] = L.tensor([w, h], dtype=L.float64)
            ind[b, k] = ct_int[1] * out_w + ct_int[0]
            reg_t[b, k] = ct - ct_int
            reg_mask[b, k] = 1
    L.manual_seed(0)
    model = Heads(8, {"hm": 2, "wh": 2, "reg": 2}).double()
    img = _x(L, 2, 3, 16, 16, seed=13)
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    crit_reg = MaskedL1()
    losses = []
    for _ in range(2):
        output = model(img)[-1]
        output["hm"] = safe_sigmoid(output["hm"])
        hm_loss = peak_focal(output["hm"], hm)
        wh_loss = crit_reg(output["wh"], reg_mask, ind, wh_t)
        off_loss = crit_reg(output["reg"], reg_mask, ind, reg_t)
        loss = hm_loss + 0.1 * wh_loss + off_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append([hm_loss, wh_loss, off_loss])
    with L.no_grad():
        output = model(img)[-1]
        dets = decode(output["hm"].sigmoid_(), output["wh"], output["reg"], k=5)
    masked = pick(pick_from_map(output["wh"], ind).contiguous()
                          .view(2, max_objs, 2)[:, :, :1], ind[:, :1].expand(2, 2) * 0,
                          reg_mask[:, :2].bool())
    return dict(radii=radii, hm=hm, ind=ind, reg=reg_t, losses=losses, dets=dets,
                masked=masked, bias=model.hm[-1].bias)


@program
def retinanet_matcher_box_coder_and_loss(L):
    """RetinaNet's training path (torchvision's behaviour, our code): anchors from meshgrid
    shifts, box_iou by broadcast max/min and clamp, the Matcher (max over ground truth,
    thresholds written into the matches by boolean indexing, low-quality matches recovered by
    torch.where of the equality with each box's best), box deltas encoded with weights and
    decoded with the log-size clip, one-hot class targets by advanced indexing,
    sigmoid_focal_loss over the valid anchors, L1 box loss over the foreground; then
    postprocessing: topk candidates, floor division into anchors and labels, decoded boxes
    clipped, batched NMS by the coordinate-offset trick."""
    F = L.nn.functional
    BELOW, BETWEEN = -1, -2

    def area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def pair_iou(a, b):
        meet = (L.min(a[:, None, 2:], b[:, 2:]) - L.max(a[:, None, :2], b[:, :2])).clamp(min=0)
        overlap = meet[:, :, 0] * meet[:, :, 1]
        return overlap / (area(a)[:, None] + area(b) - overlap)

    class Assigner:
        """Per anchor: the index of its best ground truth, BELOW or BETWEEN by thresholds;
        optionally each ground truth's best anchors keep their match whatever the IoU."""

        def __init__(self, high, low, keep_best=False):
            self.high, self.low, self.keep_best = high, low, keep_best

        def __call__(self, quality):
            best, which = quality.max(dim=0)
            before = which.clone() if self.keep_best else None
            which[best < self.low] = BELOW
            which[(best >= self.low) & (best < self.high)] = BETWEEN
            if self.keep_best:
                anchor_ids = L.where(quality == quality.max(dim=1)[0][:, None])[1]
                which[anchor_ids] = before[anchor_ids]
            return which

    def centre_size(b):
        w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
        return b[:, 0] + 0.5 * w, b[:, 1] + 0.5 * h, w, h

    class DeltaCoder:
        def __init__(self, weights, max_log=math.log(1000.0 / 16)):
            self.weights, self.max_log = weights, max_log

        def encode(self, boxes, refs):
            # the weights as a tensor of the boxes' dtype; every column kept 2-d, then cat
            k = L.as_tensor(self.weights, dtype=boxes.dtype)
            bx, by, bw, bh = (t.unsqueeze(1) for t in centre_size(boxes))
            rx, ry, rw, rh = (t.unsqueeze(1) for t in centre_size(refs))
            return L.cat((k[0] * (bx - rx) / rw, k[1] * (by - ry) / rh,
                          k[2] * L.log(bw / rw), k[3] * L.log(bh / rh)), dim=1)

        def decode(self, codes, refs):
            rx, ry, rw, rh = centre_size(refs.to(codes.dtype))
            kx, ky, kw, kh = self.weights
            cx = codes[:, 0::4] / kx * rw[:, None] + rx[:, None]
            cy = codes[:, 1::4] / ky * rh[:, None] + ry[:, None]
            half_w = L.tensor(0.5, dtype=cx.dtype) * (
                L.exp(L.clamp(codes[:, 2::4] / kw, max=self.max_log)) * rw[:, None])
            half_h = L.tensor(0.5, dtype=cy.dtype) * (
                L.exp(L.clamp(codes[:, 3::4] / kh, max=self.max_log)) * rh[:, None])
            return L.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h),
                           dim=2).flatten(1)

    def focal(logits, targets, alpha=0.25, gamma=2, reduction="none"):
        # BCE scaled by (1 - p_true)^gamma, positives weighted alpha and negatives 1 - alpha
        p = L.sigmoid(logits)
        p_true = p * targets + (1 - p) * (1 - targets)
        loss = F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * (
            (1 - p_true) ** gamma)
        if alpha >= 0:
            loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
        return loss.sum() if reduction == "sum" else loss

    def nms(boxes, scores, thr):
        # greedy: take the best left, drop what overlaps it more than thr, repeat
        left, keep = scores.argsort(descending=True), []
        while left.numel() > 0:
            top = left[0]
            keep.append(top)
            if left.numel() == 1:
                break
            left = left[1:][pair_iou(boxes[top][None], boxes[left[1:]])[0] <= thr]
        return L.stack(keep) if keep else L.empty(0, dtype=L.int64)

    def nms_per_class(boxes, scores, classes, thr):
        apart = classes.to(boxes) * (boxes.max() + L.tensor(1).to(boxes))
        return nms(boxes + apart[:, None], scores, thr)

    sizes, stride = (6.0, 12.0), 4
    base = L.tensor([[-s / 2, -s / 2, s / 2, s / 2] for s in sizes], dtype=L.float64)
    steps = L.arange(0, 4, dtype=L.int32) * stride
    ys, xs = (g.reshape(-1) for g in L.meshgrid(steps, steps, indexing="ij"))
    shifts = L.stack((xs, ys, xs, ys), dim=1)
    anchors = (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)
    gt_boxes = L.tensor([[1.0, 2.0, 9.0, 10.0], [5.0, 3.0, 15.0, 14.0]], dtype=L.float64)
    gt_labels = L.tensor([2, 0])
    num_classes = 3
    matcher = Assigner(0.5, 0.4, keep_best=True)
    coder = DeltaCoder((1.0, 1.0, 1.0, 1.0))
    iou = pair_iou(gt_boxes, anchors)
    matched_idxs = matcher(iou)
    cls_logits = _x(L, anchors.shape[0], num_classes, seed=14, grad=True)
    bbox_reg = _x(L, anchors.shape[0], 4, seed=15, scale=0.2, grad=True)
    fg = matched_idxs >= 0
    num_foreground = fg.sum()
    one_hot = L.zeros_like(cls_logits)
    one_hot[fg, gt_labels[matched_idxs[fg]]] = 1.0
    usable = matched_idxs != BETWEEN
    cls_loss = focal(cls_logits[usable], one_hot[usable], reduction="sum") / max(1, num_foreground)
    matched_gt = gt_boxes[matched_idxs[fg]]
    target_regression = coder.encode(matched_gt, anchors[fg, :])
    box_loss = F.l1_loss(bbox_reg[fg, :], target_regression,
                         reduction="sum") / max(1, num_foreground.item())
    (cls_loss + box_loss).backward()

    with L.no_grad():
        flat_scores = L.sigmoid(cls_logits).flatten()
        above = flat_scores > 0.3
        candidates = L.where(above)[0]
        scores_k, order = flat_scores[above].topk(min(10, candidates.size(0)))
        candidates = candidates[order]
        # flat index = anchor * classes + class
        anchor_idxs = L.div(candidates, num_classes, rounding_mode="floor")
        labels_k = candidates % num_classes
        boxes = coder.decode(bbox_reg[anchor_idxs], anchors[anchor_idxs])
        xs_, ys_ = boxes[..., 0::2].clamp(min=0, max=16), boxes[..., 1::2].clamp(min=0, max=16)
        boxes = L.stack((xs_, ys_), dim=boxes.dim()).reshape(boxes.shape)
        keep = nms_per_class(boxes, scores_k, labels_k, 0.5)
    return dict(anchors=anchors, iou=iou, matched=matched_idxs, nfg=num_foreground,
                target=target_regression, cls_loss=cls_loss, box_loss=box_loss,
                g_cls=cls_logits.grad, g_box=bbox_reg.grad, boxes=boxes[keep],
                scores=scores_k[keep], labels=labels_k[keep],
                roundtrip=coder.decode(target_regression, anchors[fg, :]) - matched_gt)


# ----------------------------------------------------------------------------------------------
# optimizer wrappers: SAM with gradient centralisation, Lookahead, the center loss's two
# optimizers, layer-wise learning-rate decay
# ----------------------------------------------------------------------------------------------
@program
def sam_optimizer_with_gradient_centralization(L):
    """Sharpness-aware minimisation (the design of davda54/sam, our code): an Optimizer subclass
    holding rho/adaptive in its defaults that builds its base optimizer over its own
    param_groups and takes them over; the first pass saves the weights in self.state and climbs
    by grad * scale.to(p) (|p|^2-weighted when adaptive), the second restores p.data and steps
    the base optimizer, step wraps the closure in torch.enable_grad(); BatchNorm running stats
    disabled around the second pass by Module.apply over _BatchNorm; gradients centralised per
    output channel before the climb; the wrapper's state_dict saved and loaded through
    io.BytesIO."""
    nn, F = L.nn, L.nn.functional
    from_bn = L.nn.modules.batchnorm._BatchNorm

    class SharpnessAware(L.optim.Optimizer):
        """Two passes per step: climb to w + rho g/|g| (scaled by |w| per element when
        adaptive), take the gradient there, come back to w and let the base optimizer step
        with that gradient."""

        def __init__(self, params, base_cls, rho=0.05, adaptive=False, **base_kw):
            if rho < 0.0:
                raise ValueError(f"rho must be >= 0, got {rho}")
            super().__init__(params, dict(rho=rho, adaptive=adaptive, **base_kw))
            self.base = base_cls(self.param_groups, **base_kw)
            self.param_groups = self.base.param_groups          # one list, shared
            self.defaults.update(self.base.defaults)

        def _with_grads(self):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        yield group, p

        def _grad_norm(self):
            device = self.param_groups[0]["params"][0].device
            norms = [((L.abs(p) if g["adaptive"] else 1.0) * p.grad).norm(p=2).to(device)
                     for g, p in self._with_grads()]
            return L.norm(L.stack(norms), p=2)

        @L.no_grad()
        def climb(self, zero_grad=False):
            norm = self._grad_norm()
            for group, p in list(self._with_grads()):
                self.state[p]["before_climb"] = p.data.clone()
                step = p.grad * (group["rho"] / (norm + 1e-12)).to(p)
                p.add_(L.pow(p, 2) * step if group["adaptive"] else step)
            if zero_grad:
                self.zero_grad()

        @L.no_grad()
        def descend(self, zero_grad=False):
            for _, p in self._with_grads():
                p.data = self.state[p]["before_climb"]
            self.base.step()
            if zero_grad:
                self.zero_grad()

        @L.no_grad()
        def step(self, closure=None):
            if closure is None:
                raise RuntimeError("this optimizer needs a closure for its second pass")
            self.climb(zero_grad=True)
            L.enable_grad()(closure)()
            self.descend()

        def load_state_dict(self, state_dict):
            super().load_state_dict(state_dict)
            self.base.param_groups = self.param_groups

    def freeze_bn_stats(model, frozen):
        # BN momentum 0 keeps the running statistics still during the climbed pass
        def visit(m):
            if not isinstance(m, from_bn):
                return
            if frozen:
                m.saved_momentum, m.momentum = m.momentum, 0
            elif hasattr(m, "saved_momentum"):
                m.momentum = m.saved_momentum
        model.apply(visit)

    def centre_grads(model):
        # remove each output channel's mean from the gradient of every weight matrix/kernel
        for p in model.parameters():
            if p.grad is not None and p.grad.dim() > 1:
                axes = tuple(range(1, len(list(p.grad.size()))))
                p.grad.data.add_(-p.grad.data.mean(dim=axes, keepdim=True))

    def smoothed_ce(pred, gold, eps=0.1):
        target = L.full_like(pred, fill_value=eps / (pred.size(1) - 1))
        target.scatter_(dim=1, index=gold.unsqueeze(1), value=1.0 - eps)
        return F.kl_div(input=F.log_softmax(pred, dim=1), target=target,
                        reduction="none").sum(-1)

    out = {}
    for adaptive in (False, True):
        L.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.Flatten(), nn.Linear(4 * 25, 3)).double()
        x, y = _x(L, 4, 2, 5, 5, seed=16), L.tensor(labels(4, 3, 17))
        optimizer = SharpnessAware(model.parameters(), L.optim.SGD,
                                   rho=2.0 if adaptive else 0.05, adaptive=adaptive, lr=0.1,
                                   momentum=0.9)
        losses = []
        for step in range(2):
            freeze_bn_stats(model, False)
            loss = smoothed_ce(model(x), y).mean()
            loss.backward()
            centre_grads(model)
            optimizer.climb(zero_grad=True)
            freeze_bn_stats(model, True)
            smoothed_ce(model(x), y).mean().backward()
            optimizer.descend(zero_grad=True)
            losses.append(loss)

        def closure():
            loss = smoothed_ce(model(x), y).mean()
            loss.backward()
            return loss
        closure()
        optimizer.step(closure)
        buf = io.BytesIO()
        L.save(optimizer.state_dict(), buf)
        buf.seek(0)
        sd = L.load(buf)
        optimizer.load_state_dict(sd)
        out[adaptive] = dict(
            losses=losses, params=[p.detach().clone() for p in model.parameters()],
            bn=(model[1].running_mean, model[1].momentum),
            groups=[{k: v for k, v in g.items() if k != "params"}
                    for g in sd["param_groups"]],
            state_keys=sorted({k for s in sd["state"].values() for k in s}),
            same=optimizer.base.param_groups is optimizer.param_groups,
            defaults=sorted(optimizer.defaults))
    return out


@program
def lookahead_wrapper_without_optimizer_init(L):
    """Lookahead as timm wraps it: an Optimizer subclass that never calls Optimizer.__init__,
    takes its base optimizer's param_groups, defaults and a defaultdict state, setdefaults its
    own keys into every group, keeps the slow weights in the base optimizer's state (empty_like
    + copy_, add_ with alpha), delegates state_dict/load_state_dict; driven with zero_grad, a
    LambdaLR warm-up on the wrapper and a reload into a fresh wrapper."""
    nn = L.nn

    class Lookahead(L.optim.Optimizer):
        """Every k steps of the wrapped optimizer, pull a slow copy of the weights a fraction
        alpha towards the fast ones and restart the fast weights from it.  Optimizer.__init__
        is never called: the base optimizer's groups, defaults and state are used."""

        def __init__(self, base, alpha=0.5, k=6):
            if not 0.0 <= alpha <= 1.0 or k < 1:
                raise ValueError(f"need 0 <= alpha <= 1 and k >= 1, got {alpha}, {k}")
            extra = dict(la_alpha=alpha, la_k=k, la_step=0)
            self.base = base
            self.param_groups = base.param_groups
            self.defaults = base.defaults
            self.defaults.update(extra)
            self.state = defaultdict(dict)
            for group in base.param_groups:
                for key, value in extra.items():
                    group.setdefault(key, value)

        @L.no_grad()
        def pull(self, group):
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.base.state[p]
                if "slow" not in st:
                    st["slow"] = L.empty_like(p)
                    st["slow"].copy_(p)
                st["slow"].add_(p - st["slow"], alpha=group["la_alpha"])
                p.copy_(st["slow"])

        def pull_all(self):
            for group in self.base.param_groups:
                self.pull(group)

        @L.no_grad()
        def step(self, closure=None):
            loss = self.base.step(closure)
            for group in self.base.param_groups:
                group["la_step"] += 1
                if group["la_step"] % group["la_k"] == 0:
                    self.pull(group)
            return loss

        def state_dict(self):
            return self.base.state_dict()

        def load_state_dict(self, state_dict):
            self.base.load_state_dict(state_dict)
            self.param_groups = self.base.param_groups

    L.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    x, y = _x(L, 16, 5, seed=18), _x(L, 16, 2, seed=19)
    base = L.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01)
    opt = Lookahead(base, alpha=0.5, k=3)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 4))
    losses, lrs = [], []
    for _ in range(7):
        opt.zero_grad()
        loss = L.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    opt.pull_all()
    sd = opt.state_dict()
    fresh = Lookahead(L.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01), k=3)
    fresh.load_state_dict(sd)
    return dict(losses=losses, lrs=lrs, params=[p.detach() for p in model.parameters()],
                groups=[{k: v for k, v in g.items() if k != "params"}
                        for g in sd["param_groups"]],
                state={k: sorted(v) for k, v in sd["state"].items()},
                slow=sd["state"][0]["slow"],
                fresh=[fresh.param_groups[0]["la_step"],
                       fresh.base.state[next(model.parameters())]["step"]],
                bad=[err(lambda: Lookahead(base, alpha=1.5)), err(lambda: Lookahead(base, k=0))],
                is_opt=isinstance(opt, L.optim.Optimizer))


@program
def center_loss_with_two_optimizers(L):
    """The center loss (Wen et al.): learnable centers, the squared distance matrix expanded
    both ways and completed by addmm_(x, centers.t(), beta=1, alpha=-2), a label mask from eq
    against an expanded arange, clamp and a mean; trained beside softmax cross entropy with its
    own SGD whose gradients are rescaled by 1 / weight before stepping."""
    nn, F = L.nn, L.nn.functional

    class CentreLoss(nn.Module):
        """Mean over the batch of |x_i - c_{y_i}|^2 with a learnable centre per class; the
        squared distances to every centre come from |x|^2 + |c|^2 - 2 x.c (addmm_)."""

        def __init__(self, classes=4, dim=2):
            super().__init__()
            self.classes = classes
            self.centers = nn.Parameter(L.randn(classes, dim, dtype=L.float64))

        def forward(self, x, labels):
            n = x.size(0)
            sq_x = L.pow(x, 2).sum(dim=1, keepdim=True).expand(n, self.classes)
            sq_c = L.pow(self.centers, 2).sum(dim=1, keepdim=True).expand(self.classes, n).t()
            dist = sq_x + sq_c
            dist.addmm_(x, self.centers.t(), beta=1, alpha=-2)
            own = labels.unsqueeze(1).expand(n, self.classes).eq(
                L.arange(self.classes).long().expand(n, self.classes))
            return (dist * own.float()).clamp(min=1e-12, max=1e+12).sum() / n

    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.PReLU(), nn.Linear(8, 2)).double()
    classifier = nn.Linear(2, 4).double()
    criterion_cent = CentreLoss()
    opt_model = L.optim.SGD(list(net.parameters()) + list(classifier.parameters()), lr=0.1,
                            weight_decay=5e-4, momentum=0.9)
    opt_cent = L.optim.SGD(criterion_cent.parameters(), lr=0.5)
    weight_cent = 0.5
    x, y = _x(L, 12, 6, seed=20), L.tensor(labels(12, 4, 21))
    out = []
    for _ in range(3):
        features = net(x)
        outputs = classifier(features)
        loss_xent = F.cross_entropy(outputs, y)
        loss_cent = criterion_cent(features, y)
        loss = loss_xent + loss_cent * weight_cent
        opt_model.zero_grad()
        opt_cent.zero_grad()
        loss.backward()
        opt_model.step()
        for param in criterion_cent.parameters():
            param.grad.data *= (1. / weight_cent)
        opt_cent.step()
        out.append((loss_xent.item(), loss_cent.item()))
    pred = outputs.data.max(1)[1]
    return dict(losses=out, centers=criterion_cent.centers, correct=(pred == y.data).sum(),
                prelu=net[1].weight, grad=criterion_cent.centers.grad)


@program
def vit_layer_decay_param_groups_and_pos_embed_interpolation(L):
    """ViT fine-tuning with layer-wise learning-rate decay (as in MAE/BEiT): a param group
    per depth and decay kind, the depth read off the parameter's name, 1-d weights and
    biases and the token and position embeddings without weight decay, lr_scale = decay **
    (depth + 1 - id); the lr set per iteration (linear warm-up, half-cycle cosine) as
    group['lr'] = lr * group['lr_scale'], AdamW; then a checkpoint's position embeddings
    resized by bicubic interpolation before load_state_dict with strict=False, and its
    missing/unexpected keys."""
    nn, F = L.nn, L.nn.functional

    class Block(nn.Module):
        def __init__(self, dim, heads=2):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.qkv = nn.Linear(dim, dim * 3)
            self.proj = nn.Linear(dim, dim)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.heads = heads

        def forward(self, x):
            B, N, C = x.shape
            qkv = self.qkv(self.norm1(x)).reshape(B, N, 3, self.heads, C // self.heads) \
                .permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            a = F.scaled_dot_product_attention(q, k, v)
            x = x + self.proj(a.transpose(1, 2).reshape(B, N, C))
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        def __init__(self, img=8, patch=2, dim=8, depth=3, classes=3):
            super().__init__()
            self.patch_embed = nn.Conv2d(3, dim, patch, patch)
            num_patches = (img // patch) ** 2
            self.cls_token = nn.Parameter(L.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(L.randn(1, num_patches + 1, dim) * .02)
            self.blocks = nn.ModuleList([Block(dim) for _ in range(depth)])
            self.fc_norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, classes)

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = L.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
            for blk in self.blocks:
                x = blk(x)
            return self.head(self.fc_norm(x[:, 1:, :].mean(dim=1)))

    def depth_of(name, top):
        """0 for the embeddings, i + 1 for block i, ``top`` for what follows the blocks."""
        if name in ("cls_token", "pos_embed") or name.startswith("patch_embed"):
            return 0
        if name.startswith("blocks"):
            return int(name.split(".")[1]) + 1
        return top

    def groups_by_depth(model, wd=0.05, exempt=(), decay=.75):
        """One group per (depth, decayed or not), its lr scaled by decay ** (top - depth);
        no weight decay for 1-d tensors and the exempt names.  Also the groups by name."""
        top = len(model.blocks) + 1
        groups, named = {}, {}
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            plain = p.ndim == 1 or name in exempt
            depth = depth_of(name, top)
            key = "layer_%d_%s" % (depth, "no_decay" if plain else "decay")
            if key not in groups:
                settings = dict(lr_scale=decay ** (top - depth), weight_decay=0. if plain else wd)
                groups[key] = dict(settings, params=[])
                named[key] = dict(settings, params=[])
            groups[key]["params"].append(p)
            named[key]["params"].append(name)
        return list(groups.values()), named

    def set_lr(opt, epoch, peak=1e-2, floor=1e-4, warmup=1, epochs=4):
        """A linear warm-up to ``peak``, then half a cosine down to ``floor``; every group
        gets that times its lr_scale."""
        if epoch >= warmup:
            lr = floor + (peak - floor) * 0.5 * (
                1. + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))
        else:
            lr = peak * epoch / warmup
        for g in opt.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)
        return lr

    def resize_checkpoint_positions(model, ckpt):
        """ckpt['pos_embed'] brought to the model's patch grid by bicubic interpolation (the
        leading special tokens kept), replaced in the dict."""
        old = ckpt["pos_embed"]
        width = old.shape[-1]
        n_grid = model.pos_embed.shape[-2] - 1
        n_special = model.pos_embed.shape[-2] - n_grid
        side_old = int((old.shape[-2] - n_special) ** 0.5)
        side_new = int(n_grid ** 0.5)
        if side_old == side_new:
            return
        grid = old[:, n_special:].reshape(-1, side_old, side_old, width).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(side_new, side_new), mode="bicubic",
                             align_corners=False)
        ckpt["pos_embed"] = L.cat((old[:, :n_special], grid.permute(0, 2, 3, 1).flatten(1, 2)),
                                  dim=1)

    L.manual_seed(0)
    model = ViT().double()
    groups, names = groups_by_depth(model, exempt={"pos_embed", "cls_token"})
    opt = L.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95))
    x, y = _x(L, 4, 3, 8, 8, seed=22), L.tensor(labels(4, 3, 23))
    lrs, losses = [], []
    for it in range(4):
        lrs.append(set_lr(opt, it / 2 + 0.25))
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    ckpt = {k: v.clone() for k, v in model.state_dict().items()}
    ckpt["head.weight"] = L.zeros(5, 8, dtype=L.float64)
    del ckpt["head.weight"], ckpt["head.bias"]
    ckpt["extra"] = L.ones(1)
    big = ViT(img=12).double()
    resize_checkpoint_positions(big, ckpt)
    msg = big.load_state_dict(ckpt, strict=False)
    return dict(names=names, lrs=lrs, losses=losses,
                group_lrs=[g["lr"] for g in opt.param_groups],
                state_steps=[opt.state[p]["step"] for p in model.parameters()],
                pos=big.pos_embed, missing=msg.missing_keys, unexpected=msg.unexpected_keys,
                msg=str(msg), out=big(_x(L, 1, 3, 12, 12, seed=24)))


# ----------------------------------------------------------------------------------------------
# uint8 augmentations, Attention U-Net, non-local block, CondConv, the R-CNN transform
# ----------------------------------------------------------------------------------------------
@program
def uint8_tensor_augmentations_as_torchvision_writes_them(L):
    """torchvision's tensor functional ops on a uint8 image batch: _blend with clamp and
    .to(img.dtype), rgb_to_grayscale by unbind, brightness/contrast/saturation, invert from
    the bound, posterize by & with a negative Python int, solarize by where, autocontrast by
    amin/amax with the non-finite scales fixed through boolean indexing, equalize by histc,
    floor divisions, a padded cumulative LUT and indexing, and sharpness by a depthwise
    smoothing conv whose border keeps the original pixels; a Cutout mask drawn by a
    Generator."""
    F = L.nn.functional
    img = L.tensor(np.random.RandomState(25).randint(0, 256, (2, 3, 8, 8)), dtype=L.uint8)
    img[1, 2] = 77

    def _blend(img1, img2, ratio):
        ratio = float(ratio)
        return (ratio * img1 + (1.0 - ratio) * img2).clamp(0, 255.0).to(img1.dtype)

    def rgb_to_grayscale(img):
        r, g, b = img.unbind(dim=-3)
        return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(dim=-3)

    def adjust_contrast(img, f):
        mean = L.mean(rgb_to_grayscale(img).to(L.float32), dim=(-3, -2, -1), keepdim=True)
        return _blend(img, mean, f)

    def posterize(img, bits):
        mask = -int(2 ** (8 - bits))
        return img & mask

    def solarize(img, threshold):
        return L.where(img >= threshold, 255 - img, img)

    def autocontrast(img):
        bound = 255.0
        dtype = img.dtype if L.is_floating_point(img) else L.float32
        minimum = img.amin(dim=(-2, -1), keepdim=True).to(dtype)
        maximum = img.amax(dim=(-2, -1), keepdim=True).to(dtype)
        scale = bound / (maximum - minimum)
        eq_idxs = L.isfinite(scale).logical_not()
        minimum[eq_idxs] = 0
        scale[eq_idxs] = 1.0
        return ((img - minimum) * scale).clamp(0, bound).to(img.dtype)

    def _scale_channel(img_chan):
        hist = L.histc(img_chan.to(L.float32), bins=256, min=0, max=255)
        nonzero_hist = hist[hist != 0]
        step = L.div(nonzero_hist[:-1].sum(), 255, rounding_mode="floor")
        if step == 0:
            return img_chan
        lut = L.div(L.cumsum(hist, 0) + L.div(step, 2, rounding_mode="floor"), step,
                    rounding_mode="floor")
        lut = F.pad(lut, [1, 0])[:-1].clamp(0, 255)
        return lut[img_chan.to(L.int64)].to(L.uint8)

    def equalize(img):
        return L.stack([L.stack([_scale_channel(c) for c in im]) for im in img])

    def adjust_sharpness(img, factor):
        kernel = L.ones((3, 3), dtype=L.float32)
        kernel[1, 1] = 5.0
        kernel /= kernel.sum()
        kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
        result_tmp = F.conv2d(img.to(L.float32), kernel, groups=img.shape[-3])
        result_tmp = L.round(result_tmp).clamp(0, 255).to(img.dtype)
        result = img.clone()
        result[..., 1:-1, 1:-1] = result_tmp
        return _blend(img, result, factor)

    g = L.Generator().manual_seed(3)
    mask = L.ones(8, 8)
    for _ in range(2):
        yy = L.randint(8, (1,), generator=g).item()
        xx = L.randint(8, (1,), generator=g).item()
        mask[max(0, yy - 2):min(8, yy + 2), max(0, xx - 2):min(8, xx + 2)] = 0.
    cut = (img.float() / 255) * mask.expand_as(img)
    return dict(bright=_blend(img, L.zeros_like(img), 1.3),
                contrast=adjust_contrast(img, 0.6),
                sat=_blend(img, rgb_to_grayscale(img), 1.7),
                gray=rgb_to_grayscale(img), inv=255 - img, post=posterize(img, 3),
                sol=solarize(img, 128), auto=autocontrast(img), eq=equalize(img),
                sharp=adjust_sharpness(img, 2.0), cut=cut, mask=mask,
                rshift=img >> 4, lshift=(img << 1)[0, 0, 0], xor=img[0, 0, 0] ^ 0xF0,
                float_auto=autocontrast(img.float() / 255))


@program
def attention_unet_gates_with_dice_bce(L):
    """Attention U-Net: gating signals from the coarser decoder level, two 1x1 conv + BatchNorm
    branches summed, ReLU, psi (1x1 conv, BN, sigmoid), the gate multiplying the skip;
    up-convolutions by Upsample(scale_factor=2) + conv, skips concatenated; trained by
    BCE-with-logits plus a soft Dice loss computed over flattened sigmoid outputs; the gates'
    attention maps collected by forward hooks."""
    nn, F = L.nn, L.nn.functional

    def conv_bn_relu(cin, cout, k=3):
        return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, bias=True),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def up_then_conv(cin, cout):
        return nn.Sequential(nn.Upsample(scale_factor=2), conv_bn_relu(cin, cout))

    def conv1_bn(cin, cout):
        return [nn.Conv2d(cin, cout, 1, 1, 0, bias=True), nn.BatchNorm2d(cout)]

    class SkipGate(nn.Module):
        """A per-pixel weight in (0, 1) for the skip, from the skip and the coarser signal."""

        def __init__(self, c_coarse, c_skip, mid):
            super().__init__()
            self.from_coarse = nn.Sequential(*conv1_bn(c_coarse, mid))
            self.from_skip = nn.Sequential(*conv1_bn(c_skip, mid))
            self.psi = nn.Sequential(*conv1_bn(mid, 1), nn.Sigmoid())
            self.relu = nn.ReLU(inplace=True)

        def forward(self, coarse, skip):
            return skip * self.psi(self.relu(self.from_coarse(coarse) + self.from_skip(skip)))

    class GatedUNet(nn.Module):
        def __init__(self, cin=3, cout=1):
            super().__init__()
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.enc = nn.ModuleList([conv_bn_relu(cin, 4), conv_bn_relu(4, 8),
                                      conv_bn_relu(8, 16)])
            # decoder levels from the coarsest: upsample, gate the skip, merge
            self.ups, self.gates, self.merges = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
            for wide, narrow in ((16, 8), (8, 4)):
                self.ups.append(up_then_conv(wide, narrow))
                self.gates.append(SkipGate(narrow, narrow, narrow // 2))
                self.merges.append(conv_bn_relu(wide, narrow))
            self.head = nn.Conv2d(4, cout, 1, 1, 0)

        def forward(self, x):
            skips = []
            for i, stage in enumerate(self.enc):
                x = stage(x if i == 0 else self.pool(x))
                skips.append(x)
            for up, gate, merge, skip in zip(self.ups, self.gates, self.merges, skips[-2::-1]):
                d = up(x)
                x = merge(L.cat((gate(coarse=d, skip=skip), d), dim=1))
            return self.head(x)

    class DiceAndBCE(nn.Module):
        def forward(self, logits, targets, smooth=1):
            bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="mean")
            p, t = L.sigmoid(logits).view(-1), targets.view(-1)
            dice = (2. * (p * t).sum() + smooth) / (p.sum() + t.sum() + smooth)
            return bce + 1 - dice

    L.manual_seed(0)
    net = GatedUNet().double()
    maps = {}
    handles = [m.psi.register_forward_hook(
        lambda mod, inp, out, name=name: maps.__setitem__(name, out.detach()))
        for name, m in net.named_modules() if isinstance(m, SkipGate)]
    x = _x(L, 2, 3, 8, 8, seed=26)
    t = L.tensor((np.random.RandomState(27).rand(2, 1, 8, 8) > 0.5).astype(np.float64))
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    crit = DiceAndBCE()
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = crit(net(x), t)
        loss.backward()
        opt.step()
        losses.append(loss)
    for h in handles:
        h.remove()
    net(x)
    return dict(losses=losses, maps=maps, grads={k: v for k, v in _grads(net).items()
                                                 if "gates" in k},
                names=sorted(maps), hooks=len(net.gates[1].psi._forward_hooks))


@program
def non_local_block_embedded_gaussian_and_dot_product(L):
    """The non-local neural network block (Wang et al.): query/key/value 1x1 convs, a
    sub-sampling max-pool appended after phi and g, the pairwise function as softmax of theta .
    phi (embedded Gaussian) or divided by N (dot product), W as conv + BatchNorm whose weight
    and bias are zeroed by nn.init.constant_ so the block starts as identity; 1-d, 2-d and 3-d
    versions."""
    nn, F = L.nn, L.nn.functional
    by_dim = {1: (nn.Conv1d, nn.BatchNorm1d, lambda: nn.MaxPool1d(kernel_size=2)),
              2: (nn.Conv2d, nn.BatchNorm2d, lambda: nn.MaxPool2d(kernel_size=(2, 2))),
              3: (nn.Conv3d, nn.BatchNorm3d, lambda: nn.MaxPool3d(kernel_size=(1, 2, 2)))}

    class NonLocalND(nn.Module):
        """y_i = sum_j f(x_i, x_j) g(x_j) over every position j (pooled), projected back and
        added to x; f = softmax of dot products ("embedded") or dot products / N ("dot")."""

        def __init__(self, c, mid=None, dims=3, pool=True, norm=True, kind="embedded"):
            super().__init__()
            conv, bn, make_pool = by_dim[dims]
            self.kind, self.mid = kind, mid or max(c // 2, 1)
            shared_pool = make_pool()

            def one_by_one(cin, cout):
                return conv(cin, cout, 1, 1, 0)

            self.value = one_by_one(c, self.mid)
            out = one_by_one(self.mid, c)
            self.out = nn.Sequential(out, bn(c)) if norm else out
            last = self.out[1] if norm else self.out
            # zero the last affine so that the block starts as the identity
            nn.init.constant_(last.weight, 0)
            nn.init.constant_(last.bias, 0)
            self.query = one_by_one(c, self.mid)
            self.key = one_by_one(c, self.mid)
            if pool:
                self.value = nn.Sequential(self.value, shared_pool)
                self.key = nn.Sequential(self.key, shared_pool)

        def forward(self, x, with_map=False):
            n = x.size(0)

            def flat(t):
                return t.view(n, self.mid, -1)

            q = flat(self.query(x)).permute(0, 2, 1)
            scores = L.matmul(q, flat(self.key(x)))
            weights = F.softmax(scores, dim=-1) if self.kind == "embedded" else \
                scores / scores.size(-1)
            y = L.matmul(weights, flat(self.value(x)).permute(0, 2, 1))
            y = y.permute(0, 2, 1).contiguous().view(n, self.mid, *x.size()[2:])
            z = self.out(y) + x
            return (z, weights) if with_map else z

    out = {}
    L.manual_seed(0)
    for dim, shape, mode, bn in [(1, (2, 4, 6), "embedded", True),
                                 (2, (2, 4, 4, 6), "dot", False),
                                 (3, (1, 4, 2, 4, 4), "embedded", True)]:
        blk = NonLocalND(4, dims=dim, kind=mode, norm=bn).double()
        x = _x(L, *shape, seed=dim, grad=True)
        z, nl = blk(x, with_map=True)
        ident = (z - x).abs().max()
        with L.no_grad():
            if bn:
                blk.out[1].weight.fill_(0.5)
            else:
                blk.out.weight.normal_()
        z2 = blk(x)
        z2.pow(2).sum().backward()
        out[dim] = dict(ident=ident, nl=nl, z=z2, gx=x.grad, grads=_grads(blk))
    return out


@program
def condconv_per_sample_kernels_by_grouped_conv(L):
    """CondConv (conditionally parameterised convolution): experts' weights stored flattened as
    (num_experts, weight_numel) with each expert initialised by kaiming_uniform_ on a view of
    its row, routing by sigmoid of a Linear over the pooled input, per-sample kernels by a
    matmul of routing weights and experts reshaped to (B * out, in / groups, k, k), and the
    batch folded into the channels so one grouped conv2d (groups = B * groups) applies every
    sample's own kernel; against a per-sample loop."""
    nn, F = L.nn, L.nn.functional

    class MixtureConv(nn.Module):
        """A conv whose kernel is a per-sample mixture of expert kernels, each expert stored
        as one flattened row; the batch is folded into the channels so that one grouped
        conv2d applies every sample's own kernel."""

        def __init__(self, cin, cout, k=3, stride=1, padding=1, groups=1, experts=3):
            super().__init__()
            self.cin, self.cout, self.k = cin, cout, (k, k)
            self.stride, self.padding, self.groups = stride, padding, groups
            self.kshape = (cout, cin // groups) + self.k
            self.weight = nn.Parameter(L.empty(experts, math.prod(self.kshape)))
            self.bias = nn.Parameter(L.empty(experts, cout))
            # each expert drawn as a Conv2d of that shape would be
            for e in range(experts):
                nn.init.kaiming_uniform_(self.weight[e].view(self.kshape), a=math.sqrt(5))
            bound = 1 / math.sqrt(math.prod(self.kshape[1:]))
            for e in range(experts):
                nn.init.uniform_(self.bias[e].view(cout), -bound, bound)

        def forward(self, x, mix):
            n, c, h, w = x.shape
            kernels = L.matmul(mix, self.weight).view((n * self.cout, self.cin // self.groups)
                                                      + self.k)
            biases = L.matmul(mix, self.bias).view(n * self.cout)
            y = F.conv2d(x.reshape(1, n * c, h, w), kernels, biases, stride=self.stride,
                         padding=self.padding, groups=self.groups * n)
            return y.permute([1, 0, 2, 3]).view(n, self.cout, y.shape[-2], y.shape[-1])

    L.manual_seed(0)
    conv = MixtureConv(4, 6, groups=2, stride=2).double()
    route = nn.Linear(4, 3).double()
    x = _x(L, 3, 4, 7, 7, seed=28, grad=True)
    routing = L.sigmoid(route(F.adaptive_avg_pool2d(x, 1).flatten(1)))
    y = conv(x, routing)
    loop = L.cat([F.conv2d(x[i:i + 1], (routing[i] @ conv.weight).view(conv.kshape),
                           routing[i] @ conv.bias, stride=2, padding=1, groups=2)
                  for i in range(3)])
    (y * L.arange(y.numel(), dtype=L.float64).view(y.shape).cos()).sum().backward()
    return dict(y=y, diff=(y - loop).abs().max(), gw=conv.weight.grad, gb=conv.bias.grad,
                gx=x.grad, groute=route.weight.grad, w=conv.weight)


@program
def generalized_rcnn_transform_resize_batch_and_postprocess(L):
    """torchvision's GeneralizedRCNNTransform written out: per-image normalisation by
    mean/std tensors indexed [:, None, None], resizing by F.interpolate with a scale_factor
    and recompute_scale_factor=True (bilinear, the min/max-size rule), boxes resized by the
    ratios of the new and old sizes (torch.tensor of the sizes, unbind), batching into one
    zero tensor padded to a multiple of 32 by new_full and copy_ into slices, and the
    inverse box resize at postprocess; the image sizes kept as a list of tuples."""
    F = L.nn.functional
    image_mean, image_std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    min_size, max_size = 24, 40

    def normalize(image):
        dtype = image.dtype
        mean = L.as_tensor(image_mean, dtype=dtype)
        std = L.as_tensor(image_std, dtype=dtype)
        return (image - mean[:, None, None]) / std[:, None, None]

    def _resize_image(image):
        im_shape = L.tensor(image.shape[-2:])
        size = L.min(im_shape).to(dtype=L.float32)
        mx = L.max(im_shape).to(dtype=L.float32)
        scale = L.min(min_size / size, max_size / mx)
        scale_factor = scale.item()
        return F.interpolate(image[None], size=None, scale_factor=scale_factor,
                             mode="bilinear", recompute_scale_factor=True,
                             align_corners=False)[0]

    def resize_boxes(boxes, original_size, new_size):
        ratios = [L.tensor(s, dtype=L.float32) / L.tensor(s_orig, dtype=L.float32)
                  for s, s_orig in zip(new_size, original_size)]
        ratio_height, ratio_width = ratios
        xmin, ymin, xmax, ymax = boxes.unbind(1)
        return L.stack((xmin * ratio_width, ymin * ratio_height, xmax * ratio_width,
                        ymax * ratio_height), dim=1)

    def max_by_axis(the_list):
        maxes = the_list[0]
        for sublist in the_list[1:]:
            for index, item in enumerate(sublist):
                maxes[index] = max(maxes[index], item)
        return maxes

    def batch_images(images, size_divisible=32):
        max_size_ = max_by_axis([list(img.shape) for img in images])
        stride = float(size_divisible)
        max_size_ = list(max_size_)
        max_size_[1] = int(math.ceil(float(max_size_[1]) / stride) * stride)
        max_size_[2] = int(math.ceil(float(max_size_[2]) / stride) * stride)
        batch_shape = [len(images)] + max_size_
        batched_imgs = images[0].new_full(batch_shape, 0)
        for i in range(batched_imgs.shape[0]):
            img = images[i]
            batched_imgs[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return batched_imgs

    rs = np.random.RandomState(29)
    images = [L.tensor(rs.rand(3, 17, 29)), L.tensor(rs.rand(3, 30, 20))]
    targets = [{"boxes": L.tensor([[1.0, 2.0, 10.0, 12.0], [5.0, 5.0, 28.0, 16.0]]),
                "labels": L.tensor([1, 2])},
               {"boxes": L.tensor([[0.0, 0.0, 19.0, 29.0]]), "labels": L.tensor([3])}]
    out_images, out_targets = [], []
    for image, target in zip(images, targets):
        image = normalize(image)
        h, w = image.shape[-2:]
        image = _resize_image(image)
        target = dict(target)
        target["boxes"] = resize_boxes(target["boxes"], (h, w), image.shape[-2:])
        out_images.append(image)
        out_targets.append(target)
    image_sizes = [img.shape[-2:] for img in out_images]
    batched = batch_images(out_images)
    image_sizes_list = []
    for image_size in image_sizes:
        assert len(image_size) == 2
        image_sizes_list.append((image_size[0], image_size[1]))
    back = [resize_boxes(t["boxes"], s, (img.shape[-2], img.shape[-1]))
            for t, s, img in zip(out_targets, image_sizes_list, images)]
    return dict(batched=batched, sizes=image_sizes_list, targets=out_targets, back=back,
                shape=batched.shape)


# ----------------------------------------------------------------------------------------------
# deployment and model surgery: RepVGG re-parameterisation, timm's checkpoint adaptation,
# a class-balanced, aspect-grouped detection loader
# ----------------------------------------------------------------------------------------------
@program
def repvgg_block_reparameterised_for_deploy(L):
    """RepVGG's re-parameterisation (our code): a 3x3 conv-BN, a 1x1 conv-BN and an identity BN
    summed in training; for deployment each branch's BN folded into a kernel and bias (std =
    sqrt(var + eps), t = gamma / std), the 1x1 kernel padded to 3x3 by F.pad, the identity
    kernel written by numpy into a tensor cached on the module, the branches summed into one
    Conv2d whose .data is set, the old branches removed by __delattr__ and the parameters
    detach_()ed; the train-time and deployed outputs agree, checked against
    nn.utils.fuse_conv_bn_eval."""
    nn, F = L.nn, L.nn.functional

    def conv_then_bn(cin, cout, k, stride, groups=1):
        seq = nn.Sequential()
        seq.add_module("conv", nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups,
                                         bias=False))
        seq.add_module("bn", nn.BatchNorm2d(num_features=cout))
        return seq

    def fold(kernel, bn):
        # BN(conv_k(x)) as one conv: kernel * gamma / std and beta - mean * gamma / std
        std = (bn.running_var + bn.eps).sqrt()
        return kernel * (bn.weight / std).reshape(-1, 1, 1, 1), \
            bn.bias - bn.running_mean * bn.weight / std

    class Reparam(nn.Module):
        """Training form: 3x3 conv-BN + 1x1 conv-BN (+ BN of the input when shapes allow),
        ReLU. `merge` turns it into one 3x3 conv with the same outputs in eval mode."""

        def __init__(self, cin, cout, stride=1, groups=1):
            super().__init__()
            self.groups, self.cin = groups, cin
            self.act = nn.ReLU()
            self.skip_bn = nn.BatchNorm2d(cin) if cout == cin and stride == 1 else None
            self.k3 = conv_then_bn(cin, cout, 3, stride, groups)
            self.k1 = conv_then_bn(cin, cout, 1, stride, groups)

        def forward(self, x):
            if hasattr(self, "merged"):
                return self.act(self.merged(x))
            skip = 0 if self.skip_bn is None else self.skip_bn(x)
            return self.act(self.k3(x) + self.k1(x) + skip)

        def identity_kernel(self, like):
            # cached: a 3x3 kernel that copies channel i (within its group) at the centre
            if not hasattr(self, "id_tensor"):
                per_group = self.cin // self.groups
                k = np.zeros((self.cin, per_group, 3, 3), dtype=np.float64)
                k[np.arange(self.cin), np.arange(self.cin) % per_group, 1, 1] = 1
                self.id_tensor = L.from_numpy(k).to(like.device)
            return self.id_tensor

        def branch(self, which):
            if which is None:
                return 0, 0
            if isinstance(which, nn.Sequential):
                return fold(which.conv.weight, which.bn)
            return fold(self.identity_kernel(which.weight), which)

        def merge(self):
            if hasattr(self, "merged"):
                return
            (w3, b3), (w1, b1), (wi, bi) = (self.branch(m) for m in
                                            (self.k3, self.k1, self.skip_bn))
            w1 = F.pad(w1, [1, 1, 1, 1])          # the 1x1 kernel at the 3x3 centre
            c = self.k3.conv
            self.merged = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride,
                                    c.padding, dilation=c.dilation, groups=c.groups,
                                    bias=True).double()
            self.merged.weight.data = w3 + w1 + wi
            self.merged.bias.data = b3 + b1 + bi
            for p in self.parameters():
                p.detach_()
            for name in ("k3", "k1", "skip_bn", "id_tensor"):
                if hasattr(self, name):
                    self.__delattr__(name)

    L.manual_seed(0)
    model = nn.Sequential(Reparam(4, 4, groups=2), Reparam(4, 6, stride=2)).double()
    x = _x(L, 3, 4, 7, 7, seed=30)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    model.eval()
    with L.no_grad():
        train_out = model(x)
    fused = nn.utils.fuse_conv_bn_eval(model[1].k3.conv, model[1].k3.bn)
    k3, b3 = model[1].branch(model[1].k3)
    before = list(model.state_dict())
    for m in model.modules():
        if hasattr(m, "merge"):
            m.merge()
    deploy_out = model(x)
    return dict(train=train_out, deploy=deploy_out, diff=(train_out - deploy_out).abs().max(),
                fused=(fused.weight - k3).abs().max(), fused_b=fused.bias - b3,
                before=before, after=list(model.state_dict()),
                grad=[p.requires_grad for p in model.parameters()],
                has=[hasattr(model[0], n) for n in ("k3", "id_tensor", "skip_bn")])


@program
def timm_checkpoint_adaptation_and_frozen_batchnorm(L):
    """Loading a pretrained checkpoint the way timm and detectron2 do: adapt_input_conv
    (summing the RGB filters for one channel, repeating and rescaling them for more),
    a checkpoint_filter_fn renaming legacy keys, reset_classifier swapping the head,
    load_state_dict(strict=False) and its result, then freezing: BatchNorm2d modules
    replaced recursively through named_children by a frozen norm of buffers whose
    _load_from_state_dict drops num_batches_tracked, stem parameters frozen by
    requires_grad_(False), and an SGD over the trainable rest."""
    nn = L.nn

    def adapt_input_conv(in_chans, w):
        # a 3-channel stem kernel for another input width: summed over RGB for one channel,
        # tiled and rescaled by 3 / in_chans for more (in float32, cast back)
        kind, w = w.dtype, w.float()
        o, i, kh, kw = w.shape
        if in_chans == 1:
            if i > 3:
                assert i % 3 == 0
                return w.reshape(o, i // 3, 3, kh, kw).sum(dim=2, keepdim=False).to(kind)
            return w.sum(dim=1, keepdim=True).to(kind)
        if in_chans != 3:
            if i != 3:
                raise NotImplementedError("only a 3-channel kernel can be adapted")
            w = w.repeat(1, int(math.ceil(in_chans / 3)), 1, 1)[:, :in_chans, :, :]
            w *= (3 / float(in_chans))
        return w.to(kind)

    class FixedNorm(nn.Module):
        """Batch norm with its statistics and affine held as buffers: nothing trains."""

        def __init__(self, n, eps=1e-5):
            super().__init__()
            self.eps = eps
            for name, fill in (("weight", L.ones), ("bias", L.zeros),
                               ("running_mean", L.zeros), ("running_var", L.ones)):
                self.register_buffer(name, fill(n))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                  missing_keys, unexpected_keys, error_msgs):
            state_dict.pop(prefix + "num_batches_tracked", None)     # BatchNorm2d's, unused
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)

        def forward(self, x):
            def per_channel(t):
                return t.reshape(1, -1, 1, 1)
            scale = per_channel(self.weight) * (per_channel(self.running_var) + self.eps).rsqrt()
            return x * scale + (per_channel(self.bias) - per_channel(self.running_mean) * scale)

        def __repr__(self):
            return f"{type(self).__name__}({self.weight.shape[0]}, eps={self.eps})"

    def freeze_norms(module):
        if not isinstance(module, nn.BatchNorm2d):
            for name, child in module.named_children():
                swapped = freeze_norms(child)
                if swapped is not child:
                    module.add_module(name, swapped)
            return module
        fixed = FixedNorm(module.num_features)
        fixed.num_features, fixed.affine, fixed.eps = module.num_features, module.affine, module.eps
        if module.affine:
            fixed.weight.data = module.weight.data.clone().detach()
            fixed.bias.data = module.bias.data.clone().detach()
        fixed.running_mean.data = module.running_mean.data
        fixed.running_var.data = module.running_var.data
        return fixed

    class Net(nn.Module):
        def __init__(self, in_chans=3, num_classes=10):
            super().__init__()
            self.conv_stem = nn.Conv2d(in_chans, 6, 3, 2, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(6)
            self.blocks = nn.Sequential(nn.Conv2d(6, 8, 3, padding=1, bias=False),
                                        nn.BatchNorm2d(8), nn.ReLU())
            self.global_pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(8, num_classes)

        def reset_classifier(self, num_classes):
            self.classifier = nn.Linear(8, num_classes) if num_classes > 0 else nn.Identity()

        def forward(self, x):
            x = self.blocks(self.bn1(self.conv_stem(x)).relu())
            return self.classifier(self.global_pool(x).flatten(1))

    def checkpoint_filter_fn(state_dict):
        out = {}
        for k, v in state_dict.items():
            k = k.replace("features.", "blocks.").replace("fc.", "classifier.")
            out[k] = v
        return out

    L.manual_seed(0)
    pretrained = Net()
    x3 = _x(L, 4, 3, 8, 8, seed=31).float()
    pretrained(x3)    # running statistics
    ckpt = {k.replace("blocks.", "features.").replace("classifier.", "fc."): v
            for k, v in pretrained.state_dict().items()}
    ckpt = checkpoint_filter_fn(ckpt)
    out = {}
    for in_chans in (1, 5):
        L.manual_seed(1)
        model = Net(in_chans=in_chans)
        sd = dict(ckpt)
        sd["conv_stem.weight"] = adapt_input_conv(in_chans, sd["conv_stem.weight"])
        model.reset_classifier(4)
        del sd["classifier.weight"], sd["classifier.bias"]
        result = model.load_state_dict(sd, strict=False)
        model = freeze_norms(model)
        for p in model.conv_stem.parameters():
            p.requires_grad_(False)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = L.optim.SGD(params, lr=0.1)
        x = _x(L, 2, in_chans, 8, 8, seed=32).float()
        loss = L.nn.functional.cross_entropy(model(x), L.tensor([1, 3]))
        loss.backward()
        opt.step()
        out[in_chans] = dict(stem=sd["conv_stem.weight"], missing=result.missing_keys,
                             unexpected=result.unexpected_keys, loss=loss, repr=repr(model),
                             buffers=[n for n, _ in model.named_buffers()],
                             trainable=[n for n, p in model.named_parameters()
                                        if p.requires_grad],
                             frozen_load=str(model.bn1.load_state_dict(
                                 pretrained.bn1.state_dict())),
                             head=model.classifier.weight)
    out["bad"] = err(lambda: adapt_input_conv(2, L.ones(4, 4, 3, 3)))
    return out


@program
def class_balanced_aspect_grouped_detection_loader(L):
    """A detection data pipeline: a Dataset of variable-size images and dict targets,
    class-balancing weights 1 / bincount read off the labels for a WeightedRandomSampler
    with a Generator, torchvision's GroupedBatchSampler idea (buckets by aspect-ratio group
    filled from the sampler, a batch yielded when a bucket is full, the leftovers at the
    end), a collate_fn of tuple(zip(*batch)), a random_split by fractions, and a
    DataLoader whose batch_sampler drives it; the batches padded into one tensor."""
    D = L.utils.data
    rs = np.random.RandomState(33)
    sizes = [(4, 6), (6, 4), (5, 7), (7, 5), (4, 4), (6, 9), (9, 6), (5, 5), (8, 4), (4, 8)]
    cls = [0, 1, 1, 2, 0, 1, 1, 1, 2, 1]

    class Shapes(D.Dataset):
        def __init__(self):
            self.images = [L.tensor(rs.rand(3, h, w)) for h, w in sizes]

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            h, w = self.images[i].shape[-2:]
            return self.images[i], {"boxes": L.tensor([[0.0, 0.0, w / 2, h / 2]]),
                                    "labels": L.tensor([cls[i]]), "image_id": i}

    class SameGroupBatches(D.BatchSampler):
        """Batches whose indices all share a group id (say, an aspect-ratio bucket): each
        group fills its own buffer and a full buffer is emitted; leftovers at the end, by
        group.  BatchSampler's __init__ is not called."""

        def __init__(self, sampler, group_ids, batch_size):
            self.sampler, self.group_ids, self.batch_size = sampler, group_ids, batch_size

        def __iter__(self):
            waiting = defaultdict(list)
            for idx in self.sampler:
                bucket = waiting[self.group_ids[idx]]
                bucket.append(idx)
                if len(bucket) == self.batch_size:
                    yield list(bucket)
                    bucket.clear()
            for gid in sorted(waiting):
                if waiting[gid]:
                    yield waiting[gid]

        def __len__(self):
            return -(-len(self.sampler) // self.batch_size)

    def collate_fn(batch):
        return tuple(zip(*batch))

    def pad_batch(images):
        hmax = max(i.shape[1] for i in images)
        wmax = max(i.shape[2] for i in images)
        out = images[0].new_zeros(len(images), 3, hmax, wmax)
        for img, pad in zip(images, out):
            pad[:, :img.shape[1], :img.shape[2]].copy_(img)
        return out

    ds = Shapes()
    labels_t = L.tensor(cls)
    class_weights = 1.0 / L.bincount(labels_t).double()
    sample_weights = class_weights[labels_t]
    sampler = D.WeightedRandomSampler(sample_weights, num_samples=12, replacement=True,
                                      generator=L.Generator().manual_seed(4))
    group_ids = [int(h >= w) for h, w in sizes]
    loader = D.DataLoader(ds, batch_sampler=SameGroupBatches(sampler, group_ids, 3),
                          collate_fn=collate_fn)
    batches = []
    for images, targets in loader:
        batches.append(dict(ids=[t["image_id"] for t in targets], padded=pad_batch(images),
                            labels=L.cat([t["labels"] for t in targets])))
    train, val = D.random_split(ds, [0.8, 0.2], generator=L.Generator().manual_seed(5))
    plain = D.DataLoader(train, batch_size=3, shuffle=True, collate_fn=collate_fn,
                         generator=L.Generator().manual_seed(6), drop_last=True)
    return dict(weights=sample_weights, drawn=list(sampler), batches=batches,
                n_batches=len(loader), split=(train.indices, val.indices),
                plain=[[t["image_id"] for t in tg] for _, tg in plain], n_plain=len(plain))


@program
def torchvision_tensor_color_blur_and_affine_ops(L):
    """torchvision's tensor-image functional ops written out: _rgb2hsv (max/min over
    channels, safe divisions by torch.where, fmod of the hue), _hsv2rgb (floor to int32, a
    six-way mask against arange compared by broadcasting and an einsum choosing the
    channels), adjust_hue through them, adjust_gamma, a separable Gaussian blur (kernel from
    linspace, reflect padding, a grouped conv2d with the kernel expanded per channel), and
    affine/rotate: the inverse affine matrix from angle, translation, scale and shear in
    Python math, the sampling grid by base-grid @ theta, grid_sample with a fill applied
    through an appended mask channel; the whole chain differentiated."""
    F = L.nn.functional

    def _rgb2hsv(img):
        r, g, b = img.unbind(dim=-3)
        maxc = L.max(img, dim=-3).values
        minc = L.min(img, dim=-3).values
        eqc = maxc == minc
        cr = maxc - minc
        ones = L.ones_like(maxc)
        s = cr / L.where(eqc, ones, maxc)
        cr_divisor = L.where(eqc, ones, cr)
        rc = (maxc - r) / cr_divisor
        gc = (maxc - g) / cr_divisor
        bc = (maxc - b) / cr_divisor
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
        mask = i.unsqueeze(dim=-3) == L.arange(6).view(-1, 1, 1)
        a1 = L.stack((v, q, p, p, t, v), dim=-3)
        a2 = L.stack((t, v, v, q, p, p), dim=-3)
        a3 = L.stack((p, p, t, v, v, q), dim=-3)
        a4 = L.stack((a1, a2, a3), dim=-4)
        return L.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=img.dtype), a4)

    def adjust_hue(img, hue_factor):
        h, s, v = _rgb2hsv(img).unbind(dim=-3)
        h = (h + hue_factor) % 1.0
        return _hsv2rgb(L.stack((h, s, v), dim=-3))

    def adjust_gamma(img, gamma, gain=1.0):
        return (gain * img ** gamma).clamp(0, 1)

    def _get_gaussian_kernel1d(kernel_size, sigma, dtype):
        ksize_half = (kernel_size - 1) * 0.5
        x = L.linspace(-ksize_half, ksize_half, steps=kernel_size, dtype=dtype)
        pdf = L.exp(-0.5 * (x / sigma).pow(2))
        return pdf / pdf.sum()

    def gaussian_blur(img, kernel_size, sigma):
        kx = _get_gaussian_kernel1d(kernel_size[0], sigma[0], img.dtype)
        ky = _get_gaussian_kernel1d(kernel_size[1], sigma[1], img.dtype)
        kernel = L.mm(ky[:, None], kx[None, :])
        kernel = kernel.expand(img.shape[-3], 1, kernel.shape[0], kernel.shape[1])
        padding = [kernel_size[0] // 2, kernel_size[0] // 2, kernel_size[1] // 2,
                   kernel_size[1] // 2]
        img = F.pad(img, padding, mode="reflect")
        return F.conv2d(img, kernel, groups=img.shape[-3])

    def _get_inverse_affine_matrix(center, angle, translate, scale, shear):
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
        base_grid = L.empty(1, oh, ow, 3, dtype=theta.dtype)
        x_grid = L.linspace(-ow * 0.5 + d, ow * 0.5 + d - 1, steps=ow, dtype=theta.dtype)
        base_grid[..., 0].copy_(x_grid)
        y_grid = L.linspace(-oh * 0.5 + d, oh * 0.5 + d - 1, steps=oh,
                            dtype=theta.dtype).unsqueeze_(-1)
        base_grid[..., 1].copy_(y_grid)
        base_grid[..., 2].fill_(1)
        rescaled_theta = theta.transpose(1, 2) / L.tensor([0.5 * w, 0.5 * h], dtype=theta.dtype)
        output_grid = base_grid.view(1, oh * ow, 3).bmm(rescaled_theta)
        return output_grid.view(1, oh, ow, 2)

    def _apply_grid_transform(img, grid, mode, fill):
        if img.shape[0] > 1:
            grid = grid.expand(img.shape[0], grid.shape[1], grid.shape[2], grid.shape[3])
        if fill is not None:
            mask = L.ones((img.shape[0], 1, img.shape[2], img.shape[3]), dtype=img.dtype)
            img = L.cat((img, mask), dim=1)
        img = F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=False)
        if fill is not None:
            mask = img[:, -1:, :, :]
            img = img[:, :-1, :, :]
            mask = mask.expand_as(img)
            fill_img = L.tensor(fill, dtype=img.dtype).view(1, -1, 1, 1).expand_as(img)
            if mode == "nearest":
                mask = mask < 0.5
                img[mask] = fill_img[mask]
            else:
                img = img * mask + (1.0 - mask) * fill_img
        return img

    def affine(img, angle, translate, scale, shear, mode="bilinear", fill=None):
        center_f = [0.0, 0.0]
        matrix = _get_inverse_affine_matrix(center_f, angle, translate, scale, shear)
        theta = L.tensor(matrix, dtype=img.dtype).reshape(1, 2, 3)
        shape = img.shape
        grid = _gen_affine_grid(theta, w=shape[-1], h=shape[-2], ow=shape[-1], oh=shape[-2])
        return _apply_grid_transform(img, grid, mode, fill)

    img = L.tensor(np.random.RandomState(34).rand(2, 3, 9, 10), requires_grad=True)
    img2 = img.detach().clone()
    img2[0, :, :2, :2] = 0.5                     # grey pixels: max == min
    hsv = _rgb2hsv(img2)
    back = _hsv2rgb(hsv)
    hue = adjust_hue(img, 0.2)
    gam = adjust_gamma(hue, 0.7)
    blur = gaussian_blur(gam, [3, 5], [0.8, 1.3])
    rot = affine(blur, 30.0, [1.0, -2.0], 0.9, [5.0, 0.0], fill=[0.1, 0.2, 0.3])
    near = affine(img2, -45.0, [0.0, 0.0], 1.1, [0.0, 10.0], mode="nearest", fill=[1.0, 0.0, 1.0])
    (rot * L.arange(rot.numel(), dtype=L.float64).view(rot.shape).sin()).sum().backward()
    return dict(hsv=hsv, back=back, roundtrip=(back - img2).abs().max(), hue=hue, blur=blur,
                rot=rot, near=near, grad=img.grad)


@program
def segmentation_and_detection_metrics(L):
    """Evaluation code as segmentation and detection repositories write it in torch: a
    confusion matrix by bincount of n * target + pred over the valid pixels (an ignore
    label masked out), pixel accuracy, per-class IoU from diag and sums with 0 / 0 = nan,
    nanmean for the mIoU, frequency-weighted IoU, nan_to_num; and COCO-style average
    precision: detections sorted by score, true/false positives by greedy IoU matching,
    cumulative sums, the precision envelope by flip + cummax, 101 recall thresholds by
    searchsorted(side='left'), and the interpolated precision gathered where the index is in
    range."""
    n = 4
    rs = np.random.RandomState(35)
    target = L.tensor(rs.randint(0, n, (2, 6, 7)))
    pred = L.tensor(rs.randint(0, n, (2, 6, 7)))
    target[0, 0] = 255
    target[target == 3] = 2          # class 3 never in the target
    mask = (target >= 0) & (target < n)
    hist = L.bincount(n * target[mask].to(L.int64) + pred[mask], minlength=n ** 2) \
        .reshape(n, n).double()
    acc = L.diag(hist).sum() / hist.sum()
    acc_cls = L.diag(hist) / hist.sum(dim=1)
    iu = L.diag(hist) / (hist.sum(dim=1) + hist.sum(dim=0) - L.diag(hist))
    mean_iu = L.nanmean(iu)
    freq = hist.sum(dim=1) / hist.sum()
    fwavacc = (freq[freq > 0] * iu[freq > 0]).sum()

    def box_iou(a, b):
        lt = L.max(a[:, None, :2], b[:, :2])
        rb = L.min(a[:, None, 2:], b[:, 2:])
        inter = (rb - lt).clamp(min=0).prod(2)
        area_a = (a[:, 2:] - a[:, :2]).prod(1)
        area_b = (b[:, 2:] - b[:, :2]).prod(1)
        return inter / (area_a[:, None] + area_b - inter)

    gts = L.tensor([[0.0, 0, 10, 10], [20, 20, 30, 35], [5, 5, 15, 12], [40, 0, 50, 8]],
                   dtype=L.float64)
    dets = L.tensor(rs.rand(9, 2) * 40, dtype=L.float64)
    dets = L.cat([dets, dets + L.tensor(rs.rand(9, 2) * 10 + 4, dtype=L.float64)], 1)
    dets[:3] = gts[:3] + L.tensor([[0.5, -0.5, 1.0, 0.0]], dtype=L.float64)
    scores = L.tensor(rs.rand(9), dtype=L.float64)
    order = L.argsort(scores, descending=True)
    dets, scores = dets[order], scores[order]
    ious = box_iou(dets, gts)
    out = {}
    for thr in (0.5, 0.75):
        matched = L.zeros(len(gts), dtype=L.bool)
        tp = L.zeros(len(dets), dtype=L.float64)
        for d in range(len(dets)):
            iou, g = ious[d].masked_fill(matched, -1.0).max(0)
            if iou >= thr:
                matched[g] = True
                tp[d] = 1
        fp = 1 - tp
        tp_sum, fp_sum = L.cumsum(tp, 0), L.cumsum(fp, 0)
        rc = tp_sum / len(gts)
        pr = tp_sum / (fp_sum + tp_sum + L.finfo(L.float64).eps)
        pr_env = L.flip(L.cummax(L.flip(pr, [0]), 0).values, [0])
        rec_thrs = L.linspace(0.0, 1.00, 101, dtype=L.float64)
        inds = L.searchsorted(rc, rec_thrs, side="left")
        q = L.zeros(101, dtype=L.float64)
        valid = inds < len(pr_env)
        q[valid] = pr_env[inds[valid]]
        out[thr] = (tp, rc, pr_env, q.mean(), inds[::10])
    return dict(hist=hist, acc=acc, acc_cls=acc_cls, iu=iu, miou=mean_iu, fw=fwavacc,
                safe=L.nan_to_num(iu, nan=0.0), ap=out, ious=ious)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


# the fixes of this round, each alone
def test_custom_batch_sampler_subclass_is_iterated_by_the_loader():
    """torchvision's GroupedBatchSampler subclasses BatchSampler without calling its
    __init__ and yields its own batches; minigrad's loader read such a subclass through
    BatchSampler's internal epoch (needing drop_last, ignoring the subclass's __iter__)."""
    def call(L):
        D = L.utils.data

        class Pairs(D.BatchSampler):
            def __init__(self, n):
                self.n = n

            def __iter__(self):
                yield from ([i, self.n - 1 - i] for i in range(self.n // 2))

            def __len__(self):
                return self.n // 2

        class Shifted(D.BatchSampler):          # __init__ kept, __iter__ its own
            def __iter__(self):
                for batch in super().__iter__():
                    yield [i + 1 for i in batch if i + 1 < 6]

        ds = D.TensorDataset(L.arange(6.0) * 10)
        return (list(D.DataLoader(ds, batch_sampler=Pairs(6))),
                list(D.DataLoader(ds, batch_sampler=Shifted(range(6), 4, False))),
                list(D.DataLoader(ds, batch_sampler=D.BatchSampler(range(6), 4, True))),
                len(D.DataLoader(ds, batch_sampler=Pairs(6))))
    HARNESS.check(call)


def test_dataset_own_getitems_is_called_for_tensor_datasets():
    """A TensorDataset (or a Subset) subclass that fetches batches by its own __getitems__
    has it called by the loader, as PyTorch's fetcher does; minigrad indexed the tensors
    directly and skipped it."""
    def call(L):
        D = L.utils.data

        class Doubled(D.TensorDataset):
            def __getitems__(self, idx):
                return [(self.tensors[0][i] * 2, i) for i in idx]

        class Picked(D.Subset):
            def __getitems__(self, idx):
                return [self.dataset[self.indices[i]][0] - 1 for i in idx]

        base = D.TensorDataset(L.arange(5.0))
        return (list(D.DataLoader(Doubled(L.arange(5.0)), batch_size=2)),
                list(D.DataLoader(D.Subset(Doubled(L.arange(5.0)), [4, 0, 2]), batch_size=2)),
                list(D.DataLoader(Picked(base, [3, 1]), batch_size=2)),
                list(D.DataLoader(D.Subset(base, [3, 1]), batch_size=2)))
    HARNESS.check(call)


def test_vmap_refusing_a_random_draw_leaves_the_generator_as_it_was():
    """vmap in randomness='error' mode refuses a random op before it draws, so the default
    generator's next numbers are those it would have given without the call; minigrad drew
    the first example's numbers before refusing.  A draw from an explicit Generator is
    refused too (minigrad let it through, each example drawing anew), and under 'same'
    every example gets that generator's same numbers."""
    def call(L):
        L.manual_seed(0)
        x = L.ones(3, 4, dtype=L.float64)
        refused = err(lambda: L.func.vmap(lambda t: L.nn.functional.dropout(t, 0.5))(x))
        after = L.rand(3)
        same = L.func.vmap(lambda t: t + L.rand(2, dtype=L.float64), randomness="same")(x[:, :2])
        different = L.func.vmap(lambda t: L.nn.functional.dropout(t, 0.5),
                                randomness="different")(x)
        g = L.Generator().manual_seed(1)
        named = err(lambda: L.func.vmap(lambda t: t + L.rand(4, generator=g))(x))
        named_after = L.rand(2, generator=g)
        named_same = L.func.vmap(lambda t: t * L.randn(4, generator=g, dtype=L.float64),
                                 randomness="same")(x)
        named_different = L.func.vmap(lambda t: t * L.randn(4, generator=g, dtype=L.float64),
                                      randomness="different")(x)
        return (refused, after, same, different, L.rand(2), named, named_after, named_same,
                named_different, L.rand(2, generator=g))
    HARNESS.check(call)


def test_parameter_subclasses_built_by_new_or_make_subclass():
    """Third-party parameter classes: an nn.Parameter subclass whose __new__ calls
    super().__new__(cls, data) and adds attributes (and takes arguments Parameter does
    not), one built by torch.Tensor._make_subclass(cls, data, requires_grad) (bitsandbytes'
    way), and one with an __init__ of its own that does not call Parameter's; minigrad's
    Parameter did its work in __init__ (the first failed in object.__new__, the last had no
    data) and had no _make_subclass."""
    def call(L):
        nn = L.nn

        class ScaledParameter(nn.Parameter):
            def __new__(cls, data, scale=1.0):
                p = super().__new__(cls, data)
                p.scale = scale
                return p

        class TaggedParam(nn.Parameter):
            def __new__(cls, data=None, requires_grad=True, tag="x"):
                if data is None:
                    data = L.empty(0)
                obj = L.Tensor._make_subclass(cls, data, requires_grad)
                obj.tag = tag
                return obj

        class Described(nn.Parameter):
            def __init__(self, data, requires_grad=True, note=""):
                self.note = note

        m = nn.Linear(2, 3).double()
        m.weight = ScaledParameter(L.ones(3, 2, dtype=L.float64), 0.5)
        m.bias = TaggedParam(L.zeros(3, dtype=L.float64), tag="b")
        extra = Described(L.full((2,), 2.0, dtype=L.float64), note="n")
        y = (m(L.ones(4, 2, dtype=L.float64)) * extra.sum()).sum()
        y.backward()
        x = L.ones(2, requires_grad=True) * 3
        sub = L.Tensor._make_subclass(nn.Parameter, x)
        sub.add_(1)
        return (type(m.weight).__name__, m.weight.scale, m.bias.tag, type(m.bias).__name__,
                extra.note, extra.requires_grad, m.weight.grad, m.bias.grad,
                [n for n, _ in m.named_parameters()], type(m.weight * 2).__name__,
                (sub.requires_grad, sub.grad_fn, x._version, x),
                TaggedParam(requires_grad=False).shape,
                err(lambda: L.Tensor._make_subclass(int, x)),
                err(lambda: L.Tensor._make_subclass(nn.Parameter, [1.0])),
                err(lambda: L.Tensor._make_subclass(nn.Parameter, x, 1)),
                err(lambda: L.Tensor._make_subclass(nn.Parameter, L.ones(2, dtype=L.int64),
                                                    True)),
                err(lambda: nn.Parameter(L.ones(2), 1)))
    HARNESS.check(call)
