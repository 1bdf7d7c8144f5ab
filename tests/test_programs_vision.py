"""Vision-model programs of the kind found in popular PyTorch repositories and tutorials,
written from scratch here, each run on minigrad and on PyTorch from the same numpy weights and
inputs: ResNet (BasicBlock/Bottleneck), VGG, MobileNetV2/V3, DenseNet (with activation
checkpointing), U-Net, DCGAN, EfficientNet-style blocks, super-resolution (PixelShuffle), a
spatial transformer, and the model-handling idioms around them (init via ``apply``, freezing,
replacing the head, hooks, train/eval BatchNorm statistics).

Each ``program(lib)`` returns a dict of numpy arrays; the test compares every entry, and the
warnings raised, between the two libraries."""
import copy
import io
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _rng(seed):
    return np.random.default_rng(seed)


def _np(t):
    return t.detach().cpu().numpy()


def _fill(model, lib, seed):
    """Every entry of ``model``'s state dict drawn from a seeded numpy generator (float64),
    so both libraries' copies hold the same weights and BatchNorm statistics."""
    r = _rng(seed)
    state = {}
    for k, v in model.state_dict().items():
        shape = tuple(v.shape)
        if k.endswith("num_batches_tracked"):
            state[k] = lib.tensor(np.array(0))
        elif k.endswith("running_var"):
            state[k] = lib.tensor(np.abs(r.standard_normal(shape)) + 0.5)
        else:
            state[k] = lib.tensor(r.standard_normal(shape) * 0.3)
    model.load_state_dict(state)
    return model


def _run(program, lib):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = program(lib)
    return out, [(w.category, str(w.message)) for w in caught]


def _check(program, rtol=1e-7, atol=1e-9):
    mine, mine_warned = _run(program, minigrad)
    theirs, their_warned = _run(program, torch)
    assert sorted(mine) == sorted(theirs)
    for key, want in theirs.items():
        got = np.asarray(mine[key])
        want = np.asarray(want)
        assert got.shape == want.shape and got.dtype == want.dtype, key
        if want.dtype.kind in "USObiu":
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=key)
    assert [c for c, _ in mine_warned] == [c for c, _ in their_warned], (mine_warned,
                                                                         their_warned)
    return mine



def _resnet(torch):
    nn = torch.nn
    class BasicBlock(nn.Module):
        expansion = 1
        def __init__(self, inp, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample
            self.stride = stride
        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            out = self.relu(out)
            return out
    class Bottleneck(nn.Module):
        expansion = 4
        def __init__(self, inp, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, planes, kernel_size=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample
        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return self.relu(out)
    class ResNet(nn.Module):
        def __init__(self, block, layers, num_classes=10, zero_init_residual=True):
            super().__init__()
            self.inplanes = 8
            self.conv1 = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, 8, layers[0])
            self.layer2 = self._make_layer(block, 16, layers[1], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(16 * block.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
            if zero_init_residual:
                for m in self.modules():
                    if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                        nn.init.constant_(m.bn3.weight, 0)
                    elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                        nn.init.constant_(m.bn2.weight, 0)
        def _make_layer(self, block, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                    nn.BatchNorm2d(planes * block.expansion))
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            for _ in range(1, blocks):
                layers.append(block(self.inplanes, planes))
            return nn.Sequential(*layers)
        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.fc(x)
    return ResNet, BasicBlock, Bottleneck

def prog_resnet_basic(torch):
    ResNet, B, Bt = _resnet(torch)
    torch.manual_seed(0)
    m = ResNet(B, [2, 1]).double()
    # check init stats
    res = {}
    res["bn2_zero"] = _np(m.layer1[0].bn2.weight)
    w = _np(m.conv1.weight)
    res["nparams"] = np.array(sum(p.numel() for p in m.parameters() if p.requires_grad))
    res["n_modules"] = np.array(len(list(m.modules())))
    res["names"] = np.array([n for n, _ in m.named_modules()])
    res["children"] = np.array([type(c).__name__ for c in m.children()])
    _fill(m, torch, 1)
    x = torch.tensor(_rng(2).standard_normal((2, 3, 20, 20)))
    y = torch.tensor(np.array([1, 3]))
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)
    crit = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    for i in range(2):
        opt.zero_grad()
        loss = crit(m(x), y)
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    res["rm"] = _np(m.layer2[0].downsample[1].running_mean)
    res["rv"] = _np(m.bn1.running_var)
    res["nbt"] = _np(m.bn1.num_batches_tracked)
    m.eval()
    with torch.no_grad():
        out = m(x)
    res["eval"] = _np(out)
    res["eval_rg"] = np.array(out.requires_grad)
    return res

def prog_resnet_bottleneck(torch):
    ResNet, B, Bt = _resnet(torch)
    torch.manual_seed(0)
    m = ResNet(Bt, [1, 1]).double()
    _fill(m, torch, 3)
    # replace head, freeze backbone
    for p in m.parameters():
        p.requires_grad_(False)
    m.fc = torch.nn.Linear(64, 5).double()
    with torch.no_grad():
        m.fc.weight.copy_(torch.tensor(_rng(4).standard_normal((5, 64))))
        m.fc.bias.fill_(0.1)
    opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()), lr=1e-2)
    x = torch.tensor(_rng(5).standard_normal((2, 3, 16, 16)))
    y = torch.tensor(np.array([0, 4]))
    res = {}
    feats = {}
    def hook(mod, inp, out):
        feats["l1"] = out.detach()
    h = m.layer1.register_forward_hook(hook)
    for i in range(3):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    h.remove()
    res["feat"] = _np(feats["l1"])
    res["fcw"] = _np(m.fc.weight)
    res["conv_grad_none"] = np.array(m.conv1.weight.grad is None)
    res["ntrain"] = np.array(sum(p.numel() for p in m.parameters() if p.requires_grad))
    return res


def prog_vgg(torch):
    nn = torch.nn
    cfg = [8, "M", 16, "M", 16, 16, "M"]
    def make_layers(cfg, batch_norm=False):
        layers = []
        in_c = 3
        for v in cfg:
            if v == "M":
                layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
            else:
                conv2d = nn.Conv2d(in_c, v, kernel_size=3, padding=1)
                if batch_norm:
                    layers += [conv2d, nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                else:
                    layers += [conv2d, nn.ReLU(inplace=True)]
                in_c = v
        return nn.Sequential(*layers)
    class VGG(nn.Module):
        def __init__(self, features, num_classes=4, dropout=0.5):
            super().__init__()
            self.features = features
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(16 * 7 * 7, 32), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(p=dropout),
                nn.Linear(32, num_classes))
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
            x = self.features(x)
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            return self.classifier(x)
    res = {}
    for bn in (False, True):
        m = VGG(make_layers(cfg, bn)).double()
        _fill(m, torch, 7)
        x = torch.tensor(_rng(1).standard_normal((2, 3, 20, 20)))   # 20->10->5->2 : adaptive upsample 2->7
        m.eval()
        with torch.no_grad():
            res[f"eval{bn}"] = _np(m(x))
        m.train()
        m.classifier[2].p = 0.0
        m.classifier[5].p = 0.0
        out = m(x)
        out.sum().backward()
        res[f"g{bn}"] = _np(m.features[0].weight.grad)
        res[f"f{bn}"] = _np(m.features[:4](x))
        res[f"len{bn}"] = np.array(len(m.features))
    return res

def _make_divisible(v, divisor, min_value=None):
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v

def prog_mobilenetv2(torch):
    nn = torch.nn
    class ConvBNReLU(nn.Sequential):
        def __init__(self, i, o, k=3, s=1, groups=1):
            p = (k - 1) // 2
            super().__init__(nn.Conv2d(i, o, k, s, p, groups=groups, bias=False),
                             nn.BatchNorm2d(o), nn.ReLU6(inplace=True))
    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand_ratio):
            super().__init__()
            hidden = int(round(inp * expand_ratio))
            self.use_res_connect = stride == 1 and inp == oup
            layers = []
            if expand_ratio != 1:
                layers.append(ConvBNReLU(inp, hidden, k=1))
            layers.extend([ConvBNReLU(hidden, hidden, s=stride, groups=hidden),
                           nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)])
            self.conv = nn.Sequential(*layers)
            self.out_channels = oup
        def forward(self, x):
            if self.use_res_connect:
                return x + self.conv(x)
            return self.conv(x)
    class MBV2(nn.Module):
        def __init__(self):
            super().__init__()
            c = _make_divisible(32 * 0.25, 8)
            feats = [ConvBNReLU(3, c, s=2)]
            for t, ch, n, s in [[1, 8, 1, 1], [6, 16, 2, 2]]:
                oc = _make_divisible(ch, 8)
                for i in range(n):
                    feats.append(InvertedResidual(c, oc, s if i == 0 else 1, t))
                    c = oc
            feats.append(ConvBNReLU(c, 24, k=1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(24, 3))
        def forward(self, x):
            x = self.features(x)
            x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
            x = torch.flatten(x, 1)
            return self.classifier(x)
    m = MBV2().double()
    _fill(m, torch, 11)
    m.classifier[0].p = 0.0
    x = torch.tensor(_rng(2).standard_normal((2, 3, 16, 16)) * 3)
    opt = torch.optim.RMSprop(m.parameters(), lr=0.01, alpha=0.9, eps=0.0316, momentum=0.9, weight_decay=4e-5)
    res = {}
    tgt = torch.tensor(np.array([2, 0]))
    for i in range(2):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), tgt)
        loss.backward()
        res[f"gdw{i}"] = _np(m.features[2].conv[1][0].weight.grad)
        opt.step()
        res[f"loss{i}"] = _np(loss)
    res["x_mean"] = _np(x.mean([2, 3]))
    return res

def prog_mobilenetv3(torch):
    nn = torch.nn; F = nn.functional
    class SqueezeExcitation(nn.Module):
        def __init__(self, c, sq):
            super().__init__()
            self.fc1 = nn.Conv2d(c, sq, 1)
            self.fc2 = nn.Conv2d(sq, c, 1)
            self.relu = nn.ReLU(inplace=True)
            self.hs = nn.Hardsigmoid(inplace=True)
        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            s = self.fc2(self.relu(self.fc1(s)))
            return x * self.hs(s)
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.exp = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16, eps=0.001, momentum=0.01), nn.Hardswish(inplace=True))
            self.dw = nn.Sequential(nn.Conv2d(16, 16, 5, 2, 2, groups=16, bias=False), nn.BatchNorm2d(16, eps=0.001, momentum=0.01), nn.Hardswish())
            self.se = SqueezeExcitation(16, _make_divisible(16 // 4, 8))
            self.proj = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8, eps=0.001, momentum=0.01))
        def forward(self, x):
            return self.proj(self.se(self.dw(self.exp(x))))
    m = Block().double()
    _fill(m, torch, 12)
    x = torch.tensor(_rng(3).standard_normal((2, 8, 9, 9)) * 3)
    res = {}
    out = m(x)
    out2 = F.hardswish(out) + F.hardsigmoid(out) + F.relu6(out * 4) + F.silu(out)
    out2.pow(2).mean().backward()
    res["out"] = _np(out2)
    for n, p in m.named_parameters():
        res["g_" + n] = _np(p.grad)
    res["rv"] = _np(m.dw[1].running_var)
    m.eval()
    res["evalout"] = _np(m(x))
    return res

