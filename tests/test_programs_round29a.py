"""Whole programs of round 29, part a: the from-scratch code of the Dive into Deep Learning
book (d2l.ai, PyTorch edition), written anew in its manner.

Preliminaries and linear networks: the ndarray, linear-algebra and probability sections
(storage kept by Z[:] =, from_numpy sharing memory, sums over axis lists with keepdims,
Multinomial counts), the autograd section (detach, control flow, the errors a reader meets),
linear regression by synthetic_data, Python-shuffled batches and sgd under no_grad, its
concise form through TensorDataset/DataLoader, softmax regression with the Accumulator,
accuracy and evaluate_accuracy utilities, the log-sum-exp aside.  Multilayer perceptrons:
relu by max, dropout masks by rand > p, weight decay by an L2 penalty and by parameter
groups, the sigmoid's vanishing gradient and Xavier inits applied by net.apply.  The
builders' guide: MySequential by add_module, FixedHiddenMLP, parameter access and custom
init, tied layers, lazy layers, custom layers, save/load through a buffer, printed nets.
Convolutions: corr2d and pool2d by loops against the modules, an edge kernel learned by
hand, multi-channel and 1x1 forms; LeNet's shape table and a training step; AlexNet, VGG
and NiN blocks; Inception, Residual and DenseNet blocks; batch norm from scratch with its
is_grad_enabled branch and moving averages.  Recurrent networks: a character Vocab,
random and sequential minibatches, RNN/GRU/LSTM from scratch with one-hot inputs, hand
clipping, detach_ of the state and greedy prediction; the concise RNNModel over nn.RNN,
nn.GRU and a bidirectional nn.LSTM; seq2seq with MaskedSoftmaxCELoss, xavier init through
_flat_weights_names, Bahdanau attention and BLEU.  Attention: masked_softmax with
repeat_interleave, additive and scaled dot-product attention, Nadaraya-Watson regression,
multi-head attention by transpose_qkv checked against nn.MultiheadAttention, positional
encoding, Transformer encoder and decoder blocks with key caches and LazyLinear FFNs.
Optimisation: momentum, AdaGrad, RMSProp, Adadelta, Adam and Yogi from scratch, each
beside the torch.optim class, gradient descent and Newton's method.  Computer vision:
anchor boxes, box_iou, assign_anchor_to_bbox, multibox_target, nms, multibox_detection,
a tiny SSD with its losses, transposed convolution from scratch and FCN's bilinear
upsampling, style transfer with gram matrices, augmentation by tensor ops and fine-tuning
parameter groups.  NLP: skip-gram with negative sampling (a Dataset, a batchify collate
and SigmoidBCELoss with masks), BERT's inputs, masked-LM and next-sentence heads, TextCNN
and a BiRNN over frozen pretrained embeddings.  Recommenders (MF, AutoRec, NeuMF with BPR
and hinge losses, FM), a GAN on a Gaussian and DCGAN blocks, Gaussian-process regression
with its marginal likelihood learned by Adam.

What they found, fixed in minigrad (4 programs of 36 failed before: every program as first
written from the book agreed, and the four failed once their refusals and spellings took
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
are compared to float32's tolerance, as the book computes in float32.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded weights and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
"""
import collections
import io
import math
import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, grads_of, registry, program_harness)


HARNESS = program_harness()
# the book computes in float32 and reads losses and accuracies off by .item()/float(): Python
# floats are compared to float32's tolerance, not float64's
HARNESS.scalar_tol = (1e-5, 1e-6)
PROGRAMS, program = registry()


# ----------------------------------------------------------------------------------------------
# the book's small utilities, written for library L
# ----------------------------------------------------------------------------------------------
def synthetic_data(L, w, b, num_examples):
    """y = Xw + b + noise, the linear-regression chapter's generator."""
    X = L.normal(0, 1, (num_examples, len(w)))
    y = L.matmul(X, w) + b
    y += L.normal(0, 0.01, y.shape)
    return X, y.reshape((-1, 1))


def data_iter(L, batch_size, features, labels, seed):
    """Minibatches in an order shuffled by Python's random (seeded)."""
    num_examples = len(features)
    indices = list(range(num_examples))
    random.Random(seed).shuffle(indices)
    for i in range(0, num_examples, batch_size):
        batch_indices = L.tensor(indices[i: min(i + batch_size, num_examples)])
        yield features[batch_indices], labels[batch_indices]


def sgd(L, params, lr, batch_size):
    """Minibatch SGD by hand under no_grad, the gradients zeroed after."""
    with L.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


class Accumulator:
    """Sums over n variables."""

    def __init__(self, n):
        self.data = [0.0] * n

    def add(self, *args):
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx):
        return self.data[idx]


def accuracy(L, y_hat, y):
    """The number of right predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy(L, net, data):
    """Accuracy over batches, the module put in eval mode, no graph recorded."""
    if isinstance(net, L.nn.Module):
        net.eval()
    metric = Accumulator(2)
    with L.no_grad():
        for X, y in data:
            metric.add(accuracy(L, net(X), y), y.numel())
    return metric[0] / metric[1]


def grad_clipping(L, net, theta):
    """Clip the gradients' global norm to theta by hand."""
    if isinstance(net, L.nn.Module):
        params = [p for p in net.parameters() if p.requires_grad]
    else:
        params = net.params
    norm = L.sqrt(sum(L.sum((p.grad ** 2)) for p in params))
    if norm > theta:
        for param in params:
            param.grad[:] *= theta / norm
    return norm


def _f32(*shape, seed=0, scale=1.0):
    return np.random.RandomState(seed).randn(*shape).astype(np.float32) * scale


# ----------------------------------------------------------------------------------------------
# preliminaries, linear networks
# ----------------------------------------------------------------------------------------------
@program
def autograd_chapter_gradients_detach_and_control_flow(L):
    """The automatic-differentiation section: y = 2 x.x backward, grad.zero_() and a second
    backward of a sum, a non-scalar backward with ones as gradient, detach to hold a partial
    product constant, a Python while/if over a tensor's norm, and the errors a reader meets:
    a non-scalar backward without gradient, backward twice, an in-place change of a leaf."""
    x = L.arange(4.0)
    x.requires_grad_(True)
    y = 2 * L.dot(x, x)
    y.backward()
    g1 = x.grad.clone()
    x.grad.zero_()
    y = x.sum()
    y.backward()
    g2 = x.grad.clone()
    x.grad.zero_()
    y = x * x
    y.backward(gradient=L.ones(len(y)))
    g3 = x.grad.clone()
    x.grad.zero_()
    y = x * x
    u = y.detach()
    z = u * x
    z.sum().backward()
    g4 = (x.grad == u)
    x.grad.zero_()
    y.sum().backward()
    g5 = x.grad == 2 * x

    def f(a):
        b = a * 2
        while b.norm() < 1000:
            b = b * 2
        if b.sum() > 0:
            c = b
        else:
            c = 100 * b
        return c

    L.manual_seed(3)
    a = L.randn(size=(), requires_grad=True)
    d = f(a)
    d.backward()
    errors = [err(lambda: (x * x).backward()),
              err(lambda: x.add_(1)),
              err(lambda: (lambda t: (t.backward(), t.backward()))((x ** 3).sum()))]
    return dict(g=[g1, g2, g3, g4, g5], d=d, ratio=a.grad == d / a, errors=errors)


@program
def linear_regression_from_scratch_with_python_shuffled_batches(L):
    """Linear regression as the book first writes it: synthetic_data under a seed, batches by
    a shuffled index list turned into a tensor, w by normal(0, 0.01, requires_grad), b zeros,
    squared_loss with y reshaped to y_hat's shape, sgd in place under no_grad, the epoch's
    loss under no_grad; then the errors of w and b."""
    L.manual_seed(0)
    true_w = L.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(L, true_w, true_b, 60)
    w = L.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = L.zeros(1, requires_grad=True)

    def linreg(X):
        return L.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    lr, batch_size = 0.1, 8
    losses = []
    for epoch in range(3):
        for X, y in data_iter(L, batch_size, features, labels, seed=epoch):
            l = squared_loss(linreg(X), y)
            l.sum().backward()
            sgd(L, [w, b], lr, batch_size)
        with L.no_grad():
            train_l = squared_loss(linreg(features), labels)
            losses.append(float(train_l.mean()))
    return dict(losses=losses, w=w, b=b, w_err=true_w - w.reshape(true_w.shape),
                b_err=true_b - b, first=features[0], label=labels[:3])


@program
def linear_regression_concise_with_tensor_dataset_and_dataloader(L):
    """The concise version: load_array by TensorDataset and DataLoader (shuffle with the
    global seed), nn.Sequential(nn.Linear(2, 1)) with weight.data.normal_(0, 0.01) and
    bias.data.fill_(0), MSELoss, optim.SGD; then Huber loss and weight decay by the
    optimizer, and the parameters read back by .weight.data and .bias.data."""
    nn, data = L.nn, L.utils.data
    L.manual_seed(1)
    true_w = L.tensor([2, -3.4])
    features, labels = synthetic_data(L, true_w, 4.2, 40)
    loader = data.DataLoader(data.TensorDataset(features, labels), 10, shuffle=True)
    net = nn.Sequential(nn.Linear(2, 1))
    net[0].weight.data.normal_(0, 0.01)
    net[0].bias.data.fill_(0)
    loss = nn.MSELoss()
    trainer = L.optim.SGD(net.parameters(), lr=0.03)
    out = []
    for epoch in range(3):
        for X, y in loader:
            l = loss(net(X), y)
            trainer.zero_grad()
            l.backward()
            trainer.step()
        out.append(loss(net(features), labels).item())
    huber = nn.HuberLoss(delta=0.5)
    net2 = nn.Linear(2, 1)
    trainer2 = L.optim.SGD([{"params": net2.weight, "weight_decay": 0.1},
                            {"params": net2.bias}], lr=0.05)
    for X, y in loader:
        trainer2.zero_grad()
        h = huber(net2(X), y)
        h.backward()
        trainer2.step()
    batches = [tuple(t.shape) for t, _ in loader]
    return dict(out=out, w=net[0].weight.data, b=net[0].bias.data, huber=h,
                w2=net2.weight.data, batches=batches, lens=len(loader))


@program
def softmax_regression_from_scratch_with_accumulator_and_updater(L):
    """Softmax regression from scratch: softmax by exp over a keepdim sum, the net reshaping
    X to (-1, W.shape[0]), cross-entropy by picking y_hat[range(len(y_hat)), y], accuracy by
    argmax and .type, evaluate_accuracy over batches under no_grad, an epoch loop with an
    Accumulator and sgd as the updater; then predictions on the first batch."""
    L.manual_seed(2)
    num_inputs, num_outputs = 16, 4
    W = L.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
    b = L.zeros(num_outputs, requires_grad=True)
    Xall = L.tensor(_f32(48, 1, 4, 4, seed=4))
    proto = L.tensor(_f32(4, 16, seed=5))
    yall = (Xall.reshape(48, 16) @ proto.T).argmax(dim=1)
    batches = [(Xall[i:i + 12], yall[i:i + 12]) for i in range(0, 48, 12)]

    def softmax(X):
        X_exp = L.exp(X)
        partition = X_exp.sum(1, keepdim=True)
        return X_exp / partition

    def net(X):
        return softmax(L.matmul(X.reshape((-1, W.shape[0])), W) + b)

    def cross_entropy(y_hat, y):
        return -L.log(y_hat[range(len(y_hat)), y])

    y_demo = L.tensor([0, 2])
    y_hat_demo = L.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    demo = (y_hat_demo[[0, 1], y_demo], cross_entropy(y_hat_demo, y_demo),
            accuracy(L, y_hat_demo, y_demo) / len(y_demo))
    history = []
    for epoch in range(4):
        metric = Accumulator(3)
        for X, y in batches:
            y_hat = net(X)
            l = cross_entropy(y_hat, y)
            l.sum().backward()
            sgd(L, [W, b], 0.5, X.shape[0])
            metric.add(float(l.sum()), accuracy(L, y_hat, y), y.numel())
        history.append((metric[0] / metric[2], metric[1] / metric[2],
                        evaluate_accuracy(L, net, batches)))
    preds = net(batches[0][0]).argmax(axis=1)
    return dict(demo=demo, history=history, W=W, b=b, preds=preds,
                rows=softmax(L.tensor(_f32(2, 5, seed=6))).sum(1))


@program
def softmax_concise_with_logsumexp_stability_and_reduction_none(L):
    """The concise softmax: nn.Flatten then Linear, init_weights applied when type(m) ==
    nn.Linear, CrossEntropyLoss(reduction='none') summed or averaged by hand, SGD; the
    numerical-stability aside: naive softmax of large logits gives nan where log_softmax and
    logsumexp stay finite."""
    nn = L.nn
    L.manual_seed(3)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))

    def init_weights(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    loss = nn.CrossEntropyLoss(reduction="none")
    trainer = L.optim.SGD(net.parameters(), lr=0.1)
    X = L.tensor(_f32(10, 3, 2, 2, seed=7))
    y = L.tensor(np.random.RandomState(8).randint(0, 3, 10))
    ls = []
    for _ in range(4):
        trainer.zero_grad()
        l = loss(net(X), y)
        l.mean().backward()
        trainer.step()
        ls.append(l.sum().item())
    big = L.tensor([[1000.0, 1001.0, 999.0], [-5.0, 0.0, 5.0]])
    naive = L.exp(big) / L.exp(big).sum(1, keepdim=True)
    stable = L.exp(big - big.max(dim=1, keepdim=True).values)
    stable = stable / stable.sum(1, keepdim=True)
    return dict(ls=ls, naive=naive, stable=stable, log_softmax=L.log_softmax(big, dim=1),
                lse=L.logsumexp(big, dim=1), ce=nn.functional.cross_entropy(big, L.tensor([1, 2])),
                acc=accuracy(L, net(X), y))


# ----------------------------------------------------------------------------------------------
# multilayer perceptrons
# ----------------------------------------------------------------------------------------------
@program
def mlp_from_scratch_with_dropout_masks_and_activation_gradients(L):
    """The MLP chapter: relu as torch.max(X, zeros_like(X)), parameters as nn.Parameter of
    scaled randn, dropout_layer by (rand(X.shape) > p).float() with the p == 1 and p == 0
    branches, a Net class with is_training switching dropout; the activation plots' gradients
    of relu, sigmoid and tanh over arange with backward(ones_like, retain_graph)."""
    nn = L.nn
    L.manual_seed(4)
    num_inputs, num_outputs, num_hiddens = 8, 3, 16
    W1 = nn.Parameter(L.randn(num_inputs, num_hiddens) * 0.01)
    b1 = nn.Parameter(L.zeros(num_hiddens))
    W2 = nn.Parameter(L.randn(num_hiddens, num_outputs) * 0.01)
    b2 = nn.Parameter(L.zeros(num_outputs))
    params = [W1, b1, W2, b2]

    def relu(X):
        a = L.zeros_like(X)
        return L.max(X, a)

    def dropout_layer(X, dropout):
        assert 0 <= dropout <= 1
        if dropout == 1:
            return L.zeros_like(X)
        if dropout == 0:
            return X
        mask = (L.rand(X.shape) > dropout).float()
        return mask * X / (1.0 - dropout)

    def net(X, is_training=True):
        X = X.reshape((-1, num_inputs))
        H = relu(X @ W1 + b1)
        if is_training:
            H = dropout_layer(H, 0.5)
        return H @ W2 + b2

    X = L.tensor(_f32(12, 8, seed=9))
    y = L.tensor(np.random.RandomState(10).randint(0, 3, 12))
    loss = nn.CrossEntropyLoss(reduction="none")
    updater = L.optim.SGD(params, lr=0.5)
    ls = []
    for _ in range(3):
        updater.zero_grad()
        l = loss(net(X), y)
        l.mean().backward()
        updater.step()
        ls.append(l.mean().item())
    Xd = L.arange(16, dtype=L.float32).reshape((2, 8))
    drops = [dropout_layer(Xd, 0.), dropout_layer(Xd, 0.5), dropout_layer(Xd, 1.)]
    x = L.arange(-4.0, 4.0, 0.5, requires_grad=True)
    grads = []
    for fn in (L.relu, L.sigmoid, L.tanh):
        y_act = fn(x)
        y_act.backward(L.ones_like(x), retain_graph=True)
        grads.append(x.grad.clone())
        x.grad.data.zero_()
    return dict(ls=ls, drops=drops, grads=grads, eval=net(X, False), params=params)


@program
def weight_decay_from_scratch_and_by_parameter_groups(L):
    """Weight decay: a high-dimensional linear problem with 20 examples, init_params with
    requires_grad, l2_penalty as sum(w.pow(2)) / 2 added to the loss times lambd, manual sgd;
    then the concise form, weight_decay on the weight's group only, the bias undecayed, and
    the norm of w after each."""
    nn = L.nn
    L.manual_seed(5)
    num_inputs = 30
    true_w, true_b = L.ones((num_inputs, 1)) * 0.01, 0.05
    X, y = synthetic_data(L, true_w.reshape(-1), true_b, 20)

    def l2_penalty(w):
        return L.sum(w.pow(2)) / 2

    norms = []
    for lambd in (0, 3):
        w = L.normal(0, 1, size=(num_inputs, 1), requires_grad=True)
        b = L.zeros(1, requires_grad=True)
        for epoch in range(5):
            for Xb, yb in data_iter(L, 5, X, y, seed=epoch):
                l = (Xb @ w + b - yb) ** 2 / 2 + lambd * l2_penalty(w)
                l.sum().backward()
                sgd(L, [w, b], 0.003, 5)
        norms.append(L.norm(w).item())
    net = nn.Sequential(nn.Linear(num_inputs, 1))
    for param in net.parameters():
        param.data.normal_()
    trainer = L.optim.SGD([{"params": net[0].weight, "weight_decay": 3},
                           {"params": net[0].bias}], lr=0.003)
    loss = nn.MSELoss(reduction="none")
    for epoch in range(5):
        for Xb, yb in data_iter(L, 5, X, y, seed=10 + epoch):
            trainer.zero_grad()
            l = loss(net(Xb), yb)
            l.mean().backward()
            trainer.step()
    return dict(norms=norms, concise=net[0].weight.norm().item(), bias=net[0].bias,
                groups=[g["weight_decay"] for g in trainer.param_groups])


@program
def initialisation_and_numerical_stability_experiments(L):
    """Numerical stability: the sigmoid's vanishing gradient over arange(-8, 8, 0.1), the
    product of 20 random 4x4 matrices blowing up, Xavier uniform and normal inits by
    nn.init on Linear layers applied by net.apply, constant_ and zeros_, the variance of the
    outputs compared with fan-in/out, and the init functions' errors on a 1-d tensor."""
    nn = L.nn
    L.manual_seed(6)
    x = L.arange(-8.0, 8.0, 0.1, requires_grad=True)
    y = L.sigmoid(x)
    y.backward(L.ones_like(x))
    M = L.normal(0, 1, size=(4, 4))
    prods = [M]
    for _ in range(20):
        M = L.mm(M, L.normal(0, 1, size=(4, 4)))
        prods.append(M.abs().max())
    net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(),
                        nn.Linear(64, 2))

    def init_xavier(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def init_42(m):
        if type(m) == nn.Linear:
            nn.init.constant_(m.weight, 42)

    net[0].apply(init_xavier)
    net[2].apply(lambda m: nn.init.xavier_normal_(m.weight) if type(m) == nn.Linear else None)
    net[4].apply(init_42)
    X = L.tensor(_f32(256, 20, seed=11))
    h = net[1](net[0](X))
    bound = math.sqrt(6 / (20 + 64))
    shared = nn.Linear(8, 8)
    tied = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                         nn.Linear(8, 1))
    tied[2].weight.data[0, 0] = 100
    errs = [err(lambda: nn.init.xavier_uniform_(L.zeros(5))),
            err(lambda: nn.init.kaiming_normal_(L.zeros(3), mode="fan_out"))]
    return dict(sig_grad=x.grad[::10], prods=prods, inside=bool((net[0].weight.abs() <=
                                                                  bound).all()),
                var=h.var().item(), w4=net[4].weight[:, :3], out=net(X)[:2],
                same=bool(tied[2].weight.data[0, 0] == tied[4].weight.data[0, 0]),
                nparams=len(list(tied.parameters())), errs=errs)


