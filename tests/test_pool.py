"""Pooling against PyTorch (the oracle): values, indices and gradients.

Max-pool inputs are often integer-valued so that windows hold ties: the index (and the one
element that gets the gradient) must be the one PyTorch picks. float64 at rtol 1e-6, float32
at rtol 1e-4; derandomized hypothesis sweeps.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given, settings, strategies as st

import minigrad
import minigrad.nn.functional as F
from minigrad.ops import avg_pool, pool
from minigrad.ops._window_checks import pool_args
from minigrad.testing import gradcheck

torch.set_num_threads(1)   # tiny problems: threads only add overhead
SWEEP = settings(max_examples=120, deadline=None, derandomize=True)
TOL = {np.float64: dict(rtol=1e-6, atol=1e-8), np.float32: dict(rtol=1e-4, atol=1e-5)}


def _compare(mg_fn, torch_fn, x, seed=0):
    """Outputs (and indices when a pair is returned) and the input gradient must match torch."""
    dtype = x.dtype.type
    xm, xt = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = mg_fn(xm), torch_fn(xt)
    if isinstance(expected, tuple):
        (out, idx), (expected, expected_idx) = out, expected
        assert idx.dtype == minigrad.int64
        np.testing.assert_array_equal(idx.numpy(), expected_idx.numpy(), err_msg="indices")
    assert tuple(out.shape) == tuple(expected.shape)
    assert out.dtype == xm.dtype
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), **TOL[dtype])
    grad = np.random.default_rng(seed).standard_normal(tuple(expected.shape)).astype(dtype)
    out.backward(minigrad.tensor(grad))
    expected.backward(torch.tensor(grad))
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), **TOL[dtype],
                               err_msg="input gradient")


@st.composite
def pool_cases(draw, max_pool):
    nd = draw(st.sampled_from([1, 2]))
    kernel = tuple(draw(st.integers(1, 5)) for _ in range(nd))
    stride = draw(st.sampled_from([None, "int", "tuple"]))        # None: stride = kernel
    stride = {None: None, "int": draw(st.integers(1, 4)),
              "tuple": tuple(draw(st.integers(1, 4)) for _ in range(nd))}[stride]
    dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd)) if max_pool else (1,) * nd
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(max(1, s - 2 * p), max(1, s - 2 * p) + 12))
                 for s, p in zip(span, padding))
    batch = draw(st.sampled_from([None, 1, 2, 5]))
    shape = ((batch,) if batch else ()) + (draw(st.integers(1, 4)),) + size
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    if draw(st.booleans()):
        x = rng.integers(-2, 3, shape).astype(dtype)                # many ties
    else:
        x = rng.standard_normal(shape).astype(dtype)
    return dict(nd=nd, x=x, kernel_size=kernel if draw(st.booleans()) else kernel[0],
                stride=stride, padding=padding, dilation=dilation,
                ceil_mode=draw(st.booleans()))


def _valid(case):
    """False when kernel_size=k[0] (an int) made the sizes drawn for the tuple invalid."""
    try:
        pool_args("max_pool", case["nd"], case["x"], case["kernel_size"], case["stride"],
                        case["padding"], case["dilation"], case["ceil_mode"], True)
        return True
    except RuntimeError:
        return False


# ----------------------------------------------------------------------------------------------
# Sweeps against torch
# ----------------------------------------------------------------------------------------------
@SWEEP
@given(pool_cases(max_pool=True), st.booleans())
def test_max_pool_matches_torch(case, return_indices):
    assume(_valid(case))
    name = f"max_pool{case['nd']}d"
    kw = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
              dilation=case["dilation"], ceil_mode=case["ceil_mode"],
              return_indices=return_indices)
    with torch.no_grad():   # torch's backward corrupts memory when a window is all padding
        pooled = getattr(TF, name)(torch.tensor(case["x"]), **dict(kw, return_indices=False))
    assume(not torch.isneginf(pooled).any())
    _compare(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), case["x"])


@SWEEP
@given(pool_cases(max_pool=False), st.booleans(), st.sampled_from([None, None, 1, 3]))
def test_avg_pool_matches_torch(case, count_include_pad, divisor_override):
    assume(_valid(case))
    name = f"avg_pool{case['nd']}d"
    kw = dict(kernel_size=case["kernel_size"], stride=case["stride"], padding=case["padding"],
              ceil_mode=case["ceil_mode"], count_include_pad=count_include_pad)
    if case["nd"] == 2:
        kw["divisor_override"] = divisor_override
    _compare(lambda x: getattr(F, name)(x, **kw), lambda x: getattr(TF, name)(x, **kw), case["x"])


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.sampled_from([1, 2]), st.data())
def test_adaptive_pools_match_torch(nd, data):
    size = tuple(data.draw(st.integers(1, 13)) for _ in range(nd))
    out = tuple(data.draw(st.integers(1, 8)) for _ in range(nd))
    batch = data.draw(st.sampled_from([(), (2,)]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    dtype = data.draw(st.sampled_from([np.float32, np.float64]))
    x = rng.integers(-2, 3, batch + (3,) + size).astype(dtype) if data.draw(st.booleans()) \
        else rng.standard_normal(batch + (3,) + size).astype(dtype)
    output_size = out if nd == 2 or data.draw(st.booleans()) else out[0]
    avg, mx = f"adaptive_avg_pool{nd}d", f"adaptive_max_pool{nd}d"
    _compare(lambda x: getattr(F, avg)(x, output_size),
             lambda x: getattr(TF, avg)(x, output_size), x)
    _compare(lambda x: getattr(F, mx)(x, output_size, return_indices=True),
             lambda x: getattr(TF, mx)(x, output_size, return_indices=True), x)


# ----------------------------------------------------------------------------------------------
# Specific behaviours
# ----------------------------------------------------------------------------------------------
def test_ties_send_the_gradient_to_the_first_max_like_torch():
    x = np.array([[[[1., 1, 0, 2], [1, 1, 2, 2], [3, 0, 3, 3], [3, 3, 3, 3]]]])
    _compare(lambda x: F.max_pool2d(x, 2, return_indices=True),
             lambda x: TF.max_pool2d(x, 2, return_indices=True), x)
    _compare(lambda x: F.max_pool2d(x, 3, stride=1, padding=1, return_indices=True),
             lambda x: TF.max_pool2d(x, 3, stride=1, padding=1, return_indices=True), x)


def test_nan_and_minus_inf_windows_like_torch():
    nan, inf = np.nan, np.inf
    x = np.array([[[1., nan, nan, 3.], [-inf, -inf, 5, 6], [nan, 2, -inf, -inf]]])
    xm, xt = minigrad.tensor(x), torch.tensor(x)
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1),
               dict(kernel_size=2, stride=1, padding=1, ceil_mode=True)):
        out, idx = F.max_pool1d(xm, return_indices=True, **kw)
        expected, expected_idx = TF.max_pool1d(xt, return_indices=True, **kw)
        np.testing.assert_array_equal(out.numpy(), expected.numpy())     # NaN == NaN here
        np.testing.assert_array_equal(idx.numpy(), expected_idx.numpy())


@SWEEP
@given(st.data())
def test_2d_windows_of_nan_and_minus_inf_like_torch(data):
    k = (data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)))
    s = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    p = tuple(data.draw(st.integers(0, kk // 2)) for kk in k)
    shape = (2, data.draw(st.integers(k[0], 8)), data.draw(st.integers(k[1], 8)))
    values = data.draw(st.sampled_from([[-np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0, np.nan]]))
    x = np.random.default_rng(data.draw(st.integers(0, 2 ** 16))).choice(values, size=shape)
    ceil = data.draw(st.booleans())
    out, idx = F.max_pool2d(minigrad.tensor(x), k, s, p, ceil_mode=ceil, return_indices=True)
    expected, expected_idx = TF.max_pool2d(torch.tensor(x), k, s, p, ceil_mode=ceil,
                                           return_indices=True)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(idx.numpy(), expected_idx.numpy())


@pytest.mark.parametrize("width", [8, 24, 40, 70])      # rows under and over 16 outputs
@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2))])
def test_max_pool_ties_on_short_and_long_rows_like_torch(width, kernel, stride):
    """The windows' candidates go through numpy contiguous where strided or short rows would
    make its loops crawl (``_pool_kernels._dense``); the first maximum, ties included, must
    stay PyTorch's on either side of that line."""
    x = np.random.default_rng(width).integers(-2, 3, (3, 4, 9, width)).astype(np.float32)
    out, idx = F.max_pool2d(minigrad.tensor(x), kernel, stride, return_indices=True)
    expected, expected_idx = TF.max_pool2d(torch.tensor(x), kernel, stride, return_indices=True)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(idx.numpy(), expected_idx.numpy())