def prog_densenet(torch):
    nn = torch.nn; F = nn.functional
    class DenseLayer(nn.Module):
        def __init__(self, num_input_features, growth_rate, bn_size, drop_rate, memory_efficient=False):
            super().__init__()
            self.norm1 = nn.BatchNorm2d(num_input_features)
            self.relu1 = nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
            self.drop_rate = float(drop_rate)
            self.memory_efficient = memory_efficient
        def bn_function(self, inputs):
            concated_features = torch.cat(inputs, 1)
            return self.conv1(self.relu1(self.norm1(concated_features)))
        def forward(self, input):
            prev = [input] if isinstance(input, torch.Tensor) else input
            if self.memory_efficient and any(t.requires_grad for t in prev):
                bottleneck_output = torch.utils.checkpoint.checkpoint(lambda *ins: self.bn_function(ins), *prev, use_reentrant=False)
            else:
                bottleneck_output = self.bn_function(prev)
            new_features = self.conv2(self.relu2(self.norm2(bottleneck_output)))
            if self.drop_rate > 0:
                new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
            return new_features
    class DenseBlock(nn.ModuleDict):
        def __init__(self, num_layers, nif, bn_size, growth_rate, drop_rate, memory_efficient=False):
            super().__init__()
            for i in range(num_layers):
                layer = DenseLayer(nif + i * growth_rate, growth_rate, bn_size, drop_rate, memory_efficient)
                self.add_module("denselayer%d" % (i + 1), layer)
        def forward(self, init_features):
            features = [init_features]
            for name, layer in self.items():
                new_features = layer(features)
                features.append(new_features)
            return torch.cat(features, 1)
    class Transition(nn.Sequential):
        def __init__(self, i, o):
            super().__init__()
            self.norm = nn.BatchNorm2d(i)
            self.relu = nn.ReLU(inplace=True)
            self.conv = nn.Conv2d(i, o, kernel_size=1, stride=1, bias=False)
            self.pool = nn.AvgPool2d(kernel_size=2, stride=2)
    res = {}
    for me in (False, True):
        feats = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)),
            ("norm0", nn.BatchNorm2d(8)), ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
        feats.add_module("denseblock1", DenseBlock(2, 8, 2, 4, 0, me))
        feats.add_module("transition1", Transition(16, 8))
        feats.add_module("norm5", nn.BatchNorm2d(8))
        m = nn.Sequential(feats).double()
        _fill(m, torch, 21)
        x = torch.tensor(_rng(4).standard_normal((2, 3, 12, 12)))
        out = F.relu(m(x), inplace=True)
        out = F.adaptive_avg_pool2d(out, (1, 1))
        out = torch.flatten(out, 1)
        out.sum().backward()
        res[f"out{me}"] = _np(out)
        res[f"g{me}"] = _np(m[0].conv0.weight.grad)
        res[f"g2{me}"] = _np(m[0].denseblock1.denselayer2.conv1.weight.grad)
        res[f"keys{me}"] = np.array(list(m.state_dict().keys()))
    return res


def prog_unet(torch):
    nn = torch.nn; F = nn.functional
    class DoubleConv(nn.Module):
        def __init__(self, i, o, mid=None):
            super().__init__()
            mid = mid or o
            self.double_conv = nn.Sequential(
                nn.Conv2d(i, mid, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                nn.Conv2d(mid, o, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        def forward(self, x):
            return self.double_conv(x)
    class Down(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(i, o))
        def forward(self, x):
            return self.maxpool_conv(x)
    class Up(nn.Module):
        def __init__(self, i, o, bilinear=True, ac=True):
            super().__init__()
            if bilinear:
                self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=ac)
                self.conv = DoubleConv(i, o, i // 2)
            else:
                self.up = nn.ConvTranspose2d(i, i // 2, kernel_size=2, stride=2)
                self.conv = DoubleConv(i, o)
        def forward(self, x1, x2):
            x1 = self.up(x1)
            diffY = x2.size()[2] - x1.size()[2]
            diffX = x2.size()[3] - x1.size()[3]
            x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
            x = torch.cat([x2, x1], dim=1)
            return self.conv(x)
    class UNet(nn.Module):
        def __init__(self, bilinear, ac):
            super().__init__()
            self.inc = DoubleConv(2, 4)
            self.down1 = Down(4, 8)
            factor = 2 if bilinear else 1
            self.down2 = Down(8, 16 // factor)
            self.up1 = Up(16, 8 // factor, bilinear, ac)
            self.up2 = Up(8, 4, bilinear, ac)
            self.outc = nn.Conv2d(4, 3, kernel_size=1)
        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x = self.up1(x3, x2)
            x = self.up2(x, x1)
            return self.outc(x)
    res = {}
    for bil, ac in [(True, False), (False, None)]:
        m = UNet(bil, ac).double()
        _fill(m, torch, 5)
        x = torch.tensor(_rng(1).standard_normal((2, 2, 11, 13)))   # odd sizes -> padding
        tgt = torch.tensor(_rng(2).integers(0, 3, (2, 11, 13)))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-5)
        for i in range(2):
            opt.zero_grad()
            logits = m(x)
            loss = F.cross_entropy(logits, tgt) + 0.5 * (1 - (2 * (F.softmax(logits, 1)[:, 1] * (tgt == 1).float()).sum() + 1) / (F.softmax(logits, 1)[:, 1].sum() + (tgt == 1).float().sum() + 1))
            loss.backward()
            opt.step()
            res[f"loss{bil}{ac}{i}"] = _np(loss)
        res[f"w{bil}{ac}"] = _np(m.up1.conv.double_conv[0].weight)
        res[f"pred{bil}{ac}"] = _np(logits.argmax(dim=1))
    return res

def prog_interp(torch):
    F = torch.nn.functional
    x = torch.tensor(_rng(3).standard_normal((2, 3, 5, 7)), requires_grad=True)
    res = {}
    outs = [
        F.interpolate(x, scale_factor=2, mode="nearest"),
        F.interpolate(x, size=(8, 9), mode="nearest"),
        F.interpolate(x, size=(8, 9), mode="nearest-exact"),
        F.interpolate(x, size=(8, 9), mode="bilinear", align_corners=False),
        F.interpolate(x, size=(8, 9), mode="bilinear", align_corners=True),
        F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=False),
        F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=False, recompute_scale_factor=True),
        F.interpolate(x, scale_factor=(0.6, 1.5), mode="bicubic", align_corners=False),
        F.interpolate(x, size=(3, 4), mode="bicubic", align_corners=True),
        F.interpolate(x, size=(3, 4), mode="area"),
        F.interpolate(x, size=(3, 4), mode="bilinear", antialias=True),
        F.interpolate(x, size=[4, 4], mode="bicubic", antialias=True),
        F.upsample(x, scale_factor=2),   # deprecated: a UserWarning (was silent)
        F.interpolate(x[:, :, 0], scale_factor=2, mode="linear"),
        torch.nn.Upsample(size=10, mode="bilinear")(x),
        torch.nn.UpsamplingNearest2d(scale_factor=2)(x),
        torch.nn.UpsamplingBilinear2d(size=(6, 6))(x),
        F.adaptive_avg_pool2d(x, (3, None)),
        F.adaptive_max_pool2d(x, (4, 3)),
        F.adaptive_avg_pool2d(x, (7, 7)),
        torch.nn.AdaptiveAvgPool2d(1)(x),
        torch.nn.AdaptiveMaxPool2d((None, 2))(x),
    ]
    tot = 0
    for i, o in enumerate(outs):
        res[f"o{i}"] = _np(o)
        tot = tot + (o * o).sum() * (i + 1)
    tot.backward()
    res["g"] = _np(x.grad)
    return res

def prog_dcgan(torch):
    nn = torch.nn
    nz, ngf, ndf, nc = 4, 4, 4, 1
    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, ngf, 3, 2, 1, output_padding=1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
                nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())
        def forward(self, input):
            return self.main(input)
    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())
        def forward(self, input):
            return self.main(input).view(-1, 1).squeeze(1)
    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)
    netG = Generator().double(); netD = Discriminator().double()
    netG.apply(weights_init); netD.apply(weights_init)
    _fill(netG, torch, 1); _fill(netD, torch, 2)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real = torch.tensor(np.tanh(_rng(3).standard_normal((3, nc, 32, 32))))
    res = {}
    for it in range(2):
        noise = torch.tensor(_rng(10 + it).standard_normal((3, nz, 1, 1)))
        netD.zero_grad()
        label = torch.full((3,), 1.0, dtype=torch.float64)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(noise)
        label.fill_(0.0)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        errD = errD_real + errD_fake
        optD.step()
        netG.zero_grad()
        label.fill_(1.0)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optG.step()
        res[f"errD{it}"] = _np(errD); res[f"errG{it}"] = _np(errG); res[f"dx{it}"] = np.array(D_x)
    res["fake"] = _np(fake)
    res["gw"] = _np(netG.main[6].weight)
    return res


def prog_effnet(torch):
    nn = torch.nn; F = nn.functional
    def drop_path(x, drop_prob, training, u):
        if drop_prob == 0.0 or not training:
            return x
        keep_prob = 1 - drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        r = torch.rand(shape, dtype=x.dtype, device=x.device)
        assert r.shape == shape and r.dtype == x.dtype
        random_tensor = keep_prob + torch.tensor(u, dtype=x.dtype).reshape(shape)
        random_tensor.floor_()
        return x.div(keep_prob) * random_tensor
    class SE(nn.Module):
        def __init__(self, c, r):
            super().__init__()
            self.reduce = nn.Conv2d(c, r, 1); self.expand = nn.Conv2d(r, c, 1)
        def forward(self, x):
            s = x.mean((2, 3), keepdim=True)
            s = self.expand(F.silu(self.reduce(s)))
            return x * s.sigmoid()
    class MBConv(nn.Module):
        def __init__(self, c, e, k, p):
            super().__init__()
            h = c * e
            self.block = nn.Sequential(
                nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h, eps=1e-3, momentum=0.01), nn.SiLU(inplace=True),
                nn.Conv2d(h, h, k, padding=k // 2, groups=h, bias=False), nn.BatchNorm2d(h, eps=1e-3, momentum=0.01), nn.SiLU(inplace=True),
                SE(h, max(1, c // 4)),
                nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c, eps=1e-3, momentum=0.01))
            self.p = p
        def forward(self, x, u):
            return x + drop_path(self.block(x), self.p, self.training, u)
    m = MBConv(4, 4, 5, 0.25).double()
    _fill(m, torch, 3)
    x = torch.tensor(_rng(1).standard_normal((3, 4, 6, 6)))
    res = {}
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05, amsgrad=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=4)
    for i in range(3):
        u = _rng(10 + i).random(3)
        opt.zero_grad()
        out = m(x, u)
        loss = out.square().mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.5)
        opt.step(); sched.step()
        res[f"loss{i}"] = _np(loss)
        res[f"lr{i}"] = np.array(sched.get_last_lr())
    res["w"] = _np(m.block[3].weight)
    m.eval()
    res["eval"] = _np(m(x, None))
    return res

