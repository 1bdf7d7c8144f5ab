"""The faster paths of round 17 beside torch (or exact math):

* float32 erf in kept block buffers, its sign put on with integer ops, |x| >= 6, inf and NaN
  through the clipped gather (``error_function._erf_cubic``), and GELU (since round 19 its
  float32 path is ``activation_nodes.two_phi``);
* layer_norm's rows over the threads, its sums of squares as one matrix product per row
  (``_norm_rows.row_dots``), the x gradient handed back owning its memory;
* group_norm's statistics by the same row sums, its x gradient likewise;
* log_softmax without the shift by the max where exp cannot overflow (``softmax``).

float64 to 1e-10 against torch's float64; float32 against torch in float64 within float32
rounding (torch's own float32 tolerances, rtol 1.3e-6 and atol 1e-5, where each number is
rounded a few times; looser where thousands of rows are summed into dweight and dbias);
second derivatives under create_graph; and the odd shapes: 0-d, empty, one element,
non-contiguous, channels-last, weight and bias absent, other eps; on one and two threads."""
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

F32 = dict(rtol=1.3e-6, atol=1e-5)


def _close64(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)


# ---- erf and GELU ------------------------------------------------------------------------

def test_float32_erf_edges_within_one_unit_of_math_erf(threads):
    rng = np.random.default_rng(17)
    edges = np.array([5.99, 5.996, 5.9999, 6.0, 6.0001, 7.0, 100.0, 1e6, 3e9, 1e30, 3e38,
                      1e-38, 1e-45, 0.0, 1.0 / 256, 255.0 / 256], np.float32)
    x = np.concatenate([edges, -edges, rng.standard_normal(300001).astype(np.float32) * 3,
                        np.arange(-1536, 1537, dtype=np.float32) / 256])
    x = x[:x.size // 7 * 7].reshape(7, -1).T           # non-contiguous, several blocks
    mine = minigrad.erf(minigrad.tensor(x)).numpy()
    assert mine.dtype == np.float32 and mine.shape == x.shape
    exact = np.vectorize(math.erf)(x.astype(np.float64))
    unit = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(mine - exact) / unit) <= 1.0
    assert np.array_equal(np.signbit(mine), np.signbit(x))       # erf(-0.0) = -0.0 too


def test_float32_erf_special_values_as_torch():
    x = np.array([np.inf, -np.inf, np.nan, -np.nan, 0.0, -0.0, 3.4e38, -3.4e38], np.float32)
    x = np.tile(x, 20000)                                 # a large array: the block path
    mine = minigrad.erf(minigrad.tensor(x)).numpy()
    theirs = torch.erf(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_array_equal(np.signbit(mine[~np.isnan(mine)]),
                                  np.signbit(theirs[~np.isnan(theirs)]))


def test_float16_erf_within_rounding_of_torch():
    x = np.random.default_rng(2).standard_normal(70001).astype(np.float16) * 3
    mine = minigrad.erf(minigrad.tensor(x)).numpy()
    assert mine.dtype == np.float16
    exact = torch.erf(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(mine.astype(np.float64), exact, rtol=1e-3, atol=1e-3)


def _gelu(lib, x, layout=None, create_graph=False):
    t = lib.tensor(x, requires_grad=True)
    src = t
    if layout == "transposed":
        src = t.transpose(0, 1)
    elif layout == "channels_last":
        src = t.contiguous(memory_format=lib.channels_last)
    y = lib.nn.functional.gelu(src)
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.3).reshape(tuple(y.shape)).astype(x.dtype))
    g, = lib.autograd.grad(y, t, gy, create_graph=create_graph)
    out = [y.detach().numpy(), g.detach().numpy()]
    if create_graph:
        gg, = lib.autograd.grad((g * g).sum(), t)
        out.append(gg.numpy())
    return out


@pytest.mark.parametrize("layout", [None, "transposed", "channels_last"])
def test_float32_gelu_within_rounding_of_torch_float64(threads, layout):
    x = (np.random.default_rng(5).standard_normal((4, 64, 32, 33)) * 4).astype(np.float32)
    x[0, 0, 0, :6] = [np.inf, -np.inf, 0.0, -0.0, 20.0, -20.0]
    mine = _gelu(minigrad, x, layout)
    theirs = _gelu(torch, x.astype(np.float64), layout)
    # where PyTorch's own float32 kernel gives NaN (gelu(+inf) of a contiguous tensor: its
    # vectorised erf), NaN is its answer, not float64's inf
    theirs32 = _gelu(torch, x, layout)
    for a, b, b32 in zip(mine, theirs, theirs32):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, np.where(np.isnan(b32), np.nan, b), **F32)


@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 0, 2), (5, 7)])
def test_gelu_odd_shapes_and_second_derivative_float64(shape):
    x = np.asarray(np.random.default_rng(6).standard_normal(shape) * 2)
    for a, b in zip(_gelu(minigrad, x, create_graph=True), _gelu(torch, x, create_graph=True)):
        assert a.shape == b.shape
        _close64(a, b)


