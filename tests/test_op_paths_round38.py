"""Round 38's faster op paths, checked against PyTorch: roll as two slice copies per dim (not a
gather), tril/triu as one bit mask (not a where()), a mean's spread gradient and a broadcast
product copied row-major (numpy's own order for a view of zero strides is column-major). Each
keeps PyTorch's values, gradients (first and second order), node names and layouts."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import same_tensor  # noqa: E402


def _pair(array, grad=True):
    return (minigrad.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad))


ROLLS = [((4, 5), 1, 0), ((4, 5), (1, -2), (0, 1)), ((2, 3, 4, 5), (3,), (2,)),
         ((3,), 7, 0), ((2, 3), (1, 1), (0, 0)), ((3, 4), (-5,), (1,)),
         ((3, 4), (2 ** 40,), (0,)), ((2, 3, 4), (1, 2, -1), (-1, 0, 1))]


@pytest.mark.parametrize("shape, shifts, dims", ROLLS)
def test_roll_values_gradients_and_second_order(shape, shifts, dims):
    rng = np.random.default_rng(0)
    a, g = rng.standard_normal(shape), rng.standard_normal(shape)
    m, t = _pair(a)
    ym, yt = minigrad.roll(m, shifts, dims), torch.roll(t, shifts, dims)
    same_tensor(ym, yt)
    assert ym.stride() == yt.stride()
    assert ym.grad_fn.name() == yt.grad_fn.name() == "RollBackward0"
    # an upstream gradient that requires grad: the backward is itself a roll, recorded
    gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g, requires_grad=True),
                                 create_graph=True)
    gt, = torch.autograd.grad(yt, [t], torch.tensor(g, requires_grad=True), create_graph=True)
    same_tensor(gm, gt)
    assert gm.grad_fn.name() == gt.grad_fn.name() == "RollBackward0"


def test_roll_layouts_follow_pytorch():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    t = torch.tensor(a).to(memory_format=torch.channels_last)
    m = minigrad.tensor(a).contiguous(memory_format=minigrad.channels_last)
    assert minigrad.roll(m, 1, 1).stride() == torch.roll(t, 1, 1).stride()
    b = rng.standard_normal((4, 5))
    assert minigrad.roll(minigrad.tensor(b).t(), 1, 0).stride() == \
        torch.roll(torch.tensor(b).t(), 1, 0).stride()
    e = rng.standard_normal(4)
    ym = minigrad.roll(minigrad.tensor(e).expand(3, 4), 1, 1)
    yt = torch.roll(torch.tensor(e).expand(3, 4), 1, 1)
    same_tensor(ym, yt)
    assert ym.stride() == yt.stride()


def test_roll_gradcheck_and_gradgradcheck():
    x = minigrad.tensor(np.random.default_rng(2).standard_normal((3, 4)), requires_grad=True)
    assert minigrad.autograd.gradcheck(lambda v: minigrad.roll(v, (1, 2), (0, 1)), (x,))
    assert minigrad.autograd.gradgradcheck(lambda v: minigrad.roll(v, (1, -1), (0, 1)) ** 2,
                                           (x,))


DTYPES = ["float32", "float64", "float16", "int64", "int8", "bool", "complex64", "complex128"]


@pytest.mark.parametrize("name", ["tril", "triu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 6), (0, 3), (5, 0), (2, 3, 3)])
def test_triangles_keep_every_value_exactly(name, dtype, shape):
    rng = np.random.default_rng(3)
    a = (rng.standard_normal(shape) * 3).astype(dtype)
    if a.dtype.kind == "f" and a.size:
        a.flat[0] = np.nan              # a NaN above the diagonal is zeroed, below it kept
        a.flat[-1] = -np.inf
    for k in (0, 1, -2, 7, -9):
        ym = getattr(minigrad, name)(minigrad.tensor(a), k)
        yt = getattr(torch, name)(torch.tensor(a), k)
        same_tensor(ym, yt)
        assert ym.stride() == yt.stride()


def test_triangles_of_views_and_their_gradients():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3, 5))
    m, t = _pair(x)
    for fn in ("tril", "triu"):
        ym = getattr(minigrad, fn)(m.transpose(0, 2), 1)
        yt = getattr(torch, fn)(t.transpose(0, 2), 1)
        same_tensor(ym, yt)
        assert ym.stride() == yt.stride()
        assert ym.grad_fn.name() == yt.grad_fn.name()
        assert ym.grad_fn._saved_diagonal == yt.grad_fn._saved_diagonal
        g = rng.standard_normal(tuple(yt.shape))
        gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
        gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
        same_tensor(gm, gt)
    e = rng.standard_normal(4)
    same_tensor(minigrad.tril(minigrad.tensor(e).expand(3, 4)),
                torch.tril(torch.tensor(e).expand(3, 4)))
    v = minigrad.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    assert minigrad.autograd.gradcheck(lambda s: minigrad.tril(s, -1), (v,))
    assert minigrad.autograd.gradgradcheck(lambda s: minigrad.triu(s) ** 2, (v,))


def test_inplace_triangles_keep_their_node_names():
    rng = np.random.default_rng(5)
    m, t = _pair(rng.standard_normal((3, 3)))
    wm, wt = m.clone(), t.clone()
    wm.tril_(1)
    wt.tril_(1)
    same_tensor(wm, wt)
    assert wm.grad_fn.name() == wt.grad_fn.name()


@pytest.mark.parametrize("expr", ["x.var(0) + x.mean(0)", "x.var(1, keepdim=True)",
                                  "x.std(0)", "x.mean(0)", "x.mean((0, 1))",
                                  "x * x.sum(0, keepdim=True)", "x.sum(0, keepdim=True) * x"])
def test_spread_gradients_are_laid_out_as_pytorch(expr):
    rng = np.random.default_rng(6)
    a = rng.standard_normal((64, 32, 3))
    m, t = _pair(a)
    ym, yt = eval(expr, {"x": m}), eval(expr, {"x": t})
    g = rng.standard_normal(tuple(yt.shape))
    gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
    gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
    assert gm.stride() == gt.stride()
    assert np.allclose(gm.numpy(), gt.numpy(), rtol=1e-12, atol=1e-12)


def test_a_broadcast_product_is_row_major():
    """The parallel pass of a product takes two row-major operands only: an expanded one gave
    a column-major result that was then copied again."""
    rng = np.random.default_rng(7)
    v, x = rng.standard_normal(512).astype(np.float32), rng.standard_normal((2048, 512))
    x = x.astype(np.float32)
    ym = minigrad.tensor(v).expand(2048, 512) * minigrad.tensor(x)
    yt = torch.tensor(v).expand(2048, 512) * torch.tensor(x)
    assert ym.stride() == yt.stride()
    assert np.array_equal(ym.numpy(), yt.numpy())


FOLDS = [((2, 3, 7, 8), 3, 1, 0, 1), ((2, 3, 7, 8), (2, 3), (2, 1), (1, 2), (2, 1)),
         ((1, 2, 4, 4), 1, 1, 0, 2), ((3, 6, 5), 3, 2, 1, 3), ((2, 2, 8, 8), (4, 4), 1, 0, (4, 4)),
         ((0, 2, 5, 5), 3, 1, 1, 1)]


@pytest.mark.parametrize("shape, k, d, p, s", FOLDS)
def test_unfold_and_fold_are_pytorchs_and_each_others_backward(shape, k, d, p, s):
    rng = np.random.default_rng(8)
    m, t = _pair(rng.standard_normal(shape))
    ym = minigrad.nn.functional.unfold(m, k, d, p, s)
    yt = torch.nn.functional.unfold(t, k, d, p, s)
    same_tensor(ym, yt)
    assert ym.grad_fn.name() == yt.grad_fn.name()
    g = rng.standard_normal(tuple(yt.shape))
    gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
    gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
    same_tensor(gm, gt)               # the adds in PyTorch's order: the same bits
    cm, ct = _pair(g)
    fm = minigrad.nn.functional.fold(cm, shape[-2:], k, d, p, s)
    ft = torch.nn.functional.fold(ct, shape[-2:], k, d, p, s)
    same_tensor(fm, ft)
    assert fm.grad_fn.name() == ft.grad_fn.name()
    h = rng.standard_normal(tuple(ft.shape))
    hm, = minigrad.autograd.grad(fm, [cm], minigrad.tensor(h))
    ht, = torch.autograd.grad(ft, [ct], torch.tensor(h))
    same_tensor(hm, ht)


def test_unfold_and_fold_second_order_and_strided_inputs():
    rng = np.random.default_rng(9)
    x = minigrad.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    F = minigrad.nn.functional
    assert minigrad.autograd.gradcheck(lambda v: F.unfold(v, 3, 1, 1, 2), (x,))
    assert minigrad.autograd.gradgradcheck(lambda v: F.unfold(v, 2, 2, 1, 1) ** 2, (x,))
    c = minigrad.tensor(rng.standard_normal((2, 8, 16)), requires_grad=True)
    assert minigrad.autograd.gradgradcheck(lambda v: F.fold(v, (5, 5), 2, 1, 0, 1) ** 2, (c,))
    a = rng.standard_normal((5, 5, 2, 3))
    got = F.unfold(minigrad.tensor(a).permute(2, 3, 0, 1), 3, padding=1)
    want = torch.nn.functional.unfold(torch.tensor(a).permute(2, 3, 0, 1), 3, padding=1)
    same_tensor(got, want)


@pytest.mark.parametrize("slope", [0.01, 0.2, 1.0, 1.5, -0.1, 0.0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("shape, permuted", [((), False), ((3, 4), False), ((300, 300), True),
                                             ((2, 3, 4, 5), True), ((1 << 17,), False)])
def test_leaky_relu_values_gradients_and_layouts(slope, dtype, shape, permuted):
    """With no gradient to come the value is max(x, s x) (0 < s <= 1) and no slope array is
    made; with one, the slope is the compare's 0/1 against a block of slopes. A permuted
    input keeps its layout whatever the slope (a select's row-major order was kept once)."""
    rng = np.random.default_rng(10)
    a = rng.standard_normal(shape).astype(dtype)
    a.flat[:3] = [np.nan, -0.0, 0.0]
    for grad in (False, True):
        m, t = _pair(a, grad)
        if permuted:
            m, t = m.transpose(0, -1), t.transpose(0, -1)
        ym = minigrad.nn.functional.leaky_relu(m, slope)
        yt = torch.nn.functional.leaky_relu(t, slope)
        same_tensor(ym, yt)
        assert ym.stride() == yt.stride()
        if grad:
            g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
            gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
            gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
            same_tensor(gm, gt)
            assert gm.stride() == gt.stride()


def test_leaky_relu_second_order_and_in_place():
    rng = np.random.default_rng(11)
    x = minigrad.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    F = minigrad.nn.functional
    assert minigrad.autograd.gradgradcheck(lambda v: F.leaky_relu(v, 0.3) ** 2, (x,))
    m, t = _pair(rng.standard_normal((3, 4)))
    vm, vt = m * 1, t * 1
    F.leaky_relu(vm, 0.2, inplace=True)
    torch.nn.functional.leaky_relu(vt, 0.2, inplace=True)
    same_tensor(vm, vt)
    vm.sum().backward()
    vt.sum().backward()
    same_tensor(m.grad, t.grad)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [(), 9, 70000])
