"""optim.Muon against torch.optim.Muon: the same steps from the same numbers (PyTorch runs the
Newton-Schulz iteration in bfloat16, which minigrad emulates by rounding each step), the
orthogonalisation itself, state, and PyTorch's refusals."""
import numpy as np
import pytest

import minigrad
from minigrad.optim.muon import _bfloat16, orthogonalize

torch = pytest.importorskip("torch")


def _steps(lib, w0, grads, **kwargs):
    p = lib.nn.Parameter(lib.tensor(w0.copy()))
    opt = lib.optim.Muon([p], lr=0.02, **kwargs)
    for g in grads:
        p.grad = lib.tensor(g.copy())
        opt.step()
    return p.detach().numpy(), opt


@pytest.mark.parametrize("shape", [(6, 4), (3, 8), (64, 32), (96, 160)])
@pytest.mark.parametrize("kwargs", [{}, {"nesterov": False, "weight_decay": 0.0},
                                    {"adjust_lr_fn": "match_rms_adamw", "momentum": 0.9},
                                    {"ns_steps": 2, "ns_coefficients": (2.0, -1.5, 0.5)}])
def test_steps_match_pytorch(shape, kwargs):
    rng = np.random.default_rng(sum(shape))
    w0 = rng.standard_normal(shape).astype(np.float32)
    grads = [rng.standard_normal(shape).astype(np.float32) for _ in range(3)]
    mine, theirs = _steps(minigrad, w0, grads, **kwargs)[0], _steps(torch, w0, grads,
                                                                       **kwargs)[0]
    moved = np.abs(theirs - w0).max()
    # bfloat16 keeps 8 bits: sums of many products, taken in another order (which depends
    # on the CPU's kernels: AMX on recent Intel), may round to the neighbouring bfloat16
    # (0.4%), now and then twice; small matrices agree to the last float32 bit
    if max(shape) <= 8:
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6 * moved)
    else:
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=2e-2 * moved)
        assert np.mean(np.abs(mine - theirs) > 1e-2 * moved) < 1e-3


def test_float64_parameters_and_state_dict():
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((5, 3))
    grads = [rng.standard_normal((5, 3)) for _ in range(2)]
    mine, opt = _steps(minigrad, w0, grads)
    theirs, topt = _steps(torch, w0, grads)
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-7)
    state = opt.state_dict()
    buf = state["state"][0]["momentum_buffer"]
    np.testing.assert_allclose(buf.numpy(), topt.state_dict()["state"][0]["momentum_buffer"]
                               .numpy(), rtol=1e-12)
    assert state["param_groups"][0]["ns_steps"] == 5 and state["param_groups"][0]["nesterov"]


def test_orthogonalize_pulls_singular_values_towards_one():
    rng = np.random.default_rng(3)
    G = rng.standard_normal((40, 24)).astype(np.float32) * 7.0   # singular values 10 to 80
    O = orthogonalize(G, (3.4445, -4.7750, 2.0315), 5, 1e-7)
    assert O.shape == G.shape and O.dtype == np.float32
    s = np.linalg.svd(O, compute_uv=False)
    assert s.min() > 0.6 and s.max() < 1.2
    # the singular vectors are kept: U^T O V is nearly diagonal
    u, _, vt = np.linalg.svd(G, full_matrices=False)
    core = u.T @ O @ vt.T
    assert np.abs(core - np.diag(np.diag(core))).max() < 0.05


def test_bfloat16_rounding_matches_pytorch():
    x = np.array([1.0, 1.00390625, 1.005859375, -3.3e-5, 65504.0, 3.4e38, np.inf, np.nan,
                  1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8], dtype=np.float32)
    theirs = torch.tensor(x).bfloat16().float().numpy()
    np.testing.assert_array_equal(_bfloat16(x), theirs)


@pytest.mark.parametrize("case", [
    lambda L, p: L.optim.Muon([p], lr=-1.0),
    lambda L, p: L.optim.Muon([p], momentum=-0.1),
    lambda L, p: L.optim.Muon([p], weight_decay=-0.1),
    lambda L, p: L.optim.Muon([p], adjust_lr_fn="sqrt"),
    lambda L, p: L.optim.Muon([L.nn.Parameter(L.ones(2, 2, 2))]),
    lambda L, p: L.optim.Muon([L.nn.Parameter(L.ones(3))]),
])
def test_refusals_match_pytorch(case):
    out = []
    for lib in (minigrad, torch):
        try:
            case(lib, lib.nn.Parameter(lib.ones(2, 3)))
            out.append(None)
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    mine, theirs = out
    assert isinstance(theirs, Exception)
    assert type(mine) is type(theirs)
    assert str(mine).replace("minigrad.Size", "torch.Size") == str(theirs)


def test_too_many_newton_schulz_steps_are_refused_at_the_step():
    for lib in (minigrad, torch):
        p = lib.nn.Parameter(lib.ones(2, 3))
        opt = lib.optim.Muon([p], ns_steps=100)
        p.grad = lib.ones(2, 3)
        with pytest.raises(ValueError, match="Number of steps must be less than 100"):
            opt.step()
