"""Seed 004, "What's Convolution" (IBM cognitiveclass lab): nn.Conv2d with hand-set weights
(written through ``state_dict()``) on tiny images, the output-size formula, stride, padding.

Every cell runs unchanged with ``import minigrad as torch`` (see ``_listing.py``), except that
the first cell's matplotlib and scipy imports are left out (nothing uses them).  One cell of
the lab has a slip that is kept as written: In [13] prints ``z4.shape`` under the label ``z5``.

    python examples/seeds/seed004_whats_convolution.py
"""
from _listing import run_listings

# ---- the lab's cells, verbatim ----------------------------------------------------------------
IN_1 = """\
import torch
import torch.nn as nn
import matplotlib.pyplot as plt
import numpy as np
from scipy import ndimage, misc
"""

IN_2 = """\
conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3)
conv
"""

IN_3 = """\
conv.state_dict()['weight'][0][0]=torch.tensor([[1.0,0,-1.0],[2.0,0,-2.0],[1.0,0.0,-1.0]])
conv.state_dict()['bias'][0]=0.0
conv.state_dict()
"""

IN_4 = """\
image=torch.zeros(1,1,5,5)
image[0,0,:,2]=1
image
"""

IN_5 = """\
z=conv(image)
z
"""

IN_6 = """\
K=2
conv1 = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=K)
conv1.state_dict()['weight'][0][0]=torch.tensor([[1.0,1.0],
[1.0,1.0]])
conv1.state_dict()['bias'][0]=0.0
conv1.state_dict()
conv1
"""

IN_7 = """\
M=4
image1=torch.ones(1,1,M,M)
"""

IN_8 = """\
z1=conv1(image1)
print("z1:",z1)
print("shape:",z1.shape[2:4])
"""

IN_9 = """\
conv3 = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=2, stride=2)

conv3.state_dict()['weight'][0][0] = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
conv3.state_dict()['bias'][0] = 0.0
conv3.state_dict()
"""

IN_10 = """\
z3=conv3(image1)

print("z3:", z3)
print("shape:", z3.shape[2:4])
"""

IN_11 = """\
image1
"""

IN_12 = """\
conv4 = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=2, stride=3)
conv4.state_dict()['weight'][0][0]=torch.tensor([[1.0,1.0],[1.0,1.0]])
conv4.state_dict()['bias'][0]=0.0
conv4.state_dict()
z4=conv4(image1)
print("z4:", z4)
print("z4:", z4.shape[2:4])
"""

IN_13 = """\
conv5 = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=2, stride=3, padding=1)

conv5.state_dict()['weight'][0][0]=torch.tensor([[1.0,1.0], [1.0,1.0]])
conv5.state_dict()['bias'][0]=0.0
conv5.state_dict()
z5=conv5(image1)
print("z5:", z5)
print("z5:", z4.shape[2:4])
"""

IN_14 = """\
Image=torch.randn( (1,1,4,4) )  
Image
"""

IN_15 = """\
conv = nn.Conv2d(in_channels=1, out_channels=1, kernel_size=3)
conv.state_dict()['weight'][0][0]=torch.tensor([[0,0,0],[0,0,0],[0,0.0,0]])
conv.state_dict()['bias'][0]=0.0
"""

IN_16 = """\
conv(Image)
"""

# ---- not code in the lab: its output-size formula, with the numbers plugged in ----------------
OUTPUT_SIZE = """\
print("M_new = (M - K + 2p)/s + 1")
for name, layer, out in [("conv1", conv1, z1), ("conv3", conv3, z3), ("conv4", conv4, z4),
                         ("conv5", conv5, z5)]:
    k, s, p = layer.kernel_size[0], layer.stride[0], layer.padding[0]
    m_new = (M - k + 2 * p) / s + 1
    print(f"{name}: ({M} - {k} + 2*{p})/{s} + 1 = {m_new:.4g} -> {int(m_new)}; "
          f"output {tuple(out.shape[2:4])}")
"""

LISTINGS = [
    ("In [1]", IN_1, ("matplotlib", "scipy")),
    ("In [2]", IN_2, ()),
    ("In [3]", IN_3, ()),
    ("In [4]", IN_4, ()),
    ("In [5]", IN_5, ()),
    ("In [6]", IN_6, ()),
    ("In [7]", IN_7, ()),
    ("In [8]", IN_8, ()),
    ("In [9]", IN_9, ()),
    ("In [10]", IN_10, ()),
    ("In [11]", IN_11, ()),
    ("In [12]", IN_12, ()),
    ("In [13]", IN_13, ()),
    ("(the output-size formula)", OUTPUT_SIZE, ()),
    ("In [14]", IN_14, ()),
    ("In [15]", IN_15, ()),
    ("In [16]", IN_16, ()),
]


def main(lib="minigrad", seed=0):
    """Run the cells in order on ``lib``; return the notebook's namespace."""
    return run_listings(LISTINGS, lib, seed)


if __name__ == "__main__":
    main()
