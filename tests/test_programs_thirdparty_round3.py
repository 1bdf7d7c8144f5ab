"""Whole programs in the idioms of code people run, a third round: pytorch/examples variants
(a tied-weight GRU language model with clip_grad_value_, a style network trained with a total
variation term, sub-pixel super-resolution reporting PSNR, a siamese net on a BCE head, LBFGS
with a strong-Wolfe line search, layer-local forward-forward, a dense-adjacency GAT),
torchvision model pieces (inverted residuals in train then eval, SE with hardsigmoid,
MBConv with stochastic depth, channel shuffle, DenseNet concatenation, SqueezeNet fire,
ConvNeXt channels-last blocks, Swin shifted windows with a relative position bias table,
ViT position-embedding interpolation, ASPP, U-Net crop/concat, FPN), timm idioms (no-decay
parameter groups, EMA by lerp_, warmup-cosine LambdaLR, SequentialLR, cutmix with numpy
draws, soft-target cross-entropy), torch.utils.checkpoint, torch.func meta-learning,
parametrizations and pruning, gradient accumulation with a disabled GradScaler, state-dict
round trips through io.BytesIO, module.apply initialisers, non-persistent buffers,
feature-extraction hooks and fine-tuning a frozen backbone; and CPU bfloat16 autocast as
such programs use it: BatchNorm's float32 parameters on a bfloat16 conv output, the ops
autocast lowers (prelu, vecdot, einsum and tensordot contractions, the fused encoder layer)
and those it runs in float32 (the losses, reflection/replication pads, FFTs, cdist, 3-d
pools, max_unpool, grid_sample), while dot and inner of vectors are left alone.

Each ``program(lib)`` runs with ``lib`` = torch and ``lib`` = minigrad on the same numpy inputs
and copied weights; both must give the same values (float64 to ~1e-10, float32 to ~1e-5),
dtypes, shapes and requires_grad, or raise the same exception type with torch's words.
"""
import io
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, err, grads_of, labels as _labels, load_seeded, normal32 as _f32,
    normal64 as _arr, params_of, registry, train_steps)


HARNESS = SideBySide(rename=bare, rename_error=bare,
                     tol={"float16": (1e-3, 1e-4), "bfloat16": (2e-2, 1e-2),
                          "float32": (1e-5, 1e-6), "float64": (1e-9, 1e-11)},
                     scalar_tol=(1e-9, 1e-11), requires_grad=True)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# pytorch/examples
# ----------------------------------------------------------------------------------------------
@program
def word_language_model_gru_tied_with_clip_value_and_manual_sgd(L):
    """A tied-weight GRU language model: the output layer's weight is the embedding's; the
    hidden state carried across chunks of the sequence but detached, clip_grad_norm_ then
    clip_grad_value_, SGD by hand as p.data.add_(p.grad, alpha=-lr), perplexity by
    math.exp."""
    nn, F = L.nn, L.nn.functional

    class TiedGRU(nn.Module):
        def __init__(self, vocab=13, width=6, depth=2):
            super().__init__()
            self.drop = nn.Dropout(0.0)
            self.encoder = nn.Embedding(vocab, width)
            self.rnn = nn.GRU(width, width, depth, dropout=0.0)
            self.decoder = nn.Linear(width, vocab)
            self.decoder.weight = self.encoder.weight      # one (vocab, width) matrix
            self.shape = (depth, width, vocab)

        def forward(self, tokens, state):
            seq, state = self.rnn(self.drop(self.encoder(tokens)), state)
            scores = self.decoder(self.drop(seq)).view(-1, self.shape[2])
            return F.log_softmax(scores, dim=1), state

        def zero_state(self, rows):
            # same dtype/device as the weights, whatever they were moved to
            depth, width, _ = self.shape
            return self.encoder.weight.new_zeros(depth, rows, width)

    model = load_seeded(L, TiedGRU().double(), 3)
    data = L.tensor(_labels(4 * 9, 13, 4)).view(4, 9).t().contiguous()   # (time, stream)
    state = model.zero_state(4)
    losses, norms, lr, chunk = [], [], 2.0, 3
    for start in range(0, data.size(0) - 1, chunk):
        stop = min(start + chunk, data.size(0) - 1)
        model.zero_grad()
        state = state.detach()              # gradients stop at the chunk boundary
        logp, state = model(data[start:stop], state)
        loss = nn.NLLLoss()(logp, data[start + 1:stop + 1].reshape(-1))
        loss.backward()
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), 0.25))
        nn.utils.clip_grad_value_(model.parameters(), 0.01)
        for w in model.parameters():
            w.data.add_(w.grad, alpha=-lr)
        losses.append(loss.item())
    names = [n for n, _ in model.named_parameters()]
    return dict(losses=losses, ppl=math.exp(losses[-1]), norms=norms, names=names,
                tied=model.decoder.weight is model.encoder.weight, enc=model.encoder.weight,
                hidden=state, n_state=len(model.state_dict()))


@program
def fast_neural_style_transformer_net_with_total_variation(L):
    """An image-to-image style network: reflection-padded convs, InstanceNorm2d(affine), a
    residual block, nearest x2 upsampling then a conv, gram matrices by bmm and a
    total-variation term, trained by Adam for two steps."""
    nn, F = L.nn, L.nn.functional

    def padded_conv(cin, cout, k, stride=1, up=None):
        # the border mirrored by k // 2 so a stride-1 conv keeps the size; optionally a
        # nearest-neighbour upsampling in front
        parts = [nn.Upsample(scale_factor=up, mode="nearest")] if up else []
        return nn.Sequential(*parts, nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride))

    def conv_in_relu(cin, cout, k, stride=1, up=None):
        return [padded_conv(cin, cout, k, stride, up), nn.InstanceNorm2d(cout, affine=True),
                nn.ReLU()]

    class Skip(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*conv_in_relu(c, c, 3)[:2], nn.ReLU(),
                                      *conv_in_relu(c, c, 3)[:2])

        def forward(self, x):
            return x + self.body(x)

    net = nn.Sequential(*conv_in_relu(3, 4, 5), *conv_in_relu(4, 6, 3, 2), Skip(6),
                        *conv_in_relu(6, 4, 3, up=2), padded_conv(4, 3, 5)).double()
    load_seeded(L, net, 5, 0.2)

    def gram(fmap):
        # (b, c, h, w) -> (b, c, c) channel correlations, divided by c * h * w
        b, c, h, w = fmap.size()
        flat = fmap.view(b, c, h * w)
        return flat.bmm(flat.transpose(1, 2)) / (c * h * w)

    x = L.tensor(_arr(2, 3, 8, 8, seed=6))
    style = gram(L.tensor(_arr(1, 3, 8, 8, seed=7)))
    opt = L.optim.Adam(net.parameters(), 1e-2)

    def loss_of():
        y = net(x)
        down = (y[:, :, 1:, :] - y[:, :, :-1, :]).abs().mean()
        across = (y[:, :, :, 1:] - y[:, :, :, :-1]).abs().mean()
        style_l = F.mse_loss(gram(y), style.expand(y.size(0), -1, -1))
        return F.mse_loss(y, x) + 10 * style_l + 0.1 * (down + across)

    losses = train_steps(opt, loss_of, 2)
    return dict(losses=losses, out=net(x), grads=grads_of(net))


@program
def super_resolution_pixel_shuffle_psnr(L):
    """Sub-pixel super-resolution: a conv stack ending in r^2 channels rearranged by
    PixelShuffle(r) on a Y channel, seeded weights, MSE and PSNR = 10 log10(1 / mse)
    reported per step, PixelUnshuffle back."""
    nn = L.nn
    r = 2
    model = nn.Sequential(nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2)), nn.ReLU(),
                          nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1)), nn.ReLU(),
                          nn.Conv2d(8, r ** 2, (3, 3), (1, 1), (1, 1)), nn.PixelShuffle(r))
    model = load_seeded(L, model, 8, 0.2)
    lr_img = L.from_numpy(np.random.RandomState(9).rand(2, 1, 6, 6).astype(np.float32))
    hr_img = L.from_numpy(np.random.RandomState(10).rand(2, 1, 12, 12).astype(np.float32))
    opt = L.optim.Adam(model.parameters(), lr=0.01)
    crit = nn.MSELoss()
    psnrs = []
    for _ in range(3):
        opt.zero_grad()
        crit(model(lr_img), hr_img).backward()
        opt.step()
        with L.no_grad():
            psnrs.append(10 * math.log10(1 / crit(model(lr_img), hr_img).item()))
    unshuf = nn.PixelUnshuffle(2)(model(lr_img))
    return dict(psnr=[round(p, 3) for p in psnrs], out=model(lr_img), unshuf=unshuf,
                w=model[4].weight)


@program
def siamese_network_with_bce_on_concatenated_embeddings(L):
    """A siamese pair classifier: one shared tower embeds both images, the embeddings are
    concatenated into a small head with a sigmoid, BCELoss; plus a contrastive loss on
    pairwise_distance."""
    nn, F = L.nn, L.nn.functional

    class PairJudge(nn.Module):
        def __init__(self):
            super().__init__()
            self.tower = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                       nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((2, 2)),
                                       nn.Flatten())
            self.fc = nn.Sequential(nn.Linear(32, 8), nn.ReLU(inplace=True), nn.Linear(8, 1),
                                    nn.Sigmoid())

        def forward(self, a, b):
            ea, eb = (self.tower(img) for img in (a, b))     # the same weights for both
            return self.fc(L.cat((ea, eb), 1)), ea, eb

    net = load_seeded(L, PairJudge().double(), 11)
    a, b = L.tensor(_arr(4, 1, 6, 6, seed=12)), L.tensor(_arr(4, 1, 6, 6, seed=13))
    same = L.tensor([1., 0., 1., 0.], dtype=L.float64)
    opt = L.optim.Adadelta(net.parameters(), lr=1.0)

    def loss_of():
        prob, ea, eb = net(a, b)
        d = F.pairwise_distance(ea, eb, keepdim=True)
        contrastive = (same * d.squeeze(1).pow(2) +
                       (1 - same) * L.clamp(1.0 - d.squeeze(1), min=0.0).pow(2)).mean()
        return nn.BCELoss()(prob.squeeze(), same) + 0.5 * contrastive

    losses = train_steps(opt, loss_of)
    net.eval()
    with L.no_grad():
        prob, _, _ = net(a, b)
    return dict(losses=losses, prob=prob, rm=net.tower[1].running_mean,
                rv=net.tower[1].running_var, nbt=net.tower[1].num_batches_tracked)


@program
def time_sequence_lbfgs_strong_wolfe(L):
    """Sequence prediction with one LSTMCell and LBFGS(line_search_fn='strong_wolfe'), then a
    prediction rolled forward under no_grad."""
    nn = L.nn

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 5)
            self.linear = nn.Linear(5, 1)

        def forward(self, inp, future=0):
            outputs = []
            h = L.zeros(inp.size(0), 5, dtype=L.double)
            c = L.zeros(inp.size(0), 5, dtype=L.double)
            for x in inp.split(1, dim=1):
                h, c = self.lstm1(x, (h, c))
                out = self.linear(h)
                outputs.append(out)
            for _ in range(future):
                h, c = self.lstm1(out, (h, c))
                out = self.linear(h)
                outputs.append(out)
            return L.cat(outputs, dim=1)

    t = np.arange(12)[None, :] + np.array([[0], [3], [7], [11]])
    data = np.sin(t / 4.0)
    inp, target = L.from_numpy(data[:, :-1]), L.from_numpy(data[:, 1:])
    seq = load_seeded(L, Seq().double(), 14, 0.4)
    crit = nn.MSELoss()
    opt = L.optim.LBFGS(seq.parameters(), lr=0.5, max_iter=4, line_search_fn="strong_wolfe")
    seen = []

    def closure():
        opt.zero_grad()
        loss = crit(seq(inp), target)
        seen.append(loss.item())
        loss.backward()
        return loss

    finals = [opt.step(closure).item() for _ in range(2)]
    with L.no_grad():
        pred = seq(inp[:2], future=3)
    state = opt.state[opt._params[0]]
    return dict(seen=seen, finals=finals, pred=pred, n_iter=state["n_iter"],
                func_evals=state["func_evals"])


