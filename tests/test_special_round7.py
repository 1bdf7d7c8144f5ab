"""torch.special's Airy / Bessel Y, I, K / spherical j0 functions and the orthogonal
polynomials, against torch: values over wide ranges in float64 and float32, special values,
dtypes, broadcasting, argument errors, and the absence of a gradient (as in torch)."""
import math

import numpy as np
import pytest

import minigrad
from minigrad import special

torch = pytest.importorskip("torch")

INF, NAN = math.inf, math.nan
BESSEL = ["airy_ai", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
          "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0",
          "scaled_modified_bessel_k1", "spherical_bessel_j0"]
POLYNOMIALS = ["chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
               "chebyshev_polynomial_w", "shifted_chebyshev_polynomial_t",
               "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
               "shifted_chebyshev_polynomial_w", "hermite_polynomial_h", "hermite_polynomial_he",
               "laguerre_polynomial_l", "legendre_polynomial_p"]


def _ours(name, *args):
    wrap = [minigrad.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    return getattr(special, name)(*wrap)


def _theirs(name, *args):
    wrap = [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args]
    return getattr(torch.special, name)(*wrap)


def _envelope(name, x):
    """The scale errors are measured against: |f| itself, and for the oscillating functions
    also a fraction of their amplitude (relative error is meaningless at a zero)."""
    x = np.abs(x.astype(np.float64))
    if name in ("bessel_y0", "bessel_y1"):
        return 0.05 * np.sqrt(2.0 / (np.pi * np.maximum(x, 1e-300)))
    if name == "airy_ai":
        return 0.05 * np.maximum(x, 1.0) ** -0.25 / math.sqrt(math.pi)
    if name == "spherical_bessel_j0":
        return 0.05 / np.maximum(x, 1.0)
    return np.zeros_like(x)


def _grid(dtype):
    tiny = np.geomspace(1e-300 if dtype == np.float64 else 1e-30, 1e-3, 40)
    mid = np.linspace(1e-3, 30.0, 1500)
    big = np.geomspace(30.0, 1e5, 80)
    x = np.concatenate([tiny, mid, big])
    return np.concatenate([-x[::-1], [0.0], x]).astype(dtype)


# where torch's own float64 rational fits are only ~1e-5 .. 1e-7 accurate (see bessel_more)
_TORCH_LOOSE = {"bessel_y0": (2.0, 25.0), "bessel_y1": (2.0, 25.0), "airy_ai": (-10.3, -2.09)}


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_family_float64_matches_torch(name):
    x = _grid(np.float64)
    if name == "airy_ai":
        x = x[np.abs(x) < 150]
    ours = _ours(name, x).numpy()
    theirs = _theirs(name, x).numpy()
    assert ours.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite])
    scale = np.maximum(np.abs(theirs), _envelope(name, x))[finite]
    err = np.abs(ours[finite] - theirs[finite]) / np.maximum(scale, 1e-300)
    xf = x[finite]
    strict = np.ones_like(xf, dtype=bool)
    if name in _TORCH_LOOSE:
        lo, hi = _TORCH_LOOSE[name]
        strict = (xf < lo) | (xf > hi)
        assert err[~strict].max() < 1e-4
    # torch's fits are good to a few 1e-14; at large |x| both sides round a phase of size
    # ~|x| (Ai: |x|^1.5), which costs ~1e-16 of it
    phase = np.abs(xf) ** (1.5 if name == "airy_ai" else 1.0)
    limit = 1e-13 + 2e-16 * phase
    assert (err[strict] <= limit[strict]).all(), (name, xf[strict][np.argmax(err[strict])],
                                                  err[strict].max())


