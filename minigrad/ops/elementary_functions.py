"""The elementary functions, pointwise: ``exp``, ``log``, ``log1p``, ``sqrt``, ``rsqrt``,
``square``, ``abs``, ``sin``, ``cos``, ``tanh``, ``sigmoid``.  ``pow`` is in ``power.py``.

Derivatives, as their backwards compute them (conjugated for complex inputs)::

    exp' = exp            log' = 1 / x          log1p' = 1 / (1 + x)    sqrt' = 1 / (2 sqrt x)
    sin' = cos            cos' = -sin           tanh' = 1 - tanh^2      sigmoid' = s (1 - s)
    abs' = sign(x)

Integer and bool inputs of exp, log, sqrt, sin... compute in the default float dtype
(``_unary``).
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes, parallel
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._half_rounding import _tail_positions
from ._util import FLOAT32_64 as _FLOATS, ieee, torch_sign
from .elementwise import add, cast, mul, neg, sub
from .division import div
from ._slope_blocks import BLOCK, cos_slope, sigmoid_slope, sin_slope, slope_times, tanh_slope
from .plumbing import cast_to, conj_of
from .pointwise_select import _piecewise_grad, where


# ----------------------------------------------------------------------------------------------
# exp, log, log1p, sqrt, abs, sin, cos, tanh, sigmoid
# ----------------------------------------------------------------------------------------------
class Exp(Function):
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        out = backend.xp_of(a).exp(a)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))   # a's layout
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors      # d(e^a)/da = e^a: the output itself
        return mul(g, conj_of(out))


class Log(Function):
    complex_ok = True
    saved_names = ("self",)

    @ieee
    def forward(self, a):
        self.save_for_backward(a)
        out = backend.xp_of(a).log(a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    @ieee
    def backward(self, g):
        a, = self.saved_tensors        # d(log a)/da = 1/a
        return div(g, conj_of(a))


class Log1p(Function):
    _node_name = "Log1PBackward0"                           # PyTorch's spelling
    half_in_float32 = True          # float16 too: in float32, rounded once
    complex_ok = True

    @ieee
    def forward(self, a):
        self.save_for_backward(a)
        out = backend.xp_of(a).log1p(a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    @ieee
    def backward(self, g):
        a, = self.saved_tensors        # 1 / (1 + a)
        return div(g, conj_of(add(a, 1)))


class Sqrt(Function):
    complex_ok = True
    saved_names = ("result",)

    @ieee
    def forward(self, a):
        out = backend.xp_of(a).sqrt(a)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))   # a's layout
        self.save_for_backward(out)
        return out

    @ieee
    def backward(self, g):
        out, = self.saved_tensors      # d(sqrt a)/da = 1 / (2 sqrt a)
        return div(g, mul(conj_of(out), 2))


class Rsqrt(Function):
    """1 / sqrt(a), two roundings, as PyTorch's vectorised kernel; its backward PyTorch's
    -g / 2 * r^3 from the result r (so a later in-place write into r makes it refuse)."""
    complex_ok = True
    saved_names = ("result",)

    @ieee
    def forward(self, a):
        if a.dtype in _FLOATS and a.flags.c_contiguous and type(a) is np.ndarray and a.ndim:
            # block by block in cache, the root's buffer the result: one pass over memory
            out = np.empty(a.shape, a.dtype)
            parallel.map_pieces(_rsqrt_blocks, a.reshape(-1), out.reshape(-1))
            self.save_for_backward(out)
            return out
        out = 1 / backend.xp_of(a).sqrt(a)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))
        self.save_for_backward(out)
        return out

    @ieee
    def backward(self, g):
        out, = self.saved_tensors
        return mul(mul(g, -0.5), conj_of(mul(mul(out, out), out)))


def _rsqrt_blocks(x, out):
    """out = 1 / sqrt(x) for 1-D float32/float64 arrays, block by block (two roundings, as
    PyTorch's vectorised kernel and the op's other path)."""
    one = x.dtype.type(1)
    with np.errstate(divide="ignore", invalid="ignore"):    # (per thread: each piece's own)
        for b in range(0, x.size, BLOCK):
            ob = out[b:b + BLOCK]
            np.sqrt(x[b:b + BLOCK], out=ob)
            np.divide(one, ob, out=ob)


class Abs(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        out = backend.xp_of(a).abs(a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    def backward(self, g):
        a, = self.saved_tensors
        if a._array.dtype.kind == "c":
            # |z| = sqrt(x^2 + y^2): d|z|/dx + i d|z|/dy = z / |z| = sgn(z) (0 at z = 0, as
            # PyTorch); z is divided by 1 at 0, so that sgn's own derivative there is
            # PyTorch's 0, not 0 / 0
            r = abs(a)
            zero = r._array == 0
            unit = where(zero, 0.0, div(a, where(zero, 1.0, r))) if zero.any() else div(a, r)
            return mul(cast_to(g, a._array.dtype), unit)
        # sign(a); 0 at 0 and at NaN, as PyTorch
        return _piecewise_grad(self, g, torch_sign(backend.xp_of(a._array), a._array), False, a)


class Sin(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        out = backend.xp_of(a).sin(a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    def backward(self, g):
        a, = self.saved_tensors        # cos(a)
        fast = slope_times(g, a, sin_slope)
        return fast if fast is not None else mul(g, conj_of(cos(a)))


class Cos(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        out = backend.xp_of(a).cos(a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    def backward(self, g):
        a, = self.saved_tensors        # -sin(a)
        fast = slope_times(g, a, cos_slope)
        return fast if fast is not None else mul(neg(g), conj_of(sin(a)))


class Tanh(Function):
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        out = backend.xp_of(a).tanh(a)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))   # a's layout
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors      # 1 - tanh^2, from the output
        fast = slope_times(g, out, tanh_slope)
        return fast if fast is not None else mul(g, conj_of(sub(1, mul(out, out))))


_SIGMOID_BLOCK = BLOCK


def _sigmoid_blocks(x, out):
    """out = 1 / (1 + e^-x) for 1-D numpy x, block by block in cache, as PyTorch's kernel
    computes it: e^-x overflows to inf for x below about -88.7 (float32) or -709 (float64),
    and the result is then 0, PyTorch's value there too (a stable split on x's sign kept
    subnormals PyTorch does not, and took seven passes where this takes four)."""
    with np.errstate(over="ignore"):
        for b in range(0, x.size, _SIGMOID_BLOCK):
            ob = out[b:b + _SIGMOID_BLOCK]
            np.negative(x[b:b + _SIGMOID_BLOCK], out=ob)
            np.exp(ob, out=ob)
            ob += 1
            np.divide(1, ob, out=ob)        # (numpy's reciprocal: twice a division's time)


def sigmoid_array(a):
    """sigmoid of a numpy float32/float64 array, as the op computes it (C order)."""
    out = np.empty(a.shape, a.dtype)
    parallel.map_pieces(_sigmoid_blocks, np.ascontiguousarray(a).reshape(-1), out.reshape(-1))
    return out


def dense_order(a):
    """For a numpy array that is dense and non-overlapping but not C-contiguous (a transpose,
    a permute): the axis order ``perm`` in which ``a.transpose(perm)`` is C-contiguous.  None
    for a C-contiguous array (one flag read: the common case stays as cheap) and for one with
    negative strides.  For one with gaps (a sliced view): the order PyTorch gives its result,
    the dims sorted by the input's strides (``a.transpose(perm)`` then needs a copy)."""
    if a.flags.c_contiguous or a.ndim < 2:
        return None
    perm = tuple(sorted(range(a.ndim), key=lambda d: -a.strides[d]))
    if a.transpose(perm).flags.c_contiguous:
        return perm
    if a.size == 0 or min(a.strides) < 0:
        return None
    perm = tuple(reversed(mf.iteration_order(a.shape, [mf.element_strides(a)])))
    return None if perm == tuple(range(a.ndim)) else perm


