"""The fast paths of round 2 beside torch (correctness only, nothing timed):

* erf of float32 and narrower inputs (the cubic table of ``error_function``: two
  polynomials were tried and not kept, faster on large arrays of small numbers but slower
  on small arrays and wide ones), and exact GELU built on it;
* elu / celu / selu forward and array backward in cache-sized blocks (``activation.Elu``);
* sigmoid as 1 / (1 + e^-x) in four passes, and its array backward;
* grid_sample's bilinear 4-D case as one node (``_functional_grid._BilinearSample2d``).

Each: values and gradients in float32 and float64, the second derivative where the op has
one, and the edges (empty, 0-d, non-contiguous, NaN and infinities, signed zeros)."""
import math

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

LIBS = (minigrad, torch)


def _ulps(mine, exact):
    """|mine - exact| in units of float32 spacing at the exact value."""
    unit = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    return np.abs(mine.astype(np.float64) - exact) / unit


def _both(fn, *arrays, grad=True, dtype=None):
    """fn(lib, *tensors) for minigrad and torch on the same arrays: [(value, grads...)]."""
    out = []
    for lib in LIBS:
        ts = [lib.tensor(a if dtype is None else a.astype(dtype), requires_grad=grad)
              for a in arrays]
        y = fn(lib, *ts)
        row = [y.detach().numpy()]
        if grad and y.numel():
            w = lib.tensor(np.linspace(-1.5, 2.0, y.numel()).reshape(tuple(y.shape))
                           .astype(y.detach().numpy().dtype))
            row += [g.numpy() for g in lib.autograd.grad((y * w).sum(), ts)]
        out.append(row)
    return out


def _close(pair, rtol, atol, nan_same=True):
    for mine, theirs in zip(*pair):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=rtol, atol=atol, equal_nan=nan_same)


# ---------------------------------------------------------------------------------- erf, gelu
def test_erf_float32_within_one_unit_of_exact_and_torch():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-8, 8, 400001), rng.standard_normal(50000) * 3,
                        np.logspace(-40, 0.7, 3000), -np.logspace(-40, 0.7, 3000),
                        [0.74999, 0.75, 0.75001, 4.4999, 4.5, 4.5001, 3.92, 1e30, -1e30]])
    x = x.astype(np.float32)
    mine = minigrad.erf(minigrad.tensor(x)).numpy()
    theirs = torch.erf(torch.from_numpy(x)).numpy()
    exact = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert mine.dtype == np.float32
    assert _ulps(mine, exact).max() <= 1.0
    assert _ulps(mine, theirs.astype(np.float64)).max() <= 2.0


def test_erf_float32_special_values_and_layouts():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 1e-45, -1e-45, 1e-38],
                 np.float32)
    mine = minigrad.erf(minigrad.tensor(x)).numpy()
    theirs = torch.erf(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(np.signbit(mine), np.signbit(theirs))
    # 0-d, empty, a transposed view
    for a in (np.float32(0.6), np.zeros((0, 4), np.float32),
              np.random.default_rng(1).standard_normal((50, 70)).astype(np.float32).T):
        m = minigrad.erf(minigrad.tensor(a)).numpy()
        t = torch.erf(torch.tensor(a)).numpy()
        assert m.shape == t.shape and m.dtype == t.dtype
        np.testing.assert_allclose(m, t, rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_erf_narrow_dtypes_match_torch(dtype):
    x = np.linspace(-5, 5, 20001)
    m = minigrad.erf(minigrad.tensor(x, dtype=getattr(minigrad, dtype))).float().numpy()
    t = torch.erf(torch.tensor(x, dtype=getattr(torch, dtype))).float().numpy()
    # torch rounds its float32 erf to the dtype: a float32 unit apart can round apart
    np.testing.assert_allclose(m, t, rtol=2.0 ** -10 if dtype == "float16" else 0, atol=0)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_values_and_gradients(dtype, approximate):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.standard_normal(70000) * 3,
                        [0.0, -0.0, 1e-30, -8.0, 8.0, 40.0, -40.0]]).reshape(7, -1)
    pair = _both(lambda lib, t: lib.nn.functional.gelu(t, approximate=approximate), x,
                 dtype=dtype)
    # float32: 1 + erf cancels for x << 0 and torch's tanh reaches -1 sooner than numpy's,
    # so small outputs and slopes differ by a few 1e-6 absolutely (as before this path)
    tol = (2e-6, 3e-6) if dtype == "float32" else (1e-12, 1e-14)
    _close(pair, *tol)
    np.testing.assert_array_equal(np.signbit(pair[0][0]), np.signbit(pair[1][0]))


