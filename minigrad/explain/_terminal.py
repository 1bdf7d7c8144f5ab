"""The terminal explainer: ``conv1d``, ``conv2d``, ``max_pool1d``, ``max_pool2d`` print what the
op computes, number by number (see the package's docstring), plus the helpers the web page
(``_html.py``) shares: number formatting, argument tuples, padding, the output-size formula.
"""
from __future__ import annotations

import itertools
import math
import numbers
import sys

import numpy as np

from .. import backend
from ..nn import functional as F
from ..tensor import Tensor
from .._tensor_factories import tensor

__all__ = ["conv1d", "conv2d", "max_pool1d", "max_pool2d", "output_size", "fmt",
           "MAX_OUTPUTS", "MAX_TERMS", "MAX_INPUT"]

MAX_OUTPUTS = 400     # output elements printed at most
MAX_TERMS = 64        # products per output element at most
MAX_INPUT = 4096      # padded input elements printed at most (all samples and channels)

_AXIS_NAMES = {1: ("positions",), 2: ("rows", "cols")}
_AXIS_TITLES = {1: ("length",), 2: ("height", "width")}
_AXIS_UNITS = {1: ("position(s)",), 2: ("row(s)", "column(s)")}


# ----------------------------------------------------------------------------------------------
# Number formatting
# ----------------------------------------------------------------------------------------------
def fmt(value) -> str:
    """A number, compactly: ``19`` not ``19.0``; ``0.1685``; ``1.5e-05``; ``inf``; ``nan``.

    Whole numbers print as integers; other values with at most 4 decimals (trailing zeros
    dropped); values too small or too large for that use 4 significant digits in scientific
    notation, written without a '+' (``1.235e6``) so that sums stay easy to read and parse.
    """
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    if 1e-4 <= abs(v) < 1e6:
        text = f"{v:.4f}".rstrip("0").rstrip(".")
        if text not in ("0", "-0"):
            return text
    text = f"{v:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _term(value) -> str:
    """A number inside a sum: negatives in parentheses, ``(-1)``."""
    text = fmt(value)
    return f"({text})" if text.startswith("-") else text


def _grid(array, row_labels=True, indent="    ") -> str:
    """A 1-d or 2-d array as right-aligned columns, with row and column indices."""
    a = np.asarray(array)
    one_d = a.ndim == 1
    if one_d:
        a = a[None]
    cells = [[fmt(v) for v in row] for row in a]
    width = max((len(c) for row in cells for c in row), default=1)
    width = max(width, len(str(a.shape[1] - 1)))
    label_w = len(str(a.shape[0] - 1)) + 1
    lines = []
    if row_labels:
        header = " " * (label_w + 1) + " ".join(str(j).rjust(width) for j in range(a.shape[1]))
        lines.append(indent + header)
    for i, row in enumerate(cells):
        label = (" " * label_w if one_d else f"{i}:".rjust(label_w)) + " " if row_labels else ""
        lines.append(indent + label + " ".join(c.rjust(width) for c in row))
    return "\n".join(lines)


def _index(idx) -> str:
    return "[" + ",".join(str(i) for i in idx) + "]"


def _span(start, kernel, dilation, limit=None) -> str:
    """The indices a window reads along one axis: '0-1' (contiguous) or '0,2,4' (dilated)."""
    positions = [start + dilation * k for k in range(kernel)]
    if limit is not None:
        positions = [p for p in positions if p < limit]
    if dilation == 1 and len(positions) > 1:
        return f"{positions[0]}-{positions[-1]}"
    return ",".join(str(p) for p in positions)


def _dims(shape) -> str:
    return "x".join(str(s) for s in shape)


# ----------------------------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------------------------
def _tuple(value, nd, name, op):
    if isinstance(value, numbers.Integral):
        return (int(value),) * nd
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * nd
    if len(value) != nd:
        raise ValueError(f"explain.{op}: {name} must be an int or a tuple of {nd} ints, "
                         f"got {value}")
    return value


def _as_tensor(x):
    if x is None or isinstance(x, Tensor):
        return x
    array = np.asarray(x)
    if array.dtype.kind in "iub":          # lists of whole numbers: compute in floating point
        array = array.astype(np.float32)
    return tensor(array)


def _numbers(t):
    """A tensor's values as a float64 numpy array (copied to the CPU when needed)."""
    return np.asarray(backend.as_numpy(t._array), dtype=np.float64)


