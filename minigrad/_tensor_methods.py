"""Attach the ops to ``Tensor`` as methods and operators (``x + y``, ``x.sum()``, ``x[i]``...).

Kept apart from tensor.py so the Tensor class stays short: here every method is one line that
calls the function in ``minigrad/ops`` that does the work, grouped by kind.

``_torch_args`` lets a method or function take the keyword spellings PyTorch accepts besides
its own: numpy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=``, ``input=`` / ``other=``
for the operands, and ``out=`` (the result is written into that tensor).  Without keywords
it adds one ``if`` to the call.
"""
from __future__ import annotations

import functools
import warnings

import numpy as np

from .ops import elementwise as E, reduce as R, movement as M, indexing as X, inplace as I
from .ops import matmul as MM, compare as C
from .ops import activation as A, trig as T, sorting as S, scatter_gather as G, shaping as H
from .ops import linalg as L, math_extra as MX
from .ops import special_functions as SF
from .ops import scatter_reduce as SR, selection as SE, bitwise as B
from .ops import set_ops as SO, stacking as ST, masked as MS
from .ops import pointwise_more as PW, products as PR, sequence_more as SQ, statistics as STAT
from .ops import solve as LS, decompositions as DEC, matrix_functions as MF
from .ops import integer_math as IM, sampling_more as SM, axis_splits as AX
from .ops import conjugation as CJ, strided as SD, index_reduce as IRD
from .ops import view_copies as VC, index_put as IP, pointwise_round7 as PR7
from .ops import complex_numbers as CN, spectral as SPEC
from .ops import matrix_round7 as MR7, numeric_grid as NG
from .ops import inplace_pointwise as INP, inplace_views as IV, tensor_predicates as TP
from .ops import lu as LU, householder_qr as HQR
from .ops import sampling_round8 as SR8
from .ops._util import scalar_type_name
from ._type_names import python_type_name
from . import _out_rules as OR
from ._grad_state import state as _GRAD
from . import _sparse_factories, backend, creation, dtypes
from . import _legacy_types as LT
from ._storage import TypedStorage, UntypedStorage
from . import _sampling as RS
from . import _memory_format as mf
from .autograd.engine import tensor_backward
from .autograd import graph as autograd_graph
from .tensor import Tensor, _COPY_CONSTRUCT, _parse_to, tensor

_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def _reflected(fn):
    """``other <op> self`` (``__rpow__``): called unbound on two non-tensors
    (``Tensor.__rpow__(2, 3)``) it returns NotImplemented, as PyTorch's Python-level reflected
    operators do when their op refuses the operands."""
    def method(self, other):
        if not isinstance(self, Tensor) and not isinstance(other, Tensor):
            return NotImplemented
        return fn(other, self)
    return method


def _rsub(self, other):
    """``other - self``; NotImplemented for a non-Tensor ``self`` (unbound use), as PyTorch's
    ``Tensor.__rsub__``, whose ``rsub`` takes a Tensor first."""
    if not isinstance(self, Tensor):
        return NotImplemented
    return E.sub(other, self)


def _descriptor(op, name):
    """``op`` as the operator method ``name``: called unbound on something other than a
    Tensor (``Tensor.__radd__(2, 3)``) it raises the TypeError PyTorch's C-level methods
    raise, not computing ``2 + 3``."""
    def method(self, other):
        if not isinstance(self, Tensor):
            raise TypeError(f"descriptor '{name}' for 'Tensor' objects doesn't apply to a "
                            f"'{python_type_name(self)}' object")
        return op(self, other)
    method.__name__ = name
    return method


def _torch_args(fn):
    """``fn`` also called as PyTorch allows: ``axis=``/``keepdims=``, ``input=``/``other=``
    (the first two operands by name) and ``out=`` (the result copied into ``out``)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not kwargs:
            return fn(*args)
        for alias, name in _ALIASES.items():
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() got both '{alias}' and '{name}'")
                kwargs[name] = kwargs.pop(alias)
        if "input" in kwargs and not args:
            args = (kwargs.pop("input"),)
        if "other" in kwargs and len(args) == 1 and "other" not in _params(fn):
            args = args + (kwargs.pop("other"),)
        out = kwargs.pop("out", None)
        if out is None:
            return fn(*args, **kwargs)
        name = OR.OUT_NAMES.get(fn.__name__, fn.__name__)
        if name in OR.BINARY_FORMS and len(args) > 1 and isinstance(args[1], Tensor):
            name = OR.BINARY_FORMS[name]    # max(a, b) is torch's maximum, by that name
        rule = _out_rule(name, args, kwargs)
        OR.check_overlap(out, _tensor_arguments(args, kwargs), rule)
        if (isinstance(out, Tensor) and fn.__name__ in OR.OUT_CASTS
                and kwargs.get("dtype") is None):
            # PyTorch reduces in out's dtype: a float sum into an int64 out adds the
            # truncated values (not the float sum, truncated)
            kwargs["dtype"] = out.dtype
        return _write_out(out, fn(*args, **kwargs), name, rule)
    return call


@functools.lru_cache(maxsize=None)
def _params(fn):
    code = getattr(fn, "__code__", None)
    return code.co_varnames[:code.co_argcount + code.co_kwonlyargcount] if code else ()


def _out_rule(name, args, kwargs):
    """The key of this call's rules in ``_out_rules``: ``name``, but ``max.dim`` for
    ``max(x, 0)`` and ``clamp.Tensor`` for ``clamp(x, lo, hi)`` with tensor bounds."""
    if name in OR.DIM_FORMS and (len(args) > 1 or "dim" in kwargs):
        return name + ".dim"
    if name in OR.SCALAR_BOUNDS and any(isinstance(v, Tensor) for v in
                                        (*args[1:], kwargs.get("min"), kwargs.get("max"))):
        return name + ".Tensor"
    return name


def _tensor_arguments(args, kwargs):
    """The tensors among an op's arguments, those in a list (cat's) included."""
    found = [v for v in (*args, *kwargs.values()) if isinstance(v, Tensor)]
    for v in args:
        if isinstance(v, (list, tuple)):
            found.extend(t for t in v if isinstance(t, Tensor))
    return found


def _out_grad_check(out, result, name):
    """PyTorch refuses ``out=`` while grad mode records a graph if an input requires grad (the
    result would then require it: a non-differentiable result such as argmax's passes) or an
    ``out`` tensor does; under ``no_grad`` both are allowed."""
    if not _GRAD.enabled:
        return
    pairs = tuple(zip(out, result)) if isinstance(result, tuple) else ((out, result),)
    if not all(isinstance(o, Tensor) for o, _ in pairs):
        return                                  # the TypeError of a wrong out comes first
    for o, r in pairs:
        if r.requires_grad or o.requires_grad:
            raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                               "automatic differentiation, but one of the arguments requires "
                               "grad.")


def _write_out(out, result, name, rule=None):
    """PyTorch's ``out=``: the result's values in ``out`` (resized if empty or of another
    shape, as torch does with a warning), in out's dtype; returns ``out``.  ``rule``: the key
    of the op's dtype rule in ``_out_rules.OUT_EXACT`` (``name`` if not given)."""
    _out_grad_check(out, result, name)
    return _write_values(out, result, name, name if rule is None else rule)


def _write_values(out, result, name, rule, index=0):
    if isinstance(result, tuple):
        for i, (o, r) in enumerate(zip(out, result)):
            _write_values(o, r, name, rule, i)
        return out
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    have, want = result._array.dtype, out._array.dtype
    exact = OR.OUT_EXACT.get(rule)
    if have != want and exact is not None:
        message = exact[index] if isinstance(exact, tuple) else exact
        raise RuntimeError(message(scalar_type_name(have), scalar_type_name(want)))
    if dtypes._category(have) > dtypes._category(want) and name not in OR.OUT_CASTS:
        if name in ("cat", "stack"):
            raise TypeError(f"torch.cat(): input types can't be cast to the desired output type "
                            f"{scalar_type_name(want)}")
        raise RuntimeError(f"result type {scalar_type_name(have)} can't be cast to the desired "
                           f"output type {scalar_type_name(want)}")
    if tuple(out.shape) != tuple(result.shape):
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(result.shape)}. This behavior is deprecated, and in a future "
                          f"PyTorch release outputs will not be resized unless they have zero "
                          f"elements. You can explicitly reuse an out tensor t by resizing it, "
                          f"inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        I.resize_unchecked_(out, tuple(result.shape))      # a grad leaf under no_grad too
    out._array[...] = result._array.astype(out._array.dtype, copy=False)
    out._vcounter.value += 1
    return out