@program
def forward_forward_layer_local_training(L):
    """mnist_forward_forward: labels overlaid on the first pixels, each layer trained on its
    own goodness (mean of squares) with softplus of the margin, inputs normalised by
    x / (x.norm(2, 1, keepdim=True) + 1e-4), the next layer fed detached outputs."""
    nn = L.nn

    def overlay(x, y):
        x_ = x.clone()
        x_[:, :4] *= 0.0
        x_[range(x.shape[0]), y] = x.max()
        return x_

    class Layer(nn.Linear):
        def __init__(self, cin, cout):
            super().__init__(cin, cout, dtype=L.float64)
            self.relu = nn.ReLU()
            self.opt = L.optim.Adam(self.parameters(), lr=0.03)

        def forward(self, x):
            x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
            return self.relu(L.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

        def train_step(self, x_pos, x_neg, threshold=2.0):
            g_pos = self.forward(x_pos).pow(2).mean(1)
            g_neg = self.forward(x_neg).pow(2).mean(1)
            loss = L.log(1 + L.exp(L.cat([-g_pos + threshold, g_neg - threshold]))).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return self.forward(x_pos).detach(), self.forward(x_neg).detach(), loss.item()

    x = L.tensor(np.random.RandomState(15).rand(6, 10))
    y = L.tensor(_labels(6, 4, 16))
    layers = [load_seeded(L, Layer(10, 8), 17), load_seeded(L, Layer(8, 8), 18)]
    pos, neg = overlay(x, y), overlay(x, (y + 1) % 4)
    losses = []
    for layer in layers:
        for _ in range(2):
            p, n, lo = layer.train_step(pos, neg)
            losses.append(lo)
        pos, neg = p, n

    def goodness_per_label(x):
        scores = []
        for label in range(4):
            h = overlay(x, L.full((x.shape[0],), label, dtype=L.long))
            good = []
            for layer in layers:
                h = layer(h)
                good += [h.pow(2).mean(1)]
            scores += [sum(good).unsqueeze(1)]
        return L.cat(scores, 1)

    return dict(losses=losses, pred=goodness_per_label(x).argmax(1),
                scores=goodness_per_label(x))


@program
def dense_adjacency_gat_multihead(L):
    """pytorch/examples GAT on a dense adjacency: Wh per head by a batched matmul, e = a_src +
    a_dst^T, leaky_relu, masked_fill(adj == 0, -inf), softmax(dim=-1), dropout off, heads
    concatenated then averaged in the output layer, NLL on log_softmax."""
    nn, F = L.nn, L.nn.functional

    class GATLayer(nn.Module):
        def __init__(self, cin, cout, heads, concat):
            super().__init__()
            self.W = nn.Parameter(L.empty(size=(heads, cin, cout), dtype=L.float64))
            self.a = nn.Parameter(L.empty(size=(heads, 2 * cout, 1), dtype=L.float64))
            self.heads, self.cout, self.concat = heads, cout, concat
            self.leakyrelu = nn.LeakyReLU(0.2)

        def forward(self, h, adj):
            n = h.shape[0]
            wh = L.matmul(h.unsqueeze(0), self.W)                       # (H, N, C)
            src = L.matmul(wh, self.a[:, :self.cout, :])                # (H, N, 1)
            dst = L.matmul(wh, self.a[:, self.cout:, :])
            e = self.leakyrelu(src + dst.mT)                            # (H, N, N)
            att = e.masked_fill(adj.unsqueeze(0) == 0, float("-inf"))
            att = F.softmax(att, dim=-1)
            out = L.matmul(att, wh)
            if self.concat:
                return out.permute(1, 0, 2).reshape(n, self.heads * self.cout)
            return out.mean(dim=0)

    gat = nn.ModuleDict({"l1": GATLayer(5, 3, 2, True), "l2": GATLayer(6, 3, 1, False)})
    load_seeded(L, gat, 19, 0.5)
    adj_np = (np.random.RandomState(20).rand(7, 7) > 0.6).astype(np.float64)
    adj = L.tensor(np.maximum(adj_np, adj_np.T) + np.eye(7))
    x = L.tensor(_arr(7, 5, seed=21))
    y = L.tensor(_labels(7, 3, 22))
    opt = L.optim.Adam(gat.parameters(), lr=0.005, weight_decay=5e-4)

    def loss_of():
        h = F.elu(gat["l1"](x, adj))
        return F.nll_loss(F.log_softmax(gat["l2"](h, adj), dim=1), y)

    losses = train_steps(opt, loss_of)
    return dict(losses=losses, grads=grads_of(gat), params=params_of(gat))


# ----------------------------------------------------------------------------------------------
# torchvision model pieces
# ----------------------------------------------------------------------------------------------
def _make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@program
def mobilenet_v2_inverted_residuals_train_then_eval(L):
    """InvertedResidual(expand_ratio=6) with ReLU6 and BatchNorm, use_res_connect when stride 1
    and channels agree; a step of SGD with momentum + nesterov in train mode, then eval."""
    nn = L.nn

    class ConvBNReLU(nn.Sequential):
        def __init__(self, cin, cout, k=3, stride=1, groups=1):
            super().__init__(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                       bias=False),
                             nn.BatchNorm2d(cout, momentum=0.01, eps=1e-3),
                             nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand_ratio):
            super().__init__()
            hidden = int(round(inp * expand_ratio))
            self.use_res_connect = stride == 1 and inp == oup
            layers = [ConvBNReLU(inp, hidden, k=1)] if expand_ratio != 1 else []
            layers += [ConvBNReLU(hidden, hidden, stride=stride, groups=hidden),
                       nn.Conv2d(hidden, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
            self.conv = nn.Sequential(*layers)
            self.out_channels = oup

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    net = nn.Sequential(ConvBNReLU(3, _make_divisible(4.2), stride=2),
                        InvertedResidual(8, 8, 1, 1), InvertedResidual(8, 8, 1, 6),
                        InvertedResidual(8, 12, 2, 6), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(1), nn.Dropout(0.0), nn.Linear(12, 5)).double()
    load_seeded(L, net, 23, 0.3)
    x = L.tensor(_arr(3, 3, 12, 12, seed=24))
    y = L.tensor(_labels(3, 5, 25))
    opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=4e-5)
    losses = train_steps(opt, lambda: L.nn.functional.cross_entropy(net(x), y), 2)
    net.eval()
    return dict(losses=losses, eval_out=net(x), rv=net[2].conv[0][1].running_var,
                res=[m.use_res_connect for m in net if hasattr(m, "use_res_connect")])


@program
def mobilenet_v3_se_hardswish_block(L):
    """MobileNetV3 InvertedResidual with SqueezeExcitation(scale_activation=Hardsigmoid) and
    Hardswish, the torchvision SE written with adaptive_avg_pool2d and 1x1 convs."""
    nn, F = L.nn, L.nn.functional

    class SE(nn.Module):
        def __init__(self, cin, squeeze):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1, self.fc2 = nn.Conv2d(cin, squeeze, 1), nn.Conv2d(squeeze, cin, 1)
            self.activation, self.scale_activation = nn.ReLU(), nn.Hardsigmoid()

        def forward(self, x):
            s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
            return s * x

    block = nn.Sequential(
        nn.Conv2d(4, 16, 1, bias=False), nn.BatchNorm2d(16), nn.Hardswish(),
        nn.Conv2d(16, 16, 5, 2, 2, groups=16, bias=False), nn.BatchNorm2d(16), nn.Hardswish(),
        SE(16, _make_divisible(16 // 4)), nn.Conv2d(16, 6, 1, bias=False), nn.BatchNorm2d(6))
    block.double()
    load_seeded(L, block, 26, 0.5)
    x = L.tensor(_arr(2, 4, 9, 9, seed=27), requires_grad=True)
    out = block(x)
    head = F.hardswish(F.adaptive_avg_pool2d(out, 1).flatten(1))
    head.sum().backward()
    # the gradient of hardsigmoid is PyTorch's 1/6 rounded to float32, in float64 too
    t = L.tensor([-3.5, -1.0, 0.25, 2.9], dtype=L.float64, requires_grad=True)
    F.hardsigmoid(t).sum().backward()
    return dict(out=out, head=head, gx=x.grad, grads=grads_of(block), hs_grad=t.grad,
                hs=[F.hardsigmoid(L.tensor([-3., -1., 0., 2.9, 3.5])),
                    F.hardswish(L.tensor([-3., -1., 0., 2.9, 3.5]))])


@program
def efficientnet_mbconv_with_stochastic_depth_rows(L):
    """MBConv with SiLU, SE with sigmoid, and torchvision's StochasticDepth(p, 'row') written
    with a numpy-made survival mask: x * mask / (1 - p) per sample; eval returns x as is."""
    nn, F = L.nn, L.nn.functional

    class StochasticDepth(nn.Module):
        def __init__(self, p, mode, mask):
            super().__init__()
            self.p, self.mode, self.mask = p, mode, mask

        def forward(self, x):
            if not self.training or self.p == 0.0:
                return x
            survival = 1.0 - self.p
            size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
            noise = L.tensor(self.mask[:size[0]], dtype=x.dtype).view(size)
            return x * noise.div_(survival)

    class MBConv(nn.Module):
        def __init__(self, c, expand, mask):
            super().__init__()
            e = c * expand
            self.block = nn.Sequential(
                nn.Conv2d(c, e, 1, bias=False), nn.BatchNorm2d(e), nn.SiLU(inplace=True),
                nn.Conv2d(e, e, 3, padding=1, groups=e, bias=False), nn.BatchNorm2d(e),
                nn.SiLU(inplace=True))
            self.se_reduce, self.se_expand = nn.Conv2d(e, 2, 1), nn.Conv2d(2, e, 1)
            self.project = nn.Sequential(nn.Conv2d(e, c, 1, bias=False), nn.BatchNorm2d(c))
            self.stochastic_depth = StochasticDepth(0.25, "row", mask)

        def forward(self, x):
            h = self.block(x)
            s = F.adaptive_avg_pool2d(h, 1)
            h = h * L.sigmoid(self.se_expand(F.silu(self.se_reduce(s))))
            return self.stochastic_depth(self.project(h)) + x

    mask = np.array([1., 0., 1., 1.])
    m = load_seeded(L, MBConv(4, 4, mask).double(), 28, 0.3)
    x = L.tensor(_arr(4, 4, 6, 6, seed=29), requires_grad=True)
    out = m(x)
    out.pow(2).mean().backward()
    m.eval()
    return dict(train=out, gx=x.grad, grads=grads_of(m), eval=m(x).detach(),
                bn=m.block[1].running_mean)


@program
def shufflenet_v2_channel_shuffle_and_chunk(L):
    """ShuffleNetV2 unit with stride 1: x.chunk(2, dim=1), branch on one half, cat, then
    channel_shuffle by view/transpose/contiguous/view; compared against nn.ChannelShuffle."""
    nn = L.nn

    def channel_shuffle(x, groups):
        b, c, h, w = x.size()
        x = x.view(b, groups, c // groups, h, w)
        x = L.transpose(x, 1, 2).contiguous()
        return x.view(b, -1, h, w)

    branch = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU(True),
                           nn.Conv2d(4, 4, 3, 1, 1, groups=4, bias=False), nn.BatchNorm2d(4),
                           nn.Conv2d(4, 4, 1, bias=False), nn.BatchNorm2d(4),
                           nn.ReLU(True)).double()
    load_seeded(L, branch, 30)
    x = L.tensor(_arr(2, 8, 5, 5, seed=31), requires_grad=True)
    x1, x2 = x.chunk(2, dim=1)
    out = channel_shuffle(L.cat((x1, branch(x2)), dim=1), 2)
    builtin = nn.ChannelShuffle(2)(L.cat((x1, branch(x2)), dim=1))
    out.sum().backward()
    return dict(out=out, same=L.equal(out, builtin), gx=x.grad, grads=grads_of(branch),
                fn=L.nn.functional.channel_shuffle(L.arange(8.).view(1, 8, 1, 1), 4).flatten())


@program
def densenet_dense_block_concatenation_and_transition(L):
    """DenseNet _DenseLayer: bn_function concatenates the list of previous features,
    norm-relu-conv1x1 then norm-relu-conv3x3; _Transition by conv and AvgPool2d(2);
    features collected in a list and cat'd once more at the end."""
    nn, F = L.nn, L.nn.functional

    class DenseLayer(nn.Module):
        def __init__(self, cin, growth, bn_size):
            super().__init__()
            self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU(inplace=True)
            self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
            self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * growth), nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

        def forward(self, prev):
            prev = [prev] if isinstance(prev, L.Tensor) else prev
            bottleneck = self.conv1(self.relu1(self.norm1(L.cat(prev, 1))))
            return self.conv2(self.relu2(self.norm2(bottleneck)))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, n, cin, growth):
            super().__init__()
            for i in range(n):
                self.add_module("denselayer%d" % (i + 1), DenseLayer(cin + i * growth, growth, 2))

        def forward(self, init):
            features = [init]
            for name, layer in self.items():
                features.append(layer(features))
            return L.cat(features, 1)

    trans = nn.Sequential(OrderedDict([("norm", nn.BatchNorm2d(9)), ("relu", nn.ReLU(True)),
                                       ("conv", nn.Conv2d(9, 4, 1, bias=False)),
                                       ("pool", nn.AvgPool2d(kernel_size=2, stride=2))]))
    block = DenseBlock(3, 3, 2)
    model = nn.Sequential(block, trans).double()
    load_seeded(L, model, 32)
    x = L.tensor(_arr(2, 3, 6, 6, seed=33))
    out = model(x)
    F.adaptive_avg_pool2d(F.relu(out), (1, 1)).sum().backward()
    return dict(out=out, keys=list(block.keys()), grads=grads_of(model),
                sd=sorted(model.state_dict().keys())[:6])


@program
def squeezenet_fire_modules_with_ceil_mode_pool(L):
    """SqueezeNet 1.1: Fire(squeeze, expand1x1, expand3x3) cat'd on channels, MaxPool2d with
    ceil_mode=True, classifier of a final conv then AdaptiveAvgPool2d, kaiming-free copied
    weights, Adam steps."""
    nn = L.nn

    class Fire(nn.Module):
        def __init__(self, inplanes, squeeze, e1, e3):
            super().__init__()
            self.squeeze, self.squeeze_activation = nn.Conv2d(inplanes, squeeze, 1), nn.ReLU(True)
            self.expand1x1, self.expand1x1_activation = nn.Conv2d(squeeze, e1, 1), nn.ReLU(True)
            self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)
            self.expand3x3_activation = nn.ReLU(True)

        def forward(self, x):
            x = self.squeeze_activation(self.squeeze(x))
            return L.cat([self.expand1x1_activation(self.expand1x1(x)),
                          self.expand3x3_activation(self.expand3x3(x))], 1)

    model = nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(True),
                          nn.MaxPool2d(3, 2, ceil_mode=True), Fire(8, 2, 4, 4), Fire(8, 2, 4, 4),
                          nn.MaxPool2d(3, 2, ceil_mode=True), Fire(8, 3, 6, 6),
                          nn.Dropout(0.0), nn.Conv2d(12, 4, 1), nn.ReLU(True),
                          nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten()).double()
    load_seeded(L, model, 34, 0.4)
    x = L.from_numpy(_arr(2, 3, 19, 19, seed=35))
    y = L.tensor(_labels(2, 4, 36))
    shapes = []
    h = x
    for m in model:
        h = m(h)
        shapes.append(tuple(h.shape))
    opt = L.optim.Adam(model.parameters(), lr=1e-3)
    losses = train_steps(opt, lambda: nn.functional.cross_entropy(model(x), y))
    return dict(shapes=shapes, losses=losses, w=model[3].expand3x3.weight)


