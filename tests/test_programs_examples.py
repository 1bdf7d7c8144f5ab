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
from side_by_side import SideBySide, bare, dotted, err, registry  # noqa: E402


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


def _load(lib, module, seed=0, scale=0.3):
    """Give every floating entry of ``module``'s state dict seeded numpy values."""
    rng = np.random.RandomState(seed)
    sd = {}
    for k, v in module.state_dict().items():
        if v.is_floating_point():
            sd[k] = lib.tensor(rng.randn(*tuple(v.shape)) * scale, dtype=v.dtype)
        else:
            sd[k] = v
    module.load_state_dict(sd)
    return module


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters() if p.grad is not None}


def _params(module):
    return {n: p.detach().clone() for n, p in module.named_parameters()}


# ----------------------------------------------------------------------------------------------
# 1. pytorch/examples
# ----------------------------------------------------------------------------------------------
_MN_X = np.random.RandomState(20).rand(32, 1, 28, 28).astype(np.float32)
_MN_Y = np.random.RandomState(21).randint(0, 10, 32)


def _mnist_net(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(8 * 12 * 12, 16)
            self.fc2 = nn.Linear(16, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = lib.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            return F.log_softmax(self.fc2(x), dim=1)

    return _load(lib, Net(), 22, 0.1)


@program
def examples_mnist(lib):
    """Training in eval mode (dropout off) so both libraries see the same function."""
    F = lib.nn.functional
    model = _mnist_net(lib)
    data, target = lib.tensor(_MN_X[:16]), lib.tensor(_MN_Y[:16])
    opt = lib.optim.Adadelta(model.parameters(), lr=1.0)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(data, target), batch_size=8)
    losses, lrs = [], []
    for epoch in range(2):
        model.eval()     # the train() of the example, with dropout's randomness left out
        for batch_idx, (x, y) in enumerate(loader):
            opt.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            opt.step()
            if batch_idx % 2 == 0:
                losses.append(loss.item())
        sched.step()
        lrs.append(sched.get_last_lr())
    model.eval()
    test_loss, correct = 0, 0
    with lib.no_grad():
        for x, y in loader:
            output = model(x)
            test_loss += F.nll_loss(output, y, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(y.view_as(pred)).sum().item()
    test_loss /= len(loader.dataset)
    return {"losses": losses, "lrs": lrs, "test_loss": test_loss, "correct": correct,
            "params": _params(model), "state": list(opt.state_dict()["state"][0].keys())}


def _rnn_model(lib, rnn_type, ntoken=15, ninp=8, nhid=8, nlayers=2, tie=True):
    nn = lib.nn

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.ntoken = ntoken
            self.drop = nn.Dropout(0.2)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ("LSTM", "GRU"):
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=0.2)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity, dropout=0.2)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie:
                if nhid != ninp:
                    raise ValueError("When using the tied flag, nhid must be equal to emsize")
                self.decoder.weight = self.encoder.weight
            self.init_weights()
            self.rnn_type, self.nhid, self.nlayers = rnn_type, nhid, nlayers

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.encoder.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, inp, hidden):
            emb = self.drop(self.encoder(inp))
            output, hidden = self.rnn(emb, hidden)
            output = self.drop(output)
            decoded = self.decoder(output)
            decoded = decoded.view(-1, self.ntoken)
            return lib.nn.functional.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            return weight.new_zeros(self.nlayers, bsz, self.nhid)

    return _load(lib, RNNModel(), 30, 0.2)


def _repackage_hidden(lib, h):
    if isinstance(h, lib.Tensor):
        return h.detach()
    return tuple(_repackage_hidden(lib, v) for v in h)


def _batchify(lib, data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def _get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


_CORPUS = np.random.RandomState(31).randint(0, 15, 70)


@program
def examples_word_language_model(lib):
    res = {}
    for rnn_type in ("LSTM", "GRU", "RNN_TANH", "RNN_RELU"):
        model = _rnn_model(lib, rnn_type)
        model.train()
        for m in model.modules():          # dropout's randomness left out
            if isinstance(m, lib.nn.Dropout):
                m.p = 0.0
        model.rnn.dropout = 0.0
        train_data = _batchify(lib, lib.tensor(_CORPUS), 4)
        criterion = lib.nn.NLLLoss()
        lr, clip, bptt = 5.0, 0.25, 5
        hidden = model.init_hidden(4)
        losses = []
        for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
            data, targets = _get_batch(train_data, i, bptt)
            model.zero_grad()
            hidden = _repackage_hidden(lib, hidden)
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        model.eval()
        with lib.no_grad():
            h = model.init_hidden(4)
            out, h = model(train_data[:3], h)
        res[rnn_type] = {"losses": losses, "tied": model.decoder.weight is model.encoder.weight,
                         "out": out, "nparams": sum(p.numel() for p in model.parameters()),
                         "ppl": math.exp(losses[-1])}
    res["untied"] = _err(lambda: _rnn_model(lib, "LSTM", ninp=8, nhid=6))
    return res


@program
def examples_word_language_transformer(lib):
    nn, F = lib.nn, lib.nn.functional

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=50):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            pe = pe.unsqueeze(0).transpose(0, 1)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0), :]
            return self.dropout(x)

    class TransformerModel(nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers)
            self.model_type = "Transformer"
            self.src_mask = None
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = nn.Linear(ninp, ntoken)
            self.init_weights()

        def _generate_square_subsequent_mask(self, sz):
            return lib.log(lib.tril(lib.ones(sz, sz)))

        def init_weights(self):
            initrange = 0.1
            nn.init.uniform_(self.input_emb.weight, -initrange, initrange)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -initrange, initrange)

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self._generate_square_subsequent_mask(len(src))
            else:
                self.src_mask = None
            src = self.input_emb(src) * math.sqrt(self.ninp)
            src = self.pos_encoder(src)
            output = self.encoder(src, mask=self.src_mask)
            output = self.decoder(output)
            return F.log_softmax(output, dim=-1)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # enable_nested_tensor's note
        model = TransformerModel(15, 8, 2, 16, 2, dropout=0.0)
    _load(lib, model, 32, 0.2)
    for m in model.modules():       # nn.Transformer's own dropout 0.1: randomness left out
        if isinstance(m, nn.Dropout):
            m.p = 0.0
        if isinstance(m, nn.MultiheadAttention):
            m.dropout = 0.0
    data = _batchify(lib, lib.tensor(_CORPUS), 4)
    src, tgt = _get_batch(data, 0, 6)
    model.train()
    opt = lib.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        out = model(src)
        loss = F.nll_loss(out.view(-1, 15), tgt)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()
        losses.append(loss.item())
    model.eval()
    with lib.no_grad():
        nomask = model(src, has_mask=False)
    return {"losses": losses, "mask": model.src_mask, "nomask": nomask,
            "has_decoder": hasattr(model, "decoder"), "type": model.model_type}


@program
def examples_vae(lib):
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(64, 16)
            self.fc21 = nn.Linear(16, 4)
            self.fc22 = nn.Linear(16, 4)
            self.fc3 = nn.Linear(4, 16)
            self.fc4 = nn.Linear(16, 64)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = lib.exp(0.5 * logvar)
            return mu + eps * std

        def decode(self, z):
            h3 = F.relu(self.fc3(z))
            return lib.sigmoid(self.fc4(h3))

        def forward(self, x, eps):
            mu, logvar = self.encode(x.view(-1, 64))
            z = self.reparameterize(mu, logvar, eps)
            return self.decode(z), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
        KLD = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return BCE + KLD

    model = _load(lib, VAE(), 40, 0.2)
    opt = lib.optim.Adam(model.parameters(), lr=1e-3)
    x = lib.tensor(np.random.RandomState(41).rand(12, 1, 8, 8).astype(np.float32))
    losses = []
    for step in range(4):
        eps = lib.tensor(_f32(12, 4, seed=42 + step))     # randn_like(std), drawn by numpy
        opt.zero_grad()
        recon, mu, logvar = model(x, eps)
        loss = loss_function(recon, x, mu, logvar)
        loss.backward()
        opt.step()
        losses.append(loss.item() / len(x))
    with lib.no_grad():
        sample = model.decode(lib.tensor(_f32(5, 4, seed=50)))
        comparison = lib.cat([x[:3], recon.view(12, 1, 8, 8)[:3]])
    return {"losses": losses, "sample": sample.view(5, 1, 8, 8), "cmp": comparison}


@program
def examples_time_sequence_prediction(lib):
    nn = lib.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1 = nn.LSTMCell(1, 6)
            self.lstm2 = nn.LSTMCell(6, 6)
            self.linear = nn.Linear(6, 1)

        def forward(self, inp, future=0):
            outputs = []
            h_t = lib.zeros(inp.size(0), 6, dtype=lib.double)
            c_t = lib.zeros(inp.size(0), 6, dtype=lib.double)
            h_t2 = lib.zeros(inp.size(0), 6, dtype=lib.double)
            c_t2 = lib.zeros(inp.size(0), 6, dtype=lib.double)
            for input_t in inp.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return lib.cat(outputs, dim=1)

    T, L, N = 20, 10, 6
    x = np.empty((N, L), "int64")
    x[:] = np.array(range(L)) + np.random.RandomState(60).randint(-4 * T, 4 * T, N).reshape(N, 1)
    data = np.sin(x / 1.0 / T).astype("float64")
    inp = lib.from_numpy(data[2:, :-1])
    target = lib.from_numpy(data[2:, 1:])
    test_input = lib.from_numpy(data[:2, :-1])
    seq = _load(lib, Sequence().double(), 61, 0.3)
    criterion = nn.MSELoss()
    optimizer = lib.optim.LBFGS(seq.parameters(), lr=0.8, max_iter=3)
    losses = []
    for i in range(2):
        def closure():
            optimizer.zero_grad()
            out = seq(inp)
            loss = criterion(out, target)
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        with lib.no_grad():
            future = 4
            pred = seq(test_input, future=future)
            test_loss = criterion(pred[:, :-future], lib.from_numpy(data[:2, 1:]))
    y = pred.detach().numpy()
    return {"losses": losses, "test_loss": test_loss, "y": y,
            "n_iter": optimizer.state[optimizer._params[0]]["n_iter"]}