# arithmetic operators (the tensor stays input 0 of a commutative op, as torch)
Tensor.__add__ = E.add
Tensor.__radd__ = _descriptor(E.add, "__radd__")
Tensor.__sub__ = E.sub
Tensor.__rsub__ = _rsub
Tensor.__mul__ = E.mul
Tensor.__rmul__ = _descriptor(E.mul, "__rmul__")
Tensor.__truediv__ = E.div
def _rtruediv(self, other):
    """``number / t`` as PyTorch computes it: ``t.reciprocal() * number`` (so the node keeps
    1/t, not t, which may then change in place, and the rounding is PyTorch's).  Called
    unbound on a non-Tensor ``self`` it fails as PyTorch's does (no ``reciprocal``)."""
    if isinstance(other, (bool, int, float, complex, np.number, np.bool_)) or \
            not isinstance(self, Tensor):
        return E.mul(self.reciprocal(), other)
    return E.div(other, self)


Tensor.__rtruediv__ = _rtruediv
Tensor.__rdiv__ = Tensor.__rtruediv__       # Python 2's name, which torch keeps


def _array_operand(op, reflected=False):
    """An operator of ``op``, which (unlike the named op) takes a numpy array operand, as
    PyTorch's operators do: the array becomes a tensor first."""
    def operator(self, other):
        if isinstance(other, np.ndarray):
            other = Tensor._wrap(backend.to_device(other, self.device))
        return op(other, self) if reflected else op(self, other)
    operator.__name__ = op.__name__
    return operator


Tensor.__pow__ = _array_operand(E.pow)
Tensor.__rpow__ = _reflected(E.pow)
Tensor.__matmul__ = MM.matmul
Tensor.__rmatmul__ = _reflected(MM.matmul)
Tensor.__neg__ = E.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = E.abs
Tensor.__floordiv__ = _array_operand(lambda a, b: E.div(a, b, rounding_mode="floor"))
Tensor.__rfloordiv__ = lambda a, b: E.div(b, a, rounding_mode="floor")   # array // t: refused
Tensor.__mod__ = _array_operand(E.remainder)
Tensor.__rmod__ = _reflected(E.remainder)       # array % t: refused, as PyTorch
Tensor.remainder = lambda a, b: E.remainder(a, b)

# comparisons (no gradient)
def _comparison_operator(compare):
    """``x == other`` and friends: elementwise against a tensor, a number or an array; any
    other object (None, a string, a list) gives NotImplemented, so that ``x == None`` is
    False and ``x < None`` a TypeError, as PyTorch's operators."""
    def operator(self, other):
        if isinstance(other, (Tensor, bool, int, float, complex, np.generic, np.ndarray)):
            return compare(self, other)
        return NotImplemented
    operator.__name__ = compare.__name__
    return operator


def _contains(self, element):
    """``element in t``: whether some element of ``t`` equals ``element`` (a number or a
    tensor that broadcasts against ``t``)."""
    if not isinstance(element, (Tensor, bool, int, float, complex, np.generic)):
        raise RuntimeError(f"`element in tensor` needs a Tensor or a number as element, got "
                           f"{type(element).__name__}")
    return bool(R.any(C.eq(element, self) if isinstance(element, Tensor) else
                      C.eq(self, element)))


Tensor.__eq__ = _comparison_operator(C.eq)
Tensor.__ne__ = _comparison_operator(C.ne)
Tensor.__lt__ = _comparison_operator(C.lt)
Tensor.__le__ = _comparison_operator(C.le)
Tensor.__gt__ = _comparison_operator(C.gt)
Tensor.__ge__ = _comparison_operator(C.ge)
Tensor.__contains__ = _contains

