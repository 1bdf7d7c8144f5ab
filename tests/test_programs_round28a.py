"""Whole programs of round 28, part a: model-zoo and library code as found in the wild.  timm's
building blocks: ConvNeXt blocks (channels-last LayerNorm between permutes, LayerScale
multiplied in place, DropPath by bernoulli_, LayerNorm2d), EfficientNet/MobileNetV3 MBConv
(TF 'SAME' padding computed from the input, squeeze-excite, drop-connect, make_divisible),
ResNeSt split attention with rSoftMax and SKNet's selective kernels, MaxViT/CoAtNet relative
position bias gathered through a non-persistent index buffer over block and grid
partitions, HaloNet's halo windows by Tensor.unfold and BoTNet's rel_logits_1d under
checkpoint_sequential, ModelEmaV2/V3 (foreach lerp, mul and add with alpha, copy), the
weight-init helpers (trunc_normal_, variance scaling, named_apply) and a pretrained
checkpoint filter (bicubic antialiased pos_embed resampling, adapt_input_conv, legacy keys
by a load_state_dict pre-hook).  torchvision's ops in plain torch: box_convert, IoU, GIoU,
DIoU and CIoU losses (empty batches included), the pure-python roi_align with
MultiScaleRoIAlign's level mapper, IntermediateLayerGetter with an FPN/PANet,
stochastic_depth and YOLOv5's grid decoding, SSD's hard-negative mining, Matrix NMS and
Soft-NMS, Deformable DETR's multi-scale deformable attention core, CLIP's attention pool by
F.multi_head_attention_forward.  Segmentation and medical imaging: Lovasz-softmax, OHEM
cross-entropy, focal Tversky, a 3-d U-Net piece with deep supervision; a TCN with the
parametrizations' weight_norm.  Training utilities: gradient accumulation with every form of
clip_grad_norm_ (nonfinite errors included), scheduler chains (OneCycleLR three-phase,
SequentialLR, ChainedScheduler, warm restarts by fractional epochs, a resumed state dict) and
an LRScheduler subclass, checkpoints through BytesIO (module. prefixes, strict=False,
assign=True, numpy metrics under weights_only), freezing and unfreezing with
FrozenBatchNorm2d, forward/backward hooks with kwargs, prepend and always_call, swa_utils
EMA and update_bn with BatchNorm's versioned loading, conv-BN fusion and channels_last,
empty batches and 0-d tensors, out= forms, negative dims and in-place writes on views.

What they found, fixed in minigrad (3 programs of 30 failed before): F.multi_head_attention_
forward reshaped the out-projection's result to the embedding width, so CLIP's attention
pool (an out projection to another width) failed; it now keeps the projection's width, as
PyTorch's view(tgt_len, bsz, -1).  minigrad.save wrote numpy scalars (a best accuracy from
np.mean, an np.int64 epoch) as plain JSON numbers, so the default weights_only=True load
accepted a checkpoint torch.load refuses and weights_only=False gave back floats and ints;
they are now pickled as PyTorch pickles them (refused naming numpy's scalar global, or
loaded as themselves).  weight_norm on a 1-d weight (dim=0) normed the whole vector where
PyTorch norms each element (g = |w|).  The focused tests below check each of these.

Not copied from the repository: the TCN's layers are made in float64, not made in float32
and moved by .double().  A weight-norm magnitude g made from float32 weights is a float32
2-norm, whose last bit PyTorch's vectorised kernel and numpy's pairwise sum round apart in
about a third of rows; cast to float64 that moves the program's results by 1e-9, past a
float64 tolerance, though both are correctly rounded float32 norms.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.  Matrix
NMS keeps its float32 scores float32: PyTorch's vectorised float32 exp differs from numpy's
in the last one or two bits, so a float32 decay cast to float64 cannot meet float64's
tolerance.
"""
import io
import math
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, labels as _labels, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


def _f32(L, *shape, scale=1.0, seed=0, grad=False):
    """A float32 tensor of seeded normal draws (the same numbers on both sides)."""
    x = L.tensor(np.random.RandomState(seed).randn(*shape) * scale, dtype=L.float32)
    return x.requires_grad_(grad)


# ----------------------------------------------------------------------------------------------
# timm-style building blocks
# ----------------------------------------------------------------------------------------------
@program
def timm_convnext_block_channels_last_layernorm_layerscale_and_drop_path(L):
    """A ConvNeXt block with timm's ingredients: a 7x7 depthwise conv, LayerNorm applied
    channels-last after a permute(0, 2, 3, 1), an inverted-bottleneck MLP of Linear layers,
    LayerScale's gamma multiplied in place of a fresh tensor, and the branch dropped per sample
    by x.new_empty(shape).bernoulli_(keep).div_(keep); plus a channels-last LayerNorm
    (F.layer_norm on the permuted map and back) as the stem's norm and a downsampling layer; two
    AdamW steps with no weight decay on norms and gammas, then eval (drop path off)."""
    nn, F = L.nn, L.nn.functional

    class SampleDrop(nn.Module):
        """Drops a residual branch per sample (kept with 1 - p, rescaled by it) in training."""

        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if self.p == 0.0 or not self.training:
                return x
            keep = 1 - self.p
            mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
            return x * (mask.div_(keep) if keep > 0.0 else mask)

        def extra_repr(self):
            return f"p={self.p:.3f}"

    class ChannelsLastNorm(nn.LayerNorm):
        """LayerNorm over the channels of an NCHW map (permuted to NHWC and back)."""

        def forward(self, x):
            y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
                             self.bias, self.eps)
            return y.permute(0, 3, 1, 2)

    class Gain(nn.Module):
        def __init__(self, dim, start=1e-5, inplace=False):
            super().__init__()
            self.inplace = inplace
            self.gamma = nn.Parameter(start * L.ones(dim))

        def forward(self, x):
            return x.mul_(self.gamma) if self.inplace else x * self.gamma

    class Block(nn.Module):
        def __init__(self, dim, p, start=0.5):
            super().__init__()
            self.spatial = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            # on NHWC tokens: norm, 4x MLP, then the in-place gain (on the MLP's fresh output)
            self.channel = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim),
                                         nn.GELU(), nn.Linear(4 * dim, dim),
                                         Gain(dim, start, inplace=True))
            self.drop = SampleDrop(p) if p > 0 else nn.Identity()

        def forward(self, x):
            y = self.channel(self.spatial(x).permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
            return self.drop(y) + x

    L.manual_seed(0)
    model = nn.Sequential(OrderedDict([
        ("stem", nn.Sequential(nn.Conv2d(3, 8, 2, stride=2), ChannelsLastNorm(8, eps=1e-6))),
        ("stage0", nn.Sequential(Block(8, 0.0), Block(8, 0.5))),
        ("down", nn.Sequential(ChannelsLastNorm(8), nn.Conv2d(8, 16, kernel_size=2, stride=2))),
        ("stage1", Block(16, 0.25)),
        ("pool", nn.AdaptiveAvgPool2d((1, 1))), ("flat", nn.Flatten(1)),
        ("head", nn.Linear(16, 5))])).double()
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".gamma") else decay).append(p)
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                         {"params": no_decay, "weight_decay": 0.0}], lr=1e-2)
    x = _t(L, 3, 3, 12, 12, seed=1)
    y = L.tensor(_labels(3, 5, 2))
    L.manual_seed(7)
    losses = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with L.inference_mode():
        out = model(x)
    return dict(losses=losses, out=out, grads=grads_of(model), repr=repr(model.stage0[1]),
                n_decay=len(decay), n_no=len(no_decay), inf=out.is_inference())


