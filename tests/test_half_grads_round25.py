"""float16 / bfloat16 values and gradients as PyTorch's CPU kernels round them (round 25):
layer_norm, group_norm, instance_norm, binary_cross_entropy(_with_logits), and the 16-bit
addbmm and batch-norm kernels, compared with torch in units in the last place (ulps) of the
16-bit dtype.

Reached (and the tolerances below): binary_cross_entropy and binary_cross_entropy_with_logits
0 ulps (value and both gradients); group_norm 0 ulps for the value and the weight and bias
gradients, at most 1 ulp for the input's (a float32 sum taken in another order);
instance_norm 0 ulps but 1 for the weight's gradient; layer_norm's value and input gradient
within 1 ulp (PyTorch's Welford row moments, not reproduced, can move rstd by a float32
ulp), its weight and bias gradients below; the batch-norm kernel 0 ulps for the value, 1 for the gradients; addbmm 0
ulps for the value (1 in float16) and the input's gradient, the batches' gradients within
1 ulp (bfloat16) or 3 (float16: PyTorch's product of the expanded gradient sums in its own
order).

layer_norm's weight and bias gradients: PyTorch sums each thread's rows in the 16-bit dtype,
rounding every addition (so its result depends on its thread count); minigrad sums in float32
and rounds once, and the tests bound the difference by that accumulation's error.
"""
import contextlib

import numpy as np
import pytest
import torch

import minigrad
from minigrad.ops._addbmm_16bit import addbmm_16
from minigrad.ops._batch_norm_16bit import BatchNorm16, fits

DTYPES = [(torch.float16, minigrad.float16), (torch.bfloat16, minigrad.bfloat16)]
IDS = ["float16", "bfloat16"]


def _ulps(mine, theirs):
    """The largest distance in ulps between a minigrad tensor and a torch one of one 16-bit
    dtype (the bit patterns ordered as integers; +0 and -0 are 0 apart)."""
    a = torch.from_numpy(np.asarray(mine.detach().float().numpy())).to(theirs.dtype)
    b = theirs.detach()
    ai, bi = a.view(torch.int16).int(), b.contiguous().view(torch.int16).int()
    ai = torch.where(ai < 0, -32768 - ai, ai)
    bi = torch.where(bi < 0, -32768 - bi, bi)
    d = (ai - bi).abs()
    d[torch.isnan(a) & torch.isnan(b)] = 0
    return int(d.max()) if d.numel() else 0


def _pair(array, tdt, mdt, grad=True):
    t = torch.from_numpy(np.ascontiguousarray(array, np.float32)).to(tdt)
    m = minigrad.tensor(t.float().numpy()).to(mdt)
    if grad:
        t.requires_grad_()
        m.requires_grad_()
    return t, m


def batch_norm_inputs(tdt, mdt, shape, training, affine):
    """x, weight, bias, running mean and variance as (torch, minigrad) pairs for a batch norm
    of ``shape`` (weight and bias (None, None) without ``affine``)."""
    rng = np.random.default_rng(sum(shape) + 2 * training + affine)
    c = shape[1]
    x = _pair(rng.standard_normal(shape) * 2 + 1, tdt, mdt)
    w = _pair(rng.standard_normal(c) + 1, tdt, mdt) if affine else (None, None)
    b = _pair(rng.standard_normal(c), tdt, mdt) if affine else (None, None)
    rm = _pair(rng.standard_normal(c), tdt, mdt, grad=False)
    rv = _pair(np.abs(rng.standard_normal(c)) + 0.5, tdt, mdt, grad=False)
    return x, w, b, rm, rv


@contextlib.contextmanager
def _threads(n):
    """Both libraries on ``n`` threads (restored after)."""
    before_t, before_m = torch.get_num_threads(), minigrad.get_num_threads()
    torch.set_num_threads(n)
    minigrad.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before_t)
        minigrad.set_num_threads(before_m)


