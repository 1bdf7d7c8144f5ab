"""Seed 001, "Convolution details in PyTorch": F.conv1d, F.conv2d with an edge kernel, the
MNIST net traced layer by layer, parameter counts, and stride 2 versus stride 1 + max-pool.

The listings are the document's code, unchanged, run with ``import minigrad as torch`` (see
``_listing.py``) -- with three exceptions, all forced by the document itself:

  * the web page lost the indentation of its Python (``class M(nn.Module):`` and the lines
    under it all start in column 0, which is not valid Python); it is restored here, 4 spaces
    per level, and nothing else on those lines changes;
  * the 2-D listing reads ``x_train`` (MNIST, never defined in the document) and shows images
    with matplotlib: ``SETUP`` draws a stand-in 28x28 digit and the ``plt`` lines are left out;
  * ``nn`` and ``model`` are used but never defined; ``SETUP`` imports ``nn`` and the trace
    section builds ``model = M()``.

    python examples/seeds/seed001_convolution_details.py
"""
from _listing import run_listings

# ---- the document's listings, verbatim (indentation restored) ---------------------------------
CONV1D = """\
import torch
import torch.nn.functional as F
# batch, in, iW (input width)
inputs = torch.randn(2, 1, 2)
# out, in, kW (kernel width)
filters = torch.randn(1, 1, 2)
print("\\ninputs:", inputs)
print("\\nfilters:", filters)
res = F.conv1d(inputs, filters, padding=0)
print("\\nsize:", res.size())
print(res)
"""

CONV2D = """\
# 2D convolution example
import torch.nn.functional as F
from matplotlib import pyplot as plt
img = x_train[0]/255
img.resize_(28,28)
print("img show:", img.size())
plt.imshow(img, cmap="gray")
plt.show()
k = torch.tensor([1.,1.,1., 0.,0.,0., -1.,-1.,-1.]).reshape(3,3).unsqueeze(0).unsqueeze(0)
print("kernel:", k.size())
# see how the dimensions of img and k should match
img2 = img.unsqueeze(0).unsqueeze(0)
print("img before conv2d:", img2.size())
res=F.conv2d(img2, k, padding=1)
print(res.size())
rest = res.squeeze()
plt.imshow(rest, cmap="gray")
plt.show()
"""

CLASS_M = """\
class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(4*4*50, 500)
        self.fc2 = nn.Linear(500, 10)
    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = self.fc2(x)
        return x
"""

FORWARD_TRACE = """\
def forward(self, x):
    print(x.size()) #torch.Size([64, 784])
    x = x.view(-1, 1, 28, 28)
    print(x.size()) #torch.Size([64, 1, 28, 28])
    x = F.relu(self.conv1(x))
    print(x.size()) #torch.Size([64, 20, 24, 24])
    x = F.max_pool2d(x, 2)
    print(x.size()) #torch.Size([64, 20, 12, 12])
    x = F.relu(self.conv2(x))
    print(x.size()) #torch.Size([64, 50, 8, 8])
    x = F.max_pool2d(x, 2)
    print(x.size()) #torch.Size([64, 50, 4, 4])
    x = x.view(x.size(0), -1)
    print(x.size()) #torch.Size([64, 800])
    x = F.relu(self.fc1(x))
    print(x.size()) #torch.Size([64, 500])
    x = self.fc2(x)
    print(x.size()) #torch.Size([64, 10])
    return x
"""

FILTERS = """\
w = model.conv1.weight
b = model.conv1.bias
"""

PARAMETER_COUNT = """\
c = nn.Conv2d(5,10, 2,2)
for _ in c.parameters():
    print(_.size())
    print(_.nelement())
# torch.Size([10, 5, 2, 2])
# 200
# torch.Size([10]) ==> bias
# 10
"""

STRIDE_VS_POOL = """\
tt = torch.randn(1,1,6,6)
# 3x3 convolution kernel
kk = torch.randn(1,1,3,3)
# assumption convolution with stride 2 is equal as conv with stride 1 and max pooling of 2
res1 = F.conv2d(tt, kk, stride=2)
print(res1)
# tensor([[[[ 2.1621, 7.2672], [-1.5460, -1.2396]]]])
res2 = F.conv2d(tt, kk, stride=1)
res2 = F.max_pool2d(res2,2)
print(res2)
# tensor([[[[5.8472, 7.2672], [1.3216, 1.9220]]]])
"""

NO_BIAS = """\
nn.Conv2d(1, 20, 5, bias=False)
"""

# ---- not in the document: the names it uses without defining them ----------------------------
SETUP = """\
from torch import nn
# x_train stands in for MNIST: one 28x28 "7" (0..255), flattened to 784 like the tutorial's
x_train = torch.zeros(1, 28, 28)
x_train[0, 5:8, 6:22] = 255.
for r in range(8, 24):
    c0 = 20 - (r - 8) // 2
    x_train[0, r, c0:c0 + 3] = 255.
x_train = x_train.view(1, 784)
"""

TRACE_RUN = """\
M.forward = forward                  # the traced forward replaces M's
model = M()
out = model(torch.randn(64, 784))    # a batch of 64 flattened MNIST images
"""

LISTINGS = [
    ("1D Convolution", CONV1D, ()),
    ("(setup: nn, and a stand-in for x_train)", SETUP, ()),
    ("2D Convolution", CONV2D, ("plt",)),
    ("Convolution to linear", CLASS_M, ()),
    ("The size after every line", FORWARD_TRACE, ()),
    ("(run the traced forward on a batch of 64)", TRACE_RUN, ()),
    ("How do we get the convolution filters?", FILTERS, ()),
    ("nn.Conv2d parameters", PARAMETER_COUNT, ()),
    ("Stride 2 versus stride 1 + max pooling 2", STRIDE_VS_POOL, ()),
    ("Should we use bias in conv2d?", NO_BIAS, ()),
]


def main(lib="minigrad", seed=0):
    """Run the listings in order on ``lib``; return the notebook's namespace."""
    ns = run_listings(LISTINGS, lib, seed)
    print("\n## (the document's answers)")
    print("w:", ns["w"].shape, " b:", ns["b"].shape)
    same_shape = ns["res1"].shape == ns["res2"].shape
    same_values = bool((ns["res1"] - ns["res2"]).abs().max() < 1e-6)
    print(f"stride 2 vs stride 1 + max-pool: same shape {same_shape}, same values {same_values}")
    return ns


if __name__ == "__main__":
    main()
