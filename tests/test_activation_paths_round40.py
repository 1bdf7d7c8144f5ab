"""Round 40's activation fixes and fast paths against PyTorch: elu with a negative alpha keeps
the sign of a zero; softplus' slope has no derivative from its threshold on; logsigmoid's
gradient is PyTorch's z / (1 + z) (no overflow to 0 for a large x, its second derivative
(s - 1) s); hardtanh refuses a bound its dtype cannot hold; float32 exact GELU gives
PyTorch's NaN at +inf; float32 SiLU through expm1; PReLU's selection by bits. Values, signs
of zeros, NaN and infinities, first and second derivatives in float64, layouts and names."""
import math

import numpy as np
import pytest
import torch

import minigrad as mg

F = {mg: mg.nn.functional, torch: torch.nn.functional}


def _sign_bits(a):
    """Values with the sign of every zero visible (NaN as one string)."""
    return [repr(float(v)) for v in np.asarray(a, dtype=np.float64).reshape(-1)]


def _grads(L, fn, x, dtype, order=2):
    """fn's value, its gradient and the gradient of the gradient's sum, at x."""
    t = L.tensor(np.asarray(x, dtype), requires_grad=True)
    y = fn(L, t)
    g, = L.autograd.grad(y.sum(), t, create_graph=True)
    out = [y.detach().numpy(), g.detach().numpy()]
    if order == 2:
        g2, = L.autograd.grad(g.sum(), t, allow_unused=True)
        out.append(None if g2 is None else g2.numpy())
    return out


# ---------------------------------------------------------------------------------------------
# elu with a negative alpha: a zero keeps its sign
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("alpha", [-0.5, -2.0, -0.0, 0.0, 2.0])
@pytest.mark.parametrize("n", [4, 70000])
def test_elu_zero_signs(dtype, alpha, n):
    x = np.resize(np.array([-0.0, 0.0, -1.0, 1.0], dtype), n)
    x[-4:] = [np.nan, -np.inf, np.inf, -1e-30]
    outs = [F[L].elu(L.tensor(x), alpha=alpha).numpy() for L in (torch, mg)]
    assert _sign_bits(outs[0]) == _sign_bits(outs[1])
    for L in (torch, mg):           # the in-place form keeps them too
        t = L.tensor(x.copy())
        F[L].elu_(t, alpha) if L is torch else F[L].elu(t, alpha, inplace=True)
        outs.append(t.numpy())
    assert _sign_bits(outs[2]) == _sign_bits(outs[3]) == _sign_bits(outs[0])


@pytest.mark.parametrize("alpha", [-0.5, 1.5])
def test_elu_negative_alpha_gradients(alpha):
    x = np.array([-0.0, 0.0, -1.0, 1.0, -3.0, 2.5, -1e-30])
    fn = lambda L, t: F[L].elu(t, alpha=alpha)          # noqa: E731
    ref, got = _grads(torch, fn, x, "float64"), _grads(mg, fn, x, "float64")
    assert _sign_bits(ref[0]) == _sign_bits(got[0])
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-14)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-14)


def test_celu_and_selu_zero_signs():
    x = np.resize(np.array([-0.0, 0.0, -0.7, 0.7], np.float32), 70000)
    for fn in (lambda L, t: F[L].celu(t, -0.5), lambda L, t: F[L].selu(t),
               lambda L, t: F[L].celu(t, 2.0)):
        a, b = (fn(L, L.tensor(x)).numpy() for L in (torch, mg))
        assert _sign_bits(a[:8]) == _sign_bits(b[:8])
        np.testing.assert_allclose(b, a, rtol=2e-6)


# ---------------------------------------------------------------------------------------------
# softplus: no second derivative at and after the threshold
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 3.0), (1.0, 40.0)])
def test_softplus_second_derivative_at_the_threshold(beta, threshold):
    edge = threshold / beta
    x = np.array([edge - 1, edge - 1e-9, edge, edge + 1e-9, edge + 1, -edge, 0.0, 5.0])
    fn = lambda L, t: F[L].softplus(t, beta=beta, threshold=threshold)   # noqa: E731
    ref, got = _grads(torch, fn, x, "float64"), _grads(mg, fn, x, "float64")
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-15)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-15)
    np.testing.assert_allclose(got[2], ref[2], rtol=1e-13, atol=1e-300)
    assert np.all(got[2][x * beta >= threshold] == 0)
    assert np.all(ref[2][x * beta >= threshold] == 0)


