"""Regression tests for the round-12b fuzzer's finds (random calls of nn.functional and the nn
layers: convolutions, pools, resizing, padding, normalisation, losses, activations, embedding
and distances, on adversarial arguments, dtypes and layouts): each case runs the same code on
PyTorch and on minigrad and compares values, dtypes, shapes, gradients, the exception types and
the strides of the results (where PyTorch's kernels fix them)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402

RNG = np.random.default_rng(122)
X3 = RNG.standard_normal((2, 4, 9))
X4 = RNG.standard_normal((2, 4, 6, 7))
X5 = RNG.standard_normal((2, 4, 6, 6, 6))


def _layout(lib, a, kind):
    """``a`` as a tensor laid out as ``kind`` says: row-major, channels-last (3-d for 5-d),
    transposed in its last two dims, broadcast along dim 0, or with dim 0 innermost."""
    t = lib.tensor(a)
    if kind == "channels_last":
        return t.to(memory_format=lib.channels_last if a.ndim == 4 else lib.channels_last_3d)
    if kind == "transposed":
        return t.transpose(-1, -2).contiguous().transpose(-1, -2)
    if kind == "expanded":
        return lib.tensor(a[:1]).expand(*a.shape)
    if kind == "batch_inner":
        return lib.tensor(np.ascontiguousarray(np.moveaxis(a, 0, -1))).movedim(-1, 0)
    return t


def _same_strides(fn, atol=None):
    """fn(lib) agrees in both libraries (to ``atol`` where given: a float16 result rounded
    differently), and so do the strides of its tensors (those of the dims longer than 1: the
    others' are free)."""
    flat = (lambda o: list(o) if isinstance(o, (tuple, list)) else [o])
    if atol is None:
        mine, theirs = agree(fn)
    else:
        mine, theirs = fn(minigrad), fn(torch)
        for m, t in zip(flat(mine), flat(theirs)):
            np.testing.assert_allclose(m.detach().float().numpy(), t.detach().float().numpy(),
                                       rtol=atol, atol=atol)
    for m, t in zip(flat(mine), flat(theirs)):
        want = [s for s, n in zip(t.stride(), t.shape) if n > 1]
        got = [s for s, n in zip(m.stride(), m.shape) if n > 1]
        assert got == want, (m.stride(), t.stride())


# ---- resizing: uint8 bilinear/bicubic results were left with permuted strides --------------
@pytest.mark.parametrize("mode,antialias", [("bilinear", False), ("bicubic", False),
                                            ("bilinear", True), ("bicubic", True)])
@pytest.mark.parametrize("kind", ["contiguous", "channels_last"])
@pytest.mark.parametrize("size", [(5, 11), (14, 16)])
def test_interpolate_uint8_layout(mode, antialias, kind, size):
    img = (np.abs(X4) * 40).astype(np.uint8)
    _same_strides(lambda L: L.nn.functional.interpolate(
        _layout(L, img, kind), size=size, mode=mode, antialias=antialias))


# ---- F.pad: an empty pad in a non-constant mode is refused ---------------------------------
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_pad_empty_pad_non_constant_mode(mode, shape):
    agree(lambda L: L.nn.functional.pad(L.ones(shape), (), mode),
          match="Padding size 0 is not supported")


# ---- rms_norm: float32 inside for float16/bfloat16, float32's eps, the input's dtype --------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
@pytest.mark.parametrize("wdtype", [None, "float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("scale", [0.01, 1.0, 300.0])
def test_rms_norm_low_precision(dtype, wdtype, scale):
    w = np.linspace(0.5, 2, 30).reshape(5, 6)

    def fn(L):
        weight = None if wdtype is None else L.tensor(w, dtype=getattr(L, wdtype))
        x = L.tensor(X4[:, :, :5, :6] * scale, dtype=getattr(L, dtype))
        return L.nn.functional.rms_norm(x, (5, 6), weight).float()
    # the result has the input's dtype whatever the weight's
    dtypes = [str(lib.nn.functional.rms_norm(
        lib.ones(2, 6, dtype=getattr(lib, dtype)), (6,),
        None if wdtype is None else lib.ones(6, dtype=getattr(lib, wdtype))).dtype)
        for lib in (minigrad, torch)]
    assert dtypes[0].split(".")[-1] == dtypes[1].split(".")[-1] == dtype
    # values to within an ulp of the low-precision result
    m, t = (r.detach().numpy() for r in (fn(minigrad), fn(torch)))
    ulp = {"float16": 2 ** -10, "bfloat16": 2 ** -7, "float32": 2 ** -23}[dtype]
    np.testing.assert_allclose(m, t, rtol=2 * ulp, atol=1e-6)


def test_rms_norm_grads_mixed_weight():
    w = np.linspace(0.5, 2, 7)

    def run(lib):
        x = lib.tensor(X4, requires_grad=True)                   # float64
        weight = lib.tensor(w, dtype=lib.float32, requires_grad=True)
        out = lib.nn.functional.rms_norm(x, (7,), weight)
        (out * lib.tensor(np.cos(np.arange(out.numel())).reshape(out.shape))).sum().backward()
        return out, x.grad, weight.grad
    agree(run)


# ---- layouts of the normalisations ---------------------------------------------------------
NORMS = {
    "rms_norm": lambda L, x: L.nn.functional.rms_norm(x, x.shape[-1:]),
    "group_norm": lambda L, x: L.nn.functional.group_norm(x, 2),
    "group_norm_affine": lambda L, x: L.nn.functional.group_norm(
        x, 2, L.ones(4, dtype=x.dtype), L.zeros(4, dtype=x.dtype)),
    "instance_norm": lambda L, x: L.nn.functional.instance_norm(x),
    "layer_norm": lambda L, x: L.nn.functional.layer_norm(x, x.shape[-2:]),
    "layer_norm_affine": lambda L, x: L.nn.functional.layer_norm(
        x, x.shape[-1:], L.ones(x.shape[-1], dtype=x.dtype)),
    "batch_norm": lambda L, x: L.nn.functional.batch_norm(x, None, None, training=True),
    "batch_norm_eval": lambda L, x: L.nn.functional.batch_norm(
        x, L.zeros(4, dtype=x.dtype), L.ones(4, dtype=x.dtype), training=False),
}


@pytest.mark.parametrize("name", sorted(NORMS))
@pytest.mark.parametrize("kind", ["channels_last", "transposed", "batch_inner"])
@pytest.mark.parametrize("dtype", ["float64", "float16"])
@pytest.mark.parametrize("x", [X4, X5], ids=["4d", "5d"])
def test_normalisation_layouts(name, kind, dtype, x):
    _same_strides(lambda L: NORMS[name](L, _layout(L, x, kind).to(getattr(L, dtype))),
                  atol=2e-3 if dtype == "float16" else None)


@pytest.mark.parametrize("kind", ["transposed", "batch_inner"])
def test_batch_norm_layout_3d_input(kind):
    _same_strides(lambda L: L.nn.functional.batch_norm(_layout(L, X3, kind), None, None,
                                                       training=True))


# ---- local_response_norm: PyTorch's 3-d average pool has no bfloat16 kernel ----------------
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("x", [X3, X4], ids=["3d", "4d"])
def test_local_response_norm_low_precision(dtype, x):
    agree(lambda L: L.nn.functional.local_response_norm(
        L.tensor(x, dtype=getattr(L, dtype)), 2).float())


# ---- rrelu in eval: a row-major result whatever the layout ---------------------------------
@pytest.mark.parametrize("kind", ["contiguous", "channels_last", "transposed"])
def test_rrelu_eval_layout(kind):
    _same_strides(lambda L: L.nn.functional.rrelu(_layout(L, X4, kind), training=False))


# ---- relu of a broadcast tensor: row-major, not its 0-stride dim innermost -----------------
@pytest.mark.parametrize("x", [X3, X4], ids=["3d", "4d"])
def test_relu_of_expanded_layout(x):
    _same_strides(lambda L: L.relu(_layout(L, x, "expanded")))
    _same_strides(lambda L: L.nn.functional.relu(_layout(L, x, "expanded")))


# ---- normalize: negative orders, and float16's eps ----------------------------------------
_ZERO_ROW = np.vstack([np.zeros((1, 5)), RNG.standard_normal((3, 5))])
_ZERO_ROW[2, 1] = 0.0


@pytest.mark.parametrize("p", [-1.0, -0.5, -2.0, float("-inf")])
@pytest.mark.parametrize("eps", [1e-12, 0.5])
def test_normalize_negative_orders(p, eps):
    grads(lambda L, x: L.nn.functional.normalize(x, p, 1, eps), _ZERO_ROW)


@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, float("inf"), 0.5])
@pytest.mark.parametrize("eps", [1e-12, 1e-8, 1e-3])
def test_normalize_float16_zero_vector(p, eps):
    # an eps below float16's range is 0 there: a zero vector gives 0 / 0 = nan, as PyTorch's
    agree(lambda L: L.nn.functional.normalize(L.tensor(_ZERO_ROW, dtype=L.float16), p, 1,
                                              eps))


# ---- pdist / cdist -------------------------------------------------------------------------
def test_pdist_bfloat16_refused():
    agree(lambda L: L.nn.functional.pdist(L.ones(3, 2, dtype=L.bfloat16)),
          match="not implemented for 'BFloat16'")


@pytest.mark.parametrize("p", [0.0, 1.0, 2.0])
def test_pdist_and_cdist_gradients_of_order_zero(p):
    # PyTorch's distance kernels give a zero gradient for p = 0 (its norm gives none)
    rows = np.vstack([X4[0, 0, :4], X4[0, 0, :1]])
    grads(lambda L, x: L.nn.functional.pdist(x, p), rows)
    grads(lambda L, x: L.cdist(x[None], L.tensor(X4[0, 1:2, :3]), p), rows)


# ---- pools: the layouts of their values and indices ----------------------------------------
def test_max_pool3d_indices_channels_last_3d():
    _same_strides(lambda L: L.nn.functional.max_pool3d(_layout(L, X5, "channels_last"), 2,
                                                       return_indices=True))


@pytest.mark.parametrize("output_size", [(1, 2, 2), (1, 4, 2)])
def test_adaptive_max_pool3d_channels_last_3d_is_row_major(output_size):
    _same_strides(lambda L: L.nn.functional.adaptive_max_pool3d(
        _layout(L, X5, "channels_last"), output_size, True))


POOLS_1D = {
    "max": lambda L, x: L.nn.functional.max_pool1d(x, 2),
    "max_indices": lambda L, x: L.nn.functional.max_pool1d(x, 2, return_indices=True),
    "avg": lambda L, x: L.nn.functional.avg_pool1d(x, 2),
    "adaptive_max_equal": lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 3, True),
    "adaptive_max": lambda L, x: L.nn.functional.adaptive_max_pool1d(x, 4, True),
    "adaptive_avg": lambda L, x: L.nn.functional.adaptive_avg_pool1d(x, 4),
    "lp": lambda L, x: L.nn.functional.lp_pool1d(x, 2, 2),
    "area": lambda L, x: L.nn.functional.interpolate(x, 13, mode="area"),
}


