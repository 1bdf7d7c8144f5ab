"""More pointwise and scan ops found missing by running other projects' PyTorch-side tests:
``log2``, ``exp2``, ``log10``, ``lerp``, ``trunc``, ``frac``, ``isclose``, ``logcumsumexp``,
``cummax``, ``cummin``, ``masked_select``, ``nonzero``, ``nan_to_num``, ``fmod`` and
``scaled_dot_product_attention``.

All differentiable ones are compositions (log/exp with a constant factor, gather at indices
found with numpy, index_select on flat positions, softmax and matmul), so their first and
second derivatives come from those ops.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _memory_format as mf, _sdp_state, backend, dtypes
from ..dtypes import reduced_float
from .._random_factories import bernoulli_draws
from ..tensor import Tensor
from ._util import (bool_arg, broadcast_shape, check_python_int, check_tensor, ieee,
                    normalize_dim, not_a_tensor, not_implemented_for, result_dtype,
                    scalar_type_name)
from ..autograd import Function, no_grad
from ..autograd.function import rename_node
from ..autograd.grad_mode import is_grad_enabled
from .compare import StepFunction, _no_grad_unary, isnan
from .elementary_functions import exp, log
from .elementwise import _binary, add, refuse_array, cast, div, mul, neg, sub
from .pointwise_select import where
from .plumbing import conj_of
from .indexing import setitem
from .inplace import _binary_inplace, check_out_shape, named_write
from .matmul import matmul
from .movement import clone, transpose
from .plumbing import expand_to, reshape_to, sum_to
from .extrema import MaxResult, amax
from .reduce import sum as sum_
from .softmax import softmax
from . import attention_node
from .scatter_gather import CPP_NAMES, IndexSelect, gather
from .shaping import movedim
from .sorting import cumsum
from .writes import can_cast_inplace, check_partial_overlap, kind_name

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
        raise TypeError(f"lerp() received an invalid combination of arguments - got "
                        f"({', '.join(_type_label(x) for x in (input, end, weight))}), but "
                        "expected (Tensor input, Tensor end, Tensor weight) or (Tensor input, "
                        "Tensor end, Number weight)")
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
        limit = np.finfo(np.float64 if dtype.itemsize == 8 else np.float32).max
        w = complex(weight)
        if w.imag != 0 or (math.isfinite(w.real) and abs(w.real) > limit):
            raise RuntimeError(f"value cannot be converted to type {compute} without overflow")
    return dtype


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
        w = complex(weight) if dtype.kind == "c" else float(complex(weight).real)
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


def _check_floating(input, name, kernel):
    """A Tensor ``input`` of a floating dtype, as the kernel ``kernel`` of ``name`` needs."""
    if not isinstance(input, Tensor):
        raise not_a_tensor(name, input)
    if input._array.dtype.kind not in "fV":
        raise not_implemented_for(kernel, input._array.dtype)


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


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow or underflow (see
    ``_logcumsumexp``); the result's node is named as PyTorch's."""
    return rename_node(_logcumsumexp(input, dim), "LogcumsumexpBackward0")


