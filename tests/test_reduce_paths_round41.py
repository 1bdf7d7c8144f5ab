"""Round 41's reduction fixes against PyTorch: nll_loss's 'sum' and 'mean' add the counted rows
in PyTorch's order (its CPU kernel's cascade of partial sums, ignored rows skipped, the class
weights summed alike), so float32 and float64 results match bit for bit, rows and spatial
positions, with and without ignored targets and class weights; layer_norm / group_norm's
mixed-dtype error has PyTorch's words; cumprod's float32 rows keep PyTorch's values. Values,
first and second derivatives in float64, grad_fn names."""
import numpy as np
import pytest
import torch

import minigrad as mg

F = {mg: mg.nn.functional, torch: torch.nn.functional}


def _bits(a):
    return np.asarray(a).tobytes()


def _loss_case(seed, rows, classes, dtype, weighted, ignore):
    r = np.random.default_rng(seed)
    x = (r.standard_normal((rows, classes)) * np.exp(r.standard_normal((rows, classes)))) \
        .astype(dtype)
    t = r.integers(0, classes, rows)
    if ignore == "random":
        t[r.random(rows) < 0.3] = -100
    elif ignore == "boundaries":
        t[::16] = -100                  # every row where PyTorch's cascade would carry
    elif ignore == "first_half":
        t[:rows // 2] = -100
    elif ignore == "between_boundaries":      # every carrying row counted, others not
        off = r.random(rows) < 0.3
        off[::16] = False
        t[off] = -100
    w = r.uniform(0.1, 2.0, classes).astype(dtype) if weighted else None
    return x, t, w


def _nll(L, x, t, w, reduction, **kw):
    return F[L].nll_loss(L.tensor(x), L.tensor(t), None if w is None else L.tensor(w),
                         reduction=reduction, **kw).numpy()


# ---------------------------------------------------------------------------------------------
# nll_loss: PyTorch's summation order and weight-sum division
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [None, "random", "boundaries", "first_half",
                                    "between_boundaries"])
@pytest.mark.parametrize("rows", [1, 2, 16, 17, 257, 1000, 4097, 70000])
def test_nll_loss_reduction_bits(dtype, reduction, weighted, ignore, rows):
    x, t, w = _loss_case(rows + 7 * weighted, rows, 5, dtype, weighted, ignore)
    assert _bits(_nll(mg, x, t, w, reduction)) == _bits(_nll(torch, x, t, w, reduction))


@pytest.mark.parametrize("seed", range(12))
def test_nll_loss_mean_float32_many_inputs(seed):
    r = np.random.default_rng(100 + seed)
    rows = int(r.integers(20, 3000))
    x, t, w = _loss_case(seed, rows, int(r.integers(2, 30)), "float32", seed % 2, None)
    assert _bits(_nll(mg, x, t, w, "mean")) == _bits(_nll(torch, x, t, w, "mean"))


