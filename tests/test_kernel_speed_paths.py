"""The fast array paths of layer_norm (row blocks), silu and softplus (fewer passes), cumsum
(float64 accumulation, slice loop) and gather (flat take, add.at backward), checked against
PyTorch: values, gradients, second derivatives, odd layouts and dtypes; group_norm beside
them (its node shares layer_norm's helpers)."""
import functools

import numpy as np
import pytest
import torch

import minigrad
from torch_agreement import TORCH_FIRST, leaves, same_tensor

F32 = dict(rtol=1e-5, atol=1e-5)
F64 = dict(rtol=1e-10, atol=1e-12)

# the same values as a (torch, minigrad) pair of leaves: _both(array, grad=True)
_both = functools.partial(leaves, order=TORCH_FIRST)


def _name(dtype):
    return str(dtype).split(".")[-1]


def _grads(fn, arrays, tol, second=False):
    """fn(lib, *tensors) on torch and minigrad: outputs, first gradients (with a random
    upstream gradient) and, if ``second``, the gradient of the sum of squared first
    gradients."""
    pairs = [_both(a) for a in arrays]
    outs = []
    for lib, tensors in ((torch, [p[0] for p in pairs]), (minigrad, [p[1] for p in pairs])):
        y = fn(lib, *tensors)
        g = lib.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(arrays[0].dtype))
        grads = lib.autograd.grad(y, tensors, g, create_graph=second)
        if second:
            total = sum((gr * gr).sum() for gr in grads)
            grads = grads + lib.autograd.grad(total, tensors, allow_unused=True)
        outs.append((y, grads))
    (ty, tg), (my, mg) = outs
    same_tensor(my, ty, **tol)
    for a, b in zip(tg, mg):
        assert (a is None) == (b is None)
        if a is not None:
            same_tensor(b, a, **tol)


# ----------------------------------------------------------------------------------------------
# layer_norm: several row blocks, no affine, float64, a transposed input; group_norm too
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,tol", [(np.float32, dict(rtol=1e-4, atol=1e-4)),
                                       (np.float64, F64)])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_blocks(dtype, tol, affine):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 200, 768)) * 3 + 1).astype(dtype)      # 600 rows: 4 blocks
    w, b = rng.standard_normal((2, 768)).astype(dtype)
    args = [x, w, b] if affine else [x]
    _grads(lambda lib, x, *wb: lib.nn.functional.layer_norm(x, (768,), *wb), args, tol)


def test_layer_norm_transposed_input_and_second_derivative():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 5, 4))
    w, b = rng.standard_normal((2, 5, 6))
    _grads(lambda lib, x, w, b: lib.nn.functional.layer_norm(x.transpose(0, 2), (5, 6), w, b),
           [x, w, b], F64, second=True)


def test_layer_norm_weight_only_and_bias_only_grads():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 500)).astype(np.float32)
    w = rng.standard_normal(500).astype(np.float32)
    tol = dict(rtol=1e-4, atol=1e-4)
    _grads(lambda lib, x, w: lib.nn.functional.layer_norm(x, (500,), w), [x, w], tol)
    _grads(lambda lib, x, b: lib.nn.functional.layer_norm(x, (500,), None, b), [x, w], tol)


@pytest.mark.parametrize("dtype,tol", [(np.float32, dict(rtol=1e-4, atol=1e-4)),
                                       (np.float64, F64)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_blocks(dtype, tol, affine):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((40, 12, 16, 24)) * 2 - 1).astype(dtype)
    w, b = rng.standard_normal((2, 12)).astype(dtype)
    args = [x, w, b] if affine else [x]
    _grads(lambda lib, x, *wb: lib.nn.functional.group_norm(x, 3, *wb), args, tol)


@pytest.mark.parametrize("shape", [(5, 6), (2, 6, 7), (3, 6, 2, 2, 2)])
def test_group_norm_ranks_and_second_derivative(shape):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    w, b = rng.standard_normal((2, 6))
    _grads(lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b), [x, w, b], F64,
           second=True)


