"""Smaller ops of PyTorch's namespace, wired up in one place: ``torch.hash_tensor`` (and the
Tensor method, the function taking ``out=``, both worded by PyTorch's parser),
``torch._chunk_cat`` and the masked indexing pair ``torch._unsafe_masked_index`` /
``_unsafe_masked_index_put_accumulate``. (``torch._native_batch_norm_legit`` is in
``minigrad/_batch_norm_legit.py``: it is made of ``native_batch_norm``, above ``ops``.)
"""
from __future__ import annotations

import functools

from .._tensor_methods import _torch_args
from ..tensor import Tensor
from .chunk_cat import _chunk_cat
from .hash_reduce import hash_tensor as _hash_tensor
from .masked_index import _unsafe_masked_index, _unsafe_masked_index_put_accumulate

__all__ = ["hash_tensor", "_chunk_cat", "_unsafe_masked_index",
           "_unsafe_masked_index_put_accumulate"]

hash_tensor = _torch_args(_hash_tensor)
_hash_method = _torch_args(_hash_tensor, True)


@functools.wraps(_hash_tensor)
def _tensor_hash_tensor(self, *args, **kwargs):
    """``Tensor.hash_tensor``: the function's, without its ``out=`` (PyTorch's method has none)."""
    if "out" in kwargs:
        raise TypeError("hash_tensor() got an unexpected keyword argument 'out'")
    return _hash_method(self, *args, **kwargs)


Tensor.hash_tensor = _tensor_hash_tensor
