"""Round 17 of the convolution kernels, beside torch:

* im2col matrices (and their products) whose rows are a multiple of 4 KB long get their
  rows laid a little further apart (``_workspace.padded_rows``): forward, both gradients
  and the second derivative through those strided views, in float64 (and float32 on the
  thin-product path), on one and two threads, with the argument forms that reach them;
* a convolution of an input with no channels: PyTorch's empty (N, 0, *L) result in the
  promoted dtype, and zero gradients.
"""
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.ops import conv_kernels
from minigrad.ops._workspace import ROW_ALIGN

torch = pytest.importorskip("torch")


def _pairs(v, nd):
    return (v,) * nd if isinstance(v, int) else tuple(v)


def _geometry(xs, ws, kw):
    """The Geometry minigrad builds for a batched x of shape xs (int padding only)."""
    nd = len(ws) - 2
    s, d = _pairs(kw.get("stride", 1), nd), _pairs(kw.get("dilation", 1), nd)
    p = kw.get("padding", 0)
    if p == "valid":
        p = 0
    if p == "same":
        p = tuple((dd * (k - 1)) // 2 for dd, k in zip(d, ws[2:]))
    p = _pairs(p, nd)
    out = tuple((n + 2 * q - dd * (k - 1) - 1) // ss + 1
                for n, q, dd, k, ss in zip(xs[-nd:], p, d, ws[2:], s))
    return conv_kernels.Geometry(tuple(ws[2:]), s, tuple((q, q) for q in p), d,
                                 kw.get("groups", 1), tuple(xs[-nd:]), out)


# x shape, w shape, kwargs, layout of x: every one takes im2col with N * prod(L) numbers a
# multiple of 512 (4 KB rows in float64)
PADDED = [
    ((2, 4, 32, 32), (6, 4, 3, 3), dict(stride=2, padding=1), "plain"),   # the ResNet shape
    ((2, 4, 32, 32), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2), "plain"),
    ((2, 3, 33, 33), (4, 3, 3, 3), dict(stride=2, padding=1, dilation=2), "plain"),
    ((2, 3, 1024), (4, 3, 3), dict(stride=2, padding=1), "plain"),             # 1-d
    ((2, 3, 34, 34), (5, 3, 3, 3), dict(padding="valid"), "plain"),            # shallow
    ((1, 3, 32, 32), (5, 3, 3, 3), dict(padding="same"), "plain"),
    ((2, 4, 32, 32), (6, 4, 3, 3), dict(stride=2, padding=1), "channels_last"),
    ((2, 4, 32, 32), (6, 4, 3, 3), dict(stride=2, padding=1), "strided"),
    ((4, 64, 32), (6, 4, 3, 3), dict(stride=2, padding=1), "unbatched"),
    ((2, 2, 8, 16, 16), (3, 2, 3, 3, 3), dict(stride=2, padding=1), "plain"),  # 3-d: 512
    # thin products on planes of 2304 outputs: the weight gradient image by image
    ((2, 3, 48, 48), (8, 3, 3, 3), dict(padding=1), "plain"),
    ((2, 4, 96, 96), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2), "plain"),
    ((2, 4, 96, 96), (6, 2, 3, 3), dict(stride=2, padding=1, groups=2), "g_strided"),
    ((2, 3, 4610), (5, 3, 3), dict(padding=1, stride=2, dilation=2), "g_strided"),
]


def _input(rng, xs, layout):
    if layout == "strided":                    # every other column of a wider array
        return rng.standard_normal(xs[:-1] + (2 * xs[-1],))[..., ::2]
    x = rng.standard_normal(xs)
    return x


