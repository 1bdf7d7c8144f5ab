"""``minigrad.nn.utils.init``: ``skip_init`` under PyTorch's module path
``torch.nn.utils.init`` (it is defined in ``init_helpers``)."""
from __future__ import annotations

from .init_helpers import skip_init

__all__ = ["skip_init"]
