"""Complex linear algebra against torch: linalg.eig / eigvals (values, dtypes, errors and the
gradient of phase-free losses), the conjugates in the products' gradients, complex alpha /
beta, and the complex inputs that inverses, solves, determinants, norms and the decompositions
(cholesky, qr, eigh, svd, lu, ldl, pinv, lstsq, matrix functions) now take."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _complex(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _pair(array):
    return (minigrad.tensor(array).requires_grad_(True),
            torch.tensor(array).requires_grad_(True))


def _grads_agree(m, t, atol=1e-10):
    np.testing.assert_allclose(m.grad.numpy(), t.grad.resolve_conj().numpy(), atol=atol,
                               rtol=1e-8)


def _weights(shape):
    return np.cos(np.arange(int(np.prod(shape)))).reshape(shape)


def _loss(lib, *outs):
    """A real, phase-free weighted sum: real and imaginary parts of the eigenvalues, |V|^2."""
    total = 0
    for o in outs:
        w = lib.tensor(_weights(tuple(o.shape)))
        if o.is_complex():
            total = total + (o.real * w).sum() + (o.imag * w.flip(-1)).sum()
        else:
            total = total + (o * w).sum()
    return total


@pytest.mark.parametrize("array", [RNG.standard_normal((4, 4)), _complex(2, 3, 3),
                                   RNG.standard_normal((2, 3, 3)).astype(np.float32)],
                         ids=["real", "complex-batch", "float32"])
def test_eig_values_dtype_and_gradient(array):
    m, t = _pair(array)
    (lm, vm), (lt, vt) = minigrad.linalg.eig(m), torch.linalg.eig(t)
    assert str(lm.dtype)[9:] == str(lt.dtype)[6:] and str(vm.dtype)[9:] == str(vt.dtype)[6:]
    tol = 1e-4 if array.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(lm.detach().numpy(), lt.detach().numpy(), atol=tol)
    # the same LAPACK routine (geev): unit vectors, largest component real (in float32 the
    # two builds may flip a real vector's sign: compared by modulus there)
    same = (lambda v: np.abs(v)) if array.dtype == np.float32 else (lambda v: v)
    np.testing.assert_allclose(same(vm.detach().numpy()), same(vt.detach().numpy()), atol=tol)
    np.testing.assert_allclose(np.linalg.norm(vm.detach().numpy(), axis=-2), 1, atol=tol)
    if array.dtype == np.float32:
        return
    _loss(minigrad, lm, vm.abs() ** 2).backward()
    _loss(torch, lt, vt.abs() ** 2).backward()
    assert m.grad.dtype == m.dtype
    _grads_agree(m, t)


def test_eigvals_gradient_and_phase_dependent_loss_refused():
    m, t = _pair(_complex(4, 4))
    _loss(minigrad, minigrad.linalg.eigvals(m)).backward()
    _loss(torch, torch.linalg.eigvals(t)).backward()
    _grads_agree(m, t)
    _, v = minigrad.linalg.eig(m)
    with pytest.raises(RuntimeError, match="up to multiplication by e\\^\\{i phi\\}"):
        v.real.sum().backward()


def test_eig_second_derivative_matches_torch():
    m, t = _pair(_complex(3, 3))
    results = []
    for lib, x in ((minigrad, m), (torch, t)):
        lam, v = lib.linalg.eig(x)
        (g,) = lib.autograd.grad(_loss(lib, lam, v.abs() ** 2), x, create_graph=True)
        (gg,) = lib.autograd.grad((g.abs() ** 2).sum(), x)
        results.append(gg.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], atol=1e-8)


@pytest.mark.parametrize("fn, array, error", [
    ("eig", np.ones((3, 4)), "linalg.eig: A must be batches of square matrices, but they are "
                             "3 by 4 matrices"),
    ("eigvals", np.ones((3, 4)), "linalg.eigvals: A must be batches of square matrices"),
    ("eig", np.ones(3), "linalg.eig: The input tensor A must have at least 2 dimensions."),
    ("eig", np.ones((3, 3), np.int64), "Unknown Complex ScalarType for Long"),
    ("eig", np.array([[1.0, np.inf], [0.0, 1.0]]), "input tensor should not contain infs"),
])
def test_eig_errors_as_torch(fn, array, error):
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match=error):
            getattr(lib.linalg, fn)(lib.tensor(array))


def test_eig_of_empty_and_half():
    out = minigrad.linalg.eig(minigrad.ones(0, 0))
    assert out.eigenvalues.shape == (0,) and out.eigenvectors.dtype == minigrad.complex64
    with pytest.raises(NotImplementedError, match="linalg_eig_out_cpu"):
        minigrad.linalg.eig(minigrad.ones(2, 2, dtype=minigrad.float16))


PRODUCTS = {
    "matmul": (lambda lib, a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "matvec": (lambda lib, a, b: lib.mv(a, b), [(3, 4), (4,)]),
    "dot": (lambda lib, a, b: lib.dot(a, b), [(4,), (4,)]),
    "vdot": (lambda lib, a, b: lib.vdot(a, b), [(4,), (4,)]),
    "inner": (lambda lib, a, b: lib.inner(a, b), [(2, 4), (3, 4)]),
    "vecdot": (lambda lib, a, b: lib.linalg.vecdot(a, b), [(2, 4), (4,)]),
    "einsum": (lambda lib, a, b: lib.einsum("ij,kj->ik", a, b), [(2, 3), (4, 3)]),
    "tensordot": (lambda lib, a, b: lib.tensordot(a, b, 2), [(2, 3, 4), (3, 4)]),
    "kron": (lambda lib, a, b: lib.kron(a, b), [(2, 2), (2, 3)]),
    "linear": (lambda lib, a, b: lib.nn.functional.linear(a, b, b[:, 0]), [(2, 3), (4, 3)]),
    "addmm": (lambda lib, a, b: lib.addmm(a[:, :2], a, b, beta=1 + 2j, alpha=0.5 - 1j),
              [(2, 3), (3, 2)]),
    "addbmm": (lambda lib, a, b: lib.addbmm(a[0, :, :1], a, b, beta=2j, alpha=1 + 1j),
               [(2, 3, 4), (2, 4, 1)]),
    "trace": (lambda lib, a, b: lib.trace(a @ b), [(3, 3), (3, 3)]),
}


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products_conjugate_in_backward(name):
    fn, shapes = PRODUCTS[name]
    mine, theirs = zip(*(_pair(_complex(*s)) for s in shapes))
    out_m, out_t = fn(minigrad, *mine), fn(torch, *theirs)
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), atol=1e-12)
    _loss(minigrad, out_m).backward()
    _loss(torch, out_t).backward()
    for m, t in zip(mine, theirs):
        _grads_agree(m, t)


def test_real_coefficients_only_for_real_products():
    a = minigrad.ones(2, 2)
    with pytest.raises(RuntimeError, match="value cannot be converted to type float"):
        minigrad.addmm(a, a, a, alpha=2 + 3j)


SOLVERS = {
    "inv": (lambda lib, a: lib.linalg.inv(a), [(3, 3)]),
    "solve": (lambda lib, a, b: lib.linalg.solve(a, b), [(2, 3, 3), (3, 2)]),
    "solve_triangular": (lambda lib, a, b: lib.linalg.solve_triangular(
        a + 4 * lib.eye(3), b, upper=False), [(3, 3), (3, 2)]),
    "det": (lambda lib, a: lib.linalg.det(a), [(2, 3, 3)]),
    "slogdet_sign": (lambda lib, a: lib.linalg.slogdet(a)[0], [(3, 3)]),
    "slogdet_logabs": (lambda lib, a: lib.linalg.slogdet(a)[1], [(3, 3)]),
    "vector_norm": (lambda lib, a: lib.linalg.vector_norm(a, 3, -1), [(2, 4)]),
    "norm_2": (lambda lib, a: lib.linalg.norm(a), [(2, 4)]),
    "matrix_norm_1": (lambda lib, a: lib.linalg.matrix_norm(a, 1), [(3, 4)]),
    "matrix_norm_nuc": (lambda lib, a: lib.linalg.matrix_norm(a, "nuc"), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_inverses_determinants_norms(name):
    fn, shapes = SOLVERS[name]
    mine, theirs = zip(*(_pair(_complex(*s)) for s in shapes))
    out_m, out_t = fn(minigrad, *mine), fn(torch, *theirs)
    assert str(out_m.dtype)[9:] == str(out_t.dtype)[6:]
    np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), atol=1e-10)
    _loss(minigrad, out_m).backward()
    _loss(torch, out_t).backward()
    for m, t in zip(mine, theirs):
        _grads_agree(m, t)


def test_vector_norm_dtype_must_match_complexity():
    z = minigrad.tensor(_complex(3))
    with pytest.raises(RuntimeError, match="dtype should be complex for complex inputs"):
        minigrad.linalg.vector_norm(z, dtype=minigrad.float64)
    assert minigrad.linalg.vector_norm(z, dtype=minigrad.complex128).dtype == minigrad.float64


@pytest.mark.parametrize("hermitian", [True, False])
def test_ldl_of_complex_matrices_as_lapack(hermitian):
    z = _complex(3, 5, 5)
    z[..., range(5), range(5)] *= 0.1                  # small diagonals: 2x2 blocks too
    a = z + (z.conj() if hermitian else z).swapaxes(-1, -2)
    b = _complex(3, 5, 2)
    for dtype, tol in ((np.complex128, 1e-10), (np.complex64, 1e-3)):
        (ld_m, piv_m), (ld_t, piv_t) = (lib.linalg.ldl_factor(lib.tensor(a.astype(dtype)),
                                                              hermitian=hermitian)
                                        for lib in (minigrad, torch))
        np.testing.assert_array_equal(piv_m.numpy(), piv_t.numpy())
        np.testing.assert_allclose(ld_m.numpy(), ld_t.numpy(), atol=tol, rtol=tol)
        x_m = minigrad.linalg.ldl_solve(ld_m, piv_m, minigrad.tensor(b.astype(dtype)),
                                        hermitian=hermitian)
        x_t = torch.linalg.ldl_solve(ld_t, piv_t, torch.tensor(b.astype(dtype)),
                                     hermitian=hermitian)
        assert x_m.dtype == getattr(minigrad, str(x_t.dtype)[6:])
        np.testing.assert_allclose(x_m.numpy(), x_t.numpy(), atol=10 * tol, rtol=10 * tol)


# ----------------------------------------------------------------------------------------------
# decompositions of complex matrices: values compared through phase-free quantities, gradients
# of phase-free losses, the refusal of phase-dependent ones
# ----------------------------------------------------------------------------------------------
def _hpd(lib, z):
    return z @ z.mH + 3 * lib.eye(z.shape[-1])


def _herm(lib, z):
    return z + z.mH


def _svd_parts(lib, z):
    u, s, vh = lib.linalg.svd(z, full_matrices=False)
    return s, (u * s.unsqueeze(-2)) @ vh, u.abs(), u @ u.mH


def _eigh_parts(lib, z):
    w, v = lib.linalg.eigh(_herm(lib, z))
    return w, v.abs(), v[..., :1] @ v[..., :1].mH


def _qr_parts(lib, z):
    q, r = lib.linalg.qr(z)
    return q, r, q.abs()


DECOMPOSITIONS = {
    "cholesky": (lambda lib, z: lib.linalg.cholesky(_hpd(lib, z)), (2, 3, 3)),
    "cholesky_upper": (lambda lib, z: lib.linalg.cholesky(_hpd(lib, z), upper=True), (3, 3)),
    "cholesky_inverse": (lambda lib, z: lib.cholesky_inverse(lib.linalg.cholesky(
        _hpd(lib, z))), (3, 3)),
    "cholesky_solve": (lambda lib, z: lib.cholesky_solve(z[..., :2], lib.linalg.cholesky(
        _hpd(lib, z)), upper=False), (3, 3)),
    "qr": (_qr_parts, (2, 4, 3)),
    "qr_wide": (_qr_parts, (3, 4)),
    "eigh": (_eigh_parts, (2, 3, 3)),
    "eigvalsh": (lambda lib, z: lib.linalg.eigvalsh(_herm(lib, z), UPLO="U"), (4, 4)),
    "svd": (_svd_parts, (2, 4, 3)),
    "svd_wide": (_svd_parts, (2, 4)),
    "lu": (lambda lib, z: lib.linalg.lu(z), (2, 3, 3)),
    "lu_solve": (lambda lib, z: lib.linalg.lu_solve(*lib.linalg.lu_factor(z), z[..., :1],
                                                    adjoint=True), (3, 3)),
    "pinv": (lambda lib, z: lib.linalg.pinv(z), (3, 2)),
    "pinv_hermitian": (lambda lib, z: lib.linalg.pinv(_herm(lib, z), hermitian=True), (3, 3)),
    "lstsq": (lambda lib, z: lib.linalg.lstsq(z, z[..., :1] + 1)[0], (4, 3)),
    "matrix_exp": (lambda lib, z: lib.linalg.matrix_exp(z), (2, 3, 3)),
    "matrix_power": (lambda lib, z: lib.linalg.matrix_power(z, -3), (3, 3)),
    "norms": (lambda lib, z: lib.stack([lib.linalg.matrix_norm(z, o) for o in
                                        ("fro", "nuc", 2, -2, 1, float("inf"))] +
                                       [lib.linalg.cond(z)]), (3, 3)),
    "householder": (lambda lib, z: lib.linalg.householder_product(z, z[..., 0, :2]), (4, 3)),
    "ormqr": (lambda lib, z: lib.ormqr(z, z[..., 1, :], z[..., :2], transpose=True), (3, 3)),
    "tensorsolve": (lambda lib, z: lib.linalg.tensorsolve(z.reshape(4, 2, 2), z[0]), (4, 4)),
}


@pytest.mark.parametrize("name", sorted(DECOMPOSITIONS))
def test_decompositions_of_complex_matrices(name):
    fn, shape = DECOMPOSITIONS[name]
    array = _complex(*shape)
    m, t = _pair(array)
    outs_m, outs_t = fn(minigrad, m), fn(torch, t)
    if not isinstance(outs_t, tuple):
        outs_m, outs_t = (outs_m,), (outs_t,)
    for om, ot in zip(outs_m, outs_t):
        assert str(om.dtype)[9:] == str(ot.dtype)[6:]
        np.testing.assert_allclose(om.detach().numpy(), ot.detach().resolve_conj().numpy(),
                                   atol=1e-9)
    _loss(minigrad, *outs_m).backward()
    _loss(torch, *outs_t).backward()
    _grads_agree(m, t, atol=1e-8)
    # complex64: the same values to single precision
    outs_m = fn(minigrad, minigrad.tensor(array.astype(np.complex64)))
    outs_t = fn(torch, torch.tensor(array.astype(np.complex64)))
    if not isinstance(outs_t, tuple):
        outs_m, outs_t = (outs_m,), (outs_t,)
    for om, ot in zip(outs_m, outs_t):
        assert str(om.dtype)[9:] == str(ot.dtype)[6:]
        np.testing.assert_allclose(om.numpy(), ot.resolve_conj().numpy(), atol=2e-4)


@pytest.mark.parametrize("which", ["svd_u", "svd_vh", "eigh"])
def test_phase_dependent_losses_refused_as_torch(which):
    for lib in (minigrad, torch):
        z = lib.tensor(_complex(3, 3)).requires_grad_(True)
        if which == "eigh":
            out, text = lib.linalg.eigh(z + z.mH)[1], "linalg_eigh_backward: The eigenvectors"
        else:
            u, _, vh = lib.linalg.svd(z)
            out, text = (u if which == "svd_u" else vh), "svd_backward: The singular vectors"
        with pytest.raises(RuntimeError, match=text + ".*ill-defined"):
            out.sum().imag.backward()         # Im sum: moves with every phase


def test_svd_and_eigh_second_derivatives_match_torch():
    array = _complex(3, 3)
    grads = []
    for lib in (minigrad, torch):
        z = lib.tensor(array).requires_grad_(True)
        u, s, vh = lib.linalg.svd(z)
        w, v = lib.linalg.eigh(z + z.mH)
        loss = (s ** 3).sum() + (u.abs() ** 4).sum() + (w * w).sum() + (v.abs() ** 3).sum()
        g, = lib.autograd.grad(loss, z, create_graph=True)
        gg, = lib.autograd.grad((g.abs() ** 2).sum(), z)
        grads.append((g.detach().numpy(), gg.numpy()))
    for mine, theirs in zip(*grads):
        np.testing.assert_allclose(mine, theirs, atol=1e-8, rtol=1e-7)
