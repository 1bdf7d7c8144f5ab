"""What ``backward`` and ``autograd.grad`` were given, checked and put in the engine's form.

* ``GradientEdge`` (``torch.autograd.graph.GradientEdge``): a place in the graph, taken in
  place of a tensor as an input, and ``_edge_targets``, which turns each into a tensor the
  engine can target;
* ``_as_list``: one tensor or any iterable of them as a list (gradients paired with outputs);
* ``_check_input``, ``_make_grads``: the inputs and the output gradients checked, with
  PyTorch's errors in its words (and 1 made for a scalar output given no gradient).

Separate from ``engine.py``: none of it runs during a pass; it is the argument handling that
precedes one, and its errors are the ones users meet first.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import backend
from .._grad_dtype import _CHOSEN, NOT_CHOSEN, chosen_grad_dtype
from ..tensor import Size, Tensor
from ._accumulate_grad import AccumulateGrad


class GradientEdge(NamedTuple):
    """A place in the graph a gradient flows into: output ``output_nr`` of ``node`` (for a
    leaf, its AccumulateGrad node and 0). ``autograd.grad`` and ``backward(inputs=)`` take it
    in place of a tensor (``graph.get_gradient_edge(t)`` makes one)."""
    node: Any
    output_nr: int
    ownership_token: Any = None


def _edge_targets(inputs):
    """``inputs`` (a list) with each GradientEdge replaced by a tensor the engine can target:
    the leaf of an AccumulateGrad node, else a stand-in with the node as its grad_fn."""
    out = []
    for t in inputs:
        if isinstance(t, GradientEdge):
            node = t.node
            if isinstance(node, AccumulateGrad):
                t = node.variable
            else:
                shape, dtype = node._out_meta[t.output_nr]
                stand_in = Tensor._wrap(np.broadcast_to(np.zeros((), dtype), shape), True)
                stand_in.grad_fn, stand_in._output_nr = node, t.output_nr
                t = stand_in
        out.append(t)
    return out


def _as_list(value, n=None):
    if value is None:
        return [None] * (n or 0) if n is not None else []
    # one tensor, or any iterable of them (a generator, ``dict.values()``); anything else is
    # refused by ``list`` as not iterable, as PyTorch's ``tuple`` refuses it
    value = [value] if isinstance(value, Tensor) else list(value)
    if n is not None and len(value) != n:
        if len(value) > n:          # PyTorch pairs them up and drops the extra gradients
            return value[:n]
        raise RuntimeError(f"got {n} tensors and {len(value)} gradients (grad_tensors/"
                           f"grad_outputs needs one entry per tensor to differentiate)")
    return value


def _check_input(t, caller="grad"):
    if not isinstance(t, Tensor):
        raise RuntimeError(f"all inputs have to be Tensors or GradientEdges, but got "
                           f"{type(t).__name__}")
    if not t.requires_grad:
        if caller == "backward":     # backward(inputs=...) keeps their gradients: refused so
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        raise RuntimeError("One of the differentiated Tensors does not require grad")


def _make_grads(outputs, grads, create_graph):
    """Check each output against its gradient (PyTorch's errors); default 1 for scalars."""
    made = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not isinstance(out, Tensor):
            raise AssertionError("Expected output to be a torch.Tensor")    # PyTorch's words
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        if g is None:
            if out._array.dtype.kind == "c":
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out.dtype}")
            if out._array.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs "
                                   f"(this tensor has shape {tuple(out.shape)}; pass "
                                   "gradient=... of that shape)")
            a = out._array
            # (a 0-d loss, the usual case: numpy's ones_like and ones are Python around
            # empty and copyto, 1 us of a small backward)
            g = Tensor._wrap(np.array(1.0, a.dtype) if type(a) is np.ndarray and not a.ndim
                             and a.dtype.kind == "f" else backend.xp_of(a).ones_like(a))
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"gradients can be either Tensors or None, but got "
                                f"{type(g).__name__}")
            if tuple(g._array.shape) != tuple(out._array.shape):
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                                   f"{Size(g._array.shape)} and output[{i}] has a shape of "
                                   f"{out.shape}.")
            if backend.device_of(g._array) != out.device:
                raise RuntimeError(f"gradient is on {backend.device_of(g._array)} but the tensor "
                                   f"is on {out.device}")
            if g._array.dtype != out._array.dtype and not (
                    _CHOSEN and out.grad_fn is None and chosen_grad_dtype(out) is not NOT_CHOSEN):
                # any real gradient is cast to the output's dtype (integer and bool included;
                # a leaf with a grad_dtype of its own casts it to that one when it delivers it)
                if (g._array.dtype.kind == "c") != (out._array.dtype.kind == "c"):
                    raise RuntimeError(
                        "For complex Tensors, both grad_output and output are required to have "
                        f"the same dtype. Mismatch in dtype: grad_output[{i}] has a dtype of "
                        f"{g.dtype} and output[{i}] has a dtype of {out.dtype}.")
                g = g.to(out.dtype) if create_graph else Tensor._wrap(
                    g._array.astype(out._array.dtype))
        made.append(g)
    return made
