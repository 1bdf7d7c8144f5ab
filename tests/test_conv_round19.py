"""Round 19 of the convolution kernels, beside torch:

* whole images of 1-d and 2-d convolutions go through the shifted GEMMs in chunks of at
  most ``_conv_shift.BATCH_CHUNK_BYTES`` of shifted copies (``batch_chunk_bytes``), at most
  IMAGE_CHUNK_BYTES, which still sizes 3-d chunks and the bands of rows and the runs
  of positions of images too large to copy whole;
* with the chunk limit shrunk so that small batches go in several chunks (one of them
  shorter), on one and two threads (the batch in parts, ``parallel.over_batch``): stride-1
  convolutions, the strided one's phase-by-phase input gradient, few output channels,
  groups, batch 1 and non-contiguous inputs give torch's output, input, weight and bias
  gradients and second derivatives (``create_graph``) in float64.
"""
import numpy as np
import pytest

import minigrad
from minigrad.ops import _conv_shift, conv_kernels

from conv_runs import conv_grads

torch = pytest.importorskip("torch")


def test_whole_images_chunked_by_batch_bytes():
    """The ResNet step's stride-1 layers (8 images per thread): each chunk's shifted copies
    fit in batch_chunk_bytes(), at least one image per chunk, and where that limit is under
    IMAGE_CHUNK_BYTES (cores with little L2 cache) the 64-channel layer's chunks are smaller
    than IMAGE_CHUNK_BYTES alone would make them."""
    limit = _conv_shift.batch_chunk_bytes(2)
    assert limit == min(_conv_shift.BATCH_CHUNK_BYTES, _conv_shift.IMAGE_CHUNK_BYTES)
    assert _conv_shift.batch_chunk_bytes(1) == limit
    assert _conv_shift.batch_chunk_bytes(3) == _conv_shift.IMAGE_CHUNK_BYTES
    for C, S in [(32, 64), (64, 32), (128, 16)]:
        ext = _conv_shift.extent((S, S), ((1, 1), (1, 1)), (3, 3), (1, 1))
        per_image = 3 * C * ext[0] * ext[1] * 4
        step, taps, lead = _conv_shift.plan(8, C, C, (3, 3), ext, 4)
        assert taps == [(0, 3)] and lead == [(0, 3)]
        assert step >= 1 and 8 % step == 0
        assert step == 1 or step * per_image <= limit
        if C == 64 and limit <= _conv_shift.IMAGE_CHUNK_BYTES // 2:
            assert step * per_image <= _conv_shift.IMAGE_CHUNK_BYTES // 2


def test_cubes_keep_image_chunk_bytes(monkeypatch):
    """3-d convolutions group their images by IMAGE_CHUNK_BYTES alone."""
    ext = _conv_shift.extent((8, 8, 8), ((1, 1),) * 3, (3, 3, 3), (1, 1, 1))
    before = _conv_shift.plan(8, 16, 32, (3, 3, 3), ext, 4)
    monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", 1)
    assert _conv_shift.plan(8, 16, 32, (3, 3, 3), ext, 4) == before
    assert _conv_shift.plan(8, 16, 32, (3, 3), ext[1:], 4)[0] == 1


def test_bands_keep_image_chunk_bytes(monkeypatch):
    """Bands of rows (an image too large to copy whole) are cut by IMAGE_CHUNK_BYTES, not by
    the smaller limit for whole images."""
    args = (64, 64, (224, 224), ((1, 1), (1, 1)), (3, 3), (1, 1), (224, 224), 4)
    before = _conv_shift.bands(*args)
    monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", 1)
    assert before is not None and _conv_shift.bands(*args) == before


@pytest.fixture
def chunks(monkeypatch):
    """Whole images in chunks of a few images (160 KB of shifted copies: three of the first
    case's 12x13 images, one of the others), every batch cut over the threads; -> the
    images per chunk that the shifted GEMMs took."""
    monkeypatch.setattr(_conv_shift, "BATCH_CHUNK_BYTES", 160000)
    monkeypatch.setattr(conv_kernels, "_SPLIT_MIN_MACS", 0)
    seen = []
    real = _conv_shift.shift_planes

    def counted(x, *args, **kwargs):
        seen.append(x.shape[0])
        return real(x, *args, **kwargs)
    monkeypatch.setattr(_conv_shift, "shift_planes", counted)
    return seen


# op, x shape, w shape, kwargs, non-contiguous x: each takes the shifted GEMMs (forward,
# input gradient or both)
CASES = [
    ("conv2d", (7, 12, 12, 13), (12, 12, 3, 3), dict(padding=1), False),   # 3 + 3 + 1 images
    ("conv2d", (1, 12, 12, 13), (12, 12, 3, 3), dict(padding=1), False),   # batch 1
    ("conv2d", (5, 12, 12, 13), (14, 12, 3, 3), dict(padding=1), True),    # strided x
    ("conv2d", (6, 16, 24, 25), (32, 16, 3, 3), dict(padding=1, stride=2), False),  # phases
    ("conv2d", (9, 12, 12, 12), (12, 6, 3, 3), dict(padding=1, groups=2), False),
    ("conv1d", (9, 16, 200), (3, 16, 5), dict(padding=2), False),          # few outputs
    ("conv1d", (9, 3, 200), (16, 3, 5), dict(padding=2), True),            # gx to 3 channels
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("op, xs, ws, kw, strided", CASES)
def test_batch_chunks_match_torch(chunks, op, xs, ws, kw, strided, threads):
    rng = np.random.default_rng(19)
    arrays = (rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0]))
    before = minigrad.get_num_threads()
    minigrad.set_num_threads(threads)
    try:
        mine = conv_grads(minigrad, op, arrays, kw, strided=strided)
    finally:
        minigrad.set_num_threads(before)
    theirs = conv_grads(torch, op, arrays, kw, strided=strided)
    for name, a, t in zip(("y", "gx", "gw", "gb", "ggx", "ggw"), mine, theirs):
        assert a.shape == t.shape and a.dtype == t.dtype, name
        scale = max(1.0, float(np.abs(t).max()))
        np.testing.assert_allclose(a / scale, t / scale, rtol=1e-9, atol=1e-9, err_msg=name)
    assert chunks, "the shifted GEMMs were not used"
    if xs[0] > 3:                 # more images than a chunk holds: several chunks were made
        assert max(chunks) < xs[0]
