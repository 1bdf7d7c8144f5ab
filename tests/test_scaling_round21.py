"""Round 21 of the convolution kernels (two-thread scaling), beside torch:

* the shifted GEMMs group whole images of 1-d and 2-d convolutions into chunks of
  ``_conv_shift.BATCH_CHUNK_BYTES`` of shifted copies, now twice a core's L2 cache (as Linux
  reports it, ``_workspace.l2_cache_bytes``) within 2 MB and IMAGE_CHUNK_BYTES;
* at the largest such limit, chunks of several images and batches cut over two threads
  (``parallel.over_batch``, numpy's BLAS held to one thread meanwhile) give torch's output,
  input gradient and weight gradient, in float32 and float64.
"""
import numpy as np
import pytest

import minigrad
from minigrad import parallel
from minigrad.ops import _conv_shift, _workspace, conv_kernels

torch = pytest.importorskip("torch")


def _cache_dir(root, entries):
    """A directory laid out like Linux's cpu0/cache: {"index<i>": (level, size text)}."""
    for name, (level, size) in entries.items():
        d = root / name
        d.mkdir()
        (d / "level").write_text(f"{level}\n")
        (d / "size").write_text(f"{size}\n")
    return str(root)


def test_l2_cache_bytes_reads_the_level_2_entry(tmp_path):
    root = _cache_dir(tmp_path, {"index0": (1, "48K"), "index1": (1, "32K"),
                                 "index2": (2, "2048K"), "index3": (3, "480M")})
    assert _workspace.l2_cache_bytes(root) == 2 << 20


def test_l2_cache_bytes_in_megabytes_and_missing(tmp_path):
    for name in "abc":
        (tmp_path / name).mkdir()
    megabytes = _cache_dir(tmp_path / "a", {"index0": (1, "32K"), "index5": (2, "1M")})
    assert _workspace.l2_cache_bytes(megabytes) == 1 << 20
    assert _workspace.l2_cache_bytes(str(tmp_path / "nowhere")) is None
    only_l1 = _cache_dir(tmp_path / "b", {"index0": (1, "32K")})
    assert _workspace.l2_cache_bytes(only_l1) is None
    garbled = _cache_dir(tmp_path / "c", {"index2": (2, "lots")})
    assert _workspace.l2_cache_bytes(garbled) is None


@pytest.mark.parametrize("l2, limit", [(None, 2 << 20), (512 << 10, 2 << 20),
                                       (1 << 20, 2 << 20), (3 << 19, 3 << 20),
                                       (2 << 20, 4 << 20), (32 << 20, 4 << 20)])
def test_batch_chunk_limit_is_twice_l2_within_bounds(l2, limit):
    assert _conv_shift.IMAGE_CHUNK_BYTES == 4 << 20
    assert _conv_shift.batch_chunk_limit(l2) == limit


def test_batch_chunk_bytes_follows_this_machine():
    expected = _conv_shift.batch_chunk_limit(_workspace.l2_cache_bytes())
    assert _conv_shift.BATCH_CHUNK_BYTES == expected
    assert _conv_shift.batch_chunk_bytes(2) == min(expected, _conv_shift.IMAGE_CHUNK_BYTES)
    assert _conv_shift.batch_chunk_bytes(3) == _conv_shift.IMAGE_CHUNK_BYTES


@pytest.fixture
def large_chunks(monkeypatch):
    """The limit of a machine with 2 MB of L2 per core (4 MB), whatever this one has; records
    the images of each shifted block, and, on two threads, whether the batch was cut and the
    BLAS held while the blocks were made."""
    monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", _conv_shift.batch_chunk_limit(2 << 20))
    seen = {"images": [], "held": [], "cut": []}
    real_planes, real_over = _conv_shift.shift_planes, parallel.over_batch

    def planes(x, *args, **kwargs):
        seen["images"].append(x.shape[0])
        seen["held"].append(parallel._blas_holders)
        return real_planes(x, *args, **kwargs)

    def over(fn, n, worth=True):
        done = real_over(fn, n, worth)
        seen["cut"].append(done)
        return done
    monkeypatch.setattr(_conv_shift, "shift_planes", planes)
    monkeypatch.setattr(parallel, "over_batch", over)
    return seen


def _grads(lib, x, w, g, dtype):
    xt = lib.tensor(x.astype(dtype), requires_grad=True)
    wt = lib.tensor(w.astype(dtype), requires_grad=True)
    y = lib.nn.functional.conv2d(xt, wt, padding=1)
    y.backward(lib.tensor(g.astype(dtype)))
    return [a.detach().numpy() for a in (y, xt.grad, wt.grad)]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_chunks_match_torch(large_chunks, dtype, threads):
    """8 images of 32 channels, 48x48, 3x3 with padding 1: 0.92 MB of shifted copies an
    image in float32 (4 images a chunk), 1.84 MB in float64 (2 a chunk)."""
    rng = np.random.default_rng(21)
    x = rng.standard_normal((8, 32, 48, 48))
    w = rng.standard_normal((32, 32, 3, 3)) / 17
    g = rng.standard_normal((8, 32, 48, 48))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = _grads(minigrad, x, w, g, dtype)
    finally:
        minigrad.set_num_threads(before)
    theirs = _grads(torch, x, w, g, dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for name, a, t in zip(("y", "gx", "gw"), mine, theirs):
        assert a.dtype == t.dtype and a.shape == t.shape, name
        scale = float(np.abs(t).max())
        np.testing.assert_allclose(a / scale, t / scale, rtol=tol, atol=tol, err_msg=name)
    per_image = 3 * 32 * 49 * 49 * np.dtype(dtype).itemsize
    images = large_chunks["images"]
    assert images, "the shifted GEMMs were not used"
    assert max(images) * per_image <= _conv_shift.IMAGE_CHUNK_BYTES
    # a 2 MB limit would hold 2 float32 images, or 1 float64 one
    assert max(images) == (4 if dtype == np.float32 else 2)
    if threads == 2 and parallel._find_blas():
        assert large_chunks["cut"] and all(large_chunks["cut"])     # every map cut in two
        assert min(large_chunks["held"]) >= 1                       # BLAS held throughout
        assert max(images) <= 4
    else:
        assert not any(large_chunks["cut"])


def test_plan_at_the_largest_limit():
    """The ResNet step's stride-1 layers, 8 images a thread, under a 4 MB limit: chunks of
    one size dividing 8, each within the limit (at least one image)."""
    limit = _conv_shift.batch_chunk_limit(2 << 20)
    expected = {32: 2, 64: 4, 128: 8}
    for C, S in [(32, 64), (64, 32), (128, 16)]:
        ext = _conv_shift.extent((S, S), ((1, 1), (1, 1)), (3, 3), (1, 1))
        per_image = 3 * C * ext[0] * ext[1] * 4
        step = _conv_shift.images_per_chunk(8, limit // per_image)
        assert step == expected[C] and step * per_image <= limit and 8 % step == 0


def test_whole_kernels_unchanged_by_limit(monkeypatch):
    """The same convolution under the 2 MB and the 4 MB limit gives the same numbers up to
    float64 rounding (only how many images share a GEMM changes)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 16, 40, 40))
    w = rng.standard_normal((24, 16, 3, 3))
    geom = conv_kernels.Geometry((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1, (40, 40),
                                 (40, 40))
    out = []
    for limit in (2 << 20, 4 << 20):
        monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", limit)
        y, _ = conv_kernels.forward(x, w, None, geom)
        out.append(y)
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    for y in out:
        np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-10)

