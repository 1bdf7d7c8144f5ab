"""The row and slab kernels of softmax and log_softmax (``ops/_softmax_rows.py``), the attention
node's softmax without the scores' min and max (``ops/attention_node.py``) and
embedding_bag's one-node sum and mean (``nn/_embedding_bag_node.py``), beside torch in
float64 and float32: values and gradients, over odd shapes, rows that need the shift by
their max (overflow, every exp underflowing, -inf, NaN, +inf), non-contiguous inputs and
gradients, dims other than the last, empty inputs; the second derivatives of each (torch's,
or finite differences where torch has none)."""
import numpy as np
import pytest

import minigrad
from minigrad.nn._embedding_bag_node import EmbeddingBagSums
from minigrad.ops import _softmax_rows, attention_node

torch = pytest.importorskip("torch")

TOL = {np.float64: (1e-10, 1e-12), np.float32: (2e-5, 2e-6)}


def _close(mine, theirs, dtype):
    rtol, atol = TOL[dtype]
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        a = a.detach().numpy() if hasattr(a, "detach") else a
        b = b.detach().numpy() if hasattr(b, "detach") else b
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


# ----------------------------------------------------------------------------------------------
# softmax / log_softmax
# ----------------------------------------------------------------------------------------------
def _softmax_run(lib, fn, x, dim, g, transpose_g=False):
    xt = lib.tensor(x, requires_grad=True)
    y = getattr(lib, fn)(xt, dim)
    gt = lib.tensor(g)
    if transpose_g:                 # a gradient whose memory is not in the output's order
        gt = lib.tensor(np.ascontiguousarray(np.swapaxes(g, 0, -1))).transpose(0, -1)
    gx, = lib.autograd.grad(y, xt, gt)
    return [y, gx]


def _rows_input(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    rows = x.reshape(-1, shape[-1])
    rows[1] += 800          # overflows exp
    rows[2] -= 800          # every exp underflows: sums below the least
    rows[3, ::3] = -np.inf
    rows[4] = -np.inf       # a row all -inf: NaN, as torch
    rows[5, 7] = np.nan
    rows[6, 2] = np.inf
    rows[7] = 0
    rows[-1] *= 30
    return x


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(7, 13, 181), (40, 1000), (9, 2000)])
def test_softmax_rows_match_torch(shape, fn, dtype):
    assert np.prod(shape) >= minigrad.ops.softmax._ROWS_MIN         # the row kernels' size
    x = _rows_input(shape, dtype)
    g = np.cos(np.arange(x.size) * 0.37).reshape(shape).astype(dtype)
    _close(_softmax_run(minigrad, fn, x, -1, g), _softmax_run(torch, fn, x, -1, g), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_rows_in_small_blocks_match_torch(monkeypatch, fn, dtype):
    # many blocks of a few rows each, some shifted, some not
    monkeypatch.setattr(_softmax_rows, "_BLOCK", 300)
    x = _rows_input((50, 485), dtype, seed=3)
    x = np.ascontiguousarray(np.concatenate([x] * 2, 0))
    g = np.sin(np.arange(x.size) * 0.11).reshape(x.shape).astype(dtype)
    _close(_softmax_run(minigrad, fn, x, 1, g), _softmax_run(torch, fn, x, 1, g), dtype)


def _slabs_input(shape, dim, dtype, seed=0):
    """Columns along ``dim`` that need the shift (as ``_rows_input``'s rows)."""
    x = np.moveaxis(_rows_input(shape[:dim] + shape[dim + 1:] + shape[dim:dim + 1], dtype,
                                seed), -1, dim)
    return np.ascontiguousarray(x)


@pytest.mark.parametrize("block", [None, 2000])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", [((6, 21, 13, 11), 1), ((9, 300, 7), 1),
                                        ((3, 9, 700), 1), ((40, 9, 50), 0)])
def test_softmax_slabs_match_torch(monkeypatch, shape, dim, fn, dtype, block):
    # along a dim that is not the last: slabs (outer, D, inner), in blocks of several slabs
    # or of one (``block``: a slab larger than the block)
    if block:
        monkeypatch.setattr(_softmax_rows, "_BLOCK", block)
    x = _slabs_input(shape, dim, dtype)
    assert x.size >= minigrad.ops.softmax._ROWS_MIN and np.prod(shape[:dim]) > 1 or dim == 0
    g = np.cos(np.arange(x.size) * 0.29).reshape(shape).astype(dtype)
    _close(_softmax_run(minigrad, fn, x, dim, g), _softmax_run(torch, fn, x, dim, g), dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("case", ["dim 0", "middle dim", "transposed input",
                                  "transposed gradient", "empty", "0-d", "one row"])
def test_softmax_other_layouts_match_torch(case, fn, dtype):
    rng = np.random.default_rng(5)
    shape, dim = {"dim 0": ((300, 64), 0), "middle dim": ((20, 90, 11), 1),
                  "transposed input": ((128, 200), -1), "transposed gradient": ((64, 300), -1),
                  "empty": ((0, 20000), -1), "0-d": ((), 0), "one row": ((20000,), 0)}[case]
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if case == "transposed input":
        x = np.ascontiguousarray(x.T).T
    g = np.cos(np.arange(x.size) * 0.3).reshape(shape).astype(dtype)
    transpose_g = case == "transposed gradient"
    _close(_softmax_run(minigrad, fn, x, dim, g, transpose_g),
           _softmax_run(torch, fn, x, dim, g, transpose_g), dtype)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 1])
