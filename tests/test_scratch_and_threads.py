"""The scratch-buffer cache and the intra-op threads (minigrad/ops/_workspace.py,
minigrad/parallel.py): reused buffers hold old numbers, and the kernels must not read them;
threads change the speed of a pass, never its result."""
import multiprocessing
import os
import threading

import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.ops import _workspace

torch = pytest.importorskip("torch")
from test_conv import PATH_CASES, _compare, _force_fast_paths  # noqa: E402

F = minigrad.nn.functional
TF = torch.nn.functional


def _poison_cache():
    """Every cached scratch buffer filled with NaN: a kernel that reads a cell it did not
    write (a padding cell it took to be zero, say) now gives NaNs."""
    for buf in _workspace._WORKSPACE.values():
        if buf.dtype.kind == "f":
            buf[...] = np.nan
        else:
            buf[...] = 1


@pytest.mark.parametrize("chunk", [1, 1 << 30], ids=["one-tap-chunks", "one-chunk"])
def test_conv_fast_paths_ignore_what_reused_buffers_hold(monkeypatch, chunk):
    """Each fast path run after the cache was poisoned, geometries one after another (so
    that each reuses a buffer another shape left), still agrees with torch."""
    _force_fast_paths(monkeypatch, chunk)
    rng = np.random.default_rng(5)
    for nd, xs, ws, kw in PATH_CASES + PATH_CASES[:3]:
        for dtype in (np.float64, np.float32):
            arrays = [rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[:1])]
            name = f"conv{nd}d"
            _poison_cache()
            _compare(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
                     lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays, dtype)


def test_max_pool_ignores_what_reused_buffers_hold():
    rng = np.random.default_rng(6)
    for shape, kw in [((2, 3, 9, 9), dict(kernel_size=3, stride=2, padding=1)),
                      ((2, 3, 8, 8), dict(kernel_size=2)),
                      ((1, 2, 7, 7), dict(kernel_size=3, stride=1, dilation=2))]:
        x = rng.standard_normal(shape)
        _poison_cache()
        _compare(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), [x],
                 np.float64)


def test_workspace_shares_buffers_by_kind_and_never_a_busy_one(monkeypatch):
    monkeypatch.setattr(_workspace, "_SMALL_BYTES", 0)     # the cache, for these tiny sizes
    _workspace.clear_workspace()

    def kept(slot=0):
        return _workspace._WORKSPACE[("test-kind", np.dtype(np.float32).str, "numpy",
                                      threading.get_ident(), slot)]
    a = _workspace.workspace("test-kind", (4, 5), np.float32, np)
    assert a.shape == (4, 5) and a.dtype == np.float32 and np.shares_memory(a, kept())
    del a
    b = _workspace.workspace("test-kind", (2, 3), np.float32, np)       # smaller: same memory
    assert np.shares_memory(b, kept()) and kept().size == 20
    c = _workspace.workspace("test-kind", (2, 3), np.float32, np)       # b holds it: slot 1
    assert not np.shares_memory(b, c) and np.shares_memory(c, kept(1))
    del b
    d = _workspace.workspace("test-kind", (10, 10), np.float32, np)     # slot 0 grows
    assert np.shares_memory(d, kept()) and kept().size == 100
    e = _workspace.workspace("test-kind", (3,), np.float64, np)         # another dtype
    assert not np.shares_memory(d, e)
    held = [_workspace.workspace("test-kind", (3,), np.float32, np) for _ in range(5)]
    assert not any(np.shares_memory(h, k) for h in held for k in held if h is not k)
    del c, d, e, held
    _workspace.clear_workspace()


def test_small_scratch_is_plain_memory_and_large_is_cached():
    _workspace.clear_workspace()
    small = (_workspace._SMALL_BYTES - 4) // 4                  # float32 numbers under the size
    a = _workspace.workspace("test-small", (small,), np.float32, np)
    assert a.shape == (small,) and a.base is None and not _workspace._WORKSPACE
    del a
    b = _workspace.workspace("test-small", (small + 1,), np.float32, np)
    assert len(_workspace._WORKSPACE) == 1 and b.base is not None
    del b
    _workspace.clear_workspace()


