"""Reductions along dimensions: sum, mean, prod, max/min, var/std, logsumexp, softmax.

Backward of a reduction spreads the output gradient back over the reduced axes: reshape it
with the reduced axes kept as size 1, then broadcast (``_spread``, Tensor ops, so that the
gradient can be differentiated again).
"""
from __future__ import annotations

import builtins  # this module defines sum, max, min, all, any: the builtins stay reachable
import math
import warnings

from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from ._util import (NO_DIM, Omitted, bool_arg, check_tensor, ieee_errors, normalize_dim,
                    normalize_dims, not_a_tensor, not_implemented_for, python_type_name,
                    scalar_type_name)
from .elementary_functions import exp
from .elementwise import Mul, cast, div, mul, sub
from .pointwise_select import maximum, minimum, select_grad, where
from .plumbing import cast_to, conj_of, expand_to, reshape_to


def _spread(g, in_shape, axes, keepdim):
    """The backward of a reduction, as Tensor ops: the reduced gradient (Tensor) reshaped with
    the reduced axes kept as size 1, then broadcast over the input's shape."""
    if not keepdim:
        shape = list(in_shape)
        for ax in axes:
            shape[ax] = 1
        g = reshape_to(g, shape)
    return expand_to(g, in_shape)


class Sum(Function):
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "axes", "keepdim": "keepdim", "self_sym_sizes": "in_shape"}

    def forward(self, a, *, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = a.shape, axes, keepdim
        # in a's own dtype: numpy widens small integers (int32 -> int64), torch does not
        return a.sum(axis=axes, keepdims=keepdim, dtype=a.dtype)

    def backward(self, g):
        # Every input element contributed once: it gets the output's gradient.
        return _spread(g, self.in_shape, self.axes, self.keepdim)


def _mean_array(a, axes, keepdims, count):
    """``a.mean(axis=axes)``; over no elements (count 0) NaN without numpy's "Mean of empty
    slice" warning, as PyTorch."""
    if count:
        return a.mean(axis=axes, keepdims=keepdims)
    with ieee_errors():
        return a.sum(axis=axes, keepdims=keepdims) / a.dtype.type(0)


class Mean(Function):
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"dim": "axes", "keepdim": "keepdim", "self_sym_sizes": "in_shape",
                    "self_sym_numel": lambda node: math.prod(node.in_shape)}

    def forward(self, a, *, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = a.shape, axes, keepdim
        self.count = 1
        for ax in axes:
            self.count *= a.shape[ax]
        return _mean_array(a, axes, keepdim, self.count)

    def backward(self, g):
        # Every input element contributed 1/count of the mean.
        return _spread(g / self.count, self.in_shape, self.axes, self.keepdim)


class Prod(Function):
    """Product over ``axis`` (None: every element).

    Backward: d prod / d a_i = the product of the *other* elements (conjugated for complex
    input: the gradient is g * conj(others)).  Without zeros that is ``out / a_i``
    (differentiable through the saved input and output, as torch).  With zeros
    it must be computed without dividing: on the plain first-order path from exclusive
    cumulative products (arrays, exact); under create_graph as the product of ``a`` with
    a_i replaced by 1, one row per i (an (n, n) intermediate per slice), which is again a
    ``Prod`` and so differentiable to any order, one zero or several.
    """
    complex_ok = True

    def forward(self, a, *, axis, keepdim):
        out = a.prod(axis=axis, keepdims=keepdim, dtype=a.dtype)    # as Sum: no widening
        self.save_for_backward(a, out)
        self.axis, self.keepdim = axis, keepdim
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        axes = tuple(range(a.ndim)) if self.axis is None else (self.axis,)
        g = _spread(g, a.shape, axes, self.keepdim)
        arr = a._array
        if arr.size == 0:            # nothing to differentiate (the product of nothing is 1)
            return Tensor._wrap(backend.xp_of(arr).zeros_like(arr))
        if not is_grad_enabled():    # first order only: exact arrays, nothing recorded
            others = _products_of_others(arr, self.axis)
            return Mul.apply(g, Tensor._wrap(others.conj() if arr.dtype.kind == "c" else others))
        if not (arr == 0).any():
            # g * conj(out / a); conj_of is the identity for real input
            return div(mul(g, conj_of(_spread(out, a.shape, axes, self.keepdim))), conj_of(a))
        flat = reshape_to(a, (arr.size,)) if self.axis is None else a
        others = _products_of_others_graph(flat, 0 if self.axis is None else self.axis)
        return mul(g, conj_of(reshape_to(others, a.shape)))


def _products_of_others(a, axis):
    """Array: for each element, the product of the others along ``axis`` (None: all), as
    (product of those before it) * (product of those after it), exact with zeros."""
    xp = backend.xp_of(a)
    flat = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else axis
    n = flat.shape[ax]
    ones = xp.ones_like(xp.take(flat, [0], axis=ax))
    before = xp.cumprod(xp.concatenate([ones, xp.take(flat, range(n - 1), axis=ax)], axis=ax),
                        axis=ax)
    rev = xp.flip(flat, axis=ax)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.take(rev, range(n - 1), axis=ax)],
                                              axis=ax), axis=ax), axis=ax)
    return (before * after).reshape(a.shape)


