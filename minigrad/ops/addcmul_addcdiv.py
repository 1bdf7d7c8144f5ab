"""``addcmul`` and ``addcdiv`` (and their in-place forms): input + value * tensor1 * tensor2,
or tensor1 / tensor2, with PyTorch's arguments (its deprecated value-first order too), type
promotion and checks.

Compositions of differentiable ops (mul, div, add, cast), so their first and second
derivatives come from those ops.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import (argument_error, check_python_int, check_tensor, not_implemented_for,
                    result_dtype)
from .elementwise import add, cast, legacy_overload, mul
from .division import div
from .inplace import add_, check_out_shape, named_write, refuse_self_overlap
from .writes import can_cast_inplace, kind_name
from .write_overlap import check_partial_overlap
from .fused_matrix_products import _coefficient


def _refuse_bool(input, tensor1, tensor2):
    """PyTorch has no addcmul kernel for three bool tensors (nor two bools and a bool input)."""
    if all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        dtype = result_dtype(input, tensor1, tensor2)
        if dtype.kind == "b":
            raise not_implemented_for("addcmul_cpu_out", dtype)


def _check_factors(name, tensor1, tensor2, position):
    """PyTorch's TypeError for a number (or other non-Tensor) given as ``tensor1`` or
    ``tensor2`` of addcmul / addcdiv: its parser takes only tensors there (``value`` is the
    scaling number). ``position``: where tensor1 goes (2 for the functions, 1 for the in-place
    methods)."""
    check_tensor(name, tensor1, "tensor1", position)
    check_tensor(name, tensor2, "tensor2", position + 1)


def _value_first(name, value, tensor1, tensor2):
    """A call by PyTorch's deprecated ``name(..., value, tensor1, tensor2)`` (the arguments
    read one place to the left): checked and warned by ``legacy_overload`` under the two
    signatures PyTorch names; returns (value, tensor1, tensor2)."""
    if name.endswith("_"):
        given = f"{name}(Number value, Tensor tensor1, Tensor tensor2)"
        instead = f"{name}(Tensor tensor1, Tensor tensor2, *, Number value = 1)"
    else:
        given = (f"{name}(Tensor input, Number value, Tensor tensor1, Tensor tensor2, *, "
                 f"Tensor out = None)")
        instead = (f"{name}(Tensor input, Tensor tensor1, Tensor tensor2, *, Number value = 1, "
                   f"Tensor out = None)")
    return legacy_overload(name, value, (tensor1, tensor2), given, instead), tensor1, tensor2


def _in_promoted_dtype(op, input, tensor1, tensor2, value, node_name):
    """addcmul / addcdiv of three tensors: input + value * op(tensor1, tensor2), computed in
    the promoted dtype of the three (``value`` converted to it, not taking part), float16
    and bfloat16 in float32 and rounded once, as PyTorch's kernels."""
    dtype = result_dtype(input, tensor1, tensor2)
    value = _coefficient(value, dtype, opmath=True)
    work = np.dtype(np.float32) if dtypes.reduced_float(dtype) else dtype
    combined = op(cast(tensor1, work), cast(tensor2, work))
    out = add(cast(input, work), combined if value == 1 else mul(combined, value))
    return rename_node(cast(out, dtype), node_name)


