"""svd_lowrank and pca_lowrank beyond the registry's exact low-rank samples: refusals in
PyTorch's types and words, shapes when q exceeds the matrix, the seed, and the quality of the
approximation of a noisy low-rank matrix."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both  # noqa: E402


@pytest.mark.parametrize("case", [
    lambda L: L.pca_lowrank(L.ones(5, 3), q=-1),
    lambda L: L.pca_lowrank(L.ones(5, 3), q=4),
    lambda L: L.pca_lowrank(L.ones(5, 3), niter=-1),
    lambda L: L.pca_lowrank(np.ones((5, 3))),
    lambda L: L.svd_lowrank([[1.0]]),
    lambda L: L.svd_lowrank(L.ones(3)),
])
def test_refusals_match_pytorch(case):
    mine, theirs = both(case, errors=True)
    assert isinstance(theirs, Exception)
    assert type(mine) is type(theirs) and str(mine) == str(theirs)


@pytest.mark.parametrize("shape, q", [((5, 3), 4), ((3, 6), 2), ((0, 3), 2), ((2, 4, 3), None),
                                      ((4, 4), 0)])
def test_shapes(shape, q):
    mine, theirs = both(lambda L: [tuple(t.shape) for t in L.svd_lowrank(
        L.ones(*shape, dtype=L.float64), q=q)], errors=True)
    assert mine == theirs


def test_noisy_low_rank_matrix_is_recovered():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 40)) * 10
    A += 1e-3 * rng.standard_normal(A.shape)
    exact = np.linalg.svd(A, compute_uv=False)[:4]
    u, s, v = minigrad.svd_lowrank(minigrad.tensor(A), q=4)
    np.testing.assert_allclose(s.numpy(), exact, rtol=1e-6)
    np.testing.assert_allclose(u.mT.matmul(u).numpy(), np.eye(4), atol=1e-12)
    np.testing.assert_allclose(((u * s) @ v.mT).numpy(), A, atol=1e-2)


def test_pca_matches_the_covariance_eigenvalues_and_the_seed_repeats_it():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3)) @ np.diag([5.0, 2.0, 0.5]) + 7.0
    minigrad.manual_seed(3)
    _, s, v = minigrad.pca_lowrank(minigrad.tensor(X, dtype=minigrad.float32), q=3)
    assert s.dtype == minigrad.float32 and tuple(v.shape) == (3, 3)
    eig = np.sort(np.linalg.eigvalsh(np.cov(X.T)))[::-1]
    np.testing.assert_allclose(s.numpy() ** 2 / (200 - 1), eig, rtol=1e-4)
    minigrad.manual_seed(3)
    again = minigrad.pca_lowrank(minigrad.tensor(X, dtype=minigrad.float32), q=3)[1]
    np.testing.assert_array_equal(again.numpy(), s.numpy())
