"""The backend's strided views (``backend.sliding_window_view``, ``backend.strided_view``):
the cheap paths for contiguous numpy arrays give numpy's own views, read-only windows,
writeable views that write through, and refuse a view past the end of the memory; other
arrays take numpy's functions."""
import numpy as np
import pytest

from minigrad import backend


@pytest.mark.parametrize("shape, window, axis", [
    ((2, 3, 7, 8), (3, 2), (2, 3)),
    ((4, 9), (4,), (1,)),
    ((5, 6, 7), (2, 3), (0, 2)),         # not adjacent
    ((5, 6, 7), (3, 2), (2, 0)),         # window axes in the order asked
    ((3, 5, 5), (2, 2), (-2, -1)),
    ((3, 4), (3, 4), (0, 1)),            # one window
    ((0, 5), (2,), (1,)),                # empty
    ((5,), 3, 0),                        # ints
    ((6, 6), (2, 2), (1, 1)),            # a repeated axis: numpy's own
])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_sliding_window_view_is_numpys(shape, window, axis, layout):
    x = np.arange(int(np.prod(shape)) * 2, dtype=np.float32)
    x = x[:x.size // 2].reshape(shape) if layout == "contiguous" else x[::2].reshape(shape)
    mine = backend.sliding_window_view(x, window, axis)
    theirs = np.lib.stride_tricks.sliding_window_view(x, window, axis=axis)
    assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
    np.testing.assert_array_equal(mine, theirs)
    assert not mine.flags.writeable and np.shares_memory(mine, x) or x.size == 0


def test_sliding_window_view_errors_are_numpys():
    x = np.zeros((3, 4))
    with pytest.raises(ValueError):
        backend.sliding_window_view(x, (5,), (1,))       # larger than the axis
    with pytest.raises(ValueError):
        backend.sliding_window_view(x, (2, 2), (1,))     # one size per axis


def test_strided_view_writes_through_and_stays_inside():
    flat = np.zeros(20, dtype=np.float64)
    v = backend.strided_view(flat, (2, 3), (8 * 8, 8), 8 * 2)      # rows 8 apart, from 2
    v += 1
    assert flat.nonzero()[0].tolist() == [2, 3, 4, 10, 11, 12]
    assert v.base is flat
    with pytest.raises(ValueError):
        backend.strided_view(flat, (3, 3), (8 * 8, 8), 8 * 2)      # past the end
    strided = np.zeros(40)[::2]                                     # not contiguous: as_strided
    w = backend.strided_view(strided, (2, 2), (32, 16), 16)         # from element 1
    w += 1
    assert strided.nonzero()[0].tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        backend.strided_view(strided, (2,), (16,), 8)               # half an element in
