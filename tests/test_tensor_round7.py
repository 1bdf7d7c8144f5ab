"""Round 7 tensor functions (part B), side by side with torch: the *_copy and *_scatter view
families, index_put / put, fmax / fmin, the real/complex queries, angle, trace, rsub,
sum_to_size, fill, constant_pad_nd, unravel_index, gradient, histogramdd, nonzero_static,
cholesky_inverse, chain_matmul, the deprecated norms, detach and embedding_renorm_.
(Gradients of the differentiable ones are checked through the op registry as well.)"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)


class _Raised:
    def __init__(self, exc):
        self.kind, self.message = type(exc).__name__, str(exc)

    def __repr__(self):
        return f"{self.kind}({self.message!r})"


def _outcome(lib, fn):
    """fn(lib)'s result as numpy (tuples kept), or what it raised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(lib)
    except Exception as exc:  # noqa: BLE001 -- compared with torch's
        return _Raised(exc)
    return _as_numpy(out)


def _as_numpy(out):
    if isinstance(out, (tuple, list)):
        return tuple(_as_numpy(o) for o in out)
    if hasattr(out, "detach"):
        out = out.detach()
    return np.asarray(out.numpy() if hasattr(out, "numpy") else out)


def _check(fn, exact_message=True):
    """fn(minigrad) and fn(torch) agree: the same values, dtypes and shapes, or the same
    exception type (and message)."""
    mine, ref = _outcome(minigrad, fn), _outcome(torch, fn)
    if isinstance(ref, _Raised):
        assert isinstance(mine, _Raised), (mine, ref)
        assert mine.kind == ref.kind, (mine, ref)
        if exact_message:
            assert mine.message == ref.message, (mine, ref)
        return
    assert not isinstance(mine, _Raised), mine
    _assert_same(mine, ref)


def _assert_same(mine, ref):
    if isinstance(ref, tuple):
        assert isinstance(mine, tuple) and len(mine) == len(ref), (mine, ref)
        for a, b in zip(mine, ref):
            _assert_same(a, b)
        return
    assert mine.shape == ref.shape and mine.dtype == ref.dtype, (mine, ref)
    np.testing.assert_allclose(mine, ref, rtol=1e-6, atol=1e-12, equal_nan=True)


def _t(lib, value, **kwargs):
    return lib.tensor(value, **kwargs)


X = RNG.standard_normal((3, 4))
X3 = RNG.standard_normal((2, 3, 4))


# ----------------------------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------------------------
TORCH_LEVEL = """trace rsub fmax fmin isposinf isneginf isreal real imag angle split_with_sizes
unsafe_chunk unsafe_split unsafe_split_with_sizes alias_copy as_strided_copy detach_copy
diagonal_copy expand_copy permute_copy select_copy slice_copy split_copy split_with_sizes_copy
squeeze_copy t_copy transpose_copy unbind_copy unfold_copy unsqueeze_copy view_copy
diagonal_scatter select_scatter slice_scatter as_strided_scatter index_put index_put_ put fill
constant_pad_nd unravel_index gradient histogramdd nonzero_static cholesky_inverse chain_matmul
frobenius_norm nuclear_norm detach detach_ embedding_renorm_ fill_""".split()
METHODS = """trace fmax fmin isposinf isneginf isreal angle sum_to_size split_with_sizes
unsafe_chunk unsafe_split unsafe_split_with_sizes diagonal_scatter select_scatter slice_scatter
as_strided_scatter index_put index_put_ put put_ nonzero_static cholesky_inverse""".split()


def test_names_exist_where_torch_has_them():
    for name in TORCH_LEVEL:
        assert hasattr(torch, name) and hasattr(minigrad, name), name
    for name in METHODS:
        assert hasattr(torch.Tensor, name) and hasattr(minigrad.Tensor, name), name
    assert not hasattr(torch.Tensor, "fill") and not hasattr(minigrad.Tensor, "fill")


