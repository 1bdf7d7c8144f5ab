"""Round 23 of the convolution kernels, beside torch: the zero-free layouts (``_conv_layout``).

* ``rows``: 2-d and 3-d stride-1 convolutions whose output rows fit in x's rows ('same'
  padding and narrower) compute the forward and the input gradient on images of prod(S)
  numbers, no padding zeros; the horizontal copies zero the columns their reads wrap round
  from the next or previous row, and each leading tap is added over the rows it reads
  inside the image (``add_rows``), straight into y, with the bias;
* ``packed``: the weight gradient's layout keeps its zero rows but drops the zero columns;
* small 2-d planes (7x7 on) padded 'same' take the rows layout when a batch of them makes
  products wide enough (``conv_kernels._ROWS_MIN_COLUMNS``), over not too many channels.

Every new branch against torch in float64 (output, input, weight and bias gradients, and
second order through ``create_graph``) on one and two threads, with chunks shrunk so that a
batch goes in several; the kernels called directly on edge geometries (planes 1 or 2 wide,
dilation, even and asymmetric kernels, taps that cover no full row range); float32 on the
ResNet step's layer shapes; and an inf in x staying inside the windows that read it.
"""
import numpy as np
import pytest

import minigrad
from minigrad.ops import _conv_layout, _conv_shift, conv_kernels

from conv_runs import conv_grads

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_layout_predicates_and_extent():
    pad1 = ((1, 1), (1, 1))
    assert _conv_layout.packs((16, 16), pad1, (3, 3), (1, 1))
    assert _conv_layout.rows_fit((16, 16), pad1, (3, 3), (1, 1))
    assert _conv_layout.extent((16, 16), pad1, (3, 3), (1, 1)) == [17, 17]
    assert _conv_layout.extent((16, 16), pad1, (3, 3), (1, 1), packed=True) == [17, 16]
    # 1-d: the padding is already shared with the next image
    assert not _conv_layout.packs((100,), ((1, 1),), (3,), (1,))
    assert not _conv_layout.rows_fit((100,), ((1, 1),), (3,), (1,))
    # valid: no zeros along the last axis to drop, but the rows layout applies
    assert not _conv_layout.packs((16, 16), ((0, 0), (0, 0)), (3, 3), (1, 1))
    assert _conv_layout.rows_fit((16, 16), ((0, 0), (0, 0)), (3, 3), (1, 1))
    # padding past the kernel's reach: output rows longer than x's
    assert not _conv_layout.rows_fit((16, 16), ((2, 2), (2, 2)), (3, 3), (1, 1))
    assert _conv_layout.rows_fit((16, 16), ((2, 2), (2, 2)), (3, 3), (2, 2))


@pytest.fixture
def layouts(monkeypatch):
    """Chunks of a few images (every batch in several), every batch cut over the threads;
    -> the layouts the shifted GEMMs took ("rows" for the forward and input gradient,
    "packed" / "padded" for the weight gradient's copies)."""
    monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", 120000)
    monkeypatch.setattr(conv_kernels, "_SPLIT_MIN_MACS", 0)
    seen = []
    real_rows, real_planes = _conv_shift._shift_conv_rows, _conv_shift.shift_planes

    def rows(*args, **kwargs):
        seen.append("rows")
        return real_rows(*args, **kwargs)

    def planes(*args, **kwargs):
        seen.append("packed" if kwargs.get("packed") else "padded")
        return real_planes(*args, **kwargs)
    monkeypatch.setattr(_conv_shift, "_shift_conv_rows", rows)
    monkeypatch.setattr(_conv_shift, "shift_planes", planes)
    return seen


