"""In-place ops: ``x += y``, ``x.add_(y)``, ``x.zero_()``, ``x.copy_(y)``, ``x.resize_(...)``.

Each runs its out-of-place op through ``writes.apply_inplace``, which records the write in
the graph (and rebases a view's base) when gradients are needed.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from .. import _memory_format as mf
from ..autograd import is_grad_enabled
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from . import elementwise
from .power import Pow, ScalarPow, check_integer_exponent, pow
from .elementwise import Add, Mul, Sub
from .division import Div
from .relu_clamp import Clamp, Relu, check_clamp_kind, clamp_by_tensors, clamp_numbers
from .indexing import setitem
from .movement_copies import to_device
from ._int_list_args import int_list_argument
from .plumbing import written_as_real
from .._argument_error import ArgumentError
from ._half_add import half_scaled_add_
from ._util import argument_error, cpp_type_name, ieee_errors, python_type_name
from ._expanded_writes import write_expanded
from .writes import apply_inplace, can_cast_inplace, kind_name
from .write_overlap import check_partial_overlap
from .writes import overwrite_with, refuse_write
from ._overlap_order import shares_within


# Tensor-level in-place functions -----------------------------------------------------------------
def refuse_self_overlap(input):
    """PyTorch's first check of an in-place pointwise op, before the output's shape and
    dtype: a tensor whose elements share memory (an expanded one) cannot be written, so
    ``int_expanded.exp_()`` is refused for the overlap, not for the float result.  (A tensor
    that requires grad meets autograd's checks first.)"""
    if not isinstance(input, Tensor):
        return
    a = input._array
    if a.size > 1 and 0 in a.strides and \
            any(st == 0 and n > 1 for st, n in zip(a.strides, a.shape)) and \
            not (input._requires_grad and is_grad_enabled()):
        refuse_write(a)


def _check_inplace(target, other, name):
    """PyTorch's checks of ``target <op>= other``: target's elements do not share memory,
    the broadcast shape is target's, and the promoted dtype can be cast to target's (not down
    a kind: float into int, int into bool). Returns ``other`` as a Tensor (a number as the
    0-d tensor the op reads)."""
    refuse_self_overlap(target)
    if not isinstance(other, Tensor):
        other = elementwise._scalar_or_tensor(other, target, name)
    other_array, target_array = other._array, target._array
    other_shape = other_array.shape
    if other_shape and other_shape != target_array.shape:     # (a 0-d or same shape: fine)
        out_shape = elementwise.broadcast_shape(target_array.shape, other_shape, name)
        if tuple(out_shape) != tuple(target_array.shape):
            raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                               f"broadcast shape {list(out_shape)}")
    if other_array.dtype == target_array.dtype and name != "div_":
        return other                # (one dtype: the promoted one, castable to itself)
    dtype = elementwise.dtypes.result_type(target._array, other_array)
    if name == "div_" and dtype.kind in "biu":
        dtype = elementwise.dtypes.default_float().np
    if not can_cast_inplace(dtype, target._array.dtype):
        raise RuntimeError(f"result type {kind_name(dtype)} can't be cast to the desired output "
                           f"type {kind_name(target._array.dtype)}")
    return other


def check_out_shape(target, operands):
    """PyTorch's first check of an in-place pointwise op: the shape the operands broadcast to
    must be ``target``'s (before any check of dtypes or kernels: ``x0d.floor_divide_(t)``,
    t of shape [1, 3], is refused for the shape whatever the dtypes).  Operands that do not
    broadcast are left to the op's own error."""
    shape = tuple(target._array.shape)
    for v in operands:
        if isinstance(v, Tensor) and tuple(v._array.shape) != shape:
            try:
                out = tuple(np.broadcast_shapes(shape, v._array.shape))
            except ValueError:
                return
            if out != shape:
                raise RuntimeError(f"output with shape {list(shape)} doesn't match the "
                                   f"broadcast shape {list(out)}")


