"""Whole programs in the idioms of code people run, an eleventh round: the model families of
torchvision, timm, YOLO and the GAN and segmentation repositories, their facts (layer order,
shapes, initialisers) rebuilt in our own code.  DenseNet's concatenated features in an
OrderedDict Sequential, SqueezeNet's Fire modules behind ceil-mode pooling, the CIFAR ResNet's
option-A shortcut by a lambda module and F.pad, BiT's weight-standardised convolutions with
GroupNorm, a ViT block (qkv unbind, layer scale, DropPath drawn by bernoulli_, trunc_normal_
init and no-weight-decay groups), ShuffleNet's channel shuffle, Inception branches with
auxiliary logits, an FPN and DeepLab's ASPP resizing by F.interpolate, pix2pix's recursive U-Net
and PatchGAN, DCGAN's init by class name, PointNet's input and feature transforms, AlexNet's
grouped convolutions with local response normalisation, ResNeXt/SE blocks, ECA and Ghost
modules, Res2Net's split hierarchy, YOLOv5's space-to-depth stem, CSP stage and fast SPP,
ConvMixer, and DETR's Hungarian matching with generalised IoU.  Part b holds the rest of the
round (training machinery, autograd extensions, data pipelines, reinforcement learning).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, normal64 as _arr, registry, program_harness, leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


def _make_divisible(v, divisor=8, min_value=None):
    """v rounded to the nearest multiple of ``divisor`` (at least ``min_value``), one step up
    when the rounding lost more than a tenth of v (MobileNet's channel counts)."""
    rounded = max(min_value or divisor, divisor * int(v / divisor + 0.5))
    return rounded + divisor if rounded < 0.9 * v else rounded


# ----------------------------------------------------------------------------------------------
# torchvision-style classifiers
# ----------------------------------------------------------------------------------------------
@program
def densenet_dense_block_concatenated_features_and_ordered_dict_names(L):
    """A DenseNet in torchvision's layout of facts: each unit reads torch.cat of all earlier
    maps, stages added by add_module under numbered names, a transition of BN-ReLU-conv-avgpool
    built as a Sequential subclass, the stem an nn.Sequential of an OrderedDict;
    kaiming_normal_ under the seed, BN weight 1 and bias 0; one training step (running stats
    move), the printed model and its state_dict keys."""
    nn, F = L.nn, L.nn.functional

    def bn_relu_conv(cin, cout, k):
        return [nn.BatchNorm2d(cin), nn.ReLU(inplace=True),
                nn.Conv2d(cin, cout, k, padding=k // 2, bias=False)]

    class Grow(nn.Module):
        """Bottleneck 1x1 to ``widen * growth`` maps, then 3x3 down to ``growth`` new ones."""

        def __init__(self, cin, growth, widen):
            super().__init__()
            self.narrow = nn.Sequential(*bn_relu_conv(cin, widen * growth, 1))
            self.spread = nn.Sequential(*bn_relu_conv(widen * growth, growth, 3))

        def forward(self, maps):
            if isinstance(maps, L.Tensor):
                maps = [maps]
            return self.spread(self.narrow(L.cat(maps, 1)))

    class Stage(nn.ModuleDict):
        def __init__(self, units, cin, growth, widen):
            super().__init__({"unit%d" % j: Grow(cin + j * growth, growth, widen)
                              for j in range(units)})

        def forward(self, x):
            maps = [x]
            for unit in self.values():
                maps.append(unit(maps))
            return L.cat(maps, 1)

    class Shrink(nn.Sequential):
        def __init__(self, cin, cout):
            super().__init__()
            self.bn = nn.BatchNorm2d(cin)
            self.act = nn.ReLU(inplace=True)
            self.mix = nn.Conv2d(cin, cout, 1, bias=False)
            self.half = nn.AvgPool2d(kernel_size=2, stride=2)

    def initialise(model):
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight)
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.constant_(mod.weight, 1)
                nn.init.constant_(mod.bias, 0)
            elif isinstance(mod, nn.Linear):
                nn.init.constant_(mod.bias, 0)

    class Dense(nn.Module):
        def __init__(self, growth=4, stages=(2, 2), width=6, widen=2, classes=3):
            super().__init__()
            self.body = nn.Sequential(OrderedDict(
                stem_conv=nn.Conv2d(2, width, 3, padding=1, bias=False),
                stem_bn=nn.BatchNorm2d(width), stem_act=nn.ReLU(inplace=True),
                stem_pool=nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
            for s, units in enumerate(stages, start=1):
                self.body.add_module("stage%d" % s, Stage(units, width, growth, widen))
                width += units * growth
                if s < len(stages):
                    self.body.add_module("shrink%d" % s, Shrink(width, width // 2))
                    width //= 2
            self.body.add_module("final_bn", nn.BatchNorm2d(width))
            self.fc = nn.Linear(width, classes)
            initialise(self)

        def forward(self, x):
            pooled = F.adaptive_avg_pool2d(F.relu(self.body(x), inplace=True), (1, 1))
            return self.fc(L.flatten(pooled, 1))

    L.manual_seed(0)
    m = Dense().double()
    x = _t(L, 4, 2, 8, 8, seed=1)
    y = L.tensor(_labels(4, 3, 2))
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    return dict(losses=losses, out=m(x), g=grads_of(m), repr=repr(m),
                keys=[(k, tuple(v.shape)) for k, v in m.state_dict().items()],
                rm=m.body.final_bn.running_mean,
                nbt=m.body.stage1.unit1.narrow[0].num_batches_tracked)


@program
def squeezenet_fire_modules_ceil_mode_pooling_and_conv_classifier(L):
    """SqueezeNet 1.1's facts: fire units (a 1x1 squeeze, then 1x1 and 3x3 expansions
    concatenated), max pools with ceil_mode=True on odd sizes, a convolutional classifier
    averaged to 1x1 and flattened; the last conv drawn by normal_(0, 0.01), the others
    kaiming_uniform_."""
    nn, F = L.nn, L.nn.functional

    def conv_relu(cin, cout, k, **kw):
        return nn.Sequential(nn.Conv2d(cin, cout, k, **kw), nn.ReLU(inplace=True))

    class FireUnit(nn.Module):
        def __init__(self, cin, mid, wide1, wide3):
            super().__init__()
            self.pinch = conv_relu(cin, mid, 1)
            self.paths = nn.ModuleList([conv_relu(mid, wide1, 1),
                                        conv_relu(mid, wide3, 3, padding=1)])

        def forward(self, x):
            z = self.pinch(x)
            return L.cat([path(z) for path in self.paths], 1)

    def pool():
        return nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)

    class Squeeze(nn.Module):
        def __init__(self, classes=4):
            super().__init__()
            self.trunk = nn.Sequential(conv_relu(3, 8, 3, stride=2), pool(),
                                       FireUnit(8, 2, 4, 4), FireUnit(8, 2, 4, 4), pool(),
                                       FireUnit(8, 3, 6, 6))
            self.scorer = nn.Conv2d(12, classes, kernel_size=1)
            self.top = nn.Sequential(nn.Dropout(p=0.0), self.scorer, nn.ReLU(inplace=True),
                                     nn.AdaptiveAvgPool2d((1, 1)))
            convs = [c for c in self.modules() if isinstance(c, nn.Conv2d)]
            for c in convs:
                if c is self.scorer:
                    nn.init.normal_(c.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(c.weight)
                nn.init.constant_(c.bias, 0)

        def forward(self, x):
            return L.flatten(self.top(self.trunk(x)), 1)

    L.manual_seed(1)
    m = Squeeze().double()
    x = _t(L, 2, 3, 23, 23, seed=3)
    sizes = []
    h = x
    for stage in m.trunk:
        h = stage(h)
        sizes.append(tuple(h.shape))
    out = m(x)
    loss = F.cross_entropy(out * 50, L.tensor([1, 3]))
    loss.backward()
    return dict(sizes=sizes, out=out, loss=loss, g=grads_of(m))


@program
def cifar_resnet_option_a_lambda_shortcut_and_multistep_nesterov(L):
    """The CIFAR ResNet's option-A shortcut (as in akamaster's repository): a module wrapping
    a lambda that subsamples by slicing ::2 and zero-pads channels with F.pad, kaiming_normal_
    on Linear and Conv2d through apply, SGD with nesterov momentum and weight decay under
    MultiStepLR."""
    nn, F = L.nn, L.nn.functional

    class Fn(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    def pad_shortcut(extra):
        # halve the map by taking every other pixel, then add ``2 * extra`` zero channels
        return Fn(lambda t: F.pad(t[:, :, ::2, ::2], (0, 0, 0, 0, extra, extra), "constant", 0))

    def conv3(cin, cout, stride):
        return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)

    class Unit(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.branch = nn.Sequential(conv3(cin, cout, stride), nn.BatchNorm2d(cout),
                                        nn.ReLU(), conv3(cout, cout, 1), nn.BatchNorm2d(cout))
            changes = stride != 1 or cin != cout
            self.skip = pad_shortcut(cout // 4) if changes else nn.Sequential()

        def forward(self, x):
            y = self.branch(x)
            y += self.skip(x)
            return F.relu(y)

    def he_init(mod):
        if isinstance(mod, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(mod.weight)

    class CifarNet(nn.Module):
        def __init__(self, depth=(1, 1), classes=3):
            super().__init__()
            self.stem = nn.Sequential(conv3(3, 4, 1), nn.BatchNorm2d(4), nn.ReLU())
            units, cin = [], 4
            for level, (count, cout) in enumerate(zip(depth, (4, 8))):
                for j in range(count):
                    units.append(Unit(cin, cout, 2 if level and j == 0 else 1))
                    cin = cout
            self.units = nn.Sequential(*units)
            self.fc = nn.Linear(cin, classes)
            self.apply(he_init)

        def forward(self, x):
            y = self.units(self.stem(x))
            y = F.avg_pool2d(y, y.size()[3])
            return self.fc(y.view(y.size(0), -1))

    L.manual_seed(2)
    m = CifarNet().double()
    x = _t(L, 4, 3, 8, 8, seed=5)
    y = L.tensor(_labels(4, 3, 6))
    opt = L.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = L.optim.lr_scheduler.MultiStepLR(opt, milestones=[1, 2], gamma=0.1)
    losses, lrs = [], []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        lrs.append(sched.get_last_lr()[0])
    return dict(losses=losses, lrs=lrs, w=m.units[1].branch[3].weight,
                types=[type(mod).__name__ for mod in m.modules()][:8])


@program
def bit_weight_standardised_conv_with_group_norm_and_zero_init_last(L):
    """Big Transfer's ResNetV2 unit: a Conv2d subclass standardising its kernel by
    var_mean(unbiased=False) over [1, 2, 3] before F.conv2d, GroupNorm before each convolution
    (pre-activation), a projection shortcut set only when shapes change (read by hasattr),
    the last norm's weight zeroed."""
    nn, F = L.nn, L.nn.functional

    class WSConv(nn.Conv2d):
        """Each call convolves with the kernel rescaled to zero mean and unit (biased)
        variance per output channel."""

        def forward(self, x):
            var, mean = L.var_mean(self.weight, dim=[1, 2, 3], keepdim=True, unbiased=False)
            kernel = (self.weight - mean) / L.sqrt(var + 1e-10)
            return F.conv2d(x, kernel, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)

    def norm_relu(c):
        return nn.Sequential(nn.GroupNorm(2, c), nn.ReLU(inplace=True))

    class PreActUnit(nn.Module):
        def __init__(self, cin, cout, mid, stride=1):
            super().__init__()
            self.pre = norm_relu(cin)
            self.convs = nn.ModuleList([
                WSConv(cin, mid, 1, bias=False),
                WSConv(mid, mid, 3, stride=stride, padding=1, bias=False),
                WSConv(mid, cout, 1, bias=False)])
            self.between = nn.ModuleList([norm_relu(mid), norm_relu(mid)])
            if stride != 1 or cin != cout:
                self.project = WSConv(cin, cout, 1, stride=stride, bias=False)

        def forward(self, x):
            h = self.pre(x)
            skip = self.project(h) if hasattr(self, "project") else x
            h = self.convs[0](h)
            for norm, conv in zip(self.between, self.convs[1:]):
                h = conv(norm(h))
            return h + skip

    L.manual_seed(4)
    blocks = nn.Sequential(PreActUnit(4, 8, 4, stride=2), PreActUnit(8, 8, 4))
    nn.init.zeros_(blocks[1].between[1][0].weight)
    blocks = blocks.double()
    x = _t(L, 2, 4, 6, 6, seed=7)
    out = blocks(x)
    loss = out.pow(2).mean()
    loss.backward()
    return dict(out=out, loss=loss, g=grads_of(blocks),
                has=[hasattr(b, "project") for b in blocks])


# ----------------------------------------------------------------------------------------------
# transformer blocks with timm's ingredients
# ----------------------------------------------------------------------------------------------
@program
def timm_vit_block_qkv_unbind_layerscale_drop_path_and_param_groups(L):
    """A ViT encoder with timm's ingredients: qkv reshaped to (3, B, heads, N, d) by permute
    and unbind(0), a per-channel gain Parameter on each residual branch (layer scale), the
    branch dropped per sample by x.new_empty(shape).bernoulli_(keep) and div_(keep) with rates
    from torch.linspace, trunc_normal_(std=.02) on Linears through apply, a class token and a
    position table; param groups leaving out 1-d tensors and the names the model lists; two
    AdamW steps in train mode under a seed, then eval."""
    nn, F = L.nn, L.nn.functional

    def branch_mask(x, p):
        # one Bernoulli(1 - p) draw per sample, broadcast over the rest, mean kept at 1
        keep = 1.0 - p
        mask = x.new_empty((len(x),) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return mask.div_(keep) if keep > 0.0 else mask

    class RandomDepth(nn.Module):
        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            return branch_mask(x, self.p) * x

        def extra_repr(self):
            return f"p={self.p:.3f}"

    class Gain(nn.Module):
        def __init__(self, dim, start=1e-1):
            super().__init__()
            self.g = nn.Parameter(start * L.ones(dim))

        def forward(self, x):
            return x * self.g

    class HeadsAttention(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(dim, dim * 3, bias=True)
            self.out = nn.Linear(dim, dim)

        def forward(self, x):
            b, n, c = x.shape
            per = c // self.heads
            stacked = self.qkv(x).reshape(b, n, 3, self.heads, per).permute(2, 0, 3, 1, 4)
            q, k, v = stacked.unbind(0)
            weights = ((q * per ** -0.5) @ k.transpose(-2, -1)).softmax(dim=-1)
            return self.out((weights @ v).transpose(1, 2).reshape(b, n, c))

    class PreNormResidual(nn.Module):
        """x + drop(gain(inner(norm(x))))."""

        def __init__(self, dim, inner, rate):
            super().__init__()
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.inner = inner
            self.gain = Gain(dim)
            self.drop = RandomDepth(rate) if rate > 0.0 else nn.Identity()

        def forward(self, x):
            return x + self.drop(self.gain(self.inner(self.norm(x))))

    def encoder_layer(dim, heads, rate):
        mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        return nn.Sequential(PreNormResidual(dim, HeadsAttention(dim, heads), rate),
                             PreNormResidual(dim, mlp, rate))

    def small_linears(mod):
        if isinstance(mod, nn.Linear):
            nn.init.trunc_normal_(mod.weight, std=.02)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)

    class Encoder(nn.Module):
        def __init__(self, dim=8, depth=3, heads=2, tokens=4, max_rate=0.5):
            super().__init__()
            self.cls = nn.Parameter(L.zeros(1, 1, dim))
            self.pos = nn.Parameter(L.randn(1, tokens + 1, dim) * .02)
            rates = [r.item() for r in L.linspace(0, max_rate, depth)]
            self.layers = nn.Sequential(*(encoder_layer(dim, heads, r) for r in rates))
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.head = nn.Linear(dim, 3)
            nn.init.trunc_normal_(self.pos, std=.02)
            nn.init.normal_(self.cls, std=1e-6)
            self.apply(small_linears)

        def undecayed_names(self):
            return {"pos", "cls"}

        def forward(self, x):
            x = L.cat((self.cls.expand(x.shape[0], -1, -1), x), dim=1)
            x = self.layers(x + self.pos)
            return self.head(self.norm(x)[:, 0])

    L.manual_seed(5)
    m = Encoder().double()
    skip = m.undecayed_names()
    decay, no_decay = [], []
    for name, param in m.named_parameters():
        if not param.requires_grad:
            continue
        plain = param.ndim <= 1 or name.endswith(".bias") or name in skip
        (no_decay if plain else decay).append(name)
    params = dict(m.named_parameters())
    opt = L.optim.AdamW([{"params": [params[n] for n in no_decay], "weight_decay": 0.0},
                         {"params": [params[n] for n in decay], "weight_decay": 0.05}], lr=1e-2)
    x = _t(L, 4, 4, 8, seed=9)
    y = L.tensor(_labels(4, 3, 10))
    losses = []
    L.manual_seed(6)
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    m.eval()
    return dict(no_decay=no_decay, decay=decay, losses=losses, out=m(x), repr=repr(m.layers[2]),
                pos=m.pos, cls=m.cls)


@program
def shufflenet_v2_channel_shuffle_chunk_and_depthwise_branch(L):
    """ShuffleNetV2's unit: x.chunk(2, dim=1), a path of 1x1 / depthwise 3x3 / 1x1 convs
    with BN, concatenation and a channel shuffle by view-transpose-contiguous-view; the
    stride-2 unit with two paths; the same shuffle as nn.ChannelShuffle."""
    nn = L.nn

    def channel_shuffle(x, groups):
        # (n, g * k, h, w) -> (n, g, k, h, w) -> swap g and k -> (n, k * g, h, w)
        n, c, h, w = x.size()
        grouped = x.view(n, groups, c // groups, h, w)
        return L.transpose(grouped, 1, 2).contiguous().view(n, c, h, w)

    def conv_bn(cin, cout, k=1, stride=1, depthwise=False, relu=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False,
                            groups=cin if depthwise else 1), nn.BatchNorm2d(cout)]
        return layers + [nn.ReLU(inplace=True)] if relu else layers

    class ShuffleUnit(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            half = cout // 2
            self.halves = stride == 1      # split the input, or run both paths on all of it
            side = [] if self.halves else (conv_bn(cin, cin, 3, stride, True, relu=False)
                                           + conv_bn(cin, half))
            self.side = nn.Sequential(*side)
            self.main = nn.Sequential(*conv_bn(half if self.halves else cin, half),
                                      *conv_bn(half, half, 3, stride, True, relu=False),
                                      *conv_bn(half, half))

        def forward(self, x):
            if self.halves:
                passed, worked = x.chunk(2, dim=1)
                parts = (passed, self.main(worked))
            else:
                parts = (self.side(x), self.main(x))
            return channel_shuffle(L.cat(parts, dim=1), 2)

    L.manual_seed(7)
    net = nn.Sequential(ShuffleUnit(4, 8, 2), ShuffleUnit(8, 8, 1)).double()
    x = _t(L, 2, 4, 7, 7, seed=11)
    out = net(x)
    out.sum().backward()
    z = _t(L, 1, 6, 2, 2, seed=12)
    return dict(out=out, g=grads_of(net), len0=len(net[1].side),
                same=bool((channel_shuffle(z, 3) == nn.ChannelShuffle(3)(z)).all()),
                shuffled=channel_shuffle(z, 3), r=repr(nn.ChannelShuffle(3)))


@program
def inception_branches_bn_eps_and_auxiliary_logits_in_training(L):
    """An Inception-A style module: conv + BatchNorm2d(eps=0.001) + in-place F.relu units,
    four paths (1x1, 5x5, double 3x3, avg_pool2d(3, 1, 1) then 1x1) concatenated; an auxiliary
    head used only in training, loss = main + 0.4 * aux; eval returns the main logits alone."""
    nn, F = L.nn, L.nn.functional

    class ConvBN(nn.Module):
        def __init__(self, cin, cout, k, **kw):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, bias=False, **kw)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    def chain(*units):
        return nn.Sequential(*(ConvBN(*u[:3], padding=u[2] // 2) for u in units))

    class FourPaths(nn.Module):
        def __init__(self, cin, pool_out):
            super().__init__()
            # (in, out, kernel) of each unit on each path; the last path reads a 3x3 average
            self.paths = nn.ModuleList([
                chain((cin, 4, 1)), chain((cin, 3, 1), (3, 4, 5)),
                chain((cin, 4, 1), (4, 5, 3), (5, 5, 3)), chain((cin, pool_out, 1))])

        def forward(self, x):
            smooth = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
            inputs = (x, x, x, smooth)
            return L.cat([p(t) for p, t in zip(self.paths, inputs)], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = ConvBN(3, 6, 3, stride=2)
            self.mixed = FourPaths(6, pool_out=2)
            self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
            self.fc = nn.Linear(15, 3)

        def forward(self, x):
            x = self.stem(x)
            side = self.aux(x) if self.training else None
            pooled = L.flatten(F.adaptive_avg_pool2d(self.mixed(x), (1, 1)), 1)
            logits = self.fc(pooled)
            return (logits, side) if self.training else logits

    L.manual_seed(8)
    net = Net().double()
    x = _t(L, 3, 3, 9, 9, seed=13)
    y = L.tensor([0, 2, 1])
    logits, aux = net(x)
    loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    net.eval()
    return dict(loss=loss, g=grads_of(net), eval_out=net(x),
                rv=net.mixed.paths[1][1].bn.running_var, eps=net.stem.bn.eps)


# ----------------------------------------------------------------------------------------------
# dense prediction
# ----------------------------------------------------------------------------------------------
@program
def fpn_top_down_nearest_upsampling_and_bilinear_segmentation_head(L):
    """A feature pyramid over three stride levels: lateral 1x1 convs, top-down F.interpolate
    to the lateral's size (mode nearest, odd sizes) added in, 3x3 smoothing, then a head
    that upsamples every level to the finest by bilinear (align_corners False) and sums;
    the logits resized to the input by scale_factor; per-pixel cross entropy."""
    nn, F = L.nn, L.nn.functional

    class Pyramid(nn.Module):
        def __init__(self, widths=(3, 4, 5), width=4):
            super().__init__()
            self.lateral = nn.ModuleList([nn.Conv2d(c, width, 1) for c in widths])
            self.smooth = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in widths])

        def forward(self, xs):
            # from the coarsest level to the finest, carrying the running sum down
            carried, levels = None, []
            for lat, smooth, x in reversed(list(zip(self.lateral, self.smooth, xs))):
                here = lat(x)
                if carried is not None:
                    here = here + F.interpolate(carried, size=here.shape[-2:], mode="nearest")
                carried = here
                levels.append(smooth(here))
            return OrderedDict((str(i), f) for i, f in enumerate(reversed(levels)))

    L.manual_seed(9)
    fpn = Pyramid().double()
    head = L.nn.Conv2d(4, 3, 1).double()
    xs = [_t(L, 2, 3, 11, 11, seed=14), _t(L, 2, 4, 6, 6, seed=15), _t(L, 2, 5, 3, 3, seed=16)]
    feats = fpn(xs)
    size = feats["0"].shape[-2:]
    fused = sum(F.interpolate(f, size=size, mode="bilinear", align_corners=False)
                for f in feats.values())
    logits = F.interpolate(head(fused), scale_factor=2, mode="bilinear", align_corners=False)
    target = L.tensor(_labels(2 * 22 * 22, 3, 17).reshape(2, 22, 22))
    loss = F.cross_entropy(logits, target)
    loss.backward()
    return dict(keys=list(feats.keys()), shapes=[tuple(f.shape) for f in feats.values()],
                loss=loss, g=grads_of(fpn), gh=head.weight.grad)


@program
def deeplabv3_aspp_dilated_branches_image_pooling_and_eval_bn(L):
    """DeepLabV3's ASPP: a 1x1 branch, 3x3 branches with dilation 1 and 2 (padding=dilation),
    an image-pooling branch (AdaptiveAvgPool2d(1), conv, BN, ReLU) resized back by bilinear
    F.interpolate, concatenated and projected; a training step moves BN statistics, then
    an eval forward through the running statistics."""
    nn, F = L.nn, L.nn.functional

    def conv_bn_relu(cin, cout, k=1, dilation=1):
        return [nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation,
                          bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    class ImageContext(nn.Sequential):
        """Average the whole map to one pixel, mix it, and stretch it back by bilinear."""

        def __init__(self, cin, cout):
            super().__init__(nn.AdaptiveAvgPool2d(1), *conv_bn_relu(cin, cout))

        def forward(self, x):
            return F.interpolate(super().forward(x), size=x.shape[-2:], mode="bilinear",
                                 align_corners=False)

    class Atrous(nn.Module):
        def __init__(self, cin, rates, width=4):
            super().__init__()
            branches = [nn.Sequential(*conv_bn_relu(cin, width))]
            branches += [nn.Sequential(*conv_bn_relu(cin, width, 3, r)) for r in rates]
            self.branches = nn.ModuleList(branches + [ImageContext(cin, width)])
            self.fuse = nn.Sequential(*conv_bn_relu(len(self.branches) * width, width),
                                      nn.Dropout(0.0))

        def forward(self, x):
            return self.fuse(L.cat([b(x) for b in self.branches], dim=1))

    L.manual_seed(10)
    aspp = Atrous(3, [1, 2]).double()
    x = _t(L, 2, 3, 7, 5, seed=18)
    out = aspp(x)
    (out * _t(L, 2, 4, 7, 5, seed=19)).sum().backward()
    aspp.eval()
    return dict(out=out, g=grads_of(aspp), eval_out=aspp(x),
                rm=aspp.branches[3][2].running_mean, n=len(aspp.branches))


@program
def pix2pix_recursive_unet_skip_blocks_patchgan_and_l1_gan_loss(L):
    """pix2pix's generator as nested U-Net levels (the innermost without a middle, the
    outermost ending in Tanh; LeakyReLU(0.2, True), InstanceNorm2d, ConvTranspose2d, every
    inner level returning torch.cat([x, level(x)], 1)), a PatchGAN discriminator on the
    concatenated pair, the LSGAN MSE loss against target tensors expand_as'd from registered
    buffers (a module overriding __call__), and L1 * lambda; one generator and one
    discriminator step with Adam(betas=(0.5, 0.999))."""
    nn = L.nn

    class Level(nn.Module):
        def __init__(self, outer, inner, middle=None, top=False, cin=None):
            super().__init__()
            self.top = top
            down = [nn.Conv2d(cin or outer, inner, kernel_size=4, stride=2, padding=1)]
            if not top:
                down.insert(0, nn.LeakyReLU(0.2, True))
                if middle is not None:
                    down.append(nn.InstanceNorm2d(inner))
            up_in = inner if middle is None else 2 * inner   # the middle doubled its channels
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1),
                  nn.Tanh() if top else nn.InstanceNorm2d(outer)]
            self.model = nn.Sequential(*down, *([] if middle is None else [middle]), *up)

        def forward(self, x):
            y = self.model(x)
            return y if self.top else L.cat([x, y], 1)

    class SquaredTargetLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("one", L.tensor(1.0))
            self.register_buffer("zero", L.tensor(0.0))
            self.mse = nn.MSELoss()

        def __call__(self, scores, is_real):
            goal = (self.one if is_real else self.zero).expand_as(scores)
            return self.mse(scores, goal)

    L.manual_seed(11)
    netG = Level(2, 4, cin=2, top=True, middle=Level(4, 8, middle=Level(8, 8))).double()
    netD = nn.Sequential(nn.Conv2d(4, 4, 4, 2, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(4, 8, 4, 1, 1, bias=False), nn.InstanceNorm2d(8),
                         nn.LeakyReLU(0.2, True), nn.Conv2d(8, 1, 4, 1, 1)).double()
    gan = SquaredTargetLoss().double()
    optG = L.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = L.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    src, dst = _t(L, 2, 2, 8, 8, seed=20), _t(L, 2, 2, 8, 8, seed=21)
    made = netG(src)

    def judge(img, detach=False):
        pair = L.cat((src, img), 1)
        return netD(pair.detach() if detach else pair)

    optD.zero_grad()
    on_made = judge(made, detach=True)
    loss_D = 0.5 * (gan(on_made, False) + gan(judge(dst), True))
    loss_D.backward()
    optD.step()
    netD.requires_grad_(False)
    optG.zero_grad()
    loss_G = gan(judge(made), True) + 100.0 * L.nn.functional.l1_loss(made, dst)
    loss_G.backward()
    optG.step()
    return dict(fake=made, pred_shape=tuple(on_made.shape), loss_D=loss_D, loss_G=loss_G,
                gD=[p.grad for p in netD.parameters()], gG=grads_of(netG),
                n_mods=len(list(netG.modules())), buffers=[k for k, _ in gan.named_buffers()])


@program
def dcgan_weights_init_by_class_name_and_alternating_updates(L):
    """DCGAN's recipe: an initialiser choosing by class name (Conv -> normal_(0, 0.02),
    BatchNorm -> normal_(1, 0.02) and zero bias), a ConvTranspose2d generator from a latent
    (nz, 1, 1), a strided-conv discriminator with Sigmoid, labels by torch.full(..., dtype)
    and fill_, BCELoss, the fake detached for D; two iterations."""
    nn = L.nn

    def by_class_name(mod):
        kind = type(mod).__name__
        if "Conv" in kind:
            L.nn.init.normal_(mod.weight, 0.0, 0.02)
        elif "BatchNorm" in kind:
            L.nn.init.normal_(mod.weight, 1.0, 0.02)
            L.nn.init.zeros_(mod.bias)

    def up(cin, cout, stride, pad, last=False):
        tail = [nn.Tanh()] if last else [nn.BatchNorm2d(cout), nn.ReLU(True)]
        return [nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False), *tail]

    z_dim, width = 4, 4
    L.manual_seed(12)
    netG = nn.Sequential(*up(z_dim, 2 * width, 1, 0), *up(2 * width, width, 2, 1),
                         *up(width, 1, 2, 1, last=True))
    netG.apply(by_class_name)
    netD = nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
        nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(2 * width, 1, 4, 1, 0, bias=False),
        nn.Sigmoid())
    netD.apply(by_class_name)
    netG, netD = netG.double(), netD.double()
    bce = nn.BCELoss()
    optD = L.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = L.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = _t(L, 3, 1, 16, 16, seed=22).tanh()

    def scored(img, target, label):
        p = netD(img).view(-1)
        label.fill_(target)
        loss = bce(p, label)
        loss.backward()
        return loss, p

    log = []
    for _ in range(2):
        netD.zero_grad()
        label = L.full((3,), 1.0, dtype=real.dtype)
        d_real, _ = scored(real, 1.0, label)
        fake = netG(L.randn(3, z_dim, 1, 1, dtype=L.float64))
        d_fake, p_fake = scored(fake.detach(), 0.0, label)
        optD.step()
        netG.zero_grad()
        g_loss, p_g = scored(fake, 1.0, label)
        optG.step()
        log.append((d_real.item() + d_fake.item(), g_loss.item(), p_fake.mean().item(),
                    p_g.mean().item()))
    return dict(log=log, w=netG[0].weight, bn=netD[3].weight, fake=fake)


@program
def pointnet_tnet_bmm_feature_transform_regulariser_and_max_pool(L):
    """PointNet's classifier: a small net predicting a k x k transform (identity added through
    torch.eye(k).view(1, k*k).repeat(B, 1)), applied by torch.bmm on transposed points,
    Conv1d/BatchNorm1d shared MLPs, a global feature by torch.max(x, 2, keepdim=True),
    log_softmax + nll_loss and the orthogonality penalty ||I - A A^T||_F."""
    nn, F = L.nn, L.nn.functional

    def shared_mlp(*widths):
        # per-point layers: Conv1d with kernel 1, BatchNorm1d, ReLU between them
        layers = []
        for cin, cout in zip(widths, widths[1:]):
            layers += [nn.Conv1d(cin, cout, 1), nn.BatchNorm1d(cout), nn.ReLU()]
        return nn.Sequential(*layers)

    class Aligner(nn.Module):
        """Predicts a k x k matrix per cloud, starting from the identity."""

        def __init__(self, k):
            super().__init__()
            self.k = k
            self.points = shared_mlp(k, 8, 16)
            self.regress = nn.Sequential(nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                         nn.Linear(8, k * k))

        def forward(self, x):
            pooled = L.max(self.points(x), 2, keepdim=True)[0].view(-1, 16)
            eye = L.eye(self.k, dtype=x.dtype).view(1, self.k * self.k).repeat(x.size()[0], 1)
            return (self.regress(pooled) + eye).view(-1, self.k, self.k)

    def apply_transform(pts, mat):
        return L.bmm(pts.transpose(2, 1), mat).transpose(2, 1)

    class Classifier(nn.Module):
        def __init__(self, classes=3):
            super().__init__()
            self.align_in, self.lift = Aligner(3), shared_mlp(3, 6)
            self.align_feat = Aligner(6)
            self.widen = nn.Sequential(nn.Conv1d(6, 12, 1), nn.BatchNorm1d(12))
            self.fc = nn.Linear(12, classes)

        def forward(self, x):
            m_in = self.align_in(x)
            h = self.lift(apply_transform(x, m_in))
            m_feat = self.align_feat(h)
            h = self.widen(apply_transform(h, m_feat))
            best, where = L.max(h, 2, keepdim=True)
            logp = F.log_softmax(self.fc(best.view(-1, 12)), dim=1)
            return logp, m_in, m_feat, where

    def orthogonality_penalty(mats):
        gap = L.bmm(mats, mats.transpose(2, 1)) - L.eye(mats.size()[1], dtype=mats.dtype)[None]
        return L.mean(L.norm(gap, dim=(1, 2)))

    L.manual_seed(13)
    net = Classifier().double()
    pts = _t(L, 4, 3, 10, seed=23)
    y = L.tensor(_labels(4, 3, 24))
    pred, trans, trans_feat, idx = net(pts)
    loss = F.nll_loss(pred, y) + 0.001 * orthogonality_penalty(trans_feat)
    loss.backward()
    hits = pred.data.max(1)[1].eq(y.data).cpu().sum().item()
    return dict(pred=pred, trans=trans, loss=loss, idx=idx, acc=hits, g=grads_of(net))


# ----------------------------------------------------------------------------------------------
# older and rarer blocks
# ----------------------------------------------------------------------------------------------
@program
def caffe_alexnet_grouped_convs_local_response_norm_and_dropout(L):
    """The original two-tower AlexNet as Caffe ports write it: grouped convolutions
    (groups=2), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2) after the ReLU,
    overlapping max pools, Dropout in eval, the classifier on view(x.size(0), -1)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(14)
    features = nn.Sequential(
        nn.Conv2d(3, 8, kernel_size=5, stride=2, padding=2), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(8, 12, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.0),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(12, 8, kernel_size=3, padding=1, groups=4), nn.ReLU(inplace=True)).double()
    classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(8 * 2 * 2, 6), nn.ReLU(inplace=True),
                               nn.Linear(6, 3)).double()
    classifier.eval()
    x = _t(L, 2, 3, 24, 24, seed=25, scale=3.0)
    f = features(x)
    out = classifier(f.view(f.size(0), -1))
    F.cross_entropy(out, L.tensor([2, 0])).backward()
    return dict(f=f, out=out, g=grads_of(features), gc=grads_of(classifier), r=repr(features[2]))


@program
def resnext_grouped_bottleneck_with_squeeze_excitation_and_rounding(L):
    """A ResNeXt/SE-ResNeXt bottleneck: width int(planes * (base_width / 64.)) * groups, a
    grouped 3x3 conv, a channel gate by adaptive average pooling -> 1x1 convs -> sigmoid with
    the reduced width from _make_divisible, the shortcut a Sequential(conv, BN) added in
    place; the last BN weight left at 1; SGD step."""
    nn = L.nn

    def channel_gate(c, mid):
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, mid, 1), nn.ReLU(),
                             nn.Conv2d(mid, c, 1), nn.Sigmoid())

    class Gated(nn.Module):
        def __init__(self, inner, c, mid):
            super().__init__()
            self.inner, self.gate = inner, channel_gate(c, mid)

        def forward(self, x):
            y = self.inner(x)
            return self.gate(y) * y

    class GroupedBottleneck(nn.Module):
        def __init__(self, cin, planes, stride=1, groups=4, base_width=32):
            super().__init__()
            width, cout = int(planes * (base_width / 64.0)) * groups, 2 * planes
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False),
                nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                Gated(nn.Sequential(nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)),
                      cout, _make_divisible(cout // 4, 4)))
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.body(x)
            y += self.shortcut(x)
            return nn.functional.relu(y, inplace=True)

    L.manual_seed(15)
    blk = GroupedBottleneck(6, 4, stride=2).double()
    x = _t(L, 2, 6, 6, 6, seed=26)
    opt = L.optim.SGD(blk.parameters(), lr=0.05)
    out = blk(x)
    loss = out.mean()
    loss.backward()
    opt.step()
    return dict(out=out, loss=loss, w=blk.body[3].weight, se=blk.body[6].gate[1].weight.shape,
                width=blk.body[0].out_channels, after=blk(x))


@program
def eca_channel_attention_by_conv1d_and_ghost_module_cheap_features(L):
    """ECA-Net's gate: kernel size from |log2(C)/gamma + b/gamma| made odd, the pooled vector
    squeezed and transposed into a Conv1d over channels and back by unsqueeze; GhostNet's
    module: a primary 1x1 conv, a cheap depthwise op, torch.cat and a slice [:, :oup]."""
    nn = L.nn

    def odd_kernel(c, gamma=2, b=1):
        t = int(abs((math.log(c, 2) + b) / gamma))
        return t + 1 - t % 2

    class ConvGate(nn.Module):
        def __init__(self, c):
            super().__init__()
            k = odd_kernel(c)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.mix = nn.Conv1d(1, 1, kernel_size=k, padding=k // 2, bias=False)

        def forward(self, x):
            across = self.pool(x).squeeze(-1).transpose(-1, -2)          # (n, 1, c)
            w = self.mix(across).transpose(-1, -2).unsqueeze(-1).sigmoid()  # (n, c, 1, 1)
            return x * w.expand_as(x)

    def conv_bn_act(cin, cout, k, relu, groups=1):
        act = nn.ReLU(inplace=True) if relu else nn.Sequential()
        return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2, groups=groups, bias=False),
                             nn.BatchNorm2d(cout), act)

    class Ghost(nn.Module):
        def __init__(self, cin, cout, ratio=2, k=3, relu=True):
            super().__init__()
            self.cout = cout
            base = math.ceil(cout / ratio)
            self.primary = conv_bn_act(cin, base, 1, relu)
            self.cheap = conv_bn_act(base, base * (ratio - 1), k, relu, groups=base)

        def forward(self, x):
            a = self.primary(x)
            return L.cat([a, self.cheap(a)], dim=1)[:, :self.cout, :, :]

    L.manual_seed(16)
    net = nn.Sequential(Ghost(3, 7), ConvGate(7), Ghost(7, 16, relu=False), ConvGate(16)).double()
    x = _t(L, 2, 3, 5, 5, seed=27)
    out = net(x)
    (out ** 2).sum().backward()
    return dict(out=out, g=grads_of(net),
                k=[m.mix.kernel_size for m in net if isinstance(m, ConvGate)])


@program
def res2net_hierarchical_split_and_stage_average_pool(L):
    """Res2Net's multi-scale bottleneck: the 1x1 output split by torch.split(out, width, 1)
    into scale groups, each after the first added to the previous group's output before its
    3x3 conv, the last group passed through (or avg-pooled in the 'stage' form), all
    concatenated and mixed by a 1x1 conv."""
    nn = L.nn

    def conv_bn_relu(cin, cout, k, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class MultiScale(nn.Module):
        def __init__(self, cin, planes, stride=1, base=16, scale=4, stage=False):
            super().__init__()
            self.width = width = int(math.floor(planes * (base / 64.0)))
            self.stage = stage
            self.spread = conv_bn_relu(cin, width * scale, 1)
            self.steps = nn.ModuleList([conv_bn_relu(width, width, 3, stride)
                                        for _ in range(max(scale - 1, 1))])
            # the group no step reads: kept as it is, or pooled to the steps' stride
            self.rest = nn.AvgPool2d(kernel_size=3, stride=stride, padding=1) if stage else None
            self.merge = nn.Conv2d(width * scale, planes, 1, bias=False)

        def forward(self, x):
            groups = L.split(self.spread(x), self.width, 1)
            outs, carry = [], None
            for g, step in zip(groups, self.steps):
                carry = step(g if carry is None or self.stage else carry + g)
                outs.append(carry)
            if len(groups) > len(self.steps):
                last = groups[len(self.steps)]
                outs.append(last if self.rest is None else self.rest(last))
            return self.merge(L.cat(outs, 1))

    L.manual_seed(17)
    a = MultiScale(4, 8, stride=2, stage=True).double()
    b = MultiScale(8, 8).double()
    x = _t(L, 2, 4, 6, 6, seed=28)
    out = b(a(x))
    out.sum().backward()
    return dict(out=out, ga=grads_of(a), gb=grads_of(b), width=b.width)


@program
def yolov5_focus_sppf_c3_and_silu_conv_autopad(L):
    """YOLOv5's pieces, rebuilt: conv + BN(eps=1e-3, momentum=0.03) + SiLU with 'same'
    padding k // 2, space-to-depth by the four ::2 slices concatenated, a CSP stage of
    shortcut bottlenecks, fast spatial pyramid pooling (one MaxPool2d(k, 1, k // 2) applied
    thrice, all four concatenated); conv+BN folding for inference (delattr of the norm, an
    instance-level forward) compared with the unfused eval output."""
    nn = L.nn

    class CBS(nn.Module):
        def __init__(self, cin, cout, k=1, stride=1, groups=1):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
            self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.03)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

        def folded(self, x):
            return self.act(self.conv(x))

    def space_to_depth(x):
        # the four pixel phases of each 2x2 cell, stacked on the channels
        return L.cat([x[..., r::2, c::2] for c in (0, 1) for r in (0, 1)], 1)

    class Stem(nn.Module):
        def __init__(self, cin, cout, k=1):
            super().__init__()
            self.conv = CBS(4 * cin, cout, k)

        def forward(self, x):
            return self.conv(space_to_depth(x))

    class Res(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.a, self.b = CBS(c, c, 1), CBS(c, c, 3)

        def forward(self, x):
            return x + self.b(self.a(x))

    class CSP(nn.Module):
        def __init__(self, cin, cout, depth=1):
            super().__init__()
            mid = cout // 2
            self.deep, self.side = CBS(cin, mid), CBS(cin, mid)
            self.blocks = nn.Sequential(*(Res(mid) for _ in range(depth)))
            self.join = CBS(2 * mid, cout)

        def forward(self, x):
            return self.join(L.cat((self.blocks(self.deep(x)), self.side(x)), 1))

    class FastSPP(nn.Module):
        def __init__(self, cin, cout, k=5):
            super().__init__()
            self.inp, self.out = CBS(cin, cin // 2), CBS(4 * (cin // 2), cout)
            self.pool = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

        def forward(self, x):
            chain = [self.inp(x)]
            for _ in range(3):
                chain.append(self.pool(chain[-1]))
            return self.out(L.cat(chain, 1))

    def fold(conv, bn):
        # BN(Wx + b) = s * (Wx + b - mean) + beta with s = gamma / sqrt(var + eps)
        s = bn.weight.div(L.sqrt(bn.running_var + bn.eps))
        merged = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=conv.kernel_size,
                           stride=conv.stride, padding=conv.padding, groups=conv.groups,
                           bias=True).requires_grad_(False).to(conv.weight.device)
        flat = conv.weight.clone().view(conv.out_channels, -1)
        merged.weight.copy_(L.mm(L.diag(s), flat).view(merged.weight.shape))
        b = conv.bias if conv.bias is not None else L.zeros(
            conv.out_channels, device=conv.weight.device, dtype=conv.weight.dtype)
        shift = bn.bias - s.mul(bn.running_mean)
        merged.bias.copy_(L.mm(L.diag(s), b.reshape(-1, 1)).reshape(-1) + shift)
        return merged

    L.manual_seed(18)
    model = nn.Sequential(Stem(3, 8, 3), CSP(8, 8, depth=2), FastSPP(8, 6)).double()
    x = _t(L, 2, 3, 8, 8, seed=29)
    out = model(x)
    out.pow(2).mean().backward()
    g = grads_of(model)
    model.eval()
    ref = model(x)
    with L.no_grad():
        for m in model.modules():
            if isinstance(m, CBS) and hasattr(m, "bn"):
                m.conv = fold(m.conv, m.bn).double()
                delattr(m, "bn")
                m.forward = m.folded
        fused = model(x)
    return dict(out=out, g=g, ref=ref, fused=fused,
                close=float((ref - fused).abs().max()) < 1e-10,
                keys=list(model.state_dict().keys())[:5])


@program
def convmixer_residual_wrapper_same_padding_depthwise_and_gelu(L):
    """ConvMixer's recipe: a residual wrapper module, a patch embedding conv with stride =
    patch size, depthwise convs with padding='same' and GELU + BatchNorm, pointwise convs,
    AdaptiveAvgPool2d((1, 1)) and Flatten; label-smoothed loss and an AdamW step."""
    nn, F = L.nn, L.nn.functional

    class Skip(nn.Module):
        def __init__(self, *layers):
            super().__init__()
            self.inner = nn.Sequential(*layers)

        def forward(self, x):
            return self.inner(x) + x

    def gelu_bn(dim):
        return [nn.GELU(), nn.BatchNorm2d(dim)]

    def mixing_layer(dim, k):
        spatial = Skip(nn.Conv2d(dim, dim, k, groups=dim, padding="same"), *gelu_bn(dim))
        return nn.Sequential(spatial, nn.Conv2d(dim, dim, kernel_size=1), *gelu_bn(dim))

    def build(dim, depth, k=3, patch=2, classes=3):
        layers = [nn.Conv2d(3, dim, kernel_size=patch, stride=patch), *gelu_bn(dim)]
        layers += [mixing_layer(dim, k) for _ in range(depth)]
        layers += [nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(dim, classes)]
        return nn.Sequential(*layers)

    L.manual_seed(19)
    m = build(6, 2, k=4).double()
    opt = L.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.05)
    x = _t(L, 3, 3, 8, 8, seed=30)
    y = L.tensor([1, 0, 2])
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return dict(losses=losses, w=m[3][0].inner[0].weight, r=repr(m[3][0].inner[0]))


@program
def detr_hungarian_matching_generalised_iou_and_set_criterion(L):
    """DETR's set loss: boxes turned from centre/size to corners by unbind(-1) and stack, a
    pairwise generalised IoU from broadcast max/min and clamp(min=0), the cost matrix
    (-prob[:, labels], torch.cdist(p=1), -giou) split per image by sizes and solved with
    scipy's linear_sum_assignment on detached numpy, the matched (image, query) index by
    torch.cat of full_like, the CE with the no-object class down-weighted and the L1/GIoU
    losses."""
    scipy_opt = pytest.importorskip("scipy.optimize")
    F = L.nn.functional

    def corners(b):
        cx, cy, w, h = b.unbind(-1)
        hw, hh = 0.5 * w, 0.5 * h
        return L.stack([cx - hw, cy - hh, cx + hw, cy + hh], dim=-1)

    def pair_giou(a, b):
        # (n, 4) and (m, 4) corner boxes -> (n, m): IoU minus the hull's empty share
        def area(t):
            return (t[:, 2] - t[:, 0]) * (t[:, 3] - t[:, 1])

        lo, hi = a[:, None, :2], a[:, None, 2:]
        meet = (L.min(hi, b[:, 2:]) - L.max(lo, b[:, :2])).clamp(min=0)
        overlap = meet[:, :, 0] * meet[:, :, 1]
        union = area(a)[:, None] + area(b) - overlap
        span = (L.max(hi, b[:, 2:]) - L.min(lo, b[:, :2])).clamp(min=0)
        hull = span[:, :, 0] * span[:, :, 1]
        return overlap / union - (hull - union) / hull

    n_cls, n_query = 3, 5
    logits = _t(L, 2, n_query, n_cls + 1, seed=31, grad=True)
    boxes_raw = _t(L, 2, n_query, 4, seed=32, grad=True)
    pred_boxes = boxes_raw.sigmoid() * 0.5 + 0.25
    rng = np.random.RandomState(33)
    targets = [{"labels": L.tensor(rng.randint(0, 3, n)),
                "boxes": L.tensor(rng.uniform(0.3, 0.6, (n, 4)))} for n in (2, 3)]
    counts = [len(t["boxes"]) for t in targets]

    @L.no_grad()
    def assign():
        prob = logits.flatten(0, 1).softmax(-1)
        flat_boxes = pred_boxes.flatten(0, 1)
        all_labels = L.cat([t["labels"] for t in targets])
        all_boxes = L.cat([t["boxes"] for t in targets])
        cost = (5 * L.cdist(flat_boxes, all_boxes, p=1) - prob[:, all_labels]
                - 2 * pair_giou(corners(flat_boxes), corners(all_boxes)))
        cost = cost.view(2, n_query, -1).cpu()
        pairs = []
        for img, block in enumerate(cost.split(counts, -1)):
            rows, cols = scipy_opt.linear_sum_assignment(block[img].numpy())
            pairs.append((L.as_tensor(rows, dtype=L.int64), L.as_tensor(cols, dtype=L.int64)))
        return cost, pairs

    C, indices = assign()
    which = (L.cat([L.full_like(q, img) for img, (q, _) in enumerate(indices)]),
             L.cat([q for q, _ in indices]))
    classes = L.full(logits.shape[:2], n_cls, dtype=L.int64)
    classes[which] = L.cat([t["labels"][j] for t, (_, j) in zip(targets, indices)])
    weight = L.ones(n_cls + 1, dtype=L.float64)
    weight[-1] = 0.1
    loss_ce = F.cross_entropy(logits.transpose(1, 2), classes, weight)
    matched = pred_boxes[which]
    wanted = L.cat([t["boxes"][j] for t, (_, j) in zip(targets, indices)], dim=0)
    loss_bbox = F.l1_loss(matched, wanted, reduction="none").sum() / sum(counts)
    loss_giou = (1 - L.diag(pair_giou(corners(matched), corners(wanted)))).sum() / sum(counts)
    loss = loss_ce + 5 * loss_bbox + 2 * loss_giou
    loss.backward()
    return dict(C=C, indices=indices, tc=classes, loss_ce=loss_ce, loss_bbox=loss_bbox,
                loss_giou=loss_giou, gl=logits.grad, gb=boxes_raw.grad)


@program
def torchvision_resnet_in_float32_with_kaiming_fan_out_and_zero_init_residual(L):
    """A ResNet left in float32 as training scripts leave it: kaiming_normal_(mode='fan_out',
    nonlinearity='relu') on every conv (float32 Box-Muller draws), BatchNorm weight 1 / bias 0,
    each block's last BN weight zeroed (zero_init_residual), the default nn.Linear init; three
    SGD steps with momentum, the losses and the final weights to float32 precision."""
    nn, F = L.nn, L.nn.functional

    def conv_bn(cin, cout, k, stride=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]

    class Basic(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.branch = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(inplace=True),
                                        *conv_bn(cout, cout, 3))
            reshape = stride != 1 or cin != cout
            self.skip = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if reshape else None

        def forward(self, x):
            skip = x if self.skip is None else self.skip(x)
            return F.relu(self.branch(x) + skip, inplace=True)

    def initialise(model):
        for mod in model.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(mod, nn.BatchNorm2d):
                nn.init.constant_(mod.weight, 1)
                nn.init.constant_(mod.bias, 0)
        for mod in model.modules():
            if isinstance(mod, Basic):
                nn.init.constant_(mod.branch[4].weight, 0)

    class Net(nn.Module):
        def __init__(self, classes=4):
            super().__init__()
            self.stem = nn.Sequential(*conv_bn(3, 8, 3), nn.ReLU(inplace=True))
            self.stages = nn.Sequential(nn.Sequential(Basic(8, 8), Basic(8, 8)),
                                        nn.Sequential(Basic(8, 16, 2)))
            self.fc = nn.Linear(16, classes)
            initialise(self)

        def forward(self, x):
            pooled = F.adaptive_avg_pool2d(self.stages(self.stem(x)), (1, 1))
            return self.fc(L.flatten(pooled, 1))

    L.manual_seed(20)
    m = Net()
    init = {k: v.clone() for k, v in m.state_dict().items()
            if k.endswith("branch.0.weight") or k == "stem.0.weight"}
    x = L.tensor(_arr(4, 3, 8, 8, seed=34), dtype=L.float32)
    y = L.tensor(_labels(4, 4, 35))
    opt = L.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    bits = {k: v.view(L.int32) for k, v in init.items()}
    return dict(bits=bits, losses=L.tensor(losses, dtype=L.float32), fc=m.fc.weight,
                conv=m.stages[1][0].branch[0].weight, rv=m.stages[1][0].branch[1].running_var)


# ----------------------------------------------------------------------------------------------
# the programs with the most operations (a few seconds of torch's threads on a busy machine)
_SLOW = {"densenet_dense_block_concatenated_features_and_ordered_dict_names",
         "torchvision_resnet_in_float32_with_kaiming_fan_out_and_zero_init_residual"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