def test_float32_gelu_nan_propagates():
    x = np.full(70000, np.nan, np.float32)
    x[1::2] = 1.0
    y = minigrad.nn.functional.gelu(minigrad.tensor(x)).numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(x))


# ---- layer_norm ---------------------------------------------------------------------------

def _layer_norm(lib, x, ns, affine, eps, layout=None, create_graph=False):
    xt = lib.tensor(x, requires_grad=True)
    size = int(np.prod(ns))
    w = lib.tensor(np.linspace(-1.5, 2.0, size).reshape(ns).astype(x.dtype), requires_grad=True)
    b = lib.tensor(np.linspace(0.5, -0.7, size).reshape(ns).astype(x.dtype), requires_grad=True)
    w = w if affine in ("w", "wb") else None
    b = b if affine in ("b", "wb") else None
    src = xt.transpose(0, 1) if layout == "transposed" else xt
    y = lib.nn.functional.layer_norm(src, ns, w, b, eps=eps)
    ins = [xt] + [t for t in (w, b) if t is not None]
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.7).reshape(tuple(y.shape)).astype(x.dtype))
    grads = lib.autograd.grad(y, ins, gy, create_graph=create_graph)
    out = [y.detach().numpy()] + [g.detach().numpy() for g in grads]
    if create_graph:
        second = lib.autograd.grad(sum((g * g).sum() for g in grads), ins, allow_unused=True)
        out += [None if g is None else g.numpy() for g in second]
    return out


@pytest.mark.parametrize("affine", ["none", "w", "b", "wb"])
@pytest.mark.parametrize("shape, ns", [((520, 600), (600,)),          # rows over the threads
                                       ((64, 9, 40), (40,)),          # short rows (einsum)
                                       ((6, 20, 30), (20, 30))])
def test_layer_norm_float64_matches_torch(threads, shape, ns, affine):
    x = np.random.default_rng(len(shape)).standard_normal(shape) * 3 + 1
    for a, b in zip(_layer_norm(minigrad, x, ns, affine, 1e-5),
                    _layer_norm(torch, x, ns, affine, 1e-5)):
        _close64(a, b)


@pytest.mark.parametrize("eps", [1e-5, 1e-3, 0.5])
def test_layer_norm_float32_transformer_shape(threads, eps):
    x = (np.random.default_rng(7).standard_normal((32, 64, 512)) * 2 + 0.5).astype(np.float32)
    mine = _layer_norm(minigrad, x, (512,), "wb", eps)
    theirs = _layer_norm(torch, x.astype(np.float64), (512,), "wb", eps)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        # (dweight and dbias sum 2048 rows: their rounding grows with that)
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-4 if a.ndim == 1 else 1e-5)


def test_layer_norm_float32_large_mean_keeps_its_digits():
    x = (np.random.default_rng(8).standard_normal((256, 1024)) + 1e4).astype(np.float32)
    y = minigrad.nn.functional.layer_norm(minigrad.tensor(x), (1024,)).numpy()
    exact = torch.nn.functional.layer_norm(torch.from_numpy(x).double(), (1024,)).numpy()
    theirs = torch.nn.functional.layer_norm(torch.from_numpy(x), (1024,)).numpy()
    # x - mean rounds at ulp(1e4) ~ 1e-3 in float32, in torch's kernel too (1.8e-3 off)
    assert np.abs(y - exact).max() <= 1.5 * np.abs(theirs - exact).max()


def test_layer_norm_non_contiguous_and_second_derivative():
    x = np.random.default_rng(9).standard_normal((140, 5, 130))
    for a, b in zip(_layer_norm(minigrad, x, (130,), "wb", 1e-5, "transposed", True),
                    _layer_norm(torch, x, (130,), "wb", 1e-5, "transposed", True)):
        assert (a is None) == (b is None)
        if a is not None:
            _close64(a, b)


def test_layer_norm_one_element_rows_and_gradient_owns_its_memory():
    x = np.random.default_rng(10).standard_normal((7, 1))
    for a, b in zip(_layer_norm(minigrad, x, (1,), "wb", 1e-5),
                    _layer_norm(torch, x, (1,), "wb", 1e-5)):
        _close64(a, b)
    xt = minigrad.tensor(np.random.default_rng(11).standard_normal((4, 3, 200)),
                         requires_grad=True)
    minigrad.nn.functional.layer_norm(xt, (200,)).pow(2).sum().backward()
    assert xt.grad.numpy().base is None and xt.grad.shape == (4, 3, 200)


# ---- group_norm ---------------------------------------------------------------------------

