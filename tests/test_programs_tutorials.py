"""Compact versions of the programs PyTorch's official tutorials build (polynomial fitting with
tensors, autograd and custom Functions; "what is torch.nn really"; character-level RNNs;
seq2seq with attention; a transformer language model; spatial transformers and FGSM; a DCGAN
step; double backward through custom Functions and a fused conv+batch-norm Function;
torch.func's per-sample gradients, ensembling, Jacobians and NTKs; forward-mode AD; module
hooks, parametrizations, pruning, distillation and the CIFAR-shaped classifier), written anew
at small sizes with generated data.

Each ``program(lib)`` runs once with ``lib`` = torch and once with ``lib`` = minigrad from the
same numpy weights and inputs; the two must give the same values, dtypes and shapes, or raise
the same exception type with torch's words in the message, and emit the same warning
categories.
"""
import copy
import importlib
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

with warnings.catch_warnings():
    warnings.simplefilter("ignore")      # torch.func.jacfwd's first use warns about jit.script
    torch.func.jacfwd(torch.sin)(torch.zeros(2))


def _err(fn):
    return err(fn, quiet=True)


def _rand(*shape, seed=0, scale=1.0):
    return np.random.RandomState(seed).randn(*shape) * scale


# ----------------------------------------------------------------------------------------------
# 1. Learning PyTorch with Examples
# ----------------------------------------------------------------------------------------------
def _cubic(coefs, t):
    # Horner form of k0 + k1 t + k2 t^2 + k3 t^3
    k0, k1, k2, k3 = coefs
    return k0 + t * (k1 + t * (k2 + t * k3))


def _sine_grid(lib, n):
    t = lib.linspace(-math.pi, math.pi, n, dtype=lib.float64)
    return t, t.sin()


@program
def poly_fit_tensors_manual(lib):
    t, target = _sine_grid(lib, 200)
    coefs = [lib.tensor(v, dtype=lib.float64) for v in _rand(4, seed=1)]
    powers = [t ** k for k in range(4)]
    step = 1e-6
    losses = []
    for _ in range(60):
        resid = _cubic(coefs, t) - target
        losses.append(resid.pow(2).sum().item())
        coefs = [k - step * (2.0 * resid * pk).sum() for k, pk in zip(coefs, powers)]
    return {"coef": lib.stack(coefs), "losses": losses[::10]}


def _descend(lib, leaves, loss_of, steps, step):
    for _ in range(steps):
        loss = loss_of()
        loss.backward()
        with lib.no_grad():
            for w in leaves:
                w -= step * w.grad
                w.grad = None
    return loss


@program
def poly_fit_autograd(lib):
    t, target = _sine_grid(lib, 200)
    coefs = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in _rand(4, seed=2)]
    last = _descend(lib, coefs, lambda: ((_cubic(coefs, t) - target) ** 2).sum(), 60, 1e-6)
    return {"coef": coefs, "loss": last.item(), "rg": coefs[0].requires_grad}


def _legendre(lib):
    # P3(u) = (5u^3 - 3u) / 2 with a hand-written derivative (15u^2 - 3) / 2
    class ThirdLegendre(lib.autograd.Function):
        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return (5 * u ** 3 - 3 * u) / 2

        @staticmethod
        def backward(ctx, g):
            u, = ctx.saved_tensors
            return g * (15 * u ** 2 - 3) / 2
    return ThirdLegendre


@program
def poly_fit_custom_function(lib):
    p3 = _legendre(lib).apply
    t, target = _sine_grid(lib, 100)
    shift, scale, inner_shift, inner_scale = (lib.full((), v, dtype=lib.float64, requires_grad=True)
                                              for v in (0.0, -1.0, 0.0, 0.3))
    leaves = [shift, scale, inner_shift, inner_scale]
    seen = {}

    def loss_of():
        seen["fit"] = shift + scale * p3(inner_shift + inner_scale * t)
        return (seen["fit"] - target).pow(2).sum()

    last = _descend(lib, leaves, loss_of, 50, 5e-6)
    return {"coef": leaves, "loss": last, "fn": seen["fit"].grad_fn.name()}


@program
def poly_fit_sequential_optim(lib):
    t, target = _sine_grid(lib, 100)
    feats = t[:, None] ** lib.arange(1, 4)            # integer exponents broadcast over columns
    base = _load(lib, lib.nn.Sequential(lib.nn.Linear(3, 1), lib.nn.Flatten(0, 1)).double(), 3, scale=0.1)
    sse = lib.nn.MSELoss(reduction="sum")
    makers = {"sgd": lambda ws: lib.optim.SGD(ws, lr=1e-6, momentum=0.9),
              "rmsprop": lambda ws: lib.optim.RMSprop(ws, lr=1e-3)}
    res = {}
    for tag, make in makers.items():
        fit = copy.deepcopy(base)
        opt = make(fit.parameters())
        for _ in range(40):
            err = sse(fit(feats), target)
            opt.zero_grad()
            err.backward()
            opt.step()
        res[tag] = {"loss": err, "w": fit[0].weight, "b": fit[0].bias}
    res["shape"] = base(feats).shape
    res["xx_dtype"] = feats.dtype
    return res


@program
def dynamic_net(lib):
    nn = lib.nn

    class RandomDepthPoly(nn.Module):
        # cubic plus 0-3 extra higher powers that all share one coefficient
        def __init__(self):
            super().__init__()
            for name, v in zip("abcde", (0.1, -0.2, 0.05, 0.3, -0.01)):
                setattr(self, name, nn.Parameter(lib.tensor(v, dtype=lib.float64)))

        def forward(self, t, n_extra):
            out = self.a + self.b * t + self.c * t ** 2 + self.d * t ** 3
            return out + sum((self.e * t ** k for k in range(4, 4 + n_extra)), lib.zeros_like(t))

        def describe(self):
            return f"y = {self.a.item():.4f} + {self.b.item():.4f} x"

    x = lib.linspace(-math.pi, math.pi, 50, dtype=lib.float64)
    y = lib.sin(x)
    model = RandomDepthPoly()
    sgd = lib.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    sse = nn.MSELoss(reduction="sum")
    for n_extra in (0, 2, 1, 0, 2, 1, 1, 0, 2, 2):
        sgd.zero_grad()
        sse(model(x, n_extra), y).backward()
        sgd.step()
    return {"params": _params(model), "s": model.describe(), "e_grad": model.e.grad}


# ----------------------------------------------------------------------------------------------
# 2. What is torch.nn really
# ----------------------------------------------------------------------------------------------
_MN_X = np.random.RandomState(10).rand(64, 784).astype(np.float32)
_MN_Y = np.random.RandomState(11).randint(0, 10, 64)
_MN_XV = np.random.RandomState(12).rand(32, 784).astype(np.float32)
_MN_YV = np.random.RandomState(13).randint(0, 10, 32)


@program
def nn_really_from_scratch(lib):
    xs, ys = lib.tensor(_MN_X), lib.tensor(_MN_Y)
    W = (lib.tensor(_rand(784, 10, seed=14).astype(np.float32)) / math.sqrt(784)).requires_grad_()
    c = lib.zeros(10, requires_grad=True)

    def predict(batch):
        z = batch @ W + c
        return z - z.exp().sum(dim=1, keepdim=True).log()      # hand-made log-softmax

    def mean_nll(logp, lab):
        # a list of row numbers (minigrad refuses a range object as an index: reported)
        rows = list(range(lab.shape[0]))
        return -logp[rows, lab].mean()

    def hit_rate(logp, lab):
        return (logp.argmax(dim=1) == lab).float().mean()

    bs, step = 16, 0.1    # a larger step lets float32 rounding grow past the tolerance
    first = mean_nll(predict(xs[:bs]), ys[:bs])
    for _ in range(2):
        for lo in range(0, xs.shape[0], bs):
            mean_nll(predict(xs[lo:lo + bs]), ys[lo:lo + bs]).backward()
            with lib.no_grad():
                for leaf in (W, c):
                    leaf -= step * leaf.grad
                    leaf.grad.zero_()
    logp = predict(xs)
    return {"first": first, "loss": mean_nll(logp, ys), "acc": hit_rate(logp, ys),
            "w": W, "b": c, "is_leaf": W.is_leaf}


@program
def nn_really_functional_module_optim(lib):
    F, nn = lib.nn.functional, lib.nn
    TD, DL = lib.utils.data.TensorDataset, lib.utils.data.DataLoader
    train_set = TD(lib.tensor(_MN_X), lib.tensor(_MN_Y))
    check_set = TD(lib.tensor(_MN_XV), lib.tensor(_MN_YV))

    class HandAffine(nn.Module):
        def __init__(self):
            super().__init__()
            init = lib.tensor(_rand(784, 10, seed=14).astype(np.float32)) / math.sqrt(784)
            self.W = nn.Parameter(init)
            self.c = nn.Parameter(lib.zeros(10))

        def forward(self, batch):
            return batch @ self.W + self.c

    class WrappedLinear(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(784, 10)

        def forward(self, batch):
            return self.inner(batch)

    res = {}
    for tag, net in (("manual", HandAffine()), ("linear", _load(lib, WrappedLinear(), 15, 0.03))):
        sgd = lib.optim.SGD(net.parameters(), lr=0.1)     # small step: see nn_really_from_scratch
        train_dl, check_dl = DL(train_set, batch_size=16), DL(check_set, batch_size=32)
        hist = []
        for _ in range(2):
            net.train()
            for xb, yb in train_dl:
                F.cross_entropy(net(xb), yb).backward()
                sgd.step()
                sgd.zero_grad()
            net.eval()
            with lib.no_grad():
                total = sum(F.cross_entropy(net(xb), yb) for xb, yb in check_dl)
            hist.append(total / len(check_dl))
        res[tag] = {"hist": hist, "params": _params(net), "n": len(train_set), "nb": len(train_dl)}
    return res


@program
def nn_really_cnn_lambda(lib):
    nn, F = lib.nn, lib.nn.functional
    x_train, y_train = map(lib.tensor, (_MN_X[:32], _MN_Y[:32]))

    class Apply(nn.Module):
        # wraps a plain callable as a layer
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, inp):
            return self.fn(inp)

    class Mapped:
        # a loader whose batches pass through a function first
        def __init__(self, loader, fn):
            self.loader, self.fn = loader, fn

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            return (self.fn(*batch) for batch in self.loader)

    def as_images(xb, yb):
        return xb.reshape(-1, 1, 28, 28), yb

    layers = []
    for c_in, c_out in ((1, 8), (8, 8), (8, 10)):
        layers += [nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1), nn.ReLU()]
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), Apply(lambda h: h.flatten(1)))
    _load(lib, model, 16, 0.2)
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(x_train, y_train), batch_size=8)
    batches = Mapped(loader, as_images)
    sgd = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for xb, yb in batches:
        step_loss = F.cross_entropy(model(xb), yb)
        step_loss.backward()
        sgd.step()
        sgd.zero_grad()
        losses.append(step_loss.item())
    return {"losses": losses, "params": _params(model), "repr": repr(model), "len": len(batches)}


@program
def nn_really_get_data_fit(lib):
    """A fixed-order (no shuffling sampler) train/validate loop split into small helpers."""
    nn, F = lib.nn, lib.nn.functional
    TD, DL = lib.utils.data.TensorDataset, lib.utils.data.DataLoader

    def batch_loss(net, crit, xb, yb, sgd=None):
        value = crit(net(xb), yb)
        if sgd is not None:
            value.backward()
            sgd.step()
            sgd.zero_grad()
        return value.item(), xb.shape[0]

    def run(n_epochs, net, crit, sgd, train_dl, check_dl):
        curve = []
        for _ in range(n_epochs):
            net.train()
            for xb, yb in train_dl:
                batch_loss(net, crit, xb, yb, sgd)
            net.eval()
            with lib.no_grad():
                pairs = np.array([batch_loss(net, crit, xb, yb) for xb, yb in check_dl])
            curve.append((pairs[:, 0] * pairs[:, 1]).sum() / pairs[:, 1].sum())
        return curve

    net = _load(lib, nn.Linear(784, 10), 17, 0.03)
    sgd = lib.optim.SGD(net.parameters(), lr=0.5)
    curve = run(2, net, F.cross_entropy, sgd,
                DL(TD(lib.tensor(_MN_X), lib.tensor(_MN_Y)), batch_size=20),
                DL(TD(lib.tensor(_MN_XV), lib.tensor(_MN_YV)), batch_size=40))
    return {"hist": [float(h) for h in curve], "w": net.weight}


# ----------------------------------------------------------------------------------------------
# 3. Character-level RNNs
# ----------------------------------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyz '"
_NAMES = [("nakamura", 0), ("schmidt", 1), ("rossi", 2), ("tanaka", 0), ("muller", 1),
          ("bianchi", 2), ("sato", 0), ("weber", 1)]
_CATS = ["japanese", "german", "italian"]


def _one_hot_word(lib, word, width=None):
    # (letters, batch of 1, alphabet) with a 1 at each letter's index
    out = lib.zeros(len(word), 1, width or len(_LETTERS))
    for pos, letter in enumerate(word):
        out[pos, 0, _LETTERS.index(letter)] = 1
    return out


