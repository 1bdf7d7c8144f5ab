"""Sparse CSR tensors, beside torch: construction and its errors, repr, round trips between
dense, COO and CSR, torch.sparse.mm with reduce= (sum, mean, amax, amin: values and both
gradients against torch and against central differences of torch's forward; ties, NaN,
infinities, empty rows, an empty matrix), CSR @ dense, and the refusals."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import minigrad as mg

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")

DENSE = np.array([[1., 0., 2., 0.], [0., 0., 0., 0.], [3., -3., 0., 0.5], [0., 0., 0., 5.]])
CROW, COL, VAL = [0, 2, 2, 5, 6], [0, 2, 0, 1, 3, 3], [1., 2., 3., -3., 0.5, 5.]
REDUCES = ["sum", "mean", "amax", "amin"]


def both(fn):
    return fn(mg), fn(torch)


def make(lib, values=VAL, dtype="float64", **kw):
    return lib.sparse_csr_tensor(lib.tensor(CROW), lib.tensor(COL),
                                 lib.tensor(values, dtype=getattr(lib, dtype)), (4, 4), **kw)


def same_repr(m, t):
    assert repr(m) == repr(t).replace("torch.", "minigrad.")


def close(m, t, tol=1e-12):
    """Equal values; a sparse CSR one also of the same pattern."""
    assert tuple(m.shape) == tuple(t.shape)
    if t.layout == torch.sparse_csr:
        assert m.layout is mg.sparse_csr and m.is_sparse_csr and not m.is_sparse
        np.testing.assert_array_equal(m.crow_indices().numpy(), t.crow_indices().numpy())
        np.testing.assert_array_equal(m.col_indices().numpy(), t.col_indices().numpy())
        m, t = m.values(), t.values()
    np.testing.assert_allclose(m.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def same_error(fn, first_line=False):
    """Both libraries raise the same exception type with the same words."""
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(type(theirs.value)) as mine:
        fn(mg)
    want = str(theirs.value).split("\n")[0] if first_line else str(theirs.value)
    got = str(mine.value).split("\n")[0] if first_line else str(mine.value)
    if first_line:
        assert got.startswith(want.split(". This could")[0]), (got, want)
    else:
        assert got == want.replace("torch.", "minigrad."), (got, want)


# -- construction, attributes, repr --------------------------------------------------------------
def test_attributes_match():
    m, t = both(lambda lib: make(lib, dtype="float32"))
    assert isinstance(m, mg.Tensor) and m.layout is mg.sparse_csr
    assert m.is_sparse_csr and not m.is_sparse and not mg.ones(2).is_sparse_csr
    assert (m.shape, m.ndim, m.dim(), m.numel(), m._nnz(), m.sparse_dim(), m.dense_dim(),
            len(m)) == (tuple(t.shape), t.ndim, t.dim(), t.numel(), t._nnz(), t.sparse_dim(),
                        t.dense_dim(), len(t))
    assert str(m.dtype) == str(t.dtype).replace("torch", "minigrad")
    assert m.requires_grad is False and m.is_leaf and m.crow_indices().dtype == mg.int64
    close(m, t)
    close(m.values(), t.values())


def test_size_inferred_index_dtypes_and_dtype():
    m, t = both(lambda lib: lib.sparse_csr_tensor([0, 2, 3], [0, 4, 1], [1, 2, 3]))
    assert tuple(m.shape) == tuple(t.shape) == (2, 5) and m.dtype == mg.int64
    m, t = both(lambda lib: lib.sparse_csr_tensor(lib.tensor([0, 2, 3], dtype=lib.int32),
                                                  lib.tensor([0, 1, 1], dtype=lib.int32),
                                                  [1., 2., 3.], dtype=lib.float64))
    assert m.crow_indices().dtype == mg.int32 and m.col_indices().dtype == mg.int32
    assert m.dtype == mg.float64
    same_repr(m, t)


@pytest.mark.parametrize("args", [
    ([0, 2, 3], [0, 1], [1., 2., 3.], None),                  # nnz of col vs values
    ([0, 2, 3], [0, 1, 1], [1., 2.], None),
    ([0, 2, 3], [0, 1, 1], [1., 2., 3.], (3, 3)),             # rows vs crow length
    ([0, 2, 3], [0, 1, 1], [1., 2., 3.], (3,)),
    ([0, 2, 3], [0, 1, 1], [1., 2., 3.], (1, 2, 3)),
    ([1, 2, 3], [0, 1, 1], [1., 2., 3.], None),               # crow[0] != 0
    ([0, 2, 4], [0, 1, 1], [1., 2., 3.], (2, 3)),             # crow[-1] != nnz
    ([0, 2, 3], [0, 5, 1], [1., 2., 3.], (2, 3)),             # column out of range
    ([0, 2, 3], [0, -1, 1], [1., 2., 3.], (2, 3)),
    ([0, 2, 3], [1, 0, 1], [1., 2., 3.], (2, 3)),             # unsorted in a row
    ([0, 2, 3], [1, 1, 1], [1., 2., 3.], (2, 3)),             # repeated in a row
    ([0, 3, 3], [0, 1, 1], [1., 2., 3.], (2, 2)),             # more in a row than columns
    ([0, 2, 1, 3], [0, 1, 1], [1., 2., 3.], (3, 3)),          # crow decreasing
    ([0, 3, 2, 3], [0, 1, 1], [1., 2., 3.], (3, 3)),          # the earlier row's error first
    ([], [], [], None),
])
def test_construction_errors(args):
    crow, col, values, size = args

    def go(lib):
        sized = () if size is None else (size,)
        return lib.sparse_csr_tensor(lib.tensor(crow, dtype=lib.int64),
                                     lib.tensor(col, dtype=lib.int64), lib.tensor(values),
                                     *sized, check_invariants=True)
    same_error(go)


@pytest.mark.parametrize("make_args", [
    lambda lib: (lib.tensor(0), lib.tensor(0), lib.tensor([1.])),
    lambda lib: (lib.tensor([0, 1]), lib.tensor([0]), lib.tensor(1.)),
    lambda lib: (lib.tensor([0., 1.]), lib.tensor([0]), lib.tensor([1.])),
    lambda lib: (lib.tensor([0., 1.]), lib.tensor([0.]), lib.tensor([1.])),
    lambda lib: (lib.tensor([0., 1.]), lib.tensor([0.]), lib.tensor([1.]), (1, 1)),
    lambda lib: (lib.tensor([0, 1], dtype=lib.int32), lib.tensor([0]), lib.tensor([1.])),
    lambda lib: (lib.tensor([0, 1], dtype=lib.int16), lib.tensor([0], dtype=lib.int16),
                 lib.tensor([1.])),
])
def test_index_errors(make_args):
    same_error(lambda lib: lib.sparse_csr_tensor(*make_args(lib), check_invariants=True))


def test_requires_grad_int_refused():
    same_error(lambda lib: make(lib, [1, 2, 3, 4, 5, 6], "int64", requires_grad=True))


def test_batched_and_hybrid_refused():
    with pytest.raises(NotImplementedError, match="batch or dense dimensions"):
        mg.sparse_csr_tensor([[0, 1]], [[0]], [[1.]])
    with pytest.raises(NotImplementedError, match="batch or dense dimensions"):
        mg.sparse_csr_tensor([0, 1], [0], [[1., 2.]])
    with pytest.raises(NotImplementedError, match="batch or dense dimensions"):
        mg.ones(2, 2, 2).to_sparse_csr()


@pytest.mark.parametrize("case", ["float", "double_grad", "long", "bool", "empty", "no_rows",
                                  "long_rows", "grad_fn", "wide_values"])
def test_repr(case):
    def build(lib):
        if case == "float":
            return make(lib, dtype="float32")
        if case == "double_grad":
            return make(lib, requires_grad=True)
        if case == "long":
            return make(lib, [1, 2, 3, 4, 5, 6], "int64")
        if case == "bool":
            return lib.tensor([[True, False], [False, True]]).to_sparse_csr()
        if case == "empty":
            return lib.zeros(3, 4).to_sparse_csr()
        if case == "no_rows":
            return lib.zeros(0, 4, dtype=lib.float64).to_sparse_csr()
        if case == "long_rows":
            return lib.tensor(np.eye(40)[:, ::-1] * np.arange(40.)).to_sparse_csr()
        if case == "grad_fn":
            return lib.tensor(DENSE, requires_grad=True).to_sparse_csr()
        return make(lib, [2.5, 4.5, 8.5, 2., 15., 1.])
    same_repr(*both(build))


def test_copies_pickles_detach_clone():
    s = make(mg, requires_grad=True)
    t = make(torch, requires_grad=True)
    for c in (copy.deepcopy(s), pickle.loads(pickle.dumps(s))):
        same_repr(c, t)
        close(c, t)
    close(s.clone(), t.clone())
    assert s.clone().requires_grad and s.clone().grad_fn is not None
    same_repr(s.detach(), t.detach())
    same_repr(s.data, t.data)
    assert s.clone().values() is not s.values()


# -- conversions ---------------------------------------------------------------------------------
@pytest.mark.parametrize("route", [
    lambda lib: lib.tensor(DENSE).to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse(layout=lib.sparse_csr),
    lambda lib: lib.tensor(DENSE).to_sparse().to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse().to_sparse(layout=lib.sparse_csr),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().to_sparse().to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr().to_sparse(layout=lib.sparse_csr),
    lambda lib: lib.sparse_coo_tensor([[2, 0, 2, 0], [1, 2, 1, 0]], [1., 2., 3., 4.],
                                      (3, 3)).to_sparse_csr(),           # uncoalesced COO
    lambda lib: lib.tensor([[float("nan"), 0.], [0., 0.]]).to_sparse_csr(),
    lambda lib: lib.zeros(3, 0).to_sparse_csr(),
])
def test_round_trips(route):
    m, t = both(route)
    same_repr(m, t)
    close(m, t)
    np.testing.assert_array_equal(m.to_dense().numpy(), t.to_dense().numpy())


def test_to_coo_and_dense():
    m, t = both(lambda lib: make(lib).to_sparse())
    same_repr(m, t)
    m, t = both(lambda lib: make(lib).to_sparse(layout=lib.sparse_coo))
    same_repr(m, t)
    m, t = both(lambda lib: make(lib).to_dense())
    close(m, t)
    assert m.layout is mg.strided


@pytest.mark.parametrize("fn", [
    lambda lib: lib.tensor([1., 0., 2.]).to_sparse_csr(),
    lambda lib: lib.tensor(1.).to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse_csr(dense_dim=1),
    lambda lib: lib.tensor(DENSE).to_sparse_csr(dense_dim=-1),
    lambda lib: lib.tensor(DENSE).to_sparse(layout=lib.sparse_csr, dense_dim=1),
    lambda lib: lib.tensor(DENSE).to_sparse(layout=lib.sparse_csr, blocksize=(1, 1)),
    lambda lib: lib.tensor(DENSE).to_sparse(1, layout=lib.sparse_csr),
    lambda lib: lib.ones(3).to_sparse().to_sparse_csr(),
    lambda lib: lib.tensor(DENSE).to_sparse().to_sparse_csr(dense_dim=0),
    lambda lib: make(lib).to_sparse(1),
    lambda lib: make(lib).to_sparse_csr(0),
    lambda lib: make(lib).to_dense(lib.float32),
    lambda lib: lib.ones(2, 2, dtype=lib.complex128, requires_grad=True).to_sparse_csr(),
])
def test_conversion_errors(fn):
    same_error(fn)


def test_conversion_gradients():
    def go(lib):
        d = lib.tensor(DENSE, requires_grad=True)
        s = d.to_sparse_csr()
        w = lib.tensor(np.arange(16.).reshape(4, 4))
        (s.to_dense() * w).sum().backward()
        return d.grad, s.grad_fn.name()
    (gm, nm), (gt, nt) = both(go)
    close(gm, gt)
    assert nm == nt

    def leaf(lib):
        s = make(lib, requires_grad=True)
        w = lib.tensor(np.arange(16.).reshape(4, 4))
        (s.to_sparse().to_dense() * w).sum().backward()
        return s.grad
    m, t = both(leaf)
    same_repr(m, t)
    close(m, t)


def test_values_requiring_grad_pass_gradients():
    """torch has no derivative for sparse_csr_tensor of values that require grad; minigrad's
    passes the gradient to them, as a leaf CSR tensor's (torch's reference)."""
    v = mg.tensor(VAL, requires_grad=True)
    s = mg.sparse_csr_tensor(mg.tensor(CROW), mg.tensor(COL), v * 1, (4, 4))
    w = np.arange(16.).reshape(4, 4)
    (s.to_dense() * mg.tensor(w)).sum().backward()
    t = make(torch, requires_grad=True)
    (t.to_dense() * torch.tensor(w)).sum().backward()
    close(v.grad, t.grad.values())


# -- torch.sparse.mm(..., reduce=) ---------------------------------------------------------------
def _reduce_case(lib, reduce, crow, col, values, dense, weights, leaf=True):
    n = len(crow) - 1
    s = lib.sparse_csr_tensor(lib.tensor(crow), lib.tensor(col, dtype=lib.int64),
                              lib.tensor(values, dtype=lib.float64), (n, dense.shape[0]),
                              requires_grad=leaf)
    d = lib.tensor(dense, requires_grad=True)
    out = lib.sparse.mm(s, d, reduce)
    (out * lib.tensor(weights)).sum().backward()
    return out, s.grad, d.grad


def _against_torch(reduce, crow, col, values, dense, leaf=True):
    weights = np.cos(np.arange((len(crow) - 1) * dense.shape[1])).reshape(len(crow) - 1, -1)
    (om, sm, dm), (ot, st, dt) = (_reduce_case(lib, reduce, crow, col, values, dense, weights,
                                               leaf) for lib in (mg, torch))
    assert om.grad_fn.name() == ot.grad_fn.name()
    close(om, ot)
    close(dm, dt)
    if leaf:
        close(sm, st)
        same_repr(sm, st)


def _random_case(seed, n=6, m=5, p=3, integers=False):
    rng = np.random.default_rng(seed)
    mask = rng.random((n, m)) < 0.5
    mask[1] = False                                       # an empty row
    rows, col = np.nonzero(mask)
    crow = np.concatenate(([0], np.cumsum(mask.sum(1)))).tolist()
    if integers:                                          # many ties among the products
        return crow, col.tolist(), rng.integers(-2, 3, rows.size).astype(float).tolist(), \
            rng.integers(-2, 3, (m, p)).astype(float)
    return crow, col.tolist(), rng.standard_normal(rows.size).tolist(), \
        rng.standard_normal((m, p))


@pytest.mark.parametrize("reduce", REDUCES + ["max", "min"])
@pytest.mark.parametrize("integers", [False, True])
def test_reduce_against_torch(reduce, integers):
    for seed in range(3):
        _against_torch(reduce, *_random_case(seed, integers=integers))


@pytest.mark.parametrize("reduce", REDUCES)
def test_reduce_dense_grad_only(reduce):
    _against_torch(reduce, *_random_case(7), leaf=False)


@pytest.mark.parametrize("reduce", REDUCES)
def test_reduce_against_central_differences(reduce):
    """minigrad's gradients against central differences of torch's forward."""
    crow, col, values, dense = _random_case(3)
    weights = np.sin(np.arange(6 * 3) + 1.).reshape(6, 3)
    _, gs, gd = _reduce_case(mg, reduce, crow, col, values, dense, weights)

    def loss(v, d):
        s = torch.sparse_csr_tensor(torch.tensor(crow), torch.tensor(col), torch.tensor(v),
                                    (6, 5))
        return float((torch.sparse.mm(s, torch.tensor(d), reduce) * torch.tensor(weights)).sum())
    eps = 1e-6
    v0, d0 = np.array(values), dense
    num_v = [(loss(v0 + eps * e, d0) - loss(v0 - eps * e, d0)) / (2 * eps)
             for e in np.eye(v0.size)]
    num_d = [(loss(v0, d0 + eps * e.reshape(d0.shape)) -
              loss(v0, d0 - eps * e.reshape(d0.shape))) / (2 * eps) for e in np.eye(d0.size)]
    np.testing.assert_allclose(gs.values().numpy(), num_v, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(gd.numpy().reshape(-1), num_d, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("values, dense", [
    ([2., 1., -1.], [[1., -2.], [2., -4.], [-2., 4.]]),           # every product ties
    ([1., 1., 1.], [[2., 0.], [2., -0.], [1., 0.]]),               # ties, and 0 vs -0
    ([1., 1., 1.], [[float("nan"), 1.], [float("nan"), 2.], [1., 2.]]),   # the last NaN wins
    ([1., 1., 1.], [[1., 0.], [float("nan"), 0.], [float("nan"), 0.]]),
    ([1., 1., 1.], [[-np.inf, np.inf], [-np.inf, np.inf], [-np.inf, np.inf]]),
    ([0., 1., 1.], [[np.inf, -1.], [-1., 2.], [-1., 3.]]),         # 0 * inf is NaN
])
@pytest.mark.parametrize("reduce", REDUCES)
def test_reduce_ties_nan_inf(values, dense, reduce):
    with np.errstate(invalid="ignore"):
        _against_torch(reduce, [0, 3, 3], [0, 1, 2], values, np.array(dense))


@pytest.mark.parametrize("reduce", REDUCES)
def test_reduce_empty_matrix(reduce):
    _against_torch(reduce, [0, 0, 0], [], [], np.ones((3, 2)))
    out = both(lambda lib: lib.sparse.mm(lib.zeros(2, 3, dtype=lib.float64).to_sparse_csr(),
                                         lib.ones(3, 0, dtype=lib.float64), reduce))
    close(*out)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("reduce", REDUCES)
def test_reduce_low_precision(reduce, dtype):
    crow, col, values, dense = _random_case(5)

    def go(lib):
        s = lib.sparse_csr_tensor(lib.tensor(crow), lib.tensor(col),
                                  lib.tensor(values, dtype=getattr(lib, dtype)), (6, 5))
        return lib.sparse.mm(s, lib.tensor(dense, dtype=getattr(lib, dtype)), reduce)
    m, t = both(go)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(m.float().numpy(), t.float().numpy(), rtol=2e-3, atol=2e-3)


@pytest.mark.parametrize("fn", [
    lambda lib: lib.sparse.mm(lib.tensor(DENSE).to_sparse(), lib.ones(4, 2), "sum"),
    lambda lib: lib.sparse.mm(lib.tensor(DENSE), lib.ones(4, 2), "sum"),
    lambda lib: lib.sparse.mm(lib.ones(2, 4), lib.tensor(DENSE).to_sparse_csr(), "sum"),
    lambda lib: lib.sparse.mm(make(lib), make(lib), "sum"),
    lambda lib: lib.sparse.mm(make(lib), lib.tensor(DENSE).to_sparse(), "sum"),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, 2), "sum"),                # dtypes
    lambda lib: lib.sparse.mm(make(lib), lib.ones(3, 2, dtype=lib.float64), "sum"),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, dtype=lib.float64), "sum"),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, 2, dtype=lib.float64), "prod"),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, 2, dtype=lib.float64), "foo"),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, 2, dtype=lib.float64), 3),
    lambda lib: lib.sparse.mm(make(lib), [[1.]], "sum"),
    lambda lib: lib.sparse.mm(make(lib, [1, 2, 3, 4, 5, 6], "int64"),
                              lib.ones(4, 2, dtype=lib.int64), "sum"),
])
def test_reduce_errors(fn):
    same_error(fn, first_line=True)


# -- CSR @ dense ---------------------------------------------------------------------------------
@pytest.mark.parametrize("product", [
    lambda s, d: s @ d, lambda s, d: s.matmul(d), lambda s, d: s.mm(d),
    lambda s, d: mg.mm(s, d) if isinstance(s, mg.Tensor) else torch.mm(s, d),
    lambda s, d: mg.matmul(s, d) if isinstance(s, mg.Tensor) else torch.matmul(s, d),
    lambda s, d: (mg if isinstance(s, mg.Tensor) else torch).sparse.mm(s, d),
    lambda s, d: (mg if isinstance(s, mg.Tensor) else torch).sparse.addmm(d[:, :1], s, d),
    lambda s, d: s @ d[:, 0],
])
def test_matmul(product):
    """Forward and the dense matrix's gradient as torch's. (torch's gradient for the CSR
    matrix of ``@`` / ``mm`` is a dense matrix; minigrad's, on the CSR pattern, is
    compared with torch.sparse.mm's in test_sparse_mm_pattern_grad.)"""
    def go(lib):
        d = lib.tensor(np.arange(8.).reshape(4, 2) - 3, requires_grad=True)
        out = product(make(lib), d)
        (out * out).sum().backward()
        return out, d.grad
    (om, gm), (ot, gt) = both(go)
    close(om, ot)
    close(gm, gt)


def test_sparse_mm_pattern_grad():
    def go(lib):
        s = make(lib, requires_grad=True)
        out = lib.sparse.mm(s, lib.tensor(np.arange(8.).reshape(4, 2) - 3))
        (out * out).sum().backward()
        return s.grad, out.grad_fn.name()
    (gm, nm), (gt, nt) = both(go)
    same_repr(gm, gt)
    close(gm, gt)
    assert nm == nt


@pytest.mark.parametrize("fn", [
    lambda lib: make(lib) @ lib.ones(4, 2),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, 2)),
    lambda lib: make(lib) @ lib.ones(3, 2, dtype=lib.float64),
    lambda lib: make(lib) @ lib.ones(3, dtype=lib.float64),
    lambda lib: make(lib) @ lib.tensor(1., dtype=lib.float64),
    lambda lib: make(lib) @ lib.ones(2, 4, 2, dtype=lib.float64),
    lambda lib: make(lib).mm(lib.ones(4, dtype=lib.float64)),
    lambda lib: lib.sparse.mm(make(lib), lib.ones(4, dtype=lib.float64)),
    lambda lib: make(lib).mm([[1.]]),
    lambda lib: make(lib) @ [[1.]],
    lambda lib: lib.mm(make(lib, [1, 2, 3, 4, 5, 6], "int64"), lib.ones(4, 2, dtype=lib.int64)),
])
def test_matmul_errors(fn):
    same_error(fn, first_line=True)


