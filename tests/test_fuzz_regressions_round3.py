"""Regression tests for the differential fuzzer's third round of finds
(tests/test_fuzz_against_torch.py): each case runs the same call on minigrad and on PyTorch
and wants the same result (value, dtype, shape, gradient) or the same exception type."""
import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import _outcome, agree  # noqa: E402


DTYPES = ["bool", "uint8", "int32", "int64", "float16", "float32", "float64"]


def _t(lib, values, dtype, grad=False):
    t = lib.tensor(values, dtype=getattr(lib, dtype))
    return t.requires_grad_() if grad else t


# ---- topk of a bool tensor: PyTorch's CPU kernel refuses it --------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_topk_dtypes(dtype):
    agree(lambda L: L.topk(_t(L, [1, 0, 2], dtype), 2))
    agree(lambda L: _t(L, 1, dtype).topk(1))


def test_topk_bool_checks_k_first():
    agree(lambda L: L.topk(_t(L, [True, False], "bool"), 3), match="k out of range")


# ---- unfold / fold: no integer kernels; shape checks in PyTorch's order ---------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_unfold_fold_dtypes(dtype):
    agree(lambda L: L.nn.functional.unfold(L.ones(1, 1, 4, 4, dtype=getattr(L, dtype)), 2))
    agree(lambda L: L.nn.functional.fold(L.ones(1, 4, 9, dtype=getattr(L, dtype)), (4, 4), 2))


@pytest.mark.parametrize("shape", [(), (5,), (4, 4), (2, 2, 2, 2, 2), (1, 0, 4, 4), (0, 4, 4),
                                   (1, 1, 0, 4), (0, 1, 4, 4), (1, 4, 4), (1, 1, 1, 1)])
def test_unfold_shapes(shape):
    agree(lambda L: L.nn.functional.unfold(L.ones(shape), 2))
    agree(lambda L: L.nn.functional.unfold(L.ones(shape, dtype=L.int64), 2))


@pytest.mark.parametrize("shape", [(), (5,), (4, 4, 4, 4), (1, 0, 9), (1, 4, 0), (0, 9),
                                   (0, 4, 9), (4, 9), (1, 5, 9), (1, 4, 4)])
def test_fold_shapes(shape):
    agree(lambda L: L.nn.functional.fold(L.ones(shape), (4, 4), 2))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=0), dict(kernel_size=(2, 0)),
                                    dict(kernel_size=2, dilation=(0, 1)),
                                    dict(kernel_size=2, padding=(0, -1)),
                                    dict(kernel_size=2, stride=(0, 1))])
def test_unfold_fold_arguments(kwargs):
    agree(lambda L: L.nn.functional.unfold(L.ones(4, 4), **kwargs), match="should be")
    agree(lambda L: L.nn.functional.fold(L.ones(1, 4, 9), (4, 4), **kwargs), match="should be")


# ---- add/sub with alpha: checked against the result dtype, scaled in it ----------------------
@pytest.mark.parametrize("op", ["add", "sub"])
@pytest.mark.parametrize("dtypes", [("int64", "int64"), ("bool", "bool"), ("uint8", "uint8"),
                                    ("int32", "int32"), ("float16", "float16"),
                                    ("float32", "float16"), ("float16", "float32"),
                                    ("int64", "float32"), ("float64", "int32")])
@pytest.mark.parametrize("alpha", [2, 1.0, 1.5, -1, True, 0, 300, 2 ** 40, 70000, 1e300,
                                   float("inf"), np.float64(2)])
def test_add_sub_alpha(op, dtypes, alpha):
    def f(L):
        a, b = _t(L, [1, 0, 1], dtypes[0]), _t(L, [30000, 1, 0], dtypes[1])
        return getattr(L, op)(a, b, alpha=alpha)
    agree(f)


@pytest.mark.parametrize("b", [2, 2.5, True])
@pytest.mark.parametrize("alpha", [2, 2.5])
def test_add_alpha_scalar_other(b, alpha):
    agree(lambda L: L.add(_t(L, [1, 2], "int64"), b, alpha=alpha))
    agree(lambda L: L.add(_t(L, [1, 2], "float16"), b, alpha=alpha))


def test_add_alpha_mixed_float_no_float16_overflow():
    """float32 + alpha * float16: alpha b is computed in float32 (60000 * 2 is inf in
    float16); the gradient of b is alpha times the upstream one."""
    def f(L):
        a = _t(L, [1.0], "float32")
        b = _t(L, [60000.0, 3.0], "float64", grad=True)
        out = L.add(a, b.to(L.float16), alpha=2)
        out.sum().backward()
        return out, b.grad
    agree(f)


