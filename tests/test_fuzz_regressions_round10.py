"""Regression tests for the call-argument fuzzer's round-10 finds (tests/test_call_args_fuzz.py
holds the calls themselves): here the words of the errors and warnings, the gradients, and
what out= leaves behind, each against PyTorch."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree  # noqa: E402

_X = np.random.default_rng(10).standard_normal((2, 3, 4)).astype(np.float32)


def _x(lib):
    return lib.tensor(_X)


def _warned(lib, fn):
    """fn(lib)'s result and the messages of the warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(lib)
    return out, [str(w.message) for w in caught]


# ---- a non-tensor where a function takes only tensors: PyTorch's TypeError and words ------------
@pytest.mark.parametrize("call, words", [
    (lambda L: L.broadcast_to([1.0, 2.0], (2, 2)),
     "broadcast_to(): argument 'input' (position 1) must be Tensor, not list"),
    (lambda L: L.broadcast_to(L.ones(2), 2),
     "broadcast_to(): argument 'size' (position 2) must be tuple of ints, not int"),
    (lambda L: L.numel(np.ones(3)), "numel(): argument 'input' (position 1) must be Tensor, "
                                    "not numpy.ndarray"),
    (lambda L: L.is_floating_point(2.5), "is_floating_point(): argument 'input' (position 1) "
                                         "must be Tensor, not float"),
    (lambda L: L.atleast_2d([1.0, 2.0]), "expected Tensor as element 0 in argument 0, but got "
                                         "float"),
    (lambda L: L.atleast_3d(L.ones(2), [1.0]), "expected Tensor as element 1 in argument 0, "
                                               "but got list"),
    (lambda L: L.atleast_1d(np.ones(2)), "atleast_1d() received an invalid combination of "
                                         "arguments - got (numpy.ndarray), but expected one of"),
    (lambda L: L.meshgrid(L.ones(2), [1.0], indexing="ij"),
     "expected Tensor as element 1 in argument 0, but got list"),
    (lambda L: L.where(np.ones(2, bool), L.ones(2), 0.0),
     "where() received an invalid combination of arguments - got (numpy.ndarray, Tensor, "
     "float), but expected one of"),
    (lambda L: L.flip(L.ones(2, 3), 0),
     "flip(): argument 'dims' (position 2) must be tuple of ints, not int"),
    (lambda L: L.ones(2, 3).flip(1.0),
     "flip(): argument 'dims' (position 1) must be tuple of ints, not float"),
    (lambda L: L.split(L.ones(4), np.int64(2)),
     "split_with_sizes(): argument 'split_sizes' (position 2) must be tuple of ints, not "
     "numpy.int64"),
    (lambda L: L.ones(2, 1).squeeze(None), "squeeze() received an invalid combination of "
                                           "arguments - got ("),
    (lambda L: L.ones(2, 1).view(None), "view() received an invalid combination of arguments "
                                        "- got (NoneType), but expected one of"),
    (lambda L: L.norm(L.ones(2, 3), dim=np.int64(1)), "object of type 'numpy.int64' has no len()"),
    (lambda L: L.ones(2, 3).norm(dim=L.tensor(1)), "len() of a 0-d tensor"),
    (lambda L: L.ones(2, 3).new_tensor(None), "must be real number, not NoneType"),
    (lambda L: L.ones(2, 3).new_tensor("a"), "new(): invalid data type 'str'"),
    (lambda L: L.tensor([1, None], dtype=L.int64),
     "'NoneType' object cannot be interpreted as an integer"),
    (lambda L: L.zeros(2, out=L.ones(2), dtype=L.float64),
     "dtype Double does not match dtype of out parameter (Float)"),
    (lambda L: L.zeros(2, out=[1.0]), "zeros(): argument 'out' must be Tensor, not list"),
    (lambda L: L.ones(2, 3, 4).unflatten(2, None), "unflatten: sizes must be non-empty"),
    (lambda L: L.meshgrid(L.ones(2), L.ones(2, dtype=L.float64), indexing="ij"),
     "meshgrid expects all tensors to have the same dtype"),
])
def test_refusals_in_pytorch_words(call, words):
    agree(call, match=words)


def test_split_of_a_non_tensor_is_pytorchs_attribute_error():
    # torch.split is Python code that calls input.split
    agree(lambda L: L.split([1.0, 2.0], 1), match="'list' object has no attribute 'split'")


# ---- max/min with a 0-d integer tensor: a dim once keepdim is given -----------------------------
@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [True, False])
def test_max_min_reads_a_0d_tensor_as_dim_when_keepdim_is_given(name, keepdim):
    for lib in (torch, minigrad):
        out = getattr(lib, name)(_x(lib), lib.tensor(1), keepdim=keepdim)
        assert isinstance(out, tuple) and hasattr(out, "values") and hasattr(out, "indices")
    agree(lambda L: tuple(getattr(L, name)(_x(L), L.tensor(1), keepdim=keepdim)))
    agree(lambda L: tuple(getattr(_x(L), name)(L.tensor(2, dtype=L.uint8), keepdim)))
    agree(lambda L: getattr(L, name)(_x(L), L.tensor(1)))                  # elementwise
    agree(lambda L: getattr(L, name)(_x(L), L.tensor(True), keepdim=keepdim),
          match="received an invalid combination of arguments")


# ---- out= of the factories ----------------------------------------------------------------------
def test_factory_out_is_returned_resized_and_written_through_views():
    for lib in (torch, minigrad):
        out = lib.ones(5, dtype=lib.int64)
        assert lib.zeros(2, 3, out=out) is out
        assert tuple(out.shape) == (2, 3) and out.dtype == lib.int64
        base = lib.ones(4, 4)
        lib.full((2, 3), 7.0, out=base[:2, :3])
        assert base.sum().item() == 7 * 6 + 10
        marked = lib.empty(0)
        lib.ones(3, out=marked, requires_grad=True)
        assert marked.requires_grad


