"""PyTorch's import path ``torch.nn.modules.fold``: ``Fold`` and ``Unfold`` (in
``upsampling.py``)."""
from .upsampling import Fold, Unfold  # noqa: F401

__all__ = ["Fold", "Unfold"]
