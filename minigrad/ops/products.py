"""Products, with PyTorch's names and arguments: ``kron``, ``cross`` / ``linalg.cross``,
``vdot`` and ``block_diag``; and, importable from here as before they moved out, the fused
"add a product" ops and the distances:

* ``fused_matrix_products.py``: ``addmm``, ``addmv``, ``addr``, ``addbmm``, ``baddbmm``;
* ``addcmul_addcdiv.py``: ``addcmul``, ``addcdiv``, ``addcmul_``, ``addcdiv_``;
* ``distances.py``: ``cdist``, ``dist``, ``row_distances``.

All are compositions of differentiable ops (reshape, mul, roll, dot, pad, cat), so their
first and second derivatives come from those ops.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import (broadcast_shape, check_tensor, normalize_dim, not_implemented_for,
                    python_type_name, result_dtype, scalar_type_name)
from .elementwise import cast, mul, sub
from .contraction import dot
from .movement import reshape
from .movement_copies import pad
from .stacking import cat
from .plumbing import conj_of
from .shaping import roll
# the parts that moved out, importable from here as before
from .addcmul_addcdiv import (_check_factors, _factors_in_common_dtype,  # noqa: F401
                              _in_promoted_dtype, _number_value, _parsed_number, _refuse_bool,
                              _value_first, addcdiv, addcdiv_, addcmul, addcmul_)
from .distances import _euclidean_by_mm, cdist, dist, row_distances  # noqa: F401
from .fused_matrix_products import (_C_TYPE, _addr_scalar, _check_expands,  # noqa: F401
                                    _coefficient, _coefficients, _same_dtype, _scaled_sum,
                                    _unread, addbmm, addmm, addmv, addr, baddbmm)

__all__ = ["addmm", "addmv", "addr", "addbmm", "baddbmm", "addcmul", "addcdiv", "addcmul_",
           "addcdiv_", "kron", "cross",
           "linalg_cross", "cdist", "dist", "vdot", "block_diag"]


def kron(input, other):
    """The Kronecker product: for inputs padded with leading 1s to one number of dims,
    out[i * B + j] = input[i] * other[j] per dim, shape input.shape * other.shape."""
    check_tensor("kron", input)
    check_tensor("kron", other, "other", 2)
    n = max(input.ndim, other.ndim)
    a_shape = (1,) * (n - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (n - other.ndim) + tuple(other.shape)
    a = reshape(input, *[v for s in a_shape for v in (s, 1)])
    b = reshape(other, *[v for s in b_shape for v in (1, s)])
    out = reshape(mul(a, b), *[x * y for x, y in zip(a_shape, b_shape)])
    return rename_node(out, "UnsafeViewBackward0")          # PyTorch's node


def _cross(input, other, dim, name):
    if input.ndim != other.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions.")
    d = normalize_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    shape = broadcast_shape(tuple(input.shape), tuple(other.shape), name)
    # PyTorch's kernel is chosen by input's dtype (none for bool), then checks other's
    if input._array.dtype.kind == "b" or input._array.dtype in dtypes.BAREBONES_UNSIGNED:
        raise not_implemented_for("cross", input._array.dtype)
    if input._array.dtype != other._array.dtype:
        raise RuntimeError(f"expected scalar type {scalar_type_name(input._array.dtype)} but "
                           f"found {scalar_type_name(other._array.dtype)}")
    a, b = input.expand(*shape), other.expand(*shape)
    # out_i = a_(i+1) b_(i+2) - a_(i+2) b_(i+1), indices mod 3
    return sub(mul(roll(a, -1, d), roll(b, -2, d)), mul(roll(a, -2, d), roll(b, -1, d)))


def cross(input, other, dim=None):
    """The 3-d cross product along ``dim`` (default: the first dim of size 3); inputs of one
    dtype and number of dims, broadcast together."""
    check_tensor("cross", input)
    check_tensor("cross", other, "other", 2)
    if dim is None:
        shape = broadcast_shape(tuple(input.shape), tuple(other.shape), "cross")
        sized = [i for i, s in enumerate(shape) if s == 3]
        if not sized:
            raise RuntimeError("no dimension of size 3 in input")
        dim = sized[0]
    return rename_node(_cross(input, other, dim, "linalg.cross"), "LinalgCrossBackward0")


def linalg_cross(input, other, *, dim=-1):
    """``linalg.cross``: the cross product along ``dim`` (default the last)."""
    return rename_node(_cross(input, other, dim, "linalg.cross"), "LinalgCrossBackward0")


def vdot(input, other):
    """sum(conj(input) * other) of two 1-d tensors of one dtype and length (for real tensors
    the same as dot)."""
    if input.ndim == 1 and other.ndim == 1 and input._array.dtype == other._array.dtype and \
            input._array.dtype.kind == "c":       # after dot's checks would pass
        input = conj_of(input)
    return rename_node(dot(input, other), "VdotBackward0")


def block_diag(*tensors):
    """A block-diagonal matrix from 0-d (1x1), 1-d (1xn) and 2-d tensors, in order; the
    promoted dtype, zeros elsewhere."""
    blocks = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{python_type_name(t)}")
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        blocks.append(reshape(t, 1, 1) if t.ndim == 0 else reshape(t, 1, -1) if t.ndim == 1
                      else t)
    if not blocks:
        return Tensor._wrap(np.zeros((1, 0), dtype=dtypes.default_float().np))
    dtype = result_dtype(*tensors)     # a 0-d block promotes as a 0-d tensor does
    width = sum(b.shape[1] for b in blocks)
    rows, left = [], 0
    for b in blocks:
        right = width - left - b.shape[1]
        rows.append(pad(cast(b, dtype), (left, right)))
        left += b.shape[1]
    return rename_node(cat(rows, 0), "BlockDiagBackward0")