def empty_in_order(a, perm):
    """An uninitialised array of ``a``'s shape and dtype laid out as ``dense_order`` found
    ``a`` (C order for perm None): PyTorch's elementwise results keep such an input's
    strides."""
    if perm is None:
        return np.empty(a.shape, a.dtype)
    return np.empty([a.shape[d] for d in perm], a.dtype).transpose(np.argsort(perm))


class Sigmoid(Function):
    half_in_float32 = True          # float16 too: in float32, rounded once
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        xp, given = backend.xp_of(a), a
        if a.dtype.kind == "c":         # 1 / (1 + e^-a): no sign to split on
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                out = 1 / (1 + xp.exp(-a))
            self.save_for_backward(out)
            return out
        if xp is np and a.dtype in _FLOATS:
            perm = dense_order(a)               # a transposed input: its strides kept
            out = empty_in_order(a, perm)
            if perm is not None:
                a, flat_out = a.transpose(perm), out.transpose(perm)
            else:
                flat_out = out
            parallel.map_pieces(_sigmoid_blocks, np.ascontiguousarray(a).reshape(-1),
                                flat_out.reshape(-1))
        else:
            # Stable for large |a|: exp of a non-positive number only.
            e = xp.exp(-xp.abs(a))
            out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        if not given.flags.c_contiguous:
            # PyTorch's layout exactly (an expanded input's, a size-1 dim's stride too)
            out = mf.pointwise_layout(out, (given,))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors      # s (1 - s), from the output
        s, ga = out._array, g._array
        if not is_grad_enabled() and type(s) is np.ndarray and s.dtype == np.float32 and \
                dtypes.reduced_float(ga.dtype):
            # float16 / bfloat16: PyTorch's slope reads its saved 16-bit result, in float32,
            # rounded once (the float32 s kept here is that result before its rounding)
            s = dtypes.astype(dtypes.astype(s, ga.dtype), np.float32)
            slope = dtypes.astype(ga, np.float32) * (1 - s) * s
            return Tensor._wrap(dtypes.astype(slope, ga.dtype))
        fast = slope_times(g, out, sigmoid_slope)
        return fast if fast is not None else mul(g, conj_of(mul(out, sub(1, out))))


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
def _unary(fn, a, floating=True, **params):
    if not isinstance(a, Tensor):
        fn.apply(a)         # PyTorch's TypeError, naming the argument's type
    if floating and a._array.dtype.kind not in "fcV":
        a = cast(a, dtypes.default_float().np)
    return fn.apply(a, **params)


