"""Depthwise convolutions on the row chunks (``_conv_depthwise_rows``: a row stride as GEMMs
over chunks of stride rows), the 1-d runs in their own module (``_conv_depthwise_runs``),
and the lanes' copy of x straight from its (image, channel) layout
(``_conv_depthwise_lanes.Lanes.planes``): against PyTorch in float64 and float32, first and
second order, and against central finite differences."""
import time

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import (_conv_depthwise as depthwise, _conv_depthwise_blocks as blocks,
                          _conv_depthwise_lanes as lanes, _conv_depthwise_rows as rows,
                          _conv_depthwise_runs as runs)


def _spy(monkeypatch, module, names):
    calls = []
    for name in names:
        real = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, real=real, name=name: calls.append(name) or real(*a))
    return calls


def _inputs(shape, C, kernel, m, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((C * m, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b


def _run(lib, x, w, b, stride, padding, dilation, second=False, layout=None):
    """y and the gradients of <y, G> in x, w, b; with ``second``, also the gradients of
    <gx, Hx> + <gw, Hw> in x, w and G. Every array as numpy."""
    nd = w.ndim - 2
    C = x.shape[-nd - 1]
    F = lib.nn.functional
    conv = F.conv2d if nd == 2 else F.conv1d
    X = lib.tensor(x)
    if layout is not None:
        X = layout(lib, X)
    X.requires_grad_(True)
    W, B = lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)
    y = conv(X, W, B, stride=stride, padding=padding, dilation=dilation, groups=C)
    rng = np.random.default_rng(1)
    G = lib.tensor(rng.standard_normal(tuple(y.shape)).astype(x.dtype), requires_grad=second)
    gx, gw, gb = lib.autograd.grad((y * G).sum(), (X, W, B), create_graph=second)
    out = [y.detach().numpy(), gx.detach().numpy(), gw.detach().numpy(), gb.detach().numpy()]
    if second:
        Hx = lib.tensor(rng.standard_normal(tuple(gx.shape)).astype(x.dtype))
        Hw = lib.tensor(rng.standard_normal(tuple(gw.shape)).astype(x.dtype))
        out += [a.detach().numpy() for a in lib.autograd.grad(
            (gx * Hx).sum() + (gw * Hw).sum(), (X, W, G), allow_unused=True)]
    return out


def _close(ours, ref, dtype=np.float64):
    for a, r in zip(ours, ref):
        assert a.shape == r.shape and a.dtype == r.dtype
        if dtype == np.float64:
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)
        else:
            assert np.abs(a - r).max() <= 2e-5 * max(np.abs(r).max(), 1.0)


# (batch shape, C, (H, W), kernel, stride, padding, dilation, multiplier): every one takes
# the row chunks (MIN_ROWS set to 0 for the small ones, see ``_chunks``)
CHUNKED = [
    ((3,), 4, (28, 28), (3, 3), 2, 1, 1, 1),
    ((2,), 3, (27, 25), (3, 3), 2, 1, 1, 2),                  # odd sizes, multiplier 2
    ((2,), 2, (31, 30), (5, 5), 3, 2, 1, 1),                  # stride 3, 5x5
    ((2,), 2, (24, 23), (3, 3), 2, 2, 2, 1),                  # dilation 2
    ((2,), 3, (22, 26), (3, 5), (2, 1), (1, 2), (1, 2), 1),   # no column stride
    ((2,), 2, (33, 29), (7, 7), 2, 3, 1, 1),                  # 7x7
    ((2,), 2, (26, 28), (3, 3), 2, 3, 1, 1),                  # padding past the reach
    ((2,), 2, (25, 27), (5, 5), 2, 0, 1, 3),                  # no padding, multiplier 3
    ((2,), 2, (20, 21), (3, 3), (3, 2), 1, (2, 1), 1),
    ((2,), 2, (13, 14), (2, 2), 3, 0, 1, 1),                  # kernel shorter than stride
    ((), 3, (23, 22), (3, 3), 2, 1, 1, 1),                    # unbatched
]


@pytest.fixture
def _chunks(monkeypatch):
    """Small batches take the row chunks too; records which of their maps ran."""
    monkeypatch.setattr(rows, "MIN_ROWS", 0)
    return _spy(monkeypatch, rows, ["forward", "input_grad", "weight_grad"])


@pytest.mark.parametrize("case", CHUNKED, ids=str)
def test_chunks_match_torch_float64(case, _chunks):
    lead, C, size, kernel, s, p, d, m = case
    x, w, b = _inputs(lead + (C,) + size, C, kernel, m)
    ours = _run(mg, x, w, b, s, p, d)
    assert set(_chunks) == {"forward", "input_grad", "weight_grad"}
    _close(ours, _run(torch, x, w, b, s, p, d))


@pytest.mark.parametrize("case", [CHUNKED[0], CHUNKED[1], CHUNKED[2], CHUNKED[5]], ids=str)
def test_chunks_match_torch_float32(case, _chunks):
    lead, C, size, kernel, s, p, d, m = case
    x, w, b = _inputs(lead + (C,) + size, C, kernel, m, dtype=np.float32, seed=3)
    ours = _run(mg, x, w, b, s, p, d)
    assert set(_chunks) == {"forward", "input_grad", "weight_grad"}
    _close(ours, _run(torch, x, w, b, s, p, d), np.float32)


@pytest.mark.parametrize("case", [CHUNKED[1], CHUNKED[3], CHUNKED[4]], ids=str)
def test_chunks_second_order(case, _chunks):
    lead, C, size, kernel, s, p, d, m = case
    x, w, b = _inputs(lead + (C,) + size, C, kernel, m, seed=5)
    ours = _run(mg, x, w, b, s, p, d, second=True)
    assert set(_chunks) == {"forward", "input_grad", "weight_grad"}
    _close(ours, _run(torch, x, w, b, s, p, d, second=True))


def test_chunks_against_finite_differences(_chunks):
    """<y, G> differentiated in x and w by central differences, in float64."""
    x, w, b = _inputs((2, 2, 11, 10), 2, (3, 3), 2, seed=7)
    G = np.random.default_rng(8).standard_normal((2, 4, 6, 5))

    def loss(xa, wa):
        y = mg.nn.functional.conv2d(mg.tensor(xa), mg.tensor(wa), mg.tensor(b), stride=2,
                                    padding=1, groups=2)
        return float((y.numpy() * G).sum())

    X, W = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)
    y = mg.nn.functional.conv2d(X, W, mg.tensor(b), stride=2, padding=1, groups=2)
    (y * mg.tensor(G)).sum().backward()
    assert set(_chunks) == {"forward", "input_grad", "weight_grad"}
    eps = 1e-6
    for grad, base, which in ((X.grad.numpy(), x, 0), (W.grad.numpy(), w, 1)):
        numeric = np.empty_like(base)
        for i in np.ndindex(base.shape):
            hi, lo = base.copy(), base.copy()
            hi[i] += eps
            lo[i] -= eps
            args_hi = (hi, w) if which == 0 else (x, hi)
            args_lo = (lo, w) if which == 0 else (x, lo)
            numeric[i] = (loss(*args_hi) - loss(*args_lo)) / (2 * eps)
        np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-7)