def addcmul(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """input + value * tensor1 * tensor2 (all three broadcast), in the promoted dtype of the
    three tensors: ``value`` does not take part in the promotion but is converted to that dtype
    (truncated toward zero for an integer result, as PyTorch does)."""
    if _tensor2 is not None:                # PyTorch's deprecated addcmul(input, value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcmul", tensor1, tensor2, _tensor2)
    _check_factors("addcmul", tensor1, tensor2, 2)
    value = _parsed_number(value, "addcmul")
    _refuse_bool(input, tensor1, tensor2)
    if any(isinstance(t, Tensor) and t._array.dtype in dtypes.BAREBONES_UNSIGNED
           for t in (input, tensor1, tensor2)):      # (no uint16/32/64 kernel in PyTorch)
        dtypes.refuse_unsigned("addcmul_cpu_out", result_dtype(input, tensor1, tensor2))
    if all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        return _in_promoted_dtype(mul, input, tensor1, tensor2, value, "AddcmulBackward0")
    product = mul(tensor1, tensor2)
    if value != 1:
        product = mul(product, value)
        if product._array.dtype.kind in "iu" and isinstance(value, float):
            product = cast(product, result_dtype(tensor1, tensor2))
    return rename_node(add(input, product), "AddcmulBackward0")


def addcdiv(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """input + value * tensor1 / tensor2 (all three broadcast); integer tensor1 and tensor2
    are refused, as PyTorch does since it changed to true division."""
    if _tensor2 is not None:                # PyTorch's deprecated addcdiv(input, value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcdiv", tensor1, tensor2, _tensor2)
    _check_factors("addcdiv", tensor1, tensor2, 2)
    value = _parsed_number(value, "addcdiv")
    if tensor1._array.dtype.kind in "biu" and tensor2._array.dtype.kind in "biu":
        # PyTorch's words (its double space included)
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future  release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as (input "
                           "+ value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float "
                           "inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    if all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        # (a float16 0-d tensor1 over an int8 tensor2 added to float64 is computed in float64)
        return _in_promoted_dtype(div, input, tensor1, tensor2, value, "AddcdivBackward0")
    quotient = div(tensor1, tensor2)
    return rename_node(add(input, quotient if value == 1 else mul(quotient, value)),
                       "AddcdivBackward0")


def _factors_in_common_dtype(input, tensor1, tensor2):
    """tensor1 and tensor2 converted to the promoted dtype of the three tensors (kept for the
    importers of ``products``)."""
    if not all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        return tensor1, tensor2
    dtype = result_dtype(input, tensor1, tensor2)
    return cast(tensor1, dtype), cast(tensor2, dtype)


def _scaled_product(op, input, tensor1, tensor2, value):
    """value * op(tensor1, tensor2) for an in-place addcmul_/addcdiv_, computed as PyTorch's
    kernel: in the promoted dtype of the three tensors (float32 for float16 and bfloat16,
    rounded once when added to ``input``), ``value`` read as that type (a float truncated for
    an integer one; a value it cannot hold is PyTorch's overflow error)."""
    if not all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        return mul(op(tensor1, tensor2), _number_value(value, "addcmul_"))
    dtype = result_dtype(input, tensor1, tensor2)
    if op is div and dtype.kind in "biu":
        dtype = dtypes.default_float().np
    if not can_cast_inplace(dtype, input._array.dtype):      # (checked before the value)
        raise RuntimeError(f"result type {kind_name(dtype)} can't be cast to the desired output "
                           f"type {kind_name(input._array.dtype)}")
    value = _coefficient(value, dtype, opmath=True)
    work = np.dtype(np.float32) if dtypes.reduced_float(dtype) else dtype
    combined = op(cast(tensor1, work), cast(tensor2, work))
    return combined if value == 1 else mul(combined, value)


def addcmul_(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """In place: input += value * tensor1 * tensor2 (the product broadcasts to input)."""
    if _tensor2 is not None:                # PyTorch's deprecated addcmul_(value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcmul_", tensor1, tensor2, _tensor2)
    _check_factors("addcmul_", tensor1, tensor2, 1)
    value = _parsed_number(value, "addcmul_")
    refuse_self_overlap(input)      # (an expanded input: before its shape and dtype)
    check_out_shape(input, (tensor1, tensor2))
    _refuse_bool(input, tensor1, tensor2)
    check_partial_overlap(input._array, (tensor1, tensor2))
    return named_write(input, "AddcmulBackward0", add_, input,
                       _scaled_product(mul, input, tensor1, tensor2, value))


def addcdiv_(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """In place: input += value * tensor1 / tensor2 (integer tensor1 and tensor2 refused)."""
    if _tensor2 is not None:                # PyTorch's deprecated addcdiv_(value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcdiv_", tensor1, tensor2, _tensor2)
    _check_factors("addcdiv_", tensor1, tensor2, 1)
    value = _parsed_number(value, "addcdiv_")
    if tensor1._array.dtype.kind in "biu" and tensor2._array.dtype.kind in "biu":
        addcdiv(input, tensor1, tensor2)        # PyTorch's error for integer division
    refuse_self_overlap(input)
    check_partial_overlap(input._array, (tensor1, tensor2))
    return named_write(input, "AddcdivBackward0", add_, input,
                       _scaled_product(div, input, tensor1, tensor2, value))


def _number_value(value, name):
    """``value`` of addcmul_/addcdiv_ (``name``) as add_'s alpha: a bool scales as 0 or 1 (add_
    takes a bool alpha for bool results only; PyTorch's kernels take any number here); a 0-d
    tensor is its number, any other tensor PyTorch's parser refuses."""
    value = _parsed_number(value, name)
    return int(value) if isinstance(value, bool) else value


def _parsed_number(value, name):
    """``value`` as PyTorch's parser reads a Number argument: a 0-d tensor is its number, a
    tensor of any other shape a TypeError."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise TypeError(f"{name}(): argument 'value' must be Number, not Tensor")
        return value.item()
    if not isinstance(value, (bool, int, float, complex, np.number, np.bool_)):
        raise argument_error(name, "value", "Number", value)
    return check_python_int(value)
