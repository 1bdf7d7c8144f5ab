"""``minigrad.utils.hooks``: ``RemovableHandle``, the handle every ``register_*hook``
returns (``handle.remove()``, or use it as a context manager), and the tensor-hook pickling
helpers ``unserializable_hook`` / ``warn_if_has_hooks``, under PyTorch's module path
``torch.utils.hooks``. They are defined in ``minigrad._hooks``, low enough for the tensor
layer to use."""
from __future__ import annotations

from .._hooks import RemovableHandle, unserializable_hook, warn_if_has_hooks

__all__ = ["RemovableHandle", "unserializable_hook", "warn_if_has_hooks"]