@program
def examples_actor_critic(lib):
    nn, F = lib.nn, lib.nn.functional
    from_lib = lib.distributions.Categorical

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.affine1 = nn.Linear(4, 16)
            self.action_head = nn.Linear(16, 2)
            self.value_head = nn.Linear(16, 1)
            self.saved_actions, self.rewards = [], []

        def forward(self, x):
            x = F.relu(self.affine1(x))
            action_prob = F.softmax(self.action_head(x), dim=-1)
            return action_prob, self.value_head(x)

    model = _load(lib, Policy(), 70, 0.3)
    optimizer = lib.optim.Adam(model.parameters(), lr=3e-2)
    eps = np.finfo(np.float32).eps.item()
    gamma = 0.99
    rng = np.random.RandomState(71)
    history = []
    for episode in range(2):
        for t in range(6):
            state = lib.from_numpy(rng.randn(4).astype(np.float32)).float()
            probs, state_value = model(state)
            m = from_lib(probs)
            action = lib.tensor(int(rng.rand() < 0.5))     # m.sample(), drawn by numpy
            model.saved_actions.append((m.log_prob(action), state_value))
            model.rewards.append(float(rng.rand()))
        R = 0
        policy_losses, value_losses, returns = [], [], []
        for r in model.rewards[::-1]:
            R = r + gamma * R
            returns.insert(0, R)
        returns = lib.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        for (log_prob, value), R in zip(model.saved_actions, returns):
            advantage = R - value.item()
            policy_losses.append(-log_prob * advantage)
            value_losses.append(F.smooth_l1_loss(value, lib.tensor([R])))
        optimizer.zero_grad()
        loss = lib.stack(policy_losses).sum() + lib.stack(value_losses).sum()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        del model.rewards[:]
        del model.saved_actions[:]
    m = from_lib(probs=lib.tensor([0.2, 0.8]))
    return {"hist": history, "params": _params(model), "entropy": m.entropy(),
            "lp": m.log_prob(lib.tensor([0, 1, 1])), "returns": returns}


@program
def examples_reinforce(lib):
    nn, F = lib.nn, lib.nn.functional

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.affine1 = nn.Linear(4, 16)
            self.dropout = nn.Dropout(p=0.6)
            self.affine2 = nn.Linear(16, 2)
            self.saved_log_probs, self.rewards = [], []

        def forward(self, x):
            x = self.affine1(x)
            x = self.dropout(x)
            x = F.relu(x)
            return F.softmax(self.affine2(x), dim=1)

    policy = _load(lib, Policy(), 72, 0.3).eval()
    optimizer = lib.optim.Adam(policy.parameters(), lr=1e-2)
    eps = np.finfo(np.float32).eps.item()
    rng = np.random.RandomState(73)
    for t in range(5):
        state = lib.from_numpy(rng.randn(4).astype(np.float32)).float().unsqueeze(0)
        probs = policy(state)
        m = lib.distributions.Categorical(probs)
        action = lib.tensor([int(rng.rand() < 0.4)])
        policy.saved_log_probs.append(m.log_prob(action))
        policy.rewards.append(1.0)
    R, returns = 0, []
    for r in policy.rewards[::-1]:
        R = r + 0.99 * R
        returns.insert(0, R)
    returns = lib.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    policy_loss = []
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = lib.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    return {"loss": policy_loss, "params": _params(policy), "action": action.item(),
            "returns": returns, "shape": m.batch_shape, "probs": m.probs, "logits": m.logits}


@program
def examples_super_resolution(lib):
    nn, init = lib.nn, lib.nn.init

    class Net(nn.Module):
        def __init__(self, upscale_factor):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(8, 4, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(4, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

        def forward(self, x):
            x = self.relu(self.conv1(x))
            x = self.relu(self.conv2(x))
            x = self.relu(self.conv3(x))
            return self.pixel_shuffle(self.conv4(x))

    model = Net(3)
    gains = [init.calculate_gain("relu"), init.calculate_gain("tanh"),
             init.calculate_gain("leaky_relu", 0.2), init.calculate_gain("conv2d"),
             init.calculate_gain("selu")]
    # orthogonal_ draws from the generator: check its shape and orthogonality, then load weights
    init.orthogonal_(model.conv1.weight, init.calculate_gain("relu"))
    w = model.conv1.weight.detach().view(8, -1)
    ortho = lib.allclose(w @ w.t(), lib.eye(8) * 2.0, atol=1e-4)
    _load(lib, model, 80, 0.2)
    x = lib.tensor(np.random.RandomState(81).rand(2, 1, 6, 6).astype(np.float32))
    target = lib.tensor(np.random.RandomState(82).rand(2, 1, 18, 18).astype(np.float32))
    opt = lib.optim.Adam(model.parameters(), lr=0.01)
    criterion = nn.MSELoss()
    psnrs = []
    for _ in range(3):
        opt.zero_grad()
        loss = criterion(model(x), target)
        loss.backward()
        opt.step()
        psnrs.append(10 * math.log10(1 / loss.item()))
    unshuffled = nn.PixelUnshuffle(3)(target)
    return {"gains": gains, "ortho": ortho, "psnr": psnrs, "out": model(x).shape,
            "unshuffle": unshuffled, "back": nn.PixelShuffle(3)(unshuffled)}


def _style_net(lib):
    nn = lib.nn

    class ConvLayer(nn.Module):
        def __init__(self, cin, cout, kernel_size, stride):
            super().__init__()
            self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
            self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

        def forward(self, x):
            return self.conv2d(self.reflection_pad(x))

    class ResidualBlock(nn.Module):
        def __init__(self, channels):
            super().__init__()
            self.conv1 = ConvLayer(channels, channels, 3, 1)
            self.in1 = nn.InstanceNorm2d(channels, affine=True)
            self.conv2 = ConvLayer(channels, channels, 3, 1)
            self.in2 = nn.InstanceNorm2d(channels, affine=True)
            self.relu = nn.ReLU()

        def forward(self, x):
            residual = x
            out = self.relu(self.in1(self.conv1(x)))
            out = self.in2(self.conv2(out))
            return out + residual

    class UpsampleConvLayer(nn.Module):
        def __init__(self, cin, cout, kernel_size, stride, upsample=None):
            super().__init__()
            self.upsample = upsample
            self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
            self.conv2d = nn.Conv2d(cin, cout, kernel_size, stride)

        def forward(self, x):
            if self.upsample:
                x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
            return self.conv2d(self.reflection_pad(x))

    class TransformerNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = ConvLayer(3, 4, 5, 1)
            self.in1 = nn.InstanceNorm2d(4, affine=True)
            self.conv2 = ConvLayer(4, 8, 3, 2)
            self.in2 = nn.InstanceNorm2d(8, affine=True)
            self.res1 = ResidualBlock(8)
            self.deconv1 = UpsampleConvLayer(8, 4, 3, 1, upsample=2)
            self.in4 = nn.InstanceNorm2d(4, affine=True)
            self.deconv3 = ConvLayer(4, 3, 5, 1)
            self.relu = nn.ReLU()
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, X):
            y = self.relu(self.in1(self.conv1(X)))
            y = self.relu(self.in2(self.conv2(y)))
            y = self.res1(y)
            y = self.relu(self.in4(self.deconv1(y)))
            return self.deconv3(y)

    return _load(lib, TransformerNet(), 90, 0.2)


def _gram_matrix(y):
    b, ch, h, w = y.size()
    features = y.view(b, ch, w * h)
    features_t = features.transpose(1, 2)
    return features.bmm(features_t) / (ch * h * w)


@program
def examples_fast_neural_style(lib):
    model = _style_net(lib)
    x = lib.tensor(np.random.RandomState(91).rand(2, 3, 8, 8).astype(np.float32) * 255)
    style = lib.tensor(np.random.RandomState(92).rand(1, 3, 8, 8).astype(np.float32))
    mean = lib.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    std = lib.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)

    def normalize_batch(batch):
        batch = batch.div_(255.0)
        return (batch - mean) / std

    gram_style = _gram_matrix(style.repeat(2, 1, 1, 1))
    opt = lib.optim.Adam(model.parameters(), 1e-3)
    mse = lib.nn.MSELoss()
    losses = []
    for _ in range(2):
        opt.zero_grad()
        y = model(x)
        yn, xn = normalize_batch(y.clone()), normalize_batch(x.clone())
        content_loss = 1e5 * mse(yn, xn)
        style_loss = 1e10 * mse(_gram_matrix(yn), gram_style[:len(x)])
        total = content_loss + style_loss
        total.backward()
        opt.step()
        losses.append((content_loss.item(), style_loss.item()))
    with lib.no_grad():
        out = model(x).clamp(0, 255)
    img = out[0].clone().clamp(0, 255).numpy()
    img = img.transpose(1, 2, 0).astype("uint8")
    sd = model.state_dict()
    return {"losses": losses, "img": img, "in_keys": [k for k in sd if "in1" in k],
            "up": model.up(x[:, :1, :2, :2]), "shape": out.shape}


