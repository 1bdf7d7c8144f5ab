"""A seed gives PyTorch's random numbers, round 2: samplers and kernels beyond the first
comparisons (tests/test_torch_random_streams.py).  Each case seeds both libraries alike, runs
the same code and compares the results bit for bit, or (where PyTorch's vectorised log/exp
round a number a unit differently from numpy's) to a few units in the last place."""
import numpy as np
import pytest
import torch

import minigrad
from minigrad._cpu_stream import CPUStream
from test_torch_random_streams import _numpy, _seeded

LIBS = (torch, minigrad)


def _vec(lib, *values, dtype=None):
    return lib.tensor(list(values), dtype=getattr(lib, dtype) if dtype else None)


EXACT = {
    # PyTorch's Cauchy samples through cauchy_ (a float64 uniform each)
    "Cauchy": lambda L: L.distributions.Cauchy(_vec(L, 0., 1., 2.), _vec(L, 1., 2., 3.)).sample(
        (20,)),
    "Cauchy float64": lambda L: L.distributions.Cauchy(
        _vec(L, 0., 1., dtype="float64"), 2.).rsample((20,)),
    "HalfCauchy": lambda L: L.distributions.HalfCauchy(_vec(L, 1., 2., 3.)).sample((20,)),
    # Gumbel: PyTorch's transform chain of a Uniform(tiny, 1 - eps)
    "Gumbel float64": lambda L: L.distributions.Gumbel(
        L.zeros(3, dtype=L.float64), 1.5).sample((20,)),
    # exponential_ of float64: (-1/lambda) log1p(-u) with the C library's log1p
    "exponential_ float64": lambda L: L.empty(300, dtype=L.float64).exponential_(),
    "exponential_ float64 rate": lambda L: L.empty(300, dtype=L.float64).exponential_(3.0),
    "Exponential float64": lambda L: L.distributions.Exponential(
        _vec(L, 0.2, 3.0, dtype="float64")).sample((50,)),
    # float64 uniform_ with bounds: the kernel's fused multiply-add
    "uniform_ float64 bounds": lambda L: L.empty(300, dtype=L.float64).uniform_(-2, 3),
    "uniform_ float64 symmetric": lambda L: L.empty(100000, dtype=L.float64).uniform_(-1 / 3,
                                                                                  1 / 3),
    "xavier_uniform_ float64": lambda L: L.nn.init.xavier_uniform_(
        L.empty(200, 300, dtype=L.float64)),
    "Transformer float64": lambda L: L.nn.Transformer(8, 2, 1, 1, 16, dtype=L.float64)
    .encoder.layers[0].self_attn.in_proj_weight,
    "uniform_ complex128": lambda L: L.empty(100, dtype=L.complex128).uniform_(-2, 3),
    "init.uniform_ float64": lambda L: L.nn.init.uniform_(L.empty(20, 5, dtype=L.float64),
                                                          -0.123456789, 0.987654321),
    # mean + std z, sigma tan + median: one rounding (fused multiply-adds), the C library's
    # tan and exp
    "normal_ float64 one at a time": lambda L: L.empty(7, dtype=L.float64).normal_(1.3, 0.7),
    "normal_ float64 strided": lambda L: L.empty(40, 4, dtype=L.float64).t().normal_(1.3, 0.7),
    "normal of numbers float64": lambda L: L.normal(1.3, 0.7, (7,), dtype=L.float64),
    # float64 block normals: the C library's log/cos/sin, then fma(z, std, mean)
    "randn float64 many blocks": lambda L: L.randn(20000, dtype=L.float64),
    "normal_ float64 blocks with mean and std": lambda L: L.empty(
        20000, dtype=L.float64).normal_(-0.123456789, 0.987654321),
    "cauchy_ float64": lambda L: L.empty(300, dtype=L.float64).cauchy_(1.3, 3.7),
    "log_normal_ float64": lambda L: L.empty(300, dtype=L.float64).log_normal_(1.3, 0.7),
    # float16 dropout scales in float32 by the unrounded 1 / (1 - p)
    "dropout float16": lambda L: L.nn.functional.dropout(L.ones(40, dtype=L.float16), 0.3),
    # alpha dropout: PyTorch's noise and shift, rounded step by step in the dtype
    "alpha_dropout": lambda L: L.nn.functional.alpha_dropout(
        L.linspace(-2, 2, 60), 0.3, True),
    "feature_alpha_dropout": lambda L: L.nn.functional.feature_alpha_dropout(
        L.linspace(-2, 2, 60).reshape(2, 3, 10), 0.5, True),
    "alpha_dropout float16": lambda L: L.nn.functional.alpha_dropout(
        L.linspace(-2, 2, 60, dtype=L.float16), 0.3, True),
    # rrelu's bounds rounded to the dtype, the slope computed in float64 from them
    "rrelu bounds": lambda L: L.nn.functional.rrelu(L.linspace(-1, 1, 40), 0.1, 0.3,
                                                   training=True),
    # from/to integers take two words from a range of 2^28 on
    "randint 2^28": lambda L: L.randint(0, 2 ** 28, (6,)),
    "randint 2^31": lambda L: L.randint(0, 2 ** 31, (6,)),
    "randint int32 near 2^31": lambda L: L.randint(-7, 2 ** 31 - 8, (6,), dtype=L.int32),
    "randint under 2^28": lambda L: L.randint(0, 2 ** 28 - 1, (6,)),
    "randint_like 2^30": lambda L: L.randint_like(L.ones(6, dtype=L.float64), 2 ** 30),
    "random_ to 2^30": lambda L: L.empty(6, dtype=L.int64).random_(2 ** 30),
    "random_ int32 from None": lambda L: L.empty(30, dtype=L.int32).random_(-5, None),
    "random_ int32 unbounded": lambda L: L.empty(30, dtype=L.int32).random_(),
    "random_ float64 from to": lambda L: L.empty(6, dtype=L.float64).random_(-3, 2 ** 31),
    # dropout's noise is an empty_like of the input: drawn in the input's memory order
    "dropout of a transposed input": lambda L: L.nn.functional.dropout(L.ones(6, 5).t(), 0.4),
    "dropout channels-last": lambda L: L.nn.functional.dropout(
        L.ones(2, 3, 4, 5).to(memory_format=L.channels_last), 0.5),
    "alpha_dropout of a transposed input": lambda L: L.nn.functional.alpha_dropout(
        L.linspace(-2, 2, 30).reshape(6, 5).t(), 0.4, True),
    # torch.bernoulli's result is a new contiguous tensor: draws in row-major order
    "bernoulli of transposed probabilities": lambda L: L.bernoulli(L.full((6, 5), 0.3).t()),
    "bernoulli p of a transposed input": lambda L: L.bernoulli(L.ones(6, 5).t(), 0.6),
    # multinomial without replacement races float64 weights against exponential_ draws
    "multinomial float64": lambda L: L.multinomial(L.linspace(0.1, 1, 200, dtype=L.float64),
                                                   50),
}

