"""PyTorch's import path ``torch.nn.modules.batchnorm``: the batch-norm classes (the eager
ones defined in ``normalization.py``; ``from torch.nn.modules.batchnorm import _BatchNorm`` is
common in third-party code) and the lazy ones, ``LazyBatchNorm1d/2d/3d``."""
from ..parameter import Parameter, UninitializedBuffer, UninitializedParameter  # noqa: F401
from .lazy import LazyModuleMixin
from .module import Module  # noqa: F401
from .norm_base import _NormBase  # noqa: F401
from .normalization import (  # noqa: F401
    BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm, _BatchNorm)

__all__ = ["BatchNorm1d", "LazyBatchNorm1d", "BatchNorm2d", "LazyBatchNorm2d", "BatchNorm3d",
           "LazyBatchNorm3d", "SyncBatchNorm"]

_NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


class _LazyNormBase(LazyModuleMixin):
    """What the lazy batch and instance norms share: ``num_features`` (0 until then) is read
    from dim 1 of the first input (dim 0 of a 1-d one), and the affine parameters and
    running statistics made that long."""

    def _placeholders_for_norm(self):
        self._placeholders(*_NORM_TENSORS)

    def _materialize_norm(self, input):
        """Read num_features from ``input`` and give the placeholders that length; False
        when load_state_dict has filled them already."""
        if not self.has_uninitialized_params():
            return False
        self.num_features = int(input.shape[1] if input.ndim > 1 else input.shape[0])
        for name in _NORM_TENSORS:
            self._fill(name, (self.num_features,))
        return True


class _LazyBatchNorm(_LazyNormBase):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device=device,
                         dtype=dtype, bias=bias)
        self._placeholders_for_norm()

    def initialize_parameters(self, input):
        if self._materialize_norm(input):
            self.cls_to_become.reset_parameters(self)


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    """BatchNorm1d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    """BatchNorm2d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    """BatchNorm3d whose ``num_features`` is read from the first input."""
    cls_to_become = BatchNorm3d
