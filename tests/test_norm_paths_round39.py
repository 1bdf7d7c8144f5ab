"""The normalisations' fast paths of round 39, against PyTorch: layer_norm over rows as long
as a block (one row at a time, scalar factors), the row kernels run with a short ufunc
buffer, batch_norm on channels-last inputs (its (N*H*W, C) rows), group_norm's channels-last
result made in its own node. Values, gradients (float64, first and second order), layouts,
node names, eval mode, affine=False, 16-bit inputs."""
import numpy as np
import pytest
import torch

import minigrad

RNG = np.random.default_rng(39)


def _arr(shape, dtype=np.float64, offset=0.0):
    return (RNG.standard_normal(shape) * 1.5 + offset).astype(dtype)


def _tensors(lib, arrays, grad=True, channels_last=False):
    out = []
    for a in arrays:
        if a is None:
            out.append(None)
            continue
        t = lib.tensor(a)
        if channels_last and t.ndim == 4:
            t = t.contiguous(memory_format=lib.channels_last)
        out.append(t.requires_grad_() if grad else t)
    return out


def _both(fn, arrays, g, channels_last=False, g_channels_last=None):
    """fn run by minigrad and by torch on the same arrays: (outputs, grads) for each."""
    res = []
    for lib in (minigrad, torch):
        ts = _tensors(lib, arrays, channels_last=channels_last)
        y = fn(lib, *ts)
        gt = lib.tensor(g)
        if (channels_last if g_channels_last is None else g_channels_last) and gt.ndim == 4:
            gt = gt.contiguous(memory_format=lib.channels_last)
        wrt = [t for t in ts if t is not None]
        grads = lib.autograd.grad(y, wrt, gt)
        res.append((y, grads))
    return res


def _close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(np.asarray(a.detach().numpy(), np.float64),
                               np.asarray(b.detach().numpy(), np.float64), rtol=rtol, atol=atol)


def _close_or_unused(ours, theirs):
    """Second-order gradients: equal, a None (unused) on one side zero on the other."""
    for a, b in zip(ours, theirs):
        if a is None or b is None:
            assert (a is None or not a.detach().numpy().any()) and \
                (b is None or not b.detach().numpy().any())
            continue
        _close(a, b, rtol=1e-6, atol=1e-9)


def F(lib):
    return lib.nn.functional


LONG_ROWS = [(3, 64, 32, 32), (2, 2, 256, 256), (2, 5, 99, 211)]


@pytest.mark.parametrize("shape", LONG_ROWS)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_long_rows_float64(shape, affine):
    x, g = _arr(shape), _arr(shape)
    params = [_arr(shape[1:]), _arr(shape[1:])] if affine else [None, None]
    (ym, gm), (yt, gt) = _both(
        lambda L, x, w, b: F(L).layer_norm(x, x.shape[1:], w, b), [x] + params, g)
    _close(ym, yt)
    assert ym.grad_fn.name() == yt.grad_fn.name() == "NativeLayerNormBackward0"
    assert ym.stride() == yt.stride()
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("shape", LONG_ROWS[:2])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_long_rows_float32_as_close_as_torch(shape, affine):
    """float32 against the float64 result: within a few times PyTorch's own distance."""
    x, g = _arr(shape, offset=3.0), _arr(shape)
    params = [_arr(shape[1:]), _arr(shape[1:])] if affine else [None, None]
    fn = lambda L, x, w, b: F(L).layer_norm(x, x.shape[1:], w, b)      # noqa: E731
    (_, _), (ref_y, ref_g) = _both(fn, [x] + params, g)
    f32 = lambda a: None if a is None else a.astype(np.float32)        # noqa: E731
    (ym, gm), (yt, gt) = _both(fn, [f32(x)] + [f32(p) for p in params], f32(g))
    for m, t, r in zip([ym] + list(gm), [yt] + list(gt), [ref_y] + list(ref_g)):
        r = r.detach().numpy()
        err_m = np.abs(m.detach().numpy() - r).max()
        err_t = np.abs(t.detach().numpy() - r).max()
        assert m.dtype == minigrad.float32
        assert err_m <= 4 * err_t + 1e-6 * np.abs(r).max()


