"""cross_entropy / nll_loss after round 21: the fused block-wise log-softmax forward and
in-place backward (float32 / float64 against torch for every option), the paths split over
two threads, second order, and 16-bit reductions rounded bit for bit as PyTorch's."""
import itertools

import numpy as np
import pytest
import torch

import minigrad
import minigrad.nn.functional as MF
import torch.nn.functional as TF

LIBS = ((torch, TF), (minigrad, MF))


def _run(x, target, dtype, kw, weight=None, grad=True):
    """(value, gradient) from torch and from minigrad, as float64 numpy arrays."""
    outs = []
    for lib, F in LIBS:
        xt = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=grad)
        tt = lib.tensor(target)
        k = dict(kw)
        if weight is not None:
            k["weight"] = lib.tensor(weight, dtype=getattr(lib, dtype))
        out = F.cross_entropy(xt, tt, **k)
        if grad:
            (out * lib.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)),
                              dtype=getattr(lib, dtype))).sum().backward()
        gx = xt.grad.double().numpy() if grad else None
        outs.append((out.detach().double().numpy(), gx))
    return outs


def _inputs(shape, seed=0, probs=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    c = shape[0] if len(shape) == 1 else shape[1]
    if probs:
        t = rng.random(shape)
        t /= t.sum(axis=0 if len(shape) == 1 else 1, keepdims=True)
    else:
        t = rng.integers(0, c, () if len(shape) == 1 else (shape[0],) + tuple(shape[2:]))
    return x, t, rng.random(c) + 0.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(6,), (9, 7), (4, 5, 3)])
@pytest.mark.parametrize("reduction,weighted,ignore,smoothing", list(itertools.product(
    ["mean", "sum", "none"], [False, True], [-100, 2], [0.0, 0.25])))
