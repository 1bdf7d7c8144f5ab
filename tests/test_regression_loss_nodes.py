"""smooth_l1_loss and huber_loss as one elementwise node each (``ops/regression_loss.py``:
``SmoothL1``, ``Huber``), side by side with PyTorch: values and first derivatives bit for bit
in float32 and float64 (NaN, inf, the band's edges, 0-d, broadcasting, every reduction), the
second derivatives through autograd (1 / beta or 1 inside the band, 0 outside and on its edge,
as PyTorch's double backward), node names, and the refusals unchanged."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((5, 7)) * 2
X[0, :5] = [np.nan, np.inf, 1.0, -1.0, -np.inf]
Y = RNG.standard_normal((5, 7)) * 0.1
Y[0, 2:4] = 0.0
W = np.arange(35.0).reshape(5, 7) - 17


def _run(lib, name, kw, dtype, reduction, x=X, y=Y, order=2):
    xt = lib.tensor(x.astype(dtype), requires_grad=True)
    yt = lib.tensor(y.astype(dtype), requires_grad=True)
    loss = getattr(lib.nn.functional, name)(xt, yt, reduction=reduction, **kw)
    total = (loss * lib.tensor(W[:loss.shape[0], :loss.shape[1]].astype(dtype))
             if loss.ndim == 2 else loss).sum()
    gx, gy = lib.autograd.grad(total, (xt, yt), create_graph=order > 1)
    out = [loss.detach().numpy(), gx.detach().numpy(), gy.detach().numpy(), loss.grad_fn.name()]
    if order > 1:
        second = lib.autograd.grad((gx[1:] * gx[1:]).sum() + gy[1:].sum(), (xt, yt),
                                   allow_unused=True)
        out += [None if s is None else s.numpy() for s in second]
    return out


def _same(mine, theirs, exact=True):
    assert mine[3] == theirs[3]
    for m, t in zip(mine[:3] + mine[4:], theirs[:3] + theirs[4:]):
        assert (m is None) == (t is None)
        if t is None:
            continue
        assert m.dtype == t.dtype and m.shape == t.shape
        if exact:
            np.testing.assert_array_equal(m, t)
        else:
            np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name, kw", [("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                      ("smooth_l1_loss", {"beta": 3.0}), ("huber_loss", {}),
                                      ("huber_loss", {"delta": 0.25}),
                                      ("huber_loss", {"delta": 2.0})])
def test_values_and_gradients_as_torch(name, kw, reduction, dtype):
    mine = _run(minigrad, name, kw, dtype, reduction, order=1)
    theirs = _run(torch, name, kw, dtype, reduction, order=1)
    # (a mean is one division of a sum whose order may differ: the rest bit for bit)
    _same(mine, theirs, exact=reduction != "mean")


@pytest.mark.parametrize("name, kw", [("smooth_l1_loss", {"beta": 0.7}), ("huber_loss",
                                                                         {"delta": 1.5})])
def test_second_derivatives_as_torch(name, kw):
    x = X[1:].copy()
    x[0, :2] = [0.7, -1.5]                  # on the band's edges
    y = np.zeros_like(x)
    _same(_run(minigrad, name, kw, "float64", "none", x, y),
          _run(torch, name, kw, "float64", "none", x, y), exact=False)


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
@pytest.mark.parametrize("x, y", [(3.0, 1.0), (0.25, 0.0), ([1.0, 5.0], [0.0])])
def test_zero_dim_and_broadcast(name, x, y):
    results = []
    for lib in (torch, minigrad):
        xt = lib.tensor(x, dtype=lib.float64, requires_grad=True)
        yt = lib.tensor(y, dtype=lib.float64)
        with warnings.catch_warnings():      # (a target of another size warns, alike)
            warnings.simplefilter("ignore")
            loss = getattr(lib.nn.functional, name)(xt, yt, reduction="none")
        g, = lib.autograd.grad(loss.sum(), xt)
        results.append((loss.detach().numpy(), g.numpy()))
    for m, t in zip(results[1], results[0]):
        assert m.shape == t.shape
        np.testing.assert_array_equal(m, t)


def test_refusals_unchanged():
    for lib in (torch, minigrad):
        x = lib.ones(3)
        with pytest.raises(RuntimeError, match="does not support negative values for beta"):
            lib.nn.functional.smooth_l1_loss(x, x, beta=-1.0)
        with pytest.raises(RuntimeError, match="does not support non-positive values for delta"):
            lib.nn.functional.huber_loss(x, x, delta=0.0)
