"""Strided convolutions' input gradients (and transposed convolutions) computed phase by
phase, as stride-1 shifted-GEMM pieces (minigrad/ops/_conv_phases.py), against PyTorch:
forward, every gradient and second derivatives, float64 and float32, 1-d to 3-d, phases that
read no pixel, pixels that no tap reads, and the dispatch that chooses the split."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad
import minigrad.nn.functional as F
from minigrad.ops import _conv_phases, conv_kernels
from minigrad.ops.conv_kernels import Geometry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_conv import _compare, _force_fast_paths  # noqa: E402

torch.set_num_threads(1)

CASES = [
    # nd, x shape, w shape, kwargs (conv); the phases of x each padded differently
    (2, (2, 3, 8, 8), (4, 3, 3, 3), dict(stride=2, padding=1)),      # ResNet's downsampling
    (2, (2, 3, 9, 7), (4, 3, 3, 3), dict(stride=2, padding=1)),      # odd sizes
    (2, (2, 3, 10, 10), (4, 3, 4, 4), dict(stride=2, padding=1)),    # DCGAN's 4x4, stride 2
    (2, (2, 3, 9, 8), (4, 3, 3, 2), dict(stride=(2, 1), padding=(1, 0))),   # mixed strides
    (2, (2, 3, 11, 10), (4, 3, 5, 5), dict(stride=3, padding=2)),
    (2, (2, 3, 10, 11), (4, 3, 2, 2), dict(stride=3)),               # pixels no tap reads
    (2, (2, 3, 9, 9), (4, 3, 3, 3), dict(stride=2)),                 # the last pixel unread
    (1, (2, 3, 15), (4, 3, 5), dict(stride=2, padding=2)),
    (3, (2, 3, 6, 5, 6), (4, 3, 3, 3, 2), dict(stride=2, padding=(1, 1, 0))),
]


@pytest.fixture
def by_phases(monkeypatch):
    """Every strided convolution that can split by phases does (the tiny test shapes pass no
    size rule), and the calls of the split are counted."""
    _force_fast_paths(monkeypatch, 1 << 30)
    monkeypatch.setattr(conv_kernels, "_PHASE_MIN_CHANNELS", 0)
    calls = []
    split_input_grad = _conv_phases.input_grad

    def counted(*args):
        calls.append(args[2])
        return split_input_grad(*args)
    monkeypatch.setattr(_conv_phases, "input_grad", counted)
    return calls


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("nd, xs, ws, kw", CASES)
def test_strided_convs_by_phases_match_torch(by_phases, nd, xs, ws, kw, dtype):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1])]
    name = f"conv{nd}d"
    _compare(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
             lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays, dtype)
    assert by_phases, "the input gradient did not split by phases"


@pytest.mark.parametrize("nd, xs, ws, kw", [
    (2, (2, 4, 5, 5), (4, 3, 4, 4), dict(stride=2, padding=1)),         # DCGAN's generator
    (2, (2, 4, 5, 4), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    (1, (2, 4, 7), (4, 3, 3), dict(stride=3, output_padding=2)),        # rows no tap writes
])
def test_transposed_convs_by_phases_match_torch(by_phases, nd, xs, ws, kw):
    from minigrad.testing import compare_second_order_with_torch
    rng = np.random.default_rng(23)
    arrays = [rng.standard_normal(s) for s in (xs, ws, ws[1:2])]
    name = f"conv_transpose{nd}d"
    _compare(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
             lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays, np.float64)
    compare_second_order_with_torch(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
                                    lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays)
    assert by_phases


@pytest.mark.parametrize("nd, xs, ws, kw", CASES[:3] + CASES[5:6])
def test_second_derivatives_by_phases_match_torch(by_phases, nd, xs, ws, kw):
    from minigrad.testing import compare_second_order_with_torch
    rng = np.random.default_rng(24)
    arrays = [rng.standard_normal(s) for s in (xs, ws, ws[:1])]
    name = f"conv{nd}d"
    compare_second_order_with_torch(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
                                    lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays)
    assert by_phases


def test_the_phases_of_a_stride_2_3x3_conv():
    """k = 3, s = 2, padding 1 on 8 pixels: taps 0 and 2 read the odd pixels (with one
    padding pixel on the left), tap 1 the even ones; together every pixel, once."""
    geom = Geometry((3,), (2,), ((1, 1),), (1,), 1, (8,), (4,))
    phases = _conv_phases.split(geom)
    assert [(p.taps, p.pixels) for p in phases] == [
        ((slice(0, None, 2),), (slice(1, 8, 2),)), ((slice(1, None, 2),), (slice(0, 7, 2),))]
    assert [(p.geom.kernel, p.geom.padding, p.geom.in_size, p.geom.out_size)
            for p in phases] == [((2,), ((1, 0),), (4,), (4,)), ((1,), ((0, 0),), (4,), (4,))]
    assert _conv_phases.covers(phases, geom)
    # stride 3 with a 2-tap kernel: pixels 2, 5, 8 are read by no tap
    geom = Geometry((2,), (3,), ((0, 0),), (1,), 1, (9,), (3,))
    assert not _conv_phases.covers(_conv_phases.split(geom), geom)


def test_dispatch_of_strided_input_gradients():
    def geom(size, k, stride, pad):
        out = tuple((n + 2 * pad - k) // stride + 1 for n in size)
        return Geometry((k,) * len(size), (stride,) * len(size), ((pad, pad),) * len(size),
                        (1,) * len(size), 1, size, out)
    # the ResNet step's downsampling 3x3 layers: phases of 32x32 and 16x16 pixels
    assert conv_kernels.by_phases(geom((64, 64), 3, 2, 1), 32, 64)
    assert conv_kernels.by_phases(geom((32, 32), 3, 2, 1), 64, 128)
    # a DCGAN generator's transposed 4x4 convolution to 32x32 maps of 64 channels
    assert conv_kernels.by_phases(geom((32, 32), 4, 2, 1), 64, 128)
    # ... but not to 3 colour channels, nor to 8x8 phases: im2col is faster there
    assert conv_kernels.by_phases(geom((64, 64), 4, 2, 1), 3, 64) is None
    assert conv_kernels.by_phases(geom((16, 16), 4, 2, 1), 128, 256) is None
    # padding wider than a phase's taps reach (a = 1 has one tap, but padding 1 before it)
    assert conv_kernels.by_phases(geom((64, 64), 3, 2, 2), 32, 64) is None
    # stride 1, dilation and groups are not split
    assert conv_kernels.by_phases(geom((64, 64), 3, 1, 1), 32, 64) is None
    dilated = geom((64, 64), 3, 2, 1)._replace(dilation=(2, 2), out_size=(31, 31))
    assert conv_kernels.by_phases(dilated, 32, 64) is None
    grouped = geom((64, 64), 3, 2, 1)._replace(groups=2)
    assert conv_kernels.by_phases(grouped, 32, 64) is None


def test_a_resnet_downsampling_layer_by_phases_matches_torch(monkeypatch):
    """At its real size, with the default rules, float32."""
    calls = []
    split_input_grad = _conv_phases.input_grad
    monkeypatch.setattr(_conv_phases, "input_grad",
                        lambda *args: calls.append(1) or split_input_grad(*args))
    rng = np.random.default_rng(25)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in
              ((2, 32, 64, 64), (64, 32, 3, 3), (64,))]
    _compare(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
             lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1), arrays, np.float32)
    # once, or once per part when the batch is split over the threads
    assert 1 <= len(calls) <= 2


@pytest.mark.parametrize("stride", [1, 2])
def test_an_inf_in_the_weight_gives_torchs_input_gradient(stride):
    """The shifted GEMMs and the phases multiply w by the zeros that extend g past its edges;
    with an inf in w those would be NaNs where torch has none: such a w takes im2col."""
    rng = np.random.default_rng(26)
    x, w = rng.standard_normal((2, 32, 24, 24)), rng.standard_normal((32, 32, 3, 3))
    w[0, 0, 0, 0] = np.inf
    grads = []
    for lib, fn in ((minigrad, F), (torch, TF)):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        fn.conv2d(xt, wt, padding=1, stride=stride).sum().backward()
        grads.append(xt.grad.numpy())
    mine, theirs = grads
    assert np.array_equal(np.isnan(mine), np.isnan(theirs))
    assert np.array_equal(np.isinf(mine), np.isinf(theirs))
    np.testing.assert_allclose(np.where(np.isfinite(mine), mine, 0),
                               np.where(np.isfinite(theirs), theirs, 0), rtol=1e-9)
