"""Contractions: ``einsum``, ``dot`` and ``inner``.

``einsum`` is one Function (``...`` is spelled out into letters first): numpy's einsum
forward, and a backward that is again an einsum: for ``out = einsum("ij,jk->ik", A, B)`` the
gradient of A is ``einsum("ik,jk->ij", g, B)`` (the output's letters and the other operands'
letters, contracted to A's letters).  A letter only A has (summed away in the output,
"ij->i") is missing from that product: the gradient is computed without it and broadcast
back along it; a letter of size 1 in A but longer in another operand (broadcast) has its
gradient summed back to size 1.  Since the backward calls ``einsum`` itself, gradients of any
order follow.  A letter repeated inside one operand ("iji->j") first takes that diagonal
(``diagonal``, differentiable), so the Function never sees one.

``dot`` (two 1-d tensors of one dtype: sum_k a[k] b[k]) is a ``matmul`` for float32/64 and
complex inputs, else ``sum(mul)`` cast back to the input's dtype (integers wrap as
PyTorch's); ``inner`` (over the last dims: out[i..., j...] = sum_k a[i..., k] b[j..., k]) is
an ``einsum``.
"""
from __future__ import annotations

import numpy as np

from .. import _autocast_state, _memory_format as mf, backend, dtypes
from ..autograd import Function
from ..autograd._node_names import rename_node
from ..tensor import Tensor
from ._autocast_cast import lower as _autocast_lower
from ._einsum_16bit import contract_16bit
from ._einsum_layout import einsum_strides
from ._util import c_order, not_implemented_for, scalar_type_name
from .elementwise import mul
from .matmul import _matmul
from .plumbing import cast_to, conj_of, expand_to, reshape_to, sum_to
from .reduce import sum
from .shaping import diagonal

__all__ = ["einsum", "dot", "inner"]


def _ellipsis_end(equation, i, end, who, found):
    """Where the '...' at ``equation[i]`` ends (before ``end``), or PyTorch's error for a '.'
    of ``who`` ('operand 0', 'output') that is no ellipsis, or one after an ellipsis."""
    tail = " (...)" if who == "output" else ""
    if found:
        raise RuntimeError(f"einsum(): found '.' for {who} " + (
            "but an ellipsis (...) was already found" if who == "output" else
            "for which an ellipsis was already found"))
    if equation[i:i + 3] != "..." or i + 3 > end:
        raise RuntimeError(f"einsum(): found '.' for {who} that is not part of any "
                           f"ellipsis{tail}")
    return i + 3


def _check_letter(equation, i):
    c = equation[i]
    if not ("a" <= c <= "z" or "A" <= c <= "Z"):
        raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                           "string, subscripts must be in [a-zA-Z]")


def _check_subscripts(equation, operands):
    """PyTorch's errors for a bad equation, in its order: the input side read left to right
    (an ellipsis not spelled '...' or given twice for an operand, a comma past the last
    operand, a character other than letters and spaces), then the count of operands, then each
    operand's number of letters against its dims, then the output side (its ellipsis, its
    characters, a letter no input has or one given twice)."""
    arrow = equation.find("->")
    lhs_end = len(equation) if arrow < 0 else arrow
    op, i, letters, dots = 0, 0, [0], [False]       # per operand: letters, an ellipsis
    while i < lhs_end:
        c = equation[i]
        if c == ".":
            i, dots[-1] = _ellipsis_end(equation, i, lhs_end, f"operand {op}", dots[-1]), True
            continue
        if c == ",":
            op += 1
            if op >= len(operands):
                raise RuntimeError("einsum(): fewer operands were provided than specified in "
                                   "the equation")
            letters.append(0)
            dots.append(False)
        elif c != " ":
            _check_letter(equation, i)
            letters[-1] += 1
        i += 1
    if op != len(operands) - 1:
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    for n, (count, dotted, t) in enumerate(zip(letters, dots, operands)):
        if count > t.ndim if dotted else count != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({count}) "
                               + (f"is more than the number of dimensions ({t.ndim}) for "
                                  f"operand {n}" if dotted else
                                  f"does not match the number of dimensions ({t.ndim}) for "
                                  f"operand {n} and no ellipsis was given"))
    found, i, inputs, seen = False, arrow + 2, set(equation[:lhs_end]), set()
    while arrow >= 0 and i < len(equation):
        c = equation[i]
        if c == ".":
            i, found = _ellipsis_end(equation, i, len(equation), "output", found), True
            continue
        if c != " ":
            _check_letter(equation, i)
            if c not in inputs:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            if c in seen:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once "
                                   "in the output")
            seen.add(c)
        i += 1


