"""Round 37: the cheaper paths of small calls (cat / stack of one dtype and shape, zeros and
the factories' sizes of plain ints, add_ / sub_ checked once, softmax's and normalize_dim's int
dims, max() of a whole tensor, view, linear of a matrix), each side by side with PyTorch, and
the calls just outside those paths (mixed dtypes, a tensor requiring grad, non-contiguous,
0-d, empty, numpy ints and bools for sizes and dims): values, dtype, shape, strides,
requires_grad, grad_fn name, gradients and errors."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import first_line, same_outcome  # noqa: E402

RNG = np.random.default_rng(37)


def _data(shape, dtype="float64"):
    return (RNG.standard_normal(shape) * 3).astype(dtype)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


def _node_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


def _check_tensor(m, t):
    assert tuple(m.shape) == tuple(t.shape)
    assert _dtype_name(m) == _dtype_name(t)
    assert tuple(m.stride()) == tuple(t.stride())
    assert m.requires_grad == t.requires_grad
    assert _node_name(m) == _node_name(t)
    np.testing.assert_allclose(m.detach().numpy().astype(np.float64),
                               t.detach().numpy().astype(np.float64), rtol=1e-6, atol=1e-6,
                               equal_nan=True)


def _same(fn, words=True):
    """fn(minigrad) and fn(torch) agree: tensors (or tuples of them) as ``_check_tensor``,
    errors by type (and the first line of the message, with ``words``; minigrad may add a few
    words of its own after PyTorch's)."""
    got, want = same_outcome(fn, words="prefix" if words else "type", quiet=False,
                             text=first_line)
    if want[0] == "ok":
        got, want = got[1], want[1]
        for m, t in zip(got, want) if isinstance(want, (tuple, list)) else [(got, want)]:
            _check_tensor(m, t)


# cat / stack ---------------------------------------------------------------------------------
_JOIN_SHAPES = [((2, 3), (4, 3), 0), ((2, 3), (2, 5), 1), ((2, 3), (2, 5), -1),
                ((2, 3, 4), (2, 1, 4), 1), ((0, 3), (2, 3), 0), ((3,), (0,), 0),
                ((3,), (2,), 0), ((2, 0), (2, 4), 1)]


@pytest.mark.parametrize("first,second,dim", _JOIN_SHAPES)
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float64", "float64"),
                                    ("int64", "int64"), ("bool", "bool"),
                                    ("float32", "float64"), ("int32", "float16")])
def test_cat_matches_torch(first, second, dim, dtypes):
    a, b = _data(first, dtypes[0]), _data(second, dtypes[1])
    _same(lambda lib: lib.cat([lib.tensor(a), lib.tensor(b)], dim))
    _same(lambda lib: lib.cat((lib.tensor(a), lib.tensor(b)), dim=dim))


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("int64", "int64"),
                                    ("float32", "float64"), ("bool", "int32")])
def test_stack_matches_torch(dim, dtypes):
    a, b = _data((2, 3), dtypes[0]), _data((2, 3), dtypes[1])
    _same(lambda lib: lib.stack([lib.tensor(a), lib.tensor(b), lib.tensor(a)], dim))


@pytest.mark.parametrize("dim", [0, -1])
def test_stack_of_0d_and_empty(dim):
    _same(lambda lib: lib.stack([lib.tensor(1.5), lib.tensor(2.0)], dim))
    _same(lambda lib: lib.stack([lib.zeros(0), lib.zeros(0)], dim))
    _same(lambda lib: lib.stack([lib.zeros(2, 0), lib.zeros(2, 0)], dim))


def test_cat_and_stack_refusals_as_torch():
    """The calls the plain path leaves to the checks: PyTorch's errors."""
    a, b = _data((2, 3)), _data((2, 4))
    cases = [
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(b)], 0),        # sizes off dim
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(a)], 2),        # dim out of range
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(a)], -3),
        lambda lib: lib.cat([lib.tensor(1.0), lib.tensor(2.0)]),       # 0-d
        lambda lib: lib.cat([]),
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(a[0])]),        # ndims differ
        lambda lib: lib.cat([lib.tensor(a), 3]),                       # no tensor
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(a)], 1.0),      # float dim
        lambda lib: lib.cat([lib.tensor(a), lib.tensor(a)], True),
        lambda lib: lib.stack([lib.tensor(a), lib.tensor(b)]),
        lambda lib: lib.stack([lib.tensor(a), lib.tensor(a)], 3),
        lambda lib: lib.stack([lib.tensor(a), lib.tensor(a)], -4),
        lambda lib: lib.stack([]),
        lambda lib: lib.stack([lib.tensor(a), "x"]),
        lambda lib: lib.stack(lib.tensor(a)),                          # a tensor, no list
    ]
    for case in cases:
        _same(case)


