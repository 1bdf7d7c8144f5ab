"""``einsum`` of float16/bfloat16 operands as PyTorch computes it: not one kernel
but a chain of its own ops (permute, sum, mul, bmm, view), each rounding its result to the
16-bit dtype, so that the values and the gradients (those ops' backwards) are PyTorch's.

The steps (letters already free of repeats, ``...`` spelled out as letters):

* every operand is permuted to one letter order, size-1 dims added for the letters it lacks:
  the output's letters, then the '...' letters the output lacks, then the other letters
  summed away, in PyTorch's label order (A-Z before a-z);
* the operands are contracted left to right, each result put back first: before a pair, a
  summed letter held with a size other than 1 by one of the pair and by no later operand is
  summed in that operand (keeping the dim); a letter both hold whose last holders they are is
  contracted by ``sumproduct``: a ``bmm`` of (shared kept, left's own, summed) by (shared
  kept, summed, right's own) after summing letters only one side holds; no such letter: a
  broadcast ``mul``;
* the summed letters, now of size 1, are viewed away.
"""
from __future__ import annotations

from collections import deque

from types import SimpleNamespace

from .elementwise import mul
from .matmul import bmm
from .movement import permute, reshape, unsqueeze, view
from .reduce import sum as reduce_sum

__all__ = ["contract_16bit"]

# the ops the chain is made of: minigrad's own (``_einsum_layout`` passes stand-ins that
# follow only shapes and strides)
TENSOR_OPS = SimpleNamespace(mul=mul, bmm=bmm, permute=permute, reshape=reshape,
                             unsqueeze=unsqueeze, view=view, sum=reduce_sum)


def _label_key(c):
    """PyTorch's label order: A-Z, then a-z."""
    return (c.islower(), c)


def _count(sizes):
    n = 1
    for s in sizes:
        n *= s
    return n


def _sumproduct(left, right, summed, ops):
    """(left * right) summed over the dims ``summed``, keeping them as size 1; both operands
    of one rank (size-1 dims broadcast)."""
    if not summed:
        return ops.mul(left, right)
    both, only_left, only_right, width = [], [], [], 1
    for i in range(left.ndim):
        sl, sr = left.shape[i] != 1, right.shape[i] != 1
        if i in summed:
            if sl and sr:
                width *= left.shape[i]
            elif sl:
                left = ops.sum(left, i, keepdim=True)
            elif sr:
                right = ops.sum(right, i, keepdim=True)
        elif sl and sr:
            both.append(i)
        elif sl:
            only_left.append(i)
        else:
            only_right.append(i)
    if only_left and only_right and only_right[-1] < only_left[0]:
        # (PyTorch swaps the pair when all the right's own dims come first: its bmm product
        # is then laid out in the result's order)
        left, right, only_left, only_right = right, left, only_right, only_left
    n_both = _count(left.shape[d] for d in both)
    n_left = _count(left.shape[d] for d in only_left)
    n_right = _count(right.shape[d] for d in only_right)
    shape = [left.shape[d] for d in both + only_left] + [1] * len(summed) + \
        [right.shape[d] for d in only_right]
    placed = both + only_left + list(summed) + only_right
    back = [0] * len(placed)
    for k, d in enumerate(placed):
        back[d] = k
    a = ops.reshape(ops.permute(left, placed), (n_both, n_left, width))
    b = ops.reshape(ops.permute(right, both + list(summed) + only_right + only_left),
                    (n_both, width, n_right))
    return ops.permute(ops.view(ops.bmm(a, b), shape), back)


def contract_16bit(subs, out, operands, ellipsis_letters, ops=TENSOR_OPS):
    """einsum of ``operands`` (Tensors of one 16-bit dtype, at least two) with letters
    ``subs`` into ``out``; ``ellipsis_letters``: the letters standing for '...', in order.
    ``ops``: the ops to chain (``TENSOR_OPS``; stand-ins that follow layouts alone take one
    operand too, which PyTorch sums over its summed letters, or else permutes)."""
    letters = set("".join(subs))
    kept_ell = [c for c in ellipsis_letters if c not in out and c in letters]
    summed_letters = sorted((c for c in letters if c not in out and c not in ellipsis_letters),
                            key=_label_key)
    order = list(out) + kept_ell + summed_letters
    n_out = len(out)
    counts = [0] * len(order)
    chain = deque()
    for s, t in zip(subs, operands):
        here = list(s)
        for c in order:
            if c not in here:
                t = ops.unsqueeze(t, len(here))
                here.append(c)
        t = ops.permute(t, [here.index(c) for c in order])
        for k in range(len(order)):
            if t.shape[k] != 1:
                counts[k] += 1
        chain.append(t)
    while len(chain) > 1:
        a, b = chain.popleft(), chain.popleft()
        summed, a_alone, b_alone = [], [], []
        for d in range(n_out, len(order)):
            if a.shape[d] != 1 and b.shape[d] != 1:
                counts[d] -= 1
                if counts[d] == 1:
                    summed.append(d)
                    counts[d] = 0
            elif counts[d] == 1:
                if a.shape[d] != 1:
                    a_alone.append(d)
                    counts[d] = 0
                elif b.shape[d] != 1:
                    b_alone.append(d)
                    counts[d] = 0
        if a_alone:
            a = ops.sum(a, a_alone, keepdim=True)
        if b_alone:
            b = ops.sum(b, b_alone, keepdim=True)
        chain.appendleft(_sumproduct(a, b, summed, ops))
    result = chain[0]
    if len(order) > n_out:
        if len(operands) == 1:
            return ops.sum(result, list(range(n_out, len(order))), keepdim=False)
        result = ops.view(result, tuple(result.shape[:n_out]))
    return result
