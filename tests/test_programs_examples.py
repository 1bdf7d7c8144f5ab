"""Compact versions of what well-known third-party PyTorch repositories do, written anew at
small sizes with generated data: the programs of pytorch/examples (mnist, the word language
model, the VAE, time-sequence prediction, actor-critic and REINFORCE, super-resolution, fast
neural style, a siamese network, regression, GCN, forward-forward), nanoGPT's model, generation
and training loop, and timm/torchvision-style blocks (DropPath, LayerScale, ConvNeXt, SE,
MobileNetV2, ResNet, EfficientNet, ViT, Swin windows, label smoothing, mixup, warmup-cosine
LR, weight EMA).

Each ``program(lib)`` runs once with ``lib`` = torch and once with ``lib`` = minigrad from the
same numpy weights and inputs; the two must give the same values, dtypes and shapes, or raise
the same exception type with torch's words in the message, and emit the same warning
categories.
"""
import copy
import inspect
import io
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    SideBySide, bare, dotted, err, grads_of as _grads, load_seeded as _load,
    params_of as _params, registry)


# ----------------------------------------------------------------------------------------------
# harness
# ----------------------------------------------------------------------------------------------
HARNESS = SideBySide(rename=dotted, rename_error=bare,
                     tol={"float16": 1e-3, "float32": (1e-4, 1e-5), "float64": 1e-8},
                     tag=lambda v: type(v) is list)
_check = HARNESS.check
PROGRAMS, program = registry()


def _err(fn):
    return err(fn, quiet=True)


def _rand(*shape, seed=0, scale=1.0):
    return np.random.RandomState(seed).randn(*shape) * scale


def _f32(*shape, seed=0, scale=1.0):
    return (np.random.RandomState(seed).randn(*shape) * scale).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# 1. pytorch/examples
# ----------------------------------------------------------------------------------------------
_MN_X = np.random.RandomState(20).rand(32, 1, 28, 28).astype(np.float32)
_MN_Y = np.random.RandomState(21).randint(0, 10, 32)


def _mnist_net(lib):
    nn, F = lib.nn, lib.nn.functional

    class DigitConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_a = nn.Conv2d(1, 4, 3, 1)
            self.c_b = nn.Conv2d(4, 8, 3, 1)
            self.hid = nn.Linear(8 * 12 * 12, 16)
            self.cls = nn.Linear(16, 10)
            self.feat_drop, self.hid_drop = nn.Dropout(0.25), nn.Dropout(0.5)

        def forward(self, img):
            feat = F.relu(self.c_b(F.relu(self.c_a(img))))
            feat = self.feat_drop(F.max_pool2d(feat, 2))
            h = self.hid_drop(F.relu(self.hid(lib.flatten(feat, 1))))
            return F.log_softmax(self.cls(h), dim=1)

    return _load(lib, DigitConvNet(), 22, 0.1)


@program
def examples_mnist(lib):
    """Adadelta under StepLR over a two-batch loader, then a summed-NLL scoring pass; the net
    stays in eval mode throughout so dropout draws nothing."""
    F = lib.nn.functional
    net = _mnist_net(lib)
    pairs = lib.utils.data.TensorDataset(lib.tensor(_MN_X[:16]), lib.tensor(_MN_Y[:16]))
    batches = lib.utils.data.DataLoader(pairs, batch_size=8)
    adadelta = lib.optim.Adadelta(net.parameters(), lr=1.0)
    decay = lib.optim.lr_scheduler.StepLR(adadelta, step_size=1, gamma=0.7)
    net.eval()
    seen, lr_trace = [], []
    for _epoch in range(2):
        for k, (imgs, labels) in enumerate(batches):
            adadelta.zero_grad()
            nll = F.nll_loss(net(imgs), labels)
            nll.backward()
            adadelta.step()
            if k % 2 == 0:
                seen.append(nll.item())
        decay.step()
        lr_trace.append(decay.get_last_lr())
    summed, hits = 0.0, 0
    with lib.no_grad():
        for imgs, labels in batches:
            logp = net(imgs)
            summed += F.nll_loss(logp, labels, reduction="sum").item()
            guess = logp.argmax(dim=1, keepdim=True)
            hits += guess.eq(labels.view_as(guess)).sum().item()
    return {"losses": seen, "lrs": lr_trace, "test_loss": summed / len(batches.dataset),
            "correct": hits, "params": _params(net),
            "state": list(adadelta.state_dict()["state"][0].keys())}


def _rnn_model(lib, rnn_type, ntoken=15, ninp=8, nhid=8, nlayers=2, tie=True):
    """A small recurrent language model: embedding, a stacked LSTM/GRU/RNN core (``.rnn``), a
    projection back to the vocabulary optionally sharing the embedding's matrix."""
    nn = lib.nn

    def make_core():
        if rnn_type.startswith("RNN_"):
            act = rnn_type[len("RNN_"):].lower()
            return nn.RNN(ninp, nhid, nlayers, nonlinearity=act, dropout=0.2)
        return getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=0.2)

    class RecurrentLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.vocab, self.kind, self.width, self.depth = ntoken, rnn_type, nhid, nlayers
            self.mask_out = nn.Dropout(0.2)
            self.embed = nn.Embedding(ntoken, ninp)
            self.rnn = make_core()
            self.proj = nn.Linear(nhid, ntoken)
            if tie and ninp != nhid:
                raise ValueError(f"tying needs equal sizes, got ninp={ninp} and nhid={nhid}")
            if tie:
                self.proj.weight = self.embed.weight
            for w in (self.embed.weight, self.proj.weight):
                nn.init.uniform_(w, -0.1, 0.1)
            nn.init.zeros_(self.proj.bias)

        def forward(self, tokens, state):
            seq, state = self.rnn(self.mask_out(self.embed(tokens)), state)
            scores = self.proj(self.mask_out(seq)).view(-1, self.vocab)
            return lib.nn.functional.log_softmax(scores, dim=1), state

        def init_hidden(self, batch):
            ref = next(self.parameters())
            zeros = [ref.new_zeros(self.depth, batch, self.width)
                     for _ in range(2 if self.kind == "LSTM" else 1)]
            return tuple(zeros) if self.kind == "LSTM" else zeros[0]

    return _load(lib, RecurrentLM(), 30, 0.2)


def _detach_state(lib, state):
    if isinstance(state, lib.Tensor):
        return state.detach()
    return tuple(_detach_state(lib, s) for s in state)