# bit operators (bool and integer tensors; not the logical ops: int_tensor | 4 sets a bit)
Tensor.__and__ = B.operator_method(B.bitwise_and)
Tensor.__or__ = B.operator_method(B.bitwise_or)
Tensor.__xor__ = B.operator_method(B.bitwise_xor)
Tensor.__lshift__ = B.operator_method(B.bitwise_left_shift)
Tensor.__rshift__ = B.operator_method(B.bitwise_right_shift)
Tensor.__rand__ = _descriptor(B.operator_method(B.bitwise_and, reflected=True), "__rand__")
Tensor.__ror__ = _descriptor(B.operator_method(B.bitwise_or, reflected=True), "__ror__")
Tensor.__rxor__ = _descriptor(B.operator_method(B.bitwise_xor, reflected=True), "__rxor__")
Tensor.__rlshift__ = B.operator_method(B.bitwise_left_shift, reflected=True)
Tensor.__rrshift__ = B.operator_method(B.bitwise_right_shift, reflected=True)
Tensor.__iand__ = B.operator_method(B.bitwise_and_)
Tensor.__ior__ = B.operator_method(B.bitwise_or_)
Tensor.__ixor__ = B.operator_method(B.bitwise_xor_)
Tensor.__ilshift__ = B.operator_method(B.bitwise_left_shift_)
Tensor.__irshift__ = B.operator_method(B.bitwise_right_shift_)
Tensor.__invert__ = B.invert
Tensor.bitwise_and = B.bitwise_and
Tensor.bitwise_or = B.bitwise_or
Tensor.bitwise_xor = B.bitwise_xor
Tensor.bitwise_not = B.bitwise_not
Tensor.bitwise_left_shift = B.bitwise_left_shift
Tensor.bitwise_right_shift = B.bitwise_right_shift
Tensor.bitwise_and_ = B.bitwise_and_
Tensor.bitwise_or_ = B.bitwise_or_
Tensor.bitwise_xor_ = B.bitwise_xor_
Tensor.bitwise_not_ = B.bitwise_not_
Tensor.bitwise_left_shift_ = B.bitwise_left_shift_
Tensor.bitwise_right_shift_ = B.bitwise_right_shift_

# in place
Tensor.__iadd__ = _array_operand(I.add_)
Tensor.__isub__ = I.sub_
Tensor.__imul__ = _array_operand(I.mul_)
Tensor.__itruediv__ = _array_operand(I.div_)
Tensor.add_ = I.add_
Tensor.sub_ = I.sub_
Tensor.mul_ = I.mul_


def _div_(self, other, *, rounding_mode=None):
    """In place: self / other, rounded as ``rounding_mode`` says (None: true division)."""
    if rounding_mode is None:
        return I.div_(self, other)
    return INP.divide_(self, other, rounding_mode=rounding_mode)


Tensor.div_ = _div_
Tensor.pow_ = I.pow_
Tensor.clamp_ = I.clamp_
Tensor.clip_ = I.clamp_
Tensor.clamp_min_ = lambda self, min: I.clamp_(self, min=min)
Tensor.clamp_max_ = lambda self, max: I.clamp_(self, max=max)
Tensor.relu_ = I.relu_
Tensor.zero_ = I.zero_
Tensor.fill_ = I.fill_
Tensor.copy_ = I.copy_
Tensor.resize_ = I.resize_
Tensor.resize_as_ = I.resize_as_

# indexing
Tensor.__getitem__ = X.getitem
def _setitem(self, index, value):
    """``t[index] = value``: in place; returns None, as Python's protocol (and PyTorch's)."""
    X.setitem(self, index, value)


Tensor.__setitem__ = _setitem

# pointwise
Tensor.add = _torch_args(E.add)
Tensor.sub = _torch_args(E.sub)
Tensor.subtract = _torch_args(E.sub)
Tensor.mul = _torch_args(E.mul)
Tensor.multiply = _torch_args(E.mul)
Tensor.div = _torch_args(E.div)
Tensor.divide = _torch_args(E.div)
Tensor.true_divide = _torch_args(E.div)
Tensor.pow = _torch_args(E.pow)
Tensor.neg = E.neg
Tensor.negative = E.neg
Tensor.exp = E.exp
Tensor.log = E.log
Tensor.log1p = E.log1p
Tensor.sqrt = E.sqrt
Tensor.rsqrt = E.rsqrt
Tensor.abs = E.abs
Tensor.sin = E.sin
Tensor.cos = E.cos
Tensor.tanh = E.tanh
Tensor.sigmoid = E.sigmoid
Tensor.relu = E.relu
Tensor.clamp = E.clamp
Tensor.clip = E.clamp
Tensor.clamp_min = E.clamp_min
Tensor.clamp_max = E.clamp_max
Tensor.maximum = _torch_args(E.maximum)
Tensor.minimum = _torch_args(E.minimum)
Tensor.square = E.square
Tensor.sign = C.sign
Tensor.floor = C.floor
Tensor.ceil = C.ceil
Tensor.round = C.round
Tensor.isnan = C.isnan
Tensor.isinf = C.isinf
Tensor.isfinite = C.isfinite
Tensor.eq = C.eq
Tensor.ne = C.ne
Tensor.lt = C.lt
Tensor.le = C.le
Tensor.gt = C.gt
Tensor.ge = C.ge
Tensor.logical_and = C.logical_and
Tensor.logical_or = C.logical_or
Tensor.logical_not = C.logical_not


def _where_method(self, condition, other):
    """``x.where(condition, y)``: ``where(condition, x, y)``, the condition a Tensor."""
    if not isinstance(condition, Tensor):
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                        f"{type(condition).__name__}")
    if isinstance(other, np.ndarray):
        raise TypeError("where(): argument 'other' (position 2) must be Tensor, not "
                        "numpy.ndarray")
    return E.where_checked(condition, self, other)


Tensor.where = _where_method

# trigonometry and erf (ops/trig.py, ops/activation.py)
Tensor.tan = T.tan
Tensor.asin = T.asin
Tensor.acos = T.acos
Tensor.atan = T.atan
Tensor.atan2 = _torch_args(T.atan2)
Tensor.arcsin = T.asin
Tensor.arccos = T.acos
Tensor.arctan = T.atan
Tensor.arctan2 = _torch_args(T.atan2)
Tensor.sinh = T.sinh
Tensor.cosh = T.cosh
Tensor.asinh = T.asinh
Tensor.acosh = T.acosh
Tensor.atanh = T.atanh
Tensor.arcsinh = T.asinh
Tensor.arccosh = T.acosh
Tensor.arctanh = T.atanh
Tensor.erf = A.erf