@program
def convnext_blocks_channels_last_layernorm_and_layer_scale(L):
    """ConvNeXt: depthwise 7x7 conv, permute(0, 2, 3, 1), LayerNorm(eps=1e-6), Linear 4x,
    GELU, Linear, gamma * x, permute back, residual; the downsampling LayerNorm2d written
    channels-first by mean/pow/sqrt; AdamW with layer scale params excluded from decay."""
    nn, F = L.nn, L.nn.functional

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            x = x.permute(0, 2, 3, 1)
            x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)

    class ChannelsFirstLN(nn.Module):
        def __init__(self, c, eps=1e-6):
            super().__init__()
            self.weight = nn.Parameter(L.ones(c))
            self.bias = nn.Parameter(L.zeros(c))
            self.eps = eps

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / L.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    class Block(nn.Module):
        def __init__(self, dim, ls=1e-6):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pwconv1, self.act, self.pwconv2 = nn.Linear(dim, 4 * dim), nn.GELU(), \
                nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(ls * L.ones((dim,)), requires_grad=True)

        def forward(self, x):
            inp = x
            x = self.dwconv(x).permute(0, 2, 3, 1)
            x = self.pwconv2(self.act(self.pwconv1(self.norm(x))))
            return inp + (self.gamma * x).permute(0, 3, 1, 2)

    model = nn.Sequential(nn.Conv2d(3, 4, 2, 2), LayerNorm2d(4, eps=1e-6), Block(4),
                          ChannelsFirstLN(4), nn.Conv2d(4, 6, 2, 2), Block(6)).double()
    load_seeded(L, model, 37, 0.3)
    x = L.tensor(_arr(2, 3, 16, 16, seed=38))
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = L.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                         {"params": no_decay, "weight_decay": 0.0}], lr=4e-3)
    losses = train_steps(opt, lambda: model(x).pow(2).mean(), 2)
    return dict(losses=losses, out=model(x), gamma=model[2].gamma, n=[len(decay), len(no_decay)],
                cf_equal=L.allclose(model[3](model[2](model[1](model[0](x)))).permute(0, 2, 3, 1),
                                    LayerNorm2d(4, eps=1e-6).double()(
                                        model[2](model[1](model[0](x)))).permute(0, 2, 3, 1)))