# ----------------------------------------------------------------------------------------------
# *_copy: the view's values in fresh, contiguous memory
# ----------------------------------------------------------------------------------------------
COPIES = [
    ("t_copy", lambda L, x: L.t_copy(x[0])),
    ("transpose_copy", lambda L, x: L.transpose_copy(x, 0, 2)),
    ("permute_copy", lambda L, x: L.permute_copy(x, (2, 0, 1))),
    ("diagonal_copy", lambda L, x: L.diagonal_copy(x, 1, 1, 2)),
    ("select_copy", lambda L, x: L.select_copy(x, 1, -1)),
    ("slice_copy", lambda L, x: L.slice_copy(x, 2, 1, None, 2)),
    ("slice_copy clamps", lambda L, x: L.slice_copy(x, -1, -100, 100)),
    ("slice_copy empty", lambda L, x: L.slice_copy(x, 1, 3, 1)),
    ("slice_copy step 0", lambda L, x: L.slice_copy(x, 1, 0, 2, 0)),
    ("squeeze_copy", lambda L, x: L.squeeze_copy(x[:, :1], 1)),
    ("unsqueeze_copy", lambda L, x: L.unsqueeze_copy(x, -1)),
    ("expand_copy", lambda L, x: L.expand_copy(x[:, :1], (2, 2, 3, 5))),
    ("view_copy", lambda L, x: L.view_copy(x, (6, 4))),
    ("unfold_copy", lambda L, x: L.unfold_copy(x, 2, 2, 1)),
    ("as_strided_copy", lambda L, x: L.as_strided_copy(x, (2, 2), (1, 2), 1)),
    ("alias_copy", lambda L, x: L.alias_copy(x)),
    ("detach_copy", lambda L, x: L.detach_copy(x)),
    ("split_copy", lambda L, x: L.split_copy(x, 2, 2)),
    ("split_with_sizes_copy", lambda L, x: L.split_with_sizes_copy(x, [1, 2], 1)),
    ("split_with_sizes bad", lambda L, x: L.split_with_sizes(x, [1, 1], 1)),
    ("unbind_copy", lambda L, x: L.unbind_copy(x, 1)),
    ("unsafe_split", lambda L, x: L.unsafe_split(x, 3, 2)),
    ("unsafe_split_with_sizes", lambda L, x: L.unsafe_split_with_sizes(x, [3, 1], -1)),
    ("unsafe_chunk", lambda L, x: L.unsafe_chunk(x, 2, 2)),
]


@pytest.mark.parametrize("name,fn", COPIES, ids=[c[0] for c in COPIES])
def test_copies_match_torch(name, fn):
    _check(lambda L: fn(L, _t(L, X3)))


def test_copies_own_their_memory():
    x = minigrad.tensor(X3, requires_grad=True)
    out = minigrad.permute_copy(x, (2, 0, 1))
    assert out.is_contiguous() and out._base is None
    assert not np.shares_memory(out.detach().numpy(), x.detach().numpy())
    assert minigrad.detach_copy(x).requires_grad is False
    out.sum().backward()                       # the view's gradient flows back
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(X3.shape))


# ----------------------------------------------------------------------------------------------
# *_scatter: forward, both gradients, errors
# ----------------------------------------------------------------------------------------------
SCATTERS = [
    ("diagonal", lambda L, x, s: L.diagonal_scatter(x, s), (3,)),
    ("diagonal offset", lambda L, x, s: L.diagonal_scatter(x, s, 1, 1, 0), (2,)),
    ("select", lambda L, x, s: L.select_scatter(x, s, 1, -1), (3,)),
    ("slice", lambda L, x, s: x.slice_scatter(s, 1, 0, None, 2), (3, 2)),
    ("slice negative start", lambda L, x, s: L.slice_scatter(x, s, 0, -2), (2, 4)),
]


@pytest.mark.parametrize("name,fn,src_shape", SCATTERS, ids=[s[0] for s in SCATTERS])
def test_scatters_match_torch_with_gradients(name, fn, src_shape):
    src = RNG.standard_normal(src_shape)
    weight = RNG.standard_normal(X.shape)
    results = []
    for lib in (minigrad, torch):
        x = lib.tensor(X, requires_grad=True)
        s = lib.tensor(src, requires_grad=True)
        out = fn(lib, x, s)
        (out * lib.tensor(weight)).sum().backward()
        results.append((_as_numpy(out), x.grad.numpy(), s.grad.numpy()))
    for a, b in zip(*results):
        _assert_same(a, b)
    assert np.all(minigrad.tensor(X).numpy() == X)          # input unchanged


