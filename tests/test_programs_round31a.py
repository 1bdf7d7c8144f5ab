"""Whole programs of round 31, part a: end-to-end training and autograd programs covering
the features the official PyTorch tutorials teach, in the areas earlier rounds left out,
each written here from scratch.

Covered: fitting a cubic to sin (hand-derived gradients, autograd, a custom Function,
Sequential with Flatten(0, 1), RMSprop, scalar-Parameter modules, a depth chosen by Python's
random); tensor basics (creation, numpy sharing, out= forms, in-place ops, a vector backward
with an explicit gradient, which results require grad); a LeNet-style net whose loss graph
is walked through grad_fn.next_functions and updated by hand; a small image classifier with
per-class counts; reusable fit/validate helpers with a batch-size-weighted validation loss
and a reshaping loader wrapper; a frozen then fine-tuned residual backbone with StepLR and
the best weights restored; a GAN with weights initialised by class name and alternating
steps on a detached fake; a GRU encoder-decoder with additive attention, teacher forcing
and greedy decoding; a hand-written recurrent cell classifying names (with a confusion
matrix) and a conditioned one generating them; a classifier that warps its input by
affine_grid/grid_sample; image optimisation by LBFGS through loss-recording probe modules;
a sign-of-gradient attack per epsilon; ensembles by stack_module_state over a meta-device
skeleton; Jacobians and Hessians by torch.func and autograd.functional; saved-tensor hooks,
hook order, gradients at kinks and inference mode; custom Functions with jvp, constants and
once_differentiable; chained parametrizations with right inverses.

Fixed in minigrad by these programs (one of 18 failed at first, the LeNet walk; one more
needed a change, the spatial transformer):
- mse_loss built its graph as several nodes (a product of differences, then the mean
  renamed MseLossBackward0), so ``loss.grad_fn.next_functions`` led to MulBackward0 instead
  of the input's node and left the target out; smooth_l1_loss, huber_loss,
  binary_cross_entropy and binary_cross_entropy_with_logits likewise hid an elementwise node
  under the reduction.  Each is now a single node over (input, target) exposing
  ``_saved_self``, ``_saved_target``, ``_saved_reduction`` (and ``_saved_beta`` /
  ``_saved_delta``), with a backward rounded like PyTorch's kernel (for mse, 2/N (x - y) g)
  that can itself be differentiated; test_pointwise_loss_is_one_node_over_its_input_and_target
  covers every loss, reduction, dtype and the second derivative.
- grid_sample on CPU in PyTorch maps a normalised coordinate to pixels with one fused
  multiply-add, fma(x + 1, W / 2, -0.5); rounded once, some pixel centres of an identity
  affine_grid land one ulp below an integer, where minigrad's ((x + 1) W - 1) / 2 landed on
  it.  Bilinear sampling has a kink exactly there, so the first gradient of the identity-
  initialised regressor took the slope of the other side.  minigrad now rounds the same way.
- minigrad's fused linear node reports its inputs in the order of PyTorch's addmm (bias,
  input, TBackward0 of the weight) when its graph is read; checked below as well.

Harness: tests/side_by_side.py.  Each program runs under both libraries on identical numpy
inputs and seeded draws; values, dtypes, shapes and requires_grad must agree, or both must
raise the same exception type with torch's message, and warn alike.
"""
import copy
import importlib
import io
import math
import random
import re
import string
import unicodedata

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import (  # noqa: E402
    err, import_forward_ad_decompositions, load_seeded, normal64, normal32, labels,
    registry, program_harness)


HARNESS = program_harness()
PROGRAMS, program = registry()
import_forward_ad_decompositions()
torch.set_num_threads(1)   # tiny problems: threads only add overhead (and stall on a busy machine)


# ----------------------------------------------------------------------------------------------
# regression warm-ups
# ----------------------------------------------------------------------------------------------
@program
def cubic_fits_to_sin_from_manual_gradients_to_modules(L):
    """One regression, sin on [-pi, pi] by a cubic in float64, solved seven ways: gradients
    derived by hand, autograd with parameters updated under no_grad (grads reset to None),
    a custom Function for the degree-3 Legendre polynomial, Sequential(Linear(3, 1),
    Flatten(0, 1)) over powers made by unsqueeze/pow with MSELoss(reduction='sum'), the same
    net under RMSprop, a Module holding four scalar Parameters (with a text summary), and a
    Module whose extra terms vary in number by Python's random."""
    nn = L.nn
    f64 = L.float64
    grid = L.linspace(-math.pi, math.pi, 400, dtype=f64)
    wave = L.sin(grid)
    res = {}

    def poly(cs, t):
        c0, c1, c2, c3 = cs
        return c0 + c1 * t + c2 * t ** 2 + c3 * t ** 3

    # (1) every derivative written out
    L.manual_seed(0)
    coef = [L.randn((), dtype=f64) for _ in range(4)]
    step = 1e-6
    for _ in range(40):
        fit = poly(coef, grid)
        sq_err = (fit - wave).pow(2).sum().item()
        dfit = 2.0 * (fit - wave)
        grads = [dfit.sum(), (dfit * grid).sum(), (dfit * grid ** 2).sum(),
                 (dfit * grid ** 3).sum()]
        for k in range(4):
            coef[k] -= step * grads[k]
    res["hand"] = (sq_err, *coef, f"y = {coef[0].item():.8f} + {coef[1].item():.8f} x")

    # (2) autograd, plain descent
    coef = [L.randn((), dtype=f64, requires_grad=True) for _ in range(4)]
    for _ in range(40):
        sq = (poly(coef, grid) - wave).pow(2).sum()
        sq.backward()
        with L.no_grad():
            for c in coef:
                c -= step * c.grad
            for c in coef:
                c.grad = None
    res["autograd"] = (sq, *coef, coef[0].grad)

    # (3) the cubic through P3(u) = (5u^3 - 3u) / 2, derivative 3/2 (5u^2 - 1)
    class Legendre3(L.autograd.Function):
        @staticmethod
        def forward(ctx, u):
            ctx.save_for_backward(u)
            return 0.5 * (5 * u ** 3 - 3 * u)

        @staticmethod
        def backward(ctx, g):
            u, = ctx.saved_tensors
            return g * 1.5 * (5 * u ** 2 - 1)

    shift, scale, inner, slope = (L.full((), v, dtype=f64, requires_grad=True)
                                  for v in (0.0, -1.0, 0.0, 0.3))
    coef = (shift, scale, inner, slope)
    for _ in range(40):
        fit = shift + scale * Legendre3.apply(inner + slope * grid)
        sq = (fit - wave).pow(2).sum()
        sq.backward()
        with L.no_grad():
            for c in coef:
                c -= 5e-6 * c.grad
                c.grad = None
    res["legendre"] = (sq, *coef, type(fit.grad_fn).__name__,
                       type(Legendre3.apply(inner + slope * grid).grad_fn).__name__)

    # (4) a linear layer over the powers 1, 2, 3
    powers = grid.unsqueeze(-1).pow(L.tensor([1, 2, 3]))
    res["xx"] = powers[:3]
    sum_sq = nn.MSELoss(reduction="sum")
    L.manual_seed(1)
    seq = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)).to(f64)
    for _ in range(30):
        sq = sum_sq(seq(powers), wave)
        seq.zero_grad()
        sq.backward()
        with L.no_grad():
            for w in seq.parameters():
                w -= 1e-6 * w.grad
    head = seq[0]
    res["nn"] = (sq, head.bias.item(), head.weight[:, 0].item(), head.weight[:, 2].item(),
                 str(seq))

    def run_optimizer(model, opt, inputs, steps=30):
        for _ in range(steps):
            sq = sum_sq(model(inputs), wave)
            opt.zero_grad()
            sq.backward()
            opt.step()
        return sq

    # (5) the same layer under RMSprop
    L.manual_seed(2)
    seq = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)).double()
    sq = run_optimizer(seq, L.optim.RMSprop(seq.parameters(), lr=1e-3), powers)
    res["rmsprop"] = (sq, seq[0].weight, seq[0].bias)

    # (6) and (7) scalar parameters on a module, fixed and random depth
    class ScalarPoly(nn.Module):
        def __init__(self, names):
            super().__init__()
            for name in names:
                setattr(self, name, nn.Parameter(L.randn(())))

        def forward(self, t):
            return poly((self.a, self.b, self.c, self.d), t)

        def summary(self):
            return " ".join(f"{k}={v.item():.6f}" for k, v in self.named_parameters())

    class RandomDepthPoly(ScalarPoly):
        def __init__(self, rng):
            super().__init__("abcde")
            self.rng = rng

        def forward(self, t):
            out = super().forward(t)
            for power in range(4, self.rng.randint(4, 6)):
                out = out + self.e * t ** power
            return out

    L.manual_seed(3)
    sp = ScalarPoly("abcd").double()
    sq = run_optimizer(sp, L.optim.SGD(sp.parameters(), lr=1e-6), grid)
    res["module"] = (sq, sp.summary(), [k for k, _ in sp.named_parameters()])
    L.manual_seed(4)
    rp = RandomDepthPoly(random.Random(0)).double()
    sq = run_optimizer(rp, L.optim.SGD(rp.parameters(), lr=1e-8, momentum=0.9), grid)
    res["dynamic"] = (sq, dict(rp.named_parameters()))
    return res


