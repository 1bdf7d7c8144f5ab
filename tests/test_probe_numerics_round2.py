"""Probe round 2 (numerics): divergences from torch found by probes, each checked against
torch itself: matrix_norm's ord=None refusal, the 0-norm's missing gradient, lstsq's 'gels'
rank refusal and dims check, leaky_relu_'s kept result, the strides of
elementwise activations on a transposed input, check_fill_value's C++ type names, lazy
placeholders through save/load, LKJCholesky's integer dim."""
import os

import numpy as np
import pytest
import torch

import minigrad
import minigrad.nn.functional as MF
import torch.nn.functional as TF


def _both(fn_m, fn_t):
    """(type, message) of what each library raises (None when nothing is raised)."""
    out = []
    for fn in (fn_m, fn_t):
        try:
            fn()
            out.append(None)
        except Exception as e:          # noqa: BLE001 - compared below
            out.append((e, str(e).replace("minigrad.", "torch.")))
    return out


def _same_error(fn_m, fn_t, types=None):
    got_m, got_t = _both(fn_m, fn_t)
    assert got_t is not None and got_m is not None, (got_m, got_t)
    if types is not None:
        assert isinstance(got_m[0], types[0]) and isinstance(got_t[0], types[1])
    else:
        assert type(got_m[0]).__name__ == type(got_t[0]).__name__
    assert got_m[1] == got_t[1]


# 1 -------------------------------------------------------------------------------------------
def test_matrix_norm_ord_none_is_a_type_error():
    a = np.ones((2, 2), np.float32)
    _same_error(lambda: minigrad.linalg.matrix_norm(minigrad.tensor(a), ord=None),
                lambda: torch.linalg.matrix_norm(torch.tensor(a), ord=None))


# 2 -------------------------------------------------------------------------------------------
def test_vector_norm_ord0_gives_no_gradient():
    grads = []
    for lib in (minigrad, torch):
        x = lib.tensor([1.0, 0.0, 2.0], requires_grad=True)
        y = lib.linalg.vector_norm(x, ord=0)
        assert y.requires_grad and float(y) == 2.0
        y.backward()
        grads.append(x.grad)
        # beside another term: only that term's gradient
        x2 = lib.tensor([1.0, 0.0, 2.0], requires_grad=True)
        (lib.linalg.vector_norm(x2 * 2, ord=0) + x2.sum()).backward()
        np.testing.assert_array_equal(x2.grad.numpy(), [1.0, 1.0, 1.0])
        assert lib.autograd.grad(lib.linalg.vector_norm(x2, ord=0), x2,
                                 allow_unused=True) == (None,)
    assert grads == [None, None]


# 4 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a", [
    [[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]],          # a zero column: R[0, 0] == 0
    [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]],             # wide, a zero row of L
])
def test_lstsq_gels_refuses_an_exactly_rank_deficient_matrix(a):
    a = np.array(a, np.float64)
    b = np.ones((a.shape[0], 1))
    _same_error(lambda: minigrad.linalg.lstsq(minigrad.tensor(a), minigrad.tensor(b),
                                              driver="gels"),
                lambda: torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver="gels"),
                types=(minigrad.linalg.LinAlgError, torch.linalg.LinAlgError))


def test_lstsq_gels_batch_element_named():
    a = np.random.default_rng(0).standard_normal((2, 3, 2))
    a[1, :, 0] = 0
    b = np.ones((2, 3, 1))
    _same_error(lambda: minigrad.linalg.lstsq(minigrad.tensor(a), minigrad.tensor(b),
                                              driver="gels"),
                lambda: torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver="gels"),
                types=(minigrad.linalg.LinAlgError, torch.linalg.LinAlgError))
    # full rank: solved, as torch
    a[1, :, 0] = 1.5
    got = minigrad.linalg.lstsq(minigrad.tensor(a), minigrad.tensor(b), driver="gels")
    want = torch.linalg.lstsq(torch.tensor(a), torch.tensor(b), driver="gels")
    np.testing.assert_allclose(got.solution.numpy(), want.solution.numpy(), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("bshape", [(4, 3, 1), (2, 4, 3, 1), (3,)])
def test_lstsq_dims_of_other(bshape):
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(bshape)
    run_m = lambda: minigrad.linalg.lstsq(minigrad.tensor(a), minigrad.tensor(b))  # noqa: E731
    run_t = lambda: torch.linalg.lstsq(torch.tensor(a), torch.tensor(b))              # noqa: E731
    if len(bshape) == 1:
        np.testing.assert_allclose(run_m().solution.numpy(), run_t().solution.numpy(),
                                   rtol=1e-10)
    else:
        _same_error(run_m, run_t)


# 6 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["inplace", "underscore", "slope"])
def test_leaky_relu_inplace_result_modified_before_backward(how):
    def run(lib, F, modify):
        x = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
        y = x * 1
        z = (F.leaky_relu(y, inplace=True) if how == "inplace" else
             F.leaky_relu_(y) if how == "underscore" else F.leaky_relu(y, 0.2, True))
        if modify:
            z.mul_(2)
        z.sum().backward()
        return x.grad.numpy()
    got_m, got_t = _both(lambda: run(minigrad, MF, True), lambda: run(torch, TF, True))
    assert isinstance(got_m[0], RuntimeError) and isinstance(got_t[0], RuntimeError)
    assert "modified by an inplace operation" in got_m[1]
    assert "is at version 2; expected version 1" in got_m[1]
    np.testing.assert_allclose(run(minigrad, MF, False), run(torch, TF, False))


def test_leaky_relu_inplace_without_grad_records_nothing():
    for lib, F in ((minigrad, MF), (torch, TF)):
        x = lib.tensor([1.0, -2.0], requires_grad=True)
        y = x * 1
        with lib.no_grad():
            F.leaky_relu(y, inplace=True)
        y.mul_(2)
        y.sum().backward()                    # y's own node: unaffected
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])


