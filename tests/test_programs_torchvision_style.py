"""The classic image architectures a model zoo offers, each written here in our own code at
small sizes (the parameter names follow the published checkpoints where a program loads or
renames state dicts): a Bottleneck ResNet (its module text run as a file that imports
``torch``), VGG from a configuration table, DenseNet with checkpointed bottlenecks, an Inception block with an auxiliary
head, ShuffleNetV2, SqueezeNet, AlexNet, MobileNetV3/EfficientNet parts (stochastic depth,
squeeze-excitation, a conv-norm-activation helper), a DeepLab-style ASPP segmentation head,
and detection box utilities (IoU, plain-op NMS, box coding, anchor matching).

Each ``program(lib)`` runs once with ``lib`` = torch and once with ``lib`` = minigrad from the
same numpy weights and inputs, and returns outputs, losses, every parameter's gradient and the
parameters after one optimizer step; the two must agree in values, dtypes and shapes, and emit
the same warning categories.
"""
import builtins
import functools
import math
import re
from collections import OrderedDict, namedtuple
from typing import List

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)   # small problems: threads only add overhead on a busy machine
from side_by_side import (  # noqa: E402
    SideBySide, bare, dotted, err, grads_of as _grads, load_seeded as _load,
    params_of as _params, registry)

# float32: gradients through a dozen train-mode BatchNorms differ from a float64 reference by
# about 1e-5 of their largest entry in either library, so entries are compared at 5e-5; the
# float32 models take SGD steps, since Adam's first step turns a gradient that is rounding
# noise (a BatchNorm bias ahead of another BatchNorm) into a full step of either sign
HARNESS = SideBySide(rename=dotted, rename_error=bare,
                     tol={"float16": 1e-3, "float32": (5e-4, 5e-5), "float64": 1e-8},
                     tag=lambda v: type(v) is list)
_check = HARNESS.check
PROGRAMS, program = registry()


def _f32(*shape, seed=0, scale=1.0):
    return (np.random.RandomState(seed).randn(*shape) * scale).astype(np.float32)


def _labels(n, classes, seed):
    return np.random.RandomState(seed).randint(0, classes, n)


def _seeded(lib, model, seed, scale=0.3):
    """Seeded weights (``load_seeded``), BatchNorm variances then made positive."""
    _load(lib, model, seed, scale)
    with lib.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith("running_var"):
                buf.abs_().add_(0.5)
    return model


def _step(lib, model, loss, opt):
    """Backward of ``loss``, the gradients, one step of ``opt``: what a training loop sees."""
    opt.zero_grad()
    loss.backward()
    grads = _grads(model)
    opt.step()
    return {"loss": loss, "grads": grads, "after": _params(model)}


def _as_module(lib, source, name):
    """The names a model file defines when it is run with ``torch`` meaning ``lib``: its own
    ``import torch`` / ``from torch.x import y`` lines are resolved in ``lib``."""
    def importer(what, globals=None, locals=None, fromlist=(), level=0):
        if what == "torch" or what.startswith("torch."):
            what = lib.__name__ + what[len("torch"):]
        return builtins.__import__(what, globals, locals, fromlist, level)
    space = {"__builtins__": dict(vars(builtins), __import__=importer), "__name__": name}
    exec(compile(source, name, "exec"), space)
    return space


# ----------------------------------------------------------------------------------------------
# 1. ResNet with Bottleneck blocks, as a model file
# ----------------------------------------------------------------------------------------------
_RESNET_FILE = '''
from torch.hub import load_state_dict_from_url
from typing import List, Optional

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils.model_zoo import load_url

__all__ = ["ResNet", "Bottleneck"]
model_urls = {"resnet_tiny": "https://example.invalid/resnet_tiny-0000.pth"}


def _conv(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1,
          dilation: int = 1) -> nn.Conv2d:
    """bias-free k x k convolution keeping the grid (up to the stride)"""
    return nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=dilation * (k // 2),
                     groups=groups, bias=False, dilation=dilation)


class Bottleneck(nn.Module):
    """1x1 narrow, 3x3 (strided/grouped/dilated), 1x1 widen by ``expansion``; the sum with
    the (possibly projected) input goes through the last ReLU"""
    expansion: int = 4

    def __init__(self, cin, planes, stride=1, downsample: Optional[nn.Module] = None,
                 groups=1, base_width=64, dilation=1, norm_layer=None):
        super().__init__()
        norm = norm_layer or nn.BatchNorm2d
        inner = groups * int(planes * base_width / 64.0)
        cout = planes * self.expansion
        self.conv1, self.bn1 = _conv(cin, inner, 1), norm(inner)
        self.conv2 = _conv(inner, inner, 3, stride, groups, dilation)
        self.bn2 = norm(inner)
        self.conv3, self.bn3 = _conv(inner, cout, 1), norm(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        branch = x
        for conv, bn in ((self.conv1, self.bn1), (self.conv2, self.bn2)):
            branch = self.relu(bn(conv(branch)))
        branch = self.bn3(self.conv3(branch))
        shortcut = x if self.downsample is None else self.downsample(x)
        branch += shortcut
        return self.relu(branch)


class ResNet(nn.Module):
    def __init__(self, block, layers: List[int], num_classes: int = 10,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: Optional[List[bool]] = None, stem: int = 8,
                 norm_layer=None) -> None:
        super().__init__()
        dilate = list(replace_stride_with_dilation or [False, False, False])
        if len(dilate) != 3:
            raise ValueError(f"three stage flags expected, got {len(dilate)}")
        self._norm = norm_layer or nn.BatchNorm2d
        self._block_args = dict(groups=groups, base_width=width_per_group)
        self._width, self._dilation = stem, 1
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm(stem)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        # stage k has 2^k times the stem's planes; all but the first halve the grid, unless
        # its flag trades the stride for a larger dilation
        for k, (count, flag) in enumerate(zip(layers, [False] + dilate)):
            stage = self._stage(block, stem * 2 ** k, count, 1 if k == 0 else 2, flag)
            setattr(self, f"layer{k + 1}", stage)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(stem * 8 * block.expansion, num_classes)
        self._initialise(block, zero_init_residual)

    def _initialise(self, block, zero_last_norm):
        for m in self.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_last_norm:              # each residual branch starts as the identity
            for m in self.modules():
                if isinstance(m, block) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)

    def _stage(self, block, planes: int, count: int, stride: int,
               dilate: bool) -> nn.Sequential:
        first_dilation = self._dilation
        if dilate:
            self._dilation, stride = self._dilation * stride, 1
        cout = planes * block.expansion
        project = None
        if stride != 1 or self._width != cout:
            project = nn.Sequential(_conv(self._width, cout, 1, stride), self._norm(cout))
        blocks = [block(self._width, planes, stride, project, dilation=first_dilation,
                        norm_layer=self._norm, **self._block_args)]
        blocks += [block(cout, planes, dilation=self._dilation, norm_layer=self._norm,
                         **self._block_args) for _ in range(count - 1)]
        self._width = cout
        return nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = stage(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))
'''


