"""Pooling and convolution results keep PyTorch's strides where a dim has size 1.

numpy's reduction over a window view can leave a size-1 dim of the result with a step of its
own (the view's), which never moves but shows in ``stride()``; PyTorch's row-major result has
the product of the sizes after it there. Found by a conv/pool fuzzer against torch: e.g.
``max_pool2d`` of (1, 6, 2, 2) with kernel (1, 2), stride (3, 2), padding (0, 1) gave strides
(12, 2, 12, 1) where torch gives (12, 2, 2, 1)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

CASES = [
    ("max_pool2d", (1, 6, 2, 2), dict(kernel_size=(1, 2), stride=(3, 2), padding=(0, 1))),
    ("max_pool2d", (3, 4, 2, 4), dict(kernel_size=(1, 2), stride=(3, 1))),
    ("max_pool2d", (2, 4, 2), dict(kernel_size=1, stride=(2, 3), dilation=(2, 1))),
    ("max_pool2d", (2, 9, 9, 2), dict(kernel_size=(2, 1), stride=3, dilation=(1, 2))),
    ("max_pool1d", (3, 9, 2), dict(kernel_size=1, stride=3, ceil_mode=True, dilation=2)),
    ("max_pool1d", (2, 1, 2), dict(kernel_size=1, stride=3)),
    ("max_pool1d", (3, 1, 2), dict(kernel_size=1, stride=3, ceil_mode=True)),
    ("max_pool3d", (3, 3, 9, 2, 9), dict(kernel_size=(3, 1, 2), stride=(1, 3, 3), dilation=2)),
    ("max_pool3d", (4, 3, 2, 6), dict(kernel_size=(2, 1, 3), stride=(2, 3, 3),
                                      padding=(1, 0, 0), ceil_mode=True)),
    ("max_pool2d", (2, 3, 1, 1), dict(kernel_size=1)),
    ("avg_pool2d", (1, 6, 2, 2), dict(kernel_size=(1, 2), stride=(3, 2), padding=(0, 1))),
]


def _pair(shape, grad):
    a = np.random.default_rng(len(shape)).standard_normal(shape)
    return minigrad.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


@pytest.mark.parametrize("grad", [True, False])
@pytest.mark.parametrize("name, shape, kwargs", CASES)
def test_pool_result_strides_match_torch(name, shape, kwargs, grad):
    m, t = _pair(shape, grad)
    ym, yt = getattr(minigrad.nn.functional, name)(m, **kwargs), \
        getattr(torch.nn.functional, name)(t, **kwargs)
    assert tuple(ym.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ym.detach().numpy(), yt.detach().numpy())
    assert ym.stride() == yt.stride()
    assert ym.is_contiguous() and yt.is_contiguous()
    # and views of it behave as torch's (a view by strides needs the same strides)
    assert ym.view(-1).shape == yt.view(-1).shape
    if grad:
        g = np.random.default_rng(1).standard_normal(tuple(yt.shape))
        gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
        gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
        np.testing.assert_allclose(gm.numpy(), gt.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name, shape, kwargs", [c for c in CASES if c[0].startswith("max")])
def test_pool_indices_strides_match_torch(name, shape, kwargs):
    m, t = _pair(shape, False)
    (ym, im), (yt, it) = getattr(minigrad.nn.functional, name)(m, return_indices=True, **kwargs), \
        getattr(torch.nn.functional, name)(t, return_indices=True, **kwargs)
    assert ym.stride() == yt.stride() and im.stride() == it.stride()
    np.testing.assert_array_equal(im.numpy(), it.numpy())


def test_channels_last_pool_keeps_channels_last_strides():
    a = np.random.default_rng(2).standard_normal((2, 3, 4, 1))
    m = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last)
    t = torch.tensor(a).contiguous(memory_format=torch.channels_last)
    kw = dict(kernel_size=(2, 1), stride=2)
    assert minigrad.nn.functional.max_pool2d(m, **kw).stride() == \
        torch.nn.functional.max_pool2d(t, **kw).stride()


def _wide_major(shape):
    """A tensor pair of ``shape`` whose last two dims are stored transposed."""
    a = np.random.default_rng(3).standard_normal(shape[:-2] + shape[-2:][::-1])
    return (minigrad.tensor(a).transpose(-1, -2), torch.tensor(a).transpose(-1, -2))


@pytest.mark.parametrize("shape, weight, kwargs", [
    ((1, 3, 3, 7), (3, 1, 3, 3), dict(stride=3, dilation=(1, 3), groups=3)),
    ((1, 3, 3, 7), (2, 3, 3, 3), dict(stride=3, dilation=(1, 3))),
    ((2, 4, 1, 5), (4, 4, 1, 5), {}),
    ((2, 2, 5, 1), (3, 2, 5, 1), {}),
])
def test_conv_result_strides_at_size_one_dims(shape, weight, kwargs):
    m, t = _wide_major(shape)
    w = np.random.default_rng(4).standard_normal(weight)
    ym = minigrad.nn.functional.conv2d(m, minigrad.tensor(w), **kwargs)
    yt = torch.nn.functional.conv2d(t, torch.tensor(w), **kwargs)
    np.testing.assert_allclose(ym.numpy(), yt.numpy(), rtol=1e-12, atol=1e-12)
    assert ym.stride() == yt.stride()


@pytest.mark.parametrize("name, shape, size", [
    ("adaptive_avg_pool2d", (1, 4, 5, 7), (5, 1)),
    ("adaptive_avg_pool2d", (6, 4, 5), (4, 1)),
    ("adaptive_avg_pool2d", (2, 3, 6, 6), (1, 3)),
    ("adaptive_avg_pool1d", (2, 3, 7), 1),
    ("adaptive_avg_pool1d", (1, 3, 7), 1),
    ("adaptive_avg_pool1d", (2, 3, 7), 3),
])
@pytest.mark.parametrize("layout", ["row-major", "transposed"])
def test_adaptive_avg_pool_strides(name, shape, size, layout):
    if layout == "row-major":
        m, t = _pair(shape, True)
    else:
        m, t = _wide_major(shape)
    ym = getattr(minigrad.nn.functional, name)(m, size)
    yt = getattr(torch.nn.functional, name)(t, size)
    np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-12)
    assert ym.stride() == yt.stride()


@pytest.mark.parametrize("shape", [(3, 4, 4, 4), (1, 4, 4, 4), (3, 4, 4, 1)])
def test_unbatched_max_pool3d_of_a_channels_last_input_is_refused(shape):
    a = np.random.default_rng(5).standard_normal(shape)
    m = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last)
    t = torch.tensor(a).contiguous(memory_format=torch.channels_last)
    words = "Unsupported memory format. Supports only ChannelsLast3d, Contiguous"
    with pytest.raises(RuntimeError, match=words):
        torch.nn.functional.max_pool3d(t, 1)
    with pytest.raises(RuntimeError, match=words):
        minigrad.nn.functional.max_pool3d(m, 1)
    # row-major, the same input pools
    np.testing.assert_array_equal(minigrad.nn.functional.max_pool3d(minigrad.tensor(a), 1).numpy(),
                                  torch.nn.functional.max_pool3d(torch.tensor(a), 1).numpy())


@pytest.mark.parametrize("out_channels", [1, 2])
def test_channels_last_conv_with_one_output_channel_stays_channels_last(out_channels):
    # (3, 1, 2, 9) strides (18, 1, 9, 1) is channels-last and also row-major to numpy: the
    # layout torch gives must not be re-strided as row-major
    a = np.random.default_rng(6).standard_normal((3, 3, 2, 9))
    w = np.random.default_rng(7).standard_normal((out_channels, 3, 2, 1))
    m = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last)
    t = torch.tensor(a).contiguous(memory_format=torch.channels_last)
    for fm, ft, weight in [(minigrad.nn.functional.conv2d, torch.nn.functional.conv2d, w),
                           (minigrad.nn.functional.conv_transpose2d,
                            torch.nn.functional.conv_transpose2d, w.transpose(1, 0, 2, 3))]:
        ym, yt = fm(m, minigrad.tensor(weight)), ft(t, torch.tensor(weight))
        np.testing.assert_allclose(ym.numpy(), yt.numpy(), rtol=1e-12, atol=1e-12)
        assert ym.stride() == yt.stride()
    pm = minigrad.nn.functional.adaptive_avg_pool2d(m[:, :1], (1, 3))
    pt = torch.nn.functional.adaptive_avg_pool2d(t[:, :1], (1, 3))
    assert pm.stride() == pt.stride()
