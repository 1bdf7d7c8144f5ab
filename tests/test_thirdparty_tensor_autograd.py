"""Tensor semantics and autograd as third-party PyTorch code uses them, checked against torch.

Each test runs the same lines with ``minigrad`` and ``torch`` (``lib``) and compares values,
dtypes, gradients or the exception raised: views whose base is written in place, the
one-argument and number-only forms of ``where``, comparisons with None, ``in``, tensor hooks
that return something wrong, ``autograd.grad`` without inputs, legacy type names.
"""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both  # noqa: E402

LIBS = [minigrad, torch]
pytestmark = pytest.mark.filterwarnings("ignore:.*degrees of freedom")


def _np(t):
    return t.detach().cpu().numpy()


def _assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _assert_same(x, y)
        return
    if a is None or b is None:
        assert a is None and b is None
        return
    if isinstance(a, (bool, int, float)):
        assert a == b
        return
    assert tuple(a.shape) == tuple(b.shape)
    assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-7)


# ----------------------------------------------------------------------------------------------
# Views: a write into the base (or a sibling view) after the view was made
# ----------------------------------------------------------------------------------------------
def _view_then_base_write(lib):
    x = lib.tensor([1., 2, 3], requires_grad=True)
    y = x * 1
    v = y[1:]
    y.mul_(3)
    v.sum().backward()
    return x.grad


def _sibling_view_write(lib):
    x = lib.tensor([1., 2, 3], requires_grad=True)
    y = x * 1
    a, b = y[:2], y[1:]
    a.mul_(2)
    b.sum().backward()
    return x.grad


def _view_of_view(lib):
    x = lib.tensor([1., 2, 3, 4], requires_grad=True)
    y = x * 1
    w = y.view(2, 2)[1]
    y.mul_(5)
    (w * w).sum().backward()
    return x.grad


def _base_gains_grad(lib):
    x = lib.tensor([1., 2, 3], requires_grad=True)
    y = lib.zeros(3)
    v = y[1:]
    y.add_(x * x)
    assert v.requires_grad
    v.sum().backward()
    return x.grad


def _setitem_on_base(lib):
    x = lib.tensor([1., 2, 3], requires_grad=True)
    y = lib.zeros(3)
    v = y[1:]
    y[0:2] = x[:2] * 4
    v.sum().backward()
    return x.grad


def _base_written_under_no_grad(lib):
    x = lib.tensor([1., 2, 3], requires_grad=True)
    y = x * 1
    v = y[1:]
    with lib.no_grad():
        y.mul_(3)
    v.sum().backward()
    return x.grad


@pytest.mark.parametrize("f", [_view_then_base_write, _sibling_view_write, _view_of_view,
                               _base_gains_grad, _setitem_on_base, _base_written_under_no_grad])
def test_view_gradient_sees_later_write_to_its_base(f):
    _assert_same(*both(f))


def test_saved_view_overwritten_through_base_still_raises():
    for lib in LIBS:
        x = lib.tensor([1., 2, 3], requires_grad=True)
        y = x * 1
        v = y.view(3, 1)
        z = v * v
        y.mul_(2)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_view_made_without_grad_mode_requires_grad_as_a_leaf():
    """As in PyTorch: the view requires grad, is a leaf, and keeps no gradient; a write
    through its base (out of grad mode) shows in it."""
    for lib in LIBS:
        x = lib.tensor([1., 2, 3], requires_grad=True)
        y = x * 1
        with lib.no_grad():
            v = y[1:]
            w = x.t()[:2]
        assert v.requires_grad and v.is_leaf and v.grad_fn is None
        assert w.requires_grad and w.is_leaf
        (v * w).sum().backward()
        assert v.grad is None and w.grad is None and x.grad is None
        with lib.no_grad():
            y.mul_(3)
        np.testing.assert_allclose(v.detach().numpy(), [6., 9.])


# ----------------------------------------------------------------------------------------------
# where: one argument, two numbers
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a,b", [(1, 0), (1., 0), (True, False), (True, 2), (2.5, -1.5)])
def test_where_with_two_numbers(a, b):
    _assert_same(*both(lambda lib: lib.where(lib.tensor([1., -2, 3]) > 0, a, b)))


@pytest.mark.parametrize("x", [[1., -2, 3], [[1., 0, 3], [0., 5, 0]], 1.0, [0., 0.]])
def test_where_with_condition_only_is_nonzero_as_tuple(x):
    _assert_same(*both(lambda lib: lib.where(lib.tensor(x) != 0)))


def test_where_with_one_value_is_a_type_error():
    for lib in LIBS:
        with pytest.raises(TypeError):
            lib.where(lib.tensor([1., 2]) > 1, lib.tensor([1., 2]))


def test_where_number_branches_keep_gradient_of_tensor_branch():
    def f(lib):
        x = lib.tensor([1., -2, 3], requires_grad=True)
        lib.where(x > 0, x * x, 0.).sum().backward()
        return x.grad
    _assert_same(*both(f))


# ----------------------------------------------------------------------------------------------
# clamp_min / clamp_max, cat of 0-d tensors
# ----------------------------------------------------------------------------------------------
def test_clamp_min_max_methods():
    def f(lib):
        x = lib.tensor([1., -2, 3], requires_grad=True)
        out = x.clamp_min(0) * 2 + x.clamp_max(lib.tensor([0., 0., 1.]))
        out.sum().backward()
        y = x.detach().clone()
        y.clamp_min_(-1).clamp_max_(2)
        return out, x.grad, y, lib.clamp_min(x, 0.5), lib.clamp_max(input=x, max=-1.0)
    _assert_same(*both(f))