# ----------------------------------------------------------------------------------------------
# tensors, a graph walk, a first classifier
# ----------------------------------------------------------------------------------------------
@program
def tensor_basics_numpy_bridge_and_autograd(L):
    """Tensor basics: tensors from a list, from numpy, like another (ones, seeded rand with
    a dtype), from a shape tuple; shape, dtype and device; row, column and ellipsis
    indexing, assignment into a column, cat; matmul three ways (operator, method, out=) and
    product three ways; sum().item(); add_; memory shared with numpy in both directions;
    backward of a vector with an explicit gradient for f(u, v) = 3u^3 - v^2; requires_grad
    propagating only from a leaf that asks for it; a non-scalar backward refused."""
    grid = [[1, 2], [3, 4]]
    from_list = L.tensor(grid)
    arr = np.array(grid)
    from_np = L.from_numpy(arr)
    like_ones = L.ones_like(from_list)
    L.manual_seed(0)
    like_rand = L.rand_like(from_list, dtype=L.float)
    dims = (2, 3)
    made = (L.rand(dims), L.ones(dims), L.zeros(dims))
    probe = L.rand(3, 4)
    meta = (tuple(probe.shape), str(probe.dtype), str(probe.device))
    m = L.ones(4, 4)
    picked = (m[0], m[:, 0], m[..., -1])
    m[:, 1] = 0
    wide = L.cat([m] * 3, dim=1)
    mm_op, mm_method = m @ m.T, m.matmul(m.T)
    mm_out = L.rand_like(mm_op)
    L.matmul(m, m.T, out=mm_out)
    mul_op, mul_method = m * m, m.mul(m)
    mul_out = L.rand_like(m)
    L.mul(m, m, out=mul_out)
    total = m.sum().item()
    m.add_(5)
    shared = L.ones(5)
    view = shared.numpy()
    shared.add_(1)
    seen_in_numpy = view.copy()
    source = np.ones(5)
    wrapped = L.from_numpy(source)
    np.add(source, 1, out=source)
    res = {"create": (from_list, from_np, like_ones, like_rand, *made), "attrs": meta,
           "first": picked, "cat": wide, "mm": (mm_op, mm_method, mm_out),
           "mul": (mul_op, mul_method, mul_out), "agg": (total, type(total).__name__),
           "add_": m, "bridge": (seen_in_numpy, wrapped, wrapped.dtype)}

    u = L.tensor([2., 3.], requires_grad=True)
    v = L.tensor([6., 4.], requires_grad=True)
    f = 3 * u ** 3 - v ** 2
    f.backward(gradient=L.tensor([1., 1.]))
    res["Q"] = (f, u.grad, v.grad, 9 * u ** 2 == u.grad, -2 * v == v.grad)
    p, q = L.rand(5, 5), L.rand(5, 5)
    leaf = L.rand((5, 5), requires_grad=True)
    res["dag"] = ((p + q).requires_grad, (p + leaf).requires_grad)
    res["nonscalar"] = err(lambda: (3 * u ** 3).backward())
    return res


def _lenet(L, in_ch=1, fc_in=16 * 5 * 5):
    """Two 5x5 convolutions (6 and 16 maps), each followed by ReLU and a 2x2 max pool, then
    three linear layers 120 -> 84 -> 10."""
    nn, F = L.nn, L.nn.functional

    class ConvPoolMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_ch, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(fc_in, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, img):
            h = F.max_pool2d(F.relu(self.conv1(img)), (2, 2))
            h = L.flatten(F.max_pool2d(F.relu(self.conv2(h)), 2), 1)
            for fc in (self.fc1, self.fc2):
                h = F.relu(fc(h))
            return self.fc3(h)

    return ConvPoolMLP()


@program
def lenet_grad_fn_chain_and_manual_update(L):
    """A LeNet-style net in float64 on a 1x1x32x32 input: its repr, parameter count and
    first shape; backward of an arbitrary output gradient; the grad_fn of an MSELoss and its
    next_functions (the loss node over input and target, _saved_reduction); a bias gradient
    before (None) and after backward; one step written with .data.sub_ and two steps of
    optim.SGD."""
    L.manual_seed(0)
    net = _lenet(L).double()
    plist = list(net.parameters())
    res = {"repr": str(net), "n": len(plist), "size0": plist[0].size()}
    img = L.randn(1, 1, 32, 32, dtype=L.float64)
    pred = net(img)
    net.zero_grad()
    pred.backward(L.randn(1, 10, dtype=L.float64))
    res["random_backward"] = net.conv1.weight.grad
    goal = L.randn(10, dtype=L.float64).view(1, -1)
    mse = L.nn.MSELoss()
    cost = mse(net(img), goal)
    node = cost.grad_fn
    # one level deeper (the addmm node's next_functions) is checked by
    # test_linear_node_lists_its_inputs_in_addmm_order below
    res["chain"] = (type(node).__name__, type(node.next_functions[0][0]).__name__,
                    [(None if f is None else type(f).__name__, k)
                     for f, k in node.next_functions], node._saved_reduction)
    net.zero_grad()
    no_grad_yet = net.conv1.bias.grad
    cost.backward()
    res["bias_grad"] = (no_grad_yet, net.conv1.bias.grad)
    for w in net.parameters():
        w.data.sub_(w.grad.data * 0.01)
    sgd = L.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):
        sgd.zero_grad()
        cost = mse(net(img), goal)
        cost.backward()
        sgd.step()
    res["after"] = (cost, net.fc3.weight)
    return res


@program
def small_image_classifier_loop_and_per_class_accuracy(L):
    """Ten-class classification of 3x32x32 float32 images by the same conv net:
    CrossEntropyLoss, SGD(lr=1e-3, momentum=0.9), a shuffled DataLoader of 4, the mean loss
    of every two batches kept; evaluation under no_grad by max over .data along dim 1, the
    overall hit count and hits per class counted in dicts keyed by class names."""
    names = tuple(f"class{k}" for k in range(10))
    imgs = L.tensor(normal32(24, 3, 32, 32, seed=3))
    tags = L.tensor(labels(24, 10, seed=4))
    L.manual_seed(0)
    loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(imgs[:16], tags[:16]),
                                     batch_size=4, shuffle=True, num_workers=0)
    held_out = L.utils.data.DataLoader(L.utils.data.TensorDataset(imgs[16:], tags[16:]),
                                       batch_size=4, shuffle=False)
    net = _lenet(L, 3)
    xent = L.nn.CrossEntropyLoss()
    sgd = L.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    pair_means = []
    for _ in range(2):
        acc = 0.0
        for k, (xb, yb) in enumerate(loader):
            sgd.zero_grad()
            batch_loss = xent(net(xb), yb)
            batch_loss.backward()
            sgd.step()
            acc += batch_loss.item()
            if k % 2 == 1:
                pair_means.append(acc / 2)
                acc = 0.0
    hits, seen = 0, 0
    hits_by = dict.fromkeys(names, 0)
    seen_by = dict.fromkeys(names, 0)
    with L.no_grad():
        for xb, yb in held_out:
            _, guess = L.max(net(xb).data, 1)
            seen += yb.size(0)
            hits += (guess == yb).sum().item()
            for truth, g in zip(yb, guess):
                if truth == g:
                    hits_by[names[truth]] += 1
                seen_by[names[truth]] += 1
    return {"losses": L.tensor(pair_means), "acc": (hits, seen), "per_class": hits_by,
            "totals": seen_by, "w": net.conv1.weight, "grad": net.fc3.bias.grad}


