"""Pointwise selection: ``where(condition, a, b)``, ``maximum`` and ``minimum``, and the
gradients of the ops that pick, element by element, an input or a slope.

Their backward routes ``g`` to what was picked: where's to ``a`` where the condition holds and
to ``b`` elsewhere; maximum's to the larger input (half to each at a tie, all to both where
either is NaN).  ``select_grad(g, share)`` is ``g * share`` with exactly 0 where the share is 0,
even for a NaN or infinite ``g``, as PyTorch's selecting backwards (relu, clamp, max, pools).
``PiecewiseLinearGrad`` / ``_piecewise_grad`` give ``g * slope`` for a piecewise-linear op
(relu, leaky_relu, abs) in a form that can be differentiated again (``create_graph``).
"""
from __future__ import annotations

import numbers

import numpy as np

from .._warn_once import warn_user
from .. import _memory_format as mf, backend, dtypes, parallel
from ..autograd import Function
from ..autograd.function import keep_for_backward
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .._tensor_input import _combination
from .._type_names import python_type_name
from ._util import (broadcast_shape, check_python_int, scalar_type_name,
                    to_tensor_like)
from .elementwise import Mul, _binary, _scalar_or_tensor, cast, mul
from .plumbing import sum_to
from .._tiled_copy import MIN_BYTES as TILED_BYTES, contiguous_copy, laid_out_like
from ._kept_product import kept_product


# ----------------------------------------------------------------------------------------------
# The gradients of selecting and piecewise-linear ops
# ----------------------------------------------------------------------------------------------
def select_grad(g, share):
    """g * share for a constant ``share`` array (a bool mask, or the fractions a tie splits),
    with an exact +0.0 where share is 0, even for a negative, NaN or infinite g (-1 * 0 is
    -0.0, NaN * 0 is NaN): PyTorch's selecting backwards (clamp, threshold, maximum, max,
    median...) fill the unselected with zeros (``kept_product``)."""
    xp = backend.xp_of(g._array)
    if not is_grad_enabled():
        ga = g._array
        if ga.shape != share.shape and type(ga) is np.ndarray and type(share) is np.ndarray:
            ga, share = np.broadcast_arrays(ga, share)
        out = kept_product(ga, share)
        if out is not None:
            return Tensor._wrap(out)
        if ga.shape == share.shape:
            # (complex numbers, another backend): the multiply and the check of its sum in
            # one pass (split over the threads); a float product's zeros are signed: where()
            out = xp.empty(share.shape, dtype=xp.result_type(ga, share))
            sums = []

            def piece(gp, sp, op):
                # numpy's error state is per thread, so it is set in each piece
                with np.errstate(invalid="ignore", over="ignore"):
                    xp.multiply(gp, sp, out=op)
                    sums.append(op.sum())
            parallel.map_pieces(piece, ga, share, out)
            if all(xp.isfinite(t) for t in sums) and out.dtype.kind not in "fV":
                return Tensor._wrap(out)
    return where(share != 0, Mul.apply(g, Tensor._wrap(share)), 0.0)


class PiecewiseLinearGrad(Function):
    """``g * slope``: the first derivative of a piecewise-linear op (relu, leaky_relu, abs)
    whose derivative ``slope`` is a constant array (1 / 0 masks, slopes, signs), as it is
    recorded under ``create_graph``.  Input ``a`` is the op's own input: unused by the value,
    it is listed so that the gradient depends on it as PyTorch's does (``requires_grad``, a
    second ``grad`` with respect to it works).  Derivatives: d/dg = slope (``select``: exactly
    0 where slope is 0, even for a NaN gradient, as ``select_grad``), d/da = 0 (the slope is
    constant between kinks)."""
    def forward(self, g, a, *, slope, select):
        self.slope, self.select = slope, select
        xp = backend.xp_of(g)
        out = xp.asarray(g * slope, dtype=g.dtype)
        if select and out.dtype.kind in "fV":
            out = xp.where(slope == 0, out.dtype.type(0), out)
        return out

    def backward(self, gg):
        ga = None
        if self.needs_input_grad[1]:
            shape, dtype = self._in_meta[1]
            ga = Tensor._wrap(backend.xp_of(gg._array).zeros(shape, dtype=dtype))
        if not self.needs_input_grad[0]:
            return None, ga
        gg = select_grad(gg, self.slope) if self.select else mul(gg, Tensor._wrap(self.slope))
        return gg, ga