@program(rtol=2e-5, atol=1e-6)
def efficientnet_mbconv_tf_same_padding_squeeze_excite_and_drop_connect(L):
    """EfficientNet's MBConv with the TF port's 'SAME' padding (our code): a conv computing the
    'SAME' padding from the input size (math.ceil, F.pad with an odd split), a depthwise 5x5
    stride-2 conv, BatchNorm2d(momentum=0.01, eps=1e-3), SiLU(inplace=True), squeeze-excite by
    x.mean((2, 3), keepdim=True) with a reduced 1x1 conv and sigmoid gate, a linear projection,
    drop-connect on the residual; MobileNetV3's make_divisible widths, hard swish and
    hardsigmoid SE; trained two SGD-with-Nesterov steps, then running stats in eval."""
    nn, F = L.nn, L.nn.functional

    def make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
        # nearest multiple of divisor (at least min_value), one step up if that lost > 10%
        rounded = max(min_value or divisor, int(v + divisor / 2) // divisor * divisor)
        return rounded + divisor if rounded < round_limit * v else rounded

    def same_pad(n, k, s, d):
        # TF 'SAME': the output has ceil(n / s) positions; total padding needed for that
        return max((-(n // -s) - 1) * s + (k - 1) * d + 1 - n, 0)

    class TFSameConv(nn.Conv2d):
        def forward(self, x):
            ph = same_pad(x.size(-2), self.weight.size(-2), self.stride[0], self.dilation[0])
            pw = same_pad(x.size(-1), self.weight.size(-1), self.stride[1], self.dilation[1])
            if ph > 0 or pw > 0:          # the odd pixel goes after
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
            return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation,
                            self.groups)

    class ChannelGate(nn.Module):
        def __init__(self, c, mid, gate=nn.Sigmoid, act=nn.SiLU):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(c, mid, 1, bias=True), act(inplace=True),
                                         nn.Conv2d(mid, c, 1, bias=True), gate())

        def forward(self, x):
            return x * self.squeeze(x.mean((2, 3), keepdim=True))

    def bn(c):
        return nn.BatchNorm2d(c, momentum=0.01, eps=1e-3)

    class MBConv(nn.Module):
        def __init__(self, cin, cout, k, s, e, act=nn.SiLU, gate=nn.Sigmoid, dc=0.0):
            super().__init__()
            mid = make_divisible(cin * e)
            self.residual = cin == cout and s == 1
            self.expand = nn.Sequential(nn.Conv2d(cin, mid, 1, bias=False), bn(mid),
                                        act(inplace=True))
            self.depthwise = nn.Sequential(TFSameConv(mid, mid, k, stride=s, groups=mid,
                                                      bias=False), bn(mid), act(inplace=True))
            self.se = ChannelGate(mid, max(1, int(cin * 0.25)), gate=gate)
            self.project = nn.Sequential(nn.Conv2d(mid, cout, 1, bias=False), bn(cout))
            self.dc = dc

        def forward(self, x):
            y = self.project(self.se(self.depthwise(self.expand(x))))
            if not self.residual:
                return y
            if self.training and self.dc > 0:          # drop-connect: whole samples
                keep = 1 - self.dc
                y = y.div(keep) * (L.rand([y.shape[0], 1, 1, 1], dtype=y.dtype) + keep).floor_()
            return y + x

    L.manual_seed(1)
    net = nn.Sequential(MBConv(4, 8, 5, 2, 4), MBConv(8, 8, 3, 1, 6, dc=0.5),
                        MBConv(8, 8, 3, 1, 3, act=nn.Hardswish, gate=nn.Hardsigmoid))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-5)
    x = _f32(L, 3, 4, 11, 9, seed=2)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = net(x).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    with L.no_grad():
        out = net(x)
    return dict(widths=[make_divisible(v) for v in (3, 10, 37.5, 100, 7)], losses=losses,
                out=out, rm=net[1].depthwise[1].running_mean, rv=net[2].expand[1].running_var,
                nbt=net[0].expand[1].num_batches_tracked, g=net[2].depthwise[0].weight.grad)


@program
def resnest_split_attention_with_rsoftmax_and_selective_kernel_branches(L):
    """ResNeSt's SplitAttention conv (radix 2, cardinality 2): one grouped conv producing
    radix x channels, torch.split along dim 1 and a sum, a global pool by
    F.adaptive_avg_pool2d(x, 1), grouped 1x1 fc layers, rSoftMax by view(batch, cardinality,
    radix, -1).transpose(1, 2) and softmax(dim=1), the attention reshaped and multiplied into
    the splits; and SKNet's selective kernel: dilated 3x3 branches stacked on dim 1,
    fused by sum and a squeeze, attention softmaxed over the branch dim; trained one Adam
    step in float64."""
    nn, F = L.nn, L.nn.functional

    class RadixSoftmax(nn.Module):
        """Softmax across the radix splits within each cardinal group (a sigmoid when the
        radix is 1), returned flat."""

        def __init__(self, radix, groups):
            super().__init__()
            self.radix, self.groups = radix, groups

        def forward(self, x):
            n = x.size(0)
            if self.radix == 1:
                return L.sigmoid(x)
            grouped = x.view(n, self.groups, self.radix, -1).transpose(1, 2)
            return F.softmax(grouped, dim=1).reshape(n, -1)

    class SplitAttention(nn.Module):
        """A grouped conv giving radix splits; their sum, pooled, picks a per-channel mix of
        the splits through two grouped 1x1 convs and the radix softmax."""

        def __init__(self, cin, cout, radix=2, groups=2, rd=4):
            super().__init__()
            self.radix = radix
            wide = cout * radix
            self.conv = nn.Sequential(nn.Conv2d(cin, wide, 3, padding=1, groups=groups * radix,
                                                bias=False),
                                      nn.BatchNorm2d(wide), nn.ReLU(inplace=True))
            self.mix = nn.Sequential(nn.Conv2d(cout, rd, 1, groups=groups), nn.BatchNorm2d(rd),
                                     nn.ReLU(inplace=True), nn.Conv2d(rd, wide, 1, groups=groups),
                                     RadixSoftmax(radix, groups))

        def forward(self, x):
            y = self.conv(x)
            n, rc, h, w = y.shape
            splits = y.reshape((n, self.radix, rc // self.radix, h, w)) if self.radix > 1 else y
            total = splits.sum(dim=1) if self.radix > 1 else y
            weights = self.mix(total.mean((2, 3), keepdim=True)).view(n, -1, 1, 1)
            if self.radix == 1:
                return (y * weights).contiguous()
            weights = weights.reshape((n, self.radix, rc // self.radix, 1, 1))
            return (splits * weights).sum(dim=1).contiguous()

    class KernelSelect(nn.Module):
        """Dilated 3x3 paths whose outputs are mixed per channel by a softmax over paths,
        computed from the pooled sum of the paths."""

        def __init__(self, c, dilations=(1, 2), rd=4):
            super().__init__()
            self.paths = nn.ModuleList([
                nn.Sequential(nn.Conv2d(c, c, 3, padding=d, dilation=d, groups=2, bias=False),
                              nn.BatchNorm2d(c), nn.ReLU()) for d in dilations])
            self.select = nn.Sequential(nn.Conv2d(c, rd, kernel_size=1, bias=False),
                                        nn.BatchNorm2d(rd), nn.ReLU(),
                                        nn.Conv2d(rd, c * len(dilations), kernel_size=1,
                                                  bias=False))

        def forward(self, x):
            outs = L.stack([path(x) for path in self.paths], dim=1)      # (n, paths, c, h, w)
            logits = self.select(outs.sum(1).mean((2, 3), keepdim=True))
            n, c, h, w = logits.shape
            weights = L.softmax(logits.view(n, len(self.paths), c // len(self.paths), h, w),
                                dim=1)
            return (outs * weights).sum(dim=1)

    L.manual_seed(4)
    net = nn.Sequential(SplitAttention(4, 8), KernelSelect(8), nn.Conv2d(8, 3, 1)).double()
    opt = L.optim.Adam(net.parameters(), lr=1e-3, amsgrad=True)
    x = _t(L, 2, 4, 6, 5, seed=3)
    opt.zero_grad()
    out = net(x)
    loss = F.smooth_l1_loss(out, L.zeros_like(out), beta=0.5)
    loss.backward()
    opt.step()
    rs = RadixSoftmax(1, 1)(_t(L, 2, 3, seed=4))
    return dict(out=out, loss=loss, grads=grads_of(net), rs=rs,
                state=opt.state_dict()["state"][0])


@program
def coatnet_maxvit_relative_position_bias_gather_with_block_and_grid_partition(L):
    """MaxViT/CoAtNet relative attention: a (2H-1)(2W-1) bias table indexed by a buffer
    built from torch.meshgrid(indexing='ij'), flatten(1), broadcasting subtraction,
    permute(1, 2, 0).contiguous(), in-place += and *= on slices of the index, .sum(-1) and
    register_buffer(persistent=False); the table gathered by index_select and by advanced
    indexing, the block partition (view/permute) and MaxViT's grid partition (the strided
    axes swapped), attention with the bias added; the index buffer left out of the state dict,
    gradients reaching the table."""
    nn = L.nn

    def pair_index(h, w):
        # for positions p, q of an h x w window: the table row of the offset p - q, the
        # (dy, dx) pair shifted to be non-negative and flattened row-major
        yx = L.flatten(L.stack(L.meshgrid([L.arange(h), L.arange(w)], indexing="ij")), 1)
        offset = (yx[:, :, None] - yx[:, None, :]).permute(1, 2, 0).contiguous()
        offset[:, :, 0] += h - 1
        offset[:, :, 1] += w - 1
        offset[:, :, 0] *= 2 * w - 1
        return offset.sum(-1)

    def windows(x, ws):
        # contiguous ws[0] x ws[1] windows -> (windows, ws[0] ws[1], C)
        b, h, w, c = x.shape
        x = x.view(b, h // ws[0], ws[0], w // ws[1], ws[1], c)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws[0] * ws[1], c)

    def dilated_grid(x, gs):
        # a gs[0] x gs[1] grid of pixels spread across the map (stride H/gs[0], W/gs[1])
        b, h, w, c = x.shape
        x = x.view(b, gs[0], h // gs[0], gs[1], w // gs[1], c)
        return x.permute(0, 2, 4, 1, 3, 5).contiguous().view(-1, gs[0] * gs[1], c)

    class OffsetBias(nn.Module):
        """A learned bias per head and 2-d offset, gathered into a (1, heads, n, n) map."""

        def __init__(self, ws, heads):
            super().__init__()
            self.n = ws[0] * ws[1]
            self.table = nn.Parameter(L.zeros((2 * ws[0] - 1) * (2 * ws[1] - 1), heads))
            nn.init.trunc_normal_(self.table, std=0.02)
            self.register_buffer("index", pair_index(*ws).view(-1), persistent=False)

        def forward(self, how):
            rows = (self.table.index_select(0, self.index) if how == "index_select"
                    else self.table[self.index])
            return rows.view(self.n, self.n, -1).permute(2, 0, 1).unsqueeze(0)

    class WindowAttention(nn.Module):
        def __init__(self, dim, heads, ws):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, dim * 3)
            self.proj = nn.Linear(dim, dim)
            self.bias = OffsetBias(ws, heads)

        def forward(self, x, how):
            b, n, c = x.shape
            q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
            logits = (q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5 + self.bias(how)
            return self.proj((logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, -1))

    L.manual_seed(5)
    blk, grid = WindowAttention(8, 2, (2, 3)), WindowAttention(8, 2, (2, 2))
    x = L.tensor(np.random.RandomState(6).randn(2, 4, 6, 8), dtype=L.float32)
    xb = windows(x, (2, 3))
    yb = blk(xb, "index_select")
    yb2 = blk(xb, "index")
    xg = dilated_grid(x, (2, 2))
    yg = grid(xg, "index")
    (yb.pow(2).sum() + yg.sin().sum()).backward()
    return dict(idx=blk.bias.index, yb=yb, same=L.equal(yb, yb2),
                yg=yg, table_g=blk.bias.table.grad,
                keys=list(blk.state_dict().keys()),
                buffers=[n for n, _ in grid.named_buffers()])


@program
def timm_model_ema_v2_and_v3_foreach_lerp_with_warmup_decay(L):
    """Weight EMAs in the two ways of timm's ModelEmaV2 and V3 (our code): copy_(ema * decay +
    (1 - decay) * model) over the state dicts' values under no_grad, integer buffers copied; and
    a warmup decay 1 - (1 + step / gamma) ** -power with torch._foreach_lerp_ on float
    parameters, torch._foreach_mul_/_foreach_add_ with alpha on buffers and _foreach_copy_ of
    the num_batches_tracked counters; the EMA copies made by copy.deepcopy with
    requires_grad_(False), their eval outputs and state dicts compared after several training
    steps."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(8)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 25, 3)).double()
    ema2 = copy.deepcopy(model).eval()
    ema3 = copy.deepcopy(model).eval()
    for p in list(ema2.parameters()) + list(ema3.parameters()):
        p.requires_grad_(False)

    @L.no_grad()
    def follow_state(decay):
        # every floating entry of the state dict moves towards the model's, counters copied
        for mine, theirs in zip(ema2.state_dict().values(), model.state_dict().values()):
            mine.copy_(mine * decay + (1.0 - decay) * theirs if mine.is_floating_point()
                       else theirs)

    def warmup_decay(step, top=0.99, floor=0.0, gamma=1.0, power=2 / 3):
        # 1 - (1 + (step - 1) / gamma)^-power, 0 on the first step, clipped to [floor, top]
        step = max(0, step - 1)
        if step == 0:
            return 0.0
        return max(min(1 - (1 + step / gamma) ** -power, top), floor)

    @L.no_grad()
    def follow_foreach(step):
        decay = warmup_decay(step)
        L._foreach_lerp_(list(ema3.parameters()), list(model.parameters()), weight=1.0 - decay)
        floats, ints = ([], []), ([], [])
        for mine, theirs in zip(ema3.buffers(), model.buffers()):
            kind = floats if mine.is_floating_point() else ints
            kind[0].append(mine)
            kind[1].append(theirs)
        L._foreach_mul_(floats[0], decay)
        L._foreach_add_(floats[0], floats[1], alpha=1.0 - decay)
        L._foreach_copy_(ints[0], ints[1])
        return decay

    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x = _t(L, 6, 2, 5, 5, seed=9)
    y = L.tensor(_labels(6, 3, 10))
    decays = []
    for step in range(1, 5):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        follow_state(0.9)
        decays.append(follow_foreach(step))
    with L.no_grad():
        o2, o3 = ema2(x), ema3(x)
    return dict(decays=decays, o2=o2, o3=o3, sd2=ema2.state_dict(), sd3=ema3.state_dict(),
                rg=[p.requires_grad for p in ema3.parameters()])


# ----------------------------------------------------------------------------------------------
# torchvision-style ops in plain torch
# ----------------------------------------------------------------------------------------------
@program
def torchvision_box_ops_diou_ciou_losses_with_box_convert_and_empty_inputs(L):
    """torchvision.ops' box functions re-derived in plain torch: conversions between cxcywh,
    xywh and xyxy by unbind(-1) and stack(dim=-1), box_area, the upcast of integer boxes,
    box_iou and generalized_box_iou by broadcasting max/min with clamp(min=0), the pairwise
    distance-IoU, and the losses: generalized_box_iou_loss, distance_box_iou_loss and
    complete_box_iou_loss (atan of aspect ratios, alpha under no_grad) with the reductions
    'none'/'mean'/'sum', an empty batch giving loss.sum() * 0 for 'mean'; gradients to the
    predicted boxes."""
    def upcast(t):
        # float16/bfloat16 to float32, small ints to int32; 32/64-bit kept
        if t.is_floating_point():
            return t if t.dtype in (L.float32, L.float64) else t.float()
        return t if t.dtype in (L.int32, L.int64) else t.int()

    def area(b):
        b = upcast(b)
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def centre_to_corners(b):
        cx, cy, w, h = b.unbind(-1)
        return L.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)

    def corner_size_to_corners(b):
        x, y, w, h = b.unbind(-1)
        return L.stack([x, y, x + w, y + h], dim=-1)

    def corners_to_centre(b):
        x0, y0, x1, y1 = b.unbind(-1)
        return L.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)

    def span(lo, hi):
        # the (clamped) area of boxes given by their low and high corners
        wh = upcast(hi - lo).clamp(min=0)
        return wh[:, :, 0] * wh[:, :, 1]

    def pair_overlap(a, b):
        overlap = span(L.max(a[:, None, :2], b[:, :2]), L.min(a[:, None, 2:], b[:, 2:]))
        return overlap, area(a)[:, None] + area(b) - overlap

    def pair_iou(a, b):
        overlap, union = pair_overlap(a, b)
        return overlap / union

    def pair_giou(a, b):
        overlap, union = pair_overlap(a, b)
        hull = span(L.min(a[:, None, :2], b[:, :2]), L.max(a[:, None, 2:], b[:, 2:]))
        return overlap / union - (hull - union) / hull

    def matched_parts(a, b):
        # for matched rows of a and b: the coordinates, the overlap (zero where the boxes do
        # not meet, written through a mask) and the union
        ax0, ay0, ax1, ay1 = a.unbind(dim=-1)
        bx0, by0, bx1, by1 = b.unbind(dim=-1)
        lo_x, lo_y = L.max(ax0, bx0), L.max(ay0, by0)
        hi_x, hi_y = L.min(ax1, bx1), L.min(ay1, by1)
        overlap = L.zeros_like(ax0)
        meet = (hi_y > lo_y) & (hi_x > lo_x)
        overlap[meet] = (hi_x[meet] - lo_x[meet]) * (hi_y[meet] - lo_y[meet])
        union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - overlap
        hull = (L.min(ax0, bx0), L.min(ay0, by0), L.max(ax1, bx1), L.max(ay1, by1))
        return (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1), overlap, union, hull

    def reduce(loss, how):
        if how == "none":
            return loss
        if how == "mean":
            return loss.mean() if loss.numel() > 0 else 0.0 * loss.sum()
        return loss.sum()

    def giou_loss(a, b, how="none", eps=1e-7):
        _, _, overlap, union, (hx0, hy0, hx1, hy1) = matched_parts(a, b)
        hull = (hx1 - hx0) * (hy1 - hy0)
        return reduce(1 - (overlap / (union + eps) - ((hull - union) / (hull + eps))), how)

    def diou_terms(a, b, eps):
        # 1 - IoU + (centre distance / hull diagonal)^2, and the IoU
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1), overlap, union, hull = matched_parts(a, b)
        iou = overlap / (union + eps)
        diag = ((hull[2] - hull[0]) ** 2) + ((hull[3] - hull[1]) ** 2) + eps
        dx, dy = (ax1 + ax0) / 2 - (bx0 + bx1) / 2, (ay1 + ay0) / 2 - (by0 + by1) / 2
        gap = (dx ** 2) + (dy ** 2)
        return 1 - iou + gap / diag, iou

    def ciou_loss(a, b, how="none", eps=1e-7):
        diou, iou = diou_terms(a, b, eps)
        ax0, ay0, ax1, ay1 = a.unbind(dim=-1)
        bx0, by0, bx1, by1 = b.unbind(dim=-1)
        # aspect-ratio consistency, weighted by a factor held constant (no gradient)
        v = (4 / (math.pi ** 2)) * L.pow(L.atan((ax1 - ax0) / (ay1 - ay0))
                                         - L.atan((bx1 - bx0) / (by1 - by0)), 2)
        with L.no_grad():
            alpha = v / (1 - iou + v + eps)
        return reduce(diou + alpha * v, how)

    rng = np.random.RandomState(11)
    cxcywh = np.concatenate([rng.uniform(2, 8, (5, 2)), rng.uniform(1, 4, (5, 2))], 1)
    pred = L.tensor(cxcywh, requires_grad=True)
    gt_xywh = L.tensor(np.concatenate([rng.uniform(0, 6, (5, 2)), rng.uniform(1, 4, (5, 2))],
                                      1))
    p, g = centre_to_corners(pred), corner_size_to_corners(gt_xywh)
    int_boxes = L.tensor([[0, 0, 4, 4], [1, 2, 3, 5]], dtype=L.int16)
    losses = dict(g=giou_loss(p, g, "sum"), d=diou_terms(p, g, 1e-7)[0].mean(),
                  c=ciou_loss(p, g, "mean"), n=ciou_loss(p, g))
    total = losses["g"] + losses["d"] + losses["c"]
    total.backward()
    empty = L.zeros(0, 4, dtype=L.float64, requires_grad=True)
    e = ciou_loss(empty, empty.detach(), "mean")
    e.backward()
    return dict(iou=pair_iou(p, g), giou=pair_giou(p, g), back=corners_to_centre(p),
                losses=losses, grad=pred.grad, int_area=area(int_boxes),
                int_iou=pair_iou(int_boxes, int_boxes.flip(0)), e=e, e_grad=empty.grad,
                e_none=giou_loss(empty, empty, "none"), e_iou=pair_iou(empty, g))


@program
def torchvision_roi_align_reference_by_advanced_indexing_and_multiscale_levels(L):
    """RoIAlign in plain tensor code (the semantics of torchvision.ops.roi_align): for every
    RoI a grid of sample points per output bin from arange, the half-pixel shift when
    aligned, an adaptive number of samples (ceil of the bin size) handled by masks over a
    fixed-size grid, bilinear interpolation from clamped int() corner indices gathered by
    one 6-d advanced index (RoI, channel, bin row, bin column, sample row, sample column),
    the mean over valid samples; the multi-scale level rule floor(4 + log2(sqrt(area) / 224
    + eps)) clamped to the two maps, each RoI dispatched by torch.where and index writes into
    a zeros result; gradients to the feature maps."""
    def sample_bilinear(fmap, batch_of, ys, xs, y_ok, x_ok):
        """(R, C, bins_y, bins_x, samples_y, samples_x) bilinear samples of ``fmap`` at the
        RoI-wise coordinates ys (R, bins_y, samples_y) and xs; coordinates below 0 read
        from 0, at or past the last row/column from it; masked-out samples read pixel 0."""
        _, n_chan, rows, cols = fmap.size()

        def corners(t, size):
            t = t.clamp(min=0)
            lo = t.int()
            at_edge = lo >= size - 1
            hi = L.where(at_edge, size - 1, lo + 1)
            lo = L.where(at_edge, size - 1, lo)
            t = L.where(at_edge, t.to(fmap.dtype), t)
            frac = t - lo
            return lo, hi, 1.0 - frac, frac

        y0, y1, wy0, wy1 = corners(ys, rows)
        x0, x1, wx0, wx1 = corners(xs, cols)
        roi = batch_of[:, None, None, None, None, None]
        chan = L.arange(n_chan)[None, :, None, None, None, None]

        def pick(iy, ix):
            iy = L.where(y_ok[:, None, :], iy, 0)
            ix = L.where(x_ok[:, None, :], ix, 0)
            return fmap[roi, chan, iy[:, None, :, None, :, None], ix[:, None, None, :, None, :]]

        def weight(wy, wx):
            return wy[:, None, :, None, :, None] * wx[:, None, None, :, None, :]

        return weight(wy0, wx0) * pick(y0, x0) + weight(wy0, wx1) * pick(y0, x1) + \
            weight(wy1, wx0) * pick(y1, x0) + weight(wy1, wx1) * pick(y1, x1)

    def align(fmap, rois, scale, out_h, out_w, ratio, aligned):
        """rois: (R, 5) rows of (batch index, x1, y1, x2, y2) in image coordinates."""
        n = rois.size(0)
        batch_of = rois[:, 0].int()
        shift = 0.5 if aligned else 0.0
        x1, y1, x2, y2 = (rois[:, k] * scale - shift for k in range(1, 5))
        w, h = x2 - x1, y2 - y1
        if not aligned:                                  # the legacy mode: at least a pixel
            w, h = L.clamp(w, min=1.0), L.clamp(h, min=1.0)
        step_y, step_x = h / out_h, w / out_w
        if ratio > 0:                                    # a fixed ratio x ratio grid per bin
            iy = L.arange(ratio, dtype=fmap.dtype)
            ix = L.arange(ratio, dtype=fmap.dtype)
            y_ok = L.ones(n, ratio, dtype=L.bool)
            x_ok = L.ones(n, ratio, dtype=L.bool)
            per_y = per_x = L.full((n,), float(ratio), dtype=fmap.dtype)
        else:                                            # ceil(bin size) samples, at most 2
            per_y, per_x = L.ceil(h / out_h), L.ceil(w / out_w)
            iy = L.arange(out_h * 2, dtype=fmap.dtype)
            ix = L.arange(out_w * 2, dtype=fmap.dtype)
            y_ok = iy[None, :] < per_y[:, None]
            x_ok = ix[None, :] < per_x[:, None]
        bins_y, bins_x = L.arange(out_h, dtype=fmap.dtype), L.arange(out_w, dtype=fmap.dtype)
        ys = y1[:, None, None] + bins_y[None, :, None] * step_y[:, None, None] + \
            (iy[None, None, :] + 0.5) * (step_y / per_y)[:, None, None]
        xs = x1[:, None, None] + bins_x[None, :, None] * step_x[:, None, None] + \
            (ix[None, None, :] + 0.5) * (step_x / per_x)[:, None, None]
        vals = sample_bilinear(fmap, batch_of, ys, xs, y_ok, x_ok)
        vals = L.where(y_ok[:, None, None, None, :, None], vals, 0)
        vals = L.where(x_ok[:, None, None, None, None, :], vals, 0)
        return vals.sum((-1, -2)) / L.clamp(per_y * per_x, min=1)[:, None, None, None]

    feats = [_t(L, 2, 3, 16, 16, seed=12, grad=True), _t(L, 2, 3, 8, 8, seed=13, grad=True)]
    scales = [1 / 4, 1 / 8]
    boxes = L.tensor([[0, 2.0, 3.0, 30.0, 40.0], [1, 10.0, 5.0, 60.0, 62.0],
                      [0, 1.0, 1.0, 9.0, 7.0], [1, 0.0, 20.0, 50.0, 30.0]], dtype=L.float64)
    area = (boxes[:, 3] - boxes[:, 1]) * (boxes[:, 4] - boxes[:, 2])
    level = L.floor(4 + L.log2(L.sqrt(area) / 224 + 1e-6))
    level = L.clamp(level, min=2, max=3).to(L.int64) - 2        # 0: stride 4, 1: stride 8
    pooled = L.zeros((4, 3, 2, 2), dtype=L.float64)
    for k, (fmap, s) in enumerate(zip(feats, scales)):
        mine = L.where(level == k)[0]
        pooled[mine] = align(fmap, boxes[mine], s, 2, 2, -1, True).to(pooled.dtype)
    fixed = align(feats[0], boxes, 0.25, 3, 2, 2, False)
    (pooled.sum() + fixed.pow(2).sum()).backward()
    return dict(lvl=level, result=pooled, exact=fixed, g0=feats[0].grad, g1=feats[1].grad)


@program
def fpn_top_down_nearest_interpolate_last_level_maxpool_and_intermediate_layers(L):
    """torchvision's intermediate-layer getter and feature pyramid, in our code: the backbone's
    named_children kept in an OrderedDict ModuleDict up to the last tapped layer, the taps
    renamed; lateral 1x1 and smoothing 3x3 convs in ModuleLists, the top-down path by
    F.interpolate(size=feat_shape, mode='nearest') added to the lateral, the outputs inserted at
    the front of a list, a last level by F.max_pool2d(x, 1, 2, 0), and PANet's bottom-up path
    with stride-2 convs; the returned OrderedDict's keys, shapes and the gradient of the stem."""
    nn, F = L.nn, L.nn.functional

    class Taps(nn.ModuleDict):
        """The model's children up to the last one asked for, run in order; the outputs of
        the asked-for children returned under new names."""

        def __init__(self, model, wanted):
            renames = {str(k): str(v) for k, v in wanted.items()}
            kept, missing = OrderedDict(), set(renames)
            for name, child in model.named_children():
                kept[name] = child
                missing.discard(name)
                if not missing:
                    break
            super().__init__(kept)
            self.renames = renames

        def forward(self, x):
            out = OrderedDict()
            for name, child in self.items():
                x = child(x)
                if name in self.renames:
                    out[self.renames[name]] = x
            return out

    class PyramidPAN(nn.Module):
        """A top-down pyramid (lateral 1x1, nearest upsampling, 3x3 smoothing), a bottom-up
        path adding stride-2 convs of the finer output, and a stride-2 max-pool level."""

        def __init__(self, widths, out_ch):
            super().__init__()
            self.lateral = nn.ModuleList([nn.Conv2d(c, out_ch, 1) for c in widths])
            self.smooth = nn.ModuleList([nn.Conv2d(out_ch, out_ch, 3, padding=1)
                                         for _ in widths])
            self.down = nn.ModuleList([nn.Conv2d(out_ch, out_ch, 3, stride=2, padding=1)
                                       for _ in widths[:-1]])
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_uniform_(m.weight, a=1)
                    nn.init.constant_(m.bias, 0)

        def forward(self, feats):
            names, xs = list(feats.keys()), list(feats.values())
            carried, levels = None, []
            for i in reversed(range(len(xs))):
                here = self.lateral[i](xs[i])
                if carried is not None:
                    here = here + F.interpolate(carried, size=here.shape[-2:], mode="nearest")
                carried = here
                levels.insert(0, self.smooth[i](here))
            outs = [levels[0]]
            for finer, conv in zip(levels[1:], self.down):
                outs.append(finer + conv(outs[-1]))
            outs.append(F.max_pool2d(outs[-1], 1, 2, 0))
            return OrderedDict(zip(names + ["pool"], outs))

    L.manual_seed(13)
    backbone = nn.Sequential(OrderedDict([
        ("stem", nn.Conv2d(3, 4, 3, stride=2, padding=1)), ("relu", nn.ReLU()),
        ("layer1", nn.Conv2d(4, 6, 3, stride=2, padding=1)),
        ("layer2", nn.Conv2d(6, 8, 3, stride=2, padding=1)),
        ("layer3", nn.Conv2d(8, 10, 3, stride=2, padding=1)),
        ("fc", nn.Linear(10, 2))]))
    body = Taps(backbone, {"layer1": "0", "layer2": "1", "layer3": "2"})
    fpn = PyramidPAN([6, 8, 10], 5)
    model = nn.Sequential(body, fpn).double()
    x = _t(L, 2, 3, 35, 27, seed=14)
    out = model(x)
    sum(v.mean() for v in out.values()).backward()
    return dict(keys=list(out.keys()), body_keys=list(body.keys()), out=dict(out),
                shapes=[v.shape for v in out.values()], g=backbone.stem.weight.grad,
                has_fc="fc" in body)


# ----------------------------------------------------------------------------------------------
# training utilities
# ----------------------------------------------------------------------------------------------
@program
def gradient_accumulation_with_clip_grad_norm_variants_and_nonfinite_errors(L):
    """A training loop with gradient accumulation (loss / accum_steps, step every 2 micro
    batches), clip_grad_norm_ returning the total norm under norm_type 2, 'inf', 1 and 0.5,
    foreach=False, a single tensor instead of a list, a generator of parameters, parameters
    without gradients skipped; clip_grad_value_; and error_if_nonfinite=True on an inf and
    a nan gradient (the RuntimeError's words), while error_if_nonfinite=False lets the nan
    total through and scales the gradients to nan."""
    nn, F = L.nn, L.nn.functional
    U = nn.utils
    L.manual_seed(21)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    frozen = nn.Linear(2, 2).double()
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x = _t(L, 8, 4, seed=22)
    y = _t(L, 8, 2, seed=23)
    norms = []
    accum = 2
    opt.zero_grad()
    for i, (xb, yb) in enumerate(zip(x.chunk(4), y.chunk(4))):
        loss = F.mse_loss(model(xb), yb) / accum
        loss.backward()
        if (i + 1) % accum == 0:
            norms.append(U.clip_grad_norm_(model.parameters(), max_norm=0.05))
            norms.append(U.clip_grad_norm_(list(model.parameters()) + list(frozen.parameters()),
                                           0.04, norm_type="inf", foreach=False))
            norms.append(U.clip_grad_norm_(model[0].weight, 0.01, norm_type=1))
            norms.append(U.clip_grad_norm_(model.parameters(), 1e-3, norm_type=0.5))
            U.clip_grad_value_(model.parameters(), clip_value=2e-4)
            opt.step()
            opt.zero_grad()
    w = L.tensor([1.0, 2.0], dtype=L.float64, requires_grad=True)
    w.grad = L.tensor([float("inf"), 1.0], dtype=L.float64)
    inf_err = err(lambda: U.clip_grad_norm_([w], 1.0, error_if_nonfinite=True))
    w.grad = L.tensor([float("nan"), 1.0], dtype=L.float64)
    nan_err = err(lambda: U.clip_grad_norm_([w], 1.0, norm_type=1, error_if_nonfinite=True))
    nan_total = U.clip_grad_norm_([w], 1.0)
    empty = U.clip_grad_norm_([], 1.0)
    return dict(norms=norms, params=dict(model.named_parameters()), inf_err=inf_err,
                nan_err=nan_err, nan_total=nan_total, nan_grad=w.grad, empty=empty)


@program(rtol=1e-12, atol=1e-14)
def lr_scheduler_chains_one_cycle_sequential_warm_restarts_and_state_dict_resume(L):
    """The scheduler chains of training scripts: OneCycleLR with three_phase=True,
    anneal_strategy='linear' and cycle_momentum on Adam's beta1 (div_factor, final_div_factor,
    pct_start); SequentialLR of LinearLR(start_factor=0.1, total_iters=3), ConstantLR and
    PolynomialLR(power=2); ChainedScheduler(optimizer=...) of MultiplicativeLR and
    ExponentialLR; CosineAnnealingWarmRestarts(T_0=3, T_mult=2, eta_min) stepped by fractional
    epochs; the learning rates of two parameter groups recorded by get_last_lr(); a
    scheduler's state_dict saved mid-run, loaded into a fresh scheduler which continues
    alike."""
    O = L.optim
    S = O.lr_scheduler

    def params():
        return [L.nn.Parameter(L.ones(2, dtype=L.float64)),
                L.nn.Parameter(L.ones(1, dtype=L.float64))]

    out = {}
    a, b = params()
    opt = O.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, betas=(0.9, 0.99))
    sch = S.OneCycleLR(opt, max_lr=[1.0, 2.0], total_steps=12, pct_start=0.25,
                       anneal_strategy="linear", three_phase=True, div_factor=10.0,
                       final_div_factor=100.0, base_momentum=0.8, max_momentum=0.95)
    rec = []
    for _ in range(11):
        opt.step()
        sch.step()
        rec.append((sch.get_last_lr(), [g["betas"][0] for g in opt.param_groups]))
    out["one_cycle"] = rec
    a, b = params()
    opt = O.SGD([a, b], lr=0.2, momentum=0.9)
    lin = S.LinearLR(opt, start_factor=0.1, total_iters=3)
    const = S.ConstantLR(opt, factor=0.5, total_iters=2)
    poly = S.PolynomialLR(opt, total_iters=4, power=2.0)
    seq = S.SequentialLR(opt, schedulers=[lin, const, poly], milestones=[3, 5])
    rec = []
    for _ in range(10):
        opt.step()
        seq.step()
        rec.append(seq.get_last_lr()[0])
    out["sequential"] = rec
    a, b = params()
    opt = O.SGD([a, b], lr=1.0)
    chain = S.ChainedScheduler([S.MultiplicativeLR(opt, lr_lambda=lambda e: 0.95),
                                S.ExponentialLR(opt, gamma=0.9)], optimizer=opt)
    rec = []
    for _ in range(4):
        opt.step()
        chain.step()
        rec.append(chain.get_last_lr())
    out["chained"] = rec
    a, b = params()
    opt = O.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=0.1)
    cos = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01)
    rec, iters = [], 4
    saved = None
    for epoch in range(6):
        for i in range(iters):
            opt.step()
            cos.step(epoch + i / iters)
            rec.append(cos.get_last_lr())
        if epoch == 2:
            saved = {k: v for k, v in cos.state_dict().items()}
    out["warm_restarts"] = rec
    a2, b2 = params()
    opt2 = O.SGD([{"params": [a2]}, {"params": [b2], "lr": 0.3}], lr=0.1)
    cos2 = S.CosineAnnealingWarmRestarts(opt2, T_0=3, T_mult=2, eta_min=0.01)
    cos2.load_state_dict(saved)
    rec2 = []
    for i in range(3):
        opt2.step()
        cos2.step()
        rec2.append(cos2.get_last_lr())
    out["resumed"] = (rec2, cos2.T_cur, cos2.T_i, cos2.last_epoch)
    out["saved_keys"] = sorted(saved)
    return out


@program
def checkpoint_state_dict_round_trips_through_bytesio_with_strict_false_and_prefixes(L):
    """What training scripts do with checkpoints: a dict of model/optimizer/scheduler state
    dicts, an epoch and a Python float saved by torch.save into an io.BytesIO, read back with
    torch.load(map_location='cpu', weights_only=True); the 'module.' prefix of a
    DataParallel checkpoint stripped by removeprefix; load_state_dict(strict=False) reporting
    missing and unexpected keys as a named tuple; a size mismatch's RuntimeError words;
    load_state_dict(assign=True) keeping the loaded tensors' identity-free values; the
    optimizer resumed and stepping as the original does."""
    nn = L.nn
    L.manual_seed(31)

    def make():
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                             nn.Linear(4, 2)).double()

    model = make()
    opt = L.optim.AdamW(model.parameters(), lr=0.01)
    sch = L.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x = _t(L, 6, 3, seed=32)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        sch.step()
    buf = io.BytesIO()
    L.save({"model": {"module." + k: v for k, v in model.state_dict().items()},
            "optimizer": opt.state_dict(), "scheduler": sch.state_dict(), "epoch": 2,
            "best": 0.25}, buf)
    buf.seek(0)
    ckpt = L.load(buf, map_location="cpu", weights_only=True)
    sd = {k.removeprefix("module."): v for k, v in ckpt["model"].items()}
    fresh = make()
    res = fresh.load_state_dict(sd)
    opt2 = L.optim.AdamW(fresh.parameters(), lr=0.01)
    opt2.load_state_dict(ckpt["optimizer"])
    sch2 = L.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    sch2.load_state_dict(ckpt["scheduler"])
    for m, o in ((model, opt), (fresh, opt2)):
        o.zero_grad()
        m(x).pow(2).mean().backward()
        o.step()
    partial = dict(sd)
    partial.pop("3.bias")
    partial["extra.weight"] = L.zeros(1)
    other = make()
    res2 = other.load_state_dict(partial, strict=False)
    bad = dict(sd)
    bad["0.weight"] = L.zeros(5, 3, dtype=L.float64)
    mismatch = err(lambda: make().load_state_dict(bad))
    missing = err(lambda: make().load_state_dict(partial))
    assigned = make()
    assigned.load_state_dict(sd, assign=True)
    return dict(res=(list(res.missing_keys), list(res.unexpected_keys)),
                res2=(res2.missing_keys, res2.unexpected_keys), res2_repr=repr(res2),
                same=[L.equal(p, q) for p, q in zip(model.parameters(), fresh.parameters())],
                epoch=ckpt["epoch"], best=ckpt["best"], lr=opt2.param_groups[0]["lr"],
                mismatch=mismatch, missing=missing,
                assigned=[type(p).__name__ for p in assigned.parameters()],
                assigned_rg=[p.requires_grad for p in assigned.parameters()],
                nbt=assigned[1].num_batches_tracked)


@program
def freeze_unfreeze_backbone_with_param_groups_and_frozen_batchnorm(L):
    """Fine-tuning code: the backbone frozen by requires_grad_(False), the optimizer built over
    filter(lambda p: p.requires_grad, ...), a train() override keeping the frozen BatchNorms in
    eval; after an epoch the last block unfrozen and added by add_param_group with its own lr;
    zero_grad(set_to_none=False) leaving zeros where set_to_none leaves None; a frozen batch
    norm as torchvision's (buffers only, rsqrt of var + eps) swapped in by named_children; a
    frozen parameter's grad stays None, the running stats unchanged."""
    nn, F = L.nn, L.nn.functional

    class FixedNorm(nn.Module):
        """Batch norm with its affine and statistics as buffers: nothing trains."""

        def __init__(self, n, eps=1e-5):
            super().__init__()
            self.eps = eps
            for name, fill in (("weight", L.ones), ("bias", L.zeros),
                               ("running_mean", L.zeros), ("running_var", L.ones)):
                self.register_buffer(name, fill(n))

        def forward(self, x):
            def per_channel(t):
                return t.reshape(1, -1, 1, 1)
            scale = per_channel(self.weight) * (per_channel(self.running_var) + self.eps).rsqrt()
            return x * scale + (per_channel(self.bias) - per_channel(self.running_mean) * scale)

    def convert_frozen(module):
        for name, child in module.named_children():
            if isinstance(child, nn.BatchNorm2d):
                fb = FixedNorm(child.num_features, child.eps)
                fb.weight.copy_(child.weight.detach())
                fb.bias.copy_(child.bias.detach())
                fb.running_mean.copy_(child.running_mean)
                fb.running_var.copy_(child.running_var)
                setattr(module, name, fb)
            else:
                convert_frozen(child)
        return module

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = nn.Sequential(
                nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU()),
                nn.Sequential(nn.Conv2d(4, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
            self.head = nn.Linear(4, 3)

        def forward(self, x):
            return self.head(self.backbone(x).mean((-2, -1)))

        def train(self, mode=True):
            super().train(mode)
            for m in self.backbone.modules():
                if isinstance(m, nn.BatchNorm2d) and not any(
                        p.requires_grad for p in m.parameters()):
                    m.eval()
            return self

    L.manual_seed(41)
    net = Net().double()
    for m in net.backbone.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
    net.backbone.requires_grad_(False)
    opt = L.optim.SGD(filter(lambda p: p.requires_grad, net.parameters()), lr=0.1,
                      momentum=0.9)
    x = _t(L, 4, 2, 7, 7, seed=42)
    y = L.tensor(_labels(4, 3, 43))
    net.train()
    modes = [m.training for m in net.modules()]
    rm0 = net.backbone[1][1].running_mean.clone()
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
    frozen_grad = net.backbone[0][0].weight.grad
    net.backbone[1].requires_grad_(True)
    opt.add_param_group({"params": list(net.backbone[1].parameters()), "lr": 0.01})
    net.train()
    modes2 = [m.training for m in net.modules()]
    for _ in range(2):
        opt.zero_grad(set_to_none=False)
        F.cross_entropy(net(x), y).backward()
        opt.step()
    g_after = net.backbone[1][0].weight.grad.clone()
    opt.zero_grad(set_to_none=False)
    zeros = net.head.weight.grad
    opt.zero_grad()
    none = net.head.weight.grad
    frozen = convert_frozen(net.backbone[0])
    net.eval()
    with L.no_grad():
        out = net(x)
    return dict(modes=modes, modes2=modes2, rm_same=L.equal(rm0, net.backbone[1][1].running_mean),
                frozen_grad=frozen_grad, g_after=g_after, zeros=zeros, none=none, out=out,
                groups=[len(g["params"]) for g in opt.param_groups],
                frozen_keys=list(frozen.state_dict().keys()),
                n_params=sum(p.numel() for p in net.parameters() if p.requires_grad))


@program
def feature_extraction_by_forward_hooks_with_kwargs_prepend_and_backward_hooks(L):
    """Feature extraction the way explainability and distillation code does it:
    register_forward_hook(with_kwargs=True) receiving the call's keyword arguments,
    prepend=True ordering hooks, a forward pre-hook returning a replaced input tuple (and one
    with kwargs returning (args, kwargs)), always_call=True; register_full_backward_hook
    capturing grad_output and returning a scaled grad_input, register_full_backward_pre_hook
    replacing grad_output; handles removed by .remove() and by the context manager of
    RemovableHandle; the captured features detached into a dict keyed by module name."""
    nn, F = L.nn, L.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, x, scale=1.0):
            return F.gelu(self.lin(x)) * scale

    L.manual_seed(51)
    net = nn.ModuleDict({"a": Block(), "b": Block(), "head": nn.Linear(4, 2)}).double()
    feats, order, grads = {}, [], {}

    def save(name):
        def hook(module, args, kwargs, output):
            feats[name] = (output.detach(), kwargs.get("scale"))
            order.append(name)
        return hook

    def first(module, args, output):
        order.append("first")

    def pre(module, args):
        return (args[0] * 2,)

    def pre_kw(module, args, kwargs):
        kwargs = dict(kwargs, scale=kwargs.get("scale", 1.0) * 0.5)
        return args, kwargs

    def bwd(name):
        def hook(module, grad_input, grad_output):
            grads[name] = grad_output[0].detach().clone()
            return tuple(g * 3 if g is not None else None for g in grad_input)
        return hook

    def bwd_pre(module, grad_output):
        return (grad_output[0] + 1.0,)

    handles = [net["a"].register_forward_hook(save("a"), with_kwargs=True),
               net["a"].register_forward_hook(first, prepend=True),
               net["b"].register_forward_pre_hook(pre),
               net["b"].register_forward_pre_hook(pre_kw, with_kwargs=True),
               net["b"].register_forward_hook(save("b"), with_kwargs=True, always_call=True),
               net["b"].register_full_backward_hook(bwd("b")),
               net["head"].register_full_backward_pre_hook(bwd_pre)]
    x = _t(L, 3, 4, seed=52, grad=True)

    def run():
        h = net["a"](x, scale=2.0)
        h = net["b"](h, scale=3.0)
        return net["head"](h)

    out = run()
    out.sum().backward()
    first_pass = dict(out=out, xg=x.grad.clone(), feats=dict(feats), order=list(order),
                      grads=dict(grads), wg=net["a"].lin.weight.grad.clone())
    for h in handles:
        h.remove()
    x.grad = None
    net.zero_grad()
    with net["a"].register_forward_hook(first):
        out2 = run()
    out2.sum().backward()
    with net["head"].register_forward_hook(lambda m, a, o: o * 0):
        zeroed = run()
    return dict(first=first_pass, out2=out2, order=order, xg2=x.grad, zeroed=zeroed)


@program
def tcn_causal_dilated_conv1d_with_parametrizations_weight_norm(L):
    """Bai et al.'s TCN with the new weight norm: torch.nn.utils.parametrizations.weight_norm
    on dilated Conv1d layers padded by (k - 1) * d and chomped by [:, :, :-pad].contiguous(),
    dropout between, a 1x1 downsample residual, the weights normal_(0, 0.01) through
    the parametrization's original1; the state_dict's parametrizations.weight.original0/1
    keys, the cached() context, a training step through the magnitudes and directions, then
    remove_parametrizations(leave_parametrized=True) giving a plain weight that computes the
    same output; a causal check (changing the last step leaves earlier outputs alone); the
    blocks built in float64, and a weight-normed PReLU (a 1-d weight, normed element by
    element)."""
    nn = L.nn
    P = nn.utils.parametrizations
    parametrize = nn.utils.parametrize

    class DropTail(nn.Module):
        """Cuts the last `n` steps: with left-and-right padding of n, a conv becomes causal."""

        def __init__(self, n):
            super().__init__()
            self.n = n

        def forward(self, x):
            return x[:, :, :-self.n].contiguous()

    def causal_wn_conv(cin, cout, k, d):
        return P.weight_norm(nn.Conv1d(cin, cout, k, stride=1, padding=(k - 1) * d, dilation=d,
                                       dtype=L.float64))

    class CausalResidual(nn.Module):
        def __init__(self, cin, cout, k, d, dropout=0.2):
            super().__init__()
            cut = (k - 1) * d
            self.conv1 = causal_wn_conv(cin, cout, k, d)
            self.conv2 = causal_wn_conv(cout, cout, k, d)
            self.net = nn.Sequential(self.conv1, DropTail(cut), nn.ReLU(), nn.Dropout(dropout),
                                     self.conv2, DropTail(cut), nn.ReLU(), nn.Dropout(dropout))
            self.downsample = nn.Conv1d(cin, cout, 1, dtype=L.float64) if cin != cout else None
            self.relu = nn.ReLU()
            with L.no_grad():               # small starting directions (weight_norm's v)
                for conv in (self.conv1, self.conv2):
                    conv.parametrizations.weight.original1.normal_(0, 0.01)
                if self.downsample is not None:
                    self.downsample.weight.normal_(0, 0.01)

        def forward(self, x):
            skip = x if self.downsample is None else self.downsample(x)
            return self.relu(self.net(x) + skip)

    L.manual_seed(61)
    tcn = nn.Sequential(CausalResidual(2, 5, 3, 1), CausalResidual(5, 5, 3, 2),
                        CausalResidual(5, 3, 2, 4)).double()
    act = P.weight_norm(nn.PReLU(3, init=0.3).double(), dim=0)   # a 1-d weight: |w| each
    keys = list(tcn[0].state_dict().keys())
    x = _t(L, 2, 2, 12, seed=62)
    tcn.eval()
    with parametrize.cached():
        y0 = act(tcn(x))
    x2 = x.clone()
    x2[..., -1] += 5.0
    causal = (act(tcn(x2))[..., :-1] - y0[..., :-1]).abs().max()
    tcn.train()
    opt = L.optim.Adam(tcn.parameters(), lr=1e-2)
    L.manual_seed(63)
    opt.zero_grad()
    opt.add_param_group({"params": list(act.parameters())})
    loss = act(tcn(x)).square().mean()
    loss.backward()
    opt.step()
    g = tcn[1].conv2.parametrizations.weight.original0.grad
    act_g = (act.parametrizations.weight.original0, act.parametrizations.weight.original1.grad)
    tcn.eval()
    before = tcn(x)
    for blk in tcn:
        parametrize.remove_parametrizations(blk.conv1, "weight", leave_parametrized=True)
        parametrize.remove_parametrizations(blk.conv2, "weight")
    after = tcn(x)
    return dict(keys=keys, y0=y0, causal=causal, loss=loss, g=g, act_g=act_g, before=before,
                after=after,
                plain=type(tcn[0].conv1.weight).__name__,
                is_p=parametrize.is_parametrized(tcn[0].conv1),
                keys_after=list(tcn[0].conv1.state_dict().keys()))


@program
def unet3d_piece_instance_norm_transposed_conv_and_deep_supervision(L):
    """A medical-imaging 3-d U-Net piece (nnU-Net's stacked conv blocks): Conv3d with
    (3, 3, 3) kernels and anisotropic strides (1, 2, 2), InstanceNorm3d(affine=True, eps=1e-5),
    LeakyReLU(negative_slope=0.01, inplace=True), ConvTranspose3d upsampling with the same
    strides, torch.cat skips on dim 1, deep-supervision heads upsampled by
    F.interpolate(mode='trilinear', align_corners=False) and weighted 1/2^i, a soft Dice over
    the spatial dims plus cross-entropy on a 5-d target; one SGD step with nesterov."""
    nn, F = L.nn, L.nn.functional

    def block(cin, cout, stride):
        return nn.Sequential(
            nn.Conv3d(cin, cout, (3, 3, 3), stride=stride, padding=(1, 1, 1)),
            nn.InstanceNorm3d(cout, eps=1e-5, affine=True),
            nn.LeakyReLU(negative_slope=1e-2, inplace=True),
            nn.Conv3d(cout, cout, 3, padding=1),
            nn.InstanceNorm3d(cout, affine=True), nn.LeakyReLU(0.01, True))

    class UNet3D(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc0 = block(1, 3, 1)
            self.enc1 = block(3, 4, (1, 2, 2))
            self.enc2 = block(4, 5, (2, 2, 2))
            self.up1 = nn.ConvTranspose3d(5, 4, (2, 2, 2), stride=(2, 2, 2), bias=False)
            self.dec1 = block(8, 4, 1)
            self.up0 = nn.ConvTranspose3d(4, 3, kernel_size=(1, 2, 2), stride=(1, 2, 2),
                                          bias=False)
            self.dec0 = block(6, 3, 1)
            self.seg = nn.ModuleList([nn.Conv3d(3, 2, 1), nn.Conv3d(4, 2, 1)])

        def forward(self, x):
            s0 = self.enc0(x)
            s1 = self.enc1(s0)
            b = self.enc2(s1)
            d1 = self.dec1(L.cat((self.up1(b), s1), dim=1))
            d0 = self.dec0(L.cat([self.up0(d1), s0], 1))
            return [self.seg[0](d0), self.seg[1](d1)]

    def soft_dice(logits, onehot, smooth=1e-5):
        p = logits.softmax(1)
        axes = tuple(range(2, logits.ndim))
        tp = (p * onehot).sum(axes)
        fp = (p * (1 - onehot)).sum(axes)
        fn = ((1 - p) * onehot).sum(axes)
        dc = (2 * tp + smooth) / L.clip(2 * tp + fp + fn + smooth, 1e-8)
        return -dc[:, 1:].mean()

    L.manual_seed(71)
    net = UNet3D().double()
    x = _t(L, 2, 1, 4, 8, 8, seed=72)
    target = L.tensor(np.random.RandomState(73).randint(0, 2, (2, 4, 8, 8)))
    opt = L.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    outs = net(x)
    weights = [1 / 2 ** i for i in range(len(outs))]
    total = 0
    for w, o in zip(weights, outs):
        o = F.interpolate(o, size=target.shape[1:], mode="trilinear", align_corners=False)
        onehot = F.one_hot(target, 2).permute(0, 4, 1, 2, 3).to(o.dtype)
        total = total + w * (F.cross_entropy(o, target) + soft_dice(o, onehot))
    opt.zero_grad()
    total.backward()
    opt.step()
    return dict(total=total, shapes=[o.shape for o in outs], out0=outs[0],
                g=net.enc1[0].weight.grad, gn=net.dec0[1].weight.grad,
                up=net.up0.weight.grad)


# ----------------------------------------------------------------------------------------------
# segmentation and detection objectives
# ----------------------------------------------------------------------------------------------
@program
def segmentation_losses_lovasz_softmax_ohem_cross_entropy_and_focal_tversky(L):
    """Segmentation losses: the Lovasz-softmax of Berman et al. (per-class errors sorted by
    torch.sort(descending=True), the Jaccard curve of the permuted ground truth by cumsum,
    its increments by slice assignment x[1:] = x[1:] - x[:-1], a dot with the sorted
    errors) over pixels flattened by permute(0, 2, 3, 1).contiguous().view, ignored pixels
    dropped by boolean indexing, absent classes skipped; OHEM cross-entropy
    (per-pixel cross_entropy(reduction='none', ignore_index=255), the prob of the target
    gathered, a kth-value threshold by sort, the kept pixels' mean); and the focal Tversky
    loss over one-hot targets built by F.one_hot and permute; gradients to the logits."""
    F = L.nn.functional

    def jaccard_steps(fg_in_order):
        """Weights of the Lovasz extension of the Jaccard loss at one ordering: with g the
        foreground indicator in decreasing-error order and G its total, the loss once the
        first k pixels are wrong is 1 - (G - sum g) / (G + sum (1 - g)) over those k; the
        weights are its increments (the first kept as is)."""
        total = fg_in_order.sum()
        still_in = total - fg_in_order.float().cumsum(0)
        joined = total + (1 - fg_in_order).float().cumsum(0)
        curve = 1.0 - still_in / joined
        if len(fg_in_order) > 1:
            curve[1:] = curve[1:] - curve[:-1]
        return curve

    def pixel_rows(probs, labels, ignore=None):
        """(pixels, classes) probabilities and (pixels,) labels, ignored pixels dropped."""
        n_cls = probs.size(1)
        rows = probs.permute(0, 2, 3, 1).contiguous().view(-1, n_cls)
        flat = labels.view(-1)
        if ignore is None:
            return rows, flat
        keep = flat != ignore
        return rows[keep.nonzero().squeeze()], flat[keep]

    def lovasz_softmax(rows, labels, classes="present"):
        if rows.numel() == 0:
            return rows * 0.0
        per_class = []
        for c in range(rows.size(1)):
            fg = (labels == c).float()
            if classes == "present" and fg.sum() == 0:
                continue                         # a class absent from the labels is skipped
            errs, order = L.sort((fg - rows[:, c]).abs(), 0, descending=True)
            per_class.append(L.dot(errs, jaccard_steps(fg[order])))
        return L.stack(per_class).mean()

    def hard_pixel_ce(logits, target, thresh=0.7, min_kept=6, ignore=255):
        """Cross-entropy over the hard pixels only: those whose probability of the true
        class is below max(thresh, the min_kept-th smallest such probability)."""
        per_pixel = F.cross_entropy(logits, target, ignore_index=ignore,
                                    reduction="none").contiguous().view(-1)
        valid = target.contiguous().view(-1) != ignore
        safe = target.clone()
        safe[safe == ignore] = 0                 # any class will do: dropped by ``valid``
        p_true = F.softmax(logits, dim=1).gather(1, safe.unsqueeze(1))
        p_sorted, order = p_true.contiguous().view(-1)[valid].contiguous().sort()
        cut = max(p_sorted[min(min_kept, p_sorted.numel() - 1)], thresh)
        hard = per_pixel[valid][order][p_sorted < cut]
        return hard.mean(), cut

    def focal_tversky(logits, target, alpha=0.7, beta=0.3, gamma=0.75, smooth=1.0):
        probs = logits.softmax(dim=1)
        onehot = F.one_hot(target, num_classes=logits.shape[1]).permute(0, 3, 1, 2).float()
        dims = (0, 2, 3)
        tp = (probs * onehot).sum(dims)
        fp = (probs * (1 - onehot)).sum(dim=dims)
        fn = ((1 - probs) * onehot).sum(dims)
        tversky = (tp + smooth) / (tp + alpha * fn + beta * fp + smooth)
        return L.pow(1 - tversky, gamma).mean()

    rng = np.random.RandomState(81)
    logits = L.tensor(rng.randn(2, 4, 5, 6).astype(np.float32), requires_grad=True)
    lab = rng.randint(0, 3, (2, 5, 6))
    lab_ign = lab.copy()
    lab_ign[0, :2, :3] = 255
    labels, labels_ign = L.tensor(lab), L.tensor(lab_ign)
    probs = F.softmax(logits, dim=1)
    lz = lovasz_softmax(*pixel_rows(probs, labels_ign, ignore=255))
    lz_all = lovasz_softmax(*pixel_rows(probs, labels), classes="all")
    ohem, thr = hard_pixel_ce(logits, labels_ign)
    ft = focal_tversky(logits, labels)
    (lz + lz_all + ohem + ft).backward()
    return dict(lz=lz, lz_all=lz_all, ohem=ohem, thr=thr, ft=ft, g=logits.grad,
                lg=jaccard_steps(L.tensor([1, 0, 1, 1, 0])))


@program
def ssd_multibox_hard_negative_mining_by_double_sort_and_smooth_l1(L):
    """SSD's multibox loss: priors (cx, cy, w, h) matched to ground truth by IoU (each
    truth's best prior forced in by index_fill_ and a loop of assignments), the matched
    boxes encoded against their priors with variances (log of the size ratios), smooth_l1
    over positives (reduction='sum'), and hard-negative mining: each prior's background
    loss (a logsumexp shifted by the max through .data, minus the gathered score) with
    positives zeroed, its rank within the image as the argsort of the descending argsort,
    3 negatives per positive (clamped to P - 1) kept by comparing ranks with an expand_as;
    cross_entropy over positives and kept negatives, both terms over the positives' count."""
    F = L.nn.functional

    def corners(b):
        half = b[:, 2:] / 2                      # (cx, cy, w, h) -> (x1, y1, x2, y2)
        return L.cat((b[:, :2] - half, b[:, :2] + half), 1)

    def iou(a, b):
        n, m = a.size(0), b.size(0)
        lo = L.max(a[:, :2].unsqueeze(1).expand(n, m, 2), b[:, :2].unsqueeze(0).expand(n, m, 2))
        hi = L.min(a[:, 2:].unsqueeze(1).expand(n, m, 2), b[:, 2:].unsqueeze(0).expand(n, m, 2))
        wh = L.clamp((hi - lo), min=0)
        common = wh[:, :, 0] * wh[:, :, 1]
        size_a = ((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])).unsqueeze(1).expand_as(common)
        size_b = ((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).unsqueeze(0).expand_as(common)
        return common / (size_a + size_b - common)

    def regression_targets(boxes, priors, var):
        shift = (boxes[:, :2] + boxes[:, 2:]) / 2 - priors[:, :2]
        shift /= (var[0] * priors[:, 2:])
        log_ratio = L.log((boxes[:, 2:] - boxes[:, :2]) / priors[:, 2:]) / var[1]
        return L.cat([shift, log_ratio], 1)

    def assign(thresh, truth, priors, var, labels, loc_t, conf_t, i):
        ov = iou(truth, corners(priors))                        # (truths, priors)
        best_ov_of_truth, prior_of_truth = ov.max(1, keepdim=True)
        ov_of_prior, truth_of_prior = ov.max(0, keepdim=True)
        truth_of_prior.squeeze_(0)
        ov_of_prior.squeeze_(0)
        prior_of_truth.squeeze_(1)
        best_ov_of_truth.squeeze_(1)
        ov_of_prior.index_fill_(0, prior_of_truth, 2)           # kept whatever the threshold
        for j in range(prior_of_truth.size(0)):
            truth_of_prior[prior_of_truth[j]] = j
        cls = labels[truth_of_prior] + 1
        cls[ov_of_prior < thresh] = 0                           # background
        loc_t[i] = regression_targets(truth[truth_of_prior], priors, var)
        conf_t[i] = cls

    def shifted_logsumexp(x):
        top = x.data.max()
        return L.log(L.sum(L.exp(x - top), 1, keepdim=True)) + top

    rng = np.random.RandomState(91)
    P, C, B = 12, 4, 2
    cxy = rng.uniform(0.1, 0.9, (P, 2))
    priors = L.tensor(np.concatenate([cxy, rng.uniform(0.1, 0.4, (P, 2))], 1))
    loc_data = _t(L, B, P, 4, scale=0.1, seed=92, grad=True)
    conf_data = _t(L, B, P, C, seed=93, grad=True)
    targets = [L.tensor([[0.1, 0.1, 0.4, 0.5, 0], [0.5, 0.4, 0.9, 0.8, 2]], dtype=L.float64),
               L.tensor([[0.2, 0.3, 0.6, 0.7, 1]], dtype=L.float64)]
    loc_t = L.zeros(B, P, 4, dtype=L.float64)
    conf_t = L.zeros(B, P, dtype=L.long)
    for i in range(B):
        assign(0.3, targets[i][:, :-1], priors, (0.1, 0.2), targets[i][:, -1].long(),
               loc_t, conf_t, i)
    pos = conf_t > 0
    n_pos = pos.sum(dim=1, keepdim=True)
    pos_box = pos.unsqueeze(pos.dim()).expand_as(loc_data)
    loss_l = F.smooth_l1_loss(loc_data[pos_box].view(-1, 4), loc_t[pos_box].view(-1, 4),
                              reduction="sum")
    flat = conf_data.view(-1, C)
    bg = (shifted_logsumexp(flat) - flat.gather(1, conf_t.view(-1, 1))).view(B, -1)
    bg[pos] = 0                                  # positives are never mined as negatives
    rank = bg.sort(1, descending=True)[1].sort(1)[1]
    num_neg = L.clamp(3 * n_pos, max=pos.size(1) - 1)
    neg = rank < num_neg.expand_as(rank)
    used = (pos.unsqueeze(2).expand_as(conf_data) + neg.unsqueeze(2).expand_as(conf_data)).gt(0)
    loss_cls = F.cross_entropy(conf_data[used].view(-1, C), conf_t[(pos + neg).gt(0)],
                               reduction="sum")
    n = n_pos.data.sum().double()
    total = loss_l / n + loss_cls / n
    total.backward()
    return dict(loc_t=loc_t, conf_t=conf_t, neg=neg, num_neg=num_neg, loss_l=loss_l,
                loss_cls=loss_cls, total=total, gl=loc_data.grad, gc=conf_data.grad)


@program
def deformable_detr_multiscale_deformable_attention_core_in_pytorch(L):
    """Deformable DETR's multi-scale deformable attention in plain torch (our code): the value
    split by value.split([H * W for H, W in shapes], dim=1), sampling grids 2 * loc - 1, each
    level's value flattened(2).transpose(1, 2).reshape(N * M, D, H, W) and sampled by
    F.grid_sample(mode='bilinear', padding_mode='zeros', align_corners=False), the samples
    stacked on dim -2, flatten(-2), weighted by attention weights and summed; wrapped in a
    module (sampling offsets normalised by torch.stack([W, H], -1), attention softmaxed over
    levels x points, level_start_index by cat and cumsum); gradients to value, offsets and
    weights."""
    nn, F = L.nn, L.nn.functional

    def sample_levels(value, shapes, locations, weights):
        # value (n, tokens, heads, d) holding every level's map in turn; locations in [0, 1]
        # (n, q, heads, levels, points, 2); weights (n, q, heads, levels, points)
        n, _, heads, d = value.shape
        q, levels, points = locations.shape[1], locations.shape[3], locations.shape[4]
        per_level = value.split([h * w for h, w in shapes], dim=1)
        grids = 2 * locations - 1                       # grid_sample's [-1, 1]
        picked = []
        for lvl, (h, w) in enumerate(shapes):
            maps = per_level[lvl].flatten(2).transpose(1, 2).reshape(n * heads, d, h, w)
            where = grids[:, :, :, lvl].transpose(1, 2).flatten(0, 1)   # (n heads, q, p, 2)
            picked.append(F.grid_sample(maps, where, mode="bilinear", padding_mode="zeros",
                                        align_corners=False))
        w = weights.transpose(1, 2).reshape(n * heads, 1, q, levels * points)
        mixed = (L.stack(picked, dim=-2).flatten(-2) * w).sum(-1).view(n, heads * d, q)
        return mixed.transpose(1, 2).contiguous()

    class DeformableAttention(nn.Module):
        """Each query attends to a few points per head and level, placed at offsets from its
        reference point (offsets and weights both predicted from the query)."""

        def __init__(self, dim=8, levels=2, heads=2, points=3):
            super().__init__()
            self.levels, self.heads, self.points = levels, heads, points
            self.sampling_offsets = nn.Linear(dim, heads * levels * points * 2)
            self.attention_weights = nn.Linear(dim, heads * levels * points)
            self.value_proj = nn.Linear(dim, dim)
            self.output_proj = nn.Linear(dim, dim)
            nn.init.constant_(self.sampling_offsets.weight.data, 0.0)
            # the initial offsets: head h looks along the angle 2 pi h / heads, point k at
            # distance k + 1 (in the max-norm), the same on every level
            angle = L.arange(heads, dtype=L.float32) * (2.0 * math.pi / heads)
            direction = L.stack([angle.cos(), angle.sin()], -1)
            direction = direction / direction.abs().max(-1, keepdim=True)[0]
            start = direction.view(heads, 1, 1, 2).repeat(1, levels, points, 1)
            for k in range(points):
                start[:, :, k, :] *= k + 1
            with L.no_grad():
                self.sampling_offsets.bias = nn.Parameter(start.view(-1))

        def forward(self, query, ref, flat_input, shapes, level_start_index):
            n, q, _ = query.shape
            tokens = flat_input.shape[1]
            value = self.value_proj(flat_input).view(n, tokens, self.heads, -1)
            offsets = self.sampling_offsets(query).view(n, q, self.heads, self.levels,
                                                        self.points, 2)
            w = self.attention_weights(query).view(n, q, self.heads, self.levels * self.points)
            w = F.softmax(w, -1).view(n, q, self.heads, self.levels, self.points)
            # offsets are in pixels of each level: divide by (W, H)
            wh = L.stack([shapes[..., 1], shapes[..., 0]], -1)
            where = ref[:, :, None, :, None, :] + offsets / wh[None, None, None, :, None, :]
            out = sample_levels(value, [(int(h), int(w)) for h, w in shapes], where, w)
            return self.output_proj(out)

    L.manual_seed(101)
    attn = DeformableAttention().double()
    shapes = L.as_tensor([(4, 5), (2, 3)], dtype=L.long)
    level_start_index = L.cat((shapes.new_zeros((1,)), shapes.prod(1).cumsum(0)[:-1]))
    S = int(shapes.prod(1).sum())
    src = _t(L, 2, S, 8, seed=102, grad=True)
    query = _t(L, 2, 3, 8, seed=103)
    ref = L.tensor(np.random.RandomState(104).uniform(0.1, 0.9, (2, 3, 2, 2)))
    out = attn(query, ref, src, shapes, level_start_index)
    out.square().sum().backward()
    return dict(lsi=level_start_index, out=out, g_src=src.grad, grads=grads_of(attn),
                bias=attn.sampling_offsets.bias)


# ----------------------------------------------------------------------------------------------
# API corners model-zoo code reaches
# ----------------------------------------------------------------------------------------------
@program
def clip_attention_pool2d_by_multi_head_attention_forward_with_separate_projections(L):
    """The attention pooling of CLIP's ModifiedResNet: the map flattened to (HW, N, C) by
    flatten(start_dim=2).permute(2, 0, 1), the mean token concatenated in front, a positional
    embedding added with [:, None, :], then F.multi_head_attention_forward called with every
    keyword (query=x[:1], use_separate_proj_weight=True, q/k/v_proj_weight, in_proj_weight=None,
    in_proj_bias as a cat of three biases, bias_k/bias_v None, add_zero_attn=False,
    dropout_p=0, out_proj, need_weights=False) and squeezed; once more with need_weights=True
    and average_attn_weights=False for the per-head map; gradients to the projections."""
    nn, F = L.nn, L.nn.functional

    class PoolByAttention(nn.Module):
        """One query (the mean of the map's positions, plus a learned position) attending
        over all positions; F.multi_head_attention_forward with separate projections."""

        def __init__(self, side, dim, heads, out_dim=None):
            super().__init__()
            self.pos = nn.Parameter(L.randn(side ** 2 + 1, dim) / dim ** 0.5)
            self.k_proj = nn.Linear(dim, dim)
            self.q_proj = nn.Linear(dim, dim)
            self.v_proj = nn.Linear(dim, dim)
            self.c_proj = nn.Linear(dim, out_dim or dim)
            self.heads = heads

        def forward(self, fmap, need_weights=False):
            seq = fmap.flatten(start_dim=2).permute(2, 0, 1)             # (HW, N, C)
            seq = L.cat([seq.mean(dim=0, keepdim=True), seq], dim=0)
            seq = seq + self.pos[:, None, :].to(seq.dtype)
            biases = L.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
            out, w = F.multi_head_attention_forward(
                query=seq[:1], key=seq, value=seq, embed_dim_to_check=seq.shape[-1],
                num_heads=self.heads, q_proj_weight=self.q_proj.weight,
                k_proj_weight=self.k_proj.weight, v_proj_weight=self.v_proj.weight,
                in_proj_weight=None, in_proj_bias=biases, bias_k=None, bias_v=None,
                add_zero_attn=False, dropout_p=0, out_proj_weight=self.c_proj.weight,
                out_proj_bias=self.c_proj.bias, use_separate_proj_weight=True,
                training=self.training, need_weights=need_weights,
                average_attn_weights=False)
            return out.squeeze(0), w

    L.manual_seed(111)
    pool = PoolByAttention(3, 8, 2, 5).double()
    x = _t(L, 2, 8, 3, 3, seed=112, grad=True)
    out, none = pool(x)
    out2, w = pool(x, need_weights=True)
    (out.sum() + out2.pow(2).sum()).backward()
    return dict(out=out, none=none, w=w, xg=x.grad, grads=grads_of(pool))


@program
def timm_weight_init_trunc_normal_lecun_named_apply_and_nn_init_variants(L):
    """Weight initialisation as model zoos do it, under a seed: trunc_normal_ in its
    standard form then mul_/add_ (bounds in stds), fan-based variance scaling for
    lecun_normal (fan_in, a truncated normal divided by .87962566103423978), a recursive walk
    over named_children with dotted names, children before parents, and a head_bias; nn.init's kaiming_normal_(mode='fan_out',
    nonlinearity='relu'), xavier_uniform_ with calculate_gain('tanh'), orthogonal_ on a
    conv weight, zeros_ and ones_, trunc_normal_ on a float64 tensor and the fan
    computations of a 5-d weight; the weights compared."""
    nn = L.nn
    init = nn.init

    def standard_truncated_then_scaled_(t, mean=0.0, std=1.0, lo=-2.0, hi=2.0):
        """A standard normal cut to [lo, hi], then scaled: the bounds count in stds."""
        with L.no_grad():
            init.trunc_normal_(t, 0, 1.0, lo, hi)
            t.mul_(std).add_(mean)
        return t

    trunc_std = .87962566103423978               # the std of N(0, 1) cut to [-2, 2]

    def by_fans_(t, scale=1.0, mode="fan_in", draw="normal"):
        """Variance scale / fan (in, out or their mean): uniform, normal, or a truncated
        normal widened so that the variance is the one asked for (lecun_normal)."""
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
        fan = dict(fan_in=fan_in, fan_out=fan_out, fan_avg=(fan_in + fan_out) / 2)[mode]
        var = scale / fan
        if draw == "uniform":
            half_width = math.sqrt(3 * var)
            with L.no_grad():
                t.uniform_(-half_width, half_width)
        elif draw == "normal":
            with L.no_grad():
                t.normal_(std=math.sqrt(var))
        else:
            standard_truncated_then_scaled_(t, std=math.sqrt(var) / trunc_std)

    def each_submodule(fn, module, prefix=""):
        """fn(module=, name=) on every submodule below ``module``, children before their
        parent, with dotted names; ``module`` itself left out."""
        for child, sub in module.named_children():
            full = f"{prefix}.{child}" if prefix else child
            each_submodule(fn, sub, full)
            fn(module=sub, name=full)
        return module

    visited = []

    def init_layer(module, name="", head_bias=0.0):
        visited.append(name)
        if isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Conv3d):
            by_fans_(module.weight, draw="uniform")
        elif isinstance(module, nn.Linear) and name.startswith("head"):
            init.zeros_(module.weight)               # the classifier starts at the prior
            init.constant_(module.bias, head_bias)
        elif isinstance(module, nn.Linear) and "mlp" in name:
            init.xavier_uniform_(module.weight, gain=init.calculate_gain("tanh"))
            init.normal_(module.bias, std=1e-6)
        elif isinstance(module, nn.Linear):
            by_fans_(module.weight, mode="fan_avg", draw="truncated_normal")
            init.zeros_(module.bias)

    L.manual_seed(121)
    model = nn.Sequential(OrderedDict([
        ("stem", nn.Conv2d(3, 4, 3)), ("vid", nn.Conv3d(2, 3, (1, 3, 3), bias=False)),
        ("blocks", nn.Sequential(OrderedDict([
            ("norm", nn.LayerNorm(4)),
            ("mlp", nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 4))),
            ("proj", nn.Linear(4, 4))]))),
        ("head", nn.Linear(4, 3))]))
    each_submodule(lambda module, name: init_layer(module, name, head_bias=-math.log(9)),
                   model)
    w = L.empty(3, 4, dtype=L.float64)
    init.trunc_normal_(w, mean=0.5, std=0.02, a=0.45, b=0.55)
    ortho = L.empty(4, 2, 3, 3)
    init.orthogonal_(ortho, gain=0.5)
    lecun = L.empty(5, 7)
    by_fans_(lecun, draw="truncated_normal")
    fans = init._calculate_fan_in_and_fan_out(model.vid.weight)
    return dict(state=model.state_dict(), visited=visited, w=w, ortho=ortho, lecun=lecun,
                fans=fans, gain=[init.calculate_gain(n, p) for n, p in
                                 (("leaky_relu", 0.2), ("selu", None), ("conv3d", None))])


@program
def torchvision_stochastic_depth_row_and_batch_modes_with_yolo_grid_decoding(L):
    """torchvision.ops.stochastic_depth in its two modes ('row': a mask of shape [N, 1, ...],
    'batch': one draw) by torch.empty(size, dtype=..., device=...).bernoulli_(survival) and
    div_(survival) when survival > 0, ValueErrors for p outside [0, 1] and for a bad mode; and
    YOLOv5's grid decoding (our code): the grid by torch.meshgrid(y, x, indexing='ij'),
    torch.stack((xv, yv), 2).expand(1, na, ny, nx, 2) - 0.5, the anchor grid by view and expand,
    the output view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2).contiguous(), sigmoid().split((2,
    2, nc + 1), 4), xy and wh decoded and torch.cat((xy, wh, conf), 4) collected by view(bs, -1,
    no) and cat over levels."""
    nn = L.nn

    def stochastic_depth(x, p, mode, training=True):
        # "row": each sample's branch kept or dropped alone; "batch": one draw for all
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        if mode not in ("batch", "row"):
            raise ValueError(f"unknown mode {mode!r}: 'batch' or 'row'")
        if not training or p == 0.0:
            return x
        keep = 1.0 - p
        shape = [x.shape[0] if mode == "row" else 1] + [1] * (x.ndim - 1)
        mask = L.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        if keep > 0.0:
            mask.div_(keep)
        return x * mask

    class GridDecoder(nn.Module):
        """Per level: a 1x1 conv to anchors * (4 + 1 + classes) channels, rearranged to
        (n, anchor, y, x, field); sigmoid outputs turned into boxes in pixels, the centre
        offset in (-0.5, 1.5) cells and the size up to 4 anchor sizes."""

        def __init__(self, nc=2, anchors=((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119)),
                     ch=(4, 6)):
            super().__init__()
            self.nc, self.fields = nc, nc + 5
            self.levels, self.per_cell = len(anchors), len(anchors[0]) // 2
            self.register_buffer("anchors",
                                 L.tensor(anchors).float().view(self.levels, -1, 2))
            self.m = nn.ModuleList(nn.Conv2d(c, self.fields * self.per_cell, 1) for c in ch)
            self.stride = L.tensor([8.0, 16.0])

        def cells(self, nx, ny, level):
            shape = 1, self.per_cell, ny, nx, 2
            yv, xv = L.meshgrid(L.arange(ny, dtype=L.float32), L.arange(nx, dtype=L.float32),
                                indexing="ij")
            offsets = L.stack((xv, yv), 2).expand(shape) - 0.5
            sizes = (self.anchors[level] * self.stride[level]).view(
                (1, self.per_cell, 1, 1, 2)).expand(shape)
            return offsets, sizes

        def forward(self, feats):
            boxes, raw = [], []
            for level, (conv, f) in enumerate(zip(self.m, feats)):
                p = conv(f)
                n, _, ny, nx = p.shape
                p = p.view(n, self.per_cell, self.fields, ny, nx).permute(0, 1, 3, 4, 2)
                p = p.contiguous()
                raw.append(p)
                offsets, sizes = self.cells(nx, ny, level)
                xy, wh, rest = p.sigmoid().split((2, 2, self.nc + 1), 4)
                decoded = L.cat(((xy * 2 + offsets) * self.stride[level],
                                 (wh * 2) ** 2 * sizes, rest), 4)
                boxes.append(decoded.view(n, self.per_cell * nx * ny, self.fields))
            return L.cat(boxes, 1), raw

    x = _f32(L, 4, 3, 2, 2, seed=131)
    L.manual_seed(132)
    row = stochastic_depth(x, 0.5, "row")
    batch = stochastic_depth(x, 0.3, "batch")
    allgone = stochastic_depth(x, 1.0, "row")
    errs = [err(lambda: stochastic_depth(x, 1.5, "row")),
            err(lambda: stochastic_depth(x, 0.5, "col"))]
    L.manual_seed(133)
    det = GridDecoder()
    feats = [_f32(L, 2, 4, 4, 6, seed=134), _f32(L, 2, 6, 2, 3, seed=135)]
    out, raw = det(feats)
    return dict(row=row, batch=batch, allgone=allgone, errs=errs, out=out,
                raw_shapes=[r.shape for r in raw], anchors=det.anchors)


@program
def conv_bn_fusion_and_channels_last_memory_format_for_inference(L):
    """Inference preparation as deployment scripts write it: fuse_conv_bn_eval and
    fuse_conv_bn_weights folding eval BatchNorm statistics into a conv (with and without a
    conv bias), fuse_linear_bn_eval; model.to(memory_format=torch.channels_last) and inputs
    .contiguous(memory_format=torch.channels_last) (the strides, is_contiguous under both
    formats, the outputs equal to the contiguous run); convert_conv2d_weight_memory_format;
    torch.nn.utils.parameters_to_vector / vector_to_parameters round trip, and the view error
    parameters_to_vector meets on channels-last weights."""
    nn = L.nn
    U = nn.utils
    L.manual_seed(141)
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False).double()
    bn = nn.BatchNorm2d(4).double()
    conv2 = nn.Conv2d(4, 4, (1, 3), padding=(0, 1), groups=2).double()
    bn2 = nn.BatchNorm2d(4, eps=1e-3, affine=False).double()
    x = _t(L, 2, 3, 5, 6, seed=142)
    for _ in range(3):                       # some running statistics
        bn2(conv2(bn(conv(x))))
    seq = nn.Sequential(conv, bn, nn.ReLU(), conv2, bn2).eval()
    ref = seq(x)
    fused = nn.Sequential(U.fuse_conv_bn_eval(conv, bn), nn.ReLU(),
                          U.fuse_conv_bn_eval(conv2, bn2)).eval()
    fw, fb = U.fuse_conv_bn_weights(conv.weight, None, bn.running_mean, bn.running_var,
                                    bn.eps, bn.weight, bn.bias)
    lin, bn1 = nn.Linear(3, 4).double(), nn.BatchNorm1d(4).double()
    bn1(lin(_t(L, 5, 3, seed=143)))
    lin.eval(), bn1.eval()
    lf = U.fuse_linear_bn_eval(lin, bn1)
    xl = _t(L, 2, 3, seed=144)
    vec = U.parameters_to_vector(fused.parameters())
    U.vector_to_parameters(vec * 2, fused.parameters())
    plain = fused(x)
    cl = fused.to(memory_format=L.channels_last)
    xc = x.contiguous(memory_format=L.channels_last)
    out_cl = cl(xc)
    view_err = err(lambda: U.parameters_to_vector(cl.parameters()))
    conv3 = U.convert_conv2d_weight_memory_format(nn.Conv2d(2, 2, 3).double(),
                                                  L.channels_last)
    return dict(ref=ref, fused=fused(x), fw=fw, fb=fb, fused_rg=fw.requires_grad,
                lin=(lin(xl), bn1(lin(xl)), lf(xl)), lfw=lf.weight,
                xc_strides=xc.stride(), xc_cl=xc.is_contiguous(memory_format=L.channels_last),
                xc_c=xc.is_contiguous(), out_cl=out_cl, plain=plain, view_err=view_err,
                w_cl=fused[0].weight.is_contiguous(memory_format=L.channels_last),
                w3=conv3.weight.stride(), vec=vec, doubled=fused[2].bias,
                types=[type(m).__name__ for m in fused])


@program
def empty_batches_and_zero_dim_tensors_through_model_zoo_layers(L):
    """What a detection or sampling loop meets when a batch comes out empty: conv2d,
    depthwise conv, linear, BatchNorm2d in eval, LayerNorm, GroupNorm, F.interpolate and
    adaptive pooling over a batch of 0; cross_entropy's mean over no targets (nan) and sum
    (0); max over an empty dim (the IndexError words) and amax's; topk(0); cat and stack of
    empties; a backward through the empty path giving zero-filled parameter gradients; and
    0-d tensors: item(), indexing with None and Ellipsis, expand, stack of scalars,
    view(1), where with 0-d operands, clip_grad_norm_'s 0-d total."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(151)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                        nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.GroupNorm(2, 4),
                        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.LayerNorm(16),
                        nn.Linear(16, 5)).double()
    net[1].eval()
    x = L.zeros(0, 3, 6, 6, dtype=L.float64, requires_grad=True)
    out = net(x)
    up = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    tgt = L.zeros(0, dtype=L.long)
    ce_mean = F.cross_entropy(out, tgt)
    ce_sum = F.cross_entropy(out, tgt, reduction="sum")
    ce_sum.backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    e = L.zeros(3, 0, dtype=L.float64)
    max_err = err(lambda: e.max(dim=1))
    amax_err = err(lambda: e.amax(1))
    tk = e.topk(0, dim=1)
    cat = L.cat([L.zeros(0, 4), L.ones(2, 4)], dim=0)
    stk = L.stack([L.zeros(0, 2), L.zeros(0, 2)], dim=-1)
    s = L.tensor(2.5, dtype=L.float64, requires_grad=True)
    pieces = [s[None], s[...], s.expand(2, 3), L.stack([s, s * 2, s ** 2]), s.view(1),
              L.where(s > 2, s, L.tensor(0.0, dtype=L.float64)), s.reshape(()), s.unsqueeze(-1)]
    sum(p.sum() for p in pieces).backward()
    w = nn.Parameter(L.tensor(3.0, dtype=L.float64))
    w.grad = L.tensor(4.0, dtype=L.float64)
    total = nn.utils.clip_grad_norm_(w, 1.0)
    return dict(out=out, up=up, ce_mean=ce_mean, ce_sum=ce_sum, grads=grads, max_err=max_err,
                amax_err=amax_err, tk=tuple(tk), cat=cat, stk=stk, item=s.item(),
                pieces=pieces, sg=s.grad, total=total, wg=w.grad, dim=s.dim(),
                numel=s.numel(), shape=s.shape)


@program
def out_arguments_negative_dims_and_inplace_ops_on_views_in_library_code(L):
    """The less common call forms library code uses: torch.cat / stack / mul / add(alpha=) /
    sum(dim=-1) / cumsum / matmul / clamp / where with out= (preallocated buffers, a resized
    empty out, the returned tensor being out), torch.max(x, dim=-2, out=(values, indices)) and
    sort(out=), negative dims everywhere (flatten(-3, -1), movedim, narrow(-1, ...), transpose
    (-1, -3), softmax(-2)), in-place ops on views (a slice's add_, a transposed view's
    mul_, diagonal().fill_, unfold().copy_ through the base, select().zero_) seen through the
    base, and a gradient through in-place writes into a cloned leaf's views."""
    rng = np.random.RandomState(161)
    a = L.tensor(rng.randn(2, 3, 4))
    b = L.tensor(rng.randn(2, 3, 4))
    outs = {}
    buf = L.empty(0, dtype=L.float64)
    r = L.cat([a, b], dim=-1, out=buf)
    outs["cat_is_out"] = r is buf
    outs["cat"] = buf
    st = L.empty(2, 2, 3, 4, dtype=L.float64)
    L.stack((a, b), dim=1, out=st)
    outs["stack"] = st
    m = L.empty_like(a)
    L.mul(a, b, out=m)
    ad = L.zeros(2, 3, 4, dtype=L.float64)
    L.add(a, b, alpha=-0.5, out=ad)
    sm = L.empty(2, 3, dtype=L.float64)
    L.sum(a, dim=-1, out=sm)
    cs = L.empty(0, dtype=L.float64)
    L.cumsum(a, -2, out=cs)
    mm = L.empty(2, 3, 3, dtype=L.float64)
    L.matmul(a, b.transpose(-1, -2), out=mm)
    cl = L.empty_like(a)
    L.clamp(a, min=-0.5, max=0.5, out=cl)
    vals, idx = L.empty(0, dtype=L.float64), L.empty(0, dtype=L.long)
    L.max(a, dim=-2, out=(vals, idx))
    sv, si = L.empty(0, dtype=L.float64), L.empty(0, dtype=L.long)
    L.sort(a, dim=-1, descending=True, out=(sv, si))
    wh = L.empty_like(a)
    L.where(a > 0, a, b, out=wh)
    outs.update(m=m, ad=ad, sm=sm, cs=cs, mm=mm, cl=cl, vals=vals, idx=idx, sv=sv, si=si,
                wh=wh)
    outs["neg"] = [a.flatten(-3, -1), a.movedim(-1, 0), a.narrow(-1, 1, 2),
                   a.transpose(-1, -3), a.softmax(-2), a.unflatten(-1, (2, -1)),
                   a.permute(-1, -3, -2), a.sum((-1, -3)), a.mean(-2, keepdim=True)]
    base = L.zeros(4, 5, dtype=L.float64)
    base[1:3].add_(1.0)
    base.t()[2].mul_(3.0)
    base[:4, :4].diagonal().fill_(7.0)
    base.unfold(1, 2, 2)[0, 1].copy_(L.tensor([-1.0, -2.0], dtype=L.float64))
    base.select(-1, -1).zero_()
    outs["base"] = base
    leaf = L.tensor(rng.randn(3, 4), requires_grad=True)
    work = leaf.clone()
    work[:, 1:].mul_(2.0)
    work.t()[0].add_(work[:, 2])
    work.diagonal().exp_()
    work.sum().backward()
    outs["leaf_grad"] = leaf.grad
    outs["work"] = work
    return outs


@program
def swa_utils_ema_averaged_model_update_bn_and_batchnorm_checkpoint_versions(L):
    """torch.optim.swa_utils as recent training scripts use it: AveragedModel with
    multi_avg_fn=get_ema_multi_avg_fn(0.9) and use_buffers=True, another with the default
    running average (n_averaged), SWALR(anneal_strategy='cos', anneal_epochs=2) after a
    warm phase, update_bn over a DataLoader of tuples resetting and recomputing the running
    stats (momentum None, restored after); and BatchNorm's versioned loading: an old
    checkpoint without num_batches_tracked (a plain dict, no _metadata) loads strictly, the
    counter reset to 0, while one carrying _metadata version 2 reports it missing."""
    nn, F = L.nn, L.nn.functional
    swa = L.optim.swa_utils
    L.manual_seed(171)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 1)).double()
    ema = swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9),
                            use_buffers=True)
    avg = swa.AveragedModel(model)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    sched = swa.SWALR(opt, swa_lr=0.02, anneal_epochs=2, anneal_strategy="cos")
    x = _t(L, 12, 3, seed=172)
    y = _t(L, 12, 1, seed=173)
    ds = L.utils.data.TensorDataset(x, y)
    loader = L.utils.data.DataLoader(ds, batch_size=4, shuffle=False)
    lrs = []
    for epoch in range(4):
        for xb, yb in loader:
            opt.zero_grad()
            F.mse_loss(model(xb), yb).backward()
            opt.step()
            ema.update_parameters(model)
        if epoch >= 1:
            avg.update_parameters(model)
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    swa.update_bn(loader, avg)
    with L.no_grad():
        avg.eval(), ema.eval()
        outs = (avg(x), ema(x))
    old = {k: v for k, v in model.state_dict().items() if "num_batches" not in k}
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                          nn.Linear(4, 1)).double()
    fresh[1].num_batches_tracked.fill_(5)
    res = fresh.load_state_dict(old)
    versioned = model.state_dict()
    meta = versioned._metadata
    trimmed = OrderedDict((k, v) for k, v in versioned.items() if "num_batches" not in k)
    trimmed._metadata = meta
    missing = err(lambda: fresh.load_state_dict(trimmed))
    return dict(lrs=lrs, n_avg=avg.n_averaged, ema_n=ema.n_averaged, outs=outs,
                avg_bn=(avg.module[1].running_mean, avg.module[1].running_var,
                        avg.module[1].momentum),
                ema_sd=ema.module.state_dict(), res=repr(res),
                nbt=fresh[1].num_batches_tracked, missing=missing,
                version=meta.get("1", {}).get("version"))


