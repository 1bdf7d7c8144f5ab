"""softmax and log_softmax in place (``ops/softmax.py``), and the fused class losses
(``ops/loss.py``), beside torch in float64: forward, the input's gradient by the array
backward (no graph recorded) and by ops (create_graph), and second derivatives in the input
and in the incoming gradient -- over dims first, middle and last, 0-d, 1-d, empty and
non-contiguous inputs, -inf / inf / large values, rows longer than einsum's limit;
cross_entropy and nll_loss over reductions, class weights, ignore_index, label smoothing,
spatial and batch-less scores; float32 and float16 at loose tolerances."""
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.ops import softmax as softmax_ops

torch = pytest.importorskip("torch")


def _softmax(lib, fn, x, dim, create_graph, dtype=None):
    xt = lib.tensor(x, requires_grad=True)
    y = getattr(lib.nn.functional, fn)(xt, dim, dtype=dtype)
    dtype = y.detach().numpy().dtype
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(tuple(y.shape)).astype(dtype),
                    requires_grad=create_graph)
    gx, = lib.autograd.grad(y, xt, gy, create_graph=create_graph)
    out = [y.detach().numpy(), gx.detach().numpy()]
    if create_graph and x.size:
        # torch's double backward of an empty softmax reshapes what it cannot: not compared
        second = lib.autograd.grad((gx * gx * gx).sum() + (gx * xt).sum(), [xt, gy])
        out += [g.numpy() for g in second]
    return out


def _close(mine, theirs, rtol, atol):
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


CASES = [((5,), 0), ((4, 7), -1), ((4, 7), 0), ((3, 4, 5), 1), ((2, 3, 4, 6), -1),
         ((2, 3, 4, 6), 2), ((2, 3, 4, 6), 0), ((), 0), ((3, 0, 4), -1), ((3, 0, 4), 1),
         ((1, 1), -1)]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, dim", CASES)
def test_softmax_matches_torch(shape, dim, fn, create_graph):
    x = np.random.default_rng(len(shape) + dim % 7).standard_normal(shape) * 4
    _close(_softmax(minigrad, fn, x, dim, create_graph),
           _softmax(torch, fn, x, dim, create_graph), 1e-10, 1e-12)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("shape, dim", CASES)
def test_softmax_without_the_shift_matches_torch(monkeypatch, shape, dim, create_graph):
    # every input large enough to skip the max where its range allows
    monkeypatch.setattr(softmax_ops, "_NO_SHIFT_SIZE", 1)
    x = np.random.default_rng(len(shape) + dim % 7).standard_normal(shape) * 20
    _close(_softmax(minigrad, "softmax", x, dim, create_graph),
           _softmax(torch, "softmax", x, dim, create_graph), 1e-10, 1e-12)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("edge", [63.9, -63.9, 64.5, -70.0, 100.0, -110.0, np.nan, -np.inf])
def test_softmax_range_for_the_shift(edge, dtype, tol):
    # within +-64 exp needs no shift (down to slices of values near -64, whose exps are
    # tiny but normal), beyond it, or with nan or -inf, the max is subtracted
    x = np.random.default_rng(9).standard_normal((64, 300)) * 10
    x[5, 7] = edge
    x[6] = edge if np.isfinite(edge) else 1.0          # a whole slice at the edge
    assert x.size >= softmax_ops._NO_SHIFT_SIZE
    x = x.astype(dtype)
    # (float32: the gradient g - sum(g y) cancels to an absolute error of ~1e-7)
    _close(_softmax(minigrad, "softmax", x, -1, False), _softmax(torch, "softmax", x, -1, False),
           tol, tol * 0.1)
    assert softmax_ops._unshifted(x) == (abs(edge) < 64)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_special_values(fn):
    x = np.random.default_rng(1).standard_normal((6, 5)) * 3
    x[0, 2] = -np.inf                      # one impossible class
    x[1] = -np.inf                         # a row of them: nan, as torch
    x[2, 1] = np.inf                       # inf - inf: nan
    x[3] = [1e300, -1e300, 0, 1e300, 5]    # large logits, shifted by the max
    x[4] = 7.0                             # equal logits
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # numpy's RuntimeWarnings stay silent, as torch
        mine = _softmax(minigrad, fn, x, -1, False)
        mine_ops = _softmax(minigrad, fn, x, -1, True)[:2]
    theirs = _softmax(torch, fn, x, -1, False)
    _close(mine, theirs, 1e-10, 1e-12)
    _close(mine_ops, theirs, 1e-10, 1e-12)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_non_contiguous_input_and_gradient(fn):
    base = np.random.default_rng(2).standard_normal((6, 5, 4))
    out = []
    for lib in (minigrad, torch):
        leaf = lib.tensor(base, requires_grad=True)
        x = leaf.transpose(0, 2)                                    # (4, 5, 6), strided
        y = getattr(lib.nn.functional, fn)(x, -1)
        g = lib.tensor(np.sin(np.arange(y.numel())).reshape(6, 5, 4)).transpose(0, 2)
        y.backward(g)
        out.append([y.detach().numpy(), leaf.grad.numpy()])
    _close(out[0], out[1], 1e-10, 1e-12)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_rows_past_the_einsum_limit(monkeypatch, fn):
    # rows longer than _EINSUM_ROW are summed by numpy's pairwise sum
    monkeypatch.setattr(softmax_ops, "_EINSUM_ROW", 8)
    x = np.random.default_rng(3).standard_normal((3, 20))
    _close(_softmax(minigrad, fn, x, -1, False), _softmax(torch, fn, x, -1, False),
           1e-10, 1e-12)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_float32_and_float16(fn):
    x = np.random.default_rng(4).standard_normal((16, 8, 64)) * 3
    for dtype, tol in ((np.float32, 1e-5), (np.float16, 2e-3)):
        mine = _softmax(minigrad, fn, x.astype(dtype), -1, False)
        theirs = _softmax(torch, fn, x.astype(dtype), -1, False)
        _close(mine, theirs, tol, tol)
    # a float16 input computed in float32 as asked: a float32 result, a float16 gradient
    mine = _softmax(minigrad, fn, x.astype(np.float16), 1, False, dtype=minigrad.float32)
    theirs = _softmax(torch, fn, x.astype(np.float16), 1, False, dtype=torch.float32)
    _close(mine[:1], theirs[:1], 1e-5, 1e-6)
    _close(mine[1:], theirs[1:], 2e-3, 2e-3)


