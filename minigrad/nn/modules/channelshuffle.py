"""PyTorch's import path ``torch.nn.modules.channelshuffle`` (the class is in
``upsampling.py``)."""
from .upsampling import ChannelShuffle  # noqa: F401

__all__ = ["ChannelShuffle"]