def test_softmax_rows_second_derivatives_match_torch(fn, dim):
    x = _rows_input((24, 700), np.float64)[8:].reshape(4, 4, 700)        # finite rows only

    def run(lib):
        xt = lib.tensor(x, requires_grad=True)
        gy = lib.tensor(np.cos(np.arange(x.size) * 0.7).reshape(x.shape), requires_grad=True)
        gx, = lib.autograd.grad(getattr(lib, fn)(xt, dim), xt, gy, create_graph=True)
        return [gx] + list(lib.autograd.grad((gx * gx * gx).sum() + (gx * xt).sum(), [xt, gy]))
    _close(run(minigrad), run(torch), np.float64)


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention
# ----------------------------------------------------------------------------------------------
def _composed_attention(q, k, v, causal):
    """torch's attention written out (its CPU kernel has no double backward)."""
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if causal:
        n_l, n_s = scores.shape[-2:]
        upper = torch.ones(n_l, n_s, dtype=torch.bool).triu(1)
        scores = scores.masked_fill(upper, -float("inf"))
    return scores.softmax(-1) @ v


def _attention_run(lib, q, k, v, g, mask=None, causal=False, scale=None, create_graph=False):
    qt, kt, vt = (lib.tensor(a, requires_grad=True) for a in (q, k, v))
    m = None if mask is None else lib.tensor(mask)
    if lib is torch and create_graph:
        out = _composed_attention(qt, kt, vt, causal)
    else:
        out = lib.nn.functional.scaled_dot_product_attention(qt, kt, vt, attn_mask=m,
                                                             is_causal=causal, scale=scale)
    gt = lib.tensor(g, requires_grad=create_graph)
    grads = lib.autograd.grad(out, (qt, kt, vt), gt, create_graph=create_graph)
    result = [out] + list(grads)
    if create_graph:
        total = sum((d * d).sum() for d in grads)
        result += list(lib.autograd.grad(total, (qt, kt, vt, gt)))
    return result


def _qkv(shape_q, shape_kv, dtype, seed=0):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal(shape_q).astype(dtype)
    k = rng.standard_normal(shape_kv).astype(dtype)
    v = rng.standard_normal(shape_kv).astype(dtype)
    g = rng.standard_normal(shape_q[:-1] + shape_kv[-1:]).astype(dtype)
    return q, k, v, g


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["plain", "causal", "causal L != S", "bool mask, dead rows",
                                  "float mask", "overflowing scores", "far below zero",
                                  "non-contiguous q"])
def test_attention_softmax_matches_torch(case, dtype, threads):
    shape_q, shape_kv = (4, 3, 37, 16), (4, 3, 45, 16)
    if case == "causal L != S":
        shape_q = (4, 3, 29, 16)
    q, k, v, g = _qkv(shape_q, shape_kv, dtype)
    mask, causal, scale = None, case.startswith("causal"), None
    rng = np.random.default_rng(1)
    if case == "bool mask, dead rows":
        mask = rng.random((4, 1, 37, 45)) > 0.3
        mask[:, :, 5] = False                                # every key masked: a zero row
    elif case == "float mask":
        mask = (rng.standard_normal((37, 45)) * 2).astype(dtype)
        mask[3, ::2] = -np.inf
    elif case == "overflowing scores":
        scale = 60.0 if dtype == np.float64 else 12.0    # exp overflows: the shifted softmax
    elif case == "far below zero":
        # every exp underflows: shifted again
        mask = np.full((37, 45), -800.0 if dtype == np.float64 else -200.0, dtype)
    elif case == "non-contiguous q":
        q = np.ascontiguousarray(np.swapaxes(q, 1, 2)).swapaxes(1, 2)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _attention_run(minigrad, q, k, v, g, mask, causal, scale)
    finally:
        minigrad.set_num_threads(before)
    theirs = _attention_run(torch, q, k, v, g, mask, causal, scale)
    if dtype == np.float64:
        _close(mine, theirs, dtype)
        return
    for a, b in zip(mine, theirs):      # float32: the scores' own rounding, scaled up
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4,
                                   atol=2e-5 * (1 if scale is None else 20), equal_nan=True)


