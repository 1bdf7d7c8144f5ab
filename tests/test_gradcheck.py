"""The checkers themselves: gradcheck must catch wrong backwards and say where; assert_close and
compare_with_torch must report usefully; the command line must run and fail cleanly."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minigrad
from minigrad.autograd import Function
from minigrad.testing import GradcheckError, compare_with_torch, gradcheck
from minigrad.testing.gradcheck import assert_close  # the lenient, cross-framework form

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def t64(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return minigrad.tensor(rng.standard_normal(shape), requires_grad=requires_grad)


# ----------------------------------------------------------------------------------------------
# Deliberately wrong backwards
# ----------------------------------------------------------------------------------------------
class ScaledWrong(Function):
    """y = x * w elementwise; the gradient of x is off by a factor 1.5 at one element only."""
    first_order_only = True           # backward on raw arrays

    def forward(self, x, w):
        self.save_for_backward(x, w)
        return x * w

    def backward(self, g):
        x, w = self.saved_tensors
        gx = g * w
        gx[1, 2] *= 1.5                       # the bug
        return gx, g * x


class WrongSecondInput(Function):
    """y = x * w; the gradient of w is doubled everywhere (x's is right)."""
    first_order_only = True           # backward on raw arrays

    def forward(self, x, w):
        self.save_for_backward(x, w)
        return x * w

    def backward(self, g):
        x, w = self.saved_tensors
        return g * w, 2 * g * x


class TransposedGrad(Function):
    """y = x @ c for a fixed square c; the backward forgets to transpose c."""
    first_order_only = True           # backward on raw arrays

    def forward(self, x, *, c):
        self.c = c
        return x @ c

    def backward(self, g):
        return g @ self.c                     # should be g @ c.T


class RightProduct(Function):
    first_order_only = True

    def forward(self, x, w):
        self.save_for_backward(x, w)
        return x * w

    def backward(self, g):
        x, w = self.saved_tensors
        return g * w, g * x


def test_factor_error_is_caught_with_input_and_element():
    x, w = t64(3, 4), t64(3, 4, seed=1)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: ScaledWrong.apply(a, b), (x, w))
    msg = str(info.value)
    assert "input 0 (shape [3, 4])" in msg
    assert "element (1, 2)" in msg
    assert "input 1" not in msg                        # w's gradient is right
    assert "analytic" in msg and "numeric" in msg
    assert "Mismatched elements: 1 / 12" in msg


def test_error_on_second_input_names_it():
    x, w = t64(2, 3), t64(2, 3, seed=1)
    with pytest.raises(GradcheckError, match=r"input 1 \(shape \[2, 3\]\)") as info:
        gradcheck(lambda a, b: WrongSecondInput.apply(a, b), (x, w))
    assert "input 0" not in str(info.value)


def test_transposed_gradient_is_caught():
    rng = np.random.default_rng(5)
    c = rng.standard_normal((3, 3))
    x = t64(2, 3)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \[2, 3\]\) at element \(\d, \d\)"):
        gradcheck(lambda a: TransposedGrad.apply(a, c=c), (x,))
    # the same op with c symmetric has a right gradient: the check passes
    sym = c + c.T
    assert gradcheck(lambda a: TransposedGrad.apply(a, c=sym), (x,))


def test_correct_function_and_composites_pass():
    x, w = t64(3, 4), t64(3, 4, seed=1)
    assert gradcheck(lambda a, b: RightProduct.apply(a, b), (x, w)) is True
    assert gradcheck(lambda a, b: (a.tanh() * b).sum(dim=1).exp(), [x, w])
    # tuple outputs, a non-tensor argument, an input without grad
    fixed = t64(3, 4, seed=2, requires_grad=False)
    assert gradcheck(lambda a, k, f: (a * k + f, (a * f).sum()), (x, 2.5, fixed))


def test_raise_exception_false_returns_false():
    x, w = t64(3, 4), t64(3, 4, seed=1)
    assert gradcheck(lambda a, b: ScaledWrong.apply(a, b), (x, w), raise_exception=False) is False


def test_gradcheck_error_is_runtime_and_assertion_error():
    assert issubclass(GradcheckError, RuntimeError)
    assert issubclass(GradcheckError, AssertionError)


def test_inputs_are_left_untouched():
    x = t64(3, 4)
    before = x.detach().numpy().copy()
    gradcheck(lambda a: (a * a).sum(), (x,))
    assert np.array_equal(x.detach().numpy(), before)
    assert x.grad is None


