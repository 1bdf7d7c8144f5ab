"""Core layers on adversarial and edge-case inputs, found to differ from PyTorch by side-by-side
probes, now matched.

Covers: ``lp_pool``'s gradient where a window sums to 0, ``F.pad``'s argument checks, the
unit-size warning of ``affine_grid``, ``grid_sample`` on empty batches and empty spatial dims,
``F.linear``'s argument types, the lazy convolutions' channel checks, ``unflatten``'s size
checks, convolutions of inputs with an empty spatial dim, and ``F.interpolate``'s nearest
positions (floored in float32 as PyTorch's kernels do), its unchanged dims and its fresh
result tensor.
Every test runs the same code on torch and on minigrad and compares the two.
"""
import functools
import warnings

import numpy as np
import pytest
import torch

import minigrad
from torch_agreement import TORCH_FIRST, both

LIBS = (torch, minigrad)

# fn(lib) in each library: [fn(torch), fn(minigrad)]
_both = functools.partial(both, order=TORCH_FIRST)


def _np(t):
    return np.asarray(t.detach().numpy())


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _same_error(fn, exc, words):
    """Both libraries raise ``exc`` whose message holds ``words``."""
    for L in LIBS:
        with pytest.raises(exc, match=words):
            fn(L)


# ------------------------------------------------------------------------------------------
# lp_pool: a window of zeros has gradient 0 (not nan), to the second order
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd, shape, norm", [(1, (2, 3, 8), 2), (2, (1, 2, 4, 6), 2),
                                             (2, (1, 2, 4, 6), 3), (3, (1, 1, 4, 4, 4), 1.5)])
def test_lp_pool_gradient_of_zero_windows_like_torch(nd, shape, norm):
    x = np.abs(_rand(*shape))              # positive: no nan root of a negative sum
    x[..., :2] = 0.0                       # whole windows of zeros next to ordinary ones
    got = []
    for L in LIBS:
        t = L.tensor(x, requires_grad=True)
        y = getattr(L.nn.functional, f"lp_pool{nd}d")(t, norm, 2)
        g, = L.autograd.grad(y.pow(2).sum() + y.sum(), t, create_graph=True)
        gg, = L.autograd.grad(g.pow(2).sum(), t)
        got.append([_np(y), _np(g), _np(gg)])
    for a, b in zip(*got):
        np.testing.assert_allclose(b, a, rtol=1e-7, atol=1e-10, equal_nan=True)
    assert not np.isnan(got[1][1]).any()


# ------------------------------------------------------------------------------------------
# F.pad
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_value_of_a_non_constant_mode_is_refused_before_the_size(mode):
    # a 2-element pad of a 4-d input is no supported size either: the value is checked first
    _same_error(lambda L: L.nn.functional.pad(L.zeros(1, 2, 3, 4), (1, 1), mode=mode,
                                              value=2.5),
                RuntimeError, "doesn't take in value argument")


def test_pad_amounts_as_a_tensor_are_refused():
    _same_error(lambda L: L.nn.functional.pad(L.zeros(2, 3), L.tensor([1, 1])), TypeError,
                "must be tuple of ints, not Tensor")


# ------------------------------------------------------------------------------------------
# affine_grid / grid_sample
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(2, 3, 1, 5), (2, 3, 1, 1), (2, 3, 4, 5)])
def test_affine_grid_warns_of_unit_sizes_with_align_corners(size):
    theta = _rand(2, 2, 3)
    seen, grids = [], []
    for L in LIBS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grids.append(_np(L.nn.functional.affine_grid(L.tensor(theta), size,
                                                         align_corners=True)))
        seen.append([str(w.message) for w in caught if "unit-size" in str(w.message)])
    assert len(seen[0]) == len(seen[1]) == (1 if 1 in size[2:] else 0)
    np.testing.assert_allclose(grids[1], grids[0], rtol=1e-12)