# ---------------------------------------------------------------------------------------------
# logsigmoid: PyTorch's slope and second derivative
# ---------------------------------------------------------------------------------------------
LOGSIG_X = [50.0, 88.0, 89.0, 100.0, 103.0, 1000.0, 1e30, np.inf, -1000.0, -np.inf, np.nan,
            0.0, -0.0, 1.0, -1.0, 20.0, -20.0, 40.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [1, 70000])
def test_logsigmoid_gradient_large_x(dtype, n):
    x = np.resize(np.array(LOGSIG_X, dtype), max(n, len(LOGSIG_X)))
    x[len(LOGSIG_X):] = np.random.default_rng(0).standard_normal(x.size - len(LOGSIG_X)) * 30
    grads = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        g, = L.autograd.grad(F[L].logsigmoid(t), t, L.ones_like(t))
        grads.append(g.numpy())
    ref, got = grads
    assert not np.any(np.isinf(got))
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got, ref, rtol=4e-7 if dtype == "float32" else 1e-15, atol=0)
    big = (x > 80) & np.isfinite(x)
    if dtype == "float32":
        assert np.all(got[:len(LOGSIG_X)][[1, 2, 3]] > 0)      # subnormals, as PyTorch's
    assert np.array_equal(got[big] == 0, ref[big] == 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logsigmoid_second_derivative(dtype):
    x = np.array(LOGSIG_X + [0.3, -2.5, 7.0], dtype)
    fn = lambda L, t: F[L].logsigmoid(t)          # noqa: E731
    ref, got = _grads(torch, fn, x, dtype), _grads(mg, fn, x, dtype)
    tol = 4e-7 if dtype == "float32" else 1e-14
    for a, b in zip(ref[1:], got[1:]):
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(b, a, rtol=tol, atol=0)
        assert _sign_bits(a[a == 0]) == _sign_bits(b[a == 0])
    t = mg.tensor(x, requires_grad=True)
    assert F[mg].logsigmoid(t).grad_fn.name() == "LogSigmoidBackward0"


# ---------------------------------------------------------------------------------------------
# hardtanh: a bound past the dtype's range is refused
# ---------------------------------------------------------------------------------------------
BOUNDS = [(-1e40, 1.0), (-1.0, 1e40), (-70000.0, 1.0), (-math.inf, math.inf), (-3.5e38, 1.0),
          (-3.4028235e38, 1.0), (-2.0, 3.4e38)]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("bounds", BOUNDS)
@pytest.mark.parametrize("inplace", [False, True])
def test_hardtanh_bound_overflow(dtype, bounds, inplace):
    results = []
    for L in (torch, mg):
        x = L.tensor([0.5, -3.0, 2.0, 1e4], dtype=getattr(L, dtype))
        try:
            results.append(F[L].hardtanh(x, *bounds, inplace=inplace).float().tolist())
        except RuntimeError as e:
            results.append(str(e))
    assert results[0] == results[1]


# ---------------------------------------------------------------------------------------------
# GELU, float32 exact form
# ---------------------------------------------------------------------------------------------
def _gelu_exact(x):
    return np.array([v * (1 + math.erf(v / math.sqrt(2))) / 2 for v in x.astype(np.float64)])


def test_gelu_float32_is_close_to_exact_and_to_torch():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.linspace(-12, 12, 200001), rng.standard_normal(20000) * 1e-3,
                        [1e-30, -1e-30, 1e-45, -1e-45, 5.9999, -6.0, 6.8, -6.8, 50.0, -50.0,
                         1e30, -1e30]]).astype(np.float32)
    got = F[mg].gelu(mg.tensor(x)).numpy()
    ref = F[torch].gelu(torch.tensor(x)).numpy()
    assert got.dtype == np.float32
    assert np.max(np.abs(got - _gelu_exact(x))) < 6.5e-7
    assert np.max(np.abs(got - ref)) <= 1.5e-6
    # the value is the same whether a slope is made or not
    t = mg.tensor(x, requires_grad=True)
    y = F[mg].gelu(t)
    assert np.array_equal(y.detach().numpy(), got)
    g, = mg.autograd.grad(y, t, mg.ones_like(y))
    tt = torch.tensor(x, requires_grad=True)
    gt, = torch.autograd.grad(F[torch].gelu(tt), tt, torch.ones_like(tt))
    assert np.max(np.abs(g.numpy() - gt.numpy())) < 1e-6


