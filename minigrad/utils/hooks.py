"""``minigrad.utils.hooks``: ``RemovableHandle``, the handle ``Module.register_*_hook``
returns (``handle.remove()``, or use it as a context manager), under PyTorch's module path
``torch.utils.hooks``."""
from __future__ import annotations

from ..nn.modules.hooks import RemovableHandle

__all__ = ["RemovableHandle"]