def _group_norm(lib, x, groups, affine, eps, channels_last=False):
    xt = lib.tensor(x, requires_grad=True)
    c = x.shape[1]
    w = lib.tensor(np.linspace(-1.5, 2.0, c).astype(x.dtype), requires_grad=True)
    b = lib.tensor(np.linspace(0.5, -0.7, c).astype(x.dtype), requires_grad=True)
    w = w if affine in ("w", "wb") else None
    b = b if affine in ("b", "wb") else None
    src = xt.contiguous(memory_format=lib.channels_last) if channels_last else xt
    y = lib.nn.functional.group_norm(src, groups, w, b, eps=eps)
    ins = [xt] + [t for t in (w, b) if t is not None]
    gy = lib.tensor(np.sin(np.arange(y.numel()) * 0.3).reshape(tuple(y.shape)).astype(x.dtype))
    grads = lib.autograd.grad(y, ins, gy)
    return [y.detach().numpy()] + [g.numpy() for g in grads], y.is_contiguous(
        memory_format=lib.channels_last)


@pytest.mark.parametrize("affine", ["none", "w", "wb"])
@pytest.mark.parametrize("shape, groups, channels_last", [
    ((2, 64, 16, 16), 32, False), ((2, 64, 16, 16), 32, True),    # rows of 512 (matmul)
    ((3, 6, 5), 3, False),                                         # rows of 10 (einsum)
    ((2, 4, 1, 1), 2, False), ((2, 4, 1, 1), 2, True)])            # 2 values per group
def test_group_norm_float64_matches_torch(shape, groups, affine, channels_last):
    x = np.random.default_rng(12).standard_normal(shape) * 2 - 1
    (mine, cl_m), (theirs, cl_t) = (
        _group_norm(lib, x, groups, affine, 1e-5, channels_last) for lib in (minigrad, torch))
    assert cl_m == cl_t
    for a, b in zip(mine, theirs):
        _close64(a, b)


@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_group_norm_float32_unet_shape(threads, eps):
    x = np.random.default_rng(13).standard_normal((4, 128, 32, 32)).astype(np.float32)
    mine, _ = _group_norm(minigrad, x, 32, "wb", eps)
    theirs, _ = _group_norm(torch, x.astype(np.float64), 32, "wb", eps)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-4 if a.ndim == 1 else 1e-5)


def test_group_norm_gradient_owns_its_memory():
    xt = minigrad.tensor(np.random.default_rng(14).standard_normal((2, 8, 6, 6)),
                         requires_grad=True)
    minigrad.nn.functional.group_norm(xt, 4).pow(2).sum().backward()
    xr = torch.tensor(xt.detach().numpy(), requires_grad=True)
    torch.nn.functional.group_norm(xr, 4).pow(2).sum().backward()
    assert xt.grad.numpy().base is None
    _close64(xt.grad.numpy(), xr.grad.numpy())


# ---- log_softmax --------------------------------------------------------------------------

def _log_softmax(lib, x, dim, create_graph=False):
    t = lib.tensor(x, requires_grad=True)
    y = lib.log_softmax(t, dim)
    gy = lib.tensor(np.cos(np.arange(y.numel()) * 0.9).reshape(tuple(y.shape)).astype(x.dtype))
    g, = lib.autograd.grad(y, t, gy, create_graph=create_graph)
    out = [y.detach().numpy(), g.detach().numpy()]
    if create_graph:
        gg, = lib.autograd.grad((g * g).sum(), t)
        out.append(gg.numpy())
    return out


@pytest.mark.parametrize("scale", [3.0, 60.0, 200.0])        # 200: the shifted path
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_log_softmax_float64_matches_torch(scale, dim):
    x = np.random.default_rng(15).uniform(-1, 1, (40, 30, 20)) * scale
    for a, b in zip(_log_softmax(minigrad, x, dim, True), _log_softmax(torch, x, dim, True)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11 * scale)


@pytest.mark.parametrize("dim", [-1, 0])
def test_log_softmax_float32_within_rounding(dim):
    x = (np.random.default_rng(16).standard_normal((64, 128, 64)) * 5).astype(np.float32)
    mine = _log_softmax(minigrad, x, dim)
    theirs = _log_softmax(torch, x.astype(np.float64), dim)
    for a, b in zip(mine, theirs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=2e-5)


def test_log_softmax_extremes_in_range_and_odd_shapes():
    x = np.full((300, 64), -64.0)                     # every exp tiny: no underflow to 0
    x[:, 0] = 64.0
    np.testing.assert_allclose(minigrad.log_softmax(minigrad.tensor(x), 1).numpy(),
                               torch.log_softmax(torch.from_numpy(x), 1).numpy(),
                               rtol=1e-12, atol=1e-12)
    for shape in [(), (0,), (1,), (0, 3)]:
        x = np.asarray(np.random.default_rng(0).standard_normal(shape))
        for a, b in zip(_log_softmax(minigrad, x, -1 if shape else 0),
                        _log_softmax(torch, x, -1 if shape else 0)):
            assert a.shape == b.shape
            _close64(a, b)
