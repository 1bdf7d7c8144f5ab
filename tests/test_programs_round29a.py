"""Whole programs of round 29, part a: the topics of a from-scratch deep-learning course (the
chapter list of the d2l.ai textbook: the techniques, sizes and experiments, in our own code).

Basics and linear models: a tour of tensor creation, slicing, storage sharing (Z[:] =,
from_numpy), reductions over axis lists with keepdims and Multinomial sampling; autograd
(detach, data-dependent control flow, the usual refusals); linear regression by hand with
Python-shuffled index batches and steps under no_grad, and with TensorDataset/DataLoader;
multiclass logistic regression by hand with running totals and an accuracy helper, and the
log-sum-exp stability check.  Perceptrons: ReLU by max, inverted dropout by rand > p,
weight decay as a penalty and as a parameter-group option, vanishing sigmoid gradients and
Glorot inits applied by apply.  Building models: children registered by add_module, a frozen
matrix and a data-dependent loop, parameter access, custom and shared parameters, lazy
layers, save/load through an in-memory buffer, printed models.  Convolutions: loop
cross-correlation and pooling beside the modules, an edge kernel learned by hand,
multi-channel and 1x1 forms; LeNet-, AlexNet-, VGG- and NiN-shaped nets; parallel-branch,
residual and densely connected blocks; batch normalisation by hand with its grad-mode
branch and running averages.  Sequences: a token table, random and sequential windows,
plain, gated and memory-cell recurrent cells by hand with one-hot inputs, clipping, detach_
of the state and greedy generation; the library's RNN/GRU/bidirectional LSTM behind one
wrapper; GRU encoder-decoders (fixed context, and additive attention per step) with a
length-masked loss, Glorot init through _flat_weights_names and BLEU.  Attention: a
length-masked softmax through repeat_interleave, additive and scaled dot-product scoring,
kernel regression with a learned width, multi-head attention checked against
nn.MultiheadAttention, sinusoidal positions, an encoder-decoder Transformer with step
caches and LazyLinear feed-forward parts.  Optimisers by hand (momentum, AdaGrad, RMSProp,
Adadelta, Adam, Yogi) beside torch.optim, gradient descent and Newton's method.  Vision:
anchors per pixel, IoU, anchor matching, training targets, non-maximum suppression and
detections; a toy single-shot detector and its losses; transposed convolution by hand and
bilinear upsampling; style transfer with Gram matrices; augmentation by tensor ops and
fine-tuning with parameter groups.  Language: skip-gram with negative sampling (a Dataset,
a padding collate_fn, a masked logistic loss), a BERT-style encoder with masked-token and
next-sentence heads, convolutional and recurrent sentence classifiers over frozen vectors.
Recommenders (factorisation, an autoencoder, a two-tower model with ranking and margin
losses, a factorisation machine), a GAN on a Gaussian and convolutional GAN blocks,
Gaussian-process regression with its marginal likelihood learned by Adam.

What they found, fixed in minigrad (4 programs of 36 failed before: every program as first
first written agreed, and the four failed once their refusals and spellings took
in what side-by-side probes of the same APIs turned up):
PyTorch's parser reads numpy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=`` on every
op, and minigrad took them only on the reductions and the ops its ``_torch_args`` wraps:
``squeeze``/``unsqueeze`` (and their in-place forms), ``chunk``, ``unbind``,
``tensor_split``, ``diff``, ``take_along_dim``, ``cumsum_``/``cumprod_``, ``aminmax``,
``quantile``, ``repeat_interleave``, ``cosine_similarity``, ``trapezoid``, ``gradient``...
refused them; ``repeat_interleave`` ignored ``output_size`` (PyTorch refuses one that
does not match: the int form with the expected size, the counts kernel with "allocated
size does not match required size", a negative one as a negative dimension) and took
repeats of 2 dims (refused, before their dtype); ``meshgrid`` checked a tensor's dims
before the dtypes of all and the indexing, where PyTorch checks the dtypes, then the
indexing, then the dims; ``linalg.solve_triangular`` without ``upper`` (or with a third
positional argument, or B left out) failed in Python's words, and took None or an int for
``upper``/``left``/``unitriangular``, where PyTorch's parser refuses them as bools.  The
focused tests at the end check each.

Not matched: meshgrid's refusal of a 2-d tensor prints the tensor in ATen's legacy format
("got:  0  0 ... [ torch.FloatTensor{2,2} ]"), which minigrad words as "got: 2D"; no
program compares it.  ``torch.normal(mean_tensor, std, size=...)``'s list of signatures
differs in minigrad (its file is another helper's this round; reported).  Python floats
are compared to float32's tolerance, as these programs compute in float32.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import collections
import io
import itertools
import math
import operator
import random
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, registry, program_harness)


HARNESS = program_harness()
# the programs compute in float32 and read losses and accuracies off by .item()/float(): Python
# floats are compared to float32's tolerance, not float64's
HARNESS.scalar_tol = (1e-5, 1e-6)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# helpers shared by the programs, written for library L
# ----------------------------------------------------------------------------------------------
def make_linear_data(L, w, b, n):
    """n rows of N(0, 1) features and their targets X @ w + b plus N(0, 0.01) noise, as a
    column."""
    feats = L.normal(0, 1, (n, len(w)))
    target = L.matmul(feats, w) + b
    target += L.normal(0, 0.01, target.shape)
    return feats, target.reshape((-1, 1))


def shuffled_batches(L, size, feats, target, seed):
    """Batches of ``size`` rows in an order random.Random(seed) shuffles, picked by an index
    tensor."""
    order = list(range(len(feats)))
    random.Random(seed).shuffle(order)
    for start in range(0, len(order), size):
        rows = L.tensor(order[start: start + size])
        yield feats[rows], target[rows]


def step_by_hand(L, params, lr, batch_size):
    """A plain gradient step on each tensor under no_grad, its .grad zeroed afterwards."""
    with L.no_grad():
        for p in params:
            p -= lr * p.grad / batch_size
            p.grad.zero_()


class Tally:
    """Running float totals of a fixed number of quantities."""

    def __init__(self, count):
        self.totals = [0.0 for _ in range(count)]

    def add(self, *values):
        for i, v in enumerate(values):
            self.totals[i] += float(v)

    def __getitem__(self, i):
        return self.totals[i]


def count_correct(L, scores, labels):
    """How many predictions (the argmax over classes when ``scores`` has several columns)
    equal the labels, as a float."""
    picked = scores.argmax(axis=1) if len(scores.shape) > 1 and scores.shape[1] > 1 else scores
    hits = picked.type(labels.dtype) == labels
    return float(hits.type(labels.dtype).sum())


def accuracy_over(L, model, batches):
    """The share of right predictions over all batches; a Module is put in eval mode and
    nothing is recorded for autograd."""
    if isinstance(model, L.nn.Module):
        model.eval()
    sums = Tally(2)
    with L.no_grad():
        for feats, labels in batches:
            sums.add(count_correct(L, model(feats), labels), labels.numel())
    return sums[0] / sums[1]


def clip_global_norm(L, model, limit):
    """Scales every gradient in place by limit / norm when their joint L2 norm is above
    ``limit``; returns that norm."""
    if isinstance(model, L.nn.Module):
        tensors = [p for p in model.parameters() if p.requires_grad]
    else:
        tensors = model.params
    total = L.sqrt(sum(L.sum((t.grad ** 2)) for t in tensors))
    if total > limit:
        for t in tensors:
            t.grad[:] *= limit / total
    return total


def _f32(*shape, seed=0, scale=1.0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32) * scale


# ----------------------------------------------------------------------------------------------
# preliminaries, linear networks
# ----------------------------------------------------------------------------------------------
@program
def autograd_gradients_detach_and_control_flow(L):
    """Autograd basics: the gradient of 2 x.x, grad.zero_() between backward passes, a
    vector output given backward(gradient=ones), detach holding one factor of a product
    constant, a function whose Python while/if depends on tensor values (its gradient is
    still d / a), and the refusals: backward of a non-scalar without gradient, a second
    backward through a freed graph, an in-place change of a leaf that requires grad."""
    x = L.arange(4.0)
    x.requires_grad_(True)

    def grad_after(run):
        run()
        g = x.grad.clone()
        x.grad.zero_()
        return g

    g1 = grad_after(lambda: (2 * L.dot(x, x)).backward())
    g2 = grad_after(lambda: x.sum().backward())
    g3 = grad_after(lambda: (x * x).backward(gradient=L.ones(len(x))))
    sq = x * x
    frozen = sq.detach()
    (frozen * x).sum().backward()
    g4 = (x.grad == frozen)
    x.grad.zero_()
    sq.sum().backward()
    g5 = x.grad == 2 * x

    def doubled_until_large(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        return b if b.sum() > 0 else 100 * b

    L.manual_seed(3)
    a = L.randn(size=(), requires_grad=True)
    d = doubled_until_large(a)
    d.backward()
    errors = [err(lambda: (x * x).backward()),
              err(lambda: x.add_(1)),
              err(lambda: (lambda t: (t.backward(), t.backward()))((x ** 3).sum()))]
    return dict(g=[g1, g2, g3, g4, g5], d=d, ratio=a.grad == d / a, errors=errors)


@program
def linear_regression_from_scratch_with_python_shuffled_batches(L):
    """Linear regression by hand: generated data under a seed, batches chosen through a
    shuffled index list made a tensor, w from normal(0, 0.01, requires_grad=True) and a zero
    b, half squared error with the target reshaped to the prediction's shape, steps in place
    under no_grad, the full-data loss after each epoch under no_grad; the parameter
    errors."""
    L.manual_seed(0)
    w_true, b_true = L.tensor([2, -3.4]), 4.2
    feats, target = make_linear_data(L, w_true, b_true, 60)
    w = L.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = L.zeros(1, requires_grad=True)

    def predict(X):
        return L.matmul(X, w) + b

    def half_sq(pred, y):
        return (pred - y.reshape(pred.shape)) ** 2 / 2

    curve = []
    for epoch in range(3):
        for Xb, yb in shuffled_batches(L, 8, feats, target, seed=epoch):
            half_sq(predict(Xb), yb).sum().backward()
            step_by_hand(L, [w, b], 0.1, 8)
        with L.no_grad():
            curve.append(float(half_sq(predict(feats), target).mean()))
    return dict(losses=curve, w=w, b=b, w_err=w_true - w.reshape(w_true.shape),
                b_err=b_true - b, first=feats[0], label=target[:3])


@program
def linear_regression_concise_with_tensor_dataset_and_dataloader(L):
    """The same fit with library parts: TensorDataset and a shuffling DataLoader (global
    seed), Sequential(Linear(2, 1)) initialised by weight.data.normal_(0, 0.01) and
    bias.data.fill_(0), MSELoss and optim.SGD; then HuberLoss with weight decay on the
    weight's parameter group only; parameters read back through .data."""
    nn, data = L.nn, L.utils.data
    L.manual_seed(1)
    feats, target = make_linear_data(L, L.tensor([2, -3.4]), 4.2, 40)
    loader = data.DataLoader(data.TensorDataset(feats, target), 10, shuffle=True)
    model = nn.Sequential(nn.Linear(2, 1))
    model[0].weight.data.normal_(0, 0.01)
    model[0].bias.data.fill_(0)
    mse = nn.MSELoss()
    opt = L.optim.SGD(model.parameters(), lr=0.03)
    curve = []
    for _ in range(3):
        for Xb, yb in loader:
            loss = mse(model(Xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        curve.append(mse(model(feats), target).item())
    huber = nn.HuberLoss(delta=0.5)
    other = nn.Linear(2, 1)
    opt2 = L.optim.SGD([{"params": other.weight, "weight_decay": 0.1},
                        {"params": other.bias}], lr=0.05)
    for Xb, yb in loader:
        opt2.zero_grad()
        h = huber(other(Xb), yb)
        h.backward()
        opt2.step()
    sizes = [tuple(t.shape) for t, _ in loader]
    return dict(out=curve, w=model[0].weight.data, b=model[0].bias.data, huber=h,
                w2=other.weight.data, batches=sizes, lens=len(loader))


@program
def softmax_regression_by_hand_with_running_totals(L):
    """Multiclass logistic regression by hand: softmax as exp over a keepdim sum, inputs
    flattened by reshape((-1, W.shape[0])), the loss by picking probs[range(n), y], the
    count of right answers by argmax and .type, accuracy over batches under no_grad, running
    totals per epoch, steps by hand; the predictions on the first batch."""
    L.manual_seed(2)
    n_in, n_out = 16, 4
    W = L.normal(0, 0.01, size=(n_in, n_out), requires_grad=True)
    b = L.zeros(n_out, requires_grad=True)
    images = L.tensor(_f32(48, 1, 4, 4, seed=4))
    centres = L.tensor(_f32(4, 16, seed=5))
    classes = (images.reshape(48, 16) @ centres.T).argmax(dim=1)
    batches = [(images[i:i + 12], classes[i:i + 12]) for i in range(0, 48, 12)]

    def normalised_exp(Z):
        E = L.exp(Z)
        return E / E.sum(1, keepdim=True)

    def model(X):
        return normalised_exp(L.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def neg_log_picked(probs, y):
        return -L.log(probs[range(len(probs)), y])

    y_demo = L.tensor([0, 2])
    p_demo = L.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    demo = (p_demo[[0, 1], y_demo], neg_log_picked(p_demo, y_demo),
            count_correct(L, p_demo, y_demo) / len(y_demo))
    history = []
    for _ in range(4):
        sums = Tally(3)
        for X, y in batches:
            probs = model(X)
            loss = neg_log_picked(probs, y)
            loss.sum().backward()
            step_by_hand(L, [W, b], 0.5, X.shape[0])
            sums.add(float(loss.sum()), count_correct(L, probs, y), y.numel())
        history.append((sums[0] / sums[2], sums[1] / sums[2], accuracy_over(L, model, batches)))
    preds = model(batches[0][0]).argmax(axis=1)
    return dict(demo=demo, history=history, W=W, b=b, preds=preds,
                rows=normalised_exp(L.tensor(_f32(2, 5, seed=6))).sum(1))


@program
def softmax_concise_with_logsumexp_stability_and_reduction_none(L):
    """The library form: Flatten then Linear, weights redrawn by apply when type(m) is
    Linear, CrossEntropyLoss(reduction='none') averaged or summed by hand, SGD; large
    logits: exp over its sum gives nan/inf where shifting by the max, log_softmax and
    logsumexp stay finite."""
    nn = L.nn
    L.manual_seed(3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    model.apply(lambda m: nn.init.normal_(m.weight, std=0.01) if type(m) == nn.Linear else None)
    per_item = nn.CrossEntropyLoss(reduction="none")
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    X = L.tensor(_f32(10, 3, 2, 2, seed=7))
    y = L.tensor(np.random.RandomState(8).randint(0, 3, 10))
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = per_item(model(X), y)
        loss.mean().backward()
        opt.step()
        losses.append(loss.sum().item())
    big = L.tensor([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    naive = L.exp(big) / L.exp(big).sum(1, keepdim=True)
    shifted = L.exp(big - big.max(dim=1, keepdim=True).values)
    shifted = shifted / shifted.sum(1, keepdim=True)
    return dict(ls=losses, naive=naive, stable=shifted, log_softmax=L.log_softmax(big, dim=1),
                lse=L.logsumexp(big, dim=1),
                ce=nn.functional.cross_entropy(big, L.tensor([1, 2])),
                acc=count_correct(L, model(X), y))


# ----------------------------------------------------------------------------------------------
# multilayer perceptrons
# ----------------------------------------------------------------------------------------------
@program
def mlp_from_scratch_with_dropout_masks_and_activation_gradients(L):
    """A one-hidden-layer perceptron by hand: ReLU as the elementwise max with zeros_like,
    weights as nn.Parameter of scaled randn, inverted dropout by (rand(shape) > p).float()
    with the p == 0 and p == 1 cases, dropout only in training; the gradients of relu,
    sigmoid and tanh over an arange by backward(ones_like, retain_graph=True)."""
    nn = L.nn
    L.manual_seed(4)
    n_in, n_out, n_hid = 8, 3, 16
    W1 = nn.Parameter(L.randn(n_in, n_hid) * 0.01)
    b1 = nn.Parameter(L.zeros(n_hid))
    W2 = nn.Parameter(L.randn(n_hid, n_out) * 0.01)
    b2 = nn.Parameter(L.zeros(n_out))
    params = [W1, b1, W2, b2]

    def rectify(X):
        return L.max(X, L.zeros_like(X))

    def drop_units(X, p):
        assert 0 <= p <= 1
        if p == 1:
            return L.zeros_like(X)
        if p == 0:
            return X
        keep = (L.rand(X.shape) > p).float()
        return keep * X / (1.0 - p)

    def model(X, training=True):
        H = rectify(X.reshape((-1, n_in)) @ W1 + b1)
        return (drop_units(H, 0.5) if training else H) @ W2 + b2

    X = L.tensor(_f32(12, 8, seed=9))
    y = L.tensor(np.random.RandomState(10).randint(0, 3, 12))
    per_item = nn.CrossEntropyLoss(reduction="none")
    opt = L.optim.SGD(params, lr=0.5)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = per_item(model(X), y)
        loss.mean().backward()
        opt.step()
        losses.append(loss.mean().item())
    grid = L.arange(16, dtype=L.float32).reshape((2, 8))
    drops = [drop_units(grid, 0.), drop_units(grid, 0.5), drop_units(grid, 1.)]
    x = L.arange(-4.0, 4.0, 0.5, requires_grad=True)
    grads = []
    for act in (L.relu, L.sigmoid, L.tanh):
        act(x).backward(L.ones_like(x), retain_graph=True)
        grads.append(x.grad.clone())
        x.grad.data.zero_()
    return dict(ls=losses, drops=drops, grads=grads, eval=model(X, False), params=params)


@program
def weight_decay_from_scratch_and_by_parameter_groups(L):
    """Weight decay on an over-parameterised linear problem (30 inputs, 20 examples): a
    penalty sum(w.pow(2)) / 2 times lambda added to the loss, steps by hand, for lambda 0
    and 3; then the library form with weight_decay on the weight's group only, the bias
    undecayed; the norm of w after each."""
    nn = L.nn
    L.manual_seed(5)
    dim = 30
    w_true, b_true = L.ones((dim, 1)) * 0.01, 0.05
    X, y = make_linear_data(L, w_true.reshape(-1), b_true, 20)
    norms = []
    for lam in (0, 3):
        w = L.normal(0, 1, size=(dim, 1), requires_grad=True)
        b = L.zeros(1, requires_grad=True)
        for epoch in range(5):
            for Xb, yb in shuffled_batches(L, 5, X, y, seed=epoch):
                penalty = L.sum(w.pow(2)) / 2
                ((Xb @ w + b - yb) ** 2 / 2 + lam * penalty).sum().backward()
                step_by_hand(L, [w, b], 0.003, 5)
        norms.append(L.norm(w).item())
    model = nn.Sequential(nn.Linear(dim, 1))
    for p in model.parameters():
        p.data.normal_()
    opt = L.optim.SGD([{"params": model[0].weight, "weight_decay": 3},
                       {"params": model[0].bias}], lr=0.003)
    per_item = nn.MSELoss(reduction="none")
    for epoch in range(5):
        for Xb, yb in shuffled_batches(L, 5, X, y, seed=10 + epoch):
            opt.zero_grad()
            per_item(model(Xb), yb).mean().backward()
            opt.step()
    return dict(norms=norms, concise=model[0].weight.norm().item(), bias=model[0].bias,
                groups=[g["weight_decay"] for g in opt.param_groups])


@program
def initialisation_and_numerical_stability_experiments(L):
    """Numerical stability: the sigmoid's gradient vanishing away from 0 over
    arange(-8, 8, 0.1), products of 20 random 4x4 matrices growing without bound, Glorot
    uniform and normal, constant_ and zeros_ inits on Linear layers applied by apply, the
    uniform bound sqrt(6 / (fan_in + fan_out)) checked, a Linear used twice sharing its
    weight, and the init functions' refusals of a 1-d tensor."""
    nn = L.nn
    L.manual_seed(6)
    x = L.arange(-8.0, 8.0, 0.1, requires_grad=True)
    L.sigmoid(x).backward(L.ones_like(x))
    M = L.normal(0, 1, size=(4, 4))
    prods = [M]
    for _ in range(20):
        M = L.mm(M, L.normal(0, 1, size=(4, 4)))
        prods.append(M.abs().max())
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 2))

    def only_linear(init):
        def visit(m):
            if type(m) == nn.Linear:
                init(m)
        return visit

    def glorot_zero_bias(m):
        nn.init.xavier_uniform_(m.weight)
        nn.init.zeros_(m.bias)

    model[0].apply(only_linear(glorot_zero_bias))
    model[2].apply(only_linear(lambda m: nn.init.xavier_normal_(m.weight)))
    model[4].apply(only_linear(lambda m: nn.init.constant_(m.weight, 42)))
    X = L.tensor(_f32(256, 20, seed=11))
    hidden = model[1](model[0](X))
    bound = math.sqrt(6 / (20 + 64))
    shared = nn.Linear(8, 8)
    tied = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                         nn.Linear(8, 1))
    tied[2].weight.data[0, 0] = 100
    errs = [err(lambda: nn.init.xavier_uniform_(L.zeros(5))),
            err(lambda: nn.init.kaiming_normal_(L.zeros(3), mode="fan_out"))]
    return dict(sig_grad=x.grad[::10], prods=prods, inside=bool((model[0].weight.abs() <=
                                                                  bound).all()),
                var=hidden.var().item(), w4=model[4].weight[:, :3], out=model(X)[:2],
                same=bool(tied[2].weight.data[0, 0] == tied[4].weight.data[0, 0]),
                nparams=len(list(tied.parameters())), errs=errs)


# ----------------------------------------------------------------------------------------------
# convolutions
# ----------------------------------------------------------------------------------------------
def slide_dot(L, X, K):
    """Valid cross-correlation of the 2-d X with the 2-d K, one output entry at a time."""
    kh, kw = K.shape
    rows, cols = X.shape[0] - kh + 1, X.shape[1] - kw + 1
    out = L.zeros((rows, cols))
    for r, c in itertools.product(range(rows), range(cols)):
        out[r, c] = (K * X[r:r + kh, c:c + kw]).sum()
    return out


@program
def corr2d_edge_detector_learned_by_hand_and_multi_channel_forms(L):
    """Convolution by hand: a loop cross-correlation, a module with weight and bias
    Parameters around it, an image with a dark vertical band (img[:, 2:6] = 0) and the
    kernel [[1, -1]] finding its edges, a bias-free nn.Conv2d(1, 1, (1, 2)) learning that
    kernel through weight.data[:] -= lr * weight.grad, several input channels summed over
    zip, several outputs by stack, a 1x1 convolution as a matmul, and output shapes for
    padding and stride; channel and size refusals."""
    nn = L.nn

    class LoopConv(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.weight = nn.Parameter(L.rand(shape))
            self.bias = nn.Parameter(L.zeros(1))

        def forward(self, x):
            return slide_dot(L, x, self.weight) + self.bias

    L.manual_seed(7)
    X = L.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    basic = slide_dot(L, X, K)
    img = L.ones((6, 8))
    img[:, 2:6] = 0
    edge = L.tensor([[1.0, -1.0]])
    edges = slide_dot(L, img, edge)
    across = slide_dot(L, img.t(), edge)
    loop_conv = LoopConv((1, 2))
    loop_conv(img).sum().backward()
    learner = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    src, want = img.reshape((1, 1, 6, 8)), edges.reshape((1, 1, 6, 7))
    losses = []
    for _ in range(10):
        sq = (learner(src) - want) ** 2
        learner.zero_grad()
        sq.sum().backward()
        learner.weight.data[:] -= 3e-2 * learner.weight.grad
        losses.append(sq.sum().item())

    def over_inputs(X, K):
        return sum(slide_dot(L, x, k) for x, k in zip(X, K))

    def per_output(X, K):
        return L.stack([over_inputs(X, k) for k in K], 0)

    def pointwise(X, K):
        c_in, h, w = X.shape
        flat = X.reshape((c_in, h * w))
        return L.matmul(K.reshape((K.shape[0], c_in)), flat).reshape((K.shape[0], h, w))

    two_in = L.stack((X, X + 1), 0)
    two_k = L.stack((K, K + 1), 0)
    three_out = L.stack((two_k, two_k + 1, two_k + 2), 0)
    X1 = L.normal(0, 1, (3, 3, 3))
    K1 = L.normal(0, 1, (2, 3, 1, 1))
    by_matmul, by_loops = pointwise(X1, K1), per_output(X1, K1)

    def map_shape(conv, X):
        Y = conv(X.reshape((1, 1) + X.shape))
        return tuple(Y.reshape(Y.shape[2:]).shape)

    Xs = L.rand(size=(8, 8))
    shapes = [map_shape(nn.Conv2d(1, 1, kernel_size=3, padding=1), Xs),
              map_shape(nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1)), Xs),
              map_shape(nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2), Xs),
              map_shape(nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1), stride=(3, 4)),
                        Xs)]
    errs = [err(lambda: learner(L.ones(1, 2, 4, 4))),
            err(lambda: nn.Conv2d(1, 1, kernel_size=5)(L.ones(1, 1, 3, 3)))]
    return dict(basic=basic, Y=edges, flipped=across, scratch_grad=loop_conv.weight.grad,
                bias_grad=loop_conv.bias.grad, ls=losses,
                learned=learner.weight.data.reshape((1, 2)),
                multi_in=over_inputs(two_in, two_k), multi_out=per_output(two_in, three_out),
                one_by_one=float(L.abs(by_matmul - by_loops).sum()) < 1e-5, shapes=shapes,
                errs=errs)


