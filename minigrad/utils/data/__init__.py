"""``minigrad.utils.data``: ``Dataset``, ``TensorDataset``, ``DataLoader``, ``random_split``...

    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    for xb, yb in loader: ...

The submodules follow PyTorch's import paths: ``dataset`` (the datasets and
``random_split``), ``sampler``, ``dataloader`` (``DataLoader``, collation), ``distributed``
(``DistributedSampler``) and ``_utils.collate``.
"""
from . import _utils  # noqa: F401
from .dataset import (  # noqa: F401
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split)
from .sampler import (  # noqa: F401
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler)
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info  # noqa
from .distributed import DistributedSampler  # noqa: F401
from . import dataset, sampler, dataloader, distributed  # noqa: F401

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "ChainDataset",
           "Subset", "random_split", "DataLoader", "Sampler", "SequentialSampler",
           "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler",
           "default_collate", "default_convert", "get_worker_info", "StackDataset",
           "DistributedSampler"]