# ----------------------------------------------------------------------------------------------
# training helpers
# ----------------------------------------------------------------------------------------------
@program
def training_helpers_validation_by_batch_size_and_a_reshaping_loader(L):
    """Generic training helpers over float64 data converted by map(torch.tensor, arrays):
    a logistic model with Parameters for weight and bias, loaders built as (shuffled train,
    validation with twice the batch), a per-batch function that optionally steps an
    optimiser and returns (loss.item(), len(xb)), an epoch loop toggling train()/eval() whose
    validation loss is a batch-size-weighted mean via np.multiply over the zipped pairs;
    then a loader wrapper (with __len__ and a generator __iter__) that reshapes every batch
    into images for a Sequential CNN ending in Flatten."""
    nn, F = L.nn, L.nn.functional
    tud = importlib.import_module(L.__name__ + ".utils.data")
    xs, ys, xv, yv = map(L.tensor, (normal64(40, 64, seed=1), labels(40, 10, seed=2),
                                    normal64(12, 64, seed=3), labels(12, 10, seed=4)))
    rows, cols = xs.shape
    res = {"shapes": (rows, cols, xs.dtype, ys.dtype, ys.min(), ys.max())}
    L.set_default_dtype(L.float64)

    class Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(L.randn(64, 10) / math.sqrt(64))
            self.bias = nn.Parameter(L.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    def loaders(train_set, val_set, bs):
        return (tud.DataLoader(train_set, batch_size=bs, shuffle=True),
                tud.DataLoader(val_set, batch_size=bs * 2))

    def one_batch(model, crit, xb, yb, opt=None):
        loss = crit(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    val_curve = []

    def run_epochs(n, model, crit, opt, train_it, val_it):
        for ep in range(n):
            model.train()
            for xb, yb in train_it:
                one_batch(model, crit, xb, yb, opt)
            model.eval()
            with L.no_grad():
                per_batch = [one_batch(model, crit, xb, yb) for xb, yb in val_it]
            values, sizes = zip(*per_batch)
            val_curve.append((ep, np.sum(np.multiply(values, sizes)) / np.sum(sizes)))

    class Mapped:
        def __init__(self, loader, fn):
            self.loader, self.fn = loader, fn

        def __len__(self):
            return len(self.loader)

        def __iter__(self):
            return (self.fn(*batch) for batch in self.loader)

    L.manual_seed(0)
    train_set = tud.TensorDataset(xs, ys)
    val_set = tud.TensorDataset(xv, yv)
    train_it, val_it = loaders(train_set, val_set, 8)
    logistic = Logistic()
    run_epochs(3, logistic, F.cross_entropy, L.optim.SGD(logistic.parameters(), lr=0.5),
               train_it, val_it)
    res["logistic"] = (list(val_curve), logistic.weights, logistic.bias.grad)

    def as_images(xb, yb):
        return xb.view(-1, 1, 8, 8), yb

    train_it, val_it = (Mapped(it, as_images) for it in loaders(train_set, val_set, 8))
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    val_curve.clear()
    run_epochs(2, cnn, F.cross_entropy, L.optim.SGD(cnn.parameters(), lr=0.1, momentum=0.9),
               train_it, val_it)
    res["cnn"] = (list(val_curve), len(train_it), cnn[2].weight, str(cnn))
    return res


# ----------------------------------------------------------------------------------------------
# reusing a backbone
# ----------------------------------------------------------------------------------------------
def _tiny_resnet(L):
    """A residual classifier small enough for a test, with the attribute layout of
    torchvision's ResNets (conv1/bn1 stem, layer1 of one residual block, fc of 1000 outputs)
    so that code replacing ``fc`` or reaching into ``layer1[0]`` runs unchanged."""
    nn = L.nn

    def conv3(cin, cout, stride=1):
        return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)

    class Residual(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.conv1, self.bn1 = conv3(width, width), nn.BatchNorm2d(width)
            self.relu = nn.ReLU(inplace=True)
            self.conv2, self.bn2 = conv3(width, width), nn.BatchNorm2d(width)

        def forward(self, x):
            branch = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            branch += x
            return self.relu(branch)

    class TinyResidualNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1 = conv3(3, 8, stride=2), nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = nn.Sequential(Residual(8))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, 1000)

        def forward(self, img):
            h = self.maxpool(self.relu(self.bn1(self.conv1(img))))
            return self.fc(L.flatten(self.avgpool(self.layer1(h)), 1))

    return TinyResidualNet()


@program
def pretrained_backbone_frozen_then_finetuned_with_step_lr(L):
    """Reusing a seeded residual net for a two-class problem: a routine alternating a
    training and a validation pass per epoch (train()/eval(), set_grad_enabled(True only in
    training), predictions by torch.max over dim 1, loss weighted by inputs.size(0), hits by
    torch.sum(preds == labels.data), the scheduler stepped after the training pass, the best
    validation state_dict kept in a BytesIO and loaded back at the end); first every
    parameter frozen and the head replaced by a fresh Linear, SGD on the head only with
    StepLR; then everything trained, the backbone in its own parameter group with a smaller
    rate."""
    nn = L.nn
    StepLR = L.optim.lr_scheduler.StepLR
    L.set_default_dtype(L.float64)
    imgs = L.tensor(normal64(20, 3, 16, 16, seed=5))
    tags = L.tensor(labels(20, 2, seed=6))
    L.manual_seed(0)
    splits = {"train": L.utils.data.TensorDataset(imgs[:12], tags[:12]),
              "val": L.utils.data.TensorDataset(imgs[12:], tags[12:])}
    loaders = {k: L.utils.data.DataLoader(ds, batch_size=4, shuffle=True)
               for k, ds in splits.items()}
    history = []

    def snapshot(model):
        buf = io.BytesIO()
        L.save(model.state_dict(), buf)
        return buf

    def fit(model, crit, opt, sched, epochs=3):
        best_buf, best = snapshot(model), 0.0
        for _ in range(epochs):
            for phase in ("train", "val"):
                training = phase == "train"
                if training:
                    model.train()
                else:
                    model.eval()
                loss_sum, hits = 0.0, 0
                for xb, yb in loaders[phase]:
                    opt.zero_grad()
                    with L.set_grad_enabled(training):
                        scores = model(xb)
                        _, guess = L.max(scores, 1)
                        loss = crit(scores, yb)
                        if training:
                            loss.backward()
                            opt.step()
                    loss_sum += loss.item() * xb.size(0)
                    hits += L.sum(guess == yb.data)
                if training:
                    sched.step()
                size = len(splits[phase])
                acc = hits.double() / size
                history.append((phase, loss_sum / size, acc, sched.get_last_lr()))
                if not training and acc > best:
                    best, best_buf = acc, snapshot(model)
        best_buf.seek(0)
        model.load_state_dict(L.load(best_buf, weights_only=True))
        return model, best

    xent = nn.CrossEntropyLoss()
    frozen = load_seeded(L, _tiny_resnet(L), seed=7)
    for p in frozen.parameters():
        p.requires_grad = False
    L.manual_seed(1)
    frozen.fc = nn.Linear(frozen.fc.in_features, 2)
    opt = L.optim.SGD(frozen.fc.parameters(), lr=0.05, momentum=0.9)
    frozen, best = fit(frozen, xent, opt, StepLR(opt, step_size=2, gamma=0.1))
    res = {"frozen": (list(history), best, frozen.fc.weight, frozen.bn1.running_mean,
                      frozen.conv1.weight.grad,
                      sum(p.numel() for p in frozen.parameters() if p.requires_grad))}
    history.clear()
    tuned = load_seeded(L, _tiny_resnet(L), seed=8)
    L.manual_seed(2)
    tuned.fc = nn.Linear(tuned.fc.in_features, 2)
    body = [p for k, p in tuned.named_parameters() if not k.startswith("fc.")]
    opt = L.optim.SGD([{"params": body, "lr": 1e-3}, {"params": tuned.fc.parameters()}],
                      lr=0.05, momentum=0.9)
    tuned, best = fit(tuned, xent, opt, StepLR(opt, step_size=1, gamma=0.5), 2)
    res["finetune"] = (list(history), best, tuned.layer1[0].conv2.weight,
                       tuned.layer1[0].bn2.running_var, opt.state_dict()["param_groups"])
    return res


# ----------------------------------------------------------------------------------------------
# adversarial training
# ----------------------------------------------------------------------------------------------
@program
def gan_on_small_images_init_by_class_name_and_alternating_steps(L):
    """An adversarial pair on 1x16x16 float32 images: a generator of transposed convolutions
    with BatchNorm2d and ReLU(True), ending in Tanh; a critic of strided convolutions with
    in-place LeakyReLU(0.2) and BatchNorm2d, ending in Sigmoid; weights drawn by matching
    the class name (N(0, 0.02) for any conv, N(1, 0.02) and zero bias for batch norm,
    through .data); BCELoss with a label tensor from torch.full refilled by fill_; per
    batch the critic steps on real then detached fake, then the generator on the same fake;
    Adam(lr=2e-4, betas=(0.5, 0.999)) for both; output means via .item(); samples from a
    fixed code under no_grad."""
    nn = L.nn
    z_dim, g_width, d_width, chans = 8, 4, 4, 1

    def up(cin, cout, stride, pad):
        return nn.ConvTranspose2d(cin, cout, 4, stride, pad, bias=False)

    def down(cin, cout, stride, pad):
        return nn.Conv2d(cin, cout, 4, stride, pad, bias=False)

    class Maker(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                up(z_dim, g_width * 4, 1, 0), nn.BatchNorm2d(g_width * 4), nn.ReLU(True),
                up(g_width * 4, g_width * 2, 2, 1), nn.BatchNorm2d(g_width * 2),
                nn.ReLU(True), up(g_width * 2, chans, 2, 1), nn.Tanh())

        def forward(self, code):
            return self.body(code)

    class Judge(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                down(chans, d_width, 2, 1), nn.LeakyReLU(0.2, inplace=True),
                down(d_width, d_width * 2, 2, 1), nn.BatchNorm2d(d_width * 2),
                nn.LeakyReLU(0.2, inplace=True), down(d_width * 2, 1, 1, 0), nn.Sigmoid())

        def forward(self, img):
            return self.body(img)

    def init_by_kind(mod):
        kind = type(mod).__name__
        if kind.find("Conv") != -1:
            nn.init.normal_(mod.weight.data, 0.0, 0.02)
        elif kind.find("BatchNorm") != -1:
            nn.init.normal_(mod.weight.data, 1.0, 0.02)
            nn.init.constant_(mod.bias.data, 0)

    L.manual_seed(999)
    gen = Maker()
    gen.apply(init_by_kind)
    judge = Judge()
    judge.apply(init_by_kind)
    bce = nn.BCELoss()
    probe_code = L.randn(6, z_dim, 1, 1)
    REAL, FAKE = 1., 0.
    opt_j = L.optim.Adam(judge.parameters(), lr=0.0002, betas=(0.5, 0.999))
    opt_g = L.optim.Adam(gen.parameters(), lr=0.0002, betas=(0.5, 0.999))
    pictures = L.tanh(L.tensor(normal32(12, chans, 16, 16, seed=9)))
    loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(pictures), batch_size=4)
    g_hist, j_hist, means = [], [], []
    for _ in range(2):
        for (batch,) in loader:
            judge.zero_grad()
            n = batch.size(0)
            target = L.full((n,), REAL, dtype=L.float)
            score = judge(batch).view(-1)
            j_real = bce(score, target)
            j_real.backward()
            m_real = score.mean().item()
            made = gen(L.randn(n, z_dim, 1, 1))
            target.fill_(FAKE)
            score = judge(made.detach()).view(-1)
            j_fake = bce(score, target)
            j_fake.backward()
            m_fake_before = score.mean().item()
            j_total = j_real + j_fake
            opt_j.step()
            gen.zero_grad()
            target.fill_(REAL)
            score = judge(made).view(-1)
            g_loss = bce(score, target)
            g_loss.backward()
            m_fake_after = score.mean().item()
            opt_g.step()
            g_hist.append(g_loss.item())
            j_hist.append(j_total.item())
            means.append((m_real, m_fake_before, m_fake_after))
    with L.no_grad():
        samples = gen(probe_code).detach().cpu()
    return {"G": L.tensor(g_hist), "D": L.tensor(j_hist), "stats": L.tensor(means),
            "fake": samples, "bn": judge.body[3].running_var, "w": gen.body[0].weight,
            "types": [type(m).__name__ for m in judge.modules()]}


