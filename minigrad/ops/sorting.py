"""Ordering and running totals: ``sort``, ``argsort``, ``topk``, ``cumsum``, ``cumprod``.

``sort`` and ``topk`` find the order with numpy (no gradient: indices are integers) and take
the values with ``gather`` at those indices, so their gradient is a scatter of ``g`` back to
where each value came from, and its own derivative a gather: any order, for free.

``cumsum`` is a Function whose backward is a *reversed* cumsum (the gradient of x_j collects
g_i for every i >= j), itself a ``CumSum`` with ``reverse=True``: the pair is closed under
differentiation.  ``cumprod`` is ``CumProd``: its backward is revcumsum(g * out) / x, written
in ops, where the input has no zero; with a zero that division is undefined, and the gradient
is PyTorch's: on the first-order path computed on arrays as its kernel does (the elements after
a slice's first zero get 0, whatever inf or NaN the others hold), under ``create_graph`` from
the products of the others over the lower triangle (x_j for j <= i, else 1), which costs n
times the memory but is differentiable again.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..autograd._node_names import rename_node
from ..autograd.function import keep_for_backward
from ..tensor import Tensor
from . import _scan_blocks as scan_blocks, _top_buckets as top_buckets
from ._util import (bool_arg, c_order, check_tensor, ieee_errors, int_arg, normalize_dim,
                    not_implemented_for, sort_keys)
from .elementwise import cast, mul
from .division import div
from .pointwise_select import where
from .plumbing import conj_of, expand_to, reshape_to, written_as_real
from .movement_copies import clone
from .shaping import movedim
from .extrema import MaxResult
from .reduce import check_grad_dtype, products_of_others_graph, sum as reduce_sum
from .scatter_gather import Gather

from ._tie_order import unstable_order, unstable_top

__all__ = ["sort", "argsort", "msort", "topk", "cumsum", "cumprod"]


def _order(a, dim, descending, stable=True):
    """argsort of the array ``a`` along ``dim``; NaN counts as the largest value (PyTorch)."""
    xp = backend.xp_of(a)
    a = sort_keys(a)
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")        # numpy sorts NaN last too
    if a.dtype.kind == "b":
        a = a.astype(xp.int8)
    if a.dtype.kind not in "fV":
        # ~x = -x - 1 (max - x unsigned): decreasing, with no overflow at the type's minimum
        return xp.argsort(~a, axis=dim, kind="stable")
    nan = xp.isnan(a)
    order = xp.argsort(xp.where(nan, -xp.inf, -a), axis=dim, kind="stable")
    if not nan.any():
        return order
    # NaN first, then +inf: a second stable pass moves the NaN (tied with -inf's key, which
    # +inf also has) ahead, each group keeping its order
    first = xp.argsort(~xp.take_along_axis(nan, order, axis=dim), axis=dim, kind="stable")
    return xp.take_along_axis(order, first, axis=dim)


def _check_dim(a, dim):
    return normalize_dim(dim, max(a.ndim, 1))


def _refuse_complex(a, name):
    """PyTorch's refusal to order complex numbers (they have no order)."""
    if a._array.dtype.kind == "c":
        raise RuntimeError(f" {name} does not support complex dtypes on CPU")


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) of ``input`` sorted along ``dim`` (ties keep their order when
    ``stable``, else come in the order PyTorch's unstable sort gives them)."""
    check_tensor("sort", input)
    descending = bool_arg("sort", "descending", descending)
    if stable is not False and stable is not None:
        bool_arg("sort", "stable", stable)
    d = _check_dim(input, dim)
    _refuse_complex(input, "Sort")              # (after the dim's check, as PyTorch)
    if input.ndim == 0:             # (a new tensor, as PyTorch's, not input itself)
        return MaxResult(rename_node(clone(input), "SortBackward0"),
                         Tensor._wrap(backend.xp_of(input._array).zeros((), "int64")), "sort")
    idx = Tensor._wrap(_sorted_order(input._array, d, descending, bool(stable)))
    if input._array.dtype in dtypes.BAREBONES_UNSIGNED:
        # PyTorch sorts uint16/32/64 but has no gather for them; they carry no gradient
        values = Tensor._wrap(backend.xp_of(idx._array).take_along_axis(input._array,
                                                                        idx._array, axis=d))
    else:
        values = rename_node(_gather_own(input, d, idx), "SortBackward0")
    values._array = mf.pointwise_result(values._array, input._array)    # gather's is row-major
    return MaxResult(values, idx, "sort")


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim``."""
    check_tensor("argsort", input)
    descending = bool_arg("argsort", "descending", descending)
    d = _check_dim(input, dim)
    _refuse_complex(input, "Sort")              # (after the dim's check, as PyTorch)
    if input.ndim == 0:
        return Tensor._wrap(backend.xp_of(input._array).zeros((), "int64"))
    return Tensor._wrap(_sorted_order(input._array, d, descending, bool(stable)))


def _sorted_order(a, dim, descending, stable=True):
    """The int64 indices that sort ``a`` along ``dim``, laid out as ``a`` is (PyTorch sorts a
    channels-last or transposed tensor into one laid out alike; the values, gathered at these
    indices, follow). Not ``stable``: ties in the order PyTorch's introsort leaves them."""
    order = _order(a, dim, descending)
    if not stable:
        order = unstable_order(sort_keys(a), dim, descending, order)
    return mf.pointwise_result(order.astype("int64"), a)


def msort(input):
    return sort(input, 0)[0]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``."""
    check_tensor("topk", input)
    k = int_arg("topk", "k", k, 2)
    largest = bool_arg("topk", "largest", largest)
    sorted = bool_arg("topk", "sorted", sorted)
    d = _check_dim(input, dim)
    size = input.shape[d] if input.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"selected index k out of range (k={k}, dimension {d} has size "
                           f"{size})")
    _refuse_complex(input, "topk")              # (after the dim's and k's checks)
    if input._array.dtype.kind == "b":
        # PyTorch's CPU kernel has no bool version (sort and argsort do)
        raise RuntimeError("topk does not support bool dtypes on CPU")
    if input.ndim == 0:             # (a new tensor, as PyTorch's, not input itself)
        return MaxResult(rename_node(clone(input), "TopkBackward0"),
                         Tensor._wrap(backend.xp_of(input._array).zeros((), "int64")), "topk")
    dtypes.refuse_unsigned("topk_cpu", input._array.dtype)
    top = _top_order(input._array, k, d, largest)
    if top is None:
        order = _order(input._array, d, descending=largest)
        top = order[(slice(None),) * d + (slice(0, k),)]     # (copied below, row-major)
    top = unstable_top(sort_keys(input._array), k, d, largest, sorted, top)   # (ties)
    idx = Tensor._wrap(top.astype("int64", order="C"))
    return MaxResult(rename_node(_gather_own(input, d, idx), "TopkBackward0"), idx, "topk")


def _gather_own(input, d, idx):
    """``gather(input, d, idx)`` for indices made here (in range, int64, input's number of
    dims): the node itself, without gather's checks of the index (a third of a small topk)."""
    return keep_for_backward(Gather.apply(input, index=idx._array, dim=d), idx)


# topk partitions instead of sorting when k is at most this fraction of the dim: a full
# stable argsort of 256x1024 float32 took 18 ms, the partition and a sort of the k kept 1.5
_TOP_FRACTION = 4
_TOP_MIN_SIZE = 64


def _top_order(a, k, dim, largest):
    """The first ``k`` indices of the stable order along ``dim`` (``_order``), found by
    partitioning: a (..., n, ...) -> (..., k, ...) int, or None where the full sort is used
    instead (cupy, few or many of n wanted, NaN present, not a number dtype).

    The k-th best value v splits each row: the elements at least as good as v are kept --
    exactly k unless ties of v reach past the k-th place; then the strictly better ones
    and the first tied ones in index order (as the stable sort keeps them).  The kept
    ones, in index order, are then sorted stably by value, so ties keep that order too::

        x (..., n) --partition--> v (..., 1) --x >= v--> keep (..., n) --> pos (..., k)
    """
    n = a.shape[dim]
    if type(a) is not np.ndarray or a.dtype.kind not in "fiu" or k == 0 or \
            k * _TOP_FRACTION > n or n < _TOP_MIN_SIZE or a.size == 0:
        return None
    x = np.moveaxis(a, dim, -1)
    if top_buckets.fits(n, k):
        # a few of long rows: only the numbers past a threshold sorted (_top_buckets)
        pos = top_buckets.top_positions(x.reshape(-1, n), k, largest)
        if pos is not None:
            return np.moveaxis(pos.reshape(x.shape[:-1] + (k,)), -1, dim)
    j = n - k if largest else k - 1            # the k-th best's place in ascending order
    part = np.partition(x, j, axis=-1)
    if a.dtype.kind == "f" and np.isnan(part[..., -1]).any():   # (NaN goes to the end)
        return None
    v = part[..., j:j + 1]
    del part
    keep = x >= v if largest else x <= v
    if (np.count_nonzero(keep, axis=-1) != k).any():   # ties of v past the k-th place
        better = x > v if largest else x < v
        need = k - np.count_nonzero(better, axis=-1, keepdims=True)
        keep &= ~better                                  # the ties of v ...
        keep &= np.cumsum(keep, axis=-1) <= need         # ... the first ``need`` of them
        keep |= better
    pos = (np.flatnonzero(keep) % n).reshape(x.shape[:-1] + (k,))   # k per row, in order
    kept = np.take_along_axis(x, pos, axis=-1)
    # best first, ties in index order: a stable sort of the key (-x exact for floats,
    # ~x = -x - 1 for integers, where -x of the most negative one would wrap)
    key = kept if not largest else -kept if a.dtype.kind == "f" else ~kept
    sub = np.argsort(key, axis=-1, kind="stable")
    return np.moveaxis(np.take_along_axis(pos, sub, axis=-1), -1, dim)


# ----------------------------------------------------------------------------------------------
# Running sums and products
# ----------------------------------------------------------------------------------------------
def _accumulator(a):
    """The dtype a running sum or product of ``a`` is kept in: float32 for float16 (as
    PyTorch, whose running float16 sum of 3000 ones is 3000, not float16's stuck 2048)."""
    return np.float32 if a.dtype == np.float16 else a.dtype


def _in_half(out, a):
    """A running result back in ``a``'s dtype (past float16's range is inf, silently)."""
    if out.dtype == a.dtype:
        return out
    with np.errstate(over="ignore"):
        return out.astype(a.dtype)


# a running sum along an earlier dim runs slice by slice when each slice has at least this
# many numbers: one vectorised add per slice (~1.5 us of call) beats numpy's accumulate,
# which walks a non-last axis at ~10 ns a number (256x1024 float32 along dim 0: 0.4 ms
# instead of 2.7)
_SLICES_FROM = 256
# a running sum along the last dim goes through the accumulator this many numbers at a time
_ROW_BLOCK = 1 << 17
_WIDER = {"f": np.float64, "F": np.complex128}      # float32, complex64: PyTorch's acc types


def _running_sum(a, dim, reverse):
    """The running sum of numpy ``a`` along ``dim`` (from the end when ``reverse``), kept as
    PyTorch's CPU kernel keeps it: float32 (complex64) in float64 (complex128), each sum
    rounded once, float16 in float32, other dtypes in their own; the result C-contiguous, in
    a's dtype. Along the last dim, float32 rows by chunks whose running sums are matrix
    products (``_scan_blocks``: 2x numpy's cumsum), other rows by numpy's cumsum on a copy in
    the accumulator's dtype (summing float32 into a float64 result element by element ran
    3x slower); along an earlier one, slice by slice (``_SLICES_FROM``)."""
    acc_type = _WIDER.get(a.dtype.char) or _accumulator(a)
    src = np.flip(a, dim) if reverse else a
    out = np.empty(a.shape, a.dtype)
    dst = np.flip(out, dim) if reverse else out                 # written in src's order
    lead = (slice(None),) * dim
    with np.errstate(over="ignore"):            # float16 past its range: inf, silently
        if dim < a.ndim - 1 and a.size // max(a.shape[dim], 1) >= _SLICES_FROM:
            acc = np.zeros(a.shape[:dim] + a.shape[dim + 1:], acc_type)
            for i in range(a.shape[dim]):
                np.add(acc, src[lead + (i,)], out=acc)
                dst[lead + (i,)] = acc
            return out
        n = a.shape[dim]
        if dim == a.ndim - 1 and scan_blocks.fits(a, n):
            # float32 rows by chunks, their running sums as matrix products (_scan_blocks)
            scan_blocks.running_sum_rows(a.reshape(-1, n), out.reshape(-1, n), reverse)
            return out
        if dim == a.ndim - 1 and n and a.size > _ROW_BLOCK:
            # rows a block at a time through one accumulator buffer that stays in cache
            # (the same sums, each row on its own; 1.4x faster than whole-array passes)
            rows, dst_rows = src.reshape(-1, n), out.reshape(-1, n)   # out: C order, a view
            if reverse:
                dst_rows = dst_rows[:, ::-1]
            step = max(1, _ROW_BLOCK // n)
            buf = np.empty((min(step, rows.shape[0]), n), acc_type)
            for i in range(0, rows.shape[0], step):
                wide = buf[:min(step, rows.shape[0] - i)]
                wide[...] = rows[i:i + step]
                wide[:, 0] += 0
                np.cumsum(wide, axis=1, out=wide)
                dst_rows[i:i + step] = wide
            return out
        wide = src.astype(acc_type)
        if n:
            wide[lead + (0,)] += 0      # sums start from +0, as PyTorch's: -0.0 gives 0.0
        np.cumsum(wide, axis=dim, out=wide)
        dst[...] = wide
    return out


def _running_product(a, dim):
    """The running product of numpy ``a`` along ``dim``, kept as PyTorch's CPU kernel keeps
    it (the accumulators of ``_running_sum``: float32 in float64, complex64 in complex128,
    float16 in float32), C-contiguous in a's dtype. Long float32 rows by chunks
    (``_scan_blocks``: ~2x numpy's cumprod); an earlier dim slice by slice (``_SLICES_FROM``);
    the rest by numpy's cumprod in the accumulator's dtype."""
    acc_type = _WIDER.get(a.dtype.char) or _accumulator(a)
    n = a.shape[dim]
    with np.errstate(all="ignore"):             # (overflow: inf, silently, as PyTorch)
        if dim == a.ndim - 1 and scan_blocks.fits_product(a, n):
            out = np.empty(a.shape, a.dtype)
            scan_blocks.running_product_rows(a.reshape(-1, n), out.reshape(-1, n))
            return out
        if dim < a.ndim - 1 and a.size // max(n, 1) >= _SLICES_FROM:
            out = np.empty(a.shape, a.dtype)
            lead = (slice(None),) * dim
            acc = a[lead + (0,)].astype(acc_type)
            out[lead + (0,)] = acc
            for i in range(1, n):
                np.multiply(acc, a[lead + (i,)], out=acc)
                out[lead + (i,)] = acc
            return out
        return c_order(_in_half(np.cumprod(a, axis=dim, dtype=acc_type), a))


class CumSum(Function):
    """out_i = sum_{j <= i} a_j along ``dim`` (``reverse``: sum_{j >= i})."""
    _node_name = "CumsumBackward0"                          # PyTorch's spelling
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, *, dim, reverse=False):
        self.dim, self.reverse = dim, reverse
        xp = backend.xp_of(a)
        if xp is np and type(a) is np.ndarray:
            return _running_sum(a, dim, reverse)
        if not reverse:
            return c_order(_in_half(xp.cumsum(a, axis=dim, dtype=_accumulator(a)), a))
        return xp.flip(_in_half(xp.cumsum(xp.flip(a, dim), axis=dim, dtype=_accumulator(a)),
                                a), dim)

    def backward(self, g):
        # a_j is in every out_i with i >= j (forward) or i <= j (reverse)
        return CumSum.apply(g, dim=self.dim, reverse=not self.reverse)


class CumProd(Function):
    """out_i = prod_{j <= i} a_j along ``dim``, for an input without zeros."""
    _node_name = "CumprodBackward0"                         # PyTorch's spelling
    complex_ok = True

    def forward(self, a, *, dim):
        self.dim = dim
        xp = backend.xp_of(a)
        if xp is np and type(a) is np.ndarray:
            out = _running_product(a, dim)
        else:
            out = c_order(_in_half(xp.cumprod(a, axis=dim, dtype=_accumulator(a)), a))
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        # d out_i / d a_j = out_i / a_j for i >= j: a reversed cumsum of g * out, over a
        # (conjugated factors for complex input: g * conj(out_i / a_j)); with a zero in the
        # input, PyTorch's two other ways (the first order's, the higher orders')
        a, out = self.saved_tensors
        if bool((a._array == 0).any()):
            if not is_grad_enabled():
                return Tensor._wrap(_cumprod_grad_with_zeros(a._array, out._array, g._array,
                                                             self.dim))
            return _cumprod_grad_graph(a, g, self.dim)
        return div(CumSum.apply(mul(g, conj_of(out)), dim=self.dim, reverse=True), conj_of(a))


def _cumprod_grad_with_zeros(a, out, g, dim):
    """cumprod's first-order gradient for an input with zeros, as PyTorch computes it (arrays):
    before a slice's first zero, the reversed cumulative sum of g * out over a (an inf or NaN
    there reaches them all); at the first zero, the sum over the outputs up to the second zero
    of g times the product of the others; after it, 0 (whatever the others hold)."""
    xp = backend.xp_of(a)
    if a.dtype.kind == "c":
        a, out = a.conj(), out.conj()
    zero = a == 0
    count = xp.cumsum(zero, axis=dim)
    before = count == 0
    with ieee_errors():
        w = xp.where(before, out * g, 0)
        grad = xp.where(before, xp.flip(xp.cumsum(xp.flip(w, dim), axis=dim), dim) / a, 0)
        first = zero & (count == 1)
        between = (count == 1) & ~first             # (z1, z2): the factors after the zero
        run = xp.cumprod(xp.where(between, a, 1), axis=dim)
        total = (run * xp.where(count == 1, g, 0)).sum(axis=dim, keepdims=True)
        # times the product of the elements before the zero: out just before it, 1 at 0
        index = xp.argmax(first, axis=dim)
        index = xp.expand_dims(index, dim)
        lead = xp.take_along_axis(out, xp.maximum(index - 1, 0), axis=dim)
        total = total * xp.where(index == 0, 1, lead)
        grad = xp.where(first, total, grad)
    return grad.astype(a.dtype, copy=False)


def _cumprod_grad_graph(a, g, dim):
    """cumprod's gradient for an input with zeros as ops on tensors (differentiable again):
    sum_{i >= k} g_i * prod_{j <= i, j != k} a_j, from the (..., n, n) triangle of factors
    with the products of the others along its rows."""
    xp = backend.xp_of(a._array)
    n = a.shape[dim]
    moved = movedim(a, dim, -1)
    lead = tuple(moved.shape[:-1])
    rows = expand_to(reshape_to(moved, lead + (1, n)), lead + (n, n))
    lower = xp.arange(n)[None, :] <= xp.arange(n)[:, None]       # [i, j]: j <= i
    others = products_of_others_graph(where(lower, rows, 1.0), len(lead) + 1)
    weights = reshape_to(movedim(g, dim, -1), lead + (n, 1))
    grad = reduce_sum(mul(weights, conj_of(where(lower, others, 0.0))), len(lead))
    return movedim(grad, -1, dim)


def _running(input, dim, dtype, name):
    check_tensor(name, input)
    d = _check_dim(input, dim)                  # (PyTorch reads the dim before the dtype)
    if dtype is not None:
        target = dtypes.to_dtype(dtype)
        if target.np.kind != "b" or input.ndim == 0 or input._array.size == 0:
            # a bool scan of elements is refused by its missing kernel first, below
            check_grad_dtype(input, target)
        if input._array.dtype.kind == "c" and target.np.kind != "c":
            # a complex input converted as .to(dtype) does: its real part (with PyTorch's
            # warning), or for bool whether either part is nonzero
            input = written_as_real(input, target.np.kind)
        input = cast(input, target)
    elif input._array.dtype.kind in "bui":        # integers and bools accumulate in int64
        input = cast(input, dtypes.int64)
    return input, d


def _unscanned(input):
    """The running sum or product of a 0-d or empty ``input`` (already in the asked dtype):
    a copy of it, even a bool one (PyTorch runs no kernel, which would refuse bool)."""
    if input._array.dtype.kind == "b":
        return Tensor._wrap(input._array.copy())
    return input * 1


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``."""
    input, d = _running(input, dim, dtype, "cumsum")
    if input.ndim == 0 or input._array.size == 0:
        return _unscanned(input)
    if input._array.dtype.kind == "b":          # dtype=bool asked for: no such kernel
        raise not_implemented_for("cumsum_out_cpu", input._array.dtype)
    dtypes.refuse_unsigned("cumsum_out_cpu", input._array.dtype)     # dtype=uint16... asked
    return CumSum.apply(input, dim=d)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (exact gradients with zeros in the input too)."""
    input, d = _running(input, dim, dtype, "cumprod")
    if input.ndim == 0 or input._array.size == 0:
        return _unscanned(input)
    if input._array.dtype.kind == "b":          # dtype=bool asked for: no such kernel
        raise not_implemented_for("cumprod_out_cpu", input._array.dtype)
    dtypes.refuse_unsigned("cumprod_out_cpu", input._array.dtype)
    return CumProd.apply(input, dim=d)