@program
def pooling_from_scratch_against_max_and_avg_pool_modules(L):
    """Pooling by loops (max and mean of every 2x2 window) beside nn.MaxPool2d/AvgPool2d:
    the default stride (the window), padding with stride, a tuple window with tuple padding,
    two channels made by cat((X, X + 1), 1), count_include_pad=False; a max-pool's gradient
    lands on each window's maximum; padding and size refusals."""
    nn = L.nn

    def loop_pool(X, window, reduce):
        ph, pw = window
        out = L.zeros((X.shape[0] - ph + 1, X.shape[1] - pw + 1))
        for r, c in itertools.product(range(out.shape[0]), range(out.shape[1])):
            out[r, c] = getattr(X[r: r + ph, c: c + pw], reduce)()
        return out

    X = L.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    X4 = L.arange(16, dtype=L.float32).reshape((1, 1, 4, 4))
    X8 = L.cat((X4, X4 + 1), 1)
    Xg = L.tensor(_f32(1, 2, 5, 5, seed=12), requires_grad=True)
    pooled = nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(Xg)
    pooled.sum().backward()
    return dict(mx=loop_pool(X, (2, 2), "max"), avg=loop_pool(X, (2, 2), "mean"),
                p3=nn.MaxPool2d(3)(X4), p3s=nn.MaxPool2d(3, padding=1, stride=2)(X4),
                pt=nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X4),
                two=nn.MaxPool2d(3, padding=1, stride=2)(X8),
                avg2=nn.AvgPool2d(3, padding=1, stride=2)(X8),
                avg_nopad=nn.AvgPool2d(3, padding=1, stride=2, count_include_pad=False)(X8),
                out=pooled, grad=Xg.grad,
                errs=[err(lambda: nn.MaxPool2d(3, padding=2)(X4)),
                      err(lambda: nn.AvgPool2d(5)(X4))])


