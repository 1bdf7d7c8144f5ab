"""Inference tensors (made inside inference_mode) on minigrad and torch: the flag, what is
allowed outside the block and what is refused, in PyTorch's types and words."""
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _made_inside(L):
    with L.inference_mode():
        a = L.ones(2)
        b = a * 2
    return a, b


def _run(case):
    out = []
    for lib in (minigrad, torch):
        try:
            result = case(lib)
            if hasattr(result, "is_inference"):
                result = (result.is_inference(), result.requires_grad, result.tolist())
            out.append(result)
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


@pytest.mark.parametrize("case", [
    lambda L: _made_inside(L)[0],
    lambda L: _made_inside(L)[1],
    lambda L: _made_inside(L)[0].view(2),
    lambda L: _made_inside(L)[0][1:],
    lambda L: _made_inside(L)[0].detach(),
    lambda L: _made_inside(L)[0].data,
    lambda L: _made_inside(L)[0].clone(),
    lambda L: _made_inside(L)[0] * 3,
    lambda L: _made_inside(L)[0] + L.ones(2, requires_grad=True),   # add saves nothing
    lambda L: _made_inside(L)[0].requires_grad_(False),
    lambda L: L.ones(2).copy_(_made_inside(L)[0]),
    lambda L: L.nn.Parameter(_made_inside(L)[0], requires_grad=False),
    lambda L: L.is_inference(_made_inside(L)[0]),
])
def test_allowed_outside_the_block(case):
    mine, theirs = _run(case)
    assert not isinstance(theirs, Exception), theirs
    assert mine == theirs


def _write_inside(L):
    a = _made_inside(L)[0]
    with L.inference_mode():
        a.add_(1)
        view = L.ones(3)[1:]                 # a view of a normal tensor made inside
    return a.tolist(), view.is_inference()


def _normal_written_inside(L):
    x = L.ones(2)
    with L.inference_mode():
        x.mul_(3)
    return x.is_inference(), x._version, x.tolist()


@pytest.mark.parametrize("case", [_write_inside, _normal_written_inside,
                                  lambda L: L.inference_mode(False)(lambda: L.ones(1))()
                                  .is_inference()])
def test_inside_the_block(case):
    mine, theirs = _run(case)
    assert mine == theirs


@pytest.mark.parametrize("case", [
    lambda L: _made_inside(L)[0]._version,
    lambda L: _made_inside(L)[0].add_(1),
    lambda L: _made_inside(L)[0][0].fill_(3),
    lambda L: _made_inside(L)[0].requires_grad_(),
    lambda L: _made_inside(L)[0] * L.ones(2, requires_grad=True),
    lambda L: L.nn.Parameter(_made_inside(L)[0]),
    lambda L: L.nn.functional.linear(_made_inside(L)[0], L.ones(3, 2, requires_grad=True)),
])
def test_refused_outside_the_block(case):
    mine, theirs = _run(case)
    assert isinstance(theirs, RuntimeError), theirs
    assert type(mine) is type(theirs) and str(mine) == str(theirs)


def test_custom_function_saving_an_inference_tensor_is_refused():
    class Square(minigrad.autograd.Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x)
            return x * w

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return None, g * x
    a = _made_inside(minigrad)[0]
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        Square.apply(a, minigrad.ones(2, requires_grad=True))