def test_grid_sample_of_an_empty_batch_like_torch():
    out = _both(lambda L: L.nn.functional.grid_sample(L.tensor(_rand(0, 3, 5, 6)),
                                                      L.tensor(_rand(0, 4, 7, 2)),
                                                      align_corners=False))
    assert tuple(out[0].shape) == tuple(out[1].shape) == (0, 3, 4, 7)


@pytest.mark.parametrize("shape, grid", [((2, 3, 0, 6), (2, 4, 7, 2)),
                                         ((1, 2, 3, 4, 0), (1, 2, 2, 2, 3))])
def test_grid_sample_of_an_empty_spatial_dim_is_refused(shape, grid):
    _same_error(lambda L: L.nn.functional.grid_sample(L.tensor(_rand(*shape)),
                                                      L.tensor(_rand(*grid)),
                                                      align_corners=False),
                RuntimeError, "expected input to have non-empty spatial dimensions")


# ------------------------------------------------------------------------------------------
# Linear and lazy convolutions
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["weight", "bias"])
def test_linear_refuses_a_weight_or_bias_that_is_no_tensor(which):
    def call(L):
        x, w, b = L.tensor(_rand(4, 5)), L.tensor(_rand(3, 5)), L.tensor(_rand(3))
        if which == "weight":
            return L.nn.functional.linear(x, _rand(3, 5), b)
        return L.nn.functional.linear(x, w, [1.0, 2.0, 3.0])
    _same_error(call, TypeError, f"argument '{which}' .* must be Tensor, not")


@pytest.mark.parametrize("cls", ["LazyConv2d", "LazyConvTranspose2d"])
def test_lazy_conv_checks_its_channels_against_groups_at_the_first_input(cls):
    # out_channels 4 is not divisible by groups 3: PyTorch builds the layer anyway
    reprs = _both(lambda L: repr(getattr(L.nn, cls)(4, 2, groups=3)))
    assert reprs[0] == reprs[1]
    # in_channels 4 (from the input) is not divisible by groups 3: refused at the first call
    _same_error(lambda L: getattr(L.nn, cls)(6, 2, groups=3)(L.zeros(1, 4, 5, 5)),
                ValueError, "in_channels must be divisible by groups")


# ------------------------------------------------------------------------------------------
# unflatten
# ------------------------------------------------------------------------------------------
def test_unflatten_refuses_float_sizes():
    _same_error(lambda L: L.zeros(2, 3).unflatten(1, (3.0, 1)), TypeError,
                "must be tuple of ints, but found element of type float at pos 0")


@pytest.mark.parametrize("n, sizes, words", [(3, (0, -1), "don't multiply up"),
                                             (0, (0, -1), "ambiguous"),
                                             (0, (-1, 0), "ambiguous")])
def test_unflatten_of_a_zero_size_like_torch(n, sizes, words):
    _same_error(lambda L: L.zeros(2, n).unflatten(1, sizes), RuntimeError, words)


# ------------------------------------------------------------------------------------------
# convolutions of inputs with an empty spatial dim
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, xs, ws, kw", [
    ("conv_transpose2d", (1, 4, 0, 5), (4, 3, 3, 3), {}),
    ("conv_transpose1d", (4, 0), (4, 3, 3), {}),
    ("conv_transpose3d", (2, 4, 0, 3, 3), (4, 3, 3, 3, 3), {}),
    ("conv1d", (1, 4, 0), (3, 4, 1), dict(padding=1)),
    ("conv2d", (1, 4, 0, 5), (3, 4, 1, 1), dict(padding=1)),
])
def test_convolution_of_an_empty_spatial_dim_is_refused(fn, xs, ws, kw):
    shapes = []
    for L in LIBS:
        with pytest.raises(RuntimeError, match="Only zero batch or zero channel inputs") as e:
            getattr(L.nn.functional, fn)(L.zeros(*xs), L.zeros(*ws), **kw)
        shapes.append(str(e.value).split("input shape:")[1])
    assert shapes[0] == shapes[1]