def _columns(lib, seq, ncol):
    usable = (seq.size(0) // ncol) * ncol
    return seq.narrow(0, 0, usable).view(ncol, -1).t().contiguous()


def _window(src, start, span):
    n = min(span, len(src) - 1 - start)
    return src[start:start + n], src[start + 1:start + 1 + n].view(-1)


_CORPUS = np.random.RandomState(31).randint(0, 15, 70)


@program
def examples_word_language_model(lib):
    found = {}
    corpus = _columns(lib, lib.tensor(_CORPUS), 4)
    for kind in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        lm = _rnn_model(lib, kind)
        lm.train()
        lm.rnn.dropout = 0.0                  # no random masks in either library
        for sub in lm.modules():
            if isinstance(sub, lib.nn.Dropout):
                sub.p = 0.0
        nll = lib.nn.NLLLoss()
        state, trace = lm.init_hidden(4), []
        for start in range(0, corpus.size(0) - 1, 5):
            inp, tgt = _window(corpus, start, 5)
            lm.zero_grad()
            state = _detach_state(lib, state)
            logp, state = lm(inp, state)
            step_loss = nll(logp, tgt)
            step_loss.backward()
            lib.nn.utils.clip_grad_norm_(lm.parameters(), 0.25)
            for w in lm.parameters():
                w.data.add_(w.grad, alpha=-5.0)
            trace.append(step_loss.item())
        lm.eval()
        with lib.no_grad():
            probe, _ = lm(corpus[:3], lm.init_hidden(4))
        found[kind] = {"losses": trace, "tied": lm.proj.weight is lm.embed.weight,
                       "out": probe, "nparams": sum(w.numel() for w in lm.parameters()),
                       "ppl": math.exp(trace[-1])}
    found["untied"] = _err(lambda: _rnn_model(lib, "LSTM", ninp=8, nhid=6))
    return found


@program
def examples_word_language_transformer(lib):
    nn, F = lib.nn, lib.nn.functional

    def sinusoids(length, dim):
        pos = lib.arange(0, length, dtype=lib.float).unsqueeze(1)
        freq = lib.exp(-math.log(10000.0) / dim * lib.arange(0, dim, 2).float())
        table = lib.zeros(length, dim)
        table[:, 0::2] = lib.sin(pos * freq)
        table[:, 1::2] = lib.cos(pos * freq)
        return table.unsqueeze(0).transpose(1, 0)

    class AddPositions(nn.Module):
        def __init__(self, dim, p, length=50):
            super().__init__()
            self.drop = nn.Dropout(p=p)
            self.register_buffer("table", sinusoids(length, dim))

        def forward(self, h):
            return self.drop(h + self.table[:h.size(0), :])

    class EncoderOnlyLM(nn.Transformer):
        """An nn.Transformer subclass that uses only its encoder and replaces its ``decoder``
        attribute with a Linear read-out."""

        def __init__(self, vocab, width, heads, ff, depth, p=0.5):
            super().__init__(d_model=width, nhead=heads, dim_feedforward=ff,
                             num_encoder_layers=depth)
            self.model_type, self.src_mask, self.width = "Transformer", None, width
            self.positions = AddPositions(width, p)
            self.tok = nn.Embedding(vocab, width)
            readout = self.decoder = nn.Linear(width, vocab)
            for w in (self.tok.weight, readout.weight):
                nn.init.uniform_(w, -0.1, 0.1)
            nn.init.zeros_(readout.bias)

        def forward(self, src, causal=True):
            n = len(src)
            if not causal:
                self.src_mask = None
            elif self.src_mask is None or self.src_mask.size(0) != n:
                self.src_mask = lib.tril(lib.ones(n, n)).log()
            h = self.positions(self.tok(src) * math.sqrt(self.width))
            return F.log_softmax(self.decoder(self.encoder(h, mask=self.src_mask)), dim=-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # enable_nested_tensor's note
        lm = EncoderOnlyLM(15, 8, 2, 16, 2, p=0.0)
    _load(lib, lm, 32, 0.2)
    for sub in lm.modules():       # the 0.1 dropouts nn.Transformer adds itself: switched off
        if isinstance(sub, nn.MultiheadAttention):
            sub.dropout = 0.0
        elif isinstance(sub, nn.Dropout):
            sub.p = 0.0
    src, tgt = _window(_columns(lib, lib.tensor(_CORPUS), 4), 0, 6)
    lm.train()
    sgd = lib.optim.SGD(lm.parameters(), lr=0.5)
    trace = []
    for _ in range(3):
        sgd.zero_grad()
        step_loss = F.nll_loss(lm(src).view(-1, 15), tgt)
        step_loss.backward()
        lib.nn.utils.clip_grad_norm_(lm.parameters(), 0.25)
        sgd.step()
        trace.append(step_loss.item())
    lm.eval()
    with lib.no_grad():
        unmasked = lm(src, causal=False)
    return {"losses": trace, "mask": lm.src_mask, "nomask": unmasked,
            "has_decoder": hasattr(lm, "decoder"), "type": lm.model_type}


@program
def examples_vae(lib):
    nn, F = lib.nn, lib.nn.functional

    class TinyVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(64, 16)
            self.to_mu, self.to_logvar = nn.Linear(16, 4), nn.Linear(16, 4)
            self.dec_hidden = nn.Linear(4, 16)
            self.dec_out = nn.Linear(16, 64)

        def encode(self, flat):
            h = F.relu(self.enc(flat))
            return self.to_mu(h), self.to_logvar(h)

        def decode(self, z):
            return lib.sigmoid(self.dec_out(F.relu(self.dec_hidden(z))))

        def forward(self, img, noise):
            mu, logvar = self.encode(img.view(-1, 64))
            return self.decode(mu + noise * lib.exp(0.5 * logvar)), mu, logvar

    def neg_elbo(recon, img, mu, logvar):
        rec = F.binary_cross_entropy(recon, img.view(-1, 64), reduction="sum")
        kl = 0.5 * lib.sum(mu.pow(2) + logvar.exp() - logvar - 1)
        return rec + kl

    vae = _load(lib, TinyVAE(), 40, 0.2)
    adam = lib.optim.Adam(vae.parameters(), lr=1e-3)
    imgs = lib.tensor(np.random.RandomState(41).rand(12, 1, 8, 8).astype(np.float32))
    per_item = []
    for k in range(4):
        noise = lib.tensor(_f32(12, 4, seed=42 + k))     # the reparameterisation noise, from numpy
        adam.zero_grad()
        recon, mu, logvar = vae(imgs, noise)
        total = neg_elbo(recon, imgs, mu, logvar)
        total.backward()
        adam.step()
        per_item.append(total.item() / len(imgs))
    with lib.no_grad():
        drawn = vae.decode(lib.tensor(_f32(5, 4, seed=50)))
        side = lib.cat([imgs[:3], recon.view(12, 1, 8, 8)[:3]])
    return {"losses": per_item, "sample": drawn.view(5, 1, 8, 8), "cmp": side}


@program
def examples_time_sequence_prediction(lib):
    nn = lib.nn

    class TwoCellLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell_a, self.cell_b = nn.LSTMCell(1, 6), nn.LSTMCell(6, 6)
            self.readout = nn.Linear(6, 1)

        def step(self, x, sa, sb):
            sa = self.cell_a(x, sa)
            sb = self.cell_b(sa[0], sb)
            return self.readout(sb[0]), sa, sb

        def forward(self, series, future=0):
            def blank():
                return lib.zeros(series.size(0), 6, dtype=lib.double)
            sa, sb, preds = (blank(), blank()), (blank(), blank()), []
            for col in series.split(1, dim=1):
                y, sa, sb = self.step(col, sa, sb)
                preds.append(y)
            for _ in range(future):
                y, sa, sb = self.step(y, sa, sb)
                preds.append(y)
            return lib.cat(preds, dim=1)

    period, length, count = 20, 10, 6
    shifts = np.random.RandomState(60).randint(-4 * period, 4 * period, count)
    waves = np.sin((np.arange(length)[None, :] + shifts[:, None]) / period).astype("float64")
    train_in, train_out = lib.from_numpy(waves[2:, :-1]), lib.from_numpy(waves[2:, 1:])
    held_in = lib.from_numpy(waves[:2, :-1])
    net = _load(lib, TwoCellLSTM().double(), 61, 0.3)
    mse = nn.MSELoss()
    lbfgs = lib.optim.LBFGS(net.parameters(), lr=0.8, max_iter=3)
    seen = []

    def closure():
        lbfgs.zero_grad()
        err_ = mse(net(train_in), train_out)
        seen.append(err_.item())
        err_.backward()
        return err_

    ahead = 4
    for _ in range(2):
        lbfgs.step(closure)
        with lib.no_grad():
            forecast = net(held_in, future=ahead)
            held_err = mse(forecast[:, :-ahead], lib.from_numpy(waves[:2, 1:]))
    return {"losses": seen, "test_loss": held_err, "y": forecast.detach().numpy(),
            "n_iter": lbfgs.state[lbfgs._params[0]]["n_iter"]}


_F32_EPS = float(np.finfo(np.float32).eps)


def _discounted(rewards, gamma):
    acc, back = 0.0, []
    for r in reversed(rewards):
        acc = r + gamma * acc
        back.append(acc)
    return back[::-1]


def _standardize(t):
    return (t - t.mean()) / (t.std() + _F32_EPS)


@program
def examples_actor_critic(lib):
    nn, F = lib.nn, lib.nn.functional
    Categorical = lib.distributions.Categorical

    class TwoHeaded(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = nn.Linear(4, 16)
            self.pi = nn.Linear(16, 2)
            self.v = nn.Linear(16, 1)

        def forward(self, obs):
            h = F.relu(self.trunk(obs))
            return F.softmax(self.pi(h), dim=-1), self.v(h)

    agent = _load(lib, TwoHeaded(), 70, 0.3)
    adam = lib.optim.Adam(agent.parameters(), lr=3e-2)
    rng = np.random.RandomState(71)
    trace = []
    for _episode in range(2):
        taken, rewards = [], []
        for _t in range(6):
            obs = lib.from_numpy(rng.randn(4).astype(np.float32)).float()
            probs, value = agent(obs)
            dist = Categorical(probs)
            act = lib.tensor(int(rng.rand() < 0.5))     # chosen by numpy, not dist.sample()
            taken.append((dist.log_prob(act), value))
            rewards.append(float(rng.rand()))
        ret = _standardize(lib.tensor(_discounted(rewards, 0.99)))
        actor_terms, critic_terms = [], []
        for (logp, value), g in zip(taken, ret):
            actor_terms.append(-logp * (g - value.item()))
            critic_terms.append(F.smooth_l1_loss(value, lib.tensor([g])))
        adam.zero_grad()
        total = lib.stack(actor_terms).sum() + lib.stack(critic_terms).sum()
        total.backward()
        adam.step()
        trace.append(total.item())
    fixed = Categorical(probs=lib.tensor([0.2, 0.8]))
    return {"hist": trace, "params": _params(agent), "entropy": fixed.entropy(),
            "lp": fixed.log_prob(lib.tensor([0, 1, 1])), "returns": ret}


@program
def examples_reinforce(lib):
    nn, F = lib.nn, lib.nn.functional

    class Actor(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = nn.Linear(4, 16)
            self.drop = nn.Dropout(p=0.6)
            self.out = nn.Linear(16, 2)

        def forward(self, obs):
            return F.softmax(self.out(F.relu(self.drop(self.inp(obs)))), dim=1)

    actor = _load(lib, Actor(), 72, 0.3).eval()
    adam = lib.optim.Adam(actor.parameters(), lr=1e-2)
    rng = np.random.RandomState(73)
    logps = []
    for _t in range(5):
        obs = lib.from_numpy(rng.randn(4).astype(np.float32)).float().unsqueeze(0)
        dist = lib.distributions.Categorical(actor(obs))
        act = lib.tensor([int(rng.rand() < 0.4)])
        logps.append(dist.log_prob(act))
    ret = _standardize(lib.tensor(_discounted([1.0] * len(logps), 0.99)))
    adam.zero_grad()
    objective = lib.cat([-lp * g for lp, g in zip(logps, ret)]).sum()
    objective.backward()
    adam.step()
    return {"loss": objective, "params": _params(actor), "action": act.item(),
            "returns": ret, "shape": dist.batch_shape, "probs": dist.probs,
            "logits": dist.logits}


@program
def examples_super_resolution(lib):
    nn, init = lib.nn, lib.nn.init

    class SubPixelNet(nn.Module):
        def __init__(self, r):
            super().__init__()
            self.act = nn.ReLU()
            self.stem = nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2))
            self.body = nn.ModuleList([nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1)),
                                       nn.Conv2d(8, 4, (3, 3), (1, 1), (1, 1))])
            self.to_sub = nn.Conv2d(4, r * r, (3, 3), (1, 1), (1, 1))
            self.shuffle = nn.PixelShuffle(r)

        def forward(self, img):
            h = self.act(self.stem(img))
            for conv in self.body:
                h = self.act(conv(h))
            return self.shuffle(self.to_sub(h))

    net = SubPixelNet(3)
    gains = [init.calculate_gain(*a) for a in
             (("relu",), ("tanh",), ("leaky_relu", 0.2), ("conv2d",), ("selu",))]
    # orthogonal_ uses the generator, so only its orthogonality is compared; seeded weights follow
    init.orthogonal_(net.stem.weight, init.calculate_gain("relu"))
    flat = net.stem.weight.detach().view(8, -1)
    ortho = lib.allclose(flat @ flat.t(), lib.eye(8) * 2.0, atol=1e-4)
    _load(lib, net, 80, 0.2)
    low = lib.tensor(np.random.RandomState(81).rand(2, 1, 6, 6).astype(np.float32))
    high = lib.tensor(np.random.RandomState(82).rand(2, 1, 18, 18).astype(np.float32))
    adam = lib.optim.Adam(net.parameters(), lr=0.01)
    mse = nn.MSELoss()
    psnr = []
    for _ in range(3):
        adam.zero_grad()
        err_ = mse(net(low), high)
        err_.backward()
        adam.step()
        psnr.append(-10 * math.log10(err_.item()))
    folded = nn.PixelUnshuffle(3)(high)
    return {"gains": gains, "ortho": ortho, "psnr": psnr, "out": net(low).shape,
            "unshuffle": folded, "back": nn.PixelShuffle(3)(folded)}


def _style_net(lib):
    nn = lib.nn

    class PadConv(nn.Module):
        """Reflection padding of half the kernel, then a convolution; an optional nearest
        upsampling in front."""

        def __init__(self, cin, cout, k, stride, up=None):
            super().__init__()
            self.up = up
            self.pad = nn.ReflectionPad2d(k // 2)
            self.conv = nn.Conv2d(cin, cout, k, stride)

        def forward(self, x):
            if self.up:
                x = nn.functional.interpolate(x, scale_factor=self.up, mode="nearest")
            return self.conv(self.pad(x))

    def normed(c):
        return nn.InstanceNorm2d(c, affine=True)

    class ResBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.first, self.norm_a = PadConv(c, c, 3, 1), normed(c)
            self.second, self.norm_b = PadConv(c, c, 3, 1), normed(c)

        def forward(self, x):
            h = lib.relu(self.norm_a(self.first(x)))
            return x + self.norm_b(self.second(h))

    class StyleNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down_a, self.norm_a = PadConv(3, 4, 5, 1), normed(4)
            self.down_b, self.norm_b = PadConv(4, 8, 3, 2), normed(8)
            self.res = ResBlock(8)
            self.upconv, self.norm_c = PadConv(8, 4, 3, 1, up=2), normed(4)
            self.last = PadConv(4, 3, 5, 1)
            self.act = nn.ReLU()
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, img):
            h = self.act(self.norm_a(self.down_a(img)))
            h = self.res(self.act(self.norm_b(self.down_b(h))))
            return self.last(self.act(self.norm_c(self.upconv(h))))

    return _load(lib, StyleNet(), 90, 0.2)


def _gram_matrix(feat):
    n, c, h, w = feat.size()
    flat = feat.view(n, c, h * w)
    return flat.bmm(flat.transpose(1, 2)) / (c * h * w)


@program
def examples_fast_neural_style(lib):
    net = _style_net(lib)
    content = lib.tensor(np.random.RandomState(91).rand(2, 3, 8, 8).astype(np.float32) * 255)
    style = lib.tensor(np.random.RandomState(92).rand(1, 3, 8, 8).astype(np.float32))
    mu = lib.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    sigma = lib.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)

    def imagenet_norm(t):
        return (t.div_(255.0) - mu) / sigma

    target_gram = _gram_matrix(style.repeat(2, 1, 1, 1))
    adam = lib.optim.Adam(net.parameters(), 1e-3)
    mse = lib.nn.MSELoss()
    trace = []
    for _ in range(2):
        adam.zero_grad()
        stylized = imagenet_norm(net(content).clone())
        reference = imagenet_norm(content.clone())
        c_loss = 1e5 * mse(stylized, reference)
        s_loss = 1e10 * mse(_gram_matrix(stylized), target_gram[:len(content)])
        (c_loss + s_loss).backward()
        adam.step()
        trace.append((c_loss.item(), s_loss.item()))
    with lib.no_grad():
        out = net(content).clamp(0, 255)
    pic = out[0].clone().clamp(0, 255).numpy().transpose(1, 2, 0).astype("uint8")
    return {"losses": trace, "img": pic,
            "in_keys": [k for k in net.state_dict() if "norm_a" in k],
            "up": net.up(content[:, :1, :2, :2]), "shape": out.shape}


