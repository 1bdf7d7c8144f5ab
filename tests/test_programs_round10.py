"""Whole programs in the idioms of code people run, a tenth round: model files as popular
repositories write them.  nanoGPT (a causal mask kept as a buffer, weight tying, the fused
attention's fallback, decoupled weight-decay groups, a warmup-cosine rate and top-k sampling),
MobileNetV2/EfficientNet/ResNet/ConvNeXt blocks (depthwise and pointwise convolutions,
squeeze-excitation, hard-swish, stochastic depth, layer scale), U-Nets with attention gates,
message passing on graphs by index_add_ and scatter_reduce, RealNVP coupling layers, a DDPM
sampler.  Parts b, c and d hold the rest of the round (recurrent layers, training machinery,
data pipelines with worker processes, reinforcement learning).

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights (copied in, or drawn after ``L.manual_seed``, which gives PyTorch's numbers
in minigrad); both must give the same values (float64 to ~1e-9, float32 to ~1e-5), dtypes,
shapes and requires_grad, or raise the same exception type with torch's words.
"""
import math

import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    grads_of, labels as _labels, load_seeded, normal64 as _arr, registry, program_harness,
    leaf as _t)


HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# a small decoder-only language model (the facts of nanoGPT's setup, our own layout)
# ----------------------------------------------------------------------------------------------
def _gpt(L, vocab=11, block=6, d=8, h=2, layers=2, flash=False):
    """A pre-norm decoder: fused qkv projection split three ways, a lower-triangular buffer
    that masks the scores, a tanh-GELU feed-forward, the token table shared with the head."""
    nn, F = L.nn, L.nn.functional
    hd = d // h

    def to_heads(t, n, length):
        # (n, length, d) -> (n, h, length, hd)
        return t.view(n, length, h, hd).transpose(1, 2)

    class SelfAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.drop_w = nn.Dropout(0.0)
            self.drop_y = nn.Dropout(0.0)
            self.register_buffer("keep", L.ones(block, block).tril())

        def scores_path(self, q, k, v, length):
            s = q @ k.transpose(-2, -1) / math.sqrt(hd)
            s = s.masked_fill(self.keep[:length, :length] == 0, float("-inf"))
            return self.drop_w(F.softmax(s, dim=-1)) @ v

        def forward(self, x):
            n, length, width = x.size()
            q, k, v = (to_heads(t, n, length) for t in self.qkv(x).split(d, dim=2))
            if flash:
                mixed = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                                       is_causal=True)
            else:
                mixed = self.scores_path(q, k, v, length)
            merged = mixed.transpose(1, 2).contiguous().view(n, length, width)
            return self.drop_y(self.proj(merged))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.n1, self.sa = nn.LayerNorm(d), SelfAttn()
            self.n2 = nn.LayerNorm(d)
            self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"),
                                    nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.sa(self.n1(x))
            return x + self.ff(self.n2(x))

    def fill_uniform(mod):
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            L.nn.init.uniform_(mod.weight, -0.1, 0.1)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            L.nn.init.zeros_(mod.bias)

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = nn.ModuleDict({
                "tok": nn.Embedding(vocab, d), "pos": nn.Embedding(block, d),
                "drop": nn.Dropout(0.0),
                "layers": nn.ModuleList(Layer() for _ in range(layers)),
                "norm": nn.LayerNorm(d)})
            self.head = nn.Linear(d, vocab, bias=False)
            self.parts.tok.weight = self.head.weight        # one table, read twice
            self.apply(fill_uniform)
            # the projections that write into the residual stream start smaller
            small = 0.02 / math.sqrt(2 * layers)
            for name, p in self.named_parameters():
                if name.endswith(("sa.proj.weight", "ff.2.weight")):
                    L.nn.init.uniform_(p, -small, small)

        def hidden(self, idx):
            where = L.arange(0, idx.size(1), dtype=L.long, device=idx.device)
            x = self.parts.drop(self.parts.tok(idx) + self.parts.pos(where))
            for layer in self.parts.layers:
                x = layer(x)
            return self.parts.norm(x)

        def forward(self, idx, targets=None):
            x = self.hidden(idx)
            if targets is None:                 # only the last position is needed
                return self.head(x[:, [-1], :]), None
            logits = self.head(x)
            flat = logits.view(-1, logits.size(-1))
            return logits, F.cross_entropy(flat, targets.view(-1), ignore_index=-1)

        @L.no_grad()
        def generate(self, idx, steps, temperature=1.0, top_k=None):
            for _ in range(steps):
                window = idx[:, -block:] if idx.size(1) > block else idx
                logits = self(window)[0][:, -1, :] / temperature
                if top_k is not None:
                    kth = L.topk(logits, min(top_k, logits.size(-1)))[0][:, [-1]]
                    logits[logits < kth] = -float("Inf")
                pick = L.multinomial(F.softmax(logits, dim=-1), num_samples=1)
                idx = L.cat((idx, pick), dim=1)
            return idx

    return TinyLM()