def test_transposed_convolution_of_an_empty_batch_still_runs():
    out = _both(lambda L: L.nn.functional.conv_transpose2d(L.zeros(0, 4, 0, 3),
                                                           L.zeros(4, 3, 3, 3)))
    assert tuple(out[0].shape) == tuple(out[1].shape)


# ------------------------------------------------------------------------------------------
# interpolate: nearest positions, unchanged dims, a fresh result
# ------------------------------------------------------------------------------------------
_SCALES = [1.3, 1 / 3, 0.7, 1.01, 1.039, 2.2, 7 / 5, 1.7, 0.55, 2.0, 0.5]


def _resize_pairs(nd, mode, dtype, given):
    """Both libraries' resizes of a ramp along the last dim, over lengths and scales."""
    out = []
    for n in (2, 3, 7, 13, 25, 31):
        for sf in _SCALES:
            size = int(np.floor(n * sf))
            if size < 1:
                continue
            shape = (1, 1) + (2,) * (nd - 1) + (n,)
            x = np.arange(np.prod(shape), dtype=dtype).reshape(shape)
            kw = dict(scale_factor=(1.0,) * (nd - 1) + (sf,)) if given == "scale" else \
                dict(size=(2,) * (nd - 1) + (size,))
            out.append(((n, sf), _both(lambda L: _np(L.nn.functional.interpolate(
                L.tensor(x), mode=mode, **kw)))))
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("given", ["scale", "size"])
@pytest.mark.parametrize("nd, mode", [(1, "nearest"), (2, "nearest"), (3, "nearest"),
                                      (1, "nearest-exact"), (2, "nearest-exact"),
                                      (1, "linear"), (2, "bilinear"), (3, "trilinear"),
                                      (2, "bicubic")])
def test_interpolate_positions_like_torch(nd, mode, given, dtype):
    for case, (theirs, mine) in _resize_pairs(nd, mode, dtype, given):
        assert mine.shape == theirs.shape, case
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-4, err_msg=str(case))


@pytest.mark.parametrize("mode, kw", [("bilinear", {}), ("bilinear", dict(antialias=True)),
                                      ("bicubic", dict(antialias=True)),
                                      ("bicubic", {})])
@pytest.mark.parametrize("scale", [1.01, (1.01, 1.1), (1.1, 1.01)])
def test_interpolate_dims_that_keep_their_size_like_torch(mode, kw, scale):
    x = np.arange(25 * 30, dtype=np.float64).reshape(1, 1, 25, 30)
    theirs, mine = _both(lambda L: _np(L.nn.functional.interpolate(
        L.tensor(x), scale_factor=scale, mode=mode, **kw)))
    np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_interpolate_uint8_dims_that_keep_their_size_like_torch(mode):
    x = (np.arange(25 * 30).reshape(1, 1, 25, 30) % 256).astype(np.uint8)
    theirs, mine = _both(lambda L: _np(L.nn.functional.interpolate(
        L.tensor(x), scale_factor=(1.01, 1.2), mode=mode)))
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("dtype, kw", [
    ("float64", dict(size=(4, 5))), ("float16", dict(size=(4, 5))),
    ("float64", dict(scale_factor=1.0)), ("float16", dict(scale_factor=1.0)),
    ("float64", dict(scale_factor=1.0, mode="bilinear")),
    ("float16", dict(scale_factor=1.0, mode="bilinear")),
    ("float64", dict(size=(4, 5), mode="bicubic", antialias=True))])
def test_interpolate_to_the_same_size_gives_a_new_tensor(dtype, kw):
    for L in LIBS:
        x = L.ones(1, 2, 4, 5, dtype=getattr(L, dtype), requires_grad=True)
        y = L.nn.functional.interpolate(x, **kw)
        assert y is not x and y.grad_fn is not None
        with L.no_grad():
            y.add_(1)                            # the input is not written through
        assert float(x.detach().float().sum()) == 40.0


