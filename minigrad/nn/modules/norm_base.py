"""``_NormBase``: what BatchNorm and InstanceNorm have in common, as PyTorch's class of that
name.  Third-party code tests ``isinstance(m, _NormBase)`` to find every normalisation layer
with running statistics (to exclude their weights from weight decay, to freeze them...)."""
from __future__ import annotations

from ... import creation, dtypes
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["_NormBase"]


class _NormBase(Module):
    """The base class of ``_BatchNorm`` and ``_InstanceNorm``."""

    _version = 2    # version 2 added num_batches_tracked

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        """weight (C,) and bias (C,) when ``affine`` (bias only with ``bias``); buffers
        running_mean (C,), running_var (C,) and num_batches_tracked (an int64 scalar) when
        ``track_running_stats``, registered as None otherwise, as PyTorch's."""
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        factory = {"device": device, "dtype": dtype}
        if affine:          # empty(), filled below, as PyTorch's (which refuses a bad size)
            self.weight = Parameter(creation.empty(num_features, **factory))
            if bias:
                self.bias = Parameter(creation.empty(num_features, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", creation.zeros(num_features, **factory))
            self.register_buffer("running_var", creation.ones(num_features, **factory))
            # in the state dict as PyTorch's (an instance norm keeps it at 0: its statistics
            # are always averaged with ``momentum``)
            self.register_buffer("num_batches_tracked",
                                 creation.zeros((), dtype=dtypes.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            init.zeros_(self.num_batches_tracked)

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")

    def _load_defaults(self, state_dict, prefix, local_metadata):
        # Checkpoints from before num_batches_tracked existed (as PyTorch accepts them): no
        # recorded version (a plain dict) or an older one.
        key = prefix + "num_batches_tracked"
        version = local_metadata.get("version")
        if (version is None or version < 2) and \
                getattr(self, "num_batches_tracked", None) is not None and key not in state_dict:
            return {key: Tensor._wrap(self.num_batches_tracked._array.copy())}
        return {}
