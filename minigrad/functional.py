"""``minigrad.functional``: the tensor functions PyTorch keeps in ``torch.functional``
(older tutorials import them from there): einsum, norm, split, broadcast_tensors, meshgrid,
tensordot, std_mean-style helpers.  Each is also at the top level (``minigrad.einsum``)."""
from __future__ import annotations


from .ops.linalg import einsum, norm  # noqa: F401
from .ops.movement import split  # noqa: F401
from .ops.plumbing import expand_to, reshape_to
from .ops._util import broadcast_shape

__all__ = ["einsum", "norm", "split", "broadcast_tensors", "broadcast_shapes", "meshgrid",
           "tensordot", "atleast_1d", "atleast_2d", "atleast_3d"]


def broadcast_shapes(*shapes):
    """The shape all of ``shapes`` broadcast to (RuntimeError naming the two that clash)."""
    out = ()
    for s in shapes:
        out = broadcast_shape(tuple(out), (s,) if isinstance(s, int) else tuple(s),
                              "broadcast_shapes")
    return tuple(out)


def broadcast_tensors(*tensors):
    """Views of every tensor expanded to their common shape."""
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand_to(t, shape) for t in tensors)


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: with indexing 'ij' (PyTorch's default) output k
    varies along dim k; with 'xy' the first two dims are swapped (numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = "ij" if indexing is None else indexing
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


def tensordot(a, b, dims=2, out=None):
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or the dim lists
    ``dims = ([a dims], [b dims])``), as an einsum."""
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0]),
                  [dims[1]] if isinstance(dims[1], int) else list(dims[1]))
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
        sb[j] = sa[i]
    kept = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb)
                                                           if k not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(kept)}", a, b)


def _atleast(n, tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        shape = tuple(t.shape)
        if len(shape) < n:
            shape = {0: (1,) * n, 1: ((1, shape[0]) if n == 2 else (1, shape[0], 1)),
                     2: shape + (1,)}[len(shape)]
        out.append(reshape_to(t, shape))
    return out[0] if len(out) == 1 else tuple(out)


def atleast_1d(*tensors):
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    return _atleast(3, tensors)



