"""minigrad.masked against torch.masked: every function on a mask with fully masked-out
slices (identity / NaN results), several dims, keepdim, dtype, broadcast masks, integer
inputs, 0-d and empty inputs, and gradients."""
import functools
import math
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.masked as masked

torch = pytest.importorskip("torch")
from torch_agreement import same_tensor  # noqa: E402

# dtype, shape and values within rtol 1e-12 (or the call's), atol 1e-14, NaN where NaN
_check = functools.partial(same_tensor, rtol=1e-12, atol=1e-14)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5))
    m = rng.random((3, 4, 5)) > 0.5
    m[0, 1, :] = False           # a fully masked row along the last dim
    m[1, :, 2] = False           # a fully masked column along dim 1
    return x, m


def _call(lib_masked, name, x, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(lib_masked, name)(x, *args, **kwargs)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "prod", "logsumexp", "norm",
                                  "var", "std"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 2), True), (-1, True)])
@pytest.mark.parametrize("use_mask", [True, False])
def test_reductions(name, dim, keepdim, use_mask):
    if name == "logsumexp" and dim is None:
        pytest.skip("torch.masked.logsumexp needs a dim")
    x, m = _data()
    pre = (2.0,) if name == "norm" else ()
    tkw = {"mask": torch.from_numpy(m)} if use_mask else {}
    okw = {"mask": minigrad.tensor(m)} if use_mask else {}
    theirs = _call(torch.masked, name, torch.from_numpy(x), *pre, dim, keepdim=keepdim, **tkw)
    ours = _call(masked, name, minigrad.tensor(x), *pre, dim, keepdim=keepdim, **okw)
    _check(ours, theirs)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), (2, True)])
def test_argmax_argmin_return_input_dtype(name, dim, keepdim):
    x, m = _data()
    theirs = _call(torch.masked, name, torch.from_numpy(x), dim, keepdim=keepdim,
                   mask=torch.from_numpy(m))
    ours = _call(masked, name, minigrad.tensor(x), dim, keepdim=keepdim, mask=minigrad.tensor(m))
    _check(ours, theirs)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_scans_and_softmaxes(name, dim):
    x, m = _data()
    theirs = _call(torch.masked, name, torch.from_numpy(x), dim, mask=torch.from_numpy(m))
    ours = _call(masked, name, minigrad.tensor(x), dim, mask=minigrad.tensor(m))
    _check(ours, theirs)


def test_median_norm_orders_normalize_logaddexp_and_var_corrections():
    x, m = _data()
    tx, tm, ox, om = torch.from_numpy(x), torch.from_numpy(m), minigrad.tensor(x), \
        minigrad.tensor(m)
    for dim in (0, 2, -1):
        _check(masked.median(ox, dim, mask=om), torch.masked.median(tx, dim, mask=tm))
    _check(masked.median(ox, mask=om), torch.masked.median(tx, mask=tm))
    for ord in (1.0, 2.0, 3.0, math.inf, -math.inf, 0.5):
        _check(masked.norm(ox, ord, 1, mask=om), torch.masked.norm(tx, ord, 1, mask=tm))
        _check(masked.normalize(ox, ord, 1, mask=om), torch.masked.normalize(tx, ord, 1, mask=tm))
    _check(masked.logaddexp(ox, ox * 2, input_mask=om, other_mask=minigrad.tensor(~m)),
           torch.masked.logaddexp(tx, tx * 2, input_mask=tm, other_mask=~tm))
    for c in (0, 1, 2, 3, 6):     # more correction than kept elements: inf or NaN, as in torch
        _check(_call(masked, "var", ox, 1, correction=c, mask=om),
               _call(torch.masked, "var", tx, 1, correction=c, mask=tm))
    _check(masked.std(ox, 1, unbiased=False, mask=om), torch.masked.std(tx, 1, unbiased=False,
                                                                         mask=tm))


