"""PyTorch's import path ``torch.nn.parallel``: ``DataParallel`` (defined in
``nn/modules/data_parallel.py``) and ``DistributedDataParallel`` (``nn/modules/distributed.py``),
also under their own submodules, as ``torch.nn.parallel.distributed`` and
``torch.nn.parallel.data_parallel``."""
from .data_parallel import DataParallel  # noqa: F401
from .distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DataParallel", "DistributedDataParallel"]