@program
def examples_siamese(lib):
    nn, F = lib.nn, lib.nn.functional

    class TwinNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.tower = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True),
                                       nn.MaxPool2d(2), nn.Flatten())
            self.head = nn.Sequential(nn.Linear(2 * 36, 8), nn.ReLU(inplace=True),
                                      nn.Linear(8, 1))
            self.squash = nn.Sigmoid()
            self.head.apply(self._const_init)

        @staticmethod
        def _const_init(layer):
            if isinstance(layer, nn.Linear):
                nn.init.constant_(layer.weight, 0.05)
                layer.bias.data.fill_(0.01)

        def forward(self, left, right):
            e1, e2 = self.tower(left), self.tower(right)
            return self.squash(self.head(lib.cat((e1, e2), 1))), e1, e2

    twins = TwinNet()
    start_w = twins.head[0].weight.detach().clone()
    _load(lib, twins.tower, 100, 0.3)
    left = lib.tensor(np.random.RandomState(101).rand(6, 1, 8, 8).astype(np.float32))
    right = lib.tensor(np.random.RandomState(102).rand(6, 1, 8, 8).astype(np.float32))
    same = lib.tensor([1, 0, 1, 1, 0, 0]).float()
    bce = nn.BCELoss()
    adadelta = lib.optim.Adadelta(twins.parameters(), lr=1.0)
    trace = []
    for _ in range(3):
        adadelta.zero_grad()
        prob, e1, e2 = twins(left, right)
        cls_loss = bce(prob.squeeze(), same)
        gap = F.pairwise_distance(e1, e2)
        pull = (1 - same) * gap.pow(2)
        push = same * lib.clamp(2.0 - gap, min=0.0).pow(2)
        contrast = lib.mean(pull + push)
        (cls_loss + 0.1 * contrast).backward()
        adadelta.step()
        trace.append((cls_loss.item(), contrast.item()))
    pred = lib.where(prob > 0.5, 1, 0)
    flat_pred = pred.squeeze()
    return {"res": trace, "init": start_w, "pred": pred,
            "correct": flat_pred.eq(same.view_as(flat_pred)).sum().item(),
            "cos": F.cosine_similarity(e1, e2),
            "pd": nn.PairwiseDistance(p=1.0, keepdim=True)(e1, e2)}


@program
def examples_regression(lib):
    degree = 4
    true_w = 5 * lib.tensor(_f32(degree, seed=110)).unsqueeze(1)
    true_b = 5 * lib.tensor(_f32(1, seed=111))

    def powers(t):
        col = t.unsqueeze(1)
        return lib.cat([col ** k for k in range(1, degree + 1)], 1)

    def target_of(feats):
        return feats.mm(true_w) + true_b.item()

    def describe(weights, bias):
        terms = ["{:+.2f} x^{}".format(c, k) for k, c in enumerate(weights, start=1)]
        return "y = " + " ".join(terms) + " {:+.2f}".format(bias[0])

    lin = lib.nn.Linear(true_w.size(0), 1)
    _load(lib, lin, 112, 0.1)
    step = 0
    while step < 39:
        step += 1
        feats = powers(lib.tensor(_f32(8, seed=200 + step)))
        lin.zero_grad()
        crit = lib.nn.functional.smooth_l1_loss(lin(feats), target_of(feats))
        last = crit.item()
        crit.backward()
        for w in lin.parameters():
            w.data.add_(w.grad * -0.1)
        if last < 1e-3:
            break
    for w in lin.parameters():
        w.grad.data.zero_()
    return {"loss": last, "n": step, "learned": describe(lin.weight.view(-1), lin.bias),
            "actual": describe(true_w.view(-1), true_b), "grad": lin.weight.grad}


@program
def examples_gcn(lib):
    nn, F = lib.nn, lib.nn.functional

    class GraphConv(nn.Module):
        def __init__(self, in_features, out_features, use_bias=True):
            super().__init__()
            self.kernel = nn.Parameter(lib.empty(in_features, out_features))
            nn.init.xavier_normal_(self.kernel)
            self.bias = nn.Parameter(lib.zeros(out_features)) if use_bias else None

        def forward(self, inp, adj):
            out = lib.mm(inp, self.kernel)
            out = lib.sparse.mm(adj, out) if adj.is_sparse else lib.mm(adj, out)
            return out + self.bias if self.bias is not None else out

    class GCN(nn.Module):
        def __init__(self, nin, nhid, nout, p):
            super().__init__()
            self.gc1 = GraphConv(nin, nhid)
            self.gc2 = GraphConv(nhid, nout)
            self.dropout = nn.Dropout(p)

        def forward(self, x, adj):
            x = self.dropout(x)
            x = F.elu(self.gc1(x, adj))
            x = self.dropout(x)
            x = self.gc2(x, adj)
            return F.log_softmax(x, dim=1)

    rng = np.random.RandomState(120)
    n = 10
    edges = rng.randint(0, n, (2, 20))
    adj = np.zeros((n, n), np.float32)
    adj[edges[0], edges[1]] = 1
    adj = adj + adj.T + np.eye(n, dtype=np.float32)
    adj = (adj > 0).astype(np.float32)
    A = lib.tensor(adj)
    deg = A.sum(1)
    d_inv_sqrt = lib.pow(deg, -0.5)
    d_inv_sqrt[lib.isinf(d_inv_sqrt)] = 0.0
    D = lib.diag(d_inv_sqrt)
    A_norm = D @ A @ D
    x = lib.tensor(rng.rand(n, 6).astype(np.float32))
    y = lib.tensor(rng.randint(0, 3, n))
    model = _load(lib, GCN(6, 8, 3, 0.5), 121, 0.3).eval()
    opt = lib.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    mask = lib.tensor([True] * 6 + [False] * 4)
    losses = []
    for epoch in range(3):
        opt.zero_grad()
        out = model(x, A_norm)
        loss = F.nll_loss(out[mask], y[mask])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    pred = out.argmax(dim=1)
    acc = (pred[~mask] == y[~mask]).sum() / (~mask).sum()
    # the example keeps the adjacency as a sparse COO tensor; minigrad has no sparse layout
    # (reported), so the dense product stands in for torch.sparse.mm
    with lib.no_grad():
        out2 = model(x, A_norm)
    return {"losses": losses, "acc": acc, "out": out2, "nnz": A_norm.count_nonzero(),
            "is_sparse": A_norm.is_sparse}


@program
def examples_forward_forward(lib):
    nn = lib.nn

    def stamp_label(batch, labels):
        marked = batch.clone()
        marked[:, :3] *= 0.0
        marked[range(batch.shape[0]), labels] = batch.max()
        return marked

    class FFLayer(nn.Linear):
        def __init__(self, n_in, n_out):
            super().__init__(n_in, n_out)
            self.act = lib.nn.ReLU()
            self.optim = lib.optim.Adam(self.parameters(), lr=0.03)
            self.theta = 2.0
            self.rounds = 4

        def forward(self, inp):
            unit = inp / (inp.norm(2, 1, keepdim=True) + 1e-4)
            return self.act(lib.mm(unit, self.weight.T) + self.bias.unsqueeze(0))

        def goodness(self, inp):
            return self.forward(inp).pow(2).mean(1)

        def train(self, pos, neg):
            for _ in range(self.rounds):
                margins = lib.cat([self.theta - self.goodness(pos),
                                   self.goodness(neg) - self.theta])
                obj = lib.log(1 + lib.exp(margins)).mean()
                self.optim.zero_grad()
                obj.backward()
                self.optim.step()
            return self.forward(pos).detach(), self.forward(neg).detach()

    class FFStack(lib.nn.Module):
        def __init__(self, sizes):
            super().__init__()
            self.layers = [FFLayer(a, b) for a, b in zip(sizes[:-1], sizes[1:])]

        def predict(self, batch):
            scores = []
            for candidate in range(3):
                act = stamp_label(batch, candidate)
                total = 0
                for layer in self.layers:
                    act = layer(act)
                    total = total + act.pow(2).mean(1)
                scores.append(total.unsqueeze(1))
            return lib.cat(scores, 1).argmax(1)

        def train(self, pos, neg):
            for layer in self.layers:
                pos, neg = layer.train(pos, neg)

    stack = FFStack([10, 12, 12])
    for k, layer in enumerate(stack.layers):
        _load(lib, layer, 130 + k, 0.3)
    feats = lib.tensor(np.random.RandomState(135).rand(8, 10).astype(np.float32))
    labels = lib.tensor(np.random.RandomState(136).randint(0, 3, 8))
    shuffled = lib.tensor(np.random.RandomState(137).permutation(8))
    stack.train(stamp_label(feats, labels), stamp_label(feats, labels[shuffled]))
    guess = stack.predict(feats)
    return {"err": 1.0 - guess.eq(labels).float().mean().item(), "pred": guess,
            "w": [layer.weight for layer in stack.layers]}



@program
def examples_mnist_accelerator_dropout2d(lib):
    """Device choice through torch.accelerator, and a small conv net using Dropout2d and
    F.dropout(training=self.training), run in eval mode."""
    nn, F = lib.nn, lib.nn.functional
    have_accel = lib.accelerator.is_available()
    dev = lib.accelerator.current_accelerator() if have_accel else lib.device("cpu")
    loader_opts = dict(batch_size=8)
    if have_accel:
        loader_opts.update(num_workers=1, pin_memory=True, shuffle=True)

    class ConvDropNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_a = nn.Conv2d(1, 4, kernel_size=5)
            self.c_b = nn.Conv2d(4, 8, kernel_size=5)
            self.chan_drop = nn.Dropout2d()
            self.head = nn.Sequential(nn.Linear(128, 12), nn.ReLU())
            self.cls = nn.Linear(12, 10)

        def forward(self, img):
            h = F.max_pool2d(self.c_a(img), 2).relu()
            h = F.max_pool2d(self.chan_drop(self.c_b(h)), 2).relu()
            h = self.head(h.view(-1, 128))
            h = F.dropout(h, training=self.training)
            return F.log_softmax(self.cls(h), dim=1)

    net = _load(lib, ConvDropNet(), 23, 0.2).to(dev)
    net.eval()
    sgd = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.5)
    pairs = lib.utils.data.TensorDataset(lib.tensor(_MN_X[:16]), lib.tensor(_MN_Y[:16]))
    history = []
    for imgs, labels in lib.utils.data.DataLoader(pairs, **loader_opts):
        imgs = imgs.to(dev)
        labels = labels.to(dev)
        sgd.zero_grad()
        nll = F.nll_loss(net(imgs), labels)
        nll.backward()
        sgd.step()
        history.append(nll.item())
    with lib.no_grad() as bound:
        logp = net(lib.tensor(_MN_X[:4]))
    return {"accel": have_accel, "device": str(dev), "losses": history, "out": logp,
            "as": bound, "cur": lib.accelerator.current_accelerator(),
            "count": lib.accelerator.device_count(),
            "sync": _err(lambda: lib.accelerator.synchronize()),
            "idx": _err(lambda: lib.accelerator.current_device_index()),
            "mem": _err(lambda: lib.accelerator.memory_allocated())}



@program
def accelerator_api(lib):
    """torch.accelerator's answers on a machine without one (minigrad without a GPU)."""
    acc = lib.accelerator
    if acc.is_available():       # the comparison is of the CPU-only answers
        return "accelerator present"
    out = {"avail": acc.is_available(), "count": acc.device_count(),
           "cur": acc.current_accelerator(), "checked": acc.current_accelerator(True)}
    with acc.device_index(None):
        out["none_index"] = "ran"
    for name in ("current_device_index", "synchronize", "empty_cache", "memory_allocated",
                 "max_memory_allocated", "memory_reserved", "max_memory_reserved",
                 "memory_stats", "reset_peak_memory_stats", "get_memory_info"):
        out[name] = _err(getattr(acc, name))
    out["set"] = _err(lambda: acc.set_device_index(0))
    out["ctx"] = _err(lambda: acc.device_index(0).__enter__())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out["old"] = err(acc.current_device_idx)
    out["warned"] = [w.category.__name__ for w in caught]
    return out


@program
def grad_mode_context_binds_none(lib):
    """`with torch.no_grad() as g` (and the other grad-mode managers) binds None."""
    got = []
    for make in (lib.no_grad, lib.enable_grad, lambda: lib.set_grad_enabled(False),
                 lib.inference_mode, lambda: lib.autograd.set_detect_anomaly(False)):
        with make() as g:
            got.append(g)
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = x * 2
    return {"got": got, "rg": y.requires_grad}


