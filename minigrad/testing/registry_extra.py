"""Registry entries for the breadth of issue #15: activations, the trig family, gather and
scatter, sorting and running sums, einsum and norms, shape builders, more pointwise ops and
scans (the nn.functional ones: pad modes, resizing, fold, norms, embedding, attention, are in
``registry_extra_nn.py``).

Every entry is checked like the others (forward, gradients and second derivatives against
torch and finite differences).  Samples cover 0-d and empty tensors, broadcasting and
batch-less inputs wherever PyTorch accepts them; values sit away from kinks and ties unless
a sample says otherwise (``fd=False``).
"""
from __future__ import annotations

import numpy as np

from .opinfo import Sample, register

S = Sample


def _F(name):
    return lambda lib, *a, **kw: getattr(lib.nn.functional, name)(*a, **kw)


def _T(name):
    return lambda lib, *a, **kw: getattr(lib, name)(*a, **kw)


def _extra(name, f, samples, torch_f=None, **options):
    register(name, f, samples, family="extra", torch_f=torch_f, **options)


# ----------------------------------------------------------------------------------------------
# Activations (minigrad/ops/activation.py)
# ----------------------------------------------------------------------------------------------
def _smooth(g):
    yield S(2 * g.randn(3, 4))
    yield S(g.randn(), desc="0-d")
    yield S(g.randn(2, 0), desc="empty")
    yield S(np.array([-30.0, -5.0, 5.0, 30.0]), desc="large |x|")


def _kinked(g):
    yield S(2 * g.away(3, 4))
    yield S(g.away(), desc="0-d")
    yield S(g.randn(0, 3), desc="empty")


def _hard(g):
    yield S(np.array([-5.0, -3.5, -2.0, -0.4, 0.3, 1.7, 2.9, 3.4, 6.0]))
    yield S(g.away(2, 3))
    yield S(g.randn(), desc="0-d")


for _name in ("gelu", "elu", "selu", "softsign", "logsigmoid", "mish", "tanhshrink"):
    _extra(_name, _F(_name), _smooth if _name in ("gelu", "softsign", "logsigmoid", "mish",
                                                   "tanhshrink") else _kinked)
_extra("gelu_tanh", lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), _smooth)
_extra("elu_alpha", lambda lib, x: lib.nn.functional.elu(x, alpha=0.4), _kinked)
_extra("celu", lambda lib, x, **kw: lib.nn.functional.celu(x, **kw),
       lambda g: iter([S(g.away(3, 4)), S(g.away(3, 4), kwargs={"alpha": 2.5}),
                       S(g.away(), desc="0-d")]))
# the in-place forms keep their output, and read the gradient off it (their own node)
_extra("elu_inplace", lambda lib, x: lib.nn.functional.elu(x * 1, 0.7, inplace=True), _kinked)
_extra("celu_inplace", lambda lib, x: lib.nn.functional.celu(x * 1, 1.5, inplace=True),
       _kinked)
_extra("selu_inplace", lambda lib, x: lib.nn.functional.selu(x * 1, inplace=True), _kinked)
_extra("leaky_relu_inplace",
       lambda lib, x: lib.nn.functional.leaky_relu(x * 1, 0.2, inplace=True), _kinked)
_extra("hardswish", _F("hardswish"), _hard)
# torch's hardsigmoid has no second derivative ("derivative for aten::hardsigmoid_backward is
# not implemented"): its oracle is the same piecewise formula written with torch's ops
_extra("hardsigmoid", _F("hardsigmoid"), _hard,
       torch_f=lambda torch, x: torch.where((x > -3) & (x < 3), x / 6 + 0.5,
                                            (x >= 3).to(x.dtype))
       if x.is_floating_point() else torch.nn.functional.hardsigmoid(x))  # its dtype refusal
_extra("softshrink", lambda lib, x: lib.nn.functional.softshrink(x, 0.3),
       lambda g: iter([S(np.array([-2.0, -0.5, -0.1, 0.2, 0.6, 1.5]))]))
_extra("hardshrink", lambda lib, x: lib.nn.functional.hardshrink(x, 0.3),
       lambda g: iter([S(np.array([-2.0, -0.5, -0.1, 0.2, 0.6, 1.5]))]))