# op, x shape, w shape, kwargs, the layouts expected among those taken
CASES = [
    ("conv2d", (5, 16, 12, 13), (12, 16, 3, 3), dict(padding=1), {"rows", "packed"}),
    ("conv2d", (3, 16, 13, 16), (20, 16, 3, 3), dict(padding=(0, 1)), {"rows", "packed"}),
    ("conv2d", (3, 16, 14, 16), (20, 16, 3, 3), dict(padding=(1, 1), dilation=(1, 2)),
     {"rows", "packed"}),                             # output rows shorter than x's
    ("conv2d", (3, 16, 13, 14), (12, 16, 3, 3), dict(padding=2, dilation=2),
     {"rows", "packed"}),
    ("conv2d", (3, 16, 12, 12), (12, 16, 4, 4), dict(padding="same"), {"rows", "packed"}),
    # kernel 2 x 3, padding 1: L = H + 1 rows, no tap covers them all (y zeroed first)
    ("conv2d", (3, 16, 12, 13), (12, 16, 2, 3), dict(padding=1), {"rows", "packed"}),
    ("conv2d", (4, 16, 12, 12), (16, 8, 3, 3), dict(padding=1, groups=2), {"rows", "packed"}),
    # stride 2: the input gradient's phases, written into gx at the stride, keep the
    # padded layout and its accumulator
    ("conv2d", (3, 16, 24, 26), (32, 16, 3, 3), dict(padding=1, stride=2), {"padded"}),
    ("conv3d", (3, 16, 6, 7, 8), (8, 16, 3, 3, 3), dict(padding=1), {"rows", "packed"}),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op, xs, ws, kw, expect", CASES)
def test_layouts_match_torch(layouts, op, xs, ws, kw, expect, threads):
    rng = np.random.default_rng(23)
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = conv_grads(minigrad, op, arrays, kw)
    finally:
        minigrad.set_num_threads(before)
    theirs = conv_grads(torch, op, arrays, kw)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        assert a.shape == t.shape and a.dtype == t.dtype, name
        scale = max(1.0, float(np.abs(t).max()))
        np.testing.assert_allclose(a / scale, t / scale, rtol=1e-9, atol=1e-9, err_msg=name)
    assert expect <= set(layouts), layouts
    if "rows" not in expect:
        assert "rows" not in layouts


def _padded_torch(x, w, pads, dilation):
    """torch's convolution of x zero-padded by ``pads`` ((left, right) per axis), and its
    gradients under a fixed upstream gradient."""
    tx, tw = (torch.tensor(a, requires_grad=True) for a in (x, w))
    flat = [v for lr in reversed(pads) for v in lr]
    conv = F.conv2d if x.ndim == 4 else F.conv3d
    y = conv(F.pad(tx, flat), tw, dilation=dilation)
    g = np.sin(np.arange(y.numel())).reshape(tuple(y.shape))
    y.backward(torch.tensor(g))
    return y.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), g


# x shape, w shape, padding per axis, dilation: the kernels called directly
EDGES = [
    ((2, 5, 6, 1), (4, 5, 3, 3), ((1, 1), (1, 1)), (1, 1)),        # one column: both wrap
    ((2, 5, 6, 2), (4, 5, 3, 3), ((1, 1), (1, 1)), (1, 1)),
    ((2, 5, 7, 3), (4, 5, 3, 5), ((1, 1), (2, 2)), (1, 1)),        # reads 2 past both ends
    ((2, 5, 7, 9), (4, 5, 3, 5), ((1, 1), (0, 4)), (1, 1)),        # all the padding right
    ((2, 5, 7, 9), (4, 5, 3, 4), ((2, 1), (3, 0)), (1, 1)),        # all the padding left
    ((2, 5, 7, 9), (4, 5, 3, 3), ((0, 0), (2, 2)), (1, 2)),
    ((3, 5, 4, 9), (4, 5, 5, 3), ((2, 2), (1, 1)), (1, 1)),        # taps past whole images
    ((2, 5, 3, 4, 5), (4, 5, 3, 3, 3), ((1, 1), (1, 1), (1, 1)), (1, 1, 1)),
]