def test_benchmark_sized_batch_takes_the_chunks_on_two_threads(monkeypatch):
    """A batch split over two threads, each part on the chunks (no MIN_ROWS change)."""
    calls = _spy(monkeypatch, rows, ["forward", "input_grad", "weight_grad"])
    x, w, b = _inputs((24, 32, 28, 28), 32, (3, 3), 1, dtype=np.float32, seed=11)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        ours = _run(mg, x, w, b, 2, 1, 1)
    finally:
        mg.set_num_threads(before)
    assert calls.count("forward") >= 1 and "input_grad" in calls and "weight_grad" in calls
    ref = _run(torch, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 2, 1, 1)
    _close(ours, [r.astype(np.float32) for r in ref], np.float32)


def test_two_threads_share_a_fresh_layout(monkeypatch):
    """The layout (and its matrices, made on first use) is cached and shared by the threads:
    each thread must find it whole. A fresh cache, and the matrices made slowly, so that the
    second part asks while the first is making them."""
    real = rows.Chunks._entries

    def slow(self):
        time.sleep(0.05)
        return real(self)
    monkeypatch.setattr(rows.Chunks, "_entries", slow)
    x, w, b = _inputs((24, 64, 28, 28), 64, (3, 3), 1, dtype=np.float32, seed=21)
    ref = _run(torch, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), 2, 1, 1)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        rows.layout.cache_clear()
        ours = _run(mg, x, w, b, 2, 1, 1)
    finally:
        mg.set_num_threads(before)
        rows.layout.cache_clear()
    _close(ours, [r.astype(np.float32) for r in ref], np.float32)