def test_2x2_pools_of_lenet_shapes_float32():
    x = np.random.default_rng(1).standard_normal((8, 20, 28, 28)).astype(np.float32)
    _compare(lambda x: F.max_pool2d(x, 2, 2), lambda x: TF.max_pool2d(x, 2, 2), x)
    _compare(lambda x: F.avg_pool2d(x, 2), lambda x: TF.avg_pool2d(x, 2), x)
    _compare(lambda x: F.adaptive_avg_pool2d(x, 1), lambda x: TF.adaptive_avg_pool2d(x, 1), x)


@pytest.mark.parametrize("size, kernel, padding", [
    ((24, 24), 2, 0),          # windows tile the plane: the gradient buffer is not zeroed first
    ((30, 30), 3, 0),
    ((22, 22), 2, 1),          # tiling the padded plane (the padding cropped after)
    ((25, 24), 2, 0),          # the last row in no window: it must read 0
])
def test_max_pool_gradient_of_large_maps_over_the_threads(size, kernel, padding, monkeypatch):
    # large enough for the scatter to be split over the threads; every new uninitialised
    # array starts as NaNs, so an element that no pass writes would show
    empty = np.empty

    def stale(shape, dtype=float, **kw):
        out = empty(shape, dtype, **kw)
        if out.dtype.kind == "f":
            out.fill(np.nan)
        return out
    monkeypatch.setattr(np, "empty", stale)
    x = np.random.default_rng(2).standard_normal((64, 20) + size).astype(np.float32)
    _compare(lambda t: F.max_pool2d(t, kernel, padding=padding),
             lambda t: TF.max_pool2d(t, kernel, padding=padding), x)