def _products_of_others_graph(a, ax):
    """Tensor ops: others[.., i, ..] = prod_j b[.., i, j, ..] with b = a along a new axis
    after ``ax``, and 1 where j == i.  Shapes: a (.., n, ..) -> b (.., n, n, ..) -> (.., n, ..)."""
    n = a.shape[ax]
    rest = tuple(a.shape[ax + 1:])
    rows = reshape_to(a, tuple(a.shape[:ax]) + (1,) + tuple(a.shape[ax:]))
    rows = expand_to(rows, tuple(a.shape[:ax]) + (n,) + tuple(a.shape[ax:]))
    diagonal = backend.xp_of(a._array).eye(n, dtype=bool).reshape((n, n) + (1,) * len(rest))
    return Prod.apply(where(diagonal, 1.0, rows), axis=ax + 1, keepdim=False)


class MaxMin(Function):
    """max / min over axes (values only); ties share the gradient evenly, as torch.amax.

    Backward: g / (number of maxima) at each maximum, 0 elsewhere: a constant mask times g,
    so the second derivative with respect to ``a`` is 0 (the op is piecewise linear).
    """
    def forward(self, a, *, axes, keepdim, largest, name="max"):
        xp = backend.xp_of(a)
        if a.size == 0 and name in ("max", "min"):     # amax/amin: checked by _check_reducible
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument (input shape {list(a.shape)}).")
        out = (xp.amax if largest else xp.amin)(a, axis=axes, keepdims=True)
        self.save_for_backward(a, out)
        self.axes, self.keepdim = axes, keepdim
        # max()/min() of a whole tensor that holds NaN: PyTorch sends the gradient to the NaN
        # elements (evenly); amax/amin leave it NaN (a NaN never equals the NaN result)
        self.nan_to_nan = name in ("max", "min")
        return out if keepdim else out.reshape([s for i, s in enumerate(a.shape) if i not in axes])

    def backward(self, g):
        a, out = (t._array for t in self.saved_tensors)
        hits = a == out
        if self.nan_to_nan and a.dtype.kind in "fV":
            xp = backend.xp_of(a)
            hits = xp.where(xp.isnan(out), xp.isnan(a), hits)
        count = hits.sum(axis=self.axes, keepdims=True)
        with ieee_errors():      # 0 / 0 = NaN for a NaN slice, as PyTorch
            share = (hits / count).astype(g._array.dtype, copy=False)
        spread = _spread(g, a.shape, self.axes, self.keepdim)
        if self.nan_to_nan:      # max()/min() select (a NaN g stays off the rest), amax scales
            return select_grad(spread, share)
        return Mul.apply(spread, Tensor._wrap(share))


class TakeAlongDim(Function):
    """Pick one element along ``dim`` at ``indices`` (keepdim shape); the values of max(dim).

    Backward: g at the picked position, 0 elsewhere (a one-hot mask along dim times g: no
    scatter-add needed, and its own backward is the same pick).
    """
    def forward(self, a, *, indices, dim, keepdim):
        self.indices, self.in_shape, self.dim, self.keepdim = indices, a.shape, dim, keepdim
        out = backend.xp_of(a).take_along_axis(a, indices, axis=dim)
        return out if keepdim else out.squeeze(dim)

    def backward(self, g):
        xp = backend.xp_of(g._array)
        positions = xp.arange(self.in_shape[self.dim]).reshape(
            [-1 if i == self.dim else 1 for i in range(len(self.in_shape))])
        return select_grad(_spread(g, self.in_shape, (self.dim,), self.keepdim),
                           positions == self.indices)


