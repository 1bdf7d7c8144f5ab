"""In-place ops: ``x += y``, ``x.add_(y)``, ``x[i] = v``, ``x.zero_()``...

Without a graph to record (no input requires grad, or inside ``no_grad``) they write straight
into the tensor's array.  With one, the op runs out of place on a snapshot of the old value
and the result is copied into the tensor, which takes the new ``grad_fn``: the graph stays
right and tensors saved earlier for backward are protected by the version counter (any later
backward that needs the overwritten value raises instead of computing a wrong gradient).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Function, is_grad_enabled, no_grad
from ..tensor import Tensor


def apply_inplace(target, function, *others, **params):
    """Run ``function`` on ``(target, *others)`` and store the result in ``target``.

    With a graph to record, three cases, as PyTorch:

    * ``target`` owns its memory: it takes the op's node as its new ``grad_fn``;
    * ``target`` is a view of ``base`` (``base[1:3]``, ``base.t()``...): the write changes
      ``base`` too, so ``base`` gets a new history, ``ViewScatter(base_before, new_view)``,
      and the view becomes ``ViewGather(base)`` of it (its "view history is rebased"): a
      gradient through ``base`` later sees the new values;
    * ``target`` is a leaf that requires grad, or a view of one: refused (the leaf's
      ``.grad`` would describe a value that no longer exists).
    """
    recording = is_grad_enabled() and (target._requires_grad or
                                       any(o._requires_grad for o in others))
    if not recording:
        with no_grad():
            result = function.apply(target, *others, **params)
        _write(target, result._array)
        target._version.value += 1
        return target
    base = _real_base(target)
    if base is not None:
        if base.grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        return _inplace_on_view(target, base, function, others, params)
    if target.grad_fn is None and target._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. (Wrap the update in `with minigrad.no_grad():`, or "
                           "write through .data.)")
    result = function.apply(_snapshot(target), *others, **params)
    _write(target, result._array)
    _take_history(target, result)
    target._version.value += 1
    return target


def _snapshot(t):
    """A copy of ``t``'s current value with ``t``'s history: the op may save its input, and
    the write below must not change what it saved."""
    snap = Tensor._wrap(t._array.copy(), t._requires_grad)
    snap.grad_fn, snap._output_nr = t.grad_fn, t._output_nr
    return snap


def _take_history(target, result):
    """``target`` becomes the op's output; a ``retain_grad()`` made before moves along with
    it (as PyTorch: ``.grad`` then holds the gradient of the new value)."""
    old = target.grad_fn
    if old is not None and old._retained and target._output_nr in old._retained:
        ref = old._retained.pop(target._output_nr)
        node = result.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[0] = ref
    target.grad_fn = result.grad_fn
    target._output_nr = 0
    target._requires_grad = True


def _real_base(t):
    """The tensor whose memory ``t`` views, or None (some "views", as a reshape that had to
    copy, share nothing)."""
    base = t._base
    if base is None or base is t:
        return None
    a, b = t._array, base._array
    if not backend.xp_of(a).may_share_memory(a, b):
        return None
    return base


def _positions(view, base):
    """Where each element of ``view`` sits in ``base`` (C order), as an int64 array shaped
    like the view: computed from the arrays' byte offsets and strides."""
    xp = backend.xp_of(base._array)
    b, v = base._array, view._array
    item = b.itemsize
    if not b.flags.c_contiguous:
        raise RuntimeError("minigrad records in-place writes into views of contiguous tensors "
                           "only; call .contiguous() on the base first")
    pos = xp.asarray((view.data_ptr() - base.data_ptr()) // item, dtype=xp.int64)
    for axis, (n, stride) in enumerate(zip(v.shape, v.strides)):
        shape = [1] * v.ndim
        shape[axis] = n
        pos = pos + (xp.arange(n, dtype=xp.int64) * (stride // item)).reshape(shape)
    return xp.broadcast_to(pos, v.shape).copy()


def _inplace_on_view(view, base, function, others, params):
    index = _positions(view, base)
    if base._requires_grad:
        current = ViewGather.apply(base, index=index)      # the view, as a function of base
    else:
        current = Tensor._wrap(view._array.copy())
    result = function.apply(current, *others, **params)
    if result._array.shape != view._array.shape or not result._requires_grad:
        _write(view, result._array)
        view._version.value += 1
        return view
    new_base = ViewScatter.apply(_snapshot(base), result, index=index)
    _write(view, result._array)                           # the real write, through the view
    base.grad_fn, base._output_nr, base._requires_grad = new_base.grad_fn, 0, True
    rebased = ViewGather.apply(base, index=index)
    _take_history(view, rebased)
    view._version.value += 1
    return view


class ViewGather(Function):
    """A view's elements read out of its base: ``base.reshape(-1)[index]`` (index: the
    view's positions in the base). Backward: ``ViewScatter`` of the gradient into zeros."""
    first_order_only = False

    def forward(self, base, *, index):
        self.shape, self.index = base.shape, index
        return base.reshape(-1)[index]

    def backward(self, g):
        zeros = Tensor._wrap(backend.xp_of(g._array).zeros(self.shape, dtype=g._array.dtype))
        return ViewScatter.apply(zeros, g, index=self.index)


class ViewScatter(Function):
    """``base`` with the view's elements replaced by ``value`` (out of place). Backward: the
    base gets the gradient except where it was overwritten; the value gets the gradient read
    at the view's positions (``ViewGather``)."""
    first_order_only = False

    @classmethod
    def name(cls):
        return "CopySlices"                  # PyTorch's name for a write through a view

    def forward(self, base, value, *, index):
        self.index = index
        out = base.copy()
        out.reshape(-1)[index] = value
        return out

    def backward(self, g):
        gb = gv = None
        if self.needs_input_grad[0]:
            keep = backend.xp_of(g._array).ones(g._array.shape, dtype=g._array.dtype)
            keep.reshape(-1)[self.index] = 0
            gb = g * Tensor._wrap(keep)
        if self.needs_input_grad[1]:
            gv = ViewGather.apply(g, index=self.index)
        return gb, gv


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
