"""Round 22: the hand-off of minigrad's thread pieces (minigrad/parallel.py). Once its own
piece is done, the calling thread runs every piece no worker has started yet, so a worker
kept off its core costs no waiting. The LeNet step's kernels (convolutions, max-pools,
relu, linear layers, SGD) compared with PyTorch on one and two threads, float32 and float64,
LeNet's shapes, odd shapes and batch 1; and tests that the splits and holds they rely on are
in force."""
import threading

import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.ops import conv_kernels

torch = pytest.importorskip("torch")
threadpoolctl = pytest.importorskip("threadpoolctl")

F = minigrad.nn.functional
TF = torch.nn.functional


def _tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def _pair(a, requires_grad=True):
    return (minigrad.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


# ----------------------------------------------------------------------------------------------
# The hand-off itself
# ----------------------------------------------------------------------------------------------
def _busy_worker():
    """Keep the one worker of a two-thread pool busy until the returned event is set;
    returns (event, started) -- ``started`` is set once the worker is inside the piece."""
    release, started = threading.Event(), threading.Event()

    def block(a, b):
        started.set()
        release.wait(10)
    job = parallel._Job(1)
    parallel._get_pool(parallel.get_num_threads() - 1).tasks.put(
        parallel._Piece(block, 0, 1, job))
    assert started.wait(10)
    return release, job


def test_unstarted_piece_runs_on_the_calling_thread(threads_restored):
    parallel.set_num_threads(2)
    release, job = _busy_worker()
    try:
        ran = []
        parallel.run_split(lambda a, b: ran.append((a, b, threading.get_ident())), 10,
                           1 << 30)
        # both pieces, on this thread, while the worker was still busy
        assert sorted(r[:2] for r in ran) == [(0, 5), (5, 10)]
        assert {r[2] for r in ran} == {threading.get_ident()}
        assert not job.done.acquire(False)
    finally:
        release.set()
    assert job.done.acquire(timeout=10)
    # the worker then skips the piece taken from it: later runs use it as before
    seen = set()
    for _ in range(50):
        parallel.run_split(lambda a, b: seen.add(threading.get_ident()), 2, 1 << 30)
    assert len(seen) in (1, 2)


def test_piece_error_raised_when_run_on_the_calling_thread(threads_restored):
    parallel.set_num_threads(2)
    release, job = _busy_worker()

    def fn(a, b):
        if a:
            raise ValueError("second piece")
    try:
        with pytest.raises(ValueError, match="second piece"):
            parallel.run_split(fn, 4, 1 << 30)
    finally:
        release.set()
    assert job.done.acquire(timeout=10)


def test_over_batch_holds_blas_while_the_calling_thread_runs_both(threads_restored):
    parallel.set_num_threads(2)
    if not parallel._hold_blas():
        pytest.skip("numpy's BLAS cannot be held to one thread here")
    parallel._release_blas()
    release, job = _busy_worker()
    counts = []
    # the libraries minigrad found when it first held the BLAS; one loaded later by another
    # package (scipy's own OpenBLAS, imported by an earlier test) is not numpy's and not held
    held = {lib.filepath for lib in parallel._blas_libs}

    def fn(a, b):
        counts.append([i["num_threads"] for i in threadpoolctl.threadpool_info()
                       if i["user_api"] == "blas" and i["filepath"] in held])
    try:
        assert parallel.over_batch(fn, 8)
    finally:
        release.set()
    assert job.done.acquire(timeout=10)
    assert len(counts) == 2 and all(c and set(c) == {1} for c in counts)


def test_lenet_kernels_split_over_the_batch(threads_restored):
    """The LeNet step's convolutions are cut over the batch on two threads (over_batch)."""
    parallel.set_num_threads(2)
    if not parallel._hold_blas():
        pytest.skip("numpy's BLAS cannot be held to one thread here")
    parallel._release_blas()
    calls = []
    original = parallel._run_cuts

    def spy(fn, n, t):
        calls.append((n, t))
        return original(fn, n, t)
    parallel._run_cuts = spy
    try:
        x = np.random.default_rng(0).random((64, 20, 12, 12), dtype=np.float32)
        w = np.random.default_rng(1).random((50, 20, 5, 5), dtype=np.float32)
        geom = conv_kernels.Geometry((5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), 1, (12, 12),
                                     (8, 8))
        conv_kernels.forward(x, w, None, geom)
    finally:
        parallel._run_cuts = original
    assert calls == [(64, 2)]


# ----------------------------------------------------------------------------------------------
# The LeNet step's ops beside PyTorch, one and two threads
# ----------------------------------------------------------------------------------------------
LENET = [(64, 1, 28, 28, 20, 5), (64, 20, 12, 12, 50, 5), (1, 1, 28, 28, 20, 5),
         (1, 20, 12, 12, 50, 5), (7, 3, 13, 11, 5, 3), (33, 20, 12, 12, 50, 5)]


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", LENET, ids=lambda s: "x".join(map(str, s)))
def test_conv_relu_pool_vs_torch(threads_restored, nthreads, dtype, shape):
    parallel.set_num_threads(nthreads)
    n, c, h, w, o, k = shape
    rng = np.random.default_rng(n * 1000 + c)
    x, xt = _pair(rng.standard_normal((n, c, h, w)).astype(dtype))
    wgt, wt = _pair((rng.standard_normal((o, c, k, k)) / k).astype(dtype))
    b, bt = _pair(rng.standard_normal(o).astype(dtype))
    y = F.max_pool2d(F.relu(F.conv2d(x, wgt, b)), 2)
    yt = TF.max_pool2d(TF.relu(TF.conv2d(xt, wt, bt)), 2)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **_tol(dtype))
    g = rng.standard_normal(yt.shape).astype(dtype)
    y.backward(minigrad.tensor(g))
    yt.backward(torch.tensor(g))
    for mine, theirs in ((x, xt), (wgt, wt), (b, bt)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), **_tol(dtype))


