"""topk's partition path (``sorting._top_order``: k at most a quarter of a dim of 64 or more)
against PyTorch's values and indices (ties as PyTorch's kernel leaves them: its partial sort
or nth_element, ``_tie_order.unstable_top``): ties of the k-th value inside and past the
k-th place, every dim, float/int/uint8 dtypes, infinities, signed zeros and NaN (which
takes the full sort)."""
import numpy as np
import pytest
import torch

import minigrad


def _cases():
    rng = np.random.default_rng(5)
    for case in range(60):
        nd = int(rng.integers(1, 4))
        shape = [int(s) for s in rng.integers(1, 5, nd)]
        dim = int(rng.integers(-nd, nd))
        shape[dim] = int(rng.integers(64, 200))
        kind = case % 4
        if kind == 0:       # few values: ties of the k-th everywhere
            a = rng.integers(-3, 3, shape).astype(np.float32)
        elif kind == 1:
            a = rng.integers(-5, 5, shape).astype(np.int64)
        elif kind == 2:
            a = rng.standard_normal(shape)
            a.flat[rng.integers(0, a.size, 4)] = [np.inf, -np.inf, -0.0, 0.0]
        else:
            a = rng.integers(0, 4, shape).astype(np.uint8)
        k = int(rng.integers(1, shape[dim] // 4 + 1))
        yield pytest.param(a, dim, k, bool(case % 3), id=f"{case}-{a.dtype}-{shape}-d{dim}")


@pytest.mark.parametrize("a, dim, k, largest", _cases())
def test_topk_partition(a, dim, k, largest):
    theirs = torch.topk(torch.tensor(a), k, dim=dim, largest=largest)
    values, indices = minigrad.topk(minigrad.tensor(a), k, dim=dim, largest=largest)
    np.testing.assert_array_equal(values.numpy(), theirs.values.numpy())
    assert indices.dtype == minigrad.int64 and tuple(indices.shape) == tuple(theirs.indices.shape)
    np.testing.assert_array_equal(indices.numpy(), theirs.indices.numpy())


@pytest.mark.parametrize("largest", [True, False])
def test_topk_rows_with_nan(largest):
    """A NaN counts as the largest value (PyTorch's order); the row takes the full sort."""
    a = np.random.default_rng(2).standard_normal((3, 100)).astype(np.float32)
    a[1, 17] = a[2, 50] = a[2, 60] = np.nan
    theirs = torch.topk(torch.tensor(a), 5, largest=largest)
    values, indices = minigrad.topk(minigrad.tensor(a), 5, largest=largest)
    np.testing.assert_array_equal(values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(np.take_along_axis(a, indices.numpy(), 1), values.numpy())


def test_topk_gradient_goes_to_the_kept_places():
    a = np.random.default_rng(3).integers(-2, 2, (4, 128)).astype(np.float64)
    grads = []
    for lib in (torch, minigrad):
        x = lib.tensor(a, requires_grad=True)
        v, _ = lib.topk(x, 9, dim=1)
        (v * lib.arange(9.0, dtype=lib.float64)).sum().backward()
        grads.append(x.grad.numpy())
    # the same values (which of the tied places takes it is each kernel's own)
    np.testing.assert_array_equal(np.sort(grads[0], axis=1), np.sort(grads[1], axis=1))
