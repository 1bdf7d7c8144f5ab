"""Scans along a dim beside ``sorting.py``'s cumsum and cumprod: ``logcumsumexp`` (without
overflow or underflow, complex inputs too, with PyTorch's branch of the imaginary part) and
``cummax`` / ``cummin`` (the running extreme and the index of its latest occurrence).

Compositions of differentiable ops (exp, log, cumsum, gather at indices found with numpy), so
their first and second derivatives come from those ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..dtypes import BAREBONES_UNSIGNED, reduced_float
from ..tensor import Tensor
from ._util import check_tensor, normalize_dim, not_implemented_for
from ..autograd._node_names import rename_node
from .compare import isnan
from .elementary_functions import exp, log
from .elementwise import add, cast, sub
from .pointwise_select import where
from .movement_copies import clone, contiguous
from .plumbing import expand_to, reshape_to
from .extrema import MaxResult, amax
from .reduce import sum as sum_
from .scatter_gather import gather
from .shaping import movedim
from .sorting import cumsum
from ._floating_checks import _check_floating

_FLOAT32 = np.dtype("float32")      # float16 and bfloat16 are computed in it


def logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow or underflow (see
    ``_logcumsumexp``); the result's node is named as PyTorch's."""
    return rename_node(_logcumsumexp(input, dim), "LogcumsumexpBackward0")