def test_adaptive_output_size_none_keeps_the_axis():
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 5))
    _compare(lambda x: F.adaptive_avg_pool2d(x, (3, None)),
             lambda x: TF.adaptive_avg_pool2d(x, (3, None)), x)


def test_max_pool_of_integers_keeps_the_dtype():
    x = np.arange(32).reshape(2, 4, 4) % 7
    out, idx = F.max_pool2d(minigrad.tensor(x), 2, padding=1, return_indices=True)
    expected, expected_idx = TF.max_pool2d(torch.tensor(x), 2, padding=1, return_indices=True)
    assert out.dtype == minigrad.int64
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    np.testing.assert_array_equal(idx.numpy(), expected_idx.numpy())


def test_grad_fn_names():
    x = minigrad.randn(1, 2, 6, 6, requires_grad=True)
    assert F.max_pool2d(x, 2).grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    assert F.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert F.adaptive_avg_pool2d(x, 4).grad_fn.name() == "AdaptiveAvgPool2DBackward0"


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool2d(x, 3, stride=2, padding=1),                  # overlapping windows
    lambda x: F.max_pool2d(x, (2, 3), stride=1, dilation=(2, 1), ceil_mode=True),
    lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    lambda x: F.avg_pool1d(x.flatten(1), 4, stride=3, padding=2),
    lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    lambda x: pool.adaptive_max_pool2d(x, (4, 3)),
])
def test_gradients_match_finite_differences(fn):
    x = np.random.default_rng(3).permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # no ties
    assert gradcheck(fn, [minigrad.tensor(x, requires_grad=True)])


