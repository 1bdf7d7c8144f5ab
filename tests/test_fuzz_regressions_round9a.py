"""Regression tests for the differential fuzzer's ninth round of finds, part A: losses and
activations (tests/test_fuzz_against_torch.py). Each case runs the same call on minigrad and
on PyTorch and wants the same result (value, dtype, shape, gradient) or the same exception
type, with PyTorch's words where the message is checked."""

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import agree, grads  # noqa: E402

_DTYPES = ["float64", "float32", "float16", "int64", "int32", "uint8", "bool"]
_X = np.array([[0.8, -1.3, 2.2, -0.4], [1.7, 0.2, -2.6, 0.9], [-0.6, 1.1, 0.3, -1.9]])
_Y = np.array([[0.5, -0.7, 1.1, 0.6], [-1.2, 0.9, -0.2, 1.4], [0.1, 2.3, -0.8, -0.5]])


def _t(lib, values, dtype):
    """``values`` in ``dtype``: integers rounded from 3 * values (uint8 from their size), bool
    their signs, as the fuzzer draws them."""
    a = np.asarray(values, dtype=np.float64)
    if dtype == "bool":
        a = a > 0
    elif dtype in ("int64", "int32"):
        a = np.round(3 * a).astype(dtype)
    elif dtype == "uint8":
        a = np.round(3 * np.abs(a)).astype(dtype)
    else:
        a = a.astype(dtype)
    return lib.tensor(a)


def _pairs():
    return [(a, b) for a in _DTYPES for b in _DTYPES]


def _fn(lib):
    return lib.nn.functional


# ---- smooth L1 / Huber: a fused kernel in the promoted dtype, floating only ----------------
@pytest.mark.parametrize("a, b", _pairs())
@pytest.mark.parametrize("beta", [0.5, 0.0])
def test_smooth_l1_loss_dtypes(a, b, beta):
    agree(lambda L: _fn(L).smooth_l1_loss(_t(L, _X, a), _t(L, _Y, b), beta=beta,
                                          reduction="none"))


def test_smooth_l1_loss_refusal_names_the_promoted_type():
    agree(lambda L: _fn(L).smooth_l1_loss(_t(L, _X, "bool"), _t(L, _Y, "int64")),
          match="\"smooth_l1_cpu\" not implemented for 'Long'")
    agree(lambda L: _fn(L).smooth_l1_loss(_t(L, _X, "bool"), _t(L, _Y, "bool")),
          match="\"smooth_l1_cpu\" not implemented for 'Bool'")


@pytest.mark.parametrize("a, b", _pairs())
def test_huber_loss_dtypes(a, b):
    """The loss is written into a tensor like the input: its dtype is the input's."""
    agree(lambda L: _fn(L).huber_loss(_t(L, _X, a), _t(L, _Y, b), reduction="none"))
    agree(lambda L: _fn(L).huber_loss(_t(L, _X, a), _t(L, _Y, b), reduction="sum", delta=2.0))


def test_huber_loss_refusals():
    agree(lambda L: _fn(L).huber_loss(_t(L, _X, "int32"), _t(L, _Y, "uint8")),
          match="\"huber_cpu\" not implemented for 'Int'")
    agree(lambda L: _fn(L).huber_loss(_t(L, _X, "int64"), _t(L, _Y, "float64")),
          match="result type Double can't be cast to the desired output type Long")


@pytest.mark.parametrize("target", ["float32", "float16", "int32", "bool"])
def test_huber_loss_mixed_dtype_gradient(target):
    """PyTorch's Huber backward refuses a target of another dtype than the input's ("Found
    dtype Float but expected Double", pytorch/pytorch#76646, while its smooth L1 backward
    computes): minigrad computes it. The gradient equals PyTorch's with the target converted
    to the input's dtype beforehand (the values are exact in both)."""
    x = minigrad.tensor(_X, requires_grad=True)
    minigrad.nn.functional.huber_loss(x, _t(minigrad, _Y, target)).backward()
    tx = torch.tensor(_X, requires_grad=True)
    torch.nn.functional.huber_loss(tx, _t(torch, _Y, target).double()).backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