@program
def lenet_with_sigmoid_and_avg_pool_shapes_and_a_training_step(L):
    """A LeNet-5 shaped net (sigmoid activations, 2x2 average pools, a padded first 5x5
    conv, three Linear layers): the class name and output shape of each layer by iterating
    the Sequential, Glorot-uniform init of Linear and Conv2d weights by apply, an epoch of
    SGD on CrossEntropyLoss with the batches moved to the device of the first parameter,
    then the accuracy in eval mode."""
    nn = L.nn
    L.manual_seed(8)

    def squash_pool():
        return [nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2)]

    model = nn.Sequential(nn.Conv2d(1, 6, kernel_size=5, padding=2), *squash_pool(),
                          nn.Conv2d(6, 16, kernel_size=5), *squash_pool(), nn.Flatten(),
                          nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
                          nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    probe = L.rand(size=(1, 1, 28, 28), dtype=L.float32)
    table = []
    for layer in model:
        probe = layer(probe)
        table.append((layer.__class__.__name__, tuple(probe.shape)))

    def glorot(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)

    model.apply(glorot)
    device = next(iter(model.parameters())).device
    opt = L.optim.SGD(model.parameters(), lr=0.9)
    criterion = nn.CrossEntropyLoss()
    imgs = L.tensor(_f32(12, 1, 28, 28, seed=13))
    labels = L.tensor(np.random.RandomState(14).randint(0, 10, 12))
    batches = [(imgs[:6], labels[:6]), (imgs[6:], labels[6:])]
    model.train()
    losses = []
    for xb, yb in batches:
        opt.zero_grad()
        xb, yb = xb.to(device), yb.to(device)
        loss = criterion(model(xb), yb)
        loss.backward()
        opt.step()
        with L.no_grad():
            losses.append((loss * xb.shape[0]).item())
    acc = accuracy_over(L, model, batches)
    return dict(table=table, ls=losses, acc=acc, training=model.training, device=str(device),
                grads=grads_of(model)["0.weight"][:2, 0, :2])


@program
def alexnet_vgg_and_nin_blocks_at_tiny_sizes(L):
    """Deeper CNNs at toy width: an AlexNet-shaped stack (11x11 stride-4 conv,
    MaxPool2d(3, 2), dropout in the classifier), VGG-style stages of 3x3 conv/ReLU pairs
    closed by a 2x2 max-pool and built from (convs, channels) pairs, network-in-network
    stages (a conv and two 1x1 convs) ending in AdaptiveAvgPool2d((1, 1)) and Flatten;
    the shape after each stage, outputs in eval and train mode (dropout differs), one
    backward."""
    nn = L.nn
    L.manual_seed(9)
    alex = nn.Sequential(
        nn.Conv2d(1, 4, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(4, 8, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(8, 8, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
        nn.Linear(8 * 1 * 1, 16), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(16, 10))

    def conv_stage(c_in, c_out, n):
        layers = []
        for c in [c_in] + [c_out] * (n - 1):
            layers += [nn.Conv2d(c, c_out, kernel_size=3, padding=1), nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(kernel_size=2, stride=2))

    def from_spec(spec):
        stages, c = [], 1
        for n, c_out in spec:
            stages.append(conv_stage(c, c_out, n))
            c = c_out
        return nn.Sequential(*stages, nn.Flatten(), nn.Linear(c * 2 * 2, 12), nn.ReLU(),
                             nn.Dropout(0.5), nn.Linear(12, 10))

    def mlpconv(c_in, c_out, k, stride, pad):
        layers = [nn.Conv2d(c_in, c_out, k, stride, pad), nn.ReLU()]
        for _ in range(2):
            layers += [nn.Conv2d(c_out, c_out, kernel_size=1), nn.ReLU()]
        return nn.Sequential(*layers)

    vgg_like = from_spec(((1, 4), (1, 8), (2, 8)))
    nin_like = nn.Sequential(mlpconv(1, 4, k=5, stride=2, pad=0), nn.MaxPool2d(3, stride=2),
                             mlpconv(4, 10, k=3, stride=1, pad=1),
                             nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    big = L.tensor(_f32(2, 1, 96, 96, seed=15))
    small = L.tensor(_f32(2, 1, 16, 16, seed=16))
    shapes = []
    h = small
    for stage in vgg_like:
        h = stage(h)
        shapes.append((stage.__class__.__name__, tuple(h.shape)))
    outs = {}
    for name, model, x in (("alex", alex, big), ("vgg", vgg_like, small),
                           ("nin", nin_like, big[:, :, :20, :20])):
        model.eval()
        in_eval = model(x)
        model.train()
        L.manual_seed(1)
        in_train = model(x)
        in_train.sum().backward()
        outs[name] = (in_eval, in_train, model[0].weight.grad.sum() if name == "alex" else
                      next(model.parameters()).grad.sum())
    return dict(shapes=shapes, outs=outs)


@program
def parallel_branch_residual_and_dense_blocks(L):
    """Blocks of modern CNNs: four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3
    max-pool then 1x1) joined on dim 1; residual units (a strided 1x1 projection on the
    shortcut when the shape changes, Y += shortcut in place) stacked in stages; densely
    connected layers (BN, ReLU, conv) each appending its output to its input, and a
    transition layer halving the map; a tiny classifier from each trained two SGD steps
    with momentum, its eval-mode output and BN running variances, and the shapes."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(10)

    class FourWay(nn.Module):
        def __init__(self, c_in, c1, c2, c3, c4):
            super().__init__()
            self.b1 = nn.ModuleList([nn.Conv2d(c_in, c1, kernel_size=1)])
            self.b2 = nn.ModuleList([nn.Conv2d(c_in, c2[0], kernel_size=1),
                                     nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)])
            self.b3 = nn.ModuleList([nn.Conv2d(c_in, c3[0], kernel_size=1),
                                     nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)])
            self.pool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.b4 = nn.ModuleList([nn.Conv2d(c_in, c4, kernel_size=1)])

        def forward(self, x):
            def chain(convs, y):
                for conv in convs:
                    y = F.relu(conv(y))
                return y
            return L.cat((chain(self.b1, x), chain(self.b2, x), chain(self.b3, x),
                          chain(self.b4, self.pool(x))), dim=1)

    class ResUnit(nn.Module):
        def __init__(self, c_in, c_out, project=False, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, stride=stride)
            self.conv2 = nn.Conv2d(c_out, c_out, kernel_size=3, padding=1)
            self.shortcut = (nn.Conv2d(c_in, c_out, kernel_size=1, stride=stride)
                             if project else None)
            self.bn1, self.bn2 = nn.BatchNorm2d(c_out), nn.BatchNorm2d(c_out)

        def forward(self, X):
            Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
            Y += X if self.shortcut is None else self.shortcut(X)
            return F.relu(Y)

    def res_stage(c_in, c_out, n_units, first=False):
        """n_units residual units; unless first, the opening one halves the map."""
        return [ResUnit(c_in, c_out, project=True, stride=2) if k == 0 and not first
                else ResUnit(c_out, c_out) for k in range(n_units)]

    def bn_relu_conv(c_in, c_out, k=3):
        return [nn.BatchNorm2d(c_in), nn.ReLU(),
                nn.Conv2d(c_in, c_out, kernel_size=k, padding=k // 2)]

    class Growing(nn.Module):
        def __init__(self, n_layers, c_in, growth):
            super().__init__()
            self.net = nn.Sequential(*[nn.Sequential(*bn_relu_conv(c_in + k * growth, growth))
                                       for k in range(n_layers)])

        def forward(self, X):
            for layer in self.net:
                X = L.cat((X, layer(X)), dim=1)
            return X

    def transition(c_in, c_out):
        return nn.Sequential(*bn_relu_conv(c_in, c_out, k=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))

    X = L.tensor(_f32(2, 3, 8, 8, seed=17))
    four_way = nn.Sequential(FourWay(3, 2, (2, 3), (1, 2), 2), nn.AdaptiveAvgPool2d((1, 1)),
                             nn.Flatten(), nn.Linear(9, 4))
    stem = nn.Sequential(nn.Conv2d(3, 4, kernel_size=3, stride=1, padding=1),
                         nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    residual = nn.Sequential(stem, nn.Sequential(*res_stage(4, 4, 2, first=True)),
                             nn.Sequential(*res_stage(4, 6, 2)),
                             nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6, 4))
    dense = nn.Sequential(Growing(2, 3, 2), transition(7, 3), Growing(1, 3, 2),
                          nn.BatchNorm2d(5), nn.ReLU(), nn.AdaptiveMaxPool2d((1, 1)),
                          nn.Flatten(), nn.Linear(5, 4))
    y = L.tensor([0, 3])
    outs = {}
    for name, model in (("inception", four_way), ("resnet", residual), ("densenet", dense)):
        opt = L.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(X), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        model.eval()
        outs[name] = (losses, model(X), [m.running_var for m in model.modules()
                                         if isinstance(m, nn.BatchNorm2d)])
    unit = ResUnit(3, 6, project=True, stride=2)
    return dict(outs=outs, rshape=tuple(unit(X).shape),
                dshape=tuple(Growing(2, 3, 10)(X).shape),
                tshape=tuple(transition(23, 10)(L.zeros(1, 23, 8, 8)).shape))


@program
def batch_norm_from_scratch_with_moving_averages_and_grad_mode_branch(L):
    """Batch normalisation by hand: L.is_grad_enabled() picks the running statistics for
    inference, batch statistics are taken over dim 0 (2-d input) or over (0, 2, 3) with
    keepdim (4-d input), running averages move by momentum 0.1 and come back as .data; a
    module holding scale/shift Parameters and running tensors, trained inside a small
    conv net; nn.BatchNorm2d fed the same conv outputs for its running mean and (unbiased)
    variance."""
    nn = L.nn

    def normalise(X, scale, shift, run_mean, run_var, eps, momentum):
        if not L.is_grad_enabled():
            X_hat = (X - run_mean) / L.sqrt(run_var + eps)
            return scale * X_hat + shift, run_mean.data, run_var.data
        assert len(X.shape) in (2, 4)
        over = dict(dim=0) if len(X.shape) == 2 else dict(dim=(0, 2, 3), keepdim=True)
        mu = X.mean(**over)
        var = ((X - mu) ** 2).mean(**over)
        X_hat = (X - mu) / L.sqrt(var + eps)
        run_mean = (1.0 - momentum) * run_mean + momentum * mu
        run_var = (1.0 - momentum) * run_var + momentum * var
        return scale * X_hat + shift, run_mean.data, run_var.data

    class HandNorm(nn.Module):
        def __init__(self, n, dims):
            super().__init__()
            shape = (1, n) if dims == 2 else (1, n, 1, 1)
            self.scale = nn.Parameter(L.ones(shape))
            self.shift = nn.Parameter(L.zeros(shape))
            self.run_mean, self.run_var = L.zeros(shape), L.ones(shape)

        def forward(self, X):
            if self.run_mean.device != X.device:
                self.run_mean = self.run_mean.to(X.device)
                self.run_var = self.run_var.to(X.device)
            Y, self.run_mean, self.run_var = normalise(
                X, self.scale, self.shift, self.run_mean, self.run_var, eps=1e-5,
                momentum=0.1)
            return Y

    L.manual_seed(11)
    model = nn.Sequential(nn.Conv2d(1, 3, kernel_size=3), HandNorm(3, dims=4), nn.Sigmoid(),
                          nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(12, 5),
                          HandNorm(5, dims=2), nn.Sigmoid(), nn.Linear(5, 3))
    library_bn = nn.BatchNorm2d(3)
    X = L.tensor(_f32(4, 1, 6, 6, seed=18))
    y = L.tensor([0, 1, 2, 1])
    opt = L.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        library_bn(model[0](X).detach())
    with L.no_grad():
        pred = model(X)
    conv_norm, fc_norm = model[1], model[6]
    return dict(ls=losses, pred=pred, mm=conv_norm.run_mean.reshape(-1), mv=conv_norm.run_var,
                ref_mean=library_bn.running_mean, ref_var=library_bn.running_var,
                fc=(fc_norm.run_mean, fc_norm.run_var), gamma=conv_norm.scale.reshape((-1,)),
                beta=fc_norm.shift.reshape((-1,)), tracked=library_bn.num_batches_tracked,
                grad_mode=L.is_grad_enabled())


# ----------------------------------------------------------------------------------------------
# recurrent networks
# ----------------------------------------------------------------------------------------------
class TokenTable:
    """Maps tokens to indices and back.  Index 0 is "<unk>", which every unknown token looks
    up to; the reserved tokens come next, then the tokens seen, most frequent first (ties
    keep the order of first sight), less frequent than min_freq left out."""

    def __init__(self, tokens=(), min_freq=0, reserved=()):
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], list):
            tokens = [tok for row in tokens for tok in row]
        self.counts = sorted(collections.Counter(tokens).items(), key=lambda kv: -kv[1])
        self.tokens = ["<unk>", *reserved]
        self.tokens += [tok for tok, n in self.counts
                        if n >= min_freq and tok not in self.tokens]
        self.index = {tok: i for i, tok in enumerate(self.tokens)}

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, key):
        if isinstance(key, (list, tuple)):
            return [self[k] for k in key]
        return self.index.get(key, 0)

    def names(self, ids):
        """The token of one index, or the list of tokens of several."""
        if hasattr(ids, "__len__") and len(ids) > 1:
            return [self.tokens[int(i)] for i in ids]
        return self.tokens[ids]


# a sentence of H. G. Wells's The Time Machine (public domain), the character corpus
_TEXT = ("the time traveller for so it will be convenient to speak of him was expounding a "
         "recondite matter to us his grey eyes shone and twinkled and his usually pale face "
         "was flushed and animated the fire burned brightly and the soft radiance of the "
         "incandescent lights in the lilies of silver caught the bubbles that flashed and "
         "passed in our glasses")


def _char_stream():
    """The corpus as character ids, with its table."""
    chars = list(_TEXT)
    table = TokenTable(chars)
    return table[chars], table


def sequential_windows(L, ids, rows, width, skip):
    """Batches that continue each other row by row: the stream, ``skip`` ids dropped, is cut
    into ``rows`` equal rows (the tail that does not fit dropped) and read ``width`` columns
    at a time; the targets are the same windows one id later."""
    usable = (len(ids) - skip - 1) // rows * rows
    inputs = L.tensor(ids[skip: skip + usable]).reshape(rows, -1)
    targets = L.tensor(ids[skip + 1: skip + 1 + usable]).reshape(rows, -1)
    for col in range(0, inputs.shape[1] // width * width, width):
        yield inputs[:, col: col + width], targets[:, col: col + width]


@program
def text_token_table_and_random_and_sequential_windows(L):
    """Text pipelines: a character table built from Counter (frequencies, ids back to
    tokens), windows read from a random offset in shuffled order (Python's random, seeded),
    windows read row by row from a reshaped stream, sentences cut or padded to a fixed
    length and their true lengths by (array != pad).type(int32).sum(1), and the most common
    pairs of neighbouring characters."""
    ids, table = _char_stream()
    rng = random.Random(3)

    def random_windows(seq, rows, width):
        seq = seq[rng.randint(0, width - 1):]
        n_windows = (len(seq) - 1) // width
        starts = [k * width for k in range(n_windows)]
        rng.shuffle(starts)
        for b in range(n_windows // rows):
            chosen = starts[b * rows: (b + 1) * rows]
            yield (L.tensor([seq[s: s + width] for s in chosen]),
                   L.tensor([seq[s + 1: s + 1 + width] for s in chosen]))

    def fit(row, length, pad):
        return (row + [pad] * length)[:length]

    sentences = [["go", "."], ["i", "lost", "."], ["he", "is", "calm", ".", "really", "."]]
    words = TokenTable(sentences, min_freq=1, reserved=["<pad>", "<bos>", "<eos>"])
    pad, eos = words["<pad>"], words["<eos>"]
    padded = L.tensor([fit(words[s] + [eos], 5, pad) for s in sentences])
    lengths = (padded != pad).type(L.int32).sum(1)
    shuffled = list(random_windows(list(range(35)), 2, 5))
    in_order = list(sequential_windows(L, list(range(35)), 2, 5, skip=3))
    pairs = collections.Counter(zip(ids[:-1], ids[1:]))
    top = L.tensor([n for _, n in pairs.most_common(5)])
    return dict(n=len(table), first=table.names(list(range(6))), one=table.names(3),
                freqs=table.counts[:4], rand=shuffled, seq=in_order, array=padded,
                valid_len=lengths, top=top, unk=words["never"],
                freq_log=L.log(top.float() / len(ids)))


def _scratch_weights(L, n_tok, width, n_gates):
    """A hand-written cell's weights over one-hot inputs: per gate an input matrix, a
    recurrent matrix and a bias, then the read-out matrix and bias; matrices are normal
    draws scaled by 0.01, biases zero, all leaves requiring grad."""
    def small(*shape):
        return L.randn(size=shape) * 0.01

    flat = []
    for _ in range(n_gates):
        flat.extend((small(n_tok, width), small(width, width), L.zeros(width)))
    flat.extend((small(width, n_tok), L.zeros(n_tok)))
    for t in flat:
        t.requires_grad_(True)
    return flat


def _pre(x, h, w_in, w_rec, bias):
    """A gate's pre-activation from the input and the previous hidden state."""
    return (x @ w_in) + (h @ w_rec) + bias


def _plain_cell(L, xs, state, w):
    w_in, w_rec, bias, w_out, b_out = w
    (h,) = state
    logits = []
    for x in xs:
        h = L.tanh(L.mm(x, w_in) + L.mm(h, w_rec) + bias)
        logits.append(L.mm(h, w_out) + b_out)
    return L.cat(logits, dim=0), (h,)


def _gated_cell(L, xs, state, w):
    update, reset, cand, (w_out, b_out) = w[0:3], w[3:6], w[6:9], w[9:]
    (h,) = state
    logits = []
    for x in xs:
        z = L.sigmoid(_pre(x, h, *update))
        r = L.sigmoid(_pre(x, h, *reset))
        proposal = L.tanh(_pre(x, r * h, *cand))
        h = z * h + (1 - z) * proposal
        logits.append(h @ w_out + b_out)
    return L.cat(logits, dim=0), (h,)


def _memory_cell(L, xs, state, w):
    gates, (w_out, b_out) = [w[k: k + 3] for k in range(0, 12, 3)], w[12:]
    h, c = state
    logits = []
    for x in xs:
        keep_in, keep_old, show = (L.sigmoid(_pre(x, h, *g)) for g in gates[:3])
        fresh = L.tanh(_pre(x, h, *gates[3]))
        c = keep_old * c + keep_in * fresh
        h = show * L.tanh(c)
        logits.append((h @ w_out) + b_out)
    return L.cat(logits, dim=0), (h, c)


class HandRNN:
    """A character model over a hand-written cell: ids one-hot encoded time-major (X.T)
    as float32, the cell run over the steps, zero initial states."""

    def __init__(self, L, n_tok, width, n_gates, cell, n_state):
        self.L, self.n_tok, self.width = L, n_tok, width
        self.params = _scratch_weights(L, n_tok, width, n_gates)
        self.cell, self.n_state = cell, n_state

    def __call__(self, ids, state):
        onehot = self.L.nn.functional.one_hot(ids.T, self.n_tok).type(self.L.float32)
        return self.cell(self.L, onehot, state, self.params)

    def zero_state(self, rows):
        return tuple(self.L.zeros((rows, self.width)) for _ in range(self.n_state))


def _one_epoch(L, model, batches, lr, opt=None):
    """One pass over sequential batches: the state begun on the first and cut from the
    graph in place (detach_) on the next ones, cross-entropy against the time-major
    targets, the gradients clipped to norm 1, a step by hand (or by ``opt``).  Returns the
    perplexity and the norms before clipping."""
    criterion = L.nn.CrossEntropyLoss()
    state, loss_sum, n_tok, norms = None, 0.0, 0, []
    for X, Y in batches:
        if state is None:
            state = model.zero_state(X.shape[0])
        elif isinstance(model, L.nn.Module) and not isinstance(state, tuple):
            state.detach_()
        else:
            for part in state:
                part.detach_()
        target = Y.T.reshape(-1)
        logits, state = model(X, state)
        loss = criterion(logits, target.long()).mean()
        if opt is not None:
            opt.zero_grad()
        loss.backward()
        norms.append(clip_global_norm(L, model, 1))
        if opt is None:
            step_by_hand(L, model.params, lr, 1)
        else:
            opt.step()
        loss_sum += loss.item() * target.numel()
        n_tok += target.numel()
    return math.exp(loss_sum / n_tok), norms


def _greedy_text(L, prefix, n_new, model, table):
    """Feeds the prefix one character at a time, then appends n_new argmax characters."""
    state = model.zero_state(1)
    ids = [table[prefix[0]]]
    for ch in prefix[1:]:
        _, state = model(L.tensor([ids[-1]]).reshape((1, 1)), state)
        ids.append(table[ch])
    for _ in range(n_new):
        logits, state = model(L.tensor([ids[-1]]).reshape((1, 1)), state)
        ids.append(int(logits.argmax(dim=1).reshape(1)))
    return "".join(table.tokens[i] for i in ids)


@program
def recurrent_cells_by_hand_with_clipping_detach_and_generation(L):
    """Three hand-written recurrent cells (plain tanh, gated, with a memory cell) trained
    two epochs on sequential character batches: one_hot(X.T) cast to float32, weights from
    randn(size=...) * 0.01 made leaves by requires_grad_, loops of mm and @ with sigmoid
    gates, outputs joined by cat, the state carried across batches through detach_,
    gradients clipped in place (param.grad[:] *= ...), steps under no_grad, perplexity by
    exp, then greedy text from a prefix."""
    ids, table = _char_stream()
    batches = list(sequential_windows(L, ids, 4, 6, skip=2))[:4]
    out = {}
    for name, n_gates, cell, n_state in (("rnn", 1, _plain_cell, 1),
                                         ("gru", 3, _gated_cell, 1),
                                         ("lstm", 4, _memory_cell, 2)):
        L.manual_seed(12)
        model = HandRNN(L, len(table), 16, n_gates, cell, n_state)
        ppls = []
        for _ in range(2):
            ppl, norms = _one_epoch(L, model, batches, lr=1.0)
            ppls.append(ppl)
        out[name] = (ppls, [float(n) for n in norms], _greedy_text(L, "the ", 6, model, table),
                     model.params[-2].grad.abs().sum().item())
    grid = L.arange(10).reshape((2, 5))
    small = HandRNN(L, 28, 5, 1, _plain_cell, 1)
    Y, new_state = small(grid.to(L.device("cpu")), small.zero_state(grid.shape[0]))
    return dict(out=out, shapes=(tuple(Y.shape), len(new_state), tuple(new_state[0].shape)),
                onehot=L.nn.functional.one_hot(L.tensor([0, 2]), 5))


@program
def library_rnn_gru_and_bidirectional_lstm_behind_one_wrapper(L):
    """The library's recurrent layers (nn.RNN, a two-layer nn.GRU, a two-layer bidirectional
    nn.LSTM, whose read-out takes twice the features) behind one character model: one-hot of
    inputs.T, a Linear over out.reshape((-1, out.shape[-1])), zero states of
    directions * layers rows (an (h, c) pair for the LSTM); an epoch with SGD and clipping by
    hand, the state detached in place between batches."""
    nn, F = L.nn, L.nn.functional

    class CharModel(nn.Module):
        def __init__(self, layer, n_tok):
            super().__init__()
            self.rnn, self.n_tok = layer, n_tok
            self.dirs = 2 if layer.bidirectional else 1
            self.linear = nn.Linear(self.dirs * layer.hidden_size, n_tok)

        def forward(self, ids, state):
            onehot = F.one_hot(ids.T.long(), self.n_tok).to(L.float32)
            out, state = self.rnn(onehot, state)
            return self.linear(out.reshape((-1, out.shape[-1]))), state

        def zero_state(self, rows=1):
            shape = (self.dirs * self.rnn.num_layers, rows, self.rnn.hidden_size)
            if isinstance(self.rnn, nn.LSTM):
                return (L.zeros(shape), L.zeros(shape))
            return L.zeros(shape)

    ids, table = _char_stream()
    V = len(table)
    batches = list(sequential_windows(L, ids, 3, 5, skip=1))[:3]
    out = {}
    for name, make in (("rnn", lambda: nn.RNN(V, 8)),
                       ("gru2", lambda: nn.GRU(V, 8, num_layers=2)),
                       ("lstm_bi", lambda: nn.LSTM(V, 8, num_layers=2, bidirectional=True))):
        L.manual_seed(13)
        model = CharModel(make(), V)
        opt = L.optim.SGD(model.parameters(), lr=1.0)
        ppl, norms = _one_epoch(L, model, batches, 1.0, opt=opt)
        y, state = model(L.tensor([[1, 2, 3], [4, 5, 6]]), model.zero_state(2))
        out[name] = (ppl, [float(n) for n in norms], y, state,
                     _greedy_text(L, "the", 4, model, table))
    return out


# ----------------------------------------------------------------------------------------------
# sequence to sequence, attention, transformers
# ----------------------------------------------------------------------------------------------
def pad_out(L, X, lengths, value=0):
    """Writes ``value`` in place into the entries of each row of the 2-d X that lie past the
    row's length; returns X."""
    positions = L.arange((X.size(1)), dtype=L.float32, device=X.device)
    keep = positions[None, :] < lengths[:, None]
    X[~keep] = value
    return X


def softmax_within(L, scores, lengths):
    """Softmax over the last dim that leaves (almost) no weight past each row's length: a
    1-d ``lengths`` gives one length per batch item (repeated over its query rows by
    repeat_interleave), a 2-d one a length per query row, None no mask at all."""
    F = L.nn.functional
    if lengths is None:
        return F.softmax(scores, dim=-1)
    shape = scores.shape
    per_row = (L.repeat_interleave(lengths, shape[1]) if lengths.dim() == 1
               else lengths.reshape(-1))
    flat = pad_out(L, scores.reshape(-1, shape[-1]), per_row, value=-1e6)
    return F.softmax(flat.reshape(shape), dim=-1)


def _attention_kit(L):
    """The attention modules of library L, in a namespace."""
    nn = L.nn

    class ScaledDot(nn.Module):
        """softmax(q k^T / sqrt(d)) v under a length mask; the weights last used are kept
        in .weights."""

        def __init__(self, p_drop):
            super().__init__()
            self.drop = nn.Dropout(p_drop)

        def forward(self, q, k, v, lengths=None):
            scores = L.bmm(q, k.transpose(1, 2)) / math.sqrt(q.shape[-1])
            self.weights = softmax_within(L, scores, lengths)
            return L.bmm(self.drop(self.weights), v)

    class Additive(nn.Module):
        """Scores u . tanh(A q + B k) for every query-key pair, by broadcasting the two
        projections against each other."""

        def __init__(self, key_dim, query_dim, width, p_drop):
            super().__init__()
            self.key_proj = nn.Linear(key_dim, width, bias=False)
            self.query_proj = nn.Linear(query_dim, width, bias=False)
            self.score = nn.Linear(width, 1, bias=False)
            self.drop = nn.Dropout(p_drop)

        def forward(self, q, k, v, lengths):
            q, k = self.query_proj(q), self.key_proj(k)
            hidden = L.tanh(q.unsqueeze(2) + k.unsqueeze(1))
            self.weights = softmax_within(L, self.score(hidden).squeeze(-1), lengths)
            return L.bmm(self.drop(self.weights), v)

    def split_heads(X, heads):
        """(batch, steps, heads * d) -> (batch * heads, steps, d)."""
        X = X.reshape(X.shape[0], X.shape[1], heads, -1).permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def merge_heads(X, heads):
        """(batch * heads, steps, d) -> (batch, steps, heads * d)."""
        X = X.reshape(-1, heads, X.shape[1], X.shape[2]).permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    class MultiHead(nn.Module):
        """Scaled dot-product attention run per head on slices of the projected queries,
        keys and values, the heads joined again and projected."""

        def __init__(self, k_dim, q_dim, v_dim, width, heads, p_drop, bias=False):
            super().__init__()
            self.heads = heads
            self.inner = ScaledDot(p_drop)
            self.q_proj = nn.Linear(q_dim, width, bias=bias)
            self.k_proj = nn.Linear(k_dim, width, bias=bias)
            self.v_proj = nn.Linear(v_dim, width, bias=bias)
            self.out_proj = nn.Linear(width, width, bias=bias)

        def forward(self, q, k, v, lengths):
            q, k, v = (split_heads(proj(t), self.heads) for proj, t in
                       ((self.q_proj, q), (self.k_proj, k), (self.v_proj, v)))
            if lengths is not None:
                lengths = L.repeat_interleave(lengths, repeats=self.heads, dim=0,
                                              output_size=self.heads * len(lengths))
            return self.out_proj(merge_heads(self.inner(q, k, v, lengths), self.heads))

    class Sinusoids(nn.Module):
        """Adds fixed position signals, sines on the even features and cosines on the odd
        ones, at frequencies 10000 ** (-2i / width); then dropout."""

        def __init__(self, width, p_drop, longest=1000):
            super().__init__()
            self.drop = nn.Dropout(p_drop)
            steps = L.arange(longest, dtype=L.float32).reshape(-1, 1)
            angle = steps / L.pow(10000, L.arange(0, width, 2, dtype=L.float32) / width)
            self.P = L.zeros((1, longest, width))
            self.P[:, :, 0::2] = L.sin(angle)
            self.P[:, :, 1::2] = L.cos(angle)

        def forward(self, X):
            return self.drop(X + self.P[:, :X.shape[1], :].to(X.device))

    return types.SimpleNamespace(ScaledDot=ScaledDot, Additive=Additive, MultiHead=MultiHead,
                                 Sinusoids=Sinusoids)


@program
def length_masked_softmax_additive_and_scaled_dot_product_attention(L):
    """Attention scoring: a length-masked softmax given 1-d lengths (spread over the query
    rows by repeat_interleave) and 2-d ones (reshaped), -1e6 written through a boolean ~mask,
    additive scores broadcasting unsqueeze(2) against unsqueeze(1) through tanh, scaled
    dot products by bmm with keys.transpose(1, 2) over values arange(40).reshape(1, 10, 4)
    .repeat(2, 1, 1), and the gradients of both; kernel regression whose Gaussian width is
    learned, the leave-one-out keys picked by a (1 - eye).type(bool) mask."""
    nn = L.nn
    kit = _attention_kit(L)
    L.manual_seed(14)
    X = L.rand(2, 2, 4)
    by_item = softmax_within(L, X, L.tensor([2, 3]))
    by_row = softmax_within(L, X, L.tensor([[1, 3], [2, 4]]))
    queries, keys = L.normal(0, 1, (2, 1, 20)), L.ones((2, 10, 2))
    values = L.arange(40, dtype=L.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    lengths = L.tensor([2, 6])
    additive = kit.Additive(key_dim=2, query_dim=20, width=8, p_drop=0.1)
    additive.eval()
    a_out = additive(queries, keys, values, lengths)
    a_out.sum().backward()
    scaled = kit.ScaledDot(p_drop=0.5)
    scaled.eval()
    q2 = L.normal(0, 1, (2, 1, 2), requires_grad=True)
    d_out = scaled(q2, keys, values, lengths)
    d_out.pow(2).sum().backward()
    padded = pad_out(L, L.tensor([[1, 2, 3], [4, 5, 6]]), L.tensor([1, 2]))

    # kernel regression: 12 noisy samples of 2 sin x + x^0.8, each predicted from the others
    xs, _ = L.sort(L.rand(12) * 5)
    ys = 2 * L.sin(xs) + xs ** 0.8 + L.normal(0.0, 0.5, (12,))
    grid = L.arange(0, 5, 0.5)
    width = nn.Parameter(L.rand((1,)))
    others = (1 - L.eye(12)).type(L.bool)
    ref_x = xs.repeat((12, 1))[others].reshape((12, -1))
    ref_y = ys.repeat((12, 1))[others].reshape((12, -1))
    opt = L.optim.SGD([width], lr=0.5)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        at = xs.repeat_interleave(ref_x.shape[1]).reshape((-1, ref_x.shape[1]))
        kernel = nn.functional.softmax(-((at - ref_x) * width) ** 2 / 2, dim=1)
        fit = L.bmm(kernel.unsqueeze(1), ref_y.unsqueeze(-1)).reshape(-1)
        loss = ((fit - ys) ** 2 / 2).sum()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    at_grid = grid.repeat_interleave(12).reshape((-1, 12))
    pred = L.softmax(-((at_grid - xs) * width.detach()) ** 2 / 2, dim=1) @ ys
    errs = [err(lambda: L.repeat_interleave(L.tensor([2, 3]), L.tensor([1, 2, 3]))),
            err(lambda: L.repeat_interleave(lengths, 2, output_size=3)),
            err(lambda: L.repeat_interleave(lengths, L.tensor([2, 1]), output_size=4)),
            err(lambda: L.repeat_interleave(lengths, L.tensor([[2, 2]]))),
            err(lambda: L.bmm(queries, keys)),
            err(lambda: softmax_within(L, X, L.tensor([[1, 3, 2], [2, 4, 1]])))]
    return dict(m1=by_item, m2=by_row, a_out=a_out, add_w=additive.weights,
                add_grads=grads_of(additive), d_out=d_out, q_grad=q2.grad,
                dot_w=scaled.weights, seq=padded, nw=losses, w=width, pred=pred, errs=errs,
                ri=(L.repeat_interleave(L.tensor([[1, 2], [3, 4]]), 2, output_size=8),
                    L.repeat_interleave(lengths, L.tensor([2, 1]), output_size=3),
                    L.repeat_interleave(L.tensor([[1, 2], [3, 4]]), L.tensor([1, 2]), dim=0),
                    L.repeat_interleave(L.tensor([2, 0, 1]))))


@program
def multi_head_attention_by_head_splitting_and_sinusoidal_positions(L):
    """Multi-head attention from Linear projections, heads split to (batch * heads, steps,
    d / heads) by reshape and permute and merged back, lengths repeated per head with
    repeat_interleave(dim=0, output_size=...), cross- and self-attention; fixed sinusoidal
    position signals written into strided slices P[:, :, 0::2] and P[:, :, 1::2]; checked
    against nn.MultiheadAttention loaded with the same projection weights and a
    key_padding_mask built from the lengths."""
    nn = L.nn
    kit = _attention_kit(L)
    L.manual_seed(15)
    width, heads, rows, n_q, n_kv = 8, 2, 2, 4, 6
    mha = kit.MultiHead(width, width, width, width, heads, 0.5)
    mha.eval()
    lengths = L.tensor([3, 2])
    X = L.tensor(_f32(rows, n_q, width, seed=19), requires_grad=True)
    Y = L.tensor(_f32(rows, n_kv, width, seed=20))
    out = mha(X, Y, Y, lengths)
    out.sum().backward()
    ref = nn.MultiheadAttention(width, heads, bias=False, batch_first=True)
    with L.no_grad():
        ref.in_proj_weight.copy_(L.cat([mha.q_proj.weight, mha.k_proj.weight,
                                        mha.v_proj.weight]))
        ref.out_proj.weight.copy_(mha.out_proj.weight)
    ignored = L.arange(n_kv)[None, :] >= lengths[:, None]
    ref_out, ref_w = ref(X, Y, Y, key_padding_mask=ignored)
    signals = kit.Sinusoids(width, 0)
    signals.eval()
    shifted = signals(L.zeros((1, 10, width)))
    table = signals.P[:, :shifted.shape[1], :]
    self_att = mha(Y, Y, Y, L.tensor([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]))
    return dict(out=out, xgrad=X.grad, close=float((out - ref_out).abs().max()) < 1e-5,
                ref_w=ref_w, P=table[0, :, 4:8], self_att=self_att,
                binary=[format(i, ">03b") for i in range(4)],
                wgrads=grads_of(mha))


@program
def transformer_encoder_decoder_blocks_with_state_caches(L):
    """An encoder-decoder Transformer: feed-forward parts whose first layer is a LazyLinear,
    residual sums normalised by LayerNorm after dropout, embeddings scaled by sqrt(width)
    plus position signals, each encoder layer's attention weights kept, decoder layers that
    cache the steps seen so far (cat on dim 1 while decoding one step at a time) and in
    training mask the future by lengths arange(1, steps + 1).repeat(batch, 1); two Adam
    steps on a teacher-forced, length-masked cross-entropy, then greedy decoding in eval
    mode."""
    nn = L.nn
    kit = _attention_kit(L)

    def feed_forward(hidden, out):
        return nn.Sequential(nn.LazyLinear(hidden), nn.ReLU(), nn.Linear(hidden, out))

    class SumNorm(nn.Module):
        def __init__(self, width, p_drop):
            super().__init__()
            self.drop = nn.Dropout(p_drop)
            self.norm = nn.LayerNorm(width)

        def forward(self, X, update):
            return self.norm(self.drop(update) + X)

    def mha(width, heads, p_drop):
        return kit.MultiHead(width, width, width, width, heads, p_drop)

    class EncoderLayer(nn.Module):
        def __init__(self, width, ffn_width, heads, p_drop):
            super().__init__()
            self.attn = mha(width, heads, p_drop)
            self.norm1 = SumNorm(width, p_drop)
            self.ffn = feed_forward(ffn_width, width)
            self.norm2 = SumNorm(width, p_drop)

        def forward(self, X, lengths):
            X = self.norm1(X, self.attn(X, X, X, lengths))
            return self.norm2(X, self.ffn(X))

    class DecoderLayer(nn.Module):
        def __init__(self, width, ffn_width, heads, p_drop, slot):
            super().__init__()
            self.slot = slot
            self.self_attn = mha(width, heads, p_drop)
            self.norm1 = SumNorm(width, p_drop)
            self.cross_attn = mha(width, heads, p_drop)
            self.norm2 = SumNorm(width, p_drop)
            self.ffn = feed_forward(ffn_width, width)
            self.norm3 = SumNorm(width, p_drop)

        def forward(self, X, memory):
            enc_out, enc_lengths, seen = memory
            before = seen[self.slot]
            seen[self.slot] = X if before is None else L.cat((before, X), dim=1)
            context = seen[self.slot]
            if self.training:
                rows, steps, _ = X.shape
                causal = L.arange(1, steps + 1, device=X.device).repeat(rows, 1)
            else:
                causal = None
            X = self.norm1(X, self.self_attn(X, context, context, causal))
            X = self.norm2(X, self.cross_attn(X, enc_out, enc_out, enc_lengths))
            return self.norm3(X, self.ffn(X)), memory

    class Stack(nn.Module):
        """Embedding, position signals and a stack of ``make(k)`` layers."""

        def __init__(self, n_tok, width, p_drop, n_layers, make):
            super().__init__()
            self.width = width
            self.embed = nn.Embedding(n_tok, width)
            self.pos = kit.Sinusoids(width, p_drop)
            self.layers = nn.Sequential()
            for k in range(n_layers):
                self.layers.add_module(f"layer{k}", make(k))

        def embedded(self, ids):
            return self.pos(self.embed(ids) * math.sqrt(self.width))

    class Encoder(Stack):
        def __init__(self, n_tok, width, ffn_width, heads, n_layers, p_drop):
            super().__init__(n_tok, width, p_drop, n_layers,
                             lambda k: EncoderLayer(width, ffn_width, heads, p_drop))

        def forward(self, ids, lengths):
            X = self.embedded(ids)
            self.maps = []
            for layer in self.layers:
                X = layer(X, lengths)
                self.maps.append(layer.attn.inner.weights)
            return X

    class Decoder(Stack):
        def __init__(self, n_tok, width, ffn_width, heads, n_layers, p_drop):
            super().__init__(n_tok, width, p_drop, n_layers,
                             lambda k: DecoderLayer(width, ffn_width, heads, p_drop, k))
            self.n_layers = n_layers
            self.head = nn.Linear(width, n_tok)

        def start(self, enc_out, enc_lengths):
            return [enc_out, enc_lengths, [None] * self.n_layers]

        def forward(self, ids, memory):
            X = self.embedded(ids)
            for layer in self.layers:
                X, memory = layer(X, memory)
            return self.head(X), memory

    L.manual_seed(16)
    V, H = 12, 8
    enc = Encoder(V, H, 16, 2, 2, 0.0)
    dec = Decoder(V, H, 16, 2, 2, 0.0)
    src, src_len = L.tensor([[3, 4, 5, 1, 1], [6, 7, 8, 9, 2]]), L.tensor([3, 5])
    tgt_in = L.tensor([[2, 5, 6, 7], [2, 8, 9, 3]])
    tgt_out, tgt_len = L.tensor([[5, 6, 7, 3], [8, 9, 3, 1]]), L.tensor([4, 3])
    lazy = [type(enc.layers[0].ffn[0].weight).__name__]
    with L.no_grad():
        dec(tgt_in, dec.start(enc(src, src_len), src_len))
    lazy += [type(enc.layers[0].ffn[0]).__name__, tuple(dec.layers[1].ffn[0].weight.shape)]
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=0.01)
    losses = []
    for _ in range(2):
        enc.train(), dec.train()
        logits, _ = dec(tgt_in, dec.start(enc(src, src_len), src_len))
        per_tok = nn.functional.cross_entropy(logits.permute(0, 2, 1), tgt_out,
                                              reduction="none")
        keep = pad_out(L, L.ones_like(tgt_out, dtype=L.float32), tgt_len)
        loss = (per_tok * keep).sum() / keep.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    enc.eval(), dec.eval()
    with L.no_grad():
        enc_out = enc(src[:1], src_len[:1])
        memory = dec.start(enc_out, src_len[:1])
        token = L.tensor([[2]])
        said = []
        for _ in range(4):
            logits, memory = dec(token, memory)
            token = logits.argmax(dim=2)
            said.append(token.squeeze(dim=0).type(L.int32).item())
    return dict(ls=losses, outs=said, cache=tuple(memory[2][0].shape),
                attn=enc.maps[1], enc_out=enc_out, lazy=lazy)


@program
def gru_encoder_decoders_with_length_masked_loss_attention_and_bleu(L):
    """Sequence to sequence with GRUs: the encoder runs over its embeddings turned
    time-major by permute; one decoder joins each target embedding with a fixed context (the
    encoder's final top-layer state repeated over the steps), the other asks additive
    attention over the encoder outputs at every step; a loss class deriving from
    nn.CrossEntropyLoss that sets reduction to 'none' inside forward and weights the steps
    by length; Glorot-uniform init of Linear weights and of GRU weights found through
    _flat_weights_names; teacher forcing with <bos> prepended by cat, clipping by hand,
    Adam; greedy decoding that stops at <eos>; BLEU from clipped n-gram counts."""
    nn = L.nn
    kit = _attention_kit(L)

    class Encoder(nn.Module):
        def __init__(self, n_tok, emb, width, depth, dropout=0):
            super().__init__()
            self.embed = nn.Embedding(n_tok, emb)
            self.rnn = nn.GRU(emb, width, depth, dropout=dropout)

        def forward(self, ids, *_):
            return self.rnn(self.embed(ids).permute(1, 0, 2))

    class ContextDecoder(nn.Module):
        def __init__(self, n_tok, emb, width, depth, dropout=0):
            super().__init__()
            self.embed = nn.Embedding(n_tok, emb)
            self.rnn = nn.GRU(emb + width, width, depth, dropout=dropout)
            self.head = nn.Linear(width, n_tok)

        def start(self, enc_result, *_):
            return enc_result[1]

        def forward(self, ids, h):
            steps = self.embed(ids).permute(1, 0, 2)
            context = h[-1].repeat(steps.shape[0], 1, 1)
            out, h = self.rnn(L.cat((steps, context), 2), h)
            return self.head(out).permute(1, 0, 2), h

    class AttendingDecoder(nn.Module):
        def __init__(self, n_tok, emb, width, depth):
            super().__init__()
            self.attend = kit.Additive(width, width, width, 0)
            self.embed = nn.Embedding(n_tok, emb)
            self.rnn = nn.GRU(emb + width, width, depth)
            self.head = nn.Linear(width, n_tok)

        def start(self, enc_result, lengths):
            memory, h = enc_result
            return (memory.permute(1, 0, 2), h, lengths)

        def forward(self, ids, state):
            memory, h, lengths = state
            outs, self.maps = [], []
            for x in self.embed(ids).permute(1, 0, 2):
                context = self.attend(L.unsqueeze(h[-1], dim=1), memory, memory, lengths)
                joined = L.cat((context, L.unsqueeze(x, dim=1)), dim=-1)
                out, h = self.rnn(joined.permute(1, 0, 2), h)
                outs.append(out)
                self.maps.append(self.attend.weights)
            return self.head(L.cat(outs, dim=0)).permute(1, 0, 2), [memory, h, lengths]

    class LengthMaskedCE(nn.CrossEntropyLoss):
        """Per-sequence mean of the token losses, the steps past each length weighted 0."""

        def forward(self, logits, target, lengths):
            keep = pad_out(L, L.ones_like(target), lengths)
            self.reduction = "none"
            per_tok = super().forward(logits.permute(0, 2, 1), target)
            return (per_tok * keep).mean(dim=1)

    def glorot(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
        elif type(m) == nn.GRU:
            for pname in m._flat_weights_names:
                if "weight" in pname:
                    nn.init.xavier_uniform_(m._parameters[pname])

    def bleu(candidate, reference, k):
        """exp(min(0, 1 - len(ref) / len(cand))) times the clipped n-gram precisions
        (n = 1..k), each raised to 0.5 ** n."""
        cand, ref = candidate.split(" "), reference.split(" ")
        score = math.exp(min(0, 1 - len(ref) / len(cand)))
        for n in range(1, k + 1):
            def grams(words):
                return collections.Counter(tuple(words[i: i + n])
                                           for i in range(len(words) - n + 1))
            hits = sum((grams(cand) & grams(ref)).values())
            score *= math.pow(hits / max(len(cand) - n + 1, 1), math.pow(0.5, n))
        return score

    V, bos, eos = 10, 1, 2
    src, src_len = L.tensor([[3, 4, 5, 2, 0], [6, 7, 2, 0, 0], [8, 9, 3, 4, 2]]), \
        L.tensor([4, 3, 5])
    tgt, tgt_len = L.tensor([[4, 5, 3, 2, 0], [7, 6, 2, 0, 0], [9, 8, 4, 3, 2]]), \
        L.tensor([4, 3, 5])
    criterion = LengthMaskedCE()
    results = {}
    for name, make_decoder in (("plain", ContextDecoder), ("attention", AttendingDecoder)):
        L.manual_seed(17)
        encoder, decoder = Encoder(V, 6, 8, 2), make_decoder(V, 6, 8, 2)
        encoder.apply(glorot)
        decoder.apply(glorot)
        both = types.SimpleNamespace(params=list(encoder.parameters()) +
                                     list(decoder.parameters()))
        opt = L.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()), lr=0.02)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            starts = L.tensor([bos] * tgt.shape[0]).reshape(-1, 1)
            shifted = L.cat([starts, tgt[:, :-1]], 1)
            logits, _ = decoder(shifted, decoder.start(encoder(src, src_len), src_len))
            loss = criterion(logits, tgt, tgt_len)
            loss.sum().backward()
            clip_global_norm(L, both, 1)
            opt.step()
            losses.append(loss.sum().item())
        encoder.eval(), decoder.eval()
        state = decoder.start(encoder(L.unsqueeze(src[0], dim=0), src_len[:1]), src_len[:1])
        token = L.unsqueeze(L.tensor([bos], dtype=L.long), dim=0)
        said = []
        for _ in range(6):
            logits, state = decoder(token, state)
            token = logits.argmax(dim=2)
            word = token.squeeze(dim=0).type(L.int32).item()
            if word == eos:
                break
            said.append(word)
        results[name] = (losses, said, logits, len(list(encoder.rnn._flat_weights_names)))
    demo = criterion(L.ones(3, 4, 10), L.ones((3, 4), dtype=L.long), L.tensor([4, 2, 0]))
    return dict(results=results, demo=demo,
                bleu=[bleu("a b c d", "a b c d", 2), bleu("a b x d e", "a b c d", 2),
                      bleu("a", "a b c", 1)])


# ----------------------------------------------------------------------------------------------
# optimisation algorithms
# ----------------------------------------------------------------------------------------------
@program
def optimisers_by_hand_against_torch_optim(L):
    """Optimisers by hand: gradient descent and Newton's method on cosh(cx) through
    autograd.grad(create_graph=True); then heavy-ball momentum, AdaGrad, RMSProp, Adadelta,
    Adam and Yogi as update rules over per-parameter slot tensors written in place under
    no_grad (a step counter for the bias corrections), fitting a linear regression by
    minibatches, each beside the torch.optim class with matching settings (SGD momentum,
    Adagrad eps 1e-6, RMSprop alpha = gamma, Adadelta rho, Adam)."""
    L.manual_seed(18)
    X, y = make_linear_data(L, L.tensor([1.5, -2.0, 0.5]), 0.3, 40)
    batches = [(X[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]

    class HandOpt:
        """``rule(p, slots, t)`` run under no_grad for each of [w, b], with ``n_slots``
        zero tensors of the parameter's shape as its memory and t counting steps from 1;
        the gradients are zeroed by step itself."""

        def __init__(self, params, n_slots, rule):
            self.params, self.rule, self.t = params, rule, 1
            self.slots = [tuple(L.zeros(shape) for _ in range(n_slots))
                          for shape in ((3, 1), 1)]

        def zero_grad(self):
            pass

        def step(self):
            for p, slots in zip(self.params, self.slots):
                with L.no_grad():
                    self.rule(p, slots, self.t)
                p.grad.data.zero_()
            self.t += 1

    def heavy_ball(p, slots, t, lr=0.05, mu=0.9):
        (v,) = slots
        v[:] = mu * v + p.grad
        p[:] -= lr * v

    def adagrad(p, slots, t, lr=0.1, eps=1e-6):
        (s,) = slots
        s[:] += L.square(p.grad)
        p[:] -= lr * p.grad / L.sqrt(s + eps)

    def rmsprop(p, slots, t, lr=0.01, gamma=0.9, eps=1e-6):
        (s,) = slots
        s[:] = gamma * s + (1 - gamma) * L.square(p.grad)
        p[:] -= lr * p.grad / L.sqrt(s + eps)

    def adadelta(p, slots, t, lr=1.0, rho=0.9, eps=1e-5):
        s, moved = slots
        s[:] = rho * s + (1 - rho) * L.square(p.grad)
        change = (L.sqrt(moved + eps) / L.sqrt(s + eps)) * p.grad
        p[:] -= lr * change
        moved[:] = rho * moved + (1 - rho) * change * change

    def adam(p, slots, t, lr=0.01, b1=0.9, b2=0.999, eps=1e-6):
        m, s = slots
        m[:] = b1 * m + (1 - b1) * p.grad
        s[:] = b2 * s + (1 - b2) * L.square(p.grad)
        p[:] -= lr * (m / (1 - b1 ** t)) / (L.sqrt(s / (1 - b2 ** t)) + eps)

    def yogi(p, slots, t, lr=0.01, b1=0.9, b2=0.999, eps=1e-3):
        m, s = slots
        g2 = L.square(p.grad)
        m[:] = b1 * m + (1 - b1) * p.grad
        s[:] = s + (1 - b2) * L.sign(g2 - s) * g2
        p[:] -= lr * (m / (1 - b1 ** t)) / (L.sqrt(s / (1 - b2 ** t)) + eps)

    def fit(make_opt):
        L.manual_seed(19)
        w = L.normal(mean=0.0, std=0.01, size=(3, 1), requires_grad=True)
        b = L.zeros((1), requires_grad=True)
        opt = make_opt([w, b])
        losses = []
        for Xb, yb in batches * 2:
            opt.zero_grad()
            loss = ((Xb @ w + b - yb) ** 2 / 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, w.detach().clone()

    def by_hand(n_slots, rule):
        return fit(lambda params: HandOpt(params, n_slots, rule))

    opt = L.optim
    runs = {
        "momentum": (by_hand(1, heavy_ball),
                     fit(lambda p: opt.SGD(p, lr=0.05, momentum=0.9))),
        "adagrad": (by_hand(1, adagrad), fit(lambda p: opt.Adagrad(p, lr=0.1, eps=1e-6))),
        "rmsprop": (by_hand(1, rmsprop),
                    fit(lambda p: opt.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6))),
        "adadelta": (by_hand(2, adadelta),
                     fit(lambda p: opt.Adadelta(p, lr=1.0, rho=0.9, eps=1e-5))),
        "adam": (by_hand(2, adam), fit(lambda p: opt.Adam(p, lr=0.01, eps=1e-6))),
        "yogi": (by_hand(2, yogi), None),
    }
    c = L.tensor(0.5)
    x = L.tensor([10.0], requires_grad=True)
    newton = []
    for _ in range(5):
        slope, = L.autograd.grad(L.cosh(c * x), x, create_graph=True)
        curve, = L.autograd.grad(slope, x)
        with L.no_grad():
            x -= slope / curve
        newton.append(x.item())
    xg = L.tensor([10.0], requires_grad=True)
    descent = []
    for _ in range(10):
        (xg ** 2).backward()
        with L.no_grad():
            xg -= 0.2 * xg.grad
        xg.grad = None
        descent.append(xg.item())
    return dict(runs=runs, newton=newton, gd=descent)


# ----------------------------------------------------------------------------------------------
# computer vision: anchor boxes and detection
# ----------------------------------------------------------------------------------------------
def corners_to_centres(L, b):
    """(x0, y0, x1, y1) rows -> (cx, cy, w, h) rows."""
    x0, y0, x1, y1 = (b[:, k] for k in range(4))
    return L.stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), axis=-1)


def centres_to_corners(L, b):
    """(cx, cy, w, h) rows -> (x0, y0, x1, y1) rows."""
    cx, cy, w, h = (b[:, k] for k in range(4))
    return L.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), axis=-1)


def pixel_anchors(L, fmap, sizes, ratios):
    """Boxes centred on every pixel of fmap's last two dims, as [0, 1] corner boxes shaped
    (1, rows * cols * k, 4), k = len(sizes) + len(ratios) - 1: each size at the first ratio,
    then the first size at each further ratio.  Widths are scaled by rows / cols, so that
    ratio 1 is square in pixels."""
    rows, cols = fmap.shape[-2:]
    dev = fmap.device
    s, r = L.tensor(sizes, device=dev), L.tensor(ratios, device=dev)
    k = len(sizes) + len(ratios) - 1
    ys = (L.arange(rows, device=dev) + 0.5) * (1.0 / rows)
    xs = (L.arange(cols, device=dev) + 0.5) * (1.0 / cols)
    cy, cx = L.meshgrid(ys, xs, indexing="ij")
    cy, cx = cy.reshape(-1), cx.reshape(-1)
    wide = L.cat((s * L.sqrt(r[0]), sizes[0] * L.sqrt(r[1:]))) * rows / cols
    tall = L.cat((s / L.sqrt(r[0]), sizes[0] / L.sqrt(r[1:])))
    spans = L.stack((-wide, -tall, wide, tall)).T.repeat(rows * cols, 1) / 2
    centres = L.stack([cx, cy, cx, cy], dim=1).repeat_interleave(k, dim=0)
    return (centres + spans).unsqueeze(0)


def pairwise_iou(L, a, b):
    """IoU of every corner box of a with every one of b, by broadcasting."""
    def area(x):
        return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])

    lo = L.max(a[:, None, :2], b[:, :2])
    hi = L.min(a[:, None, 2:], b[:, 2:])
    overlap = (hi - lo).clamp(min=0)
    inter = overlap[:, :, 0] * overlap[:, :, 1]
    return inter / (area(a)[:, None] + area(b) - inter)


def match_anchors(L, truth, anchors, device, threshold=0.5):
    """The ground-truth box matched to each anchor (-1: none).  Every anchor whose best IoU
    reaches ``threshold`` takes that box; then once per box the largest entry left in the
    IoU table fixes a pair, and that anchor's row and box's column are struck out with -1."""
    n_anc, n_box = anchors.shape[0], truth.shape[0]
    table = pairwise_iou(L, anchors, truth)
    match = L.full((n_anc,), -1, dtype=L.long, device=device)
    best, which = L.max(table, dim=1)
    good = best >= threshold
    match[L.nonzero(good).reshape(-1)] = which[good]
    struck_col, struck_row = L.full((n_anc,), -1), L.full((n_box,), -1)
    for _ in range(n_box):
        flat = L.argmax(table)
        box, anc = (flat % n_box).long(), (flat / n_box).long()
        match[anc] = box
        table[:, box] = struck_col
        table[anc, :] = struck_row
    return match


def encode_offsets(L, anchors, boxes, eps=1e-6):
    """Boxes relative to anchors: centre shifts in anchor sizes times 10, log size ratios
    times 5."""
    a, b = corners_to_centres(L, anchors), corners_to_centres(L, boxes)
    shift = 10 * (b[:, :2] - a[:, :2]) / a[:, 2:]
    scale = 5 * L.log(eps + b[:, 2:] / a[:, 2:])
    return L.cat([shift, scale], axis=1)


def decode_offsets(L, anchors, offsets):
    """The inverse of encode_offsets (eps aside), back to corner boxes."""
    a = corners_to_centres(L, anchors)
    centre = (offsets[:, :2] * a[:, 2:] / 10) + a[:, :2]
    size = L.exp(offsets[:, 2:] / 5) * a[:, 2:]
    return centres_to_corners(L, L.cat((centre, size), axis=1))


def suppress(L, boxes, scores, threshold):
    """Greedy non-maximum suppression: indices of the kept boxes, best score first."""
    order = L.argsort(scores, dim=-1, descending=True)
    kept = []
    while order.numel() > 0:
        top = order[0]
        kept.append(top)
        if order.numel() == 1:
            break
        overlap = pairwise_iou(L, boxes[top, :].reshape(-1, 4),
                               boxes[order[1:], :].reshape(-1, 4)).reshape(-1)
        survivors = L.nonzero(overlap <= threshold).reshape(-1)
        order = order[survivors + 1]
    return L.tensor(kept, device=boxes.device)


@program
def anchor_boxes_iou_matching_and_training_targets(L):
    """Anchors and their training targets: anchors per pixel by meshgrid(indexing='ij'),
    stack, .T.repeat and repeat_interleave; corner/centre conversions round-tripping; IoU
    by broadcast max/min and clamp(min=0); anchor matching with nonzero, boolean indexing,
    argmax of the whole table, % and / then long(), rows and columns overwritten by
    full(-1); targets: log-ratio offsets, the mask by unsqueeze(-1).repeat(1, 4), class ids
    shifted by one; meshgrid's refusals."""
    fmap = L.zeros((1, 3, 5, 6))
    Y = pixel_anchors(L, fmap, sizes=[0.75, 0.5, 0.25], ratios=[1, 2, 0.5])
    by_pixel = Y.reshape(5, 6, 5, 4)
    truth = L.tensor([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]])
    anchors = L.tensor([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                        [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]])

    def training_targets(anchors, labels):
        anchors = anchors.squeeze(0)
        dev, n = anchors.device, anchors.shape[0]
        offsets, masks, classes = [], [], []
        for i in range(labels.shape[0]):
            lab = labels[i, :, :]
            match = match_anchors(L, lab[:, 1:], anchors, dev)
            mask = ((match >= 0).float().unsqueeze(-1)).repeat(1, 4)
            cls = L.zeros(n, dtype=L.long, device=dev)
            target = L.zeros((n, 4), dtype=L.float32, device=dev)
            hit = L.nonzero(match >= 0)
            box_of = match[hit]
            cls[hit] = lab[box_of, 0].long() + 1
            target[hit] = lab[box_of, 1:]
            offsets.append((encode_offsets(L, anchors, target) * mask).reshape(-1))
            masks.append(mask.reshape(-1))
            classes.append(cls)
        return L.stack(offsets), L.stack(masks), L.stack(classes)

    targets = training_targets(anchors.unsqueeze(dim=0), truth.unsqueeze(dim=0))
    round_trip = centres_to_corners(L, corners_to_centres(L, anchors))
    iou = pairwise_iou(L, anchors, truth[:, 1:])
    inv = decode_offsets(L, anchors, encode_offsets(L, anchors, anchors.flip(0)))
    ticks = L.arange(5)
    mesh_errs = [err(lambda: L.meshgrid(ticks, (ticks + 0.5) / 5, indexing="ij")),
                 err(lambda: L.meshgrid(ticks[:, None], ticks.float(), indexing="ji")),
                 err(lambda: L.meshgrid(L.zeros(2, 2), L.zeros(3), indexing="ji"))]
    return dict(shape=tuple(Y.shape), first=by_pixel[2, 3, 0, :], last=Y[0, -3:],
                mesh_errs=mesh_errs,
                labels=targets, iou=iou, rt=round_trip, inv=inv,
                per_pixel=Y.shape[1] // (5 * 6),
                assigned=match_anchors(L, truth[:, 1:], anchors, "cpu", 0.3))


