"""Model definitions laid out as torchvision's model files are, written anew at small sizes:
a Bottleneck ResNet (its module text run as a file that imports ``torch``), VGG from a
``cfgs`` table, DenseNet with checkpointed bottlenecks, an Inception block with an auxiliary
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


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """a padded 3x3 convolution without bias"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """a 1x1 convolution without bias"""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class Bottleneck(nn.Module):
    expansion: int = 4

    def __init__(self, inplanes, planes, stride=1, downsample: Optional[nn.Module] = None,
                 groups=1, base_width=64, dilation=1, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        out = self.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, layers: List[int], num_classes: int = 10,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: Optional[List[bool]] = None, stem: int = 8,
                 norm_layer=None) -> None:
        super().__init__()
        self._norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes, self.dilation = stem, 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, stem, layers[0])
        self.layer2 = self._make_layer(block, stem * 2, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, stem * 4, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, stem * 8, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(stem * 8 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:          # each residual branch starts as the identity
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width, previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.fc(x)

    def forward(self, x: Tensor) -> Tensor:
        return self._forward_impl(x)
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

    def make_layers(cfg, batch_norm=False):
        layers, in_channels = [], 3
        for v in cfg:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
                continue
            conv2d = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
            if batch_norm:
                layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            else:
                layers += [conv2d, nn.ReLU(inplace=True)]
            in_channels = v
        return nn.Sequential(*layers)

    class VGG(nn.Module):
        def __init__(self, features, num_classes=5, init_weights=True, dropout=0.5):
            super().__init__()
            self.features = features
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(32 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(64, 64), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(64, num_classes))
            if init_weights:
                for m in self.modules():
                    if isinstance(m, nn.Conv2d):
                        nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                        if m.bias is not None:
                            nn.init.constant_(m.bias, 0)
                    elif isinstance(m, nn.BatchNorm2d):
                        nn.init.constant_(m.weight, 1)
                        nn.init.constant_(m.bias, 0)
                    elif isinstance(m, nn.Linear):
                        nn.init.normal_(m.weight, 0, 0.01)
                        nn.init.constant_(m.bias, 0)

        def forward(self, x):
            x = self.avgpool(self.features(x))
            return self.classifier(lib.flatten(x, 1))

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
        def __init__(self, num_input_features, growth_rate, bn_size, drop_rate,
                     memory_efficient=False):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(num_input_features)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1,
                                   stride=1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3,
                                   stride=1, padding=1, bias=False)
            self.drop_rate = float(drop_rate)
            self.memory_efficient = memory_efficient

        def bn_function(self, inputs):
            concated_features = lib.cat(inputs, 1)
            return self.conv1(self.relu1(self.norm1(concated_features)))

        def any_requires_grad(self, inputs):
            return any(tensor.requires_grad for tensor in inputs)

        @lib.jit.unused
        def call_checkpoint_bottleneck(self, inputs):
            def closure(*inputs):
                return self.bn_function(inputs)
            return cp.checkpoint(closure, *inputs, use_reentrant=False)

        @lib.jit._overload_method  # noqa: F811
        def forward(self, input: List[lib.Tensor]) -> lib.Tensor:
            pass

        @lib.jit._overload_method  # noqa: F811
        def forward(self, input: lib.Tensor) -> lib.Tensor:
            pass

        def forward(self, input):  # noqa: F811
            prev_features = [input] if isinstance(input, lib.Tensor) else input
            if self.memory_efficient and self.any_requires_grad(prev_features):
                if lib.jit.is_scripting():
                    raise Exception("Memory Efficient not supported in JIT")
                bottleneck_output = self.call_checkpoint_bottleneck(prev_features)
            else:
                bottleneck_output = self.bn_function(prev_features)
            new_features = self.conv2(self.relu2(self.norm2(bottleneck_output)))
            if self.drop_rate > 0:
                new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
            return new_features

    class _DenseBlock(nn.ModuleDict):
        _version = 2

        def __init__(self, num_layers, num_input_features, bn_size, growth_rate, drop_rate,
                     memory_efficient=False):
            super().__init__()
            for i in range(num_layers):
                layer = _DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size,
                                    drop_rate, memory_efficient)
                self.add_module("denselayer%d" % (i + 1), layer)

        def forward(self, init_features):
            features = [init_features]
            for _name, layer in self.items():
                features.append(layer(features))
            return lib.cat(features, 1)

    class _Transition(nn.Sequential):
        def __init__(self, num_input_features, num_output_features):
            super().__init__()
            self.add_module("norm", nn.BatchNorm2d(num_input_features))
            self.add_module("relu", nn.ReLU(inplace=True))
            self.add_module("conv", nn.Conv2d(num_input_features, num_output_features,
                                              kernel_size=1, stride=1, bias=False))
            self.add_module("pool", nn.AvgPool2d(kernel_size=2, stride=2))

    class DenseNet(nn.Module):
        def __init__(self, growth_rate=4, block_config=(2, 3), num_init_features=8, bn_size=2,
                     drop_rate=0.0, num_classes=5, memory_efficient=False):
            super().__init__()
            self.features = nn.Sequential(OrderedDict([
                ("conv0", nn.Conv2d(3, num_init_features, kernel_size=7, stride=2, padding=3,
                                    bias=False)),
                ("norm0", nn.BatchNorm2d(num_init_features)), ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
            num_features = num_init_features
            for i, num_layers in enumerate(block_config):
                block = _DenseBlock(num_layers, num_features, bn_size, growth_rate, drop_rate,
                                    memory_efficient)
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
            return self.classifier(lib.flatten(out, 1))

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

    class BasicConv2d(nn.Module):
        def __init__(self, in_channels, out_channels, **kwargs):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
            self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)), inplace=True)

    class InceptionA(nn.Module):
        def __init__(self, in_channels, pool_features, conv_block=None):
            super().__init__()
            conv_block = BasicConv2d if conv_block is None else conv_block
            self.branch1x1 = conv_block(in_channels, 8, kernel_size=1)
            self.branch5x5_1 = conv_block(in_channels, 6, kernel_size=1)
            self.branch5x5_2 = conv_block(6, 8, kernel_size=5, padding=2)
            self.branch3x3dbl_1 = conv_block(in_channels, 8, kernel_size=1)
            self.branch3x3dbl_2 = conv_block(8, 12, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = conv_block(12, 12, kernel_size=3, padding=1)
            self.branch_pool = conv_block(in_channels, pool_features, kernel_size=1)

        def _forward(self, x):
            branch1x1 = self.branch1x1(x)
            branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
            branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            branch_pool = F.avg_pool2d(x, kernel_size=3, stride=1, padding=1)
            return [branch1x1, branch5x5, branch3x3dbl, self.branch_pool(branch_pool)]

        def forward(self, x):
            return lib.cat(self._forward(x), 1)

    class InceptionB(nn.Module):                 # halves the grid
        def __init__(self, in_channels):
            super().__init__()
            self.branch3x3 = BasicConv2d(in_channels, 12, kernel_size=3, stride=2)
            self.branch3x3dbl_1 = BasicConv2d(in_channels, 8, kernel_size=1)
            self.branch3x3dbl_2 = BasicConv2d(8, 8, kernel_size=3, padding=1)
            self.branch3x3dbl_3 = BasicConv2d(8, 8, kernel_size=3, stride=2)

        def forward(self, x):
            dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return lib.cat([self.branch3x3(x), dbl, F.max_pool2d(x, kernel_size=3, stride=2)], 1)

    class InceptionAux(nn.Module):
        def __init__(self, in_channels, num_classes):
            super().__init__()
            self.conv0 = BasicConv2d(in_channels, 8, kernel_size=1)
            self.conv1 = BasicConv2d(8, 16, kernel_size=3)
            self.conv1.stddev = 0.01
            self.fc = nn.Linear(16, num_classes)
            self.fc.stddev = 0.001

        def forward(self, x):
            x = F.avg_pool2d(x, kernel_size=5, stride=3)
            x = F.adaptive_avg_pool2d(self.conv1(self.conv0(x)), (1, 1))
            return self.fc(lib.flatten(x, 1))

    class Inception(nn.Module):
        def __init__(self, num_classes=5, aux_logits=True, transform_input=True, dropout=0.5):
            super().__init__()
            self.aux_logits, self.transform_input = aux_logits, transform_input
            self.Conv2d_1a_3x3 = BasicConv2d(3, 8, kernel_size=3, stride=2)
            self.Conv2d_2a_3x3 = BasicConv2d(8, 8, kernel_size=3)
            self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
            self.Mixed_5b = InceptionA(8, pool_features=4)
            self.AuxLogits = InceptionAux(32, num_classes) if aux_logits else None
            self.Mixed_6a = InceptionB(32)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.dropout = nn.Dropout(p=dropout)
            self.fc = nn.Linear(52, num_classes)
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    stddev = float(m.stddev) if hasattr(m, "stddev") else 0.1
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=stddev, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _transform_input(self, x):
            if self.transform_input:        # ImageNet statistics to the (-1, 1) convention
                x_ch0 = lib.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
                x_ch1 = lib.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
                x_ch2 = lib.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
                x = lib.cat((x_ch0, x_ch1, x_ch2), 1)
            return x

        def forward(self, x):
            x = self._transform_input(x)
            x = self.maxpool1(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
            x = self.Mixed_5b(x)
            aux = None
            if self.AuxLogits is not None and self.training:
                aux = self.AuxLogits(x)
            x = self.fc(lib.flatten(self.dropout(self.avgpool(self.Mixed_6a(x))), 1))
            if lib.jit.is_scripting() or not (self.training and self.aux_logits):
                return x
            return InceptionOutputs(x, aux)

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
        batchsize, num_channels, height, width = x.size()
        channels_per_group = num_channels // groups
        x = x.view(batchsize, groups, channels_per_group, height, width)
        x = lib.transpose(x, 1, 2).contiguous()
        return x.view(batchsize, num_channels, height, width)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride):
            super().__init__()
            if not (1 <= stride <= 3):
                raise ValueError("illegal stride value")
            self.stride = stride
            branch_features = oup // 2
            if self.stride > 1:
                self.branch1 = nn.Sequential(
                    self.depthwise_conv(inp, inp, kernel_size=3, stride=self.stride, padding=1),
                    nn.BatchNorm2d(inp),
                    nn.Conv2d(inp, branch_features, kernel_size=1, stride=1, padding=0,
                              bias=False),
                    nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))
            else:
                self.branch1 = nn.Sequential()
            self.branch2 = nn.Sequential(
                nn.Conv2d(inp if self.stride > 1 else branch_features, branch_features,
                          kernel_size=1, stride=1, padding=0, bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True),
                self.depthwise_conv(branch_features, branch_features, kernel_size=3,
                                    stride=self.stride, padding=1),
                nn.BatchNorm2d(branch_features),
                nn.Conv2d(branch_features, branch_features, kernel_size=1, stride=1, padding=0,
                          bias=False),
                nn.BatchNorm2d(branch_features), nn.ReLU(inplace=True))

        @staticmethod
        def depthwise_conv(i, o, kernel_size, stride=1, padding=0, bias=False):
            return nn.Conv2d(i, o, kernel_size, stride, padding, bias=bias, groups=i)

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = lib.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = lib.cat((self.branch1(x), self.branch2(x)), dim=1)
            return channel_shuffle(out, 2)

    class ShuffleNetV2(nn.Module):
        def __init__(self, stages_repeats, stages_out_channels, num_classes=5):
            super().__init__()
            self._stage_out_channels = stages_out_channels
            input_channels, output_channels = 3, stages_out_channels[0]
            self.conv1 = nn.Sequential(
                nn.Conv2d(input_channels, output_channels, 3, 2, 1, bias=False),
                nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
            input_channels = output_channels
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            stage_names = [f"stage{i}" for i in [2, 3, 4]]
            for name, repeats, output_channels in zip(stage_names, stages_repeats,
                                                      self._stage_out_channels[1:]):
                seq = [InvertedResidual(input_channels, output_channels, 2)]
                for _ in range(repeats - 1):
                    seq.append(InvertedResidual(output_channels, output_channels, 1))
                setattr(self, name, nn.Sequential(*seq))
                input_channels = output_channels
            output_channels = self._stage_out_channels[-1]
            self.conv5 = nn.Sequential(
                nn.Conv2d(input_channels, output_channels, 1, 1, 0, bias=False),
                nn.BatchNorm2d(output_channels), nn.ReLU(inplace=True))
            self.fc = nn.Linear(output_channels, num_classes)

        def forward(self, x):
            x = self.maxpool(self.conv1(x))
            x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
            x = x.mean([2, 3])                    # global average pool
            return self.fc(x)

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
        def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
            super().__init__()
            self.inplanes = inplanes
            self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
            self.squeeze_activation = nn.ReLU(inplace=True)
            self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
            self.expand1x1_activation = nn.ReLU(inplace=True)
            self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3,
                                       padding=1)
            self.expand3x3_activation = nn.ReLU(inplace=True)

        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return lib.cat([self.expand1x1_activation(self.expand1x1(x)),
                            self.expand3x3_activation(self.expand3x3(x))], 1)

    class SqueezeNet(nn.Module):
        def __init__(self, version="1_0", num_classes=5, dropout=0.5):
            super().__init__()
            pool = functools.partial(nn.MaxPool2d, kernel_size=3, stride=2, ceil_mode=True)
            if version == "1_0":
                self.features = nn.Sequential(
                    nn.Conv2d(3, 16, kernel_size=7, stride=2), nn.ReLU(inplace=True), pool(),
                    Fire(16, 4, 8, 8), Fire(16, 4, 8, 8), Fire(16, 8, 16, 16), pool(),
                    Fire(32, 8, 16, 16), pool(), Fire(32, 8, 16, 16))
            elif version == "1_1":
                self.features = nn.Sequential(
                    nn.Conv2d(3, 16, kernel_size=3, stride=2), nn.ReLU(inplace=True), pool(),
                    Fire(16, 4, 8, 8), Fire(16, 4, 8, 8), pool(), Fire(16, 8, 16, 16),
                    pool(), Fire(32, 8, 16, 16))
            else:
                raise ValueError(f"Unsupported SqueezeNet version {version}")
            final_conv = nn.Conv2d(32, num_classes, kernel_size=1)
            self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv,
                                            nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    if m is final_conv:
                        nn.init.normal_(m.weight, mean=0.0, std=0.01)
                    else:
                        nn.init.kaiming_uniform_(m.weight)
                    if m.bias is not None:
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

    class AlexNet(nn.Module):
        def __init__(self, num_classes=5, dropout=0.5):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 16, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(16, 24, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2),
                nn.Conv2d(24, 32, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(32, 24, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.Conv2d(24, 24, kernel_size=3, padding=1), nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=3, stride=2))
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(p=dropout), nn.Linear(24 * 6 * 6, 64), nn.ReLU(inplace=True),
                nn.Dropout(p=dropout), nn.Linear(64, 64), nn.ReLU(inplace=True),
                nn.Linear(64, num_classes))

        def forward(self, x):
            x = lib.flatten(self.avgpool(self.features(x)), 1)
            return self.classifier(x)

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
    """``v`` rounded to a multiple of ``divisor`` (at least ``min_value``), never 10% below."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _mobile_parts(lib):
    nn = lib.nn

    def stochastic_depth(input, p, mode, training=True):
        if p < 0.0 or p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
        if mode not in ["batch", "row"]:
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
        if not training or p == 0.0:
            return input
        survival_rate = 1.0 - p
        size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
        noise = lib.empty(size, dtype=input.dtype, device=input.device)
        noise = noise.bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return input * noise

    class StochasticDepth(nn.Module):
        def __init__(self, p, mode):
            super().__init__()
            self.p, self.mode = p, mode

        def forward(self, input):
            return stochastic_depth(input, self.p, self.mode, self.training)

    class Conv2dNormActivation(nn.Sequential):
        def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                     groups=1, norm_layer=nn.BatchNorm2d, activation_layer=nn.ReLU,
                     dilation=1, inplace=True, bias=None):
            if padding is None:
                padding = (kernel_size - 1) // 2 * dilation
            if bias is None:
                bias = norm_layer is None
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                                dilation=dilation, groups=groups, bias=bias)]
            if norm_layer is not None:
                layers.append(norm_layer(out_channels))
            if activation_layer is not None:
                layers.append(activation_layer(**({} if inplace is None else
                                                  {"inplace": inplace})))
            super().__init__(*layers)
            self.out_channels = out_channels

    class SqueezeExcitation(nn.Module):
        def __init__(self, input_channels, squeeze_channels, activation=nn.ReLU,
                     scale_activation=nn.Sigmoid):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
            self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
            self.activation, self.scale_activation = activation(), scale_activation()

        def _scale(self, input):
            scale = self.fc2(self.activation(self.fc1(self.avgpool(input))))
            return self.scale_activation(scale)

        def forward(self, input):
            return self._scale(input) * input

    norm = functools.partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)

    class InvertedResidual(nn.Module):
        def __init__(self, cin, expand_ratio, cout, kernel, stride, sd_prob, use_hs=True):
            super().__init__()
            self.use_res_connect = stride == 1 and cin == cout
            act = nn.Hardswish if use_hs else nn.ReLU
            mid = _make_divisible(cin * expand_ratio, 8)
            layers = []
            if mid != cin:
                layers.append(Conv2dNormActivation(cin, mid, kernel_size=1, norm_layer=norm,
                                                   activation_layer=act))
            layers += [Conv2dNormActivation(mid, mid, kernel_size=kernel, stride=stride,
                                            groups=mid, norm_layer=norm, activation_layer=act),
                       SqueezeExcitation(mid, _make_divisible(mid // 4, 8),
                                         scale_activation=nn.Hardsigmoid),
                       Conv2dNormActivation(mid, cout, kernel_size=1, norm_layer=norm,
                                            activation_layer=None)]
            self.block = nn.Sequential(*layers)
            self.stochastic_depth = StochasticDepth(sd_prob, "row")

        def forward(self, input):
            result = self.block(input)
            if self.use_res_connect:
                result = self.stochastic_depth(result)
                result += input
            return result

    return StochasticDepth, Conv2dNormActivation, InvertedResidual


@program
def tv_mobilenetv3_parts(lib):
    """Survival 1 and 0 are the deterministic ends of stochastic depth: the residual branch
    kept whole, or dropped with its parameters still given (zero) gradients."""
    nn = lib.nn
    StochasticDepth, Conv2dNormActivation, InvertedResidual = _mobile_parts(lib)
    widths = [_make_divisible(c * 0.75, 8) for c in (16, 24, 40, 48)]
    net = nn.Sequential(
        Conv2dNormActivation(3, 16, stride=2, activation_layer=nn.Hardswish),
        InvertedResidual(16, 1, 16, 3, 1, 0.0, use_hs=False),
        InvertedResidual(16, 4, 24, 5, 2, 0.0),
        InvertedResidual(24, 3, 24, 3, 1, 1.0),
        Conv2dNormActivation(24, 48, kernel_size=1, activation_layer=nn.Hardswish),
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

    class IntermediateLayerGetter(nn.ModuleDict):
        """the children of ``model`` up to the last one named in ``return_layers``, run in
        order; the outputs of those named come back under their new names"""
        def __init__(self, model, return_layers):
            wanted, layers = dict(return_layers), OrderedDict()
            for name, module in model.named_children():
                layers[name] = module
                wanted.pop(name, None)
                if not wanted:
                    break
            super().__init__(layers)
            self.return_layers = dict(return_layers)

        def forward(self, x):
            out = OrderedDict()
            for name, module in self.items():
                x = module(x)
                if name in self.return_layers:
                    out[self.return_layers[name]] = x
            return out

    class ASPPConv(nn.Sequential):
        def __init__(self, in_channels, out_channels, dilation):
            super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=dilation,
                                       dilation=dilation, bias=False),
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
        def __init__(self, in_channels, atrous_rates, out_channels=16, dropout=0.5):
            super().__init__()
            modules = [nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                                     nn.BatchNorm2d(out_channels), nn.ReLU())]
            modules += [ASPPConv(in_channels, out_channels, rate) for rate in atrous_rates]
            modules.append(ASPPPooling(in_channels, out_channels))
            self.convs = nn.ModuleList(modules)
            self.project = nn.Sequential(
                nn.Conv2d(len(self.convs) * out_channels, out_channels, 1, bias=False),
                nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(dropout))

        def forward(self, x):
            return self.project(lib.cat([conv(x) for conv in self.convs], dim=1))

    class SegModel(nn.Module):
        def __init__(self, num_classes=4, dropout=0.0):
            super().__init__()
            trunk = nn.Sequential(OrderedDict(
                stem=conv_bn_relu(3, 8, 2), layer1=conv_bn_relu(8, 12, 2),
                layer2=conv_bn_relu(12, 16, dilation=2), layer3=conv_bn_relu(16, 24, dilation=4),
                unused=nn.Conv2d(24, 2, 1)))
            self.backbone = IntermediateLayerGetter(trunk, {"layer3": "out", "layer2": "aux"})
            self.classifier = nn.Sequential(
                ASPP(24, [6, 12, 18], dropout=dropout),
                nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                nn.Conv2d(16, num_classes, 1))
            self.aux_classifier = nn.Sequential(
                nn.Conv2d(16, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                nn.Dropout(dropout), nn.Conv2d(4, num_classes, 1))

        def forward(self, x):
            input_shape = x.shape[-2:]
            features = self.backbone(x)
            result = OrderedDict()
            for key, head in (("out", self.classifier), ("aux", self.aux_classifier)):
                y = head(features[key])
                result[key] = F.interpolate(y, size=input_shape, mode="bilinear",
                                            align_corners=False)
            return result

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
    def box_area(boxes):
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    def box_iou(boxes1, boxes2):
        area1, area2 = box_area(boxes1), box_area(boxes2)
        lt = lib.max(boxes1[:, None, :2], boxes2[:, :2])
        rb = lib.min(boxes1[:, None, 2:], boxes2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, :, 0] * wh[:, :, 1]
        return inter / (area1[:, None] + area2 - inter)

    def nms(boxes, scores, iou_threshold):
        """greedy suppression, one box at a time, as the py-faster-rcnn loop"""
        x1, y1, x2, y2 = boxes.unbind(1)
        areas = (x2 - x1) * (y2 - y1)
        _, order = scores.sort(0, descending=True)
        keep = []
        while order.numel() > 0:
            i = order.item() if order.numel() == 1 else order[0].item()
            keep.append(i)
            if order.numel() == 1:
                break
            xx1 = x1[order[1:]].clamp(min=x1[i])
            yy1 = y1[order[1:]].clamp(min=y1[i])
            xx2 = x2[order[1:]].clamp(max=x2[i])
            yy2 = y2[order[1:]].clamp(max=y2[i])
            inter = (xx2 - xx1).clamp(min=0) * (yy2 - yy1).clamp(min=0)
            iou = inter / (areas[i] + areas[order[1:]] - inter)
            idx = (iou <= iou_threshold).nonzero().squeeze()
            if idx.numel() == 0:
                break
            order = order[idx + 1]
        return lib.LongTensor(keep)

    def batched_nms(boxes, scores, idxs, iou_threshold):
        if boxes.numel() == 0:
            return lib.empty((0,), dtype=lib.int64, device=boxes.device)
        max_coordinate = boxes.max()
        offsets = idxs.to(boxes) * (max_coordinate + lib.tensor(1).to(boxes))
        return nms(boxes + offsets[:, None], scores, iou_threshold)

    def clip_boxes_to_image(boxes, size):
        height, width = size
        boxes_x = boxes[..., 0::2].clamp(min=0, max=width)
        boxes_y = boxes[..., 1::2].clamp(min=0, max=height)
        return lib.stack((boxes_x, boxes_y), dim=boxes.dim()).reshape(boxes.shape)

    def remove_small_boxes(boxes, min_size):
        ws, hs = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        return lib.where((ws >= min_size) & (hs >= min_size))[0]

    return box_iou, nms, batched_nms, clip_boxes_to_image, remove_small_boxes


def _box_coder(lib, weights=(10.0, 10.0, 5.0, 5.0), clip=math.log(1000.0 / 16)):
    wx, wy, ww, wh = weights

    def centres(boxes):
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        return boxes[:, 0] + 0.5 * w, boxes[:, 1] + 0.5 * h, w, h

    def encode(reference_boxes, proposals):
        ex_x, ex_y, ex_w, ex_h = centres(proposals)
        gt_x, gt_y, gt_w, gt_h = centres(reference_boxes)
        return lib.stack((wx * (gt_x - ex_x) / ex_w, wy * (gt_y - ex_y) / ex_h,
                          ww * lib.log(gt_w / ex_w), wh * lib.log(gt_h / ex_h)), dim=1)

    def decode(rel_codes, boxes):
        boxes = boxes.to(rel_codes.dtype)
        ctr_x, ctr_y, widths, heights = centres(boxes)
        dx, dy = rel_codes[:, 0::4] / wx, rel_codes[:, 1::4] / wy
        dw = lib.clamp(rel_codes[:, 2::4] / ww, max=clip)
        dh = lib.clamp(rel_codes[:, 3::4] / wh, max=clip)
        pred_ctr_x = dx * widths[:, None] + ctr_x[:, None]
        pred_ctr_y = dy * heights[:, None] + ctr_y[:, None]
        half_w = lib.tensor(0.5, dtype=pred_ctr_x.dtype) * lib.exp(dw) * widths[:, None]
        half_h = lib.tensor(0.5, dtype=pred_ctr_y.dtype) * lib.exp(dh) * heights[:, None]
        pred = lib.stack((pred_ctr_x - half_w, pred_ctr_y - half_h,
                          pred_ctr_x + half_w, pred_ctr_y + half_h), dim=2)
        return pred.flatten(1)

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
    quality = box_iou(gt, boxes)
    matched_vals, matches = quality.max(dim=0)
    all_matches = matches.clone()
    matches[matched_vals < 0.3] = -1
    matches[(matched_vals >= 0.3) & (matched_vals < 0.7)] = -2
    best_for_gt, _ = quality.max(dim=1)
    pairs = lib.where(quality == best_for_gt[:, None])
    matches[pairs[1]] = all_matches[pairs[1]]
    res["matches"] = matches
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

    def normalize(image):
        m = lib.as_tensor(mean, dtype=image.dtype, device=image.device)
        s = lib.as_tensor(std, dtype=image.dtype, device=image.device)
        return (image - m[:, None, None]) / s[:, None, None]

    def resize(image, target):
        lib._assert(image.dim() == 3, f"images are expected to be 3d tensors, of shape "
                                      f"[C, H, W], got {image.shape}")
        im_shape = lib.tensor(image.shape[-2:])
        short, long = float(lib.min(im_shape).item()), float(lib.max(im_shape).item())
        scale = min(min_size / short, max_size / long)
        resized = F.interpolate(image[None], size=None, scale_factor=scale, mode="bilinear",
                                recompute_scale_factor=True, align_corners=False)[0]
        ratios = [lib.tensor(s, dtype=lib.float32, device=image.device)
                  / lib.tensor(s_orig, dtype=lib.float32, device=image.device)
                  for s, s_orig in zip(resized.shape[-2:], image.shape[-2:])]
        ratio_height, ratio_width = ratios
        xmin, ymin, xmax, ymax = target["boxes"].unbind(1)
        boxes = lib.stack((xmin * ratio_width, ymin * ratio_height, xmax * ratio_width,
                           ymax * ratio_height), dim=1)
        return resized, dict(target, boxes=boxes)

    def batch_images(images):
        biggest = [max(s) for s in zip(*[img.shape for img in images])]
        stride = float(size_divisible)
        biggest[1] = int(math.ceil(float(biggest[1]) / stride) * stride)
        biggest[2] = int(math.ceil(float(biggest[2]) / stride) * stride)
        batched = images[0].new_full([len(images)] + biggest, 0)
        for i in range(batched.shape[0]):
            img = images[i]
            batched[i, : img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        return batched

    def transform(images, targets):
        images, targets = [normalize(img) for img in images], list(targets)
        for i in range(len(images)):
            images[i], targets[i] = resize(images[i], targets[i])
        sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        return batch_images(images), sizes, targets

    return transform


def _anchors(lib, image_size, grid_size, sizes=(8.0, 16.0), aspect_ratios=(0.5, 1.0, 2.0)):
    scales = lib.as_tensor(sizes, dtype=lib.float32)
    ratios = lib.as_tensor(aspect_ratios, dtype=lib.float32)
    h_ratios = lib.sqrt(ratios)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * scales[None, :]).view(-1)
    hs = (h_ratios[:, None] * scales[None, :]).view(-1)
    base = (lib.stack([-ws, -hs, ws, hs], dim=1) / 2).round()
    stride_h = lib.empty((), dtype=lib.int64).fill_(image_size[0] // grid_size[0])
    stride_w = lib.empty((), dtype=lib.int64).fill_(image_size[1] // grid_size[1])
    shifts_x = lib.arange(0, grid_size[1], dtype=lib.int32) * stride_w
    shifts_y = lib.arange(0, grid_size[0], dtype=lib.int32) * stride_h
    shift_y, shift_x = lib.meshgrid(shifts_y, shifts_x, indexing="ij")
    shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
    shifts = lib.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
    return (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4), base.shape[0]


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
    t = F.relu(rpn_conv(feats))
    n, _, h, w = feats.shape
    objectness = cls_logits(t).view(n, -1, 1, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1)
    deltas = bbox_pred(t).view(n, -1, 4, h, w).permute(0, 3, 4, 1, 2).reshape(n, -1, 4)
    losses, rois, roi_labels, roi_targets = [], [], [], []
    for b in range(n):
        gt = targets[b]["boxes"]
        quality = box_iou(gt, anchors.to(lib.float32))
        vals, matches = quality.max(dim=0)
        labels = (vals >= 0.5).to(lib.float32)
        labels[vals < 0.2] = 0.0
        pos = lib.where(labels > 0)[0]
        losses.append(F.binary_cross_entropy_with_logits(objectness[b], labels)
                      + F.smooth_l1_loss(deltas[b][pos], encode(gt[matches[pos]], anchors[pos]),
                                         beta=1 / 9, reduction="sum") / max(1, pos.numel()))
        proposals = clip_boxes(decode(deltas[b].detach(), anchors.to(lib.float32)), sizes[b])
        top = objectness[b].detach().topk(6).indices
        proposals = lib.cat([proposals[top], gt])
        q, m = box_iou(gt, proposals).max(dim=0)
        cls = targets[b]["labels"][m] * (q >= 0.5)
        roi_labels.append(cls)
        roi_targets.append(encode(gt[m], proposals))
        for x0, y0, x1, y1 in (proposals / 8).floor().to(lib.int64).tolist():
            crop = feats[b, :, y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
            rois.append(F.adaptive_max_pool2d(crop, (2, 2)))
        res.setdefault("proposals", []).append(proposals)
    class_logits = cls_score(box_head(lib.stack(rois)))
    box_regression = bbox_reg(box_head(lib.stack(rois)))
    labels, regression_targets = lib.cat(roi_labels, dim=0), lib.cat(roi_targets, dim=0)
    sampled_pos = lib.where(labels > 0)[0]
    labels_pos = labels[sampled_pos]
    box_regression = box_regression.reshape(class_logits.shape[0], -1, 4)
    box_loss = F.smooth_l1_loss(box_regression[sampled_pos, labels_pos],
                                regression_targets[sampled_pos], beta=1 / 9,
                                reduction="sum") / labels.numel()
    loss = sum(losses) + F.cross_entropy(class_logits, labels) + box_loss
    res["train"] = _step(lib, model, loss, lib.optim.SGD(model.parameters(), lr=0.02,
                                                           momentum=0.9, weight_decay=1e-4))
    # post-processing: boxes per class, background dropped, thresholds, per-class NMS
    detections = []
    scores_all = F.softmax(class_logits.detach(), -1)
    boxes_all = box_regression.detach()
    for b, (scores, regs, props) in enumerate(zip(scores_all.split([8, 7]),
                                                  boxes_all.split([8, 7]),
                                                  res["proposals"])):
        boxes = clip_boxes(decode(regs.reshape(len(props), -1), props), sizes[b])
        boxes = boxes.reshape(-1, 3, 4)
        labels = lib.arange(3).view(1, -1).expand_as(scores)
        boxes, scores, labels = boxes[:, 1:], scores[:, 1:], labels[:, 1:]
        boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
        inds = lib.where(scores > 0.05)[0]
        boxes, scores, labels = boxes[inds], scores[inds], labels[inds]
        keep = remove_small(boxes, min_size=1e-2)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        keep = batched_nms(boxes, scores, labels, 0.5)[:5]
        detections.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
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
        def __init__(self, image_size=8, patch_size=4, hidden_dim=6):
            super().__init__()
            self.image_size, self.patch_size, self.hidden_dim = image_size, patch_size, hidden_dim
            self.conv_proj = nn.Conv2d(3, hidden_dim, kernel_size=patch_size, stride=patch_size)

        def _process_input(self, x):
            n, _c, h, w = x.shape
            p = self.patch_size
            lib._assert(h == self.image_size,
                        f"Wrong image height! Expected {self.image_size} but got {h}!")
            lib._assert(w == self.image_size,
                        f"Wrong image width! Expected {self.image_size} but got {w}!")
            x = self.conv_proj(x).reshape(n, self.hidden_dim, (h // p) * (w // p))
            return x.permute(0, 2, 1)

        @lib.jit._overload_method  # noqa: F811
        def forward(self, x: lib.Tensor) -> lib.Tensor:
            ...

        def forward(self, x):  # noqa: F811
            return self._process_input(x)

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