_extra("erf", lambda lib, x: lib.erf(x),
       lambda g: iter([S(2 * g.randn(3, 4)), S(np.array([-4.0, -2.9, 3.1, 5.0])),
                       S(g.randn(), desc="0-d")]))


def _prelu(g):
    yield S(g.away(2, 3, 4), g.uniform(3, low=0.1, high=0.5), desc="per channel")
    yield S(g.away(2, 3, 4), g.uniform(1, low=0.1, high=0.5), desc="one slope")
    yield S(g.away(3, 5), g.uniform(5, low=0.1, high=0.5), desc="(N, C)")
    yield S(g.away(4), g.uniform(1, low=0.1, high=0.5), desc="1-d input")
    yield S(g.away(2, 3, 2, 2), g.uniform(3, low=0.1, high=0.5), desc="(N, C, H, W)")


_extra("prelu", _F("prelu"), _prelu)


def _softmin(g):
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(g.randn(2, 3, 4), kwargs={"dim": 0})
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")


_extra("softmin", _F("softmin"), _softmin)

# ----------------------------------------------------------------------------------------------
# Trigonometry (minigrad/ops/trig.py)
# ----------------------------------------------------------------------------------------------
def _trig(make):
    def samples(g):
        yield S(make(g, 3, 4))
        yield S(make(g), desc="0-d")
        yield S(make(g, 0, 2), desc="empty")
    return samples


_DOMAINS = {
    "tan": lambda g, *s: g.uniform(*s, low=-1.2, high=1.2),
    "asin": lambda g, *s: g.uniform(*s, low=-0.9, high=0.9),
    "acos": lambda g, *s: g.uniform(*s, low=-0.9, high=0.9),
    "atan": lambda g, *s: np.asarray(2 * g.randn(*s)),
    "sinh": lambda g, *s: g.randn(*s),
    "cosh": lambda g, *s: g.randn(*s),
    "asinh": lambda g, *s: np.asarray(2 * g.randn(*s)),
    "acosh": lambda g, *s: g.uniform(*s, low=1.2, high=3.0),
    "atanh": lambda g, *s: g.uniform(*s, low=-0.9, high=0.9),
}
for _name, _make in _DOMAINS.items():
    _extra(_name, _T(_name), _trig(_make))


def _atan2(g):
    yield S(g.randn(3, 4), g.away(3, 4))
    yield S(g.randn(3, 1), g.away(1, 4), desc="broadcast")
    yield S(g.randn(), g.away(2, 3), desc="0-d y")


_extra("atan2", _T("atan2"), _atan2)

# ----------------------------------------------------------------------------------------------
# Gather / scatter (minigrad/ops/scatter_gather.py)
# ----------------------------------------------------------------------------------------------
def _gather(g):
    yield S(g.randn(3, 4), 1, g.index(4, 3, 5), desc="dim 1, repeats")
    yield S(g.randn(3, 4), 0, g.index(3, 2, 4), desc="dim 0")
    yield S(g.randn(3, 4, 2), -1, g.index(2, 2, 3, 2), desc="smaller index, dim -1")
    yield S(g.randn(3, 4), 1, np.zeros((3, 0), np.int64), desc="empty index")


_extra("gather", lambda lib, x, d, i: lib.gather(x, d, i), _gather)


def _distinct_index(g, rows, n, k):
    """For each row, k distinct positions in range(n) (scatter's writes do not collide)."""
    return np.stack([g.rng.permutation(n)[:k] for _ in range(rows)]).astype(np.int64)


def _scatter(g):
    yield S(g.randn(3, 5), 1, _distinct_index(g, 3, 5, 3), g.randn(3, 3), desc="dim 1")
    yield S(g.randn(4, 2), 0, _distinct_index(g, 2, 4, 3).T.copy(), g.randn(3, 2),
            desc="dim 0")


_extra("scatter", lambda lib, x, d, i, s: lib.scatter(x, d, i, s), _scatter)
_extra("scatter_value", lambda lib, x, d, i: x.scatter(d, i, 2.5),
       lambda g: iter([S(g.randn(3, 5), 1, _distinct_index(g, 3, 5, 2))]))


