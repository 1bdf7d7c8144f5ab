"""The indexing and product ops on the inputs PyTorch's OpInfo samples (op_db) use and their
relatives: 0-d tensors as 1-d of size 1 in gather/scatter/index_*, empty indices, broadcasting
and wrapping in take_along_dim, index dtypes and out-of-range errors, nonzero and argmax of a
0-d tensor, atleast_nd on lists, inner/dot/tensordot checks and size-1 broadcasting, einsum
diagonals ('iji->j').  Each case runs the same code with ``torch`` bound to minigrad and to
PyTorch and compares values, shapes, dtypes, exception types and (where marked) first and
second derivatives."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _run(lib, fn):
    try:
        return fn(lib)
    except Exception as e:          # the exception type is compared with PyTorch's
        return e


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _check_same(fn):
    """fn(lib) on minigrad and torch: equal results (values, shapes, dtypes) or the same
    exception type."""
    expected, actual = _run(torch, fn), _run(minigrad, fn)
    if isinstance(expected, Exception):
        assert type(actual) is type(expected), f"torch: {expected!r}, minigrad: {actual!r}"
        return
    assert not isinstance(actual, Exception), f"torch gave a result, minigrad raised {actual!r}"
    assert isinstance(actual, tuple) == isinstance(expected, tuple)     # a tuple, or one tensor
    exp, act = _flat(expected), _flat(actual)
    assert len(exp) == len(act)
    for e, a in zip(exp, act):
        assert tuple(a.shape) == tuple(e.shape)
        assert str(a.dtype).split(".")[-1] == str(e.dtype).split(".")[-1]
        np.testing.assert_allclose(a.detach().numpy(), e.detach().numpy(), rtol=1e-6, atol=1e-9)


def _check_grads(fn, *arrays):
    """fn(lib, *tensors) on minigrad and torch: the outputs, first derivatives of
    sum(out**2) and second derivatives (of the first ones' squared sum) agree."""
    def run(lib):
        ts = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *ts)
        g1 = lib.autograd.grad((out * out).sum(), ts, create_graph=True)
        g2 = lib.autograd.grad(sum((g * g).sum() for g in g1), ts)
        return [out, *g1, *g2]
    for e, a in zip(run(torch), run(minigrad)):
        assert tuple(a.shape) == tuple(e.shape)
        np.testing.assert_allclose(a.detach().numpy(), e.detach().numpy(), rtol=1e-7, atol=1e-9)


RNG = np.random.default_rng(0)
X0, X4, X25, X235 = (RNG.normal(size=s) for s in [(), (4,), (2, 5), (2, 3, 5)])

# -- gather / scatter / scatter_add --------------------------------------------------------
GATHER_SCATTER = {
    "gather 0-d, 0-d index": lambda T: T.gather(T.tensor(3.0), 0, T.tensor(0)),
    "gather 0-d, index (2,)": lambda T: T.gather(T.tensor(3.0), -1, T.tensor([0, 0])),
    "gather 0-d, index out of range": lambda T: T.gather(T.tensor(3.0), 0, T.tensor([1])),
    "gather 0-d, 2-d index": lambda T: T.gather(T.tensor(3.0), 0, T.zeros(1, 1, dtype=T.long)),
    "gather 1-d, 0-d index": lambda T: T.gather(T.arange(5.0), 0, T.tensor(2)),
    "gather empty index of other rank": lambda T: T.gather(T.arange(5.0), 0,
                                                          T.zeros(2, 0, dtype=T.uint8)),
    "gather empty float index": lambda T: T.gather(T.ones(2, 3), 1, T.zeros(0, dtype=T.float32)),
    "gather uint8 index": lambda T: T.gather(T.arange(5.0), 0, T.tensor([2], dtype=T.uint8)),
    "gather int32 index": lambda T: T.gather(T.arange(5.0), 0, T.tensor([2], dtype=T.int32)),
    "gather index too large": lambda T: T.gather(T.ones(2, 3), 0, T.zeros(3, 4, dtype=T.long)),
    "gather negative index": lambda T: T.gather(T.arange(5.0), 0, T.tensor([-1])),
    "scatter 0-d": lambda T: T.scatter(T.tensor(3.0), 0, T.tensor(0), T.tensor(5.0)),
    "scatter 0-d, number": lambda T: T.scatter(T.tensor(3.0), 0, T.tensor(0), 2.5),
    "scatter 0-d, index (1,)": lambda T: T.scatter(T.tensor(3.0), 0, T.tensor([0]), T.tensor(5.0)),
    "scatter 1-d, 0-d index": lambda T: T.scatter(T.arange(5.0), 0, T.tensor(2), T.tensor(9.0)),
    "scatter empty index": lambda T: T.scatter(T.ones(2, 3), 0, T.zeros(4, 0, dtype=T.long), 1.0),
    "scatter src of other dtype": lambda T: T.scatter(T.ones(3), 0, T.tensor([0]),
                                                      T.ones(1, dtype=T.float64)),
    "scatter uint8 index": lambda T: T.scatter(T.ones(3), 0, T.tensor([0], dtype=T.uint8), 1.0),
    "scatter src too small": lambda T: T.scatter(T.ones(2, 3), 1, T.zeros(2, 2, dtype=T.long),
                                                 T.ones(2, 1)),
    "scatter 0-d src, 2-d index": lambda T: T.scatter(T.ones(2, 3), 1, T.zeros(2, 2, dtype=T.long),
                                                      T.ones(())),
    "scatter 1-d src, 2-d index": lambda T: T.scatter(T.ones(2, 3), 0, T.zeros(2, 2, dtype=T.long),
                                                      T.ones(5)),
    "scatter_add 0-d": lambda T: T.scatter_add(T.tensor(3.0), 0, T.tensor(0), T.tensor(5.0)),
    "scatter_add 0-d, repeats": lambda T: T.scatter_add(T.tensor(3.0), 0, T.tensor([0, 0]),
                                                        T.tensor([5.0, 1.0])),
    "scatter_add 0-d, src too small": lambda T: T.scatter_add(T.tensor(3.0), 0, T.tensor([0, 0]),
                                                              T.tensor(5.0)),
    "scatter_add 1-d, 0-d index": lambda T: T.scatter_add(T.ones(3), 0, T.tensor(0), T.ones(2)),
    "scatter_add src of other dtype": lambda T: T.scatter_add(T.ones(3), 0, T.tensor([0]),
                                                              T.ones(1, dtype=T.float64)),
    "scatter_add out of range": lambda T: T.scatter_add(T.ones(3), 0, T.tensor([-1]), T.ones(1)),
}