@pytest.mark.parametrize("dim", [np.int64(1), np.int32(-1)])
def test_cat_and_stack_numpy_int_dim(dim):
    a = _data((2, 3), "float32")
    _same(lambda lib: lib.cat([lib.tensor(a), lib.tensor(a)], dim))
    _same(lambda lib: lib.stack([lib.tensor(a), lib.tensor(a)], dim))


def test_cat_legacy_empty_beside_others():
    """A 1-d empty tensor is left out of cat's shape checks (not of its dtype)."""
    a = _data((2, 3), "float32")
    _same(lambda lib: lib.cat([lib.tensor(a), lib.zeros(0)], 0))
    _same(lambda lib: lib.cat([lib.zeros(0), lib.tensor(a)], 1))
    _same(lambda lib: lib.cat([lib.zeros(0, dtype=lib.float64), lib.tensor(a)], 0))


def test_cat_non_contiguous_and_channels_last():
    a = _data((3, 4))
    _same(lambda lib: lib.cat([lib.tensor(a).t(), lib.tensor(a).t()], 1))
    _same(lambda lib: lib.cat([lib.tensor(a)[:, ::2], lib.tensor(a)[:, 1::2]], 0))
    x = _data((2, 3, 4, 5), "float32")

    def channels_last(lib):
        t = lib.tensor(x).contiguous(memory_format=lib.channels_last)
        return lib.cat([t, t], 1), lib.stack([t, t], 0), lib.stack([t, t], 4)
    _same(channels_last)


@pytest.mark.parametrize("join", ["cat", "stack"])
def test_join_gradients_as_torch(join):
    a, b = _data((2, 3)), _data((2, 3))

    def run(lib):
        x = lib.tensor(a, requires_grad=True)
        y = lib.tensor(b)                        # one without grad beside it
        z = lib.tensor(b, requires_grad=True)
        out = getattr(lib, join)([x, y, z], 1)
        (out * lib.arange(out.numel(), dtype=lib.float64).reshape(out.shape)).sum().backward()
        assert y.grad is None
        return out, x.grad, z.grad
    _same(run)


def test_cat_of_a_parameter_and_a_view():
    w = _data((3, 2))

    def run(lib):
        p = lib.nn.Parameter(lib.tensor(w))
        out = lib.cat([p, p[1:]], 0)
        out.sum().backward()
        return out, p.grad
    _same(run)


# factories' sizes ----------------------------------------------------------------------------
_SIZES = [(4, 4), ((4, 4),), ([2, 3],), ((),), (0,), (3, 0, 2), (5,),
          (np.int64(2), 3), ((np.int32(2), 3),), (2, True), ((2, False),),
          (True,), (2.0,), ((2, 3.0),), (-1,), (2, -3), ((2, -1),), (),
          (2 ** 63,), (2 ** 64, 1), ((2, 3), 4), ("2",), (None,)]


@pytest.mark.parametrize("size", _SIZES, ids=repr)
@pytest.mark.parametrize("factory", ["zeros", "ones", "empty", "rand", "randn"])
def test_factory_sizes_as_torch(factory, size):
    def run(lib):
        out = getattr(lib, factory)(*size)
        return out.zero_() if factory in ("empty", "rand", "randn") else out
    _same(run)


@pytest.mark.parametrize("size", [(4, 4), [0, 2], (), (np.int64(3),), (2, True), (-2,)],
                         ids=repr)
def test_full_and_size_keyword_as_torch(size):
    _same(lambda lib: lib.full(size, 1.5))
    _same(lambda lib: lib.zeros(size=size))
    _same(lambda lib: lib.ones(size=size, dtype=lib.int32))


