"""The numerical namespaces probed against PyTorch the way ported scientific code meets them:
``addmm`` / ``addmv`` / ``addr`` / ``addbmm`` / ``baddbmm`` with ``beta=0`` (the input's
gradient is zero, not missing) and ``alpha=0`` (the product's NaN and inf left out, except in
``baddbmm``), ``linalg.det`` / ``slogdet`` / ``logdet`` of matrices holding NaN or inf,
``linalg.eigh`` / ``eigvalsh`` / ``pinv(hermitian=True)`` / ``matrix_rank(hermitian=True)``
failing to converge (PyTorch's LinAlgError, a RuntimeError, not numpy's), ``torch.svd`` with
``compute_uv=False`` (zero square U and V), ``fft.fftfreq`` / ``rfftfreq`` argument checks, and
``special.bessel_j0`` / ``j1`` of huge arguments (no numpy overflow warning).  Each case runs
the same code on both libraries and compares values, dtypes, shapes, gradients or the
exception type."""
import warnings

import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)
INF, NAN = float("inf"), float("nan")


def _plain(v):
    if isinstance(v, (torch.Tensor, minigrad.Tensor)):
        v = v.detach()
        return str(v.dtype).split(".")[-1], tuple(v.shape), v.numpy()
    if isinstance(v, (tuple, list)):
        return [_plain(x) for x in v]
    return v


def _same(a, b, tol=1e-10):
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, tol)
    elif isinstance(a, tuple):
        assert a[:2] == b[:2], (a[:2], b[:2])
        np.testing.assert_allclose(b[2], a[2], rtol=tol, atol=tol, equal_nan=True)
    else:
        assert a == b, (a, b)


def agree(fn, tol=1e-10):
    """fn(lib) gives the same result on PyTorch and minigrad, or the same exception type."""
    outcomes = []
    for lib in LIBS:
        try:
            outcomes.append(("ok", _plain(fn(lib))))
        except Exception as e:          # noqa: BLE001 - the type is what is compared
            outcomes.append(("error", type(e).__name__ if lib is minigrad else
                             type(e).__mro__[1].__name__ if type(e).__name__ == "_LinAlgError"
                             else type(e).__name__))
    (kind_t, out_t), (kind_m, out_m) = outcomes
    assert kind_t == kind_m, outcomes
    if kind_t == "ok":
        _same(out_t, out_m, tol)
    else:
        assert out_t == out_m or {out_t, out_m} <= {"LinAlgError", "RuntimeError"}, outcomes
    return outcomes


def _t(lib, a, grad=False):
    return lib.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------------------------------------
# add-a-product ops: beta = 0 and alpha = 0
# ---------------------------------------------------------------------------------------------
rng = np.random.default_rng(0)
M23, M34, M24 = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
B523, B534 = rng.normal(size=(5, 2, 3)), rng.normal(size=(5, 3, 4))
V2, V3, V4 = rng.normal(size=2), rng.normal(size=3), rng.normal(size=4)

ADD_OPS = {
    "addmm": (lambda lib, i, a, b, **k: lib.addmm(i, a, b, **k), (M24, M23, M34)),
    "addmv": (lambda lib, i, a, b, **k: lib.addmv(i, a, b, **k), (V2, M23, V3)),
    "addr": (lambda lib, i, a, b, **k: lib.addr(i, a, b, **k), (M24, V2, V4)),
    "addbmm": (lambda lib, i, a, b, **k: lib.addbmm(i, a, b, **k), (M24, B523, B534)),
    "baddbmm": (lambda lib, i, a, b, **k: lib.baddbmm(i, a, b, **k), (M24, B523, B534)),
}


@pytest.mark.parametrize("name", sorted(ADD_OPS))
@pytest.mark.parametrize("beta,alpha", [(0, 1), (0, 2.5), (0, 0), (1, 0), (0.5, 0)])
def test_add_product_gradients_with_zero_coefficients(name, beta, alpha):
    op, args = ADD_OPS[name]

    def grads(lib):
        ts = [_t(lib, a, grad=True) for a in args]
        out = op(lib, *ts, beta=beta, alpha=alpha)
        return [out] + list(lib.autograd.grad((out * out).sum(), ts))
    agree(grads)


@pytest.mark.parametrize("name", sorted(ADD_OPS))
@pytest.mark.parametrize("beta", [0, 1])
def test_add_product_zero_alpha_and_nonfinite_product(name, beta):
    op, (i, a, b) = ADD_OPS[name]
    a = np.full_like(a, INF)
    agree(lambda lib: op(lib, _t(lib, i), _t(lib, a), _t(lib, b), beta=beta, alpha=0))


def test_addmm_zero_beta_nan_input_still_ignored():
    agree(lambda lib: lib.addmm(_t(lib, np.full((2, 4), NAN), True), _t(lib, M23), _t(lib, M34),
                                beta=0))
    agree(lambda lib: lib.baddbmm(_t(lib, np.full((5, 2, 4), NAN)), _t(lib, B523),
                                  _t(lib, B534), beta=0))