class Var(Function):
    """sum(|a - mean|^2) / (N - correction) over ``axes``: real, also for complex ``a``.

    Backward: d var / d a_i = 2 (a_i - mean) / (N - correction).  (For complex a = x + iy,
    var is a real function of x and y with partials 2 Re(c) / dof and 2 Im(c) / dof, c the
    centred value: the same formula gives the gradient dvar/dx + i dvar/dy.)  Under create_graph the
    centred input is recomputed from ``a`` with ops (the saved array is a constant), so the
    second derivative 2 (delta_ij - 1/N) / (N - correction) comes out right.

    ``grad_count`` is the N that PyTorch's backward divides by: None for a whole-tensor
    reduction (``dim`` None, or a 0-d input), else the product of the sizes of the dims as
    given (1 for ``dim=()``, although the forward then reduces everything).  With no degrees
    of freedom left (N - correction <= 0) the whole-tensor gradient is g * inf, NaN where
    a_i equals the mean; a per-dim one keeps the formula, whatever sign or inf it gives.
    """
    complex_ok = True

    def forward(self, a, *, axes, correction, keepdim, grad_count):
        out = self._variance(a, axes, correction, keepdim)
        self.grad_count = grad_count
        self.save_for_backward(a, self.centered)
        return out

    def _variance(self, a, axes, correction, keepdim):
        n = 1
        for ax in axes:
            n *= a.shape[ax]
        self.centered = a - _mean_array(a, axes, True, n)
        self.axes, self.keepdim, self.correction = axes, keepdim, correction
        c = self.centered
        with ieee_errors():
            # |c|^2: a complex input's variance is real
            squares = (c.real * c.real + c.imag * c.imag if c.dtype.kind == "c" else c * c)
            squares = squares.sum(axis=axes, keepdims=keepdim)
            return squares / builtins.max(n - correction, 0)

    def backward(self, g):
        a, centered = self.saved_tensors[:2]
        return self._variance_backward(g, a, centered)

    def _variance_backward(self, g, a, centered):
        spread = _spread(g, a.shape, self.axes, self.keepdim)
        count = a._array.size if self.grad_count is None else self.grad_count
        dof = count - self.correction
        if self.grad_count is None and dof <= 0:
            xp = backend.xp_of(a._array)
            arr = a._array
            with ieee_errors():
                factor = xp.where(arr == arr.mean(), xp.nan, xp.inf).astype(arr.real.dtype)
            # real g times a real factor, then complex for a complex input (nan + 0j, as
            # PyTorch: a complex product would spread the NaN to the imaginary part)
            return cast_to(Mul.apply(spread, Tensor._wrap(factor)), arr.dtype)
        if is_grad_enabled():
            centered = sub(a, Mean.apply(a, axes=self.axes, keepdim=True))
        scale = 2.0 / dof if dof != 0 else float("inf")     # 2 / 0 is inf, as in C++
        return mul(mul(spread, centered), scale)


class Std(Var):
    """sqrt(var) over ``axes``.

    Backward: g / (2 std) passed on to the variance's backward, and 0 where std is exactly 0
    (a constant slice: PyTorch's choice, where sqrt's derivative would give inf * 0 = nan).
    Written as torch's formula so that its second derivative agrees too (NaN included, where
    torch's is NaN: the derivative with respect to g of 0 / (2 std) at std = 0).
    """
    complex_ok = True         # std = sqrt(var) with var real: Var's complex backward carries over

    def forward(self, a, *, axes, correction, keepdim, grad_count):
        self.grad_count = grad_count
        with ieee_errors():
            out = backend.xp_of(a).sqrt(self._variance(a, axes, correction, keepdim))
        self.save_for_backward(a, self.centered, out)
        return out

    def backward(self, g):
        a, centered, out = self.saved_tensors
        with ieee_errors():
            g_var = where(out._array == 0, 0.0, div(g, mul(out, 2.0)))
            return self._variance_backward(g_var, a, centered)