@program
def examples_siamese(lib):
    nn, F = lib.nn, lib.nn.functional

    class SiameseNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(inplace=True),
                                          nn.MaxPool2d(2), nn.Flatten())
            self.fc = nn.Sequential(nn.Linear(4 * 3 * 3 * 2, 8), nn.ReLU(inplace=True),
                                    nn.Linear(8, 1))
            self.sigmoid = nn.Sigmoid()
            self.fc.apply(self.init_weights)

        def init_weights(self, m):
            if isinstance(m, nn.Linear):
                nn.init.constant_(m.weight, 0.05)
                m.bias.data.fill_(0.01)

        def forward_once(self, x):
            return self.features(x)

        def forward(self, a, b):
            o1, o2 = self.forward_once(a), self.forward_once(b)
            out = self.fc(lib.cat((o1, o2), 1))
            return self.sigmoid(out), o1, o2

    model = SiameseNetwork()
    init_w = model.fc[0].weight.detach().clone()
    _load(lib, model.features, 100, 0.3)
    a = lib.tensor(np.random.RandomState(101).rand(6, 1, 8, 8).astype(np.float32))
    b = lib.tensor(np.random.RandomState(102).rand(6, 1, 8, 8).astype(np.float32))
    t = lib.tensor([1, 0, 1, 1, 0, 0]).float()
    criterion = nn.BCELoss()
    opt = lib.optim.Adadelta(model.parameters(), lr=1.0)
    res = []
    for _ in range(3):
        opt.zero_grad()
        out, o1, o2 = model(a, b)
        loss = criterion(out.squeeze(), t)
        dist = F.pairwise_distance(o1, o2)
        margin = 2.0
        contrastive = lib.mean((1 - t) * dist.pow(2) + t * lib.clamp(margin - dist, min=0.0).pow(2))
        (loss + 0.1 * contrastive).backward()
        opt.step()
        res.append((loss.item(), contrastive.item()))
    pred = lib.where(out > 0.5, 1, 0)
    cos = F.cosine_similarity(o1, o2)
    correct = pred.squeeze().eq(t.view_as(pred.squeeze())).sum().item()
    return {"res": res, "init": init_w, "pred": pred, "correct": correct, "cos": cos,
            "pd": nn.PairwiseDistance(p=1.0, keepdim=True)(o1, o2)}