def test_factory_out_that_requires_grad_is_refused():
    agree(lambda L: L.arange(3.0, out=L.ones(3, requires_grad=True)),
          match="functions with out=... arguments don't support automatic differentiation")


def test_arange_warns_when_it_resizes_a_nonempty_out():
    messages = []
    for lib in (torch, minigrad):
        out, said = _warned(lib, lambda L: L.arange(5, out=L.zeros(2)))
        assert out.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
        messages.append([m for m in said if "number of elements in the out tensor" in m])
    assert len(messages[0]) == len(messages[1]) == 1
    # PyTorch's ends with where in its C++ it was triggered
    assert messages[0][0].startswith(messages[1][0])
    for lib in (torch, minigrad):                  # an empty out is resized without a word
        _, said = _warned(lib, lambda L: L.arange(5, out=L.zeros(0)))
        assert not said


# ---- complex into real: copy_ warns and keeps the real part, the gradient goes back ---------
def test_copy_of_complex_into_real_keeps_the_real_part_with_pytorchs_warning():
    z = (_X[0] + 2j * _X[1]).astype(np.complex64)
    results, messages = [], []
    for lib in (torch, minigrad):
        def run(L):
            source = L.tensor(z, requires_grad=True)
            target = L.zeros(3, 4, requires_grad=True) * 1.0
            target.copy_(source)
            (target * L.tensor(_X[0])).sum().backward()
            return target, source.grad
        minigrad._warn_once.state.given.clear()   # (its once-a-process warning given anew)
        (out, grad), said = _warned(lib, run)
        results.append((out.detach().numpy(), grad.numpy()))
        messages.append(said)
    np.testing.assert_allclose(results[1][0], results[0][0], rtol=1e-6)
    np.testing.assert_allclose(results[1][1], results[0][1], rtol=1e-6)
    assert results[1][1].dtype == results[0][1].dtype == np.complex64
    # PyTorch warns once per process (the first of its tests may have used it up)
    assert any(m.startswith("Casting complex values to real discards the imaginary part")
               for m in messages[1])
    assert all(m.startswith("Casting complex values to real discards the imaginary part")
               for m in messages[0])


def test_complex_to_bool_is_nonzero_without_a_warning():
    for lib in (torch, minigrad):
        z = lib.tensor([1j, 0, 2 + 0j])
        (as_bool, copied), said = _warned(lib, lambda L: (
            z.to(L.bool), L.zeros(3, dtype=L.bool).copy_(z)))
        assert as_bool.tolist() == copied.tolist() == [True, False, True]
        assert not said


# ---- where with a uint8 condition: deprecated in PyTorch, which warns and selects ---------------
def test_where_with_uint8_condition_warns_and_selects():
    mask = (_X[0] > 0).astype(np.uint8)
    agree(lambda L: L.where(L.tensor(mask), L.tensor(_X[0]), 0.0))
    _, said = _warned(minigrad, lambda L: L.where(L.tensor(mask), L.tensor(_X[0]), 0.0))
    assert any(m.startswith("where received a uint8 condition tensor. This behavior is "
                            "deprecated") for m in said)
    agree(lambda L: L.where(L.tensor(mask.astype(np.int64)), L.tensor(_X[0]), 0.0),
          match="where expected condition to be a boolean tensor")



def test_tensor_split_names_its_size_split_size_and_squeeze__refuses_none_by_its_name():
    for lib in (torch, minigrad):
        x = lib.arange(6.0).reshape(2, 3)
        parts = x.split(split_size=1, dim=1)
        assert len(parts) == 3 and tuple(parts[0].shape) == (2, 1)
        assert len(x.split(split_size=1)) == 2
        with pytest.raises(TypeError, match=r"^squeeze_\(\) received an invalid combination"):
            x.clone().squeeze_(None)


@pytest.mark.parametrize("bad", [[0, 2, 1], np.array([0, 2, 1]), 1.0])
def test_one_hot_of_a_non_tensor_is_torchs_type_error(bad):
    for lib in (torch, minigrad):
        with pytest.raises(TypeError, match=r"one_hot\(\): argument 'input' \(position 1\) must "
                                            r"be Tensor, not"):
            lib.nn.functional.one_hot(bad, num_classes=3)


# ---- max/min with dim= given by name: always a dim, a 0-d integer tensor included -------------
@pytest.mark.parametrize("call", [
    lambda L, x: L.max(x, dim=L.tensor(1)),
    lambda L, x: L.min(x, dim=L.tensor(-1), keepdim=True),
    lambda L, x: x.max(dim=L.tensor(0)),
    lambda L, x: x.min(dim=L.tensor(2, dtype=L.int32)),
    lambda L, x: L.max(x, L.tensor(1.0)),                 # by position: the other tensor
    lambda L, x: L.max(x, dim=2, keepdim=True),
    lambda L, x: L.max(input=x, dim=0),
])
def test_max_min_dim_by_name(call):
    agree(lambda L: call(L, _x(L)))


@pytest.mark.parametrize("call", [
    lambda L, x: L.max(x, dim=L.tensor(1.5)),
    lambda L, x: L.min(x, dim=L.tensor([1])),
    lambda L, x: L.max(x, 1, dim=1),
    lambda L, x: L.max(x, dim=1, other=x),
])
def test_max_min_dim_by_name_refused_as_torch(call):
    for lib in (minigrad, torch):
        with pytest.raises(TypeError, match="received an invalid combination of arguments"):
            call(lib, _x(lib))
