"""Depthwise convolutions in the block sizes that scale on two threads: the bands' larger,
evenly cut blocks of images (``_conv_bands._blocks``: the stride-1 forward and input
gradient) and the lanes' weight gradient in blocks of ``LANE_BYTES * WEIGHT_SCALE``
(``_conv_depthwise_lanes``). Against PyTorch in float64 and float32 on one and two threads,
and against central finite differences."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad.ops import _conv_bands as bands, _conv_depthwise_lanes as lanes


@pytest.fixture(params=[1, 2], ids=["threads1", "threads2"])
def threads(request):
    before = mg.get_num_threads()
    mg.set_num_threads(request.param)
    yield request.param
    mg.set_num_threads(before)


def _spy(monkeypatch, module, name):
    calls = []
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a: calls.append(name) or real(*a))
    return calls


def _run(lib, x, w, b, g, stride=1, padding=1, dilation=1, mode="zeros", layout=None):
    """y and the gradients of <y, g> in x, w, b, as numpy arrays."""
    C = x.shape[1]
    X = lib.tensor(x)
    if layout is not None:
        X = layout(X)
    X.requires_grad_(True)
    W = lib.tensor(w, requires_grad=True)
    B = None if b is None else lib.tensor(b, requires_grad=True)
    if mode != "zeros":
        X2 = lib.nn.functional.pad(X, (padding,) * 4, mode=mode)
        y = lib.nn.functional.conv2d(X2, W, B, stride=stride, dilation=dilation, groups=C)
    else:
        y = lib.nn.functional.conv2d(X, W, B, stride=stride, padding=padding,
                                     dilation=dilation, groups=C)
    wanted = (X, W) if B is None else (X, W, B)
    grads = lib.autograd.grad((y * lib.tensor(g)).sum(), wanted)
    return [y.detach().numpy()] + [a.detach().numpy() for a in grads]


def _inputs(N, C, H, W, k, m, dtype, seed=0, out=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((C * m, 1, k, k)).astype(dtype)
    b = rng.standard_normal(C * m).astype(dtype)
    return x, w, b, rng


def _close(ours, ref, dtype):
    tol = 1e-9 if dtype == np.float64 else 2e-4
    assert len(ours) == len(ref)
    for a, r in zip(ours, ref):
        assert a.shape == r.shape and a.dtype == r.dtype
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol * max(1.0, float(np.abs(r).max())))


def _compare(x, w, b, dtype, layout=None, **kw):
    y = torch.nn.functional.conv2d(
        torch.tensor(x), torch.tensor(w), stride=kw.get("stride", 1),
        padding=kw.get("padding", 1) if kw.get("mode", "zeros") == "zeros" else 0,
        dilation=kw.get("dilation", 1), groups=x.shape[1]) if kw.get("mode", "zeros") == \
        "zeros" else None
    shape = y.shape if y is not None else None
    if shape is None:
        X2 = torch.nn.functional.pad(torch.tensor(x), (kw["padding"],) * 4, mode=kw["mode"])
        shape = torch.nn.functional.conv2d(X2, torch.tensor(w), dilation=kw.get("dilation", 1),
                                           groups=x.shape[1]).shape
    g = np.random.default_rng(7).standard_normal(tuple(shape)).astype(dtype)
    ours = _run(mg, x, w, b, g, layout=None if layout is None else layout[0], **kw)
    ref = _run(torch, x, w, b, g, layout=None if layout is None else layout[1], **kw)
    _close(ours, ref, dtype)


# ------------------------------------------------------------------------------------------
# The block cuts
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 7, 16, 17, 32, 33])
@pytest.mark.parametrize("most", [1, 2, 3, 5, 9, 16, 40])
def test_even_cut(n, most):
    for even in (bands._even, lanes._even):
        size = even(n, most)
        assert 1 <= size <= max(1, most)
        starts = range(0, n, size)
        assert len(starts) == -(-n // most)                   # as few blocks as ``most`` makes
        assert size == -(-n // len(starts))                   # the smallest such size
        assert sum(min(n, s + size) - s for s in starts) == n


@pytest.mark.parametrize("N,C,per_channel,stack", [
    (16, 64, 13872, 8 << 20), (32, 64, 13872, 8 << 20), (1, 64, 13872, 200000),
    (3, 5, 1000, 7000), (9, 3, 100, 1), (5, 7, 10, 1 << 30)])
def test_bands_blocks_cover_once(N, C, per_channel, stack, monkeypatch):
    monkeypatch.setattr(bands, "STACK_BYTES", stack)
    monkeypatch.setattr(bands, "THREADED_SCALE", 1)
    seen = np.zeros((N, C), dtype=int)
    sizes = []
    for n0, n1, c0, c1 in bands._blocks(N, C, per_channel):
        seen[n0:n1, c0:c1] += 1
        sizes.append((n1 - n0) * (c1 - c0))
        assert (n1 - n0) * (c1 - c0) * per_channel <= max(stack, per_channel)
    assert (seen == 1).all()
    # 16 images of 887 KB in 8 MB: two blocks of 8, not 9 and 7
    if (N, stack) == (16, 8 << 20):
        assert sizes == [8 * C, 8 * C]


@pytest.mark.parametrize("N,C,per,size", [(16, 64, 13900, 16 << 20), (32, 64, 13900, 16 << 20),
                                          (4, 9, 1000, 5000), (7, 3, 1000, 2500),
                                          (5, 5, 10, 1)])
def test_lanes_blocks_cover_once(N, C, per, size):
    seen = np.zeros((N, C), dtype=int)
    counts = []
    for n0, n1, c0, c1 in lanes._each_block(N, C, per, size):
        seen[n0:n1, c0:c1] += 1
        counts.append((n1 - n0) * (c1 - c0))
    assert (seen == 1).all()
    if (N, size) == (32, 16 << 20):          # 64 channels of 0.44 MB: 32 and 32, not 36 and 28
        assert counts == [32 * 32, 32 * 32]


def test_weight_gradient_blocks_are_larger(monkeypatch):
    """The weight gradient cuts its lanes by LANE_BYTES * WEIGHT_SCALE, the input gradient by
    LANE_BYTES."""
    sizes = []
    real = lanes._each_block
    monkeypatch.setattr(lanes, "_each_block",
                        lambda *a: sizes.append(a[3] if len(a) > 3 else None) or real(*a))
    x, w, b, rng = _inputs(2, 3, 12, 11, 3, 2, np.float64)     # m = 2: gx on the lanes too
    X = mg.tensor(x, requires_grad=True)
    W = mg.tensor(w, requires_grad=True)
    y = mg.nn.functional.conv2d(X, W, padding=1, groups=3)
    y.sum().backward()
    assert sorted(sizes, key=str) == [lanes.LANE_BYTES * lanes.WEIGHT_SCALE, None]


# ------------------------------------------------------------------------------------------
# Against PyTorch, one and two threads
# ------------------------------------------------------------------------------------------
CASES = [  # N, C, H, W, k, m, dilation, padding, mode
    (8, 32, 31, 31, 3, 1, 1, 1, "zeros"),      # large enough for the batch split
    (1, 6, 17, 13, 3, 1, 1, 1, "zeros"),       # batch 1: blocks of channels
    (3, 5, 15, 16, 5, 1, 1, 2, "zeros"),
    (2, 4, 14, 15, 3, 2, 1, 1, "zeros"),       # a channel multiplier
    (3, 3, 16, 13, 3, 1, 2, 2, "zeros"),       # dilation
    (2, 4, 13, 14, 3, 1, 1, 1, "reflect"),
    (3, 3, 12, 15, 3, 3, 1, 1, "circular"),
    (2, 5, 15, 11, 3, 1, 1, 1, "replicate"),
    (5, 3, 12, 12, 3, 1, 1, 0, "zeros"),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("small", [False, True], ids=["blocks", "tiny-blocks"])
def test_against_torch(case, dtype, small, threads, monkeypatch):
    N, C, H, W, k, m, d, p, mode = case
    fwd = _spy(monkeypatch, bands, "forward")
    gw = _spy(monkeypatch, lanes, "weight_grad")
    if small:       # several blocks of images, or of one image's channels
        monkeypatch.setattr(bands, "STACK_BYTES", 3 * 5000)
        monkeypatch.setattr(lanes, "LANE_BYTES", 3000)
    x, w, b, _ = _inputs(N, C, H, W, k, m, dtype, seed=N + C)
    _compare(x, w, b, dtype, padding=p, dilation=d, mode=mode)
    assert fwd                              # the bands ran (forward, and for m = 1 gx)
    assert gw                               # the lanes' weight gradient ran
    if m == 1 and mode == "zeros":
        assert len(fwd) >= 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_non_contiguous_input(dtype, threads):
    x, w, b, _ = _inputs(8, 32, 31, 31, 3, 1, dtype, seed=3)
    xt = np.ascontiguousarray(x.transpose(0, 1, 3, 2))
    flip = (lambda X: X.transpose(2, 3), lambda X: X.transpose(2, 3))
    _compare(xt, w, b, dtype, layout=flip, padding=1)
    last = (lambda X: X.contiguous(memory_format=mg.channels_last),
            lambda X: X.contiguous(memory_format=torch.channels_last))
    _compare(x, w, b, dtype, layout=last, padding=1)


def test_no_bias(threads):
    x, w, _, _ = _inputs(4, 6, 16, 17, 3, 1, np.float64, seed=4)
    _compare(x, w, None, np.float64, padding=1)


def test_finite_differences(threads, monkeypatch):
    """Central differences in float64 of <conv(x, w, b), g>, blocks cut small."""
    monkeypatch.setattr(bands, "STACK_BYTES", 4000)
    monkeypatch.setattr(lanes, "LANE_BYTES", 1000)
    x, w, b, rng = _inputs(2, 3, 10, 11, 3, 1, np.float64, seed=9)
    g = rng.standard_normal((2, 3, 10, 11))
    _, gx, gw, gb = _run(mg, x, w, b, g)

    def f(xx, ww, bb):
        y = mg.nn.functional.conv2d(mg.tensor(xx), mg.tensor(ww), mg.tensor(bb), padding=1,
                                    groups=3)
        return float((y.numpy() * g).sum())
    eps = 1e-6
    for arr, grad, pick in ((x, gx, lambda a: (x if a is None else a, w, b)),
                            (w, gw, lambda a: (x, w if a is None else a, b)),
                            (b, gb, lambda a: (x, w, b if a is None else a))):
        for idx in list(np.ndindex(arr.shape))[::max(1, arr.size // 12)]:
            plus, minus = arr.copy(), arr.copy()
            plus[idx] += eps
            minus[idx] -= eps
            num = (f(*pick(plus)) - f(*pick(minus))) / (2 * eps)
            assert abs(num - grad[idx]) <= 1e-6 * max(1.0, abs(num))


def test_input_gradient_blocks_grow_with_threads(threads, monkeypatch):
    """The lanes' input gradient cuts by LANE_BYTES on one thread, by LANE_BYTES *
    THREADED_SCALE with several; the result is PyTorch's either way."""
    monkeypatch.setattr(lanes, "LANE_BYTES", 2000)
    N, C, per = 3, 40, 100
    blocks = list(lanes._each_block(N, C, per))
    size = 2000 * (lanes.THREADED_SCALE if threads > 1 else 1)
    assert len(blocks) == -(-C // (size // (N * per)))
    x, w, b, _ = _inputs(3, 5, 14, 13, 3, 2, np.float32, seed=11)
    _compare(x, w, b, np.float32, stride=2, padding=1)


@pytest.mark.parametrize("fill_width", [0, 1 << 20], ids=["zeros-around", "one-fill"])
@pytest.mark.parametrize("case", [(3, 4, 13, 17, 3, 1, 1, 1), (2, 3, 12, 11, 3, 2, 2, 2),
                                  (2, 3, 11, 12, 5, 1, 1, 0)], ids=str)
def test_stack_zeroing_on_scratch_full_of_nan(case, fill_width, threads, monkeypatch):
    """Both ways of zeroing the stack (the padding around x's columns, or one fill of it)
    leave no cell that is read unwritten: the scratch comes full of NaN."""
    real = bands._workspace

    def nan_workspace(kind, shape, dtype, xp):
        out = real(kind, shape, dtype, xp)
        out.fill(np.nan)
        return out
    monkeypatch.setattr(bands, "_workspace", nan_workspace)
    monkeypatch.setattr(bands, "FILL_WIDTH", fill_width)
    calls = _spy(monkeypatch, bands, "forward")
    N, C, H, W, k, m, d, p = case
    x, w, b, _ = _inputs(N, C, H, W, k, m, np.float64, seed=H)
    _compare(x, w, b, np.float64, padding=p, dilation=d)
    assert calls


def test_bands_blocks_grow_with_threads(threads):
    """One thread: 4 MB stacks (32 images of 887 KB in 8 blocks of 4); several: 8 MB (16
    images, one thread's half of the batch, in 2 blocks of 8)."""
    per_channel = 34 * 3 * 34 * 4
    if threads == 1:
        assert [b[1] - b[0] for b in bands._blocks(32, 64, per_channel)] == [4] * 8
    else:
        assert [b[1] - b[0] for b in bands._blocks(16, 64, per_channel)] == [8, 8]