@program
def matrix_nms_and_soft_nms_rescoring_of_detections(L):
    """Matrix NMS as SOLOv2 defines it (an IoU matrix by mm of flattened masks,
    triu(diagonal=1), each mask's own largest overlap by max(0) expanded and transposed, the
    gaussian decay ratio exp(-sigma iou^2) / exp(-sigma own^2) and the linear (1 - iou) /
    (1 - own), each reduced by min(0)) and the Soft-NMS loop of
    Bodla et al. (a gaussian re-weighting of the remaining scores after each argmax pick,
    the picks' original indices carried along with index_select and cat, a score floor),
    the survivors ranked by torch.argsort(descending=True, stable=True)."""
    rng = np.random.RandomState(181)
    masks = L.tensor(rng.rand(6, 5, 5) > 0.5)
    labels = L.tensor([0, 1, 0, 0, 1, 1])
    scores = L.tensor(rng.uniform(0.2, 1.0, 6))
    order = L.argsort(scores, descending=True)
    masks, labels, scores = masks[order], labels[order], scores[order]
    sum_masks = masks.sum((1, 2)).float()

    def matrix_nms(stack, classes, conf, kernel, sigma=2.0):
        """Each score decayed by the mask's overlap with higher-ranked masks of its class,
        the decay eased by how much those masks are overlapped themselves (the min over the
        higher-ranked ones of a ratio of two decays)."""
        n = len(classes)
        flat = stack.reshape(n, -1).float()
        inter = L.mm(flat, flat.transpose(1, 0))
        area_rows = sum_masks.expand(n, n)
        union = area_rows + area_rows.transpose(1, 0) - inter
        above = (inter / union).triu(diagonal=1)      # [i, j]: i ranked above j
        cls_rows = classes.expand(n, n)
        same_cls = (cls_rows == cls_rows.transpose(1, 0)).float().triu(diagonal=1)
        overlap = above * same_cls
        # column j's entry in row i: the largest overlap of mask i with one ranked above it
        own_worst = overlap.max(0)[0].expand(n, n).transpose(1, 0)
        if kernel == "gaussian":
            ratio = L.exp(-1 * sigma * (overlap ** 2)) / L.exp(-1 * sigma * (own_worst ** 2))
        else:
            ratio = (1 - overlap) / (1 - own_worst)
        return conf.float() * ratio.min(0)[0]

    def box_iou_one(box, boxes):
        lt = L.maximum(box[:2], boxes[:, :2])
        rb = L.minimum(box[2:], boxes[:, 2:])
        wh = (rb - lt).clamp_(min=0)
        inter = wh.prod(-1)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        return inter / (area(box) + area(boxes) - inter)

    def soft_nms(boxes, scores, sigma=0.5, score_thresh=0.05):
        idxs = L.arange(len(scores))
        keep, kept_scores = [], []
        boxes, scores = boxes.clone(), scores.clone()
        while scores.numel() > 0:
            i = L.argmax(scores)
            keep.append(idxs[i].item())
            kept_scores.append(scores[i].clone())
            rest = L.cat([L.arange(0, i), L.arange(i + 1, scores.numel())])
            ious = box_iou_one(boxes[i], boxes.index_select(0, rest))
            boxes, idxs = boxes[rest], idxs[rest]
            scores = scores[rest] * L.exp(-(ious * ious) / sigma)
            alive = scores > score_thresh
            boxes, idxs, scores = boxes[alive], idxs[alive], scores[alive]
        return L.tensor(keep), L.stack(kept_scores) if kept_scores else scores

    g = matrix_nms(masks, labels, scores, "gaussian")
    lin = matrix_nms(masks, labels, scores, "linear")
    xy = rng.uniform(0, 10, (7, 2))
    boxes = L.tensor(np.concatenate([xy, xy + rng.uniform(2, 6, (7, 2))], 1))
    bscores = L.tensor(rng.uniform(0.1, 1.0, 7), requires_grad=True)
    keep, ks = soft_nms(boxes, bscores)
    ks.sum().backward()
    return dict(order=order, g=g, lin=lin, rank=L.argsort(g, descending=True, stable=True),
                keep=keep, ks=ks, grad=bscores.grad)


