"""The collectives of ``minigrad.distributed`` for a world of one rank.

With one rank each collective is exact and simple: a reduction over one tensor is that tensor
(so ``all_reduce`` leaves it as it is), a gather collects the one input, a scatter hands out the
one piece.  They still check what PyTorch checks (an initialised group, the root rank, list
lengths and sizes, the op against the dtype), write into the given tensors in place as
PyTorch's do, and never record autograd history (PyTorch's collectives are not differentiable
either).  PyTorch's object collectives send pickled objects, so what arrives is a copy; here
nothing leaves the process, and a deep copy gives the same (minigrad's package never unpickles).
"""
from __future__ import annotations

import copy

from ..autograd import no_grad
from ..ops._util import scalar_type_name
from ..tensor import Tensor
from ._group import ReduceOp, default_group

__all__ = ["Work", "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_into_tensor",
           "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter", "all_to_all",
           "all_to_all_single", "barrier", "monitored_barrier", "all_gather_object",
           "broadcast_object_list", "gather_object", "scatter_object_list", "send", "recv",
           "isend", "irecv"]

_INTEGRAL_ONLY = (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR)


class Work:
    """The handle an ``async_op=True`` collective returns; here the work is already done."""

    def __init__(self, result=()):
        self._result = list(result)

    def wait(self, timeout=None) -> bool:
        return True

    def is_completed(self) -> bool:
        return True

    def is_success(self) -> bool:
        return True

    def result(self) -> list:
        return self._result


def _done(async_op, *tensors):
    return Work(tensors) if async_op else None


def _check_tensor(tensor, param="tensor"):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type "
                        f"torch.Tensor\n             but got {type(tensor)} instead.")


def _check_root(root, what):
    if root is None:
        raise ValueError("Must specify global_rank or group_rank")
    if root != 0:
        raise RuntimeError(f"{what}: invalid root rank: {root}")


def _check_op(op, tensor):
    """The refusals a one-rank reduction still makes: bitwise ops need integers or bool, AVG
    a floating result type, PREMUL_SUM a factor."""
    op = op.op if isinstance(op, ReduceOp) else ReduceOp.RedOpType(op)
    kind = tensor._array.dtype.kind
    if op in _INTEGRAL_ONLY and kind not in "biu":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    if op == ReduceOp.AVG and kind in "biu":
        raise RuntimeError("result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(tensor._array.dtype)}")
    if op == ReduceOp.PREMUL_SUM:
        raise TypeError("ReduceOp.PREMUL_SUM needs a scaling factor, which minigrad's "
                        "collectives do not take; multiply the tensor and use ReduceOp.SUM")


def _copy(dst, src, what):
    """``dst[...] = src`` for one rank's share, with PyTorch's size check."""
    _check_tensor(dst, "tensor")
    if tuple(dst.shape) != tuple(src.shape):
        raise RuntimeError(f"{what}: invalid tensor size (expected {tuple(src.shape)}, got "
                           f"{tuple(dst.shape)})")
    if dst is not src:
        with no_grad():
            dst.copy_(src)


