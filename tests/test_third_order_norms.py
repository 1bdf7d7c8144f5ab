"""Third derivatives of the normalisation layers, against finite differences.

minigrad's backward is made of differentiable ops, so every order is the derivative of the
order before: the batch statistics (mean, inverse std) are recomputed from x inside the
graph, never read back as constants. PyTorch 2.13's fused kernels differ here: their
double backward treats the saved mean and inverse std as constants, so the third
derivatives of layer_norm, batch_norm (training) and instance_norm are silently wrong
(pytorch/pytorch#175754, #186256), and a nested forward-mode second derivative of
layer_norm has the wrong sign (#196700). These cases are therefore checked against central
finite differences of minigrad's own second derivative (a five-point stencil in float64)
and a closed form, not against torch; torch agrees on the ones it gets right
(group_norm, rms_norm, normalize, local_response_norm), and on every first and second
derivative (tests/test_opinfo_gradgrad.py).
"""
import numpy as np
import pytest

import minigrad

F = minigrad.nn.functional
_RNG = np.random.default_rng(1)
_X = _RNG.standard_normal((2, 3, 4, 5))
_C = _RNG.standard_normal(_X.shape)          # the weights of the functional below
_V = _RNG.standard_normal(_X.shape)          # the direction of the finite difference

NORMS = {
    "layer_norm": lambda x: F.layer_norm(x, (5,)) ** 3,
    "layer_norm_affine": lambda x: F.layer_norm(
        x, (4, 5), minigrad.linspace(0.5, 2, 20, dtype=x.dtype).reshape(4, 5),
        minigrad.full((4, 5), 0.25, dtype=x.dtype)) ** 3,
    "batch_norm": lambda x: F.batch_norm(x, None, None, training=True) ** 3,
    "instance_norm": lambda x: F.instance_norm(x) ** 3,
    "group_norm": lambda x: F.group_norm(x, 3) ** 3,
    "rms_norm": lambda x: F.rms_norm(x, (5,)) ** 3,
    "normalize": lambda x: F.normalize(x, dim=-1) ** 3,
}


def _psi(f, array, with_grad=False):
    """<c, h(x)> with h the gradient of |grad f(x)|^2 (a second derivative of f), and its
    gradient in x (a third derivative) when asked."""
    x = minigrad.tensor(array, requires_grad=True)
    g, = minigrad.autograd.grad(f(x).sum(), x, create_graph=True)
    h, = minigrad.autograd.grad((g * g).sum(), x, create_graph=True)
    psi = (h * minigrad.tensor(_C)).sum()
    if not with_grad:
        return psi.item()
    third, = minigrad.autograd.grad(psi, x)
    return np.asarray(third)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_third_derivative_matches_finite_differences(name):
    f, e = NORMS[name], 1e-4
    # five-point central difference of psi along v: error O(e^4)
    fd = (8 * (_psi(f, _X + e * _V) - _psi(f, _X - e * _V))
          - (_psi(f, _X + 2 * e * _V) - _psi(f, _X - 2 * e * _V))) / (12 * e)
    analytic = float((_psi(f, _X, with_grad=True) * _V).sum())
    assert analytic == pytest.approx(fd, rel=1e-7), name


def _layer_norm_of_t(t):
    """-t / sqrt(1 + t^2): layer_norm of (t, 0) with weight (1, 2), eps 1/4 (#196700)."""
    x = minigrad.stack((t, minigrad.zeros((), dtype=t.dtype))).reshape(1, 2)
    w = minigrad.tensor([1.0, 2.0], dtype=t.dtype)
    return F.layer_norm(x, [2], weight=w, bias=minigrad.zeros(2, dtype=t.dtype),
                        eps=0.25).sum()


def test_layer_norm_second_derivative_forward_and_reverse_mode():
    t0 = 0.7
    exact = 3 * t0 / (1 + t0 * t0) ** 2.5          # d^2/dt^2 of -t / sqrt(1 + t^2)
    t = minigrad.tensor(t0, dtype=minigrad.float64)

    def first(t):
        return minigrad.func.jvp(_layer_norm_of_t, (t,), (minigrad.ones_like(t),))[1]
    _, nested = minigrad.func.jvp(first, (t,), (minigrad.ones_like(t),))
    assert nested.item() == pytest.approx(exact, rel=1e-12)

    t = minigrad.tensor(t0, dtype=minigrad.float64, requires_grad=True)
    g, = minigrad.autograd.grad(_layer_norm_of_t(t), t, create_graph=True)
    h, = minigrad.autograd.grad(g, t)
    assert h.item() == pytest.approx(exact, rel=1e-12)


def test_two_norm_of_a_zero_row_differentiates_twice_as_torch():
    # the 2-norm is one node (LinalgVectorNormBackward0); its gradient g (x / norm), the
    # quotient masked where the norm is 0, differentiates again as PyTorch's (NaN there)
    torch = pytest.importorskip("torch")
    rows = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0], [0.5, 0.0, -1.5]])
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(rows, requires_grad=True)
        w = lib.tensor([1.0, 2.0, -1.0], dtype=x.dtype, requires_grad=True)
        y = lib.linalg.vector_norm(x, dim=1)
        g, = lib.autograd.grad((y * w).sum(), x, create_graph=True)
        hx, hw = lib.autograd.grad((g * g.detach()).sum(), (x, w))
        out.append([np.asarray(t.detach()) for t in (y, g, hx, hw)] + [type(y.grad_fn).__name__])
    for mine, theirs in zip(out[0][:4], out[1][:4]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-15, equal_nan=True)
    assert out[0][4] == out[1][4]
