"""Round-17 tensor-semantics fuzzing: differences from PyTorch found by running both side by
side, each case here run against torch in the test.

* result strides of pointwise ops on non-row-major inputs (transposed, channels-last,
  sliced, expanded, size-1 dims with strides of their own): TensorIterator's layout exactly;
* numpy's reductions on a tensor (``np.sum(t)``, ``np.std(t)``...): the TypeError PyTorch's
  methods give for numpy's ``out=`` keyword;
* comparison functions and methods refusing a numpy array or a list as ``other``;
* writes through read-only memory (``frombuffer`` of bytes, ``from_numpy`` of a read-only
  array): PyTorch warns once, then writes;
* the complex-to-real cast warning: once a process;
* ``grad_fn._saved_other`` of a Python number operand: the number's own dtype;
* ``nn.ModuleList.insert``: PyTorch's steps for any index and any object;
* the deprecated ``register_backward_hook``: PyTorch's FutureWarnings;
* a lazy module's uninitialized parameter refusing to be computed with.
"""
import random
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import minigrad

LIBS = (torch, minigrad)


def _outcome(fn):
    """('ok', value) or (exception type name, message with torch's names made minigrad's)."""
    try:
        return "ok", fn()
    except Exception as e:      # noqa: BLE001  (the type is what is compared)
        text = re.sub(r" at 0x[0-9a-f]+", "", str(e))
        return type(e).__name__, text.replace("torch._C.TensorBase", "minigrad.Tensor") \
            .replace("torch.nn.", "minigrad.nn.").replace("PyTorch", "minigrad")


def _same_outcome(fn):
    a, b = (_outcome(lambda lib=lib: fn(lib)) for lib in LIBS)
    assert a[0] == b[0], (a, b)
    if a[0] != "ok":
        assert a[1] == b[1]
    return a, b


# ------------------------------------------------------------------------------------------
# 1. strides of pointwise results
# ------------------------------------------------------------------------------------------
_VIEWS = {
    "transposed": lambda L, x: x.transpose(0, -1),
    "unsqueezed-transposed": lambda L, x: x.unsqueeze(1).transpose(0, -1),
    "channels-last": lambda L, x: x.contiguous(memory_format=L.channels_last),
    "stepped": lambda L, x: x[::2],
    "stepped-inner": lambda L, x: x[:, ::2],
    "expanded": lambda L, x: x[:1].expand(3, *x.shape[1:]),
    "permuted": lambda L, x: x.permute(2, 0, 3, 1),
    "front-transposed": lambda L, x: x.transpose(0, 1),
}
_UNARY = {
    "exp": lambda L, x: x.exp(), "abs": lambda L, x: x.abs(), "sqrt": lambda L, x: x.sqrt(),
    "floor": lambda L, x: x.floor(), "sign": lambda L, x: x.sign(),
    "sigmoid": lambda L, x: x.sigmoid(), "tanh": lambda L, x: x.tanh(),
    "square": lambda L, x: x ** 2, "neg": lambda L, x: -x, "log1p": lambda L, x: x.log1p(),
    "reciprocal": lambda L, x: x.reciprocal(), "trunc": lambda L, x: x.trunc(),
    "frac": lambda L, x: x.frac(), "round": lambda L, x: x.round(),
    "isnan": lambda L, x: x.isnan(), "logical_not": lambda L, x: x.logical_not(),
    "nan_to_num": lambda L, x: x.nan_to_num(), "greater": lambda L, x: x > 0,
    "equal": lambda L, x: x == 1, "divide": lambda L, x: x / 3,
    "bitwise_not": lambda L, x: ~(x > 0), "where": lambda L, x: L.where(x > 0, x, 0.0),
    "remainder": lambda L, x: x % 2, "maximum": lambda L, x: L.maximum(x, L.zeros(())),
}
# these go through parallel.binary (x * 2, 1 - x) or relu_clamp: fixed with the changes the
# round-17 report asks for there
_PENDING = {
    "times-number": lambda L, x: x * 2, "plus-number": lambda L, x: x + 1,
    "number-minus": lambda L, x: 1 - x, "clamp": lambda L, x: x.clamp(-0.5, 0.5),
    "clamp-min": lambda L, x: x.clamp(min=0), "relu": lambda L, x: x.relu(),
}
_SHAPES = [(2, 3, 1, 1), (2, 1, 4, 1), (1, 3, 2, 2), (2, 3, 4, 5), (3, 1, 1, 2)]


