"""PyTorch's special functions: ``lgamma``, ``digamma``, ``polygamma``, ``mvlgamma``, ``erfc``,
``erfcx``, ``erfinv``, ``log_ndtr``, ``ndtri``, ``i0``, ``i0e``, ``i1``, ``i1e``, ``igamma`` /
``gammainc``, ``igammac`` / ``gammaincc`` and the Hurwitz ``zeta``.

The numerics live in ``_special_kernels`` and ``_gamma_inc_kernels`` (float64 numpy, methods
named there).  Here each is a ``Function`` whose forward computes in float64 and rounds once to
the input's dtype (an integer or bool input is promoted to the default float dtype, as PyTorch
does), and whose backward is written with differentiable ops, so second derivatives work:

    lgamma' = digamma             digamma' = polygamma(1)      polygamma(n)' = polygamma(n+1)
    erfc' = -2/sqrt(pi) e^(-x^2)  erfcx' = 2 x erfcx - 2/sqrt(pi)
    erfinv' = sqrt(pi)/2 e^(erfinv(x)^2)                        ndtri' = sqrt(2 pi) e^(ndtri^2/2)
    log_ndtr' = sqrt(2/pi) / erfcx(-x/sqrt 2)   (= pdf / cdf, without underflow)
    i0' = i1      i1' = i0 - i1/x (1/2 within eps of 0, and at NaN, as PyTorch)
    i0e' = i1e - sgn(x) i0e
    i1e' = i0e - i1e (sgn(x) + 1/x) (1/2 within eps of 0 and at NaN)
    d/dx P(a, x) = -d/dx Q(a, x) = x^(a-1) e^-x / Gamma(a)

As in PyTorch, the incomplete gamma functions have no derivative with respect to ``a`` and
``zeta`` none at all: asking for one raises.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from . import _gamma_inc_kernels as GI
from . import _special_kernels as K
from ._util import broadcast_shape, not_implemented_for, result_dtype
from .elementary_functions import exp, log, log1p
from .elementwise import _scalar_or_tensor, add, cast, mul, neg, sub
from .division import div
from .pointwise_select import where
from .compare import sign
from .plumbing import sum_to

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "erfc", "erfcx", "erfinv",
           "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "igamma", "igammac", "zeta"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def _floating(a, kernel=None):
    """``a`` as a floating tensor (integers and bool in the default float dtype); a complex
    one refused in the words of PyTorch's ``kernel``, which has no complex version."""
    if not isinstance(a, Tensor):
        raise TypeError(f"argument 'input' must be Tensor, not {type(a).__name__}")
    if kernel is not None and a._array.dtype.kind == "c":
        raise not_implemented_for(kernel, a._array.dtype)
    return a if a._array.dtype.kind in "fV" else cast(a, dtypes.default_float().np)


def _floating_no_half(a, kernel):
    """``_floating(a)``, refusing float16 as PyTorch's CPU kernels without a Half version do
    (``kernel`` names the one PyTorch reports)."""
    a = _floating(a, kernel)
    if a._array.dtype == np.float16:
        raise not_implemented_for(kernel, a._array.dtype)
    return a


def _round_to(kernel, a, *others):
    """kernel(a, *others) in float64 on the broadcast operands, rounded once to ``a``'s
    dtype.  The kernels work on flat arrays (numpy turns 0-d results into scalars)."""
    arrays = np.broadcast_arrays(a, *others)
    flat = [x.astype(np.float64).reshape(-1) for x in arrays]
    out = kernel(*flat).reshape(arrays[0].shape).astype(a.dtype, copy=False)
    return mf.pointwise_result(out, a, *others)


class _Unary(Function):
    """A pointwise function of one input: ``kernel`` computes it, ``derivative(x, out)`` (with
    differentiable ops) gives dy/dx."""
    kernel = None

    def forward(self, a):
        self.save_for_backward(a)
        return _round_to(type(self).kernel, a)

    def backward(self, g):
        a, = self.saved_tensors
        return mul(g, self.derivative(a))


class Lgamma(_Unary):
    kernel = staticmethod(K.lgamma)

    def derivative(self, a):
        return digamma(a)


class Digamma(_Unary):
    kernel = staticmethod(K.digamma)

    def derivative(self, a):
        return polygamma(1, a)


class Polygamma(Function):
    def forward(self, a, *, n):
        self.save_for_backward(a)
        self.n = n
        return _round_to(lambda x: K.polygamma(n, x), a)

    def backward(self, g):
        a, = self.saved_tensors
        return mul(g, polygamma(self.n + 1, a))


class Erfc(_Unary):
    kernel = staticmethod(K.erfc)

    def derivative(self, a):
        return mul(exp(neg(mul(a, a))), -_TWO_OVER_SQRT_PI)


