"""layer_norm in one node on numpy float32/float64 (``feature_norm.NativeLayerNorm``): beside
torch in float64 -- forward, every input's gradient both by the array backward (no graph
recorded) and by the composed one (create_graph), and the second derivative -- over
normalised shapes of one and two dims, with and without weight and bias, batch-less input;
float32 too; the composed path still serves float16 and empty inputs."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _grads(lib, x, ns, affine, create_graph):
    xt = lib.tensor(x, requires_grad=True)
    params = [lib.tensor(np.linspace(-1.5, 2.0, int(np.prod(ns))).reshape(ns).astype(x.dtype),
                         requires_grad=True),
              lib.tensor(np.linspace(0.5, -0.7, int(np.prod(ns))).reshape(ns).astype(x.dtype),
                         requires_grad=True)]
    w = params[0] if affine in ("w", "wb") else None
    b = params[1] if affine == "wb" else None
    y = lib.nn.functional.layer_norm(xt, ns, w, b, eps=1e-5)
    ins = [xt] + [t for t in (w, b) if t is not None]
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(tuple(y.shape)).astype(x.dtype))
    grads = lib.autograd.grad(y, ins, gy, create_graph=create_graph)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if create_graph:
        # (the gradients do not depend on the bias: its second derivative is None)
        second = lib.autograd.grad(sum((g * g).sum() for g in grads), ins, allow_unused=True)
        out += [None if g is None else g.numpy() for g in second]
    return out, type(y.grad_fn).__name__


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("affine", ["none", "w", "wb"])
@pytest.mark.parametrize("shape, k", [((4, 6, 8), 1), ((3, 4, 5), 2), ((9,), 1), ((2, 1, 7), 1)])
def test_layer_norm_matches_torch(shape, k, affine, create_graph):
    x = np.random.default_rng(len(shape) + k).standard_normal(shape) * 3 + 1
    ns = shape[len(shape) - k:]
    mine, name = _grads(minigrad, x, ns, affine, create_graph)
    theirs, _ = _grads(torch, x, ns, affine, create_graph)
    assert name == "NativeLayerNormBackward0"
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)


def test_float32_layer_norm_matches_torch():
    x = np.random.default_rng(3).standard_normal((8, 16, 64)).astype(np.float32) * 2
    mine, _ = _grads(minigrad, x, (64,), "wb", False)
    theirs, _ = _grads(torch, x, (64,), "wb", False)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


def test_other_inputs_take_the_composition():
    # (a float16 input is one node too, as in PyTorch: tests/test_half_grads_round25.py)
    half = minigrad.ones(2, 3, dtype=minigrad.float16, requires_grad=True)
    assert type(minigrad.nn.functional.layer_norm(half, (3,)).grad_fn).__name__ == \
        type(torch.nn.functional.layer_norm(torch.ones(2, 3, dtype=torch.float16,
                                                       requires_grad=True), (3,)).grad_fn).__name__
    empty = minigrad.ones(0, 3, requires_grad=True)
    assert tuple(minigrad.nn.functional.layer_norm(empty, (3,)).shape) == (0, 3)
