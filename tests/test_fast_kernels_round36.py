"""Round 36: the faster kernels against PyTorch.

cumsum of float32 rows (``_scan_blocks``: each row cut into chunks whose running sums are a
matrix product, a carry of the chunks before riding on each chunk's first number): values and
gradients (a reversed running sum) on rows that fill whole chunks or not, rows of every
length around the chunk size, several leading dims, non-contiguous and negative-stride
inputs, -0.0, inf and NaN inside a block (summed one by one instead), huge values, rows over
several blocks, and the second derivative. Float32 results must equal PyTorch's bit for bit
(both keep the sum in float64 and round once).

layer_norm's forward over many blocks of rows (``_norm_rows.layer_norm_rows``: invstd w and
b laid out as (k, D) blocks kept over the blocks): weight and bias each present or not,
non-contiguous inputs, rows of a large mean, two threads, float64 values and first and
second derivatives, float32 values and gradients.
"""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _norm_rows, _scan_blocks


def _np(t):
    return t.detach().numpy()


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
# cumsum
# ------------------------------------------------------------------------------------------
def _cumsum_step(lib, x, dim, g, make=None):
    X = lib.tensor(x, requires_grad=True)
    y = (X if make is None else make(X)).cumsum(dim)
    y.backward(lib.tensor(g))
    return _np(y), _np(X.grad)


def _check_cumsum(x, dim, make=None, seed=1):
    shape = tuple(make(torch.tensor(x)).shape) if make else x.shape
    g = np.random.default_rng(seed).standard_normal(shape).astype(x.dtype)
    got = _cumsum_step(mg, x, dim, g, make)
    want = _cumsum_step(torch, x, dim, g, make)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        if x.dtype == np.float32:
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(np.signbit(a), np.signbit(b))
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [64, 65, 79, 80, 127, 128, 300, 4096])
def test_cumsum_float32_rows_of_every_length(n):
    rows = max(1, (1 << 14) // n)
    x = np.random.default_rng(n).standard_normal((rows, n)).astype(np.float32)
    assert _scan_blocks.fits(x, n)
    _check_cumsum(x, 1)
    _check_cumsum(x, -1)


def test_cumsum_float32_many_blocks_and_leading_dims():
    x = np.random.default_rng(0).standard_normal((3, 40, 1030)).astype(np.float32)
    _check_cumsum(x, 2)


def test_cumsum_float32_two_threads():
    x = np.random.default_rng(10).standard_normal((512, 700)).astype(np.float32)
    x[300, 5] = np.nan                                  # one part summed one by one
    with _threads(2):
        _check_cumsum(x, 1)


def test_cumsum_float32_huge_and_tiny_values():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((64, 256)) * 1e30).astype(np.float32)
    x[::3] *= np.float32(1e-40)                        # subnormal rows
    _check_cumsum(x, 1)


@pytest.mark.parametrize("shape, make", [
    ((256, 200), lambda t: t.transpose(0, 1)),         # the scanned dim not contiguous
    ((200, 512), lambda t: t[:, ::2]),                 # strided rows
    ((200, 256), lambda t: t.flip(1)),                 # negative strides
    ((200, 256), lambda t: t.expand(3, 200, 256)[1]),  # an expanded input
], ids=["transposed", "strided", "flipped", "expanded"])
def test_cumsum_float32_non_contiguous(shape, make):
    x = np.random.default_rng(3).standard_normal(shape).astype(np.float32)
    _check_cumsum(x, -1, make)


def test_cumsum_float32_signed_zeros():
    x = np.full((64, 160), -0.0, np.float32)
    x[1::2, 5] = 1.0
    x[2, :] = -1.0
    _check_cumsum(x, 1)


@pytest.mark.parametrize("special", [np.inf, -np.inf, np.nan])
def test_cumsum_float32_non_finite_in_some_blocks(special):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((256, 300)).astype(np.float32)
    x[7, 40] = special                                  # one row, mid-chunk
    x[200, 299] = special                               # the padded last chunk
    x[150, 0] = -special if special == special else special
    _check_cumsum(x, 1)


def test_cumsum_float32_inf_minus_inf_row():
    x = np.zeros((64, 128), np.float32)
    x[0, 3], x[0, 90] = np.inf, -np.inf
    _check_cumsum(x, 1)


def test_cumsum_float32_small_inputs_keep_numpy_path():
    x = np.random.default_rng(5).standard_normal((3, 100)).astype(np.float32)
    assert not _scan_blocks.fits(x, 100)
    _check_cumsum(x, 1)
    y = np.random.default_rng(6).standard_normal((1 << 12, 16)).astype(np.float32)
    assert not _scan_blocks.fits(y, 16)               # rows shorter than 4 chunks
    _check_cumsum(y, 1)


