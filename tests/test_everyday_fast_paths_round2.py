"""Fast paths of everyday ops, second round, beside torch (correctness only, nothing timed):

* replication padding of any width as one node (``padding.MirrorPad``; it took one copy per
  side before, wider pads went through an index-select per dim): the plain backward sums a
  border's copies onto its edge;
* bilinear ``grid_sample``'s input gradient summed as whole pixel rows, rank by rank of the
  taps sorted by pixel (``nn._grid_cells``, by cells of a zero-padded image), where it was
  a bincount per tap;
* hardswish's plain backward selecting by bits on g (x/3 + 1/2) (``activation_nodes``).

Each: values and gradients in float64 (and second derivatives through create_graph) and
float32 against torch, central differences for a first derivative, and the edges (empty,
non-contiguous, channels-last, a pixel that many points land on, non-finite numbers)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (minigrad, torch)


def _weights(lib, shape, dtype):
    n = int(np.prod(shape))
    return lib.tensor(np.linspace(-1.5, 2.0, n).reshape(shape).astype(dtype))


def _run(fn, arrays, second=False, grads=None):
    """fn(lib, *xs) for minigrad and torch: the value, the gradients of (y * w).sum() with
    respect to the inputs listed in ``grads`` (all by default) and, with ``second``, the
    gradients of the squared gradients' sum with respect to w and those inputs (through
    create_graph)."""
    grads = range(len(arrays)) if grads is None else grads
    out = []
    for lib in LIBS:
        xs = [lib.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
        wanted = [xs[i] for i in grads]
        y = fn(lib, *xs)
        row = [y.detach().numpy()]
        w = _weights(lib, tuple(y.shape), arrays[0].dtype)
        if second:
            w.requires_grad_(True)
            gs = lib.autograd.grad((y * w).sum(), wanted, create_graph=True)
            row += [g.detach().numpy() for g in gs]
            total = sum((g * g).sum() for g in gs)
            row += [g.numpy() for g in lib.autograd.grad(total, [w] + wanted,
                                                         allow_unused=True)]
        else:
            row += [g.numpy() for g in lib.autograd.grad((y * w).sum(), wanted)]
        out.append(row)
    return out


def _close(pair, rtol=1e-10, atol=1e-10):
    mine, theirs = pair
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------ replication padding
REPLICATE = [
    ((2, 3, 9, 10), (2, 2, 2, 2)),
    ((2, 3, 9, 10), (4, 4, 1, 3)),
    ((2, 3, 9, 10), (0, 5, 3, 0)),
    ((3, 7), (3, 6)),                      # unbatched 1-D, wider than the input
    ((2, 3, 4), (6, 1)),
    ((2, 2, 4, 5, 6), (2, 3, 1, 2, 3, 1)),
    ((2, 4, 5, 6), (3, 2, 0, 0, 2, 2)),    # 3-D unbatched, one dim not padded
    ((2, 3, 1, 6), (2, 0, 3, 3)),          # a dim of size 1 padded on one side
    ((2, 3, 6, 1), (2, 2, 1, 1)),          # ... and on both: the per-dim chain
    ((2, 3, 9, 10), (-1, 3, 2, 2)),        # a crop: the chain
]


def _pad(pad):
    return lambda lib, x: lib.nn.functional.pad(x, pad, mode="replicate")


@pytest.mark.parametrize("shape,pad", REPLICATE)
def test_replicate_pad_float64_values_gradients_second_derivatives(shape, pad):
    a = np.random.default_rng(1).standard_normal(shape)
    _close(_run(_pad(pad), [a], second=True), 1e-12, 1e-12)
    _close(_run(_pad(pad), [a]), 1e-12, 1e-12)


@pytest.mark.parametrize("shape,pad", REPLICATE[:8])
def test_replicate_pad_float32_exact_values_close_gradients(shape, pad):
    a = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    (v0, g0), (v1, g1) = _run(_pad(pad), [a])
    assert v0.dtype == g0.dtype == np.float32
    np.testing.assert_array_equal(v0, v1)               # copies: exact
    np.testing.assert_allclose(g0, g1, rtol=2e-6, atol=2e-6)


def test_replicate_pad_gradient_by_central_differences():
    a = np.random.default_rng(3).standard_normal((1, 2, 3, 4))
    pad = (2, 3, 3, 2)
    w = np.random.default_rng(4).standard_normal((1, 2, 8, 9))

    def f(arr):
        return float((minigrad.nn.functional.pad(minigrad.tensor(arr), pad, mode="replicate")
                      .numpy() * w).sum())
    x = minigrad.tensor(a, requires_grad=True)
    y = minigrad.nn.functional.pad(x, pad, mode="replicate")
    (y * minigrad.tensor(w)).sum().backward()
    numeric = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = 1e-6
        numeric[i] = (f(a + d) - f(a - d)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-7, atol=1e-7)


def test_replicate_pad_layouts_empty_names_and_signed_zeros():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 8, 9))
    for make in (lambda lib, x: x.transpose(-1, -2),
                 lambda lib, x: x.contiguous(memory_format=lib.channels_last),
                 lambda lib, x: x[:, :, ::2]):
        got = []
        for lib in LIBS:
            x = lib.tensor(a, requires_grad=True)
            y = lib.nn.functional.pad(make(lib, x), (3, 2, 2, 4), mode="replicate")
            gx, = lib.autograd.grad((y * _weights(lib, tuple(y.shape), np.float64)).sum(), [x])
            got.append((type(y.grad_fn).__name__, y.stride(), y.detach().numpy(), gx.numpy()))
        (n0, s0, v0, g0), (n1, s1, v1, g1) = got
        assert n0 == n1 == "ReplicationPad2DBackward0" and s0 == s1
        np.testing.assert_array_equal(v0, v1)
        np.testing.assert_allclose(g0, g1, rtol=1e-12)
    for lib in LIBS:
        x = lib.zeros((0, 3, 5, 6), requires_grad=True)
        y = lib.nn.functional.pad(x, (2, 3, 2, 2), mode="replicate")
        assert tuple(y.shape) == (0, 3, 9, 11)
        y.sum().backward()
        assert tuple(x.grad.shape) == (0, 3, 5, 6)
    # -0.0 copies summed onto an edge of -0.0 give +0.0 (a sum from zero); NaN, inf pass
    got = []
    for lib in LIBS:
        x = lib.zeros((1, 1, 4), dtype=lib.float64, requires_grad=True)
        y = lib.nn.functional.pad(x, (2, 3), mode="replicate")
        g = lib.tensor([[[-0.0, -0.0, -0.0, 1.0, float("nan"), -0.0, -0.0, float("inf"),
                          -0.0]]], dtype=lib.float64)
        gx, = lib.autograd.grad(y, [x], g)
        got.append(gx.numpy())
    np.testing.assert_array_equal(got[0], got[1])
    np.testing.assert_array_equal(np.signbit(got[0]), np.signbit(got[1]))


def test_replicate_pad_float32_edge_sums_rounded_once():
    # an edge receiving many copies: within float32 rounding of the exact sum
    a = np.random.default_rng(6).standard_normal((2, 3, 5)).astype(np.float32)
    x = minigrad.tensor(a, requires_grad=True)
    y = minigrad.nn.functional.pad(x, (40, 40), mode="replicate")
    g = np.random.default_rng(7).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(minigrad.tensor(g))
    xt = torch.tensor(a.astype(np.float64), requires_grad=True)
    torch.nn.functional.pad(xt, (40, 40), mode="replicate").backward(
        torch.tensor(g.astype(np.float64)))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------- grid_sample
def _grid(rng, n, h, w, spread=1.2, dtype=np.float64):
    return (rng.uniform(-spread, spread, (n, h, w, 2))).astype(dtype)


def _sample(mode="bilinear", padding_mode="zeros", align_corners=False):
    return lambda lib, x, g: lib.nn.functional.grid_sample(
        x, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


@pytest.mark.parametrize("c", [3, 8, 16])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_float64_values_and_gradients(c, padding_mode, align_corners):
    rng = np.random.default_rng(10 + c)
    x = rng.standard_normal((2, c, 5, 7))
    g = _grid(rng, 2, 6, 4)
    _close(_run(_sample("bilinear", padding_mode, align_corners), [x, g]), 1e-12, 1e-12)


@pytest.mark.parametrize("c", [4, 16])
def test_grid_sample_float64_second_derivatives(c):
    rng = np.random.default_rng(20 + c)
    x = rng.standard_normal((2, c, 4, 5))
    g = _grid(rng, 2, 3, 3)
    _close(_run(_sample(), [x, g], second=True), 1e-11, 1e-11)


def test_grid_sample_input_gradient_by_central_differences():
    rng = np.random.default_rng(30)
    a = rng.standard_normal((1, 9, 3, 4))
    grid = _grid(rng, 1, 5, 5)
    w = rng.standard_normal((1, 9, 5, 5))

    def f(arr):
        return float((minigrad.nn.functional.grid_sample(
            minigrad.tensor(arr), minigrad.tensor(grid), align_corners=False).numpy() * w).sum())
    x = minigrad.tensor(a, requires_grad=True)
    y = minigrad.nn.functional.grid_sample(x, minigrad.tensor(grid), align_corners=False)
    (y * minigrad.tensor(w)).sum().backward()
    numeric = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        d = np.zeros_like(a)
        d[i] = 1e-6
        numeric[i] = (f(a + d) - f(a - d)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), numeric, rtol=1e-7, atol=1e-7)


def test_grid_sample_many_points_on_one_pixel():
    # a few pixels receive thousands of taps (the runs past the ranks summed one by one),
    # others a handful, most none
    rng = np.random.default_rng(40)
    x = rng.standard_normal((2, 16, 6, 6))
    g = np.zeros((2, 48, 48, 2))
    g[0, :24] = 0.1                                     # one point, 1152 times
    g[0, 24:] = _grid(rng, 1, 24, 48, 0.5)[0]
    g[1] = np.round(_grid(rng, 1, 48, 48)[0] * 4) / 4   # a coarse lattice of points
    _close(_run(_sample(), [x, g]), 1e-11, 1e-11)
    (v0, a0, b0), (v1, a1, b1) = _run(_sample(), [x.astype(np.float32),
                                                   g.astype(np.float32)])
    np.testing.assert_allclose(v0, v1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a0, a1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(b0, b1, rtol=1e-4, atol=1e-4)


def test_grid_sample_float32_close():
    rng = np.random.default_rng(50)
    x = rng.standard_normal((3, 32, 9, 11)).astype(np.float32)
    g = _grid(rng, 3, 13, 7, dtype=np.float32)
    (v0, a0, b0), (v1, a1, b1) = _run(_sample(), [x, g])
    assert a0.dtype == b0.dtype == np.float32
    np.testing.assert_allclose(v0, v1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(a0, a1, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b0, b1, rtol=1e-4, atol=1e-4)


def test_grid_sample_one_input_wanted_layouts_empty_and_signed_zeros():
    rng = np.random.default_rng(60)
    x = rng.standard_normal((2, 12, 5, 6))
    g = _grid(rng, 2, 4, 5)
    _close(_run(_sample(), [x, g], grads=[0]), 1e-12, 1e-12)
    _close(_run(_sample(), [x, g], grads=[1]), 1e-12, 1e-12)
    # a channels-last and a strided input
    for make in (lambda lib, t: t.contiguous(memory_format=lib.channels_last),
                 lambda lib, t: t[:, ::2]):
        _close(_run(lambda lib, t, gr: _sample()(lib, make(lib, t), gr), [x, g]), 1e-12,
               1e-12)
    # an empty batch, no output points
    for shape_x, shape_g in (((0, 12, 5, 6), (0, 4, 5, 2)), ((2, 12, 5, 6), (2, 0, 5, 2))):
        for lib in LIBS:
            xt = lib.zeros(shape_x, dtype=lib.float64, requires_grad=True)
            gt = lib.zeros(shape_g, dtype=lib.float64, requires_grad=True)
            lib.nn.functional.grid_sample(xt, gt, align_corners=False).sum().backward()
            assert tuple(xt.grad.shape) == shape_x and tuple(gt.grad.shape) == shape_g
    # a zero upstream gradient of either sign gives +0.0 at every pixel, as a sum from zero
    got = []
    for lib in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        y = lib.nn.functional.grid_sample(xt, lib.tensor(g), align_corners=False)
        gx, = lib.autograd.grad(y, [xt], lib.full(tuple(y.shape), -0.0, dtype=lib.float64))
        got.append(gx.numpy())
    np.testing.assert_array_equal(np.signbit(got[0]), np.signbit(got[1]))


def test_grid_sample_non_finite_grid_points():
    rng = np.random.default_rng(70)
    x = rng.standard_normal((1, 10, 4, 4))
    g = _grid(rng, 1, 3, 3)
    g[0, 0, 0] = [np.inf, 0.2]
    g[0, 1, 1] = [-np.inf, -np.inf]
    g[0, 2, 2] = [5.0, -7.0]                            # far outside: every tap invalid
    _close(_run(_sample(padding_mode="zeros"), [x, g], grads=[0]), 1e-12, 1e-12)
    _close(_run(_sample(padding_mode="border"), [x, g], grads=[0]), 1e-12, 1e-12)


# --------------------------------------------------------------------------------- hardswish
def _hardswish_cases(dtype):
    rng = np.random.default_rng(80)
    x = (rng.standard_normal(70000) * 3).astype(dtype)
    g = rng.standard_normal(70000).astype(dtype)
    x[:9] = [3.0, -3.0, np.inf, -np.inf, -0.0, 0.0, 2.9999, -2.9999, 1e30]
    x[9:14] = -5.0                                      # below -3, with non-finite g
    g[9:14] = [np.inf, -np.inf, np.nan, -0.0, -1.0]
    x[14:17] = 4.0                                      # from 3 on, g itself
    g[14:17] = [np.nan, -0.0, -np.inf]
    return x, g


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardswish_backward_bits_as_torch(dtype):
    x, g = _hardswish_cases(dtype)
    got = []
    for lib in LIBS:
        xt = lib.tensor(x, requires_grad=True)
        gx, = lib.autograd.grad(lib.nn.functional.hardswish(xt), [xt], lib.tensor(g))
        got.append(gx.numpy())
    ints = np.int32 if dtype == np.float32 else np.int64
    np.testing.assert_array_equal(got[0].view(ints), got[1].view(ints))


def test_hardswish_nan_input_passes_g():
    # PyTorch's element-by-element kernel gives g at a NaN x (its vector lanes give NaN):
    # minigrad takes the former
    x = minigrad.tensor([float("nan"), 1.0], requires_grad=True)
    gx, = minigrad.autograd.grad(minigrad.nn.functional.hardswish(x), [x],
                                 minigrad.tensor([0.5, 2.0]))
    xt = torch.tensor([float("nan"), 1.0], requires_grad=True)
    gt, = torch.autograd.grad(torch.nn.functional.hardswish(xt), [xt],
                              torch.tensor([0.5, 2.0]))
    np.testing.assert_array_equal(gx.numpy(), gt.numpy())


def test_hardswish_layouts_0d_empty_and_second_derivatives():
    rng = np.random.default_rng(90)
    a = rng.standard_normal((6, 5)) * 3
    for make in (lambda lib, t: t.t(), lambda lib, t: t[::2, 1:], lambda lib, t: t[2, 3],
                 lambda lib, t: t[:0]):
        _close(_run(lambda lib, t: lib.nn.functional.hardswish(make(lib, t)), [a]),
               1e-15, 0)
    _close(_run(lambda lib, t: lib.nn.functional.hardswish(t), [a], second=True), 1e-13,
           1e-15)
    a32 = a.astype(np.float32)
    (v0, g0), (v1, g1) = _run(lambda lib, t: lib.nn.functional.hardswish(t.t()), [a32])
    np.testing.assert_array_equal(v0, v1)
    np.testing.assert_array_equal(g0, g1)