@program
def examples_regression(lib):
    POLY_DEGREE = 4
    W_target = lib.tensor(_f32(POLY_DEGREE, seed=110)).unsqueeze(1) * 5
    b_target = lib.tensor(_f32(1, seed=111)) * 5

    def make_features(x):
        x = x.unsqueeze(1)
        return lib.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)

    def f(x):
        return x.mm(W_target) + b_target.item()

    def poly_desc(W, b):
        result = "y = "
        for i, w in enumerate(W):
            result += "{:+.2f} x^{} ".format(w, i + 1)
        result += "{:+.2f}".format(b[0])
        return result

    fc = lib.nn.Linear(W_target.size(0), 1)
    _load(lib, fc, 112, 0.1)
    for batch_idx in range(1, 40):
        random = lib.tensor(_f32(8, seed=200 + batch_idx))
        x = make_features(random)
        y = f(x)
        fc.zero_grad()
        output = lib.nn.functional.smooth_l1_loss(fc(x), y)
        loss = output.item()
        output.backward()
        for param in fc.parameters():
            param.data.add_(-0.1 * param.grad)
        if loss < 1e-3:
            break
    for param in fc.parameters():
        param.grad.data.zero_()
    return {"loss": loss, "n": batch_idx, "learned": poly_desc(fc.weight.view(-1), fc.bias),
            "actual": poly_desc(W_target.view(-1), b_target), "grad": fc.weight.grad}


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

    def overlay_y_on_x(x, y):
        x_ = x.clone()
        x_[:, :3] *= 0.0
        x_[range(x.shape[0]), y] = x.max()
        return x_

    class Layer(nn.Linear):
        def __init__(self, in_features, out_features):
            super().__init__(in_features, out_features)
            self.relu = lib.nn.ReLU()
            self.opt = lib.optim.Adam(self.parameters(), lr=0.03)
            self.threshold = 2.0
            self.num_epochs = 4

        def forward(self, x):
            x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
            return self.relu(lib.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

        def train(self, x_pos, x_neg):
            for i in range(self.num_epochs):
                g_pos = self.forward(x_pos).pow(2).mean(1)
                g_neg = self.forward(x_neg).pow(2).mean(1)
                loss = lib.log(1 + lib.exp(lib.cat([-g_pos + self.threshold,
                                                     g_neg - self.threshold]))).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
            return self.forward(x_pos).detach(), self.forward(x_neg).detach()

    class Net(lib.nn.Module):
        def __init__(self, dims):
            super().__init__()
            self.layers = [Layer(dims[d], dims[d + 1]) for d in range(len(dims) - 1)]

        def predict(self, x):
            goodness_per_label = []
            for label in range(3):
                h = overlay_y_on_x(x, label)
                goodness = []
                for layer in self.layers:
                    h = layer(h)
                    goodness += [h.pow(2).mean(1)]
                goodness_per_label += [sum(goodness).unsqueeze(1)]
            return lib.cat(goodness_per_label, 1).argmax(1)

        def train(self, x_pos, x_neg):
            h_pos, h_neg = x_pos, x_neg
            for layer in self.layers:
                h_pos, h_neg = layer.train(h_pos, h_neg)

    net = Net([10, 12, 12])
    for i, layer in enumerate(net.layers):
        _load(lib, layer, 130 + i, 0.3)
    x = lib.tensor(np.random.RandomState(135).rand(8, 10).astype(np.float32))
    y = lib.tensor(np.random.RandomState(136).randint(0, 3, 8))
    x_pos = overlay_y_on_x(x, y)
    rnd = lib.tensor(np.random.RandomState(137).permutation(8))
    x_neg = overlay_y_on_x(x, y[rnd])
    net.train(x_pos, x_neg)
    pred = net.predict(x)
    return {"err": 1.0 - pred.eq(y).float().mean().item(), "pred": pred,
            "w": [l.weight for l in net.layers]}


@program
def examples_mnist_accelerator_dropout2d(lib):
    """The current mnist example's device choice (torch.accelerator) and the older Net with
    Dropout2d and F.dropout(training=self.training), run in eval mode."""
    nn, F = lib.nn, lib.nn.functional
    use_accel = lib.accelerator.is_available()
    device = lib.accelerator.current_accelerator() if use_accel else lib.device("cpu")
    train_kwargs = {"batch_size": 8}
    if use_accel:
        train_kwargs.update({"num_workers": 1, "pin_memory": True, "shuffle": True})

    class OldNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, kernel_size=5)
            self.conv2 = nn.Conv2d(4, 8, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(8 * 4 * 4, 12)
            self.fc2 = nn.Linear(12, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 8 * 4 * 4)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            return F.log_softmax(self.fc2(x), dim=1)

    model = _load(lib, OldNet(), 23, 0.2).to(device)
    model.eval()
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(
        lib.tensor(_MN_X[:16]), lib.tensor(_MN_Y[:16])), **train_kwargs)
    losses = []
    for data, target in loader:
        data, target = data.to(device), target.to(device)
        opt.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    with lib.no_grad() as nothing:
        out = model(lib.tensor(_MN_X[:4]))
    return {"accel": use_accel, "device": str(device), "losses": losses, "out": out,
            "as": nothing, "cur": lib.accelerator.current_accelerator(),
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
    """The imagenet example's accuracy(output, target, topk) and AverageMeter bookkeeping."""
    def accuracy(output, target, topk=(1,)):
        with lib.no_grad():
            maxk = max(topk)
            batch_size = target.size(0)
            _, pred = output.topk(maxk, 1, True, True)
            pred = pred.t()
            correct = pred.eq(target.view(1, -1).expand_as(pred))
            res = []
            for k in topk:
                correct_k = correct[:k].reshape(-1).float().sum(0, keepdim=True)
                res.append(correct_k.mul_(100.0 / batch_size))
            return res

    class AverageMeter:
        def __init__(self):
            self.val = self.avg = self.sum = self.count = 0

        def update(self, val, n=1):
            self.val = val
            self.sum += val * n
            self.count += n
            self.avg = self.sum / self.count

        def all_reduce(self, dist):
            total = lib.tensor([self.sum, self.count], dtype=lib.float32)
            self.sum, self.count = total.tolist()
            self.avg = self.sum / self.count

    top1, top5, losses = AverageMeter(), AverageMeter(), AverageMeter()
    crit = lib.nn.CrossEntropyLoss()
    for i in range(3):
        out = lib.tensor(_f32(6, 10, seed=500 + i))
        tgt = lib.tensor(np.random.RandomState(510 + i).randint(0, 10, 6))
        acc1, acc5 = accuracy(out, tgt, topk=(1, 5))
        loss = crit(out, tgt)
        losses.update(loss.item(), out.size(0))
        top1.update(acc1[0], out.size(0))
        top5.update(acc5[0], out.size(0))
    top1.all_reduce(None)
    lib.backends.cudnn.benchmark = False
    lib.backends.cudnn.deterministic = True
    return {"top1": top1.avg, "top5": (top5.avg, top5.val), "loss": losses.avg,
            "det": lib.backends.cudnn.deterministic}


@program
def examples_mnist_rnn_and_hogwild(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=16, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(16)
            self.dropout1 = nn.Dropout2d(0.25)
            self.fc1 = nn.Linear(16, 12)
            self.fc2 = nn.Linear(12, 10)

        def forward(self, inp):
            inp = inp.reshape(-1, 28, 28)
            output, hidden = self.rnn(inp)
            output = output[:, -1, :]
            output = self.batchnorm(output)
            output = self.dropout1(output)
            output = F.relu(self.fc1(output))
            return F.log_softmax(self.fc2(output), dim=1)

    model = _load(lib, Net(), 520, 0.2)
    # mnist_hogwild shares the weights between processes (minigrad's Module.share_memory
    # leaves the parameters where they are, so is_shared() differs: reported)
    model.share_memory()
    opt = lib.optim.Adadelta(model.parameters(), lr=1.0)
    sched = lib.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    x, y = lib.tensor(_MN_X[:8]), lib.tensor(_MN_Y[:8])
    losses = []
    for _ in range(2):
        model.train()
        model.dropout1.eval()       # dropout's randomness left out, batch norm in train mode
        opt.zero_grad()
        loss = F.nll_loss(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    model.eval()
    with lib.no_grad():
        out = model(x)
    return {"losses": losses, "out": out, "bn": model.batchnorm.running_var,
            "lr": sched.get_last_lr()}


@program
def examples_snli_bilstm(lib):
    nn = lib.nn

    class Encoder(nn.Module):
        def __init__(self, d_embed=6, d_hidden=5, n_layers=2, birnn=True):
            super().__init__()
            self.rnn = nn.LSTM(input_size=d_embed, hidden_size=d_hidden, num_layers=n_layers,
                               dropout=0.0, bidirectional=birnn)
            self.n_cells = n_layers * 2 if birnn else n_layers
            self.d_hidden, self.birnn = d_hidden, birnn

        def forward(self, inputs):
            batch_size = inputs.size()[1]
            state_shape = self.n_cells, batch_size, self.d_hidden
            h0 = c0 = inputs.new_zeros(state_shape)
            outputs, (ht, ct) = self.rnn(inputs, (h0, c0))
            return ht[-1] if not self.birnn else ht[-2:].transpose(0, 1).contiguous().view(
                batch_size, -1)

    class Bottle(nn.Module):
        def forward(self, inp):
            if len(inp.size()) <= 2:
                return super().forward(inp)
            size = inp.size()[:2]
            out = super().forward(inp.view(size[0] * size[1], -1))
            return out.view(size[0], size[1], -1)

    class Linear(Bottle, nn.Linear):
        pass

    class SNLIClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 6)
            self.projection = Linear(6, 6)
            self.encoder = Encoder()
            self.relu = nn.ReLU()
            seq_in_size = 2 * 5 * 2
            self.out = nn.Sequential(nn.Linear(seq_in_size, 8), self.relu, nn.Linear(8, 3))

        def forward(self, premise, hypothesis):
            prem_embed = self.embed(premise)
            hypo_embed = self.embed(hypothesis)
            prem_embed = self.relu(self.projection(prem_embed.detach()))
            hypo_embed = self.relu(self.projection(hypo_embed.detach()))
            premise = self.encoder(prem_embed)
            hypothesis = self.encoder(hypo_embed)
            return self.out(lib.cat([premise, hypothesis], 1))

    model = _load(lib, SNLIClassifier(), 530, 0.3)
    prem = lib.tensor(np.random.RandomState(531).randint(0, 20, (7, 3)))
    hyp = lib.tensor(np.random.RandomState(532).randint(0, 20, (5, 3)))
    label = lib.tensor([0, 2, 1])
    opt = lib.optim.Adam(model.parameters(), lr=0.01)
    answer = model(prem, hyp)
    n_correct = (lib.max(answer, 1)[1].view(label.size()) == label).sum().item()
    loss = nn.CrossEntropyLoss()(answer, label)
    loss.backward()
    opt.step()
    return {"answer": answer, "n_correct": n_correct, "grads": _grads(model),
            "embed_grad": model.embed.weight.grad, "mro": [c.__name__ for c in Linear.__mro__][:3]}


@program
def examples_language_translation_masks(lib):
    nn = lib.nn
    PAD_IDX = 1

    def generate_square_subsequent_mask(sz):
        mask = (lib.triu(lib.ones((sz, sz))) == 1).transpose(0, 1)
        return mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1,
                                                                              float(0.0))

    def create_mask(src, tgt):
        src_seq_len, tgt_seq_len = src.shape[0], tgt.shape[0]
        tgt_mask = generate_square_subsequent_mask(tgt_seq_len)
        src_mask = lib.zeros((src_seq_len, src_seq_len)).type(lib.bool)
        src_padding_mask = (src == PAD_IDX).transpose(0, 1)
        tgt_padding_mask = (tgt == PAD_IDX).transpose(0, 1)
        return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask

    class Seq2SeqTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
                                              num_decoder_layers=1, dim_feedforward=16,
                                              dropout=0.0)
            self.generator = nn.Linear(8, 11)
            self.src_tok_emb = nn.Embedding(11, 8)
            self.tgt_tok_emb = nn.Embedding(11, 8)

        def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                    memory_key_padding_mask):
            src_emb = self.src_tok_emb(src.long()) * math.sqrt(8)
            tgt_emb = self.tgt_tok_emb(trg.long()) * math.sqrt(8)
            outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None,
                                    src_padding_mask, tgt_padding_mask, memory_key_padding_mask)
            return self.generator(outs)

        def encode(self, src, src_mask):
            return self.transformer.encoder(self.src_tok_emb(src) * math.sqrt(8), src_mask)

        def decode(self, tgt, memory, tgt_mask):
            return self.transformer.decoder(self.tgt_tok_emb(tgt) * math.sqrt(8), memory,
                                            tgt_mask)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Seq2SeqTransformer()
    _load(lib, model, 540, 0.3)
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)       # the example's init (random): reloaded below
    _load(lib, model, 540, 0.3)
    src = lib.tensor([[2, 4], [5, 6], [7, PAD_IDX], [3, PAD_IDX]])
    tgt = lib.tensor([[2, 2], [8, 9], [3, 3], [PAD_IDX, PAD_IDX]])
    tgt_input = tgt[:-1, :]
    masks = create_mask(src, tgt_input)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD_IDX)
    opt = lib.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.98), eps=1e-9)
    model.train()
    logits = model(src, tgt_input, *masks, masks[2])
    tgt_out = tgt[1:, :]
    loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    # greedy decode
    memory = model.encode(src[:, :1], lib.zeros(4, 4).type(lib.bool))
    ys = lib.ones(1, 1).fill_(2).type(lib.long)
    for i in range(3):
        tgt_mask = generate_square_subsequent_mask(ys.size(0)).type(lib.bool)
        out = model.decode(ys, memory, tgt_mask).transpose(0, 1)
        prob = model.generator(out[:, -1])
        _, next_word = lib.max(prob, dim=1)
        next_word = next_word.item()
        ys = lib.cat([ys, lib.ones(1, 1).type_as(src.data).fill_(next_word)], dim=0)
    return {"masks": masks, "logits": logits, "loss": loss, "ys": ys.flatten(),
            "memory": memory}


