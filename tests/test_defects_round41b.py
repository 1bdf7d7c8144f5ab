"""Round 41b defects, each checked against PyTorch: squeeze keeping a kept size-1 dim's
stride; the layout of an empty result of add, sub and mul; the sign of the zero that the
16-bit clamp-shaped activations' backward gives; random_'s and linalg.qr's refusals of an
argument's type; a single-operand 16-bit einsum's rounding."""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as MF

torch = pytest.importorskip("torch")
from torch_agreement import outcome  # noqa: E402
TF = torch.nn.functional


def _same_error(run_mg, run_torch):
    """Both raise the same exception type with the same words."""
    mine, theirs = outcome(run_mg), outcome(run_torch)
    assert theirs[0] != "ok" and mine == theirs, (mine, theirs)


def _bits(t):
    """A 16-bit float tensor's values as their bit patterns (signed zeros told apart)."""
    return t.detach().float().numpy().view(np.int32).tolist()


# ----------------------------------------------------------------------- squeeze's strides
_SQUEEZES = [
    lambda lib: lib.empty(3, 1, 2).mT.narrow(-2, 0, 1).squeeze(-1),
    lambda lib: lib.empty(3, 1, 2).mT.narrow(-2, 0, 1).squeeze((0, 2)),
    lambda lib: lib.empty(3, 1, 2).mT.narrow(-2, 0, 1).squeeze((-1,)),
    lambda lib: lib.empty(3, 1, 2).mT.narrow(-2, 0, 1).squeeze(),
    lambda lib: lib.empty(3, 1, 2).mT.narrow(-2, 0, 1).squeeze(1),
    lambda lib: lib.empty(2, 1, 1, 3)[:, :, :, :1].squeeze(2),
    lambda lib: lib.empty(4, 1, 5).permute(2, 1, 0)[:, :, 1:2].squeeze(0),
    lambda lib: lib.empty(4, 1, 5).permute(2, 1, 0)[:1].squeeze(0),
    lambda lib: lib.tensor(1.).squeeze(0),
    lambda lib: lib.empty(0).squeeze(0),
]


@pytest.mark.parametrize("case", range(len(_SQUEEZES)))
def test_squeeze_keeps_strides(case):
    got, want = _SQUEEZES[case](minigrad), _SQUEEZES[case](torch)
    assert tuple(got.shape) == tuple(want.shape)
    assert got.stride() == want.stride()


def test_squeeze_keeps_strides_in_place_and_gradient():
    for lib in (minigrad, torch):
        lib.manual_seed(0)
    base = torch.randn(3, 1, 2, dtype=torch.float64)
    x_t = base.clone().requires_grad_()
    x_m = minigrad.tensor(base.numpy(), requires_grad=True)
    y_t = x_t.mT.narrow(-2, 0, 1).squeeze(-1)
    y_m = x_m.mT.narrow(-2, 0, 1).squeeze(-1)
    assert y_m.stride() == y_t.stride()
    assert type(y_m.grad_fn).__name__ == type(y_t.grad_fn).__name__
    w = np.arange(3.0).reshape(3, 1)
    (y_t * torch.tensor(w)).sum().backward()
    (y_m * minigrad.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x_m.grad.numpy(), x_t.grad.numpy())
    v_t = torch.empty(3, 1, 2).mT.narrow(-2, 0, 1)
    v_m = minigrad.empty(3, 1, 2).mT.narrow(-2, 0, 1)
    assert v_m.squeeze_(-1).stride() == v_t.squeeze_(-1).stride()


# ------------------------------------------------------------- empty results of add/sub/mul
_EMPTY = [
    lambda lib: lib.zeros(0, 1024).t() * 2,
    lambda lib: lib.zeros(0, 3, 4).permute(2, 0, 1) + 1,
    lambda lib: lib.zeros(0, 3, 4).permute(2, 0, 1) - lib.zeros(4, 1, 3),
    lambda lib: lib.zeros(3, 0).t() + lib.zeros(3, 0).t(),
    lambda lib: lib.zeros(3, 0).t() + lib.zeros(0, 3),
    lambda lib: lib.zeros(2, 0, 3).transpose(0, 2) * 2,
    lambda lib: lib.zeros(2, 0, 3).transpose(0, 2) + lib.zeros(3, 1, 1),
    lambda lib: lib.zeros(2, 0, 3).transpose(0, 2) + lib.zeros(3, 0, 2),
    lambda lib: lib.zeros(0, 1, 3).transpose(0, 2) + 1,
    lambda lib: lib.zeros(1, 0, 3).transpose(0, 2) + 1,
    lambda lib: lib.zeros(0, 0, 3).transpose(0, 2) * 3,
    lambda lib: lib.zeros(4, 0, 3, 2).to(memory_format=lib.channels_last) + 1,
    lambda lib: lib.zeros(4, 3, 0, 2).to(memory_format=lib.channels_last) * 2,
    lambda lib: lib.zeros(4, 3, 0, 2).to(memory_format=lib.channels_last) + lib.zeros(4, 3, 0, 2),
    lambda lib: lib.zeros(5, 0)[::2].t() + 1,
    lambda lib: 2 * lib.zeros(0, 6).t(),
    lambda lib: lib.zeros(0, 6, dtype=lib.float64).t() - 1.5,
    lambda lib: lib.zeros(0, 2) * 2,
    lambda lib: lib.zeros(0, 4).t() / 2,
    lambda lib: lib.zeros(0, 3, 4).permute(2, 0, 1) / lib.zeros(4, 1, 3),
    lambda lib: lib.zeros(0, 4).t() // 2,
    lambda lib: lib.zeros(0, 4).t() % 2,
    lambda lib: lib.zeros(0, 4).t() ** 2,
    lambda lib: lib.zeros(0, 4).t().exp(),
    lambda lib: lib.maximum(lib.zeros(0, 4).t(), lib.zeros(4, 1)),
    lambda lib: lib.atan2(lib.zeros(0, 4).t(), lib.zeros(1)),
    lambda lib: lib.zeros(0, 4).t() > 0,
    lambda lib: lib.zeros(0, 4).t() == lib.zeros(4, 0),
    lambda lib: lib.zeros(0, 3, 4).permute(2, 0, 1) < 0.5,
]


