"""The numpy kernels of minigrad's sparse COO tensors, as autograd Functions on the values.

A COO tensor is ``indices`` (sparse_dim, nnz) int64 and ``values`` (nnz, *dense_dims). Every
op here is linear in the values, so the gradient each one sends to a value is the output's
gradient read at that value's position. Sums over repeated positions (coalescing, a product
row) sort once and add runs of equal keys (``np.add.reduceat``, batched ``matmul`` for
products): no Python loop over rows or nonzeros, no unbuffered ``np.add.at``.
"""
from __future__ import annotations

import numpy as np

from .autograd import Function
from .autograd.grad_mode import _state as _grad_state
from .tensor import Tensor

__all__ = ["linear_index", "runs", "Coalesce", "SparseSum", "ToDense", "SparseAddmm",
           "SparseCooTensorWithDimsAndTensors", "CatValues", "SparseSoftmax", "SparseLogSoftmax"]


def linear_index(indices, sizes):
    """Row-major position of each nonzero among the sparse dims (int64, nnz)."""
    if indices.shape[0] == 0:
        return np.zeros(indices.shape[1], np.int64)
    return np.ravel_multi_index(tuple(indices), tuple(sizes)) if indices.shape[1] else \
        np.zeros(0, np.int64)


def runs(keys):
    """For sorted ``keys``: where each run of equal keys starts, and its key."""
    if keys.size == 0:
        return np.zeros(0, np.int64), keys
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    return starts, keys[starts]


def _segment_sum(values, order, starts):
    """Sum of ``values[order]`` over each run that begins at ``starts``."""
    if starts.size == 0:
        return np.zeros((0,) + values.shape[1:], values.dtype)
    picked = values if order is None else values[order]
    return np.add.reduceat(picked, starts, axis=0)


class Coalesce(Function):
    """values (nnz, *d) -> (runs, *d): ``values[order]`` summed over runs (coalesce, sums).
    Backward: each value gets its run's gradient."""
    first_order_only = True

    def forward(self, values, order=None, starts=None):
        self._order, self._starts, self._n = order, starts, values.shape[0]
        return _segment_sum(values, order, starts)

    def backward(self, g):
        run_of = np.zeros(self._n, np.int64)
        if self._n:
            run_of[self._starts[1:]] = 1
            run_of = np.cumsum(run_of)
        out = np.empty((self._n,) + g.shape[1:], g.dtype)
        if self._order is None:
            out[...] = g[run_of]
        else:
            out[self._order] = g[run_of]
        return out


class SparseSum(Coalesce):
    """``torch.sparse.sum`` over some sparse dims: the same sum of runs, under torch's name."""


class SparseCooTensorWithDimsAndTensors(Function):
    """The values of a new sparse tensor, as given (the node its gradient passes through)."""
    first_order_only = True

    def forward(self, values):
        return values

    def backward(self, g):
        return g


class CatValues(Function):
    """Two value tensors stacked along dim 0 (the nonzeros of a sparse sum)."""
    first_order_only = True

    def forward(self, a, b):
        self._n = a.shape[0]
        return np.concatenate((a, b.astype(a.dtype, copy=False)), axis=0)

    def backward(self, g):
        return g[:self._n], g[self._n:]


class ToDense(Function):
    """values (nnz, *d) -> dense (*sparse_sizes, *d); repeated positions add up."""
    complex_ok = True      # a scatter of the values: linear, no conjugate in backward

    def forward(self, values, lin=None, sizes=None, coalesced=False):
        dense = values.shape[1:]
        flat = np.zeros((int(np.prod(sizes, dtype=np.int64)),) + dense, values.dtype)
        self._lin, self._sizes = lin, sizes
        if coalesced:
            flat[lin] = values
        elif lin.size:
            order = np.argsort(lin, kind="stable")
            starts, keys = runs(lin[order])
            flat[keys] = _segment_sum(values, order, starts)
        return flat.reshape(tuple(sizes) + dense)

    def backward(self, g):
        # a gather of g (a Tensor op), so that a second derivative flows through it
        return g.reshape((-1,) + tuple(g.shape[len(self._sizes):]))[self._lin]