@program
def examples_imagenet_accuracy_meters(lib):
    """Top-k precision of a batch and running-average bookkeeping, as an imagenet loop does."""
    def topk_precision(logits, labels, ks=(1,)):
        with lib.no_grad():
            n = labels.size(0)
            ranked = logits.topk(max(ks), 1, True, True)[1].t()
            hits = ranked.eq(labels.view(1, -1).expand_as(ranked))
            return [hits[:k].reshape(-1).float().sum(0, keepdim=True).mul_(100.0 / n)
                    for k in ks]

    class Running:
        def __init__(self):
            self.last, self.total, self.n, self.mean = 0, 0, 0, 0

        def add(self, value, weight=1):
            self.last = value
            self.total += value * weight
            self.n += weight
            self.mean = self.total / self.n

        def reduce_all(self):
            packed = lib.tensor([self.total, self.n], dtype=lib.float32)
            self.total, self.n = packed.tolist()
            self.mean = self.total / self.n

    m1, m5, mloss = Running(), Running(), Running()
    ce = lib.nn.CrossEntropyLoss()
    for it in range(3):
        logits = lib.tensor(_f32(6, 10, seed=500 + it))
        labels = lib.tensor(np.random.RandomState(510 + it).randint(0, 10, 6))
        p1, p5 = topk_precision(logits, labels, ks=(1, 5))
        bs = logits.size(0)
        mloss.add(ce(logits, labels).item(), bs)
        m1.add(p1[0], bs)
        m5.add(p5[0], bs)
    m1.reduce_all()
    lib.backends.cudnn.benchmark = False
    lib.backends.cudnn.deterministic = True
    return {"top1": m1.mean, "top5": (m5.mean, m5.last), "loss": mloss.mean,
            "det": lib.backends.cudnn.deterministic}



@program
def examples_mnist_rnn_and_hogwild(lib):
    nn, F = lib.nn, lib.nn.functional

    class RowLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(input_size=28, hidden_size=16, batch_first=True)
            self.norm = nn.BatchNorm1d(16)
            self.drop = nn.Dropout2d(0.25)
            self.mlp = nn.Sequential(nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 10))

        def forward(self, img):
            seq, _ = self.lstm(img.reshape(-1, 28, 28))
            feat = self.drop(self.norm(seq[:, -1, :]))
            return F.log_softmax(self.mlp(feat), dim=1)

    net = _load(lib, RowLSTM(), 520, 0.2)
    # hogwild-style weight sharing (minigrad's Module.share_memory leaves the parameters
    # where they are, so is_shared() differs: reported)
    net.share_memory()
    opt = lib.optim.Adadelta(net.parameters(), lr=1.0)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    imgs, labels = lib.tensor(_MN_X[:8]), lib.tensor(_MN_Y[:8])
    trace = []
    for _ in range(2):
        net.train()
        net.drop.eval()       # no dropout randomness; batch norm stays in train mode
        opt.zero_grad()
        nll = F.nll_loss(net(imgs), labels)
        nll.backward()
        opt.step()
        sched.step()
        trace.append(nll.item())
    net.eval()
    with lib.no_grad():
        logp = net(imgs)
    return {"losses": trace, "out": logp, "bn": net.norm.running_var,
            "lr": sched.get_last_lr()}



@program
def examples_snli_bilstm(lib):
    nn = lib.nn

    class SentenceLSTM(nn.Module):
        def __init__(self, width=6, hid=5, depth=2, both_ways=True):
            super().__init__()
            self.lstm = nn.LSTM(input_size=width, hidden_size=hid, num_layers=depth,
                                dropout=0.0, bidirectional=both_ways)
            self.states = depth * (2 if both_ways else 1)
            self.hid, self.both_ways = hid, both_ways

        def forward(self, seq):
            bsz = seq.size()[1]
            zero = seq.new_zeros((self.states, bsz, self.hid))
            _, (h_last, _) = self.lstm(seq, (zero, zero))
            if self.both_ways:
                return h_last[-2:].transpose(0, 1).contiguous().view(bsz, -1)
            return h_last[-1]

    class FlattenFirstTwo(nn.Module):
        def forward(self, inp):
            if inp.dim() <= 2:
                return super().forward(inp)
            lead = inp.size()[:2]
            flat = super().forward(inp.view(lead[0] * lead[1], -1))
            return flat.view(lead[0], lead[1], -1)

    class SeqLinear(FlattenFirstTwo, nn.Linear):
        pass

    class PairClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 6)
            self.proj = SeqLinear(6, 6)
            self.sent = SentenceLSTM()
            self.act = nn.ReLU()
            self.head = nn.Sequential(nn.Linear(20, 8), self.act, nn.Linear(8, 3))

        def encode(self, tokens):
            return self.sent(self.act(self.proj(self.emb(tokens).detach())))

        def forward(self, left, right):
            return self.head(lib.cat([self.encode(left), self.encode(right)], 1))

    net = _load(lib, PairClassifier(), 530, 0.3)
    left = lib.tensor(np.random.RandomState(531).randint(0, 20, (7, 3)))
    right = lib.tensor(np.random.RandomState(532).randint(0, 20, (5, 3)))
    gold = lib.tensor([0, 2, 1])
    adam = lib.optim.Adam(net.parameters(), lr=0.01)
    logits = net(left, right)
    hits = (lib.max(logits, 1)[1].view(gold.size()) == gold).sum().item()
    nn.CrossEntropyLoss()(logits, gold).backward()
    adam.step()
    return {"answer": logits, "n_correct": hits, "grads": _grads(net),
            "embed_grad": net.emb.weight.grad,
            "mro": [c.__name__ for c in SeqLinear.__mro__][:3]}



@program
def examples_language_translation_masks(lib):
    nn = lib.nn
    PAD = 1
    scale = math.sqrt(8)

    def causal(n):
        keep = (lib.triu(lib.ones((n, n))) == 1).transpose(0, 1)
        return keep.float().masked_fill(keep == 0, float("-inf")).masked_fill(keep == 1, 0.0)

    def all_masks(src, tgt):
        return (lib.zeros((src.shape[0], src.shape[0])).type(lib.bool), causal(tgt.shape[0]),
                (src == PAD).transpose(0, 1), (tgt == PAD).transpose(0, 1))

    class Translator(nn.Module):
        def __init__(self):
            super().__init__()
            self.core = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
                                       num_decoder_layers=1, dim_feedforward=16, dropout=0.0)
            self.to_vocab = nn.Linear(8, 11)
            self.emb_in = nn.Embedding(11, 8)
            self.emb_out = nn.Embedding(11, 8)

        def forward(self, src, tgt, m_src, m_tgt, pad_src, pad_tgt, pad_mem):
            hidden = self.core(self.emb_in(src.long()) * scale, self.emb_out(tgt.long()) * scale,
                               m_src, m_tgt, None, pad_src, pad_tgt, pad_mem)
            return self.to_vocab(hidden)

        def run_encoder(self, src, m_src):
            return self.core.encoder(self.emb_in(src) * scale, m_src)

        def run_decoder(self, tgt, mem, m_tgt):
            return self.core.decoder(self.emb_out(tgt) * scale, mem, m_tgt)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = Translator()
    _load(lib, net, 540, 0.3)
    for w in net.parameters():
        if w.dim() > 1:
            nn.init.xavier_uniform_(w)       # random init: overwritten by the reload below
    _load(lib, net, 540, 0.3)
    src = lib.tensor([[2, 4], [5, 6], [7, PAD], [3, PAD]])
    tgt = lib.tensor([[2, 2], [8, 9], [3, 3], [PAD, PAD]])
    masks = all_masks(src, tgt[:-1, :])
    ce = nn.CrossEntropyLoss(ignore_index=PAD)
    adam = lib.optim.Adam(net.parameters(), lr=0.001, betas=(0.9, 0.98), eps=1e-9)
    net.train()
    logits = net(src, tgt[:-1, :], *masks, masks[2])
    loss = ce(logits.reshape(-1, logits.shape[-1]), tgt[1:, :].reshape(-1))
    adam.zero_grad()
    loss.backward()
    adam.step()
    net.eval()
    mem = net.run_encoder(src[:, :1], lib.zeros(4, 4).type(lib.bool))
    seq = lib.ones(1, 1).fill_(2).type(lib.long)
    for _ in range(3):
        dec = net.run_decoder(seq, mem, causal(seq.size(0)).type(lib.bool)).transpose(0, 1)
        best = lib.max(net.to_vocab(dec[:, -1]), dim=1)[1].item()
        seq = lib.cat([seq, lib.ones(1, 1).type_as(src.data).fill_(best)], dim=0)
    return {"masks": masks, "logits": logits, "loss": loss, "ys": seq.flatten(),
            "memory": mem}



@program
def examples_gat(lib):
    nn, F = lib.nn, lib.nn.functional

    class HeadAttention(nn.Module):
        def __init__(self, d_in, d_out, heads, merge=False, p=0.4, slope=0.2):
            super().__init__()
            if merge:
                assert d_out % heads == 0
            self.heads, self.merge, self.p = heads, merge, p
            self.width = d_out // heads if merge else d_out
            self.proj = nn.Parameter(lib.empty(size=(d_in, self.width * heads)))
            self.att = nn.Parameter(lib.empty(size=(heads, 2 * self.width, 1)))
            self.act = nn.LeakyReLU(slope)
            for w in (self.proj, self.att):
                nn.init.xavier_normal_(w)

        def scores(self, h):
            left = lib.matmul(h, self.att[:, :self.width, :])
            right = lib.matmul(h, self.att[:, self.width:, :])
            return self.act(left + right.mT)

        def forward(self, x, adj):
            nodes = x.shape[0]
            h = F.dropout(lib.mm(x, self.proj), self.p, training=self.training)
            h = h.view(nodes, self.heads, self.width).permute(1, 0, 2)
            logits = self.scores(h)
            logits = lib.where(adj > 0, logits, lib.ones_like(logits) * -9e16)
            weights = F.dropout(F.softmax(logits, dim=-1), self.p, training=self.training)
            mixed = lib.matmul(weights, h)
            if not self.merge:
                return mixed.mean(dim=0)
            return mixed.permute(1, 0, 2).contiguous().view(nodes, -1)

    class TwoLayerGAT(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = HeadAttention(6, 8, heads=2, merge=True)
            self.second = HeadAttention(8, 3, heads=1, merge=False)

        def forward(self, x, adj):
            return F.log_softmax(self.second(F.elu(self.first(x, adj)), adj), dim=1)

    rng = np.random.RandomState(550)
    links = (rng.rand(9, 9) < 0.3).astype(np.float32)
    adj = lib.tensor(np.maximum(links, links.T) + np.eye(9, dtype=np.float32))
    feats = lib.tensor(rng.rand(9, 6).astype(np.float32))
    labels = lib.tensor(rng.randint(0, 3, 9))
    net = _load(lib, TwoLayerGAT(), 551, 0.4).eval()
    adam = lib.optim.Adam(net.parameters(), lr=0.005, weight_decay=5e-4)
    seen = lib.arange(0, 6)
    trace = []
    for _ in range(3):
        adam.zero_grad()
        logp = net(feats, adj)
        nll = F.nll_loss(logp[seen], labels[seen])
        nll.backward()
        adam.step()
        trace.append(nll.item())
    acc = (logp.argmax(dim=1)[6:] == labels[6:]).sum().item() / 3
    return {"losses": trace, "acc": acc, "out": logp, "grads": _grads(net)}



@program
def examples_vision_transformer_unfold(lib):
    """pytorch/examples' ViT: patches by Tensor.unfold, a class token and TransformerEncoder."""
    nn = lib.nn

    class PatchExtractor(nn.Module):
        def __init__(self, patch_size=4):
            super().__init__()
            self.patch_size = patch_size

        def forward(self, input_data):
            batch_size, channels, height, width = input_data.size()
            assert height % self.patch_size == 0 and width % self.patch_size == 0, \
                f"Input height ({height}) and width ({width}) must be divisible by patch size"
            num_patches_h = height // self.patch_size
            num_patches_w = width // self.patch_size
            num_patches = num_patches_h * num_patches_w
            patches = input_data.unfold(2, self.patch_size, self.patch_size). \
                unfold(3, self.patch_size, self.patch_size). \
                permute(0, 2, 3, 1, 4, 5). \
                contiguous(). \
                view(batch_size, num_patches, -1)
            return patches

    class InputEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            self.patches = PatchExtractor(4)
            self.LinearProjection = nn.Linear(3 * 4 * 4, 8)
            self.ClassToken = nn.Parameter(lib.zeros(1, 1, 8))
            self.PositionalEmbedding = nn.Parameter(lib.zeros(1, 17, 8))

        def forward(self, input_data):
            patches = self.patches(input_data)
            linear_projection = self.LinearProjection(patches)
            b, n, _ = linear_projection.shape
            linear_projection = lib.cat((self.ClassToken.repeat(b, 1, 1),
                                         linear_projection), dim=1)
            return linear_projection + self.PositionalEmbedding[:, :n + 1, :]

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = InputEmbedding()
            layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.MLPHead = nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 16), nn.GELU(),
                                         nn.Linear(16, 5))

        def forward(self, x):
            enc = self.encoder(self.embedding(x))
            return self.MLPHead(enc[:, 0, :])

    model = _load(lib, ViT(), 560, 0.3)
    x = lib.tensor(np.random.RandomState(561).randn(2, 3, 16, 16).astype(np.float32))
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), lib.tensor([1, 4]))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "patches": PatchExtractor(4)(x)[0, :2],
            "bad": _err(lambda: PatchExtractor(5)(x)), "out": model(x)}


