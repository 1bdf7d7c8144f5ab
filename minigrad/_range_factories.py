"""Factories of spaced values and index grids: ``arange`` (start, start + step, ... up to
end), ``linspace`` (``steps`` values evenly spaced from start to end), ``logspace``
(base ** linspace) and ``tril_indices`` / ``triu_indices`` (the (2, N) coordinates of a
matrix's lower or upper triangle).

Their bounds are read as PyTorch's parser reads them (``_number``); for an integer dtype the
values are truncated and wrap into the dtype as PyTorch's do.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import dtypes, parallel
from ._cpu_stream import fused_multiply_add
from .creation import (_TORCH_TYPE_NAMES, _finish, _int_argument, _number, _out_keyword,
                       _scalar_name, check_fits, check_layout, check_pin_memory)
from ._type_names import python_type_name
from .tensor import Tensor
from ._space_arguments import _keyword_type, check_space_arguments

__all__ = ["arange", "linspace", "logspace", "tril_indices", "triu_indices"]


def _inconsistent(start, end, step):
    return RuntimeError(f"upper bound and lower bound inconsistent with step sign (arange("
                        f"start={start}, end={end}, step={step}))")


_NO_END = object()      # arange(n): the end left out (PyTorch refuses an explicit None)
_ARANGE_TAIL = ("torch.dtype dtype = None, torch.layout layout = None, torch.device device = "
                "None, bool pin_memory = False, bool requires_grad = False")


def _read(value):
    """A number of arange as PyTorch's parser reads it: a 0-d tensor is its number, a tensor
    with dims is no number (kept as it is, to be refused)."""
    return value if isinstance(value, Tensor) and value.ndim else _number(value)


def _check_range_number(value, where):
    """arange's one number (its end), as PyTorch's parser reads it."""
    if not isinstance(_read(value), numbers.Number):
        raise TypeError(f"arange(): argument 'end'{where} must be Number, not "
                        f"{python_type_name(value)}")


@_out_keyword
def arange(start=_NO_END, end=_NO_END, step=1, *, dtype=None, layout=None, device=None,
           requires_grad=False):
    """Values from start (default 0) up to but excluding end, step apart.  For an integer
    dtype PyTorch truncates start and step to integers first (end too for int64, whose
    length is counted in integers; other integer dtypes count it from the exact values),
    and the values wrap into the dtype."""
    check_layout(layout, "arange")
    if start is _NO_END:                # arange(end=5): PyTorch's arange(Number end) by name
        if end is _NO_END:
            raise TypeError("arange() received an invalid combination of arguments - got (), "
                            "but expected (Number end) or (Number start, Number end, Number "
                            "step)")
        start = 0
        _check_range_number(end, "")
    elif end is _NO_END:                # arange(5): the end, by position
        _check_range_number(start, " (position 1)")
    given = (start, end, step)
    start, end, step = _read(start), _read(end), _read(step)
    if end is _NO_END:
        start, end = 0, start
    if not all(isinstance(value, numbers.Number) for value in (start, end, step)):
        # (several signatures take two or three numbers: PyTorch's parser lists them, and
        # what it got as given: a 0-d tensor is a Tensor there)
        shown = [python_type_name(v) for v in given[:2 if type(step) is int and step == 1
                                                     else 3] if v is not _NO_END]
        shown += [f"{key}={_keyword_type(key, value)}" for key, value in
                  _given(dtype, layout, device, requires_grad).items()]
        raise TypeError(f"arange() received an invalid combination of arguments - got "
                        f"({', '.join(shown)}), but expected one "
                        f"of:\n" + "".join(f" * ({s}, *, {_ARANGE_TAIL})\n" for s in (
                            "Number end", "Number start, Number end",
                            "Number start, Number end, Number step = 1")))
    for value in (start, end, step):       # PyTorch reads an int as int64 or uint64
        if isinstance(value, int) and not -2 ** 63 <= value < 2 ** 64:
            raise OverflowError("can't convert negative int to unsigned" if value < 0 else
                                "int too big to convert")
    if any(isinstance(v, complex) for v in (start, end, step)) and \
            (dtype is None or not dtypes.to_dtype(dtype).is_complex):   # (complex: refused below)
        if any(isinstance(v, complex) and v.imag for v in (start, end, step)):
            # PyTorch reads the bounds as doubles first: an imaginary part cannot be one
            raise RuntimeError("value cannot be converted to type double without overflow")
        start, end, step = (v.real if isinstance(v, complex) else v for v in (start, end, step))
    if dtype is None:
        dtype = dtypes.result_type(start, end, step)
    dt = dtypes.to_dtype(dtype)
    if dt.is_complex:                # a range of complex numbers has no order to step along
        raise NotImplementedError(f"\"arange_cpu\" not implemented for "
                                  f"'{'ComplexFloat' if dt.itemsize == 8 else 'ComplexDouble'}'")
    if dt.np.kind == "b":
        raise NotImplementedError("\"arange_cpu\" not implemented for 'Bool'")
    dtypes.refuse_unsigned("arange_cpu", dt)
    # PyTorch's checks of the bounds, in doubles (printed as C++ prints one), before the
    # numbers are converted to the dtype
    if step == 0 or step != step:         # (NaN: PyTorch's words for a zero step)
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {float(start):g} -> {float(end):g}")
    if (end - start) * step < 0:
        raise _inconsistent(start, end, step)
    if dt.np.kind in "iu":
        if math.isinf(step) or step >= 2 ** 63 or (dt.name == "int64" and
                                                   max(start, end) >= 2 ** 63):
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
        first, last, stride = int(start), int(end), int(step)
        if dt.name == "int64":
            if stride == 0:           # a fractional step truncated to 0 (PyTorch's ValueError)
                raise ValueError("step must be nonzero")
            if (last - first) * stride < 0:
                raise _inconsistent(start, end, step)
            sign = 1 if stride > 0 else -1
            span = last - first + stride - sign
            if not -2 ** 63 <= span < 2 ** 63:        # wraps in PyTorch's int64 arithmetic
                raise RuntimeError("invalid size, possible overflow?")
            n = abs(span) // abs(stride)            # C++'s truncating division, exactly
            n = -n if (span < 0) != (stride < 0) else n
        else:     # the length from the exact values; a step truncated to 0 repeats start
            if (end - start) * step < 0:
                raise _inconsistent(start, end, step)
            n = math.ceil((end - start) / step)
            if n > 2 ** 63 - 1:
                raise RuntimeError("invalid size, possible overflow?")
        values = first + np.arange(max(n, 0), dtype=np.int64) * stride
        return _finish(values.astype(dt.np), dt, device, requires_grad)   # wraps, as C's cast
    if (end - start) / step > 2 ** 63 - 1:      # more elements than an int64 counts (or inf)
        raise RuntimeError("invalid size, possible overflow?")
    if math.isinf(step):                        # ceil((end - start) / inf) = 0 elements
        return _finish(np.zeros(0), dt, device, requires_grad)
    if dt.np in (np.float32, np.float64):
        n = math.ceil((float(end) - float(start)) / float(step))
        return _finish(_float_range(float(start), float(step), n, dt.np.type), dt, device,
                       requires_grad)
    n = math.ceil((float(end) - float(start)) / float(step))
    # float16/bfloat16 step in float32 (PyTorch's accumulate type for them on the CPU), in
    # vectors of 16 lanes whose bases are rounded to the half type first
    values = _float_range(float(np.float32(start)), float(np.float32(step)), n, np.float32,
                          lanes=16, base_type=dt.np)
    with np.errstate(over="ignore"):            # past float16's range: inf, silently
        return _finish(values, dt, device, requires_grad)


_RANGE_GRAIN = 32768        # PyTorch's grain: a longer range is split over its threads


def _float_range(start, step, n, work, lanes=None, base_type=None):
    """arange's n float32/float64 values rounded as PyTorch's CPU kernel rounds them
    (``work``: the type each value is rounded to; ``lanes``, ``base_type``: a vector's width
    and the type its base is rounded to, for float16/bfloat16 computed in float32).

    The kernel splits [0, n) over the threads in chunks (for n > 32768) and walks each chunk
    in pairs of SIMD vectors (8 float32 or 4 float64 lanes), the few left at a chunk's end
    one by one.  A vector starting at index p holds base + k * step with
    base = start + step * p rounded to the dtype; a lone element is start + step * i.  The
    arithmetic is in float64 with fused multiply-adds (one rounding each).
    """
    exact = 2.0 ** (24 if work is np.float32 else 53)
    if base_type is None and float(start).is_integer() and float(step).is_integer() and \
            abs(start) + abs(step) * n < exact:
        # whole numbers the dtype holds exactly: every rounding above is exact
        return (start + step * np.arange(n, dtype=np.float64)).astype(work)
    lanes = lanes or (8 if work is np.float32 else 4)
    out = np.empty(n, dtype=np.float64)
    tasks = 1 if n <= _RANGE_GRAIN else min(parallel.get_num_threads(), -(-n // _RANGE_GRAIN))
    size = -(-n // tasks) if n else 1
    for begin in range(0, n, size):          # one chunk per thread PyTorch would use
        length = min(size, n - begin)
        whole = length - length % (2 * lanes)
        starts = begin + np.arange(0, whole, lanes, dtype=np.float64)
        base = fused_multiply_add(step, starts, start).astype(work)
        if base_type is not None:
            base = base.astype(base_type)
        base = base.astype(np.float64)
        lane = np.arange(lanes, dtype=np.float64)
        out[begin:begin + whole] = fused_multiply_add(step, lane[None, :],
                                                      base[:, None]).reshape(-1)
        alone = np.arange(begin + whole, begin + length, dtype=np.float64)
        out[begin + whole:begin + length] = fused_multiply_add(step, alone, start)
    return out.astype(work)


def _given(dtype, layout, device, requires_grad):
    """The factory keywords given other than their defaults, as PyTorch's parser lists them."""
    given = {"dtype": dtype, "layout": layout, "device": device}
    given = {k: v for k, v in given.items() if v is not None}
    if requires_grad is not False:
        given["requires_grad"] = requires_grad
    return given


