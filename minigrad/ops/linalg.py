"""Products and norms: ``einsum``, ``norm`` / ``linalg.vector_norm`` / ``linalg.norm``,
``var_mean``, ``std_mean``, ``dot``, ``inner``.

``einsum`` is one Function (``...`` is spelled out into letters first): numpy's einsum forward, and a backward that is again an einsum:
for ``out = einsum("ij,jk->ik", A, B)`` the gradient of A is ``einsum("ik,jk->ij", g, B)``
(the output's letters and the other operands' letters, contracted to A's letters).  A letter
only A has (summed away in the output, "ij->i") is missing from that product: the gradient
is computed without it and broadcast back along it; a letter of size 1 in A but longer in
another operand (broadcast) has its gradient summed back to size 1.  Since the backward calls
``einsum`` itself, gradients of any order follow.  A letter repeated inside one operand
("iji->j") first takes that diagonal (``diagonal``, differentiable), so the Function never
sees one.

The vector norms, the 1 / inf matrix norms and the variance are compositions of
differentiable ops (``sum``, ``mean``, ``sqrt``, ``abs``, ``pow``, ``amax``); where a power's
derivative is infinite (a zero vector) the gradient is 0, as PyTorch's subgradient.  The
2 / -2 / nuclear matrix norms take singular values (``svdvals``), differentiable to any order.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend, dtypes
from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from ._util import (normalize_dim, normalize_dims, not_implemented_for, python_type_name,
                    scalar_type_name)
from .elementary_functions import abs, pow, sqrt
from .elementwise import add, div, mul, sub
from .pointwise_select import where
from .matmul import matmul
from .complex_numbers import real
from .movement import mT, narrow, squeeze, unsqueeze
from .plumbing import cast_to, conj_of, expand_to, reshape_to, sum_to
from .reduce import Std, Var, _var_apply, amax, amin, mean, std, sum, var
from .shaping import diagonal, movedim

__all__ = ["einsum", "norm", "vector_norm", "matrix_norm", "linalg_norm", "svdvals",
           "var_mean", "std_mean", "dot", "inner"]


def _check_subscripts(equation):
    """PyTorch's errors for an equation holding something other than letters, spaces, commas,
    one '->' and at most one '...' per operand; an output letter no input has, or one given
    twice."""
    arrow = equation.find("->")
    lhs_end = len(equation) if arrow < 0 else arrow
    segments, start = [], 0
    for k, c in enumerate(equation[:lhs_end] + ","):
        if c == ",":
            segments.append((f"operand {len(segments)}", start, k))
            start = k + 1
    if arrow >= 0:
        segments.append(("output", arrow + 2, len(equation)))
    for who, start, end in segments:
        found, i = False, start
        while i < end:
            c = equation[i]
            if c == ".":
                if found:
                    raise RuntimeError(f"einsum(): found '.' for {who} " + (
                        "but an ellipsis (...) was already found" if who == "output" else
                        "for which an ellipsis was already found"))
                if equation[i:i + 3] != "..." or i + 3 > end:
                    raise RuntimeError(f"einsum(): found '.' for {who} that is not part of "
                                       "any ellipsis" + (" (...)" if who == "output" else ""))
                found, i = True, i + 3
                continue
            if c != " " and not ("a" <= c <= "z" or "A" <= c <= "Z"):
                raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the "
                                   "equation string, subscripts must be in [a-zA-Z]")
            i += 1
    if arrow >= 0:
        inputs, out = set(equation[:arrow]), equation[arrow + 2:].replace(".", "")
        for k, c in enumerate(out):
            if c == " ":
                continue
            if c not in inputs:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            if c in out[:k]:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once "
                                   "in the output")


def _parse(equation, operands):
    """(one letter string per operand, output letters); '...' is spelled out with capital
    letters, right-aligned across operands as numpy and PyTorch broadcast them."""
    _check_subscripts(equation)
    eq = equation.replace(" ", "")
    lhs, out = eq.split("->") if "->" in eq else (eq, None)
    subs = lhs.split(",")
    n_operands = len(operands)
    if len(subs) != n_operands:
        raise RuntimeError(f"einsum(): more operands were provided than specified in the "
                           f"equation (the equation has {len(subs)}, got {n_operands})"
                           if n_operands > len(subs) else
                           f"einsum(): fewer operands were provided than specified in the "
                           f"equation (the equation has {len(subs)}, got {n_operands})")
    spare = [c for c in "ZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in eq]
    widths = [t.ndim - (len(s) - 3) for s, t in zip(subs, operands) if "..." in s]
    ell = "".join(reversed(spare[:max(widths, default=0)]))     # the '...' dims, in order
    subs = [s.replace("...", ell[len(ell) - (t.ndim - (len(s) - 3)):]) if "..." in s else s
            for s, t in zip(subs, operands)]
    if out is None:                         # implicit output: '...' then letters seen once
        letters = "".join(subs)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1
                                   and c not in ell))
    else:
        out = out.replace("...", ell)
    return subs, out


def _diagonals(n, s, t):
    """Operand ``t`` (number ``n``) with subscripts ``s``: a letter repeated inside ``s``
    ("ii", a diagonal) is reduced to one dim by taking that diagonal, which moves to the
    end.  Returns the new (subscripts, tensor), with no letter repeated."""
    while len(set(s)) != len(s):
        k = next(k for k, c in enumerate(s) if s.count(c) > 1)
        c = s[k]
        j = s.index(c, k + 1)
        if t.shape[j] != t.shape[k]:
            raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {n} but the "
                               f"sizes don't match, {t.shape[j]} != {t.shape[k]}")
        t = diagonal(t, 0, k, j)
        s = s[:k] + s[k + 1:j] + s[j + 1:] + c
    return s, t


class Einsum(Function):
    """Any product-and-sum written as subscripts; output letters ``out``.  For complex
    operands each gradient multiplies g by the conjugates of the other operands."""
    complex_ok = True

    def forward(self, *operands, subs, out):
        self.subs, self.out = subs, out
        self.save_for_backward(*operands)
        return backend.xp_of(operands[0]).einsum(",".join(subs) + "->" + out, *operands)

    def backward(self, g):
        ops = self.saved_tensors
        grads = []
        for i, s in enumerate(self.subs):
            if not self.needs_input_grad[i]:
                grads.append(None)
                continue
            others = [(self.subs[j], ops[j]) for j in range(len(ops)) if j != i]
            seen = set(self.out).union(*(set(t) for t, _ in others)) if others else set(self.out)
            kept = "".join(c for c in s if c in seen)
            eq = ",".join([self.out] + [t for t, _ in others]) + "->" + kept
            grad = Einsum.apply(g, *(conj_of(t) for _, t in others),
                                subs=eq.split("->")[0].split(","),
                                out=kept)
            # a letter of size 1 here and longer in another operand broadcasts: sum its
            # gradient back to size 1; longer here and size 1 elsewhere: spread it out
            want = tuple(ops[i].shape[k] for k, c in enumerate(s) if c in seen)
            grad = sum_to(grad, tuple(1 if w == 1 else n for w, n in zip(want, grad.shape)))
            grad = expand_to(grad, want)
            if kept != s:     # letters only this operand had: broadcast the gradient along them
                shape = tuple(ops[i].shape[k] if c in seen else 1 for k, c in enumerate(s))
                grad = expand_to(reshape_to(grad, shape), tuple(ops[i].shape))
            grads.append(grad)
        return tuple(grads)


_SUBLIST_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _sublist_letters(sublist):
    """A sublist of ints in [0, 52) and ``...`` as equation letters: 0-25 -> a-z,
    26-51 -> A-Z, Ellipsis -> '...'."""
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
            continue
        if isinstance(s, bool) or not isinstance(s, numbers.Integral):
            raise TypeError(f"einsum(): a subscript list holds ints in [0, 52) and Ellipsis, "
                            f"not {type(s).__name__}")
        if not 0 <= s < 52:
            raise ValueError("einsum(): subscript in subscript list is not within the valid "
                             "range [0, 52)")
        out.append(_SUBLIST_LETTERS[s])
    return "".join(out)


def _from_sublists(args):
    """einsum's sublist form ``(op0, sub0, op1, sub1, ..., [out])`` as (equation, operands)."""
    operands = args[0::2][:len(args) // 2]
    subs = args[1::2][:len(args) // 2]
    equation = ",".join(_sublist_letters(s) for s in subs)
    if len(args) % 2:
        equation += "->" + _sublist_letters(args[-1])
    return equation, operands


def einsum(equation, *operands):
    """``einsum("bij,bjk->bik", a, b)``: multiply operands along shared letters, sum the
    letters missing from the output.  Operands may also be given as one list, or in the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (ints 0-51 for letters, ``...``
    as Ellipsis, the output sublist optional)."""
    if isinstance(equation, Tensor):
        equation, operands = _from_sublists((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' (position 1) must be str, not "
                        f"{type(equation).__name__}")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                            f"{type(t).__name__}")
    subs, out = _parse(equation, operands)
    for n, (s, t) in enumerate(zip(subs, operands)):
        if len(s) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                               f"does not match the number of dimensions ({t.ndim}) for "
                               f"operand {n} and no ellipsis was given")
    subs, operands = zip(*(_diagonals(n, s, t) for n, (s, t) in enumerate(zip(subs, operands))))
    subs = list(subs)
    sizes = {}
    letters = set(equation) if isinstance(equation, str) else set()
    for i, (s, t) in enumerate(zip(subs, operands)):
        for d, (c, n) in enumerate(zip(s, t.shape)):
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                if c in letters:
                    raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} "
                                       f"which does not broadcast with previously seen size "
                                       f"{sizes[c]}")
                # PyTorch's words, its missing space included
                raise RuntimeError(f"einsum(): dimension {d} covered by ellipsis in operand "
                                   f"{i}has size {n} which does not broadcast with previously "
                                   f"seen ellipsis with size {sizes[c]} for the respective "
                                   "dimension")
    dtype = _result_dtype(subs, out, [t._array.dtype for t in operands])
    operands = [cast_to(t, dtype) for t in operands]
    return Einsum.apply(*operands, subs=subs, out=out)


