"""``minigrad.masked``: PyTorch's ``torch.masked`` reductions and normalizations on a plain
tensor plus a boolean ``mask`` (True = the element takes part; the mask broadcasts to the
input).  ``MaskedTensor`` itself is not provided.

Each function replaces the masked-out elements by the identity of its reduction and then runs
the ordinary op, so gradients flow to the kept elements only and higher-order gradients work:

    sum, cumsum, norm: 0      prod, cumprod: 1      amax, argmax, logsumexp, softmax: -inf
    amin, argmin, softmin: +inf      median: NaN (then nanmedian)

A reduction over elements that are all masked out therefore gives the identity (sum 0, prod 1,
amax -inf or the dtype's lowest integer, logsumexp -inf), while mean, var and std give NaN
(0 / 0) and softmax NaN across the row.  argmax / argmin return their indices in the input's
dtype, as PyTorch's do.  ``dtype`` casts the input before anything else; ``mask=None`` keeps
every element.  Integer inputs follow PyTorch too: mean refuses them, logsumexp and median
return the input's integer dtype (median refusing a slice with nothing kept).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import backend, dtypes
from .ops.elementary_functions import sqrt
from .ops.elementwise import cast, mul, sub
from .ops.division import div
from .ops.pointwise_select import maximum, where
from .ops._util import normalize_dim, not_implemented_for, to_tensor_like
from .ops.norms import vector_norm
from .ops.plumbing import conj_of
from .ops.pointwise_more import logaddexp as _logaddexp
from .ops.extrema import amax as _amax, amin as _amin, argmax as _argmax, argmin as _argmin
from .ops.reduce import prod as _prod, sum as _sum
from .ops.softmax import log_softmax as _log_softmax, logsumexp as _logsumexp
from .ops.softmax import softmax as _softmax
from .ops.selection import nanmedian
from .ops.sorting import cumprod as _cumprod, cumsum as _cumsum
from .tensor import Tensor

__all__ = ["sum", "mean", "amax", "amin", "argmax", "argmin", "prod", "cumsum", "cumprod",
           "softmax", "log_softmax", "softmin", "norm", "normalize", "var", "std", "logsumexp",
           "logaddexp", "median"]


def _input(name, input, dtype):
    if not isinstance(input, Tensor):
        raise TypeError(f"masked {name} expects input to be torch.Tensor but got "
                        f"{type(input).__name__}")
    return input if dtype is None or dtypes.to_dtype(dtype).np == input._array.dtype else \
        cast(input, dtype)


def _mask(input, mask):
    """The mask as a bool tensor of input's shape, or None for 'keep everything'."""
    if mask is None:
        return None
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a Tensor, not {type(mask).__name__}")
    array = mask._array
    if array.dtype != np.bool_:
        array = array != 0
    target, have = tuple(input.shape), tuple(mask.shape)
    if len(have) > len(target):
        raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality "
                         "higher than of the input)")
    for offset in range(1, len(have) + 1):     # PyTorch's expand error, last dimension first
        size = have[-offset]
        wanted = target[-offset]
        if size != 1 and size != wanted:
            dim = len(target) - offset
            raise RuntimeError(
                f"The expanded size of the tensor ({wanted}) must "
                f"match the existing size ({size}) at non-singleton dimension {dim}.  Target "
                f"sizes: {list(target)}.  Tensor sizes: {list(have)}")
    return Tensor._wrap(backend.xp_of(array).broadcast_to(array, target))


def _identity(input, kind):
    """The value a masked-out element becomes: the identity of the reduction ``kind``."""
    floating = input._array.dtype.kind in "fcV"
    if kind == "max":
        return -math.inf if floating else (False if input._array.dtype == np.bool_
                                           else int(np.iinfo(input._array.dtype).min))
    if kind == "min":
        return math.inf if floating else (True if input._array.dtype == np.bool_
                                          else int(np.iinfo(input._array.dtype).max))
    if input._array.dtype == np.bool_ and kind in ("sum", "prod"):    # keeps the dtype bool
        return kind == "prod"
    return {"sum": 0, "prod": 1, "nan": math.nan}[kind]


def _filled(input, mask, kind, name=None):
    """input with its masked-out elements replaced by the identity of ``kind``; ``name``: the
    reduction PyTorch names when that identity does not exist (+-inf for bool input)."""
    m = _mask(input, mask)
    if m is None:
        return input
    if kind in ("max", "min") and input._array.dtype == np.bool_:
        raise NotImplementedError(f"identity of {name} on torch.bool input")
    return where(m, input, _identity(input, kind))


