"""Fast paths of everyday ops beside torch (correctness only, nothing timed):

* reflection and replication padding as one node (``padding.MirrorPad``): forward copies
  the borders from the result itself, the plain backward folds them back with slices, and
  under create_graph the per-dim index-add formula gives second derivatives;
* the running sum along the last dim a block of rows at a time (``sorting._running_sum``),
  and so cumsum's backward (a reversed running sum) too;
* dropout's keep-mask compared on the generator's words (``nn._dropout_mask``): the same
  mask as torch's for the same seed, and the generator left where torch leaves it;
* a scatter-add whose positions are all distinct (a gather's backward) written in place
  instead of summed by a bincount (``_scatter_add_kernels.scatter_add_array``).

Each: values and gradients in float64 and float32, second derivatives where the op has
them, and the edges (empty, non-contiguous, channels-last, negative dims, every padding mode
and pad width taking the path or not)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (minigrad, torch)


def _weights(lib, shape, dtype):
    n = int(np.prod(shape))
    return lib.tensor(np.linspace(-1.5, 2.0, n).reshape(shape).astype(dtype))


def _run(fn, array, second=False):
    """fn(lib, x) for minigrad and torch: value, gradient of (y * w).sum() and, with
    ``second``, the gradient of the squared gradient's sum through create_graph."""
    out = []
    for lib in LIBS:
        x = lib.tensor(array, requires_grad=True)
        y = fn(lib, x)
        row = [y.detach().numpy(), tuple(y.shape)]
        w = _weights(lib, tuple(y.shape), array.dtype)
        if y.numel():
            if second:
                w.requires_grad_(True)
                gx, = lib.autograd.grad((y * w).sum(), [x], create_graph=True)
                row.append(gx.detach().numpy())
                # the gradient is linear in w: differentiate it again with respect to w
                gw, = lib.autograd.grad((gx * gx).sum(), [w])
                row.append(gw.numpy())
            else:
                gx, = lib.autograd.grad((y * w).sum(), [x])
                row.append(gx.numpy())
        out.append(row)
    return out


def _same(pair, exact=True, rtol=1e-12):
    mine, theirs = pair
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        if isinstance(a, tuple):
            assert a == b
            continue
        assert a.dtype == b.dtype and a.shape == b.shape
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


# ------------------------------------------------------------------------------------ padding
PAD_CASES = [
    ((2, 3, 9, 10), (2, 2, 2, 2)),
    ((2, 3, 9, 10), (1, 1, 1, 1)),
    ((2, 3, 9, 10), (0, 3, 1, 0)),
    ((3, 7), (3, 3)),                   # unbatched 1-D
    ((2, 3, 4), (2, 1)),                # lo + hi = n - 1: reflect falls back to the chain
    ((1, 2, 4), (2, 1)),
    ((2, 3, 6), (3, 0)),
    ((2, 2, 4, 5, 6), (1, 2, 1, 1, 2, 1)),
    ((2, 4, 5, 6), (1, 2, 0, 0, 2, 1)),  # 3-D unbatched, one dim not padded
    ((2, 3, 1, 6), (1, 0, 1, 1)),       # a dim of size 1 (replicate)
    ((2, 3, 9, 10), (4, 4, 1, 1)),      # replicate wider than 1 (one MirrorPad node too)
    ((2, 3, 9, 10), (-1, 2, 1, 1)),     # a crop: the chain
    ((2, 3, 9, 10), (-2, -1, 0, 0)),
]


def _pad(mode, pad):
    return lambda lib, x: lib.nn.functional.pad(x, pad, mode=mode)


def _legal(shape, pad, mode):
    try:
        torch.nn.functional.pad(torch.zeros(shape), pad, mode=mode)
    except (RuntimeError, NotImplementedError):
        return False
    return True


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", PAD_CASES)
def test_mirror_pad_values_gradients_and_second_derivatives_float64(mode, shape, pad):
    if not _legal(shape, pad, mode):
        pytest.skip("torch refuses this pad")
    a = np.random.default_rng(1).standard_normal(shape)
    _same(_run(_pad(mode, pad), a, second=True), exact=False)
    _same(_run(_pad(mode, pad), a), exact=False)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
