"""The array kernels of ``F.interpolate`` on numpy float32/float64: a resize as one linear
map per spatial axis, applied one axis after the other (``SeparableResize``).

A map sends an array with ``size_in`` slices along an axis to one with ``size_out``:

    Banded      out[o] = sum_k w_k[o] in[index_k[o]]     the interpolating modes' taps,
                applied as small dense matrices: the (size_out, size_in) matrix M cut into
                blocks of rows, each block reading the window of inputs its rows touch,
                out[r0:r1] = M[r0:r1, c0:c1] @ in[c0:c1] (one BLAS product per block)
    Repeat      out[o] = in[o // r]                     nearest, upsampling by an integer r
    GroupSum    out[i] = sum_j in[i r + j], j < r       Repeat's transpose
    Gather      out[o] = in[index[o]]                   nearest, any other factor
    Scatter     out[i] = sum of in[o] over index[o] = i Gather's transpose

Every map's transpose (``.T``) is one of them too, and the gradient of ``SeparableResize``
is ``SeparableResize`` of the transposed maps in reverse order: a backward made of the same
differentiable op, so gradients of gradients exist to any order.

Before, each tap was a gather, a multiply and an add over the whole array, and the backward
a scatter-add per tap: a bilinear resize of (32, 64, 32, 32) float32 by 2 took about 500 ms
forward and backward on one thread (PyTorch: about 100), 30 ms now.  A matrix product costs
each output a window's multiply-adds, which BLAS does at a fraction of the memory traffic of
the gathers.

A dense matrix multiplies the zero entries too, and 0 * inf is NaN: an array holding inf or
NaN (seen as a non-finite sum) is instead mixed tap by tap as the taps read it, so that
non-finite values spread only where PyTorch's kernels spread them.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import along as _along, prod

# a map whose input has at most this many slices is one dense block; longer ones are cut so
# that each block reads a window of about _WINDOW inputs (the multiply-adds per output)
_WHOLE = 64
_WINDOW = 32
_MIN_ROWS = 8


def _three_d(a, axis):
    """``a`` seen as (before, along, after) around ``axis`` (a copy only if it must)."""
    return a.reshape(prod(a.shape[:axis]), a.shape[axis], prod(a.shape[axis + 1:]))


def _resized_shape(a, axis, n):
    return a.shape[:axis] + (n,) + a.shape[axis + 1:]


def _is_finite(a):
    """Whether every element of ``a`` is finite: one summing pass (an inf or NaN makes the sum
    inf or NaN; a finite sum that overflows only sends ``a`` down the exact tap path)."""
    return bool(np.isfinite(a.sum()))


def _evenly_spaced(index):
    """The slice an increasing ``index`` is (start, stop, a positive step), or None."""
    step = index[1] - index[0] if index.size > 1 else 1
    if step > 0 and np.array_equal(index, index[0] + step * np.arange(index.size)):
        return slice(index[0], index[-1] + 1, step)
    return None


class Banded:
    """The map out[o] = sum_k w_k[o] in[index_k[o]] of ``taps`` [(index_k, w_k)] (each
    (n_out,), index_k non-decreasing in [0, n_in), w_k float64), or its transpose
    (``transposed``: n_out -> n_in, out[i] = sum over (k, o) with index_k[o] = i of
    w_k[o] in[o])."""

    def __init__(self, taps, n_in, n_out, transposed=False, partner=None):
        self.taps, self.n_in, self.n_out, self.transposed = taps, n_in, n_out, transposed
        self.size_in, self.size_out = (n_out, n_in) if transposed else (n_in, n_out)
        self._partner = partner
        self._blocks = {}              # dtype -> [(r0, r1, c0, c1, block)]
        self._finite = all(np.isfinite(w).all() for _, w in taps)

    @property
    def T(self):
        if self._partner is None:
            self._partner = Banded(self.taps, self.n_in, self.n_out, not self.transposed, self)
        return self._partner

    def apply(self, a, axis):
        if self._finite and _is_finite(a):
            return self.dense(a, axis)
        return self._by_taps(a, axis)

    def _by_taps(self, a, axis):
        """The taps one at a time: gathered, weighed and added (or, transposed, weighed and
        scattered), as PyTorch's kernels touch each value."""
        view = [1] * a.ndim
        view[axis] = self.n_out
        total = None
        for index, w in self.taps:
            w = w.reshape(view).astype(a.dtype)
            if self.transposed:
                term = Scatter(index, self.n_in).runs(a * w, axis)
            else:
                term = np.take(a, index, axis=axis) * w
            total = term if total is None else np.add(total, term, out=total)
        return total

    def dense(self, a, axis):
        """The map as products with the blocks of its matrix (for finite ``a``)."""
        blocks = self._blocks.get(a.dtype)
        if blocks is None:
            blocks = self._blocks[a.dtype] = self._build(a.dtype)
        a3 = _three_d(a, axis)
        out = np.empty(_resized_shape(a, axis, self.size_out), a.dtype)
        o3 = out.reshape(a3.shape[0], self.size_out, a3.shape[2])
        if a3.shape[2] == 1:         # the last axis: rows of ``a`` times the blocks' transposes
            a2, o2 = a3[:, :, 0], o3[:, :, 0]
            for r0, r1, c0, c1, m in blocks:
                np.matmul(a2[:, c0:c1], m.T, out=o2[:, r0:r1])
        else:                        # an inner axis: each (along, after) slab times a block
            for r0, r1, c0, c1, m in blocks:
                np.matmul(m, a3[:, c0:c1], out=o3[:, r0:r1])
        return out

    def _build(self, dtype):
        """The nonzero entries of the matrix (size_out, size_in) as blocks of rows
        [(r0, r1, c0, c1, M[r0:r1, c0:c1] in ``dtype``)]; entries that two taps share
        (indices clamped at a border) are summed in float64 first."""
        n_rows, n_cols = self.size_out, self.size_in
        outputs = np.tile(np.arange(self.n_out), len(self.taps))
        inputs = np.concatenate([index for index, _ in self.taps])
        vals = np.concatenate([w for _, w in self.taps])
        rows, cols = (inputs, outputs) if self.transposed else (outputs, inputs)
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        if n_cols <= _WHOLE:
            size, width = n_rows, n_cols
            lo = np.zeros(1, np.int64)
        else:
            size = int(min(max(_WINDOW * n_rows // n_cols, _MIN_ROWS), n_rows))
            count = -(-n_rows // size)
            block = rows // size
            # each block's first and last column; a block with no entries reads column 0
            first, last = np.full(count, n_cols, np.int64), np.zeros(count, np.int64)
            order = np.argsort(block, kind="stable")
            ids, starts = np.unique(block[order], return_index=True)
            if ids.size:
                first[ids] = np.minimum.reduceat(cols[order], starts)
                last[ids] = np.maximum.reduceat(cols[order], starts)
            width = int(max((last - first).max() + 1, 1))
            lo = np.minimum(np.minimum(first, last), n_cols - width)    # windows inside [0, n)
        count = lo.size
        flat = rows * width + cols - lo[rows // size]      # (block, row in block, column)
        mats = np.bincount(flat, vals, minlength=count * size * width)
        mats = mats.reshape(count, size, width).astype(dtype)
        return [(b * size, min((b + 1) * size, n_rows), int(lo[b]), int(lo[b]) + width,
                 mats[b, :min((b + 1) * size, n_rows) - b * size]) for b in range(count)]


class Repeat:
    """out[o] = in[o // r]: each slice ``r`` times (size_in n -> size_out n r)."""

    def __init__(self, r, n):
        self.r, self.size_in, self.size_out = r, n, n * r

    @property
    def T(self):
        return GroupSum(self.r, self.size_in)

    def apply(self, a, axis):
        return np.repeat(a, self.r, axis=axis)


class GroupSum:
    """out[i] = sum_{j < r} in[i r + j]: Repeat's transpose (size_in n r -> size_out n)."""

    def __init__(self, r, n):
        self.r, self.size_in, self.size_out = r, n * r, n

    @property
    def T(self):
        return Repeat(self.r, self.size_out)

    def apply(self, a, axis):
        b, _, after = _three_d(a, axis).shape
        parts = a.reshape(b, self.size_out, self.r, after)
        # r strided adds of whole slabs: a reduction over a short inner axis is slow in numpy
        out = parts[:, :, 0] + parts[:, :, 1] if self.r > 1 else parts[:, :, 0].copy()
        for j in range(2, self.r):
            out += parts[:, :, j]
        return out.reshape(_resized_shape(a, axis, self.size_out))


class Gather:
    """out[o] = in[index[o]], ``index`` (size_out,) non-decreasing in [0, n)."""

    def __init__(self, index, n):
        self.index, self.size_in, self.size_out = index, n, index.size

    @property
    def T(self):
        return Scatter(self.index, self.size_in)

    def apply(self, a, axis):
        even = _evenly_spaced(self.index)
        if even is not None:         # (a shrink by an integer factor): a strided copy
            return a[_along(axis, even)].copy()
        return np.take(a, self.index, axis=axis)


class Scatter:
    """out[i] = sum of in[o] over the o with index[o] = i (zero where none): Gather's
    transpose, ``index`` (size_in,) non-decreasing, so that each i's inputs are a run."""

    def __init__(self, index, n):
        self.index, self.size_in, self.size_out = index, index.size, n
        self._matrix = None

    @property
    def T(self):
        return Gather(self.index, self.size_out)

    def apply(self, a, axis):
        index = self.index
        even = _evenly_spaced(index)
        if even is not None:         # each input once: a strided copy into zeros
            out = np.zeros(_resized_shape(a, axis, self.size_out), a.dtype)
            out[_along(axis, even)] = a
            return out
        if _is_finite(a):
            # numpy's fancy assignment and reduceat are slow along an axis: a product with
            # the 0/1 matrix instead (each output sums the same values, in another order)
            if self._matrix is None:
                self._matrix = Banded([(index, np.ones(index.size))], self.size_out,
                                      index.size, transposed=True)
            return self._matrix.dense(a, axis)
        return self.runs(a, axis)

    def runs(self, a, axis):
        """The exact sums, run by run (the path of arrays holding inf or NaN)."""
        index = self.index
        starts = np.flatnonzero(np.concatenate(([True], index[1:] != index[:-1])))
        summed = a.copy() if starts.size == index.size else np.add.reduceat(a, starts, axis)
        if starts.size == self.size_out:          # every output reached: they are in order
            return summed
        out = np.zeros(_resized_shape(a, axis, self.size_out), a.dtype)
        out[_along(axis, index[starts])] = summed
        return out


class SeparableResize(Function):
    """a -> the axis maps ``maps`` ((axis, map), ...) applied in turn; a float32/float64
    numpy array (N, C, *spatial) of any layout in, a new C-contiguous one out.  Linear in a:
    the gradient is the transposed maps applied to g in reverse order -- of ``grad_maps``
    when given (PyTorch's backward kernels of some modes are not their forward's transpose;
    the gradient's own gradient is then the forward's maps again)."""

    def forward(self, a, *, maps, grad_maps=None):
        self.maps = maps
        self.grad_maps = maps if grad_maps is None else grad_maps
        if not maps:
            return np.array(a, order="C")                # a copy, never the input itself
        a = np.ascontiguousarray(a)
        for axis, m in maps:
            a = m.apply(a, axis)
        return np.ascontiguousarray(a)

    def backward(self, g):
        def transposed(maps):
            return tuple((axis, m.T) for axis, m in reversed(maps))
        if self.grad_maps is self.maps:
            return SeparableResize.apply(g, maps=transposed(self.maps))
        return SeparableResize.apply(g, maps=transposed(self.grad_maps),
                                     grad_maps=transposed(self.maps))


def nearest_map(index, n):
    """The map of nearest's ``index`` (n_out,) into n inputs: Repeat where it is o // r."""
    r = index.size // n
    if r > 1 and r * n == index.size and np.array_equal(index, np.arange(index.size) // r):
        return Repeat(r, n)
    return Gather(index, n)
