"""How an in-place write is recorded in the graph: ``apply_inplace`` (used by ``x += y``,
``x.mul_(2)``, ``x[i] = v``, ``x.copy_(y)``...) and the two Functions that rebase a view's
history onto its base (``ViewScatter``, ``ViewGather``).

Without a graph to record (no input requires grad, or inside ``no_grad``) a write goes
straight into the tensor's array.  With one, the op runs out of place on a snapshot of the old
value and the result is copied into the tensor's memory, which takes the new ``grad_fn``;
tensors saved earlier for backward are protected by the version counter (a later backward
that needs the overwritten value raises instead of computing a wrong gradient).  The memory
overlap checks of a write are in ``write_overlap.py``.
"""
from __future__ import annotations

import re

import numpy as np

from .. import backend
from .._meta import MetaArray
from ..autograd import Function, is_grad_enabled, no_grad
from ..autograd import function as _function
from ..autograd._shown_edges import copy_slices_edges
from ..autograd._view_tracking import INFERENCE_VIEW, NO_GRAD_VIEW, VIEW_OF_REFUSED
from .._checked_view import check_history, node_words as _node_words
from ..tensor import Tensor
from ._util import scalar_type_name
from .plumbing import ViewAsComplex, ViewAsReal
from .write_overlap import check_partial_overlap, overlaps_itself
from ._overlap_order import copy_order, shares_within, write_in_turns

__all__ = ["apply_inplace", "ViewGather", "ViewScatter", "can_cast_inplace", "kind_name"]


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
    if not getattr(function, "overlap_checked", False):     # (a composite op is no Function)
        check_partial_overlap(target._array, others)
    grad_on = is_grad_enabled()
    recording = grad_on and (target._requires_grad or any(o._requires_grad for o in others))
    if not recording:
        if grad_on and target.__dict__.get("_view_meta") in _MADE_WITHOUT_GRAD and \
                target._base is not None and target._base._requires_grad:
            check_view_meta(target)         # a no_grad view of a tensor that requires grad
        with no_grad():
            result = function.apply(target, *others, **params)
        _write(target, result._array, (function, target, others, params))
        target._vcounter.value += 1
        return target
    refusal = target.__dict__.get("_inplace_refusal")
    if refusal is not None:                 # an output of a custom Function that is a view
        raise RuntimeError(refusal)
    check_view_meta(target)
    base = _real_base(target)
    if base is None and not target._array.size and target._base is not None and \
            target._base is not target:
        base = target._base         # (an empty view shares no memory, but is a view still)
        if base.grad_fn is None and (base._requires_grad or target._requires_grad):
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        base = None
    if base is not None:
        # as PyTorch: refused when the base is a leaf and it or the view requires grad (a
        # view of a plain tensor made a leaf that requires grad: ``a.view(2, 3)
        # .requires_grad_()``, and the views of that)
        if base.grad_fn is None and (base._requires_grad or target._requires_grad):
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        return _inplace_on_view(target, base, function, others, params)
    if target.grad_fn is None and target._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation. (Wrap the update in `with minigrad.no_grad():`, or "
                           "write through .data.)")
    # the op runs on a copy of the old value when it may keep its input: the write below
    # would change what it kept
    source = _snapshot(target) if getattr(function, "keeps_input", True) else target
    result = function.apply(source, *others, **params)
    _write(target, result._array)
    _take_history(target, result)
    target._vcounter.value += 1
    if result.grad_fn is not None and not result.grad_fn._ctx_style:
        result.grad_fn._adopt_output(result._array, target)     # the result's copy is freed
    _rebase_views(target, target)
    return target


_SEVERAL = ("This view is the output of a function that returns multiple views. Such functions "
            "do not allow the output views to be modified inplace. You should replace the "
            "inplace operation by an out-of-place one.")


