"""Regression tests for the differential fuzzer's ninth round of finds in the convolution-gradient
helpers (nn.grad), fractional max pooling, grid sampling, conv_tbc, native_group_norm and
CrossMapLRN2d: each case runs the same call on minigrad and on PyTorch and wants the same
result (value, dtype, shape, layout, gradient) or the same exception type."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402


DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]
RNG = np.random.default_rng(9)
# on a CPU with AVX512-FP16 (Intel Sapphire Rapids and later) torch's float16 convolutions run
# in oneDNN, which accepts mixed dtypes its reference kernel refuses
_ONEDNN_HALF = torch.backends.mkldnn.is_available() and \
    torch.ops.mkldnn._is_mkldnn_fp16_supported()


def _t(lib, array, dtype):
    return lib.tensor(np.asarray(array) > 0.5) if dtype == "bool" else \
        lib.tensor(np.asarray(array).astype(dtype))


# ---- nn.grad: floating kernels only, and both operands in one dtype --------------------------
_X = {nd: RNG.random((1, 2) + (4,) * nd) * 2 for nd in (1, 2, 3)}
_W = {nd: RNG.random((4, 2) + (2,) * nd) * 2 for nd in (1, 2, 3)}
_G = {nd: RNG.random((1, 4) + (3,) * nd) * 2 for nd in (1, 2, 3)}


# a dilated convolution takes PyTorch's slow dilated kernel, which has an int64 version
_DILATED = {nd: (RNG.random((1, 2) + (5,) * nd) * 2, RNG.random((1, 4) + (2,) * nd) * 2)
            for nd in (1, 2, 3)}


def _grad_args(nd, dilated):
    if dilated:
        x, g = _DILATED[nd]
        return x, g, dict(stride=2, dilation=2)
    return _X[nd], _G[nd], dict(stride=2, padding=1)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dilated", [False, True])
@pytest.mark.parametrize("first", DTYPES)
@pytest.mark.parametrize("grad_dtype", DTYPES)
def test_conv_input_grad_dtypes(nd, dilated, first, grad_dtype):
    if "float16" in (first, grad_dtype) and first != grad_dtype and _ONEDNN_HALF:
        pytest.skip("torch takes oneDNN's float16 convolution on this CPU, which converts mixed "
                    "dtypes; minigrad follows torch's reference kernel, which refuses them")
    x, g, kw = _grad_args(nd, dilated)
    agree(lambda L: getattr(L.nn.grad, f"conv{nd}d_input")(
        x.shape, _t(L, _W[nd], first), _t(L, g, grad_dtype), **kw))


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("dilated", [False, True])
@pytest.mark.parametrize("first", DTYPES)
@pytest.mark.parametrize("grad_dtype", DTYPES)
def test_conv_weight_grad_dtypes(nd, dilated, first, grad_dtype):
    x, g, kw = _grad_args(nd, dilated)
    agree(lambda L: getattr(L.nn.grad, f"conv{nd}d_weight")(
        _t(L, x, first), (4, 2) + (2,) * nd, _t(L, g, grad_dtype), **kw))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_conv_grads_int64_dilated_grouped(nd):
    x, g = _DILATED[nd]
    w = RNG.random((4, 1) + (2,) * nd) * 4
    agree(lambda L: (getattr(L.nn.grad, f"conv{nd}d_weight")(
        _t(L, x * 5, "int64"), w.shape, _t(L, g * 5, "int64"), stride=2, dilation=2, groups=2),
        getattr(L.nn.grad, f"conv{nd}d_input")(
        x.shape, _t(L, w, "int64"), _t(L, g * 5, "int64"), stride=2, dilation=2, groups=2)))


def test_conv_grad_refusal_messages():
    agree(lambda L: L.nn.grad.conv2d_input((1, 2, 4, 4), _t(L, _W[2], "float64"),
                                           _t(L, _G[2], "int64"), stride=2, padding=1),
          match="\"slow_conv2d_cpu_grad_input\" not implemented for 'Long'")
    agree(lambda L: L.nn.grad.conv1d_input((1, 2, 4), _t(L, _W[1], "float16"),
                                           _t(L, _G[1], "float64"), stride=2, padding=1),
          match="expected scalar type Double but found Half")
    agree(lambda L: L.nn.grad.conv3d_weight(_t(L, _X[3], "int32"), (4, 2, 2, 2, 2),
                                            _t(L, _G[3], "float64"), stride=2, padding=1),
          match="\"slow_conv3d_cpu_grad_weight\" not implemented for 'Int'")
    agree(lambda L: L.nn.grad.conv1d_weight(_t(L, _X[1], "bool"), (4, 2, 2),
                                            _t(L, _G[1], "int64"), stride=2, padding=1),
          match="\"slow_conv2d_cpu\" not implemented for 'Bool'")
    agree(lambda L: L.nn.grad.conv2d_input((1, 2, 5, 5), _t(L, _W[2], "int32"),
                                           _t(L, _DILATED[2][1], "int32"), stride=2,
                                           dilation=(1, 2)),
          match="\"slow_conv_dilated<>\" not implemented for 'Int'")
    # the shapes are checked before the dtypes
    agree(lambda L: L.nn.grad.conv2d_weight(_t(L, _X[2], "int64"), (4, 2, 2, 2),
                                            _t(L, RNG.random((1, 4, 7, 7)), "float32"),
                                            stride=2, padding=1), match="tensor.size[2] == 3")


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_conv_weight_grad_is_dense(nd, groups, dtype):
    """PyTorch's weight gradient is contiguous (as_strided and friends read its strides)."""
    def run(L):
        gw = getattr(L.nn.grad, f"conv{nd}d_weight")(
            _t(L, _X[nd], dtype), (4, 2 // groups) + (2,) * nd, _t(L, _G[nd], dtype),
            stride=2, padding=1, groups=groups)
        assert gw.is_contiguous()
        return gw, L.as_strided_copy(gw.T, (3, 3), (1, 2), 1)
    agree(run)


@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_weight_grad_channels_last(groups):
    out = {}
    for L in (minigrad, torch):
        x = L.tensor(RNG.random((1, 4, 5, 5))).contiguous(memory_format=L.channels_last)
        gw = L.nn.grad.conv2d_weight(x, (4, 4 // groups, 2, 2),
                                     L.tensor(RNG.random((1, 4, 2, 2))), stride=2,
                                     dilation=2, groups=groups)
        out[L.__name__] = tuple(gw.stride())
    assert out["minigrad"] == out["torch"]


def test_conv_weight_grad_second_order():
    def run(L):
        x = L.tensor(_X[2], requires_grad=True)
        g = L.tensor(_G[2], requires_grad=True)
        gw = L.nn.grad.conv2d_weight(x, (4, 2, 2, 2), g, stride=2, padding=1)
        (gw * gw).sum().backward()
        return gw, x.grad, g.grad
    agree(run)


# ---- grid_sample: integer inputs refused before the input/grid dtype comparison --------------
@pytest.mark.parametrize("nd,mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"),
                                     (3, "bilinear"), (3, "nearest")])
