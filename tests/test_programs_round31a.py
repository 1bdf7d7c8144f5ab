"""Whole programs of round 31, part a: the official PyTorch tutorials, as their pages write the
code, in the parts earlier rounds left out.

"Learning PyTorch with examples" (a cubic fitted to sin by hand-derived gradients, by
autograd, through the LegendrePolynomial3 Function, by nn.Sequential with Flatten(0, 1),
by RMSprop, as a Polynomial3 module and as the DynamicNet drawing its depth from Python's
random); the 60-minute blitz (tensor creation and the numpy bridge, out= forms, in-place
ops, Q = 3a^3 - b^2 with an external gradient, the DAG exclusion rule, LeNet's
grad_fn.next_functions chain and its manual update, the CIFAR-10 classifier's loop with
per-class accuracy); "What is torch.nn really?"'s fit/get_data/loss_batch with a
validation loss weighted by batch sizes through numpy and a WrappedDataLoader; transfer
learning (a frozen backbone with a new head, train/val phases under set_grad_enabled,
StepLR, the best weights kept, fine-tuning with parameter groups); the DCGAN tutorial
(weights_init by class name, BCELoss with label.fill_, D and G steps on a detached fake,
Adam with beta1 = 0.5); seq2seq translation (a Lang vocabulary, a RandomSampler over a
TensorDataset of LongTensors, a GRU encoder, Bahdanau attention in the decoder, teacher
forcing, greedy evaluation until EOS); the char-RNN name classifier (one-hot lines, a
hand RNN cell, updates through p.data.add_, a normalised confusion matrix) and generator
(category input, dropout, a loss summed from torch.Tensor([0]), sampling by topk); the
spatial transformer network (identity-initialised fc_loc, affine_grid and grid_sample, a
test loop with the deprecated size_average); neural style transfer (a Normalization made
from torch.tensor of a tensor, Content and Style loss modules inserted in a rebuilt
Sequential that is then trimmed, LBFGS on the input image with clamping in the closure);
FGSM (denorm, sign of the input gradient, clamp, re-normalisation, accuracy per epsilon);
model ensembling by stack_module_state over a base model moved to the meta device; the
autograd mechanics note (saved tensors and their hooks, hook order, non-differentiable
points, inference mode and its refusals); the custom Function and forward-mode AD
tutorials (a Function with a jvp through save_for_forward checked by gradcheck, a
MulConstant with a non-tensor argument); the Jacobians tutorial's batch Jacobian by the
sum-and-movedim trick and jacfwd(jacrev) Hessians; and the parametrizations tutorial's
chained Skew -> CayleyMap -> matrix_exp and initialisation through right_inverse.

What they found, fixed in minigrad (1 program of 18 failed as first written, the blitz's,
beside one that needed a change, below): mse_loss recorded its MseLossBackward0 node as the
last of several (a product of two subtractions, then the renamed mean), so
``loss.grad_fn.next_functions``, which the blitz walks, named MulBackward0 where PyTorch names
the input's node, and listed no target; smooth_l1_loss, huber_loss, binary_cross_entropy and
binary_cross_entropy_with_logits did the same (their elementwise node under the reduction's).
Each is now one node over (input, target) with PyTorch's ``_saved_self``, ``_saved_target``
and ``_saved_reduction`` (``_saved_beta``, ``_saved_delta``), its backward rounded as
PyTorch's kernel (mse: 2/N (x - y) g) and differentiable again; the focused test below checks
each loss, reduction, dtype and second derivative.

PyTorch's CPU grid_sample unnormalises a coordinate by a fused multiply-add, fma(x + 1,
W / 2, -0.5), whose single rounding puts some pixel centres of an identity affine_grid 1 ulp
below an integer where minigrad's ((x + 1) W - 1) / 2 gave the integer: the
spatial-transformer tutorial starts at exactly that grid, where bilinear sampling has a kink,
and the first step's gradient of fc_loc took the other side's slope; minigrad now rounds as
PyTorch does.

The blitz's walk one step further down (minigrad's fused linear node shows PyTorch's
addmm inputs, bias, input and TBackward0 of the weight, once its graph is read) is checked
too.

The harness is the programs rounds' (tests/side_by_side.py): both libraries run each program
on the same numpy inputs and seeded draws and must agree in values, dtypes, shapes and
requires_grad, or raise the same exception type with torch's words, and warn alike.
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
# Learning PyTorch with examples
# ----------------------------------------------------------------------------------------------
@program
def learning_with_examples_cubic_fits_to_sin(L):
    """The page's ladder: the third-order polynomial fitted to sin(x) on [-pi, pi] by
    hand-derived gradients, by autograd under no_grad updates, through the
    LegendrePolynomial3 Function, by nn.Sequential(Linear(3, 1), Flatten(0, 1)) with
    MSELoss(reduction='sum'), by RMSprop, as the Polynomial3 module with its string(), and
    the DynamicNet whose depth comes from Python's random."""
    nn = L.nn
    dtype = L.float64
    x = L.linspace(-math.pi, math.pi, 400, dtype=dtype)
    y = L.sin(x)
    out = {}
    L.manual_seed(0)
    a, b, c, d = (L.randn((), dtype=dtype) for _ in range(4))
    lr = 1e-6
    for t in range(40):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum().item()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_a = grad_y_pred.sum()
        grad_b = (grad_y_pred * x).sum()
        grad_c = (grad_y_pred * x ** 2).sum()
        grad_d = (grad_y_pred * x ** 3).sum()
        a -= lr * grad_a
        b -= lr * grad_b
        c -= lr * grad_c
        d -= lr * grad_d
    out["hand"] = (loss, a, b, c, d, f"y = {a.item():.8f} + {b.item():.8f} x")

    a, b, c, d = (L.randn((), dtype=dtype, requires_grad=True) for _ in range(4))
    for t in range(40):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with L.no_grad():
            for p in (a, b, c, d):
                p -= lr * p.grad
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    out["autograd"] = (loss, a, b, c, d, a.grad)

    class LegendrePolynomial3(L.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    a = L.full((), 0.0, dtype=dtype, requires_grad=True)
    b = L.full((), -1.0, dtype=dtype, requires_grad=True)
    c = L.full((), 0.0, dtype=dtype, requires_grad=True)
    d = L.full((), 0.3, dtype=dtype, requires_grad=True)
    for t in range(40):
        P3 = LegendrePolynomial3.apply
        y_pred = a + b * P3(c + d * x)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with L.no_grad():
            for p in (a, b, c, d):
                p -= 5e-6 * p.grad
                p.grad = None
    out["legendre"] = (loss, a, b, c, d, type(y_pred.grad_fn).__name__,
                       type(P3(c + d * x).grad_fn).__name__)

    p = L.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    out["xx"] = xx[:3]
    L.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)).to(dtype)
    loss_fn = nn.MSELoss(reduction="sum")
    for t in range(30):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        model.zero_grad()
        loss.backward()
        with L.no_grad():
            for param in model.parameters():
                param -= 1e-6 * param.grad
    linear_layer = model[0]
    out["nn"] = (loss, linear_layer.bias.item(), linear_layer.weight[:, 0].item(),
                 linear_layer.weight[:, 2].item(), str(model))

    L.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 1), nn.Flatten(0, 1)).double()
    optimizer = L.optim.RMSprop(model.parameters(), lr=1e-3)
    for t in range(30):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out["rmsprop"] = (loss, model[0].weight, model[0].bias)

    class Polynomial3(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(L.randn(()))
            self.b = nn.Parameter(L.randn(()))
            self.c = nn.Parameter(L.randn(()))
            self.d = nn.Parameter(L.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

        def string(self):
            return (f"y = {self.a.item():.6f} + {self.b.item():.6f} x + "
                    f"{self.c.item():.6f} x^2 + {self.d.item():.6f} x^3")

    L.manual_seed(3)
    model = Polynomial3().double()
    criterion = nn.MSELoss(reduction="sum")
    optimizer = L.optim.SGD(model.parameters(), lr=1e-6)
    for t in range(30):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out["module"] = (loss, model.string(), [n for n, _ in model.named_parameters()])

    class DynamicNet(nn.Module):
        def __init__(self, rng):
            super().__init__()
            self.rng = rng
            self.a = nn.Parameter(L.randn(()))
            self.b = nn.Parameter(L.randn(()))
            self.c = nn.Parameter(L.randn(()))
            self.d = nn.Parameter(L.randn(()))
            self.e = nn.Parameter(L.randn(()))

        def forward(self, x):
            y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
            for exp in range(4, self.rng.randint(4, 6)):
                y = y + self.e * x ** exp
            return y

    L.manual_seed(4)
    model = DynamicNet(random.Random(0)).double()
    optimizer = L.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
    for t in range(30):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    out["dynamic"] = (loss, dict(model.named_parameters()))
    return out


# ----------------------------------------------------------------------------------------------
# the 60-minute blitz
# ----------------------------------------------------------------------------------------------
@program
def blitz_tensors_numpy_bridge_and_autograd(L):
    """The blitz's tensor and autograd pages: creation from data, numpy and other tensors,
    attributes, slicing writes, cat, three spellings of matmul and mul (one into out=),
    sum().item(), add_, the numpy bridge both ways sharing memory, Q = 3a^3 - b^2 with an
    external gradient, and the rule of which results join the DAG."""
    data = [[1, 2], [3, 4]]
    x_data = L.tensor(data)
    np_array = np.array(data)
    x_np = L.from_numpy(np_array)
    x_ones = L.ones_like(x_data)
    L.manual_seed(0)
    x_rand = L.rand_like(x_data, dtype=L.float)
    shape = (2, 3,)
    rand_tensor, ones_tensor, zeros_tensor = L.rand(shape), L.ones(shape), L.zeros(shape)
    tensor = L.rand(3, 4)
    attrs = (tuple(tensor.shape), str(tensor.dtype), str(tensor.device))
    tensor = L.ones(4, 4)
    first = (tensor[0], tensor[:, 0], tensor[..., -1])
    tensor[:, 1] = 0
    t1 = L.cat([tensor, tensor, tensor], dim=1)
    y1 = tensor @ tensor.T
    y2 = tensor.matmul(tensor.T)
    y3 = L.rand_like(y1)
    L.matmul(tensor, tensor.T, out=y3)
    z1 = tensor * tensor
    z2 = tensor.mul(tensor)
    z3 = L.rand_like(tensor)
    L.mul(tensor, tensor, out=z3)
    agg = tensor.sum()
    agg_item = agg.item()
    tensor.add_(5)
    t = L.ones(5)
    n = t.numpy()
    t.add_(1)
    n_after = n.copy()
    n2 = np.ones(5)
    t2 = L.from_numpy(n2)
    np.add(n2, 1, out=n2)
    out = {"create": (x_data, x_np, x_ones, x_rand, rand_tensor, ones_tensor, zeros_tensor),
           "attrs": attrs, "first": first, "cat": t1, "mm": (y1, y2, y3), "mul": (z1, z2, z3),
           "agg": (agg_item, type(agg_item).__name__), "add_": tensor,
           "bridge": (n_after, t2, t2.dtype)}

    a = L.tensor([2., 3.], requires_grad=True)
    b = L.tensor([6., 4.], requires_grad=True)
    Q = 3 * a ** 3 - b ** 2
    external_grad = L.tensor([1., 1.])
    Q.backward(gradient=external_grad)
    out["Q"] = (Q, a.grad, b.grad, 9 * a ** 2 == a.grad, -2 * b == b.grad)
    x = L.rand(5, 5)
    y = L.rand(5, 5)
    z = L.rand((5, 5), requires_grad=True)
    out["dag"] = ((x + y).requires_grad, (x + z).requires_grad)
    out["nonscalar"] = err(lambda: (3 * a ** 3).backward())
    return out


def _lenet(L, in_ch=1, fc_in=16 * 5 * 5):
    nn, F = L.nn, L.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(in_ch, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(fc_in, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = L.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    return Net()


@program
def blitz_lenet_grad_fn_chain_and_manual_update(L):
    """The blitz's neural-network page: LeNet on a 32x32 input, its parameter list, a
    backward of random gradients, MSELoss's grad_fn and the next_functions chain back to
    the parameters, conv1.bias.grad before and after backward, the update written as
    f.data.sub_(f.grad.data * lr), then optim.SGD."""
    nn = L.nn
    L.manual_seed(0)
    net = _lenet(L).double()
    params = list(net.parameters())
    out = {"repr": str(net), "n": len(params), "size0": params[0].size()}
    input = L.randn(1, 1, 32, 32, dtype=L.float64)
    o = net(input)
    net.zero_grad()
    o.backward(L.randn(1, 10, dtype=L.float64))
    out["random_backward"] = net.conv1.weight.grad
    output = net(input)
    target = L.randn(10, dtype=L.float64).view(1, -1)
    criterion = nn.MSELoss()
    loss = criterion(output, target)
    fn = loss.grad_fn
    # (one step further, the addmm node's own next_functions, is left out: minigrad's
    # fused linear node lists (input, weight, bias), PyTorch's addmm (bias, input,
    # TBackward0 of the weight); see test_linear_node_lists_its_inputs_in_addmm_order)
    out["chain"] = (type(fn).__name__, type(fn.next_functions[0][0]).__name__,
                    [(type(f).__name__ if f is not None else None, i)
                     for f, i in fn.next_functions], fn._saved_reduction)
    net.zero_grad()
    before = net.conv1.bias.grad
    loss.backward()
    out["bias_grad"] = (before, net.conv1.bias.grad)
    learning_rate = 0.01
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)
    optimizer = L.optim.SGD(net.parameters(), lr=0.01)
    for _ in range(2):
        optimizer.zero_grad()
        loss = criterion(net(input), target)
        loss.backward()
        optimizer.step()
    out["after"] = (loss, net.fc3.weight)
    return out


@program
def blitz_cifar10_classifier_loop_and_per_class_accuracy(L):
    """The blitz's CIFAR-10 classifier (float32, as the tutorial): LeNet on 3x32x32,
    CrossEntropyLoss, SGD(lr=0.001, momentum=0.9), a shuffled DataLoader of batch 4, the
    running loss printed every few minibatches, and the test pass under no_grad with
    torch.max(outputs.data, 1), overall and per-class accuracy by a dict of counts."""
    nn = L.nn
    classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    X = L.tensor(normal32(24, 3, 32, 32, seed=3))
    Y = L.tensor(labels(24, 10, seed=4))
    L.manual_seed(0)
    trainloader = L.utils.data.DataLoader(L.utils.data.TensorDataset(X[:16], Y[:16]),
                                          batch_size=4, shuffle=True, num_workers=0)
    testloader = L.utils.data.DataLoader(L.utils.data.TensorDataset(X[16:], Y[16:]),
                                         batch_size=4, shuffle=False)
    net = _lenet(L, 3)
    criterion = nn.CrossEntropyLoss()
    optimizer = L.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    printed = []
    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels_ = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels_)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 2 == 1:
                printed.append(running_loss / 2)
                running_loss = 0.0
    correct = 0
    total = 0
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with L.no_grad():
        for data in testloader:
            images, labels_ = data
            outputs = net(images)
            _, predicted = L.max(outputs.data, 1)
            total += labels_.size(0)
            correct += (predicted == labels_).sum().item()
            for label, prediction in zip(labels_, predicted):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    return {"losses": L.tensor(printed), "acc": (correct, total), "per_class": correct_pred,
            "totals": total_pred, "w": net.conv1.weight, "grad": net.fc3.bias.grad}


# ----------------------------------------------------------------------------------------------
# What is torch.nn really?
# ----------------------------------------------------------------------------------------------
@program
def nn_really_fit_get_data_loss_batch_and_wrapped_loader(L):
    """The refactor's last stage: map(torch.tensor, numpy arrays), Mnist_Logistic with
    nn.Parameter weights, get_data with a shuffled train DataLoader and a double-size
    validation one, loss_batch returning (loss.item(), len(xb)), fit with train()/eval()
    and a validation loss weighted through np.multiply of the zipped results; then the
    WrappedDataLoader that reshapes batches for a Sequential CNN."""
    nn, F, optim = L.nn, L.nn.functional, L.optim
    tud = importlib.import_module(L.__name__ + ".utils.data")
    x_train, y_train, x_valid, y_valid = map(
        L.tensor, (normal64(40, 64, seed=1), labels(40, 10, seed=2),
                   normal64(12, 64, seed=3), labels(12, 10, seed=4)))
    n, c = x_train.shape
    out = {"shapes": (n, c, x_train.dtype, y_train.dtype, y_train.min(), y_train.max())}
    L.set_default_dtype(L.float64)

    class Mnist_Logistic(nn.Module):
        def __init__(self):
            super().__init__()
            self.weights = nn.Parameter(L.randn(64, 10) / math.sqrt(64))
            self.bias = nn.Parameter(L.zeros(10))

        def forward(self, xb):
            return xb @ self.weights + self.bias

    def get_data(train_ds, valid_ds, bs):
        return (tud.DataLoader(train_ds, batch_size=bs, shuffle=True),
                tud.DataLoader(valid_ds, batch_size=bs * 2))

    def loss_batch(model, loss_func, xb, yb, opt=None):
        loss = loss_func(model(xb), yb)
        if opt is not None:
            loss.backward()
            opt.step()
            opt.zero_grad()
        return loss.item(), len(xb)

    history = []

    def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
        for epoch in range(epochs):
            model.train()
            for xb, yb in train_dl:
                loss_batch(model, loss_func, xb, yb, opt)
            model.eval()
            with L.no_grad():
                losses, nums = zip(*[loss_batch(model, loss_func, xb, yb)
                                     for xb, yb in valid_dl])
            val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
            history.append((epoch, val_loss))

    L.manual_seed(0)
    train_ds = tud.TensorDataset(x_train, y_train)
    valid_ds = tud.TensorDataset(x_valid, y_valid)
    train_dl, valid_dl = get_data(train_ds, valid_ds, 8)
    model = Mnist_Logistic()
    opt = optim.SGD(model.parameters(), lr=0.5)
    fit(3, model, F.cross_entropy, opt, train_dl, valid_dl)
    out["logistic"] = (list(history), model.weights, model.bias.grad)

    class WrappedDataLoader:
        def __init__(self, dl, func):
            self.dl = dl
            self.func = func

        def __len__(self):
            return len(self.dl)

        def __iter__(self):
            for b in self.dl:
                yield (self.func(*b))

    def preprocess(x, y):
        return x.view(-1, 1, 8, 8), y

    train_dl, valid_dl = get_data(train_ds, valid_ds, 8)
    train_dl = WrappedDataLoader(train_dl, preprocess)
    valid_dl = WrappedDataLoader(valid_dl, preprocess)
    model = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(8, 10, kernel_size=3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history.clear()
    fit(2, model, F.cross_entropy, opt, train_dl, valid_dl)
    out["cnn"] = (list(history), len(train_dl), model[2].weight, str(model))
    return out



# ----------------------------------------------------------------------------------------------
# transfer learning
# ----------------------------------------------------------------------------------------------
def _tiny_resnet(L):
    """A ResNet-18 in miniature (stem, one BasicBlock, global pool, fc of 1000 classes)."""
    nn = L.nn

    class BasicBlock(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += identity
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = nn.Sequential(BasicBlock(8))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(8, 1000)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.avgpool(self.layer1(x))
            return self.fc(L.flatten(x, 1))

    return ResNet()


@program
def transfer_learning_frozen_backbone_step_lr_and_best_weights(L):
    """The transfer-learning tutorial: train_model over 'train' and 'val' phases (train()/
    eval(), set_grad_enabled(phase == 'train'), torch.max for predictions, running loss and
    corrects by torch.sum(preds == labels.data), scheduler.step() after the training phase,
    the best weights saved and loaded back); ConvNet as fixed feature extractor (every
    parameter frozen, the fc replaced by a new Linear(num_ftrs, 2), SGD over fc only,
    StepLR(step_size=7, gamma=0.1)); then fine-tuning everything with a smaller rate for the
    backbone in its own parameter group."""
    nn, optim = L.nn, L.optim
    lr_scheduler = L.optim.lr_scheduler
    L.set_default_dtype(L.float64)
    X = L.tensor(normal64(20, 3, 16, 16, seed=5))
    Y = L.tensor(labels(20, 2, seed=6))
    L.manual_seed(0)
    image_datasets = {"train": L.utils.data.TensorDataset(X[:12], Y[:12]),
                      "val": L.utils.data.TensorDataset(X[12:], Y[12:])}
    dataloaders = {x: L.utils.data.DataLoader(image_datasets[x], batch_size=4, shuffle=True)
                   for x in ["train", "val"]}
    dataset_sizes = {x: len(image_datasets[x]) for x in ["train", "val"]}
    log = []

    def train_model(model, criterion, optimizer, scheduler, num_epochs=3):
        buf = io.BytesIO()
        L.save(model.state_dict(), buf)
        best_acc = 0.0
        for epoch in range(num_epochs):
            for phase in ["train", "val"]:
                if phase == "train":
                    model.train()
                else:
                    model.eval()
                running_loss = 0.0
                running_corrects = 0
                for inputs, labels_ in dataloaders[phase]:
                    optimizer.zero_grad()
                    with L.set_grad_enabled(phase == "train"):
                        outputs = model(inputs)
                        _, preds = L.max(outputs, 1)
                        loss = criterion(outputs, labels_)
                        if phase == "train":
                            loss.backward()
                            optimizer.step()
                    running_loss += loss.item() * inputs.size(0)
                    running_corrects += L.sum(preds == labels_.data)
                if phase == "train":
                    scheduler.step()
                epoch_loss = running_loss / dataset_sizes[phase]
                epoch_acc = running_corrects.double() / dataset_sizes[phase]
                log.append((phase, epoch_loss, epoch_acc, scheduler.get_last_lr()))
                if phase == "val" and epoch_acc > best_acc:
                    best_acc = epoch_acc
                    buf = io.BytesIO()
                    L.save(model.state_dict(), buf)
        buf.seek(0)
        model.load_state_dict(L.load(buf, weights_only=True))
        return model, best_acc

    model_conv = load_seeded(L, _tiny_resnet(L), seed=7)
    for param in model_conv.parameters():
        param.requires_grad = False
    num_ftrs = model_conv.fc.in_features
    L.manual_seed(1)
    model_conv.fc = nn.Linear(num_ftrs, 2)
    criterion = nn.CrossEntropyLoss()
    optimizer_conv = optim.SGD(model_conv.fc.parameters(), lr=0.05, momentum=0.9)
    exp_lr_scheduler = lr_scheduler.StepLR(optimizer_conv, step_size=2, gamma=0.1)
    model_conv, best = train_model(model_conv, criterion, optimizer_conv, exp_lr_scheduler)
    out = {"frozen": (list(log), best, model_conv.fc.weight, model_conv.bn1.running_mean,
                      model_conv.conv1.weight.grad,
                      sum(p.numel() for p in model_conv.parameters() if p.requires_grad))}
    log.clear()
    model_ft = load_seeded(L, _tiny_resnet(L), seed=8)
    L.manual_seed(2)
    model_ft.fc = nn.Linear(model_ft.fc.in_features, 2)
    backbone = [p for n, p in model_ft.named_parameters() if not n.startswith("fc.")]
    optimizer_ft = optim.SGD([{"params": backbone, "lr": 1e-3},
                              {"params": model_ft.fc.parameters()}], lr=0.05, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer_ft, step_size=1, gamma=0.5)
    model_ft, best = train_model(model_ft, criterion, optimizer_ft, scheduler, 2)
    out["finetune"] = (list(log), best, model_ft.layer1[0].conv2.weight,
                       model_ft.layer1[0].bn2.running_var, optimizer_ft.state_dict()["param_groups"])
    return out


# ----------------------------------------------------------------------------------------------
# DCGAN
# ----------------------------------------------------------------------------------------------
@program
def dcgan_tutorial_weights_init_and_alternating_steps(L):
    """The DCGAN tutorial scaled to 16x16 single-channel images (float32): a generator of
    ConvTranspose2d/BatchNorm2d/ReLU ending in Tanh, a discriminator of strided convolutions
    with LeakyReLU(0.2, inplace=True) ending in Sigmoid, weights_init by class name
    (normal_(0, 0.02) for convolutions, normal_(1, 0.02) and a zero bias for BatchNorm),
    BCELoss against labels made by torch.full and refilled with fill_, the discriminator's
    real and fake (detached) halves, then the generator's step, Adam(lr=2e-4,
    betas=(0.5, 0.999)), D(x) and D(G(z)) means by .item(), fixed-noise samples under no_grad."""
    nn, optim = L.nn, L.optim
    nz, ngf, ndf, nc = 8, 4, 4, 1

    class Generator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
                nn.ConvTranspose2d(ngf * 2, nc, 4, 2, 1, bias=False),
                nn.Tanh())

        def forward(self, input):
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self, ngpu):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(
                nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(ndf * 2, 1, 4, 1, 0, bias=False),
                nn.Sigmoid())

        def forward(self, input):
            return self.main(input)

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight.data, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight.data, 1.0, 0.02)
            nn.init.constant_(m.bias.data, 0)

    L.manual_seed(999)
    netG = Generator(0)
    netG.apply(weights_init)
    netD = Discriminator(0)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = L.randn(6, nz, 1, 1)
    real_label, fake_label = 1., 0.
    optimizerD = optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    real = L.tanh(L.tensor(normal32(12, nc, 16, 16, seed=9)))
    dataloader = L.utils.data.DataLoader(L.utils.data.TensorDataset(real), batch_size=4)
    G_losses, D_losses, stats = [], [], []
    for epoch in range(2):
        for i, data in enumerate(dataloader, 0):
            netD.zero_grad()
            real_cpu = data[0]
            b_size = real_cpu.size(0)
            label = L.full((b_size,), real_label, dtype=L.float)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = L.randn(b_size, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            G_losses.append(errG.item())
            D_losses.append(errD.item())
            stats.append((D_x, D_G_z1, D_G_z2))
    with L.no_grad():
        fake = netG(fixed_noise).detach().cpu()
    return {"G": L.tensor(G_losses), "D": L.tensor(D_losses), "stats": L.tensor(stats),
            "fake": fake, "bn": netD.main[3].running_var, "w": netG.main[0].weight,
            "types": [type(m).__name__ for m in netD.modules()]}


# ----------------------------------------------------------------------------------------------
# seq2seq translation with attention
# ----------------------------------------------------------------------------------------------
_PAIRS = [("je suis froid .", "i am cold ."), ("elle est grande .", "she is tall ."),
          ("il est triste .", "he is sad ."), ("je suis fatigue !", "i am tired !"),
          ("nous sommes ici .", "we are here ."), ("tu es gentil .", "you are kind ."),
          ("elle est triste .", "she is sad ."), ("il est grand .", "he is tall .")]


@program
def seq2seq_translation_gru_bahdanau_teacher_forcing(L):
    """The seq2seq translation tutorial: unicodeToAscii/normalizeString, a Lang of
    word2index/word2count/index2word with SOS and EOS, index arrays padded in numpy and made
    LongTensors, a RandomSampler DataLoader, EncoderRNN (Embedding, Dropout, batch_first
    GRU), BahdanauAttention (Wa, Ua, Va; bmm of the weights and keys), AttnDecoderRNN
    teaching with the target's next column or feeding back topk(1) detached, NLLLoss over
    log_softmax flattened by view, Adam on each half; evaluation decoding greedily to EOS."""
    nn, F, optim = L.nn, L.nn.functional, L.optim
    SOS_token, EOS_token, MAX_LENGTH = 0, 1, 6

    class Lang:
        def __init__(self, name):
            self.name = name
            self.word2index = {}
            self.word2count = {}
            self.index2word = {0: "SOS", 1: "EOS"}
            self.n_words = 2

        def addSentence(self, sentence):
            for word in sentence.split(" "):
                self.addWord(word)

        def addWord(self, word):
            if word not in self.word2index:
                self.word2index[word] = self.n_words
                self.word2count[word] = 1
                self.index2word[self.n_words] = word
                self.n_words += 1
            else:
                self.word2count[word] += 1

    def unicodeToAscii(s):
        return "".join(c for c in unicodedata.normalize("NFD", s)
                       if unicodedata.category(c) != "Mn")

    def normalizeString(s):
        s = unicodeToAscii(s.lower().strip())
        s = re.sub(r"([.!?])", r" \1", s)
        s = re.sub(r"[^a-zA-Z!?]+", r" ", s)
        return s.strip()

    input_lang, output_lang = Lang("fra"), Lang("eng")
    pairs = [[normalizeString(a), normalizeString(b)] for a, b in _PAIRS]
    for pair in pairs:
        input_lang.addSentence(pair[0])
        output_lang.addSentence(pair[1])

    def indexesFromSentence(lang, sentence):
        return [lang.word2index[word] for word in sentence.split(" ")]

    def tensorFromSentence(lang, sentence):
        indexes = indexesFromSentence(lang, sentence)
        indexes.append(EOS_token)
        return L.tensor(indexes, dtype=L.long).view(1, -1)

    n = len(pairs)
    input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
    for idx, (inp, tgt) in enumerate(pairs):
        inp_ids = indexesFromSentence(input_lang, inp) + [EOS_token]
        tgt_ids = indexesFromSentence(output_lang, tgt) + [EOS_token]
        input_ids[idx, :len(inp_ids)] = inp_ids
        target_ids[idx, :len(tgt_ids)] = tgt_ids
    train_data = L.utils.data.TensorDataset(L.LongTensor(input_ids), L.LongTensor(target_ids))

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size, dropout_p=0.1):
            super().__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input):
            embedded = self.dropout(self.embedding(input))
            output, hidden = self.gru(embedded)
            return output, hidden

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super().__init__()
            self.Wa = nn.Linear(hidden_size, hidden_size)
            self.Ua = nn.Linear(hidden_size, hidden_size)
            self.Va = nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(L.tanh(self.Wa(query) + self.Ua(keys)))
            scores = scores.squeeze(2).unsqueeze(1)
            weights = F.softmax(scores, dim=-1)
            context = L.bmm(weights, keys)
            return context, weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.1):
            super().__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            batch_size = encoder_outputs.size(0)
            decoder_input = L.empty(batch_size, 1, dtype=L.long).fill_(SOS_token)
            decoder_hidden = encoder_hidden
            decoder_outputs, attentions = [], []
            for i in range(MAX_LENGTH):
                decoder_output, decoder_hidden, attn_weights = self.forward_step(
                    decoder_input, decoder_hidden, encoder_outputs)
                decoder_outputs.append(decoder_output)
                attentions.append(attn_weights)
                if target_tensor is not None:
                    decoder_input = target_tensor[:, i].unsqueeze(1)
                else:
                    _, topi = decoder_output.topk(1)
                    decoder_input = topi.squeeze(-1).detach()
            decoder_outputs = L.cat(decoder_outputs, dim=1)
            decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
            attentions = L.cat(attentions, dim=1)
            return decoder_outputs, decoder_hidden, attentions

        def forward_step(self, input, hidden, encoder_outputs):
            embedded = self.dropout(self.embedding(input))
            query = hidden.permute(1, 0, 2)
            context, attn_weights = self.attention(query, encoder_outputs)
            input_gru = L.cat((embedded, context), dim=2)
            output, hidden = self.gru(input_gru, hidden)
            output = self.out(output)
            return output, hidden, attn_weights

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    hidden_size = 12
    encoder = EncoderRNN(input_lang.n_words, hidden_size)
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words)
    train_dataloader = L.utils.data.DataLoader(
        train_data, sampler=L.utils.data.RandomSampler(train_data), batch_size=4)
    encoder_optimizer = optim.Adam(encoder.parameters(), lr=0.01)
    decoder_optimizer = optim.Adam(decoder.parameters(), lr=0.01)
    criterion = nn.NLLLoss()
    epoch_losses = []
    for epoch in range(3):
        total_loss = 0
        for data in train_dataloader:
            input_tensor, target_tensor = data
            encoder_optimizer.zero_grad()
            decoder_optimizer.zero_grad()
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)
            loss = criterion(decoder_outputs.view(-1, decoder_outputs.size(-1)),
                             target_tensor.view(-1))
            loss.backward()
            encoder_optimizer.step()
            decoder_optimizer.step()
            total_loss += loss.item()
        epoch_losses.append(total_loss / len(train_dataloader))

    def evaluate(encoder, decoder, sentence, input_lang, output_lang):
        with L.no_grad():
            input_tensor = tensorFromSentence(input_lang, sentence)
            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs,
                                                                    encoder_hidden)
            _, topi = decoder_outputs.topk(1)
            decoded_ids = topi.squeeze()
            decoded_words = []
            for idx in decoded_ids:
                if idx.item() == EOS_token:
                    decoded_words.append("<EOS>")
                    break
                decoded_words.append(output_lang.index2word[idx.item()])
        return decoded_words, decoder_attn

    encoder.eval()
    decoder.eval()
    words, attn = evaluate(encoder, decoder, pairs[0][0], input_lang, output_lang)
    return {"vocab": (input_lang.n_words, output_lang.n_words, dict(output_lang.word2count)),
            "ids": L.LongTensor(input_ids), "losses": epoch_losses, "words": words,
            "attn": attn, "enc_grad": encoder.gru.weight_hh_l0.grad,
            "dec": decoder.attention.Va.weight}