# ----------------------------------------------------------------------------------------------
# sequence to sequence with attention
# ----------------------------------------------------------------------------------------------
_PAIRS = [("je suis froid .", "i am cold ."), ("elle est grande .", "she is tall ."),
          ("il est triste .", "he is sad ."), ("je suis fatigue !", "i am tired !"),
          ("nous sommes ici .", "we are here ."), ("tu es gentil .", "you are kind ."),
          ("elle est triste .", "she is sad ."), ("il est grand .", "he is tall .")]


@program
def seq2seq_gru_with_additive_attention_and_teacher_forcing(L):
    """A sentence-pair translator: text folded to ASCII and tokenised by regular
    expressions, a vocabulary per side with two reserved ids (start, end) and word counts,
    id rows padded in numpy then wrapped by LongTensor, a DataLoader with a RandomSampler;
    the encoder embeds, drops out and runs a batch_first GRU; the decoder scores the keys by
    additive attention (three Linears, tanh, softmax, bmm), concatenates the context with
    its embedded token for its GRU, and is fed the true previous token in training or its own
    detached topk(1) guess otherwise; NLLLoss on log_softmax flattened by view, one Adam per
    half; greedy decoding of one sentence under no_grad until the end id."""
    nn, F = L.nn, L.nn.functional
    START, END, STEPS = 0, 1, 6

    class Vocab:
        def __init__(self):
            self.ids, self.counts = {}, {}
            self.words = {START: "SOS", END: "EOS"}

        @property
        def size(self):
            return len(self.words)

        def add(self, sentence):
            for w in sentence.split(" "):
                if w in self.ids:
                    self.counts[w] += 1
                    continue
                self.ids[w] = self.size
                self.counts[w] = 1
                self.words[self.ids[w]] = w

        def encode(self, sentence):
            return [self.ids[w] for w in sentence.split(" ")] + [END]

    def clean(text):
        folded = "".join(ch for ch in unicodedata.normalize("NFD", text.lower().strip())
                         if unicodedata.category(ch) != "Mn")
        spaced = re.sub(r"([.!?])", r" \1", folded)
        return re.sub(r"[^a-zA-Z!?]+", r" ", spaced).strip()

    src_vocab, tgt_vocab = Vocab(), Vocab()
    pairs = [(clean(a), clean(b)) for a, b in _PAIRS]
    for src, tgt in pairs:
        src_vocab.add(src)
        tgt_vocab.add(tgt)
    src_rows = np.zeros((len(pairs), STEPS), dtype=np.int32)
    tgt_rows = np.zeros((len(pairs), STEPS), dtype=np.int32)
    for k, (src, tgt) in enumerate(pairs):
        for rows, ids in ((src_rows, src_vocab.encode(src)), (tgt_rows, tgt_vocab.encode(tgt))):
            rows[k, :len(ids)] = ids
    dataset = L.utils.data.TensorDataset(L.LongTensor(src_rows), L.LongTensor(tgt_rows))

    class Encoder(nn.Module):
        def __init__(self, vocab, width, p=0.1):
            super().__init__()
            self.embedding = nn.Embedding(vocab, width)
            self.gru = nn.GRU(width, width, batch_first=True)
            self.dropout = nn.Dropout(p)

        def forward(self, ids):
            return self.gru(self.dropout(self.embedding(ids)))

    class Additive(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.Wa = nn.Linear(width, width)
            self.Ua = nn.Linear(width, width)
            self.Va = nn.Linear(width, 1)

        def forward(self, query, keys):
            energy = self.Va(L.tanh(self.Wa(query) + self.Ua(keys)))
            weights = F.softmax(energy.squeeze(2).unsqueeze(1), dim=-1)
            return L.bmm(weights, keys), weights

    class Decoder(nn.Module):
        def __init__(self, width, vocab, p=0.1):
            super().__init__()
            self.embedding = nn.Embedding(vocab, width)
            self.attention = Additive(width)
            self.gru = nn.GRU(2 * width, width, batch_first=True)
            self.out = nn.Linear(width, vocab)
            self.dropout = nn.Dropout(p)

        def step(self, token, state, keys):
            emb = self.dropout(self.embedding(token))
            ctx, w = self.attention(state.permute(1, 0, 2), keys)
            y, state = self.gru(L.cat((emb, ctx), dim=2), state)
            return self.out(y), state, w

        def forward(self, keys, state, teacher=None):
            token = L.empty(keys.size(0), 1, dtype=L.long).fill_(START)
            logits, maps = [], []
            for t in range(STEPS):
                y, state, w = self.step(token, state, keys)
                logits.append(y)
                maps.append(w)
                if teacher is None:
                    token = y.topk(1)[1].squeeze(-1).detach()
                else:
                    token = teacher[:, t].unsqueeze(1)
            return (F.log_softmax(L.cat(logits, dim=1), dim=-1), state,
                    L.cat(maps, dim=1))

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    width = 12
    enc = Encoder(src_vocab.size, width)
    dec = Decoder(width, tgt_vocab.size)
    loader = L.utils.data.DataLoader(
        dataset, sampler=L.utils.data.RandomSampler(dataset), batch_size=4)
    opt_enc = L.optim.Adam(enc.parameters(), lr=0.01)
    opt_dec = L.optim.Adam(dec.parameters(), lr=0.01)
    nll = nn.NLLLoss()
    per_epoch = []
    for _ in range(3):
        running = 0
        for src, tgt in loader:
            opt_enc.zero_grad()
            opt_dec.zero_grad()
            keys, state = enc(src)
            logp, _, _ = dec(keys, state, tgt)
            loss = nll(logp.view(-1, logp.size(-1)), tgt.view(-1))
            loss.backward()
            opt_enc.step()
            opt_dec.step()
            running += loss.item()
        per_epoch.append(running / len(loader))

    def translate(sentence):
        with L.no_grad():
            ids = L.tensor(src_vocab.encode(sentence), dtype=L.long).view(1, -1)
            logp, _, maps = dec(*enc(ids))
            words = []
            for tok in logp.topk(1)[1].squeeze():
                if tok.item() == END:
                    words.append("<EOS>")
                    break
                words.append(tgt_vocab.words[tok.item()])
        return words, maps

    enc.eval()
    dec.eval()
    words, maps = translate(pairs[0][0])
    return {"vocab": (src_vocab.size, tgt_vocab.size, dict(tgt_vocab.counts)),
            "ids": L.LongTensor(src_rows), "losses": per_epoch, "words": words,
            "attn": maps, "enc_grad": enc.gru.weight_hh_l0.grad,
            "dec": dec.attention.Va.weight}


# ----------------------------------------------------------------------------------------------
# character-level recurrent cells
# ----------------------------------------------------------------------------------------------
_NAMES = {"English": ["Abbott", "Baker", "Carter", "Dawson", "Ellis"],
          "French": ["Allard", "Bélanger", "Chevalier", "Dubois", "Lefèvre"],
          "Japanese": ["Abe", "Fujita", "Kato", "Nakamura", "Sato"]}


@program
def char_rnn_name_classifier_hand_cell_and_confusion(L):
    """Classifying surnames by origin with a recurrent cell written by hand: an alphabet of
    ASCII letters and a little punctuation, accents stripped by unicodedata, one-hot
    encodings of a letter (1 x alphabet) and of a word (length x 1 x alphabet) written by
    chained indexing, a cell of two Linears over cat((x, h), 1) with LogSoftmax, the class
    read by topk, examples drawn with Python's random, gradient steps written as
    p.data.add_(p.grad.data, alpha=-lr), a confusion matrix with rows normalised, and the
    top two guesses for a new word."""
    nn = L.nn
    alphabet = string.ascii_letters + " .,;'"
    A = len(alphabet)

    def to_ascii(word):
        return "".join(ch for ch in unicodedata.normalize("NFD", word)
                       if unicodedata.category(ch) != "Mn" and ch in alphabet)

    by_origin = {k: [to_ascii(w) for w in ws] for k, ws in _NAMES.items()}
    origins = list(by_origin)

    def one_hot_letter(ch):
        t = L.zeros(1, A)
        t[0][alphabet.find(ch)] = 1
        return t

    def one_hot_word(word):
        t = L.zeros(len(word), 1, A)
        for pos, ch in enumerate(word):
            t[pos][0][alphabet.find(ch)] = 1
        return t

    class Cell(nn.Module):
        def __init__(self, n_in, n_hidden, n_out):
            super().__init__()
            self.n_hidden = n_hidden
            self.i2h = nn.Linear(n_in + n_hidden, n_hidden)
            self.h2o = nn.Linear(n_hidden, n_out)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, x, h):
            h = self.i2h(L.cat((x, h), 1))
            return self.softmax(self.h2o(h)), h

        def blank(self):
            return L.zeros(1, self.n_hidden)

    def run(word_t):
        h = cell.blank()
        for pos in range(word_t.size()[0]):
            y, h = cell(word_t[pos], h)
        return y

    def top_origin(y):
        k = y.topk(1)[1][0].item()
        return origins[k], k

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    hidden = 16
    cell = Cell(A, hidden, len(origins))
    res = {"J": one_hot_letter("J"), "shape": one_hot_word("Jones").size(),
           "ascii": to_ascii("Ślusàrski")}
    y0, _ = cell(one_hot_word("Albert")[0], L.zeros(1, hidden))
    res["first"] = (y0, top_origin(y0))
    rng = random.Random(1)

    def draw():
        origin = origins[rng.randint(0, len(origins) - 1)]
        ws = by_origin[origin]
        word = ws[rng.randint(0, len(ws) - 1)]
        return origin, L.tensor([origins.index(origin)], dtype=L.long), one_hot_word(word)

    nll = nn.NLLLoss()
    lr = 0.05
    trace = []
    for _ in range(40):
        _, cls, word_t = draw()
        cell.zero_grad()
        loss = nll(run(word_t), cls)
        loss.backward()
        for p in cell.parameters():
            p.data.add_(p.grad.data, alpha=-lr)
        trace.append(loss.item())
    res["losses"] = trace
    conf = L.zeros(len(origins), len(origins))
    for _ in range(30):
        origin, _, word_t = draw()
        conf[origins.index(origin)][top_origin(run(word_t))[1]] += 1
    for r in range(len(origins)):
        conf[r] = conf[r] / conf[r].sum()
    res["confusion"] = conf
    with L.no_grad():
        vals, idx = run(one_hot_word("Dovesky")).topk(2, 1, True)
        res["predict"] = [(vals[0][k].item(), origins[idx[0][k].item()]) for k in range(2)]
    return res


