"""The fused "add a matrix product" ops, with PyTorch's names and arguments: ``addmm``,
``addmv``, ``addr``, ``addbmm`` and ``baddbmm``, each beta * input + alpha * (a matrix
product); and how they read their coefficients (``_coefficient``: beta, alpha, and addcmul's
value, in the result's dtype, with PyTorch's refusals).

All are compositions of differentiable ops (mm, mv, bmm, outer, mul, add, sum), so their first
and second derivatives come from those ops.
"""
from __future__ import annotations

import numpy as np

from .. import _autocast_state, backend, dtypes
from ..autograd import Function, no_grad
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._addbmm_16bit import addbmm_16
from ._autocast_cast import lower as _autocast_lower
from ._util import broadcast_shape, not_implemented_for, result_dtype, scalar_type_name
from .elementwise import add, cast, mul
from .matmul import bmm, mm, mv
from .movement import expand
from .plumbing import sum_to
from .pointwise_select import where
from .reduce import sum as sum_
from .shaping import outer


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


def _coefficient(value, np_dtype, opmath=False):
    """``beta`` or ``alpha`` as a number of the result's dtype, PyTorch's way: a complex number
    must have no imaginary part; for an integer result a float is truncated toward zero after a
    range check (a Python int may wrap around an unsigned type, as in two's complement); a bool
    result takes the scalar's truth.  A value the dtype cannot hold is a RuntimeError: a
    float's or each part of a complex's beyond its range (inf and NaN pass); with ``opmath``
    float16 and bfloat16 read it as float32, as the kernels that compute in float32 do
    (addmm, baddbmm, addbmm, addcmul, addcdiv; addmv and addr check the 16-bit type)."""
    np_dtype = np.dtype(np_dtype)
    kind = np_dtype.kind
    checked = np.dtype(np.float32) if opmath and dtypes.reduced_float(np_dtype) else np_dtype
    overflow = RuntimeError(f"value cannot be converted to type {dtypes.c_type_name(checked)} "
                            "without overflow")
    if isinstance(value, Tensor):
        value = value.item()
    if kind == "c":                   # any number scales a complex product, within its range
        limit = float(np.finfo(np_dtype).max)
        parts = (float(value),) if isinstance(value, (int, np.integer)) else \
            (complex(value).real, complex(value).imag)
        if any(np.isfinite(p) and abs(p) > limit for p in parts):
            raise overflow
        return value
    if isinstance(value, complex):
        if value.imag != 0:
            raise overflow
        value = value.real
    if kind == "b":
        return bool(value)
    if isinstance(value, bool):
        return int(value)
    if kind not in "iu":
        real = float(value)
        if np.isfinite(real) and abs(real) > float(dtypes.np_finfo(checked).max):
            raise overflow
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


def _coefficients(beta, alpha, *tensors, opmath=True):
    """beta and alpha converted to the dtype the op computes in (that of its tensors; float32
    for 16-bit floats with ``opmath``)."""
    np_dtype = result_dtype(*tensors)
    return _coefficient(beta, np_dtype, opmath), _coefficient(alpha, np_dtype, opmath)


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
        if type(mat1._array) is np.ndarray and input._array.dtype == mat1._array.dtype and \
                mat1.ndim == 2 and mat2.ndim == 2 and mat1.shape[1] == mat2.shape[0]:
            _check_expands(input, (mat1.shape[0], mat2.shape[1]))
            return _Addmm16.apply(input, mat1, mat2, beta=beta, alpha=alpha,
                                  half=mat1._array.dtype)
        # PyTorch adds the bias in float32 and rounds once (float16 and bfloat16)
        wide, m1, m2 = (cast(t, np.dtype("float32")) for t in (input, mat1, mat2))
        product = mm(m1, m2)
        _check_expands(input, product.shape)
        return cast(_scaled_sum(wide, product, beta, alpha), mat1._array.dtype)
    product = mm(mat1, mat2)
    _check_expands(input, product.shape)
    return rename_node(_scaled_sum(input, product, beta, alpha), "AddmmBackward0")


class _Addmm16(Function):
    """addmm of 16-bit matrices: the forward adds beta input and alpha (mat1 @ mat2) in float32
    and rounds once; the backward is PyTorch's 16-bit ops: g beta (summed over the dims input
    was broadcast along), (g @ mat2^T) alpha and (mat1^T @ g) alpha, each product rounded,
    then each scaling (skipped for a coefficient of 1)."""
    _node_name = "AddmmBackward0"

    def forward(self, a, m1, m2, *, beta, alpha, half):
        self.beta, self.alpha, self.input_shape = beta, alpha, a.shape
        self.save_for_backward(m1, m2)
        with no_grad():
            wide = [cast(Tensor._wrap(x), np.dtype("float32")) for x in (a, m1, m2)]
            return cast(_scaled_sum(wide[0], mm(wide[1], wide[2]), beta, alpha),
                        half)._array

    def backward(self, g):
        m1, m2 = self.saved_tensors
        grads = [None, None, None]
        if self.needs_input_grad[0]:
            grads[0] = sum_to(g if self.beta == 1 else mul(g, self.beta), self.input_shape)
        for k, product in ((1, lambda: mm(g, m2.t())), (2, lambda: mm(m1.t(), g))):
            if self.needs_input_grad[k]:
                grads[k] = product() if self.alpha == 1 else mul(product(), self.alpha)
        return tuple(grads)


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
    beta, alpha = _coefficients(beta, alpha, input, mat, vec, opmath=False)
    if dtypes.reduced_float(mat._array.dtype):
        # PyTorch adds the bias to the product in float32 and rounds once (float16, bfloat16)
        wide, m, v = (cast(t, np.dtype("float32")) for t in (input, mat, vec))
        return rename_node(cast(_scaled_sum(wide, mv(m, v), beta, alpha), mat._array.dtype),
                           "AddmvBackward0")
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
    if batch1.ndim == 3 and batch1.shape[0] and dtypes.reduced_float(batch1._array.dtype) and \
            type(batch1._array) is np.ndarray:
        # float16 / bfloat16: each batch's product added and rounded in turn (_addbmm_16bit)
        return addbmm_16(input, batch1, batch2, beta, alpha)
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