def test_float32_is_refused_unless_allowed():
    x = minigrad.randn(3, 4, requires_grad=True)          # float32
    with pytest.raises(ValueError, match="float64") as info:
        gradcheck(lambda a: (a * a).sum(), (x,))
    assert "allow_float32" in str(info.value)
    assert gradcheck(lambda a: (a * a).sum(), (x,), eps=1e-2, atol=1e-2, rtol=1e-2,
                     allow_float32=True)


def test_no_differentiable_input_is_an_error():
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda a: a * 2, (t64(3, requires_grad=False),))


def test_unused_input_gets_zero_gradient():
    x, unused = t64(3), t64(3, seed=1)
    assert gradcheck(lambda a, b: a * 3, (x, unused))


def test_forward_passes_are_linear_in_numel():
    calls = []

    def f(a):
        calls.append(1)
        return a * 2

    gradcheck(f, (t64(4, 5),))
    assert len(calls) == 1 + 2 * 20                        # one for backward, two per element


# ----------------------------------------------------------------------------------------------
# assert_close
# ----------------------------------------------------------------------------------------------
def test_assert_close_report():
    expected = np.arange(12, dtype=np.float64).reshape(3, 4)
    actual = expected.copy()
    actual[1, 2] += 0.5
    actual[2, 3] += 1e-3
    with pytest.raises(AssertionError) as info:
        assert_close(minigrad.tensor(actual), expected, msg="my check")
    msg = str(info.value)
    assert msg.startswith("my check")
    assert "shape [3, 4]" in msg
    assert "Mismatched elements: 2 / 12 (16.7%)" in msg
    assert "Greatest absolute difference: 0.5 at index (1, 2)" in msg
    assert "Greatest relative difference: 0.0833333 at index (1, 2)" in msg


def test_assert_close_default_tolerances_by_dtype():
    a = np.float32(1.0) + np.float32(1e-6)
    assert_close(minigrad.tensor(np.array([a], dtype=np.float32)), np.array([1.0], np.float32))
    with pytest.raises(AssertionError):
        assert_close(np.array([1.0 + 1e-6]), np.array([1.0]))            # float64 is tighter
    with pytest.raises(AssertionError):
        assert_close(np.array([1, 2]), np.array([1, 3]))                # integers are exact
    assert_close(np.array([1.0 + 1e-6]), np.array([1.0]), rtol=1e-5, atol=0)


def test_assert_close_shapes_numbers_nan_and_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(AssertionError, match=r"shapes differ: actual \[3\], expected \[1, 3\]"):
        assert_close(np.zeros(3), np.zeros((1, 3)))
    assert_close(2.0, minigrad.tensor(2.0))
    assert_close(minigrad.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]))
    nan = np.array([np.nan, 1.0])
    with pytest.raises(AssertionError):
        assert_close(nan, nan)
    assert_close(nan, nan, equal_nan=True)
    assert_close(np.array([np.inf]), np.array([np.inf]))
    with pytest.raises(AssertionError, match="dtypes differ"):
        assert_close(np.zeros(2, np.float32), np.zeros(2), check_dtype=True)


# ----------------------------------------------------------------------------------------------
# compare_with_torch
# ----------------------------------------------------------------------------------------------
def test_compare_with_torch_passes_and_reports_errors():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))
    cmp = compare_with_torch(lambda a, b: (a @ b.T).tanh(), lambda a, b: (a @ b.T).tanh(),
                             [x, w])
    assert cmp.max_abs_err < 1e-12
    assert "output 0" in cmp.checked and "grad of input 1" in cmp.checked


def test_compare_with_torch_catches_wrong_forward():
    torch = pytest.importorskip("torch")
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    with pytest.raises(GradcheckError, match=r"output 0 \(shape \[2, 3\]\) differs"):
        compare_with_torch(lambda a: a.exp(), lambda a: torch.exp(a) + 1e-3, [x])


def test_compare_with_torch_catches_wrong_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    with pytest.raises(GradcheckError, match=r"gradient of input 1 \(shape \[2, 3\]\)") as info:
        compare_with_torch(lambda a, b: WrongSecondInput.apply(a, b), lambda a, b: a * b,
                           [x, w])
    assert "Greatest absolute difference" in str(info.value)


