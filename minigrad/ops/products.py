"""Fused "add a product" ops and other products, with PyTorch's names and arguments:
``addmm``, ``addmv``, ``addr``, ``addbmm``, ``baddbmm``, ``addcmul``, ``addcdiv``, ``kron``,
``cross`` / ``linalg.cross``, ``cdist``, ``dist``, ``vdot`` and ``block_diag``.

All are compositions of differentiable ops (matmul, mul, roll, reshape, pad, vector_norm),
so their first and second derivatives come from those ops.
"""
from __future__ import annotations

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd.function import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32, lower as _autocast_lower
from ._util import (broadcast_shape, check_python_int, check_tensor, normalize_dim,
                    not_implemented_for, python_type_name, result_dtype, scalar_type_name)
from .elementwise import add, cast, div, legacy_overload, mul, sub
from .inplace import add_, check_out_shape, named_write
from .contraction import dot
from .elementary_functions import sqrt
from .norms import vector_norm
from .matmul import bmm, matmul, mm, mv
from .movement import expand, mT, pad, reshape, unsqueeze
from .stacking import cat
from .plumbing import conj_of
from .pointwise_select import where
from .reduce import sum as sum_
from .shaping import outer, roll
from .writes import check_partial_overlap

__all__ = ["addmm", "addmv", "addr", "addbmm", "baddbmm", "addcmul", "addcdiv", "addcmul_",
           "addcdiv_", "kron", "cross",
           "linalg_cross", "cdist", "dist", "vdot", "block_diag"]


def _scaled_sum(input, product, beta, alpha, skip_zero_alpha=True):
    """beta * input + alpha * product, PyTorch's way: with beta = 0 ``input`` is not read (its
    NaN and inf do not reach the result) but still broadcasts and gets a zero gradient; alpha = 0
    likewise leaves the product out (not in baddbmm: ``skip_zero_alpha``); alpha = 1 / beta = 1
    skip the multiply.  The result has the
    promoted dtype of input and product."""
    if alpha == 0 and skip_zero_alpha:
        product = _unread(product)
    elif alpha != 1:
        product = mul(product, alpha)
    if beta == 0:
        shape = broadcast_shape(tuple(input.shape), tuple(product.shape), "add")
        dtype = result_dtype(input, product)
        if input.requires_grad:
            return add(cast(_unread(input), dtype), product)
        return cast(product, dtype).expand(*shape) if tuple(product.shape) != shape else \
            cast(product, dtype)
    scaled = input if beta == 1 else mul(input, beta)
    if scaled._array.dtype != input._array.dtype and input._array.dtype.kind in "biu":
        scaled = cast(scaled, input._array.dtype)   # an integer input stays integer
    out = add(scaled, product)
    return out


def _unread(t):
    """Zeros in place of ``t`` (none of its NaN or inf), still a function of ``t`` in the graph
    when it needs a gradient: PyTorch gives an operand scaled by 0 a zero gradient, not none."""
    mask = backend.xp_of(t._array).zeros(t._array.shape, dtype=bool)
    return where(mask, t, 0)


_C_TYPE = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
           "int64": "int64_t", "float16": "c10::Half", "float32": "float", "float64": "double",
           "bool": "bool"}


def _coefficient(value, np_dtype):
    """``beta`` or ``alpha`` as a number of the result's dtype, PyTorch's way: a complex number
    must have no imaginary part; for an integer result a float is truncated toward zero after a
    range check (a Python int may wrap around an unsigned type, as in two's complement); a bool
    result takes the scalar's truth.  A value the dtype cannot hold is a RuntimeError."""
    kind = np.dtype(np_dtype).kind
    overflow = RuntimeError(f"value cannot be converted to type "
                            f"{_C_TYPE.get(np.dtype(np_dtype).name, np.dtype(np_dtype).name)} "
                            "without overflow")
    if isinstance(value, Tensor):
        value = value.item()
    if kind == "c":
        return value                  # any number scales a complex product
    if isinstance(value, complex):
        if value.imag != 0:
            raise overflow
        value = value.real
    if kind == "b":
        return bool(value)
    if isinstance(value, bool):
        return int(value)
    if kind not in "iu":
        return value
    info = np.iinfo(np_dtype)
    if isinstance(value, float) or type(value).__module__ == "numpy" and \
            np.asarray(value).dtype.kind in "fV":
        if not np.isfinite(value) or value < info.min or value > info.max:
            raise overflow
        return int(value)
    value = int(value)
    if kind == "u" and value < 0 and -value <= info.max:
        return value % (int(info.max) + 1)            # wraps, two's complement
    if value < info.min or value > info.max:
        raise overflow
    return value