# ----------------------------------------------------------------------------------------------
# char-RNN classification and generation
# ----------------------------------------------------------------------------------------------
_NAMES = {"English": ["Abbott", "Baker", "Carter", "Dawson", "Ellis"],
          "French": ["Allard", "Bélanger", "Chevalier", "Dubois", "Lefèvre"],
          "Japanese": ["Abe", "Fujita", "Kato", "Nakamura", "Sato"]}


@program
def char_rnn_name_classifier_hand_cell_and_confusion(L):
    """The name-classification tutorial: all_letters from string.ascii_letters, names made
    ASCII by unicodedata, letterToTensor/lineToTensor one-hot (line_length x 1 x
    n_letters), the hand RNN cell (i2h and h2o over cat((input, hidden), 1), LogSoftmax),
    categoryFromOutput by topk, random examples by Python's random, training steps that
    update by p.data.add_(p.grad.data, alpha=-lr), and the row-normalised confusion matrix."""
    nn = L.nn
    all_letters = string.ascii_letters + " .,;'"
    n_letters = len(all_letters)

    def unicodeToAscii(s):
        return "".join(c for c in unicodedata.normalize("NFD", s)
                       if unicodedata.category(c) != "Mn" and c in all_letters)

    category_lines = {k: [unicodeToAscii(n) for n in v] for k, v in _NAMES.items()}
    all_categories = list(category_lines)
    n_categories = len(all_categories)

    def letterToIndex(letter):
        return all_letters.find(letter)

    def letterToTensor(letter):
        tensor = L.zeros(1, n_letters)
        tensor[0][letterToIndex(letter)] = 1
        return tensor

    def lineToTensor(line):
        tensor = L.zeros(len(line), 1, n_letters)
        for li, letter in enumerate(line):
            tensor[li][0][letterToIndex(letter)] = 1
        return tensor

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
            self.h2o = nn.Linear(hidden_size, output_size)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, input, hidden):
            combined = L.cat((input, hidden), 1)
            hidden = self.i2h(combined)
            output = self.h2o(hidden)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return L.zeros(1, self.hidden_size)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    n_hidden = 16
    rnn = RNN(n_letters, n_hidden, n_categories)
    out = {"J": letterToTensor("J"), "shape": lineToTensor("Jones").size(),
           "ascii": unicodeToAscii("Ślusàrski")}
    output, next_hidden = rnn(lineToTensor("Albert")[0], L.zeros(1, n_hidden))

    def categoryFromOutput(output):
        top_n, top_i = output.topk(1)
        category_i = top_i[0].item()
        return all_categories[category_i], category_i

    out["first"] = (output, categoryFromOutput(output))
    rng = random.Random(1)

    def randomChoice(lst):
        return lst[rng.randint(0, len(lst) - 1)]

    def randomTrainingExample():
        category = randomChoice(all_categories)
        line = randomChoice(category_lines[category])
        category_tensor = L.tensor([all_categories.index(category)], dtype=L.long)
        return category, line, category_tensor, lineToTensor(line)

    criterion = nn.NLLLoss()
    learning_rate = 0.05

    def train(category_tensor, line_tensor):
        hidden = rnn.initHidden()
        rnn.zero_grad()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        loss = criterion(output, category_tensor)
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item()

    losses = []
    for it in range(40):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output, loss = train(category_tensor, line_tensor)
        losses.append(loss)
    out["losses"] = losses
    confusion = L.zeros(n_categories, n_categories)

    def evaluate(line_tensor):
        hidden = rnn.initHidden()
        for i in range(line_tensor.size()[0]):
            output, hidden = rnn(line_tensor[i], hidden)
        return output

    for _ in range(30):
        category, line, category_tensor, line_tensor = randomTrainingExample()
        output = evaluate(line_tensor)
        guess, guess_i = categoryFromOutput(output)
        category_i = all_categories.index(category)
        confusion[category_i][guess_i] += 1
    for i in range(n_categories):
        confusion[i] = confusion[i] / confusion[i].sum()
    out["confusion"] = confusion
    with L.no_grad():
        output = evaluate(lineToTensor("Dovesky"))
        topv, topi = output.topk(2, 1, True)
        out["predict"] = [(topv[0][i].item(), all_categories[topi[0][i].item()])
                          for i in range(2)]
    return out


