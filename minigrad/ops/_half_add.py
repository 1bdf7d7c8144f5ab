"""``add``/``sub`` with an ``alpha`` on float16 and bfloat16 operands, rounded as PyTorch's
CPU kernel rounds them: ``a + alpha * b`` in one float32 expression with alpha rounded to the
half dtype, rounded once (the scalar tail of each loop in the half type itself: see
``_half_rounding.add``), where scaling b first and adding would round twice.
"""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..autograd import Function
from ..tensor import Tensor
from . import _half_rounding
from ._binary_operands import _scalar_or_tensor
from ._util import broadcast_shape, result_dtype
from .plumbing import sum_to
from .writes import apply_inplace

__all__ = ["half_scaled_add", "half_scaled_add_"]

_HALVES = (np.dtype(np.float16), dtypes.BFLOAT16)
_NUMBERS = (int, float, bool)
# the largest finite value of each: an alpha past it is refused by the general path's check
_LARGEST = {np.dtype(np.float16): 65504.0, dtypes.BFLOAT16: 3.3895313892515355e38}


class _ScaledAdd(Function):
    """out = a + alpha * b of two same-dtype half arrays; d/da = 1, d/db = alpha (the
    gradient of b: g * alpha with alpha a float32 number, as PyTorch's mul by a scalar)."""
    saved_fields = {"alpha": lambda node: node.alpha}
    alpha = 1.0

    def forward(self, a, b, *, alpha, dtype):
        # (``dtype`` given: Function.apply passes the half arrays as they are, not widened
        # to float32 and rounded once as it computes other bfloat16 ops)
        self.alpha = alpha
        return _half_rounding.add(a, b, alpha, dtype)

    def backward(self, g):
        (sa, _), (sb, _) = self._in_meta
        # (g * number: the operator's float32-scalar rule for a half g, as PyTorch's mul)
        return (sum_to(g, sa) if self.needs_input_grad[0] else None,
                sum_to(g * self.alpha, sb) if self.needs_input_grad[1] else None)


_ADD = _ScaledAdd.renamed("AddBackward0")
_SUB = _ScaledAdd.renamed("SubBackward0")
_SUB.saved_fields = {"alpha": lambda node: -node.alpha}     # (sub's own alpha, as given)


def _prepared(a, b, alpha, name):
    """(node, a, b, params) for ``a + alpha * b`` ('add') or ``a - alpha * b`` ('sub') when
    the result is float16/bfloat16 on the CPU and alpha is a real number other than 1; None
    otherwise (the caller's general path then runs, with its checks and errors)."""
    if not isinstance(a, Tensor) or a._array.dtype not in _HALVES and \
            (not isinstance(b, Tensor) or b._array.dtype not in _HALVES):
        return None            # (the usual call: no 16-bit float operand, one check)
    if type(a._array) is not np.ndarray or isinstance(b, Tensor) and \
            type(b._array) is not np.ndarray:
        return None            # (CPU kernels' rounding; a GPU array keeps the general path)
    if type(alpha) not in _NUMBERS or alpha == 1 or isinstance(alpha, bool):
        return None
    if not (isinstance(b, Tensor) or type(b) in _NUMBERS):
        return None
    dtype = result_dtype(a, b)
    if dtype not in _HALVES or not abs(alpha) <= _LARGEST[dtype]:
        return None
    if isinstance(b, Tensor):
        broadcast_shape(a._array.shape, b._array.shape, name)
    else:
        b = _scalar_or_tensor(b, a, name)
    if a._array.dtype != dtype or b._array.dtype != dtype:
        a, b = a.to(dtypes.from_numpy_dtype(dtype)), b.to(dtypes.from_numpy_dtype(dtype))
    node = _SUB if name == "sub" else _ADD
    return node, a, b, dict(alpha=-alpha if name == "sub" else alpha, dtype=dtype)


def half_scaled_add(a, b, alpha, name):
    """``a + alpha * b`` (name 'add') or ``a - alpha * b`` ('sub') for float16/bfloat16
    results, rounded as PyTorch; None where ``_prepared`` says the general path applies."""
    prepared = _prepared(a, b, alpha, name)
    if prepared is None:
        return None
    node, a, b, params = prepared
    return node.apply(a, b, **params)


def half_scaled_add_(t, other, alpha, name):
    """``t.add_(other, alpha=)`` ('add') or ``t.sub_`` ('sub') for a float16/bfloat16 ``t``,
    rounded as PyTorch (``t`` keeps its dtype: other of t's dtype or a number only); None
    where the general path applies."""
    if isinstance(other, Tensor) and other._array.dtype != t._array.dtype:
        return None
    prepared = _prepared(t, other, alpha, name)
    if prepared is None:
        return None
    node, _, other, params = prepared
    return apply_inplace(t, node, other, **params)
