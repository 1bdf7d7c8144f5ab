"""``torch.from_file``: a 1-d tensor of ``size`` elements read from a file's raw bytes.

With ``shared=True`` the tensor's memory is the file, mapped (numpy's memmap): writes to the
tensor are writes to the file, and a missing or short file is created or extended.  Otherwise
(the default) the bytes are read into memory and the file is left alone.
"""
from __future__ import annotations

import errno
import os

import numpy as np

from . import backend, dtypes
from .tensor import Tensor

__all__ = ["from_file"]


def _required_bytes(filename, nbytes):
    if nbytes < 0:
        raise RuntimeError(f"unable to mmap {nbytes} bytes from file <{filename}>: "
                           f"{os.strerror(errno.ENOMEM)} ({errno.ENOMEM})")
    return nbytes


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None,
              pin_memory=False, requires_grad=False):
    """The first ``size`` elements of ``dtype`` (the default float dtype) stored in
    ``filename``, as a CPU tensor of shape (size,)."""
    dtype = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    if device is not None and backend.Device(device).type != "cpu":
        raise RuntimeError("from_file: only CPU tensors can be mapped to files")
    nbytes = _required_bytes(filename, int(size) * dtype.itemsize)
    if shared:
        with open(filename, "ab") as f:               # created if missing, grown if short
            if f.tell() < nbytes:
                f.truncate(nbytes)
        array = (np.memmap(filename, dtype=dtype.np, mode="r+", shape=(int(size),))
                 .view(np.ndarray) if size else np.zeros(0, dtype.np))
    else:
        try:
            have = os.path.getsize(filename)
        except OSError as e:
            raise RuntimeError(f"unable to open file <{filename}> in read-only mode: "
                               f"{os.strerror(e.errno)} ({e.errno})") from None
        if have < nbytes:
            raise RuntimeError(f"file <{filename}> size <{have}> is smaller than the required "
                               f"mapping size <{nbytes}>")
        array = np.fromfile(filename, dtype=dtype.np, count=int(size))
    return Tensor._wrap(array, requires_grad=requires_grad)