# 7 -------------------------------------------------------------------------------------------
ACTS = ["sigmoid", "tanh", "exp", "relu", "gelu", "gelu_tanh", "silu", "softplus", "mish",
        "hardswish", "logsigmoid", "elu", "leaky_relu"]


def _act(lib, F, name):
    if name == "gelu_tanh":
        return lambda t: F.gelu(t, approximate="tanh")
    if name in ("sigmoid", "tanh", "exp", "relu"):
        return getattr(lib, name)
    return getattr(F, name)


def _strides(t):
    return tuple(t.stride())


@pytest.mark.parametrize("name", ACTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_keeps_dense_input_strides(name, dtype):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((3, 4, 5)).astype(dtype)
    views = [lambda t: t[0].t(), lambda t: t.permute(2, 0, 1), lambda t: t[:, :, ::2],
             lambda t: t]
    for view in views:
        xm = view(minigrad.tensor(base)).requires_grad_()
        xt = view(torch.tensor(base)).requires_grad_()
        ym, yt = _act(minigrad, MF, name)(xm), _act(torch, TF, name)(xt)
        assert _strides(ym) == _strides(yt), (name, _strides(ym), _strides(yt))
        np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(),
                                   rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)
        g = rng.standard_normal(tuple(ym.shape)).astype(dtype)
        ym.backward(minigrad.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(),
                                   rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-6)


# 8 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,value", [("bfloat16", -3.4028234663852886e38),
                                         ("float16", 1e6), ("int8", 1000), ("uint8", 300),
                                         ("int32", 2 ** 40), ("int16", 1e9)])
def test_masked_fill_overflow_names_the_cpp_type(dtype, value):
    mask = [True, False]
    _same_error(
        lambda: minigrad.zeros(2, dtype=getattr(minigrad, dtype)).masked_fill(
            minigrad.tensor(mask), value),
        lambda: torch.zeros(2, dtype=getattr(torch, dtype)).masked_fill(
            torch.tensor(mask), value))


# 9 -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["LazyLinear", "LazyBatchNorm1d"])
def test_save_load_keeps_lazy_placeholders(tmp_path, layer):
    make = {"LazyLinear": lambda nn: nn.LazyLinear(3),
            "LazyBatchNorm1d": lambda nn: nn.LazyBatchNorm1d()}[layer]
    kinds = []
    for lib in (minigrad, torch):
        path = os.path.join(str(tmp_path), f"{lib.__name__}.pt")
        lib.save(make(lib.nn).state_dict(), path)
        sd = lib.load(path) if lib is minigrad else lib.load(path, weights_only=False)
        kinds.append({k: (type(v).__name__, str(v.dtype).split(".")[-1], v.requires_grad)
                      for k, v in sd.items()})
        fresh = make(lib.nn)
        fresh.load_state_dict(sd)
        assert lib.nn.parameter.is_lazy(fresh.weight)
        out = fresh(lib.ones(2, 5))
        assert tuple(out.shape) == (2, 3 if layer == "LazyLinear" else 5)
        assert tuple(fresh.weight.shape) == ((3, 5) if layer == "LazyLinear" else (5,))
    assert kinds[0] == kinds[1]


# 10 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2.5, 2.0, 1.5, 1, True])
def test_lkj_cholesky_dim_must_be_an_int(dim):
    _same_error(lambda: minigrad.distributions.LKJCholesky(dim),
                lambda: torch.distributions.LKJCholesky(dim))


def test_lkj_cholesky_int_dim_still_samples():
    for lib in (minigrad, torch):
        d = lib.distributions.LKJCholesky(3, 0.5)
        assert tuple(d.sample().shape) == (3, 3)
