"""The one row-summing kernel (``ops._row_sums.row_sums``) behind embedding's weight gradient,
IndexAdd of float slices and bilinear grid_sample's input gradient, beside torch's
``index_add_``: random, empty, all-same, negative and unsorted indices; float32, float64 and
int64; 1-d and n-d rows along any axis; duplicates at high multiplicity through every path of
the kernel (rank by rank, the per-run reduce, the bincount, the integer reduceat); picked and
weighted rows; float64 sums in index order (torch's bits), wide sums rounded once; -0.0; and
the same bits run to run."""
import numpy as np
import pytest

import minigrad.ops._row_sums as kernel
from minigrad.ops._row_sums import row_sums

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "int64"]


def _torch_index_add(src, index, size, axis=0):
    """zeros with src's slices added at index along axis, by torch's index_add_ (in place,
    the slices one after another in index order)."""
    t = torch.from_numpy(np.ascontiguousarray(src))
    shape = list(src.shape)
    shape[axis] = size
    out = torch.zeros(shape, dtype=t.dtype)
    out.index_add_(axis, torch.from_numpy(np.asarray(index, np.int64) % max(size, 1)), t)
    return out.numpy()


def _source(rng, shape, dtype):
    if dtype == "int64":
        return rng.integers(-1000, 1000, shape).astype(np.int64)
    # magnitudes over many decades: any change of summation order shows in the bits
    return (rng.standard_normal(shape) * np.exp(rng.uniform(-6, 6, shape))).astype(dtype)


def _check(mine, theirs, dtype, exact=False, bound=None):
    """float64 and int64 (and float32 where ``exact``): the same numbers; float32: within
    a few roundings of the sum of the terms' magnitudes (``bound``), as another order of the
    same additions may land."""
    assert mine.dtype == np.dtype(dtype) and mine.shape == theirs.shape
    if exact or dtype != "float32":
        np.testing.assert_array_equal(mine, theirs)
    else:
        assert np.all(np.abs(mine.astype(np.float64) - theirs) <= 1e-5 * bound)