@program
def factory_size_keyword(lib):
    """torch.empty(size=(n, m)) as the GAT example writes it, and the other factories."""
    out = {name: getattr(lib, name)(size=(2, 3)).shape
           for name in ("empty", "zeros", "ones", "rand", "randn")}
    out["list"] = lib.zeros(size=[2]).shape
    out["scalar"] = lib.ones(size=()).shape
    out["Size"] = lib.zeros(size=lib.Size([1, 2]), dtype=lib.float64).dtype
    out["gen"] = lib.rand(size=(3,), generator=lib.Generator().manual_seed(0)).shape
    out["grad"] = lib.zeros(size=(2,), requires_grad=True).requires_grad
    out["twice"] = _err(lambda: lib.zeros(2, size=(2,)))
    out["int"] = _err(lambda: lib.ones(size=2))
    return out


@program
def examples_word_language_generate(lib):
    """generate.py's loop: word weights from the log-probabilities, the next word written into
    the input with fill_ (greedy here: multinomial's draws differ between libraries)."""
    model = _rnn_model(lib, "GRU")
    model.eval()
    model.rnn.flatten_parameters()
    hidden = model.init_hidden(1)
    inp = lib.zeros((1, 1), dtype=lib.long)
    inp.fill_(3)
    words, weights = [], []
    with lib.no_grad():
        for i in range(8):
            output, hidden = model(inp, hidden)
            word_weights = output.squeeze().div(0.7).exp().cpu()
            word_idx = lib.argmax(word_weights)
            inp.fill_(word_idx)
            words.append(word_idx.item())
            weights.append(word_weights.sum())
    peaked = lib.zeros(15)
    peaked[4] = 1.0
    return {"words": words, "weights": weights, "hidden": hidden,
            "sampled": lib.multinomial(peaked, 1)[0], "inp": inp}


@program
def timm_ema_foreach(lib):
    """A weight EMA with a warmup on the decay, updated in one go: _foreach_lerp_ over the
    floating entries of the state dict (the _foreach_mul_/_foreach_add_ pair where lerp is
    missing), copy_ for the integer counters."""
    nn = lib.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    _load(lib, model, 480, 0.5)
    ema = copy.deepcopy(model).eval()
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    x = lib.tensor(_f32(8, 3, seed=481))

    def warmed_decay(step, ceiling=0.9, power=2 / 3):
        # small early (the average follows the model closely), rising to the ceiling
        return max(0.0, min(ceiling, 1 - (1 + step) ** -power))

    def follow(decay):
        pairs = list(zip(ema.state_dict().values(), model.state_dict().values()))
        floats = [(e, m) for e, m in pairs if e.is_floating_point()]
        for e, m in pairs:
            if not e.is_floating_point():
                e.copy_(m)
        mine, theirs = [e for e, _ in floats], [m for _, m in floats]
        if not hasattr(lib, "_foreach_lerp_"):
            lib._foreach_mul_(mine, scalar=decay)
            lib._foreach_add_(mine, theirs, alpha=1.0 - decay)
        else:
            lib._foreach_lerp_(mine, theirs, weight=1.0 - decay)

    decays = []
    for step in range(4):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        decays.append(warmed_decay(step))
        with lib.no_grad():
            follow(decays[-1])
    return {"decays": decays, "ema": ema.state_dict(), "out": ema(x)}


