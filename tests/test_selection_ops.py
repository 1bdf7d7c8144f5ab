"""Errors, dtypes, ties and in-place forms of scatter_reduce, scatter(reduce=), index_copy,
index_fill, take, aminmax, kthvalue, median, nanmedian, mode, nansum and nanmean, against torch
(values, gradients and second derivatives are in the op registry: minigrad/testing/
registry_selection.py)."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both  # noqa: E402

NAN = float("nan")


def _same_values_or_first_line(call, *arrays):
    mine, theirs = both(lambda L: call(L, *[L.tensor(a) for a in arrays]), quiet=True,
                        errors=True)
    if isinstance(theirs, Exception):
        assert type(mine) is type(theirs), f"{mine!r} vs {theirs!r}"
        assert str(mine) == str(theirs).split("\n")[0], f"{mine} vs {theirs}"
        return
    assert not isinstance(mine, Exception), f"{mine!r} vs {theirs}"
    mine = mine if isinstance(mine, tuple) else (mine,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for m, t in zip(mine, theirs):
        assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(m.numpy(), t.numpy())


X = np.arange(6.0).reshape(2, 3)
I01 = np.array([[0, 1, 0]])


@pytest.mark.parametrize("call", [
    lambda L, x: L.scatter_reduce(x, 0, L.tensor(I01), L.ones(1, 3).double(), "sum"),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor(I01), L.ones(1, 3).double(), "max"),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor(I01), 2.0, "prod"),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor([[0, 5, 0]]), L.ones(1, 3), "sum"),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor([[0, 1, 0]]).float(), L.ones(1, 3), "sum"),
    lambda L, x: L.scatter_reduce(x.bool(), 0, L.tensor(I01), L.ones(1, 3).bool(), "mean"),
    lambda L, x: L.scatter_reduce(x.long(), 0, L.tensor([[0, 1, 1]]), L.tensor([[-4, 2, -7]]),
                                  "mean"),
    lambda L, x: L.scatter_reduce(x.to(L.uint8), 0, L.tensor(I01), L.ones(1, 3).to(L.uint8),
                                  "amin", include_self=False),
    lambda L, x: L.scatter_reduce(x.long(), 1, L.tensor([[2, 2], [0, 0]]),
                                  L.tensor([[3, 4], [5, 6]]), "prod", include_self=False),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor(I01), L.tensor([[NAN, 1.0, -1.0]]), "amax"),
    lambda L, x: L.scatter_reduce(x, 0, L.tensor(I01), L.ones(3, 4).double(), "mean"),
    lambda L, x: L.scatter(x, 0, L.tensor(I01), L.full((1, 3), 2.0), reduce="multiply"),
    lambda L, x: L.scatter(x.long(), 0, L.tensor([[0, 0, 0], [0, 0, 0]]), 2.7, reduce="add"),
    lambda L, x: L.scatter(x, 0, L.tensor(I01), 2.0, reduce="mean"),
    lambda L, x: L.index_copy(x, 0, L.tensor([1]).int(), L.ones(1, 3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([1]), L.ones(1, 3).double()),
    lambda L, x: L.index_copy(x, 0, L.tensor([3]), L.ones(1, 3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([1, 0]), L.ones(1, 3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([[1]]), L.ones(1, 3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([1]), L.ones(1, 2).double()),
    lambda L, x: L.index_copy(x, 0, L.tensor([0]), L.ones(3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([[1]]), L.ones(1, 3)),
    lambda L, x: L.index_copy(x, 0, L.tensor([5]).int(), L.ones(1, 2)),
    lambda L, x: L.index_copy(x, 1, L.tensor([2, 2]), L.tensor([[1.0, 2], [3, 4]])),
    lambda L, x: L.index_fill(x, 0, L.tensor([1]).int(), -1),
    lambda L, x: L.index_fill(x, 0, L.tensor([-3]), -1),
    lambda L, x: L.index_fill(x, 0, L.tensor([[1]]), -1),
    lambda L, x: L.index_fill(x, 0, L.tensor([1]), L.tensor([1.0, 2])),
    lambda L, x: L.index_fill(x.long(), 1, L.tensor([-1]), 2.5),
    lambda L, x: L.index_fill(x.bool(), 0, L.tensor([1]), 2),
    lambda L, x: L.take(x, L.tensor([[0, 5], [-1, -6]])),
    lambda L, x: L.take(x, L.tensor([6])),
    lambda L, x: L.take(x, L.tensor([1]).int()),
    lambda L, x: L.take(L.zeros(0), L.tensor([0])),
    lambda L, x: L.aminmax(x, dim=(0, 1)),
    lambda L, x: L.aminmax(L.zeros(0, 3)),
    lambda L, x: L.aminmax(L.zeros(0, 3), dim=0),
    lambda L, x: L.aminmax(x.bool(), dim=1, keepdim=True),
    lambda L, x: L.kthvalue(x, 4, 1),
    lambda L, x: L.kthvalue(x.bool(), 1),
    lambda L, x: L.kthvalue(L.zeros(3, 0), 1, 1),
    lambda L, x: L.kthvalue(L.tensor([[NAN, 1.0, NAN, 2.0, 1.0]]), 4),
    lambda L, x: L.median(x.bool()),
    lambda L, x: L.median(x.bool(), 0),
    lambda L, x: L.median(L.zeros(0)),
    lambda L, x: L.median(L.zeros(3, 0), 1),
    lambda L, x: L.median(x.long()),
    lambda L, x: L.median(L.tensor([[1.0, NAN, 2.0, NAN]]), 1),
    lambda L, x: L.nanmedian(L.tensor([[NAN, 3.0, NAN, 1.0, 2.0], [NAN, NAN, 1.0, 1.0, 4.0]]), 1),
    lambda L, x: L.nanmedian(L.tensor([NAN, NAN])),
    lambda L, x: L.nanmedian(x.long(), 1),
    lambda L, x: L.mode(L.zeros(0, 3), 0),
    lambda L, x: L.mode(L.tensor([[1.0, 2.0, 2.0, 1.0, 3.0], [4.0, 4.0, 4.0, 0.0, 0.0]])),
    lambda L, x: L.mode(x.bool()),
    lambda L, x: L.nansum(x.int(), 1),
    lambda L, x: L.nansum(x.bool()),
    lambda L, x: L.nansum(L.tensor([[1.0, NAN], [NAN, NAN]]), 0, dtype=L.float64),
    lambda L, x: L.nanmean(x.long()),
    lambda L, x: L.nanmean(L.tensor([[1.0, NAN], [NAN, NAN]]), 1, keepdim=True),
])
def test_matches_torch(call):
    _same_values_or_first_line(call, X)


def test_kthvalue_ties_return_torchs_index():
    rng = np.random.default_rng(3)
    for n in (2, 3, 5, 9, 23, 64):
        x = rng.integers(0, 3, (6, n)).astype(np.float64)
        x[rng.random(x.shape) < 0.1] = NAN
        for k in {1, (n + 1) // 2, n}:
            _same_values_or_first_line(lambda L, t: L.kthvalue(t, k, 1), x)
            _same_values_or_first_line(lambda L, t: L.kthvalue(t.t(), k, 0, True), x)


def test_median_and_mode_ties_on_short_slices():
    x = np.random.default_rng(4).integers(0, 3, (5, 7, 4)).astype(np.float64)
    _same_values_or_first_line(lambda L, t: L.median(t, 1), x)
    _same_values_or_first_line(lambda L, t: L.nanmedian(t, -1, True), x)
    _same_values_or_first_line(lambda L, t: L.mode(t, 1), x)


def test_in_place_forms():
    for lib in (minigrad, torch):
        x = lib.tensor(X.copy())
        x.scatter_reduce_(0, lib.tensor(I01), lib.ones(1, 3).double(), "amax")
        x.index_copy_(1, lib.tensor([0]), lib.full((2, 1), 7.0).double())
        x.index_fill_(0, lib.tensor([1]), -2)
        if lib is torch:
            np.testing.assert_array_equal(mine, x.numpy())
        mine = x.numpy()


def test_scatter_with_reduce_has_no_derivative():
    x = minigrad.tensor(X, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = minigrad.scatter(x, 0, minigrad.tensor(I01), 2.0, reduce="multiply")
    with pytest.raises(RuntimeError, match="derivative for aten::scatter is not implemented"):
        y.sum().backward()


def test_scatter_reduce_src_larger_than_index_gets_a_gradient_where_used():
    # torch's backward refuses this shape; the forward agrees and the gradient is the gather
    # of the output gradient, zero on the part of src that index does not reach
    _same_values_or_first_line(lambda L, x, s: L.scatter_reduce(x, 1, L.tensor([[0, 2]]), s, "sum"),
                               X, np.ones((2, 4)))
    src = minigrad.ones(2, 4, dtype=minigrad.float64, requires_grad=True)
    minigrad.scatter_reduce(minigrad.tensor(X), 1, minigrad.tensor([[0, 2]]), src, "sum") \
        .sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [[1, 1, 0, 0], [0, 0, 0, 0]])


def test_prod_double_backward_with_two_zeros_at_one_place_raises():
    for lib in (minigrad, torch):
        x = lib.tensor([2.0, 5.0], dtype=lib.float64, requires_grad=True)
        s = lib.tensor([0.0, 0.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = lib.scatter_reduce(x, 0, lib.tensor([0, 0, 1]), s, "prod")
        g, = (minigrad.autograd if lib is minigrad else torch.autograd).grad(
            y.sum(), s, create_graph=True)
        np.testing.assert_array_equal(g.detach().numpy(), [0.0, 0.0, 5.0])
        with pytest.raises(RuntimeError, match="Double backward is unsupported for src"):
            g.sum().backward()


def test_return_types():
    x = minigrad.tensor(X)
    assert minigrad.aminmax(x).min.item() == 0 and minigrad.aminmax(x).max.item() == 5
    assert "return_types.aminmax" in repr(minigrad.aminmax(x))
    for name in ("kthvalue", "median", "nanmedian", "mode"):
        args = (1, 1) if name == "kthvalue" else (1,)
        result = getattr(x, name)(*args)
        assert f"return_types.{name}(" in repr(result)
        assert result.values.shape == result.indices.shape == (2,)
