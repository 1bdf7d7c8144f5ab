"""float16 inputs computed as PyTorch does: in float32 inside, rounded to float16 once.

Where a float16 intermediate would overflow (x^2 from |x| = 256, |x|^6 from 8) or drift
(long float16 sums), the result is compared with PyTorch's float16 result and with the
float32 result rounded to float16.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

rng = np.random.default_rng(11)


def _half(a):
    return np.asarray(a, dtype=np.float16)


def _check(mine, reference, theirs=None, tol=4e-3):
    got = mine.detach().numpy()
    assert got.dtype == np.float16
    scale = max(1.0, float(np.abs(reference).max()))
    np.testing.assert_allclose(got.astype(np.float32), reference, rtol=tol, atol=tol * scale)
    if theirs is not None:
        np.testing.assert_allclose(got.astype(np.float32), theirs.float().numpy(), rtol=tol,
                                   atol=tol * scale)


@pytest.mark.parametrize("ord", [2, 3, 6, float("inf"), 0.5])
def test_vector_norm_does_not_overflow(ord):
    x = _half(rng.uniform(-9, 9, (4, 5)) * 10)
    mine = minigrad.linalg.vector_norm(minigrad.tensor(x), ord, dim=1)
    ref = torch.linalg.vector_norm(torch.tensor(x).float(), ord, dim=1).half().float().numpy()
    theirs = torch.linalg.vector_norm(torch.tensor(x), ord, dim=1)
    _check(mine, ref, theirs)
    assert np.isfinite(mine.numpy()).all()


def test_dist_and_gradient_in_half():
    a, b = _half(rng.uniform(-9, 9, 6)), _half(rng.uniform(-9, 9, 6))
    ma = minigrad.tensor(a, requires_grad=True)
    ta = torch.tensor(a, requires_grad=True)
    mine, theirs = minigrad.dist(ma, minigrad.tensor(b), 4), torch.dist(ta, torch.tensor(b), 4)
    _check(mine, theirs.float().detach().numpy())
    mine.backward()
    theirs.backward()
    assert ma.grad.dtype == minigrad.float16
    np.testing.assert_allclose(ma.grad.numpy().astype(np.float32), ta.grad.float().numpy(),
                               rtol=8e-3, atol=8e-3)


def test_rms_norm_of_large_values():
    x = _half(rng.uniform(-700, 700, (2, 3, 4)))
    w = _half(rng.uniform(-9, 9, (3, 4)))
    mine = minigrad.nn.functional.rms_norm(minigrad.tensor(x), (3, 4), minigrad.tensor(w))
    theirs = torch.nn.functional.rms_norm(torch.tensor(x), (3, 4), torch.tensor(w))
    ref = torch.nn.functional.rms_norm(torch.tensor(x).float(), (3, 4),
                                       torch.tensor(w).float()).numpy()
    _check(mine, ref, theirs)


def test_logcumsumexp_in_half():
    x = _half(rng.uniform(-9, 9, (3, 400)))      # float16 steps overflowed here
    mine = minigrad.logcumsumexp(minigrad.tensor(x), 1)
    theirs = torch.logcumsumexp(torch.tensor(x), 1)
    ref = torch.logcumsumexp(torch.tensor(x).float(), 1).numpy()
    _check(mine, ref, theirs)


def test_attention_in_half_accumulates_in_float32():
    # float16 products and softmax were off by 2% of the output's scale here
    q, k, v = (_half(rng.uniform(-9, 9, (2, 3, 64, 32))) for _ in range(3))
    mask = rng.random((64, 64)) < 0.7
    mask[:, 0] = True
    args = [(q, k, v), {"attn_mask": mask}]
    mine = minigrad.nn.functional.scaled_dot_product_attention(
        *(minigrad.tensor(a) for a in args[0]), attn_mask=minigrad.tensor(mask))
    theirs = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a) for a in args[0]), attn_mask=torch.tensor(mask))
    ref = torch.nn.functional.scaled_dot_product_attention(
        *(torch.tensor(a).float() for a in args[0]), attn_mask=torch.tensor(mask)).numpy()
    _check(mine, ref, theirs)


def test_matrix_exp_in_half():
    # PyTorch 2.13's float16 matrix_exp returns NaN here; minigrad's is float32's, rounded
    a = _half(rng.standard_normal((3, 4, 4)))
    mine = minigrad.linalg.matrix_exp(minigrad.tensor(a, requires_grad=True))
    ref = torch.linalg.matrix_exp(torch.tensor(a).float()).numpy()
    _check(mine, ref)
    mine.sum().backward()
