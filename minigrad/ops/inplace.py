"""In-place ops: ``x += y``, ``x.add_(y)``, ``x[i] = v``, ``x.zero_()``...

Without a graph to record (no input requires grad, or inside ``no_grad``) they write straight
into the tensor's array.  With one, the op runs out of place on a snapshot of the old value
and the result is copied into the tensor, which takes the new ``grad_fn``: the graph stays
right and tensors saved earlier for backward are protected by the version counter (any later
backward that needs the overwritten value raises instead of computing a wrong gradient).
"""
from __future__ import annotations

from ..autograd import is_grad_enabled


def apply_inplace(target, function, *others, **params):
    """Run ``function`` on ``(target, *others)`` and store the result in ``target``."""
    from ..tensor import Tensor
    recording = is_grad_enabled() and (target.requires_grad or
                                       any(o.requires_grad for o in others))
    if recording:
        if target.grad_fn is None and target.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation. (Wrap the update in `with minigrad.no_grad():`, or "
                               "write through .data.)")
        if target._base is not None and (target._base.requires_grad or target.requires_grad):
            raise RuntimeError("minigrad does not record in-place operations on a view of a "
                               "tensor that requires grad; use the out-of-place op instead")
        snapshot = Tensor._wrap(target._array.copy(), target.requires_grad)
        snapshot.grad_fn = target.grad_fn
        result = function.apply(snapshot, *others, **params)
    else:
        from ..autograd import no_grad
        with no_grad():
            result = function.apply(target, *others, **params)
    _write(target, result._array)
    if recording:
        target.grad_fn = result.grad_fn
        target._requires_grad = True
    target._version.value += 1
    return target


def _write(target, array):
    """Copy ``array`` into ``target``'s memory (it may be a view shared with other tensors)."""
    dst = target._array
    if array.dtype != dst.dtype and not _can_cast(array.dtype, dst.dtype):
        raise RuntimeError(f"result type {_name(array.dtype)} can't be cast to the desired output "
                           f"type {_name(dst.dtype)}")
    if tuple(array.shape) != tuple(dst.shape):
        raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                           f"shape {list(array.shape)}")
    if not dst.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor "
                           "refers to a single memory location (it is an expanded view). Please "
                           "clone() the tensor before performing the operation.")
    dst[...] = array


def _can_cast(src, dst):
    order = "bif"   # bool < integer < floating: PyTorch refuses to go down a category in place
    ks, kd = src.kind.replace("u", "i"), dst.kind.replace("u", "i")
    return order.index(ks) <= order.index(kd)


def _name(np_dtype):
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}.get(np_dtype.kind, str(np_dtype))


# Tensor-level in-place functions -----------------------------------------------------------------
def _binary_inplace(function, target, other, name):
    from . import elementwise
    from ..tensor import Tensor
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
    if not _can_cast(dtype, target._array.dtype):
        raise RuntimeError(f"result type {_name(dtype)} can't be cast to the desired output type "
                           f"{_name(target._array.dtype)}")
    other = elementwise.cast(other, target._array.dtype)
    return apply_inplace(target, function, other)


def add_(t, other, alpha=1):
    from .elementwise import Add
    return _binary_inplace(Add, t, other if alpha == 1 else other * alpha, "add_")


def sub_(t, other, alpha=1):
    from .elementwise import Sub
    return _binary_inplace(Sub, t, other if alpha == 1 else other * alpha, "sub_")


def mul_(t, other):
    from .elementwise import Mul
    return _binary_inplace(Mul, t, other, "mul_")


def div_(t, other):
    from .elementwise import Div
    return _binary_inplace(Div, t, other, "div_")


def pow_(t, other):
    from .elementwise import Pow
    return _binary_inplace(Pow, t, other, "pow_")


def clamp_(t, min=None, max=None):
    from .elementwise import Clamp
    return apply_inplace(t, Clamp, min=min, max=max)


def relu_(t):
    from .elementwise import Relu
    return apply_inplace(t, Relu)


def fill_(t, value):
    from .indexing import setitem
    return setitem(t, Ellipsis, value)


def zero_(t):
    return fill_(t, 0)


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``."""
    from .indexing import setitem
    from .movement import to_device
    from ..tensor import Tensor
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
    from .. import backend
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