class Erfcx(_Unary):
    _node_name = "SpecialErfcxBackward0"      # PyTorch's nodes of torch.special's own ops
    kernel = staticmethod(K.erfcx)

    def derivative(self, a):
        return sub(mul(mul(a, 2.0), erfcx(a)), _TWO_OVER_SQRT_PI)


class Erfinv(Function):
    def forward(self, a):
        out = _round_to(K.erfinv, a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors
        return mul(g, mul(exp(mul(out, out)), 0.5 * math.sqrt(math.pi)))


class Ndtri(Function):
    _node_name = "SpecialNdtriBackward0"

    def forward(self, a):
        out = _round_to(K.ndtri, a)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        out, = self.saved_tensors
        return mul(g, mul(exp(mul(mul(out, out), 0.5)), math.sqrt(2.0 * math.pi)))


class LogNdtr(_Unary):
    _node_name = "SpecialLogNdtrBackward0"
    kernel = staticmethod(K.log_ndtr)

    def derivative(self, a):
        return div(_SQRT_2_OVER_PI, erfcx(mul(a, -math.sqrt(0.5))))


class I0(_Unary):
    kernel = staticmethod(K.i0)

    def derivative(self, a):
        return i1(a)


class I0e(_Unary):
    _node_name = "SpecialI0EBackward0"
    kernel = staticmethod(K.i0e)

    def derivative(self, a):
        return sub(i1e(a), mul(sign(a), i0e(a)))


def _zero_or_nan(a):
    """Where ``a`` is within its dtype's epsilon of 0, or NaN: PyTorch's i1 and i1e take their
    slope there as that at 0, 1/2 (its test is |x| > eps, false for NaN)."""
    return ~(backend.xp_of(a._array).abs(a._array) > np.finfo(a._array.dtype).eps)


def _not_tiny(a):
    """``a`` with its values within epsilon of 0 replaced by epsilon, as PyTorch's i1 and i1e
    backward (whose slope there is set apart: 1/x would overflow)."""
    return where(_zero_or_nan(a), float(np.finfo(a._array.dtype).eps), a)


class I1(_Unary):
    _node_name = "SpecialI1Backward0"
    kernel = staticmethod(K.i1)

    def derivative(self, a):
        safe = _not_tiny(a)
        return where(_zero_or_nan(a), 0.5, sub(i0(safe), div(i1(a), safe)))


class I1e(_Unary):
    _node_name = "SpecialI1EBackward0"
    kernel = staticmethod(K.i1e)

    def derivative(self, a):
        safe = _not_tiny(a)
        slope = sub(i0e(safe), mul(i1e(a), add(sign(safe), div(1.0, safe))))
        return where(_zero_or_nan(a), 0.5, slope)


class _IncompleteGamma(Function):
    """P(a, x) (``upper=False``) or Q(a, x); a gradient for ``x`` only, as PyTorch."""
    def forward(self, a, x, *, upper):
        self.save_for_backward(a, x)
        self.upper = upper
        return _round_to(GI.gammaincc if upper else GI.gammainc, a, x)

    def backward(self, g):
        a, x = self.saved_tensors
        if self.needs_input_grad[0]:
            op = "igammac" if self.upper else "igamma"      # PyTorch's words name the op
            raise NotImplementedError(f"the derivative for '{op}: input' is not implemented.")
        # x^(a-1) e^-x / Gamma(a), in logs so that large a and x do not overflow
        density = exp(sub(sub(mul(sub(a, 1.0), log(x)), x), lgamma(a)))
        large = (a._array >= 20.0) & (x._array > 0.0)
        if large.any():
            # there a log x and lgamma(a) are huge and nearly cancel: the same density as
            # e^(a (log1p(d) - d) + offset(a)) / x, d = (x - a) / a
            big_a = Tensor._wrap(np.where(large, a._array, 20.0))
            offset = GI.log_density_offset(big_a._array).astype(a._array.dtype)
            d = div(sub(x, big_a), big_a)
            exponent = add(mul(big_a, sub(log1p(d), d)), Tensor._wrap(offset))
            density = where(large, div(exp(exponent), x), density)
        return None, sum_to(mul(g, neg(density) if self.upper else density), x.shape)


class Zeta(Function):
    """zeta(s, q) = sum over k >= 0 of (q + k)^-s; a gradient for q only, as PyTorch:
    d/dq zeta(s, q) = -s zeta(s + 1, q) (each term's derivative, summed)."""
    _node_name = "SpecialZetaBackward0"

    def forward(self, s, q):
        self.save_for_backward(s, q)
        return _round_to(K.hurwitz_zeta, s, q)

    def backward(self, g):
        s, q = self.saved_tensors
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, sum_to(mul(g, neg(mul(s, Zeta.apply(add(s, 1.0), q)))), q.shape)


# ----------------------------------------------------------------------------------------------
# The public functions
# ----------------------------------------------------------------------------------------------
def lgamma(input):
    """log|Gamma(x)|, elementwise."""
    return Lgamma.apply(_floating(input, "lgamma_vml_cpu"))


def digamma(input):
    """psi(x) = d/dx lgamma(x), elementwise."""
    return Digamma.apply(_floating(input, "digamma"))


def polygamma(n, input):
    """The n-th derivative of digamma: psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x) for n >= 1."""
    if isinstance(n, Tensor) and n.ndim == 0 and n._array.dtype.kind in "iu":
        n = int(n.item())            # PyTorch reads a one-element integer tensor as its int
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_floating(input, {0: "digamma", 1: "trigamma"}.get(int(n), "polygamma")),
                           n=int(n))


