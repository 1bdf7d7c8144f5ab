"""``Tensor.untyped_storage()``: the memory block under a tensor and its views, as bytes.

Code compares storages to ask whether two tensors share memory
(``a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()``) or measures them
(``nbytes()``).  Here the block is the array of the tensor's base (the tensor itself when it
is no view): every view of one base reports the same pointer and size.
"""
from __future__ import annotations

from . import backend

__all__ = ["UntypedStorage"]


class UntypedStorage:
    """The bytes a tensor (and each view of its base) lives in."""

    def __init__(self, tensor):
        base = tensor._base
        shared = base is not None and backend.xp_of(tensor._array).may_share_memory(
            tensor._array, base._array)
        self._array = base._array if shared else tensor._array
        self._device = tensor.device

    def data_ptr(self) -> int:
        a = self._array
        return a.__array_interface__["data"][0] if hasattr(a, "__array_interface__") \
            else a.data.ptr

    def nbytes(self) -> int:
        return int(self._array.nbytes)

    def size(self) -> int:
        return self.nbytes()

    def __len__(self):
        return self.nbytes()

    def element_size(self) -> int:
        return 1

    @property
    def device(self):
        return self._device

    def __repr__(self):
        return f"<minigrad.UntypedStorage of {self.nbytes()} bytes on {self._device}>"
