"""kl_div's 'batchmean' beside the legacy flags, the swapped triplet loss at a tie, the order
of gaussian_nll_loss's checks, and normalize of float16/bfloat16 tensors, beside torch."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as MF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _pair(values, dtype="float64", grad=False):
    """The same values as a minigrad and a torch tensor."""
    t = torch.tensor(np.asarray(values), dtype=torch.float64).to(getattr(torch, dtype))
    m = minigrad.tensor(np.asarray(values, dtype=np.float64)).to(getattr(minigrad, dtype))
    if grad:
        t.requires_grad_()
        m.requires_grad_()
    return m, t


def _np(x):
    x = x.detach() if hasattr(x, "detach") else x
    return np.asarray(x.float().numpy() if x.dtype in (torch.float16, torch.bfloat16)
                      else x.numpy())


def _m_np(x):
    x = x.detach()
    return x.float().numpy() if x.dtype in (minigrad.float16, minigrad.bfloat16) else x.numpy()


# --- kl_div: 'batchmean' with size_average / reduce -------------------------------------------

FLAGS = [None, True, False]


@pytest.mark.parametrize("size_average", FLAGS)
@pytest.mark.parametrize("reduce", FLAGS)
@pytest.mark.parametrize("reduction", ["batchmean", "mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(3, 4), (4,), ()])
def test_kl_div_legacy_flags_with_batchmean(size_average, reduce, reduction, shape):
    rng = np.random.default_rng(7)
    xm, xt = _pair(rng.standard_normal(shape), grad=True)
    ym, yt = _pair(rng.random(shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_m = MF.kl_div(xm, ym, size_average, reduce, reduction)
        out_t = TF.kl_div(xt, yt, size_average, reduce, reduction)
    assert tuple(out_m.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(_m_np(out_m), _np(out_t), rtol=1e-14, atol=0)
    out_m.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=0)


def test_kl_div_batchmean_reduce_false_repro():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out_m = MF.kl_div(minigrad.ones(4), minigrad.ones(4) * .5, reduction="batchmean",
                          reduce=False)
        out_t = TF.kl_div(torch.ones(4), torch.ones(4) * .5, reduction="batchmean",
                          reduce=False)
    np.testing.assert_array_equal(out_m.numpy(), out_t.numpy())


# --- triplet_margin_loss(swap=True) --------------------------------------------------------------

def _triplet_both(a, pos, neg, **kw):
    outs = []
    for lib, F in ((minigrad, MF), (torch, TF)):
        ts = [lib.tensor(np.asarray(v, dtype=np.float64), dtype=lib.float64).requires_grad_()
              for v in (a, pos, neg)]
        loss = F.triplet_margin_loss(*ts, swap=True, **kw)
        loss.sum().backward()
        outs.append((_np(loss) if lib is torch else _m_np(loss),
                     [_np(t.grad) if lib is torch else t.grad.numpy() for t in ts]))
    return outs


def test_triplet_swap_tie_repro():
    a = torch.ones(1, 1, dtype=torch.float64, requires_grad=True)
    TF.triplet_margin_loss(a, a.clone(), a.clone(), swap=True).backward()
    b = minigrad.ones(1, 1, dtype=minigrad.float64, requires_grad=True)
    MF.triplet_margin_loss(b, b.clone(), b.clone(), swap=True).backward()
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-14, atol=0)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("eps", [1e-6, 0.0, 0.5])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_swap_ties_and_non_ties(p, eps, reduction):
    rng = np.random.default_rng(p)
    a = rng.standard_normal((6, 5))
    pos = rng.standard_normal((6, 5))
    neg = rng.standard_normal((6, 5))
    # rows 0-1: d(a, n) == d(p, n) exactly (p equals a); row 2: all equal; others differ
    pos[:2] = a[:2]
    pos[2] = neg[2] = a[2]
    (lm, gm), (lt, gt) = _triplet_both(a, pos, neg, p=p, eps=eps, margin=2.0,
                                       reduction=reduction)
    np.testing.assert_allclose(lm, lt, rtol=1e-13, atol=1e-15)
    for x, y in zip(gm, gt):
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15)


def test_triplet_swap_picks_the_swapped_distance():
    a = [[0.0, 0.0], [1.0, 1.0]]
    pos = [[3.0, 0.0], [1.0, 1.5]]
    neg = [[3.5, 0.0], [1.0, 4.0]]
    (lm, gm), (lt, gt) = _triplet_both(a, pos, neg, margin=1.0, reduction="none")
    np.testing.assert_allclose(lm, lt, rtol=1e-14)
    for x, y in zip(gm, gt):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-15)


# --- gaussian_nll_loss: the negative var first ---------------------------------------------------

def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        return type(exc).__name__, str(exc)
    return None


@pytest.mark.parametrize("var_shape, sign, reduction", [
    ((4, 3), -1, "bogus"), ((5, 3), -1, "bogus"), ((5, 3), -1, "mean"), ((4, 3), 1, "bogus"),
    ((5, 3), 1, "bogus"), ((4,), -1, "bogus"), ((4, 1), -1, "nope"),
])
def test_gaussian_nll_check_order(var_shape, sign, reduction):
    x = np.zeros((4, 3))
    v = sign * np.ones(var_shape)
    got = _error(lambda: MF.gaussian_nll_loss(minigrad.tensor(x), minigrad.tensor(x),
                                              minigrad.tensor(v), reduction=reduction))
    want = _error(lambda: TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(x),
                                               torch.tensor(v), reduction=reduction))
    assert want is not None and got == want


def test_gaussian_nll_negative_float_var_first():
    x = np.zeros((4, 3))
    got = _error(lambda: MF.gaussian_nll_loss(minigrad.tensor(x), minigrad.tensor(x), -1.0,
                                              reduction="bogus"))
    want = _error(lambda: TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(x), -1.0,
                                               reduction="bogus"))
    assert got == want == ("ValueError", "var has negative entry/entries")


# --- normalize of 16-bit tensors -----------------------------------------------------------------

CASES = [((3, 5), 1), ((4, 7), 0), ((2, 3, 8), -1), ((600, 20), 1), ((4, 6000), 1),
         ((0, 3), 1), ((3, 0), 1)]


def _normalize_both(values, dtype, g, **kw):
    out = []
    for lib, F in ((minigrad, MF), (torch, TF)):
        x = lib.tensor(values, dtype=lib.float32).to(getattr(lib, dtype)).requires_grad_()
        y = F.normalize(x, **kw)
        y.backward(lib.tensor(g, dtype=lib.float32).to(getattr(lib, dtype)))
        assert y.dtype == x.dtype and x.grad.dtype == x.dtype
        to_np = _np if lib is torch else _m_np
        out.append((to_np(y), to_np(x.grad)))
    return out


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape, dim", CASES)
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e-4])
def test_normalize_16bit_two_norm_bit_for_bit(dtype, shape, dim, scale):
    rng = np.random.default_rng(len(shape) * 10 + dim)
    values = (rng.standard_normal(shape) * scale).astype(np.float32)
    if shape == (3, 5):
        values[0] = 0                           # a zero vector: 0 / 0 in 16 bits
    g = rng.standard_normal(shape).astype(np.float32)
    (ym, gm), (yt, gt) = _normalize_both(values, dtype, g, dim=dim)
    np.testing.assert_array_equal(ym, yt)
    np.testing.assert_array_equal(gm, gt)


# a float16 row whose float32 sum of squares is summed in another order than PyTorch's: the
# float32 norm is 1110.5 (a tie, rounded to 1110) where PyTorch's is 1110.5001 (rounded to 1111)
ROW = [-135.375, -60.40625, 63.65625, 159.125, -52.40625, -449.0, 436.75, -68.875, -19.140625,
       540.0, 101.75, -0.95654296875, -17.484375, 233.25, 81.25, 124.4375, 278.75, 33.125,
       -45.25, -567.5]


@pytest.mark.xfail(reason="the 16-bit 2-norm sums its float32 squares in numpy's order, not "
                          "PyTorch's: a float32 norm at a float16 tie can round the other way",
                   strict=True)
def test_normalize_float16_norm_at_a_rounding_tie():
    values = np.array([ROW], dtype=np.float32)
    (ym, gm), (yt, gt) = _normalize_both(values, "float16", np.ones_like(values), dim=1)
    np.testing.assert_array_equal(ym, yt)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("p", [1.0, 0.0, 3.0, 0.5])
def test_normalize_16bit_other_orders_values(dtype, p):
    rng = np.random.default_rng(3)
    values = (rng.standard_normal((40, 30)) * 50).astype(np.float32)
    g = rng.standard_normal((40, 30)).astype(np.float32)
    (ym, gm), (yt, gt) = _normalize_both(values, dtype, g, p=p, dim=1)
    np.testing.assert_array_equal(ym, yt)
    if p in (0.0, 1.0):
        np.testing.assert_array_equal(gm, gt)
