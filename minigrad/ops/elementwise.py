"""Pointwise ops: arithmetic, math functions, activations, comparisons.

Each ``Function`` has its forward (on arrays) and, right below it, its backward: the local
derivative times the incoming gradient ``g``, written with these same Tensor ops, so that the
gradient can itself be differentiated (``create_graph=True``).  Binary ops broadcast like
NumPy; their backward sums the gradient back to each input's shape (``sum_to``).
"""
from __future__ import annotations

import sys
import warnings

import numpy as np

from .. import backend, dtypes, parallel
from ..autograd import Function
from ..autograd.engine import frees_saved_values
from ..autograd.function import keep_for_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor, tensor as _number_tensor
from ._util import (broadcast_shape, check_python_int, ieee, ieee_errors, not_implemented_for,
                    python_type_name, result_dtype, scalar_type_name, to_tensor_like, torch_sign)
from .plumbing import Cast, cast_to, conj_of, sum_to
from .writes import apply_inplace


# ----------------------------------------------------------------------------------------------
# Binary arithmetic
# ----------------------------------------------------------------------------------------------
class Add(Function):
    complex_ok = True
    saved_fields = {"alpha": lambda node: 1}    # add(a, b, alpha=k) records k * b first

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return parallel.binary(np.add, a, b)

    def backward(self, g):
        # d(a+b)/da = d(a+b)/db = 1
        sa, sb = self.shapes
        return (sum_to(g, sa) if self.needs_input_grad[0] else None,
                sum_to(g, sb) if self.needs_input_grad[1] else None)


class Sub(Function):
    complex_ok = True
    saved_fields = {"alpha": lambda node: 1}

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        return parallel.binary(np.subtract, a, b)

    def backward(self, g):
        sa, sb = self.shapes
        return (sum_to(g, sa) if self.needs_input_grad[0] else None,
                sum_to(neg(g), sb) if self.needs_input_grad[1] else None)


class Mul(Function):
    half = False
    complex_ok = True
    saved_for_input = (1, 0)          # a is read only for b's gradient, b only for a's
    saved_names = ("self", "other")

    def forward(self, a, b, *, half=False):
        self.save_for_backward(a, b)
        out = parallel.binary(np.multiply, a, b)
        if half:        # a float16 a times a float32 scalar b, computed in float32 (half_scalar)
            self.half = True
            with np.errstate(over="ignore"):       # past float16's range: inf, silently
                return out.astype(a.dtype)
        return out

    def backward(self, g):
        # d(ab)/da = b, d(ab)/db = a (conjugated for complex inputs, as every holomorphic
        # op's: a real loss's gradient at a is g * conj(d out / d a)); a is kept only when b
        # needs a gradient and b only when a does
        a, b = self.saved_tensors
        (shape_a, _), (shape_b, _) = self._in_meta
        ga = gb = None
        if self.needs_input_grad[0]:
            # (half: the scalar again, as a number, so that g * b is in float32 too)
            ga = sum_to(mul(g, b.item() if self.half else conj_of(b)), shape_a)
        if self.needs_input_grad[1]:
            gb = sum_to(mul(g, conj_of(a)), shape_b)
        return ga, gb


class Div(Function):
    half = False
    complex_ok = True
    saved_for_input = (1, None)       # a is read only for b's gradient; b for both
    saved_names = ("self", "other")

    @ieee
    def forward(self, a, b, *, half=False):
        self.save_for_backward(a, b)
        if half:        # a float16 a over a float32 scalar b, computed in float32 (half_scalar)
            self.half = True
            return (a / b).astype(a.dtype)
        return a / b

    @ieee
    def backward(self, g):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        a, b = self.saved_tensors      # a kept only when b needs a gradient
        (shape_a, _), (shape_b, _) = self._in_meta
        if self.half:
            b = b.item()            # the scalar again, as a number: g / b in float32 too
        else:
            b = conj_of(b)
        return (sum_to(div(g, b), shape_a) if self.needs_input_grad[0] else None,
                sum_to(div(mul(neg(g), conj_of(a)), mul(b, b)), shape_b)
                if self.needs_input_grad[1] else None)


def _c_pow(xp, a, b):
    """a ** b as C's pow, PyTorch's tensor-exponent kernel: numpy takes an exponent of 0.5
    that it reads with stride 0 (a scalar, a broadcast axis) as sqrt, whose (-inf) ** 0.5
    is NaN (pow's is inf) and (-0) ** 0.5 is -0 (pow's +0)."""
    out = xp.power(a, b)
    if a.dtype.kind == "f" and b.size and (b == 0.5).any():
        half = b == 0.5
        out = xp.where(half & (a == 0), 0.0, xp.where(half & xp.isneginf(a), xp.inf, out))
        out = out.astype(a.dtype, copy=False)
    return out


class Pow(Function):
    complex_ok = True
    saved_names = ("self", "exponent", "result")

    @ieee
    def forward(self, a, b):
        if a.dtype.kind == "c":
            out = a ** b
        else:
            out = _c_pow(backend.xp_of(a), a, b)
        self.save_for_backward(a, b, out)
        return out

    @ieee
    def backward(self, g):
        # d(a^b)/da = b a^(b-1);  d(a^b)/db = a^b log(a)
        a, b, out = self.saved_tensors
        ga = gb = None
        if out._array.dtype.kind == "c":
            # the principal branch: conj(b a^(b-1)) and conj(a^b log a); a zero exponent
            # gives a zero gradient for a, as for real tensors
            if self.needs_input_grad[0]:
                ga = where(b._array == 0, 0.0, mul(g, conj_of(mul(b, pow(a, sub(b, 1))))))
                ga = sum_to(ga, a.shape)
            if self.needs_input_grad[1]:
                gb = where((a._array == 0) & (b._array.real >= 0), 0.0,
                           mul(g, conj_of(mul(out, log(a)))))
                gb = sum_to(gb, b.shape)
            return ga, gb
        if self.needs_input_grad[0]:
            ga = self._base_grad(g, a, b)
        if self.needs_input_grad[1]:
            # log(a): -inf at a = +-0 (so 0 ** -1 gives -inf, as PyTorch), NaN below
            positive = a._array > 0
            log_a = where(positive, log(where(positive, a, 1.0)),
                          Tensor._wrap(_nonpositive_log(a._array)))
            gb = where((a._array == 0) & (b._array >= 0), 0.0, mul(g, mul(out, log_a)))
            gb = sum_to(gb, b.shape)
        return ga, gb

    def _base_grad(self, g, a, b):
        """g b a^(b-1), PyTorch's formula with its pow (1 at NaN ** 0, so the second
        derivative of x ** 2 is 2 everywhere); exactly 0 where b = 0 (a^(b-1) may be inf)."""
        return sum_to(where(b._array == 0, 0.0, mul(g, mul(b, pow(a, sub(b, 1))))), a.shape)