def _compare(t_out, m_out, t_ins, m_ins, tdt, mdt, seed, tol_out, tol_grads):
    """Value, then (after backward with one random gradient) every input's gradient."""
    assert _ulps(m_out, t_out) <= tol_out
    g = np.random.default_rng(seed + 99).standard_normal(tuple(t_out.shape)).astype(np.float32)
    tg = torch.from_numpy(g).to(tdt)
    t_out.backward(tg)
    m_out.backward(minigrad.tensor(tg.float().numpy()).to(mdt))
    for k, (t, m, tol) in enumerate(zip(t_ins, m_ins, tol_grads)):
        if t is None or not t.requires_grad or tol is None:
            continue
        assert m.grad.dtype == mdt
        assert _ulps(m.grad, t.grad) <= tol, f"gradient {k}"


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape, k", [((4, 7), 1), ((3, 5, 33), 1), ((2, 3, 6, 5), 2),
                                      ((70, 9), 1)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_layer_norm(tdt, mdt, shape, k, affine, threads):
    """The value and x's gradient as PyTorch's; the weight's and bias's gradients, sums over
    the rows that PyTorch rounds to 16 bits after every addition (per thread), within that
    accumulation's error of PyTorch's: half an ulp of the largest sum per row."""
    rng = np.random.default_rng(sum(shape) + k)
    norm = shape[-k:]
    x = _pair(rng.standard_normal(shape) * 2 + 1, tdt, mdt)
    w = _pair(rng.standard_normal(norm) + 1, tdt, mdt) if affine else (None, None)
    b = _pair(rng.standard_normal(norm), tdt, mdt) if affine else (None, None)
    with _threads(threads):
        t_out = torch.nn.functional.layer_norm(x[0], norm, w[0], b[0])
        m_out = minigrad.nn.functional.layer_norm(x[1], norm, w[1], b[1])
        assert type(m_out.grad_fn).__name__ == "NativeLayerNormBackward0"
        _compare(t_out, m_out, [x[0], w[0], b[0]], [x[1], w[1], b[1]], tdt, mdt, 1, 1,
                 [1, None, None])
    if affine:
        rows = int(np.prod(shape[:-k]))
        eps = torch.finfo(tdt).eps
        for m, t in ((w[1], w[0]), (b[1], b[0])):
            theirs = t.grad.double().numpy()
            bound = (rows / 2 + 1) * eps * np.abs(theirs).max()
            np.testing.assert_allclose(m.grad.double().numpy(), theirs, rtol=0, atol=bound)


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
def test_layer_norm_float32_parameters(tdt, mdt):
    """A 16-bit input with float32 weight and bias (PyTorch keeps the statistics in float32
    then, and the parameters' gradients are float32)."""
    rng = np.random.default_rng(5)
    x = _pair(rng.standard_normal((6, 10)) * 2 + 1, tdt, mdt)
    w32 = rng.standard_normal(10).astype(np.float32) + 1
    b32 = rng.standard_normal(10).astype(np.float32)
    tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (w32, b32))
    mw, mb = (minigrad.tensor(a.copy(), requires_grad=True) for a in (w32, b32))
    t_out = torch.nn.functional.layer_norm(x[0], (10,), tw, tb)
    m_out = minigrad.nn.functional.layer_norm(x[1], (10,), mw, mb)
    assert _ulps(m_out, t_out) == 0
    g = torch.from_numpy(rng.standard_normal((6, 10)).astype(np.float32)).to(tdt)
    t_out.backward(g)
    m_out.backward(minigrad.tensor(g.float().numpy()).to(mdt))
    assert _ulps(x[1].grad, x[0].grad) <= 1
    for m, t in ((mw, tw), (mb, tb)):
        assert m.grad.dtype == minigrad.float32
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-2, atol=1e-2)


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape, groups", [((2, 6, 5), 3), ((3, 4, 3, 7), 2), ((2, 8, 9), 1),
                                           ((5, 12), 3)])
@pytest.mark.parametrize("affine", [False, True])
def test_group_norm(tdt, mdt, shape, groups, affine):
    rng = np.random.default_rng(sum(shape) + groups)
    c = shape[1]
    x = _pair(rng.standard_normal(shape) * 2 + 1, tdt, mdt)
    w = _pair(rng.standard_normal(c) + 1, tdt, mdt) if affine else (None, None)
    b = _pair(rng.standard_normal(c), tdt, mdt) if affine else (None, None)
    t_out = torch.nn.functional.group_norm(x[0], groups, w[0], b[0])
    m_out = minigrad.nn.functional.group_norm(x[1], groups, w[1], b[1])
    assert type(m_out.grad_fn).__name__ == "NativeGroupNormBackward0"
    _compare(t_out, m_out, [x[0], w[0], b[0]], [x[1], w[1], b[1]], tdt, mdt, 2, 0, [1, 0, 0])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
