"""Tensor's Python operators (``x + y``, ``x == y``, ``x & y``, ``x += y``, ``x[i]``), its core
in-place methods (``add_``, ``div_``, ``clamp_``, ``copy_``, ``fill_``...) and ``_torch_args``.

Kept apart from tensor.py so the Tensor class stays short: here, as in the sibling modules,
every method is one line that calls the function in ``minigrad/ops`` that does the work, grouped
by kind.  The named methods are next door: ``_tensor_methods_math.py`` (what the values compute),
``_tensor_methods_inplace.py`` (their in-place forms) and ``_tensor_methods_layout.py`` (shape,
device, dtype, storage, properties).

``_torch_args`` lets a method or function take the keyword spellings PyTorch accepts besides
its own: numpy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=``, ``input=`` / ``other=``
for the operands, and ``out=`` (the result is written into that tensor: ``_out_writes``).
Without keywords it adds one ``if`` to the call.
"""
from __future__ import annotations

import functools
import types

import numpy as np

from .ops import elementwise as E, reduce as R, indexing as X, inplace as I
from .ops import division as DV
from .ops import elementary_functions as EF, power as POW
from .ops import matmul as MM, compare as C
from .ops import bitwise as B
from .ops import inplace_pointwise as INP
from ._argument_error import refuse_numpy_dtype
from ._argument_words import restated, arity_restated
from ._parser_emulation import raise_reworded, refusal
from ._sparse_coo_ops import function_form
from ._tensor_input import _combination
from ._out_writes import (_KEEPDIM_NEEDS_DIM, _PROMOTED_RESULT, _check_out_cast, _keyword_only,
                          _out_rule, _params, _refuse_keepdim_without_dim, _tensor_arguments,
                          _write_out, check_out_first, logsumexp_for_out)
from ._type_names import python_type_name
from . import _out_rules as OR
from ._torch_function import NOT_OFFERED, offer_refused
from .tensor import Tensor

_ALIASES = {"axis": "dim", "keepdims": "keepdim"}


def _reflected(fn):
    """``other <op> self`` (``__rpow__``): called unbound on two non-tensors
    (``Tensor.__rpow__(2, 3)``) it returns NotImplemented, as PyTorch's Python-level reflected
    operators do when their op refuses the operands."""
    def method(self, other):
        if not isinstance(self, Tensor) and not isinstance(other, Tensor):
            return NotImplemented
        try:
            return fn(other, self)
        except TypeError:
            return NotImplemented       # (an operand the op refuses: Python's words)
    return method


def _rsub(self, other):
    """``other - self``; NotImplemented for a non-Tensor ``self`` (unbound use), as PyTorch's
    ``Tensor.__rsub__``, whose ``rsub`` takes a Tensor first."""
    if not isinstance(self, Tensor):
        return NotImplemented
    try:
        return E.sub(other, self)
    except TypeError:
        return NotImplemented       # ([1, 2] - t: Python's words, as PyTorch's)


_SEQUENCES = (list, tuple, str, bytes)


def _descriptor(op, name):
    """``op`` as the operator method ``name``: called unbound on something other than a
    Tensor (``Tensor.__radd__(2, 3)``) it raises the TypeError PyTorch's C-level methods
    raise, not computing ``2 + 3``."""
    def method(self, other):
        if not isinstance(self, Tensor):
            raise TypeError(f"descriptor '{name}' for 'Tensor' objects doesn't apply to a "
                            f"'{python_type_name(self)}' object")
        if isinstance(other, _SEQUENCES):
            return NotImplemented       # Python's own: [0] * tensor(3) repeats the list
        return op(self, other)
    method.__name__ = name
    return method


def _stable_positional(name, args, kwargs, method):
    """PyTorch's TypeError for sort/argsort given ``stable=`` beside a positional dim: the
    overload with ``stable`` takes dim and descending by keyword only.  The signatures as
    PyTorch lists them for the function (with its ``out``) or the method (without input);
    the keywords last given first, as PyTorch's map of them gives a few."""
    got = ", ".join(["Tensor"] * (not method) + [python_type_name(a) for a in args[1:]] +
                    [f"{k}={python_type_name(v)}" for k, v in reversed(kwargs.items())])
    head, out = ("", "") if method else ("Tensor input, ", "tuple of Tensors out = None" if
                                         name == "sort" else "Tensor out = None")
    first = f"{head}*, bool stable, int dim = -1, bool descending = False"
    second = f"{head}int dim = -1, bool descending = False"
    if not method:
        first += f", {out}"
        if name == "sort":
            second += f", *, {out}"
    why = "" if not method and name == "sort" else \
        "      didn't match because some of the keywords were incorrect: stable\n"
    return TypeError(f"{name}() received an invalid combination of arguments - got ({got}), "
                     f"but expected one of:\n * ({first})\n * ({second})\n{why}")


