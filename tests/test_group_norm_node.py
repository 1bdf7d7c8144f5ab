"""group_norm in one node on numpy float32/float64 (``feature_norm.NativeGroupNorm``): beside
torch in float64 -- forward, every input's gradient both by the array backward (no graph
recorded) and by the composed one (create_graph), and second derivatives -- over inputs of
2 to 5 dims, group counts from 1 to C, with and without weight and bias, gradients wanted
for some inputs only, non-contiguous and large-mean inputs; float32 too; float16 and empty
inputs keep the composition; the errors are unchanged."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _run(lib, x, groups, affine, create_graph, wants=(True, True, True), eps=1e-5):
    """affine: which of weight and bias are given ("1b": a weight of ones, constant)."""
    c = x.shape[1]
    xt = lib.tensor(x, requires_grad=wants[0])
    w = lib.tensor(np.linspace(-1.5, 2.0, c).astype(x.dtype), requires_grad=wants[1]) \
        if "w" in affine else lib.ones(c, dtype=xt.dtype) if "1" in affine else None
    b = lib.tensor(np.linspace(0.5, -0.7, c).astype(x.dtype), requires_grad=wants[2]) \
        if "b" in affine else None
    y = lib.nn.functional.group_norm(xt, groups, w, b, eps=eps)
    ins = [t for t in (xt, w, b) if t is not None and t.requires_grad]
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(tuple(y.shape)).astype(x.dtype),
                    requires_grad=create_graph)
    grads = lib.autograd.grad(y, ins, gy, create_graph=create_graph)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if create_graph:
        # a weighted square of every gradient, differentiated in every input and in gy
        total = sum((g * g * (k + 1)).sum() for k, g in enumerate(grads))
        second = lib.autograd.grad(total, ins + [gy], allow_unused=True)
        out += [None if g is None else g.numpy() for g in second]
    return out, type(y.grad_fn).__name__


SHAPES = [((4, 6, 5, 3), 3), ((4, 6, 5, 3), 1), ((4, 6, 5, 3), 6), ((3, 8), 4), ((2, 4, 7), 2),
          ((2, 6, 2, 3, 2), 3), ((1, 4, 1, 1), 2)]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("affine", ["", "w", "b", "wb"])
@pytest.mark.parametrize("shape, groups", SHAPES)
def test_group_norm_matches_torch(shape, groups, affine, create_graph):
    x = np.random.default_rng(len(shape) + groups).standard_normal(shape) * 3 + 1
    mine, name = _run(minigrad, x, groups, affine, create_graph)
    # (torch's backward fails for a bias without a weight: it is given a weight of ones)
    theirs, _ = _run(torch, x, groups, "1b" if affine == "b" else affine, create_graph)
    assert name == "NativeGroupNormBackward0"
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("wants", [(True, False, False), (False, True, False),
                                   (False, False, True), (False, True, True),
                                   (True, False, True)])
def test_gradients_of_some_inputs_only(wants, create_graph):
    x = np.random.default_rng(1).standard_normal((3, 6, 4, 2))
    mine, _ = _run(minigrad, x, 2, "wb", create_graph, wants)
    theirs, _ = _run(torch, x, 2, "wb", create_graph, wants)
    for a, b in zip(mine, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_non_contiguous_input_and_gradient():
    base = np.random.default_rng(2).standard_normal((5, 4, 6, 8))
    out = []
    for lib in (minigrad, torch):
        leaf = lib.tensor(base, requires_grad=True)
        x = leaf.permute(3, 1, 2, 0)                       # (8, 4, 6, 5), strided
        w = lib.tensor(np.linspace(1, 2, 4), requires_grad=True)
        y = lib.nn.functional.group_norm(x, 2, w, None, eps=1e-3)
        g = lib.tensor(np.sin(np.arange(y.numel()) * 0.3).reshape(5, 6, 4, 8)).permute(3, 2, 1, 0)
        y.backward(g)
        out.append([y.detach().numpy(), leaf.grad.numpy(), w.grad.numpy()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)


def test_large_mean_keeps_its_digits():
    # the array backward sums g (x - mu), not g x - mu sum(g): no cancellation at a large mean
    x = np.random.default_rng(3).standard_normal((2, 4, 64)).astype(np.float32) + 1000
    mine, _ = _run(minigrad, x, 2, "wb", False)
    theirs, _ = _run(torch, x.astype(np.float64), 2, "wb", False)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3)


def test_float32_group_norm_matches_torch():
    x = np.random.default_rng(4).standard_normal((8, 32, 16, 16)).astype(np.float32) * 2
    mine, _ = _run(minigrad, x, 8, "wb", False)
    theirs, _ = _run(torch, x, 8, "wb", False)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_constant_groups_and_special_values():
    x = np.zeros((2, 4, 3))
    x[0, :2] = 5.0                                 # a constant group: normalised to 0
    x[1, 2, 1] = np.inf                            # inf poisons its group with nan
    mine, _ = _run(minigrad, x, 2, "wb", False)
    theirs, _ = _run(torch, x, 2, "wb", False)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)


def test_other_inputs_take_the_composition():
    half = minigrad.ones(2, 4, 3, dtype=minigrad.float16, requires_grad=True)
    y = minigrad.nn.functional.group_norm(half, 2)
    # (a float16 input is one node too, as in PyTorch: tests/test_half_grads_round25.py)
    theirs = torch.nn.functional.group_norm(torch.ones(2, 4, 3, dtype=torch.float16,
                                                       requires_grad=True), 2)
    assert type(y.grad_fn).__name__ == type(theirs.grad_fn).__name__ and \
        y.dtype == minigrad.float16
    empty = minigrad.ones(0, 4, 3, requires_grad=True)
    assert tuple(minigrad.nn.functional.group_norm(empty, 2).shape) == (0, 4, 3)
    mixed = minigrad.ones(2, 4, 3, dtype=minigrad.float16)
    assert minigrad.nn.functional.group_norm(mixed, 2, minigrad.ones(4), minigrad.zeros(4)) \
        .dtype == minigrad.float16


@pytest.mark.parametrize("args, error", [
    (((2, 6, 3), 4), RuntimeError),            # 6 channels in 4 groups
    (((2, 6, 3), 0), ZeroDivisionError),
    (((2, 6, 3), -2), RuntimeError),
    (((6,), 2), RuntimeError),                 # fewer than 2 dims
])
def test_errors_unchanged(args, error):
    shape, groups = args
    for lib in (minigrad, torch):
        with pytest.raises(error):
            lib.nn.functional.group_norm(lib.ones(shape), groups)