def _result_dtype(subs, out, dts):
    """einsum's result dtype, and its dtype errors, as PyTorch's contraction gives them.

    PyTorch first sums, in each operand, the letters no other operand and not the output has
    (``sum``: bools and integers widen to int64), then contracts the operands left to right:
    a pair that shares a letter summed away is a ``bmm``, which wants one dtype and has no
    bool kernel; a pair without one is a broadcast ``mul``, which promotes.
    """
    def summed_alone(i):
        others = set(out).union(*(set(t) for j, t in enumerate(subs) if j != i))
        return any(c not in others for c in subs[i])

    dts = [dtypes.int64.np if d.kind in "biu" and summed_alone(i) else d
           for i, d in enumerate(dts)]
    left, left_dt = set(subs[0]), dts[0]
    for i in range(1, len(subs)):
        later = set(out).union(*(set(t) for t in subs[i + 1:]))
        contracted = (left & set(subs[i])) - later
        if contracted:
            if left_dt.kind == "b":
                raise not_implemented_for("bmm", left_dt)
            if left_dt != dts[i]:
                raise RuntimeError(f"expected scalar type {scalar_type_name(left_dt)} but found "
                                   f"{scalar_type_name(dts[i])}")
        else:
            left_dt = dtypes.result_type(np.empty(1, left_dt), np.empty(1, dts[i]))
        left = (left | set(subs[i])) - contracted
    return left_dt