@pytest.mark.parametrize("name", list(GATHER_SCATTER))
def test_gather_scatter_like_torch(name):
    _check_same(GATHER_SCATTER[name])


# -- index_select / index_add ----------------------------------------------------------------
INDEX_OPS = {
    "index_select 0-d": lambda T: T.index_select(T.tensor(3.0), 0, T.tensor([0])),
    "index_select 0-d, 0-d index": lambda T: T.index_select(T.tensor(3.0), -1, T.tensor(0)),
    "index_select 0-d, two values": lambda T: T.index_select(T.tensor(3.0), 0, T.tensor([0, 0])),
    "index_select 0-d, -1": lambda T: T.index_select(T.tensor(3.0), 0, T.tensor([-1])),
    "index_select 1-d, 0-d index": lambda T: T.index_select(T.arange(5.0), 0, T.tensor(2)),
    "index_select -1 is out of range": lambda T: T.index_select(T.arange(5.0), 0, T.tensor([-1])),
    "index_select 5 is out of range": lambda T: T.index_select(T.ones(3, 3), 0, T.tensor([0, 3])),
    "index_select dim 1 out of range": lambda T: T.index_select(T.ones(3, 3), 1, T.tensor([3])),
    "index_select empty dim": lambda T: T.index_select(T.ones(0, 3), 0, T.tensor([0])),
    "index_select empty input": lambda T: T.index_select(T.ones(3, 0), 0, T.tensor([5])),
    "index_select uint8 index": lambda T: T.index_select(T.ones(3), 0,
                                                         T.tensor([0], dtype=T.uint8)),
    "index_select 2-d float index": lambda T: T.index_select(T.ones(3), 0, T.tensor([[0.0]])),
    "index_add 0-d": lambda T: T.index_add(T.tensor(3.0), 0, T.tensor([0]), T.tensor(5.0),
                                           alpha=2),
    "index_add 0-d, 0-d index": lambda T: T.index_add(T.tensor(3.0), -1, T.tensor(0),
                                                      T.tensor(5.0), alpha=-1),
    "index_add 0-d, 1-d source": lambda T: T.index_add(T.tensor(3.0), 0, T.tensor([0]),
                                                       T.tensor([5.0])),
    "index_add 0-d, two indices": lambda T: T.index_add(T.tensor(3.0), 0, T.tensor([0, 0]),
                                                        T.tensor(5.0)),
    "index_add source of other dtype": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([0]),
                                                             T.ones(1, 2, dtype=T.float64)),
    "index_add 2-d index": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([[0]]), T.ones(1, 2)),
    "index_add uint8 index": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([0], dtype=T.uint8),
                                                   T.ones(1, 2)),
    "index_add count mismatch": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([0, 1]),
                                                      T.ones(1, 2)),
    "index_add shape mismatch": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([0]), T.ones(1, 3)),
    "index_add dim past source": lambda T: T.index_add(T.ones(3, 2), 1, T.tensor([0]), T.ones(3)),
    "index_add out of range, 2-d": lambda T: T.index_add(T.ones(3, 2), 0, T.tensor([3]),
                                                         T.ones(1, 2)),
    "index_add out of range, 3-d": lambda T: T.index_add(T.ones(2, 3, 2), 1, T.tensor([-1]),
                                                         T.ones(2, 1, 2)),
    "index_add out of range, 1-d": lambda T: T.index_add(T.ones(3), 0, T.tensor([3]), T.ones(1)),
    "index_add int32 index": lambda T: T.index_add(T.ones(3, 2), -1, T.tensor([0, 1, 1],
                                                   dtype=T.int32), T.ones(3, 3), alpha=0.5),
}


