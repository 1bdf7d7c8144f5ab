"""The transformer round's fast paths beside PyTorch: float32 exact GELU as 1 + tanh of a fitted
odd polynomial (``activation_nodes.two_phi``) and scaled dot-product attention as one node
(``ops/attention_node.py``: forward, every gradient and second derivatives in float64,
masks bool and float, causal with L != S, fully masked rows, scale=, non-contiguous inputs)."""
import math

import numpy as np
import pytest

import minigrad
from minigrad.ops import attention_node
from minigrad.ops.activation_nodes import two_phi

torch = pytest.importorskip("torch")
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402


# ---------------------------------------------------------------------------------------------
# erf_rational and float32 GELU
# ---------------------------------------------------------------------------------------------
def test_two_phi_is_close_to_the_exact_value():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-12, 12, 100001), rng.standard_normal(20000) * 1e-3,
                        [1e-30, -1e-30, 5.9999, 6.0, 6.0001, 50.0, -50.0]]).astype(np.float32)
    out = np.empty_like(x)
    two_phi(x, out, {})
    exact = np.array([1 + math.erf(v / math.sqrt(2)) for v in x.astype(np.float64)])
    assert np.max(np.abs(out - exact)) < 4e-7
    gelu = x.astype(np.float64) * out / 2                 # GELU's value, from it
    assert np.max(np.abs(gelu - x * exact / 2)) < 6e-7
    assert np.all((out >= 0) & (out <= 2))


def test_two_phi_special_values():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, -6.0, 6.0], np.float32)
    out = np.empty_like(x)
    two_phi(x, out, {})
    np.testing.assert_array_equal(out[[0, 1, 2, 3, 5, 6, 7, 8]], [1, 1, 2, 0, 1, 1, 0, 2])
    assert np.isnan(out[4])


@pytest.mark.parametrize("shape", [(), (0, 3), (7,), (3, 70001), (16, 64, 40)])
def test_float32_gelu_and_its_gradient_match_torch(shape):
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    res = []
    for lib in (minigrad, torch):
        t = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.gelu(t)
        gx, = lib.autograd.grad(y, t, lib.tensor(g))
        res.append((y.detach().numpy(), gx.numpy()))
    for a, b in zip(*res):
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-6)


def test_float32_gelu_of_a_transposed_input_and_edges():
    x = np.random.default_rng(3).standard_normal((64, 96)).astype(np.float32) * 4
    x[0, :6] = [-np.inf, np.nan, -0.0, 0.0, -30.0, 30.0]
    res = []
    for lib in (minigrad, torch):
        t = lib.tensor(x).t().requires_grad_(True)
        y = lib.nn.functional.gelu(t)
        y.backward(lib.ones_like(y))
        res.append((y.detach().numpy(), t.grad.numpy(), y.stride()))
    (ya, ga, sa), (yb, gb, sb) = res
    assert sa == sb
    np.testing.assert_allclose(ya, yb, rtol=2e-6, atol=2e-6)      # NaN where torch has NaN
    np.testing.assert_allclose(ga, gb, rtol=2e-6, atol=2e-6)
    assert np.signbit(ya[2, 0]) == np.signbit(yb[2, 0])


def test_float64_gelu_second_derivative_matches_torch():
    x = np.random.default_rng(4).standard_normal((5, 6)) * 2
    res = []
    for lib in (minigrad, torch):
        t = lib.tensor(x, requires_grad=True)
        g, = lib.autograd.grad(lib.nn.functional.gelu(t).sum(), t, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), t)
        res.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# scaled dot-product attention in one node
# ---------------------------------------------------------------------------------------------
def _mask(kind, rng, n, h, L, S):
    if kind is None:
        return None
    if kind == "bool4d":
        return rng.random((n, 1, L, S)) > 0.3
    if kind == "bool2d":
        return rng.random((L, S)) > 0.3
    if kind == "float":
        return rng.standard_normal((n, h, L, S))
    if kind == "float2d":
        return rng.standard_normal((L, S))
    dead = np.ones((L, S), bool)           # a row with every key masked
    dead[L // 2] = False
    return dead


def _torch_side(arrays, mask, causal, scale, g, second):
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    m = None if mask is None else torch.tensor(mask)
    if causal and m is not None:          # torch's math kernel takes them one at a time
        keep = torch.ones(ts[0].shape[-2], ts[1].shape[-2], dtype=torch.bool).tril()
        m = (m & keep) if m.dtype == torch.bool else m.masked_fill(~keep, -math.inf)
        causal = False
    with sdpa_kernel(SDPBackend.MATH):
        out = torch.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m,
                                                               is_causal=causal, scale=scale)
        return _grads(torch, ts, out, g, second)


