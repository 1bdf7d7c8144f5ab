"""The arguments of ``narrow`` and ``narrow_copy`` checked as PyTorch checks them, in its
order, with its words.

PyTorch's parser first matches the types. ``narrow`` has two overloads, a Tensor ``start``
(which must then hold one integer, 0-d) or an int one; ``narrow_copy`` has one signature.
An int argument takes a Python or numpy integer (no bool) or a 0-d integer tensor, a size
argument (``length``, an int ``start``) any one-element integer tensor. Then the values:
``narrow`` refuses a 0-d input, a dim out of range, a negative length, a start outside
[-size, size], a piece running past the end; ``narrow_copy`` does the same but reads a
negative length as a piece running past the end, and words a too-large dim its own way.
"""
from __future__ import annotations

import numbers

from ..tensor import Tensor
from ._overloads import no_overload, type_names
from .._argument_error import ArgumentError
from ._util import normalize_dim, python_type_name

__all__ = ["narrow_arguments"]

_LENGTH, _DIM = "size", "int"


def _fits(value, kind):
    """Does PyTorch's parser read ``value`` as an int (``_DIM``) or a size (``_LENGTH``)?"""
    if isinstance(value, Tensor):
        return value._array.dtype.kind in "iu" and (
            value.ndim == 0 if kind is _DIM else value._array.size == 1)
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _no_overload(input, dim, start, length):
    fits = (isinstance(input, Tensor), _fits(dim, _DIM))
    last = _fits(length, _LENGTH)
    starts = (isinstance(start, Tensor), not isinstance(start, Tensor) and _fits(start, _LENGTH))
    return no_overload("narrow", type_names(input, dim, start, length),
                       [f"Tensor input, int dim, {kind} start, int length"
                        for kind in ("Tensor", "int")],
                       [tuple(zip((input, dim, start, length), (*fits, ok, last)))
                        for ok in starts])


def _parse(name, input, dim, start, length):
    """The types, as PyTorch's parser matches them: (dim, start, length) as ints."""
    if name == "narrow":
        if not (isinstance(input, Tensor) and _fits(dim, _DIM) and _fits(length, _LENGTH) and
                (isinstance(start, Tensor) or _fits(start, _LENGTH))):
            exc = _no_overload(input, dim, start, length)
            # (worded for the function: a method's wrapper words it for its call)
            bad = next(v for v, ok in ((dim, _fits(dim, _DIM)), (length, _fits(length, _LENGTH)),
                                       (start, isinstance(start, Tensor) or
                                        _fits(start, _LENGTH))) if not ok) \
                if isinstance(input, Tensor) else input
            exc.argument = ArgumentError(name, None, None, bad)
            raise exc
        if isinstance(start, Tensor) and not (start.ndim == 0 and
                                              start._array.dtype.kind in "iu"):
            raise RuntimeError("start must be an 0-dim integral Tensor.")
    else:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                            f"{python_type_name(input)}")
        for position, (label, value, kind) in enumerate(
                (("dim", dim, _DIM), ("start", start, _LENGTH), ("length", length, _LENGTH)), 2):
            if not _fits(value, kind):
                raise TypeError(f"{name}(): argument '{label}' (position {position}) must be "
                                f"int, not {python_type_name(value)}")
    out = tuple(int(v._array.reshape(())) if isinstance(v, Tensor) else int(v)
                for v in (dim, start, length))
    if any(not -2 ** 63 <= v < 2 ** 63 for v in out):     # the parser reads int64s
        raise ValueError("Overflow when unpacking long long")
    return out


def narrow_arguments(name, input, dim, start, length):
    """(dim, start, length) of ``narrow`` or ``narrow_copy`` (``name``) checked as PyTorch
    does, the dim and a negative start wrapped."""
    dim, start, length = _parse(name, input, dim, start, length)
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    copy = name == "narrow_copy"
    if copy and dim >= input.ndim:
        raise RuntimeError("Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, "
                           "but got false.  (Could this error message be improved?  If so, "
                           "please report an enhancement request to PyTorch.)")
    if length < 0 and not copy:
        # (checked before the dim, as PyTorch)
        raise RuntimeError("narrow(): length must be non-negative.")
    d = normalize_dim(dim, input.ndim)
    size = input.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if length < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return d, start, length
