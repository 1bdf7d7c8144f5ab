"""Losses and batch norm under the differentiable-backward contract, against PyTorch.

The registry (tests/test_registry_ops.py) checks every loss and batch_norm sample's first and
second derivatives against torch and finite differences; this file adds what it cannot:
third derivatives (against torch differentiating a composition where its batch_norm is off,
and finite differences), a gradient penalty through BatchNorm2d in a small network, the gradient of
``F.normalize`` at a zero vector, and batch_norm's argument errors, each compared with torch.
"""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(array, requires_grad=False):
    """The same float64 numbers as a minigrad and a torch tensor."""
    a = np.asarray(array, dtype=np.float64)
    return (minigrad.tensor(a.copy(), requires_grad=requires_grad),
            torch.tensor(a.copy(), requires_grad=requires_grad))


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _close(mine, ref, rtol=1e-7, atol=1e-10, what=""):
    np.testing.assert_allclose(_np(mine), _np(ref), rtol=rtol, atol=atol, err_msg=what)


# ----------------------------------------------------------------------------------------------
# Third derivatives: the backward of the backward is itself made of differentiable ops
# ----------------------------------------------------------------------------------------------
def _third_derivative(lib, loss_fn, x):
    """d/dx of sum(v * d/dx(sum(u * dL/dx))) for fixed u, v: three backward passes."""
    rng = np.random.default_rng(7)
    u = lib.tensor(rng.standard_normal(tuple(x.shape)))
    v = lib.tensor(rng.standard_normal(tuple(x.shape)))
    g1, = lib.autograd.grad(loss_fn(lib, x), x, create_graph=True)
    g2, = lib.autograd.grad((g1 * u).sum(), x, create_graph=True)
    g3, = lib.autograd.grad((g2 * v).sum(), x)
    return g3


_TARGET = np.array([2, 0, 4, 1, -100, 3])
_LOSSES = {
    "cross_entropy": lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(_TARGET)),
    "cross_entropy smoothing, weight": lambda lib, x: lib.nn.functional.cross_entropy(
        x, lib.tensor(_TARGET), weight=lib.tensor(np.linspace(0.5, 2.0, 5)),
        label_smoothing=0.2, reduction="sum"),
    "bce_with_logits pos_weight": lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
        x, lib.tensor(np.linspace(0, 1, 30).reshape(6, 5)),
        pos_weight=lib.tensor(np.linspace(0.5, 3.0, 5))),
    "binary_cross_entropy": lambda lib, x: lib.nn.functional.binary_cross_entropy(
        lib.sigmoid(x), lib.tensor(np.linspace(0, 1, 30).reshape(6, 5))),
    "batch_norm training": lambda lib, x: (_batch_norm_for(lib)(
        x, None, None, lib.tensor(np.linspace(0.5, 1.5, 5)), lib.tensor(np.zeros(5)),
        training=True) ** 3).sum(),
}


def _composed_batch_norm(x, running_mean, running_var, weight, bias, training):
    """torch's batch norm in training mode, written with elementary ops.

    torch's own batch_norm gets third derivatives wrong (2026-12, torch 2.13: its double
    backward treats the batch statistics as constants; the composed form and finite
    differences agree with each other and with minigrad), so the oracle for the third
    derivative is torch differentiating this composition."""
    assert training and running_mean is None and running_var is None
    mean = x.mean(0, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(0, keepdim=True)
    return centered / (var + 1e-5).sqrt() * weight + bias


def _batch_norm_for(lib):
    return _composed_batch_norm if lib is torch else lib.nn.functional.batch_norm


@pytest.mark.parametrize("name", sorted(_LOSSES))
def test_third_derivative_matches_torch(name):
    x = np.random.default_rng(3).standard_normal((6, 5))
    mx, tx = _pair(x, requires_grad=True)
    _close(_third_derivative(minigrad, _LOSSES[name], mx),
           _third_derivative(torch, _LOSSES[name], tx), rtol=1e-6, atol=1e-9, what=name)


def test_batch_norm_composed_oracle_is_torch_batch_norm_to_second_order():
    """The composition above is torch's batch_norm: same output, first and second derivatives
    (only the third differs, where torch's batch_norm is the one that is off)."""
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((6, 5)), requires_grad=True)
    w, b = torch.tensor(rng.uniform(0.5, 1.5, 5)), torch.tensor(rng.standard_normal(5))
    u = torch.tensor(rng.standard_normal((6, 5)))
    results = []
    for f in (TF.batch_norm, _composed_batch_norm):
        y = f(x, None, None, w, b, training=True)
        g1, = torch.autograd.grad((y ** 3).sum(), x, create_graph=True)
        g2, = torch.autograd.grad((g1 * u).sum(), x)
        results.append((y, g1, g2))
    for mine, ref in zip(*results):
        _close(mine, ref, rtol=1e-9, atol=1e-10)