def test_workspace_sheds_buffers_an_earlier_larger_workload_grew(monkeypatch):
    """A cache over its bound first drops the free buffers nothing asked for since the last
    time, or grown past twice what was asked since; the current workload's buffers then stay
    put from step to step instead of being evicted (and allocated again) at every step."""
    _workspace.clear_workspace()
    monkeypatch.setattr(_workspace, "_WORKSPACE_BYTES", 1000 * 4)     # 1000 float32
    monkeypatch.setattr(_workspace, "_SMALL_BYTES", 0)

    class Counting:                        # numpy, counting the buffers the cache allocates
        __name__ = "numpy"
        dtype = staticmethod(np.dtype)
        made = 0

        @classmethod
        def empty(cls, *args, **kwargs):
            cls.made += 1
            return np.empty(*args, **kwargs)

    def step(sizes):
        """One 'step': each kind asked once, at its size, held by nobody afterwards (as a
        kernel's scratch); -> how many buffers the cache allocated."""
        before = Counting.made
        for kind, n in sizes.items():
            _workspace.workspace(kind, (n,), np.float32, Counting)
        return Counting.made - before
    step({"k1": 800})                                   # an earlier, larger workload
    now = {"k1": 300, "k2": 300, "k3": 300}              # 900: fits, once k1 is resized
    for _ in range(3):                                   # over the bound: trims, settles
        step(now)
    # a k1 kept at 800 held the cache over its bound, and every step evicted and made
    # again one of k2, k3 (two buffers a step)
    assert [step(now) for _ in range(4)] == [0, 0, 0, 0]
    assert sum(a.nbytes for a in _workspace._WORKSPACE.values()) <= 1000 * 4
    _workspace.clear_workspace()


def test_set_num_threads_follows_pytorch(threads_restored):
    minigrad.set_num_threads(3)
    assert minigrad.get_num_threads() == 3
    for bad, word in [(0, "a positive integer"), (-2, "a positive integer"),
                      (2.5, "an int, but got float"), (True, "an int, but got bool")]:
        with pytest.raises(RuntimeError, match=word):
            minigrad.set_num_threads(bad)
        with pytest.raises(RuntimeError, match=word):
            torch.set_num_threads(bad)


def test_run_split_covers_the_range_once(threads_restored):
    seen = []

    def piece(a, b):
        seen.append((a, b))
    parallel.set_num_threads(1)
    parallel.run_split(piece, 10, 1 << 40)
    assert seen == [(0, 10)]                             # one thread: one call
    parallel.set_num_threads(4)
    seen.clear()
    parallel.run_split(piece, 10, 1 << 10)
    assert seen == [(0, 10)]                             # too little work to split
    seen.clear()
    parallel.run_split(piece, 10, 1 << 40)
    assert sorted(seen) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    seen.clear()
    parallel.run_split(piece, 3, 1 << 40)                # fewer rows than threads
    assert sorted(seen) == [(0, 1), (1, 2), (2, 3)]


