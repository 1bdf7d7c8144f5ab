"""Rectifiers and clamps: ``relu`` (max(x, 0)), ``leaky_relu`` (x, or slope * x below 0),
``clamp`` / ``clamp_min`` / ``clamp_max`` (every element limited to [min, max], by numbers or
by tensors).

Their gradients are masks: ``g`` passes where the output followed the input (relu: where the
output is positive or NaN; clamp: inside [min, max], bounds included) and is exactly 0
elsewhere, even a NaN ``g``; leaky_relu's scales ``g`` by 1 or the slope instead.  Relu keeps
its output, not its input, and its forward and backward run block by block over the arrays
(``_max_zero``, ``_pass_where_positive``).
"""
from __future__ import annotations

import numbers
import sys

import numpy as np

from .. import _memory_format as mf, backend, dtypes, parallel
from .._argument_error import ArgumentError
from ..autograd import Function
from ..autograd.engine import frees_saved_values
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import FLOAT32_64 as _FLOATS, broadcast_shape, not_implemented_for, python_type_name
from .elementwise import _scalar_or_tensor, cast
from .plumbing import sum_to
from .pointwise_select import _piecewise_grad, _select, select_grad
from ._constant_blocks import (ZERO_BLOCK as _ZERO_BLOCK, max_with as _max_with,
                               max_zero as _max_zero, zero_block as _zero_block)
from .writes import apply_inplace


# ----------------------------------------------------------------------------------------------
# Rectifiers and clamps
# ----------------------------------------------------------------------------------------------
class Relu(Function):
    keeps_input = False                 # it keeps its output, not its input

    saved_names = ("result",)

    def forward(self, a):
        # Backward needs only where the output is positive: the output is kept, as PyTorch
        # keeps it. The next layer (a convolution, a pool) usually holds it anyway, so relu
        # adds no memory of its own; a bool mask beside it was a quarter of it again (16 MB
        # of a ResNet step's 154). An in-place write to it later is caught, as in PyTorch.
        xp = backend.xp_of(a)
        # laid out as the input, but row-major for a broadcast one (numpy's empty_like would
        # put its 0-stride dims innermost; PyTorch's treat them as unordered)
        out = xp.empty(a.shape, a.dtype) if 0 in a.strides else xp.empty_like(a)
        if a.size <= _ZERO_BLOCK and type(a) is np.ndarray and a.dtype in _FLOATS and \
                a.flags.c_contiguous:
            # one block or less: no pieces to split, one call (the per-call checks of
            # map_pieces and _max_zero were 2/3 of a small relu's own time)
            np.maximum(_zero_block(a.dtype)[:a.size].reshape(a.shape), a, out=out)
        else:
            parallel.map_pieces(_max_zero, a, out)
        # (a dense non-row-major input: PyTorch's exact strides, size-1 dims' included)
        out = out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        # 1 where the output is positive (or NaN: PyTorch passes the gradient where not
        # out <= 0), else 0: a constant, so the second derivative is 0
        out, = self.saved_tensors
        if not is_grad_enabled():
            arr = out._array
            # the output freed right after this (no retain_graph), kept plainly (no
            # saved-tensor hooks, which may keep the tensor themselves) and held by nobody
            # else (no tensor, no view: references from this node, ``out``, ``arr`` and the
            # call): the gradient is written over it, and the backward allocates nothing
            reuse = (frees_saved_values() and getattr(self, "_packed", False) is True and
                     sys.getrefcount(arr) <= 4)
            del out
            res = _pass_where_positive(g._array, arr, reuse)
            if not arr.flags.c_contiguous:      # laid out as the output, as PyTorch's
                res = mf.pointwise_layout(res, (arr, g._array))
            return Tensor._wrap(res)
        return _piecewise_grad(self, g, ~(out._array <= 0), True)


