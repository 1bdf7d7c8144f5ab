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
    """Residual networks in two block styles: two 3x3 convolutions, or a 1x1 -> 3x3 -> 1x1
    bottleneck that widens its output four times; a strided 1x1 projection on the shortcut
    wherever the shape changes."""
    nn = torch.nn

    def conv_norm(cin, cout, k, stride=1):
        return nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)

    class TwoConv(nn.Module):
        widen = 1
        def __init__(self, cin, width, stride=1, shortcut=None):
            super().__init__()
            self.c1, self.n1 = conv_norm(cin, width, 3, stride)
            self.c2, self.n2 = conv_norm(width, width, 3)
            self.act = nn.ReLU(inplace=True)
            self.shortcut = shortcut
        def last_norm(self):
            return self.n2
        def forward(self, x):
            skip = x if self.shortcut is None else self.shortcut(x)
            y = self.n2(self.c2(self.act(self.n1(self.c1(x)))))
            y += skip
            return self.act(y)

    class Narrowed(nn.Module):
        widen = 4
        def __init__(self, cin, width, stride=1, shortcut=None):
            super().__init__()
            self.c1, self.n1 = conv_norm(cin, width, 1)
            self.c2, self.n2 = conv_norm(width, width, 3, stride)
            self.c3, self.n3 = conv_norm(width, width * self.widen, 1)
            self.act = nn.ReLU(inplace=True)
            self.shortcut = shortcut
        def last_norm(self):
            return self.n3
        def forward(self, x):
            skip = x if self.shortcut is None else self.shortcut(x)
            y = self.act(self.n1(self.c1(x)))
            y = self.act(self.n2(self.c2(y)))
            y = self.n3(self.c3(y))
            y += skip
            return self.act(y)

    class ResidualNet(nn.Module):
        def __init__(self, kind, depths, classes=10, quiet_residuals=True):
            super().__init__()
            self.stem_conv = nn.Conv2d(3, 8, kernel_size=7, stride=2, padding=3, bias=False)
            self.stem_bn = nn.BatchNorm2d(8)
            self.act = nn.ReLU(inplace=True)
            self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            channels = 8
            stages = []
            for width, depth, stride in ((8, depths[0], 1), (16, depths[1], 2)):
                out = width * kind.widen
                proj = None
                if stride > 1 or channels != out:
                    proj = nn.Sequential(nn.Conv2d(channels, out, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(out))
                blocks = [kind(channels, width, stride, proj)]
                blocks += [kind(out, width) for _ in range(depth - 1)]
                stages.append(nn.Sequential(*blocks))
                channels = out
            self.stage1, self.stage2 = stages
            self.gap = nn.AdaptiveAvgPool2d((1, 1))
            self.head = nn.Linear(channels, classes)
            for mod in self.modules():
                if isinstance(mod, nn.Conv2d):
                    nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(mod, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(mod.weight, 1)
                    nn.init.constant_(mod.bias, 0)
            if quiet_residuals:          # each residual branch starts as zero
                for mod in self.modules():
                    if isinstance(mod, (TwoConv, Narrowed)) and mod.last_norm().weight is not None:
                        nn.init.constant_(mod.last_norm().weight, 0)
        def forward(self, x):
            x = self.pool(self.act(self.stem_bn(self.stem_conv(x))))
            x = self.stage2(self.stage1(x))
            return self.head(torch.flatten(self.gap(x), 1))

    return ResidualNet, TwoConv, Narrowed

def prog_resnet_basic(torch):
    ResidualNet, TwoConv, _ = _resnet(torch)
    torch.manual_seed(0)
    m = ResidualNet(TwoConv, [2, 1]).double()
    res = {}
    res["bn2_zero"] = _np(m.stage1[0].n2.weight)          # the init, before any weights load
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
    res["rm"] = _np(m.stage2[0].shortcut[1].running_mean)
    res["rv"] = _np(m.stem_bn.running_var)
    res["nbt"] = _np(m.stem_bn.num_batches_tracked)
    m.eval()
    with torch.no_grad():
        out = m(x)
    res["eval"] = _np(out)
    res["eval_rg"] = np.array(out.requires_grad)
    return res

def prog_resnet_bottleneck(torch):
    ResidualNet, _, Narrowed = _resnet(torch)
    torch.manual_seed(0)
    m = ResidualNet(Narrowed, [1, 1]).double()
    _fill(m, torch, 3)
    # a new classifier on a frozen backbone
    for w in m.parameters():
        w.requires_grad_(False)
    m.head = torch.nn.Linear(64, 5).double()
    with torch.no_grad():
        m.head.weight.copy_(torch.tensor(_rng(4).standard_normal((5, 64))))
        m.head.bias.fill_(0.1)
    opt = torch.optim.Adam(filter(lambda p: p.requires_grad, m.parameters()), lr=1e-2)
    x = torch.tensor(_rng(5).standard_normal((2, 3, 16, 16)))
    y = torch.tensor(np.array([0, 4]))
    res = {}
    seen = {}
    handle = m.stage1.register_forward_hook(lambda mod, args, out: seen.update(l1=out.detach()))
    for i in range(3):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    handle.remove()
    res["feat"] = _np(seen["l1"])
    res["fcw"] = _np(m.head.weight)
    res["conv_grad_none"] = np.array(m.stem_conv.weight.grad is None)
    res["ntrain"] = np.array(sum(p.numel() for p in m.parameters() if p.requires_grad))
    return res


def prog_vgg(torch):
    nn = torch.nn
    plan = [8, "M", 16, "M", 16, 16, "M"]            # widths of 3x3 convs, "M" a 2x2 max-pool

    def conv_stack(with_norm):
        mods, cin = [], 3
        for step in plan:
            if step == "M":
                mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
                continue
            mods.append(nn.Conv2d(cin, step, kernel_size=3, padding=1))
            if with_norm:
                mods.append(nn.BatchNorm2d(step))
            mods.append(nn.ReLU(inplace=True))
            cin = step
        return nn.Sequential(*mods)

    class PlainConvNet(nn.Module):
        def __init__(self, body, classes=4, p_drop=0.5):
            super().__init__()
            self.features = body
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            hidden = [nn.ReLU(True), nn.Dropout(p=p_drop)]
            self.classifier = nn.Sequential(nn.Linear(16 * 7 * 7, 32), *hidden,
                                            nn.Linear(32, 32), nn.ReLU(True), nn.Dropout(p=p_drop),
                                            nn.Linear(32, classes))
            for mod in self.modules():
                if isinstance(mod, nn.Linear):
                    nn.init.normal_(mod.weight, 0, 0.01)
                elif isinstance(mod, nn.Conv2d):
                    nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
                elif not isinstance(mod, nn.BatchNorm2d):
                    continue
                else:
                    nn.init.constant_(mod.weight, 1)
                if getattr(mod, "bias", None) is not None:
                    nn.init.constant_(mod.bias, 0)

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    res = {}
    for bn in (False, True):
        m = PlainConvNet(conv_stack(bn)).double()
        _fill(m, torch, 7)
        x = torch.tensor(_rng(1).standard_normal((2, 3, 20, 20)))   # 20->10->5->2 : adaptive upsample 2->7
        m.eval()
        with torch.no_grad():
            res[f"eval{bn}"] = _np(m(x))
        m.train()
        for k in (2, 5):
            m.classifier[k].p = 0.0
        out = m(x)
        out.sum().backward()
        res[f"g{bn}"] = _np(m.features[0].weight.grad)
        res[f"f{bn}"] = _np(m.features[:4](x))
        res[f"len{bn}"] = np.array(len(m.features))
    return res

def _round_channels(width, step=8, least=None):
    """width rounded to a multiple of step (at least `least`), never more than 10% below it"""
    least = step if least is None else least
    rounded = max(least, (int(width + step / 2) // step) * step)
    return rounded + step if rounded < 0.9 * width else rounded

def prog_mobilenetv2(torch):
    nn = torch.nn

    def cbr(cin, cout, k=3, stride=1, groups=1):      # conv, batch norm, ReLU6
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                       bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class Expand(nn.Module):
        """1x1 expansion (skipped at ratio 1), depthwise 3x3, linear 1x1 projection; a skip
        connection when the shape is kept"""
        def __init__(self, cin, cout, stride, ratio):
            super().__init__()
            mid = int(round(cin * ratio))
            parts = [cbr(cin, mid, k=1)] if ratio != 1 else []
            parts += [cbr(mid, mid, stride=stride, groups=mid),
                      nn.Conv2d(mid, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*parts)
            self.skip = stride == 1 and cin == cout
        def forward(self, x):
            y = self.conv(x)
            return x + y if self.skip else y

    class Mobile(nn.Module):
        def __init__(self):
            super().__init__()
            c = _round_channels(32 * 0.25)
            layers = [cbr(3, c, stride=2)]
            for ratio, width, repeats, stride in ((1, 8, 1, 1), (6, 16, 2, 2)):
                out = _round_channels(width)
                for k in range(repeats):
                    layers.append(Expand(c, out, stride if k == 0 else 1, ratio))
                    c = out
            layers.append(cbr(c, 24, k=1))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(24, 3))
        def forward(self, x):
            pooled = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(pooled, 1))

    m = Mobile().double()
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

    class ChannelGate(nn.Module):
        """squeeze to one value per channel, two 1x1 convs, a hard-sigmoid gate"""
        def __init__(self, c, inner):
            super().__init__()
            self.down, self.up = nn.Conv2d(c, inner, 1), nn.Conv2d(inner, c, 1)
            self.act, self.gate = nn.ReLU(inplace=True), nn.Hardsigmoid(inplace=True)
        def forward(self, x):
            w = self.up(self.act(self.down(F.adaptive_avg_pool2d(x, 1))))
            return self.gate(w) * x

    def norm(c):
        return nn.BatchNorm2d(c, eps=0.001, momentum=0.01)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.exp = nn.Sequential(nn.Conv2d(8, 16, 1, bias=False), norm(16), nn.Hardswish(inplace=True))
            self.dw = nn.Sequential(nn.Conv2d(16, 16, 5, 2, 2, groups=16, bias=False), norm(16), nn.Hardswish())
            self.se = ChannelGate(16, _round_channels(16 // 4))
            self.proj = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), norm(8))
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

    class Grow(nn.Module):
        """takes the list of all earlier feature maps, concatenates them, and adds `growth`
        new channels (BN-ReLU-1x1 to a bottleneck, BN-ReLU-3x3); the bottleneck can be
        recomputed in backward instead of stored"""
        def __init__(self, cin, growth, widen, p_drop, recompute=False):
            super().__init__()
            mid = widen * growth
            self.pre = nn.Sequential(OrderedDict(norm1=nn.BatchNorm2d(cin), relu1=nn.ReLU(inplace=True),
                                                 conv1=nn.Conv2d(cin, mid, kernel_size=1, stride=1, bias=False)))
            self.norm2 = nn.BatchNorm2d(mid)
            self.relu2 = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(mid, growth, kernel_size=3, stride=1, padding=1, bias=False)
            self.p_drop, self.recompute = float(p_drop), recompute
        def squeeze(self, *maps):
            return self.pre(torch.cat(maps, 1))
        def forward(self, earlier):
            maps = [earlier] if isinstance(earlier, torch.Tensor) else earlier
            if self.recompute and any(t.requires_grad for t in maps):
                mid = torch.utils.checkpoint.checkpoint(self.squeeze, *maps, use_reentrant=False)
            else:
                mid = self.squeeze(*maps)
            new = self.conv2(self.relu2(self.norm2(mid)))
            return F.dropout(new, p=self.p_drop, training=self.training) if self.p_drop > 0 else new

    class DenseStage(nn.ModuleDict):
        def __init__(self, n, cin, widen, growth, p_drop, recompute=False):
            super().__init__({f"grow{k + 1}": Grow(cin + k * growth, growth, widen, p_drop,
                                                   recompute) for k in range(n)})
        def forward(self, x):
            maps = [x]
            for _, layer in self.items():
                maps.append(layer(maps))
            return torch.cat(maps, 1)

    def shrink(cin, cout):                       # between stages: 1x1 conv and 2x2 average
        return nn.Sequential(OrderedDict(norm=nn.BatchNorm2d(cin), relu=nn.ReLU(inplace=True),
                                         conv=nn.Conv2d(cin, cout, kernel_size=1, stride=1, bias=False),
                                         pool=nn.AvgPool2d(kernel_size=2, stride=2)))
    res = {}
    for me in (False, True):
        body = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)),
            ("norm0", nn.BatchNorm2d(8)), ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))]))
        body.add_module("stage1", DenseStage(2, 8, 2, 4, 0, me))
        body.add_module("shrink1", shrink(16, 8))
        body.add_module("norm5", nn.BatchNorm2d(8))
        m = nn.Sequential(body).double()
        _fill(m, torch, 21)
        x = torch.tensor(_rng(4).standard_normal((2, 3, 12, 12)))
        out = torch.flatten(F.adaptive_avg_pool2d(F.relu(m(x), inplace=True), (1, 1)), 1)
        out.sum().backward()
        res[f"out{me}"] = _np(out)
        res[f"g{me}"] = _np(m[0].conv0.weight.grad)
        res[f"g2{me}"] = _np(m[0].stage1.grow2.pre.conv1.weight.grad)
        res[f"keys{me}"] = np.array(list(m.state_dict().keys()))
    return res