def dot(input, other):
    """Inner product of two 1-d tensors of one dtype and length: sum(input * other)."""
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           "tensors")
    a, b = input._array, other._array
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{scalar_type_name(a.dtype)} and {scalar_type_name(b.dtype)}")
    if a.size != b.size:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.size}] and src "
                           f"[{b.size}] to have the same number of elements, but got {a.size} "
                           f"and {b.size} elements respectively")
    if a.dtype.kind == "b":
        raise not_implemented_for("dot", a.dtype)
    if a.dtype.kind in "fc" and a.dtype.itemsize >= 4:
        return matmul(input, other)         # (a Dot node, as PyTorch's)
    # integers keep their dtype, wrapping as PyTorch's (the int64 sum taken modulo the width);
    # a half's products are summed in float32 as there
    return cast_to(sum(mul(input, other)), a.dtype)


def inner(input, other):
    """Products summed over the last dim of both: out[i..., j...] = sum_k input[i..., k] *
    other[j..., k], shape input.shape[:-1] + other.shape[:-1]; a 0-d operand just scales
    the other (with type promotion).  Otherwise both need one dtype."""
    if input.ndim == 0 or other.ndim == 0:
        return mul(input, other)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    if input._array.dtype != other._array.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if input._array.dtype.kind == "b":
        # PyTorch's inner is a dot or an mm, with no bool kernel unless there is nothing to
        # sum (then all False)
        if input.ndim == 1 and other.ndim == 1:
            raise not_implemented_for("dot", input._array.dtype)
        if input.numel() != 0 and other.numel() != 0:
            raise not_implemented_for("addmm_impl_cpu_", input._array.dtype)
        return cast_to(inner(cast_to(input, dtypes.int64.np), cast_to(other, dtypes.int64.np)),
                       input._array.dtype)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
    sa = letters[:input.ndim - 1]
    sb = letters[input.ndim - 1:input.ndim + other.ndim - 2]
    return einsum(f"{sa}Z,{sb}Z->{sa}{sb}", input, other)