def _input_on_graph(node, i, like):
    """Input ``i`` of ``node`` as a tensor on the autograd graph, for a backward that did not
    save it: the leaf itself, or a stand-in output of the node that produced it (a read-only
    zero array of its shape and dtype, on ``like``'s device: only its place in the graph is
    used, never its values)."""
    src, nr = node.next_functions_[i]
    if isinstance(src, Tensor):
        return src
    shape, dtype = node._in_meta[i]
    xp = backend.xp_of(like)
    stand_in = Tensor._wrap(xp.broadcast_to(xp.zeros((), dtype=dtype), shape), True)
    stand_in.grad_fn, stand_in._output_nr = src, nr
    return stand_in


def _piecewise_grad(node, g, slope, select, a=None):
    """``g * slope`` for a piecewise-linear op's backward: one multiply when nothing is
    recorded; under create_graph a ``PiecewiseLinearGrad`` on the op's input ``a`` (found
    from the node's graph edge when it was not saved)."""
    if not is_grad_enabled():
        return select_grad(g, slope) if select else mul(g, Tensor._wrap(slope))
    if a is None:
        a = _input_on_graph(node, 0, slope)
    return PiecewiseLinearGrad.apply(g, a, slope=slope, select=select)


# ----------------------------------------------------------------------------------------------
# maximum, minimum, where
# ----------------------------------------------------------------------------------------------
class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return mf.pointwise_result(backend.xp_of(a).maximum(a, _one_walk(b, a)), a, b)

    def backward(self, g):
        # The larger input gets the gradient; ties split it in half (as PyTorch).
        a, b = self.saved_tensors
        share_a, share_b = _shares(a._array, b._array, g._array.dtype)
        return _extremum_grads(self, g, a, b, share_a, share_b)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return mf.pointwise_result(backend.xp_of(a).minimum(a, _one_walk(b, a)), a, b)

    def backward(self, g):
        a, b = self.saved_tensors
        share_a, share_b = _shares(b._array, a._array, g._array.dtype)   # = -max(-a, -b)
        return _extremum_grads(self, g, a, b, share_a, share_b)


def _extremum_grads(node, g, a, b, share_a, share_b):
    """maximum's (minimum's) input gradients, ``g * share`` summed to each input's shape, laid
    out as PyTorch's ``where(a == b, g / 2, g)``: after the comparison of a and b (their
    pointwise layout, ``a.t()``'s beside a row-major b), then g's."""
    aa, ba = a._array, b._array
    if type(aa) is np.ndarray and type(ba) is np.ndarray and aa.ndim + ba.ndim > 2 and not (
            aa.flags.c_contiguous and ba.flags.c_contiguous):
        share_a, share_b = (mf.pointwise_result(s, aa, ba) if s.ndim > 1 else s
                            for s in (share_a, share_b))
    return (sum_to(_selected(g, share_a), a.shape) if node.needs_input_grad[0] else None,
            sum_to(_selected(g, share_b), b.shape) if node.needs_input_grad[1] else None)


def _selected(g, share):
    """``select_grad(g, share)`` laid out as ``share`` where that is not row-major (PyTorch's
    where takes its layout from the condition, its first operand)."""
    if share.flags.c_contiguous or share.shape != g._array.shape or is_grad_enabled():
        return select_grad(g, share)        # (on a graph: a where, laid out as its condition)
    out = select_grad(g, share)
    return Tensor._wrap(mf.pointwise_layout(out._array, (share,)))


