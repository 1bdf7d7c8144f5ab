"""Round 18 of the convolution kernels, beside torch:

* the shifted GEMMs for few output channels (``_conv_shift._shift_conv_thin``: every tap on
  the products' side, one copy of the padded images): forwards to a few channels, input
  gradients down to a few channels (a stem's, a transposed convolution's), in 1-d, 2-d and
  3-d, with dilation, uneven 'same' padding, groups, batch 1, an empty batch, unbatched and
  non-contiguous inputs, images in several chunks, one and two threads: the output, every
  gradient and the second derivatives (``create_graph``) in float64, float32 within rounding;
* 3-d convolutions with few channels per group take the shifted GEMMs where these compute
  up to 2x the outputs (``conv_kernels._shift_fits``), and give torch's numbers there too;
* the weight gradient's products read the spread gradient as a row-major (L, O) matrix
  (covered by every shifted case above).
"""
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.ops import _conv_shift, conv_kernels

torch = pytest.importorskip("torch")


@pytest.fixture
def thin_calls(monkeypatch):
    """Counts the calls of the few-output-channel shifted GEMMs."""
    calls = []
    real = _conv_shift._shift_conv_thin

    def counted(x, w, *args, **kwargs):
        calls.append((x.shape, w.shape))
        return real(x, w, *args, **kwargs)
    monkeypatch.setattr(_conv_shift, "_shift_conv_thin", counted)
    return calls


def _input(rng, xs, layout, dtype):
    if layout == "strided":                    # every other column of a wider array
        return rng.standard_normal(xs[:-1] + (2 * xs[-1],)).astype(dtype)[..., ::2]
    return rng.standard_normal(xs).astype(dtype)


def _run(lib, op, arrays, kw, layout, second=True):
    """y, its gradients in (x, w, b) under a fixed upstream gradient (with create_graph),
    and the gradients in (x, w) of a scalar made of them (second order)."""
    conv = getattr(lib.nn.functional, op)
    x, w, b = (lib.tensor(np.ascontiguousarray(a), requires_grad=True) for a in arrays)
    xin = x
    if layout == "strided":
        # the same numbers as a non-contiguous view: x doubled along the last axis, every
        # other column taken
        xin = lib.stack([x, x * 0], dim=-1).flatten(-2)[..., ::2]
    elif layout == "unbatched":
        xin = x[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # padding='same' on an even kernel
        y = conv(xin, w, b, **kw)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)).astype(arrays[0].dtype))
    grads = lib.autograd.grad(y, (x, w, b), g, create_graph=second)
    out = [y] + list(grads)
    if second:
        out += list(lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum()
                                      + (y ** 2).sum(), (x, w)))
    return [a.detach().numpy() for a in out]


def _compare(op, xs, ws, kw, layout="plain", dtype=np.float64, threads=1, seed=18):
    rng = np.random.default_rng(seed)
    x = _input(rng, xs, layout, dtype)
    bias = ws[1] * kw.get("groups", 1) if op.startswith("conv_transpose") else ws[0]
    arrays = (x, rng.standard_normal(ws).astype(dtype),
              rng.standard_normal(bias).astype(dtype))
    second = dtype == np.float64
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _run(minigrad, op, arrays, kw, layout, second)
    finally:
        minigrad.set_num_threads(before)
    theirs = _run(torch, op, arrays, kw, layout, second)
    tol = dict(rtol=1e-9, atol=1e-9) if second else dict(rtol=2e-4, atol=2e-4)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        assert a.shape == t.shape, name
        assert a.dtype == t.dtype, name
        scale = max(1.0, float(np.abs(t).max())) if t.size else 1.0
        np.testing.assert_allclose(a / scale, t / scale, err_msg=name, **tol)