def _binary_inplace(function, target, other, name):
    if not isinstance(other, Tensor):
        other = elementwise._scalar_or_tensor(other, target, name)
    return _checked_binary_inplace(function, target, _check_inplace(target, other, name), name)


def _checked_binary_inplace(function, target, other, name):
    """``_binary_inplace`` past ``_check_inplace`` (``other``: the Tensor it returned)."""
    with ieee_errors():          # a float32 value beyond float16 is inf, silently
        other = elementwise.cast(other, target._array.dtype)
    if target._array.dtype in elementwise._UNUSUAL:
        if target._array.dtype.kind == "c":     # (x += y in complex: a + (1 + 0j) * y)
            function = elementwise.COMPLEX_FORMS.get(function, function)
        else:                                   # (x += y for uint16/32/64: add_stub)
            elementwise._refuse_unsigned_by_kernel(name.rstrip("_"), target._array.dtype)
    try:
        return apply_inplace(target, function, other)
    except NotImplementedError:
        elementwise._refuse_complex_by_kernel(name.rstrip("_"), target._array.dtype)
        raise


def add_(t, other, _alpha=None, *, alpha=1):
    """t += alpha * other, with add's checks of alpha and its scaling in the promoted dtype;
    ``add_(alpha, other)``: PyTorch's deprecated order, with its warning."""
    if _alpha is not None:
        other, alpha = _alpha, elementwise.legacy_overload(
            "add_", other, (_alpha,), "add_(Number alpha, Tensor other)",
            "add_(Tensor other, *, Number alpha = 1)", numbers_ok=True)
    if isinstance(other, np.ndarray):
        elementwise.refuse_array("add_", other, position=1)
    checked = _check_inplace(t, other, "add_")
    if type(alpha) is int and alpha == 1:       # (t and other checked: no second check)
        return _checked_binary_inplace(Add, t, checked, "add_")
    out = half_scaled_add_(t, other, alpha, "add")     # float16/bfloat16: PyTorch's rounding
    if out is not None:
        return out
    return _binary_inplace(Add, t, elementwise._scaled(t, other, alpha, "add_"), "add_")


def sub_(t, other, _alpha=None, *, alpha=1):
    """t -= alpha * other (bool operands refused, as sub); ``sub_(alpha, other)``: PyTorch's
    deprecated order, with its warning."""
    if _alpha is not None:
        other, alpha = _alpha, elementwise.legacy_overload(
            "sub_", other, (_alpha,), "sub_(Number alpha, Tensor other)",
            "sub_(Tensor other, *, Number alpha = 1)", numbers_ok=True)
    if elementwise._is_bool(t) or elementwise._is_bool(other):
        elementwise.sub(t, other)          # raises PyTorch's error for bool subtraction
    checked = _check_inplace(t, other, "sub_")
    if type(alpha) is int and alpha == 1:       # (t and other checked: no second check)
        return _checked_binary_inplace(Sub, t, checked, "sub_")
    out = half_scaled_add_(t, other, alpha, "sub")     # float16/bfloat16: PyTorch's rounding
    if out is not None:
        return out
    return _binary_inplace(Sub, t, elementwise._scaled(t, other, alpha, "sub_"), "sub_")


def _half_scalar_inplace(function, t, other):
    """t *= / /= a scalar, for a float16 t, in float32 as PyTorch (elementwise.half_scalar);
    None when that is not the case."""
    if isinstance(t, Tensor) and t._array.dtype is elementwise._FLOAT16:
        scalar = elementwise.half_scalar(t, other)
        if scalar is not None:
            return apply_inplace(t, function, scalar, half=True)
    return None


def mul_(t, other):
    if isinstance(other, np.ndarray):
        elementwise.refuse_array("mul_", other, position=1)
    done = _half_scalar_inplace(Mul, t, other)
    return done if done is not None else _binary_inplace(Mul, t, other, "mul_")


def div_(t, other):
    if isinstance(other, np.ndarray):
        elementwise.refuse_array("div_", other, position=1)
    done = _half_scalar_inplace(Div, t, other)
    return done if done is not None else _binary_inplace(Div, t, other, "div_")