def prog_unet(torch):
    nn = torch.nn; F = nn.functional

    def twice(cin, cout, mid=None):               # (conv 3x3, BN, ReLU) two times
        mid = cout if mid is None else mid
        return nn.Sequential(nn.Conv2d(cin, mid, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                             nn.Conv2d(mid, cout, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Merge(nn.Module):
        """upsample the coarse map (interpolation or a transposed conv), pad it to the skip
        map's odd size, concatenate, convolve"""
        def __init__(self, cin, cout, interpolate, corners):
            super().__init__()
            if interpolate:
                self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=corners)
                self.fuse = twice(cin, cout, cin // 2)
            else:
                self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
                self.fuse = twice(cin, cout)
        def forward(self, coarse, skip):
            coarse = self.up(coarse)
            dh, dw = (skip.size()[k] - coarse.size()[k] for k in (2, 3))
            coarse = F.pad(coarse, [dw // 2, dw - dw // 2, dh // 2, dh - dh // 2])
            return self.fuse(torch.cat([skip, coarse], dim=1))

    class SegNet(nn.Module):
        def __init__(self, interpolate, corners):
            super().__init__()
            half = 2 if interpolate else 1
            self.enter = twice(2, 4)
            self.down1 = nn.Sequential(nn.MaxPool2d(2), twice(4, 8))
            self.down2 = nn.Sequential(nn.MaxPool2d(2), twice(8, 16 // half))
            self.up1 = Merge(16, 8 // half, interpolate, corners)
            self.up2 = Merge(8, 4, interpolate, corners)
            self.classify = nn.Conv2d(4, 3, kernel_size=1)
        def forward(self, x):
            s1 = self.enter(x)
            s2 = self.down1(s1)
            return self.classify(self.up2(self.up1(self.down2(s2), s2), s1))
    res = {}
    for bil, ac in [(True, False), (False, None)]:
        m = SegNet(bil, ac).double()
        _fill(m, torch, 5)
        x = torch.tensor(_rng(1).standard_normal((2, 2, 11, 13)))   # odd sizes -> padding
        tgt = torch.tensor(_rng(2).integers(0, 3, (2, 11, 13)))
        opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-5)
        for i in range(2):
            opt.zero_grad()
            logits = m(x)
            fg = F.softmax(logits, 1)[:, 1]
            hit = (tgt == 1).float()
            soft_dice = (2 * (fg * hit).sum() + 1) / (fg.sum() + hit.sum() + 1)
            loss = F.cross_entropy(logits, tgt) + 0.5 * (1 - soft_dice)
            loss.backward()
            opt.step()
            res[f"loss{bil}{ac}{i}"] = _np(loss)
        res[f"w{bil}{ac}"] = _np(m.up1.fuse[0].weight)
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
    z_dim, width, channels = 4, 4, 1

    def up(cin, cout, k, stride, pad, last=False, **kw):
        conv = nn.ConvTranspose2d(cin, cout, k, stride, pad, bias=False, **kw)
        return [conv, nn.Tanh()] if last else [conv, nn.BatchNorm2d(cout), nn.ReLU(True)]

    def down(cin, cout, k, stride, pad, norm=True):
        mods = [nn.Conv2d(cin, cout, k, stride, pad, bias=False)]
        return mods + ([nn.BatchNorm2d(cout)] if norm else []) + [nn.LeakyReLU(0.2, inplace=True)]

    class Painter(nn.Module):                     # (B, z, 1, 1) -> (B, 1, 32, 32)
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(*up(z_dim, width * 4, 4, 1, 0), *up(width * 4, width * 2, 4, 2, 1),
                                     *up(width * 2, width, 3, 2, 1, output_padding=1),
                                     *up(width, channels, 4, 2, 1, last=True))
        def forward(self, z):
            return self.net(z)

    class Judge(nn.Module):                       # (B, 1, 32, 32) -> (B,) probabilities
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(*down(channels, width, 4, 2, 1, norm=False),
                                     *down(width, width * 2, 4, 2, 1), *down(width * 2, width * 4, 4, 2, 1),
                                     nn.Conv2d(width * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid())
        def forward(self, img):
            return self.net(img).view(-1, 1).squeeze(1)

    def small_init(mod):                          # picked by class name, as GAN code does
        kind = type(mod).__name__
        if "Conv" in kind:
            nn.init.normal_(mod.weight.data, 0.0, 0.02)
        elif "BatchNorm" in kind:
            nn.init.normal_(mod.weight.data, 1.0, 0.02)
            nn.init.constant_(mod.bias.data, 0)
    gen, disc = Painter().double(), Judge().double()
    gen.apply(small_init); disc.apply(small_init)
    _fill(gen, torch, 1); _fill(disc, torch, 2)
    bce = nn.BCELoss()
    opt_d = torch.optim.Adam(disc.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real = torch.tensor(np.tanh(_rng(3).standard_normal((3, channels, 32, 32))))
    res = {}
    for it in range(2):
        z = torch.tensor(_rng(10 + it).standard_normal((3, z_dim, 1, 1)))
        # the judge: real images towards 1, generated ones (detached) towards 0
        disc.zero_grad()
        truth = torch.full((3,), 1.0, dtype=torch.float64)
        on_real = disc(real)
        loss_real = bce(on_real, truth)
        loss_real.backward()
        mean_real = on_real.mean().item()
        made = gen(z)
        truth.fill_(0.0)
        loss_made = bce(disc(made.detach()), truth)
        loss_made.backward()
        opt_d.step()
        # the painter: its images judged real
        gen.zero_grad()
        truth.fill_(1.0)
        loss_gen = bce(disc(made), truth)
        loss_gen.backward()
        opt_g.step()
        res[f"errD{it}"] = _np(loss_real + loss_made); res[f"errG{it}"] = _np(loss_gen)
        res[f"dx{it}"] = np.array(mean_real)
    res["fake"] = _np(made)
    res["gw"] = _np(gen.net[6].weight)
    return res


def prog_effnet(torch):
    nn = torch.nn; F = nn.functional

    def stochastic_depth(y, p, training, draws):
        """drop a whole residual branch per sample with probability p, scaling the kept ones
        by 1/(1-p); the uniform draws are given so both libraries drop the same samples"""
        if p == 0.0 or not training:
            return y
        per_sample = (len(y),) + (1,) * (y.ndim - 1)
        r = torch.rand(per_sample, dtype=y.dtype, device=y.device)     # shape and dtype only
        assert r.shape == per_sample and r.dtype == y.dtype
        kept = torch.tensor(draws, dtype=y.dtype).reshape(per_sample) + (1 - p)
        kept.floor_()                             # 1 with probability 1 - p, else 0
        return y.div(1 - p) * kept

    class Excite(nn.Module):
        def __init__(self, c, inner):
            super().__init__()
            self.reduce, self.expand = nn.Conv2d(c, inner, 1), nn.Conv2d(inner, c, 1)
        def forward(self, x):
            gate = self.expand(F.silu(self.reduce(x.mean((2, 3), keepdim=True))))
            return gate.sigmoid() * x

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    class InvertedBottleneck(nn.Module):
        def __init__(self, c, ratio, k, p):
            super().__init__()
            h = c * ratio
            self.block = nn.Sequential(
                nn.Conv2d(c, h, 1, bias=False), bn(h), nn.SiLU(inplace=True),
                nn.Conv2d(h, h, k, padding=k // 2, groups=h, bias=False), bn(h), nn.SiLU(inplace=True),
                Excite(h, max(1, c // 4)), nn.Conv2d(h, c, 1, bias=False), bn(c))
            self.p = p
        def forward(self, x, draws):
            return x + stochastic_depth(self.block(x), self.p, self.training, draws)
    m = InvertedBottleneck(4, 4, 5, 0.25).double()
    _fill(m, torch, 3)
    x = torch.tensor(_rng(1).standard_normal((3, 4, 6, 6)))
    res = {}
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05, amsgrad=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=4)
    for i in range(3):
        u = _rng(10 + i).random(3)
        opt.zero_grad()
        loss = m(x, u).square().mean()
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

    class SubPixel(nn.Module):
        """features at low resolution, then r*r channels rearranged into an r-times larger
        image by PixelShuffle; small normal init (the last conv smaller still)"""
        def __init__(self, r=3):
            super().__init__()
            self.first = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.Tanh(), nn.Conv2d(8, 4, 3, padding=1), nn.Tanh())
            self.last = nn.Sequential(nn.Conv2d(4, r * r, 3, padding=1), nn.PixelShuffle(r))
            for conv in (mod for mod in self.modules() if isinstance(mod, nn.Conv2d)):
                fan_out = conv.out_channels * conv.weight.data[0][0].numel()
                std = 0.001 if conv.in_channels == 4 else math.sqrt(2 / fan_out)
                nn.init.normal_(conv.weight.data, mean=0.0, std=std)
                nn.init.zeros_(conv.bias.data)
        def forward(self, x):
            return self.last(self.first(x))

    def refine():                                 # three convs on a bicubic upscale
        return nn.Sequential(nn.Conv2d(1, 8, kernel_size=9, padding=4), nn.ReLU(inplace=True),
                             nn.Conv2d(8, 4, kernel_size=5, padding=2), nn.ReLU(inplace=True),
                             nn.Conv2d(4, 1, kernel_size=5, padding=2))
    res = {}
    m = SubPixel().double(); _fill(m, torch, 1)
    s = refine().double(); _fill(s, torch, 2)
    small = torch.tensor(_rng(3).random((2, 1, 5, 6)))
    big = torch.tensor(_rng(4).random((2, 1, 15, 18)))
    opt = torch.optim.Adam([{"params": m.first.parameters()}, {"params": m.last.parameters(), "lr": 1e-4}], lr=1e-3)
    opt2 = torch.optim.SGD([{"params": list(s[0].parameters()) + list(s[2].parameters())}, {"params": s[4].parameters(), "lr": 1e-5}], lr=1e-4, momentum=0.9)
    crit = nn.MSELoss()
    for i in range(2):
        opt.zero_grad(); opt2.zero_grad()
        sr = m(small)
        sr2 = s(F.interpolate(small, scale_factor=3, mode="bicubic", align_corners=False))
        loss = crit(sr, big) + crit(sr2, big)
        loss.backward()
        opt.step(); opt2.step()
        res[f"loss{i}"] = _np(loss)
        mse = ((sr.clamp(0.0, 1.0) - big) ** 2).mean()
        res[f"psnr{i}"] = _np(-10. * torch.log10(mse))
    res["un"] = _np(F.pixel_unshuffle(sr, 3)); res["sh"] = _np(nn.PixelUnshuffle(3)(big))
    res["w"] = _np(m.last[0].weight)
    return res

def prog_stn(torch):
    nn = torch.nn; F = nn.functional

    class Warper(nn.Module):
        """a small conv net regresses a 2x3 affine matrix (starting at the identity) that
        resamples its own input"""
        def __init__(self):
            super().__init__()
            self.look = nn.Sequential(
                nn.Conv2d(1, 4, kernel_size=3), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                nn.Conv2d(4, 4, kernel_size=3), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
            self.regress = nn.Sequential(nn.Linear(16, 8), nn.ReLU(True), nn.Linear(8, 6))
            self.regress[2].weight.data.zero_()
            identity = torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float)
            self.regress[2].bias.data.copy_(identity)
        def warp(self, img, mode, pm, ac):
            theta = self.regress(self.look(img).view(-1, 16)).view(-1, 2, 3)
            grid = F.affine_grid(theta, img.size(), align_corners=ac)
            return F.grid_sample(img, grid, mode=mode, padding_mode=pm, align_corners=ac)
    m = Warper().double()
    res = {"bias0": _np(m.regress[2].bias), "w0": _np(m.regress[2].weight)}
    _fill(m, torch, 6)
    x = torch.tensor(_rng(1).standard_normal((2, 1, 14, 14)))
    for mode in ("bilinear", "nearest", "bicubic"):
        for pm in ("zeros", "border", "reflection"):
            for ac in (False, True):
                m.zero_grad()
                xx = x.clone().requires_grad_()
                out = m.warp(xx, mode, pm, ac)
                out.pow(2).sum().backward()
                k = f"{mode}{pm}{ac}"
                res["o" + k] = _np(out)
                res["gx" + k] = _np(xx.grad)
                if mode != "nearest":
                    res["gw" + k] = _np(m.regress[2].weight.grad)
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

    class ChannelNorm(nn.Module):
        """LayerNorm over channels: F.layer_norm on channels-last input, written out by hand
        (mean and biased variance over dim 1) on channels-first input"""
        def __init__(self, c, eps=1e-6, first=False):
            super().__init__()
            self.weight, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
            self.eps, self.first, self.shape = eps, first, (c,)
        def forward(self, x):
            if not self.first:
                return F.layer_norm(x, self.shape, self.weight, self.bias, self.eps)
            centred = x - x.mean(1, keepdim=True)
            var = centred.pow(2).mean(1, keepdim=True)
            return self.weight[:, None, None] * centred / torch.sqrt(var + self.eps) \
                + self.bias[:, None, None]

    class Stage(nn.Module):
        """depthwise 7x7, then an MLP over channels in channels-last layout, scaled by a
        small learned per-channel factor, added to the input"""
        def __init__(self, c, scale0=1e-6):
            super().__init__()
            self.dwconv = nn.Conv2d(c, c, kernel_size=7, padding=3, groups=c)
            self.norm = ChannelNorm(c)
            self.mlp = nn.Sequential(nn.Linear(c, 4 * c), nn.GELU(), nn.Linear(4 * c, c))
            self.gamma = nn.Parameter(scale0 * torch.ones((c)), requires_grad=True) if scale0 > 0 else None
            self.drop_path = nn.Identity()
        def forward(self, x):
            y = self.mlp(self.norm(self.dwconv(x).permute(0, 2, 3, 1)))
            if self.gamma is not None:
                y = self.gamma * y
            return x + self.drop_path(y.permute(0, 3, 1, 2))

    def tn_init(mod):
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            nn.init.trunc_normal_(mod.weight, std=.02)
            nn.init.constant_(mod.bias, 0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, kernel_size=4, stride=4), ChannelNorm(8, first=True))
            self.stage = nn.Sequential(Stage(8), Stage(8))
            self.down = nn.Sequential(ChannelNorm(8, first=True), nn.Conv2d(8, 16, kernel_size=2, stride=2))
            self.norm = nn.LayerNorm(16, eps=1e-6)
            self.head = nn.Linear(16, 5)
            self.apply(tn_init)
            for w in (self.head.weight, self.head.bias):
                w.data.mul_(0.5)
        def forward(self, x):
            pooled = self.down(self.stage(self.stem(x))).mean([-2, -1])
            return self.head(self.norm(pooled))
    m = Net().double()
    res = {"gamma": _np(m.stage[0].gamma), "hb": _np(m.head.bias)}
    _fill(m, torch, 4)
    x = torch.tensor(_rng(1).standard_normal((2, 3, 16, 16)))
    y = torch.tensor(np.array([1, 4]))
    groups = {True: [], False: []}                # decayed or not: matrices and kernels only
    for name, w in m.named_parameters():
        groups[w.ndim > 1 and not name.endswith(".bias")].append(w)
    opt = torch.optim.AdamW([{"params": groups[True], "weight_decay": 0.05}, {"params": groups[False], "weight_decay": 0.0}], lr=4e-3, betas=(0.9, 0.999))
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

    class TinyViT(nn.Module):
        def __init__(self, d=8, img=8, patch=4):
            super().__init__()
            self.patches = nn.Conv2d(3, d, kernel_size=patch, stride=patch)
            self.first = nn.Parameter(torch.zeros(1, 1, d))
            self.where = nn.Parameter(torch.zeros(1, (img // patch) ** 2 + 1, d))
            layer = nn.TransformerEncoderLayer(d_model=d, nhead=2, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 3)
        def forward(self, img):
            tokens = self.patches(img).flatten(2).transpose(1, 2)
            tokens = torch.cat((self.first.expand(img.shape[0], -1, -1), tokens), dim=1)
            return self.head(self.norm(self.encoder(tokens + self.where))[:, 0])
    m = TinyViT().double()
    _fill(m, torch, 8)
    x = torch.tensor(_rng(1).standard_normal((2, 3, 8, 8)))
    res = {}
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    for i in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), torch.tensor(np.array([0, 2])))
        loss.backward()
        opt.step()
        res[f"loss{i}"] = _np(loss)
    res["cls_g"] = _np(m.first.grad)
    res["keys"] = np.array(list(m.state_dict().keys()))
    attn = nn.MultiheadAttention(8, 2, batch_first=True).double()
    _fill(attn, torch, 9)
    q = torch.tensor(_rng(2).standard_normal((2, 5, 8)))
    o, w = attn(q, q, q, need_weights=True, average_attn_weights=False)
    res["attn_o"] = _np(o); res["attn_w"] = _np(w)
    return res

def prog_swin_bits(torch):
    nn = torch.nn; F = nn.functional

    def to_windows(x, s):                         # (B, H, W, C) -> (B * windows, s, s, C)
        b, h, w, c = x.shape
        tiles = x.view(b, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5)
        return tiles.contiguous().view(-1, s, s, c)

    def from_windows(tiles, s, h, w):             # the inverse of to_windows
        b = tiles.shape[0] // ((h // s) * (w // s))
        grid = tiles.view(b, h // s, w // s, s, s, -1).permute(0, 1, 3, 2, 4, 5)
        return grid.contiguous().view(b, h, w, -1)

    class LocalAttention(nn.Module):
        """attention inside s x s windows with a learned bias per head for every relative
        offset (dy, dx), looked up through an integer index buffer"""
        def __init__(self, dim, s, heads):
            super().__init__()
            self.s, self.heads = s, heads
            self.scale = (dim // heads) ** -0.5
            span = 2 * s - 1
            self.offset_bias = nn.Parameter(torch.zeros(span * span, heads))
            ys, xs = torch.meshgrid([torch.arange(s), torch.arange(s)], indexing="ij")
            cells = torch.flatten(torch.stack((ys, xs)), 1)              # (2, s*s)
            delta = (cells[:, :, None] - cells[:, None, :]).permute(1, 2, 0).contiguous()
            delta[:, :, 0] += s - 1                                        # offsets from 0
            delta[:, :, 1] += s - 1
            delta[:, :, 0] *= span                                         # row-major code
            self.register_buffer("offset_index", delta.sum(-1), persistent=False)
            self.qkv = nn.Linear(dim, dim * 3, bias=True)
            self.proj = nn.Linear(dim, dim)
            self.softmax = nn.Softmax(dim=-1)
        def forward(self, x, mask=None):
            nb, n, c = x.shape
            q, k, v = self.qkv(x).reshape(nb, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
            scores = (q * self.scale) @ k.transpose(-2, -1)
            bias = self.offset_bias[self.offset_index.view(-1)].view(n, n, -1)
            scores = scores + bias.permute(2, 0, 1).contiguous().unsqueeze(0)
            if mask is not None:                 # one mask per window position
                windows = mask.shape[0]
                scores = scores.view(nb // windows, windows, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
                scores = scores.view(-1, self.heads, n, n)
            mixed = (self.softmax(scores) @ v).transpose(1, 2).reshape(nb, n, c)
            return self.proj(mixed)
    s, shift, H, W, C = 2, 1, 4, 4, 4
    m = LocalAttention(C, s, 2).double()
    res = {"rpi": _np(m.offset_index), "keys": np.array(list(m.state_dict().keys())), "bufs": np.array([n for n, _ in m.named_buffers()])}
    _fill(m, torch, 2)
    # after a cyclic shift, windows at the border mix regions that were not adjacent: label
    # the regions and forbid attention between different labels
    regions = torch.zeros((1, H, W, 1))
    bands = (slice(0, -s), slice(-s, -shift), slice(-shift, None))
    for label, (rows, cols) in enumerate((r, c) for r in bands for c in bands):
        regions[:, rows, cols, :] = label
    labels = to_windows(regions, s).view(-1, s * s)
    differ = labels.unsqueeze(1) - labels.unsqueeze(2)
    attn_mask = differ.masked_fill(differ != 0, float(-100.0)).masked_fill(differ == 0, float(0.0))
    x = torch.tensor(_rng(1).standard_normal((2, H, W, C)), requires_grad=True)
    rolled = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    mixed = m(to_windows(rolled, s).view(-1, s * s, C), mask=attn_mask.double())
    out = torch.roll(from_windows(mixed.view(-1, s, s, C), s, H, W), shifts=(shift, shift), dims=(1, 2))
    out.sum().backward()
    res["mask"] = _np(attn_mask); res["out"] = _np(out); res["gx"] = _np(x.grad)
    res["gtab"] = _np(m.offset_bias.grad)
    return res

def prog_shufflenet(torch):
    nn = torch.nn; F = nn.functional

    def interleave(x, groups):                    # channel shuffle: (g, c/g) -> (c/g, g)
        b, c, h, w = x.size()
        return torch.transpose(x.view(b, groups, c // groups, h, w), 1, 2).contiguous().view(b, -1, h, w)

    def pw(cin, cout, relu=True):                 # 1x1 conv and BN (and ReLU)
        mods = [nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
        return mods + [nn.ReLU(inplace=True)] if relu else mods

    def dw(c, stride):                            # depthwise 3x3 and BN
        return [nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False), nn.BatchNorm2d(c)]

    class SplitShuffle(nn.Module):
        """stride 1: half the channels pass untouched, the other half go through the branch;
        stride 2: both halves come from two branches over the whole input"""
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.stride, half = stride, cout // 2
            self.branch1 = nn.Sequential(*dw(cin, stride), *pw(cin, half)) if stride > 1 else nn.Sequential()
            self.branch2 = nn.Sequential(*pw(cin if stride > 1 else half, half), *dw(half, stride), *pw(half, half))
        def forward(self, x):
            if self.stride == 1:
                keep, work = x.chunk(2, dim=1)
                both = (keep, self.branch2(work))
            else:
                both = (self.branch1(x), self.branch2(x))
            return interleave(torch.cat(both, dim=1), 2)

    class SqueezeExpand(nn.Module):
        """a 1x1 squeeze, then 1x1 and 3x3 expansions side by side"""
        def __init__(self, cin, mid, out1, out3):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(cin, mid, kernel_size=1), nn.ReLU(inplace=True))
            self.one = nn.Sequential(nn.Conv2d(mid, out1, kernel_size=1), nn.ReLU(inplace=True))
            self.three = nn.Sequential(nn.Conv2d(mid, out3, kernel_size=3, padding=1), nn.ReLU(inplace=True))
        def forward(self, x):
            s = self.squeeze(x)
            return torch.cat([self.one(s), self.three(s)], 1)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
                      SplitShuffle(8, 16, 2), SplitShuffle(16, 16, 1), SqueezeExpand(16, 4, 8, 8), nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
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

    def padded_conv(c, how):                      # a 3x3 conv keeping the size, padded three ways
        pads = {"reflect": [nn.ReflectionPad2d(1)], "replicate": [nn.ReplicationPad2d(1)]}
        return pads.get(how, []) + [nn.Conv2d(c, c, kernel_size=3, padding=0 if how in pads else 1, bias=True)]

    class Residual(nn.Module):
        def __init__(self, c, how):
            super().__init__()
            self.conv_block = nn.Sequential(*padded_conv(c, how), nn.InstanceNorm2d(c), nn.ReLU(True),
                                            nn.Dropout(0.0), *padded_conv(c, "reflect"), nn.InstanceNorm2d(c))
        def forward(self, x):
            return x + self.conv_block(x)

    def translator(w=4):
        return nn.Sequential(
            nn.ReflectionPad2d(3), nn.Conv2d(3, w, kernel_size=7, padding=0),
            nn.InstanceNorm2d(w, affine=True, track_running_stats=False), nn.ReLU(True),
            nn.Conv2d(w, w * 2, kernel_size=3, stride=2, padding=1), nn.InstanceNorm2d(w * 2), nn.ReLU(True),
            *[Residual(w * 2, how) for how in ("reflect", "replicate", "zero")],
            nn.ConvTranspose2d(w * 2, w, kernel_size=3, stride=2, padding=1, output_padding=1), nn.InstanceNorm2d(w), nn.ReLU(True),
            nn.ReflectionPad2d(3), nn.Conv2d(w, 3, kernel_size=7, padding=0), nn.Tanh())

    def patch_critic(w=4):                        # one score per overlapping patch
        return nn.Sequential(nn.Conv2d(3, w, 4, 2, 1), nn.LeakyReLU(0.2, True),
                             nn.Conv2d(w, w * 2, 4, 2, 1, bias=False), nn.InstanceNorm2d(w * 2), nn.LeakyReLU(0.2, True),
                             nn.Conv2d(w * 2, 1, 4, 1, 1))
    G, D = translator().double(), patch_critic().double()

    def gauss_init(mod):
        kind = type(mod).__name__
        if hasattr(mod, "weight") and ("Conv" in kind or "Linear" in kind):
            nn.init.normal_(mod.weight.data, 0.0, 0.02)
            if getattr(mod, "bias", None) is not None:
                nn.init.constant_(mod.bias.data, 0.0)
        elif "BatchNorm2d" in kind:
            nn.init.normal_(mod.weight.data, 1.0, 0.02)
            nn.init.constant_(mod.bias.data, 0.0)
    G.apply(gauss_init); D.apply(gauss_init)
    _fill(G, torch, 1); _fill(D, torch, 2)
    a_img = torch.tensor(np.tanh(_rng(3).standard_normal((1, 3, 12, 12))))
    b_img = torch.tensor(np.tanh(_rng(4).standard_normal((1, 3, 12, 12))))
    optG = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optD = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    schedG = torch.optim.lr_scheduler.LambdaLR(optG, lr_lambda=lambda epoch: 1.0 - epoch / 3.0)
    mse = nn.MSELoss(); l1 = nn.L1Loss()
    res = {}

    def trainable(net, flag):                     # the critic frozen while G steps
        for w in net.parameters():
            w.requires_grad = flag
    for it in range(2):
        made = G(a_img)
        trainable(D, False)
        optG.zero_grad()
        verdict = D(made)
        loss_G = mse(verdict, torch.ones_like(verdict)) + 10.0 * l1(made, b_img)
        loss_G.backward()
        optG.step()
        trainable(D, True)
        optD.zero_grad()
        on_real, on_made = D(b_img), D(made.detach())
        loss_D = 0.5 * (mse(on_real, torch.tensor(1.0).expand_as(on_real).double())
                        + mse(on_made, torch.zeros_like(on_made)))
        loss_D.backward()
        optD.step()
        schedG.step()
        res[f"lg{it}"] = _np(loss_G); res[f"ld{it}"] = _np(loss_D)
    res["fake"] = _np(made); res["lr"] = np.array(schedG.get_last_lr())
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
        t = torch.tensor(_rng(4 + it).random((3, 1, 1, 1)))
        mid = (t * real + (1 - t) * fake).requires_grad_(True)   # between real and fake
        score = D(mid)
        slope = torch.autograd.grad(outputs=score, inputs=mid, grad_outputs=torch.ones_like(score),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
        gp = (slope.view(slope.size(0), -1).norm(2, dim=1) - 1).square().mean()
        opt.zero_grad()
        loss = D(fake).mean() - D(real).mean() + 10 * gp
        loss.backward()
        res[f"g{it}"] = _np(D[0].weight.grad)
        res[f"gn{it}"] = _np(D[6].weight.grad)
        opt.step()
        res[f"loss{it}"] = _np(loss); res[f"gp{it}"] = _np(gp)
    # R1: the squared input gradient on real data
    x = real.clone().requires_grad_()
    g, = torch.autograd.grad(D(x).sum(), x, create_graph=True)
    r1 = g.pow(2).reshape(g.shape[0], -1).sum(1).mean()
    r1.backward()
    res["r1"] = _np(r1); res["r1g"] = _np(D[3].weight.grad)
    return res

def prog_stylegan_bits(torch):
    nn = torch.nn; F = nn.functional

    class ScaledLinear(nn.Module):
        """weights stored at unit scale and multiplied by 1/sqrt(fan_in) (and a learning-rate
        factor) at every call"""
        def __init__(self, fan_in, fan_out, lr_mul=1.0, bias_init=0.0):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(fan_out, fan_in).div_(lr_mul))
            self.bias = nn.Parameter(torch.zeros(fan_out).fill_(bias_init))
            self.gain, self.lr_mul = lr_mul / math.sqrt(fan_in), lr_mul
        def forward(self, x):
            return F.linear(x, self.weight * self.gain, bias=self.bias * self.lr_mul)

    class StyledConv(nn.Module):
        """per-sample kernels: the shared kernel scaled per input channel by the style,
        renormalised per output channel, run as one grouped convolution over the batch"""
        def __init__(self, cin, cout, k, style_dim, renorm=True):
            super().__init__()
            self.cin, self.cout, self.k, self.renorm = cin, cout, k, renorm
            self.gain = 1 / math.sqrt(cin * k * k)
            self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
            self.to_style = ScaledLinear(style_dim, cin, bias_init=1)
        def forward(self, x, style):
            b, _, h, w = x.shape
            kern = self.gain * self.weight * self.to_style(style).view(b, 1, self.cin, 1, 1)
            if self.renorm:
                kern = kern * torch.rsqrt(kern.pow(2).sum([2, 3, 4]) + 1e-8).view(b, self.cout, 1, 1, 1)
            y = F.conv2d(x.view(1, b * self.cin, h, w), kern.view(b * self.cout, self.cin, self.k, self.k),
                         padding=self.k // 2, groups=b)
            return y.view(b, self.cout, *y.shape[2:])

    class UnitRows(nn.Module):                    # each latent scaled to unit mean square
        def forward(self, z):
            return z * torch.rsqrt(torch.mean(z ** 2, dim=1, keepdim=True) + 1e-8)
    mapping = nn.Sequential(UnitRows(), ScaledLinear(4, 4, lr_mul=0.01), nn.LeakyReLU(0.2), ScaledLinear(4, 4, lr_mul=0.01)).double()
    conv = StyledConv(3, 4, 3, 4).double()
    _fill(mapping, torch, 1); _fill(conv, torch, 2)
    z = torch.tensor(_rng(3).standard_normal((2, 4)))
    x = torch.tensor(_rng(4).standard_normal((2, 3, 5, 5)), requires_grad=True)
    s = mapping(z)
    out = conv(x, s)
    # one extra channel: the feature std across a group of samples, averaged, broadcast back
    group = 2
    b, c, h, w = out.shape
    spread = torch.sqrt(out.view(group, -1, 1, c, h, w).var(0, unbiased=False) + 1e-8)
    spread = spread.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(group, 1, h, w)
    noise = torch.tensor(_rng(5).standard_normal((2, 1, 5, 5)))
    out3 = F.leaky_relu(torch.cat([out, spread], 1) + 0.1 * noise, 0.2) * math.sqrt(2)
    # a path-length style penalty: the norm of the style gradient of a noise projection
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

    def conv_norm(cin, cout, k, stride, pad, groups=1):
        seq = nn.Sequential()
        seq.add_module("conv", nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=pad, groups=groups, bias=False))
        seq.add_module("bn", nn.BatchNorm2d(num_features=cout))
        return seq

    def folded(kernel, bn):                       # conv kernel and BN (eval) -> kernel, bias
        inv = bn.weight / (bn.running_var + bn.eps).sqrt()
        return kernel * inv.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * inv

    class ThreeBranch(nn.Module):
        """3x3 conv-BN + 1x1 conv-BN (+ BN alone when the shape is kept) while training;
        merge() folds all of it into one 3x3 conv with a bias for inference"""
        def __init__(self, cin, cout, stride=1, groups=1):
            super().__init__()
            self.cin, self.groups = cin, groups
            self.act = nn.ReLU()
            self.wide = conv_norm(cin, cout, 3, stride, 1, groups)
            self.point = conv_norm(cin, cout, 1, stride, 0, groups)
            self.same = nn.BatchNorm2d(num_features=cin) if cout == cin and stride == 1 else None
        def forward(self, x):
            if hasattr(self, "merged"):
                return self.act(self.merged(x))
            total = self.wide(x) + self.point(x)
            return self.act(total if self.same is None else total + self.same(x))
        def identity_kernel(self):
            per_group = self.cin // self.groups
            eye = np.zeros((self.cin, per_group, 3, 3), dtype=np.float64)
            eye[np.arange(self.cin), np.arange(self.cin) % per_group, 1, 1] = 1
            return torch.from_numpy(eye).to(self.same.weight.device)
        def merge(self):
            k3, b3 = folded(self.wide.conv.weight, self.wide.bn)
            k1, b1 = folded(self.point.conv.weight, self.point.bn)
            kernel, bias = k3 + F.pad(k1, [1, 1, 1, 1]), b3 + b1
            if self.same is not None:
                ki, bi = folded(self.identity_kernel(), self.same)
                kernel, bias = kernel + ki, bias + bi
            c = self.wide.conv
            self.merged = nn.Conv2d(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation, c.groups, bias=True).double()
            self.merged.weight.data = kernel
            self.merged.bias.data = bias
            for w in self.parameters():
                w.detach_()
            for name in ("wide", "point", "same"):
                if hasattr(self, name):
                    self.__delattr__(name)
    m = nn.Sequential(ThreeBranch(4, 4, 1, groups=2), ThreeBranch(4, 6, 2)).double()
    _fill(m, torch, 1)
    m.eval()
    x = torch.tensor(_rng(2).standard_normal((2, 4, 7, 7)))
    res = {"before": _np(m(x))}
    for mod in m.modules():
        if isinstance(mod, ThreeBranch):
            mod.merge()
    res["after"] = _np(m(x))
    res["keys"] = np.array(list(m.state_dict().keys()))
    res["rg"] = np.array([p.requires_grad for p in m.parameters()])
    # the library's own conv + BN folding
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
    m.fc = nn.Linear(m.fc.in_features, 2).double()          # a new two-class head
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

    def corners(b):                               # (cx, cy, w, h) -> (x0, y0, x1, y1)
        cx, cy, w, h = b.unbind(-1)
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)

    def areas(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def overlaps(a, b):                           # pairwise IoU and union, (len(a), len(b))
        lo = torch.max(a[:, None, :2], b[:, :2])
        hi = torch.min(a[:, None, 2:], b[:, 2:])
        side = (hi - lo).clamp(min=0)
        shared = side[..., 0] * side[..., 1]
        union = areas(a)[:, None] + areas(b) - shared
        return shared / union, union

    def generalised(a, b):                        # IoU minus the hull's share outside the union
        iou, union = overlaps(a, b)
        side = (torch.max(a[:, None, 2:], b[:, 2:]) - torch.min(a[:, None, :2], b[:, :2])).clamp(min=0)
        hull = side[..., 0] * side[..., 1]
        return iou - (hull - union) / hull

    def suppress(boxes, scores, limit):           # greedy non-maximum suppression
        order, kept = torch.argsort(scores, descending=True), []
        while order.numel() > 0:
            best = order[0]
            kept.append(best.item())
            rest = order[1:]
            if rest.numel() == 0:
                break
            order = rest[overlaps(boxes[best].unsqueeze(0), boxes[rest])[0][0] <= limit]
        return torch.tensor(kept, dtype=torch.long)
    r = _rng(1)
    pred = torch.tensor(np.concatenate([r.random((6, 2)) * 0.6 + 0.2, r.random((6, 2)) * 0.3 + 0.05], 1), requires_grad=True)
    tgt = torch.tensor(np.concatenate([r.random((3, 2)) * 0.6 + 0.2, r.random((3, 2)) * 0.3 + 0.05], 1))
    pb, tb = corners(pred), corners(tgt)
    # a matching cost (L1 between boxes, minus generalised IoU); each target takes its
    # cheapest prediction, the rest are "no object" (class 3, weighted down)
    cost = torch.cdist(pred, tgt, p=1) - generalised(pb, tb)
    res["cost"] = _np(cost)
    matched = torch.as_tensor(cost.detach().cpu().numpy().argmin(axis=0).tolist(), dtype=torch.int64)
    logits = torch.tensor(r.standard_normal((1, 6, 4)), requires_grad=True)
    classes = torch.full(logits.shape[:2], 3, dtype=torch.int64)
    classes[0, matched] = torch.tensor([0, 2, 1])
    class_weight = torch.ones(4, dtype=torch.float64)
    class_weight[-1] = 0.1
    loss_ce = F.cross_entropy(logits.transpose(1, 2), classes, class_weight)
    loss_l1 = F.l1_loss(pred[matched], tgt, reduction="none").sum() / 3
    loss_g = (1 - torch.diag(generalised(corners(pred[matched]), tb))).sum() / 3
    loss = loss_ce + 5 * loss_l1 + 2 * loss_g
    loss.backward()
    res["loss"] = _np(loss); res["gp"] = _np(pred.grad); res["gl"] = _np(logits.grad)
    res["keep"] = _np(suppress(pb.detach(), torch.tensor(r.random(6)), 0.1))
    # anchors: every base box at every grid offset
    xs = torch.arange(0, 4, dtype=torch.float32) * 8
    ys = torch.arange(0, 3, dtype=torch.float32) * 8
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    offsets = torch.stack((gx.reshape(-1), gy.reshape(-1)) * 2, dim=1)
    base = torch.tensor([[-4., -4., 4., 4.], [-8., -2., 8., 2.]])
    res["anchors"] = _np((offsets.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
    # a focal loss on one-hot targets: BCE scaled by (1 - p_true)^2, positives weighted 1/4
    cls_logits = torch.tensor(r.standard_normal((24, 3)), requires_grad=True)
    labels = torch.tensor(r.integers(0, 3, 24))
    onehot = F.one_hot(labels, num_classes=3).double()
    prob = torch.sigmoid(cls_logits)
    p_true = torch.where(onehot == 1, prob, 1 - prob)
    weight = torch.where(onehot == 1, 0.25, 0.75)
    bce = F.binary_cross_entropy_with_logits(cls_logits, onehot, reduction="none")
    fl = (weight * (1 - p_true) ** 2 * bce).sum() / max(1, (labels > 0).sum().item())
    fl.backward()
    res["fl"] = _np(fl); res["gfl"] = _np(cls_logits.grad)
    # decoding a grid head with 3 anchors and 7 numbers each (box, objectness, 2 classes)
    raw = torch.tensor(r.standard_normal((2, 3 * 7, 4, 4)))
    b, _, h, w = raw.shape
    raw = raw.view(b, 3, 7, h, w).permute(0, 1, 3, 4, 2).contiguous()
    rows, cols = torch.meshgrid([torch.arange(h), torch.arange(w)], indexing="ij")
    cell = torch.stack((cols, rows), 2).view(1, 1, h, w, 2).double()
    prior = torch.tensor([[10., 13.], [16., 30.], [33., 23.]]).view(1, 3, 1, 1, 2).double()
    s = raw.sigmoid()
    centre = 8 * (cell + 2 * s[..., 0:2] - 0.5)
    size = prior * (2 * s[..., 2:4]) ** 2
    dec = torch.cat((centre, size, s[..., 4:]), -1).view(b, -1, 7)
    best, j = (dec[..., 4:5] * dec[..., 5:]).max(2, keepdim=True)
    confident = best.squeeze(-1) > 0.3
    res["dec"] = _np(dec); res["sel"] = _np(dec[confident]); res["j"] = _np(j)
    res["nz"] = _np(confident.nonzero())
    res["nzt"] = _np(torch.nonzero(confident, as_tuple=True)[1])
    return res

def prog_segmentation(torch):
    nn = torch.nn; F = nn.functional
    r = _rng(2)
    res = {}
    logits = torch.tensor(r.standard_normal((2, 4, 5, 6)), requires_grad=True)
    target = torch.tensor(r.integers(0, 4, (2, 5, 6)))
    target[0, 0, :3] = 255                         # "ignore" pixels
    ce = F.cross_entropy(logits, target, ignore_index=255)
    w = torch.tensor([1.0, 2.0, 0.5, 1.5], dtype=torch.float64)
    cew = nn.CrossEntropyLoss(weight=w, ignore_index=255, reduction="mean")(logits, target)
    # the hardest pixels only
    per_pixel = F.cross_entropy(logits, target, ignore_index=255, reduction="none").view(-1)
    hard, _ = torch.topk(per_pixel, 20, sorted=True)
    # soft dice per class over batch and space, ignored pixels masked out
    valid = target != 255
    labels = target.clone(); labels[~valid] = 0
    gate = valid.unsqueeze(1)
    onehot = F.one_hot(labels, 4).permute(0, 3, 1, 2).double() * gate
    probs = F.softmax(logits, dim=1) * gate
    both = torch.sum(probs * onehot, (0, 2, 3))
    either = torch.sum(probs + onehot, (0, 2, 3))
    dice_loss = (1 - (2. * both + 1e-6) / (either + 1e-6)).mean()
    # a hinge surrogate of the Jaccard loss for class 1: margin errors sorted descending,
    # weighted by the increments of 1 - IoU along that order
    is_one = (labels.view(-1) == 1).double()
    margins = 1. - logits[:, 1].reshape(-1) * (2. * is_one - 1.)
    ranked, order = torch.sort(margins, dim=0, descending=True)
    truth = is_one[order.data]
    total_pos = truth.sum()
    missed = total_pos - truth.float().cumsum(0)
    covered = total_pos + (1 - truth).float().cumsum(0)
    loss_curve = 1. - missed / covered
    loss_curve[1:] = loss_curve[1:] - loss_curve[0:-1]     # increments; in place on a slice
    lov = torch.dot(F.relu(ranked), loss_curve.double())
    total = ce + cew + hard.mean() + dice_loss + lov
    total.backward()
    res["ce"] = _np(ce); res["cew"] = _np(cew); res["hard"] = _np(hard); res["dice"] = _np(dice_loss); res["lov"] = _np(lov)
    res["g"] = _np(logits.grad)
    # confusion matrix (rows: truth, columns: prediction) and per-class IoU
    pred = logits.argmax(1)
    inside = (target >= 0) & (target < 4)
    confusion = torch.bincount(target[inside] * 4 + pred[inside], minlength=16).reshape(4, 4)
    hits = torch.diag(confusion)
    iou = hits / (confusion.sum(0) + confusion.sum(1) - hits)
    res["hist"] = _np(confusion); res["iou"] = _np(iou); res["miou"] = _np(torch.nanmean(iou.double()))
    res["acc"] = _np(hits.sum() / confusion.sum())
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
    # tile the batch into a picture: 2 per row, 1-pixel gaps filled with 0.25
    per_row, gap = 2, 1
    n = batch.size(0)
    cols = min(per_row, n)
    rows = int(math.ceil(n / cols))
    cell_h, cell_w = batch.size(2) + gap, batch.size(3) + gap
    grid = batch.new_full((3, rows * cell_h + gap, cols * cell_w + gap), 0.25)
    for k in range(n):
        top, left = (k // cols) * cell_h + gap, (k % cols) * cell_w + gap
        grid.narrow(1, top, cell_h - gap).narrow(2, left, cell_w - gap).copy_(batch[k])
    res["grid"] = _np(grid)
    # mixup / cutmix with fixed permutation
    lam = 0.7
    index = torch.tensor([2, 0, 1, 4, 3])
    mixed = lam * batch + (1 - lam) * batch[index, :]
    cut = batch.clone()
    cut[:, :, 1:4, 2:6] = batch[index, :, 1:4, 2:6]
    res["mixed"] = _np(mixed); res["cut"] = _np(cut)
    # undo the normalisation in place, one channel view at a time
    t = xn.clone()
    for k, plane in enumerate(t):
        plane.mul_(std[k].item()).add_(mean[k].item())
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
    class FixedNorm(nn.Module):
        """BatchNorm statistics and affine parameters as buffers only (no training); loads a
        BatchNorm2d's state dict, dropping the counter it has no use for"""
        def __init__(self, n, eps=1e-5):
            super().__init__()
            for name, fill in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
                self.register_buffer(name, torch.full((n,), fill))
            self.eps = eps
        def _load_from_state_dict(self, state_dict, prefix, *args):
            state_dict.pop(prefix + "num_batches_tracked", None)
            super()._load_from_state_dict(state_dict, prefix, *args)
        def forward(self, x):
            def col(t):
                return t.reshape(1, -1, 1, 1)
            gain = col(self.weight) * (col(self.running_var) + self.eps).rsqrt()
            return (x - col(self.running_mean)) * gain + col(self.bias)
        def extra_repr(self):
            return f"{len(self.weight)}, eps={self.eps}"
    src = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)).double()
    _fill(src, torch, 1)
    dst = nn.Sequential(nn.Conv2d(2, 3, 3), FixedNorm(3)).double()
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
        """each output filter standardised (zero mean, unit biased variance) before use"""
        def forward(self, x):
            var, mean = torch.var_mean(self.weight, dim=[1, 2, 3], keepdim=True, unbiased=False)
            return self._conv_forward(x, (self.weight - mean) / torch.sqrt(var + 1e-10), self.bias)

    def tf_same(size, k, s, d):                  # total padding so that out = ceil(size / s)
        span = (k - 1) * d + 1
        return max(0, (math.ceil(size / s) - 1) * s + span - size)

    class Conv2dSame(nn.Conv2d):
        """TensorFlow's 'SAME': padding worked out from each input's size, the odd pixel
        at the end"""
        def forward(self, x):
            ph, pw = (tf_same(x.size()[-2 + i], self.kernel_size[i], self.stride[i], self.dilation[i])
                      for i in range(2))
            if ph or pw:
                x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
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
