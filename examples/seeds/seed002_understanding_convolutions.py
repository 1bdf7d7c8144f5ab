"""Seed 002, "Understanding convolutions" (after d2l.ai): corr2d by hand, a Conv2D module built
on it, learning the edge kernel [1, -1] from (X, Y), padding and stride, and LeNet5's shapes.

The notebook's cells run unchanged with ``import minigrad as torch`` (see ``_listing.py``).
The padding and stride sections of the document are matrices, not code: the script computes
them with ``F.conv2d`` and checks them against the document's.  The training cell starts from
random weights, so its losses differ a little from the document's; the learned kernel does not
(``examples/learn_edge_kernel.py`` is the same experiment as a standalone program).

    python examples/seeds/seed002_understanding_convolutions.py
"""
from _listing import run_listings

# ---- the document's cells, verbatim -----------------------------------------------------------
IN_10 = """\
import torch
def corr2d(X, K):
    \"\"\"Compute 2D cross-correlation.\"\"\"
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""

IN_11 = """\
X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
corr2d(X, K)
"""

IN_12 = """\
from torch import nn
import torch
class Conv2D(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return corr2d(x, self.weight) + self.bias
"""

IN_28 = """\
X = torch.ones((6, 8))
X[:, 2:6] = 0
print(X.shape)
K = torch.tensor([[1.0, -1.0]])

Y = corr2d(X, K)
print(Y.shape)

# Construct a two-dimensional convolutional layer with 1 output channel and a
# kernel of shape (1, 2). For the sake of simplicity, we ignore the bias here
conv2d = nn.Conv2d(in_channels = 1, out_channels = 1, kernel_size=(1, 2), bias=False)

# The two-dimensional convolutional layer uses four-dimensional input and
# output in the format of (example, channel, height, width), where the batch
# size (number of examples in the batch) and the number of channels are both 1
X = X.reshape((1, 1, 6, 8))
Y = Y.reshape((1, 1, 6, 7))
lr = 3e-2  # Learning rate

for i in range(20):
    Y_hat = conv2d(X)
    l = ((Y_hat - Y) ** 2)
    conv2d.zero_grad()
    l.sum().backward()
    # Update the kernel
    conv2d.weight.data[:] -= lr * conv2d.weight.grad
    if (i + 1) % 5 == 0:
        print(f'Epoch {i + 1}, loss {l.sum():.3f}')
"""

IN_29 = """\
conv2d.weight.data
"""

IN_73 = """\
from torch import nn
from torch.nn import functional as F
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5, 1)
        self.conv2 = nn.Conv2d(20, 20, 5, 1)
        self.fc1 = nn.Linear(20*5*5, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x):
        print("Input shape:", x.shape)
        x = self.conv1(x)
        print("Conv2d:", x.shape)
        x = F.relu(x)
        x = F.max_pool2d(x, 2, 2)
        print("MaxPool2d:", x.shape)
        x = self.conv2(x)
        print("Conv2d:", x.shape)
        x = F.relu(x)
        x = F.max_pool2d(x, 2, 2)
        print("MaxPool2d:", x.shape)
        x = x.view(-1, 20*5*5)
        print("Flatten:", x.shape)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        print(x.shape)
        x = nn.Softmax(dim=1)(x)
        return torch.argmax(x, dim=1)
"""

IN_74 = """\
input = torch.randn(1, 1, 32, 32)
"""

IN_75 = """\
lenet = LeNet5()
"""

IN_76 = """\
lenet(input)
"""

# ---- not code in the document: its matrices, computed ---------------------------------------
CONV2D_CLASS_AT_WORK = """\
# The document defines Conv2D but trains the built-in layer; the two agree on the same kernel.
layer = Conv2D(kernel_size=(1, 2))
layer.weight.data[:] = conv2d.weight.data[0, 0]
print(layer(X[0, 0]).shape, bool((layer(X[0, 0]) - conv2d(X)[0, 0]).abs().max() < 1e-6))
"""

PADDING_AND_STRIDE = """\
import torch.nn.functional as F
X0 = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]).reshape(1, 1, 3, 3)
K0 = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2)
padded = F.conv2d(X0, K0, padding=1)
print("padding 1:", padded.squeeze())
strided = F.conv2d(X0, K0, padding=1, stride=(3, 2))
print("padding 1, stride (3, 2):", strided.squeeze())
n_h = n_w = 3; k_h = k_w = 2; p_h = p_w = 2; s_h, s_w = 3, 2     # p: rows/columns added in all
print(f"output shape: floor(({n_h}-{k_h}+{p_h}+{s_h})/{s_h}) x "
      f"floor(({n_w}-{k_w}+{p_w}+{s_w})/{s_w}) = "
      f"{(n_h - k_h + p_h + s_h) // s_h} x {(n_w - k_w + p_w + s_w) // s_w}", tuple(strided.shape))
"""

LISTINGS = [
    ("In [10]: corr2d", IN_10),
    ("In [11]", IN_11),
    ("In [12]: a convolutional layer", IN_12),
    ("In [28]: learning the kernel", IN_28),
    ("In [29]", IN_29),
    ("(the Conv2D class at work)", CONV2D_CLASS_AT_WORK),
    ("(padding and stride)", PADDING_AND_STRIDE),
    ("In [73]: LeNet5", IN_73),
    ("In [74]", IN_74),
    ("In [75]", IN_75),
    ("In [76]", IN_76),
]


def main(lib="minigrad", seed=0):
    """Run the cells in order on ``lib``; return the notebook's namespace."""
    return run_listings(LISTINGS, lib, seed)


if __name__ == "__main__":
    main()
