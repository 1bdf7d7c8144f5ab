"""``explain.html``: the explainer as one self-contained web page (the numbers are made here).

Everything shown in the page is computed in Python: the output comes from minigrad's own
op, every gradient from minigrad's own backward (one pass per output cell, with an upstream
gradient of 1 there and 0 elsewhere, plus one with 1 everywhere), and the sums of products
from the same numbers; the page's script only shows and hides them. The page is written
by ``_page.render`` (inline CSS and JavaScript, nothing fetched).

Every op is drawn as a window sliding over a 2-d grid: 1-d ops get a grid one row high,
and a transposed convolution is drawn as what it equals -- a stride-1 convolution of the
input spread out with s-1 zeros between neighbours and d(k-1)-p zeros around it, with the
kernel flipped.
"""
from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from . import _terminal as terminal
from ._page import render
from ._terminal import (MAX_INPUT, MAX_OUTPUTS, MAX_TERMS, _as_tensor, _numbers, _pads,
                        _size_formula, _term, _tuple, fmt)
from .._random_factories import manual_seed, randint
from .._range_factories import arange
from ..nn import functional as F
from .._tensor_factories import tensor

OPS = ("conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool2d")
_CONV = ("conv1d", "conv2d", "conv_transpose2d")


def _pair(value, nd, name, op):
    t = _tuple(value, nd, name, op)
    return (1,) + t if nd == 1 else t


def _grid_text(a):
    return [[fmt(v) for v in row] for row in a]


def _args(op, nd, weight, kw):
    """The op's arguments, normalized to 2-d (a 1-d op's height is 1)."""
    unknown = set(kw) - {"stride", "padding", "dilation", "groups", "kernel_size",
                         "ceil_mode", "output_padding", "count_include_pad", "divisor_override"}
    if unknown:
        raise TypeError(f"explain.html: unexpected argument(s) {sorted(unknown)} for {op}")
    if op in _CONV:
        if weight is None:
            raise TypeError(f"explain.html: {op} needs a weight")
        kernel = tuple(weight.shape[2:])
        kernel = (1,) + kernel if nd == 1 else kernel
        stride = _pair(kw.get("stride", 1), nd, "stride", op)
    else:
        if "kernel_size" not in kw:
            raise TypeError(f"explain.html: {op} needs kernel_size")
        kernel = _pair(kw["kernel_size"], nd, "kernel_size", op)
        s = kw.get("stride")
        stride = kernel if s is None or (not isinstance(s, numbers.Integral) and len(s) == 0) \
            else _pair(s, nd, "stride", op)
    dilation = _pair(kw.get("dilation", 1), nd, "dilation", op)
    padding = kw.get("padding", 0)
    if isinstance(padding, str):
        pads = _pads(padding, nd, kernel[-nd:], dilation[-nd:], stride[-nd:], op)
        pads = ((0, 0),) + pads if nd == 1 else pads
    else:
        pad = _tuple(padding, nd, "padding", op)
        pads = tuple((p, p) for p in ((0,) + pad if nd == 1 else pad))
    return kernel, stride, dilation, pads


def _run(op, x, w, b, kw, grad_out=None):
    """minigrad's forward (and backward with ``grad_out``): y, and the gradients as arrays."""
    xt = tensor(x, requires_grad=True)
    args = []
    wt = bt = None
    if w is not None:
        wt = tensor(w, requires_grad=True)
        args.append(wt)
        if b is not None:
            bt = tensor(b, requires_grad=True)
            args.append(bt)
    elif op in ("max_pool1d", "max_pool2d", "avg_pool2d"):
        args.append(kw["kernel_size"])
    rest = {k: v for k, v in kw.items() if k != "kernel_size"}
    y = getattr(F, op)(xt, *args, **rest)
    if grad_out is None:
        return _numbers(y), None
    y.backward(tensor(grad_out.astype(x.dtype)))
    return None, [None if t is None else _numbers(t.grad) if t.grad is not None
                  else np.zeros(t.shape) for t in (xt, wt, bt)]


