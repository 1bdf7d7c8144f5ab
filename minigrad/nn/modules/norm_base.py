"""``_NormBase``: what BatchNorm and InstanceNorm have in common, as PyTorch's class of that
name.  Third-party code tests ``isinstance(m, _NormBase)`` to find every normalisation layer
with running statistics (to exclude their weights from weight decay, to freeze them...)."""
from __future__ import annotations

from .module import Module

__all__ = ["_NormBase"]


class _NormBase(Module):
    """The base class of ``_BatchNorm`` and ``_InstanceNorm`` (no behaviour of its own)."""
