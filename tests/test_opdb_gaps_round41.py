"""Round 41's op_db gaps, against torch: ``torch.hash_tensor`` (function and method),
``torch._chunk_cat``, ``torch._unsafe_masked_index`` / ``_unsafe_masked_index_put_accumulate``
(values, dtypes, errors, first and second derivatives) and ``torch.cov``'s dtype of the
weights' product (float32 aweights times integer fweights stay float32, as in PyTorch)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _pair(array, dtype=None):
    """The same values as a torch tensor and a minigrad tensor."""
    t = torch.tensor(array) if dtype is None else torch.tensor(array, dtype=dtype)
    if t.dtype == torch.bfloat16:
        return t, minigrad.tensor(t.float().numpy()).to(minigrad.bfloat16)
    return t, minigrad.tensor(t.numpy())


def _same(m, t):
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(m.shape) == tuple(t.shape)
    np.testing.assert_array_equal(np.asarray(m.numpy()), t.numpy())


def _same_error(fn_t, fn_m):
    with pytest.raises(Exception) as theirs:
        fn_t()
    with pytest.raises(Exception) as mine:
        fn_m()
    assert type(mine.value) is type(theirs.value), (mine.value, theirs.value)
    assert str(theirs.value).split("\n")[0][:60] in str(mine.value), (mine.value, theirs.value)


# --------------------------------------------------------------------------------------------
# hash_tensor
# --------------------------------------------------------------------------------------------
_VALUES = np.array([[1.5, -2.25, 0.0, -0.0], [np.nan, np.inf, -7.0, 3.0], [1e-300, 2.0, 5.0,
                                                                           -1.0]])


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16,
                                   torch.int64, torch.int32, torch.int8, torch.uint8,
                                   torch.bool])
@pytest.mark.parametrize("call", [{}, {"dim": 0}, {"dim": -1, "keepdim": True},
                                  {"dim": (0, 1)}, {"dim": []}, {"keepdim": True}])
def test_hash_tensor_values(dtype, call):
    values = _VALUES if dtype.is_floating_point else np.nan_to_num(_VALUES, posinf=9)
    t, m = _pair(torch.tensor(values).to(dtype).numpy() if dtype != torch.bfloat16 else values,
                 dtype)
    _same(minigrad.hash_tensor(m, **call), torch.hash_tensor(t, **call))
    _same(m.hash_tensor(**call), t.hash_tensor(**call))


def test_hash_tensor_shapes_and_layouts():
    t, m = _pair(np.arange(24.0).reshape(2, 3, 4))
    for args in [(), (1,), ((0, 2),), (-2,)]:
        _same(minigrad.hash_tensor(m.transpose(0, 2), *args), torch.hash_tensor(
            t.transpose(0, 2), *args))
    _same(minigrad.hash_tensor(m[:, ::2, 1:]), torch.hash_tensor(t[:, ::2, 1:]))
    z, mz = _pair(np.float64(3.5))
    for kw in [{}, {"dim": 0}, {"dim": -1, "keepdim": True}, {"dim": ()}]:
        _same(minigrad.hash_tensor(mz, **kw), torch.hash_tensor(z, **kw))
    e, me = _pair(np.zeros((0, 3)))
    _same(minigrad.hash_tensor(me, 1), torch.hash_tensor(e, 1))
    _same(minigrad.hash_tensor(me, 1, keepdim=True), torch.hash_tensor(e, 1, keepdim=True))
    out_t, out_m = torch.empty(0, dtype=torch.uint64), minigrad.empty(0, dtype=minigrad.uint64)
    torch.hash_tensor(t, 2, out=out_t)
    minigrad.hash_tensor(m, 2, out=out_m)
    _same(out_m, out_t)


def test_hash_tensor_errors():
    t, m = _pair(np.ones((2, 3)))
    e, me = _pair(np.zeros((0, 3)))
    c, mc = _pair(np.ones(3, np.complex64))
    u, mu = _pair(np.ones(3, np.uint16))
    cases = [((e,), {}), ((e, 0), {}), ((t,), {"mode": 1}), ((t, 5), {"mode": 3}),
             ((c,), {}), ((c,), {"mode": 1}), ((u,), {}), ((t, (0, 0)), {}), ((t, 1.0), {}),
             ((t,), {"mode": True}), ((t,), {"keepdim": 1}), (([1.0],), {})]
    for args, kwargs in cases:
        margs = [{id(t): m, id(e): me, id(c): mc, id(u): mu}.get(id(a), a) for a in args]
        _same_error(lambda: torch.hash_tensor(*args, **kwargs),
                    lambda: minigrad.hash_tensor(*margs, **kwargs))
    # the method: no out=, one positional dim
    _same_error(lambda: t.hash_tensor(out=torch.empty(0, dtype=torch.uint64)),
                lambda: m.hash_tensor(out=minigrad.empty(0, dtype=minigrad.uint64)))
    _same_error(lambda: t.hash_tensor(1, True), lambda: m.hash_tensor(1, True))


# --------------------------------------------------------------------------------------------
# _chunk_cat
# --------------------------------------------------------------------------------------------
_CHUNK_CASES = [([(1, 2, 3), (1, 2, 5)], -1, 2), ([(1, 2, 3), (1, 2, 3)], 1, 5),
                ([(3, 3, 2, 1), (1, 4, 2, 2), (2, 1, 3, 3)], 0, 2),
                ([(2, 3, 3), (2, 3, 1, 2), (2, 3), (2, 3, 2), (2, 3, 27)], 1, 3),
                ([(7,)], 0, 3)]


@pytest.mark.parametrize("shapes, dim, chunks", _CHUNK_CASES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.int64, torch.bool,
                                   torch.complex128])
def test_chunk_cat_values(shapes, dim, chunks, dtype):
    rng = np.random.default_rng(len(shapes))
    pairs = [_pair((rng.standard_normal(s) * 3).astype(np.float64)) for s in shapes]
    ts = [p[0].to(dtype) for p in pairs]
    ms = [minigrad.tensor(t.numpy()) for t in ts]
    _same(minigrad._chunk_cat(ms, dim, chunks), torch._chunk_cat(ts, dim, chunks))
    flipped = [t.mT for t in ts if t.ndim == 2]
    if flipped:
        _same(minigrad._chunk_cat([minigrad.tensor(t.numpy()).mT for t in ts if t.ndim == 2],
                                  0, chunks), torch._chunk_cat(flipped, 0, chunks))


def test_chunk_cat_gradient_matches_torch_definition():
    """PyTorch's _chunk_cat has no backward: minigrad's gradient is that of the same layout
    made of torch's pad, reshape and cat."""
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 3)), rng.standard_normal((2, 5, 2))]
    ms = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = minigrad._chunk_cat(ms, 1, 2)
    weight = rng.standard_normal(tuple(out.shape))
    (out * minigrad.tensor(weight)).sum().backward()
    pieces = []
    for t in ts:
        size = t.shape[1]
        step = -(-size // 2)
        padded = torch.nn.functional.pad(t, [0, 0] * (t.ndim - 2) + [0, 2 * step - size])
        pieces.append(padded.reshape(2, 2, -1))
    want = torch.cat(pieces, 2)
    np.testing.assert_allclose(out.detach().numpy(), want.detach().numpy())
    (want * torch.tensor(weight)).sum().backward()
    for m, t in zip(ms, ts):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy())


