"""Reference networks from the seed documents, written once against the PyTorch API.

``seed001_net(lib)`` builds seed 001's MNIST network with ``lib`` = ``minigrad`` or ``torch``,
so tests, benchmarks and examples run the very same architecture on both frameworks.
"""
from __future__ import annotations

import importlib


def seed001_net(lib=None):
    """Seed 001's net for 28x28 digits: Conv2d(1,20,5), pool, Conv2d(20,50,5), pool,
    Linear(800,500), Linear(500,10).  Input (N, 784) or (N, 1, 28, 28) -> logits (N, 10)."""
    lib = lib or importlib.import_module("minigrad")
    nn, F = lib.nn, lib.nn.functional

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 20, 5)
            self.conv2 = nn.Conv2d(20, 50, 5)
            self.fc1 = nn.Linear(4 * 4 * 50, 500)
            self.fc2 = nn.Linear(500, 10)

        def forward(self, x):
            x = x.view(-1, 1, 28, 28)             # (N, 1, 28, 28)
            x = F.relu(self.conv1(x))             # (N, 20, 24, 24)
            x = F.max_pool2d(x, 2)                # (N, 20, 12, 12)
            x = F.relu(self.conv2(x))             # (N, 50, 8, 8)
            x = F.max_pool2d(x, 2)                # (N, 50, 4, 4)
            x = x.view(x.size(0), -1)             # (N, 800)
            x = F.relu(self.fc1(x))               # (N, 500)
            return self.fc2(x)                    # (N, 10)

    return M()
