"""Whole programs of round 39: textbook chapters and example recipes written afresh.

d2l.ai's batch normalisation and RNN from scratch, masked softmax attention, BERT's
pretraining heads and a masked sequence loss; pytorch/examples' fast neural style network;
a DDPM cosine schedule with DDIM steps; timm's squeeze-excite gate and MobileNetV3 block;
custom autograd functions (straight-through binarisation, gradient reversal); module hooks
with keyword arguments and prepended hooks; state dict round trips; optimizer parameter
groups under one-cycle and warm-restart schedules; CPU autocast with a disabled scaler; data
loaders with samplers and collate functions; and more.

Each ``program(L)`` runs with ``L`` = torch and ``L`` = minigrad on the same numpy inputs and
the same weights; both must give the same values, dtypes, shapes and requires_grad, or raise
the same exception type with torch's words, and warn alike (tests/side_by_side.py).
"""
import collections
import importlib
import io
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, labels, normal32, normal64, program_harness,
    registry)

import_forward_ad_decompositions()

HARNESS = program_harness(bfloat16=(1e-2, 1e-2))
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# d2l.ai chapters
# ----------------------------------------------------------------------------------------------
@program
def d2l_batch_norm_from_scratch_beside_the_module(L):
    """A batch-norm function written by hand (statistics over the batch, or over batch and
    space for maps, moving averages updated in place of the returned ones) inside a small
    LeNet, trained beside the same net built with nn.BatchNorm layers; eval-mode outputs."""
    nn, F = L.nn, L.nn.functional

    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not L.is_grad_enabled():
            X_hat = (X - moving_mean) / L.sqrt(moving_var + eps)
        else:
            if X.dim() == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / L.sqrt(var + eps)
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var
        return gamma * X_hat + beta, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, n, dims):
            super().__init__()
            shape = (1, n) if dims == 2 else (1, n, 1, 1)
            self.gamma = nn.Parameter(L.ones(shape, dtype=L.float64))
            self.beta = nn.Parameter(L.zeros(shape, dtype=L.float64))
            self.moving_mean = L.zeros(shape, dtype=L.float64)
            self.moving_var = L.ones(shape, dtype=L.float64)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean, self.moving_var, 1e-5, 0.1)
            return Y

    def lenet(bn2d, bn1d):
        return nn.Sequential(
            nn.Conv2d(1, 4, kernel_size=3), bn2d(4), nn.Sigmoid(), nn.AvgPool2d(2, 2),
            nn.Flatten(), nn.Linear(4 * 3 * 3, 10), bn1d(10), nn.Sigmoid(), nn.Linear(10, 3))

    L.manual_seed(3)
    mine = lenet(lambda n: BatchNorm(n, 4), lambda n: BatchNorm(n, 2)).double()
    ref = lenet(nn.BatchNorm2d, nn.BatchNorm1d).double()
    ref.load_state_dict({k: v for k, v in mine.state_dict().items()}, strict=False)
    x = L.tensor(normal64(6, 1, 8, 8, seed=4))
    y = L.tensor(labels(6, 3, seed=5))
    losses = []
    for net in (mine, ref):
        opt = L.optim.SGD(net.parameters(), lr=0.5)
        for _ in range(3):
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.detach())
    with L.no_grad():
        ref.eval()
        evals = mine(x), ref(x)
    # the module keeps the unbiased variance, the hand-written one the biased
    return losses, mine[1].moving_mean.flatten(), ref[1].running_mean, \
        mine[6].moving_var, ref[6].running_var, evals, mine[1].gamma.grad.flatten()