# ------------------------------------------------------------------------------------------
# integer tensors of one element where an int (or a list of ints) is asked for
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.nn.functional.max_pool2d(x, L.tensor(2)),
    lambda L, x: L.nn.functional.avg_pool2d(x, L.tensor([2]), stride=(L.tensor(1), 2)),
    lambda L, x: L.nn.functional.conv2d(x, L.ones(2, 4, 2, 2, dtype=L.float64),
                                        stride=(L.tensor(2), 1)),
    lambda L, x: L.nn.functional.conv2d(x, L.ones(2, 4, 1, 1, dtype=L.float64),
                                        stride=L.tensor(2)),
    lambda L, x: L.nn.functional.pixel_shuffle(x, L.tensor(2)),
    lambda L, x: L.nn.ConvTranspose2d(4, 2, 3, stride=2).double()(
        x, output_size=[L.tensor(10), L.tensor(9)]).shape,
], ids=["max_pool", "avg_pool", "conv_stride_item", "conv_stride", "pixel_shuffle",
        "conv_transpose_output_size"])
def test_integer_tensors_are_read_as_ints(call):
    x = _rand(1, 4, 4, 4)
    theirs, mine = _both(lambda L: call(L, L.tensor(x)))
    if isinstance(theirs, torch.Size):
        assert tuple(theirs) == tuple(mine)
    else:
        np.testing.assert_allclose(_np(mine), _np(theirs), rtol=1e-12)


@pytest.mark.parametrize("call", [
    lambda L, x: L.nn.functional.max_pool2d(x, L.tensor(2.0)),
    lambda L, x: L.nn.functional.pixel_shuffle(x, L.tensor([2])),
])
def test_other_tensors_are_no_ints(call):
    _same_error(lambda L: call(L, L.zeros(1, 4, 4, 4)), TypeError, "must be")


# ------------------------------------------------------------------------------------------
# ConvTranspose: PyTorch's _output_padding signature, for subclasses
# ------------------------------------------------------------------------------------------
def _filled(L, module):
    with L.no_grad():
        for p in module.parameters():
            p.copy_(L.tensor(_rand(*p.shape, seed=p.ndim)))
    return module


def test_conv_transpose_subclass_calls_output_padding_like_torch():
    x = _rand(2, 4, 7, 7)

    def run(L):
        class Doubled(L.nn.ConvTranspose2d):
            def forward(self, input, output_size=None):
                pads = self._output_padding(input, output_size, self.stride, self.padding,
                                            self.kernel_size, 2, self.dilation)
                return L.nn.functional.conv_transpose2d(input, self.weight * 2, self.bias,
                                                        self.stride, self.padding, pads,
                                                        self.groups, self.dilation)
        m = _filled(L, Doubled(4, 6, 3, stride=2).double())
        pads = m._output_padding(L.tensor(x), (15, 16), m.stride, m.padding, m.kernel_size, 2)
        return list(pads), _np(m(L.tensor(x), output_size=[16, 16])), _np(m(L.tensor(x)))
    theirs, mine = _both(run)
    assert theirs[0] == mine[0] == [0, 1]
    for a, b in zip(theirs[1:], mine[1:]):
        np.testing.assert_allclose(b, a, rtol=1e-12)


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("size", [[6, 15, 16], [2, 6, 15, 16], [1, 2, 6, 15, 16]])
def test_conv_transpose_output_size_with_leading_dims_like_torch(size, batched):
    x = _rand(2, 4, 7, 7) if batched else _rand(4, 7, 7)
    got = []
    for L in LIBS:
        m = _filled(L, L.nn.ConvTranspose2d(4, 6, 3, stride=2).double())
        try:
            got.append(_np(m(L.tensor(x), output_size=size)))
        except ValueError as e:
            got.append(str(e).split(":")[0])
    if isinstance(got[0], str):
        assert got[0] == got[1]
    else:
        np.testing.assert_allclose(got[1], got[0], rtol=1e-12)


