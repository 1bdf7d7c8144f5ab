"""Round 43's pooling fast paths against PyTorch: the overlapping max-pool gradient on phase
planes (``_pool_phases``), the stride-1 max over flat rows, the separable adaptive max, and
the tap-by-tap adaptive average (``_adaptive_pool_kernels``); values, indices, gradients
(first and second order, float64), layouts, ties, -inf/NaN, ceil_mode, padding, dilation,
and the +0 (never -0) of a max-pool's gradient."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minigrad
import minigrad.nn.functional as MF

RNG = np.random.default_rng(43)


def _pair(a, requires_grad=True):
    return (torch.tensor(a, requires_grad=requires_grad),
            minigrad.tensor(a, requires_grad=requires_grad))


def _same_bits(mine, theirs):
    """Equal values, NaNs in the same places, and the same sign bits (so +0 is not -0)."""
    m, t = np.asarray(mine), np.asarray(theirs)
    assert m.shape == t.shape and m.dtype == t.dtype
    np.testing.assert_array_equal(m, t)
    np.testing.assert_array_equal(np.signbit(m), np.signbit(t))


def _int_valued(shape, dtype, low=-3, high=4):
    """Small integers: ties in plenty, and gradient sums that are exact in any order."""
    return RNG.integers(low, high, shape).astype(dtype)


# ----------------------------------------------------------------------------------------------
# max-pool gradients of overlapping windows (phase planes) and the +0 of every max-pool grad
# ----------------------------------------------------------------------------------------------
MAX_CASES = [
    ("max_pool2d", (2, 3, 11, 13), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", (2, 3, 12, 12), dict(kernel_size=3, stride=1, padding=1)),
    ("max_pool2d", (2, 3, 15, 14), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                                        dilation=(2, 1))),
    ("max_pool2d", (2, 3, 15, 14), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("max_pool2d", (3, 12, 12), dict(kernel_size=4, stride=2, padding=2)),
    ("max_pool2d", (2, 3, 9, 9), dict(kernel_size=2, padding=1)),
    ("max_pool2d", (2, 3, 8, 8), dict(kernel_size=2)),
    ("max_pool2d", (2, 3, 9, 9), dict(kernel_size=3)),
    ("max_pool1d", (2, 3, 30), dict(kernel_size=3, stride=1)),
    ("max_pool1d", (2, 3, 31), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ("max_pool1d", (2, 3, 31), dict(kernel_size=4, stride=3, ceil_mode=True)),
    ("max_pool3d", (2, 2, 7, 8, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool3d", (2, 2, 6, 6, 6), dict(kernel_size=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op,shape,kw", MAX_CASES)
def test_max_pool_values_indices_grad(op, shape, kw, dtype):
    a = _int_valued(shape, dtype)
    tx, mx = _pair(a)
    ty, ti = getattr(TF, op)(tx, return_indices=True, **kw)
    my, mi = getattr(MF, op)(mx, return_indices=True, **kw)
    _same_bits(my.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    g = _int_valued(ty.shape, dtype, -5, 5)           # negatives: no -0 may come back
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    _same_bits(mx.grad.numpy(), tx.grad.numpy())
    assert mx.grad.stride() == tx.grad.stride()


@pytest.mark.parametrize("op,shape,kw", MAX_CASES[:4] + MAX_CASES[8:10] + MAX_CASES[11:12])
def test_max_pool_grad_random_float64_and_second_order(op, shape, kw):
    a = RNG.standard_normal(shape)
    tx, mx = _pair(a)
    ty, my = getattr(TF, op)(tx, **kw), getattr(MF, op)(mx, **kw)
    g = RNG.standard_normal(ty.shape)
    tg, mg = _pair(g)
    (tdx,) = torch.autograd.grad(ty, tx, tg, create_graph=True)
    (mdx,) = minigrad.autograd.grad(my, mx, mg, create_graph=True)
    np.testing.assert_allclose(mdx.detach().numpy(), tdx.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    if op != "max_pool1d":     # (a 1-d pool's gradient node: see the report of round 43)
        assert mdx.grad_fn.name() == tdx.grad_fn.name()
    w = RNG.standard_normal(a.shape)
    tgg = torch.autograd.grad((tdx * torch.tensor(w)).sum(), tg)[0]
    mgg = minigrad.autograd.grad((mdx * minigrad.tensor(w)).sum(), mg)[0]
    np.testing.assert_allclose(mgg.numpy(), tgg.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2), dict(kernel_size=3, stride=1)])
def test_max_pool_grad_nonfinite_dy(kw):
    a = _int_valued((2, 2, 9, 10), np.float64)
    tx, mx = _pair(a)
    ty, my = TF.max_pool2d(tx, **kw), MF.max_pool2d(mx, **kw)
    g = _int_valued(ty.shape, np.float64, -3, 3)
    g.flat[[0, 5, 7]] = [np.nan, np.inf, -np.inf]
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    _same_bits(mx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2), dict(kernel_size=3, stride=1, dilation=2)])
def test_max_pool_nonfinite_inputs_and_channels_last(kw):
    a = _int_valued((2, 4, 10, 11), np.float32)
    a[0, 0, 1, 2] = np.nan
    a[1, 2, 3:6, 3:7] = -np.inf
    a[0, 3, 5, 5] = np.inf
    t0 = torch.tensor(a).contiguous(memory_format=torch.channels_last).requires_grad_()
    m0 = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last).requires_grad_()
    ty, ti = TF.max_pool2d(t0, return_indices=True, **kw)
    my, mi = MF.max_pool2d(m0, return_indices=True, **kw)
    _same_bits(my.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    assert my.stride() == ty.stride() and mi.stride() == ti.stride()
    g = _int_valued(ty.shape, np.float32, -4, 4)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    _same_bits(m0.grad.numpy(), t0.grad.numpy())
    assert m0.grad.stride() == t0.grad.stride()


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=1), dict(kernel_size=5, stride=1,
                                                                    padding=2, dilation=1),
                                dict(kernel_size=3, stride=1, dilation=2, ceil_mode=True)])
@pytest.mark.parametrize("shape", [(4, 6, 40), (6, 17), (3, 2, 5)])
def test_max_pool1d_stride1_rows(shape, kw):
    a = _int_valued(shape, np.float32)
    a.flat[::7] = np.nan
    a.flat[3::11] = -np.inf
    with torch.no_grad():
        t = TF.max_pool1d(torch.tensor(a), **kw)
    m = MF.max_pool1d(minigrad.tensor(a), **kw)           # no gradient wanted: max only
    _same_bits(m.numpy(), t.numpy())
    assert m.stride() == t.stride()
    tx, mx = _pair(a)
    ty, ti = TF.max_pool1d(tx, return_indices=True, **kw)
    my, mi = MF.max_pool1d(mx, return_indices=True, **kw)
    _same_bits(my.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    g = _int_valued(ty.shape, np.float32)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    _same_bits(mx.grad.numpy(), tx.grad.numpy())
    assert my.grad_fn.name() == ty.grad_fn.name()


def test_max_pool1d_non_contiguous_view_and_empty():
    a = _int_valued((3, 4, 50), np.float64)[:, :, ::2]
    t = TF.max_pool1d(torch.tensor(a), 3, 1)
    m = MF.max_pool1d(minigrad.tensor(a), 3, 1)
    _same_bits(m.numpy(), t.numpy())
    e = np.zeros((0, 3, 9), np.float32)
    assert MF.max_pool1d(minigrad.tensor(e), 3, 1).shape == TF.max_pool1d(
        torch.tensor(e), 3, 1).shape


# ----------------------------------------------------------------------------------------------
# adaptive max-pool, unequal windows (separable, one take per tap)
# ----------------------------------------------------------------------------------------------
AMAX_CASES = [((2, 3, 28, 28), 5), ((2, 3, 17, 17), 7), ((2, 3, 17, 13), (7, 4)),
              ((3, 100), 7), ((2, 3, 100), 7), ((2, 3, 10, 11, 12), (4, 5, 7)),
              ((2, 3, 5, 5), 8), ((3, 7, 9), (4, 6)), ((2, 3, 9, 10), (None, 4))]


def _adaptive_rank(shape, out):
    if isinstance(out, tuple):
        return len(out)
    return 1 if len(shape) <= 3 and shape != (3, 7, 9) else len(shape) - 2


@pytest.mark.parametrize("kind", ["ties", "nonfinite", "random"])
@pytest.mark.parametrize("shape,out", AMAX_CASES)
def test_adaptive_max_unequal(shape, out, kind):
    nd = _adaptive_rank(shape, out)
    if kind == "random":
        a = RNG.standard_normal(shape)
    else:
        a = _int_valued(shape, np.float64, -2, 2)
    if kind == "nonfinite":
        a[RNG.random(shape) < 0.1] = np.nan
        a[RNG.random(shape) < 0.05] = -np.inf
    tx, mx = _pair(a)
    ty, ti = getattr(TF, f"adaptive_max_pool{nd}d")(tx, out, return_indices=True)
    my, mi = getattr(MF, f"adaptive_max_pool{nd}d")(mx, out, return_indices=True)
    _same_bits(my.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    assert mi.dtype == minigrad.int64 and my.stride() == ty.stride()
    assert mi.stride() == ti.stride()
    g = _int_valued(ty.shape, np.float64, -3, 3)
    tg, mg = _pair(g)
    (tdx,) = torch.autograd.grad(ty, tx, tg, create_graph=True)
    (mdx,) = minigrad.autograd.grad(my, mx, mg, create_graph=True)
    _same_bits(mdx.detach().numpy(), tdx.detach().numpy())
    assert my.grad_fn.name() == ty.grad_fn.name()
    w = RNG.standard_normal(a.shape)
    tgg = torch.autograd.grad((tdx * torch.tensor(w)).sum(), tg)[0]
    mgg = minigrad.autograd.grad((mdx * minigrad.tensor(w)).sum(), mg)[0]
    np.testing.assert_allclose(mgg.numpy(), tgg.numpy(), rtol=1e-12, atol=1e-12)


def test_adaptive_max_channels_last_float32_and_empty_batch():
    a = _int_valued((2, 5, 17, 13), np.float32)
    t0 = torch.tensor(a).contiguous(memory_format=torch.channels_last)
    m0 = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last)
    ty, ti = TF.adaptive_max_pool2d(t0, (5, 6), return_indices=True)
    my, mi = MF.adaptive_max_pool2d(m0, (5, 6), return_indices=True)
    _same_bits(my.numpy(), ty.numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    assert my.stride() == ty.stride() and mi.stride() == ti.stride()
    e = np.zeros((0, 3, 9, 10), np.float32)
    ty, ti = TF.adaptive_max_pool2d(torch.tensor(e), 4, return_indices=True)
    my, mi = MF.adaptive_max_pool2d(minigrad.tensor(e), 4, return_indices=True)
    assert my.shape == ty.shape and mi.shape == ti.shape and mi.dtype == minigrad.int64


# ----------------------------------------------------------------------------------------------
# adaptive average pool: equal windows (strided slices) and unequal ones (one take per tap)
# ----------------------------------------------------------------------------------------------
AAVG_CASES = [((2, 3, 28, 28), 7), ((2, 3, 28, 28), 5), ((2, 3, 17, 17), 7),
              ((2, 3, 21, 15), (3, 5)), ((3, 100), 7), ((2, 3, 100), 7), ((2, 3, 64), 8),
              ((2, 3, 16, 16, 16), 5), ((2, 3, 12, 9, 16), (4, 3, 8)), ((2, 3, 5, 5), 8),
              ((2, 3, 9, 10), (None, 4)), ((2, 3, 6, 6), 6)]


@pytest.mark.parametrize("shape,out", AAVG_CASES)
def test_adaptive_avg_values_and_grads(shape, out):
    nd = _adaptive_rank(shape, out)
    a = RNG.standard_normal(shape)
    tx, mx = _pair(a)
    ty = getattr(TF, f"adaptive_avg_pool{nd}d")(tx, out)
    my = getattr(MF, f"adaptive_avg_pool{nd}d")(mx, out)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-13,
                               atol=1e-14)
    assert my.stride() == ty.stride() and my.grad_fn.name() == ty.grad_fn.name()
    g = RNG.standard_normal(ty.shape)
    tg, mg = _pair(g)
    (tdx,) = torch.autograd.grad(ty, tx, tg, create_graph=True)
    (mdx,) = minigrad.autograd.grad(my, mx, mg, create_graph=True)
    np.testing.assert_allclose(mdx.detach().numpy(), tdx.detach().numpy(), rtol=1e-13,
                               atol=1e-14)
    if nd > 1:                 # (a 1-d pool's gradient node: see the report of round 43)
        assert mdx.grad_fn.name() == tdx.grad_fn.name()
    w = RNG.standard_normal(a.shape)
    tgg = torch.autograd.grad((tdx * torch.tensor(w)).sum(), tg)[0]
    mgg = minigrad.autograd.grad((mdx * minigrad.tensor(w)).sum(), mg)[0]
    np.testing.assert_allclose(mgg.numpy(), tgg.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("shape,out", [((2, 3, 21, 15), (3, 5)), ((2, 3, 28, 28), 7),
                                       ((2, 3, 100), 7), ((2, 2, 12, 9, 15), (4, 3, 5))])
def test_adaptive_avg_grad_bits_equal_windows(shape, out):
    # equal windows: each element gets one share, dy / kH / kW, divided in PyTorch's order
    nd = _adaptive_rank(shape, out)
    a = RNG.standard_normal(shape).astype(np.float32)
    tx, mx = _pair(a)
    ty = getattr(TF, f"adaptive_avg_pool{nd}d")(tx, out)
    my = getattr(MF, f"adaptive_avg_pool{nd}d")(mx, out)
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    _same_bits(mx.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("out", [5, 7, (4, 6)])
def test_adaptive_avg_nonfinite_stays_in_its_windows(out):
    a = RNG.standard_normal((2, 3, 17, 19)).astype(np.float32)
    a[0, 0, 0, 0] = np.inf
    a[1, 2, 16, 18] = np.nan
    a[0, 1, 8, 9] = -np.inf
    t = TF.adaptive_avg_pool2d(torch.tensor(a), out).numpy()
    m = MF.adaptive_avg_pool2d(minigrad.tensor(a), out).numpy()
    np.testing.assert_array_equal(np.isnan(m), np.isnan(t))
    np.testing.assert_array_equal(np.isinf(m), np.isinf(t))
    np.testing.assert_allclose(m, t, rtol=1e-6, atol=1e-6)


def test_adaptive_avg_channels_last_half_and_views():
    a = RNG.standard_normal((2, 5, 17, 13)).astype(np.float32)
    t0 = torch.tensor(a).contiguous(memory_format=torch.channels_last).requires_grad_()
    m0 = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last).requires_grad_()
    ty, my = TF.adaptive_avg_pool2d(t0, (5, 6)), MF.adaptive_avg_pool2d(m0, (5, 6))
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-6,
                               atol=1e-6)
    assert my.stride() == ty.stride()
    g = RNG.standard_normal(ty.shape).astype(np.float32)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    np.testing.assert_allclose(m0.grad.numpy(), t0.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert m0.grad.stride() == t0.grad.stride()
    h = a.astype(np.float16)
    th = TF.adaptive_avg_pool2d(torch.tensor(h), 5)
    mh = MF.adaptive_avg_pool2d(minigrad.tensor(h), 5)
    assert mh.dtype == minigrad.float16
    np.testing.assert_allclose(mh.numpy().astype(np.float32), th.numpy().astype(np.float32),
                               rtol=2e-3, atol=2e-3)
    v = a[:, :, ::2, 1:]                       # a non-contiguous view
    np.testing.assert_allclose(MF.adaptive_avg_pool2d(minigrad.tensor(v), 4).numpy(),
                               TF.adaptive_avg_pool2d(torch.tensor(v), 4).numpy(), rtol=1e-6,
                               atol=1e-6)


def test_adaptive_avg_global_is_plain_mean():
    a = RNG.standard_normal((4, 8, 7, 7)).astype(np.float32)
    tx, mx = _pair(a)
    ty, my = TF.adaptive_avg_pool2d(tx, 1), MF.adaptive_avg_pool2d(mx, 1)
    assert my.grad_fn.name() == ty.grad_fn.name() == "MeanBackward1"
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    assert my.shape == ty.shape


def test_adaptive_avg_empty_output_and_batch():
    e = np.zeros((0, 3, 9, 10), np.float32)
    assert MF.adaptive_avg_pool2d(minigrad.tensor(e), 4).shape == \
        TF.adaptive_avg_pool2d(torch.tensor(e), 4).shape
    a = RNG.standard_normal((2, 3, 9, 10)).astype(np.float32)
    assert MF.adaptive_avg_pool2d(minigrad.tensor(a), (0, 4)).shape == \
        TF.adaptive_avg_pool2d(torch.tensor(a), (0, 4)).shape


@pytest.mark.parametrize("nd,kw", [(3, dict(kernel_size=3, stride=2, padding=1)),
                                   (1, dict(kernel_size=3, stride=1, padding=1)),
                                   (2, dict(kernel_size=(3, 2), stride=(2, 1), dilation=2))])
def test_max_pool_channels_last_memory_grads_to_second_order(nd, kw):
    # channels-last memory, pooled as (N, *S, C): values, indices, first and second order
    shape = (2, 5) + (7, 8, 9)[:nd]
    a = RNG.standard_normal((shape[0],) + shape[2:] + (shape[1],))      # (N, *S, C)
    perm = (0, nd + 1) + tuple(range(1, nd + 1))
    tx = torch.tensor(a).permute(perm).requires_grad_()
    mx = minigrad.tensor(a).permute(perm).requires_grad_()
    ty, ti = getattr(TF, f"max_pool{nd}d")(tx, return_indices=True, **kw)
    my, mi = getattr(MF, f"max_pool{nd}d")(mx, return_indices=True, **kw)
    _same_bits(my.detach().numpy(), ty.detach().numpy())
    np.testing.assert_array_equal(mi.numpy(), ti.numpy())
    assert my.stride() == ty.stride() and mi.stride() == ti.stride()
    g = RNG.standard_normal(ty.shape)
    tg, mg = _pair(g)
    (tdx,) = torch.autograd.grad(ty, tx, tg, create_graph=True)
    (mdx,) = minigrad.autograd.grad(my, mx, mg, create_graph=True)
    np.testing.assert_allclose(mdx.detach().numpy(), tdx.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    w = RNG.standard_normal(tdx.shape)
    tgg = torch.autograd.grad((tdx * torch.tensor(w)).sum(), tg)[0]
    mgg = minigrad.autograd.grad((mdx * minigrad.tensor(w)).sum(), mg)[0]
    np.testing.assert_allclose(mgg.numpy(), tgg.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("out", [(7, 7), (7, 5), (28, 14), (1, 7)])
def test_adaptive_avg_channels_last_memory(out):
    # channels-last memory summed as (N, H, W, C): values, layout, first and second order
    a = RNG.standard_normal((2, 28, 14, 5))
    tx = torch.tensor(a).permute(0, 3, 1, 2).requires_grad_()
    mx = minigrad.tensor(a).permute(0, 3, 1, 2).requires_grad_()
    ty, my = TF.adaptive_avg_pool2d(tx, out), MF.adaptive_avg_pool2d(mx, out)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-13,
                               atol=1e-14)
    assert my.stride() == ty.stride()
    g = RNG.standard_normal(ty.shape)
    tg, mg = _pair(g)
    (tdx,) = torch.autograd.grad(ty, tx, tg, create_graph=True)
    (mdx,) = minigrad.autograd.grad(my, mx, mg, create_graph=True)
    np.testing.assert_allclose(mdx.detach().numpy(), tdx.detach().numpy(), rtol=1e-13,
                               atol=1e-14)
    w = RNG.standard_normal(a.shape).transpose(0, 3, 1, 2)
    tgg = torch.autograd.grad((tdx * torch.tensor(w)).sum(), tg)[0]
    mgg = minigrad.autograd.grad((mdx * minigrad.tensor(w)).sum(), mg)[0]
    np.testing.assert_allclose(mgg.numpy(), tgg.numpy(), rtol=1e-13, atol=1e-14)
