"""``y[idx] += v`` on a tensor in a graph: Python runs ``t = y[idx]; t += v; y[idx] = t``, so
the value written back is a view of the very region it is written to. PyTorch allows that
(the same elements, laid out alike) and records CopySlices; only a value lying *partly* in
the written region is refused. Each program runs on torch and minigrad, values and
gradients compared."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _slices(lib):
    x = lib.tensor(np.arange(6.), requires_grad=True)
    y = x * 2
    y[1:3] += 1
    y[2:5] *= y[0:3].detach() + 1
    y[::2] -= 1
    y[-1] /= 3
    y.pow(2).sum().backward()
    return y, x.grad


def _rows_and_columns(lib):
    w = lib.tensor(np.arange(12.).reshape(3, 4), requires_grad=True)
    z = w.clone()
    z[:, 1] += w[:, 2]
    z[1] *= 2
    z[..., :2] **= 2
    z[0, 0] -= z[1, 1]
    (z * z).sum().backward()
    return z, w.grad


def _advanced_indices(lib):
    w = lib.tensor(np.linspace(-1, 1, 8), requires_grad=True)
    z = w * 3
    z[[0, 2, 5]] += 1
    z[z > 1.5] *= 3
    z[lib.tensor([1, 3])] /= 2
    z.sum().backward()
    return z, w.grad


def _second_order(lib):
    x = lib.tensor(np.array([0.5, -1.0, 2.0, 1.5]), requires_grad=True)
    y = x * x
    y[1:3] *= x[0:2]
    (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (h,) = lib.autograd.grad((g * g).sum(), x)
    return y, g, h


def _without_graph(lib):
    r = lib.arange(5.)
    r[1:3] += 1
    r[2:] *= 2
    r[:, None][1:4] -= 1
    return (r,)


@pytest.mark.parametrize("program", [_slices, _rows_and_columns, _advanced_indices,
                                     _second_order, _without_graph])
def test_augmented_assignment_into_a_part(program):
    for mine, theirs in zip(program(minigrad), program(torch)):
        np.testing.assert_allclose(mine.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_a_value_lying_partly_in_the_written_region_is_still_refused():
    for lib in (torch, minigrad):
        q = lib.zeros(4, requires_grad=True).clone()
        with pytest.raises(RuntimeError, match="single memory location"):
            q[1:] = q[:-1]


def test_the_write_back_is_recorded_as_copyslices():
    names = []
    for lib in (minigrad, torch):
        y = lib.ones(3, requires_grad=True) * 1
        y[1:] += 1
        names.append(y.grad_fn.name())
    assert names == ["torch::autograd::CopySlices"] * 2
