"""Shape-aware ops with PyTorch's names and arguments: ``diff``, ``flip``, ``fliplr``,
``flipud``, ``rot90``, ``diag_embed``, ``diagflat``, ``trapezoid`` / ``trapz``,
``cumulative_trapezoid``, ``vander``, ``cartesian_prod``, ``combinations``, ``renorm``,
``argwhere`` and ``ravel``.

``flip`` is one Function (``Flip``: a reversed copy along the given dims, whose backward
flips the gradient back).  All other differentiable ones are compositions (narrow, sub,
flip, transpose, where, pad, movedim, cumsum, index_select, vector_norm), so first and
second derivatives come from those ops.
"""
from __future__ import annotations

import numpy as np

from .. import _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._int_list_args import int_list_argument
from ._util import (argument_error, check_tensor, int_arg, normalize_dim, python_type_name,
                    result_dtype, scalar_type_name)
from .power import pow
from .elementwise import add, cast, mul, sub
from .division import div
from .pointwise_select import where
from .norms import vector_norm
from .math_extra import nonzero
from .movement import flatten, reshape, transpose, unsqueeze
from .movement_copies import clone, contiguous, pad
from .reduce import sum as sum_
from .scatter_gather import index_select
from .shaping import movedim
from .sorting import cumsum
from .stacking import cat, narrow, stack
from .write_overlap import overlaps_itself

__all__ = ["diff", "flip", "fliplr", "flipud", "rot90", "diag_embed", "diagflat", "trapezoid",
           "trapz", "cumulative_trapezoid", "vander", "cartesian_prod", "combinations", "renorm",
           "argwhere", "ravel"]


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along ``dim``: out[i] = x[i + 1] - x[i], applied n times,
    after ``prepend`` / ``append`` are joined on (they match ``input`` except along dim;
    with n = 0 they are checked but not joined, and the result is a copy of ``input``).
    For bool tensors the difference is the logical xor."""
    check_tensor("diff", input)
    n = int_arg("diff", "n", n)
    for name, extra in (("prepend", prepend), ("append", append)):
        if extra is not None and not isinstance(extra, Tensor):
            raise argument_error("diff", name, "Tensor", extra)   # (its position: the caller's)
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    for extra in (prepend, append):
        if extra is None:
            continue
        d = normalize_dim(dim, input.ndim)
        if extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as "
                               "input")
        for i, (a, b) in enumerate(zip(extra.shape, input.shape)):
            if i != d and a != b:
                raise RuntimeError(f"diff expects the shape of tensor to prepend or append to "
                                   f"match that of input except along the differencing "
                                   f"dimension; input.size({i}) = {b}, but got tensor.size({i}) "
                                   f"= {a}")
    if n == 0:                    # no differencing: a copy of input, prepend/append unused
        return input.clone()      # (and, as PyTorch, no dim checked without them)
    d = normalize_dim(dim, input.ndim)
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        size = x.shape[d]
        if size == 0:
            break
        hi, lo = narrow(x, d, 1, size - 1), narrow(x, d, 0, size - 1)
        if x._array.dtype.kind == "b":
            x = Tensor._wrap(hi._array ^ lo._array)
        else:
            x = sub(hi, lo)
    return x


class Flip(Function):
    """Reverse the order of the elements along ``axes``: a copy, as torch.flip.
    Backward: flip the gradient back (flipping is its own inverse)."""
    complex_ok = True             # linear, real coefficients: right as written

    def forward(self, a, *, axes):
        self.axes = axes
        # its dims laid out in the input's memory order, as PyTorch's empty_like keeps it (a
        # transposed input gives a transposed result); for an expanded input, in the order
        # of its nonzero strides (row-major where they say nothing)
        xp = backend.xp_of(a)
        if overlaps_itself(a):
            out = mf.empty_strided(xp, a.shape, mf.target_strides(a, mf.preserve_format),
                                   a.dtype)
            out[...] = xp.flip(a, axis=axes)
            return out
        return xp.flip(a, axis=axes).copy(order="K")

    def backward(self, g):
        return Flip.apply(g, axes=self.axes)


def flip(a, *dims, **kwargs):
    """``a`` reversed along each of ``dims`` (a tuple or list of dims: PyTorch's function
    takes no single int, its method does)."""
    check_tensor("flip", a)
    return flip_dims(a, int_list_argument("flip", "dims", dims, kwargs, 2, False))


def flip_dims(a, dims):
    """flip's work, ``dims`` a sequence of dims (ints, numpy or 0-d integer tensors)."""
    axes = []
    for d in dims:                  # wrapped in order: a repeat is found before a later bad dim
        ax = normalize_dim(d, a.ndim)
        if ax in axes:
            raise RuntimeError(f"dim {ax} appears multiple times in the list of dims")
        axes.append(ax)
    axes = tuple(axes)
    if a.ndim == 0:
        axes = ()                   # flipping a 0-d tensor along dim 0 or -1: a copy of it
    if axes and a._array.size:      # (a copy, or nothing to move, needs no kernel)
        dtypes.refuse_unsigned("flip_cpu", a._array.dtype)
    return Flip.apply(a, axes=axes)


