"""Registry entries added in round 5 of the third-party-code probes (see the entries below).
Checked like every entry: forward, gradients and second derivatives against torch and finite
differences."""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register  # noqa: F401

S = Sample


# ----------------------------------------------------------------------------------------------
# torch.linalg: inverses, solves, determinants, decompositions, matrix functions.  Matrices are
# well-conditioned (a multiple of the identity added); symmetric positive-definite inputs are
# built inside the function (x x^T + n I) so that finite differences move the whole matrix;
# where a result has a sign gauge, a gauge-invariant function of it is compared.
# ----------------------------------------------------------------------------------------------
def _square(g, *shape, shift=3.0):
    """Random square matrices (..., n, n) plus shift * I."""
    return g.randn(*shape) + shift * np.eye(shape[-1])


def _spd(lib, x):
    """x x^T + n I: symmetric positive-definite for any x (..., n, n)."""
    n = x.shape[-1]
    return x @ x.mT + n * lib.eye(n, dtype=x.dtype)


def _square_samples(g):
    yield S(_square(g, 3, 3))
    yield S(_square(g, 2, 4, 4), desc="batched")
    yield S(_square(g, 2, 1, 3, 3), desc="two batch dims")
    yield S(g.randn(0, 3, 3), desc="empty batch")
    yield S(g.away(1, 1), desc="1x1")


register("linalg_det", lambda lib, a: lib.linalg.det(a), _square_samples)
register("det_method", lambda lib, a: a.det(), lambda g: iter([S(_square(g, 2, 3, 3))]))
register("linalg_slogdet", lambda lib, a: lib.linalg.slogdet(a), _square_samples)
register("logdet", lambda lib, x: lib.logdet(_spd(lib, x)), lambda g: iter(
    [S(g.randn(3, 3)), S(g.randn(2, 4, 4), desc="batched")]))
register("linalg_inv", lambda lib, a: lib.linalg.inv(a), _square_samples)
register("inverse_method", lambda lib, a: a.inverse(), lambda g: iter([S(_square(g, 3, 3))]))
register("linalg_inv_ex", lambda lib, a: lib.linalg.inv_ex(a).inverse, lambda g: iter(
    [S(_square(g, 2, 3, 3))]))


def _solve_samples(g):
    yield S(_square(g, 3, 3), g.randn(3, 2))
    yield S(_square(g, 3, 3), g.randn(3), desc="vector B")
    yield S(_square(g, 2, 3, 3), g.randn(2, 3), desc="batch of vectors")
    yield S(_square(g, 2, 3, 3), g.randn(3, 4), desc="B broadcast over the batch")
    yield S(_square(g, 3, 3), g.randn(2, 3, 1), desc="A broadcast over the batch")
    yield S(_square(g, 3, 3), g.randn(2, 3), kwargs={"left": False}, desc="left=False")
    yield S(_square(g, 0, 3, 3), g.randn(0, 3, 2), desc="empty batch")


register("linalg_solve", lambda lib, a, b, **kw: lib.linalg.solve(a, b, **kw), _solve_samples)


def _solve_triangular_samples(g):
    for upper in (True, False):
        yield S(_square(g, 3, 3), g.randn(3, 2), kwargs={"upper": upper})
    yield S(_square(g, 2, 3, 3), g.randn(3, 4), kwargs={"upper": False, "left": True},
            desc="batched A")
    yield S(_square(g, 3, 3), g.randn(2, 4, 3), kwargs={"upper": True, "left": False},
            desc="left=False")
    yield S(g.randn(3, 3), g.randn(3, 2), kwargs={"upper": False, "unitriangular": True},
            desc="unitriangular")


register("linalg_solve_triangular",
         lambda lib, a, b, **kw: lib.linalg.solve_triangular(a, b, **kw),
         _solve_triangular_samples)
register("triangular_solve", lambda lib, b, a, **kw: lib.triangular_solve(b, a, **kw).solution,
         lambda g: iter([S(g.randn(3, 2), _square(g, 3, 3)),
                         S(g.randn(3, 2), _square(g, 2, 3, 3),
                           kwargs={"upper": False, "transpose": True}, desc="lower, transposed"),
                         S(g.randn(3, 2), g.randn(3, 3), kwargs={"unitriangular": True},
                           desc="unitriangular")]))


def _spd_samples(g):
    yield S(g.randn(3, 3))
    yield S(g.randn(2, 4, 4), desc="batched")
    yield S(g.randn(0, 3, 3), desc="empty batch")