def _sequence_mask(L, X, valid_len, value=0.0):
    maxlen = X.size(1)
    mask = L.arange(maxlen, dtype=L.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def _masked_softmax(L, X, valid_lens):
    if valid_lens is None:
        return L.nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = L.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = _sequence_mask(L, X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return L.nn.functional.softmax(X.reshape(shape), dim=-1)


@program
def d2l_additive_and_scaled_dot_attention_with_masked_softmax_and_head_split(L):
    """Masked softmax by writing -1e6 past each valid length (1-d lengths repeated over
    queries, 2-d lengths per query), additive attention by broadcast tanh features, and a
    multi-head attention that splits heads into the batch and repeats the lengths per head."""
    nn = L.nn

    class Additive(nn.Module):
        def __init__(self, nh):
            super().__init__()
            self.W_k = nn.LazyLinear(nh, bias=False)
            self.W_q = nn.LazyLinear(nh, bias=False)
            self.w_v = nn.LazyLinear(1, bias=False)

        def forward(self, q, k, v, valid_lens):
            q, k = self.W_q(q), self.W_k(k)
            feats = L.tanh(q.unsqueeze(2) + k.unsqueeze(1))
            scores = self.w_v(feats).squeeze(-1)
            self.attention_weights = _masked_softmax(L, scores, valid_lens)
            return L.bmm(self.attention_weights, v)

    class DotProduct(nn.Module):
        def forward(self, q, k, v, valid_lens=None):
            d = q.shape[-1]
            scores = L.bmm(q, k.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = _masked_softmax(L, scores, valid_lens)
            return L.bmm(self.attention_weights, v)

    class MultiHead(nn.Module):
        def __init__(self, nh, heads):
            super().__init__()
            self.heads, self.att = heads, DotProduct()
            self.W_q, self.W_k = nn.LazyLinear(nh), nn.LazyLinear(nh)
            self.W_v, self.W_o = nn.LazyLinear(nh), nn.LazyLinear(nh)

        def split(self, X):
            X = X.reshape(X.shape[0], X.shape[1], self.heads, -1).permute(0, 2, 1, 3)
            return X.reshape(-1, X.shape[2], X.shape[3])

        def merge(self, X):
            X = X.reshape(-1, self.heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
            return X.reshape(X.shape[0], X.shape[1], -1)

        def forward(self, q, k, v, valid_lens):
            q, k, v = self.split(self.W_q(q)), self.split(self.W_k(k)), self.split(self.W_v(v))
            if valid_lens is not None:
                valid_lens = L.repeat_interleave(valid_lens, repeats=self.heads, dim=0)
            return self.W_o(self.merge(self.att(q, k, v, valid_lens)))

    L.manual_seed(11)
    q = L.tensor(normal64(2, 3, 5, seed=1), requires_grad=True)
    k = L.tensor(normal64(2, 6, 4, seed=2))
    v = L.tensor(normal64(2, 6, 4, seed=3), requires_grad=True)
    add = Additive(8).double()
    out1 = add(q, k, v, L.tensor([2, 6]))
    out2 = add(q, k, v, L.tensor([[1, 2, 3], [6, 5, 4]]))
    mha = MultiHead(8, 2).double()
    out3 = mha(q, k, v, L.tensor([3, 5]))
    (out1.sum() + (out2 ** 2).sum() + out3.pow(2).mean()).backward()
    return out1, out2, out3, add.attention_weights, q.grad, v.grad, add.w_v.weight.grad, \
        mha.W_o.weight.grad, mha.W_q.weight.shape


@program
def d2l_bert_pretraining_masked_lm_and_next_sentence_heads(L):
    """BERT's encoder of token, segment and learned position embeddings over
    TransformerEncoderLayers with a key padding mask from the valid lengths; the masked-LM
    head gathers predicted positions by a repeated batch index; the next-sentence head reads
    the first token; losses weighted by the prediction weights; two Adam steps."""
    nn = L.nn
    V, H, B, T = 20, 16, 3, 8

    class BERT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(V, H)
            self.seg = nn.Embedding(2, H)
            self.pos = nn.Parameter(L.randn(1, T, H) * 0.1)
            self.blks = nn.ModuleList(
                nn.TransformerEncoderLayer(H, 2, 32, dropout=0.0, batch_first=True,
                                           activation="gelu") for _ in range(2))
            self.mlm = nn.Sequential(nn.Linear(H, 32), nn.ReLU(), nn.LayerNorm(32),
                                     nn.Linear(32, V))
            self.hidden = nn.Sequential(nn.Linear(H, H), nn.Tanh())
            self.nsp = nn.Linear(H, 2)

        def forward(self, tokens, segments, valid_lens, pred_positions):
            X = self.tok(tokens) + self.seg(segments) + self.pos[:, :tokens.shape[1], :]
            pad = L.arange(tokens.shape[1])[None, :] >= valid_lens[:, None]
            for blk in self.blks:
                X = blk(X, src_key_padding_mask=pad)
            num_pred = pred_positions.shape[1]
            batch_idx = L.repeat_interleave(L.arange(X.shape[0]), num_pred)
            masked_X = X[batch_idx, pred_positions.reshape(-1)].reshape(X.shape[0], num_pred, -1)
            return X, self.mlm(masked_X), self.nsp(self.hidden(X[:, 0, :]))

    L.manual_seed(5)
    net = BERT().double()
    rng = np.random.RandomState(6)
    tokens = L.tensor(rng.randint(0, V, (B, T)))
    segments = L.tensor((np.arange(T)[None, :] >= np.array([[4], [3], [5]])).astype(np.int64))
    valid = L.tensor([8, 6, 7])
    pred_pos = L.tensor([[1, 5, 2], [6, 1, 5], [3, 0, 0]])
    weights = L.tensor([[1.0, 1, 1], [1, 1, 1], [1, 0, 0]], dtype=L.float64)
    mlm_y = L.tensor(rng.randint(0, V, (B, 3)))
    nsp_y = L.tensor([1, 0, 1])
    loss_fn = nn.CrossEntropyLoss(reduction="none")
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    record = []
    for _ in range(2):
        enc, mlm_hat, nsp_hat = net(tokens, segments, valid, pred_pos)
        mlm_l = loss_fn(mlm_hat.reshape(-1, V), mlm_y.reshape(-1)) * weights.reshape(-1)
        mlm_l = mlm_l.sum() / (weights.sum() + 1e-8)
        nsp_l = loss_fn(nsp_hat, nsp_y).mean()
        opt.zero_grad()
        (mlm_l + nsp_l).backward()
        opt.step()
        record += [mlm_l, nsp_l]
    return record, enc[:, :3], net.pos.grad[0, :3], net.seg.weight.grad, \
        net.blks[0].self_attn.in_proj_weight.grad[:4]


@program
def d2l_rnn_from_scratch_with_one_hot_inputs_grad_clipping_and_prediction(L):
    """An RNN written from its parameters (normal draws times 0.01), one-hot inputs of the
    transposed minibatch, the gradient clipped by the norm over all parameters, minibatch SGD
    by hand under no_grad dividing by the batch size, the state detached between sequential
    minibatches, and prediction by warming up on a prefix and taking argmaxes."""
    F = L.nn.functional
    V, H = 7, 12

    def get_params():
        def normal(shape):
            return L.randn(size=shape, dtype=L.float64) * 0.01
        W_xh, W_hh, b_h = normal((V, H)), normal((H, H)), L.zeros(H, dtype=L.float64)
        W_hq, b_q = normal((H, V)), L.zeros(V, dtype=L.float64)
        params = [W_xh, W_hh, b_h, W_hq, b_q]
        for p in params:
            p.requires_grad_(True)
        return params

    def rnn(inputs, state, params):
        W_xh, W_hh, b_h, W_hq, b_q = params
        H_, = state
        outputs = []
        for X in inputs:
            H_ = L.tanh(L.mm(X, W_xh) + L.mm(H_, W_hh) + b_h)
            outputs.append(L.mm(H_, W_hq) + b_q)
        return L.cat(outputs, dim=0), (H_,)

    def forward(X, state, params):
        X = F.one_hot(X.T, V).type(L.float64)
        return rnn(X, state, params)

    def grad_clipping(params, theta):
        norm = L.sqrt(sum(L.sum(p.grad ** 2) for p in params))
        if norm > theta:
            for p in params:
                p.grad[:] *= theta / norm
        return norm

    def sgd(params, lr, batch_size):
        with L.no_grad():
            for p in params:
                p -= lr * p.grad / batch_size
                p.grad.zero_()

    L.manual_seed(2)
    params = get_params()
    corpus = np.random.RandomState(3).randint(0, V, 41)
    B, T = 2, 5
    n = (len(corpus) - 1) // B * B
    Xs = corpus[:n].reshape(B, -1)
    Ys = corpus[1:n + 1].reshape(B, -1)
    record, state = [], None
    for i in range(0, Xs.shape[1] - T + 1, T):
        X, Y = L.tensor(Xs[:, i:i + T]), L.tensor(Ys[:, i:i + T])
        if state is None:
            state = (L.zeros((B, H), dtype=L.float64),)
        else:
            for s in state:
                s.detach_()
        y_hat, state = forward(X, state, params)
        loss = F.cross_entropy(y_hat, Y.T.reshape(-1).long()).mean()
        loss.backward()
        record.append((loss.item(), grad_clipping(params, 1e-3).item()))
        sgd(params, 50.0, 1)
    outputs = [3]
    st = (L.zeros((1, H), dtype=L.float64),)
    for y in [3, 1, 4]:
        _, st = forward(L.tensor([outputs[-1]]).reshape(1, 1), st, params)
        outputs.append(y)
    for _ in range(6):
        y, st = forward(L.tensor([outputs[-1]]).reshape(1, 1), st, params)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return record, outputs, params[1], st[0]


@program
def d2l_seq2seq_gru_with_masked_softmax_ce_loss_and_bos_teacher_forcing(L):
    """An encoder GRU over embeddings; a decoder GRU fed the encoder's last top state
    concatenated to every step's embedding; a CrossEntropyLoss subclass that masks padded
    steps (reduction switched to 'none' inside forward, logits permuted to (N, C, T));
    targets shifted right behind a <bos> token; gradients clipped; Adam."""
    nn = L.nn
    V, E, H = 9, 6, 10

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E)
            self.rnn = nn.GRU(E, H, 2)

        def forward(self, X):
            X = self.emb(X).permute(1, 0, 2)
            return self.rnn(X)

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(V, E)
            self.rnn = nn.GRU(E + H, H, 2)
            self.dense = nn.Linear(H, V)

        def forward(self, X, state):
            X = self.emb(X).permute(1, 0, 2)
            context = state[-1].repeat(X.shape[0], 1, 1)
            out, state = self.rnn(L.cat((X, context), 2), state)
            return self.dense(out).permute(1, 0, 2), state

    class MaskedCE(nn.CrossEntropyLoss):
        def forward(self, pred, label, valid_len):
            weights = _sequence_mask(L, L.ones_like(label), valid_len)
            self.reduction = "none"
            unweighted = super().forward(pred.permute(0, 2, 1), label)
            return (unweighted * weights).mean(dim=1)

    L.manual_seed(8)
    enc, dec = Encoder().double(), Decoder().double()
    rng = np.random.RandomState(9)
    X = L.tensor(rng.randint(3, V, (4, 5)))
    Y = L.tensor(rng.randint(3, V, (4, 6)))
    y_len = L.tensor([6, 3, 4, 1])
    params = list(enc.parameters()) + list(dec.parameters())
    opt = L.optim.Adam(params, lr=0.01)
    loss_fn = MaskedCE()
    record = []
    for _ in range(3):
        opt.zero_grad()
        bos = L.tensor([1] * Y.shape[0]).reshape(-1, 1)
        dec_in = L.cat([bos, Y[:, :-1]], 1)
        _, state = enc(X)
        Y_hat, _ = dec(dec_in, state)
        l = loss_fn(Y_hat, Y, y_len)
        l.sum().backward()
        norm = nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        record += [l, norm]
    return record, dec.dense.weight.grad, enc.emb.weight.grad[3:5], loss_fn.reduction


@program
def d2l_googlenet_inception_blocks_with_four_concatenated_paths(L):
    """Inception blocks (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max-pool at stride 1 then 1x1)
    concatenated over channels, a stem with a strided max-pool, global average pooling to a
    linear head, trained two steps by SGD with momentum and weight decay."""
    nn, F = L.nn, L.nn.functional

    class Inception(nn.Module):
        def __init__(self, cin, c1, c2, c3, c4):
            super().__init__()
            self.p1_1 = nn.Conv2d(cin, c1, kernel_size=1)
            self.p2_1 = nn.Conv2d(cin, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            self.p3_1 = nn.Conv2d(cin, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(cin, c4, kernel_size=1)

        def forward(self, x):
            p1 = F.relu(self.p1_1(x))
            p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
            p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
            p4 = F.relu(self.p4_2(self.p4_1(x)))
            return L.cat((p1, p2, p3, p4), dim=1)

    L.manual_seed(21)
    net = nn.Sequential(
        nn.Conv2d(2, 6, kernel_size=3, stride=1, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        Inception(6, 2, (3, 4), (1, 2), 2), Inception(10, 3, (2, 3), (2, 3), 3),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(12, 4)).double()
    x = L.tensor(normal64(3, 2, 9, 9, seed=22))
    y = L.tensor(labels(3, 4, seed=23))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    shapes, losses = [], []
    h = x
    for layer in net:
        h = layer(h)
        shapes.append(tuple(h.shape))
    for _ in range(2):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return shapes, losses, net[3].p3_2.weight.grad, net[4].p4_2.bias, \
        opt.state[net[8].weight]["momentum_buffer"]



# ----------------------------------------------------------------------------------------------
# pytorch/examples and diffusion
# ----------------------------------------------------------------------------------------------
@program
def fast_neural_style_transformer_net_with_vgg_like_gram_losses(L):
    """The style network of reflection-padded convs with affine InstanceNorm, residual
    blocks and nearest-upsampling convs; a small fixed feature extractor whose named-tuple
    outputs give gram matrices (bmm of features by their transpose over c*h*w); inputs
    normalised by ImageNet statistics after dividing by 255; content and style MSE; Adam."""
    nn, F = L.nn, L.nn.functional

    class ConvLayer(nn.Module):
        def __init__(self, cin, cout, k, stride):
            super().__init__()
            self.pad = nn.ReflectionPad2d(k // 2)
            self.conv = nn.Conv2d(cin, cout, k, stride)

        def forward(self, x):
            return self.conv(self.pad(x))

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1, self.n1 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)
            self.c2, self.n2 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)

        def forward(self, x):
            return x + self.n2(self.c2(F.relu(self.n1(self.c1(x)))))

    class Upsample(nn.Module):
        def __init__(self, cin, cout, k, up):
            super().__init__()
            self.up, self.conv = up, ConvLayer(cin, cout, k, 1)

        def forward(self, x):
            return self.conv(F.interpolate(x, mode="nearest", scale_factor=self.up))

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.in1 = ConvLayer(3, 4, 5, 1), nn.InstanceNorm2d(4, affine=True)
            self.c2, self.in2 = ConvLayer(4, 8, 3, 2), nn.InstanceNorm2d(8, affine=True)
            self.res = nn.Sequential(Residual(8), Residual(8))
            self.u1, self.in3 = Upsample(8, 4, 3, 2), nn.InstanceNorm2d(4, affine=True)
            self.out = ConvLayer(4, 3, 5, 1)

        def forward(self, x):
            y = F.relu(self.in1(self.c1(x)))
            y = F.relu(self.in2(self.c2(y)))
            y = self.res(y)
            return self.out(F.relu(self.in3(self.u1(y))))

    Outputs = collections.namedtuple("Outputs", ["relu1", "relu2"])

    class Features(nn.Module):
        def __init__(self):
            super().__init__()
            self.s1 = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
            self.s2 = nn.Sequential(nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
            for p in self.parameters():
                p.requires_grad = False

        def forward(self, x):
            h1 = self.s1(x)
            return Outputs(h1, self.s2(h1))

    def gram(y):
        b, ch, h, w = y.size()
        f = y.view(b, ch, w * h)
        return f.bmm(f.transpose(1, 2)) / (ch * h * w)

    def normalize_batch(batch):
        mean = batch.new_tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
        std = batch.new_tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
        return (batch.div_(255.0) - mean) / std

    L.manual_seed(31)
    net, feats = TransformerNet().double(), Features().double()
    style = L.tensor(np.random.RandomState(32).uniform(0, 255, (1, 3, 8, 8)))
    grams = [gram(f) for f in feats(normalize_batch(style.clone()))]
    x = L.tensor(np.random.RandomState(33).uniform(0, 255, (2, 3, 8, 8)))
    opt = L.optim.Adam(net.parameters(), 1e-3)
    record = []
    for _ in range(2):
        opt.zero_grad()
        y = net(x)
        fy, fx = feats(normalize_batch(y)), feats(normalize_batch(x.clone()))
        content = 1e5 * F.mse_loss(fy.relu2, fx.relu2)
        style_l = 0.0
        for fty, gs in zip(fy, grams):
            style_l = style_l + F.mse_loss(gram(fty), gs.expand(y.size(0), -1, -1))
        total = content + 1e10 * style_l
        total.backward()
        opt.step()
        record += [content, style_l]
    return record, y.shape, net.in2.weight.grad, net.res[1].c2.conv.bias.grad, \
        feats.s1[0].weight.grad, type(fy).__name__, fy._fields


@program
def ddpm_cosine_schedule_q_sample_huber_loss_and_ddim_sampling(L):
    """Improved-DDPM cosine betas clipped at 0.999, coefficients read per sample with gather
    and reshaped to broadcast, sinusoidal time embeddings into a GELU time MLP, the noising
    q_sample, a Huber loss on the predicted noise, AdamW steps, then deterministic DDIM steps
    under no_grad with the predicted x0 clamped."""
    nn, F = L.nn, L.nn.functional
    T = 20

    def cosine_betas(steps, s=0.008):
        x = L.linspace(0, steps, steps + 1, dtype=L.float64)
        ac = L.cos(((x / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
        ac = ac / ac[0]
        return L.clip(1 - (ac[1:] / ac[:-1]), 0.0001, 0.9999)

    def extract(a, t, x_shape):
        b = t.shape[0]
        out = a.gather(-1, t)
        return out.reshape(b, *((1,) * (len(x_shape) - 1)))

    class SinEmb(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.dim = dim

        def forward(self, t):
            half = self.dim // 2
            emb = math.log(10000) / (half - 1)
            emb = L.exp(L.arange(half, dtype=L.float64) * -emb)
            emb = t[:, None].double() * emb[None, :]
            return L.cat((emb.sin(), emb.cos()), dim=-1)

    class Denoiser(nn.Module):
        def __init__(self, d=6, h=16):
            super().__init__()
            self.time = nn.Sequential(SinEmb(8), nn.Linear(8, h), nn.GELU(), nn.Linear(h, h))
            self.inp = nn.Linear(d, h)
            self.mid = nn.Sequential(nn.SiLU(), nn.Linear(h, h), nn.SiLU())
            self.out = nn.Linear(h, d)

        def forward(self, x, t):
            return self.out(self.mid(self.inp(x) + self.time(t)))

    betas = cosine_betas(T)
    alphas = 1.0 - betas
    ac = L.cumprod(alphas, dim=0)
    ac_prev = F.pad(ac[:-1], (1, 0), value=1.0)
    sqrt_ac, sqrt_1mac = L.sqrt(ac), L.sqrt(1.0 - ac)
    post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
    post_logvar = L.log(post_var.clamp(min=1e-20))

    L.manual_seed(41)
    model = Denoiser().double()
    opt = L.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    x0 = L.tensor(normal64(8, 6, seed=42))
    noise = L.tensor(normal64(8, 6, seed=43))
    t = L.tensor(np.random.RandomState(44).randint(0, T, 8))
    losses = []
    for _ in range(3):
        x_t = extract(sqrt_ac, t, x0.shape) * x0 + extract(sqrt_1mac, t, x0.shape) * noise
        loss = F.smooth_l1_loss(model(x_t, t), noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    x = L.tensor(normal64(3, 6, seed=45))
    seq = list(range(T - 1, -1, -5))
    with L.no_grad():
        for i, j in zip(seq, seq[1:] + [-1]):
            tt = L.full((3,), i, dtype=L.long)
            eps = model(x, tt)
            a_t = extract(ac, tt, x.shape)
            a_prev = extract(ac, L.full((3,), j, dtype=L.long), x.shape) if j >= 0 \
                else L.ones_like(a_t)
            x0_hat = ((x - (1 - a_t).sqrt() * eps) / a_t.sqrt()).clamp(-1.0, 1.0)
            x = a_prev.sqrt() * x0_hat + (1 - a_prev).sqrt() * eps
    return betas, post_logvar[:4], losses, x, model.time[1].weight.grad, x.requires_grad


# ----------------------------------------------------------------------------------------------
# timm-style blocks
# ----------------------------------------------------------------------------------------------
def _make_divisible(v, divisor=8, min_value=None, round_limit=0.9):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < round_limit * v:
        new_v += divisor
    return new_v


@program
def timm_mobilenetv3_inverted_residual_with_hard_sigmoid_squeeze_excite(L):
    """MobileNetV3 blocks: 1x1 expansion, depthwise conv, a squeeze-excite whose reduced
    width is rounded to a multiple of 8 and whose gate is a hard sigmoid, 1x1 projection,
    BatchNorm throughout, Hardswish activations, a skip where shapes allow; parameters split
    into decayed and not-decayed groups (1-d parameters and biases skip decay); SGD nesterov."""
    nn, F = L.nn, L.nn.functional

    class SE(nn.Module):
        def __init__(self, c, rd_ratio=0.25):
            super().__init__()
            rd = _make_divisible(c * rd_ratio, 8)
            self.conv_reduce = nn.Conv2d(c, rd, 1, bias=True)
            self.act = nn.ReLU(inplace=True)
            self.conv_expand = nn.Conv2d(rd, c, 1, bias=True)
            self.gate = nn.Hardsigmoid()

        def forward(self, x):
            s = x.mean((2, 3), keepdim=True)
            return x * self.gate(self.conv_expand(self.act(self.conv_reduce(s))))

    class IR(nn.Module):
        def __init__(self, cin, cout, exp, k, stride, se):
            super().__init__()
            mid = cin * exp
            self.has_skip = stride == 1 and cin == cout
            self.conv_pw = nn.Conv2d(cin, mid, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(mid)
            self.act1 = nn.Hardswish(inplace=True)
            self.conv_dw = nn.Conv2d(mid, mid, k, stride, k // 2, groups=mid, bias=False)
            self.bn2 = nn.BatchNorm2d(mid)
            self.act2 = nn.Hardswish(inplace=True)
            self.se = SE(mid) if se else nn.Identity()
            self.conv_pwl = nn.Conv2d(mid, cout, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout)

        def forward(self, x):
            shortcut = x
            x = self.act1(self.bn1(self.conv_pw(x)))
            x = self.act2(self.bn2(self.conv_dw(x)))
            x = self.bn3(self.conv_pwl(self.se(x)))
            return x + shortcut if self.has_skip else x

    def param_groups(model, wd):
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
        return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": wd}]

    L.manual_seed(51)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8),
                        nn.Hardswish(), IR(8, 8, 3, 3, 1, True), IR(8, 12, 2, 5, 2, True),
                        IR(12, 12, 2, 3, 1, False), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
                        nn.Linear(12, 5)).double()
    groups = param_groups(net, 1e-2)
    opt = L.optim.SGD(groups, lr=0.05, momentum=0.9, nesterov=True)
    x = L.tensor(normal64(4, 3, 12, 12, seed=52))
    y = L.tensor(labels(4, 5, seed=53))
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(net(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    net.eval()
    with L.inference_mode():
        ev = net(x)
    return [len(g["params"]) for g in opt.param_groups], net[3].se.conv_reduce.weight.shape, \
        losses, ev, net[4].se.conv_expand.weight.grad, net[4].bn2.running_var, ev.requires_grad


# ----------------------------------------------------------------------------------------------
# custom autograd functions
# ----------------------------------------------------------------------------------------------
@program
def binary_connect_straight_through_sign_and_dann_gradient_reversal(L):
    """Two custom autograd Functions: a sign binariser whose backward passes the gradient
    only where |x| <= 1 (input saved with save_for_backward, backward once_differentiable),
    used for binarised weights with full-precision shadows clipped after each step; and a
    gradient reversal layer whose coefficient rides on ctx and gets a None gradient, placed
    before a domain classifier (DANN)."""
    nn, F = L.nn, L.nn.functional
    once = L.autograd.function.once_differentiable

    class Binarize(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sign()

        @staticmethod
        @once
        def backward(ctx, g):
            x, = ctx.saved_tensors
            gi = g.clone()
            gi[x.abs() > 1] = 0
            return gi

    class Reverse(L.autograd.Function):
        @staticmethod
        def forward(ctx, x, alpha):
            ctx.alpha = alpha
            return x.view_as(x)

        @staticmethod
        def backward(ctx, g):
            return g.neg() * ctx.alpha, None

    class BinLinear(nn.Linear):
        def forward(self, x):
            return F.linear(x, Binarize.apply(self.weight), self.bias)

    L.manual_seed(61)
    feat = nn.Sequential(BinLinear(6, 8), nn.BatchNorm1d(8), nn.Hardtanh())
    label_head = nn.Linear(8, 3)
    dom_head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    mods = nn.ModuleList([feat, label_head, dom_head]).double()
    with L.no_grad():
        feat[0].weight.mul_(3.0)
    opt = L.optim.Adam(mods.parameters(), lr=0.05)
    xs = L.tensor(normal64(6, 6, seed=62))
    xt = L.tensor(normal64(6, 6, seed=63) + 0.5)
    ys = L.tensor(labels(6, 3, seed=64))
    record = []
    for step in range(3):
        p = step / 3
        alpha = 2.0 / (1.0 + math.exp(-10 * p)) - 1
        fs, ft = feat(xs), feat(xt)
        cls = F.cross_entropy(label_head(fs), ys)
        d = dom_head(Reverse.apply(L.cat([fs, ft]), alpha)).squeeze(1)
        dom_t = L.cat([L.zeros(6, dtype=L.float64), L.ones(6, dtype=L.float64)])
        dom = F.binary_cross_entropy_with_logits(d, dom_t)
        opt.zero_grad()
        (cls + dom).backward()
        record += [cls, dom, feat[0].weight.grad.clone()]
        opt.step()
        with L.no_grad():
            feat[0].weight.clamp_(-1, 1)
    w = feat[0].weight.detach().requires_grad_()
    b = Binarize.apply(w)
    second = err(lambda: L.autograd.grad(
        L.autograd.grad(b.sum(), w, create_graph=True)[0].sum(), w))
    return record, feat[0].weight, dom_head[0].weight.grad, second, b.grad_fn is not None


# ----------------------------------------------------------------------------------------------
# hooks and state dicts
# ----------------------------------------------------------------------------------------------
@program
def module_hooks_with_kwargs_prepend_always_call_and_backward_pre_hooks(L):
    """A block whose forward takes a keyword-only scale: a pre-hook with kwargs doubles it,
    forward hooks (one prepended, one always called, even when the forward raises) record
    their order and one rescales the output, a full backward pre-hook halves the incoming
    gradient, a full backward hook sees None for an input that needs no gradient; handles
    removed by hand and by leaving their with-block."""
    nn = L.nn
    calls = []

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x, ctx, *, scale=1.0):
            if scale > 100:
                raise ValueError("scale too large")
            return self.lin(x) * scale + ctx

    def pre(mod, args, kwargs):
        calls.append("pre")
        kwargs = dict(kwargs)
        kwargs["scale"] = kwargs.get("scale", 1.0) * 2
        return args, kwargs

    def fwd_a(mod, args, out):
        calls.append("a")
        return out + 1

    def fwd_b(mod, args, kwargs, out):
        calls.append(("b", sorted(kwargs)))

    def always(mod, args, out):
        calls.append("always")

    seen = {}

    def bw_pre(mod, grad_out):
        calls.append("bw_pre")
        return (grad_out[0] * 0.5,)

    def bw(mod, grad_in, grad_out):
        calls.append("bw")
        seen["in"] = [g is None for g in grad_in]
        seen["out"] = grad_out[0].clone()

    L.manual_seed(71)
    blk = Block().double()
    h1 = blk.register_forward_pre_hook(pre, with_kwargs=True)
    h2 = blk.register_forward_hook(fwd_a)
    h3 = blk.register_forward_hook(fwd_b, with_kwargs=True, prepend=True)
    h4 = blk.register_forward_hook(always, always_call=True)
    h5 = blk.register_full_backward_pre_hook(bw_pre)
    h6 = blk.register_full_backward_hook(bw)
    x = L.tensor(normal64(2, 3, seed=72), requires_grad=True)
    c = L.tensor(normal64(2, 3, seed=73))
    out = blk(x, c, scale=1.5)
    out.pow(2).sum().backward()
    raised = err(lambda: blk(x, c, scale=200.0))
    after_raise = list(calls)
    for h in (h1, h2, h3):
        h.remove()
    with blk.register_forward_hook(fwd_a):
        out2 = blk(x, c)
    out3 = blk(x, c)
    h4.remove(), h5.remove(), h6.remove()
    return after_raise, calls[len(after_raise):], raised, out, out2, out3, x.grad, \
        seen["in"], seen["out"], blk.lin.weight.grad


@program
def state_dict_round_trip_nonpersistent_buffers_strict_false_assign_and_resume(L):
    """A model with a non-persistent buffer, a None buffer, a ParameterList and a ModuleDict:
    its state dict's keys and metadata versions, keep_vars, a prefix; loading into a grown
    model with strict=False (the missing and unexpected keys reported, its repr), loading
    with assign=True; then a checkpoint of model, optimizer and scheduler through BytesIO
    (weights_only) resumed and compared with the uninterrupted run."""
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self, extra=False):
            super().__init__()
            self.body = nn.ModuleDict({"fc": nn.Linear(4, 5), "norm": nn.LayerNorm(5)})
            self.scales = nn.ParameterList([nn.Parameter(L.ones(5)), nn.Parameter(L.ones(5))])
            self.register_buffer("steps", L.zeros((), dtype=L.long))
            self.register_buffer("cache", L.zeros(5), persistent=False)
            self.register_buffer("nothing", None)
            self.head = nn.Linear(5, 2)
            if extra:
                self.extra = nn.Linear(2, 2)

        def forward(self, x):
            self.steps += 1
            h = self.body["norm"](self.body["fc"](x)) * self.scales[0] + self.scales[1]
            self.cache = h.detach().mean(0)
            return self.head(F.gelu(h))

    L.manual_seed(81)
    net = Net().double()
    sd = net.state_dict()
    info = [list(sd), sorted(sd._metadata), sd._metadata["body.fc"],
            type(net.state_dict(keep_vars=True)["scales.0"]).__name__,
            list(net.state_dict(prefix="m."))[:2]]
    grown = Net(extra=True).double()
    sd2 = dict(sd)
    sd2["stale.weight"] = L.zeros(2)
    res = grown.load_state_dict(sd2, strict=False)
    info += [res.missing_keys, res.unexpected_keys, repr(res),
             repr(grown.load_state_dict(grown.state_dict()))]
    before = grown.head.weight
    grown.load_state_dict(net.state_dict(), strict=False, assign=True)
    info += [grown.head.weight is before, type(grown.head.weight).__name__]
    x = L.tensor(normal64(6, 4, seed=82))
    y = L.tensor(labels(6, 2, seed=83))

    def make(model):
        opt = L.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1, amsgrad=True)
        sched = L.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        return opt, sched

    def train(model, opt, sched, n):
        out = []
        for _ in range(n):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            out.append(loss.item())
        return out

    opt, sched = make(net)
    first = train(net, opt, sched, 3)
    buf = io.BytesIO()
    L.save({"model": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()},
           buf)
    straight = train(net, opt, sched, 2)
    buf.seek(0)
    ck = L.load(buf, weights_only=True)
    L.manual_seed(0)
    again = Net().double()
    again.load_state_dict(ck["model"])
    opt2, sched2 = make(again)
    opt2.load_state_dict(ck["opt"])
    sched2.load_state_dict(ck["sched"])
    resumed = train(again, opt2, sched2, 2)
    return info, first, straight, resumed, again.steps, net.steps, \
        opt2.state[again.head.weight]["max_exp_avg_sq"], sched2.get_last_lr(), \
        sorted(ck["opt"]["param_groups"][0]), again.cache


# ----------------------------------------------------------------------------------------------
# optimizers, schedules and mixed precision
# ----------------------------------------------------------------------------------------------
@program
def adamw_param_groups_under_three_phase_one_cycle_with_cycled_betas(L):
    """AdamW over two parameter groups (backbone and head) with a per-group max_lr list in a
    three-phase linear OneCycleLR that cycles the first beta; the learning rates and betas of
    both groups at every step, the scheduler's state dict keys, and the last lrs."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(91)
    backbone = nn.Sequential(nn.Linear(5, 8), nn.Tanh()).double()
    head = nn.Linear(8, 3).double()
    opt = L.optim.AdamW([{"params": backbone.parameters()},
                         {"params": head.parameters(), "weight_decay": 0.0}],
                        lr=1e-3, betas=(0.9, 0.99), weight_decay=0.05)
    sched = L.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[0.01, 0.1], total_steps=9, pct_start=0.3, anneal_strategy="linear",
        div_factor=10.0, final_div_factor=100.0, three_phase=True, base_momentum=0.8,
        max_momentum=0.95)
    x = L.tensor(normal64(7, 5, seed=92))
    y = L.tensor(labels(7, 3, seed=93))
    trace = []
    for _ in range(9):
        loss = F.cross_entropy(head(backbone(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        trace.append([(g["lr"], g["betas"][0], g["initial_lr"]) for g in opt.param_groups])
    return trace, sorted(sched.state_dict()), sched.get_last_lr(), loss, head.weight, \
        opt.param_groups[0]["max_lr"], opt.param_groups[1]["min_lr"]


@program
def warm_restarts_after_linear_warmup_chained_decays_and_polynomial_schedules(L):
    """SequentialLR switching from a LinearLR warmup to CosineAnnealingWarmRestarts with
    T_mult=2 and eta_min; a ChainedScheduler of ExponentialLR and MultiplicativeLR; a
    PolynomialLR with power 2; ReduceLROnPlateau in 'max' mode with an absolute threshold,
    cooldown and per-group floors; all learning rates recorded each epoch."""
    nn = L.nn
    L.manual_seed(101)
    lin = nn.Linear(2, 2)
    p = lambda: [{"params": [lin.weight]}, {"params": [lin.bias], "lr": 0.5}]
    o1 = L.optim.SGD(p(), lr=1.0, momentum=0.9)
    warm = L.optim.lr_scheduler.LinearLR(o1, start_factor=0.25, total_iters=3)
    cos = L.optim.lr_scheduler.CosineAnnealingWarmRestarts(o1, T_0=2, T_mult=2, eta_min=0.05)
    s1 = L.optim.lr_scheduler.SequentialLR(o1, [warm, cos], milestones=[3])
    o2 = L.optim.SGD(p(), lr=1.0)
    s2 = L.optim.lr_scheduler.ChainedScheduler([
        L.optim.lr_scheduler.ExponentialLR(o2, gamma=0.9),
        L.optim.lr_scheduler.MultiplicativeLR(o2, lr_lambda=[lambda e: 0.95, lambda e: 1.0])])
    o3 = L.optim.SGD(p(), lr=1.0)
    s3 = L.optim.lr_scheduler.PolynomialLR(o3, total_iters=6, power=2.0)
    o4 = L.optim.SGD(p(), lr=1.0)
    s4 = L.optim.lr_scheduler.ReduceLROnPlateau(o4, mode="max", factor=0.5, patience=1,
                                                threshold=0.05, threshold_mode="abs",
                                                cooldown=1, min_lr=[0.2, 0.01])
    metrics = [0.5, 0.52, 0.53, 0.6, 0.6, 0.61, 0.62, 0.58, 0.7, 0.7, 0.7, 0.7]
    trace = []
    for epoch, m in enumerate(metrics):
        for o in (o1, o2, o3, o4):
            o.step()
        s1.step(), s2.step(), s3.step(), s4.step(m)
        trace.append([[g["lr"] for g in o.param_groups] for o in (o1, o2, o3, o4)])
    return trace, s1.get_last_lr(), s4.get_last_lr(), s4.num_bad_epochs, s4.best, \
        s3.state_dict()["last_epoch"]


@program
def cpu_autocast_bfloat16_training_with_a_disabled_grad_scaler(L):
    """A conv-then-linear net whose forward runs under autocast('cpu', bfloat16): activations
    come out bfloat16, the loss is taken in float32; a GradScaler built disabled passes
    everything through (scale is the loss itself, unscale_/step/update, get_scale 1.0, empty
    state dict); gradients land in float32 on the float32 parameters."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(111)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                        nn.Linear(4 * 5 * 5, 3))
    opt = L.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    scaler = L.amp.GradScaler("cpu", enabled=False)
    x = L.tensor(normal32(4, 2, 5, 5, seed=112))
    y = L.tensor(labels(4, 3, seed=113))
    record = []
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        with L.autocast(device_type="cpu", dtype=L.bfloat16):
            h = net[0](x)
            out = net(x)
            loss = F.cross_entropy(out.float(), y)
        scaled = scaler.scale(loss)
        scaled.backward()
        scaler.unscale_(opt)
        norm = nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        scaler.step(opt)
        scaler.update()
        record += [h.dtype, out.dtype, loss.dtype, scaled is loss, norm.dtype,
                   net[3].weight.grad.dtype, out.float()]
    return record, scaler.get_scale(), scaler.is_enabled(), scaler.state_dict(), \
        net[0].weight.grad, net[3].bias


# ----------------------------------------------------------------------------------------------
# data loading
# ----------------------------------------------------------------------------------------------
@program
def dataloader_samplers_random_split_and_padding_collate_of_dicts(L):
    """A map-style dataset of variable-length sequences returned as dicts; random_split by
    fractions under a seeded generator; a SubsetRandomSampler and a RandomSampler with
    replacement drawing from their own generators; a BatchSampler given as batch_sampler;
    a collate_fn padding with pad_sequence and stacking lengths; default_collate on nested
    dicts, tuples and numpy arrays."""
    data = L.utils.data
    rng = np.random.RandomState(121)
    seqs = [rng.randn(rng.randint(1, 5), 2) for _ in range(10)]

    class Seqs(data.Dataset):
        def __len__(self):
            return len(seqs)

        def __getitem__(self, i):
            return {"x": L.tensor(seqs[i]), "y": i % 3, "len": len(seqs[i])}

    def pad_collate(batch):
        xs = [b["x"] for b in batch]
        return (L.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=-1.0),
                L.tensor([b["len"] for b in batch]), L.tensor([b["y"] for b in batch]))

    ds = Seqs()
    tr, va = data.random_split(ds, [0.6, 0.4], generator=L.Generator().manual_seed(5))
    out = [list(tr.indices), list(va.indices), len(tr), type(tr).__name__]
    sub = data.SubsetRandomSampler(list(range(0, 10, 2)), generator=L.Generator().manual_seed(6))
    loader = data.DataLoader(ds, batch_size=2, sampler=sub, collate_fn=pad_collate)
    out.append([(b[0], b[1], b[2]) for b in loader])
    rs = data.RandomSampler(ds, replacement=True, num_samples=7,
                            generator=L.Generator().manual_seed(7))
    out.append(list(rs))
    bs = data.BatchSampler(data.SequentialSampler(va), batch_size=3, drop_last=False)
    out.append([b[1].tolist() for b in data.DataLoader(va, batch_sampler=bs,
                                                         collate_fn=pad_collate)])
    out.append(len(data.DataLoader(ds, batch_size=4, drop_last=True)))
    batch = data.default_collate([
        {"a": (np.ones(2) * i, i), "b": {"c": float(i)}} for i in range(3)])
    out.append((batch["a"][0], batch["a"][1], batch["b"]["c"], type(batch["a"]).__name__))
    return out


# ----------------------------------------------------------------------------------------------
# operators, flows and autoregressive models
# ----------------------------------------------------------------------------------------------
@program
def fourier_neural_operator_spectral_conv2d_with_complex_weights(L):
    """An FNO layer: rfft2 of the field, the lowest modes in both corners of the first
    frequency axis mixed across channels by complex einsum weights (cfloat parameters scaled
    random draws), the rest zero, irfft2 back to the grid size, plus a 1x1 conv bypass and
    GELU; lifted by a linear layer from the field and grid coordinates; relative L2 loss;
    Adam steps on mixed real and complex parameters."""
    nn, F = L.nn, L.nn.functional

    class SpectralConv2d(nn.Module):
        def __init__(self, cin, cout, m1, m2):
            super().__init__()
            self.m1, self.m2, self.cout = m1, m2, cout
            scale = 1 / (cin * cout)
            self.w1 = nn.Parameter(scale * L.rand(cin, cout, m1, m2, dtype=L.cdouble))
            self.w2 = nn.Parameter(scale * L.rand(cin, cout, m1, m2, dtype=L.cdouble))

        def forward(self, x):
            B = x.shape[0]
            x_ft = L.fft.rfft2(x)
            out_ft = L.zeros(B, self.cout, x.size(-2), x.size(-1) // 2 + 1,
                             dtype=L.cdouble, device=x.device)
            out_ft[:, :, :self.m1, :self.m2] = L.einsum(
                "bixy,ioxy->boxy", x_ft[:, :, :self.m1, :self.m2], self.w1)
            out_ft[:, :, -self.m1:, :self.m2] = L.einsum(
                "bixy,ioxy->boxy", x_ft[:, :, -self.m1:, :self.m2], self.w2)
            return L.fft.irfft2(out_ft, s=(x.size(-2), x.size(-1)))

    class FNO(nn.Module):
        def __init__(self, width=4):
            super().__init__()
            self.lift = nn.Linear(3, width)
            self.spec = nn.ModuleList(SpectralConv2d(width, width, 2, 2) for _ in range(2))
            self.w = nn.ModuleList(nn.Conv2d(width, width, 1) for _ in range(2))
            self.proj = nn.Sequential(nn.Linear(width, 8), nn.GELU(), nn.Linear(8, 1))

        def forward(self, a):
            B, S1, S2, _ = a.shape
            gx = L.linspace(0, 1, S1, dtype=a.dtype).reshape(1, S1, 1, 1).repeat(B, 1, S2, 1)
            gy = L.linspace(0, 1, S2, dtype=a.dtype).reshape(1, 1, S2, 1).repeat(B, S1, 1, 1)
            x = self.lift(L.cat((a, gx, gy), dim=-1)).permute(0, 3, 1, 2)
            for k, (sc, w) in enumerate(zip(self.spec, self.w)):
                x = sc(x) + w(x)
                if k < len(self.spec) - 1:
                    x = F.gelu(x)
            return self.proj(x.permute(0, 2, 3, 1))

    L.manual_seed(131)
    model = FNO().double()
    a = L.tensor(normal64(2, 6, 7, 1, seed=132))
    u = L.tensor(normal64(2, 6, 7, 1, seed=133))
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        pred = model(a)
        diff = (pred - u).reshape(2, -1).norm(2, dim=1)
        loss = (diff / u.reshape(2, -1).norm(2, dim=1)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return losses, pred[0, :2, :2], model.spec[0].w1.grad[0, 0], model.spec[1].w2, \
        model.w[0].weight.grad.flatten()[:6], model.spec[0].w1.dtype


@program
def glow_actnorm_lu_decomposed_invertible_1x1_conv_and_affine_coupling(L):
    """A Glow step on a 4-channel map: ActNorm initialised from the first batch's statistics
    (a flag buffer), an invertible 1x1 convolution parametrised by the LU factors of a QR
    orthogonal matrix (permutation fixed, strictly triangular masks, signed exp diagonal),
    and an affine coupling with a sigmoid scale; the log-determinant summed per sample,
    the Gaussian prior's NLL in bits per dim, and the inverse pass reconstructing x."""
    nn, F = L.nn, L.nn.functional

    class ActNorm(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.loc = nn.Parameter(L.zeros(1, c, 1, 1))
            self.logs = nn.Parameter(L.zeros(1, c, 1, 1))
            self.register_buffer("inited", L.tensor(0, dtype=L.uint8))

        def forward(self, x):
            if self.inited.item() == 0:
                with L.no_grad():
                    mean = x.mean(dim=(0, 2, 3), keepdim=True)
                    std = x.std(dim=(0, 2, 3), keepdim=True)
                    self.loc.data.copy_(-mean)
                    self.logs.data.copy_(L.log(1 / (std + 1e-6)))
                    self.inited.fill_(1)
            y = (x + self.loc) * L.exp(self.logs)
            return y, x.shape[2] * x.shape[3] * self.logs.sum()

        def reverse(self, y):
            return y * L.exp(-self.logs) - self.loc

    class InvConvLU(nn.Module):
        def __init__(self, c):
            super().__init__()
            w = L.linalg.qr(L.randn(c, c, dtype=L.float64))[0]
            P, lower, upper = L.linalg.lu(w)
            s = L.diag(upper)
            self.register_buffer("P", P)
            self.register_buffer("sign_s", L.sign(s))
            self.register_buffer("l_mask", L.tril(L.ones(c, c), -1))
            self.register_buffer("eye", L.eye(c))
            self.lower = nn.Parameter(lower)
            self.log_s = nn.Parameter(L.log(L.abs(s)))
            self.upper = nn.Parameter(L.triu(upper, 1))

        def weight(self):
            lo = self.lower * self.l_mask + self.eye
            up = self.upper * self.l_mask.T + L.diag(self.sign_s * L.exp(self.log_s))
            return self.P @ lo @ up

        def forward(self, x):
            w = self.weight()
            return F.conv2d(x, w.unsqueeze(2).unsqueeze(3)), \
                x.shape[2] * x.shape[3] * self.log_s.sum()

        def reverse(self, y):
            return F.conv2d(y, self.weight().inverse().unsqueeze(2).unsqueeze(3))

    class Coupling(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.net = nn.Sequential(nn.Conv2d(c // 2, 8, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(8, c, 3, padding=1))

        def forward(self, x):
            xa, xb = x.chunk(2, 1)
            log_s, t = self.net(xa).chunk(2, 1)
            s = F.sigmoid(log_s + 2)
            return L.cat([xa, (xb + t) * s], 1), L.log(s).flatten(1).sum(1)

        def reverse(self, y):
            ya, yb = y.chunk(2, 1)
            log_s, t = self.net(ya).chunk(2, 1)
            return L.cat([ya, yb / F.sigmoid(log_s + 2) - t], 1)

    L.manual_seed(141)
    steps = nn.ModuleList([ActNorm(4), InvConvLU(4), Coupling(4)]).double()
    x = L.tensor(normal64(3, 4, 3, 3, seed=142))
    opt = L.optim.Adam(steps.parameters(), lr=1e-3)
    record = []
    for _ in range(2):
        h, logdet = x, L.zeros(3, dtype=L.float64)
        for m in steps:
            h, ld = m(h)
            logdet = logdet + ld
        prior = -0.5 * (h ** 2 + math.log(2 * math.pi))
        nll = -(prior.flatten(1).sum(1) + logdet)
        bpd = (nll / (math.log(2.0) * 36)).mean()
        opt.zero_grad()
        bpd.backward()
        opt.step()
        record += [bpd, logdet]
    with L.no_grad():
        back = h
        for m in reversed(steps):
            back = m.reverse(back)
    return record, (back - x).abs().max() < 1e-8, steps[1].P, steps[1].log_s.grad, \
        steps[1].lower.grad, steps[0].inited, steps[2].net[0].weight.grad[0, 0]


@program
def made_masked_autoencoder_with_shuffled_orderings_and_maf_log_density(L):
    """MADE: masked linear layers whose connectivity masks come from a numpy-drawn input
    ordering and hidden degrees, kept as buffers and multiplied into the weight in F.linear;
    a Bernoulli NLL by BCE with logits; then a Gaussian MADE used as one MAF layer, its
    log-density from the standard normal of u = (x - mu) exp(-alpha) minus the sum of alpha."""
    nn, F = L.nn, L.nn.functional

    class MaskedLinear(nn.Linear):
        def __init__(self, fin, fout):
            super().__init__(fin, fout)
            self.register_buffer("mask", L.ones(fout, fin))

        def set_mask(self, mask):
            self.mask.data.copy_(L.from_numpy(mask.astype(np.uint8).T))

        def forward(self, x):
            return F.linear(x, self.mask * self.weight, self.bias)

    class MADE(nn.Module):
        def __init__(self, nin, hidden, nout, seed):
            super().__init__()
            sizes = [nin] + hidden + [nout]
            layers = []
            for a, b in zip(sizes, sizes[1:]):
                layers += [MaskedLinear(a, b), nn.ReLU()]
            self.net = nn.Sequential(*layers[:-1])
            rng = np.random.RandomState(seed)
            m = {-1: rng.permutation(nin)}
            for l, h in enumerate(hidden):
                m[l] = rng.randint(m[l - 1].min(), nin - 1, size=h)
            masks = [m[l - 1][:, None] <= m[l][None, :] for l in range(len(hidden))]
            masks.append(m[len(hidden) - 1][:, None] < m[-1][None, :])
            if nout > nin:
                k = nout // nin
                masks[-1] = np.concatenate([masks[-1]] * k, axis=1)
            for lyr, mk in zip([x for x in self.net if isinstance(x, MaskedLinear)], masks):
                lyr.set_mask(mk)
            self.order = m[-1]

        def forward(self, x):
            return self.net(x)

    L.manual_seed(151)
    made = MADE(5, [12, 12], 5, seed=152).double()
    xb = L.tensor((np.random.RandomState(153).rand(8, 5) > 0.5).astype(np.float64))
    opt = L.optim.Adam(made.parameters(), lr=1e-2)
    record = []
    for _ in range(2):
        nll = F.binary_cross_entropy_with_logits(made(xb), xb, reduction="sum") / 8
        opt.zero_grad()
        nll.backward()
        opt.step()
        record.append(nll)
    # autoregressive property: output j depends only on inputs earlier in the ordering
    x = L.tensor(normal64(1, 5, seed=154), requires_grad=True)
    jac = L.stack([L.autograd.grad(made(x)[0, j], x)[0][0] for j in range(5)])
    gm = MADE(4, [10], 8, seed=155).double()
    xs = L.tensor(normal64(6, 4, seed=156))
    mu, alpha = gm(xs).chunk(2, dim=1)
    u = (xs - mu) * L.exp(-alpha)
    logp = (-0.5 * u ** 2 - 0.5 * math.log(2 * math.pi)).sum(1) - alpha.sum(1)
    (-logp.mean()).backward()
    return record, jac != 0, made.order.tolist(), logp, gm.net[0].weight.grad, \
        made.net[2].mask.sum(), made.net[0].mask.dtype


@program
def empirical_ntk_by_functional_call_jacrev_vmap_and_by_vjp_jvp_products(L):
    """The empirical neural tangent kernel of a small MLP two ways: per-input Jacobians with
    respect to the parameter dict (jacrev over functional_call, vmapped over the inputs with
    the parameters unbatched), contracted by einsum; and kernel-vector products by a vjp
    whose pullback is vmapped over the identity, pushed forward by jvp; the traces of both."""
    nn = L.nn
    func = L.func
    L.manual_seed(161)
    net = nn.Sequential(nn.Linear(3, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x1 = L.tensor(normal64(4, 3, seed=162))
    x2 = L.tensor(normal64(5, 3, seed=163))

    def f(p, x):
        return func.functional_call(net, p, (x.unsqueeze(0),)).squeeze(0)

    def ntk_jac(a, b):
        ja = func.vmap(func.jacrev(f), (None, 0))(params, a)
        jb = func.vmap(func.jacrev(f), (None, 0))(params, b)
        ja = [j.flatten(2) for j in ja.values()]
        jb = [j.flatten(2) for j in jb.values()]
        return sum(L.einsum("Naf,Mbf->NMab", p, q) for p, q in zip(ja, jb))

    def ntk_products(a, b):
        _, pull = func.vjp(lambda p: func.functional_call(net, p, (b,)), params)

        def push(v):
            cot = pull(v)[0]
            return func.jvp(lambda p: func.functional_call(net, p, (a,)), (params,), (cot,))[1]

        M, O = b.shape[0], 2
        basis = L.eye(M * O, dtype=L.float64).reshape(M * O, M, O)
        res = func.vmap(push)(basis).reshape(M, O, a.shape[0], O)
        return res.permute(2, 0, 3, 1)

    k1 = ntk_jac(x1, x2)
    k2 = ntk_jac(x1, x1)
    evals = L.linalg.eigvalsh(k2.permute(0, 2, 1, 3).reshape(8, 8))
    k3 = ntk_products(x1, x2)
    return k1, k1.shape, evals, L.einsum("NMaa->NM", k2), k3, (k3 - k1).abs().max() < 1e-10


@program
def pixelcnn_type_a_and_b_masked_convolutions_with_spatial_cross_entropy(L):
    """PixelCNN: Conv2d subclasses holding a causal mask buffer (type A hides the centre
    pixel, type B shows it) multiplied into weight.data before each call; gated residual
    layers; 4-level quantised pixels predicted by a cross entropy over (N, C, H, W) logits;
    then one row of greedy sampling by argmax at a given pixel."""
    nn, F = L.nn, L.nn.functional

    class MaskedConv2d(nn.Conv2d):
        # the taps a pixel may not see (rows below the centre; the centre row's taps right
        # of the centre, and for type A the centre too) zeroed in the weight before each call
        def __init__(self, mask_type, *args, **kwargs):
            super().__init__(*args, **kwargs)
            kh, kw = self.kernel_size
            row, col = L.arange(kh).view(kh, 1), L.arange(kw).view(1, kw)
            first_hidden = kw // 2 + (1 if mask_type == "B" else 0)
            hidden = (row > kh // 2) | ((row == kh // 2) & (col >= first_hidden))
            self.register_buffer("mask", (~hidden).to(self.weight.dtype).expand_as(
                self.weight).clone())

        def forward(self, x):
            with L.no_grad():
                self.weight.mul_(self.mask)
            return super().forward(x)

    levels = 4
    L.manual_seed(171)
    net = nn.Sequential(
        MaskedConv2d("A", 1, 8, 5, 1, 2, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
        MaskedConv2d("B", 8, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(True),
        nn.Conv2d(8, levels, 1)).double()
    q = np.random.RandomState(172).randint(0, levels, (3, 1, 6, 6))
    x = L.tensor(q / (levels - 1.0))
    target = L.tensor(q[:, 0])
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        logits = net(x)
        loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    net.eval()
    sample = L.zeros(1, 1, 6, 6, dtype=L.float64)
    with L.no_grad():
        for j in range(6):
            probs = F.softmax(net(sample)[:, :, 2, j], dim=1)
            sample[:, :, 2, j] = probs.argmax(1, keepdim=True).double() / (levels - 1)
    x1 = x[:1].clone().requires_grad_()
    net(x1)[0, :, 3, 3].sum().backward()
    return losses, net[0].mask[0, 0], net[3].weight.grad[0, 0], sample[0, 0, 2], \
        (x1.grad[0, 0] != 0).int()


@program
def finite_difference_calculus_with_gradient_diff_and_trapezoid(L):
    """Scientific post-processing written with torch's calculus helpers: torch.gradient with
    a scalar spacing, with coordinate tensors and edge_order=2 over two dims; torch.diff
    with prepend; trapezoid and cumulative_trapezoid against an analytic integral; a physics
    loss on the derivative of a network's output estimated by torch.gradient, backpropagated
    to the network."""
    nn = L.nn
    xs = L.linspace(0, 2 * math.pi, 41, dtype=L.float64)
    ys = L.sin(xs)
    d1, = L.gradient(ys, spacing=float(xs[1] - xs[0]))
    d2, = L.gradient(ys, spacing=(xs,), edge_order=2)
    grid_y = L.linspace(-1, 1, 9, dtype=L.float64)
    grid_x = L.tensor(np.sort(np.random.RandomState(181).rand(7)))
    field = L.outer(grid_y ** 2, L.exp(grid_x))
    gy, gx = L.gradient(field, spacing=(grid_y, grid_x), edge_order=2)
    g_dim1 = L.gradient(field, dim=1)
    area = L.trapezoid(ys.abs(), xs)
    cum = L.cumulative_trapezoid(L.cos(xs), x=xs)
    steps = L.diff(ys, n=2, prepend=ys[:1])

    L.manual_seed(182)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    t = L.linspace(0, 1, 21, dtype=L.float64)
    opt = L.optim.LBFGS(net.parameters(), lr=0.5, max_iter=5, history_size=3)

    def closure():
        opt.zero_grad()
        u = net(t[:, None]).squeeze(1)
        du, = L.gradient(u, spacing=(t,))
        loss = ((du + u) ** 2).mean() + (u[0] - 1.0) ** 2
        loss.backward()
        return loss

    first = opt.step(closure)
    last = closure()
    return d1[:5], (d2 - L.cos(xs)).abs().max(), gy[:, 3], gx[4], g_dim1[0][2], area, \
        cum[-5:], steps[:6], first, last, net[0].weight.grad


@program
def convlstm_encoder_forecaster_over_frames(L):
    """A ConvLSTM cell (one conv over the concatenated input and hidden map giving the four
    gates, split by torch.split), unrolled over input frames to encode, then run on its own
    predictions to forecast; hidden states initialised by new_zeros; MSE to the future
    frames; gradients clipped by value; RMSprop steps."""
    nn, F = L.nn, L.nn.functional

    class ConvLSTMCell(nn.Module):
        def __init__(self, cin, ch, k):
            super().__init__()
            self.ch = ch
            self.conv = nn.Conv2d(cin + ch, 4 * ch, k, padding=k // 2)

        def forward(self, x, state):
            h, c = state
            gates = self.conv(L.cat([x, h], dim=1))
            i, f, o, g = L.split(gates, self.ch, dim=1)
            c = L.sigmoid(f) * c + L.sigmoid(i) * L.tanh(g)
            h = L.sigmoid(o) * L.tanh(c)
            return h, c

        def init_state(self, x):
            b, _, hh, ww = x.shape
            return x.new_zeros(b, self.ch, hh, ww), x.new_zeros(b, self.ch, hh, ww)

    class Forecaster(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = ConvLSTMCell(1, 4, 3)
            self.dec = ConvLSTMCell(1, 4, 3)
            self.out = nn.Conv2d(4, 1, 1)

        def forward(self, frames, future):
            state = self.enc.init_state(frames[:, 0])
            for t in range(frames.shape[1]):
                state = self.enc(frames[:, t], state)
            prev, preds = frames[:, -1], []
            for _ in range(future):
                state = self.dec(prev, state)
                prev = L.sigmoid(self.out(state[0]))
                preds.append(prev)
            return L.stack(preds, dim=1)

    L.manual_seed(191)
    model = Forecaster().double()
    seq = L.tensor(np.random.RandomState(192).rand(2, 6, 1, 5, 5))
    opt = L.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.9, momentum=0.5, centered=True)
    losses = []
    for _ in range(3):
        pred = model(seq[:, :4], 2)
        loss = F.mse_loss(pred, seq[:, 4:])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), 0.05)
        opt.step()
        losses.append(loss)
    return losses, pred.shape, model.enc.conv.weight.grad[:2, :, 1, 1], \
        opt.state[model.out.weight]["grad_avg"], model.dec.conv.bias


@program
def tcn_with_weight_norm_parametrization_chomped_causal_dilated_convs(L):
    """A temporal convolutional network: Conv1d layers under the parametrizations
    weight_norm (original0 / original1 parameters), padded on both sides then chomped on the
    right so they stay causal, dilations doubling per level, dropout in eval, 1x1
    downsampling residuals; a sequence classifier on the last step; SGD steps."""
    nn, F = L.nn, L.nn.functional
    wn = nn.utils.parametrizations.weight_norm

    class Chomp(nn.Module):
        # causal: the padded convolution's last ``trim`` steps, which saw the future, cut off
        def __init__(self, trim):
            super().__init__()
            self.trim = trim

        def forward(self, x):
            return x.narrow(-1, 0, x.shape[-1] - self.trim).contiguous()

    class Block(nn.Module):
        def __init__(self, cin, cout, k, d):
            super().__init__()
            pad = (k - 1) * d
            self.net = nn.Sequential(
                wn(nn.Conv1d(cin, cout, k, padding=pad, dilation=d)), Chomp(pad), nn.ReLU(),
                nn.Dropout(0.2),
                wn(nn.Conv1d(cout, cout, k, padding=pad, dilation=d)), Chomp(pad), nn.ReLU(),
                nn.Dropout(0.2))
            self.down = nn.Conv1d(cin, cout, 1) if cin != cout else None
            for m in self.net:
                if isinstance(m, nn.Conv1d):
                    with nn.utils.parametrize.cached():
                        pass
            if self.down is not None:
                self.down.weight.data.normal_(0, 0.01)

        def forward(self, x):
            res = x if self.down is None else self.down(x)
            return F.relu(self.net(x) + res)

    L.manual_seed(201)
    blocks = [Block(2, 4, 3, 1), Block(4, 4, 3, 2), Block(4, 6, 3, 4)]
    tcn = nn.Sequential(*blocks).double()
    head = nn.Linear(6, 3).double()
    tcn.eval()
    x = L.tensor(normal64(3, 2, 10, seed=202))
    y = L.tensor(labels(3, 3, seed=203))
    opt = L.optim.SGD(list(tcn.parameters()) + list(head.parameters()), lr=0.1)
    names = [n for n, _ in tcn.named_parameters()][:4]
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(head(tcn(x)[:, :, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    # causality: the first output step depends on the first input step only
    xg = x[:1].clone().requires_grad_()
    tcn(xg)[0, :, 0].sum().backward()
    conv = tcn[0].net[0]
    return names, losses, (xg.grad[0] != 0).any(0), conv.weight, \
        conv.parametrizations.weight.original0.grad.flatten(), \
        type(conv.parametrizations.weight).__name__, nn.utils.parametrize.is_parametrized(conv)


@program
def magnitude_pruning_structured_unstructured_global_and_made_permanent(L):
    """Pruning a small CNN: l1_unstructured on a conv weight, ln_structured along output
    channels on another, global_unstructured by L1 over two linear weights, random pruning
    under a seed; weight_orig/weight_mask names, the forward pre-hooks, the sparsity; a
    fine-tuning step whose gradients reach weight_orig only where unmasked; then
    prune.remove making the zeros permanent."""
    nn, F = L.nn, L.nn.functional
    prune = importlib.import_module(L.__name__ + ".nn.utils.prune")
    L.manual_seed(211)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(6 * 2 * 2, 10), nn.ReLU(),
                        nn.Linear(10, 3)).double()
    prune.l1_unstructured(net[0], name="weight", amount=0.3)
    prune.ln_structured(net[2], name="weight", amount=0.5, n=2, dim=0)
    prune.global_unstructured([(net[5], "weight"), (net[7], "weight")],
                              pruning_method=prune.L1Unstructured, amount=12)
    prune.random_unstructured(net[5], name="bias", amount=2)
    info = [sorted(n for n, _ in net[0].named_parameters()),
            sorted(n for n, _ in net[0].named_buffers()),
            len(net[5]._forward_pre_hooks), prune.is_pruned(net), prune.is_pruned(nn.Linear(1, 1)),
            float((net[5].weight == 0).sum() + (net[7].weight == 0).sum()),
            net[2].weight_mask.sum(dim=(1, 2, 3)), net[5].bias_mask]
    x = L.tensor(normal64(4, 1, 6, 6, seed=212))
    y = L.tensor(labels(4, 3, seed=213))
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    loss = F.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    g = net[0].weight_orig.grad
    info.append(((g != 0) <= (net[0].weight_mask != 0)).all())
    for m in (net[0], net[2], net[5], net[7]):
        prune.remove(m, "weight")
    prune.remove(net[5], "bias")
    info += [sorted(n for n, _ in net[0].named_parameters()), len(net[5]._forward_pre_hooks),
             type(net[0].weight).__name__, (net[2].weight == 0).sum()]
    return info, loss, net[0].weight, net[5].bias


# ----------------------------------------------------------------------------------------------
# classic mistakes, as their tracebacks read
# ----------------------------------------------------------------------------------------------
@program
def ddpg_critic_stepped_before_the_actor_backward_hits_a_version_error(L):
    """The DDPG mistake: the actor's loss reads the critic; the critic's optimizer steps
    (its weights change in place) before the actor's backward, which then fails on the
    critic's saved transposed weight; the fix (actor first, or recomputing the critic's
    output) then trains; the Polyak update of target networks by lerp_ under no_grad."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(221)
    actor = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2), nn.Tanh()).double()
    critic = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    actor_t = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2), nn.Tanh()).double()
    critic_t = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1)).double()
    actor_t.load_state_dict(actor.state_dict())
    critic_t.load_state_dict(critic.state_dict())
    oa = L.optim.Adam(actor.parameters(), lr=1e-3)
    oc = L.optim.Adam(critic.parameters(), lr=1e-3)
    s = L.tensor(normal64(6, 3, seed=222))
    a = L.tensor(np.tanh(normal64(6, 2, seed=223)))
    r = L.tensor(normal64(6, 1, seed=224))
    s2 = L.tensor(normal64(6, 3, seed=225))
    done = L.tensor(np.array([[0.], [0], [1], [0], [0], [1]]))

    # the mistake
    actor_loss = -critic(L.cat([s, actor(s)], 1)).mean()
    with L.no_grad():
        y = r + 0.99 * (1 - done) * critic_t(L.cat([s2, actor_t(s2)], 1))
    critic_loss = F.mse_loss(critic(L.cat([s, a], 1)), y)
    oc.zero_grad()
    critic_loss.backward()
    oc.step()
    oa.zero_grad()
    mistake = err(lambda: actor_loss.backward())

    # the fix: the actor's loss built after the critic's step
    record = []
    for _ in range(2):
        with L.no_grad():
            y = r + 0.99 * (1 - done) * critic_t(L.cat([s2, actor_t(s2)], 1))
        critic_loss = F.mse_loss(critic(L.cat([s, a], 1)), y)
        oc.zero_grad()
        critic_loss.backward()
        oc.step()
        actor_loss = -critic(L.cat([s, actor(s)], 1)).mean()
        oa.zero_grad()
        actor_loss.backward()
        oa.step()
        with L.no_grad():
            for tgt, src in ((actor_t, actor), (critic_t, critic)):
                for pt, p in zip(tgt.parameters(), src.parameters()):
                    pt.lerp_(p, 0.05)
        record += [critic_loss, actor_loss]
    return mistake, record, actor_t[2].weight, critic[0].weight.grad[:, :2]


@program
def gan_discriminator_stepped_before_generator_backward_then_detached_fake(L):
    """The GAN mistake: the generator's loss shares the discriminator's forward on the fake
    batch; stepping the discriminator first makes the generator's backward fail on the
    changed weights of a 3-d linear input and a conv; then the usual recipe: fake.detach()
    for D's loss, a second D forward for G's loss, label smoothing on the real targets."""
    nn = L.nn
    L.manual_seed(231)
    G = nn.Sequential(nn.Linear(4, 12), nn.LeakyReLU(0.2), nn.Unflatten(1, (2, 6)),
                      nn.Linear(6, 6), nn.Tanh()).double()
    D = nn.Sequential(nn.Conv1d(2, 3, 3), nn.LeakyReLU(0.2), nn.Flatten(),
                      nn.Linear(12, 1)).double()
    oG = L.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    oD = L.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    z = L.tensor(normal64(5, 4, seed=232))
    real = L.tensor(np.tanh(normal64(5, 2, 6, seed=233)))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = L.full((5, 1), 0.9, dtype=L.float64), L.zeros(5, 1, dtype=L.float64)

    fake = G(z)
    d_fake = D(fake)
    loss_d = bce(D(real), ones) + bce(d_fake, zeros)
    loss_g = bce(d_fake, L.ones_like(d_fake))
    oD.zero_grad()
    loss_d.backward(retain_graph=True)
    oD.step()
    mistake = err(lambda: loss_g.backward())

    record = []
    for _ in range(2):
        fake = G(z)
        loss_d = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        oD.zero_grad()
        loss_d.backward()
        oD.step()
        loss_g = bce(D(fake), L.ones_like(ones))
        oG.zero_grad()
        loss_g.backward()
        oG.step()
        record += [loss_d, loss_g]
    return mistake, record, G[3].weight.grad, D[0].weight.grad[0], fake.shape


# ----------------------------------------------------------------------------------------------
# classic vision and metric learning
# ----------------------------------------------------------------------------------------------
@program
def spp_net_multilabel_heads_with_margin_and_soft_margin_losses(L):
    """A spatial pyramid pooling head (adaptive max pools at 1, 2 and 4 bins flattened and
    concatenated) after convs with Softsign and Tanhshrink activations, taking two input
    sizes to one feature width; multi-label targets as index lists ending in -1 for
    MultiLabelMarginLoss and as 0/1 rows for MultiLabelSoftMarginLoss with class weights."""
    nn, F = L.nn, L.nn.functional

    class SPP(nn.Module):
        def __init__(self, levels=(1, 2, 4)):
            super().__init__()
            self.levels = levels

        def forward(self, x):
            return L.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.levels], 1)

    L.manual_seed(241)
    body = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.Softsign(),
                         nn.Conv2d(4, 4, 3, padding=1), nn.Tanhshrink(), SPP())
    head = nn.Linear(4 * 21, 5)
    model = nn.Sequential(body, head).double()
    xa = L.tensor(normal64(3, 2, 8, 8, seed=242))
    xb = L.tensor(normal64(3, 2, 5, 11, seed=243))
    idx = L.tensor([[0, 3, -1, 0, 0], [1, 2, 4, -1, 0], [4, -1, 2, 2, 2]])
    onehot = L.zeros(3, 5, dtype=L.float64)
    for r, row in enumerate(idx.tolist()):
        for c in row:
            if c < 0:
                break
            onehot[r, c] = 1.0
    margin = nn.MultiLabelMarginLoss()
    soft = nn.MultiLabelSoftMarginLoss(weight=L.tensor([1.0, 2, 1, 1, 0.5], dtype=L.float64))
    opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    record = []
    for x in (xa, xb, xa):
        out = model(x)
        loss = margin(out, idx) + soft(out, onehot)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record += [out.shape, loss]
    return record, onehot, F.multilabel_margin_loss(out, idx, reduction="none"), \
        head.weight.grad[:, :4], body[0].bias.grad


@program
def triplet_loss_with_batch_hard_mining_by_cdist_masks(L):
    """Metric learning with batch-hard triplets: pairwise Euclidean distances by cdist over
    L2-normalised embeddings, the hardest positive by masked max and the hardest negative by
    a max-filled min, a soft-margin (softplus) triplet loss beside nn.TripletMarginLoss on
    the mined indices; Adam steps; the fraction of active triplets."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(251)
    net = nn.Sequential(nn.Linear(6, 16), nn.PReLU(), nn.Linear(16, 4)).double()
    x = L.tensor(normal64(12, 6, seed=252))
    y = L.tensor(np.repeat(np.arange(4), 3))
    opt = L.optim.Adam(net.parameters(), lr=1e-2)
    trip = nn.TripletMarginLoss(margin=0.3, p=2, swap=True)
    record = []
    for _ in range(3):
        emb = F.normalize(net(x), dim=1)
        dist = L.cdist(emb, emb, p=2.0)
        same = y[:, None] == y[None, :]
        eye = L.eye(len(y), dtype=L.bool)
        pos_mask = same & ~eye
        hardest_pos, pos_idx = (dist * pos_mask).max(dim=1)
        max_d = dist.max(dim=1, keepdim=True).values
        hardest_neg, neg_idx = (dist + max_d * same).min(dim=1)
        soft = F.softplus(hardest_pos - hardest_neg).mean()
        hard = trip(emb, emb[pos_idx], emb[neg_idx])
        loss = soft + hard
        opt.zero_grad()
        loss.backward()
        opt.step()
        record += [soft, hard, (hardest_pos - hardest_neg + 0.3 > 0).float().mean()]
    return record, pos_idx, neg_idx, net[1].weight.grad, net[0].weight.grad[:2]


@program
def knowledge_distillation_with_temperature_and_log_target_kl(L):
    """Distilling a frozen teacher into a student: KLDivLoss(batchmean, log_target=True)
    between temperature-softened log-probabilities scaled by T squared, mixed with the hard
    cross entropy; the teacher in eval mode under no_grad (its dropout off), the student's
    dropout on under a seed; the same KL by F.kl_div with probabilities as target."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(261)
    teacher = nn.Sequential(nn.Linear(5, 32), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(32, 4)).double().eval()
    student = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Dropout(0.1),
                            nn.Linear(8, 4)).double()
    kd = nn.KLDivLoss(reduction="batchmean", log_target=True)
    x = L.tensor(normal64(10, 5, seed=262))
    y = L.tensor(labels(10, 4, seed=263))
    opt = L.optim.SGD(student.parameters(), lr=0.1, momentum=0.9)
    T, alpha = 4.0, 0.7
    record = []
    L.manual_seed(264)
    for _ in range(3):
        with L.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        soft = kd(F.log_softmax(s_logits / T, dim=1), F.log_softmax(t_logits / T, dim=1))
        same = F.kl_div(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1),
                        reduction="batchmean")
        loss = alpha * T * T * soft + (1 - alpha) * F.cross_entropy(s_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record += [soft, same, loss]
    return record, student[0].weight.grad, teacher.training, student.training


@program
def center_loss_with_its_own_optimizer_for_the_class_centers(L):
    """Center loss beside softmax cross entropy: class centres as a parameter of the loss
    module, the squared distances by addmm_ of -2 x c^T onto the expanded norms (the
    original code's in-place form), clamped and masked to the true class; the centres'
    gradient rescaled by 1/lambda before their own SGD step, as the recipe does."""
    nn, F = L.nn, L.nn.functional

    class CenterLoss(nn.Module):
        def __init__(self, n_cls, d):
            super().__init__()
            self.n_cls = n_cls
            self.centers = nn.Parameter(L.randn(n_cls, d, dtype=L.float64))

        def forward(self, x, labels):
            b = x.size(0)
            distmat = L.pow(x, 2).sum(dim=1, keepdim=True).expand(b, self.n_cls) + \
                L.pow(self.centers, 2).sum(dim=1, keepdim=True).expand(self.n_cls, b).t()
            distmat.addmm_(x, self.centers.t(), beta=1, alpha=-2)
            classes = L.arange(self.n_cls).long()
            mask = labels.unsqueeze(1).expand(b, self.n_cls).eq(classes.expand(b, self.n_cls))
            dist = distmat * mask.double()
            return dist.clamp(min=1e-12, max=1e12).sum() / b

    L.manual_seed(271)
    feat = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)).double()
    cls = nn.Linear(2, 3).double()
    closs = CenterLoss(3, 2)
    opt = L.optim.SGD(list(feat.parameters()) + list(cls.parameters()), lr=0.05,
                      weight_decay=5e-4, momentum=0.9)
    opt_c = L.optim.SGD(closs.parameters(), lr=0.5)
    x = L.tensor(normal64(9, 4, seed=272))
    y = L.tensor(labels(9, 3, seed=273))
    lam = 0.1
    record = []
    for _ in range(3):
        f = feat(x)
        c = closs(f, y)
        loss = F.cross_entropy(cls(f), y) + lam * c
        opt.zero_grad()
        opt_c.zero_grad()
        loss.backward()
        opt.step()
        for p in closs.parameters():
            p.grad.data *= 1.0 / lam
        opt_c.step()
        record += [c, loss]
    return record, closs.centers, feat[2].weight.grad


# ----------------------------------------------------------------------------------------------
# clustering, transport and kernels
# ----------------------------------------------------------------------------------------------
@program
def kmeans_by_cdist_and_index_add_then_gmm_em_with_normal_log_probs(L):
    """K-means on two-dimensional blobs (nearest centre by cdist argmin, sums by index_add_,
    counts by bincount, the same means by scatter_reduce 'mean' without self), its centres
    seeding a diagonal Gaussian mixture fitted by EM (responsibilities from Normal log-probs
    and logsumexp, weighted moments by matmuls); the mixture's log-likelihood per step."""
    rng = np.random.RandomState(281)
    X = L.tensor(np.concatenate([rng.randn(10, 2) * 0.4 + c
                                 for c in ([0, 0], [3, 1], [0, 3])]))
    cent = X[L.tensor([0, 10, 20])].clone()
    for _ in range(5):
        assign = L.cdist(X, cent).argmin(dim=1)
        sums = L.zeros_like(cent).index_add_(0, assign, X)
        counts = L.bincount(assign, minlength=3).clamp(min=1)
        cent = sums / counts[:, None].to(X.dtype)
    means2 = L.zeros_like(cent).scatter_reduce(0, assign[:, None].expand(-1, 2), X, "mean",
                                               include_self=False)
    mu, var = cent.clone(), L.ones_like(cent)
    pi = L.full((3,), 1.0 / 3, dtype=X.dtype)
    lls = []
    for _ in range(4):
        comp = L.distributions.Normal(mu[None], var[None].sqrt())
        lp = comp.log_prob(X[:, None, :]).sum(-1) + pi.log()
        ll = lp.logsumexp(dim=1)
        lls.append(ll.mean())
        r = (lp - ll[:, None]).exp()
        nk = r.sum(0)
        mu = (r.T @ X) / nk[:, None]
        var = (r.T @ (X ** 2)) / nk[:, None] - mu ** 2 + 1e-6
        pi = nk / nk.sum()
    return cent, means2, assign, counts, lls, mu, var, pi


@program
def sinkhorn_log_domain_optimal_transport_loss_between_point_clouds(L):
    """Entropic optimal transport between two learned point clouds: squared-distance cost
    by cdist, Sinkhorn iterations in the log domain (logsumexp over the dual potentials),
    the plan's marginals, the transport cost backpropagated into both clouds through all
    iterations, and gradient steps moving the source cloud."""
    src = L.tensor(normal64(6, 2, seed=291), requires_grad=True)
    tgt = L.tensor(normal64(5, 2, seed=292) + 1.0, requires_grad=True)
    a = L.full((6,), 1 / 6, dtype=L.float64)
    b = L.full((5,), 1 / 5, dtype=L.float64)
    eps = 0.2

    def sinkhorn(x, y, iters=30):
        C = L.cdist(x, y) ** 2
        f = L.zeros(x.shape[0], dtype=x.dtype)
        g = L.zeros(y.shape[0], dtype=x.dtype)
        for _ in range(iters):
            f = -eps * L.logsumexp((g[None, :] - C) / eps + b.log()[None, :], dim=1)
            g = -eps * L.logsumexp((f[:, None] - C) / eps + a.log()[:, None], dim=0)
        P = L.exp((f[:, None] + g[None, :] - C) / eps) * a[:, None] * b[None, :]
        return (P * C).sum(), P

    cost, P = sinkhorn(src, tgt)
    cost.backward()
    first = [cost, P.sum(1), P.sum(0), src.grad.clone(), tgt.grad]
    opt = L.optim.SGD([src], lr=0.5)
    costs = []
    for _ in range(3):
        opt.zero_grad()
        c, _ = sinkhorn(src, tgt.detach())
        c.backward()
        opt.step()
        costs.append(c)
    return first, costs, src


@program
def gaussian_process_marginal_likelihood_by_cholesky_and_lu_predictions(L):
    """GP regression with an RBF kernel on learnable log length-scale, log signal and log
    noise: the negative log marginal likelihood from a Cholesky factor and two triangular
    solves, minimised by Adam; predictive means and variances at test points by
    cholesky_solve, checked against an LU factorisation's solve of the same system."""
    X = L.tensor(np.linspace(-2, 2, 9)[:, None])
    y = L.tensor(np.sin(2 * np.linspace(-2, 2, 9)) + 0.1 * normal64(9, seed=301))
    Xs = L.tensor(np.array([[-1.5], [0.1], [1.7]]))
    log_l = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_s = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_n = L.tensor(-1.0, dtype=L.float64, requires_grad=True)

    def rbf(A, B):
        return log_s.exp() ** 2 * L.exp(-0.5 * L.cdist(A, B) ** 2 / log_l.exp() ** 2)

    opt = L.optim.Adam([log_l, log_s, log_n], lr=0.05)
    nlls = []
    for _ in range(4):
        K = rbf(X, X) + (log_n.exp() ** 2 + 1e-6) * L.eye(9, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        alpha = L.linalg.solve_triangular(
            Lc.mT, L.linalg.solve_triangular(Lc, y[:, None], upper=False), upper=True)
        nll = 0.5 * (y[:, None] * alpha).sum() + L.log(L.diagonal(Lc)).sum() + \
            4.5 * math.log(2 * math.pi)
        opt.zero_grad()
        nll.backward()
        opt.step()
        nlls.append(nll)
    with L.no_grad():
        K = rbf(X, X) + (log_n.exp() ** 2 + 1e-6) * L.eye(9, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        Ks = rbf(X, Xs)
        mean = Ks.T @ L.cholesky_solve(y[:, None], Lc)
        var = rbf(Xs, Xs).diagonal() - (Ks * L.cholesky_solve(Ks, Lc)).sum(0)
        LU, piv = L.linalg.lu_factor(K)
        mean_lu = Ks.T @ L.linalg.lu_solve(LU, piv, y[:, None])
    return nlls, log_l.grad, log_n, mean, var, (mean - mean_lu).abs().max() < 1e-8


# ----------------------------------------------------------------------------------------------
# optimizer wrappers and training tricks
# ----------------------------------------------------------------------------------------------
@program
def sam_and_lookahead_written_as_optimizer_subclasses(L):
    """Sharpness-aware minimisation as an Optimizer subclass wrapping SGD over the same
    param_groups (a first step to the worst-case point e_w = rho g / ||g||, recorded in
    state, a second step back and the base step), and Lookahead wrapping Adam (slow weights
    in state, pulled toward the fast ones every k steps; written without Optimizer.__init__
    its first step fails after a zero_grad(), as in PyTorch 2); state dicts of both."""
    nn, F = L.nn, L.nn.functional

    class SAM(L.optim.Optimizer):
        def __init__(self, params, base, rho=0.05, **kw):
            super().__init__(params, dict(rho=rho, **kw))
            self.base = base(self.param_groups, **kw)
            self.param_groups = self.base.param_groups

        @L.no_grad()
        def first_step(self):
            norm = L.norm(L.stack([p.grad.norm(p=2) for g in self.param_groups
                                   for p in g["params"] if p.grad is not None]), p=2)
            for g in self.param_groups:
                scale = g["rho"] / (norm + 1e-12)
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    e_w = p.grad * scale
                    p.add_(e_w)
                    self.state[p]["e_w"] = e_w

        @L.no_grad()
        def second_step(self):
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is not None:
                        p.sub_(self.state[p]["e_w"])
            self.base.step()

    class Lookahead(L.optim.Optimizer):
        def __init__(self, inner, k=2, alpha=0.5):
            self.inner, self.k, self.alpha = inner, k, alpha
            self.param_groups = inner.param_groups
            self.defaults = inner.defaults
            self.state = collections.defaultdict(dict)
            self.count = 0
            for g in self.param_groups:
                for p in g["params"]:
                    self.state[p]["slow"] = p.detach().clone()

        @L.no_grad()
        def step(self, closure=None):
            loss = self.inner.step(closure)
            self.count += 1
            if self.count % self.k == 0:
                for g in self.param_groups:
                    for p in g["params"]:
                        slow = self.state[p]["slow"]
                        slow.add_(p - slow, alpha=self.alpha)
                        p.copy_(slow)
            return loss

    x = L.tensor(normal64(8, 3, seed=311))
    y = L.tensor(labels(8, 2, seed=312))

    def make():
        L.manual_seed(313)
        return nn.Sequential(nn.Linear(3, 6), nn.ReLU(), nn.Linear(6, 2)).double()

    net = make()
    sam = SAM(net.parameters(), L.optim.SGD, rho=0.1, lr=0.1, momentum=0.9)
    record = []
    for _ in range(2):
        F.cross_entropy(net(x), y).backward()
        sam.first_step()
        sam.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        sam.second_step()
        sam.zero_grad()
        record.append(loss)
    # the popular Lookahead that skips Optimizer.__init__: zero_grad() turns on its class's
    # step hooks, and its first step fails for want of the hook dicts
    net2 = make()
    naive = Lookahead(L.optim.Adam(net2.parameters(), lr=0.05), k=2, alpha=0.5)
    naive.zero_grad()
    F.cross_entropy(net2(x), y).backward()
    record.append(err(naive.step))

    class FixedLookahead(Lookahead):
        def __init__(self, inner, k=2, alpha=0.5):
            L.optim.Optimizer.__init__(self, inner.param_groups, inner.defaults)
            super().__init__(inner, k, alpha)

    la = FixedLookahead(L.optim.Adam(net2.parameters(), lr=0.05), k=2, alpha=0.5)
    for _ in range(3):
        la.zero_grad()
        loss = F.cross_entropy(net2(x), y)
        loss.backward()
        la.step()
        record.append(loss)
    return record, dict(net.named_parameters()), net2[2].weight, \
        sorted(sam.state_dict()["param_groups"][0]), sam.base.state[net[0].bias]


@program
def optimizer_step_inside_backward_by_post_accumulate_grad_hooks(L):
    """The memory-saving recipe of one optimizer per parameter stepped from a
    post-accumulate-grad hook (the gradient freed right after), compared with an ordinary
    Adam over the same model; the hook sees the accumulated .grad; grads are None after."""
    nn, F = L.nn, L.nn.functional

    def make():
        L.manual_seed(321)
        return nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.LayerNorm(8),
                             nn.Linear(8, 2)).double()

    x = L.tensor(normal64(6, 4, seed=322))
    y = L.tensor(normal64(6, 2, seed=323))
    a = make()
    opts = {p: L.optim.Adam([p], lr=1e-2, weight_decay=0.01) for p in a.parameters()}
    seen = []

    def hook(p):
        seen.append(float(p.grad.abs().sum()))
        opts[p].step()
        opts[p].zero_grad()

    handles = [p.register_post_accumulate_grad_hook(hook) for p in a.parameters()]
    b = make()
    ob = L.optim.Adam(b.parameters(), lr=1e-2, weight_decay=0.01)
    losses = []
    for _ in range(3):
        la = F.mse_loss(a(x), y)
        la.backward()
        lb = F.mse_loss(b(x), y)
        ob.zero_grad()
        lb.backward()
        ob.step()
        losses.append((la, lb))
    for h in handles:
        h.remove()
    return losses, len(seen), [p.grad is None for p in a.parameters()], \
        dict(a.named_parameters()), dict(b.named_parameters())


@program
def elastic_weight_consolidation_with_diagonal_fisher_from_sampled_labels(L):
    """EWC between two tasks: after task A, the diagonal Fisher from squared gradients of the
    log-likelihood of labels drawn from the model's own predictive distribution (seeded),
    one sample at a time; the anchor weights kept by clone().detach(); task B trained with
    the quadratic penalty sum F (theta - theta*)^2."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(331)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    xa, ya = L.tensor(normal64(8, 3, seed=332)), L.tensor(labels(8, 3, seed=333))
    xb, yb = L.tensor(normal64(8, 3, seed=334) + 1), L.tensor(labels(8, 3, seed=335))
    opt = L.optim.SGD(net.parameters(), lr=0.2)
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(net(xa), ya).backward()
        opt.step()
    fisher = {n: L.zeros_like(p) for n, p in net.named_parameters()}
    L.manual_seed(336)
    for i in range(xa.shape[0]):
        net.zero_grad()
        logp = F.log_softmax(net(xa[i:i + 1]), dim=1)
        lbl = L.multinomial(logp.exp().detach(), 1).squeeze(1)
        F.nll_loss(logp, lbl).backward()
        for n, p in net.named_parameters():
            fisher[n] += p.grad.detach() ** 2 / xa.shape[0]
    anchor = {n: p.clone().detach() for n, p in net.named_parameters()}
    record = []
    for _ in range(3):
        opt.zero_grad()
        task = F.cross_entropy(net(xb), yb)
        penalty = sum((fisher[n] * (p - anchor[n]) ** 2).sum()
                      for n, p in net.named_parameters())
        (task + 50.0 * penalty).backward()
        opt.step()
        record += [task, penalty]
    return record, fisher["2.weight"], net[0].weight.grad, lbl


@program
def reptile_meta_learning_on_sine_tasks_with_deepcopy_inner_loops(L):
    """Reptile: for each numpy-drawn sine task, a deep copy of the model trained by a few
    inner SGD steps, then the meta-parameters moved toward the adapted ones by
    p.data.add_(q.data - p.data, alpha=eps) with a linearly decaying outer step size."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(341)
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    rng = np.random.RandomState(342)
    record = []
    for it in range(3):
        amp, phase = rng.uniform(0.5, 2.0), rng.uniform(0, math.pi)
        xs = L.tensor(rng.uniform(-3, 3, (10, 1)))
        ys = amp * L.sin(xs + phase)
        fast = copy.deepcopy(model)
        inner = L.optim.SGD(fast.parameters(), lr=0.02)
        for _ in range(3):
            inner.zero_grad()
            loss = F.mse_loss(fast(xs), ys)
            loss.backward()
            inner.step()
        eps = 0.5 * (1 - it / 3)
        for p, q in zip(model.parameters(), fast.parameters()):
            p.data.add_(q.data - p.data, alpha=eps)
        record.append(loss)
    return record, dict(model.named_parameters()), fast[0].weight.grad is not None


@program
def switch_transformer_top1_routing_with_capacity_and_load_balancing(L):
    """A switch mixture-of-experts layer: a router's softmax, top-1 experts by argmax,
    positions within each expert by a cumulative sum of one-hot assignments, tokens past the
    capacity dropped (their output the residual), expert MLPs run on gathered tokens and
    scattered back with index_copy, outputs scaled by the gate; the auxiliary load-balancing
    loss (fraction routed times mean probability) and the router z-loss."""
    nn, F = L.nn, L.nn.functional
    E, D, T = 3, 6, 10

    class Switch(nn.Module):
        def __init__(self):
            super().__init__()
            self.router = nn.Linear(D, E, bias=False)
            self.experts = nn.ModuleList(nn.Sequential(nn.Linear(D, 12), nn.ReLU(),
                                                       nn.Linear(12, D)) for _ in range(E))

        def forward(self, x, capacity_factor=1.0):
            logits = self.router(x)
            probs = F.softmax(logits, dim=-1)
            gate, expert = probs.max(dim=-1)
            onehot = F.one_hot(expert, E)
            pos = (L.cumsum(onehot, dim=0) * onehot).sum(-1) - 1
            cap = int(capacity_factor * x.shape[0] / E)
            keep = pos < cap
            out = x.clone()
            for e in range(E):
                idx = L.nonzero((expert == e) & keep).squeeze(1)
                if idx.numel():
                    y = self.experts[e](x[idx]) * gate[idx, None]
                    out = out.index_copy(0, idx, y)
            frac = onehot.double().mean(0)
            aux = E * (frac * probs.mean(0)).sum()
            z = L.logsumexp(logits, dim=-1).pow(2).mean()
            return out, aux, z, keep, expert

    L.manual_seed(351)
    layer = Switch().double()
    x = L.tensor(normal64(T, D, seed=352))
    target = L.tensor(normal64(T, D, seed=353))
    opt = L.optim.Adam(layer.parameters(), lr=1e-2)
    record = []
    for cf in (1.0, 1.5):
        out, aux, z, keep, expert = layer(x, cf)
        loss = F.mse_loss(out, target) + 0.01 * aux + 1e-3 * z
        opt.zero_grad()
        loss.backward()
        opt.step()
        record += [loss, aux, z, keep, expert]
    return record, layer.router.weight.grad, [e[0].weight.grad is None for e in layer.experts]


# ----------------------------------------------------------------------------------------------
# attribution, anomaly detection and efficient attention
# ----------------------------------------------------------------------------------------------
@program
def integrated_gradients_and_smoothgrad_saliency_of_a_small_cnn(L):
    """Attribution of a CNN's class score: integrated gradients along the straight path from
    a black baseline (a batch of scaled inputs, one autograd.grad call, trapezoid rule over
    the steps), the completeness gap; SmoothGrad by numpy noise around the input; a saliency
    map as the max over channels of |grad|."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(361)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 3 * 3, 3)).double().eval()
    x = L.tensor(np.random.RandomState(362).rand(1, 3, 6, 6))
    baseline = L.zeros_like(x)
    target = int(net(x).argmax(1))
    steps = 8
    alphas = L.linspace(0, 1, steps + 1, dtype=L.float64).view(-1, 1, 1, 1)
    path = (baseline + alphas * (x - baseline)).requires_grad_()
    scores = F.softmax(net(path), dim=1)[:, target]
    grads, = L.autograd.grad(scores.sum(), path)
    avg = L.trapezoid(grads, dx=1.0 / steps, dim=0)
    ig = (x - baseline)[0] * avg
    gap = ig.sum() - (scores[-1] - scores[0])
    noise = L.tensor(np.random.RandomState(363).randn(5, 3, 6, 6) * 0.1)
    noisy = (x + noise).requires_grad_()
    out = net(noisy)[:, target].sum()
    out.backward()
    smooth = noisy.grad.mean(0)
    xs = x.clone().requires_grad_()
    net(xs)[0, target].backward()
    saliency = xs.grad.abs().amax(dim=1)[0]
    return target, ig.sum(dim=0), gap, smooth[0], saliency


@program
def deep_svdd_one_class_center_from_a_forward_pass_and_soft_boundary(L):
    """Deep SVDD: a bias-free encoder, the hypersphere centre as the mean of a first pass
    under no_grad with near-zero coordinates pushed to +-eps by where, the one-class loss as
    the mean squared distance, then the soft-boundary variant whose radius is the
    (1 - nu) quantile of the distances (linear interpolation), and anomaly scores."""
    nn = L.nn
    L.manual_seed(371)
    enc = nn.Sequential(nn.Linear(4, 8, bias=False), nn.LeakyReLU(0.1),
                        nn.Linear(8, 3, bias=False)).double()
    x = L.tensor(normal64(12, 4, seed=372))
    with L.no_grad():
        c = enc(x).mean(0)
        eps = 0.1
        c[(abs(c) < eps) & (c < 0)] = -eps
        c[(abs(c) < eps) & (c > 0)] = eps
    opt = L.optim.Adam(enc.parameters(), lr=1e-3, weight_decay=1e-6, amsgrad=True)
    record = []
    for _ in range(2):
        dist = ((enc(x) - c) ** 2).sum(dim=1)
        loss = dist.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        record.append(loss)
    nu = 0.1
    R = L.tensor(0.0, dtype=L.float64)
    for _ in range(2):
        dist = ((enc(x) - c) ** 2).sum(dim=1)
        scores = dist - R ** 2
        loss = R ** 2 + (1 / nu) * L.mean(L.max(L.zeros_like(scores), scores))
        opt.zero_grad()
        loss.backward()
        opt.step()
        R = L.tensor(np.sqrt(np.quantile(dist.detach().numpy(), 1 - nu)))
        record += [loss, R, L.quantile(dist.detach().sqrt(), 1 - nu)]
    test = L.tensor(normal64(3, 4, seed=373) * 3)
    with L.no_grad():
        anomaly = ((enc(test) - c) ** 2).sum(1) - R ** 2
    return c, record, anomaly, enc[0].weight.grad


@program
def reformer_lsh_bucketing_sorted_chunk_attention_and_unsort(L):
    """Reformer's LSH attention on shared query-keys: buckets from random rotations (argmax
    over the rotated vectors and their negations), tokens stably sorted by bucket then
    position, attention within fixed chunks and the one before (a look-back by roll), a
    mask for each token's own key, then the outputs scattered back to the original order by
    the inverse permutation; gradients to the projection."""
    nn, F = L.nn, L.nn.functional
    B, T, D, n_buckets, chunk = 2, 12, 8, 4, 4
    L.manual_seed(381)
    proj = nn.Linear(D, D, bias=False).double()
    vproj = nn.Linear(D, D, bias=False).double()
    x = L.tensor(normal64(B, T, D, seed=382))
    R = L.tensor(normal64(D, n_buckets // 2, seed=383))
    qk = proj(x)
    v = vproj(x)
    rotated = L.einsum("btd,dr->btr", F.normalize(qk, dim=-1), R)
    buckets = L.cat([rotated, -rotated], dim=-1).argmax(dim=-1)
    ticker = L.arange(T).expand(B, T)
    keys = buckets * T + ticker
    _, order = keys.sort(dim=-1, stable=True)
    undo = order.argsort(dim=-1)
    gather = order.unsqueeze(-1).expand(-1, -1, D)
    sqk, sv, spos = qk.gather(1, gather), v.gather(1, gather), ticker.gather(1, order)
    n = T // chunk
    cq = sqk.reshape(B, n, chunk, D)
    ck = F.normalize(cq, dim=-1)
    cv = sv.reshape(B, n, chunk, D)
    cpos = spos.reshape(B, n, chunk)
    k2 = L.cat([ck, ck.roll(1, dims=1)], dim=2)
    v2 = L.cat([cv, cv.roll(1, dims=1)], dim=2)
    p2 = L.cat([cpos, cpos.roll(1, dims=1)], dim=2)
    dots = L.einsum("bncd,bnkd->bnck", cq, k2) / math.sqrt(D)
    dots = dots.masked_fill(cpos.unsqueeze(-1) == p2.unsqueeze(-2), -1e5)
    attn = dots.softmax(dim=-1)
    out_sorted = L.einsum("bnck,bnkd->bncd", attn, v2).reshape(B, T, D)
    out = out_sorted.gather(1, undo.unsqueeze(-1).expand(-1, -1, D))
    out.pow(2).mean().backward()
    return buckets, order, out, proj.weight.grad, vproj.weight.grad


@program
def neumf_recommender_with_negative_sampling_and_hit_rate_at_k(L):
    """NeuMF: a generalised matrix factorisation path (elementwise product of user and item
    embeddings) and an MLP path (concatenated embeddings) fused by a final linear layer;
    trained by BCE with logits on positives and numpy-sampled negatives; evaluated by hit
    rate and NDCG at k from topk over each user's scored candidates."""
    nn, F = L.nn, L.nn.functional
    U, I, d = 5, 12, 4

    class NeuMF(nn.Module):
        def __init__(self):
            super().__init__()
            self.ug, self.ig = nn.Embedding(U, d), nn.Embedding(I, d)
            self.um, self.im = nn.Embedding(U, d), nn.Embedding(I, d)
            self.mlp = nn.Sequential(nn.Linear(2 * d, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())
            self.out = nn.Linear(d + 4, 1)
            for e in (self.ug, self.ig, self.um, self.im):
                nn.init.normal_(e.weight, std=0.1)

        def forward(self, u, i):
            g = self.ug(u) * self.ig(i)
            m = self.mlp(L.cat([self.um(u), self.im(i)], dim=-1))
            return self.out(L.cat([g, m], dim=-1)).squeeze(-1)

    L.manual_seed(391)
    model = NeuMF().double()
    rng = np.random.RandomState(392)
    pos_u = np.repeat(np.arange(U), 2)
    pos_i = rng.randint(0, I, len(pos_u))
    neg_u = np.repeat(pos_u, 3)
    neg_i = rng.randint(0, I, len(neg_u))
    u = L.tensor(np.concatenate([pos_u, neg_u]))
    i = L.tensor(np.concatenate([pos_i, neg_i]))
    y = L.cat([L.ones(len(pos_u), dtype=L.float64), L.zeros(len(neg_u), dtype=L.float64)])
    opt = L.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(3):
        loss = F.binary_cross_entropy_with_logits(model(u, i), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    with L.no_grad():
        # the held-out item and five distinct others (no tied scores for topk to order)
        cand = L.tensor(np.stack([np.concatenate([[pos_i[2 * k]], rng.choice(
            np.setdiff1d(np.arange(I), [pos_i[2 * k]]), 5, replace=False)])
            for k in range(U)]))
        scores = model(L.arange(U)[:, None].expand(-1, 6), cand)
        _, top = scores.topk(3, dim=1)
        hit = (top == 0).any(dim=1).double()
        rank = (top == 0).double().argmax(dim=1)
        ndcg = L.where(hit.bool(), 1.0 / L.log2(rank.double() + 2), L.zeros_like(hit))
    return losses, scores, top, hit.mean(), ndcg.mean(), model.ug.weight.grad


@program
def frequency_domain_denoiser_with_learned_filter_fftshift_and_windows(L):
    """A learned frequency-domain filter for 1-d signals: Hann-windowed frames, rfft with
    orthonormal scaling, a learnable real gain per frequency passed through sigmoid and a
    learnable complex phase by polar, irfft back with the frame length; the loss on the
    clean signal; and a 2-d spectrum centred by fftshift with its inverse by ifftshift."""
    nn = L.nn
    n = 16
    t = np.arange(n) / n
    clean = np.stack([np.sin(2 * np.pi * 2 * t), np.cos(2 * np.pi * 3 * t)])
    noisy = L.tensor(clean + 0.3 * normal64(2, n, seed=401))
    clean = L.tensor(clean)

    class SpectralFilter(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(L.zeros(n // 2 + 1, dtype=L.float64))
            self.phase = nn.Parameter(L.zeros(n // 2 + 1, dtype=L.float64))
            self.register_buffer("window", L.hann_window(n, periodic=False, dtype=L.float64))

        def forward(self, x):
            spec = L.fft.rfft(x * self.window, norm="ortho")
            h = L.polar(L.sigmoid(self.gain), self.phase)
            return L.fft.irfft(spec * h, n=n, norm="ortho")

    f = SpectralFilter()
    opt = L.optim.Adam(f.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        loss = (f(noisy) - clean * f.window).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    img = L.tensor(normal64(4, 6, seed=402))
    centred = L.fft.fftshift(L.fft.fft2(img))
    back = L.fft.ifft2(L.fft.ifftshift(centred)).real
    return losses, f.gain.grad, f.phase, centred.abs(), (back - img).abs().max() < 1e-12, \
        L.fft.fftshift(L.fft.fftfreq(6, d=0.5))


@program
def gcn_by_torch_sparse_mm_with_self_loops_and_symmetric_normalisation(L):
    """A two-layer GCN whose propagation matrix is a sparse COO tensor: self-loops added,
    degrees by torch.sparse.sum, D^-1/2 (A + I) D^-1/2 built on the values, coalesced;
    torch.sparse.mm against dense features in each layer; masked node classification."""
    nn, F = L.nn, L.nn.functional
    N = 7
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6], [6, 0], [1, 4]])
    src = np.concatenate([edges[:, 0], edges[:, 1], np.arange(N)])
    dst = np.concatenate([edges[:, 1], edges[:, 0], np.arange(N)])
    idx = L.tensor(np.stack([src, dst]))
    A = L.sparse_coo_tensor(idx, L.ones(idx.shape[1], dtype=L.float64), (N, N)).coalesce()
    deg = L.sparse.sum(A, dim=1).to_dense()
    dinv = deg.pow(-0.5)
    i = A.indices()
    vals = dinv[i[0]] * A.values() * dinv[i[1]]
    A_hat = L.sparse_coo_tensor(i, vals, (N, N))

    class GCN(nn.Module):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = nn.Linear(5, 8), nn.Linear(8, 3)

        def forward(self, x, adj):
            h = F.relu(L.sparse.mm(adj, self.l1(x)))
            h = F.dropout(h, 0.5, self.training)
            return L.sparse.mm(adj, self.l2(h))

    L.manual_seed(411)
    model = GCN().double().eval()
    x = L.tensor(normal64(N, 5, seed=412))
    y = L.tensor(labels(N, 3, seed=413))
    train = L.tensor([True, True, False, True, False, True, False])
    opt = L.optim.Adam(model.parameters(), lr=0.05, weight_decay=5e-4)
    losses = []
    for _ in range(3):
        out = model(x, A_hat)
        loss = F.cross_entropy(out[train], y[train])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    acc = (out.argmax(1)[~train] == y[~train]).double().mean()
    return deg, A_hat.to_dense(), losses, acc, model.l1.weight.grad


# ----------------------------------------------------------------------------------------------
# training utilities
# ----------------------------------------------------------------------------------------------
@program
def activation_checkpointing_non_reentrant_with_dropout_and_preserved_rng(L):
    """Blocks with dropout run under torch.utils.checkpoint (use_reentrant=False), the RNG
    state preserved so the recomputation draws the same masks: outputs and gradients equal
    to the plain run's under the same seed; checkpoint_sequential over segments; a
    checkpointed function taking a keyword argument and returning a tuple."""
    nn, F = L.nn, L.nn.functional
    cp = importlib.import_module(L.__name__ + ".utils.checkpoint")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin, self.drop, self.ln = nn.Linear(6, 6), nn.Dropout(0.3), nn.LayerNorm(6)

        def forward(self, x, scale=1.0):
            return x + scale * self.drop(F.gelu(self.lin(self.ln(x))))

    L.manual_seed(421)
    blocks = nn.ModuleList(Block() for _ in range(3)).double()
    x = L.tensor(normal64(4, 6, seed=422), requires_grad=True)

    def run(use_cp):
        L.manual_seed(423)
        h = x
        for b in blocks:
            h = cp.checkpoint(b, h, use_reentrant=False, scale=0.5) if use_cp else b(h, 0.5)
        h.pow(2).sum().backward()
        g = (x.grad.clone(), blocks[1].lin.weight.grad.clone())
        x.grad = None
        blocks.zero_grad()
        return h, g

    plain, gp = run(False)
    ckpt, gc = run(True)
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(6, 6), nn.Tanh()) for _ in range(4)]).double()
    y = cp.checkpoint_sequential(seq, 2, x, use_reentrant=False)
    y.sum().backward()

    def two(a, b):
        return a * b, a + b

    p, q = cp.checkpoint(two, x, x.exp(), use_reentrant=False)
    return plain, ckpt, gp, gc, y, seq[0][0].weight.grad, p, q, q.grad_fn is not None


@program
def learning_rate_range_test_with_exponential_lambda_and_state_restore(L):
    """The LR range test: model and optimizer states saved by deepcopy of their state
    dicts, the rate raised exponentially each batch by LambdaLR, an exponentially smoothed
    and bias-corrected loss recorded, stopping once it exceeds four times the best; then
    both states restored and the suggested rate (steepest descent of the smoothed curve)."""
    import copy
    nn, F = L.nn, L.nn.functional
    L.manual_seed(431)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)).double()
    opt = L.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(opt.state_dict())
    start, end, n = 1e-4, 10.0, 20
    gamma = (end / start) ** (1 / (n - 1))
    sched = L.optim.lr_scheduler.LambdaLR(opt, lambda it: gamma ** it)
    x = L.tensor(normal64(16, 4, seed=432))
    y = L.tensor(normal64(16, 1, seed=433))
    lrs, smooth, avg, best = [], [], 0.0, float("inf")
    for it in range(n):
        xb, yb = x[(it % 4) * 4:(it % 4) * 4 + 4], y[(it % 4) * 4:(it % 4) * 4 + 4]
        loss = F.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lrs.append(sched.get_last_lr()[0])
        sched.step()
        avg = 0.9 * avg + 0.1 * loss.item()
        s = avg / (1 - 0.9 ** (it + 1))
        smooth.append(s)
        best = min(best, s)
        if s > 4 * best or not math.isfinite(s):
            break
    model.load_state_dict(saved_model)
    opt.load_state_dict(saved_opt)
    grads = np.gradient(np.array(smooth))
    suggestion = lrs[int(np.argmin(grads))]
    return lrs, smooth, suggestion, model[0].weight, opt.state_dict()["state"], \
        opt.param_groups[0]["lr"], it


@program
def transfer_learning_surgery_swapping_activations_freezing_bn_and_new_head(L):
    """Fine-tuning surgery on a small backbone: every ReLU replaced by SiLU through
    named_modules and setattr on the parent, BatchNorm layers frozen (eval mode kept by an
    overridden train(), parameters without grad), a pretrained state dict loaded after
    dropping the keys whose shapes differ, a fresh classifier head, and only trainable
    parameters handed to the optimizer; the counts of trainable and frozen parameters."""
    nn, F = L.nn, L.nn.functional

    class Backbone(nn.Module):
        def __init__(self, classes):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True),
                nn.Conv2d(4, 6, 3, padding=1, stride=2), nn.BatchNorm2d(6), nn.ReLU())
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(6, classes)

        def forward(self, x):
            return self.fc(self.pool(self.features(x)).flatten(1))

        def train(self, mode=True):
            super().train(mode)
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
            return self

    L.manual_seed(441)
    pretrained = Backbone(10).double()
    with L.no_grad():
        for m in pretrained.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.9, 1.1)
    model = Backbone(3).double()
    own = model.state_dict()
    kept = {k: v for k, v in pretrained.state_dict().items() if v.shape == own[k].shape}
    res = model.load_state_dict(kept, strict=False)
    for name, m in list(model.named_modules()):
        if isinstance(m, nn.ReLU):
            parent_name, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent_name), child, nn.SiLU())
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            for p in m.parameters():
                p.requires_grad_(False)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = L.optim.SGD(trainable, lr=0.1, momentum=0.9)
    x = L.tensor(normal64(5, 1, 6, 6, seed=442))
    y = L.tensor(labels(5, 3, seed=443))
    losses = []
    for _ in range(2):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return res.missing_keys, sorted(set(pretrained.state_dict()) - set(kept)), \
        [type(m).__name__ for m in model.features], model.features[1].training, \
        sum(p.numel() for p in trainable), sum(p.numel() for p in model.parameters()
                                               if not p.requires_grad), \
        losses, model.features[4].running_mean, model.features[3].weight.grad[0, 0], \
        model.features[1].weight.grad


@program
def mixup_and_cutmix_with_soft_target_cross_entropy_and_label_smoothing(L):
    """Mixup (a numpy Beta draw mixing a batch with its permutation from randperm under a
    seed) and CutMix (a box from numpy pasted by slicing, lambda corrected by its area) on
    one-hot targets smoothed by hand, fed to cross_entropy with probability targets; also
    cross_entropy's own label_smoothing on class indices mixed by lambda, which matches."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(451)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3)).double()
    x = L.tensor(normal64(6, 2, 8, 8, seed=452))
    y = L.tensor(labels(6, 3, seed=453))
    rng = np.random.RandomState(454)
    opt = L.optim.SGD(net.parameters(), lr=0.1)
    eps = 0.1

    def smooth(t):
        return F.one_hot(t, 3).double() * (1 - eps) + eps / 3

    record = []
    L.manual_seed(455)
    for mode in ("mixup", "cutmix"):
        lam = float(rng.beta(0.4, 0.4))
        perm = L.randperm(x.size(0))
        if mode == "mixup":
            xm = lam * x + (1 - lam) * x[perm]
        else:
            H = W = 8
            cut = math.sqrt(1 - lam)
            ch, cw = int(H * cut), int(W * cut)
            cy, cx = rng.randint(H), rng.randint(W)
            y1, y2 = np.clip(cy - ch // 2, 0, H), np.clip(cy + ch // 2, 0, H)
            x1, x2 = np.clip(cx - cw // 2, 0, W), np.clip(cx + cw // 2, 0, W)
            xm = x.clone()
            xm[:, :, y1:y2, x1:x2] = x[perm][:, :, y1:y2, x1:x2]
            lam = 1 - ((y2 - y1) * (x2 - x1) / (H * W))
        target = lam * smooth(y) + (1 - lam) * smooth(y[perm])
        out = net(xm)
        loss = F.cross_entropy(out, target)
        other = lam * F.cross_entropy(out, y, label_smoothing=eps) + \
            (1 - lam) * F.cross_entropy(out, y[perm], label_smoothing=eps)
        opt.zero_grad()
        loss.backward()
        opt.step()
        record += [perm, lam, loss, (loss - other).abs() < 1e-12]
    return record, net[4].weight.grad, net[0].bias.grad


@program
def linear_inputs_changed_in_place_before_backward_are_named_as_saved(L):
    """Version errors after a linear layer's inputs change in place, worded as PyTorch's
    linear saves them: the weight as its transpose (an as_strided view once the weight has
    changed), a 3-d input as its flattened matrix view, a vector input as a 1-row view, a
    2-d input as itself, a frozen weight without the producer's name; the layer then
    trains when the change waits until after backward."""
    nn = L.nn
    L.manual_seed(461)
    lin = nn.Linear(3, 2).double()
    base = L.tensor(normal64(4, 3, seed=462), requires_grad=True)
    out = []

    def attempt(make_input, change, layer=lin):
        x = make_input()
        y = layer(x)
        change(x)
        return err(lambda: y.sum().backward())

    def bump_weight(_):
        with L.no_grad():
            lin.weight.mul_(1.01)

    out.append(attempt(lambda: base * 2, bump_weight))
    out.append(attempt(lambda: (base * 2).reshape(2, 2, 3), lambda x: x.add_(1)))
    out.append(attempt(lambda: (base * 2)[0], lambda x: x.mul_(2)))
    out.append(attempt(lambda: base * 2, lambda x: x.sub_(1)))
    frozen = nn.Linear(3, 2, bias=False).double().requires_grad_(False)

    def bump_frozen(_):
        frozen.weight.add_(1)

    out.append(attempt(lambda: base * 2, bump_frozen, frozen))
    opt = L.optim.SGD(lin.parameters(), lr=0.1)
    y = lin(base.reshape(2, 2, 3))
    y.pow(2).mean().backward()
    opt.step()
    return out, lin.weight, base.grad


@program
def batchnorm_cumulative_average_frozen_stats_and_sync_batchnorm_conversion(L):
    """BatchNorm with momentum=None (a cumulative average of the batch statistics, weighted
    by num_batches_tracked), track_running_stats=False (batch statistics in eval too),
    affine=False; the running stats reset by reset_running_stats; a model converted by
    SyncBatchNorm.convert_sync_batchnorm (names, types, copied stats) run in eval mode;
    and BatchNorm's refusal of a single value per channel in training."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(471)
    cum = nn.BatchNorm1d(3, momentum=None).double()
    nostat = nn.BatchNorm1d(3, track_running_stats=False, affine=False).double()
    xs = [L.tensor(normal64(5, 3, seed=472 + i) * (i + 1)) for i in range(3)]
    for x in xs:
        cum(x)
        nostat(x)
    stats = [cum.running_mean, cum.running_var, cum.num_batches_tracked,
             nostat.running_mean is None, sorted(nostat.state_dict())]
    cum.eval()
    nostat.eval()
    evals = [cum(xs[0]), nostat(xs[0])]
    cum.reset_running_stats()
    stats += [cum.running_mean, cum.running_var, cum.num_batches_tracked]
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(),
                        nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2))).double()
    img = L.tensor(normal64(2, 1, 5, 5, seed=480))
    net(img)
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    kinds = [type(m).__name__ for m in sync.modules()]
    sync.eval()
    out = sync(img)
    refused = err(lambda: nn.BatchNorm1d(3).train()(L.zeros(1, 3)))
    return stats, evals, kinds, out, sync[1].running_mean, refused, \
        F.batch_norm(xs[1], None, None, training=True)


@program
def per_group_lambda_schedules_state_dict_round_trip_and_manual_lr_override(L):
    """LambdaLR with one lambda per parameter group (a warmup for the body, a constant
    for the head), its state dict (lambdas that are functions are not saved, a callable
    object's __dict__ is), loaded into a new scheduler; MultiStepLR with repeated
    milestones (gamma applied twice); a manual change of a group's lr between steps that
    the chainable schedules build on; get_last_lr after each step."""
    nn = L.nn

    class Warm:
        def __init__(self, n):
            self.n = n

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.n)

    L.manual_seed(481)
    body, head = nn.Linear(3, 3), nn.Linear(3, 1)
    opt = L.optim.SGD([{"params": body.parameters()}, {"params": head.parameters(), "lr": 0.5}],
                      lr=0.1, momentum=0.9)
    sched = L.optim.lr_scheduler.LambdaLR(opt, [Warm(4), lambda e: 1.0])
    trace = []
    for _ in range(3):
        opt.step()
        sched.step()
        trace.append(sched.get_last_lr())
    sd = sched.state_dict()
    opt2 = L.optim.SGD([{"params": body.parameters()}, {"params": head.parameters(), "lr": 0.5}],
                       lr=0.1)
    sched2 = L.optim.lr_scheduler.LambdaLR(opt2, [Warm(9), lambda e: 2.0])
    sched2.load_state_dict(sd)
    opt3 = L.optim.SGD(body.parameters(), lr=1.0)
    ms = L.optim.lr_scheduler.MultiStepLR(opt3, milestones=[2, 2, 4], gamma=0.5)
    ms_trace = []
    for epoch in range(6):
        opt3.step()
        if epoch == 2:
            opt3.param_groups[0]["lr"] = 0.3
        ms.step()
        ms_trace.append(ms.get_last_lr()[0])
    return trace, sorted(sd), sd["lr_lambdas"], sched2.lr_lambdas[0].n, sched2.last_epoch, \
        ms_trace, dict(ms.milestones), ms.state_dict()["_last_lr"]


@program
def optimizer_wrappers_and_subclasses_meet_the_step_hooks_as_in_torch(L):
    """How PyTorch 2 wraps optimizer classes' steps in its hook runner, met by third-party
    optimizers: a subclass of SGD whose step calls super().step() (SGD's own optimizers
    were made, so both steps run the hooks), a wrapper that never calls Optimizer.__init__
    and delegates zero_grad (its step runs bare; its state_dict and hook registration fail
    for want of the hook dicts), an EMA of the weights kept by a step post-hook, and a
    deep copy of an optimizer keeping its hooks."""
    import copy
    nn, F = L.nn, L.nn.functional
    hooks_mod = importlib.import_module(L.__name__ + ".optim.optimizer")
    calls = []

    class ClippedSGD(L.optim.SGD):
        def step(self, closure=None):
            calls.append("clip")
            for g in self.param_groups:
                nn.utils.clip_grad_norm_(g["params"], 0.5)
            return super().step(closure)

    class Wrapper(L.optim.Optimizer):
        def __init__(self, inner):
            self.inner = inner
            self.param_groups, self.state, self.defaults = \
                inner.param_groups, inner.state, inner.defaults

        def step(self, closure=None):
            calls.append("wrapper")
            return self.inner.step(closure)

        def zero_grad(self, set_to_none=True):
            self.inner.zero_grad(set_to_none)

    L.manual_seed(491)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    ema = {n: p.detach().clone() for n, p in net.named_parameters()}
    x, y = L.tensor(normal64(6, 3, seed=492)), L.tensor(labels(6, 2, seed=493))
    L.optim.SGD([nn.Parameter(L.zeros(1))], lr=0.1)
    opt = ClippedSGD(net.parameters(), lr=0.2, momentum=0.9)

    def update_ema(o, args, kwargs):
        calls.append("ema")
        with L.no_grad():
            for n, p in net.named_parameters():
                ema[n].mul_(0.9).add_(p, alpha=0.1)

    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(update_ema)
    glob = hooks_mod.register_optimizer_step_pre_hook(
        lambda o, a, k: calls.append("global " + type(o).__name__))
    try:
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            losses.append(loss)
        twin = copy.deepcopy(opt)
        wrapped = Wrapper(L.optim.Adam(net.parameters(), lr=0.01))
        wrapped.zero_grad()
        F.cross_entropy(net(x), y).backward()
        wrapped.step()
        refusals = [err(wrapped.state_dict),
                    err(lambda: wrapped.register_step_post_hook(lambda *a: None))]
    finally:
        glob.remove()
    return calls, losses, ema["2.weight"], dict(net.named_parameters()), refusals, \
        len(twin._optimizer_step_post_hooks), sorted(twin.state_dict()["state"])


# ----------------------------------------------------------------------------------------------
# constrained weights
# ----------------------------------------------------------------------------------------------
@program
def orthogonal_rnn_by_parametrizations_with_cayley_and_matrix_exp_maps(L):
    """An expRNN-style recurrent cell whose hidden-to-hidden matrix stays orthogonal
    through parametrizations.orthogonal (matrix_exp map with trivialisation for one cell,
    cayley without for another): unrolled over a sequence, trained by RMSprop; W W^T stays
    the identity after the steps; the names of the parametrized parameters; a cached
    forward under parametrize.cached reading the weight once per step."""
    nn, F = L.nn, L.nn.functional
    PZ = nn.utils.parametrizations
    P = nn.utils.parametrize

    class OrthoCell(nn.Module):
        def __init__(self, n_in, n_h, omap, triv):
            super().__init__()
            self.inp = nn.Linear(n_in, n_h, dtype=L.float64)
            # float64 before the parametrization: its base is computed once, in this dtype
            self.rec = nn.Linear(n_h, n_h, bias=False, dtype=L.float64)
            PZ.orthogonal(self.rec, orthogonal_map=omap, use_trivialization=triv)

        def forward(self, xs):
            h = xs.new_zeros(xs.shape[1], self.rec.weight.shape[0])
            for x in xs:
                h = F.leaky_relu(self.inp(x) + self.rec(h), 0.1)
            return h

    L.manual_seed(501)
    xs = L.tensor(normal64(6, 3, 2, seed=502))
    target = L.tensor(labels(3, 4, seed=503))
    out = []
    for omap, triv in (("matrix_exp", True), ("cayley", False)):
        cell = OrthoCell(2, 4, omap, triv)
        head = nn.Linear(4, 4).double()
        params = list(cell.parameters()) + list(head.parameters())
        opt = L.optim.SGD(params, lr=0.1, momentum=0.9)
        for _ in range(3):
            with P.cached():
                loss = F.cross_entropy(head(cell(xs)), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss)
        W = cell.rec.weight
        out += [(W @ W.T - L.eye(4, dtype=L.float64)).abs().max() < 1e-10,
                sorted(n for n, _ in cell.named_parameters()),
                cell.rec.parametrizations.weight.original.grad]
    return out


@program
def gaussian_likelihood_with_cholesky_covariance_parametrization_and_right_inverse(L):
    """A full-covariance Gaussian fitted by maximum likelihood, its covariance a
    parametrization (lower-triangular factor with a softplus diagonal, right_inverse
    mapping a given SPD matrix back through its Cholesky factor and an inverse softplus);
    the sample covariance assigned to start from; log-likelihood by MultivariateNormal
    with scale_tril; Adam steps; the parametrization removed keeping the learned value."""
    nn, F = L.nn, L.nn.functional
    P = nn.utils.parametrize

    class CholCov(nn.Module):
        def forward(self, A):
            low = A.tril(-1)
            return low + L.diag_embed(F.softplus(A.diagonal(dim1=-2, dim2=-1)))

        def right_inverse(self, S):
            C = L.linalg.cholesky(S)
            d = C.diagonal()
            inv_sp = d + L.log(-L.expm1(-d))
            return C.tril(-1) + L.diag_embed(inv_sp)

    class Gauss(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.mu = nn.Parameter(L.zeros(d, dtype=L.float64))
            self.scale_tril = nn.Parameter(L.eye(d, dtype=L.float64))
            P.register_parametrization(self, "scale_tril", CholCov())

        def forward(self, x):
            dist = L.distributions.MultivariateNormal(self.mu, scale_tril=self.scale_tril)
            return dist.log_prob(x)

    rng = np.random.RandomState(511)
    A = rng.randn(3, 3)
    X = L.tensor(rng.randn(40, 3) @ A.T + np.array([1.0, -2.0, 0.5]))
    g = Gauss(3)
    Xc = X - X.mean(0)
    S = Xc.T @ Xc / (X.shape[0] - 1)
    with L.no_grad():
        g.scale_tril = L.linalg.cholesky(S)
    start = g.scale_tril.clone()
    opt = L.optim.Adam(g.parameters(), lr=0.05)
    nlls = []
    for _ in range(3):
        nll = -g(X).mean()
        opt.zero_grad()
        nll.backward()
        opt.step()
        nlls.append(nll)
    learned = g.scale_tril.detach().clone()
    P.remove_parametrizations(g, "scale_tril")
    return start, nlls, g.mu, learned, g.scale_tril, type(g.scale_tril).__name__, \
        sorted(n for n, _ in g.named_parameters())


@program
def forward_mode_directional_derivatives_through_a_custom_function_with_jvp(L):
    """Forward-mode AD with dual numbers: a custom Function (a numerically stable
    log1p-exp) with forward, setup_context (the input saved for backward and for forward),
    backward and jvp staticmethods; a
    small network's directional derivative along a tangent for its input and for one
    weight (made a dual by functional_call), checked against reverse mode's vector-Jacobian
    products and against torch.func.jvp."""
    nn = L.nn
    fwAD = importlib.import_module(L.__name__ + ".autograd.forward_ad")

    class Softplus(L.autograd.Function):
        @staticmethod
        def forward(x):
            return L.where(x > 0, x + L.log1p(L.exp(-x)), L.log1p(L.exp(x)))

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, = inputs
            ctx.save_for_backward(x)        # what backward reads
            ctx.save_for_forward(x)         # what jvp reads (ctx.saved_tensors there)

        @staticmethod
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * L.sigmoid(x)

        @staticmethod
        def jvp(ctx, t):
            x, = ctx.saved_tensors
            return t * L.sigmoid(x)

    L.manual_seed(521)
    lin1, lin2 = nn.Linear(3, 5).double(), nn.Linear(5, 2).double()

    def f(x):
        return lin2(Softplus.apply(lin1(x)))

    x = L.tensor(normal64(4, 3, seed=522))
    tx = L.tensor(normal64(4, 3, seed=523))
    with fwAD.dual_level():
        out = f(fwAD.make_dual(x, tx))
        y, jvp_x = fwAD.unpack_dual(out)
    tw = L.tensor(normal64(5, 3, seed=524))
    params = dict(lin1.named_parameters())
    with fwAD.dual_level():
        dual_params = dict(params, weight=fwAD.make_dual(params["weight"].detach(), tw))
        out_w = L.func.functional_call(lin1, dual_params, (x,))
        jvp_w = fwAD.unpack_dual(lin2(Softplus.apply(out_w))).tangent
    xr = x.clone().requires_grad_()
    v = L.tensor(normal64(4, 2, seed=525))
    vjp, = L.autograd.grad(f(xr), xr, v)
    _, jvp_func = L.func.jvp(f, (x,), (tx,))
    return y, jvp_x, jvp_w, (v * jvp_x).sum() - (vjp * tx).sum(), \
        (jvp_func - jvp_x).abs().max() < 1e-12


@program
def gradient_accumulation_with_total_norm_clipping_split_in_two_calls(L):
    """Micro-batch gradient accumulation (losses divided by the number of micro-batches)
    with the clipping split the way FSDP-style code splits it: get_total_norm over the
    gradients (foreach off and on), clip_grads_with_norm_ with that norm, against
    clip_grad_norm_ on a twin model; an infinity-norm clip; AdamW steps."""
    nn, F = L.nn, L.nn.functional
    utils = nn.utils

    def make():
        L.manual_seed(531)
        return nn.Sequential(nn.Linear(4, 8), nn.SiLU(), nn.Linear(8, 3)).double()

    a, b = make(), make()
    oa = L.optim.AdamW(a.parameters(), lr=1e-2)
    ob = L.optim.AdamW(b.parameters(), lr=1e-2)
    x = L.tensor(normal64(8, 4, seed=532) * 3)
    y = L.tensor(labels(8, 3, seed=533))
    record = []
    for _ in range(2):
        for m in (a, b):
            for chunk in range(2):
                sl = slice(chunk * 4, chunk * 4 + 4)
                (F.cross_entropy(m(x[sl]), y[sl]) / 2).backward()
        grads = [p.grad for p in a.parameters()]
        total = utils.get_total_norm(grads, norm_type=2.0, foreach=False)
        total2 = utils.get_total_norm(grads, norm_type=2.0, foreach=True)
        utils.clip_grads_with_norm_(a.parameters(), max_norm=0.5, total_norm=total)
        ref = utils.clip_grad_norm_(b.parameters(), max_norm=0.5)
        inf = utils.get_total_norm([p.grad for p in b.parameters()], norm_type="inf")
        record += [total, total2, ref, inf, a[0].weight.grad.clone()]
        oa.step()
        ob.step()
        oa.zero_grad()
        ob.zero_grad()
    return record, dict(a.named_parameters()), dict(b.named_parameters())

# ----------------------------------------------------------------------------------------------
# the test
# ----------------------------------------------------------------------------------------------
# programs that end in torch's exception (minigrad must raise the same, with its words)
_RAISING = set()


@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    raised = HARNESS.check(fn, **fn.options)
    assert (raised is not None) == (fn.__name__ in _RAISING), raised
