"""Registry entries added in round 7 (tensor functions, part B): the ``*_copy`` and
``*_scatter`` view families, index_put / put, fmax / fmin, rsub, angle, trace, sum_to_size,
fill, constant_pad_nd, gradient, cholesky_inverse, chain_matmul and the deprecated norms.
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

import warnings

import numpy as np

from .opinfo import Sample, register

S = Sample


def _quiet(fn):
    """``fn`` with the deprecation warnings of chain_matmul / frobenius_norm / nuclear_norm
    silenced (both frameworks give them)."""
    def call(lib, *args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(lib, *args, **kwargs)
    return call


# ----------------------------------------------------------------------------------------------
# The *_copy family (ops/view_copies.py): the view's gradient
# ----------------------------------------------------------------------------------------------
register("t_copy", lambda lib, x: lib.t_copy(x),
         lambda g: [S(g.randn(3, 4)), S(g.randn(5), desc="1-d")])
register("transpose_copy", lambda lib, x, a, b: lib.transpose_copy(x, a, b),
         lambda g: [S(g.randn(2, 3, 4), 0, -1)])
register("permute_copy", lambda lib, x, dims: lib.permute_copy(x, dims),
         lambda g: [S(g.randn(2, 3, 4), (2, 0, 1))])
register("diagonal_copy", lambda lib, x, **k: lib.diagonal_copy(x, **k),
         lambda g: [S(g.randn(4, 5)),
                    S(g.randn(2, 4, 5), kwargs={"offset": 1, "dim1": 2, "dim2": 1},
                      desc="offset, swapped dims")])
register("select_copy", lambda lib, x, d, i: lib.select_copy(x, d, i),
         lambda g: [S(g.randn(3, 4), 1, -1), S(g.randn(3, 4, 2), 0, 2)])
register("slice_copy", lambda lib, x, *a: lib.slice_copy(x, *a),
         lambda g: [S(g.randn(5, 4), 0, 1, 4, 2), S(g.randn(3, 6), -1, -4, None, 1),
                    S(g.randn(3, 6), 1, 5, 2, 1, desc="empty")])
register("squeeze_copy", lambda lib, x, *d: lib.squeeze_copy(x, *d),
         lambda g: [S(g.randn(3, 1, 4, 1)), S(g.randn(3, 1, 4, 1), 1, desc="one dim")])
register("unsqueeze_copy", lambda lib, x, d: lib.unsqueeze_copy(x, d),
         lambda g: [S(g.randn(3, 4), 1), S(g.randn(3), -1)])
register("expand_copy", lambda lib, x, size: lib.expand_copy(x, size),
         lambda g: [S(g.randn(3, 1), (2, 3, 4))])
register("view_copy", lambda lib, x, size: lib.view_copy(x, size),
         lambda g: [S(g.randn(3, 4), (2, 6)), S(g.randn(3, 4), (-1,))])
register("unfold_copy", lambda lib, x, d, n, s: lib.unfold_copy(x, d, n, s),
         lambda g: [S(g.randn(3, 7), 1, 3, 2), S(g.randn(6, 2), 0, 2, 1, desc="overlapping")])
register("as_strided_copy", lambda lib, x, size, stride, off: lib.as_strided_copy(x, size,
                                                                                   stride, off),
         lambda g: [S(g.randn(12), (3, 3), (1, 2), 1, desc="overlapping windows")])
register("alias_copy", lambda lib, x: lib.alias_copy(x), lambda g: [S(g.randn(3, 4))])
register("split_copy", lambda lib, x, n, d: lib.split_copy(x, n, d),
         lambda g: [S(g.randn(5, 3), 2, 0), S(g.randn(3, 4), 3, -1)])
register("split_with_sizes_copy", lambda lib, x, sizes, d: lib.split_with_sizes_copy(x, sizes, d),
         lambda g: [S(g.randn(6, 3), [1, 0, 5], 0)])
register("unbind_copy", lambda lib, x, d: lib.unbind_copy(x, d),
         lambda g: [S(g.randn(3, 4), 1)])
register("split_with_sizes", lambda lib, x, sizes, d: x.split_with_sizes(sizes, d),
         lambda g: [S(g.randn(3, 6), [2, 4], 1)])
register("unsafe_split", lambda lib, x, n, d: lib.unsafe_split(x, n, d),
         lambda g: [S(g.randn(5, 2), 2, 0)])
register("unsafe_chunk", lambda lib, x, n, d: x.unsafe_chunk(n, d),
         lambda g: [S(g.randn(2, 5), 3, 1)])


# ----------------------------------------------------------------------------------------------
# The *_scatter family: differentiable in input and src
# ----------------------------------------------------------------------------------------------
register("diagonal_scatter", lambda lib, x, s, *a: lib.diagonal_scatter(x, s, *a),
         lambda g: [S(g.randn(4, 5), g.randn(4)),
                    S(g.randn(4, 5), g.randn(3), -1, desc="below the diagonal"),
                    S(g.randn(2, 3, 4), g.randn(4, 2), 0, 0, 1, desc="batched")])
register("select_scatter", lambda lib, x, s, d, i: lib.select_scatter(x, s, d, i),
         lambda g: [S(g.randn(3, 4), g.randn(4), 0, 1),
                    S(g.randn(3, 4, 2), g.randn(3, 2), 1, -1, desc="middle dim")])
register("slice_scatter", lambda lib, x, s, *a: x.slice_scatter(s, *a),
         lambda g: [S(g.randn(4, 5), g.randn(4, 2), 1, 1, None, 2),
                    S(g.randn(6, 3), g.randn(2, 3), 0, -2, desc="negative start")])
# only src gets a gradient: torch's as_strided_scatter sends input's gradient to the written
# positions instead of the kept ones (its forward is right; see the tests)
register("as_strided_scatter",
         lambda lib, x, s, size, stride, off: lib.as_strided_scatter(x, s, size, stride, off),
         lambda g: [S(g.randn(3, 4), g.randn(2, 2), (2, 2), (4, 1), 1,
                      requires_grad=[False, True, False, False, False])])


# ----------------------------------------------------------------------------------------------
# index_put / put (ops/index_put.py)
# ----------------------------------------------------------------------------------------------
def _index_put_samples(g):
    for acc in (False, True):
        yield S(g.randn(4, 3), np.array([0, 2, 3]), np.array([1, 1, 0]), g.randn(3),
                kwargs={"accumulate": acc}, desc=f"two index tensors, accumulate={acc}")
        yield S(g.randn(4, 3), np.array([[1], [3]]), None, g.randn(1, 3),
                kwargs={"accumulate": acc}, desc=f"rows, accumulate={acc}")
    yield S(g.randn(4, 3), np.array([2, 0, 2, 2]), None, g.randn(4, 3),
            kwargs={"accumulate": True}, desc="repeated rows add")
    yield S(g.randn(3, 4), g.mask(3, 4), None, g.randn(1),
            kwargs={"accumulate": False}, desc="bool mask, broadcast value")


def _index_put(lib, x, i, j, v, accumulate):
    indices = (i,) if j is None else (i, j)
    return lib.index_put(x, indices, v, accumulate=accumulate)


def _index_put_inplace(lib, x, i, j, v, accumulate):
    y = x * 1.0
    y.index_put_((i,) if j is None else (i, j), v, accumulate=accumulate)
    return y


register("index_put", _index_put, _index_put_samples)
register("index_put_", _index_put_inplace, _index_put_samples)


def _put_samples(g):
    yield S(g.randn(3, 4), np.array([0, -1, 5]), g.randn(3), kwargs={"accumulate": False})
    yield S(g.randn(3, 4), np.array([[1, 1], [7, 1]]), g.randn(2, 2),
            kwargs={"accumulate": True}, desc="repeated positions add")


register("put", lambda lib, x, i, s, accumulate: x.put(i, s, accumulate=accumulate),
         _put_samples)


def _put_inplace(lib, x, i, s, accumulate):
    y = x * 1.0
    y.put_(i, s, accumulate=accumulate)
    return y


register("put_", _put_inplace, _put_samples)


# ----------------------------------------------------------------------------------------------
# Pointwise (ops/pointwise_round7.py)
# ----------------------------------------------------------------------------------------------
register("rsub", lambda lib, x, y, **k: lib.rsub(x, y, **k),
         lambda g: [S(g.randn(3, 4), g.randn(4)),
                    S(g.randn(2, 3), 1.5, kwargs={"alpha": 2.0}, desc="number, alpha")])


def _nan_ignoring_samples(g):
    a, b = g.distinct(3, 4), g.distinct(3, 4)
    yield S(a, b)
    yield S(g.distinct(3, 1), g.distinct(4), desc="broadcast")
    with_nan = g.distinct(2, 3)
    with_nan[0, 1] = np.nan
    other = g.distinct(2, 3)
    other[1, 2] = np.nan
    yield S(with_nan, other, fd=False, desc="NaN on either side")


register("fmax", lambda lib, x, y: lib.fmax(x, y), _nan_ignoring_samples)
register("fmin", lambda lib, x, y: x.fmin(y), _nan_ignoring_samples)
register("angle", lambda lib, x: lib.angle(x) + x,
         lambda g: [S(g.away(3, 4), desc="plus x, to see a gradient")])
register("fill", lambda lib, x, v: lib.fill(x, v) * x,
         lambda g: [S(g.randn(3, 4), g.randn(), desc="0-d tensor value")])


# ----------------------------------------------------------------------------------------------
# Matrices and reductions (ops/matrix_round7.py)
# ----------------------------------------------------------------------------------------------
register("trace", lambda lib, x: lib.trace(x),
         lambda g: [S(g.randn(3, 3)), S(g.randn(2, 4), desc="wide")])
register("sum_to_size", lambda lib, x, *size: x.sum_to_size(*size),
         lambda g: [S(g.randn(3, 4), 1, 4), S(g.randn(2, 3, 4), (3, 1), desc="a tuple")])


def _factor(g, *shape):
    """Lower-triangular factors with a diagonal well away from zero."""
    n = shape[-1]
    return np.tril(g.randn(*shape)) * 0.3 + np.eye(n) * g.pos(*shape[:-1], 1, low=1.0, high=2.0)


# the factor's triangle taken inside, as PyTorch's own gradcheck wraps this op: the function
# reads only that triangle, while its derivative formula does not mask the other one
register("cholesky_inverse",
         lambda lib, x, **k: lib.cholesky_inverse(lib.triu(x) if k.get("upper") else lib.tril(x),
                                                  **k),
         lambda g: [S(_factor(g, 3, 3)),
                    S(np.swapaxes(_factor(g, 2, 3, 3), -1, -2).copy(), kwargs={"upper": True},
                      desc="batched, upper")],
         fd=True)
register("chain_matmul", _quiet(lambda lib, a, b, c: lib.chain_matmul(a, b, c)),
         lambda g: [S(g.randn(2, 3), g.randn(3, 4), g.randn(4, 2))])
register("frobenius_norm", _quiet(lambda lib, x, d, **k: lib.frobenius_norm(x, d, **k)),
         lambda g: [S(g.randn(3, 4), (0, 1)),
                    S(g.randn(2, 3, 4), 1, kwargs={"keepdim": True}, desc="one dim, keepdim")])
register("nuclear_norm", _quiet(lambda lib, x, *a: lib.nuclear_norm(x, *a)),
         lambda g: [S(g.randn(3, 4)), S(g.randn(4, 2, 3), (0, 2), desc="given dims")])


# ----------------------------------------------------------------------------------------------
# Shapes and grids (ops/view_copies.py, ops/numeric_grid.py)
# ----------------------------------------------------------------------------------------------
register("constant_pad_nd", lambda lib, x, pad, *v: lib.constant_pad_nd(x, pad, *v),
         lambda g: [S(g.randn(3, 4), [1, 2]),
                    S(g.randn(3, 4), [2, -1, -1, 1], 0.5, desc="crop and pad")])


def _gradient(lib, f, *coordinates, **kwargs):
    if coordinates:
        kwargs["spacing"] = list(coordinates)
    return lib.gradient(f, **kwargs)


def _gradient_samples(g):
    for order in (1, 2):
        yield S(g.randn(4, 5), kwargs={"edge_order": order}, desc=f"edge_order={order}")
        yield S(g.randn(4, 5), kwargs={"spacing": 0.5, "dim": 1, "edge_order": order},
                desc=f"scalar spacing, edge_order={order}")
        yield S(g.randn(4, 5), np.cumsum(g.pos(5)), kwargs={"dim": [1], "edge_order": order},
                desc=f"coordinates, edge_order={order}")


register("gradient", _gradient, _gradient_samples)


# ----------------------------------------------------------------------------------------------
# The deprecated out-of-place resize (_removed_api.py): PyTorch's autograd Resize, a reshape
# that keeps the element count (both frameworks warn)
# ----------------------------------------------------------------------------------------------
register("Tensor.resize", _quiet(lambda lib, x, *size: x.resize(*size)),
         lambda g: [S(g.randn(2, 3), 3, 2), S(g.randn(4), 2, 1, 2, desc="more dims"),
                    S(g.randn(3, 4).T, 12, desc="non-contiguous: a copy")])
register("Tensor.resize_as", _quiet(lambda lib, x, y: x.resize_as(y)),
         lambda g: [S(g.randn(2, 3), g.randn(6), desc="the other's shape")])