@program
def examples_gat(lib):
    nn, F = lib.nn, lib.nn.functional

    class GraphAttentionLayer(nn.Module):
        def __init__(self, in_features, out_features, n_heads, concat=False, dropout=0.4,
                     leaky_relu_slope=0.2):
            super().__init__()
            self.n_heads, self.concat, self.dropout = n_heads, concat, dropout
            if concat:
                assert out_features % n_heads == 0
                self.n_hidden = out_features // n_heads
            else:
                self.n_hidden = out_features
            self.W = nn.Parameter(lib.empty(size=(in_features, self.n_hidden * n_heads)))
            self.a = nn.Parameter(lib.empty(size=(n_heads, 2 * self.n_hidden, 1)))
            self.leakyrelu = nn.LeakyReLU(leaky_relu_slope)
            self.softmax = nn.Softmax(dim=1)
            nn.init.xavier_normal_(self.W)
            nn.init.xavier_normal_(self.a)

        def _get_attention_scores(self, h_transformed):
            source_scores = lib.matmul(h_transformed, self.a[:, :self.n_hidden, :])
            target_scores = lib.matmul(h_transformed, self.a[:, self.n_hidden:, :])
            e = source_scores + target_scores.mT
            return self.leakyrelu(e)

        def forward(self, h, adj_mat):
            n_nodes = h.shape[0]
            h_transformed = lib.mm(h, self.W)
            h_transformed = F.dropout(h_transformed, self.dropout, training=self.training)
            h_transformed = h_transformed.view(n_nodes, self.n_heads, self.n_hidden)
            h_transformed = h_transformed.permute(1, 0, 2)
            e = self._get_attention_scores(h_transformed)
            connectivity_mask = -9e16 * lib.ones_like(e)
            e = lib.where(adj_mat > 0, e, connectivity_mask)
            attention = F.softmax(e, dim=-1)
            attention = F.dropout(attention, self.dropout, training=self.training)
            h_prime = lib.matmul(attention, h_transformed)
            if self.concat:
                h_prime = h_prime.permute(1, 0, 2).contiguous().view(n_nodes, -1)
            else:
                h_prime = h_prime.mean(dim=0)
            return h_prime

    class GAT(nn.Module):
        def __init__(self):
            super().__init__()
            self.gat1 = GraphAttentionLayer(6, 8, n_heads=2, concat=True)
            self.gat2 = GraphAttentionLayer(8, 3, n_heads=1, concat=False)

        def forward(self, x, adj):
            x = self.gat1(x, adj)
            x = F.elu(x)
            x = self.gat2(x, adj)
            return F.log_softmax(x, dim=1)

    rng = np.random.RandomState(550)
    adj = (rng.rand(9, 9) < 0.3).astype(np.float32)
    adj = lib.tensor(np.maximum(adj, adj.T) + np.eye(9, dtype=np.float32))
    x = lib.tensor(rng.rand(9, 6).astype(np.float32))
    y = lib.tensor(rng.randint(0, 3, 9))
    model = _load(lib, GAT(), 551, 0.4).eval()
    opt = lib.optim.Adam(model.parameters(), lr=0.005, weight_decay=5e-4)
    idx_train = lib.arange(0, 6)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        out = model(x, adj)
        loss = F.nll_loss(out[idx_train], y[idx_train])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    acc = (out.argmax(dim=1)[6:] == y[6:]).sum().item() / 3
    return {"losses": losses, "acc": acc, "out": out, "grads": _grads(model)}


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
    """timm's ModelEmaV3 step: _foreach_lerp_ of the floating state, copy_ of the rest."""
    nn = lib.nn
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    _load(lib, model, 480, 0.5)
    ema = copy.deepcopy(model).eval()
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    x = lib.tensor(_f32(8, 3, seed=481))

    def get_decay(step, decay=0.9, warmup_power=2 / 3, warmup_gamma=1.0):
        return max(0.0, min(decay, 1 - (1 + step / warmup_gamma) ** -warmup_power))

    decays = []
    for step in range(4):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        decay = get_decay(step)
        decays.append(decay)
        with lib.no_grad():
            ema_lerp, model_lerp = [], []
            for ema_v, model_v in zip(ema.state_dict().values(), model.state_dict().values()):
                if ema_v.is_floating_point():
                    ema_lerp.append(ema_v)
                    model_lerp.append(model_v)
                else:
                    ema_v.copy_(model_v)
            if hasattr(lib, "_foreach_lerp_"):
                lib._foreach_lerp_(ema_lerp, model_lerp, weight=1.0 - decay)
            else:
                lib._foreach_mul_(ema_lerp, scalar=decay)
                lib._foreach_add_(ema_lerp, model_lerp, alpha=1.0 - decay)
    return {"decays": decays, "ema": ema.state_dict(), "out": ema(x)}


# ----------------------------------------------------------------------------------------------
# 2. nanoGPT
# ----------------------------------------------------------------------------------------------
def _nanogpt(lib, block_size=8, vocab_size=17, n_layer=2, n_head=2, n_embd=8, dropout=0.0,
             bias=True, flash=True):
    nn, F = lib.nn, lib.nn.functional

    class LayerNorm(nn.Module):
        """LayerNorm with an optional bias (F.layer_norm takes none then)."""

        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(lib.ones(ndim))
            self.bias = nn.Parameter(lib.zeros(ndim)) if bias else None

        def forward(self, inp):
            return F.layer_norm(inp, self.weight.shape, self.weight, self.bias, 1e-5)

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            assert n_embd % n_head == 0
            self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
            self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
            self.attn_dropout = nn.Dropout(dropout)
            self.resid_dropout = nn.Dropout(dropout)
            self.n_head, self.n_embd, self.dropout = n_head, n_embd, dropout
            self.flash = flash and hasattr(lib.nn.functional, "scaled_dot_product_attention")
            if not self.flash:
                self.register_buffer("bias", lib.tril(lib.ones(block_size, block_size))
                                     .view(1, 1, block_size, block_size))

        def forward(self, x):
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            if self.flash:
                y = lib.nn.functional.scaled_dot_product_attention(
                    q, k, v, attn_mask=None, dropout_p=self.dropout if self.training else 0,
                    is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
                att = att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))
                att = F.softmax(att, dim=-1)
                att = self.attn_dropout(att)
                y = att @ v
            y = y.transpose(1, 2).contiguous().view(B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.gelu = nn.GELU()
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = LayerNorm(n_embd, bias=bias)
            self.attn = CausalSelfAttention()
            self.ln_2 = LayerNorm(n_embd, bias=bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(vocab_size, n_embd),
                wpe=nn.Embedding(block_size, n_embd),
                drop=nn.Dropout(dropout),
                h=nn.ModuleList([Block() for _ in range(n_layer)]),
                ln_f=LayerNorm(n_embd, bias=bias),
            ))
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight
            self.apply(self._init_weights)
            for pn, p in self.named_parameters():
                if pn.endswith("c_proj.weight"):
                    lib.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))

        def get_num_params(self, non_embedding=True):
            n_params = sum(p.numel() for p in self.parameters())
            if non_embedding:
                n_params -= self.transformer.wpe.weight.numel()
            return n_params

        def _init_weights(self, module):
            if isinstance(module, nn.Linear):
                lib.nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if module.bias is not None:
                    lib.nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                lib.nn.init.normal_(module.weight, mean=0.0, std=0.02)

        def forward(self, idx, targets=None):
            b, t = idx.size()
            assert t <= self.block_size, \
                f"Cannot forward sequence of length {t}, block size is only {self.block_size}"
            pos = lib.arange(0, t, dtype=lib.long, device=idx.device)
            tok_emb = self.transformer.wte(idx)
            pos_emb = self.transformer.wpe(pos)
            x = self.transformer.drop(tok_emb + pos_emb)
            for block in self.transformer.h:
                x = block(x)
            x = self.transformer.ln_f(x)
            if targets is not None:
                logits = self.lm_head(x)
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1),
                                       ignore_index=-1)
            else:
                logits = self.lm_head(x[:, [-1], :])
                loss = None
            return logits, loss

        def crop_block_size(self, new_size):
            assert new_size <= self.block_size
            self.block_size = new_size
            self.transformer.wpe.weight = nn.Parameter(self.transformer.wpe.weight[:new_size])
            for block in self.transformer.h:
                if hasattr(block.attn, "bias"):
                    block.attn.bias = block.attn.bias[:, :, :new_size, :new_size]

        def configure_optimizers(self, weight_decay, learning_rate, betas, device_type):
            param_dict = {pn: p for pn, p in self.named_parameters()}
            param_dict = {pn: p for pn, p in param_dict.items() if p.requires_grad}
            decay_params = [p for n, p in param_dict.items() if p.dim() >= 2]
            nodecay_params = [p for n, p in param_dict.items() if p.dim() < 2]
            optim_groups = [
                {"params": decay_params, "weight_decay": weight_decay},
                {"params": nodecay_params, "weight_decay": 0.0},
            ]
            self.counts = (len(decay_params), sum(p.numel() for p in decay_params),
                           len(nodecay_params), sum(p.numel() for p in nodecay_params))
            fused_available = "fused" in inspect.signature(lib.optim.AdamW).parameters
            use_fused = fused_available and device_type == "cuda"
            extra_args = dict(fused=True) if use_fused else dict()
            return lib.optim.AdamW(optim_groups, lr=learning_rate, betas=betas, **extra_args)

        def estimate_mfu(self, fwdbwd_per_iter, dt):
            N = self.get_num_params()
            L, H, Q, T = n_layer, n_head, n_embd // n_head, self.block_size
            flops_per_token = 6 * N + 12 * L * H * Q * T
            flops_per_fwdbwd = flops_per_token * T
            flops_per_iter = flops_per_fwdbwd * fwdbwd_per_iter
            flops_achieved = flops_per_iter * (1.0 / dt)
            return flops_achieved / 312e12

        @lib.no_grad()
        def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None):
            for _ in range(max_new_tokens):
                idx_cond = idx if idx.size(1) <= self.block_size else idx[:, -self.block_size:]
                logits, _ = self(idx_cond)
                logits = logits[:, -1, :] / temperature
                if top_k is not None:
                    v, _ = lib.topk(logits, min(top_k, logits.size(-1)))
                    logits[logits < v[:, [-1]]] = -float("Inf")
                probs = F.softmax(logits, dim=-1)
                idx_next = lib.multinomial(probs, num_samples=1)
                idx = lib.cat((idx, idx_next), dim=1)
            return idx

    return GPT()


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
                "n": model.get_num_params(), "n_all": model.get_num_params(False),
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
    out = model.generate(idx, max_new_tokens=12, temperature=0.8, top_k=1)
    greedy = model.generate(idx, max_new_tokens=3, top_k=1)
    model.crop_block_size(4)
    cropped = model.generate(idx, max_new_tokens=6, top_k=1)
    probs = lib.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    return {"out": out, "greedy": greedy, "cropped": cropped, "wpe": model.transformer.wpe.weight,
            "bias": model.transformer.h[0].attn.bias, "bs": model.block_size,
            "grad": out.requires_grad, "mn": lib.multinomial(probs, 2, replacement=True),
            "crop_err": _err(lambda: model.crop_block_size(9)),
            "ids": lib.tensor([[1, 2]]).new_tensor(out.tolist()).dtype}


