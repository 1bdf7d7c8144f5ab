"""``minigrad._foreach_*``: one op applied to every tensor of a list (PyTorch's multi-tensor
functions, used by optimizers and weight averaging: ``_foreach_mul_(ema, 0.99)``).

Each is a loop over the tensors calling the ordinary op, so the out-of-place forms are
differentiable like that op and the in-place forms (trailing ``_``) follow its in-place rules
(dtype casting, version counters).  The second operand may be a number, a list of numbers (one
per tensor), a 0-d tensor, or a list of tensors; the lists must have one entry per tensor.
Out-of-place forms return a tuple of new tensors; in-place forms return the list they were
given, as PyTorch's do.
"""
from __future__ import annotations

import functools
import numbers

from ..tensor import Tensor
from ._util import no_complex_kernel

__all__ = []        # filled below, one name per op


def _type_names(args):
    return ", ".join(type(a).__name__ for a in args)


def _tensor_list(name, tensors, args):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or \
            not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({_type_names(args)}), but expected a list or tuple of Tensors")
    if len(tensors) == 0:
        raise RuntimeError("Tensor list must have at least one tensor.")
    return list(tensors)


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, Tensor)


def _operands(name, tensors, other, args):
    """``other`` spread to one operand per tensor, with PyTorch's checks."""
    n = len(tensors)
    if _is_number(other):
        return [other] * n
    if isinstance(other, Tensor):
        if other.dim() != 0:
            raise RuntimeError(f"scalar tensor expected to be 0 dim but it has {other.dim()} "
                               f"dimensions and {other.numel()} elements.")
        return [other] * n
    if isinstance(other, (list, tuple)):
        if all(isinstance(o, Tensor) for o in other) and len(other) > 0:
            if len(other) != n:
                raise RuntimeError(f"Tensor lists must have the same number of tensors, got "
                                   f"{n} and {len(other)}")
            return list(other)
        if all(_is_number(o) for o in other):
            if len(other) != n:
                raise RuntimeError("Tensor list must have same number of elements as scalar "
                                   "list.")
            return list(other)
    raise TypeError(f"{name}() received an invalid combination of arguments - got "
                    f"({_type_names(args)})")


def _returns_its_list(fn):
    """An in-place form returns the very list (or tuple) of tensors it changed."""
    @functools.wraps(fn)
    def inplace(tensors, *args, **kwargs):
        fn(tensors, *args, **kwargs)
        return tensors
    return inplace


def _export(fn, name):
    if name.endswith("_"):
        fn = _returns_its_list(fn)
    fn.__name__ = fn.__qualname__ = name
    globals()[name] = fn
    __all__.append(name)


# with a number, maximum and minimum are PyTorch's clamp_min and clamp_max (and share their
# dtype rules: no kernel for a bool tensor and a number)
_WITH_NUMBER = {"maximum": "clamp_min", "minimum": "clamp_max"}
# the kernels PyTorch's foreach extremes run, which have no complex version
_EXTREME_KERNEL = {"maximum": "maximum_cpu", "clamp_min": "maximum_cpu",
                   "minimum": "minimum_cpu", "clamp_max": "minimum_cpu"}


def _make_binary(op, with_alpha=False):
    """``_foreach_<op>(tensors, other[, alpha])`` and its in-place form."""
    def method(o):
        return _WITH_NUMBER.get(op, op) if _is_number(o) else op

    def unordered(tensors):
        if op in _EXTREME_KERNEL:
            no_complex_kernel(_EXTREME_KERNEL[op], *tensors)

    def outer(tensors, other, **kwargs):
        name = f"_foreach_{op}"
        tensors = _tensor_list(name, tensors, (tensors, other))
        operands = _operands(name, tensors, other, (tensors, other))
        unordered(tensors)
        return tuple(getattr(t, method(o))(o, **kwargs) for t, o in zip(tensors, operands))

    def inplace(tensors, other, **kwargs):
        name = f"_foreach_{op}_"
        tensors = _tensor_list(name, tensors, (tensors, other))
        operands = _operands(name, tensors, other, (tensors, other))
        unordered(tensors)
        for t, o in zip(tensors, operands):
            getattr(t, method(o) + "_")(o, **kwargs)

    if with_alpha:
        def outer_alpha(tensors, other, *, alpha=1):
            return outer(tensors, other, **({} if alpha == 1 else {"alpha": alpha}))

        def inplace_alpha(tensors, other, *, alpha=1):
            inplace(tensors, other, **({} if alpha == 1 else {"alpha": alpha}))
        _export(outer_alpha, f"_foreach_{op}")
        _export(inplace_alpha, f"_foreach_{op}_")
    else:
        _export(lambda tensors, other: outer(tensors, other), f"_foreach_{op}")
        _export(lambda tensors, other: inplace(tensors, other), f"_foreach_{op}_")


def _make_unary(op):
    def outer(tensors):
        tensors = _tensor_list(f"_foreach_{op}", tensors, (tensors,))
        return tuple(getattr(t, op)() for t in tensors)

    def inplace(tensors):
        tensors = _tensor_list(f"_foreach_{op}_", tensors, (tensors,))
        for t in tensors:
            getattr(t, op + "_")()
    _export(outer, f"_foreach_{op}")
    _export(inplace, f"_foreach_{op}_")


