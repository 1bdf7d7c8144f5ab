"""Loader-worker information (PyTorch's ``torch.utils.data._utils.worker``)."""
from __future__ import annotations

__all__ = ["get_worker_info"]


def get_worker_info():
    """Information about the current loader worker process; None in the main process, which
    is where minigrad's DataLoader always loads (so an IterableDataset need not shard)."""
    return None