# ----------------------------------------------------------------------------------------------
# convolutions
# ----------------------------------------------------------------------------------------------
def corr2d(L, X, K):
    """Cross-correlation by a loop over output positions."""
    kh, kw = K.shape
    out = L.zeros((X.shape[0] - kh + 1, X.shape[1] - kw + 1))
    for r in range(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = (K * X[r:r + kh, c:c + kw]).sum()
    return out


@program
def corr2d_edge_detector_learned_by_hand_and_multi_channel_forms(L):
    """The convolution chapter: corr2d by loops, a Conv2D module holding weight and bias as
    Parameters, the vertical-edge image X[:, 2:6] = 0 and kernel [[1, -1]], a bias-free
    nn.Conv2d(1, 1, (1, 2)) learning that kernel by weight.data[:] -= lr * weight.grad,
    multi-input corr2d as a sum over zip, multi-output by stack, 1x1 conv as matmul, and
    padding/stride output shapes (comp_conv2d)."""
    nn = L.nn

    class Conv2D(nn.Module):
        def __init__(self, kernel_size):
            super().__init__()
            self.weight = nn.Parameter(L.rand(kernel_size))
            self.bias = nn.Parameter(L.zeros(1))

        def forward(self, x):
            return corr2d(L, x, self.weight) + self.bias

    L.manual_seed(7)
    X = L.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    basic = corr2d(L, X, K)
    img = L.ones((6, 8))
    img[:, 2:6] = 0
    edge = L.tensor([[1.0, -1.0]])
    Y = corr2d(L, img, edge)
    flipped = corr2d(L, img.t(), edge)
    scratch = Conv2D((1, 2))
    ys = scratch(img)
    ys.sum().backward()
    conv2d = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    Xb, Yb = img.reshape((1, 1, 6, 8)), Y.reshape((1, 1, 6, 7))
    lr, ls = 3e-2, []
    for i in range(10):
        Y_hat = conv2d(Xb)
        l = (Y_hat - Yb) ** 2
        conv2d.zero_grad()
        l.sum().backward()
        step = lr * conv2d.weight.grad
        conv2d.weight.data[:] -= step
        ls.append(l.sum().item())

    def corr2d_multi_in(X, K):
        return sum(corr2d(L, x, k) for x, k in zip(X, K))

    def corr2d_multi_in_out(X, K):
        return L.stack([corr2d_multi_in(X, k) for k in K], 0)

    def corr2d_multi_in_out_1x1(X, K):
        c_i, h, w = X.shape
        c_o = K.shape[0]
        X = X.reshape((c_i, h * w))
        K = K.reshape((c_o, c_i))
        return L.matmul(K, X).reshape((c_o, h, w))

    Xm = L.stack((X, X + 1), 0)
    Km = L.stack((K, K + 1), 0)
    Kmo = L.stack((Km, Km + 1, Km + 2), 0)
    X1 = L.normal(0, 1, (3, 3, 3))
    K1 = L.normal(0, 1, (2, 3, 1, 1))
    Y1, Y2 = corr2d_multi_in_out_1x1(X1, K1), corr2d_multi_in_out(X1, K1)

    def comp_conv2d(conv2d, X):
        X = X.reshape((1, 1) + X.shape)
        Y = conv2d(X)
        return Y.reshape(Y.shape[2:])

    Xs = L.rand(size=(8, 8))
    shapes = [tuple(comp_conv2d(nn.Conv2d(1, 1, kernel_size=3, padding=1), Xs).shape),
              tuple(comp_conv2d(nn.Conv2d(1, 1, kernel_size=(5, 3), padding=(2, 1)), Xs).shape),
              tuple(comp_conv2d(nn.Conv2d(1, 1, kernel_size=3, padding=1, stride=2), Xs).shape),
              tuple(comp_conv2d(nn.Conv2d(1, 1, kernel_size=(3, 5), padding=(0, 1),
                                          stride=(3, 4)), Xs).shape)]
    errs = [err(lambda: conv2d(L.ones(1, 2, 4, 4))),
            err(lambda: nn.Conv2d(1, 1, kernel_size=5)(L.ones(1, 1, 3, 3)))]
    return dict(basic=basic, Y=Y, flipped=flipped, scratch_grad=scratch.weight.grad,
                bias_grad=scratch.bias.grad, ls=ls, learned=conv2d.weight.data.reshape((1, 2)),
                multi_in=corr2d_multi_in(Xm, Km), multi_out=corr2d_multi_in_out(Xm, Kmo),
                one_by_one=float(L.abs(Y1 - Y2).sum()) < 1e-5, shapes=shapes, errs=errs)


@program
def pooling_from_scratch_against_max_and_avg_pool_modules(L):
    """pool2d by loops in 'max' and 'avg' modes, checked against nn.MaxPool2d/AvgPool2d with
    the default stride (the window), padding and stride given, a tuple window with tuple
    padding, and two channels made by cat((X, X + 1), 1); the gradient of a max-pool picks
    the window's maxima."""
    nn = L.nn

    def pool2d(X, pool_size, mode="max"):
        p_h, p_w = pool_size
        Y = L.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
        for i in range(Y.shape[0]):
            for j in range(Y.shape[1]):
                if mode == "max":
                    Y[i, j] = X[i: i + p_h, j: j + p_w].max()
                elif mode == "avg":
                    Y[i, j] = X[i: i + p_h, j: j + p_w].mean()
        return Y

    X = L.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    X4 = L.arange(16, dtype=L.float32).reshape((1, 1, 4, 4))
    X8 = L.cat((X4, X4 + 1), 1)
    Xg = L.tensor(_f32(1, 2, 5, 5, seed=12), requires_grad=True)
    mp = nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))
    out = mp(Xg)
    out.sum().backward()
    return dict(mx=pool2d(X, (2, 2)), avg=pool2d(X, (2, 2), "avg"),
                p3=nn.MaxPool2d(3)(X4), p3s=nn.MaxPool2d(3, padding=1, stride=2)(X4),
                pt=nn.MaxPool2d((2, 3), stride=(2, 3), padding=(0, 1))(X4),
                two=nn.MaxPool2d(3, padding=1, stride=2)(X8),
                avg2=nn.AvgPool2d(3, padding=1, stride=2)(X8),
                avg_nopad=nn.AvgPool2d(3, padding=1, stride=2, count_include_pad=False)(X8),
                out=out, grad=Xg.grad,
                errs=[err(lambda: nn.MaxPool2d(3, padding=2)(X4)),
                      err(lambda: nn.AvgPool2d(5)(X4))])


@program
def lenet_with_sigmoid_and_avg_pool_shapes_and_a_training_step(L):
    """LeNet as the book lays it out: Conv2d(1, 6, 5, padding=2), Sigmoid, AvgPool2d(2, 2),
    Conv2d(6, 16, 5), Flatten, three Linear layers; the layer-by-layer shape table by
    iterating the Sequential (class name and output shape), xavier_uniform_ init applied to
    Linear and Conv2d, one epoch of SGD with CrossEntropyLoss, and evaluate_accuracy on the
    device read from next(iter(net.parameters())).device."""
    nn = L.nn
    L.manual_seed(8)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))
    X = L.rand(size=(1, 1, 28, 28), dtype=L.float32)
    table = []
    for layer in net:
        X = layer(X)
        table.append((layer.__class__.__name__, tuple(X.shape)))

    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    device = next(iter(net.parameters())).device
    optimizer = L.optim.SGD(net.parameters(), lr=0.9)
    loss = nn.CrossEntropyLoss()
    imgs = L.tensor(_f32(12, 1, 28, 28, seed=13))
    ys = L.tensor(np.random.RandomState(14).randint(0, 10, 12))
    batches = [(imgs[:6], ys[:6]), (imgs[6:], ys[6:])]
    net.train()
    ls = []
    for X, y in batches:
        optimizer.zero_grad()
        X, y = X.to(device), y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)
        l.backward()
        optimizer.step()
        with L.no_grad():
            ls.append((l * X.shape[0]).item())
    acc = evaluate_accuracy(L, net, batches)
    return dict(table=table, ls=ls, acc=acc, training=net.training, device=str(device),
                grads=grads_of(net)["0.weight"][:2, 0, :2])