@program
def char_rnn_classify_manual_cell(lib):
    nn = lib.nn

    class ConcatCell(nn.Module):
        # state' = A [x; state],  scores = log_softmax(B [x; state])
        def __init__(self, n_in, n_state, n_cls):
            super().__init__()
            self.n_state = n_state
            self.to_state = nn.Linear(n_in + n_state, n_state)
            self.to_scores = nn.Linear(n_in + n_state, n_cls)
            self.norm = nn.LogSoftmax(dim=1)

        def forward(self, x, state):
            both = lib.cat([x, state], dim=1)
            return self.norm(self.to_scores(both)), self.to_state(both)

        def blank(self):
            return lib.zeros(1, self.n_state)

    cell = _load(lib, ConcatCell(len(_LETTERS), 16, len(_CATS)), 20, 0.1)
    nll = nn.NLLLoss()
    step = 0.005
    losses = []
    for word, label in _NAMES + _NAMES:
        cell.zero_grad()
        state = cell.blank()
        for letter in _one_hot_word(lib, word):
            scores, state = cell(letter, state)
        word_loss = nll(scores, lib.tensor([label], dtype=lib.long))
        word_loss.backward()
        for w in cell.parameters():
            w.data.add_(w.grad.data, alpha=-step)
        losses.append(word_loss.item())
    best = scores.topk(1)
    return {"losses": losses, "top": tuple(best), "cat": _CATS[best[1][0].item()],
            "params": _params(cell)}


@program
def char_rnn_classify_nn_rnn(lib):
    nn, F = lib.nn, lib.nn.functional

    class LastStateClassifier(nn.Module):
        def __init__(self, n_in, n_state, n_cls):
            super().__init__()
            self.core = nn.RNN(n_in, n_state)
            self.read = nn.Linear(n_state, n_cls)
            self.norm = nn.LogSoftmax(dim=1)

        def forward(self, word):
            _, last = self.core(word)
            return self.norm(self.read(last[0]))

    clf = _load(lib, LastStateClassifier(len(_LETTERS), 12, len(_CATS)), 21, 0.2)
    sgd = lib.optim.SGD(clf.parameters(), lr=0.1)
    nll = nn.NLLLoss()
    losses = []
    for _ in range(2):
        total = sum(nll(clf(_one_hot_word(lib, w)), lib.tensor([lab])) for w, lab in _NAMES)
        total.backward()
        nn.utils.clip_grad_norm_(clf.parameters(), 3)
        sgd.step()
        sgd.zero_grad()
        losses.append(total / len(_NAMES))
    with lib.no_grad():
        probs = [F.softmax(clf(_one_hot_word(lib, w)), 1) for w, _ in _NAMES[:3]]
    return {"losses": losses, "probs": probs, "params": _params(clf)}


@program
def char_rnn_generate(lib):
    nn = lib.nn
    n_letters = len(_LETTERS) + 1          # + EOS

    stop = n_letters - 1

    class ConditionedCell(nn.Module):
        # next-letter scores from (language one-hot, letter one-hot, state)
        def __init__(self, n_io, n_state):
            super().__init__()
            n_all = len(_CATS) + n_io + n_state
            self.n_state = n_state
            self.to_state = nn.Linear(n_all, n_state)
            self.to_raw = nn.Linear(n_all, n_io)
            self.mix = nn.Linear(n_state + n_io, n_io)
            self.drop = nn.Dropout(0.1)
            self.norm = nn.LogSoftmax(dim=1)

        def forward(self, lang, letter, state):
            joint = lib.cat([lang, letter, state], dim=1)
            new_state = self.to_state(joint)
            mixed = self.mix(lib.cat([new_state, self.to_raw(joint)], dim=1))
            return self.norm(self.drop(mixed)), new_state

        def blank(self):
            return lib.zeros(1, self.n_state)

    def lang_vec(k):
        v = lib.zeros(1, len(_CATS))
        v[0, k] = 1
        return v

    def shifted_targets(word):
        return lib.LongTensor([_LETTERS.find(ch) for ch in word[1:]] + [stop])

    cell = _load(lib, ConditionedCell(n_letters, 16), 22, 0.2)
    cell.eval()                              # dropout off: the comparison is deterministic
    nll = nn.NLLLoss()
    step = 0.05
    losses = []
    for word, lang in _NAMES:
        lv, letters = lang_vec(lang), _one_hot_word(lib, word, n_letters)
        nexts = shifted_targets(word)
        nexts.unsqueeze_(-1)
        cell.zero_grad()
        state = cell.blank()
        loss = lib.Tensor([0])
        for pos in range(letters.shape[0]):
            scores, state = cell(lv, letters[pos], state)
            loss += nll(scores, nexts[pos])
        loss.backward()
        for w in cell.parameters():
            w.data.add_(w.grad.data, alpha=-step)
        losses.append(loss.item() / letters.shape[0])

    def spell(lang, first, limit=8):
        with lib.no_grad():
            lv, state, word = lang_vec(lang), cell.blank(), first
            letter = _one_hot_word(lib, first, n_letters)[0]
            for _ in range(limit):
                scores, state = cell(lv, letter, state)
                k = scores.topk(1)[1][0][0]
                if k == stop:
                    break
                word += _LETTERS[k]
                letter = _one_hot_word(lib, _LETTERS[k], n_letters)[0]
            return word

    return {"losses": losses, "samples": [spell(0, "s"), spell(1, "m"), spell(2, "b")],
            "loss_dtype": loss.dtype, "loss_shape": loss.shape}


# ----------------------------------------------------------------------------------------------
# 4. Seq2seq translation with attention
# ----------------------------------------------------------------------------------------------
SOS, EOS = 0, 1


def _seq2seq(lib, hidden=8, n_in=12, n_out=11, max_len=6):
    nn, F = lib.nn, lib.nn.functional

    class SourceReader(nn.Module):
        def __init__(self, vocab, width, p=0.1):
            super().__init__()
            self.emb = nn.Embedding(vocab, width)
            self.drop = nn.Dropout(p)
            self.cell = nn.GRU(width, width, batch_first=True)

        def forward(self, ids):
            return self.cell(self.drop(self.emb(ids)))

    class AdditiveScore(nn.Module):
        # score(q, k) = v . tanh(W q + U k), normalised over the source positions
        def __init__(self, width):
            super().__init__()
            self.q_proj = nn.Linear(width, width)
            self.k_proj = nn.Linear(width, width)
            self.v = nn.Linear(width, 1)

        def forward(self, q, memory):
            e = self.v(lib.tanh(self.q_proj(q) + self.k_proj(memory)))   # (B, S, 1)
            alpha = F.softmax(e.transpose(1, 2), dim=-1)                    # (B, 1, S)
            return lib.bmm(alpha, memory), alpha

    class AttendingWriter(nn.Module):
        def __init__(self, width, vocab, p=0.1):
            super().__init__()
            self.emb = nn.Embedding(vocab, width)
            self.drop = nn.Dropout(p)
            self.score = AdditiveScore(width)
            self.cell = nn.GRU(width * 2, width, batch_first=True)
            self.proj = nn.Linear(width, vocab)

        def step(self, tok, state, memory):
            e = self.drop(self.emb(tok))
            ctx, alpha = self.score(state.transpose(0, 1), memory)
            out, state = self.cell(lib.cat([e, ctx], dim=-1), state)
            return self.proj(out), state, alpha

        def forward(self, memory, state, forced=None):
            tok = lib.full((memory.shape[0], 1), SOS, dtype=lib.long)
            logits, alphas = [], []
            for t in range(max_len):
                out, state, alpha = self.step(tok, state, memory)
                logits.append(out)
                alphas.append(alpha)
                tok = forced[:, t:t + 1] if forced is not None else out.argmax(-1).detach()
            return F.log_softmax(lib.cat(logits, 1), dim=-1), state, lib.cat(alphas, 1)

    reader = _load(lib, SourceReader(n_in, hidden), 30, 0.4)
    writer = _load(lib, AttendingWriter(hidden, n_out), 31, 0.4)
    return reader, writer


_S2S_IN = np.random.RandomState(32).randint(2, 12, (4, 6))
_S2S_OUT = np.random.RandomState(33).randint(2, 11, (4, 6))
_S2S_IN[:, -1] = EOS
_S2S_OUT[:, -2:] = [EOS, 0]


@program
def seq2seq_attention_train(lib):
    reader, writer = _seq2seq(lib)
    for m in (reader, writer):
        m.eval()
    src, ref = lib.tensor(_S2S_IN), lib.tensor(_S2S_OUT)
    opts = [lib.optim.Adam(m.parameters(), lr=0.01) for m in (reader, writer)]
    nll = lib.nn.NLLLoss()
    losses = []
    for _ in range(4):
        for o in opts:
            o.zero_grad()
        memory, state = reader(src)
        logp, _, _ = writer(memory, state, forced=ref)
        step_loss = nll(logp.reshape(-1, logp.shape[-1]), ref.reshape(-1))
        step_loss.backward()
        for o in opts:
            o.step()
        losses.append(step_loss)
    with lib.no_grad():
        memory, state = reader(src[:2])
        logp, state, alpha = writer(memory, state)
        ids = logp.topk(1)[1].squeeze()
        words = [[int(i) for i in row] for row in ids]
    return {"losses": losses, "ids": ids, "words": words, "attn": alpha, "hidden": state,
            "attn_sum": alpha.sum(-1)}


