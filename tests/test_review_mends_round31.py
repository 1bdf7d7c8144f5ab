"""Round 31's leftovers from the helpers' reports, mended beside torch: transpose/swapdims of
a 0-d tensor give a new view with a TransposeBackward0 node (not the input itself); flip
wraps its dims in order, so a repeated dim is found before a later one out of range;
view_as_complex refuses bfloat16 in PyTorch's words; rms_norm with a weight of another dtype
gives PyTorch's once-a-process warning (its first pair of dtypes)."""
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import _warn_once

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("call", [
    lambda L, x: x.transpose(0, 0), lambda L, x: L.transpose(x, 0, -1),
    lambda L, x: L.swapdims(x, 0, -1), lambda L, x: x.swapaxes(-1, 0),
], ids=["method", "function", "swapdims", "swapaxes"])
def test_transpose_of_a_0d_tensor_is_a_new_view(call):
    got = []
    for L in (minigrad, torch):
        x = L.tensor(2.5, requires_grad=True)
        y = call(L, x)
        y.backward(L.tensor(3.0))
        got.append((y is x, y._base is x, type(y.grad_fn).__name__, tuple(y.shape),
                    float(y), float(x.grad)))
    assert got[0] == got[1]
    assert got[0][:3] == (False, True, "TransposeBackward0")


@pytest.mark.parametrize("dims", [[1, -1, 100], [1, 100, -1], [0, 1, 0], [-2, 0], [5, 5]])
def test_flip_wraps_its_dims_in_order(dims):
    errors = []
    for L in (minigrad, torch):
        try:
            L.ones(2, 3).flip(dims)
            errors.append(None)
        except Exception as exc:  # noqa: BLE001
            errors.append((type(exc).__name__, str(exc)))
    assert errors[0] == errors[1]


def test_view_as_complex_refuses_bfloat16_in_pytorchs_words():
    words = []
    for L in (minigrad, torch):
        with pytest.raises(RuntimeError) as info:
            L.view_as_complex(L.ones(2, 2, dtype=L.bfloat16))
        words.append(str(info.value))
    assert words[0] == words[1]


def test_rms_norm_weight_of_another_dtype_warns_once_with_its_first_pair():
    key = "rms_norm dtype mismatch"
    _warn_once.state.given.discard(key)
    F = minigrad.nn.functional
    w = minigrad.ones(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.rms_norm(minigrad.ones(2, 3, dtype=minigrad.float64), (3,), w)
        F.rms_norm(minigrad.ones(2, 3, dtype=minigrad.bfloat16), (3,), w)   # (not again)
        F.rms_norm(minigrad.ones(2, 3), (3,), w)                            # same dtypes
    messages = [str(c.message) for c in caught]
    assert messages == ["Mismatch dtype between input and weight: input dtype = double, "
                        "weight dtype = float, Cannot dispatch to fused implementation."]
    # the values still PyTorch's: the result in the input's dtype
    x = np.random.default_rng(0).standard_normal((2, 3))
    got = F.rms_norm(minigrad.tensor(x), (3,), w)
    want = torch.nn.functional.rms_norm(torch.tensor(x), (3,), torch.ones(3))
    assert got.dtype == minigrad.float64
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


@pytest.mark.parametrize("write", [
    lambda L, v: v.exp_(), lambda L, v: v.sub_(1), lambda L, v: v.zero_(),
    lambda L, v: v.mul_(2), lambda L, v: v.copy_(L.ones(0)), lambda L, v: v.fill_(1),
    lambda L, v: v.add_(L.ones(0)),
], ids=["exp_", "sub_", "zero_", "mul_", "copy_", "fill_", "add_"])
def test_in_place_write_into_an_empty_view_of_a_leaf_is_refused(write):
    """An empty view shares no memory with its base, but is its view: an in-place write into
    it is refused where the base is a leaf that requires grad, as PyTorch refuses it; taken
    under no_grad, on a non-leaf and on a plain tensor."""
    outcome = []
    for L in (minigrad, torch):
        leaf = L.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            write(L, leaf[:0])
        with L.no_grad():
            write(L, leaf[:0])
        inner = L.ones(3, requires_grad=True) * 2
        write(L, inner[:0])
        write(L, L.ones(3)[1:1])
        outcome.append((str(info.value), inner.requires_grad, inner.grad_fn is not None))
    assert outcome[0] == outcome[1]
