"""Round 40b defects, each checked against PyTorch: numpy scalars as the operands of add, sub,
mul and div; layer_norm's order of checks; instance_norm of nothing keeping the graph to its
weight; batch_norm's eval-mode input gradient under create_graph; the factories' and the
reductions' refusal of a dtype that is no torch dtype; linear's bias expand error."""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as MF

torch = pytest.importorskip("torch")
from torch_agreement import outcome  # noqa: E402
TF = torch.nn.functional


def _same_error(run_mg, run_torch):
    """Both raise the same exception type with the same words."""
    mine, theirs = outcome(run_mg), outcome(run_torch)
    assert theirs[0] != "ok" and mine == theirs, (mine, theirs)


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


# ------------------------------------------------------------------------ numpy scalar operands
_SCALARS = [np.float64(2.5), np.float32(3.0), np.int64(2), np.int32(-3), np.bool_(True),
            np.complex128(1 + 2j), 4, 1.5]


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "true_divide", "multiply",
                                  "subtract", "floor_divide"])
@pytest.mark.parametrize("a", _SCALARS[:6])
@pytest.mark.parametrize("b", [np.float64(2.0), np.int64(3), 2, 0.5])
def test_numpy_scalar_pairs(name, a, b):
    if name == "floor_divide" and isinstance(a, complex):
        return
    want = getattr(torch, name)(a, b)
    got = getattr(minigrad, name)(a, b)
    assert _dtype_name(got) == _dtype_name(want)
    assert tuple(got.shape) == tuple(want.shape) == ()
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


@pytest.mark.parametrize("a", _SCALARS)
@pytest.mark.parametrize("dtype", ["float32", "int64", "float64"])
def test_numpy_scalar_with_tensor(a, dtype):
    base = np.array([1, 2, 3], dtype=dtype)
    t, m = torch.tensor(base), minigrad.tensor(base)
    for run in (lambda x: x + a, lambda x: a * x, lambda x: torch_or_mg(x).mul(a, x),
                lambda x: torch_or_mg(x).add(x, a, alpha=2)):
        want, got = run(t), run(m)
        assert _dtype_name(got) == _dtype_name(want)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def torch_or_mg(x):
    return torch if isinstance(x, torch.Tensor) else minigrad


def test_numpy_scalar_alpha_and_rounding():
    pairs = [(lambda L: L.add(np.float64(2.0), 1, alpha=2)),
             (lambda L: L.sub(np.int64(2), 1, alpha=np.int64(3))),
             (lambda L: L.div(np.float64(7.0), 2, rounding_mode="floor")),
             (lambda L: L.div(np.int64(7), 2, rounding_mode="trunc"))]
    for run in pairs:
        want, got = run(torch), run(minigrad)
        assert _dtype_name(got) == _dtype_name(want)
        assert got.item() == want.item()


def test_maximum_numpy_scalar_refused():
    _same_error(lambda: minigrad.maximum(minigrad.ones(2), np.float64(1)),
                lambda: torch.maximum(torch.ones(2), np.float64(1)))


# ----------------------------------------------------------------------------- layer_norm order
_LN_CASES = [
    # (input dtype, normalized_shape, weight (size, dtype), bias (size, dtype))
    ("float64", (4,), (4, "float32"), (4, "float32")),
    ("float64", (4,), (5, "float32"), (5, "float32")),
    ("float64", (5,), (4, "float32"), (4, "float32")),
    ("float32", (5,), (4, "float32"), (4, "float32")),
    ("float32", (5,), (5, "float32"), (5, "float32")),
    ("float64", (4,), (4, "float32"), None),
    ("float64", (4,), None, (4, "float32")),
    ("float64", (4,), (4, "float64"), (4, "float32")),
    ("float32", (4,), (4, "float32"), (5, "float32")),
    ("float64", (4,), (4, "float32"), (5, "float32")),
    ("float32", (5,), (4, "float64"), (4, "float32")),
    ("int64", (5,), (4, "float64"), (4, "float32")),
    ("float32", (5,), None, (4, "float32")),
    ("int64", (5,), (5, "int64"), None),
    ("float32", (2, 3, 4, 5), (4, "float32"), None),
]