def fliplr(input):
    """``input`` flipped left-right (along dim 1); needs at least 2 dims."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    """``input`` flipped up-down (along dim 0); needs at least 1 dim."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def rot90(input, k=1, dims=(0, 1)):
    """``input`` rotated by k * 90 degrees in the plane of ``dims``, from the first dim
    towards the second (k may be negative)."""
    check_tensor("rot90", input)
    k = int_arg("rot90", "k", k, 2)
    if not isinstance(dims, (list, tuple, Tensor)):
        raise TypeError(f"rot90(): argument 'dims' (position 3) must be tuple of ints, not "
                        f"{python_type_name(dims)}")
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = normalize_dim(dims[0], input.ndim), normalize_dim(dims[1], input.ndim)
    if d0 == d1:                    # (PyTorch's words name the dims as given)
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        out = transpose(flip(input, (d1,)), d0, d1)
    elif k == 2:
        out = flip(input, (d0, d1))
    elif k == 3:
        out = transpose(flip(input, (d0,)), d0, d1)
    else:
        # a new (contiguous) tensor even with no turn, as PyTorch's
        out = clone(input, memory_format=mf.contiguous_format)
    return rename_node(out, "Rot90Backward0")               # PyTorch's node


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor with one more dim whose diagonals (``offset`` above the main one) in the
    planes (dim1, dim2) hold the last dim of ``input``; zeros elsewhere.  Input (..., n) gives
    size n + |offset| along dim1 and dim2."""
    offset = int_arg("diag_embed", "offset", offset, 2)
    ndim = input.ndim + 1
    d1, d2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    x = input if input.ndim else reshape(input, 1)
    n = x.shape[-1]
    xp = backend.xp_of(x._array)
    eye = xp.eye(n, dtype=bool)
    square = where(eye, unsqueeze(x, -1), xp.zeros((), dtype=x._array.dtype))  # (..., n, n)
    k = abs(offset)
    if k:
        square = pad(square, (k, 0, 0, k) if offset > 0 else (0, k, k, 0))
    # a fresh row-major tensor, as PyTorch's (its strides show through as_strided and views)
    return rename_node(contiguous(movedim(square, (-2, -1), (d1, d2))), "DiagEmbedBackward0")


def diagflat(input, offset=0):
    """A 2-d matrix with the flattened ``input`` on its ``offset`` diagonal, zeros elsewhere."""
    return diag_embed(flatten(input), int_arg("diagflat", "offset", offset, 2), 0, 1)


def _spacing(x, y, d, name):
    """The spacings x[i + 1] - x[i] between the sample points ``x``, in x's own dtype (an
    integer x wraps around as PyTorch's integer arithmetic does), laid out to broadcast against
    the pair sums of ``y`` along ``d``: a 1-d x holds one point per sample, any other x is
    differenced along the same dim index ``d`` and then broadcast."""
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point")
        x = reshape(x, *[x.shape[0] if i == d else 1 for i in range(y.ndim)])
    elif x.ndim <= d:
        raise RuntimeError(f"{name}: x of {x.ndim} dims has no dim {d} to take spacings along")
    n = x.shape[d]
    if n == 0:
        return x
    return sub(narrow(x, d, 1, n - 1), narrow(x, d, 0, n - 1))


def _trapezoid_args(y, x, dx, dim, name):
    """Checks shared by the trapezoid rules; the normalised dim."""
    if x is not None and dx is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments: both x and dx")
    if x is not None and not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'x' must be Tensor, not {type(x).__name__} (a "
                        "constant spacing goes in the keyword dx)")
    if name == "trapezoid":
        # (PyTorch's order: the dim, then no samples (zeros), then the dtypes; with sample
        # points the dim is wrapped before a 0-d y is refused)
        if y.ndim == 0:
            shown = normalize_dim(dim, 1) if x is not None else dim
            raise IndexError(f"Dimension specified as {shown} but tensor has no dimensions")
        d = normalize_dim(dim, y.ndim)
        if y.shape[d] == 0:
            return d
    elif x is not None and y.ndim:
        normalize_dim(dim, y.ndim)      # (with sample points the dim is wrapped first)
    if x is not None and (y._array.dtype.kind == "b" or x._array.dtype.kind == "b"):
        raise RuntimeError(f"{name}: received a bool input for `x` or `y`, but bool is not "
                           "supported")
    if y._array.dtype.kind == "b":
        raise RuntimeError(f"{name}: received a bool input for `y`, but bool is not supported")
    if y.ndim == 0:                 # (cumulative_trapezoid's slicing of a 0-d y)
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    return normalize_dim(dim, y.ndim)


def _pair_sums(y, d):
    """y[i + 1] + y[i] along ``d``, in y's dtype (integers wrap as in PyTorch)."""
    n = y.shape[d]
    return add(narrow(y, d, 1, n - 1), narrow(y, d, 0, n - 1))


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """The trapezoidal rule along ``dim``, as PyTorch computes it (integer steps included):

    * with sample points ``x`` (a tensor): sum_i dx_i * (y[i+1] + y[i]) / 2, where the
      spacings dx_i and the pair sums are each formed in their own tensor's dtype and the sum
      of their products is taken like ``sum`` (integers as int64) before the true division;
    * with a constant spacing ``dx`` (default 1): dx * (sum(y) - (y[0] + y[-1]) / 2).

    No samples along ``dim`` give zeros of y's dtype; integer inputs otherwise give the
    default float dtype."""
    d = _trapezoid_args(y, x, dx, dim, "trapezoid")
    n = y.shape[d]
    if n == 0:                      # (PyTorch's zeros, which take no gradient)
        return Tensor._wrap(backend.xp_of(y._array).zeros(y.shape[:d] + y.shape[d + 1:],
                                                          y._array.dtype))
    if x is not None:
        spacing = _spacing(x, y, d, "trapezoid")
    # PyTorch's last steps are a division and a multiplication by a number: their nodes are
    # named so (DivBackward1, MulBackward1), as a printed result shows
    if x is not None:
        products = mul(spacing, _pair_sums(y, d))
        return rename_node(div(sum_(products, d), 2), "DivBackward1")
    ends = add(narrow(y, d, 0, 1), narrow(y, d, n - 1, 1)).squeeze(d)
    out = sub(sum_(y, d), mul(ends, 0.5))
    return rename_node(mul(out, 1.0 if dx is None else dx), "MulBackward1")


