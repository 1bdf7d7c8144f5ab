"""Regressions from round 7's side-by-side probes of everyday tensor semantics against torch."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("y, x", [(0.0, 0.0), (1e-200, 0.0), (0.0, 1e-200), (1e-170, -1e-170),
                                  (float("inf"), 1.0), (3.0, -4.0)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_atan2_gradient_at_and_near_the_origin(y, x, dtype):
    """atan2 has no derivative at the origin; torch gives 0 there (1/r^2 taken as 0 where
    r^2 is 0, also where it underflows), and nan where y is infinite."""
    grads = []
    for lib in (minigrad, torch):
        ty = lib.tensor([y], dtype=getattr(lib, dtype), requires_grad=True)
        tx = lib.tensor([x], dtype=getattr(lib, dtype), requires_grad=True)
        lib.atan2(ty, tx).sum().backward()
        grads.append(np.concatenate([ty.grad.detach().numpy(), tx.grad.detach().numpy()]))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)
    np.testing.assert_array_equal(np.signbit(grads[0]), np.signbit(grads[1]))