def _strides(op, view, shape):
    base = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = []
    for lib in LIBS:
        x = _VIEWS[view](lib, lib.tensor(base))
        r = op(lib, x)
        out.append((tuple(r.shape), tuple(r.stride())))
    return out


@pytest.mark.parametrize("shape", _SHAPES)
@pytest.mark.parametrize("view", list(_VIEWS))
@pytest.mark.parametrize("name", list(_UNARY))
def test_pointwise_result_strides_are_torchs(name, view, shape):
    expected, got = _strides(_UNARY[name], view, shape)
    assert got == expected


def _pending(name):
    if name.startswith(("clamp", "relu")):
        return name
    # left: a row-major operand beside a number takes numpy's strides for its size-1 dims;
    # matching PyTorch's there costs a layout check on every such op (a third more for a
    # (4, 1) tensor times a number)
    return pytest.param(name, marks=pytest.mark.xfail(
        strict=True, reason="size-1 dims' strides of a tensor-and-number op (left: hot path)"))


@pytest.mark.parametrize("name", [_pending(name) for name in _PENDING])
def test_pointwise_result_strides_of_relu_clamp_and_number_operands(name):
    results = [_strides(_PENDING[name], view, shape)
               for view in ("unsqueezed-transposed", "front-transposed")
               for shape in _SHAPES + [(3, 1, 1, 1)]]
    assert all(expected == got for expected, got in results)


def test_binary_results_of_mixed_views_and_dtypes_are_laid_out_as_torchs():
    """A seeded fuzz over comparisons, division and maximum of two operands of different
    views and dtypes (the promoted operand keeps its strides, size-1 dims' too)."""
    rng, pick = np.random.default_rng(7), random.Random(7)
    ops = {"gt": lambda L, a, b: a > b, "eq": lambda L, a, b: a == b,
           "div": lambda L, a, b: a / b, "maximum": lambda L, a, b: L.maximum(a, b)}
    views = ["transposed", "unsqueezed-transposed", "stepped", "none"]
    checked = 0
    for _ in range(400):
        shape = tuple(pick.choice([1, 1, 2, 3]) for _ in range(pick.randint(2, 4)))
        other = tuple(s if pick.random() < 0.6 else 1 for s in shape)
        arrays = [rng.standard_normal(s).astype(pick.choice(["float32", "float64"]))
                  for s in (shape, other)]
        kinds = [pick.choice(views), pick.choice(views)]
        name = pick.choice(list(ops))
        results = []
        for lib in LIBS:
            a, b = (x if k == "none" or (k == "stepped" and x.shape[0] < 2) else
                    _VIEWS[k](lib, x) for x, k in zip((lib.tensor(v) for v in arrays), kinds))
            try:
                r = ops[name](lib, a, b)
            except RuntimeError:
                results.append(None)
                continue
            results.append((tuple(r.shape), tuple(r.stride())))
        assert results[0] == results[1], (name, shape, other, kinds)
        checked += results[0] is not None
    assert checked > 200


def test_promoted_operand_keeps_a_size1_dims_stride():
    got = []
    for lib in LIBS:
        a = lib.tensor(np.arange(2.0, dtype=np.float32)).unsqueeze(0).transpose(0, -1)
        b = lib.tensor(np.arange(2.0))[::2]              # float64: a is promoted
        got.append(((a > b).stride(), (a / b).stride(), lib.maximum(a, b).stride()))
    assert got[0] == got[1]


# ------------------------------------------------------------------------------------------
# 2. numpy's functions on a tensor
# ------------------------------------------------------------------------------------------
_NUMPY_CALLS = {
    "sum": lambda t: np.sum(t), "sum-axis": lambda t: np.sum(t, axis=1),
    "sum-keepdims": lambda t: np.sum(t, keepdims=True), "mean": lambda t: np.mean(t),
    "mean-axes": lambda t: np.mean(t, axis=(0, 1)), "max": lambda t: np.max(t),
    "max-axis": lambda t: np.max(t, axis=0), "amin": lambda t: np.amin(t),
    "prod": lambda t: np.prod(t), "prod-axis": lambda t: np.prod(t, axis=0),
    "std": lambda t: np.std(t), "var-ddof": lambda t: np.var(t, axis=0, ddof=1),
    "all": lambda t: np.all(t), "any-axis": lambda t: np.any(t, axis=0),
    "cumsum": lambda t: np.cumsum(t), "argmax": lambda t: np.argmax(t),
    "round": lambda t: np.round(t), "method-sum-out": lambda t: t.sum(dim=0, out=None),
    "method-sum-dtype-out": lambda t: t.sum(dtype=None, out=None),
    "method-cumsum-out": lambda t: t.cumsum(axis=None, dtype=None, out=None),
}


