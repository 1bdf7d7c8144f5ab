"""Whole programs of round 40: the kinds of code people run day to day, written afresh.

A hand-written Lightning-style loop (train and validation steps, metrics under no_grad, early
stopping, a checkpoint of model, optimizer and scheduler resumed bit-identically); small
torchvision-style nets built from scratch (inverted residuals, channel shuffle, fire modules,
a U-Net, VGG's adaptive head); audio convnets (dilated causal stacks, a weight-normed TCN,
spectrograms); text models (char-CNN, packed GRU, a padded transformer encoder); tabular nets
with focal loss and weighted sampling; metric learning; WGAN-GP with spectral norm; MAML;
distillation; mixup and cutmix; weight averaging; gradient accumulation and checkpointing;
parametrizations and pruning; distributions in a VAE and in policy gradients; sequence
models (attention seq2seq, nn.Transformer decoding, CTC, a CRF); graph, point-set, flow and
ODE models; inputs optimised directly (style transfer, adversarial examples); newer backbones
(ViT, ConvNeXt, Swin pieces, a LLaMA-style block); torch.func ensembles and DP-SGD;
higher-order penalties; seeded dropout in training; checkpoints, hooks, schedulers, custom
optimizers, printed summaries and metrics; and the errors a first script meets.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights; both must give the same values, dtypes, shapes and requires_grad, or raise
the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import collections
import copy
import importlib
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, normal64, program_harness, registry)

import_forward_ad_decompositions()

HARNESS = program_harness()
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# a Lightning-style loop written by hand
# ----------------------------------------------------------------------------------------------
def _lit_net(L, seed):
    nn = L.nn
    L.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 12), nn.LayerNorm(12), nn.GELU(), nn.Dropout(0.0),
                         nn.Linear(12, 3)).double()


def _lit_epoch(L, net, opt, sched, x, y, xv, yv):
    """One epoch: four training batches (a scheduler step each), then a validation pass."""
    F = L.nn.functional
    net.train()
    seen = []
    for b in range(4):
        xb, yb = x[b * 5:(b + 1) * 5], y[b * 5:(b + 1) * 5]
        loss = F.cross_entropy(net(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        seen.append(loss.detach())
    net.eval()
    with L.no_grad():
        logits = net(xv)
        val_loss = F.cross_entropy(logits, yv, reduction="sum") / len(yv)
        acc = (logits.argmax(dim=1) == yv).float().mean()
    return L.stack(seen), val_loss, acc


@program
def lightning_style_loop_early_stopping_and_bit_identical_resume(L):
    """Train/validate epochs under AdamW and OneCycleLR with early stopping on the validation
    loss (patience 2, min_delta); after epoch 2 the model, optimizer and scheduler state are
    saved to a buffer, loaded into fresh objects, and training continues; the resumed run
    must reproduce the uninterrupted one exactly."""
    x = L.tensor(normal64(20, 6, seed=1))
    y = L.tensor(labels(20, 3, seed=2))
    xv = L.tensor(normal64(10, 6, seed=3))
    yv = L.tensor(labels(10, 3, seed=4))

    def make(seed):
        net = _lit_net(L, seed)
        opt = L.optim.AdamW(net.parameters(), lr=0.05, weight_decay=0.01, amsgrad=True)
        sched = L.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=40,
                                                pct_start=0.25)
        return net, opt, sched

    net, opt, sched = make(7)
    history, best, bad, stopped = [], float("inf"), 0, None
    for epoch in range(8):
        tr, vl, acc = _lit_epoch(L, net, opt, sched, x, y, xv, yv)
        history.append((tr, vl, acc, sched.get_last_lr()[0]))
        if vl.item() < best - 1e-3:
            best, bad = vl.item(), 0
        else:
            bad += 1
            if bad >= 2:
                stopped = epoch
                break
    net2, opt2, sched2 = make(7)
    for _ in range(2):
        _lit_epoch(L, net2, opt2, sched2, x, y, xv, yv)
    buf = io.BytesIO()
    L.save({"epoch": 2, "model": net2.state_dict(), "optimizer": opt2.state_dict(),
            "scheduler": sched2.state_dict()}, buf)
    buf.seek(0)
    ck = L.load(buf)
    net3, opt3, sched3 = make(99)
    net3.load_state_dict(ck["model"])
    opt3.load_state_dict(ck["optimizer"])
    sched3.load_state_dict(ck["scheduler"])
    resumed = [_lit_epoch(L, net3, opt3, sched3, x, y, xv, yv) for _ in range(2)]
    same = all(bool(L.equal(a, b)) for a, b in zip(resumed[1][:2], history[3][:2]))
    return history, stopped, best, resumed, same, ck["epoch"], sorted(ck["optimizer"]), \
        opt3.state_dict()["state"][0]["max_exp_avg_sq"]


@program
def validation_metrics_confusion_matrix_and_top_k_under_no_grad(L):
    """A validation epoch accumulating a confusion matrix by bincount of true*C+pred,
    per-class precision, recall and F1 with zero guards, top-2 accuracy from topk, and a
    ReduceLROnPlateau fed the validation loss over epochs."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(3)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 4)).double()
    opt = L.optim.SGD(net.parameters(), lr=0.3, momentum=0.9)
    plateau = L.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0,
                                                     threshold=1e-2, cooldown=1)
    x = L.tensor(normal64(24, 5, seed=5))
    y = L.tensor(labels(24, 4, seed=6))
    rec = []
    for epoch in range(4):
        net.train()
        loss = F.cross_entropy(net(x[:16]), y[:16])
        opt.zero_grad()
        loss.backward()
        opt.step()
        net.eval()
        with L.no_grad():
            out = net(x[16:])
            vloss = F.cross_entropy(out, y[16:])
            pred = out.argmax(1)
            cm = L.bincount(y[16:] * 4 + pred, minlength=16).reshape(4, 4)
            tp = cm.diag().double()
            prec = tp / cm.sum(0).clamp(min=1)
            recall = tp / cm.sum(1).clamp(min=1)
            f1 = L.where(prec + recall > 0, 2 * prec * recall / (prec + recall),
                         L.zeros_like(prec))
            top2 = (out.topk(2, dim=1).indices == y[16:, None]).any(1).float().mean()
        plateau.step(vloss)
        rec.append((vloss, cm, f1, top2, opt.param_groups[0]["lr"]))
    return rec, plateau.num_bad_epochs, plateau.best


# ----------------------------------------------------------------------------------------------
# torchvision-style nets from scratch
# ----------------------------------------------------------------------------------------------
def _conv_bn(nn, cin, cout, k, s=1, groups=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, nn.ReLU6(inplace=True)) if act else nn.Sequential(*layers)


@program
def mobilenet_v2_inverted_residuals_trained_then_evaluated(L):
    """Inverted residual blocks (1x1 expand, 3x3 depthwise, 1x1 linear projection; a skip
    when stride 1 and the channels keep), a stem, a head with global mean pooling; SGD with
    Nesterov momentum and weight decay for two steps, then eval-mode logits."""
    nn, F = L.nn, L.nn.functional

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hid = cin * t
            self.use_res = stride == 1 and cin == cout
            layers = [_conv_bn(nn, cin, hid, 1)] if t != 1 else []
            layers += [_conv_bn(nn, hid, hid, 3, stride, groups=hid),
                       _conv_bn(nn, hid, cout, 1, act=False)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res else self.conv(x)

    L.manual_seed(21)
    net = nn.Sequential(_conv_bn(nn, 3, 8, 3, 2), Inverted(8, 8, 1, 1), Inverted(8, 12, 2, 4),
                        Inverted(12, 12, 1, 4), _conv_bn(nn, 12, 16, 1),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                        nn.Linear(16, 5)).double()
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    net[7].p = 0.0
    x = L.tensor(normal64(4, 3, 16, 16, seed=8))
    y = L.tensor(labels(4, 5, seed=9))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                      weight_decay=4e-5)
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    net.eval()
    with L.no_grad():
        out = net(x)
    return losses, out, net[2].conv[1][0].weight.grad, net[3].conv[0][1].running_var, \
        net[3].conv[0][1].num_batches_tracked


@program
def shufflenet_v2_units_with_channel_split_and_shuffle(L):
    """ShuffleNetV2 units: stride 1 splits the channels by chunk and transforms one half,
    stride 2 runs both branches on the whole input; the concatenation is shuffled by viewing
    (N, groups, C/groups, H, W), swapping the two channel axes and flattening back; also
    nn.ChannelShuffle against the hand-written one."""
    nn = L.nn

    def shuffle(x, groups):
        n, c, h, w = x.size()
        return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)

    class Unit(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.stride = stride
            half = cout // 2
            if stride > 1:
                self.left = nn.Sequential(
                    nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
                    nn.BatchNorm2d(cin), nn.Conv2d(cin, half, 1, bias=False),
                    nn.BatchNorm2d(half), nn.ReLU())
            src = cin if stride > 1 else half
            self.right = nn.Sequential(
                nn.Conv2d(src, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
                nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False),
                nn.BatchNorm2d(half), nn.Conv2d(half, half, 1, bias=False),
                nn.BatchNorm2d(half), nn.ReLU())

        def forward(self, x):
            if self.stride == 1:
                a, b = x.chunk(2, dim=1)
                out = L.cat((a, self.right(b)), dim=1)
            else:
                out = L.cat((self.left(x), self.right(x)), dim=1)
            return shuffle(out, 2)

    L.manual_seed(5)
    net = nn.Sequential(Unit(4, 8, 2), Unit(8, 8, 1), Unit(8, 16, 2)).double()
    x = L.tensor(normal64(2, 4, 12, 12, seed=10), requires_grad=True)
    out = net(x)
    (out.pow(2).mean() + out[:, ::3].sum()).backward()
    probe = L.arange(2 * 6 * 2 * 2, dtype=L.float64).reshape(2, 6, 2, 2)
    return out, x.grad, net[1].right[3].weight.grad, net[0].left[0].weight.grad, \
        L.equal(nn.ChannelShuffle(3)(probe), shuffle(probe, 3)), shuffle(probe, 3)[0, :, 0, 0]


@program
def squeezenet_fire_modules_with_ceil_mode_pools(L):
    """SqueezeNet: fire modules (1x1 squeeze, then 1x1 and 3x3 expands concatenated), max
    pools with ceil_mode on odd maps, a final 1x1 conv classifier with dropout in eval and
    AdaptiveAvgPool2d to (1, 1), flattened; gradients of the input and the squeeze convs."""
    nn = L.nn

    class Fire(nn.Module):
        def __init__(self, cin, sq, e1, e3):
            super().__init__()
            self.squeeze = nn.Conv2d(cin, sq, 1)
            self.e1, self.e3 = nn.Conv2d(sq, e1, 1), nn.Conv2d(sq, e3, 3, padding=1)
            self.act = nn.ReLU(inplace=True)

        def forward(self, x):
            s = self.act(self.squeeze(x))
            return L.cat([self.act(self.e1(s)), self.act(self.e3(s))], 1)

    L.manual_seed(4)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True), Fire(8, 4, 6, 6), Fire(12, 4, 6, 6),
        nn.MaxPool2d(3, 2, ceil_mode=True), Fire(12, 6, 8, 8),
        nn.Dropout(0.5), nn.Conv2d(16, 5, 1), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1)).double().eval()
    x = L.tensor(normal64(2, 3, 23, 23, seed=11), requires_grad=True)
    shapes = []
    h = x
    for m in net:
        h = m(h)
        shapes.append(tuple(h.shape))
    L.log_softmax(h, 1)[:, 1].sum().backward()
    return h, shapes, x.grad, net[3].squeeze.weight.grad, net[6].e3.bias.grad


@program
def unet_with_transposed_conv_upsampling_and_centre_cropped_skips(L):
    """A two-level U-Net as the paper draws it: per level two 3x3 convs with BatchNorm, a
    max-pool down, a stride-2 ConvTranspose2d up, and the encoder's map centre-cropped to
    the decoder's (odd sizes lose a row or column) before the channels are joined; a 1x1
    head on the cropped output, trained for two Adam steps on a per-pixel BCE-with-logits
    mask cropped alike, plus a Dice score under no_grad."""
    nn, F = L.nn, L.nn.functional

    def level(cin, cout):
        layers = []
        for a, b in ((cin, cout), (cout, cout)):
            layers += [nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b),
                       nn.ReLU(inplace=True)]
        return nn.Sequential(*layers)

    def centre(t, height, width):
        top, left = (t.shape[2] - height) // 2, (t.shape[3] - width) // 2
        return t[:, :, top:top + height, left:left + width]

    class UNet(nn.Module):
        def __init__(self, widths=(4, 8, 16)):
            super().__init__()
            a, b, c = widths
            self.enc = nn.ModuleList([level(1, a), level(a, b), level(b, c)])
            self.ups = nn.ModuleList([nn.ConvTranspose2d(c, b, 2, stride=2),
                                      nn.ConvTranspose2d(b, a, 2, stride=2)])
            self.dec = nn.ModuleList([level(2 * b, b), level(2 * a, a)])
            self.head = nn.Conv2d(a, 1, 1)

        def forward(self, x):
            skips = []
            for i, block in enumerate(self.enc):
                x = block(x if i == 0 else F.max_pool2d(x, 2))
                skips.append(x)
            x = skips.pop()
            for up, block in zip(self.ups, self.dec):
                x = up(x)
                skip = centre(skips.pop(), x.shape[2], x.shape[3])
                x = block(L.cat([skip, x], dim=1))
            return self.head(x)

    L.manual_seed(12)
    net = UNet().double()
    x = L.tensor(normal64(2, 1, 13, 11, seed=12))
    mask = L.tensor((normal64(2, 1, 13, 11, seed=13) > 0.3).astype(np.float64))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(2):
        logits = net(x)
        target = centre(mask, logits.shape[2], logits.shape[3])
        loss = F.binary_cross_entropy_with_logits(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    with L.no_grad():
        prob = L.sigmoid(net(x))
        inter = (prob * target).sum(dim=(1, 2, 3))
        dice = (2 * inter + 1) / (prob.sum(dim=(1, 2, 3)) + target.sum(dim=(1, 2, 3)) + 1)
    return losses, dice, logits.shape, net.ups[0].weight.grad, net.enc[0][0].weight.grad


@program
def vgg_features_with_adaptive_head_pool_upsampling_a_small_map(L):
    """VGG built from a config list ('M' for pools, numbers for conv+ReLU), features of a
    small image leaving a 2x2 map that AdaptiveAvgPool2d((3, 3)) spreads out, then the
    classifier of Linear, ReLU and Dropout in eval; a float32 forward and a float64 backward."""
    nn = L.nn
    cfg = [4, "M", 8, 8, "M", 12]

    def make(dtype):
        L.manual_seed(30)
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                c = v
        return nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d((3, 3)),
                             nn.Flatten(), nn.Linear(12 * 9, 16), nn.ReLU(True),
                             nn.Dropout(), nn.Linear(16, 4)).to(dtype).eval()

    x = normal64(2, 3, 8, 9, seed=14)
    out32 = make(L.float32)(L.tensor(x, dtype=L.float32))
    net = make(L.float64)
    xx = L.tensor(x, requires_grad=True)
    out = net(xx)
    out.logsumexp(1).sum().backward()
    return out32, out, xx.grad, net[0][3].weight.grad, net[3].weight.grad.abs().sum(0)



# ----------------------------------------------------------------------------------------------
# audio: 1-d convnets and spectrograms
# ----------------------------------------------------------------------------------------------
def _mu_law(L, x, mu=15):
    """Mu-law companding of x in [-1, 1] to integer classes 0..mu."""
    y = L.sign(x) * L.log1p(mu * x.abs()) / math.log1p(mu)
    return ((y + 1) / 2 * mu + 0.5).long()


@program
def wavenet_gated_dilated_causal_stack_with_residual_and_skip_paths(L):
    """WaveNet: a causal 2-tap conv front, residual layers of dilations 1, 2, 4, 8 that pad
    on the left only, a tanh * sigmoid gate, 1x1 residual and skip convs; the skips summed,
    ReLU, 1x1, ReLU, 1x1 to mu-law classes; next-sample cross entropy, one Adam step."""
    nn, F = L.nn, L.nn.functional
    Q = 16

    class Layer(nn.Module):
        def __init__(self, ch, skip, d):
            super().__init__()
            self.d = d
            self.filt = nn.Conv1d(ch, ch, 2, dilation=d)
            self.gate = nn.Conv1d(ch, ch, 2, dilation=d)
            self.res, self.skip = nn.Conv1d(ch, ch, 1), nn.Conv1d(ch, skip, 1)

        def forward(self, x):
            p = F.pad(x, (self.d, 0))
            z = L.tanh(self.filt(p)) * L.sigmoid(self.gate(p))
            return x + self.res(z), self.skip(z)

    class WaveNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.front = nn.Conv1d(Q, 6, 2)
            self.layers = nn.ModuleList(Layer(6, 8, d) for d in (1, 2, 4, 8))
            self.out1, self.out2 = nn.Conv1d(8, 8, 1), nn.Conv1d(8, Q, 1)

        def forward(self, onehot):
            h = self.front(F.pad(onehot, (1, 0)))
            total = 0
            for layer in self.layers:
                h, s = layer(h)
                total = total + s
            return self.out2(F.relu(self.out1(F.relu(total))))

    L.manual_seed(40)
    net = WaveNet().double()
    wave = L.tensor(np.sin(np.linspace(0, 9, 2 * 30)).reshape(2, 30) * 0.9)
    q = _mu_law(L, wave, Q - 1)
    onehot = F.one_hot(q, Q).permute(0, 2, 1).double()
    logits = net(onehot)
    loss = F.cross_entropy(logits[:, :, :-1], q[:, 1:])
    opt = L.optim.Adam(net.parameters(), lr=3e-3)
    loss.backward()
    opt.step()
    # causality: changing the last input sample leaves the earlier outputs alone
    other = onehot.clone()
    other[:, :, -1] = 0
    with L.no_grad():
        a, b = net(onehot), net(other)
    return q, loss, logits.shape, net.layers[2].filt.weight.grad, \
        L.equal(a[..., :-1], b[..., :-1]), net.front.weight


@program
def tcn_with_weight_normed_convs_chomp_and_downsample_residual(L):
    """A temporal convolutional network: each block two weight-normed Conv1d (padding
    (k-1)d on both sides, the tail chomped off), ReLU, dropout in eval, a 1x1 downsample
    when the channels change; a sequence classifier from the last step; grads of g and v."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm

    class Block(nn.Module):
        def __init__(self, cin, cout, k, d):
            super().__init__()
            self.chomp = (k - 1) * d
            # made float64 before wrapping: g starts as the float64 norm of v
            self.c1 = wn(nn.Conv1d(cin, cout, k, padding=self.chomp, dilation=d).double())
            self.c2 = wn(nn.Conv1d(cout, cout, k, padding=self.chomp, dilation=d).double())
            self.drop = nn.Dropout(0.1)
            self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None

        def forward(self, x):
            h = self.drop(F.relu(self.c1(x)[:, :, :-self.chomp].contiguous()))
            h = self.drop(F.relu(self.c2(h)[:, :, :-self.chomp].contiguous()))
            return F.relu(h + (x if self.down is None else self.down(x)))

    L.manual_seed(41)
    tcn = nn.Sequential(Block(3, 5, 3, 1), Block(5, 5, 3, 2), Block(5, 6, 3, 4)).double()
    head = nn.Linear(6, 2).double()
    tcn.eval()
    x = L.tensor(normal64(4, 3, 20, seed=15))
    y = L.tensor(labels(4, 2, seed=16))
    out = head(tcn(x)[:, :, -1])
    F.cross_entropy(out, y).backward()
    pz = tcn[0].c1.parametrizations.weight
    return out, pz.original0.grad, pz.original1.grad, tcn[2].down.weight.grad, \
        sorted(tcn[1].state_dict()), tcn[0].c1.weight.norm(dim=(1, 2))


@program
def stft_log_spectrogram_into_a_conv2d_classifier_with_waveform_gradient(L):
    """A log-magnitude spectrogram from torch.stft (Hann window, hop 4, centred with reflect
    padding, complex output), normalised per utterance, a small Conv2d + pooling classifier;
    the gradient of the loss flows back to the float64 waveform."""
    nn, F = L.nn, L.nn.functional
    t = np.arange(64) / 64.0
    wav = np.stack([np.sin(2 * np.pi * 5 * t) + 0.1 * normal64(64, seed=17),
                    np.sign(np.sin(2 * np.pi * 3 * t)) * 0.5])
    x = L.tensor(wav, requires_grad=True)
    win = L.hann_window(16, dtype=L.float64)
    spec = L.stft(x, n_fft=16, hop_length=4, win_length=16, window=win, center=True,
                  pad_mode="reflect", return_complex=True)
    power = spec.abs().pow(2)
    logspec = L.log(power + 1e-6)
    mean = logspec.mean(dim=(1, 2), keepdim=True)
    std = logspec.std(dim=(1, 2), keepdim=True)
    feats = ((logspec - mean) / (std + 1e-5)).unsqueeze(1)
    L.manual_seed(42)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(),
                        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(6, 3)).double()
    out = net(feats)
    F.cross_entropy(out, L.tensor([2, 0])).backward()
    return spec.shape, spec.dtype, power, out, x.grad, net[0].weight.grad


# ----------------------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------------------
@program
def char_cnn_with_padding_index_several_widths_and_max_over_time(L):
    """Kim-style text CNN over characters: an Embedding with padding_idx 0, Conv1d of widths
    2, 3 and 4 over the embedding channels, ReLU, max over time, concatenation, dropout and
    a linear layer; label-smoothed cross entropy; the padding row's gradient stays zero."""
    nn, F = L.nn, L.nn.functional

    class CharCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 8, padding_idx=0)
            self.convs = nn.ModuleList(nn.Conv1d(8, 5, k) for k in (2, 3, 4))
            self.drop, self.fc = nn.Dropout(0.0), nn.Linear(15, 4)

        def forward(self, ids):
            e = self.emb(ids).transpose(1, 2)
            pooled = [F.relu(c(e)).max(dim=2)[0] for c in self.convs]
            return self.fc(self.drop(L.cat(pooled, dim=1)))

    texts = ["hello", "a tiny test", "pytorch", "ab"]
    vocab = {c: i + 1 for i, c in enumerate(sorted(set("".join(texts))))}
    T = max(len(s) for s in texts)
    ids = L.zeros(len(texts), T, dtype=L.long)
    for i, s in enumerate(texts):
        ids[i, :len(s)] = L.tensor([vocab[c] for c in s])
    L.manual_seed(43)
    net = CharCNN().double()
    out = net(ids)
    loss = F.cross_entropy(out, L.tensor([0, 1, 2, 3]), label_smoothing=0.1)
    loss.backward()
    return ids, out, loss, net.emb.weight.grad[0], net.emb.weight.grad.abs().sum(1), \
        net.convs[2].weight.grad


