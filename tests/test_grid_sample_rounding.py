"""grid_sample's source index rounded as PyTorch's CPU kernels round it.

With align_corners=False the index of a normalised coordinate x over n pixels is
(x + 1) n / 2 - 1/2.  PyTorch's 2-d kernel computes it as one fused multiply-add (one
rounding), its 3-d kernel as ((x + 1) n - 1) / 2 (three).  The results differ by an ulp, which
matters at pixel centres, where an identity affine_grid puts every sample: bilinear
interpolation has a kink there, and which side's slope the grid's gradient takes follows the
rounding.  Compared with torch: the gradient of theta through affine_grid and grid_sample
(an image of squares, so that every pixel pair has its own slope) and the index itself on
many coordinates.
"""
import numpy as np
import pytest

import minigrad
from minigrad.nn._functional_grid import _fused_index

torch = pytest.importorskip("torch")


def _theta_grad(lib, dtype, size, theta, mode, padding_mode):
    t = lib.tensor(theta, dtype=dtype, requires_grad=True)
    grid = lib.nn.functional.affine_grid(t, size, align_corners=False)
    img = lib.tensor(np.arange(np.prod(size), dtype=np.float64).reshape(size) ** 2,
                     dtype=dtype)
    out = lib.nn.functional.grid_sample(img, grid, mode=mode, padding_mode=padding_mode,
                                        align_corners=False)
    out.sum().backward()
    return out.detach().numpy(), t.grad.numpy()


def _close(m, t, dtype):
    """Outputs and theta's gradient alike; in float32 within rounding of the sums' largest
    terms (the gradient sums products of the order of the image's largest value)."""
    rel = 1e-5 if dtype == "float32" else 1e-12
    for a, b in zip(m, t):
        np.testing.assert_allclose(a, b, rtol=rel, atol=rel * float(np.abs(b).max() + 1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [(1, 1, 1, 28), (2, 1, 7, 9), (1, 2, 28, 28), (1, 1, 5, 100)])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_identity_grid_gradient_2d(dtype, size, padding_mode, mode):
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (size[0], 1, 1))
    m = _theta_grad(minigrad, getattr(minigrad, dtype), size, theta, mode, padding_mode)
    t = _theta_grad(torch, getattr(torch, dtype), size, theta, mode, padding_mode)
    _close(m, t, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_identity_grid_gradient_3d(dtype):
    size = (1, 1, 3, 5, 28)
    theta = np.array([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]])
    m = _theta_grad(minigrad, getattr(minigrad, dtype), size, theta, "bilinear", "zeros")
    t = _theta_grad(torch, getattr(torch, dtype), size, theta, "bilinear", "zeros")
    _close(m, t, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 3, 28, 1001])
def test_index_is_the_fused_multiply_add(dtype, n):
    """The index against exact rational arithmetic rounded once (what a fused multiply-add
    gives), over random coordinates, the pixel centres, and inf and NaN."""
    from fractions import Fraction
    rng = np.random.default_rng(n)
    coords = np.concatenate([rng.uniform(-1.5, 1.5, 2000), (2 * np.arange(n) + 1) / n - 1,
                             [-1.0, 0.0, 1.0]]).astype(dtype)
    got = _fused_index(coords, n)
    ones = coords + dtype(1)
    want = np.array([float(Fraction(float(a)) * Fraction(n, 2) - Fraction(1, 2))
                     for a in ones]).astype(dtype)
    np.testing.assert_array_equal(got, want)
    with np.errstate(invalid="ignore"):
        special = _fused_index(np.array([np.inf, -np.inf, np.nan], dtype), n)
    np.testing.assert_array_equal(special, np.array([np.inf, -np.inf, np.nan], dtype))