def _logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow or underflow.

    When a slice's values span a modest range, one shift by its (constant) max is enough:
    log(cumsum(exp(x - m))) + m.  A wider range would underflow the early terms (exp(0 - 100)
    in float32), so each output i is shifted by its own running max m_i over an (n, n)
    triangle: out_i = m_i + log(sum_{j <= i} exp(x_j - m_i)).
    """
    if isinstance(input, Tensor):
        normalize_dim(dim, max(input.ndim, 1))      # PyTorch checks the dim before the dtype
        if input._array.dtype.kind == "c":
            return _complex_logcumsumexp(input, dim)
    _check_floating(input, "logcumsumexp", "logcumsumexp_out_cpu")
    if reduced_float(input._array.dtype):
        # float16 sums drift by a few units in the last place per term: float32 inside,
        # rounded once, as PyTorch
        return cast(_logcumsumexp(cast(input, _FLOAT32), dim), input._array.dtype)
    d = normalize_dim(dim, max(input.ndim, 1))
    if input.ndim == 0 or input.shape[d] == 0:
        return add(input, 0.0)
    xp = backend.xp_of(input._array)
    a = input._array
    finite = a[xp.isfinite(a)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    if spread < (60.0 if a.dtype.itemsize <= 4 else 600.0):
        m = amax(input, d, keepdim=True).detach()
        m = where(isnan(m) | (m.abs() == math.inf), 0.0, m)
        return add(log(cumsum(exp(sub(input, m)), d)), m)
    x = movedim(input, d, -1)
    n, lead = x.shape[-1], tuple(x.shape[:-1])
    m = xp.maximum.accumulate(x._array, axis=-1)
    # an infinite (or NaN) running max shifts by 0: inf - inf would make a NaN of the inf
    m = xp.where(xp.isfinite(m), m, 0.0).astype(x._array.dtype)
    running = Tensor._wrap(m[..., :, None])                                          # m_i
    rows = expand_to(reshape_to(x, lead + (1, n)), lead + (n, n))                    # [i, j]: x_j
    lower = xp.arange(n)[None, :] <= xp.arange(n)[:, None]                           # j <= i
    terms = exp(where(lower, sub(rows, running), -math.inf))
    out = add(log(sum_(terms, -1)), reshape_to(running, lead + (n,)))
    return movedim(out, -1, d)


def _complex_logcumsumexp(input, dim):
    """The complex logcumsumexp: each output i shifted by the running max m_i of the real
    parts (only they can overflow exp), over the (n, n) triangle as for a wide real range:
    out_i = m_i + log(sum_{j <= i} exp(x_j - m_i)).  PyTorch accumulates it as a scan of
    logaddexp, whose imaginary part is not wrapped into (-pi, pi]: it stays within pi of the
    larger operand's.  The principal value is moved by that multiple of 2 pi (``_scan_branch``,
    a constant, so the gradient exp(x_j - out_i) is unchanged)."""
    d = normalize_dim(dim, max(input.ndim, 1))
    if input.ndim == 0 or input.shape[d] == 0:
        return add(input, 0.0)
    xp = backend.xp_of(input._array)
    x = movedim(input, d, -1)
    n, lead = x.shape[-1], tuple(x.shape[:-1])
    m = xp.maximum.accumulate(x._array.real, axis=-1)
    m = xp.where(xp.isfinite(m), m, 0.0)[..., :, None]                           # m_i
    running = Tensor._wrap(m.astype(x._array.real.dtype))
    rows = expand_to(reshape_to(x, lead + (1, n)), lead + (n, n))                 # [i, j]: x_j
    lower = xp.arange(n)[None, :] <= xp.arange(n)[:, None]                        # j <= i
    terms = where(lower, exp(sub(rows, running)), 0.0)
    out = add(log(sum_(terms, -1)), reshape_to(running, lead + (n,)))
    out = add(out, Tensor._wrap(1j * _scan_branch(xp, x._array, out._array)))
    return movedim(out, -1, d)


def _scan_branch(xp, x, principal):
    """The 2 pi multiples that take the principal imaginary parts (..., n) of a complex
    logcumsumexp to those of PyTorch's logaddexp scan: out_0 = x_0, and each later out_i is
    within pi of the imaginary part of the larger-real-part operand of
    logaddexp(out_{i-1}, x_i).  A scan along the last axis, vectorised over the others."""
    two_pi = 2 * math.pi
    target = principal.imag.copy()
    target[..., 0] = x[..., 0].imag
    for i in range(1, x.shape[-1]):
        ref = xp.where(principal[..., i - 1].real >= x[..., i].real, target[..., i - 1],
                       x[..., i].imag)
        turn = principal[..., i].imag - ref
        target[..., i] = ref + turn - two_pi * xp.ceil((turn - math.pi) / two_pi)
    return xp.where(xp.isfinite(target), target - principal.imag, 0.0)


def _running_arg(xp, a, d, largest):
    """(running max/min values, the index of the latest element equal to it) along axis d.
    A NaN is the extreme from where it appears on (each later NaN takes the index over)."""
    acc = (xp.maximum if largest else xp.minimum).accumulate(a, axis=d)
    pos = xp.arange(a.shape[d]).reshape([-1 if k == d else 1 for k in range(a.ndim)])
    hit = a == acc
    if a.dtype.kind in "fV":
        hit |= xp.isnan(a)
    at = xp.where(hit, pos, 0)
    return xp.maximum.accumulate(at, axis=d).astype("int64")


def _cum_extreme(input, dim, largest, name):
    check_tensor(name, input)
    if input._array.dtype.kind == "c":           # complex numbers have no order
        raise not_implemented_for(f"{name}_cpu", input._array.dtype)
    if input.ndim == 0 or input._array.size == 0:
        # PyTorch takes any dim for an empty tensor and names its own for a 0-d one
        if not isinstance(dim, int) or isinstance(dim, bool):
            normalize_dim(dim, input.ndim)                  # the TypeError of a bad dim
        elif input.ndim == 0 and dim not in (-1, 0):
            raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
        none = Tensor._wrap(backend.xp_of(input._array).zeros(input.shape, "int64"))
        return MaxResult(clone(input), none, name)          # a copy, as PyTorch
    d = normalize_dim(dim, input.ndim)
    idx = Tensor._wrap(_running_arg(backend.xp_of(input._array), input._array, d, largest))
    return MaxResult(rename_node(gather(input, d, idx), f"{name.capitalize()}Backward0"), idx,
                     name)


def cummax(input, dim):
    """(running max, its index) along ``dim``; ties take the latest index, as PyTorch."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input, dim):
    return _cum_extreme(input, dim, False, "cummin")