@program
def tv_resnet_bottleneck(lib):
    """Train step, eval pass, state-dict keys and round trip, then a frozen backbone with a
    new ``fc``; a float64 copy with dilated stages."""
    tv = _as_module(lib, _RESNET_FILE, "resnet_file")
    nn, F = lib.nn, lib.nn.functional
    ResNet, Bottleneck = tv["ResNet"], tv["Bottleneck"]
    net = ResNet(Bottleneck, [2, 1, 1, 1], num_classes=6, zero_init_residual=True, stem=4)
    out = {"zeroed": [m.bn3.weight.abs().sum() for m in net.modules()
                      if isinstance(m, Bottleneck)],
           "keys": list(net.state_dict().keys()), "fc_in": net.fc.in_features,
           "downsample": [type(m).__name__ for m in net.layer2[0].downsample]}
    _seeded(lib, net, 700, 0.2)
    x, y = lib.tensor(_f32(4, 3, 32, 32, seed=701)), lib.tensor(_labels(4, 6, 702))
    opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    net.train()
    out["train"] = _step(lib, net, F.cross_entropy(net(x), y), opt)
    out["running"] = [net.bn1.running_mean, net.layer4[0].bn3.running_var]
    net.eval()
    with lib.no_grad():
        out["eval"] = net(x)
    twin = ResNet(Bottleneck, [2, 1, 1, 1], num_classes=6, stem=4)
    out["loaded"] = str(twin.load_state_dict(net.state_dict()))
    out["twin"] = twin.eval()(x).detach()
    # fine-tuning: everything frozen but a new classifier
    net.requires_grad_(False)
    net.fc = _load(lib, nn.Linear(net.fc.in_features, 3), 703, 0.2)
    head_opt = lib.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1,
                             momentum=0.9)
    net.train()
    y3 = lib.tensor(_labels(4, 3, 704))
    out["tune"] = _step(lib, net, F.cross_entropy(net(x), y3, label_smoothing=0.1), head_opt)
    out["trainable"] = [n for n, p in net.named_parameters() if p.requires_grad]
    # float64, the last two stages dilated instead of strided
    wide = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=4, stem=4,
                  replace_stride_with_dilation=[False, True, True])
    wide = _seeded(lib, wide.double(), 705, 0.2)
    x64 = lib.tensor(np.random.RandomState(706).randn(2, 3, 32, 32))
    feats = wide.layer4(wide.layer3(wide.layer2(wide.layer1(wide.maxpool(
        wide.relu(wide.bn1(wide.conv1(x64))))))))
    out["dilated"] = {"shape": feats.shape, "dil": wide.layer4[0].conv2.dilation,
                      "step": _step(lib, wide, wide(x64).logsumexp(1).mean(),
                                    lib.optim.Adam(wide.parameters(), lr=1e-3))}
    return out


# ----------------------------------------------------------------------------------------------
# 2. VGG from a configuration table
# ----------------------------------------------------------------------------------------------
cfgs = {"T": [8, "M", 16, "M", 32, 32, "M"],
        "U": [8, 8, "M", 16, 16, "M", 32, 32, 32, "M"]}


def _vgg(lib):
    nn = lib.nn

    def make_layers(plan, batch_norm=False):
        # a number is a padded 3x3 conv to that many channels (+ BN) + ReLU; "M" halves
        layers, width = [], 3
        for item in plan:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            layers.append(nn.Conv2d(width, item, kernel_size=3, padding=1))
            layers += [nn.BatchNorm2d(item)] if batch_norm else []
            layers.append(nn.ReLU(inplace=True))
            width = item
        return nn.Sequential(*layers)

    def dense_relu_drop(cin, cout, p):
        return [nn.Linear(cin, cout), nn.ReLU(True), nn.Dropout(p=p)]

    class VGG(nn.Module):
        def __init__(self, features, num_classes=5, init_weights=True, dropout=0.5):
            super().__init__()
            self.features = features
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(*dense_relu_drop(32 * 49, 64, dropout),
                                            *dense_relu_drop(64, 64, dropout),
                                            nn.Linear(64, num_classes))
            if init_weights:
                self._fresh()

        def _fresh(self):
            # He-normal convs (fan_out), N(0, 0.01) dense weights, unit norms, zero biases
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                elif isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                else:
                    continue
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            pooled = self.avgpool(self.features(x))
            return self.classifier(lib.flatten(pooled, 1))

    return make_layers, VGG


@program
def tv_vgg_cfgs(lib):
    make_layers, VGG = _vgg(lib)
    x, y = lib.tensor(_f32(3, 3, 32, 32, seed=710)), lib.tensor(_labels(3, 5, 711))
    out = {}
    for cfg, bn in (("T", False), ("U", True)):
        net = _seeded(lib, VGG(make_layers(cfgs[cfg], batch_norm=bn), dropout=0.0), 712, 0.15)
        opt = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        net.train()
        res = _step(lib, net, lib.nn.CrossEntropyLoss()(net(x), y), opt)
        res["layers"] = len(net.features)
        # eval: dropout does nothing, so a p=0.5 model with the same weights agrees
        net.eval()
        twin = VGG(make_layers(cfgs[cfg], batch_norm=bn), init_weights=False)
        twin.load_state_dict(net.state_dict())
        with lib.no_grad():
            res["eval"], res["twin"] = net(x), twin.eval()(x)
        out[cfg] = res
    return out


# ----------------------------------------------------------------------------------------------
# 3. DenseNet, its bottlenecks optionally recomputed in backward
# ----------------------------------------------------------------------------------------------
def _densenet(lib):
    nn, F, cp = lib.nn, lib.nn.functional, lib.utils.checkpoint

    class _DenseLayer(nn.Module):
        """BN-ReLU-1x1 conv to ``bn_size * growth`` channels over the concatenation of all
        earlier outputs (optionally recomputed in backward), then BN-ReLU-3x3 conv to
        ``growth`` new channels; attribute names follow the published checkpoints"""

        def __init__(self, cin, growth, bn_size, drop_rate, memory_efficient=False):
            super().__init__()
            mid = bn_size * growth
            for k, (a, b, kernel) in enumerate(((cin, mid, 1), (mid, growth, 3)), start=1):
                setattr(self, f"norm{k}", nn.BatchNorm2d(a))
                setattr(self, f"relu{k}", nn.ReLU(inplace=True))
                setattr(self, f"conv{k}", nn.Conv2d(a, b, kernel_size=kernel, stride=1,
                                                    padding=kernel // 2, bias=False))
            self.drop_rate = float(drop_rate)
            self.memory_efficient = memory_efficient

        def narrow(self, pieces):
            return self.conv1(self.relu1(self.norm1(lib.cat(pieces, 1))))

        @lib.jit.unused
        def narrow_recomputed(self, pieces):
            return cp.checkpoint(lambda *p: self.narrow(p), *pieces, use_reentrant=False)

        # the overload declarations a scripted model file carries: list or single tensor
        @lib.jit._overload_method  # noqa: F811
        def forward(self, input: List[lib.Tensor]) -> lib.Tensor:
            pass

        @lib.jit._overload_method  # noqa: F811
        def forward(self, input: lib.Tensor) -> lib.Tensor:
            pass

        def forward(self, input):  # noqa: F811
            pieces = [input] if isinstance(input, lib.Tensor) else input
            recompute = self.memory_efficient and any(p.requires_grad for p in pieces)
            if recompute and lib.jit.is_scripting():
                raise Exception("recomputation cannot be scripted")
            mid = self.narrow_recomputed(pieces) if recompute else self.narrow(pieces)
            fresh = self.conv2(self.relu2(self.norm2(mid)))
            if self.drop_rate > 0:
                fresh = F.dropout(fresh, p=self.drop_rate, training=self.training)
            return fresh

    class _DenseBlock(nn.ModuleDict):
        _version = 2

        def __init__(self, n_layers, cin, bn_size, growth, drop_rate, memory_efficient=False):
            super().__init__()
            for k in range(n_layers):
                self[f"denselayer{k + 1}"] = _DenseLayer(cin + k * growth, growth, bn_size,
                                                         drop_rate, memory_efficient)

        def forward(self, x):
            seen = [x]
            for layer in self.values():
                seen.append(layer(seen))
            return lib.cat(seen, 1)

    def transition(cin, cout):            # BN-ReLU-1x1 conv, then a 2x2 average pool
        return nn.Sequential(OrderedDict(
            norm=nn.BatchNorm2d(cin), relu=nn.ReLU(inplace=True),
            conv=nn.Conv2d(cin, cout, kernel_size=1, stride=1, bias=False),
            pool=nn.AvgPool2d(kernel_size=2, stride=2)))

    class DenseNet(nn.Module):
        def __init__(self, growth_rate=4, block_config=(2, 3), num_init_features=8, bn_size=2,
                     drop_rate=0.0, num_classes=5, memory_efficient=False):
            super().__init__()
            stem = num_init_features
            self.features = nn.Sequential(OrderedDict(
                conv0=nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False),
                norm0=nn.BatchNorm2d(stem), relu0=nn.ReLU(inplace=True),
                pool0=nn.MaxPool2d(kernel_size=3, stride=2, padding=1)))
            width = stem
            for k, n_layers in enumerate(block_config, start=1):
                self.features.add_module(f"denseblock{k}", _DenseBlock(
                    n_layers, width, bn_size, growth_rate, drop_rate, memory_efficient))
                width += n_layers * growth_rate
                if k < len(block_config):            # no transition after the last block
                    self.features.add_module(f"transition{k}", transition(width, width // 2))
                    width //= 2
            self.features.add_module("norm5", nn.BatchNorm2d(width))
            self.classifier = nn.Linear(width, num_classes)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight)
                elif isinstance(m, nn.Linear):
                    nn.init.constant_(m.bias, 0)

        def forward(self, x):
            pooled = F.adaptive_avg_pool2d(F.relu(self.features(x), inplace=True), (1, 1))
            return self.classifier(lib.flatten(pooled, 1))

    return DenseNet


@program
def tv_densenet_memory_efficient(lib):
    """The same weights with and without recomputed bottlenecks; a recomputation runs the
    BatchNorm in training mode a second time, so its running statistics move twice."""
    DenseNet = _densenet(lib)
    x, y = lib.tensor(_f32(2, 3, 32, 32, seed=720)), lib.tensor(_labels(2, 5, 721))
    out = {}
    for efficient in (False, True):
        net = _seeded(lib, DenseNet(memory_efficient=efficient), 722, 0.25)
        net.train()
        opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        res = _step(lib, net, lib.nn.functional.cross_entropy(net(x), y), opt)
        block = net.features.denseblock2
        res["running"] = [block.denselayer3.norm1.running_mean,
                          block.denselayer3.norm1.num_batches_tracked]
        with lib.no_grad():
            res["eval"] = net.eval()(x)
        res["keys"] = list(net.state_dict())[-8:]
        # a checkpoint of the old layout ('norm.1.weight', no batch counts, no version
        # metadata), renamed as the loader does
        old = OrderedDict((re.sub(r"(denselayer\d+\.(?:norm|relu|conv))(\d)\.", r"\1.\2.", k), v)
                          for k, v in net.state_dict().items()
                          if not k.endswith("num_batches_tracked"))
        pattern = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\."
                             r"(?:weight|bias|running_mean|running_var))$")
        for key in list(old.keys()):
            found = pattern.match(key)
            if found:
                old[found.group(1) + found.group(2)] = old.pop(key)
        twin = DenseNet(memory_efficient=efficient)
        res["renamed"] = str(twin.load_state_dict(old))
        with lib.no_grad():
            res["twin"] = twin.eval()(x)
        res["counts"] = [b for k, b in twin.state_dict().items() if k.endswith("tracked")]
        out[str(efficient)] = res
    return out


# ----------------------------------------------------------------------------------------------
# 4. An Inception network: four-branch blocks, a grid reduction, an auxiliary head
# ----------------------------------------------------------------------------------------------
InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])


