"""Whole programs in the idioms of code people run, an eleventh round: model definitions as
torchvision, timm, YOLO and the GAN and segmentation repositories write them.  DenseNet's
concatenated features in an OrderedDict Sequential, SqueezeNet's Fire modules behind
ceil-mode pooling, the CIFAR ResNet's option-A shortcut by a LambdaLayer and F.pad, BiT's
weight-standardised convolutions with GroupNorm, timm's ViT block (qkv unbind, LayerScale,
DropPath drawn by bernoulli_, trunc_normal_ init and no-weight-decay groups), ShuffleNet's
channel shuffle, Inception branches with auxiliary logits, an FPN and DeepLab's ASPP resizing
by F.interpolate, pix2pix's recursive U-Net and PatchGAN, DCGAN's init by class name,
PointNet's T-Net, AlexNet's grouped convolutions with local response normalisation,
ResNeXt/SE blocks, ECA and Ghost modules, Res2Net's split hierarchy, YOLOv5's Focus/SPPF/C3,
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
    """torchvision's DenseNet: each layer reads torch.cat of all earlier features, layers
    added by add_module('denselayer%d'), a transition of BN-ReLU-conv-avgpool, the stem an
    nn.Sequential of an OrderedDict; kaiming_normal_ under the seed, BN weight 1 and bias 0;
    one training step (running stats move), the printed model and its state_dict keys."""
    nn, F = L.nn, L.nn.functional

    class _DenseLayer(nn.Module):
        def __init__(self, num_input_features, growth_rate, bn_size):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(num_input_features)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)

        def forward(self, input):
            prev_features = [input] if isinstance(input, L.Tensor) else input
            concated = L.cat(prev_features, 1)
            bottleneck = self.conv1(self.relu1(self.norm1(concated)))
            return self.conv2(self.relu2(self.norm2(bottleneck)))

    class _DenseBlock(nn.ModuleDict):
        def __init__(self, num_layers, num_input_features, bn_size, growth_rate):
            super().__init__()
            for i in range(num_layers):
                layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size)
                self.add_module("denselayer%d" % (i + 1), layer)

        def forward(self, init_features):
            features = [init_features]
            for name, layer in self.items():
                features.append(layer(features))
            return L.cat(features, 1)

    class _Transition(nn.Sequential):
        def __init__(self, num_input_features, num_output_features):
            super().__init__()
            self.norm = nn.BatchNorm2d(num_input_features)
            self.relu = nn.ReLU(inplace=True)
            self.conv = nn.Conv2d(num_input_features, num_output_features, 1, bias=False)
            self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    class DenseNet(nn.Module):
        def __init__(self, growth_rate=4, block_config=(2, 2), num_init_features=6, bn_size=2,
                     num_classes=3):
            super().__init__()
            self.features = nn.Sequential(OrderedDict([
                ("conv0", nn.Conv2d(2, num_init_features, 3, padding=1, bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
            num_features = num_init_features
            for i, num_layers in enumerate(block_config):
                block = _DenseBlock(num_layers, num_features, bn_size, growth_rate)
                self.features.add_module("denseblock%d" % (i + 1), block)
                num_features = num_features + num_layers * growth_rate
                if i != len(block_config) - 1:
                    trans = _Transition(num_features, num_features // 2)
                    self.features.add_module("transition%d" % (i + 1), trans)
                    num_features = num_features // 2
            self.features.add_module("norm5", nn.BatchNorm2d(num_features))
            self.classifier = nn.Linear(num_features, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            features = self.features(x)
            out = F.relu(features, inplace=True)
            out = F.adaptive_avg_pool2d(out, (1, 1))
            out = L.flatten(out, 1)
            return self.classifier(out)

    L.manual_seed(0)
    m = DenseNet().double()
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
                rm=m.features.norm5.running_mean,
                nbt=m.features.denseblock1.denselayer2.norm1.num_batches_tracked)


@program
def squeezenet_fire_modules_ceil_mode_pooling_and_conv_classifier(L):
    """SqueezeNet 1.1: Fire modules (squeeze 1x1, expand 1x1 and 3x3 concatenated), max
    pools with ceil_mode=True on odd sizes, a convolutional classifier averaged to 1x1 and
    flattened; the final conv drawn by normal_(0, 0.01), the others kaiming_uniform_."""
    nn, F = L.nn, L.nn.functional

    class Fire(nn.Module):
        def __init__(self, inplanes, squeeze_planes, e1, e3):
            super().__init__()
            self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
            self.squeeze_activation = nn.ReLU(inplace=True)
            self.expand1x1 = nn.Conv2d(squeeze_planes, e1, kernel_size=1)
            self.expand1x1_activation = nn.ReLU(inplace=True)
            self.expand3x3 = nn.Conv2d(squeeze_planes, e3, kernel_size=3, padding=1)
            self.expand3x3_activation = nn.ReLU(inplace=True)

        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return L.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)

    class SqueezeNet(nn.Module):
        def __init__(self, num_classes=4):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, kernel_size=3, stride=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(8, 2, 4, 4), Fire(8, 2, 4, 4),
                nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                Fire(8, 3, 6, 6))
            final_conv = nn.Conv2d(12, num_classes, kernel_size=1)
            self.classifier = nn.Sequential(nn.Dropout(p=0.0), final_conv, nn.ReLU(inplace=True),
                                            nn.AdaptiveAvgPool2d((1, 1)))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    if m is final_conv:
                        nn.init.normal_(m.weight, mean=0.0, std=0.01)
                    else:
                        nn.init.kaiming_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)

        def forward(self, x):
            return L.flatten(self.classifier(self.features(x)), 1)

    L.manual_seed(1)
    m = SqueezeNet().double()
    x = _t(L, 2, 3, 23, 23, seed=3)
    sizes = []
    h = x
    for layer in m.features:
        h = layer(h)
        sizes.append(tuple(h.shape))
    out = m(x)
    loss = F.cross_entropy(out * 50, L.tensor([1, 3]))
    loss.backward()
    return dict(sizes=sizes, out=out, loss=loss, g=grads_of(m))


@program
def cifar_resnet_option_a_lambda_shortcut_and_multistep_nesterov(L):
    """The CIFAR ResNet of akamaster's repository: an option-A shortcut as a LambdaLayer that
    subsamples by slicing ::2 and zero-pads channels with F.pad, _weights_init through
    apply (kaiming_normal_ on Linear and Conv2d), SGD with nesterov momentum and weight
    decay under MultiStepLR."""
    nn, F = L.nn, L.nn.functional

    class LambdaLayer(nn.Module):
        def __init__(self, lambd):
            super().__init__()
            self.lambd = lambd

        def forward(self, x):
            return self.lambd(x)

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_planes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.shortcut = nn.Sequential()
            if stride != 1 or in_planes != planes:
                self.shortcut = LambdaLayer(lambda x: F.pad(
                    x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), "constant", 0))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += self.shortcut(x)
            return F.relu(out)

    def _weights_init(m):
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight)

    class ResNet(nn.Module):
        def __init__(self, num_blocks=(1, 1), num_classes=3):
            super().__init__()
            self.in_planes = 4
            self.conv1 = nn.Conv2d(3, 4, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(4)
            self.layer1 = self._make_layer(4, num_blocks[0], stride=1)
            self.layer2 = self._make_layer(8, num_blocks[1], stride=2)
            self.linear = nn.Linear(8, num_classes)
            self.apply(_weights_init)

        def _make_layer(self, planes, num_blocks, stride):
            strides = [stride] + [1] * (num_blocks - 1)
            layers = []
            for s in strides:
                layers.append(BasicBlock(self.in_planes, planes, s))
                self.in_planes = planes
            return nn.Sequential(*layers)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer2(self.layer1(out))
            out = F.avg_pool2d(out, out.size()[3])
            return self.linear(out.view(out.size(0), -1))

    L.manual_seed(2)
    m = ResNet().double()
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
    return dict(losses=losses, lrs=lrs, w=m.layer2[0].conv2.weight,
                types=[type(mod).__name__ for mod in m.modules()][:8])


@program
def bit_weight_standardised_conv_with_group_norm_and_zero_init_last(L):
    """Big Transfer's ResNetV2 unit: StdConv2d standardising its weight by mean and
    var(unbiased=False) over [1, 2, 3] before F.conv2d, GroupNorm before each convolution
    (pre-activation), a projection shortcut, the last norm's weight zeroed."""
    nn, F = L.nn, L.nn.functional

    class StdConv2d(nn.Conv2d):
        def forward(self, x):
            w = self.weight
            v, m = L.var_mean(w, dim=[1, 2, 3], keepdim=True, unbiased=False)
            w = (w - m) / L.sqrt(v + 1e-10)
            return F.conv2d(x, w, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)

    class PreActBottleneck(nn.Module):
        def __init__(self, cin, cout, cmid, stride=1):
            super().__init__()
            self.gn1 = nn.GroupNorm(2, cin)
            self.conv1 = StdConv2d(cin, cmid, 1, bias=False)
            self.gn2 = nn.GroupNorm(2, cmid)
            self.conv2 = StdConv2d(cmid, cmid, 3, stride=stride, padding=1, bias=False)
            self.gn3 = nn.GroupNorm(2, cmid)
            self.conv3 = StdConv2d(cmid, cout, 1, bias=False)
            self.relu = nn.ReLU(inplace=True)
            if stride != 1 or cin != cout:
                self.downsample = StdConv2d(cin, cout, 1, stride=stride, bias=False)

        def forward(self, x):
            out = self.relu(self.gn1(x))
            residual = x
            if hasattr(self, "downsample"):
                residual = self.downsample(out)
            out = self.conv1(out)
            out = self.conv2(self.relu(self.gn2(out)))
            out = self.conv3(self.relu(self.gn3(out)))
            return out + residual

    L.manual_seed(4)
    blocks = nn.Sequential(PreActBottleneck(4, 8, 4, stride=2), PreActBottleneck(8, 8, 4))
    nn.init.zeros_(blocks[1].gn3.weight)
    blocks = blocks.double()
    x = _t(L, 2, 4, 6, 6, seed=7)
    out = blocks(x)
    loss = out.pow(2).mean()
    loss.backward()
    return dict(out=out, loss=loss, g=grads_of(blocks),
                has=[hasattr(b, "downsample") for b in blocks])


# ----------------------------------------------------------------------------------------------
# timm-style transformer blocks
# ----------------------------------------------------------------------------------------------
@program
def timm_vit_block_qkv_unbind_layerscale_drop_path_and_param_groups(L):
    """timm's ViT Block: qkv reshaped to (3, B, heads, N, d) by permute and unbind(0),
    LayerScale multiplying by gamma, drop_path drawn by x.new_empty(shape).bernoulli_(keep)
    and div_(keep) with rates from torch.linspace, trunc_normal_(std=.02) on Linears through
    apply, cls_token and pos_embed; param groups excluding 1-d and no_weight_decay names; two
    AdamW steps in train mode under a seed, then eval."""
    nn, F = L.nn, L.nn.functional

    def drop_path(x, drop_prob=0.0, training=False, scale_by_keep=True):
        # each sample's residual branch kept with probability 1 - p, rescaled to keep the mean
        if not training or drop_prob == 0.0:
            return x
        kept = 1.0 - drop_prob
        per_sample = x.new_empty((len(x),) + (1,) * (x.dim() - 1)).bernoulli_(kept)
        if scale_by_keep and kept > 0.0:
            per_sample.div_(kept)
        return per_sample * x

    class DropPath(nn.Module):
        def __init__(self, drop_prob=0.0):
            super().__init__()
            self.drop_prob = drop_prob

        def forward(self, x):
            return drop_path(x, self.drop_prob, self.training)

        def extra_repr(self):
            return f"drop_prob={round(self.drop_prob, 3):0.3f}"

    class LayerScale(nn.Module):
        def __init__(self, dim, init_values=1e-1):
            super().__init__()
            self.gamma = nn.Parameter(init_values * L.ones(dim))

        def forward(self, x):
            return x * self.gamma

    class Attention(nn.Module):
        def __init__(self, dim, num_heads):
            super().__init__()
            self.num_heads = num_heads
            self.head_dim = dim // num_heads
            self.scale = self.head_dim ** -0.5
            self.qkv = nn.Linear(dim, dim * 3, bias=True)
            self.proj = nn.Linear(dim, dim)

        def forward(self, x):
            B, N, C = x.shape
            qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            q = q * self.scale
            attn = (q @ k.transpose(-2, -1)).softmax(dim=-1)
            x = (attn @ v).transpose(1, 2).reshape(B, N, C)
            return self.proj(x)

    class Block(nn.Module):
        def __init__(self, dim, heads, dpr):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.attn = Attention(dim, heads)
            self.ls1 = LayerScale(dim)
            self.drop_path1 = DropPath(dpr) if dpr > 0.0 else nn.Identity()
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
            self.ls2 = LayerScale(dim)
            self.drop_path2 = DropPath(dpr) if dpr > 0.0 else nn.Identity()

        def forward(self, x):
            x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
            return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))

    class ViT(nn.Module):
        def __init__(self, dim=8, depth=3, heads=2, n_patches=4, drop_path_rate=0.5):
            super().__init__()
            self.cls_token = nn.Parameter(L.zeros(1, 1, dim))
            self.pos_embed = nn.Parameter(L.randn(1, n_patches + 1, dim) * .02)
            dpr = [x.item() for x in L.linspace(0, drop_path_rate, depth)]
            self.blocks = nn.Sequential(*[Block(dim, heads, dpr[i]) for i in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.head = nn.Linear(dim, 3)
            nn.init.trunc_normal_(self.pos_embed, std=.02)
            nn.init.normal_(self.cls_token, std=1e-6)
            self.apply(self._init_weights)

        def _init_weights(self, m):
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

        def no_weight_decay(self):
            return {"pos_embed", "cls_token"}

        def forward(self, x):
            x = L.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
            x = self.blocks(x + self.pos_embed)
            return self.head(self.norm(x)[:, 0])

    L.manual_seed(5)
    m = ViT().double()
    skip = m.no_weight_decay()
    decay, no_decay = [], []
    for name, param in m.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim <= 1 or name.endswith(".bias") or name in skip:
            no_decay.append(name)
        else:
            decay.append(name)
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
    return dict(no_decay=no_decay, decay=decay, losses=losses, out=m(x), repr=repr(m.blocks[2]),
                pos=m.pos_embed, cls=m.cls_token)


@program
def shufflenet_v2_channel_shuffle_chunk_and_depthwise_branch(L):
    """ShuffleNetV2's unit: x.chunk(2, dim=1), a branch of 1x1 / depthwise 3x3 / 1x1 convs
    with BN, concatenation and channel_shuffle by view-transpose-contiguous-view; the stride-2
    unit with two branches; the same shuffle as nn.ChannelShuffle."""
    nn = L.nn

    def channel_shuffle(x, groups):
        # (n, g * k, h, w) -> (n, g, k, h, w) -> swap g and k -> (n, k * g, h, w)
        n, c, h, w = x.size()
        grouped = x.view(n, groups, c // groups, h, w)
        return L.transpose(grouped, 1, 2).contiguous().view(n, c, h, w)

    def depthwise_conv(i, o, k, stride=1, padding=0, bias=False):
        return nn.Conv2d(i, o, k, stride, padding, bias=bias, groups=i)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride):
            super().__init__()
            self.stride = stride
            branch_features = oup // 2
            if self.stride > 1:
                self.branch1 = nn.Sequential(
                    depthwise_conv(inp, inp, 3, self.stride, 1), nn.BatchNorm2d(inp),
                    nn.Conv2d(inp, branch_features, 1, bias=False),
                    nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))
            else:
                self.branch1 = nn.Sequential()
            self.branch2 = nn.Sequential(
                nn.Conv2d(inp if self.stride > 1 else branch_features, branch_features, 1,
                          bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
                depthwise_conv(branch_features, branch_features, 3, self.stride, 1),
                nn.BatchNorm2d(branch_features),
                nn.Conv2d(branch_features, branch_features, 1, bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = L.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = L.cat((self.branch1(x), self.branch2(x)), dim=1)
            return channel_shuffle(out, 2)

    L.manual_seed(7)
    net = nn.Sequential(InvertedResidual(4, 8, 2), InvertedResidual(8, 8, 1)).double()
    x = _t(L, 2, 4, 7, 7, seed=11)
    out = net(x)
    out.sum().backward()
    z = _t(L, 1, 6, 2, 2, seed=12)
    return dict(out=out, g=grads_of(net), len0=len(net[1].branch1),
                same=bool((channel_shuffle(z, 3) == nn.ChannelShuffle(3)(z)).all()),
                shuffled=channel_shuffle(z, 3), r=repr(nn.ChannelShuffle(3)))


@program
def inception_branches_bn_eps_and_auxiliary_logits_in_training(L):
    """An Inception-A style module: BasicConv2d with BatchNorm2d(eps=0.001), four branches
    (1x1, 5x5, double 3x3, avg_pool2d(3, 1, 1) then 1x1) concatenated; an auxiliary head
    used only in training, loss = main + 0.4 * aux; eval returns the main logits alone."""
    nn, F = L.nn, L.nn.functional

    class BasicConv2d(nn.Module):
        def __init__(self, in_channels, out_channels, **kwargs):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
            self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    class InceptionA(nn.Module):
        def __init__(self, in_channels, pool_features):
            super().__init__()
            self.branch1x1 = BasicConv2d(in_channels, 4, kernel_size=1)
            self.branch5x5_1 = BasicConv2d(in_channels, 3, kernel_size=1)
            self.branch5x5_2 = BasicConv2d(3, 4, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = BasicConv2d(in_channels, 4, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(4, 5, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(5, 5, kernel_size=3, padding=1)
            self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

        def forward(self, x):
            branch1x1 = self.branch1x1(x)
            branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            bp = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
            return L.cat([branch1x1, branch5x5, b3, bp], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = BasicConv2d(3, 6, kernel_size=3, stride=2)
            self.mixed = InceptionA(6, pool_features=2)
            self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3))
            self.fc = nn.Linear(15, 3)

        def forward(self, x):
            x = self.stem(x)
            aux = self.aux(x) if self.training else None
            x = self.mixed(x)
            x = L.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1)
            logits = self.fc(x)
            return (logits, aux) if self.training else logits

    L.manual_seed(8)
    net = Net().double()
    x = _t(L, 3, 3, 9, 9, seed=13)
    y = L.tensor([0, 2, 1])
    logits, aux = net(x)
    loss = F.cross_entropy(logits, y) + 0.4 * F.cross_entropy(aux, y)
    loss.backward()
    net.eval()
    return dict(loss=loss, g=grads_of(net), eval_out=net(x),
                rv=net.mixed.branch5x5_2.bn.running_var, eps=net.stem.bn.eps)


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

    class FPN(nn.Module):
        def __init__(self, in_channels=(3, 4, 5), out_channels=4):
            super().__init__()
            self.inner_blocks = nn.ModuleList([nn.Conv2d(c, out_channels, 1) for c in in_channels])
            self.layer_blocks = nn.ModuleList([nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                               for _ in in_channels])

        def forward(self, xs):
            last_inner = self.inner_blocks[-1](xs[-1])
            results = [self.layer_blocks[-1](last_inner)]
            for idx in range(len(xs) - 2, -1, -1):
                inner_lateral = self.inner_blocks[idx](xs[idx])
                feat_shape = inner_lateral.shape[-2:]
                inner_top_down = F.interpolate(last_inner, size=feat_shape, mode="nearest")
                last_inner = inner_lateral + inner_top_down
                results.insert(0, self.layer_blocks[idx](last_inner))
            return OrderedDict([(str(i), r) for i, r in enumerate(results)])

    L.manual_seed(9)
    fpn = FPN().double()
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

    class ASPPConv(nn.Sequential):
        def __init__(self, in_channels, out_channels, dilation):
            super().__init__(
                nn.Conv2d(in_channels, out_channels, 3, padding=dilation, dilation=dilation,
                          bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU())

    class ASPPPooling(nn.Sequential):
        def __init__(self, in_channels, out_channels):
            super().__init__(nn.AdaptiveAvgPool2d(1),
                             nn.Conv2d(in_channels, out_channels, 1, bias=False),
                             nn.BatchNorm2d(out_channels), nn.ReLU())

        def forward(self, x):
            size = x.shape[-2:]
            for mod in self:
                x = mod(x)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    class ASPP(nn.Module):
        def __init__(self, in_channels, atrous_rates, out_channels=4):
            super().__init__()
            modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU())]
            for rate in tuple(atrous_rates):
                modules.append(ASPPConv(in_channels, out_channels, rate))
            modules.append(ASPPPooling(in_channels, out_channels))
            self.convs = nn.ModuleList(modules)
            self.project = nn.Sequential(
                nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(0.0))

        def forward(self, x):
            return self.project(L.cat([conv(x) for conv in self.convs], dim=1))

    L.manual_seed(10)
    aspp = ASPP(3, [1, 2]).double()
    x = _t(L, 2, 3, 7, 5, seed=18)
    out = aspp(x)
    (out * _t(L, 2, 4, 7, 5, seed=19)).sum().backward()
    aspp.eval()
    return dict(out=out, g=grads_of(aspp), eval_out=aspp(x),
                rm=aspp.convs[3][2].running_mean, n=len(aspp.convs))


@program
def pix2pix_recursive_unet_skip_blocks_patchgan_and_l1_gan_loss(L):
    """pix2pix's generator built recursively from UnetSkipConnectionBlock (innermost,
    intermediate, outermost; LeakyReLU(0.2, True), InstanceNorm2d, ConvTranspose2d, Tanh,
    the skip torch.cat([x, model(x)], 1)), a PatchGAN discriminator on the concatenated pair,
    the LSGAN MSE loss against target tensors expand_as'd from registered buffers, and
    L1 * lambda; one generator and one discriminator step with Adam(betas=(0.5, 0.999))."""
    nn = L.nn

    class UnetSkipConnectionBlock(nn.Module):
        def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                     innermost=False):
            super().__init__()
            self.outermost = outermost
            if input_nc is None:
                input_nc = outer_nc
            downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1,
                                 bias=True)
            downrelu = nn.LeakyReLU(0.2, True)
            downnorm = nn.InstanceNorm2d(inner_nc)
            uprelu = nn.ReLU(True)
            upnorm = nn.InstanceNorm2d(outer_nc)
            if outermost:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1)
                model = [downconv] + [submodule] + [uprelu, upconv, nn.Tanh()]
            elif innermost:
                upconv = nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=True)
                model = [downrelu, downconv] + [uprelu, upconv, upnorm]
            else:
                upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=True)
                model = [downrelu, downconv, downnorm] + [submodule] + [uprelu, upconv, upnorm]
            self.model = nn.Sequential(*model)

        def forward(self, x):
            if self.outermost:
                return self.model(x)
            return L.cat([x, self.model(x)], 1)

    class GANLoss(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("real_label", L.tensor(1.0))
            self.register_buffer("fake_label", L.tensor(0.0))
            self.loss = nn.MSELoss()

        def __call__(self, prediction, target_is_real):
            t = self.real_label if target_is_real else self.fake_label
            return self.loss(prediction, t.expand_as(prediction))

    L.manual_seed(11)
    block = UnetSkipConnectionBlock(8, 8, innermost=True)
    block = UnetSkipConnectionBlock(4, 8, submodule=block)
    netG = UnetSkipConnectionBlock(2, 4, input_nc=2, submodule=block, outermost=True).double()
    netD = nn.Sequential(nn.Conv2d(4, 4, 4, 2, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(4, 8, 4, 1, 1, bias=False), nn.InstanceNorm2d(8),
                         nn.LeakyReLU(0.2, True), nn.Conv2d(8, 1, 4, 1, 1)).double()
    gan = GANLoss().double()
    optG = L.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = L.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_A, real_B = _t(L, 2, 2, 8, 8, seed=20), _t(L, 2, 2, 8, 8, seed=21)
    fake_B = netG(real_A)
    optD.zero_grad()
    pred_fake = netD(L.cat((real_A, fake_B), 1).detach())
    pred_real = netD(L.cat((real_A, real_B), 1))
    loss_D = (gan(pred_fake, False) + gan(pred_real, True)) * 0.5
    loss_D.backward()
    optD.step()
    for p in netD.parameters():
        p.requires_grad = False
    optG.zero_grad()
    loss_G = gan(netD(L.cat((real_A, fake_B), 1)), True) + L.nn.functional.l1_loss(fake_B, real_B) * 100.0
    loss_G.backward()
    optG.step()
    return dict(fake=fake_B, pred_shape=tuple(pred_fake.shape), loss_D=loss_D, loss_G=loss_G,
                gD=[p.grad for p in netD.parameters()], gG=grads_of(netG),
                n_mods=len(list(netG.modules())), buffers=[k for k, _ in gan.named_buffers()])


@program
def dcgan_weights_init_by_class_name_and_alternating_updates(L):
    """The DCGAN example: weights_init applied by class-name lookups (Conv -> normal_(0,
    0.02), BatchNorm -> normal_(1, 0.02) and zero bias), a ConvTranspose2d generator from
    a latent (nz, 1, 1), a strided-conv discriminator with Sigmoid, labels by
    torch.full(..., dtype) and fill_, BCELoss, the fake detached for D; two iterations."""
    nn = L.nn

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            L.nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            L.nn.init.normal_(m.weight, 1.0, 0.02)
            L.nn.init.zeros_(m.bias)

    nz, ngf, ndf = 4, 4, 4
    L.manual_seed(12)
    netG = nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True), nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
        nn.BatchNorm2d(ngf), nn.ReLU(True), nn.ConvTranspose2d(ngf, 1, 4, 2, 1, bias=False),
        nn.Tanh())
    netG.apply(weights_init)
    netD = nn.Sequential(
        nn.Conv2d(1, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
        nn.Sigmoid())
    netD.apply(weights_init)
    netG, netD = netG.double(), netD.double()
    criterion = nn.BCELoss()
    optD = L.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optG = L.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = _t(L, 3, 1, 16, 16, seed=22).tanh()
    log = []
    for _ in range(2):
        netD.zero_grad()
        label = L.full((3,), 1.0, dtype=real.dtype)
        errD_real = criterion(netD(real).view(-1), label)
        errD_real.backward()
        noise = L.randn(3, nz, 1, 1, dtype=L.float64)
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        optG.step()
        log.append((errD_real.item() + errD_fake.item(), errG.item(), D_G_z1,
                    output.mean().item()))
    return dict(log=log, w=netG[0].weight, bn=netD[3].weight, fake=fake)


@program
def pointnet_tnet_bmm_feature_transform_regulariser_and_max_pool(L):
    """PointNet's classifier: an STN predicting a k x k transform (identity added through
    torch.eye(k).view(1, k*k).repeat(B, 1)), applied by torch.bmm on transposed points,
    Conv1d/BatchNorm1d shared MLPs, a global feature by torch.max(x, 2, keepdim=True)[0],
    log_softmax + nll_loss and the feature-transform regulariser ||I - A A^T||_F."""
    nn, F = L.nn, L.nn.functional

    class STNkd(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k
            self.conv1 = nn.Conv1d(k, 8, 1)
            self.conv2 = nn.Conv1d(8, 16, 1)
            self.fc1 = nn.Linear(16, 8)
            self.fc2 = nn.Linear(8, k * k)
            self.bn1 = nn.BatchNorm1d(8)
            self.bn2 = nn.BatchNorm1d(16)
            self.bn3 = nn.BatchNorm1d(8)

        def forward(self, x):
            batchsize = x.size()[0]
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            x = L.max(x, 2, keepdim=True)[0]
            x = x.view(-1, 16)
            x = F.relu(self.bn3(self.fc1(x)))
            x = self.fc2(x)
            iden = L.eye(self.k, dtype=x.dtype).view(1, self.k * self.k).repeat(batchsize, 1)
            x = x + iden
            return x.view(-1, self.k, self.k)

    class PointNetCls(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.stn = STNkd(3)
            self.conv1 = nn.Conv1d(3, 6, 1)
            self.bn1 = nn.BatchNorm1d(6)
            self.fstn = STNkd(6)
            self.conv2 = nn.Conv1d(6, 12, 1)
            self.bn2 = nn.BatchNorm1d(12)
            self.fc = nn.Linear(12, k)

        def forward(self, x):
            trans = self.stn(x)
            x = L.bmm(x.transpose(2, 1), trans).transpose(2, 1)
            x = F.relu(self.bn1(self.conv1(x)))
            trans_feat = self.fstn(x)
            x = L.bmm(x.transpose(2, 1), trans_feat).transpose(2, 1)
            x = self.bn2(self.conv2(x))
            x, idx = L.max(x, 2, keepdim=True)
            x = x.view(-1, 12)
            return F.log_softmax(self.fc(x), dim=1), trans, trans_feat, idx

    def feature_transform_regularizer(trans):
        d = trans.size()[1]
        I = L.eye(d, dtype=trans.dtype)[None, :, :]
        return L.mean(L.norm(L.bmm(trans, trans.transpose(2, 1)) - I, dim=(1, 2)))

    L.manual_seed(13)
    net = PointNetCls().double()
    pts = _t(L, 4, 3, 10, seed=23)
    y = L.tensor(_labels(4, 3, 24))
    pred, trans, trans_feat, idx = net(pts)
    loss = F.nll_loss(pred, y) + 0.001 * feature_transform_regularizer(trans_feat)
    loss.backward()
    acc = pred.data.max(1)[1].eq(y.data).cpu().sum().item()
    return dict(pred=pred, trans=trans, loss=loss, idx=idx, acc=acc, g=grads_of(net))


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
    grouped 3x3 conv, SE by adaptive_avg_pool2d -> 1x1 convs -> sigmoid with the reduced
    width from _make_divisible, the downsample a Sequential(conv, BN); BN zero-init of the
    last BN weight skipped (kept 1); SGD step."""
    nn = L.nn

    class SqueezeExcitation(nn.Module):
        def __init__(self, input_channels, squeeze_channels):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
            self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
            self.activation = nn.ReLU()
            self.scale_activation = nn.Sigmoid()

        def forward(self, input):
            scale = self.fc2(self.activation(self.fc1(self.avgpool(input))))
            return self.scale_activation(scale) * input

    class Bottleneck(nn.Module):
        expansion = 2

        def __init__(self, inplanes, planes, stride=1, groups=4, base_width=32):
            super().__init__()
            width = int(planes * (base_width / 64.0)) * groups
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * self.expansion)
            self.se = SqueezeExcitation(planes * self.expansion,
                                        _make_divisible(planes * self.expansion // 4, 4))
            self.relu = nn.ReLU(inplace=True)
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * self.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * self.expansion))

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.se(self.bn3(self.conv3(out)))
            out += self.downsample(identity)
            return self.relu(out)

    L.manual_seed(15)
    blk = Bottleneck(6, 4, stride=2).double()
    x = _t(L, 2, 6, 6, 6, seed=26)
    opt = L.optim.SGD(blk.parameters(), lr=0.05)
    out = blk(x)
    loss = out.mean()
    loss.backward()
    opt.step()
    return dict(out=out, loss=loss, w=blk.conv2.weight, se=blk.se.fc1.weight.shape,
                width=blk.conv1.out_channels, after=blk(x))


@program
def eca_channel_attention_by_conv1d_and_ghost_module_cheap_features(L):
    """ECA-Net: kernel size from |log2(C)/gamma + b/gamma| made odd, the pooled vector
    squeezed and transposed into a Conv1d over channels and back by unsqueeze; GhostNet's
    module: a primary 1x1 conv, a cheap depthwise op, torch.cat and a slice [:, :oup]."""
    nn = L.nn

    class ECA(nn.Module):
        def __init__(self, channels, gamma=2, b=1):
            super().__init__()
            t = int(abs((math.log(channels, 2) + b) / gamma))
            k = t if t % 2 else t + 1
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=(k - 1) // 2, bias=False)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            y = self.avg_pool(x)
            y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
            return x * self.sigmoid(y).expand_as(x)

    class GhostModule(nn.Module):
        def __init__(self, inp, oup, ratio=2, dw_size=3, relu=True):
            super().__init__()
            self.oup = oup
            init_channels = math.ceil(oup / ratio)
            new_channels = init_channels * (ratio - 1)
            self.primary_conv = nn.Sequential(
                nn.Conv2d(inp, init_channels, 1, 1, 0, bias=False),
                nn.BatchNorm2d(init_channels),
                nn.ReLU(inplace=True) if relu else nn.Sequential())
            self.cheap_operation = nn.Sequential(
                nn.Conv2d(init_channels, new_channels, dw_size, 1, dw_size // 2,
                          groups=init_channels, bias=False),
                nn.BatchNorm2d(new_channels),
                nn.ReLU(inplace=True) if relu else nn.Sequential())

        def forward(self, x):
            x1 = self.primary_conv(x)
            x2 = self.cheap_operation(x1)
            out = L.cat([x1, x2], dim=1)
            return out[:, :self.oup, :, :]

    L.manual_seed(16)
    net = nn.Sequential(GhostModule(3, 7), ECA(7), GhostModule(7, 16, relu=False), ECA(16)).double()
    x = _t(L, 2, 3, 5, 5, seed=27)
    out = net(x)
    (out ** 2).sum().backward()
    return dict(out=out, g=grads_of(net), k=[m.conv.kernel_size for m in net if isinstance(m, ECA)])


@program
def res2net_hierarchical_split_and_stage_average_pool(L):
    """Res2Net's Bottle2neck: the 1x1 output split by torch.split(out, width, 1) into scale
    groups, each after the first added to the previous group's output before its 3x3 conv,
    the last group passed through (or avg-pooled in the 'stage' type), all concatenated."""
    nn = L.nn

    class Bottle2neck(nn.Module):
        def __init__(self, inplanes, planes, stride=1, baseWidth=16, scale=4, stype="normal"):
            super().__init__()
            width = int(math.floor(planes * (baseWidth / 64.0)))
            self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width * scale)
            self.nums = 1 if scale == 1 else scale - 1
            if stype == "stage":
                self.pool = nn.AvgPool2d(kernel_size=3, stride=stride, padding=1)
            self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, stride, 1, bias=False)
                                        for _ in range(self.nums)])
            self.bns = nn.ModuleList([nn.BatchNorm2d(width) for _ in range(self.nums)])
            self.conv3 = nn.Conv2d(width * scale, planes, 1, bias=False)
            self.relu = nn.ReLU(inplace=True)
            self.stype, self.scale, self.width = stype, scale, width

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            spx = L.split(out, self.width, 1)
            for i in range(self.nums):
                if i == 0 or self.stype == "stage":
                    sp = spx[i]
                else:
                    sp = sp + spx[i]
                sp = self.relu(self.bns[i](self.convs[i](sp)))
                out = sp if i == 0 else L.cat((out, sp), 1)
            if self.scale != 1 and self.stype == "normal":
                out = L.cat((out, spx[self.nums]), 1)
            elif self.scale != 1 and self.stype == "stage":
                out = L.cat((out, self.pool(spx[self.nums])), 1)
            return self.conv3(out)

    L.manual_seed(17)
    a = Bottle2neck(4, 8, stride=2, stype="stage").double()
    b = Bottle2neck(8, 8).double()
    x = _t(L, 2, 4, 6, 6, seed=28)
    out = b(a(x))
    out.sum().backward()
    return dict(out=out, ga=grads_of(a), gb=grads_of(b), width=b.width)


@program
def yolov5_focus_sppf_c3_and_silu_conv_autopad(L):
    """YOLOv5's pieces: autopad, Conv = conv + BN(eps=1e-3, momentum=0.03) + SiLU, Focus
    (space-to-depth by the four ::2 slices concatenated), C3 with Bottleneck shortcuts,
    SPPF (one MaxPool2d(k, 1, k // 2) applied thrice, all four concatenated); model.fuse's
    conv+BN folding for inference compared with the unfused eval output."""
    nn = L.nn

    def autopad(k, p=None):
        return k // 2 if p is None else p

    class Conv(nn.Module):
        def __init__(self, c1, c2, k=1, s=1, p=None, g=1):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), groups=g, bias=False)
            self.bn = nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

        def forward_fuse(self, x):
            return self.act(self.conv(x))

    class Focus(nn.Module):
        def __init__(self, c1, c2, k=1):
            super().__init__()
            self.conv = Conv(c1 * 4, c2, k)

        def forward(self, x):
            return self.conv(L.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
                                    x[..., 1::2, 1::2]], 1))

    class Bottleneck(nn.Module):
        def __init__(self, c1, c2, shortcut=True, e=1.0):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, 1)
            self.cv2 = Conv(c_, c2, 3)
            self.add = shortcut and c1 == c2

        def forward(self, x):
            return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))

    class C3(nn.Module):
        def __init__(self, c1, c2, n=1, shortcut=True, e=0.5):
            super().__init__()
            c_ = int(c2 * e)
            self.cv1 = Conv(c1, c_, 1)
            self.cv2 = Conv(c1, c_, 1)
            self.cv3 = Conv(2 * c_, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut) for _ in range(n)))

        def forward(self, x):
            return self.cv3(L.cat((self.m(self.cv1(x)), self.cv2(x)), 1))

    class SPPF(nn.Module):
        def __init__(self, c1, c2, k=5):
            super().__init__()
            c_ = c1 // 2
            self.cv1 = Conv(c1, c_, 1)
            self.cv2 = Conv(c_ * 4, c2, 1)
            self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

        def forward(self, x):
            x = self.cv1(x)
            y1 = self.m(x)
            y2 = self.m(y1)
            return self.cv2(L.cat((x, y1, y2, self.m(y2)), 1))

    def fuse_conv_and_bn(conv, bn):
        fusedconv = nn.Conv2d(conv.in_channels, conv.out_channels, kernel_size=conv.kernel_size,
                              stride=conv.stride, padding=conv.padding, groups=conv.groups,
                              bias=True).requires_grad_(False).to(conv.weight.device)
        w_conv = conv.weight.clone().view(conv.out_channels, -1)
        w_bn = L.diag(bn.weight.div(L.sqrt(bn.eps + bn.running_var)))
        fusedconv.weight.copy_(L.mm(w_bn, w_conv).view(fusedconv.weight.shape))
        b_conv = L.zeros(conv.weight.size(0), device=conv.weight.device,
                         dtype=conv.weight.dtype) if conv.bias is None else conv.bias
        b_bn = bn.bias - bn.weight.mul(bn.running_mean).div(L.sqrt(bn.running_var + bn.eps))
        fusedconv.bias.copy_(L.mm(w_bn, b_conv.reshape(-1, 1)).reshape(-1) + b_bn)
        return fusedconv

    L.manual_seed(18)
    model = nn.Sequential(Focus(3, 8, 3), C3(8, 8, n=2), SPPF(8, 6)).double()
    x = _t(L, 2, 3, 8, 8, seed=29)
    out = model(x)
    out.pow(2).mean().backward()
    g = grads_of(model)
    model.eval()
    ref = model(x)
    with L.no_grad():
        for m in model.modules():
            if isinstance(m, Conv) and hasattr(m, "bn"):
                m.conv = fuse_conv_and_bn(m.conv, m.bn).double()
                delattr(m, "bn")
                m.forward = m.forward_fuse
        fused = model(x)
    return dict(out=out, g=g, ref=ref, fused=fused,
                close=float((ref - fused).abs().max()) < 1e-10,
                keys=list(model.state_dict().keys())[:5])


@program
def convmixer_residual_wrapper_same_padding_depthwise_and_gelu(L):
    """ConvMixer in a few lines: a Residual(nn.Module) wrapper, a patch embedding conv with
    stride = patch size, depthwise convs with padding='same' and GELU + BatchNorm, pointwise
    convs, AdaptiveAvgPool2d((1, 1)) and Flatten; label-smoothed loss and an AdamW step."""
    nn, F = L.nn, L.nn.functional

    class Residual(nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x) + x

    def ConvMixer(dim, depth, kernel_size=3, patch_size=2, n_classes=3):
        return nn.Sequential(
            nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size), nn.GELU(),
            nn.BatchNorm2d(dim),
            *[nn.Sequential(
                Residual(nn.Sequential(
                    nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"),
                    nn.GELU(), nn.BatchNorm2d(dim))),
                nn.Conv2d(dim, dim, kernel_size=1), nn.GELU(), nn.BatchNorm2d(dim))
              for _ in range(depth)],
            nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(dim, n_classes))

    L.manual_seed(19)
    m = ConvMixer(6, 2, kernel_size=4).double()
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
    return dict(losses=losses, w=m[3][0].fn[0].weight, r=repr(m[3][0].fn[0]))


@program
def detr_hungarian_matching_generalised_iou_and_set_criterion(L):
    """DETR's matcher and losses: boxes converted cxcywh -> xyxy by unbind(-1) and stack,
    generalized_box_iou from broadcast max/min and clamp(min=0), the cost matrix
    (-prob[:, tgt_ids], torch.cdist(p=1), -giou) split per image by sizes and solved with
    scipy's linear_sum_assignment on detached numpy, the permutation index by torch.cat
    of full_like, the CE with eos_coef weighting by empty_weight and the L1/GIoU losses."""
    scipy_opt = pytest.importorskip("scipy.optimize")
    F = L.nn.functional

    def box_cxcywh_to_xyxy(x):
        x_c, y_c, w, h = x.unbind(-1)
        return L.stack([(x_c - 0.5 * w), (y_c - 0.5 * h), (x_c + 0.5 * w), (y_c + 0.5 * h)],
                       dim=-1)

    def box_area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def box_iou(boxes1, boxes2):
        area1, area2 = box_area(boxes1), box_area(boxes2)
        lt = L.max(boxes1[:, None, :2], boxes2[:, :2])
        rb = L.min(boxes1[:, None, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, :, 0] * wh[:, :, 1]
        union = area1[:, None] + area2 - inter
        return inter / union, union

    def generalized_box_iou(boxes1, boxes2):
        iou, union = box_iou(boxes1, boxes2)
        lt = L.min(boxes1[:, None, :2], boxes2[:, :2])
        rb = L.max(boxes1[:, None, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        area = wh[:, :, 0] * wh[:, :, 1]
        return iou - (area - union) / area

    num_classes, Q = 3, 5
    logits = _t(L, 2, Q, num_classes + 1, seed=31, grad=True)
    boxes_raw = _t(L, 2, Q, 4, seed=32, grad=True)
    pred_boxes = boxes_raw.sigmoid() * 0.5 + 0.25
    rng = np.random.RandomState(33)
    targets = [{"labels": L.tensor(rng.randint(0, 3, n)),
                "boxes": L.tensor(rng.uniform(0.3, 0.6, (n, 4)))} for n in (2, 3)]
    with L.no_grad():
        bs, num_queries = logits.shape[:2]
        out_prob = logits.flatten(0, 1).softmax(-1)
        out_bbox = pred_boxes.flatten(0, 1)
        tgt_ids = L.cat([v["labels"] for v in targets])
        tgt_bbox = L.cat([v["boxes"] for v in targets])
        cost_class = -out_prob[:, tgt_ids]
        cost_bbox = L.cdist(out_bbox, tgt_bbox, p=1)
        cost_giou = -generalized_box_iou(box_cxcywh_to_xyxy(out_bbox),
                                         box_cxcywh_to_xyxy(tgt_bbox))
        C = 5 * cost_bbox + 1 * cost_class + 2 * cost_giou
        C = C.view(bs, num_queries, -1).cpu()
        sizes = [len(v["boxes"]) for v in targets]
        indices = [scipy_opt.linear_sum_assignment(c[i].numpy())
                   for i, c in enumerate(C.split(sizes, -1))]
        indices = [(L.as_tensor(i, dtype=L.int64), L.as_tensor(j, dtype=L.int64))
                   for i, j in indices]
    batch_idx = L.cat([L.full_like(src, i) for i, (src, _) in enumerate(indices)])
    src_idx = L.cat([src for (src, _) in indices])
    idx = (batch_idx, src_idx)
    target_classes_o = L.cat([t["labels"][J] for t, (_, J) in zip(targets, indices)])
    target_classes = L.full(logits.shape[:2], num_classes, dtype=L.int64)
    target_classes[idx] = target_classes_o
    empty_weight = L.ones(num_classes + 1, dtype=L.float64)
    empty_weight[-1] = 0.1
    loss_ce = F.cross_entropy(logits.transpose(1, 2), target_classes, empty_weight)
    src_boxes = pred_boxes[idx]
    target_boxes = L.cat([t["boxes"][i] for t, (_, i) in zip(targets, indices)], dim=0)
    num_boxes = sum(sizes)
    loss_bbox = F.l1_loss(src_boxes, target_boxes, reduction="none").sum() / num_boxes
    loss_giou = (1 - L.diag(generalized_box_iou(box_cxcywh_to_xyxy(src_boxes),
                                                box_cxcywh_to_xyxy(target_boxes)))).sum() / num_boxes
    loss = loss_ce + 5 * loss_bbox + 2 * loss_giou
    loss.backward()
    return dict(C=C, indices=indices, tc=target_classes, loss_ce=loss_ce, loss_bbox=loss_bbox,
                loss_giou=loss_giou, gl=logits.grad, gb=boxes_raw.grad)


@program
def torchvision_resnet_in_float32_with_kaiming_fan_out_and_zero_init_residual(L):
    """A torchvision-style ResNet left in float32 as training scripts leave it:
    kaiming_normal_(mode='fan_out', nonlinearity='relu') on every conv (float32 Box-Muller
    draws), BatchNorm weight 1 / bias 0, zero_init_residual on each block's last BN, the
    default nn.Linear init; three SGD steps with momentum, the losses and the final weights
    to float32 precision."""
    nn, F = L.nn, L.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, inplanes, planes, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = None
            if stride != 1 or inplanes != planes:
                self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                                nn.BatchNorm2d(planes))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self, num_classes=4):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = nn.Sequential(BasicBlock(8, 8), BasicBlock(8, 8))
            self.layer2 = nn.Sequential(BasicBlock(8, 16, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer2(self.layer1(x))
            return self.fc(L.flatten(self.avgpool(x), 1))

    L.manual_seed(20)
    m = ResNet()
    init = {k: v.clone() for k, v in m.state_dict().items() if k.endswith("conv1.weight")}
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
    return dict(bits=bits, losses=L.tensor(losses, dtype=L.float32), fc=m.fc.weight, conv=m.layer2[0].conv1.weight,
                rv=m.layer2[0].bn1.running_var)


# ----------------------------------------------------------------------------------------------
# the programs with the most operations (a few seconds of torch's threads on a busy machine)
_SLOW = {"densenet_dense_block_concatenated_features_and_ordered_dict_names",
         "torchvision_resnet_in_float32_with_kaiming_fan_out_and_zero_init_residual"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