@pytest.mark.parametrize("input_dtype", DTYPES)
@pytest.mark.parametrize("grid_dtype", ["uint8", "int64", "float32", "float64"])
def test_grid_sample_dtypes(nd, mode, input_dtype, grid_dtype):
    x = RNG.random((2, 2) + (3,) * nd) * 3
    grid = RNG.random((2,) + (2,) * nd + (nd,)) * 2 - 1
    agree(lambda L: L.nn.functional.grid_sample(_t(L, x, input_dtype), _t(L, grid, grid_dtype),
                                                mode=mode, padding_mode="border",
                                                align_corners=False))


def test_grid_sampler_refusal_messages():
    x, grid = RNG.random((1, 2, 4, 5)), RNG.random((1, 3, 3, 2))
    agree(lambda L: L.grid_sampler(_t(L, x, "int64"), _t(L, grid, "uint8"), 0, 0, False),
          match="\"grid_sampler_2d_cpu_kernel_impl\" not implemented for 'Long'")
    agree(lambda L: L.nn.functional.grid_sample(
        _t(L, RNG.random((1, 1, 2, 2, 2)), "uint8"), _t(L, RNG.random((1, 2, 2, 2, 3)), "uint8"),
        align_corners=True), match="\"grid_sampler3d_cpu\" not implemented for 'Byte'")
    # a wrong grid shape is reported before the dtype
    agree(lambda L: L.nn.functional.grid_sample(_t(L, x, "int64"), _t(L, grid[..., :1], "int64"),
                                                align_corners=True),
          match="expected grid to have size 2 in last dimension")


