"""Fast paths of round 34, beside torch (correctness only, nothing timed):

* smooth_l1_loss / huber_loss block by block, summed in cache (``ops._band_loss_rows``);
* a float scatter-add (gather's backward, scatter_add) written in place, the repeated
  positions summed apart (``_scatter_add_kernels._written_then_summed``);
* nll_loss of spatial log-probabilities (N, C, d1, ...) as one node on the input as laid out
  (``ops._nll_spatial``);
* bilinear grid_sample by cells of a zero-padded image (``nn._grid_cells``);
* the widened row sums of index_select's backward / index_add widening only the repeated
  destinations (``ops._row_sums``).

Each: values and gradients in float64 (second derivatives through create_graph where the op
has them) and float32 against torch, on shapes that reach every branch: empty, 0-d where
legal, non-contiguous, broadcast, every reduction / padding mode / align_corners, repeated
indices, many points in one place, non-finite numbers, and blocks made small so that a
small array spans several of them."""
import numpy as np
import pytest

import minigrad
from minigrad.nn import _grid_cells
from minigrad.ops import _band_loss_rows, _row_sums, _scatter_add_kernels

torch = pytest.importorskip("torch")

LIBS = (minigrad, torch)
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=2e-5, atol=2e-5)}


def _weights(lib, shape, dtype):
    n = int(np.prod(shape))
    return lib.tensor(np.linspace(-1.5, 2.0, n).reshape(shape).astype(dtype))


def _run(fn, arrays, second=False, grads=None):
    """fn(lib, *xs) for minigrad and torch: the value, the gradients of (y * w).sum() with
    respect to the inputs listed in ``grads`` (the floating ones by default) and, with
    ``second``, the gradients of the squared gradients' sum with respect to w and those
    inputs (through create_graph)."""
    if grads is None:
        grads = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    out = []
    for lib in LIBS:
        xs = [lib.tensor(a, requires_grad=i in grads) for i, a in enumerate(arrays)]
        wanted = [xs[i] for i in grads]
        y = fn(lib, *xs)
        row = [y.detach().numpy()]
        w = _weights(lib, tuple(y.shape), y.detach().numpy().dtype)
        if second:
            w.requires_grad_(True)
            gs = lib.autograd.grad((y * w).sum(), wanted, create_graph=True)
            row += [g.detach().numpy() for g in gs]
            total = sum((g * g).sum() for g in gs)
            row += [np.zeros(0) if g is None else g.numpy()
                    for g in lib.autograd.grad(total, [w] + wanted, allow_unused=True)]
        else:
            row += [g.numpy() for g in lib.autograd.grad((y * w).sum(), wanted)]
        out.append(row)
    return out


def _close(pair, dtype=np.float64, **tol):
    mine, theirs = pair
    assert len(mine) == len(theirs)
    tol = tol or TOL[dtype]
    for a, b in zip(mine, theirs):
        assert a.shape == b.shape
        if a.size and b.size:
            assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, equal_nan=True, **tol)


