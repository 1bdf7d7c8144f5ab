"""The Tensor API and the autograd engine (issue 2): dtypes, promotion, repr, conversions,
creation, gradient accumulation, graph freeing, in-place safety, grad modes, deep graphs,
memory, devices.  Where PyTorch defines the behaviour, PyTorch is the oracle."""
import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

import minigrad
from minigrad import Tensor

torch = pytest.importorskip("torch")


def torch_repr(t):
    return repr(t).replace("torch.", "minigrad.")


# ----------------------------------------------------------------------------------------------
# dtype inference and type promotion
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [1.5, [1.0, 2.0], 3, [1, 2], True, [True, False], [[1, 2.5]],
                                  [], 0, -7.25])
def test_dtype_inference_matches_torch(data):
    assert minigrad.tensor(data).dtype.name == str(torch.tensor(data).dtype).split(".")[1]


def test_numpy_dtypes_are_kept():
    for dt in (np.float64, np.float32, np.float16, np.int32, np.int64, np.uint8, np.bool_):
        assert minigrad.tensor(np.zeros(2, dt)).dtype.np == np.dtype(dt)
        assert minigrad.from_numpy(np.zeros(2, dt)).dtype.np == np.dtype(dt)


_OPERANDS = {
    "f32": lambda L: L.ones(2, dtype=L.float32),
    "f64": lambda L: L.ones(2, dtype=L.float64),
    "i64": lambda L: L.ones(2, dtype=L.int64),
    "i32": lambda L: L.ones(2, dtype=L.int32),
    "u8": lambda L: L.ones(2, dtype=L.uint8),
    "bool": lambda L: L.ones(2, dtype=L.bool),
    "0d f64": lambda L: L.tensor(1.5, dtype=L.float64),
    "0d f32": lambda L: L.tensor(1.5, dtype=L.float32),
    "0d i64": lambda L: L.tensor(2),
    "0d i32": lambda L: L.tensor(2, dtype=L.int32),
    "0d bool": lambda L: L.tensor(True),
    "py float": lambda L: 2.5,
    "py int": lambda L: 3,
    "py bool": lambda L: True,
}


def _dtype_of(L, a, b, op):
    x, y = _OPERANDS[a](L), _OPERANDS[b](L)
    if not (hasattr(x, "dtype") or hasattr(y, "dtype")):
        return None
    return str(op(x, y).dtype).split(".")[-1]


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a / b],
                         ids=["add", "mul", "div"])
def test_type_promotion_matches_torch(op):
    mismatches = []
    for a in _OPERANDS:
        for b in _OPERANDS:
            if a.startswith("py") and b.startswith("py"):
                continue
            try:
                expected = _dtype_of(torch, a, b, op)
            except RuntimeError:
                continue                                        # torch refuses the combination
            got = _dtype_of(minigrad, a, b, op)
            if got != expected:
                mismatches.append(f"{a} op {b}: minigrad {got}, torch {expected}")
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("expr", ["a // 2", "a // -2", "a.div(2, rounding_mode='trunc')",
                                  "f // 2", "a // f", "(a * 2.5).dtype", "a / 2", "a - 1"])
def test_integer_division_matches_torch(expr):
    results = []
    for L in (minigrad, torch):
        a, f = L.tensor([-7, 3, 4]), L.tensor([2.5, -1.5, 2.0])
        results.append(repr(eval(expr)))
    assert results[0] == results[1].replace("torch.", "minigrad.")


def test_promotion_examples():
    f32 = minigrad.ones(3)
    assert (f32 * 2.5).dtype == minigrad.float32                     # python float: weak
    assert (minigrad.tensor([1, 2]) * 2.5).dtype == minigrad.float32
    assert (f32 + minigrad.ones(3, dtype=minigrad.float64)).dtype == minigrad.float64
    assert (f32 + minigrad.tensor(1.0, dtype=minigrad.float64)).dtype == minigrad.float32  # 0-d
    assert (minigrad.tensor([1, 2]) + minigrad.tensor(1.0, dtype=minigrad.float64)).dtype == \
        minigrad.float64                                             # higher category wins
    x = minigrad.tensor(np.array(2.0))                               # 0-d float64 stays float64
    assert minigrad.rsqrt(x).dtype == minigrad.float64
    assert (x * x).mean().dtype == minigrad.float64


