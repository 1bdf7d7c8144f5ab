"""Round 8, part B, against torch: Tensor.bernoulli, torch.binomial, empty_strided,
Tensor.new_empty_strided, empty_permuted, pin_memory/is_pinned and share_memory_/is_shared.
Random values come from minigrad's generator, so they are checked statistically; shapes,
dtypes, strides and errors are compared with torch."""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")


def _summary(lib, call):
    """What a call gives, in library-neutral terms: layout of a tensor result, a plain
    value, or the exception type and message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = call(lib)
    except Exception as e:  # noqa: BLE001 - comparing whatever each library raises
        first_line = str(e).replace("minigrad", "torch").split("\n")[0]
        return type(e).__name__, first_line.split("  (Could this")[0]
    if hasattr(r, "stride"):
        strides = tuple(r.stride()) if r.numel() else None  # empty strides: see report
        return "ok", tuple(r.shape), strides, str(r.dtype).split(".")[-1], r.requires_grad
    return "ok", r


CASES = {
    "bern_probs": lambda L: L.rand(3).bernoulli(),
    "bern_p": lambda L: L.rand(3).bernoulli(0.3),
    "bern_p_kw": lambda L: L.rand(2, 3).bernoulli(p=1.0),
    "bern_p_big": lambda L: L.rand(3).bernoulli(p=1.5),
    "bern_fn_p_big": lambda L: L.bernoulli(L.rand(3), 1.5),
    "bern_fn_p_neg": lambda L: L.bernoulli(L.rand(3), -0.1),
    "bern_probs_big": lambda L: L.tensor([0.1, 2.0, 0.3]).bernoulli(),
    "bern_int_probs": lambda L: L.tensor([1, 0, 1]).bernoulli(),
    "bern_int_p": lambda L: L.tensor([1, 0, 1]).bernoulli(0.5),
    "bern_bool": lambda L: L.tensor([True, False]).bernoulli(),
    "bern_f64": lambda L: L.rand(2, dtype=L.float64).bernoulli(0.5),
    "bern_view": lambda L: L.rand(2, 3)[:, 1].bernoulli(),
    "bern_0d": lambda L: L.tensor(0.5).bernoulli(),
    "bern_ones": lambda L: L.ones(4).bernoulli().tolist(),
    "bern_zero_p": lambda L: L.ones(4).bernoulli(0.0).tolist(),
    "bern_tensor_p": lambda L: L.rand(3).bernoulli(L.rand(3)),
    "binom": lambda L: L.binomial(L.tensor([5.0, 10.0]), L.tensor([0.5, 0.2])),
    "binom_int": lambda L: L.binomial(L.tensor([5, 10]), L.tensor([0.5, 0.2])),
    "binom_mixed": lambda L: L.binomial(L.tensor([5.0, 10.0], dtype=L.float64),
                                        L.tensor([0.5, 0.2])),
    "binom_float_prob": lambda L: L.binomial(L.tensor([5.0, 10.0]), 0.5),
    "binom_bcast": lambda L: L.binomial(L.tensor([5.0, 10.0], dtype=L.float64),
                                        L.tensor(0.5, dtype=L.float64)),
    "binom_empty": lambda L: L.binomial(L.empty(0), L.empty(0)),
    "binom_0d": lambda L: L.binomial(L.tensor(3.0), L.tensor(0.5)),
    "binom_half": lambda L: L.binomial(L.tensor([5.0], dtype=L.float16),
                                       L.tensor([0.5], dtype=L.float16)),
    "binom_certain": lambda L: L.binomial(L.tensor([5.0, 10.0]), L.tensor([0.0, 1.0])).tolist(),
    "binom_no_trials": lambda L: L.binomial(L.tensor([0.0, 0.0]), L.tensor([0.5, 0.5])).tolist(),
    "strided": lambda L: L.empty_strided((2, 3), (1, 2)),
    "strided_overlap": lambda L: L.empty_strided((2, 3), (0, 1), dtype=L.int32),
    "strided_0d": lambda L: L.empty_strided([], []),
    "strided_grad": lambda L: L.empty_strided((2, 3), (3, 1), requires_grad=True),
    "strided_f64": lambda L: L.empty_strided((2, 3, 4), (1, 2, 6), dtype=L.float64),
    "strided_ndim": lambda L: L.empty_strided((2, 3), (3,)),
    "strided_neg_size": lambda L: L.empty_strided((2, -3), (3, 1)),
    "strided_neg_stride": lambda L: L.empty_strided((2, 3), (3, -1)),
    "strided_int_grad": lambda L: L.empty_strided((2, 3), (3, 1), dtype=L.int64,
                                                  requires_grad=True),
    "strided_int_size": lambda L: L.empty_strided(2, 3),
    "strided_pinned": lambda L: L.empty_strided((2, 3), (3, 1), pin_memory=True),
    "new_strided": lambda L: L.zeros(2, dtype=L.float64).new_empty_strided((2, 3), (1, 2)),
    "new_strided_dtype": lambda L: L.zeros(2).new_empty_strided((2, 3), (1, 2), dtype=L.int16),
    "permuted": lambda L: L.empty_permuted((2, 3, 4), (0, 2, 1)),
    "permuted_cl": lambda L: L.empty_permuted((2, 3, 4, 5), (0, 2, 3, 1)).is_contiguous(
        memory_format=L.channels_last),
    "permuted_0d": lambda L: L.empty_permuted([], []),
    "permuted_grad": lambda L: L.empty_permuted((2, 3), (1, 0), dtype=L.float64,
                                                requires_grad=True),
    "permuted_len": lambda L: L.empty_permuted((2, 3, 4), (0, 2)),
    "permuted_dup": lambda L: L.empty_permuted((2, 3, 4), (0, 2, 2)),
    "permuted_range": lambda L: L.empty_permuted((2, 3, 4), (0, 2, 3)),
    "pin_memory": lambda L: L.arange(3.0).pin_memory(),
    "is_pinned": lambda L: L.arange(3.0).is_pinned(),
    "is_shared_fresh": lambda L: L.arange(3.0).is_shared(),
    "share": lambda L: (lambda a: (a.share_memory_() is a, a.is_shared(), a[1:].is_shared(),
                                   a.tolist()))(L.arange(4.0)),
    "share_grad": lambda L: (lambda a: (a.share_memory_() is a, a.is_shared(),
                                        a.requires_grad))(L.arange(3.0, requires_grad=True)),
    "share_empty": lambda L: (lambda a: (a.share_memory_().is_shared(), tuple(a.shape)))(
        L.empty(0, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layout_dtype_and_errors_match_torch(name):
    assert _summary(minigrad, CASES[name]) == _summary(torch, CASES[name])


def test_shared_memory_keeps_values_and_is_written_through():
    a = minigrad.arange(6.0).reshape(2, 3)
    a.share_memory_()
    a.add_(1)
    b = torch.arange(6.0).reshape(2, 3).share_memory_().add_(1)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert a.is_shared() and a.t().is_shared() and not (a + 1).is_shared()


def test_bernoulli_statistics_and_generator():
    minigrad.manual_seed(0)
    p = minigrad.rand(200_000, dtype=minigrad.float64)
    draws = p.bernoulli().numpy()
    assert set(np.unique(draws)) == {0.0, 1.0}
    assert abs(draws.mean() - p.numpy().mean()) < 5e-3
    # draws follow their own probability: high-p entries are mostly ones
    assert draws[p.numpy() > 0.9].mean() > 0.93 and draws[p.numpy() < 0.1].mean() < 0.07
    assert abs(minigrad.zeros(200_000).bernoulli(0.3).numpy().mean() - 0.3) < 5e-3
    first = p[:50].bernoulli(generator=minigrad.Generator().manual_seed(1))
    again = p[:50].bernoulli(generator=minigrad.Generator().manual_seed(1))
    assert minigrad.equal(first, again)
    assert not p.requires_grad and p.bernoulli() is not p


def test_binomial_statistics_and_generator():
    minigrad.manual_seed(0)
    count = minigrad.full((200_000,), 20.0)
    prob = minigrad.full((200_000,), 0.3)
    draws = minigrad.binomial(count, prob).numpy()
    assert draws.dtype == np.float32 and draws.min() >= 0 and draws.max() <= 20
    assert np.all(draws == np.floor(draws))
    assert abs(draws.mean() - 6.0) < 0.03 and abs(draws.var() - 4.2) < 0.1
    g1, g2 = minigrad.Generator().manual_seed(3), minigrad.Generator().manual_seed(3)
    assert minigrad.equal(minigrad.binomial(count[:20], prob[:20], generator=g1),
                          minigrad.binomial(count[:20], prob[:20], generator=g2))
    nan = minigrad.binomial(minigrad.tensor([float("nan"), 4.0]),
                            minigrad.tensor([0.5, float("nan")]))
    assert np.isnan(nan.numpy()).all()
    # (torch itself never returns for a NaN count, so only a NaN prob is compared)
    theirs = torch.binomial(torch.tensor([4.0, 4.0]), torch.tensor([float("nan"), 1.0]))
    ours = minigrad.binomial(minigrad.tensor([4.0, 4.0]), minigrad.tensor([float("nan"), 1.0]))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_strided_factories_can_be_written_and_read():
    t = minigrad.empty_strided((2, 3), (1, 2))
    t.copy_(minigrad.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(t.numpy(), np.arange(6.0).reshape(2, 3))
    assert t.stride() == torch.empty_strided((2, 3), (1, 2)).stride()
    p = minigrad.empty_permuted((2, 3, 4), (2, 0, 1))
    assert p.stride() == torch.empty_permuted((2, 3, 4), (2, 0, 1)).stride()