def test_run_split_raises_a_pieces_error_and_does_not_nest(threads_restored):
    parallel.set_num_threads(2)
    inner = []

    def piece(a, b):
        parallel.run_split(lambda c, d: inner.append((c, d)), 8, 1 << 40)
        if a > 0:
            raise ValueError("from the second piece")
    with pytest.raises(ValueError, match="second piece"):
        parallel.run_split(piece, 2, 1 << 40)
    assert inner == [(0, 8), (0, 8)]                     # inside a piece: serial


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    """A shifted-GEMM convolution, batch norm (training), relu and a max-pool, forward and
    backward, large enough to be split, give the same numbers on one thread and on four (up
    to rounding: on four the convolution's batch is cut in parts, and the weight gradient
    is a sum of the parts' sums), and agree with torch. In float64: in float32 a rounding
    difference can move a max-pool's gradient to the other of two nearly equal values."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((8, 32, 64, 64))
    w = rng.standard_normal((32, 32, 3, 3))
    results, workers = [], set()
    run_piece = parallel._run_piece

    def watched(fn, a, b):
        workers.add(threading.current_thread().name)
        return run_piece(fn, a, b)
    monkeypatch.setattr(parallel, "_run_piece", watched)
    for n in (1, 4):
        monkeypatch.setattr(parallel, "_threads", n)
        xt, wt = minigrad.tensor(x, requires_grad=True), minigrad.tensor(w, requires_grad=True)
        y = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(xt, wt, padding=1), None, None,
                                              training=True)), 2)
        (y * y).sum().backward()
        results.append([t.numpy() for t in (y.detach(), xt.grad, wt.grad)])
    assert any(name.startswith("minigrad-") for name in workers)     # it was split
    for one, four in zip(*results):
        np.testing.assert_allclose(one, four, rtol=1e-12, atol=1e-14 * float(np.abs(one).max()))
    # and the split result is torch's
    mine, theirs = [], []
    for lib, fn in ((minigrad, F), (torch, TF)):
        xt, wt = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = fn.max_pool2d(fn.relu(fn.batch_norm(fn.conv2d(xt, wt, padding=1), None, None,
                                                training=True)), 2)
        (y * y).sum().backward()
        (mine if lib is minigrad else theirs).extend([y.detach(), xt.grad, wt.grad])
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7,
                                   atol=1e-9 * float(np.abs(b.numpy()).max()))


def _child_runs_split(queue):
    out = np.zeros(64 << 20 >> 3)
    parallel.run_split(lambda a, b: out.__setitem__(slice(a, b), 1.0), out.size,
                       out.nbytes * 2)
    queue.put(float(out.sum()))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_threads(threads_restored):
    parallel.set_num_threads(2)
    parallel.run_split(lambda a, b: None, 4, 1 << 40)    # the parent's workers exist now
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_runs_split, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == float(64 << 20 >> 3)


@pytest.mark.parametrize("where", ["x", "w"])
def test_non_finite_values_reach_only_what_torch_reaches(where):
    """The fast paths compute some numbers that are thrown away or multiplied by zero (the
    cropped columns of the shifted GEMMs, the zero columns of the wide col2im): an inf in x
    or w must not turn those into NaNs that reach the result. Shapes that take the shifted
    GEMMs (40 channels on 20x20) and the wide col2im (LeNet's 12x12 maps, 5x5 kernel)."""
    rng = np.random.default_rng(8)
    for xs, ws, kw in [((2, 40, 20, 20), (8, 40, 3, 3), dict(padding=1)),
                       ((3, 4, 12, 12), (6, 4, 5, 5), {})]:
        x, w = rng.standard_normal(xs), rng.standard_normal(ws)
        if where == "x":
            x[0, 3, 5, xs[-1] - 1] = np.inf          # the right edge: read round by the next row
        else:
            w[1, 2, 0, -1] = np.inf
        _compare(lambda a, b: F.conv2d(a, b, **kw), lambda a, b: TF.conv2d(a, b, **kw), [x, w],
                 np.float64)


# ----------------------------------------------------------------------------------------------
# A convolution's batch in parts over the threads (parallel.over_batch)
# ----------------------------------------------------------------------------------------------
SPLIT_CASES = PATH_CASES + [
    (2, (5, 6, 9, 9), (4, 6, 3, 3), dict(stride=2, padding=1)),          # im2col / phases
    (2, (7, 4, 6, 6), (6, 2, 3, 3), dict(padding=1, groups=2)),          # grouped: im2col
    (2, (9, 3, 5, 5), (4, 3, 3, 3), {}),                                 # batch last
    (1, (5, 4, 17), (6, 4, 3), dict(stride=3, dilation=2, padding=2)),
    (3, (3, 2, 4, 5, 4), (3, 2, 2, 3, 2), dict(stride=(2, 1, 1), padding=1)),
]


@pytest.fixture
def split_everything(monkeypatch, threads_restored):
    """Every convolution's batch is cut over three threads, and the parts are counted."""
    from minigrad.ops import conv_kernels
    monkeypatch.setattr(conv_kernels, "_SPLIT_MIN_MACS", 0)
    parallel.set_num_threads(3)
    runs = []
    over_batch = parallel.over_batch

    def counted(fn, n, worth=True):
        done = over_batch(fn, n, worth)
        runs.append(done)
        return done
    monkeypatch.setattr(parallel, "over_batch", counted)
    return runs


@pytest.mark.skipif(parallel._find_blas() is False, reason="numpy's BLAS threads can't be held")
@pytest.mark.parametrize("fast", [False, True], ids=["default-paths", "shifted-paths"])
@pytest.mark.parametrize("nd, xs, ws, kw", SPLIT_CASES)
def test_a_batch_in_parts_gives_torchs_convolution(monkeypatch, split_everything, fast, nd,
                                                   xs, ws, kw):
    """forward, both gradients and the second derivatives (the transposed convolution and
    the weight gradient, which share their columns), batch cut in parts (some of one image),
    against torch in float64."""
    if fast:
        _force_fast_paths(monkeypatch, 1 << 30)
    rng = np.random.default_rng(sum(xs) + len(kw))
    arrays = [rng.standard_normal(s) for s in (xs, ws, ws[:1])]
    name = f"conv{nd}d"
    _compare(lambda x, w, b: getattr(F, name)(x, w, b, **kw),
             lambda x, w, b: getattr(TF, name)(x, w, b, **kw), arrays, np.float64)
    assert True in split_everything                          # the batch was cut
    split_everything.clear()
    # second order: d/d(x, w) of <grad_x, v> + <grad_w, u>
    results = []
    for lib, fn in ((minigrad, F), (torch, TF)):
        x, w = (lib.tensor(a, requires_grad=True) for a in arrays[:2])
        y = getattr(fn, name)(x, w, **kw)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        ((gx * lib.tensor(arrays[0])).sum() + (gw * lib.tensor(arrays[1])).sum()).backward()
        results.append([t.detach().numpy() for t in (gx, gw, x.grad, w.grad)])
    for mine, theirs in zip(*results):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-8)
    assert True in split_everything


