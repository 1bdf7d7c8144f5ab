"""Regression tests for the second round of tensor-level probe findings, each compared with
PyTorch: ``t()`` of a 0-d/1-d tensor, ``Size`` entries, ``tensor()`` parsing (np.matrix,
ragged lists, Fortran-order copies, ``pin_memory=``), ``new_*``/``*_like`` ``pin_memory=``,
``type``/``type_as``/``float``/``to`` argument checks, ``device('cpu:0')``, batched
``searchsorted`` (NaN values, speed) and ``histogram`` of integer tensors."""
import tracemalloc

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")


def outcome(fn):
    """(error type name, message) or ('ok', value) of ``fn()``."""
    try:
        return "ok", fn()
    except Exception as exc:                     # noqa: BLE001 - compared with torch's
        return type(exc).__name__, str(exc)


def same_error(fn, lib_a=torch, lib_b=mg):
    a, b = outcome(lambda: fn(lib_a)), outcome(lambda: fn(lib_b))
    assert a[0] != "ok", a
    assert a == (b[0], b[1].replace("minigrad.", "torch.")), (a, b)


# 1. t() of a 0-d or 1-d tensor is a new view with its own TBackward0 node
@pytest.mark.parametrize("shape", [(), (3,)])
def test_t_of_vector_is_new_view(shape):
    for lib in (torch, mg):
        a = lib.ones(shape, requires_grad=True)
        out = a.t()
        assert out is not a
        assert out.grad_fn.name() == "TBackward0"
        out.sum().backward()
        assert a.grad.shape == a.shape


# 2. Size entries
@pytest.mark.parametrize("items", [[2, 3.0], [np.float64(2)], ["a"], [None], [1.5]])
def test_size_refuses_non_integers(items):
    same_error(lambda lib: lib.Size(items))


def test_size_converts_tensors_and_bools_keeps_numpy_ints():
    for items in ([2, "T3"], [True], ["T[4]"], [np.int64(2)], [np.int32(5)]):
        got = {}
        for lib in (torch, mg):
            vals = [lib.tensor(3) if x == "T3" else lib.tensor([4]) if x == "T[4]" else x
                    for x in items]
            s = lib.Size(vals)
            got[lib] = (list(s), [type(x) for x in s])
        assert got[torch] == got[mg]
    same_error(lambda lib: lib.Size([lib.tensor(3.0)]))


# 3-5. tensor() parsing
def test_tensor_of_np_matrix():
    m = np.matrix([[1, 2], [3, 4]])
    a, b = torch.tensor(m), mg.tensor(m)
    assert list(a.shape) == list(b.shape) and np.array_equal(a.numpy(), b.numpy())
    assert mg.as_tensor(np.matrix([[1.0, 2]])).shape == (1, 2)


@pytest.mark.parametrize("data", [
    [[[1]], [[2, 3]]], [[[1], [2]], [[3]]], [[1], []], [[1], 2], [[1.0], 2.0],
    [[[1.0]], [2.0]], [1.0, [2.0]], [1, [2]], [[1, [2]]],
])
def test_ragged_lists_refused_as_torch(data):
    same_error(lambda lib: lib.tensor(data))


@pytest.mark.parametrize("data", [[[], [1]], [[], [1, 2], [3]], [[[]], [[1]]]])
def test_lists_with_empty_first_element(data):
    a, b = torch.tensor(data), mg.tensor(data)
    assert list(a.shape) == list(b.shape) and str(a.dtype)[6:] == str(b.dtype)[9:]


@pytest.mark.parametrize("make", [
    lambda: np.ones((2, 3), order="F"),
    lambda: np.ones((4, 3)).T[:, ::2],
    lambda: np.ones((2, 3, 4)).transpose(1, 0, 2),
    lambda: np.arange(12.0).reshape(3, 4)[:, ::2],
])
def test_tensor_copy_keeps_layout(make):
    arr = make()
    a, b = torch.tensor(arr), mg.tensor(arr)
    assert a.stride() == b.stride()
    assert np.array_equal(a.numpy(), b.numpy())
    assert not np.shares_memory(b.numpy(), arr)