# ----------------------------------------------------------------------------------------------
# Higher-order derivatives (first, second, third) against torch
# ----------------------------------------------------------------------------------------------
HIGHER_ORDER = [
    ("max_pool2d", (2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", (1, 2, 5, 5), dict(kernel_size=2, stride=1, dilation=(2, 1), ceil_mode=True)),
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, return_indices=True)),
    ("max_pool3d", (1, 2, 5, 4, 5), dict(kernel_size=(2, 3, 2), stride=(1, 2, 2), padding=1)),
    ("avg_pool2d", (2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                      count_include_pad=False)),
    ("avg_pool2d", (1, 2, 5, 5), dict(kernel_size=2, stride=1, divisor_override=3)),
    ("avg_pool1d", (2, 9), dict(kernel_size=4, stride=3, padding=2)),
    ("avg_pool3d", (1, 2, 5, 4, 5), dict(kernel_size=2, stride=(1, 2, 1), padding=(1, 0, 1))),
    ("adaptive_avg_pool2d", (2, 3, 7, 6), dict(output_size=(3, 4))),
    ("adaptive_avg_pool1d", (2, 3, 7), dict(output_size=5)),
    ("adaptive_max_pool2d", (2, 3, 7, 6), dict(output_size=(4, 3))),      # uneven windows
    ("adaptive_max_pool2d", (2, 3, 6, 6), dict(output_size=3)),           # equal windows
    ("adaptive_max_pool1d", (2, 3, 7), dict(output_size=(5,), return_indices=True)),
]


def _three_derivatives(lib, name, x, kw, u):
    """d/dx of f = sum(pool(x^3)^2), then of sum(u * that), twice (create_graph each time):
    the pool's upstream gradient depends on x, so its backward's backward (gather/pool) and
    that one's backward (scatter/adjoint) all carry weight."""
    x = lib.tensor(x, requires_grad=True)
    out = getattr(F if lib is minigrad else TF, name)(x * x * x, **kw)
    out = out[0] if isinstance(out, tuple) else out
    grads, f = [], (out * out).sum()
    for order in range(3):
        g, = lib.autograd.grad(f, x, create_graph=order < 2)
        grads.append(g.detach().numpy())
        f = (g * lib.tensor(u[order])).sum()
    return grads


@pytest.mark.parametrize("name, shape, kw", HIGHER_ORDER, ids=[c[0] for c in HIGHER_ORDER])
def test_first_second_and_third_derivatives_match_torch(name, shape, kw):
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, shape) / 2.0 + 0.25   # ties for the max pools, no zero
    u = [rng.standard_normal(shape) for _ in range(3)]
    ours, theirs = _three_derivatives(minigrad, name, x, kw, u), \
        _three_derivatives(torch, name, x, kw, u)
    for order, (a, b) in enumerate(zip(ours, theirs), 1):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, err_msg=f"derivative {order}")


@pytest.mark.parametrize("shape, fn", [
    ((2, 3, 6, 6), lambda F, x: F.max_pool2d(x, 2)),
    ((1, 2, 4, 6, 6), lambda F, x: F.max_pool3d(x, 2)),
    ((2, 3, 6, 6), lambda F, x: F.avg_pool2d(x, 3, stride=1, padding=1)),
    ((1, 2, 4, 6, 6), lambda F, x: F.avg_pool3d(x, 2)),
    ((2, 3, 6, 6), lambda F, x: F.adaptive_avg_pool2d(x, (3, 2))),
    ((2, 3, 6, 6), lambda F, x: F.adaptive_max_pool2d(x, (3, 2))),     # equal windows
    ((2, 3, 7, 6), lambda F, x: F.adaptive_max_pool2d(x, (3, 4))),     # uneven windows
])
def test_backward_of_backward_is_named_as_in_torch(shape, fn):
    names = []
    for lib, functional in ((minigrad, F), (torch, TF)):
        x = lib.ones(*shape, requires_grad=True)
        y = fn(functional, x)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        names.append((y.grad_fn.name(), g.grad_fn.name()))
    assert names[0] == names[1]