@program
def bidirectional_gru_encoder_over_unsorted_packed_batch(L):
    """A two-layer bidirectional GRU over a padded batch packed with enforce_sorted=False;
    the final hidden states of both directions of the top layer concatenated to classify;
    the padded outputs with total_length; gradients of the embedding and the GRU weights."""
    nn, F = L.nn, L.nn.functional
    rnn_utils = nn.utils.rnn
    L.manual_seed(44)
    emb = nn.Embedding(12, 5, padding_idx=0).double()
    gru = nn.GRU(5, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    fc = nn.Linear(8, 3).double()
    lengths = L.tensor([3, 6, 2, 5])
    ids = L.tensor(np.random.RandomState(18).randint(1, 12, (4, 6)))
    ids = ids * (L.arange(6)[None, :] < lengths[:, None])
    packed = rnn_utils.pack_padded_sequence(emb(ids), lengths, batch_first=True,
                                            enforce_sorted=False)
    out, h = gru(packed)
    padded, lens = rnn_utils.pad_packed_sequence(out, batch_first=True, total_length=7)
    feat = L.cat([h[-2], h[-1]], dim=1)
    logits = fc(feat)
    (F.cross_entropy(logits, L.tensor([0, 1, 2, 1])) + padded.pow(2).sum() * 0.01).backward()
    return packed.batch_sizes, packed.sorted_indices, padded, lens, logits, \
        emb.weight.grad, gru.weight_hh_l1_reverse.grad, gru.bias_ih_l0.grad


@program
def transformer_encoder_classifier_with_key_padding_mask_and_masked_mean(L):
    """Token and sinusoidal position embeddings, a pre-norm GELU TransformerEncoder (batch
    first) given a boolean key padding mask, masked mean pooling over real tokens, label
    smoothing; the padded positions must not change the prediction."""
    nn, F = L.nn, L.nn.functional
    V, D, T = 15, 8, 6
    pos = np.arange(T)[:, None] / np.power(10000, np.arange(0, D, 2)[None, :] / D)
    pe = np.zeros((T, D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(pos), np.cos(pos)
    L.manual_seed(45)
    emb = nn.Embedding(V, D, padding_idx=0)
    layer = nn.TransformerEncoderLayer(D, nhead=2, dim_feedforward=16, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    enc = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    fc = nn.Linear(D, 3)
    for m in (emb, enc, fc):
        m.double()
    lengths = L.tensor([6, 3, 4])
    ids = L.tensor(np.random.RandomState(19).randint(1, V, (3, T)))
    pad = L.arange(T)[None, :] >= lengths[:, None]
    ids = ids.masked_fill(pad, 0)

    def classify(tokens):
        h = emb(tokens) * math.sqrt(D) + L.tensor(pe)
        h = enc(h, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).double()
        return fc((h * keep).sum(1) / keep.sum(1))

    logits = classify(ids)
    other = ids.masked_fill(pad, 7)
    same = L.allclose(classify(other), logits)
    F.cross_entropy(logits, L.tensor([2, 0, 1]), label_smoothing=0.2).backward()
    return logits, same, emb.weight.grad, enc.layers[1].self_attn.in_proj_weight.grad, \
        enc.layers[0].linear1.bias.grad



# ----------------------------------------------------------------------------------------------
# tabular
# ----------------------------------------------------------------------------------------------
@program
def tabular_entity_embeddings_focal_loss_and_weighted_sampler(L):
    """Categorical columns through their own Embeddings (sizes by the rule min(50, (n+1)//2)),
    concatenated with batch-normed continuous columns into an MLP; a focal loss written by
    hand (log-softmax gathered at the target, (1-p)^gamma, per-class alpha); class weights
    from inverse frequencies; batches drawn by a seeded WeightedRandomSampler."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data
    cards = [4, 7, 3]
    rng = np.random.RandomState(20)
    cats = np.stack([rng.randint(0, c, 32) for c in cards], 1)
    conts = normal64(32, 2, seed=21)
    y = np.array([0] * 20 + [1] * 8 + [2] * 4)

    class TabNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embs = nn.ModuleList(nn.Embedding(c, min(50, (c + 1) // 2)) for c in cards)
            width = sum(e.embedding_dim for e in self.embs)
            self.bn = nn.BatchNorm1d(2)
            self.mlp = nn.Sequential(nn.Linear(width + 2, 10), nn.ReLU(), nn.BatchNorm1d(10),
                                     nn.Linear(10, 3))

        def forward(self, xc, xn):
            e = [emb(xc[:, i]) for i, emb in enumerate(self.embs)]
            return self.mlp(L.cat(e + [self.bn(xn)], 1))

    def focal(logits, target, alpha, gamma=2.0):
        logp = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        p = logp.exp()
        return (-alpha[target] * (1 - p) ** gamma * logp).mean()

    counts = L.bincount(L.tensor(y)).double()
    class_w = counts.sum() / (len(counts) * counts)
    sample_w = class_w[L.tensor(y)]
    gen = L.Generator().manual_seed(22)
    sampler = data.WeightedRandomSampler(sample_w, num_samples=16, replacement=True,
                                         generator=gen)
    ds = data.TensorDataset(L.tensor(cats), L.tensor(conts), L.tensor(y))
    loader = data.DataLoader(ds, batch_size=8, sampler=sampler)
    L.manual_seed(23)
    net = TabNet().double()
    opt = L.optim.Adam(net.parameters(), lr=0.01)
    rec = []
    for xc, xn, yb in loader:
        logits = net(xc, xn)
        loss = focal(logits, yb, class_w / class_w.sum()) + \
            0.5 * F.cross_entropy(logits, yb, weight=class_w)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((yb, loss.detach()))
    return rec, class_w, net.embs[1].weight, net.mlp[2].running_mean


# ----------------------------------------------------------------------------------------------
# metric learning
# ----------------------------------------------------------------------------------------------
@program
def triplet_embedding_net_with_batch_hard_mining_and_library_losses(L):
    """An embedding net with L2-normalised outputs; batch-hard mining from cdist (the
    farthest positive, the nearest negative by masking same-label pairs with +inf); the
    hand-written hinge against TripletMarginLoss (with swap), a cosine-distance
    TripletMarginWithDistanceLoss, and CosineEmbeddingLoss on pairs."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(24)
    net = nn.Sequential(nn.Linear(6, 10), nn.PReLU(), nn.Linear(10, 4)).double()
    x = L.tensor(normal64(8, 6, seed=25))
    y = L.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    z = F.normalize(net(x), p=2, dim=1)
    d = L.cdist(z, z)
    same = y[:, None] == y[None, :]
    hardest_pos = (d * same.double()).max(1).values
    hardest_neg = d.masked_fill(same, float("inf")).min(1)
    neg_idx = hardest_neg.indices
    mine = F.relu(hardest_pos - hardest_neg.values + 0.3).mean()
    pos_idx = L.tensor([1, 0, 3, 2, 5, 4, 7, 6])
    lib = nn.TripletMarginLoss(margin=0.3, p=2, swap=True)(z, z[pos_idx], z[neg_idx])
    cosd = nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - F.cosine_similarity(a, b), margin=0.2)(
        z, z[pos_idx], z[neg_idx])
    target = L.where(y[:4] == y[pos_idx][:4], 1, -1)
    target[1] = -1
    cel = F.cosine_embedding_loss(z[:4], z[4:], target, margin=0.1)
    (mine + lib + cosd + cel).backward()
    return d, neg_idx, mine, lib, cosd, cel, net[1].weight.grad, net[0].weight.grad


@program
def siamese_contrastive_loss_with_pairwise_distance(L):
    """A siamese net on pairs: pairwise_distance of the two embeddings, the contrastive loss
    y d^2 + (1-y) max(0, m - d)^2, MarginRankingLoss between the pair distances, and
    HingeEmbeddingLoss on the distances; two RMSprop steps (centered, momentum)."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(26)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    a = L.tensor(normal64(6, 5, seed=27))
    b = L.tensor(normal64(6, 5, seed=28))
    same = L.tensor([1.0, 0.0, 1.0, 0.0, 0.0, 1.0], dtype=L.float64)
    opt = L.optim.RMSprop(net.parameters(), lr=0.01, alpha=0.9, momentum=0.5, centered=True)
    rec = []
    for _ in range(2):
        d = F.pairwise_distance(net(a), net(b), p=2.0, eps=1e-6)
        contrastive = (same * d.pow(2) + (1 - same) * F.relu(1.0 - d).pow(2)).mean() / 2
        rank = F.margin_ranking_loss(d[:3], d[3:], L.tensor([1.0, -1.0, 1.0],
                                                             dtype=L.float64), margin=0.1)
        hinge = F.hinge_embedding_loss(d, same * 2 - 1, margin=1.5)
        loss = contrastive + rank + hinge
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((d.detach(), contrastive, rank, hinge))
    return rec, net[2].weight, opt.state_dict()["state"][0]["grad_avg"]


@program
def arcface_additive_angular_margin_head(L):
    """ArcFace: normalised features against normalised class centres give cos theta; the
    target column becomes cos(theta + m) where theta + m < pi (else the fallback
    cos theta - m sin(pi - m)), scaled by s, blended in by a scattered one-hot; cross
    entropy."""
    nn, F = L.nn, L.nn.functional
    s, m = 8.0, 0.3
    L.manual_seed(29)
    backbone = nn.Linear(5, 4).double()
    W = nn.Parameter(L.randn(3, 4, dtype=L.float64))
    x = L.tensor(normal64(6, 5, seed=30))
    y = L.tensor(labels(6, 3, seed=31))
    cos = F.linear(F.normalize(backbone(x)), F.normalize(W)).clamp(-1 + 1e-7, 1 - 1e-7)
    sin = L.sqrt(1.0 - cos * cos)
    phi = cos * math.cos(m) - sin * math.sin(m)
    phi = L.where(cos > math.cos(math.pi - m), phi, cos - math.sin(math.pi - m) * m)
    hot = L.zeros_like(cos).scatter_(1, y.view(-1, 1), 1.0)
    logits = s * (hot * phi + (1.0 - hot) * cos)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    theta = L.acos(cos.detach())
    return logits, loss, W.grad, backbone.weight.grad, theta


# ----------------------------------------------------------------------------------------------
# GANs
# ----------------------------------------------------------------------------------------------
@program
def wgan_gp_critic_and_generator_steps_with_gradient_penalty(L):
    """WGAN-GP: the critic's loss D(fake) - D(real) plus lambda (||grad_x D(x_hat)|| - 1)^2
    on interpolates (fixed mixing weights), the gradient taken with create_graph=True so the
    penalty trains the critic; Adam with betas (0, 0.9); five critic steps per generator
    step; the penalty and the generator's gradients."""
    nn = L.nn
    L.manual_seed(32)
    G = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 4)).double()
    D = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 8), nn.Tanh(),
                      nn.Linear(8, 1)).double()
    oG = L.optim.Adam(G.parameters(), lr=1e-3, betas=(0.0, 0.9))
    oD = L.optim.Adam(D.parameters(), lr=1e-3, betas=(0.0, 0.9))
    real = L.tensor(normal64(6, 4, seed=33) + 1.0)
    z = L.tensor(normal64(5, 6, 3, seed=34))
    alpha = L.tensor(np.random.RandomState(35).rand(5, 6, 1))
    pens = []
    for i in range(5):
        fake = G(z[i]).detach()
        x_hat = (alpha[i] * real + (1 - alpha[i]) * fake).requires_grad_(True)
        g, = L.autograd.grad(D(x_hat).sum(), x_hat, create_graph=True)
        pen = ((g.norm(2, dim=1) - 1) ** 2).mean()
        lossD = D(fake).mean() - D(real).mean() + 10 * pen
        oD.zero_grad()
        lossD.backward()
        oD.step()
        pens.append(pen.detach())
    lossG = -D(G(z[0])).mean()
    oG.zero_grad()
    lossG.backward()
    oG.step()
    return pens, lossD.detach(), lossG.detach(), D[2].weight.grad, G[0].weight.grad, G[2].bias


@program
def spectral_norm_discriminator_with_hinge_loss_and_power_iteration(L):
    """A discriminator with spectral_norm (the parametrization) on its Linear and Conv2d
    layers; hinge losses relu(1 - D(real)) + relu(1 + D(fake)); the power iteration's u
    buffers advance each training forward and stay put in eval; sigma estimates compared."""
    nn, F = L.nn, L.nn.functional
    sn = nn.utils.parametrizations.spectral_norm
    L.manual_seed(36)
    # float64 before wrapping: the first power iterations run in float64
    D = nn.Sequential(sn(nn.Conv2d(2, 4, 3, 2, 1).double()), nn.LeakyReLU(0.1),
                      sn(nn.Conv2d(4, 4, 3, 2, 1).double()), nn.LeakyReLU(0.1), nn.Flatten(),
                      sn(nn.Linear(16, 1).double()))
    real = L.tensor(normal64(3, 2, 8, 8, seed=37))
    fake = L.tensor(normal64(3, 2, 8, 8, seed=38) * 0.5)
    opt = L.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    rec = []
    for _ in range(2):
        loss = F.relu(1.0 - D(real)).mean() + F.relu(1.0 + D(fake)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append(loss.detach())
    D.eval()
    u_before = D[0].parametrizations.weight[0]._u.clone()
    with L.no_grad():
        ev = D(real)
    w = D[5].weight
    sigma = L.linalg.matrix_norm(w, ord=2)
    return rec, ev, L.equal(u_before, D[0].parametrizations.weight[0]._u), sigma, \
        D[2].parametrizations.weight.original.grad, D[5].parametrizations.weight[0]._v


@program
def dcgan_generator_and_discriminator_with_label_flipping_detach(L):
    """DCGAN: a generator of ConvTranspose2d + BatchNorm + ReLU up to Tanh, a discriminator
    of strided Conv2d + LeakyReLU; weights initialised N(0, 0.02) (BatchNorm weight N(1,
    0.02)); a discriminator step on real (labels 0.9) and detached fake, then a generator
    step with real labels; BCEWithLogits throughout."""
    nn = L.nn
    L.manual_seed(39)
    G = nn.Sequential(nn.ConvTranspose2d(4, 8, 4, 1, 0, bias=False), nn.BatchNorm2d(8),
                      nn.ReLU(True), nn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False),
                      nn.Tanh()).double()
    D = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
                      nn.Conv2d(4, 1, 4, 1, 0, bias=False)).double()

    def init(m):
        name = type(m).__name__
        if "Conv" in name:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif "BatchNorm" in name:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.constant_(m.bias, 0)

    G.apply(init)
    D.apply(init)
    oG = L.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
    oD = L.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
    real = L.tensor(np.tanh(normal64(3, 1, 8, 8, seed=40)))
    noise = L.tensor(normal64(3, 4, 1, 1, seed=41))
    crit = nn.BCEWithLogitsLoss()
    fake = G(noise)
    out_r = D(real).view(-1)
    errD = crit(out_r, L.full_like(out_r, 0.9)) + crit(D(fake.detach()).view(-1),
                                                        L.zeros(3, dtype=L.float64))
    D.zero_grad()
    errD.backward()
    oD.step()
    G.zero_grad()
    errG = crit(D(fake).view(-1), L.ones(3, dtype=L.float64))
    errG.backward()
    oG.step()
    return fake.shape, errD, errG, G[0].weight.grad, D[0].weight.grad, G[1].running_var, \
        G[3].weight



# ----------------------------------------------------------------------------------------------
# meta-learning, distillation, data mixing, weight averaging
# ----------------------------------------------------------------------------------------------
@program
def maml_second_order_inner_loop_through_functional_call(L):
    """MAML on sine-like regression tasks: two inner SGD steps on fast weights (a dict of
    name -> tensor) with create_graph=True, the query loss evaluated by
    torch.func.functional_call with the adapted weights, meta-gradients through the inner
    steps summed over tasks; one Adam meta step; first-order MAML's gradient beside it."""
    nn, F = L.nn, L.nn.functional
    fcall = L.func.functional_call
    L.manual_seed(50)
    net = nn.Sequential(nn.Linear(1, 10), nn.Tanh(), nn.Linear(10, 1)).double()
    meta = L.optim.Adam(net.parameters(), lr=1e-3)
    amps, phases = [1.0, 2.5, 0.7], [0.0, 1.0, 2.0]
    xs = L.tensor(np.linspace(-3, 3, 10).reshape(10, 1))

    def adapt(first_order):
        params = dict(net.named_parameters())
        for _ in range(2):
            loss = F.mse_loss(fcall(net, params, (xs[::2],)), ys[::2])
            grads = L.autograd.grad(loss, list(params.values()),
                                    create_graph=not first_order)
            params = {k: v - 0.1 * g for (k, v), g in zip(params.items(), grads)}
        return F.mse_loss(fcall(net, params, (xs[1::2],)), ys[1::2])

    rec = []
    for first_order in (True, False):
        meta.zero_grad()
        total = 0
        for a, ph in zip(amps, phases):
            ys = a * L.sin(xs + ph)
            total = total + adapt(first_order)
        (total / len(amps)).backward()
        rec.append((total.detach(), net[0].weight.grad.clone(), net[2].bias.grad.clone()))
    meta.step()
    return rec, net[0].weight, net[2].weight


