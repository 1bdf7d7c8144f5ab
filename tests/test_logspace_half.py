"""logspace in float16/bfloat16 as PyTorch: the float32 powers rounded once (no rounding of
the exponents to the half dtype first)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("args", [(-2, 3, 50), (0, 1, 7), (-5, 5, 33, 2.0), (1, 4, 10, 3.0),
                                  (3, -3, 1), (0, 40, 5), (-40, 0, 5), (0.5, 2.5, 9, 0.5)])
def test_half_logspace_bit_for_bit(args, dtype):
    theirs = torch.logspace(*args, dtype=getattr(torch, dtype))
    mine = minigrad.logspace(*args, dtype=getattr(minigrad, dtype))
    assert str(mine.dtype).split(".")[-1] == dtype
    np.testing.assert_array_equal(mine.float().numpy(), theirs.float().numpy())


def test_half_logspace_tensor_bounds_and_requires_grad():
    theirs = torch.logspace(torch.tensor(-1.5), torch.tensor(2.0), 6, dtype=torch.float16,
                            requires_grad=True)
    mine = minigrad.logspace(minigrad.tensor(-1.5), minigrad.tensor(2.0), 6,
                             dtype=minigrad.float16, requires_grad=True)
    assert mine.requires_grad and mine.is_leaf
    np.testing.assert_array_equal(mine.detach().numpy(), theirs.detach().numpy())
