"""Grouped convolutions on their fast paths, beside torch in float64 -- forward, the three
gradients and second derivatives:

* depthwise ones (groups == input channels) on their own kernels
  (``minigrad/ops/_conv_depthwise.py``: passes per tap on phase planes), over
  strides, dilations, paddings, channel multipliers, 1-d to 3-d, blocks cut small, and the
  fallback for an inf or NaN factor;
* other grouped ones with stride 1 on the shifted GEMMs, group by group."""
import numpy as np
import pytest

import minigrad
from minigrad.ops import _conv_depthwise, conv_kernels

torch = pytest.importorskip("torch")

CASES = [
    # nd, N, C, multiplier, kernel, stride, dilation, padding, size
    (2, 2, 4, 1, 3, 1, 1, 1, 7),
    (2, 2, 4, 2, 3, 2, 1, 1, 8),
    (2, 1, 3, 3, 2, 1, 2, 0, 6),
    (2, 2, 6, 1, 3, 1, 1, "same", 9),
    (2, 2, 4, 1, 3, 1, 1, "valid", 9),
    (2, 2, 4, 1, 4, 2, 1, 3, 9),              # padding wider than the kernel's reach
    (2, 2, 2, 1, 3, 1, 3, (2, 1), 8),
    (2, 2, 3, 1, 5, 3, 1, 2, 11),             # stride 3: nine phases
    (2, 2, 4, 1, 1, 1, 1, 0, 5),              # a 1x1 depthwise: a per-channel scale
    (2, 2, 3, 1, 4, 1, 1, "same", 9),         # even kernel: padding (1, 2), flipped for gx
    (2, 2, 3, 1, 3, 1, 1, 3, 7),              # stride 1, padding beyond the kernel's reach
    (1, 2, 3, 1, 3, 1, 2, (5,), 9),           # ... dilated: padding 5, reach 4
    (1, 3, 5, 1, 5, 1, 1, 2, 11),
    (1, 2, 4, 2, 3, 3, 2, 4, 13),
    (3, 2, 2, 1, 3, 1, 1, 1, 5),
    (3, 1, 2, 2, 2, 2, 1, 0, 6),
]


def _run(lib, x, w, b, nd, C, stride, dilation, padding):
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = conv(*tensors, stride=stride, padding=padding, dilation=dilation, groups=C)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    grads = lib.autograd.grad(y, tensors, g, create_graph=True)
    second = lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum(), tensors[:2])
    return [a.detach().numpy() for a in (y,) + tuple(grads) + tuple(second)]


def _case_arrays(nd, N, C, m, k, size, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, C) + (size,) * nd).astype(dtype),
            rng.standard_normal((C * m, 1) + (k,) * nd).astype(dtype),
            rng.standard_normal(C * m).astype(dtype))


@pytest.mark.parametrize("nd, N, C, m, k, stride, dilation, padding, size", CASES)
def test_depthwise_matches_torch_to_second_order(nd, N, C, m, k, stride, dilation, padding,
                                                  size):
    x, w, b = _case_arrays(nd, N, C, m, k, size)
    mine = _run(minigrad, x, w, b, nd, C, stride, dilation, padding)
    theirs = _run(torch, x, w, b, nd, C, stride, dilation, padding)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10, err_msg=name)


def test_depthwise_takes_its_own_path():
    geom = conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 64, (32, 32),
                                 (32, 32))
    assert conv_kernels.path(geom, 64) == "depthwise"
    assert conv_kernels.path(geom._replace(groups=32), 64) == "shift"    # two channels a group
    assert conv_kernels.path(geom._replace(groups=32, stride=(2, 2), out_size=(16, 16)),
                             64) == "im2col"                             # ... with a stride


@pytest.mark.parametrize("case", [CASES[0], CASES[1], CASES[7], CASES[11]])
def test_blocks_of_one_channel_match_torch(monkeypatch, case):
    """Blocks cut down to one image and one channel: the block loops and their offsets."""
    monkeypatch.setattr(_conv_depthwise, "BLOCK_BYTES", 1)
    monkeypatch.setattr(_conv_depthwise, "STACK_BYTES", 1)
    nd, N, C, m, k, stride, dilation, padding, size = case
    x, w, b = _case_arrays(nd, N, C, m, k, size, seed=3)
    for a, t in zip(_run(minigrad, x, w, b, nd, C, stride, dilation, padding),
                    _run(torch, x, w, b, nd, C, stride, dilation, padding)):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("where", ["x", "w"])
