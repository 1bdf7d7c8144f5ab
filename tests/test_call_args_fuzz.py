"""An argument fuzzer: everyday torch functions and Tensor methods called with mutated
arguments, in minigrad and in PyTorch, which must agree.

Each template below is one well-formed call with "slots" (argument positions or keywords);
a case replaces one slot with an adversarial value: a dim out of range, negative, float,
bool, None, a tuple (or duplicated dims), a 0-d tensor or numpy integer; sizes negative,
float or empty; keepdim as an int; a dtype of the wrong kind or a string; out= of the wrong
dtype or shape; and tensors that are 0-d, empty, bool, uint8, int32, int64, float16,
complex64, or not tensors at all (a list, a numpy array, a Python number).

Both libraries must raise the same exception type, or return the same result (values,
dtype, shape) and leave the arguments equally changed. The default run makes every
single-slot case (a fixed list, no randomness); ``--runslow`` adds a seeded sweep that
mutates two or three slots at once.

``KNOWN_LEFT`` lists the (function, call kind, kind of disagreement) still open: a choice
not copied and a fix owed by another file (see the notes there). A disagreement outside it
fails.
"""
import math
import random
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


class T:
    """A tensor argument: array, and how it is passed (tensor/list/numpy/scalar)."""
    def __init__(self, a, how="tensor", rg=False):
        self.a, self.how, self.rg = a, how, rg
    def __repr__(self):
        return f"T({self.a.dtype}{list(self.a.shape)},{self.how})"


class D:
    """A library attribute by name (a dtype, a memory format), looked up in each library."""
    def __init__(self, name):
        self.name = name
    def __repr__(self):
        return f"D({self.name})"


class Scal:
    """A 0-d tensor as a size/int argument."""
    def __init__(self, v):
        self.v = v
    def __repr__(self):
        return f"tensor({self.v})"


def conv(v, lib):
    if isinstance(v, T):
        if v.how == "tensor":
            t = lib.tensor(v.a.copy()) if v.a.ndim else lib.tensor(v.a.item()).to(getattr(lib, str(v.a.dtype)) if v.a.dtype != np.bool_ else lib.bool)
            if v.a.dtype.kind in "fc" and v.a.ndim == 0:
                t = lib.tensor(v.a.copy())
            return t
        if v.how == "list":
            return v.a.tolist()
        if v.how == "numpy":
            return v.a.copy()
        if v.how == "scalar":
            return v.a.item()
    if isinstance(v, D):
        return getattr(lib, v.name)
    if isinstance(v, Scal):
        return lib.tensor(v.v)
    if isinstance(v, tuple):
        return tuple(conv(x, lib) for x in v)
    if isinstance(v, list):
        return [conv(x, lib) for x in v]
    if isinstance(v, dict):
        return {k: conv(x, lib) for k, x in v.items()}
    return v


def run_one(lib, case):
    fname, kind, args, kwargs = case
    a = conv(args, lib)
    k = conv(kwargs, lib)
    if kind == "fn":
        f = lib
        for part in fname.split("."):
            f = getattr(f, part)
        return f(*a, **k), a, k
    return getattr(a[0], fname)(*a[1:], **k), a, k


def _np(x):
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.resolve_conj().resolve_neg().numpy()
    return np.asarray(x._array if hasattr(x, "_array") else x.numpy())


