"""The module functions of a sparse COO tensor, side by side with PyTorch: ``torch.abs(s)``,
``torch.add(dense, s)``, ``torch.cat([s, t])``, ``torch.stack``, ``torch.bmm`` of a batch of
sparse matrices, ``torch.unsqueeze``, ``torch.narrow_copy``, ``torch.zeros_like``,
``torch.addmm(dense, s, dense)`` and the elementwise functions that map zero to zero. Each
result is compared with PyTorch's: layout, shape, dtype, the dense values, coalesced or not
(and the indices where the order is PyTorch's), and gradients in float64 with respect to
the values a sparse tensor is built from and to the dense operands. PyTorch has no backward
for many of these on a sparse tensor (sin, tanh, cat, narrow_copy, ...), so the gradients'
reference is PyTorch's on the same function of the dense tensor (``to_dense()`` of the same
sparse tensor): every function here maps the zeros a sparse tensor leaves out to zeros, so
the gradient at the stored values is the same. Errors: PyTorch's type and words.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


def _sparse(lib, indices, values, size, requires_grad=False, dtype=None):
    v = lib.tensor(values, dtype=dtype or lib.float64, requires_grad=requires_grad)
    return lib.sparse_coo_tensor(lib.tensor(indices), v, size), v


def _plain(t):
    """(layout name, shape, dtype name, dense values, coalesced) of a result."""
    if t.is_sparse:
        return ("sparse", tuple(t.shape), str(t.dtype).split(".")[-1],
                t.to_dense().detach().numpy(), t.is_coalesced())
    return ("strided", tuple(t.shape), str(t.dtype).split(".")[-1], t.detach().numpy(), None)


def _grads(lib, dense_reference, build, call):
    """call(lib, *sparse operands) with the operands from ``build(lib)`` ((indices, values,
    size) triples and dense arrays); with ``dense_reference`` each sparse operand is its
    to_dense(). -> (result, gradients of a weighted sum of it for every values tensor and
    dense operand)."""
    leaves, operands = [], []
    for spec in build:
        if isinstance(spec, tuple):
            s, v = _sparse(lib, *spec, requires_grad=True)
            leaves.append(v)
            operands.append(s.to_dense() if dense_reference else s)
        else:
            d = lib.tensor(spec, requires_grad=True)
            leaves.append(d)
            operands.append(d)
    out = call(lib, *operands)
    dense = out.to_dense() if out.is_sparse else out
    if (dense_reference or lib is minigrad) and dense.dtype == lib.float64 and \
            dense.requires_grad:
        (dense * lib.tensor(WEIGHTS[:dense.numel()]).reshape(dense.shape)).sum().backward()
    return out, [None if t.grad is None else t.grad.numpy() for t in leaves]


def _check(build, call):
    """minigrad's result against PyTorch's (sparse operands), its gradients against
    PyTorch's on the dense operands."""
    a, _ = _grads(torch, False, build, call)
    b, gb = _grads(minigrad, False, build, call)
    _same(b, a)
    _, ga = _grads(torch, True, build, call)
    for x, y in zip(gb, ga):
        assert (x is None) == (y is None)
        if y is not None:
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)
    return a, b


def _same(a, b):
    pa, pb = _plain(a), _plain(b)
    assert pa[0] == pb[0] and pa[1] == pb[1] and pa[2] == pb[2] and pa[4] == pb[4], (pa, pb)
    np.testing.assert_allclose(pa[3], pb[3], rtol=1e-12, atol=1e-12)


IDX = [[0, 1, 1, 0], [2, 0, 2, 2]]          # (0, 2) twice: uncoalesced
VALS = [3.0, -4.0, 5.0, 0.5]

UNARY = ["abs", "neg", "negative", "sqrt", "sin", "tanh", "square", "sign", "isnan", "relu",
         "floor", "expm1", "log1p", "trunc", "absolute", "clone", "t"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_function_forms(name):
    _check([(IDX, VALS, (2, 3))],
           lambda lib, s: getattr(lib, name)(s.abs() if name == "sqrt" else s))


@pytest.mark.parametrize("call", [
    lambda L, s, d: L.add(s, s), lambda L, s, d: L.add(s, s, alpha=2),
    lambda L, s, d: L.sub(s, 2 * s), lambda L, s, d: L.mul(s, 2.5),
    lambda L, s, d: L.mul(s, s), lambda L, s, d: L.div(s, 4), lambda L, s, d: L.pow(s, 2),
    lambda L, s, d: L.add(d, s), lambda L, s, d: L.sub(d, s), lambda L, s, d: L.mul(d, s),
    lambda L, s, d: L.mul(s, d), lambda L, s, d: L.multiply(d, s),
    lambda L, s, d: L.transpose(s, 0, 1), lambda L, s, d: L.swapaxes(s, 1, 0),
    lambda L, s, d: L.sum(s), lambda L, s, d: L.mm(s, d.t()), lambda L, s, d: L.matmul(s, d.t()),
    lambda L, s, d: L.addmm(d[:, :2], s, d.t()[:, :2]),
    lambda L, s, d: L.addmm(d[:, :2], s, d.t()[:, :2], beta=0.5, alpha=-2),
    lambda L, s, d: L.index_select(s, 1, L.tensor([2, 0, 2])),
    lambda L, s, d: L.narrow_copy(s, 1, 1, 2), lambda L, s, d: L.narrow_copy(s, 0, 1, 1),
])
def test_binary_function_forms(call):
    _check([(IDX, VALS, (2, 3)), RNG_D], call)


RNG_D = RNG.standard_normal((2, 3))
WEIGHTS = RNG.standard_normal(64)


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_unsqueeze(dim):
    results = []
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, IDX, VALS, (2, 3))
        u = lib.unsqueeze(s, dim)
        results.append((u, u.sparse_dim(), u.dense_dim(), u._indices().tolist()))
    (a, *ra), (b, *rb) = results
    _same(b, a)
    assert ra == rb