def trapz(y, x=None, *, dx=None, dim=-1):
    """The older name of ``trapezoid``."""
    if x is not None and dx is not None:
        raise TypeError("trapz() received an invalid combination of arguments: both x and dx")
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoidal rule along ``dim``: n - 1 partial integrals for n samples,
    the running sums of dx_i * (y[i+1] + y[i]) (pair sums and spacings each in their own
    dtype, as in ``trapezoid``) over 2; a floating result."""
    d = _trapezoid_args(y, x, dx, dim, "cumulative_trapezoid")
    if x is not None:
        spacing = _spacing(x, y, d, "cumulative_trapezoid")
    n = y.shape[d]
    if n == 0:
        out_dtype = result_dtype(y, x) if x is not None else y._array.dtype
        if out_dtype.kind not in "fV":
            out_dtype = dtypes.default_float().np
        return cast(y, out_dtype)
    pairs = _pair_sums(y, d)
    if x is not None:
        return rename_node(div(cumsum(mul(spacing, pairs), d), 2), "DivBackward1")
    # PyTorch scales the pair sums, then runs the sum
    return cumsum(mul(pairs, (1.0 if dx is None else dx) / 2.0), d)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-d ``x``: columns x^(N-1), ..., x^1, x^0 (reversed with
    ``increasing``); N defaults to len(x).  Bool and integer inputs give int64."""
    N = None if N is None else int_arg("vander", "N", N, 2)
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    if x._array.dtype.kind in "biu":
        x = cast(x, np.dtype(np.int64))
    xp = backend.xp_of(x._array)
    powers = xp.arange(n, dtype=np.int64)
    if not increasing:
        powers = powers[::-1].copy()
    # PyTorch fills the powers increasing (its node: CopySlices), then flips them
    return rename_node(pow(unsqueeze(x, -1), Tensor._wrap(powers)),
                       "torch::autograd::CopySlices" if increasing else "FlipBackward0")


