"""``Dropout``: in training, zero each element with probability p and scale the rest by
1 / (1 - p), so the expected value is unchanged; in eval mode, the identity."""
from __future__ import annotations

from .. import functional as F
from ._method_names import own_forward
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class Dropout(Module):
    """Randomly zero elements (training mode only); draws from the default generator."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class _DropoutNd(Dropout):
    _fn = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        own_forward(cls)          # Python's words for a bad call name the layer

    def forward(self, input):
        # F's function as it is now (a TorchFunctionMode's twin while one is active)
        return getattr(F, type(self)._fn.__name__)(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) or (C, L) (training mode only)."""
    _fn = F.dropout1d


class Dropout2d(_DropoutNd):
    """Zero whole channels of (N, C, H, W) or (C, H, W) (training mode only)."""
    _fn = F.dropout2d


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) (training mode only)."""
    _fn = F.dropout3d


class AlphaDropout(_DropoutNd):
    """Alpha dropout for SELU networks: dropped units take SELU's saturation value and an
    affine map keeps zero mean / unit variance (training mode only)."""

    def forward(self, input):      # (torch's module leaves ``inplace`` unused here too)
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels of (N, C, *) (training mode only)."""

    def forward(self, input):      # (torch's module leaves ``inplace`` unused here too)
        return F.feature_alpha_dropout(input, self.p, self.training)
