"""torch.linalg inverses, solves, decompositions and matrix functions: result fields, modes,
shapes, dtypes and errors, against torch (gradients are checked by the registry entries)."""
import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")
from torch_agreement import pair  # noqa: E402

RNG = np.random.default_rng(5)
A33 = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
SPD = A33 @ A33.transpose(0, 2, 1)
SINGULAR = np.stack([np.eye(2), [[1.0, 2.0], [2.0, 4.0]]])


def _close(m, t, atol=1e-10):
    np.testing.assert_allclose(m.numpy(), t.numpy(), atol=atol, rtol=1e-7)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("name,fields", [
    ("slogdet", ("sign", "logabsdet")), ("qr", ("Q", "R")),
    ("eigh", ("eigenvalues", "eigenvectors")), ("svd", ("U", "S", "Vh")),
    ("inv_ex", ("inverse", "info")), ("cholesky_ex", ("L", "info")),
])
def test_named_fields(name, fields):
    m, t = pair(lambda lib, a: getattr(lib.linalg, name)(a), SPD)
    assert m.__match_args__ == fields
    for f in fields:
        _close(abs(getattr(m, f)), abs(getattr(t, f)))


def test_lstsq_fields_and_drivers():
    a, b = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    for driver in (None, "gelsd"):
        m, t = pair(lambda lib, a, b: lib.linalg.lstsq(a, b, driver=driver), a, b)
        assert m.__match_args__ == ("solution", "residuals", "rank", "singular_values")
        for x, y in zip(m, t):
            assert tuple(x.shape) == tuple(y.shape)
            _close(x, y)
    m, t = pair(lambda lib, a, b: lib.linalg.lstsq(a, b).solution, a, b[:, 0].copy())
    _close(m, t)
    m, t = pair(lambda lib, a, b: lib.linalg.solve(a, b), A33, b[:3, 0].copy())   # broadcast
    _close(m, t)


def test_qr_modes_and_svd_shapes():
    a = RNG.standard_normal((2, 5, 3))
    for mode in ("reduced", "complete", "r"):
        m, t = pair(lambda lib, a: lib.linalg.qr(a, mode=mode), a)
        assert [tuple(x.shape) for x in m] == [tuple(x.shape) for x in t]
        _close(abs(m.R), abs(t.R))
    for full in (True, False):
        m, t = pair(lambda lib, a: lib.linalg.svd(a, full_matrices=full), a)
        assert [tuple(x.shape) for x in m] == [tuple(x.shape) for x in t]
        q = m.U.numpy()
        np.testing.assert_allclose(q.transpose(0, 2, 1) @ q, np.eye(q.shape[-1])[None].repeat(2, 0),
                                   atol=1e-12)
    for some in (True, False):
        m, t = pair(lambda lib, a: lib.svd(a, some=some), a)
        assert m.__match_args__ == ("U", "S", "V")
        assert [tuple(x.shape) for x in m] == [tuple(x.shape) for x in t]
    m = mg.svd(mg.tensor(a), compute_uv=False)
    assert not m.U.numpy().any() and not m.V.numpy().any()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_aliases_and_methods():
    x = mg.tensor(A33)
    for ours, theirs in [
        (lambda lib, a: lib.det(a), None), (lambda lib, a: a.det(), None),
        (lambda lib, a: lib.logdet(a @ a.mT), None), (lambda lib, a: a.slogdet()[1], None),
        (lambda lib, a: lib.inverse(a), None), (lambda lib, a: a.inverse(), None),
        (lambda lib, a: lib.cholesky(a @ a.mT, True), None),
        (lambda lib, a: a.pinverse(), None), (lambda lib, a: lib.pinverse(a), None),
        (lambda lib, a: lib.matrix_power(a, 3), None), (lambda lib, a: a.matrix_exp(), None),
        (lambda lib, a: lib.linalg.matrix_rank(a), None),
        (lambda lib, a: lib.linalg.multi_dot([a[0], a[1], a[0]]), None),
        (lambda lib, a: lib.cholesky_solve(a[0], lib.linalg.cholesky(a[1] @ a[1].mT)), None),
    ]:
        m, t = pair(ours, A33)
        _close(m, t)
    assert x.det().shape == (2,)


def test_float32_and_info():
    m, t = pair(lambda lib, a: lib.linalg.inv(a), A33.astype(np.float32))
    _close(m, t, atol=1e-5)
    m, t = pair(lambda lib, a: lib.linalg.inv_ex(a).info, SINGULAR)
    _close(m, t)
    bad = np.stack([np.eye(3), np.diag([1.0, 1.0, -1.0])])
    m, t = pair(lambda lib, a: lib.linalg.cholesky_ex(a).info, bad)
    _close(m, t)