# the gamma family, erfc, erfinv, i0 (ops/special_functions.py)
Tensor.lgamma = SF.lgamma
Tensor.digamma = SF.digamma
Tensor.polygamma = lambda self, n: SF.polygamma(n, self)
Tensor.mvlgamma = lambda self, p: SF.mvlgamma(self, p)
Tensor.erfc = SF.erfc
Tensor.erfinv = SF.erfinv
Tensor.i0 = SF.i0
Tensor.igamma = SF.igamma
Tensor.igammac = SF.igammac

# more pointwise, scans and selections (ops/math_extra.py)
Tensor.log2 = MX.log2
Tensor.exp2 = MX.exp2
Tensor.log10 = MX.log10
Tensor.lerp = MX.lerp
Tensor.lerp_ = MX.lerp_
Tensor.nan_to_num = MX.nan_to_num
Tensor.nan_to_num_ = MX.nan_to_num_
Tensor.trunc = MX.trunc
Tensor.fix = MX.trunc
Tensor.frac = MX.frac
Tensor.isclose = MX.isclose
Tensor.logcumsumexp = _torch_args(MX.logcumsumexp)
Tensor.cummax = _torch_args(MX.cummax)
Tensor.cummin = _torch_args(MX.cummin)
Tensor.diagonal = H.diagonal
Tensor.narrow = M.narrow
Tensor.select = M.select
Tensor.masked_select = MX.masked_select
Tensor.fmod = _torch_args(MX.fmod)
Tensor.fmod_ = MX.fmod_

# sets, counts, splitting, masked writes (ops/set_ops.py, ops/stacking.py, ops/masked.py)
Tensor.unique = SO.unique
Tensor.unique_consecutive = SO.unique_consecutive
Tensor.bincount = SO.bincount
Tensor.tensor_split = ST.tensor_split
Tensor.masked_scatter = MS.masked_scatter
Tensor.masked_scatter_ = MS.masked_scatter_
# minigrad has no inference tensors (inference_mode is no_grad): no tensor is one
Tensor.nonzero = MX.nonzero

# reductions (numpy's axis= / keepdims= accepted too)
Tensor.sum = _torch_args(R.sum)
Tensor.mean = _torch_args(R.mean)
Tensor.prod = _torch_args(R.prod)
Tensor.max = _torch_args(R.max)
Tensor.min = _torch_args(R.min)
Tensor.amax = _torch_args(R.amax)
Tensor.amin = _torch_args(R.amin)
Tensor.argmax = _torch_args(R.argmax)
Tensor.argmin = _torch_args(R.argmin)
Tensor.var = _torch_args(R.var)
Tensor.std = _torch_args(R.std)
Tensor.logsumexp = _torch_args(R.logsumexp)
Tensor.softmax = _torch_args(R.softmax)
Tensor.log_softmax = _torch_args(R.log_softmax)
Tensor.all = _torch_args(R.all)
Tensor.any = _torch_args(R.any)
Tensor.count_nonzero = _torch_args(R.count_nonzero)
Tensor.norm = _torch_args(L.norm)
Tensor.cumsum = _torch_args(S.cumsum)
Tensor.cumprod = _torch_args(S.cumprod)

# ordering
Tensor.sort = _torch_args(S.sort)
Tensor.argsort = _torch_args(S.argsort)
Tensor.msort = S.msort
Tensor.topk = _torch_args(S.topk)

# gather / scatter (ops/scatter_gather.py)
Tensor.gather = _torch_args(G.gather)
Tensor.scatter = G.scatter
Tensor.scatter_add = G.scatter_add
Tensor.index_select = _torch_args(G.index_select)
Tensor.index_add = G.index_add
Tensor.masked_fill = G.masked_fill
Tensor.take_along_dim = G.take_along_dim
Tensor.scatter_ = lambda self, *args, **kwargs: I.copy_(self, G.scatter(self, *args, **kwargs))
Tensor.scatter_add_ = lambda self, *args: I.copy_(self, G.scatter_add(self, *args))
Tensor.index_add_ = lambda self, *args, **kwargs: I.copy_(self, G.index_add(self, *args, **kwargs))
Tensor.masked_fill_ = G.masked_fill_

# scatter reductions, index writes, selections (ops/scatter_reduce.py, ops/selection.py)
Tensor.scatter_reduce = SR.scatter_reduce
# (from a clone: the out-of-place node saves its input, which the copy back would overwrite)
Tensor.scatter_reduce_ = lambda self, *args, **kwargs: I.copy_(self, SR.scatter_reduce(
    self.clone(), *args, **kwargs))
Tensor.index_copy = SR.index_copy
Tensor.index_copy_ = lambda self, *args: I.copy_(self, SR.index_copy(self, *args))
Tensor.index_fill = SR.index_fill
Tensor.index_fill_ = lambda self, *args: I.copy_(self, SR.index_fill(self, *args))
Tensor.take = SR.take
Tensor.aminmax = SE.aminmax
Tensor.kthvalue = _torch_args(SE.kthvalue)
Tensor.median = _torch_args(SE.median)
Tensor.nanmedian = _torch_args(SE.nanmedian)
Tensor.mode = _torch_args(SE.mode)
Tensor.nansum = _torch_args(SE.nansum)
Tensor.nanmean = _torch_args(SE.nanmean)

# movement
Tensor.reshape = creation._size_keyword(M.reshape, "shape", 1)
Tensor.view = creation._size_keyword(M.view, "size", 1)
Tensor.flatten = M.flatten
Tensor.unflatten = M.unflatten_method
Tensor.squeeze = M.squeeze
Tensor.unsqueeze = M.unsqueeze
Tensor.transpose = M.transpose
Tensor.swapaxes = M.transpose
Tensor.permute = M.permute
Tensor.t = M.t
Tensor.expand = creation._size_keyword(M.expand, "size", 1)
Tensor.expand_as = M.expand_as
Tensor.repeat = M.repeat


def _split_method(self, split_size, dim=0):
    """``Tensor.split``: its size argument is called ``split_size`` (torch.split's is
    ``split_size_or_sections``)."""
    return M.split(self, split_size, dim)