def pow_(t, other):
    if isinstance(t, Tensor):
        check_out_shape(t, (other,))
    check_integer_exponent(t, other)       # as pow's refusals (numpy's is a ValueError)
    if t._array.dtype.kind == "b" and (isinstance(other, bool) or (
            isinstance(other, Tensor) and other._array.dtype.kind == "b")):
        # pow's bool cases: a bool tensor exponent has no kernel, a Python bool needs none
        return _write_all(t, pow(t, other), "PowBackward0")
    if isinstance(other, Tensor) and t._array.dtype.kind in "biu" and \
            other._array.dtype.kind in "iu" and (bool((other._array < 0).any()) or
                                                 other._array.dtype != t._array.dtype):
        # integers to negative integer powers (0, or +-1 for a base of +-1): pow's values,
        # which numpy's power refuses to compute; and an exponent of another integer type:
        # computed in the promoted type (int8 ** uint8 in int16, 250 not read as -6), then
        # written back
        _check_inplace(t, other, "pow_")
        return _write_all(t, pow(t, other), "PowBackward1")
    # a number exponent: pow's scalar kernel, whose node keeps the input only (not the
    # result, which later writes into the tensor would change)
    scalar = isinstance(other, (bool, int, float, np.number, np.bool_))
    return _binary_inplace(ScalarPow if scalar else Pow, t, other, "pow_")


def clamp_(t, min=None, max=None):
    if not all(v is None or isinstance(v, (Tensor, numbers.Number)) for v in (min, max)):
        # a list, a string or an array is no bound of any overload
        given = ([python_type_name(min)] if min is not None else []) + \
            ([("max=" if min is None else "") + python_type_name(max)] if max is not None else [])
        exc = TypeError(f"clamp_() received an invalid combination of arguments - got "
                        f"({', '.join(given)}), but expected one of:\n"
                        " * (Tensor min = None, Tensor max = None)\n"
                        " * (Number min = None, Number max = None)\n")
        # (the wrappers of clamp_ and clip_ list the call as made, ``_argument_words``)
        exc.argument = ArgumentError(None, None, None, min if not (
            min is None or isinstance(min, (Tensor, numbers.Number))) else max)
        raise exc
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bound = min if isinstance(min, Tensor) else max
    if isinstance(min, Tensor) != isinstance(max, Tensor) and min is not None and \
            max is not None and (bound.ndim != 0 or bound.requires_grad):
        # as clamp: two tensor bounds or two numbers (a 0-d tensor needing no gradient is one)
        exc = TypeError(f"clamp_() received an invalid combination of arguments - got "
                        f"({python_type_name(min)}, {python_type_name(max)}), but expected "
                        f"(Tensor min, Tensor max) or (Number min, Number max)")
        exc.argument = ArgumentError(None, None, None, max)
        raise exc
    if isinstance(min, Tensor) != isinstance(max, Tensor) and min is not None and \
            max is not None:
        # the 0-d tensor bound beside a number is a number, as clamp reads it
        min, max = (v.item() if isinstance(v, Tensor) else v for v in (min, max))
    if t._array.dtype.kind in "fV" or (t._array.dtype.kind != "c" and
                                      any(isinstance(b, Tensor) for b in (min, max))):
        # (an expanded t: before the bounds are read; for number bounds of an integral t,
        # after their cast, below; a complex t is refused first)
        refuse_self_overlap(t)
    check_partial_overlap(t._array, (min, max))
    check_out_shape(t, (min, max))        # (a tensor bound widening t: before any dtype)
    if t._array.dtype.kind == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if t._array.dtype.kind in "fV" and any(isinstance(v, complex) and v.imag for v in (min, max)):
        # (PyTorch reads a floating tensor's number bounds as doubles, as clamp does)
        raise RuntimeError("value cannot be converted to type double without overflow")
    tensors = any(isinstance(b, Tensor) for b in (min, max))
    if t._array.dtype.kind not in "fV" or tensors:
        # a float bound makes the result float, a complex tensor bound complex: refused in
        # place, by PyTorch's words (its number-bound kernel names the output's C++ type,
        # its tensor-bound one the dtype's)
        bounds = [b._array if isinstance(b, Tensor) else b for b in (min, max) if b is not None]
        dtype = elementwise.dtypes.result_type(t._array, *bounds)
        if not can_cast_inplace(dtype, t._array.dtype):
            name = kind_name if tensors else cpp_type_name
            raise RuntimeError(f"result type {kind_name(dtype)} can't be cast to the desired "
                               f"output type {name(t._array.dtype)}")
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        if t._array.dtype.kind not in "fV":
            refuse_self_overlap(t)
        check_clamp_kind(t, min, max, t._array.dtype)     # (bool, uint16/32/64: refused)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # computed out of place and copied in: a tensor bound can get a gradient too; the
        # write is recorded under PyTorch's node for the clamp
        clamped = clamp_by_tensors(t, min, max)
        if tuple(clamped.shape) != tuple(t.shape):     # the bounds may not widen t
            raise RuntimeError(f"output with shape {list(t.shape)} doesn't match the broadcast "
                               f"shape {list(clamped.shape)}")
        done = write_visiting(t, clamp_by_tensors, min, max)
        if done is not None:
            return done
        return _write_all(t, keep_for_backward(clamped, min, max), "ClampBackward0")
    min, max = clamp_numbers(min, max, t._array.dtype)
    return apply_inplace(t, Clamp, min=min, max=max)