def test_gelu_nan_inf_and_second_derivative():
    # (+inf left out: torch 2.13's float32 gelu(inf) is NaN, minigrad's inf)
    x = np.array([np.nan, -np.inf, 0.3, -1.7], np.float32)
    pair = _both(lambda lib, t: lib.nn.functional.gelu(t), x)
    _close(pair, 1e-6, 1e-7)
    x64 = np.random.default_rng(3).standard_normal((4, 5))
    out = []
    for lib in LIBS:
        t = lib.tensor(x64, requires_grad=True)
        g, = lib.autograd.grad(lib.nn.functional.gelu(t).sum(), t, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), t)
        out.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- elu, celu, selu
_ELUS = {
    "elu": lambda lib, t: lib.nn.functional.elu(t),
    "elu_alpha": lambda lib, t: lib.nn.functional.elu(t, alpha=0.3),
    "celu": lambda lib, t: lib.nn.functional.celu(t, alpha=0.7),
    "selu": lambda lib, t: lib.nn.functional.selu(t),
}
_EDGES = [0.0, -0.0, np.inf, -np.inf, np.nan, -1e-30, 1e-30, -100.0, 90.0, -3.0]


@pytest.mark.parametrize("name", sorted(_ELUS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elu_family_values_gradients_and_edges(name, dtype):
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_normal(3 * 65536 + 5) * 4, _EDGES]).reshape(3, -1)
    pair = _both(_ELUS[name], x, dtype=dtype)
    # the slope at NaN is torch's vectorised loop's NaN, but its scalar tail loop's 1: the
    # NaN inputs are left out of the gradient's comparison
    nan = np.isnan(x)
    tol = (3e-7, 1e-7) if dtype == "float32" else (1e-13, 1e-15)
    _close([pair[0][:1], pair[1][:1]], *tol)
    _close([[pair[0][1][~nan]], [pair[1][1][~nan]]], *tol)
    assert np.isnan(pair[0][1][nan]).all()
    mine, theirs = pair[0][0], pair[1][0]
    keep = ~np.isnan(theirs)
    np.testing.assert_array_equal(np.signbit(mine[keep]), np.signbit(theirs[keep]))


@pytest.mark.parametrize("name", sorted(_ELUS))
def test_elu_family_layouts_and_second_derivative(name):
    fn = _ELUS[name]
    base = np.random.default_rng(5).standard_normal((40, 30))
    for a in (base.T, np.float64(-0.4), np.zeros((0, 3))):           # transposed, 0-d, empty
        _close(_both(fn, a), 1e-13, 1e-15)
    # a transposed input keeps its strides, as torch
    mine = fn(minigrad, minigrad.tensor(base).t())
    assert mine.stride() == fn(torch, torch.tensor(base).t()).stride()
    out = []
    for lib in LIBS:
        t = lib.tensor(base, requires_grad=True)
        g, = lib.autograd.grad(fn(lib, t).sum(), t, create_graph=True)
        gg, = lib.autograd.grad((g * t).sum(), t)
        out.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------ sigmoid
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_values_gradients_and_extremes(dtype):
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.standard_normal(2 * 65536 + 2) * 20,
                        [0.0, -0.0, np.inf, -np.inf, np.nan, -88.0, -89.0, -100.0, -800.0,
                         88.7, 1e-30]]).reshape(5, -1)
    pair = _both(lambda lib, t: lib.sigmoid(t), x, dtype=dtype)
    # the slope s (1 - s) cancels near s = 1, where torch's s may be a unit away: absolute
    # error on the gradient's small entries
    tol = (1e-6, 5e-7) if dtype == "float32" else (1e-12, 1e-16)
    _close(pair, *tol)
    mine, theirs = pair[0][0], pair[1][0]
    # underflow as torch: 0 where e^-x overflows (float32 below about -88.7)
    np.testing.assert_array_equal(mine == 0, theirs == 0)