CLOSE = {
    # PyTorch's log1p/log of float64 round a unit or so differently from numpy's
    "gumbel_softmax float64": lambda L: L.nn.functional.gumbel_softmax(
        L.linspace(-1, 1, 30, dtype=L.float64).reshape(3, 10), tau=0.5),
    "RelaxedBernoulli float64": lambda L: L.distributions.RelaxedBernoulli(
        L.tensor(0.5, dtype=L.float64), probs=_vec(L, 0.1, 0.5, 0.9, dtype="float64")).sample(
            (20,)),
    "RelaxedOneHotCategorical float64": lambda L: L.distributions.RelaxedOneHotCategorical(
        L.tensor(0.5, dtype=L.float64), probs=_vec(L, 0.1, 0.5, 0.4, dtype="float64")).sample(
            (20,)),
    # Laplace: uniform_(eps - 1, 1), then loc - scale sign(u) log1p(-|u|)
    "Laplace": lambda L: L.distributions.Laplace(_vec(L, 0., 1., 2.), _vec(L, 1., 2., 3.)).sample(
        (20,)),
    "Laplace float64": lambda L: L.distributions.Laplace(
        L.zeros(3, dtype=L.float64), 1.0).sample((20,)),
}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_bit_for_bit(name):
    theirs, ours = _seeded(EXACT[name])
    assert theirs.dtype == ours.dtype and theirs.shape == ours.shape
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", sorted(CLOSE))
def test_to_a_few_units_in_the_last_place(name):
    theirs, ours = _seeded(CLOSE[name])
    assert theirs.dtype == ours.dtype and theirs.shape == ours.shape
    eps = np.finfo(theirs.dtype).eps
    np.testing.assert_allclose(ours, theirs, rtol=4 * eps, atol=eps)


def test_cauchy_rsample_keeps_its_gradient():
    loc = minigrad.tensor([0.5, -1.0], requires_grad=True)
    scale = minigrad.tensor([2.0, 3.0], requires_grad=True)
    minigrad.manual_seed(3)
    sample = minigrad.distributions.Cauchy(loc, scale).rsample((4,))
    sample.sum().backward()
    torch.manual_seed(3)
    eps = torch.empty(4, 2).cauchy_()
    np.testing.assert_array_equal(loc.grad.numpy(), [4.0, 4.0])
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-6)


def test_stream_exponentials_are_exponential_draws():
    torch.manual_seed(5)
    theirs = torch.empty(500, dtype=torch.float64).exponential_().numpy()
    np.testing.assert_array_equal(CPUStream(5).exponentials(500), theirs)


def test_stream_integers_word_width():
    """``wide_from`` picks where two words per number start (PyTorch's from/to kernel: 2^28)."""
    for span in (2 ** 28 - 1, 2 ** 28, 2 ** 31):
        torch.manual_seed(7)
        theirs = torch.randint(0, span, (8,)).numpy()
        np.testing.assert_array_equal(CPUStream(7).integers(8, 0, span, wide_from=1 << 28),
                                      theirs)