_MADE_WITHOUT_GRAD = (NO_GRAD_VIEW, INFERENCE_VIEW)
_DIRECT = {
    NO_GRAD_VIEW: (" was created in no_grad mode and is being modified inplace with grad mode "
                   "enabled.", "no_grad"),
    INFERENCE_VIEW: (" was created in inference mode and is being modified inplace in normal "
                     "mode.", "inference_mode"),
}


def _direct_message(kind, head):
    words, block = _DIRECT[kind]
    return (head + words + " Given that this use case is ambiguous and error-prone, it is "
            "forbidden. You can clarify your code by moving both the view and the inplace "
            f"either both inside the {block} block (if you don't want the inplace to be "
            "tracked) or both outside (if you want the inplace to be tracked).")


def check_view_meta(target):
    """Refuse a recorded in-place write into a view marked when it was made (as PyTorch's
    view creation meta): one made under no_grad or inference_mode, one of the views an op
    returned together (split, chunk, unbind), or a view of any of these."""
    attrs = target.__dict__
    meta = attrs.get("_view_meta")
    if meta is None:
        return
    if meta == INFERENCE_VIEW:
        raise RuntimeError(_direct_message(INFERENCE_VIEW, "A view"))
    origin = attrs.get("_nograd_origin")
    if origin is not None and meta == VIEW_OF_REFUSED:
        raise RuntimeError(_direct_message(origin, _node_words(target) +
                                           " is a view of a view which"))
    if meta == NO_GRAD_VIEW or target.grad_fn is None:
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. " + (
                "Given that this use case is ambiguous and error-prone, it is forbidden. You "
                "can clarify your code by moving both the view and the inplace either both "
                "inside the no_grad block (if you don't want the inplace to be tracked) or both "
                "outside (if you want the inplace to be tracked)." if meta == NO_GRAD_VIEW
                else _SEVERAL))
    if meta == VIEW_OF_REFUSED:
        name, nr = target.grad_fn.name(), target._output_nr
        name = re.sub(r"Backward\d*$", "", name)
    else:
        name, nr = meta
    raise RuntimeError(f"Output {nr} of {name} is a view and is being modified inplace. "
                       + _SEVERAL)


def overwrite_with(target, fn, *args):
    """``target`` overwritten with ``fn(target, *args)`` (an op built from minigrad ops whose
    result has target's shape and dtype), by ``apply_inplace``: the ``inplace=True`` form of
    an activation.  Returns ``target``."""
    return apply_inplace(target, _Call(fn, args))