# ------------------------------------------------------------------------------------------
# depthwise transposed convolutions whose output_padding adds cells no window reaches
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xs, ws, kw", [
    ((2, 2, 1, 4), (2, 1, 3, 1), dict(padding=(1, 0), output_padding=(1, 0), groups=2,
                                      dilation=(2, 1))),
    ((2, 4, 12, 12), (4, 1, 3, 3), dict(dilation=2, output_padding=1, groups=4, padding=1)),
    ((2, 4, 20, 20), (4, 1, 3, 3), dict(dilation=(2, 3), output_padding=(1, 2), groups=4,
                                        padding=(1, 2))),
    ((2, 4, 12), (4, 1, 3), dict(dilation=3, output_padding=2, groups=4)),
    ((1, 2, 5, 6, 7), (2, 1, 2, 3, 2), dict(dilation=2, output_padding=1, groups=2, padding=1)),
])
def test_depthwise_transposed_convolution_with_output_padding_like_torch(xs, ws, kw):
    x, w = _rand(*xs, seed=1), _rand(*ws, seed=2)

    def run(L):
        t, k = L.tensor(x, requires_grad=True), L.tensor(w, requires_grad=True)
        y = getattr(L.nn.functional, f"conv_transpose{len(xs) - 2}d")(t, k, **kw)
        gx, gw = L.autograd.grad(y.pow(2).sum(), (t, k), create_graph=True)
        ggx, ggw = L.autograd.grad(gx.pow(2).sum() + gw.pow(2).sum(), (t, k))
        return [_np(v) for v in (y, gx, gw, ggx, ggw)]
    for a, b in zip(*_both(run)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


def test_channel_shuffle_of_too_few_dims_words_like_torch():
    _same_error(lambda L: L.nn.functional.channel_shuffle(L.zeros(2, 6), 2), RuntimeError,
                r"channel_shuffle expects input with > 2 dims")


# ------------------------------------------------------------------------------------------
# interpolate: lanczos, and the dtypes of the anti-aliased kernels
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [(3, 4), (9, 11), (4, 22), (18, 5), (27, 33)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lanczos_resize_and_its_gradient_like_torch(size, dtype):
    x = _rand(2, 3, 9, 11).astype(dtype)

    def run(L):
        t = L.tensor(x, requires_grad=True)
        y = L.nn.functional.interpolate(t, size=size, mode="lanczos", antialias=True)
        g, = L.autograd.grad(y.pow(3).sum(), t, create_graph=True)
        gg, = L.autograd.grad(g.pow(2).sum(), t)
        return [_np(v) for v in (y, g, gg)]
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for a, b in zip(*_both(run)):
        np.testing.assert_allclose(b, a, rtol=tol, atol=tol * np.abs(a).max())


@pytest.mark.parametrize("size", [(3, 4), (18, 5)])
def test_lanczos_resize_of_uint8_like_torch(size):
    x = (np.abs(_rand(2, 3, 9, 11)) * 80).astype(np.uint8)
    theirs, mine = _both(lambda L: _np(L.nn.functional.interpolate(
        L.tensor(x), size=size, mode="lanczos", antialias=True)))
    np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("kw, exc, words", [
    (dict(), ValueError, "Lanczos mode requires antialias=True"),
    (dict(antialias=True, align_corners=True), ValueError, "does not support align_corners"),
])
def test_lanczos_refusals_like_torch(kw, exc, words):
    _same_error(lambda L: L.nn.functional.interpolate(L.zeros(1, 1, 4, 4), size=3,
                                                      mode="lanczos", **kw), exc, words)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "int64"])
def test_antialiased_resize_refuses_other_dtypes_like_torch(mode, dtype):
    _same_error(lambda L: L.nn.functional.interpolate(
        L.ones(1, 1, 4, 4).to(getattr(L, dtype)), size=3, mode=mode, antialias=True),
        NotImplementedError, "compute_index_ranges_weights")


def test_upsample_keeps_its_class_name():
    names = _both(lambda L: [L.nn.Upsample(size=2).name,
                             L.nn.UpsamplingNearest2d(scale_factor=2).name,
                             L.nn.UpsamplingBilinear2d(scale_factor=2).name])
    assert names[0] == names[1]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "complex64", "complex128"])
