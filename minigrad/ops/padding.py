"""``F.pad`` in all of PyTorch's modes: ``constant``, ``reflect``, ``replicate``, ``circular``,
with negative (cropping) pads.

Every non-constant mode is the same operation: for each padded dimension, an integer map from
output position to input position, and an ``IndexSelect`` with it.  For an input of size n
and pads (lo, hi), output position p in [-lo, n + hi) reads input position

    reflect     mirror at the edges without repeating them: -1 -> 1, n -> n - 2
    replicate   clamp(p, 0, n - 1): the edge value repeated
    circular    p mod n: wrap around (within the cropped input when a side is negative)

(a negative ``lo`` or ``hi`` simply starts or ends that range inside the input: a crop).  The
gradient of IndexSelect adds up what every copy received (an edge replicated 3 times gets 3
gradients), and its own gradient is again an IndexSelect: any order.

``constant`` (``ConstantPadNd``) copies the (cropped) input into a tensor of the fill value;
its gradient crops the border away and zero-pads what was cropped: the same op, pads negated.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from .._tiled_copy import copy_into
from ._autocast_cast import widen as _autocast_widen
from ._util import (along, argument_error, check_fill_value, not_implemented_for,
                    python_type_name)
from .movement_copies import clone, keep_channels_last
from .pointwise_select import _input_on_graph
from .scatter_gather import IndexAdd, IndexSelect

__all__ = ["pad"]

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_positions(xp, n, lo, hi, mode):
    p = xp.arange(-lo, n + hi)
    if mode == "reflect":
        period = 2 * (n - 1) if n > 1 else 1
        p = xp.abs(p) % period
        return xp.where(p >= n, period - p, p)
    if mode == "replicate":
        return xp.clip(p, 0, n - 1)
    # circular, as PyTorch: crop the negative sides first, then wrap within what is left
    start, m = max(-lo, 0), n - max(-lo, 0) - max(-hi, 0)
    if n + lo + hi == 0:                        # an empty result: nothing to wrap
        return xp.arange(0)
    return start + (xp.arange(-max(lo, 0), m + max(hi, 0)) % m)


def _check_output_size(shape, pad, k, mode):
    """PyTorch's reflection/replication kernels refuse a crop that leaves every padded
    dimension empty (one of two or three may be) and, past that, one of negative size."""
    ins = shape[-k:]
    outs = [n + pad[2 * (k - 1 - j)] + pad[2 * (k - 1 - j) + 1] for j, n in enumerate(ins)]
    if any(o >= 1 for o in outs):
        full = list(shape[:-k]) + outs
        if any(o < 0 for o in outs):        # a negative one: PyTorch's allocation refuses it
            if mode == "reflect" and k == 2:
                raise RuntimeError("numel: integer multiplication overflow")
            first = next(o for o in full if o < 0)
            raise RuntimeError(f"Trying to create tensor with negative dimension {first}: {full}")
        return
    names = "DHW"[3 - k:]
    got = " ".join(f"{a}: {o}" for a, o in zip(names, outs))
    if k == 1:
        given = f"W: {ins[0]}"
    elif k == 2:
        given = f"H: {ins[0]}, W: {ins[1]}" + (" " if mode == "replicate" else "")
    else:
        given = f"D: {ins[0]} H: {ins[1]}, W: {ins[2]}"
    raise RuntimeError(f"input ({given}) is too small. Calculated output {got}")


def _check(input, pad, mode, value):
    if mode not in _MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2 (pad {list(pad)} has length "
                           f"{len(pad)}: give (left, right) pairs; got {len(pad)})")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pad)} and input of "
                           f"dimension {input.ndim}")
    if mode == "constant":
        return
    if value not in (None, 0, 0.0):
        # checked before the pad's size, as PyTorch
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    k = len(pad) // 2
    if not (1 <= k <= 3 and input.ndim in (k + 1, k + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    shape = list(input.shape)
    batched = input.ndim == k + 2
    if mode != "circular" and 0 in shape[1 if batched else 0:]:
        raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{shape}")
    for i in range(k):
        lo, hi = pad[2 * i], pad[2 * i + 1]
        d = input.ndim - 1 - i
        n = shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) "
                               f"at dimension {d} of input {shape}")
    for i in reversed(range(k) if mode == "circular" else ()):
        # (PyTorch's circular padding checks its dims from the outermost padded one in)
        lo, hi, n = pad[2 * i], pad[2 * i + 1], shape[input.ndim - 1 - i]
        if lo > n or hi > n:
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if n + lo + hi < 0:
            raise RuntimeError("Negative padding value is resulting in an empty dimension")
        # PyTorch wraps from what the crop keeps: past that its copies read memory not yet
        # written (refused here rather than given undefined values); an empty result (or
        # input: an empty batch) wraps nothing
        kept = n - max(-lo, 0) - max(-hi, 0)
        if n + lo + hi > 0 and 0 not in shape and (lo > kept or hi > kept):
            raise RuntimeError("Padding value causes wrapping around more than once.")
    if mode != "circular":
        _check_output_size(shape, pad, k, mode)
    if mode != "circular" and input._array.dtype.kind == "b":
        # PyTorch's reflection/replication kernels have no bool version (circular copies)
        raise not_implemented_for(f"{'reflection' if mode == 'reflect' else 'replication'}"
                                  f"_pad{k}d", input._array.dtype)


def pad(input, pad, mode="constant", value=None):
    """Pad (or crop, with negative values) the last ``len(pad) // 2`` dims of ``input``.

    ``pad`` lists (left, right) pairs starting from the LAST dimension: (1, 2) pads the last
    dim by 1 before and 2 after; (1, 1, 2, 2) also the one before it by 2 on each side.
    """
    # PyTorch's argument parser checks the arguments in order before looking at anything else
    if not isinstance(pad, (tuple, list)):
        # an int, a tensor, an array or a string is no list of amounts
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, not "
                        f"{python_type_name(pad)}")
    for i, p in enumerate(pad):
        # a float or str amount is refused, and a bool first (the parser's int-list rule)
        if not hasattr(p, "__index__") or i == 0 and isinstance(p, bool):
            raise argument_error("pad", "pad", "tuple of ints", pad, 2, found=(i, p))
    if not isinstance(mode, str):
        raise TypeError(f"pad(): argument 'mode' (position 3) must be str, not "
                        f"{type(mode).__name__}")
    if value is not None and not isinstance(value, numbers.Real) and \
            not (isinstance(value, Tensor) and value.ndim == 0):
        raise TypeError(f"pad(): argument 'value' (position 4) must be float, not "
                        f"{type(value).__name__}")
    pad = tuple(int(p) for p in pad)
    _check(input, pad, mode, value)
    if _autocast_state.active and (mode == "reflect" and len(pad) <= 4 or mode == "replicate"):
        # reflection_pad1d/2d and replication_pad1d/2d/3d: ops CPU autocast runs in float32
        input, = _autocast_widen(input)
    xp = backend.xp_of(input._array)
    if not any(pad):
        # nothing to pad: still a new tensor, as PyTorch (laid out as input for 'constant',
        # row-major for the other modes unless channels-last, below)
        out = _laid_out(clone(input, memory_format=mf.preserve_format if mode == "constant"
                              else mf.contiguous_format), input, mode)
        return rename_node(out, _PAD_NODES[mode].format(len(pad) // 2))
    out = input
    if mode in ("reflect", "replicate") and _mirror_fits(input, pad, mode):
        out = MirrorPad.apply(input, pad=pad, mode=mode)
        return rename_node(_laid_out(out, input, mode), _PAD_NODES[mode].format(len(pad) // 2))
    if mode != "constant":
        # (a circular pad's backward in PyTorch reads the gradient alone: no input listed)
        select = IndexSelect if mode == "circular" else PadSelect
        for i in range(len(pad) // 2):
            lo, hi = pad[2 * i], pad[2 * i + 1]
            if lo == hi == 0:
                continue
            d = input.ndim - 1 - i
            out = select.apply(out, index=_source_positions(xp, out.shape[d], lo, hi, mode),
                               dim=d)
        return rename_node(_laid_out(out, input, mode), _PAD_NODES[mode].format(len(pad) // 2))
    # constant: crop the negative sides, then place into a tensor of the fill value
    for i in range(len(pad) // 2):
        lo, hi = pad[2 * i], pad[2 * i + 1]
        d = input.ndim - 1 - i
        n = out.shape[d]
        if n + min(lo, 0) + min(hi, 0) < 0:     # the crop comes first, then the padding
            raise RuntimeError(f"narrow(): length must be non-negative. (pad {list(pad)} "
                               f"crops dimension {d} of size {n} below 0)")
    if isinstance(value, numbers.Number):
        check_fill_value(value, input._array.dtype)     # NaN, inf, out of an integer type
        if input._array.dtype.kind == "u" and not isinstance(value, bool) and value < 0:
            # (the padded tensor is made full of it: an unsigned type takes no negative)
            raise RuntimeError(f"value cannot be converted to type "
                               f"{dtypes.c_type_name(input._array.dtype)} without overflow")
    fill = input._array.dtype.type(value) if value else 0
    return _laid_out(ConstantPadNd.apply(input, pad=pad, value=fill), input, mode)


class PadSelect(IndexSelect):
    """A reflection or replication pad along one dim: ``IndexSelect`` with the positions of
    ``_source_positions``.  Its gradient (the copies' gradients summed back) is linear in g
    alone, but PyTorch's backward kernel takes the pad's input too: under create_graph the
    gradient is listed on that input (``ListedOnInput``, a zero second derivative), so that a
    gradient penalty through the pad gives what comes before it zero gradients, not none, as
    PyTorch's."""

    def backward(self, g):
        gx = super().backward(g)
        if is_grad_enabled():
            gx = ListedOnInput.apply(gx, _input_on_graph(self, 0, gx._array))
        return gx


def _mirror_fits(input, pad, mode):
    """Whether ``MirrorPad`` takes this reflection or replication pad: no negative pad, and
    the two borders of a dim folding back onto different positions (reflect: the mirrored
    borders do not overlap; replicate: not a dim of size 1 padded on both sides), so that
    each position's gradient is its own slice plus at most one border's."""
    if min(pad) < 0:
        return False
    for i in range(len(pad) // 2):
        lo, hi = pad[2 * i], pad[2 * i + 1]
        n = input.shape[input.ndim - 1 - i]
        if mode == "reflect" and lo and hi and lo + hi > n - 2:
            return False
        if mode == "replicate" and n == 1 and lo and hi:
            return False
    return True


def _flipped(lo, hi):
    """slice(hi - 1, lo - 1, -1) (positions hi - 1 down to lo) without a negative stop."""
    return slice(hi - 1, lo - 1 if lo else None, -1)


class MirrorPad(Function):
    """A reflection or replication pad of every padded dim in one node (for the cases
    ``_mirror_fits`` takes): forward writes the input into the middle of the result and copies
    each border from the result itself, one dim after the other; the plain backward folds each
    border of the gradient back onto the positions it was copied from (a flipped slice added,
    reflect; the border's copies summed onto the edge, replicate), dim by dim from the
    outermost, as the ``PadSelect``
    chain's index-adds do. Under create_graph its backward is that chain's differentiable
    formula (``IndexAdd`` per dim, then ``ListedOnInput``)."""
    complex_ok = True             # copies and adds: right as written
    saved_fields = {"padding": "pad"}

    def forward(self, a, *, pad, mode):
        self.pad, self.mode, self.in_shape = pad, mode, a.shape
        xp = backend.xp_of(a)
        k = len(pad) // 2
        shape, inner = list(a.shape), [slice(None)] * a.ndim
        for i in range(k):
            d = a.ndim - 1 - i
            shape[d] += pad[2 * i] + pad[2 * i + 1]
            inner[d] = slice(pad[2 * i], pad[2 * i] + a.shape[d])
        out = xp.empty(shape, dtype=a.dtype)
        out[tuple(inner)] = a
        sel = list(inner)           # dims not done yet: their middle only
        for i in range(k):
            d = a.ndim - 1 - i
            lo, hi, n = pad[2 * i], pad[2 * i + 1], a.shape[d]
            if lo:
                src = _flipped(lo + 1, 2 * lo + 1) if mode == "reflect" else slice(lo, lo + 1)
                _border(out, sel, d, slice(0, lo), src)
            if hi:
                src = _flipped(lo + n - 1 - hi, lo + n - 1) if mode == "reflect" else \
                    slice(lo + n - 1, lo + n)
                _border(out, sel, d, slice(lo + n, lo + n + hi), src)
            sel[d] = slice(None)
        return out

    def backward(self, g):
        k = len(self.pad) // 2
        ndim = len(self.in_shape)
        if is_grad_enabled():
            xp = backend.xp_of(g._array)
            for i in reversed(range(k)):
                lo, hi = self.pad[2 * i], self.pad[2 * i + 1]
                if lo == hi == 0:
                    continue
                d = ndim - 1 - i
                n = self.in_shape[d]
                g = IndexAdd.apply(g, index=_source_positions(xp, n, lo, hi, self.mode),
                                   dim=d, size=n)
            return ListedOnInput.apply(g, _input_on_graph(self, 0, g._array))
        dims = [(ndim - 1 - i, self.pad[2 * i], self.pad[2 * i + 1]) for i in reversed(range(k))
                if self.pad[2 * i] or self.pad[2 * i + 1]]
        return Tensor._wrap(_fold(g._array, dims, self.mode == "reflect"))


def _fold(ga, dims, reflect):
    """The plain backward of a mirror pad: ``ga`` with the borders of each of ``dims`` ((dim,
    lo, hi), in the order folded: outermost first) added onto the positions they were copied
    from. The result's middle is copied once; each border is folded along the other dims on
    its own (small) and added to the rows it lands on: the same adds, in the same order, as
    folding one whole dim after the other."""
    xp = backend.xp_of(ga)
    if not dims:
        # + 0: a -0.0 becomes the +0.0 that a sum from zero gives; the result row-major
        return xp.add(ga, 0, out=xp.empty(ga.shape, dtype=ga.dtype))
    d, lo, hi = dims[-1]
    n = ga.shape[d] - lo - hi
    out = _fold(ga[along(d, slice(lo, lo + n))], dims[:-1], reflect)
    if lo:
        part = _fold(ga[along(d, slice(0, lo))], dims[:-1], reflect)
        if reflect:
            out[along(d, slice(1, lo + 1))] += part[along(d, slice(None, None, -1))]
        else:
            _edge_add(out[along(d, slice(0, 1))], part, d, True)
    if hi:
        part = _fold(ga[along(d, slice(lo + n, lo + n + hi))], dims[:-1], reflect)
        if reflect:
            out[along(d, slice(n - 1 - hi, n - 1))] += \
                part[along(d, slice(None, None, -1))]
        else:
            _edge_add(out[along(d, slice(n - 1, n))], part, d, False)
    return out


def _edge_add(edge, part, d, before):
    """A replicated border ``part`` (its copies along ``d``, in output order) added onto the
    ``edge`` slice (a view, length 1 along ``d``) that it copies. One copy: added in place;
    more: the copies and the edge summed in output order (the copies before the edge on the
    low side, after it on the high side) in float64 (complex128), rounded once, as the
    per-dim index-add sums a position's slices."""
    w = part.shape[d]
    if w == 1:
        edge += part
        return
    xp = backend.xp_of(part)
    wide = xp.complex128 if part.dtype.kind == "c" else xp.float64
    copies = [part[along(d, slice(j, j + 1))] for j in range(w)]
    terms = copies + [edge] if before else [edge] + copies
    acc = xp.add(terms[0], 0, dtype=wide)
    for t in terms[1:]:
        acc += t
    edge[...] = acc


# a border along the last dim at most this wide is copied one column at a time: numpy copies
# a whole border in runs of its width, a few numbers per row at a call per row (16x64x64x64
# float32 padded by 2: 0.77 ms a side, against 0.30 by columns of 64-number strided runs)
_NARROW = 8


def _border(out, sel, d, dst, src):
    """out[sel with ``dst`` along d] = out[sel with ``src`` along d] (src of dst's length, or
    of one position, repeated); ``sel`` is left with ``dst`` along d."""
    width = dst.stop - dst.start
    if d == out.ndim - 1 and width <= _NARROW:
        sources = range(*src.indices(out.shape[d]))
        for k in range(width):
            sel[d] = sources[k if len(sources) > 1 else 0]
            column = out[tuple(sel)]
            sel[d] = dst.start + k
            out[tuple(sel)] = column
    else:
        sel[d] = dst
        out[tuple(sel)] = out[_along_sel(sel, d, src)]
    sel[d] = dst


def _along_sel(sel, d, index):
    sel = list(sel)
    sel[d] = index
    return tuple(sel)


class ListedOnInput(Function):
    """(g, a) -> g: a gradient that depends on ``a`` in the graph only (d/dg = 1, d/da = 0),
    as a backward kernel that takes its op's input without its value mattering."""
    complex_ok = True

    def forward(self, g, a):
        return g.copy()

    def backward(self, gg):
        za = None
        if self.needs_input_grad[1]:
            shape, dtype = self._in_meta[1]
            za = Tensor._wrap(backend.xp_of(gg._array).zeros(shape, dtype=dtype))
        return gg, za


class ConstantPadNd(Function):
    """``pad`` in 'constant' mode: a (..., n, ...) -> out with each padded dim n + lo + hi
    long, ``value`` in the border and a's (cropped, where a pad is negative) values inside.
    The border filled and the inside copied (each element written once), where an index-add
    per dim sorted its indices each time.

    Backward: cropping the border away and zero-padding what was cropped, that is this op
    with every pad negated and 0 as the value; so any order."""
    complex_ok = True             # linear, real coefficients: right as written
    saved_fields = {"pad": "pad"}

    def forward(self, a, *, pad, value):
        self.pad = pad
        shape, inside, src = list(a.shape), [slice(None)] * a.ndim, [slice(None)] * a.ndim
        for i in range(len(pad) // 2):
            lo, hi = pad[2 * i], pad[2 * i + 1]
            d = a.ndim - 1 - i
            n = a.shape[d]
            kept = n - max(-lo, 0) - max(-hi, 0)
            src[d] = slice(max(-lo, 0), max(-lo, 0) + kept)
            inside[d] = slice(max(lo, 0), max(lo, 0) + kept)
            shape[d] = kept + max(lo, 0) + max(hi, 0)
        xp = backend.xp_of(a)
        if xp is not np or min(shape, default=1) <= 0:
            out = xp.full(shape, value, dtype=a.dtype)
        else:
            # laid out as the input suggests (as PyTorch allocates it: channels-last stays);
            # only the border takes the value, each padded dim's two slabs filled as np.full
            # fills (an unsafe cast), and the inside is written once, by the copy
            out = mf.new_array(tuple(shape), a.dtype, mf.suggest(a))
            for d, part in enumerate(inside):
                if part != slice(None):
                    lead = (slice(None),) * d
                    np.copyto(out[lead + (slice(0, part.start),)], value, casting="unsafe")
                    np.copyto(out[lead + (slice(part.stop, None),)], value, casting="unsafe")
            copy_into(out[tuple(inside)], a[tuple(src)])
            return out
        out[tuple(inside)] = a[tuple(src)]
        return out

    def backward(self, g):
        return ConstantPadNd.apply(g, pad=tuple(-p for p in self.pad), value=0)


# PyTorch's node for each padding mode (of as many dims as the pad gives pairs)
_PAD_NODES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
              "circular": "torch::autograd::CopySlices", "constant": "ConstantPadNdBackward0"}


def _laid_out(out, input, mode):
    """PyTorch allocates a constant, reflection or replication pad's result in its input's
    suggested layout (channels-last stays so); a circular pad copies slices: row-major."""
    return out if mode == "circular" else keep_channels_last(out, input)