def _one_walk(b, a):
    """``b``, or (a large operand of ``a``'s shape laid out otherwise: a transpose) a copy of
    it in ``a``'s layout, so that numpy walks both in one order (as Mul: see
    ``_tiled_copy.laid_out_like``)."""
    if a.nbytes >= TILED_BYTES and a.shape == b.shape and not (
            a.flags.c_contiguous and b.flags.c_contiguous):
        return laid_out_like(b, a)
    return b


def _shares(a, b, dtype):
    """How maximum(a, b) splits its gradient, as PyTorch: all of it to the larger input, half
    each at a tie, and all of it to *both* where either is NaN (neither is smaller)."""
    xp = backend.xp_of(a)
    ties = xp.equal(a, b)
    if type(ties) is np.ndarray and not ties.any():
        # no tie (the usual case): two masks, which select_grad applies by bits, faster
        return ~xp.less(a, b), ~xp.greater(a, b)
    # 1 - (a < b) - (a == b) / 2 and 1 - (a > b) - (a == b) / 2: the same exact values as
    # the choice, without numpy's where, which branches on every element (a random mask:
    # 20-50x the time of these passes)
    work = dtype if dtype in _WORK_DTYPES else np.dtype(np.float32)
    tie = xp.multiply(ties, work.type(0.5), dtype=work)
    share_a = xp.subtract(work.type(1), xp.less(a, b), dtype=work)
    share_a -= tie
    share_b = xp.subtract(work.type(1), xp.greater(a, b), dtype=work)
    share_b -= tie
    return share_a.astype(dtype, copy=False), share_b.astype(dtype, copy=False)


_WORK_DTYPES = frozenset(np.dtype(d) for d in ("float16", "float32", "float64"))


_SELECT_INTS = {4: np.int32, 8: np.int64}
_SELECT_BLOCK = 1 << 16


def _select(condition, a, b):
    """numpy.where(condition, a, b), for large arrays (or numbers) of one 4- or 8-byte dtype
    as bits: out = b ^ ((a ^ b) & -condition). numpy's where branches on every element, and
    on a mask of random signs (an activation's) ran 7.6 ms on 2M float32 numbers; this, 1.9.
    Exact (bits are moved, never computed); in blocks over the threads."""
    ints = _SELECT_INTS.get(getattr(a, "dtype", np.dtype(object)).itemsize)
    a, b = (np.asarray(v) if isinstance(v, np.generic) else v for v in (a, b))
    if not (type(a) is np.ndarray and type(b) is np.ndarray and type(condition) is np.ndarray
            and a.dtype == b.dtype and a.dtype.kind in "fiu" and ints is not None and
            condition.dtype == np.bool_):
        return backend.xp_of(condition).where(condition, a, b)
    shape = np.broadcast_shapes(condition.shape, a.shape, b.shape)
    n = int(np.prod(shape))
    if n < _SELECT_BLOCK:
        return np.where(condition, a, b)
    out = np.empty(shape, dtype=a.dtype)
    # numbers stay numbers (ufuncs broadcast them); arrays become flat, of the full shape
    parts = [v.view(ints) if v.ndim == 0 else
             np.ascontiguousarray(np.broadcast_to(v, shape)).reshape(-1)
             for v in (a, b)]
    c = np.ascontiguousarray(np.broadcast_to(condition, shape)).reshape(-1).view(np.int8)
    o = out.reshape(-1).view(ints)

    def piece(start, stop):
        for s in range(start, stop, _SELECT_BLOCK):
            e = min(stop, s + _SELECT_BLOCK)
            x, y = (v if v.ndim == 0 else v[s:e].view(ints) for v in parts)
            _select_bits(c[s:e], x, y, o[s:e])
    parallel.run_split(piece, n, 3 * out.nbytes)
    return out