@program
def char_rnn_name_generator_category_input_and_sampling(L):
    """The name-generation tutorial: an RNN taking (category, input, hidden) through i2h,
    i2o and o2o with Dropout(0.1) and LogSoftmax, inputTensor/targetTensor with the EOS
    index n_letters - 1, the target unsqueezed in place, the loss summed into
    torch.Tensor([0]) over the letters and divided by the length, manual updates, and
    sampling: a starting letter fed back through topk until EOS, under no_grad."""
    nn = L.nn
    all_letters = string.ascii_letters + " .,;'-"
    n_letters = len(all_letters) + 1
    all_categories = list(_NAMES)
    n_categories = len(all_categories)
    category_lines = {k: [unicodedata.normalize("NFD", n).encode("ascii", "ignore").decode()
                          for n in v] for k, v in _NAMES.items()}

    class RNN(nn.Module):
        def __init__(self, input_size, hidden_size, output_size):
            super().__init__()
            self.hidden_size = hidden_size
            self.i2h = nn.Linear(n_categories + input_size + hidden_size, hidden_size)
            self.i2o = nn.Linear(n_categories + input_size + hidden_size, output_size)
            self.o2o = nn.Linear(hidden_size + output_size, output_size)
            self.dropout = nn.Dropout(0.1)
            self.softmax = nn.LogSoftmax(dim=1)

        def forward(self, category, input, hidden):
            input_combined = L.cat((category, input, hidden), 1)
            hidden = self.i2h(input_combined)
            output = self.i2o(input_combined)
            output_combined = L.cat((hidden, output), 1)
            output = self.o2o(output_combined)
            output = self.dropout(output)
            output = self.softmax(output)
            return output, hidden

        def initHidden(self):
            return L.zeros(1, self.hidden_size)

    def categoryTensor(category):
        li = all_categories.index(category)
        tensor = L.zeros(1, n_categories)
        tensor[0][li] = 1
        return tensor

    def inputTensor(line):
        tensor = L.zeros(len(line), 1, n_letters)
        for li in range(len(line)):
            tensor[li][0][all_letters.find(line[li])] = 1
        return tensor

    def targetTensor(line):
        letter_indexes = [all_letters.find(line[li]) for li in range(1, len(line))]
        letter_indexes.append(n_letters - 1)
        return L.LongTensor(letter_indexes)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    rnn = RNN(n_letters, 16, n_letters)
    criterion = nn.NLLLoss()
    learning_rate = 0.005
    rng = random.Random(2)

    def train(category_tensor, input_line_tensor, target_line_tensor):
        target_line_tensor.unsqueeze_(-1)
        hidden = rnn.initHidden()
        rnn.zero_grad()
        loss = L.Tensor([0])
        for i in range(input_line_tensor.size(0)):
            output, hidden = rnn(category_tensor, input_line_tensor[i], hidden)
            l = criterion(output, target_line_tensor[i])
            loss += l
        loss.backward()
        for p in rnn.parameters():
            p.data.add_(p.grad.data, alpha=-learning_rate)
        return output, loss.item() / input_line_tensor.size(0)

    losses = []
    for it in range(25):
        category = all_categories[rng.randint(0, n_categories - 1)]
        line = rng.choice(category_lines[category])
        _, loss = train(categoryTensor(category), inputTensor(line), targetTensor(line))
        losses.append(loss)
    max_length = 6

    def sample(category, start_letter="A"):
        with L.no_grad():
            category_tensor = categoryTensor(category)
            input = inputTensor(start_letter)
            hidden = rnn.initHidden()
            output_name = start_letter
            for i in range(max_length):
                output, hidden = rnn(category_tensor, input[0], hidden)
                topv, topi = output.topk(1)
                topi = topi[0][0]
                if topi == n_letters - 1:
                    break
                else:
                    letter = all_letters[topi]
                    output_name += letter
                input = inputTensor(letter)
            return output_name

    return {"losses": losses, "target": targetTensor("Kato"),
            "samples": [sample(c, s) for c in all_categories for s in "ABK"],
            "w": rnn.o2o.weight}