def write_visiting(t, fn, *args):
    """An in-place op computed out of place by ``fn(t, *args)`` (minigrad ops) and copied
    in, when ``t``'s elements share memory (``as_strided``) and nothing is recorded: written
    as PyTorch's kernel writes, each visit reading memory as the visits before left it
    (``_overlap_order``).  Returns ``t``; None when the plain copy is right."""
    if not shares_within(t._array) or is_grad_enabled() and (t._requires_grad or any(
            isinstance(v, Tensor) and v._requires_grad for v in args)):
        return None
    return overwrite_with(t, fn, *args)


def relu_(t):
    if isinstance(t, Tensor) and t._array.dtype.kind in "bc":     # (relu's refusals)
        if t._array.dtype.kind == "b":
            raise RuntimeError("Boolean inputs not supported for relu")
        raise NotImplementedError("clamp is not supported for complex types")
    return apply_inplace(t, Relu)


def fill_(t, value):
    if not isinstance(value, (Tensor, bool, int, float, complex, np.number, np.bool_)):
        # (the method's wrapper lists PyTorch's two signatures, Tensor and Number value)
        raise argument_error(None, "value", "Number", value)
    if isinstance(value, Tensor) and value.ndim != 0:
        # setitem would broadcast a [1] or [3] value; PyTorch takes a number or a 0-d tensor
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    if not isinstance(value, Tensor) and isinstance(t, Tensor):
        value = elementwise.dtypes.number_for(value, t._array.dtype,    # fill_'s own checks
                                              half_checked=t._array.size != 1)
        if type(value) is int and value >= 2 ** 63:
            # a uint64 past int64 (-1 is 2**64 - 1): as a tensor, which the write takes as it
            # is (a number it would read as a long long first)
            value = Tensor._wrap(np.asarray(value, dtype=t._array.dtype))
    if isinstance(t, Tensor) and _fill_expanded(t, value):
        return t
    # PyTorch's node: FillBackward2 for a number, FillBackward3 for a tensor
    return _write_all(t, value, "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")


def _write_all(t, value, node_name):
    """``t[...] = value``, its node (when one is recorded) named as PyTorch's for the
    in-place op that wrote it."""
    return named_write(t, node_name, setitem, t, Ellipsis, value)


