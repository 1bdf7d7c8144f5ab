"""Round 34: the one-node layer_norm and GELU against PyTorch on inputs that take every branch
of their fast paths.

layer_norm (``NativeLayerNorm``, its row kernels in ``_norm_rows``): one row, rows that do not
fill the last block of rows, inputs cut over two threads, non-contiguous inputs, weight and
bias each present or not (and the LayerNorm layer without them), normalized_shape of several
dims, rows whose mean is large beside their spread, empty and 0-d inputs, and the second
derivative through ``create_graph``.

GELU (both forms) and SiLU (``activation_nodes._SlopeNode``): their forward keeps the whole
derivative when a backward may follow and only block-sized scratch otherwise, so the value
must be the same either way, the kept slope must survive a retained graph, a write into the
input after the forward must still be refused, and the gradients of an expanded upstream (a
sum's), of non-contiguous inputs and the second derivative must match.
"""
import numpy as np
import pytest
import torch

import minigrad as mg


def _tol(dtype):
    return dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-5)


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def _threads(n):
    """A context that runs minigrad on n threads."""
    class _Ctx:
        def __enter__(self):
            self.old = mg.get_num_threads()
            mg.set_num_threads(n)

        def __exit__(self, *exc):
            mg.set_num_threads(self.old)
    return _Ctx()


# ------------------------------------------------------------------------------------------
# layer_norm
# ------------------------------------------------------------------------------------------
def _layer_norm_step(lib, x, shape, w, b, g, eps=1e-5, make=None):
    """y and the gradients of x, w, b (None where absent) after y.backward(g)."""
    X = lib.tensor(x, requires_grad=True)
    W = None if w is None else lib.tensor(w, requires_grad=True)
    B = None if b is None else lib.tensor(b, requires_grad=True)
    X_in = X if make is None else make(X)
    y = lib.nn.functional.layer_norm(X_in, shape, W, B, eps)
    y.backward(lib.tensor(g))
    return [_np(y), _np(X.grad)] + [None if t is None else _np(t.grad) for t in (W, B)]


def _check_layer_norm(shape_x, k, dtype, affine=(True, True), threads=1, make=None, seed=0,
                      mean=0.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape_x) + mean).astype(dtype)
    y_shape = shape_x if make is None else tuple(make(torch.tensor(x)).shape)
    shape = tuple(y_shape[len(y_shape) - k:])
    w = rng.standard_normal(shape).astype(dtype) if affine[0] else None
    b = rng.standard_normal(shape).astype(dtype) if affine[1] else None
    g = rng.standard_normal(y_shape).astype(dtype)
    with _threads(threads):
        mine = _layer_norm_step(mg, x, shape, w, b, g, make=make)
    theirs = _layer_norm_step(torch, x, shape, w, b, g, make=make)
    for a, t in zip(mine, theirs):
        assert (a is None) == (t is None)
        if a is not None:
            scale = max(1.0, float(np.abs(t).max())) if t.size else 1.0
            np.testing.assert_allclose(a, t, rtol=_tol(dtype)["rtol"],
                                       atol=_tol(dtype)["atol"] * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape_x,k", [
    ((1, 768), 1),                  # one row
    ((200, 768), 1),                # three blocks of rows, the last one short
    ((3, 7, 33), 1),                # rows shorter than the matrix product's (row_dots' einsum)
    ((4, 6, 5), 2),                 # normalized_shape of two dims
    ((2, 3, 4, 5), 3),              # of three
    ((5, 1), 1),                    # rows of one number: all zero, the gradient too
])
def test_layer_norm_shapes(shape_x, k, dtype):
    _check_layer_norm(shape_x, k, dtype)


