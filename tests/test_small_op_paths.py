"""The short paths small tensors take (``x[0]``, ``x[:, 1:3]``, ``view`` of row-major memory,
a float mean, views of views, the list of a base's live views, numpy's quiet error state)
beside torch: values, node names, view bookkeeping (base, shared versions), gradients and
errors must be those of the general paths."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

_X = np.arange(32, dtype=np.float64).reshape(4, 8) * 0.25 - 3.0


@pytest.mark.parametrize("index", [0, -1, slice(1, 3), slice(None, 2), (slice(None), slice(1, 3)),
                                   (1, 2), (slice(None), 5), (2, slice(3, None)),
                                   (slice(None), slice(None))])
def test_plain_reads_beside_torch(index):
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x * 1
        v = y[index]
        name = type(v.grad_fn).__name__
        is_view = v._base is y
        before = v._version
        with lib.no_grad():
            y.add_(0)                     # a write to the base shows in the view's version
        shared = v._version == before + 1
        (v * v).sum().backward() if v.requires_grad else None
        return v.detach().numpy(), name, is_view, shared, x.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0])
    assert mine[1:4] == theirs[1:4]
    np.testing.assert_allclose(mine[4], theirs[4])


@pytest.mark.parametrize("index", [9, -5, (0, 8), (slice(None), 8)])
def test_plain_read_out_of_range_raises_index_error(index):
    for lib in (minigrad, torch):
        with pytest.raises(IndexError, match="out of bounds"):
            lib.tensor(_X)[index]


def test_plain_read_of_a_0d_tensor_is_refused():
    for lib in (minigrad, torch):
        with pytest.raises(IndexError):
            lib.tensor(1.5)[0]


@pytest.mark.parametrize("shape", [(8, 2), (16,), (2, 2, 4), (1, 16, 1), (-1, 8), (4, -1, 1)])
def test_view_of_row_major_memory_beside_torch(shape):
    def run(lib):
        x = lib.tensor(_X[1:3], requires_grad=True)      # a view of a view of memory
        y = x * 1
        v = y.view(*shape)
        w = v.view(-1)
        (w * lib.arange(16.0, dtype=lib.float64)).sum().backward()
        return (v.detach().numpy(), v.stride(), type(v.grad_fn).__name__, v._base is y,
                w._base is y, x.grad.numpy())

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0])
    assert mine[1:5] == theirs[1:5]
    np.testing.assert_allclose(mine[5], theirs[5])


def test_view_of_a_view_of_numpy_memory_shares_it():
    base = np.zeros((4, 6), np.float32)
    for lib in (minigrad, torch):
        t = lib.from_numpy(base[1:3])
        v = t.view(12)
        assert v._base is t
        v[0] = 5.0
        assert t[0, 0].item() == 5.0 and base[1, 0] == 5.0
        base[1, 0] = 0.0


@pytest.mark.parametrize("dim, keepdim", [(None, False), (1, False), (0, True), ((0, 1), False),
                                          ((), False)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_beside_torch(dim, keepdim, dtype):
    def run(lib):
        x = lib.tensor(_X.astype(dtype), requires_grad=True)
        y = x.mean() if dim is None else x.mean(dim, keepdim=keepdim)
        y.backward(lib.ones_like(y))
        return y.detach().numpy(), type(y.grad_fn).__name__, y.is_contiguous(), x.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    assert mine[0].dtype == theirs[0].dtype and mine[0].shape == theirs[0].shape
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    assert mine[1:3] == theirs[1:3]
    np.testing.assert_allclose(mine[3], theirs[3], rtol=1e-6)


def test_views_rebased_after_a_write_however_many_views_came_and_went():
    # the base's list of live views drops dead ones in sweeps: a recorded write through the
    # base still gives every live view its new history, as PyTorch
    def run(lib):
        x = lib.tensor(_X, requires_grad=True)
        y = x * 1
        for i in range(40):
            y[i % 4].sum()                  # views made and dropped
        kept = [y[1:], y[:, 2], y.view(32)]
        y.mul_(3)
        total = sum((k * k).sum() for k in kept)
        total.backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(minigrad), run(torch))


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_tiny_softmax_rows_beside_torch_and_quiet(fn):
    x = np.array([[-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf], [3.0, 1e4, -2.0]])
    outs = []
    for lib in (minigrad, torch):
        t = lib.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # no numpy RuntimeWarning on the way
            y = getattr(lib.nn.functional, fn)(t, 1)
            y.backward(lib.ones_like(y))
        outs.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)


def test_quiet_error_state_is_restored_after_ops():
    x = minigrad.tensor([0.0, 1.0])
    with np.errstate(divide="raise"):
        minigrad.log(x).sum()                   # log(0) inside an op: silent, as PyTorch
        x.log_softmax(0)
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))                 # the user's own setting is back after them


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_plain_matrix_product_beside_torch(dtype):
    a_np = _X[:3, :5].astype(dtype)
    b_np = (_X.T[:5, :3] * 0.5).astype(dtype)

    def run(lib):
        a = lib.tensor(a_np, requires_grad=True)
        b = lib.tensor(b_np)
        y = a @ b
        (y * y).sum().backward()
        return y.detach().numpy(), type(y.grad_fn).__name__, a.grad.numpy()

    mine, theirs = run(minigrad), run(torch)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=1e-6)
    assert mine[1] == theirs[1]
    np.testing.assert_allclose(mine[2], theirs[2], rtol=1e-6)


def test_plain_matrix_product_refusals_beside_torch():
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match="cannot be multiplied"):
            lib.ones(3, 4) @ lib.ones(5, 2)
        with pytest.raises(RuntimeError, match="dtype"):
            lib.ones(3, 4) @ lib.ones(4, 2, dtype=lib.float64)


def test_plain_matrix_product_under_autocast_beside_torch():
    outs = []
    for lib in (minigrad, torch):
        with lib.autocast("cpu", dtype=lib.bfloat16):
            outs.append((lib.ones(3, 4) @ lib.ones(4, 2)).dtype)
    assert str(outs[0]).split(".")[-1] == str(outs[1]).split(".")[-1] == "bfloat16"
