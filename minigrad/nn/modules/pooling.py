"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d/3d``, ``MaxUnpool1d/2d/3d``, ``LPPool1d/2d/3d``.

They hold no parameters: each stores its arguments (as PyTorch stores them, which is what its
repr prints: ``MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)``)
and calls the matching function of ``minigrad.nn.functional`` (``minigrad/ops/pool.py``,
``avg_pool.py``).
"""
from __future__ import annotations

from .. import functional as F
from ._method_names import own_forward
from .module import Module
from .utils import _pair, _single, _triple

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d",
           "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d"]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows: (N, C, L) -> (N, C, L_out),
    L_out = floor((L + 2 padding - dilation (kernel_size - 1) - 1) / stride) + 1 (ceil with
    ceil_mode).  ``stride`` defaults to ``kernel_size``."""

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over sliding 2-D windows: (N, C, H, W) -> (N, C, H_out, W_out), sizes as Conv2d's.
    ``stride`` defaults to ``kernel_size``."""

    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_MaxPoolNd):
    """Max over sliding 3-D windows: (N, C, D, H, W) -> (N, C, D_out, H_out, W_out), sizes as
    Conv3d's.  ``stride`` defaults to ``kernel_size``."""

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPoolNd(Module):
    """What the average pools share: their repr (kernel_size, stride, padding)."""

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows: (N, C, L) -> (N, C, L_out); ``count_include_pad`` counts the
    zero padding in the divisor."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


def _store_avg_pool_options(pool, kernel_size, stride, padding, ceil_mode, count_include_pad,
                            divisor_override):
    """AvgPool2d's and AvgPool3d's attributes (kept as given, as PyTorch keeps them)."""
    pool.kernel_size = kernel_size
    pool.stride = stride if (stride is not None) else kernel_size
    pool.padding = padding
    pool.ceil_mode = ceil_mode
    pool.count_include_pad = count_include_pad
    pool.divisor_override = divisor_override


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding 2-D windows: (N, C, H, W) -> (N, C, H_out, W_out).
    ``divisor_override``, when set, replaces the window size as the divisor."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        _store_avg_pool_options(self, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)

    def forward(self, input):
        kwargs = {} if self.divisor_override is None else {
            "divisor_override": self.divisor_override}
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, **kwargs)


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Mean pooling to a fixed length: (N, C, L) -> (N, C, output_size)."""

    def forward(self, input):
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Mean pooling to a fixed size: (N, C, H, W) -> (N, C, *output_size) (None keeps a size)."""

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Mean pooling to a fixed size: (N, C, D, H, W) -> (N, C, *output_size) (None keeps a
    size)."""

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


# ----------------------------------------------------------------------------------------------
# AvgPool3d, AdaptiveMaxPool1d/2d/3d, MaxUnpool1d/2d/3d, LPPool1d/2d/3d
# ----------------------------------------------------------------------------------------------
class AvgPool3d(_AvgPoolNd):
    """Mean over sliding 3-D windows: (N, C, D, H, W) -> (N, C, D_out, H_out, W_out)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        _store_avg_pool_options(self, kernel_size, stride, padding, ceil_mode,
                                count_include_pad, divisor_override)

    def forward(self, input):
        kwargs = {} if self.divisor_override is None else {
            "divisor_override": self.divisor_override}
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, **kwargs)


class _AdaptiveMaxPoolNd(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed length: (N, C, L) -> (N, C, output_size)."""

    def forward(self, input):
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed size: (N, C, H, W) -> (N, C, *output_size)."""

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed size: (N, C, D, H, W) -> (N, C, *output_size)."""

    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = self._tuple(kernel_size)
        self.stride = self._tuple(stride if stride is not None else kernel_size)
        self.padding = self._tuple(padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Undo MaxPool1d(return_indices=True): values back at their indices, zeros elsewhere."""
    _tuple = staticmethod(_single)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """Undo MaxPool2d(return_indices=True): values back at their indices, zeros elsewhere."""
    _tuple = staticmethod(_pair)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class MaxUnpool3d(_MaxUnpoolNd):
    """Undo MaxPool3d(return_indices=True): values back at their indices, zeros elsewhere."""
    _tuple = staticmethod(_triple)

    def forward(self, input, indices, output_size=None):
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class _LPPoolNd(Module):

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_forward(cls)          # Python's words for a bad call name the layer
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")

    def forward(self, input):
        # as PyTorch's modules, a float p: x ** 1.0 of an integer input is floating
        return self._pool(input, float(self.norm_type), self.kernel_size, self.stride,
                          self.ceil_mode)


class LPPool1d(_LPPoolNd):
    """The p-norm of each window, (sum of x^p)^(1/p): (N, C, L) -> (N, C, L_out)."""
    _pool = staticmethod(F.lp_pool1d)


class LPPool2d(_LPPoolNd):
    """The p-norm of each 2-D window: (N, C, H, W) -> (N, C, H_out, W_out)."""
    _pool = staticmethod(F.lp_pool2d)


class LPPool3d(_LPPoolNd):
    """The p-norm of each 3-D window: (N, C, D, H, W) -> (N, C, D_out, H_out, W_out)."""
    _pool = staticmethod(F.lp_pool3d)

# PyTorch's ``torch.nn.modules.pooling`` also holds the fractional max pools
from .round6 import FractionalMaxPool2d, FractionalMaxPool3d  # noqa: F401,E402