def test_integer_inputs_dtype_broadcast_mask_0d_and_empty():
    xi, mi = torch.tensor([[1, 2], [3, 4]]), torch.tensor([[True, False], [False, False]])
    for name in ("sum", "amax", "amin", "prod"):   # fully masked int rows: the identities
        _check(getattr(masked, name)(minigrad.tensor(xi.numpy()), 1,
                                     mask=minigrad.tensor(mi.numpy())),
               getattr(torch.masked, name)(xi, 1, mask=mi))
    x, m = _data()
    _check(masked.sum(minigrad.tensor(x.astype(np.float32)), 1, dtype=minigrad.float64,
                      mask=minigrad.tensor(m)),
           torch.masked.sum(torch.from_numpy(x).float(), 1, dtype=torch.float64,
                            mask=torch.from_numpy(m)))
    _check(masked.sum(minigrad.tensor(x), 2, mask=minigrad.tensor(m[0, 0])),
           torch.masked.sum(torch.from_numpy(x), 2, mask=torch.from_numpy(m[0, 0])))
    _check(masked.mean(minigrad.tensor(x), 2, mask=minigrad.tensor(m[0, 0].astype(np.int64))),
           torch.masked.mean(torch.from_numpy(x), 2, mask=torch.from_numpy(m[0, 0]).long()))
    _check(masked.sum(minigrad.tensor(2.0), mask=minigrad.tensor(False)),
           torch.masked.sum(torch.tensor(2.0), mask=torch.tensor(False)))
    _check(masked.amax(minigrad.zeros(0, 3), 1, mask=minigrad.zeros(0, 3, dtype=minigrad.bool)),
           torch.masked.amax(torch.zeros(0, 3), 1, mask=torch.zeros(0, 3, dtype=torch.bool)))


@pytest.mark.parametrize("name,args", [("sum", (1,)), ("mean", (1,)), ("amax", (1,)),
                                       ("softmax", (1,)), ("var", (1,)), ("norm", (2.0, 1)),
                                       ("logsumexp", (1,)), ("cumprod", (1,))])
def test_gradients_reach_kept_elements_only(name, args):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    m = rng.random((3, 4)) > 0.4
    m[:, :2] = True
    up = rng.normal(size=np.asarray(getattr(torch.masked, name)(
        torch.from_numpy(x), *args, mask=torch.from_numpy(m)).shape))
    tx = torch.from_numpy(x).requires_grad_()
    (getattr(torch.masked, name)(tx, *args, mask=torch.from_numpy(m))
     * torch.from_numpy(up)).sum().backward()
    ox = minigrad.tensor(x, requires_grad=True)
    (getattr(masked, name)(ox, *args, mask=minigrad.tensor(m)) * minigrad.tensor(up)).sum() \
        .backward()
    np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-14)
    if name != "cumprod":
        assert (ox.grad.numpy()[~m] == 0).all()


def test_namespace_imports():
    import minigrad.masked as again
    assert minigrad.masked is again
    assert set(again.__all__) <= set(dir(torch.masked))
    out = minigrad.masked.sum(minigrad.ones(2, 3), 1,
                              mask=minigrad.tensor([[True, False, True], [False] * 3]))
    np.testing.assert_array_equal(out.numpy(), [2.0, 0.0])


def test_integer_inputs_and_argument_errors_match_torch():
    xi = np.array([[1, 2, 3], [4, 5, 6]])
    full = np.array([[True, False, True], [False, True, True]])
    empty_row = np.array([[True, False, True], [False, False, False]])
    for name in ("median", "logsumexp", "var", "cumsum"):
        _check(getattr(masked, name)(minigrad.tensor(xi), 1, mask=minigrad.tensor(full)),
               _call(torch.masked, name, torch.from_numpy(xi), 1, mask=torch.from_numpy(full)))
    _check(masked.logsumexp(minigrad.tensor(xi), 1, mask=minigrad.tensor(empty_row)),
           torch.masked.logsumexp(torch.from_numpy(xi), 1, mask=torch.from_numpy(empty_row)))
    with pytest.raises(ValueError, match="masked median expects no fully masked out rows"):
        masked.median(minigrad.tensor(xi), 1, mask=minigrad.tensor(empty_row))
    with pytest.raises(ValueError, match=r"Could not infer output dtype.*Got: torch.int64"):
        masked.mean(minigrad.tensor(xi), 1, mask=minigrad.tensor(full))
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the "
                                           r"existing size \(2\) at non-singleton dimension 1"):
        masked.sum(minigrad.ones(2, 3), 1, mask=minigrad.ones(2, 2, dtype=minigrad.bool))
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\)"):
        torch.masked.sum(torch.ones(2, 3), 1, mask=torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(IndexError, match="mask dimensionality higher than of the input"):
        masked.sum(minigrad.ones(2, 3), 1, mask=minigrad.ones(4, 2, 3, dtype=minigrad.bool))
