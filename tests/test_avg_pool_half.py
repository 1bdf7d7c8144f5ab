"""float16 average pooling bit for bit as PyTorch's CPU kernels: the forward sums each window
in float32 and rounds once; the backward rounds each output's share g / divisor to float16
and adds it into its window output by output, rounding at every add."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

CASES = [("avg_pool1d", (2, 3, 17), dict(kernel_size=4, stride=2, padding=1)),
         ("avg_pool1d", (2, 3, 16), dict(kernel_size=3, ceil_mode=True)),
         ("avg_pool2d", (2, 3, 8, 8), dict(kernel_size=3, stride=1)),
         ("avg_pool2d", (2, 3, 9, 9), dict(kernel_size=3, stride=2, padding=1)),
         ("avg_pool2d", (2, 3, 9, 9), dict(kernel_size=3, stride=2, padding=1,
                                           count_include_pad=False)),
         ("avg_pool2d", (2, 3, 8, 8), dict(kernel_size=2, divisor_override=3)),
         ("avg_pool2d", (1, 2, 40, 40), dict(kernel_size=5, stride=1, ceil_mode=True)),
         ("avg_pool2d", (1, 2, 11, 10), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1),
                                             ceil_mode=True))]


def _bits(t):
    return t.detach().numpy().view(np.uint16)


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("op, shape, kw", CASES)
def test_float16_avg_pool_bit_for_bit(op, shape, kw, channels_last):
    if channels_last and len(shape) != 4:
        pytest.skip("channels_last is a 4-d layout")
    x16 = np.random.default_rng(len(shape) + sum(shape)).standard_normal(shape).astype(np.float16)
    got = []
    for lib in (torch, minigrad):
        x = lib.tensor(x16)
        if channels_last:
            x = x.to(memory_format=lib.channels_last)
        x.requires_grad_()
        y = getattr(lib.nn.functional, op)(x, **kw)
        g = lib.tensor((np.arange(y.numel()) % 7 / 3).reshape(tuple(y.shape))).half()
        y.backward(g)
        got.append((_bits(y), _bits(x.grad), str(y.dtype), str(x.grad.dtype)))
    (y_t, gx_t, *dt_t), (y_m, gx_m, *dt_m) = got
    assert [d.split(".")[-1] for d in dt_t] == [d.split(".")[-1] for d in dt_m]
    np.testing.assert_array_equal(y_m, y_t)
    np.testing.assert_array_equal(gx_m, gx_t)