def _parse(equation, operands):
    """(one letter string per operand, output letters); '...' is spelled out with capital
    letters, right-aligned across operands as numpy and PyTorch broadcast them."""
    _check_subscripts(equation, operands)
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
    spare = [c for c in _SUBLIST_LETTERS[::-1] if c not in eq]      # z...aZ...A
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

    def forward(self, *operands, subs, out, strides=None):
        self.subs, self.out = subs, out
        self.save_for_backward(*operands)
        product = _pair_as_matmul(*operands, *subs, out) if len(operands) == 2 else None
        if product is None:
            # three or more operands: contract pairwise along a greedy path (numpy's default
            # loops over every letter at once, whose cost is the product of all their sizes)
            product = backend.xp_of(operands[0]).einsum(
                ",".join(subs) + "->" + out, *operands,
                optimize="greedy" if len(operands) > 2 else False)
        # (``strides``: PyTorch's result's, as its chain of ops lays it out)
        return product if strides is None else mf.restrided(product, strides)

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


def _pair_as_matmul(a, b, sa, sb, out):
    """``einsum(sa + "," + sb + "->" + out, a, b)`` as one batched matrix product, as
    PyTorch contracts a pair: letters in both operands and the output are the batch, in both
    but not the output are contracted, in one and the output are its rows (a) or columns (b);
    a letter in one operand alone is summed first.  numpy's einsum loops in C without BLAS:
    "bhqd,bhkd->bhqk" on 4x8x128x64 took 6 ms instead of 0.5.  None when this does not
    apply (numpy float32/64 or complex operands of one dtype, shared letters of equal sizes,
    at least one letter contracted), numpy's einsum then."""
    if type(a) is not np.ndarray or type(b) is not np.ndarray or a.dtype != b.dtype or \
            a.dtype.kind not in "fc" or a.dtype.itemsize < 4:
        return None
    size = dict(zip(sa, a.shape))
    size_b = dict(zip(sb, b.shape))
    shared = [c for c in sa if c in size_b]
    if any(size[c] != size_b[c] for c in shared):
        return None                                    # a broadcast size-1 letter
    size.update(size_b)
    batch = [c for c in out if c in sa and c in sb]
    summed = [c for c in shared if c not in out]
    rows = [c for c in out if c in sa and c not in sb]
    cols = [c for c in out if c in sb and c not in sa]
    if not summed:
        return None
    a = a.sum(axis=tuple(k for k, c in enumerate(sa) if c not in sb and c not in out))
    b = b.sum(axis=tuple(k for k, c in enumerate(sb) if c not in sa and c not in out))
    sa = [c for c in sa if c in sb or c in out]
    sb = [c for c in sb if c in sa or c in out]

    def count(letters):
        n = 1
        for c in letters:
            n *= size[c]
        return n
    left = a.transpose([sa.index(c) for c in batch + rows + summed]).reshape(
        count(batch), count(rows), count(summed))
    right = b.transpose([sb.index(c) for c in batch + summed + cols]).reshape(
        count(batch), count(summed), count(cols))
    product = backend.matmul(left, right).reshape([size[c] for c in batch + rows + cols])
    order = batch + rows + cols
    return c_order(product.transpose([order.index(c) for c in out]))