# 6. pin_memory=
def test_pin_memory_false_accepted():
    for lib in (torch, mg):
        t = lib.ones(2)
        assert lib.tensor([1.0], pin_memory=False).shape == (1,)
        assert t.new_zeros(2, pin_memory=False).tolist() == [0.0, 0.0]
        assert t.new_ones(2, pin_memory=False).tolist() == [1.0, 1.0]
        assert t.new_empty(2, pin_memory=False).shape == (2,)
        assert t.new_full((2,), 3.0, pin_memory=False).tolist() == [3.0, 3.0]
        assert lib.rand_like(t, pin_memory=False).shape == (2,)
        assert lib.randn_like(t, pin_memory=False).shape == (2,)
        assert t.new_zeros(2, pin_memory=None).shape == (2,)


@pytest.mark.skipif(torch.cuda.is_available() or mg.cuda.is_available(),
                    reason="pin_memory=True is allowed with an accelerator")
@pytest.mark.parametrize("call", [
    lambda lib: lib.tensor([1.0], pin_memory=True),
    lambda lib: lib.tensor([1.0], pin_memory=1),
    lambda lib: lib.tensor([1.0], pin_memory=None),
    lambda lib: lib.ones(2).new_zeros(2, pin_memory=True),
    lambda lib: lib.ones(2).new_zeros(2, pin_memory=1),
    lambda lib: lib.ones(2).new_full((2,), 1.0, pin_memory=True),
    lambda lib: lib.rand_like(lib.ones(2), pin_memory=True),
])
def test_pin_memory_refusals(call):
    same_error(call)


def test_pin_memory_non_bool_on_like_is_type_error():
    for fn in ("rand_like", "randn_like"):
        for lib in (torch, mg):
            with pytest.raises(TypeError):
                getattr(lib, fn)(lib.ones(2), pin_memory=1)


# 7. type / type_as / float / to
def test_type_default_tensor_type():
    for arg in ("Tensor", "'torch.Tensor'"):
        got = []
        for lib in (torch, mg):
            t = lib.ones(2, dtype=lib.int64)
            out = t.type(lib.Tensor if arg == "Tensor" else "torch.Tensor")
            got.append((str(out.dtype).split(".")[-1], out.tolist()))
        assert got[0] == got[1]


@pytest.mark.parametrize("call", [
    lambda lib: lib.ones(2).type_as(1),
    lambda lib: lib.ones(2).type_as(np.ones(2)),
    lambda lib: lib.ones(2).float(lib.preserve_format),
    lambda lib: lib.ones(2).long(1, 2),
    lambda lib: lib.ones(2).to(lib.float64, lib.int32),
    lambda lib: lib.ones(2).to("cpu", "cpu"),
    lambda lib: lib.ones(2).to(lib.device("cpu"), "cpu"),
    lambda lib: lib.ones(2).to(lib.float64, "cpu"),
    lambda lib: lib.ones(2).to(lib.ones(1), lib.float64),
])
def test_type_and_to_refusals(call):
    same_error(call)


def test_to_pairs_still_accepted():
    for lib in (torch, mg):
        t = lib.ones(2)
        assert str(t.to("cpu", lib.float64).dtype).endswith("float64")
        assert str(t.to(lib.float64, False, True).dtype).endswith("float64")
        assert t.to(lib.float64, copy=True).shape == (2,)


# 8. device index 0 on the CPU
@pytest.mark.parametrize("args", [("cpu:0",), ("cpu", 0), ("cpu",)])
def test_cpu_device_index(args):
    a, b = torch.device(*args), mg.device(*args)
    assert (repr(a), str(a), a.index) == (repr(b), str(b), b.index)
    assert (a == torch.device("cpu")) == (b == mg.device("cpu"))
    assert (a == torch.device("cpu:0")) == (b == mg.device("cpu:0"))