def _inception(lib):
    nn, F = lib.nn, lib.nn.functional

    class ConvBN(nn.Module):
        """bias-free conv, BatchNorm with eps 1e-3, ReLU in place"""

        def __init__(self, cin, cout, **conv_args):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, bias=False, **conv_args)
            self.bn = nn.BatchNorm2d(cout, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    def chain(*specs):
        # a Sequential of ConvBN from (cin, cout, conv keyword arguments) triples
        return nn.Sequential(*(ConvBN(cin, cout, **kw) for cin, cout, kw in specs))

    class FourWay(nn.Module):
        """same-size branches concatenated: 1x1; 1x1 then 5x5; 1x1 then two 3x3; a 3x3
        average pool then 1x1"""

        def __init__(self, cin, pool_out):
            super().__init__()
            self.one = ConvBN(cin, 8, kernel_size=1)
            self.five = chain((cin, 6, dict(kernel_size=1)), (6, 8, dict(kernel_size=5, padding=2)))
            self.three = chain((cin, 8, dict(kernel_size=1)),
                               (8, 12, dict(kernel_size=3, padding=1)),
                               (12, 12, dict(kernel_size=3, padding=1)))
            self.pooled = ConvBN(cin, pool_out, kernel_size=1)

        def forward(self, x):
            avg = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
            return lib.cat([self.one(x), self.five(x), self.three(x), self.pooled(avg)], 1)

    class Shrink(nn.Module):
        """halves the grid: a strided 3x3, a 1x1-3x3-strided 3x3 chain, a strided max pool"""

        def __init__(self, cin):
            super().__init__()
            self.direct = ConvBN(cin, 12, kernel_size=3, stride=2)
            self.deep = chain((cin, 8, dict(kernel_size=1)),
                              (8, 8, dict(kernel_size=3, padding=1)),
                              (8, 8, dict(kernel_size=3, stride=2)))

        def forward(self, x):
            return lib.cat([self.direct(x), self.deep(x),
                            F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class SideHead(nn.Module):
        """a classifier on an intermediate map (training only); ``stddev`` attributes set
        the initial spread of its layers"""

        def __init__(self, cin, n_classes):
            super().__init__()
            self.reduce = ConvBN(cin, 8, kernel_size=1)
            self.mix = ConvBN(8, 16, kernel_size=3)
            self.mix.stddev = 0.01
            self.fc = nn.Linear(16, n_classes)
            self.fc.stddev = 0.001

        def forward(self, x):
            x = self.mix(self.reduce(F.avg_pool2d(x, kernel_size=5, stride=3)))
            return self.fc(lib.flatten(F.adaptive_avg_pool2d(x, (1, 1)), 1))

    class Inception(nn.Module):
        def __init__(self, num_classes=5, aux_logits=True, transform_input=True, dropout=0.5):
            super().__init__()
            self.aux_logits, self.transform_input = aux_logits, transform_input
            self.stem = chain((3, 8, dict(kernel_size=3, stride=2)), (8, 8, dict(kernel_size=3)))
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2)
            self.mixed = FourWay(8, pool_out=4)
            self.side = SideHead(32, num_classes) if aux_logits else None
            self.shrink = Shrink(32)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.fc = nn.Linear(52, num_classes)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, (nn.Conv2d, nn.Linear)):
                    spread = float(getattr(m, "stddev", 0.1))
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=spread, a=-2, b=2)

        def forward(self, x):
            if self.transform_input:
                # inputs normalised with ImageNet's mean/std re-expressed as (v - 0.5) / 0.5
                mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
                x = lib.cat([lib.unsqueeze(x[:, c], 1) * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5
                             for c in range(3)], 1)
            x = self.mixed(self.pool(self.stem(x)))
            side = self.side(x) if self.side is not None and self.training else None
            x = self.fc(lib.flatten(self.dropout(self.avgpool(self.shrink(x))), 1))
            if lib.jit.is_scripting() or not (self.training and self.aux_logits):
                return x
            return InceptionOutputs(x, side)

    return Inception


@program
def tv_inception_aux(lib):
    Inception = _inception(lib)
    net = _seeded(lib, Inception(dropout=0.0), 730, 0.25)
    x, y = lib.tensor(_f32(2, 3, 64, 64, seed=731)), lib.tensor(_labels(2, 5, 732))
    net.train()
    outputs = net(x)
    loss = (lib.nn.functional.cross_entropy(outputs.logits, y)
            + 0.4 * lib.nn.functional.cross_entropy(outputs.aux_logits, y))
    res = _step(lib, net, loss, lib.optim.SGD(net.parameters(), lr=0.045, momentum=0.9))
    res["outputs"] = list(outputs)
    with lib.no_grad():
        plain = net.eval()(x)
    res["eval"], res["eval_type"] = plain, type(plain).__name__
    return res


# ----------------------------------------------------------------------------------------------
# 5. ShuffleNetV2
# ----------------------------------------------------------------------------------------------
def _shufflenet(lib):
    nn = lib.nn

    def channel_shuffle(x, groups):
        # (n, g * c, h, w): view the channels as a g x c grid, transpose it, flatten back
        n, chans, h, w = x.size()
        grid = lib.transpose(x.view(n, groups, chans // groups, h, w), 1, 2).contiguous()
        return grid.view(n, chans, h, w)

    def pointwise(cin, cout):
        return [nn.Conv2d(cin, cout, kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    def depthwise(chans, stride):
        return [nn.Conv2d(chans, chans, 3, stride, 1, bias=False, groups=chans),
                nn.BatchNorm2d(chans)]

    class SplitUnit(nn.Module):
        """stride 1: half the channels pass untouched, the other half go through
        1x1 - depthwise 3x3 - 1x1; stride 2: both halves are computed from the whole input
        (the first by depthwise 3x3 - 1x1); the halves are concatenated and shuffled"""

        def __init__(self, cin, cout, stride):
            super().__init__()
            if stride not in (1, 2, 3):
                raise ValueError(f"stride {stride} is not 1, 2 or 3")
            self.stride = stride
            half = cout // 2
            self.branch1 = (nn.Sequential(*depthwise(cin, stride), *pointwise(cin, half))
                            if stride > 1 else nn.Sequential())
            self.branch2 = nn.Sequential(*pointwise(cin if stride > 1 else half, half),
                                         *depthwise(half, stride), *pointwise(half, half))

        def forward(self, x):
            if self.stride > 1:
                both = (self.branch1(x), self.branch2(x))
            else:
                kept, worked = x.chunk(2, dim=1)
                both = (kept, self.branch2(worked))
            return channel_shuffle(lib.cat(both, dim=1), 2)

    class ShuffleNetV2(nn.Module):
        def __init__(self, repeats, widths, num_classes=5):
            super().__init__()
            self.conv1 = nn.Sequential(nn.Conv2d(3, widths[0], 3, 2, 1, bias=False),
                                       nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            cin = widths[0]
            for k, (count, cout) in enumerate(zip(repeats, widths[1:-1]), start=2):
                units = [SplitUnit(cin, cout, 2)] + [SplitUnit(cout, cout, 1)
                                                     for _ in range(count - 1)]
                setattr(self, f"stage{k}", nn.Sequential(*units))
                cin = cout
            self.conv5 = nn.Sequential(*pointwise(cin, widths[-1]))
            self.fc = nn.Linear(widths[-1], num_classes)

        def forward(self, x):
            x = self.maxpool(self.conv1(x))
            for stage in (self.stage2, self.stage3, self.stage4):
                x = stage(x)
            return self.fc(self.conv5(x).mean([2, 3]))        # global average pool

    return ShuffleNetV2, channel_shuffle


@program
def tv_shufflenet_v2(lib):
    ShuffleNetV2, channel_shuffle = _shufflenet(lib)
    net = _seeded(lib, ShuffleNetV2([2, 2, 1], [8, 16, 32, 48, 64]), 740, 0.3)
    x, y = lib.tensor(_f32(2, 3, 64, 64, seed=741)), lib.tensor(_labels(2, 5, 742))
    net.train()
    res = _step(lib, net, lib.nn.functional.cross_entropy(net(x), y),
                lib.optim.SGD(net.parameters(), lr=0.5, momentum=0.9, weight_decay=4e-5))
    with lib.no_grad():
        res["eval"] = net.eval()(x)
    res["shuffled"] = channel_shuffle(lib.arange(12.0).view(1, 12, 1, 1), 3).flatten()
    res["groups"] = [m.groups for m in net.stage3[1].branch2 if isinstance(m, lib.nn.Conv2d)]
    return res


# ----------------------------------------------------------------------------------------------
# 6. SqueezeNet and 7. AlexNet
# ----------------------------------------------------------------------------------------------
def _squeezenet(lib):
    nn = lib.nn

    class Fire(nn.Module):
        """a 1x1 squeeze, then 1x1 and 3x3 expansions side by side (each after a ReLU)"""

        def __init__(self, cin, squeeze, wide1, wide3):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, kernel_size=1),
                                         nn.ReLU(inplace=True))
            self.expand = nn.ModuleList([
                nn.Sequential(nn.Conv2d(squeeze, wide1, kernel_size=1), nn.ReLU(inplace=True)),
                nn.Sequential(nn.Conv2d(squeeze, wide3, kernel_size=3, padding=1),
                              nn.ReLU(inplace=True))])

        def forward(self, x):
            s = self.squeeze(x)
            return lib.cat([branch(s) for branch in self.expand], 1)

    # the two published layouts, shrunk: "P" is a 3x3/2 ceil-mode max pool, a tuple a Fire
    layouts = {"1_0": (7, [(16, 4, 8, 8), (16, 4, 8, 8), (16, 8, 16, 16), "P",
                           (32, 8, 16, 16), "P", (32, 8, 16, 16)]),
               "1_1": (3, [(16, 4, 8, 8), (16, 4, 8, 8), "P", (16, 8, 16, 16), "P",
                           (32, 8, 16, 16)])}

    class SqueezeNet(nn.Module):
        def __init__(self, version="1_0", num_classes=5, dropout=0.5):
            super().__init__()
            if version not in layouts:
                raise ValueError(f"no SqueezeNet layout named {version!r}")
            first_kernel, plan = layouts[version]
            pool = functools.partial(nn.MaxPool2d, kernel_size=3, stride=2, ceil_mode=True)
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, kernel_size=first_kernel, stride=2), nn.ReLU(inplace=True),
                pool(), *(pool() if item == "P" else Fire(*item) for item in plan))
            last = nn.Conv2d(32, num_classes, kernel_size=1)
            self.classifier = nn.Sequential(nn.Dropout(p=dropout), last, nn.ReLU(inplace=True),
                                            nn.AdaptiveAvgPool2d((1, 1)))
            for m in self.modules():
                if not isinstance(m, nn.Conv2d):
                    continue
                if m is last:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)

        def forward(self, x):
            return lib.flatten(self.classifier(self.features(x)), 1)

    return SqueezeNet


@program
def tv_squeezenet(lib):
    """64x64: the second ceil-mode pool of version 1_0 keeps a partial window (14 -> 7)."""
    SqueezeNet = _squeezenet(lib)
    x, y = lib.tensor(_f32(2, 3, 64, 64, seed=750)), lib.tensor(_labels(2, 5, 751))
    out = {}
    for version in ("1_0", "1_1"):
        net = _seeded(lib, SqueezeNet(version, dropout=0.0), 752, 0.3)
        with lib.no_grad():
            net.classifier[1].bias.add_(1.0)       # most classes past the final ReLU
        res = _step(lib, net, lib.nn.functional.cross_entropy(net.train()(x), y),
                    lib.optim.SGD(net.parameters(), lr=0.04, momentum=0.9, weight_decay=2e-4))
        res["sizes"] = [tuple(net.features[:k](x).shape) for k in (3, 7, 9)]
        out[version] = res
    return out


def _alexnet(lib):
    nn = lib.nn
    # five convolutions (channels, kernel, stride, padding, max pool after it), shrunk
    convs = [(16, 11, 4, 2, True), (24, 5, 1, 2, True), (32, 3, 1, 1, False),
             (24, 3, 1, 1, False), (24, 3, 1, 1, True)]

    class AlexNet(nn.Module):
        def __init__(self, num_classes=5, dropout=0.5):
            super().__init__()
            layers, cin = [], 3
            for cout, k, stride, pad, pool in convs:
                layers += [nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=pad),
                           nn.ReLU(inplace=True)]
                layers += [nn.MaxPool2d(kernel_size=3, stride=2)] if pool else []
                cin = cout
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            head = []
            for a, b in ((cin * 36, 64), (64, 64)):
                head += [nn.Dropout(p=dropout), nn.Linear(a, b), nn.ReLU(inplace=True)]
            self.classifier = nn.Sequential(*head, nn.Linear(64, num_classes))

        def forward(self, x):
            return self.classifier(lib.flatten(self.avgpool(self.features(x)), 1))

    return AlexNet