def _scatter_add(g):
    yield S(g.randn(3, 5), 1, g.index(5, 3, 4), g.randn(3, 4), desc="repeats add")
    yield S(g.randn(4, 2), 0, g.index(4, 6, 2), g.randn(6, 2), desc="dim 0")


_extra("scatter_add", lambda lib, x, d, i, s: lib.scatter_add(x, d, i, s), _scatter_add)


def _index_select(g):
    yield S(g.randn(4, 3), 0, np.array([3, 0, 3, 1]), desc="repeats")
    yield S(g.randn(2, 5), 1, np.array([4, 1]))
    yield S(g.randn(2, 5), -1, np.zeros(0, np.int64), desc="empty index")


_extra("index_select", lambda lib, x, d, i: lib.index_select(x, d, i), _index_select)
_extra("index_add", lambda lib, x, d, i, s: x.index_add(d, i, s),
       lambda g: iter([S(g.randn(4, 3), 0, np.array([3, 0, 3]), g.randn(3, 3))]))


def _masked_fill(g):
    yield S(g.randn(3, 4), g.mask(3, 4))
    yield S(g.randn(3, 4), g.mask(4), desc="broadcast mask")
    yield S(g.randn(), np.array(True), desc="0-d")


_extra("masked_fill", lambda lib, x, m: x.masked_fill(m, -1.5), _masked_fill)

# ----------------------------------------------------------------------------------------------
# Ordering and running totals (minigrad/ops/sorting.py)
# ----------------------------------------------------------------------------------------------
def _sort(g):
    yield S(g.distinct(3, 5), kwargs={"dim": 1})
    yield S(g.distinct(4, 2), kwargs={"dim": 0, "descending": True})
    yield S(g.distinct(6), desc="1-d")
    yield S(g.randn(2, 0), desc="empty")


_extra("sort", lambda lib, x, **kw: lib.sort(x, **kw)[0], _sort)


def _topk(g):
    yield S(g.distinct(3, 6), kwargs={"k": 2})
    yield S(g.distinct(5, 3), kwargs={"k": 3, "dim": 0, "largest": False})
    yield S(g.distinct(4), kwargs={"k": 0}, desc="k=0")


_extra("topk", lambda lib, x, **kw: lib.topk(x, **kw)[0], _topk)


def _cumsum(g):
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(g.randn(3, 4, 2), kwargs={"dim": 0})
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 1}, desc="empty")


_extra("cumsum", lambda lib, x, **kw: lib.cumsum(x, **kw), _cumsum)


def _cumprod(g):
    yield S(g.away(3, 4, low=0.5), kwargs={"dim": 1})
    yield S(g.away(3, 4, low=0.5), kwargs={"dim": 0})
    z = g.away(2, 4, low=0.5)
    z[0, 1] = 0.0
    yield S(z, kwargs={"dim": 1}, desc="a zero")
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")


_extra("cumprod", lambda lib, x, **kw: lib.cumprod(x, **kw), _cumprod)

# ----------------------------------------------------------------------------------------------
# einsum, norms, var/std with the mean (ops/contraction.py, ops/norms.py, ops/statistics.py)
# ----------------------------------------------------------------------------------------------
def _einsum(g):
    yield S(g.randn(3, 4), g.randn(4, 5), kwargs={"eq": "ij,jk->ik"})
    yield S(g.randn(2, 3, 4), g.randn(2, 4, 2), kwargs={"eq": "bij,bjk->bik"})
    yield S(g.randn(3, 4), g.randn(4, 2), kwargs={"eq": "ij,jk->i"}, desc="k only in B")
    yield S(g.randn(3), g.randn(4), kwargs={"eq": "i,j->ij"}, desc="outer")
    yield S(g.randn(3, 4), kwargs={"eq": "ij->ji"}, desc="transpose")
    yield S(g.randn(3, 4), kwargs={"eq": "ij"}, desc="implicit output")
    yield S(g.randn(2, 3), g.randn(3), g.randn(2), kwargs={"eq": "ij,j,i->"}, desc="three")
    yield S(g.randn(2, 3, 4), g.randn(5, 4), kwargs={"eq": "...id,...jd->...ij"},
            desc="ellipsis, broadcast lengths")
    yield S(g.randn(3, 2, 4), g.randn(4, 3, 2), kwargs={"eq": "i...j,ji..."},
            desc="ellipsis, implicit output")