# ----------------------------------------------------------------------------------------------
# 5. Transformer language model
# ----------------------------------------------------------------------------------------------
def _transformer_lm(lib, ntoken=20, d_model=8, nhead=2, d_hid=16, nlayers=2):
    nn = lib.nn

    def sinusoid_table(rows, width):
        # angle[t, j] = t / 10000^(2j/width), sine on even columns, cosine on odd ones
        steps = lib.arange(rows, dtype=lib.float32).reshape(rows, 1)
        freqs = lib.pow(10000.0, -lib.arange(0, width, 2, dtype=lib.float32) / width)
        angles = steps * freqs.reshape(1, -1)
        table = lib.zeros(rows, width)
        table[:, 0::2] = angles.sin()
        table[:, 1::2] = angles.cos()
        return table.unsqueeze(1)

    class AddWaves(nn.Module):
        def __init__(self, width, p_drop, rows=50):
            super().__init__()
            self.register_buffer("waves", sinusoid_table(rows, width))
            self.drop = nn.Dropout(p_drop)

        def forward(self, h):
            return self.drop(h + self.waves[:h.shape[0]])

    class TinyCausalLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = math.sqrt(d_model)
            self.tok = nn.Embedding(ntoken, d_model)
            self.waves = AddWaves(d_model, 0.2)
            block = nn.TransformerEncoderLayer(d_model, nhead, d_hid, 0.2)
            self.stack = nn.TransformerEncoder(block, nlayers, enable_nested_tensor=False)
            self.head = nn.Linear(d_model, ntoken)
            for w in (self.tok.weight, self.head.weight):
                w.data.uniform_(-0.1, 0.1)
            self.head.bias.data.zero_()

        def forward(self, ids, mask=None):
            h = self.waves(self.tok(ids) * self.scale)
            if mask is None:
                mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[0])
            return self.head(self.stack(h, mask))

    model = TinyCausalLM()
    rng = np.random.RandomState(40)
    sd = {k: (v if k.endswith("waves.waves") else lib.tensor(rng.randn(*tuple(v.shape)) * 0.2, dtype=v.dtype))
          for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    return model


_CORPUS = np.random.RandomState(41).randint(0, 20, 75)


@program
def transformer_lm_train(lib):
    nn = lib.nn
    model = _transformer_lm(lib)
    model.eval()     # dropout off for a deterministic comparison; the train loop is unchanged

    def columns(stream, n_cols):
        usable = (stream.shape[0] // n_cols) * n_cols
        return stream[:usable].reshape(n_cols, -1).t().contiguous()

    window = 5

    def window_at(cols, start):
        n = min(window, cols.shape[0] - start - 1)
        return cols[start:start + n], cols[start + 1:start + n + 1].reshape(-1)

    grid = columns(lib.tensor(_CORPUS, dtype=lib.long), 4)
    xent = nn.CrossEntropyLoss()
    sgd = lib.optim.SGD(model.parameters(), lr=0.5)
    decay = lib.optim.lr_scheduler.StepLR(sgd, 1.0, gamma=0.95)
    losses, lrs = [], []
    for _epoch in range(2):
        for start in range(0, grid.shape[0] - 1, window):
            src, tgt = window_at(grid, start)
            logits = model(src).reshape(-1, 20)
            step_loss = xent(logits, tgt)
            sgd.zero_grad()
            step_loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            sgd.step()
            losses.append(step_loss.item())
        lrs.append(decay.get_last_lr()[0])
        decay.step()
    with lib.no_grad():
        src, tgt = window_at(grid, 0)
        ppl = math.exp(xent(model(src).reshape(-1, 20), tgt).item())
    return {"losses": losses, "lrs": lrs, "ppl": ppl, "shape": grid.shape,
            "mask": nn.Transformer.generate_square_subsequent_mask(4),
            "buffers": [n for n, _ in model.named_buffers()]}


# ----------------------------------------------------------------------------------------------
# 6. Spatial transformer networks; FGSM
# ----------------------------------------------------------------------------------------------
_IMG = np.random.RandomState(50).rand(4, 1, 28, 28).astype(np.float32)
_LBL = np.random.RandomState(51).randint(0, 10, 4)


def _stn_net(lib):
    nn, F = lib.nn, lib.nn.functional

    def conv_pool(c_in, c_out, k):
        return [nn.Conv2d(c_in, c_out, kernel_size=k), nn.MaxPool2d(2, stride=2), nn.ReLU(True)]

    class WarpThenClassify(nn.Module):
        def __init__(self):
            super().__init__()
            # regressor for a 2x3 affine matrix
            self.locator = nn.Sequential(*conv_pool(1, 4, 7), *conv_pool(4, 5, 5))
            self.theta_head = nn.Sequential(nn.Linear(45, 16), nn.ReLU(True), nn.Linear(16, 6))
            # classifier on the warped image
            self.c_a = nn.Conv2d(1, 4, kernel_size=5)
            self.c_b = nn.Conv2d(4, 8, kernel_size=5)
            self.feat_drop = nn.Dropout2d()
            self.d_a = nn.Linear(128, 16)
            self.d_b = nn.Linear(16, 10)

        def warp(self, img):
            theta = self.theta_head(self.locator(img).flatten(1)).reshape(img.shape[0], 2, 3)
            sampling = F.affine_grid(theta, list(img.shape), align_corners=False)
            return F.grid_sample(img, sampling, align_corners=False)

        def forward(self, img):
            h = F.max_pool2d(self.c_a(self.warp(img)), 2).relu()
            h = F.max_pool2d(self.feat_drop(self.c_b(h)), 2).relu()
            h = F.relu(self.d_a(h.flatten(1)))
            h = F.dropout(h, p=0.5, training=self.training)
            return F.log_softmax(self.d_b(h), dim=-1)

    net = _load(lib, WarpThenClassify(), 52, 0.1)
    last = net.theta_head[-1]
    with lib.no_grad():                  # start near the identity warp
        last.weight.fill_(0.0)
        eye = lib.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).flatten()
        last.bias.copy_(eye + lib.tensor(_rand(6, seed=53, scale=0.1), dtype=lib.float))
    return net


@program
def stn_forward_backward(lib):
    net = _stn_net(lib)
    net.eval()
    imgs, labels = lib.tensor(_IMG), lib.tensor(_LBL)
    sgd = lib.optim.SGD(net.parameters(), lr=0.01)
    losses = []
    for _ in range(2):
        sgd.zero_grad()
        step_loss = lib.nn.functional.nll_loss(net(imgs), labels)
        step_loss.backward()
        sgd.step()
        losses.append(step_loss)
    with lib.no_grad():
        warped = net.warp(imgs)
    return {"losses": losses, "warped": warped, "loc_grad": net.theta_head[-1].bias.grad,
            "conv_grad": net.c_a.weight.grad}


@program(rtol=1e-4, atol=1e-5)
def fgsm_attack(lib):
    F = lib.nn.functional
    net = _stn_net(lib)
    net.eval()

    mu, sd = 0.1307, 0.3081
    shape4 = (1, -1, 1, 1)

    def to_pixels(z):
        return z * lib.tensor([sd]).reshape(shape4) + lib.tensor([mu]).reshape(shape4)

    def signed_step(pix, size, g):
        return (pix + g.sign() * size).clamp(0, 1)

    res = {}
    labels = lib.tensor(_LBL[:2])
    for size in (0.0, 0.1, 0.3):
        z = lib.tensor(_IMG[:2]).requires_grad_(True)
        logp = net(z)
        before = logp.max(dim=1, keepdim=True).indices
        net.zero_grad()
        F.nll_loss(logp, labels).backward()
        adv = signed_step(to_pixels(z), size, z.grad.data)
        after = net((adv - mu) / sd).max(dim=1, keepdim=True).indices
        res[str(size)] = {"init": before, "final": after, "adv": adv.squeeze().detach().cpu().numpy(),
                          "correct": (after.squeeze() == labels).sum().item()}
    return res


# ----------------------------------------------------------------------------------------------
# 7. DCGAN
# ----------------------------------------------------------------------------------------------
def _dcgan(lib, nz=8, ngf=4, ndf=4, nc=3):
    nn = lib.nn

    def up(c_in, c_out, stride, pad, last=False):
        conv = nn.ConvTranspose2d(c_in, c_out, 4, stride, pad, bias=False)
        return [conv, nn.Tanh()] if last else [conv, nn.BatchNorm2d(c_out), nn.ReLU(True)]

    def down(c_in, c_out, stride, pad, norm):
        mods = [nn.Conv2d(c_in, c_out, 4, stride, pad, bias=False)]
        if norm:
            mods.append(nn.BatchNorm2d(c_out))
        return mods + [nn.LeakyReLU(negative_slope=0.2, inplace=True)]

    class Painter(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(*up(nz, 4 * ngf, 1, 0), *up(4 * ngf, 2 * ngf, 2, 1),
                                      *up(2 * ngf, nc, 2, 1, last=True))

        def forward(self, z):
            return self.main(z)

    class Critic(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(*down(nc, ndf, 2, 1, False), *down(ndf, 2 * ndf, 2, 1, True),
                                      nn.Conv2d(2 * ndf, 1, 4, 1, 0, bias=False), nn.Sigmoid())

        def forward(self, img):
            return self.main(img)

    seen = []

    def reinit(mod):
        kind = type(mod).__name__
        seen.append(kind)
        rng = np.random.RandomState(len(seen))
        if "Conv" in kind or "BatchNorm" in kind:
            noise = rng.randn(*tuple(mod.weight.shape)) * 0.02
            centre = 1.0 if "BatchNorm" in kind else 0.0
            with lib.no_grad():
                mod.weight.copy_(lib.tensor(centre + noise, dtype=lib.float))
            if "BatchNorm" in kind:
                nn.init.constant_(mod.bias.data, 0)

    g, d = Painter(), Critic()
    for net in (g, d):
        net.apply(reinit)
    return g, d, seen


@program
def dcgan_training_step(lib):
    nn = lib.nn
    g, d, seen = _dcgan(lib)
    bce = nn.BCELoss()
    adam = lambda m: lib.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt, g_opt = adam(d), adam(g)
    photos = lib.tensor(np.random.RandomState(60).rand(4, 3, 16, 16).astype(np.float32) * 2 - 1)
    z = lib.tensor(np.random.RandomState(61).randn(4, 8, 1, 1).astype(np.float32))
    ones, zeros = lib.ones(4), lib.zeros(4)
    hist = []
    for _ in range(2):
        # critic: push real towards 1, generated towards 0 (two backward passes accumulate)
        d.zero_grad()
        p_real = d(photos).flatten()
        loss_real = bce(p_real, ones)
        loss_real.backward()
        made = g(z)
        loss_made = bce(d(made.detach()).flatten(), zeros)
        loss_made.backward()
        d_opt.step()
        # painter: make the critic say 1 on its images
        g.zero_grad()
        p_made = d(made).flatten()
        loss_g = bce(p_made, ones)
        loss_g.backward()
        g_opt.step()
        hist.append([(loss_real + loss_made).item(), loss_g.item(), p_real.mean().item(),
                     p_made.mean().item()])
    with lib.no_grad():
        sample = g(z).detach()
    bn = g.main[1]
    return {"hist": hist, "seen": seen, "sample": sample, "rm": bn.running_mean, "rv": bn.running_var,
            "nbt": bn.num_batches_tracked, "d_w": d.main[0].weight}


# ----------------------------------------------------------------------------------------------
# 8. Double backward with custom Functions; fused conv + batch norm
# ----------------------------------------------------------------------------------------------
@program
def double_backward_custom_functions(lib):
    Fn = lib.autograd.Function

    class Cube(Fn):
        # keeps the input; backward is built from differentiable ops
        @staticmethod
        def forward(ctx, v):
            ctx.save_for_backward(v)
            return v * v * v

        @staticmethod
        def backward(ctx, g):
            v, = ctx.saved_tensors
            return 3 * g * v * v

    class Expm(Fn):
        # keeps its own output
        @staticmethod
        def forward(ctx, v):
            out = v.exp()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return ctx.saved_tensors[0] * g

    class CoshParts(Fn):
        # intermediates made under forward are handed out as outputs, so they join the graph
        @staticmethod
        def forward(ctx, v):
            up, down = v.exp(), (-v).exp()
            ctx.save_for_backward(up, down)
            return 0.5 * (up + down), up, down

        @staticmethod
        def backward(ctx, g, g_up, g_down):
            up, down = ctx.saved_tensors
            return 0.5 * g * (up - down) + g_up * up - g_down * down

    x = lib.tensor(_rand(3, seed=70), dtype=lib.double, requires_grad=True)
    res = {}
    for name, f in (("cube", Cube.apply), ("exp", Expm.apply), ("cosh", lambda v: CoshParts.apply(v)[0])):
        first, = lib.autograd.grad(f(x).sum(), x, create_graph=True)
        second, = lib.autograd.grad(first.sum(), x)
        res[name] = {"gc": lib.autograd.gradcheck(f, x), "ggc": lib.autograd.gradgradcheck(f, x),
                     "g": first, "gg": second}
    return res


@program
def double_backward_wrong_function(lib):
    """Saving an intermediate that was made without grad (under forward) makes the second
    derivative wrong; gradgradcheck says so."""
    class HiddenCosh(lib.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            pair = (v.exp(), (-v).exp())
            ctx.save_for_backward(*pair)
            return 0.5 * (pair[0] + pair[1])

        @staticmethod
        def backward(ctx, g):
            up, down = ctx.saved_tensors
            return 0.5 * g * (up - down)

    x = lib.tensor(_rand(3, seed=71), dtype=lib.double, requires_grad=True)
    f = HiddenCosh.apply
    return {"gc": lib.autograd.gradcheck(f, x),
            "ggc": type(_err(lambda: lib.autograd.gradgradcheck(f, x))).__name__,
            "ggc_quiet": lib.autograd.gradgradcheck(f, x, raise_exception=False)}


@program
def fused_conv_bn_function(lib):
    F = lib.nn.functional
    AXES = (0, 2, 3)

    def per_channel(v):
        return v.reshape(1, -1, 1, 1)

    def conv_grads(g, inp, kern):
        # d/d(input) is the transposed convolution; d/d(kernel) correlates input with g per batch
        d_inp = F.conv_transpose2d(g, kern)
        d_kern = F.conv2d(inp.transpose(0, 1), g.transpose(0, 1)).transpose(0, 1)
        return d_inp, d_kern

    def standardise(y, eps):
        count = y.numel() / y.shape[1]
        total = y.sum(dim=AXES)
        std = y.var(dim=AXES, unbiased=True).sqrt()
        return (y - per_channel(total / count)) / per_channel(std + eps), (total, std, count)

    def standardise_grad(g, y, stats, eps):
        # chain rule through out = (y - mean) / (std + eps), std the unbiased deviation
        total, std, count = stats
        den = std + eps
        centred = y - per_channel(total / count)
        d_std = -(centred * g).sum(dim=AXES) / den ** 2
        d_var = d_std / (2 * std)
        through_var = per_channel(d_var) * 2 * centred / (count - 1)
        through_mean = -per_channel((g / per_channel(den)).sum(dim=AXES)) / count
        return g / per_channel(den) + through_mean + through_var

    class ConvOnly(lib.autograd.Function):
        @staticmethod
        def forward(ctx, inp, kern):
            ctx.save_for_backward(inp, kern)
            return F.conv2d(inp, kern)

        @staticmethod
        def backward(ctx, g):
            return conv_grads(g, *ctx.saved_tensors)

    class NormOnly(lib.autograd.Function):
        @staticmethod
        def forward(ctx, y, eps=1e-3):
            out, ctx.stats = standardise(y, eps)
            ctx.eps = eps
            ctx.save_for_backward(y)
            return out

        @staticmethod
        def backward(ctx, g):
            y, = ctx.saved_tensors
            return standardise_grad(g, y, ctx.stats, ctx.eps)

    class ConvNorm(lib.autograd.Function):
        # keeps only the input and kernel; the conv output is recomputed in backward
        @staticmethod
        def forward(ctx, inp, kern, eps=1e-3):
            assert inp.dim() == 4
            ctx.save_for_backward(inp, kern)
            out, ctx.stats = standardise(F.conv2d(inp, kern), eps)
            ctx.eps = eps
            return out

        @staticmethod
        def backward(ctx, g):
            inp, kern = ctx.saved_tensors
            g_y = standardise_grad(g, F.conv2d(inp, kern), ctx.stats, ctx.eps)
            return (*conv_grads(g_y, inp, kern), None)

    class ConvNormLayer(lib.nn.Module):
        def __init__(self, c_in, c_out, k, eps=1e-3):
            super().__init__()
            self.kern = lib.nn.Parameter(lib.tensor(_rand(c_out, c_in, k, k, seed=72, scale=0.3)))
            self.eps = eps

        def forward(self, inp):
            return ConvNorm.apply(inp, self.kern, self.eps)

    w = lib.tensor(_rand(2, 1, 3, 3, seed=73), requires_grad=True)
    X = lib.tensor(_rand(2, 1, 4, 4, seed=74), requires_grad=True)
    Xb = lib.tensor(_rand(2, 2, 2, 2, seed=75), requires_grad=True)
    res = {"conv_gc": lib.autograd.gradcheck(ConvOnly.apply, (X, w)),
           "bn_gc": lib.autograd.gradcheck(NormOnly.apply, (Xb,)),
           "fused_gc": lib.autograd.gradcheck(ConvNorm.apply, (X, w))}
    layer = ConvNormLayer(1, 2, 3)
    out = layer(X)
    (out ** 3).sum().backward()
    plain = lib.nn.Sequential(lib.nn.Conv2d(1, 2, 3, bias=False),
                              lib.nn.BatchNorm2d(2, eps=1e-3, affine=False)).double()
    with lib.no_grad():
        plain[0].weight.copy_(layer.kern)
    res.update(out=out, gw=layer.kern.grad, gx=X.grad, ref=plain(X))
    return res


# ----------------------------------------------------------------------------------------------
# 9. torch.func
# ----------------------------------------------------------------------------------------------
def _small_cnn(lib):
    nn, F = lib.nn, lib.nn.functional

    class TwoConvTwoDense(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.ModuleList([nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3)])
            self.hidden = nn.Linear(16, 8)
            self.logits = nn.Linear(8, 10)

        def forward(self, img):
            h = self.body[0](img).relu()
            h = F.max_pool2d(self.body[1](h).relu(), kernel_size=2)
            h = F.relu(self.hidden(h.flatten(start_dim=1)))
            return self.logits(h).log_softmax(dim=-1)

    return _load(lib, TwoConvTwoDense().double(), 80, 0.3)


_PS_X = _rand(5, 1, 8, 8, seed=81)
_PS_Y = np.random.RandomState(82).randint(0, 10, 5)


@program
def func_per_sample_grads(lib):
    from_func = lib.func
    F = lib.nn.functional
    model = _small_cnn(lib)
    xs, ys = lib.tensor(_PS_X), lib.tensor(_PS_Y)
    names = [n for n, _ in model.named_parameters()]

    def one_by_one(i):
        single = F.nll_loss(model(xs[i:i + 1]), ys[i:i + 1])
        return lib.autograd.grad(single, [p for _, p in model.named_parameters()])

    looped = [lib.stack(col) for col in zip(*(one_by_one(i) for i in range(xs.shape[0])))]

    weights = {n: p.detach() for n, p in model.named_parameters()}
    state = {n: b.detach() for n, b in model.named_buffers()}

    def sample_loss(w, b, x1, y1):
        out = from_func.functional_call(model, (w, b), (x1[None],))
        return F.nll_loss(out, y1[None])

    per_sample = from_func.vmap(from_func.grad(sample_loss), in_dims=(None, None, 0, 0))(weights, state, xs, ys)
    return {"manual": looped, "vmap": per_sample,
            "agree": all(lib.allclose(looped[k], per_sample[n], atol=1e-8) for k, n in enumerate(names))}


@program
def func_model_ensembling(lib):
    nn = lib.nn
    fn = lib.func

    def mlp():
        return nn.Sequential(nn.Flatten(1), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(),
                             nn.Linear(8, 4)).double()

    members = [_load(lib, mlp(), 90 + i) for i in range(3)]
    shared = lib.tensor(_rand(6, 3, 4, seed=95))
    own = shared[:3].unsqueeze(1).expand(3, 6, 3, 4) + lib.tensor(_rand(3, 6, 3, 4, seed=96))
    each_own = lib.stack([m(b) for m, b in zip(members, own)])
    each_shared = lib.stack([m(shared) for m in members])

    stacked_w, stacked_b = fn.stack_module_state(members)
    template = copy.deepcopy(members[0])

    def run_one(w, b, inp):
        return fn.functional_call(template, (w, b), (inp,))

    return {"diff": fn.vmap(run_one)(stacked_w, stacked_b, own),
            "same": fn.vmap(run_one, in_dims=(0, 0, None))(stacked_w, stacked_b, shared),
            "loop_diff": each_own, "loop_same": each_shared, "keys": sorted(stacked_w),
            "stacked_shape": stacked_w["1.weight"].shape, "rg": stacked_w["1.weight"].requires_grad}


@program
def func_jacobians_hessians(lib):
    fn = lib.func
    F = lib.nn.functional
    n = 4
    W, c, v = (lib.tensor(_rand(*shape, seed=sd)) for shape, sd in (((n, n), 100), ((n,), 101), ((n,), 102)))

    def layer(W_, c_, v_):
        return lib.tanh(F.linear(v_, W_, c_))

    def of_input(v_):
        return layer(W, c, v_)

    basis = lib.eye(n, dtype=lib.float64)
    leaf = v.detach().clone().requires_grad_(True)
    by_rows = lib.stack([lib.autograd.grad(of_input(leaf), leaf, e)[0] for e in basis])
    _, pullback = fn.vjp(of_input, v)
    by_vmap, = fn.vmap(pullback)(basis)
    rev = fn.jacrev(layer, argnums=2)
    batch_v = lib.tensor(_rand(3, n, seed=103))
    summed = fn.jacrev(lambda a, b, vs: layer(a, b, vs).sum(0), argnums=2)(W, c, batch_v)

    def hess_vec(f, at, direction):
        return fn.jvp(fn.grad(f), at, direction)[1]

    t = lib.tensor(_rand(n, seed=104))
    return {"loop": by_rows, "vjp": by_vmap, "jacrev": rev(W, c, v),
            "jacfwd": fn.jacfwd(layer, argnums=2)(W, c, v),
            "wb": fn.jacrev(layer, argnums=(0, 1))(W, c, v),
            "hess": fn.hessian(layer, argnums=2)(W, c, v),
            "hess2": fn.jacfwd(rev, argnums=2)(W, c, v),
            "batch": fn.vmap(rev, in_dims=(None, None, 0))(W, c, batch_v),
            "summed": summed.movedim(1, 0),
            "hvp": hess_vec(lambda u: lib.sin(u).sum(), (v,), (t,)), "partial_ok": of_input(v)}


@program
def func_ntk(lib):
    fn = lib.func
    nn = lib.nn

    trunk = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)).double()
    net = _load(lib, trunk, 110)
    xa = lib.tensor(_rand(3, 2, 6, 6, seed=111))
    xb = lib.tensor(_rand(2, 2, 6, 6, seed=112))
    theta = {k: p.detach() for k, p in net.named_parameters()}

    def f_one(th, img):
        return fn.functional_call(net, th, (img[None],))[0]

    def jac_rows(imgs):
        per_param = fn.vmap(fn.jacrev(f_one), in_dims=(None, 0))(theta, imgs)
        return [j.flatten(start_dim=2) for j in per_param.values()]

    patterns = {"full": "iaP,jbP->ijab", "trace": "iaP,jaP->ij", "diagonal": "iaP,jaP->ija"}

    def by_jacobians(kind):
        pieces = [lib.einsum(patterns[kind], ja, jb) for ja, jb in zip(jac_rows(xa), jac_rows(xb))]
        return sum(pieces[1:], pieces[0])

    def by_products(u, w):
        # row k of the kernel: push e_k back through f(., u), then forward through f(., w)
        out_u, pull = fn.vjp(lambda th: f_one(th, u), theta)
        eye = lib.eye(out_u.numel(), dtype=out_u.dtype)
        return fn.vmap(lambda e: fn.jvp(lambda th: f_one(th, w), (theta,), pull(e))[1])(eye)

    vps = fn.vmap(fn.vmap(by_products, (None, 0)), (0, None))(xa, xb)
    return {"full": by_jacobians("full"), "trace": by_jacobians("trace"),
            "diag": by_jacobians("diagonal"), "vps": vps}


@program
def forward_ad_tutorial(lib):
    fwAD = lib.autograd.forward_ad
    primal = lib.tensor(_rand(4, 4, seed=120))
    tangent = lib.tensor(_rand(4, 4, seed=121))

    def fn(x, y):
        return x ** 2 + y ** 2

    res = {}
    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        assert fwAD.unpack_dual(dual_input).tangent is tangent
        dual_input_alt = fwAD.make_dual(primal, tangent.T)
        res["alt_tangent_contig"] = fwAD.unpack_dual(dual_input_alt).tangent is tangent
        plain_tensor = lib.tensor(_rand(4, 4, seed=122))
        dual_output = fn(dual_input, plain_tensor)
        jvp = fwAD.unpack_dual(dual_output).tangent
        res["primal_out"] = fwAD.unpack_dual(dual_output).primal
        res["jvp"] = jvp
    res["after"] = fwAD.unpack_dual(dual_output).tangent is None

    # with modules: swap parameters for duals
    model = _load(lib, lib.nn.Linear(5, 5).double(), 123)
    inp = lib.tensor(_rand(16, 5, seed=124))
    params = {name: p for name, p in model.named_parameters()}
    tangents = {name: lib.tensor(_rand(*tuple(p.shape), seed=125)) for name, p in params.items()}
    with fwAD.dual_level():
        for name, p in params.items():
            delattr(model, name)
            setattr(model, name, fwAD.make_dual(p, tangents[name]))
        out = model(inp)
        res["module_jvp"] = fwAD.unpack_dual(out).tangent

    model2 = _load(lib, lib.nn.Linear(5, 5).double(), 123)
    with fwAD.dual_level():
        dual_params = {name: fwAD.make_dual(p, tangents[name]) for name, p in model2.named_parameters()}
        out = lib.func.functional_call(model2, dual_params, inp)
        res["fc_jvp"] = fwAD.unpack_dual(out).tangent

    # a custom Function with jvp
    class Fn(lib.autograd.Function):
        @staticmethod
        def forward(ctx, foo):
            result = lib.exp(foo)
            ctx.result = result
            return result

        @staticmethod
        def jvp(ctx, gI):
            gO = gI * ctx.result
            del ctx.result
            return gO

    # the tutorial's Function has no backward; this program's gradcheck checks backward AD
    # too, so one is added (the Function as written: tests/test_programs_round27b.py)
    Fn.backward = staticmethod(lambda ctx, gO: gO * lib.exp(ctx.saved_tensors[0]))
    Fn.forward = staticmethod(_save_and(Fn.forward))
    with fwAD.dual_level():
        x = lib.tensor(_rand(3, seed=126))
        t = lib.tensor(_rand(3, seed=127))
        out = Fn.apply(fwAD.make_dual(x, t))
        res["custom_jvp"] = fwAD.unpack_dual(out).tangent
    res["gradcheck_fwd"] = lib.autograd.gradcheck(Fn.apply, (lib.tensor(_rand(3, seed=128), requires_grad=True),),
                                                  check_forward_ad=True, check_backward_ad=True,
                                                  check_undefined_grad=False, check_batched_grad=False)
    # functorch-style jvp on the model
    res["func_jvp"] = lib.func.jvp(lambda p: lib.func.functional_call(model2, p, (inp,)),
                                   ({k: v.detach() for k, v in model2.named_parameters()},),
                                   (tangents,))[1]
    return res


def _save_and(forward):
    def wrapped(ctx, foo):
        ctx.save_for_backward(foo)
        return forward(ctx, foo)
    return wrapped


# ----------------------------------------------------------------------------------------------
# 10. Hooks, parametrizations, pruning, distillation, the CIFAR classifier
# ----------------------------------------------------------------------------------------------
@program
def module_hooks(lib):
    nn = lib.nn
    log = []
    model = _load(lib, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double(), 130)

    def fwd_pre(m, args):
        log.append(("pre", type(m).__name__, args[0].shape))
        return (args[0] * 2,)

    def fwd(m, args, out):
        log.append(("fwd", type(m).__name__, out.shape))
        return out + 1

    def bwd(m, gin, gout):
        log.append(("bwd", type(m).__name__, [g.shape if g is not None else None for g in gin],
                    [g.shape for g in gout]))

    def bwd_pre(m, gout):
        log.append(("bwd_pre", type(m).__name__))
        return (gout[0] * 3,)

    h1 = model[0].register_forward_pre_hook(fwd_pre)
    h2 = model[2].register_forward_hook(fwd)
    h3 = model[0].register_full_backward_hook(bwd)
    h4 = model[2].register_full_backward_pre_hook(bwd_pre)
    x = lib.tensor(_rand(5, 3, seed=131), requires_grad=True)
    out = model(x)
    out.sum().backward()
    res = {"out": out, "gx": x.grad, "grads": _grads(model), "log": log[:]}
    for h in (h1, h2, h3, h4):
        h.remove()
    res["after"] = model(x)
    acts = {}
    [m.register_forward_hook(lambda m, i, o, name=name: acts.__setitem__(name, o.detach()))
             for name, m in model.named_modules() if name]
    model(x)
    res["acts"] = acts
    tensor_log = []
    y = x * 2
    y.register_hook(lambda g: tensor_log.append(g.clone()) or g * 0.5)
    y.sum().backward()
    res["tensor_hook"] = tensor_log
    res["gx2"] = x.grad
    return res


@program
def parametrizations_tutorial(lib):
    nn = lib.nn
    P = nn.utils.parametrize

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class Skew(nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.transpose(-1, -2)

    class CayleyMap(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.register_buffer("Id", lib.eye(n, dtype=lib.float64))

        def forward(self, X):
            return lib.linalg.solve(self.Id - X, self.Id + X)

    class MatrixExponential(nn.Module):
        def forward(self, X):
            return lib.matrix_exp(X)

    class NoisyParametrization(nn.Module):
        def forward(self, X):
            return X

        def right_inverse(self, A):
            return A.triu()

    res = {}
    layer = _load(lib, nn.Linear(3, 3).double(), 140)
    P.register_parametrization(layer, "weight", Symmetric())
    A = layer.weight
    res["sym"] = A
    res["is_sym"] = lib.allclose(A, A.T)
    res["repr"] = repr(layer)
    res["orig_names"] = [n for n, _ in layer.named_parameters()]
    res["cls"] = type(layer).__name__
    with P.cached():
        res["cached_same"] = layer.weight is layer.weight
    res["uncached_same"] = layer.weight is layer.weight

    layer2 = _load(lib, nn.Linear(3, 3).double(), 141)
    P.register_parametrization(layer2, "weight", Skew())
    P.register_parametrization(layer2, "weight", CayleyMap(3))
    X = layer2.weight
    res["orth"] = X.T @ X
    layer3 = _load(lib, nn.Linear(3, 3).double(), 142)
    P.register_parametrization(layer3, "weight", Skew())
    P.register_parametrization(layer3, "weight", MatrixExponential())
    res["expm"] = layer3.weight
    res["n_parametrizations"] = len(layer3.parametrizations.weight)
    layer3.weight.sum().backward()
    res["orig_grad"] = layer3.parametrizations.weight.original.grad

    layer4 = _load(lib, nn.Linear(3, 3).double(), 143)
    P.register_parametrization(layer4, "weight", NoisyParametrization())
    res["noisy_orig"] = layer4.parametrizations.weight.original
    with lib.no_grad():
        layer4.weight = lib.tensor(_rand(3, 3, seed=144))
    res["noisy_set"] = layer4.parametrizations.weight.original
    P.remove_parametrizations(layer, "weight")
    res["removed_cls"] = type(layer).__name__
    res["removed_w"] = layer.weight
    res["is_param"] = P.is_parametrized(layer3), P.is_parametrized(layer)
    P.remove_parametrizations(layer3, "weight", leave_parametrized=False)
    res["unparam_w"] = layer3.weight

    # training through a parametrization
    lin = _load(lib, nn.Linear(3, 3).double(), 145)
    P.register_parametrization(lin, "weight", Symmetric())
    opt = lib.optim.SGD(lin.parameters(), lr=0.1)
    xin = lib.tensor(_rand(4, 3, seed=146))
    for _ in range(3):
        opt.zero_grad()
        lin(xin).pow(2).sum().backward()
        opt.step()
    res["trained"] = lin.weight
    res["sd_keys"] = list(lin.state_dict().keys())
    return res


@program
def pruning_tutorial(lib):
    nn, F = lib.nn, lib.nn.functional
    prune = importlib.import_module(lib.__name__ + ".nn.utils.prune")

    class TinyPrunable(nn.Module):
        # two conv stages and three dense layers; attribute names are what prune addresses below
        def __init__(self):
            super().__init__()
            for nm, (cin, cout) in (("conv1", (1, 3)), ("conv2", (3, 4))):
                setattr(self, nm, nn.Conv2d(cin, cout, 3))
            for nm, (fin, fout) in (("fc1", (16, 12)), ("fc2", (12, 8)), ("fc3", (8, 10))):
                setattr(self, nm, nn.Linear(fin, fout))

        def forward(self, img):
            h = img
            for conv, win in ((self.conv1, (2, 2)), (self.conv2, 2)):
                h = F.max_pool2d(F.relu(conv(h)), win)
            h = h.view(-1, h.nelement() // h.shape[0])
            h = F.relu(self.fc2(F.relu(self.fc1(h))))
            return self.fc3(h)

    model = _load(lib, TinyPrunable().double(), 150)
    res = {}
    module = model.conv1
    # random_unstructured draws from the library's generator: only its structure is compared
    prune.random_unstructured(module, name="weight", amount=0.3)
    res["named_params"] = [n for n, _ in module.named_parameters()]
    res["named_buffers"] = [n for n, _ in module.named_buffers()]
    res["n_zero"] = int((module.weight == 0).sum())
    res["hooks"] = [type(h).__name__ for h in module._forward_pre_hooks.values()]
    prune.l1_unstructured(module, name="bias", amount=1)
    res["bias"] = module.bias
    res["bias_mask"] = module.bias_mask
    # iterative pruning: ln_structured on top of random_unstructured
    prune.ln_structured(module, name="weight", amount=0.5, n=2, dim=0)
    res["ln_zero_rows"] = int((module.weight.flatten(1).abs().sum(1) == 0).sum())
    hook = [h for h in module._forward_pre_hooks.values() if getattr(h, "_tensor_name", None) == "weight"][0]
    res["container"] = type(hook).__name__
    res["history"] = [type(h).__name__ for h in hook]
    prune.remove(module, "weight")
    res["after_remove"] = [n for n, _ in module.named_parameters()]

    m2 = _load(lib, TinyPrunable().double(), 151)
    for name, mod in m2.named_modules():
        if isinstance(mod, nn.Conv2d):
            prune.l1_unstructured(mod, name="weight", amount=0.2)
        elif isinstance(mod, nn.Linear):
            prune.l1_unstructured(mod, name="weight", amount=0.4)
    res["mask_keys"] = sorted(dict(m2.named_buffers()).keys())
    res["fc1_mask"] = m2.fc1.weight_mask

    m3 = _load(lib, TinyPrunable().double(), 152)
    layer_names = ("conv1", "conv2", "fc1", "fc2", "fc3")
    targets = tuple((getattr(m3, ln), "weight") for ln in layer_names)
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=0.2)
    zeros = {ln: float(lib.sum(getattr(m3, ln).weight == 0)) for ln in layer_names}
    sizes = {ln: float(getattr(m3, ln).weight.nelement()) for ln in layer_names}
    res["sparsity"] = {ln: zeros[ln] / sizes[ln] for ln in layer_names}
    res["global"] = sum(zeros.values()) * 100.0 / sum(sizes.values())

    class EveryOtherPruner(prune.BasePruningMethod):
        PRUNING_TYPE = "unstructured"

        def compute_mask(self, t, default_mask):
            keep = default_mask.clone()
            keep.view(-1)[0::2] = 0
            return keep

    EveryOtherPruner.apply(m3.fc3, "bias")
    res["foobar"] = m3.fc3.bias_mask
    x = lib.tensor(_rand(2, 1, 14, 14, seed=153))
    out = m3(x)
    out.sum().backward()
    res["out"] = out
    res["orig_grad"] = m3.fc3.weight_orig.grad
    res["sd"] = sorted(m3.state_dict().keys())
    return res


@program
def knowledge_distillation(lib):
    nn, F = lib.nn, lib.nn.functional

    def make(hidden, seed):
        return _load(lib, nn.Sequential(nn.Flatten(), nn.Linear(12, hidden), nn.ReLU(),
                                        nn.Dropout(0.1), nn.Linear(hidden, 5)).double(), seed)

    teacher, student = make(16, 160), make(6, 161)
    x = lib.tensor(_rand(8, 3, 2, 2, seed=162))
    y = lib.tensor(np.random.RandomState(163).randint(0, 5, 8))
    T, soft_w, ce_w = 2.0, 0.25, 0.75
    ce = nn.CrossEntropyLoss()
    opt = lib.optim.Adam(student.parameters(), lr=0.01)
    teacher.eval()
    student.eval()
    hist = []
    for _ in range(3):
        opt.zero_grad()
        with lib.no_grad():
            t_logits = teacher(x)
        s_logits = student(x)
        soft_targets = F.softmax(t_logits / T, dim=-1)
        soft_prob = F.log_softmax(s_logits / T, dim=-1)
        soft_targets_loss = lib.sum(soft_targets * (soft_targets.log() - soft_prob)) / soft_prob.size()[0] * (T ** 2)
        label_loss = ce(s_logits, y)
        loss = soft_w * soft_targets_loss + ce_w * label_loss
        loss.backward()
        opt.step()
        kl = nn.KLDivLoss(reduction="batchmean")(soft_prob, soft_targets) * T ** 2
        kl_log = nn.KLDivLoss(reduction="batchmean", log_target=True)(soft_prob, F.log_softmax(t_logits / T, -1))
        hist.append([loss, soft_targets_loss, kl, kl_log])
    # cosine-loss hidden-representation variant
    cos = nn.CosineEmbeddingLoss()
    th = teacher[1](teacher[0](x))
    sh = nn.functional.pad(student[1](student[0](x)), (0, 10))
    cos_loss = cos(sh, th, target=lib.ones(x.size(0)))
    return {"hist": hist, "params": _params(student), "cos": cos_loss}


@program
def cifar_classifier(lib):
    """A LeNet-sized classifier on 32x32 colour images: two conv+pool stages, three dense
    layers, SGD with momentum over a DataLoader, the weights moved to a fresh model through
    the state dict, then overall and per-class hit counts under no_grad."""
    nn, F = lib.nn, lib.nn.functional

    class SmallConvNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.fc1, self.fc2, self.fc3 = (nn.Linear(400, 32), nn.Linear(32, 16),
                                            nn.Linear(16, 10))

        def forward(self, img):
            for conv in (self.conv1, self.conv2):          # 32 -> 28 -> 14 -> 10 -> 5
                img = self.pool(F.relu(conv(img)))
            flat = lib.flatten(img, 1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(flat)))))

    net = _load(lib, SmallConvNet(), 170, 0.1)
    imgs = lib.tensor((np.random.RandomState(171).rand(8, 3, 32, 32).astype(np.float32) - 0.5) / 0.5)
    labels = lib.tensor(np.random.RandomState(172).randint(0, 10, 8))
    names = [f"class{k}" for k in range(10)]
    loader = lib.utils.data.DataLoader(lib.utils.data.TensorDataset(imgs, labels), batch_size=4)
    crit = nn.CrossEntropyLoss()
    opt = lib.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    per_epoch = []
    for _ in range(2):
        total_loss = 0.0
        for batch_imgs, batch_labels in loader:
            opt.zero_grad()
            loss = crit(net(batch_imgs), batch_labels)
            loss.backward()
            opt.step()
            total_loss += loss.item()
        per_epoch.append(total_loss)
    copy_net = SmallConvNet()
    copy_net.load_state_dict(net.state_dict())
    hits, seen = 0, 0
    hits_by_class = dict.fromkeys(names, 0)
    with lib.no_grad():
        for batch_imgs, batch_labels in loader:
            scores = copy_net(batch_imgs)
            best = lib.max(scores.data, 1)[1]
            seen += batch_labels.size(0)
            right = best == batch_labels
            hits += right.sum().item()
            for lab, ok in zip(batch_labels, right):
                if ok:
                    hits_by_class[names[lab]] += 1
    return {"running": per_epoch, "acc": 100 * hits // seen, "per_class": hits_by_class,
            "out": scores, "fc3": net.fc3.weight}


# ----------------------------------------------------------------------------------------------
# 11. The 60-minute blitz (tensors, autograd, neural networks), autograd mechanics
# ----------------------------------------------------------------------------------------------
@program
def blitz_tensors(lib):
    """Tensor basics: made from a nested list, from numpy, *_like constructors, attributes,
    indexing and column assignment, cat, three spellings of matmul (one with out=), two of
    the elementwise product, .item(), in-place add, and memory shared with numpy both ways."""
    grid = [[5, -1], [0, 7]]
    from_list = lib.tensor(grid)
    from_np = lib.from_numpy(np.array(grid))
    same_ones = lib.ones_like(from_list)
    noise = lib.rand_like(from_list, dtype=lib.float)     # only shape and dtype compared
    m = lib.ones(3, 5)
    m[:, 2] = 0
    wide = lib.cat([m, m], dim=1)
    gram = [m @ m.T, m.matmul(m.T), lib.rand_like(m @ m.T)]
    lib.matmul(m, m.T, out=gram[2])
    prods = [m * m, lib.rand_like(m)]
    lib.mul(m, m, out=prods[1])
    total = m.sum()
    as_float = total.item()
    m.add_(-2)
    shared = lib.full((4,), 2.0)
    view_np = shared.numpy()                 # one buffer: the in-place add shows in numpy
    shared.add_(3)
    arr = np.zeros(4)
    wraps = lib.from_numpy(arr)              # and the other way round
    np.subtract(arr, 1.5, out=arr)
    return {"x_data": from_list, "x_np": from_np, "x_ones": same_ones,
            "rand": (noise.shape, noise.dtype), "zeros": lib.zeros((3, 2)),
            "attrs": [m.shape, m.dtype, str(m.device)], "first_row": m[0],
            "last_col": m[..., -1], "t1": wide, "y": gram, "z": prods,
            "agg": (as_float, type(as_float).__name__), "tensor": m, "n": view_np.copy(),
            "t2": wraps, "repr": repr(m)}


@program
def blitz_autograd(lib):
    """backward with an explicit gradient on a vector output, the analytic gradients compared
    with ==, requires_grad propagation, and fine-tuning only a replaced head of a frozen
    Sequential."""
    u = lib.tensor([1.5, -2.0], requires_grad=True)
    v = lib.tensor([0.5, 3.0], requires_grad=True)
    out = 2 * u ** 3 + v ** 2 - u * v
    out.backward(gradient=lib.tensor([1.0, 0.5]))
    res = {"a": u.grad, "b": v.grad,
           "check": [(6 * u ** 2 - v) * lib.tensor([1.0, 0.5]) == u.grad,
                     (2 * v - u) * lib.tensor([1.0, 0.5]) == v.grad]}
    plain, other = lib.rand(3, 2), lib.rand(3, 2)
    tracked = lib.rand((3, 2), requires_grad=True)
    res["rg"] = [(plain + other).requires_grad, (plain + tracked).requires_grad]
    nn = lib.nn
    model = _load(lib, nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4)), 200)
    for frozen in model.parameters():                       # the attribute, set directly
        frozen.requires_grad = False
    model[2] = _load(lib, nn.Linear(8, 3), 201)            # the new head is trainable
    optimizer = lib.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    inp = lib.tensor(_rand(5, 6, seed=202).astype(np.float32))
    model(inp).sum().backward()
    optimizer.step()
    res["frozen"] = [p.grad is None for p in model.parameters()]
    res["head"] = model[2].weight
    return res


