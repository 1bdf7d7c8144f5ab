"""``F.interpolate`` on numpy float32/float64 by per-axis linear maps (``ops/_resize_maps``):
beside torch in float64 -- the output, the input's gradient, and the second derivative
(the gradient of (grad_x * v).sum() with respect to the upstream gradient g, which is the
resize of v) -- over every mode, 1-d/2-d/3-d, align_corners, integer and fractional scale
factors, explicit sizes, shrinking and growing, inputs long enough to be cut into blocks,
antialias, and channels-last, transposed and strided inputs; float32 at float32's
precision; inf and NaN spreading as torch spreads them; uint8 unchanged; other dtypes still
take the composition."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _base(lib, x, layout):
    """A leaf holding ``x`` and the (N, C, *spatial) tensor seen through ``layout``."""
    if layout == "contiguous":
        leaf = lib.tensor(x, requires_grad=True)
        return leaf, leaf
    if layout == "channels_last":              # memory (N, *spatial, C)
        order = (0,) + tuple(range(2, x.ndim)) + (1,)
        leaf = lib.tensor(np.ascontiguousarray(x.transpose(order)), requires_grad=True)
        return leaf, leaf.permute(0, x.ndim - 1, *range(1, x.ndim - 1))
    if layout == "transposed":                 # the last two dims swapped in memory
        leaf = lib.tensor(np.ascontiguousarray(np.swapaxes(x, -1, -2)), requires_grad=True)
        return leaf, leaf.transpose(-1, -2)
    assert layout == "strided"                 # every other element of a longer last dim
    wide = np.repeat(x, 2, axis=-1)
    leaf = lib.tensor(wide, requires_grad=True)
    return leaf, leaf[..., ::2]


def _run(lib, x, kw, g, v, layout="contiguous"):
    """[y, dL/dx for L = (y * g).sum(), d/dg of (dL/dx * v).sum()] as numpy arrays."""
    leaf, inp = _base(lib, x, layout)
    y = lib.nn.functional.interpolate(inp, **kw)
    gt = lib.tensor(g, requires_grad=True)
    gx, = lib.autograd.grad(y, inp, gt, create_graph=True)
    gg, = lib.autograd.grad((gx * lib.tensor(v)).sum(), gt)
    return [y.detach().numpy(), gx.detach().numpy(), gg.numpy()], y


def _compare(x, kw, layout="contiguous", rtol=1e-12, atol=1e-12):
    rng = np.random.default_rng(x.size)
    out_shape = tuple(torch.nn.functional.interpolate(torch.tensor(x), **kw).shape)
    g = rng.standard_normal(out_shape).astype(x.dtype)
    v = rng.standard_normal(x.shape).astype(x.dtype)
    ours, y = _run(minigrad, x, kw, g, v, layout)
    theirs, _ = _run(torch, x, kw, g, v)
    for name, a, b in zip(("output", "grad", "grad of grad"), ours, theirs):
        assert a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"{name} {kw}")
    return y


def _cases():
    """(shape, kwargs) over modes, dims, align_corners, factors and sizes."""
    cases = []
    shapes = {1: (2, 3, 11), 2: (2, 3, 7, 10), 3: (1, 2, 4, 5, 6)}
    for mode, nd in _SPATIAL.items():
        for corners in (False, True):
            for resize in ({"scale_factor": 2}, {"scale_factor": 3}, {"scale_factor": 1.7},
                           {"scale_factor": 0.5}, {"scale_factor": 0.42},
                           {"size": (13, 4, 9)[:nd]}, {"size": (1, 1, 1)[:nd]},
                           {"scale_factor": 1.5, "recompute_scale_factor": True}):
                cases.append((shapes[nd], dict(resize, mode=mode, align_corners=corners)))
    for mode in ("nearest", "nearest-exact"):
        for nd in (1, 2, 3):
            for resize in ({"scale_factor": 2}, {"scale_factor": 3}, {"scale_factor": 1.7},
                           {"scale_factor": 0.5}, {"scale_factor": 0.42},
                           {"size": (13, 4, 9)[:nd]}, {"size": (1, 1, 1)[:nd]},
                           {"scale_factor": (2, 1, 0.5)[:nd]}):
                cases.append((shapes[nd], dict(resize, mode=mode)))
    for mode in ("bilinear", "bicubic"):
        for size in ((3, 4), (5, 21), (2, 30)):
            cases.append(((2, 2, 7, 10), dict(size=size, mode=mode, antialias=True)))
            cases.append(((2, 2, 7, 10), dict(size=size, mode=mode, antialias=True,
                                              align_corners=True)))
    return cases


@pytest.mark.parametrize("shape, kw", _cases(), ids=lambda c: str(c))
def test_matches_torch_float64(shape, kw):
    x = np.random.default_rng(len(shape)).standard_normal(shape)
    y = _compare(x, kw)
    if kw.get("scale_factor") != 1:
        # (the op itself: its node is named as PyTorch's, UpsampleBilinear2DBackward0...)
        assert type(y.grad_fn).op_class.__name__ == "SeparableResize"


# inputs longer than one dense block (64): the matrix is cut into windows of rows, both ways
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "linear"])
@pytest.mark.parametrize("size", [777, 300, 70, 9, 150])
@pytest.mark.parametrize("corners", [False, True])
def test_long_inputs_1d(mode, size, corners):
    if mode.startswith("nearest") and corners:
        pytest.skip("align_corners is for the interpolating modes")
    if mode == "nearest-exact" and size < 300:
        pytest.skip("torch's backward reads other inputs than its forward here: "
                    "test_nearest_exact_shrink_gradient_is_the_adjoint")
    kw = dict(size=size, mode=mode) if mode.startswith("nearest") else \
        dict(size=size, mode=mode, align_corners=corners)
    _compare(np.random.default_rng(size).standard_normal((2, 3, 300)), kw)


@pytest.mark.parametrize("size", [70, 9, 150])
def test_nearest_exact_shrink_gradient_is_the_adjoint(size):
    """Shrinking 300 -> 70 or 9, torch's nearest-exact backward rounds its source index
    differently from its forward (it sends some gradients one input off); minigrad's gradient
    is the transpose of the forward, built here from torch's forward of every unit vector."""
    rng = np.random.default_rng(size)
    x, g = rng.standard_normal((2, 3, 300)), rng.standard_normal((2, 3, size))
    kw = dict(size=size, mode="nearest-exact")
    jac = torch.nn.functional.interpolate(torch.eye(300, dtype=torch.float64)[:, None],
                                          **kw)[:, 0].numpy()          # (300, size): J^T
    xt = minigrad.tensor(x, requires_grad=True)
    y = minigrad.nn.functional.interpolate(xt, **kw)
    y.backward(minigrad.tensor(g))
    np.testing.assert_array_equal(y.detach().numpy(), x @ jac)
    np.testing.assert_allclose(xt.grad.numpy(), g @ jac.T, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [
    dict(size=(131, 9), mode="bicubic", align_corners=False),
    dict(size=(40, 200), mode="bilinear", align_corners=True),
    dict(size=(30, 25), mode="bilinear", antialias=True),
    dict(size=(250, 80), mode="bicubic", antialias=True),
    dict(scale_factor=(0.3, 2.5), mode="nearest"),
], ids=str)
def test_long_inputs_2d(kw):
    _compare(np.random.default_rng(5).standard_normal((1, 2, 90, 100)), kw)


