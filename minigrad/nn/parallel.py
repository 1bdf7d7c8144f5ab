"""PyTorch's import path ``torch.nn.parallel``: ``DataParallel`` (defined in
``modules/data_parallel.py``)."""
from .modules.data_parallel import DataParallel  # noqa: F401

__all__ = ["DataParallel"]
