"""The reparameterization gradient of Dirichlet (and so Beta) draws, as PyTorch defines it.

A Dirichlet draw x (made from normalised Gamma draws) has many valid pathwise gradients;
PyTorch's differentiates each coordinate through its Beta marginal, x_i ~ Beta(a_i, b_i)
with b_i = T - a_i and T = sum_j a_j, and spreads it so that the gradient stays on the
simplex:

    d loss / d a_i = g_i * (dL/dx_i - sum_j x_j dL/dx_j),
    g_i = -(d/da I_x(a, b) at fixed b) / p(x; a, b) / (1 - x)     (x = x_i, a = a_i, b = b_i)

where I_x(a, b) is the regularized incomplete beta function (the Beta CDF) and p the Beta
density.  PyTorch evaluates g with closed-form approximations; here it is computed from
series, to float64 accuracy:

    I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * sum_n (a+b)_n / (a+1)_n x^n

differentiated term by term in a (the prefactor's log derivative is log x - 1/a - psi(a) +
psi(a+b); term n's is sum_{k<n} 1/(a+b+k) - 1/(a+1+k)).  The prefactor over the density is
x (1-x) / a, so g = -x S / a with S the differentiated sum.  Past the mean (x > a / T) the
series converges slowly, and the complement I_x(a, b) = 1 - I_{1-x}(b, a) is used instead:
there a is the second parameter, and g = x S' / b with S' the sum of terms
(a+b)_n / (b+1)_n (1-x)^n times log x - psi(a) + psi(a+b) + sum_{k<n} 1/(a+b+k).
"""
from __future__ import annotations

import numpy as np

from ..ops import _special_kernels as kernels

__all__ = ["beta_marginal_grad", "dirichlet_grad"]

_MAX_TERMS = 20000


def _series(y, p, total, base, own):
    """sum_n (total)_n / (p+1)_n y^n (base + sum_{k<n} (1/(total+k) - own/(p+1+k))),
    elementwise over float64 arrays, until every series' terms are negligible."""
    term = np.ones_like(y)
    shift = np.zeros_like(y)
    acc = base.copy()
    scale = np.ones_like(y)
    for n in range(1, _MAX_TERMS):
        shift = shift + 1.0 / (total + n - 1) - own / (p + n)
        term = term * y * (total + n - 1) / (p + n)
        piece = term * (base + shift)
        acc = acc + piece
        scale = scale + term
        if n > 4 and np.all(term <= 1e-17 * scale):
            break
    return acc


def beta_marginal_grad(x, a, total):
    """g = -(dI_x(a, total - a)/da at fixed b) / pdf / (1 - x), elementwise (float64 arrays
    of one shape)."""
    b = total - a
    psi = kernels.digamma(total) - kernels.digamma(a)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_x = np.log(x)
        g = np.empty_like(x)
        low = x <= a / total
        if low.any():
            xl, al, tl = x[low], a[low], total[low]
            s = _series(xl, al, tl, log_x[low] - 1.0 / al + psi[low], 1.0)
            g[low] = -xl * s / al
        high = ~low
        if high.any():
            xh, bh, th = x[high], b[high], total[high]
            s = _series(1.0 - xh, bh, th, log_x[high] + psi[high], 0.0)
            g[high] = xh * s / bh
    return np.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)


def dirichlet_grad(x, alpha, grad_output):
    """d loss / d alpha from d loss / d x for Dirichlet draws x of concentration alpha (numpy
    arrays of one shape, the simplex on the last dim); the result in x's dtype."""
    x64, a64 = x.astype(np.float64), alpha.astype(np.float64)
    total = np.broadcast_to(a64.sum(-1, keepdims=True), a64.shape)
    g = beta_marginal_grad(x64, a64, np.ascontiguousarray(total))
    go = grad_output.astype(np.float64)
    return (g * (go - (x64 * go).sum(-1, keepdims=True))).astype(x.dtype)