@pytest.mark.parametrize("kwargs", [{}, {"dtype": "float64"}, {"dtype": "int16"},
                                    {"requires_grad": True}, {"dtype": "bool"}])
def test_zeros_keywords_as_torch(kwargs):
    def run(lib):
        given = {k: getattr(lib, v) if k == "dtype" else v for k, v in kwargs.items()}
        return lib.zeros(2, 3, **given), lib.zeros((2, 3), **given)
    _same(run)


def test_zeros_refusals_as_torch():
    _same(lambda lib: lib.zeros(2, 3, requires_grad=1))
    _same(lambda lib: lib.zeros(2, 3, dtype=lib.int64, requires_grad=True))
    _same(lambda lib: lib.zeros(2, -3))
    _same(lambda lib: lib.zeros((2, -3)))


# add_ / sub_ ---------------------------------------------------------------------------------
_INPLACE_OTHERS = [1, 2.5, True, -3, np.float64(0.5), np.int64(2), "tensor", "row", "0d",
                   "col", "wide"]


_OTHER_SHAPES = {"tensor": (3, 4), "row": (4,), "0d": (), "col": (3, 1), "wide": (2, 3, 4)}


@pytest.mark.parametrize("other", _INPLACE_OTHERS, ids=repr)
@pytest.mark.parametrize("dtypes", [("float32", "float32"), ("float64", "float32"),
                                    ("int64", "int64"), ("int32", "float32"),
                                    ("float32", "float64"), ("bool", "bool"),
                                    ("int64", "int32"), ("float16", "float16")])
@pytest.mark.parametrize("op", ["add_", "sub_"])
def test_add_sub_inplace_as_torch(op, dtypes, other):
    base = _data((3, 4), dtypes[0])
    given = _data(_OTHER_SHAPES[other], dtypes[1]) if isinstance(other, str) else None

    def run(lib):
        t = lib.tensor(base)
        before = t._version
        out = getattr(t, op)(other if given is None else lib.tensor(given))
        assert out is t and t._version == before + 1
        return t
    _same(run, words=dtypes[0] != "bool")


@pytest.mark.parametrize("alpha", [1, 2, 0.5, True])
@pytest.mark.parametrize("op", ["add_", "sub_"])
def test_add_sub_inplace_alpha_as_torch(op, alpha):
    base, other = _data((3, 4)), _data((3, 4))
    _same(lambda lib: getattr(lib.tensor(base), op)(lib.tensor(other), alpha=alpha))
    _same(lambda lib: getattr(lib.tensor(base.astype("int64")), op)(
        lib.tensor(other.astype("int64")), alpha=alpha))


def test_add_inplace_on_expanded_and_views():
    row = _data((4,))
    _same(lambda lib: lib.tensor(row).expand(3, 4).add_(1))       # overlapping memory
    base, added = _data((4, 6)), _data((6, 4))[::-1].copy()

    def view(lib):
        t = lib.tensor(base)
        v = t.t()
        v.add_(lib.tensor(added))
        t[:, ::2].sub_(1)
        return t, v
    _same(view)


def test_add_inplace_with_grad_as_torch():
    a, b = _data((3, 4)), _data((3, 4))

    def run(lib):
        x = lib.tensor(a, requires_grad=True)
        y = x * 2
        y.add_(lib.tensor(b, requires_grad=True))
        y.sub_(1)
        y.add_(3)
        y.sum().backward()
        return y, x.grad
    _same(run)
    _same(lambda lib: lib.tensor(a, requires_grad=True).add_(1))     # a leaf: refused


# softmax / max / view / linear ---------------------------------------------------------------
@pytest.mark.parametrize("dim", [0, 1, -1, -2, np.int64(1), 2, -3, True, 1.0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_softmax_dims_as_torch(dim, dtype):
    x = _data((3, 4), dtype)
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor(x), dim=dim))
    _same(lambda lib: lib.softmax(lib.tensor(x), dim))
    _same(lambda lib: lib.nn.functional.log_softmax(lib.tensor(x), dim))


