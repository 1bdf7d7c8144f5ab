"""Bitwise ops on bool and integer tensors: and, or, xor, not, left and right shifts.

``a & b``, ``a | b``, ``a ^ b``, ``~a``, ``a << b`` and ``a >> b`` of Tensors are these ops
(not the logical ones: ``int_tensor | 4`` sets a bit, it does not give a bool). The result
dtype is PyTorch's promotion of the operands; floating operands are refused, and the shifts
refuse bool results too. Their results are piecewise constant in integers: no gradient.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..tensor import Tensor
from ._util import broadcast_shape, not_implemented_for
from .indexing import setitem
from .inplace import refuse_self_overlap
from .writes import can_cast_inplace, kind_name

# the Python ints PyTorch reads as an operand: int64's, and beyond them uint64's
_INT_MIN, _INT_END = -(1 << 63), 1 << 64


def _type_label(x):
    return "Tensor" if isinstance(x, Tensor) else type(x).__name__


def _is_number(x):
    # a complex number is an operand too: PyTorch refuses it at the kernel, by its dtype
    return isinstance(x, (bool, int, float, complex)) or \
        isinstance(x, (np.integer, np.floating, np.complexfloating, np.bool_))


def _check_operands(name, a, b):
    """PyTorch's TypeError unless one operand is a Tensor and the other a Tensor or a number."""
    ok = (isinstance(a, Tensor) and (isinstance(b, Tensor) or _is_number(b))) or \
         (isinstance(b, Tensor) and _is_number(a))
    if not ok:
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({_type_label(a)}, {_type_label(b)}), but expected (Tensor input, "
                        f"Tensor other), (Number self, Tensor other) or (Tensor input, Number "
                        f"other)")


def _as_array(x, dtype, xp):
    """Operand ``x`` (a Tensor or a Python number) as an array in ``dtype``.

    A Python int is first taken as an int64, or a uint64 from 2**63 on (OverflowError beyond
    those, as PyTorch), and then wrapped into the operation's integer type, two's complement
    (uint8 | 300 uses 300 mod 256, int64 & 2**63 uses -2**63)."""
    if isinstance(x, Tensor):
        return x._array.astype(dtype, copy=False)
    if isinstance(x, np.generic):
        x = dtypes.python_number(x)   # as PyTorch reads it: np.bool_ is a float
    if isinstance(x, int) and not isinstance(x, bool):
        if not _INT_MIN <= x < _INT_END:
            raise OverflowError("int too big to convert")
        if dtype.kind in "iu":
            bits = dtype.itemsize * 8
            x &= (1 << bits) - 1
            if dtype.kind == "i" and x >= 1 << (bits - 1):
                x -= 1 << bits
    return xp.asarray(x, dtype=dtype)


def _prepare(name, kernel, a, b, allow_bool=True):
    """Both operands as arrays in their promoted dtype, after PyTorch's checks."""
    _check_operands(name, a, b)
    like = a if isinstance(a, Tensor) else b
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        broadcast_shape(a._array.shape, b._array.shape, name)
        if a.device != b.device:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {a.device} and {b.device}!")
    dtype = dtypes.result_type(*(x._array if isinstance(x, Tensor) else
                                 dtypes.python_number(x) for x in (a, b)))
    if dtype.kind not in "biu" or (dtype.kind == "b" and not allow_bool):
        raise not_implemented_for(kernel, dtype)
    if not allow_bool:
        dtypes.refuse_unsigned(kernel, dtype)     # PyTorch shifts no uint16/32/64
    xp = backend.xp_of(like._array)
    return _as_array(a, dtype, xp), _as_array(b, dtype, xp), xp


def _logic(name, kernel, fn):
    def op(input, other):
        x, y, xp = _prepare(name, kernel, input, other)
        return Tensor._wrap(mf.pointwise_result(fn(xp, x, y), x, y))
    op.__name__ = name
    return op


bitwise_and = _logic("bitwise_and", "bitwise_and_cpu", lambda xp, x, y: xp.bitwise_and(x, y))
bitwise_or = _logic("bitwise_or", "bitwise_or_cpu", lambda xp, x, y: xp.bitwise_or(x, y))
bitwise_xor = _logic("bitwise_xor", "bitwise_xor_cpu", lambda xp, x, y: xp.bitwise_xor(x, y))
bitwise_and.__doc__ = "Elementwise a AND b, bit by bit (logical and for bools); broadcasts."
bitwise_or.__doc__ = "Elementwise a OR b, bit by bit (logical or for bools); broadcasts."
bitwise_xor.__doc__ = "Elementwise a XOR b, bit by bit (logical xor for bools); broadcasts."


