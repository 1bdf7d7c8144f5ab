"""The forward of strided depthwise 2-d convolutions on the bands (``_conv_bands``): with a
column stride, x's rows are first copied, padded, into a scratch of whole-stride segments
an image, and for float32 with a column stride of 2 each kernel shift is read from it as a
cast of 64-bit pairs (``_pairs_fit``); otherwise a copy per shift straight from x at the
stride.

Each case runs beside PyTorch (F.conv2d with groups = channels), float64 to ~1e-12 and
float32 to ~1e-5: strides (2, 2), (2, 1), (1, 2), (3, 3), odd and even sizes, int and
asymmetric padding (F.pad first), dilation, a channel multiplier of 2, unbatched input,
channels-last and non-contiguous inputs, inf and NaN in x (which leave the bands), scratch
handed out full of NaN (every number read must be written), and one-image blocks. A spy
checks which way the stacks were built."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_bands

# (N or None for unbatched, C, (H, W), kernel, stride, padding, dilation, multiplier,
#  pre-padding for F.pad (left, right, top, bottom) or None)
CASES = [
    (2, 4, (28, 28), 3, (2, 2), 1, 1, 1, None),
    (2, 3, (27, 25), 3, (2, 2), 1, 1, 1, None),          # odd sizes
    (2, 3, (20, 22), 3, (2, 1), 1, 1, 1, None),          # no column stride: wide rows
    (2, 3, (21, 24), 3, (1, 2), 1, 1, 1, None),
    (2, 2, (31, 30), 3, (3, 3), 1, 1, 1, None),          # stride 3: the strided copy
    (2, 2, (24, 23), 3, (2, 2), 2, 2, 1, None),          # dilation 2
    (1, 3, (22, 26), (3, 5), (2, 2), (1, 2), (1, 2), 1, None),
    (2, 3, (22, 21), 3, (2, 2), 1, 1, 2, None),          # channel multiplier 2
    (2, 2, (24, 24), 4, (2, 2), 0, 1, 1, (1, 2, 1, 2)),  # 'same'-like, asymmetric
    (2, 2, (23, 22), 2, (2, 2), 0, 1, 1, (0, 1, 1, 0)),
    (None, 3, (26, 24), 3, (2, 2), 1, 1, 1, None),       # unbatched
    (2, 2, (25, 27), 5, (2, 2), 0, 1, 1, None),          # no padding
    (1, 2, (26, 28), 3, (2, 2), 3, 1, 1, None),          # padding past the kernel's reach
]


def _run(lib, x, w, b, case):
    _, _, _, _, stride, pad, dil, _, pre = case
    F = lib.nn.functional
    X, W, B = lib.tensor(x), lib.tensor(w), lib.tensor(b)
    if pre is not None:
        X = F.pad(X, pre)
    C = x.shape[-3]
    return F.conv2d(X, W, B, stride=stride, padding=pad, dilation=dil, groups=C).numpy()


def _arrays(case, dtype, seed=0):
    n, c, size, k, _, _, _, m, _ = case
    k = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(((n,) if n else ()) + (c,) + size).astype(dtype)
    w = rng.standard_normal((c * m, 1) + k).astype(dtype)
    b = rng.standard_normal(c * m).astype(dtype)
    return x, w, b


def _spy(monkeypatch):
    """Records, per stack built with a column stride, whether the pairs were taken."""
    taken = []
    real = _conv_bands.Bands._strided_columns

    def spy(self, x, S):
        assert self.pairs == _conv_bands._pairs_fit(x.dtype, self.sw)
        taken.append(self.pairs)
        return real(self, x, S)
    monkeypatch.setattr(_conv_bands.Bands, "_strided_columns", spy)
    return taken


def _expect_path(taken, case, dtype):
    sw = case[4][1]
    if sw == 1:
        assert taken == []
    else:
        assert taken and all(t == (sw == 2 and dtype == np.float32) for t in taken)


TOL = {np.float64: 1e-12, np.float32: 2e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[str(c[2:5]) for c in CASES])
def test_forward_matches_torch(case, dtype, monkeypatch):
    monkeypatch.setattr(_conv_bands, "MIN_OUTPUTS", 1)
    taken = _spy(monkeypatch)
    x, w, b = _arrays(case, dtype)
    mine = _run(mg, x, w, b, case)
    theirs = _run(torch, x, w, b, case)
    _expect_path(taken, case, dtype)
    np.testing.assert_allclose(mine, theirs, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[4], CASES[8]],
                         ids=["s2", "s2-odd", "s3", "pre-pad"])
def test_scratch_full_of_nan_is_overwritten(case, dtype, monkeypatch):
    """Scratch buffers handed out full of NaN, and blocks of one image and a few channels
    (the stack cut small): every number read must have been written."""
    monkeypatch.setattr(_conv_bands, "MIN_OUTPUTS", 1)
    monkeypatch.setattr(_conv_bands, "STACK_BYTES", 4096)
    monkeypatch.setattr(_conv_bands, "_workspace",
                        lambda kind, shape, dt, xp: np.full(shape, np.nan, dt))
    taken = _spy(monkeypatch)
    x, w, b = _arrays(case, dtype, seed=3)
    mine = _run(mg, x, w, b, case)
    theirs = _run(torch, x, w, b, case)
    _expect_path(taken, case, dtype)
    np.testing.assert_allclose(mine, theirs, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_non_contiguous_inputs(layout, dtype, monkeypatch):
    taken = _spy(monkeypatch)
    case = (2, 4, (28, 26), 3, (2, 2), 1, 1, 1, None)
    x, w, b = _arrays(case, dtype, seed=5)
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    else:                                   # every other column of a wider array
        wide = np.repeat(x, 2, axis=-1)
        wide[..., 1::2] = 7.0
        x = wide[..., ::2]
    assert not x.flags.c_contiguous
    mine = _run(mg, x, w, b, case)
    theirs = _run(torch, np.ascontiguousarray(x), w, b, case)
    _expect_path(taken, case, dtype)
    np.testing.assert_allclose(mine, theirs, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_inf_and_nan_in_x_leave_the_bands(bad, dtype, monkeypatch):
    """0 * inf in the banded matrix's zeros would spread NaN to outputs whose windows miss
    the bad cell: x with inf or NaN takes the taps, and its NaNs land where torch's do."""
    taken = _spy(monkeypatch)
    case = CASES[0]
    x, w, b = _arrays(case, dtype, seed=7)
    x[0, 1, 5, 6] = bad
    x[1, 2, 27, 0] = bad
    mine = _run(mg, x, w, b, case)
    theirs = _run(torch, x, w, b, case)
    assert taken == []
    assert np.array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_allclose(mine, theirs, rtol=TOL[dtype], atol=TOL[dtype])


def test_pairs_fit_only_float32_stride_2():
    assert _conv_bands._pairs_fit(np.float32, 2) == np.little_endian
    assert not _conv_bands._pairs_fit(np.float32, 3)
    assert not _conv_bands._pairs_fit(np.float64, 2)
