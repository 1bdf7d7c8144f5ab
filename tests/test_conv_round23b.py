"""Strided convolutions beside torch: the paths the ResNet step's stride-2 layers take.

A strided convolution's forward and weight gradient go through im2col (``_conv_im2col``;
the weight gradient reuses the forward's matrix), its input gradient through the phases of x
(``_conv_phases``, stride-1 shifted GEMMs) when x has channels enough, else col2im. These
check them against torch: float64 output, input, weight and bias gradients and second order
(``create_graph``), strides 2 and 3, odd and even sizes, padding 0, 1 and 'valid',
dilation, groups, 1-d and 3-d, on one and two threads; float32 on the ResNet step's two
stride-2 layer shapes; and an inf in w (the phases' zero products would turn it into NaNs
where no window reads, so such a w takes im2col: the same NaNs as torch).
"""
import numpy as np
import pytest

import minigrad
from minigrad.ops import conv_kernels

from conv_runs import conv_grads

torch = pytest.importorskip("torch")


def _arrays(seed, n, c, o, size, k, groups, dtype=np.float64):
    rng = np.random.default_rng(seed)
    nd = len(size)
    return (rng.standard_normal((n, c) + size).astype(dtype),
            (rng.standard_normal((o, c // groups) + (k,) * nd) / np.sqrt(c * k ** nd)).astype(dtype),
            rng.standard_normal(o).astype(dtype))


CASES = [
    # op, n, c, o, size, k, kw
    ("conv2d", 1, 16, 32, (24, 25), 3, dict(stride=2, padding=1)),       # phases, even/odd
    ("conv2d", 1, 16, 32, (27, 26), 3, dict(stride=2, padding=0)),       # phases, no padding
    ("conv2d", 2, 16, 8, (9, 10), 3, dict(stride=2, padding=1)),         # small: col2im
    ("conv2d", 2, 16, 5, (11, 13), 3, dict(stride=3, padding=1)),        # stride 3
    ("conv2d", 2, 4, 6, (10, 9), 3, dict(stride=2, padding=1)),          # few channels: col2im
    ("conv2d", 2, 16, 4, (13, 12), 3, dict(stride=2, padding="valid")),
    ("conv2d", 2, 8, 6, (13, 13), 3, dict(stride=2, padding=2, dilation=2)),
    ("conv2d", 2, 8, 6, (12, 11), 3, dict(stride=2, padding=1, groups=2)),
    ("conv2d", 1, 16, 4, (10, 10), 4, dict(stride=2, padding=1)),        # even kernel
    ("conv2d", 3, 16, 4, (9, 12), 3, dict(stride=(2, 1), padding=1)),    # stride on one axis
    ("conv1d", 2, 16, 6, (33,), 3, dict(stride=2, padding=1)),
    ("conv1d", 1, 16, 16, (301,), 3, dict(stride=2, padding=1)),         # phases
    ("conv1d", 2, 16, 6, (31,), 5, dict(stride=3, padding=2)),
    ("conv3d", 2, 16, 4, (7, 6, 5), 3, dict(stride=2, padding=1)),
]


@pytest.mark.parametrize("op,n,c,o,size,k,kw", CASES,
                         ids=[f"{c[0]}-{'x'.join(map(str, c[4]))}-k{c[5]}-{c[6]}" for c in CASES])
def test_strided_float64_with_second_order(threads, op, n, c, o, size, k, kw):
    arrays = _arrays(0, n, c, o, size, k, kw.get("groups", 1))
    got = conv_grads(minigrad, op, arrays, kw)
    want = conv_grads(torch, op, arrays, kw)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.shape == b.shape, i
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=f"output {i}")


def test_the_paths_are_the_ones_meant():
    """The cases above reach the branches they name (the dispatch rules may move)."""
    geom = conv_kernels.Geometry((3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 1, (24, 25),
                                 (12, 13))
    assert conv_kernels.path(geom, 16, 1) == "im2col"
    assert conv_kernels.by_phases(geom, 16, 32) is not None
    assert conv_kernels.by_phases(geom, 4, 6) is None                   # few channels
    assert conv_kernels.by_phases(geom, 16, 16) is None                 # thin products
    assert conv_kernels.by_phases(geom._replace(groups=2), 16, 32) is None
    small = geom._replace(in_size=(9, 10), out_size=(5, 5))
    assert conv_kernels.by_phases(small, 16, 32) is None                # col2im
    line = conv_kernels.Geometry((3,), (2,), ((1, 1),), (1,), 1, (301,), (151,))
    assert conv_kernels.by_phases(line, 16, 16) is not None


@pytest.mark.parametrize("n,c,o,size", [(4, 32, 64, (16, 16)), (2, 64, 128, (8, 8))],
                         ids=["32to64", "64to128"])
def test_resnet_stride2_layers_float32(threads, n, c, o, size):
    kw = dict(stride=2, padding=1)
    arrays = _arrays(1, n, c, o, size, 3, 1, np.float32)
    got = conv_grads(minigrad, "conv2d", arrays, kw, second=False)
    want = conv_grads(torch, "conv2d", arrays, kw, second=False)
    for i, (a, b) in enumerate(zip(got, want)):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * float(np.abs(b).max()),
                                   err_msg=f"output {i}")


def test_inf_in_w_matches_torch_nans():
    arrays = list(_arrays(2, 1, 16, 32, (24, 24), 3, 1))               # the phases' shape
    arrays[1][1, 3, 0, 2] = np.inf
    kw = dict(stride=2, padding=1)
    got = conv_grads(minigrad, "conv2d", arrays, kw, second=False)
    want = conv_grads(torch, "conv2d", arrays, kw, second=False)
    for i in (0, 1):                                      # output, input gradient
        np.testing.assert_array_equal(np.isnan(got[i]), np.isnan(want[i]), err_msg=str(i))
        np.testing.assert_array_equal(np.isinf(got[i]), np.isinf(want[i]), err_msg=str(i))
        ok = np.isfinite(want[i])
        np.testing.assert_allclose(got[i][ok], want[i][ok], rtol=1e-9, atol=1e-9)
