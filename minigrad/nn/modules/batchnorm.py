"""PyTorch's import path ``torch.nn.modules.batchnorm``: the batch-norm classes, defined in
``normalization.py`` and ``lazy.py`` (``from torch.nn.modules.batchnorm import _BatchNorm`` is
common in third-party code)."""
from ..parameter import Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from .lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: F401
from .module import Module  # noqa: F401
from .norm_base import _NormBase  # noqa: F401
from .normalization import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm, _BatchNorm)

__all__ = ["BatchNorm1d", "LazyBatchNorm1d", "BatchNorm2d", "LazyBatchNorm2d", "BatchNorm3d",
           "LazyBatchNorm3d", "SyncBatchNorm"]