def prog_espcn(torch):
    nn = torch.nn; F = nn.functional
    class ESPCN(nn.Module):
        def __init__(self, r=3):
            super().__init__()
            self.first = nn.Sequential(nn.Conv2d(1, 8, 5, padding=5 // 2), nn.Tanh(), nn.Conv2d(8, 4, 3, padding=1), nn.Tanh())
            self.last = nn.Sequential(nn.Conv2d(4, 1 * r ** 2, 3, padding=1), nn.PixelShuffle(r))
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    if m.in_channels == 4:
                        nn.init.normal_(m.weight.data, mean=0.0, std=0.001)
                        nn.init.zeros_(m.bias.data)
                    else:
                        nn.init.normal_(m.weight.data, mean=0.0, std=math.sqrt(2 / (m.out_channels * m.weight.data[0][0].numel())))
                        nn.init.zeros_(m.bias.data)
        def forward(self, x):
            return self.last(self.first(x))
    class SRCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, kernel_size=9, padding=9 // 2)
            self.conv2 = nn.Conv2d(8, 4, kernel_size=5, padding=5 // 2)
            self.conv3 = nn.Conv2d(4, 1, kernel_size=5, padding=5 // 2)
            self.relu = nn.ReLU(inplace=True)
        def forward(self, x):
            return self.conv3(self.relu(self.conv2(self.relu(self.conv1(x)))))
    res = {}
    m = ESPCN().double(); _fill(m, torch, 1)
    s = SRCNN().double(); _fill(s, torch, 2)
    lr = torch.tensor(_rng(3).random((2, 1, 5, 6)))
    hr = torch.tensor(_rng(4).random((2, 1, 15, 18)))
    opt = torch.optim.Adam([{"params": m.first.parameters()}, {"params": m.last.parameters(), "lr": 1e-4}], lr=1e-3)
    opt2 = torch.optim.SGD([{"params": list(s.conv1.parameters()) + list(s.conv2.parameters())}, {"params": s.conv3.parameters(), "lr": 1e-5}], lr=1e-4, momentum=0.9)
    crit = nn.MSELoss()
    for i in range(2):
        opt.zero_grad(); opt2.zero_grad()
        sr = m(lr)
        up = F.interpolate(lr, scale_factor=3, mode="bicubic", align_corners=False)
        sr2 = s(up)
        loss = crit(sr, hr) + crit(sr2, hr)
        loss.backward()
        opt.step(); opt2.step()
        res[f"loss{i}"] = _np(loss)
        psnr = 10. * torch.log10(1. / torch.mean((sr.clamp(0.0, 1.0) - hr) ** 2))
        res[f"psnr{i}"] = _np(psnr)
    un = F.pixel_unshuffle(sr, 3)
    res["un"] = _np(un); res["sh"] = _np(nn.PixelUnshuffle(3)(hr))
    res["w"] = _np(m.last[0].weight)
    return res

def prog_stn(torch):
    nn = torch.nn; F = nn.functional
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.localization = nn.Sequential(
                nn.Conv2d(1, 4, kernel_size=3), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                nn.Conv2d(4, 4, kernel_size=3), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
            self.fc_loc = nn.Sequential(nn.Linear(4 * 2 * 2, 8), nn.ReLU(True), nn.Linear(8, 3 * 2))
            self.fc_loc[2].weight.data.zero_()
            self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))
        def stn(self, x, mode, pm, ac):
            xs = self.localization(x)
            xs = xs.view(-1, 4 * 2 * 2)
            theta = self.fc_loc(xs)
            theta = theta.view(-1, 2, 3)
            grid = F.affine_grid(theta, x.size(), align_corners=ac)
            return F.grid_sample(x, grid, mode=mode, padding_mode=pm, align_corners=ac)
    m = Net().double()
    res = {"bias0": _np(m.fc_loc[2].bias), "w0": _np(m.fc_loc[2].weight)}
    _fill(m, torch, 6)
    x = torch.tensor(_rng(1).standard_normal((2, 1, 14, 14)))
    for mode in ("bilinear", "nearest", "bicubic"):
        for pm in ("zeros", "border", "reflection"):
            for ac in (False, True):
                m.zero_grad()
                xx = x.clone().requires_grad_()
                out = m.stn(xx, mode, pm, ac)
                out.pow(2).sum().backward()
                k = f"{mode}{pm}{ac}"
                res["o" + k] = _np(out)
                res["gx" + k] = _np(xx.grad)
                if mode != "nearest":
                    res["gw" + k] = _np(m.fc_loc[2].weight.grad)
    return res

def prog_bn_stats(torch):
    nn = torch.nn; F = nn.functional
    res = {}
    x = torch.tensor(_rng(1).standard_normal((4, 3, 5, 5)) * 2 + 1)
    for kw in [dict(momentum=None), dict(momentum=0.3), dict(track_running_stats=False), dict(affine=False), dict(momentum=None, eps=1e-3)]:
        bn = nn.BatchNorm2d(3, **kw).double()
        name = "_".join(f"{k}{v}" for k, v in kw.items())
        for i in range(3):
            out = bn(x * (i + 1))
        res[name + "out"] = _np(out)
        if bn.running_mean is not None:
            res[name + "rm"] = _np(bn.running_mean); res[name + "rv"] = _np(bn.running_var)
            res[name + "nbt"] = _np(bn.num_batches_tracked)
        bn.eval()
        res[name + "eval"] = _np(bn(x))
        res[name + "keys"] = np.array(list(bn.state_dict().keys()))
        bn.reset_running_stats() if bn.track_running_stats else None
        if bn.running_mean is not None:
            res[name + "rm_reset"] = _np(bn.running_mean)
    bn1 = nn.BatchNorm1d(3).double()
    y = torch.tensor(_rng(2).standard_normal((4, 3, 6)))
    res["bn1_3d"] = _np(bn1(y)); res["bn1_2d"] = _np(bn1(y[:, :, 0])); res["rm1"] = _np(bn1.running_mean)
    res["func"] = _np(F.batch_norm(x, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), training=True, momentum=0.2))
    bn3 = nn.BatchNorm3d(2).double()
    res["bn3"] = _np(bn3(torch.tensor(_rng(5).standard_normal((2, 2, 3, 2, 2)))))
    # train with single value per channel -> error
    return res


def prog_convnext(torch):
    nn = torch.nn; F = nn.functional
    class LayerNorm(nn.Module):
        def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(normalized_shape))
            self.bias = nn.Parameter(torch.zeros(normalized_shape))
            self.eps = eps
            self.data_format = data_format
            self.normalized_shape = (normalized_shape, )
        def forward(self, x):
            if self.data_format == "channels_last":
                return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / torch.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]
    class Block(nn.Module):
        def __init__(self, dim, layer_scale_init_value=1e-6):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = LayerNorm(dim, eps=1e-6)
            self.pwconv1 = nn.Linear(dim, 4 * dim)
            self.act = nn.GELU()
            self.pwconv2 = nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(layer_scale_init_value * torch.ones((dim)), requires_grad=True) if layer_scale_init_value > 0 else None
            self.drop_path = nn.Identity()
        def forward(self, x):
            inp = x
            x = self.dwconv(x)
            x = x.permute(0, 2, 3, 1)
            x = self.norm(x)
            x = self.pwconv1(x)
            x = self.act(x)
            x = self.pwconv2(x)
            if self.gamma is not None:
                x = self.gamma * x
            x = x.permute(0, 3, 1, 2)
            return inp + self.drop_path(x)
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, kernel_size=4, stride=4), LayerNorm(8, eps=1e-6, data_format="channels_first"))
            self.stage = nn.Sequential(*[Block(8) for _ in range(2)])
            self.down = nn.Sequential(LayerNorm(8, eps=1e-6, data_format="channels_first"), nn.Conv2d(8, 16, kernel_size=2, stride=2))
            self.norm = nn.LayerNorm(16, eps=1e-6)
            self.head = nn.Linear(16, 5)
            self.apply(self._init_weights)
            self.head.weight.data.mul_(0.5)
            self.head.bias.data.mul_(0.5)
        def _init_weights(self, m):
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=.02)
                nn.init.constant_(m.bias, 0)
        def forward(self, x):
            x = self.down(self.stage(self.stem(x)))
            return self.head(self.norm(x.mean([-2, -1])))
    m = Net().double()
    res = {"gamma": _np(m.stage[0].gamma), "hb": _np(m.head.bias)}
    _fill(m, torch, 4)
    x = torch.tensor(_rng(1).standard_normal((2, 3, 16, 16)))
    y = torch.tensor(np.array([1, 4]))
    decay, no_decay = [], []
    for name, p in m.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=4e-3, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3, eta_min=1e-5)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    for i in range(3):
        opt.zero_grad()
        loss = crit(m(x), y)
        loss.backward()
        opt.step(); sched.step()
        res[f"loss{i}"] = _np(loss)
    res["g"] = _np(m.stage[1].dwconv.weight)
    res["lr"] = np.array([g["lr"] for g in opt.param_groups])
    return res

def prog_vit(torch):
    nn = torch.nn; F = nn.functional
    class PatchEmbed(nn.Module):
        def __init__(self, img=8, p=4, c=3, d=8):
            super().__init__()
            self.num_patches = (img // p) ** 2
            self.proj = nn.Conv2d(c, d, kernel_size=p, stride=p)
        def forward(self, x):
            return self.proj(x).flatten(2).transpose(1, 2)
    class ViT(nn.Module):
        def __init__(self, d=8):
            super().__init__()
            self.patch_embed = PatchEmbed(d=d)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
            self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, d))
            layer = nn.TransformerEncoderLayer(d_model=d, nhead=2, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 3)
        def forward(self, x):
            B = x.shape[0]
            x = self.patch_embed(x)
            cls = self.cls_token.expand(B, -1, -1)
            x = torch.cat((cls, x), dim=1) + self.pos_embed
            x = self.encoder(x)
            return self.head(self.norm(x)[:, 0])
    m = ViT().double()
    _fill(m, torch, 8)
    x = torch.tensor(_rng(1).standard_normal((2, 3, 8, 8)))
    res = {}
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for i in range(2):
        opt.zero_grad()
        out = m(x)
        loss = F.cross_entropy(out, torch.tensor(np.array([0, 2])))
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    res["cls_g"] = _np(m.cls_token.grad)
    res["keys"] = np.array(list(m.state_dict().keys()))
    attn = nn.MultiheadAttention(8, 2, batch_first=True).double()
    _fill(attn, torch, 9)
    q = torch.tensor(_rng(2).standard_normal((2, 5, 8)))
    o, w = attn(q, q, q, need_weights=True, average_attn_weights=False)
    res["attn_o"] = _np(o); res["attn_w"] = _np(w)
    return res