@program
def halonet_blocked_local_attention_by_unfold_with_checkpoint_sequential(L):
    """timm's HaloAttn: queries from non-overlapping blocks by reshape/permute, keys and values
    from overlapping halo windows by F.pad then Tensor.unfold twice (size block + 2 halo,
    step block) and reshape, a learned block-to-window bias, the attention folded back to
    the map; BoTNet's MHSA with relative-position logits by timm's rel_logits_1d trick (F.pad to
    shift, flatten, reshape and slice, expand and permute) for height and width;
    run through torch.utils.checkpoint.checkpoint_sequential(segments=2,
    use_reentrant=False), and the second-order-free gradients compared with the plain run."""
    nn, F = L.nn, L.nn.functional

    def relative_to_absolute(q, table, order):
        # q (b, h, w, d), table (2w - 1, d) of embeddings for offsets -(w-1)..(w-1):
        # logits against each offset, then re-indexed so that [.., i, j] is offset j - i
        # (the pad-flatten-reshape skew), broadcast over the other axis and permuted
        b, h, w, _ = q.shape
        by_offset = (q @ table.transpose(-1, -2)).reshape(-1, w, 2 * w - 1)
        skewed = F.pad(F.pad(by_offset, [0, 1]).flatten(1), [0, w - 1])
        skewed = skewed.reshape(-1, w + 1, 2 * w - 1)[:, :w, w - 1:]
        return skewed.reshape(b, h, 1, w, w).expand(-1, -1, h, -1, -1).permute(order)

    class BlockHaloAttention(nn.Module):
        """Queries in non-overlapping block x block tiles; each tile attends to its tile grown
        by `halo` pixels on every side (keys and values by unfold of the padded map), with a
        learned bias per head, query position and key position."""

        def __init__(self, dim, heads=2, dim_head=4, block=2, halo=1):
            super().__init__()
            self.heads, self.dim_head, self.block, self.halo = heads, dim_head, block, halo
            self.win = block + 2 * halo
            self.q = nn.Conv2d(dim, heads * dim_head, 1, bias=False)
            self.kv = nn.Conv2d(dim, 2 * heads * dim_head, 1, bias=False)
            self.rel_bias = nn.Parameter(0.1 * L.randn(heads, block * block, self.win ** 2))

        def forward(self, x):
            n, _, h, w = x.shape
            t, d = self.block, self.dim_head
            rows, cols = h // t, w // t
            tiles = rows * cols
            # (n heads, tiles, t t, d)
            q = self.q(x).reshape(-1, d, rows, t, cols, t).permute(0, 1, 3, 5, 2, 4)
            q = q.reshape(n * self.heads, d, -1, tiles).transpose(1, 3)
            # (n heads, tiles, win win, 2 d)
            kv = F.pad(self.kv(x), [self.halo] * 4).unfold(2, self.win, t).unfold(3, self.win, t)
            kv = kv.reshape(n * self.heads, 2 * d, tiles, -1).permute(0, 2, 3, 1)
            k, v = L.split(kv, [d, d], dim=-1)
            logits = (q @ k.transpose(-1, -2)) * d ** -0.5 + self.rel_bias.repeat(n, 1, 1)[:, None]
            out = (logits.softmax(dim=-1) @ v).transpose(1, 3)
            out = out.reshape(-1, t, t, rows, cols).permute(0, 3, 1, 4, 2).contiguous()
            return out.view(n, -1, h, w)

    class RelPosSelfAttention(nn.Module):
        """One-head self-attention over an h x w map with 2-d relative position logits (a
        table per axis)."""

        def __init__(self, dim, H, W, dim_head=4):
            super().__init__()
            self.qkv = nn.Conv2d(dim, 3 * dim_head, 1, bias=False)
            self.height_rel = nn.Parameter(L.randn(2 * H - 1, dim_head) * dim_head ** -0.5)
            self.width_rel = nn.Parameter(L.randn(2 * W - 1, dim_head) * dim_head ** -0.5)
            self.dh = dim_head

        def forward(self, x):
            n, _, h, w = x.shape
            q, k, v = self.qkv(x).reshape(n, 3 * self.dh, -1).transpose(-1, -2).split(
                self.dh, dim=-1)
            q = q * self.dh ** -0.5
            grid = q.reshape(n, h, w, -1)
            rel = (relative_to_absolute(grid, self.width_rel, (0, 1, 3, 2, 4))
                   + relative_to_absolute(grid.transpose(1, 2), self.height_rel,
                                          (0, 3, 1, 4, 2)))
            weights = (q @ k.transpose(-1, -2) + rel.reshape(n, h * w, h * w)).softmax(dim=-1)
            return (weights @ v).transpose(-1, -2).reshape(n, -1, h, w)

    L.manual_seed(191)
    net = nn.Sequential(nn.Conv2d(3, 6, 1), BlockHaloAttention(6), nn.GELU(), nn.Conv2d(8, 6, 1),
                        RelPosSelfAttention(6, 4, 6), nn.Conv2d(4, 2, 1)).double()
    x = _t(L, 2, 3, 4, 6, seed=192, grad=True)
    y = net(x)
    y.sin().sum().backward()
    plain = dict(y=y, xg=x.grad.clone(), grads=grads_of(net))
    net.zero_grad()
    x.grad = None
    y2 = L.utils.checkpoint.checkpoint_sequential(net, 2, x, use_reentrant=False)
    y2.sin().sum().backward()
    return dict(plain=plain, y2=y2, xg2=x.grad, grads2=grads_of(net))