# ----------------------------------------------------------------------------------------------
# Norms
# ----------------------------------------------------------------------------------------------
def _safe_sqrt(x):
    """sqrt with gradient 0 (not inf * 0 = nan) where x is exactly 0."""
    nonzero = x != 0
    return where(nonzero, sqrt(where(nonzero, x, 1.0)), 0.0)


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
    if dt.np.itemsize < x._array.dtype.itemsize:
        raise RuntimeError(f"{name}: the dtype of the input ({scalar_type_name(x._array.dtype)})"
                           f" should be convertible without narrowing to the specified dtype "
                           f"({scalar_type_name(dt.np)})")
    return x.to(dt)


def _ord_text(ord):
    return "inf" if ord == math.inf else "-inf" if ord == -math.inf else f"{ord:g}"


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default); ord inf/-inf: max/min |x|,
    ord 0: the number of non-zeros.  The gradient is PyTorch's: 0 at x = 0 and wherever the
    norm is 0 (for ord < 1 the power's derivative is infinite there)."""
    x = _check_norm_dtype(x, dtype, "linalg.vector_norm")
    if x._array.dtype.kind == "c":
        # the norm of complex numbers is that of their moduli (a real result); abs's
        # gradient g z / |z| (0 at z = 0) carries it back
        x = abs(x)
    if dtypes.reduced_float(x._array.dtype):
        # as PyTorch: a half-precision norm is computed in float32 and rounded once, since
        # |x|^ord overflows float16 (largest 65504) long before the norm does (8^6 already)
        return cast_to(vector_norm(cast_to(x, np.float32), ord, dim, keepdim), x._array.dtype)
    axes = normalize_dims(dim, x.ndim)
    if dim is not None and len(axes) == 0:
        dim = None                          # dim=(): every element, as PyTorch
    if (ord < 0 or ord == math.inf) and x.numel() == 0:
        empty = [k for k in (axes if dim is not None else ()) if x.shape[k] == 0]
        place = f"the dimension {empty[0]}because this dimension is empty and" if empty else \
            "an empty tensor because" if dim is None else None
        if place is not None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_text(ord)} norm on "
                               f"{place} the operation does not have an identity")
    dims = None if dim is None else dim
    if ord == 2:
        return _safe_sqrt(sum(mul(x, x), dims, keepdim))
    a = abs(x)
    if ord == math.inf:
        return amax(a, () if dims is None else dims, keepdim)
    if ord == -math.inf:
        return amin(a, () if dims is None else dims, keepdim)
    if ord == 1:
        return sum(a, dims, keepdim)
    if ord == 0:
        return sum(_NonZero.apply(x), dims, keepdim)
    # |x|^ord with the zeros masked out (so their gradient is 0, not inf * 0); for ord < 0 a
    # zero makes |x|^ord infinite and the norm 0: the where below gives 0 there, gradient 0.
    nonzero = a != 0
    powered = where(nonzero, pow(where(nonzero, a, 1.0), float(ord)), 0.0)
    total = sum(powered, dims, keepdim)
    zero = total == 0
    if ord < 0:
        zero = zero | (sum((~nonzero).to(x.dtype), dims, keepdim) != 0)
    return where(zero, 0.0, pow(where(zero, 1.0, total), 1.0 / ord))


