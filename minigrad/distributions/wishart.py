"""``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``: the law of
the scatter matrix X = sum_k g_k g_k^T of df Gaussian vectors g_k ~ N(0, Sigma) on R^p,
extended to any real df > p - 1.  Draws are symmetric positive definite p x p matrices
(event shape (p, p)).  Sigma is given by exactly one of itself, its inverse, or its lower
Cholesky factor L; everything is computed from L.  With log|L| = sum(log diag L):

    log p(X) = (df - p - 1)/2 log det X - tr(Sigma^-1 X)/2
               - df (p log(2)/2 + log|L|) - mvlgamma(df/2, p)
    entropy  = (p + 1)(p log(2)/2 + log|L|) + mvlgamma(df/2, p)
               - (df - p - 1)/2 mvdigamma(df/2, p) + df p / 2
    mean     = df Sigma,   Var(X_ij) = df (Sigma_ij^2 + Sigma_ii Sigma_jj)

rsample uses the Bartlett decomposition X = (L A)(L A)^T, where A is lower triangular with
A_ii = sqrt(c_i), c_i ~ chi2(df - i) (i = 0..p-1, drawn as 2 Gamma((df - i)/2, 1) with
implicit gradients in df) and independent N(0, 1) entries below the diagonal.

As an exponential family: natural parameters (-Sigma^-1 / 2, (df - p - 1)/2), sufficient
statistic (X, log det X), log-normalizer
F(t1, t2) = (t2 + (p + 1)/2)(p log 2 - log det(-2 t1)) + mvlgamma(t2 + (p + 1)/2, p).
"""
from __future__ import annotations

import math
from numbers import Number

import numpy as np

from .._warn_once import warn_user
from ..linalg import slogdet
from ..ops.triangular_solve import cholesky_solve
from ..ops.special_functions import mvlgamma
from . import _ops as ops
from . import constraints
from ._standard_gamma import standard_gamma
from .exp_family import ExponentialFamily
from .multivariate_normal import _log_det_half, scale_tril_of
from .utils import lazy_property, param_numpy, standard_normal, wrap_draws

__all__ = ["Wishart"]

_LOG_TWO = math.log(2.0)
_HALF_LOG_TWO = 0.5 * _LOG_TWO
_MATRIX_ARGS = ("covariance_matrix", "precision_matrix", "scale_tril")
_DEFAULT_TRIES = 10


def _mvdigamma(x, p):
    """The multivariate digamma function sum_(i < p) digamma(x - i/2), the derivative of
    mvlgamma(x, p); defined for x > (p - 1)/2."""
    if not bool((x > (p - 1) / 2).all()):
        raise AssertionError("Wrong domain for multivariate digamma function.")
    halves = ops.arange(p, dtype=x.dtype, device=x.device) * 0.5
    return ops.digamma(x.unsqueeze(-1) - halves).sum(-1)


def _as_df(df, matrix):
    """(df as a tensor, batch shape): a plain number becomes a 0-d tensor in the matrix's
    dtype and leaves the batch to the matrix; a tensor is broadcast with the matrix's batch."""
    matrix_batch = tuple(matrix.shape[:-2])
    if isinstance(df, Number):
        return ops.tensor(df, dtype=matrix.dtype, device=matrix.device), matrix_batch
    batch = tuple(ops.broadcast_shapes(matrix_batch, tuple(df.shape)))
    return df.expand(batch), batch