def test_addmm_zero_beta_input_gradient_via_backward():
    for lib in LIBS:
        inp = _t(lib, M24, grad=True)
        lib.addmm(inp, _t(lib, M23), _t(lib, M34), beta=0).sum().backward()
        assert inp.grad is not None and float(inp.grad.abs().sum()) == 0.0


# ---------------------------------------------------------------------------------------------
# determinants of matrices with NaN or inf
# ---------------------------------------------------------------------------------------------
NONFINITE = [
    [[INF, 0], [0, 1]], [[-INF, 0], [0, 1]], [[1, INF], [0, 1]], [[1, 0], [INF, 1]],
    [[NAN, 0], [0, 1]], [[1, 1], [1, NAN]], [[INF, INF], [1, 1]], [[0, INF], [1, 0]],
    [[0, 1], [INF, 0]], [[0, 0], [0, NAN]], [[0, NAN], [0, 1]], [[INF, INF], [INF, INF]],
    [[1, 2, NAN], [0, 1, 0], [3, 0, 1]],
]


@pytest.mark.parametrize("m", NONFINITE, ids=str)
def test_det_slogdet_logdet_nonfinite(m):
    def dets(lib):
        x = _t(lib, m)
        return [lib.linalg.det(x), *lib.linalg.slogdet(x), lib.logdet(x), x.det(),
                lib.linalg.det(x.float())]
    agree(dets)


def test_det_batched_mixes_finite_and_nonfinite():
    mats = np.array([m for m in NONFINITE if len(m) == 2] + [[[1., 2.], [3., 4.]]])
    agree(lambda lib: [lib.linalg.det(_t(lib, mats)), *lib.linalg.slogdet(_t(lib, mats))])
    shaped = mats[:12].reshape(3, 4, 2, 2)
    agree(lambda lib: [lib.linalg.det(_t(lib, shaped)), *lib.linalg.slogdet(_t(lib, shaped))])


def test_det_gradient_unchanged_for_finite():
    def grad(lib):
        x = _t(lib, [[1., 2.], [3., 4.]], grad=True)
        return lib.autograd.grad(lib.linalg.det(x), x)
    agree(grad)


# ---------------------------------------------------------------------------------------------
# eigh failing to converge: PyTorch's LinAlgError
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.linalg.eigh(x),
    lambda lib, x: lib.linalg.eigvalsh(x),
    lambda lib, x: lib.linalg.eigh(x.to(lib.complex128), UPLO="U"),
    lambda lib, x: lib.linalg.pinv(x, hermitian=True),
    lambda lib, x: lib.linalg.matrix_rank(x, hermitian=True),
], ids=["eigh", "eigvalsh", "eigh_complex", "pinv_hermitian", "matrix_rank_hermitian"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_eigh_nan_is_linalg_error(fn, shape):
    for lib in LIBS:
        with pytest.raises(lib.linalg.LinAlgError) as info:
            fn(lib, lib.full(shape, NAN, dtype=lib.float64))
        assert isinstance(info.value, RuntimeError)
        words = str(info.value)
        assert words.startswith("linalg.eigh: ")
        assert ("(Batch element 0): " in words) == (len(shape) == 3)
        assert "The algorithm failed to converge because the input matrix is ill-conditioned " \
               "or has too many repeated eigenvalues" in words


# ---------------------------------------------------------------------------------------------
# torch.svd(compute_uv=False)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (2, 5, 3), (0, 3)])
@pytest.mark.parametrize("some", [True, False])
def test_torch_svd_without_uv_gives_square_zero_factors(shape, some):
    x = rng.normal(size=shape)
    agree(lambda lib: list(lib.svd(_t(lib, x), some=some, compute_uv=False)))


# ---------------------------------------------------------------------------------------------
# fftfreq / rfftfreq
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "complex64", "float16", "float64"])
def test_fftfreq_dtypes(name, dtype):
    agree(lambda lib: getattr(lib.fft, name)(5, dtype=getattr(lib, dtype)))


@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
@pytest.mark.parametrize("n", [-1, -2, -3, -5, 0, 1, 6, 2.5, True])
def test_fftfreq_lengths(name, n):
    agree(lambda lib: getattr(lib.fft, name)(n, d=0.5))


@pytest.mark.parametrize("name", ["fftfreq", "rfftfreq"])
def test_fftfreq_out_of_integer_dtype_refused(name):
    agree(lambda lib: getattr(lib.fft, name)(4, out=lib.zeros(3, dtype=lib.int32)))


# ---------------------------------------------------------------------------------------------
# Bessel functions of huge arguments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1"])
def test_bessel_huge_arguments_do_not_warn(name):
    x = np.array([1e10, -1e10, 1e300, 30.0, INF])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = getattr(minigrad.special, name)(minigrad.tensor(x)).numpy()
    want = getattr(torch.special, name)(torch.tensor(x)).numpy()
    np.testing.assert_allclose(out[3], want[3], rtol=1e-10)
    assert np.isnan(out[4]) == np.isnan(want[4])
    assert np.all(np.abs(out[np.isfinite(out)]) < 1e-4 + (np.abs(x[np.isfinite(out)]) < 100))


