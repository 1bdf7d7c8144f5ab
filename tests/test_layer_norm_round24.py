"""layer_norm's row kernels (``_norm_rows``: row sums as matrix-vector products, x not
centred in the backward's combine, the backward in blocks half the forward's) beside torch:
float64 values, gradients and second derivatives tight, float32 within its rounding, over
inputs of several blocks with a partial last one, rows of a mean large beside their spread,
one gradient wanted at a time, two threads, and the layer's options (no affine, no bias,
two normalised dims, non-contiguous and row-less inputs)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _run(lib, x, ns, w, b, gy, wants=(True, True, True), create_graph=False, prep=None):
    xt = lib.tensor(x, requires_grad=wants[0])
    wt = None if w is None else lib.tensor(w, requires_grad=wants[1])
    bt = None if b is None else lib.tensor(b, requires_grad=wants[2])
    xin = xt if prep is None else prep(xt)
    y = lib.nn.functional.layer_norm(xin, ns, wt, bt, eps=1e-5)
    ins = [t for t in (xt, wt, bt) if t is not None and t.requires_grad]
    grads = lib.autograd.grad(y, ins, lib.tensor(gy), create_graph=create_graph)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if create_graph:
        second = lib.autograd.grad(sum((g * g).sum() for g in grads), ins, allow_unused=True)
        out += [None if g is None else g.numpy() for g in second]
    return out


def _inputs(shape, k, dtype, offset=1.0, scale=3.0, seed=0):
    rng = np.random.default_rng(seed)
    ns = tuple(shape[len(shape) - k:])
    x = (rng.standard_normal(shape) * scale + offset).astype(dtype)
    w = rng.standard_normal(ns).astype(dtype)
    b = rng.standard_normal(ns).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    return x, ns, w, b, gy


def _compare(mine, ref, rtol, atol):
    assert len(mine) == len(ref)
    for a, r in zip(mine, ref):
        if r is None:
            assert a is None
            continue
        assert a.dtype == r.dtype and a.shape == r.shape
        scale = max(1.0, np.abs(r).max(initial=0.0))
        np.testing.assert_allclose(a, r, rtol=rtol, atol=atol * scale)


# rows of 256 and 96 numbers: the backward's blocks are 256 and 682 rows, the forward's
# 512 and 1365, so 700 and 1500 rows end on partial blocks each way
@pytest.mark.parametrize("shape", [(700, 256), (3, 500, 96), (5, 7, 1)])
@pytest.mark.parametrize("affine", ["none", "w", "wb"])
def test_blocks_float64_tight(shape, affine):
    x, ns, w, b, gy = _inputs(shape, 1, np.float64)
    w = w if affine != "none" else None
    b = b if affine == "wb" else None
    mine = _run(minigrad, x, ns, w, b, gy)
    _compare(mine, _run(torch, x, ns, w, b, gy), 1e-10, 1e-11)


@pytest.mark.parametrize("shape, k", [((700, 256), 1), ((40, 12, 30), 2), ((1024, 128), 1)])
def test_float32_matches_torch(shape, k):
    x, ns, w, b, gy = _inputs(shape, k, np.float32, seed=1)
    _compare(_run(minigrad, x, ns, w, b, gy), _run(torch, x, ns, w, b, gy), 1e-4, 2e-5)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-9), (np.float32, 3e-4)])
def test_large_mean_beside_spread(dtype, tol):
    # the backward's combine takes x uncentred, as PyTorch's kernel does: a mean 100
    # spreads' worth from zero still gives gradients to the dtype's rounding times that ratio
    x, ns, w, b, gy = _inputs((300, 200), 1, dtype, offset=50.0, scale=0.5, seed=2)
    _compare(_run(minigrad, x, ns, w, b, gy), _run(torch, x, ns, w, b, gy), tol, tol)


@pytest.mark.parametrize("wants", [(True, False, False), (False, True, False),
                                   (False, False, True), (False, True, True),
                                   (True, False, True)])
def test_one_gradient_at_a_time(wants):
    x, ns, w, b, gy = _inputs((600, 160), 1, np.float64, seed=3)
    _compare(_run(minigrad, x, ns, w, b, gy, wants), _run(torch, x, ns, w, b, gy, wants),
             1e-10, 1e-11)


def test_two_threads_match_torch():
    x, ns, w, b, gy = _inputs((4096, 256), 1, np.float32, seed=4)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        mine = _run(minigrad, x, ns, w, b, gy)
    finally:
        minigrad.set_num_threads(before)
    _compare(mine, _run(torch, x, ns, w, b, gy), 1e-4, 2e-5)


@pytest.mark.parametrize("elementwise_affine, bias", [(False, True), (True, False),
                                                      (True, True)])
def test_layer_module_options(elementwise_affine, bias):
    x = np.random.default_rng(5).standard_normal((6, 50, 64)) * 2 - 1
    gy = np.cos(np.arange(x.size)).reshape(x.shape)
    outs = []
    for lib in (minigrad, torch):
        lib.manual_seed(0)
        layer = lib.nn.LayerNorm(64, elementwise_affine=elementwise_affine, bias=bias,
                                 dtype=lib.float64)
        for p in layer.parameters():
            with lib.no_grad():
                p.copy_(lib.tensor(np.linspace(-1, 2, 64)))
        xt = lib.tensor(x, requires_grad=True)
        y = layer(xt)
        y.backward(lib.tensor(gy))
        outs.append([y.detach().numpy(), xt.grad.numpy()] +
                    [p.grad.numpy() for p in layer.parameters()])
    _compare(outs[0], outs[1], 1e-10, 1e-11)


def test_two_normalised_dims_gradgrad_float64():
    x, ns, w, b, gy = _inputs((4, 9, 6, 5), 2, np.float64, seed=6)
    _compare(_run(minigrad, x, ns, w, b, gy, create_graph=True),
             _run(torch, x, ns, w, b, gy, create_graph=True), 1e-9, 1e-10)


def test_non_contiguous_input():
    x, ns, w, b, gy = _inputs((33, 70, 48), 1, np.float64, seed=7)
    gy = np.ascontiguousarray(gy.transpose(1, 0, 2))
    prep = lambda t: t.transpose(0, 1)              # (70, 33, 48), not row-major
    mine = _run(minigrad, x, ns, w, b, gy, prep=prep)
    ref = _run(torch, x, ns, w, b, gy, prep=prep)
    assert mine[0].flags.c_contiguous
    _compare(mine, ref, 1e-10, 1e-11)


def test_row_less_input():
    x, ns, w, b, _ = _inputs((0, 5, 32), 1, np.float32)
    gy = np.zeros((0, 5, 32), np.float32)
    mine = _run(minigrad, x, ns, w, b, gy)
    ref = _run(torch, x, ns, w, b, gy)
    _compare(mine, ref, 0, 0)
    assert not mine[2].any() and not mine[3].any()