@program
def blitz_neural_network(lib):
    nn, F, optim = lib.nn, lib.nn.functional, lib.optim

    class DigitNet(nn.Module):
        # 32x32 single-channel input -> 10 scores; conv1/fc3 names are read back below
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)

        def forward(self, inp):
            feat = F.max_pool2d(F.relu(self.conv1(inp)), (2, 2))
            feat = lib.flatten(F.max_pool2d(F.relu(self.conv2(feat)), 2), 1)
            for dense in (self.fc1, self.fc2):
                feat = F.relu(dense(feat))
            return self.fc3(feat)

    net = _load(lib, DigitNet(), 210, 0.1)
    weights = list(net.parameters())
    img = lib.tensor(_rand(1, 1, 32, 32, seed=211).astype(np.float32))
    scores = net(img)
    net.zero_grad()
    scores.backward(lib.tensor(_rand(1, 10, seed=212).astype(np.float32)))   # a vector-Jacobian
    res = {"n": len(weights), "size0": weights[0].size(), "out": scores, "repr": repr(net),
           "g1": net.conv1.bias.grad.clone()}
    goal = lib.tensor(_rand(10, seed=213).astype(np.float32)).view(1, -1)
    sq_err = nn.MSELoss()
    err = sq_err(net(img), goal)
    res["loss"] = err
    # (grad_fn names are not compared: minigrad's mse_loss is built from other ops, so its
    # node is MeanBackward0 where torch has MseLossBackward0; reported)
    net.zero_grad()                            # set_to_none: .grad is None until backward
    res["before"] = net.conv1.bias.grad
    err.backward()
    res["after"] = net.conv1.bias.grad
    for w in weights:                          # one plain SGD step by hand through .data ...
        w.data.sub_(0.01 * w.grad.data)
    sgd = optim.SGD(weights, lr=0.01)          # ... and one by the optimizer
    sgd.zero_grad()
    sq_err(net(img), goal).backward()
    sgd.step()
    res["final"] = net(img)
    return res


