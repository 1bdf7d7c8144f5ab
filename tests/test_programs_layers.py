"""Convolution, pooling and resampling layers in unusual but legal configurations, and in the
mistakes users make, run on minigrad and on PyTorch.

Each ``program(lib)`` builds a layer (Conv/ConvTranspose 1d/2d/3d with groups, dilation,
padding modes and 'same' padding, output_size in transposed forward; Max/Avg/LP/Adaptive/
Fractional pooling, MaxUnpool; Upsample/interpolate in every mode, PixelShuffle, Fold/Unfold,
F.pad) from the same seeded numpy weights and inputs, runs it forward and backward, and
returns the output and the gradients of input, weight and bias; or does what a user gets
wrong and returns the error.  The two libraries must give the same values, dtypes, shapes,
warnings, and exception types with torch's words.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from side_by_side import SideBySide, dotted, err, registry  # noqa: E402

HARNESS = SideBySide(
    rename=dotted, rename_error=dotted,
    tol={"float16": (2e-3, 2e-3), "float32": (2e-5, 2e-6), "float64": 1e-9},
    scalar_tol=(1e-6, 1e-8), tag=lambda v: type(v) is list, first_line=True)

PROGRAMS, program = registry()


def _rand(*shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _x(lib, *shape, seed=0, dtype="float64", grad=True):
    t = lib.tensor(_rand(*shape, seed=seed)).to(getattr(lib, dtype))
    return t.requires_grad_(grad)


def _fill(lib, module, seed=1):
    """Every parameter of ``module`` drawn from a seeded numpy stream (same in both)."""
    rng = np.random.RandomState(seed)
    with lib.no_grad():
        for p in module.parameters():
            p.copy_(lib.tensor(rng.randn(*p.shape) * 0.5))
    return module


def _run(lib, module, x, seed=7):
    """Forward, then backward of a seeded weighting of the output; output and gradients."""
    y = module(x)
    g = lib.tensor(_rand(*y.shape, seed=seed)).to(y.dtype)
    (y * g).sum().backward()
    out = dict(y=y)
    if x.requires_grad:
        out["gx"] = x.grad
    for name, p in module.named_parameters():
        out["g_" + name] = p.grad
    return out


def _fn(lib, f, x, seed=7):
    y = f(x)
    g = lib.tensor(_rand(*y.shape, seed=seed)).to(y.dtype)
    (y * g).sum().backward()
    return dict(y=y, gx=x.grad)


def _conv(lib, cls, *args, dtype="float64", **kw):
    m = getattr(lib.nn, cls)(*args, **kw).to(getattr(lib, dtype))
    return _fill(lib, m)


# ----------------------------------------------------------------------------------------------
# convolutions
# ----------------------------------------------------------------------------------------------
@program
def conv1d_groups_dilation_stride(lib):
    m = _conv(lib, "Conv1d", 6, 9, 3, stride=2, padding=2, dilation=3, groups=3)
    return _run(lib, m, _x(lib, 2, 6, 17))


@program
def conv2d_depthwise_multiplier(lib):
    m = _conv(lib, "Conv2d", 4, 12, 3, padding=1, groups=4, bias=False)
    return _run(lib, m, _x(lib, 2, 4, 7, 6))


@program
def conv2d_stride_larger_than_kernel(lib):
    m = _conv(lib, "Conv2d", 3, 5, (2, 1), stride=(3, 4))
    return _run(lib, m, _x(lib, 2, 3, 11, 10))


@program
def conv2d_same_even_kernel_dilated(lib):
    m = _conv(lib, "Conv2d", 2, 3, (4, 2), padding="same", dilation=(1, 3))
    return _run(lib, m, _x(lib, 1, 2, 6, 7))


@program
def conv1d_same_even_kernel_dilation2(lib):
    m = _conv(lib, "Conv1d", 2, 3, 4, padding="same", dilation=2)
    return _run(lib, m, _x(lib, 2, 2, 9))


@program
def conv3d_same_groups(lib):
    m = _conv(lib, "Conv3d", 4, 4, (2, 3, 2), padding="same", groups=2)
    return _run(lib, m, _x(lib, 1, 4, 3, 4, 5))


@program
def conv2d_valid(lib):
    m = _conv(lib, "Conv2d", 2, 3, 3, padding="valid", stride=2)
    return _run(lib, m, _x(lib, 2, 2, 7, 8))


@program
def conv2d_same_with_stride_errors(lib):
    return err(lambda: lib.nn.Conv2d(2, 3, 3, padding="same", stride=2))


@program(words="Invalid padding string 'full', should be one of {")   # a set's order varies
def conv2d_bad_padding_string(lib):
    return lib.nn.Conv2d(2, 3, 3, padding="full")


@program
def conv2d_groups_not_dividing(lib):
    return err(lambda: lib.nn.Conv2d(4, 6, 3, groups=4))


@program
def conv2d_groups_not_dividing_in(lib):
    return err(lambda: lib.nn.Conv2d(5, 10, 3, groups=2))


@program(words=["padding_mode must be one of {", "but got padding_mode='mirror'"])
def conv2d_bad_padding_mode(lib):                                   # a set's order varies
    return lib.nn.Conv2d(2, 3, 3, padding_mode="mirror")


@program
def conv2d_reflect_padding(lib):
    m = _conv(lib, "Conv2d", 2, 3, 3, padding=(2, 1), padding_mode="reflect")
    return _run(lib, m, _x(lib, 2, 2, 5, 6))


@program
def conv2d_replicate_padding_strided(lib):
    m = _conv(lib, "Conv2d", 2, 3, 3, padding=3, stride=2, padding_mode="replicate")
    return _run(lib, m, _x(lib, 1, 2, 4, 5))


@program
def conv2d_circular_padding(lib):
    m = _conv(lib, "Conv2d", 2, 2, 3, padding=(1, 2), padding_mode="circular")
    return _run(lib, m, _x(lib, 2, 2, 5, 4))


@program
def conv1d_circular_same(lib):
    m = _conv(lib, "Conv1d", 2, 2, 4, padding="same", padding_mode="circular")
    return _run(lib, m, _x(lib, 2, 2, 7))


@program
def conv1d_reflect_same_even(lib):
    m = _conv(lib, "Conv1d", 2, 2, 4, padding="same", padding_mode="reflect")
    return _run(lib, m, _x(lib, 2, 2, 7))


@program
def conv3d_replicate(lib):
    m = _conv(lib, "Conv3d", 2, 2, 2, padding=1, padding_mode="replicate")
    return _run(lib, m, _x(lib, 1, 2, 3, 3, 4))


@program
def conv3d_circular(lib):
    m = _conv(lib, "Conv3d", 1, 2, 3, padding=(1, 0, 2), padding_mode="circular")
    return _run(lib, m, _x(lib, 1, 1, 3, 4, 4))


@program
def conv2d_reflect_padding_too_large(lib):
    m = _conv(lib, "Conv2d", 1, 1, 3, padding=4, padding_mode="reflect")
    return err(lambda: m(_x(lib, 1, 1, 3, 3)))


@program
def conv1d_circular_padding_too_large(lib):
    m = _conv(lib, "Conv1d", 1, 1, 3, padding=5, padding_mode="circular")
    return err(lambda: m(_x(lib, 1, 1, 3)))


@program
def conv2d_unbatched(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3, padding=1, groups=1)
    return _run(lib, m, _x(lib, 3, 5, 5))


@program
def conv2d_unbatched_reflect(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3, padding=1, padding_mode="reflect")
    return _run(lib, m, _x(lib, 3, 5, 5))


@program
def conv1d_unbatched_circular(lib):
    m = _conv(lib, "Conv1d", 2, 4, 3, padding=2, padding_mode="circular")
    return _run(lib, m, _x(lib, 2, 6))


@program
def conv2d_kernel_larger_than_input(lib):
    m = _conv(lib, "Conv2d", 1, 1, 5)
    return err(lambda: m(_x(lib, 1, 1, 3, 3)))


@program
def conv1d_kernel_larger_than_input(lib):
    m = _conv(lib, "Conv1d", 1, 1, 4, dilation=2)
    return err(lambda: m(_x(lib, 1, 1, 6)))


@program
def conv2d_wrong_channels(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3)
    return err(lambda: m(_x(lib, 1, 4, 5, 5)))


@program
def conv2d_wrong_rank(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3)
    return err(lambda: m(_x(lib, 3, 5)))


@program
def conv2d_zero_batch(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3, padding=1, groups=1)
    return _run(lib, m, _x(lib, 0, 3, 5, 5))


@program
def conv2d_permuted_input(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3, stride=(1, 2))
    x = _x(lib, 2, 6, 5, 3)
    return _run(lib, m, x.permute(0, 3, 1, 2))


@program
def conv2d_sliced_input(lib):
    m = _conv(lib, "Conv2d", 2, 3, 2)
    base = _x(lib, 2, 4, 9, 10, grad=False)
    x = base[:, ::2, 1::2, ::3].clone().requires_grad_()
    y = m(base[:, ::2, 1::2, ::3])
    return dict(y=y, r=_run(lib, m, x))


@program
def conv2d_channels_last(lib):
    m = _conv(lib, "Conv2d", 3, 4, 3, padding=1)
    x = _x(lib, 2, 3, 5, 6, grad=False).contiguous(memory_format=lib.channels_last)
    x.requires_grad_()
    out = _run(lib, m, x)
    return dict(out, shape=out["y"].shape)


@program
def conv2d_float32(lib):
    m = _conv(lib, "Conv2d", 4, 6, 3, padding=2, dilation=2, groups=2, dtype="float32")
    return _run(lib, m, _x(lib, 2, 4, 6, 6, dtype="float32"))


@program
def conv2d_float16(lib):
    m = _conv(lib, "Conv2d", 2, 2, 2, dtype="float16")
    y = m(_x(lib, 1, 2, 3, 3, dtype="float16", grad=False))
    return dict(y=y, dtype=y.dtype)


@program
def conv2d_dtype_mismatch(lib):
    m = _conv(lib, "Conv2d", 2, 2, 2)
    return err(lambda: m(_x(lib, 1, 2, 3, 3, dtype="float32")))


@program
def conv_transpose1d_groups_dilation(lib):
    m = _conv(lib, "ConvTranspose1d", 4, 6, 3, stride=2, padding=1, output_padding=1,
              groups=2, dilation=2)
    return _run(lib, m, _x(lib, 2, 4, 5))


@program
def conv_transpose2d_output_size(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 3, stride=2, padding=1)
    x = _x(lib, 2, 3, 4, 5)
    y = m(x, output_size=[8, 10])
    g = lib.tensor(_rand(*y.shape, seed=3))
    (y * g).sum().backward()
    return dict(y=y, gx=x.grad, gw=m.weight.grad, gb=m.bias.grad)


@program
def conv_transpose2d_output_size_full(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 3, stride=3)
    x = _x(lib, 2, 3, 4, 5)
    return dict(a=m(x, output_size=(2, 2, 13, 15)).shape, b=m(x, output_size=(12, 16)).shape)


@program
def conv_transpose2d_output_size_out_of_range(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 3, stride=2, padding=1)
    return err(lambda: m(_x(lib, 2, 3, 4, 5), output_size=[10, 10]))


@program
def conv_transpose2d_output_size_wrong_len(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 3, stride=2, padding=1)
    return err(lambda: m(_x(lib, 2, 3, 4, 5), output_size=[8, 9, 10]))


@program
def conv_transpose1d_output_size_unbatched(lib):
    m = _conv(lib, "ConvTranspose1d", 2, 3, 4, stride=3)
    x = _x(lib, 2, 5)
    y = m(x, output_size=[17])
    y.sum().backward()
    return dict(y=y, gx=x.grad)


@program
def conv_transpose3d_groups_output_padding(lib):
    m = _conv(lib, "ConvTranspose3d", 4, 2, (2, 3, 2), stride=(2, 1, 3), padding=(0, 1, 1),
              output_padding=(1, 0, 2), groups=2, bias=False)
    return _run(lib, m, _x(lib, 1, 4, 2, 3, 3))


@program
def conv_transpose2d_output_padding_too_big(lib):
    m = _conv(lib, "ConvTranspose2d", 2, 2, 3, stride=2, output_padding=2)
    return err(lambda: m(_x(lib, 1, 2, 3, 3)))


@program
def conv_transpose2d_same_padding_refused(lib):
    return err(lambda: lib.nn.ConvTranspose2d(2, 2, 3, padding="same"))


@program
def conv_transpose2d_reflect_refused(lib):
    return err(lambda: lib.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"))


@program
def conv_transpose2d_unbatched_stride_gt_kernel(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 2, stride=3, dilation=2)
    return _run(lib, m, _x(lib, 3, 3, 4))


@program
def conv_transpose2d_zero_batch(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 2, 2, stride=2)
    return _run(lib, m, _x(lib, 0, 3, 3, 4))


@program
def conv_transpose1d_float32_depthwise(lib):
    m = _conv(lib, "ConvTranspose1d", 3, 6, 3, stride=2, groups=3, dtype="float32")
    return _run(lib, m, _x(lib, 2, 3, 5, dtype="float32"))


@program
def functional_conv2d_bad_weight(lib):
    F = lib.nn.functional
    return err(lambda: F.conv2d(_x(lib, 1, 4, 5, 5), _x(lib, 3, 3, 3, 3), groups=2))


@program
def functional_conv1d_padding_same_string(lib):
    F = lib.nn.functional
    x, w = _x(lib, 2, 3, 8), _x(lib, 4, 3, 4, seed=2)
    y = F.conv1d(x, w, padding="same", dilation=3)
    y.sum().backward()
    return dict(y=y, gx=x.grad, gw=w.grad)


@program
def functional_conv_tbc(lib):
    x, w, b = _x(lib, 6, 2, 3), _x(lib, 3, 3, 4, seed=2), _x(lib, 4, seed=3)
    y = lib.conv_tbc(x, w, b, 1)
    y.sum().backward()
    return dict(y=y, gx=x.grad, gw=w.grad, gb=b.grad)


# ----------------------------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------------------------
@program
def max_pool2d_ceil_dilation_indices(lib):
    m = lib.nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True,
                         return_indices=True)
    x = _x(lib, 2, 3, 8, 7)
    y, i = m(x)
    (y * lib.tensor(_rand(*y.shape, seed=4))).sum().backward()
    return dict(y=y, i=i, gx=x.grad)


@program
def max_pool1d_ceil_last_window_dropped(lib):
    return _fn(lib, lambda x: lib.nn.functional.max_pool1d(x, 2, 2, padding=1, ceil_mode=True),
               _x(lib, 1, 2, 5))


@program
def max_pool3d_ceil_dilation(lib):
    m = lib.nn.MaxPool3d((2, 3, 2), stride=(2, 2, 3), dilation=(1, 2, 1), ceil_mode=True)
    return _fn(lib, m, _x(lib, 1, 2, 5, 7, 6))


@program
def max_pool2d_padding_too_large(lib):
    return err(lambda: lib.nn.MaxPool2d(2, padding=2)(_x(lib, 1, 1, 4, 4)))


@program
def avg_pool2d_padding_too_large(lib):
    return err(lambda: lib.nn.AvgPool2d(3, padding=2)(_x(lib, 1, 1, 4, 4)))


@program
def avg_pool1d_padding_too_large(lib):
    return err(lambda: lib.nn.AvgPool1d(3, padding=2)(_x(lib, 1, 1, 4)))


@program
def max_pool2d_output_too_small(lib):
    return err(lambda: lib.nn.MaxPool2d(3, dilation=2)(_x(lib, 1, 1, 4, 4)))


@program
def avg_pool2d_ceil_no_count_pad(lib):
    m = lib.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    return _fn(lib, m, _x(lib, 2, 2, 6, 7))


@program
def avg_pool2d_ceil_count_pad(lib):
    m = lib.nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)
    return _fn(lib, m, _x(lib, 2, 2, 6, 7))


@program
def avg_pool3d_divisor_override_ceil(lib):
    m = lib.nn.AvgPool3d(2, stride=2, padding=1, ceil_mode=True, divisor_override=3)
    return _fn(lib, m, _x(lib, 1, 2, 3, 4, 5))


@program
def avg_pool1d_ceil_count_pad_false(lib):
    m = lib.nn.AvgPool1d(4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)
    return _fn(lib, m, _x(lib, 2, 3, 10))


@program
def avg_pool2d_divisor_zero(lib):
    return err(lambda: lib.nn.AvgPool2d(2, divisor_override=0)(_x(lib, 1, 1, 4, 4)))


@program
def avg_pool2d_unbatched_float32(lib):
    return _fn(lib, lib.nn.AvgPool2d((2, 3), stride=1), _x(lib, 3, 5, 5, dtype="float32"))


@program
def max_unpool2d_output_size(lib):
    pool = lib.nn.MaxPool2d(2, stride=2, return_indices=True)
    unpool = lib.nn.MaxUnpool2d(2, stride=2)
    x = _x(lib, 1, 2, 5, 7)
    y, i = pool(x)
    z = unpool(y, i, output_size=x.size())
    z2 = unpool(y, i, output_size=[5, 7])
    (z * lib.tensor(_rand(*z.shape, seed=5))).sum().backward()
    return dict(z=z, z2=z2, gx=x.grad)


@program
def max_unpool2d_bad_output_size(lib):
    pool = lib.nn.MaxPool2d(2, stride=2, return_indices=True)
    y, i = pool(_x(lib, 1, 2, 4, 4))
    return err(lambda: lib.nn.MaxUnpool2d(2)(y, i, output_size=[7, 7]))


@program
def max_unpool1d_and_3d(lib):
    x1 = _x(lib, 2, 3, 9)
    y1, i1 = lib.nn.functional.max_pool1d(x1, 3, 2, return_indices=True)
    z1 = lib.nn.functional.max_unpool1d(y1, i1, 3, 2, output_size=[9])
    x3 = _x(lib, 1, 1, 4, 4, 5, seed=1)
    y3, i3 = lib.nn.functional.max_pool3d(x3, 2, return_indices=True)
    z3 = lib.nn.MaxUnpool3d(2)(y3, i3, output_size=x3.shape[-3:])    # 4x4x5: odd last dim
    (z1.sum() + z3.sum()).backward()
    return dict(z1=z1, z3=z3, g1=x1.grad, g3=x3.grad)


@program
def lp_pool2d(lib):
    m = lib.nn.LPPool2d(2, (2, 3), stride=(1, 2))
    x = lib.tensor(np.abs(_rand(2, 3, 5, 6)) + 0.1).requires_grad_()
    return _fn(lib, m, x)


@program
def lp_pool1d_norm3_ceil(lib):
    m = lib.nn.LPPool1d(3, 3, stride=2, ceil_mode=True)
    x = lib.tensor(np.abs(_rand(2, 3, 8)) + 0.1).requires_grad_()
    return _fn(lib, m, x)


@program
def lp_pool3d(lib):
    m = lib.nn.LPPool3d(1.5, 2)
    x = lib.tensor(np.abs(_rand(1, 2, 4, 4, 5)) + 0.1).requires_grad_()
    return _fn(lib, m, x)


@program
def adaptive_avg_pool2d_larger_and_none(lib):
    return _fn(lib, lib.nn.AdaptiveAvgPool2d((7, None)), _x(lib, 2, 3, 4, 5))


@program
def adaptive_max_pool2d_larger_indices(lib):
    m = lib.nn.AdaptiveMaxPool2d((6, 3), return_indices=True)
    x = _x(lib, 2, 3, 4, 5)
    y, i = m(x)
    y.sum().backward()
    return dict(y=y, i=i, gx=x.grad)


@program
def adaptive_avg_pool1d_uneven(lib):
    return _fn(lib, lib.nn.AdaptiveAvgPool1d(4), _x(lib, 2, 3, 7))


@program
def adaptive_max_pool3d_none(lib):
    return _fn(lib, lib.nn.AdaptiveMaxPool3d((None, 2, 5)), _x(lib, 1, 2, 3, 5, 4))


@program
def adaptive_avg_pool3d_unbatched(lib):
    return _fn(lib, lib.nn.AdaptiveAvgPool3d(2), _x(lib, 2, 3, 5, 4))


@program
def adaptive_avg_pool2d_wrong_len(lib):
    return err(lambda: lib.nn.functional.adaptive_avg_pool2d(_x(lib, 1, 1, 4, 4), (2, 2, 2)))


@program
def fractional_max_pool2d_shapes(lib):
    m = lib.nn.FractionalMaxPool2d(2, output_size=(3, 4), return_indices=True)
    y, i = m(_x(lib, 2, 3, 7, 9))
    m2 = lib.nn.FractionalMaxPool2d(3, output_ratio=0.5)
    y2 = m2(_x(lib, 3, 8, 9))
    return dict(a=(y.shape, y.dtype, i.dtype), b=(y2.shape, y2.dtype))


@program
def fractional_max_pool3d_shapes(lib):
    m = lib.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 0.6))
    y = m(_x(lib, 1, 2, 6, 6, 5))
    return (y.shape, y.dtype)


@program
def fractional_max_pool_needs_size(lib):
    return err(lambda: lib.nn.FractionalMaxPool2d(2))


# ----------------------------------------------------------------------------------------------
# resampling
# ----------------------------------------------------------------------------------------------
def _interp(lib, shape, **kw):
    return _fn(lib, lambda x: lib.nn.functional.interpolate(x, **kw), _x(lib, *shape))


@program
def interp_nearest_scale_fraction(lib):
    return _interp(lib, (1, 2, 5, 7), scale_factor=1.7, mode="nearest")


@program
def interp_nearest_exact_downscale(lib):
    return _interp(lib, (1, 2, 9, 7), size=(4, 5), mode="nearest-exact")


@program
def interp_nearest1d_recompute(lib):
    return _interp(lib, (2, 3, 7), scale_factor=1.5, mode="nearest",
                   recompute_scale_factor=True)


@program
def interp_bilinear_align_corners(lib):
    return _interp(lib, (2, 2, 4, 5), size=(7, 3), mode="bilinear", align_corners=True)


@program
def interp_bilinear_scale_no_recompute(lib):
    return _interp(lib, (1, 2, 5, 6), scale_factor=(1.3, 0.7), mode="bilinear")


@program
def interp_bilinear_scale_recompute(lib):
    return _interp(lib, (1, 2, 5, 6), scale_factor=(1.3, 0.7), mode="bilinear",
                   recompute_scale_factor=True)


@program
def interp_bicubic(lib):
    return _interp(lib, (1, 2, 5, 6), size=(9, 4), mode="bicubic", align_corners=False)


@program
def interp_bicubic_align_corners(lib):
    return _interp(lib, (1, 1, 4, 4), scale_factor=2.5, mode="bicubic", align_corners=True)


@program
def interp_bilinear_antialias(lib):
    return _interp(lib, (1, 2, 12, 10), size=(5, 4), mode="bilinear", antialias=True)


@program
def interp_bicubic_antialias(lib):
    return _interp(lib, (1, 2, 11, 9), scale_factor=0.4, mode="bicubic", antialias=True)


@program
def interp_trilinear(lib):
    return _interp(lib, (1, 2, 3, 4, 5), size=(5, 3, 7), mode="trilinear")


@program
def interp_trilinear_align_corners(lib):
    return _interp(lib, (1, 1, 3, 3, 3), scale_factor=(2, 1.5, 0.5), mode="trilinear",
                   align_corners=True)


@program
def interp_linear1d(lib):
    return _interp(lib, (2, 3, 5), scale_factor=2.2, mode="linear")


@program
def interp_area(lib):
    return _interp(lib, (1, 2, 7, 9), size=(3, 4), mode="area")


@program
def interp_area_upsample_3d(lib):
    return _interp(lib, (1, 1, 2, 3, 3), size=(3, 5, 2), mode="area")


@program
def interp_nearest3d(lib):
    return _interp(lib, (1, 1, 2, 3, 3), scale_factor=(2.0, 1.5, 0.7), mode="nearest")


@program
def interp_align_corners_with_nearest(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3), scale_factor=2,
                                                     mode="nearest", align_corners=True))


@program
def interp_both_size_and_scale(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3), size=4,
                                                     scale_factor=2))


@program
def interp_neither_size_nor_scale(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3)))


@program
def interp_bilinear_on_3d_input(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3), scale_factor=2,
                                                     mode="bilinear"))


@program
def interp_wrong_size_len(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3), size=(2, 3, 4)))


@program
def interp_antialias_nearest(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 4, 4), size=2,
                                                     mode="nearest", antialias=True))


@program
def interp_bad_mode(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 4, 4), size=2,
                                                     mode="cubic"))


@program
def upsample_module_bilinear_float32(lib):
    m = lib.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    return _fn(lib, m, _x(lib, 2, 2, 3, 4, dtype="float32"))


@program
def upsampling_nearest2d_module(lib):
    return _fn(lib, lib.nn.UpsamplingNearest2d(size=(5, 7)), _x(lib, 1, 2, 3, 4))


@program
def upsampling_bilinear2d_module(lib):
    return _fn(lib, lib.nn.UpsamplingBilinear2d(scale_factor=1.5), _x(lib, 1, 2, 3, 4))


@program
def interp_zero_batch(lib):
    return _interp(lib, (0, 2, 3, 4), scale_factor=2, mode="bilinear")


@program
def interp_nearest_integer_dtype(lib):
    x = lib.arange(12).reshape(1, 1, 3, 4)
    return lib.nn.functional.interpolate(x, scale_factor=2, mode="nearest")


@program
def pixel_shuffle_unshuffle(lib):
    x = _x(lib, 2, 8, 3, 4)
    y = lib.nn.PixelShuffle(2)(x)
    z = lib.nn.PixelUnshuffle(2)(y * 2)
    (z * lib.tensor(_rand(*z.shape, seed=2))).sum().backward()
    return dict(y=y, z=z, gx=x.grad)


@program
def pixel_shuffle_unbatched_and_5d(lib):
    a = lib.nn.functional.pixel_shuffle(_x(lib, 9, 2, 2, grad=False), 3)
    b = lib.nn.functional.pixel_unshuffle(_x(lib, 2, 3, 1, 4, 6, grad=False), 2)
    return dict(a=a, b=b)


@program
def pixel_shuffle_bad_channels(lib):
    return err(lambda: lib.nn.PixelShuffle(2)(_x(lib, 1, 6, 2, 2)))


@program
def pixel_unshuffle_bad_size(lib):
    return err(lambda: lib.nn.PixelUnshuffle(2)(_x(lib, 1, 1, 3, 4)))


@program
def unfold_fold_padding_stride_dilation(lib):
    x = _x(lib, 2, 3, 7, 8)
    kw = dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 3))
    cols = lib.nn.Unfold(**kw)(x)
    back = lib.nn.Fold(output_size=(7, 8), **kw)(cols * 1.5)
    (back * lib.tensor(_rand(*back.shape, seed=3))).sum().backward()
    return dict(cols=cols, back=back, gx=x.grad)


@program
def fold_unbatched(lib):
    cols = _x(lib, 12, 6)
    y = lib.nn.functional.fold(cols, (3, 4), 2, stride=1)
    y.sum().backward()
    return dict(y=y, g=cols.grad)


@program
def fold_wrong_block_count(lib):
    return err(lambda: lib.nn.functional.fold(_x(lib, 1, 12, 5), (3, 4), 2))


@program
def fold_channels_not_divisible(lib):
    return err(lambda: lib.nn.functional.fold(_x(lib, 1, 10, 6), (3, 4), 2))


@program
def unfold_3d_input(lib):
    y = lib.nn.functional.unfold(_x(lib, 3, 5, 5, grad=False), 2, stride=2)
    return y


@program
def pad_modes(lib):
    F = lib.nn.functional
    x = _x(lib, 1, 2, 4, 5)
    outs = [F.pad(x, (1, 2, 3, 0), mode="reflect"),
            F.pad(x, (2, 1, 0, 3), mode="replicate"),
            F.pad(x, (3, 1, 2, 2), mode="circular"),
            F.pad(x, (-1, 2, 1, -2), value=0.5)]
    sum(((o * lib.tensor(_rand(*o.shape, seed=i))).sum() for i, o in enumerate(outs))).backward()
    return dict(outs=outs, gx=x.grad)


@program
def pad_reflect_too_large(lib):
    return err(lambda: lib.nn.functional.pad(_x(lib, 1, 2, 4), (4, 0), mode="reflect"))


@program
def pad_circular_too_large(lib):
    return err(lambda: lib.nn.functional.pad(_x(lib, 1, 2, 4), (5, 0), mode="circular"))


@program
def pad_reflect_3d_unbatched(lib):
    x = _x(lib, 2, 3, 4, 3)
    return _fn(lib, lambda t: lib.nn.functional.pad(t, (1, 1, 2, 0, 1, 2), mode="reflect"), x)


@program
def pad_replicate_wrong_len(lib):
    return err(lambda: lib.nn.functional.pad(_x(lib, 1, 2, 4), (1, 1, 1, 1, 1, 1),
                                             mode="replicate"))


@program
def pad_odd_length(lib):
    return err(lambda: lib.nn.functional.pad(_x(lib, 1, 2, 4), (1, 1, 1)))


@program
def padding_modules(lib):
    x = _x(lib, 1, 2, 3, 4)
    outs = [lib.nn.ReflectionPad2d((1, 2, 0, 2))(x), lib.nn.ReplicationPad2d(2)(x),
            lib.nn.CircularPad2d((1, 0, 2, 1))(x), lib.nn.ZeroPad2d((1, 1, -1, 0))(x),
            lib.nn.ConstantPad1d(2, 3.5)(x)]
    sum(o.sum() for o in outs).backward()
    return dict(outs=outs, gx=x.grad)


@program
def interp_bilinear_integer_dtype(lib):
    x = lib.arange(24, dtype=lib.int32).reshape(2, 3, 2, 2)
    return lib.nn.functional.interpolate(x, size=(3, 3), mode="bilinear")


@program
def interp_nearest_integer_1d_and_uint8(lib):
    F = lib.nn.functional
    a = err(lambda: F.interpolate(lib.arange(6).reshape(1, 2, 3), scale_factor=2))
    b = F.interpolate(lib.arange(8, dtype=lib.uint8).reshape(1, 2, 2, 2), size=(3, 5),
                      mode="bilinear")
    return dict(a=a, b=b)


def _layout(lib, y):
    return (y.shape, y.is_contiguous(), y.is_contiguous(memory_format=lib.channels_last))


@program
def channels_last_layouts_kept(lib):
    x = _x(lib, 2, 3, 5, 6, grad=False).contiguous(memory_format=lib.channels_last)
    F = lib.nn.functional
    conv = _conv(lib, "Conv2d", 3, 4, 3, padding=1)
    w = lib.tensor(_rand(4, 3, 3, 3, seed=2)).contiguous(memory_format=lib.channels_last)
    outs = [conv(x), F.conv2d(x.contiguous(), w), F.conv_transpose2d(x, w.transpose(0, 1)),
            F.conv2d(x[:, :, ::2], w), F.max_pool2d(x, 2),
            F.max_pool2d(x, 3, 2, 1, return_indices=True)[1], F.avg_pool2d(x, 2),
            F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), F.adaptive_avg_pool2d(x, 3),
            F.adaptive_max_pool2d(x, 3), F.adaptive_max_pool2d(x, 2, return_indices=True)[1],
            F.lp_pool2d(x, 2, 2), lib.nn.PixelShuffle(1)(x)]
    # (interpolate and pad keep the layout in PyTorch and not in minigrad: values only)
    resampled = [F.interpolate(x, scale_factor=2, mode="nearest"),
                 F.interpolate(x, scale_factor=2, mode="bilinear"), F.pad(x, (1, 1, 1, 1))]
    x5 = lib.tensor(_rand(1, 2, 3, 4, 5)).contiguous(memory_format=lib.channels_last_3d)
    cube = [F.adaptive_max_pool3d(x5, 2), F.avg_pool3d(x5, 2), F.adaptive_avg_pool3d(x5, 2)]
    return dict(outs=[(_layout(lib, y), y) for y in outs + cube], resampled=resampled)


@program
def conv2d_float16_backward(lib):
    m = _conv(lib, "Conv2d", 2, 2, 2, stride=2, dtype="float16")
    return _run(lib, m, _x(lib, 1, 2, 4, 4, dtype="float16"))


@program
def pools_float16(lib):
    F = lib.nn.functional
    x = _x(lib, 1, 2, 6, 6, dtype="float16", grad=False)
    return [F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
            F.adaptive_avg_pool2d(x, 4), F.adaptive_max_pool2d(x, 4),
            F.interpolate(x, scale_factor=2, mode="nearest")]


@program
def conv2d_wrong_padding_tuple(lib):
    return err(lambda: lib.nn.functional.conv2d(_x(lib, 1, 1, 4, 4), _x(lib, 1, 1, 2, 2),
                                                padding=(1, 1, 1)))


@program
def max_pool2d_zero_stride(lib):
    return err(lambda: lib.nn.functional.max_pool2d(_x(lib, 1, 1, 4, 4), 2, stride=0))


@program
def max_pool2d_zero_kernel(lib):
    return err(lambda: lib.nn.functional.max_pool2d(_x(lib, 1, 1, 4, 4), 0))


@program
def avg_pool2d_wrong_rank(lib):
    return err(lambda: lib.nn.functional.avg_pool2d(_x(lib, 4, 4), 2))


@program
def interp_scale_factor_wrong_len(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3),
                                                     scale_factor=(2, 2, 2)))


@program
def interp_recompute_with_size(lib):
    return err(lambda: lib.nn.functional.interpolate(_x(lib, 1, 1, 3, 3), size=5,
                                                     recompute_scale_factor=True))


@program
def interp_nearest_exact_upscale_float32(lib):
    return _fn(lib, lambda t: lib.nn.functional.interpolate(t, scale_factor=(1.6, 2.3),
                                                           mode="nearest-exact"),
               _x(lib, 1, 2, 5, 4, dtype="float32"))


@program
def interp_area_scale_factor(lib):
    return _interp(lib, (2, 2, 9), scale_factor=0.45, mode="area")


@program
def unfold_5d_refused(lib):
    return err(lambda: lib.nn.functional.unfold(_x(lib, 1, 1, 2, 4, 4), 2))


@program
def unfold_kernel_too_large(lib):
    return err(lambda: lib.nn.functional.unfold(_x(lib, 1, 1, 3, 3), 4))


@program
def adaptive_avg_pool2d_zero_batch(lib):
    return _fn(lib, lib.nn.AdaptiveAvgPool2d((2, 3)), _x(lib, 0, 2, 5, 5))


@program
def max_pool2d_zero_batch_indices(lib):
    y, i = lib.nn.functional.max_pool2d(_x(lib, 0, 2, 5, 5), 2, return_indices=True)
    return dict(y=y, i=i)


@program
def conv_transpose2d_channels_last_output_size(lib):
    m = _conv(lib, "ConvTranspose2d", 3, 4, 3, stride=2, padding=1)
    x = _x(lib, 1, 3, 4, 4, grad=False).contiguous(memory_format=lib.channels_last)
    y = m(x, output_size=(8, 8))
    return dict(y=y, layout=_layout(lib, y))


@program
def conv3d_channels_last_3d(lib):
    m = _conv(lib, "Conv3d", 2, 3, 2)
    x = _x(lib, 1, 2, 3, 4, 4, grad=False).contiguous(memory_format=lib.channels_last_3d)
    y = m(x)
    return dict(y=y, cl=y.is_contiguous(memory_format=lib.channels_last_3d))


@program
def lp_pool2d_negative_input(lib):
    m = lib.nn.LPPool2d(2, 2)
    return _fn(lib, m, _x(lib, 1, 2, 4, 4))


@program
def upsample_repr_and_extra(lib):
    return [repr(lib.nn.Upsample(scale_factor=2.0, mode="bilinear")),
            repr(lib.nn.Upsample(size=(3, 4))), repr(lib.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
            repr(lib.nn.AvgPool1d(3, count_include_pad=False)),
            repr(lib.nn.LPPool2d(2, 3)), repr(lib.nn.AdaptiveMaxPool2d((None, 3))),
            repr(lib.nn.Fold((4, 5), 2, padding=1)), repr(lib.nn.PixelUnshuffle(2)),
            repr(_conv(lib, "ConvTranspose2d", 2, 2, 3, output_padding=1, stride=2,
                       padding_mode="zeros", dilation=2)),
            repr(_conv(lib, "Conv1d", 2, 2, 3, padding="same", padding_mode="circular"))]


@pytest.mark.parametrize("program", PROGRAMS, ids=lambda p: p.__name__)
def test_program_matches_torch(program):
    HARNESS.check(program)