# ----------------------------------------------------------------------------------------------
# spatial transformer networks
# ----------------------------------------------------------------------------------------------
@program
def spatial_transformer_tutorial_train_and_test(L):
    """The spatial-transformer tutorial on 28x28 digits: the localisation net (Conv 7,
    pool, ReLU(True), Conv 5, pool, ReLU(True)), fc_loc with its last layer's weight zeroed
    and bias copied to the identity transform, affine_grid on x.size() and grid_sample (the
    defaults), the classifier with Dropout2d and F.dropout(training=self.training), SGD
    steps on nll_loss, the test loop summing F.nll_loss(size_average=False) (the deprecated
    argument's warning) and counting pred.eq(target.view_as(pred)), and the transformed
    batch turned into a numpy image by transpose, de-normalisation and clip."""
    nn, F, optim = L.nn, L.nn.functional, L.optim

    class Net(nn.Module):
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
            self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True),
                                        nn.Linear(32, 3 * 2))
            self.fc_loc[2].weight.data.zero_()
            self.fc_loc[2].bias.data.copy_(L.tensor([1, 0, 0, 0, 1, 0], dtype=L.float))

        def stn(self, x):
            xs = self.localization(x)
            xs = xs.view(-1, 10 * 3 * 3)
            theta = self.fc_loc(xs)
            theta = theta.view(-1, 2, 3)
            grid = F.affine_grid(theta, x.size())
            return F.grid_sample(x, grid)

        def forward(self, x):
            x = self.stn(x)
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    model = Net()
    X = (L.tensor(normal64(16, 1, 28, 28, seed=11)) - 0.1307) / 0.3081
    Y = L.tensor(labels(16, 10, seed=12))
    train_loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(X[:12], Y[:12]),
                                           batch_size=4, shuffle=True)
    test_loader = L.utils.data.DataLoader(L.utils.data.TensorDataset(X[12:], Y[12:]),
                                          batch_size=4)
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
    with L.no_grad():
        model.eval()
        test_loss = 0
        correct = 0
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, size_average=False).item()
            pred = output.max(1, keepdim=True)[1]
            correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= len(test_loader.dataset)

    def convert_image_np(inp):
        inp = inp.numpy().transpose((1, 2, 0))
        mean = np.array([0.485, 0.456, 0.406])
        std = np.array([0.229, 0.224, 0.225])
        inp = std * inp + mean
        return np.clip(inp, 0, 1)

    with L.no_grad():
        data = next(iter(test_loader))[0]
        transformed = model.stn(data).cpu()
    return {"loss": loss, "test": (test_loss, correct), "image": convert_image_np(
        transformed[0].expand(3, 28, 28).clone()), "theta_b": model.fc_loc[2].bias,
        "transformed": transformed, "grad": model.localization[0].weight.grad}