class LogSumExp(Function):
    """log(sum(exp(a))) over ``axes``, shifted by the max so that it cannot overflow.

    Backward: d lse / d a_i = exp(a_i - lse) = softmax(a)_i, from the saved input and output
    (holomorphic for complex a: the gradient is g * conj(softmax(a)_i)).  A complex input
    is shifted by the max of its real parts (only they can overflow exp); the log is the
    principal one.
    """
    complex_ok = True

    def forward(self, a, *, axes, keepdim):
        xp = backend.xp_of(a)
        m = xp.amax(a.real, axis=axes, keepdims=True, initial=-xp.inf)   # an empty slice: -inf
        m = xp.where(xp.isfinite(m), m, 0)            # all -inf rows stay -inf, not nan
        out = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
        self.kept_shape = out.shape
        if not keepdim:
            out = out.reshape([s for i, s in enumerate(a.shape) if i not in axes])
        self.save_for_backward(a, out)               # the very output: differentiable
        self.axes, self.keepdim = axes, keepdim
        return out

    def backward(self, g):
        a, out = self.saved_tensors
        softmax_a = exp(sub(a, reshape_to(out, self.kept_shape)))
        return mul(_spread(g, a.shape, self.axes, self.keepdim), conj_of(softmax_a))


def _slice_sum(t, dim):
    """Sum along ``dim`` keeping it (size 1); ``dim`` None: a 0-d tensor, summed over nothing."""
    return Sum.apply(t, axes=() if dim is None else (dim,), keepdim=True)


def _widened_half(a):
    """``a`` in float32 when it is float16 (PyTorch's softmax kernels accumulate float16 in
    float32), else ``a`` itself."""
    return a.astype("float32") if a.dtype.name == "float16" else a


def _half_rounded(a, half):
    """``a`` rounded to float16 and back when ``half`` (a value PyTorch's float16 softmax
    kernels keep in float16 between their float32 steps), else ``a`` itself."""
    return a.astype("float16").astype(a.dtype) if half else a


class Softmax(Function):
    """y = exp(a - max) / sum(exp(a - max)) along ``dim`` (None for a 0-d input).

    Backward: dL/da = y * (g - sum(g * y)), from the output y (differentiable)."""
    saved_names = ("result",)
    saved_fields = {"dim": "dim"}

    def forward(self, a, *, dim):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = a.copy()                        # nothing to normalise (amax would raise)
        else:
            work = _widened_half(a)
            out = xp.exp(work - xp.amax(work, axis=dim, keepdims=True))
            out /= out.sum(axis=dim, keepdims=True)                   # in place: out is ours
            out = out.astype(a.dtype, copy=False)
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, g):
        y, = self.saved_tensors
        return mul(y, sub(g, _slice_sum(mul(g, y), self.dim)))


class LogSoftmax(Function):
    """y = a - max - log(sum(exp(a - max))) along ``dim`` (None for a 0-d input).

    Backward: dL/da = g - softmax(a) * sum(g), with softmax(a) = exp(y) from the output."""
    saved_names = ("result",)
    saved_fields = {"dim": "dim"}

    def forward(self, a, *, dim):
        xp = backend.xp_of(a)
        if a.size == 0:
            out = a.copy()
        else:
            work = _widened_half(a)
            out = work - xp.amax(work, axis=dim, keepdims=True)
            # as PyTorch's float16 kernel along the last dim: the sum and its log are rounded
            # to float16 on the way (along another dim, everything stays in float32)
            last = work is not a and (dim is None or dim == a.ndim - 1)
            total = _half_rounded(xp.exp(out).sum(axis=dim, keepdims=True), last)
            out -= _half_rounded(xp.log(total), last)                 # in place: out is ours
            out = out.astype(a.dtype, copy=False)
        self.save_for_backward(out)
        self.dim = dim
        return out

    def backward(self, g):
        y, = self.saved_tensors
        return sub(g, mul(exp(y), _slice_sum(g, self.dim)))


# ----------------------------------------------------------------------------------------------
# Tensor-level functions
# ----------------------------------------------------------------------------------------------
def _reduced_axes(a, dim):
    """The axes a reduction over ``dim`` covers: all of them for None or an empty list."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(a.ndim))
    return normalize_dims(dim, a.ndim)


def _float_input(a, dtype=None, name="sum"):
    """``a`` cast to the reduction's ``dtype=`` argument (itself when None)."""
    if not isinstance(a, Tensor):
        raise not_a_tensor(name, a)
    if dtype is not None:
        target = dtypes.to_dtype(dtype)
        if name == "mean" and target.np.kind not in "fcV":
            raise RuntimeError("mean(): could not infer output dtype. Optional dtype must be "
                               "either a floating point or complex dtype. Got: "
                               f"{scalar_type_name(target.np)}")
        if target.np.kind not in "fcV" and a.requires_grad and is_grad_enabled():
            # the result would have to carry a gradient, which an integer cannot
            raise RuntimeError(f"Autograd not support dtype: {scalar_type_name(target.np)}")
        if a._array.dtype.kind == "c" and target.np.kind != "c":
            # PyTorch converts as .to(dtype) does: the real part, with its warning
            warnings.warn("Casting complex values to real discards the imaginary part",
                          UserWarning, stacklevel=3)
            a = cast_to(a, a._array.real.dtype)
        with ieee_errors():          # NaN or out-of-range values convert silently, as PyTorch
            return cast(a, target)
    return a