def test_cumsum_float64_and_second_derivative():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((64, 200))
    w = rng.standard_normal((64, 200))
    _check_cumsum(x, 1)
    outs = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad((X.cumsum(1) ** 2 * lib.tensor(w)).sum(), X,
                                  create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), X)
        outs.append((_np(gx), _np(ggx)))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_cumsum_float32_second_derivative_through_fast_path():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    w = rng.standard_normal((64, 256)).astype(np.float32)
    outs = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad((X.cumsum(1) ** 2 * lib.tensor(w)).sum(), X,
                                  create_graph=True)
        (ggx,) = lib.autograd.grad(gx.sum(), X)
        outs.append((_np(gx), _np(ggx)))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_cumsum_empty_and_zero_d():
    for shape, dim in (((0, 100), 1), ((4, 0), 1), ((), 0)):
        got = mg.zeros(shape).cumsum(dim)
        want = torch.zeros(shape).cumsum(dim)
        assert tuple(got.shape) == tuple(want.shape)


def test_cumsum_float32_other_dims_unchanged():
    x = np.random.default_rng(9).standard_normal((300, 64)).astype(np.float32)
    _check_cumsum(x, 0)


# ------------------------------------------------------------------------------------------
# layer_norm over many blocks
# ------------------------------------------------------------------------------------------
def _ln_step(lib, x, shape, w, b, g, make=None):
    X = lib.tensor(x, requires_grad=True)
    W = None if w is None else lib.tensor(w, requires_grad=True)
    B = None if b is None else lib.tensor(b, requires_grad=True)
    y = lib.nn.functional.layer_norm(X if make is None else make(X), shape, W, B)
    y.backward(lib.tensor(g))
    return [_np(y), _np(X.grad)] + [None if t is None else _np(t.grad) for t in (W, B)]


def _check_ln(x_shape, k, dtype, affine=(True, True), make=None, mean=0.0, threads=1):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(x_shape) + mean).astype(dtype)
    x_used = x if make is None else make(torch.tensor(x)).numpy()
    shape = x_used.shape[-k:]
    w = rng.standard_normal(shape).astype(dtype) if affine[0] else None
    b = rng.standard_normal(shape).astype(dtype) if affine[1] else None
    g = rng.standard_normal(x_used.shape).astype(dtype)
    # enough rows for the tiled path (at least _TILED_FROM blocks)
    assert x_used.size >= _norm_rows._TILED_FROM * _norm_rows._FORWARD_BLOCK
    with _threads(threads):
        got = _ln_step(mg, x, shape, w, b, g, make)
    want = _ln_step(torch, x, shape, w, b, g, make)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-4, atol=2e-4)
    for a, e in zip(got, want):
        if e is None:
            assert a is None
            continue
        scale = max(1.0, float(np.abs(e).max()))
        np.testing.assert_allclose(a, e, rtol=tol["rtol"], atol=tol["atol"] * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True),
                                    (False, False)])
def test_layer_norm_many_blocks(dtype, affine):
    _check_ln((8, 128, 520), 1, dtype, affine)


def test_layer_norm_many_blocks_two_dims_and_large_mean():
    _check_ln((1100, 24, 20), 2, np.float64, mean=1000.0)
    _check_ln((1100, 24, 20), 2, np.float32, mean=30.0)


def test_layer_norm_many_blocks_non_contiguous():
    _check_ln((600, 1000), 1, np.float32, make=lambda t: t.transpose(0, 1))
    _check_ln((1200, 1000), 1, np.float64, make=lambda t: t[::2, ::1])


def test_layer_norm_many_blocks_two_threads():
    _check_ln((4, 256, 1030), 1, np.float32, threads=2)


def test_layer_norm_many_blocks_extreme_values():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((600, 1024)).astype(np.float32)
    x[3] = 0.0                                           # a constant row: invstd 1/sqrt(eps)
    x[5] *= 1e20
    x[9, 4] = np.inf
    out = []
    for lib in (mg, torch):
        X = lib.tensor(x)
        out.append(_np(lib.nn.functional.layer_norm(
            X, (1024,), lib.tensor(np.linspace(-2, 2, 1024, dtype=np.float32)),
            lib.tensor(np.full(1024, 0.5, np.float32)))))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-4, atol=1e-4, equal_nan=True)