def _one(tensors, what, name="tensor list"):
    if len(tensors) != 1:
        raise RuntimeError(f"{what}: invalid {name} (expected length 1, got {len(tensors)})")
    return tensors[0]


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over the ranks, in place: one rank's tensor is already the result."""
    _check_tensor(tensor)
    default_group(group)
    _check_op(op, tensor)
    return _done(async_op, tensor)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    _check_tensor(tensor)
    default_group(group)
    _check_root(dst if group_dst is None else group_dst, "reduce")
    _check_op(op, tensor)
    return _done(async_op, tensor)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Send rank ``src``'s tensor to every rank: rank 0 keeps its own."""
    _check_tensor(tensor)
    default_group(group)
    _check_root(src if group_src is None else group_src, "broadcast")
    return _done(async_op, tensor)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` = rank r's ``tensor``: one entry, a copy of ``tensor``."""
    _check_tensor(tensor)
    default_group(group)
    _copy(_one(tensor_list, "all_gather", "output tensor list"), tensor, "all_gather")
    return _done(async_op, *tensor_list)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """The ranks' inputs stacked along dim 0 into ``output_tensor``: one rank's input."""
    _check_tensor(input_tensor, "input_tensor")
    default_group(group)
    _copy(output_tensor, input_tensor, "all_gather_into_tensor")
    return _done(async_op, output_tensor)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` = the reduction of every rank's ``input_list[rank]``: here the one entry."""
    _check_tensor(output, "output")
    default_group(group)
    source = _one(input_list, "reduce_scatter", "input tensor list")
    _check_op(op, source)
    _copy(output, source, "reduce_scatter")
    return _done(async_op, output)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    _check_tensor(input, "input")
    default_group(group)
    _check_op(op, input)
    _copy(output, input, "reduce_scatter_tensor")
    return _done(async_op, output)


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False, group_dst=None):
    """``gather_list[r]`` = rank r's ``tensor`` on rank ``dst`` (0 unless given)."""
    _check_tensor(tensor)
    default_group(group)
    root = dst if dst is not None else (group_dst or 0)
    _check_root(root, "gather")
    if gather_list is None:
        raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
    _copy(_one(gather_list, "gather", "gather list"), tensor, "gather")
    return _done(async_op, *gather_list)


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False, group_src=None):
    """``tensor`` = ``scatter_list[rank]`` of rank ``src`` (0 unless given)."""
    _check_tensor(tensor)
    default_group(group)
    root = src if src is not None else (group_src or 0)
    _check_root(root, "scatter")
    if scatter_list is None:
        raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
    _copy(tensor, _one(scatter_list, "scatter", "scatter list"), "scatter")
    return _done(async_op, tensor)


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    default_group(group)
    _copy(_one(output_tensor_list, "all_to_all", "output tensor list"),
          _one(input_tensor_list, "all_to_all", "input tensor list"), "all_to_all")
    return _done(async_op, *output_tensor_list)


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None,
                      group=None, async_op=False):
    _check_tensor(input, "input")
    default_group(group)
    _copy(output, input, "all_to_all_single")
    return _done(async_op, output)


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Wait for every rank: the one rank is here already."""
    default_group(group)
    return _done(async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    default_group(group)


def _copied(obj):
    return copy.deepcopy(obj)


def all_gather_object(object_list, obj, group=None):
    """``object_list[r]`` = rank r's ``obj`` (a copy, as if it had travelled)."""
    default_group(group)
    object_list[0] = _copied(obj)


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Rank ``src``'s list to every rank: rank 0 keeps its own."""
    default_group(group)
    _check_root(src if group_src is None else group_src, "broadcast_object_list")


def gather_object(obj, object_gather_list=None, dst=None, group=None, group_dst=None):
    default_group(group)
    _check_root(dst if dst is not None else (group_dst or 0), "gather_object")
    if object_gather_list is None:
        raise ValueError("Argument ``object_gather_list`` must be specified on destination "
                         "rank.")
    object_gather_list[0] = _copied(obj)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=None,
                        group=None, group_src=None):
    default_group(group)
    _check_root(src if src is not None else (group_src or 0), "scatter_object_list")
    if not scatter_object_input_list:
        raise ValueError("Expected argument scatter_object_output_list to be a list of size at "
                         "least 1.")
    scatter_object_output_list[0] = _copied(scatter_object_input_list[0])


def _no_peer(what, rank):
    raise RuntimeError(f"{what}: minigrad's world has one rank, so there is no rank {rank} to "
                       "exchange with (and a rank cannot send to itself)")


def send(tensor, dst=None, group=None, tag=0, group_dst=None):
    _check_tensor(tensor)
    default_group(group)
    _no_peer("send", dst if group_dst is None else group_dst)


def recv(tensor, src=None, group=None, tag=0, group_src=None):
    _check_tensor(tensor)
    default_group(group)
    _no_peer("recv", src if group_src is None else group_src)


isend, irecv = send, recv
