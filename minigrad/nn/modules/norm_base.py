"""``_NormBase``: what BatchNorm and InstanceNorm have in common, as PyTorch's class of that
name.  Third-party code tests ``isinstance(m, _NormBase)`` to find every normalisation layer
with running statistics (to exclude their weights from weight decay, to freeze them...)."""
from __future__ import annotations

from ...tensor import Tensor
from .. import init
from .module import Module

__all__ = ["_NormBase"]


class _NormBase(Module):
    """The base class of ``_BatchNorm`` and ``_InstanceNorm``."""

    _version = 2    # version 2 added num_batches_tracked

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

    def _load_defaults(self, state_dict, prefix, local_metadata):
        # Checkpoints from before num_batches_tracked existed (as PyTorch accepts them): no
        # recorded version (a plain dict) or an older one.
        key = prefix + "num_batches_tracked"
        version = local_metadata.get("version")
        if (version is None or version < 2) and \
                getattr(self, "num_batches_tracked", None) is not None and key not in state_dict:
            return {key: Tensor._wrap(self.num_batches_tracked._array.copy())}
        return {}