def test_norms_second_order(tdt, mdt):
    """create_graph through the 16-bit nodes: the second derivative runs as float32 ops, so
    it is compared with torch in float64 on the same (16-bit) values, not with torch's 16-bit
    double backward (which rounds every step)."""
    rng = np.random.default_rng(11)
    for fn, wshape in ((lambda F, x, w: F.layer_norm(x, (5,), w), (5,)),
                       (lambda F, x, w: F.group_norm(x, 1, w), (4,))):
        x = _pair(rng.standard_normal((3, 4, 5)), tdt, mdt)
        w = _pair(rng.standard_normal(wshape) + 1, tdt, mdt)
        c = _pair(rng.standard_normal((3, 4, 5)), tdt, mdt, grad=False)
        x64, w64 = (t.detach().double().requires_grad_() for t in (x[0], w[0]))
        y = fn(torch.nn.functional, x64, w64)
        gx, = torch.autograd.grad(y, [x64], c[0].double(), create_graph=True)
        want, = torch.autograd.grad(gx.square().sum(), [w64])
        y = fn(minigrad.nn.functional, x[1], w[1])
        gx, = minigrad.autograd.grad(y, [x[1]], c[1], create_graph=True)
        assert gx.dtype == mdt
        got, = minigrad.autograd.grad(gx.float().square().sum(), [w[1]])
        np.testing.assert_allclose(got.float().numpy(), want.numpy(), rtol=0.05,
                                   atol=0.05 * float(want.abs().max()))


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (3, 5, 9)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits(tdt, mdt, shape, reduction, weighted, pos_weighted):
    rng = np.random.default_rng(len(shape) * 7 + weighted + 2 * pos_weighted)
    x = _pair(rng.standard_normal(shape) * 3, tdt, mdt)
    y = _pair((rng.random(shape) > 0.5).astype(np.float32), tdt, mdt)
    w = _pair(rng.random(shape), tdt, mdt, grad=False) if weighted else (None, None)
    pw = _pair(rng.random(shape[-1:]) + 0.5, tdt, mdt, grad=False) if pos_weighted else \
        (None, None)
    t_out = torch.nn.functional.binary_cross_entropy_with_logits(
        x[0], y[0], w[0], reduction=reduction, pos_weight=pw[0])
    m_out = minigrad.nn.functional.binary_cross_entropy_with_logits(
        x[1], y[1], w[1], reduction=reduction, pos_weight=pw[1])
    assert m_out.dtype == mdt and tuple(m_out.shape) == tuple(t_out.shape)
    assert type(m_out.grad_fn).__name__ == "BinaryCrossEntropyWithLogitsBackward0"
    _compare(t_out, m_out, [x[0], y[0]], [x[1], y[1]], tdt, mdt, 3, 0, [0, 0])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("sizes", [(3, 4, 5, 6), (2, 7, 33, 9), (4, 16, 64, 8), (5, 3, 200, 2)])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 1.5), (0, 2)])
@pytest.mark.parametrize("broadcast", [False, True])
def test_addbmm(tdt, mdt, sizes, beta, alpha, broadcast):
    """The 16-bit addbmm kernel (``_addbmm_16bit``) against torch.addbmm."""
    batches, n, k, m = sizes
    rng = np.random.default_rng(sum(sizes))
    inp = _pair(rng.standard_normal((m,) if broadcast else (n, m)), tdt, mdt)
    b1 = _pair(rng.standard_normal((batches, n, k)), tdt, mdt)
    b2 = _pair(rng.standard_normal((batches, k, m)), tdt, mdt)
    t_out = torch.addbmm(inp[0], b1[0], b2[0], beta=beta, alpha=alpha)
    m_out = addbmm_16(inp[1], b1[1], b2[1], beta, alpha)
    assert type(m_out.grad_fn).__name__ == "AddbmmBackward0"
    half = tdt == torch.float16
    _compare(t_out, m_out, [inp[0], b1[0], b2[0]], [inp[1], b1[1], b2[1]], tdt, mdt, 4,
             1 if half else 0, [0, 3 if half else 1, 3 if half else 1])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(2, 3, 7), (2, 3, 4, 5), (1, 4, 33)])