@program
def knowledge_distillation_with_temperature_scaled_kl_divergence(L):
    """A frozen teacher and a small student: the soft loss KL(softmax(t/T) || softmax(s/T))
    by kl_div(log_softmax, softmax, batchmean) times T^2, the same with log_target=True,
    blended with hard cross entropy; three SGD steps; the teacher keeps no gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(51)
    teacher = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4)).double().eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    student = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4)).double()
    opt = L.optim.SGD(student.parameters(), lr=0.2)
    x = L.tensor(normal64(8, 6, seed=52))
    y = L.tensor(labels(8, 4, seed=53))
    T, alpha = 3.0, 0.7
    rec = []
    for _ in range(3):
        with L.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        soft = F.kl_div(F.log_softmax(s_logits / T, dim=-1), F.softmax(t_logits / T, dim=-1),
                        reduction="batchmean") * T * T
        soft2 = nn.KLDivLoss(reduction="batchmean", log_target=True)(
            F.log_softmax(s_logits / T, -1), F.log_softmax(t_logits / T, -1)) * T ** 2
        loss = alpha * soft + (1 - alpha) * F.cross_entropy(s_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((soft.detach(), soft2.detach(), loss.detach()))
    return rec, student[0].weight.grad, [p.grad for p in teacher.parameters()], t_logits


@program
def mixup_and_cutmix_batches_with_soft_targets(L):
    """Mixup: lam from a seeded Beta draw, the batch blended with its randperm (from the
    global generator) and the loss blended lam * CE(y_a) + (1 - lam) * CE(y_b); CutMix: a
    box cut from the permuted images, lam recomputed from the box area, and the same loss
    as cross entropy against blended one-hot targets."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(54)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3)).double()
    x = L.tensor(normal64(6, 2, 8, 8, seed=55))
    y = L.tensor(labels(6, 3, seed=56))
    rng = np.random.RandomState(57)
    lam = float(rng.beta(0.4, 0.4))
    idx = L.randperm(6)
    mixed = lam * x + (1 - lam) * x[idx]
    out = net(mixed)
    loss_mix = lam * F.cross_entropy(out, y) + (1 - lam) * F.cross_entropy(out, y[idx])
    # cutmix
    H = W = 8
    lam2 = float(rng.beta(1.0, 1.0))
    cut = math.sqrt(1.0 - lam2)
    ch, cw = int(H * cut), int(W * cut)
    cy, cx = 3, 5
    y1, y2 = max(cy - ch // 2, 0), min(cy + ch // 2, H)
    x1, x2 = max(cx - cw // 2, 0), min(cx + cw // 2, W)
    cm = x.clone()
    cm[:, :, y1:y2, x1:x2] = x[idx, :, y1:y2, x1:x2]
    lam2 = 1 - (y2 - y1) * (x2 - x1) / (H * W)
    soft = lam2 * F.one_hot(y, 3).double() + (1 - lam2) * F.one_hot(y[idx], 3).double()
    out2 = net(cm)
    loss_cut = F.cross_entropy(out2, soft)
    check = lam2 * F.cross_entropy(out2, y) + (1 - lam2) * F.cross_entropy(out2, y[idx])
    (loss_mix + loss_cut).backward()
    return idx, loss_mix, loss_cut, check, net[0].weight.grad, net[4].bias.grad


@program
def ema_and_swa_weight_averages_with_buffers_and_update_bn(L):
    """An EMA copy (AveragedModel with get_ema_multi_avg_fn, use_buffers=True) updated
    after each step, and an SWA copy (the default running mean) under SWALR with cosine
    annealing from step 3; update_bn recomputes the SWA copy's BatchNorm statistics over a
    loader; the averaged weights and eval outputs of the three models."""
    nn, F = L.nn, L.nn.functional
    swa = L.optim.swa_utils
    L.manual_seed(58)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                        nn.Linear(6, 2)).double()
    ema = swa.AveragedModel(net, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9), use_buffers=True)
    avg = swa.AveragedModel(net)
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    sched = swa.SWALR(opt, swa_lr=0.02, anneal_epochs=2, anneal_strategy="cos")
    x = L.tensor(normal64(12, 4, seed=59))
    y = L.tensor(labels(12, 2, seed=60))
    lrs = []
    for step in range(6):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update_parameters(net)
        if step >= 3:
            avg.update_parameters(net)
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(x), batch_size=4)
    swa.update_bn(loader, avg)
    outs = []
    for m in (net, ema, avg):
        m.eval()
        with L.no_grad():
            outs.append(m(x))
    return lrs, avg.n_averaged, ema.n_averaged, ema.module[1].running_mean, \
        avg.module[1].running_var, avg.module[0].weight, ema.module[3].bias, outs


@program
def gradient_accumulation_with_clipping_and_a_disabled_scaler(L):
    """Micro-batches of 3 accumulated over 4 steps (loss divided by the accumulation count),
    a GradScaler(enabled=False) wrapping backward, unscale_ and step; clip_grad_norm_ to 1
    before each optimizer step, its returned norm, and clip_grad_value_ on a second model;
    the accumulated gradient equals the one of the full batch."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(61)
    net = nn.Sequential(nn.Linear(5, 7), nn.SiLU(), nn.Linear(7, 3)).double()
    full = copy.deepcopy(net)
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    x = L.tensor(normal64(12, 5, seed=62) * 2)
    y = L.tensor(labels(12, 3, seed=63))
    F.cross_entropy(full(x), y).backward()
    norms = []
    for i in range(4):
        with L.autocast("cpu", enabled=False):
            loss = F.cross_entropy(net(x[3 * i:3 * i + 3]), y[3 * i:3 * i + 3]) / 4
        scaler.scale(loss).backward()
    same = L.allclose(net[0].weight.grad, full[0].weight.grad)
    scaler.unscale_(opt)
    norms.append(nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0))
    scaler.step(opt)
    scaler.update()
    opt.zero_grad()
    nn.utils.clip_grad_value_(full.parameters(), clip_value=0.05)
    return same, norms, net[0].weight.grad, net[2].weight, full[0].weight.grad, \
        scaler.get_scale(), scaler.is_enabled()


@program
def activation_checkpointing_of_blocks_matches_plain_backward(L):
    """torch.utils.checkpoint around each residual block (use_reentrant=False, and the
    reentrant form on an input that requires grad) and checkpoint_sequential over a
    Sequential; losses and every gradient equal those of the plain forward."""
    nn = L.nn
    cp = L.utils.checkpoint

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = nn.Sequential(nn.LayerNorm(6), nn.Linear(6, 12), nn.GELU(),
                                   nn.Linear(12, 6))

        def forward(self, x):
            return x + self.f(x)

    L.manual_seed(64)
    blocks = nn.ModuleList(Block() for _ in range(3)).double()
    x0 = normal64(4, 6, seed=65)

    def run(mode):
        for p in blocks.parameters():
            p.grad = None
        x = L.tensor(x0, requires_grad=True)
        h = x
        for b in blocks:
            if mode == "plain":
                h = b(h)
            else:
                h = cp.checkpoint(b, h, use_reentrant=(mode == "reentrant"))
        loss = h.pow(2).sum()
        loss.backward()
        return loss.detach(), x.grad, blocks[1].f[1].weight.grad.clone()

    seq = nn.Sequential(*[Block() for _ in range(4)]).double()
    xs = L.tensor(x0, requires_grad=True)
    out = cp.checkpoint_sequential(seq, 2, xs, use_reentrant=False)
    out.sum().backward()
    return run("plain"), run("nonreentrant"), run("reentrant"), out, xs.grad, \
        seq[3].f[0].weight.grad


# ----------------------------------------------------------------------------------------------
# parametrizations and pruning
# ----------------------------------------------------------------------------------------------
@program
def orthogonal_parametrizations_of_each_map_trained_and_cached(L):
    """nn.utils.parametrizations.orthogonal on square and tall Linear weights with the
    matrix_exp, cayley and householder maps; W^T W stays the identity through two Adam
    steps; parametrize.cached() reuses one weight over two calls; a custom symmetric
    parametrization registered by hand and removed (leaving the parametrized value)."""
    nn = L.nn
    P = nn.utils.parametrize
    orth = nn.utils.parametrizations.orthogonal
    rec = []
    for i, kind in enumerate(("matrix_exp", "cayley", "householder")):
        L.manual_seed(70 + i)
        lin = orth(nn.Linear(4, 4 if i < 2 else 6).double(), orthogonal_map=kind)
        opt = L.optim.Adam(lin.parameters(), lr=0.05)
        x = L.tensor(normal64(5, 4, seed=80 + i))
        for _ in range(2):
            loss = (lin(x) - 1).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        w = lin.weight
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        rec.append((kind, loss.detach(), L.allclose(gram, L.eye(4, dtype=L.float64)),
                    lin.parametrizations.weight.original.grad, w))

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    L.manual_seed(75)
    lin = nn.Linear(3, 3).double()
    P.register_parametrization(lin, "weight", Symmetric())
    x = L.tensor(normal64(2, 3, seed=85))
    with P.cached():
        out = lin(x) + lin(x * 2)
    out.sum().backward()
    g = lin.parametrizations.weight.original.grad
    P.remove_parametrizations(lin, "weight", leave_parametrized=True)
    return rec, g, lin.weight, type(lin.weight).__name__, P.is_parametrized(lin)


@program
def magnitude_pruning_global_and_structured_then_fine_tuning(L):
    """Pruning a small convnet: l1_unstructured on a conv, ln_structured (L2 over output
    channels) on another, global_unstructured by L1 across the linear layers; masks and
    sparsity; a fine-tuning step keeps pruned weights at zero (their grads masked);
    prune.remove makes it permanent; the state dict keys before and after."""
    nn, F = L.nn, L.nn.functional
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(76)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(6 * 4 * 4, 10), nn.ReLU(),
                        nn.Linear(10, 3)).double()
    prune.l1_unstructured(net[0], name="weight", amount=0.3)
    prune.ln_structured(net[2], name="weight", amount=2, n=2, dim=0)
    prune.global_unstructured([(net[5], "weight"), (net[7], "weight")],
                              pruning_method=prune.L1Unstructured, amount=0.5)
    keys = sorted(net.state_dict())
    sparsity = [float((m.weight == 0).sum()) / m.weight.nelement() for m in net
                if hasattr(m, "weight")]
    x = L.tensor(normal64(3, 1, 8, 8, seed=86))
    y = L.tensor(labels(3, 3, seed=87))
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    loss = F.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    zero_kept = bool((net[0].weight[net[0].weight_mask == 0] == 0).all())
    orig_grad = net[2].weight_orig.grad
    for i in (0, 2, 5, 7):
        prune.remove(net[i], "weight")
    return keys, sparsity, net[2].weight_mask if hasattr(net[2], "weight_mask") else None, \
        loss, zero_kept, orig_grad, sorted(net.state_dict()), net[7].weight, \
        prune.is_pruned(net)


# ----------------------------------------------------------------------------------------------
# distributions
# ----------------------------------------------------------------------------------------------
@program
def vae_with_reparameterised_normal_and_analytic_kl(L):
    """A VAE: the encoder gives mean and log-variance, Normal(mu, exp(logvar/2)).rsample()
    with a seeded generator state, the decoder's Bernoulli(logits=...) log-likelihood
    summed over pixels, kl_divergence to Normal(0, 1) summed over latents (and the closed
    form beside it), Independent for event dims; the ELBO's gradients."""
    nn = L.nn
    D = L.distributions
    L.manual_seed(90)
    enc = nn.Sequential(nn.Linear(8, 10), nn.ReLU(), nn.Linear(10, 4)).double()
    dec = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 8)).double()
    x = L.tensor((normal64(5, 8, seed=91) > 0).astype(np.float64))
    mu, logvar = enc(x).chunk(2, dim=-1)
    q = D.Normal(mu, L.exp(0.5 * logvar))
    L.manual_seed(92)
    z = q.rsample()
    px = D.Independent(D.Bernoulli(logits=dec(z)), 1)
    prior = D.Normal(L.zeros_like(mu), L.ones_like(mu))
    kl = D.kl_divergence(q, prior).sum(-1)
    closed = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    elbo = px.log_prob(x) - kl
    (-elbo.mean()).backward()
    qi = D.Independent(q, 1)
    return z, kl, closed, elbo, px.batch_shape, px.event_shape, qi.log_prob(z), \
        qi.entropy(), enc[0].weight.grad, dec[2].bias.grad


@program
def reinforce_with_categorical_policy_baseline_and_entropy_bonus(L):
    """REINFORCE on a fixed toy environment: a policy net gives Categorical(logits=...),
    actions sampled from the global generator, rewards from a table; discounted returns
    computed backwards, normalised; loss -(log_prob * (G - baseline)) - 0.01 entropy, a
    value-net baseline with smooth L1; two episodes of updates."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(93)
    policy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3)).double()
    value = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    opt = L.optim.Adam(list(policy.parameters()) + list(value.parameters()), lr=1e-2)
    states = L.tensor(normal64(6, 4, seed=94))
    reward_table = L.tensor(normal64(6, 3, seed=95))
    rec = []
    for episode in range(2):
        dist = D.Categorical(logits=policy(states))
        actions = dist.sample()
        rewards = reward_table.gather(1, actions[:, None]).squeeze(1)
        G, returns = 0.0, []
        for r in reversed(rewards.tolist()):
            G = r + 0.95 * G
            returns.insert(0, G)
        returns = L.tensor(returns, dtype=L.float64)
        returns = (returns - returns.mean()) / (returns.std() + 1e-8)
        base = value(states).squeeze(-1)
        adv = returns - base.detach()
        loss = -(dist.log_prob(actions) * adv).sum() - 0.01 * dist.entropy().mean() + \
            F.smooth_l1_loss(base, returns)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((actions, returns, loss.detach(), dist.probs))
    return rec, policy[2].weight.grad, value[0].weight.grad


@program
def ppo_clipped_surrogate_with_gae_and_value_clipping(L):
    """PPO: generalised advantage estimation computed backwards over a rollout with done
    flags, the ratio exp(new log prob - old), the clipped surrogate min(r A, clip(r) A), the
    clipped value loss, an entropy bonus; two epochs over two minibatches by fixed index
    splits; the approximate KL and the clip fraction."""
    nn = L.nn
    D = L.distributions
    L.manual_seed(96)
    body = nn.Sequential(nn.Linear(3, 8), nn.Tanh())
    pi, v = nn.Linear(8, 2), nn.Linear(8, 1)
    params = list(body.parameters()) + list(pi.parameters()) + list(v.parameters())
    for m in (body, pi, v):
        m.double()
    opt = L.optim.Adam(params, lr=3e-3, eps=1e-5)
    T = 8
    obs = L.tensor(normal64(T, 3, seed=97))
    rewards = L.tensor(normal64(T, seed=98))
    dones = L.tensor([0, 0, 1, 0, 0, 0, 1, 0], dtype=L.float64)
    with L.no_grad():
        h = body(obs)
        d0 = D.Categorical(logits=pi(h))
        acts = d0.sample()
        old_lp, old_v = d0.log_prob(acts), v(h).squeeze(-1)
    adv = L.zeros(T, dtype=L.float64)
    last = 0.0
    for t in reversed(range(T)):
        nxt = old_v[t + 1] if t + 1 < T else 0.0
        nonterm = 1.0 - dones[t]
        delta = rewards[t] + 0.99 * nxt * nonterm - old_v[t]
        last = delta + 0.99 * 0.95 * nonterm * last
        adv[t] = last
    ret = adv + old_v
    rec = []
    for epoch in range(2):
        for mb in (L.tensor([0, 2, 4, 6]), L.tensor([1, 3, 5, 7])):
            h = body(obs[mb])
            dist = D.Categorical(logits=pi(h))
            lp = dist.log_prob(acts[mb])
            ratio = (lp - old_lp[mb]).exp()
            a = (adv[mb] - adv[mb].mean()) / (adv[mb].std() + 1e-8)
            pg = -L.min(ratio * a, L.clamp(ratio, 0.8, 1.2) * a).mean()
            vnew = v(h).squeeze(-1)
            vclip = old_v[mb] + L.clamp(vnew - old_v[mb], -0.2, 0.2)
            vloss = 0.5 * L.max((vnew - ret[mb]) ** 2, (vclip - ret[mb]) ** 2).mean()
            loss = pg + 0.5 * vloss - 0.01 * dist.entropy().mean()
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            with L.no_grad():
                kl = ((ratio - 1) - (lp - old_lp[mb])).mean()
                frac = ((ratio - 1.0).abs() > 0.2).float().mean()
            rec.append((loss.detach(), kl, frac))
    return acts, adv, rec, pi.weight



# ----------------------------------------------------------------------------------------------
# sequence models
# ----------------------------------------------------------------------------------------------
@program
def seq2seq_gru_with_bahdanau_attention_teacher_forcing_and_padding(L):
    """An encoder GRU over pad_sequence'd sources (packed, sorted lengths), a decoder
    GRUCell with additive attention over the encoder outputs masked at the padding,
    teacher forcing for the first two steps then greedy feedback (argmax, detached);
    the summed cross entropy ignoring target padding."""
    nn, F = L.nn, L.nn.functional
    rnn = nn.utils.rnn
    V, H = 9, 6
    L.manual_seed(100)
    emb = nn.Embedding(V, H, padding_idx=0)
    enc = nn.GRU(H, H, batch_first=True)
    cell = nn.GRUCell(2 * H, H)
    Wa, Ua, va = nn.Linear(H, H, bias=False), nn.Linear(H, H), nn.Linear(H, 1, bias=False)
    out = nn.Linear(2 * H, V)
    mods = nn.ModuleList([emb, enc, cell, Wa, Ua, va, out]).double()
    srcs = [L.tensor([3, 4, 5, 6]), L.tensor([7, 2, 8]), L.tensor([5, 1])]
    src = rnn.pad_sequence(srcs, batch_first=True)
    lens = L.tensor([len(t) for t in srcs])
    tgt = L.tensor([[2, 3, 4, 1], [5, 6, 1, 0], [7, 1, 0, 0]])
    packed = rnn.pack_padded_sequence(emb(src), lens, batch_first=True)
    enc_out, h = enc(packed)
    enc_out, _ = rnn.pad_packed_sequence(enc_out, batch_first=True)
    h = h[0]
    mask = src != 0
    keys = Ua(enc_out)
    prev = L.ones(3, dtype=L.long)
    loss, preds, attns = 0, [], []
    for t in range(tgt.size(1)):
        score = va(L.tanh(Wa(h).unsqueeze(1) + keys)).squeeze(-1)
        a = F.softmax(score.masked_fill(~mask, -1e9), dim=-1)
        ctx = L.bmm(a.unsqueeze(1), enc_out).squeeze(1)
        h = cell(L.cat([emb(prev), ctx], -1), h)
        logits = out(L.cat([h, ctx], -1))
        loss = loss + F.cross_entropy(logits, tgt[:, t], ignore_index=0, reduction="sum")
        prev = tgt[:, t] if t < 2 else logits.argmax(-1).detach()
        preds.append(prev)
        attns.append(a)
    loss.backward()
    return loss, L.stack(preds, 1), L.stack(attns, 1), mods[0].weight.grad, \
        enc.weight_hh_l0.grad, va.weight.grad


@program
def full_transformer_with_causal_and_padding_masks_and_greedy_decoding(L):
    """nn.Transformer (batch first, post-norm, ReLU) with a causal target mask from
    generate_square_subsequent_mask, source and target key padding masks and the memory
    mask; label-smoothed loss over shifted targets ignoring padding; then greedy decoding
    of three steps with the encoder's memory reused."""
    nn, F = L.nn, L.nn.functional
    V, D = 10, 8
    L.manual_seed(101)
    model = nn.Transformer(d_model=D, nhead=2, num_encoder_layers=1, num_decoder_layers=2,
                           dim_feedforward=16, dropout=0.0, batch_first=True).double()
    emb = nn.Embedding(V, D, padding_idx=0).double()
    gen = nn.Linear(D, V).double()
    src = L.tensor([[4, 5, 6, 7], [8, 9, 0, 0]])
    tgt = L.tensor([[1, 3, 4, 2], [1, 5, 2, 0]])
    tin, tout = tgt[:, :-1], tgt[:, 1:]
    causal = nn.Transformer.generate_square_subsequent_mask(3, dtype=L.float64)
    h = model(emb(src), emb(tin), tgt_mask=causal, src_key_padding_mask=src == 0,
              tgt_key_padding_mask=tin == 0, memory_key_padding_mask=src == 0)
    logits = gen(h)
    loss = F.cross_entropy(logits.reshape(-1, V), tout.reshape(-1), ignore_index=0,
                           label_smoothing=0.1)
    loss.backward()
    model.eval()
    with L.no_grad():
        memory = model.encoder(emb(src), src_key_padding_mask=src == 0)
        ys = L.ones(2, 1, dtype=L.long)
        for _ in range(3):
            m = nn.Transformer.generate_square_subsequent_mask(ys.size(1), dtype=L.float64)
            o = model.decoder(emb(ys), memory, tgt_mask=m,
                              memory_key_padding_mask=src == 0)
            ys = L.cat([ys, gen(o[:, -1]).argmax(-1, keepdim=True)], dim=1)
    return causal, loss, logits, ys, model.decoder.layers[1].multihead_attn.in_proj_weight.grad, \
        emb.weight.grad


@program
def lstm_language_model_with_projection_truncated_bptt_and_adaptive_softmax(L):
    """A word LM: an LSTM with proj_size carrying its (h, c) across BPTT windows detached
    between them, dropout in eval, AdaptiveLogSoftmaxWithLoss with two cutoffs over the
    vocabulary; perplexity from its loss; log_prob and predict of the adaptive head."""
    nn = L.nn
    V = 20
    L.manual_seed(102)
    emb = nn.Embedding(V, 6).double()
    lstm = nn.LSTM(6, 8, num_layers=2, proj_size=5, dropout=0.0).double()
    head = nn.AdaptiveLogSoftmaxWithLoss(5, V, cutoffs=[5, 12], div_value=2.0).double()
    opt = L.optim.SGD(list(emb.parameters()) + list(lstm.parameters()) +
                      list(head.parameters()), lr=0.5)
    stream = L.tensor(np.random.RandomState(103).randint(0, V, (13, 2)))
    hidden = None
    rec = []
    for start in (0, 4, 8):
        x, y = stream[start:start + 4], stream[start + 1:start + 5]
        if hidden is not None:
            hidden = tuple(t.detach() for t in hidden)
        out, hidden = lstm(emb(x), hidden)
        res = head(out.reshape(-1, 5), y.reshape(-1))
        opt.zero_grad()
        res.loss.backward()
        nn.utils.clip_grad_norm_(lstm.parameters(), 0.25)
        opt.step()
        rec.append((res.loss.detach(), math.exp(res.loss.item()), res.output.detach()))
    with L.no_grad():
        flat = out.reshape(-1, 5)
        lp = head.log_prob(flat)
        pred = head.predict(flat)
    return rec, hidden[0].shape, hidden[1].shape, lp, pred, lstm.weight_hr_l1, \
        head.tail[1][0].weight


