"""Depthwise convolutions whose gradients take the lanes (``_conv_depthwise_lanes``: phase
planes channel first, a block's images end to end): the input gradient wherever it is no
stride-1 correlation or 1-d runs (every strided one, float32 and float64), and the weight
gradient but for 1-d runs and strided 2-d kernels of up to 9 taps with one output channel
per input channel.

Each geometry runs beside PyTorch in float64: the output, the three gradients and the second
derivatives (create_graph) to ~1e-10, with a spy that the lanes computed what they should.
Strides 1/2/3 (dividing the size or not), dilation, int/'same' padding (asymmetric for an
even kernel or an odd dilated reach), padding past the kernel's reach, kernels shorter than
the stride (cells no tap reads), channel multipliers, unbatched input, non-contiguous and
channels-last inputs, non-contiguous g, blocks down to one image and channel, scratch full of
NaN, inf and NaN in g (2-d, and 1-d, which then leaves the runs for the lanes), float32
(the strided 2-d geometries the phases on the bands took before), and two threads."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_depthwise_lanes as lanes

# (nd, N or None for unbatched, C, size, kernel, stride, padding, dilation, multiplier,
#  the lanes make the input gradient, the lanes make the weight gradient)
GEOMETRIES = [
    (2, 2, 3, (15, 17), 3, 2, 1, 1, 1, True, False),
    (2, 2, 3, (16, 16), 3, 1, 1, 1, 1, False, True),
    (2, 2, 2, (14, 13), 3, 1, 1, 1, 2, True, True),
    (2, 1, 3, (12, 12), 4, 1, "same", 1, 2, True, True),     # padding (1, 2) per axis
    (2, 2, 2, (13, 14), (2, 3), 1, "same", (3, 1), 1, False, True),   # reach 3: (1, 2)
    (2, 2, 3, (20, 19), 3, 3, 1, 1, 1, True, False),
    (2, 2, 2, (17, 17), 3, 2, 2, 2, 2, True, True),
    (2, 2, 3, (12, 12), 3, 1, 3, 1, 1, True, True),          # padding past the reach
    (2, None, 3, (11, 12), 3, 2, 1, 1, 2, True, True),       # unbatched
    (2, 2, 4, (30, 30), 3, 2, 1, 1, 1, True, False),         # a forward on the bands
    (2, 2, 3, (13, 12), (3, 5), (2, 1), (1, 2), 1, 1, True, False),
    (2, 1, 2, (10, 11), 2, 3, 0, 1, 3, True, True),          # kernel shorter than stride
    (3, 2, 3, (6, 7, 8), 3, 1, 1, 1, 1, False, True),
    (3, 2, 2, (7, 8, 9), 3, 2, 1, 1, 1, True, True),
    (3, 1, 2, (7, 8, 9), (3, 2, 3), (2, 1, 3), (1, 0, 2), 1, 2, True, True),
    (3, 2, 2, (9, 9, 9), 3, 3, 0, 1, 1, True, True),
    (3, None, 2, (6, 6, 6), 2, 1, "same", 1, 1, False, True),
    (3, 2, 2, (8, 7, 6), 3, 2, 2, (2, 1, 2), 1, True, True),
]


def _spy(monkeypatch):
    calls = set()
    for name in ("input_grad", "weight_grad"):
        real = getattr(lanes, name)
        monkeypatch.setattr(lanes, name,
                            lambda *a, real=real, name=name: calls.add(name) or real(*a))
    return calls


def _inputs(nd, N, C, size, k, m, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    kernel = (k,) * nd if isinstance(k, int) else k
    x = rng.standard_normal(((N,) if N is not None else ()) + (C,) + size).astype(dtype)
    w = rng.standard_normal((C * m, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b


def _run(lib, nd, x, w, b, s, p, d, C, seed=1, second=True, layout=None):
    """y, the gradients of <y, G> in x, w, b, and (second) the gradients of
    <gx, Hx> + <gw, Hw> in x, w and G: every array as numpy. ``layout`` makes x's tensor
    from the numbers: a function of (lib, tensor)."""
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    X = lib.tensor(x)
    X = (X if layout is None else layout(lib, X)).requires_grad_()
    W = lib.tensor(w, requires_grad=True)
    B = lib.tensor(b, requires_grad=True)
    y = conv(X, W, B, stride=s, padding=p, dilation=d, groups=C)
    rng = np.random.default_rng(seed)
    G = lib.tensor(rng.standard_normal(tuple(y.shape)).astype(x.dtype), requires_grad=True)
    gx, gw, gb = lib.autograd.grad((y * G).sum(), (X, W, B), create_graph=second)
    out = [y, gx, gw, gb]
    if second:
        Hx = lib.tensor(rng.standard_normal(tuple(X.shape)).astype(x.dtype))
        Hw = lib.tensor(rng.standard_normal(w.shape).astype(x.dtype))
        out += lib.autograd.grad((gx * Hx).sum() + (gw * Hw).sum(), (X, W, G))
    return [t.detach().numpy() for t in out]


def _close(ours, ref, rtol=1e-10):
    for a, r in zip(ours, ref):
        assert a.shape == r.shape
        np.testing.assert_allclose(a, r, rtol=rtol, atol=rtol * max(1.0, np.abs(r).max()))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=str)
def test_float64_with_second_derivative(geometry, monkeypatch):
    nd, N, C, size, k, s, p, d, m, on_ig, on_wg = geometry
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, N, C, size, k, m)
    ours = _run(mg, nd, x, w, b, s, p, d, C)
    assert calls >= {name for name, on in (("input_grad", on_ig), ("weight_grad", on_wg))
                     if on}
    _close(ours, _run(torch, nd, x, w, b, s, p, d, C))


@pytest.mark.parametrize("budget", [1, 3000, 40000])
@pytest.mark.parametrize("geometry", [GEOMETRIES[2], GEOMETRIES[6], GEOMETRIES[13]], ids=str)
def test_blocks(geometry, budget, monkeypatch):
    """Blocks of one image and channel (budget 1), of a few channels, of whole lanes."""
    nd, N, C, size, k, s, p, d, m, _, _ = geometry
    monkeypatch.setattr(lanes, "LANE_BYTES", budget)
    x, w, b = _inputs(nd, 3, 5, size, k, m, seed=2)
    ours = _run(mg, nd, x, w, b, s, p, d, 5, second=False)
    _close(ours, _run(torch, nd, x, w, b, s, p, d, 5, second=False))


def test_scratch_full_of_nan(monkeypatch):
    """Every cell of the lanes' scratch that is read was written first."""
    real = lanes._workspace

    def dirty(kind, shape, dtype, xp):
        out = real(kind, shape, dtype, xp)
        out.fill(np.nan)
        return out
    monkeypatch.setattr(lanes, "_workspace", dirty)
    for nd, N, C, size, k, s, p, d, m, _, _ in (GEOMETRIES[6], GEOMETRIES[11], GEOMETRIES[14]):
        x, w, b = _inputs(nd, N, C, size, k, m, seed=5)
        ours = _run(mg, nd, x, w, b, s, p, d, C, second=False)
        _close(ours, _run(torch, nd, x, w, b, s, p, d, C, second=False))


