"""Extreme values along dimensions: ``max`` / ``min`` (of the whole tensor, (values, indices)
along a dim as a ``MaxResult``, or elementwise against another tensor), ``amax`` / ``amin``
(values only, over several dims) and ``argmax`` / ``argmin`` (int64 indices, no gradient).

Gradients: ``MaxMin`` splits g evenly among the tied extrema (g / count at each, 0
elsewhere); ``TakeAlongDim`` sends g to the one index picked along the dim.  Complex inputs
are refused: complex numbers have no order.
"""
from __future__ import annotations

import numpy as np

from .. import backend, dtypes, return_types
from ..autograd import Function
from ..tensor import Tensor
from ._util import (NO_DIM, Omitted, argument_error, bool_arg, c_order, check_tensor, ieee_errors,
                    normalize_dim, not_a_tensor, not_implemented_for, python_type_name)
from .elementwise import Mul
from .pointwise_select import maximum, minimum, select_grad
from .reduce import _dim_given, _reduced_axes, _spread


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
                               f"argument. (input shape {list(a.shape)})")
        if type(a) is np.ndarray:       # (numpy's amax: a Python wrapper around this reduce)
            out = (np.maximum if largest else np.minimum).reduce(a, axis=axes, keepdims=True)
        else:
            out = (xp.amax if largest else xp.amin)(a, axis=axes, keepdims=True)
        self.save_for_backward(a, out)
        self.axes, self.keepdim = axes, keepdim
        # max()/min() of a whole tensor that holds NaN: PyTorch sends the gradient to the NaN
        # elements (evenly); amax/amin leave it NaN (a NaN never equals the NaN result)
        self.nan_to_nan = name in ("max", "min")
        return c_order(out if keepdim else
                       out.reshape([s for i, s in enumerate(a.shape) if i not in axes]), a)

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


# PyTorch's node names for these reductions ("max" and "min" of a whole tensor, along a dim)
MAXMIN_NODES = {name: MaxMin.renamed(node) for name, node in (
    ("max", "MaxBackward1"), ("min", "MinBackward1"), ("amax", "AmaxBackward0"),
    ("amin", "AminBackward0"), ("aminmax", "AminmaxBackward0"))}
TAKE_NODES = {name: TakeAlongDim.renamed(node) for name, node in (
    ("max", "MaxBackward0"), ("min", "MinBackward0"), ("kthvalue", "KthvalueBackward0"),
    ("median", "MedianBackward1"), ("nanmedian", "NanmedianBackward1"),
    ("mode", "ModeBackward0"))}


# max/min(a, b, keepdim=...): a 0-d integer tensor b reads as a dim only when keepdim is given
KEEPDIM_LEFT_OUT = Omitted("False")


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
    axes = _check_reducible(check_tensor("amax", a), dim, "amax")   # (dims first)
    if a._array.size == 0:          # nothing to reduce: no kernel runs, whatever the dtype
        return _empty_extreme(a, axes, keepdim, "amax")
    _unordered(a, "max_values_cpu")
    return MAXMIN_NODES["amax"].apply(a, axes=axes,
                        keepdim=bool_arg("amax", "keepdim", keepdim),
                        largest=True, name="amax")


def amin(a, dim=(), keepdim=False):
    """The smallest value over ``dim`` (every dim when empty); ties share the gradient."""
    axes = _check_reducible(check_tensor("amin", a), dim, "amin")   # (dims first)
    if a._array.size == 0:          # nothing to reduce: no kernel runs, whatever the dtype
        return _empty_extreme(a, axes, keepdim, "amin")
    _unordered(a, "min_values_cpu")
    return MAXMIN_NODES["amin"].apply(a, axes=axes,
                        keepdim=bool_arg("amin", "keepdim", keepdim),
                        largest=False, name="amin")


# ``MaxResult(values, indices, name)``: the ``return_types.<name>`` of a reduction that gives
# values and their indices (max, min, sort, topk, kthvalue, median, mode, cummax, ...)
MaxResult = return_types.values_indices


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
        name = "max" if largest else "min"
        return MAXMIN_NODES[name].apply(a, axes=tuple(range(a.ndim)), keepdim=False,
                                        largest=largest, name=name)
    keepdim = bool_arg("max" if largest else "min", "keepdim", keepdim)
    d = normalize_dim(dim, a.ndim)          # (the parser's and the dim's checks come first)
    src = a if a.ndim else a.reshape(1)
    if src.shape[d] == 0:
        raise IndexError(f"{'max' if largest else 'min'}(): Expected reduction dim {d} to "
                         "have non-zero size.")
    if a._array.dtype in _UNORDERED:
        dtypes.refuse_unsigned("max_cpu" if largest else "min_cpu", a._array.dtype)
        raise RuntimeError(f"{'max' if largest else 'min'}(): does not support complex input")
    xp = backend.xp_of(src._array)
    idx = xp.expand_dims((xp.argmax if largest else xp.argmin)(src._array, axis=d), d)
    keep = keepdim or a.ndim == 0
    values = TAKE_NODES["max" if largest else "min"].apply(src, indices=idx, dim=d,
                                                           keepdim=keep)
    indices = Tensor._wrap((idx if keep else idx.squeeze(d)).astype("int64"))
    if a.ndim == 0:
        values, indices = values.reshape(()), indices.reshape(())
    return MaxResult(values, indices, "max" if largest else "min")


def _empty_extreme(a, axes, keepdim, name):
    """amax/amin of an empty tensor over non-empty dims (_check_reducible passed): an empty
    result, even for the dtypes PyTorch has no kernel for (complex, uint16...)."""
    keepdim = bool_arg(name, "keepdim", keepdim)
    if a._array.dtype not in _UNORDERED:
        return MAXMIN_NODES[name].apply(a, axes=axes, keepdim=keepdim, largest=name == "amax",
                                        name=name)
    shape = [1 if k in axes else n for k, n in enumerate(a.shape) if keepdim or k not in axes]
    return Tensor._wrap(backend.xp_of(a._array).empty(shape, a._array.dtype))


# complex numbers have no order; uint16/32/64 have no such kernels in PyTorch
_UNORDERED = frozenset(np.dtype(d) for d in ("complex64", "complex128")) | \
    dtypes.BAREBONES_UNSIGNED


def _unordered(a, kernel):
    """Complex numbers have no order: PyTorch's extreme-value kernels refuse them (and the
    unsigned types it has no kernel for)."""
    if isinstance(a, Tensor) and a._array.dtype in _UNORDERED:
        dtypes.refuse_unsigned(kernel, a._array.dtype)
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
                             f"== 0. (input shape {list(a.shape)})")
        d = normalize_dim(dim, a.ndim)
        if a.ndim and a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size. (input "
                             f"shape {list(a.shape)})")


def _arg_extreme(a, dim, keepdim, largest):
    """argmax/argmin: an int64 index along ``dim`` (of the flattened tensor when None); a 0-d
    input gives 0-d index 0 for dim 0 or -1, whatever keepdim."""
    name = "argmax" if largest else "argmin"
    keepdim = bool_arg(name, "keepdim", keepdim)
    xp = backend.xp_of(check_tensor(name, a)._array)
    if isinstance(dim, (tuple, list)):    # the parser's refusal comes before the dtype's
        raise argument_error(name, "dim", "int", dim)
    if a._array.dtype.kind == "b":        # checked first, as PyTorch (max(dim) takes bool)
        raise RuntimeError(f"{name}(): does not support bool input")
    if a._array.dtype in _UNORDERED:      # complex numbers have no order
        dtypes.refuse_unsigned(f"{name}_cpu", a._array.dtype)
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