def sum(a, dim=None, keepdim=False, *, dtype=None):
    """The sum over ``dim`` (every dim for None or ``()``); integers and bools give int64."""
    a = _float_input(a, dtype)
    if dtype is None and a._array.dtype.kind in "bui":  # torch sums integers and bools as int64
        a = cast(a, dtypes.int64)
    return Sum.apply(a, axes=_reduced_axes(a, dim), keepdim=bool_arg("sum", "keepdim", keepdim))


def mean(a, dim=None, keepdim=False, *, dtype=None):
    a = _float_input(a, dtype, "mean")
    if a._array.dtype.kind not in "fcV":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {scalar_type_name(a._array.dtype)}")
    return Mean.apply(a, axes=_reduced_axes(a, dim), keepdim=bool_arg("mean", "keepdim", keepdim))


# max/min(a, b, keepdim=...): a 0-d integer tensor b reads as a dim only when keepdim is given
KEEPDIM_LEFT_OUT = Omitted("False")


def _dim_given(name, dim):
    """``dim`` itself, None when it was left out; PyTorch's TypeError for an explicit None."""
    if dim is NO_DIM:
        return None
    if dim is None:
        raise TypeError(f"{name}(): argument 'dim' (position 2) must be int, not NoneType")
    return dim


def prod(a, dim=NO_DIM, keepdim=False, *, dtype=None):
    dim = _dim_given("prod", dim)
    a = _float_input(a, dtype, "prod")
    if dtype is None and a._array.dtype.kind in "bui":  # as sum: int64 (numpy: uint64 for uint8)
        a = cast(a, dtypes.int64)
    axis = None if dim is None else normalize_dim(dim, a.ndim)
    if a.ndim == 0:
        axis = None
    return Prod.apply(a, axis=axis, keepdim=bool_arg("prod", "keepdim", keepdim))


def _check_reducible(a, dim, name):
    """amax/amin of an empty tensor: PyTorch's errors, naming the first empty dim as given."""
    if a._array.size == 0:          # checked before repeated dims, as PyTorch
        given = dim if isinstance(dim, (tuple, list)) else () if dim is None else (dim,)
        if not given:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        for d in given:
            if a.shape[normalize_dim(d, a.ndim)] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return _reduced_axes(a, dim)


def amax(a, dim=(), keepdim=False):
    """The largest value over ``dim`` (every dim when empty); ties share the gradient."""
    _unordered(check_tensor("amax", a), "max_values_cpu")
    return MaxMin.apply(a, axes=_check_reducible(a, dim, "amax"),
                        keepdim=bool_arg("amax", "keepdim", keepdim),
                        largest=True, name="amax")


def amin(a, dim=(), keepdim=False):
    """The smallest value over ``dim`` (every dim when empty); ties share the gradient."""
    _unordered(check_tensor("amin", a), "min_values_cpu")
    return MaxMin.apply(a, axes=_check_reducible(a, dim, "amin"),
                        keepdim=bool_arg("amin", "keepdim", keepdim),
                        largest=False, name="amin")


class MaxResult(tuple):
    """``(values, indices)`` with names, as torch.return_types.max."""

    def __new__(cls, values, indices, name="max"):
        self = super().__new__(cls, (values, indices))
        self.name = name
        return self

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return (f"minigrad.return_types.{self.name}(\nvalues={self[0]!r},\n"
                f"indices={self[1]!r})")