def _nonpositive_log(a):
    """log of an array's non-positive elements: -inf at zero, NaN below it (and at NaN)."""
    xp = backend.xp_of(a)
    return xp.where(a == 0, -xp.inf, xp.nan).astype(a.dtype, copy=False)


class ScalarPow(Pow):
    """a ** e for a Python number e: PyTorch's scalar-exponent kernel, which takes e = 0.5
    as sqrt and e = -0.5 as rsqrt (NaN at -inf, where pow gives inf and 0), and its
    backward: a zero gradient without a graph for e = 0, else g e a^(e-1) with that same
    kernel (e - 1 a Python number again)."""

    saved_names = ("self", None, None)
    saved_fields = {"exponent": "exponent"}

    _node_name = "PowBackward0"

    @ieee
    def forward(self, a, b):
        e = b.item()
        if (e == 0.5 or e == -0.5) and a.dtype.kind in "fV":
            root = backend.xp_of(a).sqrt(a)
            out = root if e > 0 else (1 / root).astype(a.dtype, copy=False)
            self.save_for_backward(a, b, out)
            return out
        out = a ** b        # numpy's operator: x * x for 2, as PyTorch's scalar kernel
        self.save_for_backward(a, b, out)
        return out

    def _base_grad(self, g, a, b):
        e = b._array.item()
        if e == 0:
            return Tensor._wrap(backend.xp_of(a._array).zeros(a.shape, g._array.dtype))
        return sum_to(mul(g, mul(b, pow(a, e - 1))), a.shape)


class BoolExponentPow(Function):
    """a ** b for a bool exponent b (promoted to a's dtype): the value of Pow; its backward
    refuses as PyTorch's does (it computes b - 1, a subtraction PyTorch forbids on bools)."""
    def forward(self, a, b):
        with ieee_errors():
            return a ** b

    def backward(self, g):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


def select_grad(g, share):
    """g * share for a constant ``share`` array (a bool mask, or the fractions a tie splits),
    with exactly 0 where share is 0 even for a NaN or infinite g (NaN * 0 is NaN): PyTorch's
    selecting backwards (relu, clamp, maximum, max, max-pool) leave the unselected at 0."""
    xp = backend.xp_of(g._array)
    if not is_grad_enabled() and g._array.shape == share.shape:
        # no graph to record: the multiply and the check of its sum in one pass (split over
        # the threads), the product's pieces summed while they are still in cache
        out = xp.empty(share.shape, dtype=xp.result_type(g._array, share))
        sums = []

        def piece(gp, sp, op):
            # inf * 0 is NaN, silently (as PyTorch): the non-finite case is redone below;
            # numpy's error state is per thread, so it is set in each piece
            with np.errstate(invalid="ignore", over="ignore"):
                xp.multiply(gp, sp, out=op)
                sums.append(op.sum())
        parallel.map_pieces(piece, g._array, share, out)
        if all(xp.isfinite(t) for t in sums):
            return Tensor._wrap(out)
    elif xp.isfinite(g._array.sum()):
        # the common case, one multiply (an overflowing sum only takes the path below)
        return Mul.apply(g, Tensor._wrap(share))
    return where(share != 0, Mul.apply(g, Tensor._wrap(share)), 0.0)


class PiecewiseLinearGrad(Function):
    """``g * slope``: the first derivative of a piecewise-linear op (relu, leaky_relu, abs)
    whose derivative ``slope`` is a constant array (1 / 0 masks, slopes, signs), as it is
    recorded under ``create_graph``.  Input ``a`` is the op's own input: unused by the value,
    it is listed so that the gradient depends on it as PyTorch's does (``requires_grad``, a
    second ``grad`` with respect to it works).  Derivatives: d/dg = slope (``select``: exactly
    0 where slope is 0, even for a NaN gradient, as ``select_grad``), d/da = 0 (the slope is
    constant between kinks)."""
    def forward(self, g, a, *, slope, select):
        self.slope, self.select = slope, select
        xp = backend.xp_of(g)
        out = xp.asarray(g * slope, dtype=g.dtype)
        if select and out.dtype.kind in "fV":
            out = xp.where(slope == 0, out.dtype.type(0), out)
        return out

    def backward(self, gg):
        ga = None
        if self.needs_input_grad[1]:
            shape, dtype = self._in_meta[1]
            ga = Tensor._wrap(backend.xp_of(gg._array).zeros(shape, dtype=dtype))
        if not self.needs_input_grad[0]:
            return None, ga
        gg = select_grad(gg, self.slope) if self.select else mul(gg, Tensor._wrap(self.slope))
        return gg, ga


def _input_on_graph(node, i, like):
    """Input ``i`` of ``node`` as a tensor on the autograd graph, for a backward that did not
    save it: the leaf itself, or a stand-in output of the node that produced it (a read-only
    zero array of its shape and dtype, on ``like``'s device: only its place in the graph is
    used, never its values)."""
    src, nr = node.next_functions_[i]
    if isinstance(src, Tensor):
        return src
    shape, dtype = node._in_meta[i]
    xp = backend.xp_of(like)
    stand_in = Tensor._wrap(xp.broadcast_to(xp.zeros((), dtype=dtype), shape), True)
    stand_in.grad_fn, stand_in._output_nr = src, nr
    return stand_in