def test_class_targets_match_torch(dtype, shape, reduction, weighted, ignore, smoothing):
    x, t, w = _inputs(shape, seed=len(shape))
    kw = dict(reduction=reduction, ignore_index=ignore, label_smoothing=smoothing)
    (tv, tg), (mv, mg) = _run(x, t, dtype, kw, w if weighted else None)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mv, tv, **tol)
    np.testing.assert_allclose(mg, tg, **tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(5,), (8, 6), (3, 4, 5)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted,smoothing", [(False, 0.0), (True, 0.0), (True, 0.3)])
def test_probability_targets_match_torch(dtype, shape, reduction, weighted, smoothing):
    x, t, w = _inputs(shape, seed=3, probs=True)
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    (tv, tg), (mv, mg) = _run(x, t, dtype, kw, w if weighted else None)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(mv, tv, **tol)
    np.testing.assert_allclose(mg, tg, **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_empty_and_all_ignored_batches(reduction, smoothing):
    kw = dict(reduction=reduction, label_smoothing=smoothing, ignore_index=1)
    (tv, tg), (mv, mg) = _run(np.zeros((0, 4)), np.zeros(0, np.int64), "float32", kw)
    np.testing.assert_array_equal(mv, tv)
    assert mg.shape == tg.shape
    x, _, w = _inputs((5, 4))
    for weight in (None, w):
        (tv, tg), (mv, mg) = _run(x, np.ones(5, np.int64), "float64", kw, weight)
        np.testing.assert_allclose(mv, tv, equal_nan=True)
        np.testing.assert_allclose(mg, tg, equal_nan=True, atol=1e-14)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("kw", [dict(), dict(label_smoothing=0.2, reduction="sum"),
                                dict(ignore_index=3, reduction="none"), "weight"])
def test_rows_split_over_threads(threads, kw):
    # (2048, 1000) float32: 8 MB of logits, over parallel.MIN_PARALLEL_BYTES: split at 2
    x, t, w = _inputs((2048, 1000), seed=5)
    weight = w if kw == "weight" else None
    kw = {} if kw == "weight" else kw
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        (tv, tg), (mv, mg) = _run(x, t, "float32", kw, weight)
    finally:
        minigrad.set_num_threads(before)
    np.testing.assert_allclose(mv, tv, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(mg, tg, rtol=2e-5, atol=1e-8)


def test_second_backward_through_a_retained_graph():
    x, t, w = _inputs((64, 30), seed=6)
    grads = []
    for lib, F in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, lib.tensor(t), weight=lib.tensor(w), label_smoothing=0.1)
        g1, = lib.autograd.grad(loss, xt, retain_graph=True)
        g2, = lib.autograd.grad(loss * 2, xt)
        grads.append((g1.numpy(), g2.numpy()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("shape", [(7,), (6, 5), (3, 4, 2)])
@pytest.mark.parametrize("kw", [dict(), dict(reduction="none", ignore_index=1),
                                dict(label_smoothing=0.3, weight=True),
                                dict(reduction="sum", label_smoothing=0.2)])
def test_second_order_matches_torch(shape, kw):
    x, t, w = _inputs(shape, seed=8)
    res = []
    for lib, F in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        k = dict(kw)
        if k.pop("weight", False):
            k["weight"] = lib.tensor(w)
        loss = F.cross_entropy(xt, lib.tensor(t), **k)
        v = lib.tensor(np.linspace(-1, 1, loss.numel()).reshape(tuple(loss.shape)))
        g, = lib.autograd.grad((loss * v).sum(), xt, create_graph=True)
        u = lib.tensor(np.cos(np.arange(x.size)).reshape(shape))
        gg, = lib.autograd.grad((g * u).sum(), xt)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-10, atol=1e-13)


_16BIT_CASES = [dict(), dict(reduction="sum"), dict(label_smoothing=0.1),
                dict(label_smoothing=0.2, reduction="none"), dict(weight=True),
                dict(weight=True, label_smoothing=0.3), dict(ignore_index=1),
                dict(weight=True, reduction="sum", ignore_index=2)]
_16BIT_SHAPES = [(7, 5), (64, 10), (33, 100), (4, 6, 5), (300, 17), (9,), (1000, 3)]


def _bits(a):
    """The float32 bits of a 16-bit tensor's values (every NaN as one: the payloads of the
    two libraries' NaNs differ, which no arithmetic reads)."""
    v = a.detach().float().numpy()
    return np.where(np.isnan(v), np.float32(np.nan), v).view(np.uint32)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", range(len(_16BIT_CASES)))
def test_16bit_cross_entropy_values_are_torchs_bit_for_bit(dtype, case):
    for seed in range(12):
        shape = _16BIT_SHAPES[seed % len(_16BIT_SHAPES)]
        x, t, w = _inputs(shape, seed=seed)
        outs = []
        for lib, F in LIBS:
            k = dict(_16BIT_CASES[case])
            if k.pop("weight", False):
                k["weight"] = lib.tensor(w).to(getattr(lib, dtype))
            xt = lib.tensor(x, dtype=lib.float32).to(getattr(lib, dtype))
            outs.append(_bits(F.cross_entropy(xt, lib.tensor(t), **k)))
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"seed {seed} shape {shape}")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("kw", [dict(), dict(reduction="sum"), dict(weight=True),
                                dict(weight=True, ignore_index=2, reduction="sum"),
                                dict(reduction="none", weight=True)])
def test_16bit_nll_loss_values_and_gradients_are_torchs(dtype, kw):
    for seed in range(12):
        shape = _16BIT_SHAPES[seed % len(_16BIT_SHAPES)]
        x, t, w = _inputs(shape, seed=seed)
        outs = []
        for lib, F in LIBS:
            k = dict(kw)
            if k.pop("weight", False):
                k["weight"] = lib.tensor(w).to(getattr(lib, dtype))
            lp = F.log_softmax(lib.tensor(x, dtype=lib.float32), 0 if len(shape) == 1 else 1)
            lp = lp.to(getattr(lib, dtype)).detach().requires_grad_()
            out = F.nll_loss(lp, lib.tensor(t), **k)
            out.sum().backward() if out.ndim else out.backward()
            outs.append((_bits(out), _bits(lp.grad)))
        np.testing.assert_array_equal(outs[1][0], outs[0][0], err_msg=f"seed {seed}")
        np.testing.assert_array_equal(outs[1][1], outs[0][1], err_msg=f"seed {seed}")


@pytest.mark.parametrize("kw", [dict(), dict(label_smoothing=0.1, reduction="sum"),
                                dict(ignore_index=0, weight=True)])
def test_bfloat16_cross_entropy_gradients_are_torchs(kw):
    for seed in range(8):
        shape = _16BIT_SHAPES[seed % len(_16BIT_SHAPES)]
        x, t, w = _inputs(shape, seed=seed)
        outs = []
        for lib, F in LIBS:
            k = dict(kw)
            if k.pop("weight", False):
                k["weight"] = lib.tensor(w).to(lib.bfloat16)
            xt = lib.tensor(x, dtype=lib.float32).to(lib.bfloat16).requires_grad_()
            F.cross_entropy(xt, lib.tensor(t), **k).backward()
            outs.append(_bits(xt.grad))
        np.testing.assert_array_equal(outs[1], outs[0], err_msg=f"seed {seed} shape {shape}")


def test_16bit_cross_entropy_second_order_still_runs():
    x, t, _ = _inputs((6, 5))
    res = []
    for lib, F in LIBS:
        xt = lib.tensor(x, dtype=lib.float32).half().requires_grad_()
        g, = lib.autograd.grad(F.cross_entropy(xt, lib.tensor(t), label_smoothing=0.1), xt,
                               create_graph=True)
        gg, = lib.autograd.grad(g.float().pow(2).sum(), xt)
        res.append(gg.float().numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=0.05, atol=2e-3)