def test_grid_sample_complex_3d_refused():
    def run(L):
        x = L.ones((1, 1, 2, 2, 2), dtype=L.complex64)
        return L.nn.functional.grid_sample(x, L.zeros((1, 2, 2, 2, 3), dtype=L.complex64),
                                           align_corners=False)
    agree(run, match="\"grid_sampler3d_cpu\" not implemented for 'ComplexFloat'")


# ---- fractional max pooling: _random_samples in the input's dtype, floating kernels only -----
@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("input_dtype", DTYPES)
@pytest.mark.parametrize("samples_dtype", DTYPES)
def test_fractional_max_pool_dtypes(nd, input_dtype, samples_dtype):
    x, u = RNG.random((2, 3) + (7,) * nd) * 3, RNG.random((2, 3, nd))
    agree(lambda L: getattr(L.nn.functional, f"fractional_max_pool{nd}d")(
        _t(L, x, input_dtype), 2, output_size=(3,) * nd, _random_samples=_t(L, u, samples_dtype),
        return_indices=True))


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fractional_max_pool_drawn_samples_dtypes(nd, dtype):
    def run(L):
        y = getattr(L.nn.functional, f"fractional_max_pool{nd}d")(
            _t(L, RNG.random((3,) + (7,) * nd), dtype), 2, output_size=3)
        return L.tensor(list(y.shape)), L.tensor(0, dtype=y.dtype)   # the draws differ
    agree(run)


def test_fractional_max_pool_messages():
    x = RNG.random((2, 3, 7, 7))
    agree(lambda L: L.nn.functional.fractional_max_pool2d(
        _t(L, x, "float32"), 2, output_size=3, _random_samples=_t(L, RNG.random((2, 3, 2)),
                                                                  "float64")),
          match="Expect _random_samples to have the same dtype as input")
    agree(lambda L: L.nn.functional.fractional_max_pool2d(
        _t(L, x, "uint8"), 2, output_ratio=(0.5, 0.5),
        _random_samples=_t(L, RNG.random((2, 3, 2)), "uint8")),
          match="\"fractional_max_pool2d_out_frame\" not implemented for 'Byte'")
    for axis, out in (("height", (7, 3)), ("width", (3, 7))):
        agree(lambda L: L.nn.functional.fractional_max_pool2d(_t(L, x, "float32"), 2,
                                                              output_size=out),
              match=f"fractional_max_pool2d(): pool {axis} 2 too large relative to input "
                    f"{axis} 7")
    agree(lambda L: L.nn.functional.fractional_max_pool3d(
        _t(L, RNG.random((1, 3, 3, 7, 7)), "float32"), 2, output_size=3),
          match="fractional_max_pool3d_out(): pool time 2 too large relative to input time 3")


def test_fractional_max_pool_complex_refused_after_shape_checks():
    agree(lambda L: L.nn.functional.fractional_max_pool3d(
        L.ones((1, 3, 3, 7, 7), dtype=L.complex64), 2, output_size=3),
          match="pool time 2 too large")
    agree(lambda L: L.nn.functional.fractional_max_pool2d(
        L.ones((1, 3, 7, 7), dtype=L.complex64), 2, output_size=3),
          match="\"fractional_max_pool2d_out_frame\" not implemented for 'ComplexFloat'")


# ---- conv_tbc: the bias is added in the input's dtype ----------------------------------------
@pytest.mark.parametrize("input_dtype", DTYPES)
@pytest.mark.parametrize("weight_dtype", ["bool", "int64", "float32", "float64"])
@pytest.mark.parametrize("bias_dtype", DTYPES)
def test_conv_tbc_dtypes(input_dtype, weight_dtype, bias_dtype):
    x, w, b = RNG.random((4, 1, 2)) * 3, RNG.random((2, 2, 3)) * 3, RNG.random(3) * 3
    agree(lambda L: L.conv_tbc(_t(L, x, input_dtype), _t(L, w, weight_dtype),
                               _t(L, b, bias_dtype), 1))


def test_conv_tbc_mixed_bias_gradients():
    x, w, b = RNG.random((4, 1, 2)), RNG.random((2, 2, 3)), RNG.random(3)

    def run(L):
        xs = L.tensor(x, requires_grad=True)
        ws = L.tensor(w, requires_grad=True)
        bs = L.tensor(b, dtype=L.float32, requires_grad=True)
        y = L.conv_tbc(xs.transpose(0, 1).transpose(0, 1), ws, bs)
        (y * y).sum().backward()
        return y, xs.grad, ws.grad, bs.grad
    agree(run)


