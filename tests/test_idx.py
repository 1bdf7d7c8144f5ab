"""examples/idx.py: the IDX (MNIST) file reader, on small files written here."""
import gzip
import os
import struct
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "examples"))
from idx import IdxError, load_mnist, read_idx, write_idx  # noqa: E402


def _images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 4, 3), dtype=np.uint8)


def _by_hand(array, code):
    """IDX bytes written with struct, independently of write_idx."""
    head = struct.pack(">BBBB", 0, 0, code, array.ndim)
    head += struct.pack(">" + "I" * array.ndim, *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def test_uint8_images_and_labels(tmp_path):
    images, labels = _images(), np.array([7, 2, 1, 0, 4], np.uint8)
    (tmp_path / "img").write_bytes(_by_hand(images, 0x08))
    (tmp_path / "lab").write_bytes(_by_hand(labels, 0x08))
    got = read_idx(tmp_path / "img")
    assert got.shape == (5, 4, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(read_idx(str(tmp_path / "lab")), labels)


def test_mnist_header_bytes(tmp_path):
    # MNIST's training images begin 00 00 08 03 00 00 EA 60 00 00 00 1C 00 00 00 1C
    head = bytes.fromhex("00000803 00000002 0000001C 0000001C".replace(" ", ""))
    (tmp_path / "f").write_bytes(head + bytes(range(256)) * 6 + bytes(32))
    x = read_idx(tmp_path / "f")
    assert x.shape == (2, 28, 28) and x.dtype == np.uint8
    assert x[0, 0, 5] == 5 and x[0, 9, 4] == (9 * 28 + 4) % 256


@pytest.mark.parametrize("dtype,code", [(">i2", 0x0B), (">i4", 0x0C), (">f4", 0x0D),
                                        (">f8", 0x0E), ("i1", 0x09)])
def test_big_endian_types(tmp_path, dtype, code):
    a = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    (tmp_path / "f").write_bytes(_by_hand(a, code))
    got = read_idx(tmp_path / "f")
    assert got.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(got, a)


def test_gzip(tmp_path):
    images = _images()
    (tmp_path / "img.gz").write_bytes(gzip.compress(_by_hand(images, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz"), images)
    # gzip's magic number is recognised whatever the file's name
    (tmp_path / "img-noext").write_bytes(gzip.compress(_by_hand(images, 0x08)))
    np.testing.assert_array_equal(read_idx(tmp_path / "img-noext"), images)


def test_write_idx_round_trip(tmp_path):
    for name in ("a", "a.gz"):
        for a in (_images(), np.linspace(-1, 1, 10, dtype=np.float32), np.arange(6, dtype=">i4")):
            write_idx(tmp_path / name, a)
            got = read_idx(tmp_path / name)
            assert got.dtype == a.dtype.newbyteorder("=")
            np.testing.assert_array_equal(got, a)
    write_idx(tmp_path / "b", _images())
    assert (tmp_path / "b").read_bytes() == _by_hand(_images(), 0x08)


def test_truncated_names_the_file(tmp_path):
    data = _by_hand(_images(), 0x08)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data[:-1])
    with pytest.raises(IdxError, match=r"train-images-idx3-ubyte: truncated IDX file") as e:
        read_idx(path)
    assert str(path) in str(e.value) and "(5, 4, 3)" in str(e.value)
    path.write_bytes(data[:9])  # inside the header
    with pytest.raises(IdxError, match="truncated IDX file.*header"):
        read_idx(path)
    path.write_bytes(data[:2])
    with pytest.raises(IdxError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"")
    with pytest.raises(IdxError, match="truncated"):
        read_idx(path)


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    z = gzip.compress(_by_hand(np.arange(200, dtype=np.uint8), 0x08))
    path.write_bytes(z[: len(z) // 2])
    with pytest.raises(IdxError) as e:
        read_idx(path)
    assert str(path) in str(e.value) and "gzip" in str(e.value)
    # a whole gzip stream whose IDX content is short
    path.write_bytes(gzip.compress(_by_hand(np.arange(200, dtype=np.uint8), 0x08)[:-10]))
    with pytest.raises(IdxError, match="t10k-labels-idx1-ubyte.gz: truncated"):
        read_idx(path)


def test_bad_magic(tmp_path):
    path = tmp_path / "not-idx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(IdxError, match=r"not-idx: not an IDX file: bad magic number 0x89504E47"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x07, 1]) + struct.pack(">I", 3) + bytes(3))
    with pytest.raises(IdxError, match=r"not-idx: bad magic number 0x00000701: unknown data "
                                       r"type code 0x07"):
        read_idx(path)
    path.write_bytes(bytes([0, 0, 0x08, 0]))
    with pytest.raises(IdxError, match="zero dimensions"):
        read_idx(path)


def test_trailing_bytes(tmp_path):
    path = tmp_path / "long"
    path.write_bytes(_by_hand(_images(), 0x08) + b"\x00\x01")
    with pytest.raises(IdxError, match="long: invalid IDX file: 2 bytes after"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(IdxError, match="nope-idx3-ubyte: cannot read"):
        read_idx(tmp_path / "nope-idx3-ubyte")


def test_load_mnist(tmp_path):
    rng = np.random.default_rng(1)
    xtr, ytr = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8)
    xte, yte = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), np.arange(3, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr)
    write_idx(tmp_path / "train-labels-idx1-ubyte", ytr)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", xte)
    with pytest.raises(IdxError, match=r"missing MNIST IDX file\(s\): t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "t10k-labels.idx1-ubyte.gz", yte)  # a mirror's spelling
    a, b, c, d = load_mnist(tmp_path)
    np.testing.assert_array_equal(a, xtr)
    np.testing.assert_array_equal(c, xte)
    assert b.dtype == np.int64 and list(d) == [0, 1, 2]
    write_idx(tmp_path / "t10k-labels.idx1-ubyte.gz", np.arange(4, dtype=np.uint8))
    with pytest.raises(IdxError, match="has 3 images but .* has 4 labels"):
        load_mnist(tmp_path)
