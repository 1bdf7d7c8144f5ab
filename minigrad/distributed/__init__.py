"""``minigrad.distributed``: PyTorch's ``torch.distributed`` for a world of one process.

Training scripts written for several processes call ``init_process_group``, ask their rank,
``all_reduce`` their metrics and wrap the model in ``DistributedDataParallel``; run as one
process (rank 0 of a world of size 1) all of that is exact and cheap, and minigrad does it.
A larger world is refused with a RuntimeError: minigrad has no transport between processes.
``_group.py`` holds the group and its rendezvous, ``_collectives.py`` the collectives.
"""
from __future__ import annotations

import os

from ._group import (  # noqa: F401
    Backend, ReduceOp, ProcessGroup, GroupMember, group, init_process_group,
    destroy_process_group, is_initialized, get_rank, get_world_size, get_backend, new_group,
    get_process_group_ranks, get_global_rank, get_group_rank)
from ._collectives import (  # noqa: F401
    Work, all_reduce, reduce, broadcast, all_gather, all_gather_into_tensor, reduce_scatter,
    reduce_scatter_tensor, gather, scatter, all_to_all, all_to_all_single, barrier,
    monitored_barrier, all_gather_object, broadcast_object_list, gather_object,
    scatter_object_list, send, recv, isend, irecv)
from .. import backend as _backend
from . import _collectives, _group

# (default_group is the collectives' helper, not one of torch's names)
__all__ = sorted([n for n in _group.__all__ if n != "default_group"] + _collectives.__all__ + [
    "is_available", "is_gloo_available", "is_nccl_available", "is_mpi_available",
    "is_ucc_available", "is_torchelastic_launched", "get_node_local_rank"])


def is_available() -> bool:
    """True: the one-process world is always available."""
    return True


def is_gloo_available() -> bool:
    return True


def is_nccl_available() -> bool:
    """True where a GPU is usable: ``backend='nccl'`` is then accepted (one process needs no
    NCCL transport)."""
    return _backend.is_cuda_available()


def is_mpi_available() -> bool:
    return False


def is_ucc_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    """True when started by torchrun (which sets TORCHELASTIC_RUN_ID)."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def get_node_local_rank(fallback_rank=None) -> int:
    """This process's rank on its machine: torchrun's LOCAL_RANK, else ``fallback_rank``."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank to "
                       "allow `get_node_local_rank` to work, assuming you are not running in a "
                       "multi-device context and want the code to run locally instead.")