@pytest.mark.parametrize("n", [1, 2, 7, 70000])
@pytest.mark.parametrize("grad", [False, True])
def test_gelu_float32_special_values(n, grad):
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 1e-45, -1e-45, 1e30, -1e30, 10.0,
                        -10.0], np.float32)
    x = special[:n] if n < len(special) else np.resize(special, n)
    outs = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=grad)
        y = F[L].gelu(t)
        outs.append(y.detach().numpy())
        if grad:
            g, = L.autograd.grad(y, t, L.ones_like(y))
            outs.append(g.numpy())
    half = len(outs) // 2           # PyTorch's value (and gradient), then minigrad's
    a, b = outs[0][:len(special)], outs[half][:len(special)]
    assert _sign_bits(a) == _sign_bits(b)
    if grad:                        # (PyTorch's slope at -10 is 0, here x phi(x), -7.7e-22)
        a, b = outs[1][:len(special)], outs[3][:len(special)]
        assert np.array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-20)


def test_gelu_inf_layouts():
    """PyTorch's scalar loop (one number, a strided input) gives inf at +inf; float64 too."""
    for make in (lambda L: L.full((1,), math.inf),
                 lambda L: L.full((4, 6), math.inf)[:, ::2],
                 lambda L: L.full((5,), math.inf, dtype=L.float64)):
        a, b = (F[L].gelu(make(L)).numpy() for L in (torch, mg))
        assert _sign_bits(a) == _sign_bits(b)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_float64_second_order(approximate):
    x = np.array([-7.0, -3.0, -1.0, -0.0, 0.0, 0.5, 2.0, 5.0, 9.0])
    fn = lambda L, t: F[L].gelu(t, approximate=approximate)     # noqa: E731
    ref, got = _grads(torch, fn, x, "float64"), _grads(mg, fn, x, "float64")
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)


def test_gelu_transposed_layout_and_node():
    x = np.random.default_rng(2).standard_normal((300, 400)).astype(np.float32)
    t = mg.tensor(x, requires_grad=True)
    y = F[mg].gelu(t.t())
    ref = F[torch].gelu(torch.tensor(x).t())
    assert y.stride() == ref.stride()
    assert y.grad_fn.name() == "GeluBackward0"
    assert np.max(np.abs(y.detach().numpy() - ref.numpy())) <= 1.5e-6


# ---------------------------------------------------------------------------------------------
# PReLU
# ---------------------------------------------------------------------------------------------
PRELU_X = [np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-45, 1e-45, -3e38, 3e38]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weights", [[0.25], [-1.5], [0.0], [0.1, -2.0, 3.0]])
def test_prelu_values_bits(dtype, weights):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 3, 70, 50)).astype(dtype)
    x.reshape(-1)[:len(PRELU_X)] = PRELU_X
    w = np.array(weights, dtype)
    a, b = (F[L].prelu(L.tensor(x), L.tensor(w)).numpy() for L in (torch, mg))
    assert a.dtype == b.dtype
    assert _sign_bits(a.reshape(-1)[:len(PRELU_X)]) == _sign_bits(b.reshape(-1)[:len(PRELU_X)])
    assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("weights", [[0.25], [0.1, -2.0, 3.0]])