@program
def tv_alexnet_small_inputs(lib):
    """The adaptive pool upsamples: 1x1 (64x64 input, float32) and 2x2 (96x96, float64)
    feature maps to 6x6."""
    AlexNet = _alexnet(lib)
    out = {}
    for side, dtype, seed in ((64, lib.float32, 760), (96, lib.float64, 761)):
        net = _seeded(lib, AlexNet(dropout=0.0).to(dtype), seed, 0.2)
        x = lib.tensor(np.random.RandomState(seed).randn(2, 3, side, side), dtype=dtype)
        y = lib.tensor(_labels(2, 5, seed))
        res = _step(lib, net, lib.nn.functional.cross_entropy(net.train()(x), y),
                    lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9))
        res["pooled"] = net.avgpool(net.features(x))
        with lib.no_grad():
            res["eval"] = AlexNet().to(dtype).eval().requires_grad_(False)
            res["eval"].load_state_dict(net.state_dict())
            res["eval"] = res["eval"](x)
        out[str(side)] = res
    return out


# ----------------------------------------------------------------------------------------------
# 8. MobileNetV3/EfficientNet parts: stochastic depth, squeeze-excitation, conv-norm-activation
# ----------------------------------------------------------------------------------------------
def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor`` (at least ``min_value``,
    ``divisor`` by default), moved up one multiple if rounding lost more than 10%."""
    floor = divisor if min_value is None else min_value
    rounded = max(floor, divisor * int((v + divisor / 2) // divisor))
    return rounded + divisor if rounded < 0.9 * v else rounded


def _mobile_parts(lib):
    nn = lib.nn

    def stochastic_depth(x, p, mode, training=True):
        # zero the whole residual branch per sample ("row") or for the batch ("batch") with
        # probability p, the survivors scaled by 1 / (1 - p)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        if mode not in ("batch", "row"):
            raise ValueError(f"mode must be 'batch' or 'row', got {mode}")
        if p == 0.0 or not training:
            return x
        keep = 1.0 - p
        shape = [1] * x.ndim
        if mode == "row":
            shape[0] = x.shape[0]
        gate = lib.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * (gate.div_(keep) if keep > 0.0 else gate)

    class StochasticDepth(nn.Module):
        def __init__(self, p, mode):
            super().__init__()
            self.p, self.mode = p, mode

        def forward(self, x):
            return stochastic_depth(x, self.p, self.mode, self.training)

    class ConvNormAct(nn.Sequential):
        """conv (padding keeps the grid; bias only without a norm), optional norm, optional
        activation built with inplace= unless that is None"""

        def __init__(self, cin, cout, kernel_size=3, stride=1, padding=None, groups=1,
                     norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU, dilation=1,
                     inplace=True, bias=None):
            pad = dilation * (kernel_size - 1) // 2 if padding is None else padding
            parts = [nn.Conv2d(cin, cout, kernel_size, stride, pad, dilation=dilation,
                               groups=groups,
                               bias=(norm_layer is None) if bias is None else bias)]
            if norm_layer is not None:
                parts.append(norm_layer(cout))
            if activation_layer is not None:
                extra = {} if inplace is None else {"inplace": inplace}
                parts.append(activation_layer(**extra))
            super().__init__(*parts)
            self.out_channels = cout

    class ChannelReweight(nn.Module):
        """squeeze-and-excitation with 1x1 convs: pooled channels -> narrow -> wide -> gate"""

        def __init__(self, chans, narrow, activation=nn.ReLU, scale_activation=nn.Sigmoid):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(chans, narrow, 1)
            self.fc2 = nn.Conv2d(narrow, chans, 1)
            self.activation, self.scale_activation = activation(), scale_activation()

        def forward(self, x):
            gate = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return x * self.scale_activation(gate)

    norm = functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

    class MobileBlock(nn.Module):
        """expand (1x1, skipped at ratio 1) - depthwise k x k - SE - project (1x1, linear),
        with stochastic depth on the branch when the input can be added back"""

        def __init__(self, cin, ratio, cout, kernel, stride, sd_prob, use_hs=True):
            super().__init__()
            act = nn.Hardswish if use_hs else nn.ReLU
            mid = _make_divisible(cin * ratio, 8)
            parts = [] if mid == cin else [ConvNormAct(cin, mid, kernel_size=1, norm_layer=norm,
                                                       activation_layer=act)]
            parts.append(ConvNormAct(mid, mid, kernel_size=kernel, stride=stride, groups=mid,
                                     norm_layer=norm, activation_layer=act))
            parts.append(ChannelReweight(mid, _make_divisible(mid // 4, 8),
                                         scale_activation=nn.Hardsigmoid))
            parts.append(ConvNormAct(mid, cout, kernel_size=1, norm_layer=norm,
                                     activation_layer=None))
            self.block = nn.Sequential(*parts)
            self.stochastic_depth = StochasticDepth(sd_prob, "row")
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            out = self.block(x)
            if not self.residual:
                return out
            out = self.stochastic_depth(out)
            out += x
            return out

    return StochasticDepth, ConvNormAct, MobileBlock


@program
def tv_mobilenetv3_parts(lib):
    """Survival 1 and 0 are the deterministic ends of stochastic depth: the residual branch
    kept whole, or dropped with its parameters still given (zero) gradients."""
    nn = lib.nn
    StochasticDepth, ConvNormAct, MobileBlock = _mobile_parts(lib)
    widths = [_make_divisible(c * 0.75, 8) for c in (16, 24, 40, 48)]
    net = nn.Sequential(
        ConvNormAct(3, 16, stride=2, activation_layer=nn.Hardswish),
        MobileBlock(16, 1, 16, 3, 1, 0.0, use_hs=False),
        MobileBlock(16, 4, 24, 5, 2, 0.0),
        MobileBlock(24, 3, 24, 3, 1, 1.0),
        ConvNormAct(24, 48, kernel_size=1, activation_layer=nn.Hardswish),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
        nn.Linear(48, 32), nn.Hardswish(inplace=True), nn.Dropout(p=0.0, inplace=True),
        nn.Linear(32, 5))
    net = _seeded(lib, net, 770, 0.3)
    x, y = lib.tensor(_f32(3, 3, 32, 32, seed=771)), lib.tensor(_labels(3, 5, 772))
    net.train()
    res = _step(lib, net, nn.functional.cross_entropy(net(x), y),
                lib.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-3,
                                  momentum=0.9, weight_decay=1e-5))
    res["widths"] = widths
    with lib.no_grad():
        res["eval"] = net.eval()(x)
    lib.manual_seed(3)
    rows = StochasticDepth(0.5, "row")(lib.ones(64, 2, 2))
    whole = StochasticDepth(0.5, "batch")(lib.ones(4, 3))
    res["row_values"] = bool(((rows == 0) | (rows == 2)).all() and
                             (rows == rows[:, :1, :1]).all())
    res["batch_values"] = bool((whole == whole[0, 0]).all())
    res["bad_p"] = err(lambda: StochasticDepth(1.5, "row")(x), quiet=True)
    return res


# ----------------------------------------------------------------------------------------------
# 9. DeepLab-style segmentation: ASPP over a dilated backbone, an FCN auxiliary head
# ----------------------------------------------------------------------------------------------
def _deeplab(lib):
    nn, F = lib.nn, lib.nn.functional

    def conv_bn_relu(cin, cout, stride=1, dilation=1):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation,
                                       dilation=dilation, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Taps(nn.ModuleDict):
        """the children of ``model`` up to the deepest one in ``taps``; forward returns
        the tapped activations under their new names"""

        def __init__(self, model, taps):
            kids = list(model.named_children())
            deepest = max(i for i, (name, _) in enumerate(kids) if name in taps)
            super().__init__(OrderedDict(kids[:deepest + 1]))
            self.taps = dict(taps)

        def forward(self, x):
            found = OrderedDict()
            for name, stage in self.items():
                x = stage(x)
                if name in self.taps:
                    found[self.taps[name]] = x
            return found

    def bn_relu_after(conv):
        return [conv, nn.BatchNorm2d(conv.out_channels), nn.ReLU()]

    class ImageLevel(nn.Sequential):
        """global context: pool to 1x1, 1x1 conv-BN-ReLU, stretched back bilinearly"""

        def forward(self, x):
            y = super().forward(x)
            return F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)

    class PyramidPooling(nn.Module):
        """parallel views of one map: a 1x1 conv, dilated 3x3 convs at several rates and an
        image-level branch; concatenated and fused by a 1x1 conv (then dropout)"""

        def __init__(self, cin, rates, cout=16, dropout=0.5):
            super().__init__()
            views = [nn.Sequential(*bn_relu_after(nn.Conv2d(cin, cout, 1, bias=False)))]
            views += [nn.Sequential(*bn_relu_after(nn.Conv2d(cin, cout, 3, padding=r,
                                                             dilation=r, bias=False)))
                      for r in rates]
            views.append(ImageLevel(nn.AdaptiveAvgPool2d(1),
                                    *bn_relu_after(nn.Conv2d(cin, cout, 1, bias=False))))
            self.convs = nn.ModuleList(views)
            self.project = nn.Sequential(
                *bn_relu_after(nn.Conv2d(len(views) * cout, cout, 1, bias=False)),
                nn.Dropout(dropout))

        def forward(self, x):
            return self.project(lib.cat([view(x) for view in self.convs], dim=1))

    class SegModel(nn.Module):
        def __init__(self, num_classes=4, dropout=0.0):
            super().__init__()
            trunk = nn.Sequential(OrderedDict(
                stem=conv_bn_relu(3, 8, 2), layer1=conv_bn_relu(8, 12, 2),
                layer2=conv_bn_relu(12, 16, dilation=2), layer3=conv_bn_relu(16, 24, dilation=4),
                unused=nn.Conv2d(24, 2, 1)))
            self.backbone = Taps(trunk, {"layer3": "out", "layer2": "aux"})
            self.classifier = nn.Sequential(
                PyramidPooling(24, [6, 12, 18], dropout=dropout),
                *bn_relu_after(nn.Conv2d(16, 16, 3, padding=1, bias=False)),
                nn.Conv2d(16, num_classes, 1))
            self.aux_classifier = nn.Sequential(
                *bn_relu_after(nn.Conv2d(16, 4, 3, padding=1, bias=False)),
                nn.Dropout(dropout), nn.Conv2d(4, num_classes, 1))

        def forward(self, x):
            feats = self.backbone(x)
            heads = (("out", self.classifier), ("aux", self.aux_classifier))
            return OrderedDict((key, F.interpolate(head(feats[key]), size=x.shape[-2:],
                                                   mode="bilinear", align_corners=False))
                               for key, head in heads)

    return SegModel


@program
def tv_deeplab_aspp(lib):
    """Two poly-decayed SGD steps on a label map with ignored (255) pixels, then the
    confusion matrix of the eval predictions."""
    SegModel = _deeplab(lib)
    net = _seeded(lib, SegModel(), 780, 0.3)
    x = lib.tensor(_f32(2, 3, 32, 32, seed=781))
    target = lib.tensor(_labels(2 * 32 * 32, 4, 782).reshape(2, 32, 32))
    target[:, :3, :] = 255
    target[1, :, -5:] = 255
    criterion = lib.nn.CrossEntropyLoss(ignore_index=255)
    params = [{"params": [p for p in net.backbone.parameters() if p.requires_grad]},
              {"params": [p for p in net.classifier.parameters() if p.requires_grad]},
              {"params": [p for p in net.aux_classifier.parameters()], "lr": 0.1}]
    opt = lib.optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    poly = lib.optim.lr_scheduler.LambdaLR(opt, lambda it: (1 - it / 10) ** 0.9)
    res = {"keys": list(net.backbone.keys()), "steps": []}
    net.train()
    for _ in range(2):
        output = net(x)
        losses = {name: criterion(value, target) for name, value in output.items()}
        step = _step(lib, net, losses["out"] + 0.5 * losses["aux"], opt)
        poly.step()
        res["steps"].append(dict(step, lr=poly.get_last_lr(), out=output["out"]))
    with lib.no_grad():
        pred = net.eval()(x)["out"].argmax(1).flatten()
    truth = target.flatten()
    k = (truth >= 0) & (truth < 4)
    res["confmat"] = lib.bincount(4 * truth[k] + pred[k], minlength=16).reshape(4, 4)
    return res


# ----------------------------------------------------------------------------------------------
# 10. Detection utilities in plain tensor ops
# ----------------------------------------------------------------------------------------------
def _box_ops(lib):
    """Box helpers on (x0, y0, x1, y1) rows, written with plain tensor ops."""

    def overlap(a, b):
        # pairwise IoU, (len(a), len(b)): the intersection is the box between the larger
        # top-left and the smaller bottom-right corner, empty when those cross
        size = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
        top_left = lib.max(a[:, None, :2], b[:, :2])
        bottom_right = lib.min(a[:, None, 2:], b[:, 2:])
        sides = (bottom_right - top_left).clamp(min=0)
        shared = sides[:, :, 0] * sides[:, :, 1]
        return shared / (size(a)[:, None] + size(b) - shared)

    def suppress(boxes, scores, limit):
        """greedy: take the best remaining box, drop those overlapping it by more than
        ``limit``, repeat; one box at a time, with 0-d reads by item()"""
        left, top, right, bottom = boxes.unbind(1)
        size = (right - left) * (bottom - top)
        queue = scores.sort(0, descending=True)[1]
        kept = []
        while queue.numel() > 0:
            if queue.dim() == 0:            # a single survivor comes back squeezed to 0-d
                kept.append(queue.item())
                break
            best = queue[0].item()
            kept.append(best)
            rest = queue[1:]
            if rest.numel() == 0:
                break
            w = (right[rest].clamp(max=right[best]) - left[rest].clamp(min=left[best])).clamp(min=0)
            h = (bottom[rest].clamp(max=bottom[best]) - top[rest].clamp(min=top[best])).clamp(min=0)
            iou = w * h / (size[best] + size[rest] - w * h)
            survivors = (iou <= limit).nonzero().squeeze()
            if survivors.numel() == 0:
                break
            queue = rest[survivors]
        return lib.LongTensor(kept)

    def suppress_per_class(boxes, scores, classes, limit):
        # one pass for all classes: each class is moved to its own far-away region first
        if boxes.numel() == 0:
            return lib.empty((0,), dtype=lib.int64, device=boxes.device)
        gap = boxes.max() + lib.tensor(1).to(boxes)
        return suppress(boxes + (classes.to(boxes) * gap)[:, None], scores, limit)

    def clip(boxes, hw):
        h, w = hw
        xs = boxes[..., 0::2].clamp(min=0, max=w)
        ys = boxes[..., 1::2].clamp(min=0, max=h)
        return lib.stack((xs, ys), dim=boxes.dim()).reshape(boxes.shape)   # interleave back

    def big_enough(boxes, smallest):
        wide = boxes[:, 2] - boxes[:, 0] >= smallest
        tall = boxes[:, 3] - boxes[:, 1] >= smallest
        return lib.where(wide & tall)[0]

    return overlap, suppress, suppress_per_class, clip, big_enough


def _box_coder(lib, weights=(10.0, 10.0, 5.0, 5.0), clip=math.log(1000.0 / 16)):
    """Regression targets relative to a reference box: the centre shift in units of its
    width/height and the log of the size ratios, each multiplied by a weight; the inverse
    caps the log-ratios at ``clip`` before exponentiating."""
    w_x, w_y, w_w, w_h = weights

    def centre_form(rows):
        w, h = rows[:, 2] - rows[:, 0], rows[:, 3] - rows[:, 1]
        return rows[:, 0] + 0.5 * w, rows[:, 1] + 0.5 * h, w, h

    def encode(wanted, refs):
        rx, ry, rw, rh = centre_form(refs)
        gx, gy, gw, gh = centre_form(wanted)
        return lib.stack((w_x * (gx - rx) / rw, w_y * (gy - ry) / rh,
                          w_w * lib.log(gw / rw), w_h * lib.log(gh / rh)), dim=1)

    def decode(codes, refs):
        # codes: (n, 4 * k), every 4 columns one box for the same reference row
        rx, ry, rw, rh = (c[:, None] for c in centre_form(refs.to(codes.dtype)))
        cx = codes[:, 0::4] / w_x * rw + rx
        cy = codes[:, 1::4] / w_y * rh + ry
        half = lib.tensor(0.5, dtype=cx.dtype)
        hw = half * lib.exp(lib.clamp(codes[:, 2::4] / w_w, max=clip)) * rw
        hh = half * lib.exp(lib.clamp(codes[:, 3::4] / w_h, max=clip)) * rh
        return lib.stack((cx - hw, cy - hh, cx + hw, cy + hh), dim=2).flatten(1)

    return encode, decode


def _random_boxes(n, seed, side=64.0):
    r = np.random.RandomState(seed)
    lo = r.rand(n, 2) * side * 0.7
    return np.concatenate([lo, lo + 4 + r.rand(n, 2) * side * 0.4], 1).astype(np.float32)


@program
def tv_detection_box_ops(lib):
    """IoU, NMS (per image and per class), clipping, small-box removal; proposals matched to
    ground truth by IoU thresholds (with the low-quality matches kept), box deltas encoded and
    a regression head trained against them with smooth L1 and objectness BCE."""
    F = lib.nn.functional
    box_iou, nms, batched_nms, clip_boxes, remove_small = _box_ops(lib)
    encode, decode = _box_coder(lib)
    boxes = lib.tensor(_random_boxes(24, 790))
    scores = lib.tensor(np.random.RandomState(791).rand(24).astype(np.float32))
    classes = lib.tensor(_labels(24, 3, 792))
    res = {"iou": box_iou(boxes[:5], boxes), "keep": nms(boxes, scores, 0.3),
           "keep_cls": batched_nms(boxes, scores, classes, 0.3),
           "clipped": clip_boxes(boxes - 8, (48, 50)),
           "small": remove_small(clip_boxes(boxes - 8, (48, 50)), 10.0),
           "none": batched_nms(boxes[:0], scores[:0], classes[:0], 0.5)}
    # matching proposals to ground truth
    gt = lib.tensor(_random_boxes(3, 793))
    # each proposal takes its best ground truth if the IoU reaches 0.7, is background (-1)
    # below 0.3 and ignored (-2) between; but a proposal that is some ground truth's best
    # match (ties included) keeps its match whatever the IoU
    iou = box_iou(gt, boxes)
    top, owner = iou.max(dim=0)
    verdict = owner.clone()
    verdict[top < 0.3] = -1
    verdict[(top >= 0.3) & (top < 0.7)] = -2
    favourite = lib.where(iou == iou.max(dim=1)[0][:, None])[1]
    verdict[favourite] = owner[favourite]
    matches = res["matches"] = verdict
    labels = (matches >= 0).to(lib.float32)
    targets = encode(gt[matches.clamp(min=0)], boxes)
    # a head predicting objectness and deltas from per-box features
    head = _load(lib, lib.nn.Linear(8, 5), 794, 0.3)
    feats = lib.tensor(_f32(24, 8, seed=795))
    raw = head(feats)
    objectness, deltas = raw[:, 0], raw[:, 1:]
    pos = lib.where(labels > 0)[0]
    box_loss = F.smooth_l1_loss(deltas[pos], targets[pos], beta=1 / 9,
                                reduction="sum") / labels.numel()
    obj_loss = F.binary_cross_entropy_with_logits(objectness, labels)
    res["train"] = _step(lib, head, box_loss + obj_loss, lib.optim.SGD(head.parameters(), lr=0.02))
    res["targets"], res["pos"] = targets, pos
    res["decoded"] = decode(deltas.detach(), boxes)
    res["roundtrip"] = decode(targets, boxes)
    return res


def _rcnn_transform(lib, min_size=48, max_size=80, size_divisible=16,
                    mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    """A detector's input stage: normalise, resize the short side (boxes along), pad the
    batch to a multiple of the stride."""
    F = lib.nn.functional

    def per_channel(values, like):
        return lib.as_tensor(values, dtype=like.dtype, device=like.device)[:, None, None]

    def rescale(image, target):
        lib._assert(image.dim() == 3, f"one (C, H, W) image expected, got shape {image.shape}")
        hw = lib.tensor(image.shape[-2:])
        factor = min(min_size / float(hw.min().item()), max_size / float(hw.max().item()))
        out = F.interpolate(image[None], size=None, scale_factor=factor, mode="bilinear",
                            recompute_scale_factor=True, align_corners=False)[0]
        # the boxes follow the sizes actually produced (rounded), not the factor asked for
        sy, sx = (lib.tensor(new, dtype=lib.float32, device=image.device)
                  / lib.tensor(old, dtype=lib.float32, device=image.device)
                  for new, old in zip(out.shape[-2:], image.shape[-2:]))
        corners = target["boxes"].unbind(1)
        scaled = lib.stack([c * f for c, f in zip(corners, (sx, sy, sx, sy))], dim=1)
        return out, dict(target, boxes=scaled)

    def pad_together(images):
        # one zero canvas per batch: the largest of each dimension, H and W rounded up to a
        # multiple of size_divisible; each image copied into its top-left corner
        dims = [max(sizes) for sizes in zip(*(im.shape for im in images))]
        for k in (1, 2):
            dims[k] = int(math.ceil(dims[k] / float(size_divisible)) * size_divisible)
        canvas = images[0].new_full([len(images)] + dims, 0)
        for slot, im in zip(canvas, images):
            slot[: im.shape[0], : im.shape[1], : im.shape[2]].copy_(im)
        return canvas

    def transform(images, targets):
        pairs = [rescale((im - per_channel(mean, im)) / per_channel(std, im), t)
                 for im, t in zip(images, targets)]
        resized = [im for im, _ in pairs]
        sizes = [(int(im.shape[-2]), int(im.shape[-1])) for im in resized]
        return pad_together(resized), sizes, [t for _, t in pairs]

    return transform


def _anchors(lib, image_size, grid_size, sizes=(8.0, 16.0), aspect_ratios=(0.5, 1.0, 2.0)):
    """Every cell of the feature grid gets one box per (aspect ratio, size) pair, centred on
    the cell's top-left pixel in image coordinates; ratio = height / width, area = size^2."""
    side = lib.as_tensor(sizes, dtype=lib.float32)
    tall = lib.sqrt(lib.as_tensor(aspect_ratios, dtype=lib.float32))
    width = (side[None, :] / tall[:, None]).view(-1)
    height = (side[None, :] * tall[:, None]).view(-1)
    template = (lib.stack([-width, -height, width, height], dim=1) / 2).round()
    step = [lib.empty((), dtype=lib.int64).fill_(image_size[k] // grid_size[k]) for k in (0, 1)]
    ys = lib.arange(0, grid_size[0], dtype=lib.int32) * step[0]
    xs = lib.arange(0, grid_size[1], dtype=lib.int32) * step[1]
    gy, gx = (g.reshape(-1) for g in lib.meshgrid(ys, xs, indexing="ij"))
    offsets = lib.stack((gx, gy, gx, gy), dim=1)
    return (offsets.view(-1, 1, 4) + template.view(1, -1, 4)).reshape(-1, 4), template.shape[0]


@program
def tv_detection_two_stage(lib):
    """The transform, anchors over a stride-8 feature map, an RPN head (objectness and
    deltas flattened per anchor), RoI max-pooling by slicing, the Fast R-CNN loss (deltas
    picked by class with two index tensors) and the per-class post-processing."""
    nn, F = lib.nn, lib.nn.functional
    box_iou, nms, batched_nms, clip_boxes, remove_small = _box_ops(lib)
    encode, decode = _box_coder(lib)
    images = [lib.tensor(np.random.RandomState(800).rand(3, 30, 40).astype(np.float32)),
              lib.tensor(np.random.RandomState(801).rand(3, 36, 28).astype(np.float32))]
    targets = [{"boxes": lib.tensor([[2.0, 3.0, 20.0, 25.0], [10.0, 4.0, 38.0, 16.0]]),
                "labels": lib.tensor([1, 2])},
               {"boxes": lib.tensor([[5.0, 6.0, 24.0, 30.0]]), "labels": lib.tensor([2])}]
    batched, sizes, targets = _rcnn_transform(lib)(images, targets)
    res = {"batched": batched, "sizes": sizes, "boxes": [t["boxes"] for t in targets]}
    backbone = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(inplace=True),
                             nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(inplace=True),
                             nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(inplace=True))
    rpn_conv = nn.Conv2d(8, 8, 3, padding=1)
    cls_logits, bbox_pred = nn.Conv2d(8, 6, 1), nn.Conv2d(8, 6 * 4, 1)
    box_head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 2 * 2, 16), nn.ReLU())
    cls_score, bbox_reg = nn.Linear(16, 3), nn.Linear(16, 3 * 4)
    model = nn.ModuleList([backbone, rpn_conv, cls_logits, bbox_pred, box_head, cls_score,
                           bbox_reg])
    _load(lib, model, 802, 0.3)
    feats = backbone(batched)
    anchors, per_cell = _anchors(lib, batched.shape[-2:], feats.shape[-2:])
    n, _, h, w = feats.shape
    shared = F.relu(rpn_conv(feats))
    # (n, per_cell * k, h, w) -> (n, h * w * per_cell, k): rows in the anchors' order
    by_anchor = lambda t, k: t.view(n, -1, k, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, k)
    objectness = by_anchor(cls_logits(shared), 1).squeeze(-1)
    deltas = by_anchor(bbox_pred(shared), 4)
    rpn_terms, crops, roi_classes, roi_codes = [], [], [], []
    for b in range(n):
        gt, gt_classes = targets[b]["boxes"], targets[b]["labels"]
        best, which = box_iou(gt, anchors.to(lib.float32)).max(dim=0)
        fg = (best >= 0.5).to(lib.float32)
        fg[best < 0.2] = 0.0
        on = lib.where(fg > 0)[0]
        reg = F.smooth_l1_loss(deltas[b][on], encode(gt[which[on]], anchors[on]), beta=1 / 9,
                               reduction="sum")
        rpn_terms.append(F.binary_cross_entropy_with_logits(objectness[b], fg)
                         + reg / max(1, on.numel()))
        # proposals: the six most object-like decoded anchors plus the ground truth itself
        decoded = clip_boxes(decode(deltas[b].detach(), anchors.to(lib.float32)), sizes[b])
        props = lib.cat([decoded[objectness[b].detach().topk(6).indices], gt])
        iou, owner = box_iou(gt, props).max(dim=0)
        roi_classes.append(gt_classes[owner] * (iou >= 0.5))
        roi_codes.append(encode(gt[owner], props))
        for x0, y0, x1, y1 in (props / 8).floor().to(lib.int64).tolist():
            window = feats[b, :, y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]   # >= 1 cell
            crops.append(F.adaptive_max_pool2d(window, (2, 2)))
        res.setdefault("proposals", []).append(props)
    class_logits = cls_score(box_head(lib.stack(crops)))
    per_class_codes = bbox_reg(box_head(lib.stack(crops))).reshape(class_logits.shape[0], -1, 4)
    classes, codes = lib.cat(roi_classes, dim=0), lib.cat(roi_codes, dim=0)
    fg_rows = lib.where(classes > 0)[0]
    # each foreground RoI is regressed only through its own class's four outputs
    reg = F.smooth_l1_loss(per_class_codes[fg_rows, classes[fg_rows]], codes[fg_rows],
                           beta=1 / 9, reduction="sum") / classes.numel()
    loss = sum(rpn_terms) + F.cross_entropy(class_logits, classes) + reg
    res["train"] = _step(lib, model, loss, lib.optim.SGD(model.parameters(), lr=0.02,
                                                           momentum=0.9, weight_decay=1e-4))
    # post-processing per image: one box per (RoI, foreground class), low scores and
    # degenerate boxes dropped, per-class NMS, the five best kept
    detections = []
    probs = F.softmax(class_logits.detach(), -1)
    for b, (p, c, props) in enumerate(zip(probs.split([8, 7]),
                                          per_class_codes.detach().split([8, 7]),
                                          res["proposals"])):
        boxes = clip_boxes(decode(c.reshape(len(props), -1), props), sizes[b])
        cls_ids = lib.arange(3).view(1, -1).expand_as(p)
        boxes = boxes.reshape(-1, 3, 4)[:, 1:].reshape(-1, 4)
        p, cls_ids = p[:, 1:].reshape(-1), cls_ids[:, 1:].reshape(-1)
        for test in (lambda: lib.where(p > 0.05)[0], lambda: remove_small(boxes, 1e-2)):
            chosen = test()
            boxes, p, cls_ids = boxes[chosen], p[chosen], cls_ids[chosen]
        kept = batched_nms(boxes, p, cls_ids, 0.5)[:5]
        detections.append({"boxes": boxes[kept], "scores": p[kept], "labels": cls_ids[kept]})
    res["detections"] = detections
    res["bad_image"] = err(lambda: _rcnn_transform(lib)([images[0][None]], targets[:1]),
                           quiet=True)
    return res


