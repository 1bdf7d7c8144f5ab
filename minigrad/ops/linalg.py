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

The norms and the variance are compositions of differentiable ops (``sum``, ``mean``,
``sqrt``, ``abs``, ``pow``); where sqrt's derivative is infinite (a zero vector) the
gradient is 0, as PyTorch's subgradient.
"""
from __future__ import annotations

import math

from .. import backend
from ..autograd import Function
from ._util import normalize_dims, not_implemented_for, scalar_type_name
from .elementwise import abs, div, mul, pow, sqrt, sub, where
from .math_extra import diagonal
from .plumbing import expand_to, reshape_to, sum_to
from .reduce import amax, amin, mean, sum
from .scatter_gather import SCALAR_NAMES

__all__ = ["einsum", "norm", "vector_norm", "matrix_norm", "linalg_norm", "var_mean",
           "std_mean", "dot", "inner"]


def _parse(equation, operands):
    """(one letter string per operand, output letters); '...' is spelled out with capital
    letters, right-aligned across operands as numpy and PyTorch broadcast them."""
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
    """Any product-and-sum written as subscripts; output letters ``out``."""
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
            grad = Einsum.apply(g, *(t for _, t in others), subs=eq.split("->")[0].split(","),
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


def einsum(equation, *operands):
    """``einsum("bij,bjk->bik", a, b)``: multiply operands along shared letters, sum the
    letters missing from the output.  Operands may also be given as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    subs, out = _parse(equation, operands)
    for n, (s, t) in enumerate(zip(subs, operands)):
        if len(s) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                               f"does not match the number of dimensions ({t.ndim}) for "
                               f"operand {n} and no ellipsis was given")
    subs, operands = zip(*(_diagonals(n, s, t) for n, (s, t) in enumerate(zip(subs, operands))))
    subs = list(subs)
    sizes = {}
    for s, t in zip(subs, operands):
        for c, n in zip(s, t.shape):
            if sizes.setdefault(c, n) != n and 1 not in (n, sizes[c]):
                raise RuntimeError(f"einsum(): operands do not broadcast with remapped shapes "
                                   f"(original->remapped): subscript '{c}' has size {sizes[c]} "
                                   f"and {n}")
    return Einsum.apply(*operands, subs=subs, out=out)


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
    return sum(mul(input, other))


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


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """(sum |x|^ord)^(1/ord) over ``dim`` (all elements by default); ord inf/-inf: max/min |x|,
    ord 0: the number of non-zeros."""
    if x._array.dtype.kind != "f":
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor "
                           f"as input. Got {SCALAR_NAMES.get(x.dtype.name, x.dtype.name)}")
    if dtype is not None:
        x = x.to(dtype)
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
        return sum((a != 0).to(x.dtype), dims, keepdim)
    total = sum(pow(a, float(ord)), dims, keepdim)
    nonzero = total != 0
    return where(nonzero, pow(where(nonzero, total, 1.0), 1.0 / ord), 0.0)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """Frobenius norm over the two dims ``dim`` (the other matrix norms are not here)."""
    if ord != "fro":
        raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs singular values, "
                                  "which minigrad does not compute; only 'fro' is supported")
    if A.ndim < 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                           f"dimensions, but got {A.ndim} dimensions")
    return vector_norm(A, 2, dim, keepdim, dtype=dtype)


def linalg_norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """torch.linalg.norm: a vector norm of a 1-d input or over one dim; the Frobenius norm of a
    matrix (ord None or 'fro'); ord None with dim None: the 2-norm of the flattened input."""
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dim is not None and not isinstance(dim, int) and len(dim) == 2) \
            or (dim is None and A.ndim == 2):
        return matrix_norm(A, ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm / Tensor.norm: ``p`` 'fro' (the 2-norm of every element given), a number,
    inf or -inf, over ``dim`` (all elements by default)."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("norm: p='nuc' needs singular values, which minigrad does "
                                  "not compute")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ----------------------------------------------------------------------------------------------
# Variance and mean together
# ----------------------------------------------------------------------------------------------
def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(variance, mean) over ``dim``; variance divides by N - correction (1 by default)."""
    if isinstance(dim, bool):               # var_mean(x, False): the old positional unbiased
        unbiased, dim = dim, None
    c = _correction(unbiased, correction)
    axes = normalize_dims(dim, input.ndim)
    n = 1
    for k in (axes if axes is not None else range(input.ndim)):
        n *= input.shape[k]
    m = mean(input, dim, keepdim=True)
    centred = sub(input, m)
    v = div(sum(mul(centred, centred), dim, keepdim), max(n - c, 0))
    return v, (m if keepdim else reshape_to(m, tuple(v.shape)))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(standard deviation, mean) over ``dim``."""
    v, m = var_mean(input, dim, unbiased, keepdim, correction=correction)
    return _safe_sqrt(v), m