def _grads(lib, ts, out, g, second):
    gs = lib.autograd.grad(out, ts, lib.tensor(g), create_graph=second)
    res = [out.detach().numpy()] + [x.detach().numpy() for x in gs]
    if second:
        res += [x.numpy() for x in lib.autograd.grad(sum((x * x).sum() for x in gs), ts)]
    return res


def _mine(arrays, mask, causal, scale, g, second):
    ts = [minigrad.tensor(a, requires_grad=True) for a in arrays]
    m = None if mask is None else minigrad.tensor(mask)
    assert attention_node.fits(*ts, m)
    s = 1 / math.sqrt(arrays[0].shape[-1]) if scale is None else scale
    out = attention_node.attention(*ts, m, causal, s)
    return _grads(minigrad, ts, out, g, second)


def _same(mine, theirs, tol):
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("dims", [(2, 3, 5, 5, 4, 6), (2, 3, 4, 7, 4, 3), (1, 2, 7, 4, 3, 3),
                                  (1, 1, 1, 1, 1, 1)])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("mask", [None, "bool4d", "bool2d", "float", "float2d", "dead"])
def test_attention_node_matches_torch_to_second_order(dims, causal, mask):
    n, h, L, S, E, Ev = dims
    rng = np.random.default_rng(sum(dims))
    arrays = [rng.standard_normal((n, h, L, E)), rng.standard_normal((n, h, S, E)),
              rng.standard_normal((n, h, S, Ev))]
    m = _mask(mask, rng, n, h, L, S)
    g = rng.standard_normal((n, h, L, Ev))
    for scale in (None, 0.3):
        _same(_mine(arrays, m, causal, scale, g, True),
              _torch_side(arrays, m, causal, scale, g, True), 1e-10)


def test_attention_node_fully_masked_rows_are_zero_with_zero_gradients():
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal((1, 2, 4, 3)) for _ in range(3)]
    mask = np.ones((4, 4), bool)
    mask[2] = False
    out = _mine(arrays, mask, False, None, np.ones((1, 2, 4, 3)), False)
    assert np.all(out[0][:, :, 2] == 0) and np.all(out[1][:, :, 2] == 0)


def test_attention_node_on_non_contiguous_heads_float32():
    """q, k, v split from one projection and moved to (N, H, L, D), as a GPT block does; the
    large scores take the softmax without the max shift (causal: masked by zeros)."""
    rng = np.random.default_rng(8)
    n, L, H, D = 4, 64, 4, 16
    qkv = rng.standard_normal((n, L, 3 * H * D)).astype(np.float32)
    g = rng.standard_normal((n, H, L, D)).astype(np.float32)
    for causal in (True, False):
        res = []
        for lib in (minigrad, torch):
            base = lib.tensor(qkv, requires_grad=True)
            q, k, v = (z.view(n, L, H, D).transpose(1, 2) for z in base.split(H * D, dim=2))
            if lib is minigrad:
                assert not q.is_contiguous() and attention_node.fits(q, k, v, None)
                out = attention_node.attention(q, k, v, None, causal, 1 / math.sqrt(D))
            else:
                out = torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                       is_causal=causal)
            out.backward(lib.tensor(g))
            res.append((out.detach().numpy(), base.grad.numpy()))
        for a, b in zip(*res):
            assert a.dtype == np.float32
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_attention_node_takes_only_what_it_handles():
    q = minigrad.zeros(1, 2, 3, 4)
    assert attention_node.fits(q, q, q, None)
    assert not attention_node.fits(q, q, q.double(), None)                    # dtypes differ
    assert not attention_node.fits(q[0], q[0], q[0], None)                    # 3-d
    assert not attention_node.fits(q, minigrad.zeros(1, 1, 3, 4), q, None)    # grouped heads
    assert not attention_node.fits(minigrad.zeros(1, 2, 0, 4), q, q, None)    # empty
    assert not attention_node.fits(q.half(), q.half(), q.half(), None)
    grad_mask = minigrad.zeros(3, 3, requires_grad=True)
    assert not attention_node.fits(q, q, q, grad_mask)
    assert not attention_node.fits(q, q, q, minigrad.zeros(3, 3, dtype=minigrad.float64))
    assert attention_node.fits(q, q, q, minigrad.ones(3, 3, dtype=minigrad.bool))