# ----------------------------------------------------------------------------------------------
# repr and formatting
# ----------------------------------------------------------------------------------------------
REPR_CASES = [
    [[19., 25.], [37., 43.]], [1.5, 2.25, -3.0], [0.1, 0.2, 0.3], [1e-5, 1.0], [1e10, 1.0],
    [[1, 2], [3, 4]], [True, False], 3.5, 7, [], [[]], [1e-10], [0.0, -0.0],
    [float("nan"), 1.0], [float("inf"), -1.0, 2.0], [123456.0, 0.5], [-1.0, 2.0],
    [[[1.0, 2.0]], [[3.0, 4.5]]], [0.0001, 1.0], [1e8, 1.0], [1e9, 1.5], [100.0, 0.001],
    [0.12345678], [-0.5, 12.25, 1000.0], [1, -200, 30000], list(range(30)),
    [x / 7 for x in range(30)], [[x / 3 for x in range(12)] for _ in range(3)],
    list(range(2000)), [[0.5] * 40] * 40, [float("nan")], [0.0], 1e-7, -2.5,
]


@pytest.mark.parametrize("data", REPR_CASES, ids=[f"case{i}" for i in range(len(REPR_CASES))])
def test_repr_matches_torch(data):
    assert repr(minigrad.tensor(data)) == torch_repr(torch.tensor(data))


def test_repr_examples():
    x = minigrad.tensor([[1., 2.], [3., 4.]])
    w = minigrad.tensor([[5., 6.], [7., 8.]])
    assert repr(x @ w) == "tensor([[19., 22.],\n        [43., 50.]])"
    assert repr(minigrad.tensor([[1., 2.], [3., 4.]]) @ minigrad.tensor([[5., 7.], [6., 8.]])) \
        .startswith("tensor([[17., 23.],")


@pytest.mark.parametrize("seed", range(6))
def test_repr_matches_torch_random(seed):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (2, 3, 4), (0,), (2, 0), (1001,), (40, 30), (3, 400), ()]
    scale = [1, 100, 1e-3, 1e5, 1e9, 1e-6][seed]
    for shape in shapes:
        base = np.asarray(rng.standard_normal(shape) * scale)
        for a in (base.astype(np.float32), base, np.asarray(np.round(base).astype(np.int64)),
                  np.asarray(base > 0)):
            m, t = minigrad.tensor(a), torch.from_numpy(a.copy())
            assert repr(m) == torch_repr(t)
            if a.dtype.kind == "f":
                m.requires_grad_(), t.requires_grad_()
                assert repr(m) == torch_repr(t)


@pytest.mark.parametrize("expr", ["x * 2", "x.sum()", "(x * 2).mean()", "x.exp()", "x + 1",
                                  "x - 1", "x / 2", "x ** 2", "-x", "x.tanh()", "x.sigmoid()",
                                  "x.relu()", "x.log()", "x.abs()", "x.sqrt()", "x.view(4)",
                                  "x.expand(2, 2, 2)", "x.transpose(0, 1)", "x.prod()",
                                  "x.var()", "x.softmax(1)", "x.log_softmax(1)"])
def test_grad_fn_suffix_matches_torch(expr):
    results = []
    for L in (minigrad, torch):
        x = L.tensor([[1., 2.], [3., 4.]], requires_grad=True)
        results.append(repr(eval(expr)))
    assert results[0] == results[1].replace("torch.", "minigrad.")