@program
def non_maximum_suppression_and_detections_with_a_score_threshold(L):
    """Detections from anchors: suppression by argsort(descending) and a while loop over the
    remaining order (nonzero of iou <= threshold, shifted by one), the best non-background
    class by max over rows 1:, offsets decoded, the suppressed indices found by cat and
    unique(return_counts=True) and given class -1 like the scores under a threshold (stored
    as 1 - score); rows of (class, score, box) stacked per image."""
    anchors = L.tensor([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                        [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]])
    offsets = L.tensor([0] * anchors.numel(), dtype=L.float32)
    probs = L.tensor([[0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])

    def detect(probs, offsets, anchors, nms_threshold=0.5, pos_threshold=0.009999999):
        anchors = anchors.squeeze(0)
        dev, n = probs.device, probs.shape[2]
        per_image = []
        for i in range(probs.shape[0]):
            score, cls = L.max(probs[i][1:], 0)
            boxes = decode_offsets(L, anchors, offsets[i].reshape(-1, 4))
            kept = suppress(L, boxes, score, nms_threshold)
            ids, seen = L.cat((kept, L.arange(n, dtype=L.long, device=dev))).unique(
                return_counts=True)
            dropped = ids[seen == 1]
            order = L.cat((kept, dropped))
            cls[dropped] = -1
            cls, score, boxes = cls[order], score[order], boxes[order]
            low = (score < pos_threshold)
            cls[low] = -1
            score[low] = 1 - score[low]
            per_image.append(L.cat((cls.unsqueeze(1), score.unsqueeze(1), boxes), dim=1))
        return L.stack(per_image)

    output = detect(probs.unsqueeze(dim=0), offsets.unsqueeze(dim=0), anchors.unsqueeze(dim=0),
                    nms_threshold=0.5)
    kept = [row for row in output[0].detach().numpy().tolist() if row[0] != -1]
    rng = np.random.RandomState(21)
    xy = rng.rand(12, 2).astype(np.float32) * 0.6
    boxes = L.tensor(np.concatenate([xy, xy + 0.2 + rng.rand(12, 2).astype(np.float32) * 0.2],
                                    1))
    scores = L.tensor(rng.rand(12).astype(np.float32))
    return dict(output=output, kept=kept, keep=suppress(L, boxes, scores, 0.3),
                keep_all=suppress(L, boxes, scores, 1.0),
                single=suppress(L, boxes[:1], scores[:1], 0.5))


# ----------------------------------------------------------------------------------------------
# builders' guide
# ----------------------------------------------------------------------------------------------
@program
def building_models_parameters_custom_layers_and_file_io(L):
    """Building models: a two-layer Module subclass and the same as a Sequential, a chain
    registering its children by add_module(str(k)) and running children(), a model with a
    frozen random matrix, one Linear used twice and a while loop on the output, Sequentials
    nested under names with spaces; reading parameters (state_dict()['2.bias'], .bias.data,
    named_parameters, nested indexing), initialising by apply with normal_/zeros_/uniform_
    and an in-place mask, a Linear shared by two places, a layer with no parameters and one
    with Parameters of its own, lazy layers sized by the first batch; save/load of tensors,
    a list, a dict and a state_dict through an in-memory buffer; printed models."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(20)

    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(20, 16)
            self.readout = nn.Linear(16, 10)

        def forward(self, X):
            return self.readout(F.relu(self.inner(X)))

    class Chain(nn.Module):
        def __init__(self, *parts):
            super().__init__()
            for k, part in enumerate(parts):
                self.add_module(str(k), part)

        def forward(self, X):
            for part in self.children():
                X = part(X)
            return X

    class ConstantMix(nn.Module):
        def __init__(self):
            super().__init__()
            self.frozen = L.rand((20, 20), requires_grad=False)
            self.linear = nn.Linear(20, 20)

        def forward(self, X):
            H = F.relu(L.mm(self.linear(X), self.frozen) + 1)
            H = self.linear(H)
            while H.abs().sum() > 1:
                H /= 2
            return H.sum()

    class MinusMean(nn.Module):
        def forward(self, X):
            return X - X.mean()

    class DenseReLU(nn.Module):
        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = nn.Parameter(L.randn(n_in, n_out))
            self.bias = nn.Parameter(L.randn(n_out,))

        def forward(self, X):
            return F.relu(L.matmul(X, self.weight.data) + self.bias.data)

    def small_block():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    def nested():
        outer = nn.Sequential()
        for k in range(2):
            outer.add_module(f"part {k}", small_block())
        return outer

    X = L.rand(2, 20)
    two, chain = TwoLayer(), Chain(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 10))
    mix = ConstantMix()
    seq = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    Xs = L.rand(size=(2, 4))
    deep = nn.Sequential(nested(), nn.Linear(4, 1))
    access = [seq[2].state_dict(), type(seq[2].bias).__name__, seq[2].bias.data,
              seq[2].weight.grad is None, [(n, p.shape) for n, p in seq.named_parameters()],
              seq.state_dict()["2.bias"].data, deep[0][1][0].bias.data, str(deep)]

    def tiny_normal(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, mean=0, std=0.01)
            nn.init.zeros_(m.bias)

    def spread_and_prune(m):
        if type(m) == nn.Linear:
            nn.init.uniform_(m.weight, -10, 10)
            m.weight.data *= m.weight.data.abs() >= 5

    seq.apply(tiny_normal)
    first_row = (seq[0].weight.data[0], seq[0].bias.data[0])
    seq.apply(spread_and_prune)
    seq[0].weight.data[:] += 1
    seq[0].weight.data[0, 0] = 42
    tied = nn.Linear(8, 8)
    tied_net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), tied, nn.ReLU(), tied, nn.ReLU(),
                             nn.Linear(8, 1))
    tied_net(Xs).sum().backward()
    lazy = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.LazyLinear(3))
    before = [type(p).__name__ for p in lazy.parameters()]
    lazy(Xs)
    after = [tuple(p.shape) for p in lazy.parameters()]
    centre = MinusMean()
    centred_net = nn.Sequential(nn.Linear(8, 12), MinusMean())
    own = DenseReLU(5, 3)
    buf = io.BytesIO()
    ints, zeros = L.arange(4), L.zeros(4)
    L.save([ints, zeros, {"x": ints, "y": zeros}], buf)
    buf.seek(0)
    ints2, zeros2, as_dict = L.load(buf)
    weights_buf = io.BytesIO()
    L.save(two.state_dict(), weights_buf)
    weights_buf.seek(0)
    copy_ = TwoLayer()
    copy_.load_state_dict(L.load(weights_buf))
    copy_.eval()
    return dict(mlp=two(X), myseq=chain(X), fixed=mix(X), access=access, a=first_row,
                w=seq[0].weight.data, shared=tied.weight.grad is not None,
                nshared=len(list(tied_net.parameters())), before=before, after=after,
                centered=centre(L.tensor([1.0, 2, 3, 4, 5])),
                cmean=centred_net(L.rand(4, 8)).mean().abs().item() < 1e-6,
                mylinear=(tuple(own.weight.shape), own(L.rand(2, 5))),
                loaded=(ints2, zeros2, as_dict), same=bool((copy_(X) == two(X)).all()),
                text=(str(seq), str(own), str(lazy), str(chain), repr(ints), repr(zeros2)))


@program
def preliminaries_ndarray_linear_algebra_and_probability(L):
    """A tour of tensor basics: creation (arange, reshape(-1, 4), zeros, ones, randn,
    tensor), elementwise arithmetic and exp, cat along either dim, comparisons, broadcasting
    a column against a row, slice reads and writes, a slice assignment Z[:] = ... that keeps
    the storage (data_ptr) and += that keeps the object (id), numpy interchange with
    from_numpy sharing memory, item/float/int; reductions over lists of axes with keepdims,
    cumsum(axis=0), means, dot/mv/mm, L2, L1 and Frobenius norms; a fair die sampled through
    Multinomial and running frequency estimates normalised by sum(dim=1, keepdims=True);
    numpy's axis=/keepdims= names on view, split and scan ops; shape refusals."""
    L.manual_seed(21)
    x = L.arange(12, dtype=L.float32)
    X = x.reshape(3, 4)
    created = [L.zeros((2, 3, 4)).shape, L.ones((2, 3, 4)).sum(), L.randn(3, 4),
               L.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]]), x.numel(),
               x.reshape(-1, 4).shape]
    u, v = L.tensor([1.0, 2, 4, 8]), L.tensor([2, 2, 2, 2])
    ops = [op(u, v) for op in (operator.add, operator.sub, operator.mul, operator.truediv,
                               operator.pow)] + [L.exp(u)]
    W = L.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    cats = (L.cat((X, W), dim=0), L.cat((X, W), dim=1), X == W, X.sum())
    ab = L.arange(3).reshape((3, 1)) + L.arange(2).reshape((1, 2))
    edited = X.clone()
    edited[1, 2] = 17
    edited[:2, :] = 12
    out = L.zeros_like(W)
    storage = out.data_ptr()
    out[:] = X + W
    same_storage = out.data_ptr() == storage
    identity = id(edited)
    edited += W
    inplace = id(edited) == identity
    A = X.numpy()
    B = L.from_numpy(A)
    A[0, 0] = -1.0
    shared_np = (type(A).__name__, B[0, 0].item(), float(B[0, 1]), int(B[1, 1]))
    A2 = L.arange(6, dtype=L.float32).reshape(2, 3)
    la = [A2.T, A2.sum(axis=0), A2.sum(axis=[0, 1]), A2.sum(axis=1, keepdims=True),
          A2.cumsum(axis=0), A2.mean(), A2.mean(axis=0), A2.sum() / A2.numel(),
          A2 / A2.sum(axis=1, keepdims=True), L.dot(L.arange(3.0), L.ones(3)),
          L.mv(A2, L.arange(3.0)), L.mm(A2, L.ones(3, 4)), L.norm(L.tensor([3.0, -4.0])),
          L.abs(L.tensor([3.0, -4.0])).sum(), L.norm(L.ones((4, 9))),
          A2.sum(dim=0, keepdim=True).shape, (A2.T == A2.t()).all()]
    Die = L.distributions.multinomial.Multinomial
    faces = L.ones([6]) / 6
    one, ten = Die(1, faces).sample(), Die(10, faces).sample()
    running = Die(10, faces).sample((20,)).cumsum(dim=0)
    estimates = running / running.sum(dim=1, keepdims=True)
    numpy_names = [A2.unsqueeze(axis=0).shape, A2.unsqueeze(axis=0).squeeze(axis=0).shape,
                   L.unbind(A2, axis=1), A2.chunk(2, axis=1), L.tensor_split(A2, 2, axis=1),
                   A2.diff(axis=1), L.take_along_dim(A2, A2.argsort(axis=1), axis=1),
                   A2.aminmax(axis=0, keepdims=True), A2.quantile(0.5, axis=1),
                   A2.clone().cumsum_(axis=0), L.cosine_similarity(A2, A2 + 1, axis=1)]
    errs = [err(lambda: X + L.ones(2, 4)), err(lambda: L.mv(A2, L.ones(2))),
            err(lambda: L.mm(A2, A2)), err(lambda: L.dot(L.ones(3), L.ones(3, dtype=L.long))),
            err(lambda: x.reshape(5, -1))]
    return dict(created=created, ops=ops, cats=cats, ab=ab, X2=edited, Z=out, same=same_storage,
                inplace=inplace, np=shared_np, la=la, numpy_names=numpy_names, one=one, ten=ten,
                est=estimates[-1],
                errs=errs)


