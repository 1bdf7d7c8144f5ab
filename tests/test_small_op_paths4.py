"""The short paths of small ops, fourth round, beside torch: cross entropy when every target
is a class (no per-row mask, the mean's count taken as the batch size) and when some are not,
SGD's steps on inf/NaN gradients (no numpy warnings), and matrix products on either side of
the size from which ``parallel.matmul`` cuts them over threads."""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F
from minigrad import parallel

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _close(t, m, tol):
    t = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    m = m.detach().numpy() if hasattr(m, "detach") else np.asarray(m)
    assert t.dtype == m.dtype and t.shape == m.shape
    np.testing.assert_allclose(m, t, rtol=tol, atol=tol, equal_nan=True)


def _tol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", ["default", "outside", "a_class"])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4)])
def test_cross_entropy_values_and_gradients(dtype, reduction, weighted, smoothing, ignore,
                                            shape):
    rng = np.random.default_rng(len(shape) * 7 + int(weighted))
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    target.flat[0] = 2                     # a row with the class that "a_class" ignores
    w = rng.uniform(0.5, 2.0, shape[1]).astype(dtype) if weighted else None
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    if ignore != "default":
        kw["ignore_index"] = {"outside": 9, "a_class": 2}[ignore]
    outs = []
    for lib, fn in ((torch, TF.cross_entropy), (minigrad, F.cross_entropy)):
        xt = lib.tensor(x, requires_grad=True)
        loss = fn(xt, lib.tensor(target), weight=None if w is None else lib.tensor(w), **kw)
        g = np.linspace(-1, 1, loss.numel()).reshape(tuple(loss.shape)).astype(dtype)
        gx, = lib.autograd.grad(loss, xt, lib.tensor(g), create_graph=True)
        # a second derivative through the gradient's own node
        ggx, = lib.autograd.grad((gx * gx).sum(), xt)
        outs.append((loss, gx, ggx))
    for t, m in zip(*outs):
        _close(t, m, _tol(dtype) * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_nll_loss_of_log_probabilities_every_target_a_class(dtype, reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 4)).astype(dtype)
    target = rng.integers(0, 4, 6)
    outs = []
    for lib, fn in ((torch, TF.nll_loss), (minigrad, F.nll_loss)):
        xt = lib.tensor(x, requires_grad=True)
        loss = fn(xt.log_softmax(1), lib.tensor(target), reduction=reduction)
        loss.backward()
        outs.append((loss, xt.grad))
    for t, m in zip(*outs):
        _close(t, m, _tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_mean_of_an_empty_batch(dtype):
    """No rows: the mean is 0/0 = nan and the gradient empty, as torch."""
    x = np.zeros((0, 3), dtype)
    outs = []
    for lib, fn in ((torch, TF.cross_entropy), (minigrad, F.cross_entropy)):
        xt = lib.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = fn(xt, lib.tensor(np.zeros(0, np.int64)))
            loss.backward()
        outs.append((loss, xt.grad))
    for t, m in zip(*outs):
        _close(t, m, _tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [dict(), dict(lr=0.0), dict(momentum=0.9),
                                     dict(weight_decay=0.1), dict(maximize=True),
                                     dict(momentum=0.5, nesterov=True)])
def test_sgd_steps_on_inf_and_nan_gradients_warn_nothing(dtype, options):
    """inf - inf, 0 * inf, an overflowing lr * g: nan/inf parameters, silently, as torch."""
    kw = dict(lr=10.0)
    kw.update(options)
    big = np.finfo(dtype).max
    p0 = np.array([1.0, np.inf, 2.0, -np.inf, 3.0, 0.5], dtype)
    grads = [np.array([np.inf, np.inf, np.nan, -np.inf, big, 1.0], dtype),
             np.array([1.0, np.nan, -np.inf, np.inf, big, -big], dtype)]
    results = []
    for lib in (torch, minigrad):
        p = lib.tensor(p0.copy(), requires_grad=True)
        opt = lib.optim.SGD([p], **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for g in grads:
                p.grad = lib.tensor(g.copy())
                opt.step()
        results.append(p)
    _close(*results, 0)


@pytest.fixture
def two_threads():
    before = parallel.get_num_threads()
    parallel.set_num_threads(2)
    yield
    parallel.set_num_threads(before)


# rows of a (M, 784) @ (784, 256) product on either side of MATMUL_MIN_MACS
_AROUND = [32, 41, 42, 48]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", _AROUND)
@pytest.mark.parametrize("layout", ["plain", "a_t", "b_t"])
def test_products_around_the_threshold_are_torchs(two_threads, monkeypatch, dtype, m, layout):
    """Products just below the threshold run whole on the calling thread, from it on in
    parts; either way torch's product, for transposed operands too."""
    rng = np.random.default_rng(m)
    a = rng.standard_normal((m, 784)).astype(dtype)
    b = rng.standard_normal((784, 256)).astype(dtype)
    if layout == "a_t":
        a = np.ascontiguousarray(a.T).T
    elif layout == "b_t":
        b = np.ascontiguousarray(b.T).T
    cut, in_parts = [], parallel._matmul_in_parts

    def spy(*args):
        cut.append(True)
        return in_parts(*args)
    monkeypatch.setattr(parallel, "_matmul_in_parts", spy)
    got = parallel.matmul(a, b)
    assert bool(cut) == (m * 784 * 256 >= parallel.MATMUL_MIN_MACS)
    want = torch.tensor(a) @ torch.tensor(b)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    _close(want, got, tol)
    # and through the autograd op (forward and both gradients)
    outs = []
    for lib in (torch, minigrad):
        at, bt = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = lib.matmul(at, bt)
        out.backward(lib.tensor(np.ones(out.shape, dtype)))
        outs.append((out, at.grad, bt.grad))
    for t, mg in zip(*outs):
        _close(t, mg, tol * 10)