def output_size(size, kernel, stride=1, padding=0, dilation=1, ceil_mode=False):
    """Output length along one axis; ``padding`` an int (each side) or a (left, right) pair.

    ``floor((M + p_left + p_right - d(K-1) - 1) / s) + 1`` (``ceil`` with ``ceil_mode``, where
    a last window starting past the input and the left padding is dropped, as PyTorch).
    """
    left, right = (padding, padding) if isinstance(padding, numbers.Integral) else padding
    span = size + left + right - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + left:
            out -= 1
        return out
    return span // stride + 1


def _size_formula(title, M, K, pads, s, d, out, ceil_mode=False, unit="positions") -> str:
    """The output-size formula for one axis, with the numbers plugged in."""
    left, right = pads
    pad_text = f"2*{left}" if left == right else f"{left}+{right}"
    rounding = "ceil" if ceil_mode else "floor"
    span = M + left + right - d * (K - 1) - 1
    lines = [f"  {title}: M={M}, K={K}, p={left if left == right else pads}, s={s}, d={d}:  "
             f"{rounding}(({M} + {pad_text} - {d}*({K}-1) - 1) / {s}) + 1 = "
             f"{rounding}({span}/{s}) + 1 = {out}"]
    if ceil_mode and out != (-(-span // s) + 1 if span >= 0 else 0):
        lines.append(f"      (the last window would start past the input and the left "
                     f"padding: dropped, as PyTorch does, leaving {out})")
    if d == 1:
        exact = (M - K + left + right) / s + 1
        lines.append(f"      i.e. M_new = (M - K + 2p)/s + 1 = ({M} - {K} + {left + right})/{s} + 1"
                     f" = {fmt(exact)}" + ("" if exact == out else f", rounded to {out}"))
    padded = M + left + right
    used = (out - 1) * s + d * (K - 1) + 1 if out > 0 else 0
    if out > 0 and used < padded:
        lines.append(f"      the windows reach index {used - 1} of the {padded}"
                     + (" (padded)" if left or right else "")
                     + f": the last {padded - used} {unit} never enter a window")
    return "\n".join(lines)


def _check_limits(op, out_shape, n_outputs, terms, n_input, max_outputs, max_terms):
    problems = []
    if n_outputs > max_outputs:
        problems.append(f"the output {tuple(out_shape)} has {n_outputs} elements (limit "
                        f"{max_outputs})")
    if terms > max_terms:
        problems.append(f"each output element is a sum of {terms} products (limit {max_terms})")
    if n_input > MAX_INPUT:
        problems.append(f"the padded input has {n_input} elements (limit {MAX_INPUT})")
    if problems:
        raise ValueError(
            f"explain.{op}: too big to print: " + "; ".join(problems) + ". Explain a small "
            "crop instead (e.g. input[..., :6, :6], fewer channels or a smaller kernel), or "
            f"call F.{op} directly.")


def _pads(padding, nd, kernel, dilation, stride, op):
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                         for k, d in zip(kernel, dilation))
        raise ValueError(f"Invalid padding string: '{padding}'")
    return tuple((p, p) for p in _tuple(padding, nd, "padding", op))


def _out(file):
    return sys.stdout if file is None else file


# ----------------------------------------------------------------------------------------------
# Convolution
# ----------------------------------------------------------------------------------------------
def _explain_conv(op, nd, input, weight, bias, stride, padding, dilation, groups, file,
                  max_outputs, max_terms):
    input, weight, bias = _as_tensor(input), _as_tensor(weight), _as_tensor(bias)
    result = getattr(F, op)(input, weight, bias, stride=stride, padding=padding,
                            dilation=dilation, groups=groups)   # also checks the arguments

    stride_t = _tuple(stride, nd, "stride", op)
    dilation_t = _tuple(dilation, nd, "dilation", op)
    x = _numbers(input)
    batched = x.ndim == nd + 2
    if not batched:
        x = x[None]
    w = _numbers(weight)
    b = None if bias is None else _numbers(bias)
    N, C = x.shape[:2]
    O, Cg = w.shape[:2]
    G = int(groups)
    Og = O // G
    kernel = w.shape[2:]
    size = x.shape[2:]
    pads = _pads(padding, nd, kernel, dilation_t, stride_t, op)
    out_size = tuple(output_size(m, k, s, p, d)
                     for m, k, s, p, d in zip(size, kernel, stride_t, pads, dilation_t))
    y = _numbers(result)
    y = y if batched else y[None]
    assert y.shape == (N, O) + out_size, (y.shape, out_size)

    terms = Cg * int(np.prod(kernel))
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    _check_limits(op, result.shape, y.size, terms, xp.size, max_outputs, max_terms)

    p = print
    f = _out(file)
    axis_names = _AXIS_NAMES[nd]

    def tup(values):
        return "(" + ", ".join(str(v) for v in values) + ")"

    p(f"{op}: input {tup(input.shape)}, weight {tup(weight.shape)}, "
      + ("no bias" if b is None else f"bias {tup(bias.shape)}")
      + f", stride {tup(stride_t)}, padding "
      + (tup(l for l, _ in pads) if all(l == r for l, r in pads) else tup(pads))
      + f", dilation {tup(dilation_t)}" + (f", groups {G}" if G != 1 else "")
      + f"  ->  output {tup(result.shape)}", file=f)
    p(f"  {'batch' if batched else 'unbatched input (no batch axis)'}: {N} sample(s), {C} input "
      f"channel(s), {O} output channel(s) = {O} kernel(s) of {Cg}x{_dims(kernel)}"
      + (f" (each sees the {Cg} input channels of its group)" if G != 1 else
         (" (each kernel spans all input channels)" if Cg > 1 else "")), file=f)
    p("", file=f)
    p("Output size, per axis:  out = floor((M + 2p - d(K-1) - 1) / s) + 1", file=f)
    for axis in range(nd):
        p(_size_formula(_AXIS_TITLES[nd][axis], size[axis], kernel[axis], pads[axis],
                        stride_t[axis], dilation_t[axis], out_size[axis],
                        unit=_AXIS_UNITS[nd][axis]), file=f)
    p("", file=f)

    padded_note = ("" if all(l == 0 and r == 0 for l, r in pads) else
                   ", padded with zeros (" + ", ".join(
                       f"{l} {u} on each side" if l == r else f"{l} {u} before, {r} after"
                       for (l, r), u in zip(pads, _AXIS_UNITS[nd]))
                   + "; the window positions below index this padded input)")
    for n in range(N):
        for c in range(C):
            where = (f"sample {n}, " if batched else "") + f"input channel {c}"
            p(f"{where}{padded_note}, {_dims(xp.shape[2:])}:", file=f)
            p(_grid(xp[n, c]), file=f)
    p("", file=f)

    index_prefix = (lambda n, o: (n, o)) if batched else (lambda n, o: (o,))
    for o in range(O):
        g = o // Og
        channels = range(g * Cg, (g + 1) * Cg)
        p(f"Output channel {o}: kernel weight[{o}]"
          + (f" (input channels {channels[0]}-{channels[-1]})" if G != 1 else "")
          + (f", bias {fmt(b[o])}" if b is not None else "") + ":", file=f)
        for ci in range(Cg):
            if Cg > 1:
                p(f"  weight[{o},{ci}] (applied to input channel {channels[ci]}):", file=f)
            p(_grid(w[o, ci]), file=f)
        for n in range(N):
            for pos in itertools.product(*(range(s) for s in out_size)):
                starts = [q * s for q, s in zip(pos, stride_t)]
                window = ", ".join(
                    f"{name} {_span(st, k, d)}"
                    for name, st, k, d in zip(axis_names, starts, kernel, dilation_t))
                head = f"  out{_index(index_prefix(n, o) + pos)}  {window}:"
                total = 0.0
                lines = []
                for ci, c in enumerate(channels):
                    products = []
                    part = 0.0
                    for koff in itertools.product(*(range(k) for k in kernel)):
                        at = tuple(st + d * k for st, d, k in zip(starts, dilation_t, koff))
                        a = xp[(n, c) + at]
                        wv = w[(o, ci) + koff]
                        part += a * wv
                        products.append(f"{_term(a)}x{_term(wv)}")
                    total += part
                    lines.append(("+".join(products), part, c))
                if b is not None:
                    total += b[o]
                value = y[(n, o) + pos]
                _check_sum(op, index_prefix(n, o) + pos, total, value, terms)
                if len(lines) == 1 and b is None:
                    p(f"{head}  {lines[0][0]}={fmt(value)}", file=f)
                    continue
                p(head, file=f)
                for products, part, c in lines:
                    p(f"      channel {c}:  {products}={fmt(part)}", file=f)
                parts = [_term(part) for _, part, _ in lines]
                if b is not None:
                    p(f"      bias:       {fmt(b[o])}", file=f)
                    parts.append(_term(b[o]))
                p(f"      sum:        {'+'.join(parts)}={fmt(value)}", file=f)
        p("", file=f)

    p(f"Result ({op} returned shape {tup(result.shape)}):", file=f)
    for n in range(N):
        for o in range(O):
            p(("" if not batched else f"sample {n}, ") + f"output channel {o}:", file=f)
            p(_grid(y[n, o]), file=f)
    return result


def _check_sum(op, index, mine, theirs, terms):
    """The products printed must add up to what the op returned (float32 rounding allowed)."""
    if not (math.isfinite(mine) and math.isfinite(theirs)):
        if not (math.isnan(mine) and math.isnan(theirs)) and mine != theirs:
            raise RuntimeError(f"explain.{op}: at {_index(index)} the printed products add up to "
                               f"{mine} but {op} returned {theirs}")
        return
    tolerance = 1e-4 * (1 + abs(mine)) + 1e-6 * terms
    if abs(mine - theirs) > tolerance:
        raise RuntimeError(f"explain.{op}: at {_index(index)} the printed products add up to "
                           f"{mine} but {op} returned {theirs} (a bug: please report it)")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, file=None, *,
           max_outputs=MAX_OUTPUTS, max_terms=MAX_TERMS):
    """``F.conv2d`` that prints, for every output element, its sum of products.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_out, C_in/groups, kH, kW); bias (C_out,);
    stride, padding (an int, a pair, 'valid' or 'same'), dilation and groups as ``F.conv2d``.
    Prints to ``file`` (default: standard output) the output-size formula with the numbers,
    the padded input, the kernels, and one line per output element:
    ``out[0,0,0,0]  rows 0-1, cols 0-1:  0x0+1x1+3x2+4x3=19``: the rows and columns of the
    padded input the window reads, then input x kernel for each position. With several input
    channels each gets its own line and the sum adds them (and the bias).

    Returns exactly the tensor ``F.conv2d`` returns. Raises ``ValueError`` when the example is
    too big to print (more than ``max_outputs`` output elements or ``max_terms`` products
    per element).
    """
    return _explain_conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups,
                         file, max_outputs, max_terms)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, file=None, *,
           max_outputs=MAX_OUTPUTS, max_terms=MAX_TERMS):
    """``F.conv1d`` that prints every output element as its sum of products (see ``conv2d``).

    input (N, C_in, L) or (C_in, L); weight (C_out, C_in/groups, kL). Returns what ``F.conv1d``
    returns.
    """
    return _explain_conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups,
                         file, max_outputs, max_terms)