def _window_partition(x, ws):
    """(B, H, W, C) -> (B * nW, ws, ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, c)


def _window_reverse(windows, ws, h, w):
    b = int(windows.shape[0] / (h * w / ws / ws))
    x = windows.view(b, h // ws, w // ws, ws, ws, -1)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(b, h, w, -1)


@program
def swin_shifted_window_attention_with_relative_position_bias(L):
    """Swin block: torch.roll by -shift, window partition, qkv reshape/permute/unbind,
    relative_position_bias_table indexed by a relative_position_index buffer built from
    meshgrid(indexing='ij')/flatten/permute/sum, the shifted-window attention mask built by
    slices and masked_fill(!= 0, -100), softmax, reverse and roll back."""
    nn = L.nn
    ws, shift, heads, dim, H = 2, 1, 2, 4, 4

    class WindowAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.relative_position_bias_table = nn.Parameter(
                L.zeros((2 * ws - 1) * (2 * ws - 1), heads))
            coords = L.stack(L.meshgrid(L.arange(ws), L.arange(ws), indexing="ij"))
            flat = L.flatten(coords, 1)
            rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
            rel[:, :, 0] += ws - 1
            rel[:, :, 1] += ws - 1
            rel[:, :, 0] *= 2 * ws - 1
            self.register_buffer("relative_position_index", rel.sum(-1), persistent=False)
            self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)
            self.scale = (dim // heads) ** -0.5

        def forward(self, x, mask=None):
            b_, n, c = x.shape
            qkv = self.qkv(x).reshape(b_, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv.unbind(0)
            attn = (q * self.scale) @ k.transpose(-2, -1)
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            attn = attn + bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
            if mask is not None:
                nw = mask.shape[0]
                attn = attn.view(b_ // nw, nw, heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
                attn = attn.view(-1, heads, n, n)
            attn = attn.softmax(dim=-1)
            return self.proj((attn @ v).transpose(1, 2).reshape(b_, n, c))

    img_mask = L.zeros((1, H, H, 1))
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[:, hs, wsl, :] = cnt
            cnt += 1
    mw = _window_partition(img_mask, ws).view(-1, ws * ws)
    attn_mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(
        attn_mask == 0, float(0.0))
    attn = load_seeded(L, WindowAttention(), 39, 0.4)
    norm = nn.LayerNorm(dim)
    x = L.tensor(_f32(2, H * H, dim, seed=40), requires_grad=True)
    h = norm(x).view(2, H, H, dim)
    h = L.roll(h, shifts=(-shift, -shift), dims=(1, 2))
    win = _window_partition(h, ws).view(-1, ws * ws, dim)
    out = _window_reverse(attn(win, attn_mask).view(-1, ws, ws, dim), ws, H, H)
    out = L.roll(out, shifts=(shift, shift), dims=(1, 2)).view(2, H * H, dim) + x
    out.pow(2).sum().backward()
    return dict(index=attn.relative_position_index, mask=attn_mask, out=out, gx=x.grad,
                gtable=attn.relative_position_bias_table.grad,
                keys=list(attn.state_dict().keys()),
                buffers=[n for n, _ in attn.named_buffers()])


@program
def vit_patch_embedding_class_token_and_pos_embed_interpolation(L):
    """ViT: Conv2d patchify, flatten(2).transpose(1, 2), class token expand + cat, learned pos
    embedding resampled to a new grid with interpolate(bicubic, align_corners=False) and
    (torchvision) bicubic align_corners=True, a pre-norm encoder layer, the class token read."""
    nn, F = L.nn, L.nn.functional

    def resample(pos, new_hw, align):
        cls, grid = pos[:, :1], pos[:, 1:]
        gs = int(math.sqrt(grid.shape[1]))
        grid = grid.reshape(1, gs, gs, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=new_hw, mode="bicubic", align_corners=align)
        grid = grid.permute(0, 2, 3, 1).reshape(1, new_hw[0] * new_hw[1], -1)
        return L.cat([cls, grid], dim=1)

    patch = nn.Conv2d(3, 8, kernel_size=4, stride=4).double()
    cls_token = nn.Parameter(L.zeros(1, 1, 8, dtype=L.float64))
    pos = nn.Parameter(L.tensor(_arr(1, 1 + 4, 8, seed=41, scale=0.02)))
    enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                     batch_first=True, norm_first=True).double()
    load_seeded(L, patch, 42)
    load_seeded(L, enc, 43, 0.2)
    with L.no_grad():
        cls_token.copy_(L.tensor(_arr(1, 1, 8, seed=44, scale=0.02)))
    x = L.tensor(_arr(2, 3, 12, 12, seed=45))
    tokens = patch(x).flatten(2).transpose(1, 2)                 # (B, 9, 8): a 3x3 grid
    tokens = L.cat([cls_token.expand(x.shape[0], -1, -1), tokens], dim=1)
    pe = resample(pos, (3, 3), False)
    out = enc(tokens + pe)
    out[:, 0].pow(2).sum().backward()
    return dict(out=out, pe=pe, pe_tv=resample(pos, (3, 3), True), gpos=pos.grad,
                gcls=cls_token.grad, gpatch=patch.weight.grad)


@program
def deeplab_aspp_with_pooling_branch_and_bilinear_upsample(L):
    """DeepLabV3 ASPP: a 1x1 conv, two atrous 3x3 convs (dilation 2, 3), an ASPPPooling branch
    (AdaptiveAvgPool2d(1), conv, BN, ReLU, interpolate back with bilinear
    align_corners=False), projection, head and a final upsample to the input size; the
    pooling branch's BatchNorm on a 1x1 map per sample in eval mode."""
    nn, F = L.nn, L.nn.functional

    class ASPPPooling(nn.Sequential):
        def __init__(self, cin, cout):
            super().__init__(nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, cout, 1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU())

        def forward(self, x):
            size = x.shape[-2:]
            for mod in self:
                x = mod(x)
            return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    def conv_bn(cin, cout, k, d=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=d * (k // 2), dilation=d,
                                       bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class ASPP(nn.Module):
        def __init__(self, cin, rates, cout=4):
            super().__init__()
            mods = [conv_bn(cin, cout, 1)] + [conv_bn(cin, cout, 3, r) for r in rates]
            self.convs = nn.ModuleList(mods + [ASPPPooling(cin, cout)])
            self.project = nn.Sequential(conv_bn(len(self.convs) * cout, cout, 1),
                                         nn.Dropout(0.5))

        def forward(self, x):
            return self.project(L.cat([conv(x) for conv in self.convs], dim=1))

    backbone = nn.Sequential(nn.Conv2d(3, 6, 3, stride=2, padding=1), nn.ReLU())
    model = nn.ModuleDict({"backbone": backbone, "aspp": ASPP(6, [2, 3]),
                           "cls": nn.Conv2d(4, 3, 1)}).double()
    load_seeded(L, model, 46, 0.3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.fill_(1.5)
    model.eval()
    x = L.tensor(_arr(2, 3, 13, 11, seed=47), requires_grad=True)
    feat = model["cls"](model["aspp"](model["backbone"](x)))
    out = F.interpolate(feat, size=x.shape[-2:], mode="bilinear", align_corners=False)
    target = L.tensor(np.random.RandomState(48).randint(0, 3, (2, 13, 11)))
    target[0, :2] = 255
    loss = F.cross_entropy(out, target, ignore_index=255)
    loss.backward()
    return dict(out=out, loss=loss, gx=x.grad, grads=grads_of(model))


@program
def unet_transposed_conv_up_with_pad_and_crop_concat(L):
    """U-Net: double 3x3 conv blocks, Down by MaxPool2d, Up by ConvTranspose2d(stride 2),
    the skip tensor's size difference padded with F.pad([dx // 2, dx - dx // 2, ...]) and,
    the original paper's way, a centre crop of the skip; cat on channels; BCEWithLogits."""
    nn, F = L.nn, L.nn.functional

    def double_conv(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1,
                                                              bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Up(nn.Module):
        def __init__(self, cin, cout, crop):
            super().__init__()
            self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
            self.conv = double_conv(cin, cout)
            self.crop = crop

        def forward(self, deep, skip):
            deep = self.up(deep)
            spare_h = skip.size()[2] - deep.size()[2]
            spare_w = skip.size()[3] - deep.size()[3]
            if self.crop:           # the paper: cut the middle of the skip to the upsampled size
                h0, w0 = spare_h // 2, spare_w // 2
                skip = skip[:, :, h0:h0 + deep.size(2), w0:w0 + deep.size(3)]
            else:                   # or grow the upsampled map, the odd pixel going right/bottom
                deep = F.pad(deep, [spare_w // 2, spare_w - spare_w // 2,
                                    spare_h // 2, spare_h - spare_h // 2])
            return self.conv(L.cat([skip, deep], dim=1))

    class UNet(nn.Module):
        def __init__(self, crop):
            super().__init__()
            self.inc = double_conv(1, 4)
            self.down1 = nn.Sequential(nn.MaxPool2d(2), double_conv(4, 8))
            self.up1 = Up(8, 4, crop)
            self.outc = nn.Conv2d(4, 1, kernel_size=1)

        def forward(self, x):
            x1 = self.inc(x)
            return self.outc(self.up1(self.down1(x1), x1))

    results = {}
    for crop in (False, True):
        net = load_seeded(L, UNet(crop).double(), 49, 0.3)
        x = L.tensor(_arr(2, 1, 9, 11, seed=50))
        mask = L.tensor((np.random.RandomState(51).rand(2, 1, 9, 11) > 0.5).astype(np.float64))
        opt = L.optim.RMSprop(net.parameters(), lr=1e-3, weight_decay=1e-8, momentum=0.9)
        if crop:
            mask = mask[:, :, :8, :10]
        losses = train_steps(opt,
                        lambda: nn.BCEWithLogitsLoss()(net(x), mask) + (
                            1 - (2 * (L.sigmoid(net(x)) * mask).sum() + 1) /
                            (L.sigmoid(net(x)).sum() + mask.sum() + 1)), 2)
        results[str(crop)] = dict(losses=losses, out=net(x), g=net.up1.up.weight.grad)
    return results


@program
def fpn_top_down_with_nearest_upsample_and_extra_pool(L):
    """A feature pyramid: 1x1 laterals, a top-down path by interpolate(size=...,
    mode='nearest') added to each lateral, 3x3 smoothing convs, an extra level by
    max_pool2d(x, 1, 2, 0); results in an OrderedDict; the backbone's intermediate features
    taken by a ModuleDict built from named_children."""
    nn, F = L.nn, L.nn.functional

    class Tapped(nn.ModuleDict):
        """the children of ``model`` up to the deepest one tapped; forward returns the tapped
        activations under their new names"""

        def __init__(self, model, taps):
            kids = list(model.named_children())
            deepest = max(i for i, (name, _) in enumerate(kids) if name in taps)
            super().__init__(OrderedDict(kids[:deepest + 1]))
            self.taps = dict(taps)

        def forward(self, h):
            found = OrderedDict()
            for name, stage in self.items():
                h = stage(h)
                if name in self.taps:
                    found[self.taps[name]] = h
            return found

    body = nn.Sequential(OrderedDict([
        ("stem", nn.Conv2d(3, 4, 3, 2, 1)), ("layer1", nn.Conv2d(4, 6, 3, 2, 1)),
        ("layer2", nn.Conv2d(6, 8, 3, 2, 1)), ("layer3", nn.Conv2d(8, 10, 3, 2, 1)),
        ("head", nn.Linear(10, 2))]))
    getter = Tapped(body, {"layer1": "0", "layer2": "1", "layer3": "2"})
    inner = nn.ModuleList([nn.Conv2d(c, 5, 1) for c in (6, 8, 10)])
    layer = nn.ModuleList([nn.Conv2d(5, 5, 3, padding=1) for _ in range(3)])
    allm = nn.ModuleList([getter, inner, layer]).double()
    load_seeded(L, allm, 52, 0.3)
    x = L.tensor(_arr(1, 3, 30, 26, seed=53), requires_grad=True)
    feats = list(getter(x).values())
    # coarsest level first: each finer level adds its 1x1 lateral to the nearest-upsampled
    # running sum, then a 3x3 smooths it; an extra level is a stride-2 "pool" of size 1
    running, smoothed = None, {}
    for level in reversed(range(len(feats))):
        lateral = inner[level](feats[level])
        if running is not None:
            lateral = lateral + F.interpolate(running, size=lateral.shape[-2:], mode="nearest")
        running = lateral
        smoothed[level] = layer[level](running)
    out = OrderedDict((str(level), smoothed[level]) for level in range(len(feats)))
    out["pool"] = F.max_pool2d(out[str(len(feats) - 1)], 1, 2, 0)
    sum(v.sum() for v in out.values()).backward()
    return dict(shapes={k: tuple(v.shape) for k, v in out.items()}, out=dict(out),
                gx=x.grad, names=list(getter.keys()))


# ----------------------------------------------------------------------------------------------
# timm idioms
# ----------------------------------------------------------------------------------------------
def _split_for_decay(model, rate, exempt=()):
    """Two AdamW groups: vectors and scalars (biases, norm scales), any '.bias', and the names
    the model exempts get no decay; the remaining trainable matrices get ``rate``."""
    def free_of_decay(name, w):
        return w.ndim < 2 or name.endswith(".bias") or name in exempt

    trainable = [(name, w) for name, w in model.named_parameters() if w.requires_grad]
    plain = [w for name, w in trainable if free_of_decay(name, w)]
    decayed = [w for name, w in trainable if not free_of_decay(name, w)]
    return [dict(params=plain, weight_decay=0.0), dict(params=decayed, weight_decay=rate)]


class _TinyViT:
    """A ViT-ish model for the timm programs: patch linear, pos_embed/cls_token excluded from
    decay by no_weight_decay(), one pre-norm block with LayerScale and DropPath(0)."""

    @staticmethod
    def build(L, seed):
        nn = L.nn

        class ChannelGain(nn.Module):
            """a learnt per-channel factor on a residual branch (out of place here)"""

            def __init__(self, width, start):
                super().__init__()
                self.gamma = nn.Parameter(L.full((width,), float(start)))

            def forward(self, branch):
                return branch * self.gamma

        class Block(nn.Module):
            def __init__(self, dim):
                super().__init__()
                self.norm1 = nn.LayerNorm(dim)
                self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
                self.ls1 = ChannelGain(dim, 0.1)
                self.norm2 = nn.LayerNorm(dim)
                self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(approximate="tanh"),
                                         nn.Linear(2 * dim, dim))
                self.ls2 = ChannelGain(dim, 0.1)

            def forward(self, x):
                h = self.norm1(x)
                x = x + self.ls1(self.attn(h, h, h, need_weights=False)[0])
                return x + self.ls2(self.mlp(self.norm2(x)))

        class ViT(nn.Module):
            def __init__(self):
                super().__init__()
                self.patch = nn.Linear(12, 6)
                self.cls_token = nn.Parameter(L.zeros(1, 1, 6))
                self.pos_embed = nn.Parameter(L.zeros(1, 5, 6))
                self.blocks = nn.Sequential(Block(6))
                self.norm = nn.LayerNorm(6)
                self.head = nn.Linear(6, 3)

            def no_weight_decay(self):
                return {"pos_embed", "cls_token"}

            def forward(self, x):                  # x: (B, 4, 12) patches
                x = self.patch(x)
                x = L.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1) + self.pos_embed
                return self.head(self.norm(self.blocks(x))[:, 0])

        return load_seeded(L, ViT().double(), seed, 0.3)


@program
def timm_no_decay_groups_warmup_cosine_lambda_lr_and_ema(L):
    """timm training loop: param groups without decay for 1-d params and no_weight_decay()
    names, AdamW, warmup then cosine LR by LambdaLR, ModelEmaV2-style EMA by lerp_ under
    no_grad with a deepcopy'd model (buffers copied), clip_grad_norm_ with foreach."""
    import copy
    model = _TinyViT.build(L, 54)
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    groups = _split_for_decay(model, 0.05, model.no_weight_decay())
    opt = L.optim.AdamW(groups, lr=1e-2, betas=(0.9, 0.999))
    warmup, total = 2, 6

    def lr_lambda(step):
        if step < warmup:
            return float(step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    sched = L.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    x = L.tensor(_arr(3, 4, 12, seed=55))
    y = L.tensor(_labels(3, 3, 56))
    lrs, losses = [], []
    for _ in range(total):
        opt.zero_grad(set_to_none=True)
        loss = L.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        L.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
        opt.step()
        sched.step()
        with L.no_grad():
            for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
                if e.is_floating_point():
                    e.lerp_(m, 1.0 - 0.9)
                else:
                    e.copy_(m)
        lrs.append(sched.get_last_lr())
        losses.append(loss.item())
    return dict(sizes=[len(g["params"]) for g in groups], lrs=lrs, losses=losses,
                ema=dict(ema.named_parameters()), out=model(x), ema_out=ema(x),
                sched=sched.state_dict()["_last_lr"], ema_rg=[p.requires_grad
                                                             for p in ema.parameters()][:3])


@program
def sequential_lr_linear_warmup_then_cosine_and_plateau(L):
    """SequentialLR(LinearLR(start_factor=0.1), CosineAnnealingLR(T_max, eta_min)) milestones,
    per-group lrs, then ReduceLROnPlateau on a plateauing metric, and OneCycleLR with
    anneal_strategy 'cos' on SGD momentum (cycle_momentum)."""
    w = L.nn.Parameter(L.ones(2))
    b = L.nn.Parameter(L.zeros(1))
    opt = L.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=1.0, momentum=0.9)
    warm = L.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3)
    cos = L.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4, eta_min=0.01)
    seq = L.optim.lr_scheduler.SequentialLR(opt, [warm, cos], milestones=[3])
    lrs = []
    for _ in range(8):
        opt.step()
        seq.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    opt2 = L.optim.SGD([w], lr=0.1, momentum=0.9)
    plateau = L.optim.lr_scheduler.ReduceLROnPlateau(opt2, mode="min", factor=0.5, patience=1,
                                                     threshold=1e-3)
    plr = []
    for metric in [1.0, 0.9, 0.9, 0.9, 0.9, 0.95, 0.5, 0.5, 0.5]:
        plateau.step(metric)
        plr.append(opt2.param_groups[0]["lr"])
    opt3 = L.optim.SGD([w], lr=0.1, momentum=0.9)
    one = L.optim.lr_scheduler.OneCycleLR(opt3, max_lr=1.0, total_steps=6, pct_start=0.3)
    olr = []
    for _ in range(6):
        opt3.step()
        olr.append((opt3.param_groups[0]["lr"], opt3.param_groups[0]["momentum"]))
        one.step() if len(olr) < 6 else None
    return dict(lrs=lrs, plr=plr, olr=olr, last=seq.get_last_lr())


@program
def cutmix_mixup_with_numpy_draws_and_soft_target_cross_entropy(L):
    """Mixup and CutMix: lam from numpy's beta, a cut window from numpy ints, x.flip(0) mixing
    in place on slices, smoothed one-hot targets blended with their flip, SoftTargetCrossEntropy
    sum(-t * log_softmax(x)).mean(); also cross_entropy with probability targets and
    label_smoothing."""
    nn, F = L.nn, L.nn.functional
    rng = np.random.RandomState(57)
    x = L.tensor(_arr(4, 3, 8, 8, seed=58))
    y = L.tensor(_labels(4, 5, 59))
    model = load_seeded(L, nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                         nn.Flatten(), nn.Linear(4, 5)).double(), 60)

    def soft_labels(labels, weight, eps=0.1, classes=5):
        # smoothed one-hot rows (eps spread evenly, the rest on the label), blended with the
        # rows of the batch read backwards, the partner each sample was mixed with
        floor = eps / classes
        def rows(lab):
            base = L.full((lab.size()[0], classes), floor, dtype=L.float64)
            return base.scatter_(1, lab.long().view(-1, 1), 1.0 - eps + floor)
        return weight * rows(labels) + (1.0 - weight) * rows(labels.flip(0))

    # cutmix: a square window whose side follows sqrt(1 - lam), centred at a random pixel,
    # clipped to the 8x8 image; the label weight is recomputed from the clipped area
    lam = float(rng.beta(1.0, 1.0))
    half = int(8 * np.sqrt(1.0 - lam)) // 2
    centre = (rng.randint(8), rng.randint(8))
    top, bottom = (int(np.clip(centre[0] + d, 0, 8)) for d in (-half, half))
    left, right = (int(np.clip(centre[1] + d, 0, 8)) for d in (-half, half))
    xc = x.clone()
    window = (slice(None), slice(None), slice(top, bottom), slice(left, right))
    xc[window] = xc.flip(0)[window]
    lam_c = 1.0 - (bottom - top) * (right - left) / 64.0
    # mixup: the whole image blended with its partner
    lam_m = float(rng.beta(0.8, 0.8))
    xm = x.mul(lam_m).add_(x.flip(0).mul_(1.0 - lam_m))
    tgt_c = soft_labels(y, lam_c)
    tgt_m = soft_labels(y, lam_m)
    out_c, out_m = model(xc), model(xm)
    soft = L.sum(-tgt_c * F.log_softmax(out_c, dim=-1), dim=-1).mean()
    builtin = F.cross_entropy(out_m, tgt_m)
    smooth = F.cross_entropy(out_m, y, label_smoothing=0.1, reduction="none")
    (soft + builtin + smooth.sum()).backward()
    return dict(lam=[lam_c, lam_m], soft=soft, builtin=builtin, smooth=smooth, xc=xc,
                grads=grads_of(model),
                prob_smoothing=F.cross_entropy(out_m, tgt_m, label_smoothing=0.2))


@program
def timm_drop_path_and_trunc_normal_init_contract(L):
    """Stochastic depth on a residual branch with a numpy keep mask and rescaling by the keep
    rate, module.apply of an init function using trunc_normal_(std=.02) on Linear weights (values: in [a, b], tensor returned in
    place) and constant_ on LayerNorm, the init functions returning their argument."""
    nn = L.nn

    def skip_branch(branch, survivors, p_skip, active, rescale=True):
        # whole samples of a residual branch are zeroed; the survivors are scaled up by
        # 1 / (1 - p_skip) so the expectation stays the same
        if not active or p_skip == 0.0:
            return branch
        per_sample = [branch.shape[0]] + [1] * (branch.ndim - 1)
        gate = branch.new_empty(per_sample).copy_(L.tensor(survivors).view(per_sample))
        if rescale and p_skip < 1.0:
            gate.div_(1.0 - p_skip)
        return branch * gate

    inside = []

    def fresh_start(layer):
        # norms start as the identity; linear weights come from a normal cut at two sigma
        if isinstance(layer, nn.LayerNorm):
            for t, value in ((layer.bias, 0), (layer.weight, 1.0)):
                nn.init.constant_(t, value)
            return
        if not isinstance(layer, nn.Linear):
            return
        w = layer.weight
        back = nn.init.trunc_normal_(w, std=0.02, a=-0.04, b=0.04)
        inside.append(back is w and bool(((w >= -0.04) & (w <= 0.04)).all()))
        if layer.bias is not None:
            nn.init.constant_(layer.bias, 0.01)

    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 4)).double()
    returned = model.apply(fresh_start)
    x = L.tensor(_arr(4, 3, 4, seed=61), requires_grad=True)
    keep = np.array([1., 0., 1., 1.])
    y = skip_branch(x, keep, 0.25, True)
    y.sum().backward()
    return dict(inside=inside, returned=returned is model, y=y, gx=x.grad,
                ev=skip_branch(x, keep, 0.25, False) is x, ln=model[1].weight,
                bias=model[0].bias, w_dtype=model[0].weight.dtype)