def test_first_order_backward_records_nothing():
    """A plain backward runs the gradient Functions in no_grad mode: nothing to differentiate."""
    x = minigrad.randn(1, 2, 6, 6, requires_grad=True)
    for y in (F.max_pool2d(x, 3, 2, 1), F.avg_pool2d(x, 2), F.adaptive_max_pool2d(x, 4)):
        g, = minigrad.autograd.grad(y.sum(), x)
        assert g.grad_fn is None and not g.requires_grad


@pytest.mark.parametrize("name, kw", [("max_pool2d", dict(kernel_size=3, stride=2, padding=1)),
                                      ("avg_pool2d", dict(kernel_size=2)),
                                      ("adaptive_avg_pool2d", dict(output_size=(3, 4))),
                                      ("adaptive_max_pool2d", dict(output_size=(4, 3)))])
def test_gradient_of_a_linear_use_differentiates_to_zero_like_torch(name, kw):
    """d/dx of sum(pool(x)) does not depend on x, but, as in torch, it requires grad under
    create_graph and its own gradient is zeros (not an error, not None)."""
    results = []
    for lib, fns in ((minigrad, F), (torch, TF)):
        x = lib.tensor(np.random.default_rng(9).standard_normal((2, 3, 7, 6)),
                       requires_grad=True)
        g, = lib.autograd.grad(getattr(fns, name)(x, **kw).sum(), x, create_graph=True)
        assert g.requires_grad
        gg, = lib.autograd.grad((g * g).sum(), x)
        results.append(gg.numpy())
    np.testing.assert_array_equal(*results)


# ----------------------------------------------------------------------------------------------
# 3-D pools
# ----------------------------------------------------------------------------------------------
POOL3D = [
    dict(kernel_size=2),
    dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), padding=(1, 0, 1)),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
    dict(kernel_size=(1, 3, 2), stride=1, dilation=(1, 2, 1)),
]


@pytest.mark.parametrize("kw", POOL3D, ids=range(len(POOL3D)))
@pytest.mark.parametrize("batched", [True, False])
def test_3d_pools_match_torch(kw, batched):
    shape = ((2,) if batched else ()) + (3, 5, 7, 6)
    x = np.random.default_rng(6).integers(-2, 3, shape).astype(np.float64)   # ties
    _compare(lambda x: pool.max_pool3d(x, return_indices=True, **kw),
             lambda x: TF.max_pool3d(x, return_indices=True, **kw), x)
    if "dilation" not in kw:
        for extra in ({}, {"count_include_pad": False}, {"divisor_override": 5}):
            _compare(lambda x: avg_pool.avg_pool3d(x, **kw, **extra),
                     lambda x: TF.avg_pool3d(x, **kw, **extra), x + 0.5)


# ----------------------------------------------------------------------------------------------
# dtypes, omitted strides, empty inputs: as torch 2.13
# ----------------------------------------------------------------------------------------------
def _same_outcome(mg_call, torch_call):
    """Both succeed with equal results (dtype, shape, values), or raise the same error type
    with the same message."""
    try:
        expected = torch_call()
    except Exception as error:       # noqa: BLE001 -- whatever torch raises is the oracle
        with pytest.raises(type(error)) as ours:
            mg_call()
        assert str(ours.value) == str(error)
        return
    got = mg_call()
    got, expected = (got, expected) if isinstance(got, tuple) else ((got,), (expected,))
    for a, b in zip(got, expected):
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        assert tuple(a.shape) == tuple(b.shape)
        rtol = 2e-3 if b.dtype == torch.float16 else 1e-6    # torch sums halves in float32
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol)


