"""Regression tests for what the widened op_db run (variants, dotted names, float32/int/uint8/bool
samples: tests/test_opinfo_db.py) found wrong: linalg.vecdot, the interpolate modes nearest-exact,
bicubic and area, uint8 resizing, embedding's max_norm and normal's keywords."""
import functools

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import leaves, same_tensor  # noqa: E402

# dtype, shape and values within rtol 1e-7, atol 1e-9, widened per call
_same = functools.partial(same_tensor, rtol=1e-7, atol=1e-9)


def _pair(shape, dtype=np.float64, seed=0, grad=True, low=-3, high=3):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        a = rng.uniform(low, high, shape).astype(dtype)
    else:
        a = rng.integers(0, 256, shape).astype(dtype)
    return leaves(a, grad=grad)


def _same_error(fn_m, fn_t):
    with pytest.raises(Exception) as theirs:
        fn_t()
    with pytest.raises(type(theirs.value)) as mine:
        fn_m()
    return str(mine.value), str(theirs.value)


# ---------------------------------------------------------------------------------------------
# linalg.vecdot: batched, broadcast, any dim (it was an alias of 1-d dot)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("xs, ys, dim", [((3, 4), (4,), -1), ((2, 3, 4), (3, 1), 1),
                                         ((5,), (5,), 0), ((0, 0), (0, 0), 1)])
def test_vecdot_values_and_gradients(xs, ys, dim):
    mx, tx = _pair(xs, seed=1)
    my, ty = _pair(ys, seed=2)
    mo, to = minigrad.linalg.vecdot(mx, my, dim=dim), torch.linalg.vecdot(tx, ty, dim=dim)
    _same(mo, to)
    mo.sum().backward()
    to.sum().backward()
    _same(mx.grad, tx.grad)
    _same(my.grad, ty.grad)


def test_vecdot_refusals():
    x64 = np.ones(3)
    for args in [(x64, x64.astype(np.float32)), (np.ones(3, np.int64), np.ones(3, np.int64)),
                 (np.ones(3), np.ones(1)), (np.ones((2, 3)), np.ones((2, 5)))]:
        mine, theirs = _same_error(
            lambda: minigrad.linalg.vecdot(*map(minigrad.tensor, args)),
            lambda: torch.linalg.vecdot(*map(torch.tensor, args)))
        assert mine.split(" (in ")[0] == theirs
    _same_error(lambda: minigrad.linalg.vecdot(minigrad.ones(3), 1.0),
                lambda: torch.linalg.vecdot(torch.ones(3), 1.0))