@pytest.mark.parametrize("shape,pad", PAD_CASES[:10])
def test_mirror_pad_float32_values_exact_gradients_close(mode, shape, pad):
    if not _legal(shape, pad, mode):
        pytest.skip("torch refuses this pad")
    a = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    (v0, s0, g0), (v1, s1, g1) = _run(_pad(mode, pad), a)
    assert s0 == s1 and v0.dtype == v1.dtype == g0.dtype == g1.dtype == np.float32
    np.testing.assert_array_equal(v0, v1)               # copies: exact
    np.testing.assert_allclose(g0, g1, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_mirror_pad_node_names_layouts_and_odd_inputs(mode):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 8, 9))
    for make in (lambda lib, x: x.transpose(-1, -2),
                 lambda lib, x: x.contiguous(memory_format=lib.channels_last),
                 lambda lib, x: x[:, :, ::2]):
        got = []
        for lib in LIBS:
            x = lib.tensor(a, requires_grad=True)
            y = lib.nn.functional.pad(make(lib, x), (1, 2, 2, 1), mode=mode)
            gx, = lib.autograd.grad((y * _weights(lib, tuple(y.shape), np.float64)).sum(), [x])
            got.append((type(y.grad_fn).__name__, y.stride(), y.detach().numpy(), gx.numpy(),
                        y.is_contiguous()))
        (n0, s0, v0, g0, c0), (n1, s1, v1, g1, c1) = got
        assert n0 == n1 and s0 == s1 and c0 == c1
        np.testing.assert_array_equal(v0, v1)
        np.testing.assert_allclose(g0, g1, rtol=1e-12)
    # an empty batch, and a whole grad_fn chain from the pad straight to the leaf
    for lib in LIBS:
        x = lib.zeros((0, 3, 5, 6), requires_grad=True)
        y = lib.nn.functional.pad(x, (1, 1, 1, 1), mode=mode)
        assert tuple(y.shape) == (0, 3, 7, 8)
        y.sum().backward()
        assert tuple(x.grad.shape) == (0, 3, 5, 6)
    x = minigrad.ones((1, 1, 4, 4), requires_grad=True)
    y = minigrad.nn.functional.pad(x, (1, 1, 1, 1), mode=mode)
    assert type(y.grad_fn).__name__ == ("ReflectionPad2DBackward0" if mode == "reflect" else
                                        "ReplicationPad2DBackward0")
    assert y.grad_fn.next_functions[0][0].variable is x


def test_mirror_pad_signed_zeros_and_non_finite_gradients():
    # -0.0 folded with -0.0 sums to +0.0 (a sum from zero), NaN and inf pass through
    for mode in ("reflect", "replicate"):
        got = []
        for lib in LIBS:
            x = lib.zeros((1, 1, 5), dtype=lib.float64, requires_grad=True)
            y = lib.nn.functional.pad(x, (1, 1), mode=mode)
            g = lib.tensor([[[-0.0, -0.0, float("nan"), -0.0, float("inf"), -0.0, -0.0]]],
                           dtype=lib.float64)
            gx, = lib.autograd.grad(y, [x], g)
            got.append(gx.numpy())
        np.testing.assert_array_equal(got[0], got[1])
        np.testing.assert_array_equal(np.signbit(got[0]), np.signbit(got[1]))


@pytest.mark.parametrize("mode", ["circular", "constant"])
@pytest.mark.parametrize("shape,pad", [((2, 3, 9, 10), (2, 2, 2, 2)), ((3, 7), (3, 3)),
                                       ((2, 2, 4, 5, 6), (1, 2, 1, 1, 2, 1)),
                                       ((2, 3, 9, 10), (-1, 2, 1, 1))])
