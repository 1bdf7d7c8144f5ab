"""Round 41: pointwise and broadcast paths against PyTorch -- binary ops beside a broadcast
or strided operand walked with numpy's buffer cut to the run (values, strides, gradients),
16-bit rsqrt of strided inputs (PyTorch's one-at-a-time elements), maximum's gradient
layout for transposed inputs, einsum's result strides, a broadcast product's layout."""
import random

import numpy as np
import pytest
import torch

import minigrad as mg


def _pair(arr, requires_grad=False):
    return (torch.tensor(arr, requires_grad=requires_grad),
            mg.tensor(arr, requires_grad=requires_grad))


def _same(t, m):
    tn, mn = t.detach().numpy(), m.detach().numpy()
    assert tn.shape == mn.shape
    assert tn.dtype == mn.dtype
    np.testing.assert_array_equal(tn, mn)
    assert t.stride() == m.stride()


# ----------------------------------------------------------------------------------------------
# binary ops beside a broadcast / strided operand (numpy's buffer cut to the run)
# ----------------------------------------------------------------------------------------------
_BINARY = [
    ("x+v[:,None]", lambda L, x, v: x + v[:, None]),
    ("x.t()+v", lambda L, x, v: x.t() + v),
    ("v*x.t()", lambda L, x, v: v * x.t()),
    ("x/v", lambda L, x, v: x / v),
    ("x*v", lambda L, x, v: x * v),
    ("x-v[:,None]", lambda L, x, v: x - v[:, None]),
    ("v[:,None]/x", lambda L, x, v: v[:, None] / x),
    ("x[::2]+1", lambda L, x, v: x[::2] + 1),
    ("x[::2]*v", lambda L, x, v: x[::2] * v),
    ("x.t()[::2]-v", lambda L, x, v: x.t()[::2] - v),
    ("expand*x", lambda L, x, v: v.expand(x.shape[0], x.shape[1]) * x),
]


@pytest.mark.parametrize("name,fn", _BINARY, ids=[c[0] for c in _BINARY])
@pytest.mark.parametrize("n,dtype", [(1024, np.float32), (1000, np.float32),
                                     (600, np.float64), (96, np.float32)])
def test_broadcast_binary_values_and_strides(name, fn, n, dtype):
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, n)).astype(dtype)
    v = rng.uniform(0.5, 2.0, n).astype(dtype)
    (tx, mx), (tv, mv) = _pair(x), _pair(v)
    _same(fn(torch, tx, tv), fn(mg, mx, mv))


def test_per_channel_scale_4d():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 32, 32, 32)).astype(np.float32)
    w = rng.standard_normal((32, 1, 1)).astype(np.float32)
    (tx, mx), (tw, mw) = _pair(x), _pair(w)
    _same(tx * tw, mx * mw)
    _same(tx.permute(0, 2, 3, 1) + tw[:, 0, 0], mx.permute(0, 2, 3, 1) + mw[:, 0, 0])