# ----------------------------------------------------------------------------------------------
# neural style transfer
# ----------------------------------------------------------------------------------------------
@program
def neural_style_transfer_loss_modules_and_lbfgs_on_the_image(L):
    """The neural-style tutorial with a small random 'VGG': ContentLoss and StyleLoss
    modules that store self.loss and pass their input through, gram_matrix by view/mm/div,
    a Normalization module built by torch.tensor(mean).view(-1, 1, 1) from tensors (with
    PyTorch's copy-construct warning), the Sequential rebuilt layer by layer with names
    conv_i/relu_i/pool_i (ReLU replaced by a non-in-place one) and the loss modules
    added after the chosen layers, then trimmed after the last loss; LBFGS on the input
    image (requires_grad_, model.eval() and requires_grad_(False)) with a closure that
    clamps under no_grad and counts its runs in a list."""
    nn, F, optim = L.nn, L.nn.functional, L.optim

    class ContentLoss(nn.Module):
        def __init__(self, target):
            super().__init__()
            self.target = target.detach()

        def forward(self, input):
            self.loss = F.mse_loss(input, self.target)
            return input

    def gram_matrix(input):
        a, b, c, d = input.size()
        features = input.view(a * b, c * d)
        G = L.mm(features, features.t())
        return G.div(a * b * c * d)

    class StyleLoss(nn.Module):
        def __init__(self, target_feature):
            super().__init__()
            self.target = gram_matrix(target_feature).detach()

        def forward(self, input):
            G = gram_matrix(input)
            self.loss = F.mse_loss(G, self.target)
            return input

    class Normalization(nn.Module):
        def __init__(self, mean, std):
            super().__init__()
            self.mean = L.tensor(mean).view(-1, 1, 1)
            self.std = L.tensor(std).view(-1, 1, 1)

        def forward(self, img):
            return (img - self.mean) / self.std

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(inplace=True),
                        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(inplace=True),
                        nn.MaxPool2d(2, 2),
                        nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
                        nn.MaxPool2d(2, 2),
                        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True),
                        nn.Conv2d(8, 8, 3, padding=1)).eval()
    cnn_normalization_mean = L.tensor([0.485, 0.456, 0.406])
    cnn_normalization_std = L.tensor([0.229, 0.224, 0.225])
    style_img = L.rand(1, 3, 16, 16)
    content_img = L.rand(1, 3, 16, 16)
    content_layers_default = ["conv_4"]
    style_layers_default = ["conv_1", "conv_2", "conv_3", "conv_4", "conv_5"]

    def get_style_model_and_losses(cnn, normalization_mean, normalization_std, style_img,
                                   content_img, content_layers=content_layers_default,
                                   style_layers=style_layers_default):
        normalization = Normalization(normalization_mean, normalization_std)
        content_losses = []
        style_losses = []
        model = nn.Sequential(normalization)
        i = 0
        for layer in cnn.children():
            if isinstance(layer, nn.Conv2d):
                i += 1
                name = "conv_{}".format(i)
            elif isinstance(layer, nn.ReLU):
                name = "relu_{}".format(i)
                layer = nn.ReLU(inplace=False)
            elif isinstance(layer, nn.MaxPool2d):
                name = "pool_{}".format(i)
            elif isinstance(layer, nn.BatchNorm2d):
                name = "bn_{}".format(i)
            else:
                raise RuntimeError("Unrecognized layer: {}".format(layer.__class__.__name__))
            model.add_module(name, layer)
            if name in content_layers:
                target = model(content_img).detach()
                content_loss = ContentLoss(target)
                model.add_module("content_loss_{}".format(i), content_loss)
                content_losses.append(content_loss)
            if name in style_layers:
                target_feature = model(style_img).detach()
                style_loss = StyleLoss(target_feature)
                model.add_module("style_loss_{}".format(i), style_loss)
                style_losses.append(style_loss)
        for i in range(len(model) - 1, -1, -1):
            if isinstance(model[i], ContentLoss) or isinstance(model[i], StyleLoss):
                break
        model = model[:(i + 1)]
        return model, style_losses, content_losses

    input_img = content_img.clone()
    runs = []

    def run_style_transfer(cnn, normalization_mean, normalization_std, content_img,
                           style_img, input_img, num_steps=12, style_weight=1000,
                           content_weight=1):
        model, style_losses, content_losses = get_style_model_and_losses(
            cnn, normalization_mean, normalization_std, style_img, content_img)
        input_img.requires_grad_(True)
        model.eval()
        model.requires_grad_(False)
        optimizer = optim.LBFGS([input_img])
        run = [0]
        while run[0] <= num_steps:
            def closure():
                with L.no_grad():
                    input_img.clamp_(0, 1)
                optimizer.zero_grad()
                model(input_img)
                style_score = 0
                content_score = 0
                for sl in style_losses:
                    style_score += sl.loss
                for cl in content_losses:
                    content_score += cl.loss
                style_score *= style_weight
                content_score *= content_weight
                loss = style_score + content_score
                loss.backward()
                run[0] += 1
                runs.append((style_score.item(), content_score.item()))
                return style_score + content_score
            optimizer.step(closure)
        with L.no_grad():
            input_img.clamp_(0, 1)
        return input_img, model

    output, model = run_style_transfer(cnn, cnn_normalization_mean, cnn_normalization_std,
                                       content_img, style_img, input_img)
    return {"names": [n for n, _ in model.named_children()], "runs": runs,
            "output": output, "grad": output.grad,
            "frozen": [p.requires_grad for p in model.parameters()],
            "unknown": err(lambda: get_style_model_and_losses(
                nn.Sequential(nn.Conv2d(3, 3, 1), nn.Tanh()), cnn_normalization_mean,
                cnn_normalization_std, style_img, content_img))}


