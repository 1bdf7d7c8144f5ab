"""The 2-norm's backward on arrays (``_VectorNorm.backward``: g (x / norm) written in place in
one array) against PyTorch: zero norms (0 there, NaN when g is inf, as PyTorch's), keepdim,
several dims, a whole-tensor norm, complex, float16, transposed inputs."""
import numpy as np
import pytest
import torch

import minigrad

rng = np.random.default_rng(0)
CASES = [
    ((6, 5), 1, False), ((6, 5), 0, True), ((3, 4, 5), (0, 2), False), ((3, 4, 5), None, False),
    ((3, 4, 5), (-1, -2), True), ((), None, False), ((0, 3), 1, False), ((4, 0), 1, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128, np.float16])
@pytest.mark.parametrize("shape, dim, keepdim", CASES, ids=str)
def test_norm2_backward(shape, dim, keepdim, dtype):
    a = rng.standard_normal(shape).astype(dtype)
    if a.ndim == 2 and a.shape[0] > 1 and a.size:
        a[1] = 0                                # a zero row: a zero norm along dim 1
    if np.iscomplexobj(a):
        a = a + 1j * rng.standard_normal(shape)
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        n = lib.linalg.vector_norm(x, 2, dim=dim, keepdim=keepdim)
        g = lib.tensor(np.linspace(-1, 2, n.numel()).reshape(tuple(n.shape))).to(n.dtype)
        n.backward(g)
        grads.append(x.grad.numpy())
    tol = {np.float16: 2e-3, np.float32: 1e-6}.get(dtype, 1e-14)
    np.testing.assert_allclose(grads[1], grads[0], rtol=tol, atol=tol)
    assert grads[1].dtype == grads[0].dtype


def test_inf_gradient_at_a_zero_norm_is_nan():
    a = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        lib.linalg.vector_norm(x, dim=1).backward(lib.tensor([float("inf"), 2.0]))
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(np.isnan(grads[1]), np.isnan(grads[0]))
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-15)


def test_transposed_input():
    a = rng.standard_normal((5, 7))
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        lib.norm(x.T, dim=1).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-15)