def test_layer_norm_long_rows_weight_grad_only():
    x, w, b, g = _arr((2, 4, 128, 128)), _arr((128, 128)), _arr((128, 128)), _arr(
        (2, 4, 128, 128))
    res = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x)
        wt, bt = lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = F(lib).layer_norm(xt, (128, 128), wt, bt)
        res.append(lib.autograd.grad(y, [wt], lib.tensor(g)))
    _close(res[0][0], res[1][0], rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_long_rows_second_order(affine):
    shape = (2, 1, 256, 256)
    x, g, v = _arr(shape), _arr(shape), _arr(shape)
    params = [_arr(shape[1:]), _arr(shape[1:])] if affine else []
    out = []
    for lib in (minigrad, torch):
        ts = _tensors(lib, [x] + params)
        y = F(lib).layer_norm(ts[0], shape[1:], *ts[1:]) if affine else \
            F(lib).layer_norm(ts[0], shape[1:])
        grads = lib.autograd.grad(y, ts, lib.tensor(g), create_graph=True)
        s = sum((gr * lib.tensor(v if gr.shape == v.shape else v[0])).sum() for gr in grads)
        out.append(lib.autograd.grad(s, ts, allow_unused=True))
    _close_or_unused(*out)


@pytest.mark.parametrize("shape,normalized", [((64, 768), (768,)), ((4, 100, 640), (640,)),
                                              ((300, 1024), (1024,))])
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm_transformer_rows(shape, normalized, affine):
    x, g = _arr(shape), _arr(shape)
    params = [_arr(normalized), _arr(normalized)] if affine else [None, None]
    (ym, gm), (yt, gt) = _both(lambda L, x, w, b: F(L).layer_norm(x, normalized, w, b),
                               [x] + params, g)
    _close(ym, yt)
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)


def test_short_buffer_setting_restored():
    """The kernels set numpy's ufunc buffer per call and put it back (no leak into user
    code, an exception included)."""
    before = np.getbufsize()
    x = minigrad.tensor(_arr((256, 1024), np.float32), requires_grad=True)
    y = F(minigrad).layer_norm(x, (1024,))
    y.backward(minigrad.ones_like(y))
    z = minigrad.tensor(_arr((8, 64, 32, 32), np.float32), requires_grad=True)
    F(minigrad).group_norm(z, 8).sum().backward()
    F(minigrad).instance_norm(z).sum().backward()
    assert np.getbufsize() == before


@pytest.mark.parametrize("groups,affine", [(8, True), (8, False), (64, False), (64, True),
                                           (1, True), (8, "bias"), (64, "bias")])
def test_group_norm_and_instance_norm_values_grads(groups, affine):
    shape = (4, 64, 24, 24)
    x, g = _arr(shape), _arr(shape)
    params = [_arr(64), _arr(64)] if affine else [None, None]
    if affine == "bias":
        params[0] = None
    # (PyTorch's group_norm backward fails for the bias of a call without weight, "tensor
    # does not have a device": there the input's gradient alone is compared)
    gn = [x, None, None] if affine == "bias" else [x] + params
    (ym, gm), (yt, gt) = _both(
        lambda L, x, w, b: F(L).group_norm(
            x, groups, w, b if affine != "bias" else L.tensor(params[1])), gn, g)
    _close(ym, yt)
    assert ym.grad_fn.name() == yt.grad_fn.name()
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)
    (ym, gm), (yt, gt) = _both(lambda L, x, w, b: F(L).instance_norm(x, weight=w, bias=b),
                               [x] + params, g)
    _close(ym, yt)
    assert ym.grad_fn.name() == yt.grad_fn.name() == "ViewBackward0"
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("shape", [(3, 16, 9, 7), (2, 32, 40, 40), (2, 64, 16, 16)])
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm_channels_last_node_and_layout(shape, affine):
    c = shape[1]
    x, g = _arr(shape), _arr(shape)
    params = [_arr(c), _arr(c)] if affine else [None, None]
    (ym, gm), (yt, gt) = _both(lambda L, x, w, b: F(L).group_norm(x, 4, w, b),
                               [x] + params, g, channels_last=True)
    _close(ym, yt)
    assert ym.grad_fn.name() == yt.grad_fn.name() == "NativeGroupNormBackward0"
    assert ym.stride() == yt.stride()
    assert gm[0].stride() == gt[0].stride()
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)
    # instance_norm of a channels-last input stays row-major, its gradient too
    (ym, gm), (yt, gt) = _both(lambda L, x: F(L).instance_norm(x), [x], g, channels_last=True)
    _close(ym, yt)
    assert ym.stride() == yt.stride() and gm[0].stride() == gt[0].stride()