def _normal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few numbers, so that small arrays run through several (and a last partial
    one) of every blocked kernel here."""
    monkeypatch.setattr(_band_loss_rows, "_BLOCK", 7)
    monkeypatch.setattr(_grid_cells, "_BLOCK", 40)


# --- smooth_l1_loss / huber_loss ------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind,width", [("smooth_l1", 1.0), ("smooth_l1", 0.5),
                                        ("smooth_l1", 2.5), ("huber", 1.0), ("huber", 0.3)])
def test_band_losses(small_blocks, dtype, reduction, kind, width):
    a, t = _normal((5, 9), dtype, 1) * 2, _normal((5, 9), dtype, 2)
    a[0, :3] = t[0, :3] + np.array([width, -width, 0], dtype)     # on the band's edge, 0

    def fn(lib, x, y):
        if kind == "smooth_l1":
            return lib.nn.functional.smooth_l1_loss(x, y, reduction=reduction, beta=width)
        return lib.nn.functional.huber_loss(x, y, reduction=reduction, delta=width)
    _close(_run(fn, [a, t]), dtype)
    if dtype == np.float64:
        _close(_run(fn, [a, t], second=True), dtype)
        _close(_run(fn, [a, t], grads=[1]), dtype)             # the target's alone


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_band_losses_edges(small_blocks, reduction):
    f = {"reduction": reduction}
    for a, t in [(np.zeros((0, 3)), np.zeros((0, 3))),                  # empty
                 (np.array(0.7), np.array(-0.4)),                       # 0-d
                 (_normal((4, 6), np.float64).T, _normal((6, 4), np.float64, 3))]:
        _close(_run(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(x, y, **f), [a, t]))
        _close(_run(lambda lib, x, y: lib.nn.functional.huber_loss(x, y, **f), [a, t]))
    # a transposed (non-contiguous) input, and a broadcast target
    a, t = _normal((6, 4), np.float64), _normal((4,), np.float64, 5)
    _close(_run(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(x.t(), y[:, None] + 0 * x.t(),
                                                                   **f), [a, t]))
    with pytest.warns(UserWarning):
        mine = minigrad.nn.functional.smooth_l1_loss(minigrad.tensor(a), minigrad.tensor(t),
                                                     **f)
    with pytest.warns(UserWarning):
        theirs = torch.nn.functional.smooth_l1_loss(torch.tensor(a), torch.tensor(t), **f)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


def test_band_losses_non_finite(small_blocks):
    a = np.array([np.nan, np.inf, -np.inf, 1.0, 3.0, -0.0, 0.2], np.float32)
    t = np.array([0.0, 1.0, 2.0, np.inf, np.nan, 0.0, 0.1], np.float32)
    for reduction in ("none", "sum"):
        _close(_run(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(
            x, y, reduction=reduction), [a, t]), np.float32)
        _close(_run(lambda lib, x, y: lib.nn.functional.huber_loss(
            x, y, reduction=reduction, delta=0.5), [a, t]), np.float32)


def test_band_loss_whole_blocks_and_threads():
    """The default blocks over an array larger than one, on two threads."""
    a, t = _normal((300, 1000), np.float32, 7), _normal((300, 1000), np.float32, 8)
    before = minigrad.get_num_threads()
    try:
        for threads in (1, 2):
            minigrad.set_num_threads(threads)
            for reduction in ("mean", "none"):
                _close(_run(lambda lib, x, y: lib.nn.functional.smooth_l1_loss(
                    x, y, reduction=reduction), [a, t]), np.float32, rtol=1e-5, atol=1e-6)
    finally:
        minigrad.set_num_threads(before)


# --- gather's backward / scatter_add --------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("repeats", ["none", "few", "many"])
def test_gather_backward(dtype, repeats):
    rng = np.random.default_rng(3)
    x = _normal((40, 64), dtype)
    if repeats == "none":
        idx = np.argsort(rng.random((40, 64)), axis=1)[:, :40]
    elif repeats == "few":
        idx = rng.integers(0, 64, (40, 40))
    else:
        idx = rng.integers(0, 3, (40, 40))                      # most positions repeat
    _close(_run(lambda lib, a, i: a.gather(1, i), [x, idx]), dtype)
    _close(_run(lambda lib, a, i: a.gather(0, i), [x, idx[:, :30] % 40]), dtype)
    if dtype == np.float64:
        _close(_run(lambda lib, a, i: a.gather(1, i), [x, idx], second=True))


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_scatter_add_written_then_summed(monkeypatch, share):
    """scatter_add of repeated positions, the repeats summed apart (share 1) or by the
    bincount (share 0), -0.0 and non-finite sources, a non-contiguous source."""
    monkeypatch.setattr(_scatter_add_kernels, "REPEATS_UP_TO", share)
    rng = np.random.default_rng(4)
    for dtype in (np.float32, np.float64):
        src = _normal((64, 50), dtype)
        src[0, :5] = -0.0
        src[1, 0], src[2, 0] = np.inf, np.nan
        idx = rng.integers(0, 30, (64, 50))
        idx[1, 0] = idx[2, 0] = 7                               # inf and nan in one place
        base = np.zeros((64, 30), dtype)
        mine = minigrad.tensor(base).scatter_add(1, minigrad.tensor(idx), minigrad.tensor(src))
        theirs = torch.tensor(base).scatter_add(1, torch.tensor(idx), torch.tensor(src))
        _close([[mine.numpy()], [theirs.numpy()]], dtype, rtol=1e-6, atol=1e-6)
        assert not np.signbit(mine.numpy()[np.nonzero(mine.numpy() == 0)]).any()
        st = np.ascontiguousarray(src.T)                        # read as a transposed view
        mine = minigrad.zeros(64, 30, dtype=mine.dtype).scatter_add(
            1, minigrad.tensor(idx), minigrad.tensor(st).t())
        theirs = torch.zeros(64, 30, dtype=theirs.dtype).scatter_add(
            1, torch.tensor(idx), torch.tensor(st).t())
        _close([[mine.numpy()], [theirs.numpy()]], dtype, rtol=1e-6, atol=1e-6)


# --- nll_loss of spatial log-probabilities ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(2, 4, 5), (2, 3, 4, 5), (1, 3, 2, 3, 2)])
def test_nll_loss_spatial(dtype, reduction, shape):
    rng = np.random.default_rng(5)
    x = _normal(shape, dtype)
    t = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    w = np.linspace(0.5, 2.0, shape[1]).astype(dtype)
    t_ignored = t.copy()
    t_ignored.reshape(-1)[::3] = 1
    for kw, target in [({}, t), ({"weight": w}, t), ({"ignore_index": 1}, t_ignored),
                       ({"weight": w, "ignore_index": 1}, t_ignored),
                       ({"ignore_index": -100}, t)]:
        def fn(lib, a, tt, kw=kw):
            extra = {k: lib.tensor(v) if k == "weight" else v for k, v in kw.items()}
            return lib.nn.functional.nll_loss(a, tt, reduction=reduction, **extra)

        def through_log_softmax(lib, a, tt, kw=kw):
            return fn(lib, lib.nn.functional.log_softmax(a, 1), tt)
        _close(_run(fn, [x, target]), dtype)
        if dtype == np.float64:
            _close(_run(through_log_softmax, [x, target], second=True))


def test_nll_loss_spatial_edges():
    f = torch.nn.functional
    rng = np.random.default_rng(6)
    # every target ignored ('mean' is nan, its gradient 0), an empty batch, a transposed input
    x = _normal((2, 3, 4), np.float64)
    t = np.full((2, 4), 2)
    for reduction in ("mean", "sum", "none"):
        _close(_run(lambda lib, a, tt: lib.nn.functional.nll_loss(
            a, tt, ignore_index=2, reduction=reduction), [x, t]))
        _close(_run(lambda lib, a, tt: lib.nn.functional.nll_loss(
            a, tt, reduction=reduction), [np.zeros((0, 3, 4)), np.zeros((0, 4), np.int64)]))
    xt = _normal((2, 4, 3), np.float64)
    t = rng.integers(0, 3, (2, 4))
    _close(_run(lambda lib, a, tt: lib.nn.functional.nll_loss(a.transpose(1, 2), tt),
                [xt, t]))
    # the node: PyTorch's name, the input's node next
    a = minigrad.tensor(x, requires_grad=True)
    loss = minigrad.nn.functional.nll_loss(a.exp(), minigrad.tensor(t[:, :4] % 3))
    assert loss.grad_fn.name() == f.nll_loss(torch.tensor(x, requires_grad=True).exp(),
                                              torch.tensor(t[:, :4] % 3)).grad_fn.name()
    assert loss.grad_fn.next_functions[0][0].name() == "ExpBackward0"
    # an out-of-range target still raises PyTorch's error
    bad = np.array([[0, 5, 1, 0], [0, 0, 0, 0]])
    with pytest.raises(IndexError):
        minigrad.nn.functional.nll_loss(minigrad.tensor(x), minigrad.tensor(bad))


# --- bilinear grid_sample -------------------------------------------------------------------

def _grid(shape, dtype, seed, scale=1.1):
    g = np.random.default_rng(seed).uniform(-scale, scale, shape).astype(dtype)
    g.reshape(-1, 2)[:6] = [[-1, -1], [1, 1], [-1, 1], [0, 0], [1.5, -1.7], [-1.02, 0.999]]
    return g


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("c", [1, 3, 9])
def test_grid_sample_bilinear(small_blocks, dtype, padding_mode, align_corners, c):
    x = _normal((2, c, 5, 6), dtype)
    g = _grid((2, 4, 7, 2), dtype, c)

    def fn(lib, a, grid):
        return lib.nn.functional.grid_sample(a, grid, mode="bilinear",
                                             padding_mode=padding_mode,
                                             align_corners=align_corners)
    _close(_run(fn, [x, g]), dtype)
    _close(_run(fn, [x, g], grads=[0]), dtype)
    _close(_run(fn, [x, g], grads=[1]), dtype)
    if dtype == np.float64 and c == 3:
        _close(_run(fn, [x, g], second=True))


def test_grid_sample_many_points_in_one_cell(monkeypatch):
    """Most points in a few cells: ranks past MIN_RANKS go to the float64 tail."""
    monkeypatch.setattr(_grid_cells, "MIN_RANKS", 2)
    monkeypatch.setattr(_grid_cells, "MIN_RANK_WORK", 10 ** 9)
    x = _normal((2, 4, 6, 5), np.float64)
    g = np.random.default_rng(8).uniform(-0.05, 0.05, (2, 9, 9, 2))
    g[0, :3] = 0.3                                               # another crowded cell
    for dtype in (np.float64, np.float32):
        _close(_run(lambda lib, a, grid: lib.nn.functional.grid_sample(
            a, grid, align_corners=False), [x.astype(dtype), g.astype(dtype)]), dtype)


def test_grid_sample_edges(small_blocks):
    f = {"align_corners": False}
    # an empty batch, no output points, one pixel, a non-contiguous (channels-last) input
    cases = [(np.zeros((0, 3, 4, 4)), np.zeros((0, 2, 2, 2))),
             (_normal((2, 3, 4, 4), np.float64), np.zeros((2, 0, 3, 2))),
             (_normal((1, 2, 1, 1), np.float64), _grid((1, 3, 3, 2), np.float64, 9))]
    for x, g in cases:
        _close(_run(lambda lib, a, grid: lib.nn.functional.grid_sample(a, grid, **f), [x, g]))
    x = _normal((2, 4, 3, 5), np.float64)
    g = _grid((2, 3, 3, 2), np.float64, 10)
    _close(_run(lambda lib, a, grid: lib.nn.functional.grid_sample(
        a.permute(0, 3, 1, 2), grid, **f), [x.transpose(0, 2, 3, 1).copy(), g]))
    # non-finite coordinates: zeros padding reads nothing for them
    g[0, 0, 0] = [np.nan, 0.1]
    g[0, 0, 1] = [np.inf, 0.2]
    g[1, 1, 1] = [-np.inf, -np.inf]
    for mode in ("zeros", "border", "reflection"):
        mine, theirs = [lib.nn.functional.grid_sample(lib.tensor(x), lib.tensor(g),
                                                      padding_mode=mode, **f).numpy()
                        for lib in LIBS]
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-10, equal_nan=True)


# --- index_select's backward, index_add -------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_index_select_backward_widened_repeats(dtype):
    rng = np.random.default_rng(11)
    x = _normal((50, 64), dtype)
    for idx in [rng.permutation(50)[:30],                       # no repeats
                rng.integers(0, 50, 80),                        # a few
                np.r_[np.zeros(200, np.int64), rng.integers(0, 50, 40)]]:   # one long run
        _close(_run(lambda lib, a, i: a.index_select(0, i), [x, idx]), dtype)
        _close(_run(lambda lib, a, i: a.index_select(1, i % 64), [x, idx]), dtype)


def test_index_add_widened_sum_rounded_once():
    """float32 slices added at repeated rows: the float64 sum rounded once (the values picked
    so that float32 running sums would differ), -0.0 slices giving +0.0."""
    src = np.zeros((6, 64), np.float32)
    src[:3] = [[1.0], [1e-8], [1e-8]]
    src[3:] = -0.0
    idx = np.array([0, 0, 0, 1, 1, 2])
    out = minigrad.zeros(3, 64).index_add(0, minigrad.tensor(idx), minigrad.tensor(src))
    exact = np.float32(np.float64(1.0) + np.float64(np.float32(1e-8)) * 2)
    assert (out.numpy()[0] == exact).all()
    assert not np.signbit(out.numpy()[1:]).any()
    theirs = torch.zeros(3, 64).index_add(0, torch.tensor(idx), torch.tensor(src))
    np.testing.assert_allclose(out.numpy(), theirs.numpy(), rtol=1e-6)


def test_row_sums_tail_widened(monkeypatch):
    monkeypatch.setattr(_row_sums, "MIN_RANKS", 2)
    rng = np.random.default_rng(12)
    x = _normal((20, 64), np.float32)
    idx = np.r_[np.full(50, 3), np.full(20, 7), rng.integers(0, 20, 30)]
    _close(_run(lambda lib, a, i: a.index_select(0, i), [x, idx]), np.float32)