def test_prelu_layout_and_gradients(weights):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 40, 30))
    x.reshape(-1)[:5] = [0.0, -0.0, 1.0, -1.0, 0.0]
    w = np.array(weights)
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        wt = L.tensor(w, requires_grad=True)
        src = t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)     # channels_last
        y = F[L].prelu(src, wt)
        gx, gw = L.autograd.grad((y * y).sum(), (t, wt), create_graph=True)
        g2 = L.autograd.grad(gx.sum() + gw.sum(), (t, wt))
        res.append((y.stride(), y.detach().numpy(), gx.detach().numpy(), gw.detach().numpy(),
                    g2[0].numpy(), g2[1].numpy(), y.grad_fn.name()))
    (sa, *va, na), (sb, *vb, nb) = res
    assert sa == sb and na == nb
    for a, b in zip(va, vb):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# SiLU, float32: within 4 units of PyTorch's value, most of them equal, its slope close
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("grad", [False, True])
def test_silu_float32_close_to_torch(grad):
    x = np.concatenate([np.linspace(-100, 100, 200001), [np.inf, -np.inf, np.nan, -0.0, 0.0,
                                                          1e-45, -1e-45, -88.0, -89.0, -104.0,
                                                          3e38, -3e38]]).astype(np.float32)
    outs = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=grad)
        y = F[L].silu(t)
        outs.append(y.detach().numpy())
        if grad:
            outs.append(L.autograd.grad(y, t, L.ones_like(y))[0].numpy())
    a, b = outs[0], outs[len(outs) // 2]
    units = np.abs(a.view(np.int32).astype(np.int64) - b.view(np.int32).astype(np.int64))
    finite = np.isfinite(a)
    assert units[finite].max() <= 4 and (units[finite] == 0).mean() > 0.8
    assert _sign_bits(a[~finite]) == _sign_bits(b[~finite])
    edges = [-12, -11, -10, -9, -8, -7, -6, -2, -1]       # (-88 and below: a few units)
    assert _sign_bits(a[edges]) == _sign_bits(b[edges])
    if grad:
        np.testing.assert_allclose(outs[3], outs[1], rtol=3e-6, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# GLU as one node (float32 / float64, C-contiguous)
# ---------------------------------------------------------------------------------------------
GLU_CASES = [((1024, 260), -1), ((600, 300), 0), ((4, 6, 8), 1), ((3, 140000), 1), ((2,), 0),
             ((70000, 2), 1), ((5, 4, 3, 2), 3), ((0, 4), 1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,dim", GLU_CASES)
def test_glu_values_and_gradients(dtype, shape, dim):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)
    flat[:min(6, flat.size)] = [np.nan, np.inf, -np.inf, -0.0, 0.0, -100.0][:min(6, flat.size)]
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        y = F[L].glu(t, dim)
        g = L.tensor(np.random.default_rng(6).standard_normal(tuple(y.shape)).astype(dtype))
        gx, = L.autograd.grad(y, t, g)
        res.append((y.detach().numpy(), gx.numpy(), y.grad_fn.name(), y.stride()))
    (y0, g0, n0, s0), (y1, g1, n1, s1) = res
    assert n0 == n1 and s0 == s1 and y1.dtype == y0.dtype
    tol = 1e-6 if dtype == "float32" else 1e-14
    assert np.array_equal(np.isnan(y0), np.isnan(y1))
    np.testing.assert_allclose(y1, y0, rtol=tol, atol=tol)
    assert np.array_equal(np.isnan(g0), np.isnan(g1))
    np.testing.assert_allclose(g1, g0, rtol=20 * tol, atol=tol)
    with mg.no_grad():
        again = F[mg].glu(mg.tensor(x), dim).numpy()
    assert np.array_equal(again, y1, equal_nan=True)


def test_glu_second_order_and_layouts():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 8, 5))
    g = rng.standard_normal((3, 4, 5))
    res = []
    for L in (torch, mg):
        t = L.tensor(x, requires_grad=True)
        y = F[L].glu(t, 1)
        gx, = L.autograd.grad(y, t, L.tensor(g), create_graph=True)
        g2, = L.autograd.grad((gx * gx).sum(), t)
        tt = L.tensor(x.transpose(2, 1, 0).copy(), requires_grad=True).permute(2, 1, 0)
        z = F[L].glu(tt, 1)                   # a non-contiguous input: the composition
        gz, = L.autograd.grad(z, tt, L.tensor(g))
        res.append((gx.detach().numpy(), g2.numpy(), z.detach().numpy(), gz.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14)
