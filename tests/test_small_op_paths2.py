"""The short paths small tensors take in relu (one-block forward, one-call backward) and in
cross entropy (every target valid), beside torch: values, signs of zeros, NaN, dtypes,
layouts, first and second derivatives and errors must be those of the general paths."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import TORCH_FIRST, pair  # noqa: E402


def _close(t, m, tol):
    t = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    m = m.detach().numpy() if hasattr(m, "detach") else np.asarray(m)
    assert t.dtype == m.dtype and t.shape == m.shape
    np.testing.assert_allclose(m, t, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3,), (4, 8), (64, 64), (65, 64), (2, 3, 4096), ()])
def test_relu_forward_backward_sizes(dtype, shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size > 3:
        x.reshape(-1)[:3] = [np.nan, -0.0, 0.0]
    g = rng.standard_normal(shape).astype(dtype)
    if g.size > 5:
        g.reshape(-1)[3:6] = [np.inf, np.nan, -np.inf]

    def run(lib, xa, ga):
        xa.requires_grad_(True)
        y = lib.relu(xa)
        (gx,) = lib.autograd.grad(y, xa, ga)
        return y, gx, y.is_contiguous()
    (ty, tg, tc), (my, mg, mc) = pair(run, x, g, order=TORCH_FIRST)
    _close(ty, my, 1e-6)
    _close(tg, mg, 1e-6)
    assert tc == mc
    # the sign of a zero output: -0.0 kept, as torch's
    np.testing.assert_array_equal(np.signbit(my.detach().numpy()), np.signbit(ty.detach().numpy()))


def test_relu_transposed_and_second_order():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 6))

    def run(lib, xa):
        xa = xa.t()
        xa.requires_grad_(True)
        y = lib.relu(xa)
        (gx,) = lib.autograd.grad((y * y).sum(), xa, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), xa)
        return y, y.stride(), gx, ggx
    (ty, ts, tg, tgg), (my, ms, mg, mgg) = pair(run, x, order=TORCH_FIRST)
    _close(ty, my, 1e-12)
    assert tuple(ts) == tuple(ms)
    _close(tg, mg, 1e-12)
    _close(tgg, mgg, 1e-12)


def test_relu_inplace_and_integers():
    x = np.array([[-2, 3], [0, -1]], dtype=np.int64)
    t, m = pair(lambda lib, a: lib.relu(a), x, order=TORCH_FIRST)
    _close(t, m, 0)
    f = np.array([-1.5, 2.0, -0.0, np.nan], dtype=np.float32)
    t, m = pair(lambda lib, a: a.relu_(), f, order=TORCH_FIRST)
    _close(t, m, 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 2, 7, 100])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_targets_valid_or_ignored(reduction, ignore_index, weighted, smoothing,
                                                dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((5, 8)) * 3).astype(dtype)
    tgt = np.array([1, 2, 0, 7, 2])
    w = rng.uniform(0.5, 2.0, 8).astype(dtype)

    def run(lib, xa, ta, wa):
        xa.requires_grad_(True)
        loss = lib.nn.functional.cross_entropy(
            xa, ta, weight=wa if weighted else None, ignore_index=ignore_index,
            reduction=reduction, label_smoothing=smoothing)
        g = lib.ones_like(loss) * 0.7
        (gx,) = lib.autograd.grad(loss, xa, g, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), xa)
        return loss, gx, ggx, type(loss.grad_fn).__name__
    tol = 1e-5 if dtype == np.float32 else 1e-12
    (tl, tg, tgg, tn), (ml, mg, mgg, mn) = pair(run, x, tgt, w, order=TORCH_FIRST)
    _close(tl, ml, tol)
    _close(tg, mg, tol)
    _close(tgg, mgg, tol)
    assert tn == mn


@pytest.mark.parametrize("tdtype", [np.int64, np.uint8])
def test_cross_entropy_all_valid_nll_and_errors(tdtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    tgt = np.array([0, 2, 1, 1], dtype=tdtype)
    for fn in (lambda lib, a, b: lib.nn.functional.cross_entropy(a, b),
               lambda lib, a, b: lib.nn.functional.nll_loss(lib.log_softmax(a, 1), b),
               lambda lib, a, b: lib.nn.functional.nll_loss(a, b, reduction="none")):
        t, m = pair(fn, x, tgt, order=TORCH_FIRST)
        _close(t, m, 1e-6)
    empty = pair(lambda lib, a, b: lib.nn.functional.cross_entropy(a[:0], b[:0]), x, tgt,
                 order=TORCH_FIRST)
    _close(*empty, 0)
    bad = np.array([0, 3, 1, 1], dtype=tdtype)
    for lib in (torch, minigrad):
        with pytest.raises(IndexError):
            lib.nn.functional.cross_entropy(lib.tensor(x), lib.tensor(bad))


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_cat_stack_values_dtypes_grads(dim):
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 3, 4)).astype(np.float32),
              rng.integers(-3, 3, (2, 3, 4))]

    def run(lib, a, b, c):
        a.requires_grad_(True)
        b.requires_grad_(True)
        out = []
        for op in (lib.cat, lib.stack):
            for group in ((b, b), (a, b, c), (c, c), (b, c)):
                y = op(group, dim)
                out.append(y)
        s = lib.stack((a, a * 2), dim)
        (ga,) = lib.autograd.grad((s * s).sum(), a, create_graph=True)
        (gga,) = lib.autograd.grad(ga.sum(), a)
        (gb,) = lib.autograd.grad((lib.cat((b, b * 3), dim) ** 2).sum(), b)
        return out + [ga, gga, gb]
    for t, m in zip(*pair(run, *arrays, order=TORCH_FIRST)):
        _close(t, m, 1e-6)


def test_cat_legacy_empty_layouts_and_errors():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)

    def run(lib, a):
        e = lib.zeros(0, dtype=lib.float64)
        cl = a.contiguous(memory_format=lib.channels_last)
        return (lib.cat((a, e), 1), lib.cat((e, a, e), -1), lib.cat((cl, cl), 0).stride(),
                lib.stack((cl, cl), 0).stride(), lib.stack((a.transpose(1, 3),) * 2, 0).stride())
    t, m = pair(run, x, order=TORCH_FIRST)
    _close(t[0], m[0], 0)
    _close(t[1], m[1], 0)
    assert [tuple(s) for s in t[2:]] == [tuple(s) for s in m[2:]]
    for build in (lambda lib: lib.cat((lib.zeros(2, 3), lib.zeros(2, 4)), 0),
                  lambda lib: lib.cat((lib.zeros(2, 3), lib.zeros(2, 3, 1)), 0),
                  lambda lib: lib.cat((lib.zeros(2, 3), lib.zeros(())), 0),
                  lambda lib: lib.stack((lib.zeros(2, 3), lib.zeros(3, 2))),
                  lambda lib: lib.stack((lib.zeros(2, 3), lib.zeros(2, 3)), 3)):
        errors = []
        for lib in (torch, minigrad):
            with pytest.raises((RuntimeError, IndexError)) as info:
                build(lib)
            errors.append((info.type, str(info.value).split(" ")[:3]))
        assert errors[0] == errors[1]


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_infinite_weight_of_an_unused_class(smoothing):
    # without smoothing only the targets' weights enter the loss: an infinite weight of a
    # class no target names leaves the gradient finite, as in torch
    x = np.random.default_rng(7).standard_normal((4, 3))
    w = np.array([np.inf, 1.0, 2.0])
    tgt = np.array([1, 2, 1, 2])

    def run(lib, xa, ta, wa):
        xa.requires_grad_(True)
        loss = lib.nn.functional.cross_entropy(xa, ta, weight=wa, label_smoothing=smoothing)
        (gx,) = lib.autograd.grad(loss, xa)
        return loss, gx
    (tl, tg), (ml, mg) = pair(run, x, tgt, w, order=TORCH_FIRST)
    _close(tl, ml, 1e-12)
    _close(tg, mg, 1e-12)


@pytest.mark.parametrize("shape", [(4, 8), (80, 80)])
def test_relu_backward_output_held_by_nobody(shape):
    # relu's output freed after its backward (the case where a large one is overwritten
    # by its gradient): small and large alike beside torch
    rng = np.random.default_rng(8)
    x = rng.standard_normal(shape)
    x.reshape(-1)[:2] = [np.nan, -0.0]

    def run(lib, xa):
        xa.requires_grad_(True)
        (lib.relu(xa * 2) * 3).sum().backward()
        (g,) = lib.autograd.grad(lib.relu(xa).sum(), xa)     # a broadcast incoming gradient
        return xa.grad, g, tuple(g.stride())
    (t, tg, ts), (m, mg, ms) = pair(run, x, order=TORCH_FIRST)
    _close(t, m, 1e-12)
    _close(tg, mg, 1e-12)
    assert ts == ms