# Relu's backward works through its arrays in blocks of this many numbers: the block's mask
# stays in cache, where a whole one was a quarter of the output's size again. Each block is
# three numpy calls, so small blocks cost Python time, and on two threads each call is a
# chance for the other thread to take the interpreter lock. Measured on one thread (float32,
# 16x32x64x64, an integer mask of the gradient's width): 64K blocks 1.69 ms, 128K 1.47 ms,
# 512K 2.14 ms (its mask no longer fits in cache); the earlier multiply by a bool mask took
# 1.63-1.75 ms. Since round 23 the gradient's bits are multiplied by a 1/0 mask of their
# width (exact: x 1 or x 0, as integers), two calls a block instead of three (compare, minus
# 1, bitwise and): a 128K block 51-56 -> 44 us in float32. (A bool mask was faster still
# alone, but numpy multiplies integers by bools through a buffered cast that gives up the
# interpreter lock every few thousand numbers: beside another busy Python thread, 14x
# slower.)
_RELU_BLOCK = 1 << 17
# at most this many numbers, the backward is one where(): the block loop's setup costs more
# than the work below it
_SMALL_RELU = 1 << 12
# the integer type of each float type's width: the gradient's bits are masked in it
_BITS = {np.dtype(np.float16): np.dtype(np.int16), np.dtype(np.float32): np.dtype(np.int32),
         np.dtype(np.float64): np.dtype(np.int64)}


def _pass_mask(o, mask):
    """mask (integers) = 1 where relu's output ``o`` passes the gradient, else 0: where it is
    positive or NaN, that is, not o <= 0. A relu output is never below zero (only +-0 where
    it stops), so that is o != 0, one comparison."""
    np.not_equal(o, 0, out=mask, casting="unsafe")


def _pass_where_positive(g, out, overwrite=False):
    """g where not out <= 0, else exactly 0 (a NaN or infinite g included, as PyTorch's
    threshold_backward): g, out (same shape) -> a new array, or ``out`` itself, overwritten,
    when ``overwrite`` allows and the layouts match.

    ``out`` is relu's output (never below zero). For float16/32/64 numpy arrays g's bits, as
    integers of their width, are multiplied by a 1/0 mask of that width (``_pass_mask``):
    exact for every g, infinities and NaNs included (a float g * 0 would be NaN for an
    infinite g), in two passes (compare, multiply)."""
    xp = backend.xp_of(out)
    dtype = xp.result_type(g, out)
    reuse = (overwrite and dtype == out.dtype and g.shape == out.shape and xp is np and
             out.flags.c_contiguous and out.flags.writeable)
    if out.size <= _SMALL_RELU and g.shape == out.shape and g.dtype == dtype and \
            out.flags.c_contiguous and (g.flags.c_contiguous or 0 in g.strides):
        # (out row-major and g too, or broadcast, as a sum's gradient: a row-major result)
        # a small one: a selection in one call (a new array: reusing ``out`` saves nothing
        # worth it), no blocks, no threads
        return xp.where(out <= 0, dtype.type(0), g)
    bits = _BITS.get(dtype) if xp is np else None
    res = out if reuse else xp.empty(out.shape, dtype=dtype) if out.flags.c_contiguous else \
        xp.empty_like(out, dtype=dtype)         # (laid out as a permuted ``out``)
    if bits is None or g.shape != out.shape or g.dtype != dtype:
        stop = out <= 0                   # before res (which may be out) is written
        xp.copyto(res, g)
        xp.copyto(res, 0, where=stop)
        return res
    if not (g.flags.c_contiguous and out.flags.c_contiguous):
        # any strides (a broadcast g from a sum, a channels-last output): one whole mask,
        # made before res (which may be out) is written
        mask = np.empty_like(out, dtype=bits)
        _pass_mask(out, mask)
        np.multiply(g.view(bits), mask, out=res.view(bits))
        return res

    def piece(gp, op, rp):
        mask = np.empty(min(_RELU_BLOCK, op.size), dtype=bits)
        gb, rb = gp.view(bits), rp.view(bits)
        # rp may be op: each block is read (into the mask) before it is written
        for s in range(0, op.size, _RELU_BLOCK):
            e = min(op.size, s + _RELU_BLOCK)
            m = mask[:e - s]
            _pass_mask(op[s:e], m)
            np.multiply(gb[s:e], m, out=rb[s:e])
    parallel.map_pieces(piece, g.reshape(-1), out.reshape(-1), res.reshape(-1))
    return res


