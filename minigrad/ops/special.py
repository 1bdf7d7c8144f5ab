"""``minigrad.special``: PyTorch's ``torch.special`` names that minigrad computes, most of them
the same functions as the top-level ones under SciPy-style names.

expit = sigmoid, logit, xlogy, xlog1py, entr (-x log x), erf, ndtr (the standard normal CDF,
(1 + erf(x / sqrt 2)) / 2), expm1, exp2, log1p, sinc, round, logsumexp, softmax and
log_softmax.  The gamma-function family (gammaln, digamma, polygamma, erfinv, i0, ...) is not
provided.
"""
from __future__ import annotations

import math

from .activation import erf
from .compare import round  # noqa: F401
from .elementwise import add, log1p, mul, sigmoid as expit  # noqa: F401
from .math_extra import exp2  # noqa: F401
from .pointwise_more import entr, expm1, logit, sinc, xlog1py, xlogy  # noqa: F401
from .reduce import log_softmax, logsumexp, softmax  # noqa: F401

__all__ = ["expit", "logit", "xlogy", "xlog1py", "entr", "erf", "ndtr", "expm1", "exp2",
           "log1p", "sinc", "round", "logsumexp", "softmax", "log_softmax"]

_SQRT_HALF = math.sqrt(0.5)


def ndtr(input):
    """The standard normal cumulative distribution function: (1 + erf(x / sqrt 2)) / 2."""
    return mul(add(erf(mul(input, _SQRT_HALF)), 1.0), 0.5)