@program
def char_rnn_name_generator_category_input_and_sampling(L):
    """Generating surnames letter by letter, conditioned on the origin: a cell fed
    cat((origin one-hot, letter one-hot, h), 1) through two Linears, a third Linear over
    cat((h, y), 1), Dropout(0.1) and LogSoftmax; targets are the next letters then an end id
    (alphabet size - 1) as a LongTensor, unsqueezed in place; the loss accumulated in place
    into torch.Tensor([0]) over positions and divided by the length; steps through
    p.data.add_; sampling under no_grad from a first letter, feeding back the topk(1) letter
    until the end id or a length cap."""
    nn = L.nn
    alphabet = string.ascii_letters + " .,;'-"
    A = len(alphabet) + 1
    EOS = A - 1
    origins = list(_NAMES)
    K = len(origins)
    by_origin = {k: [unicodedata.normalize("NFD", w).encode("ascii", "ignore").decode()
                     for w in ws] for k, ws in _NAMES.items()}

    class CondCell(nn.Module):
        def __init__(self, n_in, n_hidden, n_out):
            super().__init__()
            self.n_hidden = n_hidden
            self.i2h = nn.Linear(K + n_in + n_hidden, n_hidden)
            self.i2o = nn.Linear(K + n_in + n_hidden, n_out)
            self.o2o = nn.Linear(n_hidden + n_out, n_out)
            self.dropout = nn.Dropout(0.1)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, origin, x, h):
            joint = L.cat((origin, x, h), 1)
            h, y = self.i2h(joint), self.i2o(joint)
            y = self.o2o(L.cat((h, y), 1))
            return self.softmax(self.dropout(y)), h

        def blank(self):
            return L.zeros(1, self.n_hidden)

    def origin_vec(origin):
        t = L.zeros(1, K)
        t[0][origins.index(origin)] = 1
        return t

    def letters_vec(word):
        t = L.zeros(len(word), 1, A)
        for pos, ch in enumerate(word):
            t[pos][0][alphabet.find(ch)] = 1
        return t

    def next_letters(word):
        return L.LongTensor([alphabet.find(ch) for ch in word[1:]] + [EOS])

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    cell = CondCell(A, 16, A)
    nll = nn.NLLLoss()
    lr = 0.005
    rng = random.Random(2)

    def train_on(origin_t, inputs, targets):
        targets.unsqueeze_(-1)
        h = cell.blank()
        cell.zero_grad()
        total = L.Tensor([0])
        for pos in range(inputs.size(0)):
            y, h = cell(origin_t, inputs[pos], h)
            total += nll(y, targets[pos])
        total.backward()
        for p in cell.parameters():
            p.data.add_(p.grad.data, alpha=-lr)
        return total.item() / inputs.size(0)

    trace = []
    for _ in range(25):
        origin = origins[rng.randint(0, K - 1)]
        word = rng.choice(by_origin[origin])
        trace.append(train_on(origin_vec(origin), letters_vec(word), next_letters(word)))

    def generate(origin, first="A", cap=6):
        with L.no_grad():
            cond, x, h = origin_vec(origin), letters_vec(first), cell.blank()
            name = first
            for _ in range(cap):
                y, h = cell(cond, x[0], h)
                pick = y.topk(1)[1][0][0]
                if pick == EOS:
                    break
                name += alphabet[pick]
                x = letters_vec(alphabet[pick])
            return name

    return {"losses": trace, "target": next_letters("Kato"),
            "samples": [generate(o, s) for o in origins for s in "ABK"],
            "w": cell.o2o.weight}


# ----------------------------------------------------------------------------------------------
# learned input warping
# ----------------------------------------------------------------------------------------------
@program
def spatial_transformer_classifier_train_and_test(L):
    """A classifier of 28x28 digits that first resamples its input: a localisation stack
    (7x7 conv, 2x2 pool, ReLU(True), 5x5 conv, pool, ReLU(True)) and a regressor of six
    affine parameters whose last Linear starts at zero weight and the identity as bias
    (through .data); affine_grid over x.size() and grid_sample with default arguments;
    then two convolutions (Dropout2d on the second), F.dropout gated by self.training;
    SGD on nll_loss; an evaluation summing nll_loss(size_average=False) (which warns) and
    counting pred.eq(target.view_as(pred)); the warped batch made into an HWC numpy image,
    de-normalised per channel and clipped."""
    nn, F = L.nn, L.nn.functional

    class WarpThenClassify(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)
            self.localization = nn.Sequential(
                nn.Conv2d(1, 8, kernel_size=7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
            self.fc_loc = nn.Sequential(nn.Linear(90, 32), nn.ReLU(True), nn.Linear(32, 6))
            last = self.fc_loc[2]
            last.weight.data.zero_()
            last.bias.data.copy_(L.tensor([1, 0, 0, 0, 1, 0], dtype=L.float))

        def warp(self, img):
            theta = self.fc_loc(self.localization(img).view(-1, 90)).view(-1, 2, 3)
            return F.grid_sample(img, F.affine_grid(theta, img.size()))

        def forward(self, img):
            h = F.relu(F.max_pool2d(self.conv1(self.warp(img)), 2))
            h = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(h)), 2)).view(-1, 320)
            h = F.dropout(F.relu(self.fc1(h)), training=self.training)
            return F.log_softmax(self.fc2(h), dim=1)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    net = WarpThenClassify()
    digits = (L.tensor(normal64(16, 1, 28, 28, seed=11)) - 0.1307) / 0.3081
    tags = L.tensor(labels(16, 10, seed=12))
    train = L.utils.data.DataLoader(L.utils.data.TensorDataset(digits[:12], tags[:12]),
                                    batch_size=4, shuffle=True)
    test = L.utils.data.DataLoader(L.utils.data.TensorDataset(digits[12:], tags[12:]),
                                   batch_size=4)
    sgd = L.optim.SGD(net.parameters(), lr=0.01)
    net.train()
    for xb, yb in train:
        sgd.zero_grad()
        step_loss = F.nll_loss(net(xb), yb)
        step_loss.backward()
        sgd.step()
    with L.no_grad():
        net.eval()
        summed, hits = 0, 0
        for xb, yb in test:
            logp = net(xb)
            summed += F.nll_loss(logp, yb, size_average=False).item()
            guess = logp.max(1, keepdim=True)[1]
            hits += guess.eq(yb.view_as(guess)).sum().item()
        summed /= len(test.dataset)

    def as_picture(chw):
        hwc = chw.numpy().transpose((1, 2, 0))
        return np.clip(np.array([0.229, 0.224, 0.225]) * hwc
                       + np.array([0.485, 0.456, 0.406]), 0, 1)

    with L.no_grad():
        warped = net.warp(next(iter(test))[0]).cpu()
    return {"loss": step_loss, "test": (summed, hits),
            "image": as_picture(warped[0].expand(3, 28, 28).clone()),
            "theta_b": net.fc_loc[2].bias, "transformed": warped,
            "grad": net.localization[0].weight.grad}