def _zero_dim_bounds(name, start, end):
    """PyTorch's refusal of a bound tensor with dims, naming each bound given as a tensor."""
    given = [(label, v) for label, v in (("start", start), ("end", end))
             if isinstance(v, Tensor)]
    if any(v.ndim for _, v in given):
        words = " and ".join(f"{label} with {v.ndim} dimension(s)" for label, v in given)
        raise RuntimeError(f"{name} only supports 0-dimensional start and end tensors, "
                           f"but got {words}.")


def _steps(steps):
    """``steps`` of linspace/logspace as the int64 PyTorch parses it."""
    steps = int(_number(steps))
    if not -2 ** 63 <= steps < 2 ** 63:
        raise ValueError("Overflow when unpacking long long")
    return steps


@_out_keyword
def linspace(start, end, steps, *, dtype=None, layout=None, device=None, requires_grad=False):
    """``steps`` values evenly spaced from start to end, computed as PyTorch does: the first
    half as start + i * step, the second as end - (steps - 1 - i) * step; for an integer
    dtype start and end are truncated to integers first and each value is truncated, for
    float32 / float16 the arithmetic is in that precision."""
    check_space_arguments("linspace", start, end, steps,
                          _given(dtype, layout, device, requires_grad))
    check_layout(layout, "linspace")
    _zero_dim_bounds("linspace", start, end)
    start, end = _number(start), _number(end)
    steps = _steps(steps)
    if steps < 0:
        raise RuntimeError(f"number of steps must be non-negative, got steps={steps}")
    if dtype is not None:
        dt = dtypes.to_dtype(dtype)
    elif isinstance(start, complex) or isinstance(end, complex):
        dt = dtypes.default_complex()
    else:
        dt = dtypes.default_float()
    if dt.np.kind == "b":
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    if steps > 1:                    # (one value or none needs no kernel in PyTorch)
        dtypes.refuse_unsigned("linspace_cpu", dt)
    if dt.np.kind != "c" and (isinstance(start, complex) or isinstance(end, complex)):
        raise RuntimeError(f"torch.linspace(): inferred dtype "
                           f"{dtypes.c_type_name(dtypes.default_complex().np)} can't be "
                           f"safely cast to passed dtype {_scalar_name(dt)}")
    if dt.np.kind in "iu":
        # PyTorch converts only the bounds it uses: none for 0 steps, start alone for 1
        if steps > 0:
            check_fits(start, dt, "start")
        if steps > 1:
            check_fits(end, dt, "end")
        wrap = int(np.iinfo(dt.np).max) + 1 if dt.np.kind == "u" else None
        # (a bound it does not use may be anything: linspace(0, inf, 1, dtype=int64) is [0])
        start, end = (start if steps > 0 else 0), (end if steps > 1 else start)
        first = int(start) % wrap if wrap else int(start)      # -5 -> 251 in uint8
        last = int(end) % wrap if wrap else int(end)
        work = np.float64
    else:
        if steps > 1 and dt.np.kind in "fV":     # both bounds are converted to the dtype
            dtypes.number_for(float(start), dt.np, half_checked=True)
            dtypes.number_for(float(end), dt.np, half_checked=True)
        first, last, work = start, end, dt.np.type
    first, last = work(first), work(last)
    idx = np.arange(steps)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing span: inf, silently
        step = (last - first) / work(max(steps - 1, 1))
    # PyTorch's float32 and float64 kernels round start + step * i once (a fused
    # multiply-add); complex numbers get a wider type's one rounding (extended precision for
    # complex128, where the platform has it); float16 rounds each operation
    if work in (np.float32, np.float64):
        from_first = fused_multiply_add(np.float64(step), idx.astype(np.float64),
                                        np.float64(first))
        from_last = fused_multiply_add(-np.float64(step), (steps - 1 - idx).astype(np.float64),
                                       np.float64(last))
        values = np.where(idx < steps // 2, from_first, from_last).astype(work)
    else:
        wide = {np.complex64: np.complex128, np.complex128: np.clongdouble}.get(work, work)
        values = np.where(idx < steps // 2, wide(first) + wide(step) * idx.astype(wide),
                          wide(last) - wide(step) * (steps - 1 - idx).astype(wide)).astype(work)
    if steps == 1:
        values = np.full(1, first)
    if dt.np.kind in "iu":
        values = np.trunc(values)
    return _finish(values.astype(work), dt, device, requires_grad)


@_out_keyword
def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` values base**e for exponents e evenly spaced from start to end (spaced as
    ``linspace`` spaces them): out[i] = base ** (start + i (end - start) / (steps - 1)).
    For an integer dtype start and end are truncated to integers first, the powers are
    taken in float64 and truncated; float32 / float16 compute in that precision."""
    check_space_arguments("logspace", start, end, steps,
                          _given(dtype, layout, device, requires_grad), base)
    check_layout(layout, "logspace")
    _zero_dim_bounds("logspace", start, end)
    steps = _steps(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = dtypes.default_float() if dtype is None else dtypes.to_dtype(dtype)
    if dt.np.kind == "b" and steps > 1:     # one value or none needs no kernel in PyTorch
        raise NotImplementedError("\"logspace_cpu\" not implemented for 'Bool'")
    if steps > 1:
        dtypes.refuse_unsigned("logspace_cpu", dt)
    base = _number(base)
    if dt.np.kind == "b":
        values = np.float64(base) ** np.full(steps, _number(start), np.float64)
        return _finish(values != 0, dt, device, requires_grad)
    if dt.np.kind in "iu":
        # PyTorch converts the bounds it uses into the dtype (checked; a negative int wraps
        # into an unsigned one), steps between them in doubles and casts each power
        start, end = _number(start), _number(end)
        if steps == 0:
            return _finish(np.zeros(0, dt.np), dt, device, requires_grad)
        check_fits(start, dt, "start")
        if steps > 1:
            check_fits(end, dt, "end")
        wrap = int(np.iinfo(dt.np).max) + 1 if dt.np.kind == "u" else None
        first = int(start) % wrap if wrap else int(start)
        last = (int(end) % wrap if wrap else int(end)) if steps > 1 else first
        step = (last - first) / max(steps - 1, 1)
        idx = np.arange(steps, dtype=np.float64)
        exps = np.where(idx < steps // 2, first + step * idx, last - step * (steps - 1 - idx))
        with np.errstate(over="ignore", invalid="ignore"):     # past the dtype: silent, as C
            values = (np.float64(base) ** exps).astype(dt.np)
        return _finish(values, dt, device, requires_grad)
    if dtypes.reduced_float(dt.np):     # float16/bfloat16: PyTorch's float32 powers, one rounding
        if steps > 1:                   # (the bounds are converted to the dtype: checked)
            dtypes.number_for(float(_number(start)), dt.np, half_checked=True)
            dtypes.number_for(float(_number(end)), dt.np, half_checked=True)
        values = logspace(start, end, steps, base, dtype=dtypes.float32)._array
        return _finish(dtypes.astype(values, dt.np), dt, device, requires_grad)
    exps = linspace(start, end, steps, dtype=dt)._array
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = np.power(exps.dtype.type(base), exps)
    return _finish(values, dt, device, requires_grad)


def _triangle_indices(name, row, col, offset, dtype, device, layout, lower):
    """The (2, N) int64/int32 coordinates of the lower (j <= i + offset) or upper
    (j >= i + offset) triangle of a row x col matrix, row by row."""
    check_layout(layout, name)
    row, col = _int_argument(row, name, "row", 1), _int_argument(col, name, "col", 2)
    offset = _int_argument(offset, name, "offset", 3)
    for what, v in (("row", row), ("col", col)):
        if v < 0:
            raise RuntimeError(f"{what} must be non-negative, got{v}")
    dt = dtypes.int64 if dtype is None else dtypes.to_dtype(dtype)
    if dt.np not in (np.int64, np.int32):
        kind = {"float16": "Half", "float32": "Float", "float64": "Double"}.get(dt.np.name)
        raise NotImplementedError(f"\"{name}\" not implemented for "
                                  f"'{kind or _TORCH_TYPE_NAMES.get(dt.np.name, dt.np.name)}'")
    i, j = np.indices((int(row), int(col))).reshape(2, -1)
    keep = j <= i + offset if lower else j >= i + offset
    return _finish(np.stack([i[keep], j[keep]]), dt, device, False)


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None,
                 pin_memory=False):
    """Indices (2, N) of the lower triangle of a row x col matrix: the (i, j) with
    j - i <= offset, in row-major order (row indices first).  dtype int64 (or int32)."""
    check_pin_memory(pin_memory, "tril_indices")
    return _triangle_indices("tril_indices", row, col, offset, dtype, device, layout, True)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None,
                 pin_memory=False):
    """Indices (2, N) of the upper triangle of a row x col matrix: the (i, j) with
    j - i >= offset, in row-major order (row indices first).  dtype int64 (or int32)."""
    check_pin_memory(pin_memory, "triu_indices")
    return _triangle_indices("triu_indices", row, col, offset, dtype, device, layout, False)