def exp(a):
    return _unary(Exp, a)


def log(a):
    return _unary(Log, a)


def log1p(a):
    return _unary(Log1p, a)


def sqrt(a):
    return _unary(Sqrt, a)


# bool: refused in its own words below; uint16/32/64: no kernel in PyTorch
_NO_ABS = frozenset((np.dtype(bool),)) | dtypes.BAREBONES_UNSIGNED


def abs(a):
    if a._array.dtype in _NO_ABS:
        dtypes.refuse_unsigned("abs_cpu", a._array.dtype)
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool' (abs of a bool "
                                  "tensor; cast it with .int() or .float() first)")
    return Abs.apply(a)


def sin(a):
    return _unary(Sin, a)


def cos(a):
    return _unary(Cos, a)


def tanh(a):
    return _unary(Tanh, a)


def sigmoid(a):
    return _unary(Sigmoid, a)


def square(a):
    """a * a; a bool tensor squares as int64 (PyTorch computes it as pow(a, 2))."""
    if isinstance(a, Tensor) and a._array.dtype in _NO_ABS:     # (bool, uint16/32/64)
        dtypes.refuse_unsigned("pow", a._array.dtype)          # (PyTorch's square is pow)
        a = cast(a, dtypes.result_type(a._array, 2))
    return rename_node(mul(a, a), "PowBackward0")       # PyTorch's square is pow(a, 2)