@pytest.mark.parametrize("g_channels_last", [True, False])
def test_group_norm_channels_last_float32_and_other_grad_layout(g_channels_last):
    """float32 against the float64 result (within a few times PyTorch's distance); a
    gradient of another layout than x's."""
    shape = (4, 32, 24, 24)
    x, w, b, g = _arr(shape, offset=2.0), _arr(32), _arr(32), _arr(shape)
    fn = lambda L, x, w, b: F(L).group_norm(x, 8, w, b)                # noqa: E731
    (_, _), (ref_y, ref_g) = _both(fn, [x, w, b], g, channels_last=True,
                                   g_channels_last=g_channels_last)
    f32 = [a.astype(np.float32) for a in (x, w, b)]
    (ym, gm), (yt, gt) = _both(fn, f32, g.astype(np.float32), channels_last=True,
                               g_channels_last=g_channels_last)
    assert ym.stride() == yt.stride() and gm[0].stride() == gt[0].stride()
    for m, t, r in zip([ym] + list(gm), [yt] + list(gt), [ref_y] + list(ref_g)):
        r = r.detach().numpy()
        err_m = np.abs(m.detach().numpy() - r).max()
        err_t = np.abs(t.detach().numpy() - r).max()
        assert m.dtype == minigrad.float32
        assert err_m <= 4 * err_t + 1e-6 * np.abs(r).max()


def test_group_norm_channels_last_3d():
    shape = (2, 8, 3, 4, 5)
    x, w, b, g = _arr(shape), _arr(8), _arr(8), _arr(shape)
    res = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x).contiguous(memory_format=lib.channels_last_3d).requires_grad_()
        wt, bt = lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)
        y = F(lib).group_norm(xt, 4, wt, bt)
        res.append((y, lib.autograd.grad(y, [xt, wt, bt], lib.tensor(g))))
    (ym, gm), (yt, gt) = res
    _close(ym, yt)
    assert ym.stride() == yt.stride() and gm[0].stride() == gt[0].stride()
    assert ym.grad_fn.name() == yt.grad_fn.name()
    for a, bb in zip(gm, gt):
        _close(a, bb, rtol=1e-7, atol=1e-8)


def test_group_norm_channels_last_second_order():
    shape = (2, 8, 5, 6)
    x, w, b, g = _arr(shape), _arr(8), _arr(8), _arr(shape)
    out = []
    for lib in (minigrad, torch):
        xt, wt, bt = _tensors(lib, [x, w, b], channels_last=True)
        y = F(lib).group_norm(xt, 2, wt, bt)
        gx, gw = lib.autograd.grad(y, [xt, wt], lib.tensor(g), create_graph=True)
        out.append(lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), [xt, wt, bt],
                                     allow_unused=True))
    _close_or_unused(*out)


BN_SHAPES = [(8, 16, 12, 12), (32, 64, 16, 16), (5, 64, 13, 13), (3, 5, 7, 1)]


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("g_channels_last", [True, False])
def test_batch_norm_channels_last_training(shape, affine, g_channels_last):
    c = shape[1]
    x, g = _arr(shape), _arr(shape)
    params = [_arr(c), _arr(c)] if affine else [None, None]
    stats = {}
    for lib in (minigrad, torch):
        stats[lib] = (lib.tensor(_arr(c) * 0 + 0.5), lib.tensor(np.ones(c) * 2.0))

    def fn(L, x, w, b):
        return F(L).batch_norm(x, *stats[L], w, b, training=True, momentum=0.3)
    (ym, gm), (yt, gt) = _both(fn, [x] + params, g, channels_last=True,
                               g_channels_last=g_channels_last)
    _close(ym, yt)
    assert ym.stride() == yt.stride()
    assert ym.grad_fn.name() == yt.grad_fn.name() == "NativeBatchNormBackward0"
    assert gm[0].stride() == gt[0].stride()
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)
    for a, b in zip(stats[minigrad], stats[torch]):     # both updated twice (two calls)
        _close(a, b)


@pytest.mark.parametrize("shape", [(4, 24, 10, 10), (8, 64, 12, 12)])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_channels_last_eval(shape, affine):
    c = shape[1]
    x, g = _arr(shape), _arr(shape)
    params = [_arr(c), _arr(c)] if affine else [None, None]
    rm, rv = _arr(c), np.abs(_arr(c)) + 0.5

    def fn(L, x, w, b):
        return F(L).batch_norm(x, L.tensor(rm), L.tensor(rv), w, b, training=False)
    (ym, gm), (yt, gt) = _both(fn, [x] + params, g, channels_last=True)
    _close(ym, yt)
    assert ym.stride() == yt.stride()
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)