# ----------------------------------------------------------------------------------------------
# training utilities: checkpointing, torch.func, parametrizations, pruning, autocast, scaler
# ----------------------------------------------------------------------------------------------
@program
def activation_checkpointing_non_reentrant_and_sequential(L):
    """torch.utils.checkpoint.checkpoint(block, x, use_reentrant=False) per block, with a
    keyword argument passed through, checkpoint_sequential over segments (use_reentrant
    False), and the same values and gradients as running the blocks plainly."""
    from importlib import import_module
    cp = import_module(L.__name__ + ".utils.checkpoint")
    nn = L.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.norm = nn.Linear(6, 12), nn.Linear(12, 6), nn.LayerNorm(6)

        def forward(self, x, scale=1.0):
            return x + scale * self.fc2(L.nn.functional.gelu(self.fc1(self.norm(x))))

    blocks = load_seeded(L, nn.Sequential(Block(), Block(), Block(), Block()).double(), 62)
    x = L.tensor(_arr(3, 6, seed=63), requires_grad=True)
    h = x
    for blk in blocks:
        h = cp.checkpoint(blk, h, scale=0.5, use_reentrant=False)
    h.pow(2).sum().backward()
    g_ckpt, gx_ckpt = grads_of(blocks), x.grad.clone()
    blocks.zero_grad()
    x.grad = None
    y = cp.checkpoint_sequential(blocks, 2, x, use_reentrant=False)
    y.pow(2).sum().backward()
    g_seq = grads_of(blocks)
    return dict(h=h, g=g_ckpt, gx=gx_ckpt, y=y, g_seq=g_seq, gx_seq=x.grad,
                h_grad_fn=h.grad_fn is not None)


