"""Norms: ``linalg.vector_norm``, ``linalg.matrix_norm``, ``linalg.norm`` and ``norm``
(``torch.norm`` / ``Tensor.norm``).

vector_norm(x, ord) = (sum |x|^ord)^(1/ord) over the given dims; ord inf / -inf: max / min
|x|; ord 0: the number of non-zeros.  The vector norms, and the 'fro' and 1 / inf matrix
norms, are compositions of differentiable ops (``sum``, ``sqrt``, ``abs``, ``pow``,
``amax``), 0 where a power's derivative is infinite (a zero vector), as PyTorch's subgradient;
the vector norms of the other orders (inf, -inf, 3, 0.5, -1...) take PyTorch's backward
formula itself, written in ops (``_VectorNorm``), so that NaN, inf and zero elements get the
gradients PyTorch gives them.  The 2 / -2 / nuclear matrix norms take singular values
(``svdvals``, ``linalg.py``), differentiable to any order.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend, dtypes
from ..autograd import Function, no_grad
from ..autograd.grad_mode import is_grad_enabled
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._util import (FLOAT32_64, argument_error, ieee_errors, normalize_dim, normalize_dims,
                    python_type_name, scalar_type_name)
from .elementary_functions import abs
from .power import pow
from .elementwise import mul
from .division import div
from .compare import sign
from .pointwise_select import where
from .linalg import svdvals
from .movement import unsqueeze
from .plumbing import cast_to
from .extrema import amax, amin
from .reduce import _rows_summed, sum
from .shaping import movedim

__all__ = ["norm", "vector_norm", "matrix_norm", "linalg_norm"]


def _check_norm_dtype(x, dtype, name):
    """PyTorch's checks of a norm's input and ``dtype=``: floating or complex input; a
    floating (complex for a complex input) dtype that does not narrow the input's."""
    if x._array.dtype.kind not in "fcV":
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_type_name(x._array.dtype)}")
    if dtype is None:
        return x
    dt = dtypes.to_dtype(dtype)
    if dt.np.kind not in "fcV":
        raise RuntimeError(f"{name}: dtype should be floating point or complex, but got "
                           f"{scalar_type_name(dt.np)}")
    if (x._array.dtype.kind == "c") != (dt.np.kind == "c"):
        kind = "complex" if x._array.dtype.kind == "c" else "real"
        raise RuntimeError(f"{name}: dtype should be {kind} for {kind} inputs, but got "
                           f"{scalar_type_name(dt.np)}")
    if dtypes._promote(x._array.dtype, dt.np) != dt.np:     # (bfloat16 to float16 narrows)
        raise RuntimeError(f"{name}: the dtype of the input ({scalar_type_name(x._array.dtype)})"
                           f" should be convertible without narrowing to the specified dtype "
                           f"({scalar_type_name(dt.np)})")
    return x.to(dt)


def _ord_text(ord):
    return "inf" if ord == math.inf else "-inf" if ord == -math.inf else f"{ord:g}"


