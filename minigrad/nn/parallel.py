"""PyTorch's import path ``torch.nn.parallel``: ``DataParallel`` (defined in
``modules/data_parallel.py``) and ``DistributedDataParallel`` (``modules/distributed.py``)."""
from .modules.data_parallel import DataParallel  # noqa: F401
from .modules.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "DistributedDataParallel"]