@pytest.mark.parametrize("nthreads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lenet_step_vs_torch(threads_restored, nthreads, dtype):
    """Two steps of LeNet (conv, pool, conv, pool, linear, relu, linear, cross-entropy, SGD
    with momentum): losses, gradients and updated parameters."""
    parallel.set_num_threads(nthreads)
    rng = np.random.default_rng(5)
    shapes = {"c1w": (20, 1, 5, 5), "c1b": (20,), "c2w": (50, 20, 5, 5), "c2b": (50,),
              "f1w": (500, 800), "f1b": (500,), "f2w": (10, 500), "f2b": (10,)}
    init = {k: (rng.standard_normal(s) * 0.05).astype(dtype) for k, s in shapes.items()}
    x = rng.random((64, 1, 28, 28)).astype(dtype)
    y = rng.integers(0, 10, 64)

    def run(lib, fn):
        p = {k: lib.tensor(v, requires_grad=True) for k, v in init.items()}
        opt = lib.optim.SGD(list(p.values()), lr=0.01, momentum=0.9)
        xs, ys = lib.tensor(x), lib.tensor(y)
        losses = []
        for _ in range(2):
            opt.zero_grad()
            h = fn.max_pool2d(fn.relu(fn.conv2d(xs, p["c1w"], p["c1b"])), 2)
            h = fn.max_pool2d(fn.relu(fn.conv2d(h, p["c2w"], p["c2b"])), 2)
            h = fn.relu(fn.linear(h.reshape(64, -1), p["f1w"], p["f1b"]))
            loss = fn.cross_entropy(fn.linear(h, p["f2w"], p["f2b"]), ys)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        return losses, {k: (v.detach().numpy().copy(), v.grad.numpy().copy())
                        for k, v in p.items()}
    mine, theirs = run(minigrad, F), run(torch, TF)
    np.testing.assert_allclose(mine[0], theirs[0], **_tol(dtype))
    for k in shapes:
        for a, b in zip(mine[1][k], theirs[1][k]):
            np.testing.assert_allclose(a, b, **_tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernels_right_when_the_calling_thread_runs_every_piece(threads_restored, dtype):
    """With the worker kept busy, the calling thread runs the worker's pieces too, one after
    its own: per-thread scratch (``ops._workspace``) must not let the second piece overwrite
    what the first left for the join (the weight gradient's per-part sums, the split
    products' outputs). A conv -> batch norm -> relu -> max-pool -> linear step, beside torch."""
    parallel.set_num_threads(2)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 8, 20, 20)).astype(dtype)
    w = (0.2 * rng.standard_normal((16, 8, 3, 3))).astype(dtype)
    fc = (0.05 * rng.standard_normal((10, 16 * 10 * 10))).astype(dtype)
    results = []
    for lib in (minigrad, torch):
        F = lib.nn.functional
        xs, ws, fcs = (lib.tensor(a, requires_grad=True) for a in (x, w, fc))
        release, job = _busy_worker() if lib is minigrad else (None, None)
        try:
            h = F.conv2d(xs, ws, padding=1)
            h = F.batch_norm(h, None, None, training=True)
            h = F.max_pool2d(F.relu(h), 2)
            loss = (F.linear(h.flatten(1), fcs) ** 2).sum()
            loss.backward()
        finally:
            if release is not None:
                release.set()
        if job is not None:
            assert job.done.acquire(timeout=10)
        results.append([t.detach().numpy() for t in (loss, xs.grad, ws.grad, fcs.grad)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, **_tol(dtype))
