"""The short paths small tensors take (``x[0]``, ``x[:, 1:3]``, ``view`` of row-major memory,
a float mean, views of views, the list of a base's live views, numpy's quiet error state)
beside torch: values, node names, view bookkeeping (base, shared versions), gradients and
errors must be those of the general paths.

Further down, at the sizes where they switch: random numbers (a few Box-Muller blocks of
float32 normals take a kernel of their own, up to 64 blocks of 16; float64 ones Python
floats, and so do up to 64 pairs of the one-at-a-time normals; all must give PyTorch's bits
and leave the generator where PyTorch's is), the finite p-norms computed on the arrays,
cosine_similarity and scatter as one node each, topk/sort without gather's checks, the plain
average pools without their argument checks and interpolate's cached maps: values,
gradients, second derivatives and errors beside PyTorch's."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad as mg
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

_X = np.arange(32, dtype=np.float64).reshape(4, 8) * 0.25 - 3.0


@pytest.mark.parametrize("index", [0, -1, slice(1, 3), slice(None, 2), (slice(None), slice(1, 3)),
                                   (1, 2), (slice(None), 5), (2, slice(3, None)),
                                   (slice(None), slice(None))])
def test_plain_reads_beside_torch(index):
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x * 1
        v = y[index]
        name = type(v.grad_fn).__name__
        is_view = v._base is y
        before = v._version
        with lib.no_grad():
            y.add_(0)                     # a write to the base shows in the view's version
        shared = v._version == before + 1
        (v * v).sum().backward() if v.requires_grad else None
        return v.detach().numpy(), name, is_view, shared, x.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0])
    assert mine[1:4] == theirs[1:4]
    np.testing.assert_allclose(mine[4], theirs[4])


@pytest.mark.parametrize("index", [9, -5, (0, 8), (slice(None), 8)])
def test_plain_read_out_of_range_raises_index_error(index):
    for lib in (minigrad, torch):
        with pytest.raises(IndexError, match="out of bounds"):
            lib.tensor(_X)[index]


def test_plain_read_of_a_0d_tensor_is_refused():
    for lib in (minigrad, torch):
        with pytest.raises(IndexError):
            lib.tensor(1.5)[0]


@pytest.mark.parametrize("shape", [(8, 2), (16,), (2, 2, 4), (1, 16, 1), (-1, 8), (4, -1, 1)])
def test_view_of_row_major_memory_beside_torch(shape):
    def run(lib):
        x = lib.tensor(_X[1:3], requires_grad=True)      # a view of a view of memory
        y = x * 1
        v = y.view(*shape)
        w = v.view(-1)
        (w * lib.arange(16.0, dtype=lib.float64)).sum().backward()
        return (v.detach().numpy(), v.stride(), type(v.grad_fn).__name__, v._base is y,
                w._base is y, x.grad.numpy())

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0])
    assert mine[1:5] == theirs[1:5]
    np.testing.assert_allclose(mine[5], theirs[5])


def test_view_of_a_view_of_numpy_memory_shares_it():
    base = np.zeros((4, 6), np.float32)
    for lib in (minigrad, torch):
        t = lib.from_numpy(base[1:3])
        v = t.view(12)
        assert v._base is t
        v[0] = 5.0
        assert t[0, 0].item() == 5.0 and base[1, 0] == 5.0
        base[1, 0] = 0.0


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 1), False),
                                          ((), False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_beside_torch(dim, keepdim, dtype):
    def run(lib):
        x = lib.tensor(_X.astype(dtype), requires_grad=True)
        y = x.mean() if dim is None else x.mean(dim, keepdim=keepdim)
        y.backward(lib.ones_like(y))
        return y.detach().numpy(), type(y.grad_fn).__name__, y.is_contiguous(), x.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    assert mine[0].dtype == theirs[0].dtype and mine[0].shape == theirs[0].shape
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    assert mine[1:3] == theirs[1:3]
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-6)


def test_views_rebased_after_a_write_however_many_views_came_and_went():
    # the base's list of live views drops dead ones in sweeps: a recorded write through the
    # base still gives every live view its new history, as PyTorch
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x * 1
        for i in range(40):
            y[i % 4].sum()                  # views made and dropped
        kept = [y[1:], y[:, 2], y.view(32)]
        y.mul_(3)
        total = sum((k * k).sum() for k in kept)
        total.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(minigrad), run(torch))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_tiny_softmax_rows_beside_torch_and_quiet(fn):
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf], [3.0, 1e4, -2.0]])
    outs = []
    for lib in (minigrad, torch):
        t = lib.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # no numpy RuntimeWarning on the way
            y = getattr(lib.nn.functional, fn)(t, 1)
            y.backward(lib.ones_like(y))
        outs.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def test_quiet_error_state_is_restored_after_ops():
    x = minigrad.tensor([0.0, 1.0])
    with np.errstate(divide="raise"):
        minigrad.log(x).sum()                   # log(0) inside an op: silent, as PyTorch
        x.log_softmax(0)
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))                 # the user's own setting is back after them


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plain_matrix_product_beside_torch(dtype):
    a_np = _X[:3, :5].astype(dtype)
    b_np = (_X.T[:5, :3] * 0.5).astype(dtype)

    def run(lib):
        a = lib.tensor(a_np, requires_grad=True)
        b = lib.tensor(b_np)
        y = a @ b
        (y * y).sum().backward()
        return y.detach().numpy(), type(y.grad_fn).__name__, a.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    assert mine[1] == theirs[1]
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-6)


def test_plain_matrix_product_refusals_beside_torch():
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match="cannot be multiplied"):
            lib.ones(3, 4) @ lib.ones(5, 2)
        with pytest.raises(RuntimeError, match="dtype"):
            lib.ones(3, 4) @ lib.ones(4, 2, dtype=lib.float64)


def test_plain_matrix_product_under_autocast_beside_torch():
    outs = []
    for lib in (minigrad, torch):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            outs.append((lib.ones(3, 4) @ lib.ones(4, 2)).dtype)
    assert str(outs[0]).split(".")[-1] == str(outs[1]).split(".")[-1] == "bfloat16"


# ----------------------------------------------------------------------------------------------
# random numbers at the sizes where their paths switch
# ----------------------------------------------------------------------------------------------
# the sizes around each switch: one-at-a-time (< 16), blocks, the ragged end, 64 blocks
SIZES = [1, 2, 7, 15, 16, 17, 24, 31, 32, 33, 100, 1000, 1008, 1009, 1024, 1025, 1040, 4111,
         10 ** 5]
DTYPES = ["float32", "float64", "float16", "bfloat16"]


def _bits(t):
    a = t.detach().float().numpy() if t.dtype in (torch.bfloat16, mg.bfloat16) \
        else t.detach().numpy()
    return a.tobytes()


def _same_state():
    return torch.get_rng_state().numpy().tobytes() == mg.get_rng_state().numpy().tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_randn_bits_at_every_switch(dtype):
    for seed in (0, 12345):
        torch.manual_seed(seed)
        mg.manual_seed(seed)
        for n in SIZES:
            t = torch.randn(n, dtype=getattr(torch, dtype))
            m = mg.randn(n, dtype=getattr(mg, dtype))
            assert _bits(m) == _bits(t), (dtype, n)
        assert _same_state()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_mean_std_and_shapes(dtype):
    torch.manual_seed(3)
    mg.manual_seed(3)
    for shape in [(4, 6), (3,), (1, 5), (2, 8), (5, 7), (64, 16), (65, 16), (3, 100)]:
        for mean, std in [(0.0, 1.0), (0.5, 1.0), (-2.0, 3.0), (0.0, 0.25)]:
            t = torch.empty(shape, dtype=getattr(torch, dtype)).normal_(mean, std)
            m = mg.empty(shape, dtype=getattr(mg, dtype)).normal_(mean, std)
            assert _bits(m) == _bits(t), (shape, mean, std)
        # a transposed tensor draws one at a time (in pairs through the cached normal)
        t = torch.empty(shape[::-1], dtype=getattr(torch, dtype)).t().normal_()
        m = mg.empty(shape[::-1], dtype=getattr(mg, dtype)).t().normal_()
        assert _bits(m) == _bits(t), shape
    assert _same_state()


def test_odd_counts_keep_the_cached_normal():
    torch.manual_seed(7)
    mg.manual_seed(7)
    for n in [1, 3, 5, 7, 15, 9, 1, 127, 129, 131, 2, 13]:
        assert _bits(mg.randn(n, dtype=mg.float64)) == _bits(torch.randn(n,
                                                                          dtype=torch.float64))
        assert _bits(mg.randn(n)) == _bits(torch.randn(n))
        assert _same_state()


def test_many_small_float32_draws():
    # the few-block kernel on two million numbers, 64 blocks at a time
    torch.manual_seed(11)
    mg.manual_seed(11)
    for n in (1024, 1023, 16):
        t = torch.cat([torch.randn(n) for _ in range(700)])
        m = mg.cat([mg.randn(n) for _ in range(700)])
        assert _bits(m) == _bits(t), n


def test_rand_and_randn_like_small():
    torch.manual_seed(5)
    mg.manual_seed(5)
    for n in (1, 7, 16, 24, 1000):
        assert _bits(mg.rand(n)) == _bits(torch.rand(n))
        assert _bits(mg.randn_like(mg.zeros(n, 3))) == _bits(torch.randn_like(torch.zeros(n,
                                                                                           3)))
        assert _bits(mg.rand(n, dtype=mg.float64)) == _bits(torch.rand(n, dtype=torch.float64))
    assert _same_state()


# ----------------------------------------------------------------------------------------------
# p-norms
# ----------------------------------------------------------------------------------------------
def _pair(a, grad=True):
    return mg.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def _close(m, t, rtol, atol=0.0):
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [3, 0.5, -1, -2, 1.5, 4, -0.5, 2.5])
def test_p_norm_values(dtype, p):
    rng = np.random.default_rng(1)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    for shape, dim, keepdim in [((4, 6), None, False), ((4, 6), 1, False), ((4, 6), 0, True),
                                ((2, 3, 5), (0, 2), False), ((2, 3, 5), (0, 2), True),
                                ((2, 3, 5), -1, False), ((7,), 0, True)]:
        a = rng.standard_normal(shape).astype(dtype)
        a.flat[::4] = 0.0
        for special in (None, np.inf, np.nan):
            if special is not None:
                a = a.copy()
                a.flat[1] = special
            m, t = _pair(a, False)
            _close(m.norm(p=p, dim=dim, keepdim=keepdim), t.norm(p=p, dim=dim, keepdim=keepdim),
                   tol)
            _close(mg.linalg.vector_norm(m, p, dim, keepdim),
                   torch.linalg.vector_norm(t, p, dim, keepdim), tol)


@pytest.mark.parametrize("p", [3, 0.5, -1, 1.5, 4, -2])
def test_p_norm_gradients(p):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 5))
    for dim in (None, 1):
        m, t = _pair(a)
        wm = mg.tensor(rng.standard_normal(m.norm(p=p, dim=dim).shape), requires_grad=True)
        wt = torch.tensor(wm.detach().numpy(), requires_grad=True)
        gm = mg.autograd.grad((m.norm(p=p, dim=dim) * wm).sum(), m, create_graph=True)[0]
        gt = torch.autograd.grad((t.norm(p=p, dim=dim) * wt).sum(), t, create_graph=True)[0]
        _close(gm, gt, 1e-12)
        v = rng.standard_normal(a.shape)
        hm = mg.autograd.grad((gm * mg.tensor(v)).sum(), (m, wm))
        ht = torch.autograd.grad((gt * torch.tensor(v)).sum(), (t, wt))
        for x, y in zip(hm, ht):
            _close(x, y, 1e-10, 1e-12)
        assert m.norm(p=p, dim=dim).grad_fn.name() == t.norm(p=p, dim=dim).grad_fn.name()


# ----------------------------------------------------------------------------------------------
# cosine_similarity
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cosine_similarity_values_and_gradients(dtype):
    rng = np.random.default_rng(3)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for shape, dim, eps, scale in [((4, 6), 1, 1e-8, 1.0), ((4, 6), 0, 1e-8, 1.0),
                                   ((2, 3, 4), -1, 1e-8, 1.0), ((2, 3, 4), 1, 1e-3, 1e-4),
                                   ((5, 2), 1, 0.5, 0.1), ((6,), 0, 1e-8, 1.0)]:
        a = (rng.standard_normal(shape) * scale).astype(dtype)
        b = rng.standard_normal(shape).astype(dtype)
        a[0] = 0.0                          # a zero vector: the norm's gradient is masked
        (ma, ta), (mb, tb) = _pair(a), _pair(b)
        rm, rt = F.cosine_similarity(ma, mb, dim, eps), TF.cosine_similarity(ta, tb, dim, eps)
        _close(rm, rt, tol, tol)
        assert rm.grad_fn.name() == rt.grad_fn.name() == "SumBackward1"
        w = rng.standard_normal(rt.shape).astype(dtype)
        gm = mg.autograd.grad((rm * mg.tensor(w)).sum(), (ma, mb))
        gt = torch.autograd.grad((rt * torch.tensor(w)).sum(), (ta, tb))
        for x, y in zip(gm, gt):
            _close(x, y, 10 * tol, 10 * tol * float(np.abs(y.numpy()).max()))


def test_cosine_similarity_second_derivatives():
    rng = np.random.default_rng(4)
    for shape, dim, eps, scale in [((3, 5), 1, 1e-8, 1.0), ((3, 4, 2), 1, 0.3, 0.1)]:
        (ma, ta), (mb, tb) = _pair(rng.standard_normal(shape) * scale), \
            _pair(rng.standard_normal(shape))
        rm, rt = F.cosine_similarity(ma, mb, dim, eps), TF.cosine_similarity(ta, tb, dim, eps)
        w = rng.standard_normal(rt.shape)
        gm = mg.autograd.grad((rm * mg.tensor(w)).sum(), (ma, mb), create_graph=True)
        gt = torch.autograd.grad((rt * torch.tensor(w)).sum(), (ta, tb), create_graph=True)
        v = [rng.standard_normal(shape) for _ in range(2)]
        hm = mg.autograd.grad(sum((g * mg.tensor(u)).sum() for g, u in zip(gm, v)), (ma, mb))
        ht = torch.autograd.grad(sum((g * torch.tensor(u)).sum() for g, u in zip(gt, v)),
                                 (ta, tb))
        for x, y in zip(hm, ht):
            _close(x, y, 1e-9, 1e-9 * float(np.abs(y.numpy()).max()))


def test_cosine_similarity_composed_cases():
    # broadcast inputs, two dtypes, a dim of one element: the composed form
    rng = np.random.default_rng(5)
    for sa, sb, da, db, dim in [((4, 6), (1, 6), np.float64, np.float64, 1),
                                ((4, 6), (4, 6), np.float32, np.float64, 1),
                                ((4, 1), (4, 1), np.float64, np.float64, 1)]:
        (ma, ta), (mb, tb) = _pair(rng.standard_normal(sa).astype(da) * 1e-4), \
            _pair(rng.standard_normal(sb).astype(db))
        rm = F.cosine_similarity(ma, mb, dim, 1e-3)
        rt = TF.cosine_similarity(ta, tb, dim, 1e-3)
        _close(rm, rt, 1e-6, 1e-7)
        w = rng.standard_normal(rt.shape)
        gm = mg.autograd.grad((rm * mg.tensor(w)).sum(), (ma, mb))
        gt = torch.autograd.grad((rt * torch.tensor(w)).sum(), (ta, tb))
        for x, y in zip(gm, gt):
            _close(x, y, 1e-5, 1e-6 * float(np.abs(y.numpy()).max()))


def test_cosine_similarity_errors_unchanged():
    for call in (lambda L, T: L.nn.functional.cosine_similarity(T([[1, 2]]), T([[3, 4]])),
                 lambda L, T: L.nn.functional.cosine_similarity(T([[1., 2]]), T([[3., 4]]), 2),
                 lambda L, T: L.nn.functional.cosine_similarity(T([[1., 2]]), T([[3., 4]]),
                                                                 eps=-1.0),
                 lambda L, T: L.nn.functional.cosine_similarity(T([[1., 2]]), T([[3., 4]]),
                                                                 eps=float("nan"))):
        with pytest.raises(Exception) as want:
            call(torch, torch.tensor)
        with pytest.raises(type(want.value)) as got:
            call(mg, mg.tensor)
        assert str(got.value).split("\n")[0] == str(want.value).split("\n")[0]


# ----------------------------------------------------------------------------------------------
# scatter, topk, sort
# ----------------------------------------------------------------------------------------------
def test_scatter_values_gradients_and_second_derivatives():
    rng = np.random.default_rng(6)
    for shape, dim, ishape in [((4, 6), 1, (4, 1)), ((4, 6), 0, (3, 6)), ((3, 4, 5), 2, (2, 4, 3)),
                               ((5,), 0, (3,)), ((3, 4), -1, (3, 4))]:
        idx = np.argsort(rng.random(shape), axis=dim % len(shape))
        idx = np.ascontiguousarray(idx[tuple(slice(0, n) for n in ishape)])
        (mx, tx), (ms, ts) = _pair(rng.standard_normal(shape)), _pair(rng.standard_normal(ishape))
        for src in ("tensor", 2.5):
            rm = mx.scatter(dim, mg.tensor(idx), ms if src == "tensor" else src)
            rt = tx.scatter(dim, torch.tensor(idx), ts if src == "tensor" else src)
            assert rm.detach().numpy().tobytes() == rt.detach().numpy().tobytes()
            assert rm.grad_fn.name() == rt.grad_fn.name()
            ins_m, ins_t = ((mx, ms), (tx, ts)) if src == "tensor" else ((mx,), (tx,))
            wm = mg.tensor(rng.standard_normal(shape), requires_grad=True)
            wt = torch.tensor(wm.detach().numpy(), requires_grad=True)
            gm = mg.autograd.grad((rm * wm).sum(), ins_m, create_graph=True)
            gt = torch.autograd.grad((rt * wt).sum(), ins_t, create_graph=True)
            for x, y in zip(gm, gt):
                assert x.detach().numpy().tobytes() == y.detach().numpy().tobytes()
            v = [rng.standard_normal(g.shape) for g in gt]
            hm = mg.autograd.grad(sum((g * mg.tensor(u)).sum() for g, u in zip(gm, v)), wm)[0]
            ht = torch.autograd.grad(sum((g * torch.tensor(u)).sum() for g, u in zip(gt, v)),
                                     wt)[0]
            _close(hm, ht, 1e-12)


def test_scatter_repeated_index_and_errors():
    x, src = np.zeros((2, 5)), np.arange(10.0).reshape(2, 5)
    idx = np.array([[1, 1, 1], [0, 4, 0]])
    rm = mg.tensor(x).scatter(1, mg.tensor(idx), mg.tensor(src))
    rt = torch.tensor(x).scatter(1, torch.tensor(idx), torch.tensor(src))
    assert np.array_equal(rm.numpy(), rt.numpy())          # the last write wins
    for bad in ([[5]], [[-1]]):
        with pytest.raises(RuntimeError) as want:
            torch.zeros(2, 5).scatter(1, torch.tensor(bad), torch.ones(1, 1))
        with pytest.raises(RuntimeError) as got:
            mg.zeros(2, 5).scatter(1, mg.tensor(bad), mg.ones(1, 1))
        assert str(got.value) == str(want.value)


def test_topk_and_sort():
    rng = np.random.default_rng(7)
    for shape, dim, k in [((4, 6), -1, 2), ((4, 6), 0, 4), ((2, 3, 5), 1, 1), ((9,), 0, 9),
                          ((4, 6), 1, 0)]:
        a = rng.standard_normal(shape)
        (m, t) = _pair(a)
        for largest in (True, False):
            vm, im = m.topk(k, dim, largest)
            vt, it = t.topk(k, dim, largest)
            assert np.array_equal(vm.detach().numpy(), vt.detach().numpy())
            assert np.array_equal(im.numpy(), it.numpy())
            assert vm.grad_fn.name() == vt.grad_fn.name()
            sm, jm = m.sort(dim, largest)
            st, jt = t.sort(dim, largest)
            assert np.array_equal(sm.detach().numpy(), st.detach().numpy())
            assert np.array_equal(jm.numpy(), jt.numpy())
            if k:
                w = rng.standard_normal(vt.shape)
                gm = mg.autograd.grad((vm * mg.tensor(w)).sum(), m)[0]
                gt = torch.autograd.grad((vt * torch.tensor(w)).sum(), t)[0]
                assert np.array_equal(gm.numpy(), gt.numpy())
    with pytest.raises(RuntimeError) as want:
        torch.zeros(4, 6).topk(7)
    with pytest.raises(RuntimeError) as got:
        mg.zeros(4, 6).topk(7)
    assert str(got.value).startswith(str(want.value))     # (minigrad's adds the sizes)


def test_topk_index_changed_in_place_refuses_backward():
    for lib in (torch, mg):
        x = lib.tensor([[1.0, 3.0, 2.0]], requires_grad=True)
        values, index = x.topk(2)
        index.add_(0)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            values.sum().backward()


# ----------------------------------------------------------------------------------------------
# average pools, interpolate
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nd", [1, 2, 3])
def test_plain_avg_pools(nd):
    rng = np.random.default_rng(8 + nd)
    name = f"avg_pool{nd}d"
    for batched in (False, True):
        spatial = (5, 4, 6)[:nd]
        shape = ((2,) if batched else ()) + (3,) + spatial
        for kernel, stride in [(2, None), (1, 1), ((2,) * nd, 1), (4, 3)]:
            for count_include_pad in (True, False):
                for dtype in (np.float32, np.float64):
                    m, t = _pair(rng.standard_normal(shape).astype(dtype))
                    kw = dict(stride=stride, count_include_pad=count_include_pad)
                    rm, rt = getattr(F, name)(m, kernel, **kw), getattr(TF, name)(t, kernel, **kw)
                    _close(rm, rt, 1e-6, 1e-7 if dtype == np.float32 else 1e-15)
                    assert rm.grad_fn.name() == rt.grad_fn.name()
                    assert rm._array.strides == rt.detach().numpy().strides
                    w = rng.standard_normal(rt.shape).astype(dtype)
                    wm, wt = _pair(w)
                    gm = mg.autograd.grad((rm * wm).sum(), m, create_graph=True)[0]
                    gt = torch.autograd.grad((rt * wt).sum(), t, create_graph=True)[0]
                    _close(gm, gt, 1e-5, 1e-6)
                    if dtype == np.float32 or not count_include_pad:
                        continue
                    v = rng.standard_normal(shape).astype(dtype)
                    hm = mg.autograd.grad((gm * mg.tensor(v)).sum(), wm)[0]
                    ht = torch.autograd.grad((gt * torch.tensor(v)).sum(), wt)[0]
                    _close(hm, ht, 1e-5, 1e-5)


def test_avg_pool_errors_unchanged():
    for call in (lambda L: L.nn.functional.avg_pool1d(L.zeros(1, 2, 3), 4),
                 lambda L: L.nn.functional.avg_pool1d(L.zeros(1, 2, 3), 0),
                 lambda L: L.nn.functional.avg_pool2d(L.zeros(1, 2, 3, 3), 2, stride=0),
                 lambda L: L.nn.functional.avg_pool1d(L.zeros(2, 3), 2, padding=2),
                 lambda L: L.nn.functional.avg_pool1d(L.zeros(1, 0, 3), 2),
                 lambda L: L.nn.functional.avg_pool1d(L.zeros(3), 2)):
        with pytest.raises(Exception) as want:
            call(torch)
        with pytest.raises(type(want.value)) as got:
            call(mg)
        assert str(got.value).startswith(str(want.value))  # (minigrad's may add the sizes)


def test_interpolate_repeated_calls():
    # the second call of a kind reads its maps from the cache: the same numbers either way
    rng = np.random.default_rng(9)
    calls = [((1, 4, 6), dict(scale_factor=2)), ((1, 4, 6), dict(size=9, mode="linear")),
             ((1, 2, 3, 5), dict(scale_factor=2, mode="bilinear", align_corners=True)),
             ((1, 2, 3, 5), dict(size=(4, 4), mode="bicubic")),
             ((1, 2, 3, 5), dict(scale_factor=0.5, mode="nearest-exact")),
             ((1, 4, 6), dict(scale_factor=1))]
    for _ in range(2):
        for shape, kw in calls:
            for dtype in (np.float32, np.float64):
                m, t = _pair(rng.standard_normal(shape).astype(dtype))
                rm, rt = F.interpolate(m, **kw), TF.interpolate(t, **kw)
                _close(rm, rt, 1e-5 if dtype == np.float32 else 1e-13, 1e-6)
                assert rm.grad_fn.name() == rt.grad_fn.name()
                w = rng.standard_normal(rt.shape).astype(dtype)
                gm = mg.autograd.grad((rm * mg.tensor(w)).sum(), m)[0]
                gt = torch.autograd.grad((rt * torch.tensor(w)).sum(), t)[0]
                _close(gm, gt, 1e-5, 1e-5)


def test_scatter_from_a_larger_source_without_gradient():
    rng = np.random.default_rng(10)
    x, src = rng.standard_normal((4, 6)), rng.standard_normal((5, 7))
    idx = np.array([[0], [1], [2], [3]])
    for requires_grad in (False, True):
        (mx, tx), (ms, ts) = _pair(x), _pair(src, requires_grad)
        rm, rt = mx.scatter(1, mg.tensor(idx), ms), tx.scatter(1, torch.tensor(idx), ts)
        assert rm.detach().numpy().tobytes() == rt.detach().numpy().tobytes()
        gm = mg.autograd.grad(rm.sum(), mx)[0]
        gt = torch.autograd.grad(rt.sum(), tx)[0]
        assert np.array_equal(gm.numpy(), gt.numpy())


# ----------------------------------------------------------------------------------------------
# cross_entropy of a few rows (whole-array softmax below 1024 scores)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_few_rows(dtype):
    rng = np.random.default_rng(11)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    for m, c in [(4, 6), (1, 1), (32, 32), (33, 32), (2, 600)]:
        a = (rng.standard_normal((m, c)) * 4).astype(dtype)
        target = rng.integers(0, c, size=m)
        for kw in ({}, {"label_smoothing": 0.2}, {"reduction": "none"},
                   {"weight": rng.random(c).astype(dtype)}):
            mkw = {k: mg.tensor(v) if k == "weight" else v for k, v in kw.items()}
            tkw = {k: torch.tensor(v) if k == "weight" else v for k, v in kw.items()}
            m_, t_ = _pair(a)
            rm = F.cross_entropy(m_, mg.tensor(target), **mkw)
            rt = TF.cross_entropy(t_, torch.tensor(target), **tkw)
            _close(rm, rt, tol, tol)
            w = rng.standard_normal(rt.shape).astype(dtype)
            gm = mg.autograd.grad((rm * mg.tensor(w)).sum(), m_, create_graph=True)[0]
            gt = torch.autograd.grad((rt * torch.tensor(w)).sum(), t_, create_graph=True)[0]
            _close(gm, gt, 10 * tol, 10 * tol)
            if dtype == np.float64:
                v = rng.standard_normal(a.shape)
                hm = mg.autograd.grad((gm * mg.tensor(v)).sum(), m_)[0]
                ht = torch.autograd.grad((gt * torch.tensor(v)).sum(), t_)[0]
                _close(hm, ht, 1e-10, 1e-12)