# -- what a CSR tensor refuses -------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda s: s.numpy(), lambda s: s.stride(), lambda s: s.is_contiguous(),
    lambda s: s.indices(), lambda s: s.coalesce(), lambda s: s.is_coalesced(),
    lambda s: s.ccol_indices(), lambda s: s.tolist(), lambda s: s.item(),
    lambda s: s.view(-1), lambda s: s.reshape(-1), lambda s: s.type(),
    lambda s: s.untyped_storage(),
])
def test_refusals_as_torch(fn):
    same_error(lambda lib: fn(make(lib)), first_line=True)


def test_dense_ops_refused():
    s = make(mg)
    for fn in (lambda: s.exp(), lambda: s.max(), lambda: s + 1, lambda: s.softmax(0)):
        with pytest.raises((NotImplementedError, RuntimeError)):
            fn()


def test_scalar_ops_and_sum():
    for fn in (lambda s: s * 2.5, lambda s: 2.5 * s, lambda s: -s, lambda s: s.double(),
               lambda s: s.to(s.dtype), lambda s: s.sum()):
        m, t = both(lambda lib: fn(make(lib, dtype="float32")))
        if t.layout == torch.sparse_csr:
            same_repr(m, t)
        close(m, t)


def test_grad_setter_and_requires_grad():
    s = make(mg)
    s.requires_grad_()
    assert s.requires_grad and s.values().requires_grad
    out = mg.sparse.mm(s, mg.ones(4, 2, dtype=mg.float64), "mean")
    out.sum().backward()
    g = s.grad
    s.grad = None
    assert s.grad is None
    s.grad = g
    t = make(torch, requires_grad=True)
    torch.sparse.mm(t, torch.ones(4, 2, dtype=torch.float64), "mean").sum().backward()
    close(s.grad, t.grad)