# ----------------------------------------------------------------------------------------------
# natural language processing
# ----------------------------------------------------------------------------------------------
@program
def skip_gram_negative_sampling_with_masked_sigmoid_bce_and_similar_tokens(L):
    """Word vectors by skip-gram with negative sampling: frequent tokens dropped with
    probability 1 - sqrt(t / f) (Python's random, seeded), random context windows and noise
    ids, a Dataset subclass read by a DataLoader whose collate_fn pads context + noise to
    one length with masks and labels; scores of centre and candidate embeddings by bmm
    with permute(0, 2, 1); a Module loss calling binary_cross_entropy_with_logits(weight=
    mask, reduction='none').mean(dim=1), rescaled by mask.shape[1] / mask.sum(axis=1);
    Adam; the tokens nearest by cosine similarity via topk."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data
    rng = random.Random(5)
    sentences = [["a", "b", "c", "d", "e"], ["b", "c", "f"], ["a", "e", "f", "g", "b"],
                 ["c", "d", "g", "a"]]
    table = TokenTable(sentences)
    freq = collections.Counter(itertools.chain.from_iterable(sentences))
    total = sum(freq.values())

    def kept(tok):
        return rng.uniform(0, 1) < math.sqrt(1e-1 / freq[tok] * total)

    thinned = [[tok for tok in s if kept(tok)] for s in sentences]
    centres, windows = [], []
    for ids in [table[s] for s in sentences]:
        for pos, centre in enumerate(ids):
            half = rng.randint(1, 2)
            lo, hi = max(0, pos - half), min(len(ids), pos + 1 + half)
            centres.append(centre)
            windows.append(ids[lo:pos] + ids[pos + 1:hi])
    noise = [[rng.randint(1, len(table) - 1) for _ in range(2 * len(w))] for w in windows]

    def collate(items):
        width = max(len(ctx) + len(neg) for _, ctx, neg in items)
        rows = [(ctx + neg, len(ctx)) for _, ctx, neg in items]
        cands = [r + [0] * (width - len(r)) for r, _ in rows]
        masks = [[1] * len(r) + [0] * (width - len(r)) for r, _ in rows]
        labels = [[1] * n + [0] * (width - n) for _, n in rows]
        return (L.tensor([c for c, _, _ in items]).reshape((-1, 1)), L.tensor(cands),
                L.tensor(masks), L.tensor(labels))

    class Columns(data.Dataset):
        def __init__(self, *columns):
            assert len({len(c) for c in columns}) == 1
            self.columns = columns

        def __getitem__(self, i):
            return tuple(c[i] for c in self.columns)

        def __len__(self):
            return len(self.columns[0])

    loader = data.DataLoader(Columns(centres, windows, noise), batch_size=5, shuffle=False,
                             collate_fn=collate)

    def pair_scores(centre, cands, centre_emb, ctx_emb):
        return L.bmm(centre_emb(centre), ctx_emb(cands).permute(0, 2, 1))

    class MaskedLogistic(nn.Module):
        def forward(self, logits, target, mask=None):
            return F.binary_cross_entropy_with_logits(logits, target, weight=mask,
                                                      reduction="none").mean(dim=1)

    criterion = MaskedLogistic()
    L.manual_seed(22)
    embs = nn.Sequential(nn.Embedding(num_embeddings=len(table), embedding_dim=6),
                         nn.Embedding(num_embeddings=len(table), embedding_dim=6))
    opt = L.optim.Adam(embs.parameters(), lr=0.01)
    losses, shapes = [], []
    for _ in range(2):
        for centre, cands, mask, label in loader:
            opt.zero_grad()
            scores = pair_scores(centre, cands, embs[0], embs[1])
            loss = (criterion(scores.reshape(label.shape).float(), label.float(), mask)
                    / mask.sum(axis=1) * mask.shape[1])
            loss.sum().backward()
            opt.step()
            losses.append(loss.sum().item())
            shapes.append(tuple(cands.shape))
    W = embs[0].weight.data
    q = W[table["a"]]
    cos = L.mv(W, q) / L.sqrt(L.sum(W * W, dim=1) * L.sum(q * q) + 1e-9)
    nearest = L.topk(cos, k=3)[1].cpu().numpy().astype("int32")
    demo = criterion(L.tensor([[1.1, -2.2, 3.3, -4.4]] * 2),
                     L.tensor([[1.0, 0.0, 0.0, 0.0]] * 2),
                     L.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]))
    return dict(ls=losses, shapes=shapes, topk=nearest, cos=cos, demo=demo,
                sub=thinned, emb=tuple(pair_scores(L.ones((2, 1), dtype=L.long),
                                                   L.ones((2, 4), dtype=L.long),
                                                   embs[0], embs[1]).shape))


@program
def bert_inputs_encoder_masked_lm_and_next_sentence_heads(L):
    """A BERT-style model at toy size: sentence pairs wrapped in <cls>/<sep> with segment ids
    0/1, token + segment embeddings plus a learned position Parameter (1, max_len, H) and
    nn.TransformerEncoderLayer layers masked by a key padding mask from the lengths; a
    masked-token head picking the states at given positions with a batch index from
    arange().repeat_interleave (Linear/ReLU/LayerNorm/Linear), a next-sentence head on the
    <cls> state through a Tanh layer; the pretraining loss with per-position weights
    reshaped to (-1, 1) and divided by their sum plus 1e-8; two Adam steps."""
    nn = L.nn

    def with_markers(first, second=None):
        toks, segs = ["<cls>", *first, "<sep>"], [0] * (len(first) + 2)
        if second is not None:
            toks += [*second, "<sep>"]
            segs += [1] * (len(second) + 1)
        return toks, segs

    class Encoder(nn.Module):
        def __init__(self, n_tok, width, ffn_width, heads, n_layers, p_drop, longest=32):
            super().__init__()
            self.tok = nn.Embedding(n_tok, width)
            self.seg = nn.Embedding(2, width)
            self.layers = nn.Sequential()
            for k in range(n_layers):
                self.layers.add_module(f"{k}", nn.TransformerEncoderLayer(
                    width, heads, ffn_width, p_drop, batch_first=True))
            self.pos = nn.Parameter(L.randn(1, longest, width))

        def forward(self, ids, segs, lengths):
            X = self.tok(ids) + self.seg(segs)
            X = X + self.pos[:, :X.shape[1], :]
            ignored = L.arange(X.shape[1])[None, :] >= lengths[:, None]
            for layer in self.layers:
                X = layer(X, src_key_padding_mask=ignored)
            return X

    class MaskedTokenHead(nn.Module):
        def __init__(self, n_tok, width):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.LayerNorm(width),
                                     nn.Linear(width, n_tok))

        def forward(self, X, positions):
            rows, per_row = X.shape[0], positions.shape[1]
            which = L.repeat_interleave(L.arange(0, rows), per_row)
            picked = X[which, positions.reshape(-1)]
            return self.mlp(picked.reshape((rows, per_row, -1)))

    first, second = ["this", "movie", "is", "great"], ["i", "like", "it"]
    toks, segs = with_markers(first, second)
    table = TokenTable([toks, ["other", "words"]],
                       reserved=["<pad>", "<mask>", "<cls>", "<sep>"])
    L.manual_seed(23)
    H = 8
    encoder = Encoder(len(table), H, 16, 2, 2, 0.0)
    pooler = nn.Sequential(nn.Linear(H, H), nn.Tanh())
    token_head, pair_head = MaskedTokenHead(len(table), H), nn.Linear(H, 2)
    pad = table["<pad>"]
    seqs = [table[toks], table[with_markers(second)[0]]]
    longest = 12
    ids = L.tensor([s + [pad] * (longest - len(s)) for s in seqs])
    seg_ids = L.tensor([segs + [0] * (longest - len(segs)), [0] * longest])
    lengths = L.tensor([len(s) for s in seqs], dtype=L.float32)
    positions = L.tensor([[1, 5, 2], [6, 1, 5]])
    weights = L.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    masked_true = L.tensor([[7, 8, 9], [0, 10, 11]])
    pair_true = L.tensor([1, 0])
    ce = nn.CrossEntropyLoss(reduction="none")
    params = (list(encoder.parameters()) + list(pooler.parameters()) +
              list(token_head.parameters()) + list(pair_head.parameters()))
    opt = L.optim.Adam(params, lr=0.01)
    losses = []
    for _ in range(2):
        opt.zero_grad()
        states = encoder(ids, seg_ids, lengths)
        token_logits = token_head(states, positions)
        pair_logits = pair_head(pooler(states[:, 0, :]))
        token_loss = ce(token_logits.reshape(-1, len(table)), masked_true.reshape(-1)) * \
            weights.reshape(-1, 1)
        token_loss = token_loss.sum() / (weights.sum() + 1e-8)
        pair_loss = ce(pair_logits, pair_true).mean()
        (token_loss + pair_loss).backward()
        opt.step()
        losses.append((token_loss.item(), pair_loss.item()))
    encoder.eval()
    with L.no_grad():
        states = encoder(ids, seg_ids, lengths)
    return dict(toks=toks, segs=segs, ls=losses, cls=states[:, 0, :],
                mlm_shape=tuple(token_logits.shape), nsp=pair_logits.shape,
                pos_grad=encoder.pos.grad[0, :3, :3])


@program
def conv_and_birnn_sentence_classifiers_over_frozen_embeddings(L):
    """Sentence classifiers over pretrained vectors: embeddings filled by weight.data.copy_
    and frozen with requires_grad = False (the convolutional model also keeping a second,
    trainable copy), Conv1d over channels after permute(0, 2, 1), AdaptiveAvgPool1d(1)
    squeezed, each kernel width's features joined by cat, dropout; a bidirectional LSTM
    over inputs.T whose first and last steps are joined for the classifier; Adam given only
    the parameters that require grad (filter)."""
    nn = L.nn
    L.manual_seed(24)
    V, E = 10, 6
    pretrained = L.tensor(_f32(V, E, seed=25))

    class ConvReader(nn.Module):
        def __init__(self, n_tok, dim, widths, channels):
            super().__init__()
            self.emb = nn.Embedding(n_tok, dim)
            self.fixed_emb = nn.Embedding(n_tok, dim)
            self.drop = nn.Dropout(0.5)
            self.out = nn.Linear(sum(channels), 2)
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.relu = nn.ReLU()
            self.convs = nn.ModuleList()
            for c, k in zip(channels, widths):
                self.convs.append(nn.Conv1d(2 * dim, c, k))

        def forward(self, ids):
            both = L.cat((self.emb(ids), self.fixed_emb(ids)), dim=2).permute(0, 2, 1)
            feats = [L.squeeze(self.relu(self.pool(conv(both))), dim=-1) for conv in self.convs]
            return self.out(self.drop(L.cat(feats, dim=1)))

    class RecurrentReader(nn.Module):
        def __init__(self, n_tok, dim, width, depth):
            super().__init__()
            self.emb = nn.Embedding(n_tok, dim)
            self.lstm = nn.LSTM(dim, width, num_layers=depth, bidirectional=True)
            self.out = nn.Linear(4 * width, 2)

        def forward(self, ids):
            steps = self.emb(ids.T)
            self.lstm.flatten_parameters()
            steps, _ = self.lstm(steps)
            return self.out(L.cat((steps[0], steps[-1]), dim=1))

    def glorot(m):
        if type(m) in (nn.Linear, nn.Conv1d):
            nn.init.xavier_uniform_(m.weight)
        elif type(m) == nn.LSTM:
            for pname in m._flat_weights_names:
                if "weight" in pname:
                    nn.init.xavier_uniform_(m._parameters[pname])

    X = L.tensor(np.random.RandomState(26).randint(0, V, (4, 7)))
    y = L.tensor([0, 1, 1, 0])
    out = {}
    models = (("cnn", ConvReader(V, E, [2, 3], [3, 4])), ("rnn", RecurrentReader(V, E, 5, 2)))
    for name, model in models:
        model.apply(glorot)
        model.emb.weight.data.copy_(pretrained)
        model.emb.weight.requires_grad = False
        if name == "cnn":
            model.fixed_emb.weight.data.copy_(pretrained)
        opt = L.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=0.01)
        losses = []
        for _ in range(3):
            model.train()
            opt.zero_grad()
            L.manual_seed(3)
            loss = nn.functional.cross_entropy(model(X), y, reduction="none")
            loss.sum().backward()
            opt.step()
            losses.append(loss.sum().item())
        model.eval()
        out[name] = (losses, model(X).argmax(dim=1), model.emb.weight.grad,
                     len(opt.param_groups[0]["params"]))
    return out


# ----------------------------------------------------------------------------------------------
# recommender systems, GANs, Gaussian processes
# ----------------------------------------------------------------------------------------------
@program
def recommender_mf_autorec_neumf_fm_with_bpr_and_hinge_losses(L):
    """Recommenders: ratings as a dot product of user and item embeddings plus per-user
    and per-item offsets (flatten, sum over axis 1, RMSE as sqrt of the MSE); an
    autoencoder over the item-by-user rating matrix whose reconstruction counts only the
    observed entries (sign of the input) in training; an elementwise-product tower beside an
    MLP tower joined by cat under a sigmoid, trained on the pairwise ranking loss
    -sum(log(sigmoid(pos - neg))) plus a margin loss max(1 - pos + neg, 0); a second-order
    factorisation machine with per-field offsets (0.5 * ((sum v)^2 - sum v^2)) under BCE;
    hit rate and an AUC from the rank."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(27)
    n_users, n_items = 6, 8
    rng = np.random.RandomState(28)
    users = L.tensor(rng.randint(0, n_users, 16))
    items = L.tensor(rng.randint(0, n_items, 16))
    ratings = L.tensor(rng.randint(1, 6, 16).astype(np.float32))

    class Factorised(nn.Module):
        def __init__(self, k, n_users, n_items):
            super().__init__()
            self.user_vec, self.item_vec = nn.Embedding(n_users, k), nn.Embedding(n_items, k)
            self.user_off, self.item_off = nn.Embedding(n_users, 1), nn.Embedding(n_items, 1)

        def forward(self, u, i):
            dot = (self.user_vec(u) * self.item_vec(i)).sum(axis=1)
            return (dot + L.squeeze(self.user_off(u)) + L.squeeze(self.item_off(i))).flatten()

    class Reconstructor(nn.Module):
        def __init__(self, width, n_users, p_drop=0.05):
            super().__init__()
            self.enc = nn.Linear(n_users, width)
            self.dec = nn.Linear(width, n_users)
            self.drop = nn.Dropout(p_drop)

        def forward(self, ratings):
            rebuilt = self.dec(self.drop(L.sigmoid(self.enc(ratings))))
            return rebuilt * L.sign(ratings) if self.training else rebuilt

    class TwoTower(nn.Module):
        def __init__(self, k, n_users, n_items, widths):
            super().__init__()
            self.prod_user, self.prod_item = nn.Embedding(n_users, k), nn.Embedding(n_items, k)
            self.mlp_user, self.mlp_item = nn.Embedding(n_users, k), nn.Embedding(n_items, k)
            dims = [2 * k, *widths]
            self.mlp = nn.Sequential(*[m for a, b in zip(dims, dims[1:])
                                       for m in (nn.Linear(a, b), nn.ReLU())])
            self.readout = nn.Linear(k + dims[-1], 1, bias=False)

        def forward(self, u, i):
            towers = [self.prod_user(u) * self.prod_item(i),
                      self.mlp(L.cat([self.mlp_user(u), self.mlp_item(i)], dim=1))]
            return L.sigmoid(self.readout(L.cat(towers, dim=1)))

    def fit(model, opt, loss_of, steps, reseed=False):
        model.train()
        values = []
        for _ in range(steps):
            opt.zero_grad()
            if reseed:
                L.manual_seed(1)
            loss = loss_of()
            loss.backward()
            opt.step()
            values.append(loss.item())
        return values

    factorised = Factorised(3, n_users, n_items)
    rmse = [math.sqrt(v) for v in fit(
        factorised, L.optim.Adam(factorised.parameters(), lr=0.05, weight_decay=1e-5),
        lambda: F.mse_loss(factorised(users, items), ratings), 4)]
    matrix = L.zeros((n_items, n_users))
    matrix[items, users] = ratings
    auto = Reconstructor(4, n_users)
    auto_ls = fit(auto, L.optim.SGD(auto.parameters(), lr=0.1, weight_decay=1e-4),
                  lambda: ((auto(matrix) - matrix) ** 2).sum() / 2, 3, reseed=True)
    auto.eval()
    seen = L.sign(matrix)
    rmse_auto = L.sqrt(L.sum((auto(matrix) * seen - matrix) ** 2) / seen.sum())
    towers = TwoTower(3, n_users, n_items, [6, 4])
    opt = L.optim.Adam(towers.parameters(), lr=0.01)
    other = (items + 3) % n_items
    ranking, margin = [], []
    for _ in range(3):
        opt.zero_grad()
        pos, neg = towers(users, items), towers(users, other)
        rank_loss = -L.sum(L.log(L.sigmoid(pos - neg)))
        margin_loss = L.sum(L.maximum(-pos + neg + 1.0, L.zeros_like(pos)))
        (rank_loss + margin_loss).backward()
        opt.step()
        ranking.append(rank_loss.item())
        margin.append(margin_loss.item())
    with L.no_grad():
        for_user0 = towers(L.zeros(n_items, dtype=L.long), L.arange(n_items)).reshape(-1)
    order = L.argsort(for_user0, descending=True)
    hit = int(items[0] in order[:3].tolist())
    place = (order == items[0]).nonzero()[0, 0].item()
    auc = (n_items - 1 - place) / (n_items - 1)
    fields = [n_users, n_items]
    starts = L.tensor((0, *np.cumsum(fields)[:-1]), dtype=L.long)
    factors = nn.Embedding(sum(fields), 3)
    weights = nn.Embedding(sum(fields), 1)
    bias = nn.Parameter(L.zeros((1,)))
    ids = L.stack([users, items], dim=1) + starts
    pairwise = 0.5 * (L.sum(factors(ids), dim=1) ** 2 -
                      L.sum(factors(ids) ** 2, dim=1)).sum(1, keepdim=True)
    logit = bias + weights(ids).sum(1) + pairwise
    fm_loss = F.binary_cross_entropy(L.sigmoid(logit).squeeze(1), (ratings > 3).float())
    fm_loss.backward()
    return dict(rmse=rmse, ar=auto_ls, rmse_ar=rmse_auto, bpr=ranking, hinge=margin, hit=hit,
                auc=auc, inter=matrix, fm=fm_loss, fm_grad=factors.weight.grad,
                mf=factorised(users, items)[:4])