@pytest.mark.parametrize("steps,batch,width,pad", [(6, 2, 3, 1), (3, 2, 3, 0), (1, 2, 3, 1),
                                                    (2, 2, 2, 0), (4, 1, 2, 0), (2, 2, 1, 0)])
@pytest.mark.parametrize("layout", ["contiguous", "channels_first", "batch_first",
                                    "expanded_time", "expanded_batch"])
def test_conv_tbc_layouts(steps, batch, width, pad, layout):
    """Each tap views its time steps of the input as (steps * batch, C_in): PyTorch refuses an
    input whose time and batch dims do not merge (unless no tap reads two steps)."""
    x, w, b = RNG.random((steps, batch, 3)), RNG.random((width, 3, 4)), RNG.random(4)

    def run(L):
        if layout == "channels_first":
            xs = L.tensor(np.ascontiguousarray(x.swapaxes(-1, -2))).transpose(-1, -2)
        elif layout == "batch_first":
            xs = L.tensor(np.ascontiguousarray(x.swapaxes(0, 1))).transpose(0, 1)
        elif layout == "expanded_time":
            xs = L.tensor(x[:1]).expand(steps, batch, 3)
        elif layout == "expanded_batch":
            xs = L.tensor(x[:, :1]).expand(steps, batch, 3)
        else:
            xs = L.tensor(x)
        y = L.conv_tbc(xs, L.tensor(w), L.tensor(b), pad)
        assert y.is_contiguous()
        return y
    agree(run)


def test_conv_tbc_messages():
    x, w, b = RNG.random((4, 1, 2)), RNG.random((2, 2, 3)), RNG.random(3)
    agree(lambda L: L.conv_tbc(_t(L, x, "bool"), _t(L, w, "float32"), _t(L, b, "bool")),
          match="self and mat2 must have the same dtype, but got Bool and Float")
    agree(lambda L: L.conv_tbc(_t(L, x, "bool"), _t(L, w, "bool"), _t(L, b, "float32")),
          match="\"addmm_impl_cpu_\" not implemented for 'Bool'")


# ---- CrossMapLRN2d: the legacy code scales the input's own dtype ----------------------------
@pytest.mark.parametrize("dtype", DTYPES + ["complex128"])
@pytest.mark.parametrize("shape", [(2, 5, 3, 3), (0, 3, 2, 2)])
def test_cross_map_lrn2d_dtypes(dtype, shape):
    a = RNG.random(shape) * 3
    if dtype == "complex128":
        a = a + 1j * RNG.random(shape)
    agree(lambda L: L.nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)(_t(L, a, dtype)))


def test_cross_map_lrn2d_messages():
    agree(lambda L: L.nn.CrossMapLRN2d(3, 0.5, 0.75, 1.0)(L.ones(2, 1, 3, 3, dtype=L.int64)),
          match="result type Float can't be cast to the desired output type Long")
    agree(lambda L: L.nn.CrossMapLRN2d(3)(L.ones(2, 1, 3, 3, dtype=L.bool)),
          match="result type Long can't be cast to the desired output type Bool")


# ---- native_group_norm: the ATen op wants dense input in its suggested memory format ---------
def _layout(L, x, how):
    if how == "expanded":
        return x[:1].expand(*x.shape)
    if how == "transposed":
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if how == "sliced":
        return x[..., ::2]
    if how == "channels_last":
        return x.contiguous(memory_format=L.channels_last) if x.ndim == 4 else x
    return x


@pytest.mark.parametrize("shape", [(2, 6, 3), (1, 4, 2, 2), (2, 4, 3, 3), (2, 4, 1, 1)])
@pytest.mark.parametrize("how", ["contiguous", "expanded", "transposed", "sliced",
                                 "channels_last"])
def test_native_group_norm_layouts(shape, how):
    a = RNG.random(shape)

    def run(L):
        x = _layout(L, L.tensor(a), how)
        hw = int(np.prod(x.shape[2:]))
        return L.native_group_norm(x, None, None, x.shape[0], x.shape[1], hw, 2, 0.5)
    agree(run)


def test_native_group_norm_message():
    def run(L):
        x = L.tensor(RNG.random((1, 4, 2, 1))).expand(1, 4, 2, 2)
        return L.native_group_norm(x, None, None, 1, 4, 4, 1, 0.5)
    agree(run, match="Expected X.is_contiguous(memory_format) to be true")
