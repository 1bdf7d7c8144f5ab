"""Registry entries for the third round of tensor breadth: the numpy-style stacks
(``hstack``, ``vstack``, ``row_stack``, ``dstack``, ``column_stack``), ``tensor_split``,
``fmod``, ``masked_scatter`` and einsum's sublist form, plus create_graph probes of the
piecewise-linear activations (relu, leaky_relu, abs, clamp) composed with other ops.

Every entry is checked like the others (forward, gradients and second derivatives against
torch and finite differences).  Samples cover 0-d and empty tensors, negative dims,
broadcasting and mixed dtypes where PyTorch accepts them; fmod's dividends stay away from
multiples of the divisor (where fmod jumps), so finite differences apply.
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _more(name, f, samples, torch_f=None, **options):
    register(name, f, samples, family="more", torch_f=torch_f, **options)


# ----------------------------------------------------------------------------------------------
# hstack, vstack, row_stack, dstack, column_stack (minigrad/ops/stacking.py)
# ----------------------------------------------------------------------------------------------
def _stacker(name):
    return lambda lib, *xs: getattr(lib, name)(list(xs))


def _hstack_samples(g):
    yield S(g.randn(2, 3), g.randn(2, 1), g.randn(2, 2), desc="2-d along dim 1")
    yield S(g.randn(3), g.randn(2), desc="1-d along dim 0")
    yield S(g.randn(), g.randn(), g.randn(2), desc="0-d become 1-d")
    yield S(g.randn(2, 0, 3), g.randn(2, 2, 3), desc="3-d with an empty piece")
    yield S(g.randn(2, 3), g.randn(2, 2), requires_grad=[False, True], desc="rhs only")


def _vstack_samples(g):
    yield S(g.randn(3), g.randn(2, 3), desc="1-d rows and a matrix")
    yield S(g.randn(2, 2, 2), g.randn(1, 2, 2), desc="3-d along dim 0")
    yield S(g.randn(), g.randn(), desc="0-d become 1x1")
    yield S(g.randn(0, 4), g.randn(4), desc="empty matrix")


def _dstack_samples(g):
    yield S(g.randn(3), g.randn(3), desc="1-d become (1, k, 1)")
    yield S(g.randn(2, 3), g.randn(2, 3, 2), desc="2-d and 3-d")
    yield S(g.randn(), g.randn(), desc="0-d become 1x1x1")
    yield S(g.randn(2, 0), g.randn(2, 0), desc="empty")


def _column_stack_samples(g):
    yield S(g.randn(3), g.randn(3, 2), g.randn(3), desc="vectors as columns")
    yield S(g.randn(), g.randn(), desc="0-d")
    yield S(g.randn(2, 2, 1), g.randn(2, 1, 1), desc="3-d along dim 1")
    yield S(g.randn(0), g.randn(0, 2), desc="empty")


_more("hstack", _stacker("hstack"), _hstack_samples)
_more("vstack", _stacker("vstack"), _vstack_samples)
_more("row_stack", _stacker("row_stack"), _vstack_samples)
_more("dstack", _stacker("dstack"), _dstack_samples)
_more("column_stack", _stacker("column_stack"), _column_stack_samples)


# ----------------------------------------------------------------------------------------------
# tensor_split (views)
# ----------------------------------------------------------------------------------------------
def _tensor_split(lib, x, how, dim=0, method=False):
    pieces = x.tensor_split(how, dim) if method else lib.tensor_split(x, how, dim)
    return tuple(pieces)


def _tensor_split_samples(g):
    yield S(g.randn(7, 2), kwargs={"how": 3}, desc="3 uneven sections")
    yield S(g.randn(2, 5), kwargs={"how": [1, 3], "dim": -1}, desc="indices, dim -1")
    yield S(g.randn(6, 2), kwargs={"how": [2, -2, 9]}, desc="negative and clipped indices")
    yield S(g.randn(5, 2), kwargs={"how": [4, 1]}, desc="decreasing indices: an empty piece")
    yield S(g.randn(2, 3), kwargs={"how": 5, "dim": 1, "method": True},
            desc="more sections than elements (method)")
    yield S(g.randn(0, 3), kwargs={"how": 2}, desc="empty dimension")
    yield S(g.randn(3, 4, 2), kwargs={"how": (2,), "dim": -2}, desc="3-d, tuple of indices")


_more("tensor_split", _tensor_split, _tensor_split_samples)


def _tensor_split_write(lib, x):
    """A piece of tensor_split is a view: a write through it reaches the input."""
    y = x * 1.0
    a, b = y.tensor_split(2)
    b.mul_(3.0)
    return y


_more("tensor_split_view_write", _tensor_split_write,
      lambda g: iter([S(g.randn(4, 3), desc="in-place write through a piece")]))


# ----------------------------------------------------------------------------------------------
# fmod (math_extra.py)
# ----------------------------------------------------------------------------------------------
def _fmod_values(g, *shape):
    """Dividends (n + u) / 2 for integers n in [-4, 4] and u in [0.3, 0.7]: divided by the
    samples' divisors +-0.5 the quotient is n + u, at least 0.3 from a whole number, where
    fmod jumps."""
    whole = g.rng.integers(-4, 5, shape)
    return np.asarray((whole + g.uniform(*shape, low=0.3, high=0.7)) * 0.5)


def _fmod_samples(g):
    b = np.asarray(g.rng.choice([-0.5, 0.5], (3, 4)))
    yield S(_fmod_values(g, 3, 4), b, desc="same shape, both signs")
    yield S(_fmod_values(g, 3, 4), np.asarray(g.rng.choice([-0.5, 0.5], (4,))),
            desc="broadcast divisor")
    yield S(_fmod_values(g, 2, 1), np.asarray(g.rng.choice([-0.5, 0.5], (1, 3))),
            desc="both broadcast")
    yield S(_fmod_values(g), np.array(-0.5), desc="0-d")
    yield S(_fmod_values(g, 0, 3), np.full(3, 0.5), desc="empty")
    yield S(_fmod_values(g, 2, 3), 0.5, desc="python-number divisor")
    yield S(_fmod_values(g, 2, 3), np.full((2, 3), 0.5), requires_grad=[False, True],
            desc="divisor only")


_more("fmod", lambda lib, a, b: lib.fmod(a, b), _fmod_samples)
_more("fmod_method", lambda lib, a, b: a.fmod(b), lambda g: iter([
    S(_fmod_values(g, 2, 3), np.asarray(g.rng.choice([-0.5, 0.5], (3,))),
      desc="method, broadcast divisor")]))


def _fmod_inplace(lib, a, b):
    return (a * 1.0).fmod_(b)


_more("fmod_", _fmod_inplace, lambda g: iter([
    S(_fmod_values(g, 2, 3), np.asarray(g.rng.choice([-0.5, 0.5], (3,))), desc="in place"),
    S(_fmod_values(g), np.array(0.5), desc="0-d in place")]))


# ----------------------------------------------------------------------------------------------
# masked_scatter (masked.py)
# ----------------------------------------------------------------------------------------------
def _masked_scatter(lib, x, mask, source, inplace=False):
    if inplace:
        return (x * 1.0).masked_scatter_(mask, source)
    return x.masked_scatter(mask, source)


def _masked_scatter_samples(g):
    mask = g.mask(3, 4)
    yield S(g.randn(3, 4), mask, g.randn(12), desc="source as long as the input")
    yield S(g.randn(3, 4), mask, g.randn(5, 4), desc="source longer, 2-d")
    yield S(g.randn(4), g.mask(3, 4), g.randn(3, 5), desc="input broadcast by the mask")
    yield S(g.randn(3, 4), g.mask(4), g.randn(4, 3), desc="mask broadcast")
    yield S(g.randn(), np.array(True), g.randn(), desc="0-d")
    yield S(g.randn(0, 3), np.zeros((0, 3), bool), g.randn(2), desc="empty input")
    yield S(g.randn(2, 3), np.zeros((2, 3), bool), g.randn(0), desc="nothing selected")
    yield S(g.randn(2, 3), g.mask(2, 3), g.randn(6), kwargs={"inplace": True},
            desc="in place")
    yield S(g.randn(2, 3), g.mask(3), g.randn(6), requires_grad=[False, False, True],
            desc="source only")


_more("masked_scatter", _masked_scatter, _masked_scatter_samples)


# ----------------------------------------------------------------------------------------------
# einsum's sublist form
# ----------------------------------------------------------------------------------------------
def _einsum_sublist_samples(g):
    yield S(g.randn(2, 3), g.randn(3, 4), kwargs={"subs": ([0, 1], [1, 2], [0, 2])},
            desc="matmul")
    yield S(g.randn(2, 3), g.randn(3, 4), kwargs={"subs": ([0, 1], [1, 2])},
            desc="implicit output")
    yield S(g.randn(2, 2, 3), g.randn(3), kwargs={"subs": ([Ellipsis, 1], [1], [Ellipsis])},
            desc="ellipsis")
    yield S(g.randn(3, 3), kwargs={"subs": ([27, 27], [])}, desc="trace, capital letter")
    yield S(g.randn(0, 3), g.randn(3), kwargs={"subs": ([0, 51], [51], [0])}, desc="empty")


def _einsum_sublist(lib, *xs, subs):
    args = []
    for x, s in zip(xs, subs):
        args += [x, list(s)]
    if len(subs) > len(xs):
        args.append(list(subs[-1]))
    return lib.einsum(*args)


_more("einsum_sublist", _einsum_sublist, _einsum_sublist_samples)


# ----------------------------------------------------------------------------------------------
# piecewise-linear ops under create_graph, composed with others
# ----------------------------------------------------------------------------------------------
def _piecewise_chain(lib, x, w, op):
    h = x * w
    if op == "relu":
        y = lib.nn.functional.relu(h)
    elif op == "leaky_relu":
        y = lib.nn.functional.leaky_relu(h, 0.2)
    elif op == "abs":
        y = lib.abs(h)
    else:
        y = lib.clamp(h, -1.5, 1.5)
    return y * w


def _piecewise_samples(g):
    for op in ("relu", "leaky_relu", "abs", "clamp"):
        yield S(g.away(3, 4, low=0.7), g.away(4, low=0.7),
                kwargs={"op": op}, desc=f"{op} between two products")
        yield S(g.away(3, 4, low=0.7), g.away(4, low=0.7), requires_grad=[True, False],
                kwargs={"op": op}, desc=f"{op}, input only")


_more("piecewise_linear_chain", _piecewise_chain, _piecewise_samples)


# ----------------------------------------------------------------------------------------------
# multi-head attention (the functional under nn.MultiheadAttention), sequence-first
# ----------------------------------------------------------------------------------------------
def _mha(lib, q, k, v, w_in, b_in, w_out, b_out, *mask, heads=2, weights=True, mean=True,
         _ask_weights=None):
    """The attention output plus the returned weights (summed with a fixed scale so that
    both outputs' gradients are checked); ``mask``: an optional float attention mask."""
    out, attn = lib.nn.functional.multi_head_attention_forward(
        q, k, v, q.shape[-1], heads, w_in, b_in, None, None, False, 0.0, w_out, b_out,
        training=False, need_weights=weights if _ask_weights is None else _ask_weights,
        attn_mask=mask[0] if mask else None, average_attn_weights=mean)
    return out if attn is None or not weights else out + 0.5 * attn.sum()


def _mha_torch(lib, *inputs, **kw):
    """torch's side: without weights torch takes its fused attention, whose second
    derivative it does not implement; the same output comes from its path with weights."""
    return _mha(lib, *inputs, _ask_weights=True, **kw)


def _mha_samples(g):
    L, S_, N, E = 3, 4, 2, 4
    params = lambda: (g.randn(3 * E, E) / 2, g.randn(3 * E), g.randn(E, E) / 2,  # noqa: E731
                      g.randn(E))
    yield S(g.randn(L, N, E), g.randn(S_, N, E), g.randn(S_, N, E), *params())
    yield S(g.randn(L, N, E), g.randn(S_, N, E), g.randn(S_, N, E), *params(),
            kwargs={"weights": False}, desc="no weights returned")
    yield S(g.randn(L, N, E), g.randn(S_, N, E), g.randn(S_, N, E), *params(),
            kwargs={"mean": False, "heads": 4}, desc="4 heads, per-head weights")
    yield S(g.randn(L, E), g.randn(S_, E), g.randn(S_, E), *params(), desc="unbatched")
    yield S(g.randn(L, N, E), g.randn(S_, N, E), g.randn(S_, N, E), *params(),
            g.randn(L, S_), requires_grad=[True] * 7 + [False], desc="float mask")


_more("multi_head_attention_forward", _mha, _mha_samples, torch_f=_mha_torch,
      requires=(("minigrad.nn.functional", "multi_head_attention_forward"),))
