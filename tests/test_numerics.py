"""NaN and inf travel as in PyTorch (no silent clamping); large logits stay finite.

Every op runs on the same numbers in minigrad and PyTorch; outputs must agree element by
element *including* where they are NaN, +inf or -inf (``assert_allclose`` treats NaN as equal
to NaN only at the same position).  Where the op is differentiable the input gradient under
a fixed upstream gradient must agree the same way.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import minigrad

torch.set_num_threads(1)
NAN, INF = float("nan"), float("inf")

ROW = [1.0, NAN, INF, -INF, 0.0, -2.0, 3.0, 0.5]
GRID = [[1.0, NAN, 3.0, 0.5],
        [INF, 2.0, -INF, 1.0],
        [0.0, -1.0, 2.0, INF],
        [4.0, 5.0, -3.0, -1.0]]
FINITE_ROWS = [[0.5, -1.0, 2.0, 0.25], [3.0, 1.0, -2.0, 0.0]]


def F(T):
    return T.nn.functional


def _same(ours, theirs, what, rtol=1e-6, atol=1e-12):
    ours = np.asarray(ours)
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs {theirs.shape}"
    if ours.dtype.kind in "biu" or theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
        return
    # NaN where PyTorch has NaN, the same infinities, the rest close
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs), err_msg=f"{what}: NaN mask")
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(theirs),
                                  err_msg=f"{what}: +inf mask")
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs),
                                  err_msg=f"{what}: -inf mask")
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol, err_msg=what)


def _both(op, data, grad=True, dtype="float64", rtol=1e-6, atol=1e-12):
    """Run ``op(T, x)`` on both libraries; compare outputs and, if asked, input gradients."""
    results = []
    for T in (minigrad, torch):
        x = T.tensor(np.array(data), dtype=getattr(T, dtype), requires_grad=grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = op(T, x)
            values = out[0] if isinstance(out, tuple) else out
            g = None
            if grad and values.requires_grad:
                upstream = np.linspace(0.5, 1.5, values.numel()).reshape(tuple(values.shape))
                values.backward(T.tensor(upstream, dtype=values.dtype))
                g = x.grad
        results.append((out, g))
    (mine, my_grad), (ref, ref_grad) = results
    if isinstance(ref, tuple):
        for i, (a, b) in enumerate(zip(mine, ref)):
            _same(a.detach().numpy(), b.detach().numpy(), f"output {i}", rtol, atol)
    else:
        _same(mine.detach().numpy(), ref.detach().numpy(), "output", rtol, atol)
    if grad and ref_grad is not None:
        assert my_grad is not None, "no gradient"
        _same(my_grad.numpy(), ref_grad.numpy(), "gradient", rtol, atol)


# ----------------------------------------------------------------------------------------------
# Elementwise
# ----------------------------------------------------------------------------------------------
ELEMENTWISE = {
    "add": lambda T, x: x + 1.0,
    "sub-self": lambda T, x: x - x,                 # inf - inf = nan
    "mul": lambda T, x: x * -2.0,
    "mul-zero": lambda T, x: x * 0.0,               # inf * 0 = nan
    "div-zero": lambda T, x: x / 0.0,
    "rdiv": lambda T, x: 1.0 / x,
    "pow2": lambda T, x: x ** 2,
    "pow-half": lambda T, x: x ** 0.5,
    "rpow": lambda T, x: 2.0 ** x,
    "exp": lambda T, x: x.exp(),
    "log": lambda T, x: x.log(),
    "log1p": lambda T, x: x.log1p(),
    "sqrt": lambda T, x: x.sqrt(),
    "abs": lambda T, x: x.abs(),
    "neg": lambda T, x: -x,
    "tanh": lambda T, x: x.tanh(),
    "sigmoid": lambda T, x: x.sigmoid(),
    "sin": lambda T, x: x.sin(),
    "relu": lambda T, x: x.relu(),
    "F.relu": lambda T, x: F(T).relu(x),
    "leaky_relu": lambda T, x: F(T).leaky_relu(x, 0.1),
    "clamp": lambda T, x: x.clamp(-1.0, 1.0),     # NaN stays NaN: no silent clamping
    "clamp-min": lambda T, x: x.clamp(min=0.0),
    "maximum": lambda T, x: T.maximum(x, T.zeros_like(x)),
    "minimum": lambda T, x: T.minimum(x, T.zeros_like(x)),
    "where": lambda T, x: T.where(x > 0, x, x * 2),
    "square": lambda T, x: x.square(),
    "softplus": lambda T, x: F(T).softplus(x),
    "silu": lambda T, x: F(T).silu(x),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_propagates_nan_and_inf(name):
    _both(ELEMENTWISE[name], ROW)


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "sign", "gt", "eq"])
def test_predicates_see_nan_and_inf(name):
    op = {"isnan": lambda T, x: x.isnan(), "isinf": lambda T, x: x.isinf(),
          "isfinite": lambda T, x: x.isfinite(), "sign": lambda T, x: x.sign(),
          "gt": lambda T, x: x > 0, "eq": lambda T, x: x == x}[name]
    _both(op, ROW, grad=False)


# ----------------------------------------------------------------------------------------------
# Reductions, softmax
# ----------------------------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda T, x: x.sum(),
    "sum-dim": lambda T, x: x.sum(1),
    "mean-dim": lambda T, x: x.mean(0),
    "prod-dim": lambda T, x: x.prod(1),
    "amax-dim": lambda T, x: x.amax(1),
    "amin-dim": lambda T, x: x.amin(0),
    "max": lambda T, x: x.max(),
    "min": lambda T, x: x.min(),
    "max-dim": lambda T, x: x.max(1),
    "min-dim": lambda T, x: x.min(0),
    "var-dim": lambda T, x: x.var(1),
    "std-dim": lambda T, x: x.std(0),
    "logsumexp": lambda T, x: x.logsumexp(1),
    "softmax": lambda T, x: x.softmax(1),
    "log_softmax": lambda T, x: x.log_softmax(1),
    "norm-like": lambda T, x: (x * x).sum(1).sqrt(),
}


@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_propagate_nan_and_inf(name):
    _both(REDUCTIONS[name], GRID)


@pytest.mark.parametrize("name", ["argmax", "argmin", "argmax-dim", "argmin-dim"])
def test_arg_reductions_pick_nan_as_pytorch(name):
    op = {"argmax": lambda T, x: x.argmax(), "argmin": lambda T, x: x.argmin(),
          "argmax-dim": lambda T, x: x.argmax(1), "argmin-dim": lambda T, x: x.argmin(1)}[name]
    _both(op, GRID, grad=False)


def test_softmax_of_a_row_with_inf():
    # [inf, 1, 2]: softmax is [nan, 0, 0] in PyTorch (inf - inf); no silent fix-up
    _both(lambda T, x: x.softmax(-1), [[INF, 1.0, 2.0], [-INF, 1.0, 2.0], [-INF, -INF, -INF]])


# ----------------------------------------------------------------------------------------------
# matmul, linear, conv, pooling
# ----------------------------------------------------------------------------------------------
def test_matmul_spreads_nan_and_inf_like_pytorch():
    _both(lambda T, x: x @ T.tensor(np.arange(16.0).reshape(4, 4) - 7, dtype=x.dtype), GRID)
    _both(lambda T, x: T.tensor(np.arange(8.0).reshape(2, 4), dtype=x.dtype) @ x, GRID)


def test_linear_with_nan_input():
    _both(lambda T, x: F(T).linear(x, T.ones(3, 4, dtype=x.dtype), T.zeros(3, dtype=x.dtype)),
          GRID)


def _image(values):
    return np.array(values).reshape(1, 1, 4, 4)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
                                dict(kernel_size=2, stride=1, ceil_mode=True)])
def test_max_pool2d_propagates_nan(kw):
    # PyTorch's max pooling returns NaN for a window holding a NaN (relu + max-pool nets keep
    # showing the NaN instead of hiding it)
    _both(lambda T, x: F(T).max_pool2d(x, **kw), _image(GRID))


def test_max_pool2d_with_indices_points_at_the_nan():
    _both(lambda T, x: F(T).max_pool2d(x, 2, return_indices=True), _image(GRID), grad=False)


def test_relu_then_max_pool_keeps_nan():
    _both(lambda T, x: F(T).max_pool2d(F(T).relu(x), 2), _image(GRID))


def test_avg_pool2d_and_conv2d_propagate_nan_and_inf():
    _both(lambda T, x: F(T).avg_pool2d(x, 2, stride=1), _image(GRID))
    weight = np.array([[[[1.0, -1.0], [0.5, 2.0]]]])
    _both(lambda T, x: F(T).conv2d(x, T.tensor(weight, dtype=x.dtype), padding=1), _image(GRID))


def test_losses_propagate_nan():
    _both(lambda T, x: F(T).mse_loss(x, T.zeros_like(x)), GRID)
    _both(lambda T, x: F(T).cross_entropy(x, T.tensor([0, 1, 2, 3])), GRID)
    _both(lambda T, x: F(T).binary_cross_entropy_with_logits(x, T.ones_like(x) * 0.5), GRID)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_nan_gradient_reaches_the_parameter_not_zeroed():
    """A NaN produced in the middle of a net is not clamped away before it reaches .grad."""
    for T in (minigrad, torch):
        w = T.tensor([1.0, 2.0], requires_grad=True)
        x = T.tensor([0.0, 4.0])
        (x.sqrt() * w).sum().backward()
        assert not np.isnan(w.grad.numpy()).any()
        w.grad = None
        (x.sqrt().log() * w).sum().backward()        # log(0) = -inf, flows into w's grad
        assert np.isneginf(w.grad.numpy()[0]), T.__name__


# ----------------------------------------------------------------------------------------------
# Large logits: log_softmax and cross_entropy stay finite and match PyTorch
# ----------------------------------------------------------------------------------------------
LARGE = [[1e4, -1e4, 0.0, 5e3],
         [-1e4, -1e4, -1e4, -1e4 + 1.0],
         [1e4, 1e4, 1e4 - 3.0, -1e4],
         [2e4, -2e4, 3.0, 1e4]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", ["log_softmax", "softmax", "logsumexp", "cross_entropy",
                                  "cross_entropy-sum", "cross_entropy-smoothing",
                                  "cross_entropy-probabilities", "nll_of_log_softmax",
                                  "bce_with_logits", "sigmoid", "tanh"])
def test_large_logits_stay_finite_and_match(name, dtype):
    target = [0, 3, 2, 1]
    op = {
        "log_softmax": lambda T, x: F(T).log_softmax(x, dim=1),
        "softmax": lambda T, x: F(T).softmax(x, dim=1),
        "logsumexp": lambda T, x: x.logsumexp(1),
        "cross_entropy": lambda T, x: F(T).cross_entropy(x, T.tensor(target)),
        "cross_entropy-sum": lambda T, x: F(T).cross_entropy(x, T.tensor(target),
                                                             reduction="sum"),
        "cross_entropy-smoothing": lambda T, x: F(T).cross_entropy(x, T.tensor(target),
                                                                   label_smoothing=0.1),
        "cross_entropy-probabilities": lambda T, x: F(T).cross_entropy(
            x, T.tensor(np.full((4, 4), 0.25), dtype=x.dtype)),
        "nll_of_log_softmax": lambda T, x: F(T).nll_loss(F(T).log_softmax(x, 1),
                                                         T.tensor(target)),
        "bce_with_logits": lambda T, x: F(T).binary_cross_entropy_with_logits(
            x, T.tensor(np.eye(4), dtype=x.dtype)),
        "sigmoid": lambda T, x: x.sigmoid(),
        "tanh": lambda T, x: x.tanh(),
    }[name]
    rtol, atol = (1e-6, 1e-12) if dtype == "float64" else (1e-5, 1e-6)
    _both(op, LARGE, dtype=dtype, rtol=rtol, atol=atol)
    x = minigrad.tensor(np.array(LARGE), dtype=getattr(minigrad, dtype), requires_grad=True)
    out = op(minigrad, x)
    out.sum().backward()
    assert np.isfinite(out.detach().numpy()).all(), f"{name}: {out}"
    assert np.isfinite(x.grad.numpy()).all(), f"{name} gradient: {x.grad}"


def test_cross_entropy_of_a_confident_wrong_answer_is_large_not_inf():
    x = minigrad.tensor([[1e4, -1e4]], requires_grad=True)
    loss = minigrad.nn.functional.cross_entropy(x, minigrad.tensor([1]))
    loss.backward()
    assert loss.item() == pytest.approx(2e4)
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, -1.0]])


def test_ieee_special_values_compute_without_numpy_warnings():
    """inf * 0, inf - inf, overflow, log(0): PyTorch returns the IEEE answer silently; no
    numpy RuntimeWarning may leak from a forward or a backward."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = minigrad.tensor([float("inf"), 1.0, 0.0], requires_grad=True)
        y = (x * 0).sum() + (x - x).sum() + minigrad.log(x).sum() + minigrad.exp(x * 1e3).sum()
        h = minigrad.tensor([60000.0], dtype=minigrad.float16) * 2
        y.backward()
    assert bool(minigrad.isnan(y)) and bool(minigrad.isinf(h).all())
    assert bool(minigrad.isinf(x.grad).all())          # as PyTorch: [inf, inf, inf]