def test_chunk_cat_errors():
    shapes = {"a": (1, 2, 3), "b": (2, 2, 3), "c": (1, 2), "e": (0, 2, 5), "v": (2,)}
    t = {k: torch.ones(s) for k, s in shapes.items()}
    t["i"] = torch.ones(1, 2, 3, dtype=torch.int32)
    m = {k: minigrad.tensor(v.numpy()) for k, v in t.items()}
    cases = [("", 0, 0), ("", 0, 2), ("ai", 5, 1), ("ac", -1, 2), ("av", 2, 1), ("ae", 2, 1),
             ("ab", 2, 1), ("ab", 1, 1), ("aa", 3, 2), ("aa", -4, 2), ("a", 0, 0)]
    for keys, dim, chunks in cases:
        _same_error(lambda: torch._chunk_cat([t[k] for k in keys], dim, chunks),
                    lambda: minigrad._chunk_cat([m[k] for k in keys], dim, chunks))
    _same_error(lambda: torch._chunk_cat([t["a"]], 0, 2.0),
                lambda: minigrad._chunk_cat([m["a"]], 0, 2.0))


# --------------------------------------------------------------------------------------------
# _unsafe_masked_index / _unsafe_masked_index_put_accumulate
# --------------------------------------------------------------------------------------------
def _masked_sample(seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((4, 3))
    rows, cols = rng.integers(-4, 4, (5, 1)), rng.integers(-3, 3, (1, 6))
    live_r, live_c = rng.random((5, 1)) < 0.7, rng.random((1, 6)) < 0.7
    rows = np.where(live_r, rows, rng.integers(5, 20, (5, 1)) * rng.choice([-1, 1], (5, 1)))
    cols = np.where(live_c, cols, rng.integers(4, 20, (1, 6)))
    mask = live_r & live_c & (rng.random((5, 6)) < 0.8)
    return x, mask, rows, cols


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_unsafe_masked_index_matches_torch(seed):
    x, mask, rows, cols = _masked_sample(seed)
    tx = torch.tensor(x, requires_grad=True)
    mx = minigrad.tensor(x, requires_grad=True)
    tidx = [torch.tensor(rows), torch.tensor(cols)]
    midx = [minigrad.tensor(rows), minigrad.tensor(cols)]
    want = torch._unsafe_masked_index(tx, torch.tensor(mask), tidx, -1.5)
    got = minigrad._unsafe_masked_index(mx, minigrad.tensor(mask), midx, -1.5)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy())
    w = np.random.default_rng(9).standard_normal(tuple(want.shape))
    (gt,) = torch.autograd.grad((want * torch.tensor(w)).sum(), [tx], create_graph=True)
    (gm,) = minigrad.autograd.grad((got * minigrad.tensor(w)).sum(), [mx], create_graph=True)
    np.testing.assert_allclose(gm.detach().numpy(), gt.detach().numpy(), atol=1e-12)
    # an int input: the fill is cast to its dtype
    ints = np.round(x * 3).astype(np.int32)
    _same(minigrad._unsafe_masked_index(minigrad.tensor(ints), minigrad.tensor(mask), midx, 7.5),
          torch._unsafe_masked_index(torch.tensor(ints), torch.tensor(mask), tidx, 7.5))


