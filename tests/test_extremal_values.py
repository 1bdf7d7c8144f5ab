"""Values and gradients at extremal inputs (NaN, infinities, poles, huge arguments), found by
op_db's reference inputs (tests/test_opinfo_db.py): each beside torch, or, where torch's
value is wrong (tests/opinfo_wrong_torch.py lists those), beside scipy, mpmath or the
mathematics."""
import itertools
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")
EXTREMES = [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, NAN, INF, -INF]


def _grid(values, n):
    """n float64 columns holding every combination of ``values``."""
    rows = list(itertools.product(values, repeat=n))
    return [np.array([r[i] for r in rows]) for i in range(n)]


def _run(lib, fn, columns, grad=True):
    leaves = [lib.tensor(c, dtype=lib.float64, requires_grad=grad) for c in columns]
    out = fn(lib, *leaves)
    if grad:
        weights = lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)))
        (out * weights).sum().backward()
    grads = [np.zeros(c.shape) if t.grad is None else t.grad.numpy() for c, t in
             zip(columns, leaves)] if grad else []
    return out.detach().numpy(), grads


def _same(fn, columns, grad=True, rtol=1e-12):
    mine, theirs = _run(minigrad, fn, columns, grad), _run(torch, fn, columns, grad)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=rtol, atol=0, equal_nan=True)
    for m, t in zip(mine[1], theirs[1]):
        np.testing.assert_allclose(m, t, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("fn", [
    lambda L, x, lo, hi: L.clamp(x, lo, hi),
    lambda L, x, lo, hi: L.clamp_min(x, lo) + 0 * hi,
    lambda L, x, lo, hi: L.clamp_max(x, hi) + 0 * lo,
    lambda L, x, lo, hi: L.clamp(x, lo[:1], hi[:1]),          # broadcast bounds
], ids=["clamp", "clamp_min", "clamp_max", "broadcast"])
def test_clamp_tensor_bounds(fn):
    # a NaN bound makes the value NaN; ties of the bounds give no gradient to anyone
    _same(fn, _grid([0.0, 1.0, 2.0, NAN, INF, -INF], 3))


def test_copysign_gradient():
    # out / input where input != 0: NaN at a NaN or infinite input
    _same(lambda L, x, y: L.copysign(x, y), _grid(EXTREMES, 2))


@pytest.mark.parametrize("name", ["pow", "float_power"])
def test_pow_exponent_gradient_at_zero_base(name):
    # 0 ** -1 is inf, log 0 is -inf: the exponent's gradient is -inf, not NaN
    _same(lambda L, x, y: getattr(L, name)(x, y), _grid(EXTREMES + [0.5, -0.5, 3.0], 2))


def test_rpow_gradient():
    _same(lambda L, x, y: y.__rpow__(x), _grid(EXTREMES, 2))


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_incomplete_gamma_ends(name):
    # PyTorch's order of its end cases: P(nan, 0) = 0, P(nan, inf) = 1, P(inf, nan) = 0
    _same(lambda L, a, x: getattr(L, name)(a, x), _grid(EXTREMES, 2), grad=False)


@pytest.mark.parametrize("name", ["igamma", "igammac"])
def test_incomplete_gamma_large_a(name):
    # (torch's own is off for huge a a few standard deviations from x = a: 6.41e-24 for
    # P(1e8, 0.999e8), 7.37e-24 by mpmath; the test below covers those)
    huge = np.array([4988429.2, 1e8, 1e12, 1e20, 1e300])
    moderate = np.array([25.0, 1000.5, 12345.25])
    pairs = [(huge, huge), (huge, huge * 0.5), (huge, huge * 2.0)] + [
        (moderate, x) for x in (moderate, moderate * 0.9, moderate * 1.05,
                                moderate + 3 * np.sqrt(moderate), moderate * 0.3)]
    for a, x in pairs:
        mine = getattr(minigrad, name)(minigrad.tensor(a), minigrad.tensor(x)).numpy()
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(x)).numpy()
        # (torch's P(25, 22.5) is off by 1e-9 against mpmath; minigrad's by 2e-15)
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-300)