def _numpy_blas():
    """The BLAS libraries minigrad holds to one thread: numpy's, as found at its first hold.
    A library another test loaded after that (scipy's own OpenBLAS) is not numpy's, and
    minigrad leaves it alone."""
    import threadpoolctl
    if parallel._blas_libs is None:
        parallel._blas_libs = parallel._find_blas()
    held = {lib.filepath for lib in parallel._blas_libs}
    return [lib for lib in threadpoolctl.ThreadpoolController().select(user_api="blas")
            .lib_controllers if lib.filepath in held]


@pytest.mark.skipif(parallel._find_blas() is False, reason="numpy's BLAS threads can't be held")
def test_over_batch_holds_the_blas_to_one_thread_and_gives_it_back(threads_restored):
    blas = _numpy_blas()
    parallel.set_num_threads(2)
    before = [lib.get_num_threads() for lib in blas]
    seen, inner = [], []

    def part(a, b):
        seen.append((a, b, [lib.get_num_threads() for lib in blas]))
        inner.append(parallel.over_batch(lambda c, d: None, 4))    # nested: not split again
    assert parallel.over_batch(part, 5)
    assert sorted(a for a, b, _ in seen) == [0, 3] and sorted(b for _, b, _ in seen) == [3, 5]
    assert all(counts == [1] * len(before) for _, _, counts in seen)
    assert inner == [False, False]
    assert [lib.get_num_threads() for lib in blas] == before

    def failing(a, b):
        raise ValueError(f"part {a}")
    with pytest.raises(ValueError, match="part"):
        parallel.over_batch(failing, 4)
    assert [lib.get_num_threads() for lib in blas] == before
    # not worth it, one item, one thread: nothing runs, the caller does the work
    assert not parallel.over_batch(part, 4, worth=False)
    assert not parallel.over_batch(part, 1)
    parallel.set_num_threads(1)
    assert not parallel.over_batch(part, 4)
    assert len(seen) == 2


