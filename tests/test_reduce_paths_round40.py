"""Round 40's reduction paths against PyTorch: cumprod of float32 kept in float64 (long rows by
chunks, an earlier dim slice by slice; bit for bit, overflow and underflow within a chunk,
zeros, inf and NaN included), complex64 in complex128, float16 in float32; the class losses'
one forward path (every target counted, no class weights: values, gradients of first and
second order, node names) and their gate for common calls; the normalisations' gradient
tuples (one helper for batch, layer, group and instance norm, arrays and ops alike)."""
import numpy as np
import pytest
import torch

import minigrad as mg

R = np.random.default_rng(40)


def _pair(a, grad=False):
    return (mg.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad))


def _same(m, t, exact=True, rtol=1e-12, atol=1e-12):
    m, t = m.detach().numpy(), t.detach().numpy()
    assert m.dtype == t.dtype and m.shape == t.shape
    if exact:
        assert np.array_equal(m, t, equal_nan=True), np.nanmax(np.abs(m - t))
    else:
        np.testing.assert_allclose(m, t, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------------------------
# cumprod
# ------------------------------------------------------------------------------------------
def _hard_rows():
    big = np.full((48, 800), 1e37, np.float32)
    big[:, :100] = 1e-30                    # the running product under and back over
    big[:, 100:108] = 1e38                  # a chunk whose own product overflows float64
    big[5] = R.uniform(0.5, 1.5, 800)
    odd = R.uniform(0.5, 1.5, (40, 800)).astype(np.float32)
    odd[3, 10] = 0
    odd[4, 5] = np.nan
    odd[6, 100] = -np.inf
    odd[7, 300:] = -0.0
    return [big, odd]


CUMPROD_CASES = [
    ("uniform_1024", lambda: R.uniform(0.1, 1, (256, 1024)).astype(np.float32)),
    ("near_one_4096", lambda: R.uniform(0.9, 1.1, (16, 4096)).astype(np.float32)),
    ("ragged_1001", lambda: R.uniform(0.9, 1.1, (40, 1001)).astype(np.float32)),
    ("signed_wide", lambda: (R.standard_normal((64, 300)) * 30).astype(np.float32)),
    ("three_dims", lambda: R.uniform(0.9, 1.1, (3, 5, 700)).astype(np.float32)),
    ("short_rows", lambda: R.uniform(0.5, 2, (512, 9)).astype(np.float32)),
    ("float64", lambda: R.standard_normal((64, 512))),
    ("float16", lambda: R.uniform(0.9, 1.1, (8, 3000)).astype(np.float16)),
    ("complex64", lambda: (R.uniform(0.9, 1.1, (32, 600)) *
                           np.exp(1j * R.uniform(-.1, .1, (32, 600)))).astype(np.complex64)),
    ("overflow", lambda: _hard_rows()[0]),
    ("zeros_nan_inf", lambda: _hard_rows()[1]),
]


@pytest.mark.parametrize("name,make", CUMPROD_CASES, ids=[c[0] for c in CUMPROD_CASES])
def test_cumprod_values_bitwise(name, make):
    a = make()
    for d in range(-1, a.ndim):
        m, t = _pair(a)
        _same(m.cumprod(d), t.cumprod(d))


@pytest.mark.parametrize("layout", ["transposed", "strided", "channels_last"])
def test_cumprod_layouts(layout):
    a = R.uniform(0.8, 1.2, (8, 16, 12, 70)).astype(np.float32)
    m, t = _pair(a)
    if layout == "transposed":
        m, t = m.transpose(1, 3), t.transpose(1, 3)
    elif layout == "strided":
        m, t = m[:, ::2, :, ::3], t[:, ::2, :, ::3]
    else:
        m = m.contiguous(memory_format=mg.channels_last)
        t = t.contiguous(memory_format=torch.channels_last)
    for d in range(4):
        ym, yt = m.cumprod(d), t.cumprod(d)
        _same(ym, yt)
        assert ym.stride() == yt.stride()


def test_cumprod_dtype_argument_and_empty():
    a = R.uniform(0.9, 1.1, (64, 500)).astype(np.float32)
    m, t = _pair(a)
    _same(m.cumprod(1, dtype=mg.float64), t.cumprod(1, dtype=torch.float64))
    _same(m.double().cumprod(1, dtype=mg.float32), t.double().cumprod(1, dtype=torch.float32))
    for shape in [(0, 5), (3, 0), ()]:
        e = np.ones(shape, np.float32)
        m, t = _pair(e)
        _same(m.cumprod(0 if shape else 0), t.cumprod(0))
    i = R.integers(-3, 4, (50, 400))
    _same(mg.tensor(i).cumprod(1), torch.tensor(i).cumprod(1))


@pytest.mark.parametrize("zeros", [False, True])
def test_cumprod_gradients(zeros):
    a = R.uniform(0.5, 1.5, (6, 70))
    if zeros:
        a[2, 5] = 0
        a[3, 7] = a[3, 40] = 0
    m, t = _pair(a, True)
    ym, yt = m.cumprod(1), t.cumprod(1)
    assert ym.grad_fn.name() == yt.grad_fn.name()
    g = R.standard_normal(a.shape)
    gm, = mg.autograd.grad(ym, m, mg.tensor(g), create_graph=True)
    gt, = torch.autograd.grad(yt, t, torch.tensor(g), create_graph=True)
    _same(gm, gt, exact=False, rtol=1e-9, atol=1e-10)
    v = R.standard_normal(a.shape)
    hm, = mg.autograd.grad((gm * mg.tensor(v)).sum(), m)
    ht, = torch.autograd.grad((gt * torch.tensor(v)).sum(), t)
    _same(hm, ht, exact=False, rtol=1e-9, atol=1e-10)


def test_cumprod_float32_threads():
    a = R.uniform(0.9, 1.1, (512, 1024)).astype(np.float32)
    old = mg.get_num_threads()
    try:
        mg.set_num_threads(2)
        m, t = _pair(a)
        _same(m.cumprod(1), t.cumprod(1))
    finally:
        mg.set_num_threads(old)


# ------------------------------------------------------------------------------------------
# cross_entropy / nll_loss: one forward path and the common-call gate
# ------------------------------------------------------------------------------------------
LOSS_CASES = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(ignore_index=3),
    dict(ignore_index=-1),
    dict(weight=True),
    dict(label_smoothing=0.2),
    dict(label_smoothing=0.2, weight=True),
    dict(label_smoothing=0.2, reduction="none"),
    dict(label_smoothing=-0.5),
    dict(label_smoothing=0.1, ignore_index=2, reduction="sum"),
]


