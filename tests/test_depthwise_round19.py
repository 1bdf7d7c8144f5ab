"""Depthwise convolutions after round 19: x goes into its phase planes in a few copies
(``_conv_phase_copy``: a remainder axis per strided axis, not a copy per phase), and the
lanes' input gradient is one GEMM per block over the few distinct shifts that the taps read
g from (``_conv_depthwise_lanes.input_grad``), with a block of non-finite g taken tap by tap.

The phase planes are checked against their definition (np.pad, then every s-th cell), for
1-3 axes, strides 1-3, sizes that are and are not multiples of the stride, asymmetric
padding, and non-contiguous, reversed and channels-last x. Every convolution runs beside
PyTorch in float64: output, the gradients of x, w and b, and the second derivatives
(create_graph), with spies that the new code computed them: batch 1, odd sizes, stride 2 on
even and odd planes, padding 0/1/2, dilation, channel multipliers, 5x5 and stride 3, 3-d;
non-contiguous and channels-last x; blocks down to one image and channel; scratch full of
NaN; inf and NaN in g (some blocks finite, some not); two threads."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_depthwise as depthwise
from minigrad.ops import _conv_depthwise_lanes as lanes
from minigrad.ops import _conv_depthwise_runs as runs
from minigrad.ops import _conv_phase_copy as phase_copy
from minigrad.ops.conv_kernels import Geometry


def _geometry(size, k, s, pads, d, C=3):
    out = tuple((n + l + r - dd * (kk - 1) - 1) // ss + 1
                for n, kk, ss, (l, r), dd in zip(size, k, s, pads, d))
    return Geometry(tuple(k), tuple(s), tuple(pads), tuple(d), C, tuple(size), out)


def _reference_planes(x, geom, lay):
    """The definition: (n, c, phases, size), phase (a, b, ..) = xpad[..., a::s, b::s, ..]
    in the first cells of its plane (Q per axis), zeros elsewhere."""
    pads = [(0, 0), (0, 0)] + [(l, r) for l, r in geom.padding]
    xpad = np.pad(x, pads)
    n, c = x.shape[:2]
    out = np.zeros((n, c, len(lay.phases), lay.size), dtype=x.dtype)
    for p, phase in enumerate(lay.phases):
        part = xpad[(slice(None), slice(None)) + tuple(slice(a, None, s) for a, s in
                                                       zip(phase, geom.stride))]
        grid = np.zeros((n, c) + lay.Q, dtype=x.dtype)
        grid[(slice(None), slice(None)) + tuple(slice(0, m) for m in part.shape[2:])] = part
        out[:, :, p, :int(np.prod(lay.Q))] = grid.reshape(n, c, -1)
    return out


def _random_geometries(seed, count):
    rng = np.random.default_rng(seed)
    found = []
    while len(found) < count:
        nd = int(rng.integers(1, 4))
        k = tuple(int(v) for v in rng.integers(1, 5, nd))
        s = tuple(int(v) for v in rng.integers(1, 4, nd))
        d = tuple(int(v) for v in rng.integers(1, 3, nd))
        size = tuple(int(v) for v in rng.integers(1, 10, nd))
        pads = tuple((int(a), int(b)) for a, b in rng.integers(0, 3, (nd, 2)))
        geom = _geometry(size, k, s, pads, d)
        if min(geom.out_size) >= 1:
            found.append(geom)
    return found


def _layouts(x):
    """x as laid out in memory four ways: contiguous, Fortran order, channels last, and a
    view read backwards along the last axis (negative strides)."""
    backwards = np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    last = np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    return [x, np.asfortranarray(x), last, backwards]


@pytest.mark.parametrize("geom", _random_geometries(0, 24), ids=str)
def test_phase_planes_match_their_definition(geom):
    lay = depthwise.Planes(geom)
    x = np.random.default_rng(1).standard_normal((2, 3) + geom.in_size)
    ref = _reference_planes(x, geom, lay)
    for xv in _layouts(x):
        np.testing.assert_array_equal(lay.planes(xv, "depthwise-x"), ref)
        # the lanes: the same planes, channels first and a block's images end to end
        lane = lanes.Lanes(lay, 2)
        got = lane.planes(xv, "lanes-x").reshape(3, len(lay.phases), 2, lay.size)
        np.testing.assert_array_equal(got.transpose(2, 0, 1, 3), ref)


@pytest.mark.parametrize("size, s, left, copies", [
    ((28, 28), (2, 2), 1, 1),          # one copy for all four phases
    ((28, 30), (2, 2), 0, 1),
    ((27, 28), (2, 2), 1, 2),          # an odd size: the last row is a piece of its own
    ((30, 30), (3, 3), 0, 1),          # no padding: the remainders step evenly
    ((28, 28), (1, 2), 1, 1),
])
def test_pieces_are_few(size, s, left, copies):
    geom = _geometry(size, (3, 3), s, ((left, 1), (left, 1)), (1, 1))
    lay = depthwise.Planes(geom)
    x = np.zeros((2, 3) + size, np.float32)
    buf = np.zeros((2, 3, len(lay.phases), lay.size), np.float32)
    got = phase_copy.pieces(geom, x.shape[:2], x.strides,
                            lay.strides(buf.strides[:3], buf.itemsize))
    assert len(got) == copies


def test_uneven_remainders_take_a_piece_each():
    """Stride 3 with padding 2: remainders 0, 1, 2 land in phases 2, 0, 1 at places 0, 1,
    1 -- not evenly spaced, so each is a piece of its own (and the planes still match)."""
    geom = _geometry((12,), (3,), (3,), ((2, 0),), (1,))
    lay = depthwise.Planes(geom)
    x = np.random.default_rng(3).standard_normal((2, 3, 12))
    buf = np.zeros((2, 3, 3, lay.size))
    assert len(phase_copy.pieces(geom, x.shape[:2], x.strides,
                                 lay.strides(buf.strides[:3], buf.itemsize))) == 3
    np.testing.assert_array_equal(lay.planes(x, "depthwise-x"), _reference_planes(x, geom, lay))


# (nd, N, C, size, kernel, stride, padding, dilation, multiplier, whether taps share shifts:
#  the input gradient's GEMM)
GEOMETRIES = [
    (2, 1, 4, (14, 14), 3, 2, 1, 1, 1, True),        # batch 1, even planes
    (2, 2, 3, (15, 13), 3, 2, 1, 1, 1, True),        # odd planes
    (2, 2, 3, (16, 16), 3, 2, 0, 1, 1, True),        # padding 0
    (2, 2, 3, (17, 16), 3, 2, 2, 1, 1, True),        # padding 2
    (2, 2, 3, (18, 17), 3, 2, 2, 2, 1, False),       # dilation 2, stride 2: one phase
    (2, 2, 3, (16, 15), 3, 2, 1, 1, 2, True),        # groups = C, out = 2C
    (2, 1, 2, (13, 13), 3, 1, 1, 1, 3, False),       # stride 1 with a multiplier
    (2, 2, 2, (19, 20), 5, 2, 2, 1, 1, True),        # 25 taps: the lanes' weight gradient
    (2, 2, 3, (20, 19), 5, 3, 2, 1, 1, True),        # stride 3, uneven remainders
    (2, 1, 2, (9, 9), 3, 2, 1, 1, 1, True),          # small planes: the taps' forward
    (2, 2, 2, (12, 13), (3, 5), (2, 1), (1, 2), 1, 1, True),
    (2, 2, 2, (12, 13), 3, 2, 1, 2, 2, False),       # dilation 2 with a multiplier
    (3, 2, 2, (7, 8, 6), 3, 2, 1, 1, 1, True),
    (3, 1, 2, (6, 7, 7), 3, 2, 1, 1, 2, True),
    (1, 2, 3, (21,), 3, 2, 1, 1, 2, False),          # (1-d: the runs)
]


def _spy(monkeypatch):
    """Which of the new pieces ran: the GEMM over the shifts, the copy of all phases."""
    calls = set()
    real_shifts, real_pieces = lanes._shifts, phase_copy.pieces

    def shifts(*a):
        calls.add("shifts")
        return real_shifts(*a)

    def pieces(*a):
        calls.add("pieces")
        return real_pieces(*a)
    monkeypatch.setattr(lanes, "_shifts", shifts)
    monkeypatch.setattr(phase_copy, "pieces", pieces)
    return calls


def _inputs(nd, N, C, size, k, m, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    kernel = (k,) * nd if isinstance(k, int) else k
    x = rng.standard_normal((N, C) + size).astype(dtype)
    w = rng.standard_normal((C * m, 1) + kernel).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b


def _run(lib, nd, x, w, b, s, p, d, C, seed=1, second=True, layout=None, g=None):
    """y, the gradients of <y, G> in x, w, b and (second) those of <gx, Hx> + <gw, Hw> in
    x, w and G, as numpy."""
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    X = lib.tensor(x)
    X = (X if layout is None else layout(lib, X)).requires_grad_()
    W = lib.tensor(w, requires_grad=True)
    B = lib.tensor(b, requires_grad=True)
    y = conv(X, W, B, stride=s, padding=p, dilation=d, groups=C)
    rng = np.random.default_rng(seed)
    G = lib.tensor(rng.standard_normal(tuple(y.shape)).astype(x.dtype) if g is None else g,
                   requires_grad=True)
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
    nd, N, C, size, k, s, p, d, m, shared = geometry
    calls = _spy(monkeypatch)
    x, w, b = _inputs(nd, N, C, size, k, m)
    ours = _run(mg, nd, x, w, b, s, p, d, C)
    assert ("shifts" in calls) == shared
    _close(ours, _run(torch, nd, x, w, b, s, p, d, C))


def test_the_phase_copy_runs_for_the_strided_weight_gradient(monkeypatch):
    calls = _spy(monkeypatch)
    x, w, b = _inputs(2, 2, 3, (16, 16), 3, 1, seed=3)
    ours = _run(mg, 2, x, w, b, 2, 1, 1, 3, second=False)
    assert calls == {"shifts", "pieces"}
    _close(ours, _run(torch, 2, x, w, b, 2, 1, 1, 3, second=False))


def _transposed(lib, X):
    return X.transpose(0, 1).contiguous().transpose(0, 1)


def _channels_last(lib, X):
    return X.contiguous(memory_format=lib.channels_last if X.dim() == 4 else
                        lib.channels_last_3d)


@pytest.mark.parametrize("layout", [_transposed, _channels_last])
@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[5], GEOMETRIES[7],
                                      GEOMETRIES[12]], ids=str)
def test_layouts(layout, geometry):
    nd, N, C, size, k, s, p, d, m, _ = geometry
    x, w, b = _inputs(nd, N, C, size, k, m, seed=4)
    ours = _run(mg, nd, x, w, b, s, p, d, C, second=False, layout=layout)
    _close(ours, _run(torch, nd, x, w, b, s, p, d, C, second=False, layout=layout))


@pytest.mark.parametrize("budget", [1, 5000])
@pytest.mark.parametrize("geometry", [GEOMETRIES[1], GEOMETRIES[5], GEOMETRIES[8],
                                      GEOMETRIES[11]], ids=str)
def test_blocks(geometry, budget, monkeypatch):
    """Blocks of one image and channel, and of a few channels."""
    nd, N, C, size, k, s, p, d, m, _ = geometry
    monkeypatch.setattr(lanes, "LANE_BYTES", budget)
    monkeypatch.setattr(depthwise, "BLOCK_BYTES", budget)
    x, w, b = _inputs(nd, 3, 5, size, k, m, seed=5)
    ours = _run(mg, nd, x, w, b, s, p, d, 5, second=False)
    _close(ours, _run(torch, nd, x, w, b, s, p, d, 5, second=False))


def test_scratch_full_of_nan(monkeypatch):
    """Every cell of the scratch that is read was written first (the GEMM's stack and
    lanes are not zeroed: every cell is written)."""
    def dirty(real):
        def take(kind, shape, dtype, xp):
            out = real(kind, shape, dtype, xp)
            out.fill(np.nan)
            return out
        return take
    monkeypatch.setattr(lanes, "_workspace", dirty(lanes._workspace))
    monkeypatch.setattr(depthwise, "_workspace", dirty(depthwise._workspace))
    monkeypatch.setattr(runs, "_workspace", dirty(runs._workspace))
    for nd, N, C, size, k, s, p, d, m, _ in (GEOMETRIES[1], GEOMETRIES[5], GEOMETRIES[11],
                                              GEOMETRIES[13]):
        x, w, b = _inputs(nd, N, C, size, k, m, seed=6)
        ours = _run(mg, nd, x, w, b, s, p, d, C, second=False)
        _close(ours, _run(torch, nd, x, w, b, s, p, d, C, second=False))


@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_g(bad, m, monkeypatch):
    """An inf or NaN in g: its blocks go tap by tap (the GEMM's zeros would make NaNs where
    no tap reads it), the others through the GEMM; the infs and NaNs land where PyTorch's
    do. Blocks of one channel, so that both kinds run in one call."""
    calls = set()
    real = lanes._block_by_taps
    monkeypatch.setattr(lanes, "_block_by_taps", lambda *a: calls.add("taps") or real(*a))
    monkeypatch.setattr(lanes, "LANE_BYTES", 1)
    x, w, _ = _inputs(2, 2, 3, (15, 14), 3, m, seed=7)
    g = np.random.default_rng(8).standard_normal((2, 3 * m, 8, 7))
    g[1, m, 3, 5] = bad
    grads = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        lib.nn.functional.conv2d(X, lib.tensor(w), stride=2, padding=1,
                                 groups=3).backward(lib.tensor(g))
        grads.append(X.grad.numpy())
    assert calls == {"taps"}
    mine, theirs = grads
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))
    ok = np.isfinite(theirs)
    assert (~ok).any()
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("m", [1, 2])
def test_float32(m):
    x, w, b = _inputs(2, 4, 8, (28, 27), 3, m, dtype=np.float32, seed=9)
    ours = _run(mg, 2, x, w, b, 2, 1, 1, 8, second=False)
    ref = _run(torch, 2, x, w, b, 2, 1, 1, 8, second=False)
    for a, r in zip(ours, ref):
        assert np.abs(a - r).max() <= 2e-5 * max(np.abs(r).max(), 1.0)


def test_two_threads(monkeypatch):
    """A batch large enough to be split over the threads, each part through the GEMM."""
    calls = _spy(monkeypatch)
    x, w, b = _inputs(2, 8, 32, (64, 64), 3, 1, seed=10)
    before = mg.get_num_threads()
    mg.set_num_threads(2)
    try:
        ours = _run(mg, 2, x, w, b, 2, 1, 1, 32, second=False)
    finally:
        mg.set_num_threads(before)
    assert calls == {"shifts", "pieces"}
    _close(ours, _run(torch, 2, x, w, b, 2, 1, 1, 32, second=False))