# ---------------------------------------------------------------------------------------------
# interpolate: nearest-exact, bicubic, area (they raised NotImplementedError)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode, shape, kwargs", [
    ("nearest-exact", (2, 3, 7), dict(size=4)),
    ("nearest-exact", (1, 2, 5, 4), dict(scale_factor=1.7)),
    ("nearest-exact", (1, 1, 3, 4, 5), dict(size=(5, 2, 7))),
    ("bicubic", (2, 3, 5, 4), dict(size=(7, 3), align_corners=False)),
    ("bicubic", (2, 3, 5, 4), dict(size=(7, 3), align_corners=True)),
    ("bicubic", (1, 2, 4, 4), dict(scale_factor=1.7, recompute_scale_factor=False)),
    ("bicubic", (1, 1, 1, 3), dict(size=(3, 1))),
    ("area", (2, 3, 7), dict(size=3)),
    ("area", (1, 2, 5, 7), dict(size=(3, 10))),
    ("area", (1, 2, 4, 5, 6), dict(size=(3, 5, 2))),
    ("area", (1, 2, 5, 5), dict(scale_factor=0.5)),
])
def test_interpolate_new_modes_match_torch(mode, shape, kwargs):
    mx, tx = _pair(shape)
    mo = minigrad.nn.functional.interpolate(mx, mode=mode, **kwargs)
    to = torch.nn.functional.interpolate(tx, mode=mode, **kwargs)
    _same(mo, to)
    w = np.cos(np.arange(to.numel())).reshape(tuple(to.shape))
    (mo * minigrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    _same(mx.grad, tx.grad)


def test_interpolate_bicubic_second_order():
    mx, tx = _pair((1, 1, 3, 4))
    grads = []
    for lib, x in ((minigrad, mx), (torch, tx)):
        y = lib.nn.functional.interpolate(x, size=(5, 2), mode="bicubic")
        (g,) = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append(gg)
    _same(*grads)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest", "nearest-exact"])
@pytest.mark.parametrize("shape, kwargs", [
    ((2, 3, 27, 30), dict(size=(13, 41))),
    ((1, 3, 4, 4), dict(size=(5, 5), align_corners=True)),
    ((1, 3, 10, 6), dict(scale_factor=1.7)),
])
def test_interpolate_uint8_matches_torch_exactly(mode, shape, kwargs):
    # uint8 used to be mixed with weights cast to uint8 (all 0 or 1): values far off
    if "align_corners" in kwargs and mode.startswith("nearest"):
        kwargs = {k: v for k, v in kwargs.items() if k != "align_corners"}
    mx, tx = _pair(shape, np.uint8, grad=False)
    mo = minigrad.nn.functional.interpolate(mx, mode=mode, **kwargs)
    to = torch.nn.functional.interpolate(tx, mode=mode, **kwargs)
    assert mo.dtype == minigrad.uint8
    np.testing.assert_array_equal(mo.numpy(), to.numpy())


@pytest.mark.parametrize("mode, shape, kwargs", [
    ("bilinear", (1, 2, 5, 5), dict(size=(3, 0))),
    ("nearest", (1, 2, 5), dict(size=0)),
    ("area", (1, 2, 0, 5), dict(size=(3, 3))),
    ("bicubic", (1, 2, 5), dict(size=3)),
    ("nearest", (1, 2, 5, 5), dict(size=3, antialias=True)),
    ("area", (1, 2, 5, 5), dict(size=3, align_corners=False)),
])
def test_interpolate_refusals(mode, shape, kwargs):
    mine, theirs = _same_error(
        lambda: minigrad.nn.functional.interpolate(minigrad.ones(*shape), mode=mode, **kwargs),
        lambda: torch.nn.functional.interpolate(torch.ones(*shape), mode=mode, **kwargs))
    if mode != "bicubic":
        assert mine == theirs


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic", "area"])
def test_interpolate_integer_inputs_refused(mode, dtype):
    a = np.ones((1, 3, 4, 4), dtype)
    mine, theirs = _same_error(
        lambda: minigrad.nn.functional.interpolate(minigrad.tensor(a), size=3, mode=mode),
        lambda: torch.nn.functional.interpolate(torch.tensor(a), size=3, mode=mode))
    assert mine.endswith(theirs.split(" not implemented")[1])


# ---------------------------------------------------------------------------------------------
# embedding: max_norm (rows renormalised in place) and scale_grad_by_freq
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [dict(max_norm=1.0), dict(max_norm=2.0, norm_type=1.0),
                                    dict(max_norm=1.5, norm_type=float("inf")),
                                    dict(scale_grad_by_freq=True),
                                    dict(scale_grad_by_freq=True, padding_idx=2, max_norm=1.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_max_norm_and_scale_grad_by_freq(kwargs, dtype):
    mw, tw = _pair((6, 3), dtype, seed=3)
    index = np.array([[0, 2, 2], [4, 2, 0]])
    mo = minigrad.nn.functional.embedding(minigrad.tensor(index), mw, **kwargs)
    to = torch.nn.functional.embedding(torch.tensor(index), tw, **kwargs)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float32 else {}
    _same(mo, to, **tol)
    _same(mw, tw, **tol)                      # max_norm rescaled the same rows in place
    w = np.cos(np.arange(to.numel())).reshape(tuple(to.shape)).astype(dtype)
    (mo * minigrad.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    _same(mw.grad, tw.grad, **tol)


def test_embedding_sparse_gives_a_sparse_gradient():
    """sparse=True: the gradient is a sparse tensor of the used rows, as PyTorch's."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 3))
    idx = np.array([[0, 2], [2, 5]])
    mw, tw = minigrad.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    for lib, weight in ((minigrad, mw), (torch, tw)):
        lib.nn.functional.embedding(lib.tensor(idx), weight, sparse=True).sum().backward()
        out = lib.nn.functional.embedding(lib.tensor(idx), weight, sparse=True,
                                          scale_grad_by_freq=True)
        with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse"):
            out.sum().backward()                 # refused in the backward, as PyTorch
    assert mw.grad.is_sparse and mw.grad.layout is minigrad.sparse_coo
    np.testing.assert_allclose(mw.grad.to_dense().numpy(), tw.grad.to_dense().numpy())