@program
def maml_inner_loop_with_functional_call_and_create_graph(L):
    """MAML: inner SGD steps on a support set by autograd.grad(create_graph=True) over a dict
    of named parameters, the adapted weights used through torch.func.functional_call, the
    outer loss on the query set backpropagated (second order) into the meta-parameters."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double(),
                        64, 0.5)
    meta_opt = L.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.RandomState(65)
    outer_losses = []
    for _ in range(2):
        meta_opt.zero_grad()
        total = 0.0
        for task in range(2):
            amp, phase = rng.uniform(0.5, 2.0), rng.uniform(0, np.pi)
            xs = rng.uniform(-3, 3, (5, 1))
            xq = rng.uniform(-3, 3, (5, 1))
            xs_t, xq_t = L.tensor(xs), L.tensor(xq)
            ys_t, yq_t = L.tensor(amp * np.sin(xs + phase)), L.tensor(amp * np.sin(xq + phase))
            params = dict(model.named_parameters())
            for _ in range(2):
                loss = F.mse_loss(L.func.functional_call(model, params, (xs_t,)), ys_t)
                grads = L.autograd.grad(loss, list(params.values()), create_graph=True)
                params = {n: p - 0.1 * g for (n, p), g in zip(params.items(), grads)}
            total = total + F.mse_loss(L.func.functional_call(model, params, (xq_t,)), yq_t)
        (total / 2).backward()
        meta_opt.step()
        outer_losses.append(total.item())
    return dict(outer=outer_losses, grads=grads_of(model), params=params_of(model))


@program
def torch_func_grad_vmap_jacrev_on_a_functional_model(L):
    """torch.func: functional_call with params and buffers, grad(loss)(params, x, y) per
    sample by vmap(in_dims=(None, 0, 0)), jacrev of the outputs wrt the input, hessian of a
    scalar function, jvp; compared with autograd.functional's jacobian."""
    nn, F = L.nn, L.nn.functional
    fn = L.func
    model = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double(),
                        66)
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}
    x = L.tensor(_arr(5, 3, seed=67))
    y = L.tensor(_labels(5, 2, 68))

    def loss_fn(p, xi, yi):
        out = fn.functional_call(model, (p, buffers), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    per_sample = fn.vmap(fn.grad(loss_fn), in_dims=(None, 0, 0))(params, x, y)
    jac = fn.jacrev(lambda inp: fn.functional_call(model, params, (inp,)))(x[0])
    with warnings.catch_warnings():     # torch's forward AD scripts its decompositions once
        warnings.simplefilter("ignore", DeprecationWarning)
        hess = fn.hessian(lambda inp: (fn.functional_call(model, params, (inp,)) ** 2).sum())(
            x[0])
        primal, tangent = fn.jvp(lambda inp: model(inp), (x[:2],),
                                 (L.ones(2, 3, dtype=L.float64),))
    ref = L.autograd.functional.jacobian(lambda inp: model(inp), x[0])
    loss_and_grad = fn.grad_and_value(lambda p: loss_fn(p, x[1], y[1]))(params)
    return dict(per_sample=per_sample, jac=jac, hess=hess, primal=primal, tangent=tangent,
                ref=ref, g1=loss_and_grad[0], v1=loss_and_grad[1])


@program
def weight_norm_and_spectral_norm_parametrizations_training(L):
    """nn.utils.parametrizations.weight_norm on a conv (original0/original1), spectral_norm on a
    linear with its u/v buffers set from numpy, one power iteration per training forward,
    eval-mode weight, state_dict keys, remove_parametrizations keeping the current weight."""
    nn, P = L.nn, L.nn.utils.parametrize
    conv = nn.Conv2d(2, 3, 3).double()
    lin = nn.Linear(12, 4).double()
    load_seeded(L, conv, 69)
    load_seeded(L, lin, 70)
    conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=0)
    lin = nn.utils.parametrizations.spectral_norm(lin, n_power_iterations=1)
    sn = lin.parametrizations.weight[0]
    with L.no_grad():
        sn._u.copy_(L.tensor(np.linalg.norm(_arr(4, seed=71)) ** -1 * _arr(4, seed=71)))
        sn._v.copy_(L.tensor(np.linalg.norm(_arr(12, seed=72)) ** -1 * _arr(12, seed=72)))
    model = nn.Sequential(conv, nn.ReLU(), nn.Flatten(), lin)
    x = L.tensor(_arr(2, 2, 4, 4, seed=73))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    losses = train_steps(opt, lambda: model(x).pow(2).sum(), 3)
    keys = sorted(model.state_dict().keys())
    model.eval()
    w_eval = lin.weight
    sigma = L.linalg.matrix_norm(w_eval.detach(), ord=2)
    P.remove_parametrizations(conv, "weight", leave_parametrized=True)
    return dict(losses=losses, keys=keys, w_eval=w_eval, sigma=sigma, conv_w=conv.weight,
                g=conv.weight.detach(), is_param=[P.is_parametrized(conv), P.is_parametrized(lin)],
                u=sn._u, names=sorted(n for n, _ in model.named_parameters()))


@program
def orthogonal_parametrization_and_custom_symmetric(L):
    """parametrizations.orthogonal on a square Linear (weight stays orthogonal through Adam
    steps), a custom register_parametrization (Symmetric: triu + triu.T, with right_inverse),
    parametrize.cached(), and assigning to the parametrized weight."""
    nn, P = L.nn, L.nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    lin = load_seeded(L, nn.Linear(4, 4).double(), 74)
    orth = nn.utils.parametrizations.orthogonal(lin)
    sym = load_seeded(L, nn.Linear(3, 3).double(), 75)
    P.register_parametrization(sym, "weight", Symmetric())
    x = L.tensor(_arr(5, 4, seed=76))
    opt = L.optim.Adam(list(orth.parameters()) + list(sym.parameters()), lr=0.05)

    def loss_of():
        return (orth(x) - 1).pow(2).mean() + sym(x[:, :3]).pow(2).mean()

    losses = train_steps(opt, loss_of, 3)
    w = orth.weight
    with P.cached():
        same = sym.weight is sym.weight
    sym.weight = L.tensor(_arr(3, 3, seed=77))
    return dict(losses=losses, gram=w @ w.T, sym=sym.weight,
                orig=sym.parametrizations.weight.original, cached_same=same,
                w_sym=L.allclose(sym.weight, sym.weight.T))


@program
def pruning_l1_ln_structured_global_and_remove(L):
    """nn.utils.prune: l1_unstructured (amount as a fraction and as an int), ln_structured on
    output channels, global_unstructured over two layers, the weight_orig/weight_mask pair,
    is_pruned, training with the mask applied by the forward pre-hook, prune.remove."""
    from importlib import import_module
    nn, prune = L.nn, import_module(L.__name__ + ".nn.utils.prune")
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    model.double()
    load_seeded(L, model, 78)
    conv, fc = model[0], model[3]
    prune.l1_unstructured(conv, name="weight", amount=0.3)
    prune.ln_structured(conv, name="weight", amount=1, n=2, dim=0)
    prune.l1_unstructured(fc, name="bias", amount=1)
    prune.global_unstructured([(conv, "bias"), (fc, "weight")],
                              pruning_method=prune.L1Unstructured, amount=20)
    keys = sorted(model.state_dict().keys())
    buffers = sorted(n for n, _ in model.named_buffers())
    x = L.tensor(_arr(2, 1, 6, 6, seed=79))
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    losses = train_steps(opt, lambda: model(x).pow(2).sum(), 2)
    sparsity = float((conv.weight == 0).sum()) / conv.weight.nelement()
    pruned = prune.is_pruned(model)
    prune.remove(conv, "weight")
    return dict(keys=keys, buffers=buffers, losses=losses, sparsity=sparsity, pruned=pruned,
                w=conv.weight, mask=fc.weight_mask, orig=fc.weight_orig,
                after=sorted(n for n, _ in conv.named_parameters()), fcw=fc.weight)


@program
def cpu_autocast_bfloat16_mixed_precision_step(L):
    """with torch.autocast('cpu', dtype=torch.bfloat16): linear/matmul/conv outputs in
    bfloat16, layer_norm/softmax/loss kept in float32, parameters and grads in float32,
    is_autocast_enabled inside and out; the loss cast with .float() before backward."""
    nn, F = L.nn, L.nn.functional
    model = load_seeded(L, nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.LayerNorm(8),
                                         nn.Linear(8, 3)), 80)
    x = L.from_numpy(_f32(4, 6, seed=81))
    y = L.tensor(_labels(4, 3, 82))
    with L.autocast("cpu", dtype=L.bfloat16):
        inside = L.is_autocast_enabled("cpu")
        h = model[0](x)
        ln = model[2](model[1](h))
        out = model[3](ln)
        sm = F.softmax(out, dim=-1)
        mm = x @ x.T
        loss = F.cross_entropy(out, y)
    loss.float().backward()
    outside = L.is_autocast_enabled("cpu")
    return dict(dtypes=[h.dtype, ln.dtype, out.dtype, sm.dtype, mm.dtype, loss.dtype],
                flags=[inside, outside], out=out.float(), loss=loss,
                gdt=[p.grad.dtype for p in model.parameters()],
                g=model[3].weight.grad.double())


@program
def gradient_accumulation_with_a_disabled_grad_scaler(L):
    """GradScaler(enabled=False) on CPU: scale() returns the loss as is, unscale_ and step
    behave like opt.step, get_scale() is 1.0; the loss divided by accum_steps and backward'd
    over micro-batches, a step every accum_steps, the result equal to one full-batch step."""
    nn, F = L.nn, L.nn.functional
    scaler = L.amp.GradScaler("cpu", enabled=False)
    model = load_seeded(L, nn.Linear(5, 2).double(), 83)
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = L.tensor(_arr(8, 5, seed=84))
    y = L.tensor(_arr(8, 2, seed=85))
    accum, scaled_same = 4, []
    for step, (xb, yb) in enumerate(zip(x.chunk(4), y.chunk(4))):
        loss = F.mse_loss(model(xb), yb) / accum
        scaled = scaler.scale(loss)
        scaled_same.append(scaled is loss)
        scaled.backward()
        if (step + 1) % accum == 0:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
    full = load_seeded(L, nn.Linear(5, 2).double(), 83)
    opt2 = L.optim.SGD(full.parameters(), lr=0.1, momentum=0.9)
    F.mse_loss(full(x), y).backward()
    opt2.step()
    return dict(w=model.weight, full=full.weight, scale=scaler.get_scale(),
                enabled=scaler.is_enabled(), same=scaled_same, sd=scaler.state_dict())


# ----------------------------------------------------------------------------------------------
# checkpoints, initialisation, buffers, hooks and fine-tuning
# ----------------------------------------------------------------------------------------------
def _small_cnn(L, classes=4):
    nn = L.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4),
                                          nn.ReLU(inplace=True), nn.MaxPool2d(2),
                                          nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6),
                                          nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
            self.classifier = nn.Linear(6, classes)
            self.register_buffer("mean", L.tensor([0.5, 0.25]).view(1, 2, 1, 1))
            self.register_buffer("step_count", L.zeros((), dtype=L.long), persistent=False)

        def forward(self, x):
            self.step_count += 1
            return self.classifier(L.flatten(self.features(x - self.mean), 1))

    return Net()