def test_clip_shaped_activations_keep_ties_nans_and_signs(dtype, size):
    """hardtanh, relu6 and hardsigmoid clip by a maximum and a minimum against blocks of the
    bounds: a tie keeps x (-0.0 at a bound of 0.0 stays -0.0), NaN stays NaN; with no
    gradient to come no slope is made."""
    rng = np.random.default_rng(12)
    a = (rng.standard_normal(size) * 4).astype(dtype)
    if a.ndim:
        a[:8] = [np.nan, -0.0, 0.0, 6.0, -1.0, 1.0, np.inf, -np.inf]

    def same(m, t):
        got, want = m.detach().numpy(), t.detach().numpy()
        assert np.array_equal(got, want, equal_nan=True)
        assert np.array_equal(np.signbit(got[~np.isnan(got)]), np.signbit(want[~np.isnan(want)]))
    F, TF = minigrad.nn.functional, torch.nn.functional
    for grad in (False, True):
        m, t = _pair(a, grad)
        for low, high in ((-1, 1), (0, 6), (0.0, 0.0), (-0.0, 0.0), (2, 2)):
            same(F.hardtanh(m, low, high), TF.hardtanh(t, low, high))
        for name in ("relu6", "hardsigmoid"):
            ym, yt = getattr(F, name)(m), getattr(TF, name)(t)
            same(ym, yt)
            if grad and a.size > 16:    # (torch's short scalar tail passes NaN's gradient)
                g = rng.standard_normal(a.shape).astype(dtype)
                gm, = minigrad.autograd.grad(ym, [m], minigrad.tensor(g))
                gt, = torch.autograd.grad(yt, [t], torch.tensor(g))
                same_tensor(gm, gt)


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float16", "float32"])
@pytest.mark.parametrize("ndim", [3, 4])
@pytest.mark.parametrize("size", [0, -1, 2])
def test_local_response_norm_checks_its_window_before_the_dtype(dtype, ndim, size):
    seen = []
    for lib in (torch, minigrad):
        x = lib.ones((2, 3) + (4,) * (ndim - 2), dtype=getattr(lib, dtype))
        try:
            lib.nn.functional.local_response_norm(x, size)
            seen.append("ok")
        except (RuntimeError, NotImplementedError) as e:
            seen.append(f"{type(e).__name__}: {e}")
    assert seen[0] == seen[1]