def test_attention_split_path_taken_and_matches_torch(monkeypatch):
    # the threads' split of the batch (one run per part: scores, softmax, product)
    monkeypatch.setattr(attention_node, "_SPLIT_MACS", 1)
    calls = []
    real = attention_node._forward_split

    def spy(*args):
        out = real(*args)
        calls.append(out is not None)
        return out
    monkeypatch.setattr(attention_node, "_forward_split", spy)
    q, k, v, g = _qkv((4, 2, 33, 8), (4, 2, 33, 8), np.float64, seed=4)
    q[1] *= 40                                       # one part overflows: shifted alone
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(2)
    try:
        mine = _attention_run(minigrad, q, k, v, g, causal=True)
    finally:
        minigrad.set_num_threads(before)
    assert calls and all(calls)
    _close(mine, _attention_run(torch, q, k, v, g, causal=True), np.float64)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_second_derivatives_match_torch(causal):
    q, k, v, g = _qkv((2, 2, 9, 4), (2, 2, 11, 4), np.float64, seed=2)
    _close(_attention_run(minigrad, q, k, v, g, causal=causal, create_graph=True),
           _attention_run(torch, q, k, v, g, causal=causal, create_graph=True), np.float64)


# ----------------------------------------------------------------------------------------------
# embedding_bag, sum and mean
# ----------------------------------------------------------------------------------------------
def _bag_run(lib, weight, idx, offsets, g, **kw):
    w = lib.tensor(weight, requires_grad=True)
    out = lib.nn.functional.embedding_bag(
        lib.tensor(idx), w, None if offsets is None else lib.tensor(offsets), **kw)
    gw, = lib.autograd.grad(out, w, lib.tensor(g))
    return [out, gw]


BAGS = {
    "plain": (np.array([0, 4, 4, 9, 1, 3, 3, 3, 7, 2]), np.array([0, 3, 5, 9]), {}),
    "empty bags": (np.array([5, 1, 2, 5, 8]), np.array([0, 0, 2, 2, 5]), {}),
    "padding_idx": (np.array([2, 2, 0, 7, 2, 9]), np.array([0, 2, 4]), {"padding_idx": 2}),
    "include_last_offset": (np.array([1, 6, 6, 0, 3, 8, 8]), np.array([0, 2, 5, 7]),
                            {"include_last_offset": True}),
    "2-d input": (np.array([[1, 2, 3], [3, 3, 9], [0, 0, 0]]), None, {}),
    "int32": (np.array([0, 4, 4, 9, 1], np.int32), np.array([0, 2], np.int32), {}),
    "many": (np.random.default_rng(0).integers(0, 10, 700), np.arange(0, 700, 7), {}),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("case", list(BAGS))
def test_embedding_bag_sums_match_torch(case, mode, dtype):
    idx, offsets, kw = BAGS[case]
    rng = np.random.default_rng(7)
    weight = rng.standard_normal((10, 6)).astype(dtype)
    weight[4, 1] = -0.0
    bags = idx.shape[0] if offsets is None else len(offsets) - kw.get("include_last_offset", 0)
    g = rng.standard_normal((bags, 6)).astype(dtype)
    mine = _bag_run(minigrad, weight, idx, offsets, g, mode=mode, **kw)
    _close(mine, _bag_run(torch, weight, idx, offsets, g, mode=mode, **kw), dtype)
    assert mine[0].grad_fn.name() == "EmbeddingBagBackward0"
    assert isinstance(mine[0].grad_fn, EmbeddingBagSums)           # the one-node path


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_second_derivative_by_finite_differences(mode):
    # torch's embedding_bag backward has no derivative: the weight gradient is linear in the
    # incoming gradient g, so its derivative in g is checked by central differences
    idx, offsets = np.array([0, 4, 4, 9, 1, 3, 3]), np.array([0, 3, 3, 5])
    rng = np.random.default_rng(9)
    weight = rng.standard_normal((10, 3))
    g0 = rng.standard_normal((4, 3))
    probe = rng.standard_normal((10, 3))

    def value(g_array, create_graph=False):
        w = minigrad.tensor(weight, requires_grad=True)
        g = minigrad.tensor(g_array, requires_grad=create_graph)
        out = minigrad.nn.functional.embedding_bag(minigrad.tensor(idx), w,
                                                   minigrad.tensor(offsets), mode=mode)
        gw, = minigrad.autograd.grad(out, w, g, create_graph=create_graph)
        total = (gw * minigrad.tensor(probe)).sum()
        return total, g
    total, g = value(g0, True)
    dg, = minigrad.autograd.grad(total, g)
    numeric = np.zeros_like(g0)
    for i in np.ndindex(g0.shape):
        up, down = g0.copy(), g0.copy()
        up[i] += 1e-6
        down[i] -= 1e-6
        numeric[i] = (value(up)[0].item() - value(down)[0].item()) / 2e-6
    np.testing.assert_allclose(dg.numpy(), numeric, rtol=1e-7, atol=1e-8)