DTYPE_CALLS = [
    ("max_pool1d", 1, {}), ("max_pool1d", 1, {"return_indices": True}),
    ("max_pool2d", 2, {}), ("max_pool2d", 2, {"return_indices": True}), ("max_pool3d", 3, {}),
    ("avg_pool1d", 1, {}), ("avg_pool2d", 2, {}), ("avg_pool3d", 3, {}),
    ("avg_pool2d", 2, {"padding": 1, "count_include_pad": False, "ceil_mode": True}),
    ("avg_pool2d", 2, {"divisor_override": -3}),
    ("adaptive_avg_pool1d", 1, {}), ("adaptive_avg_pool2d", 2, {}),
    ("adaptive_max_pool1d", 1, {}), ("adaptive_max_pool2d", 2, {}),
]


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int8", "int16", "int32", "int64",
                                   "float16", "float32", "float64"])
@pytest.mark.parametrize("name, nd, kw", DTYPE_CALLS,
                         ids=[f"{n}-{'-'.join(kw)}" for n, _, kw in DTYPE_CALLS])
def test_dtypes_like_torch(name, nd, kw, dtype):
    """int64 average pools give a truncated int64 mean; unsupported dtypes raise torch's
    NotImplementedError naming torch's kernel ('"max_pool2d" not implemented for 'Bool'')."""
    x = np.random.default_rng(7).integers(-9, 10, (2, 3) + (5,) * nd)
    x = (x > 0) if dtype == "bool" else np.abs(x) if dtype == "uint8" else x
    x = x.astype(dtype)
    size = {"output_size": 3} if name.startswith("adaptive") else {"kernel_size": 2}
    _same_outcome(lambda: getattr(F, name)(minigrad.tensor(x), **size, **kw),
                  lambda: getattr(TF, name)(torch.tensor(x), **size, **kw))


@pytest.mark.parametrize("stride", [(), []])
@pytest.mark.parametrize("name", ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d",
                                  "max_pool3d", "avg_pool3d"])
def test_empty_stride_means_omitted(name, stride):
    nd = int(name[-2])
    x = np.random.default_rng(8).standard_normal((2, 3) + (6,) * nd)
    _compare(lambda x: getattr(F, name)(x, 2, stride=stride),
             lambda x: getattr(TF, name)(x, 2, stride=stride), x)


@pytest.mark.parametrize("shape", [(0, 3, 7, 6), (0, 7, 6), (3, 0, 6, 6), (2, 3, 0, 6),
                                   (3, 6, 0)])
@pytest.mark.parametrize("output_size", [2, (4, 3), (5, 5)])
def test_adaptive_pools_of_empty_inputs_like_torch(shape, output_size):
    x = np.zeros(shape)
    _same_outcome(lambda: F.adaptive_max_pool2d(minigrad.tensor(x), output_size, True),
                  lambda: TF.adaptive_max_pool2d(torch.tensor(x), output_size, True))
    _same_outcome(lambda: F.adaptive_avg_pool2d(minigrad.tensor(x), output_size),
                  lambda: TF.adaptive_avg_pool2d(torch.tensor(x), output_size))
    shape1 = shape[:-2] + (shape[-1],)
    _same_outcome(lambda: F.adaptive_max_pool1d(minigrad.zeros(*shape1), 4, True),
                  lambda: TF.adaptive_max_pool1d(torch.zeros(shape1), 4, True))
    _same_outcome(lambda: F.adaptive_avg_pool1d(minigrad.zeros(*shape1), 4),
                  lambda: TF.adaptive_avg_pool1d(torch.zeros(shape1), 4))


def test_adaptive_max_pool_of_an_empty_batch_has_a_gradient_like_torch():
    x = np.zeros((0, 3, 7, 6))
    _compare(lambda x: F.adaptive_max_pool2d(x, (4, 3), return_indices=True),
             lambda x: TF.adaptive_max_pool2d(x, (4, 3), return_indices=True), x)


# ----------------------------------------------------------------------------------------------
# Errors: PyTorch's messages
# ----------------------------------------------------------------------------------------------
def _t(*shape):
    return minigrad.zeros(*shape)


