"""Depthwise weight gradients as matrix products over a phase's grid of taps
(``_conv_depthwise_lanes._grid_dots``), and the weight gradient's check of its own result
in place of a pass over x (``_conv_depthwise.weight_grad``).

The lanes' weight gradient takes each phase's taps as one strided view of the lane and each
dot product as the trace of a small matrix product of its row cut into pieces; the planes'
(strided 2-d, one output channel a channel) and the lanes' results are kept only when
finite, else the strided views recompute them. Each geometry runs beside PyTorch: float64
to ~1e-10 with the second derivatives (create_graph), float32 against torch's float64 to
float32 rounding. Strides 1/2/3, kernels shorter than the stride (phases no tap reads),
dilation, int and 'same' padding, odd sizes (rows that do not cut into whole pieces),
channel multipliers, batch 1 and unbatched, non-contiguous x, 3-d, blocks of one channel,
rows too short to cut, and inf and NaN in x, in cells that windows read and in cells that
only the layouts' cropped columns read (where torch's gradient stays finite)."""
import itertools

import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_depthwise as depthwise
from minigrad.ops import _conv_depthwise_lanes as lanes
from minigrad.ops.conv_kernels import Geometry

# (nd, N or None for unbatched, C, size, kernel, stride, padding, dilation, multiplier)
LANES = [
    (2, 2, 3, (16, 16), 3, 1, 1, 1, 1),
    (2, 2, 3, (13, 11), 3, 1, 1, 1, 1),             # rows not a whole number of pieces
    (2, 1, 4, (15, 17), 5, 1, 2, 1, 1),             # 25 taps, batch 1
    (2, 2, 2, (14, 13), 3, 2, 1, 1, 2),             # stride 2, multiplier 2
    (2, 2, 2, (17, 17), 3, 2, 2, 2, 2),             # dilation 2
    (2, 2, 3, (12, 12), 4, 1, "same", 1, 2),        # padding (1, 2) per axis
    (2, 1, 2, (10, 11), 2, 3, 0, 1, 3),             # kernel shorter than stride
    (2, None, 3, (11, 12), 3, 2, 1, 1, 2),          # unbatched
    (2, 2, 2, (16, 15), (5, 5), 3, 2, 1, 1),        # 5x5 stride 3: more than 9 taps
    (3, 2, 3, (6, 7, 8), 3, 1, 1, 1, 1),
    (3, 1, 2, (7, 8, 9), (3, 2, 3), (2, 1, 3), (1, 0, 2), 1, 2),
]
# strided 2-d, one output channel per channel, up to 9 taps: the planes' dot products
PLANES = [
    (2, 2, 4, (28, 28), 3, 2, 1, 1, 1),
    (2, 1, 3, (15, 13), 3, 2, 1, 1, 1),
    (2, 2, 3, (20, 19), 3, 3, 1, 1, 1),
    (2, 2, 2, (17, 16), 3, 2, 2, 2, 1),
]


