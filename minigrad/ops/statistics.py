"""Statistics and binning with PyTorch's names and arguments: ``cov``, ``corrcoef``,
``quantile``, ``nanquantile`` (differentiable compositions of sort, gather, matmul...),
``var_mean`` and ``std_mean`` ((spread, mean) over the same dims, from ``var`` / ``std`` and
``mean`` themselves) and ``histc``, ``histogram`` (integer results, no gradient).
``searchsorted``, ``bucketize`` and ``isin`` are in ``sorted_search.py``.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _autocast_state, backend, dtypes
from .._warn_once import warn_user
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import widen as _autocast_widen
from ._util import (
    argument_error, check_tensor, int_arg, normalize_dim, normalize_dims, number_arg,
    python_type_name, scalar_type_name)
from .complex_numbers import complex as complex_, imag, real
from .histogram import histogram  # noqa: F401  (torch.histogram, its home before)
from .elementary_functions import sqrt
from .elementwise import add, cast, mul, sub
from .division import div
from .pointwise_select import where
from .relu_clamp import clamp
from .matmul import matmul
from .movement import reshape, transpose, unsqueeze
from .plumbing import conj_of
from .reduce import mean, sum as sum_
from .reduce_variance import KEEPDIM, UNBIASED, Std, Var, _var_apply, std, var
from .scatter_gather import gather
from .shaping import diagonal, movedim
from .sorting import sort

__all__ = ["cov", "corrcoef", "quantile", "nanquantile", "histc", "histogram", "var_mean",
           "std_mean"]


# ----------------------------------------------------------------------------------------------
# Covariance
# ----------------------------------------------------------------------------------------------
def cov(input, *, correction=1, fweights=None, aweights=None):
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns; one variable, a 1-d input or a single row, gives a 0-d result).  With weights
    w = fweights * aweights: mean = sum(w x) / sum(w), cov = (x - mean) w (x - mean)^T /
    (sum(w) - correction * (sum(w aweights) / sum(w) if aweights else 1)), the divisor clamped
    at 0.  For complex variables the transpose is the conjugate one (cov_ij = E[x_i conj(x_j)])."""
    check_tensor("cov", input)
    correction = int_arg("cov", "correction", correction)
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is not None and not isinstance(weights, Tensor):
            raise TypeError(f"cov(): argument '{name}' must be Tensor, not "
                            f"{python_type_name(weights)}")
    if input._array.dtype.kind == "b":
        raise RuntimeError("cov(): bool dtype is not supported for input")
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input if input.ndim == 2 else reshape(input, 1, -1)
    if x._array.dtype.kind not in "fcV":
        x = cast(x, dtypes.default_float().np)
    n = x.shape[1]
    w = None
    # PyTorch checks fweights fully (rank, dtype, length, sign), then aweights alike
    if fweights is not None:
        _check_weights(fweights, "fweights", "iu", "integral", n)
        w = cast(fweights, x._array.real.dtype)       # weights are real, complex x too
    if aweights is not None:
        _check_weights(aweights, "aweights", "fV", "floating point", n)
        # as PyTorch, the product of the weights has their own promoted dtype (int32 fweights
        # times float32 aweights is float32, sum(w) too), not the input's
        w = aweights if w is None else mul(fweights, aweights)
    if w is None:
        total = float(n)
        mean = div(sum_(x, 1, True), total)
        norm = total - correction
        centred = sub(x, mean)
        weighted = centred
    else:
        total = sum_(w)
        mean = div(sum_(mul(x, w), 1, True), total)
        if aweights is None:
            norm = sub(total, correction)
        else:
            norm = sub(total, mul(div(sum_(mul(w, aweights)), total), correction))
        centred = sub(x, mean)
        weighted = mul(centred, w)
    if (float(norm._array) if isinstance(norm, Tensor) else norm) <= 0:
        warn_user("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                  "than the number of observations.", UserWarning)
    norm = clamp(norm, min=0) if isinstance(norm, Tensor) else max(norm, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = div(matmul(centred, conj_of(transpose(weighted, 0, 1))), norm)
    # one variable (a 1-d input, or a 2-d input with one row) gives a 0-d result; PyTorch
    # squeezes the product in every case, so its last node is always a SqueezeBackward0
    return rename_node(reshape(c, ()) if tuple(c.shape) == (1, 1) else c, "SqueezeBackward0")


def _check_weights(weights, name, kinds, kind_words, n):
    """PyTorch's checks of cov's fweights or aweights, in its order: at most one dimension,
    the right dtype kind, one weight per observation, none negative."""
    if weights.ndim > 1:
        raise RuntimeError(f"cov(): expected {name} to have one or fewer dimensions but got "
                           f"{name} with {weights.ndim} dimensions")
    if weights._array.dtype.kind not in kinds:
        raise RuntimeError(f"cov(): expected {name} to have {kind_words} dtype but got "
                           f"{name} with {scalar_type_name(weights._array.dtype)} dtype")
    if weights.numel() != n:
        raise RuntimeError(f"cov(): expected {name} to have the same numel as there are "
                           f"observations in the input but got {weights.numel()} != {n}")
    if (weights._array < 0).any():
        raise RuntimeError(f"cov(): {name} cannot be negative")


def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``: cov / (std_i std_j),
    clipped to [-1, 1] (complex: the real and imaginary parts clipped apart); a 1-d input
    gives a 0-d result."""
    c = cov(input)
    if c.ndim == 0:
        return div(c, c)
    d = diagonal(c)
    is_complex = c._array.dtype.kind == "c"
    std = sqrt(real(d) if is_complex else d)      # a complex variance is real: c_ii = E|x_i|^2
    with np.errstate(divide="ignore", invalid="ignore"):
        r = div(div(c, unsqueeze(std, 1)), unsqueeze(std, 0))
    if is_complex:
        return complex_(clamp(real(r), -1.0, 1.0), clamp(imag(r), -1.0, 1.0))
    return clamp(r, -1.0, 1.0)


# ----------------------------------------------------------------------------------------------
# Quantiles
# ----------------------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor")
    # the parser's refusals (a float q and a Tensor q are two signatures: the wrappers list
    # them for the call)
    if not isinstance(q, (Tensor, numbers.Real, np.bool_)):
        raise argument_error(name, "q", "float", q)
    if dim is not None and not (isinstance(dim, numbers.Integral) and not isinstance(dim, bool)
                                or isinstance(dim, Tensor) and dim._array.dtype.kind in "iu"
                                and dim._array.ndim == 0):
        raise argument_error(name, "dim", "int", dim)
    if not isinstance(interpolation, str):
        raise argument_error(name, "interpolation", "str", interpolation)
    if _autocast_state.active:             # one of the ops CPU autocast runs in float32
        input, q = _autocast_widen(input, q)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"quantile() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    scalar_q = not isinstance(q, Tensor)
    if scalar_q and not 0 <= q <= 1:      # a number is checked first (PyTorch's overload)
        raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q:g}")
    if input._array.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    xp = backend.xp_of(input._array)
    qa = xp.asarray(q, dtype=input._array.dtype) if scalar_q else q._array
    if not scalar_q and qa.ndim > 1:
        raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    if input._array.dtype.kind not in "fV" or input._array.dtype.itemsize == 2:
        # (PyTorch's words say quantile() for nanquantile too; checked after the range of a
        # number q, the interpolation, the emptiness and q's dims)
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if not scalar_q:
        if qa.dtype != input._array.dtype:
            raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    if not ((qa >= 0) & (qa <= 1)).all():          # (a NaN q is out of range too)
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    if dim is None:
        x, d = reshape(input, -1), 0
    else:
        d = normalize_dim(dim, input.ndim)
        x = input if input.ndim else reshape(input, 1)
    x = movedim(x, d, -1)                                   # (..., n), sorted below
    values = sort(x, -1)[0]                                  # NaN sorts last
    n = x.shape[-1]
    nan = xp.isnan(x._array)
    q_flat = qa.reshape(-1)                                  # (k,)
    if ignore_nan:
        count = (~nan).sum(-1, keepdims=True)                # (..., 1)
        rank = q_flat * (xp.maximum(count, 1) - 1)           # (..., k)
    else:
        rank = xp.broadcast_to(q_flat * (n - 1), x.shape[:-1] + q_flat.shape)
    # a slice with NaN (quantile) or with only NaN (nanquantile) gives NaN: as PyTorch, its
    # rank is that of a NaN (the last sorted, the first), whose gradient is then the quantile's
    missing = (nan.all(-1) if ignore_nan else nan.any(-1))[..., None]
    if not ignore_nan:
        rank = xp.where(missing, n - 1, rank)
    lo = xp.floor(rank).astype(np.int64)
    hi = xp.ceil(rank).astype(np.int64)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = xp.round(rank).astype(np.int64)
    low = gather(values, -1, Tensor._wrap(lo))
    high = gather(values, -1, Tensor._wrap(hi))
    missing = xp.broadcast_to(missing, low.shape)
    if interpolation == "linear":
        # the fraction rank - lo, with rank = q (count - 1) written in ops so that a tensor q
        # that requires grad gets d out / d q = (high - low) (count - 1)
        if scalar_q:
            frac = Tensor._wrap((rank - lo).astype(input._array.dtype))
        else:
            scale = (xp.maximum(count, 1) - 1) if ignore_nan else xp.asarray(n - 1)
            frac = sub(mul(reshape(q, -1), Tensor._wrap(scale.astype(input._array.dtype))),
                       Tensor._wrap(lo.astype(input._array.dtype)))
            frac = where(missing, 0.0, frac)        # (NaN slices: no gradient to q)
        # zero, not NaN, in the NaN slices: the gradient goes to the NaN element alone
        step = where(missing, 0.0, sub(high, low))
        # PyTorch's lerp, from the nearer end: low + step w below w = 0.5, high - step (1 - w)
        # from it (so an infinite end gives PyTorch's inf or NaN, and its roundings)
        out = where(frac._array < 0.5, add(low, mul(step, frac)),
                    sub(high, mul(step, sub(1.0, frac))))
    elif interpolation == "midpoint":
        out = sub(high, mul(sub(high, low), 0.5))           # PyTorch's lerp with w = 0.5
    else:
        out = low
    if keepdim:         # (..., k) with the reduced dims kept, then k moved first, as PyTorch
        if dim is None:                                      # (its strides: k innermost)
            out = reshape(out, *((1,) * input.ndim + (out.shape[-1],)))
        elif input.ndim:
            out = unsqueeze(out, d)
    out = movedim(out, -1, 0)                                # (k, ...): NaN where missing
    return reshape(out, tuple(out.shape[1:])) if scalar_q or qa.ndim == 0 else out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles of ``input`` along ``dim`` (of all elements when None), q a number or
    a 1-d tensor (its values in [0, 1]; a tensor q puts its dim first in the result).  A slice
    holding NaN gives NaN."""
    return rename_node(_quantile(input, q, dim, keepdim, interpolation, False, "quantile"),
                       "SqueezeBackward4")               # PyTorch's last step


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaNs: each slice's quantiles of its non-NaN values (NaN when it
    has none)."""
    return rename_node(_quantile(input, q, dim, keepdim, interpolation, True, "nanquantile"),
                       "SqueezeBackward4")               # PyTorch's last step


# ----------------------------------------------------------------------------------------------
# Histograms
# ----------------------------------------------------------------------------------------------
def histc(input, bins=100, min=0, max=0):
    """Counts of ``input`` in ``bins`` equal bins over [min, max] (over the data's range when
    min = max; widened by 1 each side when that range is one point); elements outside are
    skipped.  The input's floating dtype."""
    check_tensor("histc", input)
    if isinstance(bins, Tensor):         # PyTorch reads a one-element tensor as its value
        bins = bins.item()
    else:
        bins = int_arg("histc", "bins", bins)
    min, max = number_arg("histc", "min", min), number_arg("histc", "max", max)
    a = input._array
    given = (float(min), float(max))
    if bins <= 0:                       # (PyTorch checks the count and the bounds first)
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    if given[0] != given[1] and not all(np.isfinite(given)):     # (before the dtype's check)
        raise RuntimeError(f"torch.histc: range of [{given[0]:g}, {given[1]:g}] is not finite")
    if given[0] > given[1]:
        raise RuntimeError("torch.histc: max must be larger than min")
    if a.dtype in dtypes.BAREBONES_UNSIGNED:   # uint16/32/64: the data's range, else the bins
        dtypes.refuse_unsigned("aminmax_cpu" if given[0] == given[1] and a.size else
                               "linspace_cpu", a.dtype)
    xp = backend.xp_of(a)
    lo, hi = float(min), float(max)
    from_data = lo == hi and a.size
    if a.dtype.kind not in "fV":        # (a bool tensor fails earlier there, making the bins)
        # (a complex one where its range is read from the data: at the min/max kernel)
        kernel = "linspace_cpu" if a.dtype.kind == "b" else "aminmax_cpu" if \
            a.dtype.kind == "c" and from_data else "histogram_cpu"
        if a.dtype.kind in "iu":
            _check_integer_edges(a, lo, hi, from_data)
        raise NotImplementedError(f"\"{kernel}\" not implemented for "
                                  f"'{scalar_type_name(a.dtype)}'")
    if from_data:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        # (C++'s printing: 1 for 1.0, and the NaN PyTorch's min/max of the data gives, -nan)
        words = ["-nan" if v != v and from_data else f"{v:g}" for v in (lo, hi)]
        raise RuntimeError(f"torch.histc: range of [{words[0]}, {words[1]}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    # PyTorch's kernel works in the input's dtype, each step rounded to it (a float16
    # difference beyond 65504 is inf, and its elements fall in no bin): the edges, the
    # offset, its product with the count of bins and the quotient by the width
    lo_t, hi_t = xp.asarray(lo, dtype=a.dtype), xp.asarray(hi, dtype=a.dtype)
    with np.errstate(all="ignore"):
        width = hi_t - lo_t
    if not xp.isfinite(width):
        # its edges come from a linspace whose step overflows: NaN edges hold nothing
        return Tensor._wrap(xp.zeros(bins, dtype=a.dtype))
    flat = a.reshape(-1)
    inside = flat[(flat >= lo_t) & (flat <= hi_t)]
    with np.errstate(all="ignore"):
        pos = (inside - lo_t) * xp.asarray(bins, dtype=a.dtype) / width
        # (a position that overflows to inf lands in bin 0, as the C++ cast of inf to an
        # integer leaves it there)
        pos = xp.where(xp.isfinite(pos), pos, 0).astype(np.int64)
    pos = xp.clip(pos, 0, bins - 1)
    return Tensor._wrap(xp.bincount(pos, minlength=bins).astype(a.dtype))


# C++'s names for the integer types in PyTorch's overflow error
_INT_C_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
                "int64": "int64_t"}


def _check_integer_edges(a, lo, hi, from_data):
    """histc of an integer tensor: PyTorch makes the edges in its dtype before it finds no
    kernel, so bounds the dtype cannot hold (-1 for uint8: an empty or constant tensor's
    widened range) are refused for the overflow first."""
    if from_data:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    info = np.iinfo(a.dtype)
    if not all(info.min <= v <= info.max for v in (lo, hi)):
        raise RuntimeError(f"value cannot be converted to type "
                           f"{_INT_C_NAMES.get(a.dtype.name, a.dtype.name)} without overflow")


def _c_name(np_dtype):
    return {"float32": "float", "float64": "double", "float16": "half"}.get(
        np.dtype(np_dtype).name, np.dtype(np_dtype).name)


# ----------------------------------------------------------------------------------------------
# Variance and mean together
# ----------------------------------------------------------------------------------------------
def var_mean(input, dim=None, unbiased=UNBIASED, keepdim=KEEPDIM, *, correction=None):
    """(variance, mean) over ``dim``; variance divides by N - correction (1 by default)."""
    return _with_mean(var, input, dim, unbiased, keepdim, correction, "var_mean")


def std_mean(input, dim=None, unbiased=UNBIASED, keepdim=KEEPDIM, *, correction=None):
    """(standard deviation, mean) over ``dim``."""
    return _with_mean(std, input, dim, unbiased, keepdim, correction, "std_mean")


def _with_mean(spread, input, dim, unbiased, keepdim, correction, name):
    """(spread(input), mean(input)) over the same dims: ``var``/``std`` themselves, so that
    no degrees of freedom left and ``dim=()`` give PyTorch's values and gradients."""
    if input._array.dtype.kind not in "fcV":      # checked before the dims, as PyTorch
        raise RuntimeError(f"{name} only support floating point and complex dtypes")
    out = _var_apply(Var if spread is var else Std, input, dim, unbiased, keepdim, correction,
                     name)
    keepdim = keepdim is not KEEPDIM and bool(keepdim)
    if isinstance(dim, bool) or dim is not None and len(normalize_dims(dim, input.ndim)) == 0:
        dim = None           # the old positional unbiased, or dim=(): every element
    # PyTorch makes both in one node (StdMeanBackward0, VarMeanBackward0)
    node = "StdMeanBackward0" if spread is std else "VarMeanBackward0"
    return rename_node(out, node), rename_node(mean(input, dim, keepdim=keepdim), node)