def test_bessel_y_satisfies_wronskian_with_torch_j():
    """Where torch's own Y is loose, check ours through J1 Y0 - J0 Y1 = 2 / (pi x) with
    torch's J0 and J1 (on the parts of [2, 25) where torch's J are accurate: they share the
    loose fit around x = 5)."""
    x = np.concatenate([np.linspace(2.0, 3.0, 200), np.linspace(19.0, 25.0, 500)])
    j0 = torch.special.bessel_j0(torch.from_numpy(x)).numpy()
    j1 = torch.special.bessel_j1(torch.from_numpy(x)).numpy()
    y0, y1 = _ours("bessel_y0", x).numpy(), _ours("bessel_y1", x).numpy()
    residual = (j1 * y0 - j0 * y1) * (np.pi * x / 2.0) - 1.0
    assert np.abs(residual).max() < 5e-11     # torch's J: ~5e-12 at x = 3


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_family_float32_matches_torch(name):
    x = _grid(np.float32)
    x = x[np.abs(x) < (100 if name == "airy_ai" else 1e4)]
    ours = _ours(name, x).numpy()
    theirs = _theirs(name, x).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    finite = np.isfinite(theirs) & np.isfinite(ours)
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    scale = np.maximum(np.abs(theirs), _envelope(name, x))[finite]
    err = np.abs(ours[finite] - theirs[finite]) / np.maximum(scale, 1e-37)
    tol = 1e-4 if name in _TORCH_LOOSE else 5e-6
    assert err.max() < tol, (name, x[finite][np.argmax(err)], err.max())


SPECIAL_VALUES = [-INF, -200.0, -103.9, -10.0, -2.1, -2.09, -1.0, -1e-300, -0.0, 0.0, 1e-300,
                  1e-5, 0.4, 0.5, 1.0, 2.0, 2.09, 5.0, 8.0, 8.33, 25.0, 100.0, 103.89, 103.892,
                  103.9, 700.0, 710.0, 746.0, 1e5, 1e20, 1e300, INF, NAN]


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_family_special_values(name):
    x = np.array(SPECIAL_VALUES)
    ours, theirs = _ours(name, x).numpy(), _theirs(name, x).numpy()
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    np.testing.assert_array_equal(np.signbit(ours[np.isinf(ours)]),
                                  np.signbit(theirs[np.isinf(theirs)]))
    both = np.isfinite(theirs)
    scale = np.maximum(np.abs(theirs), _envelope(name, x))[both]
    limit = 1e-4 if name in _TORCH_LOOSE else 1e-12
    assert (np.abs(ours[both] - theirs[both]) <= limit * scale + 1e-320).all()


@pytest.mark.parametrize("name", BESSEL)
def test_bessel_family_dtypes_shapes_and_no_gradient(name):
    for values in ([1, 2, 3], [True, False]):
        t_in = torch.tensor(values)
        ours = _ours(name, t_in.numpy())
        assert str(ours.dtype).split(".")[-1] == str(_theirs(name, t_in).dtype).split(".")[-1]
    for shape in [(), (0,), (2, 0, 3), (2, 3)]:
        x = np.full(shape, 0.75)
        assert _ours(name, x).shape == tuple(_theirs(name, x).shape)
    x = minigrad.tensor([0.5, 1.5], requires_grad=True)
    out = getattr(special, name)(x)
    assert not out.requires_grad and out.grad_fn is None
    assert torch.special.__dict__[name](torch.tensor([0.5], requires_grad=True)).grad_fn is None
    with pytest.raises(NotImplementedError, match="not implemented for 'Half'"):
        getattr(special, name)(minigrad.tensor([1.0], dtype=minigrad.float16))
    with pytest.raises(TypeError, match="must be Tensor, not float"):
        getattr(special, name)(2.0)


# ----------------------------------------------------------------------------------------------
# orthogonal polynomials
# ----------------------------------------------------------------------------------------------
POLY_X = np.array([-INF, -3.0, -1.5, -1.0, -0.999, -0.7, -0.5, -0.1, -0.0, 0.0, 1e-300, 0.1,
                   0.3, 0.5, 0.7, 0.999, 1.0, 1.0000001, 1.5, 2.0, 10.0, INF])