def _replacement(value, name):
    """A nan_to_num replacement value as a float (None stays None); PyTorch's TypeError for
    anything that is not a real number."""
    if value is None or isinstance(value, Tensor) and value.ndim == 0:
        return None if value is None else float(value.item())
    if isinstance(value, (bool, int, float, np.integer, np.floating)):
        return float(value)
    raise TypeError(f"nan_to_num(): argument '{name}' must be float, not {type(value).__name__}")


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
    return setitem(input, Ellipsis, nan_to_num(input, nan, posinf, neginf))


class Fmod(Function):
    """C's fmod: a - trunc(a / b) * b, the remainder with the sign of the dividend (``-3 fmod
    2 = -1``, where ``remainder`` gives 1); NaN for a float divisor 0, an error for an integer
    one.

    Backward: d/da = 1, d/db = -trunc(a / b); trunc is a step function (derivative 0), kept
    on the graph so that under create_graph the divisor's gradient depends on a and b as
    PyTorch's does.
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
                sum_to(mul(neg(g), trunc(div(a, b))), tuple(b.shape))
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
    xp = backend.xp_of(input._array)
    shape = tuple(broadcast_shape(tuple(input.shape), tuple(m.shape), "masked_select"))
    flat = reshape_to(expand_to(input, shape), (int(math.prod(shape)),))
    where_true = xp.flatnonzero(xp.broadcast_to(m, shape))
    return IndexSelect.renamed("MaskedSelectBackward0").apply(flat, index=where_true, dim=0)


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: (count, ndim) int64, or one 1-d tensor per dim (a 0-d
    input counting as 1-d there)."""
    check_tensor("nonzero", input)
    if as_tuple is not True and as_tuple is not False:
        as_tuple = bool_arg("nonzero", "as_tuple", as_tuple)
    xp = backend.xp_of(input._array)
    found = xp.nonzero(input._array if input.ndim else input._array.reshape(1))
    if as_tuple:
        return tuple(Tensor._wrap(f.astype("int64")) for f in found)
    if input.ndim == 0:                     # one row (no coordinates) if the value is non-zero
        return Tensor._wrap(xp.zeros((found[0].size, 0), "int64"))
    return Tensor._wrap(xp.stack(found, axis=1).astype("int64"))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(Q K^T * scale + mask) V, with scale 1/sqrt(E) by default.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).  A bool
    ``attn_mask`` keeps True positions (the others get -inf); a float one is added.  A row with
    every position masked gives 0 (and a zero gradient), as PyTorch.
    ``is_causal`` masks positions j > i (beside an ``attn_mask`` too).  ``enable_gqa`` repeats key/value heads (dim -3)
    to match the query's.  ``dropout_p`` > 0 zeroes each attention weight with that
    probability and scales the others by 1 / (1 - p), whatever the module's training mode
    (as PyTorch; pass 0.0 for evaluation).  The kernel switches of ``nn.attention.sdpa_kernel``
    and ``backends.cuda.enable_*_sdp`` can refuse a call, as PyTorch's (``_sdp_state.py``).
    """
    if dropout_p > 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got "
                           f"{dropout_p}")
    if is_causal and attn_mask is not None and not _sdp_state.flash_cpu_takes(
            query, key, value, attn_mask, dropout_p, enable_gqa):
        # only PyTorch's CPU flash kernel takes both; its reference kernel refuses the pair
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    q_dtype, k_dtype, v_dtype = (t._array.dtype.name for t in (query, key, value))
    if not q_dtype == k_dtype == v_dtype:
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {CPP_NAMES[q_dtype]} key.dtype: {CPP_NAMES[k_dtype]} "
                           f"and value.dtype: {CPP_NAMES[v_dtype]} instead.")
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.ndim} key.dim: {key.ndim} and "
                           f"value.dim: {value.ndim} instead.")
    if attn_mask is not None and attn_mask._array.dtype.name not in ("bool", "float32",
                                                                     q_dtype):
        raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                           f"dtype, but got attn_mask.dtype: "
                           f"{CPP_NAMES[attn_mask._array.dtype.name]} and  query.dtype: "
                           f"{CPP_NAMES[q_dtype]} instead.")
    _sdp_state.check_kernel(query, key, value, dropout_p)
    # the kernel PyTorch picks names the result's node (a printed output shows it)
    flash = _sdp_state.flash_cpu_takes(query, key, value, attn_mask, dropout_p, enable_gqa)
    half = query._array.dtype if reduced_float(query._array.dtype) else None
    if half is not None:
        # as PyTorch's CPU kernels: half-precision attention is accumulated in float32 (the
        # float16 softmax and products alone were off by 2% of the output's scale)
        query, key, value = (cast(t, _FLOAT32) for t in (query, key, value))
        if attn_mask is not None and reduced_float(attn_mask._array.dtype):
            attn_mask = cast(attn_mask, _FLOAT32)
    if enable_gqa and min(query.ndim, key.ndim, value.ndim) >= 3:
        # key and value may each have fewer heads than query: each is repeated to match
        n_q = query.shape[-3]
        if n_q % key.shape[-3] or n_q % value.shape[-3]:
            raise RuntimeError("Number of heads in key and value must divide the number of "
                               "heads in ")
        key, value = _repeat_heads(key, n_q), _repeat_heads(value, n_q)
    e = query.shape[-1]
    s = 1.0 / math.sqrt(e) if scale is None else scale
    if flash and half is None and attention_node.fits(query, key, value, attn_mask):
        # the common case as one node (ops/attention_node.py)
        out = attention_node.attention(query, key, value, attn_mask, is_causal, s)
        return rename_node(out, "ScaledDotProductFlashAttentionForCpuBackward0")
    scores = mul(matmul(query, transpose(key, -2, -1)), s)
    xp = backend.xp_of(query._array)
    if attn_mask is not None:
        # PyTorch adds the mask into the scores in place: it may not enlarge them
        grown = broadcast_shape(tuple(scores.shape), tuple(attn_mask.shape))
        if grown != tuple(scores.shape):
            raise RuntimeError(f"output with shape {list(scores.shape)} doesn't match the "
                               f"broadcast shape {list(grown)}")
    if is_causal:
        # the causal mask (query i sees keys j <= i), and with an attn_mask as well both of
        # them (PyTorch 2.13's CPU kernels: a bool mask and-ed, a float one added to -inf)
        n_l, n_s = query.shape[-2], key.shape[-2]
        causal = xp.tril(xp.ones((n_l, n_s), dtype=bool))
        if attn_mask is None:
            attn_mask = Tensor._wrap(causal)
        elif attn_mask._array.dtype.kind == "b":
            attn_mask = Tensor._wrap(attn_mask._array & causal)
        else:
            attn_mask = add(attn_mask, Tensor._wrap(
                xp.where(causal, 0.0, -math.inf).astype(attn_mask._array.dtype)))
    if attn_mask is not None:
        # as PyTorch, a bool mask becomes a bias (0 kept, -inf masked) that is added: the
        # gradient of the scores reaches masked positions too (0, or NaN beside a NaN)
        bias = attn_mask._array
        if bias.dtype.kind == "b":
            bias = xp.where(bias, 0.0, -math.inf).astype(scores._array.dtype)
            attn_mask = Tensor._wrap(bias)
        with np.errstate(invalid="ignore"):     # inf + -inf is NaN, silently as in PyTorch
            scores = add(scores, cast(attn_mask, scores._array.dtype))
    weights = _safe_softmax(scores, xp)
    if dropout_p > 0:                     # a negative p drops nothing, as in PyTorch
        weights = _dropout_weights(weights, dropout_p)
    out = matmul(weights, value)
    out = cast(out, half) if half is not None else out
    return rename_node(out, "ScaledDotProductFlashAttentionForCpuBackward0") if flash else out


def _repeat_heads(t, n_heads):
    """(..., H, S, E) -> (..., n_heads, S, E), each head repeated n_heads // H times in place
    (head h serves query heads h*r .. h*r + r - 1), as grouped-query attention shares them."""
    if t.shape[-3] == n_heads:
        return t
    xp = backend.xp_of(t._array)
    heads = xp.repeat(xp.arange(t.shape[-3]), n_heads // t.shape[-3])
    return IndexSelect.apply(t, index=heads, dim=t.ndim - 3)


def _safe_softmax(scores, xp):
    """softmax over the last dim, but 0 (and a zero gradient) for a row whose scores are all
    -inf (fully masked), as PyTorch's attention, where plain softmax would give NaN."""
    dead = (scores._array == -math.inf).all(axis=-1, keepdims=True)
    if not dead.any():
        return softmax(scores, -1)
    weights = softmax(where(dead, 0.0, scores), -1)
    return where(dead, 0.0, weights)


def _dropout_weights(weights, p):
    """weights * keep / (1 - p), keep ~ Bernoulli(1 - p) drawn from minigrad's generator (as
    F.dropout draws it); all zeros when p is 1.  A product with a constant, so its first and
    second derivatives are mul's."""
    if p >= 1:
        return mul(weights, 0.0)
    keep = bernoulli_draws(None, tuple(weights.shape), 1.0 - p)
    scale = (keep / (1.0 - p)).astype(weights._array.dtype)
    return mul(weights, Tensor._wrap(backend.to_device(scale, weights.device)))
