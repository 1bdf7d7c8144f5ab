"""``torch.nn.parallel.data_parallel``'s path to ``DataParallel``."""
from ..modules.data_parallel import DataParallel  # noqa: F401

__all__ = ["DataParallel"]