def test_add_alpha_checks_shapes_first():
    agree(lambda L: L.add(_t(L, [1, 2], "int64"), _t(L, [1, 2, 3], "int64"), alpha=1.5),
          match="size")


def test_add_alpha_gradient():
    def f(L):
        a, b = _t(L, [1.0, 2.0], "float64", grad=True), _t(L, [3.0, 4.0], "float64", grad=True)
        out = L.sub(a, b, alpha=-2.5)
        (out * out).sum().backward()
        return out, a.grad, b.grad
    agree(f)


# ---- binary_cross_entropy_with_logits of mixed floating dtypes: the target's dtype ----------
_FLOATS = ["float16", "float32", "float64"]
_TOL = {"float16": 2e-2, "float32": 1e-5, "float64": 1e-10}


@pytest.mark.parametrize("input_dtype", _FLOATS)
@pytest.mark.parametrize("target_dtype", _FLOATS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_mixed_dtypes(input_dtype, target_dtype, reduction, weighted):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 5)) * 3, rng.uniform(size=(4, 5))
    w, pw = rng.uniform(size=5), rng.uniform(size=5) * 2
    results = []
    for L in (minigrad, torch):
        xi = L.tensor(x).to(getattr(L, input_dtype)).requires_grad_(input_dtype == "float64")
        yi = L.tensor(y).to(getattr(L, target_dtype)).requires_grad_(target_dtype == "float64")
        kw = dict(weight=L.tensor(w, dtype=L.float32), pos_weight=L.tensor(pw)) if weighted \
            else {}
        out = L.nn.functional.binary_cross_entropy_with_logits(xi, yi, reduction=reduction, **kw)
        if out.requires_grad:
            (out.double() * L.tensor(np.cos(np.arange(out.numel()))).reshape(out.shape)) \
                .sum().backward()
        results.append((out, xi.grad, yi.grad))
    (out, gx, gy), (t_out, t_gx, t_gy) = results
    assert out.dtype.name == str(t_out.dtype)[6:] == target_dtype
    # the target's precision; log_sigmoid(input) is computed in the input's (PyTorch rounds it
    # there, minigrad too, but float32 math libraries may differ in the last bit)
    tol = _TOL[target_dtype]
    rtol = max(tol, 2.5e-7 if input_dtype != "float64" else 0)
    np.testing.assert_allclose(out.detach().numpy().astype(float),
                               t_out.detach().numpy().astype(float), rtol=rtol, atol=tol)
    # PyTorch computes part of the target's gradient in the logits' dtype
    tol = _TOL[min(input_dtype, target_dtype, key=_FLOATS.index)]
    for mine, theirs in ((gx, t_gx), (gy, t_gy)):
        assert (mine is None) == (theirs is None)
        if theirs is not None:
            np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=max(tol, 1e-7),
                                       atol=tol)


