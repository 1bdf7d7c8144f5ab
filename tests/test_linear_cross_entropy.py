"""F.linear_cross_entropy and nn.LinearCrossEntropyOptions beside PyTorch's: refusals in the same
words, the options accepted (and the same warning where PyTorch's chunked path does not
apply), the same value with and without them. Values and gradients to second order are the
registry's ("linear_cross_entropy")."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

rng = np.random.default_rng(7)
X, W = rng.standard_normal((5, 4)), rng.standard_normal((3, 4))
T = np.array([0, 2, 1, 1, 0])


def _both(fn):
    """fn(lib) on both libraries: (result or exception, warnings' messages) for each."""
    out = []
    for lib in (minigrad, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = fn(lib)
            except Exception as exc:  # noqa: BLE001
                result = exc
        out.append((result, [str(w.message) for w in caught]))
    return out


def _t(lib, a):
    return lib.tensor(a)


REFUSALS = {
    "3-d input": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, np.zeros((2, 2, 4))), _t(L, W), _t(L, T[:2])),
    "1-d weight": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, X), _t(L, np.zeros(4)), _t(L, T)),
    "in_features differ": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, X), _t(L, np.zeros((3, 5))), _t(L, T)),
    "bias shape": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, X), _t(L, W), _t(L, T), linear_bias=_t(L, np.zeros(4))),
    "K-dim, unbatched": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, X[0]), _t(L, np.zeros((3, 2, 4))), _t(L, T[:2])),
    "ignore_index with probabilities": lambda L: L.nn.functional.linear_cross_entropy(
        _t(L, X), _t(L, W), _t(L, np.full((5, 3), 1 / 3)), ignore_index=0),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_match_torch(case):
    (mine, _), (theirs, _) = _both(REFUSALS[case])
    assert isinstance(theirs, Exception) and type(mine) is type(theirs)
    assert str(mine) == str(theirs)


def test_options_give_the_reference_value():
    def run(lib, **kw):
        x = lib.tensor(X, requires_grad=True)
        loss = lib.nn.functional.linear_cross_entropy(x, lib.tensor(W), lib.tensor(T), **kw)
        loss.backward()
        return float(loss), x.grad.numpy()
    plain, grad = run(minigrad)
    chunked, chunked_grad = run(minigrad, options=minigrad.nn.LinearCrossEntropyOptions(
        batch_chunk_size=2))
    theirs, their_grad = run(torch, options=torch.nn.LinearCrossEntropyOptions(
        batch_chunk_size=2))
    assert chunked == plain
    np.testing.assert_array_equal(chunked_grad, grad)
    np.testing.assert_allclose(chunked, theirs, rtol=1e-12)
    np.testing.assert_allclose(chunked_grad, their_grad, rtol=1e-10, atol=1e-12)


def test_options_outside_the_chunked_path_warn_as_torch():
    (mine, my_warnings), (theirs, their_warnings) = _both(
        lambda L: L.nn.functional.linear_cross_entropy(
            L.tensor(X), L.tensor(W), L.tensor(T), label_smoothing=0.1,
            options=L.nn.LinearCrossEntropyOptions()))
    assert len(my_warnings) == len(their_warnings) == 1
    assert my_warnings[0].split(" Got ")[0] == their_warnings[0].split(" Got ")[0]
    np.testing.assert_allclose(float(mine), float(theirs), rtol=1e-12)


@pytest.mark.parametrize("kw", [{"acc_policy": "fast"}, {"batch_chunk_size": 0},
                                {"batch_chunk_size": -2}, {"chunking_method": "rows"},
                                {"chunking_method": "aspect_ratio:0"},
                                {"chunking_method": "aspect_ratio:3"}, {"acc_dtype": "float32"}])
def test_options_check_their_settings_as_torch(kw):
    (mine, _), (theirs, _) = _both(lambda L: L.nn.LinearCrossEntropyOptions(**kw))
    assert isinstance(mine, Exception) == isinstance(theirs, Exception)
    if isinstance(theirs, Exception):
        assert type(mine) is type(theirs) and str(mine) == str(theirs)


def test_conj_physical_and_rdiv_on_real_tensors():
    x = minigrad.tensor([2.0, 4.0], requires_grad=True)
    assert minigrad.conj_physical(x) is x and x.conj_physical() is x
    y = minigrad.tensor([1.0, 2.0])
    assert y.conj_physical_() is y
    np.testing.assert_array_equal(x.__rdiv__(8).detach().numpy(),
                                  torch.tensor([2.0, 4.0]).__rdiv__(8).numpy())