@pytest.mark.parametrize("seed", [0, 1])
def test_unsafe_masked_index_put_accumulate_matches_torch(seed):
    x, mask, rows, cols = _masked_sample(seed)
    v = np.random.default_rng(seed + 5).standard_normal(mask.shape)
    tx, tv = torch.tensor(x, requires_grad=True), torch.tensor(v, requires_grad=True)
    mx, mv = minigrad.tensor(x, requires_grad=True), minigrad.tensor(v, requires_grad=True)
    want = torch._unsafe_masked_index_put_accumulate(
        tx * tx, torch.tensor(mask), [torch.tensor(rows), torch.tensor(cols)], tv * tv)
    got = minigrad._unsafe_masked_index_put_accumulate(
        mx * mx, minigrad.tensor(mask), [minigrad.tensor(rows), minigrad.tensor(cols)], mv * mv)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), atol=1e-12)
    w = np.random.default_rng(11).standard_normal(x.shape)
    tg = torch.autograd.grad((want * torch.tensor(w)).sum(), [tx, tv], create_graph=True)
    mg = minigrad.autograd.grad((got * minigrad.tensor(w)).sum(), [mx, mv], create_graph=True)
    for a, b in zip(mg, tg):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
    # second order: the gradient's sum differentiated again
    th = torch.autograd.grad(sum(g.sum() for g in tg), [tx, tv])
    mh = minigrad.autograd.grad(sum(g.sum() for g in mg), [mx, mv])
    for a, b in zip(mh, th):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-12)


def test_unsafe_masked_index_errors():
    x, mx = _pair(np.ones((2, 3)))
    i, mi = _pair(np.array([0, 1]))
    k, mk = _pair(np.array([True, False]))
    _same_error(lambda: torch._unsafe_masked_index(x, k, [None, i], 1.0),
                lambda: minigrad._unsafe_masked_index(mx, mk, [None, mi], 1.0))
    vi, mvi = _pair(np.array([1, 2]))
    _same_error(lambda: torch._unsafe_masked_index_put_accumulate(x, k, [i, i], vi),
                lambda: minigrad._unsafe_masked_index_put_accumulate(mx, mk, [mi, mi], mvi))


# --------------------------------------------------------------------------------------------
# _native_batch_norm_legit
# --------------------------------------------------------------------------------------------
# (torch's form without running statistics crashes the process in eval: not compared)
@pytest.mark.parametrize("training, stats", [(True, True), (False, True), (True, False)])
def test_native_batch_norm_legit_matches_torch(training, stats):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((4, 3, 5)), rng.standard_normal(3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2.0, 3)
    results = []
    for lib in (torch, minigrad):
        xt = lib.tensor(x, requires_grad=True)
        rm, rv = lib.tensor(mean), lib.tensor(var)
        head = (xt, lib.tensor(w), lib.tensor(b))
        outs = lib._native_batch_norm_legit(*head, *((rm, rv) if stats else ()), training,
                                            0.3, 1e-3)
        (grad,) = lib.autograd.grad((outs[0] ** 2).sum(), [xt])
        results.append([o.detach().numpy() for o in outs] + [rm.numpy(), rv.numpy(),
                                                             grad.numpy()])
    for mine, theirs in zip(results[1], results[0]):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


def test_native_batch_norm_legit_keywords():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2))
    t = torch._native_batch_norm_legit(torch.tensor(x), None, None, training=True, momentum=0.1,
                                       eps=1e-5)
    m = minigrad._native_batch_norm_legit(minigrad.tensor(x), None, None, training=True,
                                          momentum=0.1, eps=1e-5)
    for a, b in zip(m, t):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


# --------------------------------------------------------------------------------------------
# cov: the weights' product keeps the weights' dtype
# --------------------------------------------------------------------------------------------
def test_cov_float32_aweights_second_derivative_matches_torch():
    rng = np.random.default_rng(0)
    x, w, v = rng.standard_normal((3, 4)), rng.standard_normal((3, 3)), rng.standard_normal(
        (3, 4))
    fw, aw = np.array([1, 3, 2, 1], np.int32), (rng.random(4) + 0.5).astype(np.float32)
    out = []
    for lib in (torch, minigrad):
        xt = lib.tensor(x, requires_grad=True)
        c = lib.cov(xt, correction=0, fweights=lib.tensor(fw), aweights=lib.tensor(aw))
        (g,) = lib.autograd.grad((c * lib.tensor(w)).sum(), [xt], create_graph=True)
        (h,) = lib.autograd.grad((g * lib.tensor(v)).sum(), [xt])
        out.append((c.detach().numpy(), g.detach().numpy(), h.numpy()))
    for mine, theirs in zip(out[1], out[0]):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12, atol=1e-13)