def prog_swin_bits(torch):
    nn = torch.nn; F = nn.functional
    def window_partition(x, ws):
        B, H, W, C = x.shape
        x = x.view(B, H // ws, ws, W // ws, ws, C)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)
    def window_reverse(windows, ws, H, W):
        B = int(windows.shape[0] / (H * W / ws / ws))
        x = windows.view(B, H // ws, W // ws, ws, ws, -1)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(B, H, W, -1)
    class WindowAttention(nn.Module):
        def __init__(self, dim, ws, heads):
            super().__init__()
            self.ws = ws; self.heads = heads
            self.scale = (dim // heads) ** -0.5
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) * (2 * ws - 1), heads))
            coords_h = torch.arange(ws); coords_w = torch.arange(ws)
            coords = torch.stack(torch.meshgrid([coords_h, coords_w], indexing="ij"))
            coords_flatten = torch.flatten(coords, 1)
            rel = coords_flatten[:, :, None] - coords_flatten[:, None, :]
            rel = rel.permute(1, 2, 0).contiguous()
            rel[:, :, 0] += ws - 1
            rel[:, :, 1] += ws - 1
            rel[:, :, 0] *= 2 * ws - 1
            self.register_buffer("relative_position_index", rel.sum(-1), persistent=False)
            self.qkv = nn.Linear(dim, dim * 3, bias=True)
            self.proj = nn.Linear(dim, dim)
            self.softmax = nn.Softmax(dim=-1)
        def forward(self, x, mask=None):
            B_, N, C = x.shape
            qkv = self.qkv(x).reshape(B_, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            q = q * self.scale
            attn = q @ k.transpose(-2, -1)
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(self.ws * self.ws, self.ws * self.ws, -1)
            attn = attn + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
            if mask is not None:
                nW = mask.shape[0]
                attn = attn.view(B_ // nW, nW, self.heads, N, N) + mask.unsqueeze(1).unsqueeze(0)
                attn = attn.view(-1, self.heads, N, N)
            attn = self.softmax(attn)
            x = (attn @ v).transpose(1, 2).reshape(B_, N, C)
            return self.proj(x)
    ws, shift, H, W, C = 2, 1, 4, 4, 4
    m = WindowAttention(C, ws, 2).double()
    res = {"rpi": _np(m.relative_position_index), "keys": np.array(list(m.state_dict().keys())), "bufs": np.array([n for n, _ in m.named_buffers()])}
    _fill(m, torch, 2)
    img_mask = torch.zeros((1, H, W, 1))
    cnt = 0
    for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[:, h, w, :] = cnt
            cnt += 1
    mask_windows = window_partition(img_mask, ws).view(-1, ws * ws)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(attn_mask == 0, float(0.0))
    x = torch.tensor(_rng(1).standard_normal((2, H, W, C)), requires_grad=True)
    shifted = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    xw = window_partition(shifted, ws).view(-1, ws * ws, C)
    aw = m(xw, mask=attn_mask.double())
    out = torch.roll(window_reverse(aw.view(-1, ws, ws, C), ws, H, W), shifts=(shift, shift), dims=(1, 2))
    out.sum().backward()
    res["mask"] = _np(attn_mask); res["out"] = _np(out); res["gx"] = _np(x.grad)
    res["gtab"] = _np(m.relative_position_bias_table.grad)
    return res

def prog_shufflenet(torch):
    nn = torch.nn; F = nn.functional
    def channel_shuffle(x, groups):
        b, c, h, w = x.size()
        cpg = c // groups
        x = x.view(b, groups, cpg, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(b, -1, h, w)
    class InvRes(nn.Module):
        def __init__(self, inp, oup, stride):
            super().__init__()
            self.stride = stride
            bf = oup // 2
            if stride > 1:
                self.branch1 = nn.Sequential(nn.Conv2d(inp, inp, 3, stride, 1, groups=inp, bias=False), nn.BatchNorm2d(inp),
                                             nn.Conv2d(inp, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
            else:
                self.branch1 = nn.Sequential()
            self.branch2 = nn.Sequential(
                nn.Conv2d(inp if stride > 1 else bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True),
                nn.Conv2d(bf, bf, 3, stride, 1, groups=bf, bias=False), nn.BatchNorm2d(bf),
                nn.Conv2d(bf, bf, 1, 1, 0, bias=False), nn.BatchNorm2d(bf), nn.ReLU(inplace=True))
        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = torch.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
            return channel_shuffle(out, 2)
    class Fire(nn.Module):
        def __init__(self, inplanes, sq, e1, e3):
            super().__init__()
            self.squeeze = nn.Conv2d(inplanes, sq, kernel_size=1)
            self.squeeze_activation = nn.ReLU(inplace=True)
            self.expand1x1 = nn.Conv2d(sq, e1, kernel_size=1)
            self.expand1x1_activation = nn.ReLU(inplace=True)
            self.expand3x3 = nn.Conv2d(sq, e3, kernel_size=3, padding=1)
            self.expand3x3_activation = nn.ReLU(inplace=True)
        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return torch.cat([self.expand1x1_activation(self.expand1x1(x)), self.expand3x3_activation(self.expand3x3(x))], 1)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                      InvRes(8, 16, 2), InvRes(16, 16, 1), Fire(16, 4, 8, 8), nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                      nn.Dropout(p=0.0), nn.Conv2d(16, 3, kernel_size=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()).double()
    _fill(m, torch, 3)
    x = torch.tensor(_rng(4).standard_normal((2, 3, 23, 21)))
    out = m(x)
    out.sum().backward()
    res = {"out": _np(out), "g": _np(m[2].branch1[0].weight.grad), "g3": _np(m[3].branch2[3].weight.grad)}
    res["shapes"] = np.array([tuple(m[:i](x).shape) for i in range(1, 7)])
    return res


def prog_cyclegan(torch):
    nn = torch.nn; F = nn.functional
    class ResnetBlock(nn.Module):
        def __init__(self, dim, padding_type):
            super().__init__()
            block = []
            p = 0
            if padding_type == "reflect":
                block += [nn.ReflectionPad2d(1)]
            elif padding_type == "replicate":
                block += [nn.ReplicationPad2d(1)]
            else:
                p = 1
            block += [nn.Conv2d(dim, dim, kernel_size=3, padding=p, bias=True), nn.InstanceNorm2d(dim), nn.ReLU(True)]
            block += [nn.Dropout(0.0)]
            block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, padding=0, bias=True), nn.InstanceNorm2d(dim)]
            self.conv_block = nn.Sequential(*block)
        def forward(self, x):
            return x + self.conv_block(x)
    class Gen(nn.Module):
        def __init__(self, ngf=4):
            super().__init__()
            model = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, kernel_size=7, padding=0), nn.InstanceNorm2d(ngf, affine=True, track_running_stats=False), nn.ReLU(True)]
            model += [nn.Conv2d(ngf, ngf * 2, kernel_size=3, stride=2, padding=1), nn.InstanceNorm2d(ngf * 2), nn.ReLU(True)]
            model += [ResnetBlock(ngf * 2, "reflect"), ResnetBlock(ngf * 2, "replicate"), ResnetBlock(ngf * 2, "zero")]
            model += [nn.ConvTranspose2d(ngf * 2, ngf, kernel_size=3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(ngf), nn.ReLU(True)]
            model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, kernel_size=7, padding=0), nn.Tanh()]
            self.model = nn.Sequential(*model)
        def forward(self, x):
            return self.model(x)
    class PatchD(nn.Module):
        def __init__(self, ndf=4):
            super().__init__()
            self.model = nn.Sequential(
                nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.InstanceNorm2d(ndf * 2), nn.LeakyReLU(0.2, True),
                nn.Conv2d(ndf * 2, 1, 4, 1, 1))
        def forward(self, x):
            return self.model(x)
    G = Gen().double(); D = PatchD().double()
    def init_func(m):
        classname = m.__class__.__name__
        if hasattr(m, "weight") and (classname.find("Conv") != -1 or classname.find("Linear") != -1):
            nn.init.normal_(m.weight.data, 0.0, 0.02)
            if hasattr(m, "bias") and m.bias is not None:
                nn.init.constant_(m.bias.data, 0.0)
        elif classname.find("BatchNorm2d") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0.0)
    G.apply(init_func); D.apply(init_func)
    _fill(G, torch, 1); _fill(D, torch, 2)
    real_A = torch.tensor(np.tanh(_rng(3).standard_normal((1, 3, 12, 12))))
    real_B = torch.tensor(np.tanh(_rng(4).standard_normal((1, 3, 12, 12))))
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    lam = lambda epoch: 1.0 - max(0, epoch + 1 - 1) / float(3)
    schedG = torch.optim.lr_scheduler.LambdaLR(optG, lr_lambda=lam)
    mse = nn.MSELoss(); l1 = nn.L1Loss()
    res = {}
    def set_requires_grad(nets, requires_grad=False):
        if not isinstance(nets, list):
            nets = [nets]
        for net in nets:
            if net is not None:
                for param in net.parameters():
                    param.requires_grad = requires_grad
    for it in range(2):
        fake_B = G(real_A)
        set_requires_grad([D], False)
        optG.zero_grad()
        pred = D(fake_B)
        loss_G = mse(pred, torch.ones_like(pred)) + l1(fake_B, real_B) * 10.0
        loss_G.backward()
        optG.step()
        set_requires_grad([D], True)
        optD.zero_grad()
        pred_real = D(real_B)
        pred_fake = D(fake_B.detach())
        loss_D = (mse(pred_real, torch.tensor(1.0).expand_as(pred_real).double()) + mse(pred_fake, torch.zeros_like(pred_fake))) * 0.5
        loss_D.backward()
        optD.step()
        schedG.step()
        res[f"lg{it}"] = _np(loss_G); res[f"ld{it}"] = _np(loss_D)
    res["fake"] = _np(fake_B); res["lr"] = np.array(schedG.get_last_lr())
    res["keys"] = np.array(list(G.state_dict().keys()))
    return res

def prog_wgan_gp(torch):
    nn = torch.nn; F = nn.functional
    D = nn.Sequential(nn.Conv2d(2, 4, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 8, 3, 2, 1), nn.LayerNorm([8, 2, 2]), nn.LeakyReLU(0.2),
                      nn.Conv2d(8, 8, 3, 1, 1, groups=2), nn.InstanceNorm2d(8, affine=True), nn.ELU(), nn.Flatten(), nn.Linear(32, 1)).double()
    _fill(D, torch, 1)
    real = torch.tensor(_rng(2).standard_normal((3, 2, 8, 8)))
    fake = torch.tensor(_rng(3).standard_normal((3, 2, 8, 8)))
    opt = torch.optim.Adam(D.parameters(), lr=1e-4, betas=(0.0, 0.9))
    res = {}
    for it in range(2):
        alpha = torch.tensor(_rng(4 + it).random((3, 1, 1, 1)))
        interpolates = (alpha * real + ((1 - alpha) * fake)).requires_grad_(True)
        d_interpolates = D(interpolates)
        gradients = torch.autograd.grad(outputs=d_interpolates, inputs=interpolates, grad_outputs=torch.ones_like(d_interpolates),
                                        create_graph=True, retain_graph=True, only_inputs=True)[0]
        gradients = gradients.view(gradients.size(0), -1)
        gp = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
        opt.zero_grad()
        loss = -D(real).mean() + D(fake).mean() + 10 * gp
        loss.backward()
        res[f"g{it}"] = _np(D[0].weight.grad)
        res[f"gn{it}"] = _np(D[6].weight.grad)
        opt.step()
        res[f"loss{it}"] = _np(loss); res[f"gp{it}"] = _np(gp)
    # R1 penalty
    x = real.clone().requires_grad_()
    out = D(x).sum()
    g, = torch.autograd.grad(out, x, create_graph=True)
    r1 = g.pow(2).reshape(g.shape[0], -1).sum(1).mean()
    r1.backward()
    res["r1"] = _np(r1); res["r1g"] = _np(D[3].weight.grad)
    return res

def prog_stylegan_bits(torch):
    nn = torch.nn; F = nn.functional
    class EqualLinear(nn.Module):
        def __init__(self, i, o, lr_mul=1.0, bias_init=0.0):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(o, i).div_(lr_mul))
            self.bias = nn.Parameter(torch.zeros(o).fill_(bias_init))
            self.scale = (1 / math.sqrt(i)) * lr_mul
            self.lr_mul = lr_mul
        def forward(self, x):
            return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)
    class ModConv(nn.Module):
        def __init__(self, ic, oc, k, sdim, demodulate=True):
            super().__init__()
            self.k = k; self.ic = ic; self.oc = oc
            self.scale = 1 / math.sqrt(ic * k ** 2)
            self.padding = k // 2
            self.weight = nn.Parameter(torch.randn(1, oc, ic, k, k))
            self.modulation = EqualLinear(sdim, ic, bias_init=1)
            self.demodulate = demodulate
        def forward(self, input, style):
            batch, ic, h, w = input.shape
            style = self.modulation(style).view(batch, 1, ic, 1, 1)
            weight = self.scale * self.weight * style
            if self.demodulate:
                demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8)
                weight = weight * demod.view(batch, self.oc, 1, 1, 1)
            weight = weight.view(batch * self.oc, ic, self.k, self.k)
            input = input.view(1, batch * ic, h, w)
            out = F.conv2d(input, weight, padding=self.padding, groups=batch)
            return out.view(batch, self.oc, *out.shape[2:])
    class PixelNorm(nn.Module):
        def forward(self, x):
            return x * torch.rsqrt(torch.mean(x ** 2, dim=1, keepdim=True) + 1e-8)
    mapping = nn.Sequential(PixelNorm(), EqualLinear(4, 4, lr_mul=0.01), nn.LeakyReLU(0.2), EqualLinear(4, 4, lr_mul=0.01)).double()
    conv = ModConv(3, 4, 3, 4).double()
    _fill(mapping, torch, 1); _fill(conv, torch, 2)
    z = torch.tensor(_rng(3).standard_normal((2, 4)))
    x = torch.tensor(_rng(4).standard_normal((2, 3, 5, 5)), requires_grad=True)
    s = mapping(z)
    out = conv(x, s)
    # minibatch stddev
    group = 2
    b, c, h, w = out.shape
    y = out.view(group, -1, 1, c, h, w)
    y = torch.sqrt(y.var(0, unbiased=False) + 1e-8)
    y = y.mean([2, 3, 4], keepdim=True).squeeze(2)
    y = y.repeat(group, 1, h, w)
    out2 = torch.cat([out, y], 1)
    noise = torch.tensor(_rng(5).standard_normal((2, 1, 5, 5)))
    out3 = F.leaky_relu(out2 + noise * 0.1, 0.2) * math.sqrt(2)
    # path length regularization
    g, = torch.autograd.grad((out3 * noise).sum(), s, create_graph=True)
    pl = g.pow(2).sum(1).sqrt().mean()
    (out3.square().mean() + pl).backward()
    return {"out": _np(out3), "pl": _np(pl), "gx": _np(x.grad), "gw": _np(conv.weight.grad), "gm": _np(mapping[1].weight.grad)}

