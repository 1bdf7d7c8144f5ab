"""nn.utils.parametrizations.orthogonal against torch: the weight at registration, the state
dict, the weight and the gradient after the unconstrained tensor moves, for every map, with
and without the trivialization, square, tall, wide and batched weights."""
import numpy as np
import pytest

import minigrad
from minigrad.nn.utils.parametrizations import orthogonal

torch = pytest.importorskip("torch")
from torch.nn.utils.parametrizations import orthogonal as torch_orthogonal  # noqa: E402

MAPS = [None, "matrix_exp", "cayley", "householder"]


def _run(lib, orth, w, kwargs, base=None):
    """Register, (optionally) impose ``base``, move the original, differentiate."""
    m = lib.nn.Module()
    m.weight = lib.nn.Parameter(lib.tensor(w.copy()))
    orth(m, **kwargs)
    at_start = {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}
    weight0 = m.weight.detach().numpy().copy()
    if base is not None:
        with lib.no_grad():
            m.parametrizations.weight[0].base.copy_(lib.tensor(base))
    with lib.no_grad():
        step = np.linspace(-0.3, 0.4, w.size).reshape(w.shape)
        # off the diagonal: householder reads the diagonal's integer part as column signs
        step = step * (1 - np.eye(*w.shape[-2:]))
        m.parametrizations.weight.original.add_(lib.tensor(step))
    W = m.weight
    (W * lib.tensor(np.cos(np.arange(w.size)).reshape(w.shape))).sum().backward()
    return at_start, weight0, W.detach().numpy(), m.parametrizations.weight.original.grad.numpy()


@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (5, 3), (3, 5), (6, 2)])
@pytest.mark.parametrize("trivial", [True, False])
@pytest.mark.parametrize("orthogonal_map", MAPS)
def test_orthogonal_matches_torch(shape, trivial, orthogonal_map):
    w = np.random.default_rng(sum(shape)).standard_normal(shape)
    kwargs = {"orthogonal_map": orthogonal_map, "use_trivialization": trivial}
    ours = _run(minigrad, orthogonal, w, kwargs)
    # a rectangular weight's base is completed by any orthonormal basis (torch draws one at
    # random): impose minigrad's on torch's side, after checking the part that is determined
    base = ours[0].get("parametrizations.weight.0.base")
    theirs = _run(torch, torch_orthogonal, w, kwargs, base=base)
    assert sorted(ours[0]) == sorted(theirs[0])
    for key in ours[0]:
        a, b = ours[0][key], theirs[0][key]
        if key.endswith("base"):
            k = min(shape[-2:])
            a, b = a[..., :k], b[..., :k]
        np.testing.assert_allclose(a, b, atol=1e-12, err_msg=key)
    np.testing.assert_allclose(ours[1], theirs[1], atol=1e-12)      # weight at registration
    np.testing.assert_allclose(ours[2], theirs[2], atol=1e-12)      # after the step
    np.testing.assert_allclose(ours[3], theirs[3], atol=1e-11)      # gradient
    W = ours[2] if shape[-2] >= shape[-1] else np.swapaxes(ours[2], -1, -2)
    np.testing.assert_allclose(np.swapaxes(W, -1, -2) @ W, np.broadcast_to(
        np.eye(W.shape[-1]), W.shape[:-2] + (W.shape[-1],) * 2), atol=1e-12)


def test_orthogonal_errors_like_torch():
    for lib, orth in ((minigrad, orthogonal), (torch, torch_orthogonal)):
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
            orth(lib.nn.Linear(3, 3), "bias")
        with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
            orth(lib.nn.Linear(3, 3), orthogonal_map="qr")
        m = orth(lib.nn.Linear(3, 3), use_trivialization=False)
        with pytest.raises(NotImplementedError, match="not possible to assign"):
            m.weight = lib.eye(3)
    m = orthogonal(minigrad.nn.Linear(4, 3))
    m.weight = minigrad.randn(3, 4)                    # assigning re-orthonormalises
    np.testing.assert_allclose((m.weight @ m.weight.T).detach().numpy(), np.eye(3), atol=1e-6)