def test_layer_norm_many_blocks_second_derivative():
    rng = np.random.default_rng(13)
    x = rng.standard_normal((1040, 512))
    w, b = rng.standard_normal(512), rng.standard_normal(512)
    u = rng.standard_normal((1040, 512))
    outs = []
    for lib in (mg, torch):
        X, W, B = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        y = lib.nn.functional.layer_norm(X, (512,), W, B)
        grads = lib.autograd.grad((y * lib.tensor(u)).sum(), (X, W), create_graph=True)
        second = lib.autograd.grad(sum((t * t).sum() for t in grads), (X, W))
        outs.append([_np(y)] + [_np(t) for t in grads + second])
    for a, e in zip(*outs):
        np.testing.assert_allclose(a, e, rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------------------------------
# topk of a few from long rows (``_top_buckets``)
# ------------------------------------------------------------------------------------------
def _stable_top(x, k, dim, largest):
    """The k best positions along dim in a stable sort's order (ties in index order)."""
    key = -x if largest and x.dtype.kind == "f" else ~x if largest else x
    order = np.argsort(key, axis=dim, kind="stable")
    return np.take(order, np.arange(k), axis=dim)


def _check_topk(x, k, dim=-1, largest=True, stable_ties=True, torch_ties=True):
    got_v, got_i = mg.tensor(x).topk(k, dim, largest=largest)
    want_v, want_i = torch.tensor(x).topk(k, dim, largest=largest)
    np.testing.assert_array_equal(_np(got_v), _np(want_v))
    assert got_i.dtype == mg.int64 and tuple(got_i.shape) == tuple(want_i.shape)
    if stable_ties and torch_ties:  # (ties as torch orders them: its sort is not stable past 16)
        np.testing.assert_array_equal(_np(got_i), _np(want_i))
    elif stable_ties:       # (past the emulation's budget: ties in index order)
        np.testing.assert_array_equal(_np(got_i), _stable_top(x, k, dim, largest))
    np.testing.assert_array_equal(np.take_along_axis(x, _np(got_i), axis=dim), _np(want_v))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64, np.int32,
                                   np.uint8])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_long_rows(dtype, largest):
    rng = np.random.default_rng(20)
    if np.dtype(dtype).kind == "f":
        x = rng.standard_normal((64, 2000)).astype(dtype)
    else:
        x = rng.integers(0, 120, (64, 2000)).astype(dtype)        # many ties
    # (every row of the integers has ties among its best: more than _tie_order emulates, so
    # their ties stay in index order; the floats' few tied rows come out in torch's order)
    floats = np.dtype(dtype).kind == "f"
    _check_topk(x, 5, 1, largest, torch_ties=floats)
    _check_topk(x, 1, -1, largest, torch_ties=floats)


@pytest.mark.parametrize("n", [512, 513, 575, 4096])
def test_topk_rows_with_and_without_a_tail(n):
    x = np.random.default_rng(n).standard_normal((40, n)).astype(np.float32)
    _check_topk(x, 8)
    _check_topk(x, 8, largest=False)


def test_topk_other_dims_and_non_contiguous():
    rng = np.random.default_rng(21)
    x = rng.standard_normal((3, 1500, 4)).astype(np.float32)
    _check_topk(x, 4, 1)
    y = rng.standard_normal((1200, 6))
    _check_topk(y, 2, 0, largest=False)
    z = rng.standard_normal((2, 10, 3000)).astype(np.float32)
    v, i = mg.tensor(z).transpose(0, 1)[:, :, ::2].topk(6, -1)
    w, j = torch.tensor(z).transpose(0, 1)[:, :, ::2].topk(6, -1)
    np.testing.assert_array_equal(_np(v), _np(w))
    np.testing.assert_array_equal(_np(i), _np(j))


def test_topk_sorted_rows_ties_and_infinities():
    up = np.tile(np.arange(4096, dtype=np.float32), (3, 1))
    _check_topk(up, 8)
    _check_topk(up, 8, largest=False)
    _check_topk(np.ascontiguousarray(up[:, ::-1]), 8)
    few = np.random.default_rng(22).integers(0, 3, (6, 4096)).astype(np.float32)
    _check_topk(few, 8)                         # thousands of ties: the sort instead
    _check_topk(np.zeros((2, 1024), np.float32), 7)
    x = np.random.default_rng(23).standard_normal((4, 4096)).astype(np.float32)
    x[0, 5] = np.inf
    x[1, :100] = -np.inf
    x[3, [9, 100, 4000]] = np.float32(x[3].max())   # ties of the best
    _check_topk(x, 8)
    _check_topk(x, 8, largest=False)
    only = np.full((2, 1024), -np.inf, np.float32)
    only[0, 3] = 1.0
    _check_topk(only, 8)