def test_scatter_errors_match_torch():
    _check(lambda L: L.diagonal_scatter(_t(L, X), L.ones(2, dtype=L.float64)))
    _check(lambda L: L.select_scatter(_t(L, X), L.ones(4, dtype=L.float64), 0, 5))
    _check(lambda L: L.slice_scatter(_t(L, X), L.ones(3, 3, dtype=L.float64), 1, 0, 4, 2))
    _check(lambda L: L.slice_scatter(_t(L, X), L.ones(3, 4, dtype=L.float64), 1, 0, 4, 0))
    _check(lambda L: L.diagonal_scatter(_t(L, X), L.ones(3)))   # src converted to input's dtype


def test_as_strided_scatter_forward_and_src_gradient():
    src = RNG.standard_normal((2, 2))
    outs = []
    for lib in (minigrad, torch):
        s = lib.tensor(src, requires_grad=True)
        out = lib.as_strided_scatter(lib.zeros(6, dtype=lib.float64), s, (2, 2), (1, 2), 1)
        out.backward(lib.arange(6.0, dtype=lib.float64))
        outs.append((_as_numpy(out), s.grad.numpy()))
    for a, b in zip(*outs):
        _assert_same(a, b)
    # input's gradient: the kept positions (0 and 5) get g, the overwritten ones nothing
    x = minigrad.zeros(6, dtype=minigrad.float64, requires_grad=True)
    minigrad.as_strided_scatter(x, minigrad.tensor(src), (2, 2), (1, 2), 1).backward(
        minigrad.arange(6.0, dtype=minigrad.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 0, 0, 5])