def _sparse(array):
    """Nonzero entries of an array as [*index, text] (the page fills the rest with 0)."""
    return [[int(i) for i in idx] + [fmt(array[idx])] for idx in zip(*np.nonzero(array))]


def build(op, input, weight=None, bias=None, **kw):
    """Everything the page shows, as plain data (numbers already formatted)."""
    if op not in OPS:
        raise ValueError(f"explain.html: op must be one of {', '.join(OPS)}, got {op!r}")
    nd = 1 if op.endswith("1d") else 2
    if op in _CONV and weight is None:
        raise TypeError(f"explain.html: {op} needs a weight, got weight=None")
    input, weight, bias = _as_tensor(input), _as_tensor(weight), _as_tensor(bias)
    x = _numbers(input).astype(np.float32 if input.dtype.itemsize <= 4 else np.float64)
    w = None if weight is None else _numbers(weight).astype(x.dtype)
    b = None if bias is None else _numbers(bias).astype(x.dtype)
    if op not in _CONV and (weight is not None or bias is not None):
        raise TypeError(f"explain.html: {op} takes no weight or bias")
    y_real, _ = _run(op, x, w, b, kw)          # also checks every argument, as F.<op> does
    batched = x.ndim == nd + 2
    x4 = x if batched else x[None]
    y4 = y_real if batched else y_real[None]
    if nd == 1:
        x4, y4 = x4[:, :, None, :], y4[:, :, None, :]
    N, C = x4.shape[:2]
    kernel, stride, dilation, pads = _args(op, nd, weight, kw)
    groups = int(kw.get("groups", 1))
    O, OH, OW = y4.shape[1:]
    conv = op in _CONV
    transposed = op == "conv_transpose2d"

    # The grid the window slides over, and the kernel drawn on it (per output channel).
    fill = -np.inf if op.startswith("max") else 0.0
    mark = None                                   # 0: input, 1: padding, 2: inserted zero
    if transposed:
        s, d, k = stride, dilation, kernel
        opad = _pair(kw.get("output_padding", 0), 2, "output_padding", op)
        H, W = x4.shape[2:]
        full = [((H - 1) * s[0] + 1) + 2 * d[0] * (k[0] - 1) + opad[0],
                ((W - 1) * s[1] + 1) + 2 * d[1] * (k[1] - 1) + opad[1]]
        grid = np.zeros((C,) + tuple(full))
        mark = np.ones(grid.shape[1:], dtype=int)
        rs, cs = d[0] * (k[0] - 1), d[1] * (k[1] - 1)
        mark[rs:rs + (H - 1) * s[0] + 1, cs:cs + (W - 1) * s[1] + 1] = 2
        grid[:, rs:rs + (H - 1) * s[0] + 1:s[0], cs:cs + (W - 1) * s[1] + 1:s[1]] = x4[0]
        mark[rs:rs + (H - 1) * s[0] + 1:s[0], cs:cs + (W - 1) * s[1] + 1:s[1]] = 0
        p = pads
        crop = (slice(p[0][0], full[0] - p[0][0]), slice(p[1][0], full[1] - p[1][0]))
        grid, mark = grid[(slice(None),) + crop], mark[crop]
        Og = O // groups
        Cg = C // groups
        kernels = np.zeros((O, Cg) + tuple(k))
        for o in range(O):
            g = o // Og
            kernels[o] = w[g * Cg:(g + 1) * Cg, o - g * Og, ::-1, ::-1]
        win_stride = (1, 1)
        offsets = (0, 0)
    else:
        grid = np.pad(x4[0], [(0, 0)] + list(pads), constant_values=fill)
        mark = np.zeros(grid.shape[1:], dtype=int)
        (t, _), (l, _) = pads
        mark[:t], mark[t + x4.shape[2]:], mark[:, :l], mark[:, l + x4.shape[3]:] = 1, 1, 1, 1
        if conv:
            kernels = w if nd == 2 else w[:, :, None, :]
            Cg = kernels.shape[1]
        else:
            kernels, Cg = None, 1
        win_stride = stride
        offsets = (0, 0)
    Og = O // groups if conv else 1
    terms = (Cg if conv else 1) * kernel[0] * kernel[1]
    if O * OH * OW > MAX_OUTPUTS or terms > MAX_TERMS or grid.size > MAX_INPUT:
        raise ValueError(
            f"explain.html: too big to draw: the output has {O * OH * OW} cells per sample "
            f"(limit {MAX_OUTPUTS}), {terms} products per cell (limit {MAX_TERMS}), the grid "
            f"{grid.size} cells (limit {MAX_INPUT}); explain a small crop instead")

    steps, partial_maps = [], {}
    for o, i, j in itertools.product(range(O), range(OH), range(OW)):
        r0, q0 = i * win_stride[0] + offsets[0], j * win_stride[1] + offsets[1]
        chans = range((o // Og) * Cg, (o // Og) * Cg + Cg) if conv else [o]
        cells, kcells, lines, parts = [], [], [], []
        values = []
        for ci, c in enumerate(chans):
            prods, part = [], 0.0
            for p, q in itertools.product(range(kernel[0]), range(kernel[1])):
                r, col = r0 + p * dilation[0], q0 + q * dilation[1]
                if r >= grid.shape[1] or col >= grid.shape[2]:
                    continue                          # ceil_mode: clipped at the end
                a = grid[c, r, col]
                cells.append([c, r, col])
                if conv:
                    wv = kernels[o, ci, p, q]
                    kcells.append([ci, p, q])
                    prods.append(f"{_term(a)}x{_term(wv)}")
                    part += a * wv
                else:
                    values.append(a)
            if conv:
                partial_maps.setdefault((o, ci), np.zeros((OH, OW)))[i, j] = part
                parts.append(part)
                lines.append({"c": c, "text": " + ".join(prods) + f" = {fmt(part)}"})
        value = y4[0, o, i, j]
        step = {"o": o, "i": i, "j": j, "cells": cells, "kcells": kcells, "value": fmt(value),
                "where": _where(nd, i, j, r0, q0, kernel, win_stride, dilation, transposed),
                "index": ([0] if batched else []) + [o] + ([j] if nd == 1 else [i, j])}
        if conv:
            total = sum(parts) + (b[o] if b is not None else 0.0)
            _agree(op, step["index"], total, value, terms)
            if len(lines) == 1 and b is None:
                step["total"] = lines[0]["text"]
                lines = []
            else:
                extra = [_term(b[o])] if b is not None else []
                step["total"] = " + ".join([_term(v) for v in parts] + extra) + \
                    f" = {fmt(value)}" + ("   (the last term is the bias)" if extra else "")
        elif op.startswith("max"):
            nan = [k for k, v in enumerate(values) if math.isnan(v)]
            win = nan[0] if nan else int(np.argmax(values))   # the first max, in window order
            step["winner"] = cells[win]
            step["total"] = f"max({', '.join(fmt(v) for v in values)}) = {fmt(value)}"
            order = "row by row" if nd == 2 else "left to right"
            step["why"] = (f"element {win + 1} of {len(values)} in window order ({order}) "
                           "wins" + ("; ties go to the first" if
                                     sum(v == values[win] for v in values) > 1 else ""))
        else:
            div = _avg_divisor(kw, kernel, pads, x4.shape[2:], r0, q0, len(values))
            step["total"] = f"({' + '.join(_term(v) for v in values)}) / {div} = {fmt(value)}"
            _agree(op, step["index"], sum(values) / div, value, terms)
        steps.append(step)
        step["lines"] = lines

    # Backward: minigrad's own gradients, one upstream cell at a time, and all ones.
    backward = []
    shape = y_real.shape
    for step in steps:
        g = np.zeros(shape)
        g[tuple(step["index"])] = 1.0
        backward.append(_grads(op, x, w, b, kw, g, nd, batched))
    backward_all = _grads(op, x, w, b, kw, np.ones(shape), nd, batched)

    x_planes = x4[0]
    data = {
        "op": op, "nd": nd, "title": _title(op, input, weight, bias, kw),
        "batch_note": (f"a batch of {N}: sample 0 is shown" if N > 1 else ""),
        "geometry": _geometry(op, nd, kernel, stride, dilation, pads, groups, kw),
        "formula": _formula(op, nd, x4.shape[2:], kernel, stride, dilation, pads, kw,
                            (OH, OW)),
        "grid": [_grid_text(grid[c]) for c in range(C)], "mark": mark.tolist(),
        "input": [_grid_text(x_planes[c]) for c in range(C)],
        "kernels": None if kernels is None else
        [[_grid_text(kernels[o, ci]) for ci in range(Cg)] for o in range(O)],
        "kernel_labels": None if kernels is None else
        [[(f"w[{(o // Og) * Cg + ci}, {o % Og}] flipped" if transposed else f"w[{o}, {ci}]")
          for ci in range(Cg)] for o in range(O)],
        "weight_shape": None if w is None else list(w.shape),
        "partials": None if not conv else
        [[_grid_text(partial_maps[(o, ci)]) for ci in range(Cg)] for o in range(O)],
        "bias": None if b is None else [fmt(v) for v in b],
        "output": [_grid_text(y4[0, o]) for o in range(O)],
        "groups": groups, "cg": Cg, "og": Og, "channels": C, "out_channels": O,
        "steps": steps, "backward": backward, "backward_all": backward_all,
        "grad_w_shape": None if w is None else list(w.shape if nd == 2 else
                                                     w.shape[:2] + (1,) + w.shape[2:]),
    }
    return data, y_real


def _where(nd, i, j, r0, q0, kernel, stride, dilation, transposed):
    """Where this step's window sits: 'rows 2-4 (1*2 + 0..2), cols 2-4 (1*2 + 0..2)'."""
    def axis(name, out, start, k, s, d):
        last = start + d * (k - 1)
        cells = f"{start}-{last}" if d == 1 else ",".join(str(start + d * t) for t in range(k))
        return f"{name} {cells} (start = {out}*{s}" + (f", dilation {d}" if d > 1 else "") + ")"
    parts = [axis("cols" if nd == 2 else "positions", j, q0, kernel[1], stride[1], dilation[1])]
    if nd == 2:
        parts.insert(0, axis("rows", i, r0, kernel[0], stride[0], dilation[0]))
    grid = "spread-out input" if transposed else "padded input"
    return f"window: {', '.join(parts)} of the {grid}"


def _agree(op, index, mine, theirs, terms):
    if math.isfinite(mine) and math.isfinite(theirs) and \
            abs(mine - theirs) > 1e-4 * (1 + abs(mine)) + 1e-6 * terms:
        raise RuntimeError(f"explain.html({op}): at {index} the shown terms give {mine} but "
                           f"minigrad returned {theirs} (a bug: please report it)")


def _avg_divisor(kw, kernel, pads, size, r0, q0, n_values):
    if kw.get("divisor_override"):
        return int(kw["divisor_override"])
    if kw.get("count_include_pad", True):     # cells inside input + padding (not past it)
        rows = min(r0 + kernel[0], size[0] + pads[0][0] + pads[0][1]) - r0
        cols = min(q0 + kernel[1], size[1] + pads[1][0] + pads[1][1]) - q0
        return rows * cols
    t, l = pads[0][0], pads[1][0]
    rows = len([r for r in range(r0, r0 + kernel[0]) if t <= r < t + size[0]])
    cols = len([c for c in range(q0, q0 + kernel[1]) if l <= c < l + size[1]])
    return rows * cols


def _grads(op, x, w, b, kw, g, nd, batched):
    _, (gx, gw, gb) = _run(op, x, w, b, kw, grad_out=g)
    gx = gx if batched else gx[None]
    gx = gx[0] if nd == 2 else gx[0][:, None, :]
    up = (g if batched else g[None])[0]
    out = {"gx": _sparse(gx), "upstream": _sparse(up if nd == 2 else up[:, None, :])}
    if gw is not None:
        out["gw"] = _sparse(gw if nd == 2 else gw[:, :, None, :])
    if gb is not None:
        out["gb"] = _sparse(gb)
    return out


def _tup(values):
    return "(" + ", ".join(str(v) for v in values) + ")"


def _title(op, input, weight, bias, kw):
    parts = [f"input {_tup(input.shape)}"]
    if weight is not None:
        parts.append(f"weight {_tup(weight.shape)}")
    if bias is not None:
        parts.append(f"bias {_tup(bias.shape)}")
    parts += [f"{k}={v}" for k, v in kw.items()]
    return f"{op}(" + ", ".join(parts) + ")"


def _geometry(op, nd, kernel, stride, dilation, pads, groups, kw):
    sl = slice(1, 2) if nd == 1 else slice(0, 2)
    k, s, d = kernel[sl], stride[sl], dilation[sl]
    p = [f"{a}" if a == b_ else f"{a} before, {b_} after" for a, b_ in pads[sl]]
    lines = [f"kernel {' x '.join(map(str, k))}: the window covers "
             f"{' x '.join(str(dd * (kk - 1) + 1) for kk, dd in zip(k, d))} cells"
             + (f" (dilation {_tup(d)}: it reads every {max(d)}th cell)"
                if any(v > 1 for v in d) else ""),
             f"stride {_tup(s)}: the window moves {' / '.join(map(str, s))} cell(s) per step"]
    if any(a or b_ for a, b_ in pads[sl]):
        lines.append(f"padding {', '.join(p)}: " + ("-inf" if op.startswith("max") else "zeros")
                     + " around the input (grey cells)")
    if op == "conv_transpose2d":
        lines = [f"a transposed convolution with stride {_tup(s)} is drawn as a convolution "
                 f"with stride 1 over the input spread out with stride - 1 zeros between "
                 f"neighbours (dotted cells) and dilation*(kernel-1) - padding = "
                 f"{', '.join(str(dd * (kk - 1) - pp[0]) for kk, dd, pp in zip(k, d, pads))}"
                 " zeros around it, with each kernel flipped"] + lines[:1] + \
                [f"padding {', '.join(str(pp[0]) for pp in pads)}: cropped off each side of "
                 "the output",
                 f"output_padding {kw.get('output_padding', 0)}: extra rows/columns at the end"]
        lines = [t for t in lines if not t.startswith("padding 0, 0:") and
                 not t.startswith("output_padding 0:")]
    if groups > 1:
        lines.append(f"groups {groups}: each output channel sees only the input channels of "
                     "its group")
    return lines


def _formula(op, nd, size, kernel, stride, dilation, pads, kw, out):
    titles = ("length",) if nd == 1 else ("height", "width")
    axes = (1,) if nd == 1 else (0, 1)
    ceil = bool(kw.get("ceil_mode", False))
    if op == "conv_transpose2d":
        opad = _pair(kw.get("output_padding", 0), 2, "output_padding", op)
        lines = ["out = (M - 1)*s - 2p + d(K-1) + output_padding + 1"]
        for t, a in zip(titles, axes):
            lines.append(f"  {t}: ({size[a]} - 1)*{stride[a]} - 2*{pads[a][0]} + "
                         f"{dilation[a]}*({kernel[a]}-1) + {opad[a]} + 1 = {out[a]}")
        return lines
    lines = [f"out = {'ceil' if ceil else 'floor'}((M + 2p - d(K-1) - 1) / s) + 1"]
    for t, a in zip(titles, axes):
        lines += _size_formula(t, size[a], kernel[a], pads[a], stride[a], dilation[a], out[a],
                               ceil).splitlines()
    return lines


def write(op, input, weight=None, bias=None, path="explain.html", **kw):
    """Write the page for ``op`` to ``path``; returns (path, what minigrad's op returned)."""
    data, y = build(op, input, weight, bias, **kw)
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(data))
    return str(path), tensor(y.astype(np.float32))


def main(argv=None):
    """``python -m minigrad.explain conv2d --input-shape 1,1,5,5 --kernel 3 --html out.html``"""
    import argparse
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.explain",
        description="Explain a convolution or pooling, number by number: in the terminal, "
                    "or as a web page with --html. The input holds 0, 1, 2, ... (or small "
                    "random whole numbers with --random).")
    parser.add_argument("op", choices=OPS)
    parser.add_argument("--input-shape", default="1,1,5,5",
                        help="comma-separated, batch included: 1,1,5,5 (1,1,8 for 1-d ops)")
    parser.add_argument("--kernel", default="3", help="kernel size: 3 or 3,2")
    parser.add_argument("--out-channels", type=int, default=1)
    parser.add_argument("--stride", default=None)
    parser.add_argument("--padding", default="0")
    parser.add_argument("--dilation", default="1")
    parser.add_argument("--groups", type=int, default=1)
    parser.add_argument("--output-padding", default="0")
    parser.add_argument("--bias", action="store_true", help="add a bias (convolutions)")
    parser.add_argument("--ceil-mode", action="store_true")
    parser.add_argument("--random", type=int, metavar="SEED", default=None,
                        help="small random whole numbers instead of 0, 1, 2, ...")
    parser.add_argument("--html", metavar="PATH", help="write the web page here")
    a = parser.parse_args(argv)

    def ints(text):
        v = tuple(int(t) for t in str(text).split(","))
        return v[0] if len(v) == 1 else v

    shape = tuple(int(t) for t in a.input_shape.split(","))
    nd = 1 if a.op.endswith("1d") else 2
    kernel = ints(a.kernel)
    ks = (kernel,) * nd if isinstance(kernel, int) else kernel

    def numbers(*dims):
        if a.random is not None:
            return randint(-2, 3, dims).float()
        return arange(math.prod(dims)).float().reshape(*dims)

    if a.random is not None:
        manual_seed(a.random)
    x = numbers(*shape)
    kw = {"padding": ints(a.padding), "dilation": ints(a.dilation)}
    if a.stride is not None:
        kw["stride"] = ints(a.stride)
    weight = bias = None
    if a.op in _CONV:
        c_in = shape[-nd - 1]
        if a.op == "conv_transpose2d":
            weight = numbers(c_in, a.out_channels // a.groups, *ks)
            kw["output_padding"] = ints(a.output_padding)
        else:
            weight = numbers(a.out_channels, c_in // a.groups, *ks)
        kw["groups"] = a.groups
        bias = numbers(a.out_channels) if a.bias else None
    else:
        kw["kernel_size"] = kernel
        if a.op == "avg_pool2d":
            kw.pop("dilation")
        kw["ceil_mode"] = a.ceil_mode
    if not a.html and a.op not in ("conv1d", "conv2d", "max_pool1d", "max_pool2d"):
        parser.error(f"{a.op} is explained in the browser only: add --html out.html")
    try:
        if a.html:
            path, _ = write(a.op, x, weight, bias, path=a.html, **kw)
            print(f"wrote {path}: open it in a browser (arrow keys step, space plays, "
                  f"b switches to backward)")
        elif a.op in ("conv1d", "conv2d"):
            getattr(terminal, a.op)(x, weight, bias, **kw)
        else:
            getattr(terminal, a.op)(x, **kw)
    except (ValueError, RuntimeError, TypeError) as error:   # bad sizes: say so, no traceback
        parser.error(str(error))
    return 0