@pytest.mark.parametrize("name", list(_NUMPY_CALLS))
def test_numpy_functions_on_a_tensor_do_what_torchs_do(name):
    values = np.arange(6, dtype=np.float32).reshape(2, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)      # torch's __array_wrap__ note
        a, b = _same_outcome(lambda lib: _NUMPY_CALLS[name](lib.tensor(values)))
    if a[0] == "ok":
        np.testing.assert_allclose(np.asarray(b[1]), np.asarray(a[1]))


# ------------------------------------------------------------------------------------------
# 3. comparisons refusing arrays and lists
# ------------------------------------------------------------------------------------------
_COMPARE_CALLS = {
    "eq-array": lambda L, t: L.eq(t, np.ones(2)), "lt-array": lambda L, t: L.lt(t, np.ones(2)),
    "ge-0d-array": lambda L, t: L.ge(t, np.array(1.0)), "gt-list": lambda L, t: L.gt(t, [1, 2]),
    "method-eq": lambda L, t: t.eq(np.ones(2)), "method-ne-list": lambda L, t: t.ne([1, 2]),
    "method-lt-tuple": lambda L, t: t.lt((1, 2)), "method-le-str": lambda L, t: t.le("a"),
    "method-eq-keyword": lambda L, t: t.eq(other=np.ones(2)),
    "method-greater": lambda L, t: t.greater(np.ones(2)),
    "method-eq-two": lambda L, t: t.eq(t, np.ones(2)),
    "inplace-ne": lambda L, t: t.clone().ne_(np.ones(2)),
    "logical_and-number": lambda L, t: t.logical_and(2),
    "logical_xor-array": lambda L, t: t.logical_xor(np.ones(2)),
    "logical_or-list": lambda L, t: t.logical_or(other=[1, 2]),
    "logical_and_-array": lambda L, t: t.logical_and_(np.ones(2)),
    "numpy-scalar": lambda L, t: L.eq(t, np.float32(1)).tolist(),
    "operator-eq-array": lambda L, t: (t == np.ones(2)).tolist(),
    "operator-lt-array": lambda L, t: t < np.ones(2),
    "method-tensor": lambda L, t: t.lt(L.zeros(2)).tolist(),
}


@pytest.mark.parametrize("name", list(_COMPARE_CALLS))
def test_comparisons_take_what_torchs_take(name):
    a, b = _same_outcome(lambda lib: _COMPARE_CALLS[name](lib, lib.ones(2)))
    if a[0] == "ok":
        assert a[1] == b[1]


# ------------------------------------------------------------------------------------------
# 4., 5. read-only memory and once-a-process warnings (each in a fresh process)
# ------------------------------------------------------------------------------------------
_ONCE_SCRIPT = """
import warnings, numpy as np
import {lib} as lib
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    z = lib.tensor([1 + 2j, 3 - 1j])
    z.float(); z.double(); z.to(lib.float32); lib.zeros(2).copy_(z)
    buffer = bytes(8)
    t = lib.frombuffer(buffer, dtype=lib.float32)
    t[0] = 5.0
    t.add_(1)
    lib.frombuffer(bytes(4), dtype=lib.uint8)
    a = np.zeros(3, np.float32)
    a.flags.writeable = False
    u = lib.from_numpy(a)
    u.add_(2)
    lib.as_tensor(a)[1] = 7
print([str(x.message).split(" (Triggered")[0].replace("PyTorch", "X").replace("minigrad", "X")
       for x in w])
print(t.tolist(), np.frombuffer(buffer, np.float32).tolist(), a.tolist())
"""