def _run(lib, arrays, nd, kw, layout):
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    x, w, b = (lib.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays)
    xin = x
    if layout == "channels_last":
        xin = x.contiguous(memory_format=lib.channels_last)
    elif layout == "strided":
        # the same numbers as a non-contiguous view: x doubled along the last axis, every
        # other column taken
        wide = lib.stack([x, x * 0], dim=-1).flatten(-2)
        xin = wide[..., ::2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # padding='same' on an even kernel
        y = conv(xin, w, b, **kw)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    if layout == "g_strided":       # the same numbers, the last two axes' strides swapped
        g = g.transpose(0, -1).contiguous().transpose(0, -1)
    grads = lib.autograd.grad(y, (x, w, b), g, create_graph=True)
    second = lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum() + (y ** 2).sum(),
                               (x, w))
    return [a.detach().numpy() for a in (y,) + tuple(grads) + tuple(second)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws, kw, layout", PADDED)
def test_padded_rows_im2col_matches_torch(xs, ws, kw, layout, threads):
    nd = len(ws) - 2
    batched = xs if layout != "unbatched" else (1,) + xs
    geom = _geometry(batched, ws, kw)
    assert conv_kernels.path(geom, ws[1] * kw.get("groups", 1)) == "im2col"
    assert not conv_kernels.batch_last(batched[0], batched[1], geom, 8)
    assert batched[0] * int(np.prod(geom.out_size)) * 8 % ROW_ALIGN == 0   # rows padded
    rng = np.random.default_rng(17)
    x = _input(rng, xs, layout)
    arrays = (x, rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _run(minigrad, arrays, nd, kw, layout)
    finally:
        minigrad.set_num_threads(before)
    theirs = _run(torch, arrays, nd, kw, layout)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        assert a.shape == t.shape, name
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9, err_msg=name)


def test_padded_columns_are_a_strided_view():
    """The columns handed to the weight gradient are the padded view itself (no copy made
    of them on the way), and the answer is still torch's."""
    from minigrad.ops import _conv_im2col
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 32, 32))
    geom = _geometry(x.shape, (6, 4, 3, 3), dict(stride=2, padding=1))
    cols = _conv_im2col.im2col(x, geom)
    assert cols.shape == (1, 36, 512)
    assert cols.strides[1] > cols.shape[2] * cols.itemsize        # rows spread apart
    t = torch.nn.functional.unfold(torch.tensor(x), 3, padding=1, stride=2)   # (N, 36, 256)
    np.testing.assert_array_equal(cols[0].reshape(36, 2, 256).swapaxes(0, 1), t.numpy())