def prog_gradcam(torch):
    nn = torch.nn; F = nn.functional
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 3)).double()
    _fill(m, torch, 1)
    m.eval()
    acts, grads = {}, {}
    def fwd_hook(mod, inp, out):
        acts["v"] = out
        out.register_hook(lambda g: grads.__setitem__("t", g))
    def bwd_hook(mod, gin, gout):
        grads["v"] = gout[0]
    h1 = m[3].register_forward_hook(fwd_hook)
    h2 = m[3].register_full_backward_hook(bwd_hook)
    x = torch.tensor(_rng(2).standard_normal((2, 3, 8, 8)), requires_grad=True)
    logits = m(x)
    cls = logits.argmax(1)
    score = logits.gather(1, cls.view(-1, 1)).sum()
    m.zero_grad()
    score.backward()
    weights = grads["v"].mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * acts["v"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)
    b = cam.shape[0]
    flat = cam.view(b, -1)
    cmin, cmax = flat.min(1, keepdim=True)[0], flat.max(1, keepdim=True)[0]
    cam = ((flat - cmin) / (cmax - cmin + 1e-8)).view_as(cam)
    h1.remove(); h2.remove()
    # saliency: gradient w.r.t. input
    sal = x.grad.abs().amax(dim=1)
    return {"cam": _np(cam), "gv": _np(grads["v"]), "gt": _np(grads["t"]), "sal": _np(sal), "cls": _np(cls),
            "nhooks": np.array(len(m[3]._forward_hooks))}


def prog_repvgg(torch):
    nn = torch.nn; F = nn.functional
    def conv_bn(i, o, k, s, p, groups=1):
        result = nn.Sequential()
        result.add_module("conv", nn.Conv2d(i, o, kernel_size=k, stride=s, padding=p, groups=groups, bias=False))
        result.add_module("bn", nn.BatchNorm2d(num_features=o))
        return result
    class RepVGGBlock(nn.Module):
        def __init__(self, i, o, s=1, groups=1):
            super().__init__()
            self.groups = groups; self.in_channels = i
            self.nonlinearity = nn.ReLU()
            self.rbr_identity = nn.BatchNorm2d(num_features=i) if o == i and s == 1 else None
            self.rbr_dense = conv_bn(i, o, 3, s, 1, groups)
            self.rbr_1x1 = conv_bn(i, o, 1, s, 0, groups)
        def forward(self, inputs):
            if hasattr(self, "rbr_reparam"):
                return self.nonlinearity(self.rbr_reparam(inputs))
            id_out = 0 if self.rbr_identity is None else self.rbr_identity(inputs)
            return self.nonlinearity(self.rbr_dense(inputs) + self.rbr_1x1(inputs) + id_out)
        def _pad_1x1_to_3x3_tensor(self, k):
            return 0 if k is None else torch.nn.functional.pad(k, [1, 1, 1, 1])
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
                    self.id_tensor = torch.from_numpy(kernel_value).to(branch.weight.device)
                kernel = self.id_tensor
                running_mean, running_var = branch.running_mean, branch.running_var
                gamma, beta, eps = branch.weight, branch.bias, branch.eps
            std = (running_var + eps).sqrt()
            t = (gamma / std).reshape(-1, 1, 1, 1)
            return kernel * t, beta - running_mean * gamma / std
        def get_equivalent_kernel_bias(self):
            k3, b3 = self._fuse_bn_tensor(self.rbr_dense)
            k1, b1 = self._fuse_bn_tensor(self.rbr_1x1)
            kid, bid = self._fuse_bn_tensor(self.rbr_identity)
            return k3 + self._pad_1x1_to_3x3_tensor(k1) + kid, b3 + b1 + bid
        def switch_to_deploy(self):
            kernel, bias = self.get_equivalent_kernel_bias()
            c = self.rbr_dense.conv
            self.rbr_reparam = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation, c.groups, bias=True).double()
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
    m = nn.Sequential(RepVGGBlock(4, 4, 1, groups=2), RepVGGBlock(4, 6, 2)).double()
    _fill(m, torch, 1)
    m.eval()
    x = torch.tensor(_rng(2).standard_normal((2, 4, 7, 7)))
    res = {"before": _np(m(x))}
    for mod in m.modules():
        if hasattr(mod, "switch_to_deploy"):
            mod.switch_to_deploy()
    res["after"] = _np(m(x))
    res["keys"] = np.array(list(m.state_dict().keys()))
    res["rg"] = np.array([p.requires_grad for p in m.parameters()])
    # fuse_conv_bn_eval
    conv = nn.Conv2d(3, 4, 3, padding=1).double(); bn = nn.BatchNorm2d(4).double()
    _fill(conv, torch, 3); _fill(bn, torch, 4)
    conv.eval(); bn.eval()
    fused = torch.nn.utils.fuse_conv_bn_eval(conv, bn)
    y = torch.tensor(_rng(5).standard_normal((1, 3, 5, 5)))
    res["fused"] = _np(fused(y)); res["unfused"] = _np(bn(conv(y)))
    return res

def prog_feature_extractor(torch):
    nn = torch.nn; F = nn.functional
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 4, 3)
            self.bn1 = nn.BatchNorm2d(4)
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(4, 10)
        def forward(self, x):
            x = self.layer1(self.relu(self.bn1(self.conv1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))
    m = Net().double()
    _fill(m, torch, 1)
    res = {}
    res["names"] = np.array([n for n, _ in m.named_children()])
    backbone = nn.Sequential(*list(m.children())[:-2])
    x = torch.tensor(_rng(2).standard_normal((2, 3, 6, 6)))
    res["feat"] = _np(backbone(x))
    res["sub"] = _np(m.get_submodule("layer1.0").weight)
    res["param"] = _np(m.get_parameter("layer1.0.bias"))
    res["buf"] = _np(m.get_buffer("bn1.running_var"))
    num_ftrs = m.fc.in_features
    m.fc = nn.Linear(num_ftrs, 2).double()
    _fill(m.fc, torch, 5)
    m.avgpool = nn.Identity()
    res["n_after"] = np.array(len(list(m.modules())))
    m.requires_grad_(False)
    m.fc.requires_grad_(True)
    m.train()
    m.bn1.eval()
    out = m.fc(m.layer1(m.relu(m.bn1(m.conv1(x)))).mean((2, 3)))
    out.sum().backward()
    res["out"] = _np(out)
    res["gfc"] = _np(m.fc.weight.grad)
    res["none"] = np.array([p.grad is None for p in m.parameters()])
    res["training"] = np.array([mm.training for mm in m.modules()])
    vec = torch.nn.utils.parameters_to_vector(m.parameters())
    res["vec"] = _np(vec)
    torch.nn.utils.vector_to_parameters(vec * 2, m.parameters())
    res["fcw2"] = _np(m.fc.weight)
    del m.fc
    res["hasfc"] = np.array(hasattr(m, "fc"))
    return res

def prog_ema_swa(torch):
    nn = torch.nn; F = nn.functional
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).double()
    _fill(m, torch, 1)
    ema = copy.deepcopy(m)
    for p in ema.parameters():
        p.requires_grad_(False)
    swa = torch.optim.swa_utils.AveragedModel(m)
    emam = torch.optim.swa_utils.AveragedModel(m, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.9))
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    swa_sched = torch.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    data = [torch.tensor(_rng(10 + i).standard_normal((4, 2, 6, 6))) for i in range(3)]
    res = {}
    for i, x in enumerate(data):
        opt.zero_grad()
        loss = m(x).pow(2).mean()
        loss.backward()
        opt.step()
        swa.update_parameters(m); emam.update_parameters(m)
        swa_sched.step()
        with torch.no_grad():
            msd, esd = m.state_dict(), ema.state_dict()
            for k in msd.keys():
                if esd[k].dtype.is_floating_point:
                    esd[k].mul_(0.9).add_(msd[k].detach(), alpha=0.1)
                else:
                    esd[k].copy_(msd[k])
        res[f"lr{i}"] = np.array(swa_sched.get_last_lr())
    torch.optim.swa_utils.update_bn(data, swa)
    res["swa_rm"] = _np(swa.module[1].running_mean)
    res["swa_w"] = _np(swa.module[0].weight)
    res["ema_w"] = _np(emam.module[4].weight)
    res["my_ema"] = _np(ema[4].weight); res["my_ema_nbt"] = _np(ema[1].num_batches_tracked)
    res["n_avg"] = _np(swa.n_averaged)
    res["swa_keys"] = np.array(list(swa.state_dict().keys()))
    buf = io.BytesIO()
    torch.save({"model": m.state_dict(), "opt": opt.state_dict(), "epoch": 3}, buf)
    buf.seek(0)
    ck = torch.load(buf, weights_only=True)
    m2 = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).double()
    r = m2.load_state_dict(ck["model"])
    res["load"] = np.array(str(r))
    opt2 = torch.optim.SGD(m2.parameters(), lr=0.1)
    opt2.load_state_dict(ck["opt"])
    res["opt_lr"] = np.array(opt2.param_groups[0]["lr"]); res["epoch"] = np.array(ck["epoch"])
    m2.eval(); m.eval()
    res["same"] = _np(m2(data[0]) - m(data[0]))
    return res

def prog_channels_last(torch):
    nn = torch.nn; F = nn.functional
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 1)).double()
    _fill(m, torch, 1)
    m = m.to(memory_format=torch.channels_last)
    x = torch.tensor(_rng(2).standard_normal((2, 3, 6, 6))).to(memory_format=torch.channels_last)
    res = {"x_stride": np.array(x.stride()), "x_cl": np.array(x.is_contiguous(memory_format=torch.channels_last)), "x_c": np.array(x.is_contiguous())}
    res["w_cl"] = np.array(m[0].weight.is_contiguous(memory_format=torch.channels_last))
    out = m(x)
    res["out"] = _np(out)
    res["out_c"] = np.array(out.contiguous().is_contiguous())
    out.sum().backward()
    res["g"] = _np(m[0].weight.grad)
    y = x.contiguous(memory_format=torch.contiguous_format)
    res["y_stride"] = np.array(y.stride())
    res["perm"] = np.array(x.permute(0, 2, 3, 1).is_contiguous())
    res["view"] = _np(x.permute(0, 2, 3, 1).reshape(2, -1))
    return res