def test_incomplete_gamma_large_a_near_the_mean():
    # P(a, a + k sqrt(a)) -> Phi(k) - (k^2 - 1) phi(k) / (3 sqrt(a)) + O(1/a): at a = 1e20
    # that is exact to 1e-19; torch (Cephes' series, capped at 2000 steps) is far off there
    a = 1e20
    x = a + np.linspace(-8, 8, 17) * math.sqrt(a)
    k = (x - a) / math.sqrt(a)
    phi = np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in k])
    density = np.exp(-k * k / 2) / math.sqrt(2 * math.pi)
    want = phi - (k * k - 1) * density / (3 * math.sqrt(a))
    got = minigrad.igamma(minigrad.tensor(np.full_like(x, a)), minigrad.tensor(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-300)


def test_incomplete_gamma_gradient_large_a():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    a = np.array([30.0, 4988429.2, 1e8, 1e12])
    x = np.array([31.0, 4988429.2, 1e8 + 1e4, 1e12])
    t = minigrad.tensor(x, requires_grad=True)
    minigrad.igamma(minigrad.tensor(a), t).sum().backward()
    want = [float(mpmath.exp((mpmath.mpf(u) - 1) * mpmath.log(v) - v - mpmath.loggamma(u)))
            for u, v in zip(a, x)]
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-9)


@pytest.mark.parametrize("name", ["i1", "i1e", "i0", "i0e"])
def test_bessel_i_gradient_at_nan_and_inf(name):
    # PyTorch's i1 and i1e take their slope at 0, 1/2, at NaN too
    _same(lambda L, x: getattr(L.special, name)(x), [np.array(EXTREMES + [1e-30, 800.0])])


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_polygamma_at_infinities(n):
    # trigamma(-inf) is NaN (the poles pile up there), trigamma(inf) 0
    # (torch's trigamma(2.5) is off by 3e-10: pi^2/2 - 40/9 = 0.490357756100234)
    _same(lambda L, x: L.polygamma(n, x), [np.array([NAN, INF, -INF, 2.5, -2.5, 0.0])],
          rtol=1e-9)


def test_digamma_gradient_at_poles_is_infinite():
    # trigamma has a double pole at 0 and each negative integer (torch: 6.6e32 at -1)
    x = minigrad.tensor([0.0, -1.0, -501.0, -1e20], requires_grad=True)
    minigrad.digamma(x).sum().backward()
    assert np.all(x.grad.numpy() == np.inf)


def test_zeta_domain_ends():
    # NaN s beside a pole of q is inf, zeta(inf, q) is 1 at q = 1 and inf below (torch's NaN
    # for s = inf and q > 1 is checked against mpmath below: the sum there is 0)
    s, q = _grid(EXTREMES + [3.0, -3.0, 0.5], 2)
    keep = ~((s == INF) & (q > 1))
    _same(lambda L, s, q: L.special.zeta(s, q), [s[keep], q[keep]], grad=False, rtol=1e-10)


def test_zeta_huge_s():
    # q^-s underflows: the sum is 0 (1 at q = 1); torch's Euler-Maclaurin tail gives NaN
    mpmath = pytest.importorskip("mpmath")
    s = np.array([1e15, 1e20, 1e20, 1e20, INF])
    q = np.array([1.5, 1.0, 2.0, 1e20, 3.0])
    got = minigrad.special.zeta(minigrad.tensor(s), minigrad.tensor(q)).numpy()
    want = [float(mpmath.zeta(mpmath.mpf(a), mpmath.mpf(b))) if a < INF else 0.0
            for a, b in zip(s, q)]
    np.testing.assert_array_equal(got, want)


def test_entr_gradient():
    # -(1 + log x): inf at 0, NaN below
    _same(lambda L, x: L.special.entr(x), [np.array(EXTREMES + [1e-300, 0.5, 3.0])])


def test_entr_bfloat16_rounds_like_torch():
    x = np.linspace(-3, 40, 2000)
    mine = minigrad.special.entr(minigrad.tensor(x).to(minigrad.bfloat16)).float().numpy()
    theirs = torch.special.entr(torch.tensor(x).to(torch.bfloat16)).float().numpy()
    np.testing.assert_array_equal(mine, theirs)


def test_log_ndtr_gradient_far_left():
    # pdf / cdf ~ -x: torch's exp(-x^2/2 - log_ndtr(x)) / sqrt(2 pi) loses it below -1e5
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    points = [-4988429.2, -5e5, -1e3, -40.0]
    x = minigrad.tensor(points, dtype=minigrad.float64, requires_grad=True)
    minigrad.special.log_ndtr(x).sum().backward()
    want = [float(mpmath.npdf(p) / mpmath.ncdf(p)) for p in points]
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_airy_ai_near_its_first_zero():
    # torch's is off by up to 3e-6 on (-2.6, -2.0)
    scipy_special = pytest.importorskip("scipy.special")
    x = np.linspace(-2.7, -1.9, 8001)
    got = minigrad.special.airy_ai(minigrad.tensor(x)).numpy()
    np.testing.assert_allclose(got, scipy_special.airy(x)[0], rtol=0, atol=1e-13)