def _transposed(lib, X):
    """The same numbers in a (C, N, ...) buffer, sliced: a non-contiguous view."""
    return X.transpose(0, 1).contiguous().transpose(0, 1)


def _channels_last(lib, X):
    return X.contiguous(memory_format=lib.channels_last if X.dim() == 4 else
                        lib.channels_last_3d)


@pytest.mark.parametrize("layout", [_transposed, _channels_last])
@pytest.mark.parametrize("nd, s, m", [(2, 2, 1), (2, 1, 2), (3, 2, 1), (3, 1, 1)])
def test_layouts(layout, nd, s, m, monkeypatch):
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, 2, 3, (9, 10, 8)[:nd], 3, m, seed=3)
    ours = _run(mg, nd, x, w, b, s, 1, 1, 3, layout=layout)
    assert calls
    _close(ours, _run(torch, nd, x, w, b, s, 1, 1, 3, layout=layout))


def test_strided_slice_of_input(monkeypatch):
    """x a strided slice of a larger tensor (every other column)."""
    calls = _spy(monkeypatch)
    rng = np.random.default_rng(6)
    base = rng.standard_normal((2, 3, 12, 22))
    w = rng.standard_normal((6, 1, 3, 3))
    results = []
    for lib in (mg, torch):
        X = lib.tensor(base)[..., ::2].requires_grad_()
        W = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(X, W, stride=2, padding=1, groups=3)
        y.backward(lib.ones_like(y))
        results.append([y.detach().numpy(), X.grad.numpy(), W.grad.numpy()])
    assert calls == {"input_grad", "weight_grad"}
    _close(*results)


@pytest.mark.parametrize("stride", [1, 2])
def test_inf_in_g_1d(stride, monkeypatch):
    """A 1-d convolution with an inf in g leaves the runs (whose zeros would turn it into
    NaNs) for the lanes: the infs and NaNs land where PyTorch's do."""
    calls = _spy(monkeypatch)
    x, w, b = _inputs(1, 2, 3, (30,), 3, 2, seed=7)
    results = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv1d(X, W, stride=stride, padding=1, groups=3)
        g = np.random.default_rng(8).standard_normal(tuple(y.shape))
        g[0, 1, 4] = np.inf
        g[1, 5, 0] = -np.inf
        y.backward(lib.tensor(g))
        results.append([X.grad.numpy(), W.grad.numpy()])
    assert calls == {"input_grad", "weight_grad"}
    for a, r in zip(*results):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("geometry", [GEOMETRIES[2], GEOMETRIES[6], GEOMETRIES[13]], ids=str)