class _NonZero(Function):
    """1 where x is not zero (NaN included), else 0, in x's dtype: the terms of the 0-norm,
    piecewise constant, so a zero gradient (the norm requires grad when x does, as
    PyTorch's)."""
    def forward(self, x):
        self._like = (x.shape, x.dtype)
        return (x != 0).astype(x.dtype)

    def backward(self, g):
        shape, dtype = self._like
        return Tensor._wrap(backend.xp_of(g._array).zeros(shape, dtype))


# -- singular values ---------------------------------------------------------------------------
# SvdVals, SvdU and SvdVh are the three factors of the reduced SVD A = U diag(S) Vh (A m x n,
# k = min(m, n)), each a differentiable function of A.  Their backwards are the standard
# formulas for the SVD's derivative (real case), written with minigrad's ops; where a backward
# runs under create_graph it takes U, S, Vh from these same Functions, so gradients of any
# order follow.  With F[i, j] = 1 / (s_j^2 - s_i^2) (0 on the diagonal):
#   through S:  dA = U diag(gS) Vh
#   through U:  dA = U (F o (U^T gU - gU^T U)) diag(S) Vh + (I - U U^T) gU diag(1/S) Vh
#   through Vh: dA = U diag(S) (F o (Vh gVh^T - gVh Vh^T)) Vh + U diag(1/S) gVh (I - Vh^T Vh)
# (the last terms of the two only when m > k, resp. n > k).  Repeated singular values make F
# infinite: the U and Vh derivatives are then undefined, as in PyTorch; the S one is not.

class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (PyTorch's torch.linalg.LinAlgError, a
    RuntimeError)."""


def _svd_arrays(a):
    """numpy's reduced SVD (U, S, Vh) of the matrices a (..., m, n), as PyTorch's: a matrix
    with an infinite element has NaN factors; a NaN element is an error (LAPACK's, which
    PyTorch reports as LinAlgError)."""
    xp = backend.xp_of(a)
    if a.size == 0:      # no matrices, or empty ones: empty factors (numpy has no float16 SVD)
        *batch, m, n = a.shape
        k = min(m, n)
        return (xp.zeros((*batch, m, k), a.dtype), xp.zeros((*batch, k), a.real.dtype),
                xp.zeros((*batch, k, n), a.dtype))
    if xp.isnan(a).any():
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                          "matrix contained non-finite values.")
    infinite = ~xp.isfinite(a).all(axis=(-2, -1))
    if not infinite.any():
        return _lapack_svd(xp, a)
    # LAPACK may fail on an infinity: those matrices are left out and their factors are NaN
    mat = infinite[..., None, None]
    u, s, vh = _lapack_svd(xp, xp.where(mat, a.dtype.type(0), a))
    nan = a.dtype.type("nan")
    return (xp.where(mat, nan, u), xp.where(infinite[..., None], s.dtype.type("nan"), s),
            xp.where(mat, nan, vh))


def _lapack_svd(xp, a):
    """xp's reduced SVD of finite matrices; LAPACK's failure to converge is PyTorch's
    LinAlgError, not numpy's."""
    try:
        return xp.linalg.svd(a, full_matrices=False)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.svd: The algorithm failed to converge because the input "
                          "matrix is ill-conditioned or has too many repeated singular "
                          "values.") from None


class _SvdFactor(Function):
    """One factor of the reduced SVD of ``a`` (..., m, n); subclasses pick which."""
    index = None

    def forward(self, a):
        u, s, vh = _svd_arrays(a)
        self.save_for_backward(a, u, s, vh)
        return (u, s, vh)[self.index]

    def _factors(self):
        """(A, U, S, Vh): differentiable functions of A when this backward records a graph
        (create_graph), else the forward's arrays as constants."""
        a, u, s, vh = self.saved_tensors
        if is_grad_enabled():
            if a._array.dtype.kind == "c":
                u, s, vh = svd_parts(SvdPacked.apply(a), *a.shape[-2:])
            else:
                u, s, vh = SvdU.apply(a), SvdVals.apply(a), SvdVh.apply(a)
        return a, u, s, vh