class LeakyRelu(Function):
    half_in_float32 = True          # float16 too: in float32, rounded once
    keeps_input = False                 # only the new slopes array

    def forward(self, a, *, negative_slope, slope=True):
        t = a.dtype.type
        if type(a) is np.ndarray and a.dtype in _FLOATS and 0 < negative_slope <= 1 and \
                a.ndim and 0 not in a.strides:
            if not slope:
                # nothing will ask for a gradient: the value alone, max(a, s a) (s <= 1), in
                # two SIMD passes and no slope array (1M float32: 0.2 ms instead of 0.8)
                out = np.multiply(a, t(negative_slope))
                return np.maximum(a, out, out=out)
            # 1 where a > 0, else the slope: the compare's 0/1 as floats, then their maximum
            # with a block of slopes (numpy's SIMD loop; against a scalar, a plain C loop)
            self.slope = (a > 0).astype(a.dtype)
            _max_with(self.slope, t(negative_slope))
        else:
            self.slope = _select(a > 0, t(1), t(negative_slope))
            if not self.slope.flags.c_contiguous or not a.flags.c_contiguous:
                # (laid out as a permuted a, as PyTorch's result: the select's own order may
                # differ, and the product would follow it)
                self.slope = mf.pointwise_layout(self.slope, (a,))
        return a * self.slope

    def backward(self, g):
        res = _piecewise_grad(self, g, self.slope, False)   # 1 or the slope: a constant
        if not self.slope.flags.c_contiguous and not is_grad_enabled():   # the input's layout
            res = Tensor._wrap(mf.pointwise_layout(res._array, (self.slope, g._array)))
        return res


class LeakyReluInplace(LeakyRelu):
    """``LeakyRelu`` written into its input (``leaky_relu_``, ``inplace=True``). PyTorch's
    in-place backward reads the slope off the result's sign, which a negative slope makes
    ambiguous: it refuses that backward, and so does this node."""

    def forward(self, a, *, negative_slope):
        self.negative_slope = negative_slope
        return super().forward(a, negative_slope=negative_slope)

    def backward(self, g):
        if self.negative_slope < 0:
            raise RuntimeError(
                "In-place leakyReLu backward calculation is triggered with a negative slope "
                "which is not supported. This is caused by calling in-place forward function "
                "with a negative slope, please call out-of-place version instead. File an "
                "issue at https://github.com/pytorch/pytorch if you do require supporting "
                "in-place leakRelu backward calculation with negative slope")
        return super().backward(g)


class Clamp(Function):
    """clip(a, min, max) with number bounds (either may be None)."""
    _node_name = "ClampBackward1"       # PyTorch's node for number bounds
    saved_names = ("self",)
    saved_fields = {"min": lambda node: node.bounds[0], "max": lambda node: node.bounds[1]}

    def forward(self, a, *, min, max):
        self.save_for_backward(a)
        self.bounds = min, max
        xp = backend.xp_of(a)
        if min is not None and max is not None:
            out = xp.clip(a, min, max)
        else:
            # one bound: PyTorch keeps the element unless it is past the bound, so a tie
            # keeps its sign (clamp(-0.0, min=0.0) is -0.0) and NaN stays; a NaN bound is
            # everywhere
            bound = min if max is None else max
            past = bound != bound or (a < bound if max is None else a > bound)
            out = xp.where(past, a.dtype.type(bound), a)
        return out if a.flags.c_contiguous else mf.pointwise_layout(out, (a,))

    def backward(self, g):
        # The gradient passes where the input was inside [min, max] (bounds included).
        a = self.saved_tensors[0]._array
        lo, hi = self.bounds
        mask = True
        if lo is not None:
            mask = mask & (a >= lo)
        if hi is not None:
            mask = mask & (a <= hi)
        if mask is True:
            return g
        return select_grad(g, mask)


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
def relu(a):
    if isinstance(a, Tensor) and a._array.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if isinstance(a, Tensor) and a._array.dtype.kind == "c":     # PyTorch's relu is a clamp
        raise NotImplementedError("clamp is not supported for complex types")
    return Relu.apply(a)


