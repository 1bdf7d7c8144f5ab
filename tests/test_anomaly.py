"""minigrad.autograd.detect_anomaly: a NaN made by a backward names the op and the line (an inf
passes, as in PyTorch)."""
import inspect
import os
import warnings

import pytest

import minigrad as torch
from minigrad import autograd

THIS_FILE = os.path.basename(__file__)


def _line_of(marker):
    """Line number, in this file, of the line that carries the comment ``# <marker>``."""
    for number, line in enumerate(inspect.getsource(inspect.getmodule(_line_of)).splitlines(), 1):
        if f"# {marker}" in line:
            return number
    raise AssertionError(marker)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # numpy's "divide by zero"
        yield


def test_sqrt_of_negative_names_op_call_site_and_shapes():
    x = torch.tensor([[-1.0, 1.0, 4.0]], requires_grad=True)
    with autograd.detect_anomaly():
        y = torch.sqrt(x)  # SQRT-LINE
        loss = (y * 2).sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert "SqrtBackward0" in message
    assert "returned nan values" in message
    assert f"{THIS_FILE}:{_line_of('SQRT-LINE')}" in message
    assert "y = torch.sqrt(x)" in message
    assert "(1, 3)" in message                 # the input's and the gradient's shape


def test_nan_is_reported_as_nan():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    with autograd.detect_anomaly():
        z = x.sqrt()  # NAN-LINE  (sqrt(-1) is nan forward, and so is its gradient)
        with pytest.raises(RuntimeError, match="nan values") as info:
            z.sum().backward()
    assert "SqrtBackward0" in str(info.value)
    assert f"{THIS_FILE}:{_line_of('NAN-LINE')}" in str(info.value)


def test_call_site_is_user_code_not_minigrad():
    """The reported line is the first frame outside the minigrad package (here a method)."""
    def my_layer(t):
        return t.sqrt()  # LOG-LINE

    x = torch.tensor([-1.0, 1.0], requires_grad=True)
    with autograd.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            my_layer(x).sum().backward()
    message = str(info.value)
    assert "SqrtBackward0" in message
    site = message.split("called in forward at ")[1].splitlines()[0]
    assert site.startswith(__file__) or THIS_FILE in site
    assert f":{_line_of('LOG-LINE')}, in my_layer" in site


def test_no_error_outside_the_context():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    torch.sqrt(x).sum().backward()             # no anomaly mode: inf silently reaches .grad
    assert x.grad.numpy()[0] == float("inf")
    assert not autograd.is_anomaly_enabled()


def test_context_restores_state_and_finite_backward_passes():
    x = torch.tensor([1.0, 4.0], requires_grad=True)
    with autograd.detect_anomaly():
        assert autograd.is_anomaly_enabled()
        torch.sqrt(x).sum().backward()
    assert not autograd.is_anomaly_enabled()
    assert x.grad.tolist() == [0.5, 0.25]


def test_state_restored_after_exception():
    with pytest.raises(KeyError):
        with autograd.detect_anomaly():
            raise KeyError("boom")
    assert not autograd.is_anomaly_enabled()


def test_in_a_function_and_check_nan_false():
    def step(t):
        with autograd.detect_anomaly():
            torch.sqrt(t).sum().backward()

    with pytest.raises(RuntimeError, match="SqrtBackward0"):
        step(torch.tensor([-1.0], requires_grad=True))
    step(torch.tensor([0.0], requires_grad=True))     # an infinite gradient is no anomaly
    assert not autograd.is_anomaly_enabled()

    x = torch.tensor([0.0], requires_grad=True)
    with autograd.detect_anomaly(check_nan=False):
        torch.sqrt(x).sum().backward()         # call sites recorded, gradients not checked
    assert x.grad.numpy()[0] == float("inf")


def test_set_detect_anomaly():
    with autograd.set_detect_anomaly(True):
        assert autograd.is_anomaly_enabled()
    assert not autograd.is_anomaly_enabled()
    autograd.set_detect_anomaly(True)
    try:
        assert autograd.is_anomaly_enabled()
    finally:
        autograd.set_detect_anomaly(False)
    assert not autograd.is_anomaly_enabled()


def test_graph_built_outside_context_still_checked():
    """The check runs for a backward inside the context; the site is then unknown (said so)."""
    x = torch.tensor([-1.0], requires_grad=True)
    y = torch.sqrt(x)
    with autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="SqrtBackward0") as info:
            y.sum().backward()
    assert "outside detect_anomaly" in str(info.value)


def test_conv_net_anomaly_names_the_op():
    """A NaN in a conv net's loss (log of a negative) is caught at the op that made it."""
    F = pytest.importorskip("minigrad.nn.functional")
    if not hasattr(F, "conv2d"):
        pytest.skip("conv2d not available yet")
    x = torch.ones(1, 1, 4, 4)
    w = torch.ones(1, 1, 2, 2, requires_grad=True)
    with autograd.detect_anomaly():
        y = F.conv2d(x, w)
        loss = (y - 5.0).sqrt().sum()  # CONV-SQRT
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    assert "SqrtBackward0" in str(info.value)
    assert f"{THIS_FILE}:{_line_of('CONV-SQRT')}" in str(info.value)