def test_other_pad_modes_keep_their_own_paths(mode, shape, pad):
    if not _legal(shape, pad, mode):
        pytest.skip("torch refuses this pad")
    a = np.random.default_rng(10).standard_normal(shape)
    _same(_run(_pad(mode, pad), a, second=True), exact=False)


def test_mirror_pad_errors_unchanged():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="Padding size should be less than"):
            lib.nn.functional.pad(lib.zeros((1, 2, 3)), (3, 0), mode="reflect")
        with pytest.raises(NotImplementedError):
            lib.nn.functional.pad(lib.zeros((2, 3)), (1, 1, 1, 1), mode="reflect")


# ----------------------------------------------------------------------------------- cumsum
@pytest.mark.parametrize("shape,dim", [((3, 50000), 1), ((3, 50000), -1), ((2, 3, 30000), 2),
                                       ((140000,), 0), ((70000, 2), -1), ((300, 500), 1),
                                       ((4, 300, 500), 1)])
def test_cumsum_float64_values_gradients_and_second_derivatives(shape, dim):
    a = np.random.default_rng(4).standard_normal(shape)
    _same(_run(lambda lib, x: x.cumsum(dim), a, second=True), exact=False, rtol=1e-9)


@pytest.mark.parametrize("shape,dim", [((3, 50000), 1), ((2, 3, 30000), -1), ((300, 500), 1)])
def test_cumsum_float32_values_and_gradients(shape, dim):
    a = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    (v0, s0, g0), (v1, s1, g1) = _run(lambda lib, x: x.cumsum(dim), a)
    assert s0 == s1 and v0.dtype == v1.dtype == g0.dtype == g1.dtype == np.float32
    # both sum in float64 and round once; allow a unit of float32 for torch's vector order
    np.testing.assert_allclose(v0, v1, rtol=2e-6, atol=2e-5)
    np.testing.assert_allclose(g0, g1, rtol=2e-6, atol=2e-5)


def test_cumsum_blocked_rows_on_odd_inputs():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((400, 700))
    for make in (lambda lib, x: x.t(), lambda lib, x: x[:, ::3], lambda lib, x: x * 0 - 0.0,
                 lambda lib, x: x.to(lib.complex128) * (1 + 2j)):
        got = []
        for lib in LIBS:
            x = lib.tensor(a, requires_grad=True)
            y = make(lib, x).cumsum(-1)
            got.append((y.detach().numpy(), y.stride()))
        np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-10, atol=1e-10)
        assert got[0][1] == got[1][1]
        np.testing.assert_array_equal(np.signbit(got[0][0].real), np.signbit(got[1][0].real))
    ints = rng.integers(-1000, 1000, (300, 600))
    np.testing.assert_array_equal(minigrad.tensor(ints).cumsum(1).numpy(),
                                  torch.tensor(ints).cumsum(1).numpy())
    half = a.astype(np.float16)
    np.testing.assert_allclose(minigrad.tensor(half).cumsum(1).numpy().astype(np.float64),
                               torch.tensor(half).cumsum(1).numpy().astype(np.float64),
                               rtol=2e-3, atol=2e-2)
    for lib in LIBS:
        assert tuple(lib.zeros((0, 200000)).cumsum(1).shape) == (0, 200000)


# ---------------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("shape", [(16, 32), (300, 300), (0, 5), ()])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9, 1 - 2.0 ** -40, 0.3333333])
def test_dropout_mask_and_generator_as_torch(shape, p):
    a = np.random.default_rng(7).standard_normal(shape).astype(np.float32) + 1
    got = []
    for lib in LIBS:
        lib.manual_seed(11)
        x = lib.tensor(a, requires_grad=True)
        y = lib.nn.functional.dropout(x, p)
        (y * 3).sum().backward()
        after = lib.rand(4).numpy()                      # the generator moved on alike
        got.append((y.detach().numpy(), x.grad.numpy(), after))
    for mine, theirs in zip(*got):
        np.testing.assert_array_equal(mine, theirs)