@pytest.mark.parametrize("value", [np.inf, np.nan])
@pytest.mark.parametrize("stride", [1, 2])
def test_inf_and_nan_land_where_torch_puts_them(where, value, stride):
    """The phase planes' cropped columns multiply zeros by what lies beside them; an inf or
    NaN factor takes the strided views instead, so that NaNs appear only where torch's do."""
    x, w, b = _case_arrays(2, 2, 3, 1, 3, 6, seed=5)
    (x if where == "x" else w)[(0, 1, 2, 2) if where == "x" else (1, 0, 0, 2)] = value
    outs = []
    for lib in (minigrad, torch):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.conv2d(*tensors, stride=stride, padding=1, groups=3)
        y.backward(lib.ones(tuple(y.shape), dtype=lib.float64))
        outs.append([a.numpy() for a in (y.detach(), tensors[0].grad, tensors[1].grad)])
    for a, t in zip(*outs):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(t))
        np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(t), rtol=1e-10)


def test_float32_training_shape_matches_torch():
    """A MobileNet-sized layer in float32 (the timed dtype), blocks as they come."""
    x, w, b = _case_arrays(2, 8, 32, 1, 3, 16, dtype=np.float32, seed=7)
    outs = []
    for lib in (minigrad, torch):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.conv2d(*tensors, stride=2, padding=1, groups=32)
        y.backward(lib.tensor(np.sin(np.arange(y.numel(), dtype=np.float32)).reshape(
            tuple(y.shape))))
        outs.append([a.numpy() for a in (y.detach(),) + tuple(t.grad for t in tensors)])
    for a, t in zip(*outs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, t, rtol=1e-4, atol=1e-4)


def test_transposed_depthwise_matches_torch():
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 1, 3, 3)), \
        rng.standard_normal(4)
    outs = []
    for lib in (minigrad, torch):
        tensors = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = lib.nn.functional.conv_transpose2d(*tensors, stride=2, padding=1,
                                               output_padding=1, groups=4)
        y.backward(lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape))))
        outs.append([a.numpy() for a in (y.detach(),) + tuple(t.grad for t in tensors)])
    for a, t in zip(*outs):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


GROUPED = [
    # nd, N, C, O, groups, kernel, dilation, padding, size
    (2, 2, 8, 8, 4, 3, 1, 1, 12),
    (2, 2, 6, 9, 3, 3, 2, "same", 13),
    (2, 1, 8, 4, 4, 3, 1, 1, 12),             # one output channel a group (O == groups)
    (2, 2, 4, 8, 2, 2, 1, 0, 14),
    (1, 2, 8, 8, 2, 5, 1, 2, 150),
    (3, 1, 4, 4, 2, 3, 1, 1, 7),
]


def _grouped_run(lib, arrays, nd, groups, dilation, padding):
    conv = getattr(lib.nn.functional, f"conv{nd}d")
    tensors = [lib.tensor(a, requires_grad=True) for a in arrays]
    y = conv(*tensors, padding=padding, dilation=dilation, groups=groups)
    g = lib.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
    grads = lib.autograd.grad(y, tensors, g, create_graph=True)
    second = lib.autograd.grad((grads[0] ** 2).sum() + (grads[1] ** 2).sum(), tensors[:2])
    return [a.detach().numpy() for a in (y,) + tuple(grads) + tuple(second)]


@pytest.mark.parametrize("nd, N, C, O, groups, k, dilation, padding, size", GROUPED)
def test_grouped_shifted_gemms_match_torch(nd, N, C, O, groups, k, dilation, padding, size):
    geom_out = tuple(size + 2 * (padding if isinstance(padding, int) else 0) - dilation *
                     (k - 1) for _ in range(nd))
    if padding == "same":
        geom_out = (size,) * nd
    pads = ((padding, padding),) * nd if isinstance(padding, int) else \
        ((dilation * (k - 1) // 2, dilation * (k - 1) - dilation * (k - 1) // 2),) * nd
    geom = conv_kernels.Geometry((k,) * nd, (1,) * nd, pads, (dilation,) * nd, groups,
                                 (size,) * nd, geom_out)
    assert conv_kernels.path(geom, C) == "shift"
    rng = np.random.default_rng(11)
    arrays = (rng.standard_normal((N, C) + (size,) * nd),
              rng.standard_normal((O, C // groups) + (k,) * nd), rng.standard_normal(O))
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"),
                          _grouped_run(minigrad, arrays, nd, groups, dilation, padding),
                          _grouped_run(torch, arrays, nd, groups, dilation, padding)):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("where", ["x", "w"])
def test_grouped_inf_lands_where_torch_puts_it(where):
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((2, 8, 12, 12)), rng.standard_normal((8, 2, 3, 3))
    (x if where == "x" else w)[(1, 3, 5, 11) if where == "x" else (2, 1, 0, 2)] = np.inf
    outs = []
    for lib in (minigrad, torch):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.conv2d(tx, tw, padding=1, groups=4)
        y.backward(lib.ones(tuple(y.shape), dtype=lib.float64))
        outs.append([a.numpy() for a in (y.detach(), tx.grad, tw.grad)])
    for a, t in zip(*outs):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(t))
        np.testing.assert_allclose(np.nan_to_num(a), np.nan_to_num(t), rtol=1e-10)
