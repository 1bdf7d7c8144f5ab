"""The paths of round 18's training-step work beside torch:

* max_pool2d's 2x2, stride-2 path (``_pool_kernels._max_halving``): the four candidates of
  every window sorted into dense planes by one copy, the offset as small-int arithmetic --
  values, PyTorch's indices (first maximum, last NaN), gradients and second derivatives, for
  ties, NaN, infinities, odd sizes (the last row or column dropped), unbatched inputs, batch
  slices over the threads, and the layouts that keep the general path (non-contiguous,
  channels-last, padding, ceil_mode, float16, integers);
* batch_norm's training backward with the gradient's per-channel sum made in the centering
  pass, in the pieces on the threads (``_batch_norm_kernels._centered``): every combination
  of wanted gradients, weight and bias absent, eval mode, odd shapes, non-contiguous inputs,
  and second derivatives under create_graph.

float64 to 1e-10 against torch's float64; float32 within torch's float32 tolerances; one and
two threads (shapes large enough for the work to be split)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import leaves, same_tensor  # noqa: E402

F32 = dict(rtol=2e-5, atol=2e-5)
F64 = dict(rtol=1e-10, atol=1e-11)


def _tol(dtype):
    return F64 if np.dtype(dtype) == np.float64 else F32


# ---- max_pool2d 2x2 / 2 --------------------------------------------------------------------

def _ties(shape, dtype, seed=0):
    """Small integers: most windows hold two or more equal maxima."""
    return np.random.default_rng(seed).integers(-2, 3, size=shape).astype(dtype)


def _check_pool(x, threads_=None, **kw):
    mx, tx = leaves(x)
    my, mi = minigrad.nn.functional.max_pool2d(mx, 2, return_indices=True, **kw)
    ty, ti = torch.nn.functional.max_pool2d(tx, 2, return_indices=True, **kw)
    assert np.array_equal(my.detach().numpy(), ty.detach().numpy(), equal_nan=True)
    assert np.array_equal(mi.numpy(), ti.numpy())
    assert my.detach().numpy().strides == ty.detach().numpy().strides
    g = np.random.default_rng(1).standard_normal(ty.shape).astype(x.dtype)
    my.backward(minigrad.tensor(g))
    ty.backward(torch.tensor(g))
    same_tensor(mx.grad, tx.grad, **_tol(x.dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(8, 16, 64, 64), (3, 5, 24, 24), (2, 3, 7, 9), (1, 1, 2, 2),
                                   (4, 6, 6), (2, 2, 3, 2)])
def test_max_pool_2x2_ties_as_torch(threads, shape, dtype):
    _check_pool(_ties(shape, dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_random_values_large_split(threads, dtype):
    # 8 MB of float32 planes: split over the threads, each slice its own windows
    x = np.random.default_rng(2).standard_normal((16, 32, 32, 64)).astype(dtype)
    _check_pool(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_nan_and_infinities(threads, dtype):
    x = _ties((4, 3, 8, 10), dtype, seed=3)
    x[0, 0, 0, 0] = np.nan                     # first of a window
    x[0, 0, 1, 1] = np.nan                     # and its last: PyTorch keeps the last NaN
    x[0, 1, 0, 1] = np.nan                     # a lone NaN in another window
    x[1, 0, 2:4, 2:4] = -np.inf                # a window of -inf only
    x[1, 1, 2, 3] = np.inf
    x[2, 2, 4, 4] = np.inf
    x[2, 2, 5, 5] = np.inf                     # two +inf: the first
    x[3] = np.nan                              # whole planes of NaN
    _check_pool(x)


def test_max_pool_2x2_overflowing_sum_is_not_a_nan(threads):
    # huge finite values: their sum overflows to inf, which only sends the offsets through
    # the NaN fix-up; nothing may change
    x = np.full((2, 3, 6, 6), 3e38, np.float32)
    x[..., 1::2, :] = -3e38
    x[0, 0, 2, 3] = 3.4e38
    _check_pool(x)


def test_max_pool_2x2_signed_zeros(threads):
    x = np.zeros((2, 2, 4, 4), np.float32)
    x[0, 0, 0, 1] = -0.0
    x[0, 1, 1, 0] = -0.0
    x[1, :, ::2, ::2] = -0.0                   # -0.0 first, +0.0 after: the first index
    _check_pool(x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_2x2_non_contiguous_and_channels_last(threads, dtype):
    base = np.random.default_rng(4).standard_normal((6, 10, 12, 5)).astype(dtype)
    _check_pool(base.transpose(0, 3, 1, 2))                       # channels-last strides
    _check_pool(np.random.default_rng(5).standard_normal((5, 4, 12, 10)).astype(dtype)
                .transpose(0, 1, 3, 2))                           # H and W swapped
    _check_pool(_ties((3, 4, 16, 16), dtype)[:, :, ::2])          # rows skipped


@pytest.mark.parametrize("kw", [dict(padding=1), dict(ceil_mode=True), dict(stride=1),
                                dict(dilation=2)])
def test_max_pool_other_geometries_unchanged(threads, kw):
    _check_pool(_ties((2, 3, 9, 11), np.float64), **kw)


def test_max_pool_2x2_float16_and_integers():
    x = _ties((2, 3, 6, 8), np.float16)
    mx, tx = leaves(x)
    my = minigrad.nn.functional.max_pool2d(mx, 2)
    ty = torch.nn.functional.max_pool2d(tx, 2)
    assert np.array_equal(my.detach().numpy(), ty.detach().numpy())
    xi = _ties((2, 3, 6, 8), np.int64)
    mi = minigrad.nn.functional.max_pool2d(minigrad.tensor(xi), 2)
    ti = torch.nn.functional.max_pool2d(torch.tensor(xi), 2)
    assert np.array_equal(mi.numpy(), ti.numpy())


def test_max_pool_2x2_no_grad_values(threads):
    x = np.random.default_rng(6).standard_normal((8, 16, 32, 64)).astype(np.float32)
    with minigrad.no_grad():
        my = minigrad.nn.functional.max_pool2d(minigrad.tensor(x), 2)
    ty = torch.nn.functional.max_pool2d(torch.tensor(x), 2)
    assert np.array_equal(my.numpy(), ty.numpy())


def test_max_pool_2x2_module_and_second_order(threads):
    x = _ties((3, 4, 10, 12), np.float64, seed=7) + \
        np.random.default_rng(8).standard_normal((3, 4, 10, 12)) * 1e-3
    g = np.random.default_rng(9).standard_normal((3, 4, 5, 6))
    res = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        gt = lib.tensor(g, requires_grad=True)
        y = lib.nn.MaxPool2d(2)(xt)
        (dx,) = lib.autograd.grad(y, xt, gt, create_graph=True)
        (dx * dx).sum().backward()
        res.append((y, dx, gt.grad))
    for a, b in zip(*res):
        same_tensor(a, b, **F64)


# ---- batch_norm: the gradient's channel sums in the centering pass ------------------------

def _bn_case(shape, dtype, weight, bias, want_x, training=True, seed=10, layout=None,
             create_graph=False):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    if layout == "transposed":
        x = np.ascontiguousarray(np.swapaxes(x, -1, -2)).swapaxes(-1, -2)
    c = shape[1]
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.random(c).astype(dtype) + 0.5
    b = rng.standard_normal(c).astype(dtype)
    out = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=want_x)
        wt = lib.tensor(w, requires_grad=True) if weight else None
        bt = lib.tensor(b, requires_grad=True) if bias else None
        rm = lib.tensor(np.zeros(c, dtype))
        rv = lib.tensor(np.ones(c, dtype))
        y = lib.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=training)
        leaves = [t for t in (xt, wt, bt) if t is not None and t.requires_grad]
        grads = lib.autograd.grad(y, leaves, lib.tensor(g), create_graph=create_graph)
        got = [y, rm, rv, *grads]
        if create_graph:
            second = sum((d * d).sum() for d in grads)
            got += list(lib.autograd.grad(second, leaves, allow_unused=True))
        out.append(got)
    for a, b in zip(*out):
        if a is None or b is None:
            assert a is None and b is None
            continue
        tol = dict(rtol=2e-4, atol=2e-4) if np.dtype(dtype) == np.float32 else F64
        same_tensor(a, b, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(16, 32, 32, 32), (5, 3, 7, 9), (4, 6), (3, 4, 10),
                                   (2, 5, 3, 4, 3)])
@pytest.mark.parametrize("weight,bias", [(True, True), (False, False), (True, False),
                                         (False, True)])
def test_batch_norm_training_backward_as_torch(threads, shape, dtype, weight, bias):
    _bn_case(shape, dtype, weight, bias, want_x=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight,bias", [(True, True), (True, False), (False, True)])
def test_batch_norm_parameters_only(threads, dtype, weight, bias):
    # the input wants no gradient: dweight alone (the centering pass, no sum of g wanted
    # unless dbias is) or dbias alone (the sum of g by itself)
    _bn_case((8, 16, 16, 16), dtype, weight, bias, want_x=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_eval_and_non_contiguous(threads, dtype):
    _bn_case((6, 8, 12, 10), dtype, True, True, want_x=True, training=False)
    _bn_case((6, 8, 12, 10), dtype, True, True, want_x=True, layout="transposed")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_second_order(dtype):
    _bn_case((4, 3, 5, 6), dtype, True, True, want_x=True, create_graph=True)
    _bn_case((4, 3, 5, 6), dtype, False, False, want_x=True, create_graph=True)


def test_batch_norm_large_mean_float32(threads):
    # a mean far from zero: x - mean is made exactly before the sums (no cancellation)
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((8, 4, 32, 32)) * 0.01 + 1000).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ref = torch.tensor(x.astype(np.float64), requires_grad=True)
    torch.nn.functional.batch_norm(ref, None, None, training=True).backward(
        torch.tensor(g.astype(np.float64)))
    mx = minigrad.tensor(x, requires_grad=True)
    minigrad.nn.functional.batch_norm(mx, None, None, training=True).backward(
        minigrad.tensor(g))
    scale = np.abs(ref.grad.numpy()).max()
    assert np.abs(mx.grad.numpy() - ref.grad.numpy()).max() <= 2e-2 * scale
