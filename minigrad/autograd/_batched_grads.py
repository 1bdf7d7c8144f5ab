"""``autograd.grad(..., is_grads_batched=True)``: one backward pass per entry of the batch of
upstream gradients, the results stacked along a new dim 0 (the engine's ``grad`` hands
itself in, so this module needs nothing of the engine's)."""
from __future__ import annotations

from .. import backend
from ..tensor import Size, Tensor
from ._backward_args import GradientEdge, _as_list
from ._batch_layout import in_batch_layout
from .grad_mode import set_grad_enabled

__all__ = ["batched_grad"]


def batched_grad(grad, outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                 materialize_grads):
    """``grad`` with ``is_grads_batched=True``: dim 0 of every grad_output indexes a batch of
    vectors; the result for each input stacks their vector-Jacobian products along a new
    dim 0. One backward per batch entry (the graph kept until the last), each a call of
    ``grad``, the engine's ``autograd.grad``."""
    outputs = _as_list(outputs)
    batched = _as_list(grad_outputs, len(outputs))
    sizes = []
    for i, (out, g) in enumerate(zip(outputs, batched)):
        if not isinstance(g, Tensor):
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        if g.dim() == 0:
            # (PyTorch takes entry 0 of the batch before it compares shapes)
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python "
                             "or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        if g.shape[0] == 0:
            raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
        if tuple(g.shape[1:]) != tuple(out.shape):
            # (PyTorch's words name the shape of one batch entry's slice, without its dim 0)
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions are "
                "expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of {Size(g.shape[2:])} and "
                f"output[{i}] has a shape of {out.shape}. If you only want some tensors in "
                "`grad_output` to be considered batched, consider using vmap.")
        sizes.append(int(g.shape[0]))
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    inputs = _as_list([inputs] if isinstance(inputs, GradientEdge) else inputs)
    count = sizes[0]
    if retain_graph is None:
        retain_graph = create_graph
    rows = []
    for b in range(count):
        keep = bool(retain_graph) or b < count - 1
        rows.append(grad(outputs, inputs, [g[b] for g in batched], retain_graph=keep,
                         create_graph=create_graph, allow_unused=True))
    result = []
    for j, x in enumerate(inputs):
        found = [row[j] for row in rows]
        if not found or found[0] is None:
            if materialize_grads:
                zero = Tensor._wrap(backend.xp_of(x._array).zeros_like(x._array))
                result.append(zero.requires_grad_(bool(create_graph)))
            elif not allow_unused and found:
                raise RuntimeError(f"The differentiated Tensor at index {j} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is "
                                   "the desired behavior.")
            else:
                result.append(None if found else Tensor._wrap(backend.xp_of(x._array).zeros(
                    (0,) + tuple(x._array.shape), dtype=x._array.dtype)))
            continue
        first = found[0]._array
        stacked = Tensor._wrap(backend.xp_of(first).zeros((count,) + first.shape,
                                                          dtype=first.dtype))
        with set_grad_enabled(bool(create_graph)):
            for b, g in enumerate(found):
                stacked[b] = g          # recorded (a differentiable copy) with create_graph
            # PyTorch's one batched pass: the batch dim outermost, each entry laid out as one
            # pass lays it out
            result.append(in_batch_layout(stacked, first))
    return tuple(result)
