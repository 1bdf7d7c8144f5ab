"""IndexAdd by sorted runs (``ops/_scatter_add_kernels.py``), behind the backward of
index_select and embedding: bitwise the float64 sums in index order that it replaced (a
bincount; the reference here is numpy's ``add.at``) over dims, dtypes, index patterns (all
distinct, a few repeats, long runs, a single value), -0.0 / nan / inf and non-contiguous
sources; and embedding, index_select, index_add and
fold beside torch in float64 -- values, gradients and second derivatives (create_graph) --
with padding_idx, scale_grad_by_freq, max_norm, sparse, empty, 0-d and batch-less indices;
float32 at a loose tolerance."""
import numpy as np
import pytest

import minigrad
import minigrad.ops._scatter_add_kernels as kernel

torch = pytest.importorskip("torch")


def _bincount_reference(src, index, dim, size):
    """What IndexAdd computed before, by numpy alone: every slice added in index order into
    float64 (complex128) zeros by numpy's unbuffered add, then rounded once to src's dtype."""
    wide = np.complex128 if src.dtype.kind == "c" else np.float64
    moved = np.moveaxis(src, dim, 0).astype(wide)
    out = np.zeros((size,) + moved.shape[1:], wide)
    np.add.at(out, index, moved)
    return np.moveaxis(out, 0, dim).astype(src.dtype)