# op, x shape, w shape, kwargs, layout: each reaches the few-output-channel shifted GEMMs
# in its forward or its input gradient (or both)
THIN = [
    ("conv1d", (2, 3, 300), (16, 3, 7), dict(padding=3), "plain"),          # gx to 3 channels
    ("conv1d", (2, 16, 300), (3, 16, 7), dict(padding=3), "plain"),         # y to 3 channels
    ("conv1d", (2, 3, 301), (16, 3, 7), dict(padding=6, dilation=2), "plain"),
    ("conv1d", (1, 3, 300), (16, 3, 5), dict(padding=2), "plain"),          # batch 1
    ("conv1d", (1, 3, 300), (16, 3, 5), dict(padding=2), "unbatched"),
    ("conv1d", (2, 3, 300), (16, 3, 7), dict(padding=3), "strided"),
    ("conv1d", (2, 16, 300), (3, 16, 4), dict(padding="same"), "plain"),    # pads (1, 2)
    ("conv1d", (2, 3, 300), (16, 3, 7), dict(padding="valid"), "plain"),
    ("conv2d", (2, 3, 20, 21), (32, 3, 3, 3), dict(padding=1), "plain"),      # a stem's gx
    ("conv2d", (2, 3, 19, 20), (32, 3, 3, 3), dict(padding=(1, 2), dilation=(1, 2)),
     "plain"),
    ("conv2d", (3, 40, 15, 17), (2, 40, 4, 4), dict(padding="same"), "plain"),
    ("conv2d", (2, 4, 20, 20), (64, 2, 3, 3), dict(padding=1, groups=2), "plain"),
    ("conv2d", (2, 3, 20, 21), (32, 3, 3, 3), dict(padding=1), "strided"),
    ("conv3d", (2, 2, 8, 9, 10), (40, 2, 3, 3, 3), dict(padding=1), "plain"),
    ("conv_transpose1d", (2, 16, 300), (16, 3, 7), dict(padding=3), "plain"),
    ("conv_transpose2d", (2, 32, 20, 21), (32, 3, 3, 3), dict(padding=1), "plain"),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op, xs, ws, kw, layout", THIN)
def test_few_output_channels_match_torch(thin_calls, op, xs, ws, kw, layout, threads):
    _compare(op, xs, ws, kw, layout, threads=threads)
    assert thin_calls, "the few-output-channel shifted GEMMs were not used"


@pytest.mark.parametrize("op, xs, ws, kw, layout", THIN[:2] + THIN[8:9] + THIN[13:14])
def test_few_output_channels_float32(thin_calls, op, xs, ws, kw, layout):
    _compare(op, xs, ws, kw, layout, dtype=np.float32)
    assert thin_calls


def test_few_output_channels_in_chunks_of_one_image(thin_calls, monkeypatch):
    """Images taken one per chunk (as large ones are): each chunk's answer lands in its
    own images."""
    monkeypatch.setattr(_conv_shift, "IMAGE_CHUNK_BYTES", 1)
    _compare("conv2d", (3, 3, 20, 21), (32, 3, 3, 3), dict(padding=1), "plain")
    assert thin_calls


def test_few_output_channels_bias_and_nan(thin_calls):
    """The forward's bias lands on every position, and an inf in x stays where windows read
    it (torch's NaN/inf pattern): cells read round from the next row feed only cropped
    outputs."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 16, 200))
    x[1, 3, 50] = np.inf
    w, b = rng.standard_normal((3, 16, 5)), rng.standard_normal(3)
    mine = minigrad.nn.functional.conv1d(minigrad.tensor(x), minigrad.tensor(w),
                                         minigrad.tensor(b), padding=2).numpy()
    theirs = torch.nn.functional.conv1d(torch.tensor(x), torch.tensor(w), torch.tensor(b),
                                        padding=2).numpy()
    assert thin_calls
    np.testing.assert_array_equal(np.isfinite(mine), np.isfinite(theirs))
    ok = np.isfinite(theirs)
    np.testing.assert_allclose(mine[ok], theirs[ok], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("op, xs, ws", [("conv1d", (0, 3, 300), (16, 3, 7)),
                                        ("conv_transpose1d", (0, 16, 300), (16, 3, 7))])
def test_few_output_channels_empty_batch(op, xs, ws):
    out = []
    for lib in (minigrad, torch):
        x = lib.tensor(np.zeros(xs), requires_grad=True)
        w = lib.tensor(np.ones(ws), requires_grad=True)
        y = getattr(lib.nn.functional, op)(x, w, padding=3)
        y.sum().backward()
        out.append((tuple(y.shape), tuple(x.grad.shape), w.grad.numpy()))
    assert out[0][:2] == out[1][:2]
    np.testing.assert_array_equal(out[0][2], out[1][2])


# ----------------------------------------------------------------------------------------------
# 3-d: few channels per group take the shifted GEMMs at up to 2x the outputs
# ----------------------------------------------------------------------------------------------
CUBES = [
    ((2, 16, 5, 6, 6), (16, 16, 3, 3, 3), dict(padding=1)),                # 1.63x computed
    ((2, 16, 8, 8, 8), (16, 16, 3, 3, 3), dict(padding=2, dilation=2)),    # 1.95x computed
    ((2, 32, 8, 8, 8), (32, 16, 3, 3, 3), dict(padding=2, dilation=2, groups=2)),
    ((2, 16, 5, 6, 7), (16, 16, 3, 3, 3), dict(padding=1)),                # odd cube
]


def _geometry(xs, ws, kw):
    nd = len(ws) - 2
    p, d = kw.get("padding", 0), kw.get("dilation", 1)
    out = tuple(n + 2 * p - d * (k - 1) for n, k in zip(xs[2:], ws[2:]))
    return conv_kernels.Geometry(tuple(ws[2:]), (1,) * nd, ((p, p),) * nd, (d,) * nd,
                                 kw.get("groups", 1), tuple(xs[2:]), out)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("xs, ws, kw", CUBES)
def test_small_cubes_take_shifted_gemms(xs, ws, kw, threads):
    geom = _geometry(xs, ws, kw)
    assert conv_kernels.path(geom, xs[1]) == "shift"
    assert conv_kernels.path(geom, ws[0]) == "shift"              # (the input gradient's)
    _compare("conv3d", xs, ws, kw, threads=threads)


def test_small_cubes_float32():
    _compare("conv3d", *CUBES[1], dtype=np.float32)


@pytest.mark.parametrize("channels", [32, 64])
def test_small_cubes_with_more_channels_stay_on_im2col(channels):
    """32 or 64 channels on 8x8x8 cubes with dilation 2: the products outweigh the copies,
    and the shifted GEMMs would compute 1.95x the outputs (1.63x on 5x6x6 cubes: they do
    take those with 32 channels, not with 64)."""
    kw = dict(padding=2, dilation=2)
    geom = _geometry((2, channels, 8, 8, 8), (channels, channels, 3, 3, 3), kw)
    assert conv_kernels.path(geom, channels) == "im2col"
    wider = _geometry((2, channels, 5, 6, 6), (channels, channels, 3, 3, 3), dict(padding=1))
    assert conv_kernels.path(wider, channels) == ("shift" if channels == 32 else "im2col")
    _compare("conv3d", (2, channels, 8, 8, 8), (8, channels, 3, 3, 3), kw)


# ----------------------------------------------------------------------------------------------
# The sweep script runs, checks a case against torch first, and reports it
# ----------------------------------------------------------------------------------------------
def test_conv_sweep_script_runs_one_case():
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "conv_sweep.py"
    out = subprocess.run([sys.executable, str(script), "--only", "conv2d 1x64x7x7 -> 64 k3",
                          "--budget", "0.05", "--worst", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("conv2d 1x64x7x7 -> 64 k3")]
    assert len(lines) == 2                          # its row, and again among the worst
    assert float(lines[0].split()[-1]) >= 0          # a ratio
