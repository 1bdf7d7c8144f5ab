"""``CrossMapLRN2d``: the legacy (Lua Torch) local response normalisation across channels.
Its math, and how it differs from ``LocalResponseNorm``, is in
``nn/_functional_round7.py::cross_map_lrn2d``.

The values are PyTorch's. The gradient is not quite: PyTorch's backward is the legacy
module's own formula, which is not the exact derivative of its forward (the gap grows with
``alpha``; with ``size=1`` it fails), and it has no second derivative (it runs ``out=``
ops). minigrad differentiates the forward as written, so its gradient agrees with central
differences of PyTorch's forward, and it has a second derivative."""
from __future__ import annotations

from .._functional_round7 import cross_map_lrn2d
from .module import Module

__all__ = ["CrossMapLRN2d"]


class CrossMapLRN2d(Module):
    """CrossMapLRN2d(size, alpha=1e-4, beta=0.75, k=1) on (N, C, H, W) input:
    x * (k + alpha / size * sum of x^2 over ``size`` neighbouring channels) ** -beta."""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