# ----------------------------------------------------------------------------------------------
# optimising an image
# ----------------------------------------------------------------------------------------------
@program
def style_transfer_probe_modules_and_lbfgs_on_the_image(L):
    """Optimising an image to match one image's features and another's feature correlations
    through a small random conv stack: probe modules that record an mse_loss on self.loss
    and return their input unchanged (one against fixed features, one against a Gram matrix
    made by view, mm and div), a normalising module that builds its mean and std by
    torch.tensor of a tensor (PyTorch warns about the copy) viewed (-1, 1, 1); a new
    Sequential assembled child by child under generated names (ReLUs swapped for
    non-in-place ones, probes inserted after chosen convolutions, an unknown layer type
    refused with a RuntimeError) and cut after its last probe; LBFGS over the image with
    the network in eval mode and frozen, the closure clamping the image under no_grad and
    logging each evaluation."""
    nn, F = L.nn, L.nn.functional

    def gram(feats):
        n, c, h, w = feats.size()
        flat = feats.view(n * c, h * w)
        return L.mm(flat, flat.t()).div(n * c * h * w)

    class MatchFeatures(nn.Module):
        def __init__(self, reference):
            super().__init__()
            self.target = reference.detach()

        def forward(self, feats):
            self.loss = F.mse_loss(feats, self.target)
            return feats

    class MatchGram(nn.Module):
        def __init__(self, reference):
            super().__init__()
            self.target = gram(reference).detach()

        def forward(self, feats):
            self.loss = F.mse_loss(gram(feats), self.target)
            return feats

    class Standardise(nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean = L.tensor(mean).view(-1, 1, 1)
            self.std = L.tensor(std).view(-1, 1, 1)

        def forward(self, img):
            return (img - self.mean) / self.std

    def conv(cin, cout):
        return nn.Conv2d(cin, cout, 3, padding=1)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    features = nn.Sequential(conv(3, 6), nn.ReLU(inplace=True), conv(6, 6),
                             nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
                             conv(6, 8), nn.ReLU(inplace=True), conv(8, 8),
                             nn.ReLU(inplace=True), nn.MaxPool2d(2, 2),
                             conv(8, 8), nn.ReLU(inplace=True), conv(8, 8)).eval()
    mean = L.tensor([0.485, 0.456, 0.406])
    std = L.tensor([0.229, 0.224, 0.225])
    look = L.rand(1, 3, 16, 16)
    subject = L.rand(1, 3, 16, 16)
    prefixes = ((nn.Conv2d, "conv"), (nn.ReLU, "relu"), (nn.MaxPool2d, "pool"),
                (nn.BatchNorm2d, "bn"))

    def assemble(source, at_content=("conv_4",),
                 at_style=("conv_1", "conv_2", "conv_3", "conv_4", "conv_5")):
        net = nn.Sequential(Standardise(mean, std))
        content_probes, style_probes = [], []
        n_conv = 0
        for child in source.children():
            prefix = next((p for kind, p in prefixes if isinstance(child, kind)), None)
            if prefix is None:
                raise RuntimeError(f"Unrecognized layer: {type(child).__name__}")
            if prefix == "conv":
                n_conv += 1
            if prefix == "relu":
                child = nn.ReLU(inplace=False)
            tag = f"{prefix}_{n_conv}"
            net.add_module(tag, child)
            if tag in at_content:
                probe = MatchFeatures(net(subject).detach())
                net.add_module(f"content_loss_{n_conv}", probe)
                content_probes.append(probe)
            if tag in at_style:
                probe = MatchGram(net(look).detach())
                net.add_module(f"style_loss_{n_conv}", probe)
                style_probes.append(probe)
        last = max(k for k in range(len(net))
                   if isinstance(net[k], (MatchFeatures, MatchGram)))
        return net[:last + 1], style_probes, content_probes

    canvas = subject.clone()
    log = []

    def paint(image, max_evals=12, style_weight=1000, content_weight=1):
        net, style_probes, content_probes = assemble(features)
        image.requires_grad_(True)
        net.eval()
        net.requires_grad_(False)
        lbfgs = L.optim.LBFGS([image])
        evals = [0]

        def closure():
            with L.no_grad():
                image.clamp_(0, 1)
            lbfgs.zero_grad()
            net(image)
            s_score, c_score = 0, 0
            for probe in style_probes:
                s_score += probe.loss
            for probe in content_probes:
                c_score += probe.loss
            s_score *= style_weight
            c_score *= content_weight
            (s_score + c_score).backward()
            evals[0] += 1
            log.append((s_score.item(), c_score.item()))
            return s_score + c_score

        while evals[0] <= max_evals:
            lbfgs.step(closure)
        with L.no_grad():
            image.clamp_(0, 1)
        return image, net

    painted, net = paint(canvas)
    return {"names": [k for k, _ in net.named_children()], "runs": log,
            "output": painted, "grad": painted.grad,
            "frozen": [p.requires_grad for p in net.parameters()],
            "unknown": err(lambda: assemble(nn.Sequential(nn.Conv2d(3, 3, 1), nn.Tanh())))}


# ----------------------------------------------------------------------------------------------
# adversarial examples
# ----------------------------------------------------------------------------------------------
@program
def sign_gradient_attack_accuracy_per_epsilon(L):
    """A fast gradient-sign attack (float32) on a small conv classifier with two Dropouts,
    in eval mode: one example at a time, already-wrong predictions skipped (comparing
    .item()s), the input made a leaf by requires_grad = True, model.zero_grad(), the input
    gradient read through .data; the input mapped back to [0, 1] with mean and std tensors
    built from lists, moved with .to(device) and viewed (1, -1, 1, 1); a step of epsilon
    times the sign, clamp, normalise again and re-classify; accuracy and up to three kept
    examples (squeeze().detach().cpu().numpy()) for each epsilon."""
    nn, F = L.nn, L.nn.functional
    dev = L.device("cpu")
    MEAN, STD = 0.1307, 0.3081

    class SmallConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(8 * 12 * 12, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, img):
            h = F.relu(self.conv2(F.relu(self.conv1(img))))
            h = L.flatten(self.dropout1(F.max_pool2d(h, 2)), 1)
            h = self.dropout2(F.relu(self.fc1(h)))
            return F.log_softmax(self.fc2(h), dim=1)

    net = load_seeded(L, SmallConv(), seed=13, scale=0.2).to(dev)
    net.eval()
    raw = L.tensor(np.random.RandomState(14).rand(12, 1, 28, 28).astype(np.float32))
    with L.no_grad():
        tags = net((raw - MEAN) / STD).argmax(1)
    tags = L.where(L.arange(12) % 3 == 2, (tags + 1) % 10, tags)   # every third made wrong
    loader = L.utils.data.DataLoader(
        L.utils.data.TensorDataset((raw - MEAN) / STD, tags), batch_size=1)

    def unnormalise(batch, mean=[MEAN], std=[STD]):
        mean, std = L.tensor(mean).to(dev), L.tensor(std).to(dev)
        return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)

    def evaluate_at(eps):
        kept_right = 0
        kept = []
        for img, tag in loader:
            img, tag = img.to(dev), tag.to(dev)
            img.requires_grad = True
            logp = net(img)
            before = logp.max(1, keepdim=True)[1]
            if before.item() != tag.item():
                continue
            loss = F.nll_loss(logp, tag)
            net.zero_grad()
            loss.backward()
            g = img.grad.data
            moved = L.clamp(unnormalise(img) + eps * g.sign(), 0, 1)
            after = net((moved - MEAN) / STD).max(1, keepdim=True)[1]
            survived = after.item() == tag.item()
            kept_right += survived
            if len(kept) < 3 and (eps == 0 or not survived):
                kept.append((before.item(), after.item(),
                             moved.squeeze().detach().cpu().numpy()))
        return kept_right / float(len(loader)), kept

    per_eps = [evaluate_at(eps) for eps in [0, .05, .1, .2, .3]]
    return {"acc": [a for a, _ in per_eps], "examples": [e for _, e in per_eps],
            "fc1_grad": net.fc1.weight.grad}


# ----------------------------------------------------------------------------------------------
# torch.func: ensembles, Jacobians
# ----------------------------------------------------------------------------------------------
@program
def ensemble_by_stack_module_state_on_a_meta_base(L):
    """Running several copies of an MLP as one: outputs from a Python loop (a different
    batch per model, then a shared batch), parameters and buffers stacked by
    stack_module_state, a deep copy moved to the meta device as the stateless skeleton for
    functional_call under vmap (per-model batches, then in_dims=(0, 0, None)), a backward
    into the stacked leaves, not the original models."""
    nn, F = L.nn, L.nn.functional
    func = L.func

    class ThreeLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(16, 32)
            self.fc2 = nn.Linear(32, 24)
            self.fc3 = nn.Linear(24, 10)

        def forward(self, img):
            h = img.flatten(1)
            for fc in (self.fc1, self.fc2):
                h = F.relu(fc(h))
            return self.fc3(h)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    k = 4
    pool = L.randn(20, 1, 4, 4)
    per_model = pool[:k * 5].reshape(k, 5, 1, 4, 4)
    shared = pool[:5]
    members = [ThreeLayer() for _ in range(k)]
    looped = L.stack([m(b) for m, b in zip(members, per_model)])
    looped_shared = L.stack([m(shared) for m in members])
    weights, bufs = func.stack_module_state(members)
    skeleton = copy.deepcopy(members[0]).to("meta")

    def call_one(w, b, x):
        return func.functional_call(skeleton, (w, b), (x,))

    batched = L.vmap(call_one)(weights, bufs, per_model)
    batched_shared = L.vmap(call_one, in_dims=(0, 0, None))(weights, bufs, shared)
    batched.logsumexp(-1).sum().backward()
    w1 = weights["fc1.weight"]
    return {"loop": looped, "vmap1": batched, "same": looped_shared, "vmap2": batched_shared,
            "keys": list(weights), "stacked": (w1.shape, w1.requires_grad, w1.is_leaf),
            "meta": (str(skeleton.fc1.weight.device), skeleton.fc1.weight.is_meta),
            "grad": weights["fc3.bias"].grad, "model_grad": members[0].fc3.bias.grad,
            "close": L.allclose(batched, looped, atol=1e-3, rtol=1e-5)}