def _coefficients(beta, alpha, *tensors):
    """beta and alpha converted to the dtype the op computes in (that of its tensors)."""
    np_dtype = result_dtype(*tensors)
    return _coefficient(beta, np_dtype), _coefficient(alpha, np_dtype)


def _same_dtype(input, matrix):
    """PyTorch's check that ``input`` has the dtype of the matrices it is added to."""
    if input._array.dtype != matrix._array.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{scalar_type_name(input._array.dtype)} and "
                           f"{scalar_type_name(matrix._array.dtype)}")


def _check_expands(input, shape):
    """PyTorch's error where ``input`` cannot be expanded to the product's ``shape`` (addmm,
    addbmm and baddbmm expand their input to it): expand's own words, raised by expand."""
    own = input.shape
    if len(own) > len(shape) or any(o != 1 and o != t for o, t in zip(own[::-1], shape[::-1])):
        expand(input, shape)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2); mat1 (n, m), mat2 (m, p), input broadcasts to
    (n, p); all of one dtype."""
    if _autocast_state.active:
        input, mat1, mat2 = _autocast_lower(input, mat1, mat2)
    _same_dtype(input, mat2)
    beta, alpha = _coefficients(beta, alpha, input, mat1, mat2)
    if dtypes.reduced_float(mat1._array.dtype) and mat2._array.dtype == mat1._array.dtype:
        # PyTorch adds the bias in float32 and rounds once (float16 and bfloat16)
        wide, m1, m2 = (cast(t, np.dtype("float32")) for t in (input, mat1, mat2))
        product = mm(m1, m2)
        _check_expands(input, product.shape)
        return cast(_scaled_sum(wide, product, beta, alpha), mat1._array.dtype)
    product = mm(mat1, mat2)
    _check_expands(input, product.shape)
    return rename_node(_scaled_sum(input, product, beta, alpha), "AddmmBackward0")


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta * input + alpha * (mat @ vec); mat (n, m), vec (m,), input broadcasts to (n,);
    all of one dtype."""
    kinds = [t._array.dtype for t in (input, mat, vec)]
    if len(set(kinds)) > 1:
        raise RuntimeError("addmv input tensors must have the same dtype, but got "
                           f"{', '.join(scalar_type_name(k) for k in kinds[:2])}, and "
                           f"{scalar_type_name(kinds[2])}")
    if input.ndim > 1 or mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {input.ndim}, {mat.ndim}, "
                           f"{vec.ndim}")
    if mat.shape[1] != vec.shape[0] or input.numel() not in (1, mat.shape[0]):
        raise RuntimeError(f"size mismatch, got input ({input.numel()}), mat "
                           f"({mat.shape[0]}x{mat.shape[1]}), vec ({vec.shape[0]})")
    beta, alpha = _coefficients(beta, alpha, input, mat, vec)
    return rename_node(_scaled_sum(input, mv(mat, vec), beta, alpha), "AddmvBackward0")


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta * input + alpha * outer(vec1, vec2); vec1 (n,), vec2 (m,), input broadcasts to
    (n, m).  For bool tensors: input and (vec1 outer vec2)."""
    if vec1.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {vec1.ndim}-D"
                           if vec1.ndim != 1 else
                           f"addr: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    # input is expanded first, as in PyTorch: a 0-d one counts as a dimensioned tensor in the
    # type promotion
    input = input.expand(vec1.shape[0], vec2.shape[0])
    dtype = result_dtype(input, vec1, vec2)
    beta, alpha = _addr_scalar("beta", beta, dtype), _addr_scalar("alpha", alpha, dtype)
    if dtype.kind == "b":
        xp = backend.xp_of(vec1._array)
        product = vec1._array[:, None] & vec2._array[None, :]
        shape = broadcast_shape(tuple(input.shape), product.shape, "addr")
        both = (input._array & bool(beta)) | (product & bool(alpha))
        return Tensor._wrap(xp.ascontiguousarray(xp.broadcast_to(both, shape)))
    # all in the promoted dtype (a bool input scaled by 2 is 2, not True)
    product = outer(cast(vec1, dtype), cast(vec2, dtype))
    if alpha != 1:
        product = mul(product, alpha)
    return rename_node(_scaled_sum(cast(input, dtype), product, beta, 1), "AddrBackward0")


def _addr_scalar(name, value, dtype):
    """addr's checks of ``beta`` / ``alpha`` against the result dtype (a bool only for a bool
    result, a float or complex number not for an integral one), then the number in that
    dtype."""
    if isinstance(value, Tensor):
        value = value.item()
    if isinstance(value, (bool, np.bool_)):
        if dtype.kind != "b":
            raise RuntimeError(f"Boolean {name} only supported for Boolean results.")
    elif dtype.kind in "biu" and not isinstance(value, (int, np.integer)):
        raise RuntimeError(f"For integral input tensors, argument {name} must not be a floating "
                           f"point number.")
    return _coefficient(value, dtype)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * sum_b (batch1[b] @ batch2[b]); batch1 (B, n, m), batch2
    (B, m, p), input broadcasts to (n, p)."""
    if _autocast_state.active:
        input, batch1, batch2 = _autocast_lower(input, batch1, batch2)
    if batch1.ndim == 3 and batch1.shape[0]:
        # PyTorch adds each batch's product into input with addmm's checks (none run for an
        # empty batch)
        _same_dtype(input, batch2)
        if batch1._array.dtype != batch2._array.dtype:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{scalar_type_name(batch1._array.dtype)} and "
                               f"{scalar_type_name(batch2._array.dtype)}")
        if batch1._array.dtype.kind == "b":
            raise not_implemented_for("addmm_impl_cpu_", batch1._array.dtype)
    elif batch1.ndim == 3 and batch2.ndim == 3:
        # no product to add: PyTorch scales input in place, in input's dtype
        # (beta = 0: zeros); a float beta cannot scale an integer or bool input in place, nor
        # an int one a bool input
        kind = input._array.dtype.kind
        wider = "Float" if isinstance(beta, float) and kind in "biu" else \
            "Long" if kind == "b" and not isinstance(beta, bool) else None
        if wider is not None and beta != 0:
            raise RuntimeError(f"result type {wider} can't be cast to the desired output type "
                               f"{scalar_type_name(input._array.dtype)}")
        batch1, batch2 = cast(batch1, input._array.dtype), cast(batch2, input._array.dtype)
    beta, alpha = _coefficients(beta, alpha, input, batch1, batch2)
    if batch1.ndim == 3 and batch2.ndim == 3:    # input is expanded before the product
        _check_expands(input, (batch1.shape[1], batch2.shape[2]))
    product = bmm(batch1, batch2)
    return rename_node(_scaled_sum(input, sum_(product, 0, dtype=product.dtype), beta, alpha),
                       "AddbmmBackward0")


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2) per batch; batch1 (B, n, m), batch2 (B, m, p),
    input broadcasts to (B, n, p); all of one dtype."""
    if _autocast_state.active:
        input, batch1, batch2 = _autocast_lower(input, batch1, batch2)
    names = [np.dtype(t._array.dtype).name for t in (input, batch1, batch2)]
    if len(set(names)) > 1:
        short = {"float32": "float", "float64": "double", "int64": "long", "int32": "int"}
        got = [short.get(n, n) for n in names]
        raise RuntimeError(f"Input dtypes must be the same, got: input {got[0]}, batch1: "
                           f"{got[1]}, batch2: {got[2]}")
    beta, alpha = _coefficients(beta, alpha, input, batch1, batch2)
    if batch1.ndim == 3 and batch2.ndim == 3:    # input is expanded before the product
        _check_expands(input, (batch1.shape[0], batch1.shape[1], batch2.shape[2]))
    if dtypes.reduced_float(batch1._array.dtype):
        # as addmm: PyTorch's kernel adds the product to the input in float32 and rounds once
        # (float16 and bfloat16; multi-head attention's masked scores come this way)
        wide, b1, b2 = (cast(t, np.dtype("float32")) for t in (input, batch1, batch2))
        return cast(_scaled_sum(wide, bmm(b1, b2), beta, alpha, skip_zero_alpha=False),
                    batch1._array.dtype)
    return rename_node(_scaled_sum(input, bmm(batch1, batch2), beta, alpha,
                                   skip_zero_alpha=False), "BaddbmmBackward0")


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
    value = _coefficient(value, dtype)
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
    """tensor1 and tensor2 of an in-place addcmul_/addcdiv_ converted to the promoted dtype of
    the three tensors, in which PyTorch computes (an int64 tensor1 times a bfloat16 0-d tensor2
    added to float32 input is a float32 product, not a bfloat16 one)."""
    if not all(isinstance(t, Tensor) for t in (input, tensor1, tensor2)):
        return tensor1, tensor2
    dtype = result_dtype(input, tensor1, tensor2)
    return cast(tensor1, dtype), cast(tensor2, dtype)


def addcmul_(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """In place: input += value * tensor1 * tensor2 (the product broadcasts to input)."""
    if _tensor2 is not None:                # PyTorch's deprecated addcmul_(value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcmul_", tensor1, tensor2, _tensor2)
    _check_factors("addcmul_", tensor1, tensor2, 1)
    value = _parsed_number(value, "addcmul_")
    check_out_shape(input, (tensor1, tensor2))
    _refuse_bool(input, tensor1, tensor2)
    check_partial_overlap(input._array, (tensor1, tensor2))
    tensor1, tensor2 = _factors_in_common_dtype(input, tensor1, tensor2)
    return named_write(input, "AddcmulBackward0", add_, input, mul(tensor1, tensor2),
                       alpha=_number_value(value, "addcmul_"))


def addcdiv_(input, tensor1, tensor2, _tensor2=None, *, value=1):
    """In place: input += value * tensor1 / tensor2 (integer tensor1 and tensor2 refused)."""
    if _tensor2 is not None:                # PyTorch's deprecated addcdiv_(value, t1, t2)
        value, tensor1, tensor2 = _value_first("addcdiv_", tensor1, tensor2, _tensor2)
    _check_factors("addcdiv_", tensor1, tensor2, 1)
    value = _parsed_number(value, "addcdiv_")
    if tensor1._array.dtype.kind in "biu" and tensor2._array.dtype.kind in "biu":
        addcdiv(input, tensor1, tensor2)        # PyTorch's error for integer division
    check_partial_overlap(input._array, (tensor1, tensor2))
    tensor1, tensor2 = _factors_in_common_dtype(input, tensor1, tensor2)
    return named_write(input, "AddcdivBackward0", add_, input, div(tensor1, tensor2),
                       alpha=_number_value(value, "addcdiv_"))


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
    return check_python_int(value)


def kron(input, other):
    """The Kronecker product: for inputs padded with leading 1s to one number of dims,
    out[i * B + j] = input[i] * other[j] per dim, shape input.shape * other.shape."""
    check_tensor("kron", input)
    check_tensor("kron", other, "other", 2)
    n = max(input.ndim, other.ndim)
    a_shape = (1,) * (n - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (n - other.ndim) + tuple(other.shape)
    a = reshape(input, *[v for s in a_shape for v in (s, 1)])
    b = reshape(other, *[v for s in b_shape for v in (1, s)])
    out = reshape(mul(a, b), *[x * y for x, y in zip(a_shape, b_shape)])
    return rename_node(out, "UnsafeViewBackward0")          # PyTorch's node


def _cross(input, other, dim, name):
    if input.ndim != other.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    d = normalize_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    shape = broadcast_shape(tuple(input.shape), tuple(other.shape), name)
    # PyTorch's kernel is chosen by input's dtype (none for bool), then checks other's
    if input._array.dtype.kind == "b":
        raise not_implemented_for("cross", input._array.dtype)
    if input._array.dtype != other._array.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._array.dtype)} but "
                           f"found {scalar_type_name(other._array.dtype)}")
    a, b = input.expand(*shape), other.expand(*shape)
    # out_i = a_(i+1) b_(i+2) - a_(i+2) b_(i+1), indices mod 3
    return sub(mul(roll(a, -1, d), roll(b, -2, d)), mul(roll(a, -2, d), roll(b, -1, d)))


def cross(input, other, dim=None):
    """The 3-d cross product along ``dim`` (default: the first dim of size 3); inputs of one
    dtype and number of dims, broadcast together."""
    check_tensor("cross", input)
    check_tensor("cross", other, "other", 2)
    if dim is None:
        shape = broadcast_shape(tuple(input.shape), tuple(other.shape), "cross")
        sized = [i for i, s in enumerate(shape) if s == 3]
        if not sized:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sized[0]
    return rename_node(_cross(input, other, dim, "linalg.cross"), "LinalgCrossBackward0")


def linalg_cross(input, other, *, dim=-1):
    """``linalg.cross``: the cross product along ``dim`` (default the last)."""
    return rename_node(_cross(input, other, dim, "linalg.cross"), "LinalgCrossBackward0")


@in_float32          # one of the ops CPU autocast runs in float32 (its mm path too)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 (*, P, M) and x2 (*, R, M): shape
    (*, P, R), the batch dims broadcast.  p = 0 counts differing coordinates, p = inf takes
    the largest difference.  The gradient is 0 where two rows coincide."""
    check_tensor("cdist", x1, "x1")
    check_tensor("cdist", x2, "x2", 2)
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if t._array.dtype.kind not in "fV":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{scalar_type_name(t._array.dtype)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1.numel() and x2.numel():
        # no promotion in PyTorch (an empty operand returns before it looks); p = 2 may go by
        # matrix products, which take float16, where its own kernel does not
        by_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                            compute_mode == "use_mm_for_euclid_dist_if_necessary" and
                            (x1.shape[-2] > 25 or x2.shape[-2] > 25))
        d1, d2 = x1._array.dtype, x2._array.dtype
        if by_mm and d1 != d2:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{_C_TYPE.get(d1.name, d1.name)} != "
                               f"{_C_TYPE.get(d2.name, d2.name)}")
        if not by_mm and dtypes.reduced_float(d1):
            raise not_implemented_for("cdist", d1)
        if d1 != d2:
            raise RuntimeError(f"expected scalar type {scalar_type_name(d1)} but found "
                               f"{scalar_type_name(d2)}")
        if by_mm:
            return _euclidean_by_mm(x1, x2)
    else:
        # PyTorch returns an empty result, or zeros for no columns, in x1's dtype
        x2 = cast(x2, x1._array.dtype)
        if x1.shape[-1] == 0:
            p = 2.0                   # any p: the norm of nothing (inf has no identity)
    diff = sub(unsqueeze(x1, -2), unsqueeze(x2, -3))          # (*, P, R, M)
    return rename_node(row_distances(diff, p), "CdistBackward0")


