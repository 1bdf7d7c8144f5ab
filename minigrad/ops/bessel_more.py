"""The rest of ``torch.special``'s Bessel family: ``bessel_y0``, ``bessel_y1`` (second kind),
``modified_bessel_i0``, ``modified_bessel_i1``, ``modified_bessel_k0``, ``modified_bessel_k1``,
``scaled_modified_bessel_k0``, ``scaled_modified_bessel_k1`` (e^x K), ``spherical_bessel_j0``
(sin x / x) and the Airy function ``airy_ai``.

Each is elementwise and computed in float64 (kernels in ``_bessel_more_kernels``, I from
``_special_kernels``), rounded once to the input's float dtype; integer and bool inputs give the
default float dtype, float16 is refused, as in PyTorch.  PyTorch defines no derivative for any of
them: the result never requires grad.  Values outside the domain follow PyTorch: Y and K are NaN
for x < 0 and -inf / +inf at 0; Ai and I are NaN at +-inf, Ai is 0 above 103.892, K is 0 at +inf.

Where PyTorch's own float64 values are inaccurate (its rational fits for Y0 and Y1 on [2, 25),
up to ~1e-5 relative near x = 5.4, and for Ai on [-10.3, -2.09], up to ~3e-5) these follow the
true function instead, to ~1e-14.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..tensor import Tensor
from . import _bessel_more_kernels as KB
from . import _special_kernels as K
from ._util import scalar_type_name

__all__ = ["airy_ai", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
           "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
           "scaled_modified_bessel_k1", "spherical_bessel_j0"]

_HALF_NAMES = {np.dtype(np.float16): "Half"}


def _apply(name, arg_name, input, kernel):
    """kernel(float64 flat array, dtype) -> float64 flat array, wrapped as a tensor of input's shape
    in its float dtype (the default float dtype for integer and bool inputs)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"special_{name}(): argument '{arg_name}' (position 1) must be Tensor, "
                        f"not {type(input).__name__}")
    kind = input._array.dtype
    if kind in _HALF_NAMES:
        raise NotImplementedError(f'"{name}_cpu" not implemented for \'{_HALF_NAMES[kind]}\'')
    if kind.kind == "c":                     # PyTorch has no complex kernel (no silent real part)
        raise NotImplementedError(f'"{name}_cpu" not implemented for '
                                  f'\'{scalar_type_name(kind)}\'')
    dtype = kind if kind.kind in "fV" else dtypes.default_float().np
    array = backend.as_numpy(input._array)
    x = array.astype(np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        out = kernel(x, dtype.type).reshape(input._array.shape).astype(dtype)
    out = mf.pointwise_result(out, array)
    return Tensor._wrap(backend.to_device(out, input.device))


def _on(mask, x, out, kernel):
    """out[mask] = kernel(x[mask]) when mask selects anything."""
    if mask.any():
        out[mask] = kernel(x[mask])


def _second_kind(x, dtype, order):
    out = np.full_like(x, np.nan)                       # x < 0, NaN and +inf stay NaN
    out[x == 0] = -np.inf
    _on((x > 0) & np.isfinite(x), x, out, lambda v: KB.bessel_y(v, order, dtype))
    return out


def _k(x, dtype, order, scaled):
    out = np.full_like(x, np.nan)
    out[x == 0] = np.inf
    out[x == np.inf] = 0.0
    if scaled:
        _on((x > 0) & np.isfinite(x), x, out, lambda v: KB.bessel_k_scaled(v, order))
    else:
        _on((x > 0) & np.isfinite(x), x, out,
            lambda v: KB.bessel_k_scaled(v, order) * np.exp(-v))
    return out


def _modified_i(x, dtype, order):
    out = (K.i0 if order == 0 else K.i1)(np.where(np.isinf(x), 0.0, x))
    return np.where(np.isinf(x), np.nan, out)


def _airy(x, dtype):
    out = np.full_like(x, np.nan)
    out[(x > 103.892) & np.isfinite(x)] = 0.0
    _on(np.isfinite(x) & (x <= 103.892), x, out, lambda v: KB.airy_ai(v, dtype))
    return out


def _spherical_j0(x, dtype):
    """sin(x)/x; its Taylor polynomial below 0.5 (where the quotient loses digits)."""
    small = np.abs(x) < 0.5
    sq = x * x
    taylor = np.zeros_like(x)
    for k in range(6, -1, -1):      # sum_k (-x^2)^k / (2k + 1)!, Horner's rule
        taylor = taylor * -sq + 1.0 / np.prod(np.arange(1.0, 2 * k + 2))
    out = np.where(small, taylor, np.sin(x) / np.where(small, 1.0, x))
    return np.where(np.isinf(x), 0.0, out)


def airy_ai(x):
    """Ai(x), the Airy function of the first kind (solution of y'' = x y decaying as x -> inf),
    elementwise."""
    return _apply("airy_ai", "x", x, _airy)


def bessel_y0(input):
    """Y0(x), the Bessel function of the second kind of order 0, elementwise."""
    return _apply("bessel_y0", "input", input, lambda v, d: _second_kind(v, d, 0))


def bessel_y1(input):
    """Y1(x), the Bessel function of the second kind of order 1, elementwise."""
    return _apply("bessel_y1", "input", input, lambda v, d: _second_kind(v, d, 1))


def modified_bessel_i0(input):
    """I0(x), the modified Bessel function of the first kind of order 0, elementwise."""
    return _apply("modified_bessel_i0", "input", input, lambda v, d: _modified_i(v, d, 0))


def modified_bessel_i1(input):
    """I1(x), the modified Bessel function of the first kind of order 1, elementwise."""
    return _apply("modified_bessel_i1", "input", input, lambda v, d: _modified_i(v, d, 1))


def modified_bessel_k0(input):
    """K0(x), the modified Bessel function of the second kind of order 0, elementwise."""
    return _apply("modified_bessel_k0", "input", input, lambda v, d: _k(v, d, 0, False))


def modified_bessel_k1(input):
    """K1(x), the modified Bessel function of the second kind of order 1, elementwise."""
    return _apply("modified_bessel_k1", "input", input, lambda v, d: _k(v, d, 1, False))


def scaled_modified_bessel_k0(x):
    """e^x K0(x), elementwise (finite where K0 itself underflows)."""
    return _apply("scaled_modified_bessel_k0", "x", x, lambda v, d: _k(v, d, 0, True))


def scaled_modified_bessel_k1(x):
    """e^x K1(x), elementwise."""
    return _apply("scaled_modified_bessel_k1", "x", x, lambda v, d: _k(v, d, 1, True))


def spherical_bessel_j0(x):
    """j0(x) = sin(x) / x, the spherical Bessel function of the first kind of order 0
    (1 at 0, 0 at +-inf), elementwise."""
    return _apply("spherical_bessel_j0", "x", x, _spherical_j0)
