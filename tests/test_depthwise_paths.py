"""Depthwise convolutions (groups == in_channels) on every path of ``_conv_depthwise``: the 1-d
runs (small Toeplitz GEMMs), the 2-d bands and phases, the 3-d phase planes, and the strided
views taken for an inf or NaN. Each geometry runs beside PyTorch: in float64 the output, the
three gradients and the second derivatives (through create_graph) to ~1e-12; in float32 the
output and gradients to 1e-5 relative. Strides 1/2/3 (dividing the size or not), dilation,
int/'same'/'valid' padding (asymmetric for an even 'same' kernel), padding past the kernel's
reach, non-square kernels, channel multipliers, unbatched and empty batches, non-contiguous
input, and a batch split over two threads."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_depthwise
from minigrad.ops._workspace import workspace

# (nd, N or None for unbatched, C, size, kernel, stride, padding, dilation, multiplier)
GEOMETRIES = [
    (1, 3, 4, (50,), 3, 1, 1, 1, 1),
    (1, 2, 3, (37,), 3, 2, 1, 1, 1),              # odd length, stride 2
    (1, 2, 4, (41,), 5, 3, 2, 1, 1),              # a stride that does not divide
    (1, 2, 3, (64,), 9, 1, "same", 1, 1),
    (1, 2, 3, (30,), 4, 1, "same", 1, 1),         # even kernel: padding 1 left, 2 right
    (1, 2, 3, (30,), 3, 1, "same", 3, 1),
    (1, 2, 3, (23,), 3, 2, "valid", 1, 2),        # two output channels per input channel
    (1, 1, 2, (40,), 7, 2, 5, 3, 3),
    (1, 2, 3, (5,), 5, 1, 0, 1, 1),               # one output
    (1, 2, 2, (12,), 3, 1, 4, 1, 1),              # padding past the kernel's reach
    (1, 2, 3, (200,), 31, 2, 15, 1, 1),           # a long kernel
    (1, 2, 3, (17,), 1, 2, 0, 1, 1),              # cells no tap reads
    (1, 2, 3, (19,), 2, 3, 0, 1, 1),              # a kernel shorter than the stride
    (1, None, 3, (20,), 3, 2, 1, 1, 1),           # unbatched
    (2, 2, 4, (15, 17), 3, 2, 1, 1, 1),
    (2, 2, 3, (12, 11), (3, 5), (2, 1), (1, 2), 1, 1),
    (2, 1, 4, (20, 20), 3, 1, "same", 2, 2),
    (2, 2, 3, (33, 31), 3, 2, 1, 1, 1),           # planes the bands take
    (2, 2, 2, (13, 14), 3, 3, "valid", 1, 3),
    (2, None, 3, (12, 12), 3, 2, 1, 1, 1),
    (3, 2, 3, (6, 7, 8), 3, 1, 1, 1, 1),
    (3, 1, 2, (7, 8, 9), (3, 2, 3), 2, 1, 1, 2),
    (3, 2, 2, (5, 6, 7), 3, 1, "same", (1, 2, 1), 1),
    (3, 2, 2, (9, 9, 9), 3, 3, 0, 1, 1),
]


def _dirty_scratch():
    """NaNs in the scratch buffers the depthwise kernels reuse: a cell they read without
    writing it first shows up as a NaN (a fresh buffer is often zeros, which would hide it)."""
    for dtype in (np.float32, np.float64):
        for kind in ("runs-x", "runs-y", "runs-z", "runs-p", "depthwise-x", "depthwise-s",
                     "depthwise-y", "depthwise-t", "bands-s", "bands-y"):
            workspace(kind, (1 << 18,), dtype, np).fill(np.nan)


def _inputs(nd, N, C, size, k, s, p, d, m, dtype, seed=0):
    rng = np.random.default_rng(seed)
    kernel = (k,) * nd if isinstance(k, int) else k
    x = rng.standard_normal(((N,) if N is not None else ()) + (C,) + size).astype(dtype)
    w = rng.standard_normal((C * m, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b


def _run(lib, nd, x, w, b, s, p, d, C, seed=1, second=True):
    """y, the gradients of <y, G> in x, w, b, and (second) the gradients of
    <gx, Hx> + <gw, Hw> in x, w and G: every array as numpy."""
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    X = lib.tensor(x, requires_grad=True)
    W = lib.tensor(w, requires_grad=True)
    B = lib.tensor(b, requires_grad=True)
    y = conv(X, W, B, stride=s, padding=p, dilation=d, groups=C)
    rng = np.random.default_rng(seed)
    G = lib.tensor(rng.standard_normal(tuple(y.shape)).astype(x.dtype), requires_grad=True)
    gx, gw, gb = lib.autograd.grad((y * G).sum(), (X, W, B), create_graph=second)
    out = [y, gx, gw, gb]
    if second:
        Hx = lib.tensor(rng.standard_normal(x.shape).astype(x.dtype))
        Hw = lib.tensor(rng.standard_normal(w.shape).astype(x.dtype))
        out += lib.autograd.grad((gx * Hx).sum() + (gw * Hw).sum(), (X, W, G))
    return [t.detach().numpy() for t in out]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_float64_with_second_derivative(geometry):
    nd, N, C, size, k, s, p, d, m = geometry
    x, w, b = _inputs(nd, N, C, size, k, s, p, d, m, np.float64)
    _dirty_scratch()
    ours = _run(mg, nd, x, w, b, s, p, d, C)
    ref = _run(torch, nd, x, w, b, s, p, d, C)
    for name, a, r in zip("y gx gw gb ggx ggw ggG".split(), ours, ref):
        assert a.shape == r.shape, name
        np.testing.assert_allclose(a, r, rtol=1e-11, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_float32(geometry):
    nd, N, C, size, k, s, p, d, m = geometry
    x, w, b = _inputs(nd, N, C, size, k, s, p, d, m, np.float32, seed=2)
    _dirty_scratch()
    ours = _run(mg, nd, x, w, b, s, p, d, C, second=False)
    ref = _run(torch, nd, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
               s, p, d, C, second=False)
    for name, a, r in zip("y gx gw gb".split(), ours, ref):
        assert a.dtype == np.float32, name
        scale = max(np.abs(r).max(), 1.0)
        assert np.abs(a - r).max() <= 1e-5 * scale, name


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_empty_batch(nd):
    x, w, b = _inputs(nd, 0, 3, (9,) * nd, 3, 2, 1, 1, 2, np.float64)
    ours = _run(mg, nd, x, w, b, 2, 1, 1, 3, second=False)
    ref = _run(torch, nd, x, w, b, 2, 1, 1, 3, second=False)
    for a, r in zip(ours, ref):
        assert a.shape == r.shape
        np.testing.assert_allclose(a, r, atol=1e-12)


@pytest.mark.parametrize("nd", [1, 2])
def test_non_contiguous_input(nd):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, 2) + (26,) * nd)       # (C, N, *S): a transposed view
    w = rng.standard_normal((5, 1) + (3,) * nd)
    results = []
    for lib in (mg, torch):
        X = lib.tensor(base).transpose(0, 1)[..., ::2].requires_grad_()
        W = lib.tensor(w, requires_grad=True)
        y = getattr(lib.nn.functional, f"conv{nd}d")(X, W, stride=2, padding=1, groups=5)
        y.backward(lib.ones_like(y))
        results.append([y.detach().numpy(), X.grad.numpy(), W.grad.numpy()])
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("stride", [1, 2])
def test_inf_in_input_1d(stride):
    """An inf takes the strided views (the runs' zeros would turn it into NaNs where no
    window reads it)."""
    x, w, b = _inputs(1, 2, 3, (30,), 3, stride, 1, 1, 1, np.float64)
    x[0, 1, 7] = np.inf
    x[1, 2, 0] = -np.inf
    ours = _run(mg, 1, x, w, b, stride, 1, 1, 3, second=False)
    ref = _run(torch, 1, x, w, b, stride, 1, 1, 3, second=False)
    for a, r in zip(ours, ref):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_1d_takes_the_runs(monkeypatch):
    calls = []
    for name in ("_runs_forward", "_runs_input_grad", "_runs_weight_grad"):
        real = getattr(_conv_depthwise, name)
        monkeypatch.setattr(_conv_depthwise, name,
                            lambda *a, real=real, name=name: calls.append(name) or real(*a))
    x, w, b = _inputs(1, 2, 4, (40,), 5, 2, 2, 1, 1, np.float64)
    ours = _run(mg, 1, x, w, b, 2, 2, 1, 4, second=False)
    ref = _run(torch, 1, x, w, b, 2, 2, 1, 4, second=False)
    assert set(calls) == {"_runs_forward", "_runs_input_grad", "_runs_weight_grad"}
    for a, r in zip(ours, ref):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("nd, size", [(1, (2000,)), (2, (40, 40))])
def test_two_threads(nd, size):
    """A batch large enough to be split over the threads, part by part."""
    x, w, b = _inputs(nd, 8, 32, size, 3, 2, 1, 1, 1, np.float32, seed=4)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        ours = _run(mg, nd, x, w, b, 2, 1, 1, 32, second=False)
    finally:
        mg.set_num_threads(before)
    ref = _run(torch, nd, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
               2, 1, 1, 32, second=False)
    for a, r in zip(ours, ref):
        assert np.abs(a - r).max() <= 1e-5 * max(np.abs(r).max(), 1.0)