@pytest.mark.parametrize("case", range(len(_EMPTY)))
def test_empty_pointwise_result_layout(case):
    got, want = _EMPTY[case](minigrad), _EMPTY[case](torch)
    assert tuple(got.shape) == tuple(want.shape)
    assert got.stride() == want.stride()
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


# --------------------------------------------------- 16-bit clamp-shaped backward: +0.0 always
_ACTIVATIONS = [
    lambda F, x: F.hardtanh(x),
    lambda F, x: F.hardtanh(x, -0.5, 2.0),
    lambda F, x: F.relu6(x),
    lambda F, x: F.hardsigmoid(x),
    lambda F, x: F.hardshrink(x),
    lambda F, x: F.softshrink(x),
    lambda F, x: F.threshold(x, 0.1, 20.0),
]
_VALUES = [-5.0, -3.0, -1.0, -0.5, 0.0, 0.05, 0.5, 1.0, 3.0, 5.0]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("case", range(len(_ACTIVATIONS)))
@pytest.mark.parametrize("g", [-1.5, 2.0])
def test_clamp_shaped_backward_zero_sign(dtype, case, g):
    x_t = torch.tensor(_VALUES, dtype=getattr(torch, dtype), requires_grad=True)
    x_m = minigrad.tensor(_VALUES, dtype=getattr(minigrad, dtype), requires_grad=True)
    _ACTIVATIONS[case](TF, x_t).backward(torch.full((len(_VALUES),), g,
                                                    dtype=getattr(torch, dtype)))
    _ACTIVATIONS[case](MF, x_m).backward(minigrad.full((len(_VALUES),), g,
                                                       dtype=getattr(minigrad, dtype)))
    assert _bits(x_m.grad) == _bits(x_t.grad)


# -------------------------------------------------------------------- argument-type refusals
@pytest.mark.parametrize("args,kwargs", [((0.5, 3.5), {}), ((0.5,), {}), ((1, 3.5), {}),
                                         ((0,), {"to": 3.5}), ((), {"to": 3.5}),
                                         ((True, 3), {})])
def test_random_refuses_non_int_bounds(args, kwargs):
    _same_error(lambda: minigrad.empty(3).random_(*args, **kwargs),
                lambda: torch.empty(3).random_(*args, **kwargs))


def test_random_still_draws_with_int_bounds():
    t = minigrad.empty(50).random_(2, 5)
    assert set(np.unique(t.numpy()).tolist()) <= {2.0, 3.0, 4.0}


@pytest.mark.parametrize("call", [
    lambda lib, a: lib.linalg.qr(a, None),
    lambda lib, a: lib.linalg.qr(a, mode=None),
    lambda lib, a: lib.linalg.qr(a, 3),
    lambda lib, a: lib.linalg.qr(a, "bogus"),
])
def test_qr_mode_refusal(call):
    a = np.eye(3)
    _same_error(lambda: call(minigrad, minigrad.tensor(a)), lambda: call(torch, torch.tensor(a)))


def test_bernoulli_probability_tensor_out_of_range():
    _same_error(lambda: minigrad.empty(3).bernoulli_(minigrad.tensor(2.)),
                lambda: torch.empty(3).bernoulli_(torch.tensor(2.)))


# ----------------------------------------------------------- single-operand 16-bit einsum
_EINSUMS = [("bae->a", (4, 5, 5)), ("bae->", (4, 5, 5)), ("bae->eab", (4, 5, 5)),
            ("ii->i", (6, 6)), ("ii->", (6, 6)), ("...a->a", (3, 4, 7)), ("ba->ab", (30, 7)),
            ("abc->cb", (9, 8, 7)), ("a->", (500,)), ("iij->j", (5, 5, 9)),
            ("ab->a", (3, 1000))]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("eq,shape", _EINSUMS)
def test_single_operand_16bit_einsum(dtype, eq, shape):
    rs = np.random.RandomState(len(eq) * 31 + len(shape))
    data, seed = rs.randn(*shape) * 10, rs.randn(*shape[:1])
    x_t = torch.tensor(data).to(getattr(torch, dtype)).requires_grad_()
    x_m = minigrad.tensor(data).to(getattr(minigrad, dtype)).requires_grad_()
    y_t, y_m = torch.einsum(eq, x_t), minigrad.einsum(eq, x_m)
    assert _bits(y_m) == _bits(y_t)
    assert y_m.stride() == y_t.stride()
    assert type(y_m.grad_fn).__name__ == type(y_t.grad_fn).__name__
    g = np.random.RandomState(int(abs(seed[0]) * 1000)).randn(*y_t.shape)
    y_t.backward(torch.tensor(g).to(y_t.dtype))
    y_m.backward(minigrad.tensor(g).to(y_m.dtype))
    assert _bits(x_m.grad) == _bits(x_t.grad)
    assert x_m.grad.stride() == x_t.grad.stride()