def test_softmax_bfloat16_and_0d_and_int():
    x = _data((3, 4), "float32")
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor(x).bfloat16(), -1).float())
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor(2.0), 0))
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor(2.0), -1))
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor(2.0), 1))
    _same(lambda lib: lib.nn.functional.softmax(lib.tensor([1, 2]), 0))


def test_softmax_gradient_as_torch():
    x = _data((3, 4))

    def run(lib):
        t = lib.tensor(x, requires_grad=True)
        out = lib.nn.functional.softmax(t, dim=-1)
        (out * lib.tensor(x)).sum().backward()
        return out, t.grad
    _same(run)


@pytest.mark.parametrize("data", [_data((3, 4)), _data((3, 4), "float32"), _data(()),
                                  np.array([[1.0, np.nan], [2.0, 3.0]]),
                                  np.array([[1, 5], [5, 2]]), np.array([True, False]),
                                  _data((3, 4))[:, ::2], np.zeros((0, 3))],
                         ids=lambda d: f"{d.dtype}{d.shape}")
def test_max_min_of_all_as_torch(data):
    for name in ("max", "min", "amax", "amin"):
        _same(lambda lib: getattr(lib.tensor(data), name)())
    if data.dtype.kind == "f":
        def grad(lib):
            t = lib.tensor(data, requires_grad=True)
            out = t.max()
            out.backward()
            return out, t.grad
        if data.size:
            _same(grad)


def test_max_of_ties_gradient_and_complex():
    data = np.array([[1.0, 3.0], [3.0, 2.0]])

    def run(lib):
        t = lib.tensor(data, requires_grad=True)
        out = lib.amax(t)
        out.backward()
        return out, t.grad
    _same(run)
    _same(lambda lib: lib.tensor([1 + 1j, 2]).max())


@pytest.mark.parametrize("shape", [(-1,), (2, 8), (2, -1), ((4, 4),), ([16],), (16, 1),
                                   (np.int64(16),), (3, -1), (-1, -1), (5,), (True,),
                                   (16.0,)], ids=repr)
def test_view_as_torch(shape):
    x = _data((4, 4), "float32")
    # (minigrad's refusals add the shapes after PyTorch's words)
    _same(lambda lib: lib.tensor(x).view(*shape), words=False)
    _same(lambda lib: lib.tensor(x).reshape(*shape), words=False)
    _same(lambda lib: lib.tensor(x).t().view(*shape), words=False)    # not contiguous
    _same(lambda lib: lib.tensor(x).t().reshape(*shape), words=False)


@pytest.mark.parametrize("x_shape", [(4, 3), (2, 4, 3), (3,), (0, 3)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_as_torch(x_shape, dtype, bias):
    x, w, b = _data(x_shape, dtype), _data((5, 3), dtype), _data((5,), dtype)

    def run(lib):
        # (PyTorch takes an empty numpy array's zero strides: made row-major first here)
        xt = lib.zeros(x_shape, dtype=getattr(lib, dtype)).copy_(lib.tensor(x))
        xt.requires_grad_(dtype == "float64")
        wt = lib.tensor(w, requires_grad=dtype == "float64")
        bt = lib.tensor(b, requires_grad=dtype == "float64") if bias else None
        out = lib.nn.functional.linear(xt, wt, bt)
        if dtype != "float64":
            return (out,)
        out.sum().backward()
        return (out, xt.grad, wt.grad) + ((bt.grad,) if bias else ())
    got, want = run(minigrad), run(torch)
    for m, t in zip(got, want):
        assert tuple(m.shape) == tuple(t.shape) and _dtype_name(m) == _dtype_name(t)
        assert tuple(m.stride()) == tuple(t.stride())
        assert _node_name(m) == _node_name(t) and m.requires_grad == t.requires_grad
        tol = 2e-2 if dtype == "float16" else 1e-5
        np.testing.assert_allclose(m.detach().numpy().astype(np.float64),
                                   t.detach().numpy().astype(np.float64), rtol=tol, atol=tol)


def test_linear_of_a_transposed_matrix_and_mixed_dtypes():
    x, w = _data((3, 4)), _data((5, 3))
    _same(lambda lib: lib.nn.functional.linear(lib.tensor(x).t(), lib.tensor(w)))
    _same(lambda lib: lib.nn.functional.linear(lib.tensor(x).t(), lib.tensor(w).float()))