@program
def nanogpt_tied_weights_causal_buffer_and_loss(L):
    """A nanoGPT-sized decoder: the causal mask a registered buffer sliced to T and compared
    with 0 in masked_fill, the token embedding tied to the output head (one Parameter seen
    once by parameters()), the residual projections re-initialised by name, the loss with
    ignore_index=-1 on padded targets; the tied weight's gradient sums both uses."""
    L.manual_seed(0)
    m = _gpt(L).double()
    idx = L.tensor(_labels(10, 11, 1).reshape(2, 5))
    tgt = L.tensor(_labels(10, 11, 2).reshape(2, 5))
    tgt[1, 3:] = -1
    logits, loss = m(idx, tgt)
    loss.backward()
    n_params = sum(p.numel() for p in m.parameters())
    return dict(logits=logits, loss=loss, n=n_params,
                same=m.head.weight is m.parts.tok.weight,
                gw=m.head.weight.grad, g=grads_of(m), buffers=[k for k, _ in m.named_buffers()],
                keys=list(m.state_dict().keys())[:6])


@program
def nanogpt_flash_path_matches_the_masked_softmax_path(L):
    """The same weights run through F.scaled_dot_product_attention(is_causal=True) and the
    hand-written masked softmax; outputs and gradients agree, then the flash model alone."""
    L.manual_seed(3)
    slow = _gpt(L).double()
    L.manual_seed(3)
    fast = _gpt(L, flash=True).double()
    idx = L.tensor(_labels(12, 11, 4).reshape(2, 6))
    tgt = L.tensor(_labels(12, 11, 5).reshape(2, 6))
    out = {}
    for name, m in (("slow", slow), ("fast", fast)):
        logits, loss = m(idx, tgt)
        loss.backward()
        out[name] = dict(logits=logits, loss=loss, g=m.parts.layers[0].sa.qkv.weight.grad)
    out["diff"] = float((out["slow"]["logits"] - out["fast"]["logits"]).abs().max()) < 1e-12
    return out


@program
def nanogpt_configure_optimizers_warmup_cosine_and_clipping(L):
    """A nanoGPT-style train loop: parameters of dim >= 2 decayed, the rest not (two AdamW groups,
    betas (0.9, 0.95)), the rate set by hand each iteration from a linear-warmup cosine
    schedule, gradient accumulation over micro-steps, clip_grad_norm_ returning the norm,
    zero_grad(set_to_none=True)."""
    L.manual_seed(7)
    m = _gpt(L, layers=1).double()
    param_dict = {pn: p for pn, p in m.named_parameters() if p.requires_grad}
    decay = [p for n, p in param_dict.items() if p.dim() >= 2]
    nodecay = [p for n, p in param_dict.items() if p.dim() < 2]
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": nodecay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95))
    warmup, lr_decay_iters, max_lr, min_lr = 2, 6, 3e-3, 3e-4

    def get_lr(it):
        if it < warmup:
            return max_lr * (it + 1) / (warmup + 1)
        if it > lr_decay_iters:
            return min_lr
        ratio = (it - warmup) / (lr_decay_iters - warmup)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)

    data = _labels(64, 11, 8)
    losses, norms, lrs = [], [], []
    for it in range(5):
        lr = get_lr(it)
        for g in opt.param_groups:
            g["lr"] = lr
        for micro in range(2):
            s = (it * 2 + micro) * 3 % 50
            x = L.tensor(data[s:s + 10].reshape(2, 5))
            y = L.tensor(data[s + 1:s + 11].reshape(2, 5))
            _, loss = m(x, y)
            (loss / 2).backward()
        norms.append(float(L.nn.utils.clip_grad_norm_(m.parameters(), 0.5)))
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        lrs.append(lr)
    return dict(losses=losses, norms=norms, lrs=lrs, w=m.head.weight,
                ln=m.parts.norm.weight, grad_none=m.head.weight.grad is None,
                groups=[len(g["params"]) for g in opt.param_groups])