@pytest.mark.parametrize("name", sorted(POOLS_1D))
@pytest.mark.parametrize("kind", ["transposed", "expanded", "batch_inner"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_pool1d_layouts(name, kind, requires_grad):
    def fn(L):
        x = _layout(L, X3, kind)
        if requires_grad:
            x = x.detach().requires_grad_()
        return POOLS_1D[name](L, x)
    _same_strides(fn)


# ---- argument forms refused as PyTorch refuses them ----------------------------------------
@pytest.mark.parametrize("ratio", [0.5, 1])
def test_fractional_max_pool2d_single_ratio_refused(ratio):
    # PyTorch's 2-d function takes the ratio's length before pairing it; its layer pairs it
    samples = RNG.random((2, 4, 2))
    agree(lambda L: L.nn.functional.fractional_max_pool2d(
        L.tensor(X4), 2, output_ratio=ratio, _random_samples=L.tensor(samples)),
        match="has no len()")
    agree(lambda L: L.nn.FractionalMaxPool2d(2, output_ratio=ratio,
                                             _random_samples=L.tensor(samples))(L.tensor(X4)))


@pytest.mark.parametrize("conv", ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"])
@pytest.mark.parametrize("name", ["stride", "dilation"])
@pytest.mark.parametrize("value", ["same", "valid"])
def test_conv_string_stride_or_dilation_refused(conv, name, value):
    nd = int(conv[-2])
    x, w = (X3, np.ones((4, 1, 2))) if nd == 1 else (X4, np.ones((4, 1, 2, 2)))
    agree(lambda L: getattr(L.nn.functional, conv)(L.tensor(x), L.tensor(w), **{name: value}),
          match="must be tuple of ints" if "transpose" in conv else
          "received an invalid combination of arguments")


@pytest.mark.parametrize("mode,x", [("linear", X3), ("bilinear", X4), ("bicubic", X4),
                                    ("trilinear", X5)])
@pytest.mark.parametrize("align_corners", [0, 1])
def test_interpolate_int_align_corners_refused(mode, x, align_corners):
    agree(lambda L: L.nn.functional.interpolate(L.tensor(x), scale_factor=2, mode=mode,
                                                align_corners=align_corners),
          match="received an invalid combination of arguments")


@pytest.mark.parametrize("kernel", [(2,), [2]])
def test_lp_pool1d_sequence_kernel_refused(kernel):
    agree(lambda L: L.nn.functional.lp_pool1d(L.tensor(X3), 2.0, kernel), match="mul()")
    agree(lambda L: L.nn.functional.lp_pool1d(L.tensor(X3), float("inf"), kernel))


@pytest.mark.parametrize("pad", [(True, False), (False,), (1, True), (1, 0, False, True)])
def test_pad_bool_amounts(pad):
    # the parser refuses a bool as an int list's first element only
    agree(lambda L: L.nn.functional.pad(L.tensor(X3), pad))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e30, 300.0, -1.5, 7])
def test_pad_fill_value_out_of_integer_range(dtype, value):
    agree(lambda L: L.nn.functional.pad(L.ones(2, 3, dtype=getattr(L, dtype)), (1, 2),
                                        value=value))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_embedding_max_norm_of_integer_weight_refused(dtype):
    agree(lambda L: L.nn.functional.embedding(L.tensor([0, 2]), L.ones(3, 2, dtype=getattr(
        L, dtype)), max_norm=1.0), match="norm(): input dtype should be either floating point")


@pytest.mark.parametrize("dtype", ["uint8", "int32", "int64", "float32"])
def test_softsign_integer_input_keeps_its_dtype_for_one_plus_abs(dtype):
    # PyTorch's 1 + |x| stays in an integer dtype (255 + 1 wraps to 0 in uint8: x / 0 = inf)
    agree(lambda L: L.nn.functional.softsign(L.tensor([0, 1, 127, 255, 3],
                                                      dtype=getattr(L, dtype))))


# ---- pixel_shuffle / pixel_unshuffle: always a new row-major (or channels-last) tensor ------
@pytest.mark.parametrize("op,factor,shape", [("pixel_shuffle", 1, (2, 1, 5, 4)),
                                             ("pixel_shuffle", 1, (2, 4, 4, 2)),
                                             ("pixel_shuffle", 2, (2, 4, 4, 2)),
                                             ("pixel_unshuffle", 1, (2, 3, 4, 2)),
                                             ("pixel_unshuffle", 2, (1, 1, 6, 2))])
@pytest.mark.parametrize("kind", ["contiguous", "transposed", "channels_last"])
def test_pixel_shuffle_layout(op, factor, shape, kind):
    x = RNG.standard_normal(shape)
    _same_strides(lambda L: getattr(L.nn.functional, op)(_layout(L, x, kind), factor))


@pytest.mark.parametrize("op", ["pixel_shuffle", "pixel_unshuffle"])
def test_pixel_shuffle_factor_one_is_a_copy(op):
    def run(lib):
        x = lib.tensor(X4)
        out = getattr(lib.nn.functional, op)(x, 1)
        out.add_(1.0)                 # a copy: the input keeps its values
        return x, out
    agree(run)


# ---- circular padding with negative pads ---------------------------------------------------
@pytest.mark.parametrize("pad", [(-3, 0), (0, -3), (-2, -1), (-2, 1), (1, -2), (-1, -1),
                                 (-4, 0), (-2, -2), (1, 1), (2, -1), (-1, 2)])
def test_circular_pad_negative(pad):
    # an empty result is given (nothing wraps), an emptier one refused, as PyTorch
    agree(lambda L: L.nn.functional.pad(L.tensor(np.arange(6.0).reshape(1, 2, 3)), pad,
                                        "circular"))


@pytest.mark.parametrize("pad", [(-2, 1), (1, -2), (-1, 0), (2, 0, -1, -1), (1, 1, -1, 0)])
def test_circular_pad_negative_on_a_single_element(pad):
    agree(lambda L: L.nn.functional.pad(L.tensor(np.arange(4.0).reshape(1, 2, 1, 2)[..., :1]),
                                        pad, "circular"))


# ---- the targets' gradients of kl_div and poisson_nll_loss at 0 (PyTorch's are NaN) ---------
_TARGETS = np.array([0.0, 0.0, 0.5, 1.0, 2.5, 4.0])
_INPUTS = np.array([0.3, -1.2, 0.8, 1.5, -0.4, 2.0])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
def test_kl_div_target_gradient_at_zero(reduction):
    grads(lambda L, t: L.nn.functional.kl_div(L.tensor(_INPUTS), t, reduction=reduction),
          _TARGETS)


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_poisson_nll_full_target_gradient(log_input, reduction):
    inputs = _INPUTS if log_input else np.abs(_INPUTS)
    grads(lambda L, t: L.nn.functional.poisson_nll_loss(L.tensor(inputs), t, log_input,
                                                         True, reduction=reduction), _TARGETS)


# ---- group_norm: one value per group is refused (PyTorch's batch-size check, eval too) -----
@pytest.mark.parametrize("shape,groups", [((1, 6), 6), ((1, 6), 3), ((1, 6), 4), ((1, 2, 1), 2),
                                          ((2, 2, 1), 2), ((1, 4, 1, 1), 4),
                                          ((1, 4, 1, 1), 2), ((3, 4, 1, 1), 4)])
def test_group_norm_single_value_per_group(shape, groups):
    agree(lambda L: L.nn.functional.group_norm(L.ones(shape), groups))
    agree(lambda L: L.nn.GroupNorm(groups, shape[1]).eval()(L.ones(shape)))
