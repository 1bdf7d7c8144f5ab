"""Pointwise ops added in round 7: ``rsub``, ``fmax``/``fmin``, ``isposinf``/``isneginf``,
``fill`` (out of place) and the function forms of ``fill_``, ``detach`` and ``detach_``.
(``angle``, ``real``, ``imag`` and ``isreal`` are in ``complex_numbers``.)
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from .._argument_words import parser_words
from ._util import argument_error, broadcast_shape, ieee
from .elementwise import Sub, cast, sub
from .pointwise_select import refuse_complex_pair, select_grad
from .plumbing import sum_to

__all__ = ["rsub", "fmax", "fmin", "isposinf", "isneginf", "fill", "fill_", "detach", "detach_"]


def rsub(input, other, alpha=1):
    """``other - alpha * input`` (``sub`` with its operands swapped); ``other`` may be a
    number."""
    if not isinstance(input, Tensor):
        raise TypeError(f"rsub(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    out = sub(other, input, alpha=alpha)       # (a number's is recorded as RsubBackward1)
    return rename_node(out, "RsubBackward0", Sub) if isinstance(other, Tensor) else out


# ----------------------------------------------------------------------------------------------
# fmax / fmin: maximum / minimum that ignore NaN
# ----------------------------------------------------------------------------------------------
class _NanIgnoringExtreme(Function):
    """out = fmax(a, b) (or fmin): the larger (smaller) of the two, the other one where one is
    NaN, NaN where both are.  Backward as PyTorch's: the whole gradient goes to ``a`` where
    a wins or ties, or where b is NaN, and to ``b`` elsewhere (no splitting of ties)."""
    numpy_fn = None
    wins = None                              # a's winning comparison with b (>= or <=)

    @ieee
    def forward(self, a, b):
        xp = backend.xp_of(a)
        self.shapes = a.shape, b.shape
        self.to_a = type(self).wins(a, b) | xp.isnan(b)
        return mf.pointwise_result(getattr(xp, self.numpy_fn)(a, b), a, b)

    def backward(self, g):
        sa, sb = self.shapes
        to_a = backend.xp_of(g._array).broadcast_to(self.to_a, g.shape)
        return (sum_to(select_grad(g, to_a), sa) if self.needs_input_grad[0] else None,
                sum_to(select_grad(g, ~to_a), sb) if self.needs_input_grad[1] else None)


class FMax(_NanIgnoringExtreme):
    _node_name = "FmaxBackward0"        # PyTorch's spelling
    numpy_fn = "fmax"
    wins = staticmethod(lambda a, b: a >= b)


class FMin(_NanIgnoringExtreme):
    _node_name = "FminBackward0"        # PyTorch's spelling
    numpy_fn = "fmin"
    wins = staticmethod(lambda a, b: a <= b)


def _nan_ignoring(function, input, other, name):
    for what, value, pos in (("input", input, 1), ("other", other, 2)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {pos}) must be Tensor, not "
                            f"{type(value).__name__}")
    refuse_complex_pair(input, other, name)         # (before the shapes, as PyTorch)
    broadcast_shape(input._array.shape, other._array.shape, name)
    if input.device != other.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {other.device}!")
    dtype = dtypes.result_type(input._array, other._array)
    # (PyTorch's integer fmax/fmin are maximum/minimum, which have no uint16/32/64 kernel)
    dtypes.refuse_unsigned("maximum_cpu" if name == "fmax" else "minimum_cpu", dtype)
    return function.apply(cast(input, dtype), cast(other, dtype))


def fmax(input, other):
    """Elementwise maximum ignoring NaN: the other element where one is NaN (NaN only where
    both are).  Broadcasts and promotes; ties send the gradient to ``input``."""
    return _nan_ignoring(FMax, input, other, "fmax")


def fmin(input, other):
    """Elementwise minimum ignoring NaN (see ``fmax``)."""
    return _nan_ignoring(FMin, input, other, "fmin")


# ----------------------------------------------------------------------------------------------
# Queries: not differentiable, bool results
# ----------------------------------------------------------------------------------------------
def _bool_like(xp, a, value):
    """A bool array shaped like ``a`` full of ``value``, laid out as PyTorch's ``zeros_like``
    / ``ones_like`` lay it out (``a``'s strides when dense, row-major when expanded)."""
    out = mf.empty_strided(xp, a.shape, mf.target_strides(a, mf.preserve_format), bool)
    out[...] = value
    return out


def _bool_of(input, fn):
    a = input._array
    return Tensor._wrap(fn(backend.xp_of(a), a))


def _refuse_complex(input, name):
    if input._array.dtype.kind == "c":          # +inf and -inf are real-line notions
        raise RuntimeError(f"{name} does not support complex inputs.")


def isposinf(input):
    """True where ``input`` is +inf (never for integers)."""
    _refuse_complex(input, "isposinf")
    return _bool_of(input, lambda xp, a: xp.isposinf(a) if a.dtype.kind in "fV"
                    else _bool_like(xp, a, False))


def isneginf(input):
    """True where ``input`` is -inf (never for integers)."""
    _refuse_complex(input, "isneginf")
    return _bool_of(input, lambda xp, a: xp.isneginf(a) if a.dtype.kind in "fV"
                    else _bool_like(xp, a, False))


# ----------------------------------------------------------------------------------------------
# fill, detach
# ----------------------------------------------------------------------------------------------
class Fill(Function):
    """out = a tensor shaped like ``a`` holding the 0-d ``value`` everywhere.
    Backward: 0 for ``a`` (its values are all replaced), sum(g) for ``value``."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, value):
        # laid out as ``a`` (PyTorch fills an empty_like of it: the input's dim order)
        return backend.xp_of(a).full_like(a, value, dtype=a.dtype)

    def backward(self, g):
        ga = gv = None
        if self.needs_input_grad[0]:
            ga = Tensor._wrap(backend.xp_of(g._array).zeros_like(g._array))
        if self.needs_input_grad[1]:
            gv = sum_to(g, ())
        return ga, gv


@parser_words("fill")
def fill(input, value):
    """A new tensor like ``input`` (shape, dtype, device) filled with ``value`` (a number or a
    0-d tensor, converted to input's dtype); the gradient flows to a tensor ``value``."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        value = cast(value, input._array.dtype)
    elif isinstance(value, (bool, int, float, np.number)):
        value = Tensor._wrap(backend.xp_of(input._array).asarray(value,
                                                                 dtype=input._array.dtype))
    else:                               # (parser_words lists PyTorch's two signatures)
        raise argument_error(None, "value", "Number", value)
    return Fill.apply(input, value)


@parser_words("fill_")
def fill_(input, value):
    """``input.fill_(value)``: every element of ``input`` set to ``value``, in place."""
    if not isinstance(value, (Tensor, bool, int, float, complex, np.number)):
        raise argument_error(None, "value", "Number", value)
    return input.fill_(value)


def detach(input):
    """``input.detach()``: the same memory, out of the graph."""
    return input.detach()


def detach_(input):
    """``input.detach_()``: ``input`` itself, cut out of the graph."""
    return input.detach_()
