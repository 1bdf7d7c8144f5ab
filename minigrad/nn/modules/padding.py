"""Padding layers: ``F.pad`` with its pads fixed at construction, in every mode and rank.

``padding`` is an int (the same amount on every side) or a tuple of (left, right) pairs
starting from the LAST dimension: ``(left, right)`` for 1d, ``(left, right, top, bottom)`` for
2d, ``(left, right, top, bottom, front, back)`` for 3d.  An Nd layer pads the last N dims of
an (N + 1)-d (unbatched) or (N + 2)-d (batched) input; negative amounts crop.

    ZeroPad / ConstantPad   fill the border with 0 / ``value``
    ReflectionPad           mirror without repeating the edge: [a b c] -> b [a b c] b
    ReplicationPad          repeat the edge:                   [a b c] -> a [a b c] c
    CircularPad             wrap around:                       [a b c] -> c [a b c] a

Gradients are F.pad's (each padded copy sends its gradient back to its source element).
"""
from __future__ import annotations

import types
from collections.abc import Iterable

from .. import functional as F
from ._method_names import own_method
from .module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


def _expand(padding, n_dims):
    """A scalar becomes 2 * n_dims copies of itself; a sequence becomes a tuple, as given.

    Any non-iterable is repeated (a float or None too), so that, as in torch, a bad amount is
    refused by F.pad's type check when the layer is called rather than here."""
    if not isinstance(padding, Iterable):
        return (padding,) * (2 * n_dims)
    return tuple(padding)


class _PadNd(Module):
    """Shared by every padding layer: stores ``padding`` and pads with ``_mode``."""
    _mode = "constant"
    _n_dims = 1

    def __init_subclass__(cls, **kwargs):
        """A public layer that inherits its __init__ gets a copy under its own name, so that
        Python's words for a bad call name it (``ConstantPad1d.__init__() missing ...``), as
        PyTorch's layers' own __init__ do."""
        super().__init_subclass__(**kwargs)
        if "__init__" not in vars(cls) and not cls.__name__.startswith("_"):
            base = cls.__init__
            init = types.FunctionType(base.__code__, base.__globals__, "__init__",
                                      base.__defaults__, base.__closure__)
            init.__qualname__, init.__doc__ = f"{cls.__qualname__}.__init__", base.__doc__
            cls.__init__ = init

    def __init__(self, padding):
        super().__init__()
        self.padding = _expand(padding, self._n_dims)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim of (C, W) or (N, C, W) with ``value``: W -> W + left + right."""
    _n_dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last 2 dims of (C, H, W) or (N, C, H, W) with ``value``:
    H -> H + top + bottom, W -> W + left + right."""
    _n_dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last 3 dims of (C, D, H, W) or (N, C, D, H, W) with ``value``."""
    _n_dims = 3


class ZeroPad1d(ConstantPad1d):
    """Pad the last dim with zeros: (*, W) -> (*, W + left + right)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    """Pad the last 2 dims with zeros: (*, H, W) -> (*, H + top + bottom, W + left + right)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    """Pad the last 3 dims with zeros: (*, D, H, W) -> (*, D + front + back, H + top +
    bottom, W + left + right)."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _ReflectionPadNd(_PadNd):
    _mode = "reflect"


class _ReplicationPadNd(_PadNd):
    _mode = "replicate"


# PyTorch's reflection and replication layers share these bases' forward
own_method(_ReflectionPadNd, "forward")
own_method(_ReplicationPadNd, "forward")


class ReflectionPad1d(_ReflectionPadNd):
    """Mirror the last dim of (C, W) or (N, C, W) at its edges (each pad < W)."""
    _mode, _n_dims = "reflect", 1


class ReflectionPad2d(_ReflectionPadNd):
    """Mirror the last 2 dims of (C, H, W) or (N, C, H, W) at their edges."""
    _mode, _n_dims = "reflect", 2


class ReflectionPad3d(_ReflectionPadNd):
    """Mirror the last 3 dims of (C, D, H, W) or (N, C, D, H, W) at their edges."""
    _mode, _n_dims = "reflect", 3


class ReplicationPad1d(_ReplicationPadNd):
    """Repeat the edge values of the last dim of (C, W) or (N, C, W)."""
    _mode, _n_dims = "replicate", 1


class ReplicationPad2d(_ReplicationPadNd):
    """Repeat the edge values of the last 2 dims of (C, H, W) or (N, C, H, W)."""
    _mode, _n_dims = "replicate", 2


class ReplicationPad3d(_ReplicationPadNd):
    """Repeat the edge values of the last 3 dims of (C, D, H, W) or (N, C, D, H, W)."""
    _mode, _n_dims = "replicate", 3


class _CircularPadNd(_PadNd):
    _mode = "circular"

    def forward(self, input):
        k = self._n_dims
        if input.ndim not in (k + 1, k + 2):
            raise ValueError(f"expected {k + 1}D or {k + 2}D input (got {input.ndim}D input)")
        return F.pad(input, self.padding, "circular")


class CircularPad1d(_CircularPadNd):
    """Wrap the last dim of (C, W) or (N, C, W) around: the left pad copies the end."""
    _n_dims = 1


class CircularPad2d(_CircularPadNd):
    """Wrap the last 2 dims of (C, H, W) or (N, C, H, W) around (a torus)."""
    _n_dims = 2


class CircularPad3d(_CircularPadNd):
    """Wrap the last 3 dims of (C, D, H, W) or (N, C, D, H, W) around."""
    _n_dims = 3
