"""The paths of round 19's training-step work beside torch:

* relu's backward as a bitwise and of the gradient's bits with a mask of all ones or zeros
  (``relu_clamp._pass_where_positive``): exact for NaN and infinite gradients, NaN and
  signed-zero outputs; in blocks (several, and a partial last one), on one and two threads,
  over the output's own array when nothing else holds it, for row-major, channels-last,
  transposed and broadcast gradients, float32 and float64; second derivatives unchanged;
* SGD's momentum step in cache-sized blocks (``sgd._blocked_momentum_step``): the same
  updates as torch's SGD over several steps, and the paths that keep the whole-array
  arithmetic (nesterov, dampening, weight decay, maximize, a tensor lr, small parameters).

float64 to 1e-10 against torch's float64; float32 within torch's float32 tolerances."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

F32 = dict(rtol=2e-6, atol=1e-7)
F64 = dict(rtol=1e-10, atol=1e-12)


def _tol(dtype):
    return F64 if np.dtype(dtype) == np.float64 else F32


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _specials(shape, dtype, seed=0):
    """Random values with NaN, +-inf and +-0 at the front (of the input and the gradient)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[:8] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -1.0, 2.0, -np.nan]
    g.reshape(-1)[:8] = [np.inf, -np.inf, np.nan, np.inf, np.nan, -np.inf, np.nan, 1.0]
    return x, g


# ---- relu backward -------------------------------------------------------------------------

def _relu_grads(x, g, build=lambda F, x: F.relu(x)):
    """x.grad after build(F, x).backward(g), on both sides."""
    out = []
    for lib, make in ((minigrad, minigrad.tensor), (torch, torch.tensor)):
        t = make(x, requires_grad=True)
        build(lib.nn.functional, t).backward(make(g))
        out.append(_np(t.grad))
    return out


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 9, 11), (2, 3, 40, 41), (3, 140001)])
def test_relu_backward_exact_with_nan_inf_and_zeros(threads, shape, dtype):
    x, g = _specials(shape, dtype)
    mine, ref = _relu_grads(x, g)
    assert mine.dtype == ref.dtype
    # exact: the same NaNs, infinities and zeros (+0 where stopped, as torch)
    np.testing.assert_array_equal(mine, ref)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(ref))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_over_its_own_output(threads, dtype):
    # the output is held only by the node (exp keeps its own result): the gradient is
    # written over it; the values must still be torch's
    x, g = _specials((4, 80001), dtype, seed=1)
    x = np.where(np.isfinite(x), np.minimum(x, 5), 0.5).astype(dtype)
    mine, ref = _relu_grads(x, g, lambda F, t: F.relu(t).exp())
    np.testing.assert_allclose(mine, ref, equal_nan=True, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_layouts(threads, dtype):
    x, g = _specials((4, 6, 50, 60), dtype, seed=2)
    # channels-last input: a channels-last output, the whole-mask path
    xl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    mine, ref = _relu_grads(xl, g)
    np.testing.assert_array_equal(mine, ref)
    # a transposed (non-contiguous) gradient
    gt = np.ascontiguousarray(g.transpose(3, 2, 1, 0)).transpose(3, 2, 1, 0)
    mine, ref = _relu_grads(x, gt)
    np.testing.assert_array_equal(mine, ref)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_broadcast_gradient(threads, dtype):
    # sum's gradient reaches relu as a broadcast (0-stride) array
    x, _ = _specials((300, 500), dtype, seed=3)
    grads = []
    for lib, make in ((minigrad, minigrad.tensor), (torch, torch.tensor)):
        t = make(x, requires_grad=True)
        (lib.nn.functional.relu(t).sum() * 3).backward()
        grads.append(_np(t.grad))
    np.testing.assert_array_equal(*grads)


def test_relu_backward_mixed_dtypes_and_inplace(threads):
    # a float64 gradient into a float32 relu keeps the general path; relu_ as torch
    x, g = _specials((5, 20000), np.float32, seed=4)
    mt = minigrad.tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    (minigrad.relu(mt * 1) * 2).sum().backward()
    (torch.relu(tt * 1) * 2).sum().backward()
    np.testing.assert_array_equal(_np(mt.grad), _np(tt.grad))
    mt.grad = None
    tt.grad = None
    minigrad.nn.functional.relu(mt * 1, inplace=True).backward(minigrad.tensor(g))
    torch.nn.functional.relu(tt * 1, inplace=True).backward(torch.tensor(g))
    np.testing.assert_array_equal(_np(mt.grad), _np(tt.grad))


def test_relu_second_order():
    x = np.random.default_rng(5).standard_normal((6, 900))
    out = []
    for lib, make in ((minigrad, minigrad.tensor), (torch, torch.tensor)):
        t = make(x, requires_grad=True)
        y = lib.nn.functional.relu(t) ** 2
        (gx,) = lib.autograd.grad(y.sum(), t, create_graph=True)
        (gxx,) = lib.autograd.grad((gx * gx).sum(), t)
        out.append((_np(gx), _np(gxx)))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, **F64)


