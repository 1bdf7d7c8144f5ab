"""erf of float32 and narrower inputs by cubic interpolation of a table (``error_function.
_erf_cubics``): within one float32 unit of the exact value (Python's math.erf) over the whole
line, the special values as PyTorch's, and erf, gelu and their gradients beside torch in
float32, float16 and bfloat16, on arrays large enough to be cut into blocks and threads."""
import math

import numpy as np
import pytest

import minigrad
from minigrad.ops.error_function import _erf_array

torch = pytest.importorskip("torch")


def test_float32_erf_is_within_one_unit_of_the_exact_value():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-7, 7, 200001), rng.standard_normal(100000) * 2,
                        rng.standard_normal(1000) * 1e-4, [1e-30, -1e-30, 1e-38, 5.999, 6.0,
                                                            6.001, -6.001]]).astype(np.float32)
    mine = _erf_array(x).astype(np.float64)
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    unit = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert mine.dtype == np.float64 and np.max(np.abs(mine - exact) / unit) <= 1.0


def test_special_values_like_torch():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45], np.float32)
    mine = _erf_array(x)
    theirs = torch.erf(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))
    assert _erf_array(np.zeros((0, 3), np.float32)).shape == (0, 3)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_and_erf_match_torch(dtype, threads, approximate):
    x = np.random.default_rng(1).standard_normal((3, 70001)) * 3       # several blocks
    tol = {"float32": 2e-6, "float16": 1e-3, "bfloat16": 8e-3}[dtype]
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        out = []
        for lib in (minigrad, torch):
            t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
            y = lib.nn.functional.gelu(t, approximate=approximate) + lib.erf(t)
            g, = lib.autograd.grad(y.sum(), t)
            out.append((y.detach().float().numpy(), g.float().numpy()))
    finally:
        minigrad.set_num_threads(before)
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