@program
def training_checkpoint_with_numpy_metrics_under_weights_only_loading(L):
    """A training script's checkpoint as they are written in the wild: the state dict beside
    metrics that came out of numpy (best_acc = np.float64 from a np.mean, the epoch as
    np.int64, a np.bool_ flag, a per-class np.ndarray) saved by torch.save into a BytesIO; the
    default weights_only=True load refuses it (an UnpicklingError naming numpy's scalar
    global), torch.serialization.safe_globals([...scalar, np.dtype, the dtype classes]) lets
    it through keeping the numpy types, weights_only=False too; a checkpoint of tensors,
    Python numbers and strings only loads by default; get_unsafe_globals_in_checkpoint lists
    what would be refused."""
    nn = L.nn
    L.manual_seed(201)
    model = nn.Linear(3, 2).double()
    accs = np.array([0.5, 0.75, 0.625])
    ckpt = {"state_dict": model.state_dict(), "best_acc": np.mean(accs),
            "epoch": np.int64(7), "improved": np.bool_(True), "lr": 0.01, "arch": "linear"}
    buf = io.BytesIO()
    L.save(ckpt, buf)
    data = buf.getvalue()

    def refused():
        try:
            L.load(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001
            return type(e).__name__, "Unsupported global: GLOBAL numpy._core.multiarray.scalar" \
                in str(e)
        return "loaded"

    allowed = [np._core.multiarray.scalar, np.dtype, np.dtypes.Float64DType,
               np.dtypes.Int64DType, np.dtypes.BoolDType]
    with L.serialization.safe_globals(allowed):
        safe = L.load(io.BytesIO(data))
    full = L.load(io.BytesIO(data), weights_only=False)
    unsafe = sorted(L.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)))
    plain = {"state_dict": model.state_dict(), "best_acc": float(np.mean(accs)),
             "epoch": 7, "arch": "linear"}
    buf2 = io.BytesIO()
    L.save(plain, buf2)
    buf2.seek(0)
    back = L.load(buf2)
    per_class = io.BytesIO()
    L.save({"per_class": accs}, per_class)
    arr = L.load(io.BytesIO(per_class.getvalue()), weights_only=False)["per_class"]
    return dict(refused=refused(), safe={k: (type(v).__name__, v) for k, v in safe.items()
                                         if k != "state_dict"},
                safe_sd=safe["state_dict"],
                full={k: type(v).__name__ for k, v in full.items()}, unsafe=unsafe,
                back=back, arr=arr, best=full["best_acc"], epoch=int(full["epoch"]))



