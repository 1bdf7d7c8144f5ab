"""Regression tests for the differential fuzzer's ninth round of finds in the products and the
linear algebra (addbmm, addcmul, cdist, dist, linalg.cross, matrix_power, householder_product,
solve_triangular, tensorinv, torch.cholesky, LU, eigh/det of empty inputs): each case runs the
same call on minigrad and on PyTorch and wants the same result (value, dtype, shape,
requires_grad) or the same exception type."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402


DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
RNG = np.random.default_rng(93)


def _t(lib, array, dtype):
    return lib.tensor(np.asarray(array) > 0) if dtype == "bool" else \
        lib.tensor(np.asarray(array).astype(dtype))


# ---- addbmm: input, batch1 and batch2 of one dtype (no check for an empty batch) -------------
@pytest.mark.parametrize("dtypes", [("float32", "int32", "int32"),
                                    ("float16", "float64", "float64"),
                                    ("bool", "float32", "float32"), ("int32", "float64", "float64"),
                                    ("float64", "float32", "float64"),
                                    ("float64", "float64", "float32"),
                                    ("int64", "int64", "int64"), ("bool", "bool", "bool"),
                                    ("float64", "float64", "float64")])
@pytest.mark.parametrize("batch", [2, 0])
def test_addbmm_dtypes(dtypes, batch):
    c, a, b = RNG.normal(size=(3, 5)) * 3, RNG.normal(size=(batch, 3, 4)) * 3, \
        RNG.normal(size=(batch, 4, 5)) * 3
    agree(lambda L: L.addbmm(_t(L, c, dtypes[0]), _t(L, a, dtypes[1]), _t(L, b, dtypes[2])))


@pytest.mark.parametrize("beta", [1.0, 1, 0.0, 0, 2, True, 0.5])
@pytest.mark.parametrize("dtype", ["int64", "bool", "float32"])
def test_addbmm_empty_batch_scales_input(beta, dtype):
    agree(lambda L: L.addbmm(L.ones(2, 3, dtype=getattr(L, dtype)), L.ones(0, 2, 4, dtype=L.int64),
                             L.ones(0, 4, 3, dtype=L.int64), beta=beta, alpha=0.5))


def test_addbmm_self_broadcast_dtype():
    agree(lambda L: L.addbmm(L.ones(5), L.ones(2, 3, 4, dtype=L.int32),
                             L.ones(2, 4, 5, dtype=L.int32)), match="same dtype")


# ---- addcmul: the promoted dtype of the three tensors; value converted to it -----------------
_ADDCMUL = RNG.normal(size=(3, 4)) * 4, RNG.normal(size=4) * 3, RNG.normal(size=(3, 1)) * 3


@pytest.mark.parametrize("input_dtype", DTYPES)
@pytest.mark.parametrize("t1", ["bool", "int32", "int64", "float16", "float64"])
@pytest.mark.parametrize("value", [0.5, 2, -1.5, True])
def test_addcmul_value_conversion(input_dtype, t1, value):
    x, a, b = _ADDCMUL
    if input_dtype == "uint8":
        x = np.abs(x)
    agree(lambda L: L.addcmul(_t(L, x, input_dtype), _t(L, a, t1), _t(L, b, "bool"),
                              value=value))


def test_addcmul_gradient():
    a, b = RNG.normal(size=4), RNG.normal(size=(3, 1))
    grads(lambda L, x: L.addcmul(x, L.tensor(a), L.tensor(b), value=0.5),
          RNG.normal(size=(3, 4)))


# ---- cdist: float16 only by the matrix-product path; empty results in x1's dtype -------------
@pytest.mark.parametrize("d1", ["float16", "float32", "float64", "int32"])
@pytest.mark.parametrize("d2", ["float16", "float32", "float64"])
@pytest.mark.parametrize("p", [0.0, 1.0, 2.0, 3.0, float("inf")])
@pytest.mark.parametrize("rows", [3, 30])
@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_dtypes(d1, d2, p, rows, mode):
    a, b = RNG.normal(size=(rows, 4)), RNG.normal(size=(5, 4))
    agree(lambda L: L.cdist(_t(L, a, d1), _t(L, b, d2), p=p, compute_mode=mode))


@pytest.mark.parametrize("shapes", [((0, 4), (3, 4)), ((3, 0), (5, 0))])
@pytest.mark.parametrize("p", [1.0, 2.0, float("inf")])
def test_cdist_empty(shapes, p):
    agree(lambda L: L.cdist(L.ones(*shapes[0], dtype=L.float16),
                            L.ones(*shapes[1], dtype=L.float32), p=p))


# ---- dist: a bool operand is refused by the subtraction ---------------------------------------
@pytest.mark.parametrize("dtypes", [("bool", "float64"), ("float64", "bool"), ("bool", "bool"),
                                    ("int64", "int64"), ("float16", "float32")])
def test_dist_dtypes(dtypes):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    agree(lambda L: L.dist(_t(L, a, dtypes[0]), _t(L, b, dtypes[1]), 3))


# ---- linalg.cross: no bool kernel (chosen by input's dtype); the length check first ----------
@pytest.mark.parametrize("first", DTYPES)
@pytest.mark.parametrize("second", ["bool", "int64", "float64"])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((0, 3), (0, 3)), ((2, 3), (2, 2)),
                                    ((2, 4), (2, 4))])
def test_linalg_cross_dtypes(first, second, shapes):
    a, b = RNG.normal(size=shapes[0]) * 3, RNG.normal(size=shapes[1]) * 3
    agree(lambda L: L.linalg.cross(_t(L, a, first), _t(L, b, second)))


def test_cross_bool():
    agree(lambda L: L.cross(L.ones(2, 3, dtype=L.bool), L.ones(2, 3, dtype=L.bool), dim=1))


# ---- matrix_power: n = 1 a copy; n = 0 the identity whatever A holds --------------------------
def test_matrix_power_one_is_a_copy():
    x = RNG.normal(size=(3, 3))

    def run(L):
        a = L.tensor(x)
        out = L.linalg.matrix_power(a, 1)
        out.add_(1)
        return a, out
    agree(run)


@pytest.mark.parametrize("dtype", ["bool", "int64", "float16", "float64"])
@pytest.mark.parametrize("n", [0, 1])
def test_matrix_power_dtypes(dtype, n):
    x = RNG.normal(size=(2, 3, 3))
    agree(lambda L: L.linalg.matrix_power(_t(L, x, dtype), n))


def test_matrix_power_zero_of_nan():
    grads(lambda L, x: L.linalg.matrix_power(x, 0), [[np.nan, 1.0], [2.0, 3.0]])


# ---- householder_product: tau of input's dtype, checked after the shapes ---------------------
@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("float32", "float64"),
                                    ("int64", "float32"), ("int64", "int64"),
                                    ("float16", "float16"), ("bool", "bool")])
@pytest.mark.parametrize("shapes", [((4, 3), (3,)), ((3, 4), (3,)), ((4, 3), (4,))])
def test_householder_product_dtypes(dtypes, shapes):
    a, tau = RNG.normal(size=shapes[0]), RNG.normal(size=shapes[1])
    agree(lambda L: L.linalg.householder_product(_t(L, a, dtypes[0]), _t(L, tau, dtypes[1])))


# ---- solve_triangular: B is cast to A's dtype; the shape check before the dtype refusal ------
@pytest.mark.parametrize("a_dtype", ["int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("b_dtype", ["bool", "uint8", "int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("case", [((3, 3), (3, 2), True), ((2, 3, 3), (3, 4), True),
                                  ((3, 3), (2, 4, 3), False), ((3, 3), (3, 4), False)])
def test_solve_triangular_dtypes(a_dtype, b_dtype, case):
    # well away from cancellation: float32 LAPACK and numpy round differently
    a = np.triu(RNG.uniform(0, 0.3, size=case[0])) + 3 * np.eye(3)
    b = RNG.uniform(1, 4, size=case[1])
    agree(lambda L: L.linalg.solve_triangular(_t(L, a, a_dtype), _t(L, b, b_dtype), upper=True,
                                              left=case[2]))


def test_solve_triangular_gradient_of_cast_b():
    a = np.triu(RNG.normal(size=(3, 3))) + 3 * np.eye(3)
    grads(lambda L, x: L.linalg.solve_triangular(L.tensor(a), x, upper=True),
          RNG.normal(size=(3, 2)), dtype="float32")


@pytest.mark.parametrize("dtypes", [("float64", "float32"), ("float64", "int64"),
                                    ("int64", "float64")])
def test_triangular_solve_keeps_its_dtype_check(dtypes):
    agree(lambda L: L.triangular_solve(_t(L, np.ones((3, 2)), dtypes[0]),
                                       _t(L, np.eye(3), dtypes[1])))


# ---- tensorinv: inv's dtype refusal comes before the singularity check -----------------------
@pytest.mark.parametrize("dtype", ["float16", "int64", "bool"])
def test_tensorinv_singular_dtypes(dtype):
    agree(lambda L: L.linalg.tensorinv(_t(L, np.ones((2, 3, 6)), dtype)))


# ---- torch.cholesky: its kernel's refusal; an empty input comes back -------------------------
@pytest.mark.parametrize("dtype", ["bool", "int64", "float16", "float64"])
@pytest.mark.parametrize("shape", [(3, 3), (0, 3, 3), (0, 3, 4), (2, 0, 0)])
def test_torch_cholesky_dtypes(dtype, shape):
    x = RNG.normal(size=shape)
    if shape == (3, 3):
        x = x @ x.T + 3 * np.eye(3)
    agree(lambda L: L.cholesky(_t(L, x, dtype)))


# ---- empty batches of a dtype without a LAPACK kernel ----------------------------------------
_EMPTY = {
    "eigh": lambda L, a: L.linalg.eigh(a), "eigvalsh": lambda L, a: L.linalg.eigvalsh(a),
    "det": lambda L, a: L.linalg.det(a), "cholesky": lambda L, a: L.linalg.cholesky(a),
    "cholesky_ex": lambda L, a: L.linalg.cholesky_ex(a), "lu": lambda L, a: L.linalg.lu(a),
    "lu_factor": lambda L, a: L.linalg.lu_factor(a), "solve": lambda L, a: L.linalg.solve(a, a),
    "slogdet": lambda L, a: L.linalg.slogdet(a), "inv": lambda L, a: L.linalg.inv(a),
    "qr": lambda L, a: L.linalg.qr(a),
}


@pytest.mark.parametrize("name", sorted(_EMPTY))
@pytest.mark.parametrize("dtype", ["float16", "int64", "bool"])
@pytest.mark.parametrize("shape", [(0, 3, 3), (2, 0, 0), (3, 3)])
def test_linalg_of_empty_batches(name, dtype, shape):
    a = RNG.normal(size=shape) + 3 * np.eye(shape[-1])
    agree(lambda L: _EMPTY[name](L, _t(L, a, dtype)))


# ---- LU: the pivots of a rank-deficient matrix, as LAPACK picks them -------------------------
@pytest.mark.parametrize("shape", [(3, 5), (4, 3), (3, 3), (5, 4)])
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lu_of_expanded_matrix(shape, axis, dtype):
    # an expanded matrix is singular (rank one): which pivot LAPACK takes among the equal
    # candidates depends on the build (MKL on Intel and OpenBLAS differ), so the factors are
    # checked by what defines them, and their shapes and dtypes against torch's
    base = RNG.normal(size=shape).take([0], axis=axis)
    a = base.astype(dtype) + np.zeros(shape, dtype)
    factors = {L: L.linalg.lu(L.tensor(base.astype(dtype)).expand(*shape)) for L in (minigrad, torch)}
    for m, t in zip(factors[minigrad], factors[torch]):
        assert m.dtype.name == str(t.dtype).replace("torch.", "") and m.shape == t.shape
    p, lower, upper = (f.numpy().astype(np.float64) for f in factors[minigrad])
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(p @ lower @ upper, a, atol=tol * np.abs(a).max())
    assert np.allclose(np.diagonal(lower), 1) and np.all(np.abs(lower) <= 1 + tol)
    assert np.all(np.triu(lower, 1) == 0) and np.all(np.tril(upper, -1) == 0)
    assert np.all(p.sum(0) == 1) and np.all(p.sum(1) == 1)


@pytest.mark.parametrize("shape", [(3, 5), (4, 4), (2, 5, 3)])
def test_lu_gradient_well_conditioned(shape):
    grads(lambda L, x: L.linalg.lu(x)[1].sum(-1) + L.linalg.lu(x)[2].sum(-2),
          RNG.normal(size=shape))


# ---- addr: everything in the promoted dtype (input expanded first); beta and alpha checked
# against it -----------------------------------------------------------------------------------
_ADDR = RNG.normal(size=(3, 4)) * 3, RNG.normal(size=3) * 3, RNG.normal(size=4) * 3


@pytest.mark.parametrize("dtypes", [("bool", "bool", "bool"), ("bool", "float64", "float64"),
                                    ("bool", "float16", "bool"), ("float32", "int64", "float16"),
                                    ("float32", "float16", "float16"), ("int32", "int32", "int32"),
                                    ("uint8", "bool", "int64"), ("float64", "float64", "float64")])
@pytest.mark.parametrize("coefficients", [(2.0, 1), (1, 1), (2, 3), (0, 1), (True, True),
                                          (1, 0.5), (False, 1), (-1, 1)])
@pytest.mark.parametrize("input_shape", [(3, 4), (4,), ()])
def test_addr_dtypes(dtypes, coefficients, input_shape):
    c = _ADDR[0] if input_shape == (3, 4) else _ADDR[0][0] if input_shape == (4,) else \
        np.array(_ADDR[0][0, 0])
    if dtypes[0] == "uint8":
        c = np.abs(c)
    agree(lambda L: L.addr(_t(L, c, dtypes[0]), _t(L, _ADDR[1], dtypes[1]),
                           _t(L, _ADDR[2], dtypes[2]), beta=coefficients[0],
                           alpha=coefficients[1]))


def test_addr_gradient():
    grads(lambda L, x: L.addr(x, L.tensor(_ADDR[1]), L.tensor(_ADDR[2]), beta=2.0),
          _ADDR[0])


def test_addr_bad_input_shape():
    agree(lambda L: L.addr(L.ones(2, 4), L.ones(3), L.ones(4)))