@pytest.mark.parametrize("layout", ["channels_last", "transposed", "strided"])
@pytest.mark.parametrize("kw", [
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(size=(5, 13), mode="bicubic", align_corners=True),
    dict(scale_factor=2, mode="nearest"),
    dict(size=(5, 13), mode="nearest-exact"),
    dict(size=(4, 3), mode="bilinear", antialias=True),
], ids=str)
def test_non_contiguous_inputs(layout, kw):
    _compare(np.random.default_rng(6).standard_normal((2, 3, 8, 9)), kw, layout)


@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="trilinear", align_corners=True),
                                dict(size=(3, 7, 4), mode="nearest")], ids=str)
def test_non_contiguous_3d(kw):
    _compare(np.random.default_rng(7).standard_normal((1, 2, 4, 5, 6)), kw, "channels_last")


@pytest.mark.parametrize("kw", [
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(size=(63, 139), mode="bicubic", align_corners=True),
    dict(scale_factor=2, mode="nearest"),
    dict(size=(48, 20), mode="nearest"),
    dict(size=(16, 35), mode="bilinear", antialias=True),
], ids=str)
def test_float32_matches_torch(kw):
    """(Factors whose source coordinates are exact in float32, which torch computes them in
    and minigrad in float64.)"""
    x = np.random.default_rng(8).standard_normal((2, 3, 32, 70)).astype(np.float32)
    mine = minigrad.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = minigrad.nn.functional.interpolate(mine, **kw)
    yt = torch.nn.functional.interpolate(theirs, **kw)
    g = np.random.default_rng(9).standard_normal(tuple(yt.shape)).astype(np.float32)
    y.backward(minigrad.tensor(g))
    yt.backward(torch.tensor(g))
    assert y.dtype == minigrad.float32 and mine.grad.dtype == minigrad.float32
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [
    dict(scale_factor=2, mode="bilinear", align_corners=False),
    dict(size=(5, 150), mode="bicubic", align_corners=True),
    dict(size=(11, 150), mode="nearest"),
    dict(size=(11, 45), mode="nearest-exact"),
], ids=str)
def test_inf_and_nan_spread_as_in_torch(kw):
    """A dense matrix would turn the zeros it multiplies with inf into NaN everywhere in a
    window: non-finite inputs and gradients go tap by tap instead.  (antialias is left out:
    its taps past an output's support weigh 0 and still meet an inf, giving NaN where torch
    skips them, as minigrad did before the matrices.)"""
    x = np.random.default_rng(10).standard_normal((1, 2, 6, 80))
    x[0, 0, 2, 7], x[0, 1, 4, 50], x[0, 1, 0, 0] = np.inf, np.nan, -np.inf
    mine = minigrad.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    y = minigrad.nn.functional.interpolate(mine, **kw)
    yt = torch.nn.functional.interpolate(theirs, **kw)
    g = np.random.default_rng(11).standard_normal(tuple(yt.shape))
    g.reshape(-1)[[3, 100, g.size - 1]] = (np.inf, np.nan, -np.inf)
    y.backward(minigrad.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_third_derivative_flows():
    """The backward is the same op of g, to any order: d/dv of (d/dg (grad_x . v)) . w."""
    kw = dict(size=(5, 9), mode="bicubic", align_corners=False)
    x = np.random.default_rng(12).standard_normal((1, 2, 4, 6))
    results = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.interpolate(xt, **kw)
        g = lib.ones(tuple(y.shape), dtype=lib.float64, requires_grad=True)
        v = lib.tensor(np.cos(np.arange(x.size)).reshape(x.shape), requires_grad=True)
        gx, = lib.autograd.grad(y, xt, g, create_graph=True)
        gg, = lib.autograd.grad((gx * v).sum(), g, create_graph=True)
        w = lib.tensor(np.sin(np.arange(gg.numel())).reshape(tuple(gg.shape)))
        gv, = lib.autograd.grad((gg * w).sum(), v)
        results.append(gv.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(size=(9, 14), mode="bilinear", align_corners=False),
                                dict(size=(5, 4), mode="bicubic", align_corners=True),
                                dict(size=(5, 4), mode="bilinear", antialias=True)], ids=str)
def test_uint8_matches_torch_exactly(kw):
    x = np.random.default_rng(13).integers(0, 256, (1, 3, 7, 8), dtype=np.uint8)
    mine = minigrad.nn.functional.interpolate(minigrad.tensor(x), **kw).numpy()
    theirs = torch.nn.functional.interpolate(torch.tensor(x), **kw).numpy()
    assert mine.dtype == np.uint8
    np.testing.assert_array_equal(mine, theirs)


def test_other_inputs_keep_the_composition():
    half = minigrad.ones(1, 1, 3, 3, dtype=minigrad.float16, requires_grad=True)
    y = minigrad.nn.functional.interpolate(half, scale_factor=2, mode="bilinear")
    assert type(y.grad_fn).op_class.__name__ != "SeparableResize"
    empty = minigrad.ones(0, 2, 3, 3, requires_grad=True)
    assert tuple(minigrad.nn.functional.interpolate(empty, scale_factor=2).shape) == (0, 2, 6, 6)
    same = minigrad.ones(1, 1, 3, 3, requires_grad=True)
    out = minigrad.nn.functional.interpolate(same, scale_factor=1)
    assert out is not same and out.grad_fn is not None     # a new tensor, as PyTorch's