# ------------------------------------------------------------------------------------------
# cross_entropy and nll_loss
# ------------------------------------------------------------------------------------------
def _loss(lib, fn, x, target, kwargs, create_graph):
    xt = lib.tensor(x, requires_grad=True)
    kw = dict(kwargs)
    if "weight" in kw:
        kw["weight"] = lib.tensor(kw["weight"])
    y = getattr(lib.nn.functional, fn)(xt, lib.tensor(target), **kw)
    gy = lib.tensor((np.arange(y.numel()) % 5 + 1.0).reshape(tuple(y.shape)) / 3,
                    requires_grad=create_graph)
    gx, = lib.autograd.grad(y, xt, gy, create_graph=create_graph)
    out = [y.detach().numpy(), gx.detach().numpy()]
    if create_graph and gx.requires_grad:
        second = lib.autograd.grad((gx * gx).sum() + (gx * xt * xt).sum(), [xt, gy],
                                   allow_unused=True)
        out += [np.zeros(0) if g is None else g.numpy() for g in second]
    return out


LOSS_SHAPES = [((6, 5), (6,)), ((5,), ()), ((3, 4, 2, 3), (3, 2, 3)), ((2, 3, 5), (2, 5))]
# ("weight": one per class, made by the test)
LOSS_ARGS = [{}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 2},
             {"weight": "w"}, {"weight": "w", "ignore_index": 0},
             {"label_smoothing": 0.3}, {"label_smoothing": 0.2, "reduction": "none",
                                        "weight": "w", "ignore_index": 1}]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("fn, kwargs", [("cross_entropy", kw) for kw in LOSS_ARGS] +
                         [("nll_loss", kw) for kw in LOSS_ARGS if "label_smoothing" not in kw],
                         ids=str)
@pytest.mark.parametrize("shapes", LOSS_SHAPES, ids=str)
def test_class_losses_match_torch(shapes, fn, kwargs, create_graph):
    shape, tshape = shapes
    rng = np.random.default_rng(len(shape) + len(kwargs))
    c = shape[1] if len(shape) > 1 else shape[0]
    kwargs = dict(kwargs)
    if "weight" in kwargs:
        kwargs["weight"] = np.linspace(0.2, 2.0, c)
    x = rng.standard_normal(shape) * 3
    target = rng.integers(0, c, tshape)
    _close(_loss(minigrad, fn, x, target, kwargs, create_graph),
           _loss(torch, fn, x, target, kwargs, create_graph), 1e-10, 1e-12)


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_every_target_ignored(fn):
    x = np.random.default_rng(5).standard_normal((4, 3))
    target = np.full(4, 1)
    for create_graph in (False, True):
        _close(_loss(minigrad, fn, x, target, {"ignore_index": 1}, create_graph)[:2],
               _loss(torch, fn, x, target, {"ignore_index": 1}, create_graph)[:2], 1e-12, 1e-12)


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
def test_large_and_extreme_scores(fn):
    x = np.random.default_rng(6).standard_normal((5, 4)) * 1e3
    x[1, 3] = -np.inf
    target = np.array([0, 2, 3, 1, 1])
    _close(_loss(minigrad, fn, x, target, {"reduction": "none"}, False),
           _loss(torch, fn, x, target, {"reduction": "none"}, False), 1e-10, 1e-12)


def test_float32_cross_entropy_matches_torch():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 1000)).astype(np.float32) * 4
    target = rng.integers(0, 1000, 64)
    for kwargs in ({}, {"label_smoothing": 0.1}, {"reduction": "none"}):
        _close(_loss(minigrad, "cross_entropy", x, target, kwargs, False),
               _loss(torch, "cross_entropy", x, target, kwargs, False), 1e-5, 1e-7)


@pytest.mark.parametrize("target, error", [
    ([0, 5, 1], IndexError), ([0, -3, 1], IndexError), ([0, -100, 1], None),
])
def test_target_range_checks(target, error):
    x = minigrad.zeros(3, 5)
    t = minigrad.tensor(target)
    for fn in (minigrad.nn.functional.cross_entropy, minigrad.nn.functional.nll_loss):
        if error is None:
            fn(x, t)                        # -100: ignored, not out of range
        else:
            with pytest.raises(error, match="out of bounds"):
                fn(x, t)
    assert minigrad.nn.functional.cross_entropy(
        x, minigrad.tensor([0, 1, 2], dtype=minigrad.uint8)).shape == ()