@program
def alexnet_vgg_and_nin_blocks_at_tiny_sizes(L):
    """Deep CNNs at toy width: AlexNet's head (large stride conv, MaxPool2d(3, 2), Dropout in
    the classifier), vgg_block built by a loop appending Conv2d/ReLU then MaxPool, the VGG
    net assembled from a conv_arch of (num_convs, out_channels) pairs, NiN blocks of a conv
    and two 1x1 convs ending in AdaptiveAvgPool2d((1, 1)) and Flatten; forward shapes in
    train and eval, the dropout outputs differing by mode, one backward."""
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

    def vgg_block(num_convs, in_channels, out_channels):
        layers = []
        for _ in range(num_convs):
            layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
            layers.append(nn.ReLU())
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        return nn.Sequential(*layers)

    def vgg(conv_arch):
        conv_blks = []
        in_channels = 1
        for (num_convs, out_channels) in conv_arch:
            conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
            in_channels = out_channels
        return nn.Sequential(*conv_blks, nn.Flatten(),
                             nn.Linear(out_channels * 2 * 2, 12), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(12, 10))

    def nin_block(in_channels, out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())

    vggnet = vgg(((1, 4), (1, 8), (2, 8)))
    nin = nn.Sequential(
        nin_block(1, 4, kernel_size=5, strides=2, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(4, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    Xa = L.tensor(_f32(2, 1, 96, 96, seed=15))
    Xv = L.tensor(_f32(2, 1, 16, 16, seed=16))
    shapes = []
    X = Xv
    for blk in vggnet:
        X = blk(X)
        shapes.append((blk.__class__.__name__, tuple(X.shape)))
    outs = {}
    for name, net, x in (("alex", alex, Xa), ("vgg", vggnet, Xv), ("nin", nin, Xa[:, :, :20,
                                                                               :20])):
        net.eval()
        e = net(x)
        net.train()
        L.manual_seed(1)
        t = net(x)
        t.sum().backward()
        outs[name] = (e, t, net[0].weight.grad.sum() if name == "alex" else
                      next(net.parameters()).grad.sum())
    return dict(shapes=shapes, outs=outs)


@program
def googlenet_inception_resnet_residual_and_densenet_blocks(L):
    """Modern CNN blocks: the Inception block's four paths (1x1; 1x1 then 3x3; 1x1 then 5x5;
    3x3 max-pool then 1x1) concatenated on dim 1, ResNet's Residual with use_1x1conv and
    strides and its resnet_block builder (first_block), DenseNet's conv_block (BN, ReLU,
    conv), DenseBlock concatenating each output to its input and transition_block halving
    the map; a tiny net from each in train mode, its output, BN running stats and gradients."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(10)

    class Inception(nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
            self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

        def forward(self, x):
            p1 = F.relu(self.p1_1(x))
            p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
            p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
            p4 = F.relu(self.p4_2(self.p4_1(x)))
            return L.cat((p1, p2, p3, p4), dim=1)

    class Residual(nn.Module):
        def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1,
                                   stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1,
                                   stride=strides) if use_1x1conv else None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            return F.relu(Y)

    def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    def conv_block(input_channels, num_channels):
        return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                             nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))

    class DenseBlock(nn.Module):
        def __init__(self, num_convs, input_channels, num_channels):
            super().__init__()
            self.net = nn.Sequential(*[conv_block(num_channels * i + input_channels,
                                                  num_channels) for i in range(num_convs)])

        def forward(self, X):
            for blk in self.net:
                Y = blk(X)
                X = L.cat((X, Y), dim=1)
            return X

    def transition_block(input_channels, num_channels):
        return nn.Sequential(nn.BatchNorm2d(input_channels), nn.ReLU(),
                             nn.Conv2d(input_channels, num_channels, kernel_size=1),
                             nn.AvgPool2d(kernel_size=2, stride=2))

    X = L.tensor(_f32(2, 3, 8, 8, seed=17))
    inc = nn.Sequential(Inception(3, 2, (2, 3), (1, 2), 2), nn.AdaptiveAvgPool2d((1, 1)),
                        nn.Flatten(), nn.Linear(9, 4))
    b1 = nn.Sequential(nn.Conv2d(3, 4, kernel_size=3, stride=1, padding=1), nn.BatchNorm2d(4),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    res = nn.Sequential(b1, nn.Sequential(*resnet_block(4, 4, 2, first_block=True)),
                        nn.Sequential(*resnet_block(4, 6, 2)),
                        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(6, 4))
    dense = nn.Sequential(DenseBlock(2, 3, 2), transition_block(7, 3), DenseBlock(1, 3, 2),
                          nn.BatchNorm2d(5), nn.ReLU(), nn.AdaptiveMaxPool2d((1, 1)),
                          nn.Flatten(), nn.Linear(5, 4))
    y = L.tensor([0, 3])
    outs = {}
    for name, net in (("inception", inc), ("resnet", res), ("densenet", dense)):
        opt = L.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        ls = []
        for _ in range(2):
            opt.zero_grad()
            l = F.cross_entropy(net(X), y)
            l.backward()
            opt.step()
            ls.append(l.item())
        net.eval()
        outs[name] = (ls, net(X), [b.running_var for b in net.modules()
                                   if isinstance(b, nn.BatchNorm2d)])
    blk = Residual(3, 6, use_1x1conv=True, strides=2)
    return dict(outs=outs, rshape=tuple(blk(X).shape),
                dshape=tuple(DenseBlock(2, 3, 10)(X).shape),
                tshape=tuple(transition_block(23, 10)(L.zeros(1, 23, 8, 8)).shape))


@program
def batch_norm_from_scratch_with_moving_averages_and_grad_mode_branch(L):
    """batch_norm written by hand: the torch.is_grad_enabled() test choosing the moving
    statistics in prediction, mean/var over dim 0 for a fully connected input and over
    (0, 2, 3) with keepdim for a conv one, moving averages updated with momentum 0.1 (the
    book's 1 - 0.9) and returned as .data; a BatchNorm module holding gamma/beta Parameters
    and moving buffers; compared with nn.BatchNorm2d's biased/unbiased running variance."""
    nn = L.nn

    def batch_norm(X, gamma, beta, moving_mean, moving_var, eps, momentum):
        if not L.is_grad_enabled():
            X_hat = (X - moving_mean) / L.sqrt(moving_var + eps)
        else:
            assert len(X.shape) in (2, 4)
            if len(X.shape) == 2:
                mean = X.mean(dim=0)
                var = ((X - mean) ** 2).mean(dim=0)
            else:
                mean = X.mean(dim=(0, 2, 3), keepdim=True)
                var = ((X - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
            X_hat = (X - mean) / L.sqrt(var + eps)
            moving_mean = (1.0 - momentum) * moving_mean + momentum * mean
            moving_var = (1.0 - momentum) * moving_var + momentum * var
        Y = gamma * X_hat + beta
        return Y, moving_mean.data, moving_var.data

    class BatchNorm(nn.Module):
        def __init__(self, num_features, num_dims):
            super().__init__()
            shape = (1, num_features) if num_dims == 2 else (1, num_features, 1, 1)
            self.gamma = nn.Parameter(L.ones(shape))
            self.beta = nn.Parameter(L.zeros(shape))
            self.moving_mean = L.zeros(shape)
            self.moving_var = L.ones(shape)

        def forward(self, X):
            if self.moving_mean.device != X.device:
                self.moving_mean = self.moving_mean.to(X.device)
                self.moving_var = self.moving_var.to(X.device)
            Y, self.moving_mean, self.moving_var = batch_norm(
                X, self.gamma, self.beta, self.moving_mean, self.moving_var, eps=1e-5,
                momentum=0.1)
            return Y

    L.manual_seed(11)
    net = nn.Sequential(nn.Conv2d(1, 3, kernel_size=3), BatchNorm(3, num_dims=4), nn.Sigmoid(),
                        nn.AvgPool2d(2, 2), nn.Flatten(), nn.Linear(12, 5),
                        BatchNorm(5, num_dims=2), nn.Sigmoid(), nn.Linear(5, 3))
    ref = nn.BatchNorm2d(3)
    X = L.tensor(_f32(4, 1, 6, 6, seed=18))
    y = L.tensor([0, 1, 2, 1])
    opt = L.optim.SGD(net.parameters(), lr=0.5)
    ls = []
    for _ in range(3):
        opt.zero_grad()
        l = nn.functional.cross_entropy(net(X), y)
        l.backward()
        opt.step()
        ls.append(l.item())
        ref(net[0](X).detach())
    with L.no_grad():
        pred = net(X)
    return dict(ls=ls, pred=pred, mm=net[1].moving_mean.reshape(-1), mv=net[1].moving_var,
                ref_mean=ref.running_mean, ref_var=ref.running_var,
                fc=(net[6].moving_mean, net[6].moving_var), gamma=net[1].gamma.reshape((-1,)),
                beta=net[6].beta.reshape((-1,)), tracked=ref.num_batches_tracked,
                grad_mode=L.is_grad_enabled())


# ----------------------------------------------------------------------------------------------
# recurrent networks
# ----------------------------------------------------------------------------------------------
class Vocab:
    """The text chapter's vocabulary: tokens sorted by frequency, <unk> first, reserved
    tokens after it, rare ones dropped."""

    def __init__(self, tokens=None, min_freq=0, reserved_tokens=None):
        tokens = tokens or []
        reserved_tokens = reserved_tokens or []
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        counter = collections.Counter(tokens)
        self.token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = ["<unk>"] + reserved_tokens
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self.token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, 0)
        return [self.__getitem__(token) for token in tokens]

    def to_tokens(self, indices):
        if hasattr(indices, "__len__") and len(indices) > 1:
            return [self.idx_to_token[int(index)] for index in indices]
        return self.idx_to_token[indices]


_TEXT = ("the time traveller for so it will be convenient to speak of him was expounding a "
         "recondite matter to us his grey eyes shone and twinkled and his usually pale face "
         "was flushed and animated the fire burned brightly and the soft radiance of the "
         "incandescent lights in the lilies of silver caught the bubbles that flashed and "
         "passed in our glasses")


def _corpus():
    tokens = list(_TEXT)
    vocab = Vocab(tokens)
    return [vocab[t] for t in tokens], vocab


def seq_data_iter_sequential(L, corpus, batch_size, num_steps, offset):
    """Sequential partitioning: adjacent minibatches continue each other."""
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = L.tensor(corpus[offset: offset + num_tokens])
    Ys = L.tensor(corpus[offset + 1: offset + 1 + num_tokens])
    Xs, Ys = Xs.reshape(batch_size, -1), Ys.reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i: i + num_steps], Ys[:, i: i + num_steps]


@program
def text_preprocessing_vocab_and_random_and_sequential_minibatches(L):
    """The text chapters' data side: a character Vocab by Counter (frequencies, to_tokens),
    random sampling of subsequences from a random offset (Python's random seeded),
    sequential partitioning by reshape of a long tensor, truncate_pad and build_array_nmt's
    valid lengths by (array != pad).type(int32).sum(1); the unigram/bigram frequency
    table by zip of the corpus with itself."""
    corpus, vocab = _corpus()
    rng = random.Random(3)

    def seq_data_iter_random(corpus, batch_size, num_steps):
        corpus = corpus[rng.randint(0, num_steps - 1):]
        num_subseqs = (len(corpus) - 1) // num_steps
        initial_indices = list(range(0, num_subseqs * num_steps, num_steps))
        rng.shuffle(initial_indices)

        def data(pos):
            return corpus[pos: pos + num_steps]

        num_batches = num_subseqs // batch_size
        for i in range(0, batch_size * num_batches, batch_size):
            initial_indices_per_batch = initial_indices[i: i + batch_size]
            X = [data(j) for j in initial_indices_per_batch]
            Y = [data(j + 1) for j in initial_indices_per_batch]
            yield L.tensor(X), L.tensor(Y)

    def truncate_pad(line, num_steps, padding_token):
        if len(line) > num_steps:
            return line[:num_steps]
        return line + [padding_token] * (num_steps - len(line))

    lines = [["go", "."], ["i", "lost", "."], ["he", "is", "calm", ".", "really", "."]]
    tv = Vocab(lines, min_freq=1, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    lines_idx = [tv[l] + [tv["<eos>"]] for l in lines]
    array = L.tensor([truncate_pad(l, 5, tv["<pad>"]) for l in lines_idx])
    valid_len = (array != tv["<pad>"]).type(L.int32).sum(1)
    rand = [(X, Y) for X, Y in seq_data_iter_random(list(range(35)), 2, 5)]
    seq = [(X, Y) for X, Y in seq_data_iter_sequential(L, list(range(35)), 2, 5, offset=3)]
    bigrams = collections.Counter(zip(corpus[:-1], corpus[1:]))
    top = L.tensor([f for _, f in bigrams.most_common(5)])
    return dict(n=len(vocab), first=vocab.to_tokens(list(range(6))), one=vocab.to_tokens(3),
                freqs=vocab.token_freqs[:4], rand=rand, seq=seq, array=array,
                valid_len=valid_len, top=top, unk=tv["never"],
                freq_log=L.log(top.float() / len(corpus)))


def _rnn_params(L, vocab_size, num_hiddens, gates):
    """The scratch recurrent nets' parameters: per gate (W_x, W_h, b), then W_hq, b_q."""
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return L.randn(size=shape) * 0.01

    params = []
    for _ in range(gates):
        params += [normal((num_inputs, num_hiddens)), normal((num_hiddens, num_hiddens)),
                   L.zeros(num_hiddens)]
    params += [normal((num_hiddens, num_outputs)), L.zeros(num_outputs)]
    for param in params:
        param.requires_grad_(True)
    return params


def _rnn_step(L, inputs, state, params):
    W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        H = L.tanh(L.mm(X, W_xh) + L.mm(H, W_hh) + b_h)
        Y = L.mm(H, W_hq) + b_q
        outputs.append(Y)
    return L.cat(outputs, dim=0), (H,)


def _gru_step(L, inputs, state, params):
    W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h, W_hq, b_q = params
    H, = state
    outputs = []
    for X in inputs:
        Z = L.sigmoid((X @ W_xz) + (H @ W_hz) + b_z)
        R = L.sigmoid((X @ W_xr) + (H @ W_hr) + b_r)
        H_tilda = L.tanh((X @ W_xh) + ((R * H) @ W_hh) + b_h)
        H = Z * H + (1 - Z) * H_tilda
        outputs.append(H @ W_hq + b_q)
    return L.cat(outputs, dim=0), (H,)


def _lstm_step(L, inputs, state, params):
    [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q] = params
    (H, C) = state
    outputs = []
    for X in inputs:
        I = L.sigmoid((X @ W_xi) + (H @ W_hi) + b_i)
        F_ = L.sigmoid((X @ W_xf) + (H @ W_hf) + b_f)
        O = L.sigmoid((X @ W_xo) + (H @ W_ho) + b_o)
        C_tilda = L.tanh((X @ W_xc) + (H @ W_hc) + b_c)
        C = F_ * C + I * C_tilda
        H = O * L.tanh(C)
        outputs.append((H @ W_hq) + b_q)
    return L.cat(outputs, dim=0), (H, C)


class RNNModelScratch:
    """A recurrent net from scratch: one-hot of X.T, the step function, a zero state."""

    def __init__(self, L, vocab_size, num_hiddens, gates, forward_fn, n_state):
        self.L, self.vocab_size, self.num_hiddens = L, vocab_size, num_hiddens
        self.params = _rnn_params(L, vocab_size, num_hiddens, gates)
        self.forward_fn, self.n_state = forward_fn, n_state

    def __call__(self, X, state):
        X = self.L.nn.functional.one_hot(X.T, self.vocab_size).type(self.L.float32)
        return self.forward_fn(self.L, X, state, self.params)

    def begin_state(self, batch_size):
        return tuple(self.L.zeros((batch_size, self.num_hiddens)) for _ in range(self.n_state))


def _train_epoch(L, net, batches, lr, use_random_iter, updater=None):
    """The RNN chapter's epoch: state begun or detached, the loss on Y.T flattened, clipping
    by hand to 1, sgd by hand (or an optimizer); the perplexity."""
    state, total, count = None, 0.0, 0
    loss = L.nn.CrossEntropyLoss()
    norms = []
    for X, Y in batches:
        if state is None or use_random_iter:
            state = net.begin_state(batch_size=X.shape[0])
        else:
            if isinstance(net, L.nn.Module) and not isinstance(state, tuple):
                state.detach_()
            else:
                for s in state:
                    s.detach_()
        y = Y.T.reshape(-1)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if updater is None:
            l.backward()
            norms.append(grad_clipping(L, net, 1))
            sgd(L, net.params, lr, batch_size=1)
        else:
            updater.zero_grad()
            l.backward()
            norms.append(grad_clipping(L, net, 1))
            updater.step()
        total += l.item() * y.numel()
        count += y.numel()
    return math.exp(total / count), norms


def _predict(L, prefix, num_preds, net, vocab):
    """Warm up on the prefix, then greedy characters from the argmax."""
    state = net.begin_state(batch_size=1)
    outputs = [vocab[prefix[0]]]

    def get_input():
        return L.tensor([outputs[-1]]).reshape((1, 1))

    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join([vocab.idx_to_token[i] for i in outputs])


@program
def rnn_gru_lstm_from_scratch_with_clipping_detach_and_prediction(L):
    """The RNN, GRU and LSTM from scratch: one_hot(X.T) as float32, parameters by randn *
    0.01 with requires_grad_, the step loops with mm/@, sigmoid gates, cat of the outputs,
    the hidden state (and memory cell) carried across sequential minibatches by detach_,
    gradients clipped by hand through param.grad[:] *= theta / norm, sgd, perplexity by
    exp, and greedy prediction of characters from a prefix."""
    corpus, vocab = _corpus()
    batches = list(seq_data_iter_sequential(L, corpus, 4, 6, offset=2))[:4]
    out = {}
    for name, gates, fn, n_state in (("rnn", 1, _rnn_step, 1), ("gru", 3, _gru_step, 1),
                                     ("lstm", 4, _lstm_step, 2)):
        L.manual_seed(12)
        net = RNNModelScratch(L, len(vocab), 16, gates, fn, n_state)
        ppls = []
        for epoch in range(2):
            ppl, norms = _train_epoch(L, net, batches, lr=1.0, use_random_iter=False)
            ppls.append(ppl)
        out[name] = (ppls, [float(n) for n in norms], _predict(L, "the ", 6, net, vocab),
                     net.params[-2].grad.abs().sum().item())
    X = L.arange(10).reshape((2, 5))
    net = RNNModelScratch(L, 28, 5, 1, _rnn_step, 1)
    Y, new_state = net(X.to(L.device("cpu")), net.begin_state(X.shape[0]))
    return dict(out=out, shapes=(tuple(Y.shape), len(new_state), tuple(new_state[0].shape)),
                onehot=L.nn.functional.one_hot(L.tensor([0, 2]), 5))


@program
def concise_rnn_lstm_and_deep_bidirectional_models_with_rnnmodel_wrapper(L):
    """The concise recurrent nets: an RNNModel wrapping nn.RNN / nn.GRU / nn.LSTM (two layers,
    bidirectional with twice the output features), one-hot of inputs.T, the Linear head on
    Y.reshape((-1, Y.shape[-1])), begin_state giving zeros or an (h, c) tuple of
    num_directions * num_layers rows; trained a few steps with SGD and hand clipping, the
    state detached between steps."""
    nn, F = L.nn, L.nn.functional

    class RNNModel(nn.Module):
        def __init__(self, rnn_layer, vocab_size):
            super().__init__()
            self.rnn = rnn_layer
            self.vocab_size = vocab_size
            self.num_hiddens = self.rnn.hidden_size
            if not self.rnn.bidirectional:
                self.num_directions = 1
                self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
            else:
                self.num_directions = 2
                self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

        def forward(self, inputs, state):
            X = F.one_hot(inputs.T.long(), self.vocab_size)
            X = X.to(L.float32)
            Y, state = self.rnn(X, state)
            output = self.linear(Y.reshape((-1, Y.shape[-1])))
            return output, state

        def begin_state(self, batch_size=1):
            shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
            if not isinstance(self.rnn, nn.LSTM):
                return L.zeros(shape)
            return (L.zeros(shape), L.zeros(shape))

    corpus, vocab = _corpus()
    V = len(vocab)
    batches = list(seq_data_iter_sequential(L, corpus, 3, 5, offset=1))[:3]
    out = {}
    for name, make in (("rnn", lambda: nn.RNN(V, 8)),
                       ("gru2", lambda: nn.GRU(V, 8, num_layers=2)),
                       ("lstm_bi", lambda: nn.LSTM(V, 8, num_layers=2, bidirectional=True))):
        L.manual_seed(13)
        net = RNNModel(make(), V)
        opt = L.optim.SGD(net.parameters(), lr=1.0)
        ppl, norms = _train_epoch(L, net, batches, 1.0, use_random_iter=False, updater=opt)
        state = net.begin_state(2)
        y, state = net(L.tensor([[1, 2, 3], [4, 5, 6]]), state)
        out[name] = (ppl, [float(n) for n in norms], y, state,
                     _predict(L, "the", 4, net, vocab))
    return out


# ----------------------------------------------------------------------------------------------
# sequence to sequence, attention, transformers
# ----------------------------------------------------------------------------------------------
def sequence_mask(L, X, valid_len, value=0):
    """Entries past each row's valid length set to value."""
    maxlen = X.size(1)
    mask = L.arange((maxlen), dtype=L.float32, device=X.device)[None, :] < valid_len[:, None]
    X[~mask] = value
    return X


def masked_softmax(L, X, valid_lens):
    """Softmax over the last axis with the positions past valid_lens masked to -1e6."""
    if valid_lens is None:
        return L.nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = L.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(L, X.reshape(-1, shape[-1]), valid_lens, value=-1e6)
    return L.nn.functional.softmax(X.reshape(shape), dim=-1)


def _attention_classes(L):
    nn = L.nn

    class AdditiveAttention(nn.Module):
        def __init__(self, key_size, query_size, num_hiddens, dropout):
            super().__init__()
            self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
            self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
            self.w_v = nn.Linear(num_hiddens, 1, bias=False)
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens):
            queries, keys = self.W_q(queries), self.W_k(keys)
            features = queries.unsqueeze(2) + keys.unsqueeze(1)
            features = L.tanh(features)
            scores = self.w_v(features).squeeze(-1)
            self.attention_weights = masked_softmax(L, scores, valid_lens)
            return L.bmm(self.dropout(self.attention_weights), values)

    class DotProductAttention(nn.Module):
        def __init__(self, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)

        def forward(self, queries, keys, values, valid_lens=None):
            d = queries.shape[-1]
            scores = L.bmm(queries, keys.transpose(1, 2)) / math.sqrt(d)
            self.attention_weights = masked_softmax(L, scores, valid_lens)
            return L.bmm(self.dropout(self.attention_weights), values)

    def transpose_qkv(X, num_heads):
        X = X.reshape(X.shape[0], X.shape[1], num_heads, -1)
        X = X.permute(0, 2, 1, 3)
        return X.reshape(-1, X.shape[2], X.shape[3])

    def transpose_output(X, num_heads):
        X = X.reshape(-1, num_heads, X.shape[1], X.shape[2])
        X = X.permute(0, 2, 1, 3)
        return X.reshape(X.shape[0], X.shape[1], -1)

    class MultiHeadAttention(nn.Module):
        def __init__(self, key_size, query_size, value_size, num_hiddens, num_heads, dropout,
                     bias=False):
            super().__init__()
            self.num_heads = num_heads
            self.attention = DotProductAttention(dropout)
            self.W_q = nn.Linear(query_size, num_hiddens, bias=bias)
            self.W_k = nn.Linear(key_size, num_hiddens, bias=bias)
            self.W_v = nn.Linear(value_size, num_hiddens, bias=bias)
            self.W_o = nn.Linear(num_hiddens, num_hiddens, bias=bias)

        def forward(self, queries, keys, values, valid_lens):
            queries = transpose_qkv(self.W_q(queries), self.num_heads)
            keys = transpose_qkv(self.W_k(keys), self.num_heads)
            values = transpose_qkv(self.W_v(values), self.num_heads)
            if valid_lens is not None:
                valid_lens = L.repeat_interleave(valid_lens, repeats=self.num_heads, dim=0,
                                                 output_size=self.num_heads * len(valid_lens))
            output = self.attention(queries, keys, values, valid_lens)
            return self.W_o(transpose_output(output, self.num_heads))

    class PositionalEncoding(nn.Module):
        def __init__(self, num_hiddens, dropout, max_len=1000):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.P = L.zeros((1, max_len, num_hiddens))
            X = L.arange(max_len, dtype=L.float32).reshape(-1, 1) / L.pow(
                10000, L.arange(0, num_hiddens, 2, dtype=L.float32) / num_hiddens)
            self.P[:, :, 0::2] = L.sin(X)
            self.P[:, :, 1::2] = L.cos(X)

        def forward(self, X):
            X = X + self.P[:, :X.shape[1], :].to(X.device)
            return self.dropout(X)

    return AdditiveAttention, DotProductAttention, MultiHeadAttention, PositionalEncoding


@program
def masked_softmax_additive_and_scaled_dot_product_attention(L):
    """The attention-scoring section: masked_softmax with 1-d valid lengths expanded by
    repeat_interleave and 2-d ones reshaped, sequence_mask writing -1e6 through a boolean
    ~mask, additive attention broadcasting queries.unsqueeze(2) + keys.unsqueeze(1) through
    tanh, scaled dot-product attention by bmm over keys.transpose(1, 2), values from
    arange(40).reshape(1, 10, 4).repeat(2, 1, 1), the weights' gradients; Nadaraya-Watson
    kernel regression with a learnable width by repeat_interleave and a bmm."""
    nn = L.nn
    Additive, Dot, _, _ = _attention_classes(L)
    L.manual_seed(14)
    X = L.rand(2, 2, 4)
    m1 = masked_softmax(L, X, L.tensor([2, 3]))
    m2 = masked_softmax(L, X, L.tensor([[1, 3], [2, 4]]))
    queries, keys = L.normal(0, 1, (2, 1, 20)), L.ones((2, 10, 2))
    values = L.arange(40, dtype=L.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    valid_lens = L.tensor([2, 6])
    add = Additive(key_size=2, query_size=20, num_hiddens=8, dropout=0.1)
    add.eval()
    a_out = add(queries, keys, values, valid_lens)
    a_out.sum().backward()
    dot = Dot(dropout=0.5)
    dot.eval()
    q2 = L.normal(0, 1, (2, 1, 2), requires_grad=True)
    d_out = dot(q2, keys, values, valid_lens)
    d_out.pow(2).sum().backward()
    seq = sequence_mask(L, L.tensor([[1, 2, 3], [4, 5, 6]]), L.tensor([1, 2]))
    x_train, _ = L.sort(L.rand(12) * 5)
    y_train = 2 * L.sin(x_train) + x_train ** 0.8 + L.normal(0.0, 0.5, (12,))
    x_test = L.arange(0, 5, 0.5)
    w = nn.Parameter(L.rand((1,)))
    X_tile = x_train.repeat((12, 1))
    Y_tile = y_train.repeat((12, 1))
    keys_nw = X_tile[(1 - L.eye(12)).type(L.bool)].reshape((12, -1))
    values_nw = Y_tile[(1 - L.eye(12)).type(L.bool)].reshape((12, -1))
    opt = L.optim.SGD([w], lr=0.5)
    nw = []
    for _ in range(3):
        opt.zero_grad()
        q = x_train.repeat_interleave(keys_nw.shape[1]).reshape((-1, keys_nw.shape[1]))
        attn = nn.functional.softmax(-((q - keys_nw) * w) ** 2 / 2, dim=1)
        y_hat = L.bmm(attn.unsqueeze(1), values_nw.unsqueeze(-1)).reshape(-1)
        l = ((y_hat - y_train) ** 2 / 2).sum()
        l.backward()
        opt.step()
        nw.append(l.item())
    qt = x_test.repeat_interleave(12).reshape((-1, 12))
    pred = L.softmax(-((qt - x_train) * w.detach()) ** 2 / 2, dim=1) @ y_train
    errs = [err(lambda: L.repeat_interleave(L.tensor([2, 3]), L.tensor([1, 2, 3]))),
            err(lambda: L.repeat_interleave(valid_lens, 2, output_size=3)),
            err(lambda: L.repeat_interleave(valid_lens, L.tensor([2, 1]), output_size=4)),
            err(lambda: L.repeat_interleave(valid_lens, L.tensor([[2, 2]]))),
            err(lambda: L.bmm(queries, keys)),
            err(lambda: masked_softmax(L, X, L.tensor([[1, 3, 2], [2, 4, 1]])))]
    return dict(m1=m1, m2=m2, a_out=a_out, add_w=add.attention_weights,
                add_grads=grads_of(add), d_out=d_out, q_grad=q2.grad,
                dot_w=dot.attention_weights, seq=seq, nw=nw, w=w, pred=pred, errs=errs,
                ri=(L.repeat_interleave(L.tensor([[1, 2], [3, 4]]), 2, output_size=8),
                    L.repeat_interleave(valid_lens, L.tensor([2, 1]), output_size=3),
                    L.repeat_interleave(L.tensor([[1, 2], [3, 4]]), L.tensor([1, 2]), dim=0),
                    L.repeat_interleave(L.tensor([2, 0, 1]))))


@program
def multi_head_attention_with_transpose_qkv_and_positional_encoding(L):
    """Multi-head attention as the book builds it: W_q/W_k/W_v/W_o Linear layers,
    transpose_qkv reshaping to (batch * heads, steps, d / heads) through permute and its
    inverse transpose_output, valid_lens repeated per head by repeat_interleave(dim=0),
    self-attention over a batch; the sinusoidal PositionalEncoding written into P[:, :, 0::2]
    and P[:, :, 1::2]; compared with nn.MultiheadAttention given the same projections and a
    key_padding_mask from the valid lengths."""
    nn = L.nn
    _, _, MHA, PosEnc = _attention_classes(L)
    L.manual_seed(15)
    num_hiddens, num_heads = 8, 2
    attention = MHA(num_hiddens, num_hiddens, num_hiddens, num_hiddens, num_heads, 0.5)
    attention.eval()
    batch_size, num_queries = 2, 4
    num_kvpairs, valid_lens = 6, L.tensor([3, 2])
    X = L.tensor(_f32(batch_size, num_queries, num_hiddens, seed=19), requires_grad=True)
    Y = L.tensor(_f32(batch_size, num_kvpairs, num_hiddens, seed=20))
    out = attention(X, Y, Y, valid_lens)
    out.sum().backward()
    ref = nn.MultiheadAttention(num_hiddens, num_heads, bias=False, batch_first=True)
    with L.no_grad():
        ref.in_proj_weight.copy_(L.cat([attention.W_q.weight, attention.W_k.weight,
                                        attention.W_v.weight]))
        ref.out_proj.weight.copy_(attention.W_o.weight)
    pad = L.arange(num_kvpairs)[None, :] >= valid_lens[:, None]
    ref_out, ref_w = ref(X, Y, Y, key_padding_mask=pad)
    pos = PosEnc(num_hiddens, 0)
    pos.eval()
    Xp = pos(L.zeros((1, 10, num_hiddens)))
    P = pos.P[:, :Xp.shape[1], :]
    self_att = attention(Y, Y, Y, L.tensor([[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]]))
    return dict(out=out, xgrad=X.grad, close=float((out - ref_out).abs().max()) < 1e-5,
                ref_w=ref_w, P=P[0, :, 4:8], self_att=self_att,
                binary=[format(i, ">03b") for i in range(4)],
                wgrads=grads_of(attention))


@program
def transformer_encoder_decoder_blocks_with_state_caches(L):
    """The Transformer chapter: PositionWiseFFN, AddNorm (dropout then LayerNorm of the sum),
    EncoderBlock and TransformerEncoder scaling embeddings by sqrt(num_hiddens) and keeping
    each block's attention weights, DecoderBlock whose state[2][i] caches the keys seen so far
    (cat on dim 1 at prediction), dec_valid_lens by arange(1, steps + 1).repeat(batch, 1) in
    training; a teacher-forced loss with the masked cross-entropy, a step of Adam, and
    greedy decoding step by step in eval mode."""
    nn = L.nn
    _, _, MHA, PosEnc = _attention_classes(L)

    class PositionWiseFFN(nn.Module):
        def __init__(self, ffn_num_hiddens, ffn_num_outputs):
            super().__init__()
            self.dense1 = nn.LazyLinear(ffn_num_hiddens)
            self.relu = nn.ReLU()
            self.dense2 = nn.Linear(ffn_num_hiddens, ffn_num_outputs)

        def forward(self, X):
            return self.dense2(self.relu(self.dense1(X)))

    class AddNorm(nn.Module):
        def __init__(self, norm_shape, dropout):
            super().__init__()
            self.dropout = nn.Dropout(dropout)
            self.ln = nn.LayerNorm(norm_shape)

        def forward(self, X, Y):
            return self.ln(self.dropout(Y) + X)

    class EncoderBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
            super().__init__()
            self.attention = MHA(num_hiddens, num_hiddens, num_hiddens, num_hiddens, num_heads,
                                 dropout)
            self.addnorm1 = AddNorm(num_hiddens, dropout)
            self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
            self.addnorm2 = AddNorm(num_hiddens, dropout)

        def forward(self, X, valid_lens):
            Y = self.addnorm1(X, self.attention(X, X, X, valid_lens))
            return self.addnorm2(Y, self.ffn(Y))

    class TransformerEncoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout):
            super().__init__()
            self.num_hiddens = num_hiddens
            self.embedding = nn.Embedding(vocab_size, num_hiddens)
            self.pos_encoding = PosEnc(num_hiddens, dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module("block" + str(i), EncoderBlock(
                    num_hiddens, ffn_num_hiddens, num_heads, dropout))

        def forward(self, X, valid_lens):
            X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
            self.attention_weights = [None] * len(self.blks)
            for i, blk in enumerate(self.blks):
                X = blk(X, valid_lens)
                self.attention_weights[i] = blk.attention.attention.attention_weights
            return X

    class DecoderBlock(nn.Module):
        def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout, i):
            super().__init__()
            self.i = i
            self.attention1 = MHA(num_hiddens, num_hiddens, num_hiddens, num_hiddens,
                                  num_heads, dropout)
            self.addnorm1 = AddNorm(num_hiddens, dropout)
            self.attention2 = MHA(num_hiddens, num_hiddens, num_hiddens, num_hiddens,
                                  num_heads, dropout)
            self.addnorm2 = AddNorm(num_hiddens, dropout)
            self.ffn = PositionWiseFFN(ffn_num_hiddens, num_hiddens)
            self.addnorm3 = AddNorm(num_hiddens, dropout)

        def forward(self, X, state):
            enc_outputs, enc_valid_lens = state[0], state[1]
            if state[2][self.i] is None:
                key_values = X
            else:
                key_values = L.cat((state[2][self.i], X), dim=1)
            state[2][self.i] = key_values
            if self.training:
                batch_size, num_steps, _ = X.shape
                dec_valid_lens = L.arange(1, num_steps + 1, device=X.device).repeat(
                    batch_size, 1)
            else:
                dec_valid_lens = None
            X2 = self.attention1(X, key_values, key_values, dec_valid_lens)
            Y = self.addnorm1(X, X2)
            Y2 = self.attention2(Y, enc_outputs, enc_outputs, enc_valid_lens)
            Z = self.addnorm2(Y, Y2)
            return self.addnorm3(Z, self.ffn(Z)), state

    class TransformerDecoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout):
            super().__init__()
            self.num_hiddens, self.num_blks = num_hiddens, num_blks
            self.embedding = nn.Embedding(vocab_size, num_hiddens)
            self.pos_encoding = PosEnc(num_hiddens, dropout)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module("block" + str(i), DecoderBlock(
                    num_hiddens, ffn_num_hiddens, num_heads, dropout, i))
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, enc_valid_lens):
            return [enc_outputs, enc_valid_lens, [None] * self.num_blks]

        def forward(self, X, state):
            X = self.pos_encoding(self.embedding(X) * math.sqrt(self.num_hiddens))
            for blk in self.blks:
                X, state = blk(X, state)
            return self.dense(X), state

    L.manual_seed(16)
    V, H = 12, 8
    enc = TransformerEncoder(V, H, 16, 2, 2, 0.0)
    dec = TransformerDecoder(V, H, 16, 2, 2, 0.0)
    src = L.tensor([[3, 4, 5, 1, 1], [6, 7, 8, 9, 2]])
    src_len = L.tensor([3, 5])
    tgt = L.tensor([[2, 5, 6, 7], [2, 8, 9, 3]])
    label = L.tensor([[5, 6, 7, 3], [8, 9, 3, 1]])
    label_len = L.tensor([4, 3])
    lazy = [type(enc.blks[0].ffn.dense1.weight).__name__]
    with L.no_grad():
        dec(tgt, dec.init_state(enc(src, src_len), src_len))
    lazy += [type(enc.blks[0].ffn.dense1).__name__, tuple(dec.blks[1].ffn.dense1.weight.shape)]
    opt = L.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=0.01)
    ls = []
    for _ in range(2):
        enc.train(), dec.train()
        enc_out = enc(src, src_len)
        Y_hat, _ = dec(tgt, dec.init_state(enc_out, src_len))
        l = nn.functional.cross_entropy(Y_hat.permute(0, 2, 1), label, reduction="none")
        weights = sequence_mask(L, L.ones_like(label, dtype=L.float32), label_len)
        l = (l * weights).sum() / weights.sum()
        opt.zero_grad()
        l.backward()
        opt.step()
        ls.append(l.item())
    enc.eval(), dec.eval()
    with L.no_grad():
        enc_out = enc(src[:1], src_len[:1])
        state = dec.init_state(enc_out, src_len[:1])
        dec_X = L.tensor([[2]])
        outs = []
        for _ in range(4):
            Y, state = dec(dec_X, state)
            dec_X = Y.argmax(dim=2)
            outs.append(dec_X.squeeze(dim=0).type(L.int32).item())
    return dict(ls=ls, outs=outs, cache=tuple(state[2][0].shape),
                attn=enc.attention_weights[1], enc_out=enc_out, lazy=lazy)


@program
def seq2seq_gru_with_masked_softmax_ce_loss_bahdanau_attention_and_bleu(L):
    """Seq2seq by the book: a GRU encoder over the embedding permuted to time-major, a GRU
    decoder fed the context (the encoder's last top-layer state repeated over steps) cat
    with its embeddings, MaskedSoftmaxCELoss subclassing nn.CrossEntropyLoss with reduction
    set to 'none' in forward and the logits permuted to (batch, vocab, steps), GRU weights
    initialised by xavier_uniform_ through _flat_weights_names, teacher forcing with <bos>
    cat in front, hand clipping; Bahdanau's attention decoder; greedy prediction stopping at
    <eos> and BLEU by n-gram counts."""
    nn = L.nn
    Additive, _, _, _ = _attention_classes(L)

    class Seq2SeqEncoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size, num_hiddens, num_layers, dropout=dropout)

        def forward(self, X, *args):
            X = self.embedding(X)
            X = X.permute(1, 0, 2)
            output, state = self.rnn(X)
            return output, state

    class Seq2SeqDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                              dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, *args):
            return enc_outputs[1]

        def forward(self, X, state):
            X = self.embedding(X).permute(1, 0, 2)
            context = state[-1].repeat(X.shape[0], 1, 1)
            X_and_context = L.cat((X, context), 2)
            output, state = self.rnn(X_and_context, state)
            output = self.dense(output).permute(1, 0, 2)
            return output, state

    class AttentionDecoder(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers):
            super().__init__()
            self.attention = Additive(num_hiddens, num_hiddens, num_hiddens, 0)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, enc_valid_lens):
            outputs, hidden_state = enc_outputs
            return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

        def forward(self, X, state):
            enc_outputs, hidden_state, enc_valid_lens = state
            X = self.embedding(X).permute(1, 0, 2)
            outputs, self._attention_weights = [], []
            for x in X:
                query = L.unsqueeze(hidden_state[-1], dim=1)
                context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
                x = L.cat((context, L.unsqueeze(x, dim=1)), dim=-1)
                out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
                outputs.append(out)
                self._attention_weights.append(self.attention.attention_weights)
            outputs = self.dense(L.cat(outputs, dim=0))
            return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

    class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
        def forward(self, pred, label, valid_len):
            weights = L.ones_like(label)
            weights = sequence_mask(L, weights, valid_len)
            self.reduction = "none"
            unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
            return (unweighted_loss * weights).mean(dim=1)

    def xavier_init_weights(m):
        if type(m) == nn.Linear:
            nn.init.xavier_uniform_(m.weight)
        if type(m) == nn.GRU:
            for param in m._flat_weights_names:
                if "weight" in param:
                    nn.init.xavier_uniform_(m._parameters[param])

    def bleu(pred_seq, label_seq, k):
        pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
        len_pred, len_label = len(pred_tokens), len(label_tokens)
        score = math.exp(min(0, 1 - len_label / len_pred))
        for n in range(1, k + 1):
            num_matches, label_subs = 0, collections.defaultdict(int)
            for i in range(len_label - n + 1):
                label_subs[" ".join(label_tokens[i: i + n])] += 1
            for i in range(len_pred - n + 1):
                if label_subs[" ".join(pred_tokens[i: i + n])] > 0:
                    num_matches += 1
                    label_subs[" ".join(pred_tokens[i: i + n])] -= 1
            score *= math.pow(num_matches / max(len_pred - n + 1, 1), math.pow(0.5, n))
        return score

    V, bos, eos = 10, 1, 2
    src = L.tensor([[3, 4, 5, 2, 0], [6, 7, 2, 0, 0], [8, 9, 3, 4, 2]])
    src_len = L.tensor([4, 3, 5])
    Y = L.tensor([[4, 5, 3, 2, 0], [7, 6, 2, 0, 0], [9, 8, 4, 3, 2]])
    Y_len = L.tensor([4, 3, 5])
    loss = MaskedSoftmaxCELoss()
    results = {}
    for name in ("plain", "attention"):
        L.manual_seed(17)
        encoder = Seq2SeqEncoder(V, 6, 8, 2)
        decoder = (Seq2SeqDecoder(V, 6, 8, 2) if name == "plain" else
                   AttentionDecoder(V, 6, 8, 2))
        encoder.apply(xavier_init_weights)
        decoder.apply(xavier_init_weights)
        optimizer = L.optim.Adam(list(encoder.parameters()) + list(decoder.parameters()),
                                 lr=0.02)
        ls = []
        for _ in range(3):
            optimizer.zero_grad()
            bos_col = L.tensor([bos] * Y.shape[0]).reshape(-1, 1)
            dec_input = L.cat([bos_col, Y[:, :-1]], 1)
            enc_outputs = encoder(src, src_len)
            Y_hat, _ = decoder(dec_input, decoder.init_state(enc_outputs, src_len))
            l = loss(Y_hat, Y, Y_len)
            l.sum().backward()
            params = list(encoder.parameters()) + list(decoder.parameters())
            norm = L.sqrt(sum(L.sum(p.grad ** 2) for p in params))
            if norm > 1:
                for p in params:
                    p.grad[:] *= 1 / norm
            optimizer.step()
            ls.append(l.sum().item())
        encoder.eval(), decoder.eval()
        enc_X = L.unsqueeze(src[0], dim=0)
        enc_outputs = encoder(enc_X, src_len[:1])
        dec_state = decoder.init_state(enc_outputs, src_len[:1])
        dec_X = L.unsqueeze(L.tensor([bos], dtype=L.long), dim=0)
        output_seq = []
        for _ in range(6):
            Yp, dec_state = decoder(dec_X, dec_state)
            dec_X = Yp.argmax(dim=2)
            pred = dec_X.squeeze(dim=0).type(L.int32).item()
            if pred == eos:
                break
            output_seq.append(pred)
        results[name] = (ls, output_seq, Yp, len(list(encoder.rnn._flat_weights_names)))
    demo = loss(L.ones(3, 4, 10), L.ones((3, 4), dtype=L.long), L.tensor([4, 2, 0]))
    return dict(results=results, demo=demo,
                bleu=[bleu("a b c d", "a b c d", 2), bleu("a b x d e", "a b c d", 2),
                      bleu("a", "a b c", 1)])


