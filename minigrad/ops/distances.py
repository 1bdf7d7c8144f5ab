"""Distances between tensors, with PyTorch's names and arguments: ``cdist`` (pairwise p-norm
distances between rows, the p = 2 case by matrix products where PyTorch takes them), ``dist``
(the p-norm of a difference) and ``row_distances`` (the p-norms of rows, which ``pdist``
shares).

Compositions of differentiable ops (sub, vector_norm, matmul, sqrt, where), so their first
and second derivatives come from those ops.
"""
from __future__ import annotations

import math

from .. import backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import in_float32
from ._util import check_tensor, not_implemented_for, result_dtype, scalar_type_name
from .compare import sign
from .elementwise import add, cast, mul, sub
from .elementary_functions import sqrt
from .norms import vector_norm
from .matmul import matmul
from .movement import mT, unsqueeze
from .stacking import cat
from .pointwise_select import where
from .reduce import sum as sum_
from .fused_matrix_products import _C_TYPE


@in_float32          # one of the ops CPU autocast runs in float32 (its mm path too)
def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """Pairwise p-norm distances between the rows of x1 (*, P, M) and x2 (*, R, M): shape
    (*, P, R), the batch dims broadcast.  p = 0 counts differing coordinates, p = inf takes
    the largest difference.  The gradient is 0 where two rows coincide."""
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):      # (PyTorch checks it first)
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    check_tensor("cdist", x1, "x1")
    check_tensor("cdist", x2, "x2", 2)
    # PyTorch's order: both ranks, the columns, then both dtypes
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    for name, t in (("X1", x1), ("X2", x2)):
        if t._array.dtype.kind not in "fV":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{scalar_type_name(t._array.dtype)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if x1.numel() and x2.numel():
        # no promotion in PyTorch (an empty operand returns before it looks); p = 2 may go by
        # matrix products, which take float16, where its own kernel does not
        by_mm = p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                            compute_mode == "use_mm_for_euclid_dist_if_necessary" and
                            (x1.shape[-2] > 25 or x2.shape[-2] > 25))
        d1, d2 = x1._array.dtype, x2._array.dtype
        if by_mm and d1 != d2:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                               f"{_C_TYPE.get(d1.name, d1.name)} != "
                               f"{_C_TYPE.get(d2.name, d2.name)}")
        if not by_mm and dtypes.reduced_float(d1):
            raise not_implemented_for("cdist", d1)
        if d1 != d2:
            raise RuntimeError(f"expected scalar type {scalar_type_name(d1)} but found "
                               f"{scalar_type_name(d2)}")
        if by_mm:
            return _euclidean_by_mm(x1, x2)
    else:
        # PyTorch returns an empty result, or zeros for no columns, in x1's dtype
        x2 = cast(x2, x1._array.dtype)
        if x1.shape[-1] == 0:
            p = 2.0                   # any p: the norm of nothing (inf has no identity)
    diff = sub(unsqueeze(x1, -2), unsqueeze(x2, -3))          # (*, P, R, M)
    return rename_node(row_distances(diff, p), "CdistBackward0")


def row_distances(diff, p):
    """The p-norms of ``diff`` (*, M) over its last dim, for cdist and pdist.  For p = 0 (a
    count of non-zeros, a step function) a zero that depends on ``diff`` is added, so that the
    gradient is zeros, as PyTorch's distance kernels give it, rather than none, as its norm."""
    if math.isinf(p):
        return _LargestDifference.apply(diff)
    out = vector_norm(diff, p, -1)
    if p == 0:
        never = backend.xp_of(diff._array).zeros(tuple(diff.shape), dtype=bool)
        out = add(out, sum_(where(never, diff, 0.0), -1))
    return out


class _LargestDifference(Function):
    """max |diff| over the last dim (cdist's and pdist's p = inf), with PyTorch's distance
    kernels' gradient: sgn(diff) g at every coordinate whose |diff| is the distance, each
    tied one getting all of g (``vector_norm`` shares g among the ties, as PyTorch's norm
    does); written in ops, so differentiable again."""

    def forward(self, diff):
        xp = backend.xp_of(diff)
        out = xp.abs(diff).max(axis=-1) if diff.shape[-1] else \
            xp.zeros(diff.shape[:-1], diff.dtype)
        self.save_for_backward(diff)
        self.out = out
        return out

    def backward(self, g):
        (diff,) = self.saved_tensors
        a = diff._array
        mask = backend.xp_of(a).abs(a) == self.out[..., None]
        return mul(sign(diff), mul(unsqueeze(g, -1), Tensor._wrap(mask.astype(a.dtype))))


def _euclidean_by_mm(x1, x2):
    """cdist's p = 2 by a matrix product, |a|^2 + |b|^2 - 2 a.b, with no (*, P, R, M)
    difference tensor; rounding below zero is cut to 0, and a zero distance has a zero
    gradient (as the direct way gives it)."""
    sq1, sq2 = sum_(mul(x1, x1), -1, True), sum_(mul(x2, x2), -1, True)     # (*, P | R, 1)
    # one product of [-2 a, |a|^2, 1] and [b, 1, |b|^2]: the three terms summed in one pass,
    # so that a row's distance to itself rounds to (nearly) 0, as PyTorch's
    ones1 = Tensor._wrap(backend.xp_of(x1._array).ones(sq1.shape, sq1._array.dtype))
    ones2 = Tensor._wrap(backend.xp_of(x2._array).ones(sq2.shape, sq2._array.dtype))
    left = cat([mul(x1, -2.0), sq1, ones1], -1)
    right = cat([x2, ones2, sq2], -1)
    squared = matmul(left, mT(right))
    positive = ~(squared._array <= 0)                         # NaN stays NaN
    return where(positive, sqrt(where(positive, squared, 1.0)), 0.0)


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast), over all elements: a 0-d tensor."""
    check_tensor("dist", input)
    check_tensor("dist", other, "other", 2)
    if input._array.dtype.kind == "b" or other._array.dtype.kind == "b":
        sub(input, other)            # PyTorch subtracts first: its refusal of bool tensors
    dtype = result_dtype(input, other)
    if dtype.kind not in "fcV":
        dtypes.refuse_unsigned("add_stub", dtype)     # (its subtraction's refusal first)
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {scalar_type_name(dtype)} instead.")
    return rename_node(vector_norm(sub(cast(input, dtype), cast(other, dtype)), p),
                       "DistBackward0")
