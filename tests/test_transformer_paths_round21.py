"""The transformer step's array paths beside torch: layer_norm's one-node forward and
backward (``_norm_rows.layer_norm_rows`` / ``layer_norm_grad_rows``), group_norm (whose row
statistics they share), embedding's weight gradient as one node (``ops.embedding_grad``),
Adam/AdamW's step queued over all parameters (``optim._adam_batch``) and GELU in kept
scratch buffers -- on one thread and split over two, float32 and float64, with padding_idx,
repeated and long-repeated indices, scale_grad_by_freq, max_norm, 16-bit dtypes,
non-contiguous and empty inputs, and second derivatives (create_graph)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(request.param)
    try:
        yield request.param
    finally:
        minigrad.set_num_threads(before)


def _tol(dtype):
    # float32: the weight and bias gradients are sums over 1200-4400 rows, whose rounding
    # depends on the order each library (and its thread count) adds them in
    return dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)


# ------------------------------------------------------------------------------------------
# layer_norm
# ------------------------------------------------------------------------------------------
def _layer_norm(lib, x, w, b, g, wants, transpose=False):
    xt = lib.tensor(x, requires_grad=wants[0])
    wt = None if w is None else lib.tensor(w, requires_grad=wants[1])
    bt = None if b is None else lib.tensor(b, requires_grad=wants[2])
    inp = xt.transpose(0, 1) if transpose else xt
    y = lib.nn.functional.layer_norm(inp, (x.shape[-1],), wt, bt, eps=1e-5)
    ins = [t for t in (xt, wt, bt) if t is not None and t.requires_grad]
    grads = lib.autograd.grad(y, ins, lib.tensor(g)) if ins else []
    return [y.detach().numpy()] + [t.numpy() for t in grads]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["none", "w", "wb"])
def test_layer_norm_rows_match_torch(threads, dtype, affine):
    # 4400 rows of 128: five blocks of rows, and past the size where the threads split them
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((4, 1100, 128)) * 3 + 5).astype(dtype)
    w = (1 + 0.1 * rng.standard_normal(128)).astype(dtype) if affine != "none" else None
    b = (0.1 * rng.standard_normal(128)).astype(dtype) if affine == "wb" else None
    g = rng.standard_normal(x.shape).astype(dtype)
    for wants in [(True, True, True), (True, False, False), (False, True, True),
                  (False, False, True)]:
        mine = _layer_norm(minigrad, x, w, b, g, wants)
        theirs = _layer_norm(torch, x, w, b, g, wants)
        assert len(mine) == len(theirs)
        for a, t in zip(mine, theirs):
            assert a.dtype == dtype and a.shape == t.shape
            # (float32 weight and bias gradients: sums of 4400 rows, rounded differently)
            tol = _tol(dtype) if dtype == np.float64 or a.ndim > 1 else \
                dict(rtol=1e-4, atol=5e-4)
            np.testing.assert_allclose(a, t, **tol)


def test_layer_norm_large_mean_rows_keep_their_digits():
    # rows whose mean is 1e4 times their spread: the two-pass variance keeps them
    rng = np.random.default_rng(5)
    x = (1e4 + rng.standard_normal((64, 256))).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    mine = _layer_norm(minigrad, x, None, None, g, (True, False, False))
    theirs = _layer_norm(torch, x.astype(np.float64), None, None, g.astype(np.float64),
                         (True, False, False))
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_non_contiguous_input(threads, dtype):
    rng = np.random.default_rng(8)
    x = rng.standard_normal((40, 30, 64)).astype(dtype)
    w, b = rng.standard_normal(64).astype(dtype), rng.standard_normal(64).astype(dtype)
    g = rng.standard_normal((30, 40, 64)).astype(dtype)
    mine = _layer_norm(minigrad, x, w, b, g, (True, True, True), transpose=True)
    theirs = _layer_norm(torch, x, w, b, g, (True, True, True), transpose=True)
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, **_tol(dtype))


def test_layer_norm_second_order_matches_torch():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 5, 16))
    w, b = 1 + 0.3 * rng.standard_normal(16), rng.standard_normal(16)
    g = rng.standard_normal(x.shape)
    out = []
    for lib in (minigrad, torch):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        gt = lib.tensor(g, requires_grad=True)
        y = lib.nn.functional.layer_norm(xt, (16,), wt, bt)
        gx, gw = lib.autograd.grad(y, (xt, wt), gt, create_graph=True)
        second = lib.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (xt, wt, gt))
        out.append([a.detach().numpy() for a in (gx, gw) + tuple(second)])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_layer_norm_16_bit_inputs(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 32)).astype(np.float32)
    w = (1 + 0.1 * rng.standard_normal(32)).astype(np.float32)
    out = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x).to(getattr(lib, dtype)).requires_grad_(True)
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.layer_norm(xt, (32,), wt)
        y.backward(lib.ones_like(y))
        out.append([y.detach().float().numpy(), xt.grad.float().numpy(), wt.grad.numpy()])
        assert y.dtype == getattr(lib, dtype)
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=2e-2, atol=2e-2)


def test_layer_norm_empty_input():
    for lib in (minigrad, torch):
        x = lib.zeros(0, 8, requires_grad=True)
        w = lib.ones(8, requires_grad=True)
        y = lib.nn.functional.layer_norm(x, (8,), w)
        y.sum().backward()
        assert tuple(y.shape) == (0, 8) and tuple(x.grad.shape) == (0, 8)
        assert np.array_equal(w.grad.numpy(), np.zeros(8, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_group_norm_still_matches_torch(threads, dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((4, 8, 20, 20)) + 2).astype(dtype)
    w, b = rng.standard_normal(8).astype(dtype), rng.standard_normal(8).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    out = []
    for lib in (minigrad, torch):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = lib.nn.functional.group_norm(xt, 4, wt, bt)
        out.append([y.detach().numpy()] + [t.numpy() for t in
                                           lib.autograd.grad(y, (xt, wt, bt), lib.tensor(g))])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, **_tol(dtype))


# ------------------------------------------------------------------------------------------
# embedding's weight gradient
# ------------------------------------------------------------------------------------------
def _embedding_grad(lib, w, idx, g, **kw):
    wt = lib.tensor(w.copy(), requires_grad=True)
    y = lib.nn.functional.embedding(lib.tensor(idx), wt, **kw)
    y.backward(lib.tensor(g))
    return y.detach().numpy(), wt.grad.numpy(), wt.detach().numpy()


def _indices(rng, pattern, shape, vocab):
    if pattern == "random":
        return rng.integers(0, vocab, shape)
    if pattern == "distinct":
        return rng.permutation(vocab)[:int(np.prod(shape))].reshape(shape)
    if pattern == "one":                               # one index, many times
        return np.full(shape, vocab // 2)
    idx = rng.integers(0, vocab, shape)                # a few very long runs
    idx.reshape(-1)[::3] = 1
    idx.reshape(-1)[1::7] = vocab - 1
    return idx


@pytest.mark.parametrize("pattern", ["random", "distinct", "one", "long"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_weight_gradient_matches_torch(pattern, dtype):
    rng = np.random.default_rng(len(pattern))
    vocab, dim = 97, 24
    shape = (6, 15) if pattern != "distinct" else (5, 19)
    w = rng.standard_normal((vocab, dim)).astype(dtype)
    idx = _indices(rng, pattern, shape, vocab)
    g = rng.standard_normal(shape + (dim,)).astype(dtype)
    mine, theirs = _embedding_grad(minigrad, w, idx, g), _embedding_grad(torch, w, idx, g)
    for a, t in zip(mine, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, t, **_tol(dtype))


def test_embedding_float32_gradient_is_torchs_sum_in_index_order():
    # the rows of each destination added one after another in index order, in float32, as
    # PyTorch's CPU kernel adds them: the same bits (runs of up to MIN_RANKS rows)
    rng = np.random.default_rng(11)
    w = rng.standard_normal((50, 64)).astype(np.float32)
    idx = rng.integers(0, 50, (16, 40))
    g = (rng.standard_normal((16, 40, 64)) * np.exp(rng.uniform(-8, 8, (16, 40, 1)))
         ).astype(np.float32)
    mine, theirs = _embedding_grad(minigrad, w, idx, g), _embedding_grad(torch, w, idx, g)
    assert np.array_equal(mine[1], theirs[1])


@pytest.mark.parametrize("padding_idx", [0, 3, -2])
def test_embedding_padding_idx(padding_idx):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((10, 5))
    idx = rng.integers(0, 10, (7, 9))
    idx[0, :] = padding_idx % 10
    g = rng.standard_normal((7, 9, 5))
    g[0, 0, 0] = np.nan                     # a padding row's NaN gives no gradient
    mine = _embedding_grad(minigrad, w, idx, g, padding_idx=padding_idx)
    theirs = _embedding_grad(torch, w, idx, g, padding_idx=padding_idx)
    for a, t in zip(mine, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)
    assert np.array_equal(mine[1][padding_idx % 10], np.zeros(5))


def test_embedding_scale_grad_by_freq_and_max_norm():
    rng = np.random.default_rng(9)
    w = rng.standard_normal((12, 6)) * 3
    idx = rng.integers(0, 12, (5, 8))
    g = rng.standard_normal((5, 8, 6))
    for kw in [dict(scale_grad_by_freq=True), dict(max_norm=1.5),
               dict(max_norm=1.0, norm_type=1.0, padding_idx=2, scale_grad_by_freq=True)]:
        mine = _embedding_grad(minigrad, w, idx, g, **kw)
        theirs = _embedding_grad(torch, w, idx, g, **kw)
        for a, t in zip(mine, theirs):
            np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_second_order_matches_torch(padding_idx):
    rng = np.random.default_rng(12)
    w = rng.standard_normal((6, 4))
    idx = np.array([[1, 2, 1, 5], [0, 1, 1, 3]])
    g = rng.standard_normal((2, 4, 4))
    c = rng.standard_normal((6, 4))
    out = []
    for lib in (minigrad, torch):
        wt = lib.tensor(w, requires_grad=True)
        gt = lib.tensor(g, requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor(idx), wt, padding_idx=padding_idx)
        gw, = lib.autograd.grad(y, wt, gt, create_graph=True)
        assert type(gw.grad_fn).__name__ == "EmbeddingDenseBackwardBackward0"
        gg, = lib.autograd.grad((gw * lib.tensor(c)).sum() + (gw * gw).sum(), gt)
        out.append([gw.detach().numpy(), gg.numpy()])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_embedding_16_bit_gradient(dtype):
    # 16-bit tables keep IndexAdd's float64 sums, rounded once
    rng = np.random.default_rng(13)
    w = rng.standard_normal((9, 8)).astype(np.float32)
    idx = rng.integers(0, 9, (4, 10))
    g = rng.standard_normal((4, 10, 8)).astype(np.float32)
    wt = minigrad.tensor(w).to(getattr(minigrad, dtype)).requires_grad_(True)
    gt = minigrad.tensor(g).to(getattr(minigrad, dtype))
    minigrad.nn.functional.embedding(minigrad.tensor(idx), wt).backward(gt)
    expected = np.zeros((9, 8))
    rows = gt.float().numpy().astype(np.float64).reshape(-1, 8)
    for k, i in enumerate(idx.reshape(-1)):
        expected[i] += rows[k]
    want = torch.tensor(expected).to(getattr(torch, dtype)).float().numpy()
    assert np.array_equal(wt.grad.float().numpy(), want)
    theirs = torch.tensor(w).to(getattr(torch, dtype)).requires_grad_(True)
    torch.nn.functional.embedding(torch.tensor(idx), theirs).backward(
        torch.tensor(g).to(getattr(torch, dtype)))
    np.testing.assert_allclose(wt.grad.float().numpy(), theirs.grad.float().numpy(),
                               rtol=2e-2, atol=5e-2)


def test_embedding_non_contiguous_gradient_and_empty_index():
    rng = np.random.default_rng(14)
    w = rng.standard_normal((8, 6))
    idx = rng.integers(0, 8, (5, 4))
    g = rng.standard_normal((4, 5, 6))
    out = []
    for lib in (minigrad, torch):
        wt = lib.tensor(w, requires_grad=True)
        y = lib.nn.functional.embedding(lib.tensor(idx), wt)       # (5, 4, 6)
        (y.transpose(0, 1) * lib.tensor(g)).sum().backward()     # a transposed gradient
        empty = lib.nn.functional.embedding(lib.tensor(np.zeros((0, 3), np.int64)), wt)
        empty.sum().backward()
        out.append(wt.grad.numpy())
        assert tuple(empty.shape) == (0, 3, 6)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# Adam / AdamW over all parameters at once
# ------------------------------------------------------------------------------------------
def _optimise(lib, opt_name, shapes, dtype, steps, **kw):
    rng = np.random.default_rng(17)
    values = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    params = [lib.tensor(v, requires_grad=True) for v in values]
    opt = getattr(lib.optim, opt_name)(params, lr=1e-2, **kw)
    for k in range(steps):
        for p, g in zip(params, grads):
            p.grad = lib.tensor(g * (1 - k) if k else g)
        opt.step()
    return [p.detach().numpy() for p in params] + \
        [opt.state[p]["exp_avg_sq"].numpy() for p in params]


# one parameter of several chunks and past the threads' split size, and small ones
_SHAPES = [(200, 400), (7,), (64, 33), (1,), (70000,)]


@pytest.mark.parametrize("opt_name, kw", [
    ("AdamW", dict(weight_decay=0.05)),
    ("Adam", dict(weight_decay=0.1)),
    ("Adam", dict(amsgrad=True, maximize=True)),
    ("AdamW", dict(amsgrad=True, weight_decay=0.01, betas=(0.8, 0.9), eps=1e-6)),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_steps_match_torch(threads, opt_name, kw, dtype, monkeypatch):
    # (the queue on two threads even for these few numbers)
    monkeypatch.setattr(minigrad.optim.adam, "QUEUE_MIN_NUMBERS", 0)
    mine = _optimise(minigrad, opt_name, _SHAPES, dtype, 2, **kw)
    theirs = _optimise(torch, opt_name, _SHAPES, dtype, 2, **kw)
    for a, t in zip(mine, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, t, rtol=1e-6 if dtype == np.float32 else 1e-13,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)


def test_adam_parameters_that_are_views_of_one_buffer(threads, monkeypatch):
    # two parameters viewing one buffer: their steps run in order, as they were queued
    monkeypatch.setattr(minigrad.optim.adam, "QUEUE_MIN_NUMBERS", 0)
    out = []
    for lib in (minigrad, torch):
        base = lib.tensor(np.linspace(-1, 1, 40000).astype(np.float32))
        a, b = base[:30000].detach().requires_grad_(True), base[10000:].detach()
        b.requires_grad_(True)
        opt = lib.optim.AdamW([a, b], lr=0.1)
        for _ in range(2):
            a.grad, b.grad = lib.ones_like(a), -lib.ones_like(b)
            opt.step()
        out.append(base.numpy().copy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------
# GELU in kept scratch
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_matches_torch_twice(threads, dtype, approximate):
    rng = np.random.default_rng(15)
    for shape in [(8, 64, 512), (3, 7)]:                 # the second call reuses scratch
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        out = []
        for lib in (minigrad, torch):
            xt = lib.tensor(x, requires_grad=True)
            y = lib.nn.functional.gelu(xt, approximate=approximate)
            y.backward(lib.tensor(g))
            out.append([y.detach().numpy(), xt.grad.numpy()])
        for a, t in zip(*out):
            np.testing.assert_allclose(a, t, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-5 if dtype == np.float32 else 1e-12)


# ------------------------------------------------------------------------------------------
# scaled_dot_product_attention's node, its batch (or heads) shared by the threads
# ------------------------------------------------------------------------------------------
def _attention(lib, q, k, v, g, mask, causal, transposed):
    ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
    qt, kt, vt = (t.transpose(1, 2) for t in ts) if transposed else ts
    m = None if mask is None else lib.tensor(mask)
    y = lib.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=m,
                                                       is_causal=causal)
    grads = lib.autograd.grad(y, ts, lib.tensor(g))
    return [y.detach().numpy()] + [t.numpy() for t in grads]


@pytest.mark.parametrize("case", ["causal", "causal_large", "bool_mask", "float_mask",
                                  "one_sample", "transposed", "longer_keys"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_matches_torch(threads, dtype, case):
    rng = np.random.default_rng(len(case))
    n, h, n_l, n_s, e = (1, 8, 64, 64, 32) if case == "one_sample" else (4, 4, 48, 64, 32) \
        if case == "longer_keys" else (4, 4, 64, 64, 32)
    spread = 4.0 if case == "causal_large" else 1.0        # scores past +-64: shifted softmax
    q = (rng.standard_normal((n, h, n_l, e)) * spread).astype(dtype)
    k = (rng.standard_normal((n, h, n_s, e)) * spread).astype(dtype)
    v = rng.standard_normal((n, h, n_s, e)).astype(dtype)
    g = rng.standard_normal((n, h, n_l, e)).astype(dtype)
    mask, causal, transposed = None, case != "bool_mask" and case != "float_mask", False
    if case == "bool_mask":
        mask = rng.random((n, 1, n_l, n_s)) < 0.7
        mask[0, 0, 3] = False                               # a row with every key masked
    elif case == "float_mask":
        mask = rng.standard_normal((n_l, n_s)).astype(dtype)
    elif case == "transposed":
        q, k, v, g = (np.ascontiguousarray(a.transpose(0, 2, 1, 3)) for a in (q, k, v, g))
        transposed = True
        g = g.transpose(0, 2, 1, 3)
    mine = _attention(minigrad, q, k, v, g, mask, causal, transposed)
    theirs = _attention(torch, q, k, v, g, mask, causal, transposed)
    tol = dict(rtol=1e-9, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4) \
        if spread == 1 else dict(rtol=2e-3, atol=2e-3)
    for a, t in zip(mine, theirs):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, t, **tol)


def test_attention_second_order_matches_torch(threads):
    # torch's flash kernel has no second derivative: its math form is the reference
    rng = np.random.default_rng(30)
    q, k, v = (rng.standard_normal((2, 2, 8, 4)) for _ in range(3))
    out = []
    for lib in (minigrad, torch):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        if lib is torch:
            scores = ts[0] @ ts[1].transpose(-2, -1) / 2.0
            scores = scores.masked_fill(torch.ones(8, 8, dtype=torch.bool).triu(1), -np.inf)
            y = torch.softmax(scores, -1) @ ts[2]
        else:
            y = lib.nn.functional.scaled_dot_product_attention(*ts, is_causal=True)
        grads = lib.autograd.grad((y * y).sum(), ts, create_graph=True)
        second = lib.autograd.grad(sum((d * d).sum() for d in grads), ts)
        out.append([d.detach().numpy() for d in grads + second])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-10)


def test_adam_queue_only_for_many_numbers(monkeypatch):
    """On several threads the step is queued only when the parameters with a gradient hold
    QUEUE_MIN_NUMBERS or more (fewer ran faster one by one); either way torch's values."""
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    ran = []
    real = minigrad.optim.adam.run_jobs
    monkeypatch.setattr(minigrad.optim.adam, "run_jobs", lambda jobs: ran.append(len(jobs))
                        or real(jobs))
    try:
        shapes = [(300, 200), (50000,)]
        for limit, queued in ((110000 + 1, False), (110000, True)):
            monkeypatch.setattr(minigrad.optim.adam, "QUEUE_MIN_NUMBERS", limit)
            ran.clear()
            mine = _optimise(minigrad, "AdamW", shapes, np.float32, 2, weight_decay=0.01)
            theirs = _optimise(torch, "AdamW", shapes, np.float32, 2, weight_decay=0.01)
            assert bool(ran) == queued
            for a, t in zip(mine, theirs):
                np.testing.assert_allclose(a, t, rtol=1e-6, atol=1e-6)
    finally:
        minigrad.set_num_threads(before)
