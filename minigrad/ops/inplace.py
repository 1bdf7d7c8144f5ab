"""In-place ops: ``x += y``, ``x.add_(y)``, ``x.zero_()``, ``x.copy_(y)``, ``x.resize_(...)``.

Each runs its out-of-place op through ``writes.apply_inplace``, which records the write in
the graph (and rebases a view's base) when gradients are needed.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from . import elementwise
from .elementwise import Add, Clamp, Div, Mul, Pow, Relu, Sub
from .indexing import setitem
from .movement import to_device
from .writes import apply_inplace, can_cast_inplace, kind_name


# Tensor-level in-place functions -----------------------------------------------------------------
def _binary_inplace(function, target, other, name):
    if not isinstance(other, Tensor):
        other = elementwise._scalar_or_tensor(other, target, name)
    elementwise.broadcast_shape(target._array.shape, other._array.shape, name)
    out_shape = elementwise.broadcast_shape(target._array.shape, other._array.shape, name)
    if tuple(out_shape) != tuple(target._array.shape):
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the broadcast "
                           f"shape {list(out_shape)}")
    dtype = elementwise.dtypes.result_type(target._array, other._array)
    if name == "div_" and dtype.kind in "biu":
        dtype = elementwise.dtypes.default_float().np
    if not can_cast_inplace(dtype, target._array.dtype):
        raise RuntimeError(f"result type {kind_name(dtype)} can't be cast to the desired output type "
                           f"{kind_name(target._array.dtype)}")
    other = elementwise.cast(other, target._array.dtype)
    return apply_inplace(target, function, other)


def add_(t, other, alpha=1):
    return _binary_inplace(Add, t, other if alpha == 1 else other * alpha, "add_")


def sub_(t, other, alpha=1):
    return _binary_inplace(Sub, t, other if alpha == 1 else other * alpha, "sub_")


def mul_(t, other):
    return _binary_inplace(Mul, t, other, "mul_")


def div_(t, other):
    return _binary_inplace(Div, t, other, "div_")


def pow_(t, other):
    return _binary_inplace(Pow, t, other, "pow_")


def clamp_(t, min=None, max=None):
    return apply_inplace(t, Clamp, min=min, max=max)


def relu_(t):
    return apply_inplace(t, Relu)


def fill_(t, value):
    if isinstance(value, Tensor) and value.ndim != 0:
        # setitem would broadcast a [1] or [3] value; PyTorch takes a number or a 0-d tensor
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions (shape {list(value.shape)}).")
    return setitem(t, Ellipsis, value)


def zero_(t):
    return fill_(t, 0)


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``."""
    if isinstance(src, Tensor) and src.device != t.device:
        src = to_device(src, t.device)
    return setitem(t, Ellipsis, src)


def resize_(t, *sizes, memory_format=None):
    """Give ``t`` the shape ``sizes`` in place, as ``torch.Tensor.resize_`` (seed 001's
    ``img = x_train[0] / 255; img.resize_(28, 28)`` turns a 784-vector into a 28x28 image).

    Same number of elements: a contiguous tensor keeps its memory (views of it still see the
    writes).  Fewer: the first elements are kept.  More: the new elements are zeros (PyTorch
    leaves them uninitialised).  A non-contiguous tensor is read in row-major order (PyTorch
    reads its storage order).  Tensors that require grad cannot be resized, as in PyTorch.
    """
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    if t.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    n = 1
    for s in sizes:
        n *= s
    a = t._array
    if n == a.size and a.flags.c_contiguous:
        t._array = a.reshape(sizes)
    else:
        xp = backend.xp_of(a)
        flat = xp.zeros(n, dtype=a.dtype)
        keep = min(n, a.size)
        flat[:keep] = a.reshape(-1)[:keep]
        t._array = flat.reshape(sizes)
    t._version.value += 1
    return t
