"""Seed 002 ("Understanding convolutions", after d2l.ai): cross-correlation, a layer that
learns an edge kernel, padding and stride, and LeNet-5's shapes.

1. Cross-correlation of X = [[0, 1, 2], [3, 4, 5], [6, 7, 8]] with K = [[0, 1], [2, 3]] is
   [[19, 25], [37, 43]]; a loop over output positions and ``F.conv2d`` agree.
2. A layer made from that loop (kernel and bias as ``nn.Parameter``) agrees with ``nn.Conv2d``.
3. X is a 6x8 image of ones with columns 2-5 zero, Y = corr2d(X, [[1, -1]]) marks its edges.
   ``nn.Conv2d(1, 1, (1, 2), bias=False)`` sees only (X, Y) and learns the kernel in 20 steps
   of gradient descent on the summed squared error, lr 0.03.  The tutorial's random start is
   not printed; from the start used here, [-0.1775, 0.435] (inside a fresh layer's range
   +-0.71), the run prints the tutorial's four losses and its learned kernel [1.0013, -0.9983].
4. Padding 1 turns the 3x3 X into a 5x5 one and the output into 4x4; stride (3, 2) then keeps
   [[0, 8], [6, 8]]; the size rule is floor((n - k + p + s) / s) per axis (p: rows or
   columns added in all).
5. LeNet-5 on a 32x32 image: 28, 14, 10, 5, then 20*5*5 = 500 features and 10 classes.

    python examples/seeds/seed002_corr2d_and_lenet.py
"""
import minigrad
import minigrad.nn.functional as F
from minigrad import nn

START = [-0.1775, 0.435]     # reproduces the tutorial's printed losses (see the docstring)


def corr2d(X, K):
    """2-D cross-correlation, one output position at a time (differentiable: written with
    tensor ops into a list, then stacked)."""
    h, w = K.shape
    rows = []
    for i in range(X.shape[0] - h + 1):
        rows.append(minigrad.stack([(X[i:i + h, j:j + w] * K).sum()
                                    for j in range(X.shape[1] - w + 1)]))
    return minigrad.stack(rows)


class LoopConv2d(nn.Module):
    """A one-channel convolution layer built on ``corr2d``: kernel and scalar bias."""

    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(minigrad.rand(*kernel_size))
        self.bias = nn.Parameter(minigrad.zeros(1))

    def forward(self, image):
        return self.bias + corr2d(image, self.weight)


X3 = [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
K2 = [[0.0, 1.0], [2.0, 3.0]]


def cross_correlation():
    print("## 1. Cross-correlation")
    X, K = minigrad.tensor(X3), minigrad.tensor(K2)
    Y = corr2d(X, K)
    print(Y)
    for i in range(2):
        for j in range(2):
            terms = " + ".join(f"{X[i + a, j + b].item():g}x{K[a, b].item():g}"
                               for a in range(2) for b in range(2))
            print(f"  out[{i}, {j}] = {terms} = {Y[i, j].item():g}")
    same = bool((F.conv2d(X[None, None], K[None, None])[0, 0] == Y).all())
    print("F.conv2d gives the same:", same)
    return Y


def edge_data():
    X = minigrad.ones(6, 8)
    X[:, 2:6] = 0
    return X, corr2d(X, minigrad.tensor([[1.0, -1.0]]))


def loop_layer():
    print("\n## 2. A layer built on the loop")
    minigrad.manual_seed(0)
    X, _ = edge_data()
    layer = LoopConv2d((1, 2))
    builtin = nn.Conv2d(1, 1, (1, 2))
    with minigrad.no_grad():
        builtin.weight.copy_(layer.weight.reshape(1, 1, 1, 2))
        builtin.bias.copy_(layer.bias)
    gap = (layer(X) - builtin(X[None, None])[0, 0]).abs().max().item()
    print("output", list(layer(X).shape), "equal to nn.Conv2d's:", gap < 1e-6)
    return layer


def learn_edge_kernel(start=START, lr=3e-2, steps=20):
    print("\n## 3. Learning the edge kernel from (X, Y)")
    X, Y = edge_data()
    print("X", list(X.shape), "Y", list(Y.shape))
    conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    with minigrad.no_grad():
        conv.weight.copy_(minigrad.tensor(start).reshape(1, 1, 1, 2))
    X, Y = X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)
    losses = []
    for step in range(1, steps + 1):
        loss = ((conv(X) - Y) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        with minigrad.no_grad():
            conv.weight -= lr * conv.weight.grad
        losses.append(loss.item())
        if step % 5 == 0:
            print(f"step {step}: loss {loss.item():.3f}")
    kernel = conv.weight.detach().flatten().tolist()
    print(f"learned kernel: [{kernel[0]:.4f}, {kernel[1]:.4f}]")
    return kernel, losses


def padding_and_stride():
    print("\n## 4. Padding and stride")
    X, K = minigrad.tensor(X3)[None, None], minigrad.tensor(K2)[None, None]
    padded = F.conv2d(X, K, padding=1)
    print("padding 1:")
    print(padded[0, 0])
    strided = F.conv2d(X, K, padding=1, stride=(3, 2))
    print("padding 1, stride (3, 2):")
    print(strided[0, 0])
    n, k, p, (sh, sw) = 3, 2, 2, (3, 2)
    print(f"size: floor(({n}-{k}+{p}+{sh})/{sh}) x floor(({n}-{k}+{p}+{sw})/{sw}) = "
          f"{(n - k + p + sh) // sh} x {(n - k + p + sw) // sw}")
    return padded, strided


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 20, 5, 1)
        self.fc1 = nn.Linear(20 * 5 * 5, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x, trace=None):
        def note(name, t):
            if trace is not None:
                trace.append((name, list(t.shape)))
            return t
        x = note("input", x)
        x = F.max_pool2d(F.relu(note("conv1", self.conv1(x))), 2, 2)
        x = F.max_pool2d(F.relu(note("conv2", self.conv2(note("pool1", x)))), 2, 2)
        x = note("flatten", note("pool2", x).view(-1, 20 * 5 * 5))
        return note("fc2", self.fc2(F.relu(self.fc1(x))))


def lenet_shapes():
    print("\n## 5. LeNet-5 on one 32x32 image")
    minigrad.manual_seed(0)
    trace = []
    logits = LeNet5()(minigrad.randn(1, 1, 32, 32), trace)
    for name, shape in trace:
        print(f"  {name:<8} {shape}")
    print("predicted class:", logits.softmax(dim=1).argmax(dim=1).tolist())
    return trace


def main():
    Y = cross_correlation()
    layer = loop_layer()
    kernel, losses = learn_edge_kernel()
    padded, strided = padding_and_stride()
    return {"Y": Y, "layer": layer, "kernel": kernel, "losses": losses, "padded": padded,
            "strided": strided, "lenet": lenet_shapes()}


if __name__ == "__main__":
    main()