def test_batch_norm_third_derivative_matches_finite_differences():
    """The third derivative by central differences of minigrad's own second derivative."""
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((4, 3))
    u, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))

    def second(x):                   # d/dx sum(u * dL/dx), L = sum(batch_norm(x)^3)
        xt = minigrad.tensor(x, requires_grad=True)
        y = F.batch_norm(xt, None, None, training=True)
        g1, = minigrad.autograd.grad((y ** 3).sum(), xt, create_graph=True)
        g2, = minigrad.autograd.grad((g1 * minigrad.tensor(u)).sum(), xt)
        return (g2.numpy() * v).sum()

    xt = minigrad.tensor(x0.copy(), requires_grad=True)
    g3 = _third_derivative_with(u, v, xt).numpy()
    h = 1e-5
    for index in [(0, 0), (1, 2), (3, 1)]:
        step = np.zeros_like(x0)
        step[index] = h
        numeric = (second(x0 + step) - second(x0 - step)) / (2 * h)
        assert abs(numeric - g3[index]) <= 1e-5 * max(1.0, abs(numeric)), index


def _third_derivative_with(u, v, x):
    y = F.batch_norm(x, None, None, training=True)
    g1, = minigrad.autograd.grad((y ** 3).sum(), x, create_graph=True)
    g2, = minigrad.autograd.grad((g1 * minigrad.tensor(u)).sum(), x, create_graph=True)
    return minigrad.autograd.grad((g2 * minigrad.tensor(v)).sum(), x)[0]


# ----------------------------------------------------------------------------------------------
# A gradient penalty through BatchNorm2d and cross entropy (the WGAN-GP / double-backprop use)
# ----------------------------------------------------------------------------------------------
def _penalty_grads(lib, x, w1, gamma, beta, w2, target, training):
    nnf = lib.nn.functional
    rm, rv = lib.tensor(np.zeros(3)), lib.tensor(np.ones(3) * 1.5)
    h = nnf.conv2d(x, w1, padding=1)                                   # (2, 3, 4, 4)
    h = nnf.batch_norm(h, rm, rv, gamma, beta, training=training)
    h = lib.tanh(h).reshape(2, -1)
    loss = nnf.cross_entropy(h @ w2, target)
    gx, = lib.autograd.grad(loss, x, create_graph=True)
    penalty = (gx * gx).sum()
    return lib.autograd.grad(loss + penalty, (x, w1, gamma, beta, w2))


@pytest.mark.parametrize("training", [True, False])
def test_gradient_penalty_through_batch_norm_matches_torch(training):
    rng = np.random.default_rng(11)
    arrays = [rng.standard_normal((2, 2, 4, 4)), 0.5 * rng.standard_normal((3, 2, 3, 3)),
              rng.uniform(0.5, 1.5, 3), 0.1 * rng.standard_normal(3),
              0.3 * rng.standard_normal((48, 4))]
    mine = [_pair(a, requires_grad=True)[0] for a in arrays]
    ref = [_pair(a, requires_grad=True)[1] for a in arrays]
    target = np.array([1, 3])
    got = _penalty_grads(minigrad, *mine, minigrad.tensor(target), training)
    want = _penalty_grads(torch, *ref, torch.tensor(target), training)
    for name, g, w in zip(("x", "conv weight", "bn weight", "bn bias", "linear"), got, want):
        _close(g, w, rtol=1e-6, atol=1e-9, what=f"d(loss + |dloss/dx|^2)/d{name}")


def test_batch_norm_second_derivative_sees_the_batch_statistics():
    """Holding mean and 1/std constant in the backward gives a different (wrong) Hessian: this
    sample tells the two apart, so the registry's check of it can fail."""
    x = np.random.default_rng(5).standard_normal((4, 3))

    def hvp(lib, frozen):
        xt = lib.tensor(x.copy(), requires_grad=True)
        if frozen:    # the same normalization, with the statistics as constants
            mean = lib.tensor(x.mean(0))
            inv = lib.tensor(1 / np.sqrt(x.var(0) + 1e-5))
            y = (xt - mean) * inv
        else:
            y = lib.nn.functional.batch_norm(xt, None, None, training=True)
        g, = lib.autograd.grad((y ** 3).sum(), xt, create_graph=True)
        return lib.autograd.grad((g * g).sum(), xt)[0]

    mine, ref = hvp(minigrad, False), hvp(torch, False)
    _close(mine, ref, rtol=1e-6, atol=1e-9)
    assert np.abs(_np(hvp(torch, True)) - _np(ref)).max() > 1e-3


# ----------------------------------------------------------------------------------------------
# F.normalize: a zero vector (and zero elements for p < 1) get torch's finite gradient
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [1.0, 2.0, 3.0, 0.5])
@pytest.mark.parametrize("dim", [1, 0])
def test_normalize_zero_vector_gradient_matches_torch(p, dim):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0], [0.0, 0.0, 0.0]])
    g = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [-1.0, 0.5, 2.0]])
    mx, tx = _pair(x, requires_grad=True)
    mine = F.normalize(mx, p=p, dim=dim)
    ref = TF.normalize(tx, p=p, dim=dim)
    _close(mine, ref)
    gm, = minigrad.autograd.grad(mine, mx, minigrad.tensor(g))
    gt, = torch.autograd.grad(ref, tx, torch.tensor(g))
    assert np.isfinite(_np(gm)).all()
    # the zero rows' gradient is g / eps = 1e12 * g: compare relative to the largest entry
    _close(gm, gt, rtol=1e-7, atol=1e-12 * np.abs(_np(gt)).max())


