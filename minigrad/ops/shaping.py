"""Shape-building ops composed from index_select / index_add: ``movedim``, ``tril``, ``triu``,
``diag``, ``outer``, ``repeat_interleave``, ``roll``, ``tile`` (``repeat`` with dims padded
on the left); and two strided views, ``diagonal`` and
``Tensor.unfold`` (sliding windows).

Each one computes *which* elements go where with numpy on integer positions (no gradient
needed), then moves the values with ``IndexSelect`` / ``IndexAdd`` or ``where``, so first and
second derivatives come from those ops.  The views read input's memory through numpy strides
(``StridedView``); their backward adds the gradient back with ``IndexAdd``.  No Python loop
over elements.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _memory_format as mf, backend
from .._tiled_copy import contiguous_copy
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._int_lists import int_lists
from ._util import (Omitted, argument_error, check_tensor, int_arg, normalize_dim,
                    not_implemented_for)
from .elementwise import mul
from ._int_list_args import int_list_argument
from .movement import permute
from .movement_copies import clone, repeat
from .plumbing import reshape_to
from .scatter_gather import IndexAdd, IndexSelect

__all__ = ["movedim", "moveaxis", "tril", "triu", "diag", "outer", "ger",
           "repeat_interleave", "unfold", "roll", "tile", "tile_method"]


def movedim(input, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``, the rest keep their order."""
    check_tensor("movedim", input)
    if _one_int(source) != _one_int(destination):     # PyTorch takes two ints or two tuples
        # (its two signatures listed by the wrappers, for the call)
        arg, bad = ("destination", destination) if _one_int(source) else ("source", source)
        raise argument_error(None, arg, "int", bad)     # (movedim or moveaxis)
    src = [source] if _one_int(source) else list(source)
    dst = [destination] if _one_int(destination) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    nd = input.ndim
    given = (src, dst)
    src = [normalize_dim(s, max(nd, 1)) for s in src]
    dst = [normalize_dim(d, max(nd, 1)) for d in dst]
    for what, dims, shown in (("source", src, given[0]), ("destination", dst, given[1])):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{what}` ({shown})")
    if nd == 0:
        return permute(input, ())   # a new view, as PyTorch's (never the input itself)
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(k for k in range(nd) if k not in src)
    order = [next(rest) if o is None else o for o in order]
    return permute(input, *order)


moveaxis = movedim


def _one_int(value):
    """Whether a dims argument is one dim (an int, a numpy int, a 0-d integer tensor) rather
    than a sequence of them."""
    return isinstance(value, numbers.Integral) or (isinstance(value, Tensor) and value.ndim == 0)


def _triangle(input, diagonal, lower, name):
    diagonal = int_arg(name, "diagonal", diagonal, 2)
    if check_tensor(name, input).ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return (Tril if lower else Triu).apply(input, diagonal=diagonal)


# the unsigned integer type of each element width: a triangle keeps an element's bits or none
_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


class Tril(Function):
    """The lower triangle of the last two dims (j - i <= diagonal), the rest zero, in a
    row-major result as PyTorch's. Each element's bits are ANDed with a mask of all ones or
    all zeros (one pass, exact for every value, NaN and inf included: where() with a zero
    took 6x as long). Backward: the same triangle of the gradient."""
    _node_name = "TrilBackward0"
    saved_fields = {"diagonal": "diagonal"}
    complex_ok = True
    lower = True

    def forward(self, a, *, diagonal):
        self.diagonal = diagonal
        xp = backend.xp_of(a)
        n, m = a.shape[-2:]
        # keep j - i <= d (lower) or j - i >= d, that is not j - i <= d - 1 (upper)
        below = xp.tri(n, m, diagonal if self.lower else diagonal - 1, dtype=bool)
        keep = below if self.lower else ~below
        bits = _BITS.get(a.dtype.itemsize) if xp is np else None
        if bits is None:                    # (complex128, or not numpy: a selection)
            return xp.ascontiguousarray(xp.where(keep, a, xp.zeros((), a.dtype)))
        mask = xp.negative(keep.view(np.uint8).astype(bits))    # 0 -> 0, 1 -> all ones
        out = xp.empty(a.shape, a.dtype)
        xp.bitwise_and(a.view(bits), mask, out=out.view(bits))
        return out

    def backward(self, g):
        return type(self).apply(g, diagonal=self.diagonal)


class Triu(Tril):
    """The upper triangle (j - i >= diagonal), as ``Tril``."""
    _node_name = "TriuBackward0"
    lower = False


def tril(input, diagonal=0):
    """The lower triangle (j - i <= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """The upper triangle (j - i >= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, False, "triu")


def diag(input, diagonal=0):
    """1-d v -> the square matrix with v on diagonal ``diagonal``; 2-d -> that diagonal."""
    xp = backend.xp_of(check_tensor("diag", input)._array)
    k = int_arg("diag", "diagonal", diagonal, 2)
    if input.ndim == 1:
        n = input.shape[0]
        size = n + abs(k)
        i = xp.arange(n)
        flat = (i + max(-k, 0)) * size + i + max(k, 0)
        out = reshape_to(IndexAdd.apply(input, index=flat, dim=0, size=size * size),
                         (size, size))
        return rename_node(out, "DiagEmbedBackward0")       # as PyTorch's diag of a vector
    if input.ndim == 2:
        n, m = input.shape
        start_r, start_c = max(-k, 0), max(k, 0)
        count = max(min(n - start_r, m - start_c), 0)
        i = xp.arange(count)
        flat = (i + start_r) * m + i + start_c
        # (PyTorch's diag of a matrix copies its diagonal: that is the node's name there)
        return IndexSelect.renamed("DiagonalBackward0_copy").apply(
            reshape_to(input, (n * m,)), index=flat, dim=0)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def outer(input, vec2):
    """input (n,), vec2 (m,) -> (n, m) with out[i, j] = input[i] * vec2[j]."""
    check_tensor("outer", input)
    check_tensor("outer", vec2, "vec2", 2)
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    # a column times the row vec2 broadcast, as PyTorch's (its graph: no view of vec2)
    return mul(reshape_to(input, (input.shape[0], 1)), vec2)


ger = outer


_NO_REPEATS = Omitted("<no repeats>")


def repeat_interleave(input, repeats=_NO_REPEATS, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, in place order:
    [a, b] with 2 -> [a, a, b, b].  ``repeat_interleave(counts)`` alone -> repeated indices."""
    check_tensor("repeat_interleave", input)
    if repeats is _NO_REPEATS:
        if dim is not None:
            raise TypeError("repeat_interleave(): argument 'repeats' (position 2) must be "
                            "Tensor, not NoneType")
        repeats = None
    elif repeats is None:           # (its words for the call: several signatures fit)
        raise argument_error("repeat_interleave", "repeats", "Tensor", repeats)
    if repeats is not None and not isinstance(repeats, Tensor):
        repeats = int_arg("repeat_interleave", "repeats", repeats)
        if dim is not None:         # (the dim is wrapped before the count is looked at)
            normalize_dim(dim, max(input.ndim, 1))
        if repeats < 0:
            raise RuntimeError("Repeats must be non-negative")
    elif isinstance(repeats, Tensor) and repeats.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    counts = input if repeats is None else repeats
    if isinstance(counts, Tensor) and counts._array.dtype not in (np.int32, np.int64):
        # the counts kernel takes int32 / int64 only (a float count is not truncated)
        raise not_implemented_for("repeat_interleave_cpu", counts._array.dtype)
    xp = backend.xp_of(input._array)
    if repeats is None:                 # torch.repeat_interleave(tensor([2, 1])) -> [0, 0, 1]
        counts = input._array
        if counts.ndim != 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        _check_output_size(output_size, counts)
        if counts.size and int(counts.min()) < 0:
            raise RuntimeError("repeats can not be negative")
        return Tensor._wrap(xp.repeat(xp.arange(len(counts)), counts).astype(counts.dtype))
    if dim is None:
        input, d = reshape_to(input, (input.numel(),)), 0
    else:
        if input.ndim == 0 and isinstance(repeats, Tensor):
            # (a tensor count reads the size at the dim as given, which a 0-d tensor lacks)
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        d = normalize_dim(dim, max(input.ndim, 1))
        if input.ndim == 0:         # PyTorch's words for each kind of repeats
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions"
                             if isinstance(repeats, Tensor) else "Dimension out of range "
                             "(expected to be in range of [-1, 0], but got 1)")
    n = input.shape[d]
    reps = repeats._array if isinstance(repeats, Tensor) else repeats
    reps = xp.asarray(reps, dtype="int64").reshape(-1)
    if reps.size == 1:
        reps = xp.broadcast_to(reps, (n,))
    elif reps.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {reps.size} and input.size("
                           f"{d if dim is None else dim}) = {n}")
    if isinstance(repeats, Tensor):     # the counts kernel's output, allocated to the size
        _check_output_size(output_size, reps)
    elif output_size is not None and output_size != n * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * repeats} "
                           f"but got {output_size}")
    if reps.size and int(reps.min()) < 0:
        raise RuntimeError("repeats can not be negative")
    out = IndexSelect.apply(input, index=xp.repeat(xp.arange(n), reps), dim=d)
    # an int count is PyTorch's expand then reshape, whose last node is a view
    return out if isinstance(repeats, Tensor) else rename_node(out, "ViewBackward0")


def _check_output_size(output_size, counts):
    """PyTorch's counts kernel allocates ``output_size`` entries when it is given and then
    refuses counts that do not fill them exactly."""
    if output_size is None:
        return
    if output_size < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {output_size}: "
                           f"[{output_size}]")
    if int(counts.sum()) != output_size:
        raise RuntimeError("allocated size does not match required size")


class StridedView(Function):
    """A view of ``a`` that ``pick(a)`` lays over a's own memory with numpy strides (a
    diagonal, overlapping windows): no copy, as PyTorch. ``pick`` must give the same
    element pattern for any layout of its argument.

    Backward: each output element's gradient goes back to the input position it was read
    from; positions read more than once (overlapping windows) add up. ``pick`` applied to
    the numbers 0..n-1 in a's shape says which position each output element came from.
    """
    returns_view = True

    def forward(self, a, *, pick):
        self.in_shape, self.pick = a.shape, pick
        return pick(a)

    def backward(self, g):
        xp = backend.xp_of(g._array)
        n = 1
        for s in self.in_shape:
            n *= s
        source = self.pick(xp.arange(n).reshape(self.in_shape)).reshape(-1)
        flat = IndexAdd.apply(reshape_to(g, (source.size,)), index=source, dim=0, size=n)
        return reshape_to(flat, self.in_shape)


def _as_strided(x, shape, strides, overlapping=False):
    out = backend.xp_of(x).lib.stride_tricks.as_strided(x, tuple(shape), tuple(strides))
    if overlapping and isinstance(out, np.ndarray) and out.size > 1:
        # several elements share memory: writes into it are refused, as PyTorch's (cupy
        # arrays have no read-only flag)
        out.flags.writeable = False
    return out


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (dim1, dim2) planes, as a new last dim: element k is
    input[.., k + max(-offset, 0), .., k + max(offset, 0), ..]. A view of input."""
    nd = check_tensor("diagonal", input).ndim
    offset = int_arg("diagonal", "offset", offset, 2)
    d1, d2 = normalize_dim(dim1, nd), normalize_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    r0, c0 = max(-offset, 0), max(offset, 0)
    count = max(min(input.shape[d1] - r0, input.shape[d2] - c0), 0)
    order = [k for k in range(nd) if k not in (d1, d2)] + [d1, d2]

    def pick(x):
        rows, cols = x.shape[d1], x.shape[d2]
        x = x.transpose(order)[..., min(r0, rows):, min(c0, cols):]
        s1, s2 = x.strides[-2:]
        return _as_strided(x, x.shape[:-2] + (count,), x.strides[:-2] + (s1 + s2,))
    return StridedView.renamed("DiagonalBackward0").apply(input, pick=pick)


def unfold(input, dimension, size, step):
    """Tensor.unfold: every window of ``size`` elements along ``dimension``, ``step`` apart, as
    a new last dim: (.., n, ..) -> (.., (n - size) // step + 1, .., size). A view of input
    (windows that overlap share memory; as PyTorch, writes into it are allowed: only views
    with a zero stride are refused)."""
    if not (type(dimension) is int and type(size) is int and type(step) is int):
        dimension = int_arg("unfold", "dimension", dimension)    # the parser's TypeErrors,
        size = int_arg("unfold", "size", size)                   # in its order
        step = int_arg("unfold", "step", step)
    d = normalize_dim(dimension, max(input.ndim, 1))
    n = input.shape[d] if input.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:      # one window of ``size`` (0 or 1) elements
        return _UNFOLD.apply(input, pick=lambda x: _as_strided(x, (size,), (x.itemsize,)))
    count = (n - size) // step + 1

    def pick(x):
        s = x.strides
        return _as_strided(x, x.shape[:d] + (count,) + x.shape[d + 1:] + (size,),
                           s[:d] + (s[d] * step,) + s[d + 1:] + (s[d],))
    return _UNFOLD.apply(input, pick=pick)


_UNFOLD = StridedView.renamed("UnfoldBackward0")


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` by ``shifts`` (wrapping around); with no dims, along the
    flattened tensor."""
    check_tensor("roll", input)
    shifts, dims = int_lists("roll", 2, {"shifts": shifts, "dims": () if dims is None else dims},
                             1)
    if not shifts:
        raise RuntimeError("`shifts` required")
    for s in shifts:
        if not -2 ** 63 <= s < 2 ** 63:
            raise ValueError("Overflow when unpacking long long")
    if not dims and len(shifts) == 1 and input.ndim == 0:   # (a 0-d index would select a view)
        return rename_node(clone(input), "RollBackward0")
    if not dims and len(shifts) == 1:    # no dims: as PyTorch, a roll of the flattened tensor
        # gathered straight into input's shape, so the result is a new tensor (not a view of
        # a temporary) whose node is a RollBackward0, as PyTorch's
        n = input.numel()
        xp = backend.xp_of(input._array)
        source = (xp.arange(n) - shifts[0] % max(n, 1)) % max(n, 1)
        flat = reshape_to(input, (n,))
        out = flat[Tensor._wrap(source.reshape(tuple(input.shape)))]
        return rename_node(out, "RollBackward0")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    if input.numel() == 0:          # nothing to move: PyTorch checks no dim then
        return rename_node(clone(input), "RollBackward0")
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    dims = tuple(normalize_dim(dim, input.ndim) for dim in dims)
    return Roll.apply(input, shifts=tuple(shifts), dims=dims)


class Roll(Function):
    """out[..., (i + s) mod n, ...] = a[..., i, ...] along each rolled dim: two slice copies per
    dim (numpy's roll), not a gather by an index array. Backward: the gradient rolled back,
    by -s along the same dims (itself a Roll, so differentiable again)."""
    _node_name = "RollBackward0"
    saved_fields = {"shifts": "shifts", "dims": "dims"}
    complex_ok = True

    def forward(self, a, *, shifts, dims):
        self.shifts, self.dims = shifts, dims
        xp = backend.xp_of(a)
        out = xp.roll(a, shifts, dims)
        # PyTorch's layout: a channels-last(-3d) input rolls into one laid out so, any other
        # into a row-major one (numpy's roll keeps a permuted input's order; the tiled copy
        # relays a transposed one)
        if type(out) is np.ndarray and not out.flags.c_contiguous:
            out = contiguous_copy(out)
        if out.ndim in (4, 5):
            return mf.suggested_layout(xp.ascontiguousarray(out), a)
        return xp.ascontiguousarray(out)

    def backward(self, g):
        return Roll.apply(g, shifts=tuple(-s for s in self.shifts), dims=self.dims)


def tile(input, *dims, **kwargs):
    """``input`` repeated ``dims[k]`` times along each dim (a copy): ``repeat`` with ``dims``
    padded on the left with 1s to input.ndim (a longer ``dims`` adds leading dims, as repeat).

    Shapes: (d_0, ..., d_{n-1}) -> (dims'_0 d'_0, ...) with both padded to one length."""
    dims = int_list_argument("tile", "dims", dims, kwargs, 2, False)
    dims = (1,) * (input.ndim - len(dims)) + dims
    # a 0-d input tiled by () stays 0-d (repeat would read "no repeats" as a shape)
    return repeat(input, *dims) if dims else clone(input)


def tile_method(self, *dims, **kwargs):
    """``Tensor.tile``: the dims as separate ints (``x.tile(2, 2)``) or one sequence."""
    return tile(self, int_list_argument("tile", "dims", dims, kwargs))