class _Call:
    """``fn(x, *args)`` in the shape ``apply_inplace`` calls: ``.apply(x)``."""
    __slots__ = ("fn", "args")

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def apply(self, x):
        return self.fn(x, *self.args)


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
    offsets = _offsets(xp, v, (backend.data_address(v) - backend.data_address(b)) // item)
    if b.flags.c_contiguous:              # a memory offset is a C-order position
        return offsets
    # any other layout (a transposed or sliced base, as x.t() * 1 is): each memory offset
    # of the base is looked up as the C-order position of the element stored there
    if any(s < 0 for s in b.strides) or any(s < 0 for s in v.strides):
        raise RuntimeError("minigrad records in-place writes into views of tensors with "
                           "non-negative strides only; call .contiguous() on the base first")
    base_offsets = _offsets(xp, b, 0)
    where = xp.full(int(base_offsets.max()) + 1 if b.size else 0, -1, dtype=xp.int64)
    where[base_offsets] = xp.arange(b.size, dtype=xp.int64).reshape(b.shape)
    return where[offsets]


def _offsets(xp, a, start):
    """The memory offset (in elements) of each element of ``a``, from ``start``."""
    item = a.itemsize
    pos = xp.asarray(start, dtype=xp.int64)
    for axis, (n, stride) in enumerate(zip(a.shape, a.strides)):
        shape = [1] * a.ndim
        shape[axis] = n
        pos = pos + (xp.arange(n, dtype=xp.int64) * (stride // item)).reshape(shape)
    return xp.broadcast_to(pos, a.shape).copy()


def _inplace_on_view(view, base, function, others, params):
    # a real view of a complex base (its real or imag part, view_as_real) is a view of the
    # base's (real, imag) pairs: positions and history are taken there
    pairs = base._array.dtype.kind == "c" and view._array.dtype.kind != "c"
    source = ViewAsReal.apply(base) if pairs else base
    index = _positions(view, source)
    if base._requires_grad:
        # the view, as a function of base; for a view whose elements share memory, as
        # PyTorch's CopySlices: the op's gradient is copied back into the base's gradient at
        # the view's positions (the last visit's stays), not added up
        current = ViewGather.apply(source, index=index, order=copy_order(view._array))
    else:
        current = Tensor._wrap(view._array.copy())
    result = function.apply(current, *others, **params)
    call = (function, view, others, params)     # (to write an overlapping view visit by visit)
    if result._array.shape != view._array.shape or not result._requires_grad:
        _write(view, result._array, call)
        view._vcounter.value += 1
        return view
    new_base = ViewScatter.apply(_snapshot(source), result, index=index)
    op, read = result.grad_fn, current.grad_fn
    if not pairs and read is not None and isinstance(op, Function) and not op._ctx_style and \
            op.next_functions_[0] == (read, 0):
        new_base.grad_fn._op_node = op      # the op on the view, shown inside (_shown_edges)
    if pairs:
        new_base = ViewAsComplex.apply(new_base)
    _write(view, result._array, call)                     # the real write, through the view
    _take_history(base, new_base)      # (a retain_grad() of base moves along)
    rebased = ViewGather.apply(ViewAsReal.apply(base) if pairs else base, index=index,
                               repeats=overlaps_itself(view._array))
    _take_history(view, rebased)
    view._vcounter.value += 1
    if result.grad_fn is not None and not result.grad_fn._ctx_style:
        # an op that keeps its output (exp_, sigmoid_) keeps the view's memory, which a
        # later write into the base or another of its views changes: checked by version
        result.grad_fn._adopt_output(result._array, view)
    _rebase_views(base, view)
    return view


def rebase_dirty_view(view):
    """A custom Function's output ``view``, written in place by its forward (``mark_dirty``)
    and already carrying the Function's node, when it is a view of another tensor: that
    tensor's history takes the write, as after a recorded in-place op on a view
    (``_inplace_on_view``), so a gradient through the base reaches the Function."""
    base = _real_base(view)
    if base is None or view._array.dtype != base._array.dtype:
        return
    if base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    try:
        index = _positions(view, base)
    except RuntimeError:        # a layout whose positions are not computed: left as it is
        return
    written = Tensor._wrap(view._array, True)       # the Function's output, as written
    written.grad_fn, written._output_nr = view.grad_fn, view._output_nr
    new_base = ViewScatter.apply(_snapshot(base), written, index=index)
    _take_history(base, new_base)      # (a retain_grad() of base moves along)
    _take_history(view, ViewGather.apply(base, index=index,
                                         repeats=overlaps_itself(view._array)))
    _rebase_views(base, view)


# custom Functions (autograd/function.py, which may not import ops) reach it through this
_function.dirty_view_rebase = rebase_dirty_view


def _rebase_views(base, written):
    """After a recorded write into ``base``'s memory (through ``base`` itself or its view
    ``written``), every other live view of ``base`` made in grad mode reads its elements anew
    from ``base``'s new history: ``b = y[1:]; y.mul_(3); b.sum().backward()`` sends the
    gradient through the multiplication, as PyTorch does when it regenerates a view's
    ``grad_fn`` after its base changed.  Views of a non-contiguous base, whose positions are
    not computed, keep their history."""
    views = base.__dict__.get("_views")
    if not views or not base._requires_grad:
        return
    for other in list(views):
        if other is written:
            continue
        attrs = other.__dict__
        meta = attrs.get("_view_meta")
        if meta is not None:
            # a view that may not be written in place itself (one of the views split or
            # unbind returned, or a view taken in grad mode of one of those or of a view made
            # with grad mode off): as PyTorch, its history may no longer be read
            # (``_checked_view.check_history``; one checked since it was made sees the write
            # by its version)
            if "_made_at" in attrs:
                continue
            if meta != VIEW_OF_REFUSED:
                check_history(other, -1, "several", f"Output {meta[1]} of {meta[0]}")
                continue
            if other.grad_fn is not None:
                check_history(other, -1, "several", _node_words(other))
                continue
        if other._array.dtype != base._array.dtype or _real_base(other) is not base:
            continue
        try:
            index = _positions(other, base)
        except RuntimeError:
            continue
        _take_history(other, ViewGather.apply(base, index=index,
                                              repeats=overlaps_itself(other._array)))


class ViewGather(Function):
    """A view's elements read out of its base: ``base.reshape(-1)[index]`` (index: the
    view's positions in the base). Backward: ``ViewScatter`` of the gradient into zeros, or,
    when positions repeat (``repeats``: overlapping windows), ``ViewAdd``: they add up."""
    complex_ok = True             # linear, real coefficients: right as written
    # PyTorch regenerates such a view's history as an as_strided of the base
    _node_name = "AsStridedBackward0"

    def forward(self, base, *, index, repeats=False, order=None):
        self.shape, self.index, self.repeats, self.order = base.shape, index, repeats, order
        return base.reshape(-1)[index]

    def backward(self, g):
        if self.repeats:
            return ViewAdd.apply(g, shape=self.shape, index=self.index)
        zeros = Tensor._wrap(backend.xp_of(g._array).zeros(self.shape, dtype=g._array.dtype))
        return ViewScatter.apply(zeros, g, index=self.index, order=self.order)


class ViewAdd(Function):
    """Zeros of ``shape`` with ``value`` added at the positions ``index`` (repeats add up):
    the gradient of reading an overlapping view. Backward: ``ViewGather``."""
    complex_ok = True

    def forward(self, value, *, shape, index):
        self.index = index
        out = backend.xp_of(value).zeros(shape, dtype=value.dtype)
        backend.index_add(out.reshape(-1), index.reshape(-1), value.reshape(-1))
        return out

    def backward(self, g):
        return ViewGather.apply(g, index=self.index, repeats=True)


class ViewScatter(Function):
    """``base`` with the view's elements replaced by ``value`` (out of place). Backward: the
    base gets the gradient except where it was overwritten; the value gets the gradient read
    at the view's positions (``ViewGather``)."""
    complex_ok = True             # linear, real coefficients: right as written

    _node_name = "torch::autograd::CopySlices"     # PyTorch's name for a write through a view
    next_functions = copy_slices_edges           # (PyTorch's, with the in-place op inside)

    def forward(self, base, value, *, index, order=None):
        self.index = index
        out = base.copy()
        if order is not None and value.ndim == index.ndim:
            # positions repeat: written in PyTorch's order (``order``: the dims, outermost
            # first), the last write of a position staying
            index, value = (v.transpose(order).reshape(-1) for v in (index, value))
        out.reshape(-1)[index] = value
        return out

    def backward(self, g):
        gb = gv = None
        if self.needs_input_grad[0]:
            # 0 written over the overwritten elements (not g * mask, which leaves NaN * 0 =
            # NaN there); itself a ViewScatter, so it can be differentiated again
            zero = Tensor._wrap(backend.xp_of(g._array).zeros((), dtype=g._array.dtype))
            gb = ViewScatter.apply(g, zero, index=self.index)
        if self.needs_input_grad[1]:
            gv = ViewGather.apply(g, index=self.index)
        return gb, gv


def refuse_write(dst):
    """PyTorch's refusal of an in-place write into the array ``dst`` that cannot take it:
    elements that share memory (an expanded view, which numpy may even mark writeable), or
    else memory that is a read-only NumPy buffer (from_numpy of a non-writable array,
    np.frombuffer of bytes), which numpy will not write. A meta array takes the write
    (there is nothing to write into: nothing happens)."""
    if isinstance(dst, MetaArray):
        return
    if any(st == 0 and n > 1 for st, n in zip(dst.strides, dst.shape)):
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           "tensor before performing the operation.")
    raise RuntimeError("cannot write to this tensor: its memory is a read-only NumPy array "
                       "(from_numpy of a non-writable array). Please clone() the tensor before "
                       "performing the operation.")


def writable_alias(a):
    """A writeable array on the memory of the read-only array ``a`` (its shape and strides),
    or ``a`` itself when its memory is read-only.  numpy marks every view of an expanded array
    read-only, even one in which no two elements share memory (a row of ``x.expand(2, 3)``),
    which PyTorch writes through."""
    root = node = a
    while getattr(node, "base", None) is not None:     # (as_strided puts a non-array between)
        node = node.base
        if isinstance(node, np.ndarray):
            root = node
    if type(a) is not np.ndarray or not root.flags.writeable or \
            not (root.flags.c_contiguous or root.flags.f_contiguous):
        return a
    offset = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if offset % a.itemsize or root.dtype.itemsize != a.itemsize:
        return a
    # a's strides taken from its first element, found in root's memory (a 1-d view of it)
    start = root.ravel(order="K")[offset // a.itemsize:]
    return np.lib.stride_tricks.as_strided(start, a.shape, a.strides, writeable=True)


def _write(target, array, call=None):
    """Copy ``array`` into ``target``'s memory (it may be a view shared with other tensors).
    ``call``: ``(function, target, others, params)``, the op that computed ``array`` from
    memory (given by the in-place ops); a target whose elements share memory is then written
    visit by visit, as PyTorch's kernel writes it (``_overlap_order``)."""
    dst = target._array
    if array.dtype != dst.dtype and not can_cast_inplace(array.dtype, dst.dtype):
        raise RuntimeError(f"result type {kind_name(array.dtype)} can't be cast to the desired "
                           f"output type {kind_name(dst.dtype)}")
    if tuple(array.shape) != tuple(dst.shape):
        raise RuntimeError(f"output with shape {list(dst.shape)} doesn't match the broadcast "
                           f"shape {list(array.shape)}")
    if dst.size == 0:                      # nothing to write, even into an expanded view
        return
    if 0 in dst.strides and any(st == 0 and n > 1 for st, n in zip(dst.strides, dst.shape)):
        refuse_write(dst)      # an expanded view (or from_numpy of an array with a 0 stride)
    if not dst.flags.writeable:
        dst = writable_alias(dst)
        if not dst.flags.writeable:
            refuse_write(dst)
    if call is not None and shares_within(dst):
        _write_in_turns(dst, array, call)
        return
    dst[...] = array


def _write_in_turns(dst, array, call):
    """``_write`` into ``dst`` whose elements share memory: an address met ``k`` times is
    updated ``k`` times, each time from memory as the visits before left it."""
    function, target, others, params = call

    def again():
        with no_grad():
            return function.apply(target, *others, **params)._array

    read = others + (function.args if isinstance(function, _Call) else ())
    write_in_turns(dst, array, again, [target._array] + [
        o._array for o in read if isinstance(o, Tensor)])


def can_cast_inplace(src, dst):
    order = "bifc"  # bool < integer < floating < complex: PyTorch refuses to go down in place
    ks, kd = (k.replace("u", "i").replace("V", "f") for k in (src.kind, dst.kind))  # V: bf16
    return order.index(ks) <= order.index(kd)


def kind_name(np_dtype):
    """PyTorch's name of the dtype in its cast errors: 'Int' for int32, 'Half' for float16."""
    return scalar_type_name(np_dtype)