@program
def nanogpt_generate_top_k_multinomial(L):
    """Sampling under no_grad as nanoGPT does it: the last position's logits over a temperature, the
    ones below the k-th largest set to -inf by a boolean-mask write, softmax, multinomial
    under a seed, the sequence cropped to the block size once it grows past it."""
    L.manual_seed(11)
    m = _gpt(L, block=4).double().eval()
    idx = L.tensor([[1, 2], [3, 4]])
    L.manual_seed(12)
    out = m.generate(idx, 5, temperature=0.8, top_k=3)
    L.manual_seed(12)
    greedy = m.generate(idx, 3, temperature=1e-3, top_k=1)
    return dict(out=out, greedy=greedy, rg=out.requires_grad)


# ----------------------------------------------------------------------------------------------
# convolutional model files
# ----------------------------------------------------------------------------------------------
def _make_divisible(v, divisor=4, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@program
def mobilenet_v2_inverted_residual_blocks(L):
    """MobileNetV2's pieces: conv-BN-ReLU6 as an nn.Sequential subclass, the inverted
    residual (1x1 expand, 3x3 depthwise with groups=hidden, 1x1 linear project), the shortcut
    only where stride 1 and channels equal, _make_divisible widths, the classifier after
    adaptive_avg_pool2d and flatten; train-mode BatchNorm statistics."""
    nn = L.nn

    class CBR6(nn.Sequential):
        def __init__(self, cin, cout, k=3, stride=1, groups=1):
            conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
            super().__init__(conv, nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, ratio):
            super().__init__()
            wide = int(round(cin * ratio))
            self.use_res = stride == 1 and cin == cout
            layers = [CBR6(cin, wide, k=1)] if ratio != 1 else []
            layers.append(CBR6(wide, wide, stride=stride, groups=wide))       # depthwise
            layers += [nn.Conv2d(wide, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            y = self.conv(x)
            return x + y if self.use_res else y

    L.manual_seed(0)
    c0 = _make_divisible(6 * 1.0)
    net = nn.Sequential(CBR6(3, c0, stride=2), Inverted(c0, c0, 1, 1),
                        Inverted(c0, 12, 2, 2), Inverted(12, 12, 1, 3)).double()
    head = nn.Sequential(nn.Dropout(0.0), nn.Linear(12, 5)).double()
    x = _t(L, 2, 3, 12, 12, seed=1, grad=True)
    feat = net(x)
    logits = head(L.flatten(nn.functional.adaptive_avg_pool2d(feat, (1, 1)), 1))
    loss = nn.functional.cross_entropy(logits, L.tensor([1, 4]))
    loss.backward()
    return dict(feat_shape=tuple(feat.shape), logits=logits, gx=x.grad,
                gdw=net[2].conv[1][0].weight.grad, rm=net[3].conv[3].running_mean,
                res=[getattr(b, "use_res", None) for b in net], c0=c0)


@program
def efficientnet_mbconv_squeeze_excitation_and_stochastic_depth(L):
    """EfficientNet/MobileNetV3 blocks: squeeze-excitation by adaptive_avg_pool2d, two 1x1
    convolutions and a hard-sigmoid scale; hard-swish and SiLU activations; stochastic depth
    written as torchvision does it (a per-sample Bernoulli from an empty tensor's bernoulli_,
    divided by the survival rate) in train mode and the identity in eval."""
    nn, F = L.nn, L.nn.functional

    def stochastic_depth(x, p, training):
        # per sample: the whole branch kept with probability 1 - p and divided by it
        if training and p != 0.0:
            keep = 1.0 - p
            shape = [x.shape[0]] + [1] * (x.ndim - 1)
            return x * L.empty(shape, dtype=x.dtype).bernoulli_(keep).div_(keep)
        return x

    class SE(nn.Module):
        def __init__(self, c, sq):
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(c, sq, 1), nn.Conv2d(sq, c, 1)
            self.act, self.scale = nn.ReLU(), nn.Hardsigmoid()

        def forward(self, x):
            s = F.adaptive_avg_pool2d(x, 1)
            return x * self.scale(self.fc2(self.act(self.fc1(s))))

    class MBConv(nn.Module):
        def __init__(self, c, expand, act):
            super().__init__()
            h = c * expand
            self.block = nn.Sequential(nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), act(),
                                       nn.Conv2d(h, h, 5, padding=2, groups=h, bias=False),
                                       nn.BatchNorm2d(h), act(), SE(h, _make_divisible(h // 4)),
                                       nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

        def forward(self, x):
            return x + stochastic_depth(self.block(x), 0.5, self.training)

    L.manual_seed(2)
    m = nn.Sequential(MBConv(4, 2, nn.Hardswish), MBConv(4, 3, nn.SiLU)).double()
    x = _t(L, 3, 4, 6, 6, seed=3, grad=True)
    L.manual_seed(4)
    y = m(x)
    y.square().mean().backward()
    m.eval()
    with L.no_grad():
        ye = m(x)
    return dict(y=y, ye=ye, gx=x.grad, g=grads_of(m[1].block[6]),
                nbt=m[0].block[1].num_batches_tracked)


@program
def resnet_basic_and_bottleneck_with_downsample_and_zero_init(L):
    """ResNet's pieces: a Bottleneck with a 1x1 strided downsample
    Sequential, kaiming_normal_ (fan_out, relu) over every conv by modules() and the last
    BatchNorm of each residual branch zero-initialised, max-pool stem, frozen BatchNorm
    affine (requires_grad_(False)) for fine-tuning."""
    nn = L.nn

    def conv_bn(cin, cout, k, stride=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]

    class Bottleneck(nn.Module):
        """1x1 narrow, 3x3 (strided), 1x1 widen by 4, then the shortcut added in place."""

        def __init__(self, cin, planes, stride=1, downsample=None):
            super().__init__()
            relu = nn.ReLU(inplace=True)
            self.branch = nn.Sequential(*conv_bn(cin, planes, 1), relu,
                                        *conv_bn(planes, planes, 3, stride), relu,
                                        *conv_bn(planes, 4 * planes, 1))
            self.out_act = relu
            self.downsample = downsample

        def forward(self, x):
            y = self.branch(x)
            y += x if self.downsample is None else self.downsample(x)
            return self.out_act(y)

    L.manual_seed(5)
    stem = nn.Sequential(nn.Conv2d(3, 4, 3, 1, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(3, 2, 1))
    ds = nn.Sequential(nn.Conv2d(4, 8, 1, 2, bias=False), nn.BatchNorm2d(8))
    model = nn.Sequential(stem, Bottleneck(4, 2, 2, ds), Bottleneck(8, 2)).double()
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            load_seeded(L, mod, seed=sum(mod.weight.shape))
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.constant_(mod.weight, 1)
            nn.init.constant_(mod.bias, 0)
    for mod in model.modules():
        if isinstance(mod, Bottleneck):
            nn.init.constant_(mod.branch[-1].weight, 0.5 if mod.downsample is not None else 0)
    model[0][1].requires_grad_(False)
    x = _t(L, 2, 3, 10, 10, seed=6)
    y = model(x)
    y.mean().backward()
    return dict(y=y, g=grads_of(model), frozen=model[0][1].weight.grad is None,
                trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))


@program
def convnext_block_channels_last_layernorm_and_layer_scale(L):
    """ConvNeXt's block: a 7x7 depthwise convolution, permute to channels-last for
    LayerNorm and the pointwise MLP (Linear layers), the layer-scale Parameter, permute
    back, the branch dropped per sample by torch.rand floor; and a LayerNorm over the channel
    dim of an NCHW tensor written out by mean/pow/sqrt, compared with F.layer_norm over the
    permuted tensor."""
    nn, F = L.nn, L.nn.functional

    class ChannelNorm(nn.Module):
        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight, self.bias = nn.Parameter(L.ones(c)), nn.Parameter(L.zeros(c))
            self.eps = eps

        def forward(self, x):
            centred = x - x.mean(1, keepdim=True)
            var = centred.pow(2).mean(1, keepdim=True)
            per_channel = (slice(None), None, None)
            return (self.weight[per_channel] * (centred / L.sqrt(var + self.eps))
                    + self.bias[per_channel])

    class Block(nn.Module):
        def __init__(self, dim, drop=0.3):
            super().__init__()
            self.spatial = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.mlp = nn.Sequential(nn.LayerNorm(dim, eps=1e-6), nn.Linear(dim, 4 * dim),
                                     nn.GELU(), nn.Linear(4 * dim, dim))
            self.scale = nn.Parameter(0.5 * L.ones(dim), requires_grad=True)
            self.drop = drop

        def branch(self, x):
            nhwc = self.spatial(x).permute(0, 2, 3, 1)
            return (self.scale * self.mlp(nhwc)).permute(0, 3, 1, 2)

        def forward(self, x):
            y = self.branch(x)
            if self.training and self.drop > 0:
                keep = 1 - self.drop
                kept = (keep + L.rand((y.shape[0], 1, 1, 1), dtype=y.dtype)).floor_()
                y = y.div(keep) * kept
            return x + y

    L.manual_seed(8)
    blk, cf = Block(4).double(), ChannelNorm(4).double()
    x = _t(L, 3, 4, 8, 8, seed=9, grad=True)
    L.manual_seed(10)
    y = blk(cf(x))
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (4,), eps=1e-6).permute(0, 3, 1, 2)
    y.pow(2).sum().backward()
    return dict(y=y, same_ln=float((cf(x) - ref).abs().max()) < 1e-12, gx=x.grad,
                gg=blk.scale.grad, gdw=blk.spatial.weight.grad)


@program
def vgg_features_config_list_and_adaptive_classifier(L):
    """VGG built from a config list ('M' for max-pool), BatchNorm variants, the
    AdaptiveAvgPool2d((2, 2)) before a classifier with Dropout (eval: identity), init by
    normal_(0, 0.01) for Linear and kaiming for convs by isinstance over modules()."""
    nn = L.nn
    cfg = [4, "M", 6, 6, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
        else:
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.BatchNorm2d(v), nn.ReLU(True)]
            c = v
    L.manual_seed(12)
    features = nn.Sequential(*layers)
    model = nn.Sequential(features, nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
                          nn.Linear(6 * 4, 8), nn.ReLU(True), nn.Dropout(),
                          nn.Linear(8, 3)).double()
    for mod in model.modules():
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_uniform_(mod.weight, nonlinearity="relu")
            nn.init.constant_(mod.bias, 0.1)
        elif isinstance(mod, nn.Linear):
            nn.init.uniform_(mod.weight, -0.2, 0.2)
            nn.init.constant_(mod.bias, 0)
    x = _t(L, 2, 3, 11, 9, seed=13)
    model.train()
    out_t = model[0](x)
    model.eval()
    y = model(x)
    nn.functional.cross_entropy(y, L.tensor([0, 2])).backward()
    return dict(out_t=out_t, y=y, g=grads_of(model[0][0]), gl=model[6].weight.grad,
                rv=model[0][1].running_var)


@program
def unet_with_transposed_up_pad_to_match_and_attention_gate(L):
    """A U-Net level: two conv-BN-ReLU, a max-pool down, a ConvTranspose2d up whose output is
    padded by F.pad to the skip's odd size before torch.cat on channels; an attention gate
    (1x1 conv + BN of each input summed, ReLU, a 1x1 conv to one map, sigmoid) scaling the skip; a
    bilinear upsample with align_corners=True; BCE-with-logits plus a soft dice loss."""
    nn, F = L.nn, L.nn.functional

    def double_conv(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def conv1_bn(cin, cout):
        return [nn.Conv2d(cin, cout, 1), nn.BatchNorm2d(cout)]

    class Gate(nn.Module):
        """Scales the skip by a per-pixel weight in (0, 1) read off the coarser signal."""

        def __init__(self, c_coarse, c_skip, mid):
            super().__init__()
            self.from_coarse = nn.Sequential(*conv1_bn(c_coarse, mid))
            self.from_skip = nn.Sequential(*conv1_bn(c_skip, mid))
            self.weight_map = nn.Sequential(*conv1_bn(mid, 1), nn.Sigmoid())

        def forward(self, coarse, skip):
            joint = F.relu(self.from_coarse(coarse) + self.from_skip(skip))
            return skip * self.weight_map(joint)

    L.manual_seed(14)
    inc, down = double_conv(2, 4), nn.Sequential(nn.MaxPool2d(2), double_conv(4, 8))
    up, gate, dconv = nn.ConvTranspose2d(8, 4, 2, stride=2), Gate(4, 4, 2), double_conv(8, 4)
    outc = nn.Conv2d(4, 1, 1)
    mods = nn.ModuleList([inc, down, up, gate, dconv, outc]).double()
    x = _t(L, 2, 2, 9, 7, seed=15, grad=True)
    x1 = inc(x)
    x2 = down(x1)
    u = up(x2)
    dy, dx = x1.size(2) - u.size(2), x1.size(3) - u.size(3)
    u = F.pad(u, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
    logits = outc(dconv(L.cat([gate(u, x1), u], dim=1)))
    up_bi = F.interpolate(x2, scale_factor=2, mode="bilinear", align_corners=True)
    target = (L.tensor(_arr(2, 1, 9, 7, seed=16)) > 0).double()
    prob = L.sigmoid(logits)
    inter = (prob * target).sum(dim=(2, 3))
    dice = 1 - (2 * inter + 1) / (prob.sum(dim=(2, 3)) + target.sum(dim=(2, 3)) + 1)
    loss = F.binary_cross_entropy_with_logits(logits, target) + dice.mean()
    loss.backward()
    return dict(logits=logits, up_bi=up_bi, loss=loss, gx=x.grad, gup=up.weight.grad,
                gpsi=grads_of(gate.weight_map), shapes=[tuple(t.shape) for t in (x1, x2, u)],
                n=len(list(mods.parameters())))


# ----------------------------------------------------------------------------------------------
# graphs
# ----------------------------------------------------------------------------------------------
def _edges(L):
    src = L.tensor([0, 1, 1, 2, 3, 4, 4, 5, 2, 0])
    dst = L.tensor([1, 0, 2, 1, 4, 3, 5, 4, 0, 2])
    return src, dst


@program
def gcn_and_sage_message_passing_by_index_add_and_scatter_reduce(L):
    """torch_scatter-free GNN code: symmetric-normalised GCN with self loops (degrees by
    index_add_ of ones, norm = deg^-1/2[src] * deg^-1/2[dst], messages summed into a
    zeros tensor by index_add_), GraphSAGE with mean and max aggregation by scatter_reduce
    (include_self=False) over an index expanded to the feature width, a node without
    in-edges kept at zero."""
    nn = L.nn
    L.manual_seed(20)
    N = 7
    src, dst = _edges(L)
    x = _t(L, N, 5, seed=21, grad=True)
    lin = nn.Linear(5, 4, bias=False).double()
    loops = L.arange(N)
    s2, d2 = L.cat([src, loops]), L.cat([dst, loops])
    deg = L.zeros(N, dtype=L.float64).index_add_(0, d2, L.ones(d2.numel(), dtype=L.float64))
    dinv = deg.pow(-0.5)
    dinv.masked_fill_(dinv == float("inf"), 0)
    norm = dinv[s2] * dinv[d2]
    h = lin(x)
    gcn = L.zeros(N, 4, dtype=h.dtype).index_add_(0, d2, h[s2] * norm.view(-1, 1))
    idx = dst.view(-1, 1).expand(-1, 5)
    mean = L.zeros(N, 5, dtype=x.dtype).scatter_reduce(0, idx, x[src], reduce="mean",
                                                         include_self=False)
    mx = L.zeros(N, 5, dtype=x.dtype).scatter_reduce(0, idx, x[src], reduce="amax",
                                                       include_self=False)
    sage = L.nn.Linear(10, 3).double()
    out = sage(L.cat([x, mean], 1)) + mx.sum(1, keepdim=True)
    (gcn.sum() + out.pow(2).sum()).backward()
    return dict(deg=deg, gcn=gcn, mean=mean, mx=mx, out=out, gx=x.grad, gl=lin.weight.grad,
                gs=grads_of(sage))


@program
def gat_edge_softmax_by_scatter_amax_and_index_add(L):
    """GAT's attention over edges: per-edge scores LeakyReLU(a_src . h_src + a_dst . h_dst),
    softmax over each node's in-edges made stable by subtracting the per-node max (a
    scatter_reduce amax gathered back by index_select), normalised by an index_add_ sum,
    two heads concatenated, ELU, dropout off; the attention coefficients sum to one per
    node."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(22)
    N, H, C = 6, 2, 3
    src, dst = _edges(L)
    src, dst = L.cat([src, L.arange(N)]), L.cat([dst, L.arange(N)])
    W = nn.Linear(4, H * C, bias=False).double()
    a_src = nn.Parameter(_t(L, 1, H, C, seed=23, scale=0.5))
    a_dst = nn.Parameter(_t(L, 1, H, C, seed=24, scale=0.5))
    x = _t(L, N, 4, seed=25, grad=True)
    h = W(x).view(-1, H, C)
    e = F.leaky_relu((h * a_src).sum(-1)[src] + (h * a_dst).sum(-1)[dst], 0.2)
    emax = L.full((N, H), float("-inf"), dtype=e.dtype).scatter_reduce(
        0, dst.unsqueeze(-1).expand_as(e), e, reduce="amax", include_self=True)
    ex = (e - emax.index_select(0, dst)).exp()
    denom = L.zeros(N, H, dtype=e.dtype).index_add_(0, dst, ex)
    alpha = ex / (denom[dst] + 1e-16)
    out = L.zeros(N, H, C, dtype=h.dtype).index_add_(0, dst, h[src] * alpha.unsqueeze(-1))
    out = F.elu(out.reshape(N, H * C))
    out.sum().backward()
    sums = L.zeros(N, H, dtype=alpha.dtype).index_add_(0, dst, alpha.detach())
    return dict(alpha=alpha, out=out, sums=sums, gx=x.grad, ga=a_src.grad, gd=a_dst.grad,
                gw=W.weight.grad)


@program
def graph_batching_by_offsets_and_global_pooling(L):
    """PyG-style mini-batches: edge indices of several graphs shifted by cumulative node
    counts, a batch vector by repeat_interleave, global mean/max/add pooling by
    scatter_reduce and bincount, a readout MLP and a graph-level cross entropy."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(26)
    sizes = L.tensor([3, 4, 2])
    edges = [L.tensor([[0, 1, 2], [1, 2, 0]]), L.tensor([[0, 1, 2, 3], [1, 2, 3, 0]]),
             L.tensor([[0, 1], [1, 0]])]
    offsets = L.cat([L.zeros(1, dtype=L.long), sizes.cumsum(0)[:-1]])
    edge_index = L.cat([e + o for e, o in zip(edges, offsets)], dim=1)
    batch = L.repeat_interleave(L.arange(3), sizes)
    x = _t(L, int(sizes.sum()), 3, seed=27, grad=True)
    conv = nn.Linear(3, 4).double()
    h = F.relu(conv(x))
    agg = L.zeros_like(h).index_add_(0, edge_index[1], h[edge_index[0]])
    h = h + agg
    counts = L.bincount(batch).to(h.dtype)
    add = L.zeros(3, 4, dtype=h.dtype).index_add_(0, batch, h)
    mean = add / counts.unsqueeze(1)
    mx = L.zeros(3, 4, dtype=h.dtype).scatter_reduce(0, batch.unsqueeze(1).expand_as(h), h,
                                                      "amax", include_self=False)
    head = nn.Linear(12, 2).double()
    logits = head(L.cat([add, mean, mx], 1))
    loss = F.cross_entropy(logits, L.tensor([0, 1, 1]))
    loss.backward()
    return dict(edge_index=edge_index, batch=batch, counts=counts, logits=logits, loss=loss,
                gx=x.grad, g=grads_of(conv))


# ----------------------------------------------------------------------------------------------
# generative models
# ----------------------------------------------------------------------------------------------
@program
def realnvp_affine_coupling_logdet_and_inverse(L):
    """RealNVP: alternating binary masks (registered buffers), s and t networks with tanh
    scale, forward z = x*m + (1-m)*(x*exp(s) + t) with log|det| = sum((1-m)*s), the inverse
    recovering x, log-likelihood under a standard MultivariateNormal prior from
    torch.distributions, training by Adam for two steps; samples drawn by rsample."""
    nn, D = L.nn, L.distributions

    class Coupling(nn.Module):
        """Rescales and shifts the coordinates where mask == 0, as functions of the rest."""

        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.scale_net = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(), nn.Linear(8, 4),
                                           nn.Tanh())
            self.shift_net = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(), nn.Linear(8, 4))

        def split(self, x):
            fixed, moved = x * self.mask, 1 - self.mask
            return fixed, moved, self.scale_net(fixed) * moved, self.shift_net(fixed) * moved

        def forward(self, x):
            fixed, moved, log_s, shift = self.split(x)
            return fixed + moved * (x * L.exp(log_s) + shift), log_s.sum(dim=1)

        def inverse(self, z):
            fixed, moved, log_s, shift = self.split(z)
            return fixed + moved * (z - shift) * L.exp(-log_s)

    L.manual_seed(30)
    masks = L.tensor([[1.0, 0, 1, 0], [0, 1, 0, 1.0]], dtype=L.float64).repeat(2, 1)
    flows = nn.ModuleList([Coupling(m) for m in masks]).double()
    prior = D.MultivariateNormal(L.zeros(4, dtype=L.float64), L.eye(4, dtype=L.float64))
    opt = L.optim.Adam(flows.parameters(), lr=1e-2)
    x = _t(L, 16, 4, seed=31)
    losses = []
    for _ in range(2):
        z, logdet = x, L.zeros(16, dtype=L.float64)
        for f in flows:
            z, ld = f(z)
            logdet = logdet + ld
        loss = -(prior.log_prob(z) + logdet).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with L.no_grad():
        back = z
        for f in reversed(flows):
            back = f.inverse(back)
    L.manual_seed(32)
    samples = prior.rsample((3,))
    return dict(losses=losses, z=z, recon=float((back - x).abs().max()) < 1e-10,
                samples=samples, buffers=len(list(flows.buffers())),
                g=grads_of(flows[0].scale_net))


@program
def ddpm_schedule_training_step_and_ancestral_sampler(L):
    """A DDPM: linear betas, alphas_cumprod by cumprod and its shifted copy by F.pad, the
    posterior variance, a training step on noise prediction at random timesteps (randint,
    randn_like under a seed, extract-by-gather reshaped to broadcast), then the ancestral
    sampling loop under no_grad running t from T-1 down to 0, noise only where t > 0."""
    nn, F = L.nn, L.nn.functional
    T = 8
    betas = L.linspace(1e-4, 0.2, T, dtype=L.float64)
    alphas = 1.0 - betas
    ac = L.cumprod(alphas, dim=0)
    ac_prev = F.pad(ac[:-1], (1, 0), value=1.0)
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)

    def extract(a, t, shape):
        return a.gather(-1, t).reshape(t.shape[0], *((1,) * (len(shape) - 1)))

    L.manual_seed(40)
    net = nn.Sequential(nn.Linear(5, 16), nn.SiLU(), nn.Linear(16, 4)).double()

    def model(x, t):
        return net(L.cat([x, (t.to(x.dtype) / T).unsqueeze(1)], 1))

    x0 = _t(L, 6, 4, seed=41)
    L.manual_seed(42)
    t = L.randint(0, T, (6,))
    noise = L.randn_like(x0)
    xt = extract(ac, t, x0.shape).sqrt() * x0 + extract(1 - ac, t, x0.shape).sqrt() * noise
    loss = F.mse_loss(model(xt, t), noise)
    loss.backward()
    with L.no_grad():
        L.manual_seed(43)
        x = L.randn(3, 4, dtype=L.float64)
        for i in reversed(range(T)):
            tt = L.full((3,), i, dtype=L.long)
            eps = model(x, tt)
            mean = (1 / extract(alphas, tt, x.shape).sqrt()) * (
                x - extract(betas, tt, x.shape) / extract(1 - ac, tt, x.shape).sqrt() * eps)
            if i > 0:
                x = mean + extract(post_var, tt, x.shape).sqrt() * L.randn_like(x)
            else:
                x = mean
    return dict(ac_prev=ac_prev, post_var=post_var, t=t, loss=loss, g=grads_of(net), x=x)


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn) is None       # each program runs through in torch