_SUBLIST_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sublist_letters(sublist):
    """A sublist of ints in [0, 52) and ``...`` as equation letters: 0-25 -> A-Z,
    26-51 -> a-z (so an implicit output orders 0-25 before 26-51, as PyTorch's), Ellipsis ->
    '...'.  Anything else fails as PyTorch's Python code fails on it: its comparisons with
    0 and 26 first (a str, None, a tensor of several values), then its letter arithmetic
    (a float, a floating tensor)."""
    out = []
    for s in sublist:
        if s is Ellipsis:
            out.append("...")
            continue
        if isinstance(s, Tensor) and s.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        if not (s >= 0 and s < 52):
            raise ValueError("einsum(): subscript in subscript list is not within the valid "
                             "range [0, 52)")
        if isinstance(s, Tensor) and s.dtype.is_floating_point or isinstance(s, float):
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index" if isinstance(s, Tensor) else
                            "'float' object cannot be interpreted as an integer")
        out.append(_SUBLIST_LETTERS[int(s)])
    return "".join(out)


def _from_sublists(args):
    """einsum's sublist form ``(op0, sub0, op1, sub1, ..., [out])`` as (equation, operands)."""
    operands = args[0::2][:len(args) // 2]
    subs = args[1::2][:len(args) // 2]
    equation = ",".join(_sublist_letters(s) for s in subs)
    if len(args) % 2:
        equation += "->" + _sublist_letters(args[-1])
    return equation, operands


def einsum(*args):
    """``einsum("bij,bjk->bik", a, b)``: multiply operands along shared letters, sum the
    letters missing from the output.  Operands may also be given as one list, or in the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` (ints 0-51 for letters, ``...``
    as Ellipsis, the output sublist optional).  Under autocast, an einsum that contracts a
    pair of operands runs in the autocast dtype (PyTorch's contraction is a bmm)."""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    return contract(args[0], args[1:], autocast=True)


def _einsum_node_name(subs, out):
    """The node PyTorch's einsum ends its graph with (what a printed result's grad_fn shows):
    one operand is permuted into the output's order, then summed over the letters left out;
    several are multiplied (broadcast), or contracted by a bmm whose result is viewed into
    shape whenever some letter is summed away."""
    summed = set("".join(subs)) - set(out)
    if len(subs) == 1:
        return "SumBackward1" if summed else "PermuteBackward0"
    return "ViewBackward0" if summed else "MulBackward0"


def contract(equation, operands, autocast, node_name=None):
    """einsum of ``operands`` (a tuple); ``autocast``: whether einsum's autocast casts apply
    (False where the caller decides them itself: tensordot, and inner of two vectors, which
    PyTorch computes as a dot); ``node_name``: PyTorch's name of the result's node (default:
    einsum's)."""
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
    if autocast and _autocast_state.active and _bmm_pairs(subs, out):
        operands = _autocast_lower(*operands)
    dtype = _result_dtype(subs, out, [t._array.dtype for t in operands],
                          [t.shape for t in operands])
    operands = [cast_to(t, dtype) for t in operands]
    if node_name is None and dtype.itemsize == 2 and dtype.kind in "fV" \
            and all(type(t._array) is np.ndarray for t in operands):
        # 16-bit: PyTorch's chain of ops, each rounding to the 16-bit dtype
        ell = sorted(set("".join(subs)) - set(equation))
        return contract_16bit(subs, out, operands, ell)
    strides = einsum_strides(subs, out, operands, equation) if node_name is None else None
    return rename_node(Einsum.apply(*operands, subs=subs, out=out, strides=strides),
                       node_name or _einsum_node_name(subs, out), Einsum)


def _bmm_pairs(subs, out):
    """Whether PyTorch's left-to-right contraction of operands with letters ``subs`` into
    ``out`` meets a pair sharing a letter summed away (a bmm, not a broadcast mul)."""
    left = set(subs[0])
    for i in range(1, len(subs)):
        later = set(out).union(*(set(t) for t in subs[i + 1:]))
        if (left & set(subs[i])) - later:
            return True
        left |= set(subs[i])
    return False


def _result_dtype(subs, out, dts, shapes):
    """einsum's result dtype, and its dtype errors, as PyTorch's contraction gives them.

    A lone operand is summed over the letters left out (``sum``: bools and integers widen to
    int64).  Of several, only sizes other than 1 count (a size-1 dim broadcasts): a letter
    summed away whose only holder of such a size is one operand is summed in that operand
    first (widening likewise); then the operands are contracted left to right, and a pair is
    a ``bmm`` (one dtype wanted, no bool kernel) where a letter summed away has its last two
    holders of size other than 1 in it, else a broadcast ``mul``, which promotes.
    """
    wide = dtypes.int64.np
    if len(subs) == 1:                 # a lone operand is summed over every letter left out
        return wide if dts[0].kind in "biu" and set(subs[0]) - set(out) else dts[0]
    for shape in shapes:
        if 1 in shape:
            break
    else:                              # no size-1 dims (the common case): the quicker rule
        return _result_dtype_full(subs, out, dts)
    sizes = [dict(zip(s, shape)) for s, shape in zip(subs, shapes)]
    holders = {}                       # letter summed away -> its holders of size other than 1
    for i, s in enumerate(sizes):
        for c, n in s.items():
            if c not in out and n != 1:
                holders[c] = holders.get(c, 0) + 1
    dts = list(dts)
    for i, s in enumerate(sizes):
        for c, n in s.items():
            if n != 1 and holders.get(c) == 1:
                s[c], holders[c] = 1, 0            # summed in this operand alone
                if dts[i].kind in "biu":
                    dts[i] = wide
    left, left_dt = dict(sizes[0]), dts[0]
    for i in range(1, len(subs)):
        right, bmm = sizes[i], False
        for c in set(left) | set(right):
            if c not in out and left.get(c, 1) != 1 and right.get(c, 1) != 1:
                holders[c] -= 1
                if holders[c] == 1:
                    holders[c], bmm = 0, True
                    left[c] = right[c] = 1
        if bmm:
            _check_bmm(left_dt, dts[i])
        else:
            left_dt = dtypes.result_type(np.empty(1, left_dt), np.empty(1, dts[i]))
        for c, n in right.items():
            if left.get(c, 1) == 1:
                left[c] = n
    return left_dt


def _check_bmm(left_dt, right_dt):
    """PyTorch's refusals of a bmm step of einsum: no bool kernel, one dtype on both sides."""
    if left_dt.kind == "b":
        raise not_implemented_for("bmm", left_dt)
    if left_dt != right_dt:
        raise RuntimeError(f"expected scalar type {scalar_type_name(left_dt)} but found "
                           f"{scalar_type_name(right_dt)}")


def _result_dtype_full(subs, out, dts):
    """``_result_dtype`` where no operand has a dim of size 1 (the common case, quicker): a
    letter held by one operand alone is summed there, and a pair sharing a letter no later
    operand nor the output holds is a bmm."""
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
            _check_bmm(left_dt, dts[i])
        else:
            left_dt = dtypes.result_type(np.empty(1, left_dt), np.empty(1, dts[i]))
        left = (left | set(subs[i])) - contracted
    return left_dt


# the dtypes PyTorch's dot and mm have no kernel for
_NO_KERNEL = frozenset((np.dtype(bool),)) | dtypes.BAREBONES_UNSIGNED


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
    if a.dtype in _NO_KERNEL:
        raise not_implemented_for("dot", a.dtype)
    if a.dtype.kind in "fc" and a.dtype.itemsize >= 4:
        # (a Dot node, as PyTorch's; float32 under autocast, which leaves dot alone)
        return _matmul(input, other)
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
    if input._array.dtype in _NO_KERNEL:
        # PyTorch's inner is a dot or an mm, with no bool (nor uint16/32/64) kernel unless
        # there is nothing to sum (then all False)
        if input.ndim == 1 and other.ndim == 1:
            raise not_implemented_for("dot", input._array.dtype)
        if input.numel() != 0 and other.numel() != 0:
            raise not_implemented_for("addmm_impl_cpu_", input._array.dtype)
        return cast_to(inner(cast_to(input, dtypes.int64.np), cast_to(other, dtypes.int64.np)),
                       input._array.dtype)
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
    sa = letters[:input.ndim - 1]
    sb = letters[input.ndim - 1:input.ndim + other.ndim - 2]
    # two vectors: PyTorch's dot, which autocast leaves in float32; else an mm, which it casts
    return contract(f"{sa}Z,{sb}Z->{sa}{sb}", (input, other),
                    autocast=input.ndim + other.ndim > 2, node_name="ViewBackward0")
