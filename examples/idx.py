"""Read (and write) the IDX files that MNIST ships in: ``train-images-idx3-ubyte`` and friends.

The format (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"):

    bytes 0-1   0x00 0x00                     the magic number starts with two zero bytes
    byte  2     the type of the data          0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                              0x0D float32, 0x0E float64
    byte  3     the number of dimensions      1 for labels, 3 for images
    then        one 4-byte size per dimension big-endian unsigned
    then        the data, C order             big-endian, prod(sizes) items

So MNIST's training images start ``00 00 08 03 | 00 00 EA 60 | 00 00 00 1C | 00 00 00 1C``:
60,000 images of 28x28 unsigned bytes.  Files ending in ``.gz`` are read through gzip (files
that start with gzip's magic number are too, whatever their name).

    from idx import read_idx, load_mnist
    images = read_idx("data/train-images-idx3-ubyte.gz")      # (60000, 28, 28) uint8
    x_train, y_train, x_test, y_test = load_mnist("data")     # the four files of a folder

Every error is an ``IdxError`` (a ``ValueError``) whose message names the file.
"""
from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["IdxError", "read_idx", "write_idx", "load_mnist", "find_mnist_files", "IDX_DTYPES"]

#: IDX type code -> numpy dtype (big-endian, as stored in the file)
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """An IDX file that cannot be read: truncated, bad magic number, unknown type, ..."""


def _read_bytes(path) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise IdxError(f"{path}: cannot read IDX file: {e.strerror or e}") from e
    if str(path).endswith(".gz") or raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IdxError(f"{path}: corrupt or truncated gzip data ({e})") from e
    return raw


def read_idx(path) -> np.ndarray:
    """The array stored in the IDX file ``path`` (``.gz`` or not), in native byte order.

    Raises ``IdxError`` naming ``path`` when the file is shorter than its header says
    (truncated), longer (trailing bytes), or its magic number is not an IDX one.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IdxError(f"{path}: truncated IDX file: {len(raw)} bytes, the header alone "
                       "needs 4 (magic number)")
    zero, code, ndim = raw[0:2], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero != b"\x00\x00":
        raise IdxError(f"{path}: not an IDX file: bad magic number 0x{magic:08X} (an IDX "
                       "file starts with two zero bytes, e.g. 0x00000803 for uint8 images)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {IDX_DTYPES[c].newbyteorder('=').name}"
                          for c in IDX_DTYPES)
        raise IdxError(f"{path}: bad magic number 0x{magic:08X}: unknown data type code "
                       f"0x{code:02X} (known: {known})")
    if ndim == 0:
        raise IdxError(f"{path}: bad magic number 0x{magic:08X}: zero dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated IDX file: {len(raw)} bytes, but the header of a "
                       f"{ndim}-dimensional array needs {header}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) < expected:
        raise IdxError(f"{path}: truncated IDX file: the header says {shape} "
                       f"{dtype.newbyteorder('=').name} ({expected} bytes in all) but the "
                       f"file has {len(raw)} bytes")
    if len(raw) > expected:
        raise IdxError(f"{path}: invalid IDX file: {len(raw) - expected} bytes after the "
                       f"{shape} {dtype.newbyteorder('=').name} array its header describes")
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # a native-endian, writable copy


def write_idx(path, array) -> None:
    """Write ``array`` (uint8, int8, int16, int32, float32 or float64) as an IDX file;
    gzip-compressed when ``path`` ends in ``.gz``."""
    path = os.fspath(path)
    a = np.asarray(array)
    native = a.dtype.newbyteorder("=")
    if native not in _CODES:
        raise IdxError(f"{path}: IDX cannot store dtype {a.dtype}")
    if not 1 <= a.ndim <= 255:
        raise IdxError(f"{path}: IDX stores 1 to 255 dimensions, not {a.ndim}")
    code = _CODES[native]
    head = bytes([0, 0, code, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    body = np.ascontiguousarray(a, dtype=IDX_DTYPES[code]).tobytes()
    data = head + body
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)


# MNIST's own names, and the "train-images.idx3-ubyte" spelling some mirrors use
_MNIST_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def find_mnist_files(folder) -> dict:
    """The paths of MNIST's four files in ``folder`` (each may be gzipped)."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        raise IdxError(f"{folder}: no such folder (expected MNIST's IDX files in it)")
    found, missing = {}, []
    for key, names in _MNIST_NAMES.items():
        for name in names:
            hits = [os.path.join(folder, name + ext) for ext in ("", ".gz")
                    if os.path.isfile(os.path.join(folder, name + ext))]
            if hits:
                found[key] = hits[0]
                break
        else:
            missing.append(names[0] + "[.gz]")
    if missing:
        raise IdxError(f"{folder}: missing MNIST IDX file(s): {', '.join(missing)}")
    return found


def load_mnist(folder):
    """``(x_train, y_train, x_test, y_test)`` from the four MNIST IDX files in ``folder``:
    images (N, H, W) uint8, labels (N,) int64."""
    files = find_mnist_files(folder)
    out = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        img, lab = f"{split}_images", f"{split}_labels"
        x, y = out[img], out[lab]
        if x.ndim != 3:
            raise IdxError(f"{files[img]}: expected 3-D images (N, H, W), got shape {x.shape}")
        if y.ndim != 1:
            raise IdxError(f"{files[lab]}: expected 1-D labels (N,), got shape {y.shape}")
        if len(x) != len(y):
            raise IdxError(f"{files[img]} has {len(x)} images but {files[lab]} has {len(y)} "
                           "labels")
    if out["train_images"].shape[1:] != out["test_images"].shape[1:]:
        raise IdxError(f"{files['train_images']} holds {out['train_images'].shape[1:]} images "
                       f"but {files['test_images']} holds {out['test_images'].shape[1:]}")
    return (out["train_images"], out["train_labels"].astype(np.int64),
            out["test_images"], out["test_labels"].astype(np.int64))