def same(r1, r2, path="r"):
    """None when the torch result r1 and minigrad result r2 agree, else a description."""
    if isinstance(r1, torch.Tensor):
        if not isinstance(r2, minigrad.Tensor):
            return f"{path}: torch Tensor, minigrad {type(r2).__name__}"
        if str(r1.dtype).split(".")[-1] != str(r2.dtype).split(".")[-1]:
            return f"{path}: dtype {r1.dtype} vs {r2.dtype}"
        if tuple(r1.shape) != tuple(r2.shape):
            return f"{path}: shape {tuple(r1.shape)} vs {tuple(r2.shape)}"
        a, b = _np(r1), _np(r2)
        if a.dtype.kind in "fc":
            tol = 2e-2 if a.dtype == np.float16 else 1e-4 if a.dtype in (np.float32, np.complex64) else 1e-7
            if not np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True):
                return f"{path}: values {a.ravel()[:6]} vs {b.ravel()[:6]}"
        elif not np.array_equal(a, b):
            return f"{path}: values {a.ravel()[:6]} vs {b.ravel()[:6]}"
        return None
    if isinstance(r1, (tuple, list)):
        if not isinstance(r2, (tuple, list)):
            return f"{path}: torch {type(r1).__name__}, minigrad {type(r2).__name__}"
        if len(r1) != len(r2):
            return f"{path}: len {len(r1)} vs {len(r2)}"
        for i, (x, y) in enumerate(zip(r1, r2)):
            d = same(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(r1, torch.dtype):
        return None if str(r1).split(".")[-1] == str(r2).split(".")[-1] else f"{path}: {r1} vs {r2}"
    if isinstance(r1, torch.Size):
        return None if tuple(r1) == tuple(r2) else f"{path}: {r1} vs {r2}"
    if isinstance(r1, (bool, int, float, complex)):
        if type(r1) is not type(r2):
            return f"{path}: {type(r1).__name__} {r1} vs {type(r2).__name__} {r2}"
        if isinstance(r1, float) and (math.isnan(r1) and math.isnan(r2) or r1 == r2):
            return None          # (inf - inf is nan: equal infinities compare here)
        return None if abs(r1 - r2) <= 1e-5 * (1 + abs(r1)) else f"{path}: {r1} vs {r2}"
    if isinstance(r1, str):
        return None if r1 == r2 else f"{path}: {r1!r} vs {r2!r}"
    return None


RANDOM_FNS = {"randn", "rand", "randint", "normal", "multinomial", "empty", "empty_like",
              "randperm", "rand_like", "randn_like", "bernoulli", "randint_like"}


def compare(case):
    """None when both agree, else (category, description)."""
    try:
        r1, a1, k1 = run_one(torch, case)
        e1 = None
    except Exception as e:
        e1 = e
    try:
        r2, a2, k2 = run_one(minigrad, case)
        e2 = None
    except Exception as e:
        e2 = e
    if e1 is not None and e2 is not None:
        t1, t2 = type(e1), type(e2)
        # torch's own subclasses (e.g. torch._C._LinAlgError) are RuntimeError/ValueError
        ok = (t1.__name__ == t2.__name__ or issubclass(t2, t1)
              or (t1.__module__.startswith("torch") and any(b.__name__ == t2.__name__ for b in t1.__mro__)))
        if not ok:
            return ("errtype", f"torch {t1.__name__}: {str(e1)[:160]} | minigrad {t2.__name__}: {str(e2)[:200]}")
        return None
    if e1 is not None:
        return ("mg-accepts", f"torch {type(e1).__name__}: {str(e1)[:200]}")
    if e2 is not None:
        return ("mg-raises", f"minigrad {type(e2).__name__}: {str(e2)[:300]}")
    if case[0] in RANDOM_FNS or case[0] == "empty" or case[0].startswith("new_empty"):
        # only the meta: dtype and shape
        if isinstance(r1, torch.Tensor):
            if str(r1.dtype).split(".")[-1] != str(r2.dtype).split(".")[-1] or tuple(r1.shape) != tuple(r2.shape):
                return ("result", f"{r1.dtype}{tuple(r1.shape)} vs {r2.dtype}{tuple(r2.shape)}")
        return None
    d = same(r1, r2)
    if d:
        return ("result", d)
    # in-place / out= writes to the arguments
    d = same(list(a1) + [k1[k] for k in sorted(k1)], list(a2) + [k2[k] for k in sorted(k2)], "args")
    if d:
        return ("result-args", d)
    return None


# ---------------------------------------------------------------- tensor variety
rng = np.random.RandomState(0)
F = rng.randn(2, 3, 4).astype(np.float32)
F2 = rng.randn(3, 4).astype(np.float32)
X = T(F)
X2 = T(F2)


def tensor_variants(base):
    a = base.a
    out = [
        T(a.astype(np.float64)),
        T(np.array(1.5, dtype=np.float32)),
        T(np.zeros((0, 3), np.float32)),
        T(a > 0),
        T((np.abs(a) * 3).round().astype(np.uint8)),
        T((a * 3).round().astype(np.int32)),
        T((a * 3).round().astype(np.int64)),
        T(a.astype(np.float16)),
        T(a.astype(np.complex64)),
        T(a, "list"),
        T(a, "numpy"),
        T(np.array(2.5), "scalar"),
        T(np.array(3), "scalar"),
    ]
    return out


NP_I = np.int64(1)
DIMS = [0, 1, -1, 3, -4, 1.0, True, None, (0, 1), (0, 0), (1, -2), (), [0, 1], NP_I, Scal(1), "a", (0, 5)]
INTS = [0, 1, 2, -1, 2.0, True, 100, NP_I, Scal(2), None, (2,)]
SIZES = [(2, 3), (-1, 3), (2.0, 3), (np.int64(2), 3), (Scal(2), 3), (), [2, 3], 2, -2, 2.5, (2, -3), (0,), None]
KEEPS = [True, 1, 0, None, "a"]
DTYPES = [D("float64"), D("int64"), D("bool"), D("float16"), D("complex64"), D("uint8"), None, "float", float, int, np.float32]


def out_variants(shape, dt=np.float32):
    return [T(np.zeros(shape, dt)), T(np.zeros(shape, np.int64)), T(np.zeros((5,), dt)),
            T(np.zeros(shape, np.float64))]


IDX = T(np.array([[0, 1, 2, 0], [1, 2, 0, 1], [2, 2, 1, 0]], np.int64))
IDX1 = T(np.array([0, 2], np.int64))
MASK = T(F2 > 0)
EINS = "ij,jk->ik"

# Templates: (name, kind, args, kwargs, {slot -> variants}).  Slots are argument positions
# (ints) or kwarg names; variants replace that one slot.
class TVM:
    """Marker: the tensor variants of the slot's current value, plus extras."""
    def __init__(self, extra=()):
        self.extra = list(extra)
    def __add__(self, other):
        return TVM(self.extra + list(other))


TV = TVM()


def tmpl():
    L = []
    def add(name, kind, args, kwargs, slots):
        L.append((name, kind, args, kwargs, slots))
    for kind in ("fn", "method"):
        for n in ["sum", "mean", "prod", "amax", "amin", "nansum", "logsumexp", "std", "var", "count_nonzero", "all", "any", "norm"]:
            kw = {"dim": 1}
            if n not in ("count_nonzero",):
                kw["keepdim"] = True
            if n == "logsumexp":
                add(n, kind, [X, 1], {}, {0: TV, 1: DIMS, "keepdim": KEEPS})
                continue
            add(n, kind, [X], kw, {0: TV, "dim": DIMS, "keepdim": KEEPS})
            if n in ("sum", "mean", "prod", "nansum"):
                add(n, kind, [X], {"dim": 1, "dtype": D("float64")}, {0: TV, "dtype": DTYPES})
        for n in ["max", "min", "median", "mode", "argmax", "argmin", "nanmedian"]:
            add(n, kind, [X, 1], {"keepdim": False}, {0: TV, 1: DIMS, "keepdim": KEEPS})
        add("kthvalue", kind, [X, 2, 1], {}, {0: TV, 1: INTS, 2: DIMS})
        add("topk", kind, [X, 2], {"dim": 1, "largest": True}, {0: TV, 1: INTS, "dim": DIMS, "largest": KEEPS})
        for n in ["cumsum", "cumprod", "cummax", "cummin", "logcumsumexp", "softmax", "log_softmax"]:
            add(n, kind, [X, 1], {}, {0: TV, 1: DIMS})
        add("cumsum", kind, [X, 1], {"dtype": D("float64")}, {"dtype": DTYPES})
        add("softmax", kind, [X, 1], {"dtype": D("float64")}, {"dtype": DTYPES})
        add("sort", kind, [X], {"dim": 1, "descending": True}, {0: TV, "dim": DIMS, "descending": KEEPS})
        add("argsort", kind, [X], {"dim": 1, "descending": True}, {0: TV, "dim": DIMS, "descending": KEEPS})
        add("gather", kind, [X2, 1, IDX], {}, {0: TV, 1: DIMS, 2: TV})
        add("scatter", kind, [X2, 1, IDX, X2], {}, {0: TV, 1: DIMS, 2: TV, 3: TV + [2.0, 1]})
        add("scatter_add", kind, [X2, 1, IDX, X2], {}, {0: TV, 1: DIMS, 2: TV, 3: TV})
        add("index_select", kind, [X, 1, IDX1], {}, {0: TV, 1: DIMS, 2: TV})
        add("narrow", kind, [X, 1, 0, 2], {}, {0: TV, 1: DIMS, 2: INTS, 3: INTS})
        add("select", kind, [X, 1, 0], {}, {0: TV, 1: DIMS, 2: INTS})
        add("split", kind, [X, 2, 1], {}, {0: TV, 1: INTS + [[1, 2], (1, 2), [1, 1]], 2: DIMS})
        add("chunk", kind, [X, 2, 1], {}, {0: TV, 1: INTS, 2: DIMS})
        add("tensor_split", kind, [X, 2, 1], {}, {0: TV, 1: INTS + [[1, 2], (1, 2), IDX1], 2: DIMS})
        add("flatten", kind, [X, 0, 1], {}, {0: TV, 1: DIMS, 2: DIMS})
        add("unflatten", kind, [X, 2, (2, 2)], {}, {0: TV, 1: DIMS, 2: SIZES + [(-1, 2), (-1, -1)]})
        add("transpose", kind, [X, 0, 1], {}, {0: TV, 1: DIMS, 2: DIMS})
        add("movedim", kind, [X, 0, 1], {}, {0: TV, 1: DIMS, 2: DIMS})
        add("squeeze", kind, [X, 1], {}, {0: TV, 1: DIMS})
        add("unsqueeze", kind, [X, 1], {}, {0: TV, 1: DIMS})
        add("roll", kind, [X, 1, 1], {}, {0: TV, 1: INTS + [(1, 2)], 2: DIMS})
        add("flip", kind, [X, (0, 1)], {}, {0: TV, 1: DIMS})
        add("rot90", kind, [X, 1, (0, 1)], {}, {0: TV, 1: INTS, 2: DIMS})
        add("diagonal", kind, [X, 0, 1, 2], {}, {0: TV, 1: INTS, 2: DIMS, 3: DIMS})
        add("diag", kind, [X2, 1], {}, {0: TV, 1: INTS})
        add("tril", kind, [X2, 1], {}, {0: TV, 1: INTS})
        add("triu", kind, [X2, 1], {}, {0: TV, 1: INTS})
        add("clamp", kind, [X, -0.5, 0.5], {}, {0: TV, 1: [None, 1, True, T(np.float32(0.1)), X, "a"], 2: [None, 1, True, X]})
        add("pow", kind, [X, 2], {}, {0: TV, 1: TV + [0.5, -1, True, None]})
        add("div", kind, [X, 2], {"rounding_mode": "floor"}, {0: TV, 1: TV + [0, 0.0], "rounding_mode": ["trunc", None, "round", 1]})
        add("fmod", kind, [X, 2], {}, {0: TV, 1: TV + [0, 0.0, True]})
        add("remainder", kind, [X, 2], {}, {0: TV, 1: TV + [0, 0.0, True]})
        add("round", kind, [X], {"decimals": 1}, {0: TV, "decimals": INTS})
        add("masked_fill", kind, [X2, MASK, 1.0], {}, {0: TV, 1: TV, 2: [1, True, T(np.float32(2.0)), X2, None, 1j]})
        add("masked_select", kind, [X2, MASK], {}, {0: TV, 1: TV})
        add("index_add", kind, [X2, 0, IDX1, T(np.ones((2, 4), np.float32))], {}, {0: TV, 1: DIMS, 2: TV, 3: TV})
        add("index_copy", kind, [X2, 0, IDX1, T(np.ones((2, 4), np.float32))], {}, {0: TV, 1: DIMS, 2: TV, 3: TV})
        add("index_fill", kind, [X2, 0, IDX1, 2.0], {}, {0: TV, 1: DIMS, 2: TV, 3: [1, True, T(np.float32(2.0)), X2, None]})
        add("take", kind, [X2, IDX1], {}, {0: TV, 1: TV})
        add("take_along_dim", kind, [X2, IDX, 1], {}, {0: TV, 1: TV, 2: DIMS})
        add("nonzero", kind, [X2], {"as_tuple": False}, {0: TV, "as_tuple": KEEPS})
        add("diff", kind, [X], {"n": 1, "dim": 1}, {0: TV, "n": INTS, "dim": DIMS})
        add("cross", kind, [T(rng.randn(2, 3)), T(rng.randn(2, 3))], {"dim": 1}, {0: TV, 1: TV, "dim": DIMS})
        add("dist", kind, [X, X], {"p": 2}, {0: TV, 1: TV, "p": [0, 1, float("inf"), -1, "fro", None, True]})
        add("matmul", kind, [X2, T(F2.T.copy())], {}, {0: TV, 1: TV})
        add("mm", kind, [X2, T(F2.T.copy())], {}, {0: TV, 1: TV})
        add("bmm", kind, [X, T(F.transpose(0, 2, 1).copy())], {}, {0: TV, 1: TV})
        add("outer", kind, [T(F2[0]), T(F2[1])], {}, {0: TV, 1: TV})
        add("where", kind, [MASK, X2, 0.0], {}, {0: TV, 1: TV, 2: TV + [1, True, None]})
        add("bincount", kind, [T(np.array([0, 1, 1, 3]))], {"minlength": 2}, {0: TV, "minlength": INTS, "weights": TV})
        add("histc", kind, [X2], {"bins": 4, "min": -1, "max": 1}, {0: TV, "bins": INTS, "min": [2, None, True], "max": [-2, None]})
        add("unique", kind, [X2], {"sorted": True, "return_counts": True}, {0: TV, "dim": DIMS, "return_inverse": KEEPS})
        add("unique_consecutive", kind, [X2], {"return_counts": True}, {0: TV, "dim": DIMS})
        add("repeat_interleave", kind, [X2, 2], {"dim": 1}, {0: TV, 1: INTS + [IDX1, T(np.array([1, 2, 0, 1]))], "dim": DIMS})
        add("renorm", kind, [X2, 2, 0, 1.0], {}, {0: TV, 1: [0, -1, 1.5], 2: DIMS, 3: [0, -1]})
    for kind in ("method",):
        add("reshape", kind, [X, 6, 4], {}, {0: TV, 1: INTS, 2: INTS})
        add("reshape", kind, [X, (6, 4)], {}, {1: SIZES})
        add("view", kind, [X, (6, 4)], {}, {0: TV, 1: SIZES + [D("int32"), D("float64")]})
        add("permute", kind, [X, 2, 0, 1], {}, {1: DIMS, 2: DIMS})
        add("permute", kind, [X, (2, 0, 1)], {}, {1: DIMS + [(0, 1, 1), (0, 1), (0, 1, 2, 3)]})
        add("expand", kind, [T(F2[:1]), 3, 4], {}, {0: TV, 1: INTS, 2: INTS})
        add("expand", kind, [T(F2[:1]), (3, 4)], {}, {1: SIZES})
        add("repeat", kind, [X2, 2, 1], {}, {0: TV, 1: INTS, 2: INTS})
        add("repeat", kind, [X2, (2, 1)], {}, {1: SIZES})
        add("to", kind, [X, D("float64")], {}, {0: TV, 1: DTYPES + ["cpu", X2]})
        add("type", kind, [X, D("float64")], {}, {0: TV, 1: DTYPES + ["torch.DoubleTensor", "torch.IntTensor"]})
        for n in ["float", "double", "int", "long", "bool", "half", "byte", "short", "char", "cfloat"]:
            add(n, kind, [X], {}, {0: TV})
        add("new_zeros", kind, [X, (2, 3)], {}, {1: SIZES, "dtype": DTYPES})
        add("new_full", kind, [X, (2, 3), 1.5], {}, {1: SIZES, 2: [1, True, None, T(np.float32(2.0)), 1j], "dtype": DTYPES})
        add("new_tensor", kind, [X, [1, 2]], {}, {1: [[1.5], 3, True, X2, None, "a"], "dtype": DTYPES})
        add("item", kind, [X], {}, {0: TV})
        add("tolist", kind, [X], {}, {0: TV})
        add("size", kind, [X, 1], {}, {1: DIMS})
        add("dim", kind, [X], {}, {0: TV})
        add("numel", kind, [X], {}, {0: TV})
        add("put_", kind, [X2, IDX1, T(np.ones(2, np.float32))], {}, {0: TV, 1: TV, 2: TV})
        add("masked_fill_", kind, [X2, MASK, 1.0], {}, {0: TV, 1: TV, 2: [1, True, T(np.float32(2.0)), None]})
        add("fill_", kind, [X2, 1.0], {}, {0: TV, 1: [1, True, T(np.float32(2.0)), X2, None, 1j, "a"]})
        add("zero_", kind, [X2], {}, {0: TV})
        add("clamp_", kind, [X2, 0.0], {}, {0: TV, 1: [1, True, None, X2]})
        add("add_", kind, [X2, 1.0], {}, {0: TV, 1: TV + [1j]})
        add("mul_", kind, [X2, 1.0], {}, {0: TV, 1: TV + [1j]})
        add("div_", kind, [X2, 2], {}, {0: TV, 1: TV})
        add("copy_", kind, [X2, X2], {}, {0: TV, 1: TV})
        add("index_put_", kind, [X2, (IDX1,), T(np.float32(1.0))], {}, {0: TV, 1: [(IDX1, IDX1), IDX1, [IDX1], (MASK,)], 2: TV})
    # functions only
    kind = "fn"
    add("cat", kind, [[X, X], 1], {}, {0: [[X, X2], [X], [], X, (X, X), [X, T(np.zeros((0,), np.float32))], [X, T(F.astype(np.float64))], [X, T(F > 0)], [X, 1.0]], 1: DIMS})
    add("stack", kind, [[X, X], 1], {}, {0: [[X, X2], [X], [], X, (X, X), [X, T(F.astype(np.float64))], [X, 1.0]], 1: DIMS})
    for n in ["hstack", "vstack", "dstack", "column_stack", "row_stack"]:
        add(n, kind, [[X2, X2]], {}, {0: [[X2, X], [], X2, [X2, T(F2.astype(np.int64))], [X2, 1.0]]})
    add("cat", kind, [[X, X]], {"dim": 1, "out": T(np.zeros((2, 6, 4), np.float32))}, {"out": out_variants((2, 6, 4)) + [X]})
    add("sum", kind, [X, 1], {"out": T(np.zeros((2, 4), np.float32))}, {"out": out_variants((2, 4))})
    add("add", kind, [X2, X2], {"out": T(np.zeros((3, 4), np.float32))}, {"out": out_variants((3, 4)) + [X2, T(np.zeros((2, 3, 4), np.float32))], "alpha": [2, 0.5, True, None]})
    add("mul", kind, [X2, X2], {"out": T(np.zeros((3, 4), np.float32))}, {"out": out_variants((3, 4))})
    add("matmul", kind, [X2, T(F2.T.copy())], {"out": T(np.zeros((3, 3), np.float32))}, {"out": out_variants((3, 3))})
    add("exp", kind, [X2], {"out": T(np.zeros((3, 4), np.float32))}, {"out": out_variants((3, 4))})
    add("clamp", kind, [X2, 0.0], {"out": T(np.zeros((3, 4), np.float32))}, {"out": out_variants((3, 4))})
    add("where", kind, [MASK, X2, X2], {"out": T(np.zeros((3, 4), np.float32))}, {"out": out_variants((3, 4))})
    add("sort", kind, [X2], {"dim": 1}, {"stable": KEEPS})
    add("max", kind, [X2, X2], {}, {1: TV})
    add("full", kind, [(2, 3), 1.5], {}, {0: SIZES, 1: [1, True, None, T(np.float32(2.0)), 1j, "a", X2], "dtype": DTYPES})
    for n in ["zeros", "ones", "empty", "randn", "rand"]:
        add(n, kind, [(2, 3)], {}, {0: SIZES, "dtype": DTYPES, "requires_grad": KEEPS})
        add(n, kind, [2, 3], {}, {0: INTS, 1: INTS})
    add("zeros", kind, [(2, 3)], {"out": T(np.zeros((2, 3), np.float32))}, {"out": out_variants((2, 3))})
    add("arange", kind, [0, 5, 1], {}, {0: [0.5, -1, True, None, T(np.float32(1.0)), np.int64(1), 1j, "a"], 1: [5.5, -1, 0, None, float("inf"), float("nan"), T(np.int64(4))], 2: [0, -1, 0.5, 2.0, None], "dtype": DTYPES})
    add("linspace", kind, [0, 1, 5], {}, {0: [0.5, True, None, T(np.float32(1.0)), 1j], 1: [T(np.float32(1.0)), None, float("inf")], 2: INTS + [-1, 1.5], "dtype": DTYPES})
    add("logspace", kind, [0, 1, 5], {}, {0: [0.5, True, None, T(np.float32(1.0))], 2: INTS + [-1, 1.5], "base": [2, 0, -2, None], "dtype": DTYPES})
    add("eye", kind, [3], {}, {0: INTS + [-1, 0], "m": INTS + [-1, 0], "dtype": DTYPES})
    add("randint", kind, [0, 5, (2, 3)], {}, {0: [5, -1, 0.5, None], 1: [0, 5.5, None, -1], 2: SIZES, "dtype": DTYPES})
    add("normal", kind, [0.0, 1.0, (2, 3)], {}, {0: [X2, 1, None], 1: [-1.0, 0, X2, None], 2: SIZES})
    add("normal", kind, [X2, 1.0], {}, {0: TV, 1: [-1.0, X2, T(np.ones(5, np.float32))]})
    add("multinomial", kind, [T(np.array([0.2, 0.3, 0.5], np.float32)), 2], {}, {0: TV + [T(np.array([-1.0, 1, 1])), T(np.zeros(3))], 1: INTS + [5], "replacement": KEEPS})
    add("nn.functional.one_hot", kind, [T(np.array([0, 2, 1]))], {"num_classes": 3}, {0: TV + [T(np.array([0, -1]))], "num_classes": INTS + [-1, 1]})
    add("searchsorted", kind, [T(np.array([1.0, 2, 3], np.float32)), X2], {}, {0: TV, 1: TV + [1.0, 2], "right": KEEPS, "side": ["left", "right", "a", None], "out_int32": KEEPS})
    add("bucketize", kind, [X2, T(np.array([-1.0, 0, 1], np.float32))], {}, {0: TV + [1.0], 1: TV, "right": KEEPS, "out_int32": KEEPS})
    add("einsum", kind, ["ij,jk->ik", X2, T(F2.T.copy())], {}, {0: ["ij,jk", "ij,jk->", "ij->ij", "ij,kl->il", "i j , j k -> i k", "...j,jk->...k", "ij,jj->ij", "ii,jk->ik", "ij,jk->iik", 1, "ab,bc->ac"], 1: TV, 2: TV})
    add("einsum", kind, ["ij,jk->ik", [X2, T(F2.T.copy())]], {}, {1: [[X2], (X2, X2), [X2, X2]]})
    add("tensordot", kind, [X2, T(F2.T.copy())], {"dims": 1}, {0: TV, 1: TV, "dims": [0, 2, -1, ([1], [0]), ([1], [1]), [[1], [0]], (1, 0), 1.5, Scal(1), None, ([1, 1], [0, 0])]})
    add("take_along_dim", kind, [X2, IDX], {}, {1: TV})
    add("broadcast_to", kind, [X2, (2, 3, 4)], {}, {0: TV, 1: SIZES + [(-1, 4), (2, -1, 4), (4, 3)]})
    add("atleast_2d", kind, [X2], {}, {0: TV + [[X2, X2]]})
    add("meshgrid", kind, [T(F2[0]), T(F2[1])], {"indexing": "ij"}, {0: TV, "indexing": ["xy", "a", None]})
    add("cartesian_prod", kind, [T(F2[0]), T(F2[1])], {}, {0: TV, 1: TV})
    add("block_diag", kind, [X2, X2], {}, {0: TV, 1: TV})
    add("cdist", kind, [X2, X2], {}, {0: TV, 1: TV, "p": [0, 1, -1, float("inf")]})
    add("trace", kind, [X2], {}, {0: TV})
    add("kron", kind, [X2, X2], {}, {0: TV, 1: TV})
    add("clone", kind, [X2], {}, {0: TV, "memory_format": [D("contiguous_format"), None]})
    add("chunk", kind, [X2, 0], {}, {})
    add("numel", kind, [X2], {}, {0: TV})
    add("is_tensor", kind, [X2], {}, {0: TV})
    add("is_floating_point", kind, [X2], {}, {0: TV})
    add("result_type", kind, [X2, 1.0], {}, {0: TV, 1: TV + [1, True, 1j]})
    add("can_cast", kind, [D("float32"), D("int64")], {}, {0: DTYPES, 1: DTYPES})
    add("promote_types", kind, [D("float32"), D("int64")], {}, {0: DTYPES, 1: DTYPES})
    add("zeros_like", kind, [X2], {}, {0: TV, "dtype": DTYPES})
    add("full_like", kind, [X2, 2], {}, {0: TV, 1: [1.5, True, None, 1j, X2], "dtype": DTYPES})
    add("as_tensor", kind, [[1, 2]], {}, {0: [[1.5, 2], [[1], [2, 3]], [], "a", None, X2, [X2, X2], [T(np.float32(1)), T(np.float32(2))], (1, 2.5), [True, 1], [1, 1j]], "dtype": DTYPES})
    add("tensor", kind, [[1, 2]], {}, {0: [[1.5, 2], [[1], [2, 3]], [], "a", None, X2, [X2, X2], [T(np.float32(1)), T(np.float32(2))], (1, 2.5), [True, 1], [1, 1j], 2**63, [2**63], np.float32(1), [np.float32(1), 2]], "dtype": DTYPES})
    return L


TEMPLATES = tmpl()


def cases_of(t):
    name, kind, args, kwargs, slots = t
    yield (name, kind, list(args), dict(kwargs))
    for slot, variants in slots.items():
        if isinstance(variants, TVM):
            cur = args[slot] if isinstance(slot, int) else kwargs.get(slot, X)
            variants = tensor_variants(cur if isinstance(cur, T) else X) + variants.extra
        for v in variants:
            a, k = list(args), dict(kwargs)
            if isinstance(slot, int):
                if slot >= len(a):
                    continue
                a[slot] = v
            else:
                k[slot] = v
            yield (name, kind, a, k)


def _fix_tv(t):
    # "TV + [..]" concatenations were built as strings+lists; normalise
    return t


def all_cases():
    out = []
    for t in TEMPLATES:
        out.extend(cases_of(t))
    return out


def random_cases(n, seed):
    """Cases with two or three slots mutated at once."""
    r = random.Random(seed)
    out = []
    for _ in range(n):
        name, kind, args, kwargs, slots = r.choice(TEMPLATES)
        a, k = list(args), dict(kwargs)
        keys = list(slots)
        if not keys:
            continue
        for slot in r.sample(keys, min(len(keys), r.randint(1, 3))):
            variants = slots[slot]
            if isinstance(variants, TVM):
                cur = a[slot] if isinstance(slot, int) else k.get(slot, X)
                variants = tensor_variants(cur if isinstance(cur, T) else X) + variants.extra
            v = r.choice(variants)
            if isinstance(slot, int):
                if slot < len(a):
                    a[slot] = v
            else:
                k[slot] = v
        out.append((name, kind, a, k))
    return out


# Still open (function|call kind|disagreement), to shrink as they are fixed. Not copied on
# purpose: x.type() names minigrad's own class ('minigrad.FloatTensor', documented in
# Tensor.type), where PyTorch names 'torch.FloatTensor'.
KNOWN_LEFT = set("""
type|method|result
""".split())


def _key(case, found):
    return f"{case[0]}|{case[1]}|{found[0]}"


def _check(cases, parser_order=True):
    """``parser_order`` False: pass over a torch TypeError met by another minigrad error (with
    several bad arguments, PyTorch's parser refuses the wrong type before any other check;
    minigrad's checks run in the op's order; not yet matched)."""
    bad = []
    for case in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = compare(case)
        if (found and not parser_order and found[0] in ("errtype", "mg-accepts")
                and found[1].startswith("torch TypeError")):
            continue
        if found and _key(case, found) not in KNOWN_LEFT:
            bad.append(f"{case[0]}[{case[1]}] args={case[2]} kw={case[3]}: {found}")
    assert not bad, f"{len(bad)} disagreements:\n" + "\n".join(bad[:40])


CASES = all_cases()


@pytest.mark.parametrize("part", range(8))
def test_single_slot_mutations(part):
    _check(CASES[part::8])


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_multi_slot_mutations(seed):
    _check(random_cases(1500, seed), parser_order=False)


# ----------------------------------------------------------------------------------------------
# Regressions: each a defect the fuzzer found, fixed (the call must agree with PyTorch)
# ----------------------------------------------------------------------------------------------
_F = np.random.RandomState(1).randn(2, 3, 4).astype(np.float32)
REGRESSIONS = [
    # a 0-d integer tensor as a dim or a size (PyTorch reads its value)
    ("sum", "fn", [T(_F)], {"dim": Scal(1)}),
    ("softmax", "method", [T(_F), Scal(-1)], {}),
    ("gather", "fn", [T(_F[0]), Scal(1), IDX], {}),
    ("zeros", "fn", [(Scal(2), 3)], {}),
    ("zeros", "fn", [Scal(2), 3], {}),
    ("split", "fn", [T(_F), Scal(2), 1], {}),
    ("chunk", "method", [T(_F), Scal(2), 1], {}),
    ("movedim", "fn", [T(_F), Scal(1), 0], {}),
    ("movedim", "fn", [T(_F), np.int64(1), 0], {}),
    ("roll", "fn", [T(_F), Scal(1), 1], {}),
    ("roll", "fn", [T(_F), np.int64(1), 1], {}),
    ("roll", "fn", [T(_F), 1, ()], {}),
    ("flip", "method", [T(_F), Scal(1)], {}),
    ("kthvalue", "fn", [T(_F), Scal(2), 1], {}),
    # a flag that is no bool, an int that is a bool or float
    ("sum", "fn", [T(_F)], {"dim": 1, "keepdim": 1}),
    ("amax", "method", [T(_F)], {"dim": 1, "keepdim": 0}),
    ("max", "method", [T(_F), 1], {"keepdim": 1}),
    ("argmax", "fn", [T(_F), 1], {"keepdim": 1}),
    ("std", "fn", [T(_F)], {"dim": 1, "keepdim": 1}),
    ("median", "method", [T(_F), 1], {"keepdim": 1}),
    ("sort", "fn", [T(_F)], {"descending": 1}),
    ("topk", "fn", [T(_F), True], {}),
    ("topk", "fn", [T(_F), 2], {"largest": 1}),
    ("kthvalue", "method", [T(_F), 2.0, 1], {}),
    ("chunk", "fn", [T(_F), True, 1], {}),
    ("tril", "fn", [T(_F), 2.0], {}),
    ("diag", "method", [T(_F[0]), 1.0], {}),
    ("diagonal", "fn", [T(_F), True, 1, 2], {}),
    ("roll", "method", [T(_F), True, 1], {}),
    ("logsumexp", "fn", [T(_F), None], {}),
    # lists (not tensors) as a tensor argument
    ("amax", "fn", [T(_F, "list")], {"dim": 1}),
    ("median", "fn", [T(_F, "list"), 1], {}),
    ("cumsum", "fn", [T(_F, "list"), 1], {}),
    ("sort", "fn", [T(_F, "list")], {}),
    ("flatten", "fn", [T(_F, "list")], {}),
    ("transpose", "fn", [T(_F, "list"), 0, 1], {}),
    ("diag", "fn", [T(_F[0], "list")], {}),
    ("gather", "fn", [T(_F[0]), 1, T(IDX.a, "list")], {}),
    ("index_select", "method", [T(_F), 1, T(IDX1.a, "list")], {}),
    ("index_add", "method", [T(_F[0]), 0, IDX1, T(np.ones((2, 4), np.float32), "list")], {}),
    ("all", "fn", [T(_F, "list")], {"dim": 1}),
    # shapes and dims
    ("count_nonzero", "fn", [T(_F)], {"dim": ()}),
    ("squeeze", "fn", [T(_F[:, :1]), (1, 1)], {}),
    ("unflatten", "method", [T(_F), 2, 2], {}),
    # out= of another dtype: PyTorch reduces in out's dtype
    ("sum", "fn", [T(_F), 1], {"out": T(np.zeros((2, 4), np.int64))}),
    ("cumsum", "fn", [T(_F), 1], {"out": T(np.zeros((2, 3, 4), np.int64))}),
    # a dtype given by name or as a numpy type (PyTorch's parser takes only torch.dtype)
    ("sum", "fn", [T(_F)], {"dim": 1, "dtype": "float"}),
    ("mean", "method", [T(_F)], {"dim": 1, "dtype": np.float32}),
    ("zeros", "fn", [(2, 3)], {"dtype": "float32"}),
    ("tensor", "fn", [[1, 2]], {"dtype": "float"}),
    ("full_like", "fn", [T(_F), 2], {"dtype": np.float64}),
    ("nansum", "fn", [T(_F)], {"dim": 1, "dtype": "float"}),
    # nansum in a small dtype keeps it; complex only for a non-float input
    ("nansum", "fn", [T(_F)], {"dim": 1, "dtype": D("bool")}),
    ("nansum", "fn", [T(_F * 10)], {"dim": 1, "dtype": D("uint8")}),
    ("nansum", "fn", [T(_F)], {"dim": 1, "dtype": D("complex64")}),
    ("nansum", "fn", [T(_F > 0)], {"dim": 1, "dtype": D("complex64")}),
    # flags and ints: an int requires_grad, a bool dim, float k / num_samples, None dims
    ("zeros", "fn", [(2, 3)], {"requires_grad": 1}),
    ("ones", "fn", [(2, 3)], {"requires_grad": None}),
    ("multinomial", "fn", [T(np.ones(3, np.float32)), 2], {"replacement": 1}),
    ("multinomial", "fn", [T(np.ones(3, np.float32)), 2.0], {}),
    ("nonzero", "fn", [T(_F)], {"as_tuple": 1}),
    ("sort", "fn", [T(_F[0])], {"dim": 1, "stable": 1}),
    ("unique", "fn", [T(_F[0])], {"return_inverse": 1}),
    ("searchsorted", "fn", [T(np.arange(3, dtype=np.float32)), T(_F[0])], {"right": 1}),
    ("std", "fn", [T(_F)], {"dim": True, "keepdim": True}),
    ("round", "method", [T(_F)], {"decimals": True}),
    ("round", "fn", [T(_F)], {"decimals": None}),
    ("diff", "fn", [T(_F)], {"n": True, "dim": 1}),
    ("rot90", "fn", [T(_F), 2.0, (0, 1)], {}),
    ("rot90", "method", [T(_F), 1, "a"], {}),
    ("repeat_interleave", "fn", [T(_F[0]), 2.0], {"dim": 1}),
    ("repeat_interleave", "fn", [T(_F[0]), None], {"dim": 1}),
    ("max", "fn", [T(_F), None], {"keepdim": False}),
    ("median", "method", [T(_F), None], {"keepdim": False}),
    ("prod", "fn", [T(_F)], {"dim": None, "keepdim": True}),
    ("softmax", "fn", [T(_F), None], {}),
    ("log_softmax", "method", [T(_F), None], {}),
    ("size", "method", [T(_F), True], {}),
    ("size", "method", [T(_F), 1.0], {}),
    ("size", "method", [T(_F), Scal(1)], {}),
    ("histc", "fn", [T(_F[0])], {"bins": Scal(2), "min": -1, "max": 1}),
    ("bincount", "fn", [T(np.array([0, 1, 1, 3], np.int64))], {"minlength": Scal(2)}),
    ("bincount", "fn", [T(np.array([0, 1, 1, 3], np.int64))],
     {"weights": T(np.ones(4, np.float32), "list")}),
    # a bool after the first size reads as 0 or 1
    ("zeros", "fn", [2, True], {}),
    ("randn", "fn", [2, False], {}),
    ("repeat", "method", [T(_F[0]), 2, True], {}),
    ("reshape", "method", [T(_F), 6, True], {}),
    ("permute", "method", [T(_F), 2, True, 1], {}),
    # creation arguments
    ("full", "fn", [2, 1.5], {}),
    ("full", "fn", [(2, 3), T(_F[0])], {}),
    ("arange", "fn", [0, float("inf"), 1], {}),
    ("arange", "fn", [0, float("nan"), 1], {}),
    ("arange", "fn", [None, 5, 1], {}),
    ("arange", "fn", [0, None, 1], {}),
    ("linspace", "fn", [None, 1, 5], {}),
    ("logspace", "fn", [0, 1, 2.0], {}),
    ("eye", "fn", [3], {"m": None}),
    ("randint", "fn", [0.5, 5, (2, 3)], {}),
    ("randint", "fn", [0, None, (2, 3)], {}),
    ("randint", "fn", [0, 5, 2], {}),
    ("randint", "fn", [0, 5, (2, 3)], {"dtype": D("bool")}),
    ("randint", "fn", [0, 5, (2, 3)], {"dtype": D("complex64")}),
    ("normal", "fn", [T(_F[0]), 1.0, (2, 3)], {}),
    ("normal", "fn", [T(_F[0] > 0), 1.0], {}),
    ("normal", "fn", [T(_F[0]), -1.0], {}),
    ("normal", "fn", [T(_F[0]), T(np.ones(5, np.float32))], {}),
    # numpy arrays where PyTorch's named ops take only tensors
    ("gather", "method", [T(_F[0]), 1, T(IDX.a, "numpy")], {}),
    ("scatter", "fn", [T(_F[0]), 1, T(IDX.a, "numpy"), T(_F[0])], {}),
    ("scatter", "fn", [T(_F[0]), 1, IDX, T(_F[0], "list")], {}),
    ("index_select", "fn", [T(_F), 1, T(IDX1.a, "numpy")], {}),
    ("index_copy", "method", [T(_F[0]), 0, T(IDX1.a, "numpy"), T(_F[0, :2])], {}),
    ("index_fill", "fn", [T(_F[0]), 0, T(IDX1.a, "numpy"), 2.0], {}),
    ("take", "method", [T(_F[0]), T(IDX1.a, "numpy")], {}),
    ("take_along_dim", "fn", [T(_F[0]), IDX, 1], {}),
    ("masked_fill", "fn", [T(_F[0]), T(_F[0] > 0, "numpy"), 1.0], {}),
    ("masked_select", "fn", [T(_F[0]), T(_F[0] > 0, "numpy")], {}),
    ("pow", "fn", [T(_F), T(_F, "numpy")], {}),
    ("fmod", "fn", [T(_F), T(_F, "numpy")], {}),
    ("remainder", "fn", [T(_F), T(_F, "numpy")], {}),
    ("div", "fn", [T(_F), T(_F, "numpy")], {"rounding_mode": "floor"}),
    ("add_", "method", [T(_F[0]), T(_F, "numpy")], {}),
    ("mul_", "method", [T(_F[0]), T(_F[0], "numpy")], {}),
    ("copy_", "method", [T(_F[0]), T(_F[0], "numpy")], {}),
    ("copy_", "method", [T(_F[0]), T(_F[0], "list")], {}),
    ("where", "method", [T(_F[0] > 0), T(_F[0]), T(_F, "numpy")], {}),
    # div with rounding: a number first operand is a tensor; complex has no kernel
    ("div", "fn", [2.5, 2], {"rounding_mode": "floor"}),
    ("div", "fn", [True, 2], {"rounding_mode": "trunc"}),
    ("div", "fn", [T(_F.astype(np.complex64)), 2], {"rounding_mode": "floor"}),
    ("div", "fn", [T(_F), 2], {"rounding_mode": 1}),
    # lists (not tensors) as tensor arguments of more ops
    ("cummax", "fn", [T(_F, "list"), 1], {}),
    ("scatter", "fn", [T(_F[0], "list"), 1, IDX, T(_F[0])], {}),
    ("tensor_split", "fn", [T(_F, "list"), 2, 1], {}),
    ("rot90", "fn", [T(_F, "list"), 1, (0, 1)], {}),
    ("round", "fn", [T(_F, "list")], {"decimals": 1}),
    ("masked_select", "fn", [T(_F[0]), T(_F[0] > 0, "list")], {}),
    ("index_copy", "fn", [T(_F[0]), 0, IDX1, T(_F[0, :2], "list")], {}),
    ("take", "fn", [T(_F[0], "list"), IDX1], {}),
    ("nonzero", "fn", [T(_F, "list")], {}),
    ("cross", "method", [T(_F[:, :, :3]), T(_F[:, :, :3], "list")], {"dim": 2}),
    ("dist", "fn", [T(_F, "list"), T(_F)], {"p": 2}),
    ("matmul", "method", [T(_F[0]), T(_F[0].T, "list")], {}),
    ("mm", "fn", [T(_F[0], "list"), T(_F[0].T)], {}),
    ("bmm", "method", [T(_F), T(_F.transpose(0, 2, 1), "list")], {}),
    ("outer", "fn", [T(_F[0, 0]), T(_F[0, 0], "list")], {}),
    ("histc", "fn", [T(_F[0], "list")], {"bins": 4, "min": -1, "max": 1}),
    ("repeat_interleave", "fn", [T(_F[0], "list"), 2], {"dim": 1}),
    ("renorm", "fn", [T(_F[0], "list"), 2, 0, 1.0], {}),
    ("multinomial", "fn", [T(np.ones(3, np.float32), "list"), 2], {}),
    ("searchsorted", "fn", [T(np.arange(3, dtype=np.float32), "list"), T(_F[0])], {}),
    ("bucketize", "fn", [T(_F[0]), T(np.arange(3, dtype=np.float32), "list")], {}),
    ("einsum", "fn", [1, T(_F[0]), T(_F[0].T)], {}),
    ("einsum", "fn", ["ij,jk->ik", T(_F[0], "list"), T(_F[0].T)], {}),
    ("cartesian_prod", "fn", [T(_F[0, 0]), T(_F[0, 0], "list")], {}),
    ("block_diag", "fn", [T(_F[0], "list"), T(_F[0])], {}),
    ("cdist", "fn", [T(_F[0]), T(_F[0], "list")], {}),
    ("trace", "fn", [T(_F[0], "list")], {}),
    ("kron", "fn", [T(_F[0], "list"), T(_F[0])], {}),
    ("clone", "fn", [T(_F[0], "list")], {}),
    ("zeros_like", "fn", [T(_F[0], "list")], {}),
    ("full_like", "fn", [T(_F[0], "list"), 2], {}),
    ("where", "fn", [T(_F[0] > 0, "list"), T(_F[0]), 0.0], {}),
    ("where", "fn", [1.0, T(_F[0]), 0.0], {}),
    # order of checks and error types
    ("index_copy", "fn", [T(np.float32(1.0)), 0, IDX1, T(_F[0, :2])], {}),
    ("index_copy", "fn", [T(_F[0]), 1, IDX1, T(_F[0, :2])], {}),
    ("masked_select", "fn", [T(np.zeros((0, 3), np.float32)), T(_F[0] > 0)], {}),
    ("movedim", "fn", [T(_F), (0, 1), 1], {}),
    ("clamp", "fn", [T(_F), T(_F), 0.5], {}),
    ("clamp_", "method", [T(_F[0]), None], {}),
    ("fill_", "method", [T(_F[0]), None], {}),
    ("fill_", "method", [T(_F[0]), "a"], {}),
    # found by the multi-slot sweep: a complex number into bool, check order
    ("full_like", "fn", [T(_F[0] > 0), 1j], {}),
    ("fill_", "method", [T(_F[0] > 0), 1j], {}),
    ("tensor", "fn", [[1, 1j]], {"dtype": D("bool")}),
    ("logcumsumexp", "fn", [T(_F.astype(np.int64)), 5], {}),
    ("logcumsumexp", "method", [T(_F.astype(np.uint8)), [0, 1]], {}),
    ("bincount", "fn", [T(np.array([0, 1, 1, 3], np.int64))], {"minlength": -1, "weights": 2.0}),
    ("pow", "fn", [T(_F, "numpy"), T(np.float32(2.0))], {}),
    ("logspace", "fn", [0, 1, 1], {"dtype": D("bool")}),
    ("logspace", "fn", [0, 1, 5], {"dtype": D("bool")}),
    ("arange", "fn", [1j, 5.5, 1], {"dtype": D("int64")}),
    ("arange", "fn", [1 + 0j, 5, 1], {}),
    ("arange", "fn", [1j, 5, 1], {"dtype": D("complex64")}),
    # out= of another dtype where PyTorch wants the result's dtype exactly
    ("matmul", "fn", [T(_F[0]), T(_F[0].T)], {"out": T(np.zeros((3, 3), np.float64))}),
    ("clamp", "fn", [T(_F[0]), 0.0], {"out": T(np.zeros((3, 4), np.float64))}),
    ("where", "fn", [T(_F[0] > 0), T(_F[0]), T(_F[0])], {"out": T(np.zeros((3, 4), np.float64))}),
    # round 10: the KNOWN_LEFT entries closed. No tensor where a function takes only one
    ("atleast_2d", "fn", [T(_F, "numpy")], {}),
    ("atleast_3d", "fn", [[T(_F), 1.0]], {}),
    ("atleast_1d", "fn", [T(_F), T(_F, "list")], {}),
    ("broadcast_to", "fn", [T(_F[0], "list"), (2, 3, 4)], {}),
    ("broadcast_to", "fn", [T(_F[0]), 4], {}),
    ("broadcast_to", "method", [T(_F[0]), 2, 3, 4], {}),
    ("numel", "fn", [T(_F, "numpy")], {}),
    ("is_floating_point", "fn", [T(np.array(2.5), "scalar")], {}),
    ("meshgrid", "fn", [T(_F[0, 0]), T(_F[0, 0], "list")], {"indexing": "xy"}),
    ("where", "fn", [T(_F[0] > 0, "numpy"), T(_F[0]), 0.0], {}),
    ("where", "fn", [T(_F[0] > 0), T(_F[0], "numpy"), 0.0], {}),
    ("where", "fn", [T(_F[0] > 0), 1.0, T(_F[0], "list")], {}),
    ("split", "fn", [T(_F, "numpy"), 2, 1], {}),
    # meshgrid of mixed dtypes; where with a uint8 condition (deprecated: it warns, and works)
    ("meshgrid", "fn", [T(_F[0, 0]), T(_F[0, 0].astype(np.float64))], {"indexing": "ij"}),
    ("where", "fn", [T((_F[0] > 0).astype(np.uint8)), T(_F[0]), 0.0], {}),
    ("where", "method", [T(_F[0]), T((_F[0] > 0).astype(np.uint8)), 0.0], {}),
    # flip: the function takes a sequence of dims only, the method one int-like dim too
    ("flip", "fn", [T(_F), 0], {}),
    ("flip", "fn", [T(_F), Scal(0)], {}),
    ("flip", "fn", [T(_F), (np.int64(1), Scal(0))], {}),
    ("flip", "method", [T(_F), np.int64(1)], {}),
    ("flip", "method", [T(_F), 1.0], {}),
    ("flip", "method", [T(_F), None], {}),
    # max/min(x, 0-d integer tensor): elementwise, unless keepdim is given (then it is a dim)
    ("max", "fn", [T(_F), Scal(1)], {"keepdim": True}),
    ("min", "method", [T(_F), Scal(1), False], {}),
    ("max", "fn", [T(_F), Scal(1)], {}),
    ("max", "fn", [T(_F), T(np.float32(1.0))], {"keepdim": False}),
    ("min", "fn", [T(_F), T(np.array([1]))], {"keepdim": False}),
    # factories with out=: written in out's dtype, resized silently, returned
    ("zeros", "fn", [(2, 3)], {"out": T(np.zeros((5,), np.int64))}),
    ("ones", "fn", [2, 3], {"out": T(np.zeros((2, 3), np.float32)), "dtype": D("float64")}),
    ("full", "fn", [(2, 3), 1.5], {"out": T(np.zeros((2, 3), np.int32))}),
    ("arange", "fn", [5], {"out": T(np.zeros((0,), np.float64))}),
    ("arange", "fn", [0, 5, 0.5], {"out": T(np.zeros((0,), np.int64))}),
    ("linspace", "fn", [0, 4, 5], {"out": T(np.zeros((5,), np.int64))}),
    ("logspace", "fn", [0, 2, 3], {"out": T(np.zeros((3,), np.float64))}),
    ("eye", "fn", [3, 2], {"out": T(np.zeros((1,), bool))}),
    ("zeros", "fn", [(2, 3)], {"out": [1.0]}),
    # the harness's memory formats, and float arguments equal to themselves (inf)
    ("clone", "fn", [T(_F)], {"memory_format": D("contiguous_format")}),
    ("cdist", "fn", [T(_F[0]), T(_F[0])], {"p": float("inf")}),
    # a complex source into a real tensor: the real part; into a bool one: nonzero
    ("copy_", "method", [T(_F[0]), T(_F[0].astype(np.complex64))], {}),
    ("copy_", "method", [T(_F[0] > 0), T((_F[0] * 1j).astype(np.complex64))], {}),
    ("to", "method", [T(np.array([1j, 0], np.complex64)), D("bool")], {}),
    # None where PyTorch's parser has no default
    ("squeeze", "method", [T(_F[:, :1]), None], {}),
    ("squeeze", "fn", [T(_F[:, :1])], {"dim": None}),
    ("view", "method", [T(_F), None], {}),
    ("unflatten", "method", [T(_F), 5, None], {}),
    ("unflatten", "fn", [T(_F), 2, None], {}),
    # PyTorch's Python code: norm's 'fro' path takes len(dim), split reads a numpy int as a
    # list of sizes
    ("norm", "fn", [T(_F)], {"dim": np.int64(1)}),
    ("norm", "method", [T(_F)], {"dim": Scal(1), "keepdim": True}),
    ("norm", "fn", [T(_F)], {"p": 2, "dim": np.int64(1)}),
    ("norm", "fn", [T(_F)], {"dim": T(np.array([1]))}),
    ("split", "fn", [T(_F), np.int64(1), 1], {}),
    ("split", "method", [T(_F), 1.0], {}),
    ("split", "method", [T(_F), Scal(2), 1], {}),
    # new_tensor / tensor with a dtype: None or a str is no number of it
    ("new_tensor", "method", [T(_F), None], {}),
    ("new_tensor", "method", [T(_F), "a"], {}),
    ("new_tensor", "method", [T(_F), [1, None]], {"dtype": D("int64")}),
    ("tensor", "fn", [None], {"dtype": D("bool")}),
    ("tensor", "fn", [np.array(["a"])], {"dtype": D("float32")}),
    ("as_tensor", "fn", [[None]], {"dtype": D("complex64")}),
]


@pytest.mark.parametrize("case", REGRESSIONS, ids=lambda c: f"{c[0]}-{c[1]}")
def test_regression(case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert compare(case) is None


# ----------------------------------------------------------------------------------------------
# Regressions outside the call templates (each against PyTorch)
# ----------------------------------------------------------------------------------------------
def _both(fn):
    """fn(lib) in both libraries: the values (as lists) or the exception types."""
    out = []
    for lib in (torch, minigrad):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fn(lib)
            out.append(r.tolist() if hasattr(r, "tolist") else r)
        except Exception as e:          # noqa: BLE001 - the type is what is compared
            out.append(type(e))
    return out


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=1e-6, atol=1e-6, equal_nan=True)


def test_operators_still_take_numpy_arrays():
    # the named ops refuse an array (above); PyTorch's operators convert one
    a = np.arange(1.0, 13.0).reshape(3, 4)
    for op in (lambda x: x ** a, lambda x: x % a, lambda x: x // a, lambda x: 7.0 // x):
        t, m = _both(lambda lib: op(lib.ones(3, 4) * 2))
        _close(t, m)


@pytest.mark.parametrize("op", ["pow", "mod", "floordiv"])
def test_array_on_the_left_of_an_operator_is_refused(op):
    # numpy defers to the tensor's reflected operator, which PyTorch refuses for an array
    a = np.full((2, 2), 2.0)
    fn = {"pow": lambda x: a ** x, "mod": lambda x: a % x, "floordiv": lambda x: a // x}[op]
    t, m = _both(lambda lib: fn(lib.ones(2, 2)))
    assert t is TypeError and m is TypeError


def test_inplace_numpy_operand_of_operator_is_converted():
    def run(lib):
        x = lib.ones(3, 4)
        x *= np.full((3, 4), 2.0, np.float32)
        return x
    t, m = _both(run)
    _close(t, m)


def test_write_through_view_gives_zero_gradient_where_overwritten_even_for_nan():
    def run(lib):
        p = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        q = p * 1.0
        q[1] = 5.0
        (q * lib.tensor([float("nan"), float("nan"), 1.0])).sum().backward()
        return p.grad
    t, m = _both(run)
    _close(t, m)


def test_as_strided_on_column_major_memory():
    def run(lib):
        y = lib.arange(6.0).reshape(2, 3).t() * 1.0      # column-major in both libraries
        y.as_strided_((2, 2), (1, 2))
        return y
    t, m = _both(run)
    _close(t, m)

    def run3(lib):
        a = lib.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1) * 1.0
        return a.as_strided((4,), (5,), 2)
    t, m = _both(run3)
    _close(t, m)

    def grad(lib):
        b = lib.arange(6.0, requires_grad=True)
        (b.reshape(2, 3).t() * 1.0).as_strided((3,), (2,), 1).sum().backward()
        return b.grad
    t, m = _both(grad)
    _close(t, m)


@pytest.mark.parametrize("name", ["cov", "corrcoef"])
def test_cov_refuses_bool(name):
    t, m = _both(lambda lib: getattr(lib, name)(lib.tensor([[True, False, True]])))
    assert t is RuntimeError and m is RuntimeError


def test_dtype_string_in_to_and_type_names():
    # a legacy type name still converts; a dtype name is no dtype
    t, m = _both(lambda lib: lib.zeros(2).type(f"{lib.__name__}.LongTensor").dtype ==
                 lib.int64)
    assert t is True and m is True
    t, m = _both(lambda lib: lib.ones(2).new_zeros((2,), dtype="float"))
    assert t is TypeError and m is TypeError
