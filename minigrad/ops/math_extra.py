"""More pointwise ops found missing by running other projects' PyTorch-side tests: ``log2``,
``exp2``, ``log10``, ``lerp``, ``trunc``, ``frac``, ``isclose``, ``nan_to_num``, ``fmod``, and
the selections ``masked_select`` and ``nonzero``; and, importable from here as before they
moved out, the scans ``logcumsumexp``, ``cummax`` and ``cummin`` (``cumulative.py``) and
``scaled_dot_product_attention`` (``attention.py``).

All differentiable ones are compositions (log/exp with a constant factor, index_select on
flat positions), so their first and second derivatives come from those ops.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..dtypes import reduced_float
from ..tensor import Tensor
from .._argument_error import ArgumentError
from ._util import (argument_error, bool_arg, broadcast_shape, check_python_int,
                    check_tensor, ieee, not_a_tensor, not_implemented_for, result_dtype,
                    scalar_type_name)
from ..autograd import Function, no_grad
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from .compare import StepFunction, _no_grad_unary
from .elementwise import _binary, add, refuse_array, cast, mul, neg, sub
from .division import div
from .pointwise_select import where
from .plumbing import conj_of
from .indexing import setitem
from .inplace import _binary_inplace, check_out_shape, named_write, write_visiting
from .movement_copies import clone
from .plumbing import expand_to, reshape_to, sum_to
from .scatter_gather import IndexSelect
from ._gather_scatter_checks import CPP_NAMES
from .writes import can_cast_inplace, kind_name
from .write_overlap import check_partial_overlap
from ._floating_checks import _check_floating
# the parts that moved out, importable from here as before
from .attention import (_dropout_weights, _repeat_heads, _safe_softmax,  # noqa: F401
                        scaled_dot_product_attention)
from .cumulative import (_complex_logcumsumexp, _cum_extreme, _logcumsumexp,  # noqa: F401
                         _running_arg, _scan_branch, cummax, cummin, logcumsumexp)

__all__ = ["log2", "exp2", "log10", "lerp", "lerp_", "trunc", "frac", "isclose",
           "logcumsumexp", "cummax", "cummin", "masked_select", "nonzero", "nan_to_num",
           "nan_to_num_", "fmod", "fmod_", "scaled_dot_product_attention"]

_LN2, _LN10 = math.log(2.0), math.log(10.0)

_FLOAT16, _FLOAT32 = np.dtype("float16"), np.dtype("float32")


def _in_float64(a):
    """A float32 array in float64 (its function then rounded once to float32: correctly
    rounded, as PyTorch's are to within an ulp, and exact where the answer is)."""
    return a.astype(np.float64) if a.dtype == _FLOAT32 else a


class _LogBase(Function):
    """log2 or log10 (``base``) by numpy's own function: exact where the answer is (log2(8) is
    3, where log(x) / ln 2 misses it by an ulp, and floor() of it by one).  d/dx = 1 / (x ln b),
    conjugated for complex x."""
    complex_ok = True

    @ieee
    def forward(self, a, *, base):
        self.save_for_backward(a)
        self.ln_base = _LN2 if base == 2 else _LN10
        xp = backend.xp_of(a)
        wide = _in_float64(a)             # (numpy's float32 log10(1e10) is 10.000001)
        return (xp.log2(wide) if base == 2 else xp.log10(wide)).astype(a.dtype, copy=False)

    def backward(self, g):
        a, = self.saved_tensors
        return div(g, conj_of(mul(a, self.ln_base)))


class _Exp2(Function):
    """2^x by numpy's exp2: exact powers of two (exp(x ln 2) is not: 16 comes out
    15.999999999999998).  d/dx = 2^x ln 2, conjugated for complex x."""
    complex_ok = True

    @ieee
    def forward(self, a):
        out = backend.xp_of(a).exp2(_in_float64(a)).astype(a.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors
        return mul(g, conj_of(mul(out, _LN2)))


def _floating_input(input):
    """``input`` in a floating dtype (integers and bools in the default one)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input._array.dtype.kind not in "fcV":
        return cast(input, dtypes.default_float().np)
    return input


def log2(input):
    """log base 2 (for float16 and bfloat16 in float32, rounded once, as PyTorch)."""
    if isinstance(input, Tensor) and reduced_float(input._array.dtype):
        return cast(log2(cast(input, _FLOAT32)), input._array.dtype)
    return rename_node(_LogBase.apply(_floating_input(input), base=2), "Log2Backward0")


def exp2(input):
    """2^x (for float16 and bfloat16 in float32, rounded once, as PyTorch)."""
    if isinstance(input, Tensor) and reduced_float(input._array.dtype):
        return cast(exp2(cast(input, _FLOAT32)), input._array.dtype)
    return rename_node(_Exp2.apply(_floating_input(input)), "Exp2Backward0")


def log10(input):
    """log base 10 (for float16 and bfloat16 in float32, rounded once, as PyTorch)."""
    if isinstance(input, Tensor) and reduced_float(input._array.dtype):
        return cast(log10(cast(input, _FLOAT32)), input._array.dtype)
    return rename_node(_LogBase.apply(_floating_input(input), base=10), "Log10Backward0")


def _type_label(x):
    return "Tensor" if isinstance(x, Tensor) else type(x).__name__


def _check_lerp(input, end, weight):
    """PyTorch's checks of lerp's arguments, in its order; returns the computation dtype.

    ``input`` and ``end`` are tensors of one dtype; a tensor ``weight`` has that dtype too,
    unless it is 0-d (then it takes part in type promotion, as a 0-d operand does); a number
    weight must fit the float (double for float64) it is converted to.  The dtype must be
    floating.
    """
    if not (isinstance(input, Tensor) and isinstance(end, Tensor)) or \
            not isinstance(weight, (Tensor, bool, int, float, complex, np.number)):
        exc = TypeError(f"lerp() received an invalid combination of arguments - got "
                        f"({', '.join(_type_label(x) for x in (input, end, weight))}), but "
                        "expected (Tensor input, Tensor end, Tensor weight) or (Tensor input, "
                        "Tensor end, Number weight)")
        # (the wrappers list the signatures for the call, a method's or a function's)
        exc.argument = ArgumentError("lerp", None, None, weight if isinstance(end, Tensor)
                                     else end)
        raise exc
    check_python_int(weight)
    dtype = input._array.dtype
    checked = [("end", end)] + ([("weight", weight)] if isinstance(weight, Tensor) and
                                weight.ndim else [])
    for name, other in checked:
        if other._array.dtype != dtype:
            raise RuntimeError(f"expected dtype {CPP_NAMES[dtype.name]} for `{name}` but got "
                               f"dtype {CPP_NAMES[other._array.dtype.name]}")
    shape = broadcast_shape(tuple(input.shape), tuple(end.shape), "lerp")
    if isinstance(weight, Tensor):
        broadcast_shape(shape, tuple(weight.shape), "lerp")
        dtype = result_dtype(input, end, weight)
    if dtype.kind not in "fcV":
        raise not_implemented_for("lerp_kernel_tensor" if isinstance(weight, Tensor) else
                                  "lerp_kernel_scalar", dtype)
    if not isinstance(weight, Tensor) and dtype.kind in "fV":
        compute = "double" if dtype.itemsize == 8 else "float"
        limit = float(np.finfo(np.float64 if dtype.itemsize == 8 else np.float32).max)
        w = complex(weight)
        if w.imag != 0 or (math.isfinite(w.real) and abs(w.real) > limit):
            raise RuntimeError(f"value cannot be converted to type {compute} without overflow")
    return dtype


def _lerp_weight(weight, dtype, compute):
    """A number weight as PyTorch's kernel reads it: a complex result's type, whose parts must
    fit it (PyTorch's overflow error), or the real type it computes in (float32 for float16,
    bfloat16 and float32: 1e40 becomes inf there, without numpy's overflow warning)."""
    w = complex(weight)
    if dtype.kind == "c":
        limit = float(np.finfo(dtype).max)
        if any(np.isfinite(p) and abs(p) > limit for p in (w.real, w.imag)):
            raise RuntimeError(f"value cannot be converted to type {dtypes.c_type_name(dtype)} "
                               "without overflow")
        return w
    with np.errstate(over="ignore"):
        return float(np.asarray(w.real).astype(compute))


def lerp(input, end, weight):
    """input + weight (end - input); weight a number or a tensor (all broadcast).

    As PyTorch, computed from the nearer end: input + w (end - input) where |w| < 0.5, else
    end - (end - input)(1 - w), so that w = 1 gives exactly ``end`` even when far apart.
    """
    dtype = _check_lerp(input, end, weight)
    # float16 and bfloat16 are computed in float32 and rounded once, as PyTorch's kernel does
    compute = np.dtype(np.float32) if reduced_float(dtype) else dtype
    input, end = cast(input, compute), cast(end, compute)
    diff = sub(end, input)
    if not isinstance(weight, Tensor):
        w = _lerp_weight(weight, dtype, compute)
        out = add(input, mul(diff, w)) if abs(w) < 0.5 else sub(end, mul(diff, 1.0 - w))
    else:
        weight = cast(cast(weight, dtype), compute)
        near = abs(weight._array) < 0.5
        arrays = (input._array, end._array, weight._array)
        if not all(a.flags.c_contiguous for a in arrays):
            # where's result follows its condition first, PyTorch's lerp its input: the
            # condition laid out as lerp's result
            shape = broadcast_shape(tuple(diff.shape), near.shape, "lerp")
            near = mf.pointwise_layout(backend.xp_of(near).broadcast_to(near, shape), arrays)
        out = where(near, add(input, mul(weight, diff)), sub(end, mul(diff, sub(1.0, weight))))
    # PyTorch's node: LerpBackward0 for a number weight, LerpBackward1 for a tensor
    return rename_node(cast(out, dtype), f"LerpBackward{int(isinstance(weight, Tensor))}")


class Trunc(StepFunction):
    pass


def lerp_(input, end, weight):
    """In-place lerp: input + weight (end - input) written into ``input``, whose shape the
    broadcast shape must be; returns ``input``."""
    if not isinstance(end, Tensor) or \
            not isinstance(weight, (Tensor, bool, int, float, complex, np.number)):
        got = [_type_label(x) for x in (end, weight)]
        bad = ", ".join(g if ok else f"!{g}!" for g, ok in zip(
            got, (isinstance(end, Tensor), not isinstance(weight, str) and
                  isinstance(weight, (Tensor, numbers.Number)))))
        raise TypeError(f"lerp_() received an invalid combination of arguments - got "
                        f"({', '.join(got)}), but expected one of:\n"
                        f" * (Tensor end, Tensor weight)\n      didn't match because some of "
                        f"the arguments have invalid types: ({bad})\n"
                        f" * (Tensor end, Number weight)\n      didn't match because some of "
                        f"the arguments have invalid types: ({bad})\n")
    try:            # lerp's dtype checks come first, then the shape, then the kernel's dtype
        _check_lerp(input, end, weight)
    except NotImplementedError:
        check_out_shape(input, (end, weight))
        raise
    check_out_shape(input, (end, weight))
    check_partial_overlap(input._array, (end, weight))
    result = lerp(input, end, weight)
    if tuple(result.shape) != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    if not can_cast_inplace(result._array.dtype, input._array.dtype):
        # integers with a floating weight tensor: a float result, not written into them
        raise RuntimeError(f"result type {kind_name(result._array.dtype)} can't be cast to the "
                           f"desired output type {kind_name(input._array.dtype)}")
    done = write_visiting(input, lerp, end, weight)       # (elements sharing memory)
    if done is not None:
        return done
    return named_write(input, result.grad_fn.name() if result.grad_fn is not None else "",
                       setitem, input, Ellipsis, result)      # LerpBackward0 / 1, as lerp's


def trunc(input):
    """Round toward zero; as PyTorch, the result requires grad when input does, and the
    gradient is 0 (a step function).  An integer input comes back copied; bool is refused."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("trunc", input)
    if input._array.dtype.kind == "b":
        raise not_implemented_for("trunc_vml_cpu", input._array.dtype)
    if input._array.dtype.kind == "c":
        raise NotImplementedError("trunc is not supported for complex inputs")
    if input._requires_grad:
        return Trunc.apply(input, fn=lambda xp, x: xp.trunc(x))
    return _no_grad_unary(input, lambda xp, x: xp.trunc(x))


def frac(input):
    """x - trunc(x), floating input only: the gradient passes through unchanged."""
    _check_floating(input, "frac", "frac_cpu")
    return rename_node(sub(input, trunc(input)), "FracBackward0")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol |other|, elementwise (bool, no gradient).  Both must be
    tensors of one dtype (PyTorch does not promote here); their shapes broadcast."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("isclose", input)
    if not isinstance(other, Tensor):
        raise TypeError(f"isclose(): argument 'other' (position 2) must be Tensor, not "
                        f"{type(other).__name__}")
    a, b = input._array, other._array
    if a.dtype != b.dtype:
        raise RuntimeError(f"{scalar_type_name(a.dtype)} did not match "
                           f"{scalar_type_name(b.dtype)}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if tol < 0:
            raise RuntimeError(f"{name} must be greater than or equal to zero, but got {tol:g}")
    broadcast_shape(tuple(a.shape), tuple(b.shape), "isclose")
    close = backend.xp_of(a).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return Tensor._wrap(mf.pointwise_result(close, a, b))


def _replacement(value, name):
    """A nan_to_num replacement value as a float (None stays None); PyTorch's TypeError for
    anything that is not a real number."""
    if value is None or isinstance(value, Tensor) and value.ndim == 0:
        return None if value is None else float(value.item())
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        return float(value)
    raise argument_error("nan_to_num", name, "float", value)


class NanToNum(Function):
    """NaN -> nan, +inf -> posinf, -inf -> neginf (each cast to input's dtype, where it may
    overflow to inf as PyTorch's cast does). Backward: g * isfinite(x), as PyTorch (a NaN
    gradient at a replaced element stays NaN)."""
    def forward(self, a, *, nan, posinf, neginf):
        xp = backend.xp_of(a)
        info = xp.finfo(a.dtype)
        self.finite = xp.isfinite(a)
        with np.errstate(over="ignore"):         # 1e10 in float16 is inf, silently as in torch
            fills = [xp.asarray(info.max if posinf is None else posinf).astype(a.dtype),
                     xp.asarray(info.min if neginf is None else neginf).astype(a.dtype),
                     xp.asarray(0.0 if nan is None else nan).astype(a.dtype)]
        out = xp.where(xp.isnan(a), fills[2], a)
        out = xp.where(a == xp.inf, fills[0], out)
        out = xp.where(a == -xp.inf, fills[1], out)
        # PyTorch's result is empty_like(a): a's own strides where a is dense (a size-1
        # dim's too), else a dense layout in a's order
        if type(out) is not np.ndarray or mf.exactly_row_major(a):
            return out
        return mf.restrided(out, mf.target_strides(a, mf.preserve_format))

    def backward(self, g):
        return mul(g, Tensor._wrap(self.finite.astype(g._array.dtype)))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default 0 and the
    dtype's largest and lowest finite values); an integer or bool input comes back copied."""
    if not isinstance(input, Tensor):
        raise not_a_tensor("nan_to_num", input)
    values = {k: _replacement(v, k) for k, v in
              (("nan", nan), ("posinf", posinf), ("neginf", neginf))}
    if input._array.dtype.kind not in "fcV":
        return clone(input)
    if input._array.dtype.kind == "c":
        # each part replaced on its own, as PyTorch; without a gradient (PyTorch has none)
        if input.requires_grad and is_grad_enabled():
            raise RuntimeError("nan_to_num does not support automatic differentiation for "
                               "outputs with complex dtype.")
        with no_grad():
            parts = [NanToNum.apply(Tensor._wrap(p), **values)._array
                     for p in (input._array.real, input._array.imag)]
        return Tensor._wrap(parts[0] + 1j * parts[1]).to(input.dtype)
    if input._array.dtype == dtypes.BFLOAT16:
        # its float32 kernel (see Function.apply) would take float32's limits for infinities
        info = dtypes.np_finfo(input._array.dtype)
        values["posinf"] = float(info.max) if values["posinf"] is None else values["posinf"]
        values["neginf"] = float(info.min) if values["neginf"] is None else values["neginf"]
    return NanToNum.apply(input, **values)


def nan_to_num_(input, nan=0.0, posinf=None, neginf=None):
    """In-place nan_to_num; returns ``input``."""
    if isinstance(input, Tensor) and input._array.dtype.kind in "biu":
        return input            # (no NaN nor infinity to replace: PyTorch writes nothing)
    return setitem(input, Ellipsis, nan_to_num(input, nan, posinf, neginf))


class Fmod(Function):
    """C's fmod: a - trunc(a / b) * b, the remainder with the sign of the dividend (``-3 fmod
    2 = -1``, where ``remainder`` gives 1); NaN for a float divisor 0, an error for an integer
    one.

    Backward: d/da = 1, d/db = -trunc(a / b), the quotient rounded by ``div``'s
    rounding_mode="trunc": kept on the graph (under create_graph the divisor's gradient
    depends on a and b, as PyTorch's does) with a zero derivative, even where b is 0 (no
    0 / 0 there, as in PyTorch).
    """
    def forward(self, a, b):
        if a.dtype.kind == "b":
            raise not_implemented_for("fmod_cpu", a.dtype)
        if a.dtype.kind in "iu" and a.size and b.size and bool((b == 0).any()):
            raise RuntimeError("ZeroDivisionError")         # (an empty result divides nothing)
        self.save_for_backward(a, b)
        return mf.pointwise_result(backend.xp_of(a).fmod(a, b), a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        return (sum_to(g, tuple(a.shape)) if self.needs_input_grad[0] else None,
                sum_to(mul(neg(g), div(a, b, rounding_mode="trunc")), tuple(b.shape))
                if self.needs_input_grad[1] else None)


def fmod(input, other):
    """Elementwise remainder of input / other with the sign of ``input`` (C's fmod), after
    PyTorch's type promotion and broadcasting; see ``Fmod``."""
    if isinstance(other, np.ndarray):
        refuse_array("fmod", other)
    # PyTorch's node: FmodBackward0 for a number other, FmodBackward1 for a tensor
    node = Fmod.renamed("FmodBackward1") if isinstance(other, Tensor) else Fmod
    return _binary(node, input, other, "fmod")


def fmod_(input, other):
    """In-place fmod: ``input`` becomes fmod(input, other) (the broadcast shape must be
    input's, the promoted dtype castable to input's); returns ``input``."""
    return _binary_inplace(Fmod, input, other, "fmod_")


def masked_select(input, mask):
    """The elements of ``input`` where the bool ``mask`` (broadcast) is True, as a 1-d tensor."""
    check_tensor("masked_select", input)
    check_tensor("masked_select", mask, "mask", 2)
    m = mask._array if isinstance(mask, Tensor) else mask
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_select: expected BoolTensor for mask (got a mask of dtype "
                           f"{m.dtype})")
    dtypes.refuse_unsigned("masked_select", input._array.dtype)   # (no uint16/32/64 kernel)
    xp = backend.xp_of(input._array)
    # (the mask first: PyTorch's words name it tensor a)
    shape = tuple(broadcast_shape(tuple(m.shape), tuple(input.shape), "masked_select"))
    flat = reshape_to(expand_to(input, shape), (int(math.prod(shape)),))
    where_true = xp.flatnonzero(xp.broadcast_to(m, shape))
    return IndexSelect.renamed("MaskedSelectBackward0").apply(flat, index=where_true, dim=0)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: (count, ndim) int64, or one 1-d tensor per dim (a 0-d
    input counting as 1-d there)."""
    check_tensor("nonzero", input)
    dtypes.refuse_unsigned("nonzero_count_cpu", input._array.dtype)   # (nor here)
    if as_tuple is not True and as_tuple is not False:
        as_tuple = bool_arg("nonzero", "as_tuple", as_tuple)
    xp = backend.xp_of(input._array)
    found = xp.nonzero(input._array if input.ndim else input._array.reshape(1))
    if as_tuple:
        return tuple(Tensor._wrap(f.astype("int64")) for f in found)
    # laid out as PyTorch's: each coordinate's column contiguous, strides (1, count) (a 0-d
    # input: one row without coordinates if its value is non-zero)
    count = found[0].size
    if input.ndim and count:
        return Tensor._wrap(xp.stack(found, axis=0).astype("int64").T)
    empty = xp.zeros((count, input.ndim), "int64")
    return Tensor._wrap(xp.lib.stride_tricks.as_strided(empty, strides=(8, 8 * count)))