def test_requires_grad_suffix_and_dtype():
    assert repr(minigrad.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert repr(minigrad.ones(2, dtype=minigrad.float64, requires_grad=True)) == \
        "tensor([1., 1.], dtype=minigrad.float64, requires_grad=True)"


def test_format_spec():
    loss = (minigrad.tensor([1.23456, 2.0], requires_grad=True) * 1.0).sum()
    assert f"{loss:.3f}" == "3.235"
    assert f"{minigrad.tensor(2.5)}" == "2.5"
    assert "{:>8.2f}".format(minigrad.tensor(0.5)) == "    0.50"
    with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
        "{:>8.2f}".format(minigrad.tensor([0.5]))       # as PyTorch: 0-d tensors only


def test_size():
    s = minigrad.ones(2, 3).size()
    assert repr(s) == "minigrad.Size([2, 3])" == str(s)
    assert s == (2, 3) and isinstance(s, tuple) and s.numel() == 6
    assert minigrad.ones(2, 3).size(1) == 3 and minigrad.ones(2, 3).size(-1) == 3
    assert repr(minigrad.ones(2, 3, 4).shape[1:]) == "minigrad.Size([3, 4])"
    with pytest.raises(IndexError, match="Dimension out of range"):
        minigrad.ones(2, 3).size(2)


# ----------------------------------------------------------------------------------------------
# Conversions
# ----------------------------------------------------------------------------------------------
def test_item_tolist_numpy():
    assert minigrad.tensor([2.5]).item() == 2.5
    assert isinstance(minigrad.tensor(3).item(), int)
    with pytest.raises(RuntimeError, match="3 elements cannot be converted to Scalar"):
        minigrad.ones(3).item()
    assert minigrad.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert minigrad.tensor(1.5).tolist() == 1.5
    x = minigrad.ones(3)
    x.numpy()[0] = 7                                   # numpy() shares memory
    assert x.tolist() == [7.0, 1.0, 1.0]
    with pytest.raises(RuntimeError, match="detach"):
        minigrad.ones(2, requires_grad=True).numpy()


def test_len_iter_bool():
    x = minigrad.arange(6).reshape(3, 2)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError):
        len(minigrad.tensor(1.0))
    with pytest.raises(TypeError):
        iter(minigrad.tensor(1.0))
    assert bool(minigrad.tensor([1.0])) and not bool(minigrad.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(minigrad.ones(2))
    assert float(minigrad.tensor(2.5)) == 2.5 and int(minigrad.tensor(3)) == 3


# ----------------------------------------------------------------------------------------------
# Creation
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("expr", [
    "L.zeros(2, 3)", "L.zeros((2, 3))", "L.ones(4, dtype=L.int64)", "L.full((2, 2), 3)",
    "L.full((2,), 3.5)", "L.full((2,), True)", "L.arange(5)", "L.arange(1, 4)",
    "L.arange(0, 1, 0.25)", "L.arange(1.0, 3)", "L.arange(5, dtype=L.float64)",
    "L.linspace(0, 1, 5)", "L.linspace(-2, 2, 5)", "L.linspace(-1, 1, 9)", "L.eye(3)", "L.eye(2, 3)",
    "L.zeros_like(L.ones(2, dtype=L.float64))", "L.ones_like(L.ones(2, 2))",
    "L.full_like(L.ones(3, dtype=L.int32), 7)", "L.empty(2, 3).shape",
    "L.ones(2, requires_grad=True)", "L.zeros(0, 3)"])
def test_creation_matches_torch(expr):
    results = []
    for L in (minigrad, torch):
        results.append(eval(expr))
    m, t = results
    if isinstance(t, torch.Size):
        assert tuple(m) == tuple(t)
        return
    assert repr(m) == torch_repr(t)


def test_linspace_values():
    # torch computes float32 linspace in float32 (its middle value is -5.96e-08, not 0), so the
    # values are compared with a tolerance rather than by repr.
    np.testing.assert_allclose(minigrad.linspace(-2, 2, 7).tolist(),
                               torch.linspace(-2, 2, 7).tolist(), atol=1e-6)


def test_random_creation():
    minigrad.manual_seed(0)
    r = minigrad.rand(1000)
    assert r.dtype == minigrad.float32 and r.shape == (1000,)
    assert 0 <= r.min().item() and r.max().item() < 1
    n = minigrad.randn(10000)
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1) < 0.05
    i = minigrad.randint(0, 10, (1000,))
    assert i.dtype == minigrad.int64 and 0 <= i.min().item() and i.max().item() <= 9
    assert minigrad.randint(5, (2, 3)).shape == (2, 3)
    assert minigrad.randn_like(minigrad.ones(2, dtype=minigrad.float64)).dtype == minigrad.float64
    assert minigrad.rand_like(minigrad.ones(3)).shape == (3,)
    assert minigrad.randn(2, 3, requires_grad=True).requires_grad


