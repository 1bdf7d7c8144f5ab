"""``LowRankMultivariateNormal(loc, cov_factor, cov_diag)``: the Gaussian on R^n whose
covariance is W W^T + D, with W (n, m) a low-rank factor and D = diag(cov_diag) > 0.

Nothing n x n is factored: with the m x m "capacitance" C = I + W^T D^-1 W and its Cholesky
factor L_C, the Woodbury identity and the matrix determinant lemma give

    x^T (W W^T + D)^-1 x = x^T D^-1 x - |L_C^-1 W^T D^-1 x|^2
    log det(W W^T + D)   = log det C + sum(log D)
    rsample              = loc + W eps_m + sqrt(D) eps_n
"""
from __future__ import annotations

import math

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .multivariate_normal import batch_mahalanobis, batch_mv
from .utils import lazy_property, standard_normal

__all__ = ["LowRankMultivariateNormal"]

_LOG_TWO_PI = math.log(2 * math.pi)


def _plus_identity(matrix):
    """matrix + I for a batch of square matrices."""
    n = matrix.shape[-1]
    return matrix + ops.eye(n, dtype=matrix.dtype, device=matrix.device)


def capacitance_tril(W, D):
    """The Cholesky factor of I + W^T D^-1 W (m x m)."""
    scaled = W.transpose(-2, -1) / D.unsqueeze(-2)
    return ops.cholesky(_plus_identity(scaled @ W))


def lowrank_logdet(D, cap_tril):
    """log det(W W^T + D) = 2 sum(log diag L_C) + sum(log D)."""
    return 2 * cap_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1) + D.log().sum(-1)


def lowrank_mahalanobis(W, D, x, cap_tril):
    """x^T (W W^T + D)^-1 x, by the Woodbury identity."""
    projected = batch_mv(W.transpose(-2, -1) / D.unsqueeze(-2), x)
    return (x.pow(2) / D).sum(-1) - batch_mahalanobis(cap_tril, projected)


class LowRankMultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        event_shape = tuple(loc.shape[-1:])
        if cov_factor.dim() < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        if tuple(cov_factor.shape[-2:-1]) != event_shape:
            raise ValueError(f"cov_factor must be a batch of matrices with shape "
                             f"{event_shape[0]} x m")
        if tuple(cov_diag.shape[-1:]) != event_shape:
            raise ValueError(f"cov_diag must be a batch of vectors with shape "
                             f"{ops.Size(event_shape)}".replace("minigrad.", "torch."))
        try:
            loc_, factor, diag_ = ops.broadcast_tensors(loc.unsqueeze(-1), cov_factor,
                                                        cov_diag.unsqueeze(-1))
        except RuntimeError as exc:
            raise ValueError(
                f"Incompatible batch shapes: loc {loc.shape}, cov_factor {cov_factor.shape}, "
                f"cov_diag {cov_diag.shape}".replace("minigrad.", "torch.")) from exc
        self.loc, self.cov_factor, self.cov_diag = loc_[..., 0], factor, diag_[..., 0]
        self._unbroadcasted_cov_factor = cov_factor
        self._unbroadcasted_cov_diag = cov_diag
        self._capacitance_tril = capacitance_tril(cov_factor, cov_diag)
        super().__init__(self.loc.shape[:-1], event_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(LowRankMultivariateNormal, batch_shape, _instance,
                                   ("loc", "cov_factor", "cov_diag"))
        twin._unbroadcasted_cov_factor = self._unbroadcasted_cov_factor
        twin._unbroadcasted_cov_diag = self._unbroadcasted_cov_diag
        twin._capacitance_tril = self._capacitance_tril
        return twin

    def _full_matrix_shape(self):
        n = tuple(self._event_shape)
        return tuple(self._batch_shape) + n + n

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @lazy_property
    def variance(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (W.pow(2).sum(-1) + D).expand(tuple(self._batch_shape) +
                                              tuple(self._event_shape))

    @lazy_property
    def scale_tril(self):
        """sqrt(D) chol(I + D^-1/2 W W^T D^-1/2): a lower factor of the covariance."""
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        root = D.sqrt().unsqueeze(-1)
        scaled = W / root
        inner = _plus_identity(scaled @ scaled.transpose(-2, -1))
        return (root * ops.cholesky(inner)).expand(self._full_matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (W @ W.transpose(-2, -1) + D.diag_embed()).expand(self._full_matrix_shape())

    @lazy_property
    def precision_matrix(self):
        """D^-1 - D^-1 W C^-1 W^T D^-1 (Woodbury)."""
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        half = ops.solve_triangular(self._capacitance_tril, W.transpose(-2, -1) /
                                    D.unsqueeze(-2), upper=False)
        precision = D.reciprocal().diag_embed() - half.transpose(-2, -1) @ half
        return precision.expand(self._full_matrix_shape())

    def rsample(self, sample_shape=ops.Size()):
        shape = tuple(self._extended_shape(sample_shape))
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        eps_w = standard_normal(shape[:-1] + tuple(W.shape[-1:]), self.loc)
        eps_d = standard_normal(shape, self.loc)
        return self.loc + batch_mv(W, eps_w) + D.sqrt() * eps_d

    def log_prob(self, value):
        diff = self._checked(value) - self.loc
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        squared = lowrank_mahalanobis(W, D, diff, self._capacitance_tril)
        log_det = lowrank_logdet(D, self._capacitance_tril)
        return -0.5 * (self._event_shape[0] * _LOG_TWO_PI + log_det + squared)

    def entropy(self):
        log_det = lowrank_logdet(self._unbroadcasted_cov_diag, self._capacitance_tril)
        h = 0.5 * (self._event_shape[0] * (1.0 + _LOG_TWO_PI) + log_det)
        return h.expand(self._batch_shape) if len(self._batch_shape) else h