def test_conv_bias_dtype_message_names_the_cpp_type_like_torch(dtype):
    messages = []
    for L in LIBS:
        dt = getattr(L, dtype)
        with pytest.raises(RuntimeError) as e:
            L.nn.functional.conv2d(L.ones(1, 1, 3, 3, dtype=dt), L.ones(1, 1, 1, 1, dtype=dt),
                                   L.ones(1))
        messages.append(str(e.value))
    assert messages[0] == messages[1]


# ------------------------------------------------------------------------------------------
# channels-last inputs give channels-last results where PyTorch's kernels allocate them so
# ------------------------------------------------------------------------------------------
def _layout_case(L, kind):
    x = L.tensor(_rand(2, 8, 4, 6))
    if kind == "channels_last":
        return x.contiguous(memory_format=L.channels_last)
    if kind == "channels_last_3d":
        return L.tensor(_rand(2, 4, 3, 4, 6)).contiguous(memory_format=L.channels_last_3d)
    return x.transpose(2, 3) if kind == "transposed" else x


_LAYOUT_OPS = {
    "pad_constant": lambda F, x: F.pad(x, (1, 2, 1, 1), value=0.5),
    "pad_constant_channels": lambda F, x: F.pad(x, (1, 1, 1, 1, 1, 1)),
    "pad_reflect": lambda F, x: F.pad(x, (1, 2, 1, 1) + (1, 1) * (x.ndim == 5), mode="reflect"),
    "pad_replicate": lambda F, x: F.pad(x, (1, 1, 1, 1) + (1, 1) * (x.ndim == 5),
                                        mode="replicate"),
    "pad_circular": lambda F, x: F.pad(x, (1, 1, 1, 1) + (1, 1) * (x.ndim == 5),
                                       mode="circular"),
    "pad_nothing": lambda F, x: F.pad(x, (0, 0) * (x.ndim - 2), mode="reflect"),
    "interpolate_nearest": lambda F, x: F.interpolate(x, scale_factor=2),
    "interpolate_linear": lambda F, x: F.interpolate(
        x, scale_factor=1.5, mode="bilinear" if x.ndim == 4 else "trilinear"),
    "interpolate_same_size": lambda F, x: F.interpolate(x, scale_factor=1),
    "interpolate_area": lambda F, x: F.interpolate(x, size=(2,) * (x.ndim - 2), mode="area"),
    "pixel_shuffle": lambda F, x: F.pixel_shuffle(x, 2) if x.ndim == 4 else x + 0,
    "pixel_unshuffle": lambda F, x: F.pixel_unshuffle(x, 2) if x.ndim == 4 else x + 0,
    "channel_shuffle": lambda F, x: F.channel_shuffle(x, 2),
    "max_unpool": lambda F, x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2)
    if x.ndim == 4 else x + 0,
}


@pytest.mark.parametrize("kind", ["channels_last", "channels_last_3d", "contiguous"])
@pytest.mark.parametrize("op", sorted(_LAYOUT_OPS))
def test_result_layout_like_torch(op, kind):
    def run(L):
        x = _layout_case(L, kind).requires_grad_()
        y = _LAYOUT_OPS[op](L.nn.functional, x)
        y.pow(2).sum().backward()
        return tuple(y.stride()), _np(y), _np(x.grad)
    theirs, mine = _both(run)
    assert theirs[0] == mine[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-12)


@pytest.mark.parametrize("nd", [2, 3])
@pytest.mark.parametrize("order", ["last_two_swapped", "batch_inside"])
def test_max_pool_of_a_permuted_dense_input_is_row_major_like_torch(nd, order):
    def run(L):
        x = L.tensor(_rand(2, 4, 6, 8, 6)[(0,) * (3 - nd)])
        dims = list(range(x.ndim))
        if order == "last_two_swapped":
            dims[-1], dims[-2] = dims[-2], dims[-1]
        else:
            dims[0], dims[1] = dims[1], dims[0]
        x = x.permute(*dims).contiguous().permute(*dims).requires_grad_()
        y = getattr(L.nn.functional, f"max_pool{nd}d")(x, 2)
        y.pow(2).sum().backward()
        return tuple(y.stride()), _np(y), _np(x.grad)
    theirs, mine = _both(run)
    assert theirs[0] == mine[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-12)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-12)