_extra("einsum", lambda lib, *ops, eq: lib.einsum(eq, *ops), _einsum)


def _norm(g):
    yield S(g.randn(3, 4))
    yield S(g.randn(3, 4), kwargs={"p": 1, "dim": 1})
    yield S(g.randn(3, 4), kwargs={"p": 3, "dim": 0, "keepdim": True})
    yield S(g.distinct(2, 3), kwargs={"p": float("inf"), "dim": 1})
    yield S(g.randn(), desc="0-d")


_extra("norm", lambda lib, x, **kw: lib.norm(x, **kw), _norm)


def _linalg_norm(g):
    yield S(g.randn(5))
    yield S(g.randn(3, 4), desc="Frobenius")
    yield S(g.randn(3, 4), kwargs={"ord": 1, "dim": 1})
    yield S(g.randn(2, 3, 4), kwargs={"dim": (1, 2)})


_extra("linalg_norm", lambda lib, x, **kw: lib.linalg.norm(x, **kw), _linalg_norm)


def _matrix_norm(g):
    for ord in ("fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")):
        yield S(g.distinct(3, 4), kwargs={"ord": ord}, desc=f"ord={ord}")
    yield S(g.randn(2, 4, 3), kwargs={"ord": "nuc", "dim": (0, 2), "keepdim": True},
            desc="batched, other dims")
    yield S(g.distinct(2, 3, 4), kwargs={"ord": 1, "dim": (-1, 0)}, desc="dims swapped")


_extra("linalg_matrix_norm", lambda lib, x, **kw: lib.linalg.matrix_norm(x, **kw), _matrix_norm)


def _svdvals(g):
    yield S(g.randn(4, 3), desc="tall")
    yield S(g.randn(3, 5), desc="wide")
    yield S(g.randn(2, 3, 3), desc="batched square")
    yield S(g.randn(2, 0, 3), desc="empty matrices")


_extra("linalg_svdvals", lambda lib, x: lib.linalg.svdvals(x), _svdvals)


def _var_mean(g):
    yield S(g.randn(3, 4))
    yield S(g.randn(3, 4), kwargs={"dim": 1, "keepdim": True})
    yield S(g.randn(3, 4), kwargs={"dim": 0, "correction": 0})
    yield S(g.randn(3, 4), kwargs={"dim": (0, 1), "correction": 2, "keepdim": True})


_extra("var_mean", lambda lib, x, **kw: lib.var_mean(x, **kw), _var_mean)
_extra("std_mean", lambda lib, x, **kw: lib.std_mean(x, **kw), _var_mean)

# ----------------------------------------------------------------------------------------------
# Shape builders (minigrad/ops/shaping.py)
# ----------------------------------------------------------------------------------------------
def _triangle(g):
    yield S(g.randn(4, 4))
    yield S(g.randn(3, 5), kwargs={"diagonal": 1})
    yield S(g.randn(2, 3, 3), kwargs={"diagonal": -1}, desc="batched")


_extra("tril", lambda lib, x, **kw: lib.tril(x, **kw), _triangle)
_extra("triu", lambda lib, x, **kw: lib.triu(x, **kw), _triangle)


def _diag(g):
    yield S(g.randn(4))
    yield S(g.randn(3), kwargs={"diagonal": 2})
    yield S(g.randn(3, 4), desc="2-d: the diagonal")
    yield S(g.randn(3, 4), kwargs={"diagonal": -1})


_extra("diag", lambda lib, x, **kw: lib.diag(x, **kw), _diag)
_extra("outer", _T("outer"), lambda g: iter([S(g.randn(3), g.randn(4)),
                                             S(g.randn(0), g.randn(2), desc="empty")]))


def _repeat_interleave(g):
    yield S(g.randn(3, 2), kwargs={"repeats": 2})
    yield S(g.randn(3, 2), kwargs={"repeats": 3, "dim": 1})
    yield S(g.randn(3, 2), np.array([1, 0, 2]), kwargs={"dim": 0}, desc="per-row counts")


_extra("repeat_interleave", lambda lib, x, *r, **kw: lib.repeat_interleave(
    x, *(r or (kw.pop("repeats"),)), **kw), _repeat_interleave)