def _loss_args(L, kw, c, dtype):
    kw = dict(kw)
    if kw.get("weight") is True:
        kw["weight"] = L.tensor(np.linspace(0.5, 2, c).astype(dtype))
    return kw


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", LOSS_CASES, ids=[repr(k) for k in LOSS_CASES])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("shape", [(32, 10), (4, 3), (300, 50)])
def test_class_loss_values(fn, kw, dtype, shape):
    if fn == "nll_loss" and "label_smoothing" in kw:
        pytest.skip("nll_loss has no smoothing")
    x = R.standard_normal(shape).astype(dtype)
    if fn == "nll_loss":
        x = torch.log_softmax(torch.tensor(x), 1).numpy()
    tg = R.integers(0, shape[1], shape[0])
    tg[1] = 3 % shape[1]
    m = getattr(mg.nn.functional, fn)(mg.tensor(x), mg.tensor(tg),
                                      **_loss_args(mg, kw, shape[1], dtype))
    t = getattr(torch.nn.functional, fn)(torch.tensor(x), torch.tensor(tg),
                                         **_loss_args(torch, kw, shape[1], dtype))
    _same(m, t, exact=False, rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-6)


@pytest.mark.parametrize("kw", LOSS_CASES, ids=[repr(k) for k in LOSS_CASES])
@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_class_loss_gradients(fn, kw):
    if fn == "nll_loss" and "label_smoothing" in kw:
        pytest.skip("nll_loss has no smoothing")
    x = R.standard_normal((7, 5))
    tg = np.array([0, 4, 3, 1, 2, 3, 0])
    m, t = _pair(x, True)
    fm, ft = getattr(mg.nn.functional, fn), getattr(torch.nn.functional, fn)
    ym = fm(m, mg.tensor(tg), **_loss_args(mg, kw, 5, np.float64))
    yt = ft(t, torch.tensor(tg), **_loss_args(torch, kw, 5, np.float64))
    assert ym.grad_fn.name() == yt.grad_fn.name()
    g = R.standard_normal(tuple(yt.shape))
    gm, = mg.autograd.grad(ym, m, mg.tensor(g), create_graph=True)
    gt, = torch.autograd.grad(yt, t, torch.tensor(g), create_graph=True)
    _same(gm, gt, exact=False)
    v = R.standard_normal(x.shape)
    hm, = mg.autograd.grad((gm * mg.tensor(v)).sum(), m)
    ht, = torch.autograd.grad((gt * torch.tensor(v)).sum(), t)
    _same(hm, ht, exact=False)
    # a plain backward (arrays) after a forward that made no weights
    ym = fm(m, mg.tensor(tg), **_loss_args(mg, kw, 5, np.float64))
    ym.backward(mg.tensor(g))
    yt = ft(t, torch.tensor(tg), **_loss_args(torch, kw, 5, np.float64))
    yt.backward(torch.tensor(g))
    _same(m.grad, t.grad, exact=False)