def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension p:
    sum_(i < p) lgamma(x - i/2) + p (p - 1)/4 log(pi)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    if isinstance(input, Tensor) and input._array.dtype.kind == "b":
        raise RuntimeError("The input tensor may not be a boolean tensor.")
    x = _floating(input)
    total = lgamma(add(x, 0.0))      # (x + 0, as PyTorch: its slope at -0.0 is that at +0.0)
    for i in range(1, p):
        total = add(total, lgamma(sub(x, i / 2.0)))
    # row-major whatever x's layout, as PyTorch's (a sum over a stacked last dim)
    out = add(total.contiguous(), p * (p - 1) / 4.0 * math.log(math.pi))
    return rename_node(out, "MvlgammaBackward0")           # one node in PyTorch


def erfc(input):
    """1 - erf(x), accurate in the upper tail."""
    return Erfc.apply(_floating(input, "erfc_vml_cpu"))


def erfcx(input):
    """The scaled complementary error function exp(x^2) erfc(x)."""
    return Erfcx.apply(_floating_no_half(input, "erfcx_cpu"))


def erfinv(input):
    """The inverse of erf on [-1, 1]."""
    return Erfinv.apply(_floating(input, "erfinv_vml_cpu"))


def log_ndtr(input):
    """log of the standard normal CDF, accurate far into the lower tail."""
    return LogNdtr.apply(_floating_no_half(input, "log_ndtr_cpu"))


def ndtri(input):
    """The standard normal quantile (inverse of ndtr)."""
    return Ndtri.apply(_floating_no_half(input, "ndtri_cpu"))


def i0(input):
    """The modified Bessel function of the first kind, order 0."""
    return I0.apply(_floating(input, "i0_vml_cpu"))


def i0e(input):
    """exp(-|x|) i0(x)."""
    return I0e.apply(_floating(input, "i0e_cpu"))


def i1(input):
    """The modified Bessel function of the first kind, order 1."""
    return I1.apply(_floating(input, "i1_cpu"))


def i1e(input):
    """exp(-|x|) i1(x)."""
    return I1e.apply(_floating(input, "i1e_cpu"))


def _float_operands(a, b, name, kernel):
    """Two operands (a Python number allowed on one side) promoted together; PyTorch's
    NotImplementedError for a non-floating result when ``kernel`` is given, else integers go
    to the default float dtype."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(a).__name__}")
    # (a number beside integers keeps its value where they go to a float: zeta(-3, uint8)
    # is of -3, not of -3 wrapped to 253)
    floats = kernel is None
    a = a if isinstance(a, Tensor) else _scalar_or_tensor(a, b, name, true_divide=floats)
    b = b if isinstance(b, Tensor) else _scalar_or_tensor(b, a, name, true_divide=floats)
    broadcast_shape(tuple(a.shape), tuple(b.shape), name)      # shapes before the dtype
    dtype = result_dtype(a, b)
    if dtype.kind not in "fV":
        if kernel is not None:
            raise not_implemented_for(kernel, dtype)
        dtype = dtypes.default_float().np
    return cast(a, dtype), cast(b, dtype)


# PyTorch's node names for the two functions (its ops igamma and igammac)
_LOWER_GAMMA = _IncompleteGamma.renamed("IgammaBackward0")
_UPPER_GAMMA = _IncompleteGamma.renamed("IgammacBackward0")


def igamma(input, other):
    """The regularized lower incomplete gamma function P(a, x), a = input, x = other."""
    a, x = _float_operands(input, other, "igamma", "igamma_cpu")
    return _LOWER_GAMMA.apply(a, x, upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    a, x = _float_operands(input, other, "igammac", "igammac_cpu")
    return _UPPER_GAMMA.apply(a, x, upper=True)


def zeta(input, other):
    """The Hurwitz zeta function sum_k (other + k)^-input; differentiable in ``other`` only,
    as in PyTorch."""
    s, q = _float_operands(input, other, "zeta", None)
    if s._array.dtype in (np.float16, dtypes.BFLOAT16):      # no half-float kernels
        raise not_implemented_for("zeta_cpu", s._array.dtype)
    return Zeta.apply(s, q)