@program(rtol=2e-5, atol=1e-6)
def timm_checkpoint_filter_adapting_pretrained_weights_to_a_new_model(L):
    """Adapting pretrained weights to a changed model: a checkpoint filter resizing a ViT's
    pos_embed from a 3x3 to a 4x5 grid (the class token split off, reshape/permute to NCHW,
    F.interpolate(mode='bicubic', antialias=True, align_corners=False), back), an RGB stem
    summed over its input channels for 1-channel input and tiled for 5
    (scaled by 3 / in_chans), the classifier dropped when num_classes differs and loaded with
    strict=False; a load_state_dict pre-hook renaming legacy keys (with_module=True), a
    state_dict post-hook, tied embedding weights (named_parameters(remove_duplicate=False),
    state_dict(keep_vars=True)), and the result's forward."""
    nn, F = L.nn, L.nn.functional

    def regrid_positions(table, new_hw, n_special=1):
        """A (1, special + h*w, d) position table whose square grid part is resized to
        ``new_hw`` by antialiased bicubic interpolation in float32, the special rows kept."""
        head, grid = table[:, :n_special], table[:, n_special:]
        side = int(math.sqrt(grid.shape[1]))
        width = grid.shape[-1]
        kind = grid.dtype
        img = grid.float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
        img = F.interpolate(img, size=new_hw, mode="bicubic", antialias=True,
                            align_corners=False)
        return L.cat([head, img.permute(0, 2, 3, 1).reshape(1, -1, width).to(kind)], dim=1)

    def stem_for_channels(n_in, weight):
        """An RGB stem's weight for n_in input channels: summed over RGB for one channel;
        for another count, RGB tiled and cut to n_in, then scaled by 3 / n_in."""
        kind = weight.dtype
        w = weight.float()
        if n_in == 1:
            w = w.sum(dim=1, keepdim=True)
        elif n_in != 3:
            tiles = int(math.ceil(n_in / 3))
            w = w.repeat(1, tiles, 1, 1)[:, :n_in, :, :]
            w *= (3 / float(n_in))
        return w.to(kind)

    class TinyViT(nn.Module):
        def __init__(self, in_chans=3, grid=(3, 3), num_classes=4, dim=6):
            super().__init__()
            self.patch_embed = nn.Conv2d(in_chans, dim, 2, stride=2)
            self.cls_token = nn.Parameter(L.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(L.zeros(1, grid[0] * grid[1] + 1, dim))
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, num_classes)

        def forward(self, x):
            x = self.patch_embed(x).flatten(2).transpose(1, 2)
            x = L.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
            return self.head(self.norm(x)[:, 0])

    L.manual_seed(211)
    src = TinyViT()
    with L.no_grad():
        for p in src.parameters():
            p.normal_(0, 0.5)
    ckpt = {("fc_norm." + k[5:] if k.startswith("norm.") else k): v
            for k, v in src.state_dict().items()}              # a legacy naming

    def rename_legacy(module, state_dict, prefix, local_metadata, strict, missing_keys,
                      unexpected_keys, error_msgs):
        for k in [k for k in state_dict if k.startswith(prefix + "fc_norm.")]:
            state_dict[prefix + "norm." + k[len(prefix) + 8:]] = state_dict.pop(k)

    def filter_fn(state_dict, model, in_chans):
        out = {}
        for k, v in state_dict.items():
            if k == "pos_embed" and v.shape != model.pos_embed.shape:
                v = regrid_positions(v, (4, 5))
            elif k == "patch_embed.weight" and v.shape[1] != in_chans:
                v = stem_for_channels(in_chans, v)
            out[k] = v
        return out

    results = {}
    for in_chans in (1, 5):
        model = TinyViT(in_chans=in_chans, grid=(4, 5), num_classes=7)
        model._register_load_state_dict_pre_hook(rename_legacy, with_module=True)
        sd = filter_fn(ckpt, model, in_chans)
        sd = {k: v for k, v in rename_legacy_keys(sd).items()}
        if sd["head.weight"].shape[0] != 7:
            sd.pop("head.weight"), sd.pop("head.bias")
        res = model.load_state_dict(sd, strict=False)
        x = _f32(L, 2, in_chans, 8, 10, seed=212 + in_chans)
        results[in_chans] = dict(missing=res.missing_keys, unexpected=res.unexpected_keys,
                                 pos=model.pos_embed, stem=model.patch_embed.weight,
                                 out=model(x))
    fresh = TinyViT()
    fresh._register_load_state_dict_pre_hook(rename_legacy, with_module=True)
    strict_res = fresh.load_state_dict(ckpt)

    def drop_cls(module, state_dict, prefix, local_metadata):
        del state_dict[prefix + "cls_token"]

    fresh.register_state_dict_post_hook(drop_cls)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(5, 3)
            self.out = nn.Linear(3, 5, bias=False)
            self.out.weight = self.emb.weight

    tied = Tied()
    return dict(results=results, strict=repr(strict_res), keys=list(fresh.state_dict()),
                tied=([n for n, _ in tied.named_parameters()],
                      [n for n, _ in tied.named_parameters(remove_duplicate=False)],
                      list(tied.state_dict(keep_vars=True)),
                      [type(v).__name__ for v in tied.state_dict(keep_vars=True).values()]))