def test_class_loss_gate_refusals():
    x = mg.tensor(R.standard_normal((4, 3)).astype(np.float32))
    xt = torch.tensor(x.numpy())
    for tg, err in [(np.array([0, 1, 3, 0]), IndexError), (np.array([0, 1, -2, 0]), IndexError),
                    (np.array([0, 1, 2]), ValueError)]:
        with pytest.raises(err) as em:
            mg.nn.functional.cross_entropy(x, mg.tensor(tg))
        with pytest.raises(err) as et:
            torch.nn.functional.cross_entropy(xt, torch.tensor(tg))
        assert type(em.value) is type(et.value)
    # int32 targets and an ignore_index inside the range: the general path, PyTorch's answers
    tg = np.array([0, 1, 2, 1])
    with pytest.raises(RuntimeError):
        mg.nn.functional.cross_entropy(x, mg.tensor(tg.astype(np.int32)))
    _same(mg.nn.functional.cross_entropy(x, mg.tensor(tg), ignore_index=1),
          torch.nn.functional.cross_entropy(xt, torch.tensor(tg), ignore_index=1),
          exact=False, rtol=1e-6)
    # uint8 targets, integer scores, empty batches
    _same(mg.nn.functional.nll_loss(x, mg.tensor(tg.astype(np.uint8))),
          torch.nn.functional.nll_loss(xt, torch.tensor(tg.astype(np.uint8))), exact=False,
          rtol=1e-6)
    e = np.zeros((0, 3), np.float32)
    _same(mg.nn.functional.cross_entropy(mg.tensor(e), mg.tensor(np.zeros(0, np.int64))),
          torch.nn.functional.cross_entropy(torch.tensor(e), torch.tensor(np.zeros(0, np.int64))))
    with pytest.raises(NotImplementedError):
        mg.nn.functional.cross_entropy(mg.tensor(np.ones((2, 3), np.int64)),
                                       mg.tensor(np.array([0, 1])))


def test_class_loss_keeps_target_and_16bit():
    x = R.standard_normal((32, 10)).astype(np.float32)
    tg = R.integers(0, 10, 32)
    m = mg.tensor(x, requires_grad=True)
    y = mg.nn.functional.cross_entropy(m, mg.tensor(tg))
    t = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.cross_entropy(t, torch.tensor(tg))
    assert [n for n, _ in y.grad_fn.next_functions if n is not None].__len__() == \
        [n for n, _ in yt.grad_fn.next_functions if n is not None].__len__()
    for dt in (mg.float16, mg.bfloat16):
        tdt = getattr(torch, str(dt).split(".")[1])
        ym = mg.nn.functional.cross_entropy(mg.tensor(x).to(dt), mg.tensor(tg))
        yt = torch.nn.functional.cross_entropy(torch.tensor(x).to(tdt), torch.tensor(tg))
        assert ym.dtype == dt
        np.testing.assert_allclose(ym.float().numpy(), yt.float().numpy(), rtol=1e-2)


# ------------------------------------------------------------------------------------------
# the normalisations' gradient tuples
# ------------------------------------------------------------------------------------------
NORMS = {
    "batch_norm": lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    "batch_norm_eval": lambda F, x, w, b: F.batch_norm(
        x, x.new_zeros(4) if hasattr(x, "new_zeros") else None, x.new_ones(4), w, b),
    "layer_norm": lambda F, x, w, b: F.layer_norm(x, (4, 3, 5), None if w is None else
                                                  w.reshape(4, 1, 1).expand(4, 3, 5),
                                                  None if b is None else
                                                  b.reshape(4, 1, 1).expand(4, 3, 5)),
    "layer_norm_last": lambda F, x, w, b: F.layer_norm(x.transpose(1, 3), (4,), w, b),
    "group_norm": lambda F, x, w, b: F.group_norm(x, 2, w, b),
    "instance_norm": lambda F, x, w, b: F.instance_norm(x, weight=w, bias=b),
}


