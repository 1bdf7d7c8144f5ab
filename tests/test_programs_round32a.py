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
    """HRNet's HighResolutionModule: a BasicBlock per branch, fuse layers built as a
    ModuleList of ModuleLists holding None on the diagonal, 1x1 conv + BN + nearest Upsample
    from the lower resolutions, chains of strided 3x3 convs from the higher, summed and
    ReLU'd; then the segmentation head's bilinear upsampling of every branch and a concat."""
    nn, F = L.nn, L.nn.functional

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c, momentum=0.1)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            residual = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += residual
            return self.relu(out)

    class HighResolutionModule(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.num_branches = len(channels)
            self.branches = nn.ModuleList([nn.Sequential(BasicBlock(c)) for c in channels])
            self.fuse_layers = self._make_fuse_layers(channels)
            self.relu = nn.ReLU(False)

        def _make_fuse_layers(self, ch):
            fuse_layers = []
            for i in range(self.num_branches):
                fuse_layer = []
                for j in range(self.num_branches):
                    if j > i:
                        fuse_layer.append(nn.Sequential(
                            nn.Conv2d(ch[j], ch[i], 1, 1, 0, bias=False),
                            nn.BatchNorm2d(ch[i]),
                            nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
                    elif j == i:
                        fuse_layer.append(None)
                    else:
                        conv3x3s = []
                        for k in range(i - j):
                            if k == i - j - 1:
                                conv3x3s.append(nn.Sequential(
                                    nn.Conv2d(ch[j], ch[i], 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(ch[i])))
                            else:
                                conv3x3s.append(nn.Sequential(
                                    nn.Conv2d(ch[j], ch[j], 3, 2, 1, bias=False),
                                    nn.BatchNorm2d(ch[j]), nn.ReLU(False)))
                        fuse_layer.append(nn.Sequential(*conv3x3s))
                fuse_layers.append(nn.ModuleList(fuse_layer))
            return nn.ModuleList(fuse_layers)

        def forward(self, x):
            for i in range(self.num_branches):
                x[i] = self.branches[i](x[i])
            x_fuse = []
            for i in range(len(self.fuse_layers)):
                y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
                for j in range(1, self.num_branches):
                    if i == j:
                        y = y + x[j]
                    else:
                        y = y + self.fuse_layers[i][j](x[j])
                x_fuse.append(self.relu(y))
            return x_fuse

    L.manual_seed(0)
    m = HighResolutionModule([4, 6, 8]).double()
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
                running=[m.fuse_layers[2][0][1][1].running_mean,
                         m.fuse_layers[0][2][1].running_var],
                keys=keys, none=m.fuse_layers[1][1] is None, n=len(m.fuse_layers[2]),
                nparams=sum(p.numel() for p in m.parameters()))


@program
def stacked_hourglass_with_intermediate_supervision(L):
    """The stacked hourglass (pose estimation): a recursive Hourglass of pre-activation
    Residual units, max-pool down and nearest Upsample up; two stacks with merge_preds and
    merge_features; Gaussian heatmap targets drawn on a meshgrid; the per-stack MSE losses
    stacked; predictions decoded by argmax with the quarter-pixel shift toward the larger
    neighbour, and by a soft-argmax."""
    nn, F = L.nn, L.nn.functional

    class Residual(nn.Module):
        def __init__(self, inp_dim, out_dim):
            super().__init__()
            self.relu = nn.ReLU()
            self.bn1 = nn.BatchNorm2d(inp_dim)
            self.conv1 = nn.Conv2d(inp_dim, out_dim // 2, 1)
            self.bn2 = nn.BatchNorm2d(out_dim // 2)
            self.conv2 = nn.Conv2d(out_dim // 2, out_dim // 2, 3, padding=1)
            self.bn3 = nn.BatchNorm2d(out_dim // 2)
            self.conv3 = nn.Conv2d(out_dim // 2, out_dim, 1)
            self.skip_layer = nn.Conv2d(inp_dim, out_dim, 1)
            self.need_skip = inp_dim != out_dim

        def forward(self, x):
            residual = self.skip_layer(x) if self.need_skip else x
            out = self.conv1(self.relu(self.bn1(x)))
            out = self.conv2(self.relu(self.bn2(out)))
            out = self.conv3(self.relu(self.bn3(out)))
            out += residual
            return out

    class Hourglass(nn.Module):
        def __init__(self, n, f):
            super().__init__()
            self.up1 = Residual(f, f)
            self.pool1 = nn.MaxPool2d(2, 2)
            self.low1 = Residual(f, f)
            self.n = n
            self.low2 = Hourglass(n - 1, f) if n > 1 else Residual(f, f)
            self.low3 = Residual(f, f)
            self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, x):
            up1 = self.up1(x)
            low1 = self.low1(self.pool1(x))
            low3 = self.low3(self.low2(low1))
            return up1 + self.up2(low3)

    class PoseNet(nn.Module):
        def __init__(self, nstack, inp_dim, oup_dim):
            super().__init__()
            self.nstack = nstack
            self.pre = nn.Sequential(nn.Conv2d(3, inp_dim, 3, 1, 1), nn.BatchNorm2d(inp_dim),
                                     nn.ReLU(), Residual(inp_dim, inp_dim))
            self.hgs = nn.ModuleList([nn.Sequential(Hourglass(2, inp_dim))
                                      for _ in range(nstack)])
            self.features = nn.ModuleList([nn.Sequential(
                Residual(inp_dim, inp_dim), nn.Conv2d(inp_dim, inp_dim, 1),
                nn.BatchNorm2d(inp_dim), nn.ReLU()) for _ in range(nstack)])
            self.outs = nn.ModuleList([nn.Conv2d(inp_dim, oup_dim, 1) for _ in range(nstack)])
            self.merge_features = nn.ModuleList([nn.Conv2d(inp_dim, inp_dim, 1)
                                                 for _ in range(nstack - 1)])
            self.merge_preds = nn.ModuleList([nn.Conv2d(oup_dim, inp_dim, 1)
                                              for _ in range(nstack - 1)])

        def forward(self, imgs):
            x = self.pre(imgs)
            combined_hm_preds = []
            for i in range(self.nstack):
                hg = self.hgs[i](x)
                feature = self.features[i](hg)
                preds = self.outs[i](feature)
                combined_hm_preds.append(preds)
                if i < self.nstack - 1:
                    x = x + self.merge_preds[i](preds) + self.merge_features[i](feature)
            return L.stack(combined_hm_preds, 1)

    L.manual_seed(0)
    net = PoseNet(2, 8, 3).double()
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
                bn=net.pre[1].running_var, nbt=net.pre[1].num_batches_tracked)


@program
def edsr_super_resolution_training(L):
    """EDSR: MeanShift as a frozen 1x1 Conv2d whose .data is set from eye / std, ResBlocks
    with res_scale (mul then +=), an Upsampler of conv + PixelShuffle(2) log2(scale) times,
    L1Loss, Adam over filter(requires_grad) with MultiStepLR; then quantize and the PSNR on
    the Y channel with a shaved border, as the repository's utility computes them."""
    nn = L.nn

    def default_conv(in_channels, out_channels, kernel_size, bias=True):
        return nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size // 2),
                         bias=bias)

    class MeanShift(nn.Conv2d):
        def __init__(self, rgb_range, rgb_mean=(0.4488, 0.4371, 0.4040),
                     rgb_std=(1.0, 1.0, 1.0), sign=-1):
            super().__init__(3, 3, kernel_size=1)
            std = L.Tensor(rgb_std)
            self.weight.data = L.eye(3).view(3, 3, 1, 1) / std.view(3, 1, 1, 1)
            self.bias.data = sign * rgb_range * L.Tensor(rgb_mean) / std
            for p in self.parameters():
                p.requires_grad = False

    class ResBlock(nn.Module):
        def __init__(self, conv, n_feats, kernel_size, res_scale=1):
            super().__init__()
            m = []
            for i in range(2):
                m.append(conv(n_feats, n_feats, kernel_size))
                if i == 0:
                    m.append(nn.ReLU(True))
            self.body = nn.Sequential(*m)
            self.res_scale = res_scale

        def forward(self, x):
            res = self.body(x).mul(self.res_scale)
            res += x
            return res

    class Upsampler(nn.Sequential):
        def __init__(self, conv, scale, n_feats):
            m = []
            if (scale & (scale - 1)) == 0:
                for _ in range(int(math.log(scale, 2))):
                    m.append(conv(n_feats, 4 * n_feats, 3))
                    m.append(nn.PixelShuffle(2))
            super().__init__(*m)

    class EDSR(nn.Module):
        def __init__(self, n_resblocks=2, n_feats=8, scale=4, rgb_range=255, conv=default_conv):
            super().__init__()
            self.sub_mean = MeanShift(rgb_range)
            self.add_mean = MeanShift(rgb_range, sign=1)
            self.head = nn.Sequential(conv(3, n_feats, 3))
            body = [ResBlock(conv, n_feats, 3, res_scale=0.1) for _ in range(n_resblocks)]
            body.append(conv(n_feats, n_feats, 3))
            self.body = nn.Sequential(*body)
            self.tail = nn.Sequential(Upsampler(conv, scale, n_feats), conv(n_feats, 3, 3))

        def forward(self, x):
            x = self.sub_mean(x)
            x = self.head(x)
            res = self.body(x)
            res += x
            x = self.tail(res)
            return self.add_mean(x)

    def quantize(img, rgb_range):
        pixel_range = 255 / rgb_range
        return img.mul(pixel_range).clamp(0, 255).round().div(pixel_range)

    def calc_psnr(sr, hr, scale, rgb_range):
        diff = (sr - hr) / rgb_range
        shave = scale + 2
        gray_coeffs = [65.738, 129.057, 25.064]
        convert = diff.new_tensor(gray_coeffs).view(1, 3, 1, 1) / 256
        diff = diff.mul(convert).sum(dim=1)
        valid = diff[..., shave:-shave, shave:-shave]
        mse = valid.pow(2).mean()
        return -10 * math.log10(mse)

    L.manual_seed(0)
    model = EDSR().double()
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
    return dict(losses=losses, sr=sr, psnr=calc_psnr(sr, hr_img, 4, 255),
                lr=sched.get_last_lr(), frozen=[p.requires_grad for p in model.parameters()],
                mean_w=model.sub_mean.weight, mean_b=model.add_mean.bias,
                keys=list(model.state_dict())[:8], sd_len=len(model.state_dict()))


# ----------------------------------------------------------------------------------------------
# SSIM, SegFormer, coordinate attention and ECA
# ----------------------------------------------------------------------------------------------
@program
def ssim_and_ms_ssim_losses(L):
    """pytorch-ssim's SSIM module (a Gaussian window from a Python list through
    torch.Tensor, its outer product by mm, expanded per channel; conv2d with groups; the
    window cached while .data.type() matches, else rebuilt and type_as'd) and an MS-SSIM
    over avg_pool2d levels with weights; an image optimised by Adam toward 1 - SSIM."""
    F = L.nn.functional

    def gaussian(window_size, sigma):
        gauss = L.Tensor([math.exp(-(x - window_size // 2) ** 2 / float(2 * sigma ** 2))
                          for x in range(window_size)])
        return gauss / gauss.sum()

    def create_window(window_size, channel):
        _1D_window = gaussian(window_size, 1.5).unsqueeze(1)
        _2D_window = _1D_window.mm(_1D_window.t()).float().unsqueeze(0).unsqueeze(0)
        return _2D_window.expand(channel, 1, window_size, window_size).contiguous()

    def _ssim(img1, img2, window, window_size, channel, size_average=True, full=False):
        mu1 = F.conv2d(img1, window, padding=window_size // 2, groups=channel)
        mu2 = F.conv2d(img2, window, padding=window_size // 2, groups=channel)
        mu1_sq, mu2_sq, mu1_mu2 = mu1.pow(2), mu2.pow(2), mu1 * mu2
        sigma1_sq = F.conv2d(img1 * img1, window, padding=window_size // 2,
                             groups=channel) - mu1_sq
        sigma2_sq = F.conv2d(img2 * img2, window, padding=window_size // 2,
                             groups=channel) - mu2_sq
        sigma12 = F.conv2d(img1 * img2, window, padding=window_size // 2,
                           groups=channel) - mu1_mu2
        C1, C2 = 0.01 ** 2, 0.03 ** 2
        v1, v2 = 2.0 * sigma12 + C2, sigma1_sq + sigma2_sq + C2
        cs = L.mean(v1 / v2)
        ssim_map = ((2 * mu1_mu2 + C1) * v1) / ((mu1_sq + mu2_sq + C1) * v2)
        ret = ssim_map.mean() if size_average else ssim_map.mean(1).mean(1).mean(1)
        return (ret, cs) if full else ret

    class SSIM(L.nn.Module):
        def __init__(self, window_size=5, size_average=True):
            super().__init__()
            self.window_size = window_size
            self.size_average = size_average
            self.channel = 1
            self.window = create_window(window_size, self.channel)

        def forward(self, img1, img2):
            (_, channel, _, _) = img1.size()
            if channel == self.channel and self.window.data.type() == img1.data.type():
                window = self.window
            else:
                window = create_window(self.window_size, channel)
                window = window.type_as(img1)
                self.window = window
                self.channel = channel
            return _ssim(img1, img2, window, self.window_size, channel, self.size_average)

    def msssim(img1, img2, window_size=3):
        weights = img1.new_tensor([0.0448, 0.2856, 0.3001])
        levels = weights.size()[0]
        mssim, mcs = [], []
        window = create_window(window_size, img1.size(1)).type_as(img1)
        for _ in range(levels):
            sim, cs = _ssim(img1, img2, window, window_size, img1.size(1), full=True)
            mssim.append(sim)
            mcs.append(cs)
            img1 = F.avg_pool2d(img1, (2, 2))
            img2 = F.avg_pool2d(img2, (2, 2))
        mssim, mcs = L.stack(mssim), L.stack(mcs)
        mssim, mcs = (mssim + 1) / 2, (mcs + 1) / 2
        pow1, pow2 = mcs ** weights, mssim ** weights
        return L.prod(pow1[:-1] * pow2[-1])

    target = L.tensor(np.random.RandomState(7).rand(1, 2, 12, 12))
    img = L.tensor(np.random.RandomState(8).rand(1, 2, 12, 12), requires_grad=True)
    crit = SSIM()
    types = [crit.window.data.type(), img.data.type()]
    opt = L.optim.Adam([img], lr=0.01)
    values = []
    for _ in range(3):
        opt.zero_grad()
        loss = 1 - crit(img, target)
        loss.backward()
        opt.step()
        values.append(loss.item())
    per_image = _ssim(img, target, crit.window, 5, 2, size_average=False)
    ms = msssim(img, target)
    ms.backward()
    return dict(values=values, types=types, cached=crit.window.dtype, ch=crit.channel,
                per_image=per_image, ms=ms, grad=img.grad)


@program
def segformer_encoder_block_and_all_mlp_head(L):
    """SegFormer (MiT): an overlapping patch embedding (7x7 stride-4 conv, flatten(2)
    .transpose(1, 2), LayerNorm), efficient self-attention whose keys come from a sr_ratio
    strided conv and a LayerNorm, Mix-FFN with a 3x3 depthwise conv between its Linears,
    trunc_normal_/fan-out init by Module.apply, and the all-MLP decoder: each stage's tokens
    projected, brought back to maps by permute + reshape, bilinearly resized to the first
    stage's size and fused by a 1x1 conv."""
    nn, F = L.nn, L.nn.functional

    class OverlapPatchEmbed(nn.Module):
        def __init__(self, patch_size=7, stride=4, in_chans=3, embed_dim=8):
            super().__init__()
            self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride,
                                  padding=(patch_size // 2, patch_size // 2))
            self.norm = nn.LayerNorm(embed_dim)

        def forward(self, x):
            x = self.proj(x)
            _, _, H, W = x.shape
            x = x.flatten(2).transpose(1, 2)
            return self.norm(x), H, W

    class Attention(nn.Module):
        def __init__(self, dim, num_heads=2, sr_ratio=2):
            super().__init__()
            self.num_heads = num_heads
            head_dim = dim // num_heads
            self.scale = head_dim ** -0.5
            self.q = nn.Linear(dim, dim)
            self.kv = nn.Linear(dim, dim * 2)
            self.proj = nn.Linear(dim, dim)
            self.sr_ratio = sr_ratio
            if sr_ratio > 1:
                self.sr = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
                self.norm = nn.LayerNorm(dim)

        def forward(self, x, H, W):
            B, N, C = x.shape
            q = self.q(x).reshape(B, N, self.num_heads, C // self.num_heads) \
                .permute(0, 2, 1, 3)
            if self.sr_ratio > 1:
                x_ = x.permute(0, 2, 1).reshape(B, C, H, W)
                x_ = self.sr(x_).reshape(B, C, -1).permute(0, 2, 1)
                x_ = self.norm(x_)
                kv = self.kv(x_).reshape(B, -1, 2, self.num_heads, C // self.num_heads) \
                    .permute(2, 0, 3, 1, 4)
            else:
                kv = self.kv(x).reshape(B, -1, 2, self.num_heads, C // self.num_heads) \
                    .permute(2, 0, 3, 1, 4)
            k, v = kv[0], kv[1]
            attn = (q @ k.transpose(-2, -1)) * self.scale
            attn = attn.softmax(dim=-1)
            x = (attn @ v).transpose(1, 2).reshape(B, N, C)
            return self.proj(x)

    class DWConv(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, bias=True, groups=dim)

        def forward(self, x, H, W):
            B, N, C = x.shape
            x = x.transpose(1, 2).view(B, C, H, W)
            return self.dwconv(x).flatten(2).transpose(1, 2)

    class Mlp(nn.Module):
        def __init__(self, dim, hidden):
            super().__init__()
            self.fc1 = nn.Linear(dim, hidden)
            self.dwconv = DWConv(hidden)
            self.act = nn.GELU()
            self.fc2 = nn.Linear(hidden, dim)

        def forward(self, x, H, W):
            return self.fc2(self.act(self.dwconv(self.fc1(x), H, W)))

    class Block(nn.Module):
        def __init__(self, dim, sr_ratio):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attn = Attention(dim, sr_ratio=sr_ratio)
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = Mlp(dim, dim * 4)

        def forward(self, x, H, W):
            x = x + self.attn(self.norm1(x), H, W)
            return x + self.mlp(self.norm2(x), H, W)

    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            fan_out //= m.groups
            m.weight.data.normal_(0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                m.bias.data.zero_()

    class MiniSegFormer(nn.Module):
        def __init__(self, num_classes=3, dims=(8, 16)):
            super().__init__()
            self.patch_embed1 = OverlapPatchEmbed(7, 4, 3, dims[0])
            self.patch_embed2 = OverlapPatchEmbed(3, 2, dims[0], dims[1])
            self.block1 = nn.ModuleList([Block(dims[0], 2)])
            self.norm1 = nn.LayerNorm(dims[0])
            self.block2 = nn.ModuleList([Block(dims[1], 1)])
            self.norm2 = nn.LayerNorm(dims[1])
            self.linear_c = nn.ModuleList([nn.Linear(d, 8) for d in dims])
            self.linear_fuse = nn.Conv2d(16, 8, 1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.linear_pred = nn.Conv2d(8, num_classes, 1)
            self.apply(_init_weights)

        def forward(self, x):
            B = x.shape[0]
            outs = []
            x, H, W = self.patch_embed1(x)
            for blk in self.block1:
                x = blk(x, H, W)
            x = self.norm1(x).reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
            x, H, W = self.patch_embed2(x)
            for blk in self.block2:
                x = blk(x, H, W)
            x = self.norm2(x).reshape(B, H, W, -1).permute(0, 3, 1, 2).contiguous()
            outs.append(x)
            size = outs[0].size()[2:]
            maps = []
            for c, lin in zip(outs, self.linear_c):
                n, _, h, w = c.shape
                m = lin(c.flatten(2).transpose(1, 2)).permute(0, 2, 1).reshape(n, -1, h, w)
                maps.append(F.interpolate(m, size=size, mode="bilinear", align_corners=False))
            fused = F.relu(self.bn(self.linear_fuse(L.cat(maps[::-1], dim=1))))
            return self.linear_pred(fused), outs

    L.manual_seed(0)
    model = MiniSegFormer().double()
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
    ((None, 1)) and ((1, None)), the two concatenated and split back, h_swish/h_sigmoid made
    of ReLU6(x + 3) / 6; and ECA's channel attention, a Conv1d over the squeezed channels
    (squeeze(-1).transpose(-1, -2)) whose kernel size comes from log2 of the channels; in a
    MobileNetV3-like block trained for two SGD steps with Nesterov momentum."""
    nn = L.nn

    class h_sigmoid(nn.Module):
        def __init__(self, inplace=True):
            super().__init__()
            self.relu = nn.ReLU6(inplace=inplace)

        def forward(self, x):
            return self.relu(x + 3) / 6

    class h_swish(nn.Module):
        def __init__(self, inplace=True):
            super().__init__()
            self.sigmoid = h_sigmoid(inplace=inplace)

        def forward(self, x):
            return x * self.sigmoid(x)

    class CoordAtt(nn.Module):
        def __init__(self, inp, oup, reduction=4):
            super().__init__()
            self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
            self.pool_w = nn.AdaptiveAvgPool2d((1, None))
            mip = max(8, inp // reduction)
            self.conv1 = nn.Conv2d(inp, mip, kernel_size=1, stride=1, padding=0)
            self.bn1 = nn.BatchNorm2d(mip)
            self.act = h_swish()
            self.conv_h = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)
            self.conv_w = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)

        def forward(self, x):
            identity = x
            n, c, h, w = x.size()
            x_h = self.pool_h(x)
            x_w = self.pool_w(x).permute(0, 1, 3, 2)
            y = L.cat([x_h, x_w], dim=2)
            y = self.act(self.bn1(self.conv1(y)))
            x_h, x_w = L.split(y, [h, w], dim=2)
            x_w = x_w.permute(0, 1, 3, 2)
            a_h = self.conv_h(x_h).sigmoid()
            a_w = self.conv_w(x_w).sigmoid()
            return identity * a_w * a_h

    class eca_layer(nn.Module):
        def __init__(self, channel, gamma=2, b=1):
            super().__init__()
            t = int(abs((math.log(channel, 2) + b) / gamma))
            k_size = t if t % 2 else t + 1
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2,
                                  bias=False)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            y = self.avg_pool(x)
            y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
            y = self.sigmoid(y)
            return x * y.expand_as(x)

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.dw = nn.Sequential(nn.Conv2d(c, c, 3, 2, 1, groups=c, bias=False),
                                    nn.BatchNorm2d(c), h_swish())
            self.ca = CoordAtt(c, c)
            self.eca = eca_layer(c)
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

    def gaussian_radius(det_size, min_overlap=0.7):
        height, width = det_size
        b1 = height + width
        c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
        r1 = (b1 + math.sqrt(b1 ** 2 - 4 * c1)) / 2
        b2 = 2 * (height + width)
        c2 = (1 - min_overlap) * width * height
        r2 = (b2 + math.sqrt(b2 ** 2 - 16 * c2)) / 2
        a3 = 4 * min_overlap
        b3 = -2 * min_overlap * (height + width)
        c3 = (min_overlap - 1) * width * height
        r3 = (b3 + math.sqrt(b3 ** 2 - 4 * a3 * c3)) / 2
        return min(r1, r2, r3)

    def gaussian2D(radius, sigma):
        ys, xs = L.meshgrid(L.arange(-radius, radius + 1.0, dtype=L.float64),
                            L.arange(-radius, radius + 1.0, dtype=L.float64), indexing="ij")
        h = L.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma))
        h[h < L.finfo(h.dtype).eps * h.max()] = 0
        return h

    def draw_umich_gaussian(heatmap, center, radius, k=1):
        diameter = 2 * radius + 1
        gaussian = gaussian2D(radius, sigma=diameter / 6)
        x, y = int(center[0]), int(center[1])
        height, width = heatmap.shape[0:2]
        left, right = min(x, radius), min(width - x, radius + 1)
        top, bottom = min(y, radius), min(height - y, radius + 1)
        masked_heatmap = heatmap[y - top:y + bottom, x - left:x + right]
        masked_gaussian = gaussian[radius - top:radius + bottom, radius - left:radius + right]
        if min(masked_gaussian.shape) > 0 and min(masked_heatmap.shape) > 0:
            L.max(masked_heatmap, masked_gaussian * k, out=masked_heatmap)
        return heatmap

    def _sigmoid(x):
        return L.clamp(x.sigmoid_(), min=1e-4, max=1 - 1e-4)

    def _neg_loss(pred, gt):
        pos_inds = gt.eq(1).float()
        neg_inds = gt.lt(1).float()
        neg_weights = L.pow(1 - gt, 4)
        pos_loss = (L.log(pred) * L.pow(1 - pred, 2) * pos_inds).sum()
        neg_loss = (L.log(1 - pred) * L.pow(pred, 2) * neg_weights * neg_inds).sum()
        num_pos = pos_inds.float().sum()
        if num_pos == 0:
            return -neg_loss
        return -(pos_loss + neg_loss) / num_pos

    def _gather_feat(feat, ind, mask=None):
        dim = feat.size(2)
        ind = ind.unsqueeze(2).expand(ind.size(0), ind.size(1), dim)
        feat = feat.gather(1, ind)
        if mask is not None:
            mask = mask.unsqueeze(2).expand_as(feat)
            feat = feat[mask].view(-1, dim)
        return feat

    def _transpose_and_gather_feat(feat, ind):
        feat = feat.permute(0, 2, 3, 1).contiguous()
        feat = feat.view(feat.size(0), -1, feat.size(3))
        return _gather_feat(feat, ind)

    class RegL1Loss(nn.Module):
        def forward(self, output, mask, ind, target):
            pred = _transpose_and_gather_feat(output, ind)
            mask = mask.unsqueeze(2).expand_as(pred).float()
            loss = F.l1_loss(pred * mask, target * mask, size_average=False)
            return loss / (mask.sum() + 1e-4)

    def _nms(heat, kernel=3):
        pad = (kernel - 1) // 2
        hmax = F.max_pool2d(heat, (kernel, kernel), stride=1, padding=pad)
        keep = (hmax == heat).float()
        return heat * keep

    def _topk(scores, K):
        batch, cat, height, width = scores.size()
        topk_scores, topk_inds = L.topk(scores.view(batch, cat, -1), K)
        topk_inds = topk_inds % (height * width)
        topk_ys = (topk_inds / width).int().float()
        topk_xs = (topk_inds % width).int().float()
        topk_score, topk_ind = L.topk(topk_scores.view(batch, -1), K)
        topk_clses = (topk_ind / K).int()
        topk_inds = _gather_feat(topk_inds.view(batch, -1, 1), topk_ind).view(batch, K)
        topk_ys = _gather_feat(topk_ys.view(batch, -1, 1), topk_ind).view(batch, K)
        topk_xs = _gather_feat(topk_xs.view(batch, -1, 1), topk_ind).view(batch, K)
        return topk_score, topk_inds, topk_clses, topk_ys, topk_xs

    def ctdet_decode(heat, wh, reg, K):
        batch = heat.size(0)
        heat = _nms(heat)
        scores, inds, clses, ys, xs = _topk(heat, K)
        reg = _transpose_and_gather_feat(reg, inds).view(batch, K, 2)
        xs = xs.view(batch, K, 1) + reg[:, :, 0:1]
        ys = ys.view(batch, K, 1) + reg[:, :, 1:2]
        wh = _transpose_and_gather_feat(wh, inds).view(batch, K, 2)
        clses = clses.view(batch, K, 1).float()
        scores = scores.view(batch, K, 1)
        bboxes = L.cat([xs - wh[..., 0:1] / 2, ys - wh[..., 1:2] / 2,
                        xs + wh[..., 0:1] / 2, ys + wh[..., 1:2] / 2], dim=2)
        return L.cat([bboxes, scores, clses], dim=2)

    class Head(nn.Module):
        def __init__(self, c, heads):
            super().__init__()
            self.backbone = nn.Sequential(nn.Conv2d(3, c, 3, 2, 1), nn.ReLU(inplace=True))
            self.heads = heads
            for head, classes in heads.items():
                fc = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=True),
                                   nn.ReLU(inplace=True), nn.Conv2d(c, classes, 1))
                if "hm" in head:
                    fc[-1].bias.data.fill_(-2.19)
                self.__setattr__(head, fc)

        def forward(self, x):
            x = self.backbone(x)
            return [{head: self.__getattr__(head)(x) for head in self.heads}]

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
            radius = max(0, int(gaussian_radius((math.ceil(h), math.ceil(w)))))
            radii.append(radius)
            ct = L.tensor([(x1 + x2) / 2, (y1 + y2) / 2], dtype=L.float64)
            ct_int = ct.to(L.int32)
            draw_umich_gaussian(hm[b, int(cls)], ct_int, radius)
            wh_t[b, k] = L.tensor([w, h], dtype=L.float64)
            ind[b, k] = ct_int[1] * out_w + ct_int[0]
            reg_t[b, k] = ct - ct_int
            reg_mask[b, k] = 1
    L.manual_seed(0)
    model = Head(8, {"hm": 2, "wh": 2, "reg": 2}).double()
    img = _x(L, 2, 3, 16, 16, seed=13)
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    crit_reg = RegL1Loss()
    losses = []
    for _ in range(2):
        output = model(img)[-1]
        output["hm"] = _sigmoid(output["hm"])
        hm_loss = _neg_loss(output["hm"], hm)
        wh_loss = crit_reg(output["wh"], reg_mask, ind, wh_t)
        off_loss = crit_reg(output["reg"], reg_mask, ind, reg_t)
        loss = hm_loss + 0.1 * wh_loss + off_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append([hm_loss, wh_loss, off_loss])
    with L.no_grad():
        output = model(img)[-1]
        dets = ctdet_decode(output["hm"].sigmoid_(), output["wh"], output["reg"], K=5)
    masked = _gather_feat(_transpose_and_gather_feat(output["wh"], ind).contiguous()
                          .view(2, max_objs, 2)[:, :, :1], ind[:, :1].expand(2, 2) * 0,
                          reg_mask[:, :2].bool())
    return dict(radii=radii, hm=hm, ind=ind, reg=reg_t, losses=losses, dets=dets,
                masked=masked, bias=model.hm[-1].bias)


@program
def retinanet_matcher_box_coder_and_loss(L):
    """torchvision's RetinaNet training path written out: anchors from meshgrid shifts,
    box_iou by broadcast max/min and clamp, the Matcher (max over ground truth, thresholds
    written into the matches by boolean indexing, low-quality matches recovered by
    torch.where of the equality with each box's best), BoxCoder.encode_boxes with weights and
    decode_single with bbox_xform_clip, one-hot class targets by advanced indexing,
    sigmoid_focal_loss over the valid anchors, L1 box loss over the foreground; then
    postprocessing: topk candidates, floor division into anchors and labels, decoded boxes
    clipped, batched NMS by the coordinate-offset trick."""
    F = L.nn.functional
    BELOW, BETWEEN = -1, -2

    def box_area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def box_iou(boxes1, boxes2):
        area1, area2 = box_area(boxes1), box_area(boxes2)
        lt = L.max(boxes1[:, None, :2], boxes2[:, :2])
        rb = L.min(boxes1[:, None, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, :, 0] * wh[:, :, 1]
        return inter / (area1[:, None] + area2 - inter)

    class Matcher:
        def __init__(self, high, low, allow_low_quality_matches=False):
            self.high_threshold, self.low_threshold = high, low
            self.allow_low_quality_matches = allow_low_quality_matches

        def __call__(self, match_quality_matrix):
            matched_vals, matches = match_quality_matrix.max(dim=0)
            all_matches = matches.clone() if self.allow_low_quality_matches else None
            below_low_threshold = matched_vals < self.low_threshold
            between_thresholds = (matched_vals >= self.low_threshold) & (
                matched_vals < self.high_threshold)
            matches[below_low_threshold] = BELOW
            matches[between_thresholds] = BETWEEN
            if self.allow_low_quality_matches:
                highest_quality_foreach_gt, _ = match_quality_matrix.max(dim=1)
                pairs = L.where(match_quality_matrix == highest_quality_foreach_gt[:, None])
                pred_inds_to_update = pairs[1]
                matches[pred_inds_to_update] = all_matches[pred_inds_to_update]
            return matches

    class BoxCoder:
        def __init__(self, weights, bbox_xform_clip=math.log(1000.0 / 16)):
            self.weights, self.bbox_xform_clip = weights, bbox_xform_clip

        def encode_single(self, reference_boxes, proposals):
            weights = L.as_tensor(self.weights, dtype=reference_boxes.dtype)
            wx, wy, ww, wh = weights[0], weights[1], weights[2], weights[3]
            px1, py1 = proposals[:, 0].unsqueeze(1), proposals[:, 1].unsqueeze(1)
            px2, py2 = proposals[:, 2].unsqueeze(1), proposals[:, 3].unsqueeze(1)
            gx1, gy1 = reference_boxes[:, 0].unsqueeze(1), reference_boxes[:, 1].unsqueeze(1)
            gx2, gy2 = reference_boxes[:, 2].unsqueeze(1), reference_boxes[:, 3].unsqueeze(1)
            ex_w, ex_h = px2 - px1, py2 - py1
            ex_cx, ex_cy = px1 + 0.5 * ex_w, py1 + 0.5 * ex_h
            gt_w, gt_h = gx2 - gx1, gy2 - gy1
            gt_cx, gt_cy = gx1 + 0.5 * gt_w, gy1 + 0.5 * gt_h
            return L.cat((wx * (gt_cx - ex_cx) / ex_w, wy * (gt_cy - ex_cy) / ex_h,
                          ww * L.log(gt_w / ex_w), wh * L.log(gt_h / ex_h)), dim=1)

        def decode_single(self, rel_codes, boxes):
            boxes = boxes.to(rel_codes.dtype)
            widths = boxes[:, 2] - boxes[:, 0]
            heights = boxes[:, 3] - boxes[:, 1]
            ctr_x = boxes[:, 0] + 0.5 * widths
            ctr_y = boxes[:, 1] + 0.5 * heights
            wx, wy, ww, wh = self.weights
            dx = rel_codes[:, 0::4] / wx
            dy = rel_codes[:, 1::4] / wy
            dw = L.clamp(rel_codes[:, 2::4] / ww, max=self.bbox_xform_clip)
            dh = L.clamp(rel_codes[:, 3::4] / wh, max=self.bbox_xform_clip)
            pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
            pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
            pred_w = L.exp(dw) * widths[:, None]
            pred_h = L.exp(dh) * heights[:, None]
            c_to_c_h = L.tensor(0.5, dtype=pred_ctr_y.dtype) * pred_h
            c_to_c_w = L.tensor(0.5, dtype=pred_ctr_x.dtype) * pred_w
            return L.stack((pred_ctr_x - c_to_c_w, pred_ctr_y - c_to_c_h,
                            pred_ctr_x + c_to_c_w, pred_ctr_y + c_to_c_h), dim=2).flatten(1)

    def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2, reduction="none"):
        p = L.sigmoid(inputs)
        ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
        p_t = p * targets + (1 - p) * (1 - targets)
        loss = ce_loss * ((1 - p_t) ** gamma)
        if alpha >= 0:
            alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
            loss = alpha_t * loss
        return loss.sum() if reduction == "sum" else loss

    def nms(boxes, scores, thr):
        order = scores.argsort(descending=True)
        keep = []
        while order.numel() > 0:
            i = order[0]
            keep.append(i)
            if order.numel() == 1:
                break
            ious = box_iou(boxes[i][None], boxes[order[1:]])[0]
            order = order[1:][ious <= thr]
        return L.stack(keep) if keep else L.empty(0, dtype=L.int64)

    def batched_nms(boxes, scores, idxs, thr):
        offsets = idxs.to(boxes) * (boxes.max() + L.tensor(1).to(boxes))
        return nms(boxes + offsets[:, None], scores, thr)

    sizes, stride = (6.0, 12.0), 4
    base = L.tensor([[-s / 2, -s / 2, s / 2, s / 2] for s in sizes], dtype=L.float64)
    shifts_x = L.arange(0, 4, dtype=L.int32) * stride
    shifts_y = L.arange(0, 4, dtype=L.int32) * stride
    shift_y, shift_x = L.meshgrid(shifts_y, shifts_x, indexing="ij")
    shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
    shifts = L.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
    anchors = (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)
    gt_boxes = L.tensor([[1.0, 2.0, 9.0, 10.0], [5.0, 3.0, 15.0, 14.0]], dtype=L.float64)
    gt_labels = L.tensor([2, 0])
    num_classes = 3
    matcher = Matcher(0.5, 0.4, allow_low_quality_matches=True)
    coder = BoxCoder((1.0, 1.0, 1.0, 1.0))
    iou = box_iou(gt_boxes, anchors)
    matched_idxs = matcher(iou)
    cls_logits = _x(L, anchors.shape[0], num_classes, seed=14, grad=True)
    bbox_reg = _x(L, anchors.shape[0], 4, seed=15, scale=0.2, grad=True)
    foreground_idxs = matched_idxs >= 0
    num_foreground = foreground_idxs.sum()
    gt_classes_target = L.zeros_like(cls_logits)
    gt_classes_target[foreground_idxs,
                      gt_labels[matched_idxs[foreground_idxs]]] = 1.0
    valid_idxs = matched_idxs != BETWEEN
    cls_loss = sigmoid_focal_loss(cls_logits[valid_idxs], gt_classes_target[valid_idxs],
                                  reduction="sum") / max(1, num_foreground)
    matched_gt = gt_boxes[matched_idxs[foreground_idxs]]
    target_regression = coder.encode_single(matched_gt, anchors[foreground_idxs, :])
    box_loss = F.l1_loss(bbox_reg[foreground_idxs, :], target_regression,
                         reduction="sum") / max(1, num_foreground.item())
    (cls_loss + box_loss).backward()

    with L.no_grad():
        scores_all = L.sigmoid(cls_logits).flatten()
        keep_idxs = scores_all > 0.3
        scores_all = scores_all[keep_idxs]
        topk_idxs = L.where(keep_idxs)[0]
        num_topk = min(10, topk_idxs.size(0))
        scores_k, idxs = scores_all.topk(num_topk)
        topk_idxs = topk_idxs[idxs]
        anchor_idxs = L.div(topk_idxs, num_classes, rounding_mode="floor")
        labels_k = topk_idxs % num_classes
        boxes = coder.decode_single(bbox_reg[anchor_idxs], anchors[anchor_idxs])
        boxes_x = boxes[..., 0::2].clamp(min=0, max=16)
        boxes_y = boxes[..., 1::2].clamp(min=0, max=16)
        boxes = L.stack((boxes_x, boxes_y), dim=boxes.dim()).reshape(boxes.shape)
        keep = batched_nms(boxes, scores_k, labels_k, 0.5)
    return dict(anchors=anchors, iou=iou, matched=matched_idxs, nfg=num_foreground,
                target=target_regression, cls_loss=cls_loss, box_loss=box_loss,
                g_cls=cls_logits.grad, g_box=bbox_reg.grad, boxes=boxes[keep],
                scores=scores_k[keep], labels=labels_k[keep],
                roundtrip=coder.decode_single(target_regression,
                                              anchors[foreground_idxs, :]) - matched_gt)


# ----------------------------------------------------------------------------------------------
# optimizer wrappers: SAM with gradient centralisation, Lookahead, the center loss's two
# optimizers, layer-wise learning-rate decay
# ----------------------------------------------------------------------------------------------
@program
def sam_optimizer_with_gradient_centralization(L):
    """davda54/sam: an Optimizer subclass holding rho/adaptive in its defaults that builds
    its base optimizer over its own param_groups and takes them over; first_step saves
    old_p in self.state and climbs by e_w = grad * scale.to(p) (|p|^2-weighted when
    adaptive), second_step restores p.data and steps the base optimizer, step wraps the
    closure in torch.enable_grad(); BatchNorm running stats disabled around the second pass
    by Module.apply over _BatchNorm; gradients centralised per output channel before
    the climb; the wrapper's state_dict saved and loaded through io.BytesIO."""
    nn, F = L.nn, L.nn.functional
    from_bn = L.nn.modules.batchnorm._BatchNorm

    class SAM(L.optim.Optimizer):
        def __init__(self, params, base_optimizer, rho=0.05, adaptive=False, **kwargs):
            assert rho >= 0.0, f"Invalid rho, should be non-negative: {rho}"
            defaults = dict(rho=rho, adaptive=adaptive, **kwargs)
            super().__init__(params, defaults)
            self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
            self.param_groups = self.base_optimizer.param_groups
            self.defaults.update(self.base_optimizer.defaults)

        @L.no_grad()
        def first_step(self, zero_grad=False):
            grad_norm = self._grad_norm()
            for group in self.param_groups:
                scale = group["rho"] / (grad_norm + 1e-12)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    self.state[p]["old_p"] = p.data.clone()
                    e_w = (L.pow(p, 2) if group["adaptive"] else 1.0) * p.grad * scale.to(p)
                    p.add_(e_w)
            if zero_grad:
                self.zero_grad()

        @L.no_grad()
        def second_step(self, zero_grad=False):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.data = self.state[p]["old_p"]
            self.base_optimizer.step()
            if zero_grad:
                self.zero_grad()

        @L.no_grad()
        def step(self, closure=None):
            assert closure is not None, "Sharpness Aware Minimization requires closure"
            closure = L.enable_grad()(closure)
            self.first_step(zero_grad=True)
            closure()
            self.second_step()

        def _grad_norm(self):
            shared_device = self.param_groups[0]["params"][0].device
            return L.norm(L.stack([
                ((L.abs(p) if group["adaptive"] else 1.0) * p.grad).norm(p=2).to(shared_device)
                for group in self.param_groups for p in group["params"]
                if p.grad is not None]), p=2)

        def load_state_dict(self, state_dict):
            super().load_state_dict(state_dict)
            self.base_optimizer.param_groups = self.param_groups

    def disable_running_stats(model):
        def _disable(module):
            if isinstance(module, from_bn):
                module.backup_momentum = module.momentum
                module.momentum = 0
        model.apply(_disable)

    def enable_running_stats(model):
        def _enable(module):
            if isinstance(module, from_bn) and hasattr(module, "backup_momentum"):
                module.momentum = module.backup_momentum
        model.apply(_enable)

    def centralize(model):
        for p in model.parameters():
            if p.grad is not None and p.grad.dim() > 1:
                p.grad.data.add_(-p.grad.data.mean(dim=tuple(range(1, len(list(p.grad.size())))),
                                                   keepdim=True))

    def smooth_crossentropy(pred, gold, smoothing=0.1):
        n_class = pred.size(1)
        one_hot = L.full_like(pred, fill_value=smoothing / (n_class - 1))
        one_hot.scatter_(dim=1, index=gold.unsqueeze(1), value=1.0 - smoothing)
        return F.kl_div(input=F.log_softmax(pred, dim=1), target=one_hot, reduction="none") \
            .sum(-1)

    out = {}
    for adaptive in (False, True):
        L.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                              nn.Flatten(), nn.Linear(4 * 25, 3)).double()
        x, y = _x(L, 4, 2, 5, 5, seed=16), L.tensor(labels(4, 3, 17))
        optimizer = SAM(model.parameters(), L.optim.SGD, rho=2.0 if adaptive else 0.05,
                        adaptive=adaptive, lr=0.1, momentum=0.9)
        losses = []
        for step in range(2):
            enable_running_stats(model)
            loss = smooth_crossentropy(model(x), y).mean()
            loss.backward()
            centralize(model)
            optimizer.first_step(zero_grad=True)
            disable_running_stats(model)
            smooth_crossentropy(model(x), y).mean().backward()
            optimizer.second_step(zero_grad=True)
            losses.append(loss)

        def closure():
            loss = smooth_crossentropy(model(x), y).mean()
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
            same=optimizer.base_optimizer.param_groups is optimizer.param_groups,
            defaults=sorted(optimizer.defaults))
    return out


@program
def lookahead_wrapper_without_optimizer_init(L):
    """timm's Lookahead: an Optimizer subclass that never calls Optimizer.__init__, takes
    its base optimizer's param_groups, defaults and a defaultdict state, setdefaults its
    lookahead_* keys into every group, keeps the slow weights in the base optimizer's state
    (empty_like + copy_, add_ with alpha), delegates state_dict/load_state_dict; driven with
    zero_grad, a LambdaLR warm-up on the wrapper and a reload into a fresh wrapper."""
    nn = L.nn

    class Lookahead(L.optim.Optimizer):
        def __init__(self, base_optimizer, alpha=0.5, k=6):
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"Invalid slow update rate: {alpha}")
            if not 1 <= k:
                raise ValueError(f"Invalid lookahead steps: {k}")
            defaults = dict(lookahead_alpha=alpha, lookahead_k=k, lookahead_step=0)
            self._base_optimizer = base_optimizer
            self.param_groups = base_optimizer.param_groups
            self.defaults = base_optimizer.defaults
            self.defaults.update(defaults)
            self.state = defaultdict(dict)
            for name, default in defaults.items():
                for group in self._base_optimizer.param_groups:
                    group.setdefault(name, default)

        @L.no_grad()
        def update_slow(self, group):
            for fast_p in group["params"]:
                if fast_p.grad is None:
                    continue
                param_state = self._base_optimizer.state[fast_p]
                if "lookahead_slow_buff" not in param_state:
                    param_state["lookahead_slow_buff"] = L.empty_like(fast_p)
                    param_state["lookahead_slow_buff"].copy_(fast_p)
                slow = param_state["lookahead_slow_buff"]
                slow.add_(fast_p - slow, alpha=group["lookahead_alpha"])
                fast_p.copy_(slow)

        def sync_lookahead(self):
            for group in self._base_optimizer.param_groups:
                self.update_slow(group)

        @L.no_grad()
        def step(self, closure=None):
            loss = self._base_optimizer.step(closure)
            for group in self._base_optimizer.param_groups:
                group["lookahead_step"] += 1
                if group["lookahead_step"] % group["lookahead_k"] == 0:
                    self.update_slow(group)
            return loss

        def state_dict(self):
            return self._base_optimizer.state_dict()

        def load_state_dict(self, state_dict):
            self._base_optimizer.load_state_dict(state_dict)
            self.param_groups = self._base_optimizer.param_groups

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
    opt.sync_lookahead()
    sd = opt.state_dict()
    fresh = Lookahead(L.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.01), k=3)
    fresh.load_state_dict(sd)
    return dict(losses=losses, lrs=lrs, params=[p.detach() for p in model.parameters()],
                groups=[{k: v for k, v in g.items() if k != "params"}
                        for g in sd["param_groups"]],
                state={k: sorted(v) for k, v in sd["state"].items()},
                slow=sd["state"][0]["lookahead_slow_buff"],
                fresh=[fresh.param_groups[0]["lookahead_step"],
                       fresh._base_optimizer.state[next(model.parameters())]["step"]],
                bad=[err(lambda: Lookahead(base, alpha=1.5)), err(lambda: Lookahead(base, k=0))],
                is_opt=isinstance(opt, L.optim.Optimizer))


@program
def center_loss_with_two_optimizers(L):
    """KaiyangZhou's CenterLoss: learnable centers, the squared distance matrix expanded
    both ways and completed by addmm_(x, centers.t(), beta=1, alpha=-2), a label mask from
    eq against an expanded arange, clamp and a mean; trained beside softmax cross entropy with
    its own SGD whose gradients are rescaled by 1 / weight before stepping."""
    nn, F = L.nn, L.nn.functional

    class CenterLoss(nn.Module):
        def __init__(self, num_classes=4, feat_dim=2):
            super().__init__()
            self.num_classes, self.feat_dim = num_classes, feat_dim
            self.centers = nn.Parameter(L.randn(self.num_classes, self.feat_dim,
                                                dtype=L.float64))

        def forward(self, x, labels):
            batch_size = x.size(0)
            distmat = L.pow(x, 2).sum(dim=1, keepdim=True).expand(batch_size,
                                                                   self.num_classes) + \
                L.pow(self.centers, 2).sum(dim=1, keepdim=True).expand(
                    self.num_classes, batch_size).t()
            distmat.addmm_(x, self.centers.t(), beta=1, alpha=-2)
            classes = L.arange(self.num_classes).long()
            labels = labels.unsqueeze(1).expand(batch_size, self.num_classes)
            mask = labels.eq(classes.expand(batch_size, self.num_classes))
            dist = distmat * mask.float()
            return dist.clamp(min=1e-12, max=1e+12).sum() / batch_size

    L.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.PReLU(), nn.Linear(8, 2)).double()
    classifier = nn.Linear(2, 4).double()
    criterion_cent = CenterLoss()
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
    """MAE/BEiT fine-tuning: param_groups_lrd (a group per layer id and decay kind, the
    layer taken from the parameter's name, 1-d weights and biases and the token and
    position embeddings without weight decay, lr_scale = decay ** (depth + 1 - id)), an
    adjust_learning_rate per iteration (linear warm-up, half-cycle cosine) writing
    group['lr'] = lr * group['lr_scale'], AdamW; then interpolate_pos_embed resizing a
    checkpoint's position embeddings by bicubic interpolation before load_state_dict with
    strict=False, and its missing/unexpected keys."""
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

    def get_layer_id_for_vit(name, num_layers):
        if name in ["cls_token", "pos_embed"]:
            return 0
        elif name.startswith("patch_embed"):
            return 0
        elif name.startswith("blocks"):
            return int(name.split(".")[1]) + 1
        return num_layers

    def param_groups_lrd(model, weight_decay=0.05, no_weight_decay_list=(), layer_decay=.75):
        param_group_names, param_groups = {}, {}
        num_layers = len(model.blocks) + 1
        layer_scales = list(layer_decay ** (num_layers - i) for i in range(num_layers + 1))
        for n, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if p.ndim == 1 or n in no_weight_decay_list:
                g_decay, this_decay = "no_decay", 0.
            else:
                g_decay, this_decay = "decay", weight_decay
            layer_id = get_layer_id_for_vit(n, num_layers)
            group_name = "layer_%d_%s" % (layer_id, g_decay)
            if group_name not in param_group_names:
                this_scale = layer_scales[layer_id]
                param_group_names[group_name] = {"lr_scale": this_scale,
                                                 "weight_decay": this_decay, "params": []}
                param_groups[group_name] = {"lr_scale": this_scale,
                                            "weight_decay": this_decay, "params": []}
            param_group_names[group_name]["params"].append(n)
            param_groups[group_name]["params"].append(p)
        return list(param_groups.values()), param_group_names

    def adjust_learning_rate(optimizer, epoch, lr=1e-2, min_lr=1e-4, warmup=1, epochs=4):
        if epoch < warmup:
            lr = lr * epoch / warmup
        else:
            lr = min_lr + (lr - min_lr) * 0.5 * (
                1. + math.cos(math.pi * (epoch - warmup) / (epochs - warmup)))
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr * param_group.get("lr_scale", 1.0)
        return lr

    def interpolate_pos_embed(model, checkpoint_model):
        pos_embed_checkpoint = checkpoint_model["pos_embed"]
        embedding_size = pos_embed_checkpoint.shape[-1]
        num_patches = model.patch_embed.weight.shape[0] and (model.pos_embed.shape[-2] - 1)
        num_extra_tokens = model.pos_embed.shape[-2] - num_patches
        orig_size = int((pos_embed_checkpoint.shape[-2] - num_extra_tokens) ** 0.5)
        new_size = int(num_patches ** 0.5)
        if orig_size != new_size:
            extra_tokens = pos_embed_checkpoint[:, :num_extra_tokens]
            pos_tokens = pos_embed_checkpoint[:, num_extra_tokens:]
            pos_tokens = pos_tokens.reshape(-1, orig_size, orig_size, embedding_size) \
                .permute(0, 3, 1, 2)
            pos_tokens = F.interpolate(pos_tokens, size=(new_size, new_size), mode="bicubic",
                                       align_corners=False)
            pos_tokens = pos_tokens.permute(0, 2, 3, 1).flatten(1, 2)
            checkpoint_model["pos_embed"] = L.cat((extra_tokens, pos_tokens), dim=1)

    L.manual_seed(0)
    model = ViT().double()
    groups, names = param_groups_lrd(model, no_weight_decay_list={"pos_embed", "cls_token"})
    opt = L.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.95))
    x, y = _x(L, 4, 3, 8, 8, seed=22), L.tensor(labels(4, 3, 23))
    lrs, losses = [], []
    for it in range(4):
        lrs.append(adjust_learning_rate(opt, it / 2 + 0.25))
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
    interpolate_pos_embed(big, ckpt)
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
    """Attention U-Net: gating signals from the coarser decoder level, W_g and W_x 1x1 conv
    + BatchNorm branches summed, ReLU, psi (1x1 conv, BN, sigmoid), the gate multiplying the
    skip; up-convolutions by Upsample(scale_factor=2) + conv, skips concatenated; trained by
    BCE-with-logits plus a soft Dice loss computed over flattened sigmoid outputs; the gates'
    attention maps collected by forward hooks."""
    nn, F = L.nn, L.nn.functional

    def conv_block(ch_in, ch_out):
        return nn.Sequential(nn.Conv2d(ch_in, ch_out, 3, 1, 1, bias=True),
                             nn.BatchNorm2d(ch_out), nn.ReLU(inplace=True))

    class up_conv(nn.Module):
        def __init__(self, ch_in, ch_out):
            super().__init__()
            self.up = nn.Sequential(nn.Upsample(scale_factor=2), conv_block(ch_in, ch_out))

        def forward(self, x):
            return self.up(x)

    class Attention_block(nn.Module):
        def __init__(self, F_g, F_l, F_int):
            super().__init__()
            self.W_g = nn.Sequential(nn.Conv2d(F_g, F_int, 1, 1, 0, bias=True),
                                     nn.BatchNorm2d(F_int))
            self.W_x = nn.Sequential(nn.Conv2d(F_l, F_int, 1, 1, 0, bias=True),
                                     nn.BatchNorm2d(F_int))
            self.psi = nn.Sequential(nn.Conv2d(F_int, 1, 1, 1, 0, bias=True),
                                     nn.BatchNorm2d(1), nn.Sigmoid())
            self.relu = nn.ReLU(inplace=True)

        def forward(self, g, x):
            psi = self.relu(self.W_g(g) + self.W_x(x))
            return x * self.psi(psi)

    class AttU_Net(nn.Module):
        def __init__(self, img_ch=3, output_ch=1):
            super().__init__()
            self.Maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.Conv1, self.Conv2, self.Conv3 = conv_block(img_ch, 4), conv_block(4, 8), \
                conv_block(8, 16)
            self.Up3, self.Att3, self.Up_conv3 = up_conv(16, 8), Attention_block(8, 8, 4), \
                conv_block(16, 8)
            self.Up2, self.Att2, self.Up_conv2 = up_conv(8, 4), Attention_block(4, 4, 2), \
                conv_block(8, 4)
            self.Conv_1x1 = nn.Conv2d(4, output_ch, 1, 1, 0)

        def forward(self, x):
            x1 = self.Conv1(x)
            x2 = self.Conv2(self.Maxpool(x1))
            x3 = self.Conv3(self.Maxpool(x2))
            d3 = self.Up3(x3)
            x2 = self.Att3(g=d3, x=x2)
            d3 = self.Up_conv3(L.cat((x2, d3), dim=1))
            d2 = self.Up2(d3)
            x1 = self.Att2(g=d2, x=x1)
            d2 = self.Up_conv2(L.cat((x1, d2), dim=1))
            return self.Conv_1x1(d2)

    class DiceBCELoss(nn.Module):
        def forward(self, inputs, targets, smooth=1):
            bce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="mean")
            inputs = L.sigmoid(inputs).view(-1)
            targets = targets.view(-1)
            intersection = (inputs * targets).sum()
            dice_loss = 1 - (2. * intersection + smooth) / (inputs.sum() + targets.sum() + smooth)
            return bce + dice_loss

    L.manual_seed(0)
    net = AttU_Net().double()
    maps = {}
    handles = [m.psi.register_forward_hook(
        lambda mod, inp, out, name=name: maps.__setitem__(name, out.detach()))
        for name, m in net.named_modules() if isinstance(m, Attention_block)]
    x = _x(L, 2, 3, 8, 8, seed=26)
    t = L.tensor((np.random.RandomState(27).rand(2, 1, 8, 8) > 0.5).astype(np.float64))
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    crit = DiceBCELoss()
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
                                                 if "Att" in k},
                names=sorted(maps), hooks=len(net.Att2.psi._forward_hooks))


@program
def non_local_block_embedded_gaussian_and_dot_product(L):
    """The non-local neural network block (Wang et al.) as its popular PyTorch port writes
    it: theta/phi/g 1x1 convs, a sub-sampling max-pool appended after phi and g, the
    pairwise function as softmax of theta . phi (embedded Gaussian) or divided by N
    (dot product), W as conv + BatchNorm whose weight and bias are zeroed by
    nn.init.constant_ so the block starts as identity; 1-d, 2-d and 3-d versions."""
    nn, F = L.nn, L.nn.functional

    class _NonLocalBlockND(nn.Module):
        def __init__(self, in_channels, inter_channels=None, dimension=3, sub_sample=True,
                     bn_layer=True, mode="embedded"):
            super().__init__()
            assert dimension in [1, 2, 3]
            self.dimension, self.sub_sample, self.mode = dimension, sub_sample, mode
            self.in_channels = in_channels
            self.inter_channels = inter_channels or max(in_channels // 2, 1)
            conv_nd = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dimension]
            max_pool_layer = {1: nn.MaxPool1d(kernel_size=2),
                              2: nn.MaxPool2d(kernel_size=(2, 2)),
                              3: nn.MaxPool3d(kernel_size=(1, 2, 2))}[dimension]
            bn = {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dimension]
            self.g = conv_nd(self.in_channels, self.inter_channels, 1, 1, 0)
            if bn_layer:
                self.W = nn.Sequential(conv_nd(self.inter_channels, self.in_channels, 1, 1, 0),
                                       bn(self.in_channels))
                nn.init.constant_(self.W[1].weight, 0)
                nn.init.constant_(self.W[1].bias, 0)
            else:
                self.W = conv_nd(self.inter_channels, self.in_channels, 1, 1, 0)
                nn.init.constant_(self.W.weight, 0)
                nn.init.constant_(self.W.bias, 0)
            self.theta = conv_nd(self.in_channels, self.inter_channels, 1, 1, 0)
            self.phi = conv_nd(self.in_channels, self.inter_channels, 1, 1, 0)
            if sub_sample:
                self.g = nn.Sequential(self.g, max_pool_layer)
                self.phi = nn.Sequential(self.phi, max_pool_layer)

        def forward(self, x, return_nl_map=False):
            batch_size = x.size(0)
            g_x = self.g(x).view(batch_size, self.inter_channels, -1).permute(0, 2, 1)
            theta_x = self.theta(x).view(batch_size, self.inter_channels, -1).permute(0, 2, 1)
            phi_x = self.phi(x).view(batch_size, self.inter_channels, -1)
            f = L.matmul(theta_x, phi_x)
            if self.mode == "embedded":
                f_div_C = F.softmax(f, dim=-1)
            else:
                f_div_C = f / f.size(-1)
            y = L.matmul(f_div_C, g_x)
            y = y.permute(0, 2, 1).contiguous()
            y = y.view(batch_size, self.inter_channels, *x.size()[2:])
            z = self.W(y) + x
            return (z, f_div_C) if return_nl_map else z

    out = {}
    L.manual_seed(0)
    for dim, shape, mode, bn in [(1, (2, 4, 6), "embedded", True),
                                 (2, (2, 4, 4, 6), "dot", False),
                                 (3, (1, 4, 2, 4, 4), "embedded", True)]:
        blk = _NonLocalBlockND(4, dimension=dim, mode=mode, bn_layer=bn).double()
        x = _x(L, *shape, seed=dim, grad=True)
        z, nl = blk(x, return_nl_map=True)
        ident = (z - x).abs().max()
        with L.no_grad():
            if bn:
                blk.W[1].weight.fill_(0.5)
            else:
                blk.W.weight.normal_()
        z2 = blk(x)
        z2.pow(2).sum().backward()
        out[dim] = dict(ident=ident, nl=nl, z=z2, gx=x.grad, grads=_grads(blk))
    return out


@program
def condconv_per_sample_kernels_by_grouped_conv(L):
    """CondConv (conditionally parameterised convolution) as timm writes it: experts'
    weights stored flattened as (num_experts, weight_numel) with each expert initialised by
    kaiming_uniform_ on a view of its row, routing by sigmoid of a Linear over the pooled
    input, per-sample kernels by a matmul of routing weights and experts reshaped to
    (B * out, in / groups, k, k), and the batch folded into the channels so one grouped
    conv2d (groups = B * groups) applies every sample's own kernel; against a per-sample
    loop."""
    nn, F = L.nn, L.nn.functional

    class CondConv2d(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=1,
                     groups=1, num_experts=3):
            super().__init__()
            self.in_channels, self.out_channels = in_channels, out_channels
            self.kernel_size = (kernel_size, kernel_size)
            self.stride, self.padding, self.groups = stride, padding, groups
            self.num_experts = num_experts
            self.weight_shape = (out_channels, in_channels // groups) + self.kernel_size
            weight_num_param = 1
            for wd in self.weight_shape:
                weight_num_param *= wd
            self.weight = nn.Parameter(L.empty(num_experts, weight_num_param))
            self.bias = nn.Parameter(L.empty(num_experts, out_channels))
            self.reset_parameters()

        def reset_parameters(self):
            for i in range(self.num_experts):
                nn.init.kaiming_uniform_(self.weight[i].view(self.weight_shape), a=math.sqrt(5))
            fan_in = math.prod(self.weight_shape[1:])
            bound = 1 / math.sqrt(fan_in)
            for i in range(self.num_experts):
                nn.init.uniform_(self.bias[i].view(self.out_channels), -bound, bound)

        def forward(self, x, routing_weights):
            B, C, H, W = x.shape
            weight = L.matmul(routing_weights, self.weight)
            new_weight_shape = (B * self.out_channels, self.in_channels // self.groups) + \
                self.kernel_size
            weight = weight.view(new_weight_shape)
            bias = L.matmul(routing_weights, self.bias).view(B * self.out_channels)
            x = x.reshape(1, B * C, H, W)
            out = F.conv2d(x, weight, bias, stride=self.stride, padding=self.padding,
                           groups=self.groups * B)
            return out.permute([1, 0, 2, 3]).view(B, self.out_channels, out.shape[-2],
                                                  out.shape[-1])

    L.manual_seed(0)
    conv = CondConv2d(4, 6, groups=2, stride=2).double()
    route = nn.Linear(4, 3).double()
    x = _x(L, 3, 4, 7, 7, seed=28, grad=True)
    routing = L.sigmoid(route(F.adaptive_avg_pool2d(x, 1).flatten(1)))
    y = conv(x, routing)
    loop = L.cat([F.conv2d(x[i:i + 1], (routing[i] @ conv.weight).view(conv.weight_shape),
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
    """RepVGG: a 3x3 conv-BN, a 1x1 conv-BN and an identity BN summed in training; for
    deployment each branch's BN folded into a kernel and bias (std = sqrt(var + eps),
    t = gamma / std), the 1x1 kernel padded to 3x3 by F.pad, the identity kernel written by
    numpy into a tensor cached on the module, the branches summed into one Conv2d whose
    .data is set, the old branches removed by __delattr__ and the parameters detach_()ed;
    the train-time and deployed outputs agree, checked against nn.utils.fuse_conv_bn_eval."""
    nn, F = L.nn, L.nn.functional

    def conv_bn(in_channels, out_channels, kernel_size, stride, padding, groups=1):
        result = nn.Sequential()
        result.add_module("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride,
                                            padding, groups=groups, bias=False))
        result.add_module("bn", nn.BatchNorm2d(num_features=out_channels))
        return result

    class RepVGGBlock(nn.Module):
        def __init__(self, in_channels, out_channels, stride=1, groups=1, deploy=False):
            super().__init__()
            self.deploy, self.groups, self.in_channels = deploy, groups, in_channels
            self.nonlinearity = nn.ReLU()
            if deploy:
                self.rbr_reparam = nn.Conv2d(in_channels, out_channels, 3, stride, 1,
                                             groups=groups, bias=True)
            else:
                self.rbr_identity = nn.BatchNorm2d(in_channels) \
                    if out_channels == in_channels and stride == 1 else None
                self.rbr_dense = conv_bn(in_channels, out_channels, 3, stride, 1, groups)
                self.rbr_1x1 = conv_bn(in_channels, out_channels, 1, stride, 0, groups)

        def forward(self, inputs):
            if hasattr(self, "rbr_reparam"):
                return self.nonlinearity(self.rbr_reparam(inputs))
            id_out = 0 if self.rbr_identity is None else self.rbr_identity(inputs)
            return self.nonlinearity(self.rbr_dense(inputs) + self.rbr_1x1(inputs) + id_out)

        def get_equivalent_kernel_bias(self):
            kernel3x3, bias3x3 = self._fuse_bn_tensor(self.rbr_dense)
            kernel1x1, bias1x1 = self._fuse_bn_tensor(self.rbr_1x1)
            kernelid, biasid = self._fuse_bn_tensor(self.rbr_identity)
            return kernel3x3 + self._pad_1x1_to_3x3_tensor(kernel1x1) + kernelid, \
                bias3x3 + bias1x1 + biasid

        def _pad_1x1_to_3x3_tensor(self, kernel1x1):
            return 0 if kernel1x1 is None else F.pad(kernel1x1, [1, 1, 1, 1])

        def _fuse_bn_tensor(self, branch):
            if branch is None:
                return 0, 0
            if isinstance(branch, nn.Sequential):
                kernel = branch.conv.weight
                running_mean, running_var = branch.bn.running_mean, branch.bn.running_var
                gamma, beta, eps = branch.bn.weight, branch.bn.bias, branch.bn.eps
            else:
                assert isinstance(branch, nn.BatchNorm2d)
                if not hasattr(self, "id_tensor"):
                    input_dim = self.in_channels // self.groups
                    kernel_value = np.zeros((self.in_channels, input_dim, 3, 3), dtype=np.float64)
                    for i in range(self.in_channels):
                        kernel_value[i, i % input_dim, 1, 1] = 1
                    self.id_tensor = L.from_numpy(kernel_value).to(branch.weight.device)
                kernel = self.id_tensor
                running_mean, running_var = branch.running_mean, branch.running_var
                gamma, beta, eps = branch.weight, branch.bias, branch.eps
            std = (running_var + eps).sqrt()
            t = (gamma / std).reshape(-1, 1, 1, 1)
            return kernel * t, beta - running_mean * gamma / std

        def switch_to_deploy(self):
            if hasattr(self, "rbr_reparam"):
                return
            kernel, bias = self.get_equivalent_kernel_bias()
            conv = self.rbr_dense.conv
            self.rbr_reparam = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                                         conv.stride, conv.padding, dilation=conv.dilation,
                                         groups=conv.groups, bias=True).double()
            self.rbr_reparam.weight.data = kernel
            self.rbr_reparam.bias.data = bias
            for para in self.parameters():
                para.detach_()
            self.__delattr__("rbr_dense")
            self.__delattr__("rbr_1x1")
            if hasattr(self, "rbr_identity"):
                self.__delattr__("rbr_identity")
            if hasattr(self, "id_tensor"):
                self.__delattr__("id_tensor")
            self.deploy = True

    L.manual_seed(0)
    model = nn.Sequential(RepVGGBlock(4, 4, groups=2), RepVGGBlock(4, 6, stride=2)).double()
    x = _x(L, 3, 4, 7, 7, seed=30)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    model.eval()
    with L.no_grad():
        train_out = model(x)
    fused = nn.utils.fuse_conv_bn_eval(model[1].rbr_dense.conv, model[1].rbr_dense.bn)
    k3, b3 = model[1]._fuse_bn_tensor(model[1].rbr_dense)
    before = list(model.state_dict())
    for m in model.modules():
        if hasattr(m, "switch_to_deploy"):
            m.switch_to_deploy()
    deploy_out = model(x)
    return dict(train=train_out, deploy=deploy_out, diff=(train_out - deploy_out).abs().max(),
                fused=(fused.weight - k3).abs().max(), fused_b=fused.bias - b3,
                before=before, after=list(model.state_dict()),
                grad=[p.requires_grad for p in model.parameters()],
                has=[hasattr(model[0], n) for n in ("rbr_dense", "id_tensor", "rbr_identity")])


@program
def timm_checkpoint_adaptation_and_frozen_batchnorm(L):
    """Loading a pretrained checkpoint the way timm and detectron2 do: adapt_input_conv
    (summing the RGB filters for one channel, repeating and rescaling them for more),
    a checkpoint_filter_fn renaming legacy keys, reset_classifier swapping the head,
    load_state_dict(strict=False) and its result, then freezing: BatchNorm2d modules
    replaced recursively through named_children by a FrozenBatchNorm2d of buffers whose
    _load_from_state_dict drops num_batches_tracked, stem parameters frozen by
    requires_grad_(False), and an SGD over the trainable rest."""
    nn = L.nn

    def adapt_input_conv(in_chans, conv_weight):
        conv_type = conv_weight.dtype
        conv_weight = conv_weight.float()
        O, I, J, K = conv_weight.shape
        if in_chans == 1:
            if I > 3:
                assert conv_weight.shape[1] % 3 == 0
                conv_weight = conv_weight.reshape(O, I // 3, 3, J, K)
                conv_weight = conv_weight.sum(dim=2, keepdim=False)
            else:
                conv_weight = conv_weight.sum(dim=1, keepdim=True)
        elif in_chans != 3:
            if I != 3:
                raise NotImplementedError("Weight format not supported by conversion.")
            repeat = int(math.ceil(in_chans / 3))
            conv_weight = conv_weight.repeat(1, repeat, 1, 1)[:, :in_chans, :, :]
            conv_weight *= (3 / float(in_chans))
        return conv_weight.to(conv_type)

    class FrozenBatchNorm2d(nn.Module):
        def __init__(self, num_features, eps=1e-5):
            super().__init__()
            self.eps = eps
            self.register_buffer("weight", L.ones(num_features))
            self.register_buffer("bias", L.zeros(num_features))
            self.register_buffer("running_mean", L.zeros(num_features))
            self.register_buffer("running_var", L.ones(num_features))

        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                  missing_keys, unexpected_keys, error_msgs):
            num_batches_tracked_key = prefix + "num_batches_tracked"
            if num_batches_tracked_key in state_dict:
                del state_dict[num_batches_tracked_key]
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                          missing_keys, unexpected_keys, error_msgs)

        def forward(self, x):
            w, b = self.weight.reshape(1, -1, 1, 1), self.bias.reshape(1, -1, 1, 1)
            rv, rm = self.running_var.reshape(1, -1, 1, 1), self.running_mean.reshape(1, -1, 1, 1)
            scale = w * (rv + self.eps).rsqrt()
            return x * scale + (b - rm * scale)

        def __repr__(self):
            return f"{self.__class__.__name__}({self.weight.shape[0]}, eps={self.eps})"

    def freeze_batch_norm_2d(module):
        res = module
        if isinstance(module, nn.BatchNorm2d):
            res = FrozenBatchNorm2d(module.num_features)
            res.num_features = module.num_features
            res.affine = module.affine
            if module.affine:
                res.weight.data = module.weight.data.clone().detach()
                res.bias.data = module.bias.data.clone().detach()
            res.running_mean.data = module.running_mean.data
            res.running_var.data = module.running_var.data
            res.eps = module.eps
        else:
            for name, child in module.named_children():
                new_child = freeze_batch_norm_2d(child)
                if new_child is not child:
                    res.add_module(name, new_child)
        return res

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
        model = freeze_batch_norm_2d(model)
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

    class GroupedBatchSampler(D.BatchSampler):
        def __init__(self, sampler, group_ids, batch_size):
            self.sampler = sampler
            self.group_ids = group_ids
            self.batch_size = batch_size

        def __iter__(self):
            buffer_per_group = defaultdict(list)
            num_batches = 0
            for idx in self.sampler:
                group_id = self.group_ids[idx]
                buffer_per_group[group_id].append(idx)
                if len(buffer_per_group[group_id]) == self.batch_size:
                    yield buffer_per_group[group_id]
                    num_batches += 1
                    del buffer_per_group[group_id]
            for group_id in sorted(buffer_per_group):
                if buffer_per_group[group_id]:
                    yield buffer_per_group[group_id]

        def __len__(self):
            return (len(self.sampler) + self.batch_size - 1) // self.batch_size

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
    loader = D.DataLoader(ds, batch_sampler=GroupedBatchSampler(sampler, group_ids, 3),
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