def test_sigmoid_layouts_and_second_derivative():
    base = np.random.default_rng(7).standard_normal((30, 20)).astype(np.float32)
    for a in (base.T, np.float32(0.25), np.zeros((2, 0), np.float32)):
        _close(_both(lambda lib, t: lib.sigmoid(t), a), 1e-6, 1e-7)
    out = []
    for lib in LIBS:
        t = lib.tensor(base.astype(np.float64), requires_grad=True)
        g, = lib.autograd.grad(lib.sigmoid(t).sum(), t, create_graph=True)
        gg, = lib.autograd.grad((g * t).sum(), t)
        out.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_sigmoid_gradient_of_a_non_contiguous_upstream():
    x = np.random.default_rng(8).standard_normal((6, 9))
    out = []
    for lib in LIBS:
        t = lib.tensor(x, requires_grad=True)
        y = lib.sigmoid(t)
        g, = lib.autograd.grad(y, t, lib.tensor(np.arange(54.0).reshape(9, 6)).t())
        out.append(g.numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-13)


# -------------------------------------------------------------------------------- grid_sample
def _grid_case(dtype, special):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    grid = (rng.random((2, 4, 7, 2)) * 2.6 - 1.3).astype(dtype)
    grid[1, 0, 0] = [-1.0, 1.0]                                  # exactly on the corners
    grid[1, 0, 1] = [1.0, -1.0]
    if special:
        grid[0, 0, 0] = [np.nan, 0.1]
        grid[0, 0, 1] = [np.inf, 0.2]
        grid[0, 0, 2] = [0.3, -np.inf]
    return x, grid


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_grid_sample_bilinear_values_and_gradients(dtype, padding, align):
    x, grid = _grid_case(dtype, special=False)
    pair = _both(lambda lib, a, g: lib.nn.functional.grid_sample(
        a, g, padding_mode=padding, align_corners=align), x, grid)
    tol = (1e-5, 1e-5) if dtype == "float32" else (1e-12, 1e-13)
    _close(pair, *tol)


def test_grid_sample_bilinear_nan_and_infinite_coordinates():
    x, grid = _grid_case("float32", special=True)
    pair = _both(lambda lib, a, g: lib.nn.functional.grid_sample(
        a, g, padding_mode="zeros", align_corners=False), x, grid)
    # the values and the grid's gradient as torch (NaN where torch has NaN)
    for k in (0, 2):
        np.testing.assert_allclose(pair[0][k], pair[1][k], rtol=1e-5, atol=1e-5,
                                   equal_nan=True)


def test_grid_sample_bilinear_layouts_and_empty():
    x, grid = _grid_case("float64", special=False)
    cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # channels last
    gt = np.ascontiguousarray(grid.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    pair = _both(lambda lib, a, g: lib.nn.functional.grid_sample(a, g, align_corners=True),
                 cl, gt)
    _close(pair, 1e-12, 1e-13)
    empty = [lib.nn.functional.grid_sample(lib.zeros(0, 3, 4, 4), lib.zeros(0, 2, 2, 2),
                                           align_corners=False) for lib in LIBS]
    assert tuple(empty[0].shape) == tuple(empty[1].shape) == (0, 3, 2, 2)
    # only the grid, or only the input, needing a gradient
    for needs in ((True, False), (False, True)):
        out = []
        for lib in LIBS:
            a = lib.tensor(x, requires_grad=needs[0])
            g = lib.tensor(grid, requires_grad=needs[1])
            y = lib.nn.functional.grid_sample(a, g, padding_mode="border", align_corners=False)
            out.append(lib.autograd.grad(y.sum(), a if needs[0] else g)[0].numpy())
        np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("padding", ["zeros", "reflection"])
def test_grid_sample_bilinear_second_derivative(padding):
    x, grid = _grid_case("float64", special=False)
    out = []
    for lib in LIBS:
        a = lib.tensor(x, requires_grad=True)
        g = lib.tensor(grid, requires_grad=True)
        y = lib.nn.functional.grid_sample(a, g, padding_mode=padding, align_corners=False)
        ga, gg = lib.autograd.grad((y * y).sum(), (a, g), create_graph=True)
        second = lib.autograd.grad((ga * ga).sum() + (gg * gg).sum(), (a, g))
        out.append([v.detach().numpy() for v in (ga, gg, *second)])
    for m, t in zip(*out):
        np.testing.assert_allclose(m, t, rtol=1e-10, atol=1e-11)


# ----------------------------------------------------------------------------------- LSTM step
def _lstm_pair(dtype, **options):
    """A minigrad LSTM and a torch LSTM with the same weights (seeded: the float32
    tolerances are sized for these weights, whatever ran before)."""
    minigrad.manual_seed(0)
    mine = minigrad.nn.LSTM(5, 4, **options).to(getattr(minigrad, dtype))
    theirs = torch.nn.LSTM(5, 4, **options).to(getattr(torch, dtype))
    weights = dict(mine.named_parameters())
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.tensor(weights[name].detach().numpy()))
    return mine, theirs


