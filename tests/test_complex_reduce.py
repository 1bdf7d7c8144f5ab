"""Complex tensors in reductions, statistics, indexing and shape ops: values and gradients
against torch, and the refusals where torch has no complex version (ordering ops)."""
import numpy as np
import pytest
import torch

import minigrad

Z = np.array([[1 + 2j, 3 - 1j, -2 + 0.5j, 0.3 - 0.7j],
              [0.5 + 1j, 2 + 2j, -1 - 1j, 1.5 + 0.2j]])


def _both(f, z=Z):
    """f on torch and on minigrad (complex128 leaves): the outputs, and the gradients of the
    real loss Re(sum(out * w)) with fixed (complex, for a complex out) weights w."""
    results = []
    for lib in (torch, minigrad):
        x = lib.tensor(z, requires_grad=True)
        out = f(lib, x)
        weights = lib.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(tuple(out.shape)) *
                             (1 - 0.5j if out.is_complex() else 1))
        loss = (out * weights).sum()
        loss = loss.real if loss.is_complex() else loss
        loss.backward()
        results.append((out.detach().numpy(), x.grad.numpy()))
    (to, tg), (mo, mg) = results
    assert mo.dtype == to.dtype
    np.testing.assert_allclose(mo, to, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(mg, tg, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, f", [
    ("mean", lambda L, x: x.mean(1)),
    ("prod", lambda L, x: x.prod(1)),
    ("prod_all", lambda L, x: x.prod()),
    ("cumprod", lambda L, x: x.cumprod(1)),
    ("cumsum", lambda L, x: x.cumsum(0)),
    ("var", lambda L, x: x.var(1)),
    ("std", lambda L, x: x.std()),
    ("logsumexp", lambda L, x: L.logsumexp(x, 1)),
    ("cov", lambda L, x: L.cov(x)),
    ("corrcoef", lambda L, x: L.corrcoef(x)),
    ("gather", lambda L, x: L.gather(x, 1, L.tensor([[0, 0, 3], [2, 1, 1]]))),
    ("index_select", lambda L, x: L.index_select(x, 1, L.tensor([3, 0, 3]))),
    ("index_add", lambda L, x: L.index_add(x, 0, L.tensor([1, 1]), x * 2)),
    ("scatter_add", lambda L, x: L.scatter_add(x, 1, L.tensor([[0, 0], [3, 3]]), x[:, 1:3])),
    ("masked_select", lambda L, x: L.masked_select(x, x.real > 0.4)),
    ("roll", lambda L, x: L.roll(x, 1, 1)),
    ("pad_reflect", lambda L, x: L.nn.functional.pad(x[None], (2, 1), mode="reflect")),
    ("pad_circular", lambda L, x: L.nn.functional.pad(x[None], (1, 2), mode="circular")),
    ("repeat_interleave", lambda L, x: L.repeat_interleave(x, 2, 1)),
    ("masked_mean", lambda L, x: L.masked.mean(x, 1, mask=x.real > 0)),
    ("masked_var", lambda L, x: L.masked.var(x, 1, mask=x.imag > -0.8)),
    ("masked_prod", lambda L, x: L.masked.prod(x, 1, mask=x.real > 0)),
    ("rms_norm", lambda L, x: L.nn.functional.rms_norm(x, (4,))),
])
def test_against_torch(name, f):
    _both(f)


def test_prod_with_zero():
    z = Z.copy()
    z[0, 1] = 0
    _both(lambda L, x: x.prod(1), z)
    _both(lambda L, x: x.cumprod(1), z)


def test_index_fill_complex_value():
    for lib in (torch, minigrad):
        x = lib.tensor(Z)
        out = lib.index_fill(x, 1, lib.tensor([0, 2]), 2 - 3j).numpy()
        if lib is torch:
            want = out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(RuntimeError, match="Converting complex Scalar"):
        minigrad.index_fill(minigrad.ones(2), 0, minigrad.tensor([0]), 1j)


@pytest.mark.parametrize("name, f", [
    ("sort", lambda L, x: L.sort(x, 1)),
    ("argsort", lambda L, x: L.argsort(x, 1)),
    ("msort", lambda L, x: L.msort(x)),
    ("topk", lambda L, x: L.topk(x, 2)),
    ("argmax", lambda L, x: L.argmax(x)),
    ("argmin", lambda L, x: L.argmin(x, 1)),
    ("nansum", lambda L, x: L.nansum(x)),
    ("nanmean", lambda L, x: L.nanmean(x)),
    ("unique", lambda L, x: L.unique(x)),
    ("searchsorted", lambda L, x: L.searchsorted(x, x)),
    ("embedding", lambda L, x: L.nn.functional.embedding(L.tensor([0]), x)),
])
def test_refused_like_torch(name, f):
    errors = []
    for lib in (torch, minigrad):
        with pytest.raises((RuntimeError, NotImplementedError)) as info:
            f(lib, lib.tensor(Z, requires_grad=True))
        errors.append((info.type, str(info.value)))
    # the same type, torch's words (minigrad may add where complex tensors are supported)
    assert errors[1][0] == errors[0][0] and errors[1][1].startswith(errors[0][1])


@pytest.mark.parametrize("name, f", [
    ("isin", lambda L, x: L.isin(x, x)),
    ("embedding_bag", lambda L, x: L.nn.functional.embedding_bag(L.tensor([0, 1]), x,
                                                                 L.tensor([0]))),
])
def test_refused_like_torch_without_grad(name, f):
    errors = []
    for lib in (torch, minigrad):
        with pytest.raises(RuntimeError) as info:
            f(lib, lib.tensor(Z))
        errors.append(str(info.value))
    assert errors[1] == errors[0]
