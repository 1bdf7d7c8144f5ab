"""Registry entries for the breadth of issue #15: activations, the trig family, gather and
scatter, sorting and running sums, einsum and norms (shape builders, more pointwise ops and
the bit operators are in ``registry_extra_shapes.py``; the nn.functional ones: pad modes,
resizing, fold, norms, embedding, attention, in ``registry_extra_nn.py``).

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