def prog_legacy(torch):
    nn = torch.nn; F = nn.functional
    res = {}
    from_v = torch.autograd.Variable(torch.tensor(_rng(1).standard_normal((2, 3, 6, 6))), requires_grad=True)
    res["isleaf"] = np.array(from_v.is_leaf)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(64, 3)).double()
    for mod in m.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.xavier_uniform(mod.weight)
            nn.init.constant(mod.bias, 0.1)
        if isinstance(mod, nn.Linear):
            nn.init.kaiming_normal(mod.weight)
            nn.init.normal(mod.bias)
    _fill(m, torch, 2)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    m = m.to(device)
    crit = nn.CrossEntropyLoss(size_average=False)
    crit2 = nn.MSELoss(reduce=False)
    y = torch.tensor(np.array([0, 2])).to(device, non_blocking=True)
    out = m(from_v)
    loss = crit(out, y)
    res["loss"] = _np(loss)
    res["loss_data"] = np.array(loss.data.item())
    res["mse"] = _np(crit2(out, torch.zeros_like(out)))
    res["reduction"] = np.array([crit.reduction, crit2.reduction])
    pred = out.data.max(1, keepdim=True)[1]
    res["correct"] = np.array(pred.eq(y.data.view_as(pred)).cpu().sum().item())
    res["sig"] = _np(F.sigmoid(out)) + _np(F.tanh(out))
    res["meshgrid"] = _np(torch.meshgrid(torch.arange(2), torch.arange(3), indexing="xy")[0])
    scaler = torch.cuda.amp.GradScaler(enabled=False)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    with torch.cuda.amp.autocast(enabled=False):
        loss = F.cross_entropy(m(from_v), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    res["scale"] = np.array(scaler.get_scale())
    res["w"] = _np(m[3].weight)
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.deterministic = True
    res["bench"] = np.array(torch.backends.cudnn.benchmark)
    dp = nn.DataParallel(m)
    res["dp_keys"] = np.array(list(dp.state_dict().keys()))
    res["dp_out"] = _np(dp(from_v))
    sd = {k.replace("module.", ""): v for k, v in dp.state_dict().items()}
    res["dp_load"] = np.array(str(m.load_state_dict(sd)))
    res["idx"] = np.array(loss.data.item())
    return res



def prog_detection(torch):
    nn = torch.nn; F = nn.functional
    res = {}
    def box_cxcywh_to_xyxy(x):
        x_c, y_c, w, h = x.unbind(-1)
        return torch.stack([(x_c - 0.5 * w), (y_c - 0.5 * h), (x_c + 0.5 * w), (y_c + 0.5 * h)], dim=-1)
    def box_area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    def box_iou(b1, b2):
        a1, a2 = box_area(b1), box_area(b2)
        lt = torch.max(b1[:, None, :2], b2[:, :2])
        rb = torch.min(b1[:, None, 2:], b2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[:, :, 0] * wh[:, :, 1]
        union = a1[:, None] + a2 - inter
        return inter / union, union
    def giou(b1, b2):
        iou, union = box_iou(b1, b2)
        lt = torch.min(b1[:, None, :2], b2[:, :2])
        rb = torch.max(b1[:, None, 2:], b2[:, 2:])
        wh = (rb - lt).clamp(min=0)
        area = wh[:, :, 0] * wh[:, :, 1]
        return iou - (area - union) / area
    def nms(boxes, scores, thr):
        order = torch.argsort(scores, descending=True)
        keep = []
        while order.numel() > 0:
            i = order[0]
            keep.append(i.item())
            if order.numel() == 1:
                break
            ious, _ = box_iou(boxes[i].unsqueeze(0), boxes[order[1:]])
            mask = ious[0] <= thr
            order = order[1:][mask]
        return torch.tensor(keep, dtype=torch.long)
    r = _rng(1)
    pred = torch.tensor(np.concatenate([r.random((6, 2)) * 0.6 + 0.2, r.random((6, 2)) * 0.3 + 0.05], 1), requires_grad=True)
    tgt = torch.tensor(np.concatenate([r.random((3, 2)) * 0.6 + 0.2, r.random((3, 2)) * 0.3 + 0.05], 1))
    pb, tb = box_cxcywh_to_xyxy(pred), box_cxcywh_to_xyxy(tgt)
    cost = torch.cdist(pred, tgt, p=1) - giou(pb, tb)
    res["cost"] = _np(cost)
    C = cost.detach().cpu().numpy()
    rows = [int(np.argmin(C[:, j])) for j in range(3)]
    idx_src = torch.as_tensor(rows, dtype=torch.int64)
    logits = torch.tensor(r.standard_normal((1, 6, 4)), requires_grad=True)
    target_classes = torch.full(logits.shape[:2], 3, dtype=torch.int64)
    target_classes[0, idx_src] = torch.tensor([0, 2, 1])
    empty_weight = torch.ones(4, dtype=torch.float64)
    empty_weight[-1] = 0.1
    loss_ce = F.cross_entropy(logits.transpose(1, 2), target_classes, empty_weight)
    loss_bbox = F.l1_loss(pred[idx_src], tgt, reduction="none").sum() / 3
    loss_giou = (1 - torch.diag(giou(box_cxcywh_to_xyxy(pred[idx_src]), tb))).sum() / 3
    loss = loss_ce + 5 * loss_bbox + 2 * loss_giou
    loss.backward()
    res["loss"] = _np(loss); res["gp"] = _np(pred.grad); res["gl"] = _np(logits.grad)
    scores = torch.tensor(r.random(6))
    res["keep"] = _np(nms(pb.detach(), scores, 0.1))
    # anchors and focal loss
    shifts_x = torch.arange(0, 4, dtype=torch.float32) * 8
    shifts_y = torch.arange(0, 3, dtype=torch.float32) * 8
    sy, sx = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
    shifts = torch.stack((sx.reshape(-1), sy.reshape(-1), sx.reshape(-1), sy.reshape(-1)), dim=1)
    base = torch.tensor([[-4., -4., 4., 4.], [-8., -2., 8., 2.]])
    anchors = (shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4)
    res["anchors"] = _np(anchors)
    cls_logits = torch.tensor(r.standard_normal((24, 3)), requires_grad=True)
    labels = torch.tensor(r.integers(0, 3, 24))
    t = F.one_hot(labels, num_classes=3).double()
    p = torch.sigmoid(cls_logits)
    ce = F.binary_cross_entropy_with_logits(cls_logits, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    fl = ce * ((1 - p_t) ** 2)
    alpha_t = 0.25 * t + 0.75 * (1 - t)
    fl = (alpha_t * fl).sum() / max(1, (labels > 0).sum().item())
    fl.backward()
    res["fl"] = _np(fl); res["gfl"] = _np(cls_logits.grad)
    # yolo-style decode
    out = torch.tensor(r.standard_normal((2, 3 * 7, 4, 4)))
    b, _, h, w = out.shape
    out = out.view(b, 3, 7, h, w).permute(0, 1, 3, 4, 2).contiguous()
    yv, xv = torch.meshgrid([torch.arange(h), torch.arange(w)], indexing="ij")
    grid = torch.stack((xv, yv), 2).view(1, 1, h, w, 2).double()
    anchor_grid = torch.tensor([[10., 13.], [16., 30.], [33., 23.]]).view(1, 3, 1, 1, 2).double()
    y = out.sigmoid()
    xy = (y[..., 0:2] * 2 - 0.5 + grid) * 8
    wh = (y[..., 2:4] * 2) ** 2 * anchor_grid
    dec = torch.cat((xy, wh, y[..., 4:]), -1).view(b, -1, 7)
    conf = dec[..., 4:5] * dec[..., 5:]
    best, j = conf.max(2, keepdim=True)
    sel = dec[(best.squeeze(-1) > 0.3)]
    res["dec"] = _np(dec); res["sel"] = _np(sel); res["j"] = _np(j)
    res["nz"] = _np((best.squeeze(-1) > 0.3).nonzero())
    res["nzt"] = _np(torch.nonzero(best.squeeze(-1) > 0.3, as_tuple=True)[1])
    return res

def prog_segmentation(torch):
    nn = torch.nn; F = nn.functional
    r = _rng(2)
    res = {}
    logits = torch.tensor(r.standard_normal((2, 4, 5, 6)), requires_grad=True)
    target = torch.tensor(r.integers(0, 4, (2, 5, 6)))
    target[0, 0, :3] = 255
    ce = F.cross_entropy(logits, target, ignore_index=255)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    cew = nn.CrossEntropyLoss(weight=w, ignore_index=255, reduction="mean")(logits, target)
    # ohem: top-k hardest pixels
    pix = F.cross_entropy(logits, target, ignore_index=255, reduction="none").view(-1)
    hard, _ = torch.topk(pix, 20, sorted=True)
    valid = target != 255
    t2 = target.clone(); t2[~valid] = 0
    onehot = F.one_hot(t2, 4).permute(0, 3, 1, 2).double() * valid.unsqueeze(1)
    probs = F.softmax(logits, dim=1) * valid.unsqueeze(1)
    dims = (0, 2, 3)
    inter = torch.sum(probs * onehot, dims)
    card = torch.sum(probs + onehot, dims)
    dice = (2. * inter + 1e-6) / (card + 1e-6)
    dice_loss = (1 - dice).mean()
    # lovasz hinge-like on flattened errors
    signs = 2. * (t2.view(-1) == 1).double() - 1.
    errors = 1. - logits[:, 1].reshape(-1) * signs
    errors_sorted, perm = torch.sort(errors, dim=0, descending=True)
    gt_sorted = (t2.view(-1) == 1).double()[perm.data]
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.float().cumsum(0)
    union = gts + (1 - gt_sorted).float().cumsum(0)
    jaccard = 1. - intersection / union
    jaccard[1:] = jaccard[1:] - jaccard[0:-1]
    lov = torch.dot(F.relu(errors_sorted), jaccard.double())
    total = ce + cew + hard.mean() + dice_loss + lov
    total.backward()
    res["ce"] = _np(ce); res["cew"] = _np(cew); res["hard"] = _np(hard); res["dice"] = _np(dice_loss); res["lov"] = _np(lov)
    res["g"] = _np(logits.grad)
    # metrics: confusion matrix / mIoU
    pred = logits.argmax(1)
    k = (target >= 0) & (target < 4)
    hist = torch.bincount(4 * target[k] + pred[k], minlength=16).reshape(4, 4)
    iou = torch.diag(hist) / (hist.sum(1) + hist.sum(0) - torch.diag(hist))
    res["hist"] = _np(hist); res["iou"] = _np(iou); res["miou"] = _np(torch.nanmean(iou.double()))
    acc = torch.diag(hist).sum() / hist.sum()
    res["acc"] = _np(acc)
    u, c = torch.unique(pred, return_counts=True)
    res["u"] = _np(u); res["c"] = _np(c)
    res["histc"] = _np(torch.histc(logits.detach(), bins=5, min=-2, max=2))
    return res

def prog_augment(torch):
    F = torch.nn.functional
    r = _rng(3)
    img = (r.random((7, 9, 3)) * 255).astype(np.uint8)
    x = torch.from_numpy(img).permute(2, 0, 1).float().div(255)
    res = {"x": _np(x)}
    mean = torch.tensor([0.485, 0.456, 0.406]); std = torch.tensor([0.229, 0.224, 0.225])
    xn = (x - mean[:, None, None]) / std[:, None, None]
    xn2 = x.clone().sub_(mean.view(-1, 1, 1)).div_(std.view(-1, 1, 1))
    res["xn"] = _np(xn); res["xn2"] = _np(xn2)
    res["flip"] = _np(torch.flip(xn, [2]))
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")
    res["pad3d"] = _np(padded)
    res["crop"] = _np(padded[:, 1:8, 3:12])
    res["const3d"] = _np(F.pad(x, (1, 1, 1, 1), value=0.5))
    res["gray"] = _np((0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0))
    res["bright"] = _np((x * 1.3).clamp(0, 1))
    res["contrast"] = _np((1.5 * x + (1 - 1.5) * x.mean()).clamp_(0.0, 1.0))
    back = x.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    res["back"] = back
    res["byte"] = _np((x * 255).round().byte())
    res["to_u8"] = _np((xn * 40).to(torch.uint8))
    batch = torch.stack([x, torch.flip(x, [1]), x * 0.5, 1 - x, x ** 2])
    nrow, padding = 2, 1
    nmaps = batch.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(batch.size(2) + padding), int(batch.size(3) + padding)
    grid = batch.new_full((3, height * ymaps + padding, width * xmaps + padding), 0.25)
    k = 0
    for y in range(ymaps):
        for xx in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(2, xx * width + padding, width - padding).copy_(batch[k])
            k = k + 1
    res["grid"] = _np(grid)
    # mixup / cutmix with fixed permutation
    lam = 0.7
    index = torch.tensor([2, 0, 1, 4, 3])
    mixed = lam * batch + (1 - lam) * batch[index, :]
    cut = batch.clone()
    cut[:, :, 1:4, 2:6] = batch[index, :, 1:4, 2:6]
    res["mixed"] = _np(mixed); res["cut"] = _np(cut)
    # unnormalize in place per-channel with zip
    t = xn.clone()
    for ch, m, s in zip(t, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]):
        ch.mul_(s).add_(m)
    res["unnorm"] = _np(t)
    res["resize_aa"] = _np(F.interpolate(x.unsqueeze(0), size=(4, 5), mode="bilinear", antialias=True, align_corners=False))
    res["resize_u8"] = _np(F.interpolate(torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0), size=(4, 5), mode="bilinear", antialias=True))
    return res


def prog_spectral(torch):
    nn = torch.nn; F = nn.functional
    SN = nn.utils.spectral_norm
    D = nn.Sequential(SN(nn.Conv2d(2, 4, 3, 2, 1)), nn.LeakyReLU(0.1), SN(nn.Conv2d(4, 4, 3, 1, 1), n_power_iterations=2), nn.Flatten(), SN(nn.Linear(4 * 16, 1))).double()
    res = {"keys": np.array(list(D.state_dict().keys())), "pnames": np.array([n for n, _ in D.named_parameters()]), "bnames": np.array([n for n, _ in D.named_buffers()])}
    sd = D.state_dict()
    r = _rng(1)
    new = {}
    for k, v in sd.items():
        a = r.standard_normal(tuple(v.shape))
        if k.endswith("_u") or k.endswith("_v"):
            a = a / np.linalg.norm(a)
        new[k] = torch.tensor(a * (0.3 if k.endswith("orig") else 1.0))
    D.load_state_dict(new)
    x = torch.tensor(r.standard_normal((3, 2, 8, 8)))
    opt = torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
    for i in range(2):
        opt.zero_grad()
        out = D(x)
        loss = F.relu(1.0 - out).mean()
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    res["u"] = _np(D[0].weight_u); res["w"] = _np(D[2].weight)
    D.eval()
    res["eval"] = _np(D(x))
    res["eval_u"] = _np(D[0].weight_u)
    nn.utils.remove_spectral_norm(D[0])
    res["keys2"] = np.array(list(D.state_dict().keys()))
    res["after_remove"] = _np(D(x))
    # weight norm (old API)
    wn = nn.utils.weight_norm(nn.Conv2d(2, 3, 3), name="weight", dim=0).double()
    res["wnkeys"] = np.array(list(wn.state_dict().keys()))
    _fill_sd = {k: torch.tensor(r.standard_normal(tuple(v.shape))) for k, v in wn.state_dict().items()}
    wn.load_state_dict(_fill_sd)
    y = wn(x)
    y.sum().backward()
    res["wn_y"] = _np(y); res["wn_g"] = _np(wn.weight_g.grad); res["wn_v"] = _np(wn.weight_v.grad)
    return res

def prog_parametrize(torch):
    nn = torch.nn; F = nn.functional
    P = nn.utils.parametrizations
    conv = P.weight_norm(nn.Conv2d(2, 3, 3).double())
    res = {"keys": np.array(list(conv.state_dict().keys()))}
    r = _rng(2)
    conv.load_state_dict({k: torch.tensor(r.standard_normal(tuple(v.shape))) for k, v in conv.state_dict().items()})
    x = torch.tensor(r.standard_normal((2, 2, 5, 5)))
    y = conv(x)
    y.square().sum().backward()
    res["y"] = _np(y)
    res["g0"] = _np(conv.parametrizations.weight.original0.grad)
    res["g1"] = _np(conv.parametrizations.weight.original1.grad)
    lin = P.spectral_norm(nn.Linear(4, 3).double())
    res["sn_keys"] = np.array(list(lin.state_dict().keys()))
    sd = {}
    for k, v in lin.state_dict().items():
        a = r.standard_normal(tuple(v.shape))
        sd[k] = torch.tensor(a / np.linalg.norm(a) if k.endswith(("_u", "_v")) else a)
    lin.load_state_dict(sd)
    lin.eval()
    z = torch.tensor(r.standard_normal((2, 4)))
    res["sn_eval"] = _np(lin(z))
    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)
    l2 = nn.Linear(3, 3).double()
    torch.nn.utils.parametrize.register_parametrization(l2, "weight", Symmetric())
    l2.load_state_dict({k: torch.tensor(r.standard_normal(tuple(v.shape))) for k, v in l2.state_dict().items()})
    res["sym"] = _np(l2.weight)
    res["is_p"] = np.array(torch.nn.utils.parametrize.is_parametrized(l2))
    torch.nn.utils.parametrize.remove_parametrizations(l2, "weight", leave_parametrized=True)
    res["sym_after"] = _np(l2.weight); res["keys_after"] = np.array(list(l2.state_dict().keys()))
    return res