def test_tensor_made_on_cpu0():
    for lib in (torch, mg):
        t = lib.ones(2, device="cpu:0")
        assert repr(t.device) == "device(type='cpu')"
        assert t.to("cpu:0").tolist() == [1.0, 1.0]
        assert t.to(lib.device("cpu", 0)).device.type == "cpu"


# 9. searchsorted with batched boundaries
def test_searchsorted_batched_matches_torch():
    rng = np.random.default_rng(0)
    for _ in range(60):
        lead = tuple(rng.integers(1, 4, size=rng.integers(1, 3)))
        n, m = int(rng.integers(0, 6)), int(rng.integers(0, 6))
        b = np.sort(rng.integers(0, 5, size=lead + (n,)).astype(np.float64), -1)
        v = rng.integers(-1, 6, size=lead + (m,)).astype(np.float64)
        v[rng.random(v.shape) < 0.25] = np.nan
        for kw in ({}, {"right": True}, {"side": "right"}, {"out_int32": True}):
            a = torch.searchsorted(torch.tensor(b), torch.tensor(v), **kw)
            g = mg.searchsorted(mg.tensor(b), mg.tensor(v), **kw)
            assert np.array_equal(a.numpy(), g.numpy()), (b, v, kw)
            assert str(a.dtype)[6:] == str(g.dtype)[9:]


def test_searchsorted_nan_value_one_dim_and_ints():
    b, v = [1.0, 2.0, 3.0], [float("nan"), 3.0, 0.5]
    for kw in ({}, {"right": True}):
        a = torch.searchsorted(torch.tensor(b), torch.tensor(v), **kw)
        assert a.tolist() == mg.searchsorted(mg.tensor(b), mg.tensor(v), **kw).tolist()
    bi = np.array([[1, 3, 3, 7], [0, 0, 2, 9]])
    vi = np.array([[3, 8, 0], [0, 2, 10]])
    for side in ("left", "right"):
        a = torch.searchsorted(torch.tensor(bi), torch.tensor(vi), side=side)
        assert a.tolist() == mg.searchsorted(mg.tensor(bi), mg.tensor(vi), side=side).tolist()


def test_searchsorted_batched_sorter():
    rng = np.random.default_rng(1)
    b = rng.integers(0, 6, size=(3, 7)).astype(np.float64)
    v = rng.integers(-1, 7, size=(3, 5)).astype(np.float64)
    s = np.argsort(b, -1, kind="stable")
    for right in (False, True):
        a = torch.searchsorted(torch.tensor(b), torch.tensor(v), right=right,
                               sorter=torch.tensor(s))
        g = mg.searchsorted(mg.tensor(b), mg.tensor(v), right=right, sorter=mg.tensor(s))
        assert a.tolist() == g.tolist()


def test_searchsorted_batched_allocates_no_rows_by_values_block():
    """Memory, not time: each row's boundaries and values are merged in one sort (batch x
    (n + m) numbers), where a (batch, n, m) comparison was 100 x 2000 x 2000 bools (400 MB)."""
    rng = np.random.default_rng(2)
    b = np.sort(rng.random((100, 2000)), -1)
    v = rng.random((100, 2000))
    B, V = mg.tensor(b), mg.tensor(v)
    tracemalloc.start()
    try:
        g = mg.searchsorted(B, V)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * b.nbytes       # 64 MB against the 400 MB block
    assert np.array_equal(g.numpy(), torch.searchsorted(torch.tensor(b),
                                                         torch.tensor(v)).numpy())


# 10. histogram of a non-floating tensor
@pytest.mark.parametrize("call", [
    lambda lib: lib.histogram(lib.tensor([1, 2, 3]), bins=3),
    lambda lib: lib.histogram(lib.tensor([True, False]), bins=3),
    lambda lib: lib.histogram(lib.tensor([1, 2, 3]), bins=lib.tensor([0, 1, 2])),
    lambda lib: lib.histogram(lib.tensor([1, 2, 3], dtype=lib.int32), bins=2),
])
def test_histogram_integer_input_not_implemented(call):
    same_error(call)