# ------------------------------------------------------------------------------------------
# pools' flags are Python bools; avg_pool's divisor may be an integer tensor
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, words", [
    (lambda F, x: F.max_pool2d(x, 2, ceil_mode=1),
     r"'ceil_mode' \(position 6\) must be bool, not int"),
    (lambda F, x: F.max_pool2d(x, 2, ceil_mode=None, return_indices=True),
     r"max_pool2d_with_indices\(\): argument 'ceil_mode' .*not NoneType"),
    (lambda F, x: F.max_pool1d(x[0], 2, ceil_mode="yes"), "must be bool, not str"),
    (lambda F, x: F.max_pool3d(x[None], 2, ceil_mode=np.bool_(True)), "must be bool, not numpy"),
    (lambda F, x: F.avg_pool2d(x, 2, count_include_pad=0), "'count_include_pad' must be bool"),
    (lambda F, x: F.avg_pool1d(x[0], 2, ceil_mode=1), "'ceil_mode' must be bool, not int"),
    (lambda F, x: F.avg_pool3d(x[None], 2, count_include_pad=None), "must be bool, not NoneType"),
])
def test_pool_flags_must_be_bools(call, words):
    _same_error(lambda L: call(L.nn.functional, L.zeros(2, 3, 6, 6)), TypeError, words)


def test_avg_pool_divisor_may_be_an_integer_tensor():
    x = _rand(2, 3, 6, 6)
    theirs, mine = _both(lambda L: _np(L.nn.functional.avg_pool2d(
        L.tensor(x), 3, divisor_override=L.tensor(2))))
    np.testing.assert_allclose(mine, theirs, rtol=1e-12)


@pytest.mark.parametrize("shape, kw", [
    ((1, 2, 5, 7), dict(scale_factor=(1.01, 0.5), mode="bicubic", antialias=True)),
    ((1, 2, 8, 2), dict(scale_factor=(1.01, 2.5), mode="bicubic", antialias=True)),
    ((1, 2, 6, 6), dict(scale_factor=1.01, mode="bilinear", antialias=True)),
    ((1, 2, 9, 6), dict(scale_factor=(0.5, 1.1), mode="lanczos", antialias=True)),
])
def test_antialiased_gradient_of_a_dim_that_keeps_its_size_like_torch(shape, kw):
    # PyTorch's forward copies such a dim, its backward resizes it all the same
    x = _rand(*shape)

    def run(L):
        t = L.tensor(x, requires_grad=True)
        y = L.nn.functional.interpolate(t, **kw)
        g, = L.autograd.grad(y.pow(3).sum(), t, create_graph=True)
        gg, = L.autograd.grad(g.pow(2).sum(), t)
        return [_np(v) for v in (y, g, gg)]
    for a, b in zip(*_both(run)):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9)


# ------------------------------------------------------------------------------------------
# bilinear: PyTorch compares the sizes before the weight's rank
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shapes, exc, words", [
    (((4, 5), (3, 6), (3, 5, 6)), RuntimeError, "batch dimensions do not match at dim 0"),
    (((4, 5), (4, 6), (3, 5)), IndexError, r"expected to be in range of \[-2, 1\], but got 2"),
    (((4, 6), (4, 6), (3, 5)), RuntimeError, "input1 size does not match weight size"),
    (((4, 5), (4, 6), (3,)), IndexError, "but got 1"),
    (((4, 5), (4, 6), ()), IndexError, "Dimension specified as 1 but tensor has no dimensions"),
    (((4, 5), (4, 6), (3, 5, 6, 1)), RuntimeError, "number of dimensions must match"),
])
def test_bilinear_checks_in_torch_order(shapes, exc, words):
    _same_error(lambda L: L.nn.functional.bilinear(*(L.tensor(_rand(*s)) for s in shapes)),
                exc, words)