def _tensor_unfold(g):
    yield S(g.randn(7), kwargs={"dimension": 0, "size": 3, "step": 2})
    yield S(g.randn(2, 6, 3), kwargs={"dimension": 1, "size": 2, "step": 1})
    yield S(g.randn(2, 5), kwargs={"dimension": -1, "size": 5, "step": 3})


_extra("tensor_unfold", lambda lib, x, **kw: x.unfold(**kw), _tensor_unfold)
_extra("roll", lambda lib, x, **kw: lib.roll(x, **kw),
       lambda g: iter([S(g.randn(3, 4), kwargs={"shifts": (1, -2), "dims": (0, 1)}),
                       S(g.randn(3, 4), kwargs={"shifts": 5})]))
_extra("movedim", lambda lib, x, **kw: lib.movedim(x, **kw),
       lambda g: iter([S(g.randn(2, 3, 4), kwargs={"source": 0, "destination": -1}),
                       S(g.randn(2, 3, 4), kwargs={"source": (0, 1), "destination": (2, 0)})]))

# ----------------------------------------------------------------------------------------------
# More pointwise, scans, selections, attention (minigrad/ops/math_extra.py)
# ----------------------------------------------------------------------------------------------
for _name in ("log2", "log10"):
    _extra(_name, _T(_name), _trig(lambda g, *s: g.pos(*s)))
_extra("exp2", _T("exp2"), _trig(lambda g, *s: g.randn(*s)))
_extra("frac", _T("frac"), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))


def _lerp(g):
    yield S(g.randn(3, 4), g.randn(3, 4), kwargs={"weight": 0.3})
    yield S(g.randn(3, 1), g.randn(4), g.uniform(3, 4), desc="tensor weight, broadcast")


_extra("lerp", lambda lib, a, b, *w, **kw: lib.lerp(a, b, *(w or (kw["weight"],))), _lerp)


def _logcumsumexp(g):
    yield S(g.randn(3, 4), kwargs={"dim": 1})
    yield S(10 * g.randn(2, 5), kwargs={"dim": 0}, desc="wide range")
    yield S(g.randn(), kwargs={"dim": 0}, desc="0-d")


_extra("logcumsumexp", lambda lib, x, **kw: lib.logcumsumexp(x, **kw), _logcumsumexp)
_extra("cummax", lambda lib, x, **kw: lib.cummax(x, **kw)[0],
       lambda g: iter([S(g.distinct(3, 5), kwargs={"dim": 1}),
                       S(g.distinct(4, 2), kwargs={"dim": 0})]))
_extra("cummin", lambda lib, x, **kw: lib.cummin(x, **kw)[0],
       lambda g: iter([S(g.distinct(3, 5), kwargs={"dim": -1})]))


def _diagonal(g):
    yield S(g.randn(4, 4))
    yield S(g.randn(3, 5), kwargs={"offset": 2})
    yield S(g.randn(2, 3, 4), kwargs={"offset": -1, "dim1": 0, "dim2": 2}, desc="3-d")


_extra("diagonal", lambda lib, x, **kw: lib.diagonal(x, **kw), _diagonal)
_extra("masked_select", lambda lib, x, m: lib.masked_select(x, m),
       lambda g: iter([S(g.randn(3, 4), g.mask(3, 4)),
                       S(g.randn(3, 4), g.mask(4), desc="broadcast mask")]))


_extra("logcumsumexp_wide", lambda lib, x, **kw: lib.logcumsumexp(x, **kw),
       lambda g: iter([S(np.array([[0.0, 100.0, 3.0], [-700.0, 1.0, 2.0]]), kwargs={"dim": 1},
                         desc="a range too wide for one shift")]))


# ----------------------------------------------------------------------------------------------
# tile, nan_to_num, trunc (shaping.py, math_extra.py)
# ----------------------------------------------------------------------------------------------
def _tile(g):
    yield S(g.randn(2, 3), kwargs={"dims": (2,)}, desc="fewer dims than input")
    yield S(g.randn(2, 3), kwargs={"dims": (2, 1, 3)}, desc="more dims than input")
    yield S(g.randn(), kwargs={"dims": (3,)}, desc="0-d")
    yield S(g.randn(0, 2), kwargs={"dims": (2, 2)}, desc="empty")


