"""PyTorch's import path ``torch.nn.modules.instancenorm``: the instance-norm classes, defined
in ``feature_norm.py`` and ``lazy.py``."""
from .feature_norm import (  # noqa: F401
    InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm)
from .lazy import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: F401
from .norm_base import _NormBase  # noqa: F401

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]