@pytest.mark.parametrize("threads", [1, 2])
def test_thin_product_on_padded_rows_float32(threads):
    """A stem-like layer (3 channels, 32 outputs: the thin-product path in blocks) on
    8 KB rows, float32, against torch."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 3, 3, 3)).astype(np.float32)
    g = rng.standard_normal((2, 32, 32, 32)).astype(np.float32)
    out = []
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        for lib in (minigrad, torch):
            xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
            y = lib.nn.functional.conv2d(xt, wt, padding=1)
            y.backward(lib.tensor(g))
            out.append([y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()])
    finally:
        minigrad.set_num_threads(before)
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-4)


def test_empty_batch_on_the_padded_path():
    w = np.ones((6, 4, 3, 3))
    for lib in (minigrad, torch):
        x = lib.tensor(np.zeros((0, 4, 32, 32)), requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(x, wt, stride=2, padding=1)
        y.sum().backward()
        assert tuple(y.shape) == (0, 6, 16, 16)
        assert tuple(x.grad.shape) == (0, 4, 32, 32)
        np.testing.assert_array_equal(wt.grad.numpy(), np.zeros(w.shape))


# ----------------------------------------------------------------------------------------------
# No input channels
# ----------------------------------------------------------------------------------------------
NO_CHANNELS = [
    # op, x shape, x dtype, w shape, w dtype, bias dtype or None, kwargs
    ("conv2d", (2, 0, 7, 9), "float32", (3, 0, 3, 2), "float32", "float32", {}),
    ("conv2d", (2, 0, 7, 9), "float32", (3, 0, 3, 2), "float32", None,
     dict(stride=(2, 1), padding=1, dilation=2)),
    ("conv2d", (2, 0, 7, 9), "float64", (3, 0, 3, 2), "float32", None, {}),
    ("conv2d", (2, 0, 7, 9), "float32", (3, 0, 3, 2), "float64", None, {}),
    ("conv2d", (2, 0, 7, 9), "int64", (3, 0, 3, 2), "float32", None, {}),
    ("conv2d", (2, 0, 7, 9), "bool", (3, 0, 3, 2), "float32", None, {}),
    ("conv2d", (2, 0, 7, 9), "int32", (3, 0, 3, 2), "int8", None, {}),
    ("conv2d", (2, 0, 7, 9), "float32", (3, 0, 3, 2), "float32", "float64",
     dict(padding="same")),
    ("conv2d", (2, 0, 7, 9), "float32", (4, 0, 3, 2), "float32", "float32", dict(groups=2)),
    ("conv2d", (0, 0, 7, 9), "float32", (3, 0, 3, 2), "float64", None, {}),
    ("conv2d", (0, 7, 9), "float32", (3, 0, 3, 2), "float32", "float32", {}),   # unbatched
    ("conv2d", (2, 0, 7, 9), "complex64", (3, 0, 3, 2), "complex64", None, {}),
    ("conv2d", (2, 0, 7, 9), "float16", (3, 0, 3, 2), "float16", None, {}),
    ("conv1d", (2, 0, 7), "float64", (3, 0, 3), "float64", "float64", dict(stride=2)),
    ("conv3d", (2, 0, 7, 5, 5), "float32", (3, 0, 3, 2, 2), "float32", "float32",
     dict(padding=1)),
]


def _zero_channels(lib, op, xs, xd, ws, wd, bd, kw):
    def make(shape, dtype):
        t = lib.zeros(shape, dtype=getattr(lib, dtype))
        if t.is_floating_point() or t.is_complex():
            t.requires_grad_(True)
        return t
    x, w = make(xs, xd), make(ws, wd)
    b = None if bd is None else make((ws[0],), bd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = getattr(lib.nn.functional, op)(x, w, b, **kw)
    except Exception as e:                      # noqa: BLE001 -- compared with torch's
        return type(e).__name__, str(e)
    out = [tuple(y.shape), str(y.dtype).split(".")[-1], tuple(y.stride())]
    leaves = [t for t in (x, w, b) if t is not None and t.requires_grad]
    if y.requires_grad and leaves:
        grads = lib.autograd.grad(y.sum().abs() if y.is_complex() else y.sum(), leaves,
                                  allow_unused=True)
        out.append([None if g is None else (tuple(g.shape), g.numpy().tolist()
                                            if g.numel() else None) for g in grads])
    return out


@pytest.mark.parametrize("case", NO_CHANNELS, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}-{c[4]}")
def test_no_input_channels_matches_torch(case):
    op, xs, xd, ws, wd, bd, kw = case
    assert _zero_channels(minigrad, *case) == _zero_channels(torch, *case)


def test_no_input_channels_errors_match_torch():
    """What torch still refuses with no channels: a bias of another dtype (with int
    padding), a kernel larger than the padded input, a weight expecting channels."""
    cases = [
        ("conv2d", (2, 0, 7, 9), "float32", (3, 0, 3, 2), "float32", "float64", {}),
        ("conv2d", (2, 0, 2, 2), "float32", (3, 0, 3, 3), "float32", None, {}),
        ("conv2d", (2, 0, 7, 9), "float32", (3, 1, 3, 2), "float32", None, {}),
    ]
    for case in cases:
        mine, theirs = _zero_channels(minigrad, *case), _zero_channels(torch, *case)
        assert isinstance(theirs, tuple) and mine == theirs


def test_no_input_channels_second_derivative():
    """The bias's gradient is zeros (O,), and differentiating it again gives zeros too."""
    for lib in (minigrad, torch):
        x = lib.zeros((2, 0, 7, 9), requires_grad=True)
        w = lib.zeros((3, 0, 3, 2), requires_grad=True)
        b = lib.ones(3, requires_grad=True)
        y = lib.nn.functional.conv2d(x, w, b)
        gx, gw, gb = lib.autograd.grad(y.sum(), (x, w, b), create_graph=True)
        np.testing.assert_array_equal(gb.detach().numpy(), np.zeros(3))
        assert tuple(gx.shape) == (2, 0, 7, 9) and tuple(gw.shape) == (3, 0, 3, 2)
        if gb.requires_grad:
            (ggb,) = lib.autograd.grad(gb.sum(), (b,), allow_unused=True)
            assert ggb is None or not ggb.detach().numpy().any()