@program
def autograd_mechanics(lib):
    # the tutorial's y.grad_fn._saved_self / _saved_result are missing in minigrad (reported)
    res = {}
    x = lib.tensor(_rand(4, seed=220), requires_grad=True)
    # saved tensor hooks: pack to numpy-free clones
    packed = []

    def pack(t):
        packed.append(tuple(t.shape))
        return t.clone()

    def unpack(t):
        return t * 1

    with lib.autograd.graph.saved_tensors_hooks(pack, unpack):
        z = (x * x.sin()).sum()
    z.backward()
    res["hooked_grad"] = x.grad
    res["packed"] = len(packed) > 0
    # in-place correctness check
    a = lib.tensor(_rand(3, seed=221), requires_grad=True)
    b = a.sigmoid()
    b.mul_(2)
    caught = _err(lambda: b.sum().backward())
    # the words before the tensor's description (minigrad writes torch.float64 where torch
    # writes torch.DoubleTensor; reported)
    res["inplace"] = (type(caught.exc).__name__, str(caught.exc).split(":")[0])
    # retain_grad, non-leaf .grad
    c = a * 2
    c.retain_grad()
    (c ** 2).sum().backward()
    res["retained"] = c.grad
    # inference_mode, no_grad, set_grad_enabled
    with lib.inference_mode():
        d = a * 2
    res["inference"] = [d.requires_grad, d.is_inference()]
    with lib.set_grad_enabled(False):
        e = a * 2
    res["no_grad"] = e.requires_grad
    # complex autograd: conjugate Wirtinger
    zc = lib.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    (zc.abs() ** 2).sum().backward()
    res["complex_grad"] = zc.grad
    return res


