"""``torch.nn.parallel.distributed``'s path to ``DistributedDataParallel``."""
from ..modules.distributed import DistributedDataParallel  # noqa: F401

__all__ = ["DistributedDataParallel"]