@program
def checkpoint_round_trip_through_bytesio_and_resume(L):
    """torch.save({'model', 'optimizer', 'scheduler', 'epoch'}) into io.BytesIO, torch.load with
    map_location='cpu' and weights_only, a fresh model/optimizer/scheduler loaded and training
    resumed: the same losses as training on without the round trip; the non-persistent
    buffer absent from the state dict."""
    F = L.nn.functional
    x = L.from_numpy(_f32(4, 2, 6, 6, seed=86))
    y = L.tensor(_labels(4, 4, 87))

    def make():
        model = load_seeded(L, _small_cnn(L), 88)
        opt = L.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4, amsgrad=True)
        sched = L.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return model, opt, sched

    def epoch(model, opt, sched):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        return loss.item()

    model, opt, sched = make()
    first = [epoch(model, opt, sched) for _ in range(3)]
    buf = io.BytesIO()
    L.save({"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = L.load(buf, map_location="cpu", weights_only=True)
    model2, opt2, sched2 = make()
    res = model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    resumed = [epoch(model2, opt2, sched2) for _ in range(2)]
    cont = [epoch(model, opt, sched) for _ in range(2)]
    return dict(first=L.tensor(first), resumed=L.tensor(resumed), cont=L.tensor(cont),
                keys=list(ckpt["model"].keys()),
                missing=[list(res.missing_keys), list(res.unexpected_keys)],
                opt_keys=sorted(ckpt["optimizer"]["state"][0].keys()),
                groups=ckpt["optimizer"]["param_groups"][0]["params"],
                lr=opt2.param_groups[0]["lr"], steps=[model.step_count, model2.step_count],
                epoch=ckpt["epoch"], w=model2.classifier.weight)


@program
def load_state_dict_non_strict_with_renamed_and_reshaped_keys(L):
    """A checkpoint from an older model: 'module.' prefixes stripped (DataParallel), a head of
    another size dropped before a strict=False load (missing/unexpected keys reported), a
    strict load of a mismatched shape refused with the size-mismatch words."""
    old = load_seeded(L, _small_cnn(L, classes=3), 89)
    sd = OrderedDict(("module." + k, v) for k, v in old.state_dict().items())
    new = _small_cnn(L, classes=4)
    cleaned = OrderedDict((k[len("module."):] if k.startswith("module.") else k, v)
                          for k, v in sd.items())
    refused = err(lambda: new.load_state_dict(cleaned))
    head = {k: v for k, v in cleaned.items() if not k.startswith("classifier.")}
    head["extra.weight"] = L.zeros(2)
    res = new.load_state_dict(head, strict=False)
    prefixed = err(lambda: new.load_state_dict(sd))
    return dict(refused=refused, missing=res.missing_keys, unexpected=res.unexpected_keys,
                prefixed=prefixed, w=new.features[0].weight,
                same=L.equal(new.features[1].running_var, old.features[1].running_var),
                res_type=type(res).__name__)


@program
def module_apply_initialisers_by_layer_type(L):
    """model.apply(init_fn) with the deterministic initialisers (constant_, ones_, zeros_,
    eye_, dirac_), fan-based constants from nn.init._calculate_fan_in_and_fan_out and
    calculate_gain, under no_grad, for Conv/BatchNorm/Linear; then a forward/backward."""
    nn = L.nn
    fans, gains = [], []

    def init_fn(m):
        if isinstance(m, nn.Conv2d):
            fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
            fans.append((fan_in, fan_out))
            gains.append(nn.init.calculate_gain("leaky_relu", 0.2))
            if m.in_channels == m.out_channels:
                nn.init.dirac_(m.weight)
            else:
                nn.init.constant_(m.weight, 1.0 / math.sqrt(fan_in))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.eye_(m.weight)
            nn.init.constant_(m.bias, 0.1)

    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.LeakyReLU(0.2),
                          nn.Conv2d(3, 3, 3, padding=1), nn.GroupNorm(1, 3), nn.Flatten(),
                          nn.Linear(48, 5)).double()
    model.apply(init_fn)
    x = L.tensor(_arr(2, 2, 4, 4, seed=90), requires_grad=True)
    out = model(x)
    out.sum().backward()
    return dict(fans=fans, gains=gains, out=out, gx=x.grad, grads=grads_of(model),
                gains2=[nn.init.calculate_gain(n) for n in ("relu", "tanh", "selu", "linear",
                                                            "sigmoid", "conv2d")])


@program
def forward_hooks_collect_activations_and_backward_hooks(L):
    """Feature extraction by forward hooks keyed by module name (output.detach()), a
    forward pre-hook rescaling the input (returning a tuple), a forward hook with
    with_kwargs=True, full backward hooks recording grad_output norms, hook handles
    removed; a hook returning a new output replaces it."""
    nn = L.nn
    model = load_seeded(L, nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(4, 6)), ("act", nn.ReLU()), ("fc2", nn.Linear(6, 3))])).double(), 91)
    acts, grad_norms, kw_seen, handles = {}, [], [], []

    def save(name):
        def hook(module, inp, output):
            acts[name] = output.detach()
        return hook

    for name, m in model.named_children():
        handles.append(m.register_forward_hook(save(name)))
    handles.append(model.fc1.register_forward_pre_hook(lambda m, inp: (inp[0] * 2,)))
    handles.append(model.fc2.register_forward_hook(
        lambda m, args, kwargs, out: kw_seen.append((len(args), sorted(kwargs))),
        with_kwargs=True))
    handles.append(model.fc2.register_full_backward_hook(
        lambda m, gin, gout: grad_norms.append([g.norm() for g in gout])))
    x = L.tensor(_arr(3, 4, seed=92), requires_grad=True)
    out = model(x)
    out.pow(2).sum().backward()
    first = dict(acts)
    for h in handles:
        h.remove()
    replaced = model.act.register_forward_hook(lambda m, i, o: o * 0 + 1)
    out2 = model(x)
    replaced.remove()
    return dict(acts=first, out=out, gnorm=grad_norms, kw=kw_seen, gx=x.grad, out2=out2,
                after=model(x), n_hooks=len(model.fc1._forward_hooks))


@program
def freeze_backbone_finetune_head_then_unfreeze_with_param_group(L):
    """Transfer learning: backbone.requires_grad_(False), a new head, an optimizer over
    filter(lambda p: p.requires_grad, ...), backbone BN kept in eval by overriding train(),
    backbone grads stay None; later unfreezing with add_param_group at a lower lr."""
    nn, F = L.nn, L.nn.functional
    backbone = load_seeded(L, _small_cnn(L), 93).features
    head = load_seeded(L, nn.Linear(6, 2), 94)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone, self.head = backbone, head

        def train(self, mode=True):
            super().train(mode)
            self.backbone.eval()
            return self

        def forward(self, x):
            return self.head(self.backbone(x).flatten(1))

    model = Model()
    model.backbone.requires_grad_(False)
    model.train()
    opt = L.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1,
                      momentum=0.9)
    x = L.from_numpy(_f32(4, 2, 6, 6, seed=95))
    y = L.tensor([0, 1, 1, 0])
    losses = train_steps(opt, lambda: F.cross_entropy(model(x), y), 2)
    frozen = [p.grad is None for p in model.backbone.parameters()]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    model.backbone.requires_grad_(True)
    opt.add_param_group({"params": model.backbone.parameters(), "lr": 0.01})
    losses += train_steps(opt, lambda: F.cross_entropy(model(x), y), 2)
    return dict(losses=losses, frozen=frozen, trainable=trainable,
                bn_training=model.backbone[1].training, rm=model.backbone[1].running_mean,
                w=model.backbone[0].weight, lrs=[g["lr"] for g in opt.param_groups],
                nbt=model.backbone[1].num_batches_tracked)


@program
def cpu_autocast_cnn_with_batch_norm_prelu_and_vecdot(L):
    """A conv-BN-PReLU network trained under torch.autocast('cpu', dtype=torch.bfloat16): the
    conv's bfloat16 output meets BatchNorm2d's float32 weight and statistics (PyTorch's CPU
    kernel takes that mix; the running statistics stay float32), PReLU and linalg.vecdot
    are among the ops autocast lowers; eval mode after; values compared in float32."""
    nn, F = L.nn, L.nn.functional
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.PReLU(4), nn.Conv2d(4, 4, 1),
                          nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(36, 2))
    load_seeded(L, model, 96, 0.3)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_var.abs_()
    model[2].requires_grad_(False)      # its bfloat16 weight gradient rounds as oneDNN's does
    opt = L.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = L.from_numpy(_f32(2, 3, 5, 5, seed=97))
    y = L.tensor([0, 1])
    losses, dtypes = [], []
    for _ in range(2):
        opt.zero_grad()
        with L.autocast("cpu", dtype=L.bfloat16):
            h = model[1](model[0](x))
            out = model(x)
            v = L.linalg.vecdot(out, out)
            loss = F.cross_entropy(out, y) + 1e-3 * v.float().sum()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        dtypes.append([h.dtype, out.dtype, v.dtype, loss.dtype, model[1].running_mean.dtype,
                       model[1].weight.grad.dtype])
    model.eval()
    with L.autocast("cpu", dtype=L.bfloat16):
        ev = model(x)
        mixed = F.batch_norm(h.detach(), L.zeros(4), L.ones(4), L.ones(4), L.zeros(4))
    half_bn = F.batch_norm(L.ones(2, 4, 2).half(), None, None, L.ones(4), L.zeros(4),
                           training=True)
    return dict(losses=L.stack(losses), dtypes=dtypes, eval=ev.float(), ev_dtype=ev.dtype,
                mixed=[mixed.dtype, mixed.float()], rm=model[1].running_mean,
                rv=model[4].running_var, w=model[0].weight, prelu=model[2].weight,
                half_bn=half_bn.dtype,
                refused=[err(lambda: F.batch_norm(L.ones(2, 4, 2).double(), None, None,
                                                  L.ones(4), L.zeros(4), training=True)),
                         err(lambda: F.batch_norm(L.ones(2, 4, 2).bfloat16(), None, None,
                                                  L.ones(4).half(), None, training=True))])


@program
def cpu_autocast_einsum_attention_and_contractions(L):
    """Attention written with einsum (as many repositories do) under CPU bfloat16 autocast:
    einsums that contract a pair of operands run in bfloat16 (PyTorch's bmm), those that do
    not (outer products, elementwise, one operand) stay float32; tensordot is an mm (an
    outer product too) unless it contracts everything; dot and inner of two vectors stay
    float32; gradients reach the float32 weights."""
    nn = L.nn
    qkv = load_seeded(L, nn.Linear(6, 18), 98)
    x = L.from_numpy(_f32(2, 4, 6, seed=99))
    v1, v2 = L.from_numpy(_f32(6, seed=100)), L.from_numpy(_f32(5, seed=101))
    with L.autocast("cpu", dtype=L.bfloat16):
        q, k, v = qkv(x).view(2, 4, 3, 2, 3).unbind(2)               # (B, T, H, D)
        scores = L.einsum("bqhd,bkhd->bhqk", q, k) * 3 ** -0.5
        attn = scores.float().softmax(-1)
        out = L.einsum("bhqk,bkhd->bqhd", attn, v.float())
        kinds = {eq: L.einsum(eq, *ops).dtype for eq, ops in [
            ("i,j->ij", (v1, v2)), ("bij,bij->bij", (x, x)), ("bij->bj", (x,)),
            ("bij,j->bi", (x, v1)), ("i,i->", (v1, v1)), ("bij,bkj,bkl->bil", (x, x, x))]}
        td = [L.tensordot(x, x, dims=([2], [2])).dtype, L.tensordot(v1, v2, dims=0).dtype,
              L.tensordot(v1, v1, dims=1).dtype, L.tensordot(x, x, dims=3).dtype]
        dots = [L.dot(v1, v1), L.inner(v1, v1), L.inner(x, v1).dtype, v1.dot(v1).dtype,
                L.matmul(v1, v1).dtype, L.vdot(v1, v1).dtype]
        mixed = err(lambda: L.einsum("i,i->", v1, v1.double()))
    out.sum().backward()
    # bfloat16 results are compared as float32 (numpy has no bfloat16)
    return dict(scores=scores.float(), sdt=scores.dtype, out=out.float(), odt=out.dtype,
                kinds=kinds, td=td, dots=dots, mixed=mixed, g=qkv.weight.grad)


@program
def swa_utils_averaged_model_ema_update_bn_and_swalr(L):
    """torch.optim.swa_utils: AveragedModel with the default running average and with
    get_ema_multi_avg_fn, SWALR annealing to swa_lr by cosine, update_bn recomputing the
    BatchNorm statistics over a loader of tuples, n_averaged, the averaged model's keys."""
    from importlib import import_module
    swa_utils = import_module(L.__name__ + ".optim.swa_utils")
    nn = L.nn
    m = load_seeded(L, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(),
                                     nn.Linear(4, 1)).double(), 102)
    ema = swa_utils.AveragedModel(m, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.9))
    swa = swa_utils.AveragedModel(m)
    opt = L.optim.SGD(m.parameters(), lr=0.1)
    sched = swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=2, anneal_strategy="cos")
    x = L.tensor(_arr(6, 3, seed=103))
    lrs = []
    for _ in range(3):
        opt.zero_grad()
        m(x).pow(2).mean().backward()
        opt.step()
        sched.step()
        ema.update_parameters(m)
        swa.update_parameters(m)
        lrs.append(opt.param_groups[0]["lr"])
    swa_utils.update_bn([(x[:3],), (x[3:],)], swa)
    return dict(lrs=lrs, ema=dict(ema.named_parameters()), swa=dict(swa.named_parameters()),
                n=swa.n_averaged, bn=swa.module[1].running_mean, rv=swa.module[1].running_var,
                keys=list(swa.state_dict().keys()), out=swa(x))