@pytest.mark.parametrize("affine", [(True, False), (False, True), (False, False)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_weight_or_bias_absent(affine, dtype):
    _check_layer_norm((130, 96), 1, dtype, affine=affine)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_two_threads(dtype):
    # 1600 x 768 float32 rows: 4.9 MB, enough for run_split to cut them in two; the
    # pieces' partial sums of dweight and dbias added in row order
    _check_layer_norm((1600, 768), 1, dtype, threads=2)


@pytest.mark.parametrize("make", [
    lambda t: t.transpose(0, 1),            # rows strided
    lambda t: t[:, ::2],                    # every other number of a row
    lambda t: t[::3],                       # every third row
], ids=["transposed", "strided_row", "strided_rows"])
def test_layer_norm_non_contiguous(make):
    _check_layer_norm((40, 64), 1, np.float64, make=make)


@pytest.mark.parametrize("mean", [1e3, -3e4])
def test_layer_norm_rows_of_large_mean_float32(mean):
    # float32 rows whose mean is far larger than their spread: the centred two-pass form
    # keeps the digits (compared with float64 PyTorch's on the same float32 numbers)
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((90, 256)) + mean).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w = rng.standard_normal(256).astype(np.float32)
    b = rng.standard_normal(256).astype(np.float32)
    mine = _layer_norm_step(mg, x, (256,), w, b, g)
    ref = _layer_norm_step(torch, x.astype(np.float64), (256,), w.astype(np.float64),
                           b.astype(np.float64), g.astype(np.float64))
    # what float32 numbers of this size can hold: x's own rounding moves x_hat by about
    # |mean| / std float32 units
    tol = 3e-6 * abs(mean)
    for a, t in zip(mine, ref):
        np.testing.assert_allclose(a, t, rtol=0, atol=tol * max(1.0, np.abs(t).max()))


@pytest.mark.parametrize("kwargs", [dict(elementwise_affine=False), dict(bias=False),
                                    dict()])
def test_layer_norm_layer_options(kwargs):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((7, 11, 24))
    g = rng.standard_normal(x.shape)
    out = []
    for lib in (mg, torch):
        layer = lib.nn.LayerNorm(24, dtype=lib.float64, **kwargs)
        with lib.no_grad():
            for p in layer.parameters():
                p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
        rng = np.random.default_rng(4)              # the same parameters on both sides
        rng.standard_normal(x.shape)
        rng.standard_normal(x.shape)
        X = lib.tensor(x, requires_grad=True)
        y = layer(X)
        y.backward(lib.tensor(g))
        out.append([_np(y), _np(X.grad)] + [_np(p.grad) for p in layer.parameters()])
    assert len(out[0]) == len(out[1])
    for a, t in zip(*out):
        np.testing.assert_allclose(a, t, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("affine", [(True, True), (False, False)])
def test_layer_norm_second_order(affine):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4, 6))
    w = rng.standard_normal(6) if affine[0] else None
    b = rng.standard_normal(6) if affine[1] else None
    g = rng.standard_normal(x.shape)
    v = rng.standard_normal(x.shape)
    res = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        W = None if w is None else lib.tensor(w, requires_grad=True)
        B = None if b is None else lib.tensor(b, requires_grad=True)
        y = lib.nn.functional.layer_norm(X, (6,), W, B)
        leaves = [t for t in (X, W) if t is not None]
        first = lib.autograd.grad(y, leaves, lib.tensor(g), create_graph=True)
        second = lib.autograd.grad(sum((f * lib.tensor(v if f.shape == X.shape else
                                                        v[0, 0])).sum() for f in first),
                                   leaves)
        res.append([_np(t) for t in first + second])
    for a, t in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9)


def _outcome(lib, x, shape):
    try:
        X = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.layer_norm(X, shape)
        y.sum().backward()
        return _np(y), _np(X.grad)
    except Exception as e:              # noqa: BLE001 - compared with PyTorch's
        return type(e), str(e)


@pytest.mark.parametrize("shape_x,shape", [((0, 8), (8,)), ((2, 0, 8), (8,)), ((3, 0), (0,)),
                                           ((), (1,)), ((), ())])
def test_layer_norm_empty_and_0d(shape_x, shape):
    x = np.ones(shape_x)
    mine, theirs = _outcome(mg, x, shape), _outcome(torch, x, shape)
    if isinstance(theirs[0], type):
        assert mine[0] is theirs[0]
        assert mine[1] == theirs[1]
    else:
        for a, t in zip(mine, theirs):
            assert a.shape == t.shape
            np.testing.assert_allclose(a, t, equal_nan=True)


# ------------------------------------------------------------------------------------------
# GELU (exact, "none", and tanh form) and SiLU: the slope kept by the forward
# ------------------------------------------------------------------------------------------
ACT = {"none": lambda L, x: L.nn.functional.gelu(x),
       "tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
       "silu": lambda L, x: L.nn.functional.silu(x)}
APPROX = list(ACT)
EDGES = [-np.inf, -1e30, -40.0, -6.0, -1.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 6.0, 40.0, 1e30,
         np.inf, np.nan]