@program
def autograd_functional_api(lib):
    AF = lib.autograd.functional

    def f(x, y):
        return (x.exp() * y.sin()).sum(0)

    def scalar(x):
        return (x ** 3).sum() + x.prod()

    x = lib.tensor(_rand(3, 2, seed=230))
    y = lib.tensor(_rand(3, 2, seed=231))
    v = lib.tensor(_rand(3, 2, seed=232))
    return {"jac": AF.jacobian(f, (x, y)), "jac_vec": AF.jacobian(f, (x, y), vectorize=True),
            # torch gives a list here (a tuple with reverse mode): not copied, see the report
            "jac_fwd": tuple(AF.jacobian(f, (x, y), vectorize=True, strategy="forward-mode")),
            "hess": AF.hessian(scalar, x), "vjp": AF.vjp(lambda a: f(a, y), x, lib.ones(2, dtype=lib.float64)),
            "jvp": AF.jvp(lambda a: f(a, y), x, v), "hvp": AF.hvp(scalar, x, v), "vhp": AF.vhp(scalar, x, v),
            "create_graph": AF.jacobian(scalar, x, create_graph=True).requires_grad}


# ----------------------------------------------------------------------------------------------
# 12. More recipes: DQN's target network, optimizer-in-backward, saving checkpoints,
#     channels-last, weight norm / orthogonal parametrizations, per-sample grads with hooks
# ----------------------------------------------------------------------------------------------
@program
def dqn_update_step(lib):
    """A replay-memory DQN update: a namedtuple of transitions transposed by zip, a bool mask
    of the non-terminal ones, gather of the taken actions, the bootstrap written into the
    masked rows under no_grad, Huber loss, clip_grad_value_, AdamW(amsgrad), and a soft
    (Polyak) target update through state dicts."""
    nn = lib.nn
    from collections import deque, namedtuple
    Step = namedtuple("Step", ("obs", "act", "after", "gain"))

    def q_net():
        return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                             nn.Linear(16, 2))

    online = _load(lib, q_net(), 240)
    frozen = q_net()
    frozen.load_state_dict(online.state_dict())
    opt = lib.optim.AdamW(online.parameters(), lr=1e-3, amsgrad=True)
    replay = deque([], maxlen=32)
    rng = np.random.RandomState(241)
    for i in range(12):
        obs = lib.tensor(rng.randn(1, 4).astype(np.float32))
        ended = i % 5 == 4                      # every fifth step ends an episode: no "after"
        after = None if ended else lib.tensor(rng.randn(1, 4).astype(np.float32))
        replay.append(Step(obs, lib.tensor([[rng.randint(2)]]), after,
                           lib.tensor([float(rng.rand())])))
    discount, blend = 0.99, 0.005
    hist = []
    for start in range(3):
        cols = Step(*zip(*list(replay)[start:start + 8]))      # one tuple per field
        alive = lib.tensor(tuple(a is not None for a in cols.after), dtype=lib.bool)
        obs = lib.cat(cols.obs)
        chosen = online(obs).gather(1, lib.cat(cols.act))
        bootstrap = lib.zeros(8)
        with lib.no_grad():
            bootstrap[alive] = frozen(lib.cat([a for a in cols.after if a is not None])).max(1).values
        goal = lib.cat(cols.gain) + discount * bootstrap
        loss = nn.SmoothL1Loss()(chosen, goal.unsqueeze(1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(online.parameters(), 100)
        opt.step()
        mixed = {k: blend * w + (1 - blend) * frozen.state_dict()[k]
                 for k, w in online.state_dict().items()}
        frozen.load_state_dict(mixed)
        hist.append(loss)
    with lib.no_grad():
        act = online(obs[:1]).max(1).indices.view(1, 1)
    return {"hist": hist, "target": _params(frozen), "act": act, "mask": alive}


@program
def optimizer_in_backward(lib):
    nn = lib.nn
    model = _load(lib, nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double(), 250)
    # one Adam per parameter, stepped by a hook as soon as that parameter's gradient is
    # complete, so no optimizer.step() follows backward
    own_adam = {w: lib.optim.Adam([w], lr=0.01, foreach=False) for w in model.parameters()}
    order = []

    def step_now(w):
        order.append(tuple(w.shape))
        own_adam[w].step()
        own_adam[w].zero_grad()

    for w in model.parameters():
        w.register_post_accumulate_grad_hook(step_now)
    x = lib.tensor(_rand(5, 4, seed=251))
    for _ in range(3):
        model(x).pow(2).mean().backward()
    ref = _load(lib, nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double(), 250)
    opt = lib.optim.Adam(ref.parameters(), lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        ref(x).pow(2).mean().backward()
        opt.step()
    # the order the hooks run in follows the engine's scheduling (differs; reported)
    return {"params": _params(model), "ref": _params(ref), "order": sorted(order),
            "grads": [p.grad for p in model.parameters()]}


@program
def save_load_checkpoint(lib):
    import io
    nn = lib.nn
    model = _load(lib, nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double(), 260)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = lib.tensor(_rand(6, 3, seed=261))
    for _ in range(2):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    buf = io.BytesIO()
    lib.save({"epoch": 2, "model_state_dict": model.state_dict(),
              "optimizer_state_dict": opt.state_dict(), "loss": 0.5}, buf)
    buf.seek(0)
    ckpt = lib.load(buf, weights_only=True)
    model2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    opt2 = lib.optim.SGD(model2.parameters(), lr=0.5, momentum=0.1)
    model2.load_state_dict(ckpt["model_state_dict"])
    opt2.load_state_dict(ckpt["optimizer_state_dict"])
    for m, o in ((model, opt), (model2, opt2)):
        o.zero_grad()
        m(x).sum().backward()
        o.step()
    model2.eval()
    return {"epoch": ckpt["epoch"], "loss": ckpt["loss"], "same": [lib.equal(a, b) for a, b in
                                                                    zip(model.parameters(), model2.parameters())],
            "keys": list(ckpt["model_state_dict"]), "pg": opt2.param_groups[0]["lr"],
            "eval": model2(x), "strict": _err(lambda: model2.load_state_dict({"0.weight": lib.zeros(4, 3)}))}


@program
def channels_last_tutorial(lib):
    dims = (2, 3, 5, 4)
    nchw = lib.empty(*dims)
    nhwc = nchw.to(memory_format=lib.channels_last)          # same shape, strides reordered
    res = {"stride": nchw.stride(), "cl_shape": nhwc.shape, "cl_stride": nhwc.stride(),
           "back": nhwc.to(memory_format=lib.contiguous_format).stride(),
           "alt": nhwc.contiguous(memory_format=lib.channels_last).stride(),
           "is_cl": [nhwc.is_contiguous(memory_format=lib.channels_last),
                     nhwc.is_contiguous()]}
    y = lib.tensor(_rand(*dims, seed=270)).contiguous(memory_format=lib.channels_last)
    conv = _load(lib, lib.nn.Conv2d(3, 4, 3).double(), 271)
    out = conv(y)
    res["conv"] = out
    res["conv_cl"] = out.is_contiguous(memory_format=lib.channels_last)
    model = conv.to(memory_format=lib.channels_last)
    res["w_cl"] = model.weight.is_contiguous(memory_format=lib.channels_last)
    res["relu_keep"] = lib.relu(y).is_contiguous(memory_format=lib.channels_last)
    res["empty_cl"] = lib.empty(*dims, memory_format=lib.channels_last).stride()
    return res


@program
def weight_norm_orthogonal(lib):
    nn = lib.nn
    P = nn.utils.parametrizations
    lin = _load(lib, nn.Linear(4, 3).double(), 280)
    wn = P.weight_norm(lin)
    res = {"wn_names": sorted(n for n, _ in wn.named_parameters()), "wn_w": wn.weight,
           "g": wn.parametrizations.weight.original0}
    x = lib.tensor(_rand(2, 4, seed=281))
    wn(x).sum().backward()
    res["g_grad"] = wn.parametrizations.weight.original0.grad
    lin2 = _load(lib, nn.Linear(4, 4).double(), 282)
    orth = P.orthogonal(lin2)
    Q = orth.weight
    res["orth"] = Q.T @ Q
    opt = lib.optim.SGD(orth.parameters(), lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        orth(x).pow(2).sum().backward()
        opt.step()
    res["orth_after"] = orth.weight.T @ orth.weight
    lin3 = _load(lib, nn.Linear(5, 3).double(), 283)
    sn = P.spectral_norm(lin3)
    sn.eval()
    res["sn_names"] = sorted(n for n, _ in sn.named_buffers())
    return res


@program
def per_sample_grad_expanded_weights(lib):
    """The "per-sample-gradients" recipe's manual version: per-example losses summed, the
    gradients of each example taken by a loop of autograd.grad, compared with vmap."""
    nn, F = lib.nn, lib.nn.functional
    model = _load(lib, nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double(), 290)
    x = lib.tensor(_rand(4, 3, seed=291))
    y = lib.tensor([0, 1, 1, 0])
    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_fn(p, xi, yi):
        return F.cross_entropy(lib.func.functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    vm = lib.func.vmap(lib.func.grad_and_value(loss_fn), in_dims=(None, 0, 0))(params, x, y)
    loop = []
    for i in range(4):
        l = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
        loop.append(lib.autograd.grad(l, list(model.parameters())))
    return {"vmap": vm, "loop": [lib.stack(g) for g in zip(*loop)]}


# ----------------------------------------------------------------------------------------------
# 13. Learn the basics (quickstart, datasets, transforms, autograd), NLP tutorials
# ----------------------------------------------------------------------------------------------
@program
def basics_quickstart(lib):
    """The basics: a map-style Dataset with optional input/label transforms (a one-hot label
    by scatter_ with a scalar value), a Flatten + Linear/ReLU classifier, softmax and argmax
    of one prediction, then epochs of a training pass and an evaluation pass over
    DataLoaders, and the repr and named parameters of the model."""
    nn = lib.nn
    Dataset, DataLoader = lib.utils.data.Dataset, lib.utils.data.DataLoader
    images = np.random.RandomState(310).rand(24, 28, 28).astype(np.float32)
    targets = np.random.RandomState(311).randint(0, 10, 24)

    class GreyPictures(Dataset):
        def __init__(self, on_image=None, on_label=None):
            self.on_image, self.on_label = on_image, on_label

        def __len__(self):
            return len(targets)

        def __getitem__(self, k):
            pic, lab = lib.tensor(images[k]).unsqueeze(0), int(targets[k])   # (1, 28, 28)
            pic = self.on_image(pic) if self.on_image else pic
            lab = self.on_label(lab) if self.on_label else lab
            return pic, lab

    def as_one_hot(lab):
        return lib.zeros(10, dtype=lib.float).scatter_(0, lib.tensor(lab), value=1)

    sample = GreyPictures(on_label=as_one_hot)[3]

    class PixelsToScores(nn.Module):
        def __init__(self):
            super().__init__()
            self.flat = nn.Flatten()
            self.layers = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 32),
                                        nn.ReLU(), nn.Linear(32, 10))

        def forward(self, pics):
            return self.layers(self.flat(pics))

    model = _load(lib, PixelsToScores(), 312, 0.05)
    probs = nn.Softmax(dim=1)(model(lib.tensor(images[:1])))
    guess = probs.argmax(1)
    ce = nn.CrossEntropyLoss()
    sgd = lib.optim.SGD(model.parameters(), lr=1e-3)
    fit_loader = DataLoader(GreyPictures(), batch_size=8)
    check_loader = DataLoader(GreyPictures(), batch_size=12)

    def one_epoch():
        model.train()
        log, done = [], 0
        for pics, labs in fit_loader:
            loss = ce(model(pics), labs)
            loss.backward()
            sgd.step()
            sgd.zero_grad()
            done += len(pics)
            log.append((loss.item(), done, len(fit_loader.dataset)))
        return log

    def evaluate():
        model.eval()
        loss_sum, right = 0.0, 0.0
        with lib.no_grad():
            for pics, labs in check_loader:
                scores = model(pics)
                loss_sum += ce(scores, labs).item()
                right += (scores.argmax(1) == labs).type(lib.float).sum().item()
        return loss_sum / len(check_loader), right / len(check_loader.dataset)

    hist = [(one_epoch(), evaluate()) for _ in range(2)]
    first = next(iter(fit_loader))
    return {"sample": sample, "pred": guess, "probs": probs, "hist": hist,
            "batch": [first[0].shape, first[1], first[1].dtype],
            "params": [(name, w.size(), w[:2]) for name, w in model.named_parameters()],
            "repr": repr(model)}


@program
def basics_autograd(lib):
    """A one-layer logistic model's gradients, no_grad and detach, and gradients that
    accumulate over two backward calls through a retained graph (a third call on the freed
    graph raises)."""
    F = lib.nn.functional
    feats = lib.full((4,), 0.5)
    wanted = lib.tensor([1.0, 0.0])
    w = lib.tensor(_rand(4, 2, seed=320).astype(np.float32), requires_grad=True)
    b = lib.tensor(_rand(2, seed=321).astype(np.float32), requires_grad=True)
    logit = feats @ w + b
    loss = F.binary_cross_entropy_with_logits(logit, wanted)
    # (the loss node's name differs: minigrad builds the loss from other ops, MeanBackward0
    # where torch has BinaryCrossEntropyWithLogitsBackward0; reported): only the logit's
    names = [logit.grad_fn.name()]
    loss.backward()
    res = {"loss": loss, "gw": w.grad, "gb": b.grad, "names": names}
    with lib.no_grad():
        res["no_grad"] = (feats @ w + b).requires_grad
    res["detach"] = (feats @ w + b).detach().requires_grad
    src = lib.eye(3, 4, requires_grad=True)
    sq = (src - 0.5).pow(2).t()
    seed = lib.ones_like(sq)
    sq.backward(seed, retain_graph=True)
    once = src.grad.clone()
    sq.backward(seed)                          # graph freed after this one
    twice = src.grad.clone()
    src.grad.zero_()
    res["third_err"] = _err(lambda: sq.backward(seed))
    fresh = (src - 0.5).pow(2).t()
    fresh.backward(lib.ones_like(fresh))
    res.update(first=once, second=twice, third=src.grad)
    return res


@program
def nlp_bow_ngram_cbow(lib):
    """Three small word models trained word by word: a bag-of-words log-linear classifier
    (counts written by index into a zeros vector, NLLLoss, LongTensor targets), a
    two-word-context language model (Embedding rows viewed as one vector), and a
    continuous-bag-of-words step (context embeddings summed)."""
    nn, F = lib.nn, lib.nn.functional
    docs = [("the cat sat on the warm mat".split(), "PETS"),
            ("stocks fell as rates rose".split(), "MONEY"),
            ("a dog chased the cat".split(), "PETS"),
            ("the bank raised rates on loans".split(), "MONEY")]
    vocab_ix = {}
    for words, _ in docs:
        for word in words:
            vocab_ix.setdefault(word, len(vocab_ix))
    topic_ix = {"PETS": 0, "MONEY": 1}

    class CountsToLogProbs(nn.Module):
        def __init__(self, n_words, n_topics):
            super().__init__()
            self.linear = nn.Linear(n_words, n_topics)

        def forward(self, counts):
            return F.log_softmax(self.linear(counts), dim=1)

    def word_counts(words):
        counts = lib.zeros(len(vocab_ix))
        for word in words:
            counts[vocab_ix[word]] += 1
        return counts.view(1, -1)

    model = _load(lib, CountsToLogProbs(len(vocab_ix), 2), 330, 0.1)
    nll = nn.NLLLoss()
    sgd = lib.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(5):
        for words, topic in docs:
            model.zero_grad()
            nll(model(word_counts(words)), lib.LongTensor([topic_ix[topic]])).backward()
            sgd.step()
    with lib.no_grad():
        bow_out = [model(word_counts(words)) for words, _ in docs]
    res = {"bow": bow_out, "creo": next(model.parameters())[:, vocab_ix["rates"]]}

    # a language model predicting each word from the two before it
    line = ("rain on the roof and wind in the trees kept the old house awake until the "
            "grey light of morning").split()
    samples = [((line[i - 2], line[i - 1]), line[i]) for i in range(2, len(line))]
    words = sorted(set(line))
    ix = {w: i for i, w in enumerate(words)}

    class TwoBack(nn.Module):
        def __init__(self, n_words, width, n_context):
            super().__init__()
            self.embeddings = nn.Embedding(n_words, width)
            self.linear1 = nn.Linear(n_context * width, 16)
            self.linear2 = nn.Linear(16, n_words)

        def forward(self, context):
            joined = self.embeddings(context).view((1, -1))
            return F.log_softmax(self.linear2(F.relu(self.linear1(joined))), dim=1)

    lm = _load(lib, TwoBack(len(words), 5, 2), 331)
    opt = lib.optim.SGD(lm.parameters(), lr=0.01)
    losses = []
    for _ in range(2):
        epoch_sum = 0
        for context, nxt in samples:
            lm.zero_grad()
            loss = nn.NLLLoss()(lm(lib.tensor([ix[w] for w in context], dtype=lib.long)),
                                lib.tensor([ix[nxt]], dtype=lib.long))
            loss.backward()
            opt.step()
            epoch_sum += loss.item()
        losses.append(epoch_sum)
    res["ngram"] = losses
    res["beauty"] = lm.embeddings.weight[ix["roof"]]

    # continuous bag of words: the middle word from the two on each side
    class SumContext(nn.Module):
        def __init__(self, n_words, width):
            super().__init__()
            self.emb = nn.Embedding(n_words, width)
            self.out = nn.Linear(width, n_words)

        def forward(self, around):
            return F.log_softmax(self.out(self.emb(around).sum(0, keepdim=True)), dim=-1)

    cbow = _load(lib, SumContext(len(words), 4), 332)
    around = lib.tensor([ix[w] for w in ("rain", "on", "roof", "and")])
    step_loss = F.nll_loss(cbow(around), lib.tensor([ix["the"]]))
    step_loss.backward()
    res["cbow"] = (step_loss, cbow.emb.weight.grad)
    return res


@program
def lstm_tagger_and_crf(lib):
    """An LSTM tagger trained sentence by sentence (NLLLoss on log-softmax tag scores), then
    a linear-chain CRF: the log partition by the forward recursion (max-shifted
    log-sum-exp), the gold path's score by indexing, the negative log-likelihood's gradient,
    and Viterbi decoding with back-pointers."""
    nn, F = lib.nn, lib.nn.functional
    sentences = [("birds sing at dawn".split(), ["N", "V", "P", "N"]),
                 ("old trees fall".split(), ["A", "N", "V"])]
    vocab_ix = {}
    for words, _ in sentences:
        for word in words:
            vocab_ix.setdefault(word, len(vocab_ix))
    tag_ix = {"N": 0, "V": 1, "P": 2, "A": 3}

    def ids(items, table):
        return lib.tensor([table[t] for t in items], dtype=lib.long)

    class RecurrentTagger(nn.Module):
        def __init__(self, width, hidden, n_words, n_tags):
            super().__init__()
            self.word_embeddings = nn.Embedding(n_words, width)
            self.lstm = nn.LSTM(width, hidden)
            self.hidden2tag = nn.Linear(hidden, n_tags)

        def forward(self, sent):
            n = len(sent)
            states, _ = self.lstm(self.word_embeddings(sent).view(n, 1, -1))   # (n, 1, hidden)
            return F.log_softmax(self.hidden2tag(states.view(n, -1)), dim=1)

    model = _load(lib, RecurrentTagger(6, 6, len(vocab_ix), 4), 340)
    nll = nn.NLLLoss()
    sgd = lib.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        for words, tags in sentences:
            model.zero_grad()
            nll(model(ids(words, vocab_ix)), ids(tags, tag_ix)).backward()
            sgd.step()
    with lib.no_grad():
        scores = model(ids(sentences[0][0], vocab_ix))
    res = {"scores": scores}

    # linear-chain CRF over three real tags plus a begin and an end state; trans[to, from]
    BEGIN, END, K = 3, 4, 5
    trans = nn.Parameter(lib.tensor(_rand(K, K, seed=341)))
    trans.data[BEGIN, :] = -10000          # no move into BEGIN
    trans.data[:, END] = -10000            # no move out of END
    emissions = lib.tensor(_rand(4, K, seed=342), requires_grad=True)

    def row_lse(table):
        # log-sum-exp of each row of a (K, K) table, shifted by the row maximum
        top = lib.max(table, 1, keepdim=True)[0]
        return (top + lib.log(lib.sum(lib.exp(table - top.expand(-1, table.size(1))), 1,
                                      keepdim=True))).view(1, -1)

    def log_partition(emis):
        start = lib.full((1, K), -10000., dtype=lib.float64)
        start[0, BEGIN] = 0.
        alpha = start
        for step_scores in emis:
            # entry [to, from] = alpha[from] + trans[to, from] + emis[to]
            alpha = row_lse(alpha + trans + step_scores.view(-1, 1).expand(K, K))
        last = alpha + trans[END].view(1, -1)
        top = lib.max(last)
        return top + lib.log(lib.sum(lib.exp(last - top)))

    def path_score(emis, tags):
        path = lib.cat([lib.tensor([BEGIN], dtype=lib.long), tags])
        moves = trans[path[1:], path[:-1]].sum()
        return moves + emis[lib.arange(len(tags)), tags].sum() + trans[END, tags[-1]]

    def viterbi(emis):
        best = lib.full((1, K), -10000., dtype=lib.float64)
        best[0, BEGIN] = 0
        pointers = []
        for step_scores in emis:
            cand = best + trans                            # [to, from]
            value, came_from = lib.max(cand, 1)
            pointers.append(came_from)
            best = (value + step_scores).view(1, -1)
        last = best + trans[END].view(1, -1)
        tag = lib.max(last, 1)[1].item()
        score = last[0, tag]
        path = [tag]
        for came_from in reversed(pointers):
            tag = came_from[tag].item()
            path.append(tag)
        first = path.pop()                 # the BEGIN state
        return score, path[::-1], first

    neg_ll = log_partition(emissions) - path_score(emissions, lib.tensor([0, 1, 2, 1]))
    neg_ll.backward()
    res.update(nll=neg_ll, feats_grad=emissions.grad, trans_grad=trans.grad,
               viterbi=viterbi(emissions.detach()))
    return res


@program
def text_classification_embedding_bag(lib):
    nn = lib.nn
    texts = [[1, 5, 7, 2], [3, 3], [8, 1, 9, 4, 6], [2], [7, 7, 5], [4, 9]]
    labels = [0, 1, 2, 1, 0, 2]

    def pack(pairs):
        ys = lib.tensor([y for y, _ in pairs], dtype=lib.int64)
        pieces = [lib.tensor(doc, dtype=lib.int64) for _, doc in pairs]
        starts = lib.tensor([0] + [t.size(0) for t in pieces[:-1]]).cumsum(dim=0)
        return ys, lib.cat(pieces), starts

    class BagClassifier(nn.Module):
        def __init__(self, n_words, width, n_classes):
            super().__init__()
            self.bag = nn.EmbeddingBag(n_words, width, sparse=False)
            self.out = nn.Linear(width, n_classes)
            self.out.bias.data.zero_()

        def forward(self, ids, starts):
            return self.out(self.bag(ids, starts))

    model = _load(lib, BagClassifier(10, 6, 3), 350)
    loader = lib.utils.data.DataLoader(list(zip(labels, texts)), batch_size=3, collate_fn=pack)
    xent = nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=5)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    hist = []
    hits = seen = 0
    for _ in range(2):
        model.train()
        hits = seen = 0
        for ys, ids, starts in loader:
            optimizer.zero_grad()
            scores = model(ids, starts)
            loss = xent(scores, ys)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()
            hits += (scores.argmax(1) == ys).sum().item()
            seen += ys.size(0)
            hist.append(loss)
        scheduler.step()
    with lib.no_grad():
        _, ids, starts = pack(list(zip(labels, texts)))
        out = model(ids, starts)
    return {"hist": hist, "acc": hits / seen, "out": out, "offsets": starts,
            "lr": scheduler.get_last_lr(), "pred": out.argmax(1).item() if out.shape[0] == 1 else out.argmax(1)}


@program
def nn_transformer_translation(lib):
    nn = lib.nn
    PAD, BOS, EOS_ = 1, 2, 3

    class SinusoidTable(nn.Module):
        # fixed sin/cos table over (position, 1, feature), added to the scaled embeddings
        def __init__(self, width, p_drop, length=20):
            super().__init__()
            freq = lib.exp(lib.arange(0, width, 2) * (-math.log(10000) / width))
            angle = lib.arange(0, length).reshape(length, 1) * freq
            table = lib.zeros((length, width))
            table[:, 0::2], table[:, 1::2] = lib.sin(angle), lib.cos(angle)
            self.drop = nn.Dropout(p_drop)
            self.register_buffer("table", table[:, None, :])

        def forward(self, emb):
            return self.drop(emb + self.table[:emb.size(0)])

    class ScaledLookup(nn.Module):
        def __init__(self, n_words, width):
            super().__init__()
            self.lookup = nn.Embedding(n_words, width)
            self.scale = math.sqrt(width)

        def forward(self, ids):
            return self.lookup(ids.long()) * self.scale

    class TinyTranslator(nn.Module):
        def __init__(self, width=8, heads=2, n_src=12, n_tgt=11, hidden=16):
            super().__init__()
            self.core = nn.Transformer(d_model=width, nhead=heads, num_encoder_layers=1,
                                       num_decoder_layers=1, dim_feedforward=hidden, dropout=0.1)
            self.head = nn.Linear(width, n_tgt)
            self.src_embed = ScaledLookup(n_src, width)
            self.tgt_embed = ScaledLookup(n_tgt, width)
            self.pos = SinusoidTable(width, p_drop=0.1)

        def forward(self, src, tgt, src_mask, tgt_mask, src_pad, tgt_pad, mem_pad):
            hidden = self.core(self.pos(self.src_embed(src)), self.pos(self.tgt_embed(tgt)), src_mask, tgt_mask,
                               None, src_pad, tgt_pad, mem_pad)
            return self.head(hidden)

        def run_encoder(self, src, src_mask):
            return self.core.encoder(self.pos(self.src_embed(src)), src_mask)

        def run_decoder(self, tgt, memory, tgt_mask):
            return self.core.decoder(self.pos(self.tgt_embed(tgt)), memory, tgt_mask)

    def causal_mask(n):
        allowed = lib.triu(lib.ones((n, n))).transpose(0, 1) == 1
        return allowed.float().masked_fill(~allowed, float("-inf")).masked_fill(allowed, 0.0)

    def masks_for(src, tgt):
        n_src = src.shape[0]
        return (lib.zeros((n_src, n_src)).type(lib.bool), causal_mask(tgt.shape[0]),
                (src == PAD).transpose(0, 1), (tgt == PAD).transpose(0, 1))

    model = TinyTranslator()
    rng = np.random.RandomState(360)
    model.load_state_dict({k: (lib.tensor(rng.randn(*tuple(v.shape)) * 0.2, dtype=v.dtype)
                               if k != "pos.table" else v)
                           for k, v in model.state_dict().items()})
    model.eval()
    src_list = [lib.tensor([BOS, 5, 7, 9, EOS_]), lib.tensor([BOS, 4, 11, EOS_]), lib.tensor([BOS, 6, EOS_])]
    tgt_list = [lib.tensor([BOS, 4, 8, EOS_]), lib.tensor([BOS, 5, 6, 10, EOS_]), lib.tensor([BOS, 9, EOS_])]
    pad_sequence = nn.utils.rnn.pad_sequence
    src = pad_sequence(src_list, padding_value=PAD)
    tgt = pad_sequence(tgt_list, padding_value=PAD)
    optimizer = lib.optim.Adam(model.parameters(), lr=0.001, betas=(0.9, 0.98), eps=1e-9)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    hist = []
    for _ in range(2):
        dec_in, dec_gold = tgt[:-1], tgt[1:]
        m_src, m_tgt, pad_src, pad_tgt = masks_for(src, dec_in)
        scores = model(src, dec_in, m_src, m_tgt, pad_src, pad_tgt, pad_src)
        optimizer.zero_grad()
        loss = loss_fn(scores.flatten(0, 1), dec_gold.flatten())
        loss.backward()
        optimizer.step()
        hist.append(loss)

    def decode_greedily(seq, seq_mask, limit, first):
        mem = model.run_encoder(seq, seq_mask)
        out_ids = lib.ones(1, 1).fill_(first).type(lib.long)
        while out_ids.size(0) < limit:
            step_out = model.run_decoder(out_ids, mem, causal_mask(out_ids.size(0)).type(lib.bool))
            _, best = lib.max(model.head(step_out[-1]), dim=1)
            tok = best.item()
            out_ids = lib.cat([out_ids, lib.ones(1, 1).type_as(seq.data).fill_(tok)], dim=0)
            if tok == EOS_:
                break
        return out_ids

    with lib.no_grad():
        s = src_list[0].view(-1, 1)
        ys = decode_greedily(s, lib.zeros(5, 5).type(lib.bool), 6, BOS)
    return {"hist": hist, "src": src, "mask": masks_for(src, tgt[:-1]), "ys": ys.flatten()}


# ----------------------------------------------------------------------------------------------
# 14. Neural style transfer (LBFGS on the image), transfer learning's train/val loop
# ----------------------------------------------------------------------------------------------
@program(rtol=1e-6, atol=1e-8)
def neural_style_transfer(lib):
    nn, F = lib.nn, lib.nn.functional

    def channel_gram(fmap):
        n, ch, h, w = fmap.size()
        flat = fmap.view(n * ch, h * w)
        return lib.mm(flat, flat.t()).div(flat.numel())

    class ContentProbe(nn.Module):
        # identity layer that records its distance to a fixed activation
        def __init__(self, ref):
            super().__init__()
            self.ref = ref.detach()

        def forward(self, act):
            self.loss = F.mse_loss(act, self.ref)
            return act

    class StyleProbe(ContentProbe):
        def __init__(self, ref):
            super().__init__(channel_gram(ref))

        def forward(self, act):
            self.loss = F.mse_loss(channel_gram(act), self.ref)
            return act

    class Standardize(nn.Module):
        def __init__(self, mu, sigma):
            super().__init__()
            self.mu = lib.tensor(mu, dtype=lib.float64)[:, None, None]
            self.sigma = lib.tensor(sigma, dtype=lib.float64)[:, None, None]

        def forward(self, img):
            return (img - self.mu) / self.sigma

    cnn = _load(lib, nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=False),
                                   nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                   nn.Conv2d(4, 6, 3, padding=1), nn.ReLU()).double(), 370, 0.4).eval()
    style_img = lib.tensor(np.random.RandomState(371).rand(1, 3, 8, 8))
    content_img = lib.tensor(np.random.RandomState(372).rand(1, 3, 8, 8))
    content_layers, style_layers = ["conv_3"], ["conv_1", "conv_2", "conv_3"]

    content_probes, style_probes = [], []
    model = nn.Sequential(Standardize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]))
    depth = 0
    for layer in cnn.children():
        if isinstance(layer, nn.Conv2d):
            depth += 1
            tag = "conv"
        elif isinstance(layer, nn.ReLU):
            tag, layer = "relu", nn.ReLU(inplace=False)
        else:
            tag = "pool"
        label = f"{tag}_{depth}"
        model.add_module(label, layer)
        for wanted, probe_cls, img, kind, sink in ((content_layers, ContentProbe, content_img, "content", content_probes),
                                                   (style_layers, StyleProbe, style_img, "style", style_probes)):
            if label in wanted:
                probe = probe_cls(model(img).detach())
                model.add_module(f"{kind}_loss_{depth}", probe)
                sink.append(probe)
    last = max(k for k, m in enumerate(model) if isinstance(m, ContentProbe))
    model = model[:last + 1]

    input_img = content_img.clone()
    input_img.requires_grad_(True)
    model.eval()
    model.requires_grad_(False)
    optimizer = lib.optim.LBFGS([input_img], max_iter=4)
    hist = []

    def evaluate():
        with lib.no_grad():
            input_img.clamp_(0, 1)
        optimizer.zero_grad()
        model(input_img)
        s_part = sum(p.loss for p in style_probes) * 1e4
        c_part = sum(p.loss for p in content_probes)
        total = s_part + c_part
        total.backward()
        hist.append((s_part.item(), c_part.item()))
        return total

    while len(hist) <= 6:
        optimizer.step(evaluate)
    with lib.no_grad():
        input_img.clamp_(0, 1)
    return {"hist": hist, "img": input_img, "names": [n for n, _ in model.named_children()],
            "state": sorted(optimizer.state[input_img].keys())}


