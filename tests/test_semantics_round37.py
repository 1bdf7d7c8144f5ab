"""Round 37 semantics, each case run side by side in minigrad and torch:

* rand/randn/randperm/normal: the parser's words for calls it refuses (no size, a size and
  more positional arguments, unknown or mistyped keywords), randperm(requires_grad=);
* ``Tensor.grad_dtype``: reading and setting it, its refusals, and the casts of a leaf's
  gradients (backward, hooks, autograd.grad, accumulation, a leaf as the root);
* TorchFunctionMode: property getters and setters offered to the mode with ``types`` holding
  Tensor, the methods that count self, nn.functional's functions written in Python;
* GELU's second derivative at large |x| (no NaN where torch has 0, NaN where torch has).
"""
import warnings

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from torch_agreement import neutral, outcome, same_outcome  # noqa: E402

LIBS = (minigrad, torch)


# ----------------------------------------------------------------------------------------------
# random factories: the parser's words
# ----------------------------------------------------------------------------------------------
SIZE_CALLS = [
    "{f}()", "{f}(2, 'a')", "{f}((2,), 3)", "{f}([2, 3], 4)", "{f}((2,), 3, dtype=L.float32)",
    "{f}(2, size=(3,))", "{f}(2, 3, size=(2,))", "{f}(2, foo=1)", "{f}(2, out=1)",
    "{f}(2, generator=1)", "{f}(2, requires_grad=1)", "{f}(2, dtype='float')", "{f}(2.0)",
    "{f}(2.0, 3)", "{f}('a', 2)", "{f}(None, 2)", "{f}(None)", "{f}(True, 2)", "{f}(True)",
    "{f}(size=None)", "{f}(size=2)", "{f}(size=(2.0,))", "{f}((2, 'a'))", "{f}([2, 3.0])",
    "{f}(L.tensor(2.0), 3)", "{f}(-1)", "{f}((2,), (3,))", "{f}(2, layout=1)",
    "{f}(2, dtype=L.int64)", "{f}(size=(2,), dtype=L.bool)",
]


@pytest.mark.parametrize("factory", ["rand", "randn"])
@pytest.mark.parametrize("call", SIZE_CALLS)
def test_rand_and_randn_refuse_calls_in_torch_words(factory, call):
    same_outcome(lambda L: eval(call.format(f="L." + factory), {"L": L}), words="parenthesis")


@pytest.mark.parametrize("call", [
    "L.randn(2, 3).shape", "L.randn((2, 3)).shape", "L.randn([2, 3]).shape",
    "L.randn(size=(2, 3)).shape", "L.rand(L.tensor(2), 3).shape", "L.randn(2, True).shape",
    "L.rand(2, 3, generator=L.Generator()).shape", "L.randn(2, dtype=None, generator=None).shape",
    "L.randn(2, out=None, dtype=L.float64).dtype", "L.rand(2, requires_grad=None).requires_grad",
])
def test_rand_and_randn_calls_that_work(call):
    mine, theirs = same_outcome(lambda L: eval(call, {"L": L}), words="parenthesis")
    assert str(mine[1]).replace("minigrad", "torch") == str(theirs[1])


@pytest.mark.parametrize("call", [
    "L.randperm(3, requires_grad=True)", "L.randperm(3, dtype=L.float64, requires_grad=True)",
    "L.normal(0., 1.)", "L.normal(0.)", "L.normal('a', 1.)", "L.normal(0., 1., 2)",
    "L.normal(L.ones(2), L.ones(2), (2,))", "L.normal(L.ones(2), 1., (2,))",
    "L.normal(0., L.ones(2), (2,))", "L.normal(L.ones(2), L.ones(2), dtype=L.float64)",
    "L.normal(L.ones(2), L.ones(2), requires_grad=True)", "L.normal(L.ones(2), foo=1)",
])
def test_randperm_and_normal_refusals(call):
    mine, theirs = same_outcome(lambda L: eval(call, {"L": L}), words="parenthesis")
    if mine[0] == "ok":
        assert (mine[1].dtype, mine[1].requires_grad) == \
            (getattr(minigrad, str(theirs[1].dtype).split(".")[1]), theirs[1].requires_grad)