def _gelu_input(dtype, n, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([EDGES, rng.standard_normal(n) * 4]).astype(dtype)


@pytest.mark.parametrize("approximate", APPROX)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_slope_node_value_same_with_and_without_slope(approximate, dtype):
    # several blocks of 64K numbers; the slope kept (grad mode, an input that needs it) or
    # not (no_grad; an input that needs no gradient) must not change the value
    x = _gelu_input(dtype, 200_000)
    X = mg.tensor(x, requires_grad=True)
    y = ACT[approximate](mg, X)
    with mg.no_grad():
        y_nograd = ACT[approximate](mg, X)
    y_plain = ACT[approximate](mg, mg.tensor(x))
    assert y_nograd.grad_fn is None and y_plain.grad_fn is None
    np.testing.assert_array_equal(_np(y_nograd), _np(y))
    np.testing.assert_array_equal(_np(y_plain), _np(y))
    theirs = ACT[approximate](torch, torch.tensor(x)).numpy()
    finite = np.isfinite(x)       # (torch's float32 gelu(inf) is NaN; its float64 one inf)
    np.testing.assert_allclose(_np(y)[finite], theirs[finite], **_tol(dtype))


@pytest.mark.parametrize("approximate", APPROX)
@pytest.mark.parametrize("threads", [1, 2])
def test_slope_node_gradient_retained_graph(approximate, threads):
    # a retained graph keeps the slope: the second backward must give the same gradient
    x = _gelu_input(np.float32, 1_200_000, seed=1)          # 4.8 MB: cut over two threads
    g = np.random.default_rng(2).standard_normal(x.size).astype(np.float32)
    with _threads(threads):
        X = mg.tensor(x, requires_grad=True)
        y = ACT[approximate](mg, X)
        y.backward(mg.tensor(g), retain_graph=True)
        first = _np(X.grad).copy()
        X.grad = None
        y.backward(mg.tensor(g))
        second = _np(X.grad)
    np.testing.assert_array_equal(first, second)
    Xt = torch.tensor(x, requires_grad=True)
    ACT[approximate](torch, Xt).backward(torch.tensor(g))
    finite = np.isfinite(x)
    np.testing.assert_allclose(first[finite], Xt.grad.numpy()[finite], rtol=2e-6,
                               atol=1e-5 if approximate == "tanh" else 2e-6)


@pytest.mark.parametrize("approximate", APPROX)
def test_slope_node_gradient_of_sum_and_non_contiguous(approximate):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((300, 260)) * 3
    for make in (lambda t: t, lambda t: t.t(), lambda t: t[:, ::3], lambda t: t[::2, 1:]):
        res = []
        for lib in (mg, torch):
            X = lib.tensor(x, requires_grad=True)
            y = ACT[approximate](lib, make(X))
            y.sum().backward()                  # an expanded upstream gradient
            res.append((_np(y), _np(X.grad)))
        for a, t in zip(*res):
            np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("approximate", APPROX)
def test_slope_node_refuses_backward_after_input_written(approximate):
    # the backward no longer reads x, but x is still what the node saved: writing into it
    # after the forward must be refused, as PyTorch refuses it
    def attempt(lib):
        X = lib.tensor(np.linspace(-3, 3, 12), requires_grad=True)
        x = X * 1.0
        y = ACT[approximate](lib, x)
        x.add_(1.0)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return "modified by an inplace operation" in str(e)
        return False
    assert attempt(torch)
    assert attempt(mg)


@pytest.mark.parametrize("approximate", APPROX)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_slope_node_second_order(approximate, dtype):
    x = _gelu_input(dtype, 500, seed=7)[np.isfinite(_gelu_input(dtype, 500, seed=7))]
    x = x[np.abs(x) < 1e3]
    rng = np.random.default_rng(8)
    g = rng.standard_normal(x.size).astype(dtype)
    v = rng.standard_normal(x.size).astype(dtype)
    res = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        y = ACT[approximate](lib, X)
        first, = lib.autograd.grad(y, X, lib.tensor(g), create_graph=True)
        second, = lib.autograd.grad((first * lib.tensor(v)).sum(), X)
        res.append((_np(first), _np(second)))
    # float32: the second derivative of the tanh form has 1 - tanh^2 near tanh = -1, where
    # one float32 unit of tanh is ~1e-5 of it (PyTorch's composition rounds elsewhere)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else \
        dict(rtol=1e-5, atol=5e-5 if approximate == "tanh" else 1e-5)
    for a, t in zip(*res):
        np.testing.assert_allclose(a, t, **tol)


@pytest.mark.parametrize("approximate", APPROX)
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,)])
def test_slope_node_empty_0d_and_one(approximate, shape):
    x = np.full(shape, 0.75)
    res = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        y = ACT[approximate](lib, X)
        y.sum().backward()
        res.append((_np(y), _np(X.grad)))
    for a, t in zip(*res):
        assert a.shape == t.shape
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)


def test_slope_node_finite_differences():
    # first and second derivative of both forms against central differences in float64
    x = np.array([-7.0, -3.1, -1.0, -0.2, 0.0, 0.3, 1.7, 4.4, 8.0])
    h = 1e-6
    for approximate in APPROX:
        def f(a):
            return _np(ACT[approximate](mg, mg.tensor(a)))
        X = mg.tensor(x, requires_grad=True)
        first, = mg.autograd.grad(ACT[approximate](mg, X).sum(), X,
                                  create_graph=True)
        second, = mg.autograd.grad(first.sum(), X)
        np.testing.assert_allclose(_np(first), (f(x + h) - f(x - h)) / (2 * h), rtol=1e-7,
                                   atol=1e-8)
        d1 = lambda a: _np(mg.autograd.grad(                            # noqa: E731
            ACT[approximate](mg, a_t := mg.tensor(a, requires_grad=True)).sum(), a_t)[0])
        h2 = 1e-5
        np.testing.assert_allclose(_np(second), (d1(x + h2) - d1(x - h2)) / (2 * h2),
                                   rtol=1e-6, atol=1e-7)


def test_silu_inplace_and_layer():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((50, 70)) * 4
    res = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        h = X * 1.5
        y = lib.nn.functional.silu(h, inplace=True)
        z = lib.nn.SiLU()(X)
        (y * 2 + z).sum().backward()
        res.append((_np(y), _np(z), _np(X.grad)))
    for a, t in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-12, atol=1e-12)