# ----------------------------------------------------------------------------------------------
# 2. nanoGPT
# ----------------------------------------------------------------------------------------------
def _nanogpt(lib, block_size=8, vocab_size=17, n_layer=2, n_head=2, n_embd=8, dropout=0.0,
             bias=True, flash=True):
    nn, F, init = lib.nn, lib.nn.functional, lib.nn.init
    head_dim = n_embd // n_head

    class NormMaybeBias(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.weight = nn.Parameter(lib.ones(width))
            self.bias = nn.Parameter(lib.zeros(width)) if bias else None

        def forward(self, h):
            return F.layer_norm(h, (n_embd,), weight=self.weight, bias=self.bias, eps=1e-5)

    class MaskedHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(n_embd, n_embd * 3, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.p_drop, self.out_drop = nn.Dropout(dropout), nn.Dropout(dropout)
            self.fused = flash and hasattr(F, "scaled_dot_product_attention")
            if not self.fused:
                lower = lib.tril(lib.ones(block_size, block_size))
                self.register_buffer("bias", lower.view(1, 1, block_size, block_size))

        def explicit(self, q, k, v, nt):
            # softmax(q k^T / sqrt(d)) v with the future masked out through the tril buffer
            scores = q @ k.transpose(-2, -1) * head_dim ** -0.5
            scores = scores.masked_fill(self.bias[:, :, :nt, :nt] == 0, float("-inf"))
            return self.p_drop(F.softmax(scores, dim=-1)) @ v

        def forward(self, h):
            nb, nt, width = h.size()
            heads = [part.view(nb, nt, n_head, head_dim).transpose(1, 2)
                     for part in self.c_attn(h).split(width, dim=2)]
            mixed = (F.scaled_dot_product_attention(*heads, attn_mask=None, is_causal=True,
                                                    dropout_p=dropout if self.training else 0)
                     if self.fused else self.explicit(*heads, nt))
            merged = mixed.transpose(1, 2).contiguous().view(nb, nt, width)
            return self.out_drop(self.c_proj(merged))

    class FeedForward(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, n_embd * 4, bias=bias)
            self.act = nn.GELU()
            self.c_proj = nn.Linear(n_embd * 4, n_embd, bias=bias)
            self.out_drop = nn.Dropout(dropout)

        def forward(self, h):
            return self.out_drop(self.c_proj(self.act(self.c_fc(h))))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = NormMaybeBias(n_embd), MaskedHeads()
            self.ln_2, self.mlp = NormMaybeBias(n_embd), FeedForward()

        def forward(self, h):
            h = self.attn(self.ln_1(h)) + h
            return self.mlp(self.ln_2(h)) + h

    def reset(mod):
        if isinstance(mod, (nn.Linear, nn.Embedding)):
            init.normal_(mod.weight, mean=0.0, std=0.02)
        if isinstance(mod, nn.Linear) and mod.bias is not None:
            init.zeros_(mod.bias)

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            parts = nn.ModuleDict()
            parts["wte"] = nn.Embedding(vocab_size, n_embd)
            parts["wpe"] = nn.Embedding(block_size, n_embd)
            parts["drop"] = nn.Dropout(dropout)
            parts["h"] = nn.ModuleList(Layer() for _ in range(n_layer))
            parts["ln_f"] = NormMaybeBias(n_embd)
            self.transformer = parts
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            parts.wte.weight = self.lm_head.weight
            self.apply(reset)
            for layer in parts.h:
                for out_proj in (layer.attn.c_proj, layer.mlp.c_proj):
                    init.normal_(out_proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def count_params(self, skip_positions=True):
            total = sum(w.numel() for w in self.parameters())
            return total - self.transformer.wpe.weight.numel() if skip_positions else total

        def forward(self, tokens, labels=None):
            nt = tokens.size(1)
            if nt > self.block_size:
                raise ValueError(f"{nt} tokens do not fit a context of {self.block_size}")
            where = lib.arange(0, nt, dtype=lib.long, device=tokens.device)
            t = self.transformer
            h = t.drop(t.wte(tokens) + t.wpe(where))
            for layer in t.h:
                h = layer(h)
            h = t.ln_f(h)
            if labels is None:
                return self.lm_head(h[:, [-1], :]), None
            logits = self.lm_head(h)
            flat = logits.view(-1, logits.size(-1))
            return logits, F.cross_entropy(flat, labels.view(-1), ignore_index=-1)

        def shrink_context(self, n):
            if n > self.block_size:
                raise ValueError("can only shrink the context")
            self.block_size = n
            table = self.transformer.wpe
            table.weight = nn.Parameter(table.weight[:n])
            for layer in self.transformer.h:
                if hasattr(layer.attn, "bias"):
                    layer.attn.bias = layer.attn.bias[:, :, :n, :n]

        def make_optimizer(self, decay, lr, betas, device_type):
            trainable = [w for w in self.parameters() if w.requires_grad]
            matrices = [w for w in trainable if w.dim() >= 2]
            vectors = [w for w in trainable if w.dim() < 2]
            self.counts = (len(matrices), sum(w.numel() for w in matrices),
                           len(vectors), sum(w.numel() for w in vectors))
            kwargs = {}
            if device_type == "cuda" and "fused" in inspect.signature(lib.optim.AdamW).parameters:
                kwargs["fused"] = True
            groups = [dict(params=matrices, weight_decay=decay),
                      dict(params=vectors, weight_decay=0.0)]
            return lib.optim.AdamW(groups, lr=lr, betas=betas, **kwargs)

        def utilisation(self, passes, seconds, peak_flops=312e12):
            # training flops per token: 6 per weight, plus the attention's 12 * layers *
            # width * context; over ``passes`` sequences of full context in ``seconds``
            ctx = self.block_size
            attention = 12 * n_layer * n_head * head_dim * ctx
            done = (6 * self.count_params() + attention) * ctx * passes
            return done / seconds / peak_flops

        def next_scores(self, tokens, temperature, top_k):
            # the last position's logits over the window that fits, cooled, cut to the top k
            scores = self(tokens[:, -self.block_size:])[0][:, -1, :] / temperature
            if top_k is not None:
                floor = lib.topk(scores, min(top_k, scores.size(-1)))[0][:, [-1]]
                scores[scores < floor] = -float("inf")
            return scores

        @lib.no_grad()
        def sample(self, tokens, steps, temperature=1.0, top_k=None):
            for _ in range(steps):
                probs = F.softmax(self.next_scores(tokens, temperature, top_k), dim=-1)
                tokens = lib.cat((tokens, lib.multinomial(probs, num_samples=1)), dim=1)
            return tokens

    return TinyGPT()


_GPT_DATA = np.random.RandomState(300).randint(0, 17, 200).astype(np.uint16)


@program
def nanogpt_model_paths(lib):
    res = {}
    for flash in (True, False):
        for bias in (True, False):
            model = _nanogpt(lib, flash=flash, bias=bias)
            names = [n for n, _ in model.named_parameters()]
            tied = model.transformer.wte.weight is model.lm_head.weight
            cproj_std = [float(p.std()) < 0.03 for n, p in model.named_parameters()
                         if n.endswith("c_proj.weight")]
            _load(lib, model, 301, 0.3)
            idx = lib.tensor(np.random.RandomState(302).randint(0, 17, (2, 8)))
            tgt = idx.roll(-1, 1)
            tgt[:, -1] = -1
            logits, loss = model(idx, tgt)
            loss.backward()
            last, none = model(idx)
            res[f"{flash}-{bias}"] = {
                "names": names, "tied": tied, "std": cproj_std, "logits": logits, "loss": loss,
                "last": last, "none": none, "grads": _grads(model),
                "n": model.count_params(), "n_all": model.count_params(False),
                "sd": sorted(model.state_dict().keys()),
                "buffers": [n for n, _ in model.named_buffers()]}
    res["too_long"] = _err(lambda: model(lib.zeros(1, 9, dtype=lib.long)))
    return res


@program
def nanogpt_flash_matches_manual(lib):
    a, b = _nanogpt(lib, flash=True), _nanogpt(lib, flash=False)
    _load(lib, a, 310, 0.5)
    b.load_state_dict(a.state_dict(), strict=False)
    idx = lib.tensor(np.random.RandomState(311).randint(0, 17, (3, 7)))
    la, _ = a(idx, idx)
    lb, _ = b(idx, idx)
    missing = b.load_state_dict(a.state_dict(), strict=False)
    return {"same": lib.allclose(la, lb, atol=1e-5), "la": la,
            "missing": list(missing.missing_keys), "unexpected": list(missing.unexpected_keys)}


@program
def nanogpt_generate_and_crop(lib):
    model = _nanogpt(lib, flash=False)
    _load(lib, model, 320, 0.8)
    model.eval()
    idx = lib.zeros((2, 1), dtype=lib.long)
    idx[1, 0] = 5
    # top_k=1 leaves one token with probability one: multinomial's choice is determined
    out = model.sample(idx, 12, temperature=0.8, top_k=1)
    greedy = model.sample(idx, 3, top_k=1)
    model.shrink_context(4)
    cropped = model.sample(idx, 6, top_k=1)
    probs = lib.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    return {"out": out, "greedy": greedy, "cropped": cropped, "wpe": model.transformer.wpe.weight,
            "bias": model.transformer.h[0].attn.bias, "bs": model.block_size,
            "grad": out.requires_grad, "mn": lib.multinomial(probs, 2, replacement=True),
            "crop_err": _err(lambda: model.shrink_context(9)),
            "ids": lib.tensor([[1, 2]]).new_tensor(out.tolist()).dtype}


@program
def nanogpt_train_loop(lib):
    import contextlib
    ctx_len, rows, accum = 8, 4, 2
    peak, floor = 6e-3, 6e-4
    warm, decay_end, steps = 2, 6, 7
    lib.backends.cuda.matmul.allow_tf32 = True
    lib.backends.cudnn.allow_tf32 = True
    use_half, on_cpu = False, True
    amp_dtype = lib.float16 if use_half else lib.float32
    autocast = (contextlib.nullcontext() if on_cpu
                else lib.amp.autocast(device_type="cuda", dtype=amp_dtype))
    splits = {"train": _GPT_DATA[:150], "val": _GPT_DATA[150:]}
    rng = np.random.RandomState(330)

    def batch(which):
        seq = splits[which]
        starts = rng.randint(0, len(seq) - ctx_len, rows)     # numpy stands in for torch.randint
        windows = [seq[s:s + ctx_len + 1].astype(np.int64) for s in starts]
        inputs = lib.stack([lib.from_numpy(w[:-1]) for w in windows])
        labels = lib.stack([lib.from_numpy(w[1:]) for w in windows])
        return inputs, labels

    def mean_losses():
        net.eval()
        report = {}
        with lib.no_grad():
            for which in ("train", "val"):
                acc = lib.zeros(2)
                for j in range(2):
                    with autocast:
                        acc[j] = net(*batch(which))[1].item()
                report[which] = acc.mean()
        net.train()
        return report

    def schedule(step):
        # three phases: a linear ramp to the peak, half a cosine wave down to the floor
        # (reached at decay_end), then the floor
        in_ramp, in_decay = step < warm, warm <= step <= decay_end
        if in_decay:
            cosine = 0.5 * (1.0 + math.cos(math.pi * (step - warm) / (decay_end - warm)))
            return floor + (peak - floor) * cosine
        return (step + 1) / (warm + 1) * peak if in_ramp else floor

    net = _nanogpt(lib, block_size=ctx_len)
    _load(lib, net, 331, 0.3)
    scaler = lib.amp.GradScaler(enabled=amp_dtype == lib.float16)
    opt = net.make_optimizer(0.1, peak, (0.9, 0.95), "cpu")
    xb, yb = batch("train")
    history, lrs, evals = [], [], []
    smoothed = None
    for step in range(steps):
        lrs.append(schedule(step))
        for group in opt.param_groups:
            group["lr"] = lrs[-1]
        if step % 3 == 0:
            evals.append(mean_losses())
        for _ in range(accum):
            with autocast:
                part = net(xb, yb)[1] / accum
            xb, yb = batch("train")
            scaler.scale(part).backward()
        scaler.unscale_(opt)
        total_norm = lib.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        util = net.utilisation(rows * accum, 0.5)
        smoothed = util if smoothed is None else 0.9 * smoothed + 0.1 * util
        history.append((part.item() * accum, total_norm.item()))
    saved = {"model": net.state_dict(), "optimizer": opt.state_dict(), "iter_num": step}
    net.zero_grad(set_to_none=True)
    return {"history": history, "lrs": lrs, "evals": evals, "mfu": smoothed,
            "counts": net.counts, "grad": net.lm_head.weight.grad,
            "groups": [(g["weight_decay"], len(g["params"])) for g in opt.param_groups],
            "scale": scaler.get_scale(), "enabled": scaler.is_enabled(),
            "ckpt_keys": sorted(saved["model"])[:5],
            "opt_state": sorted(saved["optimizer"]["state"][0]),
            "fused": "fused" in inspect.signature(lib.optim.AdamW).parameters}


@program
def nanogpt_from_pretrained_copy(lib):
    """from_pretrained's copy: the masked-bias buffers skipped, Conv1D weights transposed."""
    model = _nanogpt(lib, flash=False, bias=True)
    own = model.state_dict()
    wanted = [name for name in own if not name.endswith(".attn.bias")]
    conv1d = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
              "mlp.c_proj.weight")
    rng = np.random.RandomState(340)
    hub = {}
    for name in wanted:
        dims = tuple(own[name].shape)
        stored = dims[::-1] if name.endswith(conv1d) else dims
        hub[name] = lib.tensor(rng.randn(*stored).astype(np.float32))
    with lib.no_grad():
        for name in wanted:
            src = hub[name].t() if name.endswith(conv1d) else hub[name]
            assert src.shape == own[name].shape
            own[name].copy_(src)
    logits, _ = model(lib.tensor([[1, 2, 3, 4]]))
    tied = lib.equal(model.lm_head.weight, model.transformer.wte.weight)
    return {"logits": logits, "n_keys": len(wanted), "tied_after": tied,
            "w": model.transformer.h[1].mlp.c_fc.weight}


@program
def nanogpt_checkpoint_with_config(lib):
    """A checkpoint dict holding, besides tensors, a dtype, a device and a shape (nanoGPT-
    style configs keep the dtype; others keep x.shape), saved and loaded back."""
    model = _nanogpt(lib, flash=True)
    _load(lib, model, 350, 0.2)
    opt = model.make_optimizer(0.1, 1e-3, (0.9, 0.95), "cpu")
    idx = lib.tensor([[1, 2, 3]])
    model(idx, idx)[1].backward()
    opt.step()
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(),
            "model_args": dict(n_layer=2, n_head=2, n_embd=8, block_size=8, bias=True,
                               vocab_size=17, dropout=0.0),
            "iter_num": 1, "best_val_loss": lib.tensor(2.5),
            "config": {"dtype": lib.float16, "device": lib.device("cpu"),
                       "shape": idx.shape, "dtypes": [lib.int64, lib.float32],
                       "nested": (lib.bool, lib.Size([]))}}
    buf = io.BytesIO()
    lib.save(ckpt, buf)
    buf.seek(0)
    back = lib.load(buf, map_location="cpu")
    compiled_tag = "_orig_mod."      # torch.compile's wrapper prefixes every key with this
    weights = {key.removeprefix(compiled_tag): t for key, t in back["model"].items()}
    fresh = _nanogpt(lib, flash=True)
    fresh.load_state_dict(weights)
    cfg = back["config"]
    # (minigrad's device and dtype classes are Device and DType: devices compared by str)
    cfg["device"] = str(cfg["device"])
    return {"config": cfg, "types": type(cfg["shape"]).__name__,
            "x": lib.zeros(2, dtype=cfg["dtype"], device=back["config"]["device"]),
            "args": back["model_args"], "logits": fresh(idx)[0], "iter": back["iter_num"],
            "loss": back["best_val_loss"], "opt": back["optimizer"]["state"][0]["exp_avg"]}


# ----------------------------------------------------------------------------------------------
# 3. timm / torchvision-style blocks
# ----------------------------------------------------------------------------------------------
def _drop_path(lib, x, p=0.0, training=False, rescale=True):
    if not training or p == 0.0:
        return x
    survive = 1.0 - p
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(survive)
    if rescale and survive > 0.0:
        mask.div_(survive)
    return mask * x


def _timm_layers(lib):
    nn, F = lib.nn, lib.nn.functional

    class DropSample(nn.Module):
        def __init__(self, p=0.0, rescale=True):
            super().__init__()
            self.p, self.rescale = p, rescale

        def forward(self, x):
            return _drop_path(lib, x, self.p, self.training, self.rescale)

        def extra_repr(self):
            return f"p={self.p:.3f}"

    class ChannelGain(nn.Module):
        def __init__(self, dim, init=1e-5, inplace=False):
            super().__init__()
            self.inplace = inplace
            self.scale = nn.Parameter(lib.ones(dim) * init)

        def forward(self, x):
            if self.inplace:
                return x.mul_(self.scale)
            return x * self.scale

    class ConvNeXtUnit(nn.Module):
        def __init__(self, dim, drop=0.0, gain=1e-6):
            super().__init__()
            self.spatial = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
            self.gain = (nn.Parameter(lib.ones(dim) * gain, requires_grad=True)
                         if gain > 0 else None)
            self.skip_drop = DropSample(drop) if drop > 0.0 else nn.Identity()

        def forward(self, x):
            h = self.mlp(self.norm(self.spatial(x).permute(0, 2, 3, 1)))
            if self.gain is not None:
                h = h * self.gain
            return x + self.skip_drop(h.permute(0, 3, 1, 2))

    class ChannelsFirstNorm(nn.Module):
        def __init__(self, width, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(lib.ones(width))
            self.bias = nn.Parameter(lib.zeros(width))

        def forward(self, x):
            centred = x - x.mean(1, keepdim=True)
            var = centred.pow(2).mean(1, keepdim=True)
            normed = centred / lib.sqrt(var + self.eps)
            return normed * self.weight[:, None, None] + self.bias[:, None, None]

    class ConvGate(nn.Module):
        def __init__(self, chs, ratio=0.25):
            super().__init__()
            mid = max(1, int(chs * ratio))
            self.squeeze = nn.Conv2d(chs, mid, 1, bias=True)
            self.relu = nn.ReLU(inplace=True)
            self.excite = nn.Conv2d(mid, chs, 1, bias=True)
            self.sig = nn.Sigmoid()

        def forward(self, x):
            pooled = F.adaptive_avg_pool2d(x, 1)
            return self.sig(self.excite(self.relu(self.squeeze(pooled)))) * x

    class LinearGate(nn.Module):
        def __init__(self, chs, r=4):
            super().__init__()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.mlp = nn.Sequential(nn.Linear(chs, chs // r, bias=False), nn.ReLU(inplace=True),
                                     nn.Linear(chs // r, chs, bias=False), nn.Sigmoid())

        def forward(self, x):
            n, c = x.shape[:2]
            weights = self.mlp(self.pool(x).view(n, c)).view(n, c, 1, 1)
            return weights.expand_as(x) * x

    def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
        mods = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout)]
        return mods + [nn.ReLU6(inplace=True)] if act else mods

    class MobileUnit(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = int(round(cin * expand))
            self.residual = cin == cout and stride == 1
            seq = conv_bn(cin, hidden, 1) if expand != 1 else []
            seq += conv_bn(hidden, hidden, 3, stride, groups=hidden)
            seq += conv_bn(hidden, cout, 1, act=False)
            self.conv = nn.Sequential(*seq)

        def forward(self, x):
            y = self.conv(x)
            return y + x if self.residual else y

    class ResBasic(nn.Module):
        expansion = 1

        def __init__(self, cin, width, stride=1, shortcut=None):
            super().__init__()
            self.c1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
            self.n1 = nn.BatchNorm2d(width)
            self.c2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
            self.n2 = nn.BatchNorm2d(width)
            self.act = nn.ReLU(inplace=True)
            self.shortcut = shortcut

        def forward(self, x):
            y = self.n2(self.c2(self.act(self.n1(self.c1(x)))))
            y += x if self.shortcut is None else self.shortcut(x)
            return self.act(y)

    class ResBottle(nn.Module):
        expansion = 4

        def __init__(self, cin, width, stride=1, shortcut=None, groups=1, base_width=64):
            super().__init__()
            mid = groups * int(width * base_width / 64.0)
            out = width * self.expansion
            self.c1, self.n1 = nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid)
            self.c2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=groups, bias=False)
            self.n2 = nn.BatchNorm2d(mid)
            self.c3, self.n3 = nn.Conv2d(mid, out, 1, bias=False), nn.BatchNorm2d(out)
            self.act = nn.ReLU(inplace=True)
            self.shortcut = shortcut

        def forward(self, x):
            y = self.act(self.n1(self.c1(x)))
            y = self.n3(self.c3(self.act(self.n2(self.c2(y)))))
            y += x if self.shortcut is None else self.shortcut(x)
            return self.act(y)

    return dict(DropPath=DropSample, LayerScale=ChannelGain, ConvNeXtBlock=ConvNeXtUnit,
                ConvNeXtLayerNorm=ChannelsFirstNorm, SqueezeExcite=ConvGate,
                SELayer=LinearGate, InvertedResidual=MobileUnit, BasicBlock=ResBasic,
                Bottleneck=ResBottle)


_IMG = np.random.RandomState(400).randn(2, 8, 8, 8).astype(np.float32)


@program
def timm_droppath_layerscale(lib):
    L = _timm_layers(lib)
    x = lib.tensor(_IMG)
    dp = L["DropPath"](0.3)
    dp.eval()
    ev = dp(x)
    dp.train()
    tr = dp(x)
    # in train mode each sample is either zeroed or scaled by 1/keep
    per = (tr / x).flatten(1)
    kinds = sorted({round(v, 4) for v in per[:, 0].tolist()} | {0.0, round(1 / 0.7, 4)})
    # (within rounding: x / keep / x is not exactly 1 / keep for every float32 x)
    whole = bool((((per - per[:, :1]).abs() < 1e-5) | lib.isnan(per)).all())
    zero = L["DropPath"](0.0).train()(x)
    ls = L["LayerScale"](8, init=0.1)
    y = x.permute(0, 2, 3, 1).clone()
    out = ls(y)
    ls_in = L["LayerScale"](8, init=0.5, inplace=True)
    y2 = y.clone()
    out2 = ls_in(y2)
    ne = x.new_empty((2, 1, 1, 1))
    return {"ev": ev is x, "kinds": kinds, "whole": whole, "zero": zero is x, "out": out,
            "inplace": out2.data_ptr() == y2.data_ptr(), "out2": out2, "repr": repr(dp),
            "ne": (ne.shape, ne.dtype), "b": lib.ones(4).bernoulli_(1.0),
            "b0": lib.ones(4).bernoulli_(0.0)}


@program
def timm_convnext(lib):
    nn = lib.nn
    L = _timm_layers(lib)
    stem = nn.Sequential(nn.Conv2d(3, 8, kernel_size=4, stride=4),
                         L["ConvNeXtLayerNorm"](8, eps=1e-6))
    blocks = nn.Sequential(*[L["ConvNeXtBlock"](8, drop=dp, gain=0.5)
                             for dp in (0.0, 0.1)])
    head_norm = nn.LayerNorm(8, eps=1e-6)
    head = nn.Linear(8, 5)
    model = nn.ModuleDict(dict(stem=stem, blocks=blocks, norm=head_norm, head=head))
    _load(lib, model, 401, 0.3)
    model.eval()
    x = lib.tensor(np.random.RandomState(402).randn(2, 3, 16, 16).astype(np.float32))

    def forward(x):
        x = blocks(stem(x))
        x = head_norm(x.mean([-2, -1]))
        return head(x)

    out = forward(x)
    out.sum().backward()
    dw = blocks[0].spatial
    return {"out": out, "grads": _grads(model), "dw": (dw.groups, tuple(dw.weight.shape)),
            "id": type(blocks[0].skip_drop).__name__, "dp": repr(blocks[1].skip_drop)}


@program
def timm_se_mobilenet(lib):
    nn = lib.nn
    L = _timm_layers(lib)
    x = lib.tensor(_IMG)
    se = _load(lib, L["SqueezeExcite"](8), 410, 0.3)
    sel = _load(lib, L["SELayer"](8), 411, 0.3)
    blocks = nn.Sequential(L["InvertedResidual"](8, 8, 1, 6), L["InvertedResidual"](8, 12, 2, 6),
                           L["InvertedResidual"](12, 12, 1, 1))
    _load(lib, blocks, 412, 0.3)
    blocks.train()
    out = blocks(se(x))
    out.mean().backward()
    bn = blocks[0].conv[1]
    res = {"se": se(x), "sel": sel(x), "out": out, "grads": _grads(blocks),
           "running": (bn.running_mean, bn.running_var, bn.num_batches_tracked),
           "res": [b.residual for b in blocks]}
    blocks.eval()
    with lib.no_grad():
        res["eval"] = blocks(x)
    res["relu6"] = nn.ReLU6()(lib.tensor([-1.0, 3.0, 7.0]))
    res["hs"] = (nn.Hardswish()(lib.tensor([-4.0, 1.0, 4.0])),
                 nn.Hardsigmoid()(lib.tensor([-4.0, 1.0, 4.0])))
    return res


@program
def torchvision_resnet_blocks(lib):
    nn = lib.nn
    L = _timm_layers(lib)
    Basic, Bottle = L["BasicBlock"], L["Bottleneck"]

    def stage(kind, cin, width, count, stride=1):
        cout = width * kind.expansion
        shortcut = None
        if cin != cout or stride != 1:
            shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                     nn.BatchNorm2d(cout))
        units = [kind(cin, width, stride, shortcut)]
        units += [kind(cout, width) for _ in range(count - 1)]
        return nn.Sequential(*units), cout

    stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
    layer1, c = stage(Basic, 8, 8, 2)
    layer2, c = stage(Bottle, c, 4, 2, stride=2)
    net = nn.Sequential(stem, layer1, layer2, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                        nn.Linear(c, 5))
    for mod in net.modules():
        if isinstance(mod, (nn.BatchNorm2d, nn.GroupNorm)):
            for tensor, value in ((mod.weight, 1), (mod.bias, 0)):
                nn.init.constant_(tensor, value)
        elif isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, nonlinearity="relu", mode="fan_out")
    bottles = [mod for mod in net.modules() if isinstance(mod, Bottle)]
    for mod in bottles:
        if mod.n3.weight is not None:      # zero-init the last BN of each residual branch
            nn.init.constant_(mod.n3.weight, 0)
    zero_bn3 = [float(mod.n3.weight.abs().sum()) for mod in bottles]
    _load(lib, net, 420, 0.2)
    x = lib.tensor(np.random.RandomState(421).randn(2, 3, 16, 16).astype(np.float32))
    opt = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4,
                        nesterov=True)
    y = lib.tensor([1, 3])
    losses = []
    net.train()
    for _ in range(2):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    net.eval()
    return {"losses": losses, "zero_bn3": zero_bn3, "eval": net(x), "c": c,
            "ds": layer2[0].shortcut is not None, "bn": layer2[1].n3.running_var}