def _refuse_empty(x, ord, dim):
    """An order with no identity (negative or inf) over an empty tensor: PyTorch wants dims,
    and goes through them as given, each wrapped (an IndexError out of range) and refused
    when empty, named as given; before it looks for a repeated dim."""
    dims = [] if dim is None else list(dim) if isinstance(dim, (tuple, list)) else [dim]
    start = f"linalg.vector_norm cannot compute the {_ord_text(ord)} norm on"
    if not dims:
        raise RuntimeError(f"{start} an empty tensor because the operation does not have an "
                           f"identity")
    for d in dims:
        if x.shape[normalize_dim(d, x.ndim)] == 0:
            raise RuntimeError(f"{start} the dimension {int(d)}because this dimension is empty "
                               f"and the operation does not have an identity")


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default); ord inf/-inf: max/min |x|,
    ord 0: the number of non-zeros.  The gradient is PyTorch's: 0 at x = 0 and wherever the
    norm is 0 (for ord < 1 the power's derivative is infinite there)."""
    if not isinstance(ord, (numbers.Number, np.number, np.bool_, Tensor)):  # (the parser's)
        raise argument_error("linalg_vector_norm", "ord", "Number", ord, 2)
    if isinstance(dim, bool):       # (an optional list of ints: a bool reads as a bad list)
        raise argument_error("linalg_vector_norm", "dim", "tuple of ints", dim, 3,
                             found=(0, dim))
    out_of_range = None
    if dim is not None:
        try:
            normalize_dims(dim, x.ndim, "linalg_vector_norm", 3)
        except (IndexError, RuntimeError) as exc:
            out_of_range = exc              # (out of range or repeated: after the dtypes')
    if not isinstance(keepdim, (bool, np.bool_)):    # (the 2-norm's node takes it as it is)
        raise argument_error("linalg_vector_norm", "keepdim", "bool", keepdim, 4)
    x = _check_norm_dtype(x, dtype, "linalg.vector_norm")
    if (ord < 0 or ord == math.inf) and x.numel() == 0:
        _refuse_empty(x, ord, dim)
    if out_of_range is not None:
        raise out_of_range
    if x._array.dtype.kind == "c":
        # the norm of complex numbers is that of their moduli (a real result); abs's
        # gradient g z / |z| (0 at z = 0) carries it back
        x = abs(x)
    if ord == 2 and dtypes.reduced_float(x._array.dtype) and type(x._array) is np.ndarray \
            and x.numel():
        # the commonest 16-bit norm: computed in float32, rounded once; its backward rounds
        # as PyTorch's (``_VectorNorm16``)
        dims = None if dim is None or len(normalize_dims(dim, x.ndim)) == 0 else dim
        return _VectorNorm16.apply(x, ord=2.0, dims=dims, keepdim=keepdim)
    if dtypes.reduced_float(x._array.dtype):
        # as PyTorch: a half-precision norm is computed in float32 and rounded once, since
        # |x|^ord overflows float16 (largest 65504) long before the norm does (8^6 already)
        return _named(cast_to(vector_norm(cast_to(x, np.float32), ord, dim, keepdim),
                              x._array.dtype))
    axes = normalize_dims(dim, x.ndim)
    if dim is not None and len(axes) == 0:
        dim = None                          # dim=(): every element, as PyTorch
    dims = None if dim is None else dim
    if ord != 0 and x.numel() and all(x.shape[k] == 1 for k in
                                      (axes if dim is not None else range(x.ndim))):
        # every norm is of one element: PyTorch's reduction then gives |x| itself (no |x|^ord
        # to overflow at 1e200, no root to round off by an ulp)
        return _named(amax(abs(x), () if dims is None else dims, keepdim))
    if ord == 2:                    # (one node: the commonest norm, often of small tensors)
        return _VectorNorm.apply(x, ord=2.0, dims=dims, keepdim=keepdim)
    if ord == 1:
        return _named(sum(abs(x), dims, keepdim))
    if ord == 0:
        return _named(sum(_NonZero.apply(x), dims, keepdim))
    # the other orders: PyTorch's backward formula itself (``_VectorNorm``), so that a NaN or
    # inf among the elements, or a zero one, gets the gradient PyTorch gives it
    return _VectorNorm.apply(x, ord=float(ord), dims=dims, keepdim=keepdim)


def _norm_value(x, ord, dims, keepdim):
    """The norm of the Tensor ``x`` for an inf, -inf or other non-0/1/2 ``ord``, as ops."""
    a = abs(x)
    if ord == math.inf:
        return amax(a, () if dims is None else dims, keepdim)
    if ord == -math.inf:
        return amin(a, () if dims is None else dims, keepdim)
    # |x|^ord with the zeros masked out; for ord < 0 a zero makes |x|^ord infinite and the
    # norm 0 (unless a NaN makes it NaN): the where below gives 0 there; all-infinite
    # elements sum to 0 there, a norm of inf
    nonzero = a != 0
    powered = where(nonzero, pow(where(nonzero, a, 1.0), float(ord)), 0.0)
    total = sum(powered, dims, keepdim)
    if ord < 0:
        zero = (sum((~nonzero).to(x.dtype), dims, keepdim) != 0)._array & \
            ~np.isnan(total._array)
    else:
        zero = total._array == 0
    return where(zero, 0.0, pow(where(zero, 1.0, total), 1.0 / ord))


def _scalar_power(a, e):
    """a ** e for a float32/float64 array and a Python float e, as ``pow``'s scalar kernel
    (ScalarPow) computes it: sqrt for 0.5, 1 / sqrt for -0.5, else numpy's power with e in
    a's dtype."""
    if e == 0.5 or e == -0.5:
        root = np.sqrt(a)
        return root if e > 0 else (1 / root).astype(a.dtype, copy=False)
    return a ** np.asarray(e, dtype=a.dtype)


def _norm_array(x, ord, dims, keepdim):
    """``_norm_value`` for a finite ord of a float32/float64 numpy array, step for step on
    the arrays (the same roundings, without a node per step; a dozen ops were 100 us of a
    small norm); None where it does not apply (other dtypes and backends, the per-channel
    sum, inf / -inf)."""
    if type(x) is not np.ndarray or x.dtype not in FLOAT32_64 or math.isinf(ord):
        return None
    axes = tuple(range(x.ndim)) if dims is None else normalize_dims(dims, x.ndim)
    if x.ndim >= 3 and axes == (0,) + tuple(range(2, x.ndim)):
        return None                         # (sum's per-channel kernel: left to the ops)
    with np.errstate(all="ignore"):
        a = np.abs(x)
        nonzero = a != 0
        powered = np.where(nonzero, _scalar_power(np.where(nonzero, a, a.dtype.type(1)),
                                                  float(ord)), a.dtype.type(0))
        total = powered.sum(axis=axes, keepdims=keepdim, dtype=a.dtype)
        total = np.asarray(total)
        if ord < 0:
            zero = np.logical_or.reduce(~nonzero, axis=axes, keepdims=keepdim) & \
                ~np.isnan(total)
        else:
            zero = total == 0
        out = np.where(zero, a.dtype.type(0),
                       _scalar_power(np.where(zero, a.dtype.type(1), total), 1.0 / ord))
    return np.ascontiguousarray(out) if out.ndim else np.asarray(out)


class _VectorNorm(Function):
    """vector_norm for ord 2, inf, -inf or other than 0 and 1, with PyTorch's backward
    (``norm_backward``), written in ops (so differentiable again): for inf / -inf, g shared
    by the elements whose |x| is the norm, or is NaN, times sgn(x) (a NaN norm: no gradient);
    for ord < 1, sgn(x) |x|^(ord - 1) (0 at x = 0) times g norm^(1 - ord); for 2, x g / norm;
    else x |x|^(ord - 2) (sgn(x) |x|^(ord - 1) below 2) times g / norm^(ord - 1); 0 where the
    norm is 0 (a NaN or infinite norm reaches the zero elements too)."""
    _node_name = "LinalgVectorNormBackward0"

    def forward(self, x, *, ord, dims, keepdim):
        self.ord, self.dims, self.keepdim = ord, dims, keepdim
        if ord == 2:                        # sqrt(sum x^2) on the arrays: no node per step
            axes = None if dims is None else normalize_dims(dims, x.ndim)
            xp = backend.xp_of(x)
            squares = xp.square(x)
            # (the fastest axes by matrix products: ``reduce._rows_summed``)
            total = _rows_summed(squares, tuple(range(x.ndim)) if axes is None else axes,
                                 keepdim)
            out = xp.sqrt(xp.sum(squares, axis=axes, keepdims=keepdim) if total is None
                          else total)
            # (row-major, as PyTorch's result: numpy keeps a permuted input's axis order;
            # a whole sum is a numpy scalar, made a 0-d array)
            out = xp.ascontiguousarray(out) if out.ndim else xp.asarray(out)
        else:
            out = _norm_array(x, ord, dims, keepdim)
            if out is None:
                with no_grad():
                    out = _norm_value(Tensor._wrap(x), ord, dims, keepdim)._array
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, norm = self.saved_tensors
        p = self.ord
        axes = tuple(range(x.ndim)) if self.dims is None else normalize_dims(self.dims, x.ndim)
        if p == 2.0 and not is_grad_enabled():     # nothing recorded: on the arrays
            n, ga = norm._array, g._array
            if not self.keepdim:
                n, ga = (backend.xp_of(n).expand_dims(a, axes) for a in (n, ga))
            # g (x / norm), PyTorch's order of rounding, in place in one array: x / norm,
            # 0 where the norm is 0 (0 / 0 there), then times g (an inf g gives NaN there,
            # as PyTorch's)
            xa = x._array
            half = ga.dtype if ga.dtype.itemsize == 2 and ga.dtype.kind in "fV" else None
            if half is not None and xa.dtype != half:
                # a 16-bit norm computed in float32: PyTorch's backward reads the norm in the
                # 16-bit dtype and rounds x / norm to it before the product
                n = dtypes.astype(dtypes.astype(n, half), xa.dtype)
                out = dtypes.astype(dtypes.astype(xa / n, half), xa.dtype)
            else:
                out = backend.xp_of(n).divide(xa, n, dtype=xa.dtype)
            zero = n == 0
            if zero.any():
                out[...] = backend.xp_of(n).where(zero, 0, out)
            out *= ga
            return Tensor._wrap(out)
        if not self.keepdim:
            for ax in sorted(axes):
                g, norm = unsqueeze(g, ax), unsqueeze(norm, ax)
        with ieee_errors():
            if p == 2.0:
                # g (x / norm), the quotient masked where the norm is 0, as PyTorch's formula
                # (so a second derivative there is NaN, as PyTorch's)
                return mul(g, where(norm._array == 0, 0.0, div(x, norm)))
            sgn = sign(x)
            if math.isinf(p):
                a = x._array.__abs__()
                mask = (a == norm._array) | (a != a)
                count = mask.sum(axis=axes, keepdims=True).astype(x._array.dtype)
                return mul(sgn, mul(div(g, Tensor._wrap(count)),
                                    Tensor._wrap(mask.astype(x._array.dtype))))
            zero = x._array == 0
            if p < 1.0:
                # |x|^(p-1), infinite at a zero, then masked there (as PyTorch's masked_fill):
                # a second derivative at a zero is then 0 * inf = NaN, as PyTorch's
                scaled = mul(sgn, where(zero, 0.0, pow(abs(x), p - 1)))
                return mul(mul(scaled, g), pow(norm, 1 - p))
            scale = where(norm._array == 0, 0.0, div(g, pow(norm, p - 1)))
            if p < 2.0:
                return mul(mul(sgn, pow(abs(x), p - 1)), scale)
            return mul(mul(x, pow(abs(x), p - 2)), scale)


class _VectorNorm16(_VectorNorm):
    """The 2-norm of a float16/bfloat16 array: the forward gets it in float32 and its result
    is rounded once; the backward (``_VectorNorm``'s) reads the norm in the 16-bit dtype and
    rounds x / norm to it before multiplying by g, as PyTorch's."""
    half_in_float32 = True


def _named(norm):
    """A vector norm's last node, named as PyTorch's for the whole norm."""
    return rename_node(norm, "LinalgVectorNormBackward0")


class _NonZero(Function):
    """1 where x is not zero (NaN included), else 0, in x's dtype: the terms of the 0-norm,
    piecewise constant.  The norm requires grad when x does, as PyTorch's, whose backward
    then gives x no gradient at all (x.grad stays None)."""
    def forward(self, x):
        return (x != 0).astype(x.dtype)

    def backward(self, g):
        return None


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A norm of the matrices spanned by the two dims ``dim``: 'fro' (sqrt of the sum of
    squares), 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value),
    1 / -1 (largest / smallest column sum of |A|), inf / -inf (the same over rows)."""
    if not isinstance(ord, (str, numbers.Number)) or not isinstance(dim, (tuple, list)):
        # PyTorch's signatures take a number or a string ord (None is neither) and a tuple
        # of ints dim (a single int is none: its parser wants two)
        got = "" if isinstance(ord, str) and ord == "fro" else f", ord={python_type_name(ord)}"
        got += "" if isinstance(dim, (tuple, list)) else f", dim={python_type_name(dim)}"
        raise TypeError(f"linalg_matrix_norm() received an invalid combination of arguments - "
                        f"got (Tensor{got}), but expected one of:\n"
                        f" * (Tensor input, Number ord, tuple of ints dim = {{-2,-1}}, bool "
                        f"keepdim = False, *, torch.dtype dtype = None, Tensor out = None)\n"
                        f" * (Tensor input, str ord = \"fro\", tuple of ints dim = {{-2,-1}}, "
                        f"bool keepdim = False, *, torch.dtype dtype = None, Tensor out = None)\n")
    if isinstance(ord, str) and ord not in ("fro", "nuc") or \
            not isinstance(ord, str) and ord not in _MATRIX_ORDS:      # checked first, as PyTorch
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    given = A._array.dtype
    _check_norm_dtype(A, None, "linalg.matrix_norm")      # (the input's kind: dims next)
    if dtypes.reduced_float(given) and (ord == "nuc" or ord in (2, -2)):
        # PyTorch has no half-precision SVD (whatever dtype= asks for)
        raise RuntimeError(f"linalg.matrix_norm: Low precision dtypes not supported. Got "
                           f"{scalar_type_name(given)}")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(str(d) for d in dims)}")
    d0, d1 = (normalize_dim(d, A.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    A = _check_norm_dtype(A, dtype, "linalg.matrix_norm")  # (dtype=: after the dims)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(movedim(A, (d0, d1), (-2, -1)))
        if ord == -2 and s.shape[-1] == 0:
            raise IndexError("amin(): Expected reduction dim -1 to have non-zero size.")
        # sum for 'nuc' and for an empty max (PyTorch gives 0 there)
        out = (sum(s, -1) if ord == "nuc" or s.shape[-1] == 0 else
               amax(s, -1) if ord == 2 else amin(s, -1))
        if keepdim:
            for d in sorted((d0, d1)):
                out = unsqueeze(out, d)
        return out
    # 1-norms of the columns (of the rows for inf), then their max (min for negative ord)
    if ord in (math.inf, -math.inf):
        d0, d1 = d1, d0
    sums = sum(abs(A), d0, keepdim)
    if not keepdim and d0 < d1:
        d1 -= 1
    if sums.shape[d1] == 0:
        if ord < 0:
            raise IndexError(f"amin(): Expected reduction dim {d1} to have non-zero size.")
        return sum(sums, d1, keepdim)          # PyTorch's 0 for an empty max
    return amax(sums, d1, keepdim) if ord > 0 else amin(sums, d1, keepdim)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: over one dim (or a 1-d input) a vector norm, over two dims (or a 2-d
    input) a matrix norm; ord None with dim None: the 2-norm of every element."""
    if dim is not None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {list(dims)}")
        if isinstance(ord, str) or len(dims) == 2 and ord is not None:
            return matrix_norm(A, ord, dims, keepdim, dtype=dtype)
        # ord None: the 2-norm of the elements over dim (Frobenius over two dims)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 2 or isinstance(ord, str):
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, ord, None, keepdim, dtype=dtype)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm / Tensor.norm: ``p`` 'fro' (the 2-norm of every element given), a number,
    inf or -inf, over ``dim`` (all elements by default); 'nuc': the nuclear norm over the
    two dims ``dim`` (a 2-d input's by default)."""
    if p == "nuc":
        dims = tuple(range(input.ndim)) if dim is None else (dim,) if isinstance(dim, int) \
            else dim
        return matrix_norm(input, "nuc", dims, keepdim, dtype=dtype)
    if isinstance(p, str) and p != "fro":     # PyTorch hands any other name to matrix_norm
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    if p == "fro" and dim is not None and not isinstance(dim, (int, tuple, list, str)) and not (
            isinstance(dim, Tensor) and dim.ndim):
        # PyTorch's Python code takes len(dim) of anything but an int on the 'fro' path
        raise TypeError("len() of a 0-d tensor" if isinstance(dim, Tensor) else
                        f"object of type '{python_type_name(dim)}' has no len()")
    if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
        # (PyTorch's 'fro' over more than two dims is matrix_norm's: refused for the count)
        return matrix_norm(input, "fro", dim, keepdim, dtype=dtype)
    if p == "fro" or p is None:
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