def named_write(t, node_name, write, *args, **kwargs):
    """``write(*args, **kwargs)``, an in-place change of ``t`` made of other ops (addcmul_ is
    an add_), with the node it records for ``t`` named as PyTorch's for the whole op.
    Returns ``t``. A view keeps its own node's name: in PyTorch the write is recorded on the
    base (CopySlices), and the view's node only reads it back."""
    before = getattr(t, "grad_fn", None)
    write(*args, **kwargs)
    if t.grad_fn is not before and t._base is None:
        rename_node(t, node_name)
    return t


def _fill_expanded(t, value):
    """fill_ / zero_ of an expanded view (``x.expand(3, 4).fill_(1)``), which PyTorch allows
    (every copy of an element gets the same value): written into the base's memory. Done,
    and True, only for such a view with nothing to record."""
    if isinstance(value, Tensor):
        return False            # (PyTorch refuses a tensor value there too)
    return write_expanded(t, Ellipsis, value)


def zero_(input):
    """Fill ``input`` with zeros in place; returns it."""
    return named_write(input, "ZeroBackward0", fill_, input, 0)


def copy_(t, src):
    """Copy ``src`` (broadcast to ``t``'s shape, cast to its dtype) into ``t``."""
    if isinstance(src, (list, tuple, np.ndarray)):     # PyTorch takes a Tensor or a number
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(src).__name__}")
    if isinstance(src, (bool, float, complex)) or \
            (isinstance(src, int) and -2 ** 63 <= src < 2 ** 63):
        # a number is copied as PyTorch copies it: as a 0-d tensor of its own kind (bool,
        # int64, float64, complex128) cast to t's dtype, wrapping around or dropping the
        # imaginary part (uint8 copy_(300) gives 44, float copy_(2+3j) gives 2), not refused
        src = Tensor._wrap(np.asarray(src))
    if isinstance(src, Tensor) and tuple(src.shape) != tuple(t.shape):
        check_broadcasts_into(tuple(t.shape), tuple(src.shape),
                              f" (copy_: a tensor of shape {list(src.shape)} into a tensor of "
                              f"shape {list(t.shape)})")
    if isinstance(src, Tensor) and src.device != t.device:
        src = to_device(src, t.device)
    if isinstance(src, Tensor) and src._array.dtype.kind == "c" and \
            t._array.dtype.kind != "c":
        src = written_as_real(src, t._array.dtype.kind)
    return _write_all(t, src, "torch::autograd::CopyBackwards")


def copy_refusing_overlap(t, src):
    """``Tensor.copy_``: ``copy_``, but a ``t`` whose elements share memory (an expanded or
    ``as_strided`` view with a zero stride) refused first, before the source's shape, as
    PyTorch's copy checks it.  (The in-place ops that write their result through ``copy_``,
    index_fill_ among them, take such a tensor as PyTorch does.)"""
    if not isinstance(src, (list, tuple, np.ndarray)):
        refuse_self_overlap(t)
    return copy_(t, src)


copy_refusing_overlap.__name__ = copy_refusing_overlap.__qualname__ = "copy_"


def check_broadcasts_into(have, src, where=""):
    """PyTorch's errors for a source of shape ``src`` that does not broadcast to the
    destination shape ``have`` (``copy_``, ``pad_sequence``'s slots); ``where`` ends them."""
    n = max(len(have), len(src))
    a, b = (1,) * (n - len(have)) + have, (1,) * (n - len(src)) + src
    for i in range(n - 1, -1, -1):                # the last clashing dim, as PyTorch
        if a[i] != b[i] and a[i] != 1 and b[i] != 1:
            raise RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor b "
                               f"({b[i]}) at non-singleton dimension {i}{where}")
    wide = tuple(y if x == 1 else x for x, y in zip(a, b))     # a size 1 also spreads to 0
    if wide != have:
        raise RuntimeError(f"output with shape {list(have)} doesn't match the broadcast shape "
                           f"{list(wide)}{where}")