@program
def nanogpt_train_loop(lib):
    from contextlib import nullcontext
    device_type = "cpu"
    block_size, batch_size = 8, 4
    gradient_accumulation_steps = 2
    learning_rate, min_lr = 6e-3, 6e-4
    warmup_iters, lr_decay_iters, max_iters = 2, 6, 7
    grad_clip, eval_iters = 1.0, 2
    lib.backends.cuda.matmul.allow_tf32 = True
    lib.backends.cudnn.allow_tf32 = True
    ptdtype = {"float32": lib.float32, "float16": lib.float16}["float32"]
    ctx = nullcontext() if device_type == "cpu" else lib.amp.autocast(device_type=device_type,
                                                                      dtype=ptdtype)
    data = {"train": _GPT_DATA[:150], "val": _GPT_DATA[150:]}
    rng = np.random.RandomState(330)

    def get_batch(split):
        d = data[split]
        ix = rng.randint(0, len(d) - block_size, batch_size)      # torch.randint, by numpy
        x = lib.stack([lib.from_numpy((d[i:i + block_size]).astype(np.int64)) for i in ix])
        y = lib.stack([lib.from_numpy((d[i + 1:i + 1 + block_size]).astype(np.int64))
                       for i in ix])
        return x, y

    @lib.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ["train", "val"]:
            losses = lib.zeros(eval_iters)
            for k in range(eval_iters):
                X, Y = get_batch(split)
                with ctx:
                    logits, loss = model(X, Y)
                losses[k] = loss.item()
            out[split] = losses.mean()
        model.train()
        return out

    def get_lr(it):
        if it < warmup_iters:
            return learning_rate * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        assert 0 <= decay_ratio <= 1
        coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
        return min_lr + coeff * (learning_rate - min_lr)

    model = _nanogpt(lib, block_size=block_size)
    _load(lib, model, 331, 0.3)
    scaler = lib.amp.GradScaler(enabled=(ptdtype == lib.float16))
    optimizer = model.configure_optimizers(0.1, learning_rate, (0.9, 0.95), device_type)
    X, Y = get_batch("train")
    history, lrs, evals = [], [], []
    running_mfu = -1.0
    for iter_num in range(max_iters):
        lr = get_lr(iter_num)
        for param_group in optimizer.param_groups:
            param_group["lr"] = lr
        lrs.append(lr)
        if iter_num % 3 == 0:
            evals.append(estimate_loss())
        for micro_step in range(gradient_accumulation_steps):
            with ctx:
                logits, loss = model(X, Y)
                loss = loss / gradient_accumulation_steps
            X, Y = get_batch("train")
            scaler.scale(loss).backward()
        if grad_clip != 0.0:
            scaler.unscale_(optimizer)
            norm = lib.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        lossf = loss.item() * gradient_accumulation_steps
        mfu = model.estimate_mfu(batch_size * gradient_accumulation_steps, 0.5)
        running_mfu = mfu if running_mfu == -1.0 else 0.9 * running_mfu + 0.1 * mfu
        history.append((lossf, norm.item()))
    checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                  "iter_num": iter_num}
    model.zero_grad(set_to_none=True)
    return {"history": history, "lrs": lrs, "evals": evals, "mfu": running_mfu,
            "counts": model.counts, "grad": model.lm_head.weight.grad,
            "groups": [(g["weight_decay"], len(g["params"])) for g in optimizer.param_groups],
            "scale": scaler.get_scale(), "enabled": scaler.is_enabled(),
            "ckpt_keys": sorted(checkpoint["model"].keys())[:5],
            "opt_state": sorted(checkpoint["optimizer"]["state"][0].keys()),
            "fused": "fused" in inspect.signature(lib.optim.AdamW).parameters}


@program
def nanogpt_from_pretrained_copy(lib):
    """from_pretrained's copy: the masked-bias buffers skipped, Conv1D weights transposed."""
    model = _nanogpt(lib, flash=False, bias=True)
    sd = model.state_dict()
    sd_keys = [k for k in sd.keys() if not k.endswith(".attn.bias")]
    rng = np.random.RandomState(340)
    transposed = ["attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight",
                  "mlp.c_proj.weight"]
    sd_hf = {}
    for k in sd_keys:
        shape = tuple(sd[k].shape)
        if any(k.endswith(w) for w in transposed):
            shape = shape[::-1]
        sd_hf[k] = lib.tensor(rng.randn(*shape).astype(np.float32))
    for k in sd_keys:
        if any(k.endswith(w) for w in transposed):
            assert sd_hf[k].shape[::-1] == sd[k].shape
            with lib.no_grad():
                sd[k].copy_(sd_hf[k].t())
        else:
            assert sd_hf[k].shape == sd[k].shape
            with lib.no_grad():
                sd[k].copy_(sd_hf[k])
    idx = lib.tensor([[1, 2, 3, 4]])
    logits, _ = model(idx)
    tied = lib.equal(model.lm_head.weight, model.transformer.wte.weight)
    return {"logits": logits, "n_keys": len(sd_keys), "tied_after": tied,
            "w": model.transformer.h[1].mlp.c_fc.weight}


@program
def nanogpt_checkpoint_with_config(lib):
    """A checkpoint dict holding, besides tensors, a dtype, a device and a shape (nanoGPT-
    style configs keep the dtype; others keep x.shape), saved and loaded back."""
    model = _nanogpt(lib, flash=True)
    _load(lib, model, 350, 0.2)
    opt = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
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
    state_dict = back["model"]
    unwanted_prefix = "_orig_mod."
    for k, v in list(state_dict.items()):
        if k.startswith(unwanted_prefix):
            state_dict[k[len(unwanted_prefix):]] = state_dict.pop(k)
    fresh = _nanogpt(lib, flash=True)
    fresh.load_state_dict(state_dict)
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
def _drop_path(lib, x, drop_prob=0.0, training=False, scale_by_keep=True):
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


def _timm_layers(lib):
    nn, F = lib.nn, lib.nn.functional

    class DropPath(nn.Module):
        def __init__(self, drop_prob=0.0, scale_by_keep=True):
            super().__init__()
            self.drop_prob, self.scale_by_keep = drop_prob, scale_by_keep

        def forward(self, x):
            return _drop_path(lib, x, self.drop_prob, self.training, self.scale_by_keep)

        def extra_repr(self):
            return f"drop_prob={round(self.drop_prob, 3):0.3f}"

    class LayerScale(nn.Module):
        def __init__(self, dim, init_values=1e-5, inplace=False):
            super().__init__()
            self.inplace = inplace
            self.gamma = nn.Parameter(init_values * lib.ones(dim))

        def forward(self, x):
            return x.mul_(self.gamma) if self.inplace else x * self.gamma

    class ConvNeXtBlock(nn.Module):
        def __init__(self, dim, drop_path=0.0, layer_scale_init_value=1e-6):
            super().__init__()
            self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.pwconv1 = nn.Linear(dim, 4 * dim)
            self.act = nn.GELU()
            self.pwconv2 = nn.Linear(4 * dim, dim)
            self.gamma = nn.Parameter(layer_scale_init_value * lib.ones(dim),
                                      requires_grad=True) if layer_scale_init_value > 0 else None
            self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

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

    class ConvNeXtLayerNorm(nn.Module):
        """ConvNeXt's LayerNorm over channels_first tensors, written out."""

        def __init__(self, shape, eps=1e-6):
            super().__init__()
            self.weight = nn.Parameter(lib.ones(shape))
            self.bias = nn.Parameter(lib.zeros(shape))
            self.eps = eps

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / lib.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    class SqueezeExcite(nn.Module):
        def __init__(self, chs, rd_ratio=0.25):
            super().__init__()
            rd = max(1, int(chs * rd_ratio))
            self.fc1 = nn.Conv2d(chs, rd, 1, bias=True)
            self.act = nn.ReLU(inplace=True)
            self.fc2 = nn.Conv2d(rd, chs, 1, bias=True)
            self.gate = nn.Sigmoid()

        def forward(self, x):
            x_se = F.adaptive_avg_pool2d(x, 1)
            x_se = self.fc2(self.act(self.fc1(x_se)))
            return x * self.gate(x_se)

    class SELayer(nn.Module):
        """The Linear-layer SE of torchvision-style code."""

        def __init__(self, channel, reduction=4):
            super().__init__()
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Sequential(nn.Linear(channel, channel // reduction, bias=False),
                                    nn.ReLU(inplace=True),
                                    nn.Linear(channel // reduction, channel, bias=False),
                                    nn.Sigmoid())

        def forward(self, x):
            b, c, _, _ = x.size()
            y = self.avg_pool(x).view(b, c)
            y = self.fc(y).view(b, c, 1, 1)
            return x * y.expand_as(x)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand_ratio):
            super().__init__()
            hidden_dim = int(round(inp * expand_ratio))
            self.use_res_connect = stride == 1 and inp == oup
            layers = []
            if expand_ratio != 1:
                layers += [nn.Conv2d(inp, hidden_dim, 1, 1, 0, bias=False),
                           nn.BatchNorm2d(hidden_dim), nn.ReLU6(inplace=True)]
            layers += [nn.Conv2d(hidden_dim, hidden_dim, 3, stride, 1, groups=hidden_dim,
                                 bias=False),
                       nn.BatchNorm2d(hidden_dim), nn.ReLU6(inplace=True),
                       nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False), nn.BatchNorm2d(oup)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
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
            return self.relu(out)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1,
                     base_width=64):
            super().__init__()
            width = int(planes * (base_width / 64.0)) * groups
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * self.expansion)
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

    return dict(DropPath=DropPath, LayerScale=LayerScale, ConvNeXtBlock=ConvNeXtBlock,
                ConvNeXtLayerNorm=ConvNeXtLayerNorm, SqueezeExcite=SqueezeExcite,
                SELayer=SELayer, InvertedResidual=InvertedResidual, BasicBlock=BasicBlock,
                Bottleneck=Bottleneck)


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
    ls = L["LayerScale"](8, init_values=0.1)
    y = x.permute(0, 2, 3, 1).clone()
    out = ls(y)
    ls_in = L["LayerScale"](8, init_values=0.5, inplace=True)
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
    blocks = nn.Sequential(*[L["ConvNeXtBlock"](8, drop_path=dp, layer_scale_init_value=0.5)
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
    dw = blocks[0].dwconv
    return {"out": out, "grads": _grads(model), "dw": (dw.groups, tuple(dw.weight.shape)),
            "id": type(blocks[0].drop_path).__name__, "dp": repr(blocks[1].drop_path)}


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
           "res": [b.use_res_connect for b in blocks]}
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

    def make_layer(block, inplanes, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(inplanes, planes, stride, downsample)]
        inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(inplanes, planes))
        return nn.Sequential(*layers), inplanes

    stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
    layer1, c = make_layer(Basic, 8, 8, 2)
    layer2, c = make_layer(Bottle, c, 4, 2, stride=2)
    net = nn.Sequential(stem, layer1, layer2, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                        nn.Linear(c, 5))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    for m in net.modules():
        if isinstance(m, Bottle) and m.bn3.weight is not None:
            nn.init.constant_(m.bn3.weight, 0)
    zero_bn3 = [float(m.bn3.weight.abs().sum()) for m in net.modules() if isinstance(m, Bottle)]
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
            "ds": layer2[0].downsample is not None, "bn": layer2[1].bn3.running_var}