@pytest.mark.parametrize("case", _LN_CASES)
def test_layer_norm_check_order(case):
    dtype, shape, w, b = case
    x = np.arange(24.0).reshape(2, 3, 4).astype(dtype)

    def run(L, F):
        weight = None if w is None else L.ones(w[0], dtype=getattr(L, w[1]))
        bias = None if b is None else L.zeros(b[0], dtype=getattr(L, b[1]))
        return F.layer_norm(L.tensor(x), shape, weight, bias)

    try:
        want = run(torch, TF)
    except Exception as exc:
        with pytest.raises(type(exc)) as got:
            run(minigrad, MF)
        # (minigrad adds the dtypes it found to one of PyTorch's mixed-dtype messages)
        assert str(got.value).startswith(str(exc))
        return
    np.testing.assert_allclose(run(minigrad, MF).numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ instance_norm of no element
@pytest.mark.parametrize("given", ["w", "b", "wb", ""])
@pytest.mark.parametrize("x_grad", [False, True])
def test_instance_norm_empty_keeps_graph(given, x_grad):
    results = []
    for L, F in ((torch, TF), (minigrad, MF)):
        x = L.zeros(2, 3, 0, dtype=L.float64, requires_grad=x_grad)
        w = L.ones(3, dtype=L.float64, requires_grad=True) if "w" in given else None
        b = L.zeros(3, dtype=L.float64, requires_grad=True) if "b" in given else None
        out = F.instance_norm(x, weight=w, bias=b)
        grads = None
        if out.requires_grad:
            out.sum().backward()
            grads = [None if t is None or t.grad is None else t.grad.tolist() for t in (x, w, b)]
        results.append((tuple(out.shape), _dtype_name(out), out.requires_grad, grads))
    assert results[0] == results[1]


def test_instance_norm_empty_float32_with_double_weight():
    w = minigrad.ones(3, dtype=minigrad.float64, requires_grad=True)
    out = MF.instance_norm(minigrad.zeros(2, 3, 0), weight=w)
    tw = torch.ones(3, dtype=torch.float64, requires_grad=True)
    want = TF.instance_norm(torch.zeros(2, 3, 0), weight=tw)
    assert _dtype_name(out) == _dtype_name(want)
    assert out.requires_grad == want.requires_grad


# ------------------------------------------------------ batch_norm eval input grad, create_graph
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("upstream_grad", [False, True])
def test_batch_norm_eval_create_graph(with_weight, upstream_grad):
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((4, 3)), rng.random(3) + 0.5
    results = []
    for L, F in ((torch, TF), (minigrad, MF)):
        x = L.tensor(xs, requires_grad=True)
        mean, var = L.zeros(3, dtype=L.float64), L.full((3,), 4.0, dtype=L.float64)
        w = L.tensor(ws, requires_grad=True) if with_weight else None
        out = F.batch_norm(x, mean, var, w, None, training=False)
        g_out = L.ones(4, 3, dtype=L.float64, requires_grad=upstream_grad)
        gx, = L.autograd.grad(out, x, g_out, create_graph=True)
        second = L.autograd.grad(gx.sum(), x, allow_unused=True, retain_graph=True)[0]
        third = L.autograd.grad(gx.sum(), g_out)[0].tolist() if upstream_grad else None
        results.append((gx.requires_grad, gx.grad_fn is not None, np.round(gx.tolist(), 12),
                        None if second is None else second.tolist(), third))
    t, m = results
    assert t[:2] == m[:2] == (True, True)
    np.testing.assert_allclose(m[2], t[2])
    assert (m[3] is None) == (t[3] is None)
    if t[4] is None:
        assert m[4] is None
    else:
        np.testing.assert_allclose(m[4], t[4])


def test_batch_norm_eval_create_graph_node_name():
    x = minigrad.randn(4, 3, dtype=minigrad.float64, requires_grad=True)
    out = MF.batch_norm(x, minigrad.zeros(3, dtype=minigrad.float64),
                        minigrad.ones(3, dtype=minigrad.float64), training=False)
    gx, = minigrad.autograd.grad(out.sum(), x, create_graph=True)
    assert type(gx.grad_fn).__name__ == "NativeBatchNormBackwardBackward0"


# ---------------------------------------------------------------------------- dtype refusals
_FACTORY_CALLS = [
    ("linspace", (0, 1, 5), {"dtype": 3}),
    ("eye", (3,), {"dtype": "x"}),
    ("eye", (3, 4), {"dtype": np.float32}),
    ("arange", (3,), {"dtype": "x"}),
    ("zeros", (3,), {"dtype": 3}),
    ("ones", (3,), {"dtype": np.float32}),
    ("full", ((3,), 1.0), {"dtype": "x"}),
]


@pytest.mark.parametrize("call", _FACTORY_CALLS)
def test_factory_dtype_refusal_words(call):
    name, args, kwargs = call
    _same_error(lambda: getattr(minigrad, name)(*args, **kwargs),
                lambda: getattr(torch, name)(*args, **kwargs))


_NP_DTYPE = np.dtype("float64")
_REDUCTIONS = [
    lambda L, t: L.cumsum(t, 0, dtype=_NP_DTYPE),
    lambda L, t: t.cumsum(0, dtype=_NP_DTYPE),
    lambda L, t: L.cumprod(t, 0, dtype=_NP_DTYPE),
    lambda L, t: L.softmax(t, 0, dtype=_NP_DTYPE),
    lambda L, t: t.softmax(0, dtype=_NP_DTYPE),
    lambda L, t: (TF if L is torch else MF).softmax(t, 0, dtype=_NP_DTYPE),
    lambda L, t: (TF if L is torch else MF).log_softmax(t, 0, dtype=_NP_DTYPE),
    lambda L, t: L.mean(t, dtype=_NP_DTYPE),
    lambda L, t: t.mean(dtype=_NP_DTYPE),
    lambda L, t: L.prod(t, dtype=_NP_DTYPE),
    lambda L, t: t.prod(dtype=_NP_DTYPE),
    lambda L, t: L.sum(t, dtype=_NP_DTYPE),
    lambda L, t: t.sum(dtype=_NP_DTYPE),
    lambda L, t: L.cumsum(t, 0, dtype=np.float64),
]


@pytest.mark.parametrize("index", range(len(_REDUCTIONS)))
def test_numpy_dtype_refused_at_public_entry(index):
    run = _REDUCTIONS[index]
    data = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    _same_error(lambda: run(minigrad, minigrad.tensor(data)),
                lambda: run(torch, torch.tensor(data)))


def test_torch_dtypes_still_taken():
    data = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    for run in (lambda L, t: L.cumsum(t, 0, dtype=L.float64),
                lambda L, t: t.mean(dtype=L.float64),
                lambda L, t: (TF if L is torch else MF).softmax(t, 1, dtype=L.float64),
                lambda L, t: L.prod(t, 1, dtype=L.float64)):
        want = run(torch, torch.tensor(data))
        got = run(minigrad, minigrad.tensor(data))
        assert _dtype_name(got) == _dtype_name(want)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)


# ------------------------------------------------------------------------------ linear bias
@pytest.mark.parametrize("shapes", [((0, 3), (0, 3), (2, 4)), ((0, 3), (0, 3), (1, 2)),
                                    ((4, 0, 3), (0, 3), (2, 1)), ((5, 3), (2, 3), (4, 2)),
                                    ((5, 3), (2, 3), (3, 5))])
def test_linear_bias_expand_error(shapes):
    a, w, b = shapes
    _same_error(lambda: MF.linear(minigrad.zeros(*a), minigrad.zeros(*w), minigrad.zeros(*b)),
                lambda: TF.linear(torch.zeros(*a), torch.zeros(*w), torch.zeros(*b)))