@pytest.mark.parametrize("name,fn", _BINARY[:8], ids=[c[0] for c in _BINARY[:8]])
def test_broadcast_binary_gradients_float64(name, fn):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((640, 640))
    v = rng.uniform(0.5, 2.0, 640)
    (tx, mx), (tv, mv) = _pair(x, True), _pair(v, True)
    g = rng.standard_normal((640, 640) if "::2" not in name else (320, 640))
    t_out, m_out = fn(torch, tx, tv), fn(mg, mx, mv)
    assert t_out.grad_fn.name() == m_out.grad_fn.name()
    t_inputs = [tx, tv] if t_out.grad_fn is not None and "1" not in name[-1:] else [tx]
    m_inputs = [mx, mv] if len(t_inputs) == 2 else [mx]
    tg = torch.autograd.grad(t_out, t_inputs, torch.tensor(g), create_graph=True)
    mgr = mg.autograd.grad(m_out, m_inputs, mg.tensor(g), create_graph=True)
    for a, b in zip(tg, mgr):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
        assert a.stride() == b.stride()
    # second order: the gradient of sum(grad_x * w) with respect to v (or x)
    assert tg[0].requires_grad == mgr[0].requires_grad
    if not tg[0].requires_grad:
        return
    w = rng.standard_normal(tuple(tg[0].shape))
    t2 = torch.autograd.grad((tg[0] * torch.tensor(w)).sum(), t_inputs[-1],
                             allow_unused=True)[0]
    m2 = mg.autograd.grad((mgr[0] * mg.tensor(w)).sum(), m_inputs[-1], allow_unused=True)[0]
    if t2 is None:
        assert m2 is None or not m2.detach().numpy().any()
    else:
        np.testing.assert_allclose(t2.numpy(), m2.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_buffer_size_left_as_it_was():
    x = mg.randn(1024, 1024)
    v = mg.randn(1024)
    before = np.getbufsize()
    _ = x + v[:, None]
    _ = x.t() * v
    assert np.getbufsize() == before


def test_small_and_edge_operands():
    for shape_x, shape_v in [((0, 5), (5,)), ((3, 1), (1, 4)), ((), ()), ((5,), ())]:
        x = np.arange(int(np.prod(shape_x)), dtype=np.float32).reshape(shape_x)
        v = np.full(shape_v, 1.5, np.float32)
        (tx, mx), (tv, mv) = _pair(x), _pair(v)
        _same(tx + tv, mx + mv)
        _same(tx / tv, mx / mv)
    xi = np.arange(2048 * 512, dtype=np.int32).reshape(2048, 512)
    (tx, mx) = _pair(xi)
    _same(tx[::2] + 3, mx[::2] + 3)
    _same(tx[::2] * tx[0], mx[::2] * mx[0])


# ----------------------------------------------------------------------------------------------
# a row-major operand broadcast beside one laid out otherwise: PyTorch's layout
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_broadcast_product_layout(dtype):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((2,)).astype(dtype)
    b = rng.standard_normal((2, 3, 4, 2)).astype(dtype)
    (ta, ma), (tb, mb) = _pair(a), _pair(b)
    for fn in (lambda x, y: x.reshape(1, 1, 1, 2, 1) * y.permute(2, 0, 3, 1).unsqueeze(3),
               lambda x, y: x.reshape(2, 1, 1) + y.permute(3, 2, 1, 0)[:, :, :, 0],
               lambda x, y: x.reshape(1, 2, 1) - y.permute(1, 0, 2, 3)[:, :, :, 1]):
        _same(fn(ta, tb), fn(ma, mb))


# ----------------------------------------------------------------------------------------------
# 16-bit rsqrt of strided inputs
# ----------------------------------------------------------------------------------------------
_VIEWS = [
    ("[:, ::2]", lambda x: x[:, ::2]), ("[::2]", lambda x: x[::2]), ("t", lambda x: x.t()),
    ("t[:, ::2]", lambda x: x.t()[:, ::2]), ("[1:, :37]", lambda x: x[1:, :37]),
    ("[:, :64].t()", lambda x: x[:, :64].t()),
    ("perm", lambda x: x.reshape(4, 10, 10, 300).permute(0, 2, 3, 1)),
    ("perm slice", lambda x: x.reshape(4, 10, 10, 300).permute(0, 2, 3, 1)[..., 1:]),
    ("expand", lambda x: x[0:1, :70].expand(40, 70)), ("0-d", lambda x: x[3, 4]),
    ("empty", lambda x: x[:0, ::2]), ("contiguous", lambda x: x),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("half", ["float16", "bfloat16"])
@pytest.mark.parametrize("name,view", _VIEWS, ids=[v[0] for v in _VIEWS])
def test_half_rsqrt_of_views(name, view, half, threads):
    rng = np.random.default_rng(11)
    a = rng.uniform(0.01, 100, (400, 300)).astype(np.float32)
    old_t, old_m = torch.get_num_threads(), mg.get_num_threads()
    torch.set_num_threads(threads)
    mg.set_num_threads(threads)
    try:
        t = view(torch.tensor(a).to(getattr(torch, half))).rsqrt()
        m = view(mg.tensor(a).to(getattr(mg, half))).rsqrt()
    finally:
        torch.set_num_threads(old_t)
        mg.set_num_threads(old_m)
    np.testing.assert_array_equal(t.float().numpy(), m.float().numpy())
    assert t.stride() == m.stride()


@pytest.mark.parametrize("name,view", _VIEWS[:6] + _VIEWS[-1:], ids=[v[0] for v in
                                                                    _VIEWS[:6] + _VIEWS[-1:]])
def test_float16_rsqrt_grad(name, view):
    # PyTorch's (-0.5 g) r^3 in float16, each op rounding
    a = np.random.default_rng(2).uniform(0.5, 4, (400, 300)).astype(np.float16)
    ta = torch.tensor(a, requires_grad=True)
    ma = mg.tensor(a, requires_grad=True)
    t, m = view(ta).rsqrt(), view(ma).rsqrt()
    assert t.grad_fn.name() == m.grad_fn.name()
    _same(t, m)
    g = np.random.default_rng(3).standard_normal(tuple(t.shape)).astype(np.float16)
    (gt,), (gm,) = (torch.autograd.grad(t, [ta], torch.tensor(g)),
                    mg.autograd.grad(m, [ma], mg.tensor(g)))
    _same(gt, gm)


def test_float16_rsqrt_result_written_in_place_refuses_backward():
    for L in (torch, mg):
        x = L.tensor([1.0, 4.0, 9.0], dtype=L.float16, requires_grad=True)
        y = x.rsqrt()
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()
    x = mg.tensor([1.0, 4.0, 9.0], dtype=mg.float16, requires_grad=True)
    (g,) = mg.autograd.grad(x.rsqrt().sum(), [x], create_graph=True)
    xt = torch.tensor([1.0, 4.0, 9.0], dtype=torch.float16, requires_grad=True)
    (gt,) = torch.autograd.grad(xt.rsqrt().sum(), [xt], create_graph=True)
    _same(gt, g)
    (g2,) = mg.autograd.grad(g.sum(), [x])
    (gt2,) = torch.autograd.grad(gt.sum(), [xt])
    np.testing.assert_allclose(gt2.float().numpy(), g2.float().numpy(), rtol=2e-3)


# ----------------------------------------------------------------------------------------------
# maximum / minimum: the gradient's layout for transposed inputs
# ----------------------------------------------------------------------------------------------
_EXTREMA = [
    ("max(a.t(), b)", lambda L, a, b: L.maximum(a.t(), b), [(3, 5), (5, 3)]),
    ("max(b, a.t())", lambda L, a, b: L.maximum(b, a.t()), [(3, 5), (5, 3)]),
    ("min(a.t(), b)", lambda L, a, b: L.minimum(a.t(), b), [(3, 5), (5, 3)]),
    ("max(a.t(), b.t())", lambda L, a, b: L.maximum(a.t(), b.t()), [(3, 5), (3, 5)]),
    ("max(a.t(), v)", lambda L, a, b: L.maximum(a.t(), b), [(3, 5), (3,)]),
    ("max(v, a.t())", lambda L, a, b: L.maximum(b, a.t()), [(3, 5), (3,)]),
    ("max(perm, b)", lambda L, a, b: L.maximum(a.permute(2, 0, 1), b), [(3, 4, 5), (5, 3, 4)]),
    ("max(slice.t(), b)", lambda L, a, b: L.maximum(a[:, ::2].t(), b), [(3, 10), (5, 3)]),
    ("max(a.t(), row)", lambda L, a, b: L.maximum(a.t(), b), [(3, 5), (1, 3)]),
    ("min(big.t(), b)", lambda L, a, b: L.minimum(a.t(), b), [(300, 500), (500, 300)]),
]


@pytest.mark.parametrize("name,fn,shapes", _EXTREMA, ids=[c[0] for c in _EXTREMA])
def test_extremum_gradient_layout(name, fn, shapes):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(s) for s in shapes]
    arrays[-1][..., 0] = 0.25               # some ties
    if arrays[0].ndim == arrays[1].ndim == 2 and shapes[0] == shapes[1][::-1]:
        arrays[0][0, 0] = arrays[1][0, 0] = 0.25
    pairs = [_pair(a, True) for a in arrays]
    t_in, m_in = [p[0] for p in pairs], [p[1] for p in pairs]
    t_out, m_out = fn(torch, *t_in), fn(mg, *m_in)
    _same(t_out, m_out)
    g = rng.standard_normal(tuple(t_out.shape))
    tg = torch.autograd.grad(t_out, t_in, torch.tensor(g), create_graph=True)
    mgr = mg.autograd.grad(m_out, m_in, mg.tensor(g), create_graph=True)
    for a, b in zip(tg, mgr):
        _same(a, b)
    # (the gradient is g masked: no graph back to the inputs, in either)
    assert [x.requires_grad for x in tg] == [x.requires_grad for x in mgr]


def test_extremum_gradient_without_graph():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((400, 300)), rng.standard_normal((300, 400))
    (ta, ma), (tb, mb) = _pair(a, True), _pair(b, True)
    g = rng.standard_normal((300, 400))
    tg = torch.autograd.grad(torch.maximum(ta.t(), tb), [ta, tb], torch.tensor(g))
    mgr = mg.autograd.grad(mg.maximum(ma.t(), mb), [ma, mb], mg.tensor(g))
    for x, y in zip(tg, mgr):
        _same(x, y)


# ----------------------------------------------------------------------------------------------
# einsum: the result's strides
# ----------------------------------------------------------------------------------------------
def _random_equations(seed, count):
    rnd = random.Random(seed)
    letters = "abcdef"
    out = []
    while len(out) < count:
        n = rnd.choice([1, 2, 2, 2, 3])
        sizes = {c: rnd.choice([2, 3, 4, 5]) for c in letters}
        subs = ["".join(rnd.sample(letters, rnd.randint(1, 4))) for _ in range(n)]
        seen = sorted(set("".join(subs)))
        kept = rnd.sample(seen, rnd.randint(0, len(seen)))
        out.append((",".join(subs) + "->" + "".join(kept),
                    [tuple(sizes[c] for c in s) for s in subs]))
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_einsum_strides_random_equations(seed):
    rng = np.random.default_rng(seed)
    for eq, shapes in _random_equations(seed, 150):
        arrays = [rng.standard_normal(s) for s in shapes]
        t = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
        m = mg.einsum(eq, *[mg.tensor(a) for a in arrays])
        assert t.stride() == m.stride(), eq
        np.testing.assert_allclose(t.numpy(), m.numpy(), rtol=1e-10, atol=1e-12)


def test_einsum_strides_float16_chain():
    rng = np.random.default_rng(4)
    for eq, shapes in _random_equations(9, 80):
        if eq.count(",") == 0:
            continue
        arrays = [rng.standard_normal(s).astype(np.float16) for s in shapes]
        t = torch.einsum(eq, *[torch.tensor(a) for a in arrays])
        m = mg.einsum(eq, *[mg.tensor(a) for a in arrays])
        assert t.stride() == m.stride(), eq
        np.testing.assert_array_equal(t.numpy(), m.numpy())


@pytest.mark.parametrize("eq,shapes", [
    ("ad,ea->ed", [(5, 5), (4, 5)]),
    ("eca,ecf->fac", [(3, 2, 4), (3, 2, 5)]),
    ("b...i,b...i->b...", [(2, 3, 4, 5), (2, 1, 4, 5)]),
    ("...ij,...jk->...ik", [(2, 3, 4, 5), (3, 5, 2)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]),
    ("ij,ij->ji", [(3, 4), (3, 4)]),
    ("i,j->ji", [(3,), (4,)]),
    ("abc,cd,de->eba", [(2, 3, 4), (4, 5), (5, 6)]),
    ("ijk->kj", [(2, 3, 4)]),
    ("ij,jk->ik", [(0, 3), (3, 4)]),
])
def test_einsum_strides_and_gradients(eq, shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    pairs = [_pair(a, True) for a in arrays]
    t = torch.einsum(eq, *[p[0] for p in pairs])
    m = mg.einsum(eq, *[p[1] for p in pairs])
    assert t.stride() == m.stride()
    assert t.grad_fn.name() == m.grad_fn.name()
    np.testing.assert_allclose(t.detach().numpy(), m.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(t.shape))
    tg = torch.autograd.grad(t, [p[0] for p in pairs], torch.tensor(g), create_graph=True)
    mgr = mg.autograd.grad(m, [p[1] for p in pairs], mg.tensor(g), create_graph=True)
    for a, b in zip(tg, mgr):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
    assert [x.requires_grad for x in tg] == [x.requires_grad for x in mgr]
    if not all(x.requires_grad for x in tg):
        return
    t2 = torch.autograd.grad(sum((x ** 2).sum() for x in tg), [p[0] for p in pairs],
                             allow_unused=True)
    m2 = mg.autograd.grad(sum((x ** 2).sum() for x in mgr), [p[1] for p in pairs],
                          allow_unused=True)
    for a, b in zip(t2, m2):
        if a is not None and b is not None:
            np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# bfloat16 pow with the exponents PyTorch's kernel computes in bfloat16 steps
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("exponent", [3, -2, -0.5, 3.0, 2, 0.5, -1, 1.5])
@pytest.mark.parametrize("n", [100, 200, 4001, 70000])
def test_bfloat16_pow_values(n, exponent, threads):
    r = np.random.default_rng(n).uniform(0.3, 2, (n,)).astype(np.float32)
    r[:5] = [0.0, np.inf, -np.inf, np.nan, -0.0]
    old_t, old_m = torch.get_num_threads(), mg.get_num_threads()
    torch.set_num_threads(threads)
    mg.set_num_threads(threads)
    try:
        for view in (lambda x: x, lambda x: x[::2], lambda x: x[:n // 10 * 10].reshape(-1, 10).t(),
                     lambda x: x[7]):
            t = view(torch.tensor(r).bfloat16()).pow(exponent)
            m = view(mg.tensor(r).to(mg.bfloat16)).pow(exponent)
            assert m.dtype == mg.bfloat16 and t.stride() == m.stride()
            np.testing.assert_array_equal(t.float().numpy(), m.float().numpy())
    finally:
        torch.set_num_threads(old_t)
        mg.set_num_threads(old_m)


@pytest.mark.parametrize("exponent", [3, -2, -0.5])
def test_bfloat16_pow_gradients(exponent):
    r = np.random.default_rng(1).uniform(0.3, 2, (4000,)).astype(np.float32)
    x = mg.tensor(r).to(mg.bfloat16).requires_grad_()
    xt = torch.tensor(r).bfloat16().requires_grad_()
    y, yt = x.pow(exponent), xt.pow(exponent)
    assert y.grad_fn.name() == yt.grad_fn.name()
    assert y.grad_fn.exponent == yt.grad_fn._saved_exponent
    (g,) = mg.autograd.grad(y.sum(), [x], create_graph=True)
    (gt,) = torch.autograd.grad(yt.sum(), [xt], create_graph=True)
    np.testing.assert_array_equal(gt.detach().float().numpy(), g.detach().float().numpy())
    (g2,) = mg.autograd.grad(g.sum(), [x])
    (gt2,) = torch.autograd.grad(gt.sum(), [xt])
    np.testing.assert_allclose(gt2.float().numpy(), g2.float().numpy(), rtol=2e-2, atol=1e-3)
