"""Removed and deprecated PyTorch names (torch.range, torch.solve, Tensor.resize, ...) and the
smaller Tensor API (to_dense, device predicates, as_subclass, set_, storage types, DLPack,
sym_* helpers), each run on minigrad and torch: the same values, warnings and refusals."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _each(fn):
    out = []
    for lib in (minigrad, torch):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                result = fn(lib)
            except Exception as exc:  # noqa: BLE001
                result = exc
        out.append((result, [str(w.message) for w in seen]))
    return out


def _value(x):
    if hasattr(x, "detach"):
        return x.detach().numpy().tolist(), str(x.dtype).split(".")[-1]
    return x


@pytest.mark.parametrize("case", [
    lambda L: L.range(1, 4),
    lambda L: L.range(0, 1, 0.3),
    lambda L: L.range(1, 4, dtype=L.int64),
    lambda L: L.range(-1.5, 1.5, 0.5, dtype=L.float64),
    lambda L: L.range(3, 1, -1),
    lambda L: L.arange(4.0).resize(2, 2),
    lambda L: L.arange(4.0).resize_as(L.ones(2, 2)),
    lambda L: L.arange(4.0).volatile,
    lambda L: L.tensor([1.0, 2.0]).to_dense(),
    lambda L: L.tensor([1.0, 2.0]).to_dense(L.float64),
    lambda L: [getattr(L.ones(1), n) for n in ("is_mps", "is_xpu", "is_xla", "is_ipu",
                                               "is_mkldnn", "is_vulkan", "is_sparse_csr")],
    lambda L: L.ones(2).module_load(L.zeros(2)),
    lambda L: L.ones(2).module_load(L.zeros(2), assign=True),
    lambda L: (L.sym_int(3.7), L.sym_int(-3.7), L.sym_float(3), L.sym_max(2, 5),
               L.sym_max(2.0, 5), L.sym_min(2, 5.0), L.sym_not(True), L.sym_sqrt(4),
               L.sym_ite(False, 1, 2), L.sym_sum([1, 2, 3]), L.sym_sum([1.5])),
    lambda L: L.compiled_with_cxx11_abi(),
])
def test_values_and_warnings_match_pytorch(case):
    (mine, my_warnings), (theirs, their_warnings) = _each(case)
    assert not isinstance(theirs, Exception), theirs
    if isinstance(theirs, list) and theirs and hasattr(theirs[0], "detach"):
        mine, theirs = [_value(m) for m in mine], [_value(t) for t in theirs]
    assert _value(mine) == _value(theirs)
    assert my_warnings == their_warnings


@pytest.mark.parametrize("case", [
    lambda L: L.range(4, 1),
    lambda L: L.range(1, 4, 0),
    lambda L: L.range(5),
    lambda L: L.ones(2).as_subclass(int),
    lambda L: L.zeros(3, dtype=L.float64).set_(L.ones(3)),
    lambda L: L.zeros(2, requires_grad=True).set_(L.ones(3)),
    lambda L: L.set_default_tensor_type(L.LongTensor),
])
def test_refusals_match_pytorch(case):
    (mine, _), (theirs, _) = _each(case)
    assert isinstance(theirs, Exception)
    assert type(mine) is type(theirs) and str(mine) == str(theirs)


@pytest.mark.parametrize("case", [
    lambda L: L.solve(L.ones(2, 1), L.eye(2)),
    lambda L: L.lstsq(L.ones(2, 1), L.eye(2)),
    lambda L: L.eig(L.eye(2)),
    lambda L: L.symeig(L.eye(2)),
    lambda L: L.matrix_rank(L.eye(2)),
    lambda L: L.eye(2).eig(),
    lambda L: L.eye(2).symeig(),
    lambda L: L.ones(2, 1).solve(L.eye(2)),
    lambda L: L.ones(2).reinforce(1.0),
])
def test_removed_functions_raise_pytorchs_error(case):
    (mine, _), (theirs, _) = _each(case)
    assert type(mine) is type(theirs) is RuntimeError
    assert str(mine).split("\n")[0].split(".")[0] == str(theirs).split("\n")[0].split(".")[0]


def test_as_subclass_keeps_memory_and_graph():
    class Marked(minigrad.Tensor):
        pass
    x = minigrad.ones(2, requires_grad=True)
    y = x.as_subclass(Marked)
    assert type(y) is Marked and not y.is_leaf and y.data_ptr() == x.data_ptr()
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    z = minigrad.zeros(2).as_subclass(Marked)
    assert z.is_leaf and z.grad_fn is None


def test_set_shares_memory_both_ways():
    for lib in (minigrad, torch):
        a, b = lib.zeros(3), lib.arange(6.0).reshape(2, 3)
        assert a.set_(b) is a and tuple(a.shape) == (2, 3) and a.is_set_to(b)
        b[0, 0] = 7.0
        a[1, 2] = -1.0
        assert float(a[0, 0]) == 7.0 and float(b[1, 2]) == -1.0
        part = lib.zeros(1).set_(b.storage(), 1, (2,), (3,)) if lib is minigrad else \
            lib.zeros(1).set_(b.untyped_storage(), 1, (2,), (3,))
        assert part.tolist() == [1.0, 4.0]
        assert tuple(lib.ones(2).set_().shape) == (0,)


def test_legacy_storage_types():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x = minigrad.arange(3)
        assert x.storage_type() is minigrad.LongStorage
        assert isinstance(x.storage(), minigrad.LongStorage)
        assert not isinstance(x.storage(), minigrad.FloatStorage)
        assert len(minigrad.FloatStorage(2)) == len(torch.FloatStorage(2)) == 2
        assert minigrad.IntStorage([1, 2]).tolist() == [1, 2]


def test_dlpack_round_trips_share_memory():
    n = np.arange(3.0)
    t = minigrad.from_dlpack(n)
    t[0] = 5.0
    assert n[0] == 5.0
    back = np.from_dlpack(t)
    back[1] = 9.0
    assert float(t[1]) == 9.0
    mine = minigrad.from_dlpack(torch.arange(3.0))
    assert mine.tolist() == [0.0, 1.0, 2.0] and mine.dtype == minigrad.float32
    ours = torch.from_dlpack(minigrad.arange(4))
    assert ours.tolist() == [0, 1, 2, 3]
    with pytest.raises(BufferError, match="Can't export tensors that require gradient"):
        np.from_dlpack(minigrad.ones(2, requires_grad=True))


def test_set_default_tensor_type_sets_the_default_dtype():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            minigrad.set_default_tensor_type(minigrad.DoubleTensor)
            assert minigrad.get_default_dtype() == minigrad.float64
            assert minigrad.tensor([1.5]).dtype == minigrad.float64
            minigrad.set_default_tensor_type("torch.FloatTensor")
            assert minigrad.get_default_dtype() == minigrad.float32
        finally:
            minigrad.set_default_dtype(minigrad.float32)


def test_map2_matches_pytorch():
    (mine, _), (theirs, _) = _each(lambda L: L.tensor([1.0, 2.0]).map2_(
        L.tensor([3.0, 4.0]), L.tensor([5.0]), lambda a, b, c: a + b * c))
    assert _value(mine) == _value(theirs)


def test_func_helpers_match_pytorch():
    def case(L):
        m = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.BatchNorm1d(2),
                            L.nn.InstanceNorm1d(2, track_running_stats=True))
        assert L.func.replace_all_batch_norm_modules_(m) is m
        x = L.zeros(2)
        doubled = L.func.functionalize(lambda t: t.add_(1).mul(2))(x)
        return (list(m.state_dict()), m[1].track_running_stats, x.tolist(), doubled.tolist(),
                L.func.debug_unwrap(x) is x)
    (mine, _), (theirs, _) = _each(case)
    assert mine == theirs


@pytest.mark.parametrize("case", [
    lambda L: L.arange(6.0).resize(),            # resize keeps the element count
    lambda L: L.arange(6.0).resize(4),
    lambda L: L.ones(2, 3).tile(),               # no dims
    lambda L: L.ones(2, 3).sum_to_size(),        # no size
])
def test_argument_refusals_match_pytorch(case):
    (mine, _), (theirs, _) = _each(case)
    assert isinstance(theirs, Exception) and type(mine) is type(theirs), (mine, theirs)
    assert str(mine).split(". ")[0] == str(theirs).split(". ")[0]
