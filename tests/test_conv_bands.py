"""Depthwise 2-d convolutions as banded GEMMs (``minigrad/ops/_conv_bands.py``):
forward, input and weight gradients and second derivatives against PyTorch in float64 over
kernels, dilations, paddings, channel multipliers and plane sizes (bands cut short, planes
smaller than a band, blocks cut inside an image's channels), that the banded path is the one
taken, strides (the forward banded, its stack full of NaN scratch too), and that an inf or NaN
takes the tap-by-tap path with PyTorch's answer."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_bands

# (x shape, kernel, padding, dilation, channel multiplier)
CASES = [
    ((2, 4, 9, 11), (3, 3), 1, 1, 1),
    ((3, 6, 8, 8), (3, 3), 1, 1, 2),
    ((2, 4, 10, 7), (5, 3), (2, 1), (1, 2), 1),
    ((1, 3, 12, 12), (3, 3), 0, 1, 1),
    ((2, 4, 9, 9), (3, 3), 2, 2, 1),
    ((2, 2, 5, 6), (2, 2), "same", 1, 1),
    ((2, 3, 7, 9), (1, 3), (0, 1), 1, 3),
    ((1, 2, 30, 40), (7, 7), 3, 1, 1),
    ((2, 4, 3, 3), (3, 3), 1, 1, 1),
    ((1, 2, 17, 5), (3, 2), (1, 0), (2, 1), 2),
    ((2, 3, 1, 1), (3, 3), 1, 1, 1),
    ((1, 2, 4, 4), (3, 3), 3, 1, 1),            # padding past the kernel's reach
    ((1, 2, 6, 5), (3, 1), 1, 1, 1),
]


@pytest.fixture(autouse=True)
def _small_planes_too(monkeypatch):
    """The cases are small planes, which the dispatch leaves to the taps: band them all."""
    monkeypatch.setattr(_conv_bands, "MIN_OUTPUTS", 1)


def test_planes_under_the_threshold_keep_the_taps(monkeypatch):
    monkeypatch.undo()
    geom = mg.ops.conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 4, (8, 8),
                                        (8, 8))
    x, w = np.ones((1, 4, 8, 8)), np.ones((4, 1, 3, 3))
    assert not _conv_bands.fits(x, w, geom)
    assert _conv_bands.fits(np.ones((1, 4, 10, 10)), w, geom._replace(
        in_size=(10, 10), out_size=(10, 10)))


def _conv(lib, x, w, b, pad, dil, g):
    X, W, B = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
    y = lib.nn.functional.conv2d(X, W, B, padding=pad, dilation=dil, groups=x.shape[1])
    y.backward(lib.tensor(g))
    return [t.detach().numpy() for t in (y, X.grad, W.grad, B.grad)]


def _arrays(shape, kernel, pad, dil, mult, seed=0):
    rng = np.random.default_rng(seed)
    C = shape[1]
    x = rng.standard_normal(shape)
    w = rng.standard_normal((C * mult, 1) + kernel)
    b = rng.standard_normal(C * mult)
    y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=pad,
                                   dilation=dil, groups=C)
    return x, w, b, rng.standard_normal(tuple(y.shape))


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CASES, ids=[str(c[:2]) for c in CASES])
def test_forward_and_gradients_match_torch(case, monkeypatch):
    shape, kernel, pad, dil, mult = case
    x, w, b, g = _arrays(*case)
    taken = []
    real = _conv_bands.forward
    monkeypatch.setattr(_conv_bands, "forward", lambda *a: taken.append(1) or real(*a))
    mine = _conv(mg, x, w, b, pad, dil, g)
    theirs = _conv(torch, x, w, b, pad, dil, g)
    assert taken, "the banded path was not taken"
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("stack_bytes", [1 << 10, 1 << 14])
def test_blocks_inside_an_image_and_across_images(stack_bytes, monkeypatch):
    monkeypatch.setattr(_conv_bands, "STACK_BYTES", stack_bytes)
    case = ((3, 5, 13, 10), (3, 3), 1, 1, 2)
    x, w, b, g = _arrays(*case, seed=3)
    for a, t in zip(_conv(mg, x, w, b, 1, 1, g), _conv(torch, x, w, b, 1, 1, g)):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", [CASES[0], CASES[2], CASES[6]], ids=["3x3", "dilated", "m3"])
def test_second_derivatives_match_torch(case):
    shape, kernel, pad, dil, mult = case
    x, w, b, g = _arrays(*case, seed=5)
    v = np.random.default_rng(6).standard_normal(x.shape)
    out = []
    for lib in (mg, torch):
        X, W, G = (lib.tensor(a, requires_grad=True) for a in (x, w, g))
        y = lib.nn.functional.conv2d(X, W, padding=pad, dilation=dil, groups=shape[1])
        gx, gw = lib.autograd.grad(y, (X, W), G, create_graph=True)
        s = (gx * lib.tensor(v)).sum() + (gw * gw).sum()
        out.append([t.detach().numpy() for t in lib.autograd.grad(s, (X, W, G))])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("where", ["x", "w"])
def test_non_finite_values_take_the_taps_with_torchs_answer(bad, where):
    case = ((2, 3, 6, 7), (3, 3), 1, 1, 1)
    x, w, b, g = _arrays(*case, seed=7)
    (x if where == "x" else w)[0, 0, 1, 1] = bad
    assert not _conv_bands.fits(x, w, mg.ops.conv_kernels.Geometry(
        (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 3, (6, 7), (6, 7)))
    for a, t in zip(_conv(mg, x, w, b, 1, 1, g), _conv(torch, x, w, b, 1, 1, g)):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11, equal_nan=True)


def test_float32_and_non_contiguous_input():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 6, 16, 20)).astype(np.float32)[:, :, :, ::2].transpose(0, 1, 3, 2)
    w = rng.standard_normal((6, 1, 3, 3)).astype(np.float32)
    g = rng.standard_normal((4, 6, 10, 16)).astype(np.float32)
    b = np.zeros(6, np.float32)
    for a, t in zip(_conv(mg, x, w, b, 1, 1, g), _conv(torch, x, w, b, 1, 1, g)):
        np.testing.assert_allclose(a, t, rtol=2e-5, atol=2e-5)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", CASES, ids=[str(c[:2]) for c in CASES])
def test_scratch_left_full_of_nan_is_all_overwritten(case, monkeypatch):
    """The stacks are zeroed only where x's copy does not write: with scratch buffers
    handed out full of NaN, every cell that is read must still be written."""
    monkeypatch.setattr(_conv_bands, "_workspace",
                        lambda kind, shape, dtype, xp: np.full(shape, np.nan, dtype))
    shape, kernel, pad, dil, mult = case
    x, w, b, g = _arrays(*case, seed=11)
    for a, t in zip(_conv(mg, x, w, b, pad, dil, g), _conv(torch, x, w, b, pad, dil, g)):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11)


# (x shape, kernel, stride, padding, dilation, channel multiplier): the forward is banded with
# any stride (its stack holds exactly the columns a column stride reads); the weight gradient
# keeps the taps there, and the input gradient goes by phases (tests/test_conv_depthwise_
# phases.py) -- both are checked here too, through the same calls
STRIDED = [
    ((2, 4, 16, 16), (3, 3), 2, 1, 1, 1),
    ((2, 3, 17, 13), (3, 3), 2, 1, 1, 2),
    ((1, 2, 20, 21), (5, 5), 2, 2, 1, 1),
    ((2, 2, 15, 18), (3, 5), (1, 3), (1, 2), 1, 1),
    ((1, 3, 19, 16), (3, 3), (3, 2), 0, (2, 1), 1),
    ((2, 2, 12, 12), (1, 1), 2, 0, 1, 1),
    ((1, 2, 9, 14), (4, 2), (2, 2), (3, 1), 1, 1),      # padding past a column's reach
    ((1, 2, 6, 6), (3, 3), 4, 1, 1, 1),                 # one output column per image
]


def _strided(lib, x, w, b, stride, pad, dil, g):
    X, W, B = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
    y = lib.nn.functional.conv2d(X, W, B, stride=stride, padding=pad, dilation=dil,
                                 groups=x.shape[1])
    y.backward(lib.tensor(g))
    return [t.detach().numpy() for t in (y, X.grad, W.grad, B.grad)]


@pytest.mark.parametrize("nan_scratch", [False, True])
@pytest.mark.parametrize("case", STRIDED, ids=[str(c[:3]) for c in STRIDED])
def test_strided_forward_matches_torch(case, nan_scratch, monkeypatch):
    shape, kernel, stride, pad, dil, mult = case
    if nan_scratch:
        monkeypatch.setattr(_conv_bands, "_workspace",
                            lambda kind, shape, dtype, xp: np.full(shape, np.nan, dtype))
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1] * mult, 1) + kernel)
    b = rng.standard_normal(shape[1] * mult)
    yt = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=stride,
                                    padding=pad, dilation=dil, groups=shape[1])
    g = rng.standard_normal(tuple(yt.shape))
    taken = []
    real = _conv_bands.Bands._strided_columns
    monkeypatch.setattr(_conv_bands.Bands, "_strided_columns",
                        lambda self, *a: taken.append(1) or real(self, *a))
    mine = _strided(mg, x, w, b, stride, pad, dil, g)
    theirs = _strided(torch, x, w, b, stride, pad, dil, g)
    strided_columns = (stride if isinstance(stride, int) else stride[1]) > 1
    assert bool(taken) == strided_columns
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", [STRIDED[0], STRIDED[3]], ids=["s2", "s(1,3)"])
def test_strided_second_derivatives_match_torch(case):
    shape, kernel, stride, pad, dil, mult = case
    rng = np.random.default_rng(9)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((shape[1] * mult, 1) + kernel)
    out = []
    for lib in (mg, torch):
        X, W = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(X, W, stride=stride, padding=pad, dilation=dil,
                                     groups=shape[1])
        G = lib.tensor(np.random.default_rng(10).standard_normal(tuple(y.shape)),
                       requires_grad=True)
        gx, gw = lib.autograd.grad(y, (X, W), G, create_graph=True)
        s = (gx * gx).sum() + (gw * gw).sum()
        out.append([t.detach().numpy() for t in lib.autograd.grad(s, (X, W, G))])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)