@program
def ctc_acoustic_model_over_log_softmax_frames(L):
    """A 1-d conv + BiLSTM acoustic model emitting per-frame log-probabilities (T, N, C),
    CTC loss against concatenated targets with per-utterance input and target lengths
    (blank 0, zero_infinity, mean and sum reductions); greedy CTC decoding by collapsing
    repeats and dropping blanks."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(104)
    conv = nn.Conv1d(4, 6, 3, padding=1).double()
    lstm = nn.LSTM(6, 5, bidirectional=True).double()
    proj = nn.Linear(10, 5).double()
    feats = L.tensor(normal64(2, 4, 12, seed=105))
    h = F.relu(conv(feats)).permute(2, 0, 1)
    out, _ = lstm(h)
    logp = proj(out).log_softmax(-1)
    targets = L.tensor([1, 2, 2, 3, 4, 1, 3])
    in_lens, tgt_lens = L.tensor([12, 10]), L.tensor([4, 3])
    mean = F.ctc_loss(logp, targets, in_lens, tgt_lens, blank=0, zero_infinity=True)
    total = nn.CTCLoss(reduction="sum")(logp, targets, in_lens, tgt_lens)
    (mean + 0.1 * total).backward()
    best = logp.argmax(-1).T
    decoded = []
    for row, n in zip(best.tolist(), in_lens.tolist()):
        seq, prev = [], None
        for c in row[:n]:
            if c != prev and c != 0:
                seq.append(c)
            prev = c
        decoded.append(seq)
    return mean, total, decoded, conv.weight.grad, lstm.weight_ih_l0_reverse.grad


@program
def linear_chain_crf_forward_algorithm_and_viterbi_decoding(L):
    """A BiLSTM-CRF tagger: emissions from a linear layer, the log partition by the forward
    algorithm (logsumexp over previous tags, masked steps keep the old score), the gold
    path score gathered from emissions and transitions, NLL = logZ - gold; Viterbi by max
    and argmax with back-pointers followed backwards."""
    nn = L.nn
    K = 4
    L.manual_seed(106)
    lstm = nn.LSTM(3, 4, batch_first=True, bidirectional=True).double()
    emit = nn.Linear(8, K).double()
    trans = nn.Parameter(L.randn(K, K, dtype=L.float64) * 0.5)
    start = nn.Parameter(L.randn(K, dtype=L.float64) * 0.5)
    x = L.tensor(normal64(2, 5, 3, seed=107))
    tags = L.tensor([[0, 1, 2, 3, 1], [2, 2, 1, 0, 0]])
    mask = L.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=L.bool)
    e = emit(lstm(x)[0])
    score = start + e[:, 0]
    for t in range(1, 5):
        nxt = L.logsumexp(score.unsqueeze(2) + trans + e[:, t].unsqueeze(1), dim=1)
        score = L.where(mask[:, t].unsqueeze(1), nxt, score)
    logZ = L.logsumexp(score, dim=1)
    gold = start[tags[:, 0]] + e[:, 0].gather(1, tags[:, :1]).squeeze(1)
    for t in range(1, 5):
        step = trans[tags[:, t - 1], tags[:, t]] + e[:, t].gather(1, tags[:, t:t + 1]).squeeze(1)
        gold = gold + step * mask[:, t]
    nll = (logZ - gold).mean()
    nll.backward()
    with L.no_grad():
        v = start + e[:, 0]
        back = []
        for t in range(1, 5):
            best, arg = (v.unsqueeze(2) + trans).max(dim=1)
            back.append(arg)
            v = L.where(mask[:, t].unsqueeze(1), best + e[:, t], v)
        last = v.argmax(1)
        paths = [last]
        for t in range(3, -1, -1):
            prev = back[t].gather(1, paths[-1].unsqueeze(1)).squeeze(1)
            paths.append(L.where(mask[:, t + 1], prev, paths[-1]))
        path = L.stack(paths[::-1], 1)
    return logZ, gold, nll, path, trans.grad, start.grad, emit.weight.grad



# ----------------------------------------------------------------------------------------------
# graphs, point sets, flows, ODEs
# ----------------------------------------------------------------------------------------------
@program
def gcn_and_gat_layers_by_message_passing_with_scatter(L):
    """Graph layers without a graph library: GCN by the symmetric-normalised adjacency with
    self loops (degrees by index_add_), messages gathered by edge index and summed by
    index_add; GAT scores by LeakyReLU of concatenated endpoint features, a softmax per
    target node from scatter_reduce amax and index_add sums; node classification loss."""
    nn, F = L.nn, L.nn.functional
    N = 6
    src = L.tensor([0, 1, 1, 2, 3, 4, 5, 0, 2, 4])
    dst = L.tensor([1, 0, 2, 1, 4, 3, 0, 5, 3, 5])
    loops = L.arange(N)
    s_all, d_all = L.cat([src, loops]), L.cat([dst, loops])
    L.manual_seed(110)
    W1, W2 = nn.Linear(4, 6, bias=False).double(), nn.Linear(6, 3).double()
    a = nn.Parameter(L.randn(12, dtype=L.float64) * 0.3)
    x = L.tensor(normal64(N, 4, seed=111))
    deg = L.zeros(N, dtype=L.float64).index_add_(0, d_all, L.ones(len(d_all), dtype=L.float64))
    norm = deg[s_all].rsqrt() * deg[d_all].rsqrt()
    h = W1(x)
    msg = h[s_all] * norm[:, None]
    h1 = F.relu(L.zeros(N, 6, dtype=L.float64).index_add(0, d_all, msg))
    e = F.leaky_relu(L.cat([h1[s_all], h1[d_all]], 1) @ a, 0.2)
    emax = L.full((N,), -float("inf"), dtype=L.float64).scatter_reduce(
        0, d_all, e, reduce="amax", include_self=True)
    w = (e - emax[d_all]).exp()
    denom = L.zeros(N, dtype=L.float64).index_add(0, d_all, w)
    alpha = w / denom[d_all]
    h2 = L.zeros(N, 6, dtype=L.float64).index_add(0, d_all, alpha[:, None] * h1[s_all])
    logits = W2(h2)
    y = L.tensor([0, 1, 2, 0, 1, 2])
    loss = F.cross_entropy(logits[:4], y[:4])
    loss.backward()
    return deg, alpha, logits, loss, W1.weight.grad, a.grad



@program
def gcn_over_a_sparse_normalised_adjacency(L):
    """A GCN whose adjacency is a sparse COO tensor: degrees by torch.sparse.sum, the
    symmetric normalisation written into a new sparse tensor's values, propagation by
    torch.sparse.mm and by sparse @ dense twice, sparse.softmax over rows, sparse.addmm;
    gradients reach the dense features and the weights; a sparse Embedding under SGD."""
    nn = L.nn
    idx = L.tensor([[0, 1, 1, 2, 3, 0, 2, 3], [1, 0, 2, 1, 0, 3, 3, 2]])
    val = L.ones(8, dtype=L.float64)
    A = L.sparse_coo_tensor(idx, val, (4, 4)).coalesce()
    deg = L.sparse.sum(A, dim=1).to_dense()
    An = L.sparse_coo_tensor(idx, val / (deg[idx[0]].sqrt() * deg[idx[1]].sqrt()), (4, 4))
    L.manual_seed(350)
    W = nn.Linear(3, 2).double()
    x = L.tensor(normal64(4, 3, seed=351), requires_grad=True)
    h = L.sparse.mm(An, W(x))
    h2 = An @ h
    sm = L.sparse.softmax(A * 2.0, dim=1).to_dense()
    h2.pow(2).sum().backward()
    emb = nn.Embedding(5, 2, sparse=True).double()
    opt = L.optim.SGD(emb.parameters(), lr=0.1)
    emb(L.tensor([1, 1, 3])).sum().backward()
    opt.step()
    return deg, h, h2, sm, x.grad, W.weight.grad, emb.weight, An.to_dense(), A.indices(), \
        L.sparse.addmm(L.zeros(4, 2, dtype=L.float64), An, h.detach())

@program
def pointnet_with_input_transform_net_and_orthogonality_regulariser(L):
    """PointNet classification: a T-Net (shared MLP by Conv1d, max over points, an FC
    head) predicting a 3x3 transform added to the identity, applied by bmm; a shared
    feature MLP with BatchNorm1d, global max pooling with the argmax points, the
    regulariser ||A A^T - I||; the invariance of the output to a permutation of points."""
    nn, F = L.nn, L.nn.functional

    class TNet(nn.Module):
        def __init__(self, k):
            super().__init__()
            self.k = k
            self.mlp = nn.Sequential(nn.Conv1d(k, 8, 1), nn.ReLU(), nn.Conv1d(8, 16, 1))
            self.fc = nn.Linear(16, k * k)

        def forward(self, x):
            g = self.mlp(x).max(dim=2)[0]
            return self.fc(g).view(-1, self.k, self.k) + L.eye(self.k, dtype=x.dtype)

    L.manual_seed(112)
    tnet = TNet(3).double()
    feat = nn.Sequential(nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8), nn.ReLU(),
                         nn.Conv1d(8, 16, 1)).double().eval()
    head = nn.Linear(16, 4).double()
    pts = L.tensor(normal64(2, 3, 10, seed=113), requires_grad=True)

    def classify(p):
        A = tnet(p)
        q = L.bmm(A, p)
        f, where = feat(q).max(dim=2)
        return head(f), A, where

    out, A, where = classify(pts)
    reg = L.linalg.norm(L.bmm(A, A.transpose(2, 1)) - L.eye(3, dtype=L.float64), dim=(1, 2))
    perm = L.tensor(np.random.RandomState(114).permutation(10))
    out_p = classify(pts[:, :, perm])[0]
    (F.cross_entropy(out, L.tensor([1, 3])) + 0.001 * reg.mean()).backward()
    return out, where, reg, L.allclose(out, out_p), pts.grad, tnet.fc.weight.grad


@program
def realnvp_affine_couplings_with_log_determinant(L):
    """RealNVP on 4-d data: alternating binary masks, each coupling scaling the free half by
    exp(tanh-bounded s(x_masked)) and shifting by t; the log-determinant summed over
    couplings; the exact log-likelihood under a standard Normal base; the inverse pass
    recovers the input; sampling from the base pushed through the inverse."""
    nn = L.nn
    D = L.distributions

    class Coupling(nn.Module):
        def __init__(self, mask):
            super().__init__()
            self.register_buffer("mask", mask)
            self.s = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.Tanh())
            self.t = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4))

        def forward(self, x):
            xm = x * self.mask
            s, t = self.s(xm) * (1 - self.mask), self.t(xm) * (1 - self.mask)
            return xm + (1 - self.mask) * (x * L.exp(s) + t), s.sum(dim=1)

        def inverse(self, y):
            ym = y * self.mask
            s, t = self.s(ym) * (1 - self.mask), self.t(ym) * (1 - self.mask)
            return ym + (1 - self.mask) * (y - t) * L.exp(-s)

    L.manual_seed(115)
    masks = [L.tensor([1.0, 0, 1, 0]), L.tensor([0.0, 1, 0, 1])] * 2
    flows = nn.ModuleList(Coupling(m) for m in masks).double()
    base = D.MultivariateNormal(L.zeros(4, dtype=L.float64), L.eye(4, dtype=L.float64))
    x = L.tensor(normal64(6, 4, seed=116) * [1.0, 2.0, 0.5, 1.0] + 0.3)
    z, logdet = x, 0
    for f in flows:
        z, ld = f(z)
        logdet = logdet + ld
    logp = base.log_prob(z) + logdet
    (-logp.mean()).backward()
    with L.no_grad():
        back = z
        for f in reversed(flows):
            back = f.inverse(back)
        L.manual_seed(117)
        samp = base.sample((3,))
        for f in reversed(flows):
            samp = f.inverse(samp)
    return logp, logdet, L.allclose(back, x), samp, flows[0].s[0].weight.grad, \
        flows[3].t[2].bias.grad


@program
def neural_ode_rk4_integration_backpropagated_through_the_solver(L):
    """A neural ODE dz/dt = f(t, z) with time concatenated to the state, integrated by
    fixed-step RK4 over [0, 1] (8 steps), the trajectory kept; the loss on the end state
    backpropagated through every stage; Euler's end state beside it."""
    nn = L.nn

    class Field(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 16), nn.Softplus(), nn.Linear(16, 2))

        def forward(self, t, z):
            tt = L.full_like(z[:, :1], t)
            return self.net(L.cat([z, tt], dim=1))

    def rk4(f, z, t0, t1, n):
        hstep = (t1 - t0) / n
        traj, t = [z], t0
        for _ in range(n):
            k1 = f(t, z)
            k2 = f(t + hstep / 2, z + hstep / 2 * k1)
            k3 = f(t + hstep / 2, z + hstep / 2 * k2)
            k4 = f(t + hstep, z + hstep * k3)
            z = z + hstep / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            t += hstep
            traj.append(z)
        return L.stack(traj)

    L.manual_seed(118)
    f = Field().double()
    z0 = L.tensor(normal64(4, 2, seed=119), requires_grad=True)
    traj = rk4(f, z0, 0.0, 1.0, 8)
    target = L.tensor([[1.0, -1.0]], dtype=L.float64)
    loss = ((traj[-1] - target) ** 2).sum(1).mean()
    loss.backward()
    with L.no_grad():
        z = z0
        for i in range(8):
            z = z + 0.125 * f(i * 0.125, z)
    return traj, loss, z0.grad, f.net[0].weight.grad, z