def _scalar_tail_rsqrt(x, out, lanes=32):
    """The elements PyTorch's 16-bit rsqrt computes one at a time, the square root rounded to
    the 16-bit dtype, then its reciprocal, written into ``out`` (the result, laid out as
    PyTorch's).  PyTorch's iterator walks ``out`` in memory order, in runs along which ``x``
    steps by one element (or stays put): the last ``run % 32`` of each run go one at a time
    (``_half_rounding._tail_positions``); where ``x`` steps by more (a strided view such as
    ``x[:, ::2]``) every element does.  (``lanes``: 64 for bfloat16 ``pow(x, -0.5)``,
    whose kernel steps two vectors at a time.)"""
    if type(x) is not np.ndarray or type(out) is not np.ndarray or not x.size:
        return
    order = sorted(range(out.ndim), key=lambda d: -out.strides[d])     # (no negative steps)
    walk, flat_out = x.transpose(order), out.transpose(order)
    if not flat_out.flags.c_contiguous:
        return
    run = _one_step_run(walk)
    where = _tail_positions(x.size, run, lanes) if run else slice(None)
    if where is None:
        return
    f32 = np.dtype("float32")
    root = dtypes.astype(dtypes.astype(np.sqrt(dtypes.astype(walk.reshape(-1)[where], f32)),
                                       x.dtype), f32)
    with np.errstate(divide="ignore", invalid="ignore"):
        flat_out.reshape(-1)[where] = dtypes.astype(np.float32(1) / root, x.dtype)


def _one_step_run(x):
    """The length of the innermost run PyTorch's iterator forms over ``x`` (in the order it
    is given): its trailing dims that merge into one walk of step one element (or zero); 0
    where the innermost step is another (no vectorised run)."""
    dims = [(n, step) for n, step in zip(x.shape, x.strides) if n != 1]
    if not dims:
        return x.size
    n, step = dims[-1]
    if step not in (0, x.itemsize):
        return 0
    run = n
    for (m, outer), (inner_n, inner_step) in zip(dims[-2::-1], dims[:0:-1]):
        if outer != inner_step * inner_n:
            break
        run *= m
    return run


class HalfRsqrt(Function):
    """rsqrt of a float16 / bfloat16 array as PyTorch's kernel computes it: the root and its
    reciprocal in float32, rounded once, but at the elements its scalar loop takes
    (``_scalar_tail_rsqrt``); the backward PyTorch's formula in the 16-bit dtype,
    ``(-0.5 g) r^3``, each op rounding (r: the result, kept)."""
    saved_names = ("result",)
    _node_name = "RsqrtBackward0"

    @ieee
    def forward(self, a, *, dtype):
        # (``dtype``, a's own: given, it keeps Function.apply from widening a bfloat16 ``a``
        # to float32, so that the 16-bit result is what backward reads, as PyTorch's)
        f32 = np.dtype("float32")
        out = np.asarray(dtypes.astype(np.float32(1) / np.sqrt(dtypes.astype(a, f32)),
                                       a.dtype))
        if not a.flags.c_contiguous:
            out = mf.pointwise_layout(out, (a,))
        _scalar_tail_rsqrt(a, out)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors
        if out._array.dtype != np.float16:
            # bfloat16's pow(r, 3): r * r rounded to bfloat16, then times r, rounded again
            return mul(mul(g, -0.5), mul(mul(out, out), out))
        # r^3 as PyTorch's pow(r, 3) of a float16 makes it: the product in float32 (r^2 is
        # exact there), rounded once to float16
        wide = cast(out, np.dtype("float32"))
        return mul(mul(g, -0.5), cast(mul(mul(wide, wide), wide), out._array.dtype))


def rsqrt(a):
    # rounded once, as PyTorch's vectorised kernel (its scalar loop for fewer than a vector's
    # elements rounds the bfloat16 square root first)
    if not (isinstance(a, Tensor) and dtypes.reduced_float(a._array.dtype)):
        return _unary(Rsqrt, a)
    if type(a._array) is np.ndarray:        # (float16 and bfloat16: PyTorch's backward)
        return HalfRsqrt.apply(a, dtype=a._array.dtype)
    out = cast(div(1.0, sqrt(cast(a, np.dtype("float32")))), a._array.dtype)
    _scalar_tail_rsqrt(a._array, out._array)
    out = rename_node(out, "RsqrtBackward0")
    # PyTorch's node reads its result (-r^3 / 2): a later in-place write into it makes the
    # backward refuse, as there
    return keep_for_backward(out, out)
