"""Seed 003, "What Is Convolution In Neural Network?": the classic Net (two Conv2d, three
Linear), ``print(net)`` and the sizes of its convolution weights.

The web page printed the listing on ONE line; it is reformatted here with line breaks and
indentation -- no token changed -- and runs with ``import minigrad as torch`` (``_listing.py``).

The listing has a bug the page never meets (it never calls ``net(x)``): ``num_flat_features``
ends with ``return num_flat_features``, a name that is not defined inside the method (the
method's own name lives on the class, not in the function's scope), so ``forward`` raises
``NameError: name 'num_flat_features' is not defined`` -- in PyTorch and in minigrad alike.
The script shows that, then runs what the author obviously meant (``return num_features``).

    python examples/seeds/seed003_what_is_convolution.py
"""
from _listing import run_listings

# ---- the document's listings, line breaks restored --------------------------------------------
NET = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 6, 3) #1channel input, 6channel output (6kernels), 3*3 kernel
        self.conv2 = nn.Conv2d(6, 16, 3) #6channel input, 16channel output, 3*3 kernel
        self.fc1 = nn.Linear(16 * 6 * 6, 120) #Linear transform from 16*6*6 features into 84 features
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, (2, 2))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x
    def num_flat_features(self, x):
        size = x.size()[1:]
        num_features = 1
        for s in size:
            num_features *= s
        return num_flat_features
net = Net()
"""

PRINT_NET = """\
print(net)
"""

PARAMETER_SIZES = """\
params = list(net.parameters())
print(params[0].size())
print(params[2].size())
"""

# ---- not in the document: calling the net --------------------------------------------------------
CALL_AS_WRITTEN = """\
x = torch.randn(1, 1, 32, 32)
try:
    net(x)
except NameError as error:
    print("net(x) as written:", type(error).__name__ + ":", error)
"""

CALL_AS_MEANT = """\
class FixedNet(Net):
    def num_flat_features(self, x):
        size = x.size()[1:]
        num_features = 1
        for s in size:
            num_features *= s
        return num_features          # the document returns num_flat_features
fixed = FixedNet()
print("with return num_features:", fixed(x).shape)
"""

LISTINGS = [
    ("class Net", NET),
    ("print(net)", PRINT_NET),
    ("the sizes of conv1's and conv2's weights", PARAMETER_SIZES),
    ("(calling the net as written)", CALL_AS_WRITTEN),
    ("(calling it as the author meant)", CALL_AS_MEANT),
]


def main(lib="minigrad", seed=0):
    """Run the listings in order on ``lib``; return the notebook's namespace."""
    return run_listings(LISTINGS, lib, seed)


if __name__ == "__main__":
    main()