# ----------------------------------------------------------------------------------------------
# inputs optimised directly
# ----------------------------------------------------------------------------------------------
@program
def neural_style_transfer_on_the_image_with_lbfgs_gram_and_tv_losses(L):
    """Style transfer: a frozen feature net with forward hooks collecting activations, Gram
    matrices (features @ features^T over channels, normalised by size), content and style
    MSE losses plus total variation; the image itself optimised by LBFGS with a closure
    (strong Wolfe line search); the pixel clamp in place under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(120)
    feats = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2),
                          nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()).double().eval()
    for p in feats.parameters():
        p.requires_grad_(False)
    store = {}
    for i in (1, 4):
        feats[i].register_forward_hook(lambda m, inp, out, i=i: store.__setitem__(i, out))

    def gram(t):
        b, c, h, w = t.shape
        f = t.reshape(b, c, h * w)
        return f @ f.transpose(1, 2) / (c * h * w)

    content = L.tensor(np.random.RandomState(121).rand(1, 3, 8, 8))
    style = L.tensor(np.random.RandomState(122).rand(1, 3, 8, 8))
    feats(content)
    c_target = store[4].detach()
    feats(style)
    s_targets = {i: gram(store[i]).detach() for i in (1, 4)}
    img = content.clone().requires_grad_(True)
    opt = L.optim.LBFGS([img], lr=0.5, max_iter=5, history_size=4,
                        line_search_fn="strong_wolfe")
    rec = []

    def closure():
        opt.zero_grad()
        feats(img)
        c_loss = F.mse_loss(store[4], c_target)
        s_loss = sum(F.mse_loss(gram(store[i]), s_targets[i]) for i in (1, 4))
        tv = (img[..., 1:, :] - img[..., :-1, :]).abs().mean() + \
            (img[..., 1:] - img[..., :-1]).abs().mean()
        loss = c_loss + 1e3 * s_loss + 0.01 * tv
        loss.backward()
        rec.append(loss.item())
        return loss

    for _ in range(2):
        opt.step(closure)
        with L.no_grad():
            img.clamp_(0, 1)
    return rec, img, opt.state_dict()["state"][0]["n_iter"]


@program
def fgsm_and_projected_gradient_descent_adversarial_examples(L):
    """Adversarial attacks on a small classifier in eval mode: FGSM x + eps sign(grad), and
    PGD with a seeded uniform random start inside the eps ball, steps of alpha sign(grad),
    projection by clamping to [x - eps, x + eps] and to [0, 1]; robust accuracy; then
    adversarial training one step on the PGD batch."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(123)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3)).double()
    x = L.tensor(np.random.RandomState(124).rand(5, 1, 4, 4))
    y = L.tensor(labels(5, 3, seed=125))
    eps, alpha = 0.1, 0.03
    net.eval()
    xa = x.clone().requires_grad_(True)
    F.cross_entropy(net(xa), y).backward()
    fgsm = (x + eps * xa.grad.sign()).clamp(0, 1).detach()
    adv = (x + L.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(4):
        adv.requires_grad_(True)
        loss = F.cross_entropy(net(adv), y)
        g, = L.autograd.grad(loss, [adv])
        adv = adv.detach() + alpha * g.sign()
        adv = L.min(L.max(adv, x - eps), x + eps).clamp(0.0, 1.0)
    with L.no_grad():
        robust = (net(adv).argmax(1) == y).double().mean()
        clean = (net(x).argmax(1) == y).double().mean()
    net.train()
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    F.cross_entropy(net(adv), y).backward()
    opt.step()
    return fgsm, adv, robust, clean, (adv - x).abs().max(), net[1].weight


# ----------------------------------------------------------------------------------------------
# self-supervised and embeddings
# ----------------------------------------------------------------------------------------------
@program
def simclr_nt_xent_loss_over_two_views(L):
    """SimCLR: two views of a batch through an encoder and projection head, normalised;
    the 2N x 2N cosine similarity divided by a temperature, the diagonal masked with -inf
    by fill_diagonal_, positives at i +- N; NT-Xent as cross entropy with those targets;
    LARS-free SGD step; the alignment and uniformity metrics under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(126)
    enc = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU()).double()
    proj = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 4)).double()
    base = normal64(5, 6, seed=127)
    v1 = L.tensor(base + 0.1 * normal64(5, 6, seed=128))
    v2 = L.tensor(base * 0.9 + 0.1 * normal64(5, 6, seed=129))
    z = F.normalize(proj(enc(L.cat([v1, v2]))), dim=1)
    N = 5
    sim = z @ z.T / 0.5
    sim.fill_diagonal_(float("-inf"))
    target = L.cat([L.arange(N, 2 * N), L.arange(N)])
    loss = F.cross_entropy(sim, target)
    opt = L.optim.SGD(list(enc.parameters()) + list(proj.parameters()), lr=0.1,
                      momentum=0.9, weight_decay=1e-4)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with L.no_grad():
        align = (z[:N] - z[N:]).norm(dim=1).pow(2).mean()
        uniform = L.pdist(z, p=2).pow(2).mul(-2).exp().mean().log()
    return sim, loss, align, uniform, proj[2].weight.grad, enc[1].running_mean


@program
def skip_gram_negative_sampling_with_sparse_embeddings_and_sparse_adam(L):
    """word2vec's skip-gram with negative sampling: input and output Embeddings with
    sparse=True, the loss -log sigma(u.v) - sum log sigma(-u.n) by logsigmoid over batched
    dot products (bmm), SparseAdam on the two tables; the sparse gradient's rows and
    values; only the rows touched move."""
    nn, F = L.nn, L.nn.functional
    V, Dm = 12, 4
    L.manual_seed(130)
    emb_in = nn.Embedding(V, Dm, sparse=True).double()
    emb_out = nn.Embedding(V, Dm, sparse=True).double()
    nn.init.uniform_(emb_in.weight, -0.5 / Dm, 0.5 / Dm)
    opt = L.optim.SparseAdam(list(emb_in.parameters()) + list(emb_out.parameters()), lr=0.1)
    centers = L.tensor([1, 3, 5, 1])
    contexts = L.tensor([2, 4, 6, 0])
    negatives = L.tensor([[7, 8], [9, 10], [11, 7], [8, 9]])
    before = emb_out.weight.detach().clone()
    rec = []
    for _ in range(2):
        u = emb_in(centers)
        pos = F.logsigmoid((u * emb_out(contexts)).sum(1))
        neg = F.logsigmoid(-L.bmm(emb_out(negatives), u.unsqueeze(2)).squeeze(2)).sum(1)
        loss = -(pos + neg).mean()
        opt.zero_grad()
        loss.backward()
        g = emb_in.weight.grad.coalesce()
        rec.append((loss.detach(), g.indices(), g.values(), g.is_sparse))
        opt.step()
    moved = (emb_out.weight.detach() != before).any(1)
    return rec, moved, emb_in.weight, emb_out.weight



# ----------------------------------------------------------------------------------------------
# newer vision backbones
# ----------------------------------------------------------------------------------------------
@program
def vit_patch_embedding_cls_token_and_interpolated_position_embedding(L):
    """A tiny ViT: patches by F.unfold and by a strided Conv2d (the same numbers once the
    conv weight is the unfolded linear weight), a class token expanded over the batch,
    learned position embeddings resized by bicubic interpolation to a larger grid for a
    larger image, pre-norm blocks from nn.MultiheadAttention; the head reads the class
    token."""
    nn, F = L.nn, L.nn.functional
    P, Dm = 4, 8
    L.manual_seed(140)
    conv = nn.Conv2d(3, Dm, P, stride=P).double()
    cls = nn.Parameter(L.zeros(1, 1, Dm, dtype=L.float64))
    nn.init.trunc_normal_(cls, std=0.02)
    pos = nn.Parameter(L.randn(1, 1 + 4, Dm, dtype=L.float64) * 0.02)
    norm1, norm2 = nn.LayerNorm(Dm).double(), nn.LayerNorm(Dm).double()
    attn = nn.MultiheadAttention(Dm, 2, batch_first=True).double()
    mlp = nn.Sequential(nn.Linear(Dm, 16), nn.GELU(approximate="tanh"),
                        nn.Linear(16, Dm)).double()
    head = nn.Linear(Dm, 3).double()
    img = L.tensor(normal64(2, 3, 8, 8, seed=141))
    by_unfold = F.unfold(img, kernel_size=P, stride=P).transpose(1, 2) @ \
        conv.weight.reshape(Dm, -1).T + conv.bias
    tokens = conv(img).flatten(2).transpose(1, 2)

    def run(tok, pos_emb):
        x = L.cat([cls.expand(tok.shape[0], -1, -1), tok], dim=1) + pos_emb
        y = norm1(x)
        a, w = attn(y, y, y, need_weights=True, average_attn_weights=False)
        x = x + a
        x = x + mlp(norm2(x))
        return head(x[:, 0]), w

    out, w = run(tokens, pos)
    grid = pos[:, 1:].reshape(1, 2, 2, Dm).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(3, 3), mode="bicubic", align_corners=False)
    pos_big = L.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, 9, Dm)], dim=1)
    big = L.tensor(normal64(1, 3, 12, 12, seed=142))
    out_big, _ = run(conv(big).flatten(2).transpose(1, 2), pos_big)
    (out.sum() + out_big.pow(2).sum()).backward()
    return L.allclose(by_unfold, tokens), out, w.shape, out_big, pos.grad, cls.grad, \
        attn.out_proj.weight.grad


@program
def convnext_blocks_with_channels_last_layernorm_layer_scale_and_drop_path(L):
    """ConvNeXt blocks: a 7x7 depthwise conv, permute to channels-last for LayerNorm and
    the pointwise MLP (Linear 4x, GELU), a layer-scale vector, permute back, stochastic
    depth (a per-sample uniform draw from the global generator against the drop rate) in
    training and identity in eval; a downsampling LayerNorm over channels_first by hand."""
    nn, F = L.nn, L.nn.functional

    def drop_path(x, p, training):
        # stochastic depth: whole samples dropped (a uniform draw per sample under p), the
        # kept ones scaled by 1 / (1 - p); the identity in eval
        if not training or p == 0.0:
            return x
        per_sample = (x.shape[0],) + (1,) * (x.ndim - 1)
        kept = (L.rand(per_sample, dtype=x.dtype) >= p).to(x.dtype)
        return x * kept / (1 - p)

    class Block(nn.Module):
        def __init__(self, dim, dp):
            super().__init__()
            self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pw1, self.pw2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(1e-1 * L.ones(dim))
            self.dp = dp

        def forward(self, x):
            h = self.dw(x).permute(0, 2, 3, 1)
            h = self.pw2(F.gelu(self.pw1(self.norm(h)))) * self.gamma
            return x + drop_path(h.permute(0, 3, 1, 2), self.dp, self.training)

    class LNcf(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.w, self.b = nn.Parameter(L.ones(dim)), nn.Parameter(L.zeros(dim))

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            return self.w[:, None, None] * (x - u) / L.sqrt(s + 1e-6) + self.b[:, None, None]

    L.manual_seed(143)
    net = nn.Sequential(nn.Conv2d(3, 4, 2, 2), LNcf(4), Block(4, 0.3), LNcf(4),
                        nn.Conv2d(4, 6, 2, 2), Block(6, 0.3)).double()
    x = L.tensor(normal64(4, 3, 8, 8, seed=144))
    L.manual_seed(145)
    out = net(x)
    out.square().mean().backward()
    net.eval()
    with L.no_grad():
        ev = net(x)
    return out, ev, net[2].gamma.grad, net[5].dw.weight.grad, net[1].w.grad


@program
def swin_window_partition_shifted_by_roll_with_relative_position_bias(L):
    """Swin attention pieces: windows cut by view/permute, a cyclic shift by torch.roll, the
    attention mask for shifted windows from region ids, relative position indices from
    meshgrid coordinates into a learned bias table; windows merged back and unrolled."""
    nn, F = L.nn, L.nn.functional
    Wn, C, H = 2, 4, 4
    coords = L.stack(L.meshgrid(L.arange(Wn), L.arange(Wn), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    rel[:, :, 0] += Wn - 1
    rel[:, :, 1] += Wn - 1
    rel[:, :, 0] *= 2 * Wn - 1
    index = rel.sum(-1)
    L.manual_seed(146)
    table = nn.Parameter(L.randn((2 * Wn - 1) ** 2, 2, dtype=L.float64) * 0.02)
    qkv = nn.Linear(C, 3 * C).double()

    def partition(x):
        B = x.shape[0]
        x = x.view(B, H // Wn, Wn, H // Wn, Wn, C).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(-1, Wn * Wn, C)

    def merge(w, B):
        x = w.view(B, H // Wn, H // Wn, Wn, Wn, C).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(B, H, H, C)

    img = L.zeros(1, H, H, 1)
    cnt = 0
    for hs in (slice(0, -Wn), slice(-Wn, -1), slice(-1, None)):
        for ws in (slice(0, -Wn), slice(-Wn, -1), slice(-1, None)):
            img[:, hs, ws, :] = cnt
            cnt += 1
    mw = img.view(1, H // Wn, Wn, H // Wn, Wn, 1).permute(0, 1, 3, 2, 4, 5).reshape(-1, Wn * Wn)
    amask = (mw.unsqueeze(1) - mw.unsqueeze(2))
    amask = amask.masked_fill(amask != 0, -100.0).masked_fill(amask == 0, 0.0)
    x = L.tensor(normal64(2, H, H, C, seed=147), requires_grad=True)
    shifted = L.roll(x, shifts=(-1, -1), dims=(1, 2))
    win = partition(shifted)
    q, k, v = qkv(win).reshape(win.shape[0], Wn * Wn, 3, 2, C // 2).permute(2, 0, 3, 1, 4)
    att = (q * (C // 2) ** -0.5) @ k.transpose(-2, -1)
    bias = table[index.view(-1)].view(Wn * Wn, Wn * Wn, -1).permute(2, 0, 1)
    att = att + bias.unsqueeze(0)
    nW = amask.shape[0]
    att = att.view(-1, nW, 2, Wn * Wn, Wn * Wn) + amask.unsqueeze(1).unsqueeze(0)
    att = F.softmax(att.view(-1, 2, Wn * Wn, Wn * Wn), dim=-1)
    o = (att @ v).transpose(1, 2).reshape(-1, Wn * Wn, C)
    out = L.roll(merge(o, 2), shifts=(1, 1), dims=(1, 2))
    out.pow(2).sum().backward()
    return index, amask, out, x.grad, table.grad


# ----------------------------------------------------------------------------------------------
# continuous control, ensembles, privacy
# ----------------------------------------------------------------------------------------------
@program
def sac_squashed_gaussian_policy_with_tanh_log_prob_correction(L):
    """SAC's actor: a Gaussian with clamped log-std, rsample, tanh squashing with the
    log-prob correction log(1 - tanh(u)^2 + eps) (and the numerically stable
    2(log 2 - u - softplus(-2u)) form), versus TransformedDistribution with TanhTransform;
    twin Q critics, the min target with the entropy term, soft target updates by lerp_."""
    nn, F = L.nn, L.nn.functional
    D = L.distributions
    L.manual_seed(150)
    actor = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 4)).double()
    q1, q2 = (nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1)).double()
              for _ in range(2))
    targ = copy.deepcopy(q1)
    s = L.tensor(normal64(6, 3, seed=151))
    mu, log_std = actor(s).chunk(2, -1)
    log_std = log_std.clamp(-5, 2)
    normal = D.Normal(mu, log_std.exp())
    L.manual_seed(152)
    u = normal.rsample()
    a = L.tanh(u)
    logp = (normal.log_prob(u) - L.log(1 - a.pow(2) + 1e-6)).sum(-1)
    logp2 = (normal.log_prob(u) - 2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    squashed = D.TransformedDistribution(D.Normal(mu, log_std.exp()),
                                         [D.transforms.TanhTransform(cache_size=1)])
    logp3 = squashed.log_prob(a).sum(-1)
    sa = L.cat([s, a], -1)
    qmin = L.min(q1(sa), q2(sa)).squeeze(-1)
    actor_loss = (0.2 * logp2 - qmin).mean()
    actor_loss.backward()
    with L.no_grad():
        for pt, p in zip(targ.parameters(), q1.parameters()):
            pt.lerp_(p + 0.1, 0.005)
    return a, logp, logp2, logp3, actor_loss, actor[2].weight.grad, targ[0].weight


@program
def model_ensemble_by_stacked_state_and_vmapped_functional_call(L):
    """Ensembling by torch.func: stack_module_state over four same-shaped MLPs, a stateless
    base on the meta device, vmap over (params, buffers) of functional_call, the same
    minibatch to all (in_dims None) and a different minibatch to each; equals a loop."""
    nn = L.nn
    fn = L.func
    models = []
    for i in range(4):
        L.manual_seed(160 + i)
        models.append(nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double())
    params, buffers = fn.stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def call(p, b, x):
        return fn.functional_call(base, (p, b), (x,))

    x = L.tensor(normal64(6, 3, seed=164))
    xs = L.tensor(normal64(4, 6, 3, seed=165))
    same = fn.vmap(call, in_dims=(0, 0, None))(params, buffers, x)
    each = fn.vmap(call)(params, buffers, xs)
    loop = L.stack([m(x) for m in models])
    each.sum().backward()
    return same, each, L.allclose(same, loop), sorted(params), params["0.weight"].shape, \
        params["2.weight"].grad


@program
def dp_sgd_per_sample_gradients_clipped_and_noised(L):
    """DP-SGD: per-sample gradients by vmap(grad(loss of functional_call)) over the batch,
    per-sample norms across all parameters, each sample's gradient clipped to C, summed,
    Gaussian noise (std sigma C, from a seeded generator) added, averaged and applied by
    hand; the per-sample gradients' mean equals the batch gradient."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    L.manual_seed(170)
    net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = L.tensor(normal64(5, 4, seed=171))
    y = L.tensor(labels(5, 3, seed=172))

    def loss_one(p, xi, yi):
        out = fn.functional_call(net, p, (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per = fn.vmap(fn.grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    norms = L.stack([g.reshape(5, -1).norm(dim=1) for g in per.values()], 1).norm(dim=1)
    factor = (1.0 / norms).clamp(max=1.0)
    gen = L.Generator().manual_seed(173)
    new = {}
    for k, g in per.items():
        clipped = (g * factor.view(-1, *([1] * (g.dim() - 1)))).sum(0)
        noise = L.normal(0.0, 0.5, size=clipped.shape, generator=gen, dtype=L.float64)
        new[k] = params[k] - 0.1 * (clipped + noise) / 5
    F.cross_entropy(net(x), y).backward()
    return norms, factor, L.allclose(per["0.weight"].mean(0), net[0].weight.grad), new



# ----------------------------------------------------------------------------------------------
# dense prediction and detection pieces
# ----------------------------------------------------------------------------------------------
@program
def spatial_transformer_localisation_net_from_identity(L):
    """A spatial transformer: a localisation net whose last layer starts at zero weight and
    the identity affine bias, theta perturbed and reshaped to (N, 2, 3), affine_grid and
    grid_sample (align_corners False) warping the input before a classifier; the gradients
    reach the localisation net through the sampling grid."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(180)
    loc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 3 * 3, 6)).double()
    loc[4].weight.data.zero_()
    loc[4].bias.data.copy_(L.tensor([1, 0, 0, 0, 1, 0], dtype=L.float64))
    cls = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).double()
    x = L.tensor(normal64(2, 1, 8, 8, seed=181))
    theta = (loc(x) + 0.1 * L.tensor(normal64(2, 6, seed=182))).view(-1, 2, 3)
    grid = F.affine_grid(theta, list(x.size()), align_corners=False)
    warped = F.grid_sample(x, grid, mode="bilinear", padding_mode="border",
                           align_corners=False)
    F.cross_entropy(cls(warped), L.tensor([0, 2])).backward()
    return grid, warped, loc[4].weight.grad, loc[0].weight.grad, cls[1].bias.grad


@program
def espcn_super_resolution_with_pixel_shuffle_and_psnr(L):
    """ESPCN: convolutions on the low-resolution image ending in r^2 channels rearranged by
    PixelShuffle(r); MSE to the high-resolution target and PSNR 10 log10(1 / mse);
    PixelUnshuffle undoes the shuffle; an Adam step with a MultiStepLR schedule."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(183)
    net = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.Tanh(),
                        nn.Conv2d(8, 4, 3, padding=1), nn.PixelShuffle(2)).double()
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    sched = L.optim.lr_scheduler.MultiStepLR(opt, milestones=[1], gamma=0.1)
    lr_img = L.tensor(normal64(2, 1, 5, 5, seed=184))
    hr_img = L.tensor(normal64(2, 1, 10, 10, seed=185))
    rec = []
    for _ in range(2):
        y = net(lr_img)
        mse = F.mse_loss(y, hr_img)
        opt.zero_grad()
        mse.backward()
        opt.step()
        sched.step()
        rec.append((mse.detach(), 10 * L.log10(1 / mse.detach()), sched.get_last_lr()))
    back = nn.PixelUnshuffle(2)(y)
    return rec, y.shape, back.shape, net[2].weight.grad, L.equal(nn.PixelShuffle(2)(back), y)


@program
def segmentation_logits_upsampled_with_ignored_pixels_and_mean_iou(L):
    """Semantic segmentation: coarse logits upsampled bilinearly to the label size, pixel
    cross entropy with class weights, ignore_index 255 and label smoothing, the per-pixel
    NLL map with reduction none; mean IoU over classes from a confusion matrix of valid
    pixels under no_grad."""
    F = L.nn.functional
    logits = L.tensor(normal64(2, 4, 3, 3, seed=186), requires_grad=True)
    up = F.interpolate(logits, size=(6, 6), mode="bilinear", align_corners=False)
    target = L.tensor(np.random.RandomState(187).randint(0, 4, (2, 6, 6)))
    target[0, :2] = 255
    w = L.tensor([1.0, 2.0, 0.5, 1.0], dtype=L.float64)
    loss = F.cross_entropy(up, target, weight=w, ignore_index=255, label_smoothing=0.1)
    pix = F.nll_loss(F.log_softmax(up, 1), target, ignore_index=255, reduction="none")
    (loss + pix.sum()).backward()
    with L.no_grad():
        pred = up.argmax(1)
        valid = target != 255
        cm = L.bincount(target[valid] * 4 + pred[valid], minlength=16).reshape(4, 4)
        inter = cm.diag()
        union = cm.sum(0) + cm.sum(1) - inter
        iou = inter.double() / union.clamp(min=1).double()
    return loss, pix, logits.grad, cm, iou, iou[union > 0].mean()


@program
def detection_box_iou_giou_loss_anchors_and_score_order(L):
    """Detection helpers by hand: pairwise IoU of xyxy boxes by broadcast max/min corners,
    GIoU with the enclosing box, 1 - GIoU as a loss back to the predicted boxes; anchors
    from a meshgrid; greedy NMS over boxes sorted by score (stable descending argsort);
    smooth L1 on box deltas with beta."""
    F = L.nn.functional
    pred = L.tensor([[0., 0, 4, 4], [1, 1, 3, 5], [2, 2, 6, 6], [0.5, 0, 4, 4.5]],
                    dtype=L.float64, requires_grad=True)
    gt = L.tensor([[1., 1, 5, 5], [0, 0, 2, 2]], dtype=L.float64)

    def area(b):
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])

    def iou_union(a, b):
        lt = L.max(a[:, None, :2], b[None, :, :2])
        rb = L.min(a[:, None, 2:], b[None, :, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        union = area(a)[:, None] + area(b)[None] - inter
        return inter / union, union

    iou, union = iou_union(pred, gt)
    lt = L.min(pred[:, None, :2], gt[None, :, :2])
    rb = L.max(pred[:, None, 2:], gt[None, :, 2:])
    encl = (rb - lt).prod(-1)
    giou = iou - (encl - union) / encl
    best = iou.argmax(1)
    loss = (1 - giou.gather(1, best[:, None])).mean() + \
        F.smooth_l1_loss(pred, gt[best], beta=0.5)
    loss.backward()
    ys, xs = L.meshgrid(L.arange(3), L.arange(2), indexing="ij")
    anchors = L.stack([xs, ys, xs + 2, ys + 2], -1).reshape(-1, 4).double()
    scores = L.tensor([0.9, 0.8, 0.3, 0.85], dtype=L.float64)
    order = scores.argsort(descending=True, stable=True)
    boxes = pred.detach()
    keep = []
    while order.numel() > 0:
        i = order[0]
        keep.append(int(i))
        if order.numel() == 1:
            break
        ov = iou_union(boxes[i].unsqueeze(0), boxes[order[1:]])[0].squeeze(0)
        order = order[1:][ov <= 0.5]
    return iou, giou, loss, pred.grad, anchors, keep


@program
def grad_cam_from_forward_and_full_backward_hooks(L):
    """Grad-CAM: a forward hook keeps the last conv's activations and a full backward hook
    its output gradient; the class score of the argmax backpropagated; channel weights by
    spatial mean of the gradients, ReLU of the weighted sum, bilinear upsampling and min-max
    normalisation per image; the hooks removed afterwards."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(188)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, padding=1),
                        nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(5, 3)).double()
    store = {}
    h1 = net[2].register_forward_hook(lambda m, i, o: store.__setitem__("act", o))
    h2 = net[2].register_full_backward_hook(lambda m, gi, go: store.__setitem__("grad", go[0]))
    x = L.tensor(normal64(2, 3, 6, 6, seed=189), requires_grad=True)
    out = net(x)
    out.gather(1, out.argmax(1, keepdim=True)).sum().backward()
    w = store["grad"].mean(dim=(2, 3), keepdim=True)
    cam = F.relu((w * store["act"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(12, 12), mode="bilinear", align_corners=False)
    lo, hi = cam.amin(dim=(2, 3), keepdim=True), cam.amax(dim=(2, 3), keepdim=True)
    h1.remove()
    h2.remove()
    return (cam - lo) / (hi - lo + 1e-8), x.grad, len(net[2]._forward_hooks), \
        len(net[2]._backward_hooks)


@program
def multilabel_and_count_targets_with_the_less_common_losses(L):
    """A shared trunk with three heads: multilabel tags by BCE-with-logits (pos_weight and
    per-tag weight) and multilabel_soft_margin_loss, multilabel_margin_loss on label lists
    ended by -1, multi_margin_loss (p=2, class weights), counts by poisson_nll_loss (log
    input, Stirling term), a heteroscedastic regression by gaussian_nll_loss; one step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(190)
    trunk = nn.Sequential(nn.Linear(4, 8), nn.ReLU()).double()
    tags, counts, reg = nn.Linear(8, 5).double(), nn.Linear(8, 2).double(), \
        nn.Linear(8, 2).double()
    x = L.tensor(normal64(4, 4, seed=191))
    y = L.tensor((normal64(4, 5, seed=192) > 0).astype(np.float64))
    lists = L.tensor([[3, 0, -1, 1, 1], [1, 2, 4, -1, 0], [0, -1, 2, 2, 2], [4, 3, 2, 1, 0]])
    cnt = L.tensor(np.random.RandomState(193).poisson(3, (4, 2)).astype(np.float64))
    tgt = L.tensor(normal64(4, 2, seed=194))
    h = trunk(x)
    t = tags(h)
    wts = L.tensor([1.0, 1, 0.5, 1, 1], dtype=L.float64)
    parts = [F.binary_cross_entropy_with_logits(t, y, weight=wts,
                                                pos_weight=L.tensor([1., 2, 3, 1, 1],
                                                                    dtype=L.float64)),
             F.multilabel_soft_margin_loss(t, y, weight=wts),
             F.multilabel_margin_loss(t, lists),
             F.multi_margin_loss(t, L.tensor([0, 3, 2, 4]), p=2, margin=0.5,
                                 weight=L.tensor([1.0, 2, 1, 1, 1], dtype=L.float64)),
             F.soft_margin_loss(t, y * 2 - 1),
             F.poisson_nll_loss(counts(h), cnt, log_input=True, full=True)]
    mu, logvar = reg(h).unbind(1)
    parts.append(F.gaussian_nll_loss(mu, tgt[:, 0], logvar.exp(), full=True, eps=1e-6))
    sum(parts).backward()
    return parts, trunk[0].weight.grad, tags.weight.grad, reg.bias.grad


# ----------------------------------------------------------------------------------------------
# language-model pieces
# ----------------------------------------------------------------------------------------------
@program
def llama_style_block_rope_rmsnorm_swiglu_and_a_kv_cache(L):
    """A LLaMA-style block: RMSNorm, rotary embeddings as complex rotations (polar angles,
    view_as_complex on pairs, view_as_real back), causal scaled_dot_product_attention over
    heads, a SwiGLU MLP; incremental decoding with a growing key/value cache reproduces the
    full pass's last position."""
    nn, F = L.nn, L.nn.functional
    Dh, nh, T = 4, 2, 5
    freqs = 1.0 / (10000 ** (L.arange(0, Dh, 2, dtype=L.float64) / Dh))
    ang = L.outer(L.arange(T, dtype=L.float64), freqs)
    cis = L.polar(L.ones_like(ang), ang)

    def rope(x, c):
        xc = L.view_as_complex(x.reshape(*x.shape[:-1], -1, 2))
        return L.view_as_real(xc * c[None, :, None, :]).flatten(3)

    L.manual_seed(195)
    norm = nn.RMSNorm(8, eps=1e-6).double()
    wq, wk, wv, wo = (nn.Linear(8, 8, bias=False).double() for _ in range(4))
    w1, w2, w3 = nn.Linear(8, 12, bias=False).double(), nn.Linear(12, 8, bias=False).double(), \
        nn.Linear(8, 12, bias=False).double()
    x = L.tensor(normal64(2, T, 8, seed=196), requires_grad=True)
    h = norm(x)
    q = rope(wq(h).view(2, T, nh, Dh), cis)
    k = rope(wk(h).view(2, T, nh, Dh), cis)
    v = wv(h).view(2, T, nh, Dh)
    a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                       is_causal=True)
    y = x + wo(a.transpose(1, 2).reshape(2, T, 8))
    y = y + w2(F.silu(w1(y)) * w3(y))
    ks, vs = [], []
    with L.no_grad():
        for t in range(T):
            ht = norm(x[:, t:t + 1])
            qt = rope(wq(ht).view(2, 1, nh, Dh), cis[t:t + 1])
            ks.append(rope(wk(ht).view(2, 1, nh, Dh), cis[t:t + 1]))
            vs.append(wv(ht).view(2, 1, nh, Dh))
            K, V = L.cat(ks, 1), L.cat(vs, 1)
            at = F.scaled_dot_product_attention(qt.transpose(1, 2), K.transpose(1, 2),
                                                V.transpose(1, 2))
    y.pow(2).mean().backward()
    return y, L.allclose(at.squeeze(2), a[:, :, -1]), x.grad, norm.weight.grad, cis


@program
def text_generation_with_top_k_top_p_sampling_and_beam_search(L):
    """Decoding helpers: top-k filtering by the k-th value, nucleus filtering by sorted
    cumulative probabilities shifted right and scattered back, multinomial draws with and
    without replacement from the global generator, hard Gumbel-softmax; a beam search over
    a bigram table by topk on the flattened beam x vocab scores, floor-divided back."""
    F = L.nn.functional
    L.manual_seed(197)
    logits = L.tensor(normal64(3, 10, seed=198))
    kth, _ = L.topk(logits, 4)
    top_k = logits.masked_fill(logits < kth[:, [-1]], -float("inf"))
    srt, order = L.sort(logits, descending=True)
    cum = L.cumsum(F.softmax(srt, -1), -1)
    drop = cum > 0.7
    drop[..., 1:] = drop[..., :-1].clone()
    drop[..., 0] = False
    top_p = logits.masked_fill(drop.scatter(1, order, drop), -float("inf"))
    s1 = L.multinomial(F.softmax(top_k / 0.8, -1), 1)
    s2 = L.multinomial(F.softmax(top_p, -1), 2, replacement=True)
    g = F.gumbel_softmax(logits, tau=0.5, hard=True)
    V, B = 6, 3
    table = L.tensor(normal64(V, V, seed=199))
    scores, seqs = L.zeros(1, dtype=L.float64), L.zeros(1, 1, dtype=L.long)
    for _ in range(4):
        lp = F.log_softmax(table[seqs[:, -1]], -1)
        top, idx = (scores[:, None] + lp).view(-1).topk(min(B, lp.numel()))
        beam, tok = L.div(idx, V, rounding_mode="floor"), idx % V
        seqs, scores = L.cat([seqs[beam], tok[:, None]], 1), top
    return top_k, top_p, s1, s2, g, seqs, scores


@program
def fourier_neural_operator_layer_with_complex_weights_trained_by_adam(L):
    """An FNO layer: rfft of the signal, the lowest modes mixed by a complex weight tensor
    (an einsum over channels), the rest zero, irfft back to the grid length, plus a 1x1 conv
    bypass; the complex parameter trained by Adam (its state complex too)."""
    nn = L.nn
    modes = 3
    L.manual_seed(200)
    w = nn.Parameter(0.25 * L.rand(2, 2, modes, dtype=L.cdouble))
    lin = nn.Conv1d(2, 2, 1).double()
    opt = L.optim.Adam([w] + list(lin.parameters()), lr=0.01)
    x = L.tensor(normal64(3, 2, 16, seed=201))
    losses = []
    for _ in range(3):
        xf = L.fft.rfft(x)
        of = L.zeros(3, 2, 16 // 2 + 1, dtype=L.cdouble)
        of[:, :, :modes] = L.einsum("bix,iox->box", xf[:, :, :modes], w)
        y = L.fft.irfft(of, n=16) + lin(x)
        loss = y.pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, w, w.grad, opt.state_dict()["state"][0]["exp_avg_sq"]


# ----------------------------------------------------------------------------------------------
# classic statistics in torch
# ----------------------------------------------------------------------------------------------
@program
def gaussian_process_marginal_likelihood_by_cholesky(L):
    """GP regression: an RBF kernel from cdist with a learnable length scale and log noise,
    the Cholesky factor, alpha by cholesky_solve, the negative log marginal likelihood and
    its hyperparameter gradients; predictive mean and variance by solve_triangular; ridge by
    linalg.solve and least squares by linalg.lstsq beside it."""
    ls = L.tensor(0.7, dtype=L.float64, requires_grad=True)
    noise = L.tensor(-2.0, dtype=L.float64, requires_grad=True)
    X = L.tensor(np.linspace(0, 3, 7)[:, None])
    y = L.sin(X * 2).squeeze(1)
    K = L.exp(-0.5 * L.cdist(X, X).pow(2) / ls ** 2) + noise.exp() * L.eye(7, dtype=L.float64)
    Lc = L.linalg.cholesky(K)
    alpha = L.cholesky_solve(y[:, None], Lc)
    nll = 0.5 * (y[:, None] * alpha).sum() + Lc.diagonal().log().sum() + \
        3.5 * math.log(2 * math.pi)
    nll.backward()
    Xs = L.tensor([[0.5], [2.5]], dtype=L.float64)
    Ks = L.exp(-0.5 * L.cdist(Xs, X).pow(2) / ls ** 2)
    mean = Ks @ alpha
    var = 1 - L.linalg.solve_triangular(Lc, Ks.T, upper=False).pow(2).sum(0)
    ridge = L.linalg.solve(X.T @ X + 0.1 * L.eye(1, dtype=L.float64), X.T @ y[:, None])
    lst = L.linalg.lstsq(L.cat([X, L.ones_like(X)], 1), y[:, None]).solution
    return nll, ls.grad, noise.grad, mean, var, ridge, lst


@program
def newton_steps_for_logistic_regression_with_func_hessian(L):
    """Logistic regression fitted by Newton's method: the loss's gradient by torch.func.grad,
    its Hessian by torch.func.hessian, the step by linalg.solve; a Hessian-vector product by
    jvp of grad and by autograd.functional.hvp for comparison; the fitted weights."""
    F = L.nn.functional
    fn = L.func
    X = L.tensor(normal64(20, 3, seed=202))
    y = L.tensor((normal64(20, seed=203) + normal64(20, 3, seed=202) @ [1.0, -2.0, 0.5] > 0)
                 .astype(np.float64))

    def loss(w):
        return F.binary_cross_entropy_with_logits(X @ w, y) + 0.05 * w.pow(2).sum()

    w = L.zeros(3, dtype=L.float64)
    rec = []
    for _ in range(4):
        g, H = fn.grad(loss)(w), fn.hessian(loss)(w)
        w = w - L.linalg.solve(H, g)
        rec.append(loss(w))
    v = L.ones(3, dtype=L.float64)
    _, hv = fn.jvp(fn.grad(loss), (w,), (v,))
    _, hv2 = L.autograd.functional.hvp(loss, w, v)
    return rec, w, hv, hv2, H



# ----------------------------------------------------------------------------------------------
# randomness in training mode (the same seeded streams)
# ----------------------------------------------------------------------------------------------
@program
def training_mode_dropout_family_from_the_seeded_global_generator(L):
    """Dropout layers in training mode draw their masks from the global generator: element
    dropout, Dropout1d and Dropout2d (whole channels), AlphaDropout and FeatureAlphaDropout;
    a TransformerEncoderLayer with dropout 0.2 and a three-layer LSTM with inter-layer
    dropout; the masks, outputs and gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(210)
    x = L.tensor(normal64(4, 6, seed=211), requires_grad=True)
    outs = [F.dropout(x, 0.3), nn.Dropout1d(0.5)(x.view(2, 2, 6)),
            nn.Dropout2d(0.4)(x.view(1, 4, 2, 3)), nn.AlphaDropout(0.2)(x),
            nn.FeatureAlphaDropout(0.3)(x.view(2, 2, 6))]
    layer = nn.TransformerEncoderLayer(6, 2, 12, dropout=0.2, batch_first=True).double()
    lstm = nn.LSTM(6, 4, num_layers=3, dropout=0.5).double()
    t = layer(x.view(2, 2, 6))
    r, _ = lstm(x.view(2, 2, 6))
    (sum(o.sum() for o in outs) + t.pow(2).sum() + r.sum()).backward()
    return outs, t, r, x.grad, layer.linear1.weight.grad, lstm.weight_ih_l1.grad


@program
def checkpointed_block_with_dropout_recomputes_the_same_mask(L):
    """A checkpointed block containing dropout: the recomputation in backward restores the
    generator state (preserve_rng_state), so the gradients equal an unchecked run from the
    same seed; both the reentrant and non-reentrant forms."""
    nn, cp = L.nn, L.utils.checkpoint
    L.manual_seed(212)
    blk = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.5), nn.Tanh()).double()
    x0 = normal64(3, 5, seed=213)
    rec = []
    for mode in ("plain", "nonreentrant", "reentrant"):
        blk.zero_grad()
        x = L.tensor(x0, requires_grad=True)
        L.manual_seed(214)
        if mode == "plain":
            y = blk(x)
        else:
            y = cp.checkpoint(blk, x, use_reentrant=mode == "reentrant")
        y.pow(2).sum().backward()
        rec.append((y, x.grad, blk[0].weight.grad.clone()))
    return rec


@program
def hand_written_augmentation_and_generator_state_round_trips(L):
    """Augmentations by hand from the global generator (random crop offsets by randint,
    horizontal flips where rand < 0.5), get_rng_state/set_rng_state replays, a Generator's
    get_state/set_state, fork_rng isolating a reseeded draw, and the in-place samplers
    (normal_, uniform_, exponential_, geometric_, cauchy_, log_normal_) in sequence."""
    L.manual_seed(215)
    st = L.get_rng_state()
    a = L.rand(3)
    L.set_rng_state(st)
    b = L.rand(3)
    g = L.Generator().manual_seed(216)
    gs = g.get_state()
    c = L.randint(0, 10, (4,), generator=g)
    g.set_state(gs)
    d = L.randint(0, 10, (4,), generator=g)
    img = L.tensor(normal64(2, 3, 6, 6, seed=217))
    i, j = L.randint(0, 3, (2,)).tolist()
    crop = img[:, :, i:i + 4, j:j + 4]
    flip = L.rand(2) < 0.5
    out = L.where(flip[:, None, None, None], crop.flip(-1), crop)
    with L.random.fork_rng():
        L.manual_seed(0)
        e = L.randn(2)
    f = L.randn(2)
    draws = [L.empty(3, dtype=L.float64).normal_(1, 2), L.empty(3).uniform_(-1, 1),
             L.empty(3).exponential_(2.0), L.empty(3).geometric_(0.3), L.empty(3).cauchy_(),
             L.empty(3).log_normal_(), L.randn_like(img[0, 0]), L.randperm(7),
             L.bernoulli(L.full((5,), 0.3)), L.poisson(L.full((4,), 3.0)),
             L.normal(L.zeros(3), L.ones(3))]
    return L.equal(a, b), L.equal(c, d), (i, j), flip, out, e, f, draws


# ----------------------------------------------------------------------------------------------
# higher-order gradients in training
# ----------------------------------------------------------------------------------------------
@program
def r1_penalty_through_strided_convs_and_instance_norm(L):
    """StyleGAN's R1 regulariser: the gradient of D(real) with respect to the real images
    (create_graph=True) through strided convs, affine InstanceNorm2d, LeakyReLU and average
    pooling, its squared norm per sample added to the non-saturating softplus loss; the
    double backward's parameter gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(218)
    D = nn.Sequential(nn.Conv2d(1, 4, 3, 2, 1), nn.InstanceNorm2d(4, affine=True),
                      nn.LeakyReLU(0.2), nn.Conv2d(4, 4, 3, 2, 1), nn.LeakyReLU(0.2),
                      nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 1)).double()
    real = L.tensor(normal64(3, 1, 8, 8, seed=219), requires_grad=True)
    out = D(real)
    g, = L.autograd.grad(out.sum(), real, create_graph=True)
    r1 = g.pow(2).reshape(3, -1).sum(1).mean()
    (F.softplus(-out).mean() + 5 * r1).backward()
    return r1, D[0].weight.grad, D[1].weight.grad, D[7].weight.grad


@program
def gradient_penalty_through_max_pool_elu_and_layer_norm(L):
    """A gradient-norm penalty (create_graph=True) through Conv2d, MaxPool2d, ELU, a
    LayerNorm over (C, H, W) and Softplus: the second-order path through the pooling's
    argmax routing and the normalisation."""
    nn = L.nn
    L.manual_seed(220)
    D = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.MaxPool2d(2), nn.ELU(),
                      nn.Conv2d(3, 2, 3), nn.LayerNorm([2, 2, 2]), nn.Softplus(),
                      nn.Flatten(), nn.Linear(8, 1)).double()
    x = L.tensor(normal64(2, 1, 8, 8, seed=221), requires_grad=True)
    g, = L.autograd.grad(D(x).sum(), x, create_graph=True)
    pen = ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()
    pen.backward()
    return pen, g, D[0].weight.grad, D[4].weight.grad, D[3].weight.grad


@program
def maml_on_a_conv_net_with_batch_norm_buffers_in_functional_call(L):
    """MAML with a convnet containing BatchNorm: functional_call given the fast weights and
    cloned buffers (the running statistics update those clones, not the module's), two
    second-order inner steps, the query loss's meta-gradient into the conv and BN weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(222)
    net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                        nn.Linear(3 * 4 * 4, 2)).double()
    x = L.tensor(normal64(4, 1, 6, 6, seed=223))
    y = L.tensor([0, 1, 1, 0])
    params = dict(net.named_parameters())
    bufs = {k: v.clone() for k, v in net.named_buffers()}
    for _ in range(2):
        loss = F.cross_entropy(L.func.functional_call(net, {**params, **bufs}, (x,)), y)
        grads = L.autograd.grad(loss, list(params.values()), create_graph=True)
        params = {k: v - 0.1 * g for (k, v), g in zip(params.items(), grads)}
    q = F.cross_entropy(L.func.functional_call(net, {**params, **bufs}, (x * 0.5,)), y)
    q.backward()
    return q, net[0].weight.grad, net[1].weight.grad, bufs["1.running_mean"], \
        bufs["1.num_batches_tracked"], net[1].running_mean


@program
def per_sample_gradients_of_a_convnet_and_its_input_jacobian(L):
    """torch.func on a convnet: vmap(grad) per-sample gradients through Conv2d, ReLU,
    MaxPool2d and Linear, their mean against the batch gradient, and jacrev of the summed
    outputs with respect to one input image."""
    nn, F, fn = L.nn, L.nn.functional, L.func
    L.manual_seed(224)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(8, 3)).double()
    p = {k: v.detach() for k, v in net.named_parameters()}
    x = L.tensor(normal64(4, 1, 6, 6, seed=225))
    y = L.tensor([0, 1, 2, 1])

    def loss_one(params, xi, yi):
        return F.cross_entropy(fn.functional_call(net, params, (xi[None],)), yi[None])

    per = fn.vmap(fn.grad(loss_one), in_dims=(None, 0, 0))(p, x, y)
    F.cross_entropy(net(x), y).backward()
    jac = fn.jacrev(lambda xx: net(xx).sum(0))(x[:1])
    return per, L.allclose(per["0.weight"].mean(0), net[0].weight.grad), jac


@program
def custom_cube_function_differentiated_twice_and_a_jacobian_regulariser(L):
    """A custom autograd.Function with setup_context whose backward is built of
    differentiable ops, differentiated twice; an input-Jacobian regulariser ||J^T v||^2 with
    unit random v by grad_outputs and create_graph through Mish and Hardswish; the full
    Jacobian by autograd.functional.jacobian (vectorized)."""
    nn = L.nn

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(x):
            return x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x ** 2

    x = L.tensor([1.0, 2.0, -1.5], dtype=L.float64, requires_grad=True)
    y = Cube.apply(x)
    g, = L.autograd.grad(y.sum(), x, create_graph=True)
    g.sum().backward()
    L.manual_seed(226)
    net = nn.Sequential(nn.Linear(3, 6), nn.Mish(), nn.Linear(6, 4), nn.Hardswish(),
                        nn.Linear(4, 2)).double()
    xs = L.tensor(normal64(5, 3, seed=227), requires_grad=True)
    out = net(xs)
    v = L.tensor(normal64(5, 2, seed=228))
    v = v / v.norm(dim=1, keepdim=True)
    Jv, = L.autograd.grad(out, xs, grad_outputs=v, create_graph=True)
    reg = Jv.pow(2).sum() / 5
    (out.pow(2).mean() + 0.1 * reg).backward()
    J = L.autograd.functional.jacobian(net, xs[:2].detach(), vectorize=True)
    return y, g, x.grad, reg, net[0].weight.grad, net[2].weight.grad, J



# ----------------------------------------------------------------------------------------------
# training-loop plumbing
# ----------------------------------------------------------------------------------------------
@program
def fine_tuning_frozen_backbone_then_unfrozen_by_add_param_group(L):
    """Transfer learning: the backbone frozen (requires_grad_(False)) while the head trains
    under AdamW and LambdaLR; at epoch 2 the backbone is unfrozen and added as a new param
    group with its own lr and no weight decay, a MultiStepLR taking over; the lrs and
    whether the backbone had gradients, per epoch."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(230)
    bb = nn.Sequential(nn.Linear(3, 5), nn.ReLU()).double()
    hd = nn.Linear(5, 2).double()
    bb.requires_grad_(False)
    opt = L.optim.AdamW(hd.parameters(), lr=0.01)
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.9 ** e)
    x = L.tensor(normal64(6, 3, seed=231))
    y = L.tensor(labels(6, 2, seed=232))
    rec = []
    for ep in range(4):
        if ep == 2:
            bb.requires_grad_(True)
            opt.add_param_group({"params": bb.parameters(), "lr": 1e-3, "weight_decay": 0.0})
            sched = L.optim.lr_scheduler.MultiStepLR(opt, milestones=[3], gamma=0.1)
        loss = F.cross_entropy(hd(bb(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        rec.append((loss.item(), [g["lr"] for g in opt.param_groups],
                    bb[0].weight.grad is None))
    return rec, bb[0].weight, opt.state_dict()["param_groups"]


@program
def hand_written_lion_optimizer_and_warmup_scheduler_subclasses(L):
    """A custom Optimizer subclass (Lion: sign of the interpolated momentum, decoupled weight
    decay, state created lazily, a closure run under enable_grad inside a no_grad step) and
    a custom LRScheduler subclass (linear warmup from base_lrs and last_epoch); step hooks
    on the optimizer; the state dicts of both."""
    class Lion(L.optim.Optimizer):
        def __init__(self, params, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
            super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

        @L.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with L.enable_grad():
                    loss = closure()
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                    st = self.state[p]
                    if len(st) == 0:
                        st["exp_avg"] = L.zeros_like(p)
                    b1, b2 = group["betas"]
                    upd = st["exp_avg"] * b1 + p.grad * (1 - b1)
                    p.add_(upd.sign_(), alpha=-group["lr"])
                    st["exp_avg"].mul_(b2).add_(p.grad, alpha=1 - b2)
            return loss

    class Warmup(L.optim.lr_scheduler.LRScheduler):
        def __init__(self, opt, warm, last_epoch=-1):
            self.warm = warm
            super().__init__(opt, last_epoch)

        def get_lr(self):
            return [b * min(1.0, (self.last_epoch + 1) / self.warm) for b in self.base_lrs]

    L.manual_seed(233)
    net = L.nn.Linear(3, 2).double()
    opt = Lion(net.parameters(), lr=0.01, weight_decay=0.1)
    sched = Warmup(opt, 3)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    x = L.tensor(normal64(4, 3, seed=234))
    rec = []
    for _ in range(4):
        def closure():
            opt.zero_grad()
            loss = net(x).pow(2).mean()
            loss.backward()
            return loss
        rec.append((opt.step(closure).item(), sched.get_last_lr()))
        sched.step()
    return rec, net.weight, opt.state_dict(), sched.state_dict(), calls


@program
def sequential_and_chained_schedulers_saved_and_resumed(L):
    """SequentialLR (linear warmup then cosine) stepped, its state dict and the optimizer's
    loaded into fresh ones, both continued in lockstep; a ChainedScheduler of ConstantLR and
    ExponentialLR after; weight decay split into param groups by parameter name."""
    nn = L.nn
    sch = L.optim.lr_scheduler
    L.manual_seed(235)
    net = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.Linear(3, 1)).double()
    decay = [p for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1]
    rest = [p for n, p in net.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]

    def make():
        opt = L.optim.SGD([{"params": decay, "weight_decay": 0.1},
                           {"params": rest, "weight_decay": 0.0}], lr=1.0, momentum=0.5)
        return opt, sch.SequentialLR(opt, [sch.LinearLR(opt, 0.1, 1.0, total_iters=3),
                                           sch.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)],
                                     milestones=[3])

    x = L.tensor(normal64(4, 2, seed=236))
    opt, s = make()
    lrs = []
    for _ in range(5):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
        s.step()
        lrs.append(s.get_last_lr())
    opt2, s2 = make()
    s2.load_state_dict(s.state_dict())
    opt2.load_state_dict(opt.state_dict())
    a, b = [], []
    for _ in range(3):
        opt.step()
        s.step()
        a.append(s.get_last_lr())
        opt2.step()
        s2.step()
        b.append(s2.get_last_lr())
    chain = sch.ChainedScheduler([sch.ConstantLR(opt, factor=0.5, total_iters=2),
                                  sch.ExponentialLR(opt, gamma=0.9)])
    cl = []
    for _ in range(3):
        opt.step()
        chain.step()
        cl.append(chain.get_last_lr())
    return lrs, a, b, cl, sorted(s.state_dict()), opt.state_dict()["param_groups"]


@program(words=["Weights only load failed",
                "WeightsUnpickler error: Unsupported global: GLOBAL "
                "numpy._core.multiarray._reconstruct was not an allowed global by default"])
def checkpoint_holding_a_numpy_array_refused_under_weights_only(L):
    """A checkpoint dict that holds a numpy array (a metric history) next to tensors, an
    OrderedDict and plain Python values: torch.load with the default weights_only=True
    refuses the numpy global; the error's words naming it."""
    buf = io.BytesIO()
    L.save({"w": L.ones(2), "history": np.arange(3.0), "step": 3,
            "od": collections.OrderedDict(a=L.zeros(1)), "tup": (1, 2.5, "x")}, buf)
    buf.seek(0)
    return L.load(buf)


@program
def checkpoint_of_plain_values_loads_under_weights_only(L):
    """The same checkpoint without the numpy array loads under weights_only=True (tensors,
    OrderedDict, tuples, None, ints, floats, strings); with weights_only=False the numpy
    array comes back too."""
    buf = io.BytesIO()
    L.save({"w": L.ones(2), "step": 3, "od": collections.OrderedDict(a=L.zeros(1)),
            "tup": (1, 2.5, "x"), "none": None}, buf)
    buf.seek(0)
    plain = L.load(buf)
    buf2 = io.BytesIO()
    L.save({"history": np.arange(3.0), "w": L.zeros(1)}, buf2)
    buf2.seek(0)
    full = L.load(buf2, weights_only=False)
    return plain, type(plain["od"]).__name__, full["history"], full["w"]


@program
def module_hooks_rewriting_inputs_outputs_and_gradients(L):
    """A forward pre-hook doubling the input, a full backward pre-hook tripling the output
    gradient, a forward hook with kwargs adding one to the output, a state-dict post hook
    recording keys; then set_grad_enabled(False) and an inference_mode-decorated call."""
    nn = L.nn
    L.manual_seed(237)
    lin = nn.Linear(3, 2).double()
    log = []
    lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 3,))
    lin.register_forward_hook(lambda m, args, kwargs, out: out + 1, with_kwargs=True)
    lin.register_state_dict_post_hook(lambda m, sd, prefix, local: log.append(sorted(sd)))
    x = L.tensor(normal64(2, 3, seed=238), requires_grad=True)
    y = lin(x)
    y.sum().backward()
    lin.state_dict()
    with L.set_grad_enabled(False):
        z = lin(x)

    @L.inference_mode()
    def infer():
        return lin(x)

    w = infer()
    return y, x.grad, lin.weight.grad, z.requires_grad, w.requires_grad, w.is_inference(), log


