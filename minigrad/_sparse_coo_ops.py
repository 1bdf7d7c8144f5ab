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
sparse tensor is missing).

``unsqueeze`` adds a sparse dimension of size 1 (a dense one past the sparse ones);
``bmm`` multiplies a batch of sparse matrices (3 sparse dims) by a dense batch, as one
block-diagonal product; ``cat`` and ``stack`` join sparse tensors along a sparse dimension,
the indices shifted, the values concatenated (uncoalesced, as PyTorch's).

``torch.abs(s)``, ``torch.cat([s, t])``, ``torch.add(dense, s)``, ``torch.addmm(dense, s,
dense)``: the module functions reach these through ``function_form(name, args)``, which the
functions' common wrappers (``_tensor_methods._torch_args``, ``_tensor_input.guarded``) ask
when an operand is not a plain dense Tensor. Gradients of the sparse forms reach the values
the sparse tensors were built from, where PyTorch's own backward of ``cat``, ``sin`` or
``narrow_copy`` of a sparse tensor is missing.

``SparseValueOps`` holds them, a base class of ``SparseCooTensor`` (``_sparse_coo.py``),
whose ``_with(values)`` and ``_rebuilt(indices, values, size, coalesced)`` make the results.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import creation
from ._sparse_kernels import SparseAddmm
from .autograd._node_names import rename_node
from .ops.stacking import cat as _dense_cat
from .tensor import Tensor

__all__ = ["SparseValueOps", "function_form"]


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


def _unsqueeze(self, dim):
    """A dimension of size 1 at ``dim``: a sparse one (a row of zero coordinates) up to and
    including the first dense position, as PyTorch's, else a dense one."""
    n, sd = len(self._size), self._idx.shape[0]
    if not -n - 1 <= dim <= n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n - 1}, {n}], "
                         f"but got {dim})")
    dim %= n + 1
    size = list(self._size)
    size.insert(dim, 1)
    if dim <= sd:
        return self._rebuilt(np.insert(self._idx, dim, 0, axis=0), self._vals, tuple(size),
                             False)
    return self._rebuilt(self._idx, self._vals.unsqueeze(dim - sd + 1), tuple(size), self._coal)


def _bmm(self, mat2):
    """(B, n, m) sparse (3 sparse dims) @ (B, m, p) dense -> (B, n, p) dense: one product of
    the block-diagonal (B*n, B*m) matrix with mat2 viewed as (B*m, p)."""
    if self._idx.shape[0] != 3 or len(self._size) != 3:
        raise RuntimeError(f"bmm_sparse: Tensor 'self' must have 3 sparse dims, but has "
                           f"{self._idx.shape[0]}")
    if not isinstance(mat2, Tensor) or mat2.is_sparse or mat2.ndim != 3:
        raise RuntimeError("bmm_sparse: Tensor 'mat2' must be a dense 3-d tensor, got "
                           f"{getattr(mat2, 'ndim', type(mat2).__name__)}")
    B, n, m = self._size
    if mat2.shape[0] != B:
        raise RuntimeError("bmm_sparse: 'self.size(0)' and 'mat2.size(0)' must match")
    if mat2.shape[1] != m:
        raise RuntimeError("bmm_sparse: 'self.size(2)' and 'mat2.size(1)' must match")
    p = mat2.shape[2]
    batch, row, col = self._idx
    out = SparseAddmm.apply(self._vals, mat2.reshape(B * m, p), rows=batch * n + row,
                            cols=batch * m + col, n=B * n)
    return rename_node(out.reshape(B, n, p), "BmmBackward0")


def _sparse_cat(tensors, dim=0):
    """``torch.cat`` of sparse COO tensors along a sparse dimension."""
    tensors = list(tensors)
    first = tensors[0]
    for k, t in enumerate(tensors):
        if not t.is_sparse:
            raise RuntimeError(f"Concatenating sparse tensors, but a dense tensor was found "
                               f"at position {k}.")
    n = len(first._size)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    dim %= n
    for k, t in enumerate(tensors):
        if len(t._size) != n or any(a != b for d, (a, b) in enumerate(zip(t._size, first._size))
                                    if d != dim):
            raise RuntimeError(f"All tensors must have the same shape: {list(first._size)} "
                               f"(except in the concatenating dimension), but found shape: "
                               f"{list(t._size)} at position {k}.")
        if (t.sparse_dim(), t.dense_dim()) != (first.sparse_dim(), first.dense_dim()):
            raise RuntimeError(f"All tensors must have the same sparse_dim and dense_dim: "
                               f"{first.sparse_dim()}, {first.dense_dim()}, but tensor at "
                               f"position {k} has {t.sparse_dim()}, {t.dense_dim()}.")
    if dim >= first.sparse_dim():
        raise NotImplementedError("cat of sparse tensors along a dense dimension: call "
                                  "to_dense() first")
    parts, offset = [], 0
    for t in tensors:
        idx = t._idx.copy()
        idx[dim] += offset
        parts.append(idx)
        offset += t._size[dim]
    size = list(first._size)
    size[dim] = offset
    values = _dense_cat([t._vals for t in tensors], 0)
    return first._rebuilt(np.concatenate(parts, axis=1), values, tuple(size), False)