def test_batch_norm_channels_last_want_subsets_and_second_order():
    shape = (6, 8, 5, 5)
    x, w, b, g = _arr(shape), _arr(8), _arr(8), _arr(shape)
    for wrt in ([1], [2], [1, 2], [0]):
        res = []
        for lib in (minigrad, torch):
            ts = _tensors(lib, [x, w, b], channels_last=True)
            y = F(lib).batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
            res.append(lib.autograd.grad(y, [ts[i] for i in wrt], lib.tensor(g)))
        for a, bb in zip(*res):
            _close(a, bb, rtol=1e-7, atol=1e-8)
    out = []
    for lib in (minigrad, torch):
        ts = _tensors(lib, [x, w, b], channels_last=True)
        y = F(lib).batch_norm(ts[0], None, None, ts[1], ts[2], training=True)
        gx, gw = lib.autograd.grad(y, ts[:2], lib.tensor(g), create_graph=True)
        out.append(lib.autograd.grad((gx * gx).sum() + gw.sum(), ts[:2]))
    for a, bb in zip(*out):
        _close(a, bb, rtol=1e-6, atol=1e-9)


def test_batch_norm_float32_channels_last_close_to_float64():
    shape = (16, 32, 16, 16)
    x, g = _arr(shape, offset=2.0), _arr(shape)
    fn = lambda L, x: F(L).batch_norm(x, None, None, training=True)    # noqa: E731
    (_, _), (ref_y, ref_g) = _both(fn, [x], g, channels_last=True)
    (ym, gm), (yt, gt) = _both(fn, [x.astype(np.float32)], g.astype(np.float32),
                               channels_last=True)
    assert ym.dtype == minigrad.float32 and ym.stride() == yt.stride()
    for m, t, r in ((ym, yt, ref_y), (gm[0], gt[0], ref_g[0])):
        r = r.detach().numpy()
        err_m = np.abs(m.detach().numpy() - r).max()
        err_t = np.abs(t.detach().numpy() - r).max()
        assert err_m <= 4 * err_t + 1e-6 * np.abs(r).max()


@pytest.mark.parametrize("shape", [(64, 32), (5, 3), (128, 256)])
def test_batch_norm_rows_without_positions(shape):
    x, g = _arr(shape), _arr(shape)
    params = [_arr(shape[1]), _arr(shape[1])]
    (ym, gm), (yt, gt) = _both(
        lambda L, x, w, b: F(L).batch_norm(x, None, None, w, b, training=True),
        [x] + params, g)
    _close(ym, yt)
    for a, b in zip(gm, gt):
        _close(a, b, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_batch_norm_16bit_channels_last_matches_torch(dtype):
    shape = (4, 8, 6, 6)
    x, g = _arr(shape, np.float32), _arr(shape, np.float32)
    res = []
    for lib in (minigrad, torch):
        dt = getattr(lib, dtype)
        xt = lib.tensor(x).to(dt).contiguous(memory_format=lib.channels_last).requires_grad_()
        y = F(lib).batch_norm(xt, None, None, training=True)
        gx, = lib.autograd.grad(y, [xt], lib.tensor(g).to(dt))
        res.append((y, gx))
    (ym, gm), (yt, gt) = res
    assert ym.dtype == getattr(minigrad, dtype) and ym.stride() == yt.stride()
    tol = 1e-2 if dtype == "float16" else 4e-2
    _close(ym.float(), yt.float(), rtol=tol, atol=tol)
    _close(gm.float(), gt.float(), rtol=tol, atol=tol)


def test_batch_norm_non_contiguous_view_keeps_generic_path():
    base = _arr((6, 10, 4, 8))
    x = base.transpose(0, 1, 3, 2)           # neither row-major nor channels-last
    g = _arr(x.shape)
    res = []
    for lib in (minigrad, torch):
        xt = lib.tensor(base).transpose(2, 3).requires_grad_()
        y = F(lib).batch_norm(xt, None, None, training=True)
        res.append((y, lib.autograd.grad(y, [xt], lib.tensor(g))[0], xt))
    (ym, gm, _), (yt, gt, _) = res
    _close(ym, yt)
    _close(gm, gt, rtol=1e-7, atol=1e-8)
    assert ym.stride() == yt.stride()
