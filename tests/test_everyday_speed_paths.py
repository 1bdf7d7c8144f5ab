"""The faster array paths of GELU, SiLU, hardswish, mish, erf and log_softmax against PyTorch.

Covered: mish as one node; GELU's, SiLU's and mish's backward writing the gradient over the
node's own kept array (only when the graph is freed after it: retain_graph and create_graph
keep it), exact GELU's float32 kernel without its clamp, GELU tanh's and
SiLU's kernels in scratch blocks, hardswish's masks built from comparisons, float32 erf in
smaller blocks with its table's columns gathered apart and its backward on arrays, and
log_softmax's saved output left as it was by its backward (the caller may hold it). Sizes
cross the block boundaries (16K numbers for erf, 64K for the activations) and the threads'
pieces; inputs include views and the edge values."""
import math

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops.error_function import _erf_array

EDGES = [-np.inf, -1e30, -40.0, -5.0, -3.0, -2.9999998, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.5,
         2.9999998, 3.0, 3.0001, 5.0, 40.0, 1e30, np.inf]
ACT = {"gelu": lambda L, x: L.nn.functional.gelu(x),
       "gelu_tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
       "silu": lambda L, x: L.nn.functional.silu(x),
       "hardswish": lambda L, x: L.nn.functional.hardswish(x),
       "mish": lambda L, x: L.nn.functional.mish(x),
       "erf": lambda L, x: L.erf(x)}


def _data(n, dtype, seed=0, edges=True):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 4
    if edges:
        x[:len(EDGES)] = EDGES
    return x.astype(dtype), rng.standard_normal(n).astype(dtype)


def _tol(dtype, name):
    if dtype == np.float64:
        return dict(rtol=1e-12, atol=1e-12)
    # (the tanh form's and mish's slopes cancel near their zeros: a float32 unit of ~1e-6)
    return dict(rtol=2e-6, atol=1e-5 if name in ("gelu_tanh", "mish") else 2e-6)


def _grads(lib, name, x, g, threads=1, **backward):
    X = lib.tensor(x, requires_grad=True)
    if lib is mg:
        old = mg.get_num_threads()
        mg.set_num_threads(threads)
    try:
        y = ACT[name](lib, X)
        y.backward(lib.tensor(g), **backward)
    finally:
        if lib is mg:
            mg.set_num_threads(old)
    return y.detach().numpy(), X.grad.numpy()


@pytest.mark.parametrize("dtype, threads, n", [
    (np.float32, 1, 1), (np.float32, 1, 16385), (np.float32, 1, 2 * 65536 + 7),
    (np.float64, 1, 1), (np.float64, 1, 2 * 65536 + 7),
    (np.float32, 2, 400_003)])                  # (split over two threads' pieces)
@pytest.mark.parametrize("name", list(ACT))
def test_values_and_gradients_match_torch_across_blocks(name, dtype, threads, n):
    x, g = _data(n, dtype, edges=n > len(EDGES))
    (y, gx), (yt, gxt) = _grads(mg, name, x, g, threads), _grads(torch, name, x, g)
    # torch's float32 gelu(+-inf) is NaN (the exact value, ours: +-inf, 0)
    ok = np.isfinite(x)
    np.testing.assert_allclose(y[ok], yt[ok], equal_nan=True, **_tol(dtype, name))
    np.testing.assert_allclose(gx[ok], gxt[ok], equal_nan=True, **_tol(dtype, name))


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "mish"])
def test_retain_graph_keeps_the_kept_array(name):
    """With retain_graph the backward must not write over what the node keeps: a second
    backward gives the same gradient again (twice it, accumulated), as torch's."""
    x, g = _data(70_001, np.float32, seed=1)
    out = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        y = ACT[name](lib, X)
        y.backward(lib.tensor(g), retain_graph=True)
        first = X.grad.numpy().copy()
        y.backward(lib.tensor(g))
        out.append((first, X.grad.numpy()))
    (a1, a2), (b1, b2) = out
    ok = np.isfinite(x)
    np.testing.assert_allclose(a1[ok], b1[ok], **_tol(np.float32, name))
    np.testing.assert_allclose(a2[ok], b2[ok], **_tol(np.float32, name))
    np.testing.assert_array_equal(a2[ok], 2 * a1[ok])


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "mish"])
def test_second_backward_after_freeing_raises_as_torch(name):
    for lib in (mg, torch):
        X = lib.tensor(np.linspace(-3, 3, 11, dtype=np.float32), requires_grad=True)
        y = ACT[name](lib, X).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()


@pytest.mark.parametrize("name", list(ACT))
def test_second_derivative_matches_torch(name):
    x, g = _data(200, np.float64, seed=2)
    x = x[np.isfinite(x) & (np.abs(x) < 1e3)]
    g = np.random.default_rng(3).standard_normal(x.size)
    out = []
    for lib in (mg, torch):
        X, G = lib.tensor(x, requires_grad=True), lib.tensor(g, requires_grad=True)
        gx, = lib.autograd.grad(ACT[name](lib, X), X, G, create_graph=True)
        hx, hg = lib.autograd.grad((gx * lib.tensor(np.cos(x))).sum(), (X, G))
        out.append([t.detach().numpy() for t in (gx, hx, hg)])
    for mine, theirs in zip(*out):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(ACT))