# ----------------------------------------------------------------------------------------------
# index_put / put
# ----------------------------------------------------------------------------------------------
INDEX_PUTS = [
    lambda L: L.index_put(_t(L, X), (_t(L, [0, 0]),), _t(L, 1.0, dtype=L.float64),
                          accumulate=True),
    lambda L: L.index_put(_t(L, X), (_t(L, [0, 0, 2]), _t(L, [1, 1, 3])),
                          _t(L, [1.0, 2, 3], dtype=L.float64), accumulate=True),
    lambda L: L.index_put(_t(L, X), (_t(L, [0, 2]), _t(L, [1, 3])),
                          _t(L, [1.0, 2], dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (_t(L, X > 0),), _t(L, 7.0, dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (_t(L, X > 0),), _t(L, 7.0)),          # a masked fill
    lambda L: _t(L, X).index_put((_t(L, [[1], [2]]),), _t(L, [[5.0, 6, 7, 8]], dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (_t(L, [5]),), _t(L, 1.0, dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (_t(L, [0]),), _t(L, 1.0)),
    lambda L: L.index_put(_t(L, X), (_t(L, [1]),), _t(L, [1.0, 2], dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), _t(L, [1]), _t(L, 1.0, dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (_t(L, [1.0]),), _t(L, 1.0, dtype=L.float64)),
    lambda L: L.index_put(_t(L, X), (None, _t(L, [1])), _t(L, 1.0, dtype=L.float64)),
    lambda L: L.put(_t(L, X), _t(L, [0, -1]), _t(L, [5.0, 6], dtype=L.float64)),
    lambda L: _t(L, X).put(_t(L, [[0, 0]]), _t(L, [5.0, 6], dtype=L.float64), accumulate=True),
    lambda L: L.put(_t(L, X), _t(L, [0, 12]), _t(L, [5.0, 6], dtype=L.float64)),
    lambda L: L.put(_t(L, X), _t(L, [0, 1]), _t(L, [5.0], dtype=L.float64)),
    lambda L: L.put(_t(L, X), _t(L, [0.0, 1]), _t(L, [5.0, 6], dtype=L.float64)),
    lambda L: L.put(_t(L, X), _t(L, [0, 1]), _t(L, [5.0, 6])),
    lambda L: L.put(_t(L, [1, 2, 3]), _t(L, [0, 0, 2]), _t(L, [5, 6, 7]), accumulate=True),
]


@pytest.mark.parametrize("fn", INDEX_PUTS)
def test_index_put_and_put_match_torch(fn):
    _check(fn, exact_message=True)


def _version(t):
    return getattr(t._version, "value", t._version)


def test_in_place_forms_write_through_and_record():
    for lib in (minigrad, torch):
        x = lib.tensor(X)
        before = _version(x)
        assert x.index_put_((lib.tensor([0, 0]),), lib.tensor(1.0, dtype=lib.float64),
                            accumulate=True) is x
        assert x.put_(lib.tensor([11]), lib.tensor([9.0], dtype=lib.float64)) is x
        assert _version(x) > before
    grads = []
    for lib in (minigrad, torch):
        leaf = lib.tensor(X, requires_grad=True)
        v = lib.tensor([2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = leaf * 2
        y.index_put_((lib.tensor([1, 1]), lib.tensor([0, 2])), v)
        view = y[1]
        view.put_(lib.tensor([3, 3]), v * 10, accumulate=True)
        (y * y).sum().backward()
        grads.append((_as_numpy(y), leaf.grad.numpy(), v.grad.numpy()))
    for a, b in zip(*grads):
        _assert_same(a, b)


# ----------------------------------------------------------------------------------------------
# pointwise
# ----------------------------------------------------------------------------------------------
NAN = float("nan")
A = [1.0, NAN, 3, NAN, 2, -np.inf, 4]
B = [1.0, 2, NAN, NAN, 5, 0, 4]


@pytest.mark.parametrize("name", ["fmax", "fmin"])
def test_fmax_fmin_values_and_gradients(name):
    weight = np.arange(7.0)
    grads = []
    for lib in (minigrad, torch):
        a = lib.tensor(A, requires_grad=True)
        b = lib.tensor(B, requires_grad=True)
        out = getattr(lib, name)(a, b)
        (out * lib.tensor(weight)).sum().backward()
        grads.append((_as_numpy(out), a.grad.numpy(), b.grad.numpy()))
    for x, y in zip(*grads):
        _assert_same(x, y)
    _check(lambda L: getattr(L, name)(_t(L, [1, 5], dtype=L.int32), _t(L, [2.0, NAN])))
    _check(lambda L: getattr(L, name)(_t(L, [[1, 5]]), _t(L, [[2], [7]])))
    _check(lambda L: getattr(L, name)(_t(L, [1, 5]), 2))
    _check(lambda L: getattr(_t(L, [1, 5]), name)(_t(L, [1, 2, 3])), exact_message=False)


POINTWISE = [
    lambda L: L.isposinf(_t(L, [1.0, np.inf, -np.inf, NAN])),
    lambda L: _t(L, [1.0, np.inf, -np.inf, NAN]).isneginf(),
    lambda L: L.isneginf(_t(L, [1, 2])),
    lambda L: L.isreal(_t(L, [[1.0, NAN]])),
    lambda L: L.isreal(_t(L, [1, 2])),
    lambda L: L.angle(_t(L, [-1.0, 0, NAN, -0.0, -np.inf, 3])),
    lambda L: _t(L, [-1, 0, 2]).angle(),
    lambda L: L.angle(_t(L, [True, False])),
    lambda L: L.imag(_t(L, [1.0])),
    lambda L: _t(L, [1.0]).imag,
    lambda L: L.rsub(_t(L, [1.0, 2]), 3, alpha=2),
    lambda L: L.rsub(_t(L, [1, 2]), 3.0, alpha=2),
    lambda L: L.rsub(_t(L, [[1.0], [2]]), _t(L, [1.0, 2, 3])),
    lambda L: L.fill(_t(L, X), 2),
    lambda L: L.fill(_t(L, [1, 2]), 2.7),
    lambda L: L.fill(_t(L, X), _t(L, 2.0)),
    lambda L: L.fill(_t(L, X), _t(L, [2.0, 3])),
    lambda L: L.fill_(_t(L, X), _t(L, 2.0)),
]


@pytest.mark.parametrize("fn", POINTWISE)
def test_pointwise_match_torch(fn):
    _check(fn)


def test_real_is_the_tensor_and_angle_has_zero_gradient():
    x = minigrad.tensor(X, requires_grad=True)
    assert minigrad.real(x) is x and x.real is x
    x.grad = None
    minigrad.angle(x).sum().backward()
    ref = torch.tensor(X, requires_grad=True)
    torch.angle(ref).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), ref.grad.numpy())
    v, w = minigrad.tensor(2.0, requires_grad=True), torch.tensor(2.0, requires_grad=True)
    mine = minigrad.autograd.grad(minigrad.fill(x, v).sum(), [x, v])
    theirs = torch.autograd.grad(torch.fill(ref, w).sum(), [ref, w])
    for a, b in zip(mine, theirs):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


# ----------------------------------------------------------------------------------------------
# matrices, reductions, shapes
# ----------------------------------------------------------------------------------------------
L_FACTOR = np.tril(RNG.standard_normal((2, 3, 3))) * 0.3 + 2 * np.eye(3)
MATRIX = [
    lambda L: L.trace(_t(L, X)),
    lambda L: _t(L, [[1, 2], [3, 4]], dtype=L.int32).trace(),
    lambda L: L.trace(_t(L, [1.0, 2])),
    lambda L: L.trace(_t(L, [[True]])),
    lambda L: _t(L, X3).sum_to_size(3, 1),
    lambda L: _t(L, X3).sum_to_size((1, 4)),
    lambda L: _t(L, X3).sum_to_size(2, 4),
    lambda L: L.cholesky_inverse(_t(L, L_FACTOR)),
    lambda L: _t(L, L_FACTOR).mT.cholesky_inverse(upper=True),
    lambda L: L.cholesky_inverse(_t(L, [1.0, 2])),
    lambda L: L.chain_matmul(_t(L, X), _t(L, X.T), _t(L, X)),
    lambda L: L.chain_matmul(_t(L, X)),
    lambda L: L.chain_matmul(),
    lambda L: L.chain_matmul(_t(L, [1.0, 2])),
    lambda L: L.frobenius_norm(_t(L, X3), (0, 2)),
    lambda L: L.frobenius_norm(_t(L, X3), 1, True),
    lambda L: L.frobenius_norm(_t(L, X3), (0, 1, 2)),
    lambda L: L.nuclear_norm(_t(L, X)),
    lambda L: L.nuclear_norm(_t(L, X3), True),
    lambda L: L.nuclear_norm(_t(L, X3), (2, 0)),
    lambda L: L.constant_pad_nd(_t(L, X), [1, 2, -1, 1], 2.5),
    lambda L: L.constant_pad_nd(_t(L, X), [-4, 0]),
    lambda L: L.constant_pad_nd(_t(L, X), [-1, -5]),
    lambda L: L.constant_pad_nd(_t(L, X), [1, 2, 3]),
    lambda L: L.constant_pad_nd(_t(L, X), [1] * 6),
    lambda L: L.constant_pad_nd(_t(L, [1, 2]), [1, 1], 2.5),
]


@pytest.mark.parametrize("fn", MATRIX)
def test_matrix_and_shape_ops_match_torch(fn):
    _check(fn)


def test_deprecations_warn_like_torch():
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        minigrad.chain_matmul(minigrad.ones(2, 2))
    with pytest.warns(UserWarning, match="frobenius_norm is deprecated"):
        minigrad.frobenius_norm(minigrad.ones(2, 2), (0, 1))
    with pytest.warns(UserWarning, match="nuclear_norm is deprecated"):
        minigrad.nuclear_norm(minigrad.ones(2, 2))


def test_detach_and_embedding_renorm():
    x = minigrad.tensor(X, requires_grad=True) * 2
    d = minigrad.detach(x)
    assert not d.requires_grad and np.shares_memory(d.numpy(), x.detach().numpy())
    assert minigrad.detach_(x) is x and not x.requires_grad
    w = RNG.standard_normal((5, 3)) * 3
    for p in (2.0, 1.0, float("inf")):
        mine, ref = minigrad.tensor(w), torch.tensor(w)
        assert minigrad.embedding_renorm_(mine, minigrad.tensor([0, 2, 2, 4]), 1.5, p) is mine
        torch.embedding_renorm_(ref, torch.tensor([0, 2, 2, 4]), 1.5, p)
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# grids: unravel_index, nonzero_static, gradient, histogramdd
# ----------------------------------------------------------------------------------------------
C0, C1 = np.cumsum(RNG.uniform(0.1, 1, 3)), np.cumsum(RNG.uniform(0.1, 1, 4))
GRIDS = [
    lambda L: L.unravel_index(_t(L, [5, 13, -1, -13]), (3, 4)),
    lambda L: L.unravel_index(_t(L, [[5, 7]], dtype=L.int32), (3, 4)),
    lambda L: L.unravel_index(_t(L, 5), 12),
    lambda L: L.unravel_index(_t(L, [5]), ()),
    lambda L: L.unravel_index(_t(L, [5]), (3, -4)),
    lambda L: L.nonzero_static(_t(L, [0, 1, 2, 0, 3]), size=2),
    lambda L: _t(L, [[0, 1], [2, 0]]).nonzero_static(size=4, fill_value=-7),
    lambda L: L.nonzero_static(_t(L, 3.0), size=2),
    lambda L: L.nonzero_static(_t(L, [1, 2]), size=-1),
    lambda L: L.gradient(_t(L, X)),
    lambda L: L.gradient(_t(L, X), edge_order=2),
    lambda L: L.gradient(_t(L, X), spacing=2.5, dim=-1),
    lambda L: L.gradient(_t(L, X), spacing=[2.0, 3.0]),
    lambda L: L.gradient(_t(L, X), spacing=[_t(L, C0), _t(L, C1)], edge_order=2),
    lambda L: L.gradient(_t(L, X), spacing=(_t(L, C1),), dim=[1]),
    lambda L: L.gradient(_t(L, [[1, 4, 5], [2, 3, 3]])),
    lambda L: L.gradient(_t(L, [1.0, 4]), edge_order=2),
    lambda L: L.gradient(_t(L, [1.0, 4, 5]), edge_order=3),
    lambda L: L.gradient(_t(L, X), dim=(1, 1)),
    lambda L: L.gradient(_t(L, X), dim=2),
    lambda L: L.gradient(_t(L, X), spacing=[1.0]),
    lambda L: L.gradient(_t(L, X), spacing=[1.0], dim=(0, 1)),
    lambda L: L.gradient(_t(L, X), spacing=[_t(L, 2.0)], dim=1),
    lambda L: L.gradient(_t(L, 3.0)),
    lambda L: L.gradient(_t(L, [1.0, 4, 9], dtype=L.float32), spacing=[_t(L, [0.0, 1, 3])]),
    lambda L: L.gradient(_t(L, X), spacing=[2.0, _t(L, C1)]),
    lambda L: L.unravel_index(_t(L, [3]), (0, 4)),
    lambda L: L.put(L.ones(0), _t(L, [0]), _t(L, [1.0])),
    lambda L: L.slice_copy(_t(L, 1.0)),
]


@pytest.mark.parametrize("fn", GRIDS)
def test_grids_match_torch(fn):
    _check(fn)


POINTS = RNG.uniform(size=(30, 2))
WEIGHTS = RNG.uniform(size=30)
HISTOGRAMS = [
    lambda L: L.histogramdd(_t(L, POINTS), bins=3),
    lambda L: L.histogramdd(_t(L, POINTS).float(), bins=[2, 4], range=[0, 1, 0.2, 0.8],
                            density=True),
    lambda L: L.histogramdd(_t(L, POINTS), bins=[_t(L, [0, 0.3, 1.0]), _t(L, [0, 0.5, 0.7, 1])],
                            weight=_t(L, WEIGHTS)),
    lambda L: L.histogramdd(_t(L, POINTS.reshape(3, 10, 2)), bins=(2, 3),
                            weight=_t(L, WEIGHTS.reshape(3, 10)), density=True),
    lambda L: L.histogramdd(_t(L, np.ones((3, 2))), bins=2),
    lambda L: L.histogramdd(_t(L, np.ones((0, 2))), bins=2),
    lambda L: L.histogramdd(_t(L, POINTS), bins=[2, 3, 4]),
    lambda L: L.histogramdd(_t(L, POINTS), bins=2, range=[0.0, 1]),
    lambda L: L.histogramdd(_t(L, POINTS), bins=2, range=[1.0, 0, 0, 1]),
    lambda L: L.histogramdd(_t(L, [1.0, 2]), bins=2),
    lambda L: L.histogramdd(_t(L, [[1, 2]]), bins=2),
    lambda L: L.histogramdd(_t(L, POINTS), bins=2, weight=_t(L, np.ones(3))),
    lambda L: L.histogramdd(_t(L, POINTS), bins=[_t(L, [0, 1.0]).float(), _t(L, [0, 1.0])]),
]


@pytest.mark.parametrize("fn", HISTOGRAMS)
def test_histogramdd_matches_torch(fn):
    _check(fn)
    if not isinstance(_outcome(minigrad, fn), _Raised):
        out = fn(minigrad)
        assert type(out).__name__ == "histogramdd" and out.__match_args__ == ("hist",
                                                                               "bin_edges")
        assert isinstance(out.bin_edges, tuple)
