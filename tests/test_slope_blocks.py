"""The one-pass backward of sigmoid, tanh, sin and cos (``ops/_slope_blocks.py``) against
PyTorch: every kind of incoming gradient (dense, one number expanded as sum() and mean()
give it, expanded along one dim, non-contiguous), sizes around the block length, 0-d and
empty tensors, inf and NaN, one and two threads, and the graph path (create_graph)."""
import numpy as np
import pytest
import torch

import minigrad
from minigrad.ops._slope_blocks import BLOCK

OPS = ["sigmoid", "tanh", "sin", "cos"]
SHAPES = [(), (0,), (7,), (BLOCK + 3,), (2, 3, 4)]


def _grads(name, a, make_loss, create_graph=False):
    """x.grad on both sides for loss = make_loss(lib, f(x))."""
    out = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        y = getattr(lib, name)(x)
        make_loss(lib, y).backward(create_graph=create_graph)
        out.append(x.grad.detach().numpy())
    return out


def _close(mine, theirs, dtype):
    # the forwards round differently (numpy's and PyTorch's tanh, exp...): a few ulps of
    # the result, which 1 - y^2 turns into a few ulps of the largest gradient
    eps = 8 * np.finfo(dtype).eps
    scale = max(1.0, float(np.abs(theirs).max())) if theirs.size else 1.0
    np.testing.assert_allclose(theirs, mine, rtol=eps, atol=eps * scale)
    assert theirs.shape == mine.shape and theirs.dtype == mine.dtype


LOSSES = {
    "sum": lambda lib, y: y.sum(),
    "mean": lambda lib, y: y.mean(),
    "dense": lambda lib, y: (y * lib.linspace(-2, 2, y.numel()).reshape(y.shape).to(
        y.dtype)).sum(),
    "row": lambda lib, y: (y * lib.arange(y.shape[-1]).to(y.dtype)).sum() if y.ndim else
    y.sum(),
    "transposed": lambda lib, y: (y.mT.contiguous().mT * 3).sum() if y.ndim >= 2 else
    (y * 3).sum(),
}


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("loss", list(LOSSES))
def test_slope_matches_torch(name, dtype, shape, loss):
    a = (np.random.default_rng(0).standard_normal(shape) * 3).astype(dtype)
    _close(*_grads(name, a, LOSSES[loss]), dtype)


@pytest.mark.parametrize("name", OPS)
def test_non_contiguous_incoming_gradient(name):
    a = np.random.default_rng(1).standard_normal((64, 48))
    g = np.random.default_rng(2).standard_normal((48, 64))
    out = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        getattr(lib, name)(x).backward(lib.tensor(g).T)       # a transposed gradient
        out.append(x.grad.numpy())
    _close(out[1], out[0], np.float64)


@pytest.mark.parametrize("name", OPS)
def test_two_threads_split_the_blocks(name):
    a = np.random.default_rng(3).standard_normal((8, BLOCK + 5)).astype(np.float32)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        for loss in ("sum", "dense"):
            _close(*_grads(name, a, LOSSES[loss]), np.float32)
    finally:
        minigrad.set_num_threads(before)


@pytest.mark.parametrize("name", OPS)
def test_inf_and_nan(name):
    a = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e30, -1e30, 2.5])
    mine, theirs = _grads(name, a, LOSSES["dense"])
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-14, atol=0)


@pytest.mark.parametrize("name", OPS)
def test_second_derivative_takes_the_graph_path(name):
    """With create_graph the slope is made of Tensor ops: x.grad has a graph, and its own
    gradient matches PyTorch's."""
    a = np.random.default_rng(4).standard_normal((5, 6))
    out = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        getattr(lib, name)(x).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        (gx,) = lib.autograd.grad((x.grad * x.grad).sum(), x)
        out.append(gx.detach().numpy())
    _close(out[1], out[0], np.float64)
