"""Shape-building ops composed from index_select / index_add: ``movedim``, ``tril``, ``triu``,
``diag``, ``outer``, ``repeat_interleave``, ``Tensor.unfold`` (sliding windows), ``roll``.

Each one computes *which* elements go where with numpy on integer positions (no gradient
needed), then moves the values with ``IndexSelect`` / ``IndexAdd`` or ``where``, so first and
second derivatives come from those ops.  No Python loop over elements.
"""
from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from ._util import normalize_dim
from .elementwise import mul, where
from .movement import permute
from .plumbing import reshape_to
from .scatter_gather import IndexAdd, IndexSelect, index_select

__all__ = ["movedim", "moveaxis", "tril", "triu", "diag", "outer", "ger",
           "repeat_interleave", "unfold", "roll"]


def movedim(input, source, destination):
    """Move dimension(s) ``source`` to position(s) ``destination``, the rest keep their order."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    nd = input.ndim
    src = [normalize_dim(s, max(nd, 1)) for s in src]
    dst = [normalize_dim(d, max(nd, 1)) for d in dst]
    if nd == 0:
        return input
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(k for k in range(nd) if k not in src)
    order = [next(rest) if o is None else o for o in order]
    return input if order == list(range(nd)) else permute(input, *order)


moveaxis = movedim


def _triangle(input, diagonal, lower, name):
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    xp = backend.xp_of(input._array)
    n, m = input.shape[-2:]
    rows, cols = xp.arange(n)[:, None], xp.arange(m)[None, :]
    keep = (cols - rows <= diagonal) if lower else (cols - rows >= diagonal)
    return where(keep, input, 0)


def tril(input, diagonal=0):
    """The lower triangle (j - i <= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """The upper triangle (j - i >= diagonal) of the last two dims; the rest zero."""
    return _triangle(input, diagonal, False, "triu")


def diag(input, diagonal=0):
    """1-d v -> the square matrix with v on diagonal ``diagonal``; 2-d -> that diagonal."""
    xp = backend.xp_of(input._array)
    k = int(diagonal)
    if input.ndim == 1:
        n = input.shape[0]
        size = n + abs(k)
        i = xp.arange(n)
        flat = (i + max(-k, 0)) * size + i + max(k, 0)
        return reshape_to(IndexAdd.apply(input, index=flat, dim=0, size=size * size),
                          (size, size))
    if input.ndim == 2:
        n, m = input.shape
        start_r, start_c = max(-k, 0), max(k, 0)
        count = max(min(n - start_r, m - start_c), 0)
        i = xp.arange(count)
        flat = (i + start_r) * m + i + start_c
        return IndexSelect.apply(reshape_to(input, (n * m,)), index=flat, dim=0)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def outer(input, vec2):
    """input (n,), vec2 (m,) -> (n, m) with out[i, j] = input[i] * vec2[j]."""
    for name, t in (("self", input), ("vec2", vec2)):
        if t.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.ndim}-D")
    return mul(reshape_to(input, (input.shape[0], 1)), reshape_to(vec2, (1, vec2.shape[0])))


ger = outer


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times, in place order:
    [a, b] with 2 -> [a, a, b, b].  ``repeat_interleave(counts)`` alone -> repeated indices."""
    xp = backend.xp_of(input._array)
    if repeats is None:                 # torch.repeat_interleave(tensor([2, 1])) -> [0, 0, 1]
        counts = input._array
        return Tensor._wrap(xp.repeat(xp.arange(len(counts)), counts).astype("int64"))
    if dim is None:
        input, d = reshape_to(input, (input.numel(),)), 0
    else:
        d = normalize_dim(dim, max(input.ndim, 1))
    n = input.shape[d]
    reps = repeats._array if isinstance(repeats, Tensor) else repeats
    reps = xp.asarray(reps, dtype="int64").reshape(-1)
    if reps.size == 1:
        reps = xp.broadcast_to(reps, (n,))
    elif reps.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {reps.size} and input.size({d}) = {n}")
    if reps.size and int(reps.min()) < 0:
        raise RuntimeError("repeats can not be negative")
    return IndexSelect.apply(input, index=xp.repeat(xp.arange(n), reps), dim=d)


def unfold(input, dimension, size, step):
    """Tensor.unfold: every window of ``size`` elements along ``dimension``, ``step`` apart, as
    a new last dim: (.., n, ..) -> (.., (n - size) // step + 1, .., size)."""
    d = normalize_dim(dimension, max(input.ndim, 1))
    n = input.shape[d] if input.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if input.ndim == 0:
        return reshape_to(input, (1,))
    xp = backend.xp_of(input._array)
    count = (n - size) // step + 1
    index = (xp.arange(count)[:, None] * step + xp.arange(size)[None, :]).reshape(-1)
    picked = IndexSelect.apply(input, index=index, dim=d)         # (.., count*size, ..)
    shape = tuple(input.shape[:d]) + (count, size) + tuple(input.shape[d + 1:])
    return movedim(reshape_to(picked, shape), d + 1, -1)


def roll(input, shifts, dims=None):
    """Shift elements along ``dims`` by ``shifts`` (wrapping around)."""
    if dims is None:
        flat = reshape_to(input, (input.numel(),))
        return reshape_to(roll(flat, shifts, 0), tuple(input.shape))
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    xp = backend.xp_of(input._array)
    out = input
    for s, dim in zip(shifts, dims):
        d = normalize_dim(dim, max(input.ndim, 1))
        n = input.shape[d]
        if n:
            out = index_select(out, d, Tensor._wrap((xp.arange(n) - s) % n))
    return out