def test_views_and_transposed_inputs(name):
    base, _ = _data(6 * 70_000, np.float32, seed=4, edges=False)
    base = base.reshape(6, 70_000)
    for x in (base[:, ::3], base[::2].T, base[1:4, 5:]):
        g = np.cos(np.arange(x.size, dtype=np.float32)).reshape(x.shape)
        (y, gx), (yt, gxt) = _grads(mg, name, x, g, 2), _grads(torch, name, x, g)
        np.testing.assert_allclose(y, yt, **_tol(np.float32, name))
        np.testing.assert_allclose(gx, gxt, **_tol(np.float32, name))


def test_hardswish_gradient_edges_bit_for_bit():
    """+0.0 up to -3 whatever g is (infinite, NaN, negative), g itself from 3 on and at NaN,
    g (x/3 + 1/2) strictly between: as torch's, signs of zeros included."""
    x = np.array([-np.inf, -4.0, -3.0, -3.0, -3.0, -2.9999998, 0.0, 2.9999998, 3.0, 4.0,
                  np.inf, np.nan, -3.0, 3.0], np.float32)
    g = np.array([1.0, -2.0, np.inf, np.nan, -1.0, 3.0, -1.0, 2.0, -5.0, np.inf, 1.0, -2.0,
                  -np.inf, np.nan], np.float32)
    for dtype in (np.float32, np.float64):
        (_, gx), (_, gxt) = (_grads(lib, "hardswish", x.astype(dtype), g.astype(dtype))
                             for lib in (mg, torch))
        np.testing.assert_array_equal(gx, gxt)
        np.testing.assert_array_equal(np.signbit(gx), np.signbit(gxt))


@pytest.mark.parametrize("n", [1, 16383, 16384, 16385, 5 * 16384 + 3])
def test_float32_erf_within_one_unit_across_blocks(n):
    rng = np.random.default_rng(n)
    x = (rng.standard_normal(n) * 2.5).astype(np.float32)
    x[:min(n, 4)] = [5.999, -6.001, 1e-30, -0.0][:min(n, 4)]
    mine = _erf_array(x).astype(np.float64)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    unit = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    unit[unit == 0] = np.spacing(np.float32(0))
    assert np.max(np.abs(mine - exact) / unit) <= 1.0
    assert np.array_equal(np.signbit(mine), np.signbit(x))


def test_erf_of_a_16_bit_input_and_its_gradient_match_torch():
    x = np.random.default_rng(5).standard_normal(40_000) * 2
    for dtype, tol in (("float16", 1e-3), ("bfloat16", 8e-3)):
        out = []
        for lib in (mg, torch):
            t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
            y = lib.erf(t)
            y.backward(lib.ones_like(y))
            out.append((y.detach().float().numpy(), t.grad.float().numpy()))
        for a, b in zip(*out):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def _log_softmax_nll(lib, x, t, keep_output, **backward):
    X = lib.tensor(x, requires_grad=True)
    y = lib.log_softmax(X, -1)
    loss = lib.nn.functional.nll_loss(y, lib.tensor(t))
    kept = y if keep_output else None
    del y
    loss.backward(**backward)
    return X, kept


@pytest.mark.parametrize("keep_output", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_backward_over_its_output(dtype, keep_output):
    """log_softmax feeding nll_loss (which keeps nothing of it): the gradient matches, and
    when the caller still holds the output its values are left as they were (a backward that
    wrote over its saved output to spare an array would have to know nobody holds it)."""
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((37, 1000)) * 3).astype(dtype)
    t = rng.integers(0, 1000, 37)
    (X, y), (Xt, yt) = (_log_softmax_nll(lib, x, t, keep_output) for lib in (mg, torch))
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(X.grad.numpy(), Xt.grad.numpy(), **tol)
    if keep_output:
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **tol)


def test_log_softmax_output_kept_by_retain_graph_or_a_hook():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 300)).astype(np.float32)
    t = rng.integers(0, 300, 8)
    expected = torch.log_softmax(torch.tensor(x), -1).numpy()
    # retain_graph: a second backward reads the saved output again
    X = mg.tensor(x, requires_grad=True)
    loss = mg.nn.functional.nll_loss(mg.log_softmax(X, -1), mg.tensor(t))
    loss.backward(retain_graph=True)
    first = X.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(X.grad.numpy(), 2 * first, rtol=1e-6)
    # a saved-tensor hook that keeps what it packs: the output it holds stays as it was
    packed = []

    def pack(tensor):
        packed.append(tensor)
        return tensor

    X = mg.tensor(x, requires_grad=True)
    with mg.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = mg.nn.functional.nll_loss(mg.log_softmax(X, -1), mg.tensor(t))
    loss.backward()
    outputs = [p.detach().numpy() for p in packed if tuple(p.shape) == x.shape]
    assert any(np.allclose(o, expected, rtol=1e-5, atol=1e-6) for o in outputs)
    np.testing.assert_allclose(X.grad.numpy(), first, rtol=1e-6)
