"""Every op of the registry, every sample, checked three ways against oracles that are not minigrad.

1. forward against torch (float64, rtol 1e-6);
2. gradients against torch under one shared random upstream gradient (float64, rtol 1e-6);
3. gradients against central finite differences (``minigrad.testing.gradcheck``), except
   where a sample sits on a kink or a tie (``fd=False``);
4. second derivatives against torch (``torch.autograd.grad(..., create_graph=True)`` twice)
   and against finite differences of the first derivative (``gradgradcheck``); an op marked
   ``second_order=False`` must instead raise a clear error when differentiated twice, and
   one marked ``second_order="finite differences"`` (torch has no double backward for it)
   is checked against finite differences only;

plus a float32 forward-and-gradient comparison with torch (rtol 1e-4) on the first samples
of every op.  The samples live in ``minigrad/testing/registry_*.py`` (``registry_core.py``,
``registry_reduce_move.py``, ``registry_nn.py``...); an entry whose function does not exist
yet is skipped with the reason.
"""
import os

import numpy as np
import pytest

pytest.importorskip("torch")

from minigrad.testing import registry  # noqa: E402

TORCH_RTOL, TORCH_ATOL = 1e-6, 1e-9
F32_RTOL, F32_ATOL = 1e-4, 1e-5
F32_SAMPLES_PER_OP = 3
# finite differences of a first derivative cost two create_graph backward passes per input
# element: the default run checks the first samples of each op, --runslow all of them
_SLOW = os.environ.get("MINIGRAD_SLOW", "") not in ("", "0")    # conftest: --runslow sets it
SECOND_ORDER_FD_SAMPLES = None if _SLOW else 2
# Of an op whose second derivatives torch also has, every sample is compared with torch's
# (test_second_derivatives_match_torch), and finite differences check one of its first two
# samples in the default run, the others being ``@slow`` (they took 60% of this file's time;
# the two-layer bidirectional recurrent samples alone over a minute). That is the first
# sample, or the second for these ops, whose first sample is the costly one:
SECOND_ORDER_FD_SECOND_SAMPLE = {"lp_pool3d", "AdaptiveLogSoftmaxWithLoss", "svd_lowrank"}
# An op checked against finite differences only (second_order="finite differences") keeps
# both of its first two samples in the default run.


def _second_order_fd_sample(info, samples):
    """The index of the sample whose finite-difference second derivatives the default run
    checks, for an op that torch differentiates twice (None where none of the first two
    samples suits finite differences)."""
    fits = [k for k, s in enumerate(samples[:2]) if info.finite_differences_apply(s)]
    if info.name in SECOND_ORDER_FD_SECOND_SAMPLE and 1 in fits:
        return 1
    return fits[0] if fits else None


def _second_order_fd_is_slow(info, k, samples):
    return info.second_order is True and k != _second_order_fd_sample(info, samples)


def _cases(dtype=np.float64, limit=None, fd_only=False, slow=None):
    """``slow(info, k, samples)``: whether sample k is marked ``@slow``."""
    cases = []
    for info in registry.entries():
        reason = info.skip_reason()
        if reason:
            cases.append(pytest.param(info, None, id=f"{info.name}-skipped",
                                      marks=pytest.mark.skip(reason=reason)))
            continue
        if dtype != np.float64 and not info.float32:
            continue
        samples = list(info.samples(dtype=dtype))[:limit]
        for k, sample in enumerate(samples):
            if fd_only and not info.finite_differences_apply(sample):
                continue
            marks = [pytest.mark.slow] if slow is not None and slow(info, k, samples) else []
            cases.append(pytest.param(info, sample, id=f"{info.name}-{k}-{sample.desc}",
                                      marks=marks))
    return cases