def test_normalize_tiny_vector_below_eps_matches_torch():
    x = np.array([[3e-13, -4e-13], [3.0, 4.0]])
    mx, tx = _pair(x, requires_grad=True)
    gm, = minigrad.autograd.grad(F.normalize(mx).sum(), mx)
    gt, = torch.autograd.grad(TF.normalize(tx).sum(), tx)
    _close(gm, gt, rtol=1e-7, atol=1e-3)


# ----------------------------------------------------------------------------------------------
# batch_norm's argument checks: torch's exception type and message
# ----------------------------------------------------------------------------------------------
def _bn_args(lib, x_shape, rm, rv, w, b):
    x = lib.tensor(np.ones(x_shape))
    t = [None if v is None else lib.tensor(np.asarray(v, dtype=np.float64)) for v in
         (rm, rv, w, b)]
    return (x, *t)


_BN_ERRORS = {
    "running_mean of 2 for 3 channels": ((4, 3), np.zeros(2), np.ones(3), None, None),
    "running_var of 5": ((4, 3, 2), np.zeros(3), np.ones(5), None, None),
    "weight of 2": ((4, 3), np.zeros(3), np.ones(3), np.ones(2), None),
    "bias of 4": ((4, 3, 2, 2), np.zeros(3), np.ones(3), np.ones(3), np.ones(4)),
    "running_mean and weight both wrong": ((4, 3), np.zeros(2), np.ones(3), np.ones(2), None),
    "running_var missing": ((4, 3), np.zeros(3), None, None, None),
    "running_mean missing": ((4, 3), None, np.ones(3), None, None),
    "both missing, wrong weight": ((4, 3), None, None, np.ones(2), None),
}


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("case", sorted(_BN_ERRORS))
def test_batch_norm_argument_errors_match_torch(case, training):
    shape, *stats = _BN_ERRORS[case]
    with pytest.raises(Exception) as ref:
        TF.batch_norm(*_bn_args(torch, shape, *stats), training=training)
    with pytest.raises(type(ref.value)) as mine:
        F.batch_norm(*_bn_args(minigrad, shape, *stats), training=training)
    assert str(mine.value) == str(ref.value)


def test_batch_norm_one_value_per_channel_error_matches_torch():
    with pytest.raises(ValueError) as ref:
        TF.batch_norm(torch.ones(1, 3), None, None, torch.ones(2), training=True)
    with pytest.raises(ValueError) as mine:
        F.batch_norm(minigrad.ones(1, 3), None, None, minigrad.ones(2), training=True)
    assert str(mine.value) == str(ref.value).replace("torch.Size", "minigrad.Size")


def test_batch_norm_running_stats_must_be_1d():
    with pytest.raises(RuntimeError, match="expected 1 dims") as ref:
        TF.batch_norm(torch.ones(4, 3), torch.zeros(3, 1), torch.ones(3), training=False)
    with pytest.raises(RuntimeError, match="running_mean: expected 1 dims but tensor has 2"):
        F.batch_norm(minigrad.ones(4, 3), minigrad.zeros(3, 1), minigrad.ones(3), training=False)
    assert ref.value is not None


def test_batch_norm_weight_of_c_elements_in_another_shape():
    """torch accepts a (C, 1) weight in forward (its backward then fails); minigrad gives the
    same output and the gradient in the weight's own shape, equal to torch's for a (C,) one."""
    x = np.random.default_rng(2).standard_normal((4, 3, 2))
    w = np.array([0.5, 1.0, 2.0])
    mx, tx = _pair(x, requires_grad=True)
    mw, _ = _pair(w.reshape(3, 1), requires_grad=True)
    _, tw = _pair(w, requires_grad=True)
    mine = F.batch_norm(mx, None, None, mw, training=True)
    ref = TF.batch_norm(tx, None, None, tw, training=True)
    _close(mine, ref)
    _close(TF.batch_norm(torch.tensor(x), None, None, torch.tensor(w.reshape(3, 1)),
                         training=True), ref)
    (mine ** 2).sum().backward()
    (ref ** 2).sum().backward()
    assert tuple(mw.grad.shape) == (3, 1)
    _close(mw.grad.reshape(3), tw.grad)
    _close(mx.grad, tx.grad)


def test_batch_norm_input_modified_in_place_before_backward_raises_like_torch():
    """batch_norm keeps its input for backward (as torch does): an in-place edit is caught."""
    for lib in (torch, minigrad):
        x = lib.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
        h = x * 1.0
        y = lib.nn.functional.batch_norm(h, None, None, training=True)
        h.add_(1.0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            (y * y).sum().backward()