def test_polar_gradient():
    # NaN for an infinite or NaN abs, as torch; the true derivative e^(i angle) at abs <= 0,
    # where torch's, taken from out / |out|, is 0 or flipped
    r, angle = _grid([1.0, 2.5, NAN, INF, -INF], 2)
    _same(lambda L, r, a: L.view_as_real(L.polar(r, a)), [r, angle])
    angles = np.array([0.0, 0.5, -2.0, 3.0])
    r = minigrad.tensor([0.0, -0.0, -1.0, -2.5], dtype=minigrad.float64, requires_grad=True)
    out = minigrad.view_as_real(minigrad.polar(r, minigrad.tensor(angles)))
    out[:, 0].sum().backward()          # d Re / d abs = cos(angle)
    np.testing.assert_allclose(r.grad.numpy(), np.cos(angles), rtol=1e-15)


def test_where_complex_numbers():
    for a, b in [(2j, 2), (2j, True), (2, 2j), (2j, 3j), (1.5, 2j)]:
        cond = [[True, False], [False, True]]
        mine = minigrad.where(minigrad.tensor(cond), a, b)
        theirs = torch.where(torch.tensor(cond), a, b)
        assert str(mine.dtype)[9:] == str(theirs.dtype)[6:]
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_kaiser_large_beta():
    # torch's float32 I0(beta) overflows past beta = 88 (NaN); the window is finite
    windows = pytest.importorskip("scipy.signal.windows")
    for sym in (True, False):
        got = minigrad.signal.windows.kaiser(256, sym=sym, beta=100).numpy()
        want = windows.kaiser(256, 100, sym=sym).astype(np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-45)
    got = minigrad.signal.windows.kaiser(64, beta=100, dtype=minigrad.float64).numpy()
    want = torch.signal.windows.kaiser(64, beta=100, dtype=torch.float64).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


ACTIVATIONS = {
    "hardtanh": lambda L, x: L.nn.functional.hardtanh(x, -2.0, 0.5),
    "relu6": lambda L, x: L.nn.functional.relu6(x),
    "hardshrink": lambda L, x: L.nn.functional.hardshrink(x),
    "softshrink": lambda L, x: L.nn.functional.softshrink(x),
    "hardsigmoid": lambda L, x: L.nn.functional.hardsigmoid(x),
    "elu": lambda L, x: L.nn.functional.elu(x, alpha=0.8),
    "celu": lambda L, x: L.nn.functional.celu(x, alpha=1.0),
    "selu": lambda L, x: L.nn.functional.selu(x),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_at_nan_and_inf(name):
    # no gradient at NaN for the clamps and shrinks (their tests are false there), a NaN
    # one for the elu family (NaN takes the exponential side); hardsigmoid(NaN) is NaN.
    # That is torch's vectorised loop, which takes whole blocks of 8 float64 elements: these
    # 16 (its scalar loop for a remainder gives g and g * scale at NaN instead)
    x = np.array(EXTREMES + [3.0, -3.0, 6.0, 0.5, -0.5, 1e300, -1e300])
    _same(ACTIVATIONS[name], [x], rtol=1e-7)        # (torch's hardsigmoid slope: float32 1/6)


def test_addcdiv_mixed_dtypes_tensor2_gradient():
    # torch rounds value * tensor1 to tensor1's bfloat16 in tensor2's gradient
    rng = np.random.default_rng(0)
    t1 = rng.standard_normal((5, 5)).astype(np.float32)
    t2 = (rng.random((1, 5)) + 0.5).astype(np.float32)
    weights = np.cos(np.arange(25)).reshape(5, 5)
    a = minigrad.tensor(rng.standard_normal((5, 5)))
    b = minigrad.tensor(t1).to(minigrad.bfloat16)
    c = minigrad.tensor(t2, requires_grad=True)
    (minigrad.addcdiv(a, b, c, value=3.14) * minigrad.tensor(weights)).sum().backward()
    exact = b.float().numpy().astype(np.float64)
    want = (-weights * 3.14 * exact / t2.astype(np.float64) ** 2).sum(0, keepdims=True)
    np.testing.assert_allclose(c.grad.numpy(), want, rtol=1e-6)
