"""The input gradient of a strided depthwise 2-d convolution, phase by phase on the banded
GEMMs (``_conv_depthwise._banded_phases``): against PyTorch in float64 (computed from the
same float32 numbers), with the geometries that take the phases and those that must not
(a phase padded past its sub-kernel's reach, a channel multiplier, dilation, inf/NaN in g,
float64), pixels no tap reads, two threads, and the second derivative."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_depthwise

# (N, C, H, W, kernel, stride, padding, takes the phases)
GEOMETRIES = [
    (2, 8, 32, 32, 3, 2, 1, True),            # MobileNet's downsampling
    (2, 4, 33, 31, 3, 2, 1, True),            # odd sizes: phases of unequal size
    (1, 6, 40, 40, 5, 2, 2, True),
    (2, 3, 30, 44, (3, 5), (2, 1), (1, 2), True),   # strided along one axis only
    (1, 4, 42, 42, 4, 2, 1, True),            # an even kernel
    (2, 4, 40, 40, 1, 2, 0, True),            # a kernel smaller than the stride: pixels no
    (1, 4, 36, 36, 2, 2, 0, True),            # tap reads get 0
    (2, 4, 50, 50, 3, 3, 0, True),
    (2, 4, 50, 50, 3, 3, 1, False),           # padding before a 1-tap phase: past its reach
    (1, 2, 30, 30, 4, 3, 2, False),           # a phase padded past its sub-kernel's reach
    (1, 4, 12, 12, 3, 2, 1, False),           # phase planes under the bands' 100 outputs
]


def _spy(monkeypatch):
    calls = []
    real = _conv_depthwise._phases_input_grad

    def spy(*args):
        calls.append(1)
        return real(*args)
    monkeypatch.setattr(_conv_depthwise, "_phases_input_grad", spy)
    return calls


def _gradients(x, w, g, stride, padding, groups, lib):
    X = lib.tensor(x, requires_grad=True)
    W = lib.tensor(w, requires_grad=True)
    y = lib.nn.functional.conv2d(X, W, stride=stride, padding=padding, groups=groups)
    y.backward(lib.tensor(g))
    return y.detach().numpy(), X.grad.numpy(), W.grad.numpy()


def _case(N, C, H, W, k, s, p, m=1, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((C * m, 1, kh, kw)).astype(dtype)
    ref = torch.nn.functional.conv2d(torch.tensor(x, dtype=torch.float64),
                                     torch.tensor(w, dtype=torch.float64), stride=s,
                                     padding=p, groups=C)
    g = rng.standard_normal(ref.shape).astype(dtype)
    return x, w, g


def _check(x, w, g, s, p, C, tol=2e-5):
    mine = _gradients(x, w, g, s, p, C, mg)
    theirs = _gradients(x.astype(np.float64), w.astype(np.float64), g.astype(np.float64),
                        s, p, C, torch)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("N, C, H, W, k, s, p, phases", GEOMETRIES)
def test_input_grad_against_torch(N, C, H, W, k, s, p, phases, monkeypatch):
    calls = _spy(monkeypatch)
    x, w, g = _case(N, C, H, W, k, s, p)
    _check(x, w, g, s, p, C)
    assert bool(calls) == phases


def test_not_taken_with_a_channel_multiplier_dilation_or_float64(monkeypatch):
    calls = _spy(monkeypatch)
    x, w, g = _case(2, 4, 32, 32, 3, 2, 1, m=2)
    _check(x, w, g, 2, 1, 4)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 32, 32)).astype(np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    for dt in (np.float32, np.float64):
        X = mg.tensor(x.astype(dt), requires_grad=True)
        y = mg.nn.functional.conv2d(X, mg.tensor(w.astype(dt)), stride=2, padding=2,
                                    dilation=2, groups=4)
        Xt = torch.tensor(x.astype(np.float64), requires_grad=True)
        yt = torch.nn.functional.conv2d(Xt, torch.tensor(w.astype(np.float64)), stride=2,
                                        padding=2, dilation=2, groups=4)
        gy = rng.standard_normal(tuple(yt.shape))
        y.backward(mg.tensor(gy.astype(dt)))
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(X.grad.numpy(), Xt.grad.numpy(), rtol=1e-5, atol=1e-4)
    x, w, g = _case(1, 4, 32, 32, 3, 2, 1, dtype=np.float64)
    _check(x, w, g, 2, 1, 4, tol=1e-12)
    assert not calls


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_g_keeps_the_taps(bad, monkeypatch):
    calls = _spy(monkeypatch)
    x, w, g = _case(1, 4, 32, 32, 3, 2, 1)
    g[0, 1, 3, 5] = bad
    X = mg.tensor(x, requires_grad=True)
    mg.nn.functional.conv2d(X, mg.tensor(w), stride=2, padding=1, groups=4).backward(
        mg.tensor(g))
    Xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.conv2d(Xt, torch.tensor(w), stride=2, padding=1, groups=4).backward(
        torch.tensor(g))
    mine, theirs = X.grad.numpy(), Xt.grad.numpy()
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))
    ok = np.isfinite(theirs)
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-5, atol=1e-5)
    assert not calls


def test_non_contiguous_g_and_scratch_full_of_nan(monkeypatch):
    # g a transposed view; every scratch buffer handed out full of NaN (the bands must write
    # every cell they read)
    real = _conv_depthwise._bands._workspace

    def dirty(kind, shape, dtype, xp):
        buf = real(kind, shape, dtype, xp)
        buf.fill(np.nan)
        return buf
    monkeypatch.setattr(_conv_depthwise._bands, "_workspace", dirty)
    calls = _spy(monkeypatch)
    x, w, _ = _case(2, 6, 34, 30, 3, 2, 1)
    rng = np.random.default_rng(3)
    g = np.ascontiguousarray(rng.standard_normal((2, 6, 15, 17)).astype(np.float32)
                             ).transpose(0, 1, 3, 2)         # (2, 6, 17, 15), a view
    _check(x, w, g, 2, 1, 6)
    assert calls


def test_two_threads(monkeypatch):
    calls = _spy(monkeypatch)
    x, w, g = _case(8, 16, 32, 32, 3, 2, 1)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        _check(x, w, g, 2, 1, 16)
    finally:
        mg.set_num_threads(before)
    assert calls


def test_second_derivative_against_torch():
    x, w, _ = _case(1, 4, 32, 32, 3, 2, 1)
    rng = np.random.default_rng(5)
    out = []
    for lib, dt in ((mg, np.float32), (torch, np.float64)):
        X = lib.tensor(x.astype(dt), requires_grad=True)
        W = lib.tensor(w.astype(dt), requires_grad=True)
        y = lib.nn.functional.conv2d(X, W, stride=2, padding=1, groups=4)
        gx, = lib.autograd.grad((y * y).sum(), X, create_graph=True)
        v = lib.tensor(rng.standard_normal(x.shape).astype(dt))
        gw, = lib.autograd.grad((gx * v).sum(), W)
        out.append((gx.detach().numpy(), gw.numpy()))
        rng = np.random.default_rng(5)
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * np.abs(b).max())