def _sparse_stack(tensors, dim=0):
    """``torch.stack`` of sparse COO tensors: each unsqueezed at ``dim``, then cat."""
    tensors = list(tensors)
    return _sparse_cat([_unsqueeze(t, dim) for t in tensors], dim)


def _zeros_like(self, *, dtype=None, device=None, requires_grad=False, layout=None,
                memory_format=None, pin_memory=False):
    """``torch.zeros_like`` of a sparse tensor: a sparse tensor with no entries, unless a
    dense ``layout`` is asked for."""
    dense = creation.zeros(tuple(self._size), dtype=dtype or self.dtype,
                           device=device or self.device, requires_grad=requires_grad)
    if layout is not None and layout is not creation.sparse_coo:
        return dense
    return dense.to_sparse()


def _narrow_copy(self, dim, start, length):
    """The entries with start <= coordinate < start + length along sparse dimension ``dim``,
    that coordinate shifted down by ``start`` (a copy, as PyTorch's)."""
    n = len(self._size)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    dim %= n
    size = self._size[dim]
    if start < 0 or length < 0 or start + length > size:
        raise RuntimeError(f"Invalid range to narrow. range(start, start+length) must be a "
                           f"subset of range(0, {size}).")
    new_size = list(self._size)
    new_size[dim] = length
    if dim >= self._idx.shape[0]:           # a dense dimension: the values narrowed
        return self._rebuilt(self._idx.copy(), self._vals.narrow(dim - self._idx.shape[0] + 1,
                                                                 start, length).clone(),
                             tuple(new_size), self._coal)
    keep = np.flatnonzero((self._idx[dim] >= start) & (self._idx[dim] < start + length))
    idx = self._idx[:, keep]
    idx[dim] -= start
    return self._rebuilt(idx, self._vals[Tensor._wrap(keep)], tuple(new_size), self._coal)


def _addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``torch.addmm(input, sparse, dense)``: beta input + alpha (sparse @ dense), dense
    (beta 0 ignores input, NaNs included, as PyTorch's)."""
    product = mat1.mm(mat2)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return product + (input if beta == 1 else input * beta)


def _method(name):
    """The function form of the method ``name``: f(s, *args) is s.name(*args)."""
    def form(self, *args, **kwargs):
        return getattr(self, name)(*args, **kwargs)
    form.__name__ = name
    return form


# torch.<name>(s, ...) for a sparse COO s: the method of that name, or the function given
_FORMS = {name: _method(name) for name in (
    "abs asin asinh atan atanh ceil deg2rad erf erfinv expm1 floor frac isinf isnan isneginf "
    "isposinf log1p nan_to_num rad2deg relu round sgn sign signbit sin sinh sqrt square tan "
    "tanh trunc positive conj_physical pow index_select add sub mul div neg t transpose clone "
    "detach sum mm matmul unsqueeze bmm narrow_copy").split()}
_FORMS.update(absolute=_method("abs"), negative=_method("neg"), multiply=_method("mul"),
              true_divide=_method("div"), divide=_method("div"), subtract=_method("sub"),
              swapaxes=_method("transpose"), swapdims=_method("transpose"),
              zeros_like=_zeros_like, cat=_sparse_cat, concat=_sparse_cat,
              concatenate=_sparse_cat, stack=_sparse_stack)
# torch.<name>(dense, s): s's reflected operator (a dense result for add and sub)
_REFLECTED = {"add": "__radd__", "mul": "__rmul__", "multiply": "__rmul__", "sub": "__rsub__",
              "subtract": "__rsub__", "matmul": "__rmatmul__"}


def function_form(name, args):
    """What ``torch.<name>(*args)`` runs when a sparse COO tensor is its first argument, the
    first of its list (``cat``), or the second of a binary function (``torch.add(dense,
    s)``); None when no sparse form applies (the dense function then refuses the sparse
    tensor, in PyTorch's words)."""
    first = args[0]
    if type(first) in (list, tuple):
        if first and getattr(first[0], "is_sparse", False) is True and \
                getattr(first[0], "_idx", None) is not None:
            return _FORMS.get(name)
        return None
    if getattr(first, "is_sparse", False) is True and getattr(first, "_idx", None) is not None:
        return _FORMS.get(name)
    if len(args) > 1 and getattr(args[1], "is_sparse", False) is True and \
            getattr(args[1], "_idx", None) is not None:
        if name == "addmm":
            return _addmm
        if name not in _REFLECTED:
            return None
        reflected = _REFLECTED[name]
        return lambda a, b, **kwargs: getattr(b, reflected)(a, **kwargs)
    return None


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
    unsqueeze = _unsqueeze
    bmm = _bmm
    narrow_copy = _narrow_copy
