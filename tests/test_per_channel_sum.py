"""A sum over every axis but the channel axis (a convolution's bias gradient) runs as a
matrix-vector product (``reduce._per_channel``): the same numbers as torch's sum, keepdim and
dims in any order or sign, float32 and float64, forward and second derivative, and the
product really taken only where it applies."""
import numpy as np
import pytest

import minigrad
from minigrad.ops import reduce

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("shape", [(8, 5, 9, 11), (3, 4, 70), (2, 3, 4, 5, 6), (1, 1, 64, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("keepdim", [False, True])
def test_per_channel_sum_matches_torch(shape, dtype, keepdim):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    dim = (0,) + tuple(range(2, len(shape)))
    mine = minigrad.tensor(x).sum(dim=dim, keepdim=keepdim).numpy()
    theirs = torch.tensor(x).sum(dim=dim, keepdim=keepdim).numpy()
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(mine, theirs, rtol=tol, atol=tol)


def test_per_channel_sum_second_derivative_matches_torch():
    x = np.random.default_rng(1).standard_normal((4, 3, 8, 9))
    out = []
    for lib in (minigrad, torch):
        t = lib.tensor(x, requires_grad=True)
        s = (t * t).sum(dim=(0, 2, 3))
        g, = lib.autograd.grad((s ** 2).sum(), t, create_graph=True)
        gg, = lib.autograd.grad(g.sum(), t)
        out.append((s.detach().numpy(), g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_the_product_runs_only_where_it_applies(monkeypatch):
    calls = []
    real = reduce.channel_sum
    monkeypatch.setattr(reduce, "channel_sum", lambda a: calls.append(a.shape) or real(a))
    x = minigrad.ones(8, 5, 9, 11)
    x.sum(dim=(-1, 0, 2))
    assert calls == [(8, 5, 99)]
    calls.clear()
    x.sum(dim=(0, 1, 3))                              # not the channel axis kept
    minigrad.ones(8, 5, 3, 3).sum(dim=(0, 2, 3))      # rows of 9: numpy's sum
    x.to(minigrad.int64).sum(dim=(0, 2, 3))           # integers
    x.transpose(2, 3).sum(dim=(0, 2, 3))              # not contiguous
    assert minigrad.ones(0, 5, 9, 11).sum(dim=(0, 2, 3)).tolist() == [0.0] * 5   # empty
    assert calls == []
