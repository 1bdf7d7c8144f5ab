"""Registry entries for the special functions (lgamma, digamma, polygamma, erfc, erfinv,
Bessel i0/i1, gammainc, zeta...: ``minigrad/ops/special_functions.py``).
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register  # noqa: F401

S = Sample


# ----------------------------------------------------------------------------------------------
# Special functions (ops/special_functions.py).  Samples keep away from the poles of the
# gamma family (0 and the negative integers) and from the ends of erfinv's and ndtri's domains,
# where finite differences would not hold.
# ----------------------------------------------------------------------------------------------
def _gamma_domain(g, *shape):
    """Positive values, plus negative ones at least 0.2 from a pole."""
    pos = g.uniform(*shape, low=0.2, high=6.0)
    neg = -g.uniform(*shape, low=0.2, high=0.8) - g.rng.integers(0, 3, shape)
    return np.where(g.rng.random(shape) < 0.7, pos, neg)


def _unary(make):
    def samples(g):
        yield S(make(g, 3, 4))
        yield S(make(g), desc="0-d")
        yield S(make(g, 0, 2), desc="empty")
    return samples


_UNARY = {
    "lgamma": (lambda lib, x: lib.lgamma(x), _gamma_domain),
    "digamma": (lambda lib, x: lib.digamma(x), _gamma_domain),
    "special.gammaln": (lambda lib, x: lib.special.gammaln(x), _gamma_domain),
    "special.psi": (lambda lib, x: lib.special.psi(x), _gamma_domain),
    "erfc": (lambda lib, x: lib.erfc(x), lambda g, *s: 2 * g.randn(*s)),
    "special.erfcx": (lambda lib, x: lib.special.erfcx(x), lambda g, *s: 2 * g.randn(*s)),
    "erfinv": (lambda lib, x: lib.erfinv(x), lambda g, *s: g.uniform(*s, low=-0.9, high=0.9)),
    "special.log_ndtr": (lambda lib, x: lib.special.log_ndtr(x), lambda g, *s: 3 * g.randn(*s)),
    "special.ndtri": (lambda lib, x: lib.special.ndtri(x),
                      lambda g, *s: g.uniform(*s, low=0.05, high=0.95)),
    "i0": (lambda lib, x: lib.i0(x), lambda g, *s: 3 * g.randn(*s)),
    "special.i0e": (lambda lib, x: lib.special.i0e(x), lambda g, *s: 3 * g.away(*s)),
    "special.i1": (lambda lib, x: lib.special.i1(x), lambda g, *s: 3 * g.randn(*s)),
    "special.i1e": (lambda lib, x: lib.special.i1e(x), lambda g, *s: 3 * g.away(*s)),
}
for _name, (_f, _make) in _UNARY.items():
    register(_name, _f, _unary(_make))


def _polygamma(g):
    for n in (0, 1, 2, 3):
        yield S(_gamma_domain(g, 3, 4), kwargs={"n": n}, desc=f"n={n}")
    yield S(_gamma_domain(g), kwargs={"n": 1}, desc="0-d")


register("polygamma", lambda lib, x, n: lib.polygamma(n, x), _polygamma)


def _mvlgamma(g):
    yield S(g.uniform(3, 4, low=1.2, high=5.0), kwargs={"p": 1})
    yield S(g.uniform(3, 4, low=1.2, high=5.0), kwargs={"p": 3})
    yield S(g.uniform(low=2.0, high=5.0), kwargs={"p": 2}, desc="0-d")


register("mvlgamma", lambda lib, x, p: lib.mvlgamma(x, p), _mvlgamma)
register("special.multigammaln", lambda lib, x, p: lib.special.multigammaln(x, p), _mvlgamma)


def _incomplete_gamma(g):
    """Gradients with respect to x only: PyTorch has none for a."""
    yield S(g.uniform(3, 4, low=0.5, high=4.0), g.uniform(3, 4, low=0.2, high=6.0),
            requires_grad=[False, True])
    yield S(g.uniform(3, 1, low=0.5, high=4.0), g.uniform(4, low=0.2, high=6.0),
            requires_grad=[False, True], desc="broadcast")


register("special.gammainc", lambda lib, a, x: lib.special.gammainc(a, x), _incomplete_gamma)
register("special.gammaincc", lambda lib, a, x: lib.special.gammaincc(a, x), _incomplete_gamma)
register("igamma", lambda lib, a, x: lib.igamma(a, x), _incomplete_gamma)


def _zeta(g):
    """Gradients with respect to q only: PyTorch has none for s."""
    yield S(g.uniform(3, 4, low=1.5, high=5.0), g.uniform(3, 4, low=0.3, high=4.0),
            requires_grad=[False, True])
    yield S(g.uniform(3, 1, low=1.5, high=5.0), g.uniform(4, low=0.3, high=4.0),
            requires_grad=[False, True], desc="broadcast")
    yield S(g.uniform(low=2.0, high=3.0), g.uniform(2, low=0.5, high=2.0),
            requires_grad=[False, True], desc="0-d s")


register("special.zeta", lambda lib, s, q: lib.special.zeta(s, q), _zeta)