def test_group_norm_channels_last_input():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 5, 5, 8)).astype(np.float32)
    _grads(lambda lib, x: lib.nn.functional.group_norm(x.permute(0, 3, 1, 2), 4), [x],
           dict(rtol=1e-4, atol=1e-4))


# ----------------------------------------------------------------------------------------------
# silu, softplus: edges and values
# ----------------------------------------------------------------------------------------------
EDGES = [-np.inf, -1000.0, -100.0, -90.0, -50.0, -20.0, -1.5, -0.0, 0.0, 1e-30, 0.7, 19.9,
         20.0, 20.1, 50.0, 100.0, np.inf, np.nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silu_edges_match_torch_bitwise_where_torch_rounds_the_same(dtype):
    x = np.array(EDGES, dtype)
    t, m = _both(x)
    ty, my = torch.nn.functional.silu(t), minigrad.nn.functional.silu(m)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=1e-6, atol=0)
    # below -88 (float32) PyTorch's x / (1 + e^-x) is -0.0: the sign too
    assert np.array_equal(np.signbit(my.detach().numpy()), np.signbit(ty.detach().numpy()))
    g = np.linspace(-2, 2, x.size).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("dtype,tol", [(np.float32, F32), (np.float64, F64)])
def test_silu_values_grads_second(dtype, tol):
    x = np.random.default_rng(6).standard_normal((70, 1000)).astype(dtype) * 6
    _grads(lambda lib, x: lib.nn.functional.silu(x), [x], tol)
    _grads(lambda lib, x: lib.nn.functional.silu(x.t()), [x[:20, :30].copy()], tol,
           second=True)


