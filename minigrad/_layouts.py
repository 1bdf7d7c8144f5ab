"""``minigrad.layout``, how a tensor's elements are stored, and its values: ``strided``
(dense), ``sparse_coo`` and the sparse layouts minigrad names but refuses (``sparse_csr``,
``sparse_csc``, ``sparse_bsr``, ``sparse_bsc``), with ``check_layout``, the factories'
check of a ``layout=`` argument.  ``creation`` re-exports them all.
"""
from __future__ import annotations


class layout:  # noqa: N801  (PyTorch's spelling: torch.layout)
    """How a tensor's elements are stored: ``strided`` (dense) or ``sparse_coo`` (indices and
    values: ``_sparse_coo.py``); the other sparse ones exist so that code naming them gets a
    clear refusal."""
    _tp_name = "minigrad.layout"  # PyTorch's C type's name, in its argument errors
    __slots__ = ("name",)
    __module__ = "minigrad"

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'minigrad.layout' instances")

    @classmethod
    def _make(cls, name):
        obj = object.__new__(cls)
        obj.name = name
        return obj

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __reduce__(self):
        return self.name             # pickled (e.g. deep-copied) as the module-level singleton


strided = layout._make("strided")


sparse_coo = layout._make("sparse_coo")


sparse_csr = layout._make("sparse_csr")


sparse_csc = layout._make("sparse_csc")


sparse_bsr = layout._make("sparse_bsr")


sparse_bsc = layout._make("sparse_bsc")


def check_layout(value, fn_name, sparse_ok=False):
    """A factory's ``layout=``: None or strided; ``sparse_coo`` where the factory makes a
    sparse tensor (``sparse_ok``: zeros, empty, zeros_like; True returned); other layouts
    are refused as PyTorch refuses them, anything else is PyTorch's TypeError."""
    if value is None or value is strided:
        return False
    if not isinstance(value, layout):
        raise TypeError(f"{fn_name}(): argument 'layout' must be minigrad.layout, not "
                        f"{type(value).__name__}")
    if value is sparse_coo:
        if sparse_ok:
            return True
        if fn_name in ("ones", "full"):
            raise RuntimeError("full(...) is not implemented for sparse layout")
    raise NotImplementedError(f"{fn_name}(): layout={value} is not supported: minigrad has "
                              f"dense (strided) tensors, and sparse_coo ones from "
                              f"sparse_coo_tensor, to_sparse(), zeros, empty and zeros_like")