def _select_bits(c, a, b, out):
    """out = where(c, a, b) on the bits of one block: c 1-D int8 (0 or 1), a and b integer
    views (or numbers) of out's dtype, out 1-D."""
    mask = c.astype(out.dtype)
    np.negative(mask, out=mask)                          # all ones where the condition holds
    np.bitwise_xor(a, b, out=out)
    out &= mask
    out ^= b


def select_block(condition, a, b, out):
    """out = numpy.where(condition, a, b) by bits (as ``_select``), for one block held in
    cache by a caller that runs its own blocks: condition a 1-D bool array, a and b 1-D
    arrays or numbers of out's 4- or 8-byte dtype. ``out`` may be ``a``, not ``b``."""
    ints = _SELECT_INTS[out.dtype.itemsize]
    a, b = (np.asarray(v, dtype=out.dtype).view(ints) for v in (a, b))
    _select_bits(condition.view(np.int8), a, b, out.view(ints))
    return out


def _select_in_order(condition, a, b):
    """``_select(condition, a, b)`` computed in the condition's memory order where that is a
    large dense non-row-major one (a transpose's ``x.t() > 0``) and ``a``, ``b`` are of its shape
    or 0-d: all are viewed in that order (an operand laid out otherwise is copied in cache-
    friendly strips, ``_tiled_copy``), so the result comes in the condition's layout,
    PyTorch's, without the slow transposing walks."""
    shape = condition.shape
    if condition.nbytes * 4 < TILED_BYTES or condition.flags.c_contiguous or 1 in shape or \
            condition.ndim < 2 or any(v.ndim and v.shape != shape for v in (a, b)) or \
            type(condition) is not np.ndarray:
        return _select(condition, a, b)
    perm = sorted(range(condition.ndim), key=lambda d: -condition.strides[d])
    ordered = condition.transpose(perm)
    if not ordered.flags.c_contiguous:
        return _select(condition, a, b)
    a, b = (v if not v.ndim else contiguous_copy(v.transpose(perm)) for v in (a, b))
    return _select(ordered, a, b).transpose(np.argsort(perm))


class Where(Function):
    complex_ok = True

    def forward(self, a, b, *, condition):
        self.condition = condition
        out = _select_in_order(condition, a, b)
        # laid out as PyTorch's (the condition's layout first): numpy's when all are row-major
        # (an empty array is C-contiguous to numpy whatever its strides: left to the rule)
        if out.size and condition.flags.c_contiguous and a.flags.c_contiguous and \
                b.flags.c_contiguous and (1 not in out.shape or all(
                    mf.exactly_row_major(x) or x.ndim == 0 for x in (condition, a, b))):
            return out
        return mf.pointwise_layout(out, (condition, a, b))

    def backward(self, g):
        c = self.condition
        (shape_a, _), (shape_b, _) = self._in_meta
        return (sum_to(where(c, g, 0.0), shape_a) if self.needs_input_grad[0] else None,
                sum_to(where(c, 0.0, g), shape_b) if self.needs_input_grad[1] else None)


# ----------------------------------------------------------------------------------------------
# Tensor-level functions (what Tensor methods and minigrad.* call)
# ----------------------------------------------------------------------------------------------
def _two_tensors(name, a, b):
    """PyTorch's refusal of a number where an op takes only tensors (maximum, minimum)."""
    for what, value, pos in (("input", a, 1), ("other", b, 2)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {pos}) must be Tensor, not "
                            f"{type(value).__name__}")


def maximum(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        _two_tensors("maximum", a, b)
    refuse_complex_pair(a, b, "maximum")
    return _binary(Maximum, a, b, "maximum")


def minimum(a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor)):
        _two_tensors("minimum", a, b)
    refuse_complex_pair(a, b, "minimum")
    return _binary(Minimum, a, b, "minimum")


def refuse_complex_pair(a, b, name):
    """maximum / minimum / fmax / fmin: complex numbers have no order (PyTorch's words)."""
    if a._array.dtype.kind == "c" or b._array.dtype.kind == "c":
        raise RuntimeError(f"{name} not implemented for complex tensors.")