@program
def packed_unsorted_batch_into_projected_bilstm_with_initial_states(L):
    """A packed unsorted batch into a two-layer bidirectional LSTM with proj_size and given
    (h0, c0) in the caller's batch order (permuted inside by the sorted indices), padded
    back with padding_value -1; a GRU on the same packed batch with its own h0; the states
    come back in the caller's order."""
    nn, rnn = L.nn, L.nn.utils.rnn
    L.manual_seed(239)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2, batch_first=True).double()
    g = nn.GRU(3, 4, batch_first=True).double()
    x = L.tensor(normal64(3, 5, 3, seed=240))
    lens = L.tensor([2, 5, 3])
    h0, c0 = L.tensor(normal64(4, 3, 2, seed=241)), L.tensor(normal64(4, 3, 4, seed=242))
    pk = rnn.pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
    o, (h, c) = m(pk, (h0, c0))
    pd, _ = rnn.pad_packed_sequence(o, batch_first=True, padding_value=-1.0)
    o2, h2 = g(pk, L.tensor(normal64(1, 3, 4, seed=243)))
    (pd.sum() + h.sum() + c.sum() + h2.sum()).backward()
    return pd, h, c, h2, m.weight_hr_l0_reverse.grad, o2.unsorted_indices, g.bias_hh_l0.grad