# ----------------------------------------------------------------------------------------------
# optimisation algorithms
# ----------------------------------------------------------------------------------------------
@program
def optimisation_chapter_algorithms_from_scratch_against_torch_optim(L):
    """The optimisation chapter: gradient descent and Newton's method on f(x) = cosh(cx) by
    autograd; then momentum, AdaGrad, RMSProp, Adadelta, Adam and Yogi written as
    (init_states, update) pairs over [w, b] with states in tuples and a hyperparams dict
    (Adam's t counter), training linear regression by minibatch; each compared with the
    torch.optim class given matching settings (SGD momentum with dampening 0, Adagrad with
    eps 1e-6, RMSprop alpha = gamma, Adadelta rho, Adam with zero weight decay)."""
    L.manual_seed(18)
    X, y = synthetic_data(L, L.tensor([1.5, -2.0, 0.5]), 0.3, 40)
    batches = [(X[i:i + 10], y[i:i + 10]) for i in range(0, 40, 10)]

    def loss_of(w, b, Xb, yb):
        return ((Xb @ w + b - yb) ** 2 / 2).mean()

    def init_momentum_states(feature_dim):
        return (L.zeros((feature_dim, 1)), L.zeros(1))

    def sgd_momentum(params, states, hp):
        for p, v in zip(params, states):
            with L.no_grad():
                v[:] = hp["momentum"] * v + p.grad
                p[:] -= hp["lr"] * v
            p.grad.data.zero_()

    def init_adagrad_states(feature_dim):
        return (L.zeros((feature_dim, 1)), L.zeros(1))

    def adagrad(params, states, hp):
        eps = 1e-6
        for p, s in zip(params, states):
            with L.no_grad():
                s[:] += L.square(p.grad)
                p[:] -= hp["lr"] * p.grad / L.sqrt(s + eps)
            p.grad.data.zero_()

    def rmsprop(params, states, hp):
        gamma, eps = hp["gamma"], 1e-6
        for p, s in zip(params, states):
            with L.no_grad():
                s[:] = gamma * s + (1 - gamma) * L.square(p.grad)
                p[:] -= hp["lr"] * p.grad / L.sqrt(s + eps)
            p.grad.data.zero_()

    def init_adadelta_states(feature_dim):
        return ((L.zeros((feature_dim, 1)), L.zeros((feature_dim, 1))),
                (L.zeros(1), L.zeros(1)))

    def adadelta(params, states, hp):
        rho, eps = hp["rho"], 1e-5
        for p, (s, delta) in zip(params, states):
            with L.no_grad():
                s[:] = rho * s + (1 - rho) * L.square(p.grad)
                g = (L.sqrt(delta + eps) / L.sqrt(s + eps)) * p.grad
                p[:] -= hp["lr"] * g
                delta[:] = rho * delta + (1 - rho) * g * g
            p.grad.data.zero_()

    def adam(params, states, hp):
        beta1, beta2, eps = 0.9, 0.999, 1e-6
        for p, (v, s) in zip(params, states):
            with L.no_grad():
                v[:] = beta1 * v + (1 - beta1) * p.grad
                s[:] = beta2 * s + (1 - beta2) * L.square(p.grad)
                v_bias_corr = v / (1 - beta1 ** hp["t"])
                s_bias_corr = s / (1 - beta2 ** hp["t"])
                p[:] -= hp["lr"] * v_bias_corr / (L.sqrt(s_bias_corr) + eps)
            p.grad.data.zero_()
        hp["t"] += 1

    def yogi(params, states, hp):
        beta1, beta2, eps = 0.9, 0.999, 1e-3
        for p, (v, s) in zip(params, states):
            with L.no_grad():
                v[:] = beta1 * v + (1 - beta1) * p.grad
                s[:] = s + (1 - beta2) * L.sign(L.square(p.grad) - s) * L.square(p.grad)
                v_bias_corr = v / (1 - beta1 ** hp["t"])
                s_bias_corr = s / (1 - beta2 ** hp["t"])
                p[:] -= hp["lr"] * v_bias_corr / (L.sqrt(s_bias_corr) + eps)
            p.grad.data.zero_()
        hp["t"] += 1

    def fresh():
        w = L.normal(mean=0.0, std=0.01, size=(3, 1), requires_grad=True)
        b = L.zeros((1), requires_grad=True)
        return w, b

    def train_scratch(update, states, hp):
        L.manual_seed(19)
        w, b = fresh()
        ls = []
        for Xb, yb in batches * 2:
            l = loss_of(w, b, Xb, yb)
            l.backward()
            update([w, b], states, hp)
            ls.append(l.item())
        return ls, w.detach().clone()

    def train_torch(make):
        L.manual_seed(19)
        w, b = fresh()
        opt = make([w, b])
        ls = []
        for Xb, yb in batches * 2:
            opt.zero_grad()
            l = loss_of(w, b, Xb, yb)
            l.backward()
            opt.step()
            ls.append(l.item())
        return ls, w.detach().clone()

    opt = L.optim
    runs = {
        "momentum": (train_scratch(sgd_momentum, init_momentum_states(3),
                                   {"lr": 0.05, "momentum": 0.9}),
                     train_torch(lambda p: opt.SGD(p, lr=0.05, momentum=0.9))),
        "adagrad": (train_scratch(adagrad, init_adagrad_states(3), {"lr": 0.1}),
                    train_torch(lambda p: opt.Adagrad(p, lr=0.1, eps=1e-6))),
        "rmsprop": (train_scratch(rmsprop, init_adagrad_states(3), {"lr": 0.01, "gamma": 0.9}),
                    train_torch(lambda p: opt.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-6))),
        "adadelta": (train_scratch(adadelta, init_adadelta_states(3), {"rho": 0.9, "lr": 1.0}),
                     train_torch(lambda p: opt.Adadelta(p, lr=1.0, rho=0.9, eps=1e-5))),
        "adam": (train_scratch(adam, init_adadelta_states(3), {"lr": 0.01, "t": 1}),
                 train_torch(lambda p: opt.Adam(p, lr=0.01, eps=1e-6))),
        "yogi": (train_scratch(yogi, init_adadelta_states(3), {"lr": 0.01, "t": 1}), None),
    }
    c = L.tensor(0.5)
    x = L.tensor([10.0], requires_grad=True)
    newton = []
    for _ in range(5):
        f = L.cosh(c * x)
        g, = L.autograd.grad(f, x, create_graph=True)
        h, = L.autograd.grad(g, x)
        with L.no_grad():
            x -= g / h
        newton.append(x.item())
    xg = L.tensor([10.0], requires_grad=True)
    gd = []
    for _ in range(10):
        fx = xg ** 2
        fx.backward()
        with L.no_grad():
            xg -= 0.2 * xg.grad
        xg.grad = None
        gd.append(xg.item())
    return dict(runs=runs, newton=newton, gd=gd)