def _index(rng, pattern, k, size):
    if pattern == "distinct":
        return rng.permutation(size)[:k]
    if pattern == "few":
        return rng.integers(0, size, k)
    if pattern == "runs":                      # a few values repeated many times
        return rng.integers(0, max(size // 8, 1), k)
    if pattern == "zipf":                      # run lengths from 1 to many
        return np.minimum(rng.zipf(1.4, k), size) - 1
    return np.full(k, size // 2)               # "one": a single destination


def _same_bits(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True)
    # the zeros' signs too: -0.0 is summed from +0.0, so it comes back +0.0
    assert np.array_equal(np.signbit(a.real), np.signbit(b.real))
    assert np.array_equal(np.signbit(a.imag), np.signbit(b.imag))


@pytest.mark.parametrize("work", [1, 64, 1024])
@pytest.mark.parametrize("pattern", ["distinct", "few", "runs", "zipf", "one"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "complex64", "complex128"])
def test_kernel_is_bitwise_the_bincount(monkeypatch, dtype, pattern, work):
    # small MIN_SLICE / MIN_RANK_WORK so that small cases take every path of the kernel
    monkeypatch.setattr(kernel, "MIN_SLICE", 1)
    monkeypatch.setattr(kernel, "MIN_RANK_WORK", work)
    rng = np.random.default_rng(abs(hash((dtype, pattern, work))) % 2**32)
    for shape, dim in [((60, 5), 0), ((3, 70, 2), 1), ((4, 3, 90), 2), ((200,), 0)]:
        size = 40 if pattern != "distinct" else shape[dim] + 7
        src = rng.standard_normal(shape)
        if dtype.startswith("complex"):
            src = src + 1j * rng.standard_normal(shape)
        src = src.astype(dtype)
        flat = src.reshape(-1)
        flat[rng.integers(0, src.size, 6)] = -0.0
        flat[rng.integers(0, src.size, 2)] = [np.nan, np.inf]
        index = _index(rng, pattern, shape[dim], size)
        _same_bits(kernel.index_add_slices(src, index, dim, size),
                   _bincount_reference(src, index, dim, size))
        strided = np.swapaxes(np.swapaxes(src, 0, -1).copy(), 0, -1)    # not C-contiguous
        _same_bits(kernel.index_add_slices(strided, index, dim, size),
                   _bincount_reference(strided, index, dim, size))


def test_all_negative_zeros_come_back_positive(monkeypatch):
    monkeypatch.setattr(kernel, "MIN_SLICE", 1)
    src = np.full((6, 4), -0.0)
    out = kernel.index_add_slices(src, np.array([0, 1, 1, 3, 3, 3]), 0, 5)
    assert not np.signbit(out).any()


def test_large_embedding_gradient_is_bitwise_the_bincount():
    # the default thresholds, at the size they are for
    rng = np.random.default_rng(0)
    for dtype in ("float32", "float64"):
        src = rng.standard_normal((4096, 64)).astype(dtype)
        for index in (rng.integers(0, 5000, 4096), rng.integers(0, 50, 4096),
                      np.minimum(rng.zipf(1.3, 4096), 5000) - 1):
            assert kernel.index_add_fits(src, index, 5000)
            _same_bits(kernel.index_add_slices(src, index, 0, 5000),
                       _bincount_reference(src, index, 0, 5000))


def test_what_the_kernel_leaves_to_the_bincount():
    ints = np.ones((10, 64), np.int64)
    assert not kernel.index_add_fits(ints, np.zeros(10, np.int64), 3)
    narrow = np.ones((10, 4))
    assert not kernel.index_add_fits(narrow, np.zeros(10, np.int64), 3)
    assert not kernel.index_add_fits(np.ones((0, 64)), np.zeros(0, np.int64), 3)
    assert kernel.index_add_fits(np.ones((10, 64)), np.zeros(10, np.int64), 3)


# ------------------------------------------------------------------------------------------
# beside torch
# ------------------------------------------------------------------------------------------
def _embedding(lib, w, idx, kwargs, create_graph):
    wt = lib.tensor(w.copy(), requires_grad=True)
    y = lib.nn.functional.embedding(lib.tensor(idx), wt, **kwargs)
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.37).reshape(tuple(y.shape)).astype(w.dtype),
                    requires_grad=create_graph)
    gw, = lib.autograd.grad(y, wt, gy, create_graph=create_graph)
    out = [y.detach().numpy(), gw.detach().numpy(), wt.detach().numpy()]
    if create_graph:
        # the weight's gradient is linear in gy: its derivative goes to gy alone
        dgy, = lib.autograd.grad((gw * gw).sum(), gy)
        out.append(dgy.numpy())
    return out


INDICES = {
    "2d": np.array([[1, 4, 1, 0], [4, 4, 9, 2]]),
    "1d repeats": np.array([3, 3, 3, 3, 0, 7, 3, 5]),
    "0-d": np.array(6),
    "empty": np.zeros((2, 0), np.int64),
    "all one row": np.full((3, 5), 2),
    "long": np.random.default_rng(5).integers(0, 10, 300),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 4}, {"padding_idx": -1},
                                    {"max_norm": 1.5}, {"max_norm": 0.7, "norm_type": 1.0}],
                         ids=str)
@pytest.mark.parametrize("which", list(INDICES))
@pytest.mark.parametrize("width", [3, 96])
def test_embedding_matches_torch(which, kwargs, create_graph, width):
    # width 96: slices the sorted-run kernel takes; 3: the bincount's
    idx = INDICES[which]
    w = np.random.default_rng(width).standard_normal((10, width)) * 2
    mine = _embedding(minigrad, w, idx, kwargs, create_graph)
    # (torch's double backward of an empty lookup fails reshaping it: first order there)
    theirs = _embedding(torch, w, idx, kwargs, create_graph and idx.size > 0)
    if len(mine) > len(theirs):
        assert mine.pop().shape == tuple(idx.shape) + (width,)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_idx", [None, 1])