# ---- batch_norm with expanded (stride-0) running statistics: updated in place ----------------
@pytest.mark.parametrize("shape", [(3, 4), (3, 4, 2)])
def test_batch_norm_expanded_running_stats(shape):
    """PyTorch's kernel writes every channel's update into the one shared element, one after
    another (in channel order with one thread; with more, in the order the threads run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results = []
        for L in (minigrad, torch):
            x = L.tensor(np.cos(np.arange(np.prod(shape))).reshape(shape) * 3 + 1)
            mean_base, var_base = L.tensor([0.5, 7.0]).double(), L.tensor([2.0]).double()
            out = L.nn.functional.batch_norm(x, mean_base[:1].expand(4), var_base.expand(4),
                                             training=True, momentum=0.1)
            results.append((out, mean_base, var_base))
        for m, t in zip(*results):
            np.testing.assert_allclose(m.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)
    finally:
        torch.set_num_threads(threads)


# ---- x ** bool_tensor: the value as PyTorch, and its backward refuses as PyTorch's ----------
@pytest.mark.parametrize("exponent", [[True, False], True])
def test_pow_bool_exponent(exponent):
    def value(L):
        return L.tensor([1.5, -2.0]) ** L.tensor(exponent)

    def backward(L):
        x = L.tensor([1.5, -2.0], dtype=L.float64, requires_grad=True)
        L.pow(x, L.tensor(exponent)).sum().backward()
        return x.grad
    agree(value)
    agree(backward, match="Subtraction")


# ---- selecting backwards with a NaN or inf upstream: 0 for the unselected elements ----------
_SELECTING = {
    "max": lambda L, x: x.max(),
    "min": lambda L, x: x.min(),
    "max_dim": lambda L, x: x.max(dim=1)[0],
    "min_dim": lambda L, x: x.min(dim=0)[0],
    "amax": lambda L, x: x.amax(1),                      # PyTorch's amax scales: NaN * 0
    "max_pool1d": lambda L, x: L.nn.functional.max_pool1d(x[None], 2),
    "max_pool2d": lambda L, x: L.nn.functional.max_pool2d(x[None, None], 2, stride=1),
    "maximum": lambda L, x: L.maximum(x, L.tensor(1.5, dtype=L.float64)),
    "minimum": lambda L, x: L.minimum(x, L.tensor([[2.0], [0.0]], dtype=L.float64)),
    "relu": lambda L, x: L.relu(x),
    "clamp": lambda L, x: L.clamp(x, 0.5, 2.5),
}


@pytest.mark.parametrize("name", sorted(_SELECTING))
@pytest.mark.parametrize("upstream", [float("inf"), float("nan"), "mixed"])
def test_selecting_backward_with_non_finite_upstream(name, upstream):
    def f(L):
        x = L.tensor([[1.0, 3.0, 2.0, 0.5], [4.0, -1.0, 0.0, 4.0]], dtype=L.float64,
                     requires_grad=True)
        out = _SELECTING[name](L, x)
        if upstream == "mixed":
            weights = np.resize([np.inf, -np.inf, np.nan, 1.0, -np.inf], out.numel())
            weights = L.tensor(weights.reshape(tuple(out.shape)))
        else:
            weights = L.tensor(upstream, dtype=L.float64)
        (out * weights).sum().backward()
        return x.grad
    agree(f)


@pytest.mark.parametrize("name", ["relu", "clamp", "maximum", "max_dim", "max_pool1d"])
def test_selecting_second_order(name):
    """The non-finite path is still differentiable: d/dx of sum(w * dL/dx)."""
    def f(L):
        x = L.tensor([[1.0, 3.0, 2.0, 0.5], [4.0, -1.0, 0.0, 4.0]], dtype=L.float64,
                     requires_grad=True)
        out = _SELECTING[name](L, x)
        v = L.tensor(np.resize([np.inf, 2.0, 1.0], out.numel()).reshape(tuple(out.shape)),
                     requires_grad=True)
        g, = L.autograd.grad((out * v).sum(), x, create_graph=True)
        (g * L.tensor(np.arange(8.0).reshape(2, 4))).sum().backward()
        return g, v.grad
    agree(f)


# ---- nn functional ops refuse bool/integer inputs (and mixed parameters) as PyTorch ---------
def _F(name, **kw):
    return lambda L, x: getattr(L.nn.functional, name)(x, **kw)


_NN_UNARY = {
    "elu": _F("elu"), "celu": _F("celu"), "selu": _F("selu"), "gelu": _F("gelu"),
    "gelu_tanh": _F("gelu", approximate="tanh"), "hardshrink": _F("hardshrink"),
    "softshrink": _F("softshrink"), "hardswish": _F("hardswish"),
    "hardsigmoid": _F("hardsigmoid"), "mish": _F("mish"), "softplus": _F("softplus"),
    "logsigmoid": _F("logsigmoid"), "hardtanh": _F("hardtanh", min_val=-0.5, max_val=2.0),
    "hardtanh_negative": _F("hardtanh", min_val=-1.0, max_val=2.0),
    "prelu": lambda L, x: L.nn.functional.prelu(x, L.tensor([0.25])),
    "prelu_same": lambda L, x: L.nn.functional.prelu(x, L.tensor([1]).to(x.dtype)),
    "max_unpool1d": lambda L, x: L.nn.functional.max_unpool1d(
        x, L.tensor([[0, 2, 4, 6]] * 2), 2),
    "pad_reflect": _F("pad", pad=(1, 1), mode="reflect"),
    "pad_replicate": _F("pad", pad=(1, 1), mode="replicate"),
    "pad_circular": _F("pad", pad=(1, 1), mode="circular"),
    "layer_norm": _F("layer_norm", normalized_shape=(4,)),
    "group_norm": _F("group_norm", num_groups=2),
    "instance_norm": lambda L, x: L.nn.functional.instance_norm(x[None]),
}


@pytest.mark.parametrize("name", sorted(_NN_UNARY))
@pytest.mark.parametrize("dtype", DTYPES)
def test_nn_functional_dtypes(name, dtype):
    agree(lambda L: _NN_UNARY[name](L, _t(L, [[1, -2, 3, 0], [2, 1, -1, 4]], dtype)))


_NORMS = {
    "layer_norm": lambda L, x, w: L.nn.functional.layer_norm(x, (4,), w, w),
    "group_norm": lambda L, x, w: L.nn.functional.group_norm(x, 2, w, w),
    "instance_norm": lambda L, x, w: L.nn.functional.instance_norm(x[..., None].expand(2, 4, 2),
                                                                   weight=w, bias=w),
    "instance_norm_running": lambda L, x, w: L.nn.functional.instance_norm(
        x[..., None].expand(2, 4, 2), L.zeros(4, dtype=w.dtype), L.ones(4, dtype=w.dtype),
        weight=w, bias=w),
}


@pytest.mark.parametrize("name", sorted(_NORMS))
@pytest.mark.parametrize("input_dtype", ["int64", "float16", "float32", "float64"])
@pytest.mark.parametrize("param_dtype", ["bool", "int64", "float16", "float32", "float64"])
def test_feature_norm_parameter_dtypes(name, input_dtype, param_dtype):
    def f(L):
        x = _t(L, [[1, -2, 3, 0], [2, 1, -1, 4]], input_dtype)
        return _NORMS[name](L, x, _t(L, [1, 2, 3, 4], param_dtype))
    mine, theirs = _outcome(minigrad, f), _outcome(torch, f)
    assert (mine[1] is None) == (theirs[1] is None), (mine, theirs)
    if theirs[1] is not None:
        assert type(mine[1]) is type(theirs[1])
    else:
        assert mine[0].dtype.name == str(theirs[0].dtype)[6:]
        np.testing.assert_allclose(mine[0].numpy().astype(float), theirs[0].numpy().astype(float),
                                   rtol=2e-3, atol=2e-3)


def test_instance_norm_expanded_running_stats():
    """instance_norm copies the batch's statistics into the running ones: PyTorch refuses an
    expanded destination (batch_norm, above, writes through it)."""
    def f(L):
        x = L.tensor(np.cos(np.arange(16.0)).reshape(2, 4, 2))
        mean, var = L.zeros(1, dtype=L.float64), L.ones(1, dtype=L.float64)
        out = L.nn.functional.instance_norm(x, mean.expand(4), var.expand(4))
        return out, mean, var
    agree(f, match="single memory location")


# ---- cross_entropy / nll_loss: class weights of the input's dtype only ----------------------
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("input_dtype", ["float32", "float64"])
@pytest.mark.parametrize("weight_dtype", ["bool", "int32", "int64", "float16", "float32",
                                          "float64"])
@pytest.mark.parametrize("target", [[0, 1, 2, 3], [0, 1, 2, 7]])
def test_class_loss_weight_dtype(name, input_dtype, weight_dtype, target):
    def f(L):
        x = L.tensor(np.cos(np.arange(20.0)).reshape(4, 5)).to(getattr(L, input_dtype))
        weight = L.tensor([1.0, 2.0, 0.5, 1.0, 3.0]).to(getattr(L, weight_dtype))
        return getattr(L.nn.functional, name)(x, L.tensor(target), weight=weight)
    agree(f)


@pytest.mark.parametrize("name", ["layer_norm", "group_norm"])
@pytest.mark.parametrize("input_dtype", ["uint8", "int64", "float16", "float64"])
@pytest.mark.parametrize("weight_dtype", ["uint8", "int64", "float32", "float64"])
@pytest.mark.parametrize("bias_dtype", ["int64", "float32", None])
def test_feature_norm_weight_and_bias_dtypes(name, input_dtype, weight_dtype, bias_dtype):
    """PyTorch compares the weight's dtype with the input's first, then the bias'."""
    def f(L):
        x = L.ones(2, 4, dtype=getattr(L, input_dtype))
        w = L.ones(4, dtype=getattr(L, weight_dtype))
        b = None if bias_dtype is None else L.ones(4, dtype=getattr(L, bias_dtype))
        if name == "layer_norm":
            return L.nn.functional.layer_norm(x, (4,), w, b)
        return L.nn.functional.group_norm(x, 2, w, b)
    mine, theirs = _outcome(minigrad, f), _outcome(torch, f)
    assert type(mine[1]) is type(theirs[1]), (mine[1], theirs[1])


def test_max_unpool_dtype_before_index_values():
    agree(lambda L: L.nn.functional.max_unpool1d(L.ones(1, 1, 2, dtype=L.int64),
                                                 L.tensor([[[9, 1]]]), 2), match="max_unpool2d")


@pytest.mark.parametrize("exponent", ["bool_tensor", True, False, 2, 2.5, "int_tensor"])
def test_pow_of_bool_tensor(exponent):
    def f(L):
        b = {"bool_tensor": L.tensor([True, True]), "int_tensor": L.tensor([1, 0])}.get(
            exponent, exponent)
        return L.pow(L.tensor([True, False]), b)
    agree(f)


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_dtypes(dtype):
    agree(lambda L: L.square(_t(L, [1, 0, 2], dtype)))
    agree(lambda L: _t(L, [1, 0, 2], dtype).square())