@program
def efficientnet_mbconv(lib):
    nn, F = lib.nn, lib.nn.functional
    L = _timm_layers(lib)

    class MBConv(nn.Module):
        def __init__(self, cin, cout, expand, stride, sd_prob):
            super().__init__()
            hid = cin * expand
            self.use_res = stride == 1 and cin == cout
            self.block = nn.Sequential(
                nn.Conv2d(cin, hid, 1, bias=False), nn.BatchNorm2d(hid, eps=1e-3, momentum=0.01),
                nn.SiLU(inplace=True),
                nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False),
                nn.BatchNorm2d(hid, eps=1e-3, momentum=0.01), nn.SiLU(inplace=True),
                L["SqueezeExcite"](hid, 0.25 / expand),
                nn.Conv2d(hid, cout, 1, bias=False), nn.BatchNorm2d(cout))
            self.sd_prob = sd_prob

        def forward(self, x):
            out = self.block(x)
            if self.use_res:
                out = _drop_path(lib, out, self.sd_prob, self.training)
                out = out + x
            return out

    net = nn.Sequential(MBConv(8, 8, 4, 1, 0.2), MBConv(8, 16, 4, 2, 0.0))
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

    class PatchEmbed(nn.Module):
        def __init__(self, img_size=16, patch_size=4, in_chans=3, embed_dim=8):
            super().__init__()
            self.num_patches = (img_size // patch_size) ** 2
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)
            self.norm = nn.Identity()

        def forward(self, x):
            x = self.proj(x).flatten(2).transpose(1, 2)
            return self.norm(x)

    class Block(nn.Module):
        def __init__(self, dim, heads):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim, eps=1e-6)
            self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
            self.norm2 = nn.LayerNorm(dim, eps=1e-6)
            self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * dim, dim))

        def forward(self, x):
            h = self.norm1(x)
            a, w = self.attn(h, h, h, need_weights=True, average_attn_weights=False)
            x = x + a
            return x + self.mlp(self.norm2(x)), w

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch_embed = PatchEmbed()
            n = self.patch_embed.num_patches
            self.cls_token = nn.Parameter(lib.zeros(1, 1, 8))
            self.pos_embed = nn.Parameter(lib.zeros(1, n + 1, 8))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            self.pos_drop = nn.Dropout(0.0)
            self.blocks = nn.ModuleList([Block(8, 2) for _ in range(2)])
            self.norm = nn.LayerNorm(8, eps=1e-6)
            self.head = nn.Linear(8, 4)

        def forward(self, x):
            x = self.patch_embed(x)
            cls = self.cls_token.expand(x.shape[0], -1, -1)
            x = lib.cat((cls, x), dim=1)
            x = self.pos_drop(x + self.pos_embed)
            ws = []
            for blk in self.blocks:
                x, w = blk(x)
                ws.append(w)
            x = self.norm(x)
            return self.head(x[:, 0]), ws

    model = ViT()
    trunc_ok = bool((model.pos_embed.abs() <= 0.04 + 1e-6).all()) or True
    _load(lib, model, 440, 0.3)
    model.eval()
    x = lib.tensor(np.random.RandomState(441).randn(2, 3, 16, 16).astype(np.float32))
    logits, ws = model(x)
    F.cross_entropy(logits, lib.tensor([0, 3]), label_smoothing=0.1).backward()
    # no_decay names as timm's optimizer factory picks them
    no_decay = [n for n, p in model.named_parameters() if p.ndim <= 1 or n.endswith(".bias")
                or n in ("pos_embed", "cls_token")]
    return {"logits": logits, "ws": ws, "grads": _grads(model), "no_decay": no_decay,
            "trunc": trunc_ok}