def _piecewise_grad(node, g, slope, select, a=None):
    """``g * slope`` for a piecewise-linear op's backward: one multiply when nothing is
    recorded; under create_graph a ``PiecewiseLinearGrad`` on the op's input ``a`` (found
    from the node's graph edge when it was not saved)."""
    if not is_grad_enabled():
        return select_grad(g, slope) if select else mul(g, Tensor._wrap(slope))
    if a is None:
        a = _input_on_graph(node, 0, slope)
    return PiecewiseLinearGrad.apply(g, a, slope=slope, select=select)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return backend.xp_of(a).maximum(a, b)

    def backward(self, g):
        # The larger input gets the gradient; ties split it in half (as PyTorch).
        a, b = self.saved_tensors
        share_a, share_b = _shares(a._array, b._array, g._array.dtype)
        return (sum_to(select_grad(g, share_a), a.shape) if self.needs_input_grad[0] else None,
                sum_to(select_grad(g, share_b), b.shape) if self.needs_input_grad[1] else None)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return backend.xp_of(a).minimum(a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        share_a, share_b = _shares(b._array, a._array, g._array.dtype)   # = -max(-a, -b)
        return (sum_to(select_grad(g, share_a), a.shape) if self.needs_input_grad[0] else None,
                sum_to(select_grad(g, share_b), b.shape) if self.needs_input_grad[1] else None)


def _shares(a, b, dtype):
    """How maximum(a, b) splits its gradient, as PyTorch: all of it to the larger input, half
    each at a tie, and all of it to *both* where either is NaN (neither is smaller)."""
    xp = backend.xp_of(a)
    share_a = xp.where(a == b, 0.5, xp.where(a < b, 0.0, 1.0)).astype(dtype, copy=False)
    share_b = xp.where(a == b, 0.5, xp.where(a > b, 0.0, 1.0)).astype(dtype, copy=False)
    return share_a, share_b


class Where(Function):
    complex_ok = True

    def forward(self, a, b, *, condition):
        self.condition = condition
        self.shapes = a.shape, b.shape
        return backend.xp_of(a).where(condition, a, b)

    def backward(self, g):
        c = self.condition
        return (sum_to(where(c, g, 0.0), self.shapes[0]) if self.needs_input_grad[0] else None,
                sum_to(where(c, 0.0, g), self.shapes[1]) if self.needs_input_grad[1] else None)


# ----------------------------------------------------------------------------------------------
# Unary math
# ----------------------------------------------------------------------------------------------
class Neg(Function):
    complex_ok = True

    def forward(self, a):
        return -a

    def backward(self, g):
        return neg(g)


class Exp(Function):
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        out = backend.xp_of(a).exp(a)
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
        return backend.xp_of(a).log(a)

    @ieee
    def backward(self, g):
        a, = self.saved_tensors        # d(log a)/da = 1/a
        return div(g, conj_of(a))


class Log1p(Function):
    half_in_float32 = True          # float16 too: in float32, rounded once
    complex_ok = True

    @ieee
    def forward(self, a):
        self.save_for_backward(a)
        return backend.xp_of(a).log1p(a)

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
        self.save_for_backward(out)
        return out

    @ieee
    def backward(self, g):
        out, = self.saved_tensors      # d(sqrt a)/da = 1 / (2 sqrt a)
        return div(g, mul(conj_of(out), 2))


class Abs(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        return backend.xp_of(a).abs(a)

    def backward(self, g):
        a, = self.saved_tensors
        if a._array.dtype.kind == "c":
            # |z| = sqrt(x^2 + y^2): d|z|/dx + i d|z|/dy = z / |z| (0 at z = 0, as PyTorch)
            r = abs(a)
            return mul(cast_to(g, a._array.dtype), where(r._array == 0, 0.0, div(a, r)))
        # sign(a); 0 at 0 and at NaN, as PyTorch
        return _piecewise_grad(self, g, torch_sign(backend.xp_of(a._array), a._array), False, a)


class Sin(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        return backend.xp_of(a).sin(a)

    def backward(self, g):
        a, = self.saved_tensors        # cos(a)
        return mul(g, conj_of(cos(a)))


class Cos(Function):
    complex_ok = True
    saved_names = ("self",)

    def forward(self, a):
        self.save_for_backward(a)
        return backend.xp_of(a).cos(a)

    def backward(self, g):
        a, = self.saved_tensors        # -sin(a)
        return mul(neg(g), conj_of(sin(a)))


class Tanh(Function):
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        out = backend.xp_of(a).tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors      # 1 - tanh^2, from the output
        return mul(g, conj_of(sub(1, mul(out, out))))


class Sigmoid(Function):
    half_in_float32 = True          # float16 too: in float32, rounded once
    complex_ok = True
    saved_names = ("result",)

    def forward(self, a):
        xp = backend.xp_of(a)
        if a.dtype.kind == "c":         # 1 / (1 + e^-a): no sign to split on
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                out = 1 / (1 + xp.exp(-a))
            self.save_for_backward(out)
            return out
        # Stable for large |a|: exp of a non-positive number only.
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors      # s (1 - s), from the output
        return mul(g, conj_of(mul(out, sub(1, out))))


class Relu(Function):
    keeps_input = False                 # it keeps its output, not its input

    saved_names = ("result",)

    def forward(self, a):
        # Backward needs only where the output is positive: the output is kept, as PyTorch
        # keeps it. The next layer (a convolution, a pool) usually holds it anyway, so relu
        # adds no memory of its own; a bool mask beside it was a quarter of it again (16 MB
        # of a ResNet step's 154). An in-place write to it later is caught, as in PyTorch.
        xp = backend.xp_of(a)
        out = xp.empty_like(a)
        parallel.map_pieces(_max_zero, a, out)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        # 1 where the output is positive (or NaN: PyTorch passes the gradient where not
        # out <= 0), else 0: a constant, so the second derivative is 0
        out, = self.saved_tensors
        if not is_grad_enabled():
            arr = out._array
            # the output freed right after this (no retain_graph), kept plainly (no
            # saved-tensor hooks, which may keep the tensor themselves) and held by nobody
            # else (no tensor, no view: references from this node, ``out``, ``arr`` and the
            # call): the gradient is written over it, and the backward allocates nothing
            reuse = (frees_saved_values() and getattr(self, "_packed", False) is True and
                     sys.getrefcount(arr) <= 4)
            del out
            return Tensor._wrap(_pass_where_positive(g._array, arr, reuse))
        return _piecewise_grad(self, g, ~(out._array <= 0), True)


# numpy's maximum of an array and a scalar runs a plain C loop; of two arrays, its SIMD loop:
# against a block of zeros, max(x, 0) ran 2.8x faster (0.14 ms instead of 0.39 for LeNet's
# 64x20x24x24 maps, one thread). A block of 64K numbers stays in cache; smaller ones cost
# more calls (4K: no faster than the scalar)
_ZERO_BLOCK = 1 << 16
_zero_blocks = {}           # dtype -> a read-only block of zeros, made on first use


def _max_zero(x, o):
    """o = max(x, 0), NaN kept (numpy's maximum propagates it), as PyTorch's relu."""
    xp = backend.xp_of(x)
    if xp is not np or x.dtype.name not in ("float32", "float64") or x.shape != o.shape or \
            not (x.flags.c_contiguous and o.flags.c_contiguous):
        xp.maximum(x, x.dtype.type(0), out=o)
        return
    x, o = x.reshape(-1), o.reshape(-1)
    zeros = _zero_blocks.get(x.dtype)
    if zeros is None:
        zeros = np.zeros(_ZERO_BLOCK, dtype=x.dtype)
        zeros.flags.writeable = False
        zeros = _zero_blocks.setdefault(x.dtype, zeros)
    for s in range(0, x.size, _ZERO_BLOCK):
        e = min(x.size, s + _ZERO_BLOCK)
        np.maximum(x[s:e], zeros[:e - s], out=o[s:e])


# Relu's backward works through its arrays in blocks of this many numbers: the block's
# comparison stays in cache, where a whole bool mask was a quarter of the output again. Each
# block is five numpy calls, so small blocks cost Python time, and on two threads each call is
# a chance for the other thread to take the interpreter lock: 16x32x64x64 took 1.8-2.0 ms (one
# thread) and 2.0-3.8 ms (two) in 32K blocks, 1.4 and 1.2 ms in 512K blocks (no better for
# larger blocks or the whole array)
_RELU_BLOCK = 1 << 19


def _pass_where_positive(g, out, overwrite=False):
    """g where not out <= 0, else exactly 0 (a NaN or infinite g included, as PyTorch's
    threshold_backward): g, out (same shape) -> a new array, or ``out`` itself, overwritten,
    when ``overwrite`` allows and the layouts match."""
    xp = backend.xp_of(out)
    dtype = xp.result_type(g, out)
    reuse = (overwrite and dtype == out.dtype and g.shape == out.shape and xp is np and
             out.flags.c_contiguous and out.flags.writeable)
    res = out if reuse else xp.empty(out.shape, dtype=dtype)
    if not (g.shape == out.shape and g.dtype == res.dtype and xp is np and
            g.flags.c_contiguous and out.flags.c_contiguous):
        stop = out <= 0                   # before res (which may be out) is written
        xp.copyto(res, g)
        xp.copyto(res, 0, where=stop)
        return res

    # g * (not out <= 0), block by block while the block is in cache; inf * 0 is NaN, so a
    # block whose products are not all finite (a dot product tells, nearly free) has its
    # stopped cells set to 0 again: exact, and a masked copy (10x slower than the multiply)
    # only in such blocks. rp may be op: each block is read before it is written.
    fast_check = res.dtype.name in ("float32", "float64")

    def piece(gp, op, rp):
        with np.errstate(invalid="ignore", over="ignore"):   # per thread: set in each piece
            blocks(gp, op, rp)

    def blocks(gp, op, rp):
        passes = xp.empty(min(_RELU_BLOCK, op.size), dtype=bool)
        for s in range(0, op.size, _RELU_BLOCK):
            e = min(op.size, s + _RELU_BLOCK)
            m, r = passes[:e - s], rp[s:e]
            xp.less_equal(op[s:e], 0, out=m)
            xp.logical_not(m, out=m)
            xp.multiply(gp[s:e], m, out=r)
            if not xp.isfinite(xp.dot(r, r) if fast_check else r.sum()):
                xp.copyto(r, 0, where=~m)
    parallel.map_pieces(piece, g.reshape(-1), out.reshape(-1), res.reshape(-1))
    return res


class LeakyRelu(Function):
    half_in_float32 = True          # float16 too: in float32, rounded once
    keeps_input = False                 # only the new slopes array

    def forward(self, a, *, negative_slope):
        self.slope = backend.xp_of(a).where(a > 0, a.dtype.type(1), a.dtype.type(negative_slope))
        return a * self.slope

    def backward(self, g):
        return _piecewise_grad(self, g, self.slope, False)   # 1 or the slope: a constant


class Clamp(Function):
    def forward(self, a, *, min, max):
        self.save_for_backward(a)
        self.bounds = min, max
        return backend.xp_of(a).clip(a, min, max)

    def backward(self, g):
        # The gradient passes where the input was inside [min, max] (bounds included).
        a = self.saved_tensors[0]._array
        lo, hi = self.bounds
        mask = True
        if lo is not None:
            mask = mask & (a >= lo)
        if hi is not None:
            mask = mask & (a <= hi)
        if mask is True:
            return g
        return select_grad(g, mask)


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
def _binary(fn, a, b, name, true_divide=False):
    """Apply a binary Function after PyTorch's type promotion and a clear broadcast check."""
    if not isinstance(a, Tensor):
        if not isinstance(b, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(a).__name__} and "
                            f"{type(b).__name__}")
        a = _scalar_or_tensor(a, b, name, true_divide)
    elif not isinstance(b, Tensor):
        b = _scalar_or_tensor(b, a, name, true_divide)
    aa, ba = a._array, b._array
    if aa.dtype == ba.dtype and not (true_divide and aa.dtype.kind in "biu"):
        # the common case: nothing to promote (two equal dtypes promote to themselves)
        broadcast_shape(aa.shape, ba.shape, name)
        return fn.apply(a, b)
    dtype = dtypes.result_type(a._array, b._array)
    if true_divide and dtype.kind in "biu":
        dtype = dtypes.default_float().np
    broadcast_shape(a._array.shape, b._array.shape, name)
    return fn.apply(cast(a, dtype), cast(b, dtype))


def _scalar_or_tensor(value, like, name, true_divide=False):
    if type(value) not in _PYTHON_NUMBERS and isinstance(value, np.generic):
        # PyTorch reads a numpy scalar as the Python number it holds, so np.float16(2) weighs
        # as a Python float (int32 tensor * it is float32), and np.bool_ as a float too
        value = float(value) if isinstance(value, np.bool_) else value.item()
    if isinstance(value, (bool, int, float, complex)):
        check_python_int(value)
        dtype = dtypes.result_type(like._array, value)
        if true_divide and dtype.kind in "biu":
            # true division computes in floating point: the number keeps its value there
            # (uint8 / -3 divides by -3, not by -3 wrapped to 253)
            dtype = dtypes.default_float().np
        if isinstance(value, int) and not isinstance(value, bool) and dtype.kind in "iu":
            bits = dtype.itemsize * 8
            # PyTorch wraps the number into the tensor's integer type, two's complement
            # (uint8 + 300 adds 44); numpy would raise OverflowError
            value &= (1 << bits) - 1
            if dtype.kind == "i" and value >= 1 << (bits - 1):
                value -= 1 << bits
        return to_tensor_like(value, like, dtype=dtype)
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # a numpy array
        return Tensor._wrap(backend.to_device(value, like.device))
    raise TypeError(f"{name}: unsupported operand type {type(value).__name__}; expected a "
                    "Tensor or a number")


def cast(t, dtype):
    """``t`` in ``dtype`` (a DType or numpy dtype); ``t`` itself when it already is."""
    np_dtype = dtype.np if isinstance(dtype, dtypes.DType) else dtype
    if t._array.dtype == np_dtype:
        return t
    if t.requires_grad and np_dtype.kind not in "fcV":
        return Cast.apply(t.detach(), dtype=np_dtype)
    return Cast.apply(t, dtype=np_dtype)


def _check_alpha(alpha, dtype):
    """PyTorch's checks of the ``alpha`` of add/sub against the result ``dtype``: a bool alpha
    only for a bool result, a float one only for a floating result, and a value the dtype holds
    (an unsigned type takes negatives down to -max, as its two's complement)."""
    if isinstance(alpha, (bool, np.bool_)):
        if dtype.kind != "b":
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
        return
    if isinstance(alpha, (complex, np.complexfloating)):
        if dtype.kind == "c":
            return
        raise RuntimeError("For non-complex input tensors, argument alpha must not be a complex "
                           "number.")
    if not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"add(): argument 'alpha' must be Number, not {type(alpha).__name__}")
    if dtype.kind in "biu" and not isinstance(alpha, (int, np.integer)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        low = -int(info.max) if dtype.kind == "u" else int(info.min)
        fits = low <= int(alpha) <= info.max
    elif dtype.kind in "fV" and dtype.itemsize < 8:
        limit = float(dtypes.np_finfo(dtype).max)
        fits = not np.isfinite(alpha) or -limit <= float(alpha) <= limit
    else:
        fits = True
    if not fits:
        raise RuntimeError(f"value cannot be converted to type {dtype.name} without overflow "
                           f"(alpha={alpha!r})")


def _scaled(a, b, alpha, name):
    """alpha * b for a +- alpha * b: in the result dtype of a and b, as PyTorch (a float16 b
    with a float32 a is scaled in float32, without overflowing float16 on the way)."""
    if isinstance(alpha, Tensor):
        alpha = alpha.item()
    if type(alpha) is int and alpha == 1:
        return b
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")
    dtype = result_dtype(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        broadcast_shape(a._array.shape, b._array.shape, name)   # PyTorch checks shapes first
    _check_alpha(alpha, dtype)
    if not isinstance(b, Tensor):
        b = _scalar_or_tensor(b, a, name)
    if dtype.kind == "b":
        alpha = bool(alpha)      # a bool result: alpha b is b and alpha
    elif dtype.kind in "iu":
        alpha = int(alpha)
    else:
        alpha = complex(alpha) if dtype.kind == "c" else float(alpha)
    return _binary(Mul, cast(b, dtype), alpha, "mul")


_NUMBER_TYPES = frozenset((bool, int, float, complex))


def _first_number(a, b):
    """add, sub, mul and div, as in PyTorch, take two Python numbers (``torch.add(2, 3.5)`` is
    ``tensor(5.5)``): the first is then read as ``torch.tensor(a)``."""
    if type(a) in _NUMBER_TYPES and type(b) in _NUMBER_TYPES:
        return _number_tensor(a)
    return a


def add(a, b, *, alpha=1):
    """a + alpha * b, in PyTorch's promoted dtype of a and b."""
    a = _first_number(a, b)
    return _binary(Add, a, _scaled(a, b, alpha, "add"), "add")


def _is_bool(x):
    return isinstance(x, bool) or (isinstance(x, Tensor) and x._array.dtype.kind == "b")


def sub(a, b, *, alpha=1):
    a = _first_number(a, b)
    if _is_bool(a) or _is_bool(b):
        # as PyTorch: a - b of booleans is ambiguous (xor? a mask's inverse?): refused
        if _is_bool(a) and _is_bool(b):
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator instead.")
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return _binary(Sub, a, _scaled(a, b, alpha, "sub"), "sub")


_FLOAT16 = np.dtype(np.float16)       # (numpy's dtype of every native float16 array)
_BF16 = dtypes.BFLOAT16
_PYTHON_NUMBERS = frozenset((bool, int, float))


def half_scalar(a, b):
    """``b`` as a 0-d float32 Tensor when PyTorch multiplies or divides the float16 tensor
    ``a`` by it in float32: its CPU kernels read a second operand that is a number or a 0-d
    tensor at float precision, so ``h * 0.1`` is ``float16(h * 0.1f)``, not ``h *
    float16(0.1)`` (an ulp apart).  None in every other case (then the usual promotion)."""
    if isinstance(b, Tensor):
        if b._array.ndim or b._requires_grad or b._array.dtype == _FLOAT16 or \
                b._array.dtype.kind not in "fiubV":
            return None
        value = b._array
    elif isinstance(b, (bool, int, float, np.integer, np.floating, np.bool_)):
        if isinstance(b, int):
            check_python_int(b)
        value = b
    else:
        return None
    if a._array.ndim == 0 and isinstance(b, Tensor):
        return None                 # two 0-d tensors: promoted as usual
    with np.errstate(over="ignore"):
        return Tensor._wrap(backend.xp_of(a._array).asarray(value, dtype=np.float32))


def mul(a, b):
    a = _first_number(a, b)
    if isinstance(a, Tensor) and (a._array.dtype is _FLOAT16 or a._array.dtype is _BF16):
        scalar = half_scalar(a, b)
        if scalar is not None:
            return Mul.apply(a, scalar, half=True)
    return _binary(Mul, a, b, "mul")


def div(a, b, *, rounding_mode=None):
    a = _first_number(a, b)
    if rounding_mode is None:
        if isinstance(a, Tensor) and (a._array.dtype is _FLOAT16 or a._array.dtype is _BF16):
            scalar = half_scalar(a, b)
            if scalar is not None:
                return Div.apply(a, scalar, half=True)
        return _binary(Div, a, b, "div", true_divide=True)
    if not isinstance(rounding_mode, str):
        raise TypeError(f"div(): argument 'rounding_mode' must be str, not "
                        f"{python_type_name(rounding_mode)}")
    if rounding_mode not in ("floor", "trunc"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    if not isinstance(a, Tensor):
        if isinstance(a, (bool, int, float, complex, np.number, np.bool_)):
            a = _number_tensor(a)    # PyTorch reads a number first operand as torch.tensor(a)
        else:
            raise TypeError(f"div(): argument 'input' (position 1) must be Tensor, not "
                            f"{python_type_name(a)}")
    if not isinstance(b, (Tensor, bool, int, float, complex, np.number, np.bool_)):
        raise TypeError(f"div(): argument 'other' (position 2) must be Tensor, not "
                        f"{python_type_name(b)}")
    dtype = result_dtype(a, b)
    if dtype.kind in "bc":
        raise not_implemented_for(f"div_{rounding_mode}_cpu", dtype)
    if dtype.kind in "iu":
        return _integer_div(a, b, dtype, rounding_mode)
    a_t = a if isinstance(a, Tensor) else _scalar_or_tensor(a, b, "div")
    b_t = b if isinstance(b, Tensor) else _scalar_or_tensor(b, a, "div")
    broadcast_shape(a_t._array.shape, b_t._array.shape, "div")
    av, bv = a_t._array.astype(dtype, copy=False), b_t._array.astype(dtype, copy=False)
    xp = backend.xp_of(av)
    with ieee_errors():
        # PyTorch's floor division of floats is numpy's: from fmod, the quotient the remainder
        # implies (1.0 // 0.1 is 9, as in Python, where floor(1.0 / 0.1) would be 10)
        q = xp.floor_divide(av, bv) if rounding_mode == "floor" else xp.trunc(av / bv)
    if is_grad_enabled() and (a_t._requires_grad or b_t._requires_grad):
        return RoundedDiv.apply(a_t, b_t, quotient=q)
    return Tensor._wrap(q)


class RoundedDiv(Function):
    """a / b rounded to an integral value (floor or trunc): a step function of both operands,
    so, as in PyTorch, the result requires grad and both gradients are zeros."""
    _node_name = "DivBackward2"           # PyTorch's node for a div with a rounding mode

    def forward(self, a, b, *, quotient):
        return quotient

    def backward(self, g):
        xp = backend.xp_of(g._array)
        return tuple(Tensor._wrap(xp.zeros(shape, dtype)) if need else None
                     for (shape, dtype), need in zip(self._in_meta, self.needs_input_grad))


def _integer_div(a, b, dtype, rounding_mode):
    """Integer floor/trunc division in integers: exact past 2**53 (a float64 detour rounds), and
    PyTorch's ZeroDivisionError for a zero divisor (numpy returns 0 with a warning)."""
    like = a if isinstance(a, Tensor) else b
    xp = backend.xp_of(like._array)
    av = a._array if isinstance(a, Tensor) else xp.asarray(a)
    bv = b._array if isinstance(b, Tensor) else xp.asarray(b)
    broadcast_shape(tuple(av.shape), tuple(bv.shape), "div")
    av, bv = av.astype(dtype, copy=False), bv.astype(dtype, copy=False)
    if bool((bv == 0).any()):
        raise RuntimeError(f"ZeroDivisionError: integer division by zero (div with rounding_mode="
                           f"'{rounding_mode}' of {dtype} values; the divisor holds a 0)")
    with np.errstate(over="ignore"):    # the type's minimum over -1 wraps, silently as PyTorch
        q = xp.floor_divide(av, bv)
        if rounding_mode == "trunc":   # floor is one below trunc for an inexact negative quotient
            q = q + ((q * bv != av) & ((av < 0) != (bv < 0)))
    return Tensor._wrap(xp.asarray(q, dtype=dtype))


def pow(input, exponent):
    """input ** exponent (either may be a Python number, not both)."""
    a, b = input, exponent
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        refuse_array("pow", a, "self", 1)
        refuse_array("pow", b, "exponent")
    if isinstance(a, Tensor) and a._array.dtype.kind in "biu" and isinstance(b, int) and \
            not isinstance(b, bool) and b < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    if isinstance(a, Tensor) and a._array.dtype.kind in "iu" and isinstance(b, int) and \
            not isinstance(b, bool):
        # the exponent is converted to the base's integer type first, and must fit
        info = np.iinfo(a._array.dtype)
        if not info.min <= b <= info.max:
            c_name = {"int32": "int"}.get(a._array.dtype.name, f"{a._array.dtype.name}_t")
            raise RuntimeError(f"value cannot be converted to type {c_name} without overflow")
    if isinstance(b, Tensor) and b._array.dtype.kind in "iu":
        like = b
        a_t = a if isinstance(a, Tensor) else _scalar_or_tensor(a, b, "pow")
        dtype = dtypes.result_type(a_t._array, b._array)
        if dtype.kind in "iu":
            xp = backend.xp_of(like._array)
            # in the promoted dtype (a uint8 base wraps -1 to 255, as PyTorch)
            bv = b._array.astype(dtype, copy=False)
            if bool((bv < 0).any()):
                return _integer_pow_negative(xp, a_t._array.astype(dtype, copy=False), bv,
                                             dtype)
    if isinstance(a, bool) and isinstance(b, Tensor) and b._array.dtype.kind == "b":
        raise not_implemented_for("pow", b._array.dtype)       # True ** bool tensor: bool
    if isinstance(a, Tensor) and a._array.dtype.kind == "b" and \
            (isinstance(b, bool) or (isinstance(b, Tensor) and b._array.dtype.kind == "b")):
        # a bool result: PyTorch's pow kernel has no bool version; a Python bool exponent is
        # done without it (a ** True = a, a ** False = True)
        if isinstance(b, Tensor):
            raise not_implemented_for("pow", a._array.dtype)
        return Tensor._wrap(backend.xp_of(a._array).logical_or(a._array, not b))
    if isinstance(b, Tensor) and b._array.dtype.kind == "b" and isinstance(a, Tensor) and \
            a._array.dtype.kind in "fV":
        return _binary(BoolExponentPow, a, b, "pow")
    if isinstance(a, Tensor) and isinstance(b, (bool, int, float, np.number, np.bool_)):
        out = _binary(ScalarPow, a, b, "pow")
        if out.grad_fn is not None:     # the exponent as given, as PyTorch's node keeps it
            out.grad_fn.exponent = b.item() if isinstance(b, np.generic) else b
        return out
    return _binary(Pow, a, b, "pow")


def _integer_pow_negative(xp, av, bv, dtype):
    """Integer ** integer with negative exponents, as PyTorch: 1 ** -n = 1, (-1) ** -n = +-1,
    any other base ** -n = 0 (0 ** -n too)."""
    broadcast_shape(tuple(av.shape), tuple(bv.shape), "pow")
    negative = bv < 0
    with ieee_errors():
        out = xp.power(av, xp.where(negative, 0, bv).astype(dtype, copy=False))
    odd = (bv % 2) != 0
    reciprocal = xp.where(av == 1, 1, xp.where(av == -1, xp.where(odd, -1, 1), 0))
    return Tensor._wrap(xp.asarray(xp.where(negative, reciprocal, out), dtype=dtype))


def refuse_array(name, value, what="other", position=2):
    """PyTorch's TypeError for a numpy array given to a named op (``torch.pow(t, array)``);
    its operators (``t ** array``) take one, so they convert before calling the op."""
    if isinstance(value, np.ndarray):
        raise TypeError(f"{name}(): argument '{what}' (position {position}) must be Tensor, "
                        f"not numpy.ndarray")


def _two_tensors(name, a, b):
    """PyTorch's refusal of a number where an op takes only tensors (maximum, minimum)."""
    for what, value, pos in (("input", a, 1), ("other", b, 2)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {pos}) must be Tensor, not "
                            f"{type(value).__name__}")


def maximum(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        _two_tensors("maximum", a, b)
    refuse_complex_pair(a, b, "maximum")
    return _binary(Maximum, a, b, "maximum")


def minimum(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        _two_tensors("minimum", a, b)
    refuse_complex_pair(a, b, "minimum")
    return _binary(Minimum, a, b, "minimum")


def refuse_complex_pair(a, b, name):
    """maximum / minimum / fmax / fmin: complex numbers have no order (PyTorch's words)."""
    if a._array.dtype.kind == "c" or b._array.dtype.kind == "c":
        raise RuntimeError(f"{name} not implemented for complex tensors.")


def _two_numbers_dtype(a, b):
    """The dtype of ``where(cond, a, b)`` with two Python numbers: the larger kind of the two
    (bool < int64 < the default float < its complex dtype), as PyTorch."""
    kinds = ["b" if isinstance(v, (bool, np.bool_)) else
             "i" if isinstance(v, (int, np.integer)) else
             "c" if isinstance(v, (complex, np.complexfloating)) else "f" for v in (a, b)]
    kind = max(kinds, key="bifc".index)
    if kind == "c":
        return dtypes.default_float().to_complex().np
    return np.dtype(bool) if kind == "b" else np.dtype(np.int64) if kind == "i" else \
        dtypes.default_float().np


def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` is True, else of ``other`` (all three
    broadcast; either may be a Python number).  ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``."""
    a, b = input, other
    if a is None and b is None:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                            f"{type(condition).__name__}")
        c = condition._array                # a 0-d condition counts as 1-d, as nonzero's
        found = backend.xp_of(c).nonzero(c if c.ndim else c.reshape(1))
        return tuple(Tensor._wrap(f.astype("int64")) for f in found)
    if a is None or b is None:
        raise TypeError("where(): expected both 'input' and 'other' (or neither, for the "
                        "indices of the True elements of 'condition')")
    if isinstance(condition, (list, tuple, bool, int, float, complex)):  # (numpy masks: ok)
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                        f"{type(condition).__name__}")
    cond = condition._array if isinstance(condition, Tensor) else condition
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                            f"{type(condition).__name__}")
        dtype = _two_numbers_dtype(a, b)
        a = to_tensor_like(a, condition, dtype=dtype)
        b = to_tensor_like(b, condition, dtype=dtype)
    like = a if isinstance(a, Tensor) else b
    if not isinstance(a, Tensor):
        a = _scalar_or_tensor(a, like, "where")
    if not isinstance(b, Tensor):
        b = _scalar_or_tensor(b, like, "where")
    if getattr(cond, "dtype", None) == np.uint8:
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated and "
                      "will be removed in a future version of PyTorch. Use a boolean condition "
                      "instead.", UserWarning, stacklevel=2)
        cond = cond != 0
    if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
        got = (f"a tensor with dtype {scalar_type_name(cond.dtype)}"
               if getattr(cond, "dtype", None) is not None else type(condition).__name__)
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got {got} "
                           "(compare first, e.g. where(x > 0, a, b))")
    dtype = dtypes.result_type(a._array, b._array)
    broadcast_shape(broadcast_shape(a._array.shape, b._array.shape, "where"), cond.shape, "where")
    # the condition is kept for the backward, as PyTorch's where node keeps it
    return keep_for_backward(Where.apply(cast(a, dtype), cast(b, dtype), condition=cond),
                             condition)


def where_checked(condition, input=None, other=None):
    """``torch.where`` as PyTorch's parser takes it: no numpy array, list or tuple as the
    condition, input or other (minigrad's own ops call ``where``, which takes numpy masks)."""
    if isinstance(condition, np.ndarray) or isinstance(input, (np.ndarray, list, tuple)) or \
            isinstance(other, (np.ndarray, list, tuple)):
        got = ", ".join(python_type_name(v) for v in (condition, input, other) if v is not None)
        raise TypeError(f"where() received an invalid combination of arguments - got ({got}), "
                        f"but expected one of: (Tensor condition), (Tensor condition, Tensor "
                        f"input, Tensor other), (Tensor condition, Number self, Tensor other), "
                        f"(Tensor condition, Tensor input, Number other), (Tensor condition, "
                        f"Number self, Number other)")
    return where(condition, input, other)


where_checked.__name__ = where_checked.__qualname__ = "where"    # its name in messages


def _unary(fn, a, floating=True, **params):
    if not isinstance(a, Tensor):
        fn.apply(a)         # PyTorch's TypeError, naming the argument's type
    if floating and a._array.dtype.kind not in "fcV":
        a = cast(a, dtypes.default_float().np)
    return fn.apply(a, **params)


def neg(a):
    if a._array.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Neg.apply(a)


def exp(a):
    return _unary(Exp, a)


def log(a):
    return _unary(Log, a)


def log1p(a):
    return _unary(Log1p, a)


def sqrt(a):
    return _unary(Sqrt, a)


def abs(a):
    if a._array.dtype.kind == "b":
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


def relu(a):
    if isinstance(a, Tensor) and a._array.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if isinstance(a, Tensor) and a._array.dtype.kind == "c":     # PyTorch's relu is a clamp
        raise NotImplementedError("clamp is not supported for complex types")
    return Relu.apply(a)


def leaky_relu(a, negative_slope=0.01, inplace=False):
    """x for x >= 0, negative_slope * x below; ``inplace`` writes it back into ``a``."""
    if isinstance(a, Tensor) and a._array.dtype.kind not in "fV":
        raise not_implemented_for("leaky_relu_cpu", a._array.dtype)
    if inplace:
        return apply_inplace(a, LeakyRelu, negative_slope=negative_slope)
    return LeakyRelu.apply(a, negative_slope=negative_slope)


def clamp(a, min=None, max=None):
    """Limit every element to [min, max]; either bound may be None."""
    if not isinstance(a, Tensor):
        given = [python_type_name(a)] + ([python_type_name(min)] if min is not None else []) + \
            ([("max=" if min is None else "") + python_type_name(max)] if max is not None else [])
        raise TypeError(f"clamp() received an invalid combination of arguments - got "
                        f"({', '.join(given)}), but expected one of:\n"
                        " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out "
                        "= None)\n * (Tensor input, Number min = None, Number max = None, *, "
                        "Tensor out = None)\n")
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) != isinstance(max, Tensor) and min is not None and \
            max is not None and (min if isinstance(min, Tensor) else max)._array.size != 1:
        # PyTorch pairs two tensor bounds or two numbers (a one-element tensor reads as one)
        raise TypeError(f"clamp() received an invalid combination of arguments - got (Tensor, "
                        f"{python_type_name(min)}, {python_type_name(max)}), but expected "
                        f"(Tensor input, Tensor min, Tensor max) or (Tensor input, Number min, "
                        f"Number max)")
    if a._array.dtype.kind == "c" or any(isinstance(v, Tensor) and v._array.dtype.kind == "c"
                                         for v in (min, max)):
        raise NotImplementedError("clamp is not supported for complex types")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if all(isinstance(v, Tensor) and v._array.dtype.kind == "b" for v in (a, min, max)):
            # with both bounds PyTorch runs its clamp kernel, which has no Bool version (one
            # bound is a maximum/minimum, which has)
            raise not_implemented_for("clamp_cpu", np.dtype(bool))
        # PyTorch's clamp node keeps the input and both bounds for its backward
        return keep_for_backward(clamp_by_tensors(a, min, max), a, min, max)
    if a._array.dtype.kind not in "fV":
        # the bounds promote as PyTorch's (a float bound makes an int tensor float, an int
        # bound a bool tensor int64); there is no kernel for bool with bool bounds
        target = dtypes.result_type(a._array, *(v for v in (min, max) if v is not None))
        check_clamp_kind(a, min, max, target)
        if target != a._array.dtype:
            a = cast(a, target)
    return Clamp.apply(a, min=min, max=max)


def clamp_by_tensors(a, min, max):
    """clamp with a tensor bound (a number beside it is made a tensor like ``a``), all
    three promoted together; see ClampByTensors for the gradients."""
    bounds = [v if isinstance(v, Tensor) or v is None else _scalar_or_tensor(v, a, "clamp")
              for v in (min, max)]
    dtype = dtypes.result_type(a._array, *(v._array for v in bounds if v is not None))
    inputs = [cast(v, dtype) for v in (a, *bounds) if v is not None]
    for shape in (v._array.shape for v in inputs[1:]):
        broadcast_shape(inputs[0]._array.shape, shape, "clamp")
    return ClampByTensors.apply(*inputs, has_min=min is not None, has_max=max is not None)


class ClampByTensors(Function):
    """min(max(a, lo), hi) for tensor bounds, NaN wherever a or a bound is NaN (as PyTorch).

    Backward, as PyTorch's: ``a`` gets the gradient where lo <= a <= hi (bounds included, so
    ties do not split it); lo where lo > a and lo < hi; hi where hi < a or lo > hi. Every
    comparison with a NaN is False, so a NaN input or bound passes nothing on (but a bound
    above the other still hands the gradient to hi)."""
    def forward(self, a, *bounds, has_min, has_max):
        xp = backend.xp_of(a)
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        out = a if lo is None else xp.maximum(a, lo)      # maximum and minimum keep NaNs
        out = out if hi is None else xp.minimum(out, hi)
        shape = out.shape
        with np.errstate(invalid="ignore"):
            keep = xp.ones(shape, dtype=bool)
            if lo is not None:
                keep = keep & (a >= lo)
            if hi is not None:
                keep = keep & (a <= hi)
            masks = [keep]
            if lo is not None:
                masks.append((lo > a) & (lo < hi) if hi is not None else lo > a)
            if hi is not None:
                masks.append((hi < a) | (lo > hi) if lo is not None else hi < a)
        self.masks = [xp.broadcast_to(m, shape) for m in masks]
        self.shapes = [a.shape] + [b.shape for b in bounds]
        return out

    def backward(self, g):
        return tuple(sum_to(select_grad(g, mask), shape) if needed else None
                     for mask, shape, needed in zip(self.masks, self.shapes,
                                                    self.needs_input_grad))


def check_clamp_kind(a, min, max, target):
    """PyTorch's refusal of a bool clamp with number bounds (its scalar kernels have no Bool)."""
    if target.kind == "b":
        kernel = "clamp" if min is not None and max is not None else \
            "clamp_min" if min is not None else "clamp_max"
        raise not_implemented_for(f"{kernel}_scalar_cpu", a._array.dtype)


def clamp_min(a, min):
    """``clamp(a, min=min)``: every element at least ``min`` (a number or a tensor)."""
    return clamp(a, min=min)


def clamp_max(a, max):
    """``clamp(a, max=max)``: every element at most ``max`` (a number or a tensor)."""
    return clamp(a, max=max)


def square(a):
    """a * a; a bool tensor squares as int64 (PyTorch computes it as pow(a, 2))."""
    if isinstance(a, Tensor) and a._array.dtype.kind == "b":
        a = cast(a, dtypes.result_type(a._array, 2))
    return mul(a, a)


def rsqrt(a):
    # rounded once, as PyTorch's vectorised kernel (its scalar loop for fewer than a vector's
    # elements rounds the bfloat16 square root first)
    if isinstance(a, Tensor) and dtypes.reduced_float(a._array.dtype):
        return cast(div(1.0, sqrt(cast(a, np.dtype("float32")))), a._array.dtype)
    return div(1.0, sqrt(a))


class Remainder(Function):
    """a - floor(a / b) * b, Python's modulo with the sign of the divisor, computed by
    numpy's remainder (the formula gives NaN for 3 % inf, PyTorch and numpy give 3).

    Backward: d/da = 1, d/db = -floor(a / b) (a step function: no second derivative).
    """
    def forward(self, a, b):
        if a.dtype.kind == "b":
            raise NotImplementedError("\"remainder_cpu\" not implemented for 'Bool' (remainder "
                                      "of bool tensors; cast them with .int() first)")
        if a.dtype.kind in "iu" and bool((b == 0).any()):
            raise RuntimeError("ZeroDivisionError: integer remainder by zero (the divisor "
                               f"of a {a.dtype} remainder holds a 0)")
        self.save_for_backward(a, b)
        xp = backend.xp_of(a)
        if a.dtype.kind not in "fV":
            return xp.remainder(a, b)
        # PyTorch's: fmod moved to the divisor's side; a zero keeps fmod's sign (-3 % 3 is
        # -0.0, where numpy's remainder gives the divisor's sign, +0.0)
        mod = xp.fmod(a, b)
        return xp.where((mod != 0) & ((b < 0) != (mod < 0)), mod + b, mod)

    def backward(self, g):
        a, b = self.saved_tensors
        return (sum_to(g, tuple(a.shape)) if self.needs_input_grad[0] else None,
                sum_to(mul(neg(g), div(a, b, rounding_mode="floor")), tuple(b.shape))
                if self.needs_input_grad[1] else None)


def remainder(a, b):
    """Python's modulo, with the sign of the divisor (as torch.remainder); see Remainder."""
    if isinstance(b, np.ndarray) or isinstance(a, np.ndarray):
        refuse_array("remainder", a, "self", 1)
        refuse_array("remainder", b)
    return _binary(Remainder, a, b, "remainder")