def _max_min(a, dim, keepdim, other, largest):
    if not isinstance(a, Tensor):
        raise not_a_tensor("max" if largest else "min", a)
    if keepdim is KEEPDIM_LEFT_OUT:
        keepdim = False
    elif dim is None or isinstance(dim, Tensor) or other is not None:
        # with keepdim given only the (input, dim, keepdim) form fits: a 0-d integer tensor
        # reads as the dim, as PyTorch's parser reads it; any other tensor, or no dim at all
        # (max(x, keepdim=True)), is refused
        if isinstance(dim, Tensor) and other is None and dim.ndim == 0 and \
                dim._array.dtype.kind in "iu":
            dim = int(dim._array)
        else:
            got = ", ".join(python_type_name(v) for v in (a, dim) if v is not None)
            raise TypeError(f"{'max' if largest else 'min'}() received an invalid combination "
                            f"of arguments - got ({got}, keepdim=bool"
                            f"{', other=Tensor' if other is not None else ''}), but expected "
                            f"one of: (Tensor input), (Tensor input, Tensor other), (Tensor "
                            f"input, int dim, bool keepdim = False)")
    if isinstance(dim, Tensor) or other is not None:      # max(a, b): elementwise
        b = dim if isinstance(dim, Tensor) else other
        return maximum(a, b) if largest else minimum(a, b)
    if dim is None:
        _unordered(a, "max_all" if largest else "min_all")
        return MaxMin.apply(a, axes=tuple(range(a.ndim)), keepdim=False, largest=largest,
                            name="max" if largest else "min")
    if a._array.dtype.kind == "c":
        raise RuntimeError(f"{'max' if largest else 'min'}(): does not support complex input")
    keepdim = bool_arg("max" if largest else "min", "keepdim", keepdim)
    d = normalize_dim(dim, a.ndim)
    src = a if a.ndim else a.reshape(1)
    if src.shape[d] == 0:
        raise IndexError(f"{'max' if largest else 'min'}(): Expected reduction dim {d} to "
                         "have non-zero size.")
    xp = backend.xp_of(src._array)
    idx = xp.expand_dims((xp.argmax if largest else xp.argmin)(src._array, axis=d), d)
    keep = keepdim or a.ndim == 0
    values = TakeAlongDim.apply(src, indices=idx, dim=d, keepdim=keep)
    indices = Tensor._wrap((idx if keep else idx.squeeze(d)).astype("int64"))
    if a.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return MaxResult(values, indices, "max" if largest else "min")


def _unordered(a, kernel):
    """Complex numbers have no order: PyTorch's extreme-value kernels refuse them."""
    if isinstance(a, Tensor) and a._array.dtype.kind == "c":
        raise not_implemented_for(kernel, a._array.dtype)


def _indices_of(a, dim, keepdim, largest):
    xp = backend.xp_of(a._array)
    idx = (xp.argmax if largest else xp.argmin)(a._array, axis=dim)
    if keepdim:
        idx = xp.expand_dims(idx, dim)
    return Tensor._wrap(idx.astype("int64"))


def max(a, dim_or_other=NO_DIM, /, keepdim=KEEPDIM_LEFT_OUT, *, dim=NO_DIM, other=None):
    """``max(a)`` -> largest value; ``max(a, dim)`` -> (values, indices); ``max(a, b)`` ->
    elementwise (with keepdim given, a 0-d integer tensor ``b`` is a dim, as in PyTorch;
    ``dim=`` by name is always a dim, a 0-d integer tensor included)."""
    return _max_min(a, _dim_argument("max", a, dim_or_other, dim, other), keepdim, other,
                    largest=True)


def min(a, dim_or_other=NO_DIM, /, keepdim=KEEPDIM_LEFT_OUT, *, dim=NO_DIM, other=None):
    return _max_min(a, _dim_argument("min", a, dim_or_other, dim, other), keepdim, other,
                    largest=False)


def _dim_argument(name, a, positional, dim, other):
    """The second argument of max/min: given by position it may be a dim or the other
    tensor (``_max_min`` tells); given as ``dim=`` it is a dim, and a tensor there must be a
    0-d integer one (PyTorch's parser reads it as an int; anything else matches no form)."""
    if dim is NO_DIM:
        return _dim_given(name, positional)
    if positional is not NO_DIM or other is not None or (isinstance(dim, Tensor) and not (
            dim.ndim == 0 and dim._array.dtype.kind in "iu")):
        got = ", ".join([python_type_name(a)] + ([python_type_name(positional)]
                                                 if positional is not NO_DIM else []))
        named = ", ".join([f"dim={python_type_name(dim)}"] +
                          (["other=Tensor"] if other is not None else []))
        raise TypeError(f"{name}() received an invalid combination of arguments - got ({got}, "
                        f"{named}), but expected one of:\n * (Tensor input, *, Tensor out = "
                        f"None)\n * (Tensor input, Tensor other, *, Tensor out = None)\n * "
                        f"(Tensor input, int dim, bool keepdim = False, *, tuple of Tensors out"
                        f" = None)\n")
    if isinstance(dim, Tensor):
        return int(dim._array)
    return _dim_given(name, dim)