def _off_diagonal_inverse(s):
    """F[..., i, j] = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it; s (..., k)."""
    s2 = mul(s, s)
    diff = sub(unsqueeze(s2, -2), unsqueeze(s2, -1))
    k = s.shape[-1]
    eye = backend.xp_of(s._array).eye(k, dtype=bool)
    return where(eye, 0.0, div(1.0, where(eye, 1.0, diff)))


class SvdVals(_SvdFactor):
    """The singular values of ``a`` (..., m, n), descending: shape (..., min(m, n)), real.
    Backward U diag(g) Vh, right for a complex a too (Vh = V^H); its second derivative goes
    through SvdU and SvdVh (SvdPacked for a complex a)."""
    index = 1
    complex_ok = True

    def backward(self, g):
        _, u, _, vh = self._factors()
        return matmul(mul(u, unsqueeze(g, -2)), vh)


class SvdU(_SvdFactor):
    """U of the reduced SVD, (..., m, k)."""
    index = 0

    def backward(self, g):
        a, u, s, vh = self._factors()
        ut_g = matmul(mT(u), g)
        inner = mul(mul(_off_diagonal_inverse(s), sub(ut_g, mT(ut_g))), unsqueeze(s, -2))
        out = matmul(matmul(u, inner), vh)
        if a.shape[-2] > s.shape[-1]:
            out = out + matmul(div(sub(g, matmul(u, ut_g)), unsqueeze(s, -2)), vh)
        return out


class SvdVh(_SvdFactor):
    """Vh of the reduced SVD, (..., k, n)."""
    index = 2

    def backward(self, g):
        a, u, s, vh = self._factors()
        vh_gt = matmul(vh, mT(g))
        inner = mul(unsqueeze(s, -1), mul(_off_diagonal_inverse(s), sub(vh_gt, mT(vh_gt))))
        out = matmul(matmul(u, inner), vh)
        if a.shape[-1] > s.shape[-1]:
            out = out + matmul(u, div(sub(g, matmul(mT(vh_gt), vh)), unsqueeze(s, -1)))
        return out


class SvdPacked(Function):
    """The reduced SVD of a complex a (..., m, n) in one array (..., m + 1 + n, k): U in the
    first m rows, S (as complex numbers) in the next, V = Vh^H in the last n (read back by
    ``svd_parts``); one node, so that its backward sees gU, gS and gV together.  With
    W_U = U^H gU, W_V = V^H gV, F as above and the phase term D = i Im diag(W_U) / S:

        gA = U [diag(gS) + (F o (W_U - W_U^H)) S + S (F o (W_V - W_V^H)) + D] V^H
             + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H)

    A phase e^(i phi) shared by a column of U and of V is arbitrary: a loss with
    Im diag(W_U + W_V) != 0 depends on it, and is refused as PyTorch does."""
    complex_ok = True

    def forward(self, a):
        xp = backend.xp_of(a)
        u, s, vh = _svd_arrays(a)
        out = xp.concatenate([u, s[..., None, :].astype(u.dtype),
                              xp.swapaxes(vh, -1, -2).conj()], axis=-2)
        self.save_for_backward(a, out)          # the output itself: differentiable again
        return out

    def backward(self, g):
        a, packed = self.saved_tensors
        m, n = a.shape[-2:]
        u, s, vh = svd_parts(packed, m, n)
        gu, gs, gvh = svd_parts(g, m, n)
        v, gv = _conj_t(vh), _conj_t(gvh)
        uh = _conj_t(u)
        wu, wv = matmul(uh, gu), matmul(vh, gv)
        phases = add(diagonal(wu, 0, -2, -1), diagonal(wv, 0, -2, -1))
        if not np.allclose(backend.as_numpy(phases._array).imag, 0.0, rtol=1e-2, atol=1e-2):
            raise RuntimeError("svd_backward: The singular vectors in the complex case are "
                               "specified up to multiplication by e^{i phi}. The specified loss "
                               "function depends on this quantity, so it is ill-defined.")
        f = _off_diagonal_inverse(s)
        d = diagonal(wu, 0, -2, -1)
        phase = div(mul(sub(d, conj_of(d)), 0.5), s)            # i Im diag(W_U) / S
        inner = add(mul(mul(f, sub(wu, _conj_t(wu))), unsqueeze(s, -2)),
                    mul(unsqueeze(s, -1), mul(f, sub(wv, _conj_t(wv)))))
        eye = backend.xp_of(s._array).eye(s.shape[-1], dtype=packed._array.dtype)
        inner = add(inner, mul(unsqueeze(add(gs, phase), -1), Tensor._wrap(eye)))
        out = matmul(matmul(u, inner), vh)
        k = s.shape[-1]
        if m > k:
            out = out + matmul(div(sub(gu, matmul(u, wu)), unsqueeze(s, -2)), vh)
        if n > k:
            out = out + matmul(u, div(_conj_t(sub(gv, matmul(v, wv))), unsqueeze(s, -1)))
        return out