def rename_legacy_keys(state_dict):
    """The checkpoint's legacy 'fc_norm.' keys as 'norm.' (what timm's filters do by hand)."""
    return {("norm." + k[8:] if k.startswith("fc_norm.") else k): v
            for k, v in state_dict.items()}


@program
def custom_lr_scheduler_subclass_per_class_metrics_and_left_padded_batches(L):
    """Utilities a training repository writes itself: an LRScheduler subclass (warmup then
    cosine from get_lr over self.last_epoch and base_lrs, a _get_closed_form_lr, its state
    dict and a resumed copy with last_epoch), per-class accuracy and a confusion matrix by
    scatter_reduce(reduce='sum'/'amax', include_self=False), bincount(minlength) and
    index_put_ with accumulate=True, and a left-padded batch for a decoder by
    pad_sequence(padding_side='left') with its attention mask; one AdamW step on it."""
    nn, F = L.nn, L.nn.functional

    class WarmupCosine(L.optim.lr_scheduler.LRScheduler):
        def __init__(self, optimizer, warmup, total, min_lr=0.0, last_epoch=-1):
            self.warmup, self.total, self.min_lr = warmup, total, min_lr
            super().__init__(optimizer, last_epoch)

        def _factor(self, step):
            if step < self.warmup:
                return (step + 1) / self.warmup
            t = (step - self.warmup) / max(1, self.total - self.warmup)
            return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

        def get_lr(self):
            return [self.min_lr + (b - self.min_lr) * self._factor(self.last_epoch)
                    for b in self.base_lrs]

        def _get_closed_form_lr(self):
            return self.get_lr()

    L.manual_seed(221)
    emb = nn.Embedding(10, 4, padding_idx=0)
    lin = nn.Linear(4, 3)
    opt = L.optim.AdamW([{"params": emb.parameters()}, {"params": lin.parameters(),
                                                         "lr": 3e-3}], lr=1e-2)
    sch = WarmupCosine(opt, warmup=2, total=6, min_lr=1e-4)
    seqs = [L.tensor([3, 4, 5]), L.tensor([6, 7, 8, 9, 2]), L.tensor([1])]
    batch = nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=0,
                                      padding_side="left")
    mask = batch != 0
    lrs = []
    for _ in range(7):
        opt.zero_grad()
        h = emb(batch)
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        loss = F.cross_entropy(lin(pooled), L.tensor([0, 2, 1]))
        loss.backward()
        opt.step()
        sch.step()
        lrs.append(sch.get_last_lr())
    sd = sch.state_dict()
    opt2 = L.optim.AdamW([{"params": emb.parameters()}, {"params": lin.parameters(),
                                                          "lr": 3e-3}], lr=1e-2)
    for g, g0 in zip(opt2.param_groups, opt.param_groups):
        g["initial_lr"] = g0["initial_lr"]
    resumed = WarmupCosine(opt2, warmup=2, total=6, min_lr=1e-4, last_epoch=sd["last_epoch"])
    rng = np.random.RandomState(222)
    pred, target = L.tensor(rng.randint(0, 4, 20)), L.tensor(rng.randint(0, 4, 20))
    correct = (pred == target).double()
    per_class = L.zeros(4, dtype=L.float64).scatter_reduce(0, target, correct, reduce="sum",
                                                          include_self=False)
    counts = L.bincount(target, minlength=5)
    conf = L.zeros(4, 4, dtype=L.long)
    conf.index_put_((target, pred), L.ones(20, dtype=L.long), accumulate=True)
    best = L.full((4,), -1.0, dtype=L.float64).scatter_reduce(
        0, target, L.tensor(rng.rand(20)), reduce="amax", include_self=False)
    return dict(lrs=lrs, sd=sd, resumed=resumed.get_last_lr(), batch=batch, mask=mask,
                emb_g=emb.weight.grad, per_class=per_class, counts=counts, conf=conf,
                best=best)


