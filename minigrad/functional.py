"""``minigrad.functional``: the tensor functions PyTorch keeps in ``torch.functional``
(older tutorials import them from there): einsum, norm, split, broadcast_tensors, meshgrid,
tensordot, std_mean-style helpers.  Each is also at the top level (``minigrad.einsum``)."""
from __future__ import annotations

import numbers

from ._warn_once import warn_user as _warn_user
from . import _autocast_state
from .ops._autocast_cast import lower as _autocast_lower
from .ops.contraction import contract as _contract, einsum  # noqa: F401
from .ops.norms import norm  # noqa: F401
from .ops.stacking import split  # noqa: F401
from .autograd._node_names import rename_node
from .ops.plumbing import expand_to, reshape_to
from .ops import _util
from .ops._util import broadcast_shape
from .tensor import Size, Tensor

__all__ = ["einsum", "norm", "split", "broadcast_tensors", "broadcast_shapes", "meshgrid",
           "tensordot", "atleast_1d", "atleast_2d", "atleast_3d"]


def broadcast_shapes(*shapes):
    """The shape all of ``shapes`` broadcast to, worked out as PyTorch's Python does: dims
    filled from the right into a row of ones; a clash names the argument and the shape so far,
    a negative length is a ValueError."""
    shapes = [(s,) if isinstance(s, int) else s for s in shapes]
    result = [1] * max((len(s) for s in shapes), default=0)
    for j, shape in enumerate(shapes):
        for i in range(-1, -1 - len(shape), -1):
            size = shape[i]
            if size == 1 or size == result[i]:
                continue
            if result[i] != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {size} at "
                                   f"{i}! Mismatching argument at index {j} had {shape!r}; but "
                                   f"expected shape should be broadcastable to {result}")
            if size < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            result[i] = size
    return Size(result)