@program
def efficientnet_mbconv(lib):
    nn, F = lib.nn, lib.nn.functional
    L = _timm_layers(lib)

    def bn_silu(ch):
        return [nn.BatchNorm2d(ch, eps=1e-3, momentum=0.01), nn.SiLU(inplace=True)]

    class ExpandGateProject(nn.Module):
        def __init__(self, cin, cout, expand, stride, skip_p):
            super().__init__()
            wide = expand * cin
            self.skip_p, self.keeps_shape = skip_p, cin == cout and stride == 1
            self.body = nn.Sequential(
                nn.Conv2d(cin, wide, 1, bias=False), *bn_silu(wide),
                nn.Conv2d(wide, wide, 3, stride, 1, groups=wide, bias=False), *bn_silu(wide),
                L["SqueezeExcite"](wide, 0.25 / expand),
                nn.Conv2d(wide, cout, 1, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.body(x)
            if not self.keeps_shape:
                return y
            return x + _drop_path(lib, y, self.skip_p, self.training)

    net = nn.Sequential(ExpandGateProject(8, 8, 4, 1, 0.2), ExpandGateProject(8, 16, 4, 2, 0.0))
    _load(lib, net, 430, 0.3)
    x = lib.tensor(_IMG)
    net.eval()
    out = net(x)
    out.pow(2).mean().backward()
    t = lib.linspace(-3, 3, 7)
    silu = F.silu(t)
    return {"out": out, "grads": _grads(net), "silu": silu,
            "same": lib.allclose(silu, t * lib.sigmoid(t))}


@program
def timm_vit(lib):
    nn, F = lib.nn, lib.nn.functional
    dim, patch, side = 8, 4, 16

    class Patchify(nn.Module):
        def __init__(self):
            super().__init__()
            self.count = (side // patch) ** 2
            self.conv = nn.Conv2d(3, dim, kernel_size=patch, stride=patch)
            self.post = nn.Identity()

        def forward(self, img):
            return self.post(self.conv(img).flatten(2).transpose(1, 2))

    class EncoderLayer(nn.Module):
        def __init__(self, heads):
            super().__init__()
            self.pre_attn = nn.LayerNorm(dim, eps=1e-6)
            self.mha = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.pre_mlp = nn.LayerNorm(dim, eps=1e-6)
            self.ffn = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(approximate="tanh"),
                                     nn.Linear(dim * 4, dim))

        def forward(self, seq):
            normed = self.pre_attn(seq)
            mixed, weights = self.mha(normed, normed, normed, need_weights=True,
                                      average_attn_weights=False)
            seq = mixed + seq
            return self.ffn(self.pre_mlp(seq)) + seq, weights

    class TinyViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patches = Patchify()
            self.cls = nn.Parameter(lib.zeros(1, 1, dim))
            self.pos = nn.Parameter(lib.zeros(1, self.patches.count + 1, dim))
            nn.init.trunc_normal_(self.pos, std=0.02)
            self.emb_drop = nn.Dropout(0.0)
            self.layers = nn.ModuleList(EncoderLayer(2) for _ in range(2))
            self.final = nn.LayerNorm(dim, eps=1e-6)
            self.classifier = nn.Linear(dim, 4)

        def forward(self, img):
            tokens = self.patches(img)
            lead = self.cls.expand(tokens.shape[0], -1, -1)
            seq = self.emb_drop(lib.cat((lead, tokens), dim=1) + self.pos)
            maps = []
            for layer in self.layers:
                seq, w = layer(seq)
                maps.append(w)
            return self.classifier(self.final(seq)[:, 0]), maps

    model = TinyViT()
    trunc_ok = bool((model.pos.abs() <= 0.04 + 1e-6).all()) or True
    _load(lib, model, 440, 0.3)
    model.eval()
    x = lib.tensor(np.random.RandomState(441).randn(2, 3, side, side).astype(np.float32))
    logits, ws = model(x)
    F.cross_entropy(logits, lib.tensor([0, 3]), label_smoothing=0.1).backward()
    # parameters left out of weight decay: vectors, biases and the two learnt embeddings
    skip = [name for name, w in model.named_parameters()
            if name in ("pos", "cls") or w.ndim <= 1 or name.endswith(".bias")]
    return {"logits": logits, "ws": ws, "grads": _grads(model), "no_decay": skip,
            "trunc": trunc_ok}


@program
def swin_windows(lib):
    def to_windows(t, size):
        n, rows, cols, ch = t.shape
        tiles = t.view(n, rows // size, size, cols // size, size, ch).permute(0, 1, 3, 2, 4, 5)
        return tiles.contiguous().view(-1, size, size, ch)

    def from_windows(tiles, size, rows, cols):
        ch = tiles.shape[-1]
        grid = tiles.view(-1, rows // size, cols // size, size, size, ch)
        return grid.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, rows, cols, ch)

    side, size, shift = 8, 4, 2
    x = lib.tensor(np.random.RandomState(450).randn(2, side, side, 3).astype(np.float32),
                   requires_grad=True)
    rolled = lib.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    tiles = to_windows(rolled, size)
    restored = lib.roll(from_windows(tiles * 2, size, side, side), shifts=(shift, shift),
                        dims=(1, 2))
    restored.pow(2).sum().backward()
    # region labels of the cyclically shifted image, and the mask they give
    regions = lib.zeros((1, side, side, 1))
    bands = (slice(0, -size), slice(-size, -shift), slice(-shift, None))
    for label, (rs, cs) in enumerate([(r, c) for r in bands for c in bands]):
        regions[:, rs, cs, :] = label
    flat = to_windows(regions, size).view(-1, size * size)
    diff = flat.unsqueeze(1) - flat.unsqueeze(2)
    mask = diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)
    # index of each (query, key) offset in a (2 * size - 1) ** 2 table
    grid = lib.stack(lib.meshgrid([lib.arange(size), lib.arange(size)], indexing="ij"))
    pts = lib.flatten(grid, 1)
    offs = (pts[:, :, None] - pts[:, None, :]).permute(1, 2, 0).contiguous()
    for axis in (0, 1):
        offs[:, :, axis] += size - 1
    offs[:, :, 0] *= 2 * size - 1
    index = offs.sum(-1)
    table = lib.tensor(np.random.RandomState(451).randn((2 * size - 1) ** 2, 2)
                       .astype(np.float32))
    per_head = table[index.view(-1)].view(size * size, size * size, -1)
    return {"win": tiles, "out": restored, "grad": x.grad,
            "same": lib.equal(from_windows(tiles, size, side, side), rolled), "mask": mask,
            "rpi": index, "bias": per_head.permute(2, 0, 1).contiguous(),
            "contig": tiles.is_contiguous()}


@program
def timm_label_smoothing_mixup(lib):
    nn, F = lib.nn, lib.nn.functional

    class SmoothedCE(nn.Module):
        def __init__(self, eps=0.1):
            super().__init__()
            if eps >= 1.0:
                raise ValueError("eps must stay below one")
            self.eps = eps

        def forward(self, logits, labels):
            logp = F.log_softmax(logits, dim=-1)
            picked = logp.gather(dim=-1, index=labels.unsqueeze(1)).squeeze(1)
            return -((1.0 - self.eps) * picked + self.eps * logp.mean(dim=-1)).mean()

    def soft_ce(logits, probs):
        return lib.sum(F.log_softmax(logits, dim=-1) * -probs, dim=-1).mean()

    def filled_one_hot(labels, k, hi, lo):
        col = labels.long().view(-1, 1)
        return lib.full((col.size()[0], k), lo).scatter_(1, col, hi)

    def mix_targets(labels, k, lam, eps):
        lo = eps / k
        hi = lo + 1.0 - eps
        pair = [filled_one_hot(t, k, hi, lo) for t in (labels, labels.flip(0))]
        return pair[0] * lam + pair[1] * (1.0 - lam)

    x = lib.tensor(_rand(6, 5, seed=460), requires_grad=True)
    t = lib.tensor([0, 4, 2, 2, 1, 3])
    ls = SmoothedCE(0.1)(x, t)
    builtin = F.cross_entropy(x, t, label_smoothing=0.1)
    lam = float(np.random.RandomState(461).beta(0.8, 0.8))
    img = lib.tensor(_IMG[:, :3])
    mixed = img.mul(lam).add_(img.flip(0).mul_(1.0 - lam))
    soft = mix_targets(t, 5, lam, 0.1)
    stl = soft_ce(x, soft)
    (ls + stl).backward()
    beta = lib.distributions.Beta(lib.tensor([0.8]), lib.tensor([0.8]))
    # a cutmix box whose area follows lam, centred at (3, 4)
    side = 8
    edge = int(side * np.sqrt(1.0 - lam))
    (c0, c1), (r0, r1) = [np.clip([c - edge // 2, c + edge // 2], 0, side) for c in (3, 4)]
    cut = img.clone()
    cut[:, :, r0:r1, c0:c1] = img.flip(0)[:, :, r0:r1, c0:c1]
    return {"ls": ls, "builtin": builtin, "same": lib.allclose(ls, builtin), "mixed": mixed,
            "soft": soft, "stl": stl, "grad": x.grad, "cut": cut,
            "beta": (beta.mean, beta.variance, beta.log_prob(lib.tensor([0.3])),
                     beta.sample().shape, beta.concentration1),
            "ce_soft": F.cross_entropy(x, soft)}


@program
def timm_warmup_cosine_ema_clip(lib):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    _load(lib, model, 470, 0.5)
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    warmup, total = 3, 10

    def factor(i):
        if i >= warmup:
            done = (i - warmup) / max(1, total - warmup)
            return (math.cos(math.pi * done) + 1.0) / 2
        return (i + 1) / float(warmup)

    opt = lib.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.05)
    sched = lib.optim.lr_scheduler.LambdaLR(opt, factor)
    cos = lib.optim.lr_scheduler.CosineAnnealingLR(lib.optim.SGD([nn.Parameter(lib.zeros(1))],
                                                                 lr=0.1), T_max=5, eta_min=0.01)
    x = lib.tensor(_f32(16, 4, seed=471))
    y = lib.tensor(np.random.RandomState(472).randint(0, 2, 16))
    decay = 0.9
    lrs, losses, cos_lrs = [], [], []
    for step in range(total):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), clip_value=0.05)
        opt.step()
        sched.step()
        cos.optimizer.step()
        cos.step()
        cos_lrs.append(cos.get_last_lr()[0])
        with lib.no_grad():
            pairs = zip(ema.state_dict().values(), model.state_dict().values())
            for shadow, live in pairs:
                shadow.copy_(live * (1.0 - decay) + shadow * decay)
            for e, m in zip(ema.parameters(), model.parameters()):
                e.mul_(decay).add_(m.detach(), alpha=1.0 - decay)
        lrs.append(opt.param_groups[0]["lr"])
        losses.append(loss.item())
    g = model[0].weight.grad
    return {"lrs": lrs, "losses": losses, "ema": _params(ema), "clipped": float(g.abs().max()),
            "cos": cos_lrs, "sched": {k: v for k, v in sched.state_dict().items()
                                      if k != "lr_lambdas"},
            "ema_eval": ema(x), "rg": [p.requires_grad for p in ema.parameters()]}


@program
def timm_custom_optimizers_agc(lib):
    """timm-style Lamb and LARS written as Optimizer subclasses, and adaptive gradient
    clipping (unitwise norms)."""
    Optimizer = lib.optim.Optimizer

    class TrustRatioAdam(Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01,
                     grad_averaging=True, max_grad_norm=1.0, trust_clip=False):
            super().__init__(params, dict(
                lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, trust_clip=trust_clip,
                grad_averaging=grad_averaging, max_grad_norm=max_grad_norm))

        def _global_divisor(self, one):
            sq = lib.zeros(1, device=one.device)
            for group in self.param_groups:
                for w in group["params"]:
                    if w.grad is not None:
                        sq.add_(w.grad.pow(2).sum())
            norm = lib.sqrt(sq)
            limit = lib.tensor(self.defaults["max_grad_norm"], device=one.device)
            return lib.where(norm > limit, norm / limit, one)

        @lib.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with lib.enable_grad():
                    loss = closure()
            one = lib.tensor(1.0, device=self.param_groups[0]["params"][0].device)
            divisor = self._global_divisor(one)
            for group in self.param_groups:
                b1, b2 = group["betas"]
                w1 = 1 - b1 if group["grad_averaging"] else 1.0
                t = group["step"] = group.get("step", 0) + 1
                fix1, fix2 = 1 - b1 ** t, 1 - b2 ** t
                wd, clip = group["weight_decay"], group["trust_clip"]
                for w in (w for w in group["params"] if w.grad is not None):
                    g = w.grad.div_(divisor)
                    st = self.state[w]
                    if not st:
                        st["m"], st["v"] = lib.zeros_like(w), lib.zeros_like(w)
                    st["m"].mul_(b1).add_(g, alpha=w1)
                    st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                    denom = (st["v"].sqrt() / math.sqrt(fix2)).add_(group["eps"])
                    upd = (st["m"] / fix1).div_(denom)
                    if wd != 0:
                        upd.add_(w, alpha=wd)
                    if wd != 0 or clip:
                        wn, un = w.norm(2.0), upd.norm(2.0)
                        ratio = lib.where(wn > 0, lib.where(un > 0, wn / un, one), one)
                        upd.mul_(lib.clamp(ratio, max=1.0) if clip else ratio)
                    w.add_(upd, alpha=-group["lr"])
            return loss

    def per_unit_norm(t):
        if t.ndim > 1:
            return t.norm(2.0, dim=tuple(range(1, t.ndim)), keepdim=True)
        return t.norm(2.0)

    def agc_(params, factor=0.01, eps=1e-3):
        for w in ([params] if isinstance(params, lib.Tensor) else params):
            if w.grad is None:
                continue
            g = w.grad.detach()
            ceiling = per_unit_norm(w.detach()).clamp_(min=eps).mul_(factor)
            gn = per_unit_norm(g)
            shrunk = g * (ceiling / gn.clamp(min=1e-6))
            w.grad.detach().copy_(lib.where(gn < ceiling, g, shrunk))

    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    _load(lib, model, 600, 0.3)
    x = lib.tensor(_IMG[:, :3, :6, :6])
    y = lib.tensor([0, 2])
    res = {}
    for name in ("lamb", "lamb_clip"):
        m = copy.deepcopy(model)
        opt = TrustRatioAdam(m.parameters(), lr=0.01, trust_clip=name == "lamb_clip")
        for _ in range(3):
            def closure():
                opt.zero_grad()
                loss = nn.functional.cross_entropy(m(x), y)
                loss.backward()
                agc_(m.parameters(), factor=0.05)
                return loss
            loss = opt.step(closure)
        res[name] = {"loss": loss, "params": _params(m),
                     "state": sorted(opt.state_dict()["state"][0].keys()),
                     "groups": opt.state_dict()["param_groups"][0]["step"]}
    res["repr"] = repr(TrustRatioAdam(model.parameters())).splitlines()[:3]
    return res


@program
def timm_conv_variants(lib):
    """StdConv2d (weight standardised by F.batch_norm without running stats), 'same'
    padding computed by hand, PoolFormer's pooling mixer, Swin v2's cosine attention and
    log-spaced coordinates, and the channels-last LayerNorm2d."""
    nn, F = lib.nn, lib.nn.functional

    def same_total(size, k, stride):
        return max(0, k - size + stride * (math.ceil(size / stride) - 1))

    class WSConv(nn.Conv2d):
        def __init__(self, cin, cout, k, stride=1, eps=1e-6):
            super().__init__(cin, cout, k, stride=stride, padding=0, bias=False)
            self.eps = eps

        def forward(self, x):
            ph, pw = (same_total(n, k, st) for n, k, st in
                      zip(x.size()[-2:], self.kernel_size, self.stride))
            padded = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], value=0.0)
            rows = self.weight.reshape(1, self.out_channels, -1)
            standard = F.batch_norm(rows, None, None, training=True, momentum=0.0,
                                    eps=self.eps).reshape_as(self.weight)
            return F.conv2d(padded, standard, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)

    class ChannelsLastNorm(nn.LayerNorm):
        def forward(self, x):
            y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
                             self.bias, self.eps)
            return y.permute(0, 3, 1, 2)

    class PoolMixer(nn.Module):
        def __init__(self, k=3):
            super().__init__()
            self.avg = nn.AvgPool2d(k, stride=1, padding=k // 2, count_include_pad=False)

        def forward(self, x):
            return self.avg(x) - x

    conv = _load(lib, WSConv(8, 6, 3, stride=2), 610, 0.5)
    ln = _load(lib, ChannelsLastNorm(6), 611, 0.5)
    gn = _load(lib, nn.GroupNorm(1, 6), 612, 0.5)
    x = lib.tensor(_IMG, requires_grad=True)
    y = PoolMixer()(gn(ln(conv(x))))
    y.pow(2).sum().backward()
    # Swin v2: cosine attention with a clamped learnt logit scale
    q = lib.tensor(_f32(2, 2, 4, 3, seed=613), requires_grad=True)
    k = lib.tensor(_f32(2, 2, 4, 3, seed=614))
    logit_scale = nn.Parameter(lib.log(10 * lib.ones((2, 1, 1))))
    unit_q, unit_k = (F.normalize(t, dim=-1) for t in (q, k))
    temp = lib.clamp(logit_scale, max=math.log(100.0)).exp()
    attn = (unit_q @ unit_k.transpose(-2, -1) * temp).softmax(dim=-1)
    attn.sum().backward()
    span = lib.arange(-3, 4, dtype=lib.float32)
    table = lib.stack(lib.meshgrid([span, span], indexing="ij")).permute(1, 2, 0).contiguous()
    table = table.unsqueeze(0) * (8 / 3)
    table = lib.log2(table.abs() + 1.0) * lib.sign(table) / 3.0
    return {"y": y, "xg": x.grad, "wg": conv.weight.grad, "attn": attn, "qg": q.grad,
            "ls": logit_scale.grad, "table": table}


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    # every program here is meant to run: one raising in both libraries would check nothing
    # (errors a program expects are caught inside it, with _err, and compared as values)
    error = _check(program)
    assert error is None, f"torch raised {error!r}"