@program
def transfer_learning_loop(lib):
    """Fine-tuning a new head on a frozen backbone: requires_grad switched off on the
    backbone, the head replaced using in_features, SGD + StepLR on the head only, a train
    and a validation pass per epoch under set_grad_enabled, accuracy from a bool sum made
    double, and the best validation weights kept by deepcopy of the state dict and restored."""
    nn = lib.nn
    backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    class FeaturesAndHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = backbone
            self.fc = nn.Linear(4, 5)

        def forward(self, pics):
            return self.fc(self.features(pics))

    model = _load(lib, FeaturesAndHead(), 380)
    for w in model.features.parameters():
        w.requires_grad = False
    model.fc = _load(lib, nn.Linear(model.fc.in_features, 2), 381)     # two classes now
    xent = nn.CrossEntropyLoss()
    sgd = lib.optim.SGD(model.fc.parameters(), lr=0.01, momentum=0.9)
    decay = lib.optim.lr_scheduler.StepLR(sgd, step_size=1, gamma=0.1)
    splits = {"train": (lib.tensor(np.random.RandomState(382).rand(6, 3, 6, 6).astype(np.float32)),
                        lib.tensor([0, 1, 0, 1, 1, 0])),
              "val": (lib.tensor(np.random.RandomState(383).rand(4, 3, 6, 6).astype(np.float32)),
                      lib.tensor([1, 0, 0, 1]))}
    loaders = {k: lib.utils.data.DataLoader(lib.utils.data.TensorDataset(*v), batch_size=3)
               for k, v in splits.items()}

    def one_pass(split):
        learning = split == "train"
        model.train(learning)
        loss_sum, n_right = 0.0, 0
        for pics, labs in loaders[split]:
            sgd.zero_grad()
            with lib.set_grad_enabled(learning):
                scores = model(pics)
                loss = xent(scores, labs)
                if learning:
                    loss.backward()
                    sgd.step()
            loss_sum += loss.item() * pics.size(0)              # per-sample mean -> sum
            n_right += lib.sum(lib.max(scores, 1)[1] == labs.data)
        if learning:
            decay.step()
        return loss_sum / 6, n_right.double() / len(loaders[split].dataset)

    kept, kept_acc = copy.deepcopy(model.state_dict()), 0.0
    hist = []
    for _ in range(2):
        for split in ("train", "val"):
            mean_loss, acc = one_pass(split)
            hist.append((split, mean_loss, acc))
            if split == "val" and acc > kept_acc:
                kept, kept_acc = copy.deepcopy(model.state_dict()), acc
    model.load_state_dict(kept)
    bn = model.features[1]
    return {"hist": hist, "best": kept_acc, "fc": model.fc.weight, "rm": bn.running_mean,
            "frozen_grad": model.features[0].weight.grad}