@program
def jacobians_batch_trick_jacfwd_of_jacrev_and_functional(L):
    """Jacobians of v -> tanh(W v + b) in float64 computed every way: one vjp per unit
    vector by autograd.grad, jacrev, autograd.functional.jacobian, jacfwd, jacrev over
    (W, b); for a batch, vmap of jacrev and the trick of summing over the batch first
    (then movedim); Hessians by hessian, by jacfwd of jacrev and by
    autograd.functional.hessian; has_aux; chunk_size=1."""
    F = L.nn.functional
    func = L.func
    L.manual_seed(0)
    n = 4

    def layer(W, b, v):
        return F.linear(v, W, b).tanh()

    W = L.randn(n, n, dtype=L.float64)
    b = L.randn(n, dtype=L.float64)
    v = L.randn(n, dtype=L.float64)
    v_leaf = v.clone().requires_grad_()
    rows = L.stack([L.autograd.grad(layer(W, b, v_leaf), v_leaf, e)[0]
                    for e in L.eye(n, dtype=L.float64)])
    res = {"rows": rows, "jacrev": func.jacrev(layer, argnums=2)(W, b, v),
           "autograd": L.autograd.functional.jacobian(lambda t: layer(W, b, t), v),
           "jacfwd": func.jacfwd(layer, argnums=2)(W, b, v)}
    res["wb"] = tuple(func.jacrev(layer, argnums=(0, 1))(W, b, v))
    vs = L.randn(3, n, dtype=L.float64)
    res["batch_vmap"] = L.vmap(func.jacrev(layer, argnums=2), in_dims=(None, None, 0))(W, b, vs)
    # rows of a batch do not interact, so d(sum over the batch)/d(batch) holds every
    # per-row Jacobian; movedim puts the batch first
    res["batch_trick"] = func.jacrev(lambda W_, b_, x: layer(W_, b_, x).sum(0), argnums=2)(
        W, b, vs).movedim(1, 0)
    res["hess0"] = func.hessian(layer, argnums=2)(W, b, v)
    res["hess1"] = func.jacfwd(func.jacrev(layer, argnums=2), argnums=2)(W, b, v)
    res["hess_autograd"] = L.autograd.functional.hessian(lambda t: layer(W, b, t).sum(), v)

    def with_extra(t):
        out = layer(W, b, t)
        return out, out.detach().abs().max()

    res["aux"] = tuple(func.jacrev(with_extra, has_aux=True)(v))
    res["chunks"] = func.jacrev(layer, argnums=2, chunk_size=1)(W, b, v)
    return res


# ----------------------------------------------------------------------------------------------
# autograd internals
# ----------------------------------------------------------------------------------------------
@program
def autograd_saved_tensors_hooks_order_and_kinks(L):
    """Autograd internals: what a node saves (pow keeps its input itself as _saved_self, exp
    a fresh tensor as _saved_result); pack/unpack hooks on a single saved tensor through
    _raw_saved_self.register_hooks and over a region through saved_tensors_hooks; the
    firing order of a tensor hook, a node pre-hook, a node hook and a post-accumulate-grad
    hook; gradients where functions have kinks (relu, abs, sqrt and norms at zero, max and
    amax over tied values, max over a dim); grad disabled, inference mode and what each
    refuses (saving an inference tensor, updating one in place, a saved tensor changed in
    place, a leaf updated in place)."""
    x = L.tensor([0.5, -1.0, 2.0], requires_grad=True)
    sq = x.pow(2)
    res = {"saved_self": (x.equal(sq.grad_fn._saved_self), x is sq.grad_fn._saved_self)}
    ex = x.exp()
    res["saved_result"] = (ex.equal(ex.grad_fn._saved_result), ex is ex.grad_fn._saved_result)
    shapes = []

    def on_save(t):
        shapes.append(tuple(t.shape))
        return t * 1

    def on_load(t):
        return t * 2   # doubled on the way back, so the effect shows in the gradient

    sq = x.pow(2)
    sq.grad_fn._raw_saved_self.register_hooks(on_save, on_load)
    sq.sum().backward()
    res["one_saved"] = (shapes[:], x.grad)
    x.grad = None
    with L.autograd.graph.saved_tensors_hooks(on_save, on_load):
        z = (x * x).sin()
    z.sum().backward()
    res["region"] = (shapes[:], x.grad)
    fired = []
    leaf = L.tensor([1.0, 2.0], requires_grad=True)
    tripled = leaf * 3
    tripled.register_hook(lambda g: fired.append("tensor hook"))
    tripled.grad_fn.register_prehook(lambda g_out: fired.append("prehook"))
    tripled.grad_fn.register_hook(lambda g_in, g_out: fired.append("post hook"))
    leaf.register_post_accumulate_grad_hook(lambda p: fired.append(("acc", p.grad.tolist())))
    tripled.sum().backward()
    res["order"] = fired

    def grad_at_zero(fn):
        t = L.zeros(3, requires_grad=True)
        fn(t).sum().backward()
        return t.grad

    kinks = [grad_at_zero(fn) for fn in (lambda t: t.relu(), lambda t: t.abs(),
                                         lambda t: t.sqrt(), lambda t: t.norm(),
                                         lambda t: L.linalg.vector_norm(t))]
    tied = L.tensor([1.0, 3.0, 3.0], requires_grad=True)
    for reduce in (lambda t: t.max(), lambda t: t.amax()):
        reduce(tied).backward()
        kinks.append(tied.grad.clone())
        tied.grad = None
    tied.max(dim=0).values.backward()
    kinks.append(tied.grad)
    res["kinks"] = kinks
    with L.set_grad_enabled(False):
        res["disabled"] = (x * 2).requires_grad
    with L.inference_mode():
        frozen = x * 2
    res["inference"] = (frozen.requires_grad, frozen.is_inference(), x.is_inference())
    ones = L.ones(3, requires_grad=True)
    res["inference_save"] = err(lambda: (ones * frozen).sum().backward())
    res["inference_inplace"] = err(lambda: frozen.add_(1))
    src = L.tensor([1.0, 2.0], requires_grad=True)
    sig = src.sigmoid()
    sig.mul_(2)
    res["modified"] = err(lambda: sig.sum().backward())
    res["leaf_inplace"] = err(lambda: src.add_(1))
    return res