@program
def multihead_attention_with_float_masks_and_a_causal_hint(L):
    """nn.MultiheadAttention (sequence first) with a per-head 3-d float attention mask, a
    float causal mask with is_causal=True and need_weights=False, and a float key padding
    mask of -1e9; outputs, weights and the query gradient."""
    nn = L.nn
    L.manual_seed(244)
    m = nn.MultiheadAttention(4, 2, dropout=0.0).double()
    q = L.tensor(normal64(3, 2, 4, seed=245), requires_grad=True)
    am = L.tensor(normal64(4, 3, 3, seed=246))
    o, w = m(q, q, q, attn_mask=am)
    cm = nn.Transformer.generate_square_subsequent_mask(3, dtype=L.float64)
    o2, w2 = m(q, q, q, attn_mask=cm, is_causal=True, need_weights=False)
    kpm = L.tensor([[0.0, -1e9, 0.0], [0.0, 0.0, 0.0]], dtype=L.float64)
    o3, w3 = m(q, q, q, key_padding_mask=kpm)
    (o.sum() + o2.sum() + o3.sum()).backward()
    return o, w, o2, w2, o3, w3, q.grad


@program
def dataset_of_dicts_collated_shuffled_and_split(L):
    """A map-style Dataset returning dicts (numpy arrays, ints, strings, floats, a tuple of a
    tensor and an int) collated by the default collate into dicts of batched tensors and
    lists; shuffled by a seeded generator with drop_last; random_split by fractions."""
    data = L.utils.data

    class DS(data.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return {"x": np.arange(3) * i, "y": i % 2, "name": f"s{i}", "w": float(i) / 2,
                    "t": (L.tensor([i]), i)}

    g = L.Generator().manual_seed(247)
    dl = data.DataLoader(DS(), batch_size=3, shuffle=True, generator=g, drop_last=True)
    batches = list(dl)
    a, b = data.random_split(range(10), [0.3, 0.7], generator=L.Generator().manual_seed(248))
    return batches, len(dl), list(a), list(b), data.default_convert(np.ones(2))


@program
def time_series_windows_quantile_bins_and_pinball_loss(L):
    """Forecasting prep and training: NaNs replaced by nan_to_num, sliding windows by
    Tensor.unfold, quantile bin edges with bucketize and searchsorted, replicate, circular
    and reflect padding; an LSTM with given initial states predicts three quantiles trained
    by the pinball loss; histc and nanmean on the way."""
    F = L.nn.functional
    s = L.tensor(np.sin(np.linspace(0, 6, 20)) + 0.1 * normal64(20, seed=249))
    nanmean = L.nanmean(L.where(L.arange(20) == 3, float("nan"), s))
    s[3] = float("nan")
    s = L.nan_to_num(s, nan=0.0)
    w = s.unfold(0, 5, 2)
    X, Y = w[:, :4], w[:, 4]
    q = L.quantile(s, L.tensor([0.1, 0.5, 0.9], dtype=L.float64))
    bins, right = L.bucketize(s, q), L.searchsorted(q, s, right=True)
    pads = [F.pad(s.view(1, 1, -1)[..., :4], (2, 2), mode=m)
            for m in ("replicate", "circular", "reflect")]
    L.manual_seed(250)
    lstm = L.nn.LSTM(1, 4, batch_first=True).double()
    fc = L.nn.Linear(4, 3).double()
    h0 = (L.zeros(1, X.shape[0], 4, dtype=L.float64),
          L.ones(1, X.shape[0], 4, dtype=L.float64) * 0.1)
    out, _ = lstm(X.unsqueeze(-1), h0)
    pred = fc(out[:, -1])
    qs = L.tensor([0.1, 0.5, 0.9], dtype=L.float64)
    e = Y[:, None] - pred
    pinball = L.max(qs * e, (qs - 1) * e).mean()
    pinball.backward()
    return w, q, bins, right, pads, pinball, lstm.weight_hh_l0.grad, \
        L.histc(s, bins=4, min=-1, max=1), nanmean, L.logcumsumexp(s, 0)


@program
def center_loss_with_scatter_add_and_a_knn_vote(L):
    """Center loss: class centres moved halfway to the batch means computed by scatter_add_
    and bincount, the loss to each sample's centre; index_put_ with accumulate and
    masked_scatter_ on the side; a k-nearest-neighbour classifier over cdist (topk smallest)
    by majority one-hot votes, distance-weighted scatter_add votes and mode."""
    F = L.nn.functional
    feats = L.tensor(normal64(8, 3, seed=251), requires_grad=True)
    y = L.tensor([0, 1, 1, 2, 0, 2, 2, 1])
    centers = L.zeros(3, 3, dtype=L.float64)
    sums = L.zeros(3, 3, dtype=L.float64).scatter_add_(0, y[:, None].expand(-1, 3),
                                                      feats.detach())
    cnt = L.bincount(y, minlength=3).double()
    centers = centers + 0.5 * (sums / cnt[:, None] - centers)
    loss = (feats - centers[y]).pow(2).sum(1).mean() / 2
    loss.backward()
    t = L.zeros(4, 3, dtype=L.float64)
    t.index_put_((L.tensor([0, 0, 3]), L.tensor([1, 1, 2])),
                 L.tensor([1.0, 2.0, 3.0], dtype=L.float64), accumulate=True)
    ms = L.zeros(2, 3, dtype=L.float64).masked_scatter_(
        L.tensor([[True, False, True], [False, True, True]]), L.arange(6, dtype=L.float64))
    test = L.tensor(normal64(4, 3, seed=252))
    d = L.cdist(test, feats.detach(), compute_mode="donot_use_mm_for_euclid_dist")
    dist, idx = d.topk(3, largest=False)
    votes = F.one_hot(y[idx], 3).sum(1)
    weighted = L.zeros(4, 3, dtype=L.float64).scatter_add(1, y[idx], 1 / (dist + 1e-6))
    return centers, loss, feats.grad, t, ms, dist, idx, votes.argmax(1), \
        weighted.argmax(1), L.mode(y[idx], 1)


@program
def module_containers_state_dict_filters_and_meta_device_materialisation(L):
    """ModuleDict, ParameterDict, ParameterList, a non-persistent buffer and a shared
    submodule: state dict keys, load_state_dict(strict=False)'s missing and unexpected keys,
    named_modules with and without duplicates, get_submodule/get_parameter; a copy built on
    the meta device, materialised by to_empty and filled by load_state_dict(assign=True)."""
    nn = L.nn

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Linear(3, 2)})
            self.pd = nn.ParameterDict({"s": nn.Parameter(L.ones(2))})
            self.pl = nn.ParameterList([nn.Parameter(L.zeros(1)), nn.Parameter(L.ones(3))])
            self.register_buffer("tmp", L.zeros(2), persistent=False)
            self.register_buffer("cnt", L.tensor(0))
            self.shared = self.enc["a"]

    L.manual_seed(253)
    m = M()
    sd = m.state_dict()
    res = m.load_state_dict({k: v for k, v in sd.items() if "b." not in k} |
                            {"extra": L.ones(1)}, strict=False)
    with L.device("meta"):
        mm = M()
    on_meta = mm.enc["a"].weight.is_meta
    mm = mm.to_empty(device="cpu")
    res2 = mm.load_state_dict(sd, assign=True)
    return list(sd), res.missing_keys, res.unexpected_keys, str(res2), on_meta, \
        [n for n, _ in m.named_modules()], \
        [n for n, _ in m.named_modules(remove_duplicate=False)], \
        m.get_submodule("enc.b").weight.shape, [n for n, _ in m.named_parameters()], \
        m.get_parameter("pl.1"), sorted(k for k, _ in m.named_buffers()), mm.enc["b"].bias


@program
def channels_last_training_and_bfloat16_autocast_dtypes(L):
    """A conv block converted to channels_last with a channels_last input: outputs, their
    memory format and strides, gradients; then CPU autocast to bfloat16: which ops run in
    bfloat16 (linear, matmul, conv) and which stay float32 (softmax, sum, exp, layer_norm)."""
    nn = L.nn
    L.manual_seed(254)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4),
                        nn.ReLU()).double().to(memory_format=L.channels_last)
    x = L.tensor(normal64(2, 3, 5, 5, seed=255)).to(memory_format=L.channels_last)
    x.requires_grad_(True)
    y = net(x)
    y.sum().backward()
    lin, conv = nn.Linear(4, 3), nn.Conv1d(2, 2, 3)
    xf = L.tensor(normal64(2, 4, seed=256)).float()
    with L.autocast("cpu", dtype=L.bfloat16):
        a = lin(xf)
        kinds = [a.dtype, a.softmax(-1).dtype, L.mm(xf, xf.T).dtype, a.sum().dtype,
                 a.exp().dtype, conv(L.zeros(1, 2, 5)).dtype,
                 nn.functional.layer_norm(a, (3,)).dtype]
    return y, y.is_contiguous(memory_format=L.channels_last), y.stride(), x.grad, \
        net[0].weight.grad, kinds, bool((a.float() - lin(xf)).abs().max() < 0.05)


@program
def the_mistakes_people_make_first(L):
    """The errors a first training script meets, each with torch's words: a Linear given the
    wrong width, backward twice, an in-place change of a tensor saved for backward, in-place
    on a leaf that requires grad, numpy() of such a tensor, a class index out of range,
    view on a transposed tensor, float class targets, float64 vs float32 in mse, a conv fed
    the wrong channels, cat/stack/matmul/reshape shape errors, an embedding index past the
    table, item() of many values, BatchNorm on one sample, an empty optimizer, an LSTM fed
    the wrong width, a grad of something unreachable."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(257)
    lin = nn.Linear(4, 3).double()
    out = [err(lambda: lin(L.tensor(normal64(2, 5, seed=258))))]
    y = lin(L.tensor(normal64(2, 4, seed=259))).sum()
    y.backward()
    out.append(err(lambda: y.backward()))
    a = L.tensor(normal64(3, seed=260), requires_grad=True)
    b = a.exp()
    b.add_(1)
    out += [err(lambda: b.sum().backward()), err(lambda: a.add_(1)), err(lambda: a.numpy())]
    logits = L.tensor(normal64(2, 3, seed=261))
    out += [err(lambda: F.cross_entropy(logits, L.tensor([0, 3]))),
            err(lambda: logits.t().view(-1)),
            err(lambda: F.cross_entropy(logits, L.tensor([0.0, 1.0]))),
            err(lambda: F.mse_loss(logits, logits.float())),
            err(lambda: nn.Conv2d(3, 4, 3)(L.zeros(1, 2, 5, 5))),
            err(lambda: L.cat([L.zeros(2, 3), L.zeros(3, 3)], dim=1)),
            err(lambda: L.zeros(2, 3) @ L.zeros(2, 3)),
            err(lambda: nn.Embedding(5, 2)(L.tensor([5]))),
            err(lambda: L.zeros(3).item()),
            err(lambda: nn.BatchNorm1d(3)(L.zeros(1, 3))),
            err(lambda: L.optim.SGD([], lr=0.1)),
            err(lambda: nn.LSTM(3, 4)(L.zeros(2, 5, 4))),
            err(lambda: F.nll_loss(L.zeros(2, 3), L.tensor([1, 2, 0]))),
            err(lambda: L.stack([L.zeros(2), L.zeros(3)])),
            err(lambda: L.zeros(2, 3).reshape(4, 2))]
    unused = L.ones(1, requires_grad=True)
    out.append(err(lambda: L.autograd.grad((L.ones(2, requires_grad=True) * 2).sum(),
                                           [unused])))
    return out



# ----------------------------------------------------------------------------------------------
# the less common layers, as older model code uses them
# ----------------------------------------------------------------------------------------------
@program
def older_cnn_layers_pool_unpool_lp_pool_lrn_fractional_and_pads(L):
    """Layers of older CNN code: max pooling with indices undone by MaxUnpool2d, adaptive max
    pooling, LPPool2d, LocalResponseNorm, FractionalMaxPool2d with fixed samples, RReLU in
    training (slopes from the global generator), the small activations, reflection,
    replication, circular, zero and constant pads, Fold of Unfold; CrossMapLRN2d's values
    (its legacy backward is not compared)."""
    nn = L.nn
    L.manual_seed(260)
    x = L.tensor(normal64(2, 4, 6, 6, seed=261), requires_grad=True)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    un = nn.MaxUnpool2d(2)(y, idx, output_size=x.size())
    amp, ai = nn.AdaptiveMaxPool2d((4, 3), return_indices=True)(x)
    lp = nn.LPPool2d(2, 3, stride=2)(x)
    lrn = nn.LocalResponseNorm(3, alpha=1e-2, beta=0.75, k=2.0)(x)
    cm = nn.CrossMapLRN2d(3, alpha=1e-2, beta=0.75, k=2.0)(x.detach())
    fm = nn.FractionalMaxPool2d(2, output_size=(3, 3), _random_samples=L.tensor(
        np.random.RandomState(262).rand(2, 4, 2)))(x)
    rr = nn.RReLU(0.1, 0.3)(x)
    acts = [nn.Softmax2d()(x), nn.Threshold(0.1, -1.0)(x), nn.GLU(1)(x), nn.Softmin(1)(x),
            nn.LogSigmoid()(x), nn.Tanhshrink()(x), nn.Softsign()(x), nn.CELU(0.7)(x),
            nn.SELU()(x), nn.Hardtanh(-0.5, 0.8)(x), nn.Hardshrink(0.3)(x),
            nn.Softshrink(0.3)(x), nn.Hardsigmoid()(x)]
    pads = [nn.ReflectionPad2d((1, 2, 0, 1))(x), nn.ReplicationPad2d(1)(x),
            nn.CircularPad2d((2, 1, 1, 0))(x), nn.ZeroPad2d((1, 0, 2, 0))(x),
            nn.ConstantPad2d(1, 3.5)(x)]
    fold = nn.Fold(output_size=(6, 6), kernel_size=3, padding=1, stride=2)(
        nn.Unfold(3, padding=1, stride=2)(x))
    w = L.tensor(normal64(2, 4, 6, 6, seed=263))
    terms = [y, un, amp, lp, lrn, fm, rr, fold] + acts + pads
    sum((t * w[..., :t.shape[-2], :t.shape[-1]][:, :t.shape[1]]).sum()
        if t.shape[-1] <= 6 and t.shape[-2] <= 6 else t.sum() for t in terms).backward()
    return y, idx, un, amp, ai, lp, lrn, cm, fm, rr, acts, pads, fold, x.grad


@program
def lazy_modules_infer_their_shapes_on_the_first_batch(L):
    """LazyConv2d, LazyBatchNorm2d and LazyLinear materialised by the first forward (their
    classes becoming the eager ones), then trained one SGD step."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(264)
    kw = {"dtype": L.float64}
    net = nn.Sequential(nn.LazyConv2d(4, 3, **kw), nn.LazyBatchNorm2d(**kw), nn.ReLU(),
                        nn.Flatten(), nn.LazyLinear(2, **kw))
    x = L.tensor(normal64(2, 3, 5, 5, seed=265))
    with L.no_grad():
        net(x)
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    loss = F.cross_entropy(net(x), L.tensor([0, 1]))
    loss.backward()
    opt.step()
    return loss, [type(m).__name__ for m in net], net[0].weight.shape, net[4].weight.grad, \
        net[1].running_mean