def leaky_relu(a, negative_slope=0.01, inplace=False):
    """x for x >= 0, negative_slope * x below; ``inplace`` writes it back into ``a``."""
    if isinstance(a, Tensor) and a._array.dtype.kind not in "fV":
        raise not_implemented_for("leaky_relu_cpu", a._array.dtype)
    if inplace:
        out = apply_inplace(a, LeakyReluInplace, negative_slope=negative_slope)
        if is_grad_enabled() and out._requires_grad:
            # PyTorch's in-place node keeps its result: writing to it before the backward
            # is refused
            keep_for_backward(out, out)
        return out
    return LeakyRelu.apply(a, negative_slope=negative_slope,
                           slope=not isinstance(a, Tensor) or (a.requires_grad and
                                                               is_grad_enabled()))


def clamp(a, min=None, max=None):
    """Limit every element to [min, max]; either bound may be None."""
    if not isinstance(a, Tensor) or not all(v is None or _is_bound(v) for v in (min, max)):
        given = [python_type_name(a)] + ([python_type_name(min)] if min is not None else []) + \
            ([("max=" if min is None else "") + python_type_name(max)] if max is not None else [])
        exc = TypeError(f"clamp() received an invalid combination of arguments - got "
                        f"({', '.join(given)}), but expected one of:\n"
                        " * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out "
                        "= None)\n * (Tensor input, Number min = None, Number max = None, *, "
                        "Tensor out = None)\n")
        # (the argument no overload takes: a method's or a keyword call's wrapper lists the
        # call as it was made, ``_argument_words``)
        bad = a if not isinstance(a, Tensor) else min if not (min is None or _is_bound(min)) \
            else max
        exc.argument = ArgumentError(None, None, None, bad)     # (clamp's or clip's)
        raise exc
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    bound = min if isinstance(min, Tensor) else max
    if isinstance(min, Tensor) != isinstance(max, Tensor) and min is not None and \
            max is not None and (bound.ndim != 0 or bound.requires_grad):
        # PyTorch pairs two tensor bounds or two numbers (a 0-d tensor that needs no gradient
        # reads as a number)
        exc = TypeError(f"clamp() received an invalid combination of arguments - got (Tensor, "
                        f"{python_type_name(min)}, {python_type_name(max)}), but expected "
                        f"(Tensor input, Tensor min, Tensor max) or (Tensor input, Number min, "
                        f"Number max)")
        exc.argument = ArgumentError(None, None, None, max)     # (the wrappers list them)
        raise exc
    if isinstance(min, Tensor) != isinstance(max, Tensor) and min is not None and \
            max is not None:
        # so the 0-d tensor bound is a number, promoting as one (clamp(bool_tensor,
        # tensor(0.5, dtype=float64), 1.0) is float32)
        min, max = (v.item() if isinstance(v, Tensor) else v for v in (min, max))
    if a._array.dtype.kind == "c":
        raise NotImplementedError("clamp is not supported for complex types")
    if any(isinstance(v, Tensor) and v._array.dtype.kind == "c" for v in (min, max)):
        _refuse_complex_bounds(a, min, max)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if all(isinstance(v, Tensor) and v._array.dtype.kind == "b" for v in (a, min, max)):
            # with both bounds PyTorch runs its clamp kernel, which has no Bool version (one
            # bound is a maximum/minimum, which has)
            raise not_implemented_for("clamp_cpu", np.dtype(bool))
        # PyTorch's clamp node keeps the input and both bounds for its backward
        return keep_for_backward(clamp_by_tensors(a, min, max), a, min, max)
    if any(isinstance(v, complex) and v.imag for v in (min, max)):
        if a._array.dtype.kind in "fV":     # PyTorch reads a float tensor's bounds as doubles
            raise RuntimeError("value cannot be converted to type double without overflow")
        raise NotImplementedError("clamp is not supported for complex types")
    target = a._array.dtype
    if a._array.dtype.kind not in "fV":
        # the bounds promote as PyTorch's (a float bound makes an int tensor float, an int
        # bound a bool tensor int64); there is no kernel for bool with bool bounds
        target = dtypes.result_type(a._array, *(v for v in (min, max) if v is not None))
        check_clamp_kind(a, min, max, target)
        if target != a._array.dtype:
            a = cast(a, target)
    min, max = clamp_numbers(min, max, target)
    return Clamp.apply(a, min=min, max=max)


