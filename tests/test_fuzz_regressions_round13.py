"""Regression tests for the round-13 fuzzer's finds (random calls of torch.linalg, torch.fft
and torch.special on singular, non-finite, batched and badly shaped inputs): each case runs
the same code on PyTorch and on minigrad and compares values, dtypes, shapes, gradients and
the exception types and words."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402


def _both(fn):
    """fn(lib) for minigrad and torch, as numpy arrays (float64)."""
    return [np.asarray(fn(lib).detach().numpy(), dtype=np.float64) for lib in (minigrad, torch)]


# ---- inv of a matrix holding NaN / inf: NaN for that matrix (the others inverted), no error --
@pytest.mark.parametrize("a", [
    [[np.nan, 1.0], [1.0, 1.0]],
    [[1.0, np.nan], [1.0, 1.0]],
    [[[np.nan, 1.0], [1.0, 1.0]], [[2.0, 0.0], [0.0, 4.0]]],
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, np.nan]],
    [[np.nan, 1.0], [1.0, 2.0]],                 # numpy's LAPACK keeps its second row finite
    [[[2.0, 1.0], [1.0, np.nan]], [[np.inf, 0.0], [0.0, 1.0]], [[1.0, np.inf], [0.0, 1.0]]],
])
@pytest.mark.parametrize("op", ["inv", "inv_ex", "inverse", "matrix_power"])
def test_inverse_of_nan_matrix_is_nan(a, op):
    def run(lib):
        x = lib.tensor(a, dtype=lib.float64)
        if op == "inv_ex":
            return lib.linalg.inv_ex(x).inverse
        if op == "matrix_power":
            return lib.linalg.matrix_power(x, -1)
        return lib.inverse(x) if op == "inverse" else lib.linalg.inv(x)
    agree(run)


def test_det_gradient_of_nan_matrix():
    def run(lib):
        x = lib.tensor([[np.nan, 1.0], [1.0, 1.0]], dtype=lib.float64, requires_grad=True)
        lib.linalg.det(x).backward()
        return x.grad
    agree(run)


def test_inv_of_singular_matrix_beside_a_nan_one_still_raises():
    a = [[[np.nan, 1.0], [1.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match=r"\(Batch element 1\): The diagonal element 1 "
                                               "is zero"):
            lib.linalg.inv(lib.tensor(a, dtype=lib.float64))


# ---- logdet of a real matrix with a negative determinant: NaN picked, zero gradient there -----
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logdet_negative_determinant_gradient_is_zero(dtype):
    a = [[[0.0, 1.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 3.0]], [[-1.0, 0.5], [0.2, 2.0]]]

    def run(lib):
        x = lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.logdet(x)
        (y * y).nan_to_num().sum().backward()
        return y.detach(), x.grad
    agree(run)


def test_logdet_zero_determinant_is_minus_inf():
    agree(lambda lib: lib.logdet(lib.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=lib.float64)))


# ---- slogdet / logdet backward on a singular matrix: non-finite gradient, no error ------------
@pytest.mark.parametrize("op", ["slogdet", "logdet"])
def test_log_determinant_backward_of_singular_matrix_does_not_raise(op):
    a = [[[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 3.0]]]
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor(a, dtype=lib.float64, requires_grad=True)
        y = lib.linalg.slogdet(x)[1] if op == "slogdet" else lib.logdet(x)
        y.sum().backward()
        grads.append(x.grad.numpy())
    mine, theirs = grads
    # PyTorch's LU-based inverse gives +-inf or NaN on the singular matrix: both non-finite
    assert not np.isfinite(mine[0]).any() and not np.isfinite(theirs[0]).any()
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)


# ---- torch.cholesky's error is headed by its own name -----------------------------------------
@pytest.mark.filterwarnings("ignore:torch.cholesky is deprecated")
@pytest.mark.parametrize("upper", [False, True])
def test_torch_cholesky_error_names_cholesky(upper):
    a = [[1.0, 2.0], [2.0, 1.0]]
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match=r"^cholesky: .*leading minor of order 2"):
            lib.cholesky(lib.tensor(a, dtype=lib.float64), upper)
        with pytest.raises(RuntimeError, match=r"^linalg.cholesky: The factorization"):
            lib.linalg.cholesky(lib.tensor(a, dtype=lib.float64), upper=upper)


# ---- eigh / eigvalsh take UPLO in either case -------------------------------------------------
@pytest.mark.parametrize("uplo", ["u", "l", "U", "L"])
def test_eigh_uplo_any_case(uplo):
    a = np.array([[2.0, 1.0, -3.0], [0.5, 1.0, 0.25], [4.0, -1.0, 3.0]])
    agree(lambda lib: lib.linalg.eigvalsh(lib.tensor(a), UPLO=uplo))
    agree(lambda lib: lib.linalg.eigh(lib.tensor(a), UPLO=uplo)[0])
    agree(lambda lib: lib.linalg.eigh(lib.tensor(a), UPLO=uplo)[1].abs())


@pytest.mark.parametrize("uplo", ["Lower", "uu", ""])
def test_eigh_bad_uplo(uplo):
    agree(lambda lib: lib.linalg.eigvalsh(lib.eye(3), UPLO=uplo), match="Expected UPLO")


# ---- logit with eps above 0.5: the low bound is applied first ---------------------------------
@pytest.mark.parametrize("eps", [0.6, 0.9, -0.1, 0.2, 0.5])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logit_eps_clamp_order(eps, dtype):
    x = np.array([-1.0, 0.0, 0.3, 0.5, 0.7, 1.0, 2.0, np.nan])
    agree(lambda lib: lib.logit(lib.tensor(x, dtype=getattr(lib, dtype)), eps))
    agree(lambda lib: lib.special.logit(lib.tensor(x, dtype=getattr(lib, dtype)), eps=eps))


# ---- matrix_rank / pinv: a tolerance tensor not broadcasting with the batch ------------------
@pytest.mark.parametrize("call", [
    lambda lib, a, t: lib.linalg.matrix_rank(a, atol=t),
    lambda lib, a, t: lib.linalg.matrix_rank(a, rtol=t, hermitian=True),
    lambda lib, a, t: lib.linalg.pinv(a, atol=t),
    lambda lib, a, t: lib.linalg.pinv(a, rtol=t, hermitian=True),
])
def test_tolerance_tensor_broadcast_error(call):
    a = np.eye(4) * np.array([3.0, 1.0, 0.1, 1e-3])
    batch = np.stack([a, 2 * a, a + a.T])
    agree(lambda lib: call(lib, lib.tensor(batch), lib.tensor([0.1, 10.0])),
          match="must match the size of tensor b (3)")
    agree(lambda lib: call(lib, lib.tensor(batch), lib.tensor([0.05, 0.5, 2.0])))


# ---- 1-d inputs: matrix_rank's and lstsq's own words -----------------------------------------
def test_matrix_rank_and_lstsq_of_a_vector():
    agree(lambda lib: lib.linalg.matrix_rank(lib.ones(3)),
          match="torch.linalg.matrix_rank: The input tensor input must have at least 2")
    agree(lambda lib: lib.linalg.lstsq(lib.ones(3), lib.ones(3)),
          match="torch.linalg.lstsq: input must have at least 2 dimensions")


# ---- torch.triangular_solve: the cloned coefficient is A broadcast to the batch; its own words
_TRI = np.triu(np.arange(1.0, 17.0).reshape(4, 4) / 7) + 2 * np.eye(4)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((4, 4), (2, 4, 3)), ((1, 4, 4), (3, 2, 4, 1)), ((2, 4, 4), (4, 2)), ((4, 4), (0, 4, 2)),
])
@pytest.mark.parametrize("transpose", [False, True])
def test_triangular_solve_cloned_coefficient_is_broadcast(a_shape, b_shape, transpose):
    a = np.broadcast_to(_TRI, a_shape) * np.arange(1, 1 + np.prod(a_shape[:-2])).reshape(
        a_shape[:-2] + (1, 1))
    b = np.linspace(-1, 1, int(np.prod(b_shape))).reshape(b_shape)

    def run(lib):
        A = lib.tensor(a, requires_grad=True)
        x, clone = lib.triangular_solve(lib.tensor(b), A, transpose=transpose)
        (x.sum() + (clone * clone).sum()).backward()
        return x.detach(), clone.detach(), A.grad
    agree(run)


@pytest.mark.parametrize("a_shape, b_shape, match", [
    ((4,), (4, 2), "Expected A to have at least 2 dimensions, but it has 1"),
    ((4, 4), (4,), "Expected b to have at least 2 dimensions, but it has 1"),
    ((4, 4), (3, 2), "each A matrix is 4 by 4 but each b matrix is 3 by 2"),
    ((4, 3), (4, 2), "A must be batches of square matrices"),
])
def test_triangular_solve_shape_errors(a_shape, b_shape, match):
    agree(lambda lib: lib.triangular_solve(lib.ones(b_shape), lib.ones(a_shape)), match=match)


# ---- polygamma's n may be a 0-d integer tensor (a float, 1-d or bool one is refused) ----------
@pytest.mark.parametrize("make_n, ok", [
    (lambda lib: lib.tensor(1), True), (lambda lib: lib.tensor(3, dtype=lib.int32), True),
    (lambda lib: lib.tensor(1.0), False), (lambda lib: lib.tensor([1]), False),
    (lambda lib: True, False),
])
def test_polygamma_tensor_order(make_n, ok):
    x = np.array([0.25, 1.5, 2.0, 7.0])
    agree(lambda lib: lib.special.polygamma(make_n(lib), lib.tensor(x)),
          match=None if ok else "argument 'n' (position 1) must be int")
    if ok:
        agree(lambda lib: lib.polygamma(make_n(lib), lib.tensor(x)))


# ---- an SVD driver is CUDA's only: refused on the CPU, None accepted --------------------------
@pytest.mark.parametrize("driver", ["gesvd", "gesvdj", "gesvda", None])
@pytest.mark.parametrize("op", ["svd", "svdvals"])
def test_svd_driver_refused_on_cpu(driver, op):
    a = np.array([[3.0, 1.0], [0.5, 2.0], [1.0, -1.0]])
    match = None if driver is None else "`driver=` is only supported on CUDA inputs"
    agree(lambda lib: getattr(lib.linalg, op)(lib.tensor(a), driver=driver)[0].abs(),
          match=match)
