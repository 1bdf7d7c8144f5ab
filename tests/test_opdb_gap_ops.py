"""The ops PyTorch's OpInfo database (``op_db``) names that minigrad lacked, beside torch, in the
fast suite (tests/test_opinfo_db.py runs op_db's own samples, slowly):
``torch._softmax_backward_data`` (softmax's gradient from its output, called by hand in
custom autograd Functions such as older Hugging Face DeBERTa's), and the in-place random
fills op_db lists without their underscore (``cauchy``, ``exponential``, ``geometric``,
``log_normal``, ``uniform``), compared by shape, dtype and errors."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import leaves, same_tensor  # noqa: E402


def _same_error(fn_m, fn_t):
    with pytest.raises(Exception) as theirs:
        fn_t()
    with pytest.raises(type(theirs.value)) as mine:
        fn_m()
    assert str(mine.value) == str(theirs.value)


_RNG = np.random.default_rng(7)


# ---------------------------------------------------------------------------------------------
# _softmax_backward_data(grad_output, output, dim, input_dtype) = y * (g - sum(g * y, dim))
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, dim", [((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1),
                                        ((2, 3, 4), 1), ((5,), 0), ((), 0), ((), -1),
                                        ((0, 4), 1), ((3, 0), 1)])
def test_softmax_backward_data_values_and_gradients(shape, dim):
    g_np = _RNG.standard_normal(shape)
    y_np = np.asarray(torch.softmax(torch.tensor(_RNG.standard_normal(shape)), dim).numpy())
    (gm, gt), (ym, yt) = leaves(g_np, grad=True), leaves(y_np, grad=True)
    out_m = minigrad._softmax_backward_data(gm, ym, dim, minigrad.float64)
    out_t = torch._softmax_backward_data(gt, yt, dim, torch.float64)
    same_tensor(out_m, out_t, rtol=1e-10, atol=1e-12)
    assert out_m.requires_grad == out_t.requires_grad
    w = np.cos(np.arange(out_t.numel())).reshape(shape)
    (out_m * minigrad.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    same_tensor(gm.grad, gt.grad, rtol=1e-10, atol=1e-12)
    same_tensor(ym.grad, yt.grad, rtol=1e-10, atol=1e-12)


def test_softmax_backward_data_second_order():
    """Its gradient is differentiable again (torch's is too): grad of a grad, beside torch."""
    g_np, y_np = _RNG.standard_normal((3, 4)), _RNG.uniform(size=(3, 4))
    results = []
    for lib in (minigrad, torch):
        g, y = lib.tensor(g_np, requires_grad=True), lib.tensor(y_np, requires_grad=True)
        out = lib._softmax_backward_data(g, y, 1, lib.float64)
        first, = lib.autograd.grad((out * out).sum(), y, create_graph=True)
        second = lib.autograd.grad(first.sum(), (g, y))
        results.append([first, *second])
    for m, t in zip(*results):
        same_tensor(m, t, rtol=1e-10, atol=1e-12)


def test_softmax_backward_data_is_softmax_gradient():
    """Given softmax's output, it is what softmax's own backward gives (in both libraries)."""
    x_np, g_np = _RNG.standard_normal((4, 6)), _RNG.standard_normal((4, 6))
    xm = minigrad.tensor(x_np, requires_grad=True)
    ym = minigrad.softmax(xm, 1)
    ym.backward(minigrad.tensor(g_np))
    yt = torch.softmax(torch.tensor(x_np), 1)
    want = torch._softmax_backward_data(torch.tensor(g_np), yt, 1, torch.float64)
    same_tensor(xm.grad, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_softmax_backward_data_low_precision(dtype):
    g_np, y_np = _RNG.standard_normal((3, 7)), _RNG.uniform(size=(3, 7))
    m = minigrad._softmax_backward_data(minigrad.tensor(g_np).to(getattr(minigrad, dtype)),
                                        minigrad.tensor(y_np).to(getattr(minigrad, dtype)),
                                        -1, getattr(minigrad, dtype))
    t = torch._softmax_backward_data(torch.tensor(g_np).to(getattr(torch, dtype)),
                                     torch.tensor(y_np).to(getattr(torch, dtype)),
                                     -1, getattr(torch, dtype))
    tol = {"float32": 1e-6, "float16": 2e-3, "bfloat16": 1.6e-2}[dtype]
    same_tensor(m, t, rtol=tol, atol=tol)


def test_softmax_backward_data_input_dtype_only_refused_as_on_cpu():
    """On the CPU the result keeps g's dtype whatever ``input_dtype`` says, except a float32 g
    with a float16 ``input_dtype``, which PyTorch's kernel refuses."""
    g_np, y_np = _RNG.standard_normal((2, 3)), _RNG.uniform(size=(2, 3))
    for g_dtype, in_dtype in (("float64", "float32"), ("float32", "bfloat16"),
                              ("float16", "float32"), ("float64", "float16")):
        m = minigrad._softmax_backward_data(
            minigrad.tensor(g_np).to(getattr(minigrad, g_dtype)),
            minigrad.tensor(y_np).to(getattr(minigrad, g_dtype)), 1, getattr(minigrad, in_dtype))
        t = torch._softmax_backward_data(
            torch.tensor(g_np).to(getattr(torch, g_dtype)),
            torch.tensor(y_np).to(getattr(torch, g_dtype)), 1, getattr(torch, in_dtype))
        same_tensor(m, t, rtol=2e-3, atol=2e-3)


_G, _Y = _RNG.standard_normal((3, 4)), _RNG.uniform(size=(3, 4))


@pytest.mark.parametrize("case", [
    lambda lib: lib._softmax_backward_data(lib.tensor(_G), lib.tensor(_Y[:2]), 1, lib.float64),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G), lib.tensor(_Y), 2, lib.float64),
    lambda lib: lib._softmax_backward_data(lib.tensor(2.0), lib.tensor(1.0), 1, lib.float64),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).float(), lib.tensor(_Y), 1,
                                           lib.float32),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).half(), lib.tensor(_Y).float(), 1,
                                           lib.float16),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).float(), lib.tensor(_Y).float(), 1,
                                           lib.float16),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).int(), lib.tensor(_Y).int(), 1,
                                           lib.int32),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).long(), lib.tensor(_Y).long(), 0,
                                           lib.float32),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G).bool(), lib.tensor(_Y).bool(), 1,
                                           lib.bool),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G), lib.tensor(_Y), 1.0, lib.float64),
    lambda lib: lib._softmax_backward_data(lib.tensor(_G), lib.tensor(_Y), 1, None),
    lambda lib: lib._softmax_backward_data(_G, lib.tensor(_Y), 1, lib.float64),
], ids=["sizes", "dim range", "0-d dim", "float vs double", "half vs float",
        "float with half input_dtype", "int", "long dim 0", "bool", "float dim", "no dtype",
        "not a tensor"])