def test_manual_seed_reproducible():
    minigrad.manual_seed(123)
    a = minigrad.randn(5).tolist(), minigrad.rand(3).tolist(), minigrad.randint(0, 9, (4,)).tolist()
    minigrad.manual_seed(123)
    b = minigrad.randn(5).tolist(), minigrad.rand(3).tolist(), minigrad.randint(0, 9, (4,)).tolist()
    assert a == b
    minigrad.manual_seed(124)
    assert minigrad.randn(5).tolist() != a[0]


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros(3)
    t = minigrad.from_numpy(a)
    a[0] = 5
    assert t.tolist() == [5.0, 0.0, 0.0]
    t[1] = 2
    assert a[1] == 2
    assert minigrad.tensor(a).tolist() == t.tolist()
    c = minigrad.tensor(a)                                 # tensor() copies
    a[2] = 9
    assert c[2].item() == 0


# ----------------------------------------------------------------------------------------------
# Gradients: accumulation, non-leaves, freeing the graph
# ----------------------------------------------------------------------------------------------
def test_grad_accumulates_into_leaves():
    x = minigrad.ones(2, requires_grad=True)
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_shared_subexpression_and_two_paths():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    z = (y + y * x).sum()                  # dz/dx = 2x + 3x^2
    z.backward()
    assert x.grad.tolist() == [5.0, 16.0]


def test_non_leaf_grad_is_none_unless_retained():
    x = minigrad.ones(2, requires_grad=True)
    y = x * 2
    kept = x * 3
    kept.retain_grad()
    (y * kept).sum().backward()
    assert y.grad is None and not y.is_leaf
    assert kept.retains_grad and kept.grad.tolist() == [2.0, 2.0]
    assert x.grad.tolist() == [12.0, 12.0]


def test_second_backward_needs_retain_graph():
    x = minigrad.ones(2, requires_grad=True)
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [4.0, 4.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward()


def test_backward_argument_errors():
    x = minigrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar "
                                           "outputs"):
        (x * 2).backward()
    (x * 2).backward(minigrad.tensor([1.0, 0.5]))
    assert x.grad.tolist() == [2.0, 1.0]
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(minigrad.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        minigrad.ones(2).sum().backward()


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="Only Tensors of floating point and complex dtype "
                                           "can require gradients"):
        minigrad.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        minigrad.arange(3).requires_grad_()


def test_detach_and_requires_grad_propagation():
    x = minigrad.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    assert not (minigrad.ones(2) * 2).requires_grad
    assert (minigrad.ones(2) * x).requires_grad


# ----------------------------------------------------------------------------------------------
# In place: version counters, leaves, .data, setitem
# ----------------------------------------------------------------------------------------------
def test_inplace_on_saved_tensor_raises_on_backward():
    a = minigrad.ones(3, requires_grad=True)
    b = a * 2
    c = b * b                                   # saves b
    b.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_on_saved_output_raises_on_backward():
    a = minigrad.ones(3, requires_grad=True)
    c = (a * 2).exp()                           # exp saves its output
    c.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_on_unsaved_tensor_is_fine_and_matches_torch():
    grads = []
    for L in (minigrad, torch):
        x = L.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = x * 2
        c = b.exp()                            # saves its output, not b
        b.add_(1)
        y = x * 1
        y.mul_(x)
        y += x
        y -= 0.5
        (c.sum() + y.sum() + b.sum()).backward()
        grads.append(x.grad.tolist())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6)


def test_inplace_on_leaf_that_requires_grad_raises():
    w = minigrad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w += 1
    with minigrad.no_grad():
        w -= 0.5                                # the SGD update is allowed
    assert w.tolist() == [0.5, 0.5, 0.5] and w.is_leaf and w.requires_grad


def test_data_writes_are_not_tracked():
    w = minigrad.ones(3, requires_grad=True)
    y = (w * w).sum()
    w.data[0] = 5
    w.data.mul_(2)
    y.backward()                                # no version error: .data is outside the graph
    assert w.tolist() == [10.0, 2.0, 2.0]
    assert w.grad.tolist() == [20.0, 4.0, 4.0]  # the saved array was changed through .data
    assert w.is_leaf and w.grad_fn is None


def test_setitem_slice_zero_matches_torch():
    out = []
    for L in (minigrad, torch):
        x = L.ones(2, 8, requires_grad=True)
        y = x * 2
        y[:, 2:6] = 0
        (y * L.arange(8.0)).sum().backward()
        out.append((y.tolist(), x.grad.tolist()))
    assert out[0] == out[1]
    plain = minigrad.ones(2, 8)
    plain[:, 2:6] = 0
    assert plain.sum().item() == 8