@pytest.mark.parametrize("shape", [(2, 4, 37), (3, 5, 20, 9), (2, 3, 4, 5, 6), (1, 3, 300, 1)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_nll_loss_spatial_bits(shape, reduction, weighted, ignore):
    r = np.random.default_rng(sum(shape))
    x = r.standard_normal(shape).astype(np.float32)
    t = r.integers(0, shape[1], (shape[0],) + shape[2:])
    if ignore:
        t[r.random(t.shape) < 0.25] = 3
    w = r.uniform(0.1, 2, shape[1]).astype(np.float32) if weighted else None
    kw = {"ignore_index": 3} if ignore else {}
    assert _bits(_nll(mg, x, t, w, reduction, **kw)) == \
        _bits(_nll(torch, x, t, w, reduction, **kw))


def test_nll_loss_ignored_rows_are_not_read():
    # an ignored row's -inf log-probability is skipped, not multiplied by a zero weight
    x = np.log(np.array([[0.0, 1.0], [0.5, 0.5], [0.0, 1.0]], np.float32))
    t = np.array([0, 1, 0])
    for reduction in ("mean", "sum"):
        got = _nll(mg, x, t, None, reduction, ignore_index=0)
        assert _bits(got) == _bits(_nll(torch, x, t, None, reduction, ignore_index=0))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_loss_all_ignored(reduction):
    x = np.zeros((3, 4), np.float32)
    t = np.full(3, -100)
    a, b = _nll(mg, x, t, None, reduction), _nll(torch, x, t, None, reduction)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_grads_second_order(reduction, weighted):
    r = np.random.default_rng(3)
    x = r.standard_normal((40, 6))
    t = r.integers(0, 6, 40)
    t[::7] = -100
    w = r.uniform(0.5, 2, 6) if weighted else None
    out = {}
    for L in (mg, torch):
        xt = L.tensor(x, requires_grad=True)
        logp = F[L].log_softmax(xt, 1)
        loss = F[L].nll_loss(logp, L.tensor(t), None if w is None else L.tensor(w),
                             reduction=reduction)
        g, = L.autograd.grad(loss, xt, create_graph=True)
        g2, = L.autograd.grad((g * g).sum(), xt)
        out[L] = (loss.detach().numpy(), g.detach().numpy(), g2.numpy(),
                  loss.grad_fn.name())
    np.testing.assert_allclose(out[mg][0], out[torch][0], rtol=1e-12)
    np.testing.assert_allclose(out[mg][1], out[torch][1], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(out[mg][2], out[torch][2], rtol=1e-9, atol=1e-12)
    assert out[mg][3] == out[torch][3]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_reduction_keeps_pytorch_order(reduction):
    # the per-row losses of logits may differ from PyTorch's in an ulp (exp and log); with
    # float64 logits the reduced loss is PyTorch's to rounding
    r = np.random.default_rng(9)
    x = r.standard_normal((3000, 7))
    t = r.integers(0, 7, 3000)
    a = F[mg].cross_entropy(mg.tensor(x), mg.tensor(t), reduction=reduction).numpy()
    b = F[torch].cross_entropy(torch.tensor(x), torch.tensor(t), reduction=reduction).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-14)


def test_nll_loss_16bit_unchanged():
    r = np.random.default_rng(4)
    x = r.standard_normal((300, 5)).astype(np.float32)
    t = r.integers(0, 5, 300)
    for dt in ("float16", "bfloat16"):
        a = F[mg].nll_loss(mg.tensor(x).to(getattr(mg, dt)), mg.tensor(t))
        b = F[torch].nll_loss(torch.tensor(x).to(getattr(torch, dt)), torch.tensor(t))
        assert a.dtype == getattr(mg, dt)
        np.testing.assert_allclose(a.float().numpy(), b.float().numpy(), rtol=1e-2)


# ---------------------------------------------------------------------------------------------
# layer_norm / group_norm: PyTorch's words for parameters of another dtype
# ---------------------------------------------------------------------------------------------
_DTS = ["float16", "bfloat16", "float32", "float64"]


def _norm_error(L, fn, xd, wd, bd):
    x = L.ones(4, 4, dtype=getattr(L, xd))
    w = L.ones(4, dtype=getattr(L, wd))
    b = None if bd is None else L.zeros(4, dtype=getattr(L, bd))
    try:
        if fn == "layer_norm":
            F[L].layer_norm(x, (4,), w, b)
        else:
            F[L].group_norm(x, 2, w, b)
    except Exception as e:          # noqa: BLE001 (the type and words are compared)
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("fn", ["layer_norm", "group_norm"])
@pytest.mark.parametrize("xd", _DTS)
@pytest.mark.parametrize("wd", _DTS)
@pytest.mark.parametrize("bd", _DTS + [None])
def test_norm_mixed_dtype_error_words(fn, xd, wd, bd):
    assert _norm_error(mg, fn, xd, wd, bd) == _norm_error(torch, fn, xd, wd, bd)


# ---------------------------------------------------------------------------------------------
# cumprod: float32 rows kept in float64 as PyTorch (bit for bit)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,dim", [((1024, 1024), 1), ((64, 300), 1), ((8, 2000), -1),
                                       ((300, 64), 0), ((3, 40, 70), 2)])
@pytest.mark.parametrize("kind", ["uniform", "signed", "wide", "zeros"])
def test_cumprod_float32_bits(shape, dim, kind):
    r = np.random.default_rng(sum(shape))
    if kind == "uniform":
        a = r.uniform(0.1, 1, shape)
    elif kind == "signed":
        a = r.uniform(0.5, 1.5, shape) * np.sign(r.standard_normal(shape))
    elif kind == "wide":
        a = np.exp(r.standard_normal(shape) * 20)       # past float64's range in a chunk
    else:
        a = r.uniform(0.9, 1.1, shape)
        a[r.random(shape) < 0.01] = 0
    a = a.astype(np.float32)
    got = mg.tensor(a).cumprod(dim).numpy()
    want = torch.tensor(a).cumprod(dim).numpy()
    assert _bits(got) == _bits(want)