@pytest.mark.parametrize("size, expect", [((28, 28), True), ((60, 60), False)])
def test_which_shapes_take_the_chunks(size, expect, monkeypatch):
    """The chunks take a row-strided 2-d convolution of enough rows; wide gradients not."""
    calls = _spy(monkeypatch, rows, ["input_grad", "weight_grad"])
    x, w, b = _inputs((12, 4) + size, 4, (3, 3), 1, seed=12)
    _close(_run(mg, x, w, b, 2, 1, 1), _run(torch, x, w, b, 2, 1, 1))
    assert bool(calls) == expect


def test_few_rows_and_stride_1_keep_the_other_paths(monkeypatch):
    calls = _spy(monkeypatch, rows, ["forward", "input_grad", "weight_grad"])
    for shape, s in (((2, 4, 28, 28), 2), ((12, 4, 28, 28), 1)):
        x, w, b = _inputs(shape, 4, (3, 3), 1, seed=13)
        _close(_run(mg, x, w, b, s, 1, 1), _run(torch, x, w, b, s, 1, 1))
    assert calls == []


@pytest.mark.parametrize("budget", [1, 20000])
def test_chunks_in_blocks_of_channels(budget, _chunks, monkeypatch):
    monkeypatch.setattr(rows, "ROWS_BYTES", budget)
    x, w, b = _inputs((2, 5, 21, 19), 5, (3, 3), 2, seed=14)
    _close(_run(mg, x, w, b, 2, 1, 1), _run(torch, x, w, b, 2, 1, 1))
    assert set(_chunks) == {"forward", "input_grad", "weight_grad"}


def test_chunks_scratch_full_of_nan(_chunks, monkeypatch):
    """Every cell of the chunks' scratch that is read was written first."""
    real = rows._workspace

    def dirty(kind, shape, dtype, xp):
        out = real(kind, shape, dtype, xp)
        out.fill(np.nan)
        return out
    monkeypatch.setattr(rows, "_workspace", dirty)
    for case in (CHUNKED[1], CHUNKED[3], CHUNKED[6], CHUNKED[9]):
        lead, C, size, kernel, s, p, d, m = case
        x, w, b = _inputs(lead + (C,) + size, C, kernel, m, seed=15)
        _close(_run(mg, x, w, b, s, p, d), _run(torch, x, w, b, s, p, d))


@pytest.mark.parametrize("layout", ["transposed", "sliced", "channels_last"])
def test_chunks_non_contiguous_input(layout, _chunks):
    def make(lib, t):
        if layout == "transposed":
            return t.transpose(2, 3).contiguous().transpose(2, 3)
        if layout == "sliced":
            return t[:, :, ::1, :]
        return t.contiguous(memory_format=lib.channels_last)
    x, w, b = _inputs((2, 3, 22, 20), 3, (3, 3), 1, seed=16)
    _close(_run(mg, x, w, b, 2, 1, 1, layout=make), _run(torch, x, w, b, 2, 1, 1, layout=make))


