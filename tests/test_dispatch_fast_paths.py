"""The fast paths that cut per-op Python overhead on small tensors give PyTorch's results.

Covered: ``Function.apply``'s cached quiet numpy error setting (inf/nan silently, the
caller's numpy setting left as it was), its inline device check and single-pass graph
recording, ``linear``'s plain-addmm path, the Python-number operand path of ``+ - * /``,
the cast without its own errstate, ``expand``'s checks and cross entropy's target-rank
error (now formatted only when raised). Every test runs torch beside minigrad.
"""
import warnings

import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)


def _run(fn):
    """fn(lib) for torch and minigrad: each result, or the exception's (type name, message)."""
    out = []
    for lib in LIBS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")          # any warning fails the comparison
                out.append(fn(lib))
        except Exception as exc:       # noqa: BLE001 -- compared below
            out.append((type(exc).__name__, str(exc)))
    return out


def _values(t):
    return np.asarray(t.detach().double().numpy())


# -- Function.apply: IEEE results, silently, numpy's own setting untouched ---------------------
@pytest.mark.parametrize("expr", ["x / 0", "x.log()", "(x * 1e308) * 10", "x.exp() * 0",
                                  "x.sqrt()", "x - x.exp() * 1e308"])
def test_ieee_results_silent_and_numpy_setting_kept(expr):
    data = np.array([0.0, 1.0, -1.0, 800.0])
    before = np.geterr()
    res = _run(lambda L: _values(eval(expr, {}, {"x": L.tensor(data)})))
    np.testing.assert_array_equal(res[0], res[1])
    assert np.geterr() == before


def test_user_numpy_setting_kept_around_ops():
    """Inside the caller's own np.errstate the ops stay silent and the setting survives."""
    data = np.array([0.0, 2.0])
    with np.errstate(all="raise"):
        res = _run(lambda L: _values(L.tensor(data).log() / L.tensor(data)))
        assert np.geterr()["divide"] == "raise"
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
    np.testing.assert_array_equal(res[0], res[1])


def test_cast_out_of_range_silent():
    data = np.array([np.nan, 1e10, 1e300, -1e300, 70000.0])
    for dt in ("float16", "float32"):
        res = _run(lambda L: _values(L.tensor(data).to(getattr(L, dt))))
        np.testing.assert_array_equal(res[0], res[1])


@pytest.mark.parametrize("n_in", [2, 3])
def test_graph_recording(n_in):
    """needs_input_grad, next_functions and gradients of ops with 2 and 3 inputs, some of
    which need no gradient."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((3, 4)) for _ in range(3)]

    def fn(L):
        a = L.tensor(arrays[0], requires_grad=True)
        b = L.tensor(arrays[1])
        c = L.tensor(arrays[2], requires_grad=True)
        h = a * 2
        y = h * b if n_in == 2 else L.addcmul(h, b, c)
        names = [None if f is None else type(f).__name__ for f, _ in y.grad_fn.next_functions]
        y.sum().backward()
        return names, _values(a.grad), None if c.grad is None else _values(c.grad)

    (n_t, ga_t, gc_t), (n_m, ga_m, gc_m) = _run(fn)
    if n_in == 2:       # (addcmul's graph is minigrad's own composition: not compared)
        assert n_t == n_m
    np.testing.assert_allclose(ga_m, ga_t, rtol=1e-12)
    assert (gc_t is None) == (gc_m is None)
    if gc_t is not None:
        np.testing.assert_allclose(gc_m, gc_t, rtol=1e-12)


def test_same_tensor_twice():
    """x * x (one array for both inputs) keeps its gradient 2x."""
    data = np.array([1.0, -2.0, 3.0])

    def fn(L):
        x = L.tensor(data, requires_grad=True)
        (x * x).sum().backward()
        return _values(x.grad)

    res = _run(fn)
    np.testing.assert_array_equal(res[0], res[1])


# -- linear: the plain (B, in) x (out, in) + (out,) case ------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("grads", [(True, True, True), (True, False, False),
                                   (False, True, True), (False, False, False)])
def test_linear_plain_addmm(dtype, grads):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in ((5, 4), (3, 4), (3,)))

    def fn(L):
        d = getattr(L, dtype)
        ts = [L.tensor(v, dtype=d, requires_grad=g) for v, g in zip((x, w, b), grads)]
        y = L.nn.functional.linear(*ts)
        name = None if y.grad_fn is None else type(y.grad_fn).__name__
        if y.requires_grad:
            (y * y).sum().backward()
        return (str(y.dtype).split(".")[1], y.requires_grad, name, _values(y),
                [None if t.grad is None else _values(t.grad) for t in ts])

    (dt_t, rg_t, n_t, y_t, g_t), (dt_m, rg_m, n_m, y_m, g_m) = _run(fn)
    assert (dt_t, rg_t, n_t) == (dt_m, rg_m, n_m)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(y_m, y_t, rtol=tol, atol=tol)
    for gt, gm in zip(g_t, g_m):
        assert (gt is None) == (gm is None)
        if gt is not None:
            np.testing.assert_allclose(gm, gt, rtol=tol, atol=tol)


@pytest.mark.parametrize("case", ["bias_len", "in_features", "dtype_mix", "bias_dtype",
                                  "bias_2d", "weight_3d"])
def test_linear_refusals_outside_fast_path(case):
    """What the plain path must not take still raises PyTorch's error type."""
    def fn(L):
        x = L.tensor(np.ones((2, 4)), dtype=L.float32)
        w = L.tensor(np.ones((3, 4)), dtype=L.float32)
        b = L.tensor(np.ones(3), dtype=L.float32)
        if case == "bias_len":
            b = L.tensor(np.ones(5), dtype=L.float32)
        elif case == "in_features":
            x = L.tensor(np.ones((2, 5)), dtype=L.float32)
        elif case == "dtype_mix":
            x = x.double()
        elif case == "bias_dtype":
            b = b.double()
        elif case == "bias_2d":
            b = L.tensor(np.ones((2, 3)), dtype=L.float32)
        else:
            w = L.tensor(np.ones((1, 3, 4)), dtype=L.float32)
        return _values(L.nn.functional.linear(x, w, b))

    res = _run(fn)
    if isinstance(res[0], tuple):
        assert isinstance(res[1], tuple) and res[1][0] == res[0][0], res
    else:
        np.testing.assert_allclose(res[1], res[0])