@pytest.mark.parametrize("affine", [False, True])
def test_instance_norm(tdt, mdt, shape, affine):
    """PyTorch's batch norm of the (1, N C, *) view, the parameters repeated per sample."""
    rng = np.random.default_rng(sum(shape) + affine)
    c = shape[1]
    x = _pair(rng.standard_normal(shape) * 2 + 1, tdt, mdt)
    w = _pair(rng.standard_normal(c) + 1, tdt, mdt) if affine else (None, None)
    b = _pair(rng.standard_normal(c), tdt, mdt) if affine else (None, None)
    t_out = torch.nn.functional.instance_norm(x[0], weight=w[0], bias=b[0])
    m_out = minigrad.nn.functional.instance_norm(x[1], weight=w[1], bias=b[1])
    _compare(t_out, m_out, [x[0], w[0], b[0]], [x[1], w[1], b[1]], tdt, mdt, 5, 0, [0, 1, 0])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
def test_instance_norm_running_stats_still_update(tdt, mdt):
    rng = np.random.default_rng(8)
    x = _pair(rng.standard_normal((3, 2, 6)), tdt, mdt, grad=False)
    rm_t, rv_t = torch.zeros(2), torch.ones(2)
    rm_m, rv_m = minigrad.zeros(2), minigrad.ones(2)
    torch.nn.functional.instance_norm(x[0], rm_t, rv_t, use_input_stats=True)
    minigrad.nn.functional.instance_norm(x[1], rm_m, rv_m, use_input_stats=True)
    np.testing.assert_allclose(rm_m.numpy(), rm_t.numpy(), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(rv_m.numpy(), rv_t.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(4, 3, 5, 7), (2, 5, 9), (8, 3, 4), (1, 6, 130)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm_kernel(tdt, mdt, shape, training, affine):
    """The 16-bit batch-norm node (``_batch_norm_16bit.BatchNorm16``) against batch_norm."""
    x, w, b, rm, rv = batch_norm_inputs(tdt, mdt, shape, training, affine)
    t_out = torch.nn.functional.batch_norm(x[0], None if training else rm[0],
                                           None if training else rv[0], w[0], b[0], training)
    assert fits(x[1], w[1], b[1])
    m_out = BatchNorm16.apply(x[1], *[t for t in (w[1], b[1]) if t is not None],
                              running_mean=None if training else rm[1]._array,
                              running_var=None if training else rv[1]._array,
                              has_weight=affine, has_bias=affine, training=training,
                              momentum=0.1, eps=1e-5, update=None, half=x[1]._array.dtype)
    assert type(m_out.grad_fn).__name__ == "NativeBatchNormBackward0"
    _compare(t_out, m_out, [x[0], w[0], b[0]], [x[1], w[1], b[1]], tdt, mdt, 6, 0, [1, 1, 0])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(5,), (4, 7), (3, 5, 9)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(tdt, mdt, shape, reduction, weighted):
    """binary_cross_entropy on probabilities (soft targets, so that the target's gradient
    is exercised too)."""
    rng = np.random.default_rng(len(shape) * 5 + weighted)
    p = _pair(1 / (1 + np.exp(-2 * rng.standard_normal(shape))), tdt, mdt)
    y = _pair((rng.random(shape) > 0.5) * 0.8 + 0.1 * rng.random(shape), tdt, mdt)
    w = _pair(rng.random(shape), tdt, mdt, grad=False) if weighted else (None, None)
    t_out = torch.nn.functional.binary_cross_entropy(p[0], y[0], w[0], reduction=reduction)
    m_out = minigrad.nn.functional.binary_cross_entropy(p[1], y[1], w[1], reduction=reduction)
    assert m_out.dtype == mdt and tuple(m_out.shape) == tuple(t_out.shape)
    assert type(m_out.grad_fn).__name__ == "BinaryCrossEntropyBackward0"
    _compare(t_out, m_out, [p[0], y[0]], [p[1], y[1]], tdt, mdt, 7, 0, [0, 0])


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(7,), (64, 33), (2, 3, 50)])
def test_sigmoid_slope_from_the_rounded_result(tdt, mdt, shape):
    """sigmoid's gradient g (1 - s) s reads the saved 16-bit result s, as PyTorch's does
    (from the unrounded float32 s it was thousands of ulps off where g (1 - s) s is small):
    bfloat16 0 ulps, float16 within 2."""
    rng = np.random.default_rng(sum(shape))
    x = _pair(rng.standard_normal(shape) * 4, tdt, mdt)
    _compare(torch.sigmoid(x[0]), minigrad.sigmoid(x[1]), [x[0]], [x[1]], tdt, mdt, 3, 0,
             [2 if tdt == torch.float16 else 0])