# ---------------------------------------------------------------------------------------------
# torch.special: complex inputs refused (not their real part), numbers refused as input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
                                  "modified_bessel_i0", "modified_bessel_k1",
                                  "scaled_modified_bessel_k0", "spherical_bessel_j0", "airy_ai"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_special_bessel_refuses_complex(name, dtype):
    outcomes = agree(lambda lib: getattr(lib.special, name)(lib.ones(3, dtype=getattr(lib,
                                                                                      dtype))))
    assert outcomes[0] == ("error", "NotImplementedError")


@pytest.mark.parametrize("name", ["chebyshev_polynomial_t", "hermite_polynomial_h",
                                  "legendre_polynomial_p", "shifted_chebyshev_polynomial_w"])
def test_special_polynomials_refuse_complex(name):
    for args in [lambda lib: (lib.ones(3, dtype=lib.complex128), 2),
                 lambda lib: (0.5, lib.ones(3, dtype=lib.complex64))]:
        outcomes = agree(lambda lib: getattr(lib.special, name)(*args(lib)))
        assert outcomes[0] == ("error", "NotImplementedError")


@pytest.mark.parametrize("name", ["erf", "logit", "sinc", "entr", "expm1", "ndtr", "exp2",
                                  "erfc", "i0e", "expit"])
def test_special_number_input_is_type_error(name):
    for lib in LIBS:
        with pytest.raises(TypeError, match=rf"special_{name}\(\): argument 'input' "
                                            r"\(position 1\) must be Tensor, not float"):
            getattr(lib.special, name)(0.5)
    agree(lambda lib: getattr(lib.special, name)(input=lib.tensor([0.25, 0.5])), tol=1e-6)


# ---------------------------------------------------------------------------------------------
# einsum of three or more operands; cdist by matrix products
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("eq,shapes", [
    ("ab,bc,cd,de,ef->af", [(2, 60), (60, 60), (60, 60), (60, 60), (60, 2)]),
    ("ij,ij,j->i", [(1, 3), (5, 3), (3,)]),
    ("bij,bjk,bkl->bil", [(2, 3, 4), (1, 4, 5), (2, 5, 2)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]),
    ("...i,...i,i->...", [(2, 3), (1, 3), (3,)]),
])
def test_einsum_many_operands_and_gradients(eq, shapes):
    arrays = [rng.normal(size=s) for s in shapes]

    def run(lib):
        ts = [_t(lib, a, grad=True) for a in arrays]
        out = lib.einsum(eq, *ts)
        return [out] + list(lib.autograd.grad((out * out).sum(), ts))
    agree(run, tol=1e-8)
    ints = [np.arange(int(np.prod(s))).reshape(s) % 5 for s in shapes]
    agree(lambda lib: lib.einsum(eq, *[lib.tensor(a) for a in ints]))


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist"])
def test_cdist_matrix_product_path(mode):
    x1, x2 = rng.normal(size=(2, 1, 30, 4)), rng.normal(size=(3, 40, 4))
    agree(lambda lib: lib.cdist(_t(lib, x1), _t(lib, x2), compute_mode=mode), tol=1e-8)

    def grads(lib):
        a, b = _t(lib, x1[0], grad=True), _t(lib, x2[:1], grad=True)
        return lib.autograd.grad(lib.cdist(a, b, compute_mode=mode).sum(), (a, b))
    agree(grads, tol=1e-8)
    bad = np.array([[NAN, 0.], [INF, 1.], [1., 1.]] + [[0., 0.]] * 27)
    agree(lambda lib: lib.cdist(_t(lib, bad), _t(lib, x2[0, :, :2]), compute_mode=mode))


def test_cdist_matrix_product_path_second_derivative():
    x1, x2 = rng.normal(size=(30, 3)), rng.normal(size=(28, 3))
    v = rng.normal(size=(30, 3))

    def grads(lib):
        a, b = _t(lib, x1, grad=True), _t(lib, x2, grad=True)
        ga, = lib.autograd.grad(lib.cdist(a, b).pow(2).sum() + lib.cdist(a, b).sum(), a,
                                create_graph=True)
        return list(lib.autograd.grad((ga * _t(lib, v)).sum(), (a, b)))
    agree(grads, tol=1e-8)


def test_cdist_matrix_product_path_coincident_rows_zero_gradient():
    x = np.array([[1., 2.], [3., 4.], [1., 2.]])

    def grads(lib):
        a = _t(lib, x, grad=True)
        out = lib.cdist(a, a, compute_mode="use_mm_for_euclid_dist")
        return [out] + list(lib.autograd.grad(out.sum(), a))
    agree(grads, tol=1e-8)