# ----------------------------------------------------------------------------------------------
# Max pooling
# ----------------------------------------------------------------------------------------------
def _explain_max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode, file,
                      max_outputs, max_terms):
    input = _as_tensor(input)
    result = getattr(F, op)(input, kernel_size, stride=stride, padding=padding,
                            dilation=dilation, ceil_mode=ceil_mode)
    kernel = _tuple(kernel_size, nd, "kernel_size", op)
    stride_t = kernel if stride is None or (not isinstance(stride, numbers.Integral)
                                            and len(stride) == 0) \
        else _tuple(stride, nd, "stride", op)
    pad_t = _tuple(padding, nd, "padding", op)
    dilation_t = _tuple(dilation, nd, "dilation", op)
    pads = tuple((q, q) for q in pad_t)

    x = _numbers(input)
    batched = x.ndim == nd + 2
    lead = x.shape[:-nd]                      # (N, C) or (C,)
    x = x.reshape((-1,) + x.shape[-nd:])      # (N*C, *S)
    size = x.shape[1:]
    out_size = tuple(output_size(m, k, s, q, d, ceil_mode)
                     for m, k, s, q, d in zip(size, kernel, stride_t, pad_t, dilation_t))
    y = _numbers(result).reshape((-1,) + out_size)
    xp = np.pad(x, [(0, 0)] + list(pads), constant_values=-np.inf)
    terms = int(np.prod(kernel))
    _check_limits(op, result.shape, y.size, terms, xp.size, max_outputs, max_terms)

    f = _out(file)
    p = print

    def tup(values):
        return "(" + ", ".join(str(v) for v in values) + ")"

    p(f"{op}: input {tup(input.shape)}, kernel_size {tup(kernel)}, stride {tup(stride_t)}, "
      f"padding {tup(pad_t)}, dilation {tup(dilation_t)}"
      + (", ceil_mode=True" if ceil_mode else "") + f"  ->  output {tup(result.shape)}", file=f)
    p("  each channel is pooled on its own: every output element is the largest value in its "
      "window (no weights)", file=f)
    p("", file=f)
    rounding = "ceil" if ceil_mode else "floor"
    p(f"Output size, per axis:  out = {rounding}((M + 2p - d(K-1) - 1) / s) + 1"
      + ("   (stride defaults to the kernel size)" if stride is None else ""), file=f)
    for axis in range(nd):
        p(_size_formula(_AXIS_TITLES[nd][axis], size[axis], kernel[axis], pads[axis],
                        stride_t[axis], dilation_t[axis], out_size[axis], ceil_mode,
                        unit=_AXIS_UNITS[nd][axis]), file=f)
    p("", file=f)

    axis_names = _AXIS_NAMES[nd]
    padded_note = ("" if not any(pad_t) else
                   ", padded with -inf (" + ", ".join(
                       f"{q} {u} on each side" for q, u in zip(pad_t, _AXIS_UNITS[nd]))
                   + "; the window positions below index this padded input)")
    for flat in range(x.shape[0]):
        idx = np.unravel_index(flat, lead) if lead else ()
        idx = tuple(int(i) for i in idx)
        label = (f"sample {idx[0]}, channel {idx[1]}" if batched else f"channel {idx[0]}")
        p(f"{label}{padded_note}, {_dims(xp.shape[1:])}:", file=f)
        p(_grid(xp[flat]), file=f)
        for pos in itertools.product(*(range(s) for s in out_size)):
            starts = [q * s for q, s in zip(pos, stride_t)]
            window = ", ".join(f"{name} {_span(st, k, d, limit)}" for name, st, k, d, limit
                               in zip(axis_names, starts, kernel, dilation_t, xp.shape[1:]))
            values = []
            for koff in itertools.product(*(range(k) for k in kernel)):
                at = tuple(st + d * k for st, d, k in zip(starts, dilation_t, koff))
                if all(a < lim for a, lim in zip(at, xp.shape[1:])):   # ceil_mode: clipped
                    values.append(xp[(flat,) + at])
            value = y[(flat,) + pos]
            mine = max(values)
            if not (mine == value or (math.isnan(mine) and math.isnan(value))
                    or any(math.isnan(v) for v in values)):
                raise RuntimeError(f"explain.{op}: at {_index(idx + pos)} the window's max is "
                                   f"{mine} but {op} returned {value} (a bug: please report it)")
            clipped = "" if len(values) == terms else "   (window clipped at the end: ceil_mode)"
            p(f"  out{_index(idx + pos)}  {window}:  max({', '.join(fmt(v) for v in values)})"
              f"={fmt(value)}{clipped}", file=f)
        p("", file=f)

    p(f"Result ({op} returned shape {tup(result.shape)}):", file=f)
    for flat in range(y.shape[0]):
        idx = tuple(int(i) for i in np.unravel_index(flat, lead)) if lead else ()
        p((f"sample {idx[0]}, channel {idx[1]}:" if batched else f"channel {idx[0]}:"), file=f)
        p(_grid(y[flat]), file=f)
    return result


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               file=None, *, max_outputs=MAX_OUTPUTS, max_terms=MAX_TERMS):
    """``F.max_pool2d`` that prints every output element as the max of its window.

    input (N, C, H, W) or (C, H, W). Prints the output-size formula with the numbers, the
    input padded with -inf, and ``out[0,0,0,0]  rows 0-1, cols 0-1:  max(1, 3, 0, 4)=4`` for
    every output element. Returns exactly what ``F.max_pool2d`` returns.
    """
    return _explain_max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                             ceil_mode, file, max_outputs, max_terms)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               file=None, *, max_outputs=MAX_OUTPUTS, max_terms=MAX_TERMS):
    """``F.max_pool1d`` that prints every output element as the max of its window."""
    return _explain_max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                             ceil_mode, file, max_outputs, max_terms)