@pytest.mark.parametrize("info,sample", _cases())
def test_forward_matches_torch(info, sample):
    info.compare(sample, grad=False, rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("info,sample", _cases())
def test_gradients_match_torch(info, sample):
    if not any(sample.requires_grad):
        pytest.skip("no input requires grad in this sample")
    info.compare(sample, grad=True, rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("info,sample", _cases(fd_only=True))
def test_gradients_match_finite_differences(info, sample):
    report, _, _ = info.gradcheck(sample)
    assert report is None, report


@pytest.mark.parametrize("info,sample", _cases())
def test_second_derivatives_match_torch(info, sample):
    if not any(sample.requires_grad):
        pytest.skip("no input requires grad in this sample")
    if info.second_order == "finite differences":
        pytest.skip(f"torch cannot differentiate {info.name}'s backward; minigrad's second "
                    f"derivatives are checked against finite differences")
    if not info.second_order:
        with pytest.raises(RuntimeError, match="not implemented|twice"):
            info.compare_second_order(sample)
        return
    info.compare_second_order(sample, rtol=TORCH_RTOL, atol=TORCH_ATOL)


@pytest.mark.parametrize("info,sample", _cases(fd_only=True, limit=SECOND_ORDER_FD_SAMPLES,
                                               slow=_second_order_fd_is_slow))
def test_second_derivatives_match_finite_differences(info, sample):
    if not info.second_order:
        pytest.skip(f"{info.name} has first-order gradients only")
    report = info.gradgradcheck(sample)
    assert report is None, report


@pytest.mark.parametrize("info,sample", _cases(np.float32, limit=F32_SAMPLES_PER_OP))
def test_float32_matches_torch(info, sample):
    info.compare(sample, grad=any(sample.requires_grad), rtol=F32_RTOL, atol=F32_ATOL)


# ----------------------------------------------------------------------------------------------
# The registry itself
# ----------------------------------------------------------------------------------------------
CORE_OPS = [
    "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sqrt", "abs", "sin",
    "cos", "tanh", "sigmoid", "relu", "leaky_relu", "maximum", "minimum", "clamp", "where",
    "sum", "mean", "max", "min", "prod", "var", "std", "max_dim", "amax", "softmax",
    "log_softmax", "logsumexp", "reshape", "view", "flatten", "squeeze", "unsqueeze",
    "transpose", "permute", "T", "expand", "repeat", "contiguous", "cat", "stack", "split",
    "chunk", "pad", "getitem", "setitem", "linear", "cross_entropy", "nll_loss", "mse_loss",
    "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "dropout",
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "batch_norm",
]


def test_registry_lists_every_core_op():
    missing = sorted(set(CORE_OPS) - set(registry.names()))
    assert not missing, f"ops without a registry entry: {missing}"


def test_every_entry_has_samples_and_fd_coverage():
    for info in registry.entries():
        samples = list(info.samples())
        assert samples, f"{info.name} has no samples"
        if info.fd:
            assert any(info.finite_differences_apply(s) for s in samples), \
                f"{info.name}: no sample is checked against finite differences"


def test_every_op_keeps_a_second_order_fd_check_by_default():
    """The samples whose finite-difference second derivatives wait for --runslow leave every
    op that torch differentiates twice with one such check in the default run, and the ops
    named in SECOND_ORDER_FD_SECOND_SAMPLE have a second sample that suits it."""
    for name in SECOND_ORDER_FD_SECOND_SAMPLE:
        info = registry.get(name)
        samples = list(info.samples())
        assert info.second_order is True and len(samples) > 1, name
        assert info.finite_differences_apply(samples[1]), name
    for info in registry.entries():
        if info.skip_reason() or info.second_order is not True:
            continue
        samples = list(info.samples())[:2]
        if any(info.finite_differences_apply(s) for s in samples):
            kept = [k for k, s in enumerate(samples) if info.finite_differences_apply(s)
                    and not _second_order_fd_is_slow(info, k, samples)]
            assert len(kept) == 1, (info.name, kept)


def test_samples_are_reproducible_and_cast():
    a = registry.samples("conv2d", seed=3)
    b = registry.samples("conv2d", seed=3)
    c = registry.samples("conv2d", seed=4)
    assert all(np.array_equal(x, y) for s, t in zip(a, b) for x, y in zip(s.inputs, t.inputs))
    assert not np.array_equal(a[0].inputs[0], c[0].inputs[0])
    f32 = registry.samples("cross_entropy", dtype=np.float32)
    assert f32[0].inputs[0].dtype == np.float32
    assert f32[0].inputs[1].dtype == np.int64        # class indices keep their dtype


def test_unknown_op_name_suggests_close_ones():
    with pytest.raises(KeyError, match="conv2d"):
        registry.get("conv2")