Tensor.split = _split_method
Tensor.chunk = M.chunk
Tensor.unbind = M.unbind
Tensor.clone = M.clone
Tensor.contiguous = M.contiguous


def _flip(self, *dims, **kwargs):
    """``x.flip(0, 1)`` as well as ``x.flip([0, 1])`` and ``x.flip(dims=...)``."""
    if "dims" in kwargs and not dims:
        return M.flip(self, kwargs.pop("dims"), **kwargs)
    if not dims:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    if len(dims) == 1:
        one = dims[0]
        if isinstance(one, (tuple, list)):
            dims = one
        elif isinstance(one, bool) or not (isinstance(one, np.integer) or type(one) is int or (
                isinstance(one, Tensor) and not one.ndim and one._array.dtype.kind in "iu")):
            raise TypeError(f"flip(): argument 'dims' (position 1) must be tuple of ints, not "
                            f"{python_type_name(one)}")
    if kwargs:
        raise TypeError(f"flip() got an unexpected keyword argument '{next(iter(kwargs))}'")
    return M.flip_dims(self, dims)


Tensor.flip = _flip
Tensor.movedim = H.movedim
Tensor.moveaxis = H.movedim
Tensor.tril = H.tril
Tensor.triu = H.triu
Tensor.tril_ = lambda self, diagonal=0: I.copy_(self, H.tril(self, diagonal))
Tensor.triu_ = lambda self, diagonal=0: I.copy_(self, H.triu(self, diagonal))
Tensor.diag = H.diag
Tensor.outer = H.outer
Tensor.ger = H.outer
Tensor.repeat_interleave = H.repeat_interleave
Tensor.tile = H.tile_method
Tensor.unfold = H.unfold
Tensor.roll = H.roll
Tensor.view_as = lambda self, other: M.view(self, other.shape)
Tensor.reshape_as = lambda self, other: M.reshape(self, other.shape)
Tensor.type_as = lambda self, other: self.to(other.dtype)

# products
Tensor.matmul = _torch_args(MM.matmul)
Tensor.mm = _torch_args(MM.mm)
Tensor.bmm = _torch_args(MM.bmm)
Tensor.mv = _torch_args(MM.mv)
Tensor.dot = L.dot
Tensor.inner = L.inner
Tensor.det = LS.det
Tensor.logdet = LS.logdet
Tensor.slogdet = LS.slogdet
Tensor.inverse = LS.inv
Tensor.triangular_solve = LS.triangular_solve
Tensor.cholesky_solve = LS.cholesky_solve
Tensor.cholesky = DEC.torch_cholesky
Tensor.svd = DEC.torch_svd
Tensor.pinverse = DEC.pinverse
Tensor.matrix_power = MF.matrix_power
Tensor.matrix_exp = MF.matrix_exp
Tensor.orgqr = MF.householder_product
Tensor.lu = LU.torch_lu
Tensor.lu_solve = LU.torch_lu_solve
Tensor.qr = HQR.torch_qr
Tensor.geqrf = HQR.geqrf
Tensor.ormqr = HQR.ormqr

# comparisons of whole tensors
Tensor.allclose = lambda self, other, rtol=1e-05, atol=1e-08, equal_nan=False: allclose(self, other, rtol, atol, equal_nan)
Tensor.equal = lambda self, other: equal(self, other)

def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    """True when |a - b| <= atol + rtol |b| everywhere (shapes broadcast; isclose's checks)."""
    return bool(MX.isclose(a, b, rtol, atol, equal_nan)._array.all())


def equal(a, b) -> bool:
    """True when both tensors have the same shape and elements."""
    return tuple(a.shape) == tuple(b.shape) and bool((a._array == b._array).all())


# ----------------------------------------------------------------------------------------------
# Device and dtype
# ----------------------------------------------------------------------------------------------
def _to(self, *args, **kwargs) -> "Tensor":
    """``t.to(device)``, ``t.to(dtype)``, ``t.to(device, dtype)`` or ``t.to(other_tensor)``,
    with ``copy=`` and ``memory_format=`` keywords.

    ``t`` itself when nothing changes: same dtype and device, no ``copy=True``, and a format
    that is ``preserve_format`` or the one t's strides already suggest.  Otherwise a new
    tensor, laid out in the format (by default as ``t`` is)."""
    flags = [a for a in args if isinstance(a, bool)]     # to(dtype, non_blocking, copy)
    if len(flags) > 1:
        kwargs.setdefault("copy", flags[1])
    copy = bool(kwargs.pop("copy", False))
    fmt = mf.check(kwargs.pop("memory_format", None), "to")
    device, dtype = _parse_to([a for a in args if not isinstance(a, bool)], kwargs,
                              allow_copy=False)
    dtype = None if dtype is None else dtypes.to_dtype(dtype)
    device = None if device is None else backend.device(device)
    new_dtype = dtype is not None and dtype != self.dtype
    new_device = device is not None and device != self.device
    if not (new_dtype or new_device or copy) and (fmt is mf.preserve_format or
                                                  mf.suggest(self._array) is fmt):
        return self
    strides = mf.target_strides(self._array, fmt)
    source = self
    if new_dtype and self._array.dtype.kind == "c" and dtype is dtypes.bool_:
        source = C.ne(self, 0)             # any nonzero part is True, as PyTorch (no warning)
    elif new_dtype and self._array.dtype.kind == "c" and not dtype.is_complex:
        warnings.warn("Casting complex values to real discards the imaginary part",
                      UserWarning, stacklevel=2)
        source = CN.real(self)
    out = E.cast(source, dtype) if new_dtype else self
    if (out is self and not new_device) or mf.element_strides(out._array) != strides:
        out = M.Copy.apply(out, strides=strides)
    if new_device:
        out = M.to_device(out, device)
    return out

def _is_contiguous(self, *, memory_format=mf.contiguous_format) -> bool:
    """Are the elements stored densely in ``memory_format``'s order (row-major by default;
    NHWC for ``channels_last``, which is False on a tensor that is not 4-d)?"""
    return mf.is_contiguous(self._array, mf.check(memory_format, "is_contiguous",
                                                  none_means=None))

def _cuda(self, device=None, non_blocking=False, memory_format=mf.preserve_format) -> "Tensor":
    return _to(self, "cuda" if device is None else
               (f"cuda:{device}" if isinstance(device, int) else device),
               memory_format=mf.check(memory_format, "cuda"))

