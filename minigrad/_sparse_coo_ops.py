"""More of PyTorch's ops on sparse COO tensors, as methods of ``SparseCooTensor``: the
elementwise functions that map zero to zero (``abs``, ``sqrt``, ``sin``, ``tanh``, ``relu``,
``sign``, ``floor``, ``log1p``, ``square``, ``isnan``, ... and ``pow`` by a nonzero number),
which act on the stored values only, ``index_select``, and ``dense @ sparse``.

PyTorch coalesces the input of a nonlinear elementwise function first (``abs`` of two entries
at one position is the absolute value of their sum), and so does this; the result is
coalesced. The linear ones (``positive``, ``conj_physical``) keep the input's entries as
they are. Gradients flow through the values, as for every op on a sparse tensor here.

``index_select(dim, index)`` keeps the entries whose coordinate along ``dim`` is in
``index``, renumbered by their position there: grouped by that position, in the input's
order within a group (an index repeated repeats its entries), uncoalesced, as PyTorch's.
Gradients flow here where PyTorch has none (its backward of tanh, sin or index_select on a
sparse tensor is missing). The module functions (``torch.abs(s)``, ``torch.index_select(s,
...)``) do not reach these methods yet.

``SparseValueOps`` holds them, a base class of ``SparseCooTensor`` (``_sparse_coo.py``),
whose ``_with(values)`` and ``_rebuilt(indices, values, size, coalesced)`` make the results.
"""
from __future__ import annotations

import numbers

import numpy as np

from .autograd._node_names import rename_node
from .tensor import Tensor

__all__ = ["SparseValueOps"]


def _on_coalesced_values(name):
    """The method ``name`` of a sparse tensor: ``name`` of its stored values, coalesced
    first (a nonlinear function of two entries at one position is one of their sum)."""
    def method(self, *args, **kwargs):
        s = self.coalesce()
        return s._with(getattr(s._vals, name)(*args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"``{name}`` of the stored values (coalesced first), a sparse tensor."
    return method


def _on_values(name):
    """The method ``name`` of a sparse tensor, for a linear ``name``: of its entries as they
    are."""
    def method(self, *args, **kwargs):
        return self._with(getattr(self._vals, name)(*args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"``{name}`` of the stored values, a sparse tensor."
    return method


def _pow(self, exponent):
    """``self ** exponent`` for a nonzero number (zero to any other power stays zero)."""
    if isinstance(exponent, Tensor) or not isinstance(exponent, numbers.Real):
        raise NotImplementedError("Could not run 'aten::pow.Tensor_Tensor' with arguments from "
                                  "the 'SparseCPU' backend (a sparse tensor is raised only to "
                                  "a real Python number)")
    if exponent == 0:
        raise RuntimeError("pow: cannot raise to zeroth power on sparse tensor; it would make "
                           "the result tensor dense")
    s = self.coalesce()
    return s._with(s._vals.pow(exponent))


def _index_select(self, dim, index):
    """The entries whose coordinate along sparse dimension ``dim`` is in ``index`` (a 1-d
    integer tensor), renumbered by their position in it."""
    ndim = len(self._size)
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                         f"{ndim - 1}], but got {dim})")
    dim %= ndim
    if dim >= self._idx.shape[0]:
        raise NotImplementedError("index_select of a sparse tensor along a dense dimension: "
                                  "call to_dense() first")
    if not isinstance(index, Tensor):
        raise TypeError(f"index_select(): argument 'index' (position 2) must be Tensor, not "
                        f"{type(index).__name__}")
    wanted = index._array
    if wanted.ndim != 1 or wanted.dtype != np.int64:
        raise IndexError("index_select() argument index must be 1-D strided (non-sparse) "
                         "long-tensor.")
    n = self._size[dim]
    bad = (wanted < -n) | (wanted >= n)
    if bad.any():
        raise IndexError(f"index_select(): index contains {int(wanted[bad][0])} that is out "
                         f"of range for tensor of size {list(self._size)} at dimension {dim}")
    wanted = np.where(wanted < 0, wanted + n, wanted)
    keys = self._idx[dim]
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    lo = np.searchsorted(sorted_keys, wanted, "left")
    counts = np.searchsorted(sorted_keys, wanted, "right") - lo
    position = np.repeat(np.arange(wanted.size), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    entries = order[np.repeat(lo, counts) + offsets]
    idx = self._idx[:, entries].copy()
    idx[dim] = position
    size = list(self._size)
    size[dim] = wanted.size
    return self._rebuilt(idx, self._vals[Tensor._wrap(entries)], tuple(size), False)


def _rmatmul(self, other):
    """``dense @ sparse`` (Python asks the sparse right operand first, a subclass): a dense
    result, (sparse^T @ dense^T)^T, for a 1-d, 2-d or batched dense operand."""
    if not isinstance(other, Tensor) or other.is_sparse or other.ndim == 0:
        return NotImplemented
    if len(self._size) != 2:
        raise RuntimeError(f"addmm: matrices expected, got {len(self._size)}D tensor")
    lead = tuple(other.shape[:-1])
    flat = other.reshape(-1, other.shape[-1]) if other.ndim != 2 else other
    out = self.t().mm(flat.t()).t()
    if other.ndim == 2:
        return rename_node(out, "MmBackward0")      # one mm node, as PyTorch records it
    return out.reshape(lead + (self._size[1],))


class SparseValueOps:
    """PyTorch's elementwise functions of a sparse COO tensor (each maps zero to zero), its
    ``pow``, ``index_select`` and ``dense @ sparse``: a base class of ``SparseCooTensor``."""
    abs = _on_coalesced_values("abs")
    asin = _on_coalesced_values("asin")
    asinh = _on_coalesced_values("asinh")
    atan = _on_coalesced_values("atan")
    atanh = _on_coalesced_values("atanh")
    ceil = _on_coalesced_values("ceil")
    deg2rad = _on_coalesced_values("deg2rad")
    erf = _on_coalesced_values("erf")
    erfinv = _on_coalesced_values("erfinv")
    expm1 = _on_coalesced_values("expm1")
    floor = _on_coalesced_values("floor")
    frac = _on_coalesced_values("frac")
    isinf = _on_coalesced_values("isinf")
    isnan = _on_coalesced_values("isnan")
    isneginf = _on_coalesced_values("isneginf")
    isposinf = _on_coalesced_values("isposinf")
    log1p = _on_coalesced_values("log1p")
    nan_to_num = _on_coalesced_values("nan_to_num")
    rad2deg = _on_coalesced_values("rad2deg")
    relu = _on_coalesced_values("relu")
    round = _on_coalesced_values("round")
    sgn = _on_coalesced_values("sgn")
    sign = _on_coalesced_values("sign")
    signbit = _on_coalesced_values("signbit")
    sin = _on_coalesced_values("sin")
    sinh = _on_coalesced_values("sinh")
    sqrt = _on_coalesced_values("sqrt")
    square = _on_coalesced_values("square")
    tan = _on_coalesced_values("tan")
    tanh = _on_coalesced_values("tanh")
    trunc = _on_coalesced_values("trunc")
    positive = _on_values("positive")
    conj_physical = _on_values("conj_physical")
    pow = __pow__ = _pow
    index_select = _index_select
    __rmatmul__ = _rmatmul