@program
def gan_on_a_gaussian_and_dcgan_blocks(L):
    """Adversarial training on a 2-d Gaussian made by matmul(X, A) + b: a Linear generator
    and a Tanh MLP critic, all weights redrawn by normal_(0, 0.02); the critic's step on
    BCEWithLogitsLoss(reduction='sum') against targets of ones(batch) / zeros(batch) with
    the fake batch detached, the generator's step through the critic, Adam for both; then
    convolutional generator and critic blocks (ConvTranspose2d or Conv2d, BatchNorm2d, ReLU
    or LeakyReLU(0.2, inplace=True)) with their shapes and a backward."""
    nn = L.nn
    L.manual_seed(29)
    X = L.normal(0.0, 1, (40, 2))
    A = L.tensor([[1, 2], [-0.1, 0.5]])
    b = L.tensor([1, 2])
    real_data = L.matmul(X, A) + b
    maker = nn.Sequential(nn.Linear(2, 2))
    critic = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(),
                           nn.Linear(3, 1))
    for model in (critic, maker):
        for w in model.parameters():
            nn.init.normal_(w, 0, 0.02)
    bce = nn.BCEWithLogitsLoss(reduction="sum")
    opt_c = L.optim.Adam(critic.parameters(), lr=0.05)
    opt_m = L.optim.Adam(maker.parameters(), lr=0.005)

    def targets(scores, fill, like):
        return fill((like.shape[0],), device=like.device).reshape(scores.shape)

    def critic_step(real, z):
        opt_c.zero_grad()
        on_real = critic(real)
        on_fake = critic(maker(z).detach())
        loss = (bce(on_real, targets(on_real, L.ones, real)) +
                bce(on_fake, targets(on_fake, L.zeros, real))) / 2
        loss.backward()
        opt_c.step()
        return loss

    def maker_step(z):
        opt_m.zero_grad()
        on_fake = critic(maker(z))
        loss = bce(on_fake, targets(on_fake, L.ones, z))
        loss.backward()
        opt_m.step()
        return loss

    hist = []
    for _ in range(3):
        for start in range(0, 40, 10):
            z = L.normal(0, 1, size=(10, 2))
            hist.append((critic_step(real_data[start:start + 10], z).item(),
                         maker_step(z).item()))
    fake = maker(L.normal(0, 1, size=(5, 2))).detach()

    def up_block(c_out, c_in=3, k=4, stride=2, pad=1):
        return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, k, stride, pad, bias=False),
                             nn.BatchNorm2d(c_out), nn.ReLU())

    def down_block(c_out, c_in=3, k=4, stride=2, pad=1, slope=0.2):
        return nn.Sequential(nn.Conv2d(c_in, c_out, k, stride, pad, bias=False),
                             nn.BatchNorm2d(c_out), nn.LeakyReLU(slope, inplace=True))

    x = L.zeros((2, 3, 4, 4))
    up = up_block(5)
    up1 = up_block(4, c_in=3, stride=1, pad=0)
    down = down_block(5)
    Zc = L.tensor(_f32(2, 3, 1, 1, seed=30))
    gen = nn.Sequential(up_block(4, c_in=3, stride=1, pad=0), up_block(2, 4),
                        nn.ConvTranspose2d(2, 3, 4, 2, 1, bias=False), nn.Tanh())
    disc = nn.Sequential(down_block(4), down_block(6, 4), nn.Conv2d(6, 1, 4, bias=False))
    img = gen(Zc)
    score = disc(img)
    score.sum().backward()
    return dict(hist=hist, fake=fake, G=maker[0].weight, shapes=(tuple(up(x).shape),
                tuple(up1(L.zeros((2, 3, 1, 1))).shape),
                tuple(down(L.zeros(2, 3, 16, 16)).shape)),
                img=img, score=score, ggrad=gen[0][0].weight.grad.sum(),
                lrelu=nn.LeakyReLU(0.2)(L.tensor([-2.0, 3.0])))