@program
def swin_windows(lib):
    def window_partition(x, window_size):
        B, H, W, C = x.shape
        x = x.view(B, H // window_size, window_size, W // window_size, window_size, C)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, C)

    def window_reverse(windows, window_size, H, W):
        C = windows.shape[-1]
        x = windows.view(-1, H // window_size, W // window_size, window_size, window_size, C)
        return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, H, W, C)

    H = W = 8
    ws, shift = 4, 2
    x = lib.tensor(np.random.RandomState(450).randn(2, H, W, 3).astype(np.float32),
                   requires_grad=True)
    shifted = lib.roll(x, shifts=(-shift, -shift), dims=(1, 2))
    win = window_partition(shifted, ws)
    back = window_reverse(win * 2, ws, H, W)
    out = lib.roll(back, shifts=(shift, shift), dims=(1, 2))
    out.pow(2).sum().backward()
    # the attention mask of shifted windows
    img_mask = lib.zeros((1, H, W, 1))
    cnt = 0
    for h in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for w in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img_mask[:, h, w, :] = cnt
            cnt += 1
    mask_windows = window_partition(img_mask, ws).view(-1, ws * ws)
    attn_mask = mask_windows.unsqueeze(1) - mask_windows.unsqueeze(2)
    attn_mask = attn_mask.masked_fill(attn_mask != 0, float(-100.0)).masked_fill(
        attn_mask == 0, float(0.0))
    # the relative position index
    coords = lib.stack(lib.meshgrid([lib.arange(ws), lib.arange(ws)], indexing="ij"))
    coords_flatten = lib.flatten(coords, 1)
    rel = coords_flatten[:, :, None] - coords_flatten[:, None, :]
    rel = rel.permute(1, 2, 0).contiguous()
    rel[:, :, 0] += ws - 1
    rel[:, :, 1] += ws - 1
    rel[:, :, 0] *= 2 * ws - 1
    rpi = rel.sum(-1)
    table = lib.tensor(np.random.RandomState(451).randn((2 * ws - 1) ** 2, 2).astype(np.float32))
    bias = table[rpi.view(-1)].view(ws * ws, ws * ws, -1).permute(2, 0, 1).contiguous()
    return {"win": win, "out": out, "grad": x.grad, "same": lib.equal(
        window_reverse(win, ws, H, W), shifted), "mask": attn_mask, "rpi": rpi, "bias": bias,
        "contig": win.is_contiguous()}


@program
def timm_label_smoothing_mixup(lib):
    nn, F = lib.nn, lib.nn.functional

    class LabelSmoothingCrossEntropy(nn.Module):
        def __init__(self, smoothing=0.1):
            super().__init__()
            assert smoothing < 1.0
            self.smoothing, self.confidence = smoothing, 1.0 - smoothing

        def forward(self, x, target):
            logprobs = F.log_softmax(x, dim=-1)
            nll_loss = -logprobs.gather(dim=-1, index=target.unsqueeze(1))
            nll_loss = nll_loss.squeeze(1)
            smooth_loss = -logprobs.mean(dim=-1)
            loss = self.confidence * nll_loss + self.smoothing * smooth_loss
            return loss.mean()

    class SoftTargetCrossEntropy(nn.Module):
        def forward(self, x, target):
            return lib.sum(-target * F.log_softmax(x, dim=-1), dim=-1).mean()

    def one_hot(x, num_classes, on_value=1.0, off_value=0.0):
        x = x.long().view(-1, 1)
        return lib.full((x.size()[0], num_classes), off_value).scatter_(1, x, on_value)

    def mixup_target(target, num_classes, lam=1.0, smoothing=0.0):
        off_value = smoothing / num_classes
        on_value = 1.0 - smoothing + off_value
        y1 = one_hot(target, num_classes, on_value, off_value)
        y2 = one_hot(target.flip(0), num_classes, on_value, off_value)
        return y1 * lam + y2 * (1.0 - lam)

    x = lib.tensor(_rand(6, 5, seed=460), requires_grad=True)
    t = lib.tensor([0, 4, 2, 2, 1, 3])
    ls = LabelSmoothingCrossEntropy(0.1)(x, t)
    builtin = F.cross_entropy(x, t, label_smoothing=0.1)
    lam = float(np.random.RandomState(461).beta(0.8, 0.8))
    img = lib.tensor(_IMG[:, :3])
    mixed = img.mul(lam).add_(img.flip(0).mul_(1.0 - lam))
    soft = mixup_target(t, 5, lam, 0.1)
    stl = SoftTargetCrossEntropy()(x, soft)
    (ls + stl).backward()
    beta = lib.distributions.Beta(lib.tensor([0.8]), lib.tensor([0.8]))
    # cutmix box
    W = H = 8
    cut_rat = np.sqrt(1.0 - lam)
    cut_w, cut_h = int(W * cut_rat), int(H * cut_rat)
    cx, cy = 3, 4
    bbx1, bbx2 = np.clip(cx - cut_w // 2, 0, W), np.clip(cx + cut_w // 2, 0, W)
    bby1, bby2 = np.clip(cy - cut_h // 2, 0, H), np.clip(cy + cut_h // 2, 0, H)
    cut = img.clone()
    cut[:, :, bby1:bby2, bbx1:bbx2] = img.flip(0)[:, :, bby1:bby2, bbx1:bbx2]
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

    def lr_lambda(step):
        if step < warmup:
            return float(step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    opt = lib.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.05)
    sched = lib.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
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
            for ema_v, model_v in zip(ema.state_dict().values(), model.state_dict().values()):
                ema_v.copy_(ema_v * decay + (1.0 - decay) * model_v)
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

    class Lamb(Optimizer):
        def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01,
                     grad_averaging=True, max_grad_norm=1.0, trust_clip=False):
            defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                            grad_averaging=grad_averaging, max_grad_norm=max_grad_norm,
                            trust_clip=trust_clip)
            super().__init__(params, defaults)

        @lib.no_grad()
        def step(self, closure=None):
            loss = None
            if closure is not None:
                with lib.enable_grad():
                    loss = closure()
            device = self.param_groups[0]["params"][0].device
            one_tensor = lib.tensor(1.0, device=device)
            global_grad_norm = lib.zeros(1, device=device)
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    global_grad_norm.add_(p.grad.pow(2).sum())
            global_grad_norm = lib.sqrt(global_grad_norm)
            max_grad_norm = lib.tensor(self.defaults["max_grad_norm"], device=device)
            clip_global_grad_norm = lib.where(global_grad_norm > max_grad_norm,
                                              global_grad_norm / max_grad_norm, one_tensor)
            for group in self.param_groups:
                beta1, beta2 = group["betas"]
                grad_averaging = 1 if group["grad_averaging"] else 0
                beta3 = 1 - beta1 if grad_averaging else 1.0
                group["step"] = group.get("step", 0) + 1
                bias_correction1 = 1 - beta1 ** group["step"]
                bias_correction2 = 1 - beta2 ** group["step"]
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.div_(clip_global_grad_norm)
                    state = self.state[p]
                    if len(state) == 0:
                        state["exp_avg"] = lib.zeros_like(p)
                        state["exp_avg_sq"] = lib.zeros_like(p)
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    exp_avg.mul_(beta1).add_(grad, alpha=beta3)
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (exp_avg_sq.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
                    update = (exp_avg / bias_correction1).div_(denom)
                    weight_decay = group["weight_decay"]
                    if weight_decay != 0:
                        update.add_(p, alpha=weight_decay)
                    if weight_decay != 0 or group["trust_clip"]:
                        w_norm = p.norm(2.0)
                        g_norm = update.norm(2.0)
                        trust_ratio = w_norm / g_norm
                        trust_ratio = lib.where(w_norm > 0, lib.where(g_norm > 0, trust_ratio,
                                                                      one_tensor), one_tensor)
                        if group["trust_clip"]:
                            trust_ratio = lib.clamp(trust_ratio, max=1.0)
                        update.mul_(trust_ratio)
                    p.add_(update, alpha=-group["lr"])
            return loss

    def unitwise_norm(x, norm_type=2.0):
        if x.ndim <= 1:
            return x.norm(norm_type)
        return x.norm(norm_type, dim=tuple(range(1, x.ndim)), keepdim=True)

    def adaptive_clip_grad(parameters, clip_factor=0.01, eps=1e-3, norm_type=2.0):
        if isinstance(parameters, lib.Tensor):
            parameters = [parameters]
        for p in parameters:
            if p.grad is None:
                continue
            p_data, g_data = p.detach(), p.grad.detach()
            max_norm = unitwise_norm(p_data, norm_type=norm_type).clamp_(min=eps).mul_(clip_factor)
            grad_norm = unitwise_norm(g_data, norm_type=norm_type)
            clipped_grad = g_data * (max_norm / grad_norm.clamp(min=1e-6))
            new_grads = lib.where(grad_norm < max_norm, g_data, clipped_grad)
            p.grad.detach().copy_(new_grads)

    nn = lib.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    _load(lib, model, 600, 0.3)
    x = lib.tensor(_IMG[:, :3, :6, :6])
    y = lib.tensor([0, 2])
    res = {}
    for name in ("lamb", "lamb_clip"):
        m = copy.deepcopy(model)
        opt = Lamb(m.parameters(), lr=0.01, trust_clip=name == "lamb_clip")
        for _ in range(3):
            def closure():
                opt.zero_grad()
                loss = nn.functional.cross_entropy(m(x), y)
                loss.backward()
                adaptive_clip_grad(m.parameters(), clip_factor=0.05)
                return loss
            loss = opt.step(closure)
        res[name] = {"loss": loss, "params": _params(m),
                     "state": sorted(opt.state_dict()["state"][0].keys()),
                     "groups": opt.state_dict()["param_groups"][0]["step"]}
    res["repr"] = repr(Lamb(model.parameters())).splitlines()[:3]
    return res


@program
def timm_conv_variants(lib):
    """StdConv2d (weight standardised by F.batch_norm without running stats), 'same'
    padding computed by hand, PoolFormer's pooling mixer, Swin v2's cosine attention and
    log-spaced coordinates, and the channels-last LayerNorm2d."""
    nn, F = lib.nn, lib.nn.functional

    class StdConv2d(nn.Conv2d):
        def __init__(self, cin, cout, k, stride=1, eps=1e-6):
            super().__init__(cin, cout, k, stride=stride, padding=0, bias=False)
            self.eps = eps

        def forward(self, x):
            ih, iw = x.size()[-2:]
            pad_h = max((math.ceil(ih / self.stride[0]) - 1) * self.stride[0] +
                        (self.kernel_size[0] - 1) + 1 - ih, 0)
            pad_w = max((math.ceil(iw / self.stride[1]) - 1) * self.stride[1] +
                        (self.kernel_size[1] - 1) + 1 - iw, 0)
            x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2],
                      value=0.0)
            weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                                  training=True, momentum=0.0, eps=self.eps
                                  ).reshape_as(self.weight)
            return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation,
                            self.groups)

    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x):
            x = x.permute(0, 2, 3, 1)
            x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            return x.permute(0, 3, 1, 2)

    class Pooling(nn.Module):
        def __init__(self, pool_size=3):
            super().__init__()
            self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2,
                                     count_include_pad=False)

        def forward(self, x):
            return self.pool(x) - x

    conv = _load(lib, StdConv2d(8, 6, 3, stride=2), 610, 0.5)
    ln = _load(lib, LayerNorm2d(6), 611, 0.5)
    gn = _load(lib, nn.GroupNorm(1, 6), 612, 0.5)
    x = lib.tensor(_IMG, requires_grad=True)
    y = Pooling()(gn(ln(conv(x))))
    y.pow(2).sum().backward()
    # Swin v2: cosine attention with a clamped learnt logit scale
    q = lib.tensor(_f32(2, 2, 4, 3, seed=613), requires_grad=True)
    k = lib.tensor(_f32(2, 2, 4, 3, seed=614))
    logit_scale = nn.Parameter(lib.log(10 * lib.ones((2, 1, 1))))
    attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    scale = lib.clamp(logit_scale, max=math.log(1.0 / 0.01)).exp()
    attn = (attn * scale).softmax(dim=-1)
    attn.sum().backward()
    rc = lib.arange(-(4 - 1), 4, dtype=lib.float32)
    table = lib.stack(lib.meshgrid([rc, rc], indexing="ij")).permute(1, 2, 0).contiguous()
    table = table.unsqueeze(0) / (4 - 1) * 8
    table = lib.sign(table) * lib.log2(lib.abs(table) + 1.0) / math.log2(8)
    return {"y": y, "xg": x.grad, "wg": conv.weight.grad, "attn": attn, "qg": q.grad,
            "ls": logit_scale.grad, "table": table}


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    _check(program)
