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


LARGE = {   # each on |x| up to 600, where x^2 passes float16's 65504
    "layer_norm": lambda L, x, w: L.nn.functional.layer_norm(x, (8,), w[0], w[1]),
    "group_norm": lambda L, x, w: L.nn.functional.group_norm(x, 2),
    "instance_norm": lambda L, x, w: L.nn.functional.instance_norm(x),
    "std": lambda L, x, w: x.std(-1),
    "std_mean": lambda L, x, w: L.std_mean(x, (0, 2))[0],
    "normalize": lambda L, x, w: L.nn.functional.normalize(x, dim=-1),
    "cosine_similarity": lambda L, x, w: L.nn.functional.cosine_similarity(x, x.flip(-1), -1),
}


@pytest.mark.parametrize("name", sorted(LARGE))
def test_large_float16_values_and_gradients(name):
    x = _half(rng.uniform(-600, 600, (4, 6, 8)))
    w = _half(rng.uniform(0.5, 2, (2, 8)))
    results = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        out = LARGE[name](lib, xt, lib.tensor(w))
        out.float().sum().backward()
        results.append((out, xt.grad))
    (mine, my_grad), (theirs, their_grad) = results
    ref = LARGE[name](torch, torch.tensor(x).float(), torch.tensor(w).float()).numpy()
    _check(mine, ref, theirs.detach())
    assert my_grad.dtype == minigrad.float16
    scale = max(1e-3, float(np.abs(their_grad.float().numpy()).max()))
    np.testing.assert_allclose(my_grad.numpy().astype(np.float32), their_grad.float().numpy(),
                               rtol=1e-2, atol=1e-2 * scale)


def test_batch_norm_layer_in_half_trains_as_torch():
    x = _half(rng.uniform(-600, 600, (4, 6, 5, 5)))
    outs = []
    for lib in (minigrad, torch):
        bn = lib.nn.BatchNorm2d(6).half()
        xt = lib.tensor(x, requires_grad=True)
        y = bn(xt)
        y.float().square().sum().backward()
        outs.append((y.detach().float().numpy(), xt.grad.float().numpy(),
                     bn.running_mean.float().numpy(), bn.running_var.float().numpy(),
                     bn.weight.grad.float().numpy()))
        assert y.dtype == lib.float16 and bn.running_mean.dtype == lib.float16
    for mine, theirs in zip(*outs):
        scale = max(1.0, float(np.abs(theirs).max()))
        np.testing.assert_allclose(mine, theirs, rtol=1e-2, atol=4e-3 * scale)


CONVS = [((2, 6, 12, 12), (8, 6, 3, 3), {"padding": 1}),
         ((2, 6, 13, 13), (8, 3, 3, 3), {"stride": 2, "groups": 2}),
         ((2, 4, 30), (6, 4, 5), {"dilation": 2}),
         ((1, 2, 5, 6, 6), (3, 2, 3, 3, 3), {"padding": "same"})]


@pytest.mark.parametrize("xs, ws, kw", CONVS, ids=["2d", "2d-strided-groups", "1d-dilated", "3d"])
def test_float16_convolution_runs_through_float32(xs, ws, kw):
    """numpy has no float16 GEMM: float16 convolutions run in float32 (rounded once), with the
    values and gradients of PyTorch's float16 ones."""
    x = _half(rng.standard_normal(xs))
    w = _half(rng.standard_normal(ws) * 0.3)
    b = _half(rng.standard_normal(ws[0]))
    name = f"conv{len(xs) - 2}d"
    results = []
    for lib in (minigrad, torch):
        leaves = [lib.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = getattr(lib.nn.functional, name)(*leaves, **kw)
        y.float().square().sum().backward()
        results.append([y.detach()] + [t.grad for t in leaves])
    for mine, theirs in zip(*results):
        assert mine.dtype == minigrad.float16
        theirs = theirs.float().numpy()
        scale = max(1.0, float(np.abs(theirs).max()))
        np.testing.assert_allclose(mine.numpy().astype(np.float32), theirs, rtol=1e-2,
                                   atol=2e-3 * scale)


def test_float16_matmul_and_linear_match_torch():
    a, b = _half(rng.standard_normal((3, 40, 64))), _half(rng.standard_normal((64, 24)))
    w, bias = _half(rng.standard_normal((24, 64))), _half(rng.standard_normal(24))
    mine = minigrad.tensor(a) @ minigrad.tensor(b)
    theirs = torch.tensor(a) @ torch.tensor(b)
    _check(mine, theirs.float().numpy(), theirs)
    mine = minigrad.nn.functional.linear(minigrad.tensor(a), minigrad.tensor(w),
                                         minigrad.tensor(bias))
    theirs = torch.nn.functional.linear(torch.tensor(a), torch.tensor(w), torch.tensor(bias))
    _check(mine, theirs.float().numpy(), theirs)


@pytest.mark.parametrize("convert", [
    lambda lib, x: lib.tensor(x).half(),
    lambda lib, x: lib.tensor(x).to(lib.float16),
    lambda lib, x: lib.tensor(x, dtype=lib.float16),
    lambda lib, x: lib.tensor(x.tolist(), dtype=lib.float16),
    lambda lib, x: lib.tensor(x, requires_grad=True).half(),
    lambda lib, x: lib.zeros(x.size, dtype=lib.float16).copy_(lib.tensor(x)),
    lambda lib, x: lib.tensor(x) + lib.zeros(1, dtype=lib.float16),
], ids=["half", "to", "tensor-array", "tensor-list", "with-grad", "copy_", "promotion"])
def test_double_to_half_rounds_as_torch(convert):
    # PyTorch makes a half from a float: a double is rounded to float first, then to half, and
    # a few doubles in every thousand land on a different half than one direct rounding gives
    x = np.random.default_rng(0).uniform(-10, 10, 400_000)
    mine = convert(minigrad, x).detach().float().numpy()
    theirs = convert(torch, x).detach().float().numpy()
    assert (x.astype(np.float16).astype(np.float32) != theirs).any()   # the cases are there
    np.testing.assert_array_equal(mine, theirs)
