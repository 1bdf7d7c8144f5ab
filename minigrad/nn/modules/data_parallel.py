"""``DataParallel``: PyTorch's single-process multi-GPU wrapper.  minigrad runs on one device,
as PyTorch's DataParallel does when no GPU is visible: it then calls the wrapped module
directly.  Code written for several GPUs (``model = nn.DataParallel(model)``,
``model.module.state_dict()``, checkpoints whose keys start with ``module.``) runs unchanged.
"""
from __future__ import annotations

from .module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """DataParallel(module, device_ids=None, output_device=None, dim=0): ``forward`` is
    ``module.forward``; the wrapped module is ``self.module``, so state_dict keys gain the
    prefix ``module.``.  ``device_ids`` is ``[]`` as PyTorch's on a machine without GPUs."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