def _cpu(self, memory_format=mf.preserve_format) -> "Tensor":
    return _to(self, "cpu", memory_format=mf.check(memory_format, "cpu"))

def _type(self, dtype=None, non_blocking=False, **kwargs):
    """No argument: the legacy type name, ``'minigrad.FloatTensor'`` (``'minigrad.cuda.
    FloatTensor'`` on a GPU).  A dtype, or a legacy name (``'torch.DoubleTensor'``,
    ``'torch.cuda.LongTensor'``, minigrad's spelling too): the tensor converted to it."""
    if dtype is None:
        where = "cuda." if self.device.type == "cuda" else ""
        return f"minigrad.{where}{G.SCALAR_NAMES.get(self.dtype.name, self.dtype.name)}Tensor"
    if isinstance(dtype, str):
        parts = dtype.split(".")
        by_name = {f"{v}Tensor": k for k, v in G.SCALAR_NAMES.items()}
        if len(parts) not in (2, 3) or parts[0] not in ("torch", "minigrad") or \
                parts[-1] not in by_name or (len(parts) == 3 and parts[1] != "cuda"):
            raise ValueError(f"invalid type: {dtype!r} (expected a dtype or a name such as "
                             "'torch.FloatTensor' or 'torch.cuda.LongTensor')")
        converted = self.to(dtypes._named(by_name[parts[-1]]))
        return converted.to("cuda" if len(parts) == 3 else "cpu")
    if LT.is_legacy_type(dtype):                       # x.type(minigrad.LongTensor)
        return self.to(dtype.dtype).to("cpu")
    if isinstance(dtype, type):                        # PyTorch takes no Python/numpy type
        module = "" if dtype.__module__ == "builtins" else f"{dtype.__module__}."
        raise ValueError(f"invalid type: '{module}{dtype.__name__}'")
    if not isinstance(dtype, dtypes.DType):
        raise TypeError("dtype must be a type, str, or dtype object")
    return self.to(dtype)

def _as_dtype(dtype, name):
    """``t.float()``, ``t.long()``...: ``t.to(dtype, memory_format=...)``."""
    def convert(self, *, memory_format=mf.preserve_format):
        return _to(self, dtype, memory_format=mf.check(memory_format, name))
    convert.__name__ = name
    convert.__doc__ = f"``self.to({dtype!r}, memory_format=memory_format)``."
    return convert

def _new_tensor(self, data, dtype=None, requires_grad=False):
    if isinstance(data, Tensor):
        warnings.warn(_COPY_CONSTRUCT.format("tensor.new_tensor"), UserWarning, stacklevel=2)
        data = data.detach()._array
    return tensor(data, dtype=dtype or self.dtype, device=self.device,
                  requires_grad=requires_grad)


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"new_full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    return creation.full(tuple(size), fill_value, dtype=dtype or self.dtype,
                         device=device or self.device, requires_grad=requires_grad)

def _new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
    size = creation._size(size, "new_zeros")     # (new_zeros words a negative size as empty)
    return creation.zeros(size, dtype=dtype or self.dtype, device=device or self.device,
                          requires_grad=requires_grad)

def _new_ones(self, *size, dtype=None, device=None, requires_grad=False):
    return creation.ones(*size, dtype=dtype or self.dtype, device=device or self.device,
                         requires_grad=requires_grad)

def _new_empty(self, *size, dtype=None, device=None, requires_grad=False):
    return creation.empty(*size, dtype=dtype or self.dtype, device=device or self.device,
                          requires_grad=requires_grad)


# device, dtype and creation
Tensor.backward = tensor_backward
Tensor.register_post_accumulate_grad_hook = autograd_graph.register_post_accumulate_grad_hook
Tensor.to = _to
Tensor.is_contiguous = _is_contiguous
Tensor.is_complex = lambda self: self._array.dtype.kind == "c"
Tensor.get_device = lambda self: -1 if self.device.type == "cpu" else self.device.index


def _storage_offset(self) -> int:
    """Where this tensor's first element lies in its base's memory, in elements (0 for a
    tensor that owns its memory)."""
    base = self._base
    if base is None or not backend.xp_of(self._array).may_share_memory(self._array,
                                                                       base._array):
        return 0
    return (self.data_ptr() - base.data_ptr()) // self._array.itemsize


Tensor.storage_offset = _storage_offset
Tensor.untyped_storage = lambda self: UntypedStorage(self)
Tensor.storage = lambda self: TypedStorage(self)
Tensor.cuda = _cuda
Tensor.cpu = _cpu
Tensor.type = _type
Tensor.float = _as_dtype(dtypes.float32, "float")
Tensor.double = _as_dtype(dtypes.float64, "double")
Tensor.half = _as_dtype(dtypes.float16, "half")
Tensor.bfloat16 = _as_dtype(dtypes.bfloat16, "bfloat16")
Tensor.cfloat = _as_dtype(dtypes.complex64, "cfloat")
Tensor.cdouble = _as_dtype(dtypes.complex128, "cdouble")
Tensor.long = _as_dtype(dtypes.int64, "long")
Tensor.int = _as_dtype(dtypes.int32, "int")
Tensor.short = _as_dtype(dtypes.int16, "short")
Tensor.char = _as_dtype(dtypes.int8, "char")
Tensor.byte = _as_dtype(dtypes.uint8, "byte")
Tensor.bool = _as_dtype(dtypes.bool_, "bool")
Tensor.new_tensor = _new_tensor
Tensor.new_full = _new_full
Tensor.new_zeros = creation._size_keyword(_new_zeros, "size", 1, "new_zeros")
Tensor.new_ones = creation._size_keyword(_new_ones, "size", 1, "new_ones")
Tensor.new_empty = creation._size_keyword(_new_empty, "size", 1, "new_empty")



def _T(self):
    """All dims reversed; PyTorch warns that this is deprecated unless the tensor is 2-d."""
    if self.ndim == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                      "these cases.", UserWarning, stacklevel=2)
    elif self.ndim != 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                      "shape is deprecated and it will throw an error in a future release. "
                      "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                      "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                      UserWarning, stacklevel=2)
    return M.permute(self, *reversed(range(self.ndim)))