def _make_pointwise(op):
    """``_foreach_addcmul(tensors, tensors1, tensors2, value=1)`` (and addcdiv): ``value`` a
    number, a list of numbers or a 1-d tensor of one value per tensor."""
    def spread(name, tensors, t1, t2, value):
        tensors = _tensor_list(name, tensors, (tensors, t1, t2))
        t1 = _operands(name, tensors, t1, (tensors, t1, t2))
        t2 = _operands(name, tensors, t2, (tensors, t1, t2))
        if isinstance(value, Tensor):
            if value.dim() != 1 or value.numel() != len(tensors):
                raise RuntimeError("Expected length of scalars to match input of length "
                                   f"{len(tensors)} but got {value.numel()} instead.")
            value = [float(v) for v in value.tolist()]
        values = _operands(name, tensors, value, (tensors, t1, t2, value))
        return tensors, t1, t2, values

    # PyTorch names the third argument ``value`` (a number) or ``scalars`` (a list or tensor)
    def outer(tensors, tensor1, tensor2, value=1, *, scalars=None):
        value = value if scalars is None else scalars
        tensors, t1, t2, values = spread(f"_foreach_{op}", tensors, tensor1, tensor2, value)
        return tuple(getattr(t, op)(a, b, value=v) for t, a, b, v in zip(tensors, t1, t2, values))

    def inplace(tensors, tensor1, tensor2, value=1, *, scalars=None):
        value = value if scalars is None else scalars
        tensors, t1, t2, values = spread(f"_foreach_{op}_", tensors, tensor1, tensor2, value)
        for t, a, b, v in zip(tensors, t1, t2, values):
            getattr(t, op + "_")(a, b, value=v)
    _export(outer, f"_foreach_{op}")
    _export(inplace, f"_foreach_{op}_")


for _op in ("add", "sub"):
    _make_binary(_op, with_alpha=True)
for _op in ("mul", "div", "pow", "clamp_min", "clamp_max", "maximum", "minimum"):
    _make_binary(_op)
for _op in ("abs", "neg", "sqrt", "rsqrt", "exp", "log", "sign", "sigmoid", "tanh",
            "reciprocal", "sin", "cos", "floor", "ceil", "round", "trunc", "acos", "asin",
            "atan", "tan", "sinh", "cosh", "erf", "erfc", "expm1", "frac", "lgamma", "log10",
            "log1p", "log2"):
    _make_unary(_op)
for _op in ("addcmul", "addcdiv"):
    _make_pointwise(_op)
del _op


def _foreach_lerp(tensors, tensors1, weight):
    """``start + weight * (end - start)`` for each pair; ``weight`` a number or tensors."""
    tensors = _tensor_list("_foreach_lerp", tensors, (tensors, tensors1, weight))
    ends = _operands("_foreach_lerp", tensors, tensors1, (tensors, tensors1, weight))
    weights = _operands("_foreach_lerp", tensors, weight, (tensors, tensors1, weight))
    return tuple(t.lerp(e, w) for t, e, w in zip(tensors, ends, weights))


@_returns_its_list
def _foreach_lerp_(tensors, tensors1, weight):
    tensors = _tensor_list("_foreach_lerp_", tensors, (tensors, tensors1, weight))
    ends = _operands("_foreach_lerp_", tensors, tensors1, (tensors, tensors1, weight))
    weights = _operands("_foreach_lerp_", tensors, weight, (tensors, tensors1, weight))
    for t, e, w in zip(tensors, ends, weights):
        t.lerp_(e, w)


def _foreach_norm(tensors, ord=2, dtype=None):
    """The vector ``ord``-norm of each tensor (a tuple of 0-d tensors)."""
    tensors = _tensor_list("_foreach_norm", tensors, (tensors,))
    kwargs = {} if dtype is None else {"dtype": dtype}
    return tuple(t.norm(p=ord, **kwargs) for t in tensors)


@_returns_its_list
def _foreach_zero_(tensors):
    for t in _tensor_list("_foreach_zero_", tensors, (tensors,)):
        t.zero_()


@_returns_its_list
def _foreach_copy_(tensors, src, non_blocking=False):
    tensors = _tensor_list("_foreach_copy_", tensors, (tensors, src))
    sources = _operands("_foreach_copy_", tensors, src, (tensors, src))
    for t, s in zip(tensors, sources):
        t.copy_(s)


def _foreach_clone(tensors):
    """A copy of each tensor (in the autograd graph, as clone)."""
    return tuple(t.clone() for t in _tensor_list("_foreach_clone", tensors, (tensors,)))


def _foreach_max(tensors):
    """The largest element of each tensor (a tuple of 0-d tensors)."""
    tensors = _tensor_list("_foreach_max", tensors, (tensors,))
    if any(t.numel() == 0 for t in tensors):
        raise RuntimeError("_foreach_max cannot compute the maximum of an empty tensor; max "
                           "over zero elements is undefined.")
    return tuple(t.max() for t in tensors)


def _foreach_mm(tensors, other):
    """The matrix product of each pair: tensors[i] @ other[i] (2-d each)."""
    tensors = _tensor_list("_foreach_mm", tensors, (tensors, other))
    others = _operands("_foreach_mm", tensors, other, (tensors, other))
    return tuple(a.mm(b) for a, b in zip(tensors, others))


__all__ += ["_foreach_lerp", "_foreach_lerp_", "_foreach_norm", "_foreach_zero_",
            "_foreach_copy_", "_foreach_clone", "_foreach_max", "_foreach_mm"]