# ----------------------------------------------------------------------------------------------
# custom Functions
# ----------------------------------------------------------------------------------------------
@program
def custom_functions_jvp_with_backward_constants_and_linear(L):
    """Custom autograd Functions: an exponential with both backward (from its saved output)
    and jvp (from the output kept on ctx; the input also given to save_for_forward), its
    tangent under dual_level and gradcheck of forward AD, then its gradient; a scaling by a
    Python float whose gradient slot is None; an affine map (x W^T + b, the bias expanded)
    in the setup_context style whose backward consults needs_input_grad, under gradcheck;
    a cube whose backward is wrapped by once_differentiable, so that differentiating its
    gradient again is refused."""
    fwAD = L.autograd.forward_ad
    once_differentiable = importlib.import_module(
        L.__name__ + ".autograd.function").once_differentiable

    class ExpBoth(L.autograd.Function):
        @staticmethod
        def forward(ctx, z):
            e = L.exp(z)
            ctx.e = e
            ctx.save_for_forward(z)
            ctx.save_for_backward(e)
            return e

        @staticmethod
        def backward(ctx, g):
            e, = ctx.saved_tensors
            return g * e

        @staticmethod
        def jvp(ctx, dz):
            de = dz * ctx.e
            del ctx.e
            return de

    L.manual_seed(0)
    point = L.randn(6, 6, dtype=L.double, requires_grad=True)
    direction = L.randn(6, 6, dtype=L.double)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(ExpBoth.apply(fwAD.make_dual(point, direction))).tangent
    res = {"jvp": tangent.detach(), "check": L.autograd.gradcheck(
        ExpBoth.apply, (point,), check_forward_ad=True, check_backward_ad=False,
        check_undefined_grad=False, check_batched_grad=False)}
    ExpBoth.apply(point).sum().backward()
    res["grad"] = point.grad

    class ScaleBy(L.autograd.Function):
        @staticmethod
        def forward(t, k):
            return t * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.k = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return g * ctx.k, None

    v = L.randn(3, dtype=L.double, requires_grad=True)
    scaled = ScaleBy.apply(v, 2.5)
    scaled.sum().backward()
    res["mulconst"] = (scaled, v.grad, type(scaled.grad_fn).__name__)

    class Affine(L.autograd.Function):
        @staticmethod
        def forward(x, W, b):
            y = x.mm(W.t())
            if b is not None:
                y += b.unsqueeze(0).expand_as(y)
            return y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, gy):
            x, W, b = ctx.saved_tensors
            want_x, want_W, want_b = ctx.needs_input_grad
            gx = gy.mm(W) if want_x else None
            gW = gy.t().mm(x) if want_W else None
            gb = gy.sum(0) if b is not None and want_b else None
            return gx, gW, gb

    args = (L.randn(5, 4, dtype=L.double, requires_grad=True),
            L.randn(3, 4, dtype=L.double, requires_grad=True),
            L.randn(3, dtype=L.double, requires_grad=False))
    res["linear_check"] = L.autograd.gradcheck(Affine.apply, args, eps=1e-6, atol=1e-4)
    y = Affine.apply(*args)
    y.pow(2).sum().backward()
    res["linear"] = (y, *(a.grad for a in args))

    class CubeOnce(L.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            t, = ctx.saved_tensors
            return g * 3 * t ** 2

    c = L.tensor([1.0, 2.0], dtype=L.double, requires_grad=True)
    gc, = L.autograd.grad(CubeOnce.apply(c).sum(), c, create_graph=True)
    res["once"] = (gc, gc.requires_grad, err(lambda: gc.sum().backward()))
    return res


# ----------------------------------------------------------------------------------------------
# chained parametrizations
# ----------------------------------------------------------------------------------------------
@program
def parametrize_chains_right_inverse_caching_and_removal(L):
    """Chained parametrizations: antisymmetric part then a Cayley transform with inverses
    for both (an orthogonal weight; the chain's modules, the class renamed
    Parametrized..., state_dict keys), antisymmetric part then matrix_exp without an
    inverse on a second layer (assigning its weight is refused), gradients reaching the
    originals, a weight assigned through the inverses under no_grad, a parametrization on a
    bias evaluated once per cached() region, and removal keeping either the computed value
    or the original."""
    nn = L.nn
    P = importlib.import_module(L.__name__ + ".nn.utils.parametrize")

    class Antisym(nn.Module):
        def forward(self, W):
            upper = W.triu(1)
            return upper - upper.transpose(-1, -2)

        def right_inverse(self, S):
            return S.triu(1)

    class Cayley(nn.Module):
        def __init__(self, size):
            super().__init__()
            self.register_buffer("Id", L.eye(size))

        def forward(self, S):
            return L.linalg.solve(self.Id - S, self.Id + S)

        def right_inverse(self, Q):
            # solving (Q + I) S = Q - I recovers S from Q = (I - S)^-1 (I + S)
            return L.linalg.solve(Q + self.Id, Q - self.Id)

    class Expm(nn.Module):
        def forward(self, S):
            return L.matrix_exp(S)

    def chained(lin, name, *steps):
        for step in steps:
            P.register_parametrization(lin, name, step)
        return lin

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    rot = chained(nn.Linear(3, 3), "weight", Antisym(), Cayley(3))
    Wr = rot.weight
    res = {"orth": Wr.T @ Wr, "repr": str(rot), "type": type(rot).__name__,
           "keys": list(rot.state_dict()),
           "chain": [type(m).__name__ for m in rot.parametrizations.weight],
           "is_param": P.is_parametrized(rot, "weight")}
    ex = chained(nn.Linear(3, 3), "weight", Antisym(), Expm())
    res["expm"] = (ex.weight, L.linalg.det(ex.weight))
    total = rot(L.randn(4, 3)).pow(2).sum() + ex(L.randn(4, 3)).sum()
    total.backward()
    res["grads"] = (rot.parametrizations.weight.original.grad,
                    ex.parametrizations.weight.original.grad)
    A = L.randn(3, 3)
    target = L.matrix_exp(A.triu(1) - A.triu(1).T)

    def set_without_inverse():
        ex.weight = target

    res["no_inverse"] = err(set_without_inverse)
    with L.no_grad():
        rot.weight = target
    res["assigned"] = (rot.parametrizations.weight.original, rot.weight)
    evaluations = []

    class Doubled(nn.Module):
        def forward(self, b):
            evaluations.append(1)
            return b * 2

    small = chained(nn.Linear(3, 2), "bias", Doubled())
    with P.cached():
        y = small(L.randn(2, 3)) + small.bias.sum() + small.bias.sum()
    inside = len(evaluations)
    for _ in range(2):
        small.bias.sum()
    res["cached"] = (inside, len(evaluations), y)
    P.remove_parametrizations(rot, "weight", leave_parametrized=True)
    res["removed_kept"] = (rot.weight, type(rot).__name__, list(rot.state_dict()))
    P.remove_parametrizations(small, "bias", leave_parametrized=False)
    res["removed_orig"] = (small.bias, type(small).__name__)
    return res


# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", PROGRAMS, ids=lambda f: f.__name__)
def test_program_matches_torch(fn):
    assert HARNESS.check(fn, **fn.options) is None


def _node_names(node, depth):
    """(name, [next nodes' (name, ...) to ``depth`` levels, None for an edge without one])."""
    if node is None:
        return None
    return (type(node).__name__,
            [_node_names(n, depth - 1) for n, _ in node.next_functions] if depth else "...")


_POINTWISE_LOSSES = {
    "mse": lambda F, a, b, r: F.mse_loss(a, b, reduction=r),
    "smooth_l1": lambda F, a, b, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.7),
    "huber": lambda F, a, b, r: F.huber_loss(a, b, reduction=r, delta=0.7),
    "bce": lambda F, a, b, r: F.binary_cross_entropy(a.sigmoid(), b.sigmoid(), reduction=r),
    "bce_logits": lambda F, a, b, r: F.binary_cross_entropy_with_logits(
        a, b.sigmoid(), reduction=r, pos_weight=a.new_tensor([2.0]))}


@pytest.mark.parametrize("loss_name", list(_POINTWISE_LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("target_grad", [False, True])
def test_pointwise_loss_is_one_node_over_its_input_and_target(loss_name, reduction, dtype,
                                                              target_grad):
    """mse_loss, smooth_l1_loss, huber_loss, binary_cross_entropy and its logits form
    record one node (MseLossBackward0, SmoothL1LossBackward0, ...) whose next_functions are
    the input's and the target's own nodes ((None, 0) for a target without gradient), with
    its _saved_ fields, as PyTorch's; first and second derivatives (through create_graph,
    points on the band's edge included) and an empty batch agree with PyTorch's.
    minigrad's node listed its inner steps (MulBackward0 of SubBackward0s,
    SmoothL1Backward0, the elementwise BCE node under the reduction's), so walking
    loss.grad_fn.next_functions named the wrong nodes."""
    loss_of = _POINTWISE_LOSSES[loss_name]

    def call(L):
        dt = getattr(L, dtype)
        x = L.tensor(np.r_[normal64(10, seed=1), [0.7, -0.7, 0.0]], dtype=dt,
                     requires_grad=True)
        t = L.tensor(np.r_[normal64(10, seed=2), [0.0, 0.0, 0.0]], dtype=dt,
                     requires_grad=target_grad)
        h = x * 1
        loss = loss_of(L.nn.functional, h, t * 1 if target_grad else t, reduction)
        fn = loss.grad_fn
        gx, = L.autograd.grad(loss.sum(), h, create_graph=True)
        second = L.autograd.grad((gx ** 3).sum() + (gx * x).sum(),
                                 [x] + ([t] if target_grad else []))
        e = L.zeros(0, 2, dtype=dt, requires_grad=True)
        empty = loss_of(L.nn.functional, e, L.zeros(0, 2, dtype=dt), reduction)
        empty.sum().backward()
        fields = [getattr(fn, "_saved_" + k) for k in ("reduction", "beta", "delta")
                  if hasattr(fn, "_saved_" + k)]
        return {"names": _node_names(fn, 2), "saved": (fn._saved_self.shape,
                                                       fn._saved_target.shape, fields),
                "loss": loss, "grad": gx, "second": second, "empty": (empty, e.grad)}
    HARNESS.check(call)


def test_linear_node_lists_its_inputs_in_addmm_order():
    """Two levels down from a loss over a Linear (next_functions[0][0] twice), PyTorch
    reaches the bias's AccumulateGrad, addmm's first input; minigrad reached the input's
    node."""
    def call(L):
        x = L.tensor(normal64(2, 5, seed=1), requires_grad=True).relu()
        y = L.nn.Linear(5, 3).double()(x)
        return _node_names(y.grad_fn, 2)
    HARNESS.check(call)


def test_grid_gradient_at_pixel_centres_follows_fused_rounding():
    """At the identity affine_grid (where an identity-initialised warp starts) every sample
    falls on a pixel centre, where bilinear interpolation has a kink: which side's slope the
    grid gradient takes follows the rounding of the source index, which PyTorch's CPU
    kernel computes as fma(x + 1, size / 2, -0.5) (align_corners=False), one rounding;
    minigrad's ((x + 1) * size - 1) / 2 lands below an integer at other points (28 wide:
    sample 4 is 4 - 1 ulp in PyTorch and exactly 4 in minigrad)."""
    def call(L):
        theta = L.tensor([[[1.0, 0, 0], [0, 1, 0]]], dtype=L.float64, requires_grad=True)
        grid = L.nn.functional.affine_grid(theta, (1, 1, 1, 28), align_corners=False)
        img = L.tensor(np.arange(28.0).reshape(1, 1, 1, 28) ** 2)
        L.nn.functional.grid_sample(img, grid, align_corners=False).sum().backward()
        return theta.grad
    HARNESS.check(call)