class Wishart(ExponentialFamily):
    """Wishart distribution over p x p positive definite matrices; ``df`` (batch shape) must
    exceed p - 1.  See the module docstring for the formulas."""
    support = constraints.positive_definite
    has_rsample = True
    _mean_carrier_measure = 0

    @property
    def arg_constraints(self):
        p = self._event_shape[-1]
        return {"covariance_matrix": constraints.positive_definite,
                "precision_matrix": constraints.positive_definite,
                "scale_tril": constraints.lower_cholesky,
                "df": constraints.greater_than(p - 1)}

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        supplied = [(name, m) for name, m in zip(
            _MATRIX_ARGS, (covariance_matrix, precision_matrix, scale_tril)) if m is not None]
        if len(supplied) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        ((name, matrix),) = supplied
        if matrix.dim() < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        self.df, batch = _as_df(df, matrix)
        p = matrix.shape[-1]
        if bool((self.df <= p - 1).any()):
            shown = f"{df}".replace("minigrad.", "torch.")   # a 0-d tensor shows its value
            raise ValueError(f"Value of df={shown} expected to be greater than ndim - 1 = "
                             f"{p - 1}.")
        setattr(self, name, matrix.expand(batch + (-1, -1)))
        if bool((self.df < p).any()):
            warn_user("Low df values detected. Singular samples are highly likely to "
                      "occur for ndim - 1 < df < ndim.")
        super().__init__(batch, tuple(matrix.shape[-2:]), validate_args=validate_args)
        self._unbroadcasted_scale_tril = scale_tril_of(name, matrix)

    def expand(self, batch_shape, _instance=None):
        twin = self._expand_params(Wishart, batch_shape, _instance, ("df",) + _MATRIX_ARGS)
        twin._unbroadcasted_scale_tril = self._unbroadcasted_scale_tril
        return twin

    def _full_shape(self):
        return tuple(self._batch_shape) + tuple(self._event_shape)

    @lazy_property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self._full_shape())

    @lazy_property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(self._full_shape())

    @lazy_property
    def precision_matrix(self):
        """Sigma^-1, solving (L L^T) P = I."""
        L = self._unbroadcasted_scale_tril
        eye = ops.eye(L.shape[-1], dtype=L.dtype, device=L.device)
        return cholesky_solve(eye, L).expand(self._full_shape())

    def _df_matrix(self):
        """df with two trailing unit dims, to scale a batch of matrices."""
        return self.df[..., None, None]

    @property
    def mean(self):
        return self._df_matrix() * self.covariance_matrix

    @property
    def mode(self):
        """(df - p - 1) Sigma, NaN where df <= p + 1 (no interior mode there)."""
        excess = self.df - (self._event_shape[-1] + 1)
        excess = ops.where(excess > 0, excess, float("nan"))
        return excess[..., None, None] * self.covariance_matrix

    @property
    def variance(self):
        """Elementwise: df (Sigma_ij^2 + Sigma_ii Sigma_jj)."""
        sigma = self.covariance_matrix
        d = sigma.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix() * (sigma * sigma + d.unsqueeze(-1) * d.unsqueeze(-2))

    def _bartlett_draw(self, sample_shape):
        """One Bartlett draw per matrix of shape sample_shape + batch_shape + (p, p)."""
        L = self._unbroadcasted_scale_tril
        p = self._event_shape[-1]
        lead = tuple(sample_shape) + tuple(self._batch_shape)
        steps = ops.arange(p, dtype=L.dtype, device=L.device)
        dofs = (self.df.unsqueeze(-1) - steps).expand(lead + (p,))
        chi_squared = 2.0 * standard_gamma(0.5 * dofs)
        diagonal = chi_squared.sqrt().clamp(min=ops.finfo(L.dtype).eps)
        # normals for the strictly lower entries only, drawn after the chi-squares and laid
        # out row by row (PyTorch's draw order)
        normals = param_numpy(standard_normal(lead + (p * (p - 1) // 2,), L))
        below = np.zeros(lead + (p, p), dtype=normals.dtype)
        rows, cols = np.tril_indices(p, -1)
        below[..., rows, cols] = normals
        lower = wrap_draws(below, L)
        factor = L @ (diagonal.diag_embed() + lower)
        return factor @ factor.mT

    def _singular(self, draws):
        """Boolean mask (one per matrix) of draws that are not positive definite."""
        return ~self.support.check(draws.detach())

    def rsample(self, sample_shape=ops.Size(), max_try_correction=None):
        """Bartlett draws.  For df close to p - 1 a draw can come out numerically singular;
        such matrices are redrawn up to ``max_try_correction`` times (10 by default), with
        the warning "Singular sample detected.", and may still be singular after that."""
        tries = _DEFAULT_TRIES if max_try_correction is None else max_try_correction
        shape = ops.Size(sample_shape)
        draws = self._bartlett_draw(shape)
        # PyTorch's first test marks the draws that pass the positive-definite check (not
        # those that fail it), so a valid first draw warns and is drawn again once; done the
        # same way here, so that a seeded program gets its numbers and its warning
        bad = self._per_sample(self.support.check(draws.detach()))
        if bool(bad.any()):
            warn_user("Singular sample detected.")
            for _ in range(tries):
                fresh = self._bartlett_draw(ops.Size([int(bad.sum())]))
                draws[bad] = fresh
                still = bad.clone()
                still[bad] = self._per_sample(self._singular(fresh))
                bad = still
                if not bool(bad.any()):
                    break
        return draws

    def _per_sample(self, flags):
        """Flags of shape sample_shape + batch_shape -> sample_shape (any over the batch)."""
        for _ in range(len(self._batch_shape)):
            flags = flags.any(-1)
        return flags

    def _half_log_det_terms(self):
        """p log(2)/2 + log|L|, of shape batch_shape (or the unbroadcasted L's batch)."""
        return self._event_shape[-1] * _HALF_LOG_TWO + _log_det_half(
            self._unbroadcasted_scale_tril)

    def log_prob(self, value):
        X = self._checked(value)
        nu, p = self.df, self._event_shape[-1]
        trace = cholesky_solve(X, self._unbroadcasted_scale_tril).diagonal(
            dim1=-2, dim2=-1).sum(-1)
        log_det_x = slogdet(X).logabsdet
        return (0.5 * (nu - p - 1) * log_det_x - 0.5 * trace
                - nu * self._half_log_det_terms() - mvlgamma(0.5 * nu, p))

    def entropy(self):
        nu, p = self.df, self._event_shape[-1]
        half_nu = 0.5 * nu
        return ((p + 1) * self._half_log_det_terms() + mvlgamma(half_nu, p)
                - 0.5 * (nu - p - 1) * _mvdigamma(half_nu, p) + 0.5 * p * nu)

    @property
    def _natural_params(self):
        return -0.5 * self.precision_matrix, 0.5 * (self.df - self._event_shape[-1] - 1)

    def _log_normalizer(self, x, y):
        p = self._event_shape[-1]
        half_nu = y + 0.5 * (p + 1)
        log_det_sigma = -slogdet(-2.0 * x).logabsdet
        return half_nu * (log_det_sigma + p * _LOG_TWO) + mvlgamma(half_nu, p)