@pytest.mark.parametrize("options", [dict(batch_first=True, num_layers=2, bidirectional=True),
                                     dict(proj_size=3)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_values_gradients_and_second_derivative(dtype, options):
    mods = _lstm_pair(dtype, **options)
    x = np.random.default_rng(10).standard_normal((3, 6, 5)).astype(dtype)
    out = []
    for lib, m in zip(LIBS, mods):
        t = lib.tensor(x, requires_grad=True)
        y, (h, c) = m(t)
        loss = (y * y).sum() + (h * h).sum() + (c * c * c).sum()
        params = [t] + list(m.parameters())
        first = lib.autograd.grad(loss, params, create_graph=True)
        second = lib.autograd.grad(sum((v * v).sum() for v in first), t)
        out.append([y.detach().numpy(), h.detach().numpy(), c.detach().numpy()] +
                   [v.detach().numpy() for v in first] + [second[0].numpy()])
    tol = (2e-5, 2e-6) if dtype == "float32" else (1e-11, 1e-13)
    for m, t in zip(*out):
        np.testing.assert_allclose(m, t, rtol=tol[0], atol=tol[1])


def test_lstm_cell_and_packed_sequences():
    rng = np.random.default_rng(11)
    w_ih, w_hh = rng.standard_normal((16, 3)), rng.standard_normal((16, 4))
    x, h, c = (rng.standard_normal((2, n)) for n in (3, 4, 4))
    out = []
    for lib in LIBS:
        ts = [lib.tensor(a, requires_grad=True) for a in (x, h, c, w_ih, w_hh)]
        h1, c1 = lib.lstm_cell(ts[0], (ts[1], ts[2]), ts[3], ts[4])
        grads = lib.autograd.grad((h1 * 2 + c1).sum(), ts)
        out.append([h1.detach().numpy(), c1.detach().numpy()] + [g.numpy() for g in grads])
    for m, t in zip(*out):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-14)
    # a packed batch of unequal lengths
    mods = _lstm_pair("float64")
    seqs = [rng.standard_normal((n, 5)) for n in (4, 2, 1)]
    res = []
    for lib, m in zip(LIBS, mods):
        ts = [lib.tensor(s, requires_grad=True) for s in seqs]
        packed = lib.nn.utils.rnn.pack_sequence(ts)
        y, (hn, cn) = m(packed)
        grads = lib.autograd.grad(y.data.sum() + cn.sum(), ts)
        res.append([y.data.detach().numpy(), hn.detach().numpy()] + [g.numpy() for g in grads])
    for m, t in zip(*res):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-14)


def test_lstm_cell_states_are_contiguous_as_torch():
    x = np.random.default_rng(12).standard_normal((2, 3)).astype(np.float32)
    for lib in LIBS:
        lib.manual_seed(0)
        h, c = lib.nn.LSTMCell(3, 4)(lib.tensor(x))
        assert h.is_contiguous() and c.is_contiguous()
        assert tuple(h.view(-1).shape) == (8,) and tuple(c.view(8).shape) == (8,)