# ---- SGD momentum --------------------------------------------------------------------------

def _sgd_run(lib, params0, grads, steps=3, lr=0.01, **kw):
    ps = [lib.tensor(p.copy(), requires_grad=True) for p in params0]
    if isinstance(lr, float) and kw.pop("tensor_lr", False):
        lr = lib.tensor(lr)
    opt = lib.optim.SGD(ps, lr=lr, **kw)
    for s in range(steps):
        for p, g in zip(ps, grads):
            p.grad = lib.tensor(g * (s + 1.5))
        opt.step()
    bufs = [_np(opt.state[p]["momentum_buffer"]) for p in ps] if kw.get("momentum") else []
    return [_np(p) for p in ps], bufs


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [
    dict(momentum=0.9),
    dict(momentum=0.5, nesterov=True),
    dict(momentum=0.9, dampening=0.3),
    dict(momentum=0.9, weight_decay=1e-2),
    dict(momentum=0.9, maximize=True),
    dict(momentum=0.9, tensor_lr=True),
    dict(momentum=0.0),
])
def test_sgd_momentum_as_torch(threads, dtype, kw):
    rng = np.random.default_rng(6)
    # a parameter past the blocked size (several blocks, a partial last one), a small one,
    # and a conv weight
    shapes = [(3, 90001), (7, 5), (64, 64, 3, 3)]
    params0 = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
    mine = _sgd_run(minigrad, params0, grads, **kw)
    ref = _sgd_run(torch, params0, grads, **kw)
    for a, b in zip(mine[0] + mine[1], ref[0] + ref[1]):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **_tol(dtype))


def test_sgd_momentum_blocked_is_the_whole_array_arithmetic():
    # the blocked step rounds as the one-line formula does (lr and momentum in the dtype)
    from minigrad.optim.sgd import sgd_update
    rng = np.random.default_rng(7)
    for dtype in (np.float32, np.float64):
        p, g, b = (rng.standard_normal(300007).astype(dtype) for _ in range(3))
        p0, b0 = p.copy(), b.copy()
        sgd_update(p, g, b, weight_decay=0, momentum=0.9, lr=0.01, dampening=0,
                   nesterov=False, maximize=False)
        b2 = b0 * dtype(0.9)
        b2 += g
        p2 = p0 - dtype(0.01) * b2
        np.testing.assert_array_equal(b, b2)
        np.testing.assert_array_equal(p, p2)
        # and torch's in-place ops on the same numbers
        tb = torch.tensor(b0).mul_(0.9).add_(torch.tensor(g))
        tp = torch.tensor(p0).add_(tb, alpha=-0.01)
        np.testing.assert_allclose(b, tb.numpy(), **_tol(dtype))
        np.testing.assert_allclose(p, tp.numpy(), **_tol(dtype))


# ---- batch norm's pieces hold the BLAS to one thread for short planes too ---------------------
def test_batch_norm_pieces_hold_the_blas_on_32x32_planes(monkeypatch):
    """A piece's per-channel sums are one matrix-vector product over its (images x C, S)
    block: on 32x32 planes (S = 1024) OpenBLAS splits it over its workers, which then spin on
    the core minigrad's other thread needs, unless the hold covers the whole array. The
    forward and backward still match torch's."""
    from minigrad import parallel
    from minigrad.ops import _batch_norm_kernels as bn
    held = []
    real = parallel.blas_on_one_thread
    monkeypatch.setattr(bn, "blas_on_one_thread",
                        lambda size=None: held.append(size) or real(size))
    rng = np.random.default_rng(19)
    x = rng.standard_normal((16, 8, 32, 32))
    g = rng.standard_normal(x.shape)
    outs = []
    for lib in (minigrad, torch):
        xt = lib.tensor(x, requires_grad=True)
        w, b = lib.ones(8, dtype=lib.float64, requires_grad=True), \
            lib.zeros(8, dtype=lib.float64, requires_grad=True)
        y = lib.nn.functional.batch_norm(xt, None, None, w, b, training=True)
        y.backward(lib.tensor(g))
        outs.append([t.detach().numpy() for t in (y, xt.grad, w.grad, b.grad)])
    for m, t in zip(*outs):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-10)
    assert held and all(size >= parallel.BLAS_SMALL for size in held), held