def _two_numbers_dtype(a, b):
    """The dtype of ``where(cond, a, b)`` with two Python numbers: the larger kind of the two
    (bool < int64 < the default float < its complex dtype), as PyTorch."""
    kinds = ["b" if isinstance(v, (bool, np.bool_)) else
             "i" if isinstance(v, (int, np.integer)) else
             "c" if isinstance(v, (complex, np.complexfloating)) else "f" for v in (a, b)]
    kind = max(kinds, key="bifc".index)
    if kind == "c":
        return dtypes.default_float().to_complex().np
    return np.dtype(bool) if kind == "b" else np.dtype(np.int64) if kind == "i" else \
        dtypes.default_float().np


def _checked_number(value, like):
    """A Python number beside ``like`` in ``where``: PyTorch converts it to the result type as
    it fills a tensor, refusing what does not fit (int8 tensor with 300)."""
    if type(value) in (int, float, complex):
        dtypes.number_for(value, dtypes.result_type(like._array, value))
    return value


def where(condition, input=None, other=None):
    """Elements of ``input`` where ``condition`` is True, else of ``other`` (all three
    broadcast; either may be a Python number).  ``where(condition)`` alone is
    ``nonzero(condition, as_tuple=True)``."""
    a, b = input, other
    if a is None and b is None:
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                            f"{type(condition).__name__}")
        c = condition._array                # a 0-d condition counts as 1-d, as nonzero's
        dtypes.refuse_unsigned("nonzero_count_cpu", c.dtype)     # (as nonzero: no kernel)
        found = backend.xp_of(c).nonzero(c if c.ndim else c.reshape(1))
        return tuple(Tensor._wrap(f.astype("int64")) for f in found)
    if a is None or b is None:
        raise TypeError("where(): expected both 'input' and 'other' (or neither, for the "
                        "indices of the True elements of 'condition')")
    if isinstance(condition, (list, tuple, bool, int, float, complex)):  # (numpy masks: ok)
        raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                        f"{type(condition).__name__}")
    cond = condition._array if isinstance(condition, Tensor) else condition
    check_python_int(a)
    check_python_int(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        if not isinstance(condition, Tensor):
            raise TypeError(f"where(): argument 'condition' (position 1) must be Tensor, not "
                            f"{type(condition).__name__}")
        dtype = _two_numbers_dtype(a, b)
        a = to_tensor_like(a, condition, dtype=dtype)
        b = to_tensor_like(b, condition, dtype=dtype)
    like = a if isinstance(a, Tensor) else b
    if not isinstance(a, Tensor):
        a = _scalar_or_tensor(_checked_number(a, like), like, "where")
    if not isinstance(b, Tensor):
        b = _scalar_or_tensor(_checked_number(b, like), like, "where")
    if getattr(getattr(cond, "dtype", None), "kind", None) != "b":      # (a bool one: no look)
        if getattr(cond, "dtype", None) == np.uint8:
            warn_user("where received a uint8 condition tensor. This behavior is deprecated "
                      "and will be removed in a future version of PyTorch. Use a boolean "
                      "condition instead.", UserWarning)
            cond = cond != 0
        if getattr(cond, "dtype", None) is None or cond.dtype.kind != "b":
            got = (f"a tensor with dtype {scalar_type_name(cond.dtype)}"
                   if getattr(cond, "dtype", None) is not None else type(condition).__name__)
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got {got} "
                               "(compare first, e.g. where(x > 0, a, b))")
    dtype = dtypes.result_type(a._array, b._array)
    # (PyTorch's order of the operands, for which sizes its error names a and b)
    broadcast_shape(broadcast_shape(cond.shape, a._array.shape, "where"), b._array.shape, "where")
    # the condition is kept for the backward, as PyTorch's where node keeps it
    return keep_for_backward(Where.apply(cast(a, dtype), cast(b, dtype), condition=cond),
                             condition)