def _logcumsumexp(input, dim):
    """log(cumsum(exp(x))) along ``dim``, without overflow or underflow.

    When a slice's values span a modest range, one shift by its (constant) max is enough:
    log(cumsum(exp(x - m))) + m.  A wider range would underflow the early terms (exp(0 - 100)
    in float32), so each output i is shifted by its own running max m_i over an (n, n)
    triangle: out_i = m_i + log(sum_{j <= i} exp(x_j - m_i)).
    """
    if isinstance(input, Tensor):
        normalize_dim(dim, max(input.ndim, 1))      # PyTorch checks the dim before the dtype
        if input._array.dtype.kind == "c":
            return _complex_logcumsumexp(input, dim)
    _check_floating(input, "logcumsumexp", "logcumsumexp_out_cpu")
    if reduced_float(input._array.dtype):
        # float16 sums drift by a few units in the last place per term: float32 inside,
        # rounded once, as PyTorch
        return cast(_logcumsumexp(cast(input, _FLOAT32), dim), input._array.dtype)
    d = normalize_dim(dim, max(input.ndim, 1))
    if input.ndim == 0 or input.shape[d] == 0:
        return add(input, 0.0)
    xp = backend.xp_of(input._array)
    a = input._array
    finite = a[xp.isfinite(a)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    if spread < (60.0 if a.dtype.itemsize <= 4 else 600.0):
        m = amax(input, d, keepdim=True).detach()
        m = where(isnan(m) | (m.abs() == math.inf), 0.0, m)
        return add(log(cumsum(exp(sub(input, m)), d)), m)
    x = movedim(input, d, -1)
    n, lead = x.shape[-1], tuple(x.shape[:-1])
    m = xp.maximum.accumulate(x._array, axis=-1)
    # an infinite (or NaN) running max shifts by 0: inf - inf would make a NaN of the inf
    m = xp.where(xp.isfinite(m), m, 0.0).astype(x._array.dtype)
    running = Tensor._wrap(m[..., :, None])                                          # m_i
    rows = expand_to(reshape_to(x, lead + (1, n)), lead + (n, n))                    # [i, j]: x_j
    lower = xp.arange(n)[None, :] <= xp.arange(n)[:, None]                           # j <= i
    terms = exp(where(lower, sub(rows, running), -math.inf))
    out = add(log(sum_(terms, -1)), reshape_to(running, lead + (n,)))
    return movedim(out, -1, d)


def _complex_logcumsumexp(input, dim):
    """The complex logcumsumexp: each output i shifted by the running max m_i of the real
    parts (only they can overflow exp), over the (n, n) triangle as for a wide real range:
    out_i = m_i + log(sum_{j <= i} exp(x_j - m_i)).  PyTorch accumulates it as a scan of
    logaddexp, whose imaginary part is not wrapped into (-pi, pi]: it stays within pi of the
    larger operand's.  The principal value is moved by that multiple of 2 pi (``_scan_branch``,
    a constant, so the gradient exp(x_j - out_i) is unchanged)."""
    d = normalize_dim(dim, max(input.ndim, 1))
    if input.ndim == 0 or input.shape[d] == 0:
        return add(input, 0.0)
    xp = backend.xp_of(input._array)
    x = movedim(input, d, -1)
    n, lead = x.shape[-1], tuple(x.shape[:-1])
    m = xp.maximum.accumulate(x._array.real, axis=-1)
    m = xp.where(xp.isfinite(m), m, 0.0)[..., :, None]                           # m_i
    running = Tensor._wrap(m.astype(x._array.real.dtype))
    rows = expand_to(reshape_to(x, lead + (1, n)), lead + (n, n))                 # [i, j]: x_j
    lower = xp.arange(n)[None, :] <= xp.arange(n)[:, None]                        # j <= i
    terms = where(lower, exp(sub(rows, running)), 0.0)
    out = add(log(sum_(terms, -1)), reshape_to(running, lead + (n,)))
    out = add(out, Tensor._wrap(1j * _scan_branch(xp, x._array, out._array)))
    return contiguous(movedim(out, -1, d))          # (row-major, as PyTorch's result)


def _scan_branch(xp, x, principal):
    """The 2 pi multiples that take the principal imaginary parts (..., n) of a complex
    logcumsumexp to those of PyTorch's logaddexp scan: out_0 = x_0, and each later out_i is
    within pi of the imaginary part of the larger-real-part operand of
    logaddexp(out_{i-1}, x_i).  A scan along the last axis, vectorised over the others."""
    two_pi = 2 * math.pi
    target = principal.imag.copy()
    target[..., 0] = x[..., 0].imag
    for i in range(1, x.shape[-1]):
        ref = xp.where(principal[..., i - 1].real >= x[..., i].real, target[..., i - 1],
                       x[..., i].imag)
        turn = principal[..., i].imag - ref
        target[..., i] = ref + turn - two_pi * xp.ceil((turn - math.pi) / two_pi)
    return xp.where(xp.isfinite(target), target - principal.imag, 0.0)


def _running_arg(xp, a, d, largest):
    """(running max/min values, the index of the latest element equal to it) along axis d.
    A NaN is the extreme from where it appears on (each later NaN takes the index over)."""
    acc = (xp.maximum if largest else xp.minimum).accumulate(a, axis=d)
    pos = xp.arange(a.shape[d]).reshape([-1 if k == d else 1 for k in range(a.ndim)])
    hit = a == acc
    if a.dtype.kind in "fV":
        hit |= xp.isnan(a)
    at = xp.where(hit, pos, 0)
    return xp.maximum.accumulate(at, axis=d).astype("int64")


def _cum_extreme(input, dim, largest, name):
    check_tensor(name, input)
    if input.ndim and input._array.size and not (isinstance(dim, int) and
                                                 -input.ndim <= dim < input.ndim):
        normalize_dim(dim, input.ndim)          # (a bad dim is refused before the dtype)
    if input.ndim == 0 or input._array.size == 0:
        # PyTorch takes any dim for an empty tensor and names its own for a 0-d one; neither
        # runs a kernel (a 0-d complex one is copied)
        if not isinstance(dim, int) or isinstance(dim, bool):
            normalize_dim(dim, input.ndim)                  # the TypeError of a bad dim
        elif input.ndim == 0 and dim not in (-1, 0):
            raise IndexError(f"{name}(): Expected reduction dim -1 or 0 for scalar but got {dim}")
        none = Tensor._wrap(backend.xp_of(input._array).zeros(input.shape, "int64"))
        return MaxResult(clone(input), none, name)          # a copy, as PyTorch
    if input._array.dtype.kind == "c" or input._array.dtype in BAREBONES_UNSIGNED:
        raise not_implemented_for(f"{name}_cpu", input._array.dtype)     # (complex: no order)
    d = normalize_dim(dim, input.ndim)
    xp = backend.xp_of(input._array)
    # (the indices row-major, as PyTorch's result, whatever the input's layout)
    idx = Tensor._wrap(xp.ascontiguousarray(_running_arg(xp, input._array, d, largest)))
    return MaxResult(rename_node(gather(input, d, idx), f"{name.capitalize()}Backward0"), idx,
                     name)


def cummax(input, dim):
    """(running max, its index) along ``dim``; ties take the latest index, as PyTorch."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input, dim):
    return _cum_extreme(input, dim, False, "cummin")