def _check_arg_reducible(a, dim, name):
    """argmax/argmin of an empty tensor: PyTorch's IndexError naming the input's shape."""
    if a._array.size == 0:
        if dim is None:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                             f"== 0 (input shape {list(a.shape)}).")
        d = normalize_dim(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size (input "
                             f"shape {list(a.shape)}).")


def _arg_extreme(a, dim, keepdim, largest):
    """argmax/argmin: an int64 index along ``dim`` (of the flattened tensor when None); a 0-d
    input gives 0-d index 0 for dim 0 or -1, whatever keepdim."""
    name = "argmax" if largest else "argmin"
    keepdim = bool_arg(name, "keepdim", keepdim)
    xp = backend.xp_of(check_tensor(name, a)._array)
    if a._array.dtype.kind == "b":        # checked first, as PyTorch (max(dim) takes bool)
        raise RuntimeError(f"{name}(): does not support bool input")
    if a._array.dtype.kind == "c":        # complex numbers have no order
        raise RuntimeError(f"{name}(): does not support complex input")
    _check_arg_reducible(a, dim, name)
    pick = xp.argmax if largest else xp.argmin
    if dim is None:
        idx = pick(a._array.reshape(-1))
        return Tensor._wrap(xp.asarray(idx, dtype="int64").reshape((1,) * a.ndim if keepdim
                                                                   else ()))
    d = normalize_dim(dim, a.ndim)
    if a.ndim == 0:
        return Tensor._wrap(xp.asarray(0, dtype="int64"))
    return _indices_of(a, d, keepdim, largest)


def argmax(a, dim=None, keepdim=False):
    """Index of the largest value (of the flattened tensor when ``dim`` is None)."""
    return _arg_extreme(a, dim, keepdim, True)


def argmin(a, dim=None, keepdim=False):
    """Index of the smallest value (of the flattened tensor when ``dim`` is None)."""
    return _arg_extreme(a, dim, keepdim, False)


def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (divide by N - 1), as PyTorch."""
    return _var_apply(Var, a, dim, unbiased, keepdim, correction, "var")


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sqrt(var), with the same arguments as ``var``."""
    return _var_apply(Std, a, dim, unbiased, keepdim, correction, "std")


def _var_apply(function, a, dim, unbiased, keepdim, correction, name):
    check_tensor(name, a)
    keepdim = bool_arg(name, "keepdim", keepdim)
    correction_given = correction is not None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if isinstance(dim, bool):          # var(x, False): the old positional 'unbiased'
        if keepdim or unbiased is not None or correction_given:
            # that overload takes nothing else: a bool is no dim
            raise TypeError(f"{name}(): argument 'dim' must be tuple of ints, not bool")
        correction, dim = int(dim), None
    if a._array.dtype.kind not in "fcV":
        raise RuntimeError(f"std and var only support floating point and complex dtypes (got "
                           f"{a.dtype.name})")
    if dim is None or a.ndim == 0:
        grad_count = None
        axes = normalize_dims(dim, a.ndim)
    else:
        given = normalize_dims(dim, a.ndim)
        grad_count = 1
        for ax in given:
            grad_count *= a.shape[ax]
        axes = given or tuple(range(a.ndim))        # dim=() reduces everything, as PyTorch
    kept = 1
    for ax in range(a.ndim):
        if ax not in axes:
            kept *= a.shape[ax]
    if a._array.size // builtins.max(kept, 1) - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. The correction ({correction}) "
                      f"should be strictly less than the reduction factor (input numel "
                      f"divided by output numel)", UserWarning, stacklevel=3)
    if dtypes.reduced_float(a._array.dtype):
        # as PyTorch: float16 is summed in float32 and rounded once (its squares overflow
        # from |x| = 256, where the standard deviation is still far from float16's limit)
        return cast(function.apply(cast(a, dtypes.float32), axes=axes, correction=correction,
                                   keepdim=keepdim, grad_count=grad_count), a._array.dtype)
    return function.apply(a, axes=axes, correction=correction, keepdim=keepdim,
                          grad_count=grad_count)