# the signatures of the ops without ``out=`` that ``_torch_args`` wraps, as PyTorch lists them
_MEAN_PAIR = ("Tensor input, tuple of ints dim, bool unbiased = True, bool keepdim = False",
              "Tensor input, tuple of ints dim = None, *, Number correction = None, bool keepdim "
              "= False", "Tensor input, bool unbiased = True")
_MEAN_PAIRS = {"var_mean": _MEAN_PAIR, "std_mean": _MEAN_PAIR}
# the functions whose signatures without a dim take no out= (``torch.sum(x, out=o)`` is the
# parser's refusal)
_OUT_NEEDS_DIM = frozenset(("sum", "prod", "logsumexp"))


def _offered(call, method, name, args, kwargs):
    """A refused call offered to the Tensor-likes among its arguments (``_torch_function``):
    a method's as ``Tensor.<name>``, a function's as itself."""
    if method:
        return offer_refused(getattr(Tensor, name, call), f"torch.Tensor.{name}", args, kwargs)
    return offer_refused(call, f"torch.{name}", args, kwargs)


def _torch_args(fn, method=False, name=None):
    """``fn`` also called as PyTorch allows: ``axis=``/``keepdims=``, ``input=``/``other=``
    (the first two operands by name) and ``out=`` (the result copied into ``out``); an
    argument of the wrong type, and too few or too many arguments, refused in the words
    PyTorch's parser gives that call of the function (of the Tensor method, with ``method``;
    ``name``: PyTorch's, where not ``fn``'s)."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if args and (type(args[0]) is not Tensor or len(args) > 1 and
                     type(args[1]) is not Tensor and isinstance(args[1], Tensor)):
            # a sparse COO tensor first (or in a list first, or second of add/mul/sub): the
            # function's sparse form (``_sparse_coo_ops``), where it has one
            form = function_form(fn.__name__, args)
            if form is not None:
                return form(*args, **kwargs)
        try:
            if not kwargs:
                return fn(*args)
            refuse_numpy_dtype(kwargs)
            return _call(args, dict(kwargs))
        except TypeError as exc:
            offered = _offered(call, method, name or fn.__name__, args, kwargs)
            if offered is not NOT_OFFERED:      # a Tensor-like's __torch_function__ took it
                return offered
            # (the parser's words, where it refuses the call)
            raise_reworded(exc, call, args, kwargs, method, name)
            if not hasattr(exc, "argument"):
                worded = arity_restated(exc, fn, args, kwargs, method, name, _OWN_CALLS)
                if worded is exc:
                    raise
                raise worded from None
            raise restated(exc, fn, args, kwargs, method) from None
        except AttributeError as exc:   # (an argument of a type the op cannot read)
            raise_reworded(exc, call, args, kwargs, method, name)
            raise

    def _call(args, kwargs):
        for alias, name in _ALIASES.items():
            if alias in kwargs:
                if name in kwargs:
                    raise TypeError(f"{fn.__name__}() got both '{alias}' and '{name}'")
                kwargs[name] = kwargs.pop(alias)
        if "input" in kwargs and not args and "input" not in _keyword_only(fn):
            args = (kwargs.pop("input"),)
        if "keepdim" in kwargs and len(args) == 1 and "dim" not in kwargs and \
                fn.__name__ in _KEEPDIM_NEEDS_DIM:
            _refuse_keepdim_without_dim(fn.__name__, kwargs)
        if "stable" in kwargs and len(args) > 1 and fn.__name__ in ("sort", "argsort"):
            # PyTorch's overload with ``stable`` takes dim and descending by keyword only
            raise _stable_positional(fn.__name__, args, kwargs, method)
        if "other" in kwargs and len(args) == 1 and "other" not in _params(fn):
            args = args + (kwargs.pop("other"),)
        out = kwargs.pop("out", None)
        if out is None:
            return fn(*args, **kwargs)
        if fn.__name__ in _MEAN_PAIRS:      # PyTorch's std_mean / var_mean take no out=
            raise _combination(fn.__name__, args, {**kwargs, "out": out}, _MEAN_PAIRS[
                fn.__name__])
        if fn.__name__ in _OUT_NEEDS_DIM and not method and len(args) < 2 and \
                "dim" not in kwargs:
            error = refusal(fn.__name__, False, args, {**kwargs, "out": out})
            if error is not None:
                raise error
        name = OR.OUT_NAMES.get(fn.__name__, fn.__name__)
        if name in OR.BINARY_FORMS and len(args) > 1 and isinstance(args[1], Tensor):
            name = OR.BINARY_FORMS[name]    # max(a, b) is torch's maximum, by that name
        rule = _out_rule(name, args, kwargs)
        OR.check_overlap(out, _tensor_arguments(args, kwargs), rule)
        check_out_first(name, args, kwargs, out)
        if name in _PROMOTED_RESULT and isinstance(out, Tensor) and len(args) == 2:
            _check_out_cast(name, args, kwargs, out, fn.__name__ != "outer")
        if (isinstance(out, Tensor) and fn.__name__ in OR.OUT_CASTS
                and kwargs.get("dtype") is None):
            # PyTorch reduces in out's dtype: a float sum into an int64 out adds the
            # truncated values (not the float sum, truncated)
            kwargs["dtype"] = out.dtype
        elif (name in OR.OUT_COMPUTES and isinstance(out, Tensor) and args and
              isinstance(args[0], Tensor) and out._array.dtype.kind == "f" and
              args[0]._array.dtype != out._array.dtype and kwargs.get("dtype") is None and
              args[0]._array.dtype.kind in "fV"):
            # PyTorch reduces a floating input in a floating out's dtype (a float32 mean
            # into a float64 out is a float64 mean)
            args = (E.cast(args[0], out.dtype),) + tuple(args[1:])
        elif (name in ("any", "all") and isinstance(out, Tensor) and args and
              isinstance(args[0], Tensor) and out._array.dtype == np.uint8 and
              args[0]._array.dtype != np.uint8):
            # PyTorch's uint8 any/all convert the input to uint8 first (0.5 and NaN are 0)
            args = (E.cast(args[0], out.dtype),) + tuple(args[1:])
        elif (name == "normal" and isinstance(out, Tensor) and kwargs.get("dtype") is None
              and not _tensor_arguments(args, kwargs)):
            # normal(mean, std, size, out=) of numbers draws straight into out, so in its
            # dtype (a float64 out gets float64 draws)
            kwargs["dtype"] = out.dtype
        result = fn(*args, **kwargs)
        if name == "logsumexp" and isinstance(out, Tensor) and isinstance(result, Tensor):
            result = logsumexp_for_out(args, kwargs, result, out)   # (PyTorch's steps)
        OR.check_self_overlap(out, result, rule)
        OR.check_grown_overlap(out, result, _tensor_arguments(args, kwargs), rule)
        return _write_out(out, result, name, rule)
    return call


# the code of ``_torch_args``'s wrappers: a TypeError raised in them and not deeper, by calling
# the wrapped function, is Python refusing that call's arguments
_OWN_CALLS = frozenset(c for c in _torch_args.__code__.co_consts if isinstance(c, types.CodeType))


def _numpy_defers(op):
    """``op`` as an operator method that gives NotImplemented for a numpy array operand, as
    PyTorch's operators do: Python then asks the array, and numpy computes (reading the
    tensor by ``__array__``, in numpy's promotion; a Tensor back by ``__array_wrap__``) or,
    deferring to the tensor's ``__array_priority__``, leaves Python to raise.  Any operand
    ``op`` refuses with a TypeError (``t @ 3``, ``t ** "a"``) gives NotImplemented too, as
    PyTorch's operators turn every TypeError into it: Python's "unsupported operand" words."""
    def operator(self, other):
        if isinstance(other, np.ndarray):
            return NotImplemented
        try:
            return op(self, other)
        except TypeError:
            return NotImplemented
    operator.__name__ = getattr(op, "__name__", "operator")
    return operator


# arithmetic operators (the tensor stays input 0 of a commutative op, as torch); + - * / of
# two tensors are hot paths: elementwise's operator forms, a call shorter than add/sub/mul/div
Tensor.__add__ = E.add_operator
Tensor.__radd__ = _descriptor(_numpy_defers(E.add), "__radd__")
Tensor.__sub__ = E.sub_operator
Tensor.__rsub__ = _numpy_defers(_rsub)
Tensor.__mul__ = E.mul_operator
Tensor.__rmul__ = _descriptor(_numpy_defers(E.mul), "__rmul__")
Tensor.__truediv__ = DV.div_operator
def _rtruediv(self, other):
    """``number / t`` as PyTorch computes it: ``t.reciprocal() * number`` (so the node keeps
    1/t, not t, which may then change in place, and the rounding is PyTorch's); an array
    ``a / t`` too, by the operator (numpy then multiplies).  Called unbound on a non-Tensor
    ``self`` it fails as PyTorch's does (no ``reciprocal``)."""
    if isinstance(other, np.ndarray):
        return self.reciprocal() * other
    if isinstance(other, (bool, int, float, complex, np.number, np.bool_)) or \
            not isinstance(self, Tensor):
        return E.mul(self.reciprocal(), other)
    try:
        if isinstance(other, Tensor):   # (a Tensor too: 1/t promoted first, then the product)
            return E.mul(self.reciprocal(), other)
        return DV.div(other, self)
    except TypeError:
        return NotImplemented       # (None / t: Python's words, as PyTorch's)


Tensor.__rtruediv__ = _rtruediv
Tensor.__rdiv__ = Tensor.__rtruediv__       # Python 2's name, which torch keeps


Tensor.__pow__ = _numpy_defers(POW.pow)
Tensor.__rpow__ = _numpy_defers(_reflected(POW.pow))
Tensor.__matmul__ = _numpy_defers(MM.matmul)
Tensor.__rmatmul__ = _numpy_defers(_reflected(MM.matmul))
Tensor.__neg__ = E.neg
Tensor.__pos__ = lambda self: self
Tensor.__abs__ = EF.abs
Tensor.__floordiv__ = _numpy_defers(DV.floor_divide)
Tensor.__rfloordiv__ = _numpy_defers(lambda a, b: DV.floor_divide(b, a))
Tensor.__mod__ = _numpy_defers(DV.remainder)
Tensor.__rmod__ = _numpy_defers(_reflected(DV.remainder))
Tensor.remainder = lambda a, b: DV.remainder(a, b)

# comparisons (no gradient)
def _comparison_operator(compare, arrays=False):
    """``x == other`` and friends: elementwise against a tensor or a number (an array too
    where ``arrays``: PyTorch's ``==`` alone takes one); any other object (None, a string, a
    list; an array for the others) gives NotImplemented, so that ``x == None`` is False,
    ``x < None`` a TypeError and ``x != array`` Python's identity test, as PyTorch's
    operators."""
    kinds = (Tensor, bool, int, float, complex, np.generic) + ((np.ndarray,) if arrays else ())

    def operator(self, other):
        if isinstance(other, kinds):
            return compare(self, other)
        return NotImplemented
    operator.__name__ = compare.__name__
    return operator


def _contains(self, element):
    """``element in t``: whether some element of ``t`` equals ``element`` (a number or a
    tensor that broadcasts against ``t``)."""
    if not isinstance(element, (Tensor, bool, int, float, complex, np.generic)):
        raise RuntimeError(f"Tensor.__contains__ only supports Tensor or scalar, but you "
                           f"passed in a {type(element)}.")
    return bool(R.any(C.eq(element, self) if isinstance(element, Tensor) else
                      C.eq(self, element)))


Tensor.__eq__ = _comparison_operator(C.eq_operator, arrays=True)
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
def _inplace_operator(op):
    """``x op= other``: ``op`` (in place) for a tensor or a number (numpy scalars included);
    any other operand (a numpy array, a list) gives NotImplemented, as PyTorch's operators, so
    that Python falls back to ``x = x op other``: a new tensor, x's views left as they were."""
    def operator(self, other):
        if not isinstance(other, (Tensor, bool, int, float, complex, np.generic)):
            return NotImplemented
        return op(self, other)
    operator.__name__ = op.__name__
    return operator


Tensor.__iadd__ = _inplace_operator(I.add_)
Tensor.__isub__ = _inplace_operator(I.sub_)
Tensor.__imul__ = _inplace_operator(I.mul_)
Tensor.__itruediv__ = _inplace_operator(I.div_)
# without these Python would fall back to x = x ** y (a new tensor, maybe of another dtype)
Tensor.__ipow__ = _inplace_operator(I.pow_)
Tensor.__ifloordiv__ = _inplace_operator(INP.floor_divide_)
Tensor.__imod__ = _inplace_operator(INP.remainder_)
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
Tensor.copy_ = I.copy_refusing_overlap      # (an overlapping self refused first)
Tensor.resize_ = I.resize_
Tensor.resize_as_ = I.resize_as_

# indexing
Tensor.__getitem__ = X.getitem
def _setitem(self, index, value):
    """``t[index] = value``: in place; returns None, as Python's protocol (and PyTorch's)."""
    X.setitem(self, index, value)


Tensor.__setitem__ = _setitem