def row_distances(diff, p):
    """The p-norms of ``diff`` (*, M) over its last dim, for cdist and pdist.  For p = 0 (a
    count of non-zeros, a step function) a zero that depends on ``diff`` is added, so that the
    gradient is zeros, as PyTorch's distance kernels give it, rather than none, as its norm."""
    out = vector_norm(diff, p, -1)
    if p == 0:
        never = backend.xp_of(diff._array).zeros(tuple(diff.shape), dtype=bool)
        out = add(out, sum_(where(never, diff, 0.0), -1))
    return out


def _euclidean_by_mm(x1, x2):
    """cdist's p = 2 by a matrix product, |a|^2 + |b|^2 - 2 a.b, with no (*, P, R, M)
    difference tensor; rounding below zero is cut to 0, and a zero distance has a zero
    gradient (as the direct way gives it)."""
    sq1, sq2 = sum_(mul(x1, x1), -1, True), sum_(mul(x2, x2), -1, True)     # (*, P | R, 1)
    # one product of [-2 a, |a|^2, 1] and [b, 1, |b|^2]: the three terms summed in one pass,
    # so that a row's distance to itself rounds to (nearly) 0, as PyTorch's
    ones1 = Tensor._wrap(backend.xp_of(x1._array).ones(sq1.shape, sq1._array.dtype))
    ones2 = Tensor._wrap(backend.xp_of(x2._array).ones(sq2.shape, sq2._array.dtype))
    left = cat([mul(x1, -2.0), sq1, ones1], -1)
    right = cat([x2, ones2, sq2], -1)
    squared = matmul(left, mT(right))
    positive = ~(squared._array <= 0)                         # NaN stays NaN
    return where(positive, sqrt(where(positive, squared, 1.0)), 0.0)


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast), over all elements: a 0-d tensor."""
    check_tensor("dist", input)
    check_tensor("dist", other, "other", 2)
    if input._array.dtype.kind == "b" or other._array.dtype.kind == "b":
        sub(input, other)            # PyTorch subtracts first: its refusal of bool tensors
    dtype = result_dtype(input, other)
    if dtype.kind not in "fcV":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {scalar_type_name(dtype)} instead.")
    return rename_node(vector_norm(sub(cast(input, dtype), cast(other, dtype)), p),
                       "DistBackward0")


def vdot(input, other):
    """sum(conj(input) * other) of two 1-d tensors of one dtype and length (for real tensors
    the same as dot)."""
    if input.ndim == 1 and other.ndim == 1 and input._array.dtype == other._array.dtype and \
            input._array.dtype.kind == "c":       # after dot's checks would pass
        input = conj_of(input)
    return dot(input, other)


def block_diag(*tensors):
    """A block-diagonal matrix from 0-d (1x1), 1-d (1xn) and 2-d tensors, in order; the
    promoted dtype, zeros elsewhere."""
    blocks = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{python_type_name(t)}")
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        blocks.append(reshape(t, 1, 1) if t.ndim == 0 else reshape(t, 1, -1) if t.ndim == 1
                      else t)
    if not blocks:
        return Tensor._wrap(np.zeros((1, 0), dtype=dtypes.default_float().np))
    dtype = result_dtype(*tensors)     # a 0-d block promotes as a 0-d tensor does
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(pad(cast(b, dtype), (left, right)))
        left += b.shape[1]
    return rename_node(cat(rows, 0), "BlockDiagBackward0")