def _as_float(a):
    """``a`` itself when floating point or complex, else cast to the default float dtype (as
    PyTorch)."""
    if a._array.dtype.kind not in "fcV":
        a = cast(a, dtypes.default_float())
    return a


def logsumexp(a, dim, keepdim=False):
    """log(sum(exp(a))) along ``dim``, computed without overflow (shift by the max)."""
    a = _as_float(check_tensor("logsumexp", a))
    if dim is None:
        raise TypeError("logsumexp(): argument 'dim' (position 2) must be tuple of ints, not "
                        "NoneType")
    keepdim = bool_arg("logsumexp", "keepdim", keepdim)
    axes = _reduced_axes(a, dim)
    if isinstance(dim, (tuple, list)) and not dim and a._array.size and a.ndim and not keepdim:
        # PyTorch reduces everything for dim=(), then fails to add back the kept max
        raise RuntimeError(f"output with shape [] doesn't match the broadcast shape "
                           f"{[1] * a.ndim}")
    return LogSumExp.apply(a, axes=axes, keepdim=keepdim)


def _softmax_dim(ndim):
    """PyTorch's legacy choice when ``dim`` is not given (with a warning there)."""
    return 0 if ndim in (0, 1, 3) else 1


def softmax(a, dim, dtype=None):
    """exp(a) / sum(exp(a)) along ``dim``; each slice along ``dim`` sums to 1."""
    return _softmax_apply(Softmax, a, dim, dtype)


def log_softmax(a, dim, dtype=None):
    """log(softmax(a)) along ``dim``, computed stably as a - max - log(sum(exp(a - max)))."""
    return _softmax_apply(LogSoftmax, a, dim, dtype)


def implicit_softmax_dim(name, ndim, stacklevel):
    """The dim a softmax-like function called without one takes (PyTorch's legacy choice),
    with PyTorch's deprecation warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Pass dim= "
                  f"explicitly (dim={_softmax_dim(ndim)} was chosen for a {ndim}-d input).",
                  UserWarning, stacklevel=stacklevel)
    return _softmax_dim(ndim)


def _softmax_apply(function, a, dim, dtype):
    """Softmax or LogSoftmax along ``dim``: the dtype, default dim and dim checks they share."""
    if dim is None:         # only nn.functional's softmax picks a dim for a missing one
        raise TypeError(f"{function.__name__.lower()}(): argument 'dim' (position 2) must be "
                        f"int, not NoneType")
    a = _float_input(a, dtype, function.__name__.lower())
    dim = normalize_dim(dim, a.ndim)       # a 0-d tensor accepts dim 0 or -1 only, as PyTorch
    if a._array.dtype.kind not in "fV":
        if a._array.size == 0:             # PyTorch returns an empty input before its kernel
            return Tensor._wrap(a._array.copy())
        kernel = "softmax" if function is Softmax else "log_softmax"
        raise not_implemented_for(f"{kernel}_lastdim_kernel_impl" if dim == a.ndim - 1 or
                                  a.ndim == 0 else f"{kernel}_kernel_impl", a._array.dtype)
    return function.apply(a, dim=dim if a.ndim else None)


def _truth(a, dim, keepdim, reduce):
    """all/any: bool, except that a uint8 input gives uint8 (PyTorch keeps that legacy)."""
    name = reduce.__name__
    keepdim = bool_arg(name, "keepdim", keepdim)
    xp = backend.xp_of(check_tensor(name, a)._array)
    out = xp.asarray(reduce(a._array.astype(bool),
                            axis=None if dim is None else normalize_dims(dim, a.ndim),
                            keepdims=keepdim))
    return Tensor._wrap(out.astype(xp.uint8) if a._array.dtype == xp.uint8 else out)


def all(a, dim=None, keepdim=False):
    return _truth(a, dim, keepdim, backend.xp_of(check_tensor("all", a)._array).all)


def any(a, dim=None, keepdim=False):
    return _truth(a, dim, keepdim, backend.xp_of(check_tensor("any", a)._array).any)


def count_nonzero(a, dim=None):
    xp = backend.xp_of(check_tensor("count_nonzero", a)._array)
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None                         # PyTorch counts over every dim for an empty list
    return Tensor._wrap(xp.asarray(xp.count_nonzero(
        a._array, axis=None if dim is None else normalize_dims(dim, a.ndim))).astype("int64"))