@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
@pytest.mark.parametrize("name", list(NORMS))
@pytest.mark.parametrize("second", [False, True])
def test_norm_gradient_tuples(name, affine, second):
    if affine == "bias" and name in ("group_norm", "instance_norm"):
        pytest.skip("PyTorch's kernels refuse a bias without a weight here")
    x = R.standard_normal((3, 4, 3, 5))
    w = R.uniform(0.5, 1.5, 4)
    b = R.standard_normal(4)
    outs = []
    for L in (mg, torch):
        xs = L.tensor(x, requires_grad=True)
        ws = L.tensor(w, requires_grad=True) if affine in ("weight", "both") else None
        bs = L.tensor(b, requires_grad=True) if affine in ("bias", "both") else None
        y = NORMS[name](L.nn.functional, xs, ws, bs)
        leaves = [v for v in (xs, ws, bs) if v is not None]
        g = L.tensor(np.cos(np.arange(y.numel())).reshape(tuple(y.shape)))
        grads = L.autograd.grad(y, leaves, g, create_graph=second)
        res = [y.grad_fn.name()] + [gr.detach().numpy() for gr in grads]
        if second and name != "batch_norm_eval":      # (eval's dx is linear in g alone)
            hs = L.autograd.grad((grads[0] * grads[0]).sum(), leaves[:1] + leaves[1:2],
                                 allow_unused=True)
            res += [h.numpy() for h in hs if h is not None]
        outs.append(res)
    assert outs[0][0] == outs[1][0]
    assert len(outs[0]) == len(outs[1])
    for a, c in zip(outs[0][1:], outs[1][1:]):
        assert a.shape == c.shape
        np.testing.assert_allclose(a, c, rtol=1e-9, atol=1e-10)


# ------------------------------------------------------------------------------------------
# var / std backward: (2 / dof) g on the reduced gradient, then times (a - mean)
# ------------------------------------------------------------------------------------------
VAR_CASES = [
    ("std", dict(dim=1)), ("std", dict(dim=0, keepdim=True)), ("var", dict(dim=(0, 2))),
    ("var", dict(dim=1, correction=0)), ("std", dict()), ("var", dict(dim=1, correction=5)),
    ("std", dict(dim=2, correction=7)),
]


@pytest.mark.parametrize("fn,kw", VAR_CASES, ids=[f"{f}-{k}" for f, k in VAR_CASES])
def test_variance_gradients(fn, kw):
    a = R.standard_normal((5, 6, 7))
    a[1, :, 3] = 2.0                            # a constant slice: std 0 there
    m, t = _pair(a, True)
    ym, yt = getattr(m, fn)(**kw), getattr(t, fn)(**kw)
    assert ym.grad_fn.name() == yt.grad_fn.name()
    g = R.standard_normal(tuple(yt.shape))
    gm, = mg.autograd.grad(ym, m, mg.tensor(g), create_graph=True)
    gt, = torch.autograd.grad(yt, t, torch.tensor(g), create_graph=True)
    _same(gm, gt, exact=False)
    v = R.standard_normal(a.shape)
    hm, = mg.autograd.grad((gm * mg.tensor(v)).sum(), m)
    ht, = torch.autograd.grad((gt * torch.tensor(v)).sum(), t)
    _same(hm, ht, exact=False, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("fn", ["std", "var"])
def test_variance_gradient_float32_close(fn):
    # PyTorch's order of rounding: most float32 gradients bit for bit
    a = R.standard_normal((128, 1024)).astype(np.float32)
    g = R.standard_normal(128).astype(np.float32)
    m, t = _pair(a, True)
    gm, = mg.autograd.grad(getattr(m, fn)(1), m, mg.tensor(g))
    gt, = torch.autograd.grad(getattr(t, fn)(1), t, torch.tensor(g))
    _same(gm, gt, exact=False, rtol=1e-5, atol=1e-8)
    assert gm.stride() == gt.stride()
    for dt in (mg.float16, mg.bfloat16):
        tdt = getattr(torch, str(dt).split(".")[1])
        mh = mg.tensor(a[:8]).to(dt).requires_grad_()
        th = torch.tensor(a[:8]).to(tdt).requires_grad_()
        gm, = mg.autograd.grad(getattr(mh, fn)(1).sum(), mh)
        gt, = torch.autograd.grad(getattr(th, fn)(1).sum(), th)
        assert gm.dtype == dt
        np.testing.assert_allclose(gm.float().numpy(), gt.float().numpy(), rtol=2e-2,
                                   atol=1e-3)
