"""Reductions along dimensions that sum or count: sum, mean, prod, all, any, count_nonzero,
and what the other reductions share (``_spread``, ``_reduced_axes``, ``_float_input``,
``_dim_given``).

Backward of a reduction spreads the output gradient back over the reduced axes: reshape it
with the reduced axes kept as size 1, then broadcast (``_spread``, Tensor ops, so that the
gradient can be differentiated again).  var and std are in ``reduce_variance``.

The extreme values (max, min, amax, amin, argmax, argmin) are in ``extrema``; logsumexp,
softmax and log_softmax in ``softmax``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from .._warn_once import COMPLEX_TO_REAL, USER, warn_once
from ..autograd import Function, function as _function, is_grad_enabled
from ..autograd._view_tracking import link_view
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._batch_norm_kernels import channel_sum
from ._half_order import HALF_TYPES, half_product
from ._reduce_precision import rows_layout, sum_rows
from ._util import (FLOAT32_64 as _FLOATS, NO_DIM, argument_error, bool_arg, c_order, check_tensor,
                    ieee_errors, normalize_dim, normalize_dims, not_a_tensor, scalar_type_name)
from .elementwise import Mul, cast, mul
from .division import div
from .pointwise_select import where
from .movement import unsqueeze, unsqueezed_array
from .plumbing import Expand, cast_to, conj_of, expand_to, expanded_array, reshape_to


def _spread(g, in_shape, axes, keepdim, whole=False):
    """The backward of a reduction, as Tensor ops: the reduced gradient (Tensor) with the
    reduced axes put back as size 1 (PyTorch's unsqueeze steps), then expanded over the input's
    shape; always a view of g, as PyTorch's.  ``whole``: a reduction with no dim given, whose
    0-d gradient PyTorch expands as it is (every step 0, the size-1 dims' included)."""
    in_shape = tuple(in_shape)
    a = g._array
    shape = a.shape             # (kept dims: already the shape to broadcast)
    if not keepdim:
        shape = list(in_shape)
        for ax in axes:
            shape[ax] = 1
        shape = tuple(shape)
    if type(a) is np.ndarray and a.flags.c_contiguous and a.size and not g._requires_grad \
            and not is_grad_enabled() and _function._profiler is None:
        # nothing recorded (a plain backward): the view that unsqueeze then expand_to give,
        # made at once (their two Function.apply calls were a third of a 4x4
        # ``x.sum().backward()``), a view of g as theirs is
        if whole and not a.ndim:
            # the 0-d gradient expanded at once, every step 0 (a reshape first would keep
            # nonzero steps at the size-1 dims)
            out = np.ndarray(in_shape, a.dtype, a, 0, (0,) * len(in_shape))
            if len(in_shape) and out.size > 1 and out.flags.writeable:
                out.flags.writeable = False
        else:
            # (numpy's reshape gives PyTorch's steps but where g has size-1 dims of its own)
            out = a if a.shape == shape else \
                _unsqueezed(a, axes) if 1 in a.shape else a.reshape(shape)
            if shape != in_shape:
                out = expanded_array(out, in_shape)
        if out is a:
            out = a.view()          # (PyTorch's gradient is a view of g even when no dim grows)
        view = Tensor._wrap(out)
        link_view(view, g)
        return view
    if whole and not g._array.ndim:
        return Expand.apply(g, shape=in_shape)      # (a view, a 0-d input's included)
    if not keepdim and g._array.shape != shape:
        for ax in sorted(axes):
            g = unsqueeze(g, ax)
    return Expand.apply(g, shape=in_shape)          # (a view even where no dim grows)


def _unsqueezed(a, axes):
    """Array ``a`` with a size-1 dim put back at each of ``axes``, each with the step
    PyTorch's unsqueeze gives it (numpy's reshape may put other steps there)."""
    for ax in sorted(axes):
        a = unsqueezed_array(a, ax)
    return a


# A per-channel sum (over every axis but 1: a convolution's bias gradient) as a matrix-vector
# product: numpy's sum over axes (0, 2, 3) ran 2.8x slower (0.139 against 0.049 ms on LeNet's
# 64x20x24x24 maps). Rows of at least 64 numbers (shorter ones cost more in calls), at most
# 2^16 (a float32 dot product accumulates in float32: its rounding grows with the row, and
# numpy's pairwise sum's does not)
def _per_channel(a, axes):
    return (type(a) is np.ndarray and a.ndim >= 3 and a.size and a.dtype in _FLOATS and
            a.flags.c_contiguous and axes == (0,) + tuple(range(2, a.ndim)) and
            64 <= a.size // (a.shape[0] * a.shape[1]) <= 1 << 16)


def _rows_summed(a, axes, keepdim):
    """The sum of float32/float64 ``a`` over ``axes`` when they are the fastest in memory (a
    C-contiguous array's last axes, or a transposed one's first), as matrix-vector products
    (``_reduce_precision.sum_rows``: about 3x numpy's scalar pairwise sum, as accurate);
    row-major, keepdim's size-1 dims included. None for other cases."""
    layout = rows_layout(a, axes)
    if layout is None:
        return None
    m, n, kept = layout
    out = sum_rows(a, m, n)
    if out is None:
        return None
    if not a.flags.c_contiguous:        # (the kept axes came reversed: a.T's order)
        out = np.ascontiguousarray(out.reshape(kept).T) if len(kept) > 1 else out
        kept = kept[::-1]
    if keepdim:
        shape = list(a.shape)
        for ax in axes:
            shape[ax] = 1
        return c_order(out.reshape(shape), a)
    return out.reshape(kept)


class Sum(Function):
    complex_ok = True             # linear, real coefficients: right as written
    # float16 too in float32, rounded once: PyTorch accumulates a half sum in float32 (a sum
    # along a dim in float16 drifted by an ulp or more, visible in the printed values)
    half_in_float32 = True
    saved_fields = {"dim": "axes", "keepdim": "keepdim", "self_sym_sizes": "in_shape"}

    def forward(self, a, *, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = a.shape, axes, keepdim
        if _per_channel(a, axes):
            c = channel_sum(a.reshape(a.shape[0], a.shape[1], -1))
            return c.reshape((1, -1) + (1,) * (a.ndim - 2)) if keepdim else c
        fast = _rows_summed(a, axes, keepdim)
        if fast is not None:
            return fast
        # in a's own dtype: numpy widens small integers (int32 -> int64), torch does not
        return c_order(a.sum(axis=axes, keepdims=keepdim, dtype=a.dtype), a)

    def backward(self, g):
        # Every input element contributed once: it gets the output's gradient.
        return _spread(g, self.in_shape, self.axes, self.keepdim,
                       isinstance(self, _SUM_ALL))


def _mean_array(a, axes, keepdims, count):
    """``a.mean(axis=axes)``; over no elements (count 0) NaN without numpy's "Mean of empty
    slice" warning, as PyTorch."""
    if count:
        if type(a) is np.ndarray and a.dtype in _FLOATS:
            # numpy's own mean of float32/float64 step for step (its sum, then a division by
            # the count as an intp), without the Python wrapper that was most of its cost on
            # small arrays (3.8 us of a 4x8 mean); the fastest axes by matrix products
            total = _rows_summed(a, axes, keepdims)
            if total is None:
                total = np.add.reduce(a, axis=axes, keepdims=keepdims)
            if isinstance(total, np.ndarray):
                return c_order(np.true_divide(total, np.intp(count), out=total,
                                              casting="unsafe"), a)
            return total.dtype.type(total / np.intp(count))
        return c_order(a.mean(axis=axes, keepdims=keepdims), a)
    with ieee_errors():
        return c_order(a.sum(axis=axes, keepdims=keepdims) / a.dtype.type(0), a)


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
        # Every input element contributed 1/count of the mean: a new tensor (PyTorch's
        # grad.expand() / count), laid out as the spread gradient orders it, not a broadcast
        # view of zero strides
        a = g._array
        if not is_grad_enabled() and type(a) is np.ndarray and a.dtype in _FLOATS:
            with np.errstate(all="ignore"):         # (an empty dim's mean: 0 / 0)
                share = np.divide(a, a.dtype.type(self.count))
            if share.size == 1:                     # (the whole mean: row-major)
                out = np.empty(self.in_shape, a.dtype)
                out.fill(share.reshape(()))
                return Tensor._wrap(out)
            spread = _spread(Tensor._wrap(share), self.in_shape, self.axes, self.keepdim)
            # (copied row-major first, the common layout: numpy's own order for a view of
            # zero strides is column-major, and the relayout after it cost 10x the copy)
            return Tensor._wrap(mf.pointwise_layout(np.array(spread._array, order="C"),
                                                    (spread._array,)))
        return _spread(g, self.in_shape, self.axes, self.keepdim) / self.count


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

    def forward(self, a, *, axis, keepdim, bf16=False):
        if (bf16 or a.dtype in HALF_TYPES) and a.size:      # (bfloat16 arrives in float32)
            out = half_product(a, axis, keepdim, dtypes.BFLOAT16 if bf16 else a.dtype)
        else:
            out = c_order(a.prod(axis=axis, keepdims=keepdim, dtype=a.dtype), a)  # Sum's dtype
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
        if not is_grad_enabled():    # first order only: arrays, nothing recorded
            others = _first_order_others(arr, out._array, self.axis, self.keepdim)
            if others is None:          # (several zeros in a full product: all zero)
                return Tensor._wrap(backend.xp_of(arr).zeros_like(g._array))
            return Mul.apply(g, Tensor._wrap(others.conj() if arr.dtype.kind == "c" else others))
        if not (arr == 0).any():
            # g * conj(out / a); conj_of is the identity for real input
            return div(mul(g, conj_of(_spread(out, a.shape, axes, self.keepdim))), conj_of(a))
        flat = reshape_to(a, (arr.size,)) if self.axis is None else a
        others = products_of_others_graph(flat, 0 if self.axis is None else self.axis)
        return mul(g, conj_of(reshape_to(others, a.shape)))


_PROD_DIM = Prod.renamed("ProdBackward1")


def _first_order_others(a, out, axis, keepdim):
    """The factor of each element's first-order gradient, as PyTorch's prod backward computes
    it: ``out / a`` where no element of ``a`` is 0 (so an inf or NaN factor reaches every
    gradient: prod([inf, 2]) gives [nan, inf]); the exact products of the others where one
    is (every slice of a product along a dim); None for a product of every element with
    several zeros, whose gradient PyTorch gives as zeros (NaN and inf elements
    notwithstanding)."""
    zeros = int(backend.xp_of(a).count_nonzero(a == 0))
    if zeros == 0:
        if axis is not None and not keepdim:
            out = backend.xp_of(out).expand_dims(out, axis)
        with ieee_errors():
            return out / a
    if axis is None and zeros > 1:
        return None
    return _products_of_others(a, axis)


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


def products_of_others_graph(a, ax):
    """Tensor ops: others[.., i, ..] = prod_j b[.., i, j, ..] with b = a along a new axis
    after ``ax``, and 1 where j == i.  Shapes: a (.., n, ..) -> b (.., n, n, ..) -> (.., n, ..)."""
    n = a.shape[ax]
    rest = tuple(a.shape[ax + 1:])
    rows = reshape_to(a, tuple(a.shape[:ax]) + (1,) + tuple(a.shape[ax:]))
    rows = expand_to(rows, tuple(a.shape[:ax]) + (n,) + tuple(a.shape[ax:]))
    diagonal = backend.xp_of(a._array).eye(n, dtype=bool).reshape((n, n) + (1,) * len(rest))
    return Prod.apply(where(diagonal, 1.0, rows), axis=ax + 1, keepdim=False)


# ----------------------------------------------------------------------------------------------
# Tensor-level functions
# ----------------------------------------------------------------------------------------------
def _reduced_axes(a, dim):
    """The axes a reduction over ``dim`` covers: all of them for None or an empty list."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(a.ndim))
    return normalize_dims(dim, a.ndim)


def check_grad_dtype(a, target):
    """PyTorch's refusal of a ``dtype=`` that is not floating (a ``minigrad.dtype``) for a
    reduction of ``a`` that needs a gradient: the result would have to carry one, which an
    integer cannot."""
    if target.np.kind not in "fcV" and a.requires_grad and is_grad_enabled():
        raise RuntimeError(f"Autograd not support dtype: {scalar_type_name(target.np)}")


# the kernels PyTorch's reductions lack for a uint16/32/64 ``dtype=``
_UNSIGNED_KERNELS = {"sum": "sum_cpu", "prod": "prod_out_cpu"}


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
        check_grad_dtype(a, target)
        if target.np in dtypes.BAREBONES_UNSIGNED and name in _UNSIGNED_KERNELS:
            dtypes.refuse_unsigned(_UNSIGNED_KERNELS[name], target)     # (no such kernel)
        if a._array.dtype.kind == "c" and target.np.kind == "b":
            return Tensor._wrap(a._array != 0)     # (as .to(bool): nonzero, imaginary too)
        if a._array.dtype.kind == "c" and target.np.kind != "c":
            # PyTorch converts as .to(dtype) does: the real part, with its warning
            warn_once(COMPLEX_TO_REAL, stacklevel=USER)     # (PyTorch: once a process)
            a = cast_to(a, a._array.real.dtype)
        with ieee_errors():          # NaN or out-of-range values convert silently, as PyTorch
            return cast(a, target)
    return a


def sum(a, dim=None, keepdim=False, *, dtype=None):
    """The sum over ``dim`` (every dim for None or ``()``); integers and bools give int64."""
    a = _float_input(a, dtype)
    if dtype is None and a._array.dtype.kind in "bui":  # torch sums integers and bools as int64
        a = cast(a, dtypes.int64)
    node = _SUM_ALL if dim is None else _SUM_DIMS
    return node.apply(a, axes=_reduced_axes(a, dim), keepdim=bool_arg("sum", "keepdim", keepdim))


def mean(a, dim=None, keepdim=False, *, dtype=None):
    """The mean over ``dim`` (every dim for None).  With ``dtype`` float16 or bfloat16 for an
    input of another dtype, as PyTorch: the input goes to float32, is summed and divided there,
    and only the mean is rounded to ``dtype`` (1e30, -1e30, 1e30 give inf, not NaN)."""
    given = a
    a = _float_input(a, dtype, "mean")
    if a._array.dtype.kind not in "fcV":
        raise RuntimeError("mean(): could not infer output dtype. Input dtype must be either a "
                           "floating point or complex dtype. Got: "
                           f"{scalar_type_name(a._array.dtype)}")
    node = _MEAN_ALL if dim is None else _MEAN_DIMS
    axes, keepdim = _reduced_axes(a, dim), bool_arg("mean", "keepdim", keepdim)
    out = node.apply(a, axes=axes, keepdim=keepdim)       # (its backward: in the half dtype)
    if a is not given and a._array.dtype in HALF_TYPES and given._array.dtype.kind != "c" \
            and given._array.dtype not in HALF_TYPES and type(out._array) is np.ndarray:
        wide = _float_input(given.detach(), dtypes.float32, "mean")._array
        exact = _mean_array(wide, axes, keepdim, math.prod(wide.shape[ax] for ax in axes))
        with ieee_errors():             # (out of the half range: inf, silently)
            out._array = c_order(np.asarray(exact).astype(out._array.dtype))
    return out


# PyTorch's node names: ...Backward0 for the whole tensor, ...Backward1 for given dims (an
# explicit dim=None included, which reads here as left out)
_SUM_ALL, _SUM_DIMS = Sum.renamed("SumBackward0"), Sum.renamed("SumBackward1")
_MEAN_ALL, _MEAN_DIMS = Mean.renamed("MeanBackward0"), Mean.renamed("MeanBackward1")


def _dim_given(name, dim):
    """``dim`` itself, None when it was left out; PyTorch's TypeError for an explicit None."""
    if dim is NO_DIM:
        return None
    if dim is None:
        raise argument_error(name, "dim", "int", dim, 2)
    return dim


def prod(a, dim=NO_DIM, keepdim=False, *, dtype=None):
    dim = _dim_given("prod", dim)
    if _autocast_state.active:          # one of the ops CPU autocast runs in float32
        a, = _autocast_widen(a)
    a = _float_input(a, dtype, "prod")
    if dtype is None and a._array.dtype.kind in "bui":  # as sum: int64 (numpy: uint64 for uint8)
        a = cast(a, dtypes.int64)
    axis = None if dim is None else normalize_dim(dim, a.ndim)
    if a.ndim == 0:
        axis = None
    # PyTorch's node: ProdBackward0 for every element, ProdBackward1 along a dim
    node = Prod if dim is None else _PROD_DIM
    return node.apply(a, axis=axis, keepdim=bool_arg("prod", "keepdim", keepdim),
                      bf16=a.dtype is dtypes.bfloat16)


def _truth(a, dim, keepdim, reduce):
    """all/any: bool, except that a uint8 input gives uint8 (PyTorch keeps that legacy)."""
    name = reduce.__name__
    keepdim = bool_arg(name, "keepdim", keepdim)
    xp = backend.xp_of(check_tensor(name, a)._array)
    out = c_order(xp.asarray(reduce(a._array.astype(bool),
                                    axis=None if dim is None else normalize_dims(dim, a.ndim),
                                    keepdims=keepdim)), a._array)
    return Tensor._wrap(out.astype(xp.uint8) if a._array.dtype == xp.uint8 else out)


def all(a, dim=None, keepdim=False):
    return _truth(a, dim, keepdim, backend.xp_of(check_tensor("all", a)._array).all)


def any(a, dim=None, keepdim=False):
    return _truth(a, dim, keepdim, backend.xp_of(check_tensor("any", a)._array).any)


def count_nonzero(a, dim=None):
    xp = backend.xp_of(check_tensor("count_nonzero", a)._array)
    if isinstance(dim, (tuple, list)) and not dim:
        dim = None                         # PyTorch counts over every dim for an empty list
    if dim is None:                        # (that kernel has no uint16/32/64 version)
        dtypes.refuse_unsigned("nonzero_count_cpu", a._array.dtype)
    return Tensor._wrap(c_order(xp.asarray(xp.count_nonzero(
        a._array, axis=None if dim is None else normalize_dims(dim, a.ndim))).astype("int64")))