# ----------------------------------------------------------------------------------------------
# computer vision: anchor boxes and detection
# ----------------------------------------------------------------------------------------------
def box_corner_to_center(L, boxes):
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    w, h = x2 - x1, y2 - y1
    return L.stack((cx, cy, w, h), axis=-1)


def box_center_to_corner(L, boxes):
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    x1, y1 = cx - 0.5 * w, cy - 0.5 * h
    x2, y2 = cx + 0.5 * w, cy + 0.5 * h
    return L.stack((x1, y1, x2, y2), axis=-1)


def multibox_prior(L, data, sizes, ratios):
    """Anchors centred on every pixel: n sizes with the first ratio, then the first size with
    the other ratios, as (1, h * w * (n + m - 1), 4) corner boxes scaled to [0, 1]."""
    in_height, in_width = data.shape[-2:]
    device, num_sizes, num_ratios = data.device, len(sizes), len(ratios)
    boxes_per_pixel = (num_sizes + num_ratios - 1)
    size_tensor = L.tensor(sizes, device=device)
    ratio_tensor = L.tensor(ratios, device=device)
    offset_h, offset_w = 0.5, 0.5
    steps_h = 1.0 / in_height
    steps_w = 1.0 / in_width
    center_h = (L.arange(in_height, device=device) + offset_h) * steps_h
    center_w = (L.arange(in_width, device=device) + offset_w) * steps_w
    shift_y, shift_x = L.meshgrid(center_h, center_w, indexing="ij")
    shift_y, shift_x = shift_y.reshape(-1), shift_x.reshape(-1)
    w = L.cat((size_tensor * L.sqrt(ratio_tensor[0]),
               sizes[0] * L.sqrt(ratio_tensor[1:]))) * in_height / in_width
    h = L.cat((size_tensor / L.sqrt(ratio_tensor[0]), sizes[0] / L.sqrt(ratio_tensor[1:])))
    anchor_manipulations = L.stack((-w, -h, w, h)).T.repeat(in_height * in_width, 1) / 2
    out_grid = L.stack([shift_x, shift_y, shift_x, shift_y], dim=1).repeat_interleave(
        boxes_per_pixel, dim=0)
    output = out_grid + anchor_manipulations
    return output.unsqueeze(0)


def box_iou(L, boxes1, boxes2):
    """Pairwise IoU of corner boxes by broadcasting."""
    def box_area(boxes):
        return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])

    areas1, areas2 = box_area(boxes1), box_area(boxes2)
    inter_upperlefts = L.max(boxes1[:, None, :2], boxes2[:, :2])
    inter_lowerrights = L.min(boxes1[:, None, 2:], boxes2[:, 2:])
    inters = (inter_lowerrights - inter_upperlefts).clamp(min=0)
    inter_areas = inters[:, :, 0] * inters[:, :, 1]
    union_areas = areas1[:, None] + areas2 - inter_areas
    return inter_areas / union_areas


def assign_anchor_to_bbox(L, ground_truth, anchors, device, iou_threshold=0.5):
    """Each anchor's ground-truth box: the best above the threshold, then for each box in
    turn the globally best pair, its row and column discarded."""
    num_anchors, num_gt_boxes = anchors.shape[0], ground_truth.shape[0]
    jaccard = box_iou(L, anchors, ground_truth)
    anchors_bbox_map = L.full((num_anchors,), -1, dtype=L.long, device=device)
    max_ious, indices = L.max(jaccard, dim=1)
    anc_i = L.nonzero(max_ious >= iou_threshold).reshape(-1)
    box_j = indices[max_ious >= iou_threshold]
    anchors_bbox_map[anc_i] = box_j
    col_discard = L.full((num_anchors,), -1)
    row_discard = L.full((num_gt_boxes,), -1)
    for _ in range(num_gt_boxes):
        max_idx = L.argmax(jaccard)
        box_idx = (max_idx % num_gt_boxes).long()
        anc_idx = (max_idx / num_gt_boxes).long()
        anchors_bbox_map[anc_idx] = box_idx
        jaccard[:, box_idx] = col_discard
        jaccard[anc_idx, :] = row_discard
    return anchors_bbox_map


def offset_boxes(L, anchors, assigned_bb, eps=1e-6):
    c_anc = box_corner_to_center(L, anchors)
    c_assigned_bb = box_corner_to_center(L, assigned_bb)
    offset_xy = 10 * (c_assigned_bb[:, :2] - c_anc[:, :2]) / c_anc[:, 2:]
    offset_wh = 5 * L.log(eps + c_assigned_bb[:, 2:] / c_anc[:, 2:])
    return L.cat([offset_xy, offset_wh], axis=1)


def offset_inverse(L, anchors, offset_preds):
    anc = box_corner_to_center(L, anchors)
    pred_bbox_xy = (offset_preds[:, :2] * anc[:, 2:] / 10) + anc[:, :2]
    pred_bbox_wh = L.exp(offset_preds[:, 2:] / 5) * anc[:, 2:]
    pred_bbox = L.cat((pred_bbox_xy, pred_bbox_wh), axis=1)
    return box_center_to_corner(L, pred_bbox)


def nms(L, boxes, scores, iou_threshold):
    """Greedy non-maximum suppression by argsort and a loop."""
    B = L.argsort(scores, dim=-1, descending=True)
    keep = []
    while B.numel() > 0:
        i = B[0]
        keep.append(i)
        if B.numel() == 1:
            break
        iou = box_iou(L, boxes[i, :].reshape(-1, 4), boxes[B[1:], :].reshape(-1, 4)).reshape(-1)
        inds = L.nonzero(iou <= iou_threshold).reshape(-1)
        B = B[inds + 1]
    return L.tensor(keep, device=boxes.device)


@program
def anchor_boxes_iou_assignment_and_multibox_target(L):
    """The object-detection sections: multibox_prior by meshgrid(indexing='ij'), stack,
    .T.repeat and repeat_interleave; corner/center conversions round-tripping; box_iou by
    broadcast max/min and clamp(min=0); assign_anchor_to_bbox with nonzero, boolean
    indexing, argmax over the flattened IoU, % and / then long(), whole rows and columns
    overwritten by full(-1); multibox_target's offsets (log of ratios), the bbox mask by
    unsqueeze(-1).repeat(1, 4) and class labels shifted by one; the anchor count per
    pixel."""
    img = L.zeros((1, 3, 5, 6))
    Y = multibox_prior(L, img, sizes=[0.75, 0.5, 0.25], ratios=[1, 2, 0.5])
    boxes = Y.reshape(5, 6, 5, 4)
    ground_truth = L.tensor([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]])
    anchors = L.tensor([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                        [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]])

    def multibox_target(anchors, labels):
        batch_size, anchors = labels.shape[0], anchors.squeeze(0)
        batch_offset, batch_mask, batch_class_labels = [], [], []
        device, num_anchors = anchors.device, anchors.shape[0]
        for i in range(batch_size):
            label = labels[i, :, :]
            anchors_bbox_map = assign_anchor_to_bbox(L, label[:, 1:], anchors, device)
            bbox_mask = ((anchors_bbox_map >= 0).float().unsqueeze(-1)).repeat(1, 4)
            class_labels = L.zeros(num_anchors, dtype=L.long, device=device)
            assigned_bb = L.zeros((num_anchors, 4), dtype=L.float32, device=device)
            indices_true = L.nonzero(anchors_bbox_map >= 0)
            bb_idx = anchors_bbox_map[indices_true]
            class_labels[indices_true] = label[bb_idx, 0].long() + 1
            assigned_bb[indices_true] = label[bb_idx, 1:]
            offset = offset_boxes(L, anchors, assigned_bb) * bbox_mask
            batch_offset.append(offset.reshape(-1))
            batch_mask.append(bbox_mask.reshape(-1))
            batch_class_labels.append(class_labels)
        return (L.stack(batch_offset), L.stack(batch_mask), L.stack(batch_class_labels))

    labels = multibox_target(anchors.unsqueeze(dim=0), ground_truth.unsqueeze(dim=0))
    round_trip = box_center_to_corner(L, box_corner_to_center(L, anchors))
    iou = box_iou(L, anchors, ground_truth[:, 1:])
    inv = offset_inverse(L, anchors, offset_boxes(L, anchors, anchors.flip(0)))
    center = L.arange(5)
    mesh_errs = [err(lambda: L.meshgrid(center, (center + 0.5) / 5, indexing="ij")),
                 err(lambda: L.meshgrid(center[:, None], center.float(), indexing="ji")),
                 err(lambda: L.meshgrid(L.zeros(2, 2), L.zeros(3), indexing="ji"))]
    return dict(shape=tuple(Y.shape), first=boxes[2, 3, 0, :], last=Y[0, -3:],
                mesh_errs=mesh_errs,
                labels=labels, iou=iou, rt=round_trip, inv=inv,
                per_pixel=Y.shape[1] // (5 * 6),
                assigned=assign_anchor_to_bbox(L, ground_truth[:, 1:], anchors, "cpu", 0.3))