_extra("tile", lambda lib, x, **kw: lib.tile(x, **kw), _tile)
_extra("tensor_tile", lambda lib, x, *dims: x.tile(*dims),
       lambda g: iter([S(g.randn(2, 3), 2, 2), S(g.randn(3), (1, 2))]))


def _nan_to_num(g):
    yield S(g.randn(3, 4))
    x = g.randn(2, 4)
    x[0, 1], x[1, 2], x[1, 3] = np.nan, np.inf, -np.inf
    # the default replacements (float64's max) overflow the finite differences' sums
    yield S(x, desc="nan and infinities", fd=False)
    yield S(x, kwargs={"nan": 1.5, "posinf": 2.0, "neginf": -3.0}, desc="replacements")
    yield S(np.array([3, -1, 0]), desc="integer: a copy")


_extra("nan_to_num", lambda lib, x, **kw: lib.nan_to_num(x, **kw), _nan_to_num)
_extra("trunc", _T("trunc"), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))
# floor, ceil and round are flat between their steps: gradient zero, away from the steps
for _name in ("floor", "ceil", "round"):
    _extra(_name, _T(_name), _trig(lambda g, *s: np.asarray(3 * g.away(*s))))
_extra("round_decimals", lambda lib, x, **kw: lib.round(x, **kw),
       lambda g: iter([S(np.asarray(3 * g.away(3, 4)), kwargs={"decimals": 2}),
                       S(np.asarray(300 * g.away(4)), kwargs={"decimals": -1})]))


def _rounded_div(g):
    # quotients half-way between integers, so that a finite difference never crosses a step
    b = g.away(3, 4)
    q = g.rng.integers(-5, 5, (3, 4)) + 0.5 + 0.3 * g.rng.uniform(-1, 1, (3, 4))
    for mode in ("floor", "trunc"):
        yield S(q * b, b, kwargs={"rounding_mode": mode}, desc=mode)
        yield S(q[:, :1] * 2.5, np.full(4, 2.5), kwargs={"rounding_mode": mode},
                desc=f"{mode}, broadcast")
        yield S(q * 1.5, 1.5, kwargs={"rounding_mode": mode}, desc=f"{mode}, by a number")


# div with a rounding mode is flat between its steps in both operands: both gradients zero
_extra("div_rounded", lambda lib, a, b, **kw: lib.div(a, b, **kw), _rounded_div)


# ----------------------------------------------------------------------------------------------
# Bit operators (minigrad/ops/bitwise.py): integer and bool operands only, no gradients (the
# samples have no floating input), so only the forward is compared with torch.
# ----------------------------------------------------------------------------------------------
def _bit_logic(g):
    ints = lambda *s: np.asarray(g.rng.integers(-100, 100, s), dtype=np.int64)  # noqa: E731
    yield S(ints(3, 4), ints(3, 4))
    yield S(ints(3, 1), ints(4), desc="broadcast")
    yield S(g.mask(3, 4), g.mask(3, 4), desc="bool")
    yield S(ints(3).astype(np.uint8), ints(3).astype(np.int16), desc="uint8 with int16")
    yield S(ints(2, 3), 5, desc="number")
    yield S(ints(0, 3), ints(3), desc="empty")


def _bit_shift(g):
    ints = lambda *s: np.asarray(g.rng.integers(-100, 100, s), dtype=np.int64)  # noqa: E731
    yield S(ints(3, 4), np.asarray(g.rng.integers(0, 8, (3, 4)), dtype=np.int64))
    yield S(ints(3).astype(np.int32), 2, desc="number")
    yield S(ints(3).astype(np.uint8), np.array([0, 3, 7], dtype=np.uint8), desc="uint8")


for _name in ("bitwise_and", "bitwise_or", "bitwise_xor"):
    _extra(_name, _T(_name), _bit_logic, fd=False)
for _name in ("bitwise_left_shift", "bitwise_right_shift"):
    _extra(_name, _T(_name), _bit_shift, fd=False)
_extra("bitwise_not", _T("bitwise_not"),
       lambda g: iter([S(np.asarray(g.rng.integers(-100, 100, (3, 4)), dtype=np.int64)),
                       S(g.mask(2, 3), desc="bool"),
                       S(np.array([0, 1, 255], dtype=np.uint8), desc="uint8")]), fd=False)