def prog_frozenbn(torch):
    nn = torch.nn
    class FrozenBatchNorm2d(nn.Module):
        def __init__(self, n, eps=1e-5):
            super().__init__()
            self.register_buffer("weight", torch.ones(n))
            self.register_buffer("bias", torch.zeros(n))
            self.register_buffer("running_mean", torch.zeros(n))
            self.register_buffer("running_var", torch.ones(n))
            self.eps = eps
        def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
            num_batches_tracked_key = prefix + "num_batches_tracked"
            if num_batches_tracked_key in state_dict:
                del state_dict[num_batches_tracked_key]
            super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)
        def forward(self, x):
            w = self.weight.reshape(1, -1, 1, 1)
            b = self.bias.reshape(1, -1, 1, 1)
            rv = self.running_var.reshape(1, -1, 1, 1)
            rm = self.running_mean.reshape(1, -1, 1, 1)
            scale = w * (rv + self.eps).rsqrt()
            bias = b - rm * scale
            return x * scale + bias
        def extra_repr(self):
            return f"{self.weight.shape[0]}, eps={self.eps}"
    src = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).double()
    _fill(src, torch, 1)
    dst = nn.Sequential(nn.Conv2d(2, 3, 3), FrozenBatchNorm2d(3)).double()
    r = dst.load_state_dict(src.state_dict())
    res = {"r": np.array(str(r)), "repr": np.array(repr(dst).replace("torch", "").replace("minigrad", ""))}
    x = torch.tensor(_rng(2).standard_normal((2, 2, 5, 5)))
    src.eval()
    res["same"] = _np(dst(x) - src(x))
    res["isbn"] = np.array([isinstance(m, nn.modules.batchnorm._BatchNorm) for m in src.modules()])
    res["isconv"] = np.array([isinstance(m, nn.modules.conv._ConvNd) for m in src.modules()])
    res["isnorm"] = np.array([isinstance(m, nn.modules.batchnorm._NormBase) for m in src.modules()])
    # freeze all BN
    def freeze_bn(m):
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            m.weight.requires_grad = False
            m.bias.requires_grad = False
    src.train(); src.apply(freeze_bn)
    res["training"] = np.array([m.training for m in src.modules()])
    out = src(x)
    res["rm"] = _np(src[1].running_mean)
    # load_state_dict pre hooks
    calls = []
    def pre_hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        calls.append(prefix)
        if prefix + "old_weight" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "old_weight")
    lin = nn.Linear(2, 2).double()
    lin._register_load_state_dict_pre_hook(pre_hook)
    sd = {"old_weight": torch.ones(2, 2, dtype=torch.float64), "bias": torch.zeros(2, dtype=torch.float64)}
    res["lr"] = np.array(str(lin.load_state_dict(sd)))
    res["calls"] = np.array(calls)
    res["lw"] = _np(lin.weight)
    posts = []
    h = lin.register_load_state_dict_post_hook(lambda mod, keys: posts.append((list(keys.missing_keys), list(keys.unexpected_keys))))
    lin.load_state_dict({"weight": torch.zeros(2, 2, dtype=torch.float64)}, strict=False)
    res["posts"] = np.array(str(posts))
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2)))
    res["sync"] = np.array([type(m).__name__ for m in sync.modules()])
    return res
def prog_sync(torch):
    nn = torch.nn
    m = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3, momentum=None), nn.Sequential(nn.BatchNorm1d(3, affine=False)), nn.SyncBatchNorm(3)).double()
    _fill(m, torch, 3)
    m[1].eval()
    w = m[1].weight
    s = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    res = {"types": np.array([type(x).__name__ for x in s.modules()]), "same": np.array(s[1].weight is w),
           "training": np.array([x.training for x in s.modules()]), "repr": np.array(repr(s)),
           "keys": np.array(list(s.state_dict().keys())), "dtype": np.array(str(s[1].running_mean.dtype).split(".")[-1]),
           "mom": np.array(str(s[1].momentum))}
    x = torch.tensor(_rng(4).standard_normal((4, 2, 3, 3)))
    y = s[1](s[0](x))
    res["y"] = _np(y)
    return res


def prog_extra_state(torch):
    """A module keeping non-tensor state (its preprocessing config) in the state dict."""
    nn = torch.nn

    class Preprocess(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 2, 1)
            self.config = {"mean": [0.5, 0.5, 0.5], "size": 8}

        def get_extra_state(self):
            return dict(self.config)

        def set_extra_state(self, state):
            self.config = dict(state, loaded=True)

    model = nn.Sequential(OrderedDict(pre=Preprocess(), head=nn.Conv2d(2, 1, 1))).double()
    state = model.state_dict()
    state["pre._extra_state"]["size"] = 16
    other = nn.Sequential(OrderedDict(pre=Preprocess(), head=nn.Conv2d(2, 1, 1))).double()
    res = {"keys": np.array(list(state.keys())),
           "load": np.array(str(other.load_state_dict(state))),
           "config": np.array(str(sorted(other.pre.config.items())))}
    lacking = {k: v for k, v in state.items() if not k.endswith("_extra_state")}
    res["lenient"] = np.array(str(other.load_state_dict(lacking, strict=False)))
    try:
        other.load_state_dict(lacking)
    except RuntimeError as e:
        res["strict"] = np.array(str(e))
    return res


def prog_conv_subclasses(torch):
    """Conv2d subclasses from BiT / timm-style code: weight standardization through
    ``_conv_forward(input, weight, bias)`` (was a TypeError: another signature), TF-style
    'SAME' padding computed per input, and the padding PyTorch keeps for F.pad."""
    nn = torch.nn
    F = nn.functional

    class StdConv2d(nn.Conv2d):
        def forward(self, x):
            w = self.weight
            v, m = torch.var_mean(w, dim=[1, 2, 3], keepdim=True, unbiased=False)
            w = (w - m) / torch.sqrt(v + 1e-10)
            return self._conv_forward(x, w, self.bias)

    class Conv2dSame(nn.Conv2d):
        def forward(self, x):
            ih, iw = x.size()[-2:]
            k, s, d = self.kernel_size, self.stride, self.dilation
            pad_h = max((math.ceil(ih / s[0]) - 1) * s[0] + (k[0] - 1) * d[0] + 1 - ih, 0)
            pad_w = max((math.ceil(iw / s[1]) - 1) * s[1] + (k[1] - 1) * d[1] + 1 - iw, 0)
            if pad_h > 0 or pad_w > 0:
                x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
            return F.conv2d(x, self.weight, self.bias, self.stride, (0, 0), self.dilation,
                            self.groups)

    class ReflectConv(nn.Conv2d):
        def forward(self, x):
            x = F.pad(x, self._reversed_padding_repeated_twice, mode="reflect")
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)

    model = nn.Sequential(StdConv2d(3, 4, 3, padding=1, padding_mode="replicate"),
                          nn.GroupNorm(2, 4), nn.ReLU(),
                          Conv2dSame(4, 4, 3, stride=2, dilation=1),
                          ReflectConv(4, 2, (3, 5), padding=(1, 2)),
                          StdConv2d(2, 2, (3, 5), padding="same", dilation=(1, 2), bias=False)).double()
    _fill(model, torch, 5)
    x = torch.tensor(_rng(6).standard_normal((2, 3, 7, 8)), requires_grad=True)
    out = model(x)
    out.square().sum().backward()
    return {"out": _np(out), "gx": _np(x.grad), "gw": _np(model[0].weight.grad),
            "pads": np.array([list(m._reversed_padding_repeated_twice) for m in model
                              if isinstance(m, nn.Conv2d)])}


PROGRAMS = [prog_resnet_basic, prog_resnet_bottleneck, prog_vgg, prog_mobilenetv2, prog_mobilenetv3, prog_densenet, prog_unet, prog_interp, prog_dcgan, prog_effnet, prog_espcn, prog_stn, prog_bn_stats, prog_convnext, prog_vit, prog_swin_bits, prog_shufflenet, prog_cyclegan, prog_wgan_gp, prog_stylegan_bits, prog_gradcam, prog_repvgg, prog_feature_extractor, prog_ema_swa, prog_channels_last, prog_legacy,
            prog_detection, prog_segmentation, prog_spectral, prog_parametrize,
            prog_frozenbn, prog_sync, prog_extra_state,
            prog_conv_subclasses]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__[5:] for p in PROGRAMS])
def test_program_matches_torch(program):
    _check(program)


def test_image_tensor_idioms_match_torch():
    """uint8 HWC images to normalized CHW floats and back, a hand-written make_grid, mixup and
    cutmix, an anti-aliased resize (float32, so a float32 tolerance)."""
    _check(prog_augment, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# Mistakes vision code makes: PyTorch's exception type and words
# ----------------------------------------------------------------------------------------------
def _unpool(torch, output_size):
    F = torch.nn.functional
    x, i = F.max_pool2d(torch.arange(16.0).view(1, 1, 4, 4), 2, return_indices=True)
    return F.max_unpool2d(x, i, 2, output_size=output_size)


def _hooked_then_inplace_relu(torch):
    """Grad-CAM's pitfall: a full backward hook on a layer followed by ReLU(inplace=True)."""
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True))
    model[0].register_full_backward_hook(lambda module, grad_in, grad_out: None)
    return model(torch.ones(1, 1, 4, 4))