@pytest.mark.parametrize("name,arg,expected", [
    ("add_", 1.5, [2.5, 3.5]), ("sub_", 0.5, [0.5, 1.5]), ("mul_", 3, [3.0, 6.0]),
    ("div_", 4, [0.25, 0.5]), ("fill_", 7, [7.0, 7.0]), ("copy_", [5.0, 6.0], [5.0, 6.0])])
def test_inplace_methods(name, arg, expected):
    t = minigrad.tensor([1.0, 2.0])
    arg = minigrad.tensor(arg) if isinstance(arg, list) else arg
    assert getattr(t, name)(arg) is t
    assert t.tolist() == expected
    assert t._version_value == 1


def test_zero_clamp_and_operators_in_place():
    t = minigrad.tensor([-2.0, 0.5, 3.0])
    ref = t
    t.clamp_(-1, 1)
    assert t.tolist() == [-1.0, 0.5, 1.0]
    t += 1
    t -= minigrad.tensor([1.0, 1.0, 1.0])
    t *= 2
    t /= 4
    assert t is ref and t.tolist() == [-0.5, 0.25, 0.5]
    t.zero_()
    assert t.tolist() == [0.0, 0.0, 0.0]
    i = minigrad.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i += 0.5                                # as torch: float result into an int tensor


# ----------------------------------------------------------------------------------------------
# Grad modes
# ----------------------------------------------------------------------------------------------
def test_no_grad_enable_grad_set_grad_enabled():
    x = minigrad.ones(2, requires_grad=True)
    with minigrad.no_grad():
        assert not (x * 2).requires_grad and not minigrad.is_grad_enabled()
        with minigrad.enable_grad():
            assert (x * 2).requires_grad
        assert not minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()
    with minigrad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert minigrad.is_grad_enabled()
    minigrad.set_grad_enabled(False)
    try:
        assert not minigrad.is_grad_enabled()
    finally:
        minigrad.set_grad_enabled(True)
    assert minigrad.is_grad_enabled()


def test_grad_modes_as_decorators():
    x = minigrad.ones(2, requires_grad=True)

    @minigrad.no_grad()
    def f(t):
        return t * 2

    @minigrad.no_grad
    def f_bare(t):
        return t * 2

    @minigrad.enable_grad()
    def g(t):
        return t * 2

    @minigrad.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert minigrad.is_grad_enabled()           # defining them changed nothing
    assert not f(x).requires_grad and not f_bare(x).requires_grad and not h(x).requires_grad
    assert f.__name__ == "f"
    with minigrad.no_grad():
        assert g(x).requires_grad
    assert minigrad.is_grad_enabled()


def test_no_grad_is_per_thread():
    inside, release = threading.Event(), threading.Event()
    seen = {}

    def worker():
        with minigrad.no_grad():
            inside.set()
            release.wait(10)
            seen["worker"] = minigrad.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    assert inside.wait(10)
    try:
        x = minigrad.ones(2, requires_grad=True)
        seen["main"] = minigrad.is_grad_enabled()
        seen["main_records"] = (x * 2).requires_grad
    finally:
        release.set()
        thread.join(10)
    assert seen == {"worker": False, "main": True, "main_records": True}


# ----------------------------------------------------------------------------------------------
# Scale: deep graphs, memory over a training loop
# ----------------------------------------------------------------------------------------------
# (slow: the same depth is backpropagated, checked and freed by test_long_runs.py's
# test_a_chain_of_100000_ops_backpropagates in the default run)
@pytest.mark.slow
def test_100k_op_chain_backward():
    x = minigrad.tensor(1.5, requires_grad=True)
    y = x
    start = time.perf_counter()
    for _ in range(100_000):
        y = -y                                  # cheapest op: the test is about depth
    y.backward()                                # iterative engine: no RecursionError
    assert x.grad.item() == 1.0
    del y                                       # freeing a 100k-deep graph must not crash
    gc.collect()
    assert time.perf_counter() - start < 60