@pytest.mark.skipif(parallel._find_blas() is False, reason="numpy's BLAS threads can't be held")
def test_blas_on_one_thread_holds_and_gives_back(threads_restored):
    blas = _numpy_blas()
    parallel.set_num_threads(2)
    before = [lib.get_num_threads() for lib in blas]
    with parallel.blas_on_one_thread() as outer:
        assert outer.held and [lib.get_num_threads() for lib in blas] == [1] * len(blas)
        with parallel.blas_on_one_thread():           # nested: counted, not restored early
            pass
        assert [lib.get_num_threads() for lib in blas] == [1] * len(blas)
    assert [lib.get_num_threads() for lib in blas] == before
    with pytest.raises(KeyError):                       # given back on an error too
        with parallel.blas_on_one_thread():
            raise KeyError("inside")
    assert [lib.get_num_threads() for lib in blas] == before
    parallel.set_num_threads(1)                         # one thread: nothing to hold
    with parallel.blas_on_one_thread() as single:
        assert not single.held


def test_without_control_of_the_blas_the_batch_is_not_cut(monkeypatch, threads_restored):
    """No threadpoolctl (or a BLAS limited per thread): the kernels run whole, as before."""
    monkeypatch.setattr(parallel, "_blas_libs", False)
    parallel.set_num_threads(2)
    assert not parallel.over_batch(lambda a, b: None, 8)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in ((4, 8, 16, 16), (8, 8, 3, 3))]
    _compare(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
             arrays, np.float64)