def test_topk_nan_rows_as_pytorch():
    x = np.random.default_rng(24).standard_normal((4, 4096)).astype(np.float32)
    x[2, 7] = np.nan
    x[0, [5, 6]] = np.nan
    got_v, got_i = mg.tensor(x).topk(8, 1)
    want_v, want_i = torch.tensor(x).topk(8, 1)
    np.testing.assert_array_equal(_np(got_v), _np(want_v))


def test_topk_gradient_and_second_derivative():
    rng = np.random.default_rng(25)
    x = rng.standard_normal((16, 1024))
    u = rng.standard_normal((16, 8))
    outs = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        v = X.topk(8, 1)[0]
        (gx,) = lib.autograd.grad((v * v * lib.tensor(u)).sum(), X, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), X)
        outs.append((_np(v), _np(gx), _np(ggx)))
    for a, e in zip(*outs):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-12)


def test_topk_small_rows_and_empty():
    _check_topk(np.random.default_rng(26).standard_normal((5, 100)).astype(np.float32), 3)
    got = mg.zeros(0, 2000).topk(3, 1)
    want = torch.zeros(0, 2000).topk(3, 1)
    assert tuple(got[0].shape) == tuple(want[0].shape)


# ------------------------------------------------------------------------------------------
# exact GELU in float32: phi by exp2 in the kept slope
# ------------------------------------------------------------------------------------------
def _gelu_grads(lib, x, g, **kw):
    X = lib.tensor(x, requires_grad=True)
    y = lib.nn.functional.gelu(X, **kw)
    y.backward(lib.tensor(g))
    return _np(y), _np(X.grad)


def test_gelu_float32_slope_on_a_fine_grid():
    x = np.concatenate([np.linspace(-12, 12, 100001),
                        [0.0, -0.0, 1e-30, -1e-30, 3e38, -3e38, np.inf, -np.inf, np.nan]])
    x = x.astype(np.float32)
    g = np.random.default_rng(30).standard_normal(x.shape).astype(np.float32)
    got_y, got_g = _gelu_grads(mg, x, g)
    want_y, want_g = _gelu_grads(torch, x, g)
    exact_y, exact_g = _gelu_grads(torch, x.astype(np.float64), g.astype(np.float64))
    # (each side's float32 erf is within ~1e-6 of the exact one: PyTorch's too)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-5, atol=4e-6, equal_nan=True)
    # (values only on the grid: at 3e38 and inf PyTorch's own float32 value is inf and NaN)
    np.testing.assert_allclose(got_y[:-9], want_y[:-9], rtol=1e-5, atol=4e-6)
    finite = np.isfinite(exact_g)
    assert np.abs(got_g[finite] - exact_g[finite]).max() <= 1e-6 * np.abs(g).max()
    assert np.abs(got_y[:-9] - exact_y[:-9]).max() <= 1e-6


@pytest.mark.parametrize("make", [lambda t: t, lambda t: t.transpose(0, 1),
                                  lambda t: t[:, ::3]], ids=["plain", "transposed", "strided"])
def test_gelu_float32_large_non_contiguous(make):
    rng = np.random.default_rng(31)
    x = (rng.standard_normal((300, 900)) * 3).astype(np.float32)
    outs = []
    for lib in (mg, torch):
        X = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.gelu(make(X))
        y.backward(lib.tensor(np.ones(tuple(y.shape), np.float32)))
        outs.append((_np(y), _np(X.grad)))
    for a, e in zip(*outs):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=4e-6)


def test_gelu_second_derivative_float64_and_float32():
    rng = np.random.default_rng(32)
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-4)):
        x = (rng.standard_normal((64, 300)) * 2).astype(dtype)
        outs = []
        for lib in (mg, torch):
            X = lib.tensor(x, requires_grad=True)
            (gx,) = lib.autograd.grad(lib.nn.functional.gelu(X).sum(), X, create_graph=True)
            (ggx,) = lib.autograd.grad((gx * gx).sum(), X)
            outs.append((_np(gx), _np(ggx)))
        for a, e in zip(*outs):
            np.testing.assert_allclose(a, e, rtol=tol, atol=tol)


def test_gelu_float32_empty_and_zero_d():
    for shape in ((0, 5), ()):
        x = np.full(shape, 0.7, np.float32)
        got, want = _gelu_grads(mg, x, np.ones(shape, np.float32)), \
            _gelu_grads(torch, x, np.ones(shape, np.float32))
        for a, e in zip(got, want):
            assert a.shape == e.shape
            np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)