# -- a Python number beside a tensor ----------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "uint8"])
@pytest.mark.parametrize("value", [1.0, 2, 0.1, -3, 65504.0, 65519.0, 1e6, 1e300, 3.4e38,
                                   float("nan"), float("inf"), 2 ** 63, 2 ** 64, -2 ** 63 - 1,
                                   True])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "rsub"])
def test_number_operand(dtype, value, op):
    data = np.array([1.5, -2.0, 0.0])

    def fn(L):
        x = L.tensor(data).to(getattr(L, dtype))
        y = {"add": lambda: x + value, "sub": lambda: x - value, "mul": lambda: x * value,
             "div": lambda: x / value, "rsub": lambda: value - x}[op]()
        return str(y.dtype).split(".")[1], _values(y)

    res = _run(fn)
    if isinstance(res[0][1], str):          # an exception on torch's side
        assert isinstance(res[1][1], str) and res[1][0] == res[0][0], res
        return
    assert res[0][0] == res[1][0]
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-6, equal_nan=True)


def test_number_operand_gradient():
    data = np.array([1.5, -2.0])

    def fn(L):
        x = L.tensor(data, dtype=L.float32, requires_grad=True)
        y = (x * 0.5 + 1) - 3.0 * x / 2
        y.sum().backward()
        return type(y.grad_fn).__name__, _values(y), _values(x.grad)

    (n_t, y_t, g_t), (n_m, y_m, g_m) = _run(fn)
    assert n_t == n_m
    np.testing.assert_allclose(y_m, y_t, rtol=1e-6)
    np.testing.assert_allclose(g_m, g_t, rtol=1e-6)


# -- expand -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, sizes", [((1, 4), (3, 4)), ((1, 4), (2, -1, -1)),
                                          ((2, 4), (3, 4)), ((1, 4), (-1, -1, 4)),
                                          ((1, 4), (4,)), ((3, 1), (3, -2))])
def test_expand(shape, sizes):
    data = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)

    def fn(L):
        return _values(L.tensor(data).expand(*sizes))

    res = _run(fn)
    if isinstance(res[0], tuple):
        assert isinstance(res[1], tuple) and res[1][0] == res[0][0], res
    else:
        np.testing.assert_array_equal(res[1], res[0])


# -- cross entropy's target rank --------------------------------------------------------------
@pytest.mark.parametrize("scores, target", [((4, 3), (4, 1)), ((3,), (1, 1)), ((4, 3), (4,)),
                                            ((3,), ())])
def test_cross_entropy_target_rank(scores, target):
    def fn(L):
        s = L.tensor(np.linspace(-1, 1, int(np.prod(scores))).reshape(scores))
        t = L.tensor(np.ones(target, dtype=np.int64))
        return _values(L.nn.functional.cross_entropy(s, t))

    res = _run(fn)
    if isinstance(res[0], tuple):
        assert isinstance(res[1], tuple) and res[1][0] == res[0][0], res
        assert "multi-target not supported" in res[1][1]
    else:
        np.testing.assert_allclose(res[1], res[0], rtol=1e-12)


@pytest.mark.parametrize("scores, target", [((4, 3), (4,)), ((2, 3, 5), (2, 5)), ((3,), ()),
                                            ((0, 3), (0,))])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_values_and_gradient(scores, target, reduction):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(scores)
    t = rng.integers(0, 3, target)

    def fn(L):
        s = L.tensor(x, requires_grad=True)
        loss = L.nn.functional.cross_entropy(s, L.tensor(t), reduction=reduction)
        loss.sum().backward()
        return type(loss.grad_fn).__name__, tuple(loss.shape), _values(loss), _values(s.grad)

    (n_t, sh_t, l_t, g_t), (n_m, sh_m, l_m, g_m) = _run(fn)
    assert sh_t == sh_m
    # (a 1-d 'none' loss ends in a view node of minigrad's own: its name is not compared)
    if len(scores) > 1 or reduction != "none":
        assert n_t == n_m
    np.testing.assert_allclose(l_m, l_t, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(g_m, g_t, rtol=1e-12, atol=1e-15)