def resize_(t, *sizes, memory_format=None):
    """Give ``t`` the shape ``sizes`` in place, as ``torch.Tensor.resize_`` (seed 001's
    ``img = x_train[0] / 255; img.resize_(28, 28)`` turns a 784-vector into a 28x28 image).

    The elements are read in the order they lie in memory (t's storage) and laid out anew in
    ``memory_format`` (row-major by default); the same shape without a format changes
    nothing.  Same number of elements or fewer: t keeps its memory (views of it still see the
    writes).  More: the new elements are zeros (PyTorch leaves them uninitialised).  A tensor
    whose elements do not fill one block of memory (a slice) is read in row-major order
    (PyTorch would read the storage between them).  Tensors that require grad cannot be
    resized, as in PyTorch.
    """
    sizes = int_list_argument("resize_", "size", sizes, {})
    if t.requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(s < 0 for s in sizes):
        if 0 not in sizes:      # (PyTorch counts the elements first, in unsigned numbers)
            raise RuntimeError("numel: integer multiplication overflow")
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(sizes)}")
    return resize_unchecked_(t, sizes, memory_format)


def resize_unchecked_(t, sizes, memory_format=None):
    """``resize_`` without the requires-grad refusal: an ``out=`` tensor that requires grad
    is resized under ``no_grad`` as PyTorch's out= ops do (``sizes`` a tuple of ints >= 0)."""
    fmt = mf.check(memory_format, "resize_", none_means=mf.contiguous_format)
    if fmt is mf.preserve_format:
        raise RuntimeError("Unsupported memory format preserve_format (resize_ lays the "
                           "elements out anew, in contiguous_format or a channels-last one)")
    a = t._array
    if sizes == tuple(a.shape) and memory_format is None:
        return t                          # the same shape: t is left as it is, strides too
    probe = backend.xp_of(a).empty(sizes, a.dtype)
    strides = mf.target_strides(probe, fmt)              # checks a channels-last rank
    n = probe.size
    if a.size and mf.is_non_overlapping_and_dense(a.shape, mf.element_strides(a)) and \
            min(a.strides, default=0) >= 0:
        storage = a.ravel(order="K")          # memory order, a view of t's memory
    else:
        storage = a.reshape(-1)
        if not getattr(storage.flags, "writeable", True):
            # an expanded tensor (its elements sharing memory): resized into memory of its own
            storage = storage.copy()
    room = _room_in_base(t, storage, n) if n > storage.size else None
    if room is not None:
        storage = room
    elif n > storage.size:
        grown = backend.xp_of(a).zeros(n, a.dtype)
        grown[:storage.size] = storage
        storage = grown
    t._array = backend.xp_of(a).lib.stride_tricks.as_strided(
        storage, sizes, tuple(s * a.itemsize for s in strides))
    t._vcounter.value += 1
    return t


def _room_in_base(t, flat, n):
    """``n`` elements from ``flat``'s first one (t's memory in order) over the memory of the
    tensor ``t`` is a view of, where they fit in it: PyTorch grows a view into its base's
    storage (``x[1:3].resize_(4)`` then holds x[1:5] and still writes into x).  None
    otherwise (then new memory)."""
    base = t._base
    root = None if base is None else base._array
    if not (isinstance(flat, np.ndarray) and isinstance(root, np.ndarray) and
            root.flags.c_contiguous and root.flags.writeable and root.size):
        return None
    start = flat.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    if start < 0 or start % flat.itemsize or start + n * flat.itemsize > root.nbytes:
        return None
    raw = root.reshape(-1).view(np.uint8)
    return raw[start:start + n * flat.itemsize].view(flat.dtype)


def resize_as_(input, the_template, *, memory_format=None):
    """``resize_(input, the_template.shape)``.  ``memory_format``: None keeps input's layout
    when the shape does not change (else row-major); ``preserve_format`` takes the layout
    the template's strides suggest."""
    if not isinstance(the_template, Tensor):
        raise TypeError(f"resize_as_(): argument 'the_template' (position 2) must be Tensor, "
                        f"not {type(the_template).__name__}")
    fmt = None if memory_format is None else mf.check(memory_format, "resize_as_")
    if fmt is mf.preserve_format:
        fmt = mf.suggest(the_template._array)
    return resize_(input, tuple(the_template.shape), memory_format=fmt)