@pytest.mark.parametrize("xs, ws, pads, dilation", EDGES)
def test_kernels_on_edge_geometries(xs, ws, pads, dilation):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y_t, gx_t, gw_t, g = _padded_torch(x, w, pads, dilation)
    out_size, kernel = y_t.shape[2:], ws[2:]
    assert _conv_layout.rows_fit(xs[2:], pads, kernel, dilation)
    y = _conv_shift.shift_conv(x, w, pads, dilation, out_size, bias=b)
    np.testing.assert_allclose(y, y_t + b.reshape((-1,) + (1,) * len(kernel)), rtol=1e-10,
                               atol=1e-10)
    y = _conv_shift.shift_conv(x, w, pads, dilation, out_size)             # no bias
    np.testing.assert_allclose(y, y_t, rtol=1e-10, atol=1e-10)
    gw = _conv_shift.shift_weight_grad(x, g, pads, dilation, kernel)
    np.testing.assert_allclose(gw, gw_t, rtol=1e-10, atol=1e-10)
    geom = conv_kernels.Geometry(tuple(kernel), (1,) * len(kernel), pads, dilation, 1,
                                 xs[2:], out_size)
    adj = _conv_shift.adjoint_pads(geom)
    if adj is not None:
        gx = _conv_shift.shift_conv(g, _conv_shift.flipped(w), adj, dilation, xs[2:])
        np.testing.assert_allclose(gx, gx_t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("xs, ws", [((2, 64, 32, 32), (64, 64, 3, 3)),
                                    ((2, 128, 16, 16), (128, 128, 3, 3)),
                                    ((2, 32, 64, 64), (32, 32, 3, 3))])
def test_resnet_layers_float32(xs, ws):
    """The ResNet step's stride-1 layers (two images) in float32, as a step runs them."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs).astype(np.float32)
    w = (rng.standard_normal(ws) / np.sqrt(ws[1] * 9)).astype(np.float32)
    assert conv_kernels.path(conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1),
                                                   1, xs[2:], xs[2:]), xs[1]) == "shift"
    out = []
    for lib in (minigrad, torch):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(tx, tw, padding=1)
        g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(np.float32))
        y.backward(g)
        out.append([a.detach().numpy() for a in (y, tx.grad, tw.grad)])
    for name, a, t in zip(("y", "gx", "gw"), *out):
        assert a.dtype == np.float32, name
        scale = float(np.abs(t).max())
        np.testing.assert_allclose(a / scale, t / scale, rtol=0, atol=2e-5, err_msg=name)


def test_inf_stays_in_its_windows():
    """An inf in x reaches only the outputs whose windows read it: the columns that the
    rows layout's copies read round from the next row are zeros, not that row's cells."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 16, 12, 12))
    x[0, 3, 4, 11] = np.inf                 # a row's last column: copy 0 reads it one row on
    x[1, 5, 7, 0] = -np.inf                 # a row's first: copy 2 reads it one row back
    w = rng.standard_normal((16, 16, 3, 3))
    assert conv_kernels.path(conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1,
                                                   (12, 12), (12, 12)), 16) == "shift"
    mine = minigrad.nn.functional.conv2d(minigrad.tensor(x), minigrad.tensor(w),
                                         padding=1).numpy()
    theirs = F.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isfinite(mine), np.isfinite(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(mine[finite], theirs[finite], rtol=1e-10, atol=1e-10)


def test_inf_in_w_meets_the_padding_as_in_torch():
    """An inf in w times the padding's zeros makes NaNs in torch: the rows layout, which
    reads no padding rows, leaves such a w to the padded layout."""
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal((2, 16, 12, 12)), rng.standard_normal((16, 16, 3, 3))
    w[2, 1, 0, 2] = np.inf
    mine = minigrad.nn.functional.conv2d(minigrad.tensor(x), minigrad.tensor(w),
                                         padding=1).numpy()
    theirs = F.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_array_equal(np.isinf(mine), np.isinf(theirs))


def test_small_planes_choose_rows_by_batch():
    geom = conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1, (7, 7), (7, 7))
    assert conv_kernels.path(geom, 32) == "im2col"              # the batch not known
    assert conv_kernels.path(geom, 32, 16) == "shift"           # 16 x 49 outputs
    assert conv_kernels.path(geom, 32, 15) == "im2col"
    assert conv_kernels.path(geom, 512, 64) == "im2col"         # too many channels
    small = geom._replace(in_size=(4, 4), out_size=(4, 4))
    assert conv_kernels.path(small, 32, 64) == "im2col"         # planes under 7x7
    valid = geom._replace(padding=((0, 0), (0, 0)), in_size=(9, 9))
    assert conv_kernels.path(valid, 32, 64) == "im2col"         # nothing padded to drop


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws", [((16, 8, 7, 7), (12, 8, 3, 3)),
                                    ((12, 16, 8, 9), (8, 16, 3, 3))])
def test_small_planes_match_torch(layouts, xs, ws, threads):
    """Small planes in the rows layout (on two threads each half of the batch decides for
    itself: im2col's columns then, not the rows layout)."""
    rng = np.random.default_rng(31)
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = conv_grads(minigrad, "conv2d", arrays, dict(padding=1))
    finally:
        minigrad.set_num_threads(before)
    theirs = conv_grads(torch, "conv2d", arrays, dict(padding=1))
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        scale = max(1.0, float(np.abs(t).max()))
        np.testing.assert_allclose(a / scale, t / scale, rtol=1e-9, atol=1e-9, err_msg=name)
    if threads == 1:
        assert {"rows", "packed"} <= set(layouts), layouts