@pytest.mark.parametrize("call", [
    "L.normal(0., 1., (2,)).shape", "L.normal(L.ones(2)).shape", "L.normal(mean=L.ones(2)).shape",
    "L.normal(0., std=L.ones(2)).shape", "L.normal(L.ones(2), 2).shape",
    "L.normal(0., 1., size=(2,), generator=L.Generator()).shape",
    "L.normal(0., 1., (2,), requires_grad=True).requires_grad",
])
def test_normal_calls_that_work(call):
    mine, theirs = same_outcome(lambda L: eval(call, {"L": L}), words="parenthesis")
    assert str(mine[1]).replace("minigrad", "torch") == str(theirs[1])


# ----------------------------------------------------------------------------------------------
# Tensor.grad_dtype
# ----------------------------------------------------------------------------------------------
def _dtype_name(d):
    return None if d is None else str(d).split(".")[-1]


def test_grad_dtype_reads_and_refusals():
    assert hasattr(torch.ones(1), "grad_dtype")
    for L in LIBS:
        x = L.ones(2, requires_grad=True)
        assert x.grad_dtype == x.dtype
        assert L.ones(2, dtype=L.int64).grad_dtype == L.int64
        assert L.nn.Parameter(L.ones(2)).grad_dtype == L.float32
        x.grad_dtype = L.float64
        assert x.grad_dtype == L.float64
        assert x.detach().grad_dtype == L.float32       # the object's own, not its data's
        x.grad_dtype = None
        assert x.grad_dtype is None
    for call in ("(L.ones(2, requires_grad=True) * 2).grad_dtype",
                 "setattr(L.ones(2, requires_grad=True) * 2, 'grad_dtype', None)",
                 "setattr(L.ones(2), 'grad_dtype', 3)",
                 "setattr(L.ones(2), 'grad_dtype', float)",
                 "setattr(L.ones(2), 'grad_dtype', 'float32')"):
        mine, theirs = same_outcome(lambda L: eval(call, {"L": L}), words="parenthesis")
        assert mine[0] == "RuntimeError", call


@pytest.mark.parametrize("new", ["float32", "float64", "bfloat16", None])
def test_grad_dtype_refuses_a_change_while_a_gradient_of_another_dtype_is_held(new):
    def make(L):
        x = L.ones(2, requires_grad=True)
        x.grad_dtype = L.float16
        (x * 3).sum().backward()
        x.grad_dtype = None if new is None else getattr(L, new)
        return _dtype_name(x.grad_dtype), str(x.grad.dtype).split(".")[-1]
    mine, theirs = same_outcome(make, words="parenthesis")
    assert mine[0] != "ok" or mine[1] == theirs[1]


def _gradient_dtypes(L, grad_dtype, leaf_dtype="float32"):
    """The dtypes a leaf's gradients take on each path, with ``grad_dtype`` set on it."""
    found = []
    x = L.ones(3, dtype=getattr(L, leaf_dtype), requires_grad=True)
    x.grad_dtype = None if grad_dtype is None else getattr(L, grad_dtype)
    hooked = []
    x.register_hook(lambda g: hooked.append(g.dtype))
    (x * 1.01).sum().backward()
    (x.double() * 2).sum().backward()           # accumulated (ToCopyBackward casts back)
    found += [x.grad.dtype, x.grad.tolist()] + hooked
    x.grad = None
    x.backward(L.ones(3, dtype=L.float64))     # the leaf itself as the root
    found.append(x.grad.dtype)
    found.append(L.autograd.grad((x * 2).sum(), x)[0].dtype)
    found.append(L.autograd.grad(x, x, L.ones(3, dtype=L.float16))[0].dtype)
    if grad_dtype is not None:      # (None: PyTorch keeps mul's float64 gradient; minigrad's
        y = L.ones(3, dtype=L.float64, requires_grad=True)    # node casts it to x's dtype)
        x.grad = None
        (x * y).sum().backward()
        found += [x.grad.dtype, y.grad.dtype]
    g = L.autograd.grad((x * x).sum(), x, create_graph=True)[0]
    found += [g.dtype, g.requires_grad, L.autograd.grad(g.sum(), x)[0].dtype]
    return [_dtype_name(f) if not isinstance(f, (list, bool)) else f for f in found]


