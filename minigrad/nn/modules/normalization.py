"""Batch normalization layers: ``BatchNorm1d``, ``BatchNorm2d``, ``BatchNorm3d``.

Parameters: weight (C,) = 1 and bias (C,) = 0 when ``affine``.  Buffers, when
``track_running_stats``: running_mean (C,) = 0, running_var (C,) = 1 and num_batches_tracked
(an int64 scalar).  In training mode each call normalizes with the batch's statistics and
updates the running ones (momentum=None: a cumulative average over num_batches_tracked
batches); in eval mode it uses the running ones.  The math is ``F.batch_norm``
(``minigrad/ops/normalization.py``).
"""
from __future__ import annotations

from ...ops.normalization import batch_norm
from ._method_names import own_method
from .norm_base import _NormBase

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm"]


class _BatchNorm(_NormBase):
    """The BatchNorm layers' base: ``_NormBase``'s parameters, buffers and forward, affine
    and tracking running statistics by default."""

    def _check_input_dim(self, input):
        raise NotImplementedError

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked._array += 1
            self.num_batches_tracked._vcounter.value += 1
            if self.momentum is None:   # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._array)
        use_batch_stats = self.training or (self.running_mean is None and
                                            self.running_var is None)
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None,
                          self.running_var if track else None, self.weight, self.bias,
                          use_batch_stats, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L) inputs, per channel C."""

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W) inputs, per channel C."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W) inputs, per channel C."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class SyncBatchNorm(_BatchNorm):
    """Batch norm whose statistics would be synchronised across processes; on one process
    (all minigrad has) it is batch norm over (N, C, *) inputs of at least 2 dims."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")
    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d in it (itself included) replaced by a
        SyncBatchNorm that takes over its parameters, running statistics and train/eval
        mode (the same tensors, not copies).  Returns the converted module."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                converted.weight = module.weight
                converted.bias = module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
            if hasattr(module, "qconfig"):
                converted.qconfig = module.qconfig
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted


own_method(SyncBatchNorm, "forward")      # PyTorch's SyncBatchNorm defines its own


# PyTorch's ``torch.nn.modules.normalization`` holds the feature normalisations; third-party
# code imports them from there
from .cross_map_lrn import CrossMapLRN2d  # noqa: F401,E402
from .feature_norm import GroupNorm, LayerNorm  # noqa: F401,E402
from .round6 import RMSNorm  # noqa: F401,E402
from .upsampling import LocalResponseNorm  # noqa: F401,E402