def test_warnings_given_once_and_writes_through_read_only_memory():
    outputs = [subprocess.run([sys.executable, "-c", _ONCE_SCRIPT.format(lib=lib.__name__)],
                              capture_output=True, text=True, check=True).stdout
               for lib in LIBS]
    assert outputs[0] == outputs[1]
    assert outputs[0].count("Casting complex values to real") == 1
    assert "[6.0, 1.0]" in outputs[0]


# ------------------------------------------------------------------------------------------
# 6. a number operand as grad_fn shows it
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", ["x * 2", "x * 2.5", "x * True", "2 * x", "x / 2",
                                  "x.mul(3)", "x * np.float64(2.0)", "x * np.int64(2)",
                                  "x * np.float32(1.5)", "x * np.bool_(True)", "x * (2 + 1j)",
                                  "x * -7"])
def test_saved_number_operand_has_the_numbers_own_dtype(expr):
    shown = []
    for lib in LIBS:
        x = lib.ones(2, requires_grad=True)
        other = eval(expr, {"x": x, "np": np}).grad_fn._saved_other
        shown.append((str(other.dtype).split(".")[-1], other.item(), other.shape == ()))
    assert shown[0] == shown[1]


# ------------------------------------------------------------------------------------------
# 7. ModuleList.insert
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("index", [0, 1, 2, 5, -1, -3, True, 1.0, "1"])
@pytest.mark.parametrize("what", ["module", "int", "none"])
def test_modulelist_insert_follows_torch(index, what):
    def run(lib):
        m = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh()])
        value = {"module": lib.nn.Sigmoid(), "int": 3, "none": None}[what]
        try:
            m.insert(index, value)
        finally:
            state = ([type(v).__name__ for v in m._modules.values()], list(m._modules))
        return state
    a, b = _same_outcome(run)
    if a[0] == "ok":
        assert a[1] == b[1]


# ------------------------------------------------------------------------------------------
# 8. the deprecated register_backward_hook
# ------------------------------------------------------------------------------------------
def _hooked_module(lib, kind):
    nn = lib.nn

    class Pair(nn.Module):
        def forward(self, x):
            return x * 2, x * 3

    class Listed(nn.Module):
        def forward(self, x):
            return [x * 2]

    class Scaled(nn.Module):
        def forward(self, x, k):
            return x * k
    return {"linear": lambda: nn.Linear(2, 2), "relu": lambda: nn.ReLU(),
            "sequential": lambda: nn.Sequential(nn.Linear(2, 2), nn.ReLU()),
            "pair": Pair, "listed": Listed, "scaled": Scaled}[kind]()


@pytest.mark.parametrize("kind", ["linear", "relu", "sequential", "pair", "listed", "scaled"])
@pytest.mark.parametrize("source", ["leaf", "computed", "constant"])
def test_register_backward_hook_warns_as_torch(kind, source):
    said = []
    for lib in LIBS:
        module = _hooked_module(lib, kind)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            module.register_backward_hook(lambda m, gi, go: None)
            x = lib.ones(1, 2, requires_grad=source != "constant")
            if source == "computed":
                x = x * 1
            module(x, 2.0) if kind == "scaled" else module(x)
        said.append([(m.category.__name__, str(m.message)) for m in w])
    assert said[0] == said[1]


# ------------------------------------------------------------------------------------------
# 9. a lazy module's uninitialized parameter
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", ["w + 1", "1 + w", "w * 2", "w - 1", "1 - w", "-w", "w == 1",
                                  "w < 1", "w[0]", "len(w)", "bool(w)", "w.sum()", "w.exp()",
                                  "w.t()", "w.view(-1)", "w.clone()", "w.detach()",
                                  "w.add_(1)", "w.tolist()", "w.numel()", "w.dim()",
                                  "w.size()", "w.dtype", "w.requires_grad", "w.float()",
                                  "w.materialize((2, 3)) or w.shape"])
def test_uninitialized_parameter_refuses_what_torchs_refuses(expr):
    def run(lib):
        w = lib.nn.LazyLinear(3).weight
        result = eval(expr, {"w": w})
        return str(result).replace("torch", "minigrad")
    a, b = _same_outcome(run)
    if a[0] == "ok":
        assert a[1] == b[1]


def test_lazy_module_still_runs_and_initializes():
    for lib in LIBS:
        m = lib.nn.LazyLinear(3)
        y = m(lib.ones(2, 4))
        assert tuple(y.shape) == (2, 3) and tuple(m.weight.shape) == (3, 4)