# PyTorch's signatures of torch.where and of Tensor.where, listed when a call fits none
_WHERE = ("Tensor condition", "Tensor condition, Tensor input, Tensor other, *, Tensor out = None",
          "Tensor condition, Number self, Tensor other",
          "Tensor condition, Tensor input, Number other",
          "Tensor condition, Number self, Number other")
_WHERE_METHOD = ("Tensor condition, Tensor other", "Tensor condition, Number other")
_NOT_GIVEN = object()


def _operand(v):
    """Does the parser take ``v`` for where's Tensor or Number operand?"""
    return isinstance(v, (Tensor, numbers.Number, np.number, np.bool_))


def _where_call(args, keywords, unknown, names):
    """The arguments of a where call by name, and those given by keyword (``keywords``: the
    keyword-only parameters' values, ``_NOT_GIVEN`` where not given); Python's TypeError for
    a call that no function of parameters ``names`` takes."""
    if len(args) > len(names):
        raise TypeError(f"where() takes {len(names)} positional arguments but {len(args)} "
                        f"were given")
    kwargs = {k: v for k, v in zip(names, keywords) if v is not _NOT_GIVEN}
    if unknown:
        _unknown_keywords(args, kwargs, unknown, len(names) == 3)
    values = dict(zip(names, args))
    for k in kwargs:
        if k in values:
            raise TypeError(f"where() got multiple values for argument '{k}'")
    values.update(kwargs)
    return values, kwargs


def _unknown_keywords(args, kwargs, unknown, function):
    """PyTorch's parser on a where call with keywords it does not know: only one signature
    takes that many arguments (torch.where's with out=, for four) -> that signature's own
    words (an operand that is not a Tensor, then the keyword); otherwise the signatures
    listed."""
    count = len(args) + len(kwargs) + len(unknown)
    if function and count == 4:
        for position, (name, value) in enumerate(zip(("condition", "input", "other"), args), 1):
            if not isinstance(value, Tensor):
                raise TypeError(f"where(): argument '{name}' (position {position}) must be "
                                f"Tensor, not {python_type_name(value)}")
        raise TypeError(f"where() got an unexpected keyword argument '{next(iter(unknown))}'")
    raise _combination("where", args, {**kwargs, **unknown}, _WHERE if function else
                       _WHERE_METHOD)


def where_checked(*args, condition=_NOT_GIVEN, input=_NOT_GIVEN, other=_NOT_GIVEN,
                  **unknown):
    """``torch.where(condition)`` or ``torch.where(condition, input, other)`` as PyTorch's
    parser takes it: no numpy array, list, tuple or None as an operand, no numpy condition
    (minigrad's own ops call ``where``, which takes numpy masks); any other call is refused
    with where's signatures listed.  (Its parameters are keyword-only here, so that a
    refusal can show which came by keyword.)"""
    values, kwargs = _where_call(args, (condition, input, other), unknown,
                                 ("condition", "input", "other"))
    if len(values) == 1 and "condition" in values:
        return where(values["condition"])
    if not (len(values) == 3 and not isinstance(values["condition"], np.ndarray) and
            _operand(values["input"]) and _operand(values["other"])):
        raise _combination("where", args, kwargs, _WHERE)
    return where(values["condition"], values["input"], values["other"])


def where_method(self, *args, condition=_NOT_GIVEN, other=_NOT_GIVEN, **unknown):
    """``x.where(condition, y)``: ``where(condition, x, y)``, the condition a Tensor."""
    values, kwargs = _where_call(args, (condition, other), unknown, ("condition", "other"))
    if not (len(values) == 2 and isinstance(values["condition"], Tensor) and
            _operand(values["other"])):
        raise _combination("where", args, kwargs, _WHERE_METHOD)
    return where(values["condition"], self, values["other"])


where_checked.__name__ = where_checked.__qualname__ = "where"    # its name in messages