@pytest.mark.parametrize("name", list(INDEX_OPS))
def test_index_select_index_add_like_torch(name):
    _check_same(INDEX_OPS[name])


# -- take_along_dim ------------------------------------------------------------------------
TAKE = {
    "broadcast input and index": lambda T: T.take_along_dim(T.arange(5.0).reshape(1, 5),
                                                            T.tensor([[0, 1]] * 5), 1),
    "negative and large indices wrap": lambda T: T.take_along_dim(
        T.arange(10.0).reshape(2, 5), T.tensor([[-5, -6, 7, 12, -12]]), 1),
    "no dim: no wrapping": lambda T: T.take_along_dim(T.arange(6.0).reshape(2, 3),
                                                      T.tensor([[-1]])),
    "0-d, no dim": lambda T: T.take_along_dim(T.tensor(3.0), T.tensor(0)),
    "0-d, dim 0": lambda T: T.take_along_dim(T.tensor(3.0), T.tensor(0), 0),
    "ndim mismatch": lambda T: T.take_along_dim(T.ones(2, 3), T.tensor([0]), 0),
    "int32 indices": lambda T: T.take_along_dim(T.ones(2, 3), T.tensor([[0]], dtype=T.int32), 0),
    "not broadcastable": lambda T: T.take_along_dim(T.ones(2, 3), T.zeros(3, 3, dtype=T.long), 1),
    "empty dim": lambda T: T.take_along_dim(T.ones(2, 0), T.zeros(2, 1, dtype=T.long), 1),
}


@pytest.mark.parametrize("name", list(TAKE))
def test_take_along_dim_like_torch(name):
    _check_same(TAKE[name])


