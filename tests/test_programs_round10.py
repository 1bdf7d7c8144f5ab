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
# nanoGPT
# ----------------------------------------------------------------------------------------------
def _gpt(L, vocab=11, block=6, d=8, h=2, layers=2, flash=False):
    nn, F = L.nn, L.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            self.attn_dropout = nn.Dropout(0.0)
            self.resid_dropout = nn.Dropout(0.0)
            self.register_buffer("bias", L.tril(L.ones(block, block)).view(1, 1, block, block))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(d, dim=2)
            k = k.view(B, T, h, C // h).transpose(1, 2)
            q = q.view(B, T, h, C // h).transpose(1, 2)
            v = v.view(B, T, h, C // h).transpose(1, 2)
            if flash:
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0,
                                                   is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = self.attn_dropout(F.softmax(att, dim=-1))
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(d, 4 * d)
            self.gelu = nn.GELU(approximate="tanh")
            self.c_proj = nn.Linear(4 * d, d)

        def forward(self, x):
            return self.c_proj(self.gelu(self.c_fc(x)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(d)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab, d), wpe=nn.Embedding(block, d), drop=nn.Dropout(0.0),
                h=nn.ModuleList([Block() for _ in range(layers)]), ln_f=nn.LayerNorm(d)))
            self.lm_head = nn.Linear(d, vocab, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    bound = 0.02 / math.sqrt(2 * layers)
                    L.nn.init.uniform_(p, -bound, bound)

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                L.nn.init.uniform_(module.weight, -0.1, 0.1)
                if module.bias is not None:
                    L.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                L.nn.init.uniform_(module.weight, -0.1, 0.1)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            pos = L.arange(0, t, dtype=L.long, device=idx.device)
            x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))
            for blk in self.transformer.h:
                x = blk(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        @L.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= block else idx[:, -block:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = L.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = L.multinomial(probs, num_samples=1)
                idx = L.cat((idx, idx_next), dim=1)
            return idx

    return GPT()


@program
def nanogpt_tied_weights_causal_buffer_and_loss(L):
    """nanoGPT's model file: the causal mask a registered buffer sliced to T and compared
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
                same=m.lm_head.weight is m.transformer.wte.weight,
                gw=m.lm_head.weight.grad, g=grads_of(m), buffers=[k for k, _ in m.named_buffers()],
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
        out[name] = dict(logits=logits, loss=loss, g=m.transformer.h[0].attn.c_attn.weight.grad)
    out["diff"] = float((out["slow"]["logits"] - out["fast"]["logits"]).abs().max()) < 1e-12
    return out


@program
def nanogpt_configure_optimizers_warmup_cosine_and_clipping(L):
    """nanoGPT's train loop: parameters of dim >= 2 decayed, the rest not (two AdamW groups,
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
    return dict(losses=losses, norms=norms, lrs=lrs, w=m.lm_head.weight,
                ln=m.transformer.ln_f.weight, grad_none=m.lm_head.weight.grad is None,
                groups=[len(g["params"]) for g in opt.param_groups])


@program
def nanogpt_generate_top_k_multinomial(L):
    """nanoGPT's sampler under no_grad: the last position's logits over a temperature, the
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
    """torchvision's MobileNetV2 pieces: ConvBNReLU6 as an nn.Sequential subclass, the
    inverted residual (1x1 expand, 3x3 depthwise with groups=hidden, 1x1 linear project),
    the shortcut only where stride 1 and channels equal, _make_divisible widths, the
    classifier after adaptive_avg_pool2d and flatten; train-mode BatchNorm statistics."""
    nn = L.nn

    class ConvBNReLU(nn.Sequential):
        def __init__(self, cin, cout, k=3, stride=1, groups=1):
            super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                       bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand):
            super().__init__()
            hidden = int(round(inp * expand))
            self.use_res = stride == 1 and inp == oup
            layers = [ConvBNReLU(inp, hidden, k=1)] if expand != 1 else []
            layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                       nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res else self.conv(x)

    L.manual_seed(0)
    c0 = _make_divisible(6 * 1.0)
    net = nn.Sequential(ConvBNReLU(3, c0, stride=2), InvertedResidual(c0, c0, 1, 1),
                        InvertedResidual(c0, 12, 2, 2), InvertedResidual(12, 12, 1, 3)).double()
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
        if not training or p == 0.0:
            return x
        survival = 1.0 - p
        noise = L.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype).bernoulli_(survival)
        return x * noise.div_(survival)

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
    """torchvision's ResNet pieces: BasicBlock and Bottleneck with a 1x1 strided downsample
    Sequential, kaiming_normal_ (fan_out, relu) over every conv by modules() and the last
    BatchNorm of each residual branch zero-initialised, max-pool stem, frozen BatchNorm
    affine (requires_grad_(False)) for fine-tuning."""
    nn = L.nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inp, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inp, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
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
            nn.init.constant_(mod.bn3.weight, 0.5 if mod.downsample is not None else 0)
    model[0][1].requires_grad_(False)
    x = _t(L, 2, 3, 10, 10, seed=6)
    y = model(x)
    y.mean().backward()
    return dict(y=y, g=grads_of(model), frozen=model[0][1].weight.grad is None,
                trainable=sum(p.numel() for p in model.parameters() if p.requires_grad))


@program
def convnext_block_channels_last_layernorm_and_layer_scale(L):
    """ConvNeXt's block: a 7x7 depthwise convolution, permute to channels-last for
    LayerNorm and the pointwise MLP (Linear layers), the layer-scale gamma Parameter, permute
    back, DropPath by torch.rand floor; and its LayerNorm for channels_first written out by
    mean/pow/sqrt, compared with F.layer_norm over the permuted tensor."""
    nn, F = L.nn, L.nn.functional

    class LayerNormCF(nn.Module):
        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight, self.bias = nn.Parameter(L.ones(c)), nn.Parameter(L.zeros(c))
            self.eps = eps

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / L.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    class Block(nn.Module):
        def __init__(self, dim, drop_path=0.3):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pwconv1, self.act = nn.Linear(dim, 4 * dim), nn.GELU()
            self.pwconv2 = nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(0.5 * L.ones(dim), requires_grad=True)
            self.drop_path = drop_path

        def forward(self, x):
            inp = x
            x = self.dwconv(x).permute(0, 2, 3, 1)
            x = self.pwconv2(self.act(self.pwconv1(self.norm(x))))
            x = (self.gamma * x).permute(0, 3, 1, 2)
            if self.training and self.drop_path > 0:
                keep = 1 - self.drop_path
                mask = (keep + L.rand((x.shape[0], 1, 1, 1), dtype=x.dtype)).floor_()
                x = x.div(keep) * mask
            return inp + x

    L.manual_seed(8)
    blk, cf = Block(4).double(), LayerNormCF(4).double()
    x = _t(L, 3, 4, 8, 8, seed=9, grad=True)
    L.manual_seed(10)
    y = blk(cf(x))
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (4,), eps=1e-6).permute(0, 3, 1, 2)
    y.pow(2).sum().backward()
    return dict(y=y, same_ln=float((cf(x) - ref).abs().max()) < 1e-12, gx=x.grad,
                gg=blk.gamma.grad, gdw=blk.dwconv.weight.grad)


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
    """The milesial U-Net: DoubleConv, Down (max-pool then DoubleConv), Up by ConvTranspose2d
    whose output is padded by F.pad to the skip's odd size before torch.cat on channels; an
    Attention U-Net gate (W_g g + W_x x, ReLU, psi 1x1 conv, sigmoid) scaling the skip; a
    bilinear upsample with align_corners=True; BCE-with-logits plus a soft dice loss."""
    nn, F = L.nn, L.nn.functional

    def double_conv(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Gate(nn.Module):
        def __init__(self, fg, fl, fint):
            super().__init__()
            self.W_g = nn.Sequential(nn.Conv2d(fg, fint, 1), nn.BatchNorm2d(fint))
            self.W_x = nn.Sequential(nn.Conv2d(fl, fint, 1), nn.BatchNorm2d(fint))
            self.psi = nn.Sequential(nn.Conv2d(fint, 1, 1), nn.BatchNorm2d(1), nn.Sigmoid())

        def forward(self, g, x):
            return x * self.psi(F.relu(self.W_g(g) + self.W_x(x)))

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
                gpsi=grads_of(gate.psi), shapes=[tuple(t.shape) for t in (x1, x2, u)],
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
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(), nn.Linear(8, 4), nn.Tanh())
            self.t = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(), nn.Linear(8, 4))

        def forward(self, x):
            xm = x * self.mask
            s, t = self.s(xm) * (1 - self.mask), self.t(xm) * (1 - self.mask)
            return xm + (1 - self.mask) * (x * L.exp(s) + t), s.sum(dim=1)

        def inverse(self, z):
            zm = z * self.mask
            s, t = self.s(zm) * (1 - self.mask), self.t(zm) * (1 - self.mask)
            return zm + (1 - self.mask) * (z - t) * L.exp(-s)

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
                g=grads_of(flows[0].s))


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