@pytest.mark.skipif(parallel._find_blas() is False, reason="numpy's BLAS threads can't be held")
@pytest.mark.parametrize("M, K, N", [(64, 800, 500), (500, 64, 800), (7, 300, 3), (301, 97, 5),
                                     (0, 5, 3), (4, 0, 6)])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_a_matrix_product_in_parts_is_numpys(monkeypatch, threads_restored, M, K, N, layout):
    """parallel.matmul cuts the columns (N >= M) or the rows over three threads; any layout of
    the operands (a Linear's weight arrives transposed) gives numpy's product."""
    monkeypatch.setattr(parallel, "MATMUL_MIN_MACS", 0)
    monkeypatch.setattr(parallel, "BLAS_THREADED_MACS", 0)
    parallel.set_num_threads(3)
    rng = np.random.default_rng(M + K + N)
    for dtype in (np.float64, np.float32):
        a = rng.standard_normal((M, 2 * K) if layout == "strided" else (M, K)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        if layout == "strided":
            a = a[:, ::2]
        elif layout == "F":
            a, b = np.asfortranarray(a), np.asfortranarray(b)
        got = parallel.matmul(a, b)
        assert got.dtype == dtype and got.shape == (M, N)
        eps = np.finfo(dtype).eps * 8 * max(K, 1)          # the rounding of K products
        np.testing.assert_allclose(got, a @ b, rtol=eps, atol=eps * np.sqrt(max(K, 1)))
    # and through the autograd ops, against torch
    x, w = rng.standard_normal((max(M, 1), K or 1)), rng.standard_normal((N or 1, K or 1))
    _compare(lambda x, w: F.linear(x, w), lambda x, w: TF.linear(x, w), [x, w], np.float64)


@pytest.mark.skipif(parallel._find_blas() is False, reason="numpy's BLAS threads can't be held")
@pytest.mark.parametrize("a_shape, b_shape, split", [
    ((6, 5, 7), (6, 7, 4), True), ((4, 3, 5, 6), (6, 7), True), ((5, 6), (4, 6, 7), True),
    ((2, 1, 5, 6), (3, 6, 7), True), ((1, 5, 6), (6, 7), False), ((3, 6), (6,), False),
    ((6,), (2, 6, 3), False), ((6,), (6,), False), ((0, 4, 5), (0, 5, 2), False),
    ((4, 5, 6), (4, 6, 0), True)])
def test_stacked_and_held_matrix_products_are_numpys(monkeypatch, threads_restored, a_shape,
                                                     b_shape, split):
    """Stacks of matrices are cut over their first batch axis (broadcasting included); what
    is not cut runs with the BLAS held to one thread. Either way: numpy's product."""
    blas = _numpy_blas()
    monkeypatch.setattr(parallel, "MATMUL_MIN_MACS", 0)
    monkeypatch.setattr(parallel, "BLAS_THREADED_MACS", 0)
    parallel.set_num_threads(2)
    cuts, limits, matmul = [], [], np.matmul

    def spy(a, b, **kw):
        cuts.append(getattr(parallel._inside, "active", False))
        limits.append([lib.get_num_threads() for lib in blas])
        return matmul(a, b, **kw)
    rng = np.random.default_rng(len(a_shape) * 10 + len(b_shape))
    for dtype in (np.float32, np.float64, np.complex128):
        a = rng.standard_normal(a_shape).astype(dtype)
        b = rng.standard_normal(b_shape).astype(dtype)
        if dtype == np.complex128:
            a = a + 1j * rng.standard_normal(a_shape)
        want = matmul(a, b)
        cuts.clear(), limits.clear()
        monkeypatch.setattr(np, "matmul", spy)
        got = parallel.matmul(a, b)
        monkeypatch.setattr(np, "matmul", matmul)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        # a cut product: one call per thread, one of them on a worker; complex: held, whole
        assert len(cuts) == (2 if split and dtype != np.complex128 else 1)
        assert any(cuts) == (split and dtype != np.complex128)
        assert all(counts == [1] * len(blas) for counts in limits)
    with pytest.raises(ValueError, match="matmul"):          # numpy's own error, unchanged
        parallel.matmul(np.ones((2, 3)), np.ones((4, 2)))


_STEP_WITHOUT_BLAS_WORKERS = """
import os, threading
import numpy as np
import minigrad as torch
nn, F = torch.nn, torch.nn.functional
torch.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                    nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                    nn.Flatten(), nn.Linear(16 * 32 * 32, 64), nn.ReLU(), nn.Linear(64, 10))
mlp = nn.Sequential(nn.Linear(300, 256), nn.ReLU(), nn.Linear(256, 10))
attention = nn.MultiheadAttention(64, 4, batch_first=True)
x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
h, s = torch.randn(64, 300), torch.randn(8, 64, 64)
def step():
    F.cross_entropy(cnn(x), y).backward()
    F.cross_entropy(mlp(h), y.repeat(2)).backward()
    attention(s, s, s)[0].sum().backward()
    torch.bmm(s, s.transpose(1, 2)).sum()
def ticks():
    ours = {t.native_id for t in threading.enumerate()}
    total = 0
    for task in os.listdir("/proc/self/task"):
        if int(task) not in ours:            # a thread Python did not start: the BLAS's
            with open(f"/proc/self/task/{task}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total
step()
before = ticks()
for _ in range(3):
    step()
print(ticks() - before)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task") or
                    len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2 or
                    parallel._find_blas() is False,
                    reason="needs Linux's per-thread times, two CPUs and a BLAS minigrad holds")
def test_a_training_step_leaves_the_blas_workers_asleep():
    """minigrad's products never wake the BLAS's own worker threads: once woken, OpenBLAS's
    spin for ~0.1 s (its default) on the core minigrad's threads need next, which made a
    ResNet-like step 1.8x slower on two cores. Run in a fresh process with OpenBLAS's
    default spin: any product handed to its workers shows as their CPU time."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k not in (
        "OPENBLAS_THREAD_TIMEOUT", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", _STEP_WITHOUT_BLAS_WORKERS], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    # clock ticks (10 ms) of the BLAS's workers over three steps: a product handed to them
    # costs ~10 (its spin), each; these three steps made 9 before minigrad held them
    assert int(done.stdout.split()[-1]) <= 2