def _shift(x, s, xp, left):
    """x << s or x >> s elementwise, defined for every shift as PyTorch: a shift by a negative
    amount or by the width of the type or more gives 0 (left), or the sign bits (right)."""
    bits = x.dtype.itemsize * 8
    out_of_range = (s < 0) | (s >= bits)
    s = xp.clip(s, 0, bits - 1).astype(x.dtype, copy=False)
    if left:
        shifted = xp.left_shift(x, s)
        return xp.where(out_of_range, x.dtype.type(0), shifted) if out_of_range.any() else shifted
    shifted = xp.right_shift(x, s)
    if not out_of_range.any():
        return shifted
    sign_fill = xp.where(x < 0, x.dtype.type(-1) if x.dtype.kind == "i" else 0, x.dtype.type(0))
    return xp.where(out_of_range, sign_fill, shifted).astype(x.dtype, copy=False)


def bitwise_left_shift(input, other):
    """input * 2**other in integers (the bits move left; those past the width are lost)."""
    x, s, xp = _prepare("bitwise_left_shift", "lshift_cpu", input, other, allow_bool=False)
    return Tensor._wrap(mf.pointwise_result(_shift(x, s, xp, left=True), x, s))


def bitwise_right_shift(input, other):
    """floor(input / 2**other) in integers (an arithmetic shift: negatives stay negative)."""
    x, s, xp = _prepare("bitwise_right_shift", "rshift_cpu", input, other, allow_bool=False)
    return Tensor._wrap(mf.pointwise_result(_shift(x, s, xp, left=False), x, s))


def bitwise_not(input):
    """Elementwise NOT: every bit flipped (~x = -x - 1 for signed integers); logical not for
    bools."""
    if not isinstance(input, Tensor):
        raise TypeError(f"bitwise_not(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    a = input._array
    if a.dtype.kind not in "biu":
        raise not_implemented_for("bitwise_not_cpu", a.dtype)
    dtypes.refuse_unsigned("bitwise_not_cpu", a.dtype)
    out = backend.xp_of(a).invert(a)
    # laid out after a, as PyTorch's (numpy's own layout when a is row-major)
    return Tensor._wrap(out if a.flags.c_contiguous or type(out) is not np.ndarray else
                        mf.pointwise_layout(out, (a,)))


def invert(input):
    """``~input``: bitwise_not, with the TypeError Python's operator gives PyTorch's floats."""
    if input._array.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(input)


# in place ------------------------------------------------------------------------------------
def _inplace(name, out_of_place):
    def op(self, other):
        if not isinstance(self, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{type(self).__name__}")
        _check_operands(name, self, other)
        refuse_self_overlap(self)       # (an expanded self: before the shapes and dtypes)
        if isinstance(other, Tensor):
            # the shapes first (PyTorch's TensorIterator), then the dtypes
            shape = broadcast_shape(self._array.shape, other._array.shape, name)
            if tuple(shape) != tuple(self.shape):
                raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                                   f"broadcast shape {list(shape)}")
        dtype = dtypes.result_type(self._array, other._array if isinstance(other, Tensor) else
                                   dtypes.python_number(other))
        # PyTorch checks that the result fits the tensor before it looks for a kernel
        if not can_cast_inplace(dtype, self._array.dtype):
            raise RuntimeError(f"result type {kind_name(dtype)} can't be cast to the desired "
                               f"output type {kind_name(self._array.dtype)}")
        result = out_of_place(self, other)
        if tuple(result.shape) != tuple(self.shape):
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the "
                               f"broadcast shape {list(result.shape)}")
        return setitem(self, Ellipsis, result)
    op.__name__ = name
    op.__doc__ = f"In-place {out_of_place.__name__}: the result, cast to self's dtype, " \
                 f"written into self; returns self."
    return op


bitwise_and_ = _inplace("bitwise_and_", bitwise_and)
bitwise_or_ = _inplace("bitwise_or_", bitwise_or)
bitwise_xor_ = _inplace("bitwise_xor_", bitwise_xor)
bitwise_left_shift_ = _inplace("bitwise_left_shift_", bitwise_left_shift)
bitwise_right_shift_ = _inplace("bitwise_right_shift_", bitwise_right_shift)


def bitwise_not_(self):
    """In-place bitwise_not; returns self."""
    refuse_self_overlap(self)           # (before the kernel's dtype check, as PyTorch)
    return setitem(self, Ellipsis, bitwise_not(self))


# the Python operators ------------------------------------------------------------------------
def operator_method(fn, reflected=False):
    """``fn`` as a binary operator method (``Tensor.__and__`` is ``operator_method(
    bitwise_and)``; ``reflected``: ``__rand__``, other & self). A non-number, non-Tensor other
    gives NotImplemented, so that Python tries the other operand and then raises its TypeError."""
    def method(self, other):
        if not isinstance(other, Tensor) and not _is_number(other):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    method.__name__ = fn.__name__
    return method