def test_unsqueeze_of_dense_dims_and_range():
    for lib in (torch, minigrad):
        s = lib.sparse_coo_tensor(lib.tensor([[0, 1]]), lib.ones(2, 3, dtype=lib.float64), (2, 3))
        u = s.unsqueeze(2)
        assert (u.sparse_dim(), u.dense_dim(), tuple(u.shape)) == (1, 2, (2, 3, 1))
        with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                                             r"of \[-3, 2\], but got 3\)"):
            s.unsqueeze(3)


@pytest.mark.parametrize("how", ["cat0", "cat1", "cat_neg", "stack0", "stack1", "stack2",
                                 "concat"])
def test_cat_and_stack(how):
    def call(lib, s, t):
        return {"cat0": lambda: lib.cat([s, t]), "cat1": lambda: lib.cat([s, t], 1),
                "cat_neg": lambda: lib.cat((s, t, s), dim=-1),
                "stack0": lambda: lib.stack([s, t]), "stack1": lambda: lib.stack([s, t], 1),
                "stack2": lambda: lib.stack([s, t], dim=2),
                "concat": lambda: lib.concat([s, t], 0)}[how]()
    a, b = _check([(IDX, VALS, (2, 3)), ([[1, 0], [1, 1]], [7.0, -1.0], (2, 3))], call)
    assert a._indices().tolist() == b._indices().tolist()


@pytest.mark.parametrize("case, error, words", [
    ("dense", RuntimeError, "Concatenating sparse tensors, but a dense tensor was found at "
                            "position 1."),
    ("dims", RuntimeError, "All tensors must have the same sparse_dim and dense_dim: 2, 0, but "
                           "tensor at position 1 has 1, 1."),
    ("range", IndexError, "Dimension out of range (expected to be in range of [-2, 1], but got "
                          "2)"),
    ("shape", RuntimeError, "All tensors must have the same shape: [2, 3] (except in the "
                            "concatenating dimension), but found shape: [2, 4] at position 1."),
])
def test_cat_errors(case, error, words):
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, IDX, VALS, (2, 3))
        other = {"dense": lib.ones(2, 3, dtype=lib.float64),
                 "dims": lib.sparse_coo_tensor(lib.tensor([[0, 1]]),
                                               lib.ones(2, 3, dtype=lib.float64), (2, 3)),
                 "range": s, "shape": _sparse(lib, IDX, VALS, (2, 4))[0]}[case]
        with pytest.raises(error) as info:
            lib.cat([s, other], 2 if case == "range" else 0)
        assert words in str(info.value)


def test_bmm_of_a_sparse_batch():
    a, b = _check([([[0, 0, 1, 1, 1], [0, 1, 1, 0, 1], [2, 0, 2, 1, 2]],
                    [3.0, -4.0, 5.0, 2.0, 1.0], (2, 2, 3)), RNG.standard_normal((2, 3, 4))],
                  lambda lib, s, x: lib.bmm(s, x))
    assert b.layout == minigrad.strided


@pytest.mark.parametrize("make, words", [
    (lambda L, s: L.bmm(s, L.ones(2, 4, 4, dtype=L.float64)),
     "bmm_sparse: 'self.size(2)' and 'mat2.size(1)' must match"),
    (lambda L, s: L.bmm(L.sparse_coo_tensor(L.tensor([[0], [1]]), L.ones(1, dtype=L.float64),
                                            (2, 3)), L.ones(3, 4)),
     "bmm_sparse: Tensor 'self' must have 3 sparse dims, but has 2"),
])
def test_bmm_errors(make, words):
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, [[0, 1], [1, 0], [2, 1]], [1.0, 2.0], (2, 2, 3))
        with pytest.raises(RuntimeError) as info:
            make(lib, s)
        assert words in str(info.value)


@pytest.mark.parametrize("kwargs", [{}, {"dtype": "float32"}, {"layout": "strided"}])
def test_zeros_like(kwargs):
    results = []
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, IDX, VALS, (2, 3))
        kw = {k: getattr(lib, v) for k, v in kwargs.items()}
        z = lib.zeros_like(s, **kw)
        results.append((z, z._nnz() if z.is_sparse else None))
    (a, na), (b, nb) = results
    _same(b, a)
    assert na == nb


def test_narrow_copy_range():
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, IDX, VALS, (2, 3))
        with pytest.raises(RuntimeError, match=r"Invalid range to narrow. range\(start, "
                                               r"start\+length\) must be a subset of range\(0, "
                                               r"2\)."):
            lib.narrow_copy(s, 0, -1, 1)


def test_dense_functions_still_refuse_a_sparse_tensor():
    """A function without a sparse form reads the dense array, which a sparse tensor refuses
    (NotImplementedError, as PyTorch's missing sparse kernels)."""
    for lib in (torch, minigrad):
        s, _ = _sparse(lib, IDX, VALS, (2, 3))
        with pytest.raises(NotImplementedError):
            lib.cumsum(s, 0)