def test_softmax_backward_data_errors(case):
    _same_error(lambda: case(minigrad), lambda: case(torch))


def test_softmax_backward_data_empty_integer_passes():
    m = minigrad._softmax_backward_data(minigrad.zeros(0, 4, dtype=minigrad.int64),
                                        minigrad.zeros(0, 4, dtype=minigrad.int64), 1,
                                        minigrad.int64)
    t = torch._softmax_backward_data(torch.zeros(0, 4, dtype=torch.int64),
                                     torch.zeros(0, 4, dtype=torch.int64), 1, torch.int64)
    same_tensor(m, t, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# op_db's "cauchy", "exponential", "geometric", "log_normal", "uniform": the in-place fills
# ---------------------------------------------------------------------------------------------
_FILLS = [("cauchy_", (), {}), ("cauchy_", (1.5, 0.5), {}), ("exponential_", (), {}),
          ("exponential_", (2.0,), {}), ("geometric_", (0.3,), {}), ("log_normal_", (), {}),
          ("log_normal_", (0.5, 0.25), {}), ("uniform_", (), {}),
          ("uniform_", (-2.0, 3.0), {})]


@pytest.mark.parametrize("method, args, kwargs", _FILLS)
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_random_fill_shape_dtype_and_identity(method, args, kwargs, dtype):
    results = []
    for lib in (minigrad, torch):
        x = lib.zeros(3, 4, dtype=getattr(lib, dtype))
        out = getattr(x, method)(*args, **kwargs)
        assert out is x
        results.append(out)
    m, t = results
    assert tuple(m.shape) == tuple(t.shape)
    assert str(m.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    values = m.double().numpy()
    if method == "uniform_":
        low, high = args or (0.0, 1.0)
        assert ((values >= low) & (values <= high)).all()
    elif method in ("exponential_", "log_normal_"):
        assert (values >= 0).all()
    elif method == "geometric_":
        assert (values >= 1).all() and (values == np.round(values)).all()


@pytest.mark.parametrize("call", [
    lambda lib: lib.zeros(3).exponential_(-1.0),
    lambda lib: lib.zeros(3).cauchy_(0.0, -1.0),
    lambda lib: lib.zeros(3).log_normal_(0.0, -1.0),
    lambda lib: lib.zeros(3).geometric_(1.5),
    lambda lib: lib.zeros(3).geometric_(0.0),
    lambda lib: lib.zeros(3).uniform_(2.0, 1.0),
    lambda lib: lib.zeros(3, dtype=lib.int64).exponential_(),
    lambda lib: lib.zeros(3, dtype=lib.int64).uniform_(),
], ids=["exponential negative", "cauchy sigma", "log_normal std", "geometric p>1",
        "geometric p=0", "uniform from>to", "exponential int", "uniform int"])
def test_random_fill_errors(call):
    """The same exception and words; the number itself is printed as Python prints a float
    (``-1.0``) where PyTorch prints C++'s ``-1`` (minigrad/_sampling.py words it)."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(minigrad)
    assert str(mine.value).split("=")[0] == str(theirs.value).split("=")[0]


# ---------------------------------------------------------------------------------------------
# op_db's complex samples minigrad refused: linalg.matrix_power(A, 0) of a complex A
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (0, 2, 2), (2, 3, 3)])
def test_complex_matrix_power_zero(shape):
    a = _RNG.standard_normal(shape) + 1j * _RNG.standard_normal(shape)
    (am, at) = leaves(a, grad=True)
    om, ot = minigrad.linalg.matrix_power(am, 0), torch.linalg.matrix_power(at, 0)
    same_tensor(om, ot, rtol=1e-10, atol=1e-12)
    assert om.requires_grad == ot.requires_grad
    (om * minigrad.tensor(a)).real.sum().backward()
    (ot * torch.tensor(a)).real.sum().backward()
    same_tensor(am.grad, at.grad, rtol=1e-10, atol=1e-12)
    assert not np.any(at.grad.numpy())
