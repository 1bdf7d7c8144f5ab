"""PyTorch's import path ``torch.nn.modules.instancenorm``: the instance-norm classes (the
eager ones defined in ``feature_norm.py``) and the lazy ones, ``LazyInstanceNorm1d/2d/3d``."""
from .batchnorm import _LazyNormBase
from .feature_norm import (  # noqa: F401
    InstanceNorm1d, InstanceNorm2d, InstanceNorm3d, _InstanceNorm)
from .norm_base import _NormBase  # noqa: F401

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyInstanceNorm1d",
           "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _LazyInstanceNorm(_LazyNormBase):
    # PyTorch's lazy instance norms default to affine and tracked statistics, unlike the
    # eager ones; num_features is read from dim 1 as for the lazy batch norms.
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device=device,
                         dtype=dtype, bias=bias)
        self._placeholders_for_norm()

    def initialize_parameters(self, input):
        if not self._materialize_norm(input):
            return
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0),
                            ("running_var", 1.0)):
            t = getattr(self, name)
            if t is not None:
                t._array[...] = value


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    """InstanceNorm1d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    """InstanceNorm2d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    """InstanceNorm3d whose ``num_features`` is read from the first input."""
    cls_to_become = InstanceNorm3d