# ----------------------------------------------------------------------------------------------
# Shape helpers, sign and linalg.vector_norm (found without an entry by a sweep of the public
# functions whose results require grad)
# ----------------------------------------------------------------------------------------------
_extra("sign", _T("sign"), _trig(lambda g, *s: np.asarray(g.away(*s))))
_extra("msort", _T("msort"),
       lambda g: iter([S(g.distinct(4, 3)), S(g.distinct(5), desc="1-d")]))
for _name in ("atleast_1d", "atleast_2d", "atleast_3d"):
    _extra(_name, _T(_name),
           lambda g: iter([S(g.randn(), desc="0-d"), S(g.randn(3), desc="1-d"),
                           S(g.randn(2, 3), desc="2-d"), S(g.randn(2, 1, 3), desc="3-d")]))
_extra("t", _T("t"), lambda g: iter([S(g.randn(2, 3)), S(g.randn(3), desc="1-d"),
                                     S(g.randn(), desc="0-d")]))
_extra("broadcast_tensors", lambda lib, *xs: tuple(lib.broadcast_tensors(*xs)),
       lambda g: iter([S(g.randn(3, 1), g.randn(4)),
                       S(g.randn(2, 1, 3), g.randn(), g.randn(4, 1), desc="three, one 0-d"),
                       S(g.randn(0, 1), g.randn(3), desc="empty")]))


def _vector_norm(g):
    yield S(g.away(3, 4))
    yield S(g.away(3, 4), kwargs={"ord": 1, "dim": 1})
    yield S(g.distinct(3, 4), kwargs={"ord": float("inf"), "dim": (0, 1), "keepdim": True})
    yield S(g.distinct(3, 4), kwargs={"ord": -float("inf"), "dim": 0})
    yield S(g.away(2, 3, 2), kwargs={"ord": 3, "dim": (0, 2)})
    yield S(g.away(2, 5), kwargs={"ord": 0.5, "dim": -1}, desc="ord 0.5")
    yield S(g.away(4), kwargs={"ord": -2}, desc="negative ord")
    yield S(g.away(), desc="0-d")
    yield S(g.randn(0, 3), kwargs={"dim": 0}, desc="empty")


_extra("linalg.vector_norm", lambda lib, x, **kw: lib.linalg.vector_norm(x, **kw), _vector_norm)
_extra("inner", _T("inner"),
       lambda g: iter([S(g.randn(3), g.randn(3), desc="vectors"),
                       S(g.randn(2, 3), g.randn(4, 3), desc="matrices"),
                       S(g.randn(2, 1, 3), g.randn(3), desc="batch with a vector"),
                       S(g.randn(), g.randn(2, 3), desc="0-d scales")]))
_extra("mm", _T("mm"), lambda g: iter([S(g.randn(2, 3), g.randn(3, 4)),
                                       S(g.randn(0, 3), g.randn(3, 2), desc="empty")]))
_extra("tensordot", lambda lib, a, b, **kw: lib.tensordot(a, b, **kw),
       lambda g: iter([S(g.randn(2, 3, 4), g.randn(3, 4, 5), kwargs={"dims": 2}),
                       S(g.randn(2, 3), g.randn(3, 2), kwargs={"dims": ([1, 0], [0, 1])}),
                       S(g.randn(2), g.randn(3), kwargs={"dims": 0}, desc="outer")]))
_extra("linalg.vecdot", lambda lib, a, b, **kw: lib.linalg.vecdot(a, b, **kw),
       lambda g: iter([S(g.randn(3, 4), g.randn(3, 4)),
                       S(g.randn(2, 1, 3), g.randn(4, 3), kwargs={"dim": -1}, desc="broadcast"),
                       S(g.randn(3, 2), g.randn(3, 2), kwargs={"dim": 0})]))


def _take_along_dim(g):
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 4, (3, 2))), kwargs={"dim": 1})
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 3, (1, 4))), kwargs={"dim": 0},
            desc="broadcast index, repeats")
    yield S(g.randn(3, 4), np.asarray(g.rng.integers(0, 12, (5,))), desc="flattened")


_extra("take_along_dim", lambda lib, x, i, **kw: lib.take_along_dim(x, i, **kw), _take_along_dim)