# ---- kl_div refuses integer and bool inputs -------------------------------------------------
@pytest.mark.parametrize("a, b", _pairs())
@pytest.mark.parametrize("kwargs", [{"reduction": "sum"}, {"reduction": "batchmean",
                                                           "log_target": True}])
def test_kl_div_dtypes(a, b, kwargs):
    integral = any(d in ("int64", "int32", "uint8", "bool") for d in (a, b))
    agree(lambda L: _fn(L).kl_div(_t(L, -abs(_X), a), _t(L, abs(_Y) / 3, b), **kwargs),
          match="kl_div: Integral inputs not supported." if integral else None)


# ---- soft_margin_loss: -input * target computed in the input's tensor -----------------------
@pytest.mark.parametrize("a, b", _pairs())
def test_soft_margin_loss_dtypes(a, b):
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, a), _t(L, _Y, b), reduction="none"))
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, a), _t(L, _Y, b), reduction="sum"))


def test_soft_margin_loss_unsigned_target_is_not_negated():
    """PyTorch negates the input, not the target (-3 of a uint8 target would wrap to 253)."""
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, "float32"), _t(L, _Y, "uint8"),
                                            reduction="sum"))
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, "int64"), _t(L, _Y, "float64")),
          match="result type Double can't be cast to the desired output type Long")
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, "int64"), _t(L, _Y, "int64")),
          match="result type Float can't be cast to the desired output type Long")
    agree(lambda L: _fn(L).soft_margin_loss(_t(L, _X, "bool"), _t(L, _Y, "float32")),
          match="Negation, the `-` operator, on a bool tensor is not supported")


def test_soft_margin_loss_gradient_with_float_target():
    grads(lambda L, x: _fn(L).soft_margin_loss(x, _t(L, _Y, "float32"), reduction="none"), _X)


# ---- gaussian_nll_loss: var is clamped in place, poisson_nll_loss's Stirling term -----------
@pytest.mark.parametrize("var", ["int64", "int32", "uint8", "bool"])
def test_gaussian_nll_loss_refuses_a_non_float_var(var):
    agree(lambda L: _fn(L).gaussian_nll_loss(_t(L, _X, "float64"), _t(L, _Y, "float64"),
                                             _t(L, abs(_Y) + 0.5, var)),
          match="result type Float can't be cast to the desired output type")


@pytest.mark.parametrize("a", _DTYPES)
def test_gaussian_nll_loss_number_var(a):
    """A number var is var * ones_like(input): float32 for an integer input."""
    agree(lambda L: _fn(L).gaussian_nll_loss(_t(L, _X, a), _t(L, _Y, "int64"), 0.5,
                                             reduction="none"))


# (not a float32 exp(input) in a float64 loss: numpy's float32 exp is an ulp or so off
# PyTorch's, which a float64 comparison sees)
@pytest.mark.parametrize("a, b", [(a, b) for a, b in _pairs()
                                  if b != "float64" or a in ("float64", "float16")])
def test_poisson_nll_loss_full_dtypes(a, b):
    """The Stirling term is added in place (a float16 loss stays float16) and subtracts the
    target (a bool one is refused)."""
    # (torch's Stirling term of an integer target is float32-rounded on some CPUs (MKL on
    # Intel) and not on others: 1e-6 covers both)
    agree(lambda L: _fn(L).poisson_nll_loss(_t(L, _X, a), _t(L, abs(_Y) * 2, b), full=True,
                                            reduction="none"),
          rtol=1e-6 if b in ("int64", "int32", "uint8") else None)


# ---- cosine_embedding_loss: the target's rank decides the inputs' ---------------------------
@pytest.mark.parametrize("shapes", [((5,), (5,), ()), ((5,), (5,), (1,)), ((4, 5), (4, 5), ()),
                                    ((4, 5), (4, 5), (4,)), ((4, 5), (5,), (4,)),
                                    ((4, 5), (4, 5), (4, 1)), ((2, 4, 5), (2, 4, 5), (2, 4))])