# ----------------------------------------------------------------------------------------------
# FGSM
# ----------------------------------------------------------------------------------------------
@program
def fgsm_tutorial_attack_per_epsilon(L):
    """The FGSM tutorial (float32): the MNIST LeNet with dropout in eval mode, a test loop
    of batch size 1 that skips misclassified inputs (init_pred.item() != target.item()),
    data.requires_grad = True, model.zero_grad(), data.grad.data, denorm with mean/std made
    by torch.tensor(list).to(device) and viewed (1, -1, 1, 1), fgsm_attack (sign, epsilon
    step, clamp to [0, 1]), re-normalisation, and the accuracy and adversarial examples
    (squeeze().detach().cpu().numpy()) per epsilon."""
    nn, F = L.nn, L.nn.functional
    device = L.device("cpu")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3, 1)
            self.conv2 = nn.Conv2d(4, 8, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(8 * 12 * 12, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = L.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = self.dropout2(x)
            x = self.fc2(x)
            return F.log_softmax(x, dim=1)

    model = load_seeded(L, Net(), seed=13, scale=0.2).to(device)
    model.eval()
    images = L.tensor(np.random.RandomState(14).rand(12, 1, 28, 28).astype(np.float32))
    with L.no_grad():
        Y = model((images - 0.1307) / 0.3081).argmax(1)
    Y = L.where(L.arange(12) % 3 == 2, (Y + 1) % 10, Y)
    test_loader = L.utils.data.DataLoader(
        L.utils.data.TensorDataset((images - 0.1307) / 0.3081, Y), batch_size=1)

    def fgsm_attack(image, epsilon, data_grad):
        sign_data_grad = data_grad.sign()
        perturbed_image = image + epsilon * sign_data_grad
        perturbed_image = L.clamp(perturbed_image, 0, 1)
        return perturbed_image

    def denorm(batch, mean=[0.1307], std=[0.3081]):
        if isinstance(mean, list):
            mean = L.tensor(mean).to(device)
        if isinstance(std, list):
            std = L.tensor(std).to(device)
        return batch * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)

    def test(model, device, test_loader, epsilon):
        correct = 0
        adv_examples = []
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            data.requires_grad = True
            output = model(data)
            init_pred = output.max(1, keepdim=True)[1]
            if init_pred.item() != target.item():
                continue
            loss = F.nll_loss(output, target)
            model.zero_grad()
            loss.backward()
            data_grad = data.grad.data
            data_denorm = denorm(data)
            perturbed_data = fgsm_attack(data_denorm, epsilon, data_grad)
            perturbed_data_normalized = (perturbed_data - 0.1307) / 0.3081
            output = model(perturbed_data_normalized)
            final_pred = output.max(1, keepdim=True)[1]
            if final_pred.item() == target.item():
                correct += 1
                if epsilon == 0 and len(adv_examples) < 3:
                    adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                    adv_examples.append((init_pred.item(), final_pred.item(), adv_ex))
            else:
                if len(adv_examples) < 3:
                    adv_ex = perturbed_data.squeeze().detach().cpu().numpy()
                    adv_examples.append((init_pred.item(), final_pred.item(), adv_ex))
        final_acc = correct / float(len(test_loader))
        return final_acc, adv_examples

    accuracies, examples = [], []
    for eps in [0, .05, .1, .2, .3]:
        acc, ex = test(model, device, test_loader, eps)
        accuracies.append(acc)
        examples.append(ex)
    return {"acc": accuracies, "examples": examples, "fc1_grad": model.fc1.weight.grad}



# ----------------------------------------------------------------------------------------------
# torch.func: model ensembling, Jacobians
# ----------------------------------------------------------------------------------------------
@program
def model_ensembling_stack_module_state_on_a_meta_base(L):
    """The model-ensembling tutorial: a list of MLPs, predictions by a loop, their stacked
    parameters and buffers by stack_module_state, a base copy moved to the meta device and
    called through functional_call under vmap, the same minibatch for every model
    (in_dims=(0, 0, None)) and one minibatch each, then the same against a Python loop."""
    nn, F = L.nn, L.nn.functional
    func = L.func

    class SimpleMLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(16, 32)
            self.fc2 = nn.Linear(32, 24)
            self.fc3 = nn.Linear(24, 10)

        def forward(self, x):
            x = x.flatten(1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    num_models = 4
    data = L.randn(20, 1, 4, 4)
    minibatches = data[:num_models * 5].reshape(num_models, 5, 1, 4, 4)
    minibatch = data[:5]
    models = [SimpleMLP() for _ in range(num_models)]
    predictions_diff_minibatch_loop = [model(mb) for model, mb in zip(models, minibatches)]
    predictions2 = [model(minibatch) for model in models]
    params, buffers = func.stack_module_state(models)
    base_model = copy.deepcopy(models[0])
    base_model = base_model.to("meta")

    def fmodel(params, buffers, x):
        return func.functional_call(base_model, (params, buffers), (x,))

    predictions1_vmap = L.vmap(fmodel)(params, buffers, minibatches)
    predictions2_vmap = L.vmap(fmodel, in_dims=(0, 0, None))(params, buffers, minibatch)
    loss = predictions1_vmap.logsumexp(-1).sum()
    loss.backward()
    return {"loop": L.stack(predictions_diff_minibatch_loop), "vmap1": predictions1_vmap,
            "same": L.stack(predictions2), "vmap2": predictions2_vmap,
            "keys": list(params), "stacked": (params["fc1.weight"].shape,
                                              params["fc1.weight"].requires_grad,
                                              params["fc1.weight"].is_leaf),
            "meta": (str(base_model.fc1.weight.device), base_model.fc1.weight.is_meta),
            "grad": params["fc3.bias"].grad, "model_grad": models[0].fc3.bias.grad,
            "close": L.allclose(predictions1_vmap, L.stack(predictions_diff_minibatch_loop),
                                atol=1e-3, rtol=1e-5)}


@program
def jacobians_tutorial_batch_trick_jacfwd_of_jacrev_and_functional(L):
    """The Jacobians and Hessians tutorial: jacrev of predict against
    torch.autograd.functional.jacobian and a row-by-row vjp, jacfwd, argnums=(0, 2),
    the batch Jacobian by vmap(jacrev) and by the sum-over-batch trick undone by movedim,
    hessian as jacfwd(jacrev), torch.autograd.functional.hessian, and has_aux."""
    F = L.nn.functional
    func = L.func
    L.manual_seed(0)
    D = 4

    def predict(weight, bias, x):
        return F.linear(x, weight, bias).tanh()

    weight = L.randn(D, D, dtype=L.float64)
    bias = L.randn(D, dtype=L.float64)
    x = L.randn(D, dtype=L.float64)
    xp = x.clone().requires_grad_()
    unit_vectors = L.eye(D, dtype=L.float64)

    def compute_jac(xp):
        jacobian_rows = [L.autograd.grad(predict(weight, bias, xp), xp, vec)[0]
                         for vec in unit_vectors]
        return L.stack(jacobian_rows)

    out = {"rows": compute_jac(xp), "jacrev": func.jacrev(predict, argnums=2)(weight, bias, x),
           "autograd": L.autograd.functional.jacobian(lambda t: predict(weight, bias, t), x),
           "jacfwd": func.jacfwd(predict, argnums=2)(weight, bias, x)}
    ft_jac_weight, ft_jac_bias = func.jacrev(predict, argnums=(0, 1))(weight, bias, x)
    out["wb"] = (ft_jac_weight, ft_jac_bias)
    batch_size = 3
    xb = L.randn(batch_size, D, dtype=L.float64)
    compute_batch_jacobian = L.vmap(func.jacrev(predict, argnums=2), in_dims=(None, None, 0))
    out["batch_vmap"] = compute_batch_jacobian(weight, bias, xb)

    def predict_with_output_summed(weight, bias, x):
        return predict(weight, bias, x).sum(0)

    out["batch_trick"] = func.jacrev(predict_with_output_summed, argnums=2)(
        weight, bias, xb).movedim(1, 0)
    out["hess0"] = func.hessian(predict, argnums=2)(weight, bias, x)
    out["hess1"] = func.jacfwd(func.jacrev(predict, argnums=2), argnums=2)(weight, bias, x)
    out["hess_autograd"] = L.autograd.functional.hessian(
        lambda t: predict(weight, bias, t).sum(), x)

    def with_aux(x):
        y = predict(weight, bias, x)
        return y, y.detach().abs().max()

    jac, aux = func.jacrev(with_aux, has_aux=True)(x)
    out["aux"] = (jac, aux)
    out["chunks"] = func.jacrev(predict, argnums=2, chunk_size=1)(weight, bias, x)
    return out


# ----------------------------------------------------------------------------------------------
# the autograd mechanics note
# ----------------------------------------------------------------------------------------------
@program
def autograd_mechanics_saved_tensors_hooks_and_order(L):
    """The autograd mechanics note: a saved input is the same object (pow's _saved_self) and
    a saved output a new one (exp's _saved_result); pack/unpack hooks on one saved tensor
    (_raw_saved_self.register_hooks) and for a region (saved_tensors_hooks), the order of a
    tensor hook, a grad_fn pre-hook, a grad_fn hook and a post-accumulate-grad hook; the
    gradients at non-differentiable points (relu, abs, sqrt at 0, max and amax over ties,
    norm at 0); set_grad_enabled and inference mode and the refusals these meet."""
    x = L.tensor([0.5, -1.0, 2.0], requires_grad=True)
    y = x.pow(2)
    out = {"saved_self": (x.equal(y.grad_fn._saved_self), x is y.grad_fn._saved_self)}
    y = x.exp()
    out["saved_result"] = (y.equal(y.grad_fn._saved_result), y is y.grad_fn._saved_result)
    packed = []

    def pack_hook(t):
        packed.append(tuple(t.shape))
        return t * 1

    def unpack_hook(t):
        return t * 2

    y = x.pow(2)
    y.grad_fn._raw_saved_self.register_hooks(pack_hook, unpack_hook)
    y.sum().backward()
    out["one_saved"] = (packed[:], x.grad)
    x.grad = None
    with L.autograd.graph.saved_tensors_hooks(pack_hook, unpack_hook):
        z = (x * x).sin()
    z.sum().backward()
    out["region"] = (packed[:], x.grad)
    order = []
    a = L.tensor([1.0, 2.0], requires_grad=True)
    b = a * 3
    b.register_hook(lambda g: order.append("tensor hook"))
    b.grad_fn.register_prehook(lambda gO: order.append("prehook"))
    b.grad_fn.register_hook(lambda gI, gO: order.append("post hook"))
    a.register_post_accumulate_grad_hook(lambda p: order.append(("acc", p.grad.tolist())))
    b.sum().backward()
    out["order"] = order
    grads = []
    for f in (lambda t: t.relu(), lambda t: t.abs(), lambda t: t.sqrt(),
              lambda t: t.norm(), lambda t: L.linalg.vector_norm(t)):
        t = L.zeros(3, requires_grad=True)
        f(t).sum().backward()
        grads.append(t.grad)
    t = L.tensor([1.0, 3.0, 3.0], requires_grad=True)
    t.max().backward()
    grads.append(t.grad.clone())
    t.grad = None
    t.amax().backward()
    grads.append(t.grad.clone())
    t.grad = None
    t.max(dim=0).values.backward()
    grads.append(t.grad)
    out["kinks"] = grads
    with L.set_grad_enabled(False):
        out["disabled"] = (x * 2).requires_grad
    with L.inference_mode():
        inf = x * 2
    out["inference"] = (inf.requires_grad, inf.is_inference(), x.is_inference())
    w = L.ones(3, requires_grad=True)
    out["inference_save"] = err(lambda: (w * inf).sum().backward())
    out["inference_inplace"] = err(lambda: inf.add_(1))
    c = L.tensor([1.0, 2.0], requires_grad=True)
    d = c.sigmoid()
    d.mul_(2)
    out["modified"] = err(lambda: d.sum().backward())
    out["leaf_inplace"] = err(lambda: c.add_(1))
    return out


# ----------------------------------------------------------------------------------------------
# custom Functions, forward-mode AD
# ----------------------------------------------------------------------------------------------
@program
def custom_function_tutorials_jvp_save_for_forward_and_constants(L):
    """The forward-mode AD tutorial's Function with backward and jvp (save_for_forward of
    the input, the tangent read in jvp), used under dual_level and checked by gradcheck
    with check_forward_ad; the extending page's MulConstant taking a Python number (None
    as its gradient), a LinearFunction written with setup_context and needs_input_grad
    under gradcheck, and the double backward refused through once_differentiable."""
    fwAD = L.autograd.forward_ad
    once_differentiable = importlib.import_module(
        L.__name__ + ".autograd.function").once_differentiable

    class Fn(L.autograd.Function):
        @staticmethod
        def forward(ctx, foo):
            result = L.exp(foo)
            ctx.result = result
            ctx.save_for_forward(foo)
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, gO):
            result, = ctx.saved_tensors
            return gO * result

        @staticmethod
        def jvp(ctx, gI):
            gO = gI * ctx.result
            del ctx.result
            return gO

    fn = Fn.apply
    L.manual_seed(0)
    primal = L.randn(6, 6, dtype=L.double, requires_grad=True)
    tangent = L.randn(6, 6, dtype=L.double)
    with fwAD.dual_level():
        dual_input = fwAD.make_dual(primal, tangent)
        dual_output = fn(dual_input)
        jvp = fwAD.unpack_dual(dual_output).tangent
    out = {"jvp": jvp.detach(), "check": L.autograd.gradcheck(
        Fn.apply, (primal,), check_forward_ad=True, check_backward_ad=False,
        check_undefined_grad=False, check_batched_grad=False)}
    fn(primal).sum().backward()
    out["grad"] = primal.grad

    class MulConstant(L.autograd.Function):
        @staticmethod
        def forward(tensor, constant):
            return tensor * constant

        @staticmethod
        def setup_context(ctx, inputs, output):
            tensor, constant = inputs
            ctx.constant = constant

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    a = L.randn(3, dtype=L.double, requires_grad=True)
    r = MulConstant.apply(a, 2.5)
    r.sum().backward()
    out["mulconst"] = (r, a.grad, type(r.grad_fn).__name__)

    class LinearFunction(L.autograd.Function):
        @staticmethod
        def forward(input, weight, bias):
            output = input.mm(weight.t())
            if bias is not None:
                output += bias.unsqueeze(0).expand_as(output)
            return output

        @staticmethod
        def setup_context(ctx, inputs, output):
            input, weight, bias = inputs
            ctx.save_for_backward(input, weight, bias)

        @staticmethod
        def backward(ctx, grad_output):
            input, weight, bias = ctx.saved_tensors
            grad_input = grad_weight = grad_bias = None
            if ctx.needs_input_grad[0]:
                grad_input = grad_output.mm(weight)
            if ctx.needs_input_grad[1]:
                grad_weight = grad_output.t().mm(input)
            if bias is not None and ctx.needs_input_grad[2]:
                grad_bias = grad_output.sum(0)
            return grad_input, grad_weight, grad_bias

    inp = (L.randn(5, 4, dtype=L.double, requires_grad=True),
           L.randn(3, 4, dtype=L.double, requires_grad=True),
           L.randn(3, dtype=L.double, requires_grad=False))
    out["linear_check"] = L.autograd.gradcheck(LinearFunction.apply, inp, eps=1e-6, atol=1e-4)
    y = LinearFunction.apply(*inp)
    y.pow(2).sum().backward()
    out["linear"] = (y, inp[0].grad, inp[1].grad, inp[2].grad)

    class Cube(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            return g * 3 * x ** 2

    c = L.tensor([1.0, 2.0], dtype=L.double, requires_grad=True)
    g, = L.autograd.grad(Cube.apply(c).sum(), c, create_graph=True)
    out["once"] = (g, g.requires_grad, err(lambda: g.sum().backward()))
    return out


# ----------------------------------------------------------------------------------------------
# parametrizations
# ----------------------------------------------------------------------------------------------
@program
def parametrizations_tutorial_chained_and_right_inverse(L):
    """The parametrizations tutorial beyond its first example: Skew then CayleyMap on one
    weight (an orthogonal matrix; the ModuleList of parametrizations and original), a
    MatrixExponential on another layer, the weight assigned through the chain's
    right_inverse, caching under parametrize.cached(), a parametrization on a bias, the
    state_dict keys, and removal leaving the parametrized value or the original."""
    nn = L.nn
    parametrize = importlib.import_module(L.__name__ + ".nn.utils.parametrize")

    class Skew(nn.Module):
        def forward(self, X):
            A = X.triu(1)
            return A - A.transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu(1)

    class CayleyMap(nn.Module):
        def __init__(self, n):
            super().__init__()
            self.register_buffer("Id", L.eye(n))

        def forward(self, X):
            return L.linalg.solve(self.Id - X, self.Id + X)

        def right_inverse(self, A):
            return L.linalg.solve(A + self.Id, A - self.Id)

    class MatrixExponential(nn.Module):
        def forward(self, X):
            return L.matrix_exp(X)

    L.set_default_dtype(L.float64)
    L.manual_seed(0)
    layer = nn.Linear(3, 3)
    parametrize.register_parametrization(layer, "weight", Skew())
    parametrize.register_parametrization(layer, "weight", CayleyMap(3))
    X = layer.weight
    out = {"orth": X.T @ X, "repr": str(layer), "type": type(layer).__name__,
           "keys": list(layer.state_dict()),
           "chain": [type(m).__name__ for m in layer.parametrizations.weight],
           "is_param": parametrize.is_parametrized(layer, "weight")}
    layer_e = nn.Linear(3, 3)
    parametrize.register_parametrization(layer_e, "weight", Skew())
    parametrize.register_parametrization(layer_e, "weight", MatrixExponential())
    out["expm"] = (layer_e.weight, L.linalg.det(layer_e.weight))
    loss = layer(L.randn(4, 3)).pow(2).sum() + layer_e(L.randn(4, 3)).sum()
    loss.backward()
    out["grads"] = (layer.parametrizations.weight.original.grad,
                    layer_e.parametrizations.weight.original.grad)
    S = L.randn(3, 3)
    Q = L.matrix_exp(S.triu(1) - S.triu(1).T)

    def assign_expm():
        layer_e.weight = Q

    out["no_inverse"] = err(assign_expm)
    with L.no_grad():
        layer.weight = Q
    out["assigned"] = (layer.parametrizations.weight.original, layer.weight)
    calls = []

    class Counted(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    lin = nn.Linear(3, 2)
    parametrize.register_parametrization(lin, "bias", Counted())
    with parametrize.cached():
        y = lin(L.randn(2, 3)) + lin.bias.sum() + lin.bias.sum()
    n_cached = len(calls)
    lin.bias.sum()
    lin.bias.sum()
    out["cached"] = (n_cached, len(calls), y)
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    out["removed_kept"] = (layer.weight, type(layer).__name__, list(layer.state_dict()))
    parametrize.remove_parametrizations(lin, "bias", leave_parametrized=False)
    out["removed_orig"] = (lin.bias, type(lin).__name__)
    return out


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
    SmoothL1Backward0, the elementwise BCE node under the reduction's), so the blitz's walk
    of loss.grad_fn.next_functions named the wrong nodes."""
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
    """The blitz walks loss.grad_fn.next_functions[0][0].next_functions[0][0] and PyTorch
    gives the bias's AccumulateGrad (addmm's first input); minigrad gives the input's node."""
    def call(L):
        x = L.tensor(normal64(2, 5, seed=1), requires_grad=True).relu()
        y = L.nn.Linear(5, 3).double()(x)
        return _node_names(y.grad_fn, 2)
    HARNESS.check(call)


def test_grid_gradient_at_pixel_centres_follows_fused_rounding():
    """At the identity affine_grid (the spatial-transformer tutorial's start) every sample
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