register("linalg_cholesky", lambda lib, x, **kw: lib.linalg.cholesky(_spd(lib, x), **kw),
         lambda g: iter([*_spd_samples(g), S(g.randn(2, 3, 3), kwargs={"upper": True},
                                              desc="upper")]))
register("cholesky", lambda lib, x, upper=False: lib.cholesky(_spd(lib, x), upper),
         lambda g: iter([S(g.randn(3, 3)),
                         S(g.randn(3, 3), kwargs={"upper": True}, desc="upper")]))
register("linalg_cholesky_ex", lambda lib, x: lib.linalg.cholesky_ex(_spd(lib, x)).L,
         lambda g: iter([S(g.randn(2, 3, 3))]))


def _cholesky_solve(lib, b, x, upper=False):
    return lib.cholesky_solve(b, lib.linalg.cholesky(_spd(lib, x), upper=upper), upper)


register("cholesky_solve", _cholesky_solve, lambda g: iter(
    [S(g.randn(3, 2), g.randn(3, 3)), S(g.randn(2, 3, 2), g.randn(3, 3), desc="batched B"),
     S(g.randn(3, 2), g.randn(2, 3, 3), kwargs={"upper": True}, desc="upper, batched L")]))


def _qr(lib, a, mode="reduced"):
    """Q and R with the sign of each R_ii divided out (the factorisation's gauge)."""
    q, r = lib.linalg.qr(a, mode=mode)
    k = min(q.shape[-1], r.shape[-2])
    sign = lib.sign(lib.diagonal(r[..., :k, :], 0, -2, -1))
    if mode == "r":
        return r * sign.unsqueeze(-1) if r.shape[-2] == k else r
    return q[..., :k] * sign.unsqueeze(-2), r[..., :k, :] * sign.unsqueeze(-1)


register("linalg_qr", _qr, lambda g: iter(
    [S(g.randn(4, 3), desc="tall"), S(g.randn(3, 3), desc="square"),
     S(g.randn(3, 5), desc="wide"), S(g.randn(2, 4, 3), desc="batched"),
     S(g.randn(3, 3), kwargs={"mode": "complete"}, desc="complete, square")]))


def _eigh(lib, x, UPLO="L"):
    """Eigenvalues and V diag(c) V^T (c fixed and distinct: sign-free, exercises V's
    gradient) of a symmetric matrix built from x."""
    w, v = lib.linalg.eigh(x + x.mT, UPLO=UPLO)
    c = lib.arange(v.shape[-1], dtype=x.dtype) + 1.0
    return w, (v * c) @ v.mT


def _distinct_symmetric(g, *shape):
    """x with x + x^T having well-separated eigenvalues."""
    n = shape[-1]
    return 0.3 * g.randn(*shape) + np.diag(np.arange(n) * 1.5)


register("linalg_eigh", _eigh, lambda g: iter(
    [S(_distinct_symmetric(g, 3, 3)), S(_distinct_symmetric(g, 2, 4, 4), desc="batched"),
     S(_distinct_symmetric(g, 3, 3), kwargs={"UPLO": "U"}, desc="UPLO=U"),
     S(g.randn(0, 3, 3), desc="empty batch")]))
register("linalg_eigvalsh", lambda lib, x, **kw: lib.linalg.eigvalsh(x + x.mT, **kw),
         lambda g: iter([S(_distinct_symmetric(g, 2, 3, 3)),
                         S(_distinct_symmetric(g, 3, 3), kwargs={"UPLO": "U"}, desc="UPLO=U")]))


def _svd(lib, a, full_matrices=True):
    """S and U diag(c) Vh restricted to the first k columns/rows (c fixed, distinct)."""
    u, s, vh = lib.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    c = lib.arange(k, dtype=a.dtype) + 1.0
    return s, (u[..., :k] * c) @ vh[..., :k, :]


register("linalg_svd", _svd, lambda g: iter(
    [S(g.randn(4, 3), kwargs={"full_matrices": False}, desc="tall"),
     S(g.randn(3, 5), kwargs={"full_matrices": False}, desc="wide"),
     S(g.randn(2, 3, 3), desc="batched square"),
     S(g.randn(4, 2), desc="tall, full_matrices")]))
def _torch_svd(lib, a, some=True):
    """S and U diag(c) V^T over the first k columns (c fixed, distinct)."""
    u, s, v = lib.svd(a, some=some)
    k = s.shape[-1]
    return s, (u[..., :k] * (lib.arange(k, dtype=a.dtype) + 1.0)) @ v[..., :k].mT


register("svd", _torch_svd,
         lambda g: iter([S(g.randn(4, 3)), S(g.randn(2, 3, 4), kwargs={"some": False},
                                             desc="some=False")]))