def test_dropout_mask_float64_half_layouts_and_channel_forms():
    rng = np.random.default_rng(8)
    cases = [
        (lambda lib, x: lib.nn.functional.dropout(x, 0.2), rng.standard_normal((100, 700))),
        (lambda lib, x: lib.nn.functional.dropout(x.to(lib.float16), 0.2),
         rng.standard_normal((70, 30))),
        (lambda lib, x: lib.nn.functional.dropout(x.t(), 0.3), rng.standard_normal((300, 250))),
        (lambda lib, x: lib.nn.functional.dropout(
            x.contiguous(memory_format=lib.channels_last), 0.3),
         rng.standard_normal((2, 3, 5, 7))),
        (lambda lib, x: lib.nn.functional.dropout2d(x, 0.4), rng.standard_normal((4, 6, 5, 5))),
        (lambda lib, x: lib.nn.functional.dropout1d(x, 0.4), rng.standard_normal((4, 6, 5))),
        (lambda lib, x: lib.nn.functional.dropout(x * 1, 0.4, inplace=True),
         rng.standard_normal((40, 6))),
        (lambda lib, x: lib.nn.Dropout(0.25)(x), rng.standard_normal((40, 6))),
    ]
    for fn, a in cases:
        got = []
        for lib in LIBS:
            lib.manual_seed(5)
            x = lib.tensor(a, requires_grad=True)
            y = fn(lib, x)
            gx, = lib.autograd.grad(y.sum(), [x])
            got.append((y.detach().numpy(), gx.numpy(), y.stride(), lib.rand(2).numpy()))
        for mine, theirs in zip(*got):
            if isinstance(mine, tuple):
                assert mine == theirs
            else:
                np.testing.assert_array_equal(mine, theirs)


def test_dropout_double_backward_as_torch():
    a = np.random.default_rng(9).standard_normal((30, 20))
    got = []
    for lib in LIBS:
        lib.manual_seed(2)
        x = lib.tensor(a, requires_grad=True)
        y = lib.nn.functional.dropout(x * x, 0.3)
        gx, = lib.autograd.grad(y.sum(), [x], create_graph=True)
        ggx, = lib.autograd.grad(gx.sum(), [x])
        got.append((gx.detach().numpy(), ggx.numpy()))
    for mine, theirs in zip(*got):
        np.testing.assert_allclose(mine, theirs, rtol=1e-12)


# ------------------------------------------------------------------- gather / scatter_add
_IDX = (np.arange(200 * 16) % 150).reshape(200, 16)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dim,index", [(1, _IDX), (-1, _IDX % 7), (0, _IDX.T.copy() % 40),
                                       (1, np.zeros((200, 0), np.int64))])
def test_gather_backward_distinct_and_repeated_positions(dtype, dim, index):
    a = np.random.default_rng(12).standard_normal((200, 200)).astype(dtype)
    fn = (lambda lib, x: x.gather(dim, lib.tensor(index)))
    if dtype == np.float64:
        _same(_run(fn, a, second=True), exact=False)
    (v0, s0, *g0), (v1, s1, *g1) = _run(fn, a)
    np.testing.assert_array_equal(v0, v1)
    assert s0 == s1
    for mine, theirs in zip(g0, g1):
        assert mine.dtype == theirs.dtype
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-6)


def test_gather_backward_signed_zeros_non_contiguous_and_scatter_add():
    a = np.random.default_rng(13).standard_normal((50, 40))
    idx = np.random.default_rng(14).permutation(40)[None, :].repeat(50, 0)[:, :30]
    got = []
    for lib in LIBS:
        x = lib.tensor(a, requires_grad=True)
        y = x.t().gather(0, lib.tensor(idx.T.copy()))
        g = lib.full(tuple(y.shape), -0.0, dtype=lib.float64)
        gx, = lib.autograd.grad(y, [x], g)
        s = lib.tensor(a[:, :30], requires_grad=True)
        z = lib.zeros(50, 40, dtype=lib.float64).scatter_add(1, lib.tensor(idx), s * -1.0)
        got.append((gx.numpy(), z.detach().numpy()))
    for mine, theirs in zip(*got):
        np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))