def test_cat_of_zero_dim_tensors_is_a_runtime_error():
    for lib in LIBS:
        with pytest.raises(RuntimeError, match="zero-dimensional"):
            lib.cat([lib.tensor(1.), lib.tensor(2.)])


# ----------------------------------------------------------------------------------------------
# Comparison operators with non-tensors, `in`
# ----------------------------------------------------------------------------------------------
def test_compare_with_none_string_list():
    for lib in LIBS:
        x = lib.tensor([1, 2, 3])
        assert (x == None) is False          # noqa: E711  (third-party code writes it)
        assert (x != None) is True           # noqa: E711
        assert (x == "a") is False
        assert (x == [1, 2, 3]) is False
        with pytest.raises(TypeError):
            x < None                         # noqa: B015
        assert bool((x == np.int64(2)).any())
        assert x in {x: 1}                   # tensors stay hashable


def test_contains():
    for lib in LIBS:
        x = lib.tensor([[0., 1], [2, 3]])
        assert 2 in x and 2.0 in x and 5 not in x
        assert lib.tensor([2., 3]) in x and lib.tensor(7.) not in x
        with pytest.raises(RuntimeError):
            [] in x                          # noqa: B015


# ----------------------------------------------------------------------------------------------
# Tensor hooks returning the wrong thing
# ----------------------------------------------------------------------------------------------
def test_hook_changing_dtype_raises():
    for lib in LIBS:
        x = lib.tensor([1., 2], requires_grad=True)
        y = x * 3
        y.register_hook(lambda g: g.double())
        with pytest.raises(RuntimeError, match="changed the type"):
            y.sum().backward()


def test_hook_changing_shape_raises():
    for lib in LIBS:
        x = lib.tensor([1., 2], requires_grad=True)
        x.register_hook(lambda g: g[:1])
        with pytest.raises(RuntimeError, match="changed the size"):
            (x * 3).sum().backward()


def test_hook_returning_a_number_is_a_type_error():
    for lib in LIBS:
        x = lib.tensor([1., 2], requires_grad=True)
        y = x * 3
        y.register_hook(lambda g: 5)
        with pytest.raises(TypeError):
            y.sum().backward()


# ----------------------------------------------------------------------------------------------
# autograd.grad without inputs
# ----------------------------------------------------------------------------------------------
def test_grad_with_empty_inputs_raises():
    for lib in LIBS:
        x = lib.tensor([1., 2], requires_grad=True)
        with pytest.raises(RuntimeError, match="inputs"):
            lib.autograd.grad(x.sum(), [])


# ----------------------------------------------------------------------------------------------
# Tensor attributes: legacy type names, storage_offset, get_device, is_complex
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,dtype", [("DoubleTensor", "float64"), ("LongTensor", "int64"),
                                        ("FloatTensor", "float32"), ("BoolTensor", "bool"),
                                        ("ByteTensor", "uint8")])
def test_type_with_legacy_name(name, dtype):
    for lib in LIBS:
        y = lib.tensor([1.5, 0.]).type(f"torch.{name}")
        assert str(y.dtype).split(".")[-1] == dtype
        assert y.type().split(".")[-1] == name
    with pytest.raises(ValueError):
        minigrad.tensor([1.]).type("torch.NoSuchTensor")


def test_storage_offset_get_device_is_complex():
    for lib in LIBS:
        x = lib.zeros(4, 3)
        assert x.storage_offset() == 0
        assert x[1:].storage_offset() == 3
        assert x[2, 1:].storage_offset() == 7
        assert x.t()[1].storage_offset() == 1
        assert x.get_device() == -1
        assert not x.is_complex()


# ----------------------------------------------------------------------------------------------
# Empty reductions and overflowing casts: NaN / inf without numpy warnings
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("f", [lambda lib: lib.zeros(0, 3).mean(0),
                               lambda lib: lib.zeros(2, 0).mean(1, keepdim=True),
                               lambda lib: lib.zeros(0).mean(),
                               lambda lib: lib.zeros(0, 3).std(),
                               lambda lib: lib.zeros(0, 3).var(0),
                               lambda lib: lib.std_mean(lib.zeros(0, 3, dtype=lib.float64), 0),
                               lambda lib: lib.tensor([1e300], dtype=lib.float32)])
def test_empty_reductions_and_overflow_are_silent(f):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # PyTorch's own warning (an empty variance has no degrees of freedom) is expected
        warnings.filterwarnings("ignore", message=r".*degrees of freedom is <= 0")
        mine = f(minigrad)
    _assert_same(mine, f(torch))


def test_empty_variance_backward():
    def f(lib):
        x = lib.zeros(2, 0, requires_grad=True)
        x.var(1).sum().backward()
        return x.grad
    _assert_same(*both(f))


# ----------------------------------------------------------------------------------------------
# tensor() of data it cannot hold, format() of a many-element tensor
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data,error", [(None, RuntimeError), ([1, None], RuntimeError),
                                        ({1: 2}, RuntimeError), ([1, "a"], TypeError),
                                        ("a", TypeError)])
def test_tensor_of_non_numbers(data, error):
    for lib in LIBS:
        with pytest.raises(error):
            lib.tensor(data)


def test_format_spec_on_many_elements_is_a_type_error():
    for lib in LIBS:
        assert f"{lib.tensor(2.5):.2f}" == "2.50"
        with pytest.raises(TypeError):
            f"{lib.tensor([1., 2.]):.2f}"
    assert f"{minigrad.tensor([1., 2.])}" == repr(minigrad.tensor([1., 2.]))