def broadcast_tensors(*tensors):
    """Views of every tensor expanded to their common shape."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    shape = Size(())
    for t in tensors:
        shape = broadcast_shape(tuple(shape), tuple(t.shape), "broadcast_tensors")
    return tuple(expand_to(t, shape) for t in tensors)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: with indexing 'ij' (PyTorch's default) output k
    varies along dim k; with 'xy' the first two dims are swapped (numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        _warn_user("torch.meshgrid: in an upcoming release, it will be required to pass the "
                   "indexing argument.", UserWarning)
        indexing = "ij"
    if not isinstance(indexing, str):
        raise TypeError(f"meshgrid(): argument 'indexing' must be str, not "
                        f"{_util.python_type_name(indexing)}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    _util.check_tensors(tensors)
    # PyTorch's order: the dtypes of all, then the indexing, then each tensor's dims
    if any(t.dtype != tensors[0].dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t.ndim}D")
    sizes = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for k, t in enumerate(tensors):
        pos = {0: 1, 1: 0}.get(k, k) if swap else k
        view = [1] * len(tensors)
        view[pos] = t.numel()
        out.append(expand_to(reshape_to(t, tuple(view)), tuple(sizes)))
    return tuple(out)


def _tensordot_dims(a, b, dims):
    """tensordot's ``dims`` as two lists (dims of a, dims of b), as given (negatives kept for
    the messages): an int n means a's last n dims with b's first n; a 2-row tensor or a
    pair of int lists pairs them up."""
    if isinstance(dims, Tensor):
        dims = int(dims.item()) if dims.numel() == 1 else dims.tolist()
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        return list(range(-dims, 0)), list(range(dims))
    if not isinstance(dims, (list, tuple)):
        raise RuntimeError("tensordot expects dims to be int or tuple[list[int], list[int]] or "
                           f"list[list[int]] containing two lists, but got dims={dims}")
    da, db = dims
    for name, pos, d in (("dims_self", 3, da), ("dims_other", 4, db)):
        if not isinstance(d, (list, tuple)):
            raise TypeError(f"tensordot(): argument '{name}' (position {pos}) must be tuple of "
                            f"ints, not {type(d).__name__}")
    return list(da), list(db)


def tensordot(a, b, dims=2):
    """Contract dims of ``a`` with dims of ``b`` (the last ``dims`` of a with the first of b,
    or the pairs ``dims = ([a dims], [b dims])``), as an einsum: the result has a's other
    dims then b's.  A contracted dim of size 1 broadcasts against its partner, as PyTorch."""
    da, db = _tensordot_dims(a, b, dims)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    if a._array.dtype != b._array.dtype:
        raise RuntimeError("both inputs should have same dtype")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    pairs = []
    for i, j in zip(da, db):
        ka, kb = _util.normalize_dim(i, a.ndim), _util.normalize_dim(j, b.ndim)
        if a.shape[ka] != b.shape[kb] and 1 not in (a.shape[ka], b.shape[kb]):
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[ka]} in dim {i} and second has size {b.shape[kb]} "
                               f"in dim {j}")
        pairs.append((ka, kb))
    for ks in ([ka for ka, _ in pairs], [kb for _, kb in pairs]):
        for k in ks:
            if ks.count(k) > 1:
                raise RuntimeError(f"dim {k} appears multiple times in the list of dims")
    for ka, kb in pairs:
        sb[kb] = sa[ka]
    fa, fb = {ka for ka, _ in pairs}, {kb for _, kb in pairs}
    kept = [c for k, c in enumerate(sa) if k not in fa] + [c for k, c in enumerate(sb)
                                                           if k not in fb]
    if kept and _autocast_state.active:
        # PyTorch's tensordot is an mm (an outer product too), which autocast casts, unless
        # it contracts every dim (a dot, left in float32)
        a, b = _autocast_lower(a, b)
    out = _contract(f"{''.join(sa)},{''.join(sb)}->{''.join(kept)}", (a, b), autocast=False,
                    node_name="ViewBackward0")
    if out.dtype != a.dtype and a._array.dtype.kind in "biu":
        # PyTorch's tensordot is a matrix product in the inputs' dtype: integers wrap round
        # there where einsum's rule would widen (a contracted size-1 dim broadcast)
        out = out.to(a.dtype)
    return out


def _atleast(n, tensors):
    """Views with at least ``n`` dims: a 0-d tensor becomes (1,)*n, a 1-d (k,) becomes (1, k)
    or (1, k, 1), a 2-d (a, b) becomes (a, b, 1) for n=3.  One tensor in, one out; several
    (or a list or tuple), a tuple."""
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    if single and not isinstance(tensors[0], Tensor):
        raise TypeError(f"atleast_{n}d() received an invalid combination of arguments - got "
                        f"({_util.python_type_name(tensors[0])}), but expected one of: (Tensor "
                        f"input), (tuple of Tensors tensors)")
    if len(tensors) == 1 and not single:
        tensors = tuple(tensors[0])
    _util.check_tensors(tensors)
    out = []
    for t in tensors:
        shape = tuple(t.shape)
        if len(shape) < n:
            if not shape:
                shape = (1,) * n
            elif len(shape) == 1:
                shape = (1, shape[0]) if n == 2 else (1, shape[0], 1)
            else:
                shape = shape + (1,)
            # PyTorch unsqueezes a vector or a matrix (a new last dim gets step 1), and views
            # a 0-d tensor
            if t.ndim and n == 3:
                out.append((t.unsqueeze(0) if t.ndim == 1 else t).unsqueeze(-1))
                continue
            out.append(rename_node(reshape_to(t, shape),
                                   "UnsqueezeBackward0" if t.ndim else "ViewBackward0"))
        else:
            out.append(reshape_to(t, shape))
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """Each tensor viewed with at least 1 dim."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """Each tensor viewed with at least 2 dims (a vector as a row)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """Each tensor viewed with at least 3 dims (a vector as (1, k, 1), a matrix as (a, b, 1))."""
    return _atleast(3, tensors)