Tensor.T = property(_T)
Tensor.mT = property(M.mT)
Tensor.layout = property(lambda self: creation.strided)     # minigrad's tensors are all dense

# random fills in place (minigrad/_sampling.py)
Tensor.normal_ = RS.normal_
Tensor.uniform_ = RS.uniform_
Tensor.exponential_ = RS.exponential_
Tensor.geometric_ = RS.geometric_
Tensor.log_normal_ = RS.log_normal_
Tensor.cauchy_ = RS.cauchy_
Tensor.random_ = RS.random_
Tensor.bernoulli_ = RS.bernoulli_

# pointwise, products, sequences and statistics (ops/pointwise_more.py, products.py,
# sequence_more.py, statistics.py)
Tensor.sgn = CN.sgn
Tensor.copysign = PW.copysign
Tensor.hypot = PW.hypot
Tensor.logaddexp = PW.logaddexp
Tensor.logaddexp2 = PW.logaddexp2
Tensor.xlogy = PW.xlogy
Tensor.float_power = PW.float_power
Tensor.floor_divide = PW.floor_divide
Tensor.deg2rad = PW.deg2rad
Tensor.rad2deg = PW.rad2deg
Tensor.heaviside = PW.heaviside
Tensor.nextafter = PW.nextafter
Tensor.signbit = PW.signbit
Tensor.logit = PW.logit
Tensor.sinc = PW.sinc
Tensor.expm1 = PW.expm1
Tensor.positive = PW.positive
Tensor.addmm = PR.addmm
Tensor.addmv = PR.addmv
Tensor.addr = PR.addr
Tensor.addbmm = PR.addbmm
Tensor.baddbmm = PR.baddbmm
Tensor.addcmul = PR.addcmul
Tensor.addcdiv = PR.addcdiv
Tensor.addcmul_ = PR.addcmul_
Tensor.addcdiv_ = PR.addcdiv_
Tensor.kron = PR.kron
Tensor.cross = PR.cross
Tensor.dist = PR.dist
Tensor.vdot = PR.vdot
Tensor.diff = SQ.diff
Tensor.fliplr = SQ.fliplr
Tensor.flipud = SQ.flipud
Tensor.rot90 = SQ.rot90
Tensor.diag_embed = SQ.diag_embed
Tensor.diagflat = SQ.diagflat
Tensor.renorm = SQ.renorm
Tensor.argwhere = SQ.argwhere
Tensor.ravel = SQ.ravel
Tensor.cov = STAT.cov
Tensor.corrcoef = STAT.corrcoef
Tensor.quantile = STAT.quantile
Tensor.nanquantile = STAT.nanquantile
Tensor.histc = STAT.histc
Tensor.histogram = STAT.histogram

# integer math, sampling, splits, conjugation, strided views, index_reduce (round 6)
Tensor.gcd = IM.gcd
Tensor.gcd_ = IM.gcd_
Tensor.lcm = IM.lcm
Tensor.lcm_ = IM.lcm_
Tensor.ldexp = IM.ldexp
Tensor.ldexp_ = IM.ldexp_
Tensor.frexp = IM.frexp
Tensor.multinomial = SM.multinomial
Tensor.hsplit = AX.hsplit
Tensor.vsplit = AX.vsplit
Tensor.dsplit = AX.dsplit
Tensor.conj = CJ.conj
Tensor.conj_physical = CJ.conj_physical
Tensor.conj_physical_ = CJ.conj_physical_
Tensor.resolve_conj = CJ.resolve_conj
Tensor.resolve_neg = CJ.resolve_neg
Tensor.is_conj = CJ.is_conj
Tensor.is_neg = CJ.is_neg
Tensor.adjoint = CJ.adjoint
Tensor.as_strided = SD.as_strided
Tensor.narrow_copy = SD.narrow_copy
Tensor.index_reduce = IRD.index_reduce
Tensor.index_reduce_ = IRD.index_reduce_
Tensor.fill_diagonal_ = IRD.fill_diagonal_