def cartesian_prod(*tensors):
    """All tuples taking one element from each 1-d tensor, in row-major order: shape
    (prod of lengths, number of tensors); one tensor is returned as it is."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{python_type_name(t)}")
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t.shape)}")
    if len({t._array.dtype for t in tensors}) > 1:
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    if len(tensors) == 1:
        return tensors[0]
    dtype = tensors[0]._array.dtype
    sizes = [t.shape[0] for t in tensors]
    columns = []
    for i, t in enumerate(tensors):
        view = reshape(cast(t, dtype), *[s if j == i else 1 for j, s in enumerate(sizes)])
        columns.append(flatten(view.expand(*sizes)))
    return stack(columns, 1)


def combinations(input, r=2, with_replacement=False):
    """All length-r combinations of the elements of the 1-d ``input``, in lexicographic order
    of positions: shape (number of combinations, r)."""
    r = int_arg("combinations", "r", r, 2)
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor._wrap(backend.xp_of(input._array).empty((0,), input._array.dtype))
    n = input.shape[0]
    grid = np.indices((n,) * r).reshape(r, -1).T              # every r-tuple of positions
    steps = np.diff(grid, axis=1)
    keep = (steps >= 0).all(axis=1) if with_replacement else (steps > 0).all(axis=1)
    positions = grid[keep]
    xp = backend.xp_of(input._array)
    if input._array.dtype in dtypes.BAREBONES_UNSIGNED:
        # PyTorch picks them with masked_select, which has no kernel for these dtypes (and
        # none is run for no combination)
        if len(positions):
            dtypes.refuse_unsigned("masked_select", input._array.dtype)
        return Tensor._wrap(xp.empty((0, r), input._array.dtype))
    picked = index_select(input, 0, Tensor._wrap(xp.asarray(positions.reshape(-1))))
    return rename_node(reshape(picked, positions.shape[0], r), "StackBackward0")   # PyTorch's


def renorm(input, p, dim, maxnorm):
    """Each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to norm
    maxnorm (by maxnorm / (norm + 1e-7)); the others unchanged."""
    check_tensor("renorm", input)
    if dim is None or isinstance(dim, (bool, float, complex, str, tuple, list)):
        normalize_dim(dim, 1, "renorm")     # (the parser's refusal of a dim that is no int)
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    d = normalize_dim(dim, input.ndim, "renorm")
    if input._array.dtype.kind not in "fcV":      # (after the arguments, as PyTorch)
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {scalar_type_name(input._array.dtype)}")
    others = tuple(i for i in range(input.ndim) if i != d)
    # the norms of every slice but those with a NaN (zeroed here): a NaN slice, left as it
    # is, gets the gradient g itself, as in PyTorch, with no NaN from its norm's derivative
    # times 0; a zero slice keeps its norm's own derivative, so that its second derivative
    # is PyTorch's NaN
    whole = vector_norm(input.detach(), p, others, True)._array
    big = whole > maxnorm
    norms = vector_norm(where(whole != whole, 0.0, input), p, others, True)
    factor = where(big, div(maxnorm, add(norms, 1e-7)), 1.0)
    out = mul(input, cast(factor, input._array.dtype))
    if not out._array.flags.c_contiguous:
        # PyTorch's renorm writes a row-major result whatever the input's layout
        out = contiguous(out)
    return rename_node(out, "RenormBackward0")


def argwhere(input):
    """The indices of the non-zero elements, one row each: shape (count, input.ndim)."""
    return nonzero(input)


def ravel(input):
    """``input`` flattened to 1-d: a view of a contiguous ``input``, else a copy (as PyTorch's
    contiguous().view(-1): a strided 1-d ``x.t()[0]`` is copied, not viewed)."""
    return reshape(contiguous(check_tensor("ravel", input)), -1)