# ----------------------------------------------------------------------------------------------
# (1.5-2 s each: run with --runslow, to keep the default suite short)
_SLOW = {"efficientnet_mbconv_tf_same_padding_squeeze_excite_and_drop_connect"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


@pytest.mark.parametrize("need_weights", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_multi_head_attention_forward_out_projection_may_change_the_width(need_weights,
                                                                            batched):
    """F.multi_head_attention_forward reshapes the out-projection's result to its own width
    (CLIP's attention pooling projects 8 channels to 5), as PyTorch's view(tgt, bsz, -1)."""
    import minigrad
    rng = np.random.RandomState(0)
    shape = (3, 2, 8) if batched else (3, 8)
    arrays = dict(x=rng.randn(*shape), w=rng.randn(24, 8), b=rng.randn(24),
                  ow=rng.randn(5, 8), ob=rng.randn(5))
    got = {}
    for L in (minigrad, torch):
        t = {k: L.tensor(v, requires_grad=True) for k, v in arrays.items()}
        out, w = L.nn.functional.multi_head_attention_forward(
            t["x"][:1], t["x"], t["x"], 8, 2, t["w"], t["b"], None, None, False, 0.0,
            t["ow"], t["ob"], need_weights=need_weights)
        out.square().sum().backward()
        got[L.__name__] = (tuple(out.shape), out.detach().numpy(), t["ow"].grad.numpy(),
                           t["w"].grad.numpy())
    mine, theirs = got["minigrad"], got["torch"]
    assert mine[0] == theirs[0]
    for a, b in zip(mine[1:], theirs[1:]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("value", [np.float64(0.5), np.float32(2.0), np.int64(3),
                                   np.bool_(True), np.str_("x")],
                         ids=["float64", "float32", "int64", "bool", "str"])
def test_numpy_scalars_saved_as_pickles_like_torch(value):
    """A numpy scalar in a checkpoint (np.float64 subclasses float) is pickled as PyTorch
    pickles it: weights_only=True refuses it naming numpy's global, weights_only=False gives
    back the numpy type; both libraries read each other's file alike."""
    import pickle
    import minigrad
    for saver in (minigrad, torch):
        buf = io.BytesIO()
        saver.save({"v": value, "w": saver.ones(2)}, buf)
        data = buf.getvalue()
        for loader in (minigrad, torch):
            with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL numpy"):
                loader.load(io.BytesIO(data))
            back = loader.load(io.BytesIO(data), weights_only=False)["v"]
            assert type(back) is type(value) and back == value


def test_weight_norm_of_a_one_dimensional_weight_and_its_gradients():
    """weight_norm(dim=0) on a 1-d weight (a PReLU's slopes): g = |w| per element, and the
    gradients of g and v PyTorch's (NaN at a zero slope, as PyTorch's)."""
    import minigrad
    got = {}
    for L in (minigrad, torch):
        m = L.nn.PReLU(4).double()
        with L.no_grad():
            m.weight.copy_(L.tensor([0.5, -0.2, 0.0, 1.5]))
        L.nn.utils.parametrizations.weight_norm(m, dim=0)
        y = m(L.tensor(np.random.RandomState(0).randn(3, 4)))
        y.square().sum().backward()
        p = m.parametrizations.weight
        got[L.__name__] = [y.detach().numpy(), p.original0.detach().numpy(),
                           p.original0.grad.numpy(), p.original1.grad.numpy()]
    for a, b in zip(got["minigrad"], got["torch"]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True)