def test_float32(geometry):
    nd, N, C, size, k, s, p, d, m, _, _ = geometry
    x, w, b = _inputs(nd, N, C, size, k, m, dtype=np.float32, seed=9)
    ours = _run(mg, nd, x, w, b, s, p, d, C, second=False)
    ref = _run(torch, nd, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
               s, p, d, C, second=False)
    for a, r in zip(ours, ref):
        assert a.dtype == np.float32
        assert np.abs(a - r).max() <= 1e-5 * max(np.abs(r).max(), 1.0)


@pytest.mark.parametrize("nd, s", [(2, 2), (3, 1)])
def test_two_threads(nd, s, monkeypatch):
    """A batch large enough to be split over the threads, each part on its own lanes."""
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, 8, 16, (24, 24) if nd == 2 else (12, 12, 12), 3, 2, seed=4)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        ours = _run(mg, nd, x, w, b, s, 1, 1, 16, second=False)
    finally:
        mg.set_num_threads(before)
    assert calls == {"input_grad", "weight_grad"}
    _close(ours, _run(torch, nd, x, w, b, s, 1, 1, 16, second=False))



# (size, kernel, stride, padding): the strided float32 input gradients that took the phases
# on the bands before the lanes
STRIDED_2D = [
    ((32, 32), 3, 2, 1),                      # MobileNet's downsampling
    ((33, 31), 3, 2, 1),                      # odd sizes: phases of unequal size
    ((40, 40), 5, 2, 2),
    ((30, 44), (3, 5), (2, 1), (1, 2)),       # strided along one axis only
    ((42, 42), 4, 2, 1),                      # an even kernel
    ((40, 40), 1, 2, 0),                      # a kernel smaller than the stride: pixels no
    ((36, 36), 2, 2, 0),                      # tap reads get 0
    ((50, 50), 3, 3, 0),
    ((50, 50), 3, 3, 1),                      # padding before a one-tap phase
    ((30, 30), 4, 3, 2),
    ((60, 60), 5, 3, 2),
]


@pytest.mark.parametrize("size, k, s, p", STRIDED_2D, ids=str)
def test_float32_strided_input_grad(size, k, s, p, monkeypatch):
    """A float32 2-d input gradient with a stride takes the lanes."""
    calls = _spy(monkeypatch)
    x, w, b = _inputs(2, 2, 6, size, k, 1, dtype=np.float32, seed=10)
    ours = _run(mg, 2, x, w, b, s, p, 1, 6, second=False)
    assert "input_grad" in calls
    ref = _run(torch, 2, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
               s, p, 1, 6, second=False)
    for a, r in zip(ours, ref):
        assert np.abs(a - r).max() <= 2e-5 * max(np.abs(r).max(), 1.0)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_g_2d(bad, monkeypatch):
    """An inf or NaN in g: the lanes (w finite) put the infs and NaNs where PyTorch does."""
    calls = _spy(monkeypatch)
    x, w, _ = _inputs(2, 1, 4, (32, 32), 3, 1, dtype=np.float32, seed=11)
    g = np.random.default_rng(12).standard_normal((1, 4, 16, 16)).astype(np.float32)
    g[0, 1, 3, 5] = bad
    grads = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        lib.nn.functional.conv2d(X, W, stride=2, padding=1, groups=4).backward(lib.tensor(g))
        grads.append((X.grad.numpy(), W.grad.numpy()))
    assert "input_grad" in calls
    for mine, theirs in zip(*grads):
        np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
        np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))
        ok = np.isfinite(theirs)
        np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-5, atol=1e-5)


def test_non_contiguous_g(monkeypatch):
    """g a transposed view, the lanes' scratch full of NaN."""
    real = lanes._workspace

    def dirty(kind, shape, dtype, xp):
        out = real(kind, shape, dtype, xp)
        out.fill(np.nan)
        return out
    monkeypatch.setattr(lanes, "_workspace", dirty)
    x, w, _ = _inputs(2, 2, 6, (34, 30), 3, 1, seed=13)
    g = np.random.default_rng(14).standard_normal((2, 6, 15, 17)).transpose(0, 1, 3, 2)
    grads = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(X, W, stride=2, padding=1, groups=6)
        y.backward(lib.tensor(g))
        grads.append((X.grad.numpy(), W.grad.numpy()))
    _close(*grads)