@program
def nms_and_multibox_detection_with_background_threshold(L):
    """Prediction with anchors: nms by argsort(descending) and a while loop over the kept
    order (nonzero of iou <= threshold shifted by one), multibox_detection taking the
    softmax-like class probabilities, max over classes from row 1, offset_inverse, the
    non-kept indices found by cat and unique(return_counts=True), the class set to -1 there
    and below a positive threshold, the scores of the background flipped; its output stacked
    as (class, score, box) rows."""
    anchors = L.tensor([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                        [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]])
    offset_preds = L.tensor([0] * anchors.numel(), dtype=L.float32)
    cls_probs = L.tensor([[0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])

    def multibox_detection(cls_probs, offset_preds, anchors, nms_threshold=0.5,
                           pos_threshold=0.009999999):
        device, batch_size = cls_probs.device, cls_probs.shape[0]
        anchors = anchors.squeeze(0)
        num_anchors = cls_probs.shape[2]
        out = []
        for i in range(batch_size):
            cls_prob, offset_pred = cls_probs[i], offset_preds[i].reshape(-1, 4)
            conf, class_id = L.max(cls_prob[1:], 0)
            predicted_bb = offset_inverse(L, anchors, offset_pred)
            keep = nms(L, predicted_bb, conf, nms_threshold)
            all_idx = L.arange(num_anchors, dtype=L.long, device=device)
            combined = L.cat((keep, all_idx))
            uniques, counts = combined.unique(return_counts=True)
            non_keep = uniques[counts == 1]
            all_id_sorted = L.cat((keep, non_keep))
            class_id[non_keep] = -1
            class_id = class_id[all_id_sorted]
            conf, predicted_bb = conf[all_id_sorted], predicted_bb[all_id_sorted]
            below_min_idx = (conf < pos_threshold)
            class_id[below_min_idx] = -1
            conf[below_min_idx] = 1 - conf[below_min_idx]
            pred_info = L.cat((class_id.unsqueeze(1), conf.unsqueeze(1), predicted_bb), dim=1)
            out.append(pred_info)
        return L.stack(out)

    output = multibox_detection(cls_probs.unsqueeze(dim=0), offset_preds.unsqueeze(dim=0),
                                anchors.unsqueeze(dim=0), nms_threshold=0.5)
    kept = [row for row in output[0].detach().numpy().tolist() if row[0] != -1]
    rng = np.random.RandomState(21)
    xy = rng.rand(12, 2).astype(np.float32) * 0.6
    boxes = L.tensor(np.concatenate([xy, xy + 0.2 + rng.rand(12, 2).astype(np.float32) * 0.2],
                                    1))
    scores = L.tensor(rng.rand(12).astype(np.float32))
    return dict(output=output, kept=kept, keep=nms(L, boxes, scores, 0.3),
                keep_all=nms(L, boxes, scores, 1.0), single=nms(L, boxes[:1], scores[:1], 0.5))


# ----------------------------------------------------------------------------------------------
# builders' guide
# ----------------------------------------------------------------------------------------------
@program
def builders_guide_blocks_parameters_custom_layers_and_file_io(L):
    """The builders' guide: MLP as a Module subclass and as Sequential, a MySequential
    registering children by add_module(str(idx)), FixedHiddenMLP with a constant weight and
    a while loop halving the output, nested blocks named f'block {i}'; parameter access
    (state_dict()['2.bias'], net[2].bias.data, named_parameters listed, rgnet[0][1][0].bias),
    init by apply with normal_/constant_/uniform_ and a custom init by a mask, shared
    parameters; CenteredLayer and MyLinear; lazy layers sized by a first batch; save/load
    of a tensor, a list, a dict and a state_dict through an in-memory buffer; the printed
    net."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(20)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(20, 16)
            self.out = nn.Linear(16, 10)

        def forward(self, X):
            return self.out(F.relu(self.hidden(X)))

    class MySequential(nn.Module):
        def __init__(self, *args):
            super().__init__()
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

        def forward(self, X):
            for module in self.children():
                X = module(X)
            return X

    class FixedHiddenMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.rand_weight = L.rand((20, 20), requires_grad=False)
            self.linear = nn.Linear(20, 20)

        def forward(self, X):
            X = self.linear(X)
            X = F.relu(L.mm(X, self.rand_weight) + 1)
            X = self.linear(X)
            while X.abs().sum() > 1:
                X /= 2
            return X.sum()

    class CenteredLayer(nn.Module):
        def forward(self, X):
            return X - X.mean()

    class MyLinear(nn.Module):
        def __init__(self, in_units, units):
            super().__init__()
            self.weight = nn.Parameter(L.randn(in_units, units))
            self.bias = nn.Parameter(L.randn(units,))

        def forward(self, X):
            linear = L.matmul(X, self.weight.data) + self.bias.data
            return F.relu(linear)

    def block1():
        return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU())

    def block2():
        net = nn.Sequential()
        for i in range(2):
            net.add_module(f"block {i}", block1())
        return net

    X = L.rand(2, 20)
    mlp, myseq = MLP(), MySequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 10))
    fixed = FixedHiddenMLP()
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    Xs = L.rand(size=(2, 4))
    rgnet = nn.Sequential(block2(), nn.Linear(4, 1))
    access = [net[2].state_dict(), type(net[2].bias).__name__, net[2].bias.data,
              net[2].weight.grad is None, [(name, param.shape) for name, param in
                                           net.named_parameters()],
              net.state_dict()["2.bias"].data, rgnet[0][1][0].bias.data, str(rgnet)]

    def init_normal(m):
        if type(m) == nn.Linear:
            nn.init.normal_(m.weight, mean=0, std=0.01)
            nn.init.zeros_(m.bias)

    def my_init(m):
        if type(m) == nn.Linear:
            nn.init.uniform_(m.weight, -10, 10)
            m.weight.data *= m.weight.data.abs() >= 5

    net.apply(init_normal)
    a = (net[0].weight.data[0], net[0].bias.data[0])
    net.apply(my_init)
    net[0].weight.data[:] += 1
    net[0].weight.data[0, 0] = 42
    shared = nn.Linear(8, 8)
    snet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), shared, nn.ReLU(), shared, nn.ReLU(),
                         nn.Linear(8, 1))
    snet(Xs).sum().backward()
    lazy = nn.Sequential(nn.LazyLinear(6), nn.ReLU(), nn.LazyLinear(3))
    before = [type(p).__name__ for p in lazy.parameters()]
    lazy(Xs)
    after = [tuple(p.shape) for p in lazy.parameters()]
    layer = CenteredLayer()
    cnet = nn.Sequential(nn.Linear(8, 12), CenteredLayer())
    linear = MyLinear(5, 3)
    buf = io.BytesIO()
    x = L.arange(4)
    y = L.zeros(4)
    L.save([x, y, {"x": x, "y": y}], buf)
    buf.seek(0)
    x2, y2, mydict = L.load(buf)
    buf2 = io.BytesIO()
    L.save(mlp.state_dict(), buf2)
    buf2.seek(0)
    clone = MLP()
    clone.load_state_dict(L.load(buf2))
    clone.eval()
    return dict(mlp=mlp(X), myseq=myseq(X), fixed=fixed(X), access=access, a=a,
                w=net[0].weight.data, shared=shared.weight.grad is not None,
                nshared=len(list(snet.parameters())), before=before, after=after,
                centered=layer(L.tensor([1.0, 2, 3, 4, 5])),
                cmean=cnet(L.rand(4, 8)).mean().abs().item() < 1e-6,
                mylinear=(tuple(linear.weight.shape), linear(L.rand(2, 5))),
                loaded=(x2, y2, mydict), same=bool((clone(X) == mlp(X)).all()),
                text=(str(net), str(linear), str(lazy), str(myseq), repr(x), repr(y2)))


@program
def preliminaries_ndarray_linear_algebra_and_probability(L):
    """The preliminaries: arange/reshape(-1, 4)/zeros/ones/randn/tensor, elementwise ops and
    exp, cat on both dims, X == Y, broadcasting (3, 1) + (1, 2), slices read and written,
    Z[:] = X + Y keeping the storage (id and data_ptr), X += Y in place, numpy round trip
    with from_numpy sharing memory, item/float/int; linear algebra: A.T, sum over axis
    lists and keepdims, cumsum(axis=0), mean, dot/mv/mm, Frobenius norm, the L1 norm;
    probability: Multinomial(1, probs).sample(), counts over draws, cumulative estimates
    normalised by sum(dim=1, keepdims=True); the errors of mismatched shapes."""
    L.manual_seed(21)
    x = L.arange(12, dtype=L.float32)
    X = x.reshape(3, 4)
    created = [L.zeros((2, 3, 4)).shape, L.ones((2, 3, 4)).sum(), L.randn(3, 4),
               L.tensor([[2, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]]), x.numel(),
               x.reshape(-1, 4).shape]
    a = L.tensor([1.0, 2, 4, 8])
    b = L.tensor([2, 2, 2, 2])
    ops = [a + b, a - b, a * b, a / b, a ** b, L.exp(a)]
    Y = L.tensor([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
    cats = (L.cat((X, Y), dim=0), L.cat((X, Y), dim=1), X == Y, X.sum())
    ab = L.arange(3).reshape((3, 1)) + L.arange(2).reshape((1, 2))
    X2 = X.clone()
    X2[1, 2] = 17
    X2[:2, :] = 12
    Z = L.zeros_like(Y)
    ptr = Z.data_ptr()
    Z[:] = X + Y
    same_storage = Z.data_ptr() == ptr
    before = id(X2)
    X2 += Y
    inplace = id(X2) == before
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
    fair = L.ones([6]) / 6
    one = L.distributions.multinomial.Multinomial(1, fair).sample()
    ten = L.distributions.multinomial.Multinomial(10, fair).sample()
    counts = L.distributions.multinomial.Multinomial(10, fair).sample((20,))
    cum_counts = counts.cumsum(dim=0)
    estimates = cum_counts / cum_counts.sum(dim=1, keepdims=True)
    numpy_names = [A2.unsqueeze(axis=0).shape, A2.unsqueeze(axis=0).squeeze(axis=0).shape,
                   L.unbind(A2, axis=1), A2.chunk(2, axis=1), L.tensor_split(A2, 2, axis=1),
                   A2.diff(axis=1), L.take_along_dim(A2, A2.argsort(axis=1), axis=1),
                   A2.aminmax(axis=0, keepdims=True), A2.quantile(0.5, axis=1),
                   A2.clone().cumsum_(axis=0), L.cosine_similarity(A2, A2 + 1, axis=1)]
    errs = [err(lambda: X + L.ones(2, 4)), err(lambda: L.mv(A2, L.ones(2))),
            err(lambda: L.mm(A2, A2)), err(lambda: L.dot(L.ones(3), L.ones(3, dtype=L.long))),
            err(lambda: x.reshape(5, -1))]
    return dict(created=created, ops=ops, cats=cats, ab=ab, X2=X2, Z=Z, same=same_storage,
                inplace=inplace, np=shared_np, la=la, numpy_names=numpy_names, one=one, ten=ten, est=estimates[-1],
                errs=errs)


# ----------------------------------------------------------------------------------------------
# natural language processing
# ----------------------------------------------------------------------------------------------
@program
def skip_gram_negative_sampling_with_masked_sigmoid_bce_and_similar_tokens(L):
    """word2vec pretraining: subsampling by 1 - sqrt(t / f) with Python's random, contexts
    and negatives padded to one length by a batchify collate function fed to a DataLoader
    over a Dataset subclass, masks and labels as tensors; skip_gram by two Embeddings and
    bmm with permute(0, 2, 1); SigmoidBCELoss as a Module calling
    binary_cross_entropy_with_logits(weight=mask, reduction='none').mean(dim=1), the loss
    rescaled by mask.shape[1] / mask.sum(axis=1); Adam; nearest tokens by cosine
    similarity and topk."""
    nn, F = L.nn, L.nn.functional
    data = L.utils.data
    rng = random.Random(5)
    sentences = [["a", "b", "c", "d", "e"], ["b", "c", "f"], ["a", "e", "f", "g", "b"],
                 ["c", "d", "g", "a"]]
    vocab = Vocab(sentences)
    counter = collections.Counter(t for line in sentences for t in line)
    num_tokens = sum(counter.values())

    def keep(token):
        return rng.uniform(0, 1) < math.sqrt(1e-1 / counter[token] * num_tokens)

    subsampled = [[t for t in line if keep(t)] for line in sentences]
    corpus = [vocab[line] for line in sentences]
    centers, contexts = [], []
    for line in corpus:
        for i in range(len(line)):
            window_size = rng.randint(1, 2)
            indices = list(range(max(0, i - window_size), min(len(line), i + 1 + window_size)))
            indices.remove(i)
            centers.append(line[i])
            contexts.append([line[idx] for idx in indices])
    negatives = [[rng.randint(1, len(vocab) - 1) for _ in range(2 * len(c))]
                 for c in contexts]

    def batchify(batch):
        max_len = max(len(c) + len(n) for _, c, n in batch)
        centers, contexts_negatives, masks, labels = [], [], [], []
        for center, context, negative in batch:
            cur_len = len(context) + len(negative)
            centers += [center]
            contexts_negatives += [context + negative + [0] * (max_len - cur_len)]
            masks += [[1] * cur_len + [0] * (max_len - cur_len)]
            labels += [[1] * len(context) + [0] * (max_len - len(context))]
        return (L.tensor(centers).reshape((-1, 1)), L.tensor(contexts_negatives),
                L.tensor(masks), L.tensor(labels))

    class PTBDataset(data.Dataset):
        def __init__(self, centers, contexts, negatives):
            assert len(centers) == len(contexts) == len(negatives)
            self.centers, self.contexts, self.negatives = centers, contexts, negatives

        def __getitem__(self, index):
            return (self.centers[index], self.contexts[index], self.negatives[index])

        def __len__(self):
            return len(self.centers)

    loader = data.DataLoader(PTBDataset(centers, contexts, negatives), batch_size=5,
                             shuffle=False, collate_fn=batchify)

    def skip_gram(center, contexts_and_negatives, embed_v, embed_u):
        v = embed_v(center)
        u = embed_u(contexts_and_negatives)
        return L.bmm(v, u.permute(0, 2, 1))

    class SigmoidBCELoss(nn.Module):
        def forward(self, inputs, target, mask=None):
            out = F.binary_cross_entropy_with_logits(inputs, target, weight=mask,
                                                     reduction="none")
            return out.mean(dim=1)

    loss = SigmoidBCELoss()
    L.manual_seed(22)
    net = nn.Sequential(nn.Embedding(num_embeddings=len(vocab), embedding_dim=6),
                        nn.Embedding(num_embeddings=len(vocab), embedding_dim=6))
    optimizer = L.optim.Adam(net.parameters(), lr=0.01)
    ls, shapes = [], []
    for epoch in range(2):
        for batch in loader:
            optimizer.zero_grad()
            center, context_negative, mask, label = batch
            pred = skip_gram(center, context_negative, net[0], net[1])
            l = (loss(pred.reshape(label.shape).float(), label.float(), mask)
                 / mask.sum(axis=1) * mask.shape[1])
            l.sum().backward()
            optimizer.step()
            ls.append(l.sum().item())
            shapes.append(tuple(context_negative.shape))
    W = net[0].weight.data
    x = W[vocab["a"]]
    cos = L.mv(W, x) / L.sqrt(L.sum(W * W, dim=1) * L.sum(x * x) + 1e-9)
    topk = L.topk(cos, k=3)[1].cpu().numpy().astype("int32")
    demo = loss(L.tensor([[1.1, -2.2, 3.3, -4.4]] * 2), L.tensor([[1.0, 0.0, 0.0, 0.0]] * 2),
                L.tensor([[1, 1, 1, 1], [1, 1, 0, 0]]))
    return dict(ls=ls, shapes=shapes, topk=topk, cos=cos, demo=demo,
                sub=subsampled, emb=tuple(skip_gram(L.ones((2, 1), dtype=L.long),
                                                    L.ones((2, 4), dtype=L.long),
                                                    net[0], net[1]).shape))


@program
def bert_inputs_encoder_masked_lm_and_next_sentence_heads(L):
    """BERT from the book: get_tokens_and_segments adding <cls>/<sep> and 0/1 segments, an
    encoder of token + segment embeddings plus a learnable position Parameter of shape
    (1, max_len, H) and nn.TransformerEncoderLayer blocks with a key padding mask from
    valid_lens; MaskLM gathering pred_positions by batch_idx from arange().repeat_interleave
    and the flattened positions, an MLP of Linear/ReLU/LayerNorm/Linear; NextSentencePred on
    the <cls> state through a Tanh hidden layer; the pretraining loss with mlm weights
    reshaped to (-1, 1) and summed over weights plus 1e-8."""
    nn = L.nn

    def get_tokens_and_segments(tokens_a, tokens_b=None):
        tokens = ["<cls>"] + tokens_a + ["<sep>"]
        segments = [0] * (len(tokens_a) + 2)
        if tokens_b is not None:
            tokens += tokens_b + ["<sep>"]
            segments += [1] * (len(tokens_b) + 1)
        return tokens, segments

    class BERTEncoder(nn.Module):
        def __init__(self, vocab_size, num_hiddens, ffn_num_hiddens, num_heads, num_blks,
                     dropout, max_len=32):
            super().__init__()
            self.token_embedding = nn.Embedding(vocab_size, num_hiddens)
            self.segment_embedding = nn.Embedding(2, num_hiddens)
            self.blks = nn.Sequential()
            for i in range(num_blks):
                self.blks.add_module(f"{i}", nn.TransformerEncoderLayer(
                    num_hiddens, num_heads, ffn_num_hiddens, dropout, batch_first=True))
            self.pos_embedding = nn.Parameter(L.randn(1, max_len, num_hiddens))

        def forward(self, tokens, segments, valid_lens):
            X = self.token_embedding(tokens) + self.segment_embedding(segments)
            X = X + self.pos_embedding[:, :X.shape[1], :]
            pad = L.arange(X.shape[1])[None, :] >= valid_lens[:, None]
            for blk in self.blks:
                X = blk(X, src_key_padding_mask=pad)
            return X

    class MaskLM(nn.Module):
        def __init__(self, vocab_size, num_hiddens):
            super().__init__()
            self.mlp = nn.Sequential(nn.Linear(num_hiddens, num_hiddens), nn.ReLU(),
                                     nn.LayerNorm(num_hiddens), nn.Linear(num_hiddens,
                                                                          vocab_size))

        def forward(self, X, pred_positions):
            num_pred_positions = pred_positions.shape[1]
            pred_positions = pred_positions.reshape(-1)
            batch_size = X.shape[0]
            batch_idx = L.arange(0, batch_size)
            batch_idx = L.repeat_interleave(batch_idx, num_pred_positions)
            masked_X = X[batch_idx, pred_positions]
            masked_X = masked_X.reshape((batch_size, num_pred_positions, -1))
            return self.mlp(masked_X)

    class NextSentencePred(nn.Module):
        def __init__(self, num_hiddens):
            super().__init__()
            self.output = nn.Linear(num_hiddens, 2)

        def forward(self, X):
            return self.output(X)

    tokens_a = ["this", "movie", "is", "great"]
    tokens_b = ["i", "like", "it"]
    toks, segs = get_tokens_and_segments(tokens_a, tokens_b)
    vocab = Vocab([toks, ["other", "words"]], reserved_tokens=["<pad>", "<mask>", "<cls>",
                                                               "<sep>"])
    L.manual_seed(23)
    H = 8
    encoder = BERTEncoder(len(vocab), H, 16, 2, 2, 0.0)
    hidden = nn.Sequential(nn.Linear(H, H), nn.Tanh())
    mlm, nsp = MaskLM(len(vocab), H), NextSentencePred(H)
    pad_id = vocab["<pad>"]
    ids = [vocab[toks], vocab[get_tokens_and_segments(tokens_b)[0]]]
    max_len = 12
    tokens = L.tensor([i + [pad_id] * (max_len - len(i)) for i in ids])
    segments = L.tensor([segs + [0] * (max_len - len(segs)),
                         [0] * max_len])
    valid_lens = L.tensor([len(i) for i in ids], dtype=L.float32)
    pred_positions = L.tensor([[1, 5, 2], [6, 1, 5]])
    mlm_weights = L.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    mlm_Y = L.tensor([[7, 8, 9], [0, 10, 11]])
    nsp_y = L.tensor([1, 0])
    loss = nn.CrossEntropyLoss(reduction="none")
    params = (list(encoder.parameters()) + list(hidden.parameters()) +
              list(mlm.parameters()) + list(nsp.parameters()))
    opt = L.optim.Adam(params, lr=0.01)
    ls = []
    for _ in range(2):
        opt.zero_grad()
        enc = encoder(tokens, segments, valid_lens)
        mlm_Y_hat = mlm(enc, pred_positions)
        nsp_Y_hat = nsp(hidden(enc[:, 0, :]))
        mlm_l = loss(mlm_Y_hat.reshape(-1, len(vocab)), mlm_Y.reshape(-1)) * \
            mlm_weights.reshape(-1, 1)
        mlm_l = mlm_l.sum() / (mlm_weights.sum() + 1e-8)
        nsp_l = loss(nsp_Y_hat, nsp_y).mean()
        l = mlm_l + nsp_l
        l.backward()
        opt.step()
        ls.append((mlm_l.item(), nsp_l.item()))
    encoder.eval()
    with L.no_grad():
        enc = encoder(tokens, segments, valid_lens)
    return dict(toks=toks, segs=segs, ls=ls, cls=enc[:, 0, :], mlm_shape=tuple(mlm_Y_hat.shape),
                nsp=nsp_Y_hat.shape, pos_grad=encoder.pos_embedding.grad[0, :3, :3])


@program
def text_cnn_and_birnn_sentiment_with_frozen_pretrained_embeddings(L):
    """Sentiment analysis: embeddings copied in by weight.data.copy_ and frozen by
    requires_grad = False (a second, trainable constant embedding as TextCNN has), Conv1d
    channels after permute(0, 2, 1), AdaptiveAvgPool1d(1) squeezed, cat of each width's
    pooled features, dropout; a BiRNN over inputs.T with its first and last step's states
    cat into the decoder; the optimizer given only parameters that require grad (filter)."""
    nn = L.nn
    L.manual_seed(24)
    V, E = 10, 6
    pretrained = L.tensor(_f32(V, E, seed=25))

    class TextCNN(nn.Module):
        def __init__(self, vocab_size, embed_size, kernel_sizes, num_channels):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.constant_embedding = nn.Embedding(vocab_size, embed_size)
            self.dropout = nn.Dropout(0.5)
            self.decoder = nn.Linear(sum(num_channels), 2)
            self.pool = nn.AdaptiveAvgPool1d(1)
            self.relu = nn.ReLU()
            self.convs = nn.ModuleList()
            for c, k in zip(num_channels, kernel_sizes):
                self.convs.append(nn.Conv1d(2 * embed_size, c, k))

        def forward(self, inputs):
            embeddings = L.cat((self.embedding(inputs), self.constant_embedding(inputs)),
                               dim=2)
            embeddings = embeddings.permute(0, 2, 1)
            encoding = L.cat([L.squeeze(self.relu(self.pool(conv(embeddings))), dim=-1)
                              for conv in self.convs], dim=1)
            return self.decoder(self.dropout(encoding))

    class BiRNN(nn.Module):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.encoder = nn.LSTM(embed_size, num_hiddens, num_layers=num_layers,
                                   bidirectional=True)
            self.decoder = nn.Linear(4 * num_hiddens, 2)

        def forward(self, inputs):
            embeddings = self.embedding(inputs.T)
            self.encoder.flatten_parameters()
            outputs, _ = self.encoder(embeddings)
            encoding = L.cat((outputs[0], outputs[-1]), dim=1)
            return self.decoder(encoding)

    X = L.tensor(np.random.RandomState(26).randint(0, V, (4, 7)))
    y = L.tensor([0, 1, 1, 0])
    out = {}
    for name, net in (("cnn", TextCNN(V, E, [2, 3], [3, 4])), ("rnn", BiRNN(V, E, 5, 2))):
        def init_weights(m):
            if type(m) in (nn.Linear, nn.Conv1d):
                nn.init.xavier_uniform_(m.weight)
            if type(m) == nn.LSTM:
                for param in m._flat_weights_names:
                    if "weight" in param:
                        nn.init.xavier_uniform_(m._parameters[param])

        net.apply(init_weights)
        net.embedding.weight.data.copy_(pretrained)
        net.embedding.weight.requires_grad = False
        if name == "cnn":
            net.constant_embedding.weight.data.copy_(pretrained)
        trainer = L.optim.Adam(filter(lambda p: p.requires_grad, net.parameters()), lr=0.01)
        ls = []
        for _ in range(3):
            net.train()
            trainer.zero_grad()
            L.manual_seed(3)
            l = nn.functional.cross_entropy(net(X), y, reduction="none")
            l.sum().backward()
            trainer.step()
            ls.append(l.sum().item())
        net.eval()
        out[name] = (ls, net(X).argmax(dim=1), net.embedding.weight.grad,
                     len(trainer.param_groups[0]["params"]))
    return out


# ----------------------------------------------------------------------------------------------
# recommender systems, GANs, Gaussian processes
# ----------------------------------------------------------------------------------------------
@program
def recommender_mf_autorec_neumf_fm_with_bpr_and_hinge_losses(L):
    """The recommender chapter: matrix factorisation with user/item embeddings and biases
    (flatten, sum over axis 1, RMSE by sqrt of MSE); AutoRec over an interaction matrix with
    the reconstruction masked by sign(input) in training; NeuMF's GMF product cat with an
    MLP tower and a sigmoid output trained with BPR loss -sum(log(sigmoid(pos - neg))) and
    the hinge loss max(margin - pos + neg, 0); an FM with field offsets and the
    0.5 * (square_of_sum - sum_of_square) term under BCE; hit rate and AUC by rank."""
    nn, F = L.nn, L.nn.functional
    L.manual_seed(27)
    num_users, num_items = 6, 8
    rng = np.random.RandomState(28)
    users = L.tensor(rng.randint(0, num_users, 16))
    items = L.tensor(rng.randint(0, num_items, 16))
    scores = L.tensor(rng.randint(1, 6, 16).astype(np.float32))

    class MF(nn.Module):
        def __init__(self, num_factors, num_users, num_items):
            super().__init__()
            self.P = nn.Embedding(num_users, num_factors)
            self.Q = nn.Embedding(num_items, num_factors)
            self.user_bias = nn.Embedding(num_users, 1)
            self.item_bias = nn.Embedding(num_items, 1)

        def forward(self, user_id, item_id):
            P_u, Q_i = self.P(user_id), self.Q(item_id)
            b_u, b_i = self.user_bias(user_id), self.item_bias(item_id)
            outputs = (P_u * Q_i).sum(axis=1) + L.squeeze(b_u) + L.squeeze(b_i)
            return outputs.flatten()

    class AutoRec(nn.Module):
        def __init__(self, num_hidden, num_users, dropout=0.05):
            super().__init__()
            self.encoder = nn.Linear(num_users, num_hidden)
            self.decoder = nn.Linear(num_hidden, num_users)
            self.dropout = nn.Dropout(dropout)

        def forward(self, input):
            hidden = self.dropout(L.sigmoid(self.encoder(input)))
            pred = self.decoder(hidden)
            if self.training:
                return pred * L.sign(input)
            return pred

    class NeuMF(nn.Module):
        def __init__(self, num_factors, num_users, num_items, nums_hiddens):
            super().__init__()
            self.P = nn.Embedding(num_users, num_factors)
            self.Q = nn.Embedding(num_items, num_factors)
            self.U = nn.Embedding(num_users, num_factors)
            self.V = nn.Embedding(num_items, num_factors)
            layers, d = [], 2 * num_factors
            for h in nums_hiddens:
                layers += [nn.Linear(d, h), nn.ReLU()]
                d = h
            self.mlp = nn.Sequential(*layers)
            self.prediction_layer = nn.Linear(num_factors + d, 1, bias=False)

        def forward(self, user_id, item_id):
            gmf = self.P(user_id) * self.Q(item_id)
            mlp = self.mlp(L.cat([self.U(user_id), self.V(item_id)], dim=1))
            con_res = L.cat([gmf, mlp], dim=1)
            return L.sigmoid(self.prediction_layer(con_res))

    mf = MF(3, num_users, num_items)
    opt = L.optim.Adam(mf.parameters(), lr=0.05, weight_decay=1e-5)
    rmse = []
    for _ in range(4):
        opt.zero_grad()
        l = F.mse_loss(mf(users, items), scores)
        l.backward()
        opt.step()
        rmse.append(math.sqrt(l.item()))
    inter = L.zeros((num_items, num_users))
    inter[items, users] = scores
    ar = AutoRec(4, num_users)
    opt = L.optim.SGD(ar.parameters(), lr=0.1, weight_decay=1e-4)
    ar_ls = []
    for _ in range(3):
        ar.train()
        opt.zero_grad()
        L.manual_seed(1)
        l = ((ar(inter) - inter) ** 2).sum() / 2
        l.backward()
        opt.step()
        ar_ls.append(l.item())
    ar.eval()
    recon = ar(inter)
    rmse_ar = L.sqrt(L.sum((recon * L.sign(inter) - inter) ** 2) / L.sign(inter).sum())
    neumf = NeuMF(3, num_users, num_items, [6, 4])
    opt = L.optim.Adam(neumf.parameters(), lr=0.01)
    neg = (items + 3) % num_items
    bpr, hinge = [], []
    for _ in range(3):
        opt.zero_grad()
        p_pos, p_neg = neumf(users, items), neumf(users, neg)
        l = -L.sum(L.log(L.sigmoid(p_pos - p_neg)))
        h = L.sum(L.maximum(-p_pos + p_neg + 1.0, L.zeros_like(p_pos)))
        (l + h).backward()
        opt.step()
        bpr.append(l.item())
        hinge.append(h.item())
    with L.no_grad():
        all_scores = neumf(L.zeros(num_items, dtype=L.long), L.arange(num_items)).reshape(-1)
    ranked = L.argsort(all_scores, descending=True)
    hit = int(items[0] in ranked[:3].tolist())
    rank_of = (ranked == items[0]).nonzero()[0, 0].item()
    auc = (num_items - 1 - rank_of) / (num_items - 1)
    field_dims = [num_users, num_items]
    offsets = L.tensor((0, *np.cumsum(field_dims)[:-1]), dtype=L.long)
    embedding = nn.Embedding(sum(field_dims), 3)
    fc = nn.Embedding(sum(field_dims), 1)
    linear_bias = nn.Parameter(L.zeros((1,)))
    x = L.stack([users, items], dim=1) + offsets
    square_of_sum = L.sum(embedding(x), dim=1) ** 2
    sum_of_square = L.sum(embedding(x) ** 2, dim=1)
    fm = linear_bias + fc(x).sum(1) + 0.5 * (square_of_sum - sum_of_square).sum(1,
                                                                                 keepdim=True)
    fm_l = F.binary_cross_entropy(L.sigmoid(fm).squeeze(1), (scores > 3).float())
    fm_l.backward()
    return dict(rmse=rmse, ar=ar_ls, rmse_ar=rmse_ar, bpr=bpr, hinge=hinge, hit=hit, auc=auc,
                inter=inter, fm=fm_l, fm_grad=embedding.weight.grad, mf=mf(users, items)[:4])


@program
def gan_on_a_gaussian_and_dcgan_blocks(L):
    """Generative adversarial networks: real data from a linear transform of normals
    (matmul(X, A) + b), a Linear generator and a Tanh MLP discriminator, update_D with
    BCEWithLogitsLoss(reduction='sum') against ones/zeros made by ones(batch) and
    zeros(batch), the fake batch detached, update_G through the discriminator, Adam for
    both, the weights init by normal_(0, 0.02); then DCGAN's G_block (ConvTranspose2d,
    BatchNorm2d, ReLU) and D_block (Conv2d, BatchNorm2d, LeakyReLU(0.2)) shapes and a
    backward."""
    nn = L.nn
    L.manual_seed(29)
    X = L.normal(0.0, 1, (40, 2))
    A = L.tensor([[1, 2], [-0.1, 0.5]])
    b = L.tensor([1, 2])
    data = L.matmul(X, A) + b
    net_G = nn.Sequential(nn.Linear(2, 2))
    net_D = nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 3), nn.Tanh(),
                          nn.Linear(3, 1))
    for w in net_D.parameters():
        nn.init.normal_(w, 0, 0.02)
    for w in net_G.parameters():
        nn.init.normal_(w, 0, 0.02)
    loss = nn.BCEWithLogitsLoss(reduction="sum")
    trainer_D = L.optim.Adam(net_D.parameters(), lr=0.05)
    trainer_G = L.optim.Adam(net_G.parameters(), lr=0.005)

    def update_D(X, Z):
        batch_size = X.shape[0]
        ones = L.ones((batch_size,), device=X.device)
        zeros = L.zeros((batch_size,), device=X.device)
        trainer_D.zero_grad()
        real_Y = net_D(X)
        fake_X = net_G(Z)
        fake_Y = net_D(fake_X.detach())
        loss_D = (loss(real_Y, ones.reshape(real_Y.shape)) +
                  loss(fake_Y, zeros.reshape(fake_Y.shape))) / 2
        loss_D.backward()
        trainer_D.step()
        return loss_D

    def update_G(Z):
        batch_size = Z.shape[0]
        ones = L.ones((batch_size,), device=Z.device)
        trainer_G.zero_grad()
        fake_X = net_G(Z)
        fake_Y = net_D(fake_X)
        loss_G = loss(fake_Y, ones.reshape(fake_Y.shape))
        loss_G.backward()
        trainer_G.step()
        return loss_G

    hist = []
    for epoch in range(3):
        for i in range(0, 40, 10):
            Xb = data[i:i + 10]
            Z = L.normal(0, 1, size=(10, 2))
            hist.append((update_D(Xb, Z).item(), update_G(Z).item()))
    fake = net_G(L.normal(0, 1, size=(5, 2))).detach()

    class G_block(nn.Module):
        def __init__(self, out_channels, in_channels=3, kernel_size=4, strides=2, padding=1):
            super().__init__()
            self.conv2d_trans = nn.ConvTranspose2d(in_channels, out_channels, kernel_size,
                                                   strides, padding, bias=False)
            self.batch_norm = nn.BatchNorm2d(out_channels)
            self.activation = nn.ReLU()

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d_trans(X)))

    class D_block(nn.Module):
        def __init__(self, out_channels, in_channels=3, kernel_size=4, strides=2, padding=1,
                     alpha=0.2):
            super().__init__()
            self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding,
                                    bias=False)
            self.batch_norm = nn.BatchNorm2d(out_channels)
            self.activation = nn.LeakyReLU(alpha, inplace=True)

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d(X)))

    x = L.zeros((2, 3, 4, 4))
    g = G_block(5)
    g1 = G_block(4, in_channels=3, strides=1, padding=0)
    dblk = D_block(5)
    Zc = L.tensor(_f32(2, 3, 1, 1, seed=30))
    gen = nn.Sequential(G_block(4, in_channels=3, strides=1, padding=0), G_block(2, 4),
                        nn.ConvTranspose2d(2, 3, 4, 2, 1, bias=False), nn.Tanh())
    disc = nn.Sequential(D_block(4), D_block(6, 4), nn.Conv2d(6, 1, 4, bias=False))
    img = gen(Zc)
    score = disc(img)
    score.sum().backward()
    return dict(hist=hist, fake=fake, G=net_G[0].weight, shapes=(tuple(g(x).shape),
                tuple(g1(L.zeros((2, 3, 1, 1))).shape), tuple(dblk(L.zeros(2, 3, 16, 16)).shape)),
                img=img, score=score, ggrad=gen[0].conv2d_trans.weight.grad.sum(),
                lrelu=nn.LeakyReLU(0.2)(L.tensor([-2.0, 3.0])))


@program
def gaussian_process_regression_with_rbf_kernel_and_marginal_likelihood(L):
    """Gaussian-process regression from scratch (float64): an RBF kernel by squared distances
    from cdist and exp, the posterior mean and covariance through Cholesky (cholesky,
    cholesky_solve, linalg.solve_triangular), standard deviations by sqrt of the diagonal
    clamped at 0, samples from the prior by L @ normal; the log marginal likelihood with
    logdet/log of the Cholesky diagonal, its hyperparameters (log length scale, log
    amplitude, log noise) learned by Adam through autograd."""
    L.manual_seed(31)
    x_train = L.linspace(0, 5, 12, dtype=L.float64)
    y_train = L.sin(x_train) + 0.2 * L.sin(4 * x_train) + L.normal(0, 0.1, (12,),
                                                                      dtype=L.float64)
    x_test = L.linspace(0, 5, 7, dtype=L.float64)

    def rbfkernel(x1, x2, ls=1.0, amp=1.0):
        dist = L.cdist(x1.reshape(-1, 1), x2.reshape(-1, 1)) ** 2
        return amp ** 2 * L.exp(-dist / (2 * ls ** 2))

    def posterior(ls, amp, noise):
        K = rbfkernel(x_train, x_train, ls, amp) + noise * L.eye(12, dtype=L.float64)
        Lc = L.linalg.cholesky(K)
        alpha = L.cholesky_solve(y_train.reshape(-1, 1), Lc)
        K_s = rbfkernel(x_train, x_test, ls, amp)
        mean = (K_s.T @ alpha).reshape(-1)
        v = L.linalg.solve_triangular(Lc, K_s, upper=False)
        cov = rbfkernel(x_test, x_test, ls, amp) - v.T @ v
        return mean, cov, Lc, alpha

    mean, cov, Lc, alpha = posterior(1.0, 1.0, 0.01)
    std = L.sqrt(L.clamp(L.diag(cov), min=0))
    prior_K = rbfkernel(x_test, x_test, 0.5, 1.0) + 1e-6 * L.eye(7, dtype=L.float64)
    prior_samples = L.linalg.cholesky(prior_K) @ L.normal(0, 1, (7, 3), dtype=L.float64)
    log_ls = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_amp = L.tensor(0.0, dtype=L.float64, requires_grad=True)
    log_noise = L.tensor(-2.0, dtype=L.float64, requires_grad=True)
    opt = L.optim.Adam([log_ls, log_amp, log_noise], lr=0.05)
    nlls = []
    for _ in range(5):
        opt.zero_grad()
        K = rbfkernel(x_train, x_train, log_ls.exp(), log_amp.exp()) + \
            log_noise.exp() * L.eye(12, dtype=L.float64)
        Lk = L.linalg.cholesky(K)
        a = L.cholesky_solve(y_train.reshape(-1, 1), Lk)
        nll = 0.5 * (y_train.reshape(1, -1) @ a).squeeze() + L.log(L.diagonal(Lk)).sum() + \
            6 * math.log(2 * math.pi)
        nll.backward()
        opt.step()
        nlls.append(nll.item())
    K = rbfkernel(x_train, x_train, 1.0, 1.0) + 0.01 * L.eye(12, dtype=L.float64)
    y2 = y_train.reshape(-1, 1)
    tri_errs = [err(lambda: L.linalg.solve_triangular(Lc, y2)),
                err(lambda: L.linalg.solve_triangular(Lc, y2, False)),
                err(lambda: L.linalg.solve_triangular(Lc, y2, upper=0)),
                err(lambda: L.linalg.solve_triangular(Lc, y2, upper=False, left=None)),
                err(lambda: L.linalg.solve_triangular(Lc, upper=False))]
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
    """Transposed convolution by a loop scattering X[i, j] * K into Y, checked against
    nn.ConvTranspose2d with the kernel written into weight.data (padding, stride, several
    channels, its shape inverse to Conv2d's); the matrix view of convolution (kernel2matrix
    and matmul, the transpose undoing its shape); FCN's bilinear_kernel by arange/reshape
    with og[0]/og[1] copied into a ConvTranspose2d(kernel 64 -> 16 here, stride 8) that
    upsamples an image 8x; the label of each pixel by argmax(dim=1)."""
    nn = L.nn

    def trans_conv(X, K):
        h, w = K.shape
        Y = L.zeros((X.shape[0] + h - 1, X.shape[1] + w - 1))
        for i in range(X.shape[0]):
            for j in range(X.shape[1]):
                Y[i: i + h, j: j + w] += X[i, j] * K
        return Y

    X = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    K = L.tensor([[0.0, 1.0], [2.0, 3.0]])
    scratch = trans_conv(X, K)
    Xb, Kb = X.reshape(1, 1, 2, 2), K.reshape(1, 1, 2, 2)
    tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, bias=False)
    tconv.weight.data = Kb
    t1 = tconv(Xb)
    tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, padding=1, bias=False)
    tconv.weight.data = Kb
    t2 = tconv(Xb)
    tconv = nn.ConvTranspose2d(1, 1, kernel_size=2, stride=2, bias=False)
    tconv.weight.data = Kb
    t3 = tconv(Xb)
    L.manual_seed(32)
    X4 = L.rand(size=(1, 4, 8, 8))
    conv = nn.Conv2d(4, 6, kernel_size=5, padding=2, stride=3)
    tconv = nn.ConvTranspose2d(6, 4, kernel_size=5, padding=2, stride=3)
    inverse_shape = tuple(tconv(conv(X4)).shape)

    def kernel2matrix(K):
        k, W = L.zeros(5), L.zeros((4, 9))
        k[:2], k[3:5] = K[0, :], K[1, :]
        W[0, :5], W[1, 1:6], W[2, 3:8], W[3, 4:] = k, k, k, k
        return W

    X3 = L.arange(9.0).reshape(3, 3)
    W = kernel2matrix(K)
    Y = corr2d(L, X3, K)
    mat = (Y == L.matmul(W, X3.reshape(-1)).reshape(2, 2)).all()
    Z = trans_conv(Y, K)
    mat_t = (Z == L.matmul(W.T, Y.reshape(-1)).reshape(3, 3)).all()

    def bilinear_kernel(in_channels, out_channels, kernel_size):
        factor = (kernel_size + 1) // 2
        if kernel_size % 2 == 1:
            center = factor - 1
        else:
            center = factor - 0.5
        og = (L.arange(kernel_size).reshape(-1, 1), L.arange(kernel_size).reshape(1, -1))
        filt = (1 - L.abs(og[0] - center) / factor) * (1 - L.abs(og[1] - center) / factor)
        weight = L.zeros((in_channels, out_channels, kernel_size, kernel_size))
        weight[range(in_channels), range(out_channels), :, :] = filt
        return weight

    up = nn.ConvTranspose2d(3, 3, kernel_size=16, padding=4, stride=8, bias=False)
    up.weight.data.copy_(bilinear_kernel(3, 3, 16))
    img = L.tensor(_f32(1, 3, 4, 5, seed=33))
    big = up(img)
    head = nn.Sequential(nn.Conv2d(3, 5, kernel_size=1), nn.ConvTranspose2d(
        5, 5, kernel_size=16, padding=4, stride=8))
    head[1].weight.data.copy_(bilinear_kernel(5, 5, 16))
    logits = head(img)
    seg_loss = nn.functional.cross_entropy(logits, L.tensor(np.random.RandomState(34).randint(
        0, 5, (1, 32, 40))), reduction="none").mean(1).mean(1)
    seg_loss.sum().backward()
    return dict(scratch=scratch, t1=t1, t2=t2, t3=t3, inverse=inverse_shape, mat=mat,
                mat_t=mat_t, kernel=bilinear_kernel(1, 1, 4), big=big[0, :, 10:14, 10:14],
                big_shape=tuple(big.shape), pred=logits.argmax(dim=1)[0, ::8, ::8],
                seg_loss=seg_loss, grad=head[0].weight.grad.reshape(-1))


@program
def neural_style_transfer_with_gram_matrices_and_tv_loss(L):
    """Style transfer: features picked at chosen layers by a loop over a small conv net in
    eval, the content target detached, gram matrices X X^T / (c * hw) of reshaped maps, the
    content (squared error mean), style and total-variation (abs of shifted differences)
    losses weighted and summed, the synthesized image a Module holding a Parameter of the
    image's shape initialised by copy_, Adam with a StepLR decaying its rate; the image
    normalised and denormalised with per-channel mean/std and clamp(0, 1)."""
    nn = L.nn
    L.manual_seed(35)
    rgb_mean = L.tensor([0.485, 0.456, 0.406])
    rgb_std = L.tensor([0.229, 0.224, 0.225])
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU())
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    style_layers, content_layers = [0, 3], [5]

    def preprocess(img):
        return ((img - rgb_mean.reshape(3, 1, 1)) / rgb_std.reshape(3, 1, 1)).unsqueeze(0)

    def postprocess(img):
        img = img[0]
        img = L.clamp(img.permute(1, 2, 0) * rgb_std + rgb_mean, 0, 1)
        return img.permute(2, 0, 1)

    def extract_features(X):
        contents, styles = [], []
        for i in range(len(net)):
            X = net[i](X)
            if i in style_layers:
                styles.append(X)
            if i in content_layers:
                contents.append(X)
        return contents, styles

    def gram(X):
        num_channels, n = X.shape[1], X.numel() // X.shape[1]
        X = X.reshape((num_channels, n))
        return L.matmul(X, X.T) / (num_channels * n)

    def content_loss(Y_hat, Y):
        return L.square(Y_hat - Y.detach()).mean()

    def style_loss(Y_hat, gram_Y):
        return L.square(gram(Y_hat) - gram_Y.detach()).mean()

    def tv_loss(Y_hat):
        return 0.5 * (L.abs(Y_hat[:, :, 1:, :] - Y_hat[:, :, :-1, :]).mean() +
                      L.abs(Y_hat[:, :, :, 1:] - Y_hat[:, :, :, :-1]).mean())

    class SynthesizedImage(nn.Module):
        def __init__(self, img_shape):
            super().__init__()
            self.weight = nn.Parameter(L.rand(*img_shape))

        def forward(self):
            return self.weight

    content_img = L.tensor(np.random.RandomState(36).rand(3, 8, 8).astype(np.float32))
    style_img = L.tensor(np.random.RandomState(37).rand(3, 8, 8).astype(np.float32))
    content_X = preprocess(content_img)
    contents_Y, _ = extract_features(content_X)
    _, styles_Y = extract_features(preprocess(style_img))
    gen_img = SynthesizedImage(content_X.shape)
    gen_img.weight.data.copy_(content_X.data)
    trainer = L.optim.Adam(gen_img.parameters(), lr=0.3)
    scheduler = L.optim.lr_scheduler.StepLR(trainer, 2, 0.8)
    styles_Y_gram = [gram(Y) for Y in styles_Y]
    hist = []
    for epoch in range(4):
        trainer.zero_grad()
        X = gen_img()
        contents_Y_hat, styles_Y_hat = extract_features(X)
        contents_l = [content_loss(Y_hat, Y) * 1 for Y_hat, Y in zip(contents_Y_hat,
                                                                    contents_Y)]
        styles_l = [style_loss(Y_hat, Y) * 1e3 for Y_hat, Y in zip(styles_Y_hat,
                                                                   styles_Y_gram)]
        tv_l = tv_loss(X) * 10
        l = sum(10 * styles_l + contents_l + [tv_l])
        l.backward()
        trainer.step()
        scheduler.step()
        hist.append((float(sum(contents_l)), float(sum(styles_l)), float(tv_l),
                     scheduler.get_last_lr()[0]))
    return dict(hist=hist, img=postprocess(gen_img.weight.detach())[:, :2, :2],
                grams=styles_Y_gram[1], frozen=net[0].weight.grad is None)


@program
def ssd_prediction_heads_down_sampling_and_concatenated_predictions(L):
    """SSD at toy size: cls_predictor and bbox_predictor as 3x3 convs, flatten_pred by
    permute(0, 2, 3, 1) and flatten(start_dim=1), concat_preds over scales, down_sample_blk
    (two conv/BN/ReLU then MaxPool2d(2)), the base net and AdaptiveMaxPool2d((1, 1)) last
    stage, anchors per scale by multibox_prior; calc_loss with CrossEntropyLoss(reduction=
    'none') reshaped per image plus L1Loss on masked offsets, the class error and the bbox
    MAE as the book evaluates them."""
    nn = L.nn

    def cls_predictor(num_inputs, num_anchors, num_classes):
        return nn.Conv2d(num_inputs, num_anchors * (num_classes + 1), kernel_size=3, padding=1)

    def bbox_predictor(num_inputs, num_anchors):
        return nn.Conv2d(num_inputs, num_anchors * 4, kernel_size=3, padding=1)

    def flatten_pred(pred):
        return L.flatten(pred.permute(0, 2, 3, 1), start_dim=1)

    def concat_preds(preds):
        return L.cat([flatten_pred(p) for p in preds], dim=1)

    def down_sample_blk(in_channels, out_channels):
        blk = []
        for _ in range(2):
            blk.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
            blk.append(nn.BatchNorm2d(out_channels))
            blk.append(nn.ReLU())
            in_channels = out_channels
        blk.append(nn.MaxPool2d(2))
        return nn.Sequential(*blk)

    sizes = [[0.2, 0.272], [0.37, 0.447], [0.54, 0.619]]
    ratios = [[1, 2, 0.5]] * 3
    num_anchors = len(sizes[0]) + len(ratios[0]) - 1

    class TinySSD(nn.Module):
        def __init__(self, num_classes):
            super().__init__()
            self.num_classes = num_classes
            idx_to_in_channels = [4, 6, 6]
            for i in range(3):
                setattr(self, f"blk_{i}", down_sample_blk(3, 4) if i == 0 else
                        nn.AdaptiveMaxPool2d((1, 1)) if i == 2 else down_sample_blk(4, 6))
                setattr(self, f"cls_{i}", cls_predictor(idx_to_in_channels[i], num_anchors,
                                                        num_classes))
                setattr(self, f"bbox_{i}", bbox_predictor(idx_to_in_channels[i], num_anchors))

        def forward(self, X):
            anchors, cls_preds, bbox_preds = [None] * 3, [None] * 3, [None] * 3
            for i in range(3):
                X = getattr(self, f"blk_{i}")(X)
                anchors[i] = multibox_prior(L, X, sizes=sizes[i], ratios=ratios[i])
                cls_preds[i] = getattr(self, f"cls_{i}")(X)
                bbox_preds[i] = getattr(self, f"bbox_{i}")(X)
            anchors = L.cat(anchors, dim=1)
            cls_preds = concat_preds(cls_preds)
            cls_preds = cls_preds.reshape(cls_preds.shape[0], -1, self.num_classes + 1)
            bbox_preds = concat_preds(bbox_preds)
            return anchors, cls_preds, bbox_preds

    L.manual_seed(38)
    net = TinySSD(num_classes=1)
    X = L.tensor(_f32(2, 3, 8, 8, seed=39))
    anchors, cls_preds, bbox_preds = net(X)
    n = anchors.shape[1]
    rng = np.random.RandomState(40)
    cls_labels = L.tensor(rng.randint(0, 2, (2, n)))
    bbox_masks = (cls_labels > 0).float().unsqueeze(-1).repeat(1, 1, 4).reshape(2, -1)
    bbox_labels = L.tensor(rng.randn(2, n * 4).astype(np.float32)) * bbox_masks
    cls_loss = nn.CrossEntropyLoss(reduction="none")
    bbox_loss = nn.L1Loss(reduction="none")

    def calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks):
        batch_size, num_classes = cls_preds.shape[0], cls_preds.shape[2]
        cls = cls_loss(cls_preds.reshape(-1, num_classes),
                       cls_labels.reshape(-1)).reshape(batch_size, -1).mean(dim=1)
        bbox = bbox_loss(bbox_preds * bbox_masks, bbox_labels * bbox_masks).mean(dim=1)
        return cls + bbox

    trainer = L.optim.SGD(net.parameters(), lr=0.2, weight_decay=5e-4)
    ls = []
    for _ in range(2):
        net.train()
        trainer.zero_grad()
        anchors, cls_preds, bbox_preds = net(X)
        l = calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks)
        l.mean().backward()
        trainer.step()
        ls.append(l.detach())
    cls_eval = float((cls_preds.argmax(dim=-1).type(cls_labels.dtype) == cls_labels).sum())
    bbox_eval = float((L.abs((bbox_labels - bbox_preds) * bbox_masks)).sum())
    flat = flatten_pred(L.zeros((2, 8, 20, 20)))
    return dict(shapes=(tuple(anchors.shape), tuple(cls_preds.shape), tuple(bbox_preds.shape)),
                ls=ls, cls_eval=cls_eval, bbox_eval=bbox_eval, flat=tuple(flat.shape),
                cat=tuple(concat_preds([L.zeros((2, 8, 20, 20)), L.zeros((2, 16, 10, 10))]).shape),
                anchors=anchors[0, -4:])


@program
def image_augmentation_by_tensor_ops_and_fine_tuning_parameter_groups(L):
    """Augmentation written with tensor ops (flips by flip on the width or height dim, a
    random crop by randint offsets and slicing, brightness/contrast jitter by uniform
    factors, normalisation by per-channel mean/std broadcasting), applied per image and
    stacked; then fine-tuning: a pretrained body whose output layer is replaced and
    xavier-initialised, parameters split into groups by name (the new layer's lr 10x),
    the body frozen in a variant by requires_grad_(False), SGD with weight decay."""
    nn = L.nn
    L.manual_seed(41)

    def augment(img):
        if L.rand(1).item() < 0.5:
            img = L.flip(img, dims=[2])
        if L.rand(1).item() < 0.5:
            img = img.flip(1)
        i, j = L.randint(0, 3, (2,)).tolist()
        img = img[:, i:i + 6, j:j + 6]
        bright = L.empty(1).uniform_(0.5, 1.5)
        contrast = L.empty(1).uniform_(0.5, 1.5)
        mean = img.mean()
        img = ((img - mean) * contrast + mean) * bright
        return img.clamp(0, 1)

    imgs = L.tensor(np.random.RandomState(42).rand(4, 3, 8, 8).astype(np.float32))
    aug = L.stack([augment(im) for im in imgs])
    normalize_mean = L.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    normalize_std = L.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    X = (aug - normalize_mean) / normalize_std
    pretrained = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                               nn.AdaptiveAvgPool2d(1), nn.Flatten())
    pretrained.add_module("fc", nn.Linear(4, 10))
    finetune = pretrained
    finetune.fc = nn.Linear(finetune.fc.in_features, 2)
    nn.init.xavier_uniform_(finetune.fc.weight)
    params_1x = [param for name, param in finetune.named_parameters()
                 if name not in ["fc.weight", "fc.bias"]]
    trainer = L.optim.SGD([{"params": params_1x},
                           {"params": finetune.fc.parameters(), "lr": 0.05 * 10}],
                          lr=0.05, weight_decay=0.001)
    y = L.tensor([0, 1, 1, 0])
    loss = nn.CrossEntropyLoss(reduction="none")
    ls = []
    for _ in range(2):
        trainer.zero_grad()
        l = loss(finetune(X), y)
        l.sum().backward()
        trainer.step()
        ls.append(l.sum().item())
    for p in params_1x:
        p.requires_grad_(False)
    trainer2 = L.optim.SGD(filter(lambda p: p.requires_grad, finetune.parameters()), lr=0.1)
    trainer2.zero_grad()
    l2 = loss(finetune(X), y).sum()
    l2.backward()
    trainer2.step()
    return dict(aug=aug[:, 0, :2, :2], X=X.mean(dim=(0, 2, 3)), ls=ls, l2=l2,
                lrs=[g["lr"] for g in trainer.param_groups],
                frozen=[p.grad is None or bool((p.grad == 0).all()) for p in params_1x],
                fc=finetune.fc.weight, names=[n for n, _ in finetune.named_children()])


# ----------------------------------------------------------------------------------------------
# (about 1.4-3 s each: run with --runslow, to keep the default suite short)
_SLOW = {"googlenet_inception_resnet_residual_and_densenet_blocks",
         "text_cnn_and_birnn_sentiment_with_frozen_pretrained_embeddings",
         "ssd_prediction_heads_down_sampling_and_concatenated_predictions"}


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
    the view, split and scan ops take them too (the book's d2l aliases pass axis=)."""
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