def _conj_t(t):
    return conj_of(mT(t))


def svd_parts(packed, m, n):
    """(U (..., m, k), S (..., k) real, Vh (..., k, n)) read off SvdPacked's array."""
    u = narrow(packed, -2, 0, m)
    s = real(squeeze(narrow(packed, -2, m, 1), -2))
    vh = _conj_t(narrow(packed, -2, m + 1, n))
    return u, s, vh


def svdvals(A):
    """Singular values of the matrices A (..., m, n), descending: (..., min(m, n)).
    Differentiable to any order (see SvdVals)."""
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg_svdvals(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError("linalg.svd: The input tensor A must have at least 2 dimensions.")
    if A._array.dtype.kind not in "fcV":
        raise RuntimeError(f"linalg.svd: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_type_name(A._array.dtype)}")
    if dtypes.reduced_float(A._array.dtype) and A.numel() != 0:   # an empty one needs none
        raise not_implemented_for("linalg_svd_cpu", A._array.dtype)
    return SvdVals.apply(A)


_MATRIX_ORDS = ("fro", "nuc", 1, -1, 2, -2, math.inf, -math.inf)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """A norm of the matrices spanned by the two dims ``dim``: 'fro' (sqrt of the sum of
    squares), 'nuc' (sum of singular values), 2 / -2 (largest / smallest singular value),
    1 / -1 (largest / smallest column sum of |A|), inf / -inf (the same over rows)."""
    if isinstance(ord, str) and ord not in ("fro", "nuc") or \
            not isinstance(ord, str) and ord not in _MATRIX_ORDS:      # checked first, as PyTorch
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    given = A._array.dtype
    A = _check_norm_dtype(A, dtype, "linalg.matrix_norm")
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
        dims = tuple(range(input.ndim)) if dim is None else dim
        return matrix_norm(input, "nuc", dims, keepdim, dtype=dtype)
    if p == "fro" and dim is not None and not isinstance(dim, (int, tuple, list)) and not (
            isinstance(dim, Tensor) and dim.ndim):
        # PyTorch's Python code takes len(dim) of anything but an int on the 'fro' path
        raise TypeError("len() of a 0-d tensor" if isinstance(dim, Tensor) else
                        f"object of type '{python_type_name(dim)}' has no len()")
    if p == "fro" or p is None:
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Variance and mean together
# ----------------------------------------------------------------------------------------------
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(variance, mean) over ``dim``; variance divides by N - correction (1 by default)."""
    return _with_mean(var, input, dim, unbiased, keepdim, correction, "var_mean")


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(standard deviation, mean) over ``dim``."""
    return _with_mean(std, input, dim, unbiased, keepdim, correction, "std_mean")


def _with_mean(spread, input, dim, unbiased, keepdim, correction, name):
    """(spread(input), mean(input)) over the same dims: ``var``/``std`` themselves, so that
    no degrees of freedom left and ``dim=()`` give PyTorch's values and gradients."""
    if input._array.dtype.kind not in "fcV":      # checked before the dims, as PyTorch
        raise RuntimeError(f"{name} only support floating point and complex dtypes")
    out = _var_apply(Var if spread is var else Std, input, dim, unbiased, keepdim, correction,
                     name)
    if isinstance(dim, bool) or dim is not None and len(normalize_dims(dim, input.ndim)) == 0:
        dim = None           # the old positional unbiased, or dim=(): every element
    return out, mean(input, dim, keepdim=keepdim)
