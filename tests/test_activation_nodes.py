"""GELU (exact and tanh), SiLU and hardswish as one node each (``minigrad/ops/activation_nodes``):
forward, both backwards (on arrays without a graph, as ops under create_graph) and the second
derivative against PyTorch, with the edges (+-3 for hardswish, infinities, NaN, -0.0) and
arrays long enough to be cut into blocks and over the threads."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import activation_nodes

F = {"gelu": lambda L, x: L.nn.functional.gelu(x),
     "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
     "silu": lambda L, x: L.nn.functional.silu(x),
     "hardswish": lambda L, x: L.nn.functional.hardswish(x)}
HARD_SIGMOID = {"hardsigmoid": lambda L, x: L.nn.functional.hardsigmoid(x)}
NODE = {"gelu": "GeluBackward0", "gelu_tanh": "GeluBackward0", "silu": "SiluBackward0",
        "hardswish": "HardswishBackward0"}
EDGES = [-np.inf, -1e30, -40.0, -5.0, -3.0, -2.9999, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.5,
         2.9999, 3.0, 3.0001, 5.0, 40.0, 1e30, np.inf]


def _inputs(dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([EDGES, rng.standard_normal(n) * 4]).astype(dtype)
    return x, rng.standard_normal(x.size).astype(dtype)


def _close(mine, theirs, dtype, atol32=2e-6):
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-6, atol=atol32)
    np.testing.assert_allclose(mine, theirs, equal_nan=True, **tol)


def _run(lib, name, x, g):
    X = lib.tensor(x, requires_grad=True)
    y = {**F, **HARD_SIGMOID}[name](lib, X)
    y.backward(lib.tensor(g))
    return y, X.grad


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(F))
def test_forward_and_gradient_match_torch(name, dtype, threads):
    x, g = _inputs(dtype, 300_000)          # several blocks of 64K numbers
    old = mg.get_num_threads()
    mg.set_num_threads(threads)
    try:
        y, gx = _run(mg, name, x, g)
    finally:
        mg.set_num_threads(old)
    assert y.grad_fn.name() == NODE[name]
    yt, gxt = _run(torch, name, x, g)
    # torch's float32 gelu(inf) is NaN (ours, and its float64 one: inf)
    finite = np.isfinite(x) if (name, dtype) == ("gelu", np.float32) else np.ones(x.size, bool)
    _close(y.detach().numpy()[finite], yt.detach().numpy()[finite], dtype)
    # tanh-form's slope has 1 - tanh^2 near tanh = -1: a float32 unit there is ~1e-6
    _close(gx.numpy()[np.isfinite(x)], gxt.numpy()[np.isfinite(x)], dtype,
           atol32=1e-5 if name == "gelu_tanh" else 2e-6)


@pytest.mark.parametrize("name", list(F))
def test_second_derivative_matches_torch(name):
    x, g = _inputs(np.float64, 60, seed=1)
    x = x[np.isfinite(x)]
    g = g[:x.size]
    outs = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        G = lib.tensor(g, requires_grad=True)
        gx, = lib.autograd.grad(F[name](lib, X), X, G, create_graph=True)
        v = lib.tensor(np.linspace(-1, 1, x.size))
        hx, hg = lib.autograd.grad((gx * v).sum(), (X, G))
        outs.append([t.detach().numpy() for t in (gx, hx, hg)])
    for mine, theirs in zip(*outs):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(F))
def test_both_backwards_give_torchs_gradient(name):
    """The array backward (no graph) and the ops backward (create_graph) each give torch's
    gradient, edges and infinities included."""
    x, g = _inputs(np.float64, 1000, seed=2)
    X, T = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    theirs, = torch.autograd.grad(F[name](torch, T), T, torch.tensor(g))
    for create_graph in (False, True):
        mine, = mg.autograd.grad(F[name](mg, X), X, mg.tensor(g), create_graph=create_graph)
        np.testing.assert_allclose(mine.detach().numpy(), theirs.numpy(), rtol=1e-12,
                                   atol=1e-12, equal_nan=True)


def test_hardswish_slope_at_the_ends_is_pytorchs():
    x = np.array([-3.5, -3.0, -2.5, 0.0, 2.5, 3.0, 3.5])
    _, gx = _run(mg, "hardswish", x, np.ones_like(x))
    np.testing.assert_allclose(gx.numpy(), [0, 0, -1 / 3, 0.5, 4 / 3, 1, 1], rtol=1e-15)


@pytest.mark.parametrize("name", list(F))
def test_views_zero_dim_and_empty(name):
    base = np.random.default_rng(3).standard_normal((6, 8))
    for x in (base[:, ::2].T, np.float64(0.7) * np.ones(()), np.zeros((0, 3))):
        y, gx = _run(mg, name, np.asarray(x), np.ones(np.shape(x)))
        yt, gxt = _run(torch, name, np.asarray(x), np.ones(np.shape(x)))
        assert y.shape == tuple(yt.shape)
        _close(y.detach().numpy(), yt.detach().numpy(), np.float64)
        _close(gx.numpy(), gxt.numpy(), np.float64)


def test_other_dtypes_keep_the_composition():
    assert activation_nodes.fits(mg.zeros(3))
    assert not activation_nodes.fits(mg.zeros(3, dtype=mg.float16))
    y = mg.nn.functional.gelu(mg.ones(3, dtype=mg.bfloat16, requires_grad=True))
    assert y.dtype == mg.bfloat16


def test_hardsigmoid_rounds_as_pytorch_and_its_slope_is_a_sixth_inside():
    x = np.concatenate([[-np.inf, -3.0, -2.999, -0.0, 2.999, 3.0, np.inf, np.nan],
                        np.random.default_rng(4).standard_normal(100_000) * 3]).astype(np.float32)
    (y, gx), (yt, gxt) = (_run(lib, "hardsigmoid", x, np.ones_like(x)) for lib in (mg, torch))
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())   # (x + 3) / 6
    np.testing.assert_array_equal(gx.numpy(), gxt.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)])
def test_softplus_blocks_match_torch(dtype, beta, threshold):
    """softplus's forward and its no-graph backward run on arrays in blocks."""
    x, g = _inputs(dtype, 200_000, seed=9)
    x[:4] = [threshold / beta, np.nextafter(threshold / beta, 0), -0.0, np.nan]
    out = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.softplus(X, beta, threshold)
        y.backward(lib.tensor(g))
        out.append((y.detach().numpy(), X.grad.numpy()))
    for mine, theirs in zip(*out):
        _close(mine, theirs, dtype)
    X = mg.tensor(x, requires_grad=True)        # the ops backward (create_graph) too
    graph, = mg.autograd.grad(mg.nn.functional.softplus(X, beta, threshold), X, mg.tensor(g),
                              create_graph=True)
    _close(graph.detach().numpy(), out[1][1], dtype)


@pytest.mark.parametrize("name", list(F))
def test_zero_dim_second_derivative(name):
    out = []
    for lib in (mg, torch):
        x = lib.tensor(0.7, dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(F[name](lib, x), x, create_graph=True)
        out.append((g.item(), lib.autograd.grad(g, x)[0].item()))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)