def test_cumprod_grads_second_order():
    r = np.random.default_rng(5)
    a = r.uniform(0.5, 1.5, (6, 70))
    out = {}
    for L in (mg, torch):
        x = L.tensor(a, requires_grad=True)
        y = x.cumprod(1)
        g, = L.autograd.grad(y, x, L.tensor(np.cos(a)), create_graph=True)
        g2, = L.autograd.grad(g.sum(), x)
        out[L] = (y.detach().numpy(), g.detach().numpy(), g2.numpy(), y.grad_fn.name())
    for k in range(3):
        np.testing.assert_allclose(out[mg][k], out[torch][k], rtol=1e-10, atol=1e-12)
    assert out[mg][3] == out[torch][3]


# ---------------------------------------------------------------------------------------------
# nll_loss's gradient: PyTorch's products (g / total weight, then times the row's weight), and
# an ignored row's zeros +0
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("shape", [(300, 7), (3001, 4), (3, 5, 40), (2, 4, 9, 11)])
def test_nll_loss_grad_bits(reduction, weighted, ignore, shape):
    r = np.random.default_rng(len(shape) * 10 + shape[1])
    x = r.standard_normal(shape).astype(np.float32)
    t = r.integers(0, shape[1], (shape[0],) + shape[2:])
    if ignore:
        t[r.random(t.shape) < 0.2] = -100
    w = r.uniform(0.1, 2, shape[1]).astype(np.float32) if weighted else None
    gs = r.uniform(0.3, 3, t.shape if reduction == "none" else ()).astype(np.float32)
    out = []
    for L in (mg, torch):
        xt = L.tensor(x, requires_grad=True)
        loss = F[L].nll_loss(xt, L.tensor(t), None if w is None else L.tensor(w),
                             reduction=reduction)
        g, = L.autograd.grad(loss, xt, L.tensor(gs))
        out.append(g.numpy())
    assert _bits(out[0]) == _bits(out[1])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_spatial_second_order(reduction, weighted):
    r = np.random.default_rng(8)
    x = r.standard_normal((2, 4, 5, 3))
    t = r.integers(0, 4, (2, 5, 3))
    t[0, 1] = -100
    w = r.uniform(0.5, 2, 4) if weighted else None
    out = {}
    for L in (mg, torch):
        xt = L.tensor(x, requires_grad=True)
        loss = F[L].nll_loss(F[L].log_softmax(xt, 1), L.tensor(t),
                             None if w is None else L.tensor(w), reduction=reduction)
        g, = L.autograd.grad(loss.sum(), xt, create_graph=True)
        g2, = L.autograd.grad((g * g).sum(), xt)
        out[L] = (loss.detach().numpy(), g.detach().numpy(), g2.numpy(), loss.grad_fn.name())
    for k in range(3):
        np.testing.assert_allclose(out[mg][k], out[torch][k], rtol=1e-10, atol=1e-13)
    assert out[mg][3] == out[torch][3]


# ---------------------------------------------------------------------------------------------
# 'none' over spatial dims: the node that makes the target-shaped loss, as PyTorch's
# (NllLoss2DBackward0 for a 4-d input, AddBackward0 with smoothing, a view otherwise)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,kw", [("cross_entropy", {}), ("nll_loss", {}),
                                   ("cross_entropy", {"label_smoothing": 0.1})])
@pytest.mark.parametrize("shape", [(2, 4, 5, 3), (2, 4, 15), (2, 4, 3, 2, 2), (6, 4),
                                   (0, 4, 5, 3)])
@pytest.mark.parametrize("dtype", ["float64", "float16"])
def test_class_loss_none_node_and_grads(fn, kw, shape, dtype):
    r = np.random.default_rng(len(shape))
    xa = r.standard_normal(shape)
    ta = r.integers(0, 4, (shape[0],) + shape[2:])
    ga = r.random((shape[0],) + shape[2:])
    out = {}
    for L in (mg, torch):
        x = L.tensor(xa).to(getattr(L, dtype)).requires_grad_()
        y = getattr(F[L], fn)(x, L.tensor(ta), reduction="none", **kw)
        gy = L.tensor(ga).to(getattr(L, dtype))
        if dtype == "float64":
            g, = L.autograd.grad(y, x, gy, create_graph=True)
            g2, = L.autograd.grad((g * g).sum(), x)
            g2 = g2.numpy()
        else:
            g, = L.autograd.grad(y, x, gy)
            g2 = None
        out[L] = (y.grad_fn.name(), tuple(y.shape), y.stride(), y.detach().double().numpy(),
                  g.detach().double().numpy(), g2)
    assert out[mg][:3] == out[torch][:3]
    tol = 1e-10 if dtype == "float64" else 2e-2
    for k in (3, 4):
        np.testing.assert_allclose(out[mg][k], out[torch][k], rtol=tol, atol=tol)
    if dtype == "float64":
        np.testing.assert_allclose(out[mg][5], out[torch][5], rtol=1e-9, atol=1e-12)