def _same_error(fn, *arrays):
    with pytest.raises(Exception) as theirs:
        fn(torch, *[torch.tensor(a) for a in arrays])
    with pytest.raises(Exception) as ours:
        fn(mg, *[mg.tensor(a) for a in arrays])
    assert str(ours.value) == str(theirs.value)
    assert isinstance(ours.value, RuntimeError) == isinstance(theirs.value, RuntimeError)


@pytest.mark.parametrize("fn,arrays", [
    (lambda lib, a: lib.linalg.inv(a), (SINGULAR[1],)),
    (lambda lib, a: lib.linalg.inv(a), (SINGULAR,)),
    (lambda lib, a: lib.linalg.inv(a), (np.ones((2, 3)),)),
    (lambda lib, a: lib.linalg.inv(a), (np.ones((2, 2), np.int64),)),
    (lambda lib, a: lib.linalg.det(a), (np.ones(3),)),
    (lambda lib, a: lib.linalg.solve(a, a), (SINGULAR,)),
    (lambda lib, a: lib.linalg.solve(a[0, :2, :2], a[0, 0]), (np.eye(3)[None].repeat(2, 0),)),
    (lambda lib, a: lib.linalg.cholesky(a), (-np.eye(2),)),
    (lambda lib, a: lib.linalg.cholesky(a), (np.stack([np.eye(3), np.diag([1.0, 1, -1])]),)),
    (lambda lib, a: lib.linalg.eigh(a, UPLO="X"), (np.eye(2),)),
    (lambda lib, a: lib.linalg.qr(a, mode="x"), (np.eye(2),)),
    (lambda lib, a: lib.linalg.multi_dot([a]), (np.eye(2),)),
    (lambda lib, a: lib.linalg.matrix_power(a, 1.5), (np.eye(2),)),
    (lambda lib, a: lib.linalg.matrix_exp(a), (np.ones((2, 3)),)),
])
def test_errors_match_torch(fn, arrays):
    _same_error(fn, *arrays)


def test_solve_triangular_singular_gives_inf():
    m, t = pair(lambda lib, a, b: lib.linalg.solve_triangular(a, b, upper=True),
                np.zeros((3, 3)), np.ones((3, 1)))
    np.testing.assert_array_equal(np.isinf(m.numpy()), np.isinf(t.numpy()))


def test_matrix_exp_large_norm_and_second_order():
    a = RNG.standard_normal((2, 4, 4)) * np.array([0.1, 20.0])[:, None, None]
    m, t = pair(lambda lib, a: lib.linalg.matrix_exp(a), a)
    np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-10)
    for lib in (mg, torch):
        x = lib.tensor(A33[0] * 0.5, requires_grad=True)
        g, = lib.autograd.grad(lib.linalg.matrix_exp(x).sum(), x, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), x)
        if lib is mg:
            ours = gg.numpy()
    np.testing.assert_allclose(ours, gg.numpy(), rtol=1e-8)


def test_lstsq_gels_residuals_and_cholesky_solve_factor_gradient():
    a, b = RNG.standard_normal((3, 5, 3)), RNG.standard_normal((3, 5, 2))
    m, t = pair(lambda lib, a, b: lib.linalg.lstsq(a, b, driver="gels"), a, b)
    for x, y in zip(m, t):                       # residuals (3, 2); rank and sv empty
        assert tuple(x.shape) == tuple(y.shape)
        _close(x, y)
    for upper in (False, True):                  # the factor's gradient is a full matrix
        grads, rhs = [], RNG.standard_normal((1, 3, 2))       # batch dims broadcast
        for lib in (mg, torch):
            L = lib.linalg.cholesky(lib.tensor(SPD), upper=upper).detach().requires_grad_(True)
            lib.cholesky_solve(lib.tensor(rhs), L, upper=upper).sin().sum().backward()
            grads.append(L.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], atol=1e-10, rtol=1e-7)
        assert np.abs(np.tril(grads[1][0], -1) if upper else np.triu(grads[1][0], 1)).max() > 0


def test_svd_full_matrices_complement_is_lapacks():
    a = RNG.standard_normal((2, 6, 3))           # tall: the extra columns of U
    m, t = pair(lambda lib, a: lib.linalg.svd(a, full_matrices=True), a)
    _close(m.U[..., 3:], t.U[..., 3:], atol=1e-9)