def clip(a, min=None, max=None):
    """``clamp`` under its other name (which PyTorch's parser uses in its errors)."""
    return clamp(a, min, max)


def clamp_numbers(min, max, np_dtype):
    """Number bounds converted to the result's dtype as PyTorch does, refusing what does not
    fit (int8 with -200, float16 with 1e6) and wrapping a negative int into an unsigned type."""
    return tuple(dtypes.number_for(v, np_dtype, half_checked=True)
                 if v is not None and not isinstance(v, Tensor) else v for v in (min, max))


def clamp_by_tensors(a, min, max):
    """clamp with a tensor bound (a number beside it is made a tensor like ``a``), all
    three promoted together; see ClampByTensors for the gradients."""
    bounds = [v if isinstance(v, Tensor) or v is None else _scalar_or_tensor(v, a, "clamp")
              for v in (min, max)]
    dtype = dtypes.result_type(a._array, *(v._array for v in bounds if v is not None))
    if dtype in dtypes.BAREBONES_UNSIGNED:      # (PyTorch's kernels for tensor bounds)
        dtypes.refuse_unsigned("clamp_cpu" if min is not None and max is not None else
                               "maximum_cpu" if min is not None else "minimum_cpu", dtype)
    inputs = [cast(v, dtype) for v in (a, *bounds) if v is not None]
    shape = inputs[0]._array.shape
    for other in (v._array.shape for v in inputs[1:]):
        shape = broadcast_shape(shape, other, "clamp")      # the bounds with each other too
    return ClampByTensors.apply(*inputs, has_min=min is not None, has_max=max is not None)


class ClampByTensors(Function):
    """min(max(a, lo), hi) for tensor bounds, NaN wherever a or a bound is NaN (as PyTorch).

    Backward, as PyTorch's: ``a`` gets the gradient where lo <= a <= hi (bounds included, so
    ties do not split it); lo where lo > a and lo < hi; hi where hi < a or lo > hi. Every
    comparison with a NaN is False, so a NaN input or bound passes nothing on (but a bound
    above the other still hands the gradient to hi)."""
    _node_name = "ClampBackward0"       # PyTorch's node for tensor bounds

    def forward(self, a, *bounds, has_min, has_max):
        self.has_min, self.has_max = has_min, has_max
        xp = backend.xp_of(a)
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        out = a if lo is None else xp.maximum(a, lo)      # maximum and minimum keep NaNs
        out = out if hi is None else xp.minimum(out, hi)
        shape = out.shape
        with np.errstate(invalid="ignore"):
            keep = xp.ones(shape, dtype=bool)
            if lo is not None:
                keep = keep & (a >= lo)
            if hi is not None:
                keep = keep & (a <= hi)
            masks = [keep]
            if lo is not None:
                masks.append((lo > a) & (lo < hi) if hi is not None else lo > a)
            if hi is not None:
                masks.append((hi < a) | (lo > hi) if lo is not None else hi < a)
        self.masks = [xp.broadcast_to(m, shape) for m in masks]
        self.shapes = [a.shape] + [b.shape for b in bounds]
        return mf.pointwise_result(out, a, *bounds)

    def backward(self, g):
        return tuple(sum_to(select_grad(g, mask), shape) if needed else None
                     for mask, shape, needed in zip(self.masks, self.shapes,
                                                    self.needs_input_grad))

    @property
    def next_functions(self):
        """PyTorch's three edges (input, min, max), (None, 0) for a bound not given."""
        edges = list(Function.next_functions.fget(self))
        none = (None, 0)
        lo = edges[1] if self.has_min else none
        hi = edges[-1] if self.has_max else none
        return (edges[0], lo, hi)