def test_cosine_embedding_loss_ranks(shapes):
    s1, s2, st = shapes

    def f(L):
        x1 = L.tensor(np.cos(np.arange(np.prod(s1))).reshape(s1))
        x2 = L.tensor(np.sin(np.arange(np.prod(s2))).reshape(s2))
        return _fn(L).cosine_embedding_loss(x1, x2, L.ones(st))
    agree(f)


def test_cosine_embedding_loss_rank_messages():
    agree(lambda L: _fn(L).cosine_embedding_loss(L.ones(5), L.ones(5), L.ones(1)),
          match="1D target tensor expects 2D input tensors, but found inputs with sizes [5] "
                "and [5].")
    agree(lambda L: _fn(L).cosine_embedding_loss(L.ones(4, 5), L.ones(4, 5), L.ones(())),
          match="0D target tensor expects 1D input tensors")


# ---- glu is floating only; threshold converts its numbers to the element type ---------------
@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("shape, dim", [((3, 4), -1), ((2, 6, 3), 1), ((2, 3), 1)])
def test_glu_dtypes(dtype, shape, dim):
    """Refused after the shape checks: an odd dimension is a RuntimeError for any dtype."""
    agree(lambda L: _fn(L).glu(_t(L, np.cos(np.arange(np.prod(shape))).reshape(shape), dtype),
                               dim))


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
@pytest.mark.parametrize("threshold, value", [(0.3, -2.0), (-0.2, 0.0), (-1.7, -5.9),
                                              (1.7, 5.9), (-1, 7), (-2, 7), (0, -1),
                                              (float("nan"), 1.0), (0.5, 2 ** 40)])
def test_threshold_of_integers(dtype, threshold, value):
    """The numbers are truncated into the element type (-0.2 is 0, -1.7 is -1); a negative
    float does not fit uint8, a negative int wraps into it; NaN fits no integer type."""
    x = np.array([-2.0, -0.4, 0.0, 0.4, 1.0, 84.0])
    agree(lambda L: _fn(L).threshold(_t(L, x, dtype), threshold, value))
    agree(lambda L: _fn(L).threshold_(_t(L, x, dtype), threshold, value))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("threshold, value", [(0.1, 7.0), (1e39, 1.0), (0.1, 1e6),
                                              (float("nan"), 1.0), (0.0, float("inf"))])
def test_threshold_of_floats(dtype, threshold, value):
    """float16 compares in float32 (a threshold past float16's range is fine there, a value
    is not)."""
    x = np.array([0.0999755859375, 0.1, 0.10003662109375, -3.0, 7e4])
    agree(lambda L: _fn(L).threshold(_t(L, x, dtype), threshold, value))


def test_threshold_nan_passes_with_its_gradient():
    grads(lambda L, x: _fn(L).threshold(x, 0.0, 5.0), [float("nan"), -1.0, 0.0, 2.0])


# ---- clamp of bool with two bool tensor bounds: PyTorch's clamp kernel has no Bool ----------
@pytest.mark.parametrize("bounds", ["both", "min", "max", "int min"])
def test_clamp_bool_tensor_bounds(bounds):
    def f(L):
        b = L.tensor([[True, False, True], [False, False, True]])
        lo, hi = L.tensor([False, True, False]), L.tensor([True, True, False])
        if bounds == "both":
            return L.clamp(b, lo, hi)
        if bounds == "min":
            return L.clamp(b, min=lo)
        if bounds == "max":
            return b.clamp_max(hi)
        return L.clamp(b, lo.long(), hi)
    agree(f, match="\"clamp_cpu\" not implemented for 'Bool'" if bounds == "both" else None)


def test_triplet_margin_loss_margin_message():
    agree(lambda L: _fn(L).triplet_margin_loss(L.ones(2, 3), L.ones(2, 3), L.ones(2, 3),
                                               margin=0.0),
          match="margin must be greater than 0, got 0.0")
