"""The process group of ``minigrad.distributed``: a world of one process.

minigrad has no transport between processes (no gloo, no NCCL), so the one group it can form
honestly is the one every training script forms when it runs alone: rank 0 of a world of size
1.  ``init_process_group`` reads the world as PyTorch does (its arguments, the ``init_method``
URL, or the ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` variables that torchrun
sets), and refuses a larger world; the address is not contacted, since nobody else is coming.
"""
from __future__ import annotations

import enum
import os
import urllib.parse

from .. import backend as _backend

__all__ = ["Backend", "ReduceOp", "ProcessGroup", "GroupMember", "group", "init_process_group",
           "destroy_process_group", "is_initialized", "get_rank", "get_world_size",
           "get_backend", "new_group", "get_process_group_ranks", "get_global_rank",
           "get_group_rank", "default_group"]

NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                   "init_process_group.")


class Backend(str):
    """A backend's name, a ``str`` ('gloo', 'nccl'): ``Backend('GLOO') == 'gloo'``."""
    UNDEFINED, GLOO, NCCL, UCC, MPI = "undefined", "gloo", "nccl", "ucc", "mpi"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name).__name__}")
        return super().__new__(cls, name.lower())


class ReduceOp:
    """How a reducing collective combines the ranks' tensors: ``ReduceOp.SUM`` and the rest
    (members of ``ReduceOp.RedOpType``, numbered as PyTorch numbers them)."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8

    def __init__(self, op):
        self.op = ReduceOp.RedOpType(op)

    def __eq__(self, other):
        return self.op == (other.op if isinstance(other, ReduceOp) else other)

    def __hash__(self):
        return hash(self.op)

    def __repr__(self):
        return repr(self.op)


for _member in ReduceOp.RedOpType:
    setattr(ReduceOp, _member.name, _member)
del _member


class ProcessGroup:
    """A group of ranks: always the one rank 0 here."""

    def __init__(self, backend_name: str, group_name: str = ""):
        self._backend_name, self.group_name = Backend(backend_name), group_name

    def rank(self) -> int:
        return 0

    def size(self) -> int:
        return 1

    def name(self) -> str:
        return self._backend_name

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend_name!r}, rank=0, size=1)"


class GroupMember:
    """``GroupMember.WORLD`` (also ``group.WORLD``): the default group, None before
    ``init_process_group``."""
    WORLD = None
    NON_GROUP_MEMBER = -100


group = GroupMember


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def default_group(group=None) -> ProcessGroup:
    """``group``, or the default group; PyTorch's ValueError when there is none."""
    if GroupMember.WORLD is None:
        raise ValueError(NOT_INITIALIZED)
    return GroupMember.WORLD if group is None else group


def _backend_name(name):
    """The backend to record: gloo always; nccl only where a GPU is usable (a one-process world
    needs no NCCL transport, but asks for the GPU); PyTorch's refusals otherwise."""
    name = Backend(name or Backend.GLOO)
    if name == Backend.NCCL and not _backend.is_cuda_available():
        raise RuntimeError("Distributed package doesn't have NCCL built in")
    if name in (Backend.MPI, Backend.UCC):
        raise RuntimeError(f"Distributed package doesn't have {name.upper()} built in: "
                           "minigrad's one-process world uses gloo (or nccl with a GPU)")
    if name not in (Backend.GLOO, Backend.NCCL):
        raise AssertionError(f"Unknown backend type {name}")
    return name


def _world_from(init_method, world_size, rank, store):
    """(rank, world_size) as PyTorch's rendezvous reads them."""
    if store is not None:
        if init_method is not None:
            raise ValueError("Cannot specify both init_method and store.")
        scheme, query = "store", {}
    else:
        url = urllib.parse.urlparse(init_method or "env://")
        scheme, query = url.scheme, dict(urllib.parse.parse_qsl(url.query))
        if scheme not in ("env", "tcp", "file"):
            raise RuntimeError(f"No rendezvous handler for {scheme}://")
    rank = int(query.get("rank", rank))
    world_size = int(query.get("world_size", world_size))
    if scheme == "env":
        def env(name):
            if name not in os.environ:
                raise ValueError("Error initializing torch.distributed using env:// rendezvous: "
                                 f"environment variable {name} expected, but not set")
            return os.environ[name]
        rank = int(env("RANK")) if rank == -1 else rank
        world_size = int(env("WORLD_SIZE")) if world_size == -1 else world_size
        env("MASTER_ADDR")
        env("MASTER_PORT")
    else:
        where = f"using {scheme}:// rendezvous" if scheme != "store" else "with a store"
        if rank == -1:
            raise ValueError(f"Error initializing torch.distributed {where}: rank parameter "
                             "missing")
        if world_size == -1:
            raise ValueError(f"Error initializing torch.distributed {where}: world size "
                             "parameter missing")
    return rank, world_size


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Form the default group: a world of one process (``world_size`` 1, ``rank`` 0)."""
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = _backend_name(backend)
    rank, world_size = _world_from(init_method, world_size, rank, store)
    if world_size != 1 or rank != 0:
        raise RuntimeError(
            f"minigrad runs one process: init_process_group needs world_size 1 and rank 0, got "
            f"world_size {world_size} and rank {rank} (minigrad has no transport between "
            "processes; run the script once, without torchrun's --nproc-per-node > 1)")
    GroupMember.WORLD = ProcessGroup(name, group_name)


def destroy_process_group(group=None) -> None:
    if GroupMember.WORLD is None:
        raise AssertionError("Process group cannot be None")
    if group is None or group is GroupMember.WORLD:
        GroupMember.WORLD = None


def get_rank(group=None) -> int:
    return default_group(group).rank()


def get_world_size(group=None) -> int:
    return default_group(group).size()


def get_backend(group=None) -> Backend:
    return default_group(group).name()


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None,
              sort_ranks=True) -> ProcessGroup:
    """A group of ``ranks`` (a subset of the world's one rank)."""
    world = default_group()
    if ranks is not None and any(r != 0 for r in ranks):
        raise ValueError(f"new_group: minigrad's world has the one rank 0, got ranks "
                         f"{list(ranks)}")
    return ProcessGroup(_backend_name(backend) if backend else world.name(), group_desc or "")


def get_process_group_ranks(group) -> list:
    default_group(group)
    return [0]


def get_global_rank(group, group_rank: int) -> int:
    default_group(group)
    if group_rank != 0:
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return 0


def get_group_rank(group, global_rank: int) -> int:
    default_group(group)
    if global_rank != 0:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return 0