def test_compare_with_torch_tuple_outputs_and_int_inputs():
    torch = pytest.importorskip("torch")
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    idx = np.array([1, 0, 1])
    cmp = compare_with_torch(lambda a, i: (tuple(a.max(dim=1)), a[i]),
                             lambda a, i: (tuple(a.max(dim=1)), a[i]), [x, idx])
    assert cmp.checked == ["output 0", "output 2", "grad of input 0"]
    with pytest.raises(GradcheckError, match="output 1"):
        compare_with_torch(lambda a: tuple(a.max(dim=1)),
                           lambda a: (a.max(dim=1).values, a.argmin(dim=1)), [x])


def test_compare_with_torch_checks_dtype():
    torch = pytest.importorskip("torch")
    x = np.ones(3)
    with pytest.raises(GradcheckError, match="dtype differs"):
        compare_with_torch(lambda a: a * 2, lambda a: (a * 2).float(), [x], grad=False)


def test_compare_with_torch_without_torch_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="pip install torch"):
        compare_with_torch(lambda a: a, lambda a: a, [np.ones(2)])


# ----------------------------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------------------------
def _cli(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "minigrad.gradcheck", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=300)


def test_cli_runs_one_op():
    pytest.importorskip("torch")
    proc = _cli("--op", "add")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line.split() for line in proc.stdout.splitlines()]
    row = next(parts for parts in lines if parts and parts[0] == "add")
    assert row[-1] == "ok" and int(row[1]) > 5
    assert "max abs err" in proc.stdout and "0 failed" in proc.stdout


def test_cli_unknown_op_fails_with_a_message():
    proc = _cli("--op", "no_such_op")
    assert proc.returncode != 0
    assert "no op named 'no_such_op'" in proc.stderr


def test_cli_cuda_without_gpu_exits_2(capsys):
    if minigrad.cuda.is_available():
        pytest.skip("a GPU is available here")
    from minigrad.gradcheck import main
    assert main(["--device", "cuda", "--op", "add"]) == 2
    assert "GPU" in capsys.readouterr().err


def test_cli_reports_a_failing_op(monkeypatch, capsys):
    pytest.importorskip("torch")
    from minigrad.gradcheck import main
    from minigrad.testing import registry
    info = registry.get("mul")
    monkeypatch.setattr(info, "_f", lambda lib, a, b: a * b * 1.001)   # a wrong "mul"
    assert main(["--op", "mul", "--fast"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "== mul ==" in out


def test_cli_list():
    from minigrad.gradcheck import main
    assert main(["--list"]) == 0


def test_cli_order_2_checks_second_derivatives(capsys):
    pytest.importorskip("torch")
    from minigrad.gradcheck import main
    assert main(["--op", "tanh", "--op", "conv2d", "--fast", "--order", "2"]) == 0
    out = capsys.readouterr().out
    assert "first and second derivatives" in out and "0 failed" in out


def test_cli_order_2_catches_a_wrong_second_derivative(monkeypatch, capsys):
    pytest.importorskip("torch")
    from minigrad.gradcheck import main
    from minigrad.ops import elementary_functions
    # tanh' = 1 - tanh^2, written so that its own derivative is wrong (tanh^2 as a constant)
    def wrong_backward(self, g):
        out, = self.saved_tensors
        return g * (1 - minigrad.tensor(out.detach().numpy() ** 2))
    monkeypatch.setattr(elementary_functions.Tanh, "backward", wrong_backward)
    assert main(["--op", "tanh", "--fast"]) == 0           # first order still right
    assert main(["--op", "tanh", "--fast", "--order", "2"]) == 1
    assert "second order vs torch" in capsys.readouterr().out


def test_gradgradcheck_finds_a_wrong_second_derivative(monkeypatch):
    from minigrad.ops import elementary_functions
    from minigrad.testing import GradcheckError, gradgradcheck
    x = minigrad.tensor([0.3, -0.7, 1.1], dtype=minigrad.float64, requires_grad=True)
    assert gradgradcheck(minigrad.tanh, (x,))

    def wrong_backward(self, g):
        out, = self.saved_tensors
        return g * (1 - minigrad.tensor(out.detach().numpy() ** 2))
    monkeypatch.setattr(elementary_functions.Tanh, "backward", wrong_backward)
    with pytest.raises(GradcheckError, match="second derivative"):
        gradgradcheck(minigrad.tanh, (x,))
