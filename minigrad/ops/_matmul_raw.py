"""The gradients of a product of matrices and of ``linear`` computed on numpy arrays at
once, for the backwards of ``MatMul`` and ``Linear`` (ops/matmul.py, ops/linear.py) when
nothing is to be recorded: the same products and sums their ops would compute, without an
apply each."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import function as _function
from ..autograd._forward_numerics import _quiet_enter as quiet_enter, _quiet_exit as quiet_exit
# (quiet_enter/quiet_exit: inf * 0 in a product, an overflowing sum silent, as in apply)
from ..autograd.grad_mode import _state as _grad_state
from ..tensor import Tensor
from ._util import FLOAT32_64 as _FLOATS, c_order

__all__ = ["raw_grads_ok", "raw_matmul_grads", "raw_linear_grads"]


def raw_grads_ok(g, saved):
    """May a backward compute its gradients on the numpy arrays at once instead of through
    ops (``MatMul.apply``, a transpose, a sum), each an apply of a few microseconds on small
    tensors? Only where those ops would record nothing and compute the same numbers: grad
    mode off (no create_graph), no profiler timing ops, and the gradient ``g`` and each saved
    factor in ``saved`` (None: not kept) dense numpy float32/float64 arrays (float16 and
    bfloat16 run widened inside apply)."""
    if _grad_state.enabled or _function._profiler is not None or g.is_sparse or \
            g.is_sparse_csr:
        return False
    a = g._array
    if type(a) is not np.ndarray or a.dtype not in _FLOATS:
        return False
    for t in saved:
        if t is not None:
            a = t._array
            if type(a) is not np.ndarray or a.dtype not in _FLOATS:
                return False
    return True


def raw_matmul_grads(g, a, b, need_a, need_b, col_a=False, col_b=False):
    """``MatMul.backward``'s gradients for two matrices a (n, k), b (k, m) and g (n, m) (see
    ``raw_grads_ok``): g b^T (n, k) and a^T g (k, m), as Tensors (None where not needed);
    ``col_a``/``col_b``: that operand was column-major, its gradient is made so too
    (computed transposed), as PyTorch's."""
    token = quiet_enter()
    try:
        ga = gb = None
        if need_a:
            ga = Tensor._wrap(backend.matmul(b._array, g.T).T if col_a else
                              backend.matmul(g, b._array.T))
        if need_b:
            gb = Tensor._wrap(backend.matmul(g.T, a._array).T if col_b else
                              backend.matmul(a._array.T, g))
    finally:
        quiet_exit(token)
    return ga, gb


def raw_linear_grads(g, x, w, sx, sw, rows, needs):
    """``Linear.backward``'s gradients on numpy arrays (see ``raw_grads_ok``): the same
    products and sum as its ops compute, without their nodes."""
    token = quiet_enter()
    try:
        g2 = g if g.shape == (rows, sw[0]) else g.reshape(rows, sw[0])      # (B, out)
        gx = gw = gb = None
        if needs[0]:
            gx = backend.matmul(g2, w._array)                                 # (B, in)
            gx = Tensor._wrap(gx if gx.shape == sx else gx.reshape(sx))
        if needs[1]:
            x2 = x._array
            x2 = x2 if x2.shape == (rows, sx[-1]) else x2.reshape(rows, sx[-1])
            gw = Tensor._wrap(backend.matmul(g2.T, x2))                       # (out, in)
        if len(needs) == 2:
            return gx, gw
        if needs[2]:        # as Sum's forward: in g's dtype, laid out row-major
            gb = Tensor._wrap(c_order(g2.sum(axis=(0,), keepdims=False, dtype=g2.dtype), g2))
        return gx, gw, gb
    finally:
        quiet_exit(token)