# ----------------------------------------------------------------------------------------------
# regressions: torch.func.jvp with nested (pytree) primals, as the NTK tutorial uses
# ----------------------------------------------------------------------------------------------
@program
def func_jvp_pytree_primals(lib):
    fn = lib.func
    a = lib.tensor(_rand(3, seed=300))
    b = lib.tensor(_rand(2, 3, seed=301))
    ta = lib.tensor(_rand(3, seed=302))
    tb = lib.tensor(_rand(2, 3, seed=303))

    def f(p, scale):
        return (p["w"] @ p["v"].sin()) * scale[0], p["v"].exp()

    prim = ({"v": a, "w": b}, [lib.tensor(2.0, dtype=lib.float64)])
    tang = ({"v": ta, "w": tb}, [lib.tensor(0.5, dtype=lib.float64)])
    out, jt = fn.jvp(f, prim, tang)
    out2, jt2, aux = fn.jvp(lambda p: (p["v"] * p["w"], p["v"].sum()), ({"v": a, "w": b},),
                             ({"v": ta, "w": tb},), has_aux=True)
    return {"out": out, "jt": jt, "out2": out2, "jt2": jt2, "aux": aux,
            "rev": fn.jacrev(lambda v: f({"v": v, "w": b}, [lib.tensor(2.0, dtype=lib.float64)])[0])(a) @ ta}


@program
def func_jvp_pytree_errors(lib):
    fn = lib.func
    one = lib.ones(2, dtype=lib.float64)

    def f(p):
        return p["a"] * 2

    words = "jvp(f, primals, tangents): Expected primals and tangents to have the same python structure"
    return {"keys": _err(lambda: fn.jvp(f, ({"a": one},), ({"b": one},))).__class__.__name__,
            "keys_words": words in str(_err(lambda: fn.jvp(f, ({"a": one},), ({"b": one},))).exc),
            "kind": words in str(_err(lambda: fn.jvp(f, ({"a": one},), ([one],))).exc),
            "count": words in str(_err(lambda: fn.jvp(lambda x, y: x, (one, one), (one,))).exc),
            "size": _err(lambda: fn.jvp(f, ({"a": one},), ({"a": lib.ones(3, dtype=lib.float64)},))),
            "float_primal": _err(lambda: fn.jvp(f, ({"a": 1.0},), ({"a": 1.0},))),
            "float_tangent": _err(lambda: fn.jvp(f, ({"a": one},), ({"a": 1.0},))),
            "int_primal": _err(lambda: fn.jvp(f, ({"a": lib.ones(2, dtype=lib.long)},),
                                              ({"a": lib.ones(2, dtype=lib.long)},)))}


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program(program):
    # every program here is meant to run: one raising in both libraries would check nothing
    # (errors a program expects are caught inside it, with _err, and compared as values)
    error = _check(program)
    assert error is None, f"torch raised {error!r}"