def _inputs(nd, N, C, size, k, m, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    kernel = (k,) * nd if isinstance(k, int) else k
    x = rng.standard_normal(((N,) if N is not None else ()) + (C,) + size).astype(dtype)
    w = rng.standard_normal((C * m, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b


def _run(lib, nd, x, w, b, s, p, d, C, second=True, layout=None, seed=1):
    """y, the gradients of <y, G> in x, w, b, and (second) the gradients of
    <gx, Hx> + <gw, Hw> in x, w and G, as numpy."""
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


def _close(ours, ref, rtol):
    for a, r in zip(ours, ref):
        assert a.shape == r.shape
        np.testing.assert_allclose(a, r, rtol=rtol, atol=rtol * max(1.0, np.abs(r).max()))


def _spy(monkeypatch):
    calls = []
    real = lanes._grid_dots
    monkeypatch.setattr(lanes, "_grid_dots", lambda *a: calls.append(a[3][1]) or real(*a))
    return calls


@pytest.mark.parametrize("geometry", LANES + PLANES, ids=str)
def test_float64_with_second_derivative(geometry, monkeypatch):
    nd, N, C, size, k, s, p, d, m = geometry
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, N, C, size, k, m)
    ours = _run(mg, nd, x, w, b, s, p, d, C)
    if geometry in LANES:
        assert calls                   # the weight gradient took the grid products
    _close(ours, _run(torch, nd, x, w, b, s, p, d, C), 1e-10)


@pytest.mark.parametrize("geometry", LANES + PLANES, ids=str)
def test_float32_against_float64(geometry):
    nd, N, C, size, k, s, p, d, m = geometry
    x, w, b = _inputs(nd, N, C, size, k, m, dtype=np.float32, seed=3)
    ours = _run(mg, nd, x, w, b, s, p, d, C, second=False)
    assert all(a.dtype == np.float32 for a in ours)
    ref = _run(torch, nd, x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
               s, p, d, C, second=False)
    _close(ours, ref, 2e-5)


@pytest.mark.parametrize("geometry", [LANES[0], LANES[3], PLANES[0]], ids=str)
def test_non_contiguous_x(geometry):
    """x a transposed, strided view (channels last, every other column)."""
    nd, N, C, size, k, s, p, d, m = geometry
    x, w, b = _inputs(nd, N, C, size[:-1] + (2 * size[-1],), k, m, seed=5)
    x = np.ascontiguousarray(np.moveaxis(x, 1, -1))

    def layout(lib, X):
        return X.movedim(-1, 1)[..., ::2]
    ours = _run(mg, nd, x, w, b, s, p, d, C, layout=layout)
    _close(ours, _run(torch, nd, x, w, b, s, p, d, C, layout=layout), 1e-10)


@pytest.mark.parametrize("budget", [1, 5000])
@pytest.mark.parametrize("geometry", [LANES[1], LANES[3], LANES[10]], ids=str)
def test_blocks_of_one_channel(geometry, budget, monkeypatch):
    """Blocks of one image and channel (budget 1) and of a few channels: the grid product's
    batch as small as it gets."""
    nd, N, C, size, k, s, p, d, m = geometry
    monkeypatch.setattr(lanes, "LANE_BYTES", budget)
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, 3, 5, size, k, m, seed=2)
    ours = _run(mg, nd, x, w, b, s, p, d, 5, second=False)
    assert calls
    _close(ours, _run(torch, nd, x, w, b, s, p, d, 5, second=False), 1e-10)


def test_rows_too_short_to_cut(monkeypatch):
    """A lane shorter than the pieces (one 2x2 image, a 2x2 kernel: 2 wide outputs) takes a
    dot per tap."""
    calls = _spy(monkeypatch)
    x, w, b = _inputs(2, 1, 3, (2, 2), 2, 1, seed=4)
    ours = _run(mg, 2, x, w, b, 1, 0, 1, 3)
    assert calls == []
    _close(ours, _run(torch, 2, x, w, b, 1, 0, 1, 3), 1e-10)


def _geometry(nd, size, k, s, p, d):
    kernel = (k,) * nd if isinstance(k, int) else tuple(k)
    stride = (s,) * nd if isinstance(s, int) else tuple(s)
    pad = (p,) * nd if isinstance(p, int) else tuple(p)
    dil = (d,) * nd if isinstance(d, int) else tuple(d)
    out = tuple((n + 2 * q - t * (kk - 1) - 1) // st + 1
                for n, q, t, kk, st in zip(size, pad, dil, kernel, stride))
    return Geometry(kernel, stride, tuple((q, q) for q in pad), dil, 1, tuple(size), out)


@pytest.mark.parametrize("geometry", [g for g in LANES + PLANES if g[6] != "same"], ids=str)
def test_grid_is_every_tap_once_at_its_shift(geometry):
    """Each phase's grid (``_phase_grid``) holds the taps whose padded offset o*d has the
    phase's remainders mod s, each once, and the grid's position i reads from
    first + sum of i_a step_a = sum over axes of (o_a d_a // s_a) * prod(Q[a+1:])."""
    nd, _, _, size, k, s, p, d, _ = geometry
    geom = _geometry(nd, size, k, s, p, d)
    lay = depthwise.Planes(geom)
    Q = [-(-(n + 2 * q) // st) for n, q, st in
         zip(size, [pp for pp, _ in geom.padding], geom.stride)]
    seen = []
    for p_index, phase in enumerate(itertools.product(*(range(st) for st in geom.stride))):
        taps, shape, first, step = lanes._phase_grid(lay, p_index)
        for i, t in zip(itertools.product(*(range(n) for n in shape)), taps):
            offset = np.unravel_index(t, geom.kernel)
            at = [int(o) * dd for o, dd in zip(offset, geom.dilation)]
            assert tuple(a % st for a, st in zip(at, geom.stride)) == phase
            shift = sum(a // st * int(np.prod(Q[ax + 1:])) for ax, (a, st) in
                        enumerate(zip(at, geom.stride)))
            assert first + sum(a * b for a, b in zip(i, step)) == shift
        seen += taps
    assert sorted(seen) == list(range(int(np.prod(geom.kernel))))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("geometry,cells", [
    # stride 2 on 14 columns, no padding: column 13 is in no window, but the planes' and
    # the lanes' cropped columns read it
    ((2, 2, 3, (13, 14), 3, 2, 0, 1, 1), [(0, 1, 4, 13), (1, 2, 12, 13)]),
    ((2, 2, 3, (13, 14), 3, 2, 0, 1, 2), [(0, 1, 4, 13)]),
    # stride 1: a cell inside the windows, and the padding's neighbour
    ((2, 2, 3, (12, 11), 3, 1, 1, 1, 1), [(0, 1, 5, 6), (1, 0, 11, 0)]),
    ((2, 1, 3, (15, 13), 3, 2, 1, 1, 1), [(0, 2, 7, 3)]),
], ids=str)
def test_inf_and_nan_in_x(geometry, cells, bad, dtype):
    """x with an inf or NaN: the weight gradient's layouts multiply cells no window reads by
    g's zeros, so a non-finite result is made again on the strided views; the gradients'
    infs and NaNs land where torch's do (a cell that no window reads leaves them finite)."""
    nd, N, C, size, k, s, p, d, m = geometry
    x, w, b = _inputs(nd, N, C, size, k, m, dtype=dtype, seed=6)
    for cell in cells:
        x[cell] = bad
    grads = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(X, W, stride=s, padding=p, dilation=d, groups=C)
        g = np.random.default_rng(7).standard_normal(tuple(y.shape)).astype(dtype)
        y.backward(lib.tensor(g))
        grads.append(W.grad.numpy())
    mine, theirs = grads
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))
    assert np.isfinite(theirs).any()
    ok = np.isfinite(theirs)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=tol, atol=tol)


def test_nan_in_g_with_finite_x():
    """A NaN in g (x finite): the gradient in w is NaN for that channel alone, as torch's."""
    x, w, _ = _inputs(2, 2, 4, (16, 16), 3, 1, seed=8)
    g = np.random.default_rng(9).standard_normal((2, 4, 16, 16))
    g[1, 2, 3, 3] = np.nan
    grads = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        lib.nn.functional.conv2d(X, W, padding=1, groups=4).backward(lib.tensor(g))
        grads.append(W.grad.numpy())
    np.testing.assert_array_equal(np.isnan(grads[0]), np.isnan(grads[1]))
    ok = ~np.isnan(grads[1])
    np.testing.assert_allclose(grads[0][ok], grads[1][ok], rtol=1e-10, atol=1e-10)