def _indices(rng, pattern, k, size):
    if pattern == "random":
        return rng.integers(0, size, k)
    if pattern == "same":
        return np.full(k, size // 2)
    if pattern == "negative":                  # unsorted, negative ones counted from the end
        return rng.integers(-size, size, k)
    if pattern == "zipf":                      # run lengths from 1 to hundreds
        return np.minimum(rng.zipf(1.3, k), size) - 1
    return rng.integers(0, 3, k) % size        # "three": three very long runs


PATTERNS = ["random", "same", "negative", "zipf", "three"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_rows_match_torch_index_add(dtype, pattern):
    # float64 and int64: torch's bits (the rows of a destination added in index order)
    rng = np.random.default_rng(PATTERNS.index(pattern) + 10 * DTYPES.index(dtype))
    for shape, axis, size in [((500, 16), 0, 40), ((600,), 0, 50), ((450, 3, 4), 0, 7),
                              ((5, 500, 2), 1, 30), ((3, 400), 1, 11)]:
        src = _source(rng, shape, dtype)
        index = _indices(rng, pattern, shape[axis], size)
        _check(row_sums(src, index, size, axis=axis), _torch_index_add(src, index, size, axis),
               dtype, bound=_torch_index_add(np.abs(src), index, size, axis))


@pytest.mark.parametrize("paths", ["ranks only", "reduce tail", "bincount tail"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_high_multiplicity_through_every_path(monkeypatch, dtype, paths):
    # a few destinations reached hundreds of times; the thresholds set so that the long runs
    # go rank by rank to the end, or to the per-run reduce, or to the bincount
    if paths == "ranks only":
        monkeypatch.setattr(kernel, "MIN_RANKS", 10 ** 6)
    else:
        monkeypatch.setattr(kernel, "MIN_RANKS", 4)
        monkeypatch.setattr(kernel, "MIN_RANK_WORK", 10 ** 6 if paths == "bincount tail" else 64)
    rng = np.random.default_rng(len(paths) + DTYPES.index(dtype))
    for shape, axis in [((1500, 8), 0), ((1500,), 0), ((4, 1200, 3), 1)]:
        src = _source(rng, shape, dtype)
        index = np.concatenate([np.full(600, 2), rng.integers(0, 9, shape[axis] - 600)])
        index = index[rng.permutation(index.size)]
        mine = row_sums(src, index, 9, axis=axis)
        theirs = _torch_index_add(src, index, 9, axis)
        # the bincount sums float32 in float64 (rounded once): not torch's float32 bits
        _check(mine, theirs, dtype, exact=dtype == "float32" and paths == "ranks only",
               bound=_torch_index_add(np.abs(src), index, 9, axis))


def test_float32_long_runs_reduced_in_order_are_torchs_bits(monkeypatch):
    # the per-run reduce goes on in float32, in index order: torch's float32 sums
    monkeypatch.setattr(kernel, "MIN_RANKS", 2)
    rng = np.random.default_rng(5)
    src = _source(rng, (4000, 32), "float32")
    index = rng.integers(0, 4, 4000)
    _check(row_sums(src, index, 6), _torch_index_add(src, index, 6), "float32", exact=True)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_wide_sums_are_float64_sums_rounded_once(pattern):
    rng = np.random.default_rng(PATTERNS.index(pattern))
    for shape, axis in [((1500, 8), 0), ((1500,), 0), ((3, 1200, 5), 1)]:
        src = _source(rng, shape, "float32")
        index = _indices(rng, pattern, shape[axis], 20)
        for work in (1, 64, 10 ** 6):
            mine = row_sums(src, index, 20, axis=axis, wide=True, min_rank_work=work)
            theirs = _torch_index_add(src.astype(np.float64), index, 20, axis)
            _check(mine, theirs.astype(np.float32), "float32", exact=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_picked_and_weighted_rows(dtype):
    # out[index[k]] += src[take[k]] * weights[k], as grid_sample's taps
    rng = np.random.default_rng(7)
    src = _source(rng, (300, 10), dtype)
    for size, k in [(50, 2000), (4, 3000), (400, 900)]:
        index = rng.integers(0, size, k)
        take = rng.integers(0, 300, k)
        weights = (rng.uniform(-1, 1, k) if dtype != "int64" else
                   rng.integers(-3, 4, k)).astype(dtype)
        rows = src[take] * weights[:, None]
        _check(row_sums(src, index, size, take=take, weights=weights),
               _torch_index_add(rows, index, size), dtype,
               bound=_torch_index_add(np.abs(rows), index, size))


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_index_and_empty_rows(dtype):
    assert np.array_equal(row_sums(np.ones((0, 4), dtype), np.zeros(0, np.int64), 3),
                          np.zeros((3, 4), dtype))
    out = row_sums(np.ones((5, 0), dtype), np.arange(5) % 2, 3)
    assert out.shape == (3, 0) and out.dtype == np.dtype(dtype)
    out = row_sums(np.ones((2, 0, 6), dtype), np.zeros(0, np.int64), 4, axis=1)
    assert np.array_equal(out, np.zeros((2, 4, 6), dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_distinct_destinations(dtype):
    # every destination once (a permutation, a gather's backward): rows written in place
    rng = np.random.default_rng(11)
    src = _source(rng, (300, 6), dtype)
    if dtype != "int64":
        src[::7] = -0.0
    index = rng.permutation(500)[:300] - 250                # some negative
    take = rng.integers(0, 300, 300)
    weights = rng.integers(-2, 3, 300).astype(dtype)
    for kwargs, rows in [({}, src), ({"take": take, "weights": weights},
                                     src[take] * weights[:, None])]:
        mine = row_sums(src, index, 500, **kwargs)
        theirs = _torch_index_add(rows, index, 500)
        _check(mine, theirs, dtype, exact=True)
        assert np.array_equal(np.signbit(mine), np.signbit(theirs))
    mine = row_sums(src.T.copy(), index, 500, axis=1, wide=True)
    _check(mine, _torch_index_add(src.T.copy(), index, 500, 1), dtype, exact=True)


def test_negative_zeros_sum_to_positive_zero():
    src = np.full((40, 3), -0.0)
    index = np.arange(40) % 7
    for kwargs in ({}, {"wide": True}):
        mine = row_sums(src, index, 9, **kwargs)
        theirs = _torch_index_add(src, index, 9)
        assert np.array_equal(np.signbit(mine), np.signbit(theirs))
        assert not np.signbit(mine).any()


def test_nan_and_inf_reach_only_their_rows():
    src = np.ones((50, 4))
    src[3, 1], src[7, 2] = np.nan, np.inf
    index = np.arange(50) % 5
    np.testing.assert_array_equal(row_sums(src, index, 6), _torch_index_add(src, index, 6))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_run_to_run(dtype):
    rng = np.random.default_rng(3)
    src = _source(rng, (5000, 12), dtype)
    index = np.minimum(rng.zipf(1.2, 5000), 300) - 1
    take = rng.permutation(5000)
    weights = rng.uniform(-1, 1, 5000).astype(dtype)
    first = row_sums(src, index, 300, take=take, weights=weights)
    for _ in range(3):
        # the same numbers in fresh memory (another alignment) give the same bits
        again = row_sums(src.copy(), index.copy(), 300, take=take.copy(),
                         weights=weights.copy())
        assert first.tobytes() == again.tobytes()
