"""PyTorch's import path ``torch.nn.modules.pixelshuffle`` (the classes are in
``upsampling.py``)."""
from .upsampling import PixelShuffle, PixelUnshuffle  # noqa: F401

__all__ = ["PixelShuffle", "PixelUnshuffle"]
