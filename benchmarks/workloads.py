"""The benchmark workloads, each written ONCE against the PyTorch API.

Every workload is a function ``build(lib, data, device)`` that runs unchanged with
``lib = torch`` and with ``lib = minigrad`` (minigrad's API follows PyTorch's), so both sides do
exactly the same work on exactly the same numbers: ``data`` holds the inputs and weights as
numpy float32 arrays made from a fixed seed, and each side copies them in.

``build`` returns a ``Case``: ``step()`` is what gets timed (forward + backward, plus the SGD
update for the training step) and ``results()`` returns the outputs and gradients as numpy
arrays, which run.py compares between the sides before timing anything.
"""
from __future__ import annotations

import numpy as np

from minigrad.testing.models import seed001_net


class Unavailable(Exception):
    """minigrad (or this machine) lacks something the workload needs; the row is skipped."""


class Case:
    def __init__(self, step, results):
        self.step = step
        self.results = results


def _np(t):
    return t.detach().cpu().numpy()


def _tensor(lib, array, device, requires_grad=False):
    t = lib.tensor(array, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _need(obj, *names):
    for name in names:
        if not hasattr(obj, name):
            raise Unavailable(f"{getattr(obj, '__name__', obj)}.{name} does not exist yet")


def _rng(seed):
    return np.random.default_rng(seed)


def _uniform(rng, shape, fan_in):
    """PyTorch's default init range for conv/linear weights and biases: U(-1/sqrt(fan_in), ..)."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def _normal(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


def _training_case(model, opt, forward, updated=True):
    """One training step as a Case: ``zero_grad``, ``forward()`` -> (logits, loss),
    ``backward``, ``opt.step()``. Its results: the logits, the loss, every parameter's
    gradient and (``updated``) its value after the step."""
    last = {}

    def step():
        opt.zero_grad()
        last["logits"], last["loss"] = forward()
        last["loss"].backward()
        opt.step()

    def results():
        r = {"logits": _np(last["logits"]), "loss": _np(last["loss"])}
        for name, p in model.named_parameters():
            r[f"grad {name}"] = _np(p.grad)
            if updated:
                r[f"updated {name}"] = _np(p)
        return r

    return Case(step, results)


# ----------------------------------------------------------------------------------------------
# (1) The MNIST net of seed 001: one full training step.
# ----------------------------------------------------------------------------------------------
def mnist_data(quick):
    rng = _rng(1)
    batch = 8 if quick else 64
    return {
        "x": rng.random((batch, 784), dtype=np.float32),
        "y": rng.integers(0, 10, size=batch).astype(np.int64),
        "conv1.weight": _uniform(rng, (20, 1, 5, 5), 25), "conv1.bias": _uniform(rng, (20,), 25),
        "conv2.weight": _uniform(rng, (50, 20, 5, 5), 500), "conv2.bias": _uniform(rng, (50,), 500),
        "fc1.weight": _uniform(rng, (500, 800), 800), "fc1.bias": _uniform(rng, (500,), 800),
        "fc2.weight": _uniform(rng, (10, 500), 500), "fc2.bias": _uniform(rng, (10,), 500),
    }


def mnist_build(lib, d, device):
    """Seed 001's net, as written there (nn.Module, F.relu, F.max_pool2d, view), batch 64,
    cross-entropy, backward and an SGD step (lr 0.01, momentum 0.9)."""
    nn, F = lib.nn, lib.nn.functional
    _need(nn, "Module", "Conv2d", "Linear")
    _need(F, "conv2d", "max_pool2d", "relu", "cross_entropy")
    _need(lib, "optim")
    _need(lib.optim, "SGD")

    model = seed001_net(lib)
    params = dict(model.named_parameters())
    if sorted(params) != sorted(k for k in d if "." in k):
        raise RuntimeError(f"unexpected parameter names {sorted(params)}")
    for name, p in params.items():
        p.data = _tensor(lib, d[name], device)
    model.to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = _tensor(lib, d["x"], device)
    y = _tensor(lib, d["y"], device)

    def forward():
        out = model(x)
        return out, F.cross_entropy(out, y)
    return _training_case(model, opt, forward)


# ----------------------------------------------------------------------------------------------
# (2) One conv2d layer, forward + backward.
# ----------------------------------------------------------------------------------------------
def conv2d_data(quick):
    rng = _rng(2)
    n, c, hw, o = (4, 8, 8, 8) if quick else (32, 64, 32, 64)
    return {"x": _normal(rng, (n, c, hw, hw)), "w": _uniform(rng, (o, c, 3, 3), c * 9),
            "b": _uniform(rng, (o,), c * 9), "g": _normal(rng, (n, o, hw, hw))}


def _functional_case(lib, d, device, forward):
    """Leaves x, w, b require grad; ``forward`` maps them to the output, which is backpropagated
    with the fixed upstream gradient d['g'] (the same numbers on both sides)."""
    x = _tensor(lib, d["x"], device, True)
    w = _tensor(lib, d["w"], device, True)
    b = _tensor(lib, d["b"], device, True) if "b" in d else None
    g = _tensor(lib, d["g"], device)
    leaves = {"x": x, "w": w, "b": b}
    last = {}

    def step():
        for t in leaves.values():
            if t is not None:
                t.grad = None
        out = forward(lib.nn.functional, x, w, b)
        out.backward(g)
        last["out"] = out

    def results():
        r = {"out": _np(last["out"])}
        for name, t in leaves.items():
            if t is not None:
                r[f"grad {name}"] = _np(t.grad)
        return r

    return Case(step, results)


def conv2d_build(lib, d, device):
    _need(lib.nn.functional, "conv2d")
    return _functional_case(lib, d, device, lambda F, x, w, b: F.conv2d(x, w, b, padding=1))


# ----------------------------------------------------------------------------------------------
# (3) Seed 000's text model: Conv1d over embeddings, relu, max_pool1d(2).
# ----------------------------------------------------------------------------------------------
def conv1d_data(quick):
    rng = _rng(3)
    n, c, length, k = (4, 8, 16, 5) if quick else (64, 128, 256, 5)
    out_len = (length - k + 1) // 2
    return {"x": _normal(rng, (n, c, length)), "w": _uniform(rng, (c, c, k), c * k),
            "b": _uniform(rng, (c,), c * k), "g": _normal(rng, (n, c, out_len))}


def conv1d_build(lib, d, device):
    _need(lib.nn.functional, "conv1d", "max_pool1d", "relu")
    return _functional_case(
        lib, d, device, lambda F, x, w, b: F.max_pool1d(F.relu(F.conv1d(x, w, b)), 2))


# ----------------------------------------------------------------------------------------------
# (4) max_pool2d 2x2 alone.
# ----------------------------------------------------------------------------------------------
def maxpool_data(quick):
    rng = _rng(4)
    n, c, hw = (4, 8, 8) if quick else (32, 64, 32)
    # A random permutation of distinct values: no ties inside a window, so where the gradient
    # goes is unambiguous and both libraries must agree exactly.
    x = (rng.permutation(n * c * hw * hw).astype(np.float32) / (n * c * hw * hw))
    return {"x": x.reshape(n, c, hw, hw), "g": _normal(rng, (n, c, hw // 2, hw // 2))}


def maxpool_build(lib, d, device):
    _need(lib.nn.functional, "max_pool2d")
    x = _tensor(lib, d["x"], device, True)
    g = _tensor(lib, d["g"], device)
    last = {}

    def step():
        x.grad = None
        out = lib.nn.functional.max_pool2d(x, 2)
        out.backward(g)
        last["out"] = out

    def results():
        return {"out": _np(last["out"]), "grad x": _np(x.grad)}

    return Case(step, results)


# ----------------------------------------------------------------------------------------------
# (5) Linear 4096 -> 4096 on a batch of 64.
# ----------------------------------------------------------------------------------------------
def linear_data(quick):
    rng = _rng(5)
    n, f = (8, 64) if quick else (64, 4096)
    return {"x": _normal(rng, (n, f)), "w": _uniform(rng, (f, f), f), "b": _uniform(rng, (f,), f),
            "g": _normal(rng, (n, f))}


def linear_build(lib, d, device):
    _need(lib.nn.functional, "linear")
    return _functional_case(lib, d, device, lambda F, x, w, b: F.linear(x, w, b))


# ----------------------------------------------------------------------------------------------
# (6) One conv2d layer on large planes: 8x64x128x128, 3x3, pad 1, forward + backward.
# ----------------------------------------------------------------------------------------------
def conv2d_large_data(quick):
    rng = _rng(6)
    n, c, hw, o = (2, 8, 24, 8) if quick else (8, 64, 128, 64)
    return {"x": _normal(rng, (n, c, hw, hw)), "w": _uniform(rng, (o, c, 3, 3), c * 9),
            "b": _uniform(rng, (o,), c * 9), "g": _normal(rng, (n, o, hw, hw))}


# ----------------------------------------------------------------------------------------------
# (6b) A large kernel: 15x15 on 1x8x256x256, padding 7 ("same"). Its im2col matrix would be
#      225 times the input (470 MB); this is the memory case.
# ----------------------------------------------------------------------------------------------
def conv2d_bigkernel_data(quick):
    rng = _rng(8)
    n, c, hw, o, k = (1, 4, 32, 4, 7) if quick else (1, 8, 256, 8, 15)
    return {"x": _normal(rng, (n, c, hw, hw)), "w": _uniform(rng, (o, c, k, k), c * k * k),
            "b": _uniform(rng, (o,), c * k * k), "g": _normal(rng, (n, o, hw, hw))}


def conv2d_bigkernel_build(lib, d, device):
    _need(lib.nn.functional, "conv2d")
    return _functional_case(lib, d, device,
                            lambda F, x, w, b: F.conv2d(x, w, b, padding=w.shape[-1] // 2))


# ----------------------------------------------------------------------------------------------
# (6c) A depthwise 3x3 (groups = channels), MobileNet's kind: 9 multiply-adds per output, far
#      too few for a GEMM.
# ----------------------------------------------------------------------------------------------
def conv2d_depthwise_data(quick):
    rng = _rng(9)
    n, c, hw = (2, 8, 12) if quick else (32, 64, 32)
    return {"x": _normal(rng, (n, c, hw, hw)), "w": _uniform(rng, (c, 1, 3, 3), 9),
            "b": _uniform(rng, (c,), 9), "g": _normal(rng, (n, c, hw, hw))}


def conv2d_depthwise_build(lib, d, device):
    _need(lib.nn.functional, "conv2d")
    return _functional_case(lib, d, device, lambda F, x, w, b: F.conv2d(
        x, w, b, padding=1, groups=x.shape[1]))


# (6d) MobileNet's downsampling depthwise 3x3, stride 2: a quarter of the outputs, each
#      reading x at the stride.
def conv2d_depthwise_s2_data(quick):
    rng = _rng(10)
    n, c, hw = (2, 8, 13) if quick else (32, 128, 28)
    out = (hw + 1) // 2
    return {"x": _normal(rng, (n, c, hw, hw)), "w": _uniform(rng, (c, 1, 3, 3), 9),
            "b": _uniform(rng, (c,), 9), "g": _normal(rng, (n, c, out, out))}


def conv2d_depthwise_s2_build(lib, d, device):
    _need(lib.nn.functional, "conv2d")
    return _functional_case(lib, d, device, lambda F, x, w, b: F.conv2d(
        x, w, b, stride=2, padding=1, groups=x.shape[1]))


# (6e) A 1-d depthwise convolution over a sequence (groups = channels, kernel 9: the kind in
#      ConvNeXt-style text and speech blocks).
def conv1d_depthwise_data(quick):
    rng = _rng(11)
    n, c, length = (2, 8, 40) if quick else (16, 128, 1000)
    return {"x": _normal(rng, (n, c, length)), "w": _uniform(rng, (c, 1, 9), 9),
            "b": _uniform(rng, (c,), 9), "g": _normal(rng, (n, c, length))}


def conv1d_depthwise_build(lib, d, device):
    _need(lib.nn.functional, "conv1d")
    return _functional_case(lib, d, device, lambda F, x, w, b: F.conv1d(
        x, w, b, padding=4, groups=x.shape[1]))


# ----------------------------------------------------------------------------------------------
# (7) A ResNet-18-like training step: BasicBlocks with BatchNorm, stride-2 downsampling with
#     1x1 convolutions, global average pool, Linear; batch 16 of 3x64x64, SGD with momentum.
# ----------------------------------------------------------------------------------------------
def resnet_net(lib, widths=(32, 64, 128)):
    """stem conv3x3(3, w0) + BN + relu, then per width two BasicBlocks (the first of a new
    width with stride 2 and a 1x1 conv + BN shortcut), avg-pool, Linear(w_last, 10)."""
    nn, F = lib.nn, lib.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + (x if self.short is None else self.short(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(widths[0])
            blocks, cin = [], widths[0]
            for i, w in enumerate(widths):
                blocks += [BasicBlock(cin, w, 1 if i == 0 else 2), BasicBlock(w, w, 1)]
                cin = w
            self.blocks = nn.Sequential(*blocks)
            self.fc = nn.Linear(cin, 10)

        def forward(self, x):
            x = self.blocks(F.relu(self.bn(self.stem(x))))
            return self.fc(F.adaptive_avg_pool2d(x, 1).view(x.size(0), -1))

    return Net()


def resnet_data(quick):
    import minigrad
    rng = _rng(7)
    batch, hw = (4, 16) if quick else (16, 64)
    d = {"x": _normal(rng, (batch, 3, hw, hw)),
         "y": rng.integers(0, 10, size=batch).astype(np.int64)}
    for name, p in resnet_net(minigrad).named_parameters():     # names and shapes only
        shape = tuple(p.shape)
        fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
        d["p:" + name] = (np.ones(shape, np.float32) if name.endswith("weight") and
                          len(shape) == 1 else _uniform(rng, shape, fan_in))
    return d


def resnet_build(lib, d, device):
    nn, F = lib.nn, lib.nn.functional
    _need(nn, "Module", "Conv2d", "BatchNorm2d", "Sequential", "Linear")
    _need(F, "relu", "adaptive_avg_pool2d", "cross_entropy")
    model = resnet_net(lib)
    for name, p in model.named_parameters():
        p.data = _tensor(lib, d["p:" + name], device)
    model.to(device)
    if d["x"].dtype == np.float64:
        model.double()
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = _tensor(lib, d["x"], device)
    y = _tensor(lib, d["y"], device)

    def forward():
        out = model(x)
        return out, F.cross_entropy(out, y)
    return _training_case(model, opt, forward, updated=False)


# ----------------------------------------------------------------------------------------------
# (8) A recurrent text classifier: a 2-layer LSTM over 50 steps, its last output to a Linear
#     head, cross-entropy, forward + backward.
# ----------------------------------------------------------------------------------------------
def lstm_data(quick):
    rng = _rng(12)
    n, t, i, h, classes = (2, 3, 4, 5, 3) if quick else (16, 50, 64, 128, 10)
    d = {"x": _normal(rng, (n, t, i)), "y": rng.integers(0, classes, n),
         "head_w": _uniform(rng, (classes, h), h), "head_b": _uniform(rng, (classes,), h)}
    for layer in range(2):
        width = i if layer == 0 else h
        d[f"weight_ih_l{layer}"] = _uniform(rng, (4 * h, width), h)
        d[f"weight_hh_l{layer}"] = _uniform(rng, (4 * h, h), h)
        d[f"bias_ih_l{layer}"] = _uniform(rng, (4 * h,), h)
        d[f"bias_hh_l{layer}"] = _uniform(rng, (4 * h,), h)
    return d


def lstm_build(lib, d, device):
    _need(lib.nn, "LSTM")
    _, _, i = d["x"].shape
    lstm = lib.nn.LSTM(i, d["weight_hh_l0"].shape[1], num_layers=2, batch_first=True)
    lstm = lstm.to(device=device, dtype=getattr(lib, str(d["x"].dtype)))   # (the float64 check)
    with lib.no_grad():
        for name, p in lstm.named_parameters():
            p.copy_(_tensor(lib, d[name], device))
    w, b = _tensor(lib, d["head_w"], device, True), _tensor(lib, d["head_b"], device, True)
    x, y = _tensor(lib, d["x"], device), lib.tensor(d["y"], device=device)
    params = list(lstm.parameters()) + [w, b]
    last = {}

    def step():
        for p in params:
            p.grad = None
        out, _ = lstm(x)
        loss = lib.nn.functional.cross_entropy(lib.nn.functional.linear(out[:, -1], w, b), y)
        loss.backward()
        last["loss"] = loss

    def results():
        r = {"loss": _np(last["loss"]), "grad head": _np(w.grad)}
        for name, p in lstm.named_parameters():
            r[f"grad {name}"] = _np(p.grad)
        return r

    return Case(step, results)


# ----------------------------------------------------------------------------------------------
# (9) A small GPT-style decoder: token + learned position embeddings, 2 pre-LayerNorm blocks of
#     causal multi-head self-attention and a GELU MLP, final LayerNorm, an untied head,
#     cross-entropy over every position, backward and an AdamW step.
# ----------------------------------------------------------------------------------------------
def gpt_net(lib, vocab, length, width, heads, layers):
    """GPT-2's layout (without dropout): x = tok(idx) + pos(0..T-1); per block
    x += proj(sdpa(split_heads(qkv(ln1(x))), is_causal=True)), x += fc2(gelu(fc1(ln2(x))));
    logits = head(ln_f(x))."""
    nn, F = lib.nn, lib.nn.functional

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(width)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.ln2 = nn.LayerNorm(width)
            self.fc1 = nn.Linear(width, 4 * width)
            self.fc2 = nn.Linear(4 * width, width)

        def forward(self, x):
            n, t, c = x.shape
            q, k, v = (z.view(n, t, heads, c // heads).transpose(1, 2)
                       for z in self.qkv(self.ln1(x)).split(c, dim=2))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).contiguous().view(n, t, c))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(vocab, width)
            self.pos = nn.Embedding(length, width)
            self.blocks = nn.ModuleList([Block() for _ in range(layers)])
            self.ln_f = nn.LayerNorm(width)
            self.head = nn.Linear(width, vocab, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(idx.shape[1], device=idx.device))
            for block in self.blocks:
                x = block(x)
            return self.head(self.ln_f(x))

    return GPT()


def transformer_data(quick):
    import minigrad
    rng = _rng(19)
    n, t, c, heads, vocab = (2, 8, 16, 2, 32) if quick else (16, 64, 128, 4, 512)
    d = {"idx": rng.integers(0, vocab, (n, t)), "y": rng.integers(0, vocab, (n, t)),
         "heads": np.array(heads)}
    for name, p in gpt_net(minigrad, vocab, t, c, heads, 2).named_parameters():
        shape = tuple(p.shape)
        if name.startswith(("tok", "pos")):
            d["p:" + name] = 0.1 * _normal(rng, shape)
        elif ".ln" in name or name.startswith("ln"):       # LayerNorm: near 1 and near 0
            d["p:" + name] = (name.endswith("weight") + 0.1 * _normal(rng, shape)
                              ).astype(np.float32)
        else:
            d["p:" + name] = _uniform(rng, shape, shape[-1] if len(shape) > 1 else c)
    return d


def transformer_build(lib, d, device):
    nn, F = lib.nn, lib.nn.functional
    _need(nn, "Module", "Embedding", "LayerNorm", "Linear", "ModuleList")
    _need(F, "scaled_dot_product_attention", "gelu", "cross_entropy")
    _need(lib.optim, "AdamW")
    t, (vocab, c) = d["idx"].shape[1], d["p:tok.weight"].shape
    model = gpt_net(lib, vocab, t, c, int(d["heads"]), 2)
    for name, p in model.named_parameters():
        p.data = _tensor(lib, d["p:" + name], device)
    model.to(device)
    opt = lib.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    idx = _tensor(lib, d["idx"], device)
    y = _tensor(lib, d["y"], device)

    def forward():
        logits = model(idx)
        return logits, F.cross_entropy(logits.view(-1, vocab), y.view(-1))
    return _training_case(model, opt, forward)


# ----------------------------------------------------------------------------------------------
# Scaling: one conv2d 3x3 64 -> 64, pad 1, forward + backward, over batch and image size
# ----------------------------------------------------------------------------------------------
SCALING = [(1, 32), (8, 32), (64, 32), (256, 32), (8, 64), (8, 128), (8, 224)]
SCALING_QUICK = [(1, 8), (4, 8), (2, 16)]


def scaling_data(batch, hw, channels=64):
    rng = _rng(8)
    c = channels
    return {"x": _normal(rng, (batch, c, hw, hw)), "w": _uniform(rng, (c, c, 3, 3), c * 9),
            "b": _uniform(rng, (c,), c * 9), "g": _normal(rng, (batch, c, hw, hw))}


class Workload:
    def __init__(self, name, title, target, data, build, registry_ops):
        self.name, self.title, self.target = name, title, target
        self.data, self.build, self.registry_ops = data, build, registry_ops


WORKLOADS = [
    Workload("mnist_step", "MNIST net train step, batch 64 (seed 001)", 1.2, mnist_data,
             mnist_build, ["conv2d", "relu", "max_pool2d", "linear", "cross_entropy"]),
    Workload("conv2d", "conv2d 32x64x32x32, 64x64x3x3, pad 1, fwd+bwd", 1.6, conv2d_data,
             conv2d_build, ["conv2d"]),
    Workload("conv1d_text", "Conv1d text model 64x128x256, k5, relu, maxpool1d 2, fwd+bwd", 1.5,
             conv1d_data, conv1d_build, ["conv1d", "relu", "max_pool1d"]),
    Workload("maxpool2d", "max_pool2d 2x2 on 32x64x32x32, fwd+bwd", 1.5, maxpool_data,
             maxpool_build, ["max_pool2d"]),
    Workload("linear", "Linear 64x4096 -> 4096, fwd+bwd", 1.1, linear_data, linear_build,
             ["linear"]),
    Workload("conv2d_large", "conv2d 8x64x128x128, 64x64x3x3, pad 1, fwd+bwd", 1.1,
             conv2d_large_data, conv2d_build, ["conv2d"]),
    Workload("conv2d_bigkernel", "conv2d 1x8x256x256, 8x8x15x15, pad 7, fwd+bwd", 1.5,
             conv2d_bigkernel_data, conv2d_bigkernel_build, ["conv2d"]),
    Workload("conv2d_depthwise", "depthwise conv2d 32x64x32x32, 64x1x3x3, pad 1, fwd+bwd", 1.5,
             conv2d_depthwise_data, conv2d_depthwise_build, ["conv2d"]),
    Workload("conv2d_depthwise_s2", "depthwise conv2d 32x128x28x28, 128x1x3x3, stride 2, pad 1, "
             "fwd+bwd", 1.5, conv2d_depthwise_s2_data, conv2d_depthwise_s2_build, ["conv2d"]),
    Workload("conv1d_depthwise", "depthwise conv1d 16x128x1000, 128x1x9, pad 4, fwd+bwd", 1.5,
             conv1d_depthwise_data, conv1d_depthwise_build, ["conv1d"]),
    Workload("resnet_step", "ResNet-18-like train step, 16x3x64x64 (BasicBlocks, BN, stride 2)",
             1.3, resnet_data, resnet_build, ["conv2d", "batch_norm", "relu", "linear"]),
    Workload("lstm_text", "LSTM text model 16x50x64, 2 layers of 128, last step -> Linear, "
             "cross-entropy, fwd+bwd", 1.5, lstm_data, lstm_build, ["lstm", "linear",
                                                                    "cross_entropy"]),
    Workload("transformer_step", "GPT-style decoder train step, 16x64 tokens, width 128, 4 heads, "
             "2 blocks, vocab 512, AdamW", 1.5, transformer_data, transformer_build,
             ["layer_norm", "gelu", "scaled_dot_product_attention", "embedding", "linear",
              "cross_entropy"]),
]
