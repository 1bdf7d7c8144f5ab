"""A ctx-style autograd Function is used through its class (``MyFn.apply``); making an
instance of it gets PyTorch's DeprecationWarning, naming the caller's line, and applying it
gets none."""
import warnings

import pytest
import torch

import minigrad


def _made_and_applied(lib):
    class Twice(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with warnings.catch_warnings(record=True) as made:
        warnings.simplefilter("always")
        Twice()
    with warnings.catch_warnings(record=True) as applied:
        warnings.simplefilter("always")
        x = lib.ones(2, requires_grad=True)
        Twice.apply(x).sum().backward()
    return made, applied, x.grad.tolist()


@pytest.mark.parametrize("lib", [torch, minigrad], ids=["torch", "minigrad"])
def test_an_instance_warns_and_apply_does_not(lib):
    made, applied, grad = _made_and_applied(lib)
    assert [w.category for w in made] == [DeprecationWarning]
    assert made[0].filename == __file__
    assert str(made[0].message).endswith(
        "Twice'> should not be instantiated. Methods on autograd functions are all static, so "
        "you should invoke them on the class itself. Instantiating an autograd function will "
        "raise an error in a future version of PyTorch.")
    assert applied == [] and grad == [2.0, 2.0]


def test_minigrads_own_style_is_not_ctx_style_and_says_nothing():
    class Cube(minigrad.autograd.Function):
        def forward(self, a):
            self.save_for_backward(a)
            return a * a * a

        def backward(self, g):
            a, = self.saved_tensors
            return g * 3 * a * a
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        x = minigrad.tensor([2.0], requires_grad=True)
        Cube.apply(x).backward()
    assert seen == [] and x.grad.tolist() == [12.0]