@pytest.mark.parametrize("where", ["x", "g", "w"])
@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_chunks_with_inf_or_nan_give_torchs_answer(where, bad, _chunks):
    """H_e's zeros times an inf would be NaNs no tap makes: y is checked after, g before,
    and gw after, and the other paths give PyTorch's infs and NaNs."""
    x, w, b = _inputs((2, 3, 20, 18), 3, (3, 3), 1, seed=17)
    if where == "x":
        x[0, 1, 5, 6] = bad
    elif where == "w":
        w[1, 0, 0, 2] = bad
    F = {"mg": mg.nn.functional, "torch": torch.nn.functional}
    results = []
    for name, lib in (("mg", mg), ("torch", torch)):
        X, W = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = F[name].conv2d(X, W, lib.tensor(b), stride=2, padding=1, groups=3)
        G = np.random.default_rng(2).standard_normal(tuple(y.shape))
        if where == "g":
            G[1, 2, 3, 4] = bad
        (y * lib.tensor(G)).sum().backward()
        results.append([y.detach().numpy(), X.grad.numpy(), W.grad.numpy()])
    for a, r in zip(*results):
        assert np.array_equal(np.isnan(a), np.isnan(r))
        assert np.array_equal(np.isinf(a), np.isinf(r))
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10, equal_nan=True)


# --- the 1-d runs, in their own module ----------------------------------------------------------
@pytest.mark.parametrize("size, k, s, p, d, m", [
    (300, 9, 1, 4, 1, 1), (301, 3, 2, 1, 1, 2), (257, 5, 3, 2, 2, 1), (200, 7, 2, 0, 1, 3)])
def test_runs_module_matches_torch(size, k, s, p, d, m, monkeypatch):
    calls = _spy(monkeypatch, depthwise, ["_runs_forward", "_runs_input_grad",
                                          "_runs_weight_grad"])
    x, w, b = _inputs((3, 4, size), 4, (k,), m, seed=18)
    ours = _run(mg, x, w, b, s, p, d, second=(k == 3))
    # (stride 1, one output channel a channel: the input gradient is a forward of g)
    assert len(set(calls)) == (2 if s == 1 and m == 1 else 3)
    _close(ours, _run(torch, x, w, b, s, p, d, second=(k == 3)))


def test_runs_unbatched_float32():
    x, w, b = _inputs((6, 500), 6, (9,), 1, dtype=np.float32, seed=19)
    ours = _run(mg, x, w, b, 1, 4, 1)
    _close(ours, _run(torch, x, w, b, 1, 4, 1), np.float32)


def test_runs_and_blocks_helpers():
    assert runs.fits(np.ones((2, 3, 4)), np.ones((3, 1, 2)))
    assert not runs.fits(np.array([[[np.inf, 1.0]]]), np.ones((1, 1, 1)))
    assert not runs.fits(np.ones((1, 1, 2), dtype=np.int64), np.ones((1, 1, 1)))
    assert blocks.finite(np, np.ones(3)) and not blocks.finite(np, np.array([1.0, np.nan]))
    cuts = list(blocks.each_block(5, 7, 10, 35))         # 3 channels of one image a block
    assert cuts[:3] == [(0, 1, 0, 3), (0, 1, 3, 6), (0, 1, 6, 7)] and len(cuts) == 15
    assert list(blocks.each_block(5, 2, 10, 45)) == [(0, 2, 0, 2), (2, 4, 0, 2), (4, 5, 0, 2)]


# --- the lanes, x copied straight from (image, channel) --------------------------------------
@pytest.mark.parametrize("size, k, s, m", [((48, 50), 5, 2, 1), ((45, 44), 3, 2, 2),
                                           ((50, 47), 3, 3, 1)])
def test_lanes_weight_grad_from_x_in_place(size, k, s, m, monkeypatch):
    """Wide strided planes (past the chunks' width) whose weight gradient takes the lanes
    (a multiplier, or more than 9 taps), and the rest of a strided geometry's maps."""
    calls = _spy(monkeypatch, lanes, ["weight_grad"])
    x, w, b = _inputs((2, 3) + size, 3, (k, k), m, seed=20)
    ours = _run(mg, x, w, b, s, 1, 1)
    _close(ours, _run(torch, x, w, b, s, 1, 1))
    assert calls == (["weight_grad"] if (m > 1 or k * k > 9) else [])