# (a threshold past 88 is left out: there PyTorch's log1p(e^x) overflows to inf in float32)
@pytest.mark.parametrize("beta,threshold", [(1.0, 20.0), (2.0, 20.0), (0.5, 5.0), (-1.0, 20.0),
                                            (1, 60.0), (3, -2.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_edges(beta, threshold, dtype):
    x = np.array(EDGES, dtype)
    t, m = _both(x)
    ty = torch.nn.functional.softplus(t, beta, threshold)
    my = minigrad.nn.functional.softplus(m, beta, threshold)
    np.testing.assert_allclose(my.detach().numpy(), ty.detach().numpy(), rtol=2e-6, atol=1e-30)
    g = np.linspace(-2, 2, x.size).astype(dtype)
    ty.backward(torch.tensor(g))
    my.backward(minigrad.tensor(g))
    np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), rtol=2e-6, atol=1e-30)


@pytest.mark.parametrize("beta", [1.0, 1.7])
def test_softplus_blocks_and_second_derivative(beta):
    x = np.random.default_rng(8).standard_normal((300, 700)).astype(np.float32) * 10
    _grads(lambda lib, x: lib.nn.functional.softplus(x, beta), [x], F32)
    _grads(lambda lib, x: lib.nn.functional.softplus(x, beta, 3.0), [x[:5, :40].astype(
        np.float64)], F64, second=True)


# ----------------------------------------------------------------------------------------------
# cumsum: PyTorch's CPU kernel sums float32 in float64, so the results are bitwise its
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,dim", [((256, 1024), 1), ((256, 1024), 0), ((4, 300, 64), 1),
                                       ((300, 2, 3), 0), ((5, 7), -2), ((3, 0, 4), 1),
                                       ((0, 5), 0), ((9,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.int64])
def test_cumsum_bitwise(shape, dim, dtype):
    rng = np.random.default_rng(9)
    a = rng.standard_normal(shape) * 100
    if np.dtype(dtype).kind == "c":
        a = a + 1j * rng.standard_normal(shape)
    a = a.astype(dtype)
    t = torch.cumsum(torch.tensor(a), dim)
    m = minigrad.cumsum(minigrad.tensor(a), dim)
    assert _name(t.dtype) == _name(m.dtype) and tuple(t.shape) == tuple(m.shape)
    assert np.array_equal(m.numpy(), t.numpy())
    assert m.numpy().flags.c_contiguous


@pytest.mark.parametrize("dim", [0, 1])
def test_cumsum_of_negative_zeros_is_positive_zero(dim):
    a = np.array([[-0.0, -0.0, 1.0], [-0.0, 2.0, -0.0]], np.float32)
    for big in (False, True):
        x = np.repeat(a, 100, axis=1) if big else a           # the slice loop for dim 0
        t = torch.cumsum(torch.tensor(x), dim).numpy()
        m = minigrad.cumsum(minigrad.tensor(x), dim).numpy()
        assert np.array_equal(m, t) and np.array_equal(np.signbit(m), np.signbit(t))


def test_cumsum_float16_overflows_to_inf_without_warning():
    a = np.full((3, 300), 300.0, np.float16)
    for dim in (0, 1):
        t = torch.cumsum(torch.tensor(a), dim)
        with np.errstate(all="raise"):
            m = minigrad.cumsum(minigrad.tensor(a), dim)
        assert np.array_equal(m.numpy(), t.numpy())


@pytest.mark.parametrize("dim", [0, 1, 2])
def test_cumsum_grads_noncontiguous_and_second(dim):
    x = np.random.default_rng(10).standard_normal((30, 40, 50)).astype(np.float32)
    _grads(lambda lib, x: lib.cumsum(x.transpose(0, 2), dim) ** 2, [x], dict(rtol=1e-4,
                                                                               atol=1e-4))
    _grads(lambda lib, x: lib.cumsum(x[:, ::2], dim) ** 2, [x[:3, :4, :5].astype(np.float64)],
           F64, second=True)


# ----------------------------------------------------------------------------------------------
# gather: flat take forward, add.at backward (repeated indices add up)
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("dtype,tol", [(np.float32, F32), (np.float64, F64)])
def test_gather_repeats_smaller_index_and_noncontiguous(dim, dtype, tol):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((40, 30)).astype(dtype)
    size = x.T.shape[dim]
    index = rng.integers(0, 3 if dim == 0 else size, (25, 20))          # many repeats
    for lib_x in (lambda lib, x: x.t(), lambda lib, x: x[::2, 1:].t()):
        pairs = []
        for lib in (torch, minigrad):
            xt = lib.tensor(x, requires_grad=True)
            src = lib_x(lib, xt)
            sz = src.shape[dim]
            y = lib.gather(src, dim, lib.tensor(index % sz))
            (y * lib.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape).astype(dtype))
             ).sum().backward()
            pairs.append((y, xt.grad))
        same_tensor(pairs[1][0], pairs[0][0], **tol)
        same_tensor(pairs[1][1], pairs[0][1], **tol)


def test_gather_second_derivative_and_integers():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 6, 5))
    index = rng.integers(0, 6, (3, 8, 5))
    _grads(lambda lib, x: lib.gather(x, 1, lib.tensor(index)) ** 3, [x], F64, second=True)
    ints = rng.integers(-50, 50, (4, 6, 5))
    t = torch.gather(torch.tensor(ints), 1, torch.tensor(index))
    m = minigrad.gather(minigrad.tensor(ints), 1, minigrad.tensor(index))
    assert _name(t.dtype) == _name(m.dtype) and np.array_equal(m.numpy(), t.numpy())


def test_gather_out_of_range_message():
    x = np.zeros((3, 4), np.float32)
    for bad in (4, -1):
        index = np.array([[0, 1], [2, bad]])
        with pytest.raises(RuntimeError) as te:
            torch.gather(torch.tensor(x), 1, torch.tensor(index))
        with pytest.raises(RuntimeError) as me:
            minigrad.gather(minigrad.tensor(x), 1, minigrad.tensor(index))
        assert str(me.value) == str(te.value)