@program
def gaussian_process_regression_with_rbf_kernel_and_marginal_likelihood(L):
    """Gaussian-process regression in float64: a squared-exponential kernel from cdist
    distances, the predictive mean and covariance through a Cholesky factor (cholesky,
    cholesky_solve, linalg.solve_triangular), standard deviations from the clamped
    diagonal, prior draws as factor @ normal; the negative log marginal likelihood (half the
    data fit plus the log of the factor's diagonal) minimised by Adam over log length
    scale, log amplitude and log noise; logdet against twice the log-diagonal sum, a
    MultivariateNormal log_prob, and solve_triangular's argument refusals."""
    L.manual_seed(31)
    xs = L.linspace(0, 5, 12, dtype=L.float64)
    ys = L.sin(xs) + 0.2 * L.sin(4 * xs) + L.normal(0, 0.1, (12,),
                                                                      dtype=L.float64)
    grid = L.linspace(0, 5, 7, dtype=L.float64)

    def sq_exp(x1, x2, ls=1.0, amp=1.0):
        dist = L.cdist(x1.reshape(-1, 1), x2.reshape(-1, 1)) ** 2
        return amp ** 2 * L.exp(-dist / (2 * ls ** 2))

    def predictive(ls, amp, noise):
        K = sq_exp(xs, xs, ls, amp) + noise * L.eye(12, dtype=L.float64)
        chol = L.linalg.cholesky(K)
        weights = L.cholesky_solve(ys.reshape(-1, 1), chol)
        K_s = sq_exp(xs, grid, ls, amp)
        mean = (K_s.T @ weights).reshape(-1)
        v = L.linalg.solve_triangular(chol, K_s, upper=False)
        cov = sq_exp(grid, grid, ls, amp) - v.T @ v
        return mean, cov, chol, weights

    mean, cov, chol, weights = predictive(1.0, 1.0, 0.01)
    std = L.sqrt(L.clamp(L.diag(cov), min=0))
    prior_K = sq_exp(grid, grid, 0.5, 1.0) + 1e-6 * L.eye(7, dtype=L.float64)
    prior_samples = L.linalg.cholesky(prior_K) @ L.normal(0, 1, (7, 3), dtype=L.float64)
    log_ls = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_amp = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_noise = L.tensor(-2.0, dtype=L.float64, requires_grad=True)
    opt = L.optim.Adam([log_ls, log_amp, log_noise], lr=0.05)
    nlls = []
    for _ in range(5):
        opt.zero_grad()
        K = sq_exp(xs, xs, log_ls.exp(), log_amp.exp()) + \
            log_noise.exp() * L.eye(12, dtype=L.float64)
        chol_k = L.linalg.cholesky(K)
        a = L.cholesky_solve(ys.reshape(-1, 1), chol_k)
        nll = 0.5 * (ys.reshape(1, -1) @ a).squeeze() + L.log(L.diagonal(chol_k)).sum() + \
            6 * math.log(2 * math.pi)
        nll.backward()
        opt.step()
        nlls.append(nll.item())
    K = sq_exp(xs, xs, 1.0, 1.0) + 0.01 * L.eye(12, dtype=L.float64)
    y2 = ys.reshape(-1, 1)
    tri_errs = [err(lambda: L.linalg.solve_triangular(chol, y2)),
                err(lambda: L.linalg.solve_triangular(chol, y2, False)),
                err(lambda: L.linalg.solve_triangular(chol, y2, upper=0)),
                err(lambda: L.linalg.solve_triangular(chol, y2, upper=False, left=None)),
                err(lambda: L.linalg.solve_triangular(chol, upper=False))]
    return dict(mean=mean, tri_errs=tri_errs, std=std, prior=prior_samples, nlls=nlls,
                hyper=(log_ls, log_amp, log_noise),
                logdet=(L.logdet(K), 2 * L.log(L.diagonal(L.linalg.cholesky(K))).sum()),
                mvn=L.distributions.MultivariateNormal(mean, cov + 1e-6 * L.eye(
                    7, dtype=L.float64)).log_prob(L.zeros(7, dtype=L.float64)))


# ----------------------------------------------------------------------------------------------
# computer vision: transposed convolution, segmentation, style transfer, SSD, fine-tuning
# ----------------------------------------------------------------------------------------------
@program
def transposed_convolution_from_scratch_and_fcn_bilinear_upsampling(L):
    """Transposed convolution by hand (every input entry adds a scaled copy of the kernel
    to the output) checked against nn.ConvTranspose2d given the kernel through weight.data
    (plain, padded, strided; several channels undoing a Conv2d's shape); convolution as a
    (4, 9) matrix on the flattened input and its transpose as the transposed convolution;
    bilinear-upsampling weights (a tent filter on the channel diagonal, set by indexing
    with two ranges) copied into a ConvTranspose2d(kernel 16, stride 8) that enlarges an
    image 8x, a 1x1 conv in front for a per-pixel classifier, argmax(dim=1) labels."""
    nn = L.nn

    def scatter_conv(X, K):
        kh, kw = K.shape
        out = L.zeros((X.shape[0] + kh - 1, X.shape[1] + kw - 1))
        for r, c in itertools.product(range(X.shape[0]), range(X.shape[1])):
            out[r: r + kh, c: c + kw] += X[r, c] * K
        return out

    X = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    K = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    by_hand = scatter_conv(X, K)
    Xb, Kb = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)

    def with_kernel(**options):
        layer = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False, **options)
        layer.weight.data = Kb
        return layer(Xb)

    plain, padded, strided = with_kernel(), with_kernel(padding=1), with_kernel(stride=2)
    L.manual_seed(32)
    X4 = L.rand(size=(1, 4, 8, 8))
    down = nn.Conv2d(4, 6, kernel_size=5, padding=2, stride=3)
    back = nn.ConvTranspose2d(6, 4, kernel_size=5, padding=2, stride=3)
    inverse_shape = tuple(back(down(X4)).shape)

    def as_matrix(K):
        row, W = L.zeros(5), L.zeros((4, 9))
        row[:2], row[3:5] = K[0, :], K[1, :]
        for r, start in enumerate((0, 1, 3, 4)):
            W[r, start:start + 5] = row
        return W

    X3 = L.arange(9.0).reshape(3, 3)
    W = as_matrix(K)
    Y = slide_dot(L, X3, K)
    mat = (Y == L.matmul(W, X3.reshape(-1)).reshape(2, 2)).all()
    mat_t = (scatter_conv(Y, K) == L.matmul(W.T, Y.reshape(-1)).reshape(3, 3)).all()

    def bilinear(c_in, c_out, size):
        half = (size + 1) // 2
        mid = half - 1 if size % 2 == 1 else half - 0.5
        ramp = L.arange(size)
        tent = ((1 - L.abs(ramp.reshape(-1, 1) - mid) / half) *
                (1 - L.abs(ramp.reshape(1, -1) - mid) / half))
        weight = L.zeros((c_in, c_out, size, size))
        weight[range(c_in), range(c_out), :, :] = tent
        return weight

    up = nn.ConvTranspose2d(3, 3, kernel_size=16, padding=4, stride=8, bias=False)
    up.weight.data.copy_(bilinear(3, 3, 16))
    img = L.tensor(_f32(1, 3, 4, 5, seed=33))
    big = up(img)
    head = nn.Sequential(nn.Conv2d(3, 5, kernel_size=1), nn.ConvTranspose2d(
        5, 5, kernel_size=16, padding=4, stride=8))
    head[1].weight.data.copy_(bilinear(5, 5, 16))
    logits = head(img)
    pixel_labels = L.tensor(np.random.RandomState(34).randint(0, 5, (1, 32, 40)))
    seg_loss = nn.functional.cross_entropy(logits, pixel_labels,
                                           reduction="none").mean(1).mean(1)
    seg_loss.sum().backward()
    return dict(scratch=by_hand, t1=plain, t2=padded, t3=strided, inverse=inverse_shape,
                mat=mat, mat_t=mat_t, kernel=bilinear(1, 1, 4), big=big[0, :, 10:14, 10:14],
                big_shape=tuple(big.shape), pred=logits.argmax(dim=1)[0, ::8, ::8],
                seg_loss=seg_loss, grad=head[0].weight.grad.reshape(-1))