# in place: every pointwise op, scan and fused product (ops/inplace_pointwise.py) and the
# view changes (ops/inplace_views.py)
Tensor.abs_ = INP.abs_
Tensor.absolute_ = INP.absolute_
Tensor.neg_ = INP.neg_
Tensor.negative_ = INP.negative_
Tensor.exp_ = INP.exp_
Tensor.exp2_ = INP.exp2_
Tensor.expm1_ = INP.expm1_
Tensor.log_ = INP.log_
Tensor.log2_ = INP.log2_
Tensor.log10_ = INP.log10_
Tensor.log1p_ = INP.log1p_
Tensor.sqrt_ = INP.sqrt_
Tensor.rsqrt_ = INP.rsqrt_
Tensor.square_ = INP.square_
Tensor.reciprocal_ = INP.reciprocal_
Tensor.sigmoid_ = INP.sigmoid_
Tensor.logit_ = INP.logit_
Tensor.sin_ = INP.sin_
Tensor.cos_ = INP.cos_
Tensor.tan_ = INP.tan_
Tensor.asin_ = INP.asin_
Tensor.acos_ = INP.acos_
Tensor.atan_ = INP.atan_
Tensor.sinh_ = INP.sinh_
Tensor.cosh_ = INP.cosh_
Tensor.tanh_ = INP.tanh_
Tensor.asinh_ = INP.asinh_
Tensor.acosh_ = INP.acosh_
Tensor.atanh_ = INP.atanh_
Tensor.arcsin_ = INP.arcsin_
Tensor.arccos_ = INP.arccos_
Tensor.arctan_ = INP.arctan_
Tensor.arcsinh_ = INP.arcsinh_
Tensor.arccosh_ = INP.arccosh_
Tensor.arctanh_ = INP.arctanh_
Tensor.sinc_ = INP.sinc_
Tensor.deg2rad_ = INP.deg2rad_
Tensor.rad2deg_ = INP.rad2deg_
Tensor.ceil_ = INP.ceil_
Tensor.floor_ = INP.floor_
Tensor.round_ = INP.round_
Tensor.trunc_ = INP.trunc_
Tensor.fix_ = INP.fix_
Tensor.frac_ = INP.frac_
Tensor.sign_ = INP.sign_
Tensor.sgn_ = INP.sgn_
Tensor.erf_ = INP.erf_
Tensor.erfc_ = INP.erfc_
Tensor.erfinv_ = INP.erfinv_
Tensor.lgamma_ = INP.lgamma_
Tensor.digamma_ = INP.digamma_
Tensor.i0_ = INP.i0_
Tensor.mvlgamma_ = INP.mvlgamma_
Tensor.logical_not_ = INP.logical_not_
Tensor.polygamma_ = INP.polygamma_
Tensor.atan2_ = INP.atan2_
Tensor.arctan2_ = INP.arctan2_
Tensor.copysign_ = INP.copysign_
Tensor.hypot_ = INP.hypot_
Tensor.heaviside_ = INP.heaviside_
Tensor.nextafter_ = INP.nextafter_
Tensor.xlogy_ = INP.xlogy_
Tensor.remainder_ = INP.remainder_
Tensor.floor_divide_ = INP.floor_divide_
Tensor.igamma_ = INP.igamma_
Tensor.igammac_ = INP.igammac_
Tensor.divide_ = INP.divide_
Tensor.true_divide_ = INP.true_divide_
Tensor.multiply_ = INP.multiply_
Tensor.subtract_ = INP.subtract_
Tensor.eq_ = INP.eq_
Tensor.ne_ = INP.ne_
Tensor.lt_ = INP.lt_
Tensor.le_ = INP.le_
Tensor.gt_ = INP.gt_
Tensor.ge_ = INP.ge_
Tensor.not_equal_ = INP.not_equal_
Tensor.less_ = INP.less_
Tensor.less_equal_ = INP.less_equal_
Tensor.greater_ = INP.greater_
Tensor.greater_equal_ = INP.greater_equal_
Tensor.logical_and_ = INP.logical_and_
Tensor.logical_or_ = INP.logical_or_
Tensor.logical_xor_ = INP.logical_xor_
Tensor.float_power_ = INP.float_power_
Tensor.cumsum_ = INP.cumsum_
Tensor.cumprod_ = INP.cumprod_
Tensor.renorm_ = INP.renorm_
Tensor.addmm_ = INP.addmm_
Tensor.addmv_ = INP.addmv_
Tensor.addr_ = INP.addr_
Tensor.addbmm_ = INP.addbmm_
Tensor.baddbmm_ = INP.baddbmm_
Tensor.t_ = IV.t_
Tensor.transpose_ = IV.transpose_
Tensor.swapaxes_ = IV.swapaxes_
Tensor.swapdims_ = IV.swapdims_
Tensor.squeeze_ = IV.squeeze_
Tensor.unsqueeze_ = IV.unsqueeze_
Tensor.as_strided_ = IV.as_strided_

# aliases and small methods (ops/tensor_predicates.py)
Tensor.reciprocal = TP.reciprocal
Tensor.absolute = E.abs
Tensor.logical_xor = TP.logical_xor
Tensor.greater = C.gt
Tensor.greater_equal = C.ge
Tensor.less = C.lt
Tensor.less_equal = C.le
Tensor.not_equal = C.ne
Tensor.swapdims = M.transpose
Tensor.broadcast_to = creation._size_keyword(M.expand, "size", 1, "broadcast_to")
Tensor.hardshrink = A.hardshrink
Tensor.prelu = A.prelu
Tensor.is_signed = TP.is_signed
Tensor.is_nonzero = TP.is_nonzero
Tensor.is_same_size = TP.is_same_size
Tensor.dim_order = TP.dim_order
Tensor.new = TP.new
Tensor.apply_ = TP.apply_
Tensor.map_ = TP.map_
Tensor.map2_ = TP.map2_
Tensor.nbytes = property(TP.nbytes)
Tensor.output_nr = property(TP.output_nr)
Tensor.H = property(TP.H)
Tensor.mH = property(TP.mH)
Tensor.is_cpu = property(lambda self: self.device.type == "cpu")
Tensor.is_meta = property(lambda self: False)         # no meta device in minigrad
Tensor.is_sparse = False        # a class attribute: SparseCooTensor's says True (cheap test)
Tensor.to_sparse = _sparse_factories.to_sparse
Tensor.to_sparse_csr = _sparse_factories.to_sparse_csr
Tensor.is_quantized = property(lambda self: False)
Tensor.is_nested = property(lambda self: False)
Tensor.name = None                                    # PyTorch's (named-tensor) default

# round 7 (part B): view copies/scatters, index_put/put, NaN-ignoring extremes, queries
Tensor.trace = MR7.trace
Tensor.sum_to_size = MR7.sum_to_size
Tensor.cholesky_inverse = MR7.cholesky_inverse
Tensor.fmax = PR7.fmax
Tensor.fmin = PR7.fmin
Tensor.isposinf = PR7.isposinf
Tensor.isneginf = PR7.isneginf
Tensor.isreal = CN.isreal
Tensor.angle = CN.angle
# properties, as PyTorch's; assigning to one writes that part of a complex tensor in place
Tensor.real = property(CN.real, lambda self, value: CN.real(self).copy_(value))
Tensor.imag = property(CN.imag, lambda self, value: CN.imag(self).copy_(value))
Tensor.split_with_sizes = VC.split_with_sizes
Tensor.unsafe_chunk = VC.unsafe_chunk
Tensor.unsafe_split = VC.unsafe_split
Tensor.unsafe_split_with_sizes = VC.unsafe_split_with_sizes
Tensor.diagonal_scatter = VC.diagonal_scatter
Tensor.select_scatter = VC.select_scatter
Tensor.slice_scatter = VC.slice_scatter
Tensor.as_strided_scatter = VC.as_strided_scatter
Tensor.index_put = IP.index_put
Tensor.index_put_ = IP.index_put_
Tensor.put = IP.put
Tensor.put_ = IP.put_
Tensor.nonzero_static = NG.nonzero_static

# round 8: out-of-place bernoulli, strided factories, pinned/shared memory (ops/sampling_round8.py)
Tensor.bernoulli = SR8.bernoulli
Tensor.new_empty_strided = SR8.new_empty_strided
Tensor.pin_memory = SR8.pin_memory
Tensor.is_pinned = SR8.is_pinned
Tensor.share_memory_ = SR8.share_memory_
Tensor.is_shared = SR8.is_shared
Tensor.stft, Tensor.istft = SPEC.stft, SPEC.istft
