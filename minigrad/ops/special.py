"""``minigrad.special``: PyTorch's ``torch.special`` names that minigrad computes, most of them
the same functions as the top-level ones under SciPy-style names.

expit = sigmoid, logit, xlogy, xlog1py, entr (-x log x), erf, ndtr (the standard normal CDF,
(1 + erf(x / sqrt 2)) / 2), expm1, exp2, log1p, sinc, round, logsumexp, softmax and
log_softmax; and, from ``special_functions``, the gamma family (gammaln = lgamma, digamma = psi,
polygamma, multigammaln = mvlgamma, gammainc, gammaincc, zeta), erfc, erfcx, erfinv, log_ndtr,
ndtri and the modified Bessel functions i0, i0e, i1, i1e; from ``bessel``, the Bessel functions
of the first kind bessel_j0 and bessel_j1; from ``bessel_more``, Airy Ai, Y0, Y1, the modified
Bessel functions I0, I1, K0, K1 (and e^x K), the spherical j0; from ``orthogonal_polynomials``,
Chebyshev T/U/V/W (plain and shifted), Hermite H/He, Laguerre L and Legendre P.
"""
from __future__ import annotations

import math

from ..autograd._node_names import rename_node
from .activation import erf
from .bessel import bessel_j0, bessel_j1  # noqa: F401
from .bessel_more import (  # noqa: F401
    airy_ai, bessel_y0, bessel_y1, modified_bessel_i0, modified_bessel_i1, modified_bessel_k0,
    modified_bessel_k1, scaled_modified_bessel_k0, scaled_modified_bessel_k1,
    spherical_bessel_j0)
from .orthogonal_polynomials import (  # noqa: F401
    chebyshev_polynomial_t, chebyshev_polynomial_u, chebyshev_polynomial_v,
    chebyshev_polynomial_w, hermite_polynomial_h, hermite_polynomial_he, laguerre_polynomial_l,
    legendre_polynomial_p, shifted_chebyshev_polynomial_t, shifted_chebyshev_polynomial_u,
    shifted_chebyshev_polynomial_v, shifted_chebyshev_polynomial_w)
from .compare import round as _round
from .elementary_functions import log1p, sigmoid as expit  # noqa: F401
from .elementwise import add, mul  # noqa: F401
from .math_extra import exp2  # noqa: F401
from .pointwise_more import entr, xlog1py, xlogy  # noqa: F401
from .pointwise_smooth import expm1, logit, sinc  # noqa: F401
from .softmax import log_softmax, logsumexp, softmax  # noqa: F401
from .special_functions import (  # noqa: F401
    digamma, digamma as psi, erfc, erfcx, erfinv, i0, i0e, i1, i1e, igamma as gammainc,
    igammac as gammaincc, lgamma as gammaln, log_ndtr, mvlgamma as multigammaln, ndtri,
    polygamma, zeta)

__all__ = ["expit", "logit", "xlogy", "xlog1py", "entr", "erf", "ndtr", "expm1", "exp2",
           "log1p", "sinc", "round", "logsumexp", "softmax", "log_softmax", "gammaln", "digamma",
           "psi", "polygamma", "multigammaln", "gammainc", "gammaincc", "zeta", "erfc", "erfcx",
           "erfinv", "log_ndtr", "ndtri", "i0", "i0e", "i1", "i1e", "bessel_j0", "bessel_j1"]
# round 7: the rest of the Bessel family, Airy Ai and the orthogonal polynomials
__all__ += ["airy_ai", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
            "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
            "scaled_modified_bessel_k1", "spherical_bessel_j0", "chebyshev_polynomial_t",
            "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w",
            "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
            "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w",
            "hermite_polynomial_h", "hermite_polynomial_he", "laguerre_polynomial_l",
            "legendre_polynomial_p"]

_SQRT_HALF = math.sqrt(0.5)


def round(input, *, decimals=0):
    """``round`` with ``decimals`` always passed, as PyTorch's ``special.round`` does: integer
    tensors are refused (the plain ``round`` hands them back unchanged)."""
    return _round(input, decimals=decimals)


def ndtr(input):
    """The standard normal cumulative distribution function: (1 + erf(x / sqrt 2)) / 2."""
    # PyTorch records the last step as a product with a number (MulBackward1)
    return rename_node(mul(add(erf(mul(input, _SQRT_HALF)), 1.0), 0.5), "MulBackward1")