@pytest.mark.parametrize("width", [3, 96])
def test_embedding_scaled_by_frequency(padding_idx, width):
    idx = np.array([[1, 2, 1, 1], [6, 1, 0, 2]])
    w = np.random.default_rng(1).standard_normal((7, width))
    mine = _embedding(minigrad, w, idx, {"scale_grad_by_freq": True,
                                         "padding_idx": padding_idx}, True)
    theirs = _embedding(torch, w, idx, {"scale_grad_by_freq": True,
                                        "padding_idx": padding_idx}, False)
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    # torch's double backward drops the scaling: the reference is the explicit sum
    gy = torch.tensor(np.cos(np.arange(idx.size * width) * 0.37).reshape(idx.size, width),
                      requires_grad=True)
    flat = torch.tensor(idx.reshape(-1))
    count = torch.bincount(flat, minlength=7)[flat].double()[:, None]
    keep = (flat != (-1 if padding_idx is None else padding_idx)).double()[:, None]
    gw = torch.zeros(7, width, dtype=torch.float64).index_add(0, flat, gy * keep / count)
    dgy, = torch.autograd.grad((gw * gw).sum(), gy)
    np.testing.assert_allclose(mine[3].reshape(idx.size, width), dgy.numpy(), rtol=1e-12)


def test_sparse_embedding_gradient_matches_torch():
    idx = np.array([[0, 3, 3], [5, 0, 3]])
    w = np.random.default_rng(2).standard_normal((6, 64))
    grads = []
    for lib in (minigrad, torch):
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor(idx), wt, sparse=True, padding_idx=5)
        y.backward(lib.tensor(np.sin(np.arange(y.numel())).reshape(tuple(y.shape))))
        grads.append(wt.grad.to_dense().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_float32_embedding_matches_torch():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((1000, 64)).astype(np.float32)
    idx = rng.integers(0, 1000, (32, 40))
    mine = _embedding(minigrad, w, idx, {}, False)
    theirs = _embedding(torch, w, idx, {}, False)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_embedding_of_a_non_contiguous_weight():
    base = np.random.default_rng(4).standard_normal((64, 10))
    idx = np.array([2, 2, 7, 0, 2])
    grads = []
    for lib in (minigrad, torch):
        leaf = lib.tensor(base, requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor(idx), leaf.t())       # (10, 64) view
        y.backward(lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
        grads.append(leaf.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
@pytest.mark.parametrize("index", [[0, 2, 2, 1, 2], [1], [2, 0]], ids=str)
def test_index_select_matches_torch_to_second_order(dim, index):
    # slices of 320 and 240 elements (the sorted runs) along dims 0 and 1, of 80 along the last
    shape = (3, 4, 80) if dim in (0, 1) else (20, 4, 3)
    x = np.random.default_rng(dim + 7).standard_normal(shape)
    out = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.index_select(xt, dim, lib.tensor(index))
        gy = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)), requires_grad=True)
        gx, = lib.autograd.grad(y, xt, gy, create_graph=True)
        dgy, = lib.autograd.grad((gx * gx * gx).sum(), gy)
        out.append([y.detach().numpy(), gx.detach().numpy(), dgy.numpy()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
@pytest.mark.parametrize("dim", [0, 1])
def test_index_add_matches_torch(dim, dtype):
    rng = np.random.default_rng(dim)
    x = (rng.standard_normal((6, 64)) * 10).astype(dtype)
    index = np.array([5, 0, 5, 5, 2, 0, 1, 5])
    src_shape = (8, 64) if dim == 0 else (6, 8)
    if dim == 1:
        index = index % 64
    src = (rng.standard_normal(src_shape) * 10).astype(dtype)
    res = [lib.index_add(lib.tensor(x), dim, lib.tensor(index), lib.tensor(src), alpha=2).numpy()
           for lib in (minigrad, torch)]
    tol = 1e-5 if dtype == np.float32 else 1e-12        # (values up to ~100)
    np.testing.assert_allclose(res[0], res[1], rtol=tol, atol=tol)
    assert res[0].dtype == res[1].dtype


def test_fold_matches_torch():
    # fold adds overlapping windows back with IndexAdd along its last dim
    x = np.random.default_rng(8).standard_normal((2, 3 * 9, 64))
    out = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.fold(xt, (8, 8), 3, padding=1, stride=1)
        y.backward(lib.tensor(np.sin(np.arange(y.numel())).reshape(tuple(y.shape))))
        out.append([y.detach().numpy(), xt.grad.numpy()])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