# ----------------------------------------------------------------------------------------------
# Shifted GEMMs over runs of flat positions (an image whose copies pass CHUNK_BYTES)
# ----------------------------------------------------------------------------------------------
COLUMN_RUNS = [
    # x shape, w shape, kwargs, layout of x
    ((2, 5, 40, 40), (4, 5, 7, 7), dict(padding=3), "plain"),
    ((1, 6, 30, 44), (4, 6, 5, 6), dict(padding="same", dilation=(2, 1)), "plain"),
    ((2, 4, 30, 30), (6, 2, 5, 5), dict(padding=(2, 1), groups=2), "plain"),
    ((2, 5, 40, 40), (4, 5, 7, 7), dict(padding=3), "channels_last"),
    ((2, 5, 40, 40), (4, 5, 7, 7), dict(padding=3), "strided"),
    ((5, 40, 40), (4, 5, 7, 7), dict(padding=3), "unbatched"),
    ((2, 4, 600), (5, 4, 9), dict(padding=4), "plain"),                         # 1-d
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws, kw, layout", COLUMN_RUNS)
def test_shift_conv_in_column_runs_matches_torch(xs, ws, kw, layout, threads, monkeypatch):
    """Small scratch limits send these small shapes down the path a 15x15 kernel on 256x256
    planes takes: forward and input gradient by runs of positions (several runs each), the
    weight gradient by groups of taps; values, gradients and second derivatives vs torch."""
    from minigrad.ops import _conv_shift
    monkeypatch.setattr(_conv_shift, "CHUNK_BYTES", 16 << 10)
    monkeypatch.setattr(_conv_shift, "IMAGE_CHUNK_BYTES", 16 << 10)
    runs = []
    real = _conv_shift.shift_conv_columns

    def counted(x, w_all, pads, *args):
        runs.append(x.shape)
        return real(x, w_all, pads, *args)
    monkeypatch.setattr(_conv_shift, "shift_conv_columns", counted)
    nd = len(ws) - 2
    batched = xs if layout != "unbatched" else (1,) + xs
    geom = _geometry(batched, ws, kw)
    G = kw.get("groups", 1)
    assert conv_kernels.path(geom, batched[1]) == "shift"
    ext = _conv_shift.extent(batched[2:], geom.padding, geom.kernel, geom.dilation)
    _, taps_cut, lead_cut = _conv_shift.plan(batched[0], batched[1] // G, ws[0] // G,
                                             geom.kernel, ext, 8)
    assert len(taps_cut) > 1 or len(lead_cut) > 1                    # the run path
    assert _conv_shift.bands(batched[1] // G, ws[0] // G, batched[2:], geom.padding,
                             geom.kernel, geom.dilation, geom.out_size, 8) is None
    rng = np.random.default_rng(7)
    arrays = (_input(rng, xs, layout), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _run(minigrad, arrays, nd, kw, layout)
    finally:
        minigrad.set_num_threads(before)
    theirs = _run(torch, arrays, nd, kw, layout)
    assert runs                                  # the forward (at least) took the runs
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        assert a.shape == t.shape, name
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9, err_msg=name)


def test_shift_conv_columns_against_the_definition():
    """``shift_conv`` by runs of positions, float32 and a bias, against conv_reference
    (float64): the big-kernel benchmark's geometry at a quarter of the size."""
    from minigrad.ops import _conv_shift
    from minigrad.ops.conv import conv_reference
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1, 8, 64, 64)).astype(np.float32)
    w = rng.standard_normal((8, 8, 15, 15)).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    pads = ((7, 7), (7, 7))
    ext = _conv_shift.extent((64, 64), pads, (15, 15), (1, 1))
    old = _conv_shift.CHUNK_BYTES
    _conv_shift.CHUNK_BYTES = 1 << 20
    try:
        assert len(_conv_shift.plan(1, 8, 8, (15, 15), ext, 4)[1]) > 1
        y = _conv_shift.shift_conv(x, w, pads, (1, 1), (64, 64), b)
    finally:
        _conv_shift.CHUNK_BYTES = old
    ref = conv_reference(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64),
                         padding=7)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=2e-4)
