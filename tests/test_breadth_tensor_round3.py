"""Tensor breadth, round 3: the non-differentiable side of unique, unique_consecutive,
bincount, logspace, tril/triu_indices, scalar_tensor, tensor_split, fmod, masked_scatter,
einsum's sublist form and is_inference, compared with torch (values, dtypes, error types
and messages); and the create_graph behaviour of relu / leaky_relu / abs / clamp (their
first derivative stays on the graph, as torch's).  The gradients of the differentiable ones
are checked by the registry (minigrad/testing/registry_more.py)."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import pair, same_tensor  # noqa: E402


def _same_error(fn):
    with pytest.raises(Exception) as th:
        fn(torch)
    with pytest.raises(type(th.value)) as mg:
        fn(minigrad)
    assert str(mg.value) == str(th.value)


UNIQUE_INPUTS = [
    np.array([3, 1, 2, 3, 1, 5]),
    np.array([[1.5, -2.0, 1.5], [0.0, -0.0, 7.0]]),
    np.array([True, False, True]),
    np.array(4.0),
    np.zeros((0, 3)),
    np.array([1.0, np.nan, 1.0, np.nan]),
    np.array([2, 2, 2, 1, 1, 2], np.int32),
]


@pytest.mark.parametrize("x", UNIQUE_INPUTS, ids=range(len(UNIQUE_INPUTS)))
@pytest.mark.parametrize("inverse,counts", [(False, False), (True, False), (False, True),
                                            (True, True)])
def test_unique_and_unique_consecutive(x, inverse, counts):
    mg, th = pair(lambda lib, t: lib.unique(t, return_inverse=inverse, return_counts=counts), x)
    same_tensor(mg, th)
    mg, th = pair(lambda lib, t: t.unique_consecutive(return_inverse=inverse,
                                                      return_counts=counts), x)
    same_tensor(mg, th)


DIM_INPUTS = [
    (np.array([[1, 2], [1, 2], [0, 3], [1, 2]]), 0),
    (np.array([[1, 2, 1], [3, 4, 3]]), 1),
    (np.array([[1, 2, 1], [3, 4, 3]]), -1),
    (np.array([[[1.0, 2.0]], [[1.0, 2.0]], [[-1.0, 5.0]]]), 0),
    (np.zeros((0, 3)), 0),
    (np.array([[2, 2], [2, 2], [1, 1], [2, 2]]), 0),
]


@pytest.mark.parametrize("x,dim", DIM_INPUTS, ids=range(len(DIM_INPUTS)))
def test_unique_along_a_dim(x, dim):
    for fn in (lambda lib, t: lib.unique(t, dim=dim, return_inverse=True, return_counts=True),
               lambda lib, t: t.unique(sorted=True, dim=dim),
               lambda lib, t: lib.unique_consecutive(t, return_inverse=True,
                                                     return_counts=True, dim=dim)):
        same_tensor(*pair(fn, x))


def test_unique_unsorted_is_a_consistent_grouping():
    x = np.array([5, 3, 5, 1, 3, 9])
    out, inv, cnt = minigrad.unique(minigrad.tensor(x), sorted=False, return_inverse=True,
                                    return_counts=True)
    assert sorted(out.tolist()) == sorted(set(x.tolist()))
    np.testing.assert_array_equal(out.numpy()[inv.numpy()], x)
    np.testing.assert_array_equal(cnt.numpy(), [(x == v).sum() for v in out.numpy()])


def test_unique_errors():
    _same_error(lambda lib: lib.unique(lib.ones(2, 3), dim=2))
    _same_error(lambda lib: lib.unique(lib.tensor(3.0), dim=0))
    _same_error(lambda lib: lib.unique(lib.zeros(3, 0), dim=0))
    _same_error(lambda lib: lib.unique(lib.zeros(2, 0, 2), dim=-1, return_inverse=True))


@pytest.mark.parametrize("x,kwargs", [
    (np.array([0, 1, 1, 3]), {}),
    (np.array([0, 1, 1, 3]), {"minlength": 7}),
    (np.array([2, 0], np.uint8), {}),
    (np.array([2, 0], np.int8), {"minlength": 1}),
    (np.zeros(0, np.int64), {"minlength": 3}),
    (np.zeros(0, np.int64), {}),
])
def test_bincount(x, kwargs):
    same_tensor(*pair(lambda lib, t: lib.bincount(t, **kwargs), x))
    same_tensor(*pair(lambda lib, t: t.bincount(**kwargs), x))


@pytest.mark.parametrize("wdtype", ["float32", "float64", "int32", "int64", "bool"])
def test_bincount_weights_dtype(wdtype):
    x = np.array([0, 2, 2, 4])
    w = np.array([1, 0, 1, 1]).astype(wdtype)
    if wdtype.startswith("float"):
        w = w * 0.75
    same_tensor(*pair(lambda lib, t, v: lib.bincount(t, weights=v, minlength=6), x, w))
    same_tensor(*pair(lambda lib, t, v: lib.bincount(t, v), np.zeros(0, np.int64),
                      np.zeros(0, wdtype)))


@pytest.mark.parametrize("fn", [
    lambda lib: lib.bincount(lib.tensor([-1, 2])),
    lambda lib: lib.bincount(lib.tensor([[1]])),
    lambda lib: lib.bincount(lib.tensor(3)),
    lambda lib: lib.bincount(lib.tensor([1.5])),
    lambda lib: lib.bincount(lib.tensor([True])),
    lambda lib: lib.bincount(lib.tensor([1]), minlength=-1),
    lambda lib: lib.bincount(lib.tensor([1, 2]), weights=lib.ones(3)),
])
def test_bincount_errors(fn):
    _same_error(fn)


@pytest.mark.parametrize("args,kwargs", [
    ((0, 2, 3), {}),
    ((0, 2, 3), {"base": 2}),
    ((-1.5, 2.5, 6), {"base": 3.0, "dtype": "float64"}),
    ((0.5, 3.7, 5), {"base": 3, "dtype": "float32"}),
    ((-1, 2, 4), {"dtype": "int64"}),
    ((0, 1, 3), {"dtype": "int64"}),
    ((0.5, 2.5, 3), {"dtype": "int32"}),
    ((0, 3, 4), {"base": 2, "dtype": "uint8"}),
    ((0, 3, 4), {"base": -2.0}),
    ((1, 1, 1), {}),
    ((0, 1, 0), {}),
])
def test_logspace(args, kwargs):
    def call(lib):
        kw = dict(kwargs)
        if "dtype" in kw:
            kw["dtype"] = getattr(lib, kw["dtype"])
        return lib.logspace(*args, **kw)
    mg, th = call(minigrad), call(torch)
    assert tuple(mg.shape) == tuple(th.shape) and str(mg.dtype)[-5:] == str(th.dtype)[-5:]
    np.testing.assert_allclose(mg.numpy().astype(np.float64), th.numpy().astype(np.float64),
                               rtol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.logspace(0, 1, -1),
    lambda lib: lib.logspace(0, 1, 3, dtype=lib.bool),
    lambda lib: lib.tril_indices(-1, 3),
    lambda lib: lib.triu_indices(3, -2),
    lambda lib: lib.tril_indices(3, 3, dtype=lib.float32),
    lambda lib: lib.triu_indices(3, 3, dtype=lib.int8),
    lambda lib: lib.scalar_tensor("a"),
])
def test_creation_errors(fn):
    _same_error(fn)


@pytest.mark.parametrize("args", [(3, 3), (3, 4, 1), (4, 3, -1), (3, 3, 5), (3, 3, -5),
                                  (0, 3), (1, 1), (5, 2, -2)])
def test_tril_triu_indices(args):
    for name in ("tril_indices", "triu_indices"):
        same_tensor(getattr(minigrad, name)(*args), getattr(torch, name)(*args))
    same_tensor(minigrad.tril_indices(*args, dtype=minigrad.int32),
                torch.tril_indices(*args, dtype=torch.int32))


@pytest.mark.parametrize("value,dtype", [(3, None), (2.5, None), (True, None), (3, "int64"),
                                         (2, "bool"), (1.25, "float64")])
def test_scalar_tensor(value, dtype):
    mg = minigrad.scalar_tensor(value, dtype=getattr(minigrad, dtype) if dtype else None)
    th = torch.scalar_tensor(value, dtype=getattr(torch, dtype) if dtype else None)
    same_tensor(mg, th)
    assert minigrad.scalar_tensor(1.0, requires_grad=True).requires_grad


def test_tensor_split_forms_and_errors():
    x = np.arange(10)
    for how in (3, [2, -3, 100], [5, 2], (4,)):
        same_tensor(*pair(lambda lib, t: lib.tensor_split(t, how), x))
    for key, how in (("sections", 4), ("indices", [1, 7])):
        same_tensor(*pair(lambda lib, t: t.tensor_split(**{key: how}), x))
    same_tensor(*pair(lambda lib, t, h: lib.tensor_split(t, h), x, np.array(3)))
    same_tensor(*pair(lambda lib, t, h: lib.tensor_split(t, h), x, np.array([1, 4])))
    _same_error(lambda lib: lib.tensor_split(lib.arange(10), 0))
    _same_error(lambda lib: lib.tensor_split(lib.tensor(1.0), 2))
    _same_error(lambda lib: lib.tensor_split(lib.arange(10), lib.tensor([[1]])))
    _same_error(lambda lib: lib.tensor_split(lib.arange(10), lib.tensor([1.0])))


def test_tensor_split_pieces_are_views():
    x = minigrad.arange(6.0)
    a, b = x.tensor_split(2)
    b[0] = 100.0
    assert x.tolist() == [0.0, 1.0, 2.0, 100.0, 4.0, 5.0]


def test_stacks_dtype_and_errors():
    for name in ("hstack", "vstack", "dstack", "column_stack", "row_stack"):
        same_tensor(*pair(lambda lib, a, b: getattr(lib, name)([a, b]), np.ones((2, 1), np.float32),
                          np.arange(2).reshape(2, 1)))
        _same_error(lambda lib: getattr(lib, name)([]))
    _same_error(lambda lib: lib.vstack([lib.ones(2), lib.ones(3)]))


@pytest.mark.parametrize("a,b", [
    (np.array([-3.0, 3.0, 5.5, -0.0, 7.0]), np.array([2.0, -2.0, 0.0, 2.0, np.inf])),
    (np.array([-7, 7, 8]), np.array([3, -3, 4])),
    (np.array([-7, 7], np.int32), 2.5),
    (np.array([-7, 7], np.int16), 3),
    (np.array([1.5, -2.5], np.float32), np.array(2.0)),
])
def test_fmod_values_and_dtypes(a, b):
    if isinstance(b, np.ndarray):
        same_tensor(*pair(lambda lib, x, y: lib.fmod(x, y), a, b))
    else:
        same_tensor(*pair(lambda lib, x: x.fmod(b), a))


def test_fmod_errors_and_inplace():
    _same_error(lambda lib: lib.fmod(lib.tensor([1, 2]), lib.tensor([0, 1])))
    _same_error(lambda lib: lib.fmod(lib.tensor([True]), lib.tensor([True])))
    _same_error(lambda lib: lib.tensor([1, 2]).fmod_(1.5))
    for lib in (minigrad, torch):
        x = lib.tensor([-5.0, 5.0])
        assert x.fmod_(3.0) is x and x.tolist() == [-2.0, 2.0]


def test_masked_scatter_values_and_errors():
    x, m, s = np.zeros((2, 3)), np.array([[True, False, True], [False, True, False]]), \
        np.arange(1.0, 7.0).reshape(2, 3)
    same_tensor(*pair(lambda lib, a, b, c: a.masked_scatter(b, c), x, m, s))
    same_tensor(*pair(lambda lib, a, b, c: lib.masked_scatter(a, b, c), np.zeros(3),
                      np.ones((2, 3), bool), np.arange(6.0)))
    same_tensor(*pair(lambda lib, a, b, c: a.masked_scatter_(b, c), x, m[0], s))
    same_tensor(*pair(lambda lib, a, b, c: a.masked_scatter(b, c), np.zeros(3, np.int64),
                      np.array([True, False, True]), np.array([[9, 8], [7, 6]])))
    _same_error(lambda lib: lib.zeros(3).masked_scatter(lib.tensor([True] * 3), lib.ones(2)))
    _same_error(lambda lib: lib.zeros(3).masked_scatter(lib.tensor([1, 0, 1]), lib.ones(3)))
    _same_error(lambda lib: lib.zeros(3).masked_scatter(lib.tensor([True, False, True]),
                                                        lib.ones(3, dtype=lib.int64)))
    with pytest.raises(RuntimeError):
        minigrad.zeros(3).masked_scatter_(minigrad.ones(2, 3).bool(), minigrad.ones(6))


def test_einsum_sublist_form_and_errors():
    a, b = np.random.default_rng(0).standard_normal((2, 3)), np.ones((3, 4))
    mg, th = pair(lambda lib, x, y: lib.einsum(x, [0, 1], y, [1, 2], [0, 2]), a, b)
    np.testing.assert_allclose(mg.numpy(), th.numpy(), rtol=1e-12)
    mg, th = pair(lambda lib, x: lib.einsum(x, [Ellipsis, 1], [Ellipsis]), a)
    np.testing.assert_allclose(mg.numpy(), th.numpy(), rtol=1e-12)
    _same_error(lambda lib: lib.einsum(lib.ones(2, 3), [0, 52]))
    _same_error(lambda lib: lib.einsum(lib.ones(2, 3), [0, -1]))


def test_is_inference():
    assert minigrad.ones(2).is_inference() is torch.ones(2).is_inference() is False
    with minigrad.no_grad():
        assert minigrad.ones(2).is_inference() is False


@pytest.mark.parametrize("op", ["relu", "leaky_relu", "abs", "relu_after_a_view"])
def test_piecewise_first_derivative_stays_on_the_graph(op):
    """grad(f(x).sum(), x, create_graph=True) requires grad, and a second grad with respect
    to x works (zeros), as in torch; a plain backward records nothing.  (torch's clamp keeps
    its first derivative off the graph, and so does minigrad's.)"""
    fns = {"relu": lambda lib, x: lib.relu(x),
           "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1),
           "abs": lambda lib, x: lib.abs(x),
           "relu_after_a_view": lambda lib, x: lib.relu((x * 2)[1:])}
    values = np.array([-1.0, 0.0, 0.25, 2.0, np.nan])
    results = []
    for lib in (minigrad, torch):
        x = lib.tensor(values, requires_grad=True)
        g, = lib.autograd.grad(fns[op](lib, x).sum(), x, create_graph=True)
        assert g.requires_grad
        gg, = lib.autograd.grad((g * lib.tensor(np.arange(5.0))).sum(), x)
        gg = gg + lib.zeros(gg.shape, dtype=gg.dtype)     # torch's may be an unallocated ZeroTensor
        results.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])
    x = minigrad.tensor(values, requires_grad=True)
    g, = minigrad.autograd.grad(minigrad.clamp(x, -0.5, 1.0).sum(), x, create_graph=True)
    assert not g.requires_grad
    fns[op](minigrad, x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad
