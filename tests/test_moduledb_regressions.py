"""Regression cases for what PyTorch's module samples (tests/test_moduleinfo_db.py, slow) found,
each run on both libraries: refusals in the same type and words, the same values."""
import functools

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import both, same_outcome  # noqa: E402


# [fn(minigrad), fn(torch)], an exception raised standing as the result, warnings dropped
_run = functools.partial(both, quiet=True, errors=True)
# torch refuses fn(lib); minigrad with the same exception type and message, word for word
_same_refusal = functools.partial(same_outcome, refused=True, text=str)


@pytest.mark.parametrize("kwargs", [
    {"input_size": 3.0, "hidden_size": 5}, {"input_size": "10", "hidden_size": 5},
    {"input_size": 0, "hidden_size": 5}, {"input_size": -1, "hidden_size": 5},
    {"input_size": 3, "hidden_size": 5, "bias": 0}, {"input_size": 3, "hidden_size": 5,
                                                     "bias": "True"},
    {"input_size": 3, "hidden_size": 5, "batch_first": 1},
    {"input_size": 3, "hidden_size": 5.0}, {"input_size": 3, "hidden_size": 0},
    {"input_size": 3, "hidden_size": 5, "num_layers": 0}])
@pytest.mark.parametrize("layer", ["RNN", "LSTM", "GRU"])
def test_recurrent_layer_constructor_checks(layer, kwargs):
    _same_refusal(lambda L: getattr(L.nn, layer)(**kwargs))


@pytest.mark.parametrize("delta", [1 + 0j, "1"])
def test_huber_loss_delta_type(delta):
    _same_refusal(lambda L: L.nn.HuberLoss(delta=delta))


def test_kl_div_of_a_negative_target_is_nan():
    x, t = np.array([2.1, 1.0, 0.5, -0.3]), np.array([-0.034, 0.0, 0.3, 0.7])
    mine, theirs = _run(lambda L: L.nn.functional.kl_div(L.tensor(x), L.tensor(t),
                                                         reduction="none"))
    np.testing.assert_array_equal(np.isnan(mine.numpy()), np.isnan(theirs.numpy()))
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("var_shape", [(4, 1), (1, 3), (4,), (4, 3), (1, 1), (2, 3), (3,)])
def test_gaussian_nll_loss_variance_shapes(var_shape):
    mine, theirs = _run(lambda L: L.nn.functional.gaussian_nll_loss(
        L.ones(4, 3, dtype=L.float64), L.zeros(4, 3, dtype=L.float64),
        L.full(var_shape, 2.0, dtype=L.float64)))
    if isinstance(theirs, Exception):
        assert type(mine) is type(theirs) and str(mine) == str(theirs)
    else:
        assert float(mine) == pytest.approx(float(theirs), rel=1e-12)


@pytest.mark.parametrize("layer", ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"])
def test_instance_norm_state_dict_has_num_batches_tracked(layer):
    mine, theirs = _run(lambda L: getattr(L.nn, layer)(3, track_running_stats=True))
    assert list(mine.state_dict()) == list(theirs.state_dict())
    mine.load_state_dict({k: minigrad.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    # a checkpoint from before the key existed still loads, as in PyTorch
    mine.load_state_dict({"running_mean": minigrad.zeros(3), "running_var": minigrad.ones(3)})
    plain = _run(lambda L: list(getattr(L.nn, layer)(3, affine=True).state_dict()))
    assert plain[0] == plain[1]


def test_linear_cross_entropy_loss_module():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 4)), rng.integers(0, 3, (6, 2))
    mods = _run(lambda L: L.nn.LinearCrossEntropyLoss(4, 3, out_features=(2,), bias=True))
    state = mods[1].state_dict()
    assert list(mods[0].state_dict()) == list(state) == ["linear.weight", "linear.bias"]
    mods[0].load_state_dict({k: minigrad.tensor(v.detach().numpy()) for k, v in state.items()})
    losses = []
    for lib, mod in zip((minigrad, torch), mods):
        mod.double()
        loss = mod(lib.tensor(x), lib.tensor(y))
        loss.backward()
        losses.append((float(loss.detach()), mod.linear.weight.grad.numpy()))
    assert losses[0][0] == pytest.approx(losses[1][0], rel=1e-12)
    np.testing.assert_allclose(losses[0][1], losses[1][1], rtol=1e-10, atol=1e-12)
    assert repr(mods[0]) == repr(mods[1])
    _same_refusal(lambda L: L.nn.LinearCrossEntropyLoss(4, 3, weight=L.ones(4)))
    _same_refusal(lambda L: L.nn.LinearCrossEntropyLoss(4, 3, label_smoothing=1.5))


@pytest.mark.parametrize("target", [3, [3]])
def test_multi_margin_loss_of_one_sample_takes_the_targets_shape(target):
    x = np.linspace(-1.0, 1.0, 10)
    mine, theirs = _run(lambda L: L.nn.functional.multi_margin_loss(
        L.tensor(x), L.tensor(target), reduction="none"))
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)


# what the foreach OpInfo tables found (tests/test_opinfo_db.py)
@pytest.mark.parametrize("case", [
    lambda L: L.tensor([True, False]).clamp(min=True),
    lambda L: L.tensor([True, False]).clamp(max=False),
    lambda L: L.tensor([True, False]).clamp(True, False),
    lambda L: L.tensor([True, False]).clone().clamp_(min=True),
    lambda L: L.addcmul(L.tensor([True]), L.tensor([True]), L.tensor([False])),
    lambda L: L.tensor([True]).addcmul_(L.tensor([True]), L.tensor([False])),
    lambda L: L._foreach_maximum([L.tensor([True, False])], True),
    lambda L: L._foreach_clamp_min([L.tensor([True, False])], True),
])
def test_bool_kernels_torch_lacks(case):
    _same_refusal(case)


@pytest.mark.parametrize("case", [
    lambda L: L.clip(L.tensor([True, False]), 0, 1),
    lambda L: L.tensor([1, 5], dtype=L.int32).clamp(0, 2.5),
    lambda L: L.clamp(L.tensor([True, False]), min=L.tensor(True)),
    lambda L: L._foreach_maximum([L.tensor([1.0, -2.0])], 0.5)[0],
    lambda L: L._foreach_addcmul([L.ones(2)], [L.ones(2)], [L.ones(2)], scalars=[3.0])[0],
    lambda L: L._foreach_addcdiv([L.ones(2)], [L.ones(2)], [L.ones(2) * 2],
                                 scalars=L.tensor([4.0]))[0],
])
def test_clamp_promotion_and_foreach_scalars(case):
    mine, theirs = _run(case)
    assert str(mine.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


_VALUES = [0.25, -0.5, 0.75]


@pytest.mark.parametrize("name", ["acos", "asin", "atan", "tan", "sinh", "cosh", "erf", "erfc",
                                  "expm1", "frac", "lgamma", "log1p"])
def test_foreach_unary_ops_and_their_in_place_forms(name):
    def case(L):
        outer = getattr(L, f"_foreach_{name}")([L.tensor(_VALUES, dtype=L.float64)])
        given = [L.tensor(_VALUES, dtype=L.float64)]
        returned = getattr(L, f"_foreach_{name}_")(given)
        assert returned is given                    # torch hands back the list it changed
        return outer[0], given[0]
    (mine, mine_inplace), (theirs, theirs_inplace) = _run(case)
    np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(mine_inplace.numpy(), theirs_inplace.numpy(), rtol=1e-12)


def test_foreach_log10_log2_clone_max_mm():
    def case(L):
        x = [L.tensor([[0.5, 2.0], [4.0, 8.0]], dtype=L.float64), L.tensor([[3.0]], dtype=L.float64)]
        y = [L.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=L.float64), L.tensor([[2.0]], dtype=L.float64)]
        return [*L._foreach_log10(x), *L._foreach_log2(x), *L._foreach_clone(x),
                *L._foreach_max(x), *L._foreach_mm(x, y)]
    mine, theirs = _run(case)
    assert len(mine) == len(theirs)
    for a, b in zip(mine, theirs):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_foreach_max_of_an_empty_tensor_is_refused():
    _same_refusal(lambda L: L._foreach_max([L.ones(2), L.ones(0)]))


def test_foreach_clone_is_differentiable():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (y,) = minigrad._foreach_clone([x])
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
