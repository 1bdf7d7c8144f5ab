"""``LKJCholesky(dim, concentration=1.0)``: the LKJ law on D x D correlation matrices
C = L L^T, p(C) proportional to det(C)^(eta - 1) (eta = concentration; eta = 1 is uniform
over correlation matrices), expressed as a law on the lower Cholesky factor L (event shape
(D, D)): lower triangular, positive diagonal, rows of unit length.

Row i of L (i = 0..D-1) is (w_i, sqrt(1 - |w_i|^2), 0, ...) with w_i in the open unit ball
of R^i.  With b_i = eta + (D - 1 - i)/2 the density over the free entries w_1..w_(D-1) is

    p(L) = prod_(i >= 1) (1 - |w_i|^2)^(b_i - 1) / Z_i = prod_(i >= 1) L_ii^(2 b_i - 2) / Z_i,
    Z_i  = pi^(i/2) Gamma(b_i) / Gamma(b_i + i/2),   b_i + i/2 = eta + (D - 1)/2,

so the rows are independent, and 2 b_i - 2 = 2 (eta - 1) + D - 1 - i.

Sampling is the onion method (Lewandowski, Kurowicka & Joe, 2009, sec. 3.2) in Cholesky
form: |w_i|^2 ~ Beta(i/2, b_i) and w_i / |w_i| uniform on the sphere (a normalised Gaussian
vector), which is exactly the row density above.  Each off-diagonal correlation C_ij then
has (C_ij + 1)/2 ~ Beta(eta - 1 + D/2, eta - 1 + D/2): mean 0, variance 1/(2 eta + D - 1).
"""
from __future__ import annotations

import math
import operator

from . import _ops as ops
from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all, standard_normal

__all__ = ["LKJCholesky"]

_LOG_PI = math.log(math.pi)


class LKJCholesky(Distribution):
    """Draws L (``dim`` x ``dim``, lower triangular) such that C = L L^T is a correlation
    matrix from the LKJ law, whose density in C is proportional to det(C)^(eta - 1);
    ``concentration`` eta > 0 is a number or a tensor of batch shape.  No rsample."""
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        try:
            operator.index(dim)
        except TypeError:
            # PyTorch builds the event shape from dim, which takes only integers
            raise TypeError(f"torch.Size() takes an iterable of 'int' (item 0 is "
                            f"'{type(dim).__name__}')") from None
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        super().__init__(self.concentration.shape, (dim, dim), validate_args=validate_args)
        self._radius = self._squared_radius_law()

    def _row_indices(self):
        """1, ..., D-1 in the concentration's dtype: the rows with free entries."""
        c = self.concentration
        return ops.arange(1, self.dim, dtype=c.dtype, device=c.device)

    def _row_b(self):
        """b_i = eta + (D - 1 - i)/2 for rows i = 1..D-1, shape batch_shape + (D-1,)."""
        return self.concentration.unsqueeze(-1) + 0.5 * (self.dim - 1 - self._row_indices())

    def _squared_radius_law(self):
        """Beta(i/2, b_i) for rows i = 1..D-1: the law of |w_i|^2 (batch_shape + (D-1,))."""
        return Beta(0.5 * self._row_indices(), self._row_b(), validate_args=False)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(LKJCholesky, batch_shape, _instance, ("concentration",))
        twin.dim = self.dim
        twin._radius = self._radius.expand(tuple(ops.Size(batch_shape)) + (self.dim - 1,))
        return twin

    def sample(self, sample_shape=ops.Size()):
        """Onion draws, vectorised over sample and batch dims (and over the rows)."""
        shape = self._extended_shape(sample_shape)
        with ops.no_grad():
            c = self.concentration
            radius2 = self._radius.sample(sample_shape)                # (..., D-1)
            none = ops.zeros(tuple(radius2.shape[:-1]) + (1,), dtype=c.dtype, device=c.device)
            radius2 = ops.cat([none, radius2], -1).unsqueeze(-1)      # row 0: no free entry
            gauss = standard_normal(shape, c).tril(-1)
            length = gauss.norm(dim=-1, keepdim=True).clamp(min=ops.finfo(c.dtype).tiny)
            off_diagonal = radius2.sqrt() * (gauss / length)
            diagonal = (1.0 - radius2[..., 0]).clamp(min=ops.finfo(c.dtype).tiny).sqrt()
            return off_diagonal + diagonal.diag_embed()

    def _log_normaliser(self):
        """sum_i log Z_i = D(D-1)/4 log(pi) + sum_i lgamma(b_i)
        - (D-1) lgamma(eta + (D-1)/2)."""
        n = self.dim - 1
        top = ops.lgamma(self.concentration + 0.5 * n)
        return 0.25 * n * (n + 1) * _LOG_PI + ops.lgamma(self._row_b()).sum(-1) - n * top

    def log_prob(self, value):
        """sum_(i >= 1) (2 (eta - 1) + D - 1 - i) log L_ii - sum_i log Z_i."""
        L = self._checked(value)
        powers = 2.0 * (self._row_b() - 1.0)
        log_diagonal = L.diagonal(dim1=-2, dim2=-1)[..., 1:].log()
        return (powers * log_diagonal).sum(-1) - self._log_normaliser()
