"""arange and linspace give PyTorch's values bit for bit: the same fused multiply-adds, and
for arange the same split into SIMD vectors, lone tail elements and per-thread chunks."""
import numpy as np
import pytest
import torch

import minigrad

RANGES = [(-3.3, 7.1, 0.37), (0.5, 30, 0.7), (0.1, 100, 0.3), (0, 1, 0.1), (10, -3, -0.3),
          (2.5, 1000.3, 0.77), (0, 1, 1 / 3), (0, 1e-3, 1e-7), (-5, 5, 1.0), (3, 3, 1.0),
          (0, 5000, 0.13),                # 38,462 values: two chunks
          (-1e3, 1e3, 1e-2),              # 200,000 values
          (1.0, 3e7, 3.0)]                # whole numbers past float32's exact range


@pytest.fixture
def two_threads_each():
    """The same intra-op thread count in both libraries (a long range is split by it)."""
    before = torch.get_num_threads(), minigrad.get_num_threads()
    torch.set_num_threads(2)
    minigrad.set_num_threads(2)
    yield
    torch.set_num_threads(before[0])
    minigrad.set_num_threads(before[1])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("start, end, step", RANGES)
def test_arange_bit_for_bit(start, end, step, dtype, two_threads_each):
    theirs = torch.arange(start, end, step, dtype=getattr(torch, dtype)).numpy()
    ours = minigrad.arange(start, end, step, dtype=getattr(minigrad, dtype)).numpy()
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "complex64",
                                   "complex128"])
@pytest.mark.parametrize("start, end, steps", [(-1, 1, 20), (0, 1, 100), (-3.7, 2.2, 57),
                                               (0, 10, 1000), (5, -3, 7), (0, 1, 1)])
def test_linspace_bit_for_bit(start, end, steps, dtype):
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, dtype)).numpy()
    ours = minigrad.linspace(start, end, steps, dtype=getattr(minigrad, dtype)).numpy()
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linspace_of_a_million_steps_bit_for_bit(dtype):
    theirs = torch.linspace(-1e3, 7e5, 1000003, dtype=getattr(torch, dtype)).numpy()
    ours = minigrad.linspace(-1e3, 7e5, 1000003, dtype=getattr(minigrad, dtype)).numpy()
    np.testing.assert_array_equal(ours, theirs)