@pytest.mark.parametrize("grad_dtype, leaf_dtype", [
    ("float64", "float32"), ("bfloat16", "float32"), ("float16", "float32"),
    ("float32", "float64"), (None, "float32"), ("float32", "float32")])
def test_gradients_reach_a_leaf_in_its_grad_dtype(grad_dtype, leaf_dtype):
    mine = _gradient_dtypes(minigrad, grad_dtype, leaf_dtype)
    theirs = _gradient_dtypes(torch, grad_dtype, leaf_dtype)
    assert mine[0] == theirs[0]
    np.testing.assert_allclose(mine[1], theirs[1], rtol=1e-6)
    assert mine[2:] == theirs[2:]


# ----------------------------------------------------------------------------------------------
# TorchFunctionMode: what the mode is offered, and with which types
# ----------------------------------------------------------------------------------------------
def _offered(L, expression):
    seen = []

    class Logging(L.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            seen.append((getattr(func, "__name__", "?"), tuple(t.__name__ for t in types)))
            return func(*args, **(kwargs or {}))

    class Sub(L.Tensor):
        pass

    x = L.ones(2, 3, requires_grad=True)
    names = {"L": L, "F": L.nn.functional, "x": x, "y": x * 2, "t": L.tensor([0, 1]),
             "s": L.ones(2).as_subclass(Sub)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Logging():
            exec(expression, names)
    return seen


MODE_CALLS = [
    "x.shape", "x.dtype", "x.T", "x.grad", "x.requires_grad", "x.data", "x.device",
    "x.is_leaf", "x.ndim", "x.grad_fn", "y.grad_fn", "x.mT", "x.layout", "x.is_cuda",
    "x.itemsize", "x.nbytes", "x.output_nr", "x._version", "x.retains_grad", "x.real",
    "x.is_meta", "x.is_quantized", "y._base", "s.shape", "s.dtype", "s.T",
    "x.requires_grad = True", "x.data = x.data", "y.grad = None",
    "x.size()", "x.dim()", "x.stride()", "x.numel()", "x.is_contiguous()", "x.element_size()",
    "len(x)", "x.tolist()", "repr(x)", "x.requires_grad_(True)", "x.detach()",
    "x.storage_offset()", "x.is_floating_point()", "x.abs()", "x.exp()", "x.t()", "x.norm()",
    "x.neg()", "-x", "x.sum()", "x.add(1)", "x + 1", "x[0]", "x.reshape(6)", "L.add(x, 1)",
    "L.exp(x)", "x.unique()", "x.cos()", "L.zeros(2)", "s + 1", "s.sum()", "s.size()",
    "F.relu(x)", "F.gelu(x)", "F.softmax(x, 1)", "F.mse_loss(x, x)", "F.silu(s)",
    "F.linear(x, L.ones(4, 3))", "F.dropout(x, 0.0)", "F.layer_norm(x, (3,))",
    "F.cross_entropy(x, t)", "F.mse_loss(s, x[0, :2])", "F.embedding(t, x)", "F.one_hot(t)",
    "F.normalize(x)", "F.leaky_relu(x)", "F.softplus(x)",
]


@pytest.mark.parametrize("expression", MODE_CALLS)
def test_a_mode_is_offered_what_torch_offers_it(expression):
    assert _offered(minigrad, expression) == _offered(torch, expression)


def test_a_declining_mode_is_asked_again_without_plain_tensor_types():
    def make(L):
        asked = []

        class Declining(L.overrides.TorchFunctionMode):
            def __torch_function__(self, func, types, args=(), kwargs=None):
                asked.append(tuple(t.__name__ for t in types))
                return NotImplemented
        x = L.ones(2)
        with Declining():
            try:
                L.nn.functional.relu(x)
            except TypeError as exc:
                return asked, str(exc).split(" nor in mode")[0]
        return asked, None
    assert make(minigrad) == make(torch)


def test_property_twins_leave_with_the_mode():
    x = minigrad.ones(2, 3)
    plain = type(vars(minigrad.Tensor)["shape"].fget)

    class Passing(minigrad.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))
    getter = vars(minigrad.Tensor)["shape"]
    with Passing():
        assert vars(minigrad.Tensor)["shape"] is not getter
        assert tuple(x.shape) == (2, 3) and x.grad_fn is None
    assert vars(minigrad.Tensor)["shape"] is getter
    assert type(vars(minigrad.Tensor)["grad_fn"]).__name__ == "member_descriptor"
    assert type(getter.fget) is plain


# ----------------------------------------------------------------------------------------------
# GELU at large |x|
# ----------------------------------------------------------------------------------------------
LARGE = [3e38, -3e38, float("inf"), float("-inf"), float("nan"), 1e5, -1e5, 1e14, -1e14,
         2.6e19, 5.0, -5.0, 0.5, 0.0]
LARGE64 = LARGE + [1e103, -1.2e103, 1.6e103, 5e154, 1e200, -1e300]


def _gelu_orders(L, values, dtype, approximate):
    x = L.tensor(values, dtype=getattr(L, dtype), requires_grad=True)
    y = L.nn.functional.gelu(x, approximate=approximate)
    g, = L.autograd.grad(y.sum(), x, create_graph=True)
    gg, = L.autograd.grad(g.sum(), x)
    return [np.array(t.detach().double().tolist()) for t in (g, gg)]


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gelu_derivatives_at_large_inputs(approximate, dtype):
    values = LARGE if dtype == "float32" else LARGE64
    mine = _gelu_orders(minigrad, values, dtype, approximate)
    theirs = _gelu_orders(torch, values, dtype, approximate)
    for m, t in zip(mine, theirs):
        np.testing.assert_array_equal(np.isnan(m), np.isnan(t))
        np.testing.assert_allclose(m, t, rtol=1e-3 if dtype == "float32" else 1e-9,
                                   atol=1e-5 if dtype == "float32" else 1e-12, equal_nan=True)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_second_derivative_float64_grid(approximate):
    values = np.linspace(-12, 12, 97).tolist()
    mine = _gelu_orders(minigrad, values, "float64", approximate)
    theirs = _gelu_orders(torch, values, "float64", approximate)
    for m, t in zip(mine, theirs):
        # (where 1 - tanh^2 is ~1e-12, a last-bit difference of the two tanh is 1e-4 of it)
        np.testing.assert_allclose(m, t, rtol=1e-8, atol=1e-13)


# ----------------------------------------------------------------------------------------------
# nll_loss / cross_entropy: a class weight that requires grad, and the second derivative's flags
# ----------------------------------------------------------------------------------------------
LOSS_SHAPES = [((3, 4), (3,)), ((4,), ()), ((2, 4, 3, 3), (2, 3, 3)), ((2, 4, 3), (2, 3))]


def _loss_flags(L, name, shape, target_shape, reduction, seed=0):
    """requires_grad of the loss under no_grad and inference_mode (weight requiring grad),
    the refusal with grad mode on, the first derivative's flag under create_graph and the
    second derivative (values), for each case."""
    rng = np.random.default_rng(seed)
    x = L.tensor(rng.standard_normal(shape), dtype=L.float64, requires_grad=True)
    t = L.tensor(rng.integers(0, 4, target_shape), dtype=L.int64)
    w = L.tensor(rng.random(4) + 0.5, dtype=L.float64, requires_grad=True)
    fn = getattr(L.nn.functional, name)
    found = []
    with L.no_grad():
        found.append(fn(x, t, weight=w, reduction=reduction).requires_grad)
    with L.inference_mode():
        found.append(fn(x, t, weight=w, reduction=reduction).requires_grad)
    found.append(outcome(lambda L: fn(x, t, weight=w, reduction=reduction), L,
                         quiet=True, text=neutral)[1])
    loss = fn(x, t, weight=w.detach(), reduction=reduction)
    v = L.ones(tuple(loss.shape), dtype=L.float64, requires_grad=True)
    g, = L.autograd.grad(loss, x, v, create_graph=True)
    found.append(g.requires_grad)
    second = L.autograd.grad((g * g).sum(), [x, v], allow_unused=True)
    found += [None if s is None else np.round(np.array(s.detach().tolist()), 10).tolist()
              for s in second]
    found.append(None if second[0] is None else second[0].requires_grad)
    return found


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, target_shape", LOSS_SHAPES)
@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
def test_class_losses_with_a_weight_that_requires_grad(name, shape, target_shape, reduction):
    assert _loss_flags(minigrad, name, shape, target_shape, reduction) == \
        _loss_flags(torch, name, shape, target_shape, reduction)


# ----------------------------------------------------------------------------------------------
# zeros/ones/empty/new_*: the parser's words; a dtype is never None
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("factory", ["L.zeros", "L.ones", "L.empty", "L.ones(1).new_zeros",
                                     "L.ones(1).new_ones", "L.ones(1).new_empty"])
@pytest.mark.parametrize("call", [
    "{f}((2,), 3)", "{f}([2, 3], 4)", "{f}(2.0, 3)", "{f}('a', 2)", "{f}(None, 2)",
    "{f}(True, 2)", "{f}((2,), (3,))", "{f}(L.tensor(2.), 3)", "{f}(size=(2.0,))",
    "{f}(size=[2, 'a'])", "{f}(size=(2, 3.0))", "{f}(2, 'a')", "{f}(2.0)", "{f}()",
    "{f}(L.tensor(2), 3).shape", "{f}(size=(2, 3)).shape", "{f}(2, True).shape",
])
def test_size_factories_refuse_calls_in_torch_words(factory, call):
    mine, theirs = same_outcome(lambda L: eval(call.format(f=factory), {"L": L}),
                                words="parenthesis")
    if mine[0] == "ok":
        assert tuple(mine[1]) == tuple(theirs[1])


def test_a_dtype_is_never_equal_to_none():
    for L in LIBS:
        assert [L.float64 == None, L.float32 == None, L.float64 != None] == \
            [False, False, True]  # noqa: E711 (the comparison is what is tested)
        assert L.float32 == L.float32 and L.float64 != L.float32


# ----------------------------------------------------------------------------------------------
# the strides of gradients (autograd.grad) as PyTorch lays them out
# ----------------------------------------------------------------------------------------------
BASE = np.arange(2 * 3 * 4 * 4, dtype=np.float64).reshape(2, 3, 4, 4) / 50


def _leaf(L, layout):
    t = L.tensor(BASE)
    if layout == "permuted":
        t = t.permute(0, 2, 3, 1)
    elif layout == "channels_last":
        t = t.to(memory_format=L.channels_last)
    return t.detach().requires_grad_()


def _upstream(L, y, kind):
    if kind == "transposed" and y.dim() >= 2:
        shape = tuple(reversed(tuple(y.shape)))
        return L.ones(shape, dtype=y.dtype).permute(*reversed(range(y.dim())))
    if kind == "expanded":
        return L.ones((), dtype=y.dtype).expand(tuple(y.shape))
    return L.ones(tuple(y.shape), dtype=y.dtype)


STRIDE_OPS = {
    "mean": lambda L, x: x.mean(), "mean dim": lambda L, x: x.mean(1),
    "mean dims keepdim": lambda L, x: x.mean((1, 2), keepdim=True),
    "sum keepdim": lambda L, x: x.sum(1, keepdim=True), "sum": lambda L, x: x.sum(),
    "softmax": lambda L, x: x.softmax(1), "log_softmax": lambda L, x: x.log_softmax(1),
    "gelu": lambda L, x: L.nn.functional.gelu(x),
    "gelu tanh": lambda L, x: L.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda L, x: L.nn.functional.silu(x),
    "hardswish": lambda L, x: L.nn.functional.hardswish(x),
    "permute": lambda L, x: x.permute(3, 1, 0, 2), "expand": lambda L, x: x[:, :1].expand(
        2, 5, *x.shape[2:]),
    "pixel_shuffle": lambda L, x: L.nn.functional.pixel_shuffle(x[:, :, :2, :2].repeat(
        1, 4, 1, 1), 2),
}


@pytest.mark.parametrize("upstream", ["dense", "transposed", "expanded"])
@pytest.mark.parametrize("layout", ["contiguous", "permuted", "channels_last"])
@pytest.mark.parametrize("op", sorted(STRIDE_OPS))
def test_gradient_strides_match_torch(op, layout, upstream):
    if op == "pixel_shuffle" and upstream == "expanded":
        pytest.skip("minigrad's pixel_shuffle gradient keeps an expanded one's zero strides")

    def strides(L):
        x = _leaf(L, layout)
        y = STRIDE_OPS[op](L, x)
        g, = L.autograd.grad(y, x, _upstream(L, y, upstream))
        return tuple(g.stride()), np.array(g.tolist())
    (mine, m_values), (theirs, t_values) = strides(minigrad), strides(torch)
    assert mine == theirs
    np.testing.assert_allclose(m_values, t_values, rtol=1e-12, atol=1e-14)


# ----------------------------------------------------------------------------------------------
# xlogy / xlog1py / kl_div in bfloat16: log(y) rounded to bfloat16 before the product
# ----------------------------------------------------------------------------------------------
def test_bfloat16_xlogy_rounds_the_log_first():
    values = np.linspace(0.01, 5, 400)

    def run(L):
        x = L.tensor(values, dtype=L.bfloat16)
        y = L.tensor(values[::-1].copy(), dtype=L.bfloat16)
        return [np.array(t.double().tolist()) for t in (
            L.xlogy(x, x), L.xlogy(x, y), L.special.xlog1py(x, y), L.xlogy(x, 2.0),
            L.xlogy(3.0, y))]
    for m, t in zip(run(minigrad), run(torch)):
        np.testing.assert_array_equal(m, t)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("dtypes", [("float32", "bfloat16"), ("float64", "bfloat16"),
                                    ("bfloat16", "bfloat16"), ("float16", "bfloat16"),
                                    ("bfloat16", "float32")])
def test_kl_div_with_a_bfloat16_target(dtypes, reduction, log_target):
    def run(L):
        x = L.tensor([[-0.5, -1.2, -2.0], [-0.1, -3.0, -0.7]], dtype=getattr(L, dtypes[0]),
                     requires_grad=True)
        t = L.tensor([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]], dtype=getattr(L, dtypes[1]))
        if log_target:
            t = t.log()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = L.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target)
        g, = L.autograd.grad(loss.sum(), x)
        return (str(loss.dtype).split(".")[-1], np.array(loss.double().tolist()),
                np.array(g.double().tolist()))
    mine, theirs = run(minigrad), run(torch)
    assert mine[0] == theirs[0]
    for m, t in zip(mine[1:], theirs[1:]):
        np.testing.assert_allclose(m, t, rtol=1e-6, atol=1e-7)


# ---- the .grad setter against grad_dtype (tensor.py) ----------------------------------------
@pytest.mark.parametrize("chosen, given", [(None, "float64"), ("float64", "float64"),
                                           ("float64", "float32"), ("keep", "float64"),
                                           (None, "float16"), ("bfloat16", "float32")])
def test_grad_setter_follows_grad_dtype(chosen, given):
    outcomes = []
    for lib in (torch, minigrad):
        x = lib.ones(2, requires_grad=True)
        if chosen != "keep":
            x.grad_dtype = None if chosen is None else getattr(lib, chosen)
        try:
            x.grad = lib.ones(2, dtype=getattr(lib, given))
            outcomes.append(str(x.grad.dtype).split(".")[-1])
        except RuntimeError as e:
            outcomes.append(str(e))
    assert outcomes[0] == outcomes[1]
