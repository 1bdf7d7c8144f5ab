"""sigmoid on numpy float32/float64 runs block by block over the threads, the numerator
chosen by arithmetic (``elementary_functions._sigmoid_blocks``): across block boundaries,
on one and two threads, with the extremes (signed zeros, infinities, NaN, outputs that
underflow), the same numbers as torch's sigmoid and silu, forward and gradient."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

EXTREMES = [0.0, -0.0, np.inf, -np.inf, np.nan, 100.0, -100.0, -1000.0, 88.7, -88.7, 1e-30]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_and_silu_match_torch_across_blocks(dtype, threads):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(3 * 65536 + 17) * 12, EXTREMES]).astype(dtype)
    x = x.reshape(2, -1)
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        out = []
        for lib in (minigrad, torch):
            t = lib.tensor(x, requires_grad=True)
            s, u = lib.sigmoid(t.t()), lib.nn.functional.silu(t)     # a transposed view too
            g, = lib.autograd.grad(s.sum() + u.sum(), t)
            out.append([v.detach().numpy() for v in (s, u, g)])
    finally:
        minigrad.set_num_threads(before)
    # (the gradient adds terms of both signs: absolute error on its small entries)
    rtol, atol = (1e-6, 1e-7) if dtype == "float32" else (1e-13, 1e-16)
    for mine, theirs in zip(*out):
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol)
        # signs too (silu(-0.0) is -0.0), where neither side underflowed alone (torch's
        # float32 sigmoid(-100) is 0, the true value 3.7e-44 survives here as a subnormal)
        same = ~np.isnan(theirs) & ((mine == 0) == (theirs == 0))
        np.testing.assert_array_equal(np.signbit(mine[same]), np.signbit(theirs[same]))