# ------------------------------------------------------------------------------------ GRU step
def _gru_pair(dtype, **options):
    mine = minigrad.nn.GRU(5, 4, **options).to(getattr(minigrad, dtype))
    theirs = torch.nn.GRU(5, 4, **options).to(getattr(torch, dtype))
    weights = dict(mine.named_parameters())
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.tensor(weights[name].detach().numpy()))
    return mine, theirs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gru_values_gradients_and_second_derivative(dtype):
    mods = _gru_pair(dtype, batch_first=True, num_layers=2, bidirectional=True)
    x = np.random.default_rng(13).standard_normal((3, 6, 5)).astype(dtype)
    out = []
    for lib, m in zip(LIBS, mods):
        t = lib.tensor(x, requires_grad=True)
        y, h = m(t)
        loss = (y * y).sum() + (h * h * h).sum()
        first = lib.autograd.grad(loss, [t] + list(m.parameters()), create_graph=True)
        second = lib.autograd.grad(sum((v * v).sum() for v in first), t)
        out.append([y.detach().numpy(), h.detach().numpy()] +
                   [v.detach().numpy() for v in first] + [second[0].numpy()])
    tol = (2e-5, 1e-5) if dtype == "float32" else (1e-11, 1e-13)
    for m, t in zip(*out):
        np.testing.assert_allclose(m, t, rtol=tol[0], atol=tol[1])


def test_gru_cell_unbatched_and_packed_sequences():
    rng = np.random.default_rng(14)
    x, h = rng.standard_normal(3), rng.standard_normal(4)
    cells = minigrad.nn.GRUCell(3, 4).double(), torch.nn.GRUCell(3, 4).double()
    with torch.no_grad():                                   # minigrad's weights, copied
        for p, q in zip(cells[1].parameters(), cells[0].parameters()):
            p.copy_(torch.tensor(q.detach().numpy()))
    out = []
    for lib, cell in zip(LIBS, cells):
        ts = [lib.tensor(x, requires_grad=True), lib.tensor(h, requires_grad=True)]
        h1 = cell(*ts)
        assert h1.is_contiguous()
        grads = lib.autograd.grad((h1 * h1).sum(), ts + list(cell.parameters()))
        out.append([h1.detach().numpy()] + [g.numpy() for g in grads])
    for m, t in zip(*out):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-14)
    mods = _gru_pair("float64")
    seqs = [rng.standard_normal((n, 5)) for n in (4, 2, 1)]
    res = []
    for lib, m in zip(LIBS, mods):
        ts = [lib.tensor(s, requires_grad=True) for s in seqs]
        y, hn = m(lib.nn.utils.rnn.pack_sequence(ts))
        grads = lib.autograd.grad(y.data.sum() + (hn * hn).sum(), ts)
        res.append([y.data.detach().numpy(), hn.detach().numpy()] + [g.numpy() for g in grads])
    for m, t in zip(*res):
        np.testing.assert_allclose(m, t, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- Adam / AdamW step
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, options", [
    ("AdamW", {}), ("AdamW", dict(amsgrad=True, weight_decay=0.3)),
    ("Adam", dict(weight_decay=0.1, maximize=True)), ("Adam", dict(amsgrad=True))])
def test_adam_steps_match_torch(name, options, dtype):
    rng = np.random.default_rng(15)
    shapes = [(70000,), (300, 7), (), (0, 4)]                      # chunks, 0-d, empty
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(4)]
    out = []
    for lib in LIBS:
        params = [lib.nn.Parameter(lib.tensor(a.copy())) for a in start]
        opt = getattr(lib.optim, name)(params, lr=1e-2, **options)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = lib.tensor(g)
            opt.step()
        out.append([p.detach().numpy() for p in params] +
                   [opt.state[params[0]]["exp_avg"].numpy(),
                    opt.state[params[0]]["exp_avg_sq"].numpy()])
    tol = (1e-6, 1e-7) if dtype == "float32" else (1e-13, 1e-15)
    for m, t in zip(*out):
        assert m.dtype == t.dtype and m.shape == t.shape
        np.testing.assert_allclose(m, t, rtol=tol[0], atol=tol[1])
