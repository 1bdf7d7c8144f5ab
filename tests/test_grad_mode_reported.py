"""The grad mode a user sets is what ``is_grad_enabled()`` reports, even inside
``inference_mode``, where nothing records whatever the mode (PyTorch keeps the two apart:
``enable_grad()`` inside ``inference_mode()`` reports True and still records nothing)."""
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _trace(lib):
    """Run one program of nested grad-mode switches; return what it observed at each step."""
    seen = []
    x = lib.ones(2, requires_grad=True)

    def look(tag):
        y = x * 2
        seen.append((tag, lib.is_grad_enabled(), lib.is_inference_mode_enabled(),
                     y.requires_grad, y.grad_fn is None, y.is_inference()))

    look("plain")
    with lib.inference_mode():
        look("inference")
        with lib.enable_grad():
            look("inference+enable_grad")
            with lib.no_grad():
                look("inference+enable_grad+no_grad")
            look("back to enable_grad")
        with lib.set_grad_enabled(True):
            look("inference+set_grad_enabled(True)")
        with lib.inference_mode(False):
            look("inference+inference_mode(False)")
            with lib.no_grad():
                look("... +no_grad")
        look("inference again")
    look("after inference")
    with lib.no_grad():
        look("no_grad")
        with lib.inference_mode():
            look("no_grad+inference")
            with lib.inference_mode(False):
                look("no_grad+inference+inference_mode(False)")
            look("no_grad+inference again")
        look("no_grad again")
    # set_grad_enabled as a plain call inside inference mode, undone by the block's exit
    with lib.inference_mode():
        lib.set_grad_enabled(True)
        look("inference, set_grad_enabled(True) called")
    look("after the block")

    @lib.enable_grad()
    def decorated():
        look("decorated enable_grad inside inference")
    with lib.inference_mode():
        decorated()
        look("after the decorated call")
    return seen


def test_grad_mode_reported_as_pytorch_inside_inference_mode():
    assert _trace(minigrad) == _trace(torch)


def test_enable_grad_inside_inference_mode_records_nothing():
    x = minigrad.ones(3, requires_grad=True)
    with minigrad.inference_mode(), minigrad.enable_grad():
        assert minigrad.is_grad_enabled()
        y = (x * x).sum()
    assert not y.requires_grad and y.is_inference()
    with pytest.raises(RuntimeError):
        y.backward()