@program
def deployment_fusion_and_parameter_vectors(L):
    """Before export: fuse_conv_bn_eval / fuse_linear_bn_eval give the eval outputs of conv+BN
    in one layer; parameters_to_vector / vector_to_parameters for a flat-vector optimiser
    (a hand-written step on the flat vector); old-style weight_norm/spectral_norm hooks
    (weight_g/weight_v, weight_orig/weight_u) and their removal."""
    from importlib import import_module
    fusion = import_module(L.__name__ + ".nn.utils.fusion")
    nn, U = L.nn, L.nn.utils
    conv = load_seeded(L, nn.Conv2d(2, 3, 3).double(), 104).eval()
    bn = load_seeded(L, nn.BatchNorm2d(3).double(), 105).eval()
    bn.running_var.abs_()
    lin = load_seeded(L, nn.Linear(4, 3).double(), 106).eval()
    bn1 = load_seeded(L, nn.BatchNorm1d(3).double(), 107).eval()
    bn1.running_var.abs_()
    x = L.tensor(_arr(1, 2, 5, 5, seed=108))
    fused = fusion.fuse_conv_bn_eval(conv, bn)
    fused_lin = fusion.fuse_linear_bn_eval(lin, bn1)
    z = L.tensor(_arr(2, 4, seed=109))
    fl, ref_l = fused_lin(z), bn1(lin(z))
    vec = U.parameters_to_vector(lin.parameters())
    lin.train()
    lin(z).pow(2).sum().backward()
    grad_vec = U.parameters_to_vector(p.grad for p in lin.parameters())
    U.vector_to_parameters(vec - 0.1 * grad_vec, lin.parameters())
    wn = U.weight_norm(load_seeded(L, nn.Linear(3, 2).double(), 110))
    sn = U.spectral_norm(load_seeded(L, nn.Linear(3, 2).double(), 111))
    with L.no_grad():
        sn.weight_u.copy_(L.tensor([0.6, 0.8]))
        sn.weight_v.copy_(L.tensor([0.6, 0.8, 0.0]))
    keys = [list(wn.state_dict().keys()), list(sn.state_dict().keys())]
    (wn(z[:, :3]).sum() + sn(z[:, :3]).sum()).backward()
    grads = [wn.weight_g.grad, wn.weight_v.grad, sn.weight_orig.grad, sn.weight_u]
    U.remove_weight_norm(wn)
    U.remove_spectral_norm(sn)
    return dict(fused=fused(x), ref=bn(conv(x)), fw=fused.weight, fl=fl, ref_l=ref_l,
                vec=vec, lin_w=lin.weight,
                keys=keys, grads=grads, after=[list(wn.state_dict().keys()),
                                               list(sn.state_dict().keys())])


@program
def mobilenet_style_inplace_activations_after_batch_norm(L):
    """torchvision's inplace=True activations straight after BatchNorm and convs: Hardswish,
    SiLU, Hardsigmoid, ReLU6, Mish, ELU, LeakyReLU, CELU, SELU, each overwriting a tensor the
    backward needs; gradients of the input and of every parameter."""
    nn = L.nn
    m = nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Hardswish(inplace=True),
        nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.BatchNorm2d(4), nn.SiLU(inplace=True),
        nn.Conv2d(4, 4, 1), nn.Hardsigmoid(inplace=True), nn.Conv2d(4, 4, 1),
        nn.BatchNorm2d(4), nn.ReLU6(inplace=True), nn.Conv2d(4, 4, 1), nn.Mish(inplace=True),
        nn.Conv2d(4, 2, 1), nn.ELU(inplace=True), nn.Conv2d(2, 2, 1),
        nn.LeakyReLU(0.1, inplace=True), nn.Conv2d(2, 2, 1), nn.CELU(inplace=True),
        nn.Conv2d(2, 2, 1), nn.SELU(inplace=True)).double()
    load_seeded(L, m, 112, 0.6)
    x = L.tensor(_arr(2, 3, 5, 5, seed=113), requires_grad=True)
    y = m(x)
    y.pow(2).sum().backward()
    return dict(y=y, gx=x.grad, grads=grads_of(m), node=y.grad_fn.name())


@program(rtol=2e-2, atol=2e-2)        # bfloat16 results, compared as float64
def cpu_autocast_transformer_encoder_inference_fast_path(L):
    """BERT-style inference: model.eval(), torch.no_grad() and autocast('cpu', bfloat16) over
    a TransformerEncoder (post-norm and pre-norm layers, relu and gelu, a key padding mask):
    PyTorch runs each layer on its fused kernel, one of the ops autocast lowers, so the
    outputs are bfloat16; with gradients recorded (the slow path) they stay float32."""
    nn = L.nn
    x = L.from_numpy(_f32(2, 5, 8, seed=114))
    kpm = L.tensor([[False, False, False, True, True], [False] * 5])
    results = {}
    for norm_first, act in ((False, "relu"), (True, "gelu")):
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=act,
                                           batch_first=True, norm_first=norm_first)
        enc = load_seeded(L, nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                          115, 0.3).eval()
        with L.autocast("cpu", dtype=L.bfloat16):
            with L.no_grad():
                fast = enc(x, src_key_padding_mask=kpm)
                one = enc.layers[0](x)
            slow = enc.layers[0](x)
        results[act] = dict(dtypes=[fast.dtype, one.dtype, slow.dtype],
                            fast=fast.double()[:, :3], one=one.double(), slow=slow.double())
    return results


@program
def cpu_autocast_losses_pads_fft_and_cdist_run_in_float32(L):
    """Losses on bfloat16 activations inside an autocast region (detection's smooth_l1/huber,
    distillation's kl_div, metric learning's triplet/margin/cosine-embedding/hinge, poisson,
    soft margin, multi-margin), a style network's ReflectionPad2d/ReplicationPad after a
    bfloat16 conv, an FFT filter, cdist, quantiles and trace: PyTorch's CPU autocast runs them
    in float32 (the circular and constant pads, and reflection over 3 dims, keep bfloat16)."""
    nn, F = L.nn, L.nn.functional
    conv = load_seeded(L, nn.Conv2d(2, 3, 3), 116)
    x = L.from_numpy(_f32(2, 2, 6, 6, seed=117))
    t = L.from_numpy(_f32(2, 3, 4, 4, seed=118))
    with L.autocast("cpu", dtype=L.bfloat16):
        h = conv(x)                                            # bfloat16 (2, 3, 4, 4)
        e = h.flatten(1)                                       # bfloat16 embeddings (2, 48)
        s = h[:, :, 0, 0]                                      # bfloat16 scores (2, 3)
        sign = L.tensor([1.0, -1.0])
        losses = dict(
            smooth_l1=F.smooth_l1_loss(h, t, beta=0.5), huber=F.huber_loss(h, t, delta=0.7),
            kl=F.kl_div(F.log_softmax(e.float(), -1).bfloat16(),
                        F.softmax(t.flatten(1), -1), reduction="batchmean"),
            poisson=F.poisson_nll_loss(h, t.abs()), soft_margin=F.soft_margin_loss(h, t.sign()),
            ranking=F.margin_ranking_loss(s[:, 0], s[:, 1], sign, margin=0.1),
            triplet=F.triplet_margin_loss(e, e.flip(0), t.flatten(1), margin=0.5),
            cosine=F.cosine_embedding_loss(e, t.flatten(1), sign),
            hinge=F.hinge_embedding_loss(h, t.sign()),
            multi_margin=F.multi_margin_loss(s, L.tensor([0, 2])),
            multilabel=F.multilabel_margin_loss(s, L.tensor([[1, -1, 0], [2, 0, -1]])))
        pads = [nn.ReflectionPad2d(1)(h), nn.ReplicationPad2d((1, 0, 2, 1))(h),
                F.pad(h[0], (1, 2), mode="reflect"), F.pad(h, (1, 1, 1, 1), mode="circular"),
                F.pad(h, (1, 1, 1, 1)), nn.ReflectionPad3d(1)(h.unsqueeze(0))]
        spec = L.fft.rfft2(h)
        filtered = L.fft.irfft2(spec * L.tensor([1.0, 0.5, 0.0]), s=h.shape[-2:])
        dist = L.cdist(e, t.flatten(1))
        stats = [L.quantile(e.flatten(), L.tensor([0.25, 0.75]).bfloat16()),
                 L.nanquantile(e, 0.5, dim=1), L.trace(h[0, 0])]
    total = sum(losses.values()) + filtered.mean() + dist.mean() + stats[0].sum()
    total.backward()
    return dict(losses={k: (v.dtype, v) for k, v in losses.items()},
                pads=[(p.dtype, p.double()) for p in pads], spec=spec, filtered=filtered,
                dist=dist, stats=stats, g=conv.weight.grad)


@program
def cpu_autocast_video_net_pools_and_spatial_transformer(L):
    """A small 3-D (video) CNN and a spatial transformer under CPU bfloat16 autocast: the
    Conv3d output (bfloat16) meets MaxPool3d, AvgPool3d and the 3-d adaptive pools, which
    autocast runs in float32 (max_pool3d with return_indices is not among them), and
    max_unpool2d; the STN's affine_grid is a bmm (bfloat16), grid_sample runs in float32."""
    nn, F = L.nn, L.nn.functional
    conv3 = load_seeded(L, nn.Conv3d(2, 3, 3, padding=1), 119)
    conv2 = load_seeded(L, nn.Conv2d(3, 3, 3, padding=1), 120)
    loc = load_seeded(L, nn.Linear(12, 6), 121, 0.05)
    clip = L.from_numpy(_f32(2, 2, 4, 6, 6, seed=122))
    with L.autocast("cpu", dtype=L.bfloat16):
        h = conv3(clip)
        pools = [F.max_pool3d(h, 2), nn.MaxPool3d(2, return_indices=True)(h)[0],
                 nn.AvgPool3d((1, 2, 2))(h), F.adaptive_avg_pool3d(h, (1, 2, 2)),
                 nn.AdaptiveAvgPool3d(1)(h), F.adaptive_max_pool3d(h, (2, 3, 3))]
        frame = conv2(h.mean(2).float())                     # (2, 3, 6, 6) bfloat16
        pooled, idx = F.max_pool2d(frame, 2, return_indices=True)
        unpooled = F.max_unpool2d(pooled, idx, 2)
        theta = loc(F.adaptive_avg_pool2d(frame, 2).flatten(1)).view(-1, 2, 3) + \
            L.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        grid = F.affine_grid(theta, list(frame.shape), align_corners=False)
        warped = F.grid_sample(frame, grid, align_corners=False, padding_mode="border")
    (sum(p.float().sum() for p in pools) + unpooled.float().sum() + warped.pow(2).sum()).backward()
    return dict(dtypes=[t.dtype for t in pools + [frame, unpooled, theta, grid, warped]],
                pools=[p.float() for p in pools], warped=warped, idx=idx,
                # (the bfloat16 gradients sum several branches: rounding order differs)
                grad_dtypes=[conv3.weight.grad.dtype, loc.weight.grad.dtype])


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    HARNESS.check(fn)