def _torch_name(input):
    return f"torch.{dtypes.from_numpy_dtype(input._array.dtype).name}"


def _dims(input, dim):
    """dim as a tuple of non-negative ints (all dimensions for None)."""
    if dim is None:
        return tuple(range(input.dim()))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    return tuple(sorted(normalize_dim(d, input.dim()) for d in dims))


def _count(input, dim, keepdim, mask):
    """How many elements each reduction keeps, as a tensor of input's float dtype (the real
    one of a complex input: a count divides, and is compared with 0, as a real number)."""
    m = _mask(input, mask)
    if m is None:
        if input.dim() == 0:            # a 0-d input: dim 0 or -1 names its one element
            return 1
        return int(np.prod([input.shape[d] for d in _dims(input, dim)] or [1]))
    return _sum(cast(m, input._array.real.dtype), _dims(input, dim), keepdim)


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The sum of the kept elements over ``dim`` (0 where all are masked out)."""
    input = _input("sum", input, dtype)
    return _sum(_filled(input, mask, "sum"), _dims(input, dim), keepdim)


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The mean of the kept elements: their sum / their count (NaN where none is kept)."""
    input = _input("mean", input, dtype)
    if input._array.dtype.kind not in "fcV":
        raise ValueError("mean(): Could not infer output dtype. Input dtype must be either a "
                         f"floating point or complex dtype. Got: {_torch_name(input)}")
    total = _sum(_filled(input, mask, "sum"), _dims(input, dim), keepdim)
    return div(total, _count(input, dim, keepdim, mask))


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The largest kept element over ``dim`` (-inf, or the dtype's minimum, if none)."""
    input = _input("amax", input, dtype)
    return _amax(_filled(input, mask, "max", "amax"), _dims(input, dim), keepdim)


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The smallest kept element over ``dim`` (+inf, or the dtype's maximum, if none)."""
    input = _input("amin", input, dtype)
    return _amin(_filled(input, mask, "min", "amin"), _dims(input, dim), keepdim)


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The index of the largest kept element along ``dim``, in the input's dtype."""
    input = _input("argmax", input, dtype)
    out = _argmax(_filled(input, mask, "max", "argmax"), dim, keepdim)
    return cast(out, input._array.dtype)


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The index of the smallest kept element along ``dim``, in the input's dtype."""
    input = _input("argmin", input, dtype)
    out = _argmin(_filled(input, mask, "min", "argmin"), dim, keepdim)
    return cast(out, input._array.dtype)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The product of the kept elements over ``dim`` (1 where all are masked out)."""
    input = _input("prod", input, dtype)
    out = _filled(input, mask, "prod")
    dims = _dims(input, dim)
    if input.dim() == 0 or dim is None or not dims:   # every element: integers give int64
        if not keepdim or input.dim() == 0:
            return _prod(out)
        dims = tuple(range(input.dim()))
    for d in reversed(dims):                 # one dimension at a time, highest first
        out = _prod(out, d, keepdim)
    return out


def cumsum(input, dim, *, dtype=None, mask=None):
    """The running sum along ``dim``, masked-out elements counting as 0."""
    input = _input("cumsum", input, dtype)
    _refuse_bool("cumsum", input)
    # unlike torch.cumsum, the masked form keeps the input's dtype (integers do not become int64)
    return _cumsum(_filled(input, mask, "sum"), dim, dtype=input.dtype)


def cumprod(input, dim, *, dtype=None, mask=None):
    """The running product along ``dim``, masked-out elements counting as 1."""
    input = _input("cumprod", input, dtype)
    _refuse_bool("cumprod", input)
    return _cumprod(_filled(input, mask, "prod"), dim, dtype=input.dtype)


def _refuse_bool(name, input):
    """The masked running sum and product keep the input's dtype, which torch has no kernel
    for when it is bool."""
    if input._array.dtype == np.bool_:
        raise NotImplementedError(f"\"{name}_out_cpu\" not implemented for 'Bool'")


def softmax(input, dim, *, dtype=None, mask=None):
    """softmax over the kept elements of ``dim``; masked-out ones get 0 (a row with none kept
    gives NaN)."""
    input = _input("softmax", input, dtype)
    return _softmax(_filled(input, mask, "max", "amax"), dim)


def log_softmax(input, dim, *, dtype=None, mask=None):
    """log of ``softmax``: -inf at masked-out elements."""
    input = _input("log_softmax", input, dtype)
    return _log_softmax(_filled(input, mask, "max", "amax"), dim)


def softmin(input, dim, *, dtype=None, mask=None):
    """softmax of -input over the kept elements of ``dim``."""
    input = _input("softmin", input, dtype)
    filled = _filled(input, mask, "min", "amin")
    if input._array.dtype == np.bool_:        # PyTorch negates the input, which bool refuses
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                           "you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return _softmax(mul(filled, -1), dim)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    """The vector ``ord``-norm of the kept elements over ``dim`` (0 where none is kept;
    for ord = -inf masked-out elements count as +inf)."""
    input = _input("norm", input, dtype)
    kind = "min" if ord == -math.inf else "sum"
    dims = _dims(input, dim)
    return vector_norm(_filled(input, mask, kind), ord, dims, keepdim)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    """input / max(norm(input), eps) along ``dim``, with masked-out elements set to 0."""
    input = _input("normalize", input, dtype)
    size = norm(input, ord, dim, keepdim=True, mask=mask)
    return div(_filled(input, mask, "sum"),
               maximum(size, to_tensor_like(eps, size, dtype=size._array.dtype)))


def _correction(unbiased, correction):
    if unbiased is not None and correction is not None:
        raise ValueError("Only one of unbiased and correction may be given")
    if correction is not None:
        return correction
    return 0 if unbiased is False else 1


def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None,
        mask=None):
    """The variance of the kept elements over ``dim``: sum |x - mean|^2 / (count - correction)
    (NaN where none is kept); a complex input's variance is real, in its complex dtype."""
    input = _input("var", input, dtype)
    dims = _dims(input, dim)
    count = _count(input, dims, True, mask)
    centre = div(_sum(_filled(input, mask, "sum"), dims, True), count)
    deviation = _filled(sub(input, centre), mask, "sum")
    # |d|^2 = d conj(d): kept complex for a complex input (PyTorch's masked var keeps the
    # input's dtype; the imaginary part is zero up to rounding)
    squares = _sum(mul(deviation, conj_of(deviation)), dims, keepdim)
    count = _count(input, dims, keepdim, mask)
    # fewer kept elements than the correction: PyTorch clamps the divisor at 0 (inf or NaN)
    divisor = count - _correction(unbiased, correction)
    divisor = maximum(divisor, to_tensor_like(0, divisor, dtype=divisor._array.dtype)) \
        if isinstance(divisor, Tensor) else max(divisor, 0)
    return div(squares, divisor)


def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None,
        mask=None):
    """The square root of ``var``."""
    return sqrt(var(input, dim, unbiased, correction=correction, keepdim=keepdim, dtype=dtype,
                    mask=mask))


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """log(sum(exp)) of the kept elements over ``dim`` (-inf where none is kept)."""
    input = _input("logsumexp", input, dtype)
    out = _logsumexp(_filled(input, mask, "max", "logsumexp"), _dims(input, dim), keepdim)
    # PyTorch hands an integer input's result back in its dtype (-inf becomes the lowest value)
    return out if out._array.dtype == input._array.dtype else _to_integer(out, input)


def _to_integer(out, like):
    xp = backend.xp_of(out._array)
    if like._array.dtype == np.bool_:          # a cast to bool: nonzero (NaN too) is True
        return Tensor._wrap(out._array != 0)
    values = xp.nan_to_num(out._array, neginf=np.iinfo(like._array.dtype).min)
    return Tensor._wrap(xp.trunc(values).astype(like._array.dtype))


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    """log(exp(input) + exp(other)) with masked-out elements of either taken as -inf."""
    input = _input("logaddexp", input, dtype)
    other = _input("logaddexp", other, dtype)
    return _logaddexp(_filled(input, input_mask, "max", "logaddexp"),
                      _filled(other, other_mask, "max", "logaddexp"))


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """The (lower) median of the kept elements along ``dim`` (NaN where none is kept); the
    values only, without indices."""
    input = _input("median", input, dtype)
    if input._array.dtype.kind == "c":             # complex numbers have no order
        raise not_implemented_for("nanmedian_cpu", input._array.dtype)
    if input._array.dtype.kind in "fV":
        return nanmedian(_filled(input, mask, "nan"), dim, keepdim).values
    # integers have no NaN to stand for a masked-out element: go through float64
    m = _mask(input, mask)
    if m is not None and not backend.as_numpy(m._array).any(axis=dim).all():
        raise ValueError("masked median expects no fully masked out rows if dtype is not "
                         "floating point")
    out = nanmedian(_filled(cast(input, np.float64), mask, "nan"), dim, keepdim).values
    return cast(out, input._array.dtype)