POLY_N = np.array([-5, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 30, 100, 129, 513, 2.5,
                   -0.5, 7.99, NAN, INF, -INF, 1e30])


def _poly_compare(name, x, n, dtype, rtol, atol):
    ours = _ours(name, x.astype(dtype), n.astype(dtype)).numpy()
    theirs = _theirs(name, x.astype(dtype), n.astype(dtype)).numpy()
    assert ours.dtype == theirs.dtype == dtype
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(ours), np.isinf(theirs))
    finite = np.isfinite(theirs)
    diff = np.abs(ours[finite] - theirs[finite])
    bound = (rtol * np.maximum(np.abs(theirs), 1.0) + atol)[finite]
    assert (diff <= bound).all(), (name, np.argwhere(diff > bound)[:3], diff.max())


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_special_grid(name):
    x, n = np.meshgrid(POLY_X, POLY_N)
    _poly_compare(name, x, n, np.float64, 1e-11, 1e-13)
    # float32: rounding accumulates differently over hundreds of steps (ours stays nearer the
    # float64 value), so the degrees here stop at 30
    low = ~(np.abs(POLY_N) > 30) | ~np.isfinite(POLY_N) | (POLY_N > 1e20)
    x, n = np.meshgrid(POLY_X, POLY_N[low])
    _poly_compare(name, x, n, np.float32, 1e-4, 1e-5)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_random_arguments(name):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1.2, 1.2, 300), rng.uniform(-6, 6, 100)])
    if name.startswith("shifted"):
        x = (x + 1.0) / 2.0
    n = rng.integers(0, 40, x.size).astype(np.float64)
    _poly_compare(name, x, n, np.float64, 1e-11, 1e-13)
    # float32: each step is rounded to float32 as torch's fused kernels do; recurrences with
    # cancellation (Laguerre) still drift by a few float32 ulps times the degree
    _poly_compare(name, x, n, np.float32, 2e-4, 1e-5)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_promotion_scalars_and_broadcasting(name):
    cases = [(torch.tensor([1, 2, -3]), 3), (torch.tensor([0.5, 2.0]), torch.tensor([3, 2])),
             (2.0, torch.tensor([1, 2])), (0.25, torch.tensor([4.0], dtype=torch.float64)),
             (torch.tensor([0.3, 0.2], dtype=torch.float64), torch.tensor(4.0)),
             (torch.tensor([[0.3], [0.9]]), torch.tensor([2, 9, 12])),
             (torch.tensor([True, False]), torch.tensor([3, 2])), (torch.tensor([0.25]), 7.9),
             (torch.tensor(0.4), torch.tensor([], dtype=torch.int64)),
             (torch.tensor(0.4, dtype=torch.float64), torch.tensor(5))]
    for x, n in cases:
        theirs = getattr(torch.special, name)(x, n)
        ours = getattr(special, name)(*(minigrad.tensor(v.numpy()) if isinstance(v, torch.Tensor)
                                        else v for v in (x, n)))
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], (x, n)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", POLYNOMIALS)
def test_polynomials_errors_and_no_gradient(name):
    f = getattr(special, name)
    with pytest.raises(TypeError, match="invalid combination of arguments"):
        f(0.5, 3)
    with pytest.raises(RuntimeError, match="must match the size"):
        f(minigrad.ones(2, 3), minigrad.ones(4))
    with pytest.raises(NotImplementedError, match="Half"):
        f(minigrad.tensor([0.5], dtype=minigrad.float16), 2)
    x = minigrad.tensor([0.3, 0.6], requires_grad=True)
    assert not f(x, 3).requires_grad


def test_polynomials_large_degrees():
    x = np.array([0.3, -0.8, 0.999, 1.5, -3.0])
    for name in ("chebyshev_polynomial_t", "legendre_polynomial_p", "laguerre_polynomial_l",
                 "hermite_polynomial_he", "chebyshev_polynomial_u"):
        n = np.full_like(x, 1500.0)
        _poly_compare(name, x, n, np.float64, 1e-9, 1e-12)
