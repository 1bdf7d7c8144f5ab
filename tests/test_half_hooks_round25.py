"""float16 / bfloat16 batch_norm and addbmm through their public functions, as PyTorch's CPU
kernels round them (round 25; the kernels: ``_batch_norm_16bit``, ``_addbmm_16bit``).

Reached (and the tolerances below): batch_norm 0 ulps in
training and evaluation but 1 for the input's and weight's gradients (a float32 sum in
another order); addbmm 0 ulps for the value (1 in float16) and the input's gradient, the
batches' gradients within 1 ulp (bfloat16) or 3 (float16).
"""
import os
import sys

import numpy as np
import pytest
import torch

import minigrad

sys.path.insert(0, os.path.dirname(__file__))
from test_half_grads_round25 import (DTYPES, IDS, _compare, _pair,  # noqa: E402
                                     batch_norm_inputs)


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("shape", [(8, 3), (4, 5, 7), (2, 3, 5, 6), (1, 6, 130)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [False, True])
def test_batch_norm(tdt, mdt, shape, training, affine):
    x, w, b, rm, rv = batch_norm_inputs(tdt, mdt, shape, training, affine)
    t_out = torch.nn.functional.batch_norm(x[0], rm[0], rv[0], w[0], b[0], training)
    m_out = minigrad.nn.functional.batch_norm(x[1], rm[1], rv[1], w[1], b[1], training)
    assert type(m_out.grad_fn).__name__ == "NativeBatchNormBackward0"
    _compare(t_out, m_out, [x[0], w[0], b[0]], [x[1], w[1], b[1]], tdt, mdt, 9, 0, [1, 1, 0])
    # the running statistics as before (within the 16-bit dtype's precision)
    for mine, theirs in ((rm[1], rm[0]), (rv[1], rv[0])):
        np.testing.assert_allclose(mine.float().numpy(), theirs.float().numpy(), rtol=2e-2,
                                   atol=2e-2)


@pytest.mark.parametrize("tdt, mdt", DTYPES, ids=IDS)
@pytest.mark.parametrize("sizes", [(3, 4, 5, 6), (2, 7, 33, 9), (4, 16, 64, 8)])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, 1.5), (0, 2)])
def test_addbmm(tdt, mdt, sizes, beta, alpha):
    batches, n, k, m = sizes
    rng = np.random.default_rng(sum(sizes) + 1)
    inp = _pair(rng.standard_normal((n, m)), tdt, mdt)
    b1 = _pair(rng.standard_normal((batches, n, k)), tdt, mdt)
    b2 = _pair(rng.standard_normal((batches, k, m)), tdt, mdt)
    t_out = torch.addbmm(inp[0], b1[0], b2[0], beta=beta, alpha=alpha)
    m_out = minigrad.addbmm(inp[1], b1[1], b2[1], beta=beta, alpha=alpha)
    assert type(m_out.grad_fn).__name__ == "AddbmmBackward0"
    half = tdt == torch.float16
    _compare(t_out, m_out, [inp[0], b1[0], b2[0]], [inp[1], b1[1], b2[1]], tdt, mdt, 10,
             1 if half else 0, [0, 3 if half else 1, 3 if half else 1])