def check_clamp_kind(a, min, max, target):
    """PyTorch's refusal of a bool or uint16/32/64 clamp with number bounds (its scalar
    kernels have neither)."""
    if target.kind == "b" or target in dtypes.BAREBONES_UNSIGNED:
        kernel = "clamp" if min is not None and max is not None else \
            "clamp_min" if min is not None else "clamp_max"
        raise not_implemented_for(f"{kernel}_scalar_cpu", a._array.dtype)


def _is_bound(value):
    """A tensor or a number: what PyTorch's parser takes for a clamp bound (a list, a string
    or an array is no overload's)."""
    return isinstance(value, (Tensor, numbers.Number))


def _check_one_bound(name, a, bound, label):
    if not (isinstance(a, Tensor) and _is_bound(bound)):
        exc = TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({python_type_name(a)}, {python_type_name(bound)}), but expected one "
                        f"of:\n * (Tensor input, Tensor {label}, *, Tensor out = None)\n"
                        f" * (Tensor input, Number {label}, *, Tensor out = None)\n")
        exc.argument = ArgumentError(name, None, None, bound if isinstance(a, Tensor) else a)
        raise exc


def _refuse_complex_bounds(a, min, max):
    """PyTorch's refusal of a tensor bound that makes the result complex: its maximum (a min
    alone), minimum (a max alone) or clamp kernel has no complex version."""
    kernel = "clamp_cpu" if min is not None and max is not None else \
        "maximum_cpu" if min is not None else "minimum_cpu"
    raise not_implemented_for(kernel, dtypes.result_type(
        a._array, *(v._array for v in (min, max) if isinstance(v, Tensor))))


def _check_complex_bound(a, bound, label):
    """clamp_min / clamp_max refuse a complex number bound (even 1 + 0j, which clamp takes)
    and, going straight to PyTorch's maximum / minimum kernel, a complex tensor operand."""
    if isinstance(bound, numbers.Complex) and not isinstance(bound, numbers.Real):
        raise NotImplementedError("clamp is not supported for complex types")
    if isinstance(a, Tensor) and isinstance(bound, Tensor) and \
            "c" in (a._array.dtype.kind, bound._array.dtype.kind):
        _refuse_complex_bounds(a, bound if label == "min" else None,
                               bound if label == "max" else None)


def clamp_min(a, min):
    """``clamp(a, min=min)``: every element at least ``min`` (a number or a tensor)."""
    _check_one_bound("clamp_min", a, min, "min")
    _check_complex_bound(a, min, "min")
    # PyTorch's node: ClampMinBackward0 for a number, ClampMinBackward1 for a tensor
    return _bound_node(clamp(a, min=min), "ClampMin", min)


def clamp_max(a, max):
    """``clamp(a, max=max)``: every element at most ``max`` (a number or a tensor)."""
    _check_one_bound("clamp_max", a, max, "max")
    _check_complex_bound(a, max, "max")
    return _bound_node(clamp(a, max=max), "ClampMax", max)


def _bound_node(out, name, bound):
    """``out`` of clamp_min / clamp_max, its clamp node named as PyTorch's for that op."""
    tensor = isinstance(bound, Tensor)
    return rename_node(out, f"{name}Backward{int(tensor)}", ClampByTensors if tensor else Clamp)