# -- reductions to an index, nonzero, atleast_nd -------------------------------------------------
SHAPES = {
    "argmin 0-d dim 0 keepdim": lambda T: T.argmin(T.tensor(2.0), dim=0, keepdim=True),
    "argmax 0-d dim -1 keepdim": lambda T: T.argmax(T.tensor(2.0), dim=-1, keepdim=True),
    "argmax 0-d dim 1": lambda T: T.argmax(T.tensor(2.0), dim=1),
    "argmin 0-d dim 1": lambda T: T.argmin(T.tensor(2.0), dim=1),
    "max 0-d dim keepdim": lambda T: T.max(T.tensor(2.0), dim=0, keepdim=True),
    "nonzero 0-d non-zero": lambda T: T.nonzero(T.tensor(2.0)),
    "nonzero 0-d zero": lambda T: T.tensor(0.0).nonzero(),
    "nonzero 0-d as_tuple": lambda T: T.nonzero(T.tensor(2.0), as_tuple=True),
    "atleast_1d 0-d": lambda T: T.atleast_1d(T.tensor(2.0)),
    "atleast_2d 0-d": lambda T: T.atleast_2d(T.tensor(2.0)),
    "atleast_3d 0-d": lambda T: T.atleast_3d(T.tensor(2.0)),
    "atleast_3d list": lambda T: T.atleast_3d([T.tensor(2.0), T.ones(2, 3), T.ones(4),
                                               T.ones(1, 2, 3, 4)]),
    "atleast_2d several": lambda T: T.atleast_2d(T.tensor(2.0), T.ones(3)),
    "atleast_1d one-element list": lambda T: T.atleast_1d([T.tensor(2.0)]),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_index_reductions_nonzero_atleast_like_torch(name):
    _check_same(SHAPES[name])


# -- inner, dot, tensordot, einsum ---------------------------------------------------------------
PRODUCTS = {
    "inner 0-d and 2-d": lambda T: T.inner(T.tensor(2.0), T.arange(25.0).reshape(5, 5)),
    "inner int and 0-d float": lambda T: T.inner(T.arange(3), T.tensor(2.5)),
    "inner 2-d and 3-d": lambda T: T.inner(T.arange(6.0).reshape(2, 3),
                                           T.arange(12.0).reshape(2, 2, 3)),
    "Tensor.inner 2-d and 1-d": lambda T: T.arange(6.0).reshape(2, 3).inner(T.arange(3.0)),
    "inner last dims differ": lambda T: T.inner(T.ones(2, 1), T.ones(4)),
    "inner dtypes differ": lambda T: T.inner(T.arange(3), T.arange(3.0)),
    "dot dtypes differ": lambda T: T.dot(T.ones(3, dtype=T.long), T.ones(3)),
    "dot sizes 1 and 4": lambda T: T.dot(T.ones(1), T.ones(4)),
    "dot bool": lambda T: T.dot(T.ones(3, dtype=T.bool), T.ones(3, dtype=T.bool)),
    "tensordot sizes 1 and 2": lambda T: T.tensordot(T.full((1, 1, 1), 5.0),
                                                     T.arange(4.0).reshape(2, 1, 2),
                                                     dims=((0, 1), (2, 0))),
    "tensordot negative dims": lambda T: T.tensordot(T.arange(6.0).reshape(2, 3),
                                                     T.arange(6.0).reshape(2, 3),
                                                     dims=([-1, 0], [1, -2])),
    "tensordot dims past ndim": lambda T: T.tensordot(T.ones(2, 3), T.ones(3, 2), dims=3),
    "tensordot lists of two lengths": lambda T: T.tensordot(T.ones(2, 3), T.ones(3, 2),
                                                            dims=([0, 1], [1])),
    "tensordot repeated dim": lambda T: T.tensordot(T.ones(2, 2), T.ones(2, 2),
                                                    dims=([0, 0], [0, 0])),
    "tensordot dtypes differ": lambda T: T.tensordot(T.ones(2, 3), T.ones(2, 3, dtype=T.long),
                                                     dims=([1, 0], [1, 0])),
    "tensordot int pair": lambda T: T.tensordot(T.ones(2, 3), T.ones(2, 3), dims=(0, 0)),
    "tensordot 0-d tensor dims": lambda T: T.tensordot(T.arange(6.0).reshape(2, 3),
                                                       T.arange(6.0).reshape(3, 2),
                                                       dims=T.tensor(1)),
    "einsum iji->j": lambda T: T.einsum("iji->j", T.arange(12.0).reshape(2, 3, 2)),
    "einsum implicit trace": lambda T: T.einsum("ii", T.arange(9.0).reshape(3, 3)),
    "einsum iii->i": lambda T: T.einsum("iii->i", T.arange(27.0).reshape(3, 3, 3)),
    "einsum diagonal with ellipsis": lambda T: T.einsum("i...i->...",
                                                        T.arange(18.0).reshape(3, 2, 3)),
    "einsum diagonal sizes differ": lambda T: T.einsum("ii->i", T.arange(3.0).reshape(1, 3)),
}


@pytest.mark.parametrize("name", list(PRODUCTS))
def test_products_like_torch(name):
    _check_same(PRODUCTS[name])


GRADS = {
    "gather 0-d input": (lambda T, a: T.gather(a, 0, T.tensor([0, 0])), X0),
    "gather 0-d index": (lambda T, a: T.gather(a, 0, T.tensor(2)), X4),
    "scatter 0-d": (lambda T, a, b: T.scatter(a, 0, T.tensor(0), b), X0, X0 + 1),
    "scatter_add 0-d, repeats": (lambda T, a, b: T.scatter_add(a, 0, T.tensor([0, 0]), b),
                                 X0, X4[:2]),
    "index_add 0-d": (lambda T, a, b: T.index_add(a, 0, T.tensor([0]), b, alpha=2), X0, X0 - 1),
    "index_select 0-d": (lambda T, a: T.index_select(a, 0, T.tensor([0])), X0),
    "take_along_dim broadcast input": (lambda T, a: T.take_along_dim(
        a[:1], T.tensor([[1, -1]] * 5), 1), X25),
    "take_along_dim broadcast index": (lambda T, a: T.take_along_dim(
        a, T.tensor([[[1], [-2], [0]]]), 2), X235),
    "inner 0-d": (lambda T, a, b: T.inner(a, b), X0, X25),
    "inner n-d": (lambda T, a, b: T.inner(a, b), X235, X25),
    "tensordot sizes 1 and 2": (lambda T, a, b: T.tensordot(a, b, dims=((0, 1), (2, 0))),
                                X235[:1, :1, :1], X235[:, :1, :2]),
    "einsum iji->j": (lambda T, a: T.einsum("iji->j", a), X235[:, :, :2]),
    "einsum jii,ij->j": (lambda T, a, b: T.einsum("jii,ij->j", a, b), X235[:, :3, :3],
                         X235[0, :, :2]),
}


@pytest.mark.parametrize("name", list(GRADS))
def test_first_and_second_derivatives_like_torch(name):
    fn, *arrays = GRADS[name]
    _check_grads(fn, *arrays)