ERRORS = [
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), 2, padding=2),
     r"pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     r"dilation=1"),
    (lambda: F.max_pool2d(_t(1, 3, 9, 9), (3, 1), padding=(2, 0), dilation=2),
     r"pad should be smaller than or equal to half of kernel size, but got padW = 0, padH = 2, "
     r"kW = 1, kH = 3"),
    (lambda: F.avg_pool2d(_t(1, 3, 5, 5), 2, padding=2),
     r"pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     r"dilation=1"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), 2, stride=0), "stride should not be zero"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), 2, stride=-1),
     "stride should be greater than zero, but got dH: -1 dW: -1"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), -1),
     "kernel size should be greater than zero, but got kH: -1 kW: -1"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), 2, dilation=0),
     "dilation should be greater than zero, but got dilationH: 0 dilationW: 0"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), 2, padding=-1),
     "pad must be non-negative, but got pad: -1"),
    (lambda: F.max_pool2d(_t(1, 3, 1, 1), 2),
     r"Given input size: \(3x1x1\)\. Calculated output size: \(3x0x0\)\. Output size is too small"),
    (lambda: F.max_pool2d(_t(5, 5), 2),
     r"non-empty 3D or 4D \(batch mode\) tensor expected for input"),
    (lambda: F.max_pool1d(_t(5), 2),
     r"max_pool1d: Expected 2D or 3D \(batch mode\) tensor with optional 0 dim batch size for "
     r"input, but got:\[5\]"),
    (lambda: F.max_pool2d(_t(1, 3, 5, 5), (2, 2, 2)),
     "max_pool2d: kernel_size must either be a single int, or a tuple of two ints"),
    (lambda: F.avg_pool2d(_t(1, 3, 5, 5), 2, stride=(1, 2, 3)),
     "avg_pool2d: stride must either be omitted, a single int, or a tuple of two ints"),
    (lambda: F.avg_pool2d(_t(1, 3, 5, 5), 2, divisor_override=0), "divisor must be not zero"),
    (lambda: F.adaptive_avg_pool2d(_t(5), 2),
     r"adaptive_avg_pool2d\(\): Expected 3D or 4D tensor, but got \[5\]"),
    (lambda: F.adaptive_avg_pool2d(_t(1, 3, 5, 5), (2, 3, 4)),
     "adaptive_avg_pool2d: output_size must be 2"),
    (lambda: F.adaptive_avg_pool2d(_t(1, 3, 5, 5), (1, -1)),
     r"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
     r"received \{1, -1\}"),
    (lambda: F.adaptive_avg_pool1d(_t(5), 2),
     r"Expected 2 to 3 dimensions, but got 1-dimensional tensor for argument #1 'self' \(while "
     r"checking arguments for adaptive_avg_pool1d\)"),
]


def test_input_must_be_a_tensor():
    with pytest.raises(TypeError, match=r"max_pool2d\(\): argument 'input' \(position 1\) must "
                                        r"be Tensor, not numpy.ndarray"):
        F.max_pool2d(np.zeros((1, 3, 4, 4)), 2)


@pytest.mark.parametrize("call, message", ERRORS, ids=range(len(ERRORS)))
def test_errors_like_torch(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


# ----------------------------------------------------------------------------------------------
# GPU (cupy)
# ----------------------------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.skipif(not minigrad.cuda.is_available(), reason="needs a CUDA GPU and cupy")
def test_pools_on_cuda_match_torch():
    _check_pools_against_torch("cuda")


def _check_pools_against_torch(device):
    """minigrad on ``device`` against torch on the CPU: outputs, indices and the gradient."""
    x = np.random.default_rng(4).integers(-3, 4, (2, 3, 9, 8)).astype(np.float32)
    results = []
    for lib, fn in ((minigrad, F), (torch, TF)):
        xm = lib.tensor(x, device=device if lib is minigrad else "cpu", requires_grad=True)
        out, idx = fn.max_pool2d(xm, 3, stride=2, padding=1, return_indices=True)
        y = out.sum() + fn.avg_pool2d(xm, 2, ceil_mode=True).sum() \
            + fn.adaptive_avg_pool2d(xm, (4, 3)).sum()
        y.backward()
        results.append([t.detach().cpu().numpy() for t in (out, idx, xm.grad)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5)