def _custom_function_views(torch, n_outputs):
    """A custom Function whose first output is its input (or a view of it): one
    differentiable output and several get different words."""
    class Passthrough(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            if n_outputs == 1:
                return x.view_as(x), y.long()
            return x, y[0], y * 2

        @staticmethod
        def backward(ctx, *grads):
            return grads[0], None

    a = torch.ones(3, requires_grad=True) * 2
    out = Passthrough.apply(a, a * 3)
    out[0].mul_(2)


ERRORS = [
    # an in-place write to a custom Function's output that is a view of its input (was allowed)
    ("hook_then_inplace_relu", _hooked_then_inplace_relu),
    ("custom_function_view", lambda torch: _custom_function_views(torch, 1)),
    ("custom_function_views", lambda torch: _custom_function_views(torch, 2)),
    # output_size must lie strictly within one stride of the default (was accepted)
    ("unpool_too_big", lambda torch: _unpool(torch, (1, 1, 6, 6))),
    ("unpool_too_small", lambda torch: _unpool(torch, (2, 5))),
    # a 3-element size for 2-d unpooling (was read as its last two)
    ("unpool_rank", lambda torch: _unpool(torch, (1, 5, 5))),
    ("unpool_bad_index", lambda torch: _unpool(torch, (3, 3))),
    ("unpool_1d", lambda torch: torch.nn.MaxUnpool1d(2)(
        *torch.nn.functional.max_pool1d(torch.arange(8.0).view(1, 1, 8), 2,
                                        return_indices=True), output_size=(10,))),
    ("conv_transpose_output_size", lambda torch: torch.nn.ConvTranspose2d(3, 3, 3, stride=2)(
        torch.zeros(1, 3, 4, 4), output_size=[12, 12])),
    ("conv_long_input", lambda torch: torch.nn.Conv2d(1, 1, 1)(
        torch.zeros(1, 1, 2, 2, dtype=torch.long))),
    ("conv_int16_input", lambda torch: torch.nn.Conv2d(1, 1, 1)(
        torch.zeros(1, 1, 2, 2, dtype=torch.int16))),
    # one theta for a batch of two (was a ValueError)
    ("affine_grid_batch", lambda torch: torch.nn.functional.affine_grid(
        torch.zeros(1, 2, 3), (2, 1, 4, 4), align_corners=False)),
    ("affine_grid_shape", lambda torch: torch.nn.functional.affine_grid(
        torch.zeros(2, 3, 3), (2, 1, 4, 4), align_corners=False)),
    ("kaiming_mode", lambda torch: torch.nn.init.kaiming_uniform_(torch.zeros(3, 3), mode="fan")),
    ("conv_channels", lambda torch: torch.nn.Conv2d(3, 8, 3)(torch.zeros(2, 4, 8, 8))),
    ("pool_padding", lambda torch: torch.nn.MaxPool2d(2, padding=2)(torch.zeros(1, 1, 6, 6))),
    ("pad_reflect_too_wide", lambda torch: torch.nn.functional.pad(
        torch.zeros(1, 1, 3, 3), (3, 3, 3, 3), mode="reflect")),
    # pooling: a zero stride is named before the kernel size; T/H/W in 3-d, a unit H in 1-d,
    # and max_pool1d without indices has words of its own
    ("max_pool_zero_kernel", lambda torch: torch.nn.MaxPool2d(0)(torch.zeros(1, 2, 6, 6))),
    ("avg_pool1d_zero_kernel", lambda torch: torch.nn.AvgPool1d(0)(torch.zeros(2, 6))),
    ("max_pool3d_zero_kernel", lambda torch: torch.nn.functional.max_pool3d(
        torch.zeros(1, 1, 4, 4, 4), 0, stride=1)),
    ("avg_pool3d_negative_stride", lambda torch: torch.nn.functional.avg_pool3d(
        torch.zeros(1, 1, 4, 4, 4), 2, stride=-1)),
    ("max_pool1d_indices_zero_kernel", lambda torch: torch.nn.functional.max_pool1d(
        torch.zeros(2, 6), 0, stride=1, return_indices=True)),
    ("max_pool1d_zero_kernel", lambda torch: torch.nn.MaxPool1d(0, stride=1)(torch.zeros(2, 6))),
    ("max_pool1d_zero_stride", lambda torch: torch.nn.MaxPool1d(2, stride=0)(torch.zeros(2, 6))),
    ("max_pool1d_padding", lambda torch: torch.nn.MaxPool1d(2, padding=2)(torch.zeros(2, 6))),
    ("max_pool1d_too_small", lambda torch: torch.nn.MaxPool1d(9)(torch.zeros(2, 6))),
    ("grid_sample_dtypes", lambda torch: torch.nn.functional.grid_sample(
        torch.zeros(1, 1, 3, 3), torch.zeros(1, 2, 2, 2, dtype=torch.float64),
        align_corners=False)),
    ("pixel_unshuffle_width", lambda torch: torch.nn.PixelUnshuffle(4)(torch.zeros(1, 1, 4, 6))),
    ("bicubic_3d", lambda torch: torch.nn.Upsample(scale_factor=2, mode="bicubic")(
        torch.zeros(1, 2, 4))),
    # a dataset of numpy images of different sizes (was numpy's ValueError)
    ("collate_unequal_images", lambda torch: next(iter(torch.utils.data.DataLoader(
        [np.zeros((4, 5, 3), np.uint8), np.zeros((4, 6, 3), np.uint8)], batch_size=2)))),
]


@pytest.mark.parametrize("name,fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, fn):
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as mine:
        fn(minigrad)
    assert type(mine.value) is type(theirs.value)
    # PyTorch's words, which minigrad may follow with details in parentheses
    mine, theirs = str(mine.value).replace("minigrad", "torch"), str(theirs.value)
    assert mine == theirs or mine.startswith(theirs + " (")


# ----------------------------------------------------------------------------------------------
# print(model): the printout of torchvision-style models, character for character
# ----------------------------------------------------------------------------------------------
def _zoo(torch):
    nn = torch.nn
    resnet, basic, bottleneck = _resnet(torch)
    yield resnet(basic, [1, 1])
    yield resnet(bottleneck, [1, 1])
    yield nn.Sequential(
        nn.Conv2d(3, 4, 3, padding="same", padding_mode="reflect", dilation=2),
        nn.Conv2d(4, 4, (3, 1), stride=(2, 1), padding=(1, 0), groups=2, bias=False),
        nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
        nn.BatchNorm2d(2, eps=1e-3, momentum=None), nn.InstanceNorm2d(3, affine=True),
        nn.GroupNorm(2, 4), nn.LayerNorm(4, eps=1e-6, bias=False), nn.LocalResponseNorm(5),
        nn.ReLU(inplace=True), nn.ReLU6(), nn.LeakyReLU(0.2, inplace=True), nn.PReLU(4, 0.1),
        nn.GELU(approximate="tanh"), nn.SiLU(inplace=True), nn.Mish(inplace=True),
        nn.Hardswish(inplace=True), nn.Hardsigmoid(inplace=True),  # these two print no inplace
        nn.ELU(0.5, True), nn.SELU(True), nn.CELU(alpha=0.3),
        nn.MaxPool2d(3, 2, 1), nn.MaxPool2d((2, 3), stride=(1, 2), ceil_mode=True),
        nn.AvgPool2d(2, count_include_pad=False, ceil_mode=True, divisor_override=2),
        nn.AdaptiveAvgPool2d((7, 7)), nn.AdaptiveAvgPool2d((None, 3)), nn.MaxUnpool2d(2),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.UpsamplingNearest2d(size=3), nn.PixelShuffle(3), nn.PixelUnshuffle(2),
        nn.Flatten(), nn.Unflatten(1, (2, 2)), nn.Dropout2d(p=0.1, inplace=True),
        nn.ReflectionPad2d((1, 2, 0, 1)), nn.ConstantPad2d(1, 0.5), nn.Linear(4, 3, bias=False),
        nn.Conv3d(2, 3, (1, 3, 3), padding=(0, 1, 1)), nn.AdaptiveAvgPool3d(1))


def test_model_printout_matches_torch():
    for mine, theirs in zip(_zoo(minigrad), _zoo(torch)):
        assert repr(mine) == repr(theirs)


ACTIVATION_CALLS = ["GELU(inplace=True)", "GELU('tanh', True)", "ELU(1.0, True, 3)",
                    "ELU(alpah=2)", "ELU(0.5, alpha=2)", "SELU(1, 2)", "Hardswish(foo=1)",
                    "Mish(True, True)"]


@pytest.mark.parametrize("call", ACTIVATION_CALLS)
def test_activation_modules_refuse_bad_arguments(call):
    """A misspelt or extra argument was taken silently."""
    with pytest.raises(TypeError) as theirs:
        eval("torch.nn." + call, {"torch": torch})
    with pytest.raises(TypeError) as mine:
        eval("torch.nn." + call, {"torch": minigrad})
    assert str(mine.value) == str(theirs.value)


def _stacked_blocks(torch):
    """Repeating a block with Sequential arithmetic (the same modules, shared weights)."""
    nn = torch.nn
    block = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, bias=False), nn.ReLU())
    deep = block * 3
    wide = 2 * nn.Sequential(nn.Identity())
    block *= 2
    out = [repr(deep), repr(wide), repr(block), len(list(deep.parameters())),
           list(deep.state_dict().keys())]
    for bad in (lambda: block * 0, lambda: block * 1.5):
        try:
            bad()
        except (TypeError, ValueError) as e:
            out.append(f"{type(e).__name__}: {e}".replace(torch.__name__, "torch"))
    return out


def test_sequential_repetition_matches_torch():
    """``Sequential * n`` was a TypeError."""
    assert _stacked_blocks(minigrad) == _stacked_blocks(torch)


# a model left in float64 (or float32) meeting the other dtype: which words the norms use
NORM_DTYPES = [("float32", "float32", "float64"), ("float64", "float64", "float32"),
               ("float64", "float32", "float64"), ("float32", "float64", "float32"),
               ("float32", None, "float64"), ("float64", "float32", "float32"),
               ("float16", "float32", "float16"), ("float64", "float32", None)]


@pytest.mark.parametrize("norm", ["batch", "group", "layer", "instance"])
@pytest.mark.parametrize("x_dtype,first,second", NORM_DTYPES)
def test_norm_dtype_mismatch_words_match_torch(norm, x_dtype, first, second):
    """A mismatch after a first parameter of the input's dtype is 'expected scalar type',
    a mix is refused as 'expect parameter to have scalar type of Float' unless all the
    parameters are float32 (was the other way round, or the other words)."""
    def call(lib):
        F = lib.nn.functional
        x = lib.ones(2, 4, 3, 3, dtype=getattr(lib, x_dtype))
        size = 3 if norm == "layer" else 4
        a = None if first is None else lib.ones(size, dtype=getattr(lib, first))
        b = None if second is None else lib.zeros(size, dtype=getattr(lib, second))
        if norm == "batch":
            return F.batch_norm(x, b, None if b is None else b + 1, a, None, training=True)
        if norm == "group":
            return F.group_norm(x, 2, a, b)
        if norm == "layer":
            return F.layer_norm(x, (3,), a, b)
        return F.instance_norm(x, None, None, a, b)

    try:
        want = str(call(torch).dtype).split(".")[-1]
    except RuntimeError as e:
        want = str(e)
    try:
        got = str(call(minigrad).dtype).split(".")[-1]
    except RuntimeError as e:
        got = str(e)
    assert got == want or got.startswith(want + " (")


def test_pooling_sizes_computed_with_numpy_match_torch():
    """Kernel and stride sizes computed with numpy (np.int64): AvgPool2d raised numpy's
    'truth value of an empty array' ValueError."""
    outs = []
    for lib in (minigrad, torch):
        k, s, p = (np.int64(v) for v in (3, 2, 1))
        x = lib.tensor(np.arange(72.0).reshape(1, 2, 6, 6))
        outs.append([lib.nn.AvgPool2d(k, s, p)(x).numpy(),
                     lib.nn.functional.avg_pool1d(x[0], k, s, p).numpy(),
                     lib.nn.MaxPool2d(k, s, p)(x).numpy()])
    for mine, theirs in zip(*outs):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)
