"""Memory formats, ``zero_`` / ``resize_as_`` and attention dropout, as PyTorch's OpInfo
samples (op_db) exercise them, compared with torch: values, shapes, dtypes, strides, whether
the result is the input itself, gradients and errors."""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention with dropout_p > 0
# ----------------------------------------------------------------------------------------------
def _qkv(requires_grad=True, shape_q=(2, 3, 4), shape_kv=(2, 5, 4)):
    minigrad.manual_seed(7)
    return [minigrad.randn(*s, dtype=minigrad.float64, requires_grad=requires_grad)
            for s in (shape_q, shape_kv, shape_kv)]


@pytest.mark.parametrize("is_causal", [False, True])
def test_sdpa_dropout_equals_dropout_on_the_weights(is_causal):
    # the same seed draws the same mask as F.dropout on the weights: output and gradients of
    # the explicit composition must agree exactly
    q, k, v = _qkv()
    minigrad.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4, is_causal=is_causal)
    g = minigrad.randn(*out.shape, dtype=minigrad.float64)
    grads = minigrad.autograd.grad(out, (q, k, v), g, create_graph=True)

    scores = q @ k.transpose(-2, -1) / 2.0
    if is_causal:
        scores = scores.masked_fill(~minigrad.ones(3, 5, dtype=minigrad.bool).tril(), -np.inf)
    minigrad.manual_seed(3)
    ref = F.dropout(minigrad.softmax(scores, -1), 0.4) @ v
    ref_grads = minigrad.autograd.grad(ref, (q, k, v), g, create_graph=True)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    # second order: differentiate a first-order gradient again, both ways
    gg = minigrad.autograd.grad(grads[0].sum(), (k, v))
    ref_gg = minigrad.autograd.grad(ref_grads[0].sum(), (k, v))
    for a, b in zip(gg, ref_gg):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_sdpa_dropout_shape_dtype_and_statistics():
    q, k, v = (minigrad.ones(2000, 1, 4), minigrad.ones(2000, 8, 4), minigrad.ones(2000, 8, 1))
    tq, tk, tv = (torch.ones(2000, 1, 4), torch.ones(2000, 8, 4), torch.ones(2000, 8, 1))
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25)
    want = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, dropout_p=0.25)
    assert tuple(out.shape) == tuple(want.shape)
    assert out.dtype.name == str(want.dtype).split(".")[-1]
    # each output is (kept weights of 1/8) / 0.75: mean 1, variance p / ((1 - p) * 8)
    a = out.numpy().ravel()
    assert abs(a.mean() - 1.0) < 0.03
    assert abs(a.std() - np.sqrt(0.25 / 0.75 / 8)) < 0.02
    assert set(np.round(a * 6, 6)) <= {float(i) for i in range(9)}      # multiples of 1/6


def test_sdpa_dropout_p_zero_negative_one_and_too_large():
    q, k, v = _qkv(requires_grad=False)
    plain = F.scaled_dot_product_attention(q, k, v)
    for p in (0.0, -0.1):                       # torch drops nothing for p <= 0
        np.testing.assert_array_equal(
            F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy(), plain.numpy())
    assert not F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy().any()
    tq, tk, tv = (torch.from_numpy(t.numpy()) for t in (q, k, v))
    with pytest.raises(RuntimeError, match="between 0 and 1, but got 1.5"):
        torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="between 0 and 1, but got 1.5"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