def _low_rank(lib, a, b, fn="svd_lowrank", **kw):
    """svd_lowrank / pca_lowrank of A = a b^T, of rank k = a's columns, with q = k: exact
    whatever the random start, and A keeps its rank under any perturbation of a and b, so the
    finite differences see the same function. Compared as S and U diag(c) V^T (c distinct),
    which do not depend on the signs of the singular vectors."""
    # the random start seeded alike in both libraries (their seeded draws are equal): exact
    # in theory whatever the start, but an ill-conditioned one costs float32 digits
    with lib.random.fork_rng():
        lib.manual_seed(0)
        u, s, v = getattr(lib, fn)(a @ b.mT, q=a.shape[-1], **kw)
    c = lib.arange(s.shape[-1], dtype=a.dtype) + 1.0
    return s, (u * c) @ v.mT


def _low_rank_samples(g):
    yield S(g.randn(5, 2), g.randn(4, 2), desc="tall, rank 2")
    yield S(g.randn(3, 2), g.randn(6, 2), kwargs={"niter": 0}, desc="wide, niter=0")
    yield S(g.randn(2, 4, 1), g.randn(2, 3, 1), desc="batched, rank 1")
    yield S(g.randn(5, 2), g.randn(4, 2), kwargs={"fn": "pca_lowrank", "center": False},
            desc="pca_lowrank, not centred")
    yield S(g.randn(5, 2), g.randn(4, 2), kwargs={"fn": "pca_lowrank"},
            desc="pca_lowrank, centred (rank 2 still)")


register("svd_lowrank", _low_rank, _low_rank_samples)


register("linalg_pinv", lambda lib, a, **kw: lib.linalg.pinv(a, **kw), lambda g: iter(
    [S(g.randn(4, 3), desc="tall"), S(g.randn(3, 5), desc="wide"),
     S(g.randn(2, 3, 3), desc="batched"), S(g.randn(0, 3, 2), desc="empty batch")]))
register("linalg_pinv_hermitian",
         lambda lib, x: lib.linalg.pinv(_spd(lib, x), hermitian=True),
         lambda g: iter([S(g.randn(3, 3)), S(g.randn(2, 3, 3), desc="batched")]))
register("linalg_lstsq", lambda lib, a, b: lib.linalg.lstsq(a, b).solution, lambda g: iter(
    [S(g.randn(5, 3), g.randn(5, 2)), S(g.randn(2, 4, 3), g.randn(2, 4, 1), desc="batched"),
     S(_square(g, 3, 3), g.randn(3, 2), desc="square")]))


def _matrix_power_samples(g):
    for n in (0, 1, 2, 3, 5):
        yield S(g.randn(3, 3) * 0.7, n, desc=f"n={n}")
    yield S(g.randn(2, 3, 3) * 0.7, 4, desc="batched n=4")
    yield S(_square(g, 3, 3), -2, desc="n=-2")


register("linalg_matrix_power", lambda lib, a, n: lib.linalg.matrix_power(a, n),
         _matrix_power_samples)
register("matrix_power_method", lambda lib, a, n: a.matrix_power(n),
         lambda g: iter([S(g.randn(3, 3) * 0.7, 3)]))
register("linalg_matrix_exp", lambda lib, a: lib.linalg.matrix_exp(a), lambda g: iter(
    [S(g.randn(3, 3) * 0.3, desc="small norm"), S(g.randn(3, 3) * 3.0, desc="scaled"),
     S(g.randn(2, 3, 3) * np.array([0.2, 4.0])[:, None, None], desc="batch, mixed norms"),
     S(g.randn(1, 1), desc="1x1"), S(g.randn(0, 2, 2), desc="empty batch")]))
register("matrix_exp", lambda lib, a: lib.matrix_exp(a), lambda g: iter([S(g.randn(2, 2))]))
register("linalg_multi_dot", lambda lib, *ts: lib.linalg.multi_dot(list(ts)), lambda g: iter(
    [S(g.randn(2, 5), g.randn(5, 3), g.randn(3, 4)),
     S(g.randn(5), g.randn(5, 3), g.randn(3, 4), g.randn(4), desc="vector ends"),
     S(g.randn(2, 3), g.randn(3, 1), desc="two")]))
register("linalg_householder_product",
         lambda lib, a, tau: lib.linalg.householder_product(a, tau), lambda g: iter(
             [S(g.randn(4, 3), g.randn(3)), S(g.randn(2, 4, 3), g.randn(2, 2), desc="k < n"),
              S(g.randn(3, 3), g.randn(3), desc="square")]))
