"""Layers over the round-6 functionals: ``RMSNorm``, ``FractionalMaxPool2d`` and
``FractionalMaxPool3d`` (``TripletMarginWithDistanceLoss`` is in ``loss.py``, as PyTorch's)."""
from __future__ import annotations

import numbers

from ... import creation
from .. import functional as F
from ..parameter import Parameter
from ._method_names import own_forward
from .loss import TripletMarginWithDistanceLoss  # noqa: F401  (defined there, as PyTorch)
from .module import Module
from .utils import _ntuple

__all__ = ["RMSNorm", "TripletMarginWithDistanceLoss", "FractionalMaxPool2d",
           "FractionalMaxPool3d"]


class RMSNorm(Module):
    """y = x / sqrt(mean(x^2 over the last dims ``normalized_shape``) + eps) * weight;
    ``eps=None`` uses the input dtype's machine epsilon; the weight (ones at first) exists
    when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else \
            tuple(normalized_shape)
        self.normalized_shape = shape
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            # empty(shape) then reset_parameters, as PyTorch's (a bad size is refused by
            # empty()); an empty shape is a 0-d weight, refused by F.rms_norm at call time
            self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            self.weight.data.fill_(1.0)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _FractionalMaxPoolNd(Module):
    _d = 2

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_forward(cls)          # Python's words for a bad call name the layer

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        d = self._d
        # the 3-d layer refuses a kernel size < 1 given as an int or a sequence
        if d == 3 and ((isinstance(kernel_size, int) and kernel_size <= 0) or (
                isinstance(kernel_size, (tuple, list)) and not all(k > 0 for k in kernel_size))):
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = _ntuple(d)(kernel_size)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else _ntuple(d)(output_size)
        self.output_ratio = None if output_ratio is None else _ntuple(d)(output_ratio)
        if output_size is None and output_ratio is None:
            raise ValueError(f"FractionalMaxPool{d}d requires specifying either an output "
                             "size, or a pooling ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        # (the first d ratios are checked, one at a time)
        if self.output_ratio is not None and \
                not all(0 < self.output_ratio[i] < 1 for i in range(d)):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        f = F.fractional_max_pool2d if self._d == 2 else F.fractional_max_pool3d
        return f(input, self.kernel_size, self.output_size, self.output_ratio,
                 self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """``F.fractional_max_pool2d`` as a layer: (N, C, H, W) or (C, H, W) to ``output_size``
    or int(size * ``output_ratio``), windows ``kernel_size``; fixed ``_random_samples``
    (N, C, 2) make it deterministic."""
    _d = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """The 3-d form of ``FractionalMaxPool2d``: (N, C, T, H, W) or (C, T, H, W), samples
    (N, C, 3)."""
    _d = 3