@program
def neural_style_transfer_with_gram_matrices_and_tv_loss(L):
    """Style transfer at toy size: activations of chosen layers of a frozen conv net (eval,
    requires_grad_(False)) collected by a loop, Gram matrices X X^T / (c * hw) of the
    reshaped maps, a content loss (mean squared error to a detached target), a style loss
    between Gram matrices and a total-variation loss (mean absolute neighbour differences),
    weighted and summed; the image being optimised a Module holding one Parameter filled by
    copy_, Adam with StepLR; per-channel normalisation and its inverse with clamp(0, 1)."""
    nn = L.nn
    L.manual_seed(35)
    mean = L.tensor([0.485, 0.456, 0.406])
    std = L.tensor([0.229, 0.224, 0.225])
    features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                             nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
    features.eval()
    for p in features.parameters():
        p.requires_grad_(False)
    style_at, content_at = [0, 3], [5]

    def to_input(img):
        return ((img - mean.reshape(3, 1, 1)) / std.reshape(3, 1, 1)).unsqueeze(0)

    def to_image(batch):
        return L.clamp(batch[0].permute(1, 2, 0) * std + mean, 0, 1).permute(2, 0, 1)

    def taps(X):
        """The activations after the content layers and after the style layers."""
        content, style = [], []
        for k, layer in enumerate(features):
            X = layer(X)
            if k in style_at:
                style.append(X)
            if k in content_at:
                content.append(X)
        return content, style

    def gram(X):
        c = X.shape[1]
        flat = X.reshape((c, X.numel() // c))
        return L.matmul(flat, flat.T) / (c * flat.shape[1])

    def variation(img):
        return 0.5 * (L.abs(img[:, :, 1:, :] - img[:, :, :-1, :]).mean() +
                      L.abs(img[:, :, :, 1:] - img[:, :, :, :-1]).mean())

    class Canvas(nn.Module):
        def __init__(self, shape):
            super().__init__()
            self.weight = nn.Parameter(L.rand(*shape))

        def forward(self):
            return self.weight

    content_img = L.tensor(np.random.RandomState(36).rand(3, 8, 8).astype(np.float32))
    style_img = L.tensor(np.random.RandomState(37).rand(3, 8, 8).astype(np.float32))
    start = to_input(content_img)
    content_target, _ = taps(start)
    _, style_maps = taps(to_input(style_img))
    canvas = Canvas(start.shape)
    canvas.weight.data.copy_(start.data)
    opt = L.optim.Adam(canvas.parameters(), lr=0.3)
    sched = L.optim.lr_scheduler.StepLR(opt, 2, 0.8)
    style_target = [gram(Y) for Y in style_maps]
    hist = []
    for _ in range(4):
        opt.zero_grad()
        X = canvas()
        content_now, style_now = taps(X)
        content_l = [L.square(a - b.detach()).mean() * 1
                     for a, b in zip(content_now, content_target)]
        style_l = [L.square(gram(a) - g.detach()).mean() * 1e3
                   for a, g in zip(style_now, style_target)]
        tv_l = variation(X) * 10
        total = sum(10 * style_l + content_l + [tv_l])
        total.backward()
        opt.step()
        sched.step()
        hist.append((float(sum(content_l)), float(sum(style_l)), float(tv_l),
                     sched.get_last_lr()[0]))
    return dict(hist=hist, img=to_image(canvas.weight.detach())[:, :2, :2],
                grams=style_target[1], frozen=features[0].weight.grad is None)


@program
def single_shot_detector_heads_down_sampling_and_joined_predictions(L):
    """A single-shot detector at toy size: per scale a body (two conv/BN/ReLU layers and
    MaxPool2d(2), or AdaptiveMaxPool2d((1, 1)) last) and 3x3 conv heads for classes and box
    offsets, each head's map turned to per-pixel rows by permute(0, 2, 3, 1) and
    flatten(start_dim=1) and the scales joined by cat, anchors per scale; the loss is
    CrossEntropyLoss(reduction='none') averaged per image plus L1Loss on masked offsets,
    SGD with weight decay; the count of right classes and the masked absolute box error."""
    nn = L.nn
    sizes = [[0.2, 0.272], [0.37, 0.447], [0.54, 0.619]]
    ratios = [[1, 2, 0.5]] * 3
    per_px = len(sizes[0]) + len(ratios[0]) - 1

    def per_pixel_rows(fmap):
        return L.flatten(fmap.permute(0, 2, 3, 1), start_dim=1)

    def join(fmaps):
        return L.cat([per_pixel_rows(f) for f in fmaps], dim=1)

    def halving(c_in, c_out):
        layers = []
        for c in (c_in, c_out):
            layers += [nn.Conv2d(c, c_out, kernel_size=3, padding=1), nn.BatchNorm2d(c_out),
                       nn.ReLU()]
        return nn.Sequential(*layers, nn.MaxPool2d(2))

    class Scale(nn.Module):
        def __init__(self, body, ch, n_cls):
            super().__init__()
            self.body = body
            self.cls_head = nn.Conv2d(ch, per_px * (n_cls + 1), kernel_size=3, padding=1)
            self.box_head = nn.Conv2d(ch, per_px * 4, kernel_size=3, padding=1)

    class Detector(nn.Module):
        def __init__(self, n_cls):
            super().__init__()
            self.n_cls = n_cls
            self.scales = nn.ModuleList()
            self.scales.append(Scale(halving(3, 4), 4, n_cls))
            self.scales.append(Scale(halving(4, 6), 6, n_cls))
            self.scales.append(Scale(nn.AdaptiveMaxPool2d((1, 1)), 6, n_cls))

        def forward(self, X):
            anchors, cls_maps, box_maps = [], [], []
            for scale, s, r in zip(self.scales, sizes, ratios):
                X = scale.body(X)
                anchors.append(pixel_anchors(L, X, sizes=s, ratios=r))
                cls_maps.append(scale.cls_head(X))
                box_maps.append(scale.box_head(X))
            cls = join(cls_maps)
            return (L.cat(anchors, dim=1), cls.reshape(cls.shape[0], -1, self.n_cls + 1),
                    join(box_maps))

    L.manual_seed(38)
    model = Detector(n_cls=1)
    X = L.tensor(_f32(2, 3, 8, 8, seed=39))
    anchors, cls_out, box_out = model(X)
    n = anchors.shape[1]
    rng = np.random.RandomState(40)
    cls_true = L.tensor(rng.randint(0, 2, (2, n)))
    box_mask = (cls_true > 0).float().unsqueeze(-1).repeat(1, 1, 4).reshape(2, -1)
    box_true = L.tensor(rng.randn(2, n * 4).astype(np.float32)) * box_mask
    ce = nn.CrossEntropyLoss(reduction="none")
    l1 = nn.L1Loss(reduction="none")

    def detection_loss(cls_out, box_out):
        rows, n_cls = cls_out.shape[0], cls_out.shape[2]
        per_anchor = ce(cls_out.reshape(-1, n_cls), cls_true.reshape(-1)).reshape(rows, -1)
        return per_anchor.mean(dim=1) + l1(box_out * box_mask, box_true * box_mask).mean(dim=1)

    opt = L.optim.SGD(model.parameters(), lr=0.2, weight_decay=5e-4)
    losses = []
    for _ in range(2):
        model.train()
        opt.zero_grad()
        anchors, cls_out, box_out = model(X)
        loss = detection_loss(cls_out, box_out)
        loss.mean().backward()
        opt.step()
        losses.append(loss.detach())
    right = float((cls_out.argmax(dim=-1).type(cls_true.dtype) == cls_true).sum())
    box_err = float((L.abs((box_true - box_out) * box_mask)).sum())
    flat = per_pixel_rows(L.zeros((2, 8, 20, 20)))
    return dict(shapes=(tuple(anchors.shape), tuple(cls_out.shape), tuple(box_out.shape)),
                ls=losses, cls_eval=right, bbox_eval=box_err, flat=tuple(flat.shape),
                cat=tuple(join([L.zeros((2, 8, 20, 20)), L.zeros((2, 16, 10, 10))]).shape),
                anchors=anchors[0, -4:])


@program
def image_augmentation_by_tensor_ops_and_fine_tuning_parameter_groups(L):
    """Augmentation with tensor ops only (flips along width or height, a crop at randint
    offsets, brightness and contrast factors from uniform_, per-channel normalisation by
    broadcasting), image by image and stacked; then fine-tuning: a "pretrained" body whose
    last Linear is replaced by a new one initialised by xavier_uniform_, parameter groups
    split by name with 10x the rate on the new layer, SGD with weight decay, then the body
    frozen by requires_grad_(False) and the remaining parameters trained alone."""
    nn = L.nn
    L.manual_seed(41)

    def coin():
        return L.rand(1).item() < 0.5

    def jitter(img):
        if coin():
            img = L.flip(img, dims=[2])
        if coin():
            img = img.flip(1)
        top, left = L.randint(0, 3, (2,)).tolist()
        img = img[:, top:top + 6, left:left + 6]
        gain, spread = L.empty(1).uniform_(0.5, 1.5), L.empty(1).uniform_(0.5, 1.5)
        centre = img.mean()
        return (((img - centre) * spread + centre) * gain).clamp(0, 1)

    imgs = L.tensor(np.random.RandomState(42).rand(4, 3, 8, 8).astype(np.float32))
    jittered = L.stack([jitter(im) for im in imgs])
    X = ((jittered - L.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)) /
         L.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1))
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
    model.add_module("fc", nn.Linear(4, 10))
    model.fc = nn.Linear(model.fc.in_features, 2)
    nn.init.xavier_uniform_(model.fc.weight)
    body = [p for n, p in model.named_parameters() if n not in ["fc.weight", "fc.bias"]]
    opt = L.optim.SGD([{"params": body}, {"params": model.fc.parameters(), "lr": 0.05 * 10}],
                      lr=0.05, weight_decay=0.001)
    y = L.tensor([0, 1, 1, 0])
    ce = nn.CrossEntropyLoss(reduction="none")
    losses = []
    for _ in range(2):
        opt.zero_grad()
        loss = ce(model(X), y)
        loss.sum().backward()
        opt.step()
        losses.append(loss.sum().item())
    for p in body:
        p.requires_grad_(False)
    head_opt = L.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=0.1)
    head_opt.zero_grad()
    head_loss = ce(model(X), y).sum()
    head_loss.backward()
    head_opt.step()
    return dict(aug=jittered[:, 0, :2, :2], X=X.mean(dim=(0, 2, 3)), ls=losses, l2=head_loss,
                lrs=[g["lr"] for g in opt.param_groups],
                frozen=[p.grad is None or bool((p.grad == 0).all()) for p in body],
                fc=model.fc.weight, names=[n for n, _ in model.named_children()])


# ----------------------------------------------------------------------------------------------
# (about 1.4-3 s each: run with --runslow, to keep the default suite short)
_SLOW = {"parallel_branch_residual_and_dense_blocks",
         "conv_and_birnn_sentence_classifiers_over_frozen_embeddings",
         "single_shot_detector_heads_down_sampling_and_joined_predictions"}


@pytest.mark.parametrize("fn", [pytest.param(f, marks=pytest.mark.slow) if f.__name__ in _SLOW
                                else f for f in PROGRAMS], ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


# the fixes of this round, each alone
def _x(L):
    return L.tensor(np.arange(12.0).reshape(2, 3, 2))


@pytest.mark.parametrize("call", [
    lambda L: _x(L).squeeze(axis=2), lambda L: L.ones(2, 1).squeeze(axis=1),
    lambda L: _x(L).unsqueeze(axis=-1), lambda L: _x(L).clone().unsqueeze_(axis=0),
    lambda L: L.ones(2, 1).squeeze_(axis=1), lambda L: _x(L).chunk(2, axis=1),
    lambda L: L.chunk(_x(L), 3, axis=1), lambda L: _x(L).unbind(axis=2),
    lambda L: L.unbind(_x(L), axis=0), lambda L: _x(L).diff(axis=1),
    lambda L: L.tensor_split(_x(L), 2, axis=1), lambda L: _x(L).tensor_split(3, axis=1),
    lambda L: _x(L).take_along_dim(L.zeros(1, 1, 1, dtype=L.long), axis=1),
    lambda L: _x(L).clone().cumsum_(axis=1), lambda L: _x(L).clone().cumprod_(axis=2),
    lambda L: _x(L).aminmax(axis=1, keepdims=True), lambda L: _x(L).quantile(0.3, axis=1),
    lambda L: _x(L).nanquantile(0.3, axis=2, keepdims=True),
    lambda L: _x(L).repeat_interleave(2, axis=1), lambda L: L.repeat_interleave(_x(L), 2, axis=0),
    lambda L: L.cosine_similarity(_x(L), _x(L) + 1, axis=1),
    lambda L: L.trapezoid(_x(L), axis=1), lambda L: L.cumulative_trapezoid(_x(L), axis=1),
    lambda L: L.gradient(_x(L), axis=1), lambda L: L.unsafe_chunk(_x(L), 2, axis=2),
    lambda L: _x(L).unsafe_split(1, axis=2), lambda L: _x(L).slice_scatter(
        L.zeros(2, 1, 2, dtype=L.double), axis=1, start=1, end=2),
], ids=["squeeze", "squeeze_1", "unsqueeze", "unsqueeze_", "squeeze_", "chunk", "chunk_fn",
        "unbind", "unbind_fn", "diff", "tensor_split_fn", "tensor_split", "take_along_dim",
        "cumsum_", "cumprod_", "aminmax", "quantile", "nanquantile", "repeat_interleave",
        "repeat_interleave_fn", "cosine_similarity", "trapezoid", "cumulative_trapezoid",
        "gradient", "unsafe_chunk", "unsafe_split", "slice_scatter"])
def test_numpy_axis_and_keepdims_names(call):
    """PyTorch's parser reads numpy's axis= / keepdims= for dim= / keepdim= on every op:
    the view, split and scan ops take them too (code written for numpy's names passes axis=)."""
    HARNESS.check(call)


@pytest.mark.parametrize("call", [
    lambda L: L.repeat_interleave(L.tensor([1, 2]), 2, output_size=5),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), 2, output_size=4),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), 2, output_size=-1),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor([1, 3]), output_size=3),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor([1, 3]), output_size=4),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor([1, 3]), output_size=-1),
    lambda L: L.repeat_interleave(L.tensor([2, 1]), output_size=2),
    lambda L: L.repeat_interleave(L.tensor([2, 1]), output_size=3),
    lambda L: L.repeat_interleave(L.tensor([1, -3]), output_size=-2),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor(2), output_size=3),
    lambda L: L.repeat_interleave(L.ones(2, 3), 2, dim=1, output_size=5),
    lambda L: L.ones(2, 3).repeat_interleave(L.tensor([1, 0, 2]), dim=1, output_size=3),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor([[1, 3]])),
    lambda L: L.repeat_interleave(L.tensor([1, 2]), L.tensor([[1.0]])),
    lambda L: L.repeat_interleave(L.tensor(5), L.tensor([[2]])),
], ids=["int_wrong", "int_ok", "int_negative", "tensor_wrong", "tensor_ok", "tensor_negative",
        "counts_wrong", "counts_ok", "counts_negative", "zero_dim", "dim_wrong", "dim_ok",
        "2d_repeats", "2d_float_repeats", "2d_repeats_0d_input"])
def test_repeat_interleave_output_size_and_repeats_dims(call):
    """repeat_interleave checks output_size (the int form against the product, the counts
    kernel's allocation against the counts' sum) and refuses repeats of more than 1 dim
    before their dtype, as PyTorch does."""
    HARNESS.check(call)


@pytest.mark.parametrize("call", [
    lambda L: L.meshgrid(L.zeros(2, 2), L.arange(3), indexing="ij"),
    lambda L: L.meshgrid(L.arange(2), L.zeros(3, 2), indexing="yx"),
    lambda L: L.meshgrid(L.zeros(2), L.zeros(3), indexing="yx"),
    lambda L: L.meshgrid(L.zeros(2), L.zeros(3, dtype=L.long)),
    lambda L: L.meshgrid(indexing="yx"),
], ids=["dims_and_dtypes", "indexing_and_dtypes", "indexing", "no_indexing", "empty"])
def test_meshgrid_checks_in_torch_order(call):
    """meshgrid refuses mixed dtypes before a wrong indexing, and that before a 2-d tensor
    (the warning of a missing indexing first of all)."""
    HARNESS.check(call)


@pytest.mark.parametrize("call", [
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1)),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), True),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), left=False),
    lambda L: L.linalg.solve_triangular(L.eye(2), upper=True),
    lambda L: L.linalg.solve_triangular(upper=True),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), upper=None),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), upper=1),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), upper=True, left=0),
    lambda L: L.linalg.solve_triangular(L.eye(2), L.ones(2, 1), upper=True,
                                        unitriangular=None),
    lambda L: L.linalg.solve_triangular(L.eye(2), B=L.ones(2, 1), upper=False),
], ids=["no_upper", "upper_by_position", "left_only", "no_B", "nothing", "upper_none",
        "upper_int", "left_int", "unitriangular_none", "keywords"])
def test_solve_triangular_argument_words(call):
    """linalg.solve_triangular's keyword-only upper and bool flags refused in the words of
    PyTorch's parser (every required argument from the first missing one listed)."""
    HARNESS.check(call)
