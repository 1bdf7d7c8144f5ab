"""``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)``:
the Gaussian N(loc, Sigma) on R^k, given by exactly one of Sigma, its inverse, or its lower
Cholesky factor L (Sigma = L L^T).  Everything is computed from L:

    log p(x) = -(k log(2 pi) + |L^-1 (x - loc)|^2) / 2 - sum(log diag L)
    rsample  = loc + L eps,  eps ~ N(0, I_k)
"""
from __future__ import annotations

import math

from . import _ops as ops
from . import constraints
from .distribution import Distribution
from .utils import lazy_property, standard_normal

__all__ = ["MultivariateNormal"]


_LOG_TWO_PI = math.log(2 * math.pi)
_MATRIX_ARGS = ("covariance_matrix", "precision_matrix", "scale_tril")


def batch_mv(bmat, bvec):
    """Matrix (..., n, n) times vector (..., n), broadcast over the batch dims."""
    return (bmat @ bvec[..., None])[..., 0]


def batch_mahalanobis(bL, bx):
    """|L^-1 x|^2 for lower-triangular L (..., n, n) and x (..., n), broadcast."""
    n = bx.shape[-1]
    lead = tuple(ops.broadcast_shapes(tuple(bL.shape[:-2]), tuple(bx.shape[:-1])))
    rhs = bx.expand(lead + (n,))[..., None]
    whitened = ops.solve_triangular(bL.expand(lead + (n, n)), rhs, upper=False)
    return (whitened * whitened).sum((-2, -1))


def _tril_inverse(L):
    """L^-1 for lower-triangular L (..., n, n), by a triangular solve against I."""
    eye = ops.eye(L.shape[-1], dtype=L.dtype, device=L.device).expand(L.shape)
    return ops.solve_triangular(L, eye, upper=False)


def precision_to_scale_tril(P):
    """L with L L^T = P^-1 without inverting P: with J the reversal permutation, the
    Cholesky factor C of J P J gives P = (J C J)(J C J)^T, where J C J is upper triangular;
    so P^-1 = M^T M with M = (J C J)^-1, and L = M^T is lower triangular."""
    reversed_factor = ops.cholesky(P.flip((-2, -1))).flip((-2, -1))
    return _tril_inverse(reversed_factor.transpose(-2, -1))


def scale_tril_of(name, matrix):
    """The lower Cholesky factor L (L L^T = covariance) from whichever of ``scale_tril``,
    ``covariance_matrix`` or ``precision_matrix`` (``name``) was given."""
    if name == "scale_tril":
        return matrix
    if name == "covariance_matrix":
        return ops.cholesky(matrix)
    return precision_to_scale_tril(matrix)


def _log_det_half(L):
    """log sqrt(det(L L^T)) = sum(log diag L)."""
    return L.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        if loc.dim() == 0:
            raise ValueError("loc must be at least one-dimensional.")
        given = {"covariance_matrix": covariance_matrix, "precision_matrix": precision_matrix,
                 "scale_tril": scale_tril}
        given = {name: m for name, m in given.items() if m is not None}
        if len(given) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or "
                             "scale_tril may be specified.")
        ((name, matrix),) = given.items()
        if matrix.dim() < 2:
            what = "scale_tril matrix" if name == "scale_tril" else name
            raise ValueError(f"{what} must be at least two-dimensional, "
                             "with optional leading batch dimensions")
        batch = tuple(ops.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1])))
        setattr(self, name, matrix.expand(batch + (-1, -1)))
        self.loc = loc.expand(batch + (-1,))
        super().__init__(batch, self.loc.shape[-1:], validate_args=validate_args)
        self._unbroadcasted_scale_tril = scale_tril_of(name, matrix)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(MultivariateNormal, batch_shape, _instance,
                                   ("loc",) + _MATRIX_ARGS)
        twin._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return twin

    def _full_matrix_shape(self):
        k = tuple(self._event_shape)
        return tuple(self._batch_shape) + k + k

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._full_matrix_shape())

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self._full_matrix_shape())

    @lazy_property
    def precision_matrix(self):
        inv = _tril_inverse(self._unbroadcasted_scale_tril)
        return (inv.transpose(-2, -1) @ inv).expand(self._full_matrix_shape())

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        """diag(L L^T): the row sums of L squared."""
        L = self._unbroadcasted_scale_tril
        return (L * L).sum(-1).expand(tuple(self._batch_shape) + tuple(self._event_shape))

    def rsample(self, sample_shape=ops.Size()):
        noise = standard_normal(self._extended_shape(sample_shape), self.loc)
        return batch_mv(self._unbroadcasted_scale_tril, noise) + self.loc

    def log_prob(self, value):
        L = self._unbroadcasted_scale_tril
        squared = batch_mahalanobis(L, self._checked(value) - self.loc)
        k = self._event_shape[0]
        return -0.5 * (squared + k * _LOG_TWO_PI) - _log_det_half(L)

    def entropy(self):
        """k (1 + log 2 pi) / 2 + sum(log diag L)."""
        k = self._event_shape[0]
        h = _log_det_half(self._unbroadcasted_scale_tril) + 0.5 * k * (1.0 + _LOG_TWO_PI)
        return h.expand(self._batch_shape) if len(self._batch_shape) else h