@program
def video_clip_model_with_conv3d_batchnorm3d_and_transposed_conv3d(L):
    """A clip model: Conv3d with anisotropic stride, BatchNorm3d, MaxPool3d over space only,
    ConvTranspose3d back up, AdaptiveAvgPool3d to a vector; input and weight gradients."""
    nn = L.nn
    L.manual_seed(266)
    net = nn.Sequential(nn.Conv3d(2, 3, 3, padding=1, stride=(1, 2, 2)), nn.BatchNorm3d(3),
                        nn.ReLU(), nn.MaxPool3d((1, 2, 2)), nn.ConvTranspose3d(3, 2, 2, stride=2),
                        nn.AdaptiveAvgPool3d(1), nn.Flatten()).double()
    x = L.tensor(normal64(2, 2, 4, 8, 8, seed=267), requires_grad=True)
    y = net(x)
    y.pow(2).sum().backward()
    return y, x.grad, net[0].weight.grad, net[4].weight.grad, net[1].running_var


@program
def grouped_dilated_transposed_and_same_padded_convs_with_padding_modes(L):
    """Conv variants: ConvTranspose2d with groups, dilation and output_padding (and an
    explicit output_size), depthwise Conv2d with padding='same', dilation 2 and reflect
    padding mode, Conv1d 'same' with circular padding, ConvTranspose1d with stride 3."""
    nn = L.nn
    L.manual_seed(268)
    ct = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                            dilation=2).double()
    c = nn.Conv2d(4, 4, 3, padding="same", dilation=2, groups=4,
                  padding_mode="reflect").double()
    c1 = nn.Conv1d(4, 2, 5, padding="same", padding_mode="circular").double()
    ct1 = nn.ConvTranspose1d(2, 3, 4, stride=3, padding=2).double()
    x = L.tensor(normal64(2, 4, 5, 5, seed=269), requires_grad=True)
    a, b = ct(x), c(x)
    a2 = ct(x, output_size=[12, 12])
    d = c1(x[:, :, 0])
    e = ct1(d)
    (a.sum() + a2.pow(2).sum() + b.pow(2).sum() + e.sum()).backward()
    return a, a2, b, d, e, x.grad, ct.weight.grad, c.weight.grad, c1.weight.grad


@program
def embedding_with_max_norm_renormalising_rows_and_frequency_scaled_grads(L):
    """An Embedding with max_norm (the looked-up rows renormalised in place in the table)
    and scale_grad_by_freq (each row's gradient divided by its count in the batch)."""
    nn = L.nn
    L.manual_seed(270)
    e = nn.Embedding(6, 3, max_norm=1.0, norm_type=2.0, scale_grad_by_freq=True).double()
    before = e.weight.detach().clone()
    idx = L.tensor([[1, 2, 1], [4, 1, 0]])
    y = e(idx)
    (y * L.tensor(normal64(2, 3, 3, seed=271))).sum().backward()
    return y, before, e.weight, e.weight.grad


@program
def recurrent_cells_unrolled_by_hand(L):
    """LSTMCell, GRUCell and a ReLU RNNCell unrolled over five steps in a Python loop
    (states threaded by hand), an unbatched cell call, and the gradients of the summed
    outputs."""
    nn = L.nn
    L.manual_seed(272)
    lc, gc = nn.LSTMCell(3, 4).double(), nn.GRUCell(3, 4).double()
    rc = nn.RNNCell(3, 4, nonlinearity="relu").double()
    x = L.tensor(normal64(5, 2, 3, seed=273))
    h = c = hg = hr = L.zeros(2, 4, dtype=L.float64)
    outs = []
    for t in range(5):
        h, c = lc(x[t], (h, c))
        hg = gc(x[t], hg)
        hr = rc(x[t], hr)
        outs.append(h + hg + hr)
    single = rc(x[0, 0])
    L.stack(outs).sum().backward()
    return outs, single, lc.weight_hh.grad, gc.bias_ih.grad, rc.weight_ih.grad


@program
def distribution_zoo_log_probs_entropies_samples_and_kl(L):
    """Log-probabilities (and their gradient to a shared location), entropies where defined,
    seeded samples of many distributions (Laplace, Gumbel, StudentT, Cauchy, LogNormal,
    HalfNormal, Gamma, Exponential, Poisson, Binomial, NegativeBinomial, Geometric, VonMises,
    Weibull, ContinuousBernoulli, Kumaraswamy, Pareto) and a few analytic KL divergences."""
    D = L.distributions
    L.manual_seed(274)
    loc = L.tensor(normal64(3, seed=275), requires_grad=True)
    dists = [D.Laplace(loc, 1.5), D.Gumbel(loc, 2.0), D.StudentT(3.0, loc, 1.0),
             D.Cauchy(loc, 0.5), D.LogNormal(loc, 0.5), D.HalfNormal(L.ones(3, dtype=L.float64)),
             D.Gamma(loc.exp(), 2.0), D.Exponential(loc.exp()), D.Poisson(loc.exp()),
             D.Binomial(5, logits=loc), D.NegativeBinomial(4.0, logits=loc),
             D.Geometric(logits=loc), D.VonMises(loc, 2.0), D.Weibull(loc.exp(), 1.5),
             D.ContinuousBernoulli(logits=loc), D.Kumaraswamy(loc.exp(), 2.0),
             D.Pareto(1.0, loc.exp())]
    pos = L.tensor([0.5, 1.2, 2.0], dtype=L.float64)
    counts = L.tensor([1.0, 3, 5], dtype=L.float64)
    unit = L.tensor([0.2, 0.5, 0.9], dtype=L.float64)
    vals = [pos] * 8 + [counts] * 4 + [pos] * 2 + [unit] * 2 + [L.tensor([1.5, 2.0, 3.0],
                                                                        dtype=L.float64)]
    lps = [d.log_prob(v) for d, v in zip(dists, vals)]
    ents = []
    for d in dists:
        try:
            ents.append(d.entropy())
        except NotImplementedError:
            ents.append("not implemented")
    samples = [d.sample((2,)) for d in dists]
    sum(lp.sum() for lp in lps).backward()
    kl = [D.kl_divergence(D.Laplace(loc, 1.0), D.Laplace(loc * 0, 2.0)),
          D.kl_divergence(D.Gamma(2.0, 1.0), D.Gamma(3.0, 2.0)),
          D.kl_divergence(D.Beta(2.0, 3.0), D.Beta(1.0, 1.0)),
          D.kl_divergence(D.Bernoulli(0.3), D.Bernoulli(0.6)),
          D.kl_divergence(D.Categorical(logits=loc), D.Categorical(logits=loc.flip(0)))]
    return lps, ents, samples, loc.grad, kl



# ----------------------------------------------------------------------------------------------
# what a training script prints and measures
# ----------------------------------------------------------------------------------------------
@program
def model_summary_parameter_counts_and_logged_numbers(L):
    """What a script prints: repr of a model holding many layer kinds (their extra_repr
    arguments), total and trainable parameter counts, a 0-d loss formatted by f-string,
    str/repr of tensors with integers, wide ranges, booleans, grad_fn and non-finite
    values."""
    nn = L.nn
    L.manual_seed(280)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8, momentum=0.01),
        nn.LeakyReLU(0.1, inplace=True), nn.Dropout2d(0.1), nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(), nn.Linear(8, 4), nn.LogSoftmax(dim=1),
        nn.TransformerEncoderLayer(4, 2, 8, batch_first=True),
        nn.LSTM(4, 3, 2, bidirectional=True, batch_first=True),
        nn.Embedding(10, 4, padding_idx=0), nn.GRU(2, 2), nn.MultiheadAttention(4, 2),
        nn.LayerNorm(4, elementwise_affine=False), nn.GroupNorm(2, 4),
        nn.Upsample(scale_factor=2, mode="bilinear"), nn.ConvTranspose2d(2, 2, 3, 2, 1, 1),
        nn.PReLU(3), nn.Identity(), nn.MaxPool2d(3, 2, 1, ceil_mode=True))
    model[9].requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    loss = L.tensor(0.123456789, dtype=L.float64)
    lines = [f"loss {loss:.4f}", f"{loss.item():.3e}", str(loss), repr(L.tensor([1.5, 2.25])),
             str(L.arange(12).reshape(3, 4)), str(L.tensor([[1e-5, 1e5]])),
             str(L.tensor([True, False])),
             str(L.zeros(2, 3, dtype=L.float64, requires_grad=True) * 2),
             str(L.tensor([float("nan"), float("inf"), -1.0]))]
    return repr(model), total, trainable, lines


@program
def evaluation_metrics_auc_calibration_and_statistics(L):
    """Metrics over batches concatenated after the loop: accuracy, a ROC AUC by sorting the
    scores and integrating TPR over FPR with trapezoid, expected calibration error by
    bucketized confidences, and corrcoef, cov, biased var, median and kthvalue of the
    probabilities."""
    preds, tgts = [], []
    for i in range(3):
        preds.append(L.tensor(normal64(4, 3, seed=281 + i)).softmax(-1))
        tgts.append(L.tensor(labels(4, 3, seed=291 + i)))
    p, t = L.cat(preds), L.cat(tgts)
    acc = (p.argmax(1) == t).sum().item() / len(t)
    _, order = p[:, 0].sort(descending=True)
    pos = (t[order] == 0).double()
    tpr, fpr = pos.cumsum(0) / pos.sum(), (1 - pos).cumsum(0) / (1 - pos).sum()
    zero = L.zeros(1, dtype=L.float64)
    auc = L.trapezoid(L.cat([zero, tpr]), L.cat([zero, fpr]))
    edges = L.linspace(0, 1, 5, dtype=L.float64)
    conf, pred = p.max(1)
    b = L.bucketize(conf, edges[1:-1])
    ece = sum((conf[b == i] - (pred[b == i] == t[b == i]).double()).sum().abs()
              for i in range(4)) / len(t)
    return acc, auc, ece, L.corrcoef(p.T), L.cov(p.T, correction=0), \
        p.var(0, unbiased=False), L.median(p, 0), p.kthvalue(2, 0)


@program
def one_cycle_cycling_adam_betas_and_cyclic_lr_exp_range(L):
    """OneCycleLR on Adam (three phases, linear annealing) cycles beta1 against the lr;
    CyclicLR refuses an optimizer without momentum or betas when cycle_momentum is on, and
    in exp_range mode on Adam cycles both; the lrs and betas per step."""
    L.manual_seed(300)
    net = L.nn.Linear(3, 2).double()
    opt = L.optim.Adam(net.parameters(), lr=0.01, betas=(0.9, 0.99))
    s = L.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=3,
                                        three_phase=True, anneal_strategy="linear",
                                        div_factor=10, final_div_factor=100)
    x = L.tensor(normal64(4, 3, seed=301))
    rec = []
    for _ in range(6):
        opt.zero_grad()
        net(x).pow(2).sum().backward()
        opt.step()
        s.step()
        rec.append((opt.param_groups[0]["lr"], opt.param_groups[0]["betas"]))
    refused = err(lambda: L.optim.lr_scheduler.CyclicLR(L.optim.Adagrad(net.parameters()),
                                                         0.01, 0.1))
    opt2 = L.optim.Adam(net.parameters(), lr=0.01)
    c = L.optim.lr_scheduler.CyclicLR(opt2, 0.001, 0.01, step_size_up=2, mode="exp_range",
                                      gamma=0.9)
    cyc = []
    for _ in range(5):
        opt2.step()
        c.step()
        cyc.append((c.get_last_lr(), opt2.param_groups[0]["betas"]))
    return rec, refused, cyc, net.weight


@program
def enabled_cpu_grad_scaler_skipping_an_overflowing_step(L):
    """GradScaler('cpu') enabled: the loss scaled, unscale_ before clip_grad_norm_, an
    infinite loss at step 3 makes the scaler skip the step and halve the scale, two clean
    steps in a row double it (growth_interval 2); then clip_grad_norm_ with
    error_if_nonfinite on non-finite gradients raises torch's error."""
    L.manual_seed(302)
    net = L.nn.Linear(3, 2).double()
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    sc = L.amp.GradScaler("cpu", init_scale=2.0 ** 4, growth_interval=2)
    x = L.tensor(normal64(4, 3, seed=303))
    rec = []
    for i in range(5):
        opt.zero_grad()
        loss = net(x).pow(2).sum() * (float("inf") if i == 2 else 1.0)
        sc.scale(loss).backward()
        sc.unscale_(opt)
        norm = L.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        sc.step(opt)
        sc.update()
        rec.append((sc.get_scale(), norm, net.weight.detach().clone()))
    net.weight.grad[0, 0] = float("nan")
    e = err(lambda: L.nn.utils.clip_grad_norm_(net.parameters(), 1.0, error_if_nonfinite=True))
    return rec, e, sc.state_dict()




@program
def moco_momentum_encoder_with_a_queue_buffer_of_negatives(L):
    """MoCo: a query encoder trained by SGD and a key encoder updated as an exponential
    moving average of it through .data (no gradients), a queue of normalised keys held in a
    registered buffer with an integer pointer buffer, enqueued by slice assignment; the
    InfoNCE logits [l_pos, l_neg] / T against label 0."""
    nn, F = L.nn, L.nn.functional

    class MoCo(nn.Module):
        def __init__(self, dim=4, K=8, m=0.9, T=0.2):
            super().__init__()
            self.K, self.m, self.T = K, m, T
            self.q = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, dim))
            self.k = copy.deepcopy(self.q)
            for p in self.k.parameters():
                p.requires_grad = False
            self.register_buffer("queue", F.normalize(L.randn(dim, K), dim=0))
            self.register_buffer("ptr", L.zeros(1, dtype=L.long))

        @L.no_grad()
        def momentum_update(self):
            for pq, pk in zip(self.q.parameters(), self.k.parameters()):
                pk.data = pk.data * self.m + pq.data * (1.0 - self.m)

        @L.no_grad()
        def enqueue(self, keys):
            n, p = keys.shape[0], int(self.ptr)
            self.queue[:, p:p + n] = keys.T
            self.ptr[0] = (p + n) % self.K

        def forward(self, xq, xk):
            q = F.normalize(self.q(xq), dim=1)
            with L.no_grad():
                self.momentum_update()
                k = F.normalize(self.k(xk), dim=1)
            l_pos = L.einsum("nc,nc->n", q, k).unsqueeze(-1)
            l_neg = L.einsum("nc,ck->nk", q, self.queue.clone().detach())
            logits = L.cat([l_pos, l_neg], dim=1) / self.T
            self.enqueue(k)
            return logits, L.zeros(logits.shape[0], dtype=L.long)

    L.manual_seed(320)
    model = MoCo().double()
    opt = L.optim.SGD(model.q.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    base = normal64(12, 6, seed=321)
    rec = []
    for step in range(3):
        sl = slice(step * 4, step * 4 + 4)
        xq = L.tensor(base[sl] + 0.1 * normal64(4, 6, seed=322 + step))
        xk = L.tensor(base[sl] + 0.1 * normal64(4, 6, seed=332 + step))
        logits, target = model(xq, xk)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec.append((loss.detach(), int(model.ptr)))
    return rec, model.queue, model.k[0].weight, model.k[0].weight.grad, sorted(model.state_dict())


@program
def dino_student_teacher_with_centering_sharpening_and_ema_teacher(L):
    """DINO: student and teacher heads over two global crops, teacher outputs centred by a
    buffer and sharpened by a lower temperature (softmax, detached), the cross entropy of
    each teacher view against the other student view; the centre updated as an EMA of the
    teacher batch mean; the teacher's weights updated by torch._foreach_mul_/_foreach_add_
    under no_grad; a cosine momentum schedule."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(340)
    student = nn.Sequential(nn.Linear(5, 8), nn.GELU(), nn.Linear(8, 6)).double()
    teacher = copy.deepcopy(student)
    teacher.requires_grad_(False)
    center = L.zeros(1, 6, dtype=L.float64)
    opt = L.optim.AdamW(student.parameters(), lr=5e-3, weight_decay=0.04)
    x = normal64(6, 5, seed=341)
    views = [L.tensor(x + 0.1 * normal64(6, 5, seed=342)), L.tensor(x * 0.9)]
    rec = []
    for it in range(3):
        s_out = [student(v) / 0.1 for v in views]
        with L.no_grad():
            t_out = [teacher(v) for v in views]
            t_prob = [F.softmax((t - center) / 0.04, dim=-1) for t in t_out]
        loss = 0.0
        for i, tp in enumerate(t_prob):
            for j, so in enumerate(s_out):
                if i != j:
                    loss = loss + (-tp * F.log_softmax(so, dim=-1)).sum(-1).mean() / 2
        opt.zero_grad()
        loss.backward()
        opt.step()
        m = 1 - (1 - 0.9) * (math.cos(math.pi * it / 3) + 1) / 2
        with L.no_grad():
            center = center * 0.9 + L.cat(t_out).mean(0, keepdim=True) * 0.1
            tp_list = list(teacher.parameters())
            L._foreach_mul_(tp_list, m)
            L._foreach_add_(tp_list, [p.detach() for p in student.parameters()], alpha=1 - m)
        rec.append((loss.detach(), m))
    return rec, center, teacher[2].weight, student[0].weight.grad


# ----------------------------------------------------------------------------------------------
# the default dtype: float32 training loops as written (float32 tolerances)
# ----------------------------------------------------------------------------------------------
@program
def float32_convnet_with_batch_norm_trained_by_adam(L):
    """A float32 convnet (conv, BatchNorm, ReLU, max pool, conv, linear) on a batch of 16
    trained five Adam steps: the losses, the first conv's gradient and the last weights."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(310)
    net = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(6, 8, 3), nn.ReLU(), nn.Flatten(),
                        nn.Linear(8 * 2 * 2, 10))
    opt = L.optim.Adam(net.parameters(), lr=1e-3)
    x = L.tensor(normal64(16, 1, 8, 8, seed=311).astype(np.float32))
    y = L.tensor(labels(16, 10, seed=312))
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, net[0].weight.grad, net[7].weight, net[1].running_var


@program
def float32_lstm_language_model_with_clipping_and_momentum(L):
    """A float32 next-token LSTM model (Embedding, LSTM, Linear) trained five SGD steps with
    momentum and clip_grad_norm_ over all its parameters."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(313)
    emb, lstm, fc = nn.Embedding(20, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 20)
    params = list(emb.parameters()) + list(lstm.parameters()) + list(fc.parameters())
    opt = L.optim.SGD(params, lr=0.5, momentum=0.9)
    ids = L.tensor(np.random.RandomState(314).randint(0, 20, (4, 10)))
    losses, norms = [], []
    for _ in range(5):
        out, _ = lstm(emb(ids[:, :-1]))
        loss = F.cross_entropy(fc(out).reshape(-1, 20), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(params, 1.0))
        opt.step()
        losses.append(loss.detach())
    return losses, norms, fc.weight, lstm.weight_hh_l0


@program
def float32_transformer_encoder_classifier_under_adamw(L):
    """A float32 two-layer TransformerEncoder with mean pooling and a linear head trained
    five AdamW steps."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(315)
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0,
                                                           batch_first=True),
                                2, enable_nested_tensor=False)
    head = nn.Linear(16, 3)
    opt = L.optim.AdamW(list(enc.parameters()) + list(head.parameters()), lr=1e-3)
    x = L.tensor(normal64(4, 6, 16, seed=316).astype(np.float32))
    y = L.tensor(labels(4, 3, seed=317))
    losses = []
    for _ in range(5):
        loss = F.cross_entropy(head(enc(x).mean(1)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return losses, head.weight, enc.layers[0].self_attn.out_proj.weight


# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = {"checkpoint_holding_a_numpy_array_refused_under_weights_only"}


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