def _csr_product(rows, cols, vals, dense, n_out):
    """Sum over nonzeros k of vals[k] * dense[cols[k]] into row rows[k]: (n_out, p).

    The nonzeros sorted by row; the rows grouped by their count rounded up to a power of
    two, and each group's rows padded to that width (zeros past their end): one batched
    ``matmul`` per group, (r, 1, width) @ (r, width, p), does the sums. At most twice the
    work of the nonzeros themselves, a few groups, no loop over rows (``np.add.reduceat``
    along dim 0 was 5x slower here)."""
    out = np.zeros((n_out, dense.shape[1]), np.result_type(vals, dense))
    if rows.size == 0:
        return out
    if rows.size > 1 and not (rows[1:] >= rows[:-1]).all():
        order = np.argsort(rows, kind="stable")
        rows, cols, vals = rows[order], cols[order], vals[order]
    starts, keys = runs(rows)
    counts = np.diff(np.append(starts, rows.size))
    level = np.ceil(np.log2(counts)).astype(np.int64)
    finite = np.isfinite(dense).all()
    if not finite:      # the padding's weight 0 times an inf would be NaN: pad with a 0 row
        dense = np.concatenate((dense, np.zeros((1, dense.shape[1]), dense.dtype)))
    for lv in np.unique(level):
        group = np.flatnonzero(level == lv)
        width = np.arange(1 << int(lv))
        inside = width < counts[group, None]
        at = np.where(inside, starts[group, None] + width, 0)        # (r, width)
        weights = np.where(inside, vals[at], 0).astype(out.dtype, copy=False)
        src = cols[at] if finite else np.where(inside, cols[at], dense.shape[0] - 1)
        out[keys[group]] = np.matmul(weights[:, None, :], dense[src])[:, 0]
    return out


class SparseAddmm(Function):
    """A 2-d sparse (values at rows, cols; shape n x m) times dense (m, p): (n, p).
    Backward: d dense = S^T g (the same product, rows and cols swapped), d values[k] =
    g[rows[k]] . dense[cols[k]]; both written with differentiable ops, so that a gradient
    of the gradient (a physics loss on a graph Laplacian's product) flows on."""
    saved_for_input = (1, 0)

    def forward(self, values, dense, rows=None, cols=None, n=0):
        self.save_for_backward(values, dense)
        self._rows, self._cols = rows, cols
        return _csr_product(rows, cols, values, dense, n)

    def backward(self, g):
        values, dense = self.saved_tensors
        need_v, need_d = self.needs_input_grad
        m = self._in_meta[1][0][0]
        if not _grad_state.enabled:         # a plain backward: the products on the arrays
            ga = g._array
            return (Tensor._wrap(np.einsum("kp,kp->k", ga[self._rows],
                                           dense._array[self._cols])) if need_v else None,
                    Tensor._wrap(_csr_product(self._cols, self._rows, values._array, ga, m))
                    if need_d else None)
        gv = (g[Tensor._wrap(self._rows)] * dense[Tensor._wrap(self._cols)]).sum(-1) \
            if need_v else None
        gd = SparseAddmm.apply(values, g, rows=self._cols, cols=self._rows, n=m) \
            if need_d else None
        return gv, gd


def _run_of(order, starts, n):
    """Which run each value (in its own order) belongs to."""
    sorted_run = np.zeros(n, np.int64)
    if n:
        sorted_run[starts[1:]] = 1
        sorted_run = np.cumsum(sorted_run)
    run = np.empty(n, np.int64)
    run[order] = sorted_run
    return run


class SparseSoftmax(Function):
    """Softmax of the values over each run (the nonzeros that share every index but the
    softmax dim's; the unspecified entries count as -inf). Backward: y * (g - sum(g * y))."""
    first_order_only = True
    log = False

    def forward(self, values, order=None, starts=None):
        self._order, self._starts = order, starts
        if values.shape[0] == 0:
            self._y = values
            return values.copy()
        run = self._run = _run_of(order, starts, values.shape[0])
        shifted = values - np.maximum.reduceat(values[order], starts, axis=0)[run]
        e = np.exp(shifted)
        total = np.add.reduceat(e[order], starts, axis=0)[run]
        y = self._y = shifted - np.log(total) if self.log else e / total
        return y

    def backward(self, g):
        y = self._y
        if y.shape[0] == 0:
            return g
        if self.log:
            return g - np.exp(y) * np.add.reduceat(g[self._order], self._starts, axis=0)[self._run]
        return y * (g - np.add.reduceat((g * y)[self._order], self._starts, axis=0)[self._run])


class SparseLogSoftmax(SparseSoftmax):
    """log of SparseSoftmax, computed as values - max - log(sum(exp)). Backward:
    g - exp(y) * sum(g)."""
    log = True