# ----------------------------------------------------------------------------------------------
# 11. What model files carry for the compiler: torch._assert, overload declarations
# ----------------------------------------------------------------------------------------------
@program
def tv_script_friendly_idioms(lib):
    """A ViT patch embedding that checks its input size with ``_assert``; methods and
    functions declared with ``jit._overload_method`` / ``jit._overload`` before their body."""
    nn = lib.nn

    class PatchEmbed(nn.Module):
        """non-overlapping p x p patches of a square image, each projected to ``width``
        features by a strided conv: (n, 3, s, s) -> (n, (s / p)^2, width)"""

        def __init__(self, side=8, patch=4, width=6):
            super().__init__()
            self.side, self.patch, self.width = side, patch, width
            self.conv_proj = nn.Conv2d(3, width, kernel_size=patch, stride=patch)

        def tokens(self, x):
            n, _, h, w = x.shape
            for name, got in (("height", h), ("width", w)):
                lib._assert(got == self.side, f"image {name} {got}, this model takes {self.side}")
            grid = self.conv_proj(x).reshape(n, self.width, (h // self.patch) * (w // self.patch))
            return grid.permute(0, 2, 1)

        @lib.jit._overload_method  # noqa: F811
        def forward(self, x: lib.Tensor) -> lib.Tensor:
            ...

        def forward(self, x):  # noqa: F811
            return self.tokens(x)

    @lib.jit._overload  # noqa: F811
    def doubled(x: int) -> int:
        ...

    @lib.jit._overload  # noqa: F811
    def doubled(x: float) -> float:
        ...

    def doubled(x):  # noqa: F811
        return 2 * x

    embed = _load(lib, PatchEmbed(), 810, 0.3)
    x = lib.tensor(_f32(2, 3, 8, 8, seed=811), requires_grad=True)
    y = embed(x)
    y.pow(2).sum().backward()
    return {"y": y, "xg": x.grad, "doubled": [doubled(2), doubled(1.5)],
            "tall": err(lambda: embed(lib.zeros(1, 3, 12, 8))),
            "wide": err(lambda: embed(lib.zeros(1, 3, 8, 4))),
            "tensor_true": err(lambda: lib._assert((y.abs() >= 0).all(), "negative")),
            "tensor_false": err(lambda: lib._assert(lib.tensor(False), "flag off")),
            "ambiguous": err(lambda: lib._assert(lib.tensor([True, False]), "two")),
            "returns": lib._assert(lib.tensor(1.0), "zero")}


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    # every program here is meant to run: one raising in both libraries would check nothing
    error = _check(program)
    assert error is None, f"torch raised {error!r}"