def _train(steps, keep=None, on_step=None):
    """A small regression model trained by hand-written SGD; returns the losses."""
    minigrad.manual_seed(0)
    x, target = minigrad.randn(16, 4), minigrad.randn(16, 1)
    w = minigrad.randn(4, 1, requires_grad=True)
    b = minigrad.zeros(1, requires_grad=True)
    losses = []
    for step in range(steps):
        loss = (((x @ w + b).tanh() - target) ** 2).mean()
        loss.backward()
        with minigrad.no_grad():
            w -= 0.1 * w.grad
            b -= 0.1 * b.grad
        w.grad = None
        b.grad.zero_()
        losses.append(loss.item() if keep is None else keep(loss))
        if on_step is not None:
            on_step(step)
    return losses


def _live_minigrad_objects():
    """Tensors and graph nodes alive now (gc-tracked objects of minigrad's classes)."""
    gc.collect()
    return sum(str(getattr(type(o), "__module__", "")).startswith("minigrad")
               for o in gc.get_objects())


def _numpy_bytes():
    """Bytes of numpy array data alive now (numpy reports its allocations to tracemalloc)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def _measure_at(first, last, objects, array_bytes):
    """An ``on_step`` that counts live objects and numpy bytes after steps ``first`` and
    ``last``. Tracing starts a few steps before ``first`` (not at step 0: tracemalloc slows
    every allocation); a snapshot holds only what was allocated while tracing, so the
    difference between the two counts what the steps in between left alive. The objects
    alive then are frozen out of the collector's sight (``gc.freeze``) for the same reason:
    the counts differ by the same objects, and the collections and scans of a pytest-xdist
    worker's heap (the whole suite collected) no longer take seconds each. The caller
    stops tracing and unfreezes (``_measuring_stopped``)."""
    def measure(step):
        if step == first - 5:
            gc.collect()
            gc.freeze()
            tracemalloc.start()
        if step in (first, last):
            objects[step] = _live_minigrad_objects()
            array_bytes[step] = _numpy_bytes()
    return measure


def _measuring_stopped():
    tracemalloc.stop()
    gc.unfreeze()


def test_memory_is_flat_over_a_training_loop():
    objects, array_bytes = {}, {}
    try:
        losses = _train(500, on_step=_measure_at(99, 499, objects, array_bytes))
    finally:
        _measuring_stopped()
    assert losses[-1] < losses[0]                                     # it did train
    assert objects[499] <= objects[99] + 2, objects
    # One leaked (16, 1) float32 array per step would be 400 * 64 B = 25.6 kB.
    assert array_bytes[499] - array_bytes[99] < 16_000, array_bytes


def test_memory_check_detects_a_leak():
    """The measurements above can fail: a loop that keeps every loss keeps its graph nodes
    (minigrad frees the saved arrays at backward), and one that keeps arrays is seen too."""
    objects, array_bytes = {}, {}
    try:
        _train(200, keep=lambda loss: (loss, minigrad.zeros(64) + loss.detach()),
               on_step=_measure_at(49, 199, objects, array_bytes))
    finally:
        _measuring_stopped()
    assert objects[199] > objects[49] + 150 * 5
    assert array_bytes[199] - array_bytes[49] > 150 * 64 * 4


# ----------------------------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------------------------
def test_cuda_without_gpu_is_a_clear_runtime_error():
    if minigrad.cuda.is_available():
        pytest.skip("a GPU is available: this checks the message on machines without one")
    for make in (lambda: minigrad.zeros(2, device="cuda"), lambda: minigrad.ones(2).cuda(),
                 lambda: minigrad.ones(2).to("cuda"), lambda: minigrad.tensor([1.0], device="cuda"),
                 lambda: minigrad.randn(2, device="cuda")):
        with pytest.raises(RuntimeError, match="CUDA"):
            make()


@pytest.mark.cuda
def test_mixed_devices_raise():
    if not minigrad.cuda.is_available():
        pytest.skip("needs a CUDA GPU and cupy (minigrad.cuda.is_available() is False)")
    a, b = minigrad.ones(2), minigrad.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="same device"):
        a + b
    with pytest.raises(RuntimeError, match="same device"):
        minigrad.cat([a, b])


def test_devices_and_dtype_conversion():
    x = minigrad.ones(2)
    assert x.device == "cpu" and repr(x.device) == "device(type='cpu')"
    assert x.to("cpu") is x
    assert x.double().dtype == minigrad.float64 and x.long().dtype == minigrad.int64
    y = minigrad.ones(2, requires_grad=True)
    y.double().sum().backward()
    assert y.grad.dtype == minigrad.float32
