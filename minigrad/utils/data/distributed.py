"""``DistributedSampler`` (PyTorch's ``torch.utils.data.distributed``): each of
``num_replicas`` processes reads its own ``1 / num_replicas`` share of a dataset.

Without ``num_replicas`` and ``rank`` they come from the default process group
(``minigrad.distributed``, a world of one process), which must be initialised first, as in
PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from ... import distributed as dist
from ..._cpu_stream import CPUStream
from .sampler import Sampler, _T_co

__all__ = ["DistributedSampler"]

class DistributedSampler(Sampler[_T_co]):
    """Indices ``rank, rank + num_replicas, rank + 2 * num_replicas, ...`` of the epoch's
    order (a permutation seeded by ``seed + epoch`` when ``shuffle``, so every replica draws
    the same one; call ``set_epoch`` each epoch).  The order is padded by repeating its start
    so that every replica gets ``ceil(n / num_replicas)`` indices, or, with ``drop_last``,
    cut to ``floor(n / num_replicas)`` each.  The shuffled order is minigrad's own (numpy's
    generator), not the one PyTorch's ``randperm`` would give."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None:
            num_replicas = dist.get_world_size()      # torch's ValueError before init
        if rank is None:
            rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.epoch, self.drop_last, self.shuffle, self.seed = 0, drop_last, shuffle, seed
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _index_array(self):
        n = len(self.dataset)
        if self.shuffle:
            # PyTorch's: a permutation from a generator seeded with seed + epoch
            order = CPUStream(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:          # pad by repeating the order from its start
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return order[self.rank:self.total_size:self.num_replicas].astype(np.int64)

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the next shuffle's seed, so each epoch gets a new order."""
        self.epoch = epoch
